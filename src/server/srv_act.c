/*
 * libmtproto harness — actions on chats (memory only, kept in srv->act): forwarding
 * (messages.forwardMessages: fwd_from, random_id dedup, MSG_ID_INVALID), invite links
 * (messages.exportChatInvite / checkChatInvite / importChatInvite: INVITE_HASH_EXPIRED,
 * INVITE_HASH_INVALID, USER_ALREADY_PARTICIPANT), reactions (messages.sendReaction /
 * getMessageReactionsList), folders (folders.editPeerFolders and messages.getDialogs with
 * folder_id and its offset triple, private chats and channels), contacts.getContacts
 * (the users one has private messages with), reading (messages.readHistory /
 * channels.readHistory), deleting (messages.deleteMessages / channels.deleteMessages),
 * messages.searchGlobal (next_rate, offset_rate / offset_peer / offset_id), and the page
 * rate (FLOOD_WAIT_X beyond mtp_server_config_t.page_rate).
 */
#include "srv_api_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAN_MARK 1000000000000LL

typedef struct react {
    int64_t chan, user;
    int32_t msg, date;
    char emo[16];
} react_t;

typedef struct pair {           /* (user, marked peer) -> value */
    int64_t user, peer;
    int32_t v;
} pair_t;

typedef struct invite {
    char hash[24];
    int64_t chan;
    bool expired;
} invite_t;

typedef struct rate {
    int64_t user;
    mtp_usec_t start;
    int32_t n;
} rate_t;

struct srv_act {
    react_t *reacts;
    size_t n_reacts, cap_reacts;
    pair_t *folders, *reads;    /* folder_id; read max id */
    size_t n_folders, cap_folders, n_reads, cap_reads;
    invite_t invites[256];
    size_t n_invites;
    rate_t rates[64];
};

static struct srv_act *act(srv_t *srv)
{
    if (!srv->act)
        srv->act = calloc(1, sizeof *srv->act);
    return srv->act;
}

void srv_act_free(srv_t *srv)
{
    if (!srv->act)
        return;
    free(srv->act->reacts);
    free(srv->act->folders);
    free(srv->act->reads);
    free(srv->act);
    srv->act = NULL;
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 64;
    if (c > 10000000)
        return false;
    void *p = realloc(*v, c * size);
    if (!p)
        return false;
    *v = p;
    *cap = c;
    return true;
}

/* (user, peer) in a pair table: its value, or def. */
static int32_t pair_get(const pair_t *t, size_t n, int64_t user, int64_t peer, int32_t def)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].user == user && t[i].peer == peer)
            return t[i].v;
    return def;
}

static bool pair_set(pair_t **t, size_t *n, size_t *cap, int64_t user, int64_t peer, int32_t v)
{
    for (size_t i = 0; i < *n; i++)
        if ((*t)[i].user == user && (*t)[i].peer == peer) {
            (*t)[i].v = v;
            return true;
        }
    if (!grow((void **)t, cap, *n, sizeof **t))
        return false;
    (*t)[(*n)++] = (pair_t){ user, peer, v };
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* page rate                                                                            */
/* ------------------------------------------------------------------------------------ */

void mtp_server_set_page_rate(mtp_server_t *srv, int32_t pages_per_second)
{
    if (srv)
        __atomic_store_n(&srv->page_rate, pages_per_second, __ATOMIC_RELAXED);
}

bool srv_page_flood(srv_req_t *r)
{
    int32_t rate = __atomic_load_n(&r->srv->page_rate, __ATOMIC_RELAXED);
    if (rate <= 0 || !act(r->srv))
        return false;
    int64_t me = me_id(r);
    rate_t *rt = &r->srv->act->rates[(uint64_t)me % 64];
    mtp_usec_t now = mtp_now_usec();
    if (rt->user != me || now - rt->start >= 1000000) {
        rt->user = me;
        rt->start = now;
        rt->n = 0;
    }
    if (++rt->n <= rate)
        return false;
    long long wait = (long long)((rt->start + 1000000 - now + 999999) / 1000000);
    reply_errf(r, 420, "FLOOD_WAIT_%lld", wait < 1 ? 1 : wait);
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* forwarding                                                                           */
/* ------------------------------------------------------------------------------------ */

mtp_tl_object_t *srv_fwd_header(srv_req_t *r, const srv_msg_t *m)
{
    if (!m->fwd_peer)
        return NULL;
    mtp_messageFwdHeader_t *h = MTP_NEW(r->arena, messageFwdHeader);
    if (!h)
        return NULL;
    h->date = m->fwd_date;
    if (m->fwd_peer < -CHAN_MARK) {
        mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
        if (!pc)
            return NULL;
        pc->channel_id = -m->fwd_peer - CHAN_MARK;
        h->from_id = &pc->_;
        h->has_channel_post = true;
        h->channel_post = m->fwd_msg_id;
    } else {
        h->from_id = peer_user(r, m->fwd_peer);
    }
    return &h->_;
}

/* The message `id` of the chat from_peer as the caller sees it (NULL: none). */
static const srv_msg_t *source_msg(srv_req_t *r, srv_channel_t *ch, srv_user_t *me,
                                   int64_t peer, int32_t id)
{
    if (ch) {
        for (size_t lo = 0, hi = ch->n_msgs; lo < hi;) {    /* ids ascend */
            size_t mid = (lo + hi) / 2;
            if (ch->msgs[mid].id == id)
                return ch->msgs[mid].deleted ? NULL : &ch->msgs[mid];
            if (ch->msgs[mid].id < id)
                lo = mid + 1;
            else
                hi = mid;
        }
        return NULL;
    }
    (void)r;
    for (size_t i = 0; me && i < me->n_msgs; i++)
        if (me->msgs[i].id == id && me->msgs[i].peer == peer && !me->msgs[i].deleted)
            return &me->msgs[i];
    return NULL;
}

static int64_t marked_source(srv_channel_t *ch, const srv_msg_t *m)
{
    if (m->fwd_peer)
        return m->fwd_peer;     /* a forward of a forward keeps the origin */
    return ch ? -(CHAN_MARK + ch->id) : m->from;
}

static srv_msg_t *fwd_one(srv_req_t *r, srv_channel_t *to_ch, srv_user_t *me, srv_user_t *to,
                          srv_channel_t *from_ch, const srv_msg_t *src, int64_t rid)
{
    int32_t now = srv_unixtime();
    const uint8_t *text = (const uint8_t *)src->text;
    srv_msg_t *m = NULL;
    if (to_ch) {
        for (size_t i = to_ch->n_msgs; rid && i-- > 0;)
            if (to_ch->msgs[i].random_id == rid && to_ch->msgs[i].from == me->id)
                return &to_ch->msgs[i];
        m = srv_channel_post(to_ch, to_ch->broadcast ? 0 : me->id, text, src->text_len, rid,
                             now);
    } else {
        if (rid && (m = srv_msg_by_random(me, rid)))
            return m;
        m = srv_msg_add(r->srv, me, to->id, me->id, true, text, src->text_len, rid,
                        src->doc_id, now);
        if (m && to != me) {
            srv_msg_t *m2 = srv_msg_add(r->srv, to, me->id, me->id, false, text,
                                        src->text_len, 0, src->doc_id, now);
            if (m2) {
                m2->fwd_peer = marked_source(from_ch, src);
                m2->fwd_msg_id = src->fwd_peer ? src->fwd_msg_id : src->id;
                m2->fwd_date = src->fwd_peer ? src->fwd_date : src->date;
            }
        }
    }
    if (m) {
        m->doc_id = src->doc_id;
        m->fwd_peer = marked_source(from_ch, src);
        m->fwd_msg_id = src->fwd_peer ? src->fwd_msg_id : src->id;
        m->fwd_date = src->fwd_peer ? src->fwd_date : src->date;
    }
    return m;
}

static void h_forwardMessages(srv_req_t *r, const void *qv)
{
    const mtp_messages_forwardMessages_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me || !q->id.n || q->id.n > 100 || q->random_id.n != q->id.n) {
        reply_err(r, 400, !me ? "AUTH_KEY_UNREGISTERED"
                          : q->random_id.n != q->id.n ? "RANDOM_ID_INVALID" : "MESSAGE_IDS_EMPTY");
        return;
    }
    srv_channel_t *from_ch = NULL, *to_ch = NULL;
    srv_user_t *from_u = NULL, *to_u = NULL;
    if (q->from_peer && q->from_peer->tl == &mtp_tlc_inputPeerChannel) {
        if (!(from_ch = input_channel(r, q->from_peer, true)))
            return;
    } else if (!(from_u = input_peer(r, q->from_peer))) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    if (q->to_peer && q->to_peer->tl == &mtp_tlc_inputPeerChannel) {
        if (!(to_ch = input_channel(r, q->to_peer, false)))
            return;
        if (!srv_channel_member(to_ch, me->id) ||
            (to_ch->broadcast && to_ch->members[0] != me->id)) {
            reply_err(r, 403, "CHAT_WRITE_FORBIDDEN");
            return;
        }
    } else if (!(to_u = input_peer(r, q->to_peer))) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    const srv_msg_t **src = mtp_arena_alloc(r->arena, q->id.n * sizeof *src);
    mtp_updates_t *u = MTP_NEW(r->arena, updates);
    if (!src || !u || !vec_new(r->arena, &u->updates, 2 * q->id.n) ||
        !vec_new(r->arena, &u->users, 2) || !vec_new(r->arena, &u->chats, 2)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (uint32_t i = 0; i < q->id.n; i++)
        if (!(src[i] = source_msg(r, from_ch, me, from_u ? from_u->id : 0, q->id.v[i]))) {
            reply_err(r, 400, "MSG_ID_INVALID");
            return;
        }
    for (uint32_t i = 0; i < q->id.n; i++) {
        srv_msg_t *m = fwd_one(r, to_ch, me, to_u, from_ch, src[i], q->random_id.v[i]);
        mtp_updateMessageID_t *mid = MTP_NEW(r->arena, updateMessageID);
        if (!m || !mid) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        mid->id = m->id;
        mid->random_id = q->random_id.v[i];
        vec_push(&u->updates, mid);
        if (to_ch) {
            mtp_updateNewChannelMessage_t *nm = MTP_NEW(r->arena, updateNewChannelMessage);
            if (nm)
                nm->message = chan_msg_obj(r, m, me->id), nm->pts = m->pts, nm->pts_count = 1;
            vec_push(&u->updates, nm);
        } else {
            mtp_updateNewMessage_t *nm = MTP_NEW(r->arena, updateNewMessage);
            if (nm)
                nm->message = msg_obj(r, m), nm->pts = m->pts, nm->pts_count = 1;
            vec_push(&u->updates, nm);
        }
    }
    vec_push(&u->users, user_obj(r, me));
    if (to_u && to_u != me)
        vec_push(&u->users, user_obj(r, to_u));
    if (to_ch)
        vec_push(&u->chats, channel_obj(r, to_ch));
    if (from_ch && from_ch != to_ch)
        vec_push(&u->chats, channel_obj(r, from_ch));
    u->date = srv_unixtime();
    reply_obj(r, &u->_);
}

/* ------------------------------------------------------------------------------------ */
/* invite links                                                                         */
/* ------------------------------------------------------------------------------------ */

static invite_t *invite_find(srv_t *srv, mtp_bytes_t hash)
{
    struct srv_act *a = act(srv);
    for (size_t i = 0; a && i < a->n_invites; i++)
        if (strlen(a->invites[i].hash) == hash.len &&
            memcmp(a->invites[i].hash, hash.ptr, hash.len) == 0)
            return &a->invites[i];
    return NULL;
}

/* Add an invite hash for a channel (seeding and exportChatInvite). */
static invite_t *invite_add(srv_t *srv, int64_t chan, const char *hash, bool expired)
{
    struct srv_act *a = act(srv);
    if (!a || a->n_invites == sizeof a->invites / sizeof a->invites[0])
        return NULL;
    invite_t *iv = &a->invites[a->n_invites++];
    snprintf(iv->hash, sizeof iv->hash, "%s", hash);
    iv->chan = chan;
    iv->expired = expired;
    return iv;
}

int srv_act_seed_invite(srv_t *srv, int64_t chan, const char *hash, bool expired)
{
    return invite_add(srv, chan, hash, expired) ? 0 : MTP_ENOMEM;
}

static void h_exportChatInvite(srv_req_t *r, const void *qv)
{
    const mtp_messages_exportChatInvite_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->peer, true);
    if (!ch)
        return;
    if (ch->members[0] != me_id(r)) {
        reply_err(r, 400, "CHAT_ADMIN_REQUIRED");
        return;
    }
    char hash[24];
    snprintf(hash, sizeof hash, "H%016" PRIx64,
             (uint64_t)srv_access_hash(r->srv, ch->id, (uint32_t)(11 + act(r->srv)->n_invites)));
    invite_t *iv = invite_add(r->srv, ch->id, hash, false);
    mtp_chatInviteExported_t *o = MTP_NEW(r->arena, chatInviteExported);
    char *link = mtp_arena_alloc(r->arena, 64);
    if (!iv || !o || !link) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    snprintf(link, 64, "https://t.me/+%s", iv->hash);
    o->link = cs(link);
    o->admin_id = me_id(r);
    o->date = srv_unixtime();
    reply_obj(r, &o->_);
}

static void h_checkChatInvite(srv_req_t *r, const void *qv)
{
    const mtp_messages_checkChatInvite_t *q = qv;
    invite_t *iv = invite_find(r->srv, q->hash);
    srv_channel_t *ch = iv ? srv_channel_find(r->srv, iv->chan) : NULL;
    if (!ch || iv->expired) {
        reply_err(r, 400, ch ? "INVITE_HASH_EXPIRED" : "INVITE_HASH_INVALID");
        return;
    }
    if (srv_channel_member(ch, me_id(r))) {
        mtp_chatInviteAlready_t *o = MTP_NEW(r->arena, chatInviteAlready);
        if (o)
            o->chat = channel_obj(r, ch);
        reply_obj(r, o ? &o->_ : NULL);
        return;
    }
    mtp_chatInvite_t *o = MTP_NEW(r->arena, chatInvite);
    mtp_tl_object_t *photo = (mtp_tl_object_t *)MTP_NEW(r->arena, photoEmpty);
    if (!o || !photo) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->channel = true;
    o->broadcast = ch->broadcast;
    o->megagroup = !ch->broadcast;
    o->title = cs(ch->title);
    o->photo = photo;
    o->participants_count = ch->n_members + ch->n_seeded;
    reply_obj(r, &o->_);
}

static void h_importChatInvite(srv_req_t *r, const void *qv)
{
    const mtp_messages_importChatInvite_t *q = qv;
    invite_t *iv = invite_find(r->srv, q->hash);
    srv_channel_t *ch = iv ? srv_channel_find(r->srv, iv->chan) : NULL;
    if (!ch || iv->expired) {
        reply_err(r, 400, ch ? "INVITE_HASH_EXPIRED" : "INVITE_HASH_INVALID");
        return;
    }
    int64_t me = me_id(r);
    if (srv_channel_member(ch, me)) {
        reply_err(r, 400, "USER_ALREADY_PARTICIPANT");
        return;
    }
    if (srv_channel_join(ch, me)) {
        reply_err(r, 400, "USERS_TOO_MUCH");
        return;
    }
    mtp_messages_chatInviteJoinResultOk_t *o = MTP_NEW(r->arena, messages_chatInviteJoinResultOk);
    if (o)
        o->updates = chan_updates(r, ch, upd_channel(r, ch), NULL, 0);
    reply_obj(r, o ? &o->_ : NULL);
}

/* ------------------------------------------------------------------------------------ */
/* reactions                                                                            */
/* ------------------------------------------------------------------------------------ */

/* Channel and message of a reaction request (NULL: answered). */
static const srv_msg_t *react_target(srv_req_t *r, const mtp_tl_object_t *peer, int32_t id,
                                     srv_channel_t **chp)
{
    if (!peer || peer->tl != &mtp_tlc_inputPeerChannel) {
        reply_err(r, 400, "PEER_ID_INVALID");  /* reactions live in channels here */
        return NULL;
    }
    srv_channel_t *ch = input_channel(r, peer, true);
    if (!ch)
        return NULL;
    const srv_msg_t *m = source_msg(r, ch, NULL, 0, id);
    if (!m) {
        reply_err(r, 400, "MSG_ID_INVALID");
        return NULL;
    }
    *chp = ch;
    return m;
}

/* The seeded reactions of a post (see srv_hist.c): count of 👍 by seeded users. */
static int32_t seeded_reactions(const srv_channel_t *ch, const srv_msg_t *m)
{
    return ch->seed_base && ch->broadcast && m->id % 7 == 0 ? 1 + m->id % 5 : 0;
}

static void h_sendReaction(srv_req_t *r, const void *qv)
{
    const mtp_messages_sendReaction_t *q = qv;
    srv_channel_t *ch;
    const srv_msg_t *m = react_target(r, q->peer, q->msg_id, &ch);
    if (!m)
        return;
    const char *emo = NULL;
    size_t elen = 0;
    if (q->has_reaction && q->reaction.n) {
        const mtp_tl_object_t *x = q->reaction.v[0];
        if (!x || x->tl != &mtp_tlc_reactionEmoji ||
            !((const mtp_reactionEmoji_t *)x)->emoticon.len ||
            ((const mtp_reactionEmoji_t *)x)->emoticon.len >= 16) {
            reply_err(r, 400, "REACTION_INVALID");
            return;
        }
        emo = (const char *)((const mtp_reactionEmoji_t *)x)->emoticon.ptr;
        elen = ((const mtp_reactionEmoji_t *)x)->emoticon.len;
    }
    struct srv_act *a = act(r->srv);
    int64_t me = me_id(r);
    if (!a) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < a->n_reacts; i++)      /* one reaction per user and message */
        if (!(a->reacts[i].chan == ch->id && a->reacts[i].msg == m->id && a->reacts[i].user == me))
            a->reacts[k++] = a->reacts[i];
    a->n_reacts = k;
    if (emo) {
        if (!grow((void **)&a->reacts, &a->cap_reacts, a->n_reacts, sizeof *a->reacts)) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        react_t *x = &a->reacts[a->n_reacts++];
        memset(x, 0, sizeof *x);
        x->chan = ch->id, x->user = me, x->msg = m->id, x->date = srv_unixtime();
        memcpy(x->emo, emo, elen);
    }
    mtp_updateMessageReactions_t *u = MTP_NEW(r->arena, updateMessageReactions);
    mtp_message_t *tmp = (mtp_message_t *)chan_msg_obj(r, m, me);
    mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
    if (!u || !tmp || !pc) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    pc->channel_id = ch->id;
    u->peer = &pc->_;
    u->msg_id = m->id;
    u->reactions = tmp->reactions ? tmp->reactions
                                  : (mtp_tl_object_t *)MTP_NEW(r->arena, messageReactions);
    reply_obj(r, chan_updates(r, ch, &u->_, NULL, me));
}

/* Reactions of m (seeded ones, then the stored ones) into o->reactions. */
void srv_act_reactions(srv_req_t *r, const srv_channel_t *ch, const srv_msg_t *m,
                       mtp_message_t *o)
{
    struct srv_act *a = r->srv->act;
    int32_t seeded = seeded_reactions(ch, m);
    const char *emos[8];
    int32_t counts[8];
    int ne = 0;
    if (seeded)
        emos[ne] = "\xf0\x9f\x91\x8d", counts[ne++] = seeded;
    for (size_t i = 0; a && i < a->n_reacts; i++) {
        const react_t *x = &a->reacts[i];
        if (x->chan != ch->id || x->msg != m->id)
            continue;
        int k = 0;
        while (k < ne && strcmp(emos[k], x->emo) != 0)
            k++;
        if (k == ne && ne < 8)
            emos[ne] = x->emo, counts[ne++] = 0;
        if (k < ne)
            counts[k]++;
    }
    if (!ne)
        return;
    mtp_messageReactions_t *mr = MTP_NEW(r->arena, messageReactions);
    if (!mr || !vec_new(r->arena, &mr->results, (size_t)ne))
        return;
    for (int k = 0; k < ne; k++) {
        mtp_reactionCount_t *rc = MTP_NEW(r->arena, reactionCount);
        mtp_reactionEmoji_t *e = MTP_NEW(r->arena, reactionEmoji);
        if (!rc || !e)
            return;
        e->emoticon = cs(emos[k]);
        rc->reaction = &e->_;
        rc->count = counts[k];
        vec_push(&mr->results, rc);
    }
    mr->can_see_list = true;
    o->reactions = &mr->_;
}

static void h_getMessageReactionsList(srv_req_t *r, const void *qv)
{
    const mtp_messages_getMessageReactionsList_t *q = qv;
    srv_channel_t *ch;
    const srv_msg_t *m = react_target(r, q->peer, q->id, &ch);
    if (!m || srv_page_flood(r))
        return;
    long offset = 0;
    if (q->has_offset && q->offset.len) {
        char buf[16] = "";
        memcpy(buf, q->offset.ptr, q->offset.len < 15 ? q->offset.len : 15);
        char *end;
        offset = strtol(buf, &end, 10);
        if (*end || offset < 0) {
            reply_err(r, 400, "OFFSET_INVALID");
            return;
        }
    }
    const mtp_bytes_t *want = NULL;    /* a length-delimited slice, not NUL-terminated */
    if (q->reaction && q->reaction->tl == &mtp_tlc_reactionEmoji)
        want = &((const mtp_reactionEmoji_t *)q->reaction)->emoticon;
    size_t limit = q->limit <= 0 || q->limit > 100 ? 100 : (size_t)q->limit;
    struct srv_act *a = r->srv->act;
    mtp_messages_messageReactionsList_t *o = MTP_NEW(r->arena, messages_messageReactionsList);
    if (!o || !vec_new(r->arena, &o->reactions, limit) || !vec_new(r->arena, &o->users, limit) ||
        !vec_new(r->arena, &o->chats, 0)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    /* the list: stored reactions (newest first), then the seeded ones */
    int32_t count = 0;
    size_t na = a ? a->n_reacts : 0;
    int32_t seeded = seeded_reactions(ch, m);
    for (size_t i = 0; i < na + (size_t)seeded; i++) {
        const react_t *x = i < na ? &a->reacts[na - 1 - i] : NULL;
        if (x && (x->chan != ch->id || x->msg != m->id))
            continue;
        const char *emo = x ? x->emo : "\xf0\x9f\x91\x8d";
        if (want && !(strlen(emo) == want->len && memcmp(emo, want->ptr, want->len) == 0))
            continue;
        if (count++ < offset || o->reactions.n >= limit)
            continue;
        int64_t uid = x ? x->user : ch->seed_base + 1 + (int64_t)(i - na);
        mtp_messagePeerReaction_t *pr = MTP_NEW(r->arena, messagePeerReaction);
        mtp_reactionEmoji_t *e = MTP_NEW(r->arena, reactionEmoji);
        if (!pr || !e)
            break;
        e->emoticon = cs(emo);
        pr->reaction = &e->_;
        pr->peer_id = peer_user(r, uid);
        pr->date = x ? x->date : m->date;
        pr->my = uid == me_id(r);
        vec_push(&o->reactions, pr);
        vec_push(&o->users, srv_any_user_obj(r, uid));
    }
    o->count = count;
    if ((long)offset + (long)o->reactions.n < count) {
        char *next = mtp_arena_alloc(r->arena, 16);
        if (next) {
            snprintf(next, 16, "%ld", offset + (long)o->reactions.n);
            o->has_next_offset = true;
            o->next_offset = cs(next);
        }
    }
    reply_obj(r, &o->_);
}

/* ------------------------------------------------------------------------------------ */
/* dialogs and folders                                                                  */
/* ------------------------------------------------------------------------------------ */

typedef struct dlg {
    int64_t peer;               /* marked: user id, or -(CHAN_MARK + channel id) */
    const srv_msg_t *top;
    srv_channel_t *ch;
    int32_t in_max, out_max, unread;
} dlg_t;

static int dlg_cmp(const void *a, const void *b)
{
    const dlg_t *x = a, *y = b;
    if (x->top->date != y->top->date)
        return x->top->date > y->top->date ? -1 : 1;
    if (x->top->id != y->top->id)
        return x->top->id > y->top->id ? -1 : 1;
    return x->peer > y->peer ? -1 : x->peer < y->peer;
}

/* Every dialog of me (private chats by their newest message, the channels me is in),
 * newest first. */
static size_t collect_dialogs(srv_req_t *r, srv_user_t *me, dlg_t **out)
{
    size_t cap = me->n_msgs + r->srv->channels.n + 1, n = 0;
    dlg_t *d = mtp_arena_alloc(r->arena, cap * sizeof *d);
    *out = d;
    if (!d)
        return 0;
    struct srv_act *a = r->srv->act;
    for (size_t i = me->n_msgs; i-- > 0;) {
        const srv_msg_t *m = &me->msgs[i];
        if (m->deleted)
            continue;
        size_t k = 0;
        while (k < n && d[k].peer != m->peer)
            k++;
        if (k == n)
            d[n++] = (dlg_t){ m->peer, m, NULL, 0, 0, 0 };
        /* read up to the newest incoming message, unless readHistory said less */
        int32_t rd = a ? pair_get(a->reads, a->n_reads, me->id, m->peer, -1) : -1;
        if (m->out && m->id > d[k].out_max)
            d[k].out_max = m->id;
        if (!m->out && rd < 0 && m->id > d[k].in_max)
            d[k].in_max = m->id;
        if (!m->out && rd >= 0) {
            d[k].in_max = rd;
            d[k].unread += m->id > rd;
        }
    }
    size_t it = 0;
    srv_channel_t *ch;
    while (srv_map_next(&r->srv->channels, &it, NULL, (void **)&ch)) {
        if (ch->basic || !srv_channel_member(ch, me->id))
            continue;
        const srv_msg_t *top = NULL;
        for (size_t i = ch->n_msgs; !top && i-- > 0;)
            if (!ch->msgs[i].deleted)
                top = &ch->msgs[i];
        if (!top)
            continue;
        int64_t peer = -(CHAN_MARK + ch->id);
        int32_t rd = a ? pair_get(a->reads, a->n_reads, me->id, peer, 0) : 0;
        int32_t unread = 0;
        for (size_t i = ch->n_msgs; i-- > 0 && ch->msgs[i].id > rd;)
            unread += !ch->msgs[i].deleted && ch->msgs[i].from != me->id;
        d[n++] = (dlg_t){ peer, top, ch, rd, top->id, unread };
    }
    qsort(d, n, sizeof *d, dlg_cmp);
    return n;
}

static mtp_tl_object_t *dialog_obj(srv_req_t *r, const dlg_t *x, int32_t folder)
{
    mtp_dialog_t *dl = MTP_NEW(r->arena, dialog);
    if (!dl)
        return NULL;
    if (x->ch) {
        mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
        if (!pc)
            return NULL;
        pc->channel_id = x->ch->id;
        dl->peer = &pc->_;
        dl->has_pts = true;
        dl->pts = x->ch->pts;
    } else {
        dl->peer = peer_user(r, x->peer);
    }
    dl->top_message = x->top->id;
    dl->read_inbox_max_id = x->in_max;
    dl->read_outbox_max_id = x->out_max;
    dl->unread_count = x->unread;
    dl->notify_settings = notify_settings(r);
    if (folder) {
        dl->has_folder_id = true;
        dl->folder_id = folder;
    }
    return &dl->_;
}

static void h_getDialogs(srv_req_t *r, const void *qv)
{
    const mtp_messages_getDialogs_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    if (srv_page_flood(r))
        return;
    dlg_t *d;
    size_t nd = collect_dialogs(r, me, &d);
    struct srv_act *a = r->srv->act;
    int32_t want = q->has_folder_id ? q->folder_id : 0;
    size_t limit = q->limit <= 0 || q->limit > HISTORY_MAX ? HISTORY_MAX : (size_t)q->limit;
    mtp_vec_obj_t dialogs, msgs, users, chats;
    int64_t *seen = mtp_arena_alloc(r->arena, (2 * nd + 2) * sizeof *seen);
    size_t ns = 0, in_folder = 0;
    if (!seen || !vec_new(r->arena, &dialogs, nd) || !vec_new(r->arena, &msgs, nd) ||
        !vec_new(r->arena, &users, 2 * nd + 2) || !vec_new(r->arena, &chats, nd)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    add_user_once(r, &users, seen, &ns, me->id);
    for (size_t i = 0; i < nd; i++) {
        int32_t folder = a ? pair_get(a->folders, a->n_folders, me->id, d[i].peer, 0) : 0;
        if (folder != want)
            continue;
        in_folder++;
        const srv_msg_t *m = d[i].top;
        /* the offset triple: dialogs strictly older than (offset_date, offset_id) */
        if (q->offset_date > 0 && (m->date > q->offset_date ||
                                   (m->date == q->offset_date && q->offset_id > 0 &&
                                    m->id >= q->offset_id)))
            continue;
        if (!q->offset_date && q->offset_id > 0 && m->id >= q->offset_id)
            continue;
        if (dialogs.n >= limit)
            continue;
        vec_push(&dialogs, dialog_obj(r, &d[i], folder));
        if (d[i].ch) {
            vec_push(&msgs, chan_msg_obj(r, m, me->id));
            vec_push(&chats, channel_obj(r, d[i].ch));
            if (m->from)
                add_user_once(r, &users, seen, &ns, m->from);
        } else {
            vec_push(&msgs, msg_obj(r, m));
            add_user_once(r, &users, seen, &ns, d[i].peer);
            add_user_once(r, &users, seen, &ns, m->from);
        }
    }
    if (dialogs.n == in_folder) {
        mtp_messages_dialogs_t *o = MTP_NEW(r->arena, messages_dialogs);
        if (o)
            o->dialogs = dialogs, o->messages = msgs, o->users = users, o->chats = chats;
        reply_obj(r, o ? &o->_ : NULL);
        return;
    }
    mtp_messages_dialogsSlice_t *o = MTP_NEW(r->arena, messages_dialogsSlice);
    if (o) {
        o->count = (int32_t)in_folder;
        o->dialogs = dialogs, o->messages = msgs, o->users = users, o->chats = chats;
    }
    reply_obj(r, o ? &o->_ : NULL);
}

/* A marked peer id of an InputPeer the caller may use (0: answered). */
static int64_t marked_input(srv_req_t *r, const mtp_tl_object_t *p)
{
    if (p && p->tl == &mtp_tlc_inputPeerChannel) {
        srv_channel_t *ch = input_channel(r, p, true);
        return ch ? -(CHAN_MARK + ch->id) : 0;
    }
    srv_user_t *u = input_peer(r, p);
    if (!u)
        reply_err(r, 400, "PEER_ID_INVALID");
    return u ? u->id : 0;
}

static void h_editPeerFolders(srv_req_t *r, const void *qv)
{
    const mtp_folders_editPeerFolders_t *q = qv;
    struct srv_act *a = act(r->srv);
    int64_t me = me_id(r);
    mtp_updateFolderPeers_t *u = MTP_NEW(r->arena, updateFolderPeers);
    if (!a || !u || !vec_new(r->arena, &u->folder_peers, q->folder_peers.n)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (uint32_t i = 0; i < q->folder_peers.n; i++) {
        const mtp_tl_object_t *x = q->folder_peers.v[i];
        if (!x || x->tl != &mtp_tlc_inputFolderPeer) {
            reply_err(r, 400, "PEER_ID_INVALID");
            return;
        }
        const mtp_inputFolderPeer_t *fp = (const void *)x;
        if (fp->folder_id != 0 && fp->folder_id != 1) {
            reply_err(r, 400, "FOLDER_ID_INVALID");
            return;
        }
        int64_t peer = marked_input(r, fp->peer);
        if (!peer)
            return;
        if (!pair_set(&a->folders, &a->n_folders, &a->cap_folders, me, peer, fp->folder_id)) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        mtp_folderPeer_t *o = MTP_NEW(r->arena, folderPeer);
        if (o) {
            if (peer < 0) {
                mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
                if (pc)
                    pc->channel_id = -peer - CHAN_MARK;
                o->peer = pc ? &pc->_ : NULL;
            } else {
                o->peer = peer_user(r, peer);
            }
            o->folder_id = fp->folder_id;
        }
        vec_push(&u->folder_peers, o);
    }
    mtp_updates_t *up = MTP_NEW(r->arena, updates);
    if (!up || !vec_new(r->arena, &up->updates, 1) || !vec_new(r->arena, &up->users, 0) ||
        !vec_new(r->arena, &up->chats, 0)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    vec_push(&up->updates, u);
    up->date = srv_unixtime();
    reply_obj(r, &up->_);
}

/* ------------------------------------------------------------------------------------ */
/* contacts, reading, deleting                                                          */
/* ------------------------------------------------------------------------------------ */

/* The contacts of a harness user: the users it has private messages with. */
static void h_getContacts(srv_req_t *r, const void *qv)
{
    const mtp_contacts_getContacts_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    int64_t *ids = mtp_arena_alloc(r->arena, (me->n_msgs + 1) * sizeof *ids);
    size_t n = 0;
    if (!ids) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (size_t i = 0; i < me->n_msgs; i++) {
        int64_t p = me->msgs[i].peer;
        size_t k = 0;
        while (k < n && ids[k] != p)
            k++;
        if (k == n && p != me->id && srv_user_find(r->srv, p))
            ids[n++] = p;
    }
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) {
        h ^= h >> 21;
        h ^= h << 35;
        h ^= h >> 4;
        h += (uint64_t)ids[i];
    }
    if (q->hash && (int64_t)h == q->hash) {
        reply_obj(r, (mtp_tl_object_t *)MTP_NEW(r->arena, contacts_contactsNotModified));
        return;
    }
    mtp_contacts_contacts_t *o = MTP_NEW(r->arena, contacts_contacts);
    if (!o || !vec_new(r->arena, &o->contacts, n) || !vec_new(r->arena, &o->users, n)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        mtp_contact_t *c = MTP_NEW(r->arena, contact);
        if (c)
            c->user_id = ids[i], c->mutual = true;
        vec_push(&o->contacts, c);
        vec_push(&o->users, user_obj(r, srv_user_find(r->srv, ids[i])));
    }
    reply_obj(r, &o->_);
}

static void reply_affected(srv_req_t *r, int32_t pts, int32_t count)
{
    mtp_messages_affectedMessages_t *o = MTP_NEW(r->arena, messages_affectedMessages);
    if (o)
        o->pts = pts, o->pts_count = count;
    reply_obj(r, o ? &o->_ : NULL);
}

static bool set_read(srv_req_t *r, int64_t peer, int32_t max_id)
{
    struct srv_act *a = act(r->srv);
    if (!a)
        return false;
    int32_t old = pair_get(a->reads, a->n_reads, me_id(r), peer, 0);
    return pair_set(&a->reads, &a->n_reads, &a->cap_reads, me_id(r), peer,
                    max_id > old ? max_id : old);
}

static void h_readHistory(srv_req_t *r, const void *qv)
{
    const mtp_messages_readHistory_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    srv_user_t *peer = input_peer(r, q->peer);
    if (!me || !peer) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    int32_t top = 0;
    for (size_t i = 0; i < me->n_msgs; i++)
        if (me->msgs[i].peer == peer->id && me->msgs[i].id > top)
            top = me->msgs[i].id;
    if (!set_read(r, peer->id, q->max_id <= 0 || q->max_id > top ? top : q->max_id)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    reply_affected(r, me->pts, 0);
}

static void h_channelsReadHistory(srv_req_t *r, const void *qv)
{
    const mtp_channels_readHistory_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, true);
    if (!ch)
        return;
    if (!srv_channel_member(ch, me_id(r))) {
        reply_err(r, 400, "USER_NOT_PARTICIPANT");
        return;
    }
    int32_t top = ch->n_msgs ? ch->msgs[ch->n_msgs - 1].id : 0;
    if (!set_read(r, -(CHAN_MARK + ch->id), q->max_id <= 0 || q->max_id > top ? top : q->max_id)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    reply_bool(r, true);
}

static void h_deleteMessages(srv_req_t *r, const void *qv)
{
    const mtp_messages_deleteMessages_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    int32_t n = 0;
    for (uint32_t k = 0; k < q->id.n; k++)
        for (size_t i = 0; i < me->n_msgs; i++)
            if (me->msgs[i].id == q->id.v[k] && !me->msgs[i].deleted) {
                me->msgs[i].deleted = true;
                n++;
            }
    if (n)
        r->srv->dirty_msgs = true;
    reply_affected(r, me->pts, n);
}

static void h_channelsDeleteMessages(srv_req_t *r, const void *qv)
{
    const mtp_channels_deleteMessages_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, true);
    if (!ch)
        return;
    int64_t me = me_id(r);
    int32_t n = 0;
    for (uint32_t k = 0; k < q->id.n; k++) {
        srv_msg_t *m = (srv_msg_t *)source_msg(r, ch, NULL, 0, q->id.v[k]);
        if (!m)
            continue;
        if (m->from != me && ch->members[0] != me) {
            reply_err(r, 403, "MESSAGE_DELETE_FORBIDDEN");
            return;
        }
        m->deleted = true;
        n++;
    }
    reply_affected(r, ch->pts, n);
}

/* ------------------------------------------------------------------------------------ */
/* global search                                                                        */
/* ------------------------------------------------------------------------------------ */

typedef struct hit {
    const srv_msg_t *m;
    srv_channel_t *ch;
    int64_t peer;               /* marked */
} hit_t;

static int hit_cmp(const void *a, const void *b)
{
    const hit_t *x = a, *y = b;
    if (x->m->date != y->m->date)
        return x->m->date > y->m->date ? -1 : 1;
    if (x->peer != y->peer)
        return x->peer > y->peer ? -1 : 1;
    return x->m->id > y->m->id ? -1 : x->m->id < y->m->id;
}

static bool text_has(const srv_msg_t *m, mtp_bytes_t q)
{
    if (m->deleted)
        return false;
    if (!q.len)
        return true;
    for (size_t i = 0; i + q.len <= m->text_len; i++) {
        size_t k = 0;
        while (k < q.len && (m->text[i + k] | 0x20) == (q.ptr[k] | 0x20))
            k++;
        if (k == q.len)
            return true;
    }
    return false;
}

/* Messages matching q in me's private chats and the channels me is in, by (date, peer,
 * id) descending; paged by offset_rate (a date) / offset_peer / offset_id. */
static void h_searchGlobal(srv_req_t *r, const void *qv)
{
    const mtp_messages_searchGlobal_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    if (srv_page_flood(r))
        return;
    size_t cap = me->n_msgs + 1, n = 0;
    size_t it = 0;
    srv_channel_t *ch;
    while (srv_map_next(&r->srv->channels, &it, NULL, (void **)&ch))
        if (!ch->basic && srv_channel_member(ch, me->id))
            cap += ch->n_msgs;
    hit_t *h = mtp_arena_alloc(r->arena, cap * sizeof *h);
    if (!h) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (size_t i = 0; !q->broadcasts_only && !q->groups_only && i < me->n_msgs; i++)
        if (text_has(&me->msgs[i], q->q))
            h[n++] = (hit_t){ &me->msgs[i], NULL, me->msgs[i].peer };
    it = 0;
    while (!q->users_only && srv_map_next(&r->srv->channels, &it, NULL, (void **)&ch)) {
        if (ch->basic || !srv_channel_member(ch, me->id) ||
            (q->broadcasts_only && !ch->broadcast) ||
            (q->groups_only && ch->broadcast))
            continue;
        for (size_t i = 0; i < ch->n_msgs; i++)
            if (text_has(&ch->msgs[i], q->q))
                h[n++] = (hit_t){ &ch->msgs[i], ch, -(CHAN_MARK + ch->id) };
    }
    qsort(h, n, sizeof *h, hit_cmp);
    int64_t opeer = 0;
    if (q->offset_peer && q->offset_peer->tl == &mtp_tlc_inputPeerChannel)
        opeer = -(CHAN_MARK + ((const mtp_inputPeerChannel_t *)q->offset_peer)->channel_id);
    else if (q->offset_peer && q->offset_peer->tl == &mtp_tlc_inputPeerUser)
        opeer = ((const mtp_inputPeerUser_t *)q->offset_peer)->user_id;
    size_t start = 0;
    if (q->offset_rate > 0) {
        hit_t key = { &(srv_msg_t){ .id = q->offset_id, .date = q->offset_rate }, NULL, opeer };
        while (start < n && hit_cmp(&h[start], &key) <= 0)
            start++;
    }
    size_t limit = q->limit <= 0 || q->limit > HISTORY_MAX ? HISTORY_MAX : (size_t)q->limit;
    size_t cnt = n - start < limit ? n - start : limit;
    mtp_messages_messagesSlice_t *o = MTP_NEW(r->arena, messages_messagesSlice);
    int64_t *seen = mtp_arena_alloc(r->arena, (2 * cnt + 1) * sizeof *seen);
    size_t ns = 0;
    if (!o || !seen || !vec_new(r->arena, &o->messages, cnt) ||
        !vec_new(r->arena, &o->users, 2 * cnt + 1) || !vec_new(r->arena, &o->chats, cnt)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (size_t i = start; i < start + cnt; i++) {
        if (h[i].ch) {
            vec_push(&o->messages, chan_msg_obj(r, h[i].m, me->id));
            bool dup = false;
            for (size_t k = start; k < i && !dup; k++)
                dup = h[k].ch == h[i].ch;
            if (!dup)
                vec_push(&o->chats, channel_obj(r, h[i].ch));
            if (h[i].m->from)
                add_user_once(r, &o->users, seen, &ns, h[i].m->from);
        } else {
            vec_push(&o->messages, msg_obj(r, h[i].m));
            add_user_once(r, &o->users, seen, &ns, h[i].peer);
            add_user_once(r, &o->users, seen, &ns, h[i].m->from);
        }
    }
    o->count = (int32_t)n;
    if (start + cnt < n && cnt) {
        o->has_next_rate = true;
        o->next_rate = h[start + cnt - 1].m->date;
    }
    reply_obj(r, &o->_);
}

/* ------------------------------------------------------------------------------------ */
/* methods of this area (see srv_api_int.h: one row per method)                         */
/* ------------------------------------------------------------------------------------ */

const handler_t srv_methods_act[] = {
    { &mtp_tlc_messages_forwardMessages, h_forwardMessages, A_AUTH },
    { &mtp_tlc_messages_exportChatInvite, h_exportChatInvite, A_AUTH },
    { &mtp_tlc_messages_checkChatInvite, h_checkChatInvite, A_AUTH },
    { &mtp_tlc_messages_importChatInvite, h_importChatInvite, A_AUTH },
    { &mtp_tlc_messages_sendReaction, h_sendReaction, A_AUTH },
    { &mtp_tlc_messages_getMessageReactionsList, h_getMessageReactionsList, A_AUTH },
    { &mtp_tlc_messages_getDialogs, h_getDialogs, A_AUTH },
    { &mtp_tlc_folders_editPeerFolders, h_editPeerFolders, A_AUTH },
    { &mtp_tlc_contacts_getContacts, h_getContacts, A_AUTH },
    { &mtp_tlc_messages_readHistory, h_readHistory, A_AUTH },
    { &mtp_tlc_channels_readHistory, h_channelsReadHistory, A_AUTH },
    { &mtp_tlc_messages_deleteMessages, h_deleteMessages, A_AUTH },
    { &mtp_tlc_channels_deleteMessages, h_channelsDeleteMessages, A_AUTH },
    { &mtp_tlc_messages_searchGlobal, h_searchGlobal, A_AUTH },
    { NULL, NULL, 0 }
};
