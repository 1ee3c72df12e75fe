/*
 * libmtproto harness — basic groups (memory only): messages.createChat, getFullChat and
 * deleteChatUser. A basic group is kept as an srv_channel_t with `basic` set, in the
 * channels map under its channel-space key; its chat id (what clients see) is that key
 * minus GROUP_BASE, so chat ids start at 1.
 */
#include "srv_api_int.h"

#include <stdlib.h>
#include <string.h>

#define GROUP_BASE 1000000000LL

static int64_t chat_id(const srv_channel_t *ch)
{
    return ch->id - GROUP_BASE;
}

static srv_channel_t *group_find(srv_req_t *r, int64_t id)
{
    srv_channel_t *ch = id > 0 && id < GROUP_BASE ? srv_channel_find(r->srv, id + GROUP_BASE)
                                                  : NULL;
    if (!ch || !ch->basic) {
        reply_err(r, 400, "CHAT_ID_INVALID");
        return NULL;
    }
    return ch;
}

static mtp_tl_object_t *chat_obj(srv_req_t *r, const srv_channel_t *ch)
{
    mtp_chat_t *o = MTP_NEW(r->arena, chat);
    mtp_tl_object_t *photo = (mtp_tl_object_t *)MTP_NEW(r->arena, chatPhotoEmpty);
    if (!o || !photo)
        return NULL;
    o->id = chat_id(ch);
    o->creator = ch->n_members && ch->members[0] == me_id(r);
    o->left = !srv_channel_member(ch, me_id(r));
    o->title = cs(ch->title);
    o->photo = photo;
    o->participants_count = ch->n_members;
    o->date = ch->date;
    o->version = 1;
    return &o->_;
}

static mtp_tl_object_t *group_updates(srv_req_t *r, const srv_channel_t *ch)
{
    mtp_updates_t *u = MTP_NEW(r->arena, updates);
    if (!u || !vec_new(r->arena, &u->updates, 0) || !vec_new(r->arena, &u->users, 0) ||
        !vec_new(r->arena, &u->chats, 1))
        return NULL;
    vec_push(&u->chats, chat_obj(r, ch));
    u->date = srv_unixtime();
    return &u->_;
}

static void h_createChat(srv_req_t *r, const void *qv)
{
    const mtp_messages_createChat_t *q = qv;
    if (!q->title.len) {
        reply_err(r, 400, "CHAT_TITLE_EMPTY");
        return;
    }
    if (!q->users.n || q->users.n > SRV_CHANNEL_MEMBERS - 1) {
        reply_err(r, 400, q->users.n ? "USERS_TOO_MUCH" : "USERS_TOO_FEW");
        return;
    }
    srv_user_t **us = mtp_arena_alloc(r->arena, q->users.n * sizeof *us);
    if (!us) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (uint32_t i = 0; i < q->users.n; i++)
        if (!(us[i] = input_user(r, q->users.v[i]))) {
            reply_err(r, 400, "USER_ID_INVALID");
            return;
        }
    srv_channel_t *ch = NULL;
    int rc = srv_channel_new(r->srv, me_id(r), q->title.ptr, q->title.len, srv_unixtime(), &ch);
    if (rc) {
        reply_err(r, rc == MTP_EFULL ? 400 : 500, rc == MTP_EFULL ? "CHATS_TOO_MUCH" : "INTERNAL");
        return;
    }
    ch->basic = true;
    for (uint32_t i = 0; i < q->users.n; i++)
        srv_channel_join(ch, us[i]->id);
    mtp_messages_invitedUsers_t *o = MTP_NEW(r->arena, messages_invitedUsers);
    if (!o || !vec_new(r->arena, &o->missing_invitees, 0)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->updates = group_updates(r, ch);
    reply_obj(r, &o->_);
}

static void h_getFullChat(srv_req_t *r, const void *qv)
{
    const mtp_messages_getFullChat_t *q = qv;
    srv_channel_t *ch = group_find(r, q->chat_id);
    if (!ch)
        return;
    if (!srv_channel_member(ch, me_id(r))) {
        reply_err(r, 400, "CHAT_ID_INVALID");
        return;
    }
    mtp_messages_chatFull_t *o = MTP_NEW(r->arena, messages_chatFull);
    mtp_chatFull_t *f = MTP_NEW(r->arena, chatFull);
    mtp_chatParticipants_t *ps = MTP_NEW(r->arena, chatParticipants);
    size_t n = (size_t)ch->n_members;
    if (!o || !f || !ps || !vec_new(r->arena, &ps->participants, n) ||
        !vec_new(r->arena, &o->users, n) || !vec_new(r->arena, &o->chats, 1)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t uid = ch->members[i];
        if (i == 0) {
            mtp_chatParticipantCreator_t *c = MTP_NEW(r->arena, chatParticipantCreator);
            if (c)
                c->user_id = uid;
            vec_push(&ps->participants, c);
        } else {
            mtp_chatParticipant_t *p = MTP_NEW(r->arena, chatParticipant);
            if (p)
                p->user_id = uid, p->inviter_id = ch->members[0], p->date = ch->date;
            vec_push(&ps->participants, p);
        }
        vec_push(&o->users, srv_any_user_obj(r, uid));
    }
    ps->chat_id = chat_id(ch);
    ps->version = 1;
    f->id = chat_id(ch);
    f->about = cs("");
    f->participants = &ps->_;
    f->notify_settings = notify_settings(r);
    o->full_chat = &f->_;
    vec_push(&o->chats, chat_obj(r, ch));
    reply_obj(r, &o->_);
}

static void h_deleteChatUser(srv_req_t *r, const void *qv)
{
    const mtp_messages_deleteChatUser_t *q = qv;
    srv_channel_t *ch = group_find(r, q->chat_id);
    if (!ch)
        return;
    int64_t me = me_id(r), uid = 0;
    if (q->user_id && q->user_id->tl == &mtp_tlc_inputUserSelf) {
        uid = me;
    } else {
        srv_user_t *u = input_user(r, q->user_id);
        if (!u) {
            reply_err(r, 400, "USER_ID_INVALID");
            return;
        }
        uid = u->id;
    }
    if (uid != me && ch->members[0] != me) {
        reply_err(r, 400, "CHAT_ADMIN_REQUIRED");
        return;
    }
    int at = -1;
    for (int i = 0; i < ch->n_members; i++)
        if (ch->members[i] == uid)
            at = i;
    if (at < 0) {
        reply_err(r, 400, "USER_NOT_PARTICIPANT");
        return;
    }
    memmove(&ch->members[at], &ch->members[at + 1],
            (size_t)(ch->n_members - at - 1) * sizeof ch->members[0]);
    ch->n_members--;
    reply_obj(r, group_updates(r, ch));
}

const handler_t srv_methods_group[] = {
    { &mtp_tlc_messages_createChat, h_createChat, A_AUTH },
    { &mtp_tlc_messages_getFullChat, h_getFullChat, A_AUTH },
    { &mtp_tlc_messages_deleteChatUser, h_deleteChatUser, A_AUTH },
    { NULL, NULL, 0 }
};
