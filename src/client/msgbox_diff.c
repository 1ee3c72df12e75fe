/*
 * libmtproto client — the updates message box (see msgbox.h): the requests it asks for
 * (getState, getDifference, getChannelDifference), their answers and their failures.
 */
#include "msgbox_int.h"

#include <mtproto/tl_schema.h>

#include <stdlib.h>
#include <string.h>

/* ---- requests ---- */

static uint32_t token(mtp_msgbox_t *b)
{
    if (++b->tokens == 0)
        b->tokens = 1;
    return b->tokens;
}

/* The earliest channel due at now (NULL: none). */
static chan_t *chan_due(const mtp_msgbox_t *b, mtp_usec_t now)
{
    chan_t *due = NULL;
    mtp_usec_t due_at = MTP_TIME_NEVER;
    for (int i = 0; i < b->nchans; i++) {
        chan_t *ch = &b->chans[i];
        mtp_usec_t at = ch->diff_at < ch->hold_at ? ch->diff_at : ch->hold_at;
        if (at <= now && (!due || at < due_at))
            due = ch, due_at = at;
    }
    return due;
}

bool mtp_msgbox_next_request(mtp_msgbox_t *b, mtp_usec_t now, mtp_msgbox_req_t *req)
{
    if (!b->started)
        return false;
    if (!b->diff_running && (now >= b->diff_at || now >= b->hold_at)) {
        b->diff_at = b->hold_at = MTP_TIME_NEVER;
        b->diff_running = true;
        b->diff_token = token(b);
        *req = (mtp_msgbox_req_t){ .token = b->diff_token };
        if (!b->have_state || b->want_state) {
            req->kind = b->diff_kind = MTP_MSGBOX_REQ_STATE;
        } else {
            req->kind = b->diff_kind = MTP_MSGBOX_REQ_DIFF;
            req->pts = b->pts;
            req->date = b->date;
            req->qts = b->qts;
            req->limit = b->prm.pts_limit;
            b->st.differences++;
        }
        return true;
    }
    chan_t *ch = b->have_state && !b->cdiff_id ? chan_due(b, now) : NULL;
    if (!ch)
        return false;
    ch->diff_at = ch->hold_at = MTP_TIME_NEVER;
    b->cdiff_id = ch->id;
    b->cdiff_token = token(b);
    *req = (mtp_msgbox_req_t){ .kind = MTP_MSGBOX_REQ_CHANNEL, .token = b->cdiff_token,
                               .pts = ch->pts, .channel = ch->id,
                               .limit = b->prm.pts_limit > 0 ? b->prm.pts_limit
                                                             : MTP_MSGBOX_CHAN_LIMIT };
    b->st.channel_differences++;
    return true;
}

mtp_usec_t mtp_msgbox_deadline(const mtp_msgbox_t *b)
{
    mtp_usec_t t = MTP_TIME_NEVER;
    if (!b->started)
        return t;
    if (!b->diff_running)
        t = b->diff_at < b->hold_at ? b->diff_at : b->hold_at;
    if (b->have_state && !b->cdiff_id)
        for (int i = 0; i < b->nchans; i++) {
            if (b->chans[i].diff_at < t)
                t = b->chans[i].diff_at;
            if (b->chans[i].hold_at < t)
                t = b->chans[i].hold_at;
        }
    return t;
}

bool mtp_msgbox_idle(const mtp_msgbox_t *b)
{
    bool queued = b->qhead || (b->cur && b->cur->pos < b->cur->n);
    return !b->npend && !b->diff_running && !b->cdiff_id && !queued &&
           mtp_msgbox_deadline(b) == MTP_TIME_NEVER;
}

static bool is_common(const mtp_msgbox_t *b, uint32_t token)
{
    return b->diff_running && token && token == b->diff_token;
}

static bool is_channel(const mtp_msgbox_t *b, uint32_t token)
{
    return b->cdiff_id && token && token == b->cdiff_token;
}

/* A channel's box cannot be followed (no access hash, or the server refuses): track it
 * anew from its next update; what is held for it is tried again. */
static void chan_drop(mtp_msgbox_t *b, mtp_usec_t now, int64_t id)
{
    mtp_msgbox__chan_forget(b, id);
    for (int i = 0; i < b->npend; i++)
        if (b->pend[i].chan == id)
            b->pend[i].chan = 0;
    touch(b);
    mtp_msgbox__replay(b, now, false, 0);
}

void mtp_msgbox_failed(mtp_msgbox_t *b, mtp_usec_t now, uint32_t token, int how)
{
    mtp_usec_t retry = later(now, b->prm.retry_us);
    if (is_common(b, token)) {
        b->diff_running = false;
        b->slices = 0;
        if (how == MTP_MSGBOX_FAIL_REJECTED && b->diff_kind == MTP_MSGBOX_REQ_DIFF) {
            b->want_state = true;       /* our pts is not the server's: start over */
            want_diff(b, now);
        } else if (how != MTP_MSGBOX_FAIL_CLOSED) {
            want_diff(b, retry);
        }
        return;
    }
    if (!is_channel(b, token))
        return;
    int64_t id = b->cdiff_id;
    b->cdiff_id = 0;
    b->cslices = 0;
    if (how == MTP_MSGBOX_FAIL_NOT_SENT || how == MTP_MSGBOX_FAIL_UNAVAILABLE)
        b->st.channel_differences--;    /* counted: the calls made */
    if (how == MTP_MSGBOX_FAIL_REJECTED || how == MTP_MSGBOX_FAIL_UNAVAILABLE) {
        chan_drop(b, now, id);          /* CHANNEL_PRIVATE, no access hash, ... */
    } else if (how != MTP_MSGBOX_FAIL_CLOSED) {
        mtp_msgbox__replay(b, now, false, 0);       /* what was held meanwhile for other boxes */
        chan_t *ch = chan_find(b, id);
        if (ch) {
            ch->hold_at = MTP_TIME_NEVER;   /* its gap is asked for again at the retry */
            chan_want(b, id, retry);
        }
    }
}

/* ---- answers ---- */

static void set_state(mtp_msgbox_t *b, const mtp_tl_object_t *s)
{
    if (!s || s->tl->id != MTP_ID_updates_state)
        return;
    const mtp_updates_state_t *st = (const void *)s;
    b->pts = st->pts;
    b->qts = st->qts;
    b->date = st->date;
    b->seq = st->seq;
    b->have_state = true;
    b->want_state = false;
    touch(b);
}

static void deliver_diff(mtp_msgbox_t *b, out_t *x, const mtp_vec_obj_t *msgs,
                         const mtp_vec_obj_t *others, const mtp_vec_obj_t *users,
                         const mtp_vec_obj_t *chats)
{
    for (uint32_t i = 0; i < msgs->n; i++) {
        mtp_updateNewMessage_t *nm = msgs->v[i] ? MTP_NEW(x->a, updateNewMessage) : NULL;
        if (!nm)
            continue;
        nm->message = msgs->v[i];
        mtp_msgbox__deliver(x, &nm->_, users, chats);
    }
    for (uint32_t i = 0; i < others->n; i++) {
        const mtp_tl_object_t *u = others->v[i];
        int64_t cid;
        int32_t pts, cnt;
        if (!u || mtp_msgbox__chan_too_long(b, u))
            continue;
        if (mtp_msgbox__chan_update_pts(u, &cid, &pts, &cnt)) {
            int r = mtp_msgbox__chan_apply(b, cid, pts, cnt);
            if (r == GAP)
                chan_want(b, cid, 0);   /* getChannelDifference brings it */
            if (r != APPLY)
                continue;
        }
        mtp_msgbox__deliver(x, u, users, chats);
    }
}

/* The state as a comparable tuple: did a slice move it? */
static bool state_moved(const mtp_msgbox_t *b, int32_t pts, int32_t qts, int32_t date,
                        int32_t seq)
{
    return b->pts != pts || b->qts != qts || b->date != date || b->seq != seq;
}

/* The answer to getState / getDifference; true: carry on (another round). */
static bool diff_answer(mtp_msgbox_t *b, out_t *x, const mtp_tl_object_t *o)
{
    int32_t pts = b->pts, qts = b->qts, date = b->date, seq = b->seq;
    switch (o->tl->id) {
    case MTP_ID_updates_state:
        set_state(b, o);
        return false;
    case MTP_ID_updates_differenceEmpty: {
        const mtp_updates_differenceEmpty_t *d = (const void *)o;
        b->date = d->date;
        b->seq = d->seq;
        touch(b);
        return false;
    }
    case MTP_ID_updates_difference: {
        const mtp_updates_difference_t *d = (const void *)o;
        deliver_diff(b, x, &d->new_messages, &d->other_updates, &d->users, &d->chats);
        set_state(b, d->state);
        return false;
    }
    case MTP_ID_updates_differenceSlice: {
        const mtp_updates_differenceSlice_t *d = (const void *)o;
        deliver_diff(b, x, &d->new_messages, &d->other_updates, &d->users, &d->chats);
        set_state(b, d->intermediate_state);
        /* a slice that does not move the state would be asked for again and again */
        return ++b->slices < MTP_MSGBOX_MAX_SLICES && state_moved(b, pts, qts, date, seq);
    }
    case MTP_ID_updates_differenceTooLong: {
        const mtp_updates_differenceTooLong_t *d = (const void *)o;
        b->pts = d->pts;
        touch(b);
        mtp_msgbox__pend_clear(b);
        b->hold_at = MTP_TIME_NEVER;
        /* tell the application: what lies before this pts must be fetched anew */
        mtp_updatesTooLong_t *t = MTP_NEW(x->a, updatesTooLong);
        if (t)
            mtp_msgbox__deliver(x, &t->_, NULL, NULL);
        /* carry on from the new pts: what came after it, and the date/seq/qts of now */
        return ++b->slices < MTP_MSGBOX_MAX_SLICES;
    }
    default:
        return false;
    }
}

static void diff_result(mtp_msgbox_t *b, mtp_usec_t now, out_t *x, const mtp_tl_object_t *o)
{
    bool again = diff_answer(b, x, o);
    mtp_msgbox__out_end(x);             /* its updates go before what the replay releases */
    b->diff_running = false;
    if (again) {
        want_diff(b, now);              /* the next round: asked for at once */
        return;
    }
    b->slices = 0;
    if (b->diff_at <= now)              /* updatesTooLong / a lost connection meanwhile */
        return;
    mtp_msgbox__replay(b, now, true, 0);
}

/* The answer to getChannelDifference of channel id: its pts (-1: none) and whether to carry
 * on (final=false). */
static int32_t cdiff_answer(out_t *x, const mtp_tl_object_t *o, int64_t id, bool *again)
{
    int32_t pts = -1;
    *again = false;
    switch (o->tl->id) {
    case MTP_ID_updates_channelDifferenceEmpty: {
        const mtp_updates_channelDifferenceEmpty_t *d = (const void *)o;
        pts = d->pts;
        *again = !d->final;
        break;
    }
    case MTP_ID_updates_channelDifference: {
        const mtp_updates_channelDifference_t *d = (const void *)o;
        for (uint32_t i = 0; i < d->new_messages.n; i++) {
            mtp_updateNewChannelMessage_t *nm =
                d->new_messages.v[i] ? MTP_NEW(x->a, updateNewChannelMessage) : NULL;
            if (!nm)
                continue;
            nm->message = d->new_messages.v[i];
            mtp_msgbox__deliver(x, &nm->_, &d->users, &d->chats);
        }
        for (uint32_t i = 0; i < d->other_updates.n; i++)
            mtp_msgbox__deliver(x, d->other_updates.v[i], &d->users, &d->chats);
        pts = d->pts;
        *again = !d->final;
        break;
    }
    case MTP_ID_updates_channelDifferenceTooLong: {
        const mtp_updates_channelDifferenceTooLong_t *d = (const void *)o;
        const mtp_dialog_t *dl = d->dialog && d->dialog->tl->id == MTP_ID_dialog
                                     ? (const void *)d->dialog : NULL;
        if (dl && dl->has_pts)
            pts = dl->pts;
        /* tell the application: what lies before this pts must be fetched anew */
        mtp_updateChannelTooLong_t *t = MTP_NEW(x->a, updateChannelTooLong);
        if (t) {
            t->channel_id = id;
            t->has_pts = pts >= 0;
            t->pts = pts >= 0 ? pts : 0;
            mtp_msgbox__deliver(x, &t->_, &d->users, &d->chats);
        }
        *again = !d->final;
        break;
    }
    default:
        break;
    }
    return pts;
}

static void cdiff_result(mtp_msgbox_t *b, mtp_usec_t now, out_t *x, const mtp_tl_object_t *o,
                         int64_t id)
{
    bool again;
    int32_t pts = cdiff_answer(x, o, id, &again);
    bool brought = x->q != NULL;
    mtp_msgbox__out_end(x);             /* its updates go before what the replay releases */
    chan_t *ch = chan_find(b, id);
    bool moved = false;
    if (ch && pts >= 0) {
        moved = ch->pts != pts;
        ch->pts = pts;
        touch(b);
    }
    b->cdiff_id = 0;
    /* final=false: another round, while the pts moves (or the answer brought something) */
    if (ch && again && ++b->cslices < MTP_MSGBOX_MAX_SLICES && (moved || brought)) {
        chan_want(b, id, now);
        return;
    }
    b->cslices = 0;
    mtp_msgbox__replay(b, now, true, id);
}

int mtp_msgbox_result(mtp_msgbox_t *b, mtp_usec_t now, uint32_t token, const uint8_t *res,
                      size_t len)
{
    bool common = is_common(b, token), channel = !common && is_channel(b, token);
    int64_t id = channel ? b->cdiff_id : 0;
    if (!common && !channel)
        return 1;                       /* reset or forgotten meanwhile */
    if (channel && !chan_find(b, id)) {
        b->cdiff_id = 0;
        b->cslices = 0;
        return 1;
    }
    out_t x = { b, mtp_arena_new(0), NULL };
    mtp_tl_object_t *o = NULL;
    if (!x.a || !res || mtp_tl_decode(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), res, len, x.a, &o) ||
        !o) {
        mtp_arena_free(x.a);
        mtp_msgbox_failed(b, now, token, MTP_MSGBOX_FAIL_RETRY);
        return MTP_EPROTO;
    }
    if (b->observe)
        b->observe(b->observe_user, o);
    if (common)
        diff_result(b, now, &x, o);
    else
        cdiff_result(b, now, &x, o, id);
    return 0;
}
