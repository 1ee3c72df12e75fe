/*
 * libmtproto harness — history and members of channels, with Telegram's paging:
 * messages.getHistory of a channel (messages.channelMessages), messages.search (in a
 * channel or a private chat), channels.getParticipants (every filter, limit <= 200, hash
 * -> channelParticipantsNotModified, CHAT_ADMIN_REQUIRED for a broadcast channel and a
 * non-admin), channels.joinChannel / leaveChannel, channels by username for
 * contacts.resolveUsername, and the seeding of mtp_server_config_t.populate_*.
 *
 * Paging (messages, newest first): the window is min_id < id < max_id (0 = unbounded);
 * the page starts at the first message with id < offset_id (or date < offset_date, or the
 * newest), moved by add_offset (negative: newer messages, the limit shrinking when it
 * passes the newest), and holds at most limit (<= 100) messages. count is the size of the
 * whole window; offset_id_offset the position of the page's first message in it.
 */
#include "srv_api_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEED_BASE         7000000000LL
#define PARTICIPANTS_MAX  200

/* ------------------------------------------------------------------------------------ */
/* seeded users                                                                         */
/* ------------------------------------------------------------------------------------ */

static bool seeded_id(int64_t id)
{
    return id >= SEED_BASE && id < SEED_BASE + 100000000LL;
}

static bool seeded_bot(int64_t id)
{
    return (id - SEED_BASE) % 97 == 5;
}

static mtp_tl_object_t *seeded_user_obj(srv_req_t *r, int64_t id)
{
    mtp_user_t *o = MTP_NEW(r->arena, user);
    char *last = mtp_arena_alloc(r->arena, 24), *un = mtp_arena_alloc(r->arena, 32);
    if (!o || !last || !un)
        return NULL;
    long long n = (long long)(id - SEED_BASE);
    snprintf(last, 24, "%lld", n);
    snprintf(un, 32, "%s%lld", seeded_bot(id) ? "bot" : "member", n);
    o->id = id;
    o->bot = seeded_bot(id);
    o->has_access_hash = true;
    o->access_hash = srv_access_hash(r->srv, id, 1);
    o->has_first_name = true;
    o->first_name = cs(o->bot ? "Bot" : "Member");
    o->has_last_name = true;
    o->last_name = cs(last);
    o->has_username = true;
    o->username = cs(un);
    if (o->bot) {
        o->has_bot_info_version = true;
        o->bot_info_version = 1;
    }
    return &o->_;
}

/* A user object for id: a stored user or a seeded one (NULL: none). */
mtp_tl_object_t *srv_any_user_obj(srv_req_t *r, int64_t id)
{
    srv_user_t *u = srv_user_find(r->srv, id);
    if (u)
        return user_obj(r, u);
    return seeded_id(id) ? seeded_user_obj(r, id) : NULL;
}

static void add_any_user(srv_req_t *r, mtp_vec_obj_t *v, int64_t *seen, size_t *ns, int64_t id)
{
    if (!id)
        return;
    for (size_t i = 0; i < *ns; i++)
        if (seen[i] == id)
            return;
    seen[(*ns)++] = id;
    vec_push(v, srv_any_user_obj(r, id));
}

/* ------------------------------------------------------------------------------------ */
/* seeding                                                                              */
/* ------------------------------------------------------------------------------------ */

static int seed_channel(srv_t *srv, const char *title, const char *username, bool broadcast,
                        srv_channel_t **out)
{
    int32_t now = srv_unixtime();
    int rc = srv_channel_new(srv, SEED_BASE, (const uint8_t *)title, strlen(title), now - 86400,
                             out);
    if (rc)
        return rc;
    snprintf((*out)->username, sizeof (*out)->username, "%s", username);
    (*out)->broadcast = broadcast;
    (*out)->seed_base = SEED_BASE;
    return 0;
}

/* The document of the seeded posts with media: a small text file. */
static srv_doc_t *seed_doc(srv_t *srv)
{
    static const char body[] = "A document attached to posts of the harness channel.\n";
    srv_upload_t *up = calloc(1, sizeof *up);
    uint8_t **parts = calloc(1, sizeof *parts);
    uint32_t *lens = calloc(1, sizeof *lens);
    uint8_t *data = malloc(sizeof body - 1);
    if (!up || !parts || !lens || !data) {
        free(up), free(parts), free(lens), free(data);
        return NULL;
    }
    memcpy(data, body, sizeof body - 1);
    parts[0] = data;
    lens[0] = sizeof body - 1;
    up->owner = SEED_BASE;
    up->cap = 1;
    up->parts = parts;
    up->part_len = lens;
    return srv_doc_from_upload(srv, up, 1, 1, (const uint8_t *)"harness.txt", 11,
                               (const uint8_t *)"text/plain", 10);
}

int srv_populate(srv_t *srv, int32_t n_msgs, int32_t n_members)
{
    srv_channel_t *ch;
    int rc;
    if (n_msgs < 0 || n_members < 0 || n_members > 10000000 || n_msgs > 10000000)
        return MTP_EINVAL;
    if (n_msgs > 0) {
        if ((rc = seed_channel(srv, "Harness Channel", "harness_channel", true, &ch)))
            return rc;
        int32_t start = srv_unixtime() - n_msgs;   /* one post a second, up to now */
        srv_doc_t *doc = seed_doc(srv);
        if (!doc)
            return MTP_ENOMEM;
        char text[64];
        for (int32_t i = 1; i <= n_msgs; i++) {
            int n = snprintf(text, sizeof text, "Post %d of the harness channel%s", (int)i,
                             i % 10 == 0 ? " (document)" : "");
            srv_msg_t *m = srv_channel_post(ch, 0, (const uint8_t *)text, (size_t)n, 0,
                                            start + i);
            if (!m)
                return MTP_ENOMEM;
            if (i % 10 == 0)
                m->doc_id = doc->id;
        }
    }
    if (n_members > 0) {
        if ((rc = seed_channel(srv, "Harness Group", "harness_group", false, &ch)))
            return rc;
        ch->n_seeded = n_members - 1;   /* the creator is member SEED_BASE */
        char text[64];
        for (int i = 1; i <= 20; i++) {
            int n = snprintf(text, sizeof text, "Hello from member %d", i);
            if (!srv_channel_post(ch, SEED_BASE + (i % n_members), (const uint8_t *)text,
                                  (size_t)n, 0, ch->date + i))
                return MTP_ENOMEM;
        }
        /* a private supergroup joined by the link t.me/+HarnessJoin (t.me/+HarnessOld has
         * expired) */
        if ((rc = seed_channel(srv, "Harness Private Group", "", false, &ch)))
            return rc;
        ch->n_seeded = n_members < 50 ? n_members : 50;
        if ((rc = srv_act_seed_invite(srv, ch->id, "HarnessJoin", false)) ||
            (rc = srv_act_seed_invite(srv, ch->id, "HarnessOld", true)))
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* message extras: fwd_from, reactions (srv_act.c), views                                */
/* ------------------------------------------------------------------------------------ */

void srv_chan_msg_extras(srv_req_t *r, const srv_msg_t *m, mtp_message_t *o)
{
    srv_channel_t *ch = srv_channel_find(r->srv, m->peer);
    if (!ch)
        return;
    o->fwd_from = srv_fwd_header(r, m);
    srv_act_reactions(r, ch, m, o);
    srv_doc_t *d = m->doc_id ? srv_doc_find(r->srv, m->doc_id) : NULL;
    mtp_messageMediaDocument_t *md = d ? MTP_NEW(r->arena, messageMediaDocument) : NULL;
    if (md) {
        md->document = doc_obj(r, d);
        o->media = &md->_;
    }
    if (ch->broadcast) {
        o->has_views = o->has_forwards = true;  /* (views and forwards share flags.10) */
        o->views = 100 + m->id % 1000;
        o->forwards = m->id % 3;
    }
}

/* ------------------------------------------------------------------------------------ */
/* paging                                                                               */
/* ------------------------------------------------------------------------------------ */

typedef struct page_q {
    int32_t offset_id, offset_date, add_offset, limit, max_id, min_id;
} page_q_t;

/* idx[0..n) newest first: the page [*pos, *pos + *cnt) by the rules at the top. */
static void page_pick(const srv_msg_t *msgs, const size_t *idx, size_t n, const page_q_t *q,
                      long long *pos, size_t *cnt)
{
    long long p = 0;
    if (q->offset_id > 0) {
        while ((size_t)p < n && msgs[idx[p]].id >= q->offset_id)
            p++;
    } else if (q->offset_date > 0) {
        while ((size_t)p < n && msgs[idx[p]].date >= q->offset_date)
            p++;
    }
    long long limit = q->limit < 0 ? 0 : q->limit > HISTORY_MAX ? HISTORY_MAX : q->limit;
    p += q->add_offset;
    if (p < 0) {
        limit += p;
        p = 0;
    }
    long long end = p + (limit > 0 ? limit : 0);
    if (end > (long long)n)
        end = (long long)n;
    *pos = p;
    *cnt = end > p ? (size_t)(end - p) : 0;
}

typedef struct msg_filter {
    mtp_bytes_t q;              /* substring (ASCII case-insensitive), empty: any */
    int64_t from;               /* 0 any */
    bool media;                 /* documents only */
    int32_t min_date, max_date; /* 0 unbounded */
    int32_t min_id, max_id;
} msg_filter_t;

static bool contains_ci(const char *s, size_t n, mtp_bytes_t q)
{
    if (!q.len)
        return true;
    for (size_t i = 0; i + q.len <= n; i++) {
        size_t k = 0;
        while (k < q.len && tolower((unsigned char)s[i + k]) == tolower(q.ptr[k]))
            k++;
        if (k == q.len)
            return true;
    }
    return false;
}

static bool msg_match(const srv_msg_t *m, const msg_filter_t *f)
{
    if (m->deleted)
        return false;
    if ((f->max_id > 0 && m->id >= f->max_id) || (f->min_id > 0 && m->id <= f->min_id))
        return false;
    if ((f->min_date > 0 && m->date < f->min_date) || (f->max_date > 0 && m->date > f->max_date))
        return false;
    if (f->from && m->from != f->from)
        return false;
    if (f->media && !m->doc_id)
        return false;
    return contains_ci(m->text, m->text_len, f->q);
}

/* The page of ch's messages matching f, as messages.channelMessages. */
static void reply_chan_page(srv_req_t *r, srv_channel_t *ch, const msg_filter_t *f,
                            const page_q_t *pq)
{
    size_t *idx = mtp_arena_alloc(r->arena, (ch->n_msgs + 1) * sizeof *idx);
    if (!idx) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    size_t n = 0;
    for (size_t i = ch->n_msgs; i-- > 0;)
        if (msg_match(&ch->msgs[i], f))
            idx[n++] = i;
    long long pos;
    size_t cnt;
    page_pick(ch->msgs, idx, n, pq, &pos, &cnt);
    mtp_messages_channelMessages_t *o = MTP_NEW(r->arena, messages_channelMessages);
    int64_t *seen = mtp_arena_alloc(r->arena, (cnt + 1) * sizeof *seen);
    size_t ns = 0;
    if (!o || !seen || !vec_new(r->arena, &o->messages, cnt) ||
        !vec_new(r->arena, &o->users, cnt + 1) || !vec_new(r->arena, &o->chats, 1) ||
        !vec_new(r->arena, &o->topics, 0)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    int64_t me = me_id(r);
    for (size_t i = 0; i < cnt; i++) {
        const srv_msg_t *m = &ch->msgs[idx[(size_t)pos + i]];
        vec_push(&o->messages, chan_msg_obj(r, m, me));
        add_any_user(r, &o->users, seen, &ns, m->from);
    }
    vec_push(&o->chats, channel_obj(r, ch));
    o->pts = ch->pts;
    o->count = (int32_t)n;
    o->has_offset_id_offset = true;
    o->offset_id_offset = (int32_t)pos;
    reply_obj(r, &o->_);
}

/* Paging faster than mtp_server_config_t allows is answered by the fault rules
 * (mtp_server_fault_rpc "messages.getHistory" 420 FLOOD_WAIT_X). */
void srv_chan_history(srv_req_t *r, const mtp_messages_getHistory_t *q)
{
    srv_channel_t *ch = input_channel(r, q->peer, true);
    if (!ch || srv_page_flood(r))
        return;
    msg_filter_t f = { .min_id = q->min_id, .max_id = q->max_id };
    page_q_t pq = { q->offset_id, q->offset_date, q->add_offset, q->limit, q->max_id,
                    q->min_id };
    reply_chan_page(r, ch, &f, &pq);
}

static int64_t from_peer_id(srv_req_t *r, const mtp_tl_object_t *p)
{
    if (!p)
        return 0;
    if (p->tl == &mtp_tlc_inputPeerSelf)
        return me_id(r);
    if (p->tl == &mtp_tlc_inputPeerUser)
        return ((const mtp_inputPeerUser_t *)p)->user_id;
    return -1;
}

/* The private-chat page of me's box with peer matching f, as messages.messages[Slice]. */
static void reply_user_page(srv_req_t *r, srv_user_t *me, int64_t peer, const msg_filter_t *f,
                            const page_q_t *pq)
{
    size_t *idx = mtp_arena_alloc(r->arena, (me->n_msgs + 1) * sizeof *idx);
    if (!idx) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    size_t n = 0;
    for (size_t i = me->n_msgs; i-- > 0;)
        if (me->msgs[i].peer == peer && msg_match(&me->msgs[i], f))
            idx[n++] = i;
    long long pos;
    size_t cnt;
    page_pick(me->msgs, idx, n, pq, &pos, &cnt);
    mtp_messages_messagesSlice_t *o = MTP_NEW(r->arena, messages_messagesSlice);
    int64_t *seen = mtp_arena_alloc(r->arena, (cnt + 2) * sizeof *seen);
    size_t ns = 0;
    if (!o || !seen || !vec_new(r->arena, &o->messages, cnt) ||
        !vec_new(r->arena, &o->users, cnt + 2) || !vec_new(r->arena, &o->chats, 0)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    add_any_user(r, &o->users, seen, &ns, me->id);
    add_any_user(r, &o->users, seen, &ns, peer);
    for (size_t i = 0; i < cnt; i++)
        vec_push(&o->messages, msg_obj(r, &me->msgs[idx[(size_t)pos + i]]));
    o->count = (int32_t)n;
    o->has_offset_id_offset = true;
    o->offset_id_offset = (int32_t)pos;
    reply_obj(r, &o->_);
}

static void h_search(srv_req_t *r, const void *qv)
{
    const mtp_messages_search_t *q = qv;
    if (srv_page_flood(r))
        return;
    msg_filter_t f = { q->q, 0, false, q->min_date, q->max_date, q->min_id, q->max_id };
    page_q_t pq = { q->offset_id, 0, q->add_offset, q->limit, q->max_id, q->min_id };
    f.from = from_peer_id(r, q->from_id);
    if (f.from < 0) {
        reply_err(r, 400, "FROM_PEER_INVALID");
        return;
    }
    if (q->filter && q->filter->tl != &mtp_tlc_inputMessagesFilterEmpty) {
        if (q->filter->tl == &mtp_tlc_inputMessagesFilterDocument ||
            q->filter->tl == &mtp_tlc_inputMessagesFilterPhotoVideo)
            f.media = true;
        else {
            f.min_id = INT32_MAX - 1;   /* other kinds: nothing of that kind here */
        }
    }
    if (q->peer && q->peer->tl == &mtp_tlc_inputPeerChannel) {
        srv_channel_t *ch = input_channel(r, q->peer, true);
        if (ch)
            reply_chan_page(r, ch, &f, &pq);
        return;
    }
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    srv_user_t *peer = input_peer(r, q->peer);
    if (!me || !peer) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    reply_user_page(r, me, peer->id, &f, &pq);
}

/* ------------------------------------------------------------------------------------ */
/* participants                                                                         */
/* ------------------------------------------------------------------------------------ */

enum { PF_RECENT, PF_ADMINS, PF_BOTS, PF_NONE, PF_SEARCH };

static int64_t member_at(const srv_channel_t *ch, int32_t i)
{
    return i < ch->n_members ? ch->members[i] : ch->seed_base + 1 + (i - ch->n_members);
}

static bool member_is_admin(const srv_channel_t *ch, int64_t id)
{
    return id == ch->members[0] || (seeded_id(id) && (id - SEED_BASE) % 500 == 0);
}

static bool member_match(srv_req_t *r, const srv_channel_t *ch, int64_t id, int kind,
                         mtp_bytes_t q)
{
    srv_user_t *u = seeded_id(id) ? NULL : srv_user_find(r->srv, id);
    switch (kind) {
    case PF_ADMINS:
        return member_is_admin(ch, id);
    case PF_BOTS:
        return u ? u->bot : seeded_bot(id);
    case PF_NONE:
        return false;
    case PF_SEARCH:
        break;
    default:
        return true;
    }
    char name[160];
    int n;
    if (u)
        n = snprintf(name, sizeof name, "%s %s %s", u->first_name ? u->first_name : "",
                     u->last_name ? u->last_name : "", u->username);
    else
        n = snprintf(name, sizeof name, "%s %lld %s%lld", seeded_bot(id) ? "Bot" : "Member",
                     (long long)(id - SEED_BASE), seeded_bot(id) ? "bot" : "member",
                     (long long)(id - SEED_BASE));
    return contains_ci(name, n > 0 ? (size_t)n : 0, q);
}

static mtp_tl_object_t *participant_obj(srv_req_t *r, const srv_channel_t *ch, int64_t id)
{
    if (id == ch->members[0] || member_is_admin(ch, id)) {
        mtp_chatAdminRights_t *ar = MTP_NEW(r->arena, chatAdminRights);
        if (!ar)
            return NULL;
        ar->change_info = ar->delete_messages = ar->ban_users = ar->invite_users = true;
        if (id == ch->members[0]) {
            mtp_channelParticipantCreator_t *c = MTP_NEW(r->arena, channelParticipantCreator);
            if (c)
                c->user_id = id, c->admin_rights = &ar->_;
            return c ? &c->_ : NULL;
        }
        mtp_channelParticipantAdmin_t *a = MTP_NEW(r->arena, channelParticipantAdmin);
        if (a) {
            a->user_id = id, a->promoted_by = ch->members[0], a->date = ch->date;
            a->admin_rights = &ar->_;
        }
        return a ? &a->_ : NULL;
    }
    mtp_channelParticipant_t *p = MTP_NEW(r->arena, channelParticipant);
    if (p)
        p->user_id = id, p->date = ch->date;
    return p ? &p->_ : NULL;
}

static int filter_kind(const mtp_tl_object_t *f, mtp_bytes_t *q)
{
    *q = (mtp_bytes_t){ NULL, 0 };
    if (!f || f->tl == &mtp_tlc_channelParticipantsRecent)
        return PF_RECENT;
    if (f->tl == &mtp_tlc_channelParticipantsAdmins)
        return PF_ADMINS;
    if (f->tl == &mtp_tlc_channelParticipantsBots)
        return PF_BOTS;
    if (f->tl == &mtp_tlc_channelParticipantsSearch) {
        *q = ((const mtp_channelParticipantsSearch_t *)f)->q;
        return q->len ? PF_SEARCH : PF_RECENT;
    }
    return PF_NONE;     /* banned, kicked, contacts, mentions: none here */
}

/* Telegram's hash of a list of ids (as for channels.getParticipants' hash). */
static int64_t ids_hash(const int64_t *ids, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) {
        h ^= h >> 21;
        h ^= h << 35;
        h ^= h >> 4;
        h += (uint64_t)ids[i];
    }
    return (int64_t)h;
}

static void h_getParticipants(srv_req_t *r, const void *qv)
{
    const mtp_channels_getParticipants_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, true);
    if (!ch || srv_page_flood(r))
        return;
    int64_t me = me_id(r);
    if (ch->broadcast && !member_is_admin(ch, me)) {
        reply_err(r, 400, "CHAT_ADMIN_REQUIRED");
        return;
    }
    if (q->offset < 0 || q->limit < 0) {
        reply_err(r, 400, "LIMIT_INVALID");
        return;
    }
    mtp_bytes_t sq;
    int kind = filter_kind(q->filter, &sq);
    size_t limit = q->limit > PARTICIPANTS_MAX ? PARTICIPANTS_MAX : (size_t)q->limit;
    int64_t *ids = mtp_arena_alloc(r->arena, (limit + 1) * sizeof *ids);
    if (!ids) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    int32_t total = ch->n_members + ch->n_seeded, count = 0;
    size_t n = 0;
    for (int32_t i = 0; i < total; i++) {
        int64_t id = member_at(ch, i);
        if (!member_match(r, ch, id, kind, sq))
            continue;
        if (count >= q->offset && n < limit)
            ids[n++] = id;
        count++;
    }
    if (q->hash && n && ids_hash(ids, n) == q->hash) {
        reply_obj(r, (mtp_tl_object_t *)MTP_NEW(r->arena, channels_channelParticipantsNotModified));
        return;
    }
    mtp_channels_channelParticipants_t *o = MTP_NEW(r->arena, channels_channelParticipants);
    if (!o || !vec_new(r->arena, &o->participants, n) || !vec_new(r->arena, &o->users, n) ||
        !vec_new(r->arena, &o->chats, 1)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        vec_push(&o->participants, participant_obj(r, ch, ids[i]));
        vec_push(&o->users, srv_any_user_obj(r, ids[i]));
    }
    vec_push(&o->chats, channel_obj(r, ch));
    o->count = count;
    reply_obj(r, &o->_);
}

/* ------------------------------------------------------------------------------------ */
/* join, leave, resolve                                                                 */
/* ------------------------------------------------------------------------------------ */

static void h_joinChannel(srv_req_t *r, const void *qv)
{
    const mtp_channels_joinChannel_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, true);     /* private: CHANNEL_PRIVATE */
    if (!ch)
        return;
    int64_t me = me_id(r);
    if (srv_channel_member(ch, me)) {
        reply_err(r, 400, "USER_ALREADY_PARTICIPANT");
        return;
    }
    if (srv_channel_join(ch, me)) {
        reply_err(r, 400, "CHANNELS_TOO_MUCH");
        return;
    }
    /* channels.joinChannel answers messages.ChatInviteJoinResult in layer 228 */
    mtp_messages_chatInviteJoinResultOk_t *o = MTP_NEW(r->arena, messages_chatInviteJoinResultOk);
    if (o)
        o->updates = chan_updates(r, ch, upd_channel(r, ch), NULL, 0);
    reply_obj(r, o ? &o->_ : NULL);
}

static void h_leaveChannel(srv_req_t *r, const void *qv)
{
    const mtp_channels_leaveChannel_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, false);
    if (!ch)
        return;
    int64_t me = me_id(r);
    int at = -1;
    for (int i = 0; i < ch->n_members; i++)
        if (ch->members[i] == me)
            at = i;
    if (at < 0) {
        reply_err(r, 400, "USER_NOT_PARTICIPANT");
        return;
    }
    if (at == 0) {
        reply_err(r, 400, "CHAT_ADMIN_REQUIRED");    /* the creator deletes, not leaves */
        return;
    }
    memmove(&ch->members[at], &ch->members[at + 1],
            (size_t)(ch->n_members - at - 1) * sizeof ch->members[0]);
    ch->n_members--;
    reply_obj(r, chan_updates(r, ch, upd_channel(r, ch), NULL, 0));
}

bool srv_chan_resolve(srv_req_t *r, mtp_bytes_t username)
{
    srv_channel_t *found = NULL, *ch;
    size_t it = 0;
    while (!found && srv_map_next(&r->srv->channels, &it, NULL, (void **)&ch)) {
        if (ch->username[0] && strlen(ch->username) == username.len &&
            strncasecmp(ch->username, (const char *)username.ptr, username.len) == 0)
            found = ch;
    }
    if (!found)
        return false;
    mtp_contacts_resolvedPeer_t *o = MTP_NEW(r->arena, contacts_resolvedPeer);
    mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
    if (!o || !pc || !vec_new(r->arena, &o->chats, 1) || !vec_new(r->arena, &o->users, 0)) {
        reply_err(r, 500, "INTERNAL");
        return true;
    }
    pc->channel_id = found->id;
    o->peer = &pc->_;
    vec_push(&o->chats, channel_obj(r, found));
    reply_obj(r, &o->_);
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* methods of this area (see srv_api_int.h: one row per method)                         */
/* ------------------------------------------------------------------------------------ */

const handler_t srv_methods_hist[] = {
    { &mtp_tlc_messages_search, h_search, A_AUTH },
    { &mtp_tlc_channels_getParticipants, h_getParticipants, A_AUTH },
    { &mtp_tlc_channels_joinChannel, h_joinChannel, A_AUTH },
    { &mtp_tlc_channels_leaveChannel, h_leaveChannel, A_AUTH },
    { NULL, NULL, 0 }
};
