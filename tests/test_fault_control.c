/*
 * The harness's control channel (mtp_server_control_open, --control): JSON lines through a
 * Unix socket and a TCP port — add / list / remove faults, stats, bad requests, the QR
 * stub, a pushed message reaching a logged-in client's update callback, a fault added at
 * run time acting on the client's next call — and the mtproto-harness --control option.
 */
#include <mtproto/client.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "testharness.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static tu_harness_t H;
static char sock_path[340];
static int pushed_seen;

/* A harness like tu_harness_start(), with the control channel opened before its thread. */
static int start(void)
{
    memset(&H, 0, sizeof H);
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 1;
    H.n_dcs = 1;
    snprintf(H.dir, sizeof H.dir, "/tmp/fault_control.%ld", (long)getpid());
    snprintf(H.pem_path, sizeof H.pem_path, "%s/pub.pem", H.dir);
    snprintf(sock_path, sizeof sock_path, "%s/ctl.sock", H.dir);
    if (mkdir(H.dir, 0700))
        return -1;
    if (mtp_server_new(&sc, &H.srv))
        return -1;
    IS_INT(mtp_server_control_open(H.srv, sock_path), 0, "control channel on a Unix socket");
    IS_INT(mtp_server_control_open(H.srv, "0"), MTP_EINVAL, "one control channel per server");
    if (mtp_server_start_thread(H.srv) || mtp_server_ports(H.srv, H.ports, 1) < 1)
        return -1;
    IS_INT(mtp_server_control_open(H.srv, "0"), MTP_EINVAL, "not once running");
    FILE *f = fopen(H.pem_path, "w");
    if (!f || fputs(mtp_server_public_pem(H.srv), f) < 0 || fclose(f))
        return -1;
    return 0;
}

static int ctl_connect(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(sock_path) >= sizeof a.sun_path) {
        close(fd);
        return -1;
    }
    memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Send a line, read one line back (5 s at most). */
static int ask(int fd, const char *req, char *out, size_t cap)
{
    size_t n = strlen(req);
    if (write(fd, req, n) != (ssize_t)n || write(fd, "\n", 1) != 1)
        return -1;
    size_t got = 0;
    double t0 = tu_now();
    while (got + 1 < cap && tu_now() - t0 < 5) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, out + got, 1);
        if (r <= 0)
            return -1;
        if (out[got] == '\n') {
            out[got] = 0;
            return 0;
        }
        got++;
    }
    out[got] = 0;
    return -1;
}

static void on_update(mtp_client_t *c, void *user, const mtp_tl_object_t *u,
                      const mtp_vec_obj_t *users, const mtp_vec_obj_t *chats)
{
    (void)c;
    (void)user;
    (void)users;
    (void)chats;
    if (u->tl->id != MTP_ID_updateNewMessage)
        return;
    const mtp_tl_object_t *m = ((const mtp_updateNewMessage_t *)u)->message;
    if (m && m->tl->id == MTP_ID_message) {
        const mtp_message_t *msg = (const mtp_message_t *)m;
        if (msg->message.len == 9 && memcmp(msg->message.ptr, "pushed hi", 9) == 0)
            pushed_seen++;
    }
}

static int nearest(mtp_client_t *c, mtp_call_error_t *e)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    int rc = mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), a, &o, e);
    mtp_arena_free(a);
    return rc;
}

static void tool_control(void)
{
    const char *tool = "build/bin/mtproto-harness";
    if (access(tool, X_OK)) {
        tap_skip("no mtproto-harness binary", 2);
        return;
    }
    char path[340];
    snprintf(path, sizeof path, "%s/tool.sock", H.dir);
    int pfd[2];
    if (pipe(pfd))
        tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl(tool, tool, "--dcs", "1", "--control", path, "--fault", "bad-salt:3", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char ready[512] = "";
    size_t n = 0;
    double t0 = tu_now();
    while (n + 1 < sizeof ready && tu_now() - t0 < 20) {
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (read(pfd[0], ready + n, 1) != 1 || ready[n] == '\n')
            break;
        n++;
    }
    ready[n] = 0;
    memcpy(sock_path, path, strlen(path) + 1 < sizeof sock_path ? strlen(path) + 1 : 1);
    int fd = ctl_connect();
    char line[2048] = "";
    int rc = fd >= 0 ? ask(fd, "{\"cmd\":\"list\"}", line, sizeof line) : -1;
    OK(rc == 0 && strstr(line, "\"spec\":\"bad-salt:3\""),
       "mtproto-harness --control: the --fault SPEC rule is listed (%s)", line);
    if (fd >= 0)
        close(fd);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    close(pfd[0]);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the tool exits cleanly");
}

int main(void)
{
    if (start())
        tap_bail("harness");
    int fd = ctl_connect();
    if (fd < 0)
        tap_bail("connect to %s", sock_path);
    char line[4096];

    OK(!ask(fd, "{\"cmd\":\"add\",\"spec\":\"flood-wait:1,method=help.getNearestDc,count=1\"}",
            line, sizeof line) && strstr(line, "\"ok\":true,\"id\":1"), "add: %s", line);
    OK(!ask(fd, "{\"cmd\":\"add\",\"spec\":\"nonsense:1\"}", line, sizeof line) &&
           strstr(line, "\"ok\":false"), "a bad spec is refused: %s", line);
    OK(!ask(fd, "{\"cmd\":\"list\"}", line, sizeof line) &&
           strstr(line, "\"faults\":[{\"id\":1,\"spec\":\"flood-wait:1,method=help.getNearestDc,"
                        "count=1\""), "list: %s", line);
    OK(!ask(fd, "not json", line, sizeof line) && strstr(line, "\"ok\":false"),
       "a bad line gets an error: %s", line);
    OK(!ask(fd, "{\"cmd\":\"qr_accept\",\"token\":\"abc\"}", line, sizeof line) &&
           strstr(line, "\"ok\":false") && strstr(line, "exportLoginToken"),
       "qr_accept: the documented stub: %s", line);

    /* a client: the rule added at run time acts on its call; a push reaches it */
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    cfg.first_dc = 1;
    mtp_client_t *c = NULL;
    if (mtp_client_new(&cfg, &c))
        tap_bail("client");
    mtp_call_error_t e;
    double t0 = tu_now();
    int rc = nearest(c, &e);
    double waited = tu_now() - t0;
    IS_INT(rc, 0, "help.getNearestDc succeeds");
    OK(waited >= 0.9, "after the FLOOD_WAIT_1 the rule injected (%.2f s)", waited);
    OK(!ask(fd, "{\"cmd\":\"list\"}", line, sizeof line) && strcmp(line, "{\"ok\":true,\"faults\":[]}") == 0,
       "the one-shot rule is used up: %s", line);
    OK(!ask(fd, "{\"cmd\":\"add\",\"spec\":\"delay:50\"}", line, sizeof line) &&
           strstr(line, "\"id\":2"), "add a second rule: %s", line);
    OK(!ask(fd, "{\"cmd\":\"remove\",\"id\":2}", line, sizeof line) &&
           strcmp(line, "{\"ok\":true}") == 0, "remove: %s", line);
    OK(!ask(fd, "{\"cmd\":\"remove\",\"id\":2}", line, sizeof line) &&
           strstr(line, "\"ok\":false"), "remove twice: %s", line);

    if (mtp_login_phone(c, "9996610003", "11111", NULL, NULL, &e))
        tap_bail("login: %s", e.message);
    mtp_client_on_update(c, on_update, NULL);
    IS_INT(mtp_client_updates_start(c, &e), 0, "updates started");
    char req[256];
    snprintf(req, sizeof req, "{\"cmd\":\"push\",\"user_id\":\"%lld\",\"text\":\"pushed hi\"}",
             (long long)mtp_client_user_id(c));
    OK(!ask(fd, req, line, sizeof line) && strstr(line, "\"ok\":true,\"id\":"), "push: %s", line);
    t0 = tu_now();
    while (!pushed_seen && tu_now() - t0 < 10)
        mtp_client_step(c, 50);
    IS_INT(pushed_seen, 1, "the pushed message reaches the update callback once");
    OK(!ask(fd, "{\"cmd\":\"push\",\"user_id\":1,\"text\":\"x\"}", line, sizeof line) &&
           strstr(line, "no such user"), "push to nobody: %s", line);

    OK(!ask(fd, "{\"cmd\":\"stats\"}", line, sizeof line) &&
           strstr(line, "\"faults_injected\":1,") && strstr(line, "\"queries\":"),
       "stats: %s", line);
    OK(!ask(fd, "{\"cmd\":\"add\",\"spec\":\"bad-salt:2\"}", line, sizeof line) &&
           strstr(line, "\"ok\":true"), "add bad-salt at run time");
    for (int i = 0; i < 4; i++)
        IS_INT(nearest(c, &e), 0, "call %d under bad-salt:2 succeeds", i);
    mtp_server_stats_t st;
    mtp_server_stats(H.srv, &st);
    OK(st.bad_msg_notifications >= 1, "bad_server_salt was sent (%llu)",
       (unsigned long long)st.bad_msg_notifications);
    OK(!ask(fd, "{\"cmd\":\"clear\"}", line, sizeof line) && strcmp(line, "{\"ok\":true}") == 0,
       "clear");
    OK(!ask(fd, "{\"cmd\":\"list\"}", line, sizeof line) && strstr(line, "\"faults\":[]"),
       "cleared: %s", line);
    OK(!ask(fd, "{\"cmd\":\"restart\"}", line, sizeof line) && strcmp(line, "{\"ok\":true}") == 0,
       "restart");
    IS_INT(nearest(c, &e), 0, "a call after the restart succeeds (same login)");
    OK(mtp_client_authorized(c), "still logged in");
    mtp_client_free(c);
    close(fd);

    tool_control();
    tu_harness_stop(&H);
    return tap_done();
}
