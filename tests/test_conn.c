/*
 * Connection tests: a client mtp_conn_t and a server mtp_conn_t joined by an in-memory
 * byte pipe with a fake clock. The full auth-key exchange, then RPCs, over every transport
 * kind with and without obfuscation, with the stream cut into random chunks; quick acks;
 * continuing a session on a new connection; unknown keys (-404); corrupted, dropped and
 * garbage bytes (typed failures, never a crash); handshake timeouts; closing.
 */
#include <mtproto/conn.h>

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SEC 1000000LL
#define T0 (1700000000LL * SEC)
#define MAXCALLS 512

static mtp_rsa_key_t *g_priv, *g_pub;

/* ---- a key store for the server ---- */
typedef struct store {
    mtp_auth_key_t keys[8];
    int64_t salts[8];
    int n;
    int lookups, new_keys;
    /* caller-owned sessions (get_session) */
    mtp_session_t *sess[8];
    int nsess;
    int use_get_session;
} store_t;

static int store_lookup(void *ctx, int64_t id, mtp_auth_key_t *key, int64_t *salt)
{
    store_t *st = ctx;
    st->lookups++;
    for (int i = 0; i < st->n; i++)
        if (st->keys[i].id64 == id) {
            *key = st->keys[i];
            *salt = st->salts[i];
            return 1;
        }
    return 0;
}

static void store_new_key(void *ctx, const mtp_hs_result_t *r)
{
    store_t *st = ctx;
    st->new_keys++;
    if (st->n < 8) {
        st->keys[st->n] = r->key;
        st->salts[st->n++] = r->server_salt;
    }
}

static mtp_session_t *store_get_session(void *ctx, const mtp_auth_key_t *key, int64_t sid,
                                        const mtp_session_config_t *tmpl)
{
    store_t *st = ctx;
    (void)key;
    for (int i = 0; i < st->nsess; i++)
        if (mtp_session_id(st->sess[i]) == sid)
            return st->sess[i];
    if (st->nsess == 8)
        return NULL;
    st->sess[st->nsess] = NULL;
    (void)mtp_session_new(tmpl, &st->sess[st->nsess]);
    return st->sess[st->nsess++];
}

static void store_free(store_t *st)
{
    for (int i = 0; i < st->nsess; i++)
        mtp_session_free(st->sess[i]);
    st->nsess = 0;
}

/* ---- the pipe ---- */
typedef struct rec {
    int count, err;
    size_t len;
    uint32_t first_word;
    uint8_t sum;
} rec_t;

typedef struct net {
    mtp_conn_t *c, *s;
    mtp_usec_t now;
    uint32_t rnd;
    bool chunky;
    /* fault injection on the next bytes of a direction: -1 = none */
    long flip_c2s_at, drop_c2s_at, flip_s2c_at;
    uint64_t c2s_pos, s2c_pos;
    bool cut;                   /* nothing moves */
    /* events */
    int c_keys, s_keys, quick_acks, qa_with_id, new_sessions, disconnects;
    int c_errors, s_errors, c_terr, s_terr;
    int c_err, s_err;
    int32_t c_code, s_code;
    int queries;
    rec_t rec[MAXCALLS];
    int64_t key_id_c, key_id_s;
    bool echo;
} net_t;

static uint32_t rnd(net_t *n)
{
    n->rnd = n->rnd * 1103515245u + 12345u;
    return n->rnd >> 8;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s * 31 + p[i]);
    return s;
}

static void drain(net_t *n)
{
    mtp_conn_event_t ev;
    while (n->c && mtp_conn_next_event(n->c, &ev) == 1) {
        switch (ev.type) {
        case MTP_CONN_EV_KEY:
            n->c_keys++;
            n->key_id_c = ev.key.key.id64;
            break;
        case MTP_CONN_EV_QUICK_ACK:
            n->quick_acks++;
            if (ev.msg_id)
                n->qa_with_id++;
            break;
        case MTP_CONN_EV_ERROR:
            n->c_errors++;
            n->c_err = ev.err;
            break;
        case MTP_CONN_EV_TRANSPORT_ERROR:
            n->c_terr++;
            n->c_code = ev.code;
            break;
        case MTP_CONN_EV_SESSION:
            if (ev.sev.type == MTP_SESSION_EV_RESULT && ev.sev.call_id < MAXCALLS) {
                rec_t *r = &n->rec[ev.sev.call_id];
                r->count++;
                r->err = ev.sev.err;
                r->len = ev.sev.body.len;
                r->first_word = ev.sev.body.len >= 4 ? (uint32_t)ev.sev.body.ptr[0] |
                                (uint32_t)ev.sev.body.ptr[1] << 8 | (uint32_t)ev.sev.body.ptr[2] << 16 |
                                (uint32_t)ev.sev.body.ptr[3] << 24 : 0;
                r->sum = sum8(ev.sev.body.ptr, ev.sev.body.len);
            } else if (ev.sev.type == MTP_SESSION_EV_NEW_SESSION) {
                n->new_sessions++;
            }
            break;
        default:
            break;
        }
    }
    while (n->s && mtp_conn_next_event(n->s, &ev) == 1) {
        switch (ev.type) {
        case MTP_CONN_EV_KEY:
            n->s_keys++;
            n->key_id_s = ev.key.key.id64;
            break;
        case MTP_CONN_EV_ERROR:
            n->s_errors++;
            n->s_err = ev.err;
            break;
        case MTP_CONN_EV_TRANSPORT_ERROR:
            n->s_terr++;
            n->s_code = ev.code;
            break;
        case MTP_CONN_EV_SESSION:
            if (ev.sev.type == MTP_SESSION_EV_QUERY) {
                n->queries++;
                if (n->echo)
                    mtp_conn_reply(n->s, ev.sev.msg_id, ev.sev.body.ptr, ev.sev.body.len, n->now);
            } else if (ev.sev.type == MTP_SESSION_EV_DISCONNECT) {
                n->disconnects++;
            }
            break;
        default:
            break;
        }
    }
}

/* Move pending bytes from a to b, in random chunks, with the configured faults. */
static bool move(net_t *n, mtp_conn_t *a, mtp_conn_t *b, bool c2s)
{
    mtp_bytes_t o = mtp_conn_pending_output(a);
    if (!o.len)
        return false;
    uint8_t *copy = malloc(o.len);
    memcpy(copy, o.ptr, o.len);
    size_t len = o.len;
    mtp_conn_consume(a, len);
    uint64_t *pos = c2s ? &n->c2s_pos : &n->s2c_pos;
    long *flip = c2s ? &n->flip_c2s_at : &n->flip_s2c_at;
    size_t off = 0;
    while (off < len) {
        size_t k = len - off;
        if (n->chunky) {
            size_t r = 1 + rnd(n) % 700;
            if (r < k)
                k = r;
        }
        /* faults inside this chunk */
        uint8_t *p = copy + off;
        size_t kk = k;
        if (*flip >= 0 && (uint64_t)*flip >= *pos && (uint64_t)*flip < *pos + k) {
            p[*flip - (long)*pos] ^= 0x20;
            *flip = -1;
        }
        if (c2s && n->drop_c2s_at >= 0 && (uint64_t)n->drop_c2s_at >= *pos &&
            (uint64_t)n->drop_c2s_at < *pos + k) {
            size_t at = (size_t)(n->drop_c2s_at - (long)*pos);
            memmove(p + at, p + at + 1, k - at - 1);
            kk = k - 1;
            n->drop_c2s_at = -1;
        }
        mtp_conn_feed(b, p, kk, n->now);
        *pos += k;
        off += k;
        drain(n);
    }
    free(copy);
    return true;
}

static void pump(net_t *n)
{
    for (int i = 0; i < 100000; i++) {
        drain(n);
        if (n->cut)
            return;
        bool m1 = move(n, n->c, n->s, true);
        bool m2 = move(n, n->s, n->c, false);
        drain(n);
        if (!m1 && !m2)
            return;
    }
}

static void advance(net_t *n, mtp_usec_t dt)
{
    n->now += dt;
    if (n->c)
        mtp_conn_tick(n->c, n->now);
    if (n->s)
        mtp_conn_tick(n->s, n->now);
    pump(n);
}

static void client_cfg(mtp_conn_config_t *cc, mtp_transport_kind_t kind, bool obfs)
{
    static const mtp_rsa_key_t *ckeys[1];
    ckeys[0] = g_pub;
    mtp_conn_config_init(cc, MTP_ROLE_CLIENT);
    cc->transport = kind;
    cc->obfuscated = obfs;
    cc->hs_client.rsa_keys = ckeys;
    cc->hs_client.n_rsa_keys = 1;
    cc->hs_client.dc_id = 2;
    cc->session.future_salts = 0;
}

static void server_cfg(mtp_conn_config_t *sc, store_t *st)
{
    static const mtp_rsa_key_t *skeys[1];
    skeys[0] = g_priv;
    mtp_conn_config_init(sc, MTP_ROLE_SERVER);
    sc->hs_server.rsa_keys = skeys;
    sc->hs_server.n_rsa_keys = 1;
    sc->hs_server.dc_id = 2;
    sc->lookup_key = store_lookup;
    sc->new_key = store_new_key;
    if (st->use_get_session)
        sc->get_session = store_get_session;
    sc->cb_ctx = st;
}

static void make_body(mtp_buf_t *b, uint32_t tag, size_t words, bool compressible)
{
    mtp_buf_clear(b);
    uint8_t w[4];
    for (size_t i = 0; i <= words; i++) {
        uint32_t v = i == 0 ? 0x0badf00du ^ tag
                            : compressible ? 0x41424344u : tag * 2654435761u + (uint32_t)i * 97u;
        w[0] = (uint8_t)v;
        w[1] = (uint8_t)(v >> 8);
        w[2] = (uint8_t)(v >> 16);
        w[3] = (uint8_t)(v >> 24);
        mtp_buf_append(b, w, 4);
    }
}

static void net_free(net_t *n)
{
    mtp_conn_free(n->c);
    mtp_conn_free(n->s);
    n->c = n->s = NULL;
}

static void net_init(net_t *n, uint32_t seed)
{
    memset(n, 0, sizeof *n);
    n->now = T0;
    n->rnd = seed;
    n->chunky = true;
    n->flip_c2s_at = n->drop_c2s_at = n->flip_s2c_at = -1;
    n->echo = true;
}

/* ---------------------------------------------------------------------------------- */

static void test_transports(void)
{
    struct { mtp_transport_kind_t kind; bool obfs; const char *name; } kinds[] = {
        { MTP_TRANSPORT_ABRIDGED, false, "abridged" },
        { MTP_TRANSPORT_INTERMEDIATE, false, "intermediate" },
        { MTP_TRANSPORT_PADDED, false, "padded" },
        { MTP_TRANSPORT_FULL, false, "full" },
        { MTP_TRANSPORT_ABRIDGED, true, "obfuscated abridged" },
        { MTP_TRANSPORT_INTERMEDIATE, true, "obfuscated intermediate" },
        { MTP_TRANSPORT_PADDED, true, "obfuscated padded" },
    };
    mtp_buf_t b;
    mtp_buf_init(&b);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        store_t st = { 0 };
        net_t n;
        net_init(&n, 1234u + (uint32_t)k);
        mtp_conn_config_t cc, sc;
        client_cfg(&cc, kinds[k].kind, kinds[k].obfs);
        server_cfg(&sc, &st);
        int err = 0;
        err = mtp_conn_new(&cc, n.now, &n.c);
        err = mtp_conn_new(&sc, n.now, &n.s);
        if (!n.c || !n.s)
            tap_bail("conn_new: %d", err);
        /* a call queued before the key exists */
        make_body(&b, 1, 3, false);
        int64_t first = mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
        pump(&n);
        OK(n.c_keys == 1 && n.s_keys == 1 && n.key_id_c == n.key_id_s && st.new_keys == 1,
           "%s: key exchange done, same key on both sides", kinds[k].name);
        OK(mtp_transport_kind(mtp_conn_transport(n.s)) == kinds[k].kind &&
           mtp_transport_obfuscated(mtp_conn_transport(n.s)) == kinds[k].obfs,
           "%s: server detected the transport", kinds[k].name);
        OK(first == 1 && n.rec[1].count == 1 && n.rec[1].err == 0 && n.rec[1].len == b.len,
           "%s: call queued before the key answered after it", kinds[k].name);
        /* a mix of sizes, some compressible (gzip both ways) */
        int ok = 1;
        size_t sizes[] = { 1, 20, 200, 1000, 5000, 40000 };
        uint8_t sums[64];
        size_t lens[64];
        int ncalls = 0;
        for (int i = 0; i < 24; i++) {
            make_body(&b, (uint32_t)i + 10, sizes[i % 6], i % 2 == 0);
            int64_t id = mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
            sums[id] = sum8(b.data, b.len);
            lens[id] = b.len;
            ncalls++;
            if (i % 5 == 4)
                pump(&n);
        }
        pump(&n);
        for (int i = 2; i < 2 + ncalls; i++)
            if (n.rec[i].count != 1 || n.rec[i].err || n.rec[i].len != lens[i] || n.rec[i].sum != sums[i])
                ok = 0;
        OK(ok, "%s: 24 RPCs of mixed sizes echoed exactly once", kinds[k].name);
        OK(n.c_errors == 0 && n.s_errors == 0 && !mtp_conn_dead(n.c) && !mtp_conn_dead(n.s),
           "%s: no errors", kinds[k].name);
        OK(n.new_sessions == 1, "%s: new_session_created once", kinds[k].name);
        /* 1 MiB in one call */
        make_body(&b, 99, 256 * 1024, false);
        int64_t big = mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
        uint8_t bs = sum8(b.data, b.len);
        pump(&n);
        OK(n.rec[big].count == 1 && n.rec[big].len == b.len && n.rec[big].sum == bs,
           "%s: 1 MiB call round trip", kinds[k].name);
        advance(&n, SEC);   /* acks */
        OK(mtp_session_unacked(mtp_conn_session(n.s)) == 0, "%s: everything acked", kinds[k].name);
        net_free(&n);
        store_free(&st);
    }
    mtp_buf_free(&b);
}

/* Move everything pending from a to b in one piece through b's zero-copy input, so that
 * the large packets in it arrive together (and are opened together). flip: corrupt the
 * ciphertext of that frame (1-based; intermediate transport), 0 = none. */
static void move_whole(net_t *n, mtp_conn_t *a, mtp_conn_t *b, int flip)
{
    mtp_bytes_t o = mtp_conn_pending_output(a);
    if (!o.len)
        return;
    uint8_t *p;
    size_t cap;
    if (mtp_conn_rx_space(b, o.len, &p, &cap) || cap < o.len)
        tap_bail("rx_space");
    memcpy(p, o.ptr, o.len);
    if (flip) {
        size_t off = 0;
        for (int f = 1; off + 4 <= o.len; f++) {
            uint32_t len = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 |
                           (uint32_t)p[off + 2] << 16 | (uint32_t)(p[off + 3] & 0x7f) << 24;
            if (f == flip) {
                p[off + 4 + 24 + 100] ^= 0x01;
                break;
            }
            off += 4 + len;
        }
    }
    size_t len = o.len;
    mtp_conn_consume(a, len);
    mtp_conn_rx_commit(b, len, n->now);
    drain(n);
}

static void test_batches(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    for (int flip = 0; flip <= 3; flip += 3) {
        store_t st = { 0 };
        net_t n;
        net_init(&n, 555u + (uint32_t)flip);
        mtp_conn_config_t cc, sc;
        client_cfg(&cc, MTP_TRANSPORT_INTERMEDIATE, false);
        cc.session.gzip_min = SIZE_MAX;
        server_cfg(&sc, &st);
        sc.session.gzip_min = SIZE_MAX;
        int err = 0;
        err = mtp_conn_new(&cc, n.now, &n.c);
        err = mtp_conn_new(&sc, n.now, &n.s);
        if (!n.c || !n.s)
            tap_bail("conn_new: %d", err);
        make_body(&b, 1, 3, false);
        mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
        pump(&n);
        n.chunky = false;
        /* six 600 KiB calls: sealed together by the client, opened together by the server;
         * the six echoes sealed together by the server and opened together by the client */
        uint8_t sums[16];
        size_t lens[16];
        int64_t ids[6];
        for (int i = 0; i < 6; i++) {
            make_body(&b, 50u + (uint32_t)i, 150 * 1024 + (size_t)i * 7, false);
            ids[i] = mtp_conn_call(n.c, b.data, b.len, MTP_CONN_DEFER, NULL, n.now);
            sums[ids[i]] = sum8(b.data, b.len);
            lens[ids[i]] = b.len;
        }
        mtp_conn_flush(n.c, n.now);
        int q0 = n.queries;
        move_whole(&n, n.c, n.s, 0);
        mtp_conn_flush(n.s, n.now);
        if (!flip) {
            IS_INT(n.queries - q0, 6, "batches: the server got the six queries at once");
            move_whole(&n, n.s, n.c, 0);
            int ok = 1;
            for (int i = 0; i < 6; i++)
                ok &= n.rec[ids[i]].count == 1 && n.rec[ids[i]].err == 0 &&
                      n.rec[ids[i]].len == lens[ids[i]] && n.rec[ids[i]].sum == sums[ids[i]];
            OK(ok, "batches: six large answers arriving together, opened together, each intact once");
            OK(!mtp_conn_dead(n.c) && !mtp_conn_dead(n.s), "batches: both connections fine");
            advance(&n, SEC);
            OK(mtp_session_unacked(mtp_conn_session(n.s)) == 0, "batches: everything acked");
        } else {
            move_whole(&n, n.s, n.c, flip);
            int before = 0, after = 0;
            for (int i = 0; i < 6; i++) {
                if (i < flip - 1)
                    before += n.rec[ids[i]].count;
                else
                    after += n.rec[ids[i]].count;
            }
            OK(before == flip - 1 && after == 0,
               "batches: a corrupted packet in the middle of a batch: the ones before it delivered (%d), none after (%d)",
               before, after);
            OK(mtp_conn_dead(n.c) && mtp_conn_error(n.c) == MTP_ESECURITY,
               "batches: ... and the connection fails with MTP_ESECURITY (%d)", mtp_conn_error(n.c));
        }
        net_free(&n);
        store_free(&st);
    }
    mtp_buf_free(&b);
}

static void test_quick_ack_and_reconnect(void)
{
    store_t st = { 0 };
    net_t n;
    net_init(&n, 77);
    mtp_conn_config_t cc, sc;
    client_cfg(&cc, MTP_TRANSPORT_INTERMEDIATE, false);
    cc.quick_ack = true;
    server_cfg(&sc, &st);
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    pump(&n);
    mtp_buf_t b;
    mtp_buf_init(&b);
    make_body(&b, 5, 10, false);
    for (int i = 0; i < 3; i++) {
        mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
        pump(&n);
    }
    OK(n.quick_acks >= 3 && n.qa_with_id >= 3, "quick acks received and matched to packets (%d/%d)",
       n.quick_acks, n.qa_with_id);
    OK(mtp_conn_stats(n.s)->quick_acks >= 3, "server sent them");
    int64_t sid = mtp_session_id(mtp_conn_session(n.c));
    mtp_auth_key_t key = *mtp_conn_key(n.c);

    /* the connection breaks with a call in flight: continue the session on a new one */
    n.echo = false;
    int64_t inflight = mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
    pump(&n);
    mtp_session_t *sess = mtp_conn_take_session(n.c);
    OK(sess && mtp_session_pending_calls(sess) == 1, "took the session with one pending call");
    net_free(&n);
    n.now += 2 * SEC;   /* the reconnect takes time (a frozen clock would repeat msg_ids) */
    n.c_keys = n.s_keys = 0;

    cc.auth_key = &key;
    cc.client_session = sess;
    cc.quick_ack = false;
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    n.echo = true;
    int lookups = st.lookups;
    pump(&n);
    OK(st.lookups > lookups && n.s_keys == 0 && n.c_keys == 0, "key found by lookup, no new exchange");
    OK(mtp_session_id(mtp_conn_session(n.c)) == sid, "same session continued");
    OK(n.rec[inflight].count == 1 && n.rec[inflight].err == 0,
       "the in-flight call was re-sent on the new connection and answered");
    OK(n.new_sessions == 2, "the new server connection announced the session");
    net_free(&n);
    mtp_session_free(sess);
    store_free(&st);

    /* caller-owned server sessions survive connections */
    store_t st2 = { 0 };
    st2.use_get_session = 1;
    net_init(&n, 78);
    client_cfg(&cc, MTP_TRANSPORT_ABRIDGED, true);
    server_cfg(&sc, &st2);
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
    pump(&n);
    OK(n.rec[1].count == 1 && st2.nsess == 1, "server session created through get_session");
    key = *mtp_conn_key(n.c);
    sess = mtp_conn_take_session(n.c);
    net_free(&n);
    n.now += 2 * SEC;
    cc.auth_key = &key;
    cc.client_session = sess;
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    int64_t id2 = mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
    pump(&n);
    OK(n.rec[id2].count == 1 && n.new_sessions == 1, "same server session on the new connection "
       "(no second new_session_created)");
    net_free(&n);
    mtp_session_free(sess);
    store_free(&st2);
    mtp_buf_free(&b);
}

static void test_unknown_key(void)
{
    store_t st = { 0 };
    net_t n;
    net_init(&n, 5);
    mtp_conn_config_t cc, sc;
    client_cfg(&cc, MTP_TRANSPORT_INTERMEDIATE, true);
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)(i * 7 + 1);
    mtp_auth_key_t key;
    mtp_auth_key_init(&key, raw);
    cc.auth_key = &key;
    cc.session.server_salt = 1;
    cc.session.time_synced = true;
    server_cfg(&sc, &st);
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    mtp_buf_t b;
    mtp_buf_init(&b);
    make_body(&b, 5, 10, false);
    mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
    pump(&n);
    OK(n.s_terr == 1 && n.s_code == -404, "server answered an unknown key with -404");
    OK(n.c_terr == 1 && n.c_code == -404 && mtp_conn_dead(n.c), "client: transport error -404, dead");
    OK(mtp_conn_feed(n.c, b.data, 4, n.now) == MTP_ETRANSPORT, "feeding a dead conn returns its error");
    /* the pending call is still in the session: closing ends it */
    mtp_conn_close(n.c, MTP_ECLOSED);
    drain(&n);
    OK(n.rec[1].count == 1 && n.rec[1].err == MTP_ECLOSED, "close ends the pending call (ECLOSED)");
    net_free(&n);
    mtp_buf_free(&b);
    store_free(&st);
}

/* Handshake first, then corrupt one byte of a later packet. */
static int run_corruption(mtp_transport_kind_t kind, bool obfs, int where, uint32_t seed,
                          int *c_err, int *s_err)
{
    store_t st = { 0 };
    net_t n;
    net_init(&n, seed);
    mtp_conn_config_t cc, sc;
    client_cfg(&cc, kind, obfs);
    server_cfg(&sc, &st);
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    pump(&n);
    mtp_buf_t b;
    mtp_buf_init(&b);
    make_body(&b, 5, 50, false);
    mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
    pump(&n);
    size_t hdr = kind == MTP_TRANSPORT_FULL ? 8 : kind == MTP_TRANSPORT_ABRIDGED ? 1 : 4;
    switch (where) {
    case 0:   /* flip a byte of the encrypted payload, client -> server */
        n.flip_c2s_at = (long)(n.c2s_pos + hdr + 30);
        break;
    case 1:   /* drop a byte inside a client packet */
        n.drop_c2s_at = (long)(n.c2s_pos + hdr + 40);
        break;
    case 2:   /* flip a byte of a server packet */
        n.flip_s2c_at = (long)(n.s2c_pos + hdr + 30);
        break;
    default:  /* flip a length byte */
        n.flip_c2s_at = (long)(n.c2s_pos + (kind == MTP_TRANSPORT_FULL ? 1 : 0));
        break;
    }
    for (int i = 0; i < 4; i++) {
        mtp_conn_call(n.c, b.data, b.len, 0, NULL, n.now);
        pump(&n);
    }
    *c_err = mtp_conn_error(n.c);
    *s_err = mtp_conn_error(n.s);
    int answered = 0;
    for (int i = 0; i < MAXCALLS; i++)
        answered += n.rec[i].count;
    net_free(&n);
    mtp_buf_free(&b);
    store_free(&st);
    return answered;
}

static bool typed(int e)
{
    return e == 0 || e == MTP_ESECURITY || e == MTP_ETRANSPORT || e == MTP_EPROTO;
}

static void test_corruption(void)
{
    struct { mtp_transport_kind_t kind; bool obfs; const char *name; } kinds[] = {
        { MTP_TRANSPORT_ABRIDGED, false, "abridged" },
        { MTP_TRANSPORT_INTERMEDIATE, false, "intermediate" },
        { MTP_TRANSPORT_PADDED, false, "padded" },
        { MTP_TRANSPORT_FULL, false, "full" },
        { MTP_TRANSPORT_INTERMEDIATE, true, "obfuscated intermediate" },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int ce, se;
        run_corruption(kinds[k].kind, kinds[k].obfs, 0, 10 + (uint32_t)k, &ce, &se);
        int want = kinds[k].kind == MTP_TRANSPORT_FULL ? MTP_ETRANSPORT : MTP_ESECURITY;
        OK(se == want, "%s: flipped payload byte -> server %s (%d)", kinds[k].name,
           mtp_strerror(want), se);
        run_corruption(kinds[k].kind, kinds[k].obfs, 2, 20 + (uint32_t)k, &ce, &se);
        OK(ce == want, "%s: flipped server byte -> client %s (%d)", kinds[k].name,
           mtp_strerror(want), ce);
        run_corruption(kinds[k].kind, kinds[k].obfs, 1, 30 + (uint32_t)k, &ce, &se);
        OK(typed(se) && typed(ce), "%s: dropped byte -> only typed errors (server %d, client %d)",
           kinds[k].name, se, ce);
        OK(se == want, "%s: dropped byte detected by the server as %s (%d)", kinds[k].name,
           mtp_strerror(want), se);
        run_corruption(kinds[k].kind, kinds[k].obfs, 3, 40 + (uint32_t)k, &ce, &se);
        OK(typed(se) && typed(ce), "%s: flipped length byte -> typed failure or a stall (%d)",
           kinds[k].name, se);
    }
    /* random garbage at a server, and random chunks of garbage at a client */
    for (uint32_t seed = 1; seed <= 40; seed++) {
        store_t st = { 0 };
        mtp_conn_config_t sc, cc;
        server_cfg(&sc, &st);
        mtp_conn_t *s = NULL;
        (void)mtp_conn_new(&sc, T0, &s);
        client_cfg(&cc, seed % 2 ? MTP_TRANSPORT_ABRIDGED : MTP_TRANSPORT_INTERMEDIATE, seed % 3 == 0);
        mtp_conn_t *c = NULL;
        (void)mtp_conn_new(&cc, T0, &c);
        uint32_t r = seed * 2654435761u;
        bool ok = true;
        for (int i = 0; i < 200; i++) {
            uint8_t junk[64];
            size_t len = 1 + (r >> 9) % 64;
            for (size_t j = 0; j < len; j++) {
                r = r * 1103515245u + 12345u;
                junk[j] = (uint8_t)(r >> 16);
            }
            if (i == 0 && seed % 4 == 0)
                junk[0] = 0xef;   /* look like abridged */
            int e1 = mtp_conn_feed(s, junk, len, T0);
            int e2 = mtp_conn_feed(c, junk, len, T0);
            if (!typed(e1) && e1 != MTP_ENOMEM)
                ok = false;
            if (!typed(e2) && e2 != MTP_ETRANSPORT)
                ok = false;
            mtp_conn_event_t ev;
            while (mtp_conn_next_event(s, &ev) == 1) {}
            while (mtp_conn_next_event(c, &ev) == 1) {}
            mtp_conn_consume(s, mtp_conn_pending_output(s).len);
        }
        if (seed == 1 || !ok)
            OK(ok, "garbage streams give typed errors (seed %u)", seed);
        mtp_conn_free(s);
        mtp_conn_free(c);
    }
    OK(1, "40 garbage streams survived");
}

static void test_handshake_failures(void)
{
    /* corrupt the server's resPQ: the client fails typed, no key */
    store_t st = { 0 };
    net_t n;
    net_init(&n, 3);
    mtp_conn_config_t cc, sc;
    client_cfg(&cc, MTP_TRANSPORT_INTERMEDIATE, false);
    server_cfg(&sc, &st);
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    n.flip_s2c_at = 4 + 20 + 6;   /* inside resPQ's nonce */
    pump(&n);
    OK(n.c_errors == 1 && (n.c_err == MTP_ESECURITY || n.c_err == MTP_EPROTO) && !mtp_conn_has_key(n.c),
       "corrupted resPQ -> client key exchange fails (%d)", n.c_err);
    net_free(&n);

    /* corrupt the client's req_DH_params: the server rejects with -404 */
    net_init(&n, 4);
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    n.flip_c2s_at = 4 + 40 + 4 + 20 + 60;   /* tag + req_pq_multi packet + header + inside */
    pump(&n);
    OK(n.s_terr >= 1 && n.s_code == -404, "corrupted req_DH_params -> server -404");
    OK(n.c_terr == 1 && n.c_code == -404 && mtp_conn_dead(n.c), "client sees -404");
    net_free(&n);

    /* nobody answers: resend twice, then MTP_ETIMEDOUT */
    net_init(&n, 6);
    (void)mtp_conn_new(&cc, n.now, &n.c);
    mtp_usec_t d = mtp_conn_next_deadline(n.c);
    OK(d > n.now && d < n.now + 60 * SEC, "handshake deadline armed");
    size_t out0 = mtp_conn_pending_output(n.c).len;
    n.now = d;
    mtp_conn_tick(n.c, n.now);
    OK(mtp_conn_pending_output(n.c).len > out0, "request re-sent at the deadline");
    n.now = mtp_conn_next_deadline(n.c);
    mtp_conn_tick(n.c, n.now);
    n.now = mtp_conn_next_deadline(n.c);
    mtp_conn_tick(n.c, n.now);
    drain(&n);
    OK(n.c_errors == 1 && n.c_err == MTP_ETIMEDOUT, "gave up with MTP_ETIMEDOUT");
    OK(mtp_conn_next_deadline(n.c) == MTP_TIME_NEVER, "no deadline once dead");
    net_free(&n);
    store_free(&st);
}

static void test_ping_disconnect(void)
{
    store_t st = { 0 };
    net_t n;
    net_init(&n, 9);
    mtp_conn_config_t cc, sc;
    client_cfg(&cc, MTP_TRANSPORT_PADDED, true);
    server_cfg(&sc, &st);
    (void)mtp_conn_new(&cc, n.now, &n.c);
    (void)mtp_conn_new(&sc, n.now, &n.s);
    pump(&n);
    mtp_session_ping(mtp_conn_session(n.c), 1, 35, n.now);
    mtp_conn_flush(n.c, n.now);
    pump(&n);
    OK(mtp_conn_next_deadline(n.s) <= n.now + 35 * SEC, "server deadline from ping_delay_disconnect");
    advance(&n, 36 * SEC);
    OK(n.disconnects == 1, "server session asks to disconnect after the delay");
    net_free(&n);
    store_free(&st);
}

static void test_api_misc(void)
{
    mtp_conn_config_t cc;
    client_cfg(&cc, MTP_TRANSPORT_FULL, true);   /* full cannot be obfuscated */
    int err = 0;
    mtp_conn_t *bad = NULL;
    err = mtp_conn_new(&cc, T0, &bad);
    OK(bad == NULL && err == MTP_EINVAL, "full+obfuscated refused");
    client_cfg(&cc, MTP_TRANSPORT_INTERMEDIATE, false);
    cc.hs_client.n_rsa_keys = 0;
    err = mtp_conn_new(&cc, T0, &bad);
    OK(bad == NULL && err == MTP_EINVAL, "no RSA keys refused");
    mtp_conn_config_t sc;
    mtp_conn_config_init(&sc, MTP_ROLE_SERVER);
    mtp_conn_t *s = NULL;
    err = mtp_conn_new(&sc, T0, &s);
    OK(s != NULL, "server conn without keys (encrypted-only) created");
    uint8_t body[8] = { 0 };
    OK(mtp_conn_call(s, body, 8, 0, NULL, T0) == MTP_ESTATE, "server cannot call");
    OK(mtp_conn_push(s, body, 8, T0) == MTP_ENOTFOUND, "push without a session: ENOTFOUND");
    OK(mtp_conn_pending_output(s).len == 0 && mtp_conn_next_deadline(s) == MTP_TIME_NEVER,
       "idle server: no output, no deadline");
    mtp_conn_free(s);
    mtp_conn_free(NULL);
}

int main(void)
{
    if (mtp_rsa_generate(2048, &g_priv))
        tap_bail("rsa_generate");
    char pem[4096];
    size_t pl;
    if (mtp_rsa_public_pem(g_priv, pem, sizeof pem, &pl) || mtp_rsa_load_public_pem(pem, pl, &g_pub))
        tap_bail("public pem");
    test_transports();
    test_batches();
    test_quick_ack_and_reconnect();
    test_unknown_key();
    test_corruption();
    test_handshake_failures();
    test_ping_disconnect();
    test_api_misc();
    mtp_rsa_free(g_priv);
    mtp_rsa_free(g_pub);
    return tap_done();
}
