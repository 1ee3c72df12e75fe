/*
 * libmtproto — chat action helpers (include/mtproto/chat.h): each builds the raw call,
 * runs it synchronously and feeds the answer's users/chats to the peer cache.
 */
#include <mtproto/chat.h>
#include <mtproto/crypto.h>
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mtp_call_error_t *e0(mtp_call_error_t *err, mtp_call_error_t *tmp)
{
    mtp_call_error_t *e = err ? err : tmp;
    memset(e, 0, sizeof *e);
    return e;
}

static int fail(mtp_call_error_t *e, int rc, const char *msg)
{
    e->err = rc;
    snprintf(e->message, sizeof e->message, "%s", msg);
    return rc;
}

/* Run obj; the result (fed to the cache) in *res if wanted. */
static int run(mtp_client_t *c, const mtp_tl_object_t *obj, mtp_arena_t *a,
               mtp_tl_object_t **res, mtp_call_error_t *e)
{
    mtp_tl_object_t *r = NULL;
    int rc = mtp_call_sync(c, obj, a, &r, e);
    if (!rc && r)
        mtp_client_peers_feed(c, r);
    if (res)
        *res = r;
    return rc;
}

static bool is_channel(const mtp_tl_object_t *p)
{
    return p && p->tl == &mtp_tlc_inputPeerChannel;
}

/* The first chat of an answer (Updates, messages.invitedUsers …) as a peer. */
static int first_chat(mtp_client_t *c, const mtp_tl_object_t *o, mtp_peer_t *out)
{
    const mtp_vec_obj_t *chats = NULL;
    if (o && o->tl == &mtp_tlc_messages_invitedUsers)
        o = ((const mtp_messages_invitedUsers_t *)o)->updates;
    if (o && o->tl == &mtp_tlc_messages_chatInviteJoinResultOk)
        o = ((const mtp_messages_chatInviteJoinResultOk_t *)o)->updates;
    if (o && o->tl == &mtp_tlc_updates)
        chats = &((const mtp_updates_t *)o)->chats;
    else if (o && o->tl == &mtp_tlc_updatesCombined)
        chats = &((const mtp_updatesCombined_t *)o)->chats;
    for (uint32_t i = 0; chats && i < chats->n; i++) {
        const mtp_tl_object_t *ch = chats->v[i];
        if (ch && ch->tl == &mtp_tlc_channel)
            return mtp_client_peer_get(c, MTP_PEER_CHANNEL, ((const mtp_channel_t *)ch)->id, out);
        if (ch && ch->tl == &mtp_tlc_chat)
            return mtp_client_peer_get(c, MTP_PEER_CHAT, ((const mtp_chat_t *)ch)->id, out);
    }
    return MTP_ENOTFOUND;
}

int mtp_forward(mtp_client_t *c, const char *from, const int32_t *ids, size_t n,
                const char *to, mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !from || !to || !ids || !n || n > 100)
        return fail(e, MTP_EINVAL, "forward: 1..100 message ids, from and to");
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    mtp_messages_forwardMessages_t *q = MTP_NEW(a, messages_forwardMessages);
    int32_t *iv = mtp_arena_alloc(a, n * sizeof *iv);
    int64_t *rv = mtp_arena_alloc(a, n * sizeof *rv);
    int rc = q && iv && rv ? 0 : MTP_ENOMEM;
    if (!rc)
        rc = mtp_client_input_peer(c, from, a, &q->from_peer, e);
    if (!rc)
        rc = mtp_client_input_peer(c, to, a, &q->to_peer, e);
    if (!rc)
        rc = mtp_rand(NULL, rv, n * sizeof *rv);
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            iv[i] = ids[i];
        q->id = (mtp_vec_int_t){ (uint32_t)n, iv };
        q->random_id = (mtp_vec_long_t){ (uint32_t)n, rv };
        rc = run(c, &q->_, a, NULL, e);
    }
    mtp_arena_free(a);
    return rc ? (e->err ? e->err : (e->err = rc)) : 0;
}

int mtp_invite_hash(const char *link, char *hash, size_t cap)
{
    if (!link || !hash || !cap)
        return MTP_EINVAL;
    static const char *const pre[] = { "https://", "http://", "tg://join?invite=", "" };
    const char *s = link;
    for (size_t i = 0; i < 3; i++)
        if (strncmp(s, pre[i], strlen(pre[i])) == 0) {
            s += strlen(pre[i]);
            if (i == 2)
                goto have;
            break;
        }
    if (strncmp(s, "www.", 4) == 0)
        s += 4;
    if (strncmp(s, "t.me/", 5) == 0)
        s += 5;
    else if (strncmp(s, "telegram.me/", 12) == 0)
        s += 12;
    else if (s != link && *link != '+')
        return MTP_EINVAL;
    if (*s == '+')
        s++;
    else if (strncmp(s, "joinchat/", 9) == 0)
        s += 9;
    else
        return MTP_EINVAL;
have:;
    size_t n = strcspn(s, "/?#");
    if (!n || n >= cap)
        return MTP_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || s[i] == '-' || (s[i] >= '0' && s[i] <= '9') ||
              ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')))
            return MTP_EINVAL;
    memcpy(hash, s, n);
    hash[n] = 0;
    return 0;
}

static int join_invite(mtp_client_t *c, const char *hash, mtp_peer_t *out, mtp_call_error_t *e)
{
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    mtp_messages_checkChatInvite_t *ck = MTP_NEW(a, messages_checkChatInvite);
    mtp_messages_importChatInvite_t *im = MTP_NEW(a, messages_importChatInvite);
    mtp_tl_object_t *res = NULL;
    int rc = ck && im ? 0 : MTP_ENOMEM;
    if (!rc) {
        ck->hash = im->hash = (mtp_bytes_t){ (const uint8_t *)hash, strlen(hash) };
        rc = run(c, &ck->_, a, &res, e);
    }
    if (!rc && res && res->tl == &mtp_tlc_chatInviteAlready) {
        const mtp_tl_object_t *ch = ((const mtp_chatInviteAlready_t *)res)->chat;
        if (out && ch && ch->tl == &mtp_tlc_channel)
            mtp_client_peer_get(c, MTP_PEER_CHANNEL, ((const mtp_channel_t *)ch)->id, out);
        rc = fail(e, MTP_EEXIST, "USER_ALREADY_PARTICIPANT");
    } else if (!rc) {
        rc = run(c, &im->_, a, &res, e);
        if (!rc && out)
            first_chat(c, res, out);
    }
    mtp_arena_free(a);
    return rc;
}

int mtp_join(mtp_client_t *c, const char *link, mtp_peer_t *out, mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !link)
        return fail(e, MTP_EINVAL, "join: a link or @name");
    char hash[128];
    if (mtp_invite_hash(link, hash, sizeof hash) == 0)
        return join_invite(c, hash, out, e);
    /* a public name: @name, name, t.me/name */
    char spec[80];
    const char *s = link;
    for (const char *p = "https://"; p; p = NULL)
        if (strncmp(s, p, strlen(p)) == 0)
            s += strlen(p);
    if (strncmp(s, "t.me/", 5) == 0)
        s += 5;
    if (*s == '@')
        s++;
    size_t n = strcspn(s, "/?#");
    if (!n || n >= sizeof spec - 2)
        return fail(e, MTP_EINVAL, "join: not a t.me link or @name");
    spec[0] = '@';
    memcpy(spec + 1, s, n);
    spec[n + 1] = 0;
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    mtp_channels_joinChannel_t *q = MTP_NEW(a, channels_joinChannel);
    int rc = q ? mtp_client_input_channel(c, spec, a, &q->channel, e) : MTP_ENOMEM;
    mtp_tl_object_t *res = NULL;
    if (!rc)
        rc = run(c, &q->_, a, &res, e);
    if (rc == MTP_ERPC && strcmp(e->message, "USER_ALREADY_PARTICIPANT") == 0)
        rc = e->err = MTP_EEXIST;
    if ((!rc || rc == MTP_EEXIST) && out)
        mtp_client_resolve_peer(c, spec, out, NULL);
    mtp_arena_free(a);
    return rc;
}

int mtp_leave(mtp_client_t *c, const char *peer, mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !peer)
        return fail(e, MTP_EINVAL, "leave: a PEER");
    mtp_peer_t p;
    int rc = mtp_client_resolve_peer(c, peer, &p, e);
    if (rc)
        return rc;
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    if (p.kind == MTP_PEER_CHANNEL) {
        mtp_channels_leaveChannel_t *q = MTP_NEW(a, channels_leaveChannel);
        rc = q ? mtp_peer_input_channel(&p, a, &q->channel) : MTP_ENOMEM;
        if (!rc)
            rc = run(c, &q->_, a, NULL, e);
    } else if (p.kind == MTP_PEER_CHAT) {
        mtp_messages_deleteChatUser_t *q = MTP_NEW(a, messages_deleteChatUser);
        rc = q && (q->user_id = (mtp_tl_object_t *)MTP_NEW(a, inputUserSelf)) ? 0 : MTP_ENOMEM;
        if (!rc) {
            q->chat_id = p.id;
            rc = run(c, &q->_, a, NULL, e);
        }
    } else {
        rc = fail(e, MTP_EINVAL, "leave: PEER is a user, not a group or channel");
    }
    mtp_arena_free(a);
    return rc;
}

int mtp_create_chat(mtp_client_t *c, mtp_chat_kind_t kind, const char *title,
                    const char *const *users, size_t n_users, mtp_peer_t *out,
                    mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !title || !*title || (n_users && !users) || n_users > 200 ||
        kind < MTP_CHAT_GROUP || kind > MTP_CHAT_CHANNEL || (kind == MTP_CHAT_GROUP && !n_users))
        return fail(e, MTP_EINVAL, "create: a kind, a title (a group needs a user)");
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    mtp_tl_object_t **uv = mtp_arena_alloc(a, (n_users + 1) * sizeof *uv);
    int rc = uv ? 0 : MTP_ENOMEM;
    for (size_t i = 0; !rc && i < n_users; i++)
        rc = mtp_client_input_user(c, users[i], a, &uv[i], e);
    mtp_tl_object_t *res = NULL;
    mtp_bytes_t t = { (const uint8_t *)title, strlen(title) };
    if (!rc && kind == MTP_CHAT_GROUP) {
        mtp_messages_createChat_t *q = MTP_NEW(a, messages_createChat);
        rc = q ? 0 : MTP_ENOMEM;
        if (!rc) {
            q->title = t;
            q->users = (mtp_vec_obj_t){ (uint32_t)n_users, uv };
            rc = run(c, &q->_, a, &res, e);
        }
    } else if (!rc) {
        mtp_channels_createChannel_t *q = MTP_NEW(a, channels_createChannel);
        rc = q ? 0 : MTP_ENOMEM;
        if (!rc) {
            q->title = t;
            q->about = (mtp_bytes_t){ (const uint8_t *)"", 0 };
            q->broadcast = kind == MTP_CHAT_CHANNEL;
            q->megagroup = kind == MTP_CHAT_SUPERGROUP;
            rc = run(c, &q->_, a, &res, e);
        }
        mtp_peer_t p;
        if (!rc && (rc = first_chat(c, res, &p)) != 0)
            fail(e, rc, "create: the answer names no channel");
        if (!rc && out)
            *out = p;
        if (!rc && n_users) {
            mtp_channels_inviteToChannel_t *iq = MTP_NEW(a, channels_inviteToChannel);
            rc = iq ? mtp_peer_input_channel(&p, a, &iq->channel) : MTP_ENOMEM;
            if (!rc) {
                iq->users = (mtp_vec_obj_t){ (uint32_t)n_users, uv };
                rc = run(c, &iq->_, a, NULL, e);
            }
        }
        out = NULL;
    }
    if (!rc && out && (rc = first_chat(c, res, out)) != 0)
        fail(e, rc, "create: the answer names no chat");
    mtp_arena_free(a);
    return rc;
}

int mtp_archive(mtp_client_t *c, const char *peer, bool archived, mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !peer)
        return fail(e, MTP_EINVAL, "archive: a PEER");
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    mtp_folders_editPeerFolders_t *q = MTP_NEW(a, folders_editPeerFolders);
    mtp_inputFolderPeer_t *fp = MTP_NEW(a, inputFolderPeer);
    mtp_tl_object_t **v = mtp_arena_alloc(a, sizeof *v);
    int rc = q && fp && v ? mtp_client_input_peer(c, peer, a, &fp->peer, e) : MTP_ENOMEM;
    if (!rc) {
        fp->folder_id = archived ? 1 : 0;
        v[0] = &fp->_;
        q->folder_peers = (mtp_vec_obj_t){ 1, v };
        rc = run(c, &q->_, a, NULL, e);
    }
    mtp_arena_free(a);
    return rc;
}

int mtp_profile(mtp_client_t *c, const char *user, mtp_arena_t *a, mtp_tl_object_t **out,
                mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !user || !a || !out)
        return fail(e, MTP_EINVAL, "profile: a user");
    mtp_users_getFullUser_t *q = MTP_NEW(a, users_getFullUser);
    int rc = q ? mtp_client_input_user(c, user, a, &q->id, e) : MTP_ENOMEM;
    return rc ? rc : run(c, &q->_, a, out, e);
}

int mtp_mark_read(mtp_client_t *c, const char *peer, int32_t max_id, mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !peer || max_id < 0)
        return fail(e, MTP_EINVAL, "read: a PEER");
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    mtp_tl_object_t *ip = NULL;
    int rc = mtp_client_input_peer(c, peer, a, &ip, e);
    if (!rc && is_channel(ip)) {
        mtp_channels_readHistory_t *q = MTP_NEW(a, channels_readHistory);
        mtp_inputChannel_t *ic = MTP_NEW(a, inputChannel);
        rc = q && ic ? 0 : MTP_ENOMEM;
        if (!rc) {
            ic->channel_id = ((const mtp_inputPeerChannel_t *)ip)->channel_id;
            ic->access_hash = ((const mtp_inputPeerChannel_t *)ip)->access_hash;
            q->channel = &ic->_;
            q->max_id = max_id;
            rc = run(c, &q->_, a, NULL, e);
        }
    } else if (!rc) {
        mtp_messages_readHistory_t *q = MTP_NEW(a, messages_readHistory);
        rc = q ? 0 : MTP_ENOMEM;
        if (!rc) {
            q->peer = ip;
            q->max_id = max_id;
            rc = run(c, &q->_, a, NULL, e);
        }
    }
    mtp_arena_free(a);
    return rc;
}

int mtp_delete_messages(mtp_client_t *c, const char *peer, const int32_t *ids, size_t n,
                        bool revoke, int32_t *deleted, mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !peer || !ids || !n || n > 100)
        return fail(e, MTP_EINVAL, "delete: a PEER and 1..100 ids");
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    int32_t *iv = mtp_arena_alloc(a, n * sizeof *iv);
    mtp_tl_object_t *ip = NULL, *res = NULL;
    int rc = iv ? mtp_client_input_peer(c, peer, a, &ip, e) : MTP_ENOMEM;
    if (!rc) {
        memcpy(iv, ids, n * sizeof *iv);
        if (is_channel(ip)) {
            mtp_channels_deleteMessages_t *q = MTP_NEW(a, channels_deleteMessages);
            mtp_inputChannel_t *ic = MTP_NEW(a, inputChannel);
            rc = q && ic ? 0 : MTP_ENOMEM;
            if (!rc) {
                ic->channel_id = ((const mtp_inputPeerChannel_t *)ip)->channel_id;
                ic->access_hash = ((const mtp_inputPeerChannel_t *)ip)->access_hash;
                q->channel = &ic->_;
                q->id = (mtp_vec_int_t){ (uint32_t)n, iv };
                rc = run(c, &q->_, a, &res, e);
            }
        } else {
            mtp_messages_deleteMessages_t *q = MTP_NEW(a, messages_deleteMessages);
            rc = q ? 0 : MTP_ENOMEM;
            if (!rc) {
                q->revoke = revoke;
                q->id = (mtp_vec_int_t){ (uint32_t)n, iv };
                rc = run(c, &q->_, a, &res, e);
            }
        }
    }
    if (!rc && deleted)
        *deleted = res && res->tl == &mtp_tlc_messages_affectedMessages
                       ? ((const mtp_messages_affectedMessages_t *)res)->pts_count
                       : 0;
    mtp_arena_free(a);
    return rc;
}

int mtp_send_reaction(mtp_client_t *c, const char *peer, int32_t msg_id, const char *emoticon,
                      mtp_call_error_t *err)
{
    mtp_call_error_t tmp, *e = e0(err, &tmp);
    if (!c || !peer || msg_id <= 0)
        return fail(e, MTP_EINVAL, "react: a PEER and a message id");
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return fail(e, MTP_ENOMEM, "out of memory");
    mtp_messages_sendReaction_t *q = MTP_NEW(a, messages_sendReaction);
    int rc = q ? mtp_client_input_peer(c, peer, a, &q->peer, e) : MTP_ENOMEM;
    if (!rc) {
        q->msg_id = msg_id;
        q->has_reaction = true;
        if (emoticon && *emoticon) {
            mtp_reactionEmoji_t *r = MTP_NEW(a, reactionEmoji);
            mtp_tl_object_t **v = mtp_arena_alloc(a, sizeof *v);
            rc = r && v ? 0 : MTP_ENOMEM;
            if (!rc) {
                r->emoticon = (mtp_bytes_t){ (const uint8_t *)emoticon, strlen(emoticon) };
                v[0] = &r->_;
                q->reaction = (mtp_vec_obj_t){ 1, v };
            }
        }
        if (!rc)
            rc = run(c, &q->_, a, NULL, e);
    }
    mtp_arena_free(a);
    return rc;
}
