/*
 * libmtproto — incoming service messages (PROTOCOL.md §5): one parser for both roles,
 * and the handling both roles share (msgs_ack, ping, pong, msgs_state_req,
 * msg_resend_req). What only one role does with a message is in session_server.c and
 * session_client.c.
 */
#include "session_impl.h"

/* ---- parsing ---- */

/* Vector<long>: *raw = the LE longs, *n = count. */
static void rd_longs(mtp_tl_reader_t *r, const uint8_t **raw, uint32_t *n)
{
    *raw = NULL;
    *n = 0;
    if (mtp_tl_read_nat(r) != MTP_TL_ID_VECTOR) {
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

/* future_salts#ae500895 req_msg_id:long now:int salts:vector<future_salt> (bare vector) */
static void rd_future_salts(mtp_tl_reader_t *r, ses_svc_t *v)
{
    v->msg_id = mtp_tl_read_long(r);
    (void)mtp_tl_read_int(r);   /* server "now" */
    uint32_t k = mtp_tl_read_nat(r);
    if (r->err)
        return;
    if (k > MAX_IDS || (size_t)k * 16 != (size_t)(r->end - r->p)) {
        mtp_tl_reader_fail(r, MTP_ERANGE);
        return;
    }
    v->salts = r->p;
    v->n_salts = k;
    r->p = r->end;
}

/* The fields of the "message about messages" constructors. */
static bool rd_about(mtp_tl_reader_t *r, uint32_t cid, ses_svc_t *v)
{
    switch (cid) {
    case MTP_ID_mt_bad_server_salt:
    case MTP_ID_mt_bad_msg_notification:
        v->msg_id = mtp_tl_read_long(r);
        v->seq_no = mtp_tl_read_int(r);
        v->code = mtp_tl_read_int(r);
        if (cid == MTP_ID_mt_bad_server_salt)
            v->salt = mtp_tl_read_long(r);
        return true;
    case MTP_ID_mt_msgs_state_info:
        v->msg_id = mtp_tl_read_long(r);
        v->info = mtp_tl_read_bytes(r);
        return true;
    case MTP_ID_mt_msgs_all_info:
        rd_longs(r, &v->ids, &v->n_ids);
        v->info = mtp_tl_read_bytes(r);
        return true;
    case MTP_ID_mt_msg_detailed_info:
        v->msg_id = mtp_tl_read_long(r);
        /* fall through */
    case MTP_ID_mt_msg_new_detailed_info:
        v->answer_id = mtp_tl_read_long(r);
        (void)mtp_tl_read_int(r);   /* bytes */
        (void)mtp_tl_read_int(r);   /* status */
        return true;
    case MTP_ID_mt_msgs_ack:
    case MTP_ID_mt_msgs_state_req:
    case MTP_ID_mt_msg_resend_req:
        rd_longs(r, &v->ids, &v->n_ids);
        return true;
    default:
        return false;
    }
}

/* Is cid one of the constructors ses_svc_parse() reads? */
static bool svc_known(uint32_t cid)
{
    switch (cid) {
    case MTP_ID_mt_bad_server_salt:
    case MTP_ID_mt_bad_msg_notification:
    case MTP_ID_mt_msgs_state_info:
    case MTP_ID_mt_msgs_all_info:
    case MTP_ID_mt_msg_detailed_info:
    case MTP_ID_mt_msg_new_detailed_info:
    case MTP_ID_mt_msgs_ack:
    case MTP_ID_mt_msgs_state_req:
    case MTP_ID_mt_msg_resend_req:
    case MTP_ID_mt_rpc_result:
    case MTP_ID_mt_ping_delay_disconnect:
    case MTP_ID_mt_ping:
    case MTP_ID_mt_pong:
    case MTP_ID_mt_get_future_salts:
    case MTP_ID_mt_future_salts:
    case MTP_ID_mt_new_session_created:
    case MTP_ID_mt_destroy_session:
    case MTP_ID_mt_destroy_session_ok:
    case MTP_ID_mt_destroy_session_none:
    case MTP_ID_mt_rpc_drop_answer:
    case MTP_ID_mt_http_wait:
    case MTP_ID_mt_msg_copy:
    case MTP_ID_mt_msg_container:
        return true;
    default:
        return false;
    }
}

int ses_svc_parse(const uint8_t *p, size_t n, ses_svc_t *v)
{
    uint32_t cid = ses_get32(p);
    v->cid = cid;
    if (!svc_known(cid))   /* queries, updates: the common case, nothing to read */
        return 0;
    if (cid == MTP_ID_mt_rpc_result) {   /* every answer: only these fields are read */
        if (n < 16)
            return MTP_ETRUNC;
        v->body = p;
        v->len = n;
        v->msg_id = ses_get64(p + 4);
        v->result = p + 12;
        v->result_len = n - 12;
        return 1;
    }
    memset(v, 0, sizeof *v);
    v->cid = cid;
    v->body = p;
    v->len = n;
    mtp_tl_reader_t r;
    ses_rd_init(&r, p + 4, n - 4);
    if (rd_about(&r, v->cid, v))
        return ses_rd_done(&r) ? 1 : (r.err ? r.err : MTP_EBADTL);
    switch (v->cid) {
    case MTP_ID_mt_ping_delay_disconnect:
    case MTP_ID_mt_ping:
        v->ping_id = mtp_tl_read_long(&r);
        if (v->cid == MTP_ID_mt_ping_delay_disconnect)
            v->num = mtp_tl_read_int(&r);
        break;
    case MTP_ID_mt_pong:
        v->msg_id = mtp_tl_read_long(&r);
        v->ping_id = mtp_tl_read_long(&r);
        break;
    case MTP_ID_mt_get_future_salts:
        v->num = mtp_tl_read_int(&r);
        break;
    case MTP_ID_mt_future_salts:
        rd_future_salts(&r, v);
        break;
    case MTP_ID_mt_new_session_created:
        v->first_msg_id = mtp_tl_read_long(&r);
        v->unique_id = mtp_tl_read_long(&r);
        v->salt = mtp_tl_read_long(&r);
        break;
    case MTP_ID_mt_destroy_session:
    case MTP_ID_mt_destroy_session_ok:
    case MTP_ID_mt_destroy_session_none:
        v->session_id = mtp_tl_read_long(&r);
        break;
    case MTP_ID_mt_rpc_drop_answer:
        v->msg_id = mtp_tl_read_long(&r);
        break;
    case MTP_ID_mt_http_wait:
    case MTP_ID_mt_msg_copy:
    case MTP_ID_mt_msg_container:
        return 1;   /* recognised, nothing the session reads from them */
    default:
        return 0;
    }
    return ses_rd_done(&r) ? 1 : (r.err ? r.err : MTP_EBADTL);
}

/* ---- handling shared by both roles ---- */

/* Status byte of msgs_state_info for id (§5.1). */
static uint8_t ses_state_of(const mtp_session_t *s, int64_t id, mtp_usec_t now)
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

static void ses_answer_state_req(mtp_session_t *s, int64_t req, const uint8_t *raw,
                                 uint32_t n, mtp_usec_t now)
{
    uint8_t *info = malloc(n ? n : 1);
    if (!info)
        return;
    for (uint32_t i = 0; i < n; i++)
        info[i] = ses_state_of(s, ses_get64(raw + (size_t)i * 8), now);
    mtp_mt_msgs_state_info_t o = { { &mtp_tlc_mt_msgs_state_info }, req, { info, n } };
    ses_enqueue_obj(s, &o, false, true);
    free(info);
    ses_ack_remove(s, req);
}

static void ses_handle_acks(mtp_session_t *s, const uint8_t *raw, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        out_msg_t *m = idmap_get(&s->by_msg, ses_get64(raw + (size_t)i * 8));
        if (!m)
            continue;
        if (m->kind == OM_CALL) {
            if (!m->acked) {
                m->acked = true;
                ses_ol_push_back(&s->acked, m);   /* also cancels a queued re-send */
            }
        } else {
            ses_om_free(s, m);
        }
    }
}

/* msg_resend_req: re-send what we still hold. */
static void ses_handle_resend_req(mtp_session_t *s, const uint8_t *raw, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        out_msg_t *m = ses_om_current(s, ses_get64(raw + (size_t)i * 8));
        if (m && m->list != &s->queue)
            ses_resend(s, m, false, 0);
    }
}

void ses_handle_pong(mtp_session_t *s, int64_t msg_id, int64_t ping_id, const uint8_t *p, size_t n,
                     mtp_usec_t now)
{
    out_msg_t *m = idmap_get(&s->by_msg, msg_id);
    if (m && m->kind == OM_CALL) {
        ses_complete_call(s, m, 0, p, n, 0);
        return;
    }
    for (uint32_t i = 0; i < MAX_PINGS; i++) {
        struct ping_slot *sl = &s->pings[i];
        if (sl->used && sl->msg_id && sl->msg_id == msg_id && sl->ping_id == ping_id) {
            ev_node_t *e = ses_ev_push(s, MTP_SESSION_EV_PONG);
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

/* ping / ping_delay_disconnect: pong (the server's counts as the answer to the query, and
 * the delayed form arms its disconnect deadline). */
static void answer_ping(mtp_session_t *s, int64_t id, const ses_svc_t *v, mtp_usec_t now)
{
    mtp_mt_pong_t pong = { { &mtp_tlc_mt_pong }, id, v->ping_id };
    ses_enqueue_obj(s, &pong, false, is_server(s));
    if (!is_server(s))
        return;
    ses_ack_remove(s, id);
    if (v->cid == MTP_ID_mt_ping_delay_disconnect)
        s->disconnect_at = v->num > 0 ? add_sat(now, (mtp_usec_t)v->num * SEC) : 0;
}

bool ses_svc_common(mtp_session_t *s, int64_t id, const ses_svc_t *v, mtp_usec_t now)
{
    switch (v->cid) {
    case MTP_ID_mt_msgs_ack:
        ses_handle_acks(s, v->ids, v->n_ids);
        return true;
    case MTP_ID_mt_ping:
    case MTP_ID_mt_ping_delay_disconnect:
        answer_ping(s, id, v, now);
        return true;
    case MTP_ID_mt_pong:
        ses_handle_pong(s, v->msg_id, v->ping_id, v->body, v->len, now);
        return true;
    case MTP_ID_mt_msgs_state_req:
        ses_answer_state_req(s, id, v->ids, v->n_ids, now);
        return true;
    case MTP_ID_mt_msg_resend_req:
        ses_handle_resend_req(s, v->ids, v->n_ids);
        return true;
    default:
        return false;
    }
}
