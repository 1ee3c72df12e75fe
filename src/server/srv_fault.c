/*
 * libmtproto harness — the fault engine: rules written as a spec ("drop:0.1",
 * "bad-salt:5", "migrate:PHONE:2,count=3", ...), added with mtp_server_fault_add() (the
 * command line's --fault SPEC, the control channel), applied at five points:
 *
 *   accept   accept-close
 *   query    rpc errors (and their aliases), bad-msg, transport-error, bad-salt,
 *            new-session, delay, reorder, file-stall, forget-keys, restart
 *   after    drop (the answer's connection is lost before it is written: the session keeps
 *            the answer and sends it on the next connection), silent, reset, container-mix
 *   answer   duplicate (rpc_result twice, or again inside msg_copy), file-short
 *   output   silent (output discarded), bw (a byte rate per connection), cut
 *   clock    clock-skew (the server's clock runs SECONDS ahead or behind)
 *
 * Every rule takes options after commas: method=NAME (queries of that method only),
 * count=N (uses, default forever), skip=N (let the first N matches pass), every=N (only
 * every Nth match), p=P (each match fires with probability P), dc=N (that DC only).
 * Randomness comes from the server's --seed (a run repeats), else from the CSPRNG.
 * Rules live under srv->mu; the actions run on the loop thread.
 */
#include "server_int.h"
#include "srv_api_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    FX_DROP = 1, FX_DELAY, FX_SILENT, FX_CUT, FX_RESET, FX_ACCEPT_CLOSE, FX_BW,
    FX_BAD_SALT, FX_SKEW, FX_NEW_SESSION, FX_BAD_MSG, FX_DUP, FX_REORDER, FX_MIX,
    FX_RPC, FX_TRANSPORT, FX_FORGET_KEYS, FX_RESTART, FX_STALL, FX_SHORT
};

enum { ST_ACCEPT = 1, ST_QUERY, ST_AFTER, ST_ANSWER, ST_OUTPUT, ST_CLOCK };

typedef struct fx_rule {
    int id, kind, stage;
    char spec[160];
    char method[96];            /* "" = any */
    int64_t a, b;               /* the numeric arguments of the kind */
    double p;                   /* probability of firing on a match */
    int count;                  /* uses left (< 0 forever) */
    uint64_t skip, every, seen, hits;
    int dc;
    int32_t code;
    char msg[64];
    bool variant;               /* duplicate:P:copy */
} fx_rule_t;

#define FX_MAX 64
#define FX_FIRED 8

struct srv_fx {
    fx_rule_t r[FX_MAX];
    int n;
    int next_id;
    uint64_t rng;
    mtp_usec_t skew;
};

/* ---- helpers ---- */

static uint64_t fx_rand(srv_fx_t *fx)   /* splitmix64 (srv->mu held) */
{
    uint64_t z = (fx->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double fx_unit(srv_fx_t *fx)
{
    return (double)(fx_rand(fx) >> 11) / 9007199254740992.0;
}

static srv_fx_t *fx_get(srv_t *srv)   /* srv->mu held */
{
    if (!srv->fx) {
        srv->fx = calloc(1, sizeof *srv->fx);
        if (!srv->fx)
            return NULL;
        srv->fx->next_id = 1;
        srv->fx->rng = srv->cfg.has_seed ? srv->cfg.seed ^ 0x66617531ull : 0;
        if (!srv->cfg.has_seed)
            mtp_rand(NULL, &srv->fx->rng, sizeof srv->fx->rng);
    }
    return srv->fx;
}

void srv_fx_free(srv_t *srv)
{
    free(srv->fx);
    srv->fx = NULL;
}

static void fx_trace(srv_t *srv, srv_conn_t *sc, const fx_rule_t *f, const char *what)
{
    mtp_buf_t *b = srv_trace_begin(srv, "fault", sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"fault\":\"%s\",\"rule\":%d,\"spec\":", what, f->id);
    srv_json_cstr(b, f->spec);
    srv_trace_end(srv);
}

/* Whether rule f fires on this match (srv->mu held); counts the use. */
static bool fx_fire(srv_fx_t *fx, fx_rule_t *f, int dc)
{
    if (f->dc && dc && f->dc != dc)
        return false;
    f->seen++;
    if (f->seen <= f->skip)
        return false;
    if (f->every > 1 && (f->seen - f->skip) % f->every != 0)
        return false;
    if (f->p < 1.0 && fx_unit(fx) >= f->p)
        return false;
    if (f->count == 0)
        return false;
    if (f->count > 0)
        f->count--;
    f->hits++;
    return true;
}

static void fx_compact(srv_t *srv, srv_fx_t *fx)   /* drop used-up rules (srv->mu held) */
{
    int k = 0;
    for (int i = 0; i < fx->n; i++)
        if (fx->r[i].count != 0)
            fx->r[k++] = fx->r[i];
    fx->n = k;
    fx->skew = 0;
    for (int i = 0; i < fx->n; i++)
        if (fx->r[i].kind == FX_SKEW)
            fx->skew = fx->r[i].a * 1000000;
    (void)srv;
}

static bool method_ok(const fx_rule_t *f, const char *method)
{
    return !f->method[0] || strcmp(f->method, "*") == 0 ||
           (method && strcmp(f->method, method) == 0);
}

/* Fire the rules of `stage` for `method`; copies of the fired ones go to out. */
static int fx_collect(srv_t *srv, int stage, const char *method, int dc, fx_rule_t *out,
                      int max)
{
    int n = 0;
    pthread_mutex_lock(&srv->mu);
    srv_fx_t *fx = srv->fx;
    if (fx) {
        bool used = false;
        for (int i = 0; i < fx->n && n < max; i++) {
            fx_rule_t *f = &fx->r[i];
            if (f->stage != stage || !method_ok(f, method) || !fx_fire(fx, f, dc))
                continue;
            out[n] = *f;
            if (f->kind == FX_DELAY && f->b > 0)   /* the jitter, drawn here (seeded) */
                out[n].a += (int64_t)(fx_unit(fx) * (double)(f->b + 1));
            n++;
            used |= f->count == 0;
        }
        if (used)
            fx_compact(srv, fx);
        srv->stats.faults_injected += (uint64_t)n;
    }
    pthread_mutex_unlock(&srv->mu);
    return n;
}

/* ---- parsing ---- */

static const struct kind_name {
    const char *name;
    int kind, stage, nargs_min, nargs_max;
} kinds[] = {
    { "drop", FX_DROP, ST_AFTER, 1, 1 },
    { "delay", FX_DELAY, ST_QUERY, 1, 2 },
    { "silent", FX_SILENT, ST_AFTER, 1, 1 },
    { "cut", FX_CUT, ST_OUTPUT, 1, 1 },
    { "reset", FX_RESET, ST_AFTER, 0, 1 },
    { "accept-close", FX_ACCEPT_CLOSE, ST_ACCEPT, 1, 1 },
    { "bw", FX_BW, ST_OUTPUT, 1, 1 },
    { "bad-salt", FX_BAD_SALT, ST_QUERY, 1, 1 },
    { "clock-skew", FX_SKEW, ST_CLOCK, 1, 1 },
    { "new-session", FX_NEW_SESSION, ST_QUERY, 1, 1 },
    { "bad-msg", FX_BAD_MSG, ST_QUERY, 1, 2 },
    { "duplicate", FX_DUP, ST_ANSWER, 1, 2 },
    { "reorder", FX_REORDER, ST_QUERY, 0, 1 },
    { "container-mix", FX_MIX, ST_AFTER, 0, 0 },
    { "rpc", FX_RPC, ST_QUERY, 2, 2 },
    { "internal", FX_RPC, ST_QUERY, 0, 0 },
    { "timeout", FX_RPC, ST_QUERY, 0, 0 },
    { "auth-key-duplicated", FX_RPC, ST_QUERY, 0, 0 },
    { "migrate", FX_RPC, ST_QUERY, 2, 2 },
    { "flood-wait", FX_RPC, ST_QUERY, 1, 1 },
    { "flood-premium-wait", FX_RPC, ST_QUERY, 1, 1 },
    { "file-ref-expired", FX_RPC, ST_QUERY, 1, 1 },
    { "transport-error", FX_TRANSPORT, ST_QUERY, 1, 1 },
    { "forget-keys", FX_FORGET_KEYS, ST_QUERY, 0, 0 },
    { "restart", FX_RESTART, ST_QUERY, 0, 0 },
    { "file-stall", FX_STALL, ST_QUERY, 1, 1 },
    { "file-short", FX_SHORT, ST_ANSWER, 1, 1 },
};

static bool num(const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || !end || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool prob(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || !end || *end || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = v;
    return true;
}

static bool err_name(const char *s)
{
    if (!*s || strlen(s) >= 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static int set_rpc(fx_rule_t *f, const char *name, char **arg)
{
    long long v;
    if (strcmp(name, "rpc") == 0) {
        if (!num(arg[0], -1000, 1000, &v) || v == 0 || !err_name(arg[1]))
            return MTP_EINVAL;
        f->code = (int32_t)v;
        snprintf(f->msg, sizeof f->msg, "%s", arg[1]);
    } else if (strcmp(name, "internal") == 0) {
        f->code = 500;
        snprintf(f->msg, sizeof f->msg, "INTERNAL");
    } else if (strcmp(name, "timeout") == 0) {
        f->code = -503;
        snprintf(f->msg, sizeof f->msg, "Timeout");
    } else if (strcmp(name, "auth-key-duplicated") == 0) {
        f->code = 406;
        snprintf(f->msg, sizeof f->msg, "AUTH_KEY_DUPLICATED");
    } else if (strcmp(name, "migrate") == 0) {
        static const char *const what[] = { "PHONE", "NETWORK", "USER", "FILE", "STATS" };
        bool ok = false;
        for (size_t i = 0; i < sizeof what / sizeof what[0]; i++)
            ok |= strcmp(arg[0], what[i]) == 0;
        if (!ok || !num(arg[1], 1, MTP_SERVER_MAX_DCS, &v))
            return MTP_EINVAL;
        f->code = 303;
        snprintf(f->msg, sizeof f->msg, "%s_MIGRATE_%lld", arg[0], v);
    } else if (strcmp(name, "flood-wait") == 0 || strcmp(name, "flood-premium-wait") == 0) {
        if (!num(arg[0], 0, 7 * 86400, &v))
            return MTP_EINVAL;
        f->code = 420;
        snprintf(f->msg, sizeof f->msg, "%s_%lld",
                 name[6] == 'p' ? "FLOOD_PREMIUM_WAIT" : "FLOOD_WAIT", v);
    } else {   /* file-ref-expired:K: the Kth upload.getFile */
        if (!num(arg[0], 1, 1 << 30, &v))
            return MTP_EINVAL;
        f->code = 400;
        snprintf(f->msg, sizeof f->msg, "FILE_REFERENCE_EXPIRED");
        snprintf(f->method, sizeof f->method, "upload.getFile");
        f->skip = (uint64_t)v - 1;
        f->count = 1;
    }
    return 0;
}

static int set_args(fx_rule_t *f, const char *name, char **arg, int na)
{
    long long v = 0, w = 0;
    switch (f->kind) {
    case FX_DROP:
        return prob(arg[0], &f->p) ? 0 : MTP_EINVAL;
    case FX_DELAY:
        if (!num(arg[0], 0, 3600000, &v) || (na > 1 && !num(arg[1], 0, 3600000, &w)))
            return MTP_EINVAL;
        f->a = v * 1000;
        f->b = w * 1000;
        return 0;
    case FX_SILENT: case FX_CUT: case FX_BW: case FX_BAD_SALT: case FX_NEW_SESSION:
        if (!num(arg[0], f->kind == FX_SILENT || f->kind == FX_CUT ? 0 : 1, (long long)1 << 40,
                 &v))
            return MTP_EINVAL;
        f->a = v;
        return 0;
    case FX_RESET:
        if (na && !num(arg[0], 1, 1 << 30, &v))
            return MTP_EINVAL;
        f->a = na ? v : 1;
        return 0;
    case FX_ACCEPT_CLOSE:
        if (!num(arg[0], 1, 1 << 30, &v))
            return MTP_EINVAL;
        f->count = (int)v;
        return 0;
    case FX_SKEW:
        if (!num(arg[0], -86400 * 365, 86400 * 365, &v))
            return MTP_EINVAL;
        f->a = v;
        return 0;
    case FX_BAD_MSG:
        if (!num(arg[0], 16, 64, &v) || (na > 1 && !num(arg[1], 1, 1 << 30, &w)))
            return MTP_EINVAL;
        if (!(v == 16 || v == 17 || v == 18 || v == 19 || v == 20 || v == 32 || v == 33 ||
              v == 34 || v == 35 || v == 48 || v == 64))
            return MTP_EINVAL;
        f->a = v;
        f->every = na > 1 ? (uint64_t)w : 0;
        return 0;
    case FX_DUP:
        if (!prob(arg[0], &f->p) || (na > 1 && strcmp(arg[1], "copy") != 0))
            return MTP_EINVAL;
        f->variant = na > 1;
        return 0;
    case FX_REORDER:
        if (na && !num(arg[0], 1, 60000, &v))
            return MTP_EINVAL;
        f->a = (na ? v : 50) * 1000;
        f->every = 2;
        return 0;
    case FX_RPC:
        return set_rpc(f, name, arg);
    case FX_TRANSPORT:
        if (!num(arg[0], -1000, -1, &v))
            return MTP_EINVAL;
        f->a = v;
        return 0;
    case FX_FORGET_KEYS: case FX_RESTART:
        f->count = 1;
        return 0;
    case FX_STALL: case FX_SHORT:
        if (!num(arg[0], 1, 1 << 30, &v))
            return MTP_EINVAL;
        snprintf(f->method, sizeof f->method, "upload.getFile");
        f->skip = (uint64_t)v - 1;
        f->count = 1;
        return 0;
    default:
        return 0;
    }
}

static int set_option(fx_rule_t *f, char *opt)
{
    char *eq = strchr(opt, '=');
    if (!eq)
        return MTP_EINVAL;
    *eq = 0;
    const char *k = opt, *v = eq + 1;
    long long n;
    if (strcmp(k, "method") == 0) {
        if (!*v || strlen(v) >= sizeof f->method)
            return MTP_EINVAL;
        snprintf(f->method, sizeof f->method, "%s", v);
    } else if (strcmp(k, "count") == 0 && num(v, -1, 1 << 30, &n) && n) {
        f->count = (int)n;
    } else if (strcmp(k, "skip") == 0 && num(v, 0, 1 << 30, &n)) {
        f->skip = (uint64_t)n;
    } else if (strcmp(k, "every") == 0 && num(v, 1, 1 << 30, &n)) {
        f->every = (uint64_t)n;
    } else if (strcmp(k, "dc") == 0 && num(v, 0, MTP_SERVER_MAX_DCS, &n)) {
        f->dc = (int)n;
    } else if (strcmp(k, "p") == 0 && prob(v, &f->p)) {
        /* set */
    } else {
        return MTP_EINVAL;
    }
    return 0;
}

static int fx_parse(const char *spec, fx_rule_t *f)
{
    char buf[160];
    if (!spec || !*spec || strlen(spec) >= sizeof buf)
        return MTP_EINVAL;
    memset(f, 0, sizeof *f);
    snprintf(f->spec, sizeof f->spec, "%s", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    f->p = 1.0;
    f->count = -1;
    char *opts = strchr(buf, ',');
    if (opts)
        *opts++ = 0;
    char *arg[4];
    int na = 0;
    for (char *c = strchr(buf, ':'); c && na < 4; c = strchr(c + 1, ':')) {
        *c = 0;
        arg[na++] = c + 1;
    }
    if (na == 4 && strchr(arg[3], ':'))
        return MTP_EINVAL;
    const struct kind_name *kn = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !kn; i++)
        if (strcmp(buf, kinds[i].name) == 0)
            kn = &kinds[i];
    if (!kn || na < kn->nargs_min || na > kn->nargs_max)
        return MTP_EINVAL;
    f->kind = kn->kind;
    f->stage = kn->stage;
    int rc = set_args(f, buf, arg, na);
    while (!rc && opts) {
        char *next = strchr(opts, ',');
        if (next)
            *next++ = 0;
        rc = set_option(f, opts);
        opts = next;
    }
    if (!rc && f->kind == FX_DROP && f->p <= 0.0)
        rc = MTP_EINVAL;
    return rc;
}

/* ---- the C API ---- */

int mtp_server_fault_add(mtp_server_t *srv, const char *spec)
{
    if (!srv)
        return MTP_EINVAL;
    fx_rule_t f;
    int rc = fx_parse(spec, &f);
    if (rc)
        return rc;
    pthread_mutex_lock(&srv->mu);
    srv_fx_t *fx = fx_get(srv);
    if (!fx) {
        rc = MTP_ENOMEM;
    } else if (fx->n == FX_MAX) {
        rc = MTP_EFULL;
    } else {
        f.id = fx->next_id++;
        fx->r[fx->n++] = f;
        if (f.kind == FX_SKEW) {   /* in force from now on: it counts as fired */
            fx->skew = f.a * 1000000;
            fx->r[fx->n - 1].hits = 1;
        }
        rc = f.id;
    }
    pthread_mutex_unlock(&srv->mu);
    return rc;
}

int mtp_server_fault_remove(mtp_server_t *srv, int id)
{
    if (!srv || id <= 0)
        return MTP_EINVAL;
    int rc = MTP_ENOTFOUND;
    pthread_mutex_lock(&srv->mu);
    srv_fx_t *fx = srv->fx;
    for (int i = 0; fx && i < fx->n; i++)
        if (fx->r[i].id == id) {
            fx->r[i].count = 0;
            fx_compact(srv, fx);
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&srv->mu);
    return rc;
}

int mtp_server_fault_list(mtp_server_t *srv, char *buf, size_t size)
{
    if (!srv || (!buf && size))
        return MTP_EINVAL;
    mtp_buf_t b;
    mtp_buf_init(&b);
    mtp_buf_printf(&b, "[");
    pthread_mutex_lock(&srv->mu);
    srv_fx_t *fx = srv->fx;
    for (int i = 0; fx && i < fx->n; i++) {
        const fx_rule_t *f = &fx->r[i];
        mtp_buf_printf(&b, "%s{\"id\":%d,\"spec\":", i ? "," : "", f->id);
        srv_json_cstr(&b, f->spec);
        mtp_buf_printf(&b, ",\"matched\":%" PRIu64 ",\"fired\":%" PRIu64 ",\"left\":%d}", f->seen,
                       f->hits, f->count);
    }
    pthread_mutex_unlock(&srv->mu);
    mtp_buf_printf(&b, "]");
    int rc = b.err ? MTP_ENOMEM : (int)b.len;
    if (!b.err && size) {
        size_t n = b.len < size - 1 ? b.len : size - 1;
        memcpy(buf, b.data, n);
        buf[n] = 0;
    }
    mtp_buf_free(&b);
    return rc;
}

/* ---- hooks ---- */

mtp_usec_t srv_fx_skew(srv_t *srv)
{
    pthread_mutex_lock(&srv->mu);
    mtp_usec_t s = srv->fx ? srv->fx->skew : 0;
    pthread_mutex_unlock(&srv->mu);
    return s;
}

bool srv_fx_accept(srv_t *srv, int fd)
{
    fx_rule_t f[1];
    if (!srv->fx || !fx_collect(srv, ST_ACCEPT, NULL, 0, f, 1))
        return false;
    fx_trace(srv, NULL, f, "accept-close");
    close(fd);
    return true;
}

static void put32(mtp_buf_t *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mtp_buf_append(b, p, 4);
}

static void put64(mtp_buf_t *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static void send_raw(srv_req_t *r, mtp_buf_t *b, uint32_t flags)
{
    if (!b->err)
        mtp_session_send_raw(r->ss->s, b->data, b->len, flags, r->now);
    mtp_buf_free(b);
}

/* bad-salt: a fresh salt for the key; messages still using the old one are refused. */
static void rotate_salt(srv_req_t *r)
{
    srv_key_t *k = r->key;
    int64_t salt = srv_rand64(r->srv);
    int32_t t = (int32_t)(r->now / 1000000);
    mtp_future_salt_t s = { .valid_since = t - 1, .valid_until = t + 1800, .salt = salt };
    k->salt = salt;
    k->salts[0] = s;
    k->n_salts = 1;
    for (srv_sess_t *p = k->sessions; p; p = p->next_in_key)
        mtp_session_set_server_salts(p->s, &s, 1);
}

static void bad_msg(srv_req_t *r, int code)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    int32_t seq = srv_sess_seq_no(r->ss, r->req_msg_id);
    put32(&b, code == 48 ? 0xedab447bu : 0xa7eff811u);
    put64(&b, (uint64_t)r->req_msg_id);
    put32(&b, (uint32_t)(seq < 0 ? 0 : seq));
    put32(&b, (uint32_t)code);
    if (code == 48)
        put64(&b, (uint64_t)r->key->salt);
    send_raw(r, &b, 0);
    r->replied = true;
}

static void new_session(srv_req_t *r)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    put32(&b, 0x9ec20908u);
    put64(&b, (uint64_t)r->req_msg_id);
    put64(&b, (uint64_t)srv_rand64(r->srv));
    put64(&b, (uint64_t)r->key->salt);
    send_raw(r, &b, MTP_SESS_SEND_CONTENT);
}

static void forget_keys(srv_t *srv)
{
    size_t i = 0;
    int64_t id;
    void *v;
    srv_key_t *all[256];
    int n;
    do {   /* destroying edits the map: collect, destroy, again */
        n = 0;
        i = 0;
        while (n < 256 && srv_map_next(&srv->keys, &i, &id, &v))
            all[n++] = v;
        for (int k = 0; k < n; k++) {
            srv_key_destroy(srv, all[k]);
            srv_close_key_conns(srv, all[k]->id);
        }
    } while (n == 256);
}

void srv_fx_restart(srv_t *srv)
{
    if (srv->state_dir)
        srv_store_save(srv, true);
    srv_close_all(srv);
}

/* Returns true when the query is consumed (answered or left without answer on purpose). */
bool srv_fx_query(srv_req_t *r)
{
    fx_rule_t f[FX_FIRED];
    if (!r->srv->fx)
        return false;
    int n = fx_collect(r->srv, ST_QUERY, r->method, r->dc, f, FX_FIRED);
    bool consumed = false;
    for (int i = 0; i < n && !consumed; i++) {
        fx_trace(r->srv, r->sc, &f[i], r->method);
        switch (f[i].kind) {
        case FX_RPC:
            reply_err(r, f[i].code, f[i].msg);
            consumed = true;
            break;
        case FX_BAD_MSG:
            bad_msg(r, (int)f[i].a);
            consumed = true;
            break;
        case FX_TRANSPORT:
            mtp_conn_send_transport_error(r->sc->c, (int32_t)f[i].a);
            r->replied = true;
            consumed = true;
            break;
        case FX_BAD_SALT:
            rotate_salt(r);
            break;
        case FX_NEW_SESSION:
            new_session(r);
            break;
        case FX_DELAY:
        case FX_REORDER:
            r->delay = f[i].a;
            break;
        case FX_STALL:
            r->delay = (mtp_usec_t)3600 * 1000000;
            break;
        case FX_FORGET_KEYS:
            forget_keys(r->srv);
            r->replied = true;
            consumed = true;
            break;
        case FX_RESTART:
            srv_fx_restart(r->srv);
            r->replied = true;
            consumed = true;
            break;
        default:
            break;
        }
    }
    return consumed;
}

void srv_fx_after(srv_req_t *r)
{
    srv_conn_t *sc = r->sc;
    sc->fx_queries++;
    fx_rule_t f[FX_FIRED];
    if (!r->srv->fx || sc->closing)
        return;
    int n = fx_collect(r->srv, ST_AFTER, r->method, r->dc, f, FX_FIRED);
    for (int i = 0; i < n; i++) {
        switch (f[i].kind) {
        case FX_DROP:
            if (!sc->in_feed || r->delay)
                break;
            fx_trace(r->srv, sc, &f[i], "drop");
            srv_conn_close(sc, "fault: answer lost");
            return;
        case FX_SILENT:
            if (sc->fx_queries >= (uint64_t)f[i].a && !sc->fx_silent) {
                fx_trace(r->srv, sc, &f[i], "silent");
                sc->fx_silent = true;
            }
            break;
        case FX_RESET:
            if (sc->fx_queries >= (uint64_t)f[i].a) {
                int fd = mtp_stream_fd(sc->st);
                struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                if (fd >= 0)
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                fx_trace(r->srv, sc, &f[i], "reset");
                srv_conn_close(sc, "fault: reset");
                return;
            }
            break;
        case FX_MIX: {
            mtp_buf_t b;
            mtp_buf_init(&b);
            put32(&b, 0x62d6b459u);   /* msgs_ack{[the query]} */
            put32(&b, 0x1cb5c415u);
            put32(&b, 1);
            put64(&b, (uint64_t)r->req_msg_id);
            send_raw(r, &b, 0);
            uint8_t tl[4] = { 0x7e, 0xaf, 0x17, 0xe3 };   /* updatesTooLong */
            mtp_session_push(r->ss->s, tl, 4, r->now);
            break;
        }
        default:
            break;
        }
    }
}

const uint8_t *srv_fx_answer(srv_req_t *r, const uint8_t *body, size_t *len, mtp_buf_t *tmp)
{
    fx_rule_t f[FX_FIRED];
    if (!r->srv->fx)
        return body;
    int n = fx_collect(r->srv, ST_ANSWER, r->method, r->dc, f, FX_FIRED);
    for (int i = 0; i < n; i++) {
        fx_trace(r->srv, r->sc, &f[i], f[i].kind == FX_SHORT ? "file-short" : "duplicate");
        if (f[i].kind == FX_SHORT && *len >= 16 && (body[0] | (uint32_t)body[1] << 8 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 24) == 0x096a18d5u) {
            /* upload.file{type, mtime, bytes}: keep half of the bytes */
            mtp_tl_reader_t rd;
            mtp_tl_reader_init(&rd, NULL, body + 12, *len - 12, NULL);
            rd.borrow = true;
            mtp_bytes_t data = mtp_tl_read_bytes(&rd);
            if (rd.err || !data.len)
                continue;
            size_t keep = data.len / 2;
            mtp_buf_clear(tmp);
            if (mtp_buf_reserve(tmp, 12 + mtp_tl_bytes_size(keep)))
                continue;
            memcpy(tmp->data, body, 12);
            uint8_t *e = mtp_tl_write_bytes(tmp->data + 12, data.ptr, keep);
            tmp->len = (size_t)(e - tmp->data);
            body = tmp->data;
            *len = tmp->len;
        } else if (f[i].kind == FX_DUP && !r->delay && *len <= 65536) {
            mtp_buf_t b;
            mtp_buf_init(&b);
            if (f[i].variant) {   /* msg_copy{message{msg_id, seqno, bytes, rpc_result}} */
                put32(&b, 0xe06046b2u);
                put64(&b, (uint64_t)(mtp_msg_id_from_time(r->now) | 1));
                put32(&b, 1);
                put32(&b, (uint32_t)(*len + 12));
            }
            put32(&b, 0xf35c6d01u);
            put64(&b, (uint64_t)r->req_msg_id);
            mtp_buf_append(&b, body, *len);
            send_raw(r, &b, MTP_SESS_SEND_CONTENT | MTP_SESS_SEND_ANSWER);
        }
    }
    return body;
}

/* Output: how much of n bytes may be written now. SRV_FX_OK / _DISCARD (consume without
 * writing) / _CUT (write *room then close) / _WAIT (bandwidth: *wait is when to retry). */
int srv_fx_room(srv_conn_t *sc, size_t *room, mtp_usec_t *wait)
{
    srv_t *srv = sc->srv;
    if (!srv->fx)
        return SRV_FX_OK;
    if (sc->fx_silent)
        return SRV_FX_DISCARD;
    int rc = SRV_FX_OK;
    pthread_mutex_lock(&srv->mu);
    srv_fx_t *fx = srv->fx;
    bool used = false;
    for (int i = 0; i < fx->n; i++) {
        fx_rule_t *f = &fx->r[i];
        if (f->stage != ST_OUTPUT || (f->dc && f->dc != sc->dc->id) || f->count == 0)
            continue;
        if (f->kind == FX_CUT && sc->bytes_out + *room >= (uint64_t)f->a) {
            *room = sc->bytes_out < (uint64_t)f->a ? (size_t)((uint64_t)f->a - sc->bytes_out) : 0;
            if (f->count > 0)
                f->count--;
            used |= f->count == 0;
            f->hits++;
            srv->stats.faults_injected++;
            rc = SRV_FX_CUT;
            break;
        }
        if (f->kind == FX_BW) {
            mtp_usec_t now = mtp_mono_usec();
            double rate = (double)f->a;   /* bytes per second; a burst of 1/10 s */
            if (!sc->fx_bw_at) {
                sc->fx_bw_at = now;
                sc->fx_bw_tokens = rate / 10;
            }
            sc->fx_bw_tokens += (double)(now - sc->fx_bw_at) * rate / 1e6;
            if (sc->fx_bw_tokens > rate / 10)
                sc->fx_bw_tokens = rate / 10;
            sc->fx_bw_at = now;
            f->seen++;
            if (sc->fx_bw_tokens < 1.0) {
                f->hits++;
                *room = 0;
                *wait = now + (mtp_usec_t)ceil((1.0 - sc->fx_bw_tokens) * 1e6 / rate) + 1000;
                rc = SRV_FX_WAIT;
            } else if ((double)*room > sc->fx_bw_tokens) {
                f->hits++;
                *room = (size_t)sc->fx_bw_tokens;
            }
            sc->fx_bw_tokens -= (double)*room;
        }
    }
    if (used)
        fx_compact(srv, fx);
    pthread_mutex_unlock(&srv->mu);
    return rc;
}
