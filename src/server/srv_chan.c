/*
 * libmtproto harness — channels (supergroups; memory only): channels.createChannel /
 * inviteToChannel, messages.sendMessage to a channel, updates.getChannelDifference, and
 * the pushes to the members.
 */
#include "srv_api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* channels (supergroups; memory only): create, invite, post, getChannelDifference       */
/* ------------------------------------------------------------------------------------ */

mtp_tl_object_t *channel_obj(srv_req_t *r, const srv_channel_t *ch)
{
    mtp_channel_t *o = MTP_NEW(r->arena, channel);
    mtp_tl_object_t *photo = (mtp_tl_object_t *)MTP_NEW(r->arena, chatPhotoEmpty);
    if (!o || !photo)
        return NULL;
    o->id = ch->id;
    o->megagroup = !ch->broadcast;
    o->broadcast = ch->broadcast;
    if (ch->username[0]) {
        o->has_username = true;
        o->username = cs(ch->username);
    }
    o->creator = ch->n_members && ch->members[0] == me_id(r);
    o->has_access_hash = true;
    o->access_hash = ch->access_hash;
    o->title = (mtp_bytes_t){ (const uint8_t *)ch->title, strlen(ch->title) };
    o->photo = photo;
    o->date = ch->date;
    o->has_participants_count = true;
    o->participants_count = ch->n_members;
    return &o->_;
}

/* A channel message as `viewer` sees it. */
mtp_tl_object_t *chan_msg_obj(srv_req_t *r, const srv_msg_t *m, int64_t viewer)
{
    mtp_message_t *o = MTP_NEW(r->arena, message);
    mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
    if (!o || !pc)
        return NULL;
    pc->channel_id = m->peer;
    o->id = m->id;
    o->out = m->from == viewer;
    o->peer_id = &pc->_;
    o->from_id = m->from ? peer_user(r, m->from) : NULL;
    o->post = !m->from;
    o->date = m->date;
    srv_chan_msg_extras(r, m, o);
    o->message = (mtp_bytes_t){ (const uint8_t *)m->text, m->text_len };
    return &o->_;
}

static mtp_tl_object_t *new_chan_msg_upd(srv_req_t *r, const srv_msg_t *m, int64_t viewer)
{
    mtp_updateNewChannelMessage_t *u = MTP_NEW(r->arena, updateNewChannelMessage);
    if (!u)
        return NULL;
    u->message = chan_msg_obj(r, m, viewer);
    u->pts = m->pts;
    u->pts_count = 1;
    return &u->_;
}

/* The channel of an InputChannel / InputPeer the caller may use, else NULL (answered). */
srv_channel_t *input_channel(srv_req_t *r, const mtp_tl_object_t *o, bool member)
{
    int64_t id = 0, hash = 0;
    if (o && o->tl == &mtp_tlc_inputChannel) {
        const mtp_inputChannel_t *c = (const void *)o;
        id = c->channel_id, hash = c->access_hash;
    } else if (o && o->tl == &mtp_tlc_inputPeerChannel) {
        const mtp_inputPeerChannel_t *c = (const void *)o;
        id = c->channel_id, hash = c->access_hash;
    }
    srv_channel_t *ch = id ? srv_channel_find(r->srv, id) : NULL;
    if (!ch || ch->access_hash != hash || ch->basic) {
        reply_err(r, 400, "CHANNEL_INVALID");
        return NULL;
    }
    if (member && !srv_channel_member(ch, me_id(r)) && !ch->username[0]) {
        reply_err(r, 400, "CHANNEL_PRIVATE");
        return NULL;
    }
    return ch;
}

/* updates{updates: [u0, u1], users, chats: [ch]} */
mtp_tl_object_t *chan_updates(srv_req_t *r, const srv_channel_t *ch, mtp_tl_object_t *u0,
                                     mtp_tl_object_t *u1, int64_t user)
{
    mtp_updates_t *u = MTP_NEW(r->arena, updates);
    if (!u || !vec_new(r->arena, &u->updates, 2) || !vec_new(r->arena, &u->users, 1) ||
        !vec_new(r->arena, &u->chats, 1))
        return NULL;
    if (u0)
        vec_push(&u->updates, u0);
    if (u1)
        vec_push(&u->updates, u1);
    srv_user_t *su = user ? srv_user_find(r->srv, user) : NULL;
    if (su)
        vec_push(&u->users, user_obj(r, su));
    vec_push(&u->chats, channel_obj(r, ch));
    u->date = srv_unixtime();
    return &u->_;
}

mtp_tl_object_t *upd_channel(srv_req_t *r, const srv_channel_t *ch)
{
    mtp_updateChannel_t *u = MTP_NEW(r->arena, updateChannel);
    if (u)
        u->channel_id = ch->id;
    return u ? &u->_ : NULL;
}

typedef struct chan_push {
    srv_t *srv;
    srv_channel_t *ch;
    const srv_msg_t *m;         /* NULL: updateChannel (added to the channel) */
    int64_t to;
    bool too_long;              /* updateChannelTooLong instead */
} chan_push_t;

static int build_chan_push(void *ctx, int layer, mtp_buf_t *out)
{
    chan_push_t *p = ctx;
    srv_req_t r;
    if (push_begin(&r, p->srv, layer))
        return MTP_ENOMEM;
    mtp_tl_object_t *u = NULL;
    if (!p->m) {
        u = upd_channel(&r, p->ch);
    } else if (p->too_long) {
        mtp_updateChannelTooLong_t *t = MTP_NEW(r.arena, updateChannelTooLong);
        if (t) {
            t->channel_id = p->ch->id;
            t->has_pts = true;
            t->pts = p->ch->pts;
            u = &t->_;
        }
    } else {
        u = new_chan_msg_upd(&r, p->m, p->to);
    }
    mtp_tl_object_t *o = u ? chan_updates(&r, p->ch, u, NULL, p->m ? p->m->from : 0) : NULL;
    return push_end(&r, o, out);
}

/* m (NULL: updateChannel) to every member but the sender, shaped by the DROP / TOO_LONG
 * rules of MTP_SERVER_UPD_*. */
static void deliver_chan(srv_req_t *r, srv_channel_t *ch, const srv_msg_t *m, int64_t except)
{
    for (int i = 0; i < ch->n_members; i++) {
        int64_t to = ch->members[i];
        if (to == except)
            continue;
        chan_push_t p = { r->srv, ch, m, to, false };
        bool last;
        if (m && srv_fault_take_upd(r->srv, MTP_SERVER_UPD_DROP, to, &last)) {
            trace_upd_fault(r, "push_drop", to);
            continue;
        }
        if (m && srv_fault_take_upd(r->srv, MTP_SERVER_UPD_TOO_LONG, to, &last)) {
            trace_upd_fault(r, "push_too_long", to);
            p.too_long = true;
        }
        srv_push_user(r->srv, to, r->ss, build_chan_push, &p);
    }
}

static void h_createChannel(srv_req_t *r, const void *qv)
{
    const mtp_channels_createChannel_t *q = qv;
    if (!q->title.len) {
        reply_err(r, 400, "CHAT_TITLE_EMPTY");
        return;
    }
    srv_channel_t *ch = NULL;
    int rc = srv_channel_new(r->srv, me_id(r), q->title.ptr, q->title.len, srv_unixtime(), &ch);
    if (rc) {
        if (rc == MTP_EFULL)
            reply_err(r, 400, "CHANNELS_TOO_MUCH");
        else
            reply_err(r, 500, "INTERNAL");
        return;
    }
    ch->broadcast = q->broadcast;
    reply_obj(r, chan_updates(r, ch, upd_channel(r, ch), NULL, 0));
}

static void h_inviteToChannel(srv_req_t *r, const void *qv)
{
    const mtp_channels_inviteToChannel_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, true);
    if (!ch)
        return;
    mtp_messages_invitedUsers_t *o = MTP_NEW(r->arena, messages_invitedUsers);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (uint32_t i = 0; i < q->users.n; i++) {
        const mtp_tl_object_t *iu = q->users.v[i];
        srv_user_t *u = NULL;
        if (iu && iu->tl == &mtp_tlc_inputUser) {
            const mtp_inputUser_t *x = (const void *)iu;
            u = visible_user(r, x->user_id);
            if (u && u->access_hash != x->access_hash)
                u = NULL;
        }
        if (!u) {
            reply_err(r, 400, "USER_ID_INVALID");
            return;
        }
        if (!srv_channel_member(ch, u->id)) {
            if (srv_channel_join(ch, u->id)) {   /* MTP_EFULL */
                reply_err(r, 400, "USERS_TOO_MUCH");
                return;
            }
            chan_push_t p = { r->srv, ch, NULL, u->id, false };
            srv_push_user(r->srv, u->id, NULL, build_chan_push, &p);
        }
    }
    o->updates = chan_updates(r, ch, upd_channel(r, ch), NULL, 0);
    reply_obj(r, &o->_);
}

void send_channel(srv_req_t *r, const mtp_messages_sendMessage_t *q)
{
    srv_channel_t *ch = input_channel(r, q->peer, true);
    if (!ch)
        return;
    int64_t me = me_id(r);
    srv_msg_t *m = NULL;
    for (size_t i = ch->n_msgs; q->random_id && i-- > 0;)
        if (ch->msgs[i].random_id == q->random_id && ch->msgs[i].from == me)
            m = &ch->msgs[i];
    if (!m) {
        m = srv_channel_post(ch, me, q->message.ptr, q->message.len, q->random_id,
                             srv_unixtime());
        if (!m) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        deliver_chan(r, ch, m, me);
    }
    mtp_updateMessageID_t *mid = MTP_NEW(r->arena, updateMessageID);
    if (!mid) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    mid->id = m->id;
    mid->random_id = q->random_id;
    reply_obj(r, chan_updates(r, ch, &mid->_, new_chan_msg_upd(r, m, me), me));
}

static void h_getChannelDifference(srv_req_t *r, const void *qv)
{
    const mtp_updates_getChannelDifference_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, true);
    if (!ch)
        return;
    int64_t me = me_id(r);
    if (q->pts <= 0 || q->pts > ch->pts) {
        reply_err(r, 400, "PERSISTENT_TIMESTAMP_INVALID");
        return;
    }
    if (q->pts == ch->pts) {
        mtp_updates_channelDifferenceEmpty_t *e = MTP_NEW(r->arena,
                                                          updates_channelDifferenceEmpty);
        if (!e) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        e->final = true;
        e->pts = ch->pts;
        reply_obj(r, &e->_);
        return;
    }
    bool used_up;
    if (srv_fault_take_upd(r->srv, MTP_SERVER_UPD_DIFF_TOO_LONG, me, &used_up)) {
        mtp_updates_channelDifferenceTooLong_t *t = MTP_NEW(r->arena,
                                                            updates_channelDifferenceTooLong);
        mtp_dialog_t *dl = MTP_NEW(r->arena, dialog);
        mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
        if (!t || !dl || !pc || !vec_new(r->arena, &t->messages, 1) ||
            !vec_new(r->arena, &t->chats, 1)) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        pc->channel_id = ch->id;
        dl->peer = &pc->_;
        dl->top_message = ch->n_msgs ? ch->msgs[ch->n_msgs - 1].id : 0;
        dl->notify_settings = notify_settings(r);
        dl->has_pts = true;
        dl->pts = ch->pts;
        t->final = true;
        t->dialog = &dl->_;
        if (ch->n_msgs)
            vec_push(&t->messages, chan_msg_obj(r, &ch->msgs[ch->n_msgs - 1], me));
        vec_push(&t->chats, channel_obj(r, ch));
        reply_obj(r, &t->_);
        return;
    }
    /* limit: at most that many messages; final=false when more are left */
    size_t limit = q->limit > 0 && q->limit < 1000 ? (size_t)q->limit : 1000;
    mtp_updates_channelDifference_t *d = MTP_NEW(r->arena, updates_channelDifference);
    int64_t *seen = mtp_arena_alloc(r->arena, (limit + 1) * sizeof *seen);
    size_t ns = 0;
    if (!d || !seen || !vec_new(r->arena, &d->new_messages, limit) ||
        !vec_new(r->arena, &d->users, limit + 1) || !vec_new(r->arena, &d->chats, 1)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    int32_t last = q->pts;
    for (size_t i = 0; i < ch->n_msgs && d->new_messages.n < limit; i++) {
        const srv_msg_t *m = &ch->msgs[i];
        if (m->pts <= q->pts)
            continue;
        vec_push(&d->new_messages, chan_msg_obj(r, m, me));
        add_user_once(r, &d->users, seen, &ns, m->from);
        last = m->pts;
    }
    vec_push(&d->chats, channel_obj(r, ch));
    d->final = last == ch->pts;
    d->pts = last;
    reply_obj(r, &d->_);
}

/* ------------------------------------------------------------------------------------ */
/* methods of this area (see srv_api_int.h: one row per method)                         */
/* ------------------------------------------------------------------------------------ */

const handler_t srv_methods_chan[] = {
    { &mtp_tlc_updates_getChannelDifference, h_getChannelDifference, A_AUTH },
    { &mtp_tlc_channels_createChannel, h_createChannel, A_AUTH },
    { &mtp_tlc_channels_inviteToChannel, h_inviteToChannel, A_AUTH },
    { NULL, NULL, 0 }
};
