/*
 * mtproto-cli's paging and chat commands against the in-process harness seeded with a
 * 50,000-post channel and a 10,000-member supergroup: export (every message once and in
 * order; killed halfway — a line cut in the middle — and resumed; with FLOOD_WAIT
 * injected), members, history with a limit (the truncation said on stderr), search, join,
 * leave, create, archive, contacts, profile, reactions and forward, each checked from what
 * the harness answers. Prints the export and member-list speeds as TAP comments.
 */
#include <mtproto/client.h>
#include <mtproto/server.h>
#include "testharness.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_MSGS 50000
#define N_MEMBERS 10000

static tu_harness_t H;
static char cli[600], hp[64], sess[300], outp[300], errp[300];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run the CLI with the harness options and args (NULL-terminated); stdout/stderr in
 * outp/errp. Its exit status, -1 on a signal. */
static int run(const char *const *args)
{
    const char *argv[40] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", sess,
                             "--api-id", "1", "--api-hash", "0123456789abcdef" };
    int n = 11;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        execv(cli, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    if (len)
        *len = b ? (size_t)n : 0;
    fclose(f);
    return b;
}

static int lines(const char *path)
{
    char *b = slurp(path, NULL);
    int n = 0;
    for (char *p = b; p && *p; p++)
        n += *p == '\n';
    free(b);
    return n;
}

static bool has(const char *path, const char *s)
{
    char *b = slurp(path, NULL);
    bool r = b && strstr(b, s);
    free(b);
    return r;
}

/* The export file holds ids 1..N once each, ascending, one JSON line each. */
static void check_export(const char *path, const char *what)
{
    size_t len;
    char *b = slurp(path, &len);
    int n = 0, bad = 0, prev = 0;
    for (char *p = b; p && *p;) {
        char *nl = strchr(p, '\n');
        if (!nl) {
            bad++;
            break;
        }
        char *id = strstr(p, "\"id\":");
        int v = id && id < nl ? atoi(id + 5) : -1;
        if (v != prev + 1)
            bad++;
        prev = v;
        n++;
        p = nl + 1;
    }
    IS_INT(n, N_MSGS, "%s: %d lines", what, N_MSGS);
    IS_INT(bad, 0, "%s: ids 1..%d, each once, in order", what, N_MSGS);
    free(b);
}

static void test_export(void)
{
    char ex[300];
    snprintf(ex, sizeof ex, "%s/export.jsonl", H.dir);
    double t0 = now_s();
    IS_INT(run((const char *[]){ "export", "@harness_channel", "-o", ex, NULL }), 0, "export");
    double dt = now_s() - t0;
    check_export(ex, "export");
    printf("# cli export speed: %.0f messages/s (%d in %.2f s, process start included)\n",
           N_MSGS / dt, N_MSGS, dt);

    /* "killed halfway": the first 23,456, then a line cut in the middle */
    IS_INT(run((const char *[]){ "export", "@harness_channel", "-o", ex, "--limit", "23456",
                                 NULL }),
           0, "export of the first part");
    IS_INT(lines(ex), 23456, "23,456 lines");
    FILE *f = fopen(ex, "a");
    fputs("{\"_\":\"message\",\"flags\":0,\"id\":23457,\"peer_i", f);
    fclose(f);
    mtp_server_fault_rpc(H.srv, "messages.getHistory", 3, 420, "FLOOD_WAIT_1");
    IS_INT(run((const char *[]){ "export", "@harness_channel", "-o", ex, "--resume", NULL }), 0,
           "resumed export, with FLOOD_WAIT injected");
    mtp_server_fault_clear(H.srv);
    OK(has(errp, "after id 23456"), "resumed after the last complete line");
    check_export(ex, "resumed export");

    /* media beside the export */
    char md[300], mx[300], f30[340];
    snprintf(md, sizeof md, "%s/media", H.dir);
    snprintf(mx, sizeof mx, "%s/media.jsonl", H.dir);
    snprintf(f30, sizeof f30, "%s/30", md);
    mkdir(md, 0700);
    IS_INT(run((const char *[]){ "export", "@harness_channel", "-o", mx, "--limit", "35",
                                 "--media", md, NULL }),
           0, "export --media");
    OK(has(f30, "A document attached"), "the document of post 30 downloaded beside it");
    snprintf(f30, sizeof f30, "%s/31", md);
    OK(access(f30, F_OK) != 0, "nothing for post 31 (no media)");
    OK(has(mx, "\"messageMediaDocument\""), "the JSON lines carry the media");

    /* a real kill: SIGKILL after a moment, then --resume */
    mtp_server_fault_delay(H.srv, "messages.getHistory", 40, 20000);
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", sess,
                               "--api-id", "1", "--api-hash", "0123456789abcdef", "export",
                               "@harness_channel", "-o", ex, NULL };
        int o = open("/dev/null", O_WRONLY);
        dup2(o, 1);
        dup2(o, 2);
        execv(cli, (char *const *)argv);
        _exit(127);
    }
    usleep(400 * 1000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    mtp_server_fault_clear(H.srv);
    int part = lines(ex);
    OK(part < N_MSGS, "killed before the end (%d lines)", part);
    IS_INT(run((const char *[]){ "export", "@harness_channel", "-o", ex, "--resume", NULL }), 0,
           "resumed after the kill");
    check_export(ex, "export after a kill");
}

static void test_lists(void)
{
    double t0 = now_s();
    IS_INT(run((const char *[]){ "members", "@harness_group", NULL }), 0, "members");
    double dt = now_s() - t0;
    IS_INT(lines(outp), N_MEMBERS, "every member, one line each");
    OK(has(outp, "7000009999\t@member9999") && has(outp, "creator"), "the last one, the creator");
    printf("# cli member-list speed: %.0f members/s (%d in %.2f s, process start included)\n",
           N_MEMBERS / dt, N_MEMBERS, dt);
    IS_INT(run((const char *[]){ "--json", "members", "@harness_group", "--filter", "admins",
                                 NULL }),
           0, "admins");
    IS_INT(lines(outp), N_MEMBERS / 500, "the creator and every 500th");
    IS_INT(run((const char *[]){ "members", "@harness_group", "--query", "member999", NULL }), 0,
           "members --query");
    IS_INT(lines(outp), 10, "member999 and 9990..9999 but bot9996 (every 97th from 5 is a bot)");
    IS_INT(run((const char *[]){ "members", "@harness_channel", NULL }), 1,
           "a broadcast channel's members");
    OK(has(errp, "CHAT_ADMIN_REQUIRED"), "need an admin");

    IS_INT(run((const char *[]){ "history", "@harness_channel", "--limit", "240", NULL }), 0,
           "history --limit 240");
    IS_INT(lines(outp), 240, "240 lines (three pages)");
    OK(has(errp, "240 of 50000 shown"), "and says what was left out");
    IS_INT(run((const char *[]){ "history", "@harness_channel", "--reverse", "--min-id", "10",
                                 "--max-id", "15", NULL }),
           0, "history between ids, oldest first");
    OK(has(outp, "11\t") && lines(outp) == 4, "ids 11..14");
    IS_INT(run((const char *[]){ "search", "@harness_channel", "post 4999", NULL }), 0,
           "search in a peer");
    IS_INT(lines(outp), 11, "11 matches");
    IS_INT(run((const char *[]){ "search", "@harness_channel", "post", "--filter", "document",
                                 "--limit", "5", NULL }),
           0, "search --filter document");
    IS_INT(lines(outp), 5, "5 shown");
    OK(has(errp, "5 of 5000 shown"), "of 5000 documents");
    IS_INT(run((const char *[]){ "reactions", "@harness_channel", "49994", NULL }), 0,
           "reactions");
    IS_INT(lines(outp), 1 + 49994 % 5, "as many as the post's count");
    IS_INT(run((const char *[]){ "history", "@harness_channel", "--limit", "x", NULL }), 2,
           "a bad --limit is a usage error");
}

static void test_actions(void)
{
    IS_INT(run((const char *[]){ "join", "t.me/+HarnessOld", NULL }), 1, "join an expired link");
    OK(has(errp, "INVITE_HASH_EXPIRED"), "INVITE_HASH_EXPIRED");
    IS_INT(run((const char *[]){ "join", "https://t.me/+HarnessJoin", NULL }), 0, "join by link");
    IS_INT(run((const char *[]){ "join", "@harness_channel", NULL }), 0, "join by name");
    IS_INT(run((const char *[]){ "--json", "create", "channel", "Mine", NULL }), 0, "create");
    char *o = slurp(outp, NULL);
    char *d = o ? strstr(o, "\"detail\":\"") : NULL;
    char id[32] = "";
    if (d)
        sscanf(d + 10, "%31[-0-9]", id);
    free(o);
    OK(id[0] == '-', "the new channel's id (%s)", id);
    IS_INT(run((const char *[]){ "forward", "@harness_channel", "100", "200", id, NULL }), 0,
           "forward two posts");
    IS_INT(run((const char *[]){ "--json", "history", id, NULL }), 0, "history of the new channel");
    IS_INT(lines(outp), 2, "two messages there");
    OK(has(outp, "\"fwd_from\"") && has(outp, "\"channel_post\":200"), "forwards of post 200");
    IS_INT(run((const char *[]){ "archive", id, NULL }), 0, "archive");
    IS_INT(run((const char *[]){ "dialogs", "--archived", NULL }), 0, "archived dialogs");
    OK(has(outp, id) && lines(outp) == 1, "the channel is in the archive");
    IS_INT(run((const char *[]){ "unarchive", id, NULL }), 0, "unarchive");
    IS_INT(run((const char *[]){ "dialogs", "--archived", NULL }), 0, "archived dialogs again");
    IS_INT(lines(outp), 0, "archive empty");
    IS_INT(run((const char *[]){ "dialogs", NULL }), 0, "dialogs");
    OK(has(outp, id) && has(outp, "-1001000000001"), "the new channel and @harness_channel");
    IS_INT(run((const char *[]){ "leave", "@harness_channel", NULL }), 0, "leave");
    IS_INT(run((const char *[]){ "dialogs", NULL }), 0, "dialogs after leaving");
    OK(!has(outp, "-1001000000001"), "@harness_channel is gone from the dialogs");
    IS_INT(run((const char *[]){ "contacts", NULL }), 0, "contacts");
    IS_INT(lines(outp), 0, "none yet (no private chats)");
    IS_INT(run((const char *[]){ "profile", "me", NULL }), 0, "profile");
    OK(has(outp, "about\t"), "with the about line");
}

int main(int argc, char **argv)
{
    (void)argc;
    snprintf(cli, sizeof cli, "%s", argv[0]);
    char *slash = strrchr(cli, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(cli, '/');
    }
    if (slash)
        strcpy(slash, "/bin/mtproto-cli");
    if (access(cli, X_OK) != 0) {
        tap_skip("mtproto-cli not built", 1);
        return tap_done();
    }
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 1;
    sc.rsa_key_path = "tests/vectors/harness_rsa_2048.pem";
    if (access(sc.rsa_key_path, R_OK) != 0)
        sc.rsa_key_path = NULL;
    sc.populate_messages = N_MSGS;
    sc.populate_members = N_MEMBERS;
    if (tu_harness_start(&H, "test_cli_iter", &sc))
        tap_bail("harness did not start");
    snprintf(hp, sizeof hp, "127.0.0.1:%u", H.ports[0]);
    snprintf(sess, sizeof sess, "%s/cli.session", H.dir);
    snprintf(outp, sizeof outp, "%s/out", H.dir);
    snprintf(errp, sizeof errp, "%s/err", H.dir);
    IS_INT(run((const char *[]){ "login", "--phone", "9996611111", "--code", "11111", NULL }), 0,
           "login");
    test_export();
    test_lists();
    test_actions();
    tu_harness_stop(&H);
    return tap_done();
}
