/*
 * libmtproto — iterators (include/mtproto/iter.h): one mechanism for every list method.
 * Each kind is a request builder (build_*) and a page reader (read_page); the cursor
 * (last_id for messages, offset for participants, the offset triple for dialogs), the
 * dedup, the limit, the end rules and FLOOD_WAIT are common.
 */
#include <mtproto/iter.h>
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MSGS   100
#define PAGE_USERS  200

struct mtp_iter {
    mtp_client_t *c;
    mtp_iter_params_t p;
    char *query;
    mtp_arena_t *keep;              /* the resolved peer objects */
    mtp_tl_object_t *peer;          /* InputPeer, or InputChannel (participants) */
    mtp_tl_object_t *from;          /* search: InputPeer */
    mtp_arena_t *page;              /* the current page */
    mtp_arena_t *reqa;              /* the request of the current / last fetch */
    mtp_tl_object_t **items;
    const mtp_tl_object_t **parts;  /* participants, parallel to items */
    size_t n_items, at;
    const mtp_tl_object_t *cur_part;
    /* cursor */
    int32_t last_id, last_date;     /* messages / dialogs: the last one yielded */
    int64_t last_peer;              /* dialogs */
    int64_t offset;                 /* participants: items of the server's list consumed */
    int64_t yielded, total, pages, floods;
    char next_offset[64];           /* reactions */
    int64_t chat_id;                /* participants of a basic group */
    int32_t next_rate;              /* global search */
    bool ended;
    /* participants seen (open addressing) */
    int64_t *seen;
    size_t seen_cap, seen_n;
    /* a fetch in flight */
    bool busy;
    mtp_tl_object_t *req;
    mtp_iter_cb cb;
    void *user;
};

int mtp_iter_params_init_versioned(unsigned version, mtp_iter_params_t *p)
{
    if (!p)
        return MTP_EINVAL;
    if (version != MTP_ITER_PARAMS_VERSION)
        return MTP_EVERSION;
    memset(p, 0, sizeof *p);
    p->version = version;
    p->max_flood_wait = 300;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* positions                                                                            */
/* ------------------------------------------------------------------------------------ */

int mtp_iter_position(const mtp_iter_t *it, char *buf, size_t cap)
{
    if (!it || !buf)
        return MTP_EINVAL;
    int n = snprintf(buf, cap, "v1:%" PRId32 ":%" PRId32 ":%" PRId64 ":%" PRId64 ":%" PRId64,
                     it->last_id, it->last_date, it->last_peer, it->offset, it->yielded);
    return n < 0 || (size_t)n >= cap ? MTP_ERANGE : 0;
}

static int parse_position(mtp_iter_t *it, const char *s)
{
    long long a, b, c, d, e;
    char tail;
    if (sscanf(s, "v1:%lld:%lld:%lld:%lld:%lld%c", &a, &b, &c, &d, &e, &tail) != 5)
        return MTP_EINVAL;
    if (a < 0 || a > INT32_MAX || b < 0 || b > INT32_MAX || d < 0 || e < 0)
        return MTP_EINVAL;
    it->last_id = (int32_t)a, it->last_date = (int32_t)b, it->last_peer = c;
    it->offset = d, it->yielded = e;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* construction                                                                         */
/* ------------------------------------------------------------------------------------ */

int mtp_iter_new(mtp_client_t *c, const mtp_iter_params_t *p, mtp_iter_t **out,
                 mtp_call_error_t *err)
{
    mtp_call_error_t e0;
    if (!err)
        err = &e0;
    memset(err, 0, sizeof *err);
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    if (!c || !p)
        return MTP_EINVAL;
    if (p->version != MTP_ITER_PARAMS_VERSION)
        return MTP_EVERSION;
    bool peerless = p->kind == MTP_ITER_DIALOGS || p->kind == MTP_ITER_GLOBAL ||
                    p->kind == MTP_ITER_CONTACTS;
    if (p->kind < MTP_ITER_HISTORY || p->kind > MTP_ITER_REACTIONS || p->limit < 0 ||
        p->page_size < 0 || p->min_id < 0 || p->max_id < 0 || p->folder < 0 ||
        (!peerless && (!p->peer || !*p->peer)) ||
        (p->kind == MTP_ITER_REACTIONS && p->msg_id <= 0))
        return MTP_EINVAL;
    mtp_iter_t *it = calloc(1, sizeof *it);
    if (!it)
        return MTP_ENOMEM;
    it->c = c;
    it->p = *p;
    it->total = -1;
    it->keep = mtp_arena_new(0);
    it->page = mtp_arena_new(0);
    it->reqa = mtp_arena_new(0);
    it->query = p->query ? strdup(p->query) : NULL;
    int rc = (!it->keep || !it->page || !it->reqa || (p->query && !it->query)) ? MTP_ENOMEM : 0;
    it->p.query = it->query;
    it->p.peer = it->p.from = it->p.resume = NULL;
    if (!rc && p->resume)
        rc = parse_position(it, p->resume);
    mtp_peer_t pe;
    if (!rc && p->kind == MTP_ITER_PARTICIPANTS &&
        !(rc = mtp_client_resolve_peer(c, p->peer, &pe, err)) && pe.kind == MTP_PEER_CHAT)
        it->chat_id = pe.id;    /* a basic group: messages.getFullChat, one page */
    else if (!rc && p->kind == MTP_ITER_PARTICIPANTS)
        rc = mtp_client_input_channel(c, p->peer, it->keep, &it->peer, err);
    else if (!rc && !peerless)
        rc = mtp_client_input_peer(c, p->peer, it->keep, &it->peer, err);
    if (!rc && p->from && p->kind == MTP_ITER_SEARCH)
        rc = mtp_client_input_peer(c, p->from, it->keep, &it->from, err);
    if (rc) {
        mtp_iter_free(it);
        return rc;
    }
    *out = it;
    return 0;
}

void mtp_iter_free(mtp_iter_t *it)
{
    if (!it)
        return;
    if (it->busy) {     /* the answer still comes: dropped by on_page, which frees it */
        it->cb = NULL;
        it->c = NULL;
        return;
    }
    mtp_arena_free(it->keep);
    mtp_arena_free(it->page);
    mtp_arena_free(it->reqa);
    free(it->query);
    free(it->seen);
    free(it);
}

/* ------------------------------------------------------------------------------------ */
/* requests                                                                             */
/* ------------------------------------------------------------------------------------ */

static int32_t page_size(const mtp_iter_t *it, int cap)
{
    int64_t n = it->p.page_size > 0 && it->p.page_size < cap ? it->p.page_size : cap;
    if (it->p.limit > 0 && it->p.limit - it->yielded < n)
        n = it->p.limit - it->yielded;
    return (int32_t)(n > 0 ? n : 1);
}

static mtp_tl_object_t *filter_obj(mtp_arena_t *a, const mtp_iter_t *it)
{
    if (it->p.kind == MTP_ITER_PARTICIPANTS) {
        switch (it->p.filter) {
        case MTP_ITER_MEMBERS_ADMINS:
            return (mtp_tl_object_t *)MTP_NEW(a, channelParticipantsAdmins);
        case MTP_ITER_MEMBERS_BOTS:
            return (mtp_tl_object_t *)MTP_NEW(a, channelParticipantsBots);
        case MTP_ITER_MEMBERS_BANNED: {
            mtp_channelParticipantsBanned_t *f = MTP_NEW(a, channelParticipantsBanned);
            if (f)
                f->q = (mtp_bytes_t){ (const uint8_t *)"", 0 };
            return f ? &f->_ : NULL;
        }
        case MTP_ITER_MEMBERS_KICKED: {
            mtp_channelParticipantsKicked_t *f = MTP_NEW(a, channelParticipantsKicked);
            if (f)
                f->q = (mtp_bytes_t){ (const uint8_t *)"", 0 };
            return f ? &f->_ : NULL;
        }
        case MTP_ITER_MEMBERS_SEARCH: {
            mtp_channelParticipantsSearch_t *f = MTP_NEW(a, channelParticipantsSearch);
            const char *q = it->query ? it->query : "";
            if (f)
                f->q = (mtp_bytes_t){ (const uint8_t *)q, strlen(q) };
            return f ? &f->_ : NULL;
        }
        default:
            return (mtp_tl_object_t *)MTP_NEW(a, channelParticipantsRecent);
        }
    }
    switch (it->p.filter) {
    case MTP_ITER_MSG_DOCUMENT:
        return (mtp_tl_object_t *)MTP_NEW(a, inputMessagesFilterDocument);
    case MTP_ITER_MSG_PHOTO_VIDEO:
        return (mtp_tl_object_t *)MTP_NEW(a, inputMessagesFilterPhotoVideo);
    case MTP_ITER_MSG_URL:
        return (mtp_tl_object_t *)MTP_NEW(a, inputMessagesFilterUrl);
    default:
        return (mtp_tl_object_t *)MTP_NEW(a, inputMessagesFilterEmpty);
    }
}

/* History and search: newest first from last_id; oldest first with add_offset = -page
 * from last_id + 1 (the page holds the messages at or after offset_id). */
static void msg_cursor(const mtp_iter_t *it, int32_t n, int32_t *offset_id,
                       int32_t *offset_date, int32_t *add_offset)
{
    *offset_date = 0;
    *add_offset = 0;
    *offset_id = it->last_id;
    if (!it->p.reverse)
        return;
    *add_offset = -n;
    if (it->last_id)
        *offset_id = it->last_id + 1;
    else if (it->p.since && !it->p.min_id)
        *offset_id = 0, *offset_date = it->p.since;
    else
        *offset_id = it->p.min_id + 1;
}

/* searchGlobal: from (next_rate, the peer and id of the last message) */
static mtp_tl_object_t *build_global(mtp_iter_t *it, mtp_arena_t *a)
{
    mtp_messages_searchGlobal_t *q = MTP_NEW(a, messages_searchGlobal);
    if (!q || !(q->filter = filter_obj(a, it)))
        return NULL;
    q->q = it->query ? (mtp_bytes_t){ (const uint8_t *)it->query, strlen(it->query) }
                     : (mtp_bytes_t){ (const uint8_t *)"", 0 };
    q->limit = page_size(it, PAGE_MSGS);
    q->min_date = it->p.since;
    q->offset_rate = it->next_rate;
    q->offset_id = it->next_rate ? it->last_id : 0;
    q->offset_peer = NULL;
    if (it->next_rate && it->last_peer) {
        mtp_peer_t pe;
        int64_t id = it->last_peer;
        mtp_peer_kind_t k = id > 0 ? MTP_PEER_USER : MTP_PEER_CHANNEL;
        if (id < 0)
            id = -id - 1000000000000LL;
        if (mtp_client_peer_get(it->c, k, id, &pe) == 0)
            mtp_peer_input_peer(&pe, a, &q->offset_peer);
    }
    if (!q->offset_peer)
        q->offset_peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerEmpty);
    return q->offset_peer ? &q->_ : NULL;
}

static mtp_tl_object_t *build_request(mtp_iter_t *it, mtp_arena_t *a)
{
    int32_t oid, odate, add;
    if (it->p.kind == MTP_ITER_HISTORY) {
        mtp_messages_getHistory_t *q = MTP_NEW(a, messages_getHistory);
        if (!q)
            return NULL;
        q->peer = it->peer;
        q->limit = page_size(it, PAGE_MSGS);
        msg_cursor(it, q->limit, &oid, &odate, &add);
        q->offset_id = oid, q->offset_date = odate, q->add_offset = add;
        q->max_id = it->p.max_id, q->min_id = it->p.min_id;
        return &q->_;
    }
    if (it->p.kind == MTP_ITER_SEARCH) {
        mtp_messages_search_t *q = MTP_NEW(a, messages_search);
        if (!q || !(q->filter = filter_obj(a, it)))
            return NULL;
        q->peer = it->peer;
        q->q = it->query ? (mtp_bytes_t){ (const uint8_t *)it->query, strlen(it->query) }
                         : (mtp_bytes_t){ (const uint8_t *)"", 0 };
        q->from_id = it->from;
        q->limit = page_size(it, PAGE_MSGS);
        msg_cursor(it, q->limit, &oid, &odate, &add);
        q->offset_id = oid, q->add_offset = add;
        q->min_date = it->p.since;
        q->max_id = it->p.max_id, q->min_id = it->p.min_id;
        return &q->_;
    }
    if (it->p.kind == MTP_ITER_PARTICIPANTS && it->chat_id) {
        mtp_messages_getFullChat_t *q = MTP_NEW(a, messages_getFullChat);
        if (q)
            q->chat_id = it->chat_id;
        return q ? &q->_ : NULL;
    }
    if (it->p.kind == MTP_ITER_PARTICIPANTS) {
        mtp_channels_getParticipants_t *q = MTP_NEW(a, channels_getParticipants);
        if (!q || !(q->filter = filter_obj(a, it)))
            return NULL;
        q->channel = it->peer;
        q->offset = (int32_t)(it->offset > INT32_MAX ? INT32_MAX : it->offset);
        q->limit = page_size(it, PAGE_USERS);
        return &q->_;
    }
    if (it->p.kind == MTP_ITER_GLOBAL)
        return build_global(it, a);
    if (it->p.kind == MTP_ITER_CONTACTS)
        return (mtp_tl_object_t *)MTP_NEW(a, contacts_getContacts);
    if (it->p.kind == MTP_ITER_REACTIONS) {
        mtp_messages_getMessageReactionsList_t *q = MTP_NEW(a, messages_getMessageReactionsList);
        if (!q)
            return NULL;
        q->peer = it->peer;
        q->id = it->p.msg_id;
        q->limit = page_size(it, PAGE_MSGS);
        if (it->query && *it->query) {
            mtp_reactionEmoji_t *e = MTP_NEW(a, reactionEmoji);
            if (!e)
                return NULL;
            e->emoticon = (mtp_bytes_t){ (const uint8_t *)it->query, strlen(it->query) };
            q->reaction = &e->_;
        }
        if (it->next_offset[0]) {
            q->has_offset = true;
            q->offset = (mtp_bytes_t){ (const uint8_t *)it->next_offset, strlen(it->next_offset) };
        }
        return &q->_;
    }
    mtp_messages_getDialogs_t *q = MTP_NEW(a, messages_getDialogs);
    if (!q || !(q->offset_peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerEmpty)))
        return NULL;
    q->offset_id = it->last_id;
    q->offset_date = it->last_date;
    q->limit = page_size(it, PAGE_MSGS);
    if (it->p.folder) {
        q->has_folder_id = true;
        q->folder_id = it->p.folder;
    }
    return &q->_;
}

/* ------------------------------------------------------------------------------------ */
/* pages                                                                                */
/* ------------------------------------------------------------------------------------ */

static bool msg_id_date(const mtp_tl_object_t *m, int32_t *id, int32_t *date)
{
    if (m && m->tl == &mtp_tlc_message) {
        *id = ((const mtp_message_t *)m)->id, *date = ((const mtp_message_t *)m)->date;
        return true;
    }
    if (m && m->tl == &mtp_tlc_messageService) {
        const mtp_messageService_t *s = (const void *)m;
        *id = s->id, *date = s->date;
        return true;
    }
    if (m && m->tl == &mtp_tlc_messageEmpty) {
        *id = ((const mtp_messageEmpty_t *)m)->id, *date = 0;
        return true;
    }
    return false;
}

/* Add id to the participants seen; false if it was there. */
static bool seen_add(mtp_iter_t *it, int64_t id)
{
    if (it->seen_n * 2 >= it->seen_cap) {
        size_t cap = it->seen_cap ? it->seen_cap * 2 : 1024;
        int64_t *v = calloc(cap, sizeof *v);
        if (!v)
            return true;    /* no dedup rather than no result */
        for (size_t i = 0; i < it->seen_cap; i++)
            if (it->seen[i])
                for (size_t h = (uint64_t)it->seen[i] * 0x9E3779B97F4A7C15ull % cap;;
                     h = (h + 1) % cap)
                    if (!v[h]) {
                        v[h] = it->seen[i];
                        break;
                    }
        free(it->seen);
        it->seen = v;
        it->seen_cap = cap;
    }
    for (size_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull % it->seen_cap;;
         h = (h + 1) % it->seen_cap) {
        if (it->seen[h] == id)
            return false;
        if (!it->seen[h]) {
            it->seen[h] = id;
            it->seen_n++;
            return true;
        }
    }
}

static int64_t participant_user(const mtp_tl_object_t *p)
{
    if (!p)
        return 0;
    if (p->tl == &mtp_tlc_channelParticipant)
        return ((const mtp_channelParticipant_t *)p)->user_id;
    if (p->tl == &mtp_tlc_channelParticipantSelf)
        return ((const mtp_channelParticipantSelf_t *)p)->user_id;
    if (p->tl == &mtp_tlc_channelParticipantCreator)
        return ((const mtp_channelParticipantCreator_t *)p)->user_id;
    if (p->tl == &mtp_tlc_channelParticipantAdmin)
        return ((const mtp_channelParticipantAdmin_t *)p)->user_id;
    return 0;       /* banned / left: their peer is not a user id field */
}

static int64_t chat_participant_user(const mtp_tl_object_t *p)
{
    if (p && p->tl == &mtp_tlc_chatParticipant)
        return ((const mtp_chatParticipant_t *)p)->user_id;
    if (p && p->tl == &mtp_tlc_chatParticipantCreator)
        return ((const mtp_chatParticipantCreator_t *)p)->user_id;
    if (p && p->tl == &mtp_tlc_chatParticipantAdmin)
        return ((const mtp_chatParticipantAdmin_t *)p)->user_id;
    return 0;
}

/* messages.chatFull: the whole member list of a basic group at once. */
static int read_chat_full(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    it->ended = true;
    if (o->tl != &mtp_tlc_messages_chatFull)
        return MTP_ETYPE;
    const mtp_messages_chatFull_t *r = (const void *)o;
    const mtp_tl_object_t *f = r->full_chat;
    const mtp_tl_object_t *ps = f && f->tl == &mtp_tlc_chatFull
                                    ? ((const mtp_chatFull_t *)f)->participants : NULL;
    if (!ps || ps->tl != &mtp_tlc_chatParticipants)
        return 0;       /* chatParticipantsForbidden: the list is hidden */
    const mtp_vec_obj_t *v = &((const mtp_chatParticipants_t *)ps)->participants;
    it->total = v->n;
    it->items = mtp_arena_alloc(it->page, (v->n + 1) * sizeof *it->items);
    it->parts = mtp_arena_alloc(it->page, (v->n + 1) * sizeof *it->parts);
    if (!it->items || !it->parts)
        return MTP_ENOMEM;
    for (uint32_t i = 0; i < v->n; i++) {
        int64_t uid = chat_participant_user(v->v[i]);
        for (uint32_t k = 0; uid && k < r->users.n; k++) {
            const mtp_tl_object_t *x = r->users.v[k];
            if (x && x->tl == &mtp_tlc_user && ((const mtp_user_t *)x)->id == uid &&
                seen_add(it, uid)) {
                it->parts[it->n_items] = v->v[i];
                it->items[it->n_items++] = (mtp_tl_object_t *)x;
                break;
            }
        }
    }
    return 0;
}

static int read_participants(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    if (it->chat_id)
        return read_chat_full(it, o);
    if (o->tl == &mtp_tlc_channels_channelParticipantsNotModified) {
        it->ended = true;
        return 0;
    }
    if (o->tl != &mtp_tlc_channels_channelParticipants)
        return MTP_ETYPE;
    const mtp_channels_channelParticipants_t *r = (const void *)o;
    it->total = r->count;
    it->items = mtp_arena_alloc(it->page, (r->participants.n + 1) * sizeof *it->items);
    it->parts = mtp_arena_alloc(it->page, (r->participants.n + 1) * sizeof *it->parts);
    if (!it->items || !it->parts)
        return MTP_ENOMEM;
    for (uint32_t i = 0; i < r->participants.n; i++) {
        int64_t uid = participant_user(r->participants.v[i]);
        mtp_tl_object_t *u = NULL;
        for (uint32_t k = 0; uid && !u && k < r->users.n; k++) {
            const mtp_tl_object_t *x = r->users.v[(i + k) % r->users.n];
            if (x && x->tl == &mtp_tlc_user && ((const mtp_user_t *)x)->id == uid)
                u = (mtp_tl_object_t *)x;
        }
        if (u && seen_add(it, uid)) {
            it->parts[it->n_items] = r->participants.v[i];
            it->items[it->n_items++] = u;
        }
    }
    it->offset += r->participants.n;
    if (!r->participants.n || (it->total >= 0 && it->offset >= it->total))
        it->ended = true;
    return 0;
}

/* The messages of a page, in yield order, newer/older than the cursor only. */
static int read_messages(mtp_iter_t *it, const mtp_vec_obj_t *v, bool complete)
{
    it->items = mtp_arena_alloc(it->page, (v->n + 1) * sizeof *it->items);
    if (!it->items)
        return MTP_ENOMEM;
    int32_t cursor = it->last_id;
    for (uint32_t k = 0; k < v->n; k++) {
        mtp_tl_object_t *m = v->v[it->p.reverse ? v->n - 1 - k : k];
        int32_t id, date;
        if (!msg_id_date(m, &id, &date))
            continue;
        if (cursor && (it->p.reverse ? id <= cursor : id >= cursor))
            continue;       /* seen already (new messages arrived meanwhile) */
        if (!it->p.reverse && it->p.since && date && date < it->p.since) {
            it->ended = true;
            break;
        }
        it->items[it->n_items++] = m;
        cursor = id;
    }
    if (!v->n || complete || !it->n_items)
        it->ended = true;   /* (no progress: the end, rather than asking forever) */
    return 0;
}

static int peer_marked(const mtp_tl_object_t *p, int64_t *out);

static int read_dialogs(mtp_iter_t *it, const mtp_vec_obj_t *d, const mtp_vec_obj_t *msgs,
                        bool complete)
{
    it->items = mtp_arena_alloc(it->page, (d->n + 1) * sizeof *it->items);
    if (!it->items)
        return MTP_ENOMEM;
    int32_t low_id = 0, low_date = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        const mtp_tl_object_t *x = d->v[i];
        if (!x || x->tl != &mtp_tlc_dialog)
            continue;
        const mtp_dialog_t *dl = (const void *)x;
        int64_t pk;
        if (peer_marked(dl->peer, &pk) || !seen_add(it, pk))
            continue;       /* once per peer (pinned ones come again on every page) */
        it->items[it->n_items++] = d->v[i];
        for (uint32_t k = 0; k < msgs->n; k++) {
            int32_t id, date;
            if (msg_id_date(msgs->v[k], &id, &date) && id == dl->top_message)
                low_id = id, low_date = date;
        }
    }
    if (low_id)
        it->last_id = low_id, it->last_date = low_date;
    if (!d->n || complete || !it->n_items || !low_id)
        it->ended = true;
    return 0;
}

/* A page that is one vector of items: contacts (users) and reactions. */
static int read_list(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    const mtp_vec_obj_t *v;
    if (o->tl == &mtp_tlc_contacts_contactsNotModified) {
        it->ended = true;
        return 0;
    }
    if (o->tl == &mtp_tlc_contacts_contacts) {
        v = &((const mtp_contacts_contacts_t *)o)->users;
        it->ended = true;
    } else if (o->tl == &mtp_tlc_messages_messageReactionsList) {
        const mtp_messages_messageReactionsList_t *r = (const void *)o;
        v = &r->reactions;
        it->total = r->count;
        it->next_offset[0] = 0;
        if (r->has_next_offset && r->next_offset.len && r->next_offset.len < sizeof it->next_offset)
            memcpy(it->next_offset, r->next_offset.ptr, r->next_offset.len),
                it->next_offset[r->next_offset.len] = 0;
        else
            it->ended = true;
    } else {
        return MTP_ETYPE;
    }
    it->items = mtp_arena_alloc(it->page, (v->n + 1) * sizeof *it->items);
    if (!it->items)
        return MTP_ENOMEM;
    for (uint32_t i = 0; i < v->n; i++)
        if (v->v[i])
            it->items[it->n_items++] = v->v[i];
    if (!v->n)
        it->ended = true;
    return 0;
}

static int peer_marked(const mtp_tl_object_t *p, int64_t *out)
{
    if (p && p->tl == &mtp_tlc_peerUser)
        return *out = ((const mtp_peerUser_t *)p)->user_id, 0;
    if (p && p->tl == &mtp_tlc_peerChannel)
        return *out = -1000000000000LL - ((const mtp_peerChannel_t *)p)->channel_id, 0;
    if (p && p->tl == &mtp_tlc_peerChat)
        return *out = -((const mtp_peerChat_t *)p)->chat_id, 0;
    return MTP_EINVAL;
}

/* searchGlobal: messages by rate; the cursor is (next_rate, the last one's peer and id) */
static int read_global(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    const mtp_vec_obj_t *v;
    bool complete = false;
    if (o->tl == &mtp_tlc_messages_messages) {
        v = &((const mtp_messages_messages_t *)o)->messages;
        complete = true;
    } else if (o->tl == &mtp_tlc_messages_messagesSlice) {
        const mtp_messages_messagesSlice_t *r = (const void *)o;
        v = &r->messages;
        it->total = r->count;
        it->next_rate = r->has_next_rate ? r->next_rate : 0;
        complete = !r->has_next_rate;
    } else {
        return MTP_ETYPE;
    }
    it->items = mtp_arena_alloc(it->page, (v->n + 1) * sizeof *it->items);
    if (!it->items)
        return MTP_ENOMEM;
    for (uint32_t i = 0; i < v->n; i++)
        if (v->v[i])
            it->items[it->n_items++] = v->v[i];
    if (it->n_items) {
        const mtp_tl_object_t *last = it->items[it->n_items - 1];
        if (last->tl == &mtp_tlc_message)
            peer_marked(((const mtp_message_t *)last)->peer_id, &it->last_peer);
    }
    if (!v->n || complete)
        it->ended = true;
    return 0;
}

static int read_page(mtp_iter_t *it, const mtp_tl_object_t *o)
{
    it->n_items = it->at = 0;
    it->items = NULL;
    it->pages++;
    mtp_client_peers_feed(it->c, o);
    if (it->p.kind == MTP_ITER_CONTACTS || it->p.kind == MTP_ITER_REACTIONS)
        return read_list(it, o);
    if (it->p.kind == MTP_ITER_GLOBAL)
        return read_global(it, o);
    if (it->p.kind == MTP_ITER_PARTICIPANTS)
        return read_participants(it, o);
    if (it->p.kind == MTP_ITER_DIALOGS) {
        if (o->tl == &mtp_tlc_messages_dialogs) {
            const mtp_messages_dialogs_t *r = (const void *)o;
            return read_dialogs(it, &r->dialogs, &r->messages, true);
        }
        if (o->tl == &mtp_tlc_messages_dialogsSlice) {
            const mtp_messages_dialogsSlice_t *r = (const void *)o;
            it->total = r->count;
            return read_dialogs(it, &r->dialogs, &r->messages, false);
        }
        if (o->tl == &mtp_tlc_messages_dialogsNotModified) {
            it->ended = true;
            return 0;
        }
        return MTP_ETYPE;
    }
    if (o->tl == &mtp_tlc_messages_messages)
        return read_messages(it, &((const mtp_messages_messages_t *)o)->messages, true);
    if (o->tl == &mtp_tlc_messages_messagesSlice) {
        const mtp_messages_messagesSlice_t *r = (const void *)o;
        it->total = r->count;
        return read_messages(it, &r->messages, false);
    }
    if (o->tl == &mtp_tlc_messages_channelMessages) {
        const mtp_messages_channelMessages_t *r = (const void *)o;
        it->total = r->count;
        return read_messages(it, &r->messages, false);
    }
    if (o->tl == &mtp_tlc_messages_messagesNotModified) {
        it->ended = true;
        return 0;
    }
    return MTP_ETYPE;
}

/* ------------------------------------------------------------------------------------ */
/* fetching                                                                             */
/* ------------------------------------------------------------------------------------ */

static void on_page(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                    const mtp_call_error_t *err)
{
    (void)c;
    mtp_iter_t *it = user;
    it->busy = false;
    if (!it->c) {           /* freed meanwhile */
        mtp_iter_free(it);
        return;
    }
    mtp_call_error_t e = *err;
    if (!e.err) {
        mtp_tl_object_t *o = NULL;
        mtp_arena_reset(it->page);
        it->n_items = it->at = 0;
        int rc = mtp_tl_decode_result(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), it->req, res, len,
                                      it->page, &o);
        if (!rc && o)
            rc = read_page(it, o);
        e.err = rc ? rc : 0;
    } else if (e.err == MTP_ERPC && e.code == 420 && e.number >= 0) {
        e.err = MTP_EFLOOD;     /* FLOOD_WAIT_X the client did not wait out itself */
    }
    if (e.err == MTP_EFLOOD)
        it->floods++;
    if (it->cb)
        it->cb(it, it->user, &e);
}

int mtp_iter_fetch(mtp_iter_t *it, mtp_iter_cb cb, void *user)
{
    if (!it || !it->c)
        return MTP_EINVAL;
    if (it->busy)
        return MTP_ESTATE;
    if (it->ended || (it->p.limit > 0 && it->yielded >= it->p.limit))
        return MTP_ESTATE;
    mtp_arena_reset(it->reqa);      /* the request stays until the next fetch */
    it->req = build_request(it, it->reqa);
    if (!it->req)
        return MTP_ENOMEM;
    it->cb = cb;
    it->user = user;
    it->busy = true;
    int rc = mtp_call(it->c, it->req, on_page, it);
    if (rc)
        it->busy = false;
    return rc;
}

int mtp_iter_take(mtp_iter_t *it, const mtp_tl_object_t **out)
{
    if (!it || !out)
        return MTP_EINVAL;
    *out = NULL;
    if (it->p.limit > 0 && it->yielded >= it->p.limit)
        return 0;
    if (it->at < it->n_items) {
        const mtp_tl_object_t *o = it->items[it->at];
        it->cur_part = it->parts && it->p.kind == MTP_ITER_PARTICIPANTS ? it->parts[it->at]
                                                                          : NULL;
        it->at++;
        it->yielded++;
        int32_t id, date;
        if ((it->p.kind == MTP_ITER_HISTORY || it->p.kind == MTP_ITER_SEARCH ||
             it->p.kind == MTP_ITER_GLOBAL) && msg_id_date(o, &id, &date))
            it->last_id = id, it->last_date = date;
        *out = o;
        return 1;
    }
    return it->ended ? 0 : MTP_EAGAIN;
}

typedef struct sync_wait {
    volatile bool done;
    mtp_call_error_t err;
} sync_wait_t;

static void on_sync(mtp_iter_t *it, void *user, const mtp_call_error_t *err)
{
    (void)it;
    sync_wait_t *w = user;
    w->err = *err;
    w->done = true;
}

int mtp_iter_next(mtp_iter_t *it, const mtp_tl_object_t **out, mtp_call_error_t *err)
{
    mtp_call_error_t e0;
    if (!err)
        err = &e0;
    memset(err, 0, sizeof *err);
    for (int round = 0; round < 1000; round++) {
        int rc = mtp_iter_take(it, out);
        if (rc != MTP_EAGAIN)
            return rc;
        sync_wait_t w = { false, { 0 } };
        rc = mtp_iter_fetch(it, on_sync, &w);
        if (rc)
            return err->err = rc;
        mtp_client_run(it->c, &w.done, -1);
        if (!w.done)
            return err->err = MTP_ETIMEDOUT;
        if (w.err.err == MTP_EFLOOD && w.err.number >= 0 &&
            w.err.number <= it->p.max_flood_wait) {
            volatile bool never = false;
            mtp_client_run(it->c, &never, (int)w.err.number * 1000);
            continue;       /* the same page again */
        }
        if (w.err.err) {
            *err = w.err;
            return w.err.err;
        }
    }
    return err->err = MTP_EPROTO;   /* a thousand empty pages that were not the end */
}

int64_t mtp_iter_total(const mtp_iter_t *it)
{
    return it ? it->total : -1;
}

int64_t mtp_iter_count(const mtp_iter_t *it)
{
    return it ? it->yielded : 0;
}

void mtp_iter_stats(const mtp_iter_t *it, int64_t *pages, int64_t *flood_waits)
{
    if (pages)
        *pages = it ? it->pages : 0;
    if (flood_waits)
        *flood_waits = it ? it->floods : 0;
}

const mtp_tl_object_t *mtp_iter_participant(const mtp_iter_t *it)
{
    return it ? it->cur_part : NULL;
}
