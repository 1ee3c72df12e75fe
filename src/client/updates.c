/*
 * libmtproto client — the updates stream: the common message box (pts, qts, date, seq),
 * gap detection, holding, updates.getDifference, delivery to the application callback.
 *
 * Input: bodies the server pushes (MTP_SESSION_EV_UPDATE) and RPC results of type Updates
 * (mtp_upd__feed from client.c). Every body is decoded into a fresh arena, checked against
 * the local state and either applied (delivered), skipped (already applied) or held (gap).
 * Held bodies are kept as raw bytes and tried again whenever the state moves; if the gap
 * is still open after HOLD_US, updates.getDifference fills it; so does a lost main
 * connection (pushes sent while it was down are gone: the getDifference call reconnects).
 * updates.differenceTooLong: the new pts is adopted, the application gets updatesTooLong,
 * getDifference carries on from there.
 *
 * Channels have their own boxes (chan_t: id, pts; sorted array): an update with pts of a
 * channel seen before is checked against it like the common box; the first one of a
 * channel starts tracking it. A gap holds the container with the channel noted (pend.chan);
 * after HOLD_US updates.getChannelDifference runs for it (one channel at a time, cdiff_id),
 * following final=false. Bodies arriving while any difference runs are held and replayed
 * when it ends.
 */
#define _GNU_SOURCE
#include "client_int.h"

#include <mtproto/net.h>
#include <mtproto/tl_schema.h>

#include <stdlib.h>
#include <string.h>

#define HOLD_US (500 * 1000)            /* how long a gap may stay open before getDifference */
#define RETRY_US (2 * MTP_USEC_PER_SEC) /* getDifference failed: try again after this */
#define SAVE_US MTP_USEC_PER_SEC        /* state saved at most this often (and on free) */
#define MAX_PENDING 256
#define MAX_SLICES 1000                 /* differenceSlice rounds of one getDifference run */
#define MAX_CHANNELS 4096               /* channels whose pts is tracked (more: unchecked) */
#define CHAN_LIMIT 100                  /* getChannelDifference limit */

typedef struct pend {
    uint8_t *body;
    size_t len;
    int rounds;                         /* getDifference runs it survived */
    int64_t chan;                       /* the gap is in this channel's box (0: common) */
} pend_t;

/* A channel's own message box. */
typedef struct chan {
    int64_t id;
    int32_t pts;
    mtp_usec_t diff_at;                 /* start getChannelDifference at (MTP_TIME_NEVER: no) */
    mtp_usec_t hold_at;                 /* ... because of a held gap (closing it cancels) */
} chan_t;

struct mtp_upd {
    mtp_update_cb cb;
    void *user;
    bool started, have_state;
    int32_t pts, qts, date, seq;
    bool dirty;
    mtp_usec_t saved_at;
    bool diff_running;
    int slices;
    mtp_usec_t diff_at;                 /* start getDifference at (MTP_TIME_NEVER: no) */
    mtp_usec_t hold_at;                 /* ... because of a held gap (closing it cancels) */
    int diff_err;
    mtp_call_error_t diff_error;
    pend_t pend[MAX_PENDING];
    int npend;
    int drop_pushes;                    /* test hook */
    int busy;                           /* inside process/replay (callbacks may nest) */
    int pts_limit;                      /* getDifference pts_limit (0: none; test hook) */
    chan_t *chans;                      /* sorted by id */
    int nchans, capchans;
    int64_t cdiff_id;                   /* getChannelDifference running for it (0: none) */
    int cslices;
    int64_t gap_chan;                   /* process(): where the last GAP was (0: common) */
    mtp_client_updates_info_t st;
};

static const mtp_vec_obj_t no_vec = { 0, NULL };

mtp_upd_t *mtp_upd__new(void)
{
    mtp_upd_t *u = calloc(1, sizeof *u);
    if (u)
        u->diff_at = u->hold_at = MTP_TIME_NEVER;
    return u;
}

static void pend_clear(mtp_upd_t *u)
{
    for (int i = 0; i < u->npend; i++)
        free(u->pend[i].body);
    u->npend = 0;
}

void mtp_upd__free(mtp_upd_t *u)
{
    if (!u)
        return;
    pend_clear(u);
    free(u->chans);
    free(u);
}

void mtp_upd__reset(mtp_upd_t *u)
{
    pend_clear(u);
    u->nchans = 0;
    u->cdiff_id = 0;
    u->started = u->have_state = false;
    u->pts = u->qts = u->date = u->seq = 0;
    u->diff_at = u->hold_at = MTP_TIME_NEVER;
    u->dirty = true;
}

/* ---- session section, little endian: (version >= 4) per tracked channel id (8 bytes)
 * and pts (4), their count (4); then have_state, pts, qts, date, seq (20 bytes) ---- */

static void put32(mtp_buf_t *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mtp_buf_append(b, p, 4);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- channel table (sorted by id: binary search) ---- */

static int chan_pos(const mtp_upd_t *u, int64_t id, bool *found)
{
    int lo = 0, hi = u->nchans;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (u->chans[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < u->nchans && u->chans[lo].id == id;
    return lo;
}

static chan_t *chan_find(mtp_upd_t *u, int64_t id)
{
    bool found;
    int i = chan_pos(u, id, &found);
    return found ? &u->chans[i] : NULL;
}

/* Track a channel from pts; NULL if the table is full (or no memory). */
static chan_t *chan_add(mtp_upd_t *u, int64_t id, int32_t pts)
{
    bool found;
    int i = chan_pos(u, id, &found);
    if (found)
        return &u->chans[i];
    if (u->nchans == MAX_CHANNELS)
        return NULL;
    if (u->nchans == u->capchans) {
        int cap = u->capchans ? u->capchans * 2 : 16;
        chan_t *n = realloc(u->chans, (size_t)cap * sizeof *n);
        if (!n)
            return NULL;
        u->chans = n;
        u->capchans = cap;
    }
    memmove(u->chans + i + 1, u->chans + i, (size_t)(u->nchans - i) * sizeof *u->chans);
    u->nchans++;
    u->chans[i] = (chan_t){ id, pts, MTP_TIME_NEVER, MTP_TIME_NEVER };
    return &u->chans[i];
}

static void chan_forget(mtp_upd_t *u, int64_t id)
{
    bool found;
    int i = chan_pos(u, id, &found);
    if (!found)
        return;
    memmove(u->chans + i, u->chans + i + 1, (size_t)(u->nchans - i - 1) * sizeof *u->chans);
    u->nchans--;
}

void mtp_upd__serialize(const mtp_upd_t *u, mtp_buf_t *b)
{
    for (int i = 0; i < u->nchans; i++) {
        put32(b, (uint32_t)(uint64_t)u->chans[i].id);
        put32(b, (uint32_t)((uint64_t)u->chans[i].id >> 32));
        put32(b, (uint32_t)u->chans[i].pts);
    }
    put32(b, (uint32_t)u->nchans);
    put32(b, u->have_state ? 1u : 0u);
    put32(b, (uint32_t)u->pts);
    put32(b, (uint32_t)u->qts);
    put32(b, (uint32_t)u->date);
    put32(b, (uint32_t)u->seq);
}

size_t mtp_upd__section_size(const uint8_t *p, size_t n, uint32_t ver)
{
    if (ver < 3)
        return 0;
    if (ver == 3)
        return n >= MTP_UPD_SECTION ? MTP_UPD_SECTION : (size_t)-1;
    if (n < MTP_UPD_SECTION + 4)
        return (size_t)-1;
    uint32_t cnt = get32(p + n - MTP_UPD_SECTION - 4);
    if (cnt > MAX_CHANNELS || (size_t)cnt * 12 > n - MTP_UPD_SECTION - 4)
        return (size_t)-1;
    return MTP_UPD_SECTION + 4 + (size_t)cnt * 12;
}

void mtp_upd__parse(mtp_upd_t *u, const uint8_t *p, size_t len)
{
    mtp_upd__reset(u);
    if (len > MTP_UPD_SECTION) {
        uint32_t cnt = (uint32_t)((len - MTP_UPD_SECTION - 4) / 12);
        for (uint32_t i = 0; i < cnt; i++) {
            const uint8_t *r = p + 12 * (size_t)i;
            int64_t id = (int64_t)((uint64_t)get32(r) | (uint64_t)get32(r + 4) << 32);
            if (id > 0)
                chan_add(u, id, (int32_t)get32(r + 8));     /* no memory: untracked */
        }
        p += len - MTP_UPD_SECTION;
    }
    u->have_state = (get32(p) & 1u) != 0;
    u->pts = (int32_t)get32(p + 4);
    u->qts = (int32_t)get32(p + 8);
    u->date = (int32_t)get32(p + 12);
    u->seq = (int32_t)get32(p + 16);
    u->dirty = false;
}

void mtp_upd__saved(mtp_upd_t *u, mtp_usec_t now)
{
    u->dirty = false;
    u->saved_at = now;
}

bool mtp_upd__dirty(const mtp_upd_t *u)
{
    return u->dirty;
}

/* ---- helpers ---- */

static bool is_updates_id(uint32_t id)
{
    switch (id) {
    case MTP_ID_updatesTooLong:
    case MTP_ID_updateShortMessage:
    case MTP_ID_updateShortChatMessage:
    case MTP_ID_updateShort:
    case MTP_ID_updatesCombined:
    case MTP_ID_updates:
    case MTP_ID_updateShortSentMessage:
        return true;
    default:
        return false;
    }
}

bool mtp_upd__is_updates(const uint8_t *body, size_t len)
{
    return len >= 4 && is_updates_id(get32(body));
}

static const mtp_tl_param_t *find_param(const mtp_tl_object_t *o, const char *name, int kind)
{
    const mtp_tl_comb_t *cb = o->tl;
    for (uint16_t i = 0; i < cb->nparams; i++)
        if (!strcmp(cb->params[i].name, name) && cb->params[i].type->kind == kind)
            return &cb->params[i];
    return NULL;
}

static const mtp_tl_param_t *find_int(const mtp_tl_object_t *o, const char *name)
{
    return find_param(o, name, MTP_TL_INT);
}

static bool is_channel_update(const mtp_tl_object_t *o)
{
    const mtp_tl_comb_t *cb = o->tl;
    if (strstr(cb->name, "Channel"))
        return true;
    for (uint16_t i = 0; i < cb->nparams; i++)
        if (!strcmp(cb->params[i].name, "channel_id"))
            return true;
    return false;
}

/* pts and pts_count of an update of the common box: true if it has them. */
static bool update_pts(const mtp_tl_object_t *o, int32_t *pts, int32_t *count)
{
    if (!o || is_channel_update(o))
        return false;
    const mtp_tl_param_t *p = find_int(o, "pts"), *n = find_int(o, "pts_count");
    if (!p || !n || !mtp_tl_field_present(o, p) || !mtp_tl_field_present(o, n))
        return false;
    memcpy(pts, (const uint8_t *)o + p->offset, sizeof *pts);
    memcpy(count, (const uint8_t *)o + n->offset, sizeof *count);
    return true;
}

/* The channel of an update: its channel_id, or the peerChannel of its message; 0 none. */
static int64_t update_channel(const mtp_tl_object_t *o)
{
    const mtp_tl_param_t *p = find_param(o, "channel_id", MTP_TL_LONG);
    int64_t id = 0;
    if (p && mtp_tl_field_present(o, p)) {
        memcpy(&id, (const uint8_t *)o + p->offset, sizeof id);
        return id;
    }
    p = find_param(o, "message", MTP_TL_OBJECT);
    const mtp_tl_object_t *m = NULL;
    if (p && mtp_tl_field_present(o, p))
        memcpy(&m, (const uint8_t *)o + p->offset, sizeof m);
    p = m ? find_param(m, "peer_id", MTP_TL_OBJECT) : NULL;
    const mtp_tl_object_t *peer = NULL;
    if (p && mtp_tl_field_present(m, p))
        memcpy(&peer, (const uint8_t *)m + p->offset, sizeof peer);
    if (peer && peer->tl->id == MTP_ID_peerChannel)
        id = ((const mtp_peerChannel_t *)peer)->channel_id;
    return id;
}

/* pts and pts_count of an update of a channel's box (and the channel): true if it has them. */
static bool chan_update_pts(const mtp_tl_object_t *o, int64_t *chan, int32_t *pts, int32_t *count)
{
    if (!o || !is_channel_update(o))
        return false;
    const mtp_tl_param_t *p = find_int(o, "pts"), *n = find_int(o, "pts_count");
    if (!p || !n || !mtp_tl_field_present(o, p) || !mtp_tl_field_present(o, n))
        return false;
    *chan = update_channel(o);
    if (*chan <= 0)
        return false;
    memcpy(pts, (const uint8_t *)o + p->offset, sizeof *pts);
    memcpy(count, (const uint8_t *)o + n->offset, sizeof *count);
    return true;
}

static bool update_qts(const mtp_tl_object_t *o, int32_t *qts)
{
    const mtp_tl_param_t *p = o ? find_int(o, "qts") : NULL;
    if (!p || !mtp_tl_field_present(o, p))
        return false;
    memcpy(qts, (const uint8_t *)o + p->offset, sizeof *qts);
    return true;
}

enum { APPLY = 0, SKIP = 1, GAP = 2 };

static int pts_check(int32_t local, int32_t pts, int32_t count)
{
    if (count == 0 && pts == 0)
        return APPLY;
    if (local + count == pts)
        return APPLY;
    if (local + count > pts)
        return SKIP;
    return GAP;
}

static void touch(mtp_upd_t *u);

static void chan_want(mtp_upd_t *u, int64_t id, mtp_usec_t at)
{
    chan_t *ch = chan_find(u, id);
    if (ch && at < ch->diff_at)
        ch->diff_at = at;
}

/* updateChannelTooLong of a tracked channel: getChannelDifference at once; true if so. */
static bool chan_too_long(mtp_upd_t *u, const mtp_tl_object_t *o)
{
    if (!o || o->tl->id != MTP_ID_updateChannelTooLong)
        return false;
    const mtp_updateChannelTooLong_t *t = (const void *)o;
    if (!chan_find(u, t->channel_id))
        return false;       /* never seen: no pts to start from; the application decides */
    chan_want(u, t->channel_id, 0);
    return true;
}

/* A channel update against its box: APPLY (the pts moves; a channel seen for the first
 * time is tracked from here), SKIP, or GAP (u->gap_chan set). */
static int chan_apply(mtp_upd_t *u, int64_t id, int32_t pts, int32_t cnt)
{
    chan_t *ch = chan_find(u, id);
    if (!ch) {
        if (chan_add(u, id, pts)) {
            u->st.channels_seen++;
            touch(u);
        }
        return APPLY;
    }
    int r = pts_check(ch->pts, pts, cnt);
    if (r == APPLY && (pts || cnt)) {
        ch->pts = pts;
        touch(u);
    } else if (r == GAP) {
        u->gap_chan = id;
    }
    return r;
}

/* The dry run of a container: channel boxes as they would be after its earlier updates. */
typedef struct simc {
    int64_t id;
    int32_t pts;
    bool known;
} simc_t;

static int chan_sim(mtp_upd_t *u, simc_t *sim, uint32_t *nsim, int64_t id, int32_t pts,
                    int32_t cnt)
{
    simc_t *x = NULL;
    for (uint32_t i = 0; i < *nsim && !x; i++)
        if (sim[i].id == id)
            x = &sim[i];
    if (!x) {
        const chan_t *ch = chan_find(u, id);
        x = &sim[(*nsim)++];
        *x = (simc_t){ id, ch ? ch->pts : 0, ch != NULL };
    }
    if (!x->known) {
        x->known = true;
        x->pts = pts;
        return APPLY;
    }
    int r = pts_check(x->pts, pts, cnt);
    if (r == APPLY && (pts || cnt))
        x->pts = pts;
    else if (r == GAP)
        u->gap_chan = id;
    return r;
}

static void deliver_one(mtp_client_t *c, mtp_upd_t *u, const mtp_tl_object_t *o,
                        const mtp_vec_obj_t *users, const mtp_vec_obj_t *chats)
{
    u->st.delivered++;
    if (u->cb)
        u->cb(c, u->user, o, users ? users : &no_vec, chats ? chats : &no_vec);
}

static void touch(mtp_upd_t *u)
{
    u->dirty = true;
}

/* The fields updateShortMessage and updateShortChatMessage share with message and
 * updateNewMessage (same names in both short constructors). */
#define SHORT_TO_MESSAGE(m, nm, s, peer)                                                    \
    do {                                                                                    \
        (m)->out = (s)->out;                                                                \
        (m)->mentioned = (s)->mentioned;                                                    \
        (m)->media_unread = (s)->media_unread;                                              \
        (m)->silent = (s)->silent;                                                          \
        (m)->id = (s)->id;                                                                  \
        (m)->peer_id = &(peer)->_;                                                          \
        (m)->fwd_from = (s)->fwd_from;                                                      \
        (m)->has_via_bot_id = (s)->has_via_bot_id;                                          \
        (m)->via_bot_id = (s)->via_bot_id;                                                  \
        (m)->reply_to = (s)->reply_to;                                                      \
        (m)->date = (s)->date;                                                              \
        (m)->message = (s)->message;                                                        \
        (m)->has_entities = (s)->has_entities;                                              \
        (m)->entities = (s)->entities;                                                      \
        (m)->has_ttl_period = (s)->has_ttl_period;                                          \
        (m)->ttl_period = (s)->ttl_period;                                                  \
        (nm)->pts = (s)->pts;                                                               \
        (nm)->pts_count = (s)->pts_count;                                                   \
    } while (0)

/* updateShortMessage / updateShortChatMessage as updateNewMessage{message}. */
static mtp_tl_object_t *short_to_new(mtp_client_t *c, mtp_arena_t *a, const mtp_tl_object_t *o)
{
    mtp_updateNewMessage_t *nm = MTP_NEW(a, updateNewMessage);
    mtp_message_t *m = MTP_NEW(a, message);
    mtp_peerUser_t *from = MTP_NEW(a, peerUser);
    if (!nm || !m || !from)
        return NULL;
    if (o->tl->id == MTP_ID_updateShortMessage) {
        const mtp_updateShortMessage_t *s = (const void *)o;
        mtp_peerUser_t *peer = MTP_NEW(a, peerUser);
        if (!peer)
            return NULL;
        peer->user_id = s->user_id;
        from->user_id = s->out ? mtp_client_user_id(c) : s->user_id;
        SHORT_TO_MESSAGE(m, nm, s, peer);
    } else {
        const mtp_updateShortChatMessage_t *s = (const void *)o;
        mtp_peerChat_t *peer = MTP_NEW(a, peerChat);
        if (!peer)
            return NULL;
        peer->chat_id = s->chat_id;
        from->user_id = s->from_id;
        SHORT_TO_MESSAGE(m, nm, s, peer);
    }
    m->from_id = &from->_;
    nm->message = &m->_;
    return &nm->_;
}

static void want_diff(mtp_upd_t *u, mtp_usec_t at)
{
    if (at < u->diff_at)
        u->diff_at = at;
}

/* Keep a body for later. chan: its gap is in that channel's box (getChannelDifference
 * after HOLD_US), 0: in the common one (getDifference). */
static void hold(mtp_upd_t *u, const uint8_t *body, size_t len, mtp_usec_t now, int64_t chan)
{
    if (u->npend == MAX_PENDING) {      /* full: the oldest goes; getDifference gets it */
        free(u->pend[0].body);
        memmove(u->pend, u->pend + 1, (size_t)(MAX_PENDING - 1) * sizeof u->pend[0]);
        u->npend--;
        want_diff(u, now);
    }
    uint8_t *b = malloc(len);
    if (!b) {
        want_diff(u, now);
        return;
    }
    memcpy(b, body, len);
    u->pend[u->npend++] = (pend_t){ b, len, 0, chan };
    u->st.held_total++;
    chan_t *ch = chan ? chan_find(u, chan) : NULL;
    mtp_usec_t *at = ch ? &ch->hold_at : &u->hold_at;
    if (now + HOLD_US < *at)
        *at = now + HOLD_US;
}

/* One body: APPLY (delivered), SKIP (nothing new) or GAP (not applied; caller holds it). */
static int process(mtp_client_t *c, mtp_upd_t *u, const uint8_t *body, size_t len)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    u->gap_chan = 0;
    if (!a)
        return GAP;
    if (mtp_tl_decode(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), body, len, a, &o) || !o ||
        !is_updates_id(o->tl->id)) {
        mtp_arena_free(a);
        return SKIP;
    }
    if (mtp_client_peers_feed(c, o) > 0)
        touch(u);       /* the peer cache changed: the periodic save writes it too */
    int rc = SKIP;
    int32_t pts = 0, cnt = 0;
    switch (o->tl->id) {
    case MTP_ID_updatesTooLong:
        want_diff(u, 0);
        break;
    case MTP_ID_updateShortMessage:
    case MTP_ID_updateShortChatMessage:
    case MTP_ID_updateShortSentMessage: {
        int32_t date;
        if (o->tl->id == MTP_ID_updateShortMessage) {
            const mtp_updateShortMessage_t *s = (const void *)o;
            pts = s->pts, cnt = s->pts_count, date = s->date;
        } else if (o->tl->id == MTP_ID_updateShortChatMessage) {
            const mtp_updateShortChatMessage_t *s = (const void *)o;
            pts = s->pts, cnt = s->pts_count, date = s->date;
        } else {
            const mtp_updateShortSentMessage_t *s = (const void *)o;
            pts = s->pts, cnt = s->pts_count, date = s->date;
        }
        rc = pts_check(u->pts, pts, cnt);
        if (rc != APPLY)
            break;
        if (pts || cnt)
            u->pts = pts;
        if (date > u->date)
            u->date = date;
        touch(u);
        const mtp_tl_object_t *d = o->tl->id == MTP_ID_updateShortSentMessage
                                       ? o : short_to_new(c, a, o);
        if (d)
            deliver_one(c, u, d, NULL, NULL);
        break;
    }
    case MTP_ID_updateShort: {
        const mtp_updateShort_t *s = (const void *)o;
        int64_t cid;
        if (update_pts(s->update, &pts, &cnt)) {
            rc = pts_check(u->pts, pts, cnt);
            if (rc != APPLY)
                break;
            u->pts = pts;
        } else if (chan_update_pts(s->update, &cid, &pts, &cnt)) {
            rc = chan_apply(u, cid, pts, cnt);
            if (rc != APPLY)
                break;
        } else if (chan_too_long(u, s->update)) {
            rc = APPLY;
            break;
        }
        rc = APPLY;
        int32_t q;
        if (update_qts(s->update, &q) && q > u->qts)
            u->qts = q;
        if (s->date > u->date)
            u->date = s->date;
        touch(u);
        if (s->update)
            deliver_one(c, u, s->update, NULL, NULL);
        break;
    }
    case MTP_ID_updates:
    case MTP_ID_updatesCombined: {
        const mtp_vec_obj_t *ups, *users, *chats;
        int32_t seq, seq_start, date;
        if (o->tl->id == MTP_ID_updates) {
            const mtp_updates_t *x = (const void *)o;
            ups = &x->updates, users = &x->users, chats = &x->chats;
            seq = seq_start = x->seq, date = x->date;
        } else {
            const mtp_updatesCombined_t *x = (const void *)o;
            ups = &x->updates, users = &x->users, chats = &x->chats;
            seq = x->seq, seq_start = x->seq_start, date = x->date;
        }
        if (seq_start && u->seq) {
            if (u->seq + 1 > seq_start) {
                rc = SKIP;
                break;
            }
            if (u->seq + 1 < seq_start) {
                rc = GAP;
                break;
            }
        }
        /* dry run: a gap anywhere (common box or a channel's) holds the whole container,
         * nothing delivered twice */
        int32_t tmp = u->pts;
        int64_t cid;
        simc_t *sim = ups->n ? mtp_arena_alloc(a, ups->n * sizeof *sim) : NULL;
        uint32_t nsim = 0;
        if (ups->n && !sim) {
            rc = GAP;                   /* no memory: held, tried again later */
            break;
        }
        rc = APPLY;
        for (uint32_t i = 0; i < ups->n && rc != GAP; i++)
            if (update_pts(ups->v[i], &pts, &cnt)) {
                int r = pts_check(tmp, pts, cnt);
                if (r == GAP) {
                    rc = GAP;
                    u->gap_chan = 0;
                } else if (r == APPLY && (pts || cnt)) {
                    tmp = pts;
                }
            } else if (chan_update_pts(ups->v[i], &cid, &pts, &cnt) &&
                       chan_sim(u, sim, &nsim, cid, pts, cnt) == GAP) {
                rc = GAP;
            }
        if (rc == GAP)
            break;
        bool any = false;
        for (uint32_t i = 0; i < ups->n; i++) {
            const mtp_tl_object_t *x = ups->v[i];
            if (!x)
                continue;
            if (update_pts(x, &pts, &cnt)) {
                if (pts_check(u->pts, pts, cnt) == SKIP) {
                    u->st.duplicates++;
                    continue;
                }
                if (pts || cnt)
                    u->pts = pts;
            } else if (chan_update_pts(x, &cid, &pts, &cnt)) {
                if (chan_apply(u, cid, pts, cnt) == SKIP) {
                    u->st.duplicates++;
                    continue;
                }
            } else if (chan_too_long(u, x)) {
                any = true;
                continue;
            }
            int32_t q;
            if (update_qts(x, &q) && q > u->qts)
                u->qts = q;
            any = true;
            deliver_one(c, u, x, users, chats);
        }
        if (seq)
            u->seq = seq;
        if (date > u->date)
            u->date = date;
        touch(u);
        rc = any || !ups->n ? APPLY : SKIP;
        break;
    }
    default:
        break;
    }
    if (rc == SKIP && o->tl->id != MTP_ID_updatesTooLong && o->tl->id != MTP_ID_updates &&
        o->tl->id != MTP_ID_updatesCombined)
        u->st.duplicates++;
    mtp_arena_free(a);
    return rc;
}

/* Put a held body back (taken out by replay). */
static void requeue(mtp_upd_t *u, pend_t p)
{
    if (u->npend == MAX_PENDING) {
        free(p.body);
        want_diff(u, 0);
        return;
    }
    u->pend[u->npend++] = p;
}

/* Try the held bodies again (after the state moved). final: a difference of the box
 * `chan` (0: the common one) just ended. The list is taken out first: a callback that makes
 * a sync call may feed (and hold) more bodies meanwhile. Not while a difference is running
 * (its end replays). */
static void replay(mtp_client_t *c, mtp_upd_t *u, bool final, int64_t chan)
{
    if (u->diff_running || u->cdiff_id)
        return;
    for (int pass = 0; pass <= MAX_PENDING && u->npend; pass++) {
        int n = u->npend;
        pend_t *tmp = malloc((size_t)n * sizeof *tmp);
        if (!tmp)
            break;
        memcpy(tmp, u->pend, (size_t)n * sizeof *tmp);
        u->npend = 0;
        bool progress = false;
        for (int i = 0; i < n; i++) {
            int r = process(c, u, tmp[i].body, tmp[i].len);
            if (r == GAP) {
                tmp[i].chan = u->gap_chan;
                requeue(u, tmp[i]);
            } else {
                free(tmp[i].body);
                progress |= r == APPLY;
            }
        }
        free(tmp);
        if (!progress)
            break;
    }
    if (final) {
        /* still a gap after a full difference: the server does not have what is missing
         * (twice in a row) -> drop it; else wait for the next round */
        for (int i = 0; i < u->npend;) {
            if (u->pend[i].chan == chan && ++u->pend[i].rounds >= 2) {
                free(u->pend[i].body);
                memmove(u->pend + i, u->pend + i + 1,
                        (size_t)(u->npend - i - 1) * sizeof *u->pend);
                u->npend--;
            } else {
                i++;
            }
        }
    }
    /* a gap still open keeps its deadline (or gets one); a closed gap needs no difference */
    mtp_usec_t at = mtp_now_usec() + HOLD_US;
    bool common = false;
    for (int k = 0; k < u->nchans; k++) {
        chan_t *ch = &u->chans[k];
        if (ch->hold_at == MTP_TIME_NEVER)
            continue;
        bool held = false;
        for (int i = 0; i < u->npend && !held; i++)
            held = u->pend[i].chan == ch->id;
        if (!held)
            ch->hold_at = MTP_TIME_NEVER;
    }
    for (int i = 0; i < u->npend; i++) {
        chan_t *ch = u->pend[i].chan ? chan_find(u, u->pend[i].chan) : NULL;
        if (ch && at < ch->hold_at)
            ch->hold_at = at;
        common |= !ch;
    }
    if (!common)
        u->hold_at = MTP_TIME_NEVER;
    else if (at < u->hold_at)
        u->hold_at = at;
}

/* ---- getDifference / getState ---- */

static void start_diff(mtp_client_t *c, mtp_upd_t *u);
static void start_state(mtp_client_t *c, mtp_upd_t *u);

static void set_state(mtp_upd_t *u, const mtp_tl_object_t *s)
{
    if (!s || s->tl->id != MTP_ID_updates_state)
        return;
    const mtp_updates_state_t *st = (const void *)s;
    u->pts = st->pts;
    u->qts = st->qts;
    u->date = st->date;
    u->seq = st->seq;
    u->have_state = true;
    touch(u);
}

static void deliver_diff(mtp_client_t *c, mtp_upd_t *u, mtp_arena_t *a,
                         const mtp_vec_obj_t *msgs, const mtp_vec_obj_t *others,
                         const mtp_vec_obj_t *users, const mtp_vec_obj_t *chats)
{
    for (uint32_t i = 0; i < msgs->n; i++) {
        mtp_updateNewMessage_t *nm = MTP_NEW(a, updateNewMessage);
        if (!nm || !msgs->v[i])
            continue;
        nm->message = msgs->v[i];
        deliver_one(c, u, &nm->_, users, chats);
    }
    for (uint32_t i = 0; i < others->n; i++) {
        const mtp_tl_object_t *x = others->v[i];
        int64_t cid;
        int32_t pts, cnt;
        if (!x || chan_too_long(u, x))
            continue;
        if (chan_update_pts(x, &cid, &pts, &cnt)) {
            int r = chan_apply(u, cid, pts, cnt);
            if (r == GAP)
                chan_want(u, cid, 0);   /* getChannelDifference brings it */
            if (r != APPLY)
                continue;
        }
        deliver_one(c, u, x, users, chats);
    }
}

static void diff_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                    const mtp_call_error_t *e)
{
    (void)user;
    mtp_upd_t *u = mtp_client__upd(c);
    if (!u->started) {          /* reset meanwhile (another account): ignore */
        u->diff_running = false;
        return;
    }
    mtp_arena_t *a = NULL;
    mtp_tl_object_t *o = NULL;
    if (!e->err) {
        a = mtp_arena_new(0);
        if (!a || mtp_tl_decode(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), res, len, a, &o) || !o) {
            u->diff_running = false;
            u->diff_err = MTP_EPROTO;
            u->diff_error = (mtp_call_error_t){ .err = MTP_EPROTO, .number = -1 };
            want_diff(u, mtp_now_usec() + RETRY_US);
            mtp_arena_free(a);
            return;
        }
    }
    if (e->err) {
        u->diff_running = false;
        u->diff_err = e->err;
        u->diff_error = *e;
        if (e->err == MTP_ERPC && e->code == 400)
            start_state(c, u);          /* our pts is not the server's: start over */
        else if (e->err != MTP_ECLOSED || strcmp(e->message, "CLIENT_CLOSED"))
            want_diff(u, mtp_now_usec() + RETRY_US);
        return;
    }
    u->diff_err = 0;
    if (mtp_client_peers_feed(c, o) > 0)
        touch(u);
    bool again = false;
    switch (o->tl->id) {
    case MTP_ID_updates_state:
        set_state(u, o);
        break;
    case MTP_ID_updates_differenceEmpty: {
        const mtp_updates_differenceEmpty_t *d = (const void *)o;
        u->date = d->date;
        u->seq = d->seq;
        touch(u);
        break;
    }
    case MTP_ID_updates_difference: {
        const mtp_updates_difference_t *d = (const void *)o;
        u->busy++;
        deliver_diff(c, u, a, &d->new_messages, &d->other_updates, &d->users, &d->chats);
        u->busy--;
        set_state(u, d->state);
        break;
    }
    case MTP_ID_updates_differenceSlice: {
        const mtp_updates_differenceSlice_t *d = (const void *)o;
        u->busy++;
        deliver_diff(c, u, a, &d->new_messages, &d->other_updates, &d->users, &d->chats);
        u->busy--;
        set_state(u, d->intermediate_state);
        again = ++u->slices < MAX_SLICES;
        break;
    }
    case MTP_ID_updates_differenceTooLong: {
        const mtp_updates_differenceTooLong_t *d = (const void *)o;
        u->pts = d->pts;
        touch(u);
        pend_clear(u);
        /* tell the application: what lies before this pts must be fetched anew */
        mtp_updatesTooLong_t *t = MTP_NEW(a, updatesTooLong);
        if (t)
            deliver_one(c, u, &t->_, NULL, NULL);
        /* carry on from the new pts: what came after it, and the date/seq/qts of now */
        again = ++u->slices < MAX_SLICES;
        break;
    }
    default:
        break;
    }
    mtp_arena_free(a);
    if (again) {
        u->diff_running = false;
        start_diff(c, u);
        return;
    }
    u->diff_running = false;
    u->slices = 0;
    if (u->diff_at == 0)            /* updatesTooLong arrived while we were at it */
        return;
    u->busy++;
    replay(c, u, true, 0);
    u->busy--;
}

static void call_internal(mtp_client_t *c, mtp_upd_t *u, const mtp_tl_object_t *q)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = mtp_tl_encode(q, &b);
    if (!rc)
        rc = mtp_call_ex(c, 0, 0, b.data, b.len, diff_cb, NULL);
    mtp_buf_free(&b);
    if (rc) {
        u->diff_err = rc;
        u->diff_error = (mtp_call_error_t){ .err = rc, .number = -1 };
        want_diff(u, mtp_now_usec() + RETRY_US);
        return;
    }
    u->diff_running = true;
}

static void start_diff(mtp_client_t *c, mtp_upd_t *u)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_updates_getDifference_t *q = a ? MTP_NEW(a, updates_getDifference) : NULL;
    u->diff_at = u->hold_at = MTP_TIME_NEVER;
    if (!q) {
        mtp_arena_free(a);
        want_diff(u, mtp_now_usec() + RETRY_US);
        return;
    }
    q->pts = u->pts;
    q->date = u->date;
    q->qts = u->qts;
    if (u->pts_limit > 0) {
        q->has_pts_limit = true;
        q->pts_limit = u->pts_limit;
    }
    u->st.differences++;
    call_internal(c, u, &q->_);
    mtp_arena_free(a);
}

static void start_state(mtp_client_t *c, mtp_upd_t *u)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *q = a ? (mtp_tl_object_t *)MTP_NEW(a, updates_getState) : NULL;
    u->diff_at = u->hold_at = MTP_TIME_NEVER;
    if (q)
        call_internal(c, u, q);
    else
        want_diff(u, mtp_now_usec() + RETRY_US);
    mtp_arena_free(a);
}

/* ---- getChannelDifference (one channel at a time) ---- */

static void start_cdiff(mtp_client_t *c, mtp_upd_t *u, int64_t id);

/* A channel's box cannot be followed (no access hash, or the server refuses): track it
 * anew from its next update; what is held for it is tried again. */
static void chan_drop(mtp_client_t *c, mtp_upd_t *u, int64_t id)
{
    chan_forget(u, id);
    for (int i = 0; i < u->npend; i++)
        if (u->pend[i].chan == id)
            u->pend[i].chan = 0;
    touch(u);
    u->busy++;
    replay(c, u, false, 0);
    u->busy--;
}

static void cdiff_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                     const mtp_call_error_t *e)
{
    (void)user;
    mtp_upd_t *u = mtp_client__upd(c);
    int64_t id = u->cdiff_id;
    if (!u->started || !id || !chan_find(u, id)) {  /* reset or forgotten meanwhile */
        u->cdiff_id = 0;
        return;
    }
    mtp_arena_t *a = NULL;
    mtp_tl_object_t *o = NULL;
    if (!e->err) {
        a = mtp_arena_new(0);
        if (!a || mtp_tl_decode(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), res, len, a, &o) || !o) {
            mtp_arena_free(a);
            u->cdiff_id = 0;
            u->cslices = 0;
            chan_want(u, id, mtp_now_usec() + RETRY_US);
            u->busy++;
            replay(c, u, false, 0);     /* what was held meanwhile for other boxes */
            u->busy--;
            return;
        }
    } else {
        u->cdiff_id = 0;
        u->cslices = 0;
        if (e->err == MTP_ERPC && e->code == 400) {
            chan_drop(c, u, id);        /* CHANNEL_PRIVATE, CHANNEL_INVALID, ... */
        } else if (e->err != MTP_ECLOSED || strcmp(e->message, "CLIENT_CLOSED")) {
            chan_want(u, id, mtp_now_usec() + RETRY_US);
            u->busy++;
            replay(c, u, false, 0);
            u->busy--;
        }
        return;
    }
    if (mtp_client_peers_feed(c, o) > 0)
        touch(u);
    bool again = false;
    int32_t pts = -1;
    u->busy++;      /* cdiff_id stays set: callbacks' sync calls start no other difference */
    switch (o->tl->id) {
    case MTP_ID_updates_channelDifferenceEmpty: {
        const mtp_updates_channelDifferenceEmpty_t *d = (const void *)o;
        pts = d->pts;
        again = !d->final;
        break;
    }
    case MTP_ID_updates_channelDifference: {
        const mtp_updates_channelDifference_t *d = (const void *)o;
        for (uint32_t i = 0; i < d->new_messages.n; i++) {
            mtp_updateNewChannelMessage_t *nm = MTP_NEW(a, updateNewChannelMessage);
            if (!nm || !d->new_messages.v[i])
                continue;
            nm->message = d->new_messages.v[i];
            deliver_one(c, u, &nm->_, &d->users, &d->chats);
        }
        for (uint32_t i = 0; i < d->other_updates.n; i++)
            if (d->other_updates.v[i])
                deliver_one(c, u, d->other_updates.v[i], &d->users, &d->chats);
        pts = d->pts;
        again = !d->final;
        break;
    }
    case MTP_ID_updates_channelDifferenceTooLong: {
        const mtp_updates_channelDifferenceTooLong_t *d = (const void *)o;
        const mtp_dialog_t *dl = d->dialog && d->dialog->tl->id == MTP_ID_dialog
                                     ? (const void *)d->dialog : NULL;
        if (dl && dl->has_pts)
            pts = dl->pts;
        /* tell the application: what lies before this pts must be fetched anew */
        mtp_updateChannelTooLong_t *t = MTP_NEW(a, updateChannelTooLong);
        if (t) {
            t->channel_id = id;
            t->has_pts = pts >= 0;
            t->pts = pts >= 0 ? pts : 0;
            deliver_one(c, u, &t->_, &d->users, &d->chats);
        }
        again = !d->final;
        break;
    }
    default:
        break;
    }
    u->busy--;
    mtp_arena_free(a);
    chan_t *ch = chan_find(u, id);
    if (ch && pts >= 0) {
        ch->pts = pts;
        touch(u);
    }
    u->cdiff_id = 0;
    if (ch && again && ++u->cslices < MAX_SLICES) {
        start_cdiff(c, u, id);
        return;
    }
    u->cslices = 0;
    u->busy++;
    replay(c, u, true, id);
    u->busy--;
}

static void start_cdiff(mtp_client_t *c, mtp_upd_t *u, int64_t id)
{
    chan_t *ch = chan_find(u, id);
    if (!ch)
        return;
    ch->diff_at = ch->hold_at = MTP_TIME_NEVER;
    mtp_peer_t p;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_updates_getChannelDifference_t *q = a ? MTP_NEW(a, updates_getChannelDifference) : NULL;
    mtp_tl_object_t *ic = NULL, *f = a ? (mtp_tl_object_t *)MTP_NEW(a, channelMessagesFilterEmpty)
                                       : NULL;
    if (!q || !f) {
        mtp_arena_free(a);
        chan_want(u, id, mtp_now_usec() + RETRY_US);
        return;
    }
    if (mtp_client_peer_get(c, MTP_PEER_CHANNEL, id, &p) || mtp_peer_input_channel(&p, a, &ic)) {
        mtp_arena_free(a);
        chan_drop(c, u, id);            /* no access hash: it cannot be asked for */
        return;
    }
    q->channel = ic;
    q->filter = f;
    q->pts = ch->pts;
    q->limit = u->pts_limit > 0 ? u->pts_limit : CHAN_LIMIT;
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = mtp_tl_encode(&q->_, &b);
    if (!rc)
        rc = mtp_call_ex(c, 0, 0, b.data, b.len, cdiff_cb, NULL);
    mtp_buf_free(&b);
    mtp_arena_free(a);
    if (rc) {
        chan_want(u, id, mtp_now_usec() + RETRY_US);
        return;
    }
    u->cdiff_id = id;
    u->st.channel_differences++;
}

/* ---- hooks from client.c ---- */

void mtp_upd__feed(mtp_client_t *c, const uint8_t *body, size_t len, bool pushed)
{
    mtp_upd_t *u = mtp_client__upd(c);
    if (!u->started || !u->have_state || !mtp_upd__is_updates(body, len))
        return;
    if (pushed && u->drop_pushes > 0) {
        u->drop_pushes--;
        return;
    }
    mtp_usec_t now = mtp_now_usec();
    if (u->diff_running || u->cdiff_id || u->busy) {
        hold(u, body, len, now, 0);     /* replayed (or skipped as duplicates) afterwards */
        return;
    }
    u->busy++;
    int r = process(c, u, body, len);
    if (r == GAP) {
        u->st.gaps++;
        hold(u, body, len, now, u->gap_chan);
    } else if (u->npend) {
        replay(c, u, false, 0);
    }
    u->busy--;
}

void mtp_upd__new_session(mtp_client_t *c)
{
    mtp_upd_t *u = mtp_client__upd(c);
    if (u->started && u->have_state)
        want_diff(u, 0);
}

void mtp_upd__conn_lost(mtp_client_t *c)
{
    mtp_upd_t *u = mtp_client__upd(c);
    if (u->started && u->have_state)
        want_diff(u, 0);
}

void mtp_upd__tick(mtp_client_t *c)
{
    mtp_upd_t *u = mtp_client__upd(c);
    mtp_usec_t now = mtp_now_usec();
    if (u->started && !u->diff_running && (now >= u->diff_at || now >= u->hold_at)) {
        if (u->have_state)
            start_diff(c, u);
        else
            start_state(c, u);
    }
    if (u->started && u->have_state && !u->cdiff_id) {
        chan_t *due = NULL;
        mtp_usec_t due_at = MTP_TIME_NEVER;
        for (int i = 0; i < u->nchans; i++) {
            chan_t *ch = &u->chans[i];
            mtp_usec_t at = ch->diff_at < ch->hold_at ? ch->diff_at : ch->hold_at;
            if (at <= now && (!due || at < due_at))
                due = ch, due_at = at;
        }
        if (due)
            start_cdiff(c, u, due->id);
    }
    if (u->dirty && now - u->saved_at >= SAVE_US) {
        u->saved_at = now;      /* a failing save is retried a second later, not at once */
        mtp_client_save(c);
    }
}

mtp_usec_t mtp_upd__deadline(mtp_client_t *c)
{
    mtp_upd_t *u = mtp_client__upd(c);
    mtp_usec_t t = MTP_TIME_NEVER;
    if (u->started && !u->diff_running)
        t = u->diff_at < u->hold_at ? u->diff_at : u->hold_at;
    if (u->started && u->have_state && !u->cdiff_id)
        for (int i = 0; i < u->nchans; i++) {
            if (u->chans[i].diff_at < t)
                t = u->chans[i].diff_at;
            if (u->chans[i].hold_at < t)
                t = u->chans[i].hold_at;
        }
    if (u->dirty && u->saved_at + SAVE_US < t)
        t = u->saved_at + SAVE_US;
    return t;
}

void mtp_client__updates_drop_pushes(mtp_client_t *c, int n)
{
    mtp_client__upd(c)->drop_pushes = n;
}

void mtp_client__updates_pts_limit(mtp_client_t *c, int n)
{
    mtp_client__upd(c)->pts_limit = n;
}

void mtp_client__updates_inject(mtp_client_t *c, const uint8_t *body, size_t len)
{
    mtp_upd__feed(c, body, len, false);
}

/* ---- public ---- */

int mtp_client_on_update(mtp_client_t *c, mtp_update_cb cb, void *user)
{
    if (!c)
        return MTP_EINVAL;
    mtp_upd_t *u = mtp_client__upd(c);
    u->cb = cb;
    u->user = user;
    return 0;
}

int mtp_client_updates_start(mtp_client_t *c, mtp_call_error_t *err)
{
    mtp_call_error_t e0 = { .err = 0, .number = -1 };
    if (!err)
        err = &e0;
    *err = e0;
    if (!c)
        return err->err = MTP_EINVAL;
    if (!mtp_client_authorized(c)) {
        err->err = MTP_EAUTH;
        return MTP_EAUTH;
    }
    mtp_upd_t *u = mtp_client__upd(c);
    u->started = true;
    u->diff_err = 0;
    if (!u->diff_running) {
        if (u->have_state)
            start_diff(c, u);
        else
            start_state(c, u);
    }
    /* wait for it (and the slices after it); bounded by the call timeouts */
    mtp_usec_t until = mtp_now_usec() + 4 * 60 * MTP_USEC_PER_SEC;
    while (u->diff_running && mtp_now_usec() < until)
        if (mtp_client_step(c, 200))
            break;
    if (u->diff_running) {
        err->err = MTP_ETIMEDOUT;
        return MTP_ETIMEDOUT;
    }
    if (!u->have_state) {
        u->started = false;
        *err = u->diff_error;
        if (!err->err)
            err->err = MTP_EPROTO;
        return err->err;
    }
    if (u->diff_err)
        *err = u->diff_error;   /* the state is known; a failed difference is retried */
    mtp_client_save(c);
    return 0;
}

void mtp_client_updates_info(mtp_client_t *c, mtp_client_updates_info_t *out)
{
    mtp_upd_t *u = mtp_client__upd(c);
    *out = u->st;
    out->started = u->started;
    out->have_state = u->have_state;
    out->pts = u->pts;
    out->qts = u->qts;
    out->date = u->date;
    out->seq = u->seq;
    out->held = (uint64_t)u->npend;
    out->channels = (uint64_t)u->nchans;
}

int32_t mtp_client_updates_channel_pts(mtp_client_t *c, int64_t channel_id)
{
    if (!c)
        return 0;
    const chan_t *ch = chan_find(mtp_client__upd(c), channel_id);
    return ch ? ch->pts : 0;
}
