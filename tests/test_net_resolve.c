/* src/net: literal addresses, the asynchronous resolver (a lookup thread reporting through
 * the loop; cancel), and zero-copy stream reads into the caller's memory (on_alloc). */
#define _GNU_SOURCE
#include <mtproto/net.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static void test_literal(void)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    IS_INT(mtp_net_parse_literal("127.0.0.1", 443, &ss, &len), 0, "IPv4 literal");
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
    OK(ss.ss_family == AF_INET && ntohs(a4->sin_port) == 443 &&
       a4->sin_addr.s_addr == htonl(INADDR_LOOPBACK) && len == sizeof *a4, "its address and port");
    IS_INT(mtp_net_parse_literal("::1", 80, &ss, &len), 0, "IPv6 literal");
    OK(ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6), "an IPv6 sockaddr");
    IS_INT(mtp_net_parse_literal("[::1]", 80, &ss, &len), 0, "bracketed IPv6 literal");
    IS_INT(mtp_net_parse_literal("localhost", 80, &ss, &len), MTP_EINVAL,
           "a host name is not a literal (never looked up)");
    IS_INT(mtp_net_parse_literal("1.2.3", 80, &ss, &len), MTP_EINVAL, "a short IPv4 is not");
    IS_INT(mtp_net_parse_literal(NULL, 80, &ss, &len), MTP_EINVAL, "NULL");
}

typedef struct res {
    int calls, err, n, family;
} res_t;

static void on_res(mtp_resolve_t *r, int err, const struct sockaddr_storage *addrs,
                   const socklen_t *lens, int n, void *user)
{
    (void)r;
    (void)lens;
    res_t *x = user;
    x->calls++;
    x->err = err;
    x->n = n;
    x->family = n > 0 ? addrs[0].ss_family : 0;
}

static void test_resolver(void)
{
    mtp_loop_t *loop = mtp_loop_new(0);
    res_t a = { 0 }, b = { 0 }, bad = { 0 };
    mtp_resolve_t *ra = NULL, *rb = NULL, *rbad = NULL;
    IS_INT(mtp_resolve_start(loop, "localhost", 80, on_res, &a, &ra), 0, "lookup started");
    IS_INT(mtp_resolve_start(loop, "localhost", 80, on_res, &b, &rb), 0, "second lookup");
    IS_INT(mtp_resolve_start(loop, "no-such-host.invalid", 80, on_res, &bad, &rbad), 0,
           "lookup of a name that does not exist");
    mtp_resolve_cancel(rb);
    IS_INT(mtp_resolve_start(loop, "", 80, on_res, &a, &ra), MTP_EINVAL, "empty name refused");
    double t0 = tu_now();
    while ((!a.calls || !bad.calls) && tu_now() - t0 < 20)
        mtp_loop_run_once(loop, 100000);
    for (int i = 0; i < 20; i++)        /* the cancelled one reports back too: no callback */
        mtp_loop_run_once(loop, 10000);
    IS_INT(a.calls, 1, "callback once");
    OK(a.err > 0 && a.n >= 1 && (a.family == AF_INET || a.family == AF_INET6),
       "localhost resolved (%d addresses)", a.n);
    IS_INT(b.calls, 0, "a cancelled lookup never calls back");
    IS_INT(bad.calls, 1, "failed lookup: callback once");
    OK(bad.err < 0 && bad.n == 0, "with an error (%d)", bad.err);
    /* freeing the loop with a lookup still running: waits for it, no callback */
    res_t late = { 0 };
    mtp_resolve_t *rl = NULL;
    IS_INT(mtp_resolve_start(loop, "localhost", 80, on_res, &late, &rl), 0, "a late lookup");
    mtp_loop_free(loop);
    IS_INT(late.calls, 0, "loop freed first: no callback, nothing leaked");
}

typedef struct zc {
    uint8_t room[100];
    size_t got;
    int allocs, datas;
    bool in_place;
    int closed;
} zc_t;

static void zc_alloc(mtp_stream_t *s, size_t suggested, uint8_t **buf, size_t *cap)
{
    zc_t *z = mtp_stream_user(s);
    z->allocs++;
    OK(suggested >= 65536 || z->allocs > 1, "suggested read size %zu", suggested);
    *buf = z->room + z->got;
    *cap = sizeof z->room - z->got;     /* 0 once full: reading stops */
}

static void zc_data(mtp_stream_t *s, const uint8_t *d, size_t n)
{
    zc_t *z = mtp_stream_user(s);
    z->datas++;
    z->in_place = d == z->room + z->got;
    z->got += n;
}

static void zc_close(mtp_stream_t *s, int err)
{
    zc_t *z = mtp_stream_user(s);
    z->closed = err ? err : 1;
}

static void test_alloc_reads(void)
{
    mtp_loop_t *loop = mtp_loop_new(0);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        tap_bail("socketpair");
    zc_t z = { 0 };
    mtp_stream_cbs_t cbs = { .on_data = zc_data, .on_close = zc_close, .on_alloc = zc_alloc };
    mtp_stream_t *s = NULL;
    IS_INT(mtp_stream_new(loop, sv[0], NULL, &cbs, &z, &s), 0, "stream with on_alloc");
    uint8_t msg[150];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    if (write(sv[1], msg, 60) != 60)
        tap_bail("write");
    double t0 = tu_now();
    while (z.got < 60 && tu_now() - t0 < 5)
        mtp_loop_run_once(loop, 10000);
    OK(z.got == 60 && z.in_place && !memcmp(z.room, msg, 60), "read straight into the room");
    if (write(sv[1], msg + 60, 90) != 90)
        tap_bail("write");
    t0 = tu_now();
    while (z.got < 100 && tu_now() - t0 < 5)
        mtp_loop_run_once(loop, 10000);
    for (int i = 0; i < 5; i++)
        mtp_loop_run_once(loop, 1000);
    OK(z.got == 100 && !memcmp(z.room, msg, 100), "filled up to the room, no further (%zu)",
       z.got);
    OK(!z.closed && mtp_stream_connected(s), "a full room pauses reading, not the stream");
    close(sv[1]);
    mtp_stream_close(s);
    mtp_loop_run_once(loop, 0);
    OK(z.closed == 1, "closed once");
    mtp_loop_free(loop);
}

int main(void)
{
    test_literal();
    test_resolver();
    test_alloc_reads();
    return tap_done();
}
