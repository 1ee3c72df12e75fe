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
    "                       [--password PHONE:PASSWORD]... [--limit NAME=N]...\n"
    "                       [--fault SPEC]... [--control PATH|PORT]\n"
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
    "  --populate channel=N,members=M   seed the public channel @harness_channel with N posts\n"
    "                     (every 10th a document, every 7th with reactions) and the public\n"
    "                     supergroup @harness_group with M members (memory only)\n"
    "\n"
    "Testing aids:\n"
    "  --idle-timeout SEC      close connections silent for SEC seconds (default 300)\n"
    "  --max-connections N     refuse connections beyond N open ones (default: no limit)\n"
    "  --fault METHOD:COUNT:CODE:MESSAGE   the next COUNT calls of METHOD (\"*\" = any) fail\n"
    "                          with rpc_error CODE MESSAGE (COUNT -1 = always), repeatable;\n"
    "                          e.g. --fault upload.getFile:2:420:FLOOD_WAIT_3\n"
    "  --fault SPEC            a fault-engine rule, repeatable: KIND[:ARG...][,OPTION=VALUE...]\n"
    "     connection: drop:P (an answer's connection is lost with probability P; the\n"
    "                 session re-sends it), delay:MS[:JITTER], silent:AFTER_N (no more output\n"
    "                 after N queries, TCP stays open), cut:BYTES (close mid-frame after\n"
    "                 BYTES sent), reset[:AFTER_N] (RST), accept-close:N, bw:BYTES_PER_SEC\n"
    "     session:    bad-salt:EVERY_N, clock-skew:SECONDS (+ ahead, - behind: codes 16/17),\n"
    "                 new-session:EVERY_N, bad-msg:CODE[:EVERY_N], duplicate:P[:copy]\n"
    "                 (rpc_result twice / in msg_copy), reorder[:MS], container-mix\n"
    "     errors:     rpc:CODE:MESSAGE, internal, timeout (-503), auth-key-duplicated,\n"
    "                 migrate:PHONE|NETWORK|USER|FILE|STATS:DC, flood-wait:X,\n"
    "                 flood-premium-wait:X, transport-error:-404|-429, forget-keys, restart\n"
    "     files:      file-stall:K, file-ref-expired:K, file-short:K (the Kth upload.getFile)\n"
    "     options:    method=NAME count=N skip=N every=N p=P dc=N; randomness from --seed\n"
    "                 e.g. --fault migrate:PHONE:2,method=auth.sendCode,count=1\n"
    "  --delay METHOD:COUNT:MS answer the next COUNT calls of METHOD MS milliseconds late\n"
    "  --drop DC:BYTES:COUNT   cut a connection of DC (0 = any) after BYTES more bytes sent,\n"
    "                          COUNT times\n"
    "  --updates KIND:USER:COUNT   the next COUNT update pushes (or differences) of USER\n"
    "                          (0 = anyone): KIND drop (lost), seq (updates{} with seq),\n"
    "                          combine (COUNT pushes as one updatesCombined), too-long\n"
    "                          (updatesTooLong / updateChannelTooLong), diff-too-long\n"
    "                          (getDifference / getChannelDifference answer ...TooLong)\n"
    "  --trace-secrets         the trace shows api_hash, login codes, passwords and SRP values\n"
    "                          and exported authorizations (default: \"[redacted]\")\n"
    "  --control PATH|PORT     a control channel: JSON lines on a Unix socket PATH or on\n"
    "                          127.0.0.1:PORT (0 = a free port, named on stderr), e.g.\n"
    "                          {\"cmd\":\"add\",\"spec\":\"drop:0.1\"} -> {\"ok\":true,\"id\":1};\n"
    "                          cmds add, remove (id), list, clear, stats, restart,\n"
    "                          push (user_id, text[, from_id]: a new message, pushed),\n"
    "                          qr_accept (not implemented: no auth.exportLoginToken)\n"
    "  --help                  this text\n"
    "\n"
    "Budgets against greedy or hostile peers (--limit NAME=N, repeatable; default in ()):\n"
    "  max-frame=BYTES         largest transport packet (2097152): longer closes the connection\n"
    "  max-input=BYTES         incomplete frames held over all connections (268435456): the\n"
    "                          connection that would pass it is closed\n"
    "  frame-timeout=SEC       an incomplete frame older than SEC closes its connection (30)\n"
    "  sessions-per-key=N      sessions per auth key (64): the oldest idle one is dropped\n"
    "  sessions-per-conn=N     new sessions one connection may open (8): then it is closed\n"
    "  sessions=N              sessions in total (4096): new ones refused, connection closed\n"
    "  session-ttl=SEC         a session no connection holds is freed after SEC (120)\n"
    "  keys=N                  auth keys in total (50000): a further new key is not kept and\n"
    "                          its connection closed (the client then gets -404)\n"
    "  key-exchanges-per-conn=N   completed key exchanges per connection (8): closed\n"
    "  key-exchanges-per-addr=N   per source address and minute (300): closed\n"
    "  key-unused-ttl=SEC      a permanent key never authorized nor used for SEC is dropped\n"
    "                          (3600)\n"
    "  pending-per-conn=N      answers held back (--delay, invokeAfterMsg) per connection (256):\n"
    "                          FLOOD_WAIT_1\n"
    "  pending=N               the same in total (20000): FLOOD_WAIT_1\n"
    "  upload-bytes=BYTES      upload parts held in memory in total (1073741824): FLOOD_WAIT_5\n"
    "  exports=N               exported authorizations alive (1000): FLOOD_WAIT_1\n"
    "Each hit is counted in the statistics (mtp_server_stats_t.limit_*).\n"
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

/* ---- options ---- */

/* What the command line asks for. The lists are globals (through g_opts), so an early exit
 * leaves nothing unreachable. */
typedef struct opts {
    mtp_server_config_t cfg;
    const char *pubkey_out;
    const char *control;
    mtp_server_password_t *pw;
    char **faults, **delays, **drops, **upds;
    int nf, nd, ndr, nu;
} opts_t;

static opts_t g_opts;

#define STR_OPT(fn, field)                                                                  \
    static int fn(opts_t *o, char *val)                                                     \
    {                                                                                       \
        o->field = val;                                                                     \
        return 0;                                                                           \
    }
#define LIST_OPT(fn, list, n)                                                               \
    static int fn(opts_t *o, char *val)                                                     \
    {                                                                                       \
        o->list[o->n++] = val;                                                              \
        return 0;                                                                           \
    }

STR_OPT(opt_host, cfg.host)
STR_OPT(opt_rsa_key, cfg.rsa_key_path)
STR_OPT(opt_pubkey_out, pubkey_out)
STR_OPT(opt_state, cfg.state_dir)
STR_OPT(opt_trace, cfg.trace_path)
STR_OPT(opt_control, control)
LIST_OPT(opt_fault, faults, nf)
LIST_OPT(opt_delay, delays, nd)
LIST_OPT(opt_drop, drops, ndr)
LIST_OPT(opt_updates, upds, nu)

static int opt_port(opts_t *o, char *val)
{
    long long v;
    if (!parse_long(val, 0, 65535, &v))
        return die("bad --port '%s'", val);
    o->cfg.base_port = (uint16_t)v;
    return 0;
}

static int opt_dcs(opts_t *o, char *val)
{
    long long v;
    if (!parse_long(val, 1, MTP_SERVER_MAX_DCS, &v))
        return die("bad --dcs '%s' (1..16)", val);
    o->cfg.n_dcs = (int)v;
    return 0;
}

static int opt_seed(opts_t *o, char *val)
{
    char *end = NULL;
    errno = 0;
    unsigned long long s = strtoull(val, &end, 0);
    if (errno || !end || *end || end == val)
        return die("bad --seed '%s'", val);
    o->cfg.has_seed = true;
    o->cfg.seed = s;
    return 0;
}

static int opt_populate(opts_t *o, char *val)
{
    for (char *tok = strtok(val, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        long long v;
        if (!eq || !parse_long(eq + 1, 0, 10000000, &v))
            return die("bad --populate '%s' (channel=N,members=M)", tok);
        *eq = 0;
        if (strcmp(tok, "channel") == 0)
            o->cfg.populate_messages = (int32_t)v;
        else if (strcmp(tok, "members") == 0)
            o->cfg.populate_members = (int32_t)v;
        else
            return die("bad --populate key '%s' (channel, members)", tok);
    }
    return 0;
}

static int opt_password(opts_t *o, char *val)
{
    char *c = strchr(val, ':');
    if (!c || c == val || !c[1])
        return die("bad --password '%s' (PHONE:PASSWORD)", val);
    *c = 0;
    o->pw[o->cfg.n_passwords].phone = val;
    o->pw[o->cfg.n_passwords].password = c + 1;
    o->cfg.n_passwords++;
    return 0;
}

static int opt_idle_timeout(opts_t *o, char *val)
{
    long long v;
    if (!parse_long(val, 1, 86400 * 365, &v))
        return die("bad --idle-timeout '%s'", val);
    o->cfg.idle_timeout = (mtp_usec_t)v * 1000000;
    return 0;
}

static int opt_max_connections(opts_t *o, char *val)
{
    long long v;
    if (!parse_long(val, 0, 1 << 24, &v))
        return die("bad --max-connections '%s'", val);
    o->cfg.max_connections = (int)v;
    return 0;
}

/* --limit NAME=N: one of the budgets (server.h, mtp_server_config_t.limits). */
static int opt_limit(opts_t *o, char *val)
{
    char *eq = strchr(val, '=');
    long long v;
    if (!eq || !parse_long(eq + 1, 1, (long long)1 << 40, &v))
        return die("bad --limit '%s' (NAME=N, see --help)", val);
    *eq = 0;
    const char *n = val;
    const mtp_usec_t sec = 1000000;
    if (!strcmp(n, "max-frame"))                   o->cfg.limits.max_frame = (size_t)v;
    else if (!strcmp(n, "max-input"))              o->cfg.limits.max_input = (size_t)v;
    else if (!strcmp(n, "frame-timeout"))          o->cfg.limits.frame_timeout = v * sec;
    else if (!strcmp(n, "sessions-per-key"))       o->cfg.limits.sessions_per_key = (int)v;
    else if (!strcmp(n, "sessions-per-conn"))      o->cfg.limits.sessions_per_conn = (int)v;
    else if (!strcmp(n, "sessions"))               o->cfg.limits.sessions = (int)v;
    else if (!strcmp(n, "session-ttl"))            o->cfg.limits.session_ttl = v * sec;
    else if (!strcmp(n, "keys"))                   o->cfg.limits.keys = (int)v;
    else if (!strcmp(n, "key-exchanges-per-conn")) o->cfg.limits.key_exchanges_per_conn = (int)v;
    else if (!strcmp(n, "key-exchanges-per-addr")) o->cfg.limits.key_exchanges_per_addr = (int)v;
    else if (!strcmp(n, "key-unused-ttl"))         o->cfg.limits.key_unused_ttl = v * sec;
    else if (!strcmp(n, "pending-per-conn"))       o->cfg.limits.pending_per_conn = (int)v;
    else if (!strcmp(n, "pending"))                o->cfg.limits.pending = (int)v;
    else if (!strcmp(n, "upload-bytes"))           o->cfg.limits.upload_bytes = (uint64_t)v;
    else if (!strcmp(n, "exports"))                o->cfg.limits.exports = (int)v;
    else
        return die("unknown --limit '%s' (see --help)", n);
    return 0;
}

/* Every option takes a value (--name VALUE or --name=VALUE); --help and --trace-secrets
 * are handled apart. */
static const struct option {
    const char *name;
    int (*set)(opts_t *o, char *val);   /* 0, or the exit code after a message */
} options[] = {
    { "--host", opt_host },
    { "--port", opt_port },
    { "--dcs", opt_dcs },
    { "--rsa-key", opt_rsa_key },
    { "--pubkey-out", opt_pubkey_out },
    { "--state", opt_state },
    { "--trace", opt_trace },
    { "--seed", opt_seed },
    { "--password", opt_password },
    { "--populate", opt_populate },
    { "--idle-timeout", opt_idle_timeout },
    { "--max-connections", opt_max_connections },
    { "--fault", opt_fault },
    { "--delay", opt_delay },
    { "--drop", opt_drop },
    { "--updates", opt_updates },
    { "--limit", opt_limit },
    { "--control", opt_control },
};

/* Parse the command line into o: -1 to go on, else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, opts_t *o)
{
    mtp_server_config_init(&o->cfg);
    o->pw = calloc((size_t)argc, sizeof *o->pw);
    o->faults = calloc((size_t)argc, sizeof *o->faults);
    o->delays = calloc((size_t)argc, sizeof *o->delays);
    o->drops = calloc((size_t)argc, sizeof *o->drops);
    o->upds = calloc((size_t)argc, sizeof *o->upds);
    if (!o->pw || !o->faults || !o->delays || !o->drops || !o->upds)
        return die("%s", "out of memory");
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--trace-secrets") == 0) {   /* the one option without a value */
            o->cfg.trace_secrets = true;
            continue;
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
        const struct option *opt = NULL;
        for (size_t k = 0; k < sizeof options / sizeof options[0] && !opt; k++)
            if (strcmp(name, options[k].name) == 0)
                opt = &options[k];
        if (!opt)
            return die("unknown option '%s' (see --help)", name);
        if (val) {
            val++;
        } else {
            if (i + 1 >= argc)
                return die("option %s needs a value", name);
            val = argv[++i];
        }
        int rc = opt->set(o, val);
        if (rc)
            return rc;
    }
    o->cfg.passwords = o->pw;
    return -1;
}

/* ---- run ---- */

/* The reason mtp_server_new() fails (the last error line). */
static char g_log_err[512];

static void on_log(void *user, mtp_log_level_t level, const char *line)
{
    (void)user;
    if (level == MTP_LOG_ERROR)
        snprintf(g_log_err, sizeof g_log_err, "%s", line);
    else
        fprintf(stderr, "mtproto-harness: %s\n", line);
}

/* The --fault / --delay / --drop / --updates rules: 0, or the exit code after a message. */
static int add_faults(mtp_server_t *srv, const opts_t *o)
{
    for (int i = 0; i < o->nf; i++) {
        char *f[4], copy[256];
        long long cnt, code;
        snprintf(copy, sizeof copy, "%s", o->faults[i]);
        if (split(copy, f, 4) == 4 && parse_long(f[1], -1, 1 << 30, &cnt) &&
            parse_long(f[2], -1000000, 1000000, &code)) {
            if (mtp_server_fault_rpc(srv, f[0], (int)cnt, (int32_t)code, f[3]))
                return die("bad --fault '%s' (METHOD:COUNT:CODE:MESSAGE)", o->faults[i]);
        } else if (mtp_server_fault_add(srv, o->faults[i]) < 0) {
            return die("bad --fault '%s' (METHOD:COUNT:CODE:MESSAGE or a SPEC, see --help)",
                       o->faults[i]);
        }
    }
    for (int i = 0; i < o->nd; i++) {
        char *f[3];
        long long cnt, ms;
        if (split(o->delays[i], f, 3) != 3 || !parse_long(f[1], -1, 1 << 30, &cnt) ||
            !parse_long(f[2], 0, 3600 * 1000, &ms) ||
            mtp_server_fault_delay(srv, f[0], (int)cnt, (mtp_usec_t)ms * 1000))
            return die("bad --delay '%s' (METHOD:COUNT:MS)", o->delays[i]);
    }
    for (int i = 0; i < o->ndr; i++) {
        char *f[3];
        long long dc, bytes, cnt;
        if (split(o->drops[i], f, 3) != 3 || !parse_long(f[0], 0, MTP_SERVER_MAX_DCS, &dc) ||
            !parse_long(f[1], 0, (long long)1 << 50, &bytes) ||
            !parse_long(f[2], -1, 1 << 30, &cnt) ||
            mtp_server_fault_drop(srv, (int)dc, (uint64_t)bytes, (int)cnt))
            return die("bad --drop '%s' (DC:BYTES:COUNT)", o->drops[i]);
    }
    static const char *const kinds[] = { "drop", "seq", "combine", "too-long", "diff-too-long" };
    for (int i = 0; i < o->nu; i++) {
        char *f[3];
        long long user, cnt;
        int kind = 0;
        if (split(o->upds[i], f, 3) == 3)
            for (int k = 0; k < 5; k++)
                if (strcmp(f[0], kinds[k]) == 0)
                    kind = MTP_SERVER_UPD_DROP + k;
        if (!kind || !parse_long(f[1], 0, INT64_MAX, &user) ||
            !parse_long(f[2], -1, 1 << 30, &cnt) ||
            mtp_server_fault_updates(srv, (int64_t)user, kind, (int)cnt))
            return die("bad --updates '%s' (KIND:USER:COUNT)", o->upds[i]);
    }
    return 0;
}

/* Everything after the server exists: the public key file, signals, listening, the ready
 * line, serving. Returns the exit code. */
static int serve(mtp_server_t *srv, const opts_t *o)
{
    if (o->pubkey_out) {
        FILE *f = fopen(o->pubkey_out, "w");
        const char *pem = mtp_server_public_pem(srv);
        if (!f || fputs(pem, f) < 0 || fclose(f))
            return die("cannot write %s", o->pubkey_out);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = mtp_server_start(srv);
    if (rc)
        return die("cannot listen: %s", mtp_strerror(rc));
    char line[4096];
    int n = mtp_server_ready_json(srv, line, sizeof line);
    if (n < 0 || (size_t)n >= sizeof line)
        return die("%s", "internal error (ready line)");
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    rc = mtp_server_run(srv);
    if (rc) {
        fprintf(stderr, "mtproto-harness: %s\n", mtp_strerror(rc));
        return 1;
    }
    return 0;
}

static void free_opts(opts_t *o)
{
    free(o->pw);
    free(o->faults);
    free(o->delays);
    free(o->drops);
    free(o->upds);
}

int main(int argc, char **argv)
{
    opts_t *o = &g_opts;
    int rc = parse_args(argc, argv, o);
    if (rc >= 0)
        return rc;
    o->cfg.log = on_log;

    /* many connections: use every file descriptor we may */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    rc = mtp_server_new(&o->cfg, &g_srv);
    if (rc)
        return die("%s", g_log_err[0] ? g_log_err : "cannot create the server");
    rc = add_faults(g_srv, o);
    if (!rc && o->control) {
        int cr = mtp_server_control_open(g_srv, o->control);
        if (cr)
            rc = die("cannot open --control %s", o->control);
        else if (mtp_server_control_port(g_srv))
            fprintf(stderr, "mtproto-harness: control channel on 127.0.0.1:%d\n",
                    mtp_server_control_port(g_srv));
    }
    if (!rc)
        rc = serve(g_srv, o);
    mtp_server_free(g_srv);
    free_opts(o);
    return rc;
}
