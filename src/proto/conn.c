/*
 * libmtproto — one MTProto connection (transport + handshake + envelope + session), both
 * roles, sans-IO. See include/mtproto/conn.h.
 */
#include <mtproto/conn.h>

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "proto/transport_internal.h"

#define MAX_SESSIONS   16
#define QA_RING        64
#define OUT_LIMIT      ((size_t)4 << 20)
#define OUT_COMPACT    ((size_t)64 << 10)

typedef struct own_ev {
    struct own_ev *next;
    mtp_conn_event_t ev;
} own_ev_t;

typedef struct sref {
    mtp_session_t *s;
    int64_t key_id;
    bool owned;
    uint64_t used;              /* LRU clock */
} sref_t;

struct mtp_conn {
    mtp_conn_config_t cfg;
    mtp_role_t role;
    mtp_transport_t tr;
    bool tr_init;
    int dead;                   /* fatal error (negative) or 0 */
    bool poisoned;              /* server: every packet gets poison_code */
    int32_t poison_code;

    bool has_key;
    mtp_auth_key_t key;
    int64_t key_salt;           /* server: salt for new sessions of this key */

    mtp_hs_client_t *hsc;
    mtp_hs_server_t *hss;
    int hs_resends_left;

    sref_t sess[MAX_SESSIONS];
    int nsess;
    int primary;                /* index of the session active last, -1 none */
    uint64_t clock;
    mtp_session_t *feeding;     /* server: the session being fed (for destroy_session) */

    mtp_buf_t out;
    size_t out_off;
    mtp_buf_t scratch;

    own_ev_t *eh, *et;
    int cursor;
    mtp_usec_t last_now;

    struct { uint32_t token; int64_t msg_id; } qa[QA_RING];
    unsigned qa_pos;

    mtp_conn_stats_t st;
};

/* ---------------------------------------------------------------------------------- */
/* events, failure                                                                    */
/* ---------------------------------------------------------------------------------- */

static own_ev_t *push_ev(mtp_conn_t *c, mtp_conn_event_type_t type)
{
    own_ev_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->ev.type = type;
    if (c->et)
        c->et->next = n;
    else
        c->eh = n;
    c->et = n;
    return n;
}

static void free_ev(own_ev_t *n)
{
    mtp_secure_zero(n, sizeof *n);
    free(n);
}

static void fail(mtp_conn_t *c, int err)
{
    if (c->dead)
        return;
    c->dead = err < 0 ? err : MTP_EPROTO;
    own_ev_t *e = push_ev(c, MTP_CONN_EV_ERROR);
    if (e)
        e->ev.err = c->dead;
}

/* ---------------------------------------------------------------------------------- */
/* output                                                                             */
/* ---------------------------------------------------------------------------------- */

static size_t out_pending(const mtp_conn_t *c)
{
    return c->out.len - c->out_off;
}

static int frame(mtp_conn_t *c, const uint8_t *p, size_t n, unsigned flags)
{
    size_t before = c->out.len;
    int rc = mtp_transport_frame(&c->tr, p, n, flags, &c->out);
    if (rc) {
        fail(c, rc);
        return rc;
    }
    c->st.bytes_out += c->out.len - before;
    c->st.packets_out++;
    return 0;
}

static void frame_error(mtp_conn_t *c, int32_t code)
{
    size_t before = c->out.len;
    if (!mtp_transport_frame_error(&c->tr, code, &c->out))
        c->st.bytes_out += c->out.len - before;
    c->st.rejected++;
    own_ev_t *e = push_ev(c, MTP_CONN_EV_TRANSPORT_ERROR);
    if (e)
        e->ev.code = code;
}

int mtp_conn_send_transport_error(mtp_conn_t *c, int32_t code)
{
    if (!c || code >= 0)
        return MTP_EINVAL;
    frame_error(c, code);
    return 0;
}

static size_t out_limit(const mtp_conn_t *c)
{
    return c->cfg.out_limit ? c->cfg.out_limit : OUT_LIMIT;
}

/*
 * Packets go straight into their transport frames in c->out (no intermediate copy), and
 * up to SEAL_BATCH of them are sealed together: with several large answers waiting (file
 * parts) their msg_key hashes and IGE chains run interleaved (mtp_envelope_seal_many).
 */
#define SEAL_BATCH 4

static int flush_session(mtp_conn_t *c, mtp_session_t *s, mtp_usec_t now)
{
    bool qa = c->role == MTP_ROLE_CLIENT && c->cfg.quick_ack &&
              mtp_transport_quick_ack_supported(&c->tr);
    unsigned fflags = qa ? MTP_TRANSPORT_QUICK_ACK : 0;
    while (!c->dead && out_pending(c) < out_limit(c)) {
        mtp_transport_slot_t slot[SEAL_BATCH];
        mtp_seal_job_t job[SEAL_BATCH];
        int64_t ids[SEAL_BATCH];
        size_t n = 0, before = c->out.len;
        int r = 0, rc = 0;
        while (n < SEAL_BATCH && out_pending(c) < out_limit(c)) {
            mtp_session_msg_t m;
            size_t plen;
            r = mtp_session_pack(s, now, &m);
            if (r <= 0)
                break;
            rc = mtp_envelope_plan(m.len, c->cfg.rng, &plen);
            if (!rc)
                rc = mtp_transport_frame_begin(&c->tr, plen, fflags, &c->out, &slot[n]);
            if (!rc)
                rc = mtp_envelope_fill(c->out.data + slot[n].payload, plen, m.salt,
                                       m.session_id, m.msg_id, m.seq_no, m.body, m.len,
                                       c->cfg.rng);
            if (rc)
                break;
            ids[n++] = m.msg_id;
        }
        if (!rc && n) {
            for (size_t i = 0; i < n; i++)
                job[i] = (mtp_seal_job_t){ .key = &c->key, .buf = c->out.data + slot[i].payload,
                                           .plain_len = slot[i].len - MTP_ENC_OUTER_LEN };
            rc = mtp_envelope_seal_many(c->role, job, n);
            for (size_t i = 0; i < n && !rc; i++) {
                rc = mtp_transport_frame_end(&c->tr, &c->out, &slot[i]);
                c->st.packets_out++;
                if (qa) {
                    c->qa[c->qa_pos].token = mtp_quick_ack_token(job[i].msg_key_large);
                    c->qa[c->qa_pos].msg_id = ids[i];
                    c->qa_pos = (c->qa_pos + 1) % QA_RING;
                }
            }
            mtp_secure_zero(job, sizeof job);
        }
        if (rc) {
            /* a begun frame cannot be taken back from the stream: the connection is over */
            if (c->out.len > before)
                mtp_secure_zero(c->out.data + before, c->out.len - before);
            c->out.len = before;
            fail(c, rc);
            return rc;
        }
        c->st.bytes_out += c->out.len - before;
        if (r <= 0)
            return r;
    }
    return 0;
}

int mtp_conn_flush(mtp_conn_t *c, mtp_usec_t now)
{
    if (!c)
        return MTP_EINVAL;
    c->last_now = now;
    if (c->dead)
        return c->dead;
    if (!c->has_key)
        return 0;
    for (int i = 0; i < c->nsess && !c->dead; i++)
        if (c->sess[i].key_id == c->key.id64)
            flush_session(c, c->sess[i].s, now);
    /* keep room for a 1 MiB file part (+ envelope): reallocating it per part costs more
     * than the copy itself; anything larger is an exception and goes back */
    if (c->scratch.cap > 2 * out_limit(c))
        mtp_buf_free(&c->scratch);
    return c->dead;
}

mtp_bytes_t mtp_conn_pending_output(const mtp_conn_t *c)
{
    mtp_bytes_t b = { NULL, 0 };
    if (c && out_pending(c)) {
        b.ptr = c->out.data + c->out_off;
        b.len = out_pending(c);
    }
    return b;
}

void mtp_conn_consume(mtp_conn_t *c, size_t n)
{
    if (!c)
        return;
    if (n > out_pending(c))
        n = out_pending(c);
    c->out_off += n;
    if (c->out_off == c->out.len) {
        mtp_buf_clear(&c->out);
        c->out_off = 0;
        if (c->out.cap > 2 * out_limit(c))
            mtp_buf_free(&c->out);
    } else if (c->out_off > OUT_COMPACT && c->out_off > c->out.len / 2) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
    /* refill only once half the limit has drained, so that large answers are packed (and
     * sealed) several at a time rather than one per freed megabyte */
    if (n && out_pending(c) <= out_limit(c) / 2)
        mtp_conn_flush(c, c->last_now);
}

/* ---------------------------------------------------------------------------------- */
/* sessions                                                                           */
/* ---------------------------------------------------------------------------------- */

static void drop_sref(mtp_conn_t *c, int i)
{
    if (c->sess[i].owned)
        mtp_session_free(c->sess[i].s);
    memmove(&c->sess[i], &c->sess[i + 1], (size_t)(c->nsess - i - 1) * sizeof c->sess[0]);
    c->nsess--;
    if (c->primary == i)
        c->primary = -1;
    else if (c->primary > i)
        c->primary--;
    if (c->cursor > i)
        c->cursor--;
}

/* destroy_session for the sessions this conn owns (server). */
static int conn_destroy_session(void *ctx, int64_t sid)
{
    mtp_conn_t *c = ctx;
    for (int i = 0; i < c->nsess; i++)
        if (c->sess[i].owned && c->sess[i].key_id == c->key.id64 &&
            mtp_session_id(c->sess[i].s) == sid && c->sess[i].s != c->feeding) {
            drop_sref(c, i);
            return 1;
        }
    return 0;
}

static mtp_session_t *server_session(mtp_conn_t *c, int64_t sid, mtp_usec_t now)
{
    for (int i = 0; i < c->nsess; i++)
        if (c->sess[i].key_id == c->key.id64 && mtp_session_id(c->sess[i].s) == sid) {
            c->sess[i].used = ++c->clock;
            c->primary = i;
            return c->sess[i].s;
        }
    mtp_session_config_t t = c->cfg.session;
    t.role = MTP_ROLE_SERVER;
    t.session_id = sid;
    t.server_salt = c->key_salt;
    if (!t.rng)
        t.rng = c->cfg.rng;
    if (c->cfg.trace) {
        t.trace = c->cfg.trace;
        t.trace_ctx = c->cfg.trace_ctx;
    }
    bool owned = !c->cfg.get_session;
    if (owned && !t.destroy_session) {
        t.destroy_session = conn_destroy_session;
        t.cb_ctx = c;
    }
    mtp_session_t *s = NULL;
    if (owned) {
        (void)mtp_session_new(&t, &s);   /* NULL on failure: the message is dropped */
    } else {
        s = c->cfg.get_session(c->cfg.cb_ctx, &c->key, sid, &t);
        if (s)
            mtp_session_reconnected(s, now);
    }
    if (!s)
        return NULL;
    if (c->nsess == MAX_SESSIONS) {   /* forget the least recently used */
        int lru = 0;
        for (int i = 1; i < c->nsess; i++)
            if (c->sess[i].used < c->sess[lru].used)
                lru = i;
        drop_sref(c, lru);
    }
    sref_t *r = &c->sess[c->nsess];
    r->s = s;
    r->key_id = c->key.id64;
    r->owned = owned;
    r->used = ++c->clock;
    c->primary = c->nsess++;
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* incoming packets                                                                   */
/* ---------------------------------------------------------------------------------- */

/* Packets are decrypted where they lie, in the transport's input buffer (its packets are
 * ours to modify until the next input): no second buffer to fill and keep warm. */
static uint8_t *writable(const uint8_t *pkt)
{
    return (uint8_t *)(uintptr_t)pkt;
}

static int decrypt(mtp_conn_t *c, const uint8_t *pkt, size_t len, mtp_envelope_msg_t *msg)
{
    if (len < MTP_ENC_OUTER_LEN)
        return MTP_ESECURITY;
    return mtp_envelope_decrypt(&c->key, c->role, writable(pkt), len, msg);
}

static void client_key_done(mtp_conn_t *c)
{
    mtp_hs_result_t r;
    if (mtp_hs_client_result(c->hsc, &r)) {
        fail(c, MTP_ESTATE);
        return;
    }
    c->key = r.key;
    c->has_key = true;
    mtp_session_t *s = c->sess[0].s;
    mtp_session_set_salt(s, r.server_salt);
    mtp_session_set_time_offset(s, r.time_offset);
    c->sess[0].key_id = r.key.id64;
    own_ev_t *e = push_ev(c, MTP_CONN_EV_KEY);
    if (e)
        e->ev.key = r;
    mtp_hs_result_wipe(&r);
    mtp_hs_client_free(c->hsc);
    c->hsc = NULL;
}

/* A decrypted and verified message: to the session. */
static void client_msg(mtp_conn_t *c, const mtp_envelope_msg_t *msg, mtp_usec_t now)
{
    mtp_session_msg_t m = { msg->salt, msg->session_id, msg->msg_id, msg->seq_no,
                            msg->body.ptr, msg->body.len };
    /* Session-level rejections (old session, parity, time window) drop the message but
     * keep the connection: a server clock jump must not turn into a reconnect loop. */
    (void)mtp_session_feed(c->sess[0].s, &m, now);
}

static void client_packet(mtp_conn_t *c, const uint8_t *pkt, size_t len, mtp_usec_t now)
{
    int64_t kid;
    if (mtp_envelope_key_id(pkt, len, &kid)) {
        fail(c, MTP_EPROTO);
        return;
    }
    if (kid == 0) {
        if (!c->hsc)
            return;   /* §3.1 of docs/PROTOCOL.md: unencrypted only in the key exchange */
        mtp_buf_clear(&c->scratch);
        int rc = mtp_hs_client_feed(c->hsc, now, pkt, len, &c->scratch);
        if (rc) {
            fail(c, rc);
            return;
        }
        if (c->scratch.len && frame(c, c->scratch.data, c->scratch.len, 0))
            return;
        if (mtp_hs_client_state(c->hsc) == MTP_HS_DONE)
            client_key_done(c);
        return;
    }
    if (!c->has_key || kid != c->key.id64) {
        fail(c, MTP_ESECURITY);
        return;
    }
    mtp_envelope_msg_t msg;
    int rc = decrypt(c, pkt, len, &msg);
    if (rc) {
        fail(c, rc == MTP_ENOMEM ? rc : MTP_ESECURITY);
        return;
    }
    client_msg(c, &msg, now);
}

static void server_msg(mtp_conn_t *c, const mtp_envelope_msg_t *msg, bool want_qa,
                       mtp_usec_t now)
{
    if (want_qa && mtp_transport_quick_ack_supported(&c->tr)) {
        size_t before = c->out.len;
        if (!mtp_transport_frame_quick_ack(&c->tr, msg->quick_ack, &c->out)) {
            c->st.bytes_out += c->out.len - before;
            c->st.quick_acks++;
        }
    }
    mtp_session_t *s = server_session(c, msg->session_id, now);
    if (!s)
        return;
    mtp_session_msg_t m = { msg->salt, msg->session_id, msg->msg_id, msg->seq_no,
                            msg->body.ptr, msg->body.len };
    c->feeding = s;
    (void)mtp_session_feed(s, &m, now);
    c->feeding = NULL;
}

static void server_packet(mtp_conn_t *c, const uint8_t *pkt, size_t len, bool want_qa,
                          mtp_usec_t now)
{
    if (c->poisoned) {
        frame_error(c, c->poison_code);
        return;
    }
    int64_t kid;
    if (mtp_envelope_key_id(pkt, len, &kid)) {
        frame_error(c, -404);
        return;
    }
    if (kid == 0) {
        if (!c->hss) {
            int rc = mtp_hs_server_new(&c->cfg.hs_server, &c->hss);
            if (rc) {
                fail(c, rc);
                return;
            }
        }
        mtp_buf_clear(&c->scratch);
        mtp_hs_event_t ev = MTP_HS_EV_NONE;
        (void)mtp_hs_server_feed(c->hss, now, pkt, len, &c->scratch, &ev);
        switch (ev) {
        case MTP_HS_EV_SEND:
            frame(c, c->scratch.data, c->scratch.len, 0);
            break;
        case MTP_HS_EV_KEY: {
            if (frame(c, c->scratch.data, c->scratch.len, 0))
                return;
            mtp_hs_result_t r;
            if (!mtp_hs_server_result(c->hss, &r)) {
                c->key = r.key;
                c->key_salt = r.server_salt;
                c->has_key = true;
                if (c->cfg.new_key)
                    c->cfg.new_key(c->cfg.cb_ctx, &r);
                own_ev_t *e = push_ev(c, MTP_CONN_EV_KEY);
                if (e)
                    e->ev.key = r;
                mtp_hs_result_wipe(&r);
            }
            break;
        }
        case MTP_HS_EV_REJECT:
            c->poisoned = true;
            c->poison_code = mtp_hs_server_transport_error(c->hss);
            if (c->poison_code >= 0)
                c->poison_code = -404;
            frame_error(c, c->poison_code);
            break;
        default:
            break;
        }
        return;
    }
    if (!c->has_key || kid != c->key.id64) {
        mtp_auth_key_t k;
        int64_t salt = 0;
        if (!c->cfg.lookup_key || c->cfg.lookup_key(c->cfg.cb_ctx, kid, &k, &salt) != 1 ||
            k.id64 != kid) {
            mtp_secure_zero(&k, sizeof k);
            frame_error(c, -404);
            return;
        }
        c->key = k;
        c->key_salt = salt;
        c->has_key = true;
        mtp_secure_zero(&k, sizeof k);
    }
    mtp_envelope_msg_t msg;
    int rc = decrypt(c, pkt, len, &msg);
    if (rc) {
        fail(c, rc == MTP_ENOMEM ? rc : MTP_ESECURITY);
        return;
    }
    server_msg(c, &msg, want_qa, now);
}

/*
 * Large packets that arrive together (file parts) are opened together: their IGE chains
 * and hashes run side by side (mtp_envelope_decrypt_many). The transport keeps the
 * packets of consecutive mtp_transport_next() calls valid until the next input, so up to
 * OPEN_BATCH of them are held and then decrypted and delivered in order. Small packets,
 * unencrypted ones and other keys take the one-by-one path (after the held ones).
 */
#define OPEN_BATCH 4
#define OPEN_BATCH_MIN ((size_t)16 << 10)

typedef struct held {
    const uint8_t *pkt;
    size_t len;
    bool qa;
} held_t;

static bool batchable(const mtp_conn_t *c, const uint8_t *pkt, size_t len)
{
    int64_t kid;
    if (len < OPEN_BATCH_MIN || !c->has_key || c->poisoned || mtp_envelope_key_id(pkt, len, &kid))
        return false;
    return kid != 0 && kid == c->key.id64;
}

static void open_held(mtp_conn_t *c, const held_t *h, size_t n, mtp_usec_t now)
{
    if (n == 0 || c->dead)
        return;
    if (n == 1) {
        if (c->role == MTP_ROLE_CLIENT)
            client_packet(c, h[0].pkt, h[0].len, now);
        else
            server_packet(c, h[0].pkt, h[0].len, h[0].qa, now);
        return;
    }
    mtp_open_job_t job[OPEN_BATCH];
    for (size_t i = 0; i < n; i++)
        job[i] = (mtp_open_job_t){ .key = &c->key, .pkt = h[i].pkt, .len = h[i].len,
                                   .plain = writable(h[i].pkt) + MTP_ENC_OUTER_LEN };
    if (mtp_envelope_decrypt_many(c->role, job, n)) {
        fail(c, MTP_ESECURITY);
        return;
    }
    for (size_t i = 0; i < n && !c->dead; i++) {
        if (job[i].rc) {
            fail(c, MTP_ESECURITY);
            break;
        }
        if (c->role == MTP_ROLE_CLIENT)
            client_msg(c, &job[i].msg, now);
        else
            server_msg(c, &job[i].msg, h[i].qa, now);
    }
}

/* Everything the transport has complete, in order. */
static void feed_frames(mtp_conn_t *c, mtp_usec_t now)
{
    held_t held[OPEN_BATCH];
    size_t nh = 0;
    while (!c->dead) {
        mtp_transport_event_t ev;
        int rc = mtp_transport_next(&c->tr, &ev);
        if (rc < 0) {
            fail(c, rc);
            break;
        }
        if (rc == 0)
            break;
        if (ev.type == MTP_TRANSPORT_EV_PACKET) {
            c->st.packets_in++;
            if (batchable(c, ev.data, ev.len)) {
                held[nh++] = (held_t){ ev.data, ev.len, ev.quick_ack };
                if (nh == OPEN_BATCH) {
                    open_held(c, held, nh, now);
                    nh = 0;
                }
                continue;
            }
        }
        open_held(c, held, nh, now);
        nh = 0;
        switch (ev.type) {
        case MTP_TRANSPORT_EV_PACKET:
            if (c->role == MTP_ROLE_CLIENT)
                client_packet(c, ev.data, ev.len, now);
            else
                server_packet(c, ev.data, ev.len, ev.quick_ack, now);
            break;
        case MTP_TRANSPORT_EV_QUICK_ACK: {
            c->st.quick_acks++;
            own_ev_t *e = push_ev(c, MTP_CONN_EV_QUICK_ACK);
            if (e) {
                e->ev.token = ev.token;
                for (unsigned i = 0; i < QA_RING; i++)
                    if (c->qa[i].token == ev.token && c->qa[i].msg_id) {
                        e->ev.msg_id = c->qa[i].msg_id;
                        c->qa[i].msg_id = 0;
                        break;
                    }
            }
            break;
        }
        case MTP_TRANSPORT_EV_ERROR: {
            own_ev_t *e = push_ev(c, MTP_CONN_EV_TRANSPORT_ERROR);
            if (e)
                e->ev.code = ev.code;
            c->dead = MTP_ETRANSPORT;
            break;
        }
        default:
            break;
        }
    }
    open_held(c, held, nh, now);
    mtp_conn_flush(c, now);
}

int mtp_conn_feed(mtp_conn_t *c, const uint8_t *data, size_t n, mtp_usec_t now)
{
    if (!c || (!data && n))
        return MTP_EINVAL;
    c->last_now = now;
    if (c->dead)
        return c->dead;
    c->st.bytes_in += n;
    int rc = mtp_transport_feed(&c->tr, data, n);
    if (rc) {
        fail(c, rc);
        return c->dead;
    }
    feed_frames(c, now);
    return c->dead;
}

int mtp_conn_rx_space(mtp_conn_t *c, size_t want, uint8_t **ptr, size_t *cap)
{
    if (!c || !ptr || !cap)
        return MTP_EINVAL;
    if (c->dead)
        return c->dead;
    int rc = mtp_transport_rx_space(&c->tr, want, ptr, cap);
    if (rc && rc != MTP_EINVAL)
        fail(c, rc);
    return rc;
}

int mtp_conn_rx_commit(mtp_conn_t *c, size_t n, mtp_usec_t now)
{
    if (!c)
        return MTP_EINVAL;
    c->last_now = now;
    if (c->dead)
        return c->dead;
    int rc = mtp_transport_rx_commit(&c->tr, n);
    if (rc == MTP_EINVAL)
        return rc;
    c->st.bytes_in += n;
    if (rc) {
        fail(c, rc);
        return c->dead;
    }
    feed_frames(c, now);
    return c->dead;
}

/* ---------------------------------------------------------------------------------- */
/* lifetime                                                                           */
/* ---------------------------------------------------------------------------------- */

void mtp_conn_config_init_versioned(unsigned version, mtp_conn_config_t *c, mtp_role_t role)
{
    if (version != MTP_CONN_CONFIG_VERSION) {
        c->version = version;
        return;
    }
    memset(c, 0, sizeof *c);
    c->version = version;
    c->role = role;
    c->transport = MTP_TRANSPORT_INTERMEDIATE;
    mtp_session_config_init(&c->session, role);
}

int mtp_conn_new(const mtp_conn_config_t *cfg, mtp_usec_t now, mtp_conn_t **out)
{
    int e = 0;
    mtp_conn_t *c = NULL;
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    if (!cfg || (cfg->role != MTP_ROLE_CLIENT && cfg->role != MTP_ROLE_SERVER) ||
        (cfg->client_session && !cfg->auth_key)) {
        e = MTP_EINVAL;
        goto out;
    }
    if (cfg->version != MTP_CONN_CONFIG_VERSION ||
        cfg->session.version != MTP_SESSION_CONFIG_VERSION) {
        e = MTP_EVERSION;
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        e = MTP_ENOMEM;
        goto out;
    }
    c->cfg = *cfg;
    c->role = cfg->role;
    c->primary = -1;
    c->last_now = now;
    c->hs_resends_left = cfg->hs_resends > 0 ? cfg->hs_resends : 2;
    mtp_buf_init(&c->out);
    mtp_buf_init(&c->scratch);
    if (c->role == MTP_ROLE_CLIENT)
        e = mtp_transport_init_client_(&c->tr, cfg->transport, cfg->obfuscated, cfg->dc_id,
                                       cfg->secret, cfg->rng);
    else
        e = mtp_transport_init_server_(&c->tr, cfg->secret, cfg->rng);
    if (e)
        goto out;
    c->tr_init = true;
    if (cfg->max_packet && (e = mtp_transport_set_max_packet(&c->tr, cfg->max_packet)))
        goto out;
    if (c->role == MTP_ROLE_SERVER)
        goto out;

    /* client: the session, then the key or the key exchange */
    if (cfg->client_session) {
        c->sess[0].s = cfg->client_session;
        c->sess[0].owned = false;
        mtp_session_reconnected(cfg->client_session, now);
    } else {
        mtp_session_config_t t = cfg->session;
        t.role = MTP_ROLE_CLIENT;
        if (!t.rng)
            t.rng = cfg->rng;
        if (cfg->trace) {
            t.trace = cfg->trace;
            t.trace_ctx = cfg->trace_ctx;
        }
        if (!cfg->auth_key)
            t.time_synced = false;   /* set from the exchange */
        if ((e = mtp_session_new(&t, &c->sess[0].s)) != 0)
            goto out;
        c->sess[0].owned = true;
    }
    c->nsess = 1;
    c->primary = 0;
    if (cfg->auth_key) {
        c->key = *cfg->auth_key;
        c->has_key = true;
        c->sess[0].key_id = c->key.id64;
        /* a continued session may have calls to (re-)send; the transport tag goes out
         * with the first packet */
        mtp_conn_flush(c, now);
        e = c->dead;
        goto out;
    }
    mtp_hs_client_config_t h = cfg->hs_client;
    if (!h.rng)
        h.rng = cfg->rng;
    if ((e = mtp_hs_client_new(&h, &c->hsc)))
        goto out;
    if ((e = mtp_hs_client_start(c->hsc, now, &c->scratch)))
        goto out;
    if ((e = mtp_transport_frame(&c->tr, c->scratch.data, c->scratch.len, 0, &c->out)))
        goto out;
    c->st.bytes_out += c->out.len;
    c->st.packets_out++;
out:
    if (e) {
        mtp_conn_free(c);
        return e;
    }
    *out = c;
    return 0;
}

void mtp_conn_free(mtp_conn_t *c)
{
    if (!c)
        return;
    while (c->nsess)
        drop_sref(c, c->nsess - 1);
    while (c->eh) {
        own_ev_t *n = c->eh;
        c->eh = n->next;
        free_ev(n);
    }
    mtp_hs_client_free(c->hsc);
    mtp_hs_server_free(c->hss);
    if (c->tr_init)
        mtp_transport_clear_(&c->tr);
    mtp_buf_free(&c->out);
    if (c->scratch.data)
        mtp_secure_zero(c->scratch.data, c->scratch.cap);
    mtp_buf_free(&c->scratch);
    mtp_secure_zero(&c->key, sizeof c->key);
    free(c);
}

void mtp_conn_close(mtp_conn_t *c, int err)
{
    if (!c)
        return;
    for (int i = 0; i < c->nsess; i++)
        if (c->sess[i].owned)
            mtp_session_close(c->sess[i].s, err >= 0 ? MTP_ECLOSED : err);
    if (!c->dead)
        c->dead = MTP_ECLOSED;
}

/* ---------------------------------------------------------------------------------- */
/* events and time                                                                    */
/* ---------------------------------------------------------------------------------- */

int mtp_conn_next_event(mtp_conn_t *c, mtp_conn_event_t *ev)
{
    if (!c || !ev)
        return MTP_EINVAL;
    if (c->eh) {
        own_ev_t *n = c->eh;
        c->eh = n->next;
        if (!c->eh)
            c->et = NULL;
        *ev = n->ev;
        free_ev(n);
        return 1;
    }
    for (int k = 0; k < c->nsess; k++) {
        int i = (c->cursor + k) % c->nsess;
        mtp_session_event_t sev;
        if (mtp_session_next_event(c->sess[i].s, &sev) == 1) {
            memset(ev, 0, sizeof *ev);
            ev->type = MTP_CONN_EV_SESSION;
            ev->session = c->sess[i].s;
            ev->sev = sev;
            c->cursor = i;   /* keep draining this session first: its events stay ordered */
            return 1;
        }
    }
    memset(ev, 0, sizeof *ev);
    return 0;
}

mtp_usec_t mtp_conn_next_deadline(const mtp_conn_t *c)
{
    if (!c || c->dead)
        return MTP_TIME_NEVER;
    mtp_usec_t d = MTP_TIME_NEVER;
    if (c->hsc) {
        mtp_usec_t h = mtp_hs_client_deadline(c->hsc);
        if (h < d)
            d = h;
    }
    if (!c->has_key)
        return d;
    bool blocked = out_pending(c) >= out_limit(c);
    for (int i = 0; i < c->nsess; i++) {
        mtp_usec_t s = mtp_session_next_deadline(c->sess[i].s);
        if (blocked && s <= c->last_now)
            continue;   /* output is backed up: mtp_conn_consume() resumes packing */
        if (c->sess[i].key_id != c->key.id64 && s <= c->last_now)
            continue;   /* a session of another key cannot send here */
        if (s < d)
            d = s;
    }
    return d;
}

int mtp_conn_tick(mtp_conn_t *c, mtp_usec_t now)
{
    if (!c)
        return MTP_EINVAL;
    c->last_now = now;
    if (c->dead)
        return c->dead;
    if (c->hsc) {
        mtp_hs_state_t st = mtp_hs_client_state(c->hsc);
        if ((st == MTP_HS_PQ || st == MTP_HS_DH_REQ || st == MTP_HS_DH_SET) &&
            now >= mtp_hs_client_deadline(c->hsc)) {
            if (c->hs_resends_left-- > 0) {
                mtp_buf_clear(&c->scratch);
                int rc = mtp_hs_client_resend(c->hsc, now, &c->scratch);
                if (rc) {
                    fail(c, rc);
                    return c->dead;
                }
                if (frame(c, c->scratch.data, c->scratch.len, 0))
                    return c->dead;
            } else {
                fail(c, MTP_ETIMEDOUT);
                return c->dead;
            }
        }
    }
    for (int i = 0; i < c->nsess; i++)
        mtp_session_tick(c->sess[i].s, now);
    return mtp_conn_flush(c, now);
}

/* ---------------------------------------------------------------------------------- */
/* calls, replies                                                                     */
/* ---------------------------------------------------------------------------------- */

int64_t mtp_conn_call(mtp_conn_t *c, const uint8_t *body, size_t len, uint32_t flags,
                      void *user, mtp_usec_t now)
{
    if (!c)
        return MTP_EINVAL;
    if (c->role != MTP_ROLE_CLIENT || !c->nsess)
        return MTP_ESTATE;
    int64_t id = mtp_session_call(c->sess[0].s, body, len, flags & ~MTP_CONN_DEFER, user, now);
    if (id > 0 && !(flags & MTP_CONN_DEFER))
        mtp_conn_flush(c, now);
    return id;
}

static mtp_session_t *session_for_req(mtp_conn_t *c, int64_t req)
{
    for (int i = 0; i < c->nsess; i++)
        if (mtp_session_received(c->sess[i].s, req))
            return c->sess[i].s;
    return c->primary >= 0 ? c->sess[c->primary].s : NULL;
}

int mtp_conn_reply(mtp_conn_t *c, int64_t req_msg_id, const uint8_t *body, size_t len,
                   mtp_usec_t now)
{
    if (!c)
        return MTP_EINVAL;
    if (c->role != MTP_ROLE_SERVER)
        return MTP_ESTATE;
    mtp_session_t *s = session_for_req(c, req_msg_id);
    if (!s)
        return MTP_ENOTFOUND;
    int rc = mtp_session_reply(s, req_msg_id, body, len, now);
    mtp_conn_flush(c, now);
    return rc;
}

int mtp_conn_reply_error(mtp_conn_t *c, int64_t req_msg_id, int32_t code, const char *message,
                         mtp_usec_t now)
{
    if (!c)
        return MTP_EINVAL;
    if (c->role != MTP_ROLE_SERVER)
        return MTP_ESTATE;
    mtp_session_t *s = session_for_req(c, req_msg_id);
    if (!s)
        return MTP_ENOTFOUND;
    int rc = mtp_session_reply_error(s, req_msg_id, code, message, now);
    mtp_conn_flush(c, now);
    return rc;
}

int mtp_conn_push(mtp_conn_t *c, const uint8_t *body, size_t len, mtp_usec_t now)
{
    if (!c)
        return MTP_EINVAL;
    if (c->role != MTP_ROLE_SERVER)
        return MTP_ESTATE;
    if (c->primary < 0)
        return MTP_ENOTFOUND;
    int rc = mtp_session_push(c->sess[c->primary].s, body, len, now);
    mtp_conn_flush(c, now);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* state                                                                              */
/* ---------------------------------------------------------------------------------- */

bool mtp_conn_dead(const mtp_conn_t *c)
{
    return !c || c->dead != 0;
}

int mtp_conn_error(const mtp_conn_t *c)
{
    return c ? c->dead : MTP_EINVAL;
}

bool mtp_conn_has_key(const mtp_conn_t *c)
{
    return c && c->has_key;
}

const mtp_auth_key_t *mtp_conn_key(const mtp_conn_t *c)
{
    return c && c->has_key ? &c->key : NULL;
}

mtp_session_t *mtp_conn_session(const mtp_conn_t *c)
{
    if (!c || c->primary < 0 || c->primary >= c->nsess)
        return NULL;
    return c->sess[c->primary].s;
}

mtp_session_t *mtp_conn_take_session(mtp_conn_t *c)
{
    if (!c || c->role != MTP_ROLE_CLIENT || !c->nsess)
        return NULL;
    mtp_session_t *s = c->sess[0].s;
    c->sess[0].owned = false;
    c->nsess = 0;
    c->primary = -1;
    return s;
}

const mtp_transport_t *mtp_conn_transport(const mtp_conn_t *c)
{
    return c ? &c->tr : NULL;
}

const mtp_conn_stats_t *mtp_conn_stats(const mtp_conn_t *c)
{
    return &c->st;
}
