/*
 * tools/mtproto-harness as a program: spawn it (path from argv[0]: <BUILD>/tests/x ->
 * <BUILD>/bin/mtproto-harness), read and check the ready line, connect, SIGTERM -> exit 0;
 * --pubkey-out writes a PKCS#1 PEM whose fingerprint equals the ready line's; --rsa-key
 * with PKCS#8 and PKCS#1 keys; --help; bad options; the trace file.
 */
#include "testutil.h"
#include "test_harness_client.h"

#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char bin[4096];
static char tmpdir[] = "/tmp/mtp-harness-tool-XXXXXX";

typedef struct child {
    pid_t pid;
    int out;            /* its stdout */
    char buf[8192];
    size_t len;
} child_t;

static bool quiet;   /* children's stderr to /dev/null (expected error messages) */

static bool spawn(child_t *c, char *const argv[])
{
    int p[2];
    if (pipe(p))
        return false;
    memset(c, 0, sizeof *c);
    c->pid = fork();
    if (c->pid < 0)
        return false;
    if (c->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (quiet) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0)
                dup2(null, 2);
        }
        execv(bin, argv);
        _exit(127);
    }
    close(p[1]);
    c->out = p[0];
    return true;
}

/* Read stdout until a newline (or EOF / timeout). Returns the line length or -1. */
static int read_line(child_t *c, int ms)
{
    double until = tu_now() + ms / 1000.0;
    while (tu_now() < until) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl)
            return (int)(nl - c->buf);
        struct pollfd pf = { c->out, POLLIN, 0 };
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t r = read(c->out, c->buf + c->len, sizeof c->buf - 1 - c->len);
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
        c->buf[c->len] = 0;
    }
    return -1;
}

/* Wait for the exit; -1 on timeout (then the child is killed). */
static int wait_exit(child_t *c, int ms)
{
    double until = tu_now() + ms / 1000.0;
    int st = 0;
    while (tu_now() < until) {
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        usleep(20 * 1000);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    return -1;
}

/* Parse and re-emit the ready line; it must be byte-identical. */
static bool check_ready(const char *line, int ndcs, int64_t *fp, uint16_t *ports, long *pid)
{
    tj *j = tj_parse(line, strlen(line));
    if (!j)
        return false;
    bool ok = tj_str(tj_get(j, "event")) && strcmp(tj_str(tj_get(j, "event")), "ready") == 0 &&
              tj_len(tj_get(j, "dcs")) == (size_t)ndcs && tj_str(tj_get(j, "rsa_fingerprint"));
    char want[2048];
    size_t n = 0;
    if (ok) {
        n += (size_t)snprintf(want + n, sizeof want - n, "{\"event\":\"ready\",\"dcs\":[");
        for (int i = 0; i < ndcs; i++) {
            const tj *d = tj_at(tj_get(j, "dcs"), (size_t)i);
            ports[i] = (uint16_t)tj_int(tj_get(d, "port"));
            ok = ok && tj_int(tj_get(d, "id")) == i + 1 && tj_str(tj_get(d, "host")) &&
                 ports[i] > 0;
            n += (size_t)snprintf(want + n, sizeof want - n,
                                  "%s{\"id\":%d,\"host\":\"127.0.0.1\",\"port\":%u}", i ? "," : "",
                                  i + 1, ports[i]);
        }
        *fp = strtoll(tj_str(tj_get(j, "rsa_fingerprint")), NULL, 10);
        *pid = (long)tj_int(tj_get(j, "pid"));
        snprintf(want + n, sizeof want - n, "],\"rsa_fingerprint\":\"%" PRId64 "\",\"pid\":%ld}",
                 *fp, *pid);
        ok = ok && strcmp(want, line) == 0;
        if (!ok)
            tap_diag("ready line differs from the canonical form:\n#   got  %s\n#   want %s", line,
                     want);
    }
    tj_free(j);
    return ok;
}

static void test_run(void)
{
    char pubf[4200], tracef[4200];
    snprintf(pubf, sizeof pubf, "%s/pub.pem", tmpdir);
    snprintf(tracef, sizeof tracef, "%s/trace.jsonl", tmpdir);
    char *argv[] = { bin, "--port", "0", "--dcs", "2", "--pubkey-out", pubf, "--trace", tracef,
                     "--seed", "7", "--password", "9996611111:secret", NULL };
    child_t c;
    if (!OK(spawn(&c, argv), "spawned %s", bin))
        return;
    int n = read_line(&c, 60000);
    OK(n > 0, "ready line received");
    if (n <= 0) {
        wait_exit(&c, 100);
        return;
    }
    char line[8192];
    memcpy(line, c.buf, (size_t)n);
    line[n] = 0;
    int64_t fp = 0;
    uint16_t ports[2] = { 0, 0 };
    long pid = 0;
    OK(check_ready(line, 2, &fp, ports, &pid), "ready line has the exact format: %s", line);
    OK(pid == (long)c.pid, "pid in the ready line is the child's");

    size_t len = 0;
    uint8_t *pem = tu_read_file(pubf, &len);
    mtp_rsa_key_t *pub = NULL;
    OK(pem && strstr((char *)pem, "-----BEGIN RSA PUBLIC KEY-----") &&
           mtp_rsa_load_public_pem((char *)pem, len, &pub) == 0,
       "--pubkey-out wrote a PKCS#1 PEM");
    OK(pub && mtp_rsa_fingerprint(pub) == fp, "its fingerprint equals the ready line's");
    free(pem);

    if (pub) {
        hc_t h;
        int rc = hc_open(&h, ports[1], MTP_TRANSPORT_INTERMEDIATE, true, pub, 2, NULL, 0);
        mtp_arena_t *a = mtp_arena_new(0);
        mtp_help_getConfig_t *q = MTP_NEW(a, help_getConfig);
        hc_call_obj(&h, q, true, 5000);
        OK(rc == 0 && hc_result_id(&h) == MTP_ID_config, "a client talks to DC 2 of the process");
        hc_close(&h);
        mtp_arena_free(a);
    }
    kill(c.pid, SIGTERM);
    int st = wait_exit(&c, 15000);
    OK(st == 0, "SIGTERM -> clean exit 0 (%d)", st);
    /* nothing else on stdout */
    char rest[256];
    ssize_t r = read(c.out, rest, sizeof rest);
    OK(r == 0 && c.len == (size_t)n + 1, "exactly one line on stdout");
    close(c.out);
    uint8_t *tr = tu_read_file(tracef, &len);
    OK(tr && strstr((char *)tr, "\"event\":\"ready\"") == NULL &&
           strstr((char *)tr, "\"_\":\"help.getConfig\"") &&
           strstr((char *)tr, "\"event\":\"transport\""),
       "--trace FILE has the messages and connection events");
    free(tr);
    mtp_rsa_free(pub);
}

static void test_rsa_key(const char *label, const char *pemfile)
{
    size_t len = 0;
    uint8_t *text = tu_read_file(pemfile, &len);
    mtp_rsa_key_t *k = NULL;
    if (!text || mtp_rsa_load_private_pem((char *)text, len, &k)) {
        OK(0, "%s: load the key locally", label);
        free(text);
        return;
    }
    free(text);
    char *argv[] = { bin, "--rsa-key", (char *)pemfile, "--dcs", "1", NULL };
    child_t c;
    spawn(&c, argv);
    int n = read_line(&c, 30000);
    int64_t fp = 0;
    uint16_t port = 0;
    long pid = 0;
    if (n > 0)
        c.buf[n] = 0;
    OK(n > 0 && check_ready(c.buf, 1, &fp, &port, &pid) && fp == mtp_rsa_fingerprint(k),
       "--rsa-key %s: the ready line carries its fingerprint", label);
    kill(c.pid, SIGINT);
    OK(wait_exit(&c, 15000) == 0, "%s: SIGINT -> exit 0", label);
    close(c.out);
    mtp_rsa_free(k);
}

static void test_cli_errors(void)
{
    char *help[] = { bin, "--help", NULL };
    child_t c;
    spawn(&c, help);
    int n = read_line(&c, 10000);
    OK(n > 0 && strncmp(c.buf, "usage: mtproto-harness [--host 127.0.0.1] [--port BASE] [--dcs N] "
                               "[--rsa-key PRIVATE.pem]", (size_t)n) == 0,
       "--help prints the synopsis");
    OK(wait_exit(&c, 10000) == 0, "--help exits 0");
    close(c.out);
    quiet = true;
    char *bad[] = { bin, "--no-such-option", NULL };
    spawn(&c, bad);
    OK(wait_exit(&c, 10000) == 2, "unknown option -> exit 2");
    close(c.out);
    char *badpw[] = { bin, "--password", "12345:x", NULL };
    spawn(&c, badpw);
    OK(wait_exit(&c, 30000) == 2, "--password with a non-test phone -> exit 2");
    close(c.out);
    char *badup[] = { bin, "--updates", "sometimes:0:1", NULL };
    spawn(&c, badup);
    OK(wait_exit(&c, 10000) == 2, "--updates with an unknown kind -> exit 2");
    close(c.out);
    char *badlim[] = { bin, "--limit", "no-such-budget=3", NULL };
    spawn(&c, badlim);
    OK(wait_exit(&c, 10000) == 2, "--limit with an unknown budget -> exit 2");
    close(c.out);
    char *badval[] = { bin, "--limit", "sessions=many", NULL };
    spawn(&c, badval);
    OK(wait_exit(&c, 10000) == 2, "--limit with a bad number -> exit 2");
    close(c.out);
    quiet = false;
}

int main(int argc, char **argv)
{
    (void)argc;
    char a0[4096];
    snprintf(a0, sizeof a0, "%s", argv[0]);
    char *d = dirname(a0);                  /* <BUILD>/tests */
    char d2[4096];
    snprintf(d2, sizeof d2, "%s", d);
    snprintf(bin, sizeof bin, "%s/bin/mtproto-harness", dirname(d2));
    if (access(bin, X_OK)) {
        tap_skip("mtproto-harness binary not built", 1);
        return tap_done();
    }
    if (!mkdtemp(tmpdir))
        tap_bail("mkdtemp");
    signal(SIGPIPE, SIG_IGN);

    test_run();

    /* PKCS#8 from our own export, PKCS#1 with the openssl tool if present */
    mtp_rsa_key_t *k = NULL;
    char p8[4200], p1[4200];
    snprintf(p8, sizeof p8, "%s/k8.pem", tmpdir);
    snprintf(p1, sizeof p1, "%s/k1.pem", tmpdir);
    if (mtp_rsa_generate(2048, &k) == 0) {
        char pem[4096];
        size_t len = 0;
        if (mtp_rsa_private_pem(k, pem, sizeof pem, &len) == 0) {
            FILE *f = fopen(p8, "w");
            if (f) {
                fwrite(pem, 1, len, f);
                fclose(f);
            }
        }
        mtp_rsa_free(k);
    }
    test_rsa_key("PKCS#8", p8);
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "openssl rsa -in '%s' -traditional -out '%s' 2>/dev/null", p8, p1);
    if (system(cmd) == 0)
        test_rsa_key("PKCS#1", p1);
    else
        tap_skip("openssl tool not available for a PKCS#1 key", 2);

    test_cli_errors();

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", tmpdir);
    return tap_done();
}
