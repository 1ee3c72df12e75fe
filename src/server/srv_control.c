/*
 * libmtproto harness — the control channel: JSON lines over a Unix socket (a path) or a
 * loopback TCP port, on the server's loop. One request per line, one answer line each:
 *
 *   {"cmd":"add","spec":"drop:0.1"}            {"ok":true,"id":3}
 *   {"cmd":"remove","id":3}                    {"ok":true}
 *   {"cmd":"list"}                             {"ok":true,"faults":[{"id":..,"spec":..},..]}
 *   {"cmd":"clear"}                            {"ok":true}   (every rule, old and new kinds)
 *   {"cmd":"stats"}                            {"ok":true,"stats":{"queries":N,...}}
 *   {"cmd":"push","user_id":N,"text":"hi"[,"from_id":M]}
 *        a new incoming message in N's box (from M, default N itself), pushed to N's live
 *        sessions as updateShortMessage       {"ok":true,"id":MSG_ID,"pts":PTS}
 *   {"cmd":"restart"}                          every connection dropped, --state saved
 *   {"cmd":"qr_accept","token":"..."}          stub: {"ok":false,"error":"..."} — the
 *        harness has no auth.exportLoginToken, so there is no QR token to accept yet
 *
 * A bad line gets {"ok":false,"error":"..."}; lines are at most 4 KiB.
 */
#include "server_int.h"
#include "srv_api_int.h"
#include "util/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_LINE_MAX 4096

typedef struct ctl_client {
    struct srv_ctl *ctl;
    struct ctl_client *next;
    mtp_stream_t *st;
    char line[CTL_LINE_MAX];
    size_t len;
    bool overflow;
} ctl_client_t;

struct srv_ctl {
    srv_t *srv;
    mtp_listener_t *lst;        /* TCP */
    int ufd;                    /* Unix socket, -1 none */
    mtp_io_t *uio;
    char path[108];
    ctl_client_t *clients;
};

/* ---- a flat JSON object: string and integer members ---- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

/* The string member `key` decoded into out (\" \\ \/ \n \t \uXXXX below 0x80); false if
 * absent or not a string. */
static bool json_get_str(const char *j, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(j, pat);
    if (!p)
        return false;
    p = skip_ws(p + strlen(pat));
    if (*p != ':')
        return false;
    p = skip_ws(p + 1);
    if (*p != '"')
        return false;
    p++;
    size_t n = 0;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            c = *p++;
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c == 'u') {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = mtp_hexval((unsigned char)p[i]);
                    if (h < 0)
                        return false;
                    v = v << 4 | (unsigned)h;
                }
                p += 4;
                if (v >= 0x80)
                    return false;
                c = (char)v;
            } else if (c != '"' && c != '\\' && c != '/') {
                return false;
            }
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = c;
    }
    if (*p != '"')
        return false;
    out[n] = 0;
    return true;
}

static bool json_get_int(const char *j, const char *key, int64_t *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(j, pat);
    if (!p)
        return false;
    p = skip_ws(p + strlen(pat));
    if (*p != ':')
        return false;
    p = skip_ws(p + 1);
    bool quoted = *p == '"';   /* 64-bit ids may come as strings */
    if (quoted)
        p++;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p || (quoted && *end != '"'))
        return false;
    *out = v;
    return true;
}

/* ---- commands ---- */

typedef struct ctl_push {
    srv_t *srv;
    srv_msg_t *m;
} ctl_push_t;

static int build_short(void *ctx, int layer, mtp_buf_t *out)
{
    ctl_push_t *p = ctx;
    srv_req_t r;
    if (push_begin(&r, p->srv, layer))
        return MTP_ENOMEM;
    mtp_updateShortMessage_t *u = MTP_NEW(r.arena, updateShortMessage);
    if (u) {
        u->id = p->m->id;
        u->user_id = p->m->peer;
        u->message = (mtp_bytes_t){ (const uint8_t *)p->m->text, p->m->text_len };
        u->pts = p->m->pts;
        u->pts_count = 1;
        u->date = p->m->date;
    }
    return push_end(&r, u ? &u->_ : NULL, out);
}

static void cmd_push(srv_t *srv, const char *j, mtp_buf_t *b)
{
    int64_t to = 0, from = 0;
    char text[1024];
    if (!json_get_int(j, "user_id", &to) || !json_get_str(j, "text", text, sizeof text) ||
        !text[0]) {
        mtp_buf_printf(b, "{\"ok\":false,\"error\":\"push needs user_id and text\"}");
        return;
    }
    if (!json_get_int(j, "from_id", &from))
        from = to;
    srv_user_t *u = srv_user_find(srv, to);
    if (!u || !srv_user_find(srv, from)) {
        mtp_buf_printf(b, "{\"ok\":false,\"error\":\"no such user\"}");
        return;
    }
    srv_msg_t *m = srv_msg_add(srv, u, from, from, false, (const uint8_t *)text, strlen(text), 0,
                               0, srv_unixtime());
    if (!m) {
        mtp_buf_printf(b, "{\"ok\":false,\"error\":\"out of memory\"}");
        return;
    }
    ctl_push_t p = { srv, m };
    int32_t id = m->id, pts = m->pts;
    srv_push_user(srv, to, NULL, build_short, &p);
    mtp_buf_printf(b, "{\"ok\":true,\"id\":%d,\"pts\":%d}", id, pts);
}

static void cmd_stats(srv_t *srv, mtp_buf_t *b)
{
    mtp_server_stats_t s;
    mtp_server_stats(srv, &s);
    mtp_buf_printf(b, "{\"ok\":true,\"stats\":{\"connections_open\":%" PRIu64
                   ",\"connections_total\":%" PRIu64 ",\"key_exchanges\":%" PRIu64
                   ",\"queries\":%" PRIu64 ",\"rpc_errors\":%" PRIu64
                   ",\"transport_errors\":%" PRIu64 ",\"bad_msg_notifications\":%" PRIu64
                   ",\"faults_injected\":%" PRIu64 ",\"bytes_in\":%" PRIu64
                   ",\"bytes_out\":%" PRIu64 ",\"sessions\":%" PRIu64 ",\"keys\":%" PRIu64
                   ",\"users\":%" PRIu64 "}}",
                   s.connections_open, s.connections_total, s.key_exchanges, s.queries,
                   s.rpc_errors, s.transport_errors, s.bad_msg_notifications, s.faults_injected,
                   s.bytes_in, s.bytes_out, s.sessions, s.keys, s.users);
}

static void handle_line(srv_t *srv, const char *j, mtp_buf_t *b)
{
    char cmd[32], spec[200];
    int64_t id;
    if (!json_get_str(j, "cmd", cmd, sizeof cmd)) {
        mtp_buf_printf(b, "{\"ok\":false,\"error\":\"no cmd\"}");
    } else if (strcmp(cmd, "add") == 0) {
        int rc = json_get_str(j, "spec", spec, sizeof spec) ? mtp_server_fault_add(srv, spec)
                                                            : MTP_EINVAL;
        if (rc > 0)
            mtp_buf_printf(b, "{\"ok\":true,\"id\":%d}", rc);
        else
            mtp_buf_printf(b, "{\"ok\":false,\"error\":\"%s\"}", mtp_strerror(rc));
    } else if (strcmp(cmd, "remove") == 0) {
        int rc = json_get_int(j, "id", &id) && id > 0 && id < INT32_MAX
                     ? mtp_server_fault_remove(srv, (int)id) : MTP_EINVAL;
        if (!rc)
            mtp_buf_printf(b, "{\"ok\":true}");
        else
            mtp_buf_printf(b, "{\"ok\":false,\"error\":\"%s\"}", mtp_strerror(rc));
    } else if (strcmp(cmd, "list") == 0) {
        int n = mtp_server_fault_list(srv, NULL, 0);
        char *l = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (l && mtp_server_fault_list(srv, l, (size_t)n + 1) >= 0)
            mtp_buf_printf(b, "{\"ok\":true,\"faults\":%s}", l);
        else
            mtp_buf_printf(b, "{\"ok\":false,\"error\":\"out of memory\"}");
        free(l);
    } else if (strcmp(cmd, "clear") == 0) {
        mtp_server_fault_clear(srv);
        for (int guard = 0; guard < 128; guard++) {   /* remove the engine's rules one by one */
            char buf[64];
            if (mtp_server_fault_list(srv, buf, sizeof buf) <= 2)
                break;
            const char *p = strstr(buf, "\"id\":");
            if (!p || mtp_server_fault_remove(srv, atoi(p + 5)))
                break;
        }
        mtp_buf_printf(b, "{\"ok\":true}");
    } else if (strcmp(cmd, "stats") == 0) {
        cmd_stats(srv, b);
    } else if (strcmp(cmd, "push") == 0) {
        cmd_push(srv, j, b);
    } else if (strcmp(cmd, "restart") == 0) {
        srv_fx_restart(srv);
        mtp_buf_printf(b, "{\"ok\":true}");
    } else if (strcmp(cmd, "qr_accept") == 0) {
        mtp_buf_printf(b, "{\"ok\":false,\"error\":\"not implemented: the harness has no "
                          "auth.exportLoginToken\"}");
    } else {
        mtp_buf_printf(b, "{\"ok\":false,\"error\":\"unknown cmd\"}");
    }
}

/* ---- connections ---- */

static void cl_close(mtp_stream_t *st, int err)
{
    (void)err;
    ctl_client_t *cl = mtp_stream_user(st);
    if (!cl)
        return;   /* srv_control_free() let it go */
    struct srv_ctl *ctl = cl->ctl;
    for (ctl_client_t **pp = &ctl->clients; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    free(cl);
}

static void cl_data(mtp_stream_t *st, const uint8_t *data, size_t n)
{
    ctl_client_t *cl = mtp_stream_user(st);
    if (!cl)
        return;
    srv_t *srv = cl->ctl->srv;
    for (size_t i = 0; i < n; i++) {
        if (data[i] != '\n') {
            if (cl->len + 1 < sizeof cl->line)
                cl->line[cl->len++] = (char)data[i];
            else
                cl->overflow = true;
            continue;
        }
        cl->line[cl->len] = 0;
        mtp_buf_t b;
        mtp_buf_init(&b);
        if (cl->overflow)
            mtp_buf_printf(&b, "{\"ok\":false,\"error\":\"line too long\"}");
        else if (cl->len)
            handle_line(srv, cl->line, &b);
        if (b.len) {
            mtp_buf_putc(&b, '\n');
            if (!b.err && mtp_stream_write(st, b.data, b.len)) {
                mtp_buf_free(&b);
                return;   /* closing */
            }
        }
        mtp_buf_free(&b);
        cl->len = 0;
        cl->overflow = false;
    }
}

static void ctl_adopt(struct srv_ctl *ctl, int fd)
{
    ctl_client_t *cl = calloc(1, sizeof *cl);
    if (!cl) {
        close(fd);
        return;
    }
    cl->ctl = ctl;
    mtp_stream_cbs_t cbs;
    memset(&cbs, 0, sizeof cbs);
    cbs.on_data = cl_data;
    cbs.on_close = cl_close;
    mtp_stream_opts_t o;
    memset(&o, 0, sizeof o);
    o.max_output = (size_t)4 << 20;
    if (mtp_stream_new(ctl->srv->loop, fd, &o, &cbs, cl, &cl->st)) {
        free(cl);
        return;
    }
    cl->next = ctl->clients;
    ctl->clients = cl;
}

static void on_tcp(mtp_listener_t *l, int fd, const struct sockaddr *peer, socklen_t len,
                   void *user)
{
    (void)l;
    (void)peer;
    (void)len;
    ctl_adopt(user, fd);
}

static void on_unix(mtp_io_t *io, int fd, unsigned events, void *user)
{
    (void)io;
    (void)events;
    for (int i = 0; i < 16; i++) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            return;
        ctl_adopt(user, c);
    }
}

static int open_unix(struct srv_ctl *ctl, const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path)
        return MTP_EINVAL;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return MTP_EIO;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16)) {
        close(fd);
        return MTP_EIO;
    }
    int rc = mtp_io_add(ctl->srv->loop, fd, MTP_IO_READ, on_unix, ctl, &ctl->uio);
    if (rc) {
        close(fd);
        unlink(path);
        return rc;
    }
    ctl->ufd = fd;
    snprintf(ctl->path, sizeof ctl->path, "%s", path);
    return 0;
}

int mtp_server_control_open(mtp_server_t *srv, const char *where)
{
    if (!srv || !where || !*where || srv->ctl || srv->has_thread || srv->running)
        return MTP_EINVAL;
    struct srv_ctl *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return MTP_ENOMEM;
    ctl->srv = srv;
    ctl->ufd = -1;
    bool digits = true;
    for (const char *p = where; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    int rc;
    if (digits && strlen(where) <= 5) {
        long port = strtol(where, NULL, 10);
        rc = port > 65535 ? MTP_EINVAL
                          : mtp_listener_new(srv->loop, "127.0.0.1", (uint16_t)port, NULL, on_tcp,
                                             ctl, &ctl->lst);
    } else {
        rc = open_unix(ctl, where);
    }
    if (rc) {
        free(ctl);
        return rc;
    }
    srv->ctl = ctl;
    return 0;
}

int mtp_server_control_port(const mtp_server_t *srv)
{
    return srv && srv->ctl && srv->ctl->lst ? mtp_listener_port(srv->ctl->lst) : 0;
}

void srv_control_free(srv_t *srv)
{
    struct srv_ctl *ctl = srv->ctl;
    if (!ctl)
        return;
    for (ctl_client_t *cl = ctl->clients, *nx; cl; cl = nx) {
        nx = cl->next;
        mtp_stream_set_user(cl->st, NULL);
        mtp_stream_close(cl->st);
        free(cl);
    }
    ctl->clients = NULL;
    if (ctl->lst)
        mtp_listener_free(ctl->lst);
    if (ctl->uio)
        mtp_io_remove(ctl->uio);
    if (ctl->ufd >= 0) {
        close(ctl->ufd);
        unlink(ctl->path);
    }
    free(ctl);
    srv->ctl = NULL;
}
