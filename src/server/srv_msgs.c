/*
 * libmtproto harness — private messages and their pushes: messages.sendMessage /
 * sendMedia / getHistory (messages.getDialogs: srv_act.c), updates.getState / getDifference, and the update
 * pushes to the other side (shaped by the MTP_SERVER_UPD_* fault rules).
 */
#include "srv_api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* messages, updates                                                                    */
/* ------------------------------------------------------------------------------------ */

typedef struct push_ctx {
    srv_t *srv;
    srv_user_t *to;
    srv_msg_t *m;
    int32_t seq, seq_start;     /* != 0: updates / updatesCombined with these */
    srv_msg_t *comb[16];        /* updatesCombined of these (n_comb > 0) */
    int n_comb;
    bool too_long;              /* updatesTooLong instead */
} push_ctx_t;

static mtp_tl_object_t *new_message_upd(srv_req_t *r, const srv_msg_t *m)
{
    mtp_updateNewMessage_t *nm = MTP_NEW(r->arena, updateNewMessage);
    if (!nm)
        return NULL;
    nm->message = msg_obj(r, m);
    nm->pts = m->pts;
    nm->pts_count = 1;
    return &nm->_;
}

/* updateShortMessage (text), updates{updateNewMessage} (media, or with a seq),
 * updatesCombined or updatesTooLong for the recipient. */
static int build_push(void *ctx, int layer, mtp_buf_t *out)
{
    push_ctx_t *p = ctx;
    srv_req_t r;
    if (push_begin(&r, p->srv, layer))
        return MTP_ENOMEM;
    mtp_tl_object_t *o = NULL;
    if (p->too_long) {
        o = (mtp_tl_object_t *)MTP_NEW(r.arena, updatesTooLong);
    } else if (p->n_comb) {
        mtp_updatesCombined_t *u = MTP_NEW(r.arena, updatesCombined);
        int64_t seen[17];
        size_t ns = 0;
        if (u && vec_new(r.arena, &u->updates, (size_t)p->n_comb) &&
            vec_new(r.arena, &u->users, (size_t)p->n_comb + 1) && vec_new(r.arena, &u->chats, 0)) {
            for (int i = 0; i < p->n_comb; i++) {
                mtp_tl_object_t *nm = new_message_upd(&r, p->comb[i]);
                if (nm)
                    vec_push(&u->updates, nm);
                add_user_once(&r, &u->users, seen, &ns, p->comb[i]->from);
            }
            u->date = p->comb[p->n_comb - 1]->date;
            u->seq_start = p->seq_start;
            u->seq = p->seq;
            o = &u->_;
        }
    } else if (!p->m->doc_id && !p->seq) {
        mtp_updateShortMessage_t *u = MTP_NEW(r.arena, updateShortMessage);
        if (u) {
            u->id = p->m->id;
            u->user_id = p->m->peer;
            u->message = (mtp_bytes_t){ (const uint8_t *)p->m->text, p->m->text_len };
            u->pts = p->m->pts;
            u->pts_count = 1;
            u->date = p->m->date;
            o = &u->_;
        }
    } else {
        mtp_updates_t *u = MTP_NEW(r.arena, updates);
        mtp_tl_object_t *nm = new_message_upd(&r, p->m);
        srv_user_t *from = srv_user_find(p->srv, p->m->peer);
        if (u && nm && vec_new(r.arena, &u->updates, 1) && vec_new(r.arena, &u->users, 2)) {
            vec_push(&u->updates, nm);
            if (from)
                vec_push(&u->users, user_obj(&r, from));
            u->date = p->m->date;
            u->seq = p->seq;
            o = &u->_;
        }
    }
    return push_end(&r, o, out);
}

static srv_msg_t *msg_by_pts(srv_user_t *u, int32_t pts)
{
    for (size_t i = u->n_msgs; i-- > 0;)
        if (u->msgs[i].pts == pts)
            return &u->msgs[i];
    return NULL;
}

/* A new message in `to`'s box: push it, shaped by the MTP_SERVER_UPD_* rules. */
static void deliver(srv_req_t *r, srv_user_t *to, srv_msg_t *m)
{
    srv_t *srv = r->srv;
    push_ctx_t p;
    memset(&p, 0, sizeof p);
    p.srv = srv, p.to = to, p.m = m;
    bool last = false;
    bool comb = srv_fault_take_upd(srv, MTP_SERVER_UPD_COMBINE, to->id, &last);
    if (comb || to->n_combine) {        /* (rule removed meanwhile: what is held goes now) */
        to->combine[to->n_combine++] = m->pts;
        if (comb && !last && to->n_combine < (int)(sizeof to->combine / sizeof to->combine[0]))
            return;                     /* held back until the last of them */
        trace_upd_fault(r, "push_combine", to->id);
        for (int i = 0; i < to->n_combine; i++) {
            srv_msg_t *x = msg_by_pts(to, to->combine[i]);
            if (x)
                p.comb[p.n_comb++] = x;
        }
        p.seq_start = to->seq + 1;
        to->seq += to->n_combine;
        p.seq = to->seq;
        to->n_combine = 0;
        if (!p.n_comb)
            return;
    } else if (srv_fault_take_upd(srv, MTP_SERVER_UPD_SEQ, to->id, &last)) {
        p.seq = ++to->seq;
    }
    if (srv_fault_take_upd(srv, MTP_SERVER_UPD_DROP, to->id, &last)) {
        trace_upd_fault(r, "push_drop", to->id);
        return;
    }
    if (srv_fault_take_upd(srv, MTP_SERVER_UPD_TOO_LONG, to->id, &last)) {
        trace_upd_fault(r, "push_too_long", to->id);
        p.too_long = true;
    }
    srv_push_user(srv, to->id, r->ss, build_push, &p);
}

static void h_sendMessage(srv_req_t *r, const void *qv)
{
    const mtp_messages_sendMessage_t *q = qv;
    if (q->peer && q->peer->tl == &mtp_tlc_inputPeerChannel) {
        if (!q->message.len)
            reply_err(r, 400, "MESSAGE_EMPTY");
        else if (q->message.len > MSG_MAX)
            reply_err(r, 400, "MESSAGE_TOO_LONG");
        else
            send_channel(r, q);
        return;
    }
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    srv_user_t *to = input_peer(r, q->peer);
    if (!me || !to) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    if (!q->message.len) {
        reply_err(r, 400, "MESSAGE_EMPTY");
        return;
    }
    if (q->message.len > MSG_MAX) {
        reply_err(r, 400, "MESSAGE_TOO_LONG");
        return;
    }
    srv_msg_t *m = q->random_id ? srv_msg_by_random(me, q->random_id) : NULL;
    if (!m) {
        int32_t now = srv_unixtime();
        m = srv_msg_add(r->srv, me, to->id, me->id, true, q->message.ptr, q->message.len,
                        q->random_id, 0, now);
        if (!m) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        if (to != me) {
            srv_msg_t *m2 = srv_msg_add(r->srv, to, me->id, me->id, false, q->message.ptr,
                                        q->message.len, 0, 0, now);
            /* re-find ours: the boxes are separate arrays, m is still valid */
            if (m2)
                deliver(r, to, m2);
        }
    }
    mtp_updateShortSentMessage_t *o = MTP_NEW(r->arena, updateShortSentMessage);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->out = true;
    o->id = m->id;
    o->pts = m->pts;
    o->pts_count = 1;
    o->date = m->date;
    reply_obj(r, &o->_);
}

static mtp_tl_object_t *updates_for(srv_req_t *r, srv_user_t *me, srv_user_t *to, srv_msg_t *m)
{
    mtp_updates_t *u = MTP_NEW(r->arena, updates);
    mtp_updateMessageID_t *mid = MTP_NEW(r->arena, updateMessageID);
    mtp_updateNewMessage_t *nm = MTP_NEW(r->arena, updateNewMessage);
    if (!u || !mid || !nm || !vec_new(r->arena, &u->updates, 2) ||
        !vec_new(r->arena, &u->users, 2))
        return NULL;
    mid->id = m->id;
    mid->random_id = m->random_id;
    nm->message = msg_obj(r, m);
    nm->pts = m->pts;
    nm->pts_count = 1;
    vec_push(&u->updates, mid);
    vec_push(&u->updates, nm);
    vec_push(&u->users, user_obj(r, me));
    if (to != me)
        vec_push(&u->users, user_obj(r, to));
    u->date = m->date;
    return &u->_;
}

static void h_sendMedia(srv_req_t *r, const void *qv)
{
    const mtp_messages_sendMedia_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    srv_user_t *to = input_peer(r, q->peer);
    if (!me || !to) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    if (q->message.len > 1024) {
        reply_err(r, 400, "MEDIA_CAPTION_TOO_LONG");
        return;
    }
    srv_msg_t *m = q->random_id ? srv_msg_by_random(me, q->random_id) : NULL;
    if (m) {
        reply_obj(r, updates_for(r, me, to, m));
        return;
    }
    srv_doc_t *doc = NULL;
    const mtp_tl_object_t *media = q->media;
    if (media && media->tl == &mtp_tlc_inputMediaUploadedDocument) {
        const mtp_inputMediaUploadedDocument_t *md = (const void *)media;
        uint32_t np = 0;
        mtp_bytes_t name = { NULL, 0 };
        srv_upload_t *up = check_upload(r, md->file, &np, &name);
        if (!up)
            return;
        for (uint32_t i = 0; i < md->attributes.n; i++) {
            const mtp_tl_object_t *a = md->attributes.v[i];
            if (a && a->tl == &mtp_tlc_documentAttributeFilename)
                name = ((const mtp_documentAttributeFilename_t *)a)->file_name;
        }
        mtp_bytes_t mime = md->mime_type.len ? md->mime_type : cs("application/octet-stream");
        doc = srv_doc_from_upload(r->srv, up, np, me->dc, name.ptr, name.len, mime.ptr,
                                  mime.len);
        if (!doc) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
    } else if (media && media->tl == &mtp_tlc_inputMediaDocument) {
        const mtp_inputMediaDocument_t *md = (const void *)media;
        if (md->id && md->id->tl == &mtp_tlc_inputDocument) {
            const mtp_inputDocument_t *id = (const void *)md->id;
            doc = srv_doc_find(r->srv, id->id);
            if (doc && doc->access_hash != id->access_hash)
                doc = NULL;
        }
        if (!doc) {
            reply_err(r, 400, "MEDIA_INVALID");
            return;
        }
    } else {
        reply_err(r, 400, "MEDIA_INVALID");
        return;
    }
    int32_t now = srv_unixtime();
    m = srv_msg_add(r->srv, me, to->id, me->id, true, q->message.ptr, q->message.len,
                    q->random_id, doc->id, now);
    if (!m) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    if (to != me) {
        srv_msg_t *m2 = srv_msg_add(r->srv, to, me->id, me->id, false, q->message.ptr,
                                    q->message.len, 0, doc->id, now);
        if (m2)
            deliver(r, to, m2);
    }
    reply_obj(r, updates_for(r, me, to, m));
}

/* The messages of me's box with `peer`, newest first (indices into me->msgs). */
static size_t chat_msgs(srv_user_t *me, int64_t peer, size_t *idx)
{
    size_t n = 0;
    for (size_t i = me->n_msgs; i-- > 0;)
        if (me->msgs[i].peer == peer && !me->msgs[i].deleted)
            idx[n++] = i;
    return n;
}

static void h_getHistory(srv_req_t *r, const void *qv)
{
    const mtp_messages_getHistory_t *q = qv;
    if (q->peer && q->peer->tl == &mtp_tlc_inputPeerChannel) {
        srv_chan_history(r, q);
        return;
    }
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    srv_user_t *peer = input_peer(r, q->peer);
    if (!me || !peer) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    size_t *idx = mtp_arena_alloc(r->arena, (me->n_msgs + 1) * sizeof *idx);
    if (!idx) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    size_t total = chat_msgs(me, peer->id, idx);
    /* max_id / min_id bound the window */
    size_t n = 0;
    for (size_t i = 0; i < total; i++) {
        const srv_msg_t *m = &me->msgs[idx[i]];
        if ((q->max_id > 0 && m->id >= q->max_id) || (q->min_id > 0 && m->id <= q->min_id))
            continue;
        idx[n++] = idx[i];
    }
    long long pos = 0;
    if (q->offset_id > 0) {
        while ((size_t)pos < n && me->msgs[idx[pos]].id >= q->offset_id)
            pos++;
    } else if (q->offset_date > 0) {
        while ((size_t)pos < n && me->msgs[idx[pos]].date >= q->offset_date)
            pos++;
    }
    long long limit = q->limit;
    if (limit < 0)
        limit = 0;
    if (limit > HISTORY_MAX)
        limit = HISTORY_MAX;
    pos += q->add_offset;
    if (pos < 0) {
        limit += pos;
        pos = 0;
    }
    long long end = pos + (limit > 0 ? limit : 0);
    if (end > (long long)n)
        end = (long long)n;
    size_t count = end > pos ? (size_t)(end - pos) : 0;
    mtp_vec_obj_t msgs, users;
    int64_t *seen = mtp_arena_alloc(r->arena, (count + 2) * sizeof *seen);
    size_t ns = 0;
    if (!seen || !vec_new(r->arena, &msgs, count) || !vec_new(r->arena, &users, count + 2)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    add_user_once(r, &users, seen, &ns, me->id);
    add_user_once(r, &users, seen, &ns, peer->id);
    for (size_t i = 0; i < count; i++) {
        const srv_msg_t *m = &me->msgs[idx[(size_t)pos + i]];
        vec_push(&msgs, msg_obj(r, m));
        add_user_once(r, &users, seen, &ns, m->from);
    }
    if (count == total) {
        mtp_messages_messages_t *o = MTP_NEW(r->arena, messages_messages);
        if (!o) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        o->messages = msgs;
        o->users = users;
        reply_obj(r, &o->_);
        return;
    }
    mtp_messages_messagesSlice_t *o = MTP_NEW(r->arena, messages_messagesSlice);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->count = (int32_t)total;
    o->has_offset_id_offset = true;
    o->offset_id_offset = (int32_t)pos;
    o->messages = msgs;
    o->users = users;
    reply_obj(r, &o->_);
}

static mtp_tl_object_t *state_obj(srv_req_t *r, const srv_user_t *me)
{
    mtp_updates_state_t *s = MTP_NEW(r->arena, updates_state);
    if (!s)
        return NULL;
    s->pts = me->pts;
    s->qts = 0;
    s->date = srv_unixtime();
    s->seq = me->seq;
    s->unread_count = 0;
    return &s->_;
}

/* messages.getPeerDialogs (TDLib asks it to load a private chat): one dialog per known user
 * peer, its newest message as top_message; an unknown peer is 400 PEER_ID_INVALID. */
static void h_getPeerDialogs(srv_req_t *r, const void *qv)
{
    const mtp_messages_getPeerDialogs_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    mtp_vec_obj_t dialogs, msgs, users;
    uint32_t np = q->peers.n < HISTORY_MAX ? q->peers.n : HISTORY_MAX;
    int64_t *seen = mtp_arena_alloc(r->arena, (2 * np + 2) * sizeof *seen);
    size_t ns = 0;
    if (!me || !seen || !vec_new(r->arena, &dialogs, np) || !vec_new(r->arena, &msgs, np) ||
        !vec_new(r->arena, &users, 2 * np + 2)) {
        reply_err(r, me ? 500 : 401, me ? "INTERNAL" : "AUTH_KEY_UNREGISTERED");
        return;
    }
    add_user_once(r, &users, seen, &ns, me->id);
    for (uint32_t i = 0; i < np; i++) {
        const mtp_tl_object_t *ip = q->peers.v[i];
        srv_user_t *peer = ip && ip->tl == &mtp_tlc_inputDialogPeer
                               ? input_peer(r, ((const mtp_inputDialogPeer_t *)ip)->peer) : NULL;
        mtp_dialog_t *dl = peer ? MTP_NEW(r->arena, dialog) : NULL;
        if (!dl) {
            reply_err(r, 400, "PEER_ID_INVALID");
            return;
        }
        dl->peer = peer_user(r, peer->id);
        dl->notify_settings = notify_settings(r);
        for (size_t k = me->n_msgs; k-- > 0;) {
            const srv_msg_t *m = &me->msgs[k];
            if (m->peer != peer->id)
                continue;
            if (!dl->top_message) {
                dl->top_message = m->id;
                vec_push(&msgs, msg_obj(r, m));
                add_user_once(r, &users, seen, &ns, m->from);
            }
            int32_t *mx = m->out ? &dl->read_outbox_max_id : &dl->read_inbox_max_id;
            if (m->id > *mx)
                *mx = m->id;
        }
        vec_push(&dialogs, dl);
        add_user_once(r, &users, seen, &ns, peer->id);
    }
    mtp_messages_peerDialogs_t *o = MTP_NEW(r->arena, messages_peerDialogs);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->dialogs = dialogs;
    o->messages = msgs;
    o->users = users;
    o->state = state_obj(r, me);
    reply_obj(r, &o->_);
}

static void h_getState(srv_req_t *r, const void *q)
{
    (void)q;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    reply_obj(r, state_obj(r, me));
}

static void h_getDifference(srv_req_t *r, const void *qv)
{
    const mtp_updates_getDifference_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    if (q->pts > me->pts) {
        reply_err(r, 400, "PERSISTENT_TIMESTAMP_INVALID");
        return;
    }
    if (q->pts == me->pts) {
        mtp_updates_differenceEmpty_t *e = MTP_NEW(r->arena, updates_differenceEmpty);
        if (!e) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        e->date = srv_unixtime();
        e->seq = me->seq;
        reply_obj(r, &e->_);
        return;
    }
    int32_t gap = me->pts - q->pts;
    bool used_up = false;
    if ((q->has_pts_total_limit && q->pts_total_limit > 0 && gap > q->pts_total_limit) ||
        gap > 5000 ||
        srv_fault_take_upd(r->srv, MTP_SERVER_UPD_DIFF_TOO_LONG, me->id, &used_up)) {
        mtp_updates_differenceTooLong_t *t = MTP_NEW(r->arena, updates_differenceTooLong);
        if (!t) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        t->pts = me->pts;
        reply_obj(r, &t->_);
        return;
    }
    /* pts_limit: at most that many messages, as updates.differenceSlice */
    bool slice = q->has_pts_limit && q->pts_limit > 0 && gap > q->pts_limit;
    mtp_updates_difference_t *d = MTP_NEW(r->arena, updates_difference);
    size_t n = (size_t)(slice ? q->pts_limit : gap);
    int64_t *seen = mtp_arena_alloc(r->arena, (2 * n + 2) * sizeof *seen);
    size_t ns = 0;
    if (!d || !seen || !vec_new(r->arena, &d->new_messages, n) ||
        !vec_new(r->arena, &d->users, 2 * n + 2)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    add_user_once(r, &d->users, seen, &ns, me->id);
    int32_t last = q->pts;
    for (size_t i = 0; i < me->n_msgs; i++) {
        const srv_msg_t *m = &me->msgs[i];
        if (m->pts <= q->pts || d->new_messages.n >= n)
            continue;
        vec_push(&d->new_messages, msg_obj(r, m));
        add_user_once(r, &d->users, seen, &ns, m->peer);
        if (m->pts > last)
            last = m->pts;
    }
    d->state = state_obj(r, me);
    if (slice && d->state) {
        mtp_updates_differenceSlice_t *sl = MTP_NEW(r->arena, updates_differenceSlice);
        if (!sl) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        sl->new_messages = d->new_messages;
        sl->users = d->users;
        ((mtp_updates_state_t *)d->state)->pts = last;
        sl->intermediate_state = d->state;
        reply_obj(r, &sl->_);
        return;
    }
    reply_obj(r, &d->_);
}

/* messages.receivedQueue: the random_ids of the secret-chat messages taken from the queue;
 * there are no secret chats here, so an empty Vector<long>. */
static void h_receivedQueue(srv_req_t *r, const void *q)
{
    (void)q;
    uint8_t b[8];
    mtp_tl_write_int(mtp_tl_write_int(b, (int32_t)MTP_TL_ID_VECTOR), 0);
    reply_raw(r, b, sizeof b, "[]", 2);
}

/* ------------------------------------------------------------------------------------ */
/* methods of this area (see srv_api_int.h: one row per method)                         */
/* ------------------------------------------------------------------------------------ */

const handler_t srv_methods_msgs[] = {
    { &mtp_tlc_messages_sendMessage, h_sendMessage, A_AUTH },
    { &mtp_tlc_messages_sendMedia, h_sendMedia, A_AUTH },
    { &mtp_tlc_messages_getHistory, h_getHistory, A_AUTH },
    { &mtp_tlc_messages_getPeerDialogs, h_getPeerDialogs, A_AUTH },
    { &mtp_tlc_updates_getState, h_getState, A_AUTH },
    { &mtp_tlc_updates_getDifference, h_getDifference, A_AUTH },
    { &mtp_tlc_messages_receivedQueue, h_receivedQueue, A_AUTH },
    { NULL, NULL, 0 }
};
