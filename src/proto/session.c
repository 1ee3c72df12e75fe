/*
 * libmtproto — the MTProto session, both roles (docs/PROTOCOL.md §3.5–3.8, §5, §6, §7.5).
 *
 * Service messages handled here
 *
 *   received by            client                               server
 *   ---------------------  -----------------------------------  ---------------------------------
 *   rpc_result             route to the call (gzip, rpc_error)  ignored
 *   msgs_ack               calls: acked (stop asking)           answers/pushes: forgotten
 *   bad_msg_notification   §5.3 reaction                        ignored
 *   bad_server_salt        adopt salt, re-send                  ignored
 *   new_session_created    salt, event, re-send older calls     ignored
 *   future_salts           store salts                          —
 *   get_future_salts       —                                    future_salts from the salt table
 *   ping / _delay_disc.    pong                                 pong (+ disconnect deadline)
 *   pong                   event (or the call that pinged)      event
 *   msgs_state_req         msgs_state_info from the window      same
 *   msgs_state_info        re-send what the peer never got      ignored
 *   msgs_all_info          mark received calls acked            ignored
 *   msg_detailed_info /
 *   msg_new_detailed_info  ack the answer or msg_resend_req it  ignored
 *   msg_resend_req         re-send (new msg_id)                 re-send (same msg_id)
 *   destroy_session        —                                    destroy_session_ok/none (callback)
 *   destroy_session_ok/none the call that asked                 —
 *   rpc_drop_answer        —                                    rpc_answer_unknown/dropped(_running)
 *   http_wait, msg_copy    ignored                              ignored
 *   anything else          MTP_SESSION_EV_UPDATE                MTP_SESSION_EV_QUERY (unwrapped)
 *
 * Outgoing messages live in out_msg_t records: queued (s->queue), sent and waiting for an
 * ack (s->unacked), or — client calls only — acked and waiting for the answer (s->acked).
 * Records that may have to be re-sent ("retained": client calls, server answers and
 * pushes) are found by msg_id through s->by_msg (current id and the previous one, so a
 * late answer to the previous id still reaches the call) and calls by id through
 * s->by_call. Everything else (acks, pongs, notifications ...) is freed once packed.
 */
#include <mtproto/session.h>
#include <mtproto/tl.h>

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
/* ---------------------------------------------------------------------------------- */

static bool is_server(const mtp_session_t *s)
{
    return s->role == MTP_ROLE_SERVER;
}

static mtp_usec_t server_time(const mtp_session_t *s, mtp_usec_t now)
{
    return is_server(s) ? now : now + s->offset;
}

static int32_t secs(mtp_usec_t t)
{
    int64_t v = t / SEC;
    if (v > INT32_MAX)
        return INT32_MAX;
    if (v < INT32_MIN)
        return INT32_MIN;
    return (int32_t)v;
}

static mtp_usec_t add_sat(mtp_usec_t a, mtp_usec_t b)
{
    if (b > 0 && a > MTP_TIME_NEVER - b)
        return MTP_TIME_NEVER;
    return a + b;
}

static int64_t rand64(mtp_session_t *s)
{
    uint8_t b[8];
    int64_t v = 0;
    for (int i = 0; i < 4 && !v; i++) {
        if (mtp_rand(s->cfg.rng, b, sizeof b))
            memset(b, 0, sizeof b);
        v = ses_get64(b);
    }
    if (!v)   /* an RNG that only gives zeros: still never 0 */
        v = (int64_t)0x5a5a5a5a5a5a5a5all ^ (int64_t)s->last_msg_id;
    return v;
}

static bool body_ok(const uint8_t *b, size_t len)
{
    return b && len >= 4 && len % 4 == 0 && len <= MTP_ENC_BODY_MAX;
}

/* ---- lists ---- */

static void ol_remove(out_msg_t *m)
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

static void ol_push_back(olist_t *l, out_msg_t *m)
{
    ol_remove(m);
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

static void ol_push_front(olist_t *l, out_msg_t *m)
{
    ol_remove(m);
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

/* ---- events ---- */

static ev_node_t *ev_push(mtp_session_t *s, mtp_session_event_type_t type)
{
    ev_node_t *n = s->ev_spare;
    if (n) {
        s->ev_spare = n->next;
        s->ev_nspare--;
        s->spare_bytes -= n->a.cap + n->b.cap;
        mtp_buf_t a = n->a, b = n->b;
        memset(n, 0, sizeof *n);
        n->a = a;
        n->b = b;
        mtp_buf_clear(&n->a);
        mtp_buf_clear(&n->b);
        n->a.err = n->b.err = 0;
    } else {
        n = calloc(1, sizeof *n);
        if (!n)
            return NULL;
        mtp_buf_init(&n->a);
        mtp_buf_init(&n->b);
    }
    n->ev.type = type;
    if (s->ev_tail)
        s->ev_tail->next = n;
    else
        s->ev_head = n;
    s->ev_tail = n;
    return n;
}

static void ev_free(ev_node_t *n)
{
    if (!n)
        return;
    mtp_buf_free(&n->a);
    mtp_buf_free(&n->b);
    free(n);
}

/* An event the application is done with: keep the node for the next one when there is room. */
static void ev_recycle(mtp_session_t *s, ev_node_t *n)
{
    if (!n)
        return;
    size_t bytes = n->a.cap + n->b.cap;
    if (s->ev_nspare >= EV_SPARE_MAX || s->spare_bytes > s->cfg.reuse_bytes ||
        bytes > s->cfg.reuse_bytes - s->spare_bytes) {
        ev_free(n);
        return;
    }
    n->next = s->ev_spare;
    s->ev_spare = n;
    s->ev_nspare++;
    s->spare_bytes += bytes;
}

/* ---- out messages ---- */

/* A record holding head (hn bytes) followed by body (len bytes). */
static out_msg_t *om_new2(mtp_session_t *s, const uint8_t *head, size_t hn, const uint8_t *body,
                          size_t bn)
{
    size_t len = hn + bn;
    out_msg_t *m = NULL;
    if (len >= OM_SPARE_MIN)
        for (int i = 0; i < OM_SPARE_MAX; i++)
            if (s->om_spare[i] && s->om_spare[i]->cap >= len) {
                m = s->om_spare[i];
                s->om_spare[i] = NULL;
                s->spare_bytes -= m->cap;
                break;
            }
    size_t cap = m ? m->cap : len;
    if (!m && !(m = malloc(sizeof *m + len)))
        return NULL;
    memset(m, 0, sizeof *m);   /* the header only: the body is written next */
    if (hn)
        memcpy(m->body, head, hn);
    if (bn)
        memcpy(m->body + hn, body, bn);
    m->len = len;
    m->cap = cap;
    return m;
}

/* Free a record that is off every list and map, or keep it when it is large. */
static void om_release(mtp_session_t *s, out_msg_t *m)
{
    if (m->cap >= OM_SPARE_MIN && m->cap <= OM_SPARE_CAP && s->spare_bytes <= s->cfg.reuse_bytes &&
        m->cap <= s->cfg.reuse_bytes - s->spare_bytes)
        for (int i = 0; i < OM_SPARE_MAX; i++)
            if (!s->om_spare[i]) {
                s->om_spare[i] = m;
                s->spare_bytes += m->cap;
                return;
            }
    free(m);
}

static void om_unmap_id(mtp_session_t *s, out_msg_t *m, int64_t id)
{
    if (id && idmap_get(&s->by_msg, id) == m)
        idmap_del(&s->by_msg, id);
}

static void om_free(mtp_session_t *s, out_msg_t *m)
{
    ol_remove(m);
    om_unmap_id(s, m, m->msg_id);
    om_unmap_id(s, m, m->prev_id);
    if (m->call_id && idmap_get(&s->by_call, (int64_t)m->call_id) == m)
        idmap_del(&s->by_call, (int64_t)m->call_id);
    if (m->retain)
        s->retained_bytes -= m->len;
    om_release(s, m);
}

/* A retained record whose current id is `id` (not an alias), or NULL. */
static out_msg_t *om_current(const mtp_session_t *s, int64_t id)
{
    out_msg_t *m = idmap_get(&s->by_msg, id);
    return m && m->msg_id == id ? m : NULL;
}

static out_msg_t *enqueue2(mtp_session_t *s, const uint8_t *head, size_t hn, const uint8_t *body,
                           size_t len, uint8_t kind, bool content, bool retain, bool answer)
{
    out_msg_t *m = om_new2(s, head, hn, body, len);
    if (!m)
        return NULL;
    len += hn;
    m->kind = kind;
    m->content = content;
    m->retain = retain;
    m->answer = answer;
    if (retain)
        s->retained_bytes += len;
    ol_push_back(&s->queue, m);
    return m;
}

static out_msg_t *enqueue(mtp_session_t *s, const uint8_t *body, size_t len, uint8_t kind,
                          bool content, bool retain, bool answer)
{
    return enqueue2(s, NULL, 0, body, len, kind, content, retain, answer);
}

/* Queue the service body built in s->tmp. */
static out_msg_t *enqueue_tmp(mtp_session_t *s, bool content, bool answer)
{
    if (s->tmp.err) {
        mtp_buf_clear(&s->tmp);
        return NULL;
    }
    return enqueue(s, s->tmp.data, s->tmp.len, OM_SERVICE, content, false, answer);
}

static mtp_buf_t *tmp_start(mtp_session_t *s)
{
    mtp_buf_clear(&s->tmp);
    return &s->tmp;
}

static void remember_sent(mtp_session_t *s, int64_t id)
{
    s->recent[s->recent_pos] = id;
    s->recent_pos = (s->recent_pos + 1) % RECENT_IDS;
}

static bool recently_sent(const mtp_session_t *s, int64_t id)
{
    if (!id)
        return false;
    for (uint32_t i = 0; i < RECENT_IDS; i++)
        if (s->recent[i] == id)
            return true;
    return false;
}

/* ---- acks ---- */

static void ack_add(mtp_session_t *s, int64_t id, mtp_usec_t now)
{
    for (uint32_t i = s->n_acks; i > 0 && i + 8 > s->n_acks; i--)
        if (s->acks[i - 1] == id)
            return;   /* just queued (cheap check of the last few) */
    if (s->n_acks >= MAX_IDS)
        return;       /* the peer will re-send; we ack the duplicate then */
    if (!s->n_acks)
        s->ack_first_at = now;
    s->acks[s->n_acks++] = id;
}

static void ack_remove(mtp_session_t *s, int64_t id)
{
    for (uint32_t i = 0; i < s->n_acks; i++)
        if (s->acks[i] == id) {
            memmove(&s->acks[i], &s->acks[i + 1], (s->n_acks - i - 1) * sizeof *s->acks);
            s->n_acks--;
            return;
        }
}

static bool acks_due(const mtp_session_t *s, mtp_usec_t now)
{
    return s->n_acks && (s->n_acks >= s->cfg.ack_max_pending ||
                         now >= add_sat(s->ack_first_at, s->cfg.ack_delay));
}

/* ---- reading service bodies ---- */

static void rd_init(mtp_tl_reader_t *r, const uint8_t *p, size_t n)
{
    mtp_tl_reader_init(r, NULL, p, n, NULL);
    r->borrow = true;
}

/* Vector<long>: *raw = the LE longs, *n = count. */
static void rd_longs(mtp_tl_reader_t *r, const uint8_t **raw, uint32_t *n)
{
    *raw = NULL;
    *n = 0;
    if (mtp_tl_read_nat(r) != SID_VECTOR) {
        mtp_tl_reader_fail(r, MTP_EBADTL);
        return;
    }
    uint32_t c = mtp_tl_read_nat(r);
    if (r->err)
        return;
    if (c > MAX_IDS || (size_t)c * 8 > (size_t)(r->end - r->p)) {
        mtp_tl_reader_fail(r, MTP_ERANGE);
        return;
    }
    *raw = r->p;
    *n = c;
    r->p += (size_t)c * 8;
}

static bool rd_done(const mtp_tl_reader_t *r)
{
    return !r->err && r->p == r->end;
}

/* Inflate a gzip_packed object at p into out (content: one boxed object, no gzip). */
static int inflate_packed(mtp_session_t *s, const uint8_t *p, size_t n, mtp_buf_t *out)
{
    mtp_tl_reader_t r;
    rd_init(&r, p + 4, n - 4);
    mtp_bytes_t data = mtp_tl_read_bytes(&r);
    if (!rd_done(&r))
        return MTP_EPROTO;
    mtp_buf_clear(out);
    int rc = mtp_gzip_inflate(data.ptr, data.len, s->cfg.gzip_cap, out);
    if (rc)
        return rc == MTP_ENOMEM ? rc : MTP_EGZIP;
    if (out->len < 4 || out->len % 4 || ses_get32(out->data) == SID_GZIP_PACKED)
        return MTP_EPROTO;
    s->st.gzip_in++;
    return 0;
}

static void scratch_trim(mtp_session_t *s)
{
    if (s->gz1.cap > SCRATCH_KEEP)
        mtp_buf_free(&s->gz1);
    if (s->gz2.cap > SCRATCH_KEEP)
        mtp_buf_free(&s->gz2);
    if (s->tmp.cap > SCRATCH_KEEP)
        mtp_buf_free(&s->tmp);
}

/* gzip body into out as gzip_packed if that is smaller; returns true if it did. */
static bool maybe_gzip(mtp_session_t *s, const uint8_t *body, size_t len, mtp_buf_t *out)
{
    if (s->cfg.gzip_min == SIZE_MAX || len < s->cfg.gzip_min)
        return false;
    mtp_buf_t z;
    mtp_buf_init(&z);
    bool used = false;
    if (len > GZIP_PROBE_MIN) {
        /* big bodies are mostly media (already compressed): probe a sample first so
         * that a 512 KiB file part does not cost a full deflate for nothing */
        size_t at = (len / 2) & ~(size_t)3;
        if (mtp_gzip_deflate(body + at, GZIP_PROBE, 1, &z) || z.len * 10 > GZIP_PROBE * 9) {
            mtp_buf_free(&z);
            return false;
        }
        mtp_buf_clear(&z);
    }
    if (!mtp_gzip_deflate(body, len, 0, &z) && z.len <= MTP_TL_MAX_BYTES &&
        4 + mtp_tl_bytes_size(z.len) < len) {
        ses_buf_u32(out, SID_GZIP_PACKED);
        ses_buf_tlbytes(out, z.data, z.len);
        used = !out->err;
        if (used)
            s->st.gzip_out++;
    }
    mtp_buf_free(&z);
    return used;
}

/* ---------------------------------------------------------------------------------- */
/* configuration, lifetime                                                            */
/* ---------------------------------------------------------------------------------- */

void mtp_session_config_init(mtp_session_config_t *c, mtp_role_t role)
{
    memset(c, 0, sizeof *c);
    c->role = role;
    c->replay_window = 2048;
    c->max_container_msgs = MAX_CONTAINER;
    c->max_container_bytes = 1u << 20;
    c->ack_max_pending = 100;
    c->ack_delay = 500 * 1000;
    c->gzip_min = 512;
    c->gzip_cap = MTP_TL_GZIP_CAP_DEFAULT;
    c->resend_timeout = 10 * SEC;
    c->future_salts = 32;
    c->salt_refresh_margin = 600 * SEC;
    c->salt_period = 3600;
    c->salt_grace = 1800;
    c->max_retries = 5;
    c->max_retained_bytes = 16u << 20;
    c->reuse_bytes = REUSE_BYTES;
    c->announce_new_session = true;
}

mtp_session_t *mtp_session_new(const mtp_session_config_t *cfg)
{
    if (!cfg || (cfg->role != MTP_ROLE_CLIENT && cfg->role != MTP_ROLE_SERVER))
        return NULL;
    if (cfg->role == MTP_ROLE_SERVER && !cfg->session_id)
        return NULL;
    mtp_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    mtp_session_config_t *c = &s->cfg;
    if (c->replay_window < 64)
        c->replay_window = 64;
    if (c->replay_window > (1u << 20))
        c->replay_window = 1u << 20;
    if (!c->max_container_msgs || c->max_container_msgs > MAX_CONTAINER)
        c->max_container_msgs = MAX_CONTAINER;
    if (c->max_container_bytes < 1024)
        c->max_container_bytes = 1024;
    if (!c->ack_max_pending || c->ack_max_pending > MAX_IDS)
        c->ack_max_pending = c->ack_max_pending ? MAX_IDS : 100;
    if (c->ack_delay < 0)
        c->ack_delay = 0;
    if (!c->gzip_cap)
        c->gzip_cap = MTP_TL_GZIP_CAP_DEFAULT;
    if (c->future_salts > MAX_SALTS)
        c->future_salts = MAX_SALTS;
    if (c->salt_period <= 0)
        c->salt_period = 3600;
    if (c->salt_grace < 0)
        c->salt_grace = 0;
    if (!c->max_retained_bytes)
        c->max_retained_bytes = 16u << 20;
    if (!c->reuse_bytes)
        c->reuse_bytes = REUSE_BYTES;

    s->role = c->role;
    s->offset = is_server(s) ? 0 : c->time_offset;
    s->synced = is_server(s) ? true : c->time_synced;
    s->salt = c->server_salt;
    s->session_id = c->session_id;
    mtp_buf_init(&s->out);
    mtp_buf_init(&s->gz1);
    mtp_buf_init(&s->gz2);
    mtp_buf_init(&s->tmp);
    s->acks = calloc(MAX_IDS, sizeof *s->acks);
    s->items = calloc(MAX_CONTAINER + 1, sizeof *s->items);
    if (!s->acks || !s->items || inwin_init(&s->win, c->replay_window)) {
        mtp_session_free(s);
        return NULL;
    }
    if (!s->session_id)
        s->session_id = rand64(s);
    return s;
}

void mtp_session_free(mtp_session_t *s)
{
    if (!s)
        return;
    olist_t *lists[] = { &s->queue, &s->unacked, &s->acked };
    for (size_t i = 0; i < 3; i++)
        while (lists[i]->head) {
            out_msg_t *m = lists[i]->head;
            ol_remove(m);
            free(m);
        }
    ev_free(s->ev_cur);
    while (s->ev_head) {
        ev_node_t *n = s->ev_head;
        s->ev_head = n->next;
        ev_free(n);
    }
    while (s->ev_spare) {
        ev_node_t *n = s->ev_spare;
        s->ev_spare = n->next;
        ev_free(n);
    }
    for (int i = 0; i < OM_SPARE_MAX; i++)
        free(s->om_spare[i]);
    idmap_free(&s->by_msg);
    idmap_free(&s->by_call);
    inwin_free(&s->win);
    free(s->acks);
    free(s->items);
    free(s->sreq_ids);
    mtp_buf_free(&s->out);
    mtp_buf_free(&s->gz1);
    mtp_buf_free(&s->gz2);
    mtp_buf_free(&s->tmp);
    free(s);
}

static void touch(mtp_session_t *s, mtp_usec_t now)
{
    if (!s->touched) {
        s->touched = true;
        if (!is_server(s) && s->cfg.ping_interval > 0)
            s->next_ping_at = add_sat(now, s->cfg.ping_interval);
    }
    s->last_now = now;
}

/* ---------------------------------------------------------------------------------- */
/* accessors                                                                          */
/* ---------------------------------------------------------------------------------- */

mtp_role_t mtp_session_role(const mtp_session_t *s)
{
    return s->role;
}

int64_t mtp_session_id(const mtp_session_t *s)
{
    return s->session_id;
}

const mtp_session_stats_t *mtp_session_stats(const mtp_session_t *s)
{
    return &s->st;
}

mtp_usec_t mtp_session_time_offset(const mtp_session_t *s)
{
    return s->offset;
}

bool mtp_session_time_synced(const mtp_session_t *s)
{
    return s->synced;
}

void mtp_session_set_time_offset(mtp_session_t *s, mtp_usec_t offset)
{
    if (is_server(s))
        return;
    s->offset = offset;
    s->synced = true;
}

bool mtp_session_received(const mtp_session_t *s, int64_t msg_id)
{
    return inwin_find(&s->win, msg_id) != NULL;
}

int32_t mtp_session_layer(const mtp_session_t *s)
{
    return s->layer;
}

size_t mtp_session_pending_calls(const mtp_session_t *s)
{
    return s->by_call.n;
}

size_t mtp_session_unacked(const mtp_session_t *s)
{
    return s->unacked.n;
}

int64_t mtp_session_call_msg_id(const mtp_session_t *s, uint64_t call_id)
{
    out_msg_t *m = idmap_get(&s->by_call, (int64_t)call_id);
    return m ? m->msg_id : 0;
}

/* ---------------------------------------------------------------------------------- */
/* salts                                                                              */
/* ---------------------------------------------------------------------------------- */

static int salt_cmp(const void *a, const void *b)
{
    const mtp_future_salt_t *x = a, *y = b;
    if (x->valid_since != y->valid_since)
        return x->valid_since < y->valid_since ? -1 : 1;
    return x->valid_until < y->valid_until ? -1 : x->valid_until > y->valid_until;
}

/* Client: the newest future salt valid at server time t, or the last learned one. */
static int64_t client_salt_at(const mtp_session_t *s, int32_t t)
{
    int64_t best = s->salt;
    int32_t best_since = INT32_MIN;
    bool found = false;
    for (uint32_t i = 0; i < s->n_salts; i++) {
        const mtp_future_salt_t *f = &s->salts[i];
        if (f->valid_since <= t && t < f->valid_until && (!found || f->valid_since >= best_since)) {
            best = f->salt;
            best_since = f->valid_since;
            found = true;
        }
    }
    return best;
}

static void client_prune_salts(mtp_session_t *s, int32_t t)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n_salts; i++)
        if (s->salts[i].valid_until > t)
            s->salts[k++] = s->salts[i];
    s->n_salts = k;
}

static void client_store_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n, int32_t t)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].valid_until <= v[i].valid_since || v[i].valid_until <= t)
            continue;
        bool dup = false;
        for (uint32_t j = 0; j < s->n_salts; j++)
            if (s->salts[j].salt == v[i].salt && s->salts[j].valid_since == v[i].valid_since) {
                s->salts[j].valid_until = v[i].valid_until;
                dup = true;
            }
        if (dup)
            continue;
        if (s->n_salts == MAX_SALTS) {
            /* replace the one that starts last if the new one starts earlier */
            qsort(s->salts, s->n_salts, sizeof s->salts[0], salt_cmp);
            if (v[i].valid_since >= s->salts[MAX_SALTS - 1].valid_since)
                continue;
            s->n_salts--;
        }
        s->salts[s->n_salts++] = v[i];
    }
    qsort(s->salts, s->n_salts, sizeof s->salts[0], salt_cmp);
}

/* Server: the salt table. */
static void server_salts_ensure(mtp_session_t *s, int32_t t, uint32_t need)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n_salts; i++)
        if ((int64_t)s->salts[i].valid_until + s->cfg.salt_grace > t)
            s->salts[k++] = s->salts[i];
    s->n_salts = k;
    if (!s->n_salts) {
        if (!need)
            return;
        s->salts[0].valid_since = t;
        s->salts[0].valid_until = (int32_t)((int64_t)t + s->cfg.salt_period > INT32_MAX
                                                ? INT32_MAX : t + s->cfg.salt_period);
        s->salts[0].salt = s->salt;
        s->n_salts = 1;
    }
    for (;;) {
        uint32_t future = 0;
        for (uint32_t i = 0; i < s->n_salts; i++)
            if (s->salts[i].valid_until > t)
                future++;
        if (future >= need || s->n_salts >= MAX_SALTS)
            break;
        const mtp_future_salt_t *last = &s->salts[s->n_salts - 1];
        mtp_future_salt_t f;
        f.valid_since = last->valid_until > t ? last->valid_until : t;
        if ((int64_t)f.valid_since + s->cfg.salt_period > INT32_MAX)
            break;
        f.valid_until = f.valid_since + s->cfg.salt_period;
        f.salt = rand64(s);
        s->salts[s->n_salts++] = f;
    }
}

static int64_t server_salt_at(const mtp_session_t *s, int32_t t)
{
    int64_t best = s->salt;
    int32_t since = INT32_MIN;
    bool found = false;
    for (uint32_t i = 0; i < s->n_salts; i++) {
        const mtp_future_salt_t *f = &s->salts[i];
        if (f->valid_since <= t && t < f->valid_until && (!found || f->valid_since >= since)) {
            best = f->salt;
            since = f->valid_since;
            found = true;
        }
    }
    return best;
}

static bool server_salt_ok(const mtp_session_t *s, int64_t salt, int32_t t)
{
    if (!s->n_salts)
        return salt == s->salt;
    for (uint32_t i = 0; i < s->n_salts; i++) {
        const mtp_future_salt_t *f = &s->salts[i];
        if (f->salt == salt && (int64_t)f->valid_since - 60 <= t &&
            t < (int64_t)f->valid_until + s->cfg.salt_grace)
            return true;
    }
    return false;
}

int64_t mtp_session_salt(const mtp_session_t *s, mtp_usec_t now)
{
    int32_t t = secs(server_time(s, now));
    return is_server(s) ? server_salt_at(s, t) : client_salt_at(s, t);
}

void mtp_session_set_salt(mtp_session_t *s, int64_t salt)
{
    s->salt = salt;
}

int mtp_session_add_future_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n)
{
    if (!s || (!v && n) || n > MAX_SALTS)
        return MTP_EINVAL;
    if (is_server(s))
        return mtp_session_set_server_salts(s, v, n);
    client_store_salts(s, v, n, secs(server_time(s, s->last_now)));
    return 0;
}

int mtp_session_set_server_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n)
{
    if (!s || (!v && n) || n > MAX_SALTS || !is_server(s))
        return MTP_EINVAL;
    memcpy(s->salts, v, n * sizeof *v);
    s->n_salts = (uint32_t)n;
    qsort(s->salts, s->n_salts, sizeof s->salts[0], salt_cmp);
    return 0;
}

size_t mtp_session_salts(const mtp_session_t *s, mtp_future_salt_t *out, size_t max)
{
    size_t n = s->n_salts < max ? s->n_salts : max;
    if (out && n)
        memcpy(out, s->salts, n * sizeof *out);
    return s->n_salts;
}

/* Client: should we ask for future salts now? */
static bool salts_needed(const mtp_session_t *s, mtp_usec_t now)
{
    if (is_server(s) || !s->cfg.future_salts || s->closed)
        return false;
    if (s->salts_req_at && now < add_sat(s->salts_req_at, SALTS_RETRY))
        return false;
    if (!s->n_salts)
        return true;
    int32_t t = secs(server_time(s, now));
    int32_t max_until = INT32_MIN;
    for (uint32_t i = 0; i < s->n_salts; i++)
        if (s->salts[i].valid_until > max_until)
            max_until = s->salts[i].valid_until;
    return (int64_t)max_until - t < s->cfg.salt_refresh_margin / SEC;
}

static void queue_salts_req(mtp_session_t *s, mtp_usec_t now)
{
    mtp_buf_t *b = tmp_start(s);
    ses_buf_u32(b, SID_GET_FUTURE_SALTS);
    ses_buf_u32(b, s->cfg.future_salts);
    out_msg_t *m = enqueue_tmp(s, true, false);
    if (m) {
        m->track = TRACK_SALTS;
        s->salts_req_at = now;
    }
}

/* ---------------------------------------------------------------------------------- */
/* calls ending                                                                       */
/* ---------------------------------------------------------------------------------- */

static void parse_rpc_error(const uint8_t *p, size_t n, mtp_rpc_error_t *e)
{
    mtp_tl_reader_t r;
    rd_init(&r, p + 4, n - 4);
    int32_t code = mtp_tl_read_int(&r);
    mtp_bytes_t msg = mtp_tl_read_bytes(&r);
    if (r.err) {
        code = 0;
        msg.ptr = NULL;
        msg.len = 0;
    }
    mtp_rpc_error_parse(code, msg.ptr, msg.len, e);
}

/* End call m: err 0 (result), MTP_ERPC (result holds rpc_error) or a failure. */
static void complete_call(mtp_session_t *s, out_msg_t *m, int err, const uint8_t *res,
                          size_t n, int32_t bad_code)
{
    ev_node_t *e = ev_push(s, MTP_SESSION_EV_RESULT);
    if (e) {
        e->ev.call_id = m->call_id;
        e->ev.user = m->user;
        e->ev.err = err;
        e->ev.bad_msg_code = bad_code;
        e->ev.msg_id = m->msg_id;
        if (res && n) {
            if (mtp_buf_append(&e->a, res, n)) {
                e->ev.err = MTP_ENOMEM;
            } else {
                e->ev.body.ptr = e->a.data;
                e->ev.body.len = n;
                if (err == MTP_ERPC && n >= 4)
                    parse_rpc_error(e->a.data, n, &e->ev.rpc_error);
            }
        }
    }
    om_free(s, m);
}

/* Re-send a retained message (client: new msg_id; server: the same). Bounded for calls
 * when `count` is set: past max_retries the call fails with MTP_EPROTO. */
static void resend(mtp_session_t *s, out_msg_t *m, bool count, int32_t code)
{
    if (count && ++m->retries > s->cfg.max_retries) {
        if (m->kind == OM_CALL)
            complete_call(s, m, MTP_EPROTO, NULL, 0, code);
        else
            om_free(s, m);
        return;
    }
    m->acked = false;
    m->keep_id = is_server(s) && m->msg_id;
    ol_push_back(&s->queue, m);
    s->st.resent++;
}

/* ---------------------------------------------------------------------------------- */
/* outgoing API                                                                       */
/* ---------------------------------------------------------------------------------- */

int64_t mtp_session_call_after(mtp_session_t *s, const uint8_t *body, size_t len,
                               uint32_t flags, uint64_t after, void *user, mtp_usec_t now)
{
    if (!s || !body_ok(body, len))
        return MTP_EINVAL;
    if (is_server(s) || s->closed)
        return MTP_ESTATE;
    touch(s, now);
    if (idmap_reserve(&s->by_call, 1) || idmap_reserve(&s->by_msg, 4))
        return MTP_ENOMEM;
    if (salts_needed(s, now))
        queue_salts_req(s, now);
    out_msg_t *m;
    mtp_buf_t *b = tmp_start(s);
    if (!(flags & MTP_CALL_NO_GZIP) && maybe_gzip(s, body, len, b))
        m = enqueue(s, b->data, b->len, OM_CALL, true, true, false);
    else
        m = enqueue(s, body, len, OM_CALL, true, true, false);
    if (!m)
        return MTP_ENOMEM;
    m->call_id = ++s->next_call_id;
    m->user = user;
    m->alone = (flags & MTP_CALL_ALONE) != 0;
    if (!after && (flags & MTP_CALL_ORDERED))
        after = s->last_ordered;
    m->after = after;
    if (flags & MTP_CALL_ORDERED)
        s->last_ordered = m->call_id;
    idmap_put(&s->by_call, (int64_t)m->call_id, m);
    return (int64_t)m->call_id;
}

int64_t mtp_session_call(mtp_session_t *s, const uint8_t *body, size_t len, uint32_t flags,
                         void *user, mtp_usec_t now)
{
    return mtp_session_call_after(s, body, len, flags, 0, user, now);
}

int mtp_session_cancel(mtp_session_t *s, uint64_t call_id, mtp_usec_t now)
{
    if (!s)
        return MTP_EINVAL;
    touch(s, now);
    out_msg_t *m = call_id ? idmap_get(&s->by_call, (int64_t)call_id) : NULL;
    if (!m)
        return MTP_ENOTFOUND;
    if (m->msg_id && !s->closed) {
        mtp_buf_t *b = tmp_start(s);
        ses_buf_u32(b, SID_DROP_ANSWER);
        ses_buf_i64(b, m->msg_id);
        enqueue_tmp(s, true, false);
    }
    complete_call(s, m, MTP_ECANCELED, NULL, 0, 0);
    return 0;
}

static void evict_retained(mtp_session_t *s)
{
    while (s->retained_bytes > s->cfg.max_retained_bytes && s->unacked.head)
        om_free(s, s->unacked.head);
}

static int server_answer(mtp_session_t *s, int64_t req, const uint8_t *body, size_t len,
                         bool allow_gzip)
{
    uint8_t head[12];
    ses_put32(head, SID_RPC_RESULT);
    ses_put64(head + 4, req);
    mtp_buf_t *b = tmp_start(s);
    mtp_buf_append(b, head, sizeof head);
    out_msg_t *m;
    if (allow_gzip && maybe_gzip(s, body, len, b))
        m = b->err ? NULL : enqueue(s, b->data, b->len, OM_ANSWER, true, true, true);
    else   /* straight into the record: one copy of a 1 MiB file part, not two */
        m = enqueue2(s, head, sizeof head, body, len, OM_ANSWER, true, true, true);
    if (!m)
        return MTP_ENOMEM;
    m->req_msg_id = req;
    ack_remove(s, req);   /* the rpc_result acknowledges the query */
    evict_retained(s);
    return 0;
}

int mtp_session_reply(mtp_session_t *s, int64_t req_msg_id, const uint8_t *body, size_t len,
                      mtp_usec_t now)
{
    return mtp_session_reply_ex(s, req_msg_id, body, len, 0, now);
}

int mtp_session_reply_ex(mtp_session_t *s, int64_t req_msg_id, const uint8_t *body, size_t len,
                         uint32_t flags, mtp_usec_t now)
{
    if (!s || !body_ok(body, len))
        return MTP_EINVAL;
    if (!is_server(s) || s->closed)
        return MTP_ESTATE;
    touch(s, now);
    in_rec_t *r = inwin_find(&s->win, req_msg_id);
    if (r) {
        if (r->flags & IN_DROPPED)
            return 0;   /* the client asked us to drop it */
        r->flags |= IN_ANSWERED | IN_ACKED;
    }
    return server_answer(s, req_msg_id, body, len, !(flags & MTP_CALL_NO_GZIP));
}

int mtp_session_reply_error(mtp_session_t *s, int64_t req_msg_id, int32_t code,
                            const char *message, mtp_usec_t now)
{
    if (!s || !message)
        return MTP_EINVAL;
    mtp_buf_t b;
    mtp_buf_init(&b);
    ses_buf_u32(&b, SID_RPC_ERROR);
    ses_buf_u32(&b, (uint32_t)code);
    ses_buf_tlbytes(&b, (const uint8_t *)message, strlen(message));
    int rc = b.err ? b.err : mtp_session_reply(s, req_msg_id, b.data, b.len, now);
    mtp_buf_free(&b);
    return rc;
}

int mtp_session_push(mtp_session_t *s, const uint8_t *body, size_t len, mtp_usec_t now)
{
    if (!s || !body_ok(body, len))
        return MTP_EINVAL;
    if (!is_server(s) || s->closed)
        return MTP_ESTATE;
    touch(s, now);
    if (!enqueue(s, body, len, OM_PUSH, true, true, false))
        return MTP_ENOMEM;
    evict_retained(s);
    return 0;
}

int mtp_session_send_raw(mtp_session_t *s, const uint8_t *body, size_t len, uint32_t flags,
                         mtp_usec_t now)
{
    if (!s || !body_ok(body, len))
        return MTP_EINVAL;
    if (s->closed)
        return MTP_ESTATE;
    touch(s, now);
    out_msg_t *m = enqueue(s, body, len, OM_SERVICE, (flags & MTP_SEND_CONTENT) != 0, false,
                           (flags & MTP_SEND_ANSWER) != 0);
    if (!m)
        return MTP_ENOMEM;
    m->alone = (flags & MTP_SEND_ALONE) != 0;
    return 0;
}

int mtp_session_ping(mtp_session_t *s, int64_t ping_id, int32_t disconnect_delay,
                     mtp_usec_t now)
{
    if (!s)
        return MTP_EINVAL;
    if (s->closed)
        return MTP_ESTATE;
    if (disconnect_delay > 0 && is_server(s))
        return MTP_EINVAL;
    touch(s, now);
    mtp_buf_t *b = tmp_start(s);
    ses_buf_u32(b, disconnect_delay > 0 ? SID_PING_DELAY : SID_PING);
    ses_buf_i64(b, ping_id);
    if (disconnect_delay > 0)
        ses_buf_u32(b, (uint32_t)disconnect_delay);
    out_msg_t *m = enqueue_tmp(s, true, false);
    if (!m)
        return MTP_ENOMEM;
    m->track = TRACK_PING;
    m->aux = ping_id;
    struct ping_slot *p = &s->pings[s->ping_pos];
    s->ping_pos = (s->ping_pos + 1) % MAX_PINGS;
    p->used = true;
    p->ping_id = ping_id;
    p->msg_id = 0;
    p->at = now;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* packing                                                                            */
/* ---------------------------------------------------------------------------------- */

static int32_t next_seq(mtp_session_t *s, bool content)
{
    int32_t v = (int32_t)(s->content_out * 2u + (content ? 1u : 0u));
    if (content)
        s->content_out++;
    return v;
}

static unsigned id_mod(const mtp_session_t *s, const out_msg_t *m)
{
    if (!is_server(s))
        return 0;
    return m->answer ? 1 : 3;
}

/* The msg_id the call should be chained after: >0 id, 0 none, -1 not sendable yet. */
static int64_t after_id(const mtp_session_t *s, const out_msg_t *m)
{
    if (!m->after)
        return 0;
    out_msg_t *d = idmap_get(&s->by_call, (int64_t)m->after);
    if (!d || d == m)
        return 0;            /* finished: nothing to wait for */
    if (d->in_pack)
        return 1;            /* gets its id in this packet, before m */
    return d->msg_id ? d->msg_id : -1;
}

static size_t wire_len(const mtp_session_t *s, const out_msg_t *m)
{
    return m->len + (after_id(s, m) > 0 ? 12u : 0u);
}

static void assign_id(mtp_session_t *s, out_msg_t *m, mtp_usec_t now)
{
    if (m->keep_id && m->msg_id) {
        m->keep_id = false;
        return;
    }
    int64_t id = msgid_next(&s->last_msg_id, server_time(s, now), id_mod(s, m));
    if (m->retain) {
        om_unmap_id(s, m, m->prev_id);
        m->prev_id = m->msg_id;
        idmap_put(&s->by_msg, id, m);    /* room reserved by pack() */
    }
    m->msg_id = id;
    m->seq_no = next_seq(s, m->content);
}

static void write_body(mtp_session_t *s, const out_msg_t *m, mtp_buf_t *b)
{
    int64_t a = after_id(s, m);
    if (a > 0) {
        out_msg_t *d = idmap_get(&s->by_call, (int64_t)m->after);
        ses_buf_u32(b, SID_INVOKE_AFTER_MSG);
        ses_buf_i64(b, d->msg_id);
    }
    mtp_buf_append(b, m->body, m->len);
}

static void after_send(mtp_session_t *s, out_msg_t *m, int64_t container, mtp_usec_t now)
{
    remember_sent(s, m->msg_id);
    s->st.msgs_out++;
    m->in_pack = false;
    switch (m->track) {
    case TRACK_PING:
        for (uint32_t i = 0; i < MAX_PINGS; i++)
            if (s->pings[i].used && !s->pings[i].msg_id && s->pings[i].ping_id == m->aux) {
                s->pings[i].msg_id = m->msg_id;
                s->pings[i].at = now;
                break;
            }
        break;
    case TRACK_SALTS:
        s->salts_req_msg_id = m->msg_id;
        break;
    case TRACK_STATE_REQ:
        s->sreq_msg_id = m->msg_id;
        break;
    default:
        break;
    }
    if (m->retain) {
        m->container_id = container;
        m->sent_at = now;
        m->acked = false;
        ol_push_back(&s->unacked, m);
    } else {
        om_free(s, m);
    }
}

/* Build the msgs_ack of up to `k` pending ids into b; marks them acked in the window. */
static void write_acks(mtp_session_t *s, uint32_t k, mtp_buf_t *b)
{
    ses_buf_u32(b, SID_MSGS_ACK);
    ses_buf_u32(b, SID_VECTOR);
    ses_buf_u32(b, k);
    for (uint32_t i = 0; i < k; i++) {
        ses_buf_i64(b, s->acks[i]);
        in_rec_t *r = inwin_find(&s->win, s->acks[i]);
        if (r)
            r->flags |= IN_ACKED;
    }
    memmove(s->acks, s->acks + k, (s->n_acks - k) * sizeof *s->acks);
    s->n_acks -= k;
    s->st.acks_out++;
    s->st.ids_acked += k;
}

static void trace_msg(const mtp_session_t *s, int dir, int64_t sid, int64_t id, int32_t seq,
                      const uint8_t *body, size_t len);

bool mtp_session_want_pack(const mtp_session_t *s, mtp_usec_t now)
{
    return s && !s->closed && (s->queue.n || acks_due(s, now));
}

int mtp_session_pack(mtp_session_t *s, mtp_usec_t now, mtp_session_msg_t *out)
{
    if (!s || !out)
        return MTP_EINVAL;
    if (s->closed)
        return 0;
    touch(s, now);
    bool send_acks = s->n_acks && (s->queue.n || acks_due(s, now));
    if (!s->queue.n && !send_acks)
        return 0;
    if (idmap_reserve(&s->by_msg, s->cfg.max_container_msgs + 1))
        return MTP_ENOMEM;

    const size_t max_bytes = s->cfg.max_container_bytes;
    const uint32_t max_n = s->cfg.max_container_msgs;
    mtp_buf_t *b = &s->out;
    mtp_buf_clear(b);
    uint32_t n = 0;
    out_msg_t *h = s->queue.head;

    /* The head can always go: a chain to a call that cannot be sent before it is
     * dropped (only reachable through unusual re-send orders; never deadlock). */
    if (h && after_id(s, h) < 0)
        h->after = 0;
    /* A message that must go alone, or is too big for a container, goes bare. */
    const uint8_t *bare = NULL;   /* the body of a retained record, sent without a copy */
    size_t bare_len = 0;
    if (h && (h->alone || 8 + 16 + wire_len(s, h) > max_bytes)) {
        assign_id(s, h, now);
        if (h->retain && after_id(s, h) == 0) {
            /* the record stays in `unacked` until acked: its body outlives this call */
            bare = h->body;
            bare_len = h->len;
        } else {
            write_body(s, h, b);
            if (b->err)
                return b->err;
        }
        out->msg_id = h->msg_id;
        out->seq_no = h->seq_no;
        after_send(s, h, 0, now);
        goto done;
    }

    size_t total = 8;   /* container id + count */
    uint32_t k_acks = 0;
    if (send_acks) {
        k_acks = s->n_acks;
        size_t room = (max_bytes - total - 16 - 12) / 8;
        if (k_acks > room)
            k_acks = (uint32_t)room;
        total += 16 + 12 + (size_t)k_acks * 8;
    }
    for (out_msg_t *m = h; m && n + (k_acks ? 1u : 0u) < max_n; m = m->next) {
        if (m->alone)
            break;
        int64_t a = after_id(s, m);
        if (a < 0)
            break;            /* its predecessor has no msg_id yet: keep the order */
        size_t w = 16 + m->len + (a > 0 ? 12u : 0u);
        if (total + w > max_bytes)
            break;
        total += w;
        m->in_pack = true;
        s->items[n++] = m;
    }
    uint32_t count = n + (k_acks ? 1u : 0u);
    if (count == 0)
        return 0;

    if (count == 1) {
        /* no container needed */
        if (k_acks) {
            int64_t id = msgid_next(&s->last_msg_id, server_time(s, now), is_server(s) ? 1 : 0);
            write_acks(s, k_acks, b);
            out->msg_id = id;
            out->seq_no = next_seq(s, false);
            remember_sent(s, id);
            s->st.msgs_out++;
        } else {
            out_msg_t *m = s->items[0];
            assign_id(s, m, now);
            write_body(s, m, b);
            out->msg_id = m->msg_id;
            out->seq_no = m->seq_no;
            after_send(s, m, 0, now);
        }
        if (b->err)
            return b->err;
        goto done;
    }

    ses_buf_u32(b, SID_MSG_CONTAINER);
    ses_buf_u32(b, count);
    if (k_acks) {
        int64_t id = msgid_next(&s->last_msg_id, server_time(s, now), is_server(s) ? 1 : 0);
        ses_buf_i64(b, id);
        ses_buf_u32(b, (uint32_t)next_seq(s, false));
        ses_buf_u32(b, 12 + k_acks * 8);
        write_acks(s, k_acks, b);
        remember_sent(s, id);
        s->st.msgs_out++;
    }
    for (uint32_t i = 0; i < n; i++) {
        out_msg_t *m = s->items[i];
        assign_id(s, m, now);
        ses_buf_i64(b, m->msg_id);
        ses_buf_u32(b, (uint32_t)m->seq_no);
        ses_buf_u32(b, (uint32_t)wire_len(s, m));
        write_body(s, m, b);
    }
    int64_t cid = msgid_next(&s->last_msg_id, server_time(s, now), is_server(s) ? 1 : 0);
    int32_t cseq = next_seq(s, false);
    for (uint32_t i = 0; i < n; i++)
        after_send(s, s->items[i], cid, now);
    remember_sent(s, cid);
    s->st.containers_out++;
    if (b->err)
        return b->err;
    out->msg_id = cid;
    out->seq_no = cseq;

done:
    if (!is_server(s))
        client_prune_salts(s, secs(server_time(s, now)));
    out->salt = mtp_session_salt(s, now);
    if (!is_server(s))
        s->salt = out->salt;   /* adopt the future salt now in use */
    out->session_id = s->session_id;
    out->body = bare ? bare : b->data;
    out->len = bare ? bare_len : b->len;
    s->st.packets_out++;
    if (s->cfg.trace)
        trace_msg(s, MTP_TRACE_OUT, out->session_id, out->msg_id, out->seq_no, out->body, out->len);
    return 1;
}

/* ---------------------------------------------------------------------------------- */
/* timers                                                                             */
/* ---------------------------------------------------------------------------------- */

mtp_usec_t mtp_session_next_deadline(const mtp_session_t *s)
{
    if (!s || s->closed)
        return MTP_TIME_NEVER;
    if (s->queue.n)
        return 0;
    mtp_usec_t d = MTP_TIME_NEVER;
#define MIN_D(x) do { mtp_usec_t x_ = (x); if (x_ < d) d = x_; } while (0)
    if (s->n_acks)
        MIN_D(s->n_acks >= s->cfg.ack_max_pending ? 0 : add_sat(s->ack_first_at, s->cfg.ack_delay));
    if (is_server(s)) {
        if (s->disconnect_at)
            MIN_D(s->disconnect_at);
    } else {
        if (s->cfg.ping_interval > 0 && s->touched)
            MIN_D(s->next_ping_at);
        if (s->cfg.resend_timeout > 0 && s->unacked.head)
            MIN_D(add_sat(s->unacked.head->sent_at, s->cfg.resend_timeout));
        if (s->cfg.future_salts) {
            if (s->salts_req_at)
                MIN_D(add_sat(s->salts_req_at, SALTS_RETRY));
            else if (s->n_salts) {
                int32_t max_until = INT32_MIN;
                for (uint32_t i = 0; i < s->n_salts; i++)
                    if (s->salts[i].valid_until > max_until)
                        max_until = s->salts[i].valid_until;
                MIN_D((mtp_usec_t)max_until * SEC - s->cfg.salt_refresh_margin - s->offset);
            }
        }
    }
#undef MIN_D
    return d;
}

static void send_state_req(mtp_session_t *s, mtp_usec_t now)
{
    uint32_t n = 0, limit = (uint32_t)s->unacked.n;
    int64_t *ids = malloc((limit < MAX_IDS ? limit : MAX_IDS) * sizeof *ids + 8);
    if (!ids)
        return;
    for (uint32_t i = 0; i < limit && n < MAX_IDS; i++) {
        out_msg_t *m = s->unacked.head;
        if (!m || add_sat(m->sent_at, s->cfg.resend_timeout) > now)
            break;
        ids[n++] = m->msg_id;
        m->sent_at = now;
        ol_push_back(&s->unacked, m);   /* keeps the list ordered by timer start */
    }
    if (!n) {
        free(ids);
        return;
    }
    mtp_buf_t *b = tmp_start(s);
    ses_buf_u32(b, SID_STATE_REQ);
    ses_buf_u32(b, SID_VECTOR);
    ses_buf_u32(b, n);
    for (uint32_t i = 0; i < n; i++)
        ses_buf_i64(b, ids[i]);
    out_msg_t *m = enqueue_tmp(s, false, false);
    if (!m) {
        free(ids);
        return;
    }
    m->track = TRACK_STATE_REQ;
    free(s->sreq_ids);
    s->sreq_ids = ids;
    s->sreq_n = n;
    s->sreq_msg_id = 0;
}

int mtp_session_tick(mtp_session_t *s, mtp_usec_t now)
{
    if (!s)
        return MTP_EINVAL;
    if (s->closed)
        return 0;
    touch(s, now);
    if (is_server(s)) {
        if (s->disconnect_at && now >= s->disconnect_at) {
            s->disconnect_at = 0;
            ev_push(s, MTP_SESSION_EV_DISCONNECT);
        }
        return 0;
    }
    if (s->cfg.ping_interval > 0 && now >= s->next_ping_at) {
        s->next_ping_at = add_sat(now, s->cfg.ping_interval);
        mtp_session_ping(s, rand64(s), s->cfg.ping_disconnect_delay, now);
    }
    if (s->cfg.resend_timeout > 0 && s->unacked.head &&
        add_sat(s->unacked.head->sent_at, s->cfg.resend_timeout) <= now)
        send_state_req(s, now);
    if (s->salts_req_at && now >= add_sat(s->salts_req_at, SALTS_RETRY))
        s->salts_req_at = 0;   /* the request got lost: allow another */
    if (salts_needed(s, now) && (s->n_salts || s->by_call.n))
        queue_salts_req(s, now);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* session lifecycle                                                                  */
/* ---------------------------------------------------------------------------------- */

static int cmp_om_id(const void *a, const void *b)
{
    const out_msg_t *x = *(out_msg_t *const *)a, *y = *(out_msg_t *const *)b;
    return x->msg_id < y->msg_id ? -1 : x->msg_id > y->msg_id;
}

/* Move every sent retained message back to the front of the queue, oldest first. */
static void requeue_sent(mtp_session_t *s, bool include_acked, bool count, int32_t code)
{
    size_t n = s->unacked.n + (include_acked ? s->acked.n : 0);
    if (!n)
        return;
    out_msg_t **v = malloc(n * sizeof *v);
    size_t k = 0;
    if (!v) {   /* no memory to sort: keep list order */
        while (s->unacked.tail)
            ol_push_front(&s->queue, s->unacked.tail);
        if (include_acked)
            while (s->acked.tail)
                ol_push_front(&s->queue, s->acked.tail);
        return;
    }
    for (out_msg_t *m = s->unacked.head; m; m = m->next)
        v[k++] = m;
    if (include_acked)
        for (out_msg_t *m = s->acked.head; m; m = m->next)
            v[k++] = m;
    qsort(v, k, sizeof *v, cmp_om_id);
    for (size_t i = k; i > 0; i--) {
        out_msg_t *m = v[i - 1];
        ol_push_front(&s->queue, m);
        m->acked = false;
        m->keep_id = is_server(s) && m->msg_id;
        s->st.resent++;
    }
    if (count) {   /* enforce max_retries (after ordering, so ends are deterministic) */
        for (size_t i = 0; i < k; i++) {
            out_msg_t *m = v[i];
            if (++m->retries > s->cfg.max_retries) {
                if (m->kind == OM_CALL)
                    complete_call(s, m, MTP_EPROTO, NULL, 0, code);
                else
                    om_free(s, m);
            }
        }
    }
    free(v);
}

static void client_new_session(mtp_session_t *s, int32_t code, mtp_usec_t now)
{
    int64_t old = s->session_id, id;
    do
        id = rand64(s);
    while (id == old);
    s->session_id = id;
    s->content_out = 0;
    if (code == 17)
        s->last_msg_id = 0;   /* the clock was ahead: ids must be allowed to go down */
    inwin_clear(&s->win);
    s->n_acks = 0;
    memset(s->pings, 0, sizeof s->pings);
    s->sreq_msg_id = 0;
    s->sreq_n = 0;
    s->salts_req_at = 0;
    s->salts_req_msg_id = 0;
    /* service messages queued for the old session are meaningless in the new one */
    for (out_msg_t *m = s->queue.head, *nx; m; m = nx) {
        nx = m->next;
        if (!m->retain)
            om_free(s, m);
    }
    requeue_sent(s, true, true, code);
    ev_node_t *e = ev_push(s, MTP_SESSION_EV_SESSION_RESET);
    if (e) {
        e->ev.old_session_id = old;
        e->ev.new_session_id = id;
        e->ev.bad_msg_code = code;
    }
    (void)now;
}

void mtp_session_reconnected(mtp_session_t *s, mtp_usec_t now)
{
    if (!s || s->closed)
        return;
    touch(s, now);
    requeue_sent(s, false, false, 0);
    if (is_server(s)) {
        s->disconnect_at = 0;
    } else {
        memset(s->pings, 0, sizeof s->pings);
        s->sreq_msg_id = 0;
        s->sreq_n = 0;
        s->salts_req_at = 0;
    }
}

void mtp_session_close(mtp_session_t *s, int err)
{
    if (!s || s->closed)
        return;
    if (err >= 0)
        err = MTP_ECLOSED;
    olist_t *lists[] = { &s->queue, &s->unacked, &s->acked };
    for (size_t i = 0; i < 3; i++)
        while (lists[i]->head) {
            out_msg_t *m = lists[i]->head;
            if (m->kind == OM_CALL)
                complete_call(s, m, err, NULL, 0, 0);
            else
                om_free(s, m);
        }
    s->n_acks = 0;
    s->closed = true;
}

/* ---------------------------------------------------------------------------------- */
/* events                                                                             */
/* ---------------------------------------------------------------------------------- */

int mtp_session_next_event(mtp_session_t *s, mtp_session_event_t *ev)
{
    if (!s || !ev)
        return MTP_EINVAL;
    ev_recycle(s, s->ev_cur);
    s->ev_cur = NULL;
    ev_node_t *n;
    for (;;) {
        n = s->ev_head;
        if (!n) {
            memset(ev, 0, sizeof *ev);
            return 0;
        }
        s->ev_head = n->next;
        if (!s->ev_head)
            s->ev_tail = NULL;
        n->next = NULL;
        if (n->ev.type != MTP_SESSION_EV_NONE)
            break;
        ev_recycle(s, n);   /* an event withdrawn after it was queued */
    }
    s->ev_cur = n;
    *ev = n->ev;
    return 1;
}

/* ---------------------------------------------------------------------------------- */
/* incoming: shared pieces                                                            */
/* ---------------------------------------------------------------------------------- */

/* Status byte of msgs_state_info for id (§5.1). */
static uint8_t state_of(const mtp_session_t *s, int64_t id, mtp_usec_t now)
{
    const in_rec_t *r = inwin_find(&s->win, id);
    if (r) {
        uint8_t st = 4;
        if (r->flags & IN_ACKED)
            st |= 8;
        if (!(r->flags & IN_CONTENT))
            st |= 16;
        if (r->flags & IN_QUERY)
            st |= 32;
        if (r->flags & IN_ANSWERED)
            st |= 64;
        return st;
    }
    if (inwin_too_old(&s->win, id))
        return 1;
    if (id > s->win.max_id ||
        mtp_msg_id_time(id) > server_time(s, now) + WINDOW_FUTURE)
        return 3;
    return 2;
}

static void answer_state_req(mtp_session_t *s, int64_t req, const uint8_t *raw, uint32_t n,
                             mtp_usec_t now)
{
    mtp_buf_t *b = tmp_start(s);
    uint8_t *info = malloc(n ? n : 1);
    if (!info)
        return;
    for (uint32_t i = 0; i < n; i++)
        info[i] = state_of(s, ses_get64(raw + (size_t)i * 8), now);
    ses_buf_u32(b, SID_STATE_INFO);
    ses_buf_i64(b, req);
    ses_buf_tlbytes(b, info, n);
    free(info);
    enqueue_tmp(s, false, true);
    ack_remove(s, req);
}

static void handle_acks(mtp_session_t *s, const uint8_t *raw, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        out_msg_t *m = idmap_get(&s->by_msg, ses_get64(raw + (size_t)i * 8));
        if (!m)
            continue;
        if (m->kind == OM_CALL) {
            if (!m->acked) {
                m->acked = true;
                ol_push_back(&s->acked, m);   /* also cancels a queued re-send */
            }
        } else {
            om_free(s, m);
        }
    }
}

/* msg_resend_req: re-send what we still hold. */
static void handle_resend_req(mtp_session_t *s, const uint8_t *raw, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        out_msg_t *m = om_current(s, ses_get64(raw + (size_t)i * 8));
        if (m && m->list != &s->queue)
            resend(s, m, false, 0);
    }
}

static void handle_pong(mtp_session_t *s, int64_t msg_id, int64_t ping_id, const uint8_t *p,
                        size_t n, mtp_usec_t now)
{
    out_msg_t *m = idmap_get(&s->by_msg, msg_id);
    if (m && m->kind == OM_CALL) {
        complete_call(s, m, 0, p, n, 0);
        return;
    }
    for (uint32_t i = 0; i < MAX_PINGS; i++) {
        struct ping_slot *sl = &s->pings[i];
        if (sl->used && sl->msg_id && sl->msg_id == msg_id && sl->ping_id == ping_id) {
            ev_node_t *e = ev_push(s, MTP_SESSION_EV_PONG);
            if (e) {
                e->ev.msg_id = msg_id;
                e->ev.ping_id = ping_id;
                e->ev.rtt = now - sl->at;
            }
            sl->used = false;
            return;
        }
    }
}

/* Container layout check (§5.4). On success *first = the smallest inner id. */
static int container_check(const uint8_t *b, size_t len, int64_t cid, int64_t *first)
{
    if (len < 8)
        return MTP_EPROTO;
    uint32_t count = ses_get32(b + 4);
    if (count > MAX_CONTAINER)
        return MTP_EPROTO;
    size_t off = 8;
    *first = cid;
    for (uint32_t i = 0; i < count; i++) {
        if (len - off < 16)
            return MTP_EPROTO;
        int64_t id = ses_get64(b + off);
        uint32_t bytes = ses_get32(b + off + 12);
        off += 16;
        if (bytes < 4 || bytes % 4 || bytes > len - off)
            return MTP_EPROTO;
        if (id >= cid)
            return MTP_EPROTO;
        uint32_t inner = ses_get32(b + off);
        if (inner == SID_MSG_CONTAINER)
            return MTP_EPROTO;   /* containers do not nest */
        if (id < *first)
            *first = id;
        off += bytes;
    }
    return off == len ? 0 : MTP_EPROTO;
}

typedef struct inner_it {
    const uint8_t *b;
    size_t len, off;
    uint32_t left;
} inner_it_t;

static bool inner_next(inner_it_t *it, int64_t *id, int32_t *seq, const uint8_t **body,
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

/* ---------------------------------------------------------------------------------- */
/* incoming: server role                                                              */
/* ---------------------------------------------------------------------------------- */

static void server_bad_msg(mtp_session_t *s, int64_t id, int32_t seq, int32_t code)
{
    mtp_buf_t *b = tmp_start(s);
    ses_buf_u32(b, SID_BAD_MSG);
    ses_buf_i64(b, id);
    ses_buf_u32(b, (uint32_t)seq);
    ses_buf_u32(b, (uint32_t)code);
    enqueue_tmp(s, false, true);
    s->st.bad_msg_out++;
    s->st.last_bad_msg_code = (uint32_t)code;
}

static void server_bad_salt(mtp_session_t *s, int64_t id, int32_t seq, mtp_usec_t now)
{
    mtp_buf_t *b = tmp_start(s);
    ses_buf_u32(b, SID_BAD_SALT);
    ses_buf_i64(b, id);
    ses_buf_u32(b, (uint32_t)seq);
    ses_buf_u32(b, 48);
    ses_buf_i64(b, server_salt_at(s, secs(now)));
    enqueue_tmp(s, false, true);
    s->st.bad_msg_out++;
    s->st.last_bad_msg_code = 48;
}

/* parity (18) and time window (16/17) of a client msg_id; false = rejected and answered */
static bool server_check_id(mtp_session_t *s, int64_t id, int32_t seq, mtp_usec_t now)
{
    if (id & 3) {
        server_bad_msg(s, id, seq, 18);
        return false;
    }
    mtp_usec_t t = mtp_msg_id_time(id);
    if (id <= 0 || t < now - WINDOW_PAST) {
        server_bad_msg(s, id, seq, 16);
        return false;
    }
    if (t > now + WINDOW_FUTURE) {
        server_bad_msg(s, id, seq, 17);
        return false;
    }
    return true;
}

static int classify(uint32_t cid)
{
    switch (cid) {
    case SID_MSG_CONTAINER:
    case SID_MSG_COPY:
        return CLS_EVEN;
    case SID_MSGS_ACK:
        /* should be even, but mtcute 0.30 sends odd acks and Telegram accepts them */
        return CLS_ANY;
    case SID_PING:
    case SID_PING_DELAY:
    case SID_PONG:
    case SID_GET_FUTURE_SALTS:
    case SID_STATE_REQ:
    case SID_STATE_INFO:
    case SID_ALL_INFO:
    case SID_RESEND_REQ:
    case SID_DETAILED_INFO:
    case SID_NEW_DETAILED_INFO:
    case SID_DESTROY_SESSION:
    case SID_DESTROY_AUTH_KEY:
    case SID_HTTP_WAIT:
    case SID_DROP_ANSWER:
        return CLS_ANY;
    default:
        return CLS_ODD;
    }
}

static void server_announce(mtp_session_t *s, int64_t first, mtp_usec_t now)
{
    if (s->announced)
        return;
    s->announced = true;
    if (!s->cfg.announce_new_session)
        return;
    mtp_buf_t *b = tmp_start(s);
    ses_buf_u32(b, SID_NEW_SESSION);
    ses_buf_i64(b, first);
    ses_buf_i64(b, rand64(s));
    ses_buf_i64(b, server_salt_at(s, secs(now)));
    if (!b->err)
        enqueue(s, b->data, b->len, OM_PUSH, true, true, false);
}

static void server_future_salts(mtp_session_t *s, int64_t req, int32_t num, mtp_usec_t now)
{
    int32_t t = secs(now);
    uint32_t want = num <= 0 ? 1u : (uint32_t)num;
    uint32_t cap = s->cfg.future_salts ? s->cfg.future_salts : MAX_SALTS;
    if (want > cap)
        want = cap;
    server_salts_ensure(s, t, want);
    s->salt = server_salt_at(s, t);
    mtp_buf_t *b = tmp_start(s);
    ses_buf_u32(b, SID_FUTURE_SALTS);
    ses_buf_i64(b, req);
    ses_buf_u32(b, (uint32_t)t);
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n_salts; i++)
        if (s->salts[i].valid_until > t && k < want)
            k++;
    ses_buf_u32(b, k);
    for (uint32_t i = 0, j = 0; i < s->n_salts && j < k; i++)
        if (s->salts[i].valid_until > t) {
            ses_buf_u32(b, (uint32_t)s->salts[i].valid_since);
            ses_buf_u32(b, (uint32_t)s->salts[i].valid_until);
            ses_buf_i64(b, s->salts[i].salt);
            j++;
        }
    enqueue_tmp(s, false, true);
    ack_remove(s, req);
}

static void server_drop_answer(mtp_session_t *s, int64_t drop_msg_id, int64_t req)
{
    uint8_t ans[20];
    size_t alen = 4;
    in_rec_t *r = inwin_find(&s->win, req);
    ses_put32(ans, SID_ANSWER_UNKNOWN);
    if (r && (r->flags & IN_QUERY)) {
        if (!(r->flags & IN_ANSWERED)) {
            r->flags |= IN_DROPPED;
            ses_put32(ans, SID_ANSWER_DROPPED_RUNNING);
        } else {
            out_msg_t *found = NULL;
            olist_t *lists[] = { &s->queue, &s->unacked };
            for (size_t i = 0; i < 2 && !found; i++)
                for (out_msg_t *m = lists[i]->head; m; m = m->next)
                    if (m->kind == OM_ANSWER && m->req_msg_id == req) {
                        found = m;
                        break;
                    }
            if (found && found->msg_id) {
                ses_put32(ans, SID_ANSWER_DROPPED);
                ses_put64(ans + 4, found->msg_id);
                ses_put32(ans + 12, (uint32_t)found->seq_no);
                ses_put32(ans + 16, (uint32_t)found->len);
                alen = 20;
                om_free(s, found);
            } else if (found) {
                ses_put32(ans, SID_ANSWER_DROPPED_RUNNING);
                om_free(s, found);
            }
        }
    }
    in_rec_t *d = inwin_find(&s->win, drop_msg_id);
    if (d)
        d->flags |= IN_ANSWERED | IN_ACKED;
    server_answer(s, drop_msg_id, ans, alen, false);
}

static void server_query(mtp_session_t *s, int64_t id, const uint8_t *p, size_t n)
{
    in_rec_t *r = inwin_find(&s->win, id);
    if (r)
        r->flags |= IN_QUERY;
    ev_node_t *e = ev_push(s, MTP_SESSION_EV_QUERY);
    if (!e)
        return;
    mtp_query_info_t info, inner;
    int rc = mtp_buf_append(&e->a, p, n);
    if (!rc)
        rc = mtp_query_unwrap(e->a.data, n, &info);
    if (!rc && info.gzipped) {
        rc = inflate_packed(s, info.query.ptr, info.query.len, &e->b);
        if (!rc)
            rc = mtp_query_unwrap(e->b.data, e->b.len, &inner);
        if (!rc && inner.gzipped)
            rc = MTP_EPROTO;
        if (!rc) {
            /* merge: the outer wrappers complete the inner ones */
            uint32_t own = inner.wrappers;
            inner.wrappers |= info.wrappers;
            if (!(own & MTP_WRAP_LAYER))
                inner.layer = info.layer;
            if ((info.wrappers & MTP_WRAP_INIT) && !(own & MTP_WRAP_INIT)) {
                {
                    inner.api_id = info.api_id;
                    inner.device_model = info.device_model;
                    inner.system_version = info.system_version;
                    inner.app_version = info.app_version;
                    inner.system_lang_code = info.system_lang_code;
                    inner.lang_pack = info.lang_pack;
                    inner.lang_code = info.lang_code;
                    inner.has_proxy = info.has_proxy;
                    inner.proxy_address = info.proxy_address;
                    inner.proxy_port = info.proxy_port;
                    inner.params = info.params;
                }
            }
            if (!inner.n_after) {
                inner.n_after = info.n_after;
                inner.after_raw = info.after_raw;
            }
            if (!inner.takeout_id)
                inner.takeout_id = info.takeout_id;
            info = inner;
        }
    }
    if (rc) {
        /* not a query we can hand out: tell the client, drop the event */
        e->ev.type = MTP_SESSION_EV_NONE;
        if (r)
            r = inwin_find(&s->win, id);
        if (r)
            r->flags |= IN_ANSWERED;
        static const char msg[] = "INPUT_FETCH_ERROR";
        mtp_buf_t eb;
        mtp_buf_init(&eb);
        ses_buf_u32(&eb, SID_RPC_ERROR);
        ses_buf_u32(&eb, 400);
        ses_buf_tlbytes(&eb, (const uint8_t *)msg, sizeof msg - 1);
        if (!eb.err)
            server_answer(s, id, eb.data, eb.len, false);
        mtp_buf_free(&eb);
        return;
    }
    if (info.layer)
        s->layer = info.layer;
    else
        info.layer = s->layer;
    e->ev.msg_id = id;
    e->ev.info = info;
    e->ev.body = info.query;
    e->ev.content_related = true;
}

static void server_dispatch(mtp_session_t *s, int64_t id, int32_t seq, const uint8_t *p,
                            size_t n, mtp_usec_t now)
{
    mtp_tl_reader_t r;
    rd_init(&r, p + 4, n - 4);
    uint32_t cid = ses_get32(p);
    (void)seq;
    switch (cid) {
    case SID_MSGS_ACK: {
        const uint8_t *raw;
        uint32_t k;
        rd_longs(&r, &raw, &k);
        if (rd_done(&r))
            handle_acks(s, raw, k);
        return;
    }
    case SID_PING:
    case SID_PING_DELAY: {
        int64_t ping_id = mtp_tl_read_long(&r);
        int32_t delay = cid == SID_PING_DELAY ? mtp_tl_read_int(&r) : 0;
        if (!rd_done(&r))
            return;
        mtp_buf_t *b = tmp_start(s);
        ses_buf_u32(b, SID_PONG);
        ses_buf_i64(b, id);
        ses_buf_i64(b, ping_id);
        enqueue_tmp(s, false, true);
        ack_remove(s, id);
        if (cid == SID_PING_DELAY)
            s->disconnect_at = delay > 0 ? add_sat(now, (mtp_usec_t)delay * SEC) : 0;
        return;
    }
    case SID_GET_FUTURE_SALTS: {
        int32_t num = mtp_tl_read_int(&r);
        if (rd_done(&r))
            server_future_salts(s, id, num, now);
        return;
    }
    case SID_STATE_REQ: {
        const uint8_t *raw;
        uint32_t k;
        rd_longs(&r, &raw, &k);
        if (rd_done(&r))
            answer_state_req(s, id, raw, k, now);
        return;
    }
    case SID_RESEND_REQ: {
        const uint8_t *raw;
        uint32_t k;
        rd_longs(&r, &raw, &k);
        if (rd_done(&r))
            handle_resend_req(s, raw, k);
        return;
    }
    case SID_DESTROY_SESSION: {
        int64_t sid = mtp_tl_read_long(&r);
        if (!rd_done(&r))
            return;
        int ok = s->cfg.destroy_session ? s->cfg.destroy_session(s->cfg.cb_ctx, sid) : 0;
        mtp_buf_t *b = tmp_start(s);
        ses_buf_u32(b, ok > 0 ? SID_DESTROY_SESSION_OK : SID_DESTROY_SESSION_NONE);
        ses_buf_i64(b, sid);
        enqueue_tmp(s, false, true);
        ack_remove(s, id);
        return;
    }
    case SID_DROP_ANSWER: {
        int64_t req = mtp_tl_read_long(&r);
        if (rd_done(&r))
            server_drop_answer(s, id, req);
        return;
    }
    case SID_PONG: {
        int64_t msg_id = mtp_tl_read_long(&r);
        int64_t ping_id = mtp_tl_read_long(&r);
        if (rd_done(&r))
            handle_pong(s, msg_id, ping_id, p, n, now);
        return;
    }
    case SID_HTTP_WAIT:
    case SID_STATE_INFO:
    case SID_ALL_INFO:
    case SID_DETAILED_INFO:
    case SID_NEW_DETAILED_INFO:
    case SID_MSG_COPY:
    case SID_RPC_RESULT:
    case SID_BAD_MSG:
    case SID_BAD_SALT:
    case SID_NEW_SESSION:
    case SID_FUTURE_SALTS:
        return;
    default:
        server_query(s, id, p, n);
        return;
    }
}

static void server_msg(mtp_session_t *s, int64_t id, int32_t seq, const uint8_t *body,
                       size_t len, mtp_usec_t now)
{
    in_rec_t *dup = inwin_find(&s->win, id);
    if (dup) {
        s->st.duplicates++;
        if ((seq & 1) && (dup->flags & IN_CONTENT))
            ack_add(s, id, now);
        if ((dup->flags & (IN_QUERY | IN_ANSWERED)) == (IN_QUERY | IN_ANSWERED)) {
            /* tell the client where the answer is (it may have lost it) */
            for (out_msg_t *m = s->unacked.head; m; m = m->next)
                if (m->kind == OM_ANSWER && m->req_msg_id == id) {
                    mtp_buf_t *b = tmp_start(s);
                    ses_buf_u32(b, SID_DETAILED_INFO);
                    ses_buf_i64(b, id);
                    ses_buf_i64(b, m->msg_id);
                    ses_buf_u32(b, (uint32_t)m->len);
                    ses_buf_u32(b, 0);
                    enqueue_tmp(s, false, true);
                    break;
                }
        }
        return;
    }
    if (inwin_too_old(&s->win, id)) {
        server_bad_msg(s, id, seq, 20);
        return;
    }
    if (len < 4 || len % 4) {
        s->st.dropped++;
        return;
    }
    const uint8_t *p = body;
    size_t n = len;
    bool bad_gzip = false;
    if (ses_get32(body) == SID_GZIP_PACKED) {
        if (inflate_packed(s, body, len, &s->gz1))
            bad_gzip = true;
        else {
            p = s->gz1.data;
            n = s->gz1.len;
        }
    }
    int cls = bad_gzip ? CLS_ODD : classify(ses_get32(p));
    if (cls == CLS_EVEN && (seq & 1)) {
        server_bad_msg(s, id, seq, 34);
        return;
    }
    if (cls == CLS_ODD && !(seq & 1)) {
        server_bad_msg(s, id, seq, 35);
        return;
    }
    bool is_ack = !bad_gzip && ses_get32(p) == SID_MSGS_ACK;
    if (is_ack) {
        /* an ack is never content-related whatever its parity says: no order checks,
         * recorded with an even seq_no so that it cannot trip 32/33 for its neighbours,
         * and never acknowledged */
        seq &= ~1;
    } else {
        uint32_t i = inwin_lower(&s->win, id);
        const in_rec_t *pred = i > 0 ? inwin_at(&s->win, i - 1) : NULL;
        const in_rec_t *succ = i < s->win.n ? inwin_at(&s->win, i) : NULL;
        if (pred && (pred->seq > seq || (pred->seq == seq && (seq & 1)))) {
            server_bad_msg(s, id, seq, 32);
            return;
        }
        if (succ && (succ->seq < seq || (succ->seq == seq && (seq & 1)))) {
            server_bad_msg(s, id, seq, 33);
            return;
        }
    }
    inwin_insert(&s->win, id, seq, (seq & 1) ? IN_CONTENT : 0);
    s->st.msgs_in++;
    if (seq & 1)
        ack_add(s, id, now);
    if (bad_gzip) {
        s->st.dropped++;
        static const char msg[] = "INPUT_FETCH_ERROR";
        mtp_buf_t eb;
        mtp_buf_init(&eb);
        ses_buf_u32(&eb, SID_RPC_ERROR);
        ses_buf_u32(&eb, 400);
        ses_buf_tlbytes(&eb, (const uint8_t *)msg, sizeof msg - 1);
        in_rec_t *r = inwin_find(&s->win, id);
        if (r)
            r->flags |= IN_QUERY | IN_ANSWERED;
        if (!eb.err)
            server_answer(s, id, eb.data, eb.len, false);
        mtp_buf_free(&eb);
        return;
    }
    server_dispatch(s, id, seq, p, n, now);
}

static int server_packet(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now)
{
    const uint8_t *b = m->body;
    size_t len = m->len;
    int64_t id = m->msg_id;
    if (!server_check_id(s, id, m->seq_no, now))
        return 0;
    if (len < 4 || len % 4) {
        s->st.dropped++;
        return MTP_EPROTO;
    }
    int32_t t = secs(now);
    if (s->n_salts)
        server_salts_ensure(s, t, 1);   /* rotate: the table always covers now */
    if (!server_salt_ok(s, m->salt, t)) {
        server_bad_salt(s, id, m->seq_no, now);
        return 0;
    }
    if (ses_get32(b) != SID_MSG_CONTAINER) {
        server_announce(s, id, now);
        server_msg(s, id, m->seq_no, b, len, now);
        return 0;
    }
    /* container */
    int64_t first;
    if (inwin_find(&s->win, id)) {
        server_bad_msg(s, id, m->seq_no, 19);
        return 0;
    }
    if (inwin_too_old(&s->win, id)) {
        server_bad_msg(s, id, m->seq_no, 20);
        return 0;
    }
    if (container_check(b, len, id, &first)) {
        server_bad_msg(s, id, m->seq_no, 64);
        return 0;
    }
    if (m->seq_no & 1) {   /* a container is never content-related */
        server_bad_msg(s, id, m->seq_no, 34);
        return 0;
    }
    server_announce(s, first, now);
    inwin_insert(&s->win, id, m->seq_no, IN_CONTAINER);
    s->st.containers_in++;
    inner_it_t it = { b, len, 8, ses_get32(b + 4) };
    int64_t iid;
    int32_t iseq;
    const uint8_t *ib;
    size_t in;
    while (inner_next(&it, &iid, &iseq, &ib, &in))
        if (server_check_id(s, iid, iseq, now))
            server_msg(s, iid, iseq, ib, in, now);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* incoming: client role                                                              */
/* ---------------------------------------------------------------------------------- */

/* The retained messages a notification about bad_id refers to (§5.3). */
static size_t affected(mtp_session_t *s, int64_t bad_id, out_msg_t ***out)
{
    *out = NULL;
    out_msg_t *m = om_current(s, bad_id);
    if (m && m->list != &s->queue) {
        *out = malloc(sizeof **out);
        if (!*out)
            return 0;
        (*out)[0] = m;
        return 1;
    }
    size_t n = 0, cap = 0;
    olist_t *lists[] = { &s->unacked, &s->acked };
    for (size_t i = 0; i < 2; i++)
        for (m = lists[i]->head; m; m = m->next)
            if (m->container_id == bad_id) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    out_msg_t **v = realloc(*out, cap * sizeof *v);
                    if (!v)
                        return n;
                    *out = v;
                }
                (*out)[n++] = m;
            }
    if (n > 1)
        qsort(*out, n, sizeof **out, cmp_om_id);
    return n;
}

static void client_bad_msg(mtp_session_t *s, int64_t notif_id, int64_t bad_id, int32_t code,
                           bool has_salt, int64_t new_salt, mtp_usec_t now)
{
    if (!recently_sent(s, bad_id)) {
        s->st.dropped++;
        return;   /* not about one of our recent messages */
    }
    s->st.bad_msg_in++;
    s->st.last_bad_msg_code = (uint32_t)code;
    if (bad_id == s->salts_req_msg_id)
        s->salts_req_at = 0;   /* that request is gone; allow another */
    out_msg_t **v;
    size_t n = affected(s, bad_id, &v);
    switch (code) {
    case 16:
    case 17:
        s->offset = mtp_msg_id_time(notif_id) - now;
        s->synced = true;
        if (code == 17) {
            client_new_session(s, 17, now);   /* our ids must go down: fresh id space */
            break;
        }
        for (size_t i = 0; i < n; i++)
            resend(s, v[i], true, code);
        break;
    case 48:
        if (has_salt) {
            s->salt = new_salt;
            s->n_salts = 0;   /* whatever we believed about salts was wrong */
            ev_push(s, MTP_SESSION_EV_SALTS);
        }
        for (size_t i = 0; i < n; i++)
            resend(s, v[i], true, code);
        break;
    case 20:
        for (size_t i = 0; i < n; i++)
            resend(s, v[i], true, code);
        break;
    case 32:
    case 33:
        client_new_session(s, code, now);
        break;
    default:   /* 18, 19, 34, 35, 64 and unknown codes: our bug, never retried */
        for (size_t i = 0; i < n; i++) {
            if (v[i]->kind == OM_CALL)
                complete_call(s, v[i], MTP_EPROTO, NULL, 0, code);
            else
                om_free(s, v[i]);
        }
        break;
    }
    free(v);
}

static void client_rpc_result(mtp_session_t *s, int64_t req, const uint8_t *res, size_t n,
                              mtp_usec_t now);

static void client_future_salts(mtp_session_t *s, const uint8_t *p, size_t n, mtp_usec_t now)
{
    mtp_tl_reader_t r;
    rd_init(&r, p + 4, n - 4);
    int64_t req = mtp_tl_read_long(&r);
    (void)mtp_tl_read_int(&r);   /* server "now" */
    uint32_t k = mtp_tl_read_nat(&r);
    if (r.err || k > MAX_IDS || (size_t)k * 16 != (size_t)(r.end - r.p))
        return;
    mtp_future_salt_t v[MAX_SALTS];
    uint32_t m = 0;
    for (uint32_t i = 0; i < k; i++) {
        mtp_future_salt_t f;
        f.valid_since = mtp_tl_read_int(&r);
        f.valid_until = mtp_tl_read_int(&r);
        f.salt = mtp_tl_read_long(&r);
        if (m < MAX_SALTS)
            v[m++] = f;
    }
    if (req && req == s->salts_req_msg_id) {
        s->salts_req_msg_id = 0;
        s->salts_req_at = 0;
    }
    client_store_salts(s, v, m, secs(server_time(s, now)));
    ev_push(s, MTP_SESSION_EV_SALTS);
    out_msg_t *c = idmap_get(&s->by_msg, req);
    if (c && c->kind == OM_CALL)
        complete_call(s, c, 0, p, n, 0);
}

static void client_rpc_result(mtp_session_t *s, int64_t req, const uint8_t *res, size_t n,
                              mtp_usec_t now)
{
    out_msg_t *m = idmap_get(&s->by_msg, req);
    if (n < 4 || n % 4) {
        if (m && m->kind == OM_CALL)
            complete_call(s, m, MTP_EPROTO, NULL, 0, 0);
        return;
    }
    if (ses_get32(res) == SID_GZIP_PACKED) {
        int rc = inflate_packed(s, res, n, &s->gz2);
        if (rc) {
            if (m && m->kind == OM_CALL)
                complete_call(s, m, rc == MTP_ENOMEM ? rc : MTP_EGZIP, NULL, 0, 0);
            return;
        }
        res = s->gz2.data;
        n = s->gz2.len;
    }
    if (!m || m->kind != OM_CALL) {
        /* answers to our own service requests, wrapped in rpc_result */
        uint32_t cid = ses_get32(res);
        if (cid == SID_FUTURE_SALTS && req == s->salts_req_msg_id)
            client_future_salts(s, res, n, now);
        else if (cid == SID_PONG && n == 20)
            handle_pong(s, ses_get64(res + 4), ses_get64(res + 12), res, n, now);
        return;   /* unknown or finished call (cancelled, dropped): ignore */
    }
    if (ses_get32(res) == SID_RPC_ERROR)
        complete_call(s, m, MTP_ERPC, res, n, 0);
    else
        complete_call(s, m, 0, res, n, 0);
}

static void client_state_info(mtp_session_t *s, int64_t req, mtp_bytes_t info)
{
    if (!req || req != s->sreq_msg_id || !s->sreq_ids)
        return;
    uint32_t n = s->sreq_n < info.len ? s->sreq_n : (uint32_t)info.len;
    for (uint32_t i = 0; i < n; i++) {
        out_msg_t *m = om_current(s, s->sreq_ids[i]);
        if (!m || m->list != &s->unacked)
            continue;
        uint8_t st = info.ptr[i] & 7;
        if (st == 1 || st == 2 || st == 3)
            resend(s, m, true, 0);      /* the server never got it */
        else if (st == 4) {
            m->acked = true;
            ol_push_back(&s->acked, m);
        }
    }
    s->sreq_msg_id = 0;
    s->sreq_n = 0;
}

static void client_detailed(mtp_session_t *s, int64_t msg_id, int64_t answer_id,
                            mtp_usec_t now)
{
    if (msg_id) {
        out_msg_t *m = idmap_get(&s->by_msg, msg_id);
        if (m && m->kind == OM_CALL && !m->acked) {
            m->acked = true;
            ol_push_back(&s->acked, m);
        }
    }
    if (inwin_find(&s->win, answer_id)) {
        ack_add(s, answer_id, now);       /* we have it: the server lacks our ack */
    } else {
        mtp_buf_t *b = tmp_start(s);      /* we lost it: ask for it again */
        ses_buf_u32(b, SID_RESEND_REQ);
        ses_buf_u32(b, SID_VECTOR);
        ses_buf_u32(b, 1);
        ses_buf_i64(b, answer_id);
        enqueue_tmp(s, false, false);
    }
}

static void client_dispatch(mtp_session_t *s, int64_t id, int32_t seq, const uint8_t *p,
                            size_t n, mtp_usec_t now)
{
    mtp_tl_reader_t r;
    rd_init(&r, p + 4, n - 4);
    uint32_t cid = ses_get32(p);
    switch (cid) {
    case SID_RPC_RESULT: {
        if (n < 16)
            return;
        client_rpc_result(s, ses_get64(p + 4), p + 12, n - 12, now);
        return;
    }
    case SID_MSGS_ACK: {
        const uint8_t *raw;
        uint32_t k;
        rd_longs(&r, &raw, &k);
        if (rd_done(&r))
            handle_acks(s, raw, k);
        return;
    }
    case SID_BAD_MSG:
    case SID_BAD_SALT: {
        int64_t bad_id = mtp_tl_read_long(&r);
        (void)mtp_tl_read_int(&r);
        int32_t code = mtp_tl_read_int(&r);
        int64_t salt = cid == SID_BAD_SALT ? mtp_tl_read_long(&r) : 0;
        if (rd_done(&r))
            client_bad_msg(s, id, bad_id, code, cid == SID_BAD_SALT, salt, now);
        return;
    }
    case SID_NEW_SESSION: {
        int64_t first = mtp_tl_read_long(&r);
        int64_t unique = mtp_tl_read_long(&r);
        int64_t salt = mtp_tl_read_long(&r);
        if (!rd_done(&r))
            return;
        s->salt = salt;
        ev_node_t *e = ev_push(s, MTP_SESSION_EV_NEW_SESSION);
        if (e) {
            e->ev.msg_id = first;
            e->ev.unique_id = unique;
            e->ev.server_salt = salt;
        }
        /* what we sent before first_msg_id may be lost: send the pending calls again */
        out_msg_t **v = NULL;
        size_t k = 0, cap = s->unacked.n + s->acked.n;
        if (cap && (v = malloc(cap * sizeof *v))) {
            olist_t *lists[] = { &s->unacked, &s->acked };
            for (size_t i = 0; i < 2; i++)
                for (out_msg_t *m = lists[i]->head; m; m = m->next)
                    if (m->kind == OM_CALL && m->msg_id < first)
                        v[k++] = m;
            qsort(v, k, sizeof *v, cmp_om_id);
            for (size_t i = 0; i < k; i++)
                resend(s, v[i], true, 0);
            free(v);
        }
        return;
    }
    case SID_FUTURE_SALTS:
        client_future_salts(s, p, n, now);
        return;
    case SID_PONG: {
        int64_t msg_id = mtp_tl_read_long(&r);
        int64_t ping_id = mtp_tl_read_long(&r);
        if (rd_done(&r))
            handle_pong(s, msg_id, ping_id, p, n, now);
        return;
    }
    case SID_PING: {
        int64_t ping_id = mtp_tl_read_long(&r);
        if (!rd_done(&r))
            return;
        mtp_buf_t *b = tmp_start(s);
        ses_buf_u32(b, SID_PONG);
        ses_buf_i64(b, id);
        ses_buf_i64(b, ping_id);
        enqueue_tmp(s, false, false);
        return;
    }
    case SID_STATE_REQ: {
        const uint8_t *raw;
        uint32_t k;
        rd_longs(&r, &raw, &k);
        if (rd_done(&r))
            answer_state_req(s, id, raw, k, now);
        return;
    }
    case SID_STATE_INFO: {
        int64_t req = mtp_tl_read_long(&r);
        mtp_bytes_t info = mtp_tl_read_bytes(&r);
        if (rd_done(&r))
            client_state_info(s, req, info);
        return;
    }
    case SID_ALL_INFO: {
        const uint8_t *raw;
        uint32_t k;
        rd_longs(&r, &raw, &k);
        mtp_bytes_t info = mtp_tl_read_bytes(&r);
        if (!rd_done(&r))
            return;
        for (uint32_t i = 0; i < k && i < info.len; i++) {
            out_msg_t *m = om_current(s, ses_get64(raw + (size_t)i * 8));
            if (m && m->kind == OM_CALL && m->list == &s->unacked && (info.ptr[i] & 7) == 4) {
                m->acked = true;
                ol_push_back(&s->acked, m);
            }
        }
        return;
    }
    case SID_DETAILED_INFO: {
        int64_t msg_id = mtp_tl_read_long(&r);
        int64_t answer = mtp_tl_read_long(&r);
        (void)mtp_tl_read_int(&r);
        (void)mtp_tl_read_int(&r);
        if (rd_done(&r))
            client_detailed(s, msg_id, answer, now);
        return;
    }
    case SID_NEW_DETAILED_INFO: {
        int64_t answer = mtp_tl_read_long(&r);
        (void)mtp_tl_read_int(&r);
        (void)mtp_tl_read_int(&r);
        if (rd_done(&r))
            client_detailed(s, 0, answer, now);
        return;
    }
    case SID_RESEND_REQ: {
        const uint8_t *raw;
        uint32_t k;
        rd_longs(&r, &raw, &k);
        if (rd_done(&r))
            handle_resend_req(s, raw, k);
        return;
    }
    case SID_DESTROY_SESSION_OK:
    case SID_DESTROY_SESSION_NONE: {
        int64_t sid = mtp_tl_read_long(&r);
        if (!rd_done(&r))
            return;
        olist_t *lists[] = { &s->unacked, &s->acked };
        for (size_t i = 0; i < 2; i++)
            for (out_msg_t *m = lists[i]->head; m; m = m->next)
                if (m->kind == OM_CALL && m->len == 12 &&
                    ses_get32(m->body) == SID_DESTROY_SESSION && ses_get64(m->body + 4) == sid) {
                    complete_call(s, m, 0, p, n, 0);
                    return;
                }
        return;
    }
    case SID_HTTP_WAIT:
    case SID_MSG_COPY:
    case SID_MSG_CONTAINER:   /* nested: cannot happen after container_check */
        return;
    default: {
        ev_node_t *e = ev_push(s, MTP_SESSION_EV_UPDATE);
        if (!e)
            return;
        if (mtp_buf_append(&e->a, p, n)) {
            e->ev.type = MTP_SESSION_EV_NONE;
            return;
        }
        e->ev.msg_id = id;
        e->ev.body.ptr = e->a.data;
        e->ev.body.len = n;
        e->ev.content_related = (seq & 1) != 0;
        return;
    }
    }
}

static int client_msg(mtp_session_t *s, int64_t id, int32_t seq, const uint8_t *body,
                      size_t len, mtp_usec_t now)
{
    if (!(id & 1)) {
        s->st.dropped++;
        return MTP_ESECURITY;   /* server ids are odd */
    }
    if (inwin_find(&s->win, id)) {
        s->st.duplicates++;
        if (seq & 1)
            ack_add(s, id, now);   /* our ack got lost: send it again */
        return 0;
    }
    if (inwin_too_old(&s->win, id)) {
        s->st.dropped++;
        return 0;
    }
    if (len < 4 || len % 4) {
        s->st.dropped++;
        return MTP_EPROTO;
    }
    uint32_t cid = ses_get32(body);
    bool exempt = cid == SID_BAD_MSG || cid == SID_BAD_SALT;
    mtp_usec_t t = mtp_msg_id_time(id);
    if (!exempt) {
        if (s->synced) {
            mtp_usec_t st = server_time(s, now);
            if (t < st - WINDOW_PAST || t > st + WINDOW_FUTURE) {
                s->st.dropped++;
                return MTP_ESECURITY;
            }
        } else {
            s->offset = t - now;
            s->synced = true;
        }
    }
    const uint8_t *p = body;
    size_t n = len;
    int rc = 0;
    if (cid == SID_GZIP_PACKED) {
        rc = inflate_packed(s, body, len, &s->gz1);
        if (!rc) {
            p = s->gz1.data;
            n = s->gz1.len;
        }
    }
    inwin_insert(&s->win, id, seq, (seq & 1) ? IN_CONTENT : 0);
    s->st.msgs_in++;
    if (seq & 1)
        ack_add(s, id, now);   /* even a broken one: else the server re-sends it forever */
    if (rc) {
        s->st.dropped++;
        return MTP_EPROTO;
    }
    client_dispatch(s, id, seq, p, n, now);
    return 0;
}

static int client_packet(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now)
{
    if (!(m->msg_id & 1)) {
        s->st.dropped++;
        return MTP_ESECURITY;
    }
    if (m->len < 4 || m->len % 4) {
        s->st.dropped++;
        return MTP_EPROTO;
    }
    if (ses_get32(m->body) != SID_MSG_CONTAINER)
        return client_msg(s, m->msg_id, m->seq_no, m->body, m->len, now);
    int64_t first;
    if (container_check(m->body, m->len, m->msg_id, &first)) {
        s->st.dropped++;
        return MTP_EPROTO;
    }
    s->st.containers_in++;
    if (!inwin_find(&s->win, m->msg_id) && !inwin_too_old(&s->win, m->msg_id))
        inwin_insert(&s->win, m->msg_id, m->seq_no, IN_CONTAINER);
    inner_it_t it = { m->body, m->len, 8, ses_get32(m->body + 4) };
    int64_t iid;
    int32_t iseq;
    const uint8_t *ib;
    size_t in;
    int rc = 0;
    while (inner_next(&it, &iid, &iseq, &ib, &in)) {
        int r = client_msg(s, iid, iseq, ib, in, now);
        if (r < 0 && !rc)
            rc = r;
        if (s->closed)
            break;
    }
    return rc;
}

/* Trace a message and, for a well-formed container, its contents. */
static void trace_msg(const mtp_session_t *s, int dir, int64_t sid, int64_t id, int32_t seq,
                      const uint8_t *body, size_t len)
{
    s->cfg.trace(s->cfg.trace_ctx, dir, sid, id, seq, body, len);
    int64_t first;
    if (len >= 8 && ses_get32(body) == SID_MSG_CONTAINER && !container_check(body, len, id, &first)) {
        inner_it_t it = { body, len, 8, ses_get32(body + 4) };
        int64_t iid;
        int32_t iseq;
        const uint8_t *ib;
        size_t in;
        while (inner_next(&it, &iid, &iseq, &ib, &in))
            s->cfg.trace(s->cfg.trace_ctx, dir | MTP_TRACE_INNER, sid, iid, iseq, ib, in);
    }
}

int mtp_session_feed(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now)
{
    if (!s || !m || (!m->body && m->len))
        return MTP_EINVAL;
    if (s->closed)
        return MTP_ESTATE;
    touch(s, now);
    if (m->session_id != s->session_id)
        return MTP_ESTATE;
    if (s->cfg.trace)
        trace_msg(s, MTP_TRACE_IN, m->session_id, m->msg_id, m->seq_no, m->body, m->len);
    int rc = is_server(s) ? server_packet(s, m, now) : client_packet(s, m, now);
    scratch_trim(s);
    return rc;
}
