/*
 * The harness against greedy and hostile peers (issue 13): session floods, key-exchange
 * floods, half frames, the budgets of mtp_server_config_t.limits and their counters,
 * secrets in the trace, the state directory's files, invokeAfterMsg(s).
 */
#include "testutil.h"
#include "test_harness_client.h"
#include "test_intermediate.h"

#include <mtproto/crypto.h>
#include <mtproto/envelope.h>
#include <mtproto/handshake.h>
#include <mtproto/server.h>
#include <mtproto/session.h>
#include <mtproto/tl_mtproto.h>

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/stat.h>

static char *priv_pem;          /* one RSA key for every server here (generation is slow) */
static mtp_rsa_key_t *pub;
static mtp_arena_t *A;
static mtp_server_t *srv;
static uint16_t ports[3];

static mtp_bytes_t S(const char *s)
{
    return (mtp_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static void cfg_base(mtp_server_config_t *c)
{
    mtp_server_config_init(c);
    c->rsa_key_pem = priv_pem;
    c->has_seed = true;
    c->seed = 7;
}

static bool start(const mtp_server_config_t *c)
{
    if (mtp_server_new(c, &srv) || mtp_server_start_thread(srv))
        return false;
    return mtp_server_ports(srv, ports, 3) >= 1;
}

static void stop(void)
{
    mtp_server_stop(srv);
    mtp_server_free(srv);
    srv = NULL;
}

static mtp_server_stats_t stats(void)
{
    mtp_server_stats_t st;
    mtp_server_stats(srv, &st);
    return st;
}

/* The housekeeping timer publishes sessions/keys every 250 ms: wait for a condition. */
#define WAIT_FOR(cond, ms)                                                                 \
    do {                                                                                   \
        double until_ = tu_now() + (ms) / 1000.0;                                          \
        while (!(cond) && tu_now() < until_)                                               \
            usleep(50000);                                                                 \
    } while (0)

/* ---- raw encrypted packets on a connection of our own ---- */

typedef struct raw {
    int fd;
    ifr_t t;
    bool eof;
} raw_t;

static bool raw_open(raw_t *r, uint16_t port)
{
    memset(r, 0, sizeof *r);
    r->fd = hc_tcp(port);
    ifr_init(&r->t);
    return r->fd >= 0;
}

static bool raw_send(raw_t *r, const mtp_auth_key_t *key, int64_t salt, int64_t sid,
                     const uint8_t *body, size_t len)
{
    static int64_t last;
    int64_t msg_id = (int64_t)(((uint64_t)time(NULL) << 32) | ((uint64_t)rand() << 2));
    if (msg_id <= last)
        msg_id = last + 4;
    last = msg_id;
    mtp_buf_t pkt, fr;
    mtp_buf_init(&pkt);
    mtp_buf_init(&fr);
    mtp_envelope_encrypt(key, MTP_ROLE_CLIENT, salt, sid, msg_id, 1, body, len, NULL, &pkt,
                         NULL);
    ifr_frame(&r->t, pkt.data, pkt.len, &fr);
    bool ok = hc_write_all(r->fd, fr.data, fr.len, 2000);
    mtp_buf_free(&pkt);
    mtp_buf_free(&fr);
    return ok;
}

/* Read (and drop) whatever comes for up to ms; true once the server closed. */
static bool raw_wait_eof(raw_t *r, int ms)
{
    double until = tu_now() + ms / 1000.0;
    uint8_t buf[65536];
    while (!r->eof && tu_now() < until) {
        struct pollfd pf = { r->fd, POLLIN, 0 };
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t n = recv(r->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            r->eof = true;
    }
    return r->eof;
}

static void raw_close(raw_t *r)
{
    ifr_free(&r->t);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A session flood: n packets (pings) with new session ids on one connection. */
static int flood_sessions(raw_t *r, const hc_t *h, int n)
{
    uint8_t ping[12] = { 0xec, 0x77, 0xbe, 0x7a };
    int sent = 0;
    for (int i = 0; i < n; i++) {
        ping[4] = (uint8_t)i;
        if (!raw_send(r, &h->key, h->salt, 0x1000 + i, ping, sizeof ping))
            break;
        sent++;
    }
    return sent;
}

static void test_sessions(void)
{
    mtp_server_config_t c;
    cfg_base(&c);
    c.limits.session_ttl = 1 * MTP_USEC_PER_SEC;
    if (!start(&c))
        tap_bail("cannot start a harness");
    hc_t h;
    int rc = hc_open(&h, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0);
    OK(rc == 0, "key exchange");
    long rss0 = rss_kb();
    raw_t r;
    raw_open(&r, ports[0]);
    flood_sessions(&r, &h, 200);
    bool closed = raw_wait_eof(&r, 3000);
    mtp_server_stats_t st;
    WAIT_FOR((st = stats()).sessions > 0, 1000);
    long rss1 = rss_kb();
    OK(closed, "a connection opening 200 sessions is closed");
    OK(st.sessions <= 8 && st.limit_sessions >= 1,
       "at most sessions_per_conn (8) made: %" PRIu64 ", limit_sessions %" PRIu64, st.sessions,
       st.limit_sessions);
    tap_diag("RSS %ld kB before the flood, %ld kB after (%" PRIu64 " sessions)", rss0, rss1,
             st.sessions);
    raw_close(&r);
    hc_close(&h);
    WAIT_FOR((st = stats()).sessions == 0, 3000);
    OK(st.sessions == 0, "sessions of closed connections expire after session_ttl");
    stop();

    /* per key: the oldest idle session makes room; in total: refused, closed */
    cfg_base(&c);
    c.limits.sessions_per_key = 4;
    c.limits.sessions = 6;
    c.limits.sessions_per_conn = 1000;
    if (!start(&c))
        tap_bail("cannot start a harness");
    rc = hc_open(&h, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0);
    for (int i = 0; i < 3; i++) {   /* three connections of one session each, then closed */
        raw_open(&r, ports[0]);
        uint8_t ping[12] = { 0xec, 0x77, 0xbe, 0x7a, (uint8_t)i };
        raw_send(&r, &h.key, h.salt, 0x2000 + i, ping, sizeof ping);
        raw_wait_eof(&r, 300);
        raw_close(&r);
    }
    raw_open(&r, ports[0]);
    flood_sessions(&r, &h, 10);
    closed = raw_wait_eof(&r, 2000);
    WAIT_FOR((st = stats()).limit_sessions >= 2, 1000);
    OK(rc == 0 && st.sessions <= 4 && st.limit_sessions >= 1,
       "sessions_per_key 4: %" PRIu64 " sessions, limit_sessions %" PRIu64, st.sessions,
       st.limit_sessions);
    raw_close(&r);
    hc_t h2;
    rc = hc_open(&h2, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0);
    raw_t r2;
    raw_open(&r2, ports[0]);
    flood_sessions(&r2, &h2, 10);
    closed = raw_wait_eof(&r2, 2000);
    WAIT_FOR((st = stats()).sessions >= 6, 1000);
    OK(rc == 0 && closed && st.sessions <= 6,
       "sessions 6 in total: a second key's flood is closed at %" PRIu64, st.sessions);
    raw_close(&r2);
    hc_close(&h);
    hc_close(&h2);
    stop();
}

/* ---- keys ---- */

static bool key_then_ping(int dc, hc_t *h)
{
    if (hc_open(h, ports[dc - 1], MTP_TRANSPORT_INTERMEDIATE, false, pub, dc, NULL, 0))
        return false;
    mtp_help_getNearestDc_t *q = MTP_NEW(A, help_getNearestDc);
    return hc_call_obj(h, q, true, 3000) == 0;
}

/* Key exchanges one after the other on one raw connection: how many completed (the
 * client side got dh_gen_ok) before the server closed it. */
static int exchanges_on_one_conn(uint16_t port, int tries, bool *closed)
{
    raw_t r;
    raw_open(&r, port);
    const mtp_rsa_key_t *keys[1] = { pub };
    mtp_hs_client_config_t hc;
    memset(&hc, 0, sizeof hc);
    hc.rsa_keys = keys;
    hc.n_rsa_keys = 1;
    hc.dc_id = 1;
    int done = 0;
    uint8_t buf[65536];
    for (int i = 0; i < tries && !r.eof; i++) {
        mtp_hs_client_t *c = NULL;
        mtp_buf_t out, fr;
        mtp_buf_init(&out);
        mtp_buf_init(&fr);
        if (mtp_hs_client_new(&hc, &c) || mtp_hs_client_start(c, hc_now(), &out))
            break;
        double until = tu_now() + 5.0;
        while (mtp_hs_client_state(c) != MTP_HS_DONE && tu_now() < until && !r.eof) {
            if (out.len) {
                mtp_buf_clear(&fr);
                ifr_frame(&r.t, out.data, out.len, &fr);
                hc_write_all(r.fd, fr.data, fr.len, 1000);
                mtp_buf_clear(&out);
            }
            struct pollfd pf = { r.fd, POLLIN, 0 };
            if (poll(&pf, 1, 50) <= 0)
                continue;
            ssize_t n = recv(r.fd, buf, sizeof buf, 0);
            if (n <= 0) {
                r.eof = true;
                break;
            }
            ifr_feed(&r.t, buf, (size_t)n);
            const uint8_t *pkt;
            size_t plen;
            while (ifr_next(&r.t, &pkt, &plen))
                if (mtp_hs_client_feed(c, hc_now(), pkt, plen, &out))
                    until = 0;
        }
        if (mtp_hs_client_state(c) == MTP_HS_DONE)
            done++;
        mtp_hs_client_free(c);
        mtp_buf_free(&out);
        mtp_buf_free(&fr);
    }
    *closed = r.eof || raw_wait_eof(&r, 1000);
    raw_close(&r);
    return done;
}

static void test_keys(void)
{
    mtp_server_config_t c;
    cfg_base(&c);
    c.limits.keys = 2;
    c.limits.key_unused_ttl = 1 * MTP_USEC_PER_SEC;
    c.limits.session_ttl = 1 * MTP_USEC_PER_SEC;
    if (!start(&c))
        tap_bail("cannot start a harness");
    hc_t h[3];
    bool ok0 = key_then_ping(1, &h[0]), ok1 = key_then_ping(1, &h[1]);
    bool ok2 = key_then_ping(1, &h[2]);
    mtp_server_stats_t st = stats();
    OK(ok0 && ok1 && !ok2 && st.limit_keys == 1 && st.key_exchanges == 2,
       "keys 2: the third key is not kept (limit_keys %" PRIu64 ", %" PRIu64 " made)",
       st.limit_keys, st.key_exchanges);
    for (int i = 0; i < 3; i++)
        hc_close(&h[i]);
    WAIT_FOR((st = stats()).keys_expired == 2 && st.keys == 0, 4000);
    OK(st.keys == 0 && st.keys_expired == 2,
       "unused permanent keys expire after key_unused_ttl (%" PRIu64 " expired)",
       st.keys_expired);
    OK(key_then_ping(1, &h[0]), "after that, new keys are made again");
    hc_close(&h[0]);
    stop();

    cfg_base(&c);
    c.limits.key_exchanges_per_conn = 2;
    if (!start(&c))
        tap_bail("cannot start a harness");
    bool closed = false;
    int made = exchanges_on_one_conn(ports[0], 5, &closed);
    st = stats();
    OK(made == 3 && closed && st.key_exchanges == 2 && st.limit_keys == 1,
       "key_exchanges_per_conn 2: the third key on one connection is not kept, the "
       "connection closed (%d done, %" PRIu64 " kept)", made, st.key_exchanges);
    stop();

    cfg_base(&c);
    c.limits.key_exchanges_per_addr = 2;
    if (!start(&c))
        tap_bail("cannot start a harness");
    ok0 = key_then_ping(1, &h[0]);
    ok1 = key_then_ping(2, &h[1]);
    ok2 = key_then_ping(3, &h[2]);
    st = stats();
    OK(ok0 && ok1 && !ok2 && st.limit_keys == 1,
       "key_exchanges_per_addr 2: the third exchange from 127.0.0.1 is refused");
    for (int i = 0; i < 3; i++)
        hc_close(&h[i]);
    stop();
}

/* ---- frames ---- */

static void test_frames(void)
{
    mtp_server_config_t c;
    cfg_base(&c);
    c.limits.frame_timeout = 1 * MTP_USEC_PER_SEC;
    c.limits.max_input = 100000;
    if (!start(&c))
        tap_bail("cannot start a harness");
    /* intermediate: tag, then a 16 MiB length */
    uint8_t big[8] = { 0xee, 0xee, 0xee, 0xee, 0x00, 0x00, 0x00, 0x01 };
    raw_t r;
    raw_open(&r, ports[0]);
    hc_write_all(r.fd, big, sizeof big, 1000);
    double t0 = tu_now();
    bool closed = raw_wait_eof(&r, 3000);
    OK(closed && tu_now() - t0 < 1.0, "a frame announced at 16 MiB (> max_frame) closes at once");
    raw_close(&r);

    uint8_t half[8 + 1000] = { 0xee, 0xee, 0xee, 0xee, 0x00, 0x08, 0x00, 0x00 };   /* 2048 */
    raw_open(&r, ports[0]);
    hc_write_all(r.fd, half, sizeof half, 1000);
    t0 = tu_now();
    closed = raw_wait_eof(&r, 4000);
    double took = tu_now() - t0;
    mtp_server_stats_t st = stats();
    OK(closed && took > 0.7 && st.limit_frame == 1,
       "an incomplete frame is dropped after frame_timeout (1 s): %.2f s, limit_frame %" PRIu64,
       took, st.limit_frame);
    raw_close(&r);

    /* max_input 100000: two connections of 60000 buffered bytes each */
    static uint8_t part[8 + 60000] = { 0xee, 0xee, 0xee, 0xee, 0x00, 0x00, 0x02, 0x00 };
    raw_t r2;
    raw_open(&r, ports[0]);
    raw_open(&r2, ports[0]);
    hc_write_all(r.fd, part, sizeof part, 1000);
    bool first_open = !raw_wait_eof(&r, 300);
    WAIT_FOR(stats().input_bytes >= 60000, 1000);
    hc_write_all(r2.fd, part, sizeof part, 1000);
    closed = raw_wait_eof(&r2, 2000);
    st = stats();
    OK(first_open && closed && st.limit_input == 1,
       "max_input: the connection that would pass it is closed (limit_input %" PRIu64 ")",
       st.limit_input);
    raw_close(&r);
    raw_close(&r2);
    WAIT_FOR(stats().input_bytes == 0, 1000);
    OK(stats().input_bytes == 0, "buffered input is given back when connections close");
    stop();
}

/* ---- the trace: file mode, secrets ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap + 1);
    size_t r;
    while ((r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            p = realloc(p, (cap *= 2) + 1);
    }
    fclose(f);
    p[n] = 0;
    if (len)
        *len = n;
    return p;
}

static char log_buf[1 << 16];
static size_t log_len;
static void on_log(void *user, mtp_log_level_t level, const char *line)
{
    (void)user;
    (void)level;
    size_t n = strlen(line);
    if (log_len + n + 1 < sizeof log_buf) {
        memcpy(log_buf + log_len, line, n);
        log_len += n;
        log_buf[log_len++] = '\n';
    }
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* A full login with 2FA (send code, sign in, password), then an exported authorization;
 * the secrets it used go to sec[] as they appear in a trace (hex for bytes). */
static int login_2fa(char sec[][600], int *nsec)
{
    mtp_arena_reset(A);
    hc_t h;
    int rc = hc_open(&h, ports[1], MTP_TRANSPORT_INTERMEDIATE, false, pub, 2, NULL, 0);
    const char *api_hash = "feedfacecafe0123456789abcdef4242";
    mtp_auth_sendCode_t *q = MTP_NEW(A, auth_sendCode);
    q->phone_number = S("9996621111");
    q->api_id = 12345;
    q->api_hash = S(api_hash);
    q->settings = &MTP_NEW(A, codeSettings)->_;
    hc_call_obj(&h, q, true, 5000);
    mtp_tl_object_t *o = hc_result(&h, A, NULL);
    if (rc || !o || o->tl != &mtp_tlc_auth_sentCode)
        return -1;
    mtp_bytes_t hash = ((mtp_auth_sentCode_t *)o)->phone_code_hash;
    mtp_auth_signIn_t *si = MTP_NEW(A, auth_signIn);
    si->phone_number = S("9996621111");
    si->phone_code_hash = hash;
    si->has_phone_code = true;
    si->phone_code = S("22222");
    hc_call_obj(&h, si, false, 5000);
    mtp_account_getPassword_t *gp = MTP_NEW(A, account_getPassword);
    hc_call_obj(&h, gp, false, 5000);
    o = hc_result(&h, A, NULL);
    if (!o || o->tl != &mtp_tlc_account_password)
        return -2;
    mtp_account_password_t *p = (void *)o;
    mtp_passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow_t *al =
        (void *)p->current_algo;
    mtp_srp_algo_t sa = { al->salt1.ptr, al->salt1.len, al->salt2.ptr, al->salt2.len, al->g,
                          al->p.ptr, al->p.len };
    uint8_t Aa[256], M1[32];
    if (mtp_srp_client_compute(&sa, (const uint8_t *)"hunter2", 7, p->srp_B.ptr, p->srp_B.len,
                               NULL, 0, Aa, M1))
        return -3;
    int n = 0;
    snprintf(sec[n++], 600, "%s", api_hash);
    snprintf(sec[n++], 600, "\"22222\"");
    hex(p->srp_B.ptr, p->srp_B.len > 256 ? 256 : p->srp_B.len, sec[n++]);
    hex(Aa, 256, sec[n++]);
    hex(M1, 32, sec[n++]);
    snprintf(sec[n++], 600, "hunter2");
    mtp_auth_checkPassword_t *cp = MTP_NEW(A, auth_checkPassword);
    mtp_inputCheckPasswordSRP_t *in = MTP_NEW(A, inputCheckPasswordSRP);
    in->srp_id = p->srp_id;
    in->A = (mtp_bytes_t){ Aa, 256 };
    in->M1 = (mtp_bytes_t){ M1, 32 };
    cp->password = &in->_;
    hc_call_obj(&h, cp, false, 5000);
    o = hc_result(&h, A, NULL);
    if (!o || o->tl != &mtp_tlc_auth_authorization)
        return -4;
    mtp_auth_exportAuthorization_t *ex = MTP_NEW(A, auth_exportAuthorization);
    ex->dc_id = 1;
    hc_call_obj(&h, ex, false, 5000);
    o = hc_result(&h, A, NULL);
    if (!o || o->tl != &mtp_tlc_auth_exportedAuthorization)
        return -5;
    hex(((mtp_auth_exportedAuthorization_t *)o)->bytes.ptr, 32, sec[n++]);
    hex(h.key.key, sizeof h.key.key, sec[n++]);   /* the auth key itself */
    *nsec = n;
    hc_close(&h);
    return 0;
}

static void test_trace(const char *dir)
{
    static const char *names[] = { "api_hash", "phone_code", "srp_B", "A", "M1", "password",
                                   "exported bytes", "auth key" };
    char path[300], link[300];
    snprintf(path, sizeof path, "%s/trace.jsonl", dir);
    FILE *f = fopen(path, "w");   /* a leftover of other permissions */
    if (f)
        fclose(f);
    chmod(path, 0644);
    static const mtp_server_password_t pw[] = { { "9996621111", "hunter2" } };
    for (int pass = 0; pass < 2; pass++) {
        mtp_server_config_t c;
        cfg_base(&c);
        c.passwords = pw;
        c.n_passwords = 1;
        c.trace_path = path;
        c.log = on_log;
        c.log_level = MTP_LOG_DEBUG;
        c.trace_secrets = pass == 1;
        log_len = 0;
        if (!start(&c))
            tap_bail("cannot start a harness");
        struct stat sb;
        memset(&sb, 0, sizeof sb);
        int src = stat(path, &sb);
        unsigned mode = (unsigned)(sb.st_mode & 0777);
        OK(src == 0 && mode == 0600, "the trace file is 0600 (%o)", mode);
        char sec[8][600];
        int nsec = 0;
        int rc = login_2fa(sec, &nsec);
        stop();
        OK(rc == 0 && nsec == 8, "login with 2FA and an export, traced (%d)", rc);
        size_t len = 0;
        char *t = slurp(path, &len);
        OK(t && len > 1000 && strstr(t, "auth.checkPassword"), "the trace has the login (%zu bytes)",
           len);
        for (int i = 0; t && i < nsec; i++) {
            bool in_trace = strstr(t, sec[i]) != NULL, in_log = strstr(log_buf, sec[i]) != NULL;
            if (pass == 0)
                OK(!in_trace && !in_log, "no %s in the trace or the log", names[i]);
            else if (i < 7 && i != 5)   /* the password and the auth key never go on the wire */
                OK(in_trace, "--trace-secrets: the %s is shown", names[i]);
        }
        if (pass == 0)
            OK(t && strstr(t, "[redacted]"), "secret fields read \"[redacted]\"");
        free(t);
        unlink(path);
    }
    /* a symlink at the trace path is not followed */
    snprintf(link, sizeof link, "%s/victim", dir);
    f = fopen(link, "w");
    if (f)
        fclose(f);
    symlink(link, path);
    mtp_server_config_t c;
    cfg_base(&c);
    c.trace_path = path;
    int rc = mtp_server_new(&c, &srv);
    OK(rc != 0, "a trace path that is a symlink is refused");
    if (!rc)
        mtp_server_free(srv);
    srv = NULL;
    unlink(path);
    unlink(link);
}

/* ---- the state directory ---- */

static void test_state(const char *dir)
{
    char sd[300], p[600], victim[400];
    snprintf(sd, sizeof sd, "%s/state", dir);
    mkdir(sd, 0755);
    chmod(sd, 0755);
    mtp_server_config_t c;
    cfg_base(&c);
    c.state_dir = sd;
    c.log = on_log;
    log_len = 0;
    log_buf[0] = 0;
    int rc = mtp_server_new(&c, &srv);
    OK(rc == MTP_ESECURITY && strstr(log_buf, "chmod 700"),
       "a state directory open to others is refused: %s", log_buf);
    if (!rc)
        mtp_server_free(srv);
    srv = NULL;
    chmod(sd, 0700);
    /* a planted temp file (a symlink to a victim) is neither followed nor kept */
    snprintf(victim, sizeof victim, "%s/victim", dir);
    FILE *f = fopen(victim, "w");
    if (f) {
        fputs("precious", f);
        fclose(f);
    }
    snprintf(p, sizeof p, "%s/keys.tmp", sd);
    symlink(victim, p);
    if (!start(&c))
        tap_bail("cannot start a harness on %s", sd);
    hc_t h;
    rc = hc_open(&h, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0);
    hc_close(&h);
    stop();
    size_t vl = 0;
    char *v = slurp(victim, &vl);
    OK(rc == 0 && v && strcmp(v, "precious") == 0, "the planted symlink's target is untouched");
    free(v);
    snprintf(p, sizeof p, "%s/keys", sd);
    struct stat sb;
    OK(lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0777) == 0600,
       "the keys file is a regular file, 0600");
    DIR *d = opendir(sd);
    bool all_private = d != NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", sd, e->d_name);
        if (lstat(p, &sb) == 0 && (sb.st_mode & 077))
            all_private = false;
    }
    if (d)
        closedir(d);
    OK(all_private, "nothing in the state directory is open to group or others");
    unlink(victim);
}

/* ---- invokeAfterMsg, pending budgets, uploads, exports ---- */

static int login(hc_t *h, uint16_t port, int dc, const char *phone)
{
    mtp_arena_reset(A);
    int rc = hc_open(h, port, MTP_TRANSPORT_INTERMEDIATE, false, pub, dc, NULL, 0);
    if (rc)
        return rc;
    mtp_auth_sendCode_t *q = MTP_NEW(A, auth_sendCode);
    q->phone_number = S(phone);
    q->api_id = 12345;
    q->api_hash = S("0123456789abcdef0123456789abcdef");
    q->settings = &MTP_NEW(A, codeSettings)->_;
    if ((rc = hc_call_obj(h, q, true, 5000)))
        return rc;
    mtp_tl_object_t *o = hc_result(h, A, NULL);
    if (!o || o->tl != &mtp_tlc_auth_sentCode)
        return MTP_EPROTO;
    mtp_auth_signIn_t *si = MTP_NEW(A, auth_signIn);
    si->phone_number = S(phone);
    si->phone_code_hash = ((mtp_auth_sentCode_t *)o)->phone_code_hash;
    si->has_phone_code = true;
    char code[6];
    memset(code, '0' + dc, 5);
    code[5] = 0;
    si->phone_code = S(code);
    return hc_call_obj(h, si, false, 5000);
}

/* Calls in flight on h: wait for all, recording the order of the answers. */
static int collect(hc_t *h, const int64_t *ids, int n, int *order, int32_t *codes, char msgs[][64])
{
    int got = 0;
    double until = tu_now() + 6.0;
    while (got < n && tu_now() < until && !h->eof) {
        hc_step(h, 20);
        mtp_conn_event_t ev;
        while (mtp_conn_next_event(h->c, &ev) == 1) {
            if (ev.type != MTP_CONN_EV_SESSION || ev.sev.type != MTP_SESSION_EV_RESULT)
                continue;
            for (int i = 0; i < n; i++)
                if ((int64_t)ev.sev.call_id == ids[i]) {
                    order[got] = i;
                    codes[i] = ev.sev.err == MTP_ERPC ? ev.sev.rpc_error.code : ev.sev.err;
                    msgs[i][0] = 0;
                    if (ev.sev.err == MTP_ERPC)
                        snprintf(msgs[i], 64, "%.*s", (int)ev.sev.rpc_error.message.len,
                                 (const char *)ev.sev.rpc_error.message.ptr);
                    got++;
                }
        }
    }
    return got;
}

static void test_after_msgs(void)
{
    mtp_server_config_t c;
    cfg_base(&c);
    c.limits.pending_per_conn = 3;
    c.limits.pending = 5;
    c.limits.upload_bytes = 3000;
    c.limits.exports = 1;
    c.trace_path = getenv("HOSTILE_TRACE");   /* debugging aid */
    if (!start(&c))
        tap_bail("cannot start a harness");
    hc_t h;
    int rc = login(&h, ports[0], 1, "9996611234");
    OK(rc == 0, "logged in on DC 1");
    mtp_buf_t b1, b2;
    mtp_buf_init(&b1);
    mtp_buf_init(&b2);
    mtp_tl_encode(&MTP_NEW(A, help_getConfig)->_, &b1);
    mtp_tl_encode(&MTP_NEW(A, help_getNearestDc)->_, &b2);

    /* the first answer is delayed 600 ms: the second, invokeAfterMsg(first), comes after */
    mtp_server_fault_delay(srv, "help.getConfig", 1, 600 * 1000);
    mtp_session_t *s = mtp_conn_session(h.c);
    mtp_usec_t now = hc_now();
    int64_t ids[3];
    ids[0] = mtp_session_call(s, b1.data, b1.len, 0, NULL, now);
    mtp_conn_flush(h.c, now);   /* the first has its msg_id before the second names it */
    ids[1] = mtp_session_call_after(s, b2.data, b2.len, 0, (uint64_t)ids[0], NULL, now);
    mtp_conn_flush(h.c, now);
    int order[3] = { -1, -1, -1 };
    int32_t codes[3];
    char msgs[3][64];
    int got = collect(&h, ids, 2, order, codes, msgs);
    OK(got == 2 && order[0] == 0 && order[1] == 1 && codes[0] == 0 && codes[1] == 0,
       "invokeAfterMsg: answered after the delayed query it names (order %d %d)", order[0],
       order[1]);

    /* the named query fails: MSG_WAIT_FAILED */
    mtp_server_fault_rpc(srv, "help.getConfig", 1, 400, "SOMETHING_WRONG");
    now = hc_now();
    ids[0] = mtp_session_call(s, b1.data, b1.len, 0, NULL, now);
    mtp_conn_flush(h.c, now);   /* the first has its msg_id before the second names it */
    ids[1] = mtp_session_call_after(s, b2.data, b2.len, 0, (uint64_t)ids[0], NULL, now);
    mtp_conn_flush(h.c, now);
    got = collect(&h, ids, 2, order, codes, msgs);
    OK(got == 2 && codes[0] == 400 && codes[1] == 400 && strcmp(msgs[1], "MSG_WAIT_FAILED") == 0,
       "invokeAfterMsg after a failed query -> 400 MSG_WAIT_FAILED (%s)", msgs[1]);

    /* pending_per_conn 3: a fourth answer held back is refused */
    mtp_server_fault_delay(srv, "help.getConfig", 4, 500 * 1000);
    now = hc_now();
    int64_t id4[4];
    for (int i = 0; i < 4; i++)
        id4[i] = mtp_session_call(s, b1.data, b1.len, 0, NULL, now);
    mtp_conn_flush(h.c, now);
    int o4[4];
    int32_t c4[4];
    char m4[4][64];
    got = collect(&h, id4, 4, o4, c4, m4);
    mtp_server_stats_t st = stats();
    OK(got == 4 && c4[3] == 420 && strcmp(m4[3], "FLOOD_WAIT_1") == 0 && c4[0] == 0 &&
           st.limit_pending == 1,
       "pending_per_conn 3: the fourth delayed answer -> 420 FLOOD_WAIT_1");
    mtp_server_fault_clear(srv);

    /* pending 5 in total: three held for h, two more for a second connection, its third
     * refused */
    hc_t g;
    rc = hc_open(&g, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0);
    if (!rc)
        rc = hc_call_init(&g, MTP_TL_DEFAULT_LAYER, b2.data, b2.len, 3000);
    mtp_server_fault_delay(srv, "help.getConfig", 6, 500 * 1000);
    now = hc_now();
    for (int i = 0; i < 3; i++)
        id4[i] = mtp_session_call(s, b1.data, b1.len, 0, NULL, now);
    mtp_conn_flush(h.c, now);
    hc_flush(&h);
    usleep(100000);   /* h's three are held before g's arrive */
    mtp_session_t *gs = mtp_conn_session(g.c);
    int64_t gid[3];
    for (int i = 0; i < 3; i++)
        gid[i] = mtp_session_call(gs, b1.data, b1.len, 0, NULL, now);
    mtp_conn_flush(g.c, now);
    hc_flush(&g);
    int go[3];
    int32_t gc[3];
    char gm[3][64];
    int got_h = collect(&h, id4, 3, o4, c4, m4);
    got = collect(&g, gid, 3, go, gc, gm);
    st = stats();
    OK(rc == 0 && got_h == 3 && got == 3 && c4[0] == 0 && c4[1] == 0 && c4[2] == 0 &&
           gc[0] == 0 && gc[1] == 0 && gc[2] == 420 && strcmp(gm[2], "FLOOD_WAIT_1") == 0 &&
           st.limit_pending == 2,
       "pending 5 in total: the sixth answer held back -> 420 FLOOD_WAIT_1 (%s)", gm[2]);
    hc_close(&g);
    mtp_server_fault_clear(srv);

    /* upload_bytes 3000: parts beyond it -> FLOOD_WAIT_5 */
    uint8_t data[2000];
    memset(data, 7, sizeof data);
    mtp_upload_saveFilePart_t *sp = MTP_NEW(A, upload_saveFilePart);
    sp->file_id = 99;
    sp->file_part = 0;
    sp->bytes = (mtp_bytes_t){ data, sizeof data };
    hc_call_obj(&h, sp, false, 3000);
    bool first = h.err == 0;
    sp->file_part = 1;
    hc_call_obj(&h, sp, false, 3000);
    st = stats();
    OK(first && hc_is_err(&h, 420, "FLOOD_WAIT_5") && st.limit_uploads == 1,
       "upload_bytes 3000: the second 2000-byte part -> 420 FLOOD_WAIT_5");

    /* exports 1 */
    mtp_auth_exportAuthorization_t *ex = MTP_NEW(A, auth_exportAuthorization);
    ex->dc_id = 2;
    hc_call_obj(&h, ex, false, 3000);
    first = h.err == 0;
    hc_call_obj(&h, ex, false, 3000);
    st = stats();
    OK(first && hc_is_err(&h, 420, "FLOOD_WAIT_1") && st.limit_exports == 1,
       "exports 1: a second live exported authorization -> 420 FLOOD_WAIT_1");
    mtp_buf_free(&b1);
    mtp_buf_free(&b2);
    hc_close(&h);
    stop();
}

int main(void)
{
    A = mtp_arena_new(0);
    mtp_rsa_key_t *k = NULL;
    size_t len = 0;
    if (mtp_rsa_generate(2048, &k))
        tap_bail("cannot generate an RSA key");
    mtp_rsa_private_pem(k, NULL, 0, &len);
    priv_pem = malloc(len + 1);
    if (!priv_pem || mtp_rsa_private_pem(k, priv_pem, len + 1, &len))
        tap_bail("cannot export the RSA key");
    char pem[4096];
    size_t pl = 0;
    if (mtp_rsa_public_pem(k, pem, sizeof pem, &pl) ||
        mtp_rsa_load_public_pem(pem, strlen(pem), &pub))
        tap_bail("cannot load the public key");
    mtp_rsa_free(k);
    char dir[200];
    snprintf(dir, sizeof dir, "/tmp/test_harness_hostile.%d", (int)getpid());
    mkdir(dir, 0700);

    test_sessions();
    test_keys();
    test_frames();
    test_trace(dir);
    test_state(dir);
    test_after_msgs();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("cannot remove %s", dir);
    mtp_secure_zero(priv_pem, len);
    free(priv_pem);
    mtp_rsa_free(pub);
    mtp_arena_free(A);
    return tap_done();
}
