/*
 * libmtproto harness — connections: a TCP stream (src/net) around an mtp_conn_t in the
 * server role (src/proto), the server sessions that outlive connections, and the
 * connection-level trace events.
 *
 * Everything protocol-level (transport detection, key exchange, envelope, sessions,
 * bad_msg_notification, acks, containers, gzip) happens inside mtp_conn/mtp_session;
 * this file moves bytes, routes session events to the API (srv_api.c), and reports.
 */
#include "server_int.h"

#include <mtproto/tl_mtproto.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_HIGH        ((size_t)2 << 20)   /* stop moving conn output into the stream */

/* ------------------------------------------------------------------------------------ */
/* trace                                                                                */
/* ------------------------------------------------------------------------------------ */

bool srv_tracing(const srv_t *srv)
{
    return srv->trace_fp || srv->cfg.trace_cb;
}

mtp_buf_t *srv_trace_begin(srv_t *srv, const char *what, srv_conn_t *sc)
{
    if (!srv_tracing(srv))
        return NULL;
    mtp_buf_t *b = &srv->tline;
    mtp_buf_clear(b);
    bool dir = strcmp(what, "in") == 0 || strcmp(what, "out") == 0;
    mtp_buf_printf(b, "{\"%s\":\"%s\"", dir ? "dir" : "event", what);
    if (sc)
        mtp_buf_printf(b, ",\"dc\":%d,\"conn\":%" PRIu64, sc->dc->id, sc->id);
    return b;
}

void srv_trace_end(srv_t *srv)
{
    mtp_buf_t *b = &srv->tline;
    mtp_buf_putc(b, '}');
    if (!srv->cfg.trace_secrets)
        srv_json_redact(b);
    mtp_buf_putc(b, 0);
    if (b->err) {
        mtp_buf_clear(b);
        return;
    }
    size_t len = b->len - 1;
    if (srv->cfg.trace_cb)
        srv->cfg.trace_cb(srv->cfg.trace_ctx, (const char *)b->data, len);
    if (srv->trace_fp) {
        fwrite(b->data, 1, len, srv->trace_fp);
        fputc('\n', srv->trace_fp);
        fflush(srv->trace_fp);
    }
    if (b->cap > ((size_t)4 << 20))
        mtp_buf_free(b);
    else
        mtp_buf_clear(b);
}

/* ------------------------------------------------------------------------------------ */
/* sessions                                                                             */
/* ------------------------------------------------------------------------------------ */

static void sess_free(srv_t *srv, srv_sess_t *ss)
{
    srv_key_t *k = ss->key;
    for (srv_sess_t **pp = &k->sessions; *pp; pp = &(*pp)->next_in_key)
        if (*pp == ss) {
            *pp = ss->next_in_key;
            k->n_sessions--;
            break;
        }
    mtp_session_free(ss->s);
    free(ss);
    srv->n_sessions--;
    if (k->destroyed && !k->sessions)
        srv_key_release(srv, k);
}

void srv_sess_free(srv_t *srv, srv_sess_t *ss)
{
    sess_free(srv, ss);
}

void srv_sess_unref(srv_t *srv, srv_sess_t *ss)
{
    if (--ss->refs <= 0) {
        ss->refs = 0;
        if (ss->key->destroyed)
            sess_free(srv, ss);
    }
}

/* destroy_session for another session of the same key (only when nothing uses it). */
static int cb_destroy_session(void *ctx, int64_t sid)
{
    srv_sess_t *me = ctx;
    srv_t *srv = me->conn ? me->conn->srv : NULL;
    if (!srv)
        return 0;
    for (srv_sess_t *ss = me->key->sessions; ss; ss = ss->next_in_key)
        if (ss != me && ss->session_id == sid) {
            if (ss->refs)
                return 0;
            sess_free(srv, ss);
            return 1;
        }
    return 0;
}

static bool conn_hold(srv_conn_t *sc, srv_sess_t *ss)
{
    for (int i = 0; i < sc->nsess; i++)
        if (sc->sess[i] == ss)
            return true;
    if (sc->nsess == sc->capsess) {
        int cap = sc->capsess ? sc->capsess * 2 : 4;
        srv_sess_t **v = realloc(sc->sess, (size_t)cap * sizeof *v);
        if (!v)
            return false;
        sc->sess = v;
        sc->capsess = cap;
    }
    sc->sess[sc->nsess++] = ss;
    ss->refs++;
    return true;
}

int32_t srv_sess_seq_no(const srv_sess_t *ss, int64_t msg_id)
{
    for (unsigned i = 0; i < SRV_SEQ_RING; i++)
        if (ss->seq_msg[i] == msg_id && msg_id)
            return ss->seq_no[i];
    return -1;
}

#define ID_MSG_CONTAINER 0x73f1f8dcu
#define ID_GZIP_PACKED   0x3072cfa1u

void srv_sess_note_method(srv_sess_t *ss, int64_t msg_id, const mtp_tl_comb_t *method)
{
    if (!srv_tracing(ss->srv) || !method || !method->result ||
        method->result->kind != MTP_TL_VECTOR)
        return;   /* objects and Bool decode without it */
    unsigned i = ss->res_next++ % SRV_SEQ_RING;
    ss->res_msg[i] = msg_id;
    ss->res_method[i] = method;
}

/* The method noted for req_msg_id (the entry is used up), or NULL. */
static const mtp_tl_comb_t *sess_take_method(srv_sess_t *ss, int64_t req_msg_id)
{
    for (unsigned i = 0; i < SRV_SEQ_RING; i++)
        if (ss->res_method[i] && ss->res_msg[i] == req_msg_id) {
            const mtp_tl_comb_t *m = ss->res_method[i];
            ss->res_method[i] = NULL;
            return m;
        }
    return NULL;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * rpc_result{req_msg_id, result} as JSON, the result decoded by the type of the method it
 * answers (a bare Vector<T> has no constructor of its own), inflated first if it is
 * gzip_packed. MTP_ENOTFOUND when the method is not known (the caller decodes generically).
 */
static int trace_rpc_result(srv_sess_t *ss, const mtp_tl_layer_t *L, const uint8_t *body,
                            size_t len, mtp_arena_t *a, mtp_buf_t *b)
{
    if (len < 16)
        return MTP_ETRUNC;
    int64_t req = (int64_t)((uint64_t)rd32(body + 4) | (uint64_t)rd32(body + 8) << 32);
    const mtp_tl_comb_t *m = sess_take_method(ss, req);
    if (!m)
        return MTP_ENOTFOUND;
    const uint8_t *p = body + 12;
    size_t n = len - 12;
    mtp_buf_t z;
    mtp_buf_init(&z);
    int rc = 0;
    if (rd32(p) == ID_GZIP_PACKED) {
        mtp_tl_reader_t rd;
        mtp_tl_reader_init(&rd, L, p + 4, n - 4, a);
        mtp_bytes_t packed = mtp_tl_read_bytes(&rd);
        rc = rd.err ? rd.err
                    : mtp_gzip_inflate(packed.ptr, packed.len, MTP_TL_GZIP_CAP_DEFAULT, &z);
        p = z.data;
        n = z.len;
    }
    mtp_tl_object_t mo = { m }, *o = NULL;
    if (!rc)   /* an rpc_error is decoded as what it is */
        rc = mtp_tl_decode_result(L, n >= 4 && rd32(p) == MTP_ID_mt_rpc_error ? NULL : &mo, p,
                                  n, a, &o);
    if (!rc) {
        mtp_buf_printf(b, "{\"_\":\"rpc_result\",\"req_msg_id\":\"%" PRId64 "\",\"result\":",
                       req);
        rc = mtp_tl_to_json(o, b);
        mtp_buf_putc(b, '}');
    }
    mtp_buf_free(&z);
    return rc;
}

/*
 * The wire view: the session layer calls this for every message it accepts (in) and packs
 * (out), with the real msg_id and seq_no. Service messages both ways and every answer are
 * written here as "dir" lines; incoming API queries are written by the API layer (with the
 * layer, the wrappers and the unwrapped query), which takes their seq_no from the ring kept
 * here. A container is an "event":"container" line before its messages ("inner":true).
 */
static void srv_trace_hook(void *ctx, int dir, int64_t sid, int64_t msg_id, int32_t seq_no,
                           const uint8_t *body, size_t len)
{
    srv_sess_t *ss = ctx;
    srv_t *srv = ss->srv;
    bool in = (dir & 1) == MTP_TRACE_IN, inner = (dir & MTP_TRACE_INNER) != 0;
    uint32_t id = len >= 4 ? rd32(body) : 0;
    const mtp_tl_layer_t *svc = mtp_tl_layer(0);
    if (in && id != ID_MSG_CONTAINER && (id == ID_GZIP_PACKED || !mtp_tl_find_id(svc, id))) {
        ss->seq_msg[ss->seq_next % SRV_SEQ_RING] = msg_id;
        ss->seq_no[ss->seq_next % SRV_SEQ_RING] = seq_no;
        ss->seq_next++;
        return;   /* an API query: traced with its layer and wrappers by the API layer */
    }
    if (!srv_tracing(srv))
        return;
    srv_conn_t *sc = ss->conn;
    if (id == ID_MSG_CONTAINER) {
        mtp_buf_t *b = srv_trace_begin(srv, "container", sc);
        if (!b)
            return;
        uint32_t n = len >= 8 ? rd32(body + 4) : 0;
        mtp_buf_printf(b, ",\"container_dir\":\"%s\",\"auth_key_id\":\"%" PRId64
                       "\",\"session_id\":\"%" PRId64 "\",\"msg_id\":\"%" PRId64
                       "\",\"seq_no\":%d,\"count\":%u", in ? "in" : "out", ss->key->id, sid,
                       msg_id, seq_no, n);
        srv_trace_end(srv);
        return;
    }
    mtp_buf_t *b = srv_trace_begin(srv, in ? "in" : "out", sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"session_id\":\"%" PRId64
                   "\",\"msg_id\":\"%" PRId64 "\",\"seq_no\":%d%s,\"body\":",
                   ss->key->id, sid, msg_id, seq_no, inner ? ",\"inner\":true" : "");
    const mtp_tl_layer_t *L = mtp_tl_layer(ss->key->layer ? ss->key->layer : MTP_TL_DEFAULT_LAYER);
    if (!L)
        L = mtp_tl_layer(MTP_TL_DEFAULT_LAYER);
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    size_t mark = b->len;
    int rc = a ? MTP_ENOTFOUND : MTP_ENOMEM;
    if (a && !in && id == MTP_ID_mt_rpc_result)
        rc = trace_rpc_result(ss, L, body, len, a, b);
    if (rc == MTP_ENOTFOUND) {
        b->len = mark;
        b->err = 0;
        rc = mtp_tl_decode(L, body, len, a, &o);
        if (!rc)
            rc = mtp_tl_to_json(o, b);
    }
    if (rc || b->err) {
        b->len = mark;
        b->err = 0;
        mtp_buf_printf(b, "{\"_\":\"undecodable\",\"id\":\"%08x\",\"bytes\":%zu}", id, len);
    }
    mtp_arena_free(a);
    srv_trace_end(srv);
}

static mtp_session_t *cb_get_session(void *ctx, const mtp_auth_key_t *key, int64_t sid,
                                     const mtp_session_config_t *tmpl)
{
    srv_conn_t *sc = ctx;
    srv_t *srv = sc->srv;
    srv_key_t *k = srv_key_find(srv, key->id64);
    if (!k)
        return NULL;
    srv_sess_t *ss = NULL;
    for (srv_sess_t *p = k->sessions; p; p = p->next_in_key)
        if (p->session_id == sid) {
            ss = p;
            break;
        }
    if (!ss) {
        const char *why = NULL;
        if (sc->sess_opened >= srv->cfg.limits.sessions_per_conn)
            why = "budget: sessions per connection";
        else if (srv->n_sessions >= (uint64_t)srv->cfg.limits.sessions)
            why = "budget: sessions";
        if (why) {   /* a session flood: refused, the connection closed */
            SRV_STAT(srv, limit_sessions, 1);
            sc->close_after_flush = true;
            if (!sc->close_reason)
                sc->close_reason = why;
            return NULL;
        }
        if (k->n_sessions >= (unsigned)srv->cfg.limits.sessions_per_key) {
            srv_sess_t *lru = NULL;
            for (srv_sess_t *p = k->sessions; p; p = p->next_in_key)
                if (!p->refs && (!lru || p->last_used < lru->last_used))
                    lru = p;
            SRV_STAT(srv, limit_sessions, 1);
            if (!lru)
                return NULL;
            sess_free(srv, lru);
        }
        ss = calloc(1, sizeof *ss);
        if (!ss)
            return NULL;
        mtp_session_config_t t = *tmpl;
        t.destroy_session = cb_destroy_session;
        t.cb_ctx = ss;
        ss->srv = srv;
        t.trace = srv_trace_hook;   /* the session outlives connections: ctx is ours */
        t.trace_ctx = ss;
        if (mtp_session_new(&t, &ss->s)) {
            free(ss);
            return NULL;
        }
        if (k->n_salts)
            mtp_session_set_server_salts(ss->s, k->salts, k->n_salts);
        ss->key = k;
        ss->session_id = sid;
        ss->next_in_key = k->sessions;
        k->sessions = ss;
        k->n_sessions++;
        srv->n_sessions++;
        sc->sess_opened++;
    }
    k->last_used = srv_now();
    srv_key_t *perm = k->temp ? srv_key_perm(srv, k) : NULL;
    if (perm)
        perm->last_used = k->last_used;
    if (!conn_hold(sc, ss))
        return NULL;
    ss->conn = sc;
    ss->last_used = srv_now();
    return ss->s;
}

static srv_sess_t *conn_sess_of(srv_conn_t *sc, const mtp_session_t *s)
{
    for (int i = 0; i < sc->nsess; i++)
        if (sc->sess[i]->s == s)
            return sc->sess[i];
    return NULL;
}

/* Keep the salt tables of one key's sessions equal (the session extends its table on
 * get_future_salts and when salts expire). */
static void sync_salts(srv_sess_t *ss)
{
    mtp_future_salt_t v[SRV_MAX_SALTS];
    size_t n = mtp_session_salts(ss->s, v, SRV_MAX_SALTS);
    if (n > SRV_MAX_SALTS)
        n = SRV_MAX_SALTS;
    srv_key_t *k = ss->key;
    if (n == 0 || (n == k->n_salts && memcmp(v, k->salts, n * sizeof v[0]) == 0))
        return;
    memcpy(k->salts, v, n * sizeof v[0]);
    k->n_salts = (uint32_t)n;
    for (srv_sess_t *p = k->sessions; p; p = p->next_in_key)
        if (p != ss)
            mtp_session_set_server_salts(p->s, v, n);
}

/* ------------------------------------------------------------------------------------ */
/* conn callbacks                                                                       */
/* ------------------------------------------------------------------------------------ */

static int cb_lookup(void *ctx, int64_t id, mtp_auth_key_t *key, int64_t *salt)
{
    srv_conn_t *sc = ctx;
    srv_key_t *k = srv_key_find(sc->srv, id);
    if (!k || k->dc != sc->dc->id)
        return 0;
    if (k->temp && k->expires_at && k->expires_at < srv_unixtime())
        return 0;
    *key = k->key;
    *salt = k->salt;
    return 1;
}

/* Key exchanges from sc's address in the current minute, this one counted: over the
 * budget -> true. The table holds the addresses seen in the last minute. */
static bool addr_rate_over(srv_t *srv, srv_conn_t *sc, mtp_usec_t now)
{
    char a[MTP_NET_ADDRSTRLEN];
    snprintf(a, sizeof a, "%s", sc->peer);
    char *colon = strrchr(a, ':');   /* "ip:port" or "[ip6]:port": the port goes */
    if (colon)
        *colon = 0;
    const mtp_usec_t window = 60 * MTP_USEC_PER_SEC;
    struct srv_addr_rate *r = NULL;
    for (size_t i = 0; i < srv->n_rates;) {
        struct srv_addr_rate *e = &srv->rates[i];
        if (e->start + window <= now) {   /* stale: forgotten */
            *e = srv->rates[--srv->n_rates];
            continue;
        }
        if (strcmp(e->addr, a) == 0)
            r = e;
        i++;
    }
    if (!r) {
        if (srv->n_rates == srv->cap_rates) {
            size_t cap = srv->cap_rates ? srv->cap_rates * 2 : 16;
            struct srv_addr_rate *v = realloc(srv->rates, cap * sizeof *v);
            if (!v)
                return false;
            srv->rates = v;
            srv->cap_rates = cap;
        }
        r = &srv->rates[srv->n_rates++];
        snprintf(r->addr, sizeof r->addr, "%s", a);
        r->start = now;
        r->n = 0;
    }
    return ++r->n > srv->cfg.limits.key_exchanges_per_addr;
}

static void cb_new_key(void *ctx, const mtp_hs_result_t *r)
{
    srv_conn_t *sc = ctx;
    srv_t *srv = sc->srv;
    const char *why = NULL;
    if (++sc->key_exchanges > srv->cfg.limits.key_exchanges_per_conn)
        why = "budget: key exchanges per connection";
    else if (srv->keys.n >= (size_t)srv->cfg.limits.keys)
        why = "budget: keys";
    else if (addr_rate_over(srv, sc, srv_now()))
        why = "budget: key exchanges per address";
    if (why) {   /* the key is not kept: the client's next packet would get -404 */
        SRV_STAT(srv, limit_keys, 1);
        sc->close_after_flush = true;
        if (!sc->close_reason)
            sc->close_reason = why;
        return;
    }
    int32_t exp = 0;
    if (r->temp)
        exp = r->expires_at ? r->expires_at : srv_unixtime() + r->expires_in;
    if (srv_key_add(sc->srv, &r->key, sc->dc->id, r->temp, exp, r->server_salt))
        SRV_STAT(sc->srv, key_exchanges, 1);
}

static bool cb_key_exists(void *ctx, int64_t id)
{
    srv_t *srv = ctx;
    return srv_key_find(srv, id) != NULL;
}

/* ------------------------------------------------------------------------------------ */
/* events                                                                               */
/* ------------------------------------------------------------------------------------ */

static const char *bad_msg_why(uint32_t code)
{
    switch (code) {
    case 16: return "msg_id too low";
    case 17: return "msg_id too high";
    case 18: return "msg_id not divisible by 4";
    case 19: return "container msg_id reused";
    case 20: return "message too old";
    case 32: return "seq_no too low";
    case 33: return "seq_no too high";
    case 34: return "even seq_no expected";
    case 35: return "odd seq_no expected";
    case 48: return "bad server salt";
    case 64: return "invalid container";
    default: return "other";
    }
}

static void trace_transport(srv_conn_t *sc)
{
    const mtp_transport_t *t = mtp_conn_transport(sc->c);
    mtp_transport_kind_t kind = mtp_transport_kind(t);
    if (sc->detected || kind == MTP_TRANSPORT_UNKNOWN)
        return;
    sc->detected = true;
    mtp_buf_t *b = srv_trace_begin(sc->srv, "transport", sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"transport\":\"%s\",\"obfuscated\":%s", mtp_transport_kind_name(kind),
                   mtp_transport_obfuscated(t) ? "true" : "false");
    if (mtp_transport_obfuscated(t))
        mtp_buf_printf(b, ",\"init_dc\":%d", mtp_transport_dc_id(t));
    srv_trace_end(sc->srv);
}

static void report_bad_msgs(srv_conn_t *sc)
{
    for (int i = 0; i < sc->nsess; i++) {
        srv_sess_t *ss = sc->sess[i];
        const mtp_session_stats_t *st = mtp_session_stats(ss->s);
        if (st->bad_msg_out <= ss->bad_msg_seen)
            continue;
        uint64_t n = st->bad_msg_out - ss->bad_msg_seen;
        ss->bad_msg_seen = st->bad_msg_out;
        SRV_STAT(sc->srv, bad_msg_notifications, n);
        mtp_buf_t *b = srv_trace_begin(sc->srv, "bad_msg_notification", sc);
        if (!b)
            continue;
        mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"session_id\":\"%" PRId64
                       "\",\"count\":%" PRIu64 ",\"last_code\":%u,\"why\":\"%s\"",
                       ss->key->id, ss->session_id, n, st->last_bad_msg_code,
                       bad_msg_why(st->last_bad_msg_code));
        srv_trace_end(sc->srv);
    }
}

static void process_events(srv_conn_t *sc, mtp_usec_t now)
{
    srv_t *srv = sc->srv;
    trace_transport(sc);
    mtp_conn_event_t ev;
    while (!sc->closing && mtp_conn_next_event(sc->c, &ev) == 1) {
        switch (ev.type) {
        case MTP_CONN_EV_KEY: {
            mtp_buf_t *b = srv_trace_begin(srv, "key", sc);
            if (b) {
                mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"temp\":%s,\"inner_dc\":%d"
                               ",\"rsa_fingerprint\":\"%" PRId64 "\"",
                               ev.key.key.id64, ev.key.temp ? "true" : "false", ev.key.dc_id,
                               ev.key.rsa_fingerprint);
                if (ev.key.temp)
                    mtp_buf_printf(b, ",\"expires_in\":%d", ev.key.expires_in);
                if (ev.key.retries)
                    mtp_buf_printf(b, ",\"retries\":%d", ev.key.retries);
                srv_trace_end(srv);
            }
            mtp_hs_result_wipe(&ev.key);
            break;
        }
        case MTP_CONN_EV_TRANSPORT_ERROR: {
            SRV_STAT(srv, transport_errors, 1);
            mtp_buf_t *b = srv_trace_begin(srv, "transport_error", sc);
            if (b) {
                const char *why = ev.code == -404
                                      ? "unknown auth_key_id on this DC, or an invalid key-exchange request"
                                  : ev.code == -444 ? "wrong DC in the key exchange" : "rejected";
                mtp_buf_printf(b, ",\"code\":%d,\"why\":\"%s\"", ev.code, why);
                srv_trace_end(srv);
            }
            sc->close_after_flush = true;
            if (!sc->close_reason)
                sc->close_reason = "transport error sent";
            break;
        }
        case MTP_CONN_EV_ERROR: {
            mtp_buf_t *b = srv_trace_begin(srv, "violation", sc);
            if (b) {
                mtp_buf_printf(b, ",\"error\":\"%s\"", mtp_strerror(ev.err));
                srv_trace_end(srv);
            }
            sc->close_after_flush = true;
            if (!sc->close_reason)
                sc->close_reason = mtp_strerror(ev.err);
            break;
        }
        case MTP_CONN_EV_SESSION: {
            srv_sess_t *ss = conn_sess_of(sc, ev.session);
            if (!ss)
                break;
            ss->last_used = now;
            if (ev.sev.type == MTP_SESSION_EV_QUERY) {
                sc->last_key = ss->key->id;
                srv_handle_query(sc, ss, &ev.sev, now);
            } else if (ev.sev.type == MTP_SESSION_EV_DISCONNECT) {
                mtp_buf_t *b = srv_trace_begin(srv, "disconnect_delay", sc);
                if (b)
                    srv_trace_end(srv);
                sc->close_after_flush = true;
                sc->close_reason = "ping_delay_disconnect";
            }
            break;
        }
        default:
            break;
        }
    }
    if (sc->closing)
        return;
    report_bad_msgs(sc);
    for (int i = 0; i < sc->nsess; i++)
        sync_salts(sc->sess[i]);
}

/* ------------------------------------------------------------------------------------ */
/* output                                                                               */
/* ------------------------------------------------------------------------------------ */

void srv_conn_pump(srv_conn_t *sc)
{
    if (sc->closing)
        return;
    srv_t *srv = sc->srv;
    mtp_usec_t fx_wait = 0;   /* fault engine: bandwidth cap */
    for (;;) {
        mtp_bytes_t b = mtp_conn_pending_output(sc->c);
        if (!b.len)
            break;
        size_t pend = mtp_stream_pending(sc->st);
        if (pend >= OUT_HIGH)
            break;
        size_t n = b.len;
        if (n > OUT_HIGH)
            n = OUT_HIGH;
        bool drop = false;
        size_t room = srv_fault_drop_room(srv, sc->dc->id, n, &drop);
        int fx = srv_fx_room(sc, &room, &fx_wait);
        if (fx == SRV_FX_DISCARD) {
            mtp_conn_consume(sc->c, room);
            continue;
        }
        drop |= fx == SRV_FX_CUT;
        if (fx == SRV_FX_WAIT && !room)
            break;
        if (room) {
            if (mtp_stream_write(sc->st, b.ptr, room)) {
                srv_conn_close(sc, "write failed");
                return;
            }
            sc->bytes_out += room;
            SRV_STAT(srv, bytes_out, room);
            mtp_conn_consume(sc->c, room);
        }
        if (drop) {
            mtp_buf_t *tb = srv_trace_begin(srv, "fault", sc);
            if (tb) {
                mtp_buf_printf(tb, ",\"fault\":\"drop\",\"bytes_out\":%" PRIu64, sc->bytes_out);
                srv_trace_end(srv);
            }
            srv_conn_close(sc, "fault: drop");
            return;
        }
    }
    /* backpressure: a peer that does not read stops being read */
    bool backed = mtp_stream_pending(sc->st) >= OUT_HIGH || mtp_conn_pending_output(sc->c).len;
    if (backed != sc->paused) {
        sc->paused = backed;
        mtp_stream_pause_read(sc->st, backed);
    }
    if ((sc->close_after_flush || mtp_conn_dead(sc->c)) && !mtp_conn_pending_output(sc->c).len) {
        if (!sc->close_reason)
            sc->close_reason = "connection failed";
        if (!mtp_stream_pending(sc->st)) {
            srv_conn_close(sc, sc->close_reason);
            return;
        }
        return;   /* on_drain closes it */
    }
    mtp_usec_t d = mtp_conn_next_deadline(sc->c);
    if (d != MTP_TIME_NEVER)
        d -= srv_fx_skew(srv);
    if (fx_wait && (d == MTP_TIME_NEVER || fx_wait - mtp_mono_usec() + srv_now() < d))
        d = fx_wait - mtp_mono_usec() + srv_now();
    if (d == MTP_TIME_NEVER)
        mtp_timer_stop(sc->timer);
    else
        mtp_timer_start_wall(sc->timer, d);
}

void srv_sess_flush(srv_t *srv, srv_sess_t *ss)
{
    (void)srv;
    srv_conn_t *sc = ss->conn;
    if (!sc || sc->closing)
        return;
    mtp_conn_flush(sc->c, srv_now());
    if (!sc->in_feed)
        srv_conn_pump(sc);
}

/* ------------------------------------------------------------------------------------ */
/* stream callbacks                                                                     */
/* ------------------------------------------------------------------------------------ */

/* Budgets on incomplete frames: what sc's transport holds is counted in the total (the
 * connection that would pass max_input is closed), and since when it has not completed a
 * frame (srv_conns_check closes it after frame_timeout). max_frame itself is the
 * transport's max_packet: a longer frame fails the connection as soon as announced. */
static void track_input(srv_conn_t *sc, mtp_usec_t now)
{
    srv_t *srv = sc->srv;
    size_t held = mtp_transport_pending(mtp_conn_transport(sc->c));
    uint64_t pk = mtp_conn_stats(sc->c)->packets_in;
    if (!held || pk != sc->packets_seen || !sc->held)
        sc->partial_since = now;
    sc->packets_seen = pk;
    srv->input_bytes = srv->input_bytes - sc->held + held;
    sc->held = held;
    if (held && srv->input_bytes > srv->cfg.limits.max_input) {
        SRV_STAT(srv, limit_input, 1);
        srv_conn_close(sc, "budget: buffered input");
    }
}

void srv_conns_check(srv_t *srv, mtp_usec_t now)
{
    for (srv_conn_t *sc = srv->conns; sc; sc = sc->next)
        if (!sc->closing && sc->held && sc->partial_since + srv->cfg.limits.frame_timeout < now) {
            SRV_STAT(srv, limit_frame, 1);
            srv_conn_close(sc, "budget: incomplete frame timeout");
        }
}

static void on_data(mtp_stream_t *st, const uint8_t *data, size_t n)
{
    srv_conn_t *sc = mtp_stream_user(st);
    if (sc->closing)
        return;
    mtp_usec_t now = srv_now() + srv_fx_skew(sc->srv);
    sc->bytes_in += n;
    SRV_STAT(sc->srv, bytes_in, n);
    sc->in_feed = true;
    mtp_conn_feed(sc->c, data, n, now);
    process_events(sc, now);
    sc->in_feed = false;
    if (!sc->closing)   /* the answers to everything this read brought, packed together */
        mtp_conn_flush(sc->c, now);
    if (!sc->closing)
        track_input(sc, now);
    srv_conn_pump(sc);
}

static void on_drain(mtp_stream_t *st)
{
    srv_conn_t *sc = mtp_stream_user(st);
    if (sc->closing)
        return;
    if ((sc->close_after_flush || mtp_conn_dead(sc->c)) && !mtp_conn_pending_output(sc->c).len) {
        srv_conn_close(sc, sc->close_reason ? sc->close_reason : "connection failed");
        return;
    }
    srv_conn_pump(sc);
}

static void on_timer(mtp_timer_t *t, void *user)
{
    (void)t;
    srv_conn_t *sc = user;
    if (sc->closing)
        return;
    mtp_usec_t now = srv_now() + srv_fx_skew(sc->srv);
    sc->in_feed = true;
    mtp_conn_tick(sc->c, now);
    process_events(sc, now);
    sc->in_feed = false;
    if (!sc->closing)
        mtp_conn_flush(sc->c, now);
    srv_conn_pump(sc);
}

static void on_close(mtp_stream_t *st, int err)
{
    srv_conn_t *sc = mtp_stream_user(st);
    srv_t *srv = sc->srv;
    const char *reason = sc->close_reason;
    if (!reason)
        reason = err == MTP_ETIMEDOUT ? "idle timeout"
                 : err == MTP_ECLOSED ? "closed by peer"
                 : err == MTP_ECANCELED ? "server shutdown"
                 : err ? mtp_strerror(err) : "closed";
    mtp_buf_t *b = srv_trace_begin(srv, "close", sc);
    if (b) {
        mtp_buf_printf(b, ",\"reason\":");
        srv_json_cstr(b, reason);
        mtp_buf_printf(b, ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64, sc->bytes_in,
                       sc->bytes_out);
        srv_trace_end(srv);
    }
    /* unlink */
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        srv->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    srv->n_conns--;
    srv->input_bytes -= sc->held;
    for (srv_delayed_t *d = srv->delayed; d && sc->pending; d = d->next)
        if (d->sc == sc) {
            d->sc = NULL;
            sc->pending--;
        }
    SRV_STAT(srv, connections_open, (uint64_t)-1);
    for (int i = 0; i < sc->nsess; i++) {
        srv_sess_t *ss = sc->sess[i];
        if (ss->conn == sc)
            ss->conn = NULL;
        srv_sess_unref(srv, ss);
    }
    free(sc->sess);
    mtp_timer_free(sc->timer);
    mtp_conn_free(sc->c);
    free(sc);
}

void srv_conn_close(srv_conn_t *sc, const char *reason)
{
    if (sc->closing)
        return;
    sc->closing = true;
    if (!sc->close_reason)
        sc->close_reason = reason;
    mtp_timer_stop(sc->timer);
    mtp_stream_close(sc->st);
}

void srv_close_all(srv_t *srv)
{
    for (srv_conn_t *sc = srv->conns; sc; sc = sc->next)
        srv_conn_close(sc, "server shutdown");
}

void srv_close_key_conns(srv_t *srv, int64_t key_id)
{
    for (srv_conn_t *sc = srv->conns; sc; sc = sc->next) {
        if (sc->closing)
            continue;
        const mtp_auth_key_t *k = mtp_conn_key(sc->c);
        bool uses = k && k->id64 == key_id;
        for (int i = 0; !uses && i < sc->nsess; i++)
            uses = sc->sess[i]->key->id == key_id;
        if (uses) {
            sc->close_after_flush = true;
            sc->close_reason = "auth key destroyed";
            if (!sc->in_feed)
                srv_conn_pump(sc);
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* accept                                                                               */
/* ------------------------------------------------------------------------------------ */

void srv_accept(mtp_listener_t *l, int fd, const struct sockaddr *peer, socklen_t len,
                void *user)
{
    (void)l;
    srv_dc_t *dc = user;
    srv_t *srv = dc->srv;
    if (atomic_load(&srv->stop_flag) ||
        (srv->cfg.max_connections > 0 && srv->n_conns >= (uint64_t)srv->cfg.max_connections)) {
        close(fd);
        return;
    }
    if (srv_fx_accept(srv, fd))
        return;
    srv_conn_t *sc = calloc(1, sizeof *sc);
    if (!sc) {
        close(fd);
        return;
    }
    sc->srv = srv;
    sc->dc = dc;
    sc->id = ++srv->next_conn_id;
    mtp_net_addr_str(peer, len, sc->peer, sizeof sc->peer);

    mtp_conn_config_t cfg;
    mtp_conn_config_init(&cfg, MTP_ROLE_SERVER);
    cfg.rng = srv->rng;
    cfg.hs_server.rsa_keys = srv->rsa_list;
    cfg.hs_server.n_rsa_keys = 1;
    cfg.hs_server.dc_id = dc->id;
    cfg.hs_server.key_exists = cb_key_exists;
    cfg.hs_server.key_exists_ctx = srv;
    cfg.hs_server.rng = srv->rng;
    cfg.session.rng = srv->rng;
    /* answers kept for re-sending after a reconnect (a download of a few chunks in flight) */
    cfg.session.max_retained_bytes = (size_t)8 << 20;
    cfg.session.reuse_bytes = (size_t)16 << 20;   /* answers of several file parts at once */
    cfg.max_packet = srv->cfg.limits.max_frame;
    cfg.lookup_key = cb_lookup;
    cfg.new_key = cb_new_key;
    cfg.get_session = cb_get_session;
    cfg.cb_ctx = sc;
    if (mtp_conn_new(&cfg, srv_now(), &sc->c)) {
        free(sc);
        close(fd);
        return;
    }
    sc->timer = mtp_timer_new(srv->loop, on_timer, sc);
    if (!sc->timer) {
        mtp_conn_free(sc->c);
        free(sc);
        close(fd);
        return;
    }
    mtp_stream_opts_t o;
    memset(&o, 0, sizeof o);
    o.idle_timeout = srv->cfg.idle_timeout;
    o.max_output = (size_t)16 << 20;
    mtp_stream_cbs_t cbs;
    memset(&cbs, 0, sizeof cbs);
    cbs.on_data = on_data;
    cbs.on_close = on_close;
    cbs.on_drain = on_drain;
    if (mtp_stream_new(srv->loop, fd, &o, &cbs, sc, &sc->st)) {
        mtp_timer_free(sc->timer);
        mtp_conn_free(sc->c);
        free(sc);
        return;   /* fd closed by mtp_stream_new */
    }
    sc->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = sc;
    srv->conns = sc;
    srv->n_conns++;
    SRV_STAT(srv, connections_open, 1);
    SRV_STAT(srv, connections_total, 1);
    mtp_buf_t *b = srv_trace_begin(srv, "open", sc);
    if (b) {
        mtp_buf_printf(b, ",\"peer\":");
        srv_json_cstr(b, sc->peer);
        srv_trace_end(srv);
    }
}

/* ------------------------------------------------------------------------------------ */
/* pushes, delayed answers                                                              */
/* ------------------------------------------------------------------------------------ */

void srv_push_user(srv_t *srv, int64_t uid, srv_sess_t *except, srv_push_build build, void *ctx)
{
    uint64_t gen = ++srv->push_gen;
    mtp_buf_t body;
    mtp_buf_init(&body);
    mtp_usec_t now = srv_now();
    for (srv_conn_t *sc = srv->conns; sc; sc = sc->next) {
        if (sc->closing || !sc->updates)
            continue;
        bool any = false;
        for (int i = 0; i < sc->nsess; i++) {
            srv_sess_t *ss = sc->sess[i];
            if (ss == except || ss->push_gen == gen || ss->key->destroyed ||
                srv_key_user(srv, ss->key) != uid)
                continue;
            ss->push_gen = gen;
            mtp_buf_clear(&body);
            int layer = 0;
            srv_layer_table(ss->key->layer, &layer);
            if (build(ctx, layer, &body) || body.err)
                continue;
            if (mtp_session_push(ss->s, body.data, body.len, now) == 0) {
                any = true;
                mtp_buf_t *b = srv_trace_begin(srv, "out", sc);
                if (b) {
                    mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"session_id\":\"%" PRId64
                                   "\",\"msg_id\":null,\"seq_no\":null,\"push\":true,"
                                   "\"layer\":%d,\"body\":", ss->key->id, ss->session_id, layer);
                    mtp_arena_t *a = mtp_arena_new(0);
                    mtp_tl_object_t *o = NULL;
                    size_t mark = b->len;
                    if (!a || mtp_tl_decode(srv_layer_table(layer, NULL), body.data, body.len, a,
                                            &o) || mtp_tl_to_json(o, b)) {
                        b->len = mark;
                        b->err = 0;
                        mtp_buf_printf(b, "null");
                    }
                    mtp_arena_free(a);
                    srv_trace_end(srv);
                }
            }
        }
        if (any) {
            mtp_conn_flush(sc->c, now);
            if (!sc->in_feed)
                srv_conn_pump(sc);
        }
    }
    mtp_buf_free(&body);
}

void srv_delay_fire(mtp_timer_t *t, void *user)
{
    srv_t *srv = user;
    mtp_usec_t mono = mtp_mono_usec(), now = srv_now();
    srv_delayed_t **pp = &srv->delayed, *keep = NULL, **kt = &keep;
    srv_delayed_t *due = NULL;
    while (*pp) {
        srv_delayed_t *d = *pp;
        *pp = d->next;
        d->next = NULL;
        if (d->due <= mono) {   /* in order of due time: invokeAfterMsg relies on it */
            srv_delayed_t **ip = &due;
            while (*ip && (*ip)->due <= d->due)
                ip = &(*ip)->next;
            d->next = *ip;
            *ip = d;
        } else {
            *kt = d;
            kt = &d->next;
        }
    }
    srv->delayed = keep;
    while (due) {
        srv_delayed_t *d = due;
        due = d->next;
        srv->n_pending--;
        if (d->sc)
            d->sc->pending--;
        srv_sess_t *ss = d->ss;
        if (!ss->key->destroyed) {
            if (d->is_error)
                mtp_session_reply_error(ss->s, d->req_msg_id, d->code, d->message, now);
            else
                mtp_session_reply_ex(ss->s, d->req_msg_id, d->body, d->len,
                                     d->no_gzip ? MTP_SESS_NO_GZIP : 0, now);
            srv_sess_flush(srv, ss);
        }
        srv_sess_unref(srv, ss);
        free(d->body);
        free(d);
    }
    mtp_usec_t next = MTP_TIME_NEVER;
    for (srv_delayed_t *d = srv->delayed; d; d = d->next)
        if (d->due < next)
            next = d->due;
    if (next != MTP_TIME_NEVER)
        mtp_timer_start_mono(t, next);
}
