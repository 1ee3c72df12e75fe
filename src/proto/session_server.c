/*
 * libmtproto — the session's server role (the test harness; PROTOCOL.md §5, §6, §7.5):
 * checks of every incoming msg_id, seq_no and salt, containers taken or refused as a
 * whole, the service messages only a server answers (get_future_salts, destroy_session,
 * rpc_drop_answer), queries handed out unwrapped, and the replies.
 */
#include "session_impl.h"

/* ---- replies ---- */

int ses_server_answer(mtp_session_t *s, int64_t req, const uint8_t *body, size_t len,
                      bool allow_gzip)
{
    uint8_t head[12];
    ses_put32(head, MTP_ID_mt_rpc_result);
    ses_put64(head + 4, req);
    mtp_buf_t *b = ses_tmp_start(s);
    mtp_buf_append(b, head, sizeof head);
    out_msg_t *m;
    if (allow_gzip && ses_maybe_gzip(s, body, len, b))
        m = b->err ? NULL : ses_enqueue(s, b->data, b->len, OM_ANSWER, true, true, true);
    else   /* straight into the record: one copy of a 1 MiB file part, not two */
        m = ses_enqueue2(s, head, sizeof head, body, len, OM_ANSWER, true, true, true);
    if (!m)
        return MTP_ENOMEM;
    m->req_msg_id = req;
    ses_ack_remove(s, req);   /* the rpc_result acknowledges the query */
    ses_evict_retained(s);
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
    ses_touch(s, now);
    in_rec_t *r = inwin_find(&s->win, req_msg_id);
    if (r) {
        if (r->flags & IN_DROPPED)
            return 0;   /* the client asked us to drop it */
        r->flags |= IN_ANSWERED | IN_ACKED;
    }
    return ses_server_answer(s, req_msg_id, body, len, !(flags & MTP_SESS_NO_GZIP));
}

int mtp_session_reply_error(mtp_session_t *s, int64_t req_msg_id, int32_t code,
                            const char *message, mtp_usec_t now)
{
    if (!s || !message)
        return MTP_EINVAL;
    mtp_mt_rpc_error_t e = { { &mtp_tlc_mt_rpc_error }, code,
                             { (const uint8_t *)message, strlen(message) } };
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = mtp_tl_encode(&e._, &b);
    if (!rc)
        rc = mtp_session_reply(s, req_msg_id, b.data, b.len, now);
    mtp_buf_free(&b);
    return rc;
}

int mtp_session_push(mtp_session_t *s, const uint8_t *body, size_t len, mtp_usec_t now)
{
    if (!s || !body_ok(body, len))
        return MTP_EINVAL;
    if (!is_server(s) || s->closed)
        return MTP_ESTATE;
    ses_touch(s, now);
    if (!ses_enqueue(s, body, len, OM_PUSH, true, true, false))
        return MTP_ENOMEM;
    ses_evict_retained(s);
    return 0;
}

/* ---- notifications ---- */

static void server_bad_msg(mtp_session_t *s, int64_t id, int32_t seq, int32_t code)
{
    mtp_mt_bad_msg_notification_t o = { { &mtp_tlc_mt_bad_msg_notification }, id, seq, code };
    ses_enqueue_obj(s, &o, false, true);
    s->st.bad_msg_out++;
    s->st.last_bad_msg_code = (uint32_t)code;
}

static void server_bad_salt(mtp_session_t *s, int64_t id, int32_t seq, mtp_usec_t now)
{
    mtp_mt_bad_server_salt_t o = { { &mtp_tlc_mt_bad_server_salt }, id, seq, 48,
                                   ses_salt_at(s, secs(now)) };
    ses_enqueue_obj(s, &o, false, true);
    s->st.bad_msg_out++;
    s->st.last_bad_msg_code = 48;
}

/* An rpc_error as the answer to query id. */
static void server_error(mtp_session_t *s, int64_t id, int32_t code, const char *text)
{
    mtp_mt_rpc_error_t e = { { &mtp_tlc_mt_rpc_error }, code,
                             { (const uint8_t *)text, strlen(text) } };
    mtp_buf_t eb;
    mtp_buf_init(&eb);
    if (!mtp_tl_encode(&e._, &eb))
        ses_server_answer(s, id, eb.data, eb.len, false);
    mtp_buf_free(&eb);
}

/* new_session_created before the first answer; MTP_ECRYPTO (nothing sent, the packet is
 * dropped) when no unique_id can be drawn. */
static int server_announce(mtp_session_t *s, int64_t first, mtp_usec_t now)
{
    if (s->announced)
        return 0;
    if (!s->cfg.announce_new_session) {
        s->announced = true;
        return 0;
    }
    mtp_mt_new_session_created_t o = { { &mtp_tlc_mt_new_session_created }, first, 0,
                                       ses_salt_at(s, secs(now)) };
    int rc = ses_rand64(s, &o.unique_id);
    if (rc)
        return rc;
    s->announced = true;
    mtp_buf_t *b = ses_tmp_start(s);
    if (!mtp_tl_encode(&o._, b))
        ses_enqueue(s, b->data, b->len, OM_PUSH, true, true, false);
    return 0;
}

/* The bad_msg code for a client msg_id's parity (18) and time window (16/17), or 0. */
static int32_t server_id_code(int64_t id, mtp_usec_t now)
{
    if (id & 3)
        return 18;
    mtp_usec_t t = mtp_msg_id_time(id);
    if (id <= 0 || t < now - WINDOW_PAST)
        return 16;
    if (t > now + WINDOW_FUTURE)
        return 17;
    return 0;
}

/* false = rejected and answered */
static bool server_check_id(mtp_session_t *s, int64_t id, int32_t seq, mtp_usec_t now)
{
    int32_t code = server_id_code(id, now);
    if (code)
        server_bad_msg(s, id, seq, code);
    return code == 0;
}

int ses_classify(uint32_t cid)
{
    switch (cid) {
    case MTP_ID_mt_msg_container:
    case MTP_ID_mt_msg_copy:
        return CLS_EVEN;
    case MTP_ID_mt_msgs_ack:
        /* should be even, but mtcute 0.30 sends odd acks and Telegram accepts them */
        return CLS_ANY;
    case MTP_ID_mt_ping:
    case MTP_ID_mt_ping_delay_disconnect:
    case MTP_ID_mt_pong:
    case MTP_ID_mt_get_future_salts:
    case MTP_ID_mt_msgs_state_req:
    case MTP_ID_mt_msgs_state_info:
    case MTP_ID_mt_msgs_all_info:
    case MTP_ID_mt_msg_resend_req:
    case MTP_ID_mt_msg_detailed_info:
    case MTP_ID_mt_msg_new_detailed_info:
    case MTP_ID_mt_destroy_session:
    case MTP_ID_mt_destroy_auth_key:
    case MTP_ID_mt_http_wait:
    case MTP_ID_mt_rpc_drop_answer:
        return CLS_ANY;
    default:
        return CLS_ODD;
    }
}

static void server_future_salts(mtp_session_t *s, int64_t req, int32_t num, mtp_usec_t now)
{
    int32_t t = secs(now);
    uint32_t want = num <= 0 ? 1u : (uint32_t)num;
    uint32_t cap = s->cfg.future_salts ? s->cfg.future_salts : MAX_SALTS;
    if (want > cap)
        want = cap;
    if (ses_server_salts_ensure(s, t, want))
        return;   /* no randomness for new salts: no answer (the client asks again) */
    s->salt = ses_salt_at(s, t);
    mtp_mt_future_salt_t fs[MAX_SALTS];
    mtp_tl_object_t *v[MAX_SALTS];
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n_salts && k < want; i++)
        if (s->salts[i].valid_until > t) {
            fs[k] = (mtp_mt_future_salt_t){ { &mtp_tlc_mt_future_salt }, s->salts[i].valid_since,
                                            s->salts[i].valid_until, s->salts[i].salt };
            v[k] = &fs[k]._;
            k++;
        }
    mtp_mt_future_salts_t o = { { &mtp_tlc_mt_future_salts }, req, t, { k, v } };
    ses_enqueue_obj(s, &o, false, true);
    ses_ack_remove(s, req);
}

static void server_drop_answer(mtp_session_t *s, int64_t drop_msg_id, int64_t req)
{
    mtp_mt_rpc_answer_unknown_t unknown = { { &mtp_tlc_mt_rpc_answer_unknown } };
    mtp_mt_rpc_answer_dropped_running_t running = { { &mtp_tlc_mt_rpc_answer_dropped_running } };
    mtp_mt_rpc_answer_dropped_t dropped = { { &mtp_tlc_mt_rpc_answer_dropped } };
    const mtp_tl_object_t *ans = &unknown._;
    in_rec_t *r = inwin_find(&s->win, req);
    if (r && (r->flags & IN_QUERY)) {
        if (!(r->flags & IN_ANSWERED)) {
            r->flags |= IN_DROPPED;
            ans = &running._;
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
                dropped.msg_id = found->msg_id;
                dropped.seq_no = found->seq_no;
                dropped.bytes = (int32_t)found->len;
                ans = &dropped._;
                ses_om_free(s, found);
            } else if (found) {
                ans = &running._;
                ses_om_free(s, found);
            }
        }
    }
    in_rec_t *d = inwin_find(&s->win, drop_msg_id);
    if (d)
        d->flags |= IN_ANSWERED | IN_ACKED;
    mtp_buf_t eb;
    mtp_buf_init(&eb);
    if (!mtp_tl_encode(ans, &eb))
        ses_server_answer(s, drop_msg_id, eb.data, eb.len, false);
    mtp_buf_free(&eb);
}

static void server_query(mtp_session_t *s, int64_t id, const uint8_t *p, size_t n)
{
    in_rec_t *r = inwin_find(&s->win, id);
    if (r)
        r->flags |= IN_QUERY;
    ev_node_t *e = ses_ev_push(s, MTP_SESSION_EV_QUERY);
    if (!e)
        return;
    mtp_query_info_t info, inner;
    int rc = mtp_buf_append(&e->a, p, n);
    if (!rc)
        rc = mtp_query_unwrap(e->a.data, n, &info);
    if (!rc && info.gzipped) {
        rc = ses_inflate_packed(s, info.query.ptr, info.query.len, &e->b);
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
        server_error(s, id, 400, "INPUT_FETCH_ERROR");
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

static void server_destroy_session(mtp_session_t *s, int64_t id, int64_t sid)
{
    int ok = s->cfg.destroy_session ? s->cfg.destroy_session(s->cfg.cb_ctx, sid) : 0;
    if (ok > 0) {
        mtp_mt_destroy_session_ok_t o = { { &mtp_tlc_mt_destroy_session_ok }, sid };
        ses_enqueue_obj(s, &o, false, true);
    } else {
        mtp_mt_destroy_session_none_t o = { { &mtp_tlc_mt_destroy_session_none }, sid };
        ses_enqueue_obj(s, &o, false, true);
    }
    ses_ack_remove(s, id);
}

static void server_dispatch(mtp_session_t *s, int64_t id, const uint8_t *p, size_t n,
                            mtp_usec_t now)
{
    ses_svc_t v;
    int rc = ses_svc_parse(p, n, &v);
    if (rc == 0) {
        server_query(s, id, p, n);
        return;
    }
    if (rc < 0 || ses_svc_common(s, id, &v, now))
        return;
    switch (v.cid) {
    case MTP_ID_mt_get_future_salts:
        server_future_salts(s, id, v.num, now);
        return;
    case MTP_ID_mt_destroy_session:
        server_destroy_session(s, id, v.session_id);
        return;
    case MTP_ID_mt_rpc_drop_answer:
        server_drop_answer(s, id, v.msg_id);
        return;
    default:   /* what a client sends only to be acked, or what only servers send */
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
            ses_ack_add(s, id, now);
        if ((dup->flags & (IN_QUERY | IN_ANSWERED)) == (IN_QUERY | IN_ANSWERED)) {
            /* tell the client where the answer is (it may have lost it) */
            for (out_msg_t *m = s->unacked.head; m; m = m->next)
                if (m->kind == OM_ANSWER && m->req_msg_id == id) {
                    mtp_mt_msg_detailed_info_t o = { { &mtp_tlc_mt_msg_detailed_info }, id,
                                                     m->msg_id, (int32_t)m->len, 0 };
                    ses_enqueue_obj(s, &o, false, true);
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
    if (ses_get32(body) == MTP_ID_mt_gzip_packed) {
        if (ses_inflate_packed(s, body, len, &s->gz1))
            bad_gzip = true;
        else {
            p = s->gz1.data;
            n = s->gz1.len;
        }
    }
    int cls = bad_gzip ? CLS_ODD : ses_classify(ses_get32(p));
    if (cls == CLS_EVEN && (seq & 1)) {
        server_bad_msg(s, id, seq, 34);
        return;
    }
    if (cls == CLS_ODD && !(seq & 1)) {
        server_bad_msg(s, id, seq, 35);
        return;
    }
    bool is_ack = !bad_gzip && ses_get32(p) == MTP_ID_mt_msgs_ack;
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
        ses_ack_add(s, id, now);
    if (bad_gzip) {
        s->st.dropped++;
        in_rec_t *r = inwin_find(&s->win, id);
        if (r)
            r->flags |= IN_QUERY | IN_ANSWERED;
        server_error(s, id, 400, "INPUT_FETCH_ERROR");
        return;
    }
    server_dispatch(s, id, p, n, now);
}

/* ---- packets ---- */

int ses_cmp_chk(const void *a, const void *b)
{
    const ses_chk_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* seq_no order against the neighbours by msg_id (32: too low, 33: too high), or 0. */
static int32_t order_code(const ses_chk_t *pred, const ses_chk_t *succ, int32_t seq)
{
    if (pred && (pred->seq > seq || (pred->seq == seq && (seq & 1))))
        return 32;
    if (succ && (succ->seq < seq || (succ->seq == seq && (seq & 1))))
        return 33;
    return 0;
}

/* Every rule an inner message of a container must pass, checked before any of them is
 * taken: its msg_id (16/17/18, 20 too old), the seq_no parity of its class (34/35), no
 * msg_id twice (64) and the seq_no order against the replay window and the container's
 * other messages (32/33). Returns the bad_msg code for the container, or 0. Messages the
 * window already holds are re-sends: handled one by one as before. */
static int32_t server_container_code(mtp_session_t *s, const uint8_t *b, size_t len,
                                     mtp_usec_t now)
{
    inner_it_t it = ses_inner_begin(b, len);
    /* ids above the window's largest (the usual case) need no lookup in it */
    const in_rec_t *last = s->win.n ? inwin_at(&s->win, s->win.n - 1) : NULL;
    int64_t last_id = last ? last->id : INT64_MIN, prev = INT64_MIN;
    bool increasing = true;
    uint32_t n = 0;
    int64_t id;
    int32_t seq, code;
    const uint8_t *body;
    size_t bn;
    while (ses_inner_next(&it, &id, &seq, &body, &bn)) {
        if ((code = server_id_code(id, now)) != 0)
            return code;
        ses_chk_t *c = &s->chk[n++];
        c->id = id;
        c->fresh = id > last_id;
        c->known = !c->fresh && inwin_find(&s->win, id) != NULL;
        if (!c->known && !c->fresh && inwin_too_old(&s->win, id))
            return 20;
        increasing = increasing && id > prev;
        prev = id;
        uint32_t cid = ses_get32(body);
        c->ack = cid == MTP_ID_mt_msgs_ack;
        c->seq = c->ack ? seq & ~1 : seq;
        int cls = cid == MTP_ID_mt_gzip_packed ? CLS_ANY : ses_classify(cid);
        if (!c->known && cls == CLS_EVEN && (seq & 1))
            return 34;
        if (!c->known && cls == CLS_ODD && !(seq & 1))
            return 35;
    }
    if (!increasing) {   /* sorted by id, then no id may appear twice */
        qsort(s->chk, n, sizeof *s->chk, ses_cmp_chk);
        for (uint32_t i = 1; i < n; i++)
            if (s->chk[i].id == s->chk[i - 1].id)
                return 64;
    }
    for (uint32_t i = 0; i < n; i++) {
        const ses_chk_t *c = &s->chk[i];
        if (c->known || c->ack)
            continue;
        uint32_t w = c->fresh ? s->win.n : inwin_lower(&s->win, c->id);
        const in_rec_t *wp = w > 0 ? inwin_at(&s->win, w - 1) : NULL;
        const in_rec_t *ws = w < s->win.n ? inwin_at(&s->win, w) : NULL;
        ses_chk_t pw = { wp ? wp->id : 0, wp ? wp->seq : 0, false, false, false };
        ses_chk_t sw = { ws ? ws->id : 0, ws ? ws->seq : 0, false, false, false };
        const ses_chk_t *pred = i > 0 ? &s->chk[i - 1] : NULL;
        const ses_chk_t *succ = i + 1 < n ? &s->chk[i + 1] : NULL;
        if (wp && (!pred || pw.id > pred->id))
            pred = &pw;
        if (ws && (!succ || sw.id < succ->id))
            succ = &sw;
        if ((code = order_code(pred, succ, c->seq)) != 0)
            return code;
    }
    return 0;
}

static int server_container(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now)
{
    const uint8_t *b = m->body;
    size_t len = m->len;
    int64_t id = m->msg_id, first = id;
    int32_t code;
    if (inwin_find(&s->win, id))
        code = 19;
    else if (inwin_too_old(&s->win, id))
        code = 20;
    else if (ses_container_check(b, len, id, &first))
        code = 64;
    else if (m->seq_no & 1)   /* a container is never content-related */
        code = 34;
    else
        code = server_container_code(s, b, len, now);
    if (code) {
        /* about the container: the client re-sends (or fails) all of its messages */
        server_bad_msg(s, id, m->seq_no, code);
        return 0;
    }
    int rc = server_announce(s, first, now);
    if (rc)
        return rc;
    inwin_insert(&s->win, id, m->seq_no, IN_CONTAINER);
    s->st.containers_in++;
    inner_it_t it = ses_inner_begin(b, len);
    int64_t iid;
    int32_t iseq;
    const uint8_t *ib;
    size_t in;
    while (ses_inner_next(&it, &iid, &iseq, &ib, &in))
        server_msg(s, iid, iseq, ib, in, now);
    return 0;
}

int ses_server_packet(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now)
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
    if (s->n_salts) {
        int rc = ses_server_salts_ensure(s, t, 1);   /* rotate: the table always covers now */
        if (rc)
            return rc;
    }
    if (!ses_server_salt_ok(s, m->salt, t)) {
        server_bad_salt(s, id, m->seq_no, now);
        return 0;
    }
    if (ses_get32(b) == MTP_ID_mt_msg_container)
        return server_container(s, m, now);
    int rc = server_announce(s, id, now);
    if (!rc)
        server_msg(s, id, m->seq_no, b, len, now);
    return rc;
}
