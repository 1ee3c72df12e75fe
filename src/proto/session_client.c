/*
 * libmtproto — the session's client role (PROTOCOL.md §5, §6, §7.4): results routed to
 * their calls, the §5.3 reactions to bad_msg_notification / bad_server_salt, new
 * sessions, future salts, state and detailed infos, and updates handed to the
 * application. Containers are checked as a whole before any message of them is taken.
 */
#include "session_impl.h"

/* The retained messages a notification about bad_id refers to (§5.3). */
static size_t affected(mtp_session_t *s, int64_t bad_id, out_msg_t ***out)
{
    *out = NULL;
    out_msg_t *m = ses_om_current(s, bad_id);
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
        qsort(*out, n, sizeof **out, ses_cmp_om_id);
    return n;
}

static void client_bad_msg(mtp_session_t *s, int64_t notif_id, int64_t bad_id, int32_t code,
                           bool has_salt, int64_t new_salt, mtp_usec_t now)
{
    if (!ses_recently_sent(s, bad_id)) {
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
            ses_client_new_session(s, 17, now);   /* our ids must go down: fresh id space */
            break;
        }
        for (size_t i = 0; i < n; i++)
            ses_resend(s, v[i], true, code);
        break;
    case 48:
        if (has_salt) {
            s->salt = new_salt;
            s->n_salts = 0;   /* whatever we believed about salts was wrong */
            ses_ev_push(s, MTP_SESSION_EV_SALTS);
        }
        for (size_t i = 0; i < n; i++)
            ses_resend(s, v[i], true, code);
        break;
    case 20:
        for (size_t i = 0; i < n; i++)
            ses_resend(s, v[i], true, code);
        break;
    case 32:
    case 33:
        ses_client_new_session(s, code, now);
        break;
    default:   /* 18, 19, 34, 35, 64 and unknown codes: our bug, never retried */
        for (size_t i = 0; i < n; i++) {
            if (v[i]->kind == OM_CALL)
                ses_complete_call(s, v[i], MTP_EPROTO, NULL, 0, code);
            else
                ses_om_free(s, v[i]);
        }
        break;
    }
    free(v);
}

static void client_future_salts(mtp_session_t *s, const ses_svc_t *v, mtp_usec_t now)
{
    mtp_future_salt_t f[MAX_SALTS];
    uint32_t m = v->n_salts < MAX_SALTS ? v->n_salts : MAX_SALTS;
    for (uint32_t i = 0; i < m; i++) {
        const uint8_t *p = v->salts + (size_t)i * 16;
        f[i].valid_since = (int32_t)ses_get32(p);
        f[i].valid_until = (int32_t)ses_get32(p + 4);
        f[i].salt = ses_get64(p + 8);
    }
    if (v->msg_id && v->msg_id == s->salts_req_msg_id) {
        s->salts_req_msg_id = 0;
        s->salts_req_at = 0;
    }
    ses_client_store_salts(s, f, m, secs(server_time(s, now)));
    ses_ev_push(s, MTP_SESSION_EV_SALTS);
    out_msg_t *c = idmap_get(&s->by_msg, v->msg_id);
    if (c && c->kind == OM_CALL)
        ses_complete_call(s, c, 0, v->body, v->len, 0);
}

static void client_rpc_result(mtp_session_t *s, int64_t req, const uint8_t *res, size_t n,
                              mtp_usec_t now)
{
    out_msg_t *m = idmap_get(&s->by_msg, req);
    if (n < 4 || n % 4) {
        if (m && m->kind == OM_CALL)
            ses_complete_call(s, m, MTP_EPROTO, NULL, 0, 0);
        return;
    }
    if (ses_get32(res) == MTP_ID_mt_gzip_packed) {
        int rc = ses_inflate_packed(s, res, n, &s->gz2);
        if (rc) {
            if (m && m->kind == OM_CALL)
                ses_complete_call(s, m, rc == MTP_ENOMEM ? rc : MTP_EGZIP, NULL, 0, 0);
            return;
        }
        res = s->gz2.data;
        n = s->gz2.len;
    }
    if (!m || m->kind != OM_CALL) {
        /* answers to our own service requests, wrapped in rpc_result */
        ses_svc_t v;
        if (ses_svc_parse(res, n, &v) <= 0)
            return;   /* unknown or finished call (cancelled, dropped): ignore */
        if (v.cid == MTP_ID_mt_future_salts && req == s->salts_req_msg_id)
            client_future_salts(s, &v, now);
        else if (v.cid == MTP_ID_mt_pong)
            ses_handle_pong(s, v.msg_id, v.ping_id, res, n, now);
        return;
    }
    if (ses_get32(res) == MTP_ID_mt_rpc_error)
        ses_complete_call(s, m, MTP_ERPC, res, n, 0);
    else
        ses_complete_call(s, m, 0, res, n, 0);
}

static void client_state_info(mtp_session_t *s, int64_t req, mtp_bytes_t info)
{
    if (!req || req != s->sreq_msg_id || !s->sreq_ids)
        return;
    uint32_t n = s->sreq_n < info.len ? s->sreq_n : (uint32_t)info.len;
    for (uint32_t i = 0; i < n; i++) {
        out_msg_t *m = ses_om_current(s, s->sreq_ids[i]);
        if (!m || m->list != &s->unacked)
            continue;
        uint8_t st = info.ptr[i] & 7;
        if (st == 1 || st == 2 || st == 3)
            ses_resend(s, m, true, 0);      /* the server never got it */
        else if (st == 4) {
            m->acked = true;
            ses_ol_push_back(&s->acked, m);
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
            ses_ol_push_back(&s->acked, m);
        }
    }
    if (inwin_find(&s->win, answer_id)) {
        ses_ack_add(s, answer_id, now);       /* we have it: the server lacks our ack */
    } else {
        mtp_mt_msg_resend_req_t o = { { &mtp_tlc_mt_msg_resend_req }, { 1, &answer_id } };
        ses_enqueue_obj(s, &o, false, false);   /* we lost it: ask for it again */
    }
}

static void client_new_session_created(mtp_session_t *s, const ses_svc_t *v)
{
    s->salt = v->salt;
    ev_node_t *e = ses_ev_push(s, MTP_SESSION_EV_NEW_SESSION);
    if (e) {
        e->ev.msg_id = v->first_msg_id;
        e->ev.unique_id = v->unique_id;
        e->ev.server_salt = v->salt;
    }
    /* what we sent before first_msg_id may be lost: send the pending calls again */
    out_msg_t **q = NULL;
    size_t k = 0, cap = s->unacked.n + s->acked.n;
    if (cap && (q = malloc(cap * sizeof *q))) {
        olist_t *lists[] = { &s->unacked, &s->acked };
        for (size_t i = 0; i < 2; i++)
            for (out_msg_t *m = lists[i]->head; m; m = m->next)
                if (m->kind == OM_CALL && m->msg_id < v->first_msg_id)
                    q[k++] = m;
        qsort(q, k, sizeof *q, ses_cmp_om_id);
        for (size_t i = 0; i < k; i++)
            ses_resend(s, q[i], true, 0);
        free(q);
    }
}

/* msgs_all_info: what the server says it received (status 4) counts as acked. */
static void client_all_info(mtp_session_t *s, const ses_svc_t *v)
{
    for (uint32_t i = 0; i < v->n_ids && i < v->info.len; i++) {
        out_msg_t *m = ses_om_current(s, ses_get64(v->ids + (size_t)i * 8));
        if (m && m->kind == OM_CALL && m->list == &s->unacked && (v->info.ptr[i] & 7) == 4) {
            m->acked = true;
            ses_ol_push_back(&s->acked, m);
        }
    }
}

/* destroy_session_ok / _none: the answer to our destroy_session call for that id. */
static void client_destroyed(mtp_session_t *s, const ses_svc_t *v)
{
    olist_t *lists[] = { &s->unacked, &s->acked };
    for (size_t i = 0; i < 2; i++)
        for (out_msg_t *m = lists[i]->head; m; m = m->next)
            if (m->kind == OM_CALL && m->len == 12 &&
                ses_get32(m->body) == MTP_ID_mt_destroy_session &&
                ses_get64(m->body + 4) == v->session_id) {
                ses_complete_call(s, m, 0, v->body, v->len, 0);
                return;
            }
}

/* Anything that is not a service message: an update for the application. */
static void client_update(mtp_session_t *s, int64_t id, int32_t seq, const uint8_t *p, size_t n)
{
    ev_node_t *e = ses_ev_push(s, MTP_SESSION_EV_UPDATE);
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
}

static void client_dispatch(mtp_session_t *s, int64_t id, int32_t seq, const uint8_t *p,
                            size_t n, mtp_usec_t now)
{
    ses_svc_t v;
    int rc = ses_svc_parse(p, n, &v);
    if (rc == 0) {
        client_update(s, id, seq, p, n);
        return;
    }
    if (rc < 0 || ses_svc_common(s, id, &v, now))
        return;
    switch (v.cid) {
    case MTP_ID_mt_rpc_result:
        client_rpc_result(s, v.msg_id, v.result, v.result_len, now);
        return;
    case MTP_ID_mt_bad_msg_notification:
    case MTP_ID_mt_bad_server_salt:
        client_bad_msg(s, id, v.msg_id, v.code, v.cid == MTP_ID_mt_bad_server_salt, v.salt, now);
        return;
    case MTP_ID_mt_new_session_created:
        client_new_session_created(s, &v);
        return;
    case MTP_ID_mt_future_salts:
        client_future_salts(s, &v, now);
        return;
    case MTP_ID_mt_msgs_state_info:
        client_state_info(s, v.msg_id, v.info);
        return;
    case MTP_ID_mt_msgs_all_info:
        client_all_info(s, &v);
        return;
    case MTP_ID_mt_msg_detailed_info:
    case MTP_ID_mt_msg_new_detailed_info:
        client_detailed(s, v.msg_id, v.answer_id, now);
        return;
    case MTP_ID_mt_destroy_session_ok:
    case MTP_ID_mt_destroy_session_none:
        client_destroyed(s, &v);
        return;
    default:   /* http_wait, msg_copy, nested containers (cannot pass ses_container_check),
                * what only clients send: ignored */
        return;
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
            ses_ack_add(s, id, now);   /* our ack got lost: send it again */
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
    bool exempt = cid == MTP_ID_mt_bad_msg_notification || cid == MTP_ID_mt_bad_server_salt;
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
    if (cid == MTP_ID_mt_gzip_packed) {
        rc = ses_inflate_packed(s, body, len, &s->gz1);
        if (!rc) {
            p = s->gz1.data;
            n = s->gz1.len;
        }
    }
    inwin_insert(&s->win, id, seq, (seq & 1) ? IN_CONTENT : 0);
    s->st.msgs_in++;
    if (seq & 1)
        ses_ack_add(s, id, now);   /* even a broken one: else the server re-sends it forever */
    if (rc) {
        s->st.dropped++;
        return MTP_EPROTO;
    }
    client_dispatch(s, id, seq, p, n, now);
    return 0;
}

/* Every inner message of a container is checked before any is taken: odd msg_ids (server
 * messages), each in the time window (the first one fixes an unsynced clock, as it would
 * when taken), no msg_id twice. */
static int client_container_ok(mtp_session_t *s, const uint8_t *b, size_t len, mtp_usec_t now)
{
    inner_it_t it = ses_inner_begin(b, len);
    bool synced = s->synced, increasing = true;
    mtp_usec_t offset = s->offset;
    const in_rec_t *last = s->win.n ? inwin_at(&s->win, s->win.n - 1) : NULL;
    int64_t last_id = last ? last->id : INT64_MIN, prev = INT64_MIN;
    uint32_t n = 0;
    int64_t id;
    int32_t seq;
    const uint8_t *body;
    size_t bn;
    while (ses_inner_next(&it, &id, &seq, &body, &bn)) {
        if (!(id & 1))
            return MTP_ESECURITY;
        s->chk[n++].id = id;
        increasing = increasing && id > prev;
        prev = id;
        if (id <= last_id && (inwin_find(&s->win, id) || inwin_too_old(&s->win, id)))
            continue;   /* a re-send or too old: dropped one by one */
        uint32_t cid = ses_get32(body);
        if (cid == MTP_ID_mt_bad_msg_notification || cid == MTP_ID_mt_bad_server_salt)
            continue;   /* exempt from the time window */
        mtp_usec_t t = mtp_msg_id_time(id);
        if (!synced) {
            offset = t - now;
            synced = true;
        } else if (t < now + offset - WINDOW_PAST || t > now + offset + WINDOW_FUTURE) {
            return MTP_ESECURITY;
        }
    }
    if (increasing)
        return 0;   /* strictly increasing: no id twice */
    qsort(s->chk, n, sizeof *s->chk, ses_cmp_chk);
    for (uint32_t i = 1; i < n; i++)
        if (s->chk[i].id == s->chk[i - 1].id)
            return MTP_EPROTO;
    return 0;
}

int ses_client_packet(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now)
{
    if (!(m->msg_id & 1)) {
        s->st.dropped++;
        return MTP_ESECURITY;
    }
    if (m->len < 4 || m->len % 4) {
        s->st.dropped++;
        return MTP_EPROTO;
    }
    if (ses_get32(m->body) != MTP_ID_mt_msg_container)
        return client_msg(s, m->msg_id, m->seq_no, m->body, m->len, now);
    int64_t first = m->msg_id;
    int rc = ses_container_check(m->body, m->len, m->msg_id, &first) ? MTP_EPROTO : 0;
    if (!rc)
        rc = client_container_ok(s, m->body, m->len, now);
    if (rc) {   /* refused as a whole: nothing of it taken, acked or remembered */
        s->st.dropped++;
        return rc;
    }
    s->st.containers_in++;
    if (!inwin_find(&s->win, m->msg_id) && !inwin_too_old(&s->win, m->msg_id))
        inwin_insert(&s->win, m->msg_id, m->seq_no, IN_CONTAINER);
    inner_it_t it = ses_inner_begin(m->body, m->len);
    int64_t iid;
    int32_t iseq;
    const uint8_t *ib;
    size_t in;
    while (ses_inner_next(&it, &iid, &iseq, &ib, &in)) {
        int r = client_msg(s, iid, iseq, ib, in, now);
        if (r < 0 && !rc)
            rc = r;
        if (s->closed)
            break;
    }
    return rc;
}
