/*
 * libmtproto — the session's private state and the functions its files share
 * (session.c, session_out.c, session_pack.c, session_salts.c, session_service.c,
 * session_server.c, session_client.c). Not installed.
 *
 * Outgoing messages live in out_msg_t records: queued (s->queue), sent and waiting for an
 * ack (s->unacked), or — client calls only — acked and waiting for the answer (s->acked).
 * Records that may have to be re-sent ("retained": client calls, server answers and
 * pushes) are found by msg_id through s->by_msg (current id and the previous one, so a
 * late answer to the previous id still reaches the call) and calls by id through
 * s->by_call. Everything else (acks, pongs, notifications ...) is freed once packed.
 */
#ifndef MTP_SESSION_IMPL_H
#define MTP_SESSION_IMPL_H

#include <mtproto/session.h>
#include <mtproto/tl.h>
#include <mtproto/tl_mtproto.h>

#include <stdlib.h>
#include <string.h>

#include "session_int.h"

#define SEC              MTP_USEC_PER_SEC
#define WINDOW_PAST      (300 * SEC)
#define WINDOW_FUTURE    (30 * SEC)
#define MAX_IDS          8192u      /* ids in one msgs_ack / state req / resend req */
#define MAX_CONTAINER    1024u
#define RECENT_IDS       512u       /* ids of recently sent messages (for notifications) */
#define MAX_PINGS        8u
#define MAX_SALTS        64u
#define SALTS_RETRY      (60 * SEC)
#define SCRATCH_KEEP     (1u << 20)
#define GZIP_PROBE_MIN   (64u << 10) /* bodies above this are probed before deflating */
#define GZIP_PROBE       4096u

enum { OM_CALL = 1, OM_SERVICE, OM_ANSWER, OM_PUSH };
enum { TRACK_NONE = 0, TRACK_PING, TRACK_SALTS, TRACK_STATE_REQ };
enum { CLS_ANY = 0, CLS_EVEN, CLS_ODD };

struct out_msg;
typedef struct olist {
    struct out_msg *head, *tail;
    size_t n;
} olist_t;

typedef struct out_msg {
    struct out_msg *next, *prev;
    olist_t *list;
    uint64_t call_id;           /* OM_CALL */
    void *user;
    uint64_t after;             /* OM_CALL: chained after this call */
    int64_t msg_id, prev_id;    /* current wire id (0 = never sent) and the one before */
    int64_t container_id;       /* container it was last sent in (0 = none) */
    int64_t req_msg_id;         /* OM_ANSWER: the query answered */
    int64_t aux;                /* TRACK_PING: ping_id */
    mtp_usec_t sent_at;         /* last send, or last msgs_state_req about it */
    int32_t seq_no;
    uint16_t retries;
    uint8_t kind, track;
    bool content, retain, acked, keep_id, alone, answer, in_pack;
    size_t len;
    size_t cap;                 /* room for body (records are reused, see om_new) */
    uint8_t body[];
} out_msg_t;

/* Large records and event buffers are kept for reuse: a file transfer moves 1 MiB parts
 * through them, and fresh allocations of that size cost a page fault per 4 KiB. */
#define OM_SPARE_MIN    (64u << 10)
#define OM_SPARE_CAP    ((size_t)3 << 19)   /* 1.5 MiB: a 1 MiB part and its headers */
#define OM_SPARE_MAX    16
#define EV_SPARE_MAX    16
#define REUSE_BYTES     ((size_t)4 << 20)   /* default cfg.reuse_bytes */

typedef struct ev_node {
    struct ev_node *next;
    mtp_session_event_t ev;
    mtp_buf_t a, b;
} ev_node_t;

struct ping_slot {
    int64_t ping_id, msg_id;
    mtp_usec_t at;
    bool used;
};

/* One inner message of an incoming container, while the container is checked. */
typedef struct ses_chk {
    int64_t id;
    int32_t seq;
    bool known, ack;            /* already in the replay window / a msgs_ack */
    bool fresh;                 /* above every id of the window */
} ses_chk_t;

struct mtp_session {
    mtp_session_config_t cfg;
    mtp_role_t role;
    int64_t session_id;
    bool closed;
    bool touched;
    mtp_usec_t last_now;

    /* clock and counters */
    mtp_usec_t offset;
    bool synced;
    int64_t last_msg_id;
    uint32_t content_out;

    /* incoming */
    in_win_t win;
    int64_t *acks;
    uint32_t n_acks;
    mtp_usec_t ack_first_at;

    /* outgoing */
    olist_t queue, unacked, acked;
    id_map_t by_msg, by_call;
    uint64_t next_call_id, last_ordered;
    size_t retained_bytes;
    int64_t recent[RECENT_IDS];
    uint32_t recent_pos;
    out_msg_t **items;          /* MAX_CONTAINER slots for pack() */
    ses_chk_t *chk;             /* MAX_CONTAINER slots for checking a container in */
    mtp_buf_t out;

    /* salts */
    int64_t salt;
    mtp_future_salt_t salts[MAX_SALTS];   /* client: future salts; server: the table */
    uint32_t n_salts;
    int64_t salts_req_msg_id;
    mtp_usec_t salts_req_at;    /* 0 = none outstanding */

    /* keep-alive and timers */
    struct ping_slot pings[MAX_PINGS];
    uint32_t ping_pos;
    mtp_usec_t next_ping_at;
    mtp_usec_t disconnect_at;   /* server */
    int64_t sreq_msg_id;        /* client: our outstanding msgs_state_req */
    int64_t *sreq_ids;
    uint32_t sreq_n;

    /* server */
    bool announced;
    int32_t layer;

    /* events */
    ev_node_t *ev_head, *ev_tail, *ev_cur;
    ev_node_t *ev_spare;        /* recycled nodes (buffers kept) */
    unsigned ev_nspare;
    size_t spare_bytes;         /* capacity kept by recycled events and records */
    out_msg_t *om_spare[OM_SPARE_MAX];   /* recycled large records */

    mtp_buf_t gz1, gz2, tmp;
    mtp_session_stats_t st;
};

/* ---------------------------------------------------------------------------------- */
/* small helpers                                                                      */

/* ---- small helpers ---- */

static inline bool is_server(const mtp_session_t *s)
{
    return s->role == MTP_ROLE_SERVER;
}

static inline mtp_usec_t server_time(const mtp_session_t *s, mtp_usec_t now)
{
    return is_server(s) ? now : now + s->offset;
}

static inline int32_t secs(mtp_usec_t t)
{
    int64_t v = t / SEC;
    if (v > INT32_MAX)
        return INT32_MAX;
    if (v < INT32_MIN)
        return INT32_MIN;
    return (int32_t)v;
}

static inline mtp_usec_t add_sat(mtp_usec_t a, mtp_usec_t b)
{
    if (b > 0 && a > MTP_TIME_NEVER - b)
        return MTP_TIME_NEVER;
    return a + b;
}

static inline bool body_ok(const uint8_t *b, size_t len)
{
    return b && len >= 4 && len % 4 == 0 && len <= MTP_ENC_BODY_MAX;
}

static inline void ses_rd_init(mtp_tl_reader_t *r, const uint8_t *p, size_t n)
{
    mtp_tl_reader_init(r, NULL, p, n, NULL);
    r->borrow = true;
}

static inline bool ses_rd_done(const mtp_tl_reader_t *r)
{
    return !r->err && r->p == r->end;
}

/* ---- session.c: randomness, events, lifecycle ---- */

/* A non-zero random 64-bit value from the configured RNG; MTP_ECRYPTO (or the RNG's error)
 * when it fails or keeps answering zeros: never a predictable fallback. */
int  ses_rand64(const mtp_session_t *s, int64_t *out);
ev_node_t *ses_ev_push(mtp_session_t *s, mtp_session_event_type_t type);
void ses_touch(mtp_session_t *s, mtp_usec_t now);
/* Client: start a fresh session id space after bad_msg code (16/17/32/33). */
void ses_client_new_session(mtp_session_t *s, int32_t code, mtp_usec_t now);

/* ---- session_out.c: out-records (the list operations inline: they run per message) ---- */

static inline void ses_ol_remove(out_msg_t *m)
{
    olist_t *l = m->list;
    if (!l)
        return;
    if (m->prev)
        m->prev->next = m->next;
    else
        l->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        l->tail = m->prev;
    l->n--;
    m->next = m->prev = NULL;
    m->list = NULL;
}

static inline void ses_ol_push_back(olist_t *l, out_msg_t *m)
{
    ses_ol_remove(m);
    m->prev = l->tail;
    m->next = NULL;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->n++;
    m->list = l;
}

static inline void ses_ol_push_front(olist_t *l, out_msg_t *m)
{
    ses_ol_remove(m);
    m->next = l->head;
    m->prev = NULL;
    if (l->head)
        l->head->prev = m;
    else
        l->tail = m;
    l->head = m;
    l->n++;
    m->list = l;
}

static inline void ses_remember_sent(mtp_session_t *s, int64_t id)
{
    s->recent[s->recent_pos] = id;
    s->recent_pos = (s->recent_pos + 1) % RECENT_IDS;
}


void ses_om_unmap_id(mtp_session_t *s, out_msg_t *m, int64_t id);
void ses_om_free(mtp_session_t *s, out_msg_t *m);
/* A retained record whose current id is `id` (not an alias), or NULL. */
out_msg_t *ses_om_current(const mtp_session_t *s, int64_t id);
out_msg_t *ses_enqueue2(mtp_session_t *s, const uint8_t *head, size_t hn, const uint8_t *body,
                        size_t len, uint8_t kind, bool content, bool retain, bool answer);
out_msg_t *ses_enqueue(mtp_session_t *s, const uint8_t *body, size_t len, uint8_t kind,
                       bool content, bool retain, bool answer);
/* Queue the service body built in s->tmp (after ses_tmp_start). */
out_msg_t *ses_enqueue_tmp(mtp_session_t *s, bool content, bool answer);
/* Queue a generated service object (encoded through s->tmp) as an OM_SERVICE record. */
out_msg_t *ses_enqueue_obj(mtp_session_t *s, const void *obj, bool content, bool answer);
mtp_buf_t *ses_tmp_start(mtp_session_t *s);
bool ses_recently_sent(const mtp_session_t *s, int64_t id);
void ses_parse_rpc_error(const uint8_t *p, size_t n, mtp_rpc_error_t *e);
/* End call m: err 0 (result), MTP_ERPC (result holds rpc_error) or a failure. */
void ses_complete_call(mtp_session_t *s, out_msg_t *m, int err, const uint8_t *res, size_t n,
                       int32_t bad_code);
void ses_resend(mtp_session_t *s, out_msg_t *m, bool count, int32_t code);
int  ses_cmp_om_id(const void *a, const void *b);
void ses_requeue_sent(mtp_session_t *s, bool include_acked, bool count, int32_t code);
void ses_evict_retained(mtp_session_t *s);

/* ---- session_pack.c: packing, acks, gzip, containers ---- */

void ses_ack_add(mtp_session_t *s, int64_t id, mtp_usec_t now);
void ses_ack_remove(mtp_session_t *s, int64_t id);
bool ses_acks_due(const mtp_session_t *s, mtp_usec_t now);
/* Inflate a gzip_packed object at p into out (content: one boxed object, no gzip). */
int  ses_inflate_packed(mtp_session_t *s, const uint8_t *p, size_t n, mtp_buf_t *out);
void ses_scratch_trim(mtp_session_t *s);
/* gzip body into out as gzip_packed if that is smaller; returns true if it did. */
bool ses_maybe_gzip(mtp_session_t *s, const uint8_t *body, size_t len, mtp_buf_t *out);
/* Container layout check (§5.4). On success *first = the smallest inner id. */
int  ses_container_check(const uint8_t *b, size_t len, int64_t cid, int64_t *first);

typedef struct inner_it {
    const uint8_t *b;
    size_t len, off;
    uint32_t left;
} inner_it_t;
/* Iterator over the inner messages of a container that passed ses_container_check(). */
static inline inner_it_t ses_inner_begin(const uint8_t *b, size_t len)
{
    inner_it_t it = { b, len, 8, ses_get32(b + 4) };
    return it;
}
/* The next inner message (header fields, body) or false at the end. */
static inline bool ses_inner_next(inner_it_t *it, int64_t *id, int32_t *seq, const uint8_t **body,
                       size_t *n)
{
    if (!it->left)
        return false;
    it->left--;
    const uint8_t *p = it->b + it->off;
    *id = ses_get64(p);
    *seq = (int32_t)ses_get32(p + 8);
    *n = ses_get32(p + 12);
    *body = p + 16;
    it->off += 16 + *n;
    return true;
}
void ses_trace_msg(const mtp_session_t *s, int dir, int64_t sid, int64_t id, int32_t seq,
                   const uint8_t *body, size_t len);

/* ---- session_salts.c ---- */

/* The newest stored salt valid at server time t, else the last learned one. */
int64_t ses_salt_at(const mtp_session_t *s, int32_t t);
void ses_client_prune_salts(mtp_session_t *s, int32_t t);
void ses_client_store_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n, int32_t t);
/* Server: drop expired salts, make sure `need` future ones exist. MTP_ECRYPTO if the RNG
 * fails (the table then holds what could be made). */
int  ses_server_salts_ensure(mtp_session_t *s, int32_t t, uint32_t need);
bool ses_server_salt_ok(const mtp_session_t *s, int64_t salt, int32_t t);
bool ses_salts_needed(const mtp_session_t *s, mtp_usec_t now);
void ses_queue_salts_req(mtp_session_t *s, mtp_usec_t now);
/* Latest valid_until of the stored salts (INT32_MIN when none). */
int32_t ses_salts_max_until(const mtp_session_t *s);

/* ---- session_service.c: incoming service messages, one parser for both roles ---- */

/* The fields of one service message. Which are set depends on cid. */
typedef struct ses_svc {
    uint32_t cid;               /* constructor id */
    const uint8_t *body;        /* the whole message */
    size_t len;
    int64_t msg_id;             /* pong, msg_detailed_info: msg_id; bad_msg*: bad_msg_id;
                                 * rpc_result, msgs_state_info, future_salts,
                                 * rpc_drop_answer: req_msg_id */
    int64_t ping_id;            /* ping, ping_delay_disconnect, pong */
    int64_t answer_id;          /* msg_detailed_info, msg_new_detailed_info */
    int64_t session_id;         /* destroy_session, destroy_session_ok/none */
    int64_t salt;               /* bad_server_salt: new salt; new_session_created */
    int64_t first_msg_id, unique_id;    /* new_session_created */
    int32_t seq_no, code;       /* bad_msg_notification, bad_server_salt */
    int32_t num;                /* get_future_salts: num; ping_delay_disconnect: delay */
    const uint8_t *ids;         /* Vector<long> of msgs_ack, msgs_state_req, msg_resend_req, */
    uint32_t n_ids;             /* msgs_all_info (little-endian longs) */
    mtp_bytes_t info;           /* msgs_state_info, msgs_all_info */
    const uint8_t *salts;       /* future_salts: n_salts records of 16 bytes */
    uint32_t n_salts;
    const uint8_t *result;      /* rpc_result: the result */
    size_t result_len;
} ses_svc_t;

/* Parse the message p[0..n) (n >= 4, n % 4 == 0): 1 = a service message the session
 * handles (v filled in; for rpc_result only cid, body, len, msg_id and result), 0 = any
 * other constructor (only cid set: a query, an update ...), negative MTP_E* = a service
 * constructor with a malformed body (to be ignored). */
int  ses_svc_parse(const uint8_t *p, size_t n, ses_svc_t *v);
/* The service messages both roles treat alike (msgs_ack, ping, ping_delay_disconnect,
 * pong, msgs_state_req, msg_resend_req); false if v is another one. */
bool ses_svc_common(mtp_session_t *s, int64_t id, const ses_svc_t *v, mtp_usec_t now);
void ses_handle_pong(mtp_session_t *s, int64_t msg_id, int64_t ping_id, const uint8_t *p,
                     size_t n, mtp_usec_t now);

/* ---- session_server.c / session_client.c: the two roles' incoming paths ---- */

/* Class of a message by constructor: CLS_EVEN, CLS_ODD (content-related) or CLS_ANY. */
int ses_classify(uint32_t cid);
/* qsort order of ses_chk_t by id. */
int ses_cmp_chk(const void *a, const void *b);
int ses_server_answer(mtp_session_t *s, int64_t req, const uint8_t *body, size_t len,
                      bool allow_gzip);
int ses_server_packet(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now);
int ses_client_packet(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now);

#endif
