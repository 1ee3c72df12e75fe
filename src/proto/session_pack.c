/*
 * libmtproto — packing: the pending acks, gzip_packed both ways, msg_id/seq_no
 * assignment and the container that carries a packet's messages (PROTOCOL.md §5.1, §5.4,
 * §7.4), and the container layout check incoming packets go through.
 */
#include <mtproto/tl_schema.h>   /* MTP_ID_invokeAfterMsg */

#include "session_impl.h"

void ses_ack_add(mtp_session_t *s, int64_t id, mtp_usec_t now)
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

void ses_ack_remove(mtp_session_t *s, int64_t id)
{
    for (uint32_t i = 0; i < s->n_acks; i++)
        if (s->acks[i] == id) {
            memmove(&s->acks[i], &s->acks[i + 1], (s->n_acks - i - 1) * sizeof *s->acks);
            s->n_acks--;
            return;
        }
}

bool ses_acks_due(const mtp_session_t *s, mtp_usec_t now)
{
    return s->n_acks && (s->n_acks >= s->cfg.ack_max_pending ||
                         now >= add_sat(s->ack_first_at, s->cfg.ack_delay));
}

/* ---- reading service bodies ---- */

/* ---- gzip ---- */

/* Inflate a gzip_packed object at p into out (content: one boxed object, no gzip). */
int ses_inflate_packed(mtp_session_t *s, const uint8_t *p, size_t n, mtp_buf_t *out)
{
    mtp_tl_reader_t r;
    ses_rd_init(&r, p + 4, n - 4);
    mtp_bytes_t data = mtp_tl_read_bytes(&r);
    if (!ses_rd_done(&r))
        return MTP_EPROTO;
    mtp_buf_clear(out);
    int rc = mtp_gzip_inflate(data.ptr, data.len, s->cfg.gzip_cap, out);
    if (rc)
        return rc == MTP_ENOMEM ? rc : MTP_EGZIP;
    if (out->len < 4 || out->len % 4 || ses_get32(out->data) == MTP_ID_mt_gzip_packed)
        return MTP_EPROTO;
    s->st.gzip_in++;
    return 0;
}

void ses_scratch_trim(mtp_session_t *s)
{
    if (s->gz1.cap > SCRATCH_KEEP)
        mtp_buf_free(&s->gz1);
    if (s->gz2.cap > SCRATCH_KEEP)
        mtp_buf_free(&s->gz2);
    if (s->tmp.cap > SCRATCH_KEEP)
        mtp_buf_free(&s->tmp);
}

/* gzip body into out as gzip_packed if that is smaller; returns true if it did. */
bool ses_maybe_gzip(mtp_session_t *s, const uint8_t *body, size_t len, mtp_buf_t *out)
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
        ses_buf_u32(out, MTP_ID_mt_gzip_packed);
        ses_buf_tlbytes(out, z.data, z.len);
        used = !out->err;
        if (used)
            s->st.gzip_out++;
    }
    mtp_buf_free(&z);
    return used;
}

/* ---- packets out ---- */

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
        ses_om_unmap_id(s, m, m->prev_id);
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
        ses_buf_u32(b, MTP_ID_invokeAfterMsg);
        ses_buf_i64(b, d->msg_id);
    }
    mtp_buf_append(b, m->body, m->len);
}

static void after_send(mtp_session_t *s, out_msg_t *m, int64_t container, mtp_usec_t now)
{
    ses_remember_sent(s, m->msg_id);
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
        ses_ol_push_back(&s->unacked, m);
    } else {
        ses_om_free(s, m);
    }
}

/* Build the msgs_ack of up to `k` pending ids into b; marks them acked in the window. */
static void write_acks(mtp_session_t *s, uint32_t k, mtp_buf_t *b)
{
    ses_buf_u32(b, MTP_ID_mt_msgs_ack);
    ses_buf_u32(b, MTP_TL_ID_VECTOR);
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

bool mtp_session_want_pack(const mtp_session_t *s, mtp_usec_t now)
{
    return s && !s->closed && (s->queue.n || ses_acks_due(s, now));
}

int mtp_session_pack(mtp_session_t *s, mtp_usec_t now, mtp_session_msg_t *out)
{
    if (!s || !out)
        return MTP_EINVAL;
    if (s->closed)
        return 0;
    ses_touch(s, now);
    bool send_acks = s->n_acks && (s->queue.n || ses_acks_due(s, now));
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
            ses_remember_sent(s, id);
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

    ses_buf_u32(b, MTP_ID_mt_msg_container);
    ses_buf_u32(b, count);
    if (k_acks) {
        int64_t id = msgid_next(&s->last_msg_id, server_time(s, now), is_server(s) ? 1 : 0);
        ses_buf_i64(b, id);
        ses_buf_u32(b, (uint32_t)next_seq(s, false));
        ses_buf_u32(b, 12 + k_acks * 8);
        write_acks(s, k_acks, b);
        ses_remember_sent(s, id);
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
    ses_remember_sent(s, cid);
    s->st.containers_out++;
    if (b->err)
        return b->err;
    out->msg_id = cid;
    out->seq_no = cseq;

done:
    if (!is_server(s))
        ses_client_prune_salts(s, secs(server_time(s, now)));
    out->salt = mtp_session_salt(s, now);
    if (!is_server(s))
        s->salt = out->salt;   /* adopt the future salt now in use */
    out->session_id = s->session_id;
    out->body = bare ? bare : b->data;
    out->len = bare ? bare_len : b->len;
    s->st.packets_out++;
    if (s->cfg.trace)
        ses_trace_msg(s, MTP_TRACE_OUT, out->session_id, out->msg_id, out->seq_no, out->body, out->len);
    return 1;
}

/* ---- containers in ---- */

/* Container layout check (§5.4). On success *first = the smallest inner id. */
int ses_container_check(const uint8_t *b, size_t len, int64_t cid, int64_t *first)
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
        if (inner == MTP_ID_mt_msg_container)
            return MTP_EPROTO;   /* containers do not nest */
        if (id < *first)
            *first = id;
        off += bytes;
    }
    return off == len ? 0 : MTP_EPROTO;
}


/* Trace a message and, for a well-formed container, its contents. */
void ses_trace_msg(const mtp_session_t *s, int dir, int64_t sid, int64_t id, int32_t seq,
                      const uint8_t *body, size_t len)
{
    s->cfg.trace(s->cfg.trace_ctx, dir, sid, id, seq, body, len);
    int64_t first;
    if (len >= 8 && ses_get32(body) == MTP_ID_mt_msg_container && !ses_container_check(body, len, id, &first)) {
        inner_it_t it = { body, len, 8, ses_get32(body + 4) };
        int64_t iid;
        int32_t iseq;
        const uint8_t *ib;
        size_t in;
        while (ses_inner_next(&it, &iid, &iseq, &ib, &in))
            s->cfg.trace(s->cfg.trace_ctx, dir | MTP_TRACE_INNER, sid, iid, iseq, ib, in);
    }
}

