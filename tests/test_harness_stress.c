/*
 * The harness under hostile and heavy load: garbage, half frames (idle timeout), 1,000
 * connections at once (req_pq_multi round trips for all, full key exchanges for a
 * subset), a flood from a peer that never reads. Throughout, a well-behaved client keeps
 * working, and at the end every fd is closed again.
 */
#include "testutil.h"
#include "test_harness_client.h"

#include <mtproto/server.h>

#include <dirent.h>
#include <inttypes.h>
#include <sys/resource.h>

#define NCONN       1000
#ifndef NFULL
#define NFULL       40      /* full key exchanges among the NCONN (-DNFULL=1000 for all) */
#endif

static mtp_server_t *srv;
static uint16_t ports[2];
static mtp_rsa_key_t *pub;
static hc_t good;
static mtp_arena_t *A;

static bool good_works(const char *when)
{
    mtp_arena_reset(A);
    if (good.eof || mtp_conn_dead(good.c)) {
        /* closed while we were busy elsewhere: the same key again on a new connection */
        mtp_auth_key_t k = good.key;
        int64_t salt = good.salt;
        hc_close(&good);
        hc_open(&good, ports[0], MTP_TRANSPORT_ABRIDGED, true, pub, 1, &k, salt);
    }
    mtp_help_getNearestDc_t *q = MTP_NEW(A, help_getNearestDc);
    hc_call_obj(&good, q, false, 5000);
    return OK(hc_result_id(&good) == MTP_ID_nearestDc, "a good client still works %s", when);
}

/* Connect, send raw bytes, expect the server to close within ms. */
static bool raw_closed(const uint8_t *p, size_t n, int ms, bool *got_404)
{
    int fd = hc_tcp(ports[0]);
    if (fd < 0)
        return false;
    hc_write_all(fd, p, n, 1000);
    mtp_usec_t until = hc_now() + (mtp_usec_t)ms * 1000;
    bool closed = false;
    uint8_t buf[4096];
    size_t got = 0;
    while (hc_now() < until) {
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t r = recv(fd, buf + got, sizeof buf - got, 0);
        if (r > 0) {
            got += (size_t)r;
            if (got == sizeof buf)
                got = 0;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
            closed = true;
            break;
        }
    }
    if (got_404)
        *got_404 = got >= 8 && memcmp(buf, "\x04\x00\x00\x00\x6c\xfe\xff\xff", 8) == 0;
    close(fd);
    return closed;
}

static void test_garbage(void)
{
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    OK(raw_closed((const uint8_t *)http, sizeof http - 1, 3000, NULL), "HTTP request -> closed");
    uint8_t ff[100];
    memset(ff, 0xff, sizeof ff);
    ff[0] = 0xef;
    OK(raw_closed(ff, sizeof ff, 3000, NULL), "abridged with an absurd length -> closed");
    uint8_t rnd[64];
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (uint8_t)(i * 37 + 11);
    OK(raw_closed(rnd, sizeof rnd, 3000, NULL), "64 bytes of noise (no valid obfuscated tag) -> closed");
    /* a well-framed unencrypted packet with a garbage body */
    uint8_t pkt[4 + 4 + 20 + 8] = { 0xee, 0xee, 0xee, 0xee, 28, 0, 0, 0 };
    memset(pkt + 8, 0, 8);                          /* auth_key_id 0 */
    pkt[16] = 4;                                    /* msg_id (bad, whatever) */
    pkt[24] = 8;                                    /* length 8 */
    memset(pkt + 28, 0xab, 8);
    bool g404 = false;
    OK(raw_closed(pkt, sizeof pkt, 3000, &g404) && g404,
       "garbage key-exchange packet -> transport error -404, closed");
    good_works("after garbage");
}

/* On a server of its own with a short idle timeout (1.5 s): a connection that sends half a
 * frame and then nothing is closed by the idle timeout; a client next to it that keeps
 * talking is unaffected. */
static void test_half_frame(void)
{
    mtp_server_config_t cfg;
    mtp_server_config_init(&cfg);
    cfg.n_dcs = 1;
    cfg.idle_timeout = 1500 * 1000;
    mtp_server_t *s2 = NULL;
    if (!OK(mtp_server_new(&cfg, &s2) == 0 && mtp_server_start_thread(s2) == 0,
            "short-idle server started")) {
        mtp_server_free(s2);
        return;
    }
    uint16_t port;
    mtp_server_ports(s2, &port, 1);
    const char *pem = mtp_server_public_pem(s2);
    mtp_rsa_key_t *k2 = NULL;
    mtp_rsa_load_public_pem(pem, strlen(pem), &k2);
    hc_t g;
    int rc = hc_open(&g, port, MTP_TRANSPORT_INTERMEDIATE, false, k2, 1, NULL, 0);
    OK(rc == 0, "its client: key exchange");
    /* intermediate, a header announcing 100 bytes, 10 of them, silence */
    uint8_t p[18] = { 0xee, 0xee, 0xee, 0xee, 100, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    int fd = hc_tcp(port);
    hc_write_all(fd, p, sizeof p, 1000);
    double t0 = tu_now();
    bool closed = false, others_ok = true;
    int calls = 0;
    while (tu_now() - t0 < 6) {
        mtp_arena_reset(A);
        mtp_help_getNearestDc_t *q = MTP_NEW(A, help_getNearestDc);
        hc_call_obj(&g, q, calls == 0, 5000);
        others_ok = others_ok && hc_result_id(&g) == MTP_ID_nearestDc;
        calls++;
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, 300) > 0) {
            char c;
            ssize_t r = recv(fd, &c, 1, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                closed = true;
                break;
            }
        }
    }
    double dt = tu_now() - t0;
    OK(closed && dt >= 1.0, "half frame then silence -> closed by the idle timeout after %.1f s", dt);
    OK(others_ok && calls > 2, "a client talking meanwhile was unaffected (%d calls)", calls);
    close(fd);
    hc_close(&g);
    mtp_server_stop(s2);
    mtp_server_free(s2);
    mtp_rsa_free(k2);
}

typedef struct pc {
    int fd;
    mtp_conn_t *c;
    bool got_respq, done, dead;
} pc_t;

static void test_many(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t need = 2 * NCONN + 200;
    if (rl.rlim_cur < need && rl.rlim_max >= need) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need) {
        tap_diag("SKIP: RLIMIT_NOFILE hard limit %llu < %llu needed for %d connections",
                 (unsigned long long)rl.rlim_max, (unsigned long long)need, NCONN);
        tap_skip("RLIMIT_NOFILE too low for 1000 connections", 4);
        return;
    }
    pc_t *pcs = calloc(NCONN, sizeof *pcs);
    struct pollfd *pf = calloc(NCONN, sizeof *pf);
    const mtp_rsa_key_t *keys[1] = { pub };
    double t0 = tu_now();
    int opened = 0;
    for (int i = 0; i < NCONN; i++) {
        pcs[i].fd = hc_tcp(ports[i % 2]);
        if (pcs[i].fd < 0) {
            pcs[i].dead = true;
            continue;
        }
        mtp_conn_config_t cfg;
        mtp_conn_config_init(&cfg, MTP_ROLE_CLIENT);
        cfg.transport = (mtp_transport_kind_t)(1 + i % 4);
        cfg.obfuscated = (i % 3 == 0) && cfg.transport != MTP_TRANSPORT_FULL;
        cfg.hs_client.rsa_keys = keys;
        cfg.hs_client.n_rsa_keys = 1;
        cfg.hs_client.dc_id = 1 + i % 2;
        cfg.hs_client.timeout = 60 * MTP_USEC_PER_SEC;
        (void)mtp_conn_new(&cfg, hc_now(), &pcs[i].c);
        if (!pcs[i].c) {
            close(pcs[i].fd);
            pcs[i].dead = true;
            continue;
        }
        mtp_bytes_t b = mtp_conn_pending_output(pcs[i].c);
        if (hc_write_all(pcs[i].fd, b.ptr, b.len, 2000))
            mtp_conn_consume(pcs[i].c, b.len);
        opened++;
    }
    double t_open = tu_now() - t0;
    OK(opened == NCONN, "%d connections opened, req_pq_multi sent (%.2f s)", opened, t_open);
    mtp_server_stats_t st;
    int respq = 0, full = 0;
    uint8_t buf[8192];
    while (tu_now() - t0 < 90) {
        int n = 0;
        for (int i = 0; i < NCONN; i++) {
            pf[i].fd = pcs[i].dead || pcs[i].done ? -1 : pcs[i].fd;
            pf[i].events = POLLIN;
            pf[i].revents = 0;
            if (pf[i].fd >= 0)
                n++;
        }
        if (!n)
            break;
        if (poll(pf, NCONN, 200) < 0)
            break;
        for (int i = 0; i < NCONN; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            pc_t *p = &pcs[i];
            ssize_t r = recv(p->fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (r == 0 || errno != EAGAIN)
                    p->dead = true;
                continue;
            }
            mtp_conn_feed(p->c, buf, (size_t)r, hc_now());
            if (!p->got_respq && (mtp_conn_pending_output(p->c).len || mtp_conn_has_key(p->c))) {
                p->got_respq = true;
                respq++;
                if (i >= NFULL) {       /* req_pq round trip only */
                    p->done = true;
                    continue;
                }
            }
            mtp_conn_event_t ev;
            while (mtp_conn_next_event(p->c, &ev) == 1)
                if (ev.type == MTP_CONN_EV_KEY) {
                    full++;
                    p->done = true;
                    mtp_hs_result_wipe(&ev.key);
                }
            mtp_bytes_t b = mtp_conn_pending_output(p->c);
            if (b.len && hc_write_all(p->fd, b.ptr, b.len, 2000))
                mtp_conn_consume(p->c, b.len);
            if (mtp_conn_dead(p->c))
                p->dead = true;
        }
        if (respq == NCONN && full == NFULL)
            break;
    }
    double dt = tu_now() - t0;
    mtp_server_stats(srv, &st);
    OK(respq == NCONN, "%d/%d connections got resPQ (%.2f s total)", respq, NCONN, dt);
    OK(full == NFULL, "%d/%d full key exchanges completed among them", full, NFULL);
    tap_diag("1000 connections: open %.2f s, all resPQ + %d key exchanges in %.2f s; "
             "server connections open %" PRIu64, t_open, NFULL, dt, st.connections_open);
    OK(st.connections_open >= (uint64_t)NCONN, "the server held %" PRIu64 " connections at once",
       st.connections_open);
    good_works("with 1000 other connections open");
    for (int i = 0; i < NCONN; i++) {
        if (pcs[i].c)
            mtp_conn_free(pcs[i].c);
        if (pcs[i].fd >= 0)
            close(pcs[i].fd);
    }
    free(pcs);
    free(pf);
    /* the server notices the closes */
    double t1 = tu_now();
    do {
        usleep(50 * 1000);
        mtp_server_stats(srv, &st);
    } while (st.connections_open > 1 && tu_now() - t1 < 10);
    OK(st.connections_open == 1, "all closed again on the server side (%" PRIu64 " open)",
       st.connections_open);
}

/* A peer that floods pings and never reads: the server stops reading from it, its
 * memory stays bounded, the others are unaffected. */
static void test_flood(void)
{
    hc_t h;
    int rc = hc_open(&h, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0);
    OK(rc == 0, "flooder: key exchange");
    if (rc) {
        hc_close(&h);
        return;
    }
    mtp_session_t *s = mtp_conn_session(h.c);
    double t0 = tu_now();
    size_t sent = 0;
    int stalls = 0;
    while (tu_now() - t0 < 3 && stalls < 20) {
        for (int i = 0; i < 200; i++)
            mtp_session_ping(s, (int64_t)sent + i, 0, hc_now());
        mtp_conn_flush(h.c, hc_now());
        mtp_bytes_t b = mtp_conn_pending_output(h.c);
        ssize_t w = send(h.fd, b.ptr, b.len, MSG_NOSIGNAL);
        if (w > 0) {
            mtp_conn_consume(h.c, (size_t)w);
            sent += (size_t)w;
            stalls = 0;
        } else {
            stalls++;
            usleep(20 * 1000);
        }
    }
    tap_diag("flooder wrote %zu bytes before the server stopped reading", sent);
    OK(stalls >= 20 || sent > 0, "the flooder is throttled (backpressure) or done");
    good_works("during a ping flood that is never read");
    hc_close(&h);
}

static void test_bad_tl(void)
{
    uint8_t junk[8] = { 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0 };
    hc_call(&good, junk, sizeof junk, 5000);
    OK(good.err == MTP_ERPC && good.rpc_code == 400 &&
           strncmp(good.rpc_msg, "INPUT_METHOD_INVALID_", 21) == 0,
       "invalid TL inside a valid envelope -> 400 %s", good.rpc_msg);
    good_works("after invalid TL");
}

int main(void)
{
    A = mtp_arena_new(0);
    int fds0 = tu_count_fds();
    mtp_server_config_t cfg;
    mtp_server_config_init(&cfg);
    cfg.n_dcs = 2;
    cfg.trace_path = getenv("STRESS_TRACE");   /* debugging aid */
    if (mtp_server_new(&cfg, &srv) || mtp_server_start_thread(srv))
        tap_bail("cannot start the server");
    mtp_server_ports(srv, ports, 2);
    const char *pem = mtp_server_public_pem(srv);
    if (mtp_rsa_load_public_pem(pem, strlen(pem), &pub))
        tap_bail("public key");
    int rc = hc_open(&good, ports[0], MTP_TRANSPORT_ABRIDGED, true, pub, 1, NULL, 0);
    OK(rc == 0, "good client: key exchange");
    mtp_help_getConfig_t *q = MTP_NEW(A, help_getConfig);
    hc_call_obj(&good, q, true, 5000);
    OK(hc_result_id(&good) == MTP_ID_config, "good client: help.getConfig");

    test_garbage();
    test_bad_tl();
    test_many();
    test_flood();
    test_half_frame();

    hc_close(&good);
    mtp_server_stop(srv);
    mtp_server_free(srv);
    mtp_rsa_free(pub);
    mtp_arena_free(A);
    int fds1 = tu_count_fds();
    OK(fds0 == fds1, "file descriptors before %d, after %d", fds0, fds1);
    return tap_done();
}
