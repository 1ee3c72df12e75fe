/*
 * Client benchmarks against the in-process harness (loopback):
 *  - RPCs per second over one connection (help.getNearestDc, 100 in flight), beside the npm
 *    peers GramJS and mtcute doing the same against the same harness in the same run;
 *  - download throughput of a 256 MiB file, as a fraction of the AES-256-IGE speed
 *    measured in the same run (every byte downloaded is IGE-decrypted once by the client
 *    and encrypted once by the harness, on the same machine). Three downloads on the same
 *    client: the first on new connections (cold: every buffer on both sides is touched for
 *    the first time), the second (warm: the steady state of a client that keeps
 *    downloading; this is the one held against the target), both into a memory sink that
 *    checks every byte, then a third into a file. The cost of first-touch memory on this
 *    machine is measured too, because on a fresh VM it dominates the cold run.
 * Set MTP_BENCH_DOWNLOAD_MIB to change the file size. Argument: `rpc` or `download` runs only
 * that part (for profiling); no argument runs both. MTP_BENCH_PEERS=0 skips the npm peers.
 */
#define _GNU_SOURCE
#include <mtproto/client.h>
#include <mtproto/crypto.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "testharness.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RPC_TOTAL 100000   /* ours */
#define PEER_RPCS 20000    /* each npm peer (GramJS does a few thousand a second) */

static int answered;
static void cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
               const mtp_call_error_t *e)
{
    (void)c;
    (void)user;
    (void)res;
    (void)len;
    if (!e->err)
        answered++;
}

/* The memory sink of the download bench: every part must equal the uploaded pattern. */
static uint8_t *pattern;       /* 1 MiB, the file is this chunk repeated */
typedef struct sink {
    uint64_t bytes;
    int bad;
} sink_t;

static int sink_write(void *user, uint64_t offset, const uint8_t *data, size_t len)
{
    sink_t *s = user;
    if (offset % (1u << 20) || len > (1u << 20) || memcmp(data, pattern, len) != 0)
        s->bad++;
    s->bytes += len;
    return 0;
}

/* ms per MiB to write memory never touched before (fresh anonymous pages: a page fault
 * each 4 KiB) and to write it again. */
static void touch_cost(double *fresh, double *again)
{
    size_t n = (size_t)64 << 20;
    uint8_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *fresh = *again = 0;
    if (p == MAP_FAILED)
        return;
    double t = tu_now();
    memset(p, 1, n);
    *fresh = (tu_now() - t) * 1000 / 64;
    t = tu_now();
    memset(p, 2, n);
    *again = (tu_now() - t) * 1000 / 64;
    munmap(p, n);
}

/* CPU seconds (user + system) of each thread of this process, from /proc/self/task;
 * returns the number of threads found (at most max). */
static int thread_cpu(int *tids, double *secs, int max)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    long hz = sysconf(_SC_CLK_TCK);
    while (d && n < max && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = 0;
        const char *q = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        /* fields after the command: state(3) ... utime(14) stime(15) */
        if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
            tids[n] = atoi(e->d_name);
            secs[n++] = (double)(ut + st) / (double)hz;
        }
    }
    if (d)
        closedir(d);
    return n;
}

static double ige_mib_s(void)
{
    size_t n = 16u << 20;
    uint8_t *buf = calloc(1, n), *out = malloc(n);
    uint8_t key[32] = { 1 }, iv[32] = { 2 };
    mtp_aes256_ige_encrypt(key, iv, buf, out, n);   /* touch every page first */
    double t0 = tu_now();
    int rounds = 0;
    while (tu_now() - t0 < 1.0) {
        mtp_aes256_ige_encrypt(key, iv, buf, out, n);
        rounds++;
    }
    double dt = tu_now() - t0;
    free(buf);
    free(out);
    return rounds * 16.0 / dt;
}


/* One npm peer's --bench run against the harness: its RPC/s, or 0 (reason in why). */
static double peer_rpc_s(const char *script, const char *ready, const char *pem, char *why, size_t wn)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "node %s '%s' '%s' --bench %d --transport intermediate --inflight 100 2>/dev/null",
             script, ready, pem, PEER_RPCS);
    snprintf(why, wn, "did not run (tests/interop/setup.sh installs it)");
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    char line[4096];
    double v = 0;
    while (fgets(line, sizeof line, p)) {
        tj *j = tj_parse(line, strlen(line));
        const tj *r = j ? tj_get(j, "rpcs_per_s") : NULL;
        if (r && tj_int(tj_get(j, "bad_answers")) == 0)
            v = (double)tj_int(r);
        else if (j && tj_get(j, "check"))
            snprintf(why, wn, "%.300s", line);
        tj_free(j);
    }
    pclose(p);
    return v;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : "";
    bool do_rpc = !*only || !strcmp(only, "rpc"), do_down = !*only || !strcmp(only, "download");
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 2;
    tu_harness_t h;
    if (tu_harness_start(&h, "bench_client", &sc)) {
        fprintf(stderr, "harness did not start\n");
        return 1;
    }
    mtp_client_config_t cfg;
    tu_harness_client_config(&h, &cfg);
    cfg.api_hash = "bench";
    cfg.call_timeout = 0;   /* the library's default */
    const char *fp = getenv("MTP_BENCH_FILE_PARALLEL"), *fc = getenv("MTP_BENCH_FILE_CONNS");
    if (fp)
        cfg.file_parallel = atoi(fp);
    if (fc)
        cfg.file_conns = atoi(fc);
    mtp_client_t *c = NULL;
    mtp_call_error_t e;
    if (mtp_client_new(&cfg, &c) || mtp_login_phone(c, "9996611234", "11111", NULL, NULL, &e)) {
        fprintf(stderr, "login failed\n");
        tu_harness_stop(&h);
        return 1;
    }
    mtp_arena_t *a = mtp_arena_new(0);
    if (do_rpc) {
        /* RPCs/s, 100 in flight on the main connection */
        mtp_buf_t body;
        mtp_buf_init(&body);
        mtp_tl_encode((mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), &body);
        int total = RPC_TOTAL, sent = 0;
        double t0 = tu_now();
        while (answered < total && tu_now() - t0 < 60) {
            while (sent < total && sent - answered < 100) {
                mtp_call_ex(c, 0, 0, body.data, body.len, cb, NULL);
                sent++;
            }
            mtp_client_step(c, 100);
        }
        double dt = tu_now() - t0, ours = answered / dt;
        printf("rpc: %d help.getNearestDc in %.2f s = %.0f RPC/s (100 in flight, one connection)\n",
               answered, dt, ours);
        mtp_buf_free(&body);
        /* the npm peers against the same harness, same method, same in-flight count */
        char ready[2048], why[2][400];
        const char *pem = h.pem_path;
        double peer[2] = { 0, 0 };
        snprintf(why[0], sizeof why[0], "no ready line");
        snprintf(why[1], sizeof why[1], "no ready line");
        int rl = mtp_server_ready_json(h.srv, ready, sizeof ready);
        const char *np = getenv("MTP_BENCH_PEERS");
        if (np && !strcmp(np, "0")) {
            snprintf(why[0], sizeof why[0], "skipped (MTP_BENCH_PEERS=0)");
            snprintf(why[1], sizeof why[1], "skipped (MTP_BENCH_PEERS=0)");
        } else if (rl > 0 && (size_t)rl < sizeof ready) {
            peer[0] = peer_rpc_s("tests/interop/peers/gramjs.mjs", ready, pem, why[0], sizeof why[0]);
            peer[1] = peer_rpc_s("tests/interop/peers/mtcute.mjs", ready, pem, why[1], sizeof why[1]);
        }
        const char *names[2] = { "GramJS 2.26.22", "@mtcute/node 0.30.3" };
        double best = 0;
        for (int k = 0; k < 2; k++) {
            if (peer[k] > 0)
                printf("rpc: %-20s %8.0f RPC/s (same harness, intermediate, 100 in flight)\n", names[k], peer[k]);
            else
                printf("rpc: %-20s unavailable: %s\n", names[k], why[k]);
            if (peer[k] > best)
                best = peer[k];
        }
        if (best > 0)
            printf("rpc: libmtproto / faster peer = %.1fx (target >= 10x)\n", ours / best);
    }

    int rc = 0;
    if (do_down) {
        /* download throughput */
        const char *env = getenv("MTP_BENCH_DOWNLOAD_MIB");
        size_t mib = env ? (size_t)atoi(env) : 256;
        char f1[300], f2[300];
        snprintf(f1, sizeof f1, "%s/up", h.dir);
        snprintf(f2, sizeof f2, "%s/down", h.dir);
        FILE *f = fopen(f1, "wb");
        uint8_t *chunk = malloc(1 << 20);
        for (size_t i = 0; i < (1u << 20); i++)
            chunk[i] = (uint8_t)(i * 131 + 7);
        for (size_t i = 0; i < mib; i++)
            fwrite(chunk, 1, 1 << 20, f);
        fclose(f);
        pattern = chunk;
        mtp_upload_result_t up;
        double t0 = tu_now();
        rc = mtp_upload_file(c, f1, NULL, NULL, &up, &e);
        double up_s = tu_now() - t0;
        mtp_inputFileBig_t *fb = MTP_NEW(a, inputFileBig);
        fb->id = up.file_id;
        fb->parts = up.parts;
        fb->name = (mtp_bytes_t){ (const uint8_t *)"b", 1 };
        mtp_inputMediaUploadedDocument_t *m = MTP_NEW(a, inputMediaUploadedDocument);
        m->file = &fb->_;
        m->mime_type = (mtp_bytes_t){ (const uint8_t *)"x/y", 3 };
        mtp_messages_sendMedia_t *s = MTP_NEW(a, messages_sendMedia);
        s->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
        s->media = &m->_;
        s->random_id = 42;
        mtp_tl_object_t *o = NULL;
        if (!rc)
            rc = mtp_call_sync(c, &s->_, a, &o, &e);
        mtp_messages_getHistory_t *g = MTP_NEW(a, messages_getHistory);
        g->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
        g->limit = 1;
        if (!rc)
            rc = mtp_call_sync(c, &g->_, a, &o, &e);
        const mtp_document_t *d = NULL;
        if (!rc) {
            const mtp_vec_obj_t *ms = o->tl->id == MTP_ID_messages_messages
                                          ? &((mtp_messages_messages_t *)o)->messages
                                          : &((mtp_messages_messagesSlice_t *)o)->messages;
            if (ms->n && ms->v[0]->tl->id == MTP_ID_message) {
                const mtp_tl_object_t *md = ((const mtp_message_t *)ms->v[0])->media;
                if (md && md->tl->id == MTP_ID_messageMediaDocument)
                    d = (const mtp_document_t *)((const mtp_messageMediaDocument_t *)md)->document;
            }
        }
        if (!d) {
            fprintf(stderr, "upload failed (%d %s)\n", rc, e.message);
            tu_harness_stop(&h);
            return 1;
        }
        printf("upload: %zu MiB in %.2f s = %.1f MiB/s\n", mib, up_s, (double)mib / up_s);
        /* twice: into a memory sink that checks every byte (the library's own work), then
         * into a file (adds the page cache; on this VM a fresh page costs a host fault) */
        for (int round = 0; round < 3 && !rc; round++) {
            int to_file = round == 2;
            sink_t sk = { 0, 0 };
            t0 = tu_now();
            struct timespec c0, c1;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
            int tid0[16], tid1[16];
            double ts0[16], ts1[16];
            int nt0 = thread_cpu(tid0, ts0, 16);
            struct rusage ru0, ru1;
            getrusage(RUSAGE_SELF, &ru0);
            if (to_file)
                rc = mtp_download_document(c, d->dc_id, d->id, d->access_hash, d->file_reference.ptr,
                                           d->file_reference.len, d->size, f2, 0, NULL, NULL, &e);
            else
            {
                mtp_download_params_t dp;
                mtp_download_params_init(&dp);
                dp.dc = d->dc_id;
                dp.id = d->id;
                dp.access_hash = d->access_hash;
                dp.file_reference = d->file_reference.ptr;
                dp.ref_len = d->file_reference.len;
                dp.size = d->size;
                dp.write = sink_write;
                dp.write_user = &sk;
                rc = mtp_download_document_to(c, &dp, &e);
            }
            double down_s = tu_now() - t0;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
            int nt1 = thread_cpu(tid1, ts1, 16);
            getrusage(RUSAGE_SELF, &ru1);
            if (!to_file && !rc && (sk.bytes != (uint64_t)mib << 20 || sk.bad))
                rc = MTP_EPROTO;
            double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
            double ige = ige_mib_s();
            double down = (double)mib / down_s;
            const char *what = to_file ? "download to a file, warm" : round ? "download, warm"
                                                                        : "download, cold";
            printf("%s: %zu MiB in %.2f s = %.1f MiB/s (%s); AES-256-IGE %.1f MiB/s; "
                   "download/IGE = %.3f%s\n", what, mib, down_s, down, rc ? "FAILED" : "ok", ige,
                   down / ige, round == 1 ? " (target >= 0.70)" : "");
            long faults = ru1.ru_minflt - ru0.ru_minflt + ru1.ru_majflt - ru0.ru_majflt;
            printf("%s: CPU %.2f s over %.2f s wall (client + in-process harness: %.2f cores busy); "
                   "%ld page faults (%.1f MiB touched for the first time)\n",
                   what, cpu, down_s, cpu / down_s, faults, (double)faults * 4096 / (1 << 20));
            for (int i = 0; i < nt1; i++)
                for (int j = 0; j < nt0; j++)
                    if (tid1[i] == tid0[j] && ts1[i] - ts0[j] > 0.01)
                        printf("%s: thread %d (%s) busy %.0f%% of the wall time\n", what, tid1[i],
                               tid1[i] == (int)getpid() ? "client" : "harness",
                               100.0 * (ts1[i] - ts0[j]) / down_s);
        }
        double fresh, warm;
        touch_cost(&fresh, &warm);
        printf("memory on this machine: first touch %.2f ms per MiB (page faults), touching it "
               "again %.3f ms per MiB\n", fresh, warm);
        unlink(f1);
        unlink(f2);
        free(chunk);
    }
    mtp_arena_free(a);
    mtp_client_free(c);
    tu_harness_stop(&h);
    return rc ? 1 : 0;
}
