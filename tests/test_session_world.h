/*
 * The test world of the session tests (test_session.c, test_session_rules.c): a client
 * session and server sessions talking through memory with a fake clock, crafted bodies,
 * and the helpers that pump, collect and inspect what they send.
 */
#ifndef TEST_SESSION_WORLD_H
#define TEST_SESSION_WORLD_H

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
static inline mtp_session_t *new_session(const mtp_session_config_t *c)
{
    mtp_session_t *s = NULL;
    return mtp_session_new(c, &s) == 0 ? s : NULL;
}

static inline uint32_t g32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline int64_t g64(const uint8_t *p)
{
    return (int64_t)((uint64_t)g32(p) | (uint64_t)g32(p + 4) << 32);
}
static inline void p32(mtp_buf_t *b, uint32_t v)
{
    uint8_t t[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mtp_buf_append(b, t, 4);
}
static inline void p64(mtp_buf_t *b, int64_t v)
{
    p32(b, (uint32_t)(uint64_t)v);
    p32(b, (uint32_t)((uint64_t)v >> 32));
}
static inline void pbytes(mtp_buf_t *b, const void *p, size_t n)
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
static inline void make_query(mtp_buf_t *b, uint32_t tag, size_t words, bool compressible)
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

static inline void pkt_save(pkt_t *p, const mtp_session_msg_t *m)
{
    free(p->copy);
    p->copy = malloc(m->len ? m->len : 1);
    memcpy(p->copy, m->body, m->len);
    p->m = *m;
    p->m.body = p->copy;
}

static inline int destroy_cb(void *ctx, int64_t sid)
{
    (void)ctx;
    return sid == 777 ? 1 : 0;
}

static inline void world_init(world_t *w, const mtp_session_config_t *ccfg)
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

static inline void world_free(world_t *w)
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

static inline mtp_session_t *server_for(world_t *w, int64_t sid)
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

static inline void drain_client(world_t *w)
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

static inline void drain_server(world_t *w, mtp_session_t *s)
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

static inline void note_packet(world_t *w, const mtp_session_msg_t *m)
{
    if (m->len > w->max_body_seen)
        w->max_body_seen = m->len;
    if (m->len >= 8 && g32(m->body) == ID_CONTAINER && (int)g32(m->body + 4) > w->max_container_seen)
        w->max_container_seen = (int)g32(m->body + 4);
}

/* Move everything both ways until quiet. */
static inline void pump(world_t *w)
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
static inline void advance(world_t *w, mtp_usec_t dt)
{
    w->now += dt;
    mtp_session_tick(w->c, w->now);
    for (int i = 0; i < w->nsrv; i++)
        mtp_session_tick(w->srv[i], w->now);
    pump(w);
}

static inline int64_t call(world_t *w, const mtp_buf_t *q, uint32_t flags)
{
    return mtp_session_call(w->c, q->data, q->len, flags, NULL, w->now);
}

/* Split a packed message into its messages (container contents or the message). */
static inline int split(const mtp_session_msg_t *m, msg_t *out, int max)
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

static inline void outbox_free(outbox_t *o)
{
    for (int i = 0; i < o->npk; i++)
        free(o->copies[i]);
    free(o->v);
    o->v = NULL;
    o->n = o->npk = 0;
}

static inline void collect(mtp_session_t *s, mtp_usec_t now, outbox_t *o)
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

static inline const msg_t *find_msg(const outbox_t *o, uint32_t id)
{
    for (int i = 0; i < o->n; i++)
        if (o->v[i].len >= 4 && g32(o->v[i].body) == id)
            return &o->v[i];
    return NULL;
}

/* bad_msg_notification / bad_server_salt code in an outbox, or 0 */
static inline int bad_code(const outbox_t *o, int64_t *bad_id)
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

static inline void feed(mtp_session_t *s, int64_t salt, int64_t msg_id, int32_t seq, const void *body,
                 size_t len, mtp_usec_t now)
{
    mtp_session_msg_t m = { salt, mtp_session_id(s), msg_id, seq, body, len };
    mtp_session_feed(s, &m, now);
}

/* A client msg_id at time t, with a small counter to keep them distinct. */
static inline int64_t cid_at(mtp_usec_t t, int k)
{
    return mtp_msg_id_from_time(t) + 4 * k;
}

static inline int completed_once(const world_t *w, int64_t from, int64_t to)
{
    for (int64_t i = from; i <= to; i++)
        if (w->rec[i].count != 1)
            return 0;
    return 1;
}

#endif
