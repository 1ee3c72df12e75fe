/*
 * Session tests: a client session and server sessions talking through memory with a fake
 * clock (no envelope, no transport: the plaintext messages are handed over directly).
 * Covers round trips, containers and their limits, acks, gzip both ways, salts, every
 * bad_msg_notification code (server detection and client reaction), new_session_created,
 * msgs_state_req/info, msg_resend_req, msg_detailed_info, ping/pong/ping_delay_disconnect,
 * destroy_session, rpc_drop_answer, rpc_result routing and rpc_error parsing, replays, and
 * that every call ends exactly once.
 */
#include <mtproto/session.h>
#include <mtproto/tl.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <mtproto/tl_mtproto.h>
#include <mtproto/tl_schema.h>

#include "testutil.h"

#define SEC 1000000LL
#define T0 (1700000000LL * SEC)
#define MAXREC 8192
#define MAXSRV 8

/* ids used in crafted bodies */
#define ID_GET_CONFIG   0xc4f9186bu   /* help.getConfig: a parameterless API query */
#define ID_MSGS_ACK     0x62d6b459u
#define ID_VECTOR       0x1cb5c415u
#define ID_CONTAINER    0x73f1f8dcu
#define ID_BAD_MSG      0xa7eff811u
#define ID_BAD_SALT     0xedab447bu
#define ID_RPC_RESULT   0xf35c6d01u
#define ID_RPC_ERROR    0x2144ca19u
#define ID_GZIP         0x3072cfa1u
#define ID_NEW_SESSION  0x9ec20908u
#define ID_STATE_REQ    0xda69fb52u
#define ID_STATE_INFO   0x04deb57du
#define ID_RESEND_REQ   0x7d861a08u
#define ID_PONG         0x347773c5u
#define ID_PING         0x7abe77ecu
#define ID_FUTURE_SALTS 0xae500895u
#define ID_GET_SALTS    0xb921bd04u
#define ID_DESTROY      0xe7512126u
#define ID_DESTROY_OK   0xe22045fcu
#define ID_DESTROY_NONE 0x62d350c9u
#define ID_DROP_ANSWER  0x58e4a740u
#define ID_DROPPED_RUNNING 0xcd78e586u
#define ID_DETAILED     0x276d3ec6u
#define ID_AFTER_MSG    0xcb9f372du
#define ID_WITH_LAYER   0xda9b0d0du
#define ID_INIT_CONN    0xc1cd5ea9u

/* ---------------------------------------------------------------------------------- */
/* byte helpers                                                                       */
/* ---------------------------------------------------------------------------------- */

/* mtp_session_new() for tests that only need the session (NULL on failure). */
static mtp_session_t *new_session(const mtp_session_config_t *c)
{
    mtp_session_t *s = NULL;
    return mtp_session_new(c, &s) == 0 ? s : NULL;
}

static uint32_t g32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static int64_t g64(const uint8_t *p)
{
    return (int64_t)((uint64_t)g32(p) | (uint64_t)g32(p + 4) << 32);
}
static void p32(mtp_buf_t *b, uint32_t v)
{
    uint8_t t[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mtp_buf_append(b, t, 4);
}
static void p64(mtp_buf_t *b, int64_t v)
{
    p32(b, (uint32_t)(uint64_t)v);
    p32(b, (uint32_t)((uint64_t)v >> 32));
}
static void pbytes(mtp_buf_t *b, const void *p, size_t n)
{
    size_t hdr = n < 254 ? 1 : 4;
    uint8_t h[4];
    if (n < 254)
        h[0] = (uint8_t)n;
    else {
        h[0] = 254;
        h[1] = (uint8_t)n;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)(n >> 16);
    }
    mtp_buf_append(b, h, hdr);
    mtp_buf_append(b, p, n);
    static const uint8_t z[4];
    mtp_buf_append(b, z, (4 - (hdr + n) % 4) % 4);
}

/* A fake API query: a made-up constructor id + payload words. */
static void make_query(mtp_buf_t *b, uint32_t tag, size_t words, bool compressible)
{
    mtp_buf_clear(b);
    p32(b, 0x0badf00du);
    p32(b, tag);
    for (size_t i = 0; i < words; i++)
        p32(b, compressible ? 0x41414141u : (uint32_t)(tag * 2654435761u + i * 40503u));
}

/* ---------------------------------------------------------------------------------- */
/* the world: one client, server sessions by session_id, a fake clock                */
/* ---------------------------------------------------------------------------------- */

typedef struct rec {
    int count;            /* RESULT events seen for this call */
    int err;
    int32_t bad;
    mtp_rpc_error_t e;
    char emsg[64];
    uint8_t *body;
    size_t len;
    int64_t msg_id;
} rec_t;

typedef struct msg {
    int64_t msg_id;
    int32_t seq;
    const uint8_t *body;
    size_t len;
} msg_t;

typedef struct pkt {
    mtp_session_msg_t m;
    uint8_t *copy;
} pkt_t;

typedef struct world world_t;
typedef void (*hook_fn)(world_t *w, const mtp_session_msg_t *m, bool c2s);

struct world {
    mtp_session_t *c;
    mtp_session_t *srv[MAXSRV];
    int nsrv;
    mtp_session_config_t scfg;
    mtp_usec_t now;
    rec_t *rec;               /* MAXREC, by call id */
    /* client events */
    int new_sessions, updates, pongs, resets, salts_ev;
    int64_t new_session_first, last_pong_id, last_update_id;
    uint8_t last_update[256];
    size_t last_update_len;
    /* server events */
    int queries, disconnects, srv_pongs;
    int auto_reply;               /* 1: echo each query */
    uint32_t reply_flags;         /* for mtp_session_reply_ex */
    int hold_replies;             /* 1: keep queries unanswered */
    int64_t last_req;
    mtp_query_info_t last_info;
    uint8_t last_query[8192];
    size_t last_query_len;
    int64_t held[64];
    int64_t last_after;
    int nheld;
    /* packet control */
    int drop_c2s, drop_s2c;
    hook_fn hook;
    pkt_t last_c2s, last_s2c;
    int c2s_packets, s2c_packets;
    int max_container_seen;
    size_t max_body_seen;
};

static void pkt_save(pkt_t *p, const mtp_session_msg_t *m)
{
    free(p->copy);
    p->copy = malloc(m->len ? m->len : 1);
    memcpy(p->copy, m->body, m->len);
    p->m = *m;
    p->m.body = p->copy;
}

static int destroy_cb(void *ctx, int64_t sid)
{
    (void)ctx;
    return sid == 777 ? 1 : 0;
}

static void world_init(world_t *w, const mtp_session_config_t *ccfg)
{
    memset(w, 0, sizeof *w);
    w->rec = calloc(MAXREC, sizeof *w->rec);
    w->now = T0;
    mtp_session_config_t c;
    if (ccfg)
        c = *ccfg;
    else {
        mtp_session_config_init(&c, MTP_ROLE_CLIENT);
        c.server_salt = 0x1111;
        c.time_synced = true;
        c.future_salts = 0;
    }
    w->c = new_session(&c);
    mtp_session_config_init(&w->scfg, MTP_ROLE_SERVER);
    w->scfg.server_salt = 0x1111;
    w->scfg.destroy_session = destroy_cb;
    w->auto_reply = 1;
}

static void world_free(world_t *w)
{
    mtp_session_free(w->c);
    for (int i = 0; i < w->nsrv; i++)
        mtp_session_free(w->srv[i]);
    for (int i = 0; i < MAXREC; i++)
        free(w->rec[i].body);
    free(w->rec);
    free(w->last_c2s.copy);
    free(w->last_s2c.copy);
}

static mtp_session_t *server_for(world_t *w, int64_t sid)
{
    for (int i = 0; i < w->nsrv; i++)
        if (mtp_session_id(w->srv[i]) == sid)
            return w->srv[i];
    if (w->nsrv == MAXSRV)
        return NULL;
    mtp_session_config_t c = w->scfg;
    c.session_id = sid;
    w->srv[w->nsrv] = new_session(&c);
    return w->srv[w->nsrv++];
}

static void drain_client(world_t *w)
{
    mtp_session_event_t ev;
    while (mtp_session_next_event(w->c, &ev) == 1) {
        switch (ev.type) {
        case MTP_SESSION_EV_RESULT: {
            if (ev.call_id >= MAXREC)
                break;
            rec_t *r = &w->rec[ev.call_id];
            r->count++;
            r->err = ev.err;
            r->bad = ev.bad_msg_code;
            r->msg_id = ev.msg_id;
            r->e = ev.rpc_error;
            size_t ml = ev.rpc_error.message.len < 63 ? ev.rpc_error.message.len : 63;
            if (ml)
                memcpy(r->emsg, ev.rpc_error.message.ptr, ml);
            r->emsg[ml] = 0;
            r->e.message.ptr = (const uint8_t *)r->emsg;
            r->e.name.ptr = (const uint8_t *)r->emsg;
            free(r->body);
            r->body = malloc(ev.body.len + 1);
            memcpy(r->body, ev.body.ptr ? ev.body.ptr : (const uint8_t *)"", ev.body.len);
            r->len = ev.body.len;
            break;
        }
        case MTP_SESSION_EV_NEW_SESSION:
            w->new_sessions++;
            w->new_session_first = ev.msg_id;
            break;
        case MTP_SESSION_EV_UPDATE:
            w->updates++;
            w->last_update_id = ev.msg_id;
            w->last_update_len = ev.body.len < sizeof w->last_update ? ev.body.len : 0;
            memcpy(w->last_update, ev.body.ptr, w->last_update_len);
            break;
        case MTP_SESSION_EV_PONG:
            w->pongs++;
            w->last_pong_id = ev.ping_id;
            break;
        case MTP_SESSION_EV_SESSION_RESET:
            w->resets++;
            break;
        case MTP_SESSION_EV_SALTS:
            w->salts_ev++;
            break;
        default:
            break;
        }
    }
}

static void drain_server(world_t *w, mtp_session_t *s)
{
    mtp_session_event_t ev;
    while (mtp_session_next_event(s, &ev) == 1) {
        if (ev.type == MTP_SESSION_EV_QUERY) {
            w->queries++;
            w->last_req = ev.msg_id;
            w->last_info = ev.info;
            w->last_query_len = ev.body.len < sizeof w->last_query ? ev.body.len : 0;
            memcpy(w->last_query, ev.body.ptr, w->last_query_len);
            w->last_info.query.ptr = w->last_query;
            w->last_after = mtp_query_after_id(&ev.info, 0);
            w->last_info.after_raw = NULL;
            w->last_info.params.ptr = NULL;
            if (w->hold_replies) {
                if (w->nheld < 64)
                    w->held[w->nheld++] = ev.msg_id;
            } else if (w->auto_reply) {
                mtp_session_reply_ex(s, ev.msg_id, ev.body.ptr, ev.body.len, w->reply_flags,
                                     w->now);
            }
        } else if (ev.type == MTP_SESSION_EV_DISCONNECT) {
            w->disconnects++;
        } else if (ev.type == MTP_SESSION_EV_PONG) {
            w->srv_pongs++;
        }
    }
}

static void note_packet(world_t *w, const mtp_session_msg_t *m)
{
    if (m->len > w->max_body_seen)
        w->max_body_seen = m->len;
    if (m->len >= 8 && g32(m->body) == ID_CONTAINER && (int)g32(m->body + 4) > w->max_container_seen)
        w->max_container_seen = (int)g32(m->body + 4);
}

/* Move everything both ways until quiet. */
static void pump(world_t *w)
{
    for (int round = 0; round < 10000; round++) {
        bool moved = false;
        mtp_session_msg_t m;
        while (mtp_session_pack(w->c, w->now, &m) == 1) {
            moved = true;
            w->c2s_packets++;
            note_packet(w, &m);
            pkt_save(&w->last_c2s, &m);
            if (w->hook)
                w->hook(w, &m, true);
            if (w->drop_c2s > 0) {
                w->drop_c2s--;
                continue;
            }
            mtp_session_t *s = server_for(w, m.session_id);
            if (s)
                mtp_session_feed(s, &m, w->now);
        }
        for (int i = 0; i < w->nsrv; i++) {
            drain_server(w, w->srv[i]);
            while (mtp_session_pack(w->srv[i], w->now, &m) == 1) {
                moved = true;
                w->s2c_packets++;
                note_packet(w, &m);
                pkt_save(&w->last_s2c, &m);
                if (w->hook)
                    w->hook(w, &m, false);
                if (w->drop_s2c > 0) {
                    w->drop_s2c--;
                    continue;
                }
                mtp_session_feed(w->c, &m, w->now);
            }
        }
        drain_client(w);
        if (!moved)
            break;
    }
}

/* Advance the clock by dt, ticking everyone, then pump. */
static void advance(world_t *w, mtp_usec_t dt)
{
    w->now += dt;
    mtp_session_tick(w->c, w->now);
    for (int i = 0; i < w->nsrv; i++)
        mtp_session_tick(w->srv[i], w->now);
    pump(w);
}

static int64_t call(world_t *w, const mtp_buf_t *q, uint32_t flags)
{
    return mtp_session_call(w->c, q->data, q->len, flags, NULL, w->now);
}

/* Split a packed message into its messages (container contents or the message). */
static int split(const mtp_session_msg_t *m, msg_t *out, int max)
{
    if (m->len >= 8 && g32(m->body) == ID_CONTAINER) {
        int n = (int)g32(m->body + 4), k = 0;
        size_t off = 8;
        for (int i = 0; i < n && k < max; i++) {
            out[k].msg_id = g64(m->body + off);
            out[k].seq = (int32_t)g32(m->body + off + 8);
            out[k].len = g32(m->body + off + 12);
            out[k].body = m->body + off + 16;
            off += 16 + out[k].len;
            k++;
        }
        return k;
    }
    out[0].msg_id = m->msg_id;
    out[0].seq = m->seq_no;
    out[0].body = m->body;
    out[0].len = m->len;
    return 1;
}

/* Collect everything a session wants to send (not delivered). Bodies copied into *store. */
#define OUTBOX_MAX 4096
typedef struct outbox {
    msg_t *v;                  /* OUTBOX_MAX, allocated by collect() */
    int n;
    mtp_session_msg_t pk[64];
    uint8_t *copies[64];
    int npk;
} outbox_t;

static void outbox_free(outbox_t *o)
{
    for (int i = 0; i < o->npk; i++)
        free(o->copies[i]);
    free(o->v);
    o->v = NULL;
    o->n = o->npk = 0;
}

static void collect(mtp_session_t *s, mtp_usec_t now, outbox_t *o)
{
    mtp_session_msg_t m;
    if (!o->v)
        o->v = calloc(OUTBOX_MAX, sizeof *o->v);
    while (o->npk < 64 && mtp_session_pack(s, now, &m) == 1) {
        uint8_t *c = malloc(m.len);
        memcpy(c, m.body, m.len);
        m.body = c;
        o->copies[o->npk] = c;
        o->pk[o->npk++] = m;
        o->n += split(&m, o->v + o->n, OUTBOX_MAX - o->n);
    }
}

static const msg_t *find_msg(const outbox_t *o, uint32_t id)
{
    for (int i = 0; i < o->n; i++)
        if (o->v[i].len >= 4 && g32(o->v[i].body) == id)
            return &o->v[i];
    return NULL;
}

/* bad_msg_notification / bad_server_salt code in an outbox, or 0 */
static int bad_code(const outbox_t *o, int64_t *bad_id)
{
    for (int i = 0; i < o->n; i++) {
        const msg_t *m = &o->v[i];
        if (m->len >= 20 && (g32(m->body) == ID_BAD_MSG || g32(m->body) == ID_BAD_SALT)) {
            if (bad_id)
                *bad_id = g64(m->body + 4);
            return (int)g32(m->body + 16);
        }
    }
    return 0;
}

static void feed(mtp_session_t *s, int64_t salt, int64_t msg_id, int32_t seq, const void *body,
                 size_t len, mtp_usec_t now)
{
    mtp_session_msg_t m = { salt, mtp_session_id(s), msg_id, seq, body, len };
    mtp_session_feed(s, &m, now);
}

/* A client msg_id at time t, with a small counter to keep them distinct. */
static int64_t cid_at(mtp_usec_t t, int k)
{
    return mtp_msg_id_from_time(t) + 4 * k;
}

static int completed_once(const world_t *w, int64_t from, int64_t to)
{
    for (int64_t i = from; i <= to; i++)
        if (w->rec[i].count != 1)
            return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------- */
/* tests                                                                              */
/* ---------------------------------------------------------------------------------- */

/* The ids the tests (and the session) hard-code agree with the generated schema. */
static void test_ids(void)
{
    OK(ID_MSGS_ACK == MTP_ID_mt_msgs_ack && ID_CONTAINER == MTP_ID_mt_msg_container &&
       ID_BAD_MSG == MTP_ID_mt_bad_msg_notification && ID_BAD_SALT == MTP_ID_mt_bad_server_salt &&
       ID_RPC_RESULT == MTP_ID_mt_rpc_result && ID_RPC_ERROR == MTP_ID_mt_rpc_error &&
       ID_GZIP == MTP_ID_mt_gzip_packed && ID_NEW_SESSION == MTP_ID_mt_new_session_created &&
       ID_STATE_REQ == MTP_ID_mt_msgs_state_req && ID_STATE_INFO == MTP_ID_mt_msgs_state_info &&
       ID_RESEND_REQ == MTP_ID_mt_msg_resend_req && ID_PONG == MTP_ID_mt_pong &&
       ID_PING == MTP_ID_mt_ping && ID_FUTURE_SALTS == MTP_ID_mt_future_salts &&
       ID_GET_SALTS == MTP_ID_mt_get_future_salts && ID_DESTROY == MTP_ID_mt_destroy_session &&
       ID_DESTROY_OK == MTP_ID_mt_destroy_session_ok &&
       ID_DESTROY_NONE == MTP_ID_mt_destroy_session_none &&
       ID_DROP_ANSWER == MTP_ID_mt_rpc_drop_answer &&
       ID_DROPPED_RUNNING == MTP_ID_mt_rpc_answer_dropped_running &&
       ID_DETAILED == MTP_ID_mt_msg_detailed_info, "service ids match tl/mtproto.tl");
    OK(ID_AFTER_MSG == MTP_ID_invokeAfterMsg && ID_WITH_LAYER == MTP_ID_invokeWithLayer &&
       ID_INIT_CONN == MTP_ID_initConnection && ID_GET_CONFIG == MTP_ID_help_getConfig,
       "wrapper ids match tl/api.tl");
}

static void test_msg_id(void)
{
    mtp_usec_t t = T0 + 123456;
    int64_t id = mtp_msg_id_from_time(t);
    OK((id & 3) == 0, "msg_id from time is divisible by 4");
    OK((id >> 32) == T0 / SEC, "msg_id high word is unix seconds");
    mtp_usec_t back = mtp_msg_id_time(id);
    OK(back <= t && t - back < 2, "msg_id time round trip (%lld vs %lld)", (long long)back,
       (long long)t);

    /* generator properties through a client session */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.future_salts = 0;
    c.time_synced = true;
    mtp_session_t *s = new_session(&c);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    int64_t last = 0;
    bool mono = true, parity = true, seqok = true;
    for (int i = 0; i < 50; i++) {
        mtp_session_call(s, q.data, q.len, 0, NULL, T0);   /* same clock value every time */
        mtp_session_msg_t m;
        while (mtp_session_pack(s, T0, &m) == 1) {
            msg_t v[8];
            int n = split(&m, v, 8);
            for (int k = 0; k < n; k++) {
                if (v[k].msg_id <= last)
                    mono = false;
                if (v[k].msg_id & 3)
                    parity = false;
                last = v[k].msg_id;
            }
            if (m.seq_no != 2 * i + 1)
                seqok = false;
        }
    }
    OK(mono, "client msg_ids strictly increase with a frozen clock");
    OK(parity, "client msg_ids are ≡ 0 mod 4");
    OK(seqok, "content-related seq_no = 2·count + 1");
    mtp_session_free(s);

    /* server parity: answers 1, pushes 3 */
    world_t w;
    world_init(&w, NULL);
    w.auto_reply = 1;
    call(&w, &q, 0);
    mtp_session_msg_t m;
    mtp_session_pack(w.c, w.now, &m);
    mtp_session_t *srv = server_for(&w, m.session_id);
    mtp_session_feed(srv, &m, w.now);
    drain_server(&w, srv);
    mtp_session_push(srv, q.data, q.len, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    bool ans = false, push = false, cont_gt = true;
    for (int i = 0; i < o.n; i++) {
        uint32_t id0 = g32(o.v[i].body);
        if (id0 == ID_RPC_RESULT)
            ans = (o.v[i].msg_id & 3) == 1;
        if (id0 == 0x0badf00du)
            push = (o.v[i].msg_id & 3) == 3;
        if (o.v[i].msg_id >= o.pk[0].msg_id && o.pk[0].len >= 4 && g32(o.pk[0].body) == ID_CONTAINER)
            cont_gt = false;
    }
    OK(ans, "server answer msg_id ≡ 1 mod 4");
    OK(push, "server push msg_id ≡ 3 mod 4");
    OK(cont_gt, "container msg_id greater than its contents");
    outbox_free(&o);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_round_trip(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 7, 5, false);
    int64_t id = call(&w, &q, 0);
    OK(id == 1, "first call id is 1");
    OK(mtp_session_pending_calls(w.c) == 1, "one call pending");
    pump(&w);
    OK(w.queries == 1, "server saw the query once");
    OK(w.last_query_len == q.len && !memcmp(w.last_query, q.data, q.len), "query body intact");
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "result arrived once, no error");
    OK(w.rec[1].len == q.len && !memcmp(w.rec[1].body, q.data, q.len), "echoed result intact");
    OK(mtp_session_pending_calls(w.c) == 0, "no call pending");
    OK(w.new_sessions == 1, "client heard new_session_created once");
    /* the client owes acks for rpc_result + new_session_created; they go out by deadline */
    mtp_session_t *srv = w.srv[0];
    OK(mtp_session_next_deadline(w.c) == w.now + 500 * 1000, "ack flush deadline = +0.5 s (%lld)",
       (long long)(mtp_session_next_deadline(w.c) - w.now));
    OK(mtp_session_unacked(srv) == 2, "server keeps answer + new_session_created until acked");
    advance(&w, 499 * 1000);
    OK(mtp_session_unacked(srv) == 2, "not acked before the deadline");
    advance(&w, 1000);
    OK(mtp_session_unacked(srv) == 0, "acked at the deadline");
    OK(mtp_session_stats(w.c)->acks_out == 1 && mtp_session_stats(w.c)->ids_acked == 2,
       "one msgs_ack with both ids");
    /* the server acked the query implicitly by the rpc_result: client has nothing unacked */
    OK(mtp_session_unacked(w.c) == 0, "client has nothing waiting for an ack");
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_containers(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 9, 2, false);
    for (int i = 0; i < 3000; i++)
        call(&w, &q, 0);
    pump(&w);
    OK(completed_once(&w, 1, 3000), "3000 calls completed exactly once");
    OK(w.max_container_seen <= 1024 && w.max_container_seen >= 1000,
       "containers hold at most 1024 messages (max seen %d)", w.max_container_seen);
    OK(mtp_session_stats(w.c)->containers_out >= 3, "several client containers");
    world_free(&w);

    /* byte limit */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.max_container_bytes = 4096;
    c.gzip_min = SIZE_MAX;
    world_init(&w, &c);
    make_query(&q, 10, 200, false);   /* 808 bytes */
    for (int i = 0; i < 40; i++)
        call(&w, &q, 0);
    make_query(&q, 11, 3000, false);  /* 12008 bytes: bigger than a container may be */
    call(&w, &q, 0);
    pump(&w);
    OK(completed_once(&w, 1, 41), "41 calls completed (one too big for a container)");
    OK(w.rec[41].len == q.len, "the oversized call went alone and came back");
    /* every client packet except the oversized one respected 4096 bytes */
    OK(mtp_session_stats(w.c)->packets_out >= 10, "packets split by the byte limit (%llu)",
       (unsigned long long)mtp_session_stats(w.c)->packets_out);
    world_free(&w);

    /* MTP_SESS_ALONE */
    world_init(&w, NULL);
    make_query(&q, 12, 1, false);
    call(&w, &q, 0);
    call(&w, &q, MTP_SESS_ALONE);
    mtp_session_msg_t m;
    int pk = 0;
    bool alone_bare = false;
    while (mtp_session_pack(w.c, w.now, &m) == 1) {
        pk++;
        if (g32(m.body) == 0x0badf00du && m.seq_no == 3)
            alone_bare = true;
    }
    OK(pk == 2 && alone_bare, "MTP_SESS_ALONE goes in a packet of its own");
    world_free(&w);
    mtp_buf_free(&q);
}

static void test_acks(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);   /* flush acks of the round trip */
    mtp_session_t *srv = w.srv[0];
    uint64_t acks0 = mtp_session_stats(w.c)->acks_out;
    /* 99 pushes: below the count limit */
    make_query(&q, 2, 1, false);
    for (int i = 0; i < 99; i++)
        mtp_session_push(srv, q.data, q.len, w.now);
    pump(&w);
    OK(w.updates == 99, "99 updates delivered");
    OK(!mtp_session_want_pack(w.c, w.now), "99 pending acks wait for the deadline");
    OK(mtp_session_stats(w.c)->acks_out == acks0, "no ack yet");
    advance(&w, 500 * 1000);
    OK(mtp_session_stats(w.c)->acks_out == acks0 + 1, "acks flushed by the deadline");
    OK(mtp_session_unacked(srv) == 0, "server got all 99 acks");
    /* 150 pushes: flushed at 100 without waiting */
    for (int i = 0; i < 150; i++)
        mtp_session_push(srv, q.data, q.len, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    OK(mtp_session_want_pack(w.c, w.now), "100+ pending acks want to go now");
    collect(w.c, w.now, &o);
    const msg_t *a = find_msg(&o, ID_MSGS_ACK);
    OK(a && g32(a->body + 8) == 150, "one msgs_ack with all 150 ids (%u)", a ? g32(a->body + 8) : 0);
    OK(a && (a->seq & 1) == 0, "msgs_ack is not content-related");
    outbox_free(&o);
    /* acks piggy-back on a call */
    for (int i = 0; i < 3; i++)
        mtp_session_push(srv, q.data, q.len, w.now);
    collect(srv, w.now, &o);
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    call(&w, &q, 0);
    collect(w.c, w.now, &o);
    OK(o.npk == 1 && g32(o.pk[0].body) == ID_CONTAINER && find_msg(&o, ID_MSGS_ACK) &&
       find_msg(&o, 0x0badf00du), "pending acks ride along with the call in one container");
    outbox_free(&o);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_gzip(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 3, 1000, true);   /* 4008 compressible bytes */
    call(&w, &q, 0);
    mtp_session_msg_t m;
    mtp_session_pack(w.c, w.now, &m);
    OK(g32(m.body) == ID_GZIP && m.len < 200, "large client query sent as gzip_packed (%zu bytes)",
       m.len);
    mtp_session_t *srv = server_for(&w, m.session_id);
    mtp_session_feed(srv, &m, w.now);
    drain_server(&w, srv);
    OK(w.last_query_len == q.len && !memcmp(w.last_query, q.data, q.len),
       "server got the inflated query");
    pump(&w);
    OK(w.rec[1].count == 1 && w.rec[1].len == q.len && !memcmp(w.rec[1].body, q.data, q.len),
       "gzipped answer inflated by the client");
    OK(mtp_session_stats(srv)->gzip_out == 1, "server gzipped the rpc_result content");
    OK(mtp_session_stats(w.c)->gzip_in == 1 && mtp_session_stats(srv)->gzip_in == 1,
       "each side inflated once");

    /* MTP_SESS_NO_GZIP and incompressible bodies stay plain */
    call(&w, &q, MTP_SESS_NO_GZIP);
    mtp_session_pack(w.c, w.now, &m);
    OK(!(m.len >= 4 && g32(m.body) == ID_GZIP) && (g32(m.body) != ID_CONTAINER ||
       g32(m.body + 24) != ID_GZIP), "MTP_SESS_NO_GZIP is sent plain");
    pump(&w);

    /* big bodies: incompressible ones are not deflated, compressible ones are */
    uint64_t gz0 = mtp_session_stats(w.c)->gzip_out;
    make_query(&q, 8, 30000, false);
    uint32_t x = 12345;
    for (size_t i = 8; i < q.len; i++) {
        x = x * 1103515245u + 12345u;
        q.data[i] = (uint8_t)(x >> 23);
    }
    call(&w, &q, 0);
    OK(mtp_session_stats(w.c)->gzip_out == gz0, "120 KB of noise sent plain");
    make_query(&q, 8, 30000, true);
    call(&w, &q, 0);
    OK(mtp_session_stats(w.c)->gzip_out == gz0 + 1, "120 KB of repetition gzipped");
    pump(&w);

    /* zlib stream inside gzip_packed (as mtcute sends) */
    make_query(&q, 4, 300, true);
    uLongf zl = compressBound(q.len);
    uint8_t *z = malloc(zl);
    compress(z, &zl, q.data, q.len);
    OK(z[0] == 0x78, "zlib header");
    mtp_buf_t g;
    mtp_buf_init(&g);
    p32(&g, ID_GZIP);
    pbytes(&g, z, zl);
    int before = w.queries;
    feed(srv, 0x1111, cid_at(w.now, 100), 101, g.data, g.len, w.now);
    drain_server(&w, srv);
    OK(w.queries == before + 1 && w.last_query_len == q.len &&
       !memcmp(w.last_query, q.data, q.len), "zlib-in-gzip_packed query inflated");
    free(z);

    /* top-level gzip_packed from the server (an update) */
    make_query(&q, 5, 40, true);
    mtp_buf_clear(&g);
    mtp_buf_t gz;
    mtp_buf_init(&gz);
    mtp_gzip_deflate(q.data, q.len, 0, &gz);
    p32(&g, ID_GZIP);
    pbytes(&g, gz.data, gz.len);
    mtp_session_send_raw(srv, g.data, g.len, MTP_SESS_SEND_CONTENT, w.now);
    int up = w.updates;
    pump(&w);
    OK(w.updates == up + 1 && w.last_update_len == q.len &&
       !memcmp(w.last_update, q.data, q.len), "gzipped update inflated");

    /* a bomb is refused: over the cap */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.gzip_cap = 1000;
    world_t w2;
    world_init(&w2, &c);
    make_query(&q, 6, 1000, true);
    call(&w2, &q, MTP_SESS_NO_GZIP);
    pump(&w2);
    OK(w2.rec[1].count == 1 && w2.rec[1].err == MTP_EGZIP,
       "answer inflating past gzip_cap fails the call with MTP_EGZIP (%d)", w2.rec[1].err);
    world_free(&w2);

    mtp_buf_free(&gz);
    mtp_buf_free(&g);
    mtp_buf_free(&q);
    world_free(&w);
}


/* File-part sized bodies both ways, as a download does: sent bare (too big for a container),
 * never gzipped with MTP_SESS_NO_GZIP / mtp_session_reply_ex(NO_GZIP) even when they would
 * compress, and every answer intact while records and event buffers are recycled. */
static void test_big_parts(void)
{
    /* packets of at most 128 KiB: the 256 KiB bodies go bare, as 1 MiB parts do */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.max_container_bytes = 128u << 10;
    world_t w;
    world_init(&w, &c);
    w.scfg.max_container_bytes = 128u << 10;
    w.reply_flags = MTP_SESS_NO_GZIP;
    mtp_buf_t q;
    mtp_buf_init(&q);
    int ok_bodies = 0, bare = 0, plain = 0, total = 0;
    int64_t first = 0, last = 0;
    for (int round = 0; round < 3; round++) {
        int64_t ids[8];
        for (int i = 0; i < 8; i++) {
            /* 256 KiB, compressible, distinct per call */
            make_query(&q, (uint32_t)(100 + round * 8 + i), 65535, (i & 1) != 0);
            ids[i] = call(&w, &q, MTP_SESS_NO_GZIP);
            if (!first)
                first = ids[i];
            last = ids[i];
        }
        mtp_session_msg_t m;
        while (mtp_session_pack(w.c, w.now, &m) == 1) {
            total++;
            bare += m.len == q.len;
            plain += g32(m.body) != ID_GZIP;
            mtp_session_t *srv = server_for(&w, m.session_id);
            mtp_session_feed(srv, &m, w.now);
        }
        pump(&w);
        for (int i = 0; i < 8; i++) {
            make_query(&q, (uint32_t)(100 + round * 8 + i), 65535, (i & 1) != 0);
            rec_t *r = &w.rec[ids[i]];
            ok_bodies += r->count == 1 && r->err == 0 && r->len == q.len && !memcmp(r->body, q.data, q.len);
        }
        advance(&w, 1000000);   /* acks flow: retained records are released and reused */
    }
    OK(total == 24 && bare == 24 && plain == 24,
       "24 queries of 256 KiB sent bare and plain (%d/%d/%d)", total, bare, plain);
    OK(ok_bodies == 24, "24 answers of 256 KiB intact through recycled buffers (%d)", ok_bodies);
    OK(last - first == 23, "call ids in order");
    OK(mtp_session_stats(w.c)->gzip_out == 0 && mtp_session_stats(w.srv[0])->gzip_out == 0 &&
       mtp_session_stats(w.c)->gzip_in == 0, "nothing gzipped either way");
    OK(mtp_session_unacked(w.srv[0]) == 0 && mtp_session_unacked(w.c) == 0,
       "everything acknowledged in the end");

    /* the same compressible answer without the flag is gzipped (the flag did the work) */
    w.reply_flags = 0;
    make_query(&q, 999, 65535, true);
    int64_t id = call(&w, &q, MTP_SESS_NO_GZIP);
    pump(&w);
    OK(w.rec[id].count == 1 && w.rec[id].len == q.len && mtp_session_stats(w.srv[0])->gzip_out == 1,
       "without MTP_SESS_NO_GZIP the server gzips a compressible 256 KiB answer");
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_salts(void)
{
    /* bad_server_salt: switch and re-send */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x9999;   /* wrong */
    c.time_synced = true;
    c.future_salts = 0;
    world_t w;
    world_init(&w, &c);
    w.scfg.server_salt = 0x2222;
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    mtp_session_msg_t m;
    mtp_session_pack(w.c, w.now, &m);
    int64_t first_id = m.msg_id;
    mtp_session_t *srv = server_for(&w, m.session_id);
    mtp_session_feed(srv, &m, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    int64_t bid = 0;
    OK(bad_code(&o, &bid) == 48 && bid == first_id, "server: bad_server_salt (48) for our msg");
    const msg_t *bs = find_msg(&o, ID_BAD_SALT);
    OK(bs && g64(bs->body + 20) == 0x2222, "bad_server_salt carries the right salt");
    OK(bs && (bs->seq & 1) == 0 && (bs->msg_id & 3) == 1, "notification: even seq, answer id");
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    OK(mtp_session_salt(w.c, w.now) == 0x2222, "client adopted the new salt");
    OK(w.queries == 0, "query not processed under the bad salt");
    pump(&w);
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "re-sent call succeeded");
    OK(w.rec[1].msg_id != first_id, "re-sent with a new msg_id");
    OK(w.salts_ev >= 1, "salts event");
    world_free(&w);

    /* future salts: request, store, rotate by time */
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 4;
    c.salt_refresh_margin = 10 * SEC;
    world_init(&w, &c);
    w.scfg.salt_period = 100;
    w.scfg.salt_grace = 0;
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "call alongside get_future_salts");
    mtp_future_salt_t fs[8];
    size_t nfs = mtp_session_salts(w.c, fs, 8);
    OK(nfs == 4, "client stored 4 future salts (%zu)", nfs);
    OK(nfs == 4 && fs[0].salt == 0x1111 && fs[1].valid_since == fs[0].valid_until,
       "first is the current salt, periods are consecutive");
    uint64_t bad0 = mtp_session_stats(w.srv[0])->bad_msg_out;
    advance(&w, 150 * SEC);   /* into the second period (no grace) */
    OK(nfs == 4 && mtp_session_salt(w.c, w.now) == fs[1].salt, "client rotates to the next salt");
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[2].count == 1 && w.rec[2].err == 0, "call under the rotated salt succeeded");
    OK(mtp_session_stats(w.srv[0])->bad_msg_out == bad0, "no bad_server_salt after rotation");
    /* running out: the client asks again before the last one ends */
    advance(&w, 180 * SEC);   /* t = 330: last salt ends at 400, margin 10 s not reached */
    uint64_t pk = mtp_session_stats(w.c)->packets_out;
    advance(&w, 65 * SEC);    /* t = 395 */
    OK(mtp_session_stats(w.c)->packets_out > pk, "get_future_salts sent when salts run out");
    nfs = mtp_session_salts(w.c, fs, 8);
    OK(nfs >= 2, "fresh salts stored (%zu)", nfs);
    world_free(&w);

    /* old salt accepted within the grace period, refused after */
    world_init(&w, NULL);
    w.scfg.salt_period = 100;
    w.scfg.salt_grace = 50;
    call(&w, &q, 0);
    pump(&w);
    srv = w.srv[0];
    mtp_future_salt_t tab[2] = { { (int32_t)(T0 / SEC), (int32_t)(T0 / SEC) + 100, 0x1111 },
                                 { (int32_t)(T0 / SEC) + 100, (int32_t)(T0 / SEC) + 200, 0x3333 } };
    mtp_session_set_server_salts(srv, tab, 2);
    w.now += 120 * SEC;
    feed(srv, 0x1111, cid_at(w.now, 0), 101, q.data, q.len, w.now);
    collect(srv, w.now, &o);
    OK(bad_code(&o, NULL) == 0, "expired salt still accepted within the grace period");
    outbox_free(&o);
    w.now += 40 * SEC;
    feed(srv, 0x1111, cid_at(w.now, 0), 103, q.data, q.len, w.now);
    collect(srv, w.now, &o);
    bs = find_msg(&o, ID_BAD_SALT);
    OK(bs && g64(bs->body + 20) == 0x3333, "after the grace: bad_server_salt with the current salt");
    outbox_free(&o);
    world_free(&w);
    mtp_buf_free(&q);
}

/* Server-side detection of every violation. */
static void test_server_violations(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    mtp_session_t *srv = server_for(&w, 4242);
    outbox_t o = { 0 };
    int64_t bid;
    mtp_usec_t t = w.now;

#define EXPECT(code, id_, what)                                                          \
    do {                                                                                 \
        collect(srv, t, &o);                                                             \
        bid = 0;                                                                         \
        int c_ = bad_code(&o, &bid);                                                     \
        IS_INT(c_, code, "server answers %d: %s", code, what);                           \
        if (code)                                                                        \
            OK(bid == (id_), "  bad_msg_id is the offending id");                        \
        outbox_free(&o);                                                                 \
    } while (0)

    /* a good first message */
    feed(srv, 0x1111, cid_at(t, 0), 1, q.data, q.len, t);
    drain_server(&w, srv);
    EXPECT(0, 0, "a valid query");
    OK(w.queries == 1, "valid query delivered");

    int64_t id;
    id = cid_at(t - 301 * SEC, 0);
    feed(srv, 0x1111, id, 3, q.data, q.len, t);
    EXPECT(16, id, "msg_id too low (client clock 301 s behind)");
    id = cid_at(t + 31 * SEC, 0);
    feed(srv, 0x1111, id, 3, q.data, q.len, t);
    EXPECT(17, id, "msg_id too high (client clock 31 s ahead)");
    id = cid_at(t, 10) + 2;
    feed(srv, 0x1111, id, 3, q.data, q.len, t);
    EXPECT(18, id, "msg_id ≡ 2 mod 4");
    id = cid_at(t, 10) + 1;
    feed(srv, 0x1111, id, 3, q.data, q.len, t);
    EXPECT(18, id, "msg_id ≡ 1 mod 4 from a client");

    /* 19: a container whose id was already used */
    int64_t used = cid_at(t, 20);
    feed(srv, 0x1111, used, 3, q.data, q.len, t);
    drain_server(&w, srv);
    EXPECT(0, 0, "query with id X");
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 1);
    p64(&b, used - 4);
    p32(&b, 5);
    p32(&b, (uint32_t)q.len);
    mtp_buf_append(&b, q.data, q.len);
    feed(srv, 0x1111, used, 6, b.data, b.len, t);
    EXPECT(19, used, "container reuses the id of an earlier message");

    /* 32: lower seq_no after a higher one */
    int64_t a1 = cid_at(t, 30);
    feed(srv, 0x1111, a1, 11, q.data, q.len, t);
    drain_server(&w, srv);
    EXPECT(0, 0, "query seq 11");
    id = cid_at(t, 31);
    feed(srv, 0x1111, id, 7, q.data, q.len, t);
    EXPECT(32, id, "seq_no too low (7 after 11 with a higher msg_id)");
    id = cid_at(t, 32);
    feed(srv, 0x1111, id, 11, q.data, q.len, t);
    EXPECT(32, id, "equal odd seq_no reused");
    /* 33: higher seq_no with a lower msg_id */
    id = cid_at(t, 29);
    feed(srv, 0x1111, id, 13, q.data, q.len, t);
    EXPECT(33, id, "seq_no too high (13 below a message with 11)");

    /* 34: even expected (msg_copy); msgs_ack is tolerated either way (mtcute) */
    mtp_buf_clear(&b);
    p32(&b, 0xe06046b2u);   /* msg_copy */
    p64(&b, 1);
    p32(&b, 1);
    p32(&b, 4);
    p32(&b, ID_GET_CONFIG);
    id = cid_at(t, 40);
    feed(srv, 0x1111, id, 13, b.data, b.len, t);
    EXPECT(34, id, "msg_copy marked content-related");
    mtp_buf_clear(&b);
    p32(&b, ID_MSGS_ACK);
    p32(&b, ID_VECTOR);
    p32(&b, 0);
    feed(srv, 0x1111, cid_at(t, 45), 13, b.data, b.len, t);
    EXPECT(0, 0, "msgs_ack with an odd seq_no accepted (as Telegram does for mtcute)");
    feed(srv, 0x1111, cid_at(t, 46), 13, q.data, q.len, t);
    drain_server(&w, srv);
    EXPECT(0, 0, "a query reusing the odd ack's seq_no is not 32");
    /* 35: odd expected */
    id = cid_at(t, 41);
    feed(srv, 0x1111, id, 14, q.data, q.len, t);
    EXPECT(35, id, "query not marked content-related");
    /* service messages may be either */
    mtp_buf_clear(&b);
    p32(&b, ID_PING);
    p64(&b, 5);
    feed(srv, 0x1111, cid_at(t, 47), 14, b.data, b.len, t);
    EXPECT(0, 0, "ping with even seq_no accepted");
    feed(srv, 0x1111, cid_at(t, 48), 15, b.data, b.len, t);
    EXPECT(0, 0, "ping with odd seq_no accepted");

    /* 64: invalid containers */
    struct { const char *what; int kind; } bad[] = {
        { "inner msg_id not below the container's", 0 },
        { "inner sizes do not add up", 1 },
        { "nested container", 2 },
        { "more than 1024 messages", 3 },
        { "inner length not a multiple of 4", 4 },
    };
    for (int k = 0; k < 5; k++) {
        int64_t cid = cid_at(t, 100 + 10 * k);
        mtp_buf_clear(&b);
        p32(&b, ID_CONTAINER);
        p32(&b, k == 3 ? 1025 : 1);
        p64(&b, k == 0 ? cid + 4 : cid - 4);
        p32(&b, 17);
        if (k == 2) {
            p32(&b, 8);
            p32(&b, ID_CONTAINER);
            p32(&b, 0);
        } else if (k == 4) {
            p32(&b, (uint32_t)q.len - 2);
            mtp_buf_append(&b, q.data, q.len);
        } else {
            p32(&b, (uint32_t)q.len);
            mtp_buf_append(&b, q.data, q.len);
            if (k == 1)
                p32(&b, 0);
        }
        feed(srv, 0x1111, cid, 18, b.data, b.len, t);
        EXPECT(64, cid, bad[k].what);
    }
    /* container with an odd seq_no */
    id = cid_at(t, 200);
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 0);
    feed(srv, 0x1111, id, 19, b.data, b.len, t);
    EXPECT(34, id, "container marked content-related");
    /* an empty container is fine */
    feed(srv, 0x1111, cid_at(t, 201), 18, b.data, b.len, t);
    EXPECT(0, 0, "empty container accepted");

    /* 20: too old for the replay window */
    mtp_session_config_t sc = w.scfg;
    sc.session_id = 5151;
    sc.replay_window = 64;
    mtp_session_t *s2 = new_session(&sc);
    mtp_buf_clear(&b);
    p32(&b, ID_MSGS_ACK);
    p32(&b, ID_VECTOR);
    p32(&b, 0);
    for (int i = 0; i < 64; i++)
        feed(s2, 0x1111, cid_at(t, 1000 + i), 0, b.data, b.len, t);
    id = cid_at(t, 999);
    feed(s2, 0x1111, id, 0, b.data, b.len, t);
    o.n = 0;
    collect(s2, t, &o);
    bid = 0;
    IS_INT(bad_code(&o, &bid), 20, "server answers 20: id below a full replay window");
    OK(bid == id, "  bad_msg_id is the offending id");
    outbox_free(&o);
    mtp_session_free(s2);

    /* bad salt */
    id = cid_at(t, 300);
    feed(srv, 0x7777, id, 21, q.data, q.len, t);
    EXPECT(48, id, "wrong salt");

    /* duplicates: ignored, content-related ones re-acked */
    int qn = w.queries;
    uint64_t dups = mtp_session_stats(srv)->duplicates;
    feed(srv, 0x1111, a1, 11, q.data, q.len, t);
    drain_server(&w, srv);
    OK(w.queries == qn, "replayed query not delivered again");
    OK(mtp_session_stats(srv)->duplicates == dups + 1, "counted as duplicate");
    collect(srv, t + SEC, &o);
    const msg_t *ack = find_msg(&o, ID_MSGS_ACK);
    bool has = false;
    for (uint32_t i = 0; ack && i < g32(ack->body + 8); i++)
        if (g64(ack->body + 12 + 8 * i) == a1)
            has = true;
    OK(has, "duplicate re-acked");
    outbox_free(&o);

    /* wrong session id: not ours */
    mtp_session_msg_t m = { 0x1111, 999, cid_at(t, 400), 23, q.data, q.len };
    IS_INT(mtp_session_feed(srv, &m, t), MTP_ESTATE, "foreign session_id -> MTP_ESTATE");
#undef EXPECT
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

/* Craft a notification from the server about the client's last packet. */
static void notify(world_t *w, mtp_session_t *srv, int64_t bad_id, int32_t code)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    p32(&b, ID_BAD_MSG);
    p64(&b, bad_id);
    p32(&b, 1);
    p32(&b, (uint32_t)code);
    mtp_session_send_raw(srv, b.data, b.len, MTP_SESS_SEND_ANSWER, w->now);
    mtp_buf_free(&b);
}

static void test_client_reactions(void)
{
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);

    /* 16: client clock behind */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.time_offset = -400 * SEC;
    c.future_salts = 0;
    world_t w;
    world_init(&w, &c);
    call(&w, &q, 0);
    pump(&w);
    OK(mtp_session_stats(w.c)->last_bad_msg_code == 16, "client got 16");
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "16: re-sent with a new msg_id and answered");
    mtp_usec_t off = mtp_session_time_offset(w.c);
    OK(off > -2 * SEC && off < 2 * SEC, "16: clock offset corrected (%lld µs)", (long long)off);
    OK(w.resets == 0, "16: same session");
    world_free(&w);

    /* 17: client clock ahead */
    c.time_offset = 100 * SEC;
    world_init(&w, &c);
    int64_t sid0 = mtp_session_id(w.c);
    call(&w, &q, 0);
    pump(&w);
    OK(mtp_session_stats(w.c)->last_bad_msg_code == 17, "client got 17");
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "17: re-sent and answered");
    OK(w.resets == 1 && mtp_session_id(w.c) != sid0, "17: moved to a fresh session");
    off = mtp_session_time_offset(w.c);
    OK(off > -2 * SEC && off < 2 * SEC, "17: clock offset corrected");
    world_free(&w);

    /* crafted notifications about a pending call */
    int codes_fail[] = { 18, 19, 34, 35, 64 };
    for (int k = 0; k < 5; k++) {
        world_init(&w, NULL);
        w.hold_replies = 1;
        call(&w, &q, 0);
        pump(&w);
        int64_t mid = mtp_session_call_msg_id(w.c, 1);
        notify(&w, w.srv[0], mid, codes_fail[k]);
        pump(&w);
        OK(w.rec[1].count == 1 && w.rec[1].err == MTP_EPROTO && w.rec[1].bad == codes_fail[k],
           "%d: call failed with MTP_EPROTO, code reported", codes_fail[k]);
        OK(mtp_session_pending_calls(w.c) == 0, "  and is no longer pending");
        world_free(&w);
    }

    /* 64 about a container: all its calls fail */
    world_init(&w, NULL);
    w.hold_replies = 1;
    call(&w, &q, 0);
    call(&w, &q, 0);
    call(&w, &q, 0);
    pump(&w);
    int64_t cont = w.last_c2s.m.msg_id;
    OK(g32(w.last_c2s.copy) == ID_CONTAINER, "three calls went in one container");
    notify(&w, w.srv[0], cont, 64);
    pump(&w);
    OK(w.rec[1].err == MTP_EPROTO && w.rec[2].err == MTP_EPROTO && w.rec[3].err == MTP_EPROTO &&
       completed_once(&w, 1, 3), "64 on the container fails its contents");
    world_free(&w);

    /* 20: re-send; also bounded re-sends */
    world_init(&w, NULL);
    w.hold_replies = 1;
    call(&w, &q, 0);
    pump(&w);
    int64_t mid = mtp_session_call_msg_id(w.c, 1);
    notify(&w, w.srv[0], mid, 20);
    pump(&w);
    OK(mtp_session_call_msg_id(w.c, 1) != mid && w.rec[1].count == 0, "20: re-sent with a new id");
    for (int i = 0; i < 10 && !w.rec[1].count; i++) {
        notify(&w, w.srv[0], mtp_session_call_msg_id(w.c, 1), 20);
        pump(&w);
    }
    OK(w.rec[1].count == 1 && w.rec[1].err == MTP_EPROTO && w.rec[1].bad == 20,
       "20 forever: the call fails after max_retries instead of looping");
    world_free(&w);

    /* 32 / 33: new session, pending calls re-sent there */
    int codes_sess[] = { 32, 33 };
    for (int k = 0; k < 2; k++) {
        world_init(&w, NULL);
        w.hold_replies = 1;
        call(&w, &q, 0);
        call(&w, &q, 0);
        pump(&w);
        int64_t s0 = mtp_session_id(w.c);
        notify(&w, w.srv[0], mtp_session_call_msg_id(w.c, 2), codes_sess[k]);
        w.hold_replies = 0;
        pump(&w);
        OK(w.resets == 1 && mtp_session_id(w.c) != s0, "%d: fresh session id", codes_sess[k]);
        OK(w.nsrv == 2, "  the new session reached a new server session");
        OK(completed_once(&w, 1, 2) && !w.rec[1].err && !w.rec[2].err,
           "  both pending calls answered in the new session");
        OK(w.last_c2s.m.seq_no < 8, "  seq_no restarted");
        world_free(&w);
    }

    /* notification about an id that is not ours: ignored */
    world_init(&w, NULL);
    w.hold_replies = 1;
    call(&w, &q, 0);
    pump(&w);
    notify(&w, w.srv[0], 0x123456780, 18);
    pump(&w);
    OK(w.rec[1].count == 0 && mtp_session_pending_calls(w.c) == 1,
       "notification about a foreign msg_id ignored");
    world_free(&w);

    /* notifications are processed even with a wrong-looking time */
    world_init(&w, NULL);
    w.hold_replies = 1;
    call(&w, &q, 0);
    pump(&w);
    mtp_buf_t b;
    mtp_buf_init(&b);
    p32(&b, ID_BAD_SALT);
    p64(&b, mtp_session_call_msg_id(w.c, 1));
    p32(&b, 1);
    p32(&b, 48);
    p64(&b, 0x4444);
    int64_t far = mtp_msg_id_from_time(w.now + 1000 * SEC) | 1;
    mtp_session_msg_t m = { 0x1111, mtp_session_id(w.c), far, 2, b.data, b.len };
    IS_INT(mtp_session_feed(w.c, &m, w.now), 0, "bad_server_salt accepted outside the window");
    OK(mtp_session_salt(w.c, w.now) == 0x4444, "  and its salt adopted");
    mtp_buf_clear(&b);
    make_query(&b, 77, 1, false);
    m.msg_id = far + 4;
    m.body = b.data;
    m.len = b.len;
    m.seq_no = 3;
    IS_INT(mtp_session_feed(w.c, &m, w.now), MTP_ESECURITY, "an update that far ahead is dropped");
    m.msg_id = mtp_msg_id_from_time(w.now) + 2;
    IS_INT(mtp_session_feed(w.c, &m, w.now), MTP_ESECURITY, "even msg_id from a server dropped");
    mtp_buf_free(&b);
    world_free(&w);
    mtp_buf_free(&q);
}

static void test_new_session(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    w.hold_replies = 1;
    call(&w, &q, 0);   /* A: the server gets it but never answers */
    pump(&w);
    OK(w.new_sessions == 1 && w.new_session_first == mtp_session_call_msg_id(w.c, 1),
       "new_session_created.first_msg_id = the first message");
    advance(&w, SEC);
    /* the server forgets the session */
    mtp_session_free(w.srv[0]);
    w.nsrv = 0;
    w.hold_replies = 0;
    call(&w, &q, 0);   /* B reaches a fresh server session */
    pump(&w);
    OK(w.new_sessions == 2, "second new_session_created");
    OK(completed_once(&w, 1, 2) && !w.rec[1].err && !w.rec[2].err,
       "A (sent before first_msg_id) re-sent and answered; B answered");
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_state_req(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);          /* session established */
    advance(&w, SEC);
    /* a call whose packet is lost */
    w.drop_c2s = 1;
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[2].count == 0, "lost call not answered");
    int64_t lost = mtp_session_call_msg_id(w.c, 2);
    OK(mtp_session_next_deadline(w.c) <= w.now + 10 * SEC, "resend timer armed");
    advance(&w, 10 * SEC);
    OK(w.rec[2].count == 1 && w.rec[2].err == 0, "msgs_state_req -> not received -> re-sent");
    OK(w.rec[2].msg_id != lost, "  with a new msg_id");

    /* the server's state answer for known ids */
    mtp_session_t *srv = w.srv[0];
    int64_t known = w.rec[2].msg_id;
    mtp_buf_clear(&b);
    p32(&b, ID_STATE_REQ);
    p32(&b, ID_VECTOR);
    p32(&b, 3);
    p64(&b, known);
    p64(&b, lost);
    p64(&b, mtp_msg_id_from_time(w.now + 20 * SEC));
    int64_t rid = cid_at(w.now, 50);
    feed(srv, 0x1111, rid, 40, b.data, b.len, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    const msg_t *si = find_msg(&o, ID_STATE_INFO);
    OK(si && g64(si->body + 4) == rid && si->body[12] == 3, "msgs_state_info answers with 3 bytes");
    if (si) {
        uint8_t s0 = si->body[13], s1 = si->body[14], s2 = si->body[15];
        OK((s0 & 7) == 4 && (s0 & 32) && (s0 & 64), "received query: 4 +32 +64 (0x%02x)", s0);
        OK((s1 & 7) == 2, "never-received id in range: 2 (0x%02x)", s1);
        OK((s2 & 7) == 3, "id from the future: 3 (0x%02x)", s2);
    }
    outbox_free(&o);

    /* the client answers a server state request from its window */
    int64_t upd = 0;
    mtp_session_push(srv, q.data, q.len, w.now);
    pump(&w);
    upd = w.last_update_id;
    mtp_buf_clear(&b);
    p32(&b, ID_STATE_REQ);
    p32(&b, ID_VECTOR);
    p32(&b, 1);
    p64(&b, upd);
    mtp_session_send_raw(srv, b.data, b.len, 0, w.now);
    collect(srv, w.now, &o);
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    collect(w.c, w.now, &o);
    si = find_msg(&o, ID_STATE_INFO);
    OK(si && si->body[12] == 1 && (si->body[13] & 7) == 4, "client: state 4 for a received update");
    outbox_free(&o);
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

static void test_resend_and_detailed(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);
    mtp_session_t *srv = w.srv[0];

    /* server answer lost; the client asks for it with msg_resend_req */
    w.drop_s2c = 1;
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[2].count == 0, "answer lost");
    OK(mtp_session_unacked(srv) == 1, "server keeps the unacked answer");
    /* find the answer's id from the dropped packet */
    msg_t v[8];
    int n = split(&w.last_s2c.m, v, 8);
    int64_t ans = 0;
    for (int i = 0; i < n; i++)
        if (g32(v[i].body) == ID_RPC_RESULT)
            ans = v[i].msg_id;
    OK(ans != 0, "dropped packet held the rpc_result");
    mtp_buf_clear(&b);
    p32(&b, ID_RESEND_REQ);
    p32(&b, ID_VECTOR);
    p32(&b, 1);
    p64(&b, ans);
    mtp_session_send_raw(w.c, b.data, b.len, 0, w.now);
    pump(&w);
    OK(w.rec[2].count == 1 && !w.rec[2].err, "msg_resend_req: answer re-sent and routed");

    /* server asks the client to re-send a call */
    w.hold_replies = 1;
    call(&w, &q, 0);
    pump(&w);
    int64_t mid = mtp_session_call_msg_id(w.c, 3);
    int qn = w.queries;
    mtp_buf_clear(&b);
    p32(&b, ID_RESEND_REQ);
    p32(&b, ID_VECTOR);
    p32(&b, 1);
    p64(&b, mid);
    mtp_session_send_raw(srv, b.data, b.len, 0, w.now);
    pump(&w);
    OK(mtp_session_call_msg_id(w.c, 3) != mid && w.queries == qn + 1,
       "client re-sent the call on msg_resend_req");
    w.hold_replies = 0;
    for (int i = 0; i < w.nheld; i++)
        mtp_session_reply(srv, w.held[i], q.data, q.len, w.now);
    w.nheld = 0;
    pump(&w);
    OK(w.rec[3].count == 1, "answered once even though the server saw it twice");

    /* msg_detailed_info: the client re-sends a query the server answered (answer lost) */
    w.drop_s2c = 1;
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[4].count == 0, "answer lost again");
    pkt_t again = { 0 };
    pkt_save(&again, &w.last_c2s.m);
    n = split(&again.m, v, 8);
    for (int i = 0; i < n; i++)
        if (g32(v[i].body) == 0x0badf00du)   /* the client re-sends the query, same msg_id */
            feed(srv, again.m.salt, v[i].msg_id, v[i].seq, v[i].body, v[i].len, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    const msg_t *di = find_msg(&o, ID_DETAILED);
    OK(di != NULL, "server answers a duplicate answered query with msg_detailed_info");
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    pump(&w);
    OK(w.rec[4].count == 1 && !w.rec[4].err, "client asked for the answer and got it");
    free(again.copy);
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

static void test_ping(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    mtp_session_t *srv = w.srv[0];
    mtp_session_ping(w.c, 0x5151, 0, w.now);
    pump(&w);
    OK(w.pongs == 1 && w.last_pong_id == 0x5151, "client ping -> pong event");
    mtp_session_ping(srv, 0x6161, 0, w.now);
    pump(&w);
    OK(w.srv_pongs == 1, "server ping -> client pong -> server event");

    mtp_session_ping(w.c, 0x7171, 75, w.now);
    pump(&w);
    OK(w.pongs == 2, "ping_delay_disconnect answered with pong");
    OK(mtp_session_next_deadline(srv) == w.now + 75 * SEC, "server disconnect deadline = +75 s");
    advance(&w, 60 * SEC);
    mtp_session_ping(w.c, 0x8181, 75, w.now);
    pump(&w);
    OK(mtp_session_next_deadline(srv) == w.now + 75 * SEC, "a new ping moves the deadline");
    advance(&w, 74 * SEC);
    OK(w.disconnects == 0, "no disconnect before the deadline");
    advance(&w, SEC);
    OK(w.disconnects == 1, "disconnect event at the deadline");
    world_free(&w);

    /* keep-alive */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.ping_interval = 60 * SEC;
    c.ping_disconnect_delay = 75;
    world_init(&w, &c);
    call(&w, &q, 0);
    pump(&w);
    for (int i = 0; i < 5; i++)
        advance(&w, 60 * SEC);
    OK(w.pongs == 5, "keep-alive ping every 60 s (%d pongs)", w.pongs);
    OK(w.disconnects == 0, "server never disconnected a pinging client");
    world_free(&w);
    mtp_buf_free(&q);
}

static void test_destroy_and_drop(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    p32(&b, ID_DESTROY);
    p64(&b, 12345);
    mtp_session_call(w.c, b.data, b.len, 0, NULL, w.now);
    pump(&w);
    OK(w.rec[2].count == 1 && w.rec[2].len == 12 && g32(w.rec[2].body) == ID_DESTROY_NONE &&
       g64(w.rec[2].body + 4) == 12345, "destroy_session of an unknown session -> none");
    mtp_buf_clear(&b);
    p32(&b, ID_DESTROY);
    p64(&b, 777);
    mtp_session_call(w.c, b.data, b.len, 0, NULL, w.now);
    pump(&w);
    OK(w.rec[3].count == 1 && g32(w.rec[3].body) == ID_DESTROY_OK,
       "destroy_session of a known session -> ok");

    /* cancel a running call: rpc_drop_answer, later reply discarded */
    w.hold_replies = 1;
    int64_t id = call(&w, &q, 0);
    pump(&w);
    OK(mtp_session_cancel(w.c, (uint64_t)id, w.now) == 0, "cancel");
    drain_client(&w);
    OK(w.rec[id].count == 1 && w.rec[id].err == MTP_ECANCELED, "cancelled call ended with ECANCELED");
    outbox_t o = { 0 };
    collect(w.c, w.now, &o);
    const msg_t *d = find_msg(&o, ID_DROP_ANSWER);
    OK(d && (d->seq & 1), "rpc_drop_answer sent (content-related)");
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.srv[0], &o.pk[i], w.now);
    outbox_free(&o);
    collect(w.srv[0], w.now, &o);
    bool running = false;
    for (int i = 0; i < o.n; i++)
        if (g32(o.v[i].body) == ID_RPC_RESULT && o.v[i].len >= 16 &&
            g32(o.v[i].body + 12) == ID_DROPPED_RUNNING)
            running = true;
    OK(running, "server: rpc_answer_dropped_running");
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    uint64_t unacked = mtp_session_unacked(w.srv[0]);
    mtp_session_reply(w.srv[0], w.held[0], q.data, q.len, w.now);
    collect(w.srv[0], w.now, &o);
    bool answered = false;
    for (int i = 0; i < o.n; i++)
        if (g32(o.v[i].body) == ID_RPC_RESULT && g64(o.v[i].body + 4) == w.held[0])
            answered = true;
    OK(!answered && mtp_session_unacked(w.srv[0]) <= unacked, "reply to a dropped query discarded");
    outbox_free(&o);
    OK(mtp_session_cancel(w.c, (uint64_t)id, w.now) == MTP_ENOTFOUND, "second cancel: ENOTFOUND");
    drain_client(&w);
    OK(w.rec[id].count == 1, "still ended once");
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

static void test_rpc_errors(void)
{
    struct { int32_t code; const char *msg; int kind; bool has; int64_t arg; const char *name; } v[] = {
        { 420, "FLOOD_WAIT_42", MTP_RPCERR_FLOOD_WAIT, true, 42, "FLOOD_WAIT" },
        { 303, "PHONE_MIGRATE_2", MTP_RPCERR_PHONE_MIGRATE, true, 2, "PHONE_MIGRATE" },
        { 303, "FILE_MIGRATE_4", MTP_RPCERR_FILE_MIGRATE, true, 4, "FILE_MIGRATE" },
        { 303, "NETWORK_MIGRATE_5", MTP_RPCERR_NETWORK_MIGRATE, true, 5, "NETWORK_MIGRATE" },
        { 303, "USER_MIGRATE_3", MTP_RPCERR_USER_MIGRATE, true, 3, "USER_MIGRATE" },
        { 303, "STATS_MIGRATE_1", MTP_RPCERR_STATS_MIGRATE, true, 1, "STATS_MIGRATE" },
        { 420, "SLOWMODE_WAIT_10", MTP_RPCERR_SLOWMODE_WAIT, true, 10, "SLOWMODE_WAIT" },
        { 420, "FLOOD_PREMIUM_WAIT_7", MTP_RPCERR_FLOOD_PREMIUM_WAIT, true, 7, "FLOOD_PREMIUM_WAIT" },
        { 420, "2FA_CONFIRM_WAIT_3600", MTP_RPCERR_2FA_CONFIRM_WAIT, true, 3600, "2FA_CONFIRM_WAIT" },
        { 400, "FILE_PART_7_MISSING", MTP_RPCERR_FILE_PART_MISSING, true, 7, "FILE_PART_7_MISSING" },
        { 400, "PHONE_CODE_INVALID", MTP_RPCERR_OTHER, false, 0, "PHONE_CODE_INVALID" },
        { 420, "FLOOD_WAIT_", MTP_RPCERR_OTHER, false, 0, "FLOOD_WAIT_" },
        { 420, "FLOOD_WAIT_99999999999999999999", MTP_RPCERR_OTHER, false, 0, "FLOOD_WAIT_99999999999999999999" },
        { 400, "", MTP_RPCERR_OTHER, false, 0, "" },
        { 400, "_5", MTP_RPCERR_OTHER, true, 5, "" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        mtp_rpc_error_t e;
        int k = mtp_rpc_error_parse(v[i].code, (const uint8_t *)v[i].msg, strlen(v[i].msg), &e);
        OK(k == v[i].kind && e.has_arg == v[i].has && (!v[i].has || e.arg == v[i].arg) &&
           e.name.len == strlen(v[i].name) && !memcmp(e.name.ptr, v[i].name, e.name.len) &&
           e.code == v[i].code, "rpc_error parse %s", v[i].msg);
    }
    OK(mtp_rpc_error_is_wait(MTP_RPCERR_SLOWMODE_WAIT) && !mtp_rpc_error_is_wait(MTP_RPCERR_FILE_MIGRATE) &&
       mtp_rpc_error_is_migrate(MTP_RPCERR_FILE_MIGRATE), "wait/migrate predicates");

    /* routed through the sessions */
    world_t w;
    world_init(&w, NULL);
    w.hold_replies = 1;
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    for (int i = 0; i < 4; i++)
        call(&w, &q, 0);
    pump(&w);
    mtp_session_t *srv = w.srv[0];
    mtp_session_reply_error(srv, w.held[0], 420, "FLOOD_WAIT_42", w.now);
    mtp_session_reply_error(srv, w.held[1], 303, "PHONE_MIGRATE_2", w.now);
    mtp_session_reply_error(srv, w.held[2], 303, "FILE_MIGRATE_4", w.now);
    mtp_session_reply_error(srv, w.held[3], 420, "SLOWMODE_WAIT_10", w.now);
    pump(&w);
    OK(completed_once(&w, 1, 4), "four calls ended once");
    OK(w.rec[1].err == MTP_ERPC && w.rec[1].e.code == 420 && w.rec[1].e.kind == MTP_RPCERR_FLOOD_WAIT &&
       w.rec[1].e.arg == 42, "FLOOD_WAIT_42 routed and parsed");
    OK(w.rec[2].e.code == 303 && w.rec[2].e.kind == MTP_RPCERR_PHONE_MIGRATE && w.rec[2].e.arg == 2,
       "PHONE_MIGRATE_2 routed and parsed");
    OK(w.rec[3].e.kind == MTP_RPCERR_FILE_MIGRATE && w.rec[3].e.arg == 4, "FILE_MIGRATE_4");
    OK(w.rec[4].e.kind == MTP_RPCERR_SLOWMODE_WAIT && w.rec[4].e.arg == 10, "SLOWMODE_WAIT_10");
    OK(!strcmp(w.rec[1].emsg, "FLOOD_WAIT_42"), "error message kept");

    /* rpc_error inside gzip_packed; result for an unknown req_msg_id ignored */
    w.hold_replies = 1;
    w.nheld = 0;
    call(&w, &q, 0);
    pump(&w);
    mtp_buf_t e, g, z;
    mtp_buf_init(&e);
    mtp_buf_init(&g);
    mtp_buf_init(&z);
    p32(&e, ID_RPC_ERROR);
    p32(&e, 500);
    pbytes(&e, "INTERNAL", 8);
    mtp_gzip_deflate(e.data, e.len, 0, &z);
    p32(&g, ID_RPC_RESULT);
    p64(&g, mtp_session_call_msg_id(w.c, 5));
    p32(&g, ID_GZIP);
    pbytes(&g, z.data, z.len);
    mtp_session_send_raw(srv, g.data, g.len, MTP_SESS_SEND_CONTENT | MTP_SESS_SEND_ANSWER, w.now);
    mtp_buf_clear(&g);
    p32(&g, ID_RPC_RESULT);
    p64(&g, 0x7777777700000000);
    mtp_buf_append(&g, q.data, q.len);
    mtp_session_send_raw(srv, g.data, g.len, MTP_SESS_SEND_CONTENT | MTP_SESS_SEND_ANSWER, w.now);
    pump(&w);
    OK(w.rec[5].count == 1 && w.rec[5].err == MTP_ERPC && w.rec[5].e.code == 500,
       "gzipped rpc_error routed");
    OK(mtp_session_pending_calls(w.c) == 0, "stray rpc_result ignored");
    /* the stray result was content-related: the client acks it anyway */
    advance(&w, SEC);
    OK(mtp_session_unacked(srv) == 0, "every server message acked");

    mtp_buf_free(&e);
    mtp_buf_free(&g);
    mtp_buf_free(&z);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_replays(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);   /* acks flushed */
    OK(!mtp_session_want_pack(w.c, w.now), "nothing to send");
    /* replay the server's answer packet to the client */
    pkt_t p = { 0 };
    pkt_save(&p, &w.last_s2c.m);
    uint64_t d0 = mtp_session_stats(w.c)->duplicates;
    for (int i = 0; i < 3; i++)
        mtp_session_feed(w.c, &p.m, w.now);
    drain_client(&w);
    OK(w.rec[1].count == 1, "replayed answer does not complete the call again");
    OK(mtp_session_stats(w.c)->duplicates > d0, "replays counted as duplicates");
    uint64_t a0 = mtp_session_stats(w.c)->ids_acked;
    advance(&w, SEC);
    OK(mtp_session_stats(w.c)->ids_acked == a0 + 2, "replayed content-related messages re-acked");
    free(p.copy);
    world_free(&w);

    /* replays of a full server window */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.replay_window = 64;
    world_init(&w, &c);
    call(&w, &q, 0);
    pump(&w);
    mtp_session_t *srv = w.srv[0];
    for (int i = 0; i < 100; i++)
        mtp_session_push(srv, q.data, q.len, w.now);
    pump(&w);
    OK(w.updates == 100, "100 updates");
    /* an old one again: below the window -> ignored */
    msg_t v[4];
    split(&w.last_s2c.m, v, 4);
    mtp_buf_t b;
    mtp_buf_init(&b);
    make_query(&b, 3, 1, false);
    int64_t old = mtp_msg_id_from_time(w.now - 10 * SEC) | 3;
    mtp_session_msg_t m = { 0x1111, mtp_session_id(w.c), old, 301, b.data, b.len };
    mtp_session_feed(w.c, &m, w.now);
    drain_client(&w);
    OK(w.updates == 100, "message below a full replay window ignored");
    mtp_buf_free(&b);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_ordered_and_wrappers(void)
{
    world_t w;
    world_init(&w, NULL);
    w.hold_replies = 1;
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    int64_t a = call(&w, &q, MTP_SESS_ORDERED);
    pump(&w);
    int64_t b = call(&w, &q, MTP_SESS_ORDERED);
    pump(&w);
    OK(w.last_info.n_after == 1 && (w.last_info.wrappers & MTP_WRAP_AFTER_MSG) &&
       w.last_after == mtp_session_call_msg_id(w.c, (uint64_t)a),
       "ordered call wrapped in invokeAfterMsg(previous call's msg_id)");
    OK(w.last_query_len == q.len && !memcmp(w.last_query, q.data, q.len),
       "server sees the unwrapped query");
    /* both in one container: the second refers to the first */
    int64_t c1 = call(&w, &q, MTP_SESS_ORDERED);
    int64_t c2 = call(&w, &q, MTP_SESS_ORDERED);
    pump(&w);
    OK(w.last_after == mtp_session_call_msg_id(w.c, (uint64_t)c1),
       "chain inside one container");
    (void)b;
    (void)c2;
    /* after the predecessor finished, no wrapper */
    w.hold_replies = 0;
    for (int i = 0; i < w.nheld; i++)
        mtp_session_reply(w.srv[0], w.held[i], q.data, q.len, w.now);
    w.nheld = 0;
    pump(&w);
    call(&w, &q, MTP_SESS_ORDERED);
    pump(&w);
    OK(w.last_info.n_after == 0, "no invokeAfterMsg once the previous call ended");

    /* invokeWithLayer(initConnection(...)) */
    mtp_init_connection_t ic = { 0 };
    ic.layer = 228;
    ic.api_id = 12345;
    ic.device_model = "dev";
    ic.system_version = "sys";
    ic.app_version = "1.0";
    ic.system_lang_code = "en";
    ic.lang_pack = "";
    ic.lang_code = "en";
    ic.proxy_address = "proxy.example";
    ic.proxy_port = 443;
    uint8_t params[] = { 0x68, 0x7b, 0x6d, 0x3f };   /* jsonNull */
    ic.params = params;
    ic.params_len = 4;
    mtp_buf_t wr;
    mtp_buf_init(&wr);
    OK(mtp_wrap_init_connection(&ic, q.data, q.len, &wr) == 0, "wrap initConnection");
    OK(g32(wr.data) == ID_WITH_LAYER && g32(wr.data + 4) == 228 && g32(wr.data + 8) == ID_INIT_CONN,
       "invokeWithLayer(228, initConnection(...))");
    mtp_session_call(w.c, wr.data, wr.len, 0, NULL, w.now);
    pump(&w);
    OK((w.last_info.wrappers & (MTP_WRAP_LAYER | MTP_WRAP_INIT)) == (MTP_WRAP_LAYER | MTP_WRAP_INIT) &&
       w.last_info.layer == 228 && w.last_info.api_id == 12345 &&
       w.last_info.has_proxy && w.last_info.proxy_port == 443 && w.last_info.params.len == 4,
       "server unwrapped layer/initConnection");
    OK(w.last_query_len == q.len && !memcmp(w.last_query, q.data, q.len), "inner query intact");
    OK(mtp_session_layer(w.srv[0]) == 228, "server session remembers the layer");
    call(&w, &q, 0);
    pump(&w);
    OK(w.last_info.layer == 228 && !(w.last_info.wrappers & MTP_WRAP_LAYER),
       "later queries report the session's layer");

    /* unwrap edge cases */
    mtp_query_info_t info;
    mtp_buf_clear(&wr);
    p32(&wr, ID_WITH_LAYER);
    OK(mtp_query_unwrap(wr.data, wr.len, &info) == MTP_ETRUNC, "truncated invokeWithLayer");
    mtp_buf_clear(&wr);
    for (int i = 0; i < 20; i++)
        p32(&wr, 0xbf9459b7u);   /* invokeWithoutUpdates x 20 */
    mtp_buf_append(&wr, q.data, q.len);
    OK(mtp_query_unwrap(wr.data, wr.len, &info) == MTP_EDEPTH, "wrapper depth limited");
    mtp_buf_clear(&wr);
    OK(mtp_wrap_invoke_after(5, q.data, q.len, &wr) == 0 && g32(wr.data) == ID_AFTER_MSG &&
       mtp_query_unwrap(wr.data, wr.len, &info) == 0 && mtp_query_after_id(&info, 0) == 5,
       "invokeAfterMsg round trip");
    OK(mtp_wrap_invoke_after(5, q.data, 3, &wr) == MTP_EINVAL, "bad query length rejected");
    mtp_buf_free(&wr);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_close_and_reconnect(void)
{
    world_t w;
    world_init(&w, NULL);
    w.scfg.announce_new_session = false;   /* else its packet carries the acks at once */
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    w.hold_replies = 1;
    for (int i = 0; i < 5; i++)
        call(&w, &q, 0);
    pump(&w);
    /* reconnect: nothing acked yet (acks pending at the server) -> re-sent */
    w.drop_s2c = 100;     /* the server's acks never arrive */
    advance(&w, SEC);
    w.drop_s2c = 0;
    int qn = w.queries;
    mtp_session_reconnected(w.c, w.now);
    pump(&w);
    OK(w.queries == qn + 5, "unacked calls re-sent after reconnect (%d)", w.queries - qn);
    /* now acked: a second reconnect re-sends nothing */
    advance(&w, SEC);
    qn = w.queries;
    mtp_session_reconnected(w.c, w.now);
    pump(&w);
    OK(w.queries == qn, "acked calls are not re-sent after reconnect");
    /* server side: unacked answers re-sent with the same msg_id after reconnect */
    w.drop_s2c = 1;
    mtp_session_reply(w.srv[0], w.held[0], q.data, q.len, w.now);
    pump(&w);
    int64_t lost_id = 0;
    msg_t v[8];
    int n = split(&w.last_s2c.m, v, 8);
    for (int i = 0; i < n; i++)
        if (g32(v[i].body) == ID_RPC_RESULT)
            lost_id = v[i].msg_id;
    mtp_session_reconnected(w.srv[0], w.now);
    pump(&w);
    n = split(&w.last_s2c.m, v, 8);
    bool same = false;
    for (int i = 0; i < n; i++)
        if (g32(v[i].body) == ID_RPC_RESULT && v[i].msg_id == lost_id)
            same = true;
    OK(same, "server re-sends an unacked answer with the same msg_id");
    int done = 0;
    for (int i = 1; i <= 5; i++)
        done += w.rec[i].count;
    OK(done == 1, "exactly one call answered so far (%d)", done);
    /* close: the rest end with ECLOSED */
    mtp_session_close(w.c, MTP_ECLOSED);
    drain_client(&w);
    OK(completed_once(&w, 1, 5), "every call ended exactly once after close");
    int closed = 0;
    for (int i = 1; i <= 5; i++)
        closed += w.rec[i].err == MTP_ECLOSED;
    OK(closed == 4, "four ended with MTP_ECLOSED");
    OK(call(&w, &q, 0) == MTP_ESTATE, "calls after close refused");
    mtp_session_msg_t m;
    OK(mtp_session_pack(w.c, w.now, &m) == 0, "nothing to send after close");
    mtp_buf_free(&q);
    world_free(&w);
}

typedef struct tr {
    int in, out, in_inner, out_inner;
    bool ids_ok;
} tr_t;

static void trace_cb(void *ctx, int dir, int64_t sid, int64_t id, int32_t seq,
                     const uint8_t *body, size_t len)
{
    tr_t *t = ctx;
    (void)sid;
    (void)seq;
    if (!id || !body || len < 4)
        t->ids_ok = false;
    if (dir & MTP_TRACE_OUT) {
        t->out++;
        t->out_inner += (dir & MTP_TRACE_INNER) != 0;
    } else {
        t->in++;
        t->in_inner += (dir & MTP_TRACE_INNER) != 0;
    }
}

static void test_trace(void)
{
    tr_t ct = { 0, 0, 0, 0, true }, st = { 0, 0, 0, 0, true };
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.trace = trace_cb;
    c.trace_ctx = &ct;
    world_t w;
    world_init(&w, &c);
    w.scfg.trace = trace_cb;
    w.scfg.trace_ctx = &st;
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);
    /* client: 1 container out (2 calls) + 1 ack out; server: container in, then
     * new_session_created + 2 answers out in one container, ack in */
    OK(ct.out == 4 && ct.out_inner == 2, "client traced its container and both calls, then the ack "
       "(%d/%d)", ct.out, ct.out_inner);
    OK(st.in == ct.out && st.in_inner == ct.out_inner, "server traced the same messages in");
    OK(st.out == 4 && st.out_inner == 3 && ct.in == st.out && ct.in_inner == 3,
       "server traced new_session_created and both answers out, client in (%d/%d)", st.out,
       st.out_inner);
    OK(ct.ids_ok && st.ids_ok, "every traced message has an id and a body");
    mtp_buf_free(&q);
    world_free(&w);
}

/* A container is taken or refused as a whole (issue 13 item 9): when one inner message
 * breaks a rule, none of the others is dispatched, acked or entered into the replay
 * window. */
static void inner(mtp_buf_t *b, int64_t id, int32_t seq, const mtp_buf_t *body)
{
    p64(b, id);
    p32(b, (uint32_t)seq);
    p32(b, (uint32_t)body->len);
    mtp_buf_append(b, body->data, body->len);
}

static void test_container_whole(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    mtp_usec_t t = w.now;

    /* server: a valid query, then one with a msg_id ≡ 2 mod 4 */
    mtp_session_t *srv = server_for(&w, 4343);
    feed(srv, 0x1111, cid_at(t, 0), 1, q.data, q.len, t);
    drain_server(&w, srv);
    int q0 = w.queries;
    int64_t good = cid_at(t, 2), badid = cid_at(t, 3) + 2, cont = cid_at(t, 5);
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, good, 3, &q);
    inner(&b, badid, 5, &q);
    feed(srv, 0x1111, cont, 6, b.data, b.len, t);
    drain_server(&w, srv);
    outbox_t o = { 0 };
    collect(srv, t, &o);
    int64_t bid = 0;
    IS_INT(bad_code(&o, &bid), 18, "server: an inner msg_id ≡ 2 mod 4 refuses the container");
    OK(bid == cont, "  the notification is about the container");
    OK(w.queries == q0, "  its valid query is not handed out");
    OK(!mtp_session_received(srv, good) && !mtp_session_received(srv, cont),
       "  neither the query nor the container enters the replay window");
    OK(find_msg(&o, ID_MSGS_ACK) == NULL, "  nothing of it is acked");
    outbox_free(&o);
    /* the client re-sends the query alone: it is taken now */
    feed(srv, 0x1111, good, 3, q.data, q.len, t);
    drain_server(&w, srv);
    OK(w.queries == q0 + 1, "server: the query re-sent on its own is taken");

    /* server: the same msg_id twice in one container */
    int64_t twice = cid_at(t, 10);
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, twice, 7, &q);
    inner(&b, twice, 9, &q);
    feed(srv, 0x1111, cid_at(t, 12), 8, b.data, b.len, t);
    drain_server(&w, srv);
    collect(srv, t, &o);
    IS_INT(bad_code(&o, NULL), 64, "server: a msg_id twice in a container refuses it (64)");
    OK(w.queries == q0 + 1 && !mtp_session_received(srv, twice), "  and takes neither copy");
    outbox_free(&o);

    /* server: seq_no order broken inside the container (higher id, lower seq_no) */
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, cid_at(t, 20), 13, &q);
    inner(&b, cid_at(t, 21), 11, &q);
    feed(srv, 0x1111, cid_at(t, 22), 14, b.data, b.len, t);
    drain_server(&w, srv);
    collect(srv, t, &o);
    int code = bad_code(&o, &bid);
    OK((code == 32 || code == 33) && bid == cid_at(t, 22),
       "server: seq_no order broken inside a container refuses it (%d)", code);
    OK(w.queries == q0 + 1 && !mtp_session_received(srv, cid_at(t, 20)),
       "  its first query is not taken");
    outbox_free(&o);

    /* client: an update, then a message with an even (client) msg_id */
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);   /* the acks of that exchange go out first */
    int u0 = w.updates;
    uint64_t acked0 = mtp_session_stats(w.c)->ids_acked;
    make_query(&b, 7, 1, false);
    mtp_buf_t upd;
    mtp_buf_init(&upd);
    mtp_buf_append(&upd, b.data, b.len);
    int64_t base = mtp_msg_id_from_time(w.now + 2 * SEC);   /* ids the server never used */
    int64_t sid1 = base | 3, sid2 = (base + 8) & ~3;
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, sid1, 1001, &upd);
    inner(&b, sid2, 1003, &upd);
    mtp_session_msg_t m = { 0x1111, mtp_session_id(w.c), (base + 16) | 1, 1004, b.data, b.len };
    int rc = mtp_session_feed(w.c, &m, w.now);
    drain_client(&w);
    OK(rc < 0, "client: a container with an even inner msg_id is refused (%d)", rc);
    OK(w.updates == u0, "  its valid update is not delivered");
    OK(!mtp_session_received(w.c, sid1) && !mtp_session_received(w.c, m.msg_id),
       "  neither the update nor the container enters the replay window");
    advance(&w, SEC);
    OK(mtp_session_stats(w.c)->ids_acked == acked0, "  nothing of it is acked");
    /* the same update alone is taken */
    mtp_session_msg_t one = { 0x1111, mtp_session_id(w.c), sid1, 1001, upd.data, upd.len };
    mtp_session_feed(w.c, &one, w.now);
    drain_client(&w);
    OK(w.updates == u0 + 1, "client: the update on its own is delivered");

    /* client: the same msg_id twice */
    int64_t sid3 = (base + 40) | 3;
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, sid3, 1005, &upd);
    inner(&b, sid3, 1007, &upd);
    m.msg_id = (base + 48) | 1;
    rc = mtp_session_feed(w.c, &m, w.now);
    drain_client(&w);
    OK(rc < 0 && w.updates == u0 + 1 && !mtp_session_received(w.c, sid3),
       "client: a msg_id twice in a container: refused, nothing delivered");
    mtp_buf_free(&upd);
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

static void test_misc_api(void)
{
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_SERVER);
    mtp_session_t *refused = NULL;
    OK(mtp_session_new(&c, &refused) == MTP_EINVAL && refused == NULL,
       "server without session_id refused");
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    mtp_session_t *s = new_session(&c);
    OK(s && mtp_session_id(s) != 0, "client draws a session id");
    OK(mtp_session_role(s) == MTP_ROLE_CLIENT, "role");
    uint8_t bad[3] = { 0 };
    OK(mtp_session_call(s, bad, 3, 0, NULL, T0) == MTP_EINVAL, "odd-length body refused");
    OK(mtp_session_reply(s, 1, bad, 0, T0) == MTP_EINVAL, "empty reply refused");
    uint8_t four[4] = { 1, 2, 3, 4 };
    OK(mtp_session_reply(s, 1, four, 4, T0) == MTP_ESTATE, "client cannot reply");
    OK(mtp_session_push(s, four, 4, T0) == MTP_ESTATE, "client cannot push");
    OK(mtp_session_next_deadline(s) == MTP_TIME_NEVER, "idle client: no deadline");
    mtp_session_free(s);
    mtp_session_free(NULL);
}

int main(void)
{
    test_ids();
    test_msg_id();
    test_round_trip();
    test_containers();
    test_acks();
    test_gzip();
    test_big_parts();
    test_salts();
    test_server_violations();
    test_client_reactions();
    test_new_session();
    test_state_req();
    test_resend_and_detailed();
    test_ping();
    test_destroy_and_drop();
    test_rpc_errors();
    test_replays();
    test_ordered_and_wrappers();
    test_close_and_reconnect();
    test_trace();
    test_container_whole();
    test_misc_api();
    return tap_done();
}
