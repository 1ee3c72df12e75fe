/*
 * The harness under hostile load (issue 13), measured from outside: a mtproto-harness
 * process (argument 1, default build/bin/mtproto-harness; extra arguments go to it) on
 * loopback, and its resident memory (/proc/PID/statm) while
 *  - session flood: K keys, each with one connection opening 64 new sessions;
 *  - half frames: 16 connections each announcing a 16 MiB frame and sending 4 MiB of it;
 *  - idle connections: MTP_BENCH_IDLE (default 2000) connections that sent only the tag.
 * Prints RSS before/after each and how many of the hostile connections the harness closed.
 * Bounded: every phase has a time limit; loopback only.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "test_harness_client.h"

#include <mtproto/crypto.h>
#include <mtproto/envelope.h>

#include <signal.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>

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

static bool send_pkt(int fd, mtp_transport_t *t, const mtp_auth_key_t *key, int64_t salt,
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
    mtp_transport_frame(t, pkt.data, pkt.len, 0, &fr);
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
        mtp_transport_t t;
        mtp_transport_init_client(&t, MTP_TRANSPORT_INTERMEDIATE, false, 0, NULL, NULL);
        for (int i = 0; i < 64; i++)
            if (send_pkt(fd, &t, &h.key, h.salt, ((int64_t)k << 16) + i + 1, i))
                sent++;
        mtp_transport_free(&t);
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
    session_flood(kk ? atoi(kk) : 10);
    half_frames();
    idle_conns(e ? atoi(e) : 2000);
    kill(hpid, SIGTERM);
    pclose(h);
    unlink(pem);
    mtp_rsa_free(pub);
    return 0;
}
