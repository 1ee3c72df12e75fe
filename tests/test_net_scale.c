/* src/net: 1,000 concurrent loopback connections to one listener, one loop, one thread.
 * Every client connects, all stay open together, each sends a message and gets it echoed,
 * then all close. Both backends; timings are printed as TAP diagnostics. */
#define _GNU_SOURCE
#include <mtproto/net.h>

#include <dirent.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "testutil.h"

enum { NCLIENT = 1000, MSG = 64 };

typedef struct client {
    mtp_stream_t *s;
    int id;
    uint8_t msg[MSG];
    uint8_t got[MSG];
    size_t ngot;
    int connects, closes, err;
    mtp_usec_t sent_at, rtt;
    bool bad;
} client;

static struct {
    int connected, echoed, client_closes, server_accepts, server_closes, server_bad_close;
    int server_open, max_server_open;
} st;

static void cl_connect(mtp_stream_t *s)
{
    client *c = mtp_stream_user(s);
    c->connects++;
    st.connected++;
}

static void cl_data(mtp_stream_t *s, const uint8_t *d, size_t n)
{
    client *c = mtp_stream_user(s);
    if (c->ngot + n > MSG) {
        c->bad = true;
        n = MSG - c->ngot;
    }
    memcpy(c->got + c->ngot, d, n);
    c->ngot += n;
    if (c->ngot == MSG) {
        c->rtt = mtp_mono_usec() - c->sent_at;
        if (memcmp(c->got, c->msg, MSG))
            c->bad = true;
        st.echoed++;
    }
}

static void cl_close(mtp_stream_t *s, int err)
{
    client *c = mtp_stream_user(s);
    c->closes++;
    c->err = err;
    c->s = NULL;
    st.client_closes++;
}

static const mtp_stream_cbs_t client_cbs = { .on_data = cl_data, .on_close = cl_close,
                                             .on_connect = cl_connect };

static void sv_data(mtp_stream_t *s, const uint8_t *d, size_t n)
{
    mtp_stream_write(s, d, n);
}

static void sv_close(mtp_stream_t *s, int err)
{
    (void)s;
    st.server_closes++;
    st.server_open--;
    if (err != MTP_ECLOSED)
        st.server_bad_close++;
}

static const mtp_stream_cbs_t server_cbs = { .on_data = sv_data, .on_close = sv_close };

static void on_accept(mtp_listener_t *l, int fd, const struct sockaddr *peer, socklen_t len,
                      void *user)
{
    (void)l;
    (void)peer;
    (void)len;
    mtp_stream_t *s;
    if (mtp_stream_new(user, fd, NULL, &server_cbs, NULL, &s) == 0) {
        st.server_accepts++;
        if (++st.server_open > st.max_server_open)
            st.max_server_open = st.server_open;
    }
}

static int cmp_usec(const void *a, const void *b)
{
    mtp_usec_t x = *(const mtp_usec_t *)a, y = *(const mtp_usec_t *)b;
    return (x > y) - (x < y);
}

static void run_until(mtp_loop_t *loop, const int *counter, int want, double max_sec)
{
    double t0 = tu_now();
    while (*counter < want && tu_now() - t0 < max_sec)
        mtp_loop_run_once(loop, 10000);
}

static void scale(unsigned flags)
{
    memset(&st, 0, sizeof st);
    int fds0 = tu_count_fds();
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    mtp_listener_t *l;
    mtp_listen_opts_t lo = { .backlog = 4096 };
    if (mtp_listener_new(loop, "127.0.0.1", 0, &lo, on_accept, loop, &l)) {
        tap_bail("listen failed");
    }
    uint16_t port = mtp_listener_port(l);
    client *cl = calloc(NCLIENT, sizeof *cl);

    /* phase 1: all connect and stay connected */
    double t0 = tu_now();
    int started = 0;
    for (int i = 0; i < NCLIENT; i++) {
        cl[i].id = i;
        for (int k = 0; k < MSG; k++)
            cl[i].msg[k] = (uint8_t)(i * 7 + k);
        snprintf((char *)cl[i].msg, MSG, "client %04d", i);
        if (mtp_stream_connect(loop, "127.0.0.1", port, NULL, &client_cbs, &cl[i], &cl[i].s) == 0)
            started++;
    }
    run_until(loop, &st.connected, NCLIENT, 30);
    run_until(loop, &st.server_accepts, NCLIENT, 10);
    double t_conn = tu_now() - t0;
    IS_INT(started, NCLIENT, "[%s] %d connects started", be, NCLIENT);
    OK(st.connected == NCLIENT && st.server_accepts == NCLIENT && st.client_closes == 0,
       "[%s] %d clients connected, %d accepted, all open at once (%.1f ms)", be, st.connected,
       st.server_accepts, t_conn * 1e3);
    int open_fds = tu_count_fds();
    tap_diag("[%s] fds open with every connection up: %d", be, open_fds);

    /* phase 2: every client sends its message; wait for all echoes */
    t0 = tu_now();
    for (int i = 0; i < NCLIENT; i++) {
        if (!cl[i].s)
            continue;
        cl[i].sent_at = mtp_mono_usec();
        mtp_stream_write(cl[i].s, cl[i].msg, MSG);
    }
    run_until(loop, &st.echoed, NCLIENT, 30);
    double t_rt = tu_now() - t0;
    int bad = 0;
    mtp_usec_t *rtts = calloc(NCLIENT, sizeof *rtts);
    int nr = 0;
    for (int i = 0; i < NCLIENT; i++) {
        bad += cl[i].bad || cl[i].ngot != MSG;
        if (cl[i].ngot == MSG)
            rtts[nr++] = cl[i].rtt;
    }
    OK(st.echoed == NCLIENT && bad == 0, "[%s] %d messages echoed intact (%.1f ms for all)", be,
       st.echoed, t_rt * 1e3);
    OK(st.max_server_open == NCLIENT && st.client_closes == 0,
       "[%s] %d server-side connections open concurrently", be, st.max_server_open);
    if (nr) {
        qsort(rtts, (size_t)nr, sizeof *rtts, cmp_usec);
        tap_diag("[%s] round trip with %d in flight: p50 %.2f ms, p99 %.2f ms, max %.2f ms", be,
                 nr, (double)rtts[nr / 2] / 1e3, (double)rtts[nr * 99 / 100] / 1e3,
                 (double)rtts[nr - 1] / 1e3);
    }
    free(rtts);

    /* phase 3: clients close; the server sees each EOF */
    t0 = tu_now();
    for (int i = 0; i < NCLIENT; i++)
        if (cl[i].s)
            mtp_stream_close(cl[i].s);
    run_until(loop, &st.server_closes, NCLIENT, 30);
    double t_close = tu_now() - t0;
    int once = 0;
    for (int i = 0; i < NCLIENT; i++)
        once += cl[i].closes == 1 && cl[i].err == 0 && cl[i].connects == 1;
    OK(once == NCLIENT, "[%s] every client: on_connect once, on_close(0) once", be);
    OK(st.server_closes == NCLIENT && st.server_bad_close == 0,
       "[%s] every server stream: on_close(MTP_ECLOSED) once (%.1f ms)", be, t_close * 1e3);
    tap_diag("[%s] %d connections: connect+accept %.1f ms, all round trips %.1f ms, close %.1f ms",
             be, NCLIENT, t_conn * 1e3, t_rt * 1e3, t_close * 1e3);
    mtp_listener_free(l);
    mtp_loop_free(loop);
    free(cl);
    int fds1 = tu_count_fds();
    IS_INT(fds1, fds0, "[%s] no fd leaked (%d before, %d after)", be, fds0, fds1);
}

/* One connection, sequential 64-byte ping-pongs: the loop's per-round-trip overhead. */
typedef struct pp {
    mtp_stream_t *s;
    uint8_t msg[MSG];
    size_t got;
    int done, want, closes;
} pp;

static void pp_data(mtp_stream_t *s, const uint8_t *d, size_t n)
{
    (void)d;
    pp *p = mtp_stream_user(s);
    p->got += n;
    while (p->got >= MSG) {
        p->got -= MSG;
        if (++p->done < p->want)
            mtp_stream_write(s, p->msg, MSG);
    }
}

static void pp_close(mtp_stream_t *s, int err)
{
    (void)err;
    ((pp *)mtp_stream_user(s))->closes++;
}

static void pingpong(unsigned flags)
{
    mtp_loop_t *loop = mtp_loop_new(flags);
    const char *be = mtp_loop_backend(loop);
    mtp_listener_t *l;
    mtp_listener_new(loop, "127.0.0.1", 0, NULL, on_accept, loop, &l);
    pp p = { .want = 5000 };
    mtp_stream_cbs_t cbs = { .on_data = pp_data, .on_close = pp_close };
    mtp_stream_connect(loop, "127.0.0.1", mtp_listener_port(l), NULL, &cbs, &p, &p.s);
    double t0 = tu_now();
    mtp_stream_write(p.s, p.msg, MSG);
    while (p.done < p.want && tu_now() - t0 < 30)
        mtp_loop_run_once(loop, 10000);
    double dt = tu_now() - t0;
    IS_INT(p.done, p.want, "[%s] %d sequential round trips on one connection", be, p.want);
    tap_diag("[%s] sequential 64-byte round trip (client and server in one loop): %.1f us", be,
             dt * 1e6 / p.want);
    mtp_stream_close(p.s);
    mtp_loop_run_once(loop, 0);
    mtp_listener_free(l);
    mtp_loop_free(loop);
}

int main(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2100) {
        tap_diag("*** RLIMIT_NOFILE hard limit is %llu (< 2100): SKIPPING the 1,000-connection "
                 "test — raise the limit (ulimit -Hn) to run it ***",
                 (unsigned long long)rl.rlim_cur);
        tap_skip("RLIMIT_NOFILE hard limit below 2100: 1,000 concurrent connections impossible",
                 14);
        pingpong(0);
        pingpong(MTP_LOOP_POLL);
        return tap_done();
    }
    scale(0);
    scale(MTP_LOOP_POLL);
    pingpong(0);
    pingpong(MTP_LOOP_POLL);
    return tap_done();
}
