/*
 * Many clients on one loop: a harness and two clients share one mtp_loop_t that the test
 * drives itself, only through mtp_loop_fds + poll() + mtp_loop_process (the c-ares
 * ares_process_fds shape). Both clients log in (phone login, asynchronously), make calls
 * concurrently, and both finish. A third client reaches the harness by a host name
 * ("localhost"), resolved off the loop's thread.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "testharness.h"

#include <mtproto/client.h>
#include <mtproto/net.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define CALLS 25

typedef struct acct {
    mtp_client_t *c;
    const char *phone;
    int state;          /* 0 start, 1 code sent, 2 signed in, 3 calls done, -1 failed */
    char code_hash[64];
    int answered, bad;
    int64_t user_id;
    mtp_call_error_t err;
} acct_t;

static const mtp_tl_layer_t *L(void)
{
    return mtp_tl_layer(MTP_TL_DEFAULT_LAYER);
}

static mtp_bytes_t S(const char *s)
{
    return (mtp_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static void call_obj(acct_t *ac, mtp_tl_object_t *o, mtp_call_cb cb)
{
    if (mtp_call(ac->c, o, cb, ac))
        ac->state = -1;
}

static void nearest_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                       const mtp_call_error_t *e)
{
    (void)c;
    acct_t *ac = user;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    if (!e->err && !mtp_tl_decode(L(), res, len, a, &o) && o->tl->id == MTP_ID_nearestDc)
        ac->answered++;
    else
        ac->bad++;
    mtp_arena_free(a);
    if (ac->answered + ac->bad == CALLS)
        ac->state = 3;
}

static void signin_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                      const mtp_call_error_t *e)
{
    (void)c;
    acct_t *ac = user;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    if (e->err || mtp_tl_decode(L(), res, len, a, &o) || o->tl->id != MTP_ID_auth_authorization) {
        ac->err = *e;
        ac->state = -1;
    } else {
        const mtp_auth_authorization_t *au = (const mtp_auth_authorization_t *)o;
        if (au->user && au->user->tl->id == MTP_ID_user)
            ac->user_id = ((const mtp_user_t *)au->user)->id;
        ac->state = 2;
        for (int i = 0; i < CALLS; i++)     /* all in flight at once */
            call_obj(ac, (mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), nearest_cb);
    }
    mtp_arena_free(a);
}

static void sent_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                    const mtp_call_error_t *e)
{
    (void)c;
    acct_t *ac = user;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    if (e->err || mtp_tl_decode(L(), res, len, a, &o) || o->tl->id != MTP_ID_auth_sentCode) {
        ac->err = *e;
        ac->state = -1;
    } else {
        const mtp_auth_sentCode_t *sent = (const mtp_auth_sentCode_t *)o;
        mtp_auth_signIn_t *si = MTP_NEW(a, auth_signIn);
        si->phone_number = S(ac->phone);
        si->phone_code_hash = sent->phone_code_hash;
        si->has_phone_code = true;
        si->phone_code = S("11111");
        ac->state = 1;
        call_obj(ac, &si->_, signin_cb);
    }
    mtp_arena_free(a);
}

static void start_login(acct_t *ac)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_auth_sendCode_t *sc = MTP_NEW(a, auth_sendCode);
    sc->phone_number = S(ac->phone);
    sc->api_id = 1;
    sc->api_hash = S("0123456789abcdef");
    sc->settings = (mtp_tl_object_t *)MTP_NEW(a, codeSettings);
    call_obj(ac, &sc->_, sent_cb);
    mtp_arena_free(a);
}

/* One turn of the application's own loop: the loop's fds, poll(), process. */
static int turn(mtp_loop_t *loop)
{
    struct pollfd pfd[64];
    size_t n = mtp_loop_fds(loop, pfd, 64);
    if (n > 64)
        tap_bail("more than 64 fds");
    int ms = mtp_loop_timeout_ms(loop);
    if (ms < 0 || ms > 100)
        ms = 100;
    int r = poll(pfd, (nfds_t)n, ms);
    return mtp_loop_process(loop, pfd, r > 0 ? n : 0);
}

static bool done(const acct_t *a, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i].state != 3 && a[i].state != -1)
            return false;
    return true;
}

static double cpu_seconds(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static void ignore_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                      const mtp_call_error_t *e)
{
    (void)c;
    (void)res;
    (void)len;
    *(int *)user = e->err ? e->err : 1;
}

/* A server that accepts (the kernel does) and never answers: the client waits on its loop
 * without spinning, and its call times out on the monotonic clock. */
static void silent_server(const char *pem)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4) ||
        getsockname(s, (struct sockaddr *)&a, &al))
        tap_bail("listen");
    mtp_client_config_t cfg;
    mtp_client_config_init(&cfg);
    cfg.dcs_kind = MTP_CLIENT_DCS_CUSTOM;
    cfg.n_dcs = 1;
    cfg.dcs[0].id = 1;
    snprintf(cfg.dcs[0].host, sizeof cfg.dcs[0].host, "127.0.0.1");
    cfg.dcs[0].port = ntohs(a.sin_port);
    cfg.rsa_pem = pem;
    cfg.call_timeout = MTP_USEC_PER_SEC;
    mtp_client_t *c = NULL;
    if (mtp_client_new(&cfg, &c))
        tap_bail("client");
    mtp_arena_t *ar = mtp_arena_new(0);
    int result = 0;
    mtp_call(c, (mtp_tl_object_t *)MTP_NEW(ar, help_getNearestDc), ignore_cb, &result);
    double c0 = cpu_seconds(), t0 = tu_now();
    mtp_client_run(c, NULL, 5000);
    double cpu = cpu_seconds() - c0, wall = tu_now() - t0;
    IS_INT(result, MTP_ETIMEDOUT, "the call to a silent server times out");
    OK(wall > 0.9 && wall < 3, "after its call_timeout of 1 s (%.2f s)", wall);
    OK(cpu < 0.3 * wall, "waiting costs no CPU (%.3f s CPU in %.2f s)", cpu, wall);
    mtp_arena_free(ar);
    mtp_client_free(c);
    close(s);
}

int main(void)
{
    mtp_loop_t *loop = mtp_loop_new(0);
    if (!loop)
        tap_bail("loop");
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 2;
    sc.loop = loop;
    mtp_server_t *srv = NULL;
    if (mtp_server_new(&sc, &srv) || mtp_server_start(srv))
        tap_bail("harness on the caller's loop did not start");
    IS_INT(mtp_server_start_thread(srv), MTP_EINVAL, "a harness on a caller's loop has no thread");
    tu_harness_t h;     /* only for the client config helper */
    memset(&h, 0, sizeof h);
    h.srv = srv;
    h.n_dcs = mtp_server_ports(srv, h.ports, MTP_SERVER_MAX_DCS);
    IS_INT(h.n_dcs, 2, "harness listens on 2 DCs");

    acct_t acc[3] = { { .phone = "9996610001" }, { .phone = "9996610002" },
                      { .phone = "9996610003" } };
    for (int i = 0; i < 3; i++) {
        mtp_client_config_t cfg;
        tu_harness_client_config(&h, &cfg);
        cfg.loop = loop;
        if (i == 2)
            for (int d = 0; d < cfg.n_dcs; d++)
                snprintf(cfg.dcs[d].host, sizeof cfg.dcs[d].host, "localhost");
        IS_INT(mtp_client_new(&cfg, &acc[i].c), 0, "client %d on the shared loop", i + 1);
        if (!acc[i].c)
            tap_bail("no client");
        OK(mtp_client_loop(acc[i].c) == loop, "client %d uses the given loop", i + 1);
    }

    /* the two clients at once */
    start_login(&acc[0]);
    start_login(&acc[1]);
    double t0 = tu_now();
    int turns = 0, rc = 0;
    bool both_busy = false;
    while (!done(acc, 2) && tu_now() - t0 < 30 && rc >= 0) {
        rc = turn(loop);
        turns++;
        both_busy |= acc[0].state == 2 && acc[1].state == 2;
    }
    OK(rc >= 0, "mtp_loop_process never failed (%d turns)", turns);
    for (int i = 0; i < 2; i++) {
        IS_INT(acc[i].state, 3, "client %d logged in and finished (%d %s)", i + 1,
               acc[i].err.err, acc[i].err.message);
        IS_INT(acc[i].answered, CALLS, "client %d: %d calls answered", i + 1, CALLS);
        IS_INT(acc[i].bad, 0, "client %d: no failed call", i + 1);
    }
    OK(acc[0].user_id && acc[1].user_id && acc[0].user_id != acc[1].user_id,
       "two different accounts (%lld, %lld)", (long long)acc[0].user_id,
       (long long)acc[1].user_id);
    OK(both_busy, "both clients had calls in flight at the same time");

    /* a host name: resolved by a lookup thread, answered through the loop */
    start_login(&acc[2]);
    t0 = tu_now();
    while (!done(acc + 2, 1) && tu_now() - t0 < 30)
        turn(loop);
    IS_INT(acc[2].state, 3, "client 3 reached DC 1 by the name localhost (%d %s)",
           acc[2].err.err, acc[2].err.message);
    IS_INT(acc[2].answered, CALLS, "client 3: %d calls answered", CALLS);

    silent_server(mtp_server_public_pem(srv));

    /* the clients go first (their streams close on the loop), then the harness, then the
     * loop */
    for (int i = 0; i < 3; i++)
        mtp_client_free(acc[i].c);
    for (int i = 0; i < 10; i++)
        mtp_loop_run_once(loop, 0);
    mtp_server_free(srv);
    mtp_loop_free(loop);
    return tap_done();
}
