/*
 * The harness under hostile load (issue 13), measured from outside: a mtproto-harness
 * process (argument 1, default build/bin/mtproto-harness; extra arguments go to it) on
 * loopback, and its resident memory (/proc/PID/statm) while
 *  - session flood: K keys, each with one connection opening 64 new sessions;
 *  - half frames: 16 connections each announcing a 16 MiB frame and sending 4 MiB of it;
 *  - idle connections: MTP_BENCH_IDLE (default 2000) connections that sent only the tag;
 *  - load (argument list starting with the binary, env MTP_BENCH_LOAD=1): those idle
 *    connections held, MTP_BENCH_ACTIVE (default 1000) clients doing help.getNearestDc one
 *    call at a time for MTP_BENCH_SECS (default 10) seconds, first alone, then beside 200
 *    hostile connections (garbage, ping floods, half frames, unfinished key exchanges,
 *    session floods); RPC/s and the honest clients' latency (median, p99) of both runs.
 *    The harness needs --limit key-exchanges-per-addr=100000 for that many clients.
 * Prints RSS before/after each and how many of the hostile connections the harness closed.
 * Bounded: every phase has a time limit; loopback only.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "test_harness_client.h"
#include "test_intermediate.h"

#include <mtproto/crypto.h>
#include <mtproto/envelope.h>

#include <signal.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>

typedef struct raw {
    int fd;
    bool eof;
} raw_t;

static pid_t hpid;
static uint16_t port1;
static mtp_rsa_key_t *pub;

static long rss_kb(pid_t pid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(p, "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static FILE *start_harness(int argc, char **argv, const char *pem)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "exec %s --dcs 1 --seed 1 --pubkey-out %s",
                     argc > 1 ? argv[1] : "build/bin/mtproto-harness", pem);
    for (int i = 2; i < argc && n < (int)sizeof cmd - 200; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", argv[i]);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    char line[4096];
    if (!fgets(line, sizeof line, f))
        return NULL;
    const char *p = strstr(line, "\"port\":"), *q = strstr(line, "\"pid\":");
    if (!p || !q)
        return NULL;
    port1 = (uint16_t)atoi(p + 7);
    hpid = (pid_t)atoi(q + 6);
    return f;
}

static bool send_pkt(int fd, ifr_t *t, const mtp_auth_key_t *key, int64_t salt,
                     int64_t sid, int i)
{
    static int64_t last;
    int64_t msg_id = (int64_t)((uint64_t)time(NULL) << 32) + (int64_t)i * 4;
    if (msg_id <= last)
        msg_id = last + 4;
    last = msg_id;
    uint8_t ping[12] = { 0xec, 0x77, 0xbe, 0x7a, (uint8_t)i };
    mtp_buf_t pkt, fr;
    mtp_buf_init(&pkt);
    mtp_buf_init(&fr);
    mtp_envelope_encrypt(key, MTP_ROLE_CLIENT, salt, sid, msg_id, 1, ping, sizeof ping, NULL,
                         &pkt, NULL);
    ifr_frame(t, pkt.data, pkt.len, &fr);
    bool ok = hc_write_all(fd, fr.data, fr.len, 1000);
    mtp_buf_free(&pkt);
    mtp_buf_free(&fr);
    return ok;
}

/* Count the fds the harness closed (EOF seen within ms). */
static int count_closed(const int *fd, int n, int ms)
{
    int closed = 0;
    bool *done = calloc((size_t)n, 1);
    double until = tu_now() + ms / 1000.0;
    while (closed < n && tu_now() < until) {
        for (int i = 0; i < n; i++) {
            if (done[i])
                continue;
            uint8_t b[65536];
            ssize_t r = recv(fd[i], b, sizeof b, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                done[i] = true;
                closed++;
            }
        }
        usleep(20000);
    }
    free(done);
    return closed;
}

static void session_flood(int keys)
{
    long before = rss_kb(hpid);
    int *fds = calloc((size_t)keys, sizeof *fds);
    int sent = 0;
    for (int k = 0; k < keys; k++) {
        hc_t h;
        fds[k] = -1;
        if (hc_open(&h, port1, MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0))
            continue;
        int fd = hc_tcp(port1);
        ifr_t t;
        ifr_init(&t);
        for (int i = 0; i < 64; i++)
            if (send_pkt(fd, &t, &h.key, h.salt, ((int64_t)k << 16) + i + 1, i))
                sent++;
        ifr_free(&t);
        fds[k] = fd;
        hc_close(&h);
    }
    usleep(500000);
    long after = rss_kb(hpid);
    int closed = count_closed(fds, keys, 1000);
    for (int k = 0; k < keys; k++)
        if (fds[k] >= 0)
            close(fds[k]);
    usleep(1500000);
    long later = rss_kb(hpid);
    printf("session flood: %d keys x 64 session ids (%d packets): RSS %ld -> %ld kB "
           "(+%ld kB, %.1f kB per packet), %d of %d connections closed by the harness; "
           "2 s after closing: %ld kB\n",
           keys, sent, before, after, after - before,
           sent ? (double)(after - before) / sent : 0.0, closed, keys, later);
    free(fds);
}

static void half_frames(void)
{
    enum { N = 16 };
    long before = rss_kb(hpid);
    int fd[N];
    static uint8_t chunk[1 << 20];
    int written = 0;
    for (int i = 0; i < N; i++) {
        fd[i] = hc_tcp(port1);
        uint8_t hdr[8] = { 0xee, 0xee, 0xee, 0xee, 0xfc, 0xff, 0xff, 0x00 };   /* 16 MiB - 4 */
        if (!hc_write_all(fd[i], hdr, sizeof hdr, 500))
            continue;
        for (int m = 0; m < 4; m++)
            if (hc_write_all(fd[i], chunk, sizeof chunk, 500))
                written++;
    }
    usleep(500000);
    long after = rss_kb(hpid);
    int closed = count_closed(fd, N, 1000);
    printf("half frames: 16 connections announcing 16 MiB, %d MiB sent in all: RSS %ld -> "
           "%ld kB (+%ld kB), %d of 16 closed by the harness\n",
           written, before, after, after - before, closed);
    for (int i = 0; i < N; i++)
        close(fd[i]);
}

static void idle_conns(int n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 100) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)n + 100 ? rl.rlim_max : (rlim_t)n + 100;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    long before = rss_kb(hpid);
    int *fd = calloc((size_t)n, sizeof *fd);
    int held = 0;
    uint8_t tag[4] = { 0xee, 0xee, 0xee, 0xee };
    for (int i = 0; i < n; i++) {
        fd[i] = hc_tcp(port1);
        if (fd[i] < 0)
            break;
        if (hc_write_all(fd[i], tag, 4, 200))
            held++;
    }
    usleep(500000);
    int closed = count_closed(fd, held, 300);
    long after = rss_kb(hpid);
    printf("idle: %d connections opened, %d still open: RSS %ld -> %ld kB (%.1f kB per "
           "connection)\n", held, held - closed, before, after,
           held ? (double)(after - before) / held : 0.0);
    for (int i = 0; i < held; i++)
        close(fd[i]);
    free(fd);
}


/* ---- load ---- */

typedef struct act {
    hc_t h;
    int64_t call;
    double sent;
} act_t;

static double *lat;
static size_t nlat, caplat;

static void lat_add(double ms)
{
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 4096;
        lat = realloc(lat, caplat * sizeof *lat);
    }
    lat[nlat++] = ms;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void send_some(hc_t *h)
{
    for (;;) {
        mtp_bytes_t b = mtp_conn_pending_output(h->c);
        if (!b.len)
            return;
        ssize_t w = send(h->fd, b.ptr, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0)
            return;
        mtp_conn_consume(h->c, (size_t)w);
    }
}

static uint8_t nearest[4];

static void act_call(act_t *a)
{
    a->sent = tu_now();
    a->call = mtp_conn_call(a->h.c, nearest, 4, 0, NULL, hc_now());
    send_some(&a->h);
}

/* Hostile connection i of 200: reopened when the harness closes it. */
typedef struct hos {
    int kind;
    raw_t r;
    ifr_t t;
    int n;
} hos_t;

static hc_t hkey;   /* a key for the ping and session floods */

static void hos_open(hos_t *x)
{
    x->r.fd = hc_tcp(port1);
    x->r.eof = false;
    ifr_init(&x->t);
    x->n = 0;
    if (x->kind == 3) {   /* req_pq_multi, never followed up */
        uint8_t pkt[40] = { 0 };
        int64_t id = (int64_t)((uint64_t)time(NULL) << 32);
        memcpy(pkt + 8, &id, 8);
        pkt[16] = 20;
        uint32_t c = 0xbe7e8ef1u;
        memcpy(pkt + 20, &c, 4);
        mtp_buf_t fr;
        mtp_buf_init(&fr);
        ifr_frame(&x->t, pkt, 40, &fr);
        send(x->r.fd, fr.data, fr.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        mtp_buf_free(&fr);
    }
}

static void hos_step(hos_t *x)
{
    uint8_t b[65536];
    ssize_t r = recv(x->r.fd, b, sizeof b, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        close(x->r.fd);
        ifr_free(&x->t);
        hos_open(x);
        return;
    }
    static uint8_t junk[4096];
    switch (x->kind) {
    case 0:   /* garbage */
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)rand();
        send(x->r.fd, junk, sizeof junk, MSG_NOSIGNAL | MSG_DONTWAIT);
        break;
    case 1:   /* ping flood in one session */
        for (int i = 0; i < 20; i++)
            send_pkt(x->r.fd, &x->t, &hkey.key, hkey.salt, 77, x->n++);
        break;
    case 2:   /* half frames */
        if (x->n++ == 0) {
            uint8_t hdr[8] = { 0xee, 0xee, 0xee, 0xee, 0xfc, 0xff, 0xff, 0x00 };
            send(x->r.fd, hdr, 8, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        send(x->r.fd, junk, sizeof junk, MSG_NOSIGNAL | MSG_DONTWAIT);
        break;
    case 4:   /* session flood */
        send_pkt(x->r.fd, &x->t, &hkey.key, hkey.salt, ((int64_t)rand() << 20) + x->n, x->n);
        x->n++;
        break;
    default:
        break;
    }
}

static void run_load(act_t *act, int na, hos_t *hos, int nh, double secs, const char *label)
{
    nlat = 0;
    struct pollfd *pf = calloc((size_t)na, sizeof *pf);
    for (int i = 0; i < na; i++)
        act_call(&act[i]);
    double t0 = tu_now(), end = t0 + secs;
    int rounds = 0;
    while (tu_now() < end) {
        for (int i = 0; i < na; i++)
            pf[i] = (struct pollfd){ act[i].h.fd, POLLIN, 0 };
        poll(pf, (nfds_t)na, 5);
        mtp_usec_t now = hc_now();
        for (int i = 0; i < na; i++) {
            act_t *a = &act[i];
            if (pf[i].revents & POLLIN) {
                uint8_t b[65536];
                ssize_t r;
                while ((r = recv(a->h.fd, b, sizeof b, MSG_DONTWAIT)) > 0)
                    mtp_conn_feed(a->h.c, b, (size_t)r, now);
            }
            mtp_conn_event_t ev;
            while (mtp_conn_next_event(a->h.c, &ev) == 1)
                if (ev.type == MTP_CONN_EV_SESSION && ev.sev.type == MTP_SESSION_EV_RESULT &&
                    (int64_t)ev.sev.call_id == a->call) {
                    if (!ev.sev.err)
                        lat_add((tu_now() - a->sent) * 1000);
                    act_call(a);
                }
            send_some(&a->h);
        }
        if (nh && (rounds++ % 2) == 0)
            for (int i = 0; i < nh; i++)
                hos_step(&hos[i]);
    }
    double took = tu_now() - t0;
    qsort(lat, nlat, sizeof *lat, cmpd);
    printf("load %s: %d clients, %zu RPCs in %.1f s = %.0f RPC/s, latency median %.2f ms, "
           "p99 %.2f ms; harness RSS %ld kB\n", label, na, nlat, took, nlat / took,
           nlat ? lat[nlat / 2] : 0.0, nlat ? lat[nlat * 99 / 100] : 0.0, rss_kb(hpid));
    /* let every call in flight end */
    double until = tu_now() + 3;
    int pending = na;
    while (pending && tu_now() < until) {
        pending = 0;
        for (int i = 0; i < na; i++) {
            hc_step(&act[i].h, 0);
            mtp_conn_event_t ev;
            while (mtp_conn_next_event(act[i].h.c, &ev) == 1)
                if (ev.type == MTP_CONN_EV_SESSION && ev.sev.type == MTP_SESSION_EV_RESULT &&
                    (int64_t)ev.sev.call_id == act[i].call)
                    act[i].call = 0;
            if (act[i].call)
                pending++;
        }
    }
    free(pf);
}

static void load(int idle, int na, double secs)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    long r0 = rss_kb(hpid);
    int *fd = calloc((size_t)idle, sizeof *fd);
    int held = 0;
    uint8_t tag[4] = { 0xee, 0xee, 0xee, 0xee };
    for (int i = 0; i < idle; i++) {
        fd[i] = hc_tcp(port1);
        if (fd[i] < 0)
            break;
        if (hc_write_all(fd[i], tag, 4, 200))
            held++;
    }
    usleep(500000);
    long r1 = rss_kb(hpid);
    printf("load: %d idle connections held: RSS %ld -> %ld kB (%.1f kB per connection)\n",
           held, r0, r1, held ? (double)(r1 - r0) / held : 0.0);
    uint32_t id = 0x1fb33026u;   /* help.getNearestDc */
    memcpy(nearest, &id, 4);
    act_t *act = calloc((size_t)na, sizeof *act);
    int ok = 0;
    double t0 = tu_now();
    for (int i = 0; i < na; i++) {
        if (hc_open(&act[i].h, port1, MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0))
            break;
        if (hc_call_init(&act[i].h, 228, nearest, 4, 5000))
            break;
        ok++;
    }
    long r2 = rss_kb(hpid);
    printf("load: %d active clients with their keys in %.1f s: RSS %ld kB (%.1f kB per "
           "client: key, session, connection)\n", ok, tu_now() - t0, r2,
           ok ? (double)(r2 - r1) / ok : 0.0);
    run_load(act, ok, NULL, 0, secs, "alone");
    hos_t *hos = calloc(200, sizeof *hos);
    hc_open(&hkey, port1, MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0);
    for (int i = 0; i < 200; i++) {
        hos[i].kind = i % 5;
        hos_open(&hos[i]);
    }
    run_load(act, ok, hos, 200, secs, "beside 200 hostile");
    for (int i = 0; i < 200; i++) {
        close(hos[i].r.fd);
        ifr_free(&hos[i].t);
    }
    for (int i = 0; i < ok; i++)
        hc_close(&act[i].h);
    hc_close(&hkey);
    for (int i = 0; i < held; i++)
        close(fd[i]);
    free(hos);
    free(act);
    free(fd);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    char pem[128];
    snprintf(pem, sizeof pem, "/tmp/bench_hostile.%d.pem", (int)getpid());
    FILE *h = start_harness(argc, argv, pem);
    if (!h) {
        fprintf(stderr, "bench_hostile: cannot start the harness\n");
        return 1;
    }
    size_t len = 0;
    char *txt = NULL;
    FILE *pf = fopen(pem, "r");
    if (pf) {
        txt = calloc(1, 8192);
        len = fread(txt, 1, 8191, pf);
        fclose(pf);
    }
    if (!txt || mtp_rsa_load_public_pem(txt, len, &pub)) {
        fprintf(stderr, "bench_hostile: no public key\n");
        kill(hpid, SIGTERM);
        return 1;
    }
    free(txt);
    const char *e = getenv("MTP_BENCH_IDLE");
    const char *kk = getenv("MTP_BENCH_FLOOD_KEYS");
    printf("harness pid %d, RSS %ld kB at start\n", (int)hpid, rss_kb(hpid));
    if (getenv("MTP_BENCH_LOAD")) {
        const char *na = getenv("MTP_BENCH_ACTIVE"), *sc = getenv("MTP_BENCH_SECS");
        load(e ? atoi(e) : 10000, na ? atoi(na) : 1000, sc ? atof(sc) : 10);
    } else {
        session_flood(kk ? atoi(kk) : 10);
        half_frames();
        idle_conns(e ? atoi(e) : 2000);
    }
    kill(hpid, SIGTERM);
    pclose(h);
    unlink(pem);
    mtp_rsa_free(pub);
    return 0;
}
