/*
 * mtproto-harness — a multi-DC MTProto server on loopback that real clients log in to.
 * The server itself is the library part in src/server (include/mtproto/server.h).
 */
#include <mtproto/server.h>
#include <mtproto/crypto.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char usage[] =
    "usage: mtproto-harness [--host 127.0.0.1] [--port BASE] [--dcs N] [--rsa-key PRIVATE.pem]\n"
    "                       [--pubkey-out FILE] [--state DIR] [--trace FILE|-] [--seed S]\n"
    "                       [--password PHONE:PASSWORD]...\n"
    "\n"
    "A loopback MTProto 2.0 server with N data centres that real clients log in to.\n"
    "\n"
    "  --host ADDR        address to listen on (default 127.0.0.1)\n"
    "  --port BASE        DC i listens on BASE+i-1; 0 (default) takes free ports\n"
    "  --dcs N            number of DCs, 1..16 (default 3)\n"
    "  --rsa-key FILE     RSA private key, PEM (PKCS#1 or PKCS#8); default: a fresh 2048-bit\n"
    "                     key (kept in DIR/rsa.pem with --state)\n"
    "  --pubkey-out FILE  write the public key as PKCS#1 PEM (\"RSA PUBLIC KEY\")\n"
    "  --state DIR        keep users, messages, files and auth keys in DIR across restarts\n"
    "                     (default: memory only)\n"
    "  --trace FILE|-     every message handled and every connection event as JSON lines\n"
    "                     (\"-\" = stdout, after the ready line)\n"
    "  --seed S           deterministic randomness from S (RSA key generation excepted)\n"
    "  --password PHONE:PASSWORD   that account has two-factor authentication (repeatable)\n"
    "\n"
    "Testing aids:\n"
    "  --idle-timeout SEC      close connections silent for SEC seconds (default 300)\n"
    "  --max-connections N     refuse connections beyond N open ones (default: no limit)\n"
    "  --fault METHOD:COUNT:CODE:MESSAGE   the next COUNT calls of METHOD (\"*\" = any) fail\n"
    "                          with rpc_error CODE MESSAGE (COUNT -1 = always), repeatable;\n"
    "                          e.g. --fault upload.getFile:2:420:FLOOD_WAIT_3\n"
    "  --delay METHOD:COUNT:MS answer the next COUNT calls of METHOD MS milliseconds late\n"
    "  --drop DC:BYTES:COUNT   cut a connection of DC (0 = any) after BYTES more bytes sent,\n"
    "                          COUNT times\n"
    "  --updates KIND:USER:COUNT   the next COUNT update pushes (or differences) of USER\n"
    "                          (0 = anyone): KIND drop (lost), seq (updates{} with seq),\n"
    "                          combine (COUNT pushes as one updatesCombined), too-long\n"
    "                          (updatesTooLong / updateChannelTooLong), diff-too-long\n"
    "                          (getDifference / getChannelDifference answer ...TooLong)\n"
    "  --help                  this text\n"
    "\n"
    "Once every DC listens, one line goes to stdout:\n"
    "  {\"event\":\"ready\",\"dcs\":[{\"id\":1,\"host\":\"127.0.0.1\",\"port\":P1},...],"
    "\"rsa_fingerprint\":\"<signed decimal>\",\"pid\":N}\n"
    "then it serves until SIGINT/SIGTERM and exits 0 after a clean shutdown.\n"
    "\n"
    "Accounts: phone 99966XYYYY lives on DC X; its login code is X five times (DC 2: 22222);\n"
    "YYYY >= 9000 are new numbers that need auth.signUp. Bots: auth.importBotAuthorization\n"
    "with \"<digits>:<35 characters>\", home DC 2.\n";

static mtp_server_t *g_srv;
/* option lists (globals, so an early exit leaves nothing unreachable) */
static mtp_server_password_t *pw;
static char **faults, **delays, **drops, **upds;

static void on_signal(int sig)
{
    (void)sig;
    mtp_server_interrupt(g_srv);
}

static int die(const char *fmt, const char *arg)
{
    fprintf(stderr, "mtproto-harness: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 2;
}

static bool parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || !end || *end || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Split "a:b:c:d" into at most n fields (the last one takes the rest). */
static int split(char *s, char **f, int n)
{
    int k = 0;
    f[k++] = s;
    while (k < n) {
        char *c = strchr(f[k - 1], ':');
        if (!c)
            break;
        *c = 0;
        f[k++] = c + 1;
    }
    return k;
}

int main(int argc, char **argv)
{
    mtp_server_config_t cfg;
    mtp_server_config_init(&cfg);
    const char *pubkey_out = NULL;
    pw = calloc((size_t)argc, sizeof *pw);
    faults = calloc((size_t)argc, sizeof *faults);
    delays = calloc((size_t)argc, sizeof *delays);
    drops = calloc((size_t)argc, sizeof *drops);
    upds = calloc((size_t)argc, sizeof *upds);
    int nf = 0, nd = 0, ndr = 0, nu = 0;
    char errbuf[512] = "";
    if (!pw || !faults || !delays || !drops || !upds)
        return die("%s", "out of memory");

    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0)
            return die("unexpected argument '%s' (see --help)", a);
        char *val = strchr(a, '=');
        char name[64];
        size_t nl = val ? (size_t)(val - a) : strlen(a);
        if (nl >= sizeof name)
            return die("unknown option '%s' (see --help)", a);
        memcpy(name, a, nl);
        name[nl] = 0;
        static const char *const known[] = { "--host", "--port", "--dcs", "--rsa-key",
                                             "--pubkey-out", "--state", "--trace", "--seed",
                                             "--password", "--idle-timeout",
                                             "--max-connections", "--fault", "--delay",
                                             "--drop", "--updates" };
        bool is_known = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            is_known = is_known || strcmp(name, known[k]) == 0;
        if (!is_known)
            return die("unknown option '%s' (see --help)", name);
        if (val) {
            val++;
        } else {
            if (i + 1 >= argc)
                return die("option %s needs a value", name);
            val = argv[++i];
        }
        long long v;
        if (strcmp(name, "--host") == 0) {
            cfg.host = val;
        } else if (strcmp(name, "--port") == 0) {
            if (!parse_long(val, 0, 65535, &v))
                return die("bad --port '%s'", val);
            cfg.base_port = (uint16_t)v;
        } else if (strcmp(name, "--dcs") == 0) {
            if (!parse_long(val, 1, MTP_SERVER_MAX_DCS, &v))
                return die("bad --dcs '%s' (1..16)", val);
            cfg.n_dcs = (int)v;
        } else if (strcmp(name, "--rsa-key") == 0) {
            cfg.rsa_key_path = val;
        } else if (strcmp(name, "--pubkey-out") == 0) {
            pubkey_out = val;
        } else if (strcmp(name, "--state") == 0) {
            cfg.state_dir = val;
        } else if (strcmp(name, "--trace") == 0) {
            cfg.trace_path = val;
        } else if (strcmp(name, "--seed") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 0);
            if (errno || !end || *end || end == val)
                return die("bad --seed '%s'", val);
            cfg.has_seed = true;
            cfg.seed = s;
        } else if (strcmp(name, "--password") == 0) {
            char *c = strchr(val, ':');
            if (!c || c == val || !c[1])
                return die("bad --password '%s' (PHONE:PASSWORD)", val);
            *c = 0;
            pw[cfg.n_passwords].phone = val;
            pw[cfg.n_passwords].password = c + 1;
            cfg.n_passwords++;
        } else if (strcmp(name, "--idle-timeout") == 0) {
            if (!parse_long(val, 1, 86400 * 365, &v))
                return die("bad --idle-timeout '%s'", val);
            cfg.idle_timeout = (mtp_usec_t)v * 1000000;
        } else if (strcmp(name, "--max-connections") == 0) {
            if (!parse_long(val, 0, 1 << 24, &v))
                return die("bad --max-connections '%s'", val);
            cfg.max_connections = (int)v;
        } else if (strcmp(name, "--fault") == 0) {
            faults[nf++] = val;
        } else if (strcmp(name, "--delay") == 0) {
            delays[nd++] = val;
        } else if (strcmp(name, "--drop") == 0) {
            drops[ndr++] = val;
        } else if (strcmp(name, "--updates") == 0) {
            upds[nu++] = val;
        } else {
            return die("unknown option '%s' (see --help)", name);
        }
    }
    cfg.passwords = pw;
    cfg.errbuf = errbuf;
    cfg.errbuf_len = sizeof errbuf;

    /* many connections: use every file descriptor we may */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    mtp_server_t *srv = mtp_server_new(&cfg);
    if (!srv)
        return die("%s", errbuf[0] ? errbuf : "cannot create the server");
    g_srv = srv;

    for (int i = 0; i < nf; i++) {
        char *f[4];
        long long cnt, code;
        if (split(faults[i], f, 4) != 4 || !parse_long(f[1], -1, 1 << 30, &cnt) ||
            !parse_long(f[2], -1000000, 1000000, &code) ||
            mtp_server_fault_rpc(srv, f[0], (int)cnt, (int32_t)code, f[3])) {
            mtp_server_free(srv);
            return die("bad --fault '%s' (METHOD:COUNT:CODE:MESSAGE)", faults[i]);
        }
    }
    for (int i = 0; i < nd; i++) {
        char *f[3];
        long long cnt, ms;
        if (split(delays[i], f, 3) != 3 || !parse_long(f[1], -1, 1 << 30, &cnt) ||
            !parse_long(f[2], 0, 3600 * 1000, &ms) ||
            mtp_server_fault_delay(srv, f[0], (int)cnt, (mtp_usec_t)ms * 1000)) {
            mtp_server_free(srv);
            return die("bad --delay '%s' (METHOD:COUNT:MS)", delays[i]);
        }
    }
    for (int i = 0; i < ndr; i++) {
        char *f[3];
        long long dc, bytes, cnt;
        if (split(drops[i], f, 3) != 3 || !parse_long(f[0], 0, MTP_SERVER_MAX_DCS, &dc) ||
            !parse_long(f[1], 0, (long long)1 << 50, &bytes) ||
            !parse_long(f[2], -1, 1 << 30, &cnt) ||
            mtp_server_fault_drop(srv, (int)dc, (uint64_t)bytes, (int)cnt)) {
            mtp_server_free(srv);
            return die("bad --drop '%s' (DC:BYTES:COUNT)", drops[i]);
        }
    }
    static const char *const kinds[] = { "drop", "seq", "combine", "too-long", "diff-too-long" };
    for (int i = 0; i < nu; i++) {
        char *f[3];
        long long user, cnt;
        int kind = 0;
        if (split(upds[i], f, 3) == 3)
            for (int k = 0; k < 5; k++)
                if (strcmp(f[0], kinds[k]) == 0)
                    kind = MTP_SERVER_UPD_DROP + k;
        if (!kind || !parse_long(f[1], 0, INT64_MAX, &user) ||
            !parse_long(f[2], -1, 1 << 30, &cnt) ||
            mtp_server_fault_updates(srv, (int64_t)user, kind, (int)cnt)) {
            mtp_server_free(srv);
            return die("bad --updates '%s' (KIND:USER:COUNT)", upds[i]);
        }
    }

    if (pubkey_out) {
        FILE *f = fopen(pubkey_out, "w");
        const char *pem = mtp_server_public_pem(srv);
        if (!f || fputs(pem, f) < 0 || fclose(f)) {
            mtp_server_free(srv);
            return die("cannot write %s", pubkey_out);
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = mtp_server_start(srv);
    if (rc) {
        mtp_server_free(srv);
        return die("cannot listen: %s", mtp_strerror(rc));
    }
    char line[4096];
    int n = mtp_server_ready_json(srv, line, sizeof line);
    if (n < 0 || (size_t)n >= sizeof line) {
        mtp_server_free(srv);
        return die("%s", "internal error (ready line)");
    }
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);

    rc = mtp_server_run(srv);
    mtp_server_free(srv);
    free(pw);
    free(faults);
    free(delays);
    free(drops);
    free(upds);
    if (rc) {
        fprintf(stderr, "mtproto-harness: %s\n", mtp_strerror(rc));
        return 1;
    }
    return 0;
}
