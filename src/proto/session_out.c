/*
 * libmtproto — the session's out-records: the three lists a record moves through, the
 * records themselves (large ones are reused), the queueing of service bodies, and how a
 * call ends or goes out again (PROTOCOL.md §5.2, §5.3).
 */
#include "session_impl.h"

/* ---- lists ---- */




/* A record holding head (hn bytes) followed by body (len bytes). */
static out_msg_t *ses_om_new2(mtp_session_t *s, const uint8_t *head, size_t hn, const uint8_t *body,
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
static void ses_om_release(mtp_session_t *s, out_msg_t *m)
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

void ses_om_unmap_id(mtp_session_t *s, out_msg_t *m, int64_t id)
{
    if (id && idmap_get(&s->by_msg, id) == m)
        idmap_del(&s->by_msg, id);
}

void ses_om_free(mtp_session_t *s, out_msg_t *m)
{
    ses_ol_remove(m);
    ses_om_unmap_id(s, m, m->msg_id);
    ses_om_unmap_id(s, m, m->prev_id);
    if (m->call_id && idmap_get(&s->by_call, (int64_t)m->call_id) == m)
        idmap_del(&s->by_call, (int64_t)m->call_id);
    if (m->retain)
        s->retained_bytes -= m->len;
    ses_om_release(s, m);
}

/* A retained record whose current id is `id` (not an alias), or NULL. */
out_msg_t *ses_om_current(const mtp_session_t *s, int64_t id)
{
    out_msg_t *m = idmap_get(&s->by_msg, id);
    return m && m->msg_id == id ? m : NULL;
}

out_msg_t *ses_enqueue2(mtp_session_t *s, const uint8_t *head, size_t hn, const uint8_t *body,
                           size_t len, uint8_t kind, bool content, bool retain, bool answer)
{
    out_msg_t *m = ses_om_new2(s, head, hn, body, len);
    if (!m)
        return NULL;
    len += hn;
    m->kind = kind;
    m->content = content;
    m->retain = retain;
    m->answer = answer;
    if (retain)
        s->retained_bytes += len;
    ses_ol_push_back(&s->queue, m);
    return m;
}

out_msg_t *ses_enqueue(mtp_session_t *s, const uint8_t *body, size_t len, uint8_t kind,
                          bool content, bool retain, bool answer)
{
    return ses_enqueue2(s, NULL, 0, body, len, kind, content, retain, answer);
}

/* Queue the service body built in s->tmp. */
out_msg_t *ses_enqueue_tmp(mtp_session_t *s, bool content, bool answer)
{
    if (s->tmp.err) {
        mtp_buf_clear(&s->tmp);
        return NULL;
    }
    return ses_enqueue(s, s->tmp.data, s->tmp.len, OM_SERVICE, content, false, answer);
}

mtp_buf_t *ses_tmp_start(mtp_session_t *s)
{
    mtp_buf_clear(&s->tmp);
    return &s->tmp;
}


bool ses_recently_sent(const mtp_session_t *s, int64_t id)
{
    if (!id)
        return false;
    for (uint32_t i = 0; i < RECENT_IDS; i++)
        if (s->recent[i] == id)
            return true;
    return false;
}

/* ---- acks ---- */
/* Queue a generated service object. */
out_msg_t *ses_enqueue_obj(mtp_session_t *s, const void *obj, bool content, bool answer)
{
    mtp_buf_t *b = ses_tmp_start(s);
    if (mtp_tl_encode(obj, b)) {
        mtp_buf_clear(b);
        return NULL;
    }
    return ses_enqueue_tmp(s, content, answer);
}

/* ---- calls ending, re-sending ---- */

void ses_parse_rpc_error(const uint8_t *p, size_t n, mtp_rpc_error_t *e)
{
    mtp_tl_reader_t r;
    ses_rd_init(&r, p + 4, n - 4);
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
void ses_complete_call(mtp_session_t *s, out_msg_t *m, int err, const uint8_t *res,
                          size_t n, int32_t bad_code)
{
    ev_node_t *e = ses_ev_push(s, MTP_SESSION_EV_RESULT);
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
                    ses_parse_rpc_error(e->a.data, n, &e->ev.rpc_error);
            }
        }
    }
    ses_om_free(s, m);
}

/* Re-send a retained message (client: new msg_id; server: the same). Bounded for calls
 * when `count` is set: past max_retries the call fails with MTP_EPROTO. */
void ses_resend(mtp_session_t *s, out_msg_t *m, bool count, int32_t code)
{
    if (count && ++m->retries > s->cfg.max_retries) {
        if (m->kind == OM_CALL)
            ses_complete_call(s, m, MTP_EPROTO, NULL, 0, code);
        else
            ses_om_free(s, m);
        return;
    }
    m->acked = false;
    m->keep_id = is_server(s) && m->msg_id;
    ses_ol_push_back(&s->queue, m);
    s->st.resent++;
}

void ses_evict_retained(mtp_session_t *s)
{
    while (s->retained_bytes > s->cfg.max_retained_bytes && s->unacked.head)
        ses_om_free(s, s->unacked.head);
}

int ses_cmp_om_id(const void *a, const void *b)
{
    const out_msg_t *x = *(out_msg_t *const *)a, *y = *(out_msg_t *const *)b;
    return x->msg_id < y->msg_id ? -1 : x->msg_id > y->msg_id;
}

/* Move every sent retained message back to the front of the queue, oldest first. */
void ses_requeue_sent(mtp_session_t *s, bool include_acked, bool count, int32_t code)
{
    size_t n = s->unacked.n + (include_acked ? s->acked.n : 0);
    if (!n)
        return;
    out_msg_t **v = malloc(n * sizeof *v);
    size_t k = 0;
    if (!v) {   /* no memory to sort: keep list order */
        while (s->unacked.tail)
            ses_ol_push_front(&s->queue, s->unacked.tail);
        if (include_acked)
            while (s->acked.tail)
                ses_ol_push_front(&s->queue, s->acked.tail);
        return;
    }
    for (out_msg_t *m = s->unacked.head; m; m = m->next)
        v[k++] = m;
    if (include_acked)
        for (out_msg_t *m = s->acked.head; m; m = m->next)
            v[k++] = m;
    qsort(v, k, sizeof *v, ses_cmp_om_id);
    for (size_t i = k; i > 0; i--) {
        out_msg_t *m = v[i - 1];
        ses_ol_push_front(&s->queue, m);
        m->acked = false;
        m->keep_id = is_server(s) && m->msg_id;
        s->st.resent++;
    }
    if (count) {   /* enforce max_retries (after ordering, so ends are deterministic) */
        for (size_t i = 0; i < k; i++) {
            out_msg_t *m = v[i];
            if (++m->retries > s->cfg.max_retries) {
                if (m->kind == OM_CALL)
                    ses_complete_call(s, m, MTP_EPROTO, NULL, 0, code);
                else
                    ses_om_free(s, m);
            }
        }
    }
    free(v);
}
