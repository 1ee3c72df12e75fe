/*
 * libmtproto client — the updates message box (see msgbox.h): pts / qts / seq rules on
 * incoming bodies, held gaps and their replay, per-channel boxes, the delivery queue, the
 * stored state. Requests and their answers: msgbox_diff.c.
 *
 * Every body is decoded into a fresh arena, checked against the local state and either
 * applied (its updates queued for delivery, the arena with them), skipped (already
 * applied) or held (gap: kept as raw bytes, tried again whenever the state moves). The
 * delivery queue is a FIFO of batches (an arena and its updates); the owner pops from it
 * after each call, so the application callback never runs inside the box, and a body fed
 * from inside that callback is processed at once with its updates queued behind.
 *
 * Channels have their own boxes (chan_t: id, pts; sorted array): an update with pts of a
 * channel seen before is checked against it like the common box; the first one of a
 * channel starts tracking it. A gap holds the container with the channel noted
 * (pend.chan); after hold_us getChannelDifference runs for it (one channel at a time),
 * following final=false.
 */
#include "msgbox_int.h"
#include "util/util.h"

#include <mtproto/tl_schema.h>

#include <stdlib.h>
#include <string.h>

static const mtp_vec_obj_t no_vec = { 0, NULL };

static void params_set(mtp_msgbox_t *b, const mtp_msgbox_params_t *p)
{
    b->prm = p ? *p : (mtp_msgbox_params_t){ 0 };
    if (b->prm.hold_us <= 0)
        b->prm.hold_us = MTP_MSGBOX_HOLD_US;
    if (b->prm.retry_us <= 0)
        b->prm.retry_us = MTP_MSGBOX_RETRY_US;
    if (b->prm.pts_limit < 0)
        b->prm.pts_limit = 0;
}

mtp_msgbox_t *mtp_msgbox_new(const mtp_msgbox_params_t *p)
{
    mtp_msgbox_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    params_set(b, p);
    b->diff_at = b->hold_at = MTP_TIME_NEVER;
    return b;
}

void mtp_msgbox_set_params(mtp_msgbox_t *b, const mtp_msgbox_params_t *p)
{
    params_set(b, p);
}

void mtp_msgbox_observe(mtp_msgbox_t *b, mtp_msgbox_observe_fn fn, void *user)
{
    b->observe = fn;
    b->observe_user = user;
}

void mtp_msgbox_set_self(mtp_msgbox_t *b, int64_t user_id)
{
    b->self_id = user_id;
}

static void batch_free(batch_t *q)
{
    if (!q)
        return;
    mtp_arena_free(q->a);
    free(q->v);
    free(q);
}

void mtp_msgbox__pend_clear(mtp_msgbox_t *b)
{
    for (int i = 0; i < b->npend; i++)
        free(b->pend[i].body);
    b->npend = 0;
}

static void queue_clear(mtp_msgbox_t *b)
{
    while (b->qhead) {
        batch_t *q = b->qhead;
        b->qhead = q->next;
        batch_free(q);
    }
    b->qtail = NULL;
    if (b->cur)
        b->cur->pos = b->cur->n;        /* still valid for the caller, nothing more of it */
}

void mtp_msgbox_free(mtp_msgbox_t *b)
{
    if (!b)
        return;
    mtp_msgbox__pend_clear(b);
    queue_clear(b);
    batch_free(b->cur);
    free(b->chans);
    free(b);
}

void mtp_msgbox_reset(mtp_msgbox_t *b)
{
    mtp_msgbox__pend_clear(b);
    queue_clear(b);
    b->nchans = 0;
    b->cdiff_id = 0;
    b->diff_running = false;
    b->slices = b->cslices = 0;
    b->started = b->have_state = b->want_state = false;
    b->pts = b->qts = b->date = b->seq = 0;
    b->diff_at = b->hold_at = MTP_TIME_NEVER;
    b->dirty = true;
}

void mtp_msgbox_start(mtp_msgbox_t *b, mtp_usec_t now)
{
    b->started = true;
    if (!b->diff_running && now < b->diff_at)
        b->diff_at = now;
}

void mtp_msgbox_stop(mtp_msgbox_t *b)
{
    b->started = false;
}

bool mtp_msgbox_diff_running(const mtp_msgbox_t *b)
{
    return b->diff_running;
}

bool mtp_msgbox_dirty(const mtp_msgbox_t *b)
{
    return b->dirty;
}

void mtp_msgbox_clean(mtp_msgbox_t *b)
{
    b->dirty = false;
}

/* ---- delivery queue ---- */

void mtp_msgbox__deliver(out_t *x, const mtp_tl_object_t *o, const mtp_vec_obj_t *users,
                         const mtp_vec_obj_t *chats)
{
    if (!o)
        return;
    if (!x->q && !(x->q = calloc(1, sizeof *x->q)))
        return;                         /* no memory: lost (as a dropped push would be) */
    batch_t *q = x->q;
    if (q->n == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 8;
        item_t *v = realloc(q->v, cap * sizeof *v);
        if (!v)
            return;
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n++] = (item_t){ o, users ? users : &no_vec, chats ? chats : &no_vec };
}

/* The body / answer is done: its updates (if any) join the queue with the arena. */
void mtp_msgbox__out_end(out_t *x)
{
    batch_t *q = x->q;
    if (!q || !q->n) {
        batch_free(q);
        mtp_arena_free(x->a);
        return;
    }
    q->a = x->a;
    if (x->b->qtail)
        x->b->qtail->next = q;
    else
        x->b->qhead = q;
    x->b->qtail = q;
}

bool mtp_msgbox_pop(mtp_msgbox_t *b, mtp_msgbox_update_t *out)
{
    for (;;) {
        batch_t *q = b->cur;
        if (q && q->pos < q->n) {
            const item_t *it = &q->v[q->pos++];
            *out = (mtp_msgbox_update_t){ it->o, it->users, it->chats };
            b->st.delivered++;
            return true;
        }
        batch_free(q);
        b->cur = b->qhead;
        if (!b->cur)
            return false;
        b->qhead = b->cur->next;
        if (!b->qhead)
            b->qtail = NULL;
        b->cur->next = NULL;
    }
}

/* ---- session section ---- */

#define put32 mtp_buf_le32     /* the util layer's little-endian access */
#define get32 mtp_get_le32

/* ---- channel table (sorted by id: binary search) ---- */

/* Track a channel from pts; NULL if the table is full (or no memory). */
static chan_t *chan_add(mtp_msgbox_t *b, int64_t id, int32_t pts)
{
    bool found;
    int i = chan_pos(b, id, &found);
    if (found)
        return &b->chans[i];
    if (b->nchans == MTP_MSGBOX_MAX_CHANNELS)
        return NULL;
    if (b->nchans == b->capchans) {
        int cap = b->capchans ? b->capchans * 2 : 16;
        chan_t *n = realloc(b->chans, (size_t)cap * sizeof *n);
        if (!n)
            return NULL;
        b->chans = n;
        b->capchans = cap;
    }
    memmove(b->chans + i + 1, b->chans + i, (size_t)(b->nchans - i) * sizeof *b->chans);
    b->nchans++;
    b->chans[i] = (chan_t){ id, pts, MTP_TIME_NEVER, MTP_TIME_NEVER };
    return &b->chans[i];
}

void mtp_msgbox__chan_forget(mtp_msgbox_t *b, int64_t id)
{
    bool found;
    int i = chan_pos(b, id, &found);
    if (!found)
        return;
    memmove(b->chans + i, b->chans + i + 1, (size_t)(b->nchans - i - 1) * sizeof *b->chans);
    b->nchans--;
}

int32_t mtp_msgbox_channel_pts(const mtp_msgbox_t *b, int64_t channel_id)
{
    const chan_t *ch = chan_find(b, channel_id);
    return ch ? ch->pts : 0;
}

void mtp_msgbox_serialize(const mtp_msgbox_t *b, mtp_buf_t *out)
{
    for (int i = 0; i < b->nchans; i++) {
        put32(out, (uint32_t)(uint64_t)b->chans[i].id);
        put32(out, (uint32_t)((uint64_t)b->chans[i].id >> 32));
        put32(out, (uint32_t)b->chans[i].pts);
    }
    put32(out, (uint32_t)b->nchans);
    put32(out, b->have_state ? 1u : 0u);
    put32(out, (uint32_t)b->pts);
    put32(out, (uint32_t)b->qts);
    put32(out, (uint32_t)b->date);
    put32(out, (uint32_t)b->seq);
}

size_t mtp_msgbox_section_size(const uint8_t *p, size_t n, uint32_t ver)
{
    if (ver < 3)
        return 0;
    if (ver == 3)
        return n >= MTP_MSGBOX_SECTION ? MTP_MSGBOX_SECTION : (size_t)-1;
    if (n < MTP_MSGBOX_SECTION + 4)
        return (size_t)-1;
    uint32_t cnt = get32(p + n - MTP_MSGBOX_SECTION - 4);
    if (cnt > MTP_MSGBOX_MAX_CHANNELS || (size_t)cnt * 12 > n - MTP_MSGBOX_SECTION - 4)
        return (size_t)-1;
    return MTP_MSGBOX_SECTION + 4 + (size_t)cnt * 12;
}

void mtp_msgbox_parse(mtp_msgbox_t *b, const uint8_t *p, size_t len)
{
    mtp_msgbox_reset(b);
    if (len < MTP_MSGBOX_SECTION)
        return;
    if (len > MTP_MSGBOX_SECTION) {
        size_t cnt = len >= MTP_MSGBOX_SECTION + 4 ? (len - MTP_MSGBOX_SECTION - 4) / 12 : 0;
        for (size_t i = 0; i < cnt; i++) {
            const uint8_t *r = p + 12 * i;
            int64_t id = (int64_t)((uint64_t)get32(r) | (uint64_t)get32(r + 4) << 32);
            if (id > 0)
                chan_add(b, id, (int32_t)get32(r + 8));     /* no memory: untracked */
        }
        p += len - MTP_MSGBOX_SECTION;
    }
    b->have_state = (get32(p) & 1u) != 0;
    b->pts = (int32_t)get32(p + 4);
    b->qts = (int32_t)get32(p + 8);
    b->date = (int32_t)get32(p + 12);
    b->seq = (int32_t)get32(p + 16);
    b->dirty = false;
}

void mtp_msgbox_info(const mtp_msgbox_t *b, mtp_msgbox_info_t *out)
{
    *out = b->st;
    out->started = b->started;
    out->have_state = b->have_state;
    out->pts = b->pts;
    out->qts = b->qts;
    out->date = b->date;
    out->seq = b->seq;
    out->held = (uint64_t)b->npend;
    out->channels = (uint64_t)b->nchans;
}

/* ---- reading updates ---- */

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

bool mtp_msgbox_is_updates(const uint8_t *body, size_t len)
{
    return body && len >= 4 && is_updates_id(get32(body));
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

/* pts and pts_count of o, if it has both. */
static bool get_pts(const mtp_tl_object_t *o, int32_t *pts, int32_t *count)
{
    const mtp_tl_param_t *p = find_int(o, "pts"), *n = find_int(o, "pts_count");
    if (!p || !n || !mtp_tl_field_present(o, p) || !mtp_tl_field_present(o, n))
        return false;
    memcpy(pts, (const uint8_t *)o + p->offset, sizeof *pts);
    memcpy(count, (const uint8_t *)o + n->offset, sizeof *count);
    return true;
}

/* pts and pts_count of an update of the common box: true if it has them. */
static bool update_pts(const mtp_tl_object_t *o, int32_t *pts, int32_t *count)
{
    return o && !is_channel_update(o) && get_pts(o, pts, count);
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
bool mtp_msgbox__chan_update_pts(const mtp_tl_object_t *o, int64_t *chan, int32_t *pts,
                                 int32_t *count)
{
    if (!o || !is_channel_update(o) || !get_pts(o, pts, count))
        return false;
    *chan = update_channel(o);
    return *chan > 0;
}

static bool update_qts(const mtp_tl_object_t *o, int32_t *qts)
{
    const mtp_tl_param_t *p = o ? find_int(o, "qts") : NULL;
    if (!p || !mtp_tl_field_present(o, p))
        return false;
    memcpy(qts, (const uint8_t *)o + p->offset, sizeof *qts);
    return true;
}

/* The pts rule, in 64 bits (no overflow whatever the server sends); a negative count is
 * not a valid update: skipped. */
static int pts_check(int32_t local, int32_t pts, int32_t count)
{
    if (count == 0 && pts == 0)
        return APPLY;
    if (count < 0)
        return SKIP;
    int64_t want = (int64_t)local + count;
    if (want == pts)
        return APPLY;
    return want > pts ? SKIP : GAP;
}

/* updateChannelTooLong of a tracked channel: getChannelDifference at once; true if so. */
bool mtp_msgbox__chan_too_long(mtp_msgbox_t *b, const mtp_tl_object_t *o)
{
    if (!o || o->tl->id != MTP_ID_updateChannelTooLong)
        return false;
    const mtp_updateChannelTooLong_t *t = (const void *)o;
    if (!chan_find(b, t->channel_id))
        return false;       /* never seen: no pts to start from; the application decides */
    chan_want(b, t->channel_id, 0);
    return true;
}

/* A channel update against its box: APPLY (the pts moves; a channel seen for the first
 * time is tracked from here), SKIP, or GAP (b->gap_chan set). */
int mtp_msgbox__chan_apply(mtp_msgbox_t *b, int64_t id, int32_t pts, int32_t cnt)
{
    chan_t *ch = chan_find(b, id);
    if (!ch) {
        if (chan_add(b, id, pts)) {
            b->st.channels_seen++;
            touch(b);
        }
        return APPLY;
    }
    int r = pts_check(ch->pts, pts, cnt);
    if (r == APPLY && (pts || cnt)) {
        ch->pts = pts;
        touch(b);
    } else if (r == GAP) {
        b->gap_chan = id;
    }
    return r;
}

/* The dry run of a container: channel boxes as they would be after its earlier updates. */
typedef struct simc {
    int64_t id;
    int32_t pts;
    bool known;
} simc_t;

static int chan_sim(mtp_msgbox_t *b, simc_t *sim, uint32_t *nsim, int64_t id, int32_t pts,
                    int32_t cnt)
{
    simc_t *x = NULL;
    for (uint32_t i = 0; i < *nsim && !x; i++)
        if (sim[i].id == id)
            x = &sim[i];
    if (!x) {
        const chan_t *ch = chan_find(b, id);
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
        b->gap_chan = id;
    return r;
}

/* ---- one body ---- */

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
static mtp_tl_object_t *short_to_new(const mtp_msgbox_t *b, mtp_arena_t *a,
                                     const mtp_tl_object_t *o)
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
        from->user_id = s->out ? b->self_id : s->user_id;
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

static void set_date(mtp_msgbox_t *b, int32_t date)
{
    if (date > b->date)
        b->date = date;
}

/* updateShortMessage, updateShortChatMessage, updateShortSentMessage. */
static int proc_short(mtp_msgbox_t *b, out_t *x, const mtp_tl_object_t *o)
{
    int32_t pts, cnt, date;
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
    int rc = pts_check(b->pts, pts, cnt);
    if (rc != APPLY)
        return rc;
    if (pts || cnt)
        b->pts = pts;
    set_date(b, date);
    touch(b);
    const mtp_tl_object_t *d = o->tl->id == MTP_ID_updateShortSentMessage
                                   ? o : short_to_new(b, x->a, o);
    mtp_msgbox__deliver(x, d, NULL, NULL);
    return APPLY;
}

static void take_qts(mtp_msgbox_t *b, const mtp_tl_object_t *o)
{
    int32_t q;
    if (update_qts(o, &q) && q > b->qts)
        b->qts = q;
}

/* updateShort{update, date}. */
static int proc_update_short(mtp_msgbox_t *b, out_t *x, const mtp_tl_object_t *o)
{
    const mtp_updateShort_t *s = (const void *)o;
    int32_t pts, cnt;
    int64_t cid;
    if (update_pts(s->update, &pts, &cnt)) {
        int rc = pts_check(b->pts, pts, cnt);
        if (rc != APPLY)
            return rc;
        if (pts || cnt)
            b->pts = pts;
    } else if (mtp_msgbox__chan_update_pts(s->update, &cid, &pts, &cnt)) {
        int rc = mtp_msgbox__chan_apply(b, cid, pts, cnt);
        if (rc != APPLY)
            return rc;
    } else if (mtp_msgbox__chan_too_long(b, s->update)) {
        return APPLY;
    }
    take_qts(b, s->update);
    set_date(b, s->date);
    touch(b);
    mtp_msgbox__deliver(x, s->update, NULL, NULL);
    return APPLY;
}

/* The dry run of a container's updates: GAP if any of them (common box or a channel's)
 * opens one, so the whole container is held and nothing of it delivered twice. */
static int dry_run(mtp_msgbox_t *b, mtp_arena_t *a, const mtp_vec_obj_t *ups)
{
    int32_t tmp = b->pts, pts, cnt;
    int64_t cid;
    simc_t *sim = ups->n ? mtp_arena_alloc(a, ups->n * sizeof *sim) : NULL;
    uint32_t nsim = 0;
    if (ups->n && !sim)
        return GAP;                     /* no memory: held, tried again later */
    for (uint32_t i = 0; i < ups->n; i++)
        if (update_pts(ups->v[i], &pts, &cnt)) {
            int r = pts_check(tmp, pts, cnt);
            if (r == GAP) {
                b->gap_chan = 0;
                return GAP;
            }
            if (r == APPLY && (pts || cnt))
                tmp = pts;
        } else if (mtp_msgbox__chan_update_pts(ups->v[i], &cid, &pts, &cnt) &&
                   chan_sim(b, sim, &nsim, cid, pts, cnt) == GAP) {
            return GAP;
        }
    return APPLY;
}

/* updates / updatesCombined. */
static int proc_container(mtp_msgbox_t *b, out_t *x, const mtp_tl_object_t *o)
{
    const mtp_vec_obj_t *ups, *users, *chats;
    int32_t seq, seq_start, date, pts, cnt;
    if (o->tl->id == MTP_ID_updates) {
        const mtp_updates_t *c = (const void *)o;
        ups = &c->updates, users = &c->users, chats = &c->chats;
        seq = seq_start = c->seq, date = c->date;
    } else {
        const mtp_updatesCombined_t *c = (const void *)o;
        ups = &c->updates, users = &c->users, chats = &c->chats;
        seq = c->seq, seq_start = c->seq_start, date = c->date;
    }
    if (seq_start && b->seq) {
        int64_t next = (int64_t)b->seq + 1;
        if (next > seq_start)
            return SKIP;
        if (next < seq_start)
            return GAP;
    }
    if (dry_run(b, x->a, ups) == GAP)
        return GAP;
    bool any = false;
    int64_t cid;
    for (uint32_t i = 0; i < ups->n; i++) {
        const mtp_tl_object_t *u = ups->v[i];
        if (!u)
            continue;
        if (update_pts(u, &pts, &cnt)) {
            if (pts_check(b->pts, pts, cnt) == SKIP) {
                b->st.duplicates++;
                continue;
            }
            if (pts || cnt)
                b->pts = pts;
        } else if (mtp_msgbox__chan_update_pts(u, &cid, &pts, &cnt)) {
            if (mtp_msgbox__chan_apply(b, cid, pts, cnt) == SKIP) {
                b->st.duplicates++;
                continue;
            }
        } else if (mtp_msgbox__chan_too_long(b, u)) {
            any = true;
            continue;
        }
        take_qts(b, u);
        any = true;
        mtp_msgbox__deliver(x, u, users, chats);
    }
    if (seq)
        b->seq = seq;
    set_date(b, date);
    touch(b);
    return any || !ups->n ? APPLY : SKIP;
}

/* One body: APPLY (delivered), SKIP (nothing new) or GAP (not applied; caller holds it). */
static int process(mtp_msgbox_t *b, const uint8_t *body, size_t len)
{
    out_t x = { b, mtp_arena_new(0), NULL };
    mtp_tl_object_t *o = NULL;
    b->gap_chan = 0;
    if (!x.a)
        return GAP;
    if (mtp_tl_decode(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), body, len, x.a, &o) || !o ||
        !is_updates_id(o->tl->id)) {
        mtp_arena_free(x.a);
        return SKIP;
    }
    if (b->observe)
        b->observe(b->observe_user, o);
    int rc = SKIP;
    switch (o->tl->id) {
    case MTP_ID_updatesTooLong:
        want_diff(b, 0);
        break;
    case MTP_ID_updateShortMessage:
    case MTP_ID_updateShortChatMessage:
    case MTP_ID_updateShortSentMessage:
        rc = proc_short(b, &x, o);
        break;
    case MTP_ID_updateShort:
        rc = proc_update_short(b, &x, o);
        break;
    default:
        rc = proc_container(b, &x, o);
        break;
    }
    if (rc == SKIP && o->tl->id != MTP_ID_updatesTooLong && o->tl->id != MTP_ID_updates &&
        o->tl->id != MTP_ID_updatesCombined)
        b->st.duplicates++;
    mtp_msgbox__out_end(&x);
    return rc;
}

/* ---- holding and replaying ---- */

/* Keep a body for later. chan: its gap is in that channel's box (getChannelDifference
 * after hold_us), 0: in the common one (getDifference). */
static void hold(mtp_msgbox_t *b, const uint8_t *body, size_t len, mtp_usec_t now, int64_t chan)
{
    if (b->npend == MTP_MSGBOX_MAX_PENDING) {   /* full: the oldest goes; getDifference */
        free(b->pend[0].body);
        memmove(b->pend, b->pend + 1, (size_t)(b->npend - 1) * sizeof b->pend[0]);
        b->npend--;
        want_diff(b, now);
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        want_diff(b, now);
        return;
    }
    memcpy(copy, body, len);
    b->pend[b->npend++] = (pend_t){ copy, len, 0, chan };
    b->st.held_total++;
    chan_t *ch = chan ? chan_find(b, chan) : NULL;
    mtp_usec_t *at = ch ? &ch->hold_at : &b->hold_at;
    mtp_usec_t t = later(now, b->prm.hold_us);
    if (t < *at)
        *at = t;
}

/* Drop what survived a second full difference of box `chan` (the server does not have
 * what is missing), else count the round. */
static void pend_round(mtp_msgbox_t *b, int64_t chan)
{
    int w = 0;
    for (int i = 0; i < b->npend; i++) {
        if (b->pend[i].chan == chan && ++b->pend[i].rounds >= 2)
            free(b->pend[i].body);
        else
            b->pend[w++] = b->pend[i];
    }
    b->npend = w;
}

/* A gap still open keeps its deadline (or gets one); a closed gap needs no difference. */
static void hold_deadlines(mtp_msgbox_t *b, mtp_usec_t now)
{
    mtp_usec_t at = later(now, b->prm.hold_us);
    bool common = false;
    for (int k = 0; k < b->nchans; k++) {
        chan_t *ch = &b->chans[k];
        if (ch->hold_at == MTP_TIME_NEVER)
            continue;
        bool held = false;
        for (int i = 0; i < b->npend && !held; i++)
            held = b->pend[i].chan == ch->id;
        if (!held)
            ch->hold_at = MTP_TIME_NEVER;
    }
    for (int i = 0; i < b->npend; i++) {
        chan_t *ch = b->pend[i].chan ? chan_find(b, b->pend[i].chan) : NULL;
        if (ch && at < ch->hold_at)
            ch->hold_at = at;
        common |= !ch;
    }
    if (!common)
        b->hold_at = MTP_TIME_NEVER;
    else if (at < b->hold_at)
        b->hold_at = at;
}

/* Try the held bodies again (after the state moved), in order, until nothing moves.
 * final: a difference of box `chan` (0: the common one) just ended. Not while a difference
 * runs (its end replays). */
void mtp_msgbox__replay(mtp_msgbox_t *b, mtp_usec_t now, bool final, int64_t chan)
{
    if (b->diff_running || b->cdiff_id)
        return;
    for (int pass = 0; pass <= MTP_MSGBOX_MAX_PENDING && b->npend; pass++) {
        int n = b->npend, w = 0;
        bool progress = false;
        for (int i = 0; i < n; i++) {
            pend_t p = b->pend[i];
            int r = process(b, p.body, p.len);
            if (r == GAP) {
                p.chan = b->gap_chan;
                b->pend[w++] = p;
            } else {
                free(p.body);
                progress |= r == APPLY;
            }
        }
        b->npend = w;
        if (!progress)
            break;
    }
    if (final)
        pend_round(b, chan);
    hold_deadlines(b, now);
}

int mtp_msgbox_push(mtp_msgbox_t *b, mtp_usec_t now, const uint8_t *body, size_t len)
{
    if (!b->started || !b->have_state || !mtp_msgbox_is_updates(body, len))
        return MTP_MSGBOX_IGNORED;
    if (b->diff_running || b->cdiff_id) {
        hold(b, body, len, now, 0);     /* replayed (or skipped as duplicates) afterwards */
        return MTP_MSGBOX_HELD;
    }
    int r = process(b, body, len);
    if (r == GAP) {
        b->st.gaps++;
        hold(b, body, len, now, b->gap_chan);
        return MTP_MSGBOX_HELD;
    }
    if (b->npend)
        mtp_msgbox__replay(b, now, false, 0);
    return r == APPLY ? MTP_MSGBOX_APPLIED : MTP_MSGBOX_SKIPPED;
}

void mtp_msgbox_lost(mtp_msgbox_t *b, mtp_usec_t now)
{
    if (b->started && b->have_state)
        want_diff(b, now);
}

