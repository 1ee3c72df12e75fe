/*
 * libmtproto — the MTProto session, both roles (PROTOCOL.md §3.5–3.8, §5, §6, §7.5).
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
 * The session is split by job: session_out.c (out-records), session_pack.c (packing,
 * acks, gzip, containers), session_salts.c, session_service.c (the service messages
 * both roles parse and share), session_server.c and session_client.c (the two roles
 * incoming), session_rpc.c (rpc_error, invoke wrappers). This file: configuration,
 * lifetime, the outgoing API, timers, events and the feed entry point.
 */
#include "session_impl.h"

/* ---- randomness ---- */

int ses_rand64(const mtp_session_t *s, int64_t *out)
{
    uint8_t b[8];
    for (int i = 0; i < 4; i++) {
        int rc = mtp_rand(s->cfg.rng, b, sizeof b);
        if (rc)
            return rc < 0 ? rc : MTP_ECRYPTO;
        int64_t v = ses_get64(b);
        if (v) {
            *out = v;
            return 0;
        }
    }
    return MTP_ECRYPTO;   /* an RNG that only gives zeros is broken */
}

/* ---- events ---- */

ev_node_t *ses_ev_push(mtp_session_t *s, mtp_session_event_type_t type)
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

static void ses_ev_free(ev_node_t *n)
{
    if (!n)
        return;
    mtp_buf_free(&n->a);
    mtp_buf_free(&n->b);
    free(n);
}

/* An event the application is done with: keep the node for the next one when there is room. */
static void ses_ev_recycle(mtp_session_t *s, ev_node_t *n)
{
    if (!n)
        return;
    size_t bytes = n->a.cap + n->b.cap;
    if (s->ev_nspare >= EV_SPARE_MAX || s->spare_bytes > s->cfg.reuse_bytes ||
        bytes > s->cfg.reuse_bytes - s->spare_bytes) {
        ses_ev_free(n);
        return;
    }
    n->next = s->ev_spare;
    s->ev_spare = n;
    s->ev_nspare++;
    s->spare_bytes += bytes;
}

/* ---- configuration, lifetime ---- */

void mtp_session_config_init_versioned(unsigned version, mtp_session_config_t *c,
                                       mtp_role_t role)
{
    if (version != MTP_SESSION_CONFIG_VERSION) {
        c->version = version;   /* a layout we do not know: touch nothing else */
        return;
    }
    memset(c, 0, sizeof *c);
    c->version = version;
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

int mtp_session_new(const mtp_session_config_t *cfg, mtp_session_t **out)
{
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    if (!cfg)
        return MTP_EINVAL;
    if (cfg->version != MTP_SESSION_CONFIG_VERSION)
        return MTP_EVERSION;
    if (cfg->role != MTP_ROLE_CLIENT && cfg->role != MTP_ROLE_SERVER)
        return MTP_EINVAL;
    if (cfg->role == MTP_ROLE_SERVER && !cfg->session_id)
        return MTP_EINVAL;
    mtp_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return MTP_ENOMEM;
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
    s->chk = calloc(MAX_CONTAINER, sizeof *s->chk);
    if (!s->acks || !s->items || !s->chk || inwin_init(&s->win, c->replay_window)) {
        mtp_session_free(s);
        return MTP_ENOMEM;
    }
    if (!s->session_id) {
        int rc = ses_rand64(s, &s->session_id);
        if (rc) {
            mtp_session_free(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

void mtp_session_free(mtp_session_t *s)
{
    if (!s)
        return;
    olist_t *lists[] = { &s->queue, &s->unacked, &s->acked };
    for (size_t i = 0; i < 3; i++)
        while (lists[i]->head) {
            out_msg_t *m = lists[i]->head;
            ses_ol_remove(m);
            free(m);
        }
    ses_ev_free(s->ev_cur);
    while (s->ev_head) {
        ev_node_t *n = s->ev_head;
        s->ev_head = n->next;
        ses_ev_free(n);
    }
    while (s->ev_spare) {
        ev_node_t *n = s->ev_spare;
        s->ev_spare = n->next;
        ses_ev_free(n);
    }
    for (int i = 0; i < OM_SPARE_MAX; i++)
        free(s->om_spare[i]);
    idmap_free(&s->by_msg);
    idmap_free(&s->by_call);
    inwin_free(&s->win);
    free(s->acks);
    free(s->items);
    free(s->chk);
    free(s->sreq_ids);
    mtp_buf_free(&s->out);
    mtp_buf_free(&s->gz1);
    mtp_buf_free(&s->gz2);
    mtp_buf_free(&s->tmp);
    free(s);
}

void ses_touch(mtp_session_t *s, mtp_usec_t now)
{
    if (!s->touched) {
        s->touched = true;
        if (!is_server(s) && s->cfg.ping_interval > 0)
            s->next_ping_at = add_sat(now, s->cfg.ping_interval);
    }
    s->last_now = now;
}

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

/* ---- outgoing API ---- */

int64_t mtp_session_call_after(mtp_session_t *s, const uint8_t *body, size_t len,
                               uint32_t flags, uint64_t after, void *user, mtp_usec_t now)
{
    if (!s || !body_ok(body, len))
        return MTP_EINVAL;
    if (flags & ~MTP_SESS_CALL_MASK)
        return MTP_EINVAL;
    if (is_server(s) || s->closed)
        return MTP_ESTATE;
    ses_touch(s, now);
    if (idmap_reserve(&s->by_call, 1) || idmap_reserve(&s->by_msg, 4))
        return MTP_ENOMEM;
    if (ses_salts_needed(s, now))
        ses_queue_salts_req(s, now);
    out_msg_t *m;
    mtp_buf_t *b = ses_tmp_start(s);
    if (!(flags & MTP_SESS_NO_GZIP) && ses_maybe_gzip(s, body, len, b))
        m = ses_enqueue(s, b->data, b->len, OM_CALL, true, true, false);
    else
        m = ses_enqueue(s, body, len, OM_CALL, true, true, false);
    if (!m)
        return MTP_ENOMEM;
    m->call_id = ++s->next_call_id;
    m->user = user;
    m->alone = (flags & MTP_SESS_ALONE) != 0;
    if (!after && (flags & MTP_SESS_ORDERED))
        after = s->last_ordered;
    m->after = after;
    if (flags & MTP_SESS_ORDERED)
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
    ses_touch(s, now);
    out_msg_t *m = call_id ? idmap_get(&s->by_call, (int64_t)call_id) : NULL;
    if (!m)
        return MTP_ENOTFOUND;
    if (m->msg_id && !s->closed) {
        mtp_mt_rpc_drop_answer_t o = { { &mtp_tlc_mt_rpc_drop_answer }, m->msg_id };
        ses_enqueue_obj(s, &o, true, false);
    }
    ses_complete_call(s, m, MTP_ECANCELED, NULL, 0, 0);
    return 0;
}

int mtp_session_send_raw(mtp_session_t *s, const uint8_t *body, size_t len, uint32_t flags,
                         mtp_usec_t now)
{
    if (!s || !body_ok(body, len))
        return MTP_EINVAL;
    if (s->closed)
        return MTP_ESTATE;
    ses_touch(s, now);
    out_msg_t *m = ses_enqueue(s, body, len, OM_SERVICE, (flags & MTP_SESS_SEND_CONTENT) != 0,
                               false, (flags & MTP_SESS_SEND_ANSWER) != 0);
    if (!m)
        return MTP_ENOMEM;
    m->alone = (flags & MTP_SESS_SEND_ALONE) != 0;
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
    ses_touch(s, now);
    mtp_mt_ping_t ping = { { &mtp_tlc_mt_ping }, ping_id };
    mtp_mt_ping_delay_disconnect_t pdd = { { &mtp_tlc_mt_ping_delay_disconnect }, ping_id,
                                           disconnect_delay };
    out_msg_t *m = disconnect_delay > 0 ? ses_enqueue_obj(s, &pdd, true, false)
                                        : ses_enqueue_obj(s, &ping, true, false);
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

/* ---- timers ---- */

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
            else if (s->n_salts)
                MIN_D((mtp_usec_t)ses_salts_max_until(s) * SEC - s->cfg.salt_refresh_margin -
                      s->offset);
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
        ses_ol_push_back(&s->unacked, m);   /* keeps the list ordered by timer start */
    }
    if (!n) {
        free(ids);
        return;
    }
    mtp_mt_msgs_state_req_t o = { { &mtp_tlc_mt_msgs_state_req }, { n, ids } };
    out_msg_t *m = ses_enqueue_obj(s, &o, false, false);
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
    ses_touch(s, now);
    if (is_server(s)) {
        if (s->disconnect_at && now >= s->disconnect_at) {
            s->disconnect_at = 0;
            ses_ev_push(s, MTP_SESSION_EV_DISCONNECT);
        }
        return 0;
    }
    if (s->cfg.ping_interval > 0 && now >= s->next_ping_at) {
        s->next_ping_at = add_sat(now, s->cfg.ping_interval);
        int64_t ping_id;
        int rc = ses_rand64(s, &ping_id);
        if (rc)
            return rc;   /* no ping with a made-up id: this one is skipped */
        mtp_session_ping(s, ping_id, s->cfg.ping_disconnect_delay, now);
    }
    if (s->cfg.resend_timeout > 0 && s->unacked.head &&
        add_sat(s->unacked.head->sent_at, s->cfg.resend_timeout) <= now)
        send_state_req(s, now);
    if (s->salts_req_at && now >= add_sat(s->salts_req_at, SALTS_RETRY))
        s->salts_req_at = 0;   /* the request got lost: allow another */
    if (ses_salts_needed(s, now) && (s->n_salts || s->by_call.n))
        ses_queue_salts_req(s, now);
    return 0;
}

/* ---- lifecycle ---- */

void ses_client_new_session(mtp_session_t *s, int32_t code, mtp_usec_t now)
{
    int64_t old = s->session_id, id;
    do {
        int rc = ses_rand64(s, &id);
        if (rc) {   /* no new session id can be drawn: the session cannot go on */
            mtp_session_close(s, rc);
            return;
        }
    } while (id == old);
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
            ses_om_free(s, m);
    }
    ses_requeue_sent(s, true, true, code);
    ev_node_t *e = ses_ev_push(s, MTP_SESSION_EV_SESSION_RESET);
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
    ses_touch(s, now);
    ses_requeue_sent(s, false, false, 0);
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
                ses_complete_call(s, m, err, NULL, 0, 0);
            else
                ses_om_free(s, m);
        }
    s->n_acks = 0;
    s->closed = true;
}

/* ---- events, feed ---- */

int mtp_session_next_event(mtp_session_t *s, mtp_session_event_t *ev)
{
    if (!s || !ev)
        return MTP_EINVAL;
    ses_ev_recycle(s, s->ev_cur);
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
        ses_ev_recycle(s, n);   /* an event withdrawn after it was queued */
    }
    s->ev_cur = n;
    *ev = n->ev;
    return 1;
}

/* ---------------------------------------------------------------------------------- */

int mtp_session_feed(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now)
{
    if (!s || !m || (!m->body && m->len))
        return MTP_EINVAL;
    if (s->closed)
        return MTP_ESTATE;
    ses_touch(s, now);
    if (m->session_id != s->session_id)
        return MTP_ESTATE;
    if (s->cfg.trace)
        ses_trace_msg(s, MTP_TRACE_IN, m->session_id, m->msg_id, m->seq_no, m->body, m->len);
    int rc = is_server(s) ? ses_server_packet(s, m, now) : ses_client_packet(s, m, now);
    ses_scratch_trim(s);
    return rc;
}
