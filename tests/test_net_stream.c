/* src/net: streams and listeners on loopback — echo, IPv6, refused, output cap, half-close,
 * reset, idle/connect timeouts, closing from callbacks, foreign loop, EMFILE. Both backends. */
#define _GNU_SOURCE
#include <mtproto/net.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"

#define RUN_UNTIL(loop, cond, sec)                                                              \
    do {                                                                                        \
        double t0_ = tu_now();                                                                  \
        while (!(cond) && tu_now() - t0_ < (sec))                                               \
            mtp_loop_run_once((loop), 10000);                                                   \
    } while (0)

/* ---------------------------------------------------------------------------------------- */
/* a connection endpoint that records everything                                             */
/* ---------------------------------------------------------------------------------------- */

enum {
    M_ECHO = 1,             /* write back what arrives */
    M_REPLY_EOF = 2,        /* on EOF: write "pong", then end */
    M_CLOSE_IN_DATA = 4,    /* close on the first bytes, then try to write */
    M_CLOSE_OTHER = 8       /* on_close: close c->other too */
};

typedef struct conn {
    mtp_stream_t *s;
    unsigned mode;
    mtp_buf_t in;
    int closes, err, sys, connects, eofs, drains, datas;
    int write_after_close;
    struct conn *other;
} conn;

static void c_data(mtp_stream_t *s, const uint8_t *d, size_t n)
{
    conn *c = mtp_stream_user(s);
    c->datas++;
    mtp_buf_append(&c->in, d, n);
    if (c->mode & M_ECHO)
        mtp_stream_write(s, d, n);
    if ((c->mode & M_CLOSE_IN_DATA) && c->datas == 1) {
        mtp_stream_close(s);
        c->write_after_close = mtp_stream_write(s, "x", 1);
    }
}

static void c_close(mtp_stream_t *s, int err)
{
    conn *c = mtp_stream_user(s);
    c->closes++;
    c->err = err;
    c->sys = mtp_stream_errno(s);
    c->s = NULL;
    if ((c->mode & M_CLOSE_OTHER) && c->other && c->other->s)
        mtp_stream_close(c->other->s);
}

static void c_connect(mtp_stream_t *s)
{
    ((conn *)mtp_stream_user(s))->connects++;
}

static void c_eof(mtp_stream_t *s)
{
    conn *c = mtp_stream_user(s);
    c->eofs++;
    if (c->mode & M_REPLY_EOF) {
        mtp_stream_write(s, "pong", 4);
        mtp_stream_end(s);
    }
}

static void c_drain(mtp_stream_t *s)
{
    ((conn *)mtp_stream_user(s))->drains++;
}

static const mtp_stream_cbs_t cbs_plain = { .on_data = c_data, .on_close = c_close,
                                            .on_connect = c_connect, .on_drain = c_drain };
static const mtp_stream_cbs_t cbs_eof = { .on_data = c_data, .on_close = c_close,
                                          .on_connect = c_connect, .on_eof = c_eof,
                                          .on_drain = c_drain };

static conn *conn_new(unsigned mode)
{
    conn *c = calloc(1, sizeof *c);
    c->mode = mode;
    mtp_buf_init(&c->in);
    return c;
}

static void conn_free(conn *c)
{
    if (c) {
        mtp_buf_free(&c->in);
        free(c);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* a server: listener + accepted conns                                                       */
/* ---------------------------------------------------------------------------------------- */

typedef struct server {
    mtp_loop_t *loop;
    mtp_listener_t *l;
    conn *conns[64];
    int n;
    unsigned mode;
    bool with_eof;
    bool free_in_accept;
    mtp_stream_opts_t opts;
} server;

static void on_accept(mtp_listener_t *l, int fd, const struct sockaddr *peer, socklen_t len,
                      void *user)
{
    server *sv = user;
    char a[MTP_NET_ADDRSTRLEN];
    mtp_net_addr_str(peer, len, a, sizeof a);
    if (strncmp(a, "127.0.0.1:", 10) && strncmp(a, "[::1]:", 6))
        tap_diag("unexpected peer address %s", a);
    if (sv->free_in_accept) {
        close(fd);
        mtp_listener_free(l);
        sv->l = NULL;
        sv->n++;
        return;
    }
    if (sv->n >= 64) {
        close(fd);
        return;
    }
    conn *c = conn_new(sv->mode);
    sv->conns[sv->n++] = c;
    if (mtp_stream_new(sv->loop, fd, &sv->opts, sv->with_eof ? &cbs_eof : &cbs_plain, c, &c->s))
        tap_diag("mtp_stream_new failed");
}

static int server_start(server *sv, mtp_loop_t *loop, const char *host, unsigned mode)
{
    sv->loop = loop;
    sv->mode = mode;
    return mtp_listener_new(loop, host, 0, NULL, on_accept, sv, &sv->l);
}

static void server_stop(server *sv)
{
    mtp_listener_free(sv->l);
    sv->l = NULL;
    for (int i = 0; i < sv->n; i++) {
        if (sv->conns[i] && sv->conns[i]->s) {
            mtp_stream_close(sv->conns[i]->s);
            mtp_loop_run_once(sv->loop, 0);
        }
        conn_free(sv->conns[i]);
        sv->conns[i] = NULL;
    }
    sv->n = 0;
}

static int raw_connect(const char *ip, uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---------------------------------------------------------------------------------------- */
/* tests                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_echo(unsigned flags, const char *host, const char *connect_host)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    int rc = server_start(&sv, loop, host, M_ECHO);
    if (rc) {
        tap_skip("cannot listen on this address family here", 6);
        mtp_loop_free(loop);
        return;
    }
    uint16_t port = mtp_listener_port(sv.l);
    OK(port != 0, "[%s] listening on %s port %u (ephemeral)", be, host, port);
    conn *c = conn_new(0);
    rc = mtp_stream_connect(loop, connect_host, port, NULL, &cbs_plain, c, &c->s);
    IS_INT(rc, 0, "[%s] connect %s:%u started", be, connect_host, port);
    /* 1 MiB queued before the connection is even established */
    enum { TOTAL = 1 << 20 };
    uint8_t *msg = malloc(TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        msg[i] = (uint8_t)(i * 131 + (i >> 9));
    for (size_t off = 0; off < TOTAL; off += 65536)
        mtp_stream_write(c->s, msg + off, 65536);
    RUN_UNTIL(loop, c->in.len >= TOTAL || c->closes, 10);
    OK(c->connects == 1 && c->in.len == TOTAL && !memcmp(c->in.data, msg, TOTAL),
       "[%s] 1 MiB echoed intact (written while connecting)", be);
    OK(c->drains >= 1, "[%s] on_drain after the queue emptied", be);
    /* gather write */
    mtp_buf_clear(&c->in);
    mtp_bytes_t parts[3] = { { (const uint8_t *)"hdr:", 4 }, { NULL, 0 },
                             { (const uint8_t *)"payload", 7 } };
    mtp_stream_writev(c->s, parts, 3);
    RUN_UNTIL(loop, c->in.len >= 11, 5);
    OK(c->in.len == 11 && !memcmp(c->in.data, "hdr:payload", 11), "[%s] writev", be);
    uint64_t out = mtp_stream_bytes_out(c->s), in = mtp_stream_bytes_in(c->s);
    OK(out == TOTAL + 11 && in == TOTAL + 11, "[%s] byte counters", be);
    mtp_stream_close(c->s);
    OK(c->closes == 0, "[%s] on_close is not called from inside mtp_stream_close", be);
    conn *srv = sv.conns[0];
    RUN_UNTIL(loop, c->closes && srv && srv->closes, 5);
    OK(c->closes == 1 && c->err == 0, "[%s] client on_close(0) once", be);
    OK(srv && srv->closes == 1 && srv->err == MTP_ECLOSED,
       "[%s] server sees the peer's close: on_close(MTP_ECLOSED) once", be);
    for (int i = 0; i < 5; i++)
        mtp_loop_run_once(loop, 0);
    OK(c->closes == 1 && srv && srv->closes == 1, "[%s] ... and never again", be);
    free(msg);
    conn_free(c);
    server_stop(&sv);
    mtp_loop_free(loop);
}

static void test_refused(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    server_start(&sv, loop, "127.0.0.1", 0);
    uint16_t port = mtp_listener_port(sv.l);
    server_stop(&sv);       /* the port is now (almost certainly) closed */
    conn *c = conn_new(0);
    int rc = mtp_stream_connect(loop, "127.0.0.1", port, NULL, &cbs_plain, c, &c->s);
    IS_INT(rc, 0, "[%s] connect to a closed port: started", be);
    OK(c->closes == 0, "[%s] no callback from inside mtp_stream_connect", be);
    RUN_UNTIL(loop, c->closes, 5);
    OK(c->closes == 1 && c->err == MTP_EIO && c->sys == ECONNREFUSED && c->connects == 0,
       "[%s] on_close(MTP_EIO) once, errno ECONNREFUSED (err %d, errno %d)", be, c->err, c->sys);
    conn_free(c);

    c = conn_new(0);
    rc = mtp_stream_connect(loop, "no-such-host.invalid", 80, NULL, &cbs_plain, c, &c->s);
    IS_INT(rc, MTP_ENOTFOUND, "[%s] unresolvable name: MTP_ENOTFOUND, no stream", be);
    conn_free(c);
    mtp_loop_free(loop);
}

static void test_output_cap(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    sv.opts.max_output = 256 * 1024;
    sv.opts.sndbuf = 16 * 1024;
    server_start(&sv, loop, "127.0.0.1", 0);
    int raw = raw_connect("127.0.0.1", mtp_listener_port(sv.l));
    int small = 4096;
    setsockopt(raw, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    RUN_UNTIL(loop, sv.n == 1, 5);
    conn *srv = sv.conns[0];
    static uint8_t chunk[65536];
    int wrc = 0;
    size_t written = 0;
    double t0 = tu_now();
    while (srv && srv->s && tu_now() - t0 < 10) {
        wrc = mtp_stream_write(srv->s, chunk, sizeof chunk);
        if (wrc)
            break;
        written += sizeof chunk;
        mtp_loop_run_once(loop, 1000);
    }
    IS_INT(wrc, MTP_EFULL, "[%s] a peer that never reads: write fails with MTP_EFULL after "
           "%zu KiB", be, written / 1024);
    OK(srv && written <= 16u << 20, "[%s] ... within a bounded amount", be);
    IS_INT(mtp_stream_write(srv->s, chunk, 1), MTP_ECLOSED, "[%s] later writes: MTP_ECLOSED", be);
    RUN_UNTIL(loop, srv->closes, 5);
    OK(srv->closes == 1 && srv->err == MTP_EFULL, "[%s] on_close(MTP_EFULL) once", be);
    /* the peer sees the connection go away */
    char buf[4096];
    ssize_t r;
    size_t got = 0;
    while ((r = read(raw, buf, sizeof buf)) > 0)
        got += (size_t)r;
    OK(r == 0 || (r < 0 && errno == ECONNRESET), "[%s] the peer is disconnected (read %zu KiB)",
       be, got / 1024);
    close(raw);
    server_stop(&sv);
    mtp_loop_free(loop);
}

static void test_half_close(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    sv.with_eof = true;
    server_start(&sv, loop, "127.0.0.1", M_REPLY_EOF);
    conn *c = conn_new(0);
    mtp_stream_connect(loop, "127.0.0.1", mtp_listener_port(sv.l), NULL, &cbs_eof, c, &c->s);
    mtp_stream_write(c->s, "ping", 4);
    IS_INT(mtp_stream_end(c->s), 0, "[%s] end while connecting is accepted", be);
    IS_INT(mtp_stream_write(c->s, "x", 1), MTP_ESTATE, "[%s] write after end: MTP_ESTATE", be);
    RUN_UNTIL(loop, c->closes && sv.n && sv.conns[0]->closes, 5);
    conn *srv = sv.n ? sv.conns[0] : NULL;
    OK(srv && srv->in.len == 4 && !memcmp(srv->in.data, "ping", 4) && srv->eofs == 1,
       "[%s] server: data, then on_eof", be);
    OK(c->in.len == 4 && !memcmp(c->in.data, "pong", 4), "[%s] client: reply after its own FIN",
       be);
    OK(c->closes == 1 && c->err == 0 && c->eofs == 0, "[%s] client: orderly on_close(0) once",
       be);
    OK(srv && srv->closes == 1 && srv->err == 0, "[%s] server: orderly on_close(0) once", be);
    conn_free(c);
    server_stop(&sv);
    mtp_loop_free(loop);
}

static void test_reset_and_eof(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    server_start(&sv, loop, "127.0.0.1", 0);
    uint16_t port = mtp_listener_port(sv.l);

    /* RST */
    int raw = raw_connect("127.0.0.1", port);
    RUN_UNTIL(loop, sv.n == 1, 5);
    struct linger lg = { 1, 0 };
    setsockopt(raw, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(raw);
    RUN_UNTIL(loop, sv.n == 1 && sv.conns[0]->closes, 5);
    conn *srv = sv.conns[0];
    OK(srv->closes == 1 && srv->err == MTP_EIO && srv->sys == ECONNRESET,
       "[%s] reset by peer: on_close(MTP_EIO) once, errno ECONNRESET (err %d errno %d)", be,
       srv->err, srv->sys);

    /* data + FIN, no on_eof callback */
    raw = raw_connect("127.0.0.1", port);
    OK(write(raw, "hi", 2) == 2, "raw write");
    close(raw);
    RUN_UNTIL(loop, sv.n == 2 && sv.conns[1]->closes, 5);
    srv = sv.conns[1];
    OK(srv->in.len == 2 && srv->closes == 1 && srv->err == MTP_ECLOSED,
       "[%s] data then EOF: delivered, then on_close(MTP_ECLOSED) once", be);

    /* RST while reading is paused (interest 0): noticed on resume, no spin meanwhile */
    raw = raw_connect("127.0.0.1", port);
    RUN_UNTIL(loop, sv.n == 3, 5);
    srv = sv.conns[2];
    mtp_stream_pause_read(srv->s, true);
    OK(write(raw, "abc", 3) == 3, "raw write");
    int d = 0;
    for (int i = 0; i < 5; i++)
        d += mtp_loop_run_once(loop, 2000);
    OK(srv->in.len == 0 && d == 0, "[%s] paused: nothing read, nothing dispatched", be);
    mtp_stream_pause_read(srv->s, false);
    RUN_UNTIL(loop, srv->in.len == 3, 5);
    OK(srv->in.len == 3, "[%s] resumed: data delivered", be);
    mtp_stream_pause_read(srv->s, true);
    setsockopt(raw, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(raw);
    d = 0;
    for (int i = 0; i < 5; i++)
        d += mtp_loop_run_once(loop, 2000);
    OK(d == 0 && srv->closes == 0, "[%s] reset while paused: quiet", be);
    mtp_stream_pause_read(srv->s, false);
    RUN_UNTIL(loop, srv->closes, 5);
    OK(srv->closes == 1 && srv->err == MTP_EIO, "[%s] ... reported on resume", be);
    server_stop(&sv);
    mtp_loop_free(loop);
}

static void test_close_in_callbacks(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    server_start(&sv, loop, "127.0.0.1", M_CLOSE_IN_DATA);
    uint16_t port = mtp_listener_port(sv.l);
    conn *a = conn_new(M_CLOSE_OTHER), *b = conn_new(0);
    a->other = b;
    mtp_stream_connect(loop, "127.0.0.1", port, NULL, &cbs_plain, a, &a->s);
    mtp_stream_connect(loop, "127.0.0.1", port, NULL, &cbs_plain, b, &b->s);
    mtp_stream_write(a->s, "hello", 5);
    RUN_UNTIL(loop, a->closes && b->closes, 5);
    conn *s0 = sv.n > 0 ? sv.conns[0] : NULL;
    conn *sa = NULL;
    for (int i = 0; i < sv.n; i++)
        if (sv.conns[i]->datas)
            sa = sv.conns[i];
    OK(sa && sa->closes == 1 && sa->err == 0 && sa->write_after_close == MTP_ECLOSED,
       "[%s] close inside on_data: write after it -> MTP_ECLOSED, on_close(0) once", be);
    OK(a->closes == 1 && a->err == MTP_ECLOSED, "[%s] client a sees the close", be);
    OK(b->closes == 1 && b->err == 0, "[%s] close of another stream from inside on_close", be);
    (void)s0;
    conn_free(a);
    conn_free(b);
    server_stop(&sv);

    /* listener freed from inside its accept callback */
    server_start(&sv, loop, "127.0.0.1", 0);
    sv.free_in_accept = true;
    port = mtp_listener_port(sv.l);
    int raw = raw_connect("127.0.0.1", port);
    RUN_UNTIL(loop, sv.n == 1, 5);
    OK(sv.n == 1 && sv.l == NULL, "[%s] listener freed inside its accept callback", be);
    char ch;
    OK(read(raw, &ch, 1) == 0, "[%s] that connection was closed", be);
    close(raw);
    OK(raw_connect("127.0.0.1", port) < 0, "[%s] the port no longer accepts", be);
    server_stop(&sv);
    mtp_loop_free(loop);
}

static void test_timeouts(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    sv.opts.idle_timeout = 50000;
    server_start(&sv, loop, "127.0.0.1", 0);
    uint16_t port = mtp_listener_port(sv.l);
    int raw = raw_connect("127.0.0.1", port);
    double t0 = tu_now();
    RUN_UNTIL(loop, sv.n == 1 && sv.conns[0]->closes, 5);
    double dt = tu_now() - t0;
    OK(sv.n == 1 && sv.conns[0]->err == MTP_ETIMEDOUT && dt >= 0.045 && dt < 1.0,
       "[%s] idle timeout 50 ms: on_close(MTP_ETIMEDOUT) after %.0f ms", be, dt * 1e3);
    close(raw);
    /* traffic keeps it alive */
    raw = raw_connect("127.0.0.1", port);
    RUN_UNTIL(loop, sv.n == 2, 5);
    IS_INT(mtp_stream_set_idle_timeout(sv.conns[1]->s, 150000), 0, "[%s] set_idle_timeout", be);
    int sent = 0;
    double max_gap = 0, prev = tu_now();
    for (int i = 0; i < 20 && !sv.conns[1]->closes; i++) {
        sent += write(raw, "k", 1) == 1;
        double t1 = tu_now();
        max_gap = t1 - prev > max_gap ? t1 - prev : max_gap;
        prev = t1;
        while (tu_now() - t1 < 0.02)
            mtp_loop_run_once(loop, 5000);
    }
    if (max_gap > 0.1 && sv.conns[1]->closes)
        tap_skip("machine too loaded to judge the idle timer (a 100+ ms stall)", 1);
    else
        OK(sv.conns[1]->closes == 0 && sv.conns[1]->in.len == 20 && sent == 20,
           "[%s] a byte every 20 ms keeps a 150 ms idle timeout away (400 ms)", be);
    RUN_UNTIL(loop, sv.conns[1]->closes, 5);
    OK(sv.conns[1]->err == MTP_ETIMEDOUT, "[%s] ... and it fires once they stop", be);
    close(raw);
    server_stop(&sv);

    /* connect timeout: a listener whose accept queue is full drops SYNs */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t al = sizeof a;
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 0);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(20000);
    conn *c = conn_new(0);
    mtp_stream_opts_t o = { .connect_timeout = 100000 };
    mtp_stream_connect_addr(loop, (struct sockaddr *)&a, sizeof a, &o, &cbs_plain, c, &c->s);
    t0 = tu_now();
    RUN_UNTIL(loop, c->closes, 5);
    dt = tu_now() - t0;
    if (c->err == MTP_ETIMEDOUT)
        OK(dt >= 0.095 && dt < 2.0 && c->connects == 0,
           "[%s] connect timeout 100 ms: on_close(MTP_ETIMEDOUT) after %.0f ms", be, dt * 1e3);
    else
        tap_skip("this kernel completed the connection despite a full accept queue", 1);
    conn_free(c);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
    mtp_loop_free(loop);
}

static void test_foreign(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    server_start(&sv, loop, "127.0.0.1", M_ECHO);
    conn *c = conn_new(0);
    mtp_stream_connect(loop, "127.0.0.1", mtp_listener_port(sv.l), NULL, &cbs_plain, c, &c->s);
    mtp_stream_write(c->s, "through poll()", 14);
    struct pollfd pf[16];
    int iters = 0;
    double t0 = tu_now();
    while (c->in.len < 14 && tu_now() - t0 < 5) {
        size_t n = mtp_loop_fds(loop, pf, 16);
        if (n > 16)
            break;
        int ms = mtp_loop_timeout_ms(loop);
        poll(pf, (nfds_t)n, ms < 0 || ms > 100 ? 100 : ms);
        mtp_loop_process(loop, pf, n);
        iters++;
    }
    OK(c->in.len == 14 && !memcmp(c->in.data, "through poll()", 14),
       "[%s] echo driven by the application's poll() (%d iterations)", be, iters);
    mtp_stream_close(c->s);
    IS_INT(mtp_loop_timeout_usec(loop), 0, "[%s] a pending on_close makes the timeout 0", be);
    mtp_loop_process(loop, NULL, 0);
    IS_INT(c->closes, 1, "[%s] process(NULL, 0) delivers it", be);
    conn_free(c);
    server_stop(&sv);
    mtp_loop_free(loop);
}

static void test_loop_free_closes(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    server sv = { 0 };
    server_start(&sv, loop, "127.0.0.1", M_ECHO);
    conn *c = conn_new(0);
    mtp_stream_connect(loop, "127.0.0.1", mtp_listener_port(sv.l), NULL, &cbs_plain, c, &c->s);
    mtp_stream_write(c->s, "x", 1);
    RUN_UNTIL(loop, c->in.len == 1, 5);
    conn *srv = sv.n ? sv.conns[0] : NULL;
    mtp_loop_free(loop);
    OK(c->closes == 1 && c->err == MTP_ECANCELED && srv && srv->closes == 1 &&
       srv->err == MTP_ECANCELED, "[%s] mtp_loop_free closes open streams: on_close(MTP_ECANCELED)",
       be);
    conn_free(c);
    for (int i = 0; i < sv.n; i++)
        conn_free(sv.conns[i]);
}

static void test_socketpair(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    conn *a = conn_new(0), *b = conn_new(M_ECHO);
    mtp_stream_new(loop, sp[0], NULL, &cbs_plain, a, &a->s);
    mtp_stream_new(loop, sp[1], NULL, &cbs_plain, b, &b->s);
    mtp_stream_write(a->s, "unix", 4);
    RUN_UNTIL(loop, a->in.len == 4, 5);
    OK(a->in.len == 4 && b->in.len == 4, "[%s] streams over a socketpair", be);
    mtp_stream_close(a->s);
    RUN_UNTIL(loop, a->closes && b->closes, 5);
    OK(a->closes == 1 && b->closes == 1 && b->err == MTP_ECLOSED, "[%s] socketpair close", be);
    conn_free(a);
    conn_free(b);

    /* writing to a closed peer: an error, never SIGPIPE (default disposition kills us) */
    signal(SIGPIPE, SIG_DFL);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    a = conn_new(0);
    mtp_stream_new(loop, sp[0], NULL, &cbs_plain, a, &a->s);
    close(sp[1]);
    int rc = mtp_stream_write(a->s, "into the void", 13);
    OK(rc == MTP_EIO && mtp_stream_errno(a->s) == EPIPE,
       "[%s] write to a closed peer: MTP_EIO (EPIPE), no SIGPIPE", be);
    RUN_UNTIL(loop, a->closes, 5);
    OK(a->closes == 1 && a->err == MTP_EIO, "[%s] ... then on_close(MTP_EIO) once", be);
    conn_free(a);
    mtp_loop_free(loop);
}

/* Out of fds: connections are accepted into the spare fd and dropped; no spinning. */
static bool is_devnull(int fd)
{
    char p[64], t[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n <= 0)
        return false;
    t[n] = 0;
    return !strcmp(t, "/dev/null");
}

static void test_emfile(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    bool was_null[256];
    for (int fd = 0; fd < 256; fd++)
        was_null[fd] = is_devnull(fd);
    server sv = { 0 };
    server_start(&sv, loop, "127.0.0.1", 0);
    uint16_t port = mtp_listener_port(sv.l);
    enum { K = 3 };
    int cl[K];
    for (int i = 0; i < K; i++)
        cl[i] = raw_connect("127.0.0.1", port);     /* complete in the kernel's backlog */
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);   /* the lowest free number */
    close(lowest);
    struct rlimit lim = { (rlim_t)lowest, old.rlim_max };
    setrlimit(RLIMIT_NOFILE, &lim);
    int disp = 0;
    double t0 = tu_now();
    while (tu_now() - t0 < 0.2)
        disp += mtp_loop_run_once(loop, 10000);
    setrlimit(RLIMIT_NOFILE, &old);
    OK(mtp_listener_dropped(sv.l) == K && sv.n == 0,
       "[%s] EMFILE: %d pending connections dropped through the spare fd (dropped %llu)", be, K,
       (unsigned long long)mtp_listener_dropped(sv.l));
    OK(disp < 50, "[%s] EMFILE: no busy loop (%d dispatches in 200 ms)", be, disp);
    int closed = 0;
    for (int i = 0; i < K; i++) {
        char ch;
        ssize_t r = read(cl[i], &ch, 1);
        closed += r == 0 || (r < 0 && errno == ECONNRESET);
        close(cl[i]);
    }
    IS_INT(closed, K, "[%s] EMFILE: the dropped peers see their connection closed", be);

    /* even the spare cannot be reopened: accepting pauses (100 ms steps), then recovers */
    cl[0] = raw_connect("127.0.0.1", port);
    int spare = -1;
    for (int fd = 0; fd < 256; fd++)       /* the listener's spare: a new fd on /dev/null */
        if (!was_null[fd] && is_devnull(fd))
            spare = fd;
    if (spare < 0) {
        tap_skip("spare fd not found", 2);
    } else {
        /* fill every free number below the spare, then forbid anything at or above it */
        int fillers[256], nf = 0;
        while (nf < 256) {
            int d = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (d < 0)
                break;
            if (d > spare) {
                close(d);
                break;
            }
            fillers[nf++] = d;
        }
        lim.rlim_cur = (rlim_t)spare;
        setrlimit(RLIMIT_NOFILE, &lim);
        disp = 0;
        t0 = tu_now();
        while (tu_now() - t0 < 0.3)
            disp += mtp_loop_run_once(loop, 10000);
        setrlimit(RLIMIT_NOFILE, &old);
        while (nf > 0)
            close(fillers[--nf]);
        OK(disp <= 10 && sv.n == 0, "[%s] no fd at all: paused, %d dispatches in 300 ms", be,
           disp);
        RUN_UNTIL(loop, sv.n == 1, 2);
        IS_INT(sv.n, 1, "[%s] limit restored: the waiting connection is accepted", be);
    }
    close(cl[0]);
    server_stop(&sv);
    mtp_loop_free(loop);
}

static void test_resolve(void)
{
    struct sockaddr_storage ss[4];
    socklen_t ls[4];
    char buf[MTP_NET_ADDRSTRLEN];
    int n = mtp_net_resolve("127.0.0.1", 443, false, ss, ls, 4);
    OK(n == 1 && !strcmp(mtp_net_addr_str((struct sockaddr *)&ss[0], ls[0], buf, sizeof buf),
                         "127.0.0.1:443"), "resolve + format an IPv4 literal");
    n = mtp_net_resolve("[::1]", 8443, false, ss, ls, 4);
    OK(n == 1 && !strcmp(mtp_net_addr_str((struct sockaddr *)&ss[0], ls[0], buf, sizeof buf),
                         "[::1]:8443"), "resolve + format a bracketed IPv6 literal");
    IS_INT(mtp_net_resolve("[::1", 1, false, ss, ls, 4), MTP_EINVAL, "unbalanced bracket");
    IS_INT(mtp_net_resolve(NULL, 1, false, ss, ls, 4), MTP_EINVAL, "no host to connect to");
}

int main(void)
{
    int fds0 = tu_count_fds();
    test_resolve();
    unsigned backends[2] = { 0, MTP_LOOP_POLL };
    for (int i = 0; i < 2; i++) {
        unsigned f = backends[i];
        test_echo(f, "127.0.0.1", "127.0.0.1");
        test_echo(f, "::1", "[::1]");
        test_echo(f, "127.0.0.1", "localhost");   /* may try ::1 first and fall back */
        test_refused(f);
        test_output_cap(f);
        test_half_close(f);
        test_reset_and_eof(f);
        test_close_in_callbacks(f);
        test_timeouts(f);
        test_foreign(f);
        test_loop_free_closes(f);
        test_socketpair(f);
        test_emfile(f);
    }
    int fds1 = tu_count_fds();
    IS_INT(fds1, fds0, "no fd leaked (%d open before, %d after)", fds0, fds1);
    return tap_done();
}
