/*
 * The updates message box (src/client/msgbox.h) on its own, with a fake clock: no server,
 * no sockets, no sleeping. Bodies and answers are encoded TL built here; the box is driven
 * through push / next_request / result / failed / pop and checked through its info,
 * deadline and what it releases.
 *
 * In-order apply and the short forms, duplicates, a gap held then filled by a later push,
 * a gap that times out into getDifference (bodies arriving meanwhile held and replayed in
 * order after the difference's own updates), differenceSlice chains (with pts_limit),
 * differenceTooLong, differenceEmpty, getState, a rejected getDifference falling back to
 * getState, retries (transient, not sent, undecodable), closing, stale answers, a retry
 * surviving a gap that opens and closes; seq of updates / updatesCombined; qts;
 * updatesTooLong and lost pushes; channels (tracking, gaps, getChannelDifference,
 * final=false chains, updateChannelTooLong, channelDifferenceTooLong, rejected or
 * unavailable channels, retries); dry runs of containers; what a bad server can send
 * (pts going backwards, huge or negative pts_count, INT32 limits, garbage); the pending
 * and channel limits; the session section; reset and delivery from inside delivery.
 */
#include "client/msgbox.h"
#include "testutil.h"

#include <mtproto/tl_schema.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELF 42LL           /* the logged-in user */
#define PEER 77LL           /* who writes to us */
#define CHAN 500LL
#define SEC MTP_USEC_PER_SEC
#define HOLD MTP_MSGBOX_HOLD_US
#define RETRY MTP_MSGBOX_RETRY_US

/* ---- building bodies and answers ---- */

static mtp_arena_t *A;      /* scratch, emptied by enc() */

static void enc(mtp_buf_t *b, const void *obj)
{
    mtp_buf_init(b);
    if (mtp_tl_encode(obj, b))
        tap_bail("encode %s", ((const mtp_tl_object_t *)obj)->tl->name);
    mtp_arena_free(A);
    A = mtp_arena_new(0);
}

static mtp_vec_obj_t vec_of(mtp_tl_object_t **v, int n)
{
    mtp_tl_object_t **p = mtp_arena_alloc(A, (size_t)(n ? n : 1) * sizeof *p);
    memcpy(p, v, (size_t)n * sizeof *p);
    return (mtp_vec_obj_t){ (uint32_t)n, p };
}

static mtp_vec_obj_t vec(int n, ...)
{
    mtp_tl_object_t *v[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        v[i] = va_arg(ap, mtp_tl_object_t *);
    va_end(ap);
    return vec_of(v, n);
}

/* a copy of s in the scratch arena */
static mtp_bytes_t str(const char *s)
{
    size_t n = strlen(s);
    uint8_t *p = mtp_arena_alloc(A, n ? n : 1);
    memcpy(p, s, n);
    return (mtp_bytes_t){ p, n };
}

/* message{id, peer (user or channel), text} */
static mtp_tl_object_t *msg(int64_t chan, const char *text)
{
    static int32_t id = 1;
    mtp_message_t *m = MTP_NEW(A, message);
    if (chan) {
        mtp_peerChannel_t *p = MTP_NEW(A, peerChannel);
        p->channel_id = chan;
        m->peer_id = &p->_;
    } else {
        mtp_peerUser_t *p = MTP_NEW(A, peerUser);
        p->user_id = PEER;
        m->peer_id = &p->_;
    }
    m->id = id++;
    m->date = 1700000000;
    m->message = str(text);
    return &m->_;
}

/* updateNewMessage / updateNewChannelMessage with pts */
static mtp_tl_object_t *u_new(int64_t chan, int32_t pts, int32_t count, const char *text)
{
    if (chan) {
        mtp_updateNewChannelMessage_t *u = MTP_NEW(A, updateNewChannelMessage);
        u->message = msg(chan, text);
        u->pts = pts;
        u->pts_count = count;
        return &u->_;
    }
    mtp_updateNewMessage_t *u = MTP_NEW(A, updateNewMessage);
    u->message = msg(0, text);
    u->pts = pts;
    u->pts_count = count;
    return &u->_;
}

static mtp_tl_object_t *u_status(int64_t uid)
{
    mtp_updateUserStatus_t *st = MTP_NEW(A, updateUserStatus);
    mtp_userStatusOnline_t *on = MTP_NEW(A, userStatusOnline);
    on->expires = 1700000300;
    st->user_id = uid;
    st->status = &on->_;
    return &st->_;
}

/* updateShortMessage (from PEER, or ours when out) */
static void b_short(mtp_buf_t *b, int32_t pts, int32_t count, const char *text, bool out)
{
    mtp_updateShortMessage_t *u = MTP_NEW(A, updateShortMessage);
    u->out = out;
    u->id = 1000 + (int32_t)((uint32_t)pts % 100000u);
    u->user_id = PEER;
    u->message = str(text);
    u->pts = pts;
    u->pts_count = count;
    u->date = 1700000000;
    enc(b, u);
}

static void b_sent(mtp_buf_t *b, int32_t pts, int32_t count)
{
    mtp_updateShortSentMessage_t *u = MTP_NEW(A, updateShortSentMessage);
    u->out = true;
    u->id = 5000 + (int32_t)((uint32_t)pts % 100000u);
    u->pts = pts;
    u->pts_count = count;
    u->date = 1700000001;
    enc(b, u);
}

/* updates{ups} with seq */
static void b_updates(mtp_buf_t *b, int32_t seq, mtp_vec_obj_t ups)
{
    mtp_updates_t *u = MTP_NEW(A, updates);
    u->updates = ups;
    u->date = 1700000000;
    u->seq = seq;
    enc(b, u);
}

static void b_combined(mtp_buf_t *b, int32_t seq_start, int32_t seq, mtp_vec_obj_t ups)
{
    mtp_updatesCombined_t *u = MTP_NEW(A, updatesCombined);
    u->updates = ups;
    u->date = 1700000000;
    u->seq_start = seq_start;
    u->seq = seq;
    enc(b, u);
}

/* updateShort{update} */
static void b_ushort(mtp_buf_t *b, mtp_tl_object_t *up)
{
    mtp_updateShort_t *u = MTP_NEW(A, updateShort);
    u->update = up;
    u->date = 1700000002;
    enc(b, u);
}

static mtp_tl_object_t *u_chan_too_long(int64_t chan)
{
    mtp_updateChannelTooLong_t *t = MTP_NEW(A, updateChannelTooLong);
    t->channel_id = chan;
    return &t->_;
}

static mtp_tl_object_t *u_qts(int32_t qts)
{
    mtp_updateBotStopped_t *u = MTP_NEW(A, updateBotStopped);
    u->user_id = PEER;
    u->date = 1700000000;
    u->qts = qts;
    return &u->_;
}

static void b_too_long(mtp_buf_t *b)
{
    enc(b, MTP_NEW(A, updatesTooLong));
}

static mtp_tl_object_t *state(int32_t pts, int32_t qts, int32_t date, int32_t seq)
{
    mtp_updates_state_t *s = MTP_NEW(A, updates_state);
    s->pts = pts, s->qts = qts, s->date = date, s->seq = seq;
    return &s->_;
}

static void r_state(mtp_buf_t *b, int32_t pts, int32_t qts, int32_t date, int32_t seq)
{
    enc(b, state(pts, qts, date, seq));
}

/* updates.difference (slice: differenceSlice) with the texts as new messages */
static void r_diff(mtp_buf_t *b, bool slice, mtp_vec_obj_t msgs, mtp_vec_obj_t others,
                   int32_t pts, int32_t qts, int32_t seq)
{
    if (slice) {
        mtp_updates_differenceSlice_t *d = MTP_NEW(A, updates_differenceSlice);
        d->new_messages = msgs;
        d->other_updates = others;
        d->intermediate_state = state(pts, qts, 1700000100, seq);
        enc(b, d);
    } else {
        mtp_updates_difference_t *d = MTP_NEW(A, updates_difference);
        d->new_messages = msgs;
        d->other_updates = others;
        d->state = state(pts, qts, 1700000100, seq);
        enc(b, d);
    }
}

static void r_cdiff(mtp_buf_t *b, bool final, int32_t pts, mtp_vec_obj_t msgs)
{
    if (!msgs.n) {
        mtp_updates_channelDifferenceEmpty_t *d = MTP_NEW(A, updates_channelDifferenceEmpty);
        d->final = final;
        d->pts = pts;
        enc(b, d);
        return;
    }
    mtp_updates_channelDifference_t *d = MTP_NEW(A, updates_channelDifference);
    d->final = final;
    d->pts = pts;
    d->new_messages = msgs;
    enc(b, d);
}

static void r_cdiff_too_long(mtp_buf_t *b, int64_t chan, int32_t pts)
{
    mtp_updates_channelDifferenceTooLong_t *d = MTP_NEW(A, updates_channelDifferenceTooLong);
    mtp_dialog_t *dl = MTP_NEW(A, dialog);
    mtp_peerChannel_t *p = MTP_NEW(A, peerChannel);
    p->channel_id = chan;
    dl->peer = &p->_;
    dl->notify_settings = (mtp_tl_object_t *)MTP_NEW(A, peerNotifySettings);
    dl->has_pts = true;
    dl->pts = pts;
    d->final = true;
    d->dialog = &dl->_;
    enc(b, d);
}

/* ---- driving the box ---- */

typedef struct rec {
    int n;
    uint32_t id[64];
    char text[64][16];
    int64_t from[64];
} rec_t;

/* Pop everything into r (appended); returns how many. */
static int drain(mtp_msgbox_t *b, rec_t *r)
{
    mtp_msgbox_update_t x;
    int k = 0;
    while (mtp_msgbox_pop(b, &x)) {
        k++;
        if (r->n >= 64 || !x.update || !x.users || !x.chats)
            continue;
        int i = r->n++;
        r->id[i] = x.update->tl->id;
        r->text[i][0] = 0;
        r->from[i] = 0;
        const mtp_tl_object_t *m = NULL;
        if (x.update->tl->id == MTP_ID_updateNewMessage)
            m = ((const mtp_updateNewMessage_t *)x.update)->message;
        else if (x.update->tl->id == MTP_ID_updateNewChannelMessage)
            m = ((const mtp_updateNewChannelMessage_t *)x.update)->message;
        else if (x.update->tl->id == MTP_ID_updateUserStatus)
            r->from[i] = ((const mtp_updateUserStatus_t *)x.update)->user_id;
        if (m && m->tl->id == MTP_ID_message) {
            const mtp_message_t *mm = (const void *)m;
            size_t n = mm->message.len < 15 ? mm->message.len : 15;
            memcpy(r->text[i], mm->message.ptr, n);
            r->text[i][n] = 0;
            if (mm->from_id && mm->from_id->tl->id == MTP_ID_peerUser)
                r->from[i] = ((const mtp_peerUser_t *)mm->from_id)->user_id;
        }
    }
    return k;
}

/* r holds exactly these texts, in order (from index 0) */
static bool texts(const rec_t *r, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    bool ok = r->n == n;
    for (int i = 0; i < n; i++) {
        const char *t = va_arg(ap, const char *);
        if (ok && strcmp(r->text[i], t))
            ok = false;
    }
    va_end(ap);
    if (!ok) {
        tap_diag("got %d:", r->n);
        for (int i = 0; i < r->n; i++)
            tap_diag("  %08x '%s'", r->id[i], r->text[i]);
    }
    return ok;
}

static int push(mtp_msgbox_t *b, mtp_usec_t now, mtp_buf_t *body)
{
    int r = mtp_msgbox_push(b, now, body->data, body->len);
    mtp_buf_free(body);
    return r;
}

static int answer(mtp_msgbox_t *b, mtp_usec_t now, uint32_t token, mtp_buf_t *res)
{
    int r = mtp_msgbox_result(b, now, token, res->data, res->len);
    mtp_buf_free(res);
    return r;
}

static mtp_msgbox_info_t info(const mtp_msgbox_t *b)
{
    mtp_msgbox_info_t i;
    mtp_msgbox_info(b, &i);
    return i;
}

/* A started box with state (pts, qts 5, date, seq) (via getState), nothing popped. */
static mtp_msgbox_t *box_at(mtp_usec_t now, int32_t pts, int32_t seq, const mtp_msgbox_params_t *p)
{
    mtp_msgbox_t *b = mtp_msgbox_new(p);
    mtp_msgbox_req_t r;
    mtp_buf_t x;
    mtp_msgbox_set_self(b, SELF);
    mtp_msgbox_start(b, now);
    if (!mtp_msgbox_next_request(b, now, &r) || r.kind != MTP_MSGBOX_REQ_STATE)
        tap_bail("box_at: no getState");
    r_state(&x, pts, 5, 1700000000, seq);
    if (answer(b, now, r.token, &x))
        tap_bail("box_at: state not taken");
    return b;
}

/* ---- the common box ---- */

static void test_basic(void)
{
    mtp_msgbox_t *b = mtp_msgbox_new(NULL);
    mtp_msgbox_req_t r;
    mtp_buf_t x;
    rec_t rec = { 0 };
    mtp_usec_t now = 1000;
    mtp_msgbox_set_self(b, SELF);

    b_short(&x, 1, 1, "early", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_IGNORED, "before start: ignored");
    OK(!mtp_msgbox_next_request(b, now, &r) && mtp_msgbox_deadline(b) == MTP_TIME_NEVER,
       "before start: nothing asked, no deadline");
    mtp_msgbox_start(b, now);
    OK(mtp_msgbox_deadline(b) <= now, "start: something due at once");
    OK(mtp_msgbox_next_request(b, now, &r) && r.kind == MTP_MSGBOX_REQ_STATE && r.token,
       "no state: getState");
    OK(mtp_msgbox_diff_running(b) && !mtp_msgbox_next_request(b, now, &r) &&
           mtp_msgbox_deadline(b) == MTP_TIME_NEVER, "getState in flight: nothing else asked");
    b_short(&x, 1, 1, "early", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_IGNORED, "no state yet: ignored");
    uint32_t tok = r.token;
    r_state(&x, 100, 5, 1700000000, 7);
    IS_INT(answer(b, now, tok, &x), 0, "updates.state taken");
    mtp_msgbox_info_t i = info(b);
    OK(i.have_state && i.started && i.pts == 100 && i.qts == 5 && i.seq == 7 &&
           i.differences == 0 && !mtp_msgbox_diff_running(b) && drain(b, &rec) == 0,
       "state pts 100 qts 5 seq 7, nothing delivered, no getDifference counted");
    r_state(&x, 1, 1, 1, 1);
    IS_INT(answer(b, now, tok, &x), 1, "the same token again: stale, ignored");
    OK(info(b).pts == 100, "... state unchanged");

    b_short(&x, 101, 1, "a", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "pts 101: applied");
    b_short(&x, 102, 1, "b", true);
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "pts 102 (ours): applied");
    drain(b, &rec);
    OK(texts(&rec, 2, "a", "b") && rec.id[0] == MTP_ID_updateNewMessage,
       "both as updateNewMessage, in order");
    OK(rec.from[0] == PEER && rec.from[1] == SELF, "from_id: the peer, and us for out");
    b_short(&x, 102, 1, "b", true);
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "pts 102 again: skipped");
    b_short(&x, 101, 1, "a", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "pts 101 again: skipped");
    i = info(b);
    OK(drain(b, &rec) == 0 && i.duplicates == 2 && i.pts == 102, "nothing delivered twice "
       "(duplicates %llu)", (unsigned long long)i.duplicates);
    b_sent(&x, 103, 1);
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "updateShortSentMessage pts 103: applied");
    drain(b, &rec);
    OK(rec.n == 3 && rec.id[2] == MTP_ID_updateShortSentMessage && info(b).pts == 103,
       "delivered as is, pts 103");
    b_short(&x, 0, 0, "nopts", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "pts 0 / pts_count 0: applied unchecked");
    drain(b, &rec);
    OK(rec.n == 4 && info(b).pts == 103 && info(b).delivered == 4, "pts unchanged, 4 delivered");
    OK(mtp_msgbox_dirty(b), "state changed: dirty");
    mtp_msgbox_clean(b);
    OK(!mtp_msgbox_dirty(b), "clean");
    OK(mtp_msgbox_idle(b) && mtp_msgbox_deadline(b) == MTP_TIME_NEVER, "idle, no deadline");
    mtp_msgbox_free(b);
}

static void test_gaps(void)
{
    mtp_usec_t now = 10 * SEC;
    mtp_msgbox_t *b = box_at(now, 103, 0, NULL);
    mtp_msgbox_req_t r;
    mtp_buf_t x;
    rec_t rec = { 0 };

    /* held, then filled by a later push */
    b_short(&x, 105, 1, "d", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "pts 105 at 103: held");
    mtp_msgbox_info_t i = info(b);
    OK(i.gaps == 1 && i.held == 1 && i.held_total == 1 && drain(b, &rec) == 0,
       "a gap, one held, nothing delivered");
    IS_INT(mtp_msgbox_deadline(b), now + HOLD, "deadline: the hold (500 ms)");
    OK(!mtp_msgbox_next_request(b, now + HOLD - 1, &r), "nothing asked before it");
    b_short(&x, 104, 1, "c", false);
    IS_INT(push(b, now + 1000, &x), MTP_MSGBOX_APPLIED, "pts 104 arrives");
    drain(b, &rec);
    i = info(b);
    OK(texts(&rec, 2, "c", "d") && i.held == 0 && i.pts == 105, "both applied in order, "
       "nothing held, pts 105");
    OK(mtp_msgbox_deadline(b) == MTP_TIME_NEVER && !mtp_msgbox_next_request(b, now + 60 * SEC, &r)
           && info(b).differences == 0, "the gap closed: no getDifference ever");

    /* a gap that stays open: getDifference after the hold */
    memset(&rec, 0, sizeof rec);
    now += SEC;
    b_short(&x, 107, 1, "f", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "pts 107 at 105: held");
    OK(!mtp_msgbox_next_request(b, now + HOLD - 1, &r), "not before the hold");
    OK(mtp_msgbox_next_request(b, now + HOLD, &r) && r.kind == MTP_MSGBOX_REQ_DIFF &&
           r.pts == 105 && r.qts == 5 && r.date == 1700000000 && r.limit == 0,
       "then getDifference{pts 105, qts 5, date} without pts_limit");
    now += HOLD;
    OK(info(b).differences == 1 && mtp_msgbox_diff_running(b), "counted, in flight");
    b_short(&x, 108, 1, "g", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "pts 108 while it runs: held");
    b_short(&x, 109, 1, "h", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "pts 109 while it runs: held");
    OK(drain(b, &rec) == 0 && info(b).held == 3, "three held");
    r_diff(&x, false, vec(2, msg(0, "e"), msg(0, "f")), vec(0), 107, 5, 0);
    IS_INT(answer(b, now, r.token, &x), 0, "difference{e, f; state pts 107}");
    drain(b, &rec);
    i = info(b);
    OK(texts(&rec, 4, "e", "f", "g", "h"), "the difference's messages first, then the held "
       "ones it did not cover, in order");
    OK(i.pts == 109 && i.held == 0 && !mtp_msgbox_diff_running(b) &&
           mtp_msgbox_deadline(b) == MTP_TIME_NEVER, "pts 109, nothing held, nothing due");

    /* a container: a gap anywhere holds all of it */
    memset(&rec, 0, sizeof rec);
    b_updates(&x, 0, vec(2, u_new(0, 110, 1, "i"), u_new(0, 112, 1, "k")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "updates{110, 112}: held whole");
    OK(drain(b, &rec) == 0 && info(b).pts == 109, "nothing of it delivered, pts unchanged");
    b_updates(&x, 0, vec(2, u_new(0, 110, 1, "i"), u_new(0, 111, 1, "j")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "updates{110, 111}: applied");
    drain(b, &rec);
    i = info(b);
    OK(texts(&rec, 3, "i", "j", "k") && i.pts == 112 && i.held == 0,
       "then the held container: i, j, k once each (skipped: %llu)",
       (unsigned long long)i.duplicates);
    b_updates(&x, 0, vec(2, u_new(0, 112, 1, "k"), u_new(0, 113, 1, "l")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "updates{112 (old), 113}");
    drain(b, &rec);
    OK(rec.n == 4 && !strcmp(rec.text[3], "l") && info(b).duplicates == i.duplicates + 1,
       "the old one skipped inside the container, the new one delivered");
    b_updates(&x, 0, vec(0));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "an empty updates{}: applied (nothing)");
    mtp_msgbox_free(b);
}

static void test_slices(void)
{
    mtp_usec_t now = 5 * SEC;
    mtp_msgbox_params_t p = { .pts_limit = 2 };
    mtp_msgbox_t *b = box_at(now, 108, 0, &p);
    mtp_msgbox_req_t r;
    mtp_buf_t x;
    rec_t rec = { 0 };

    b_short(&x, 112, 1, "l", false);
    push(b, now, &x);
    OK(mtp_msgbox_next_request(b, now + HOLD, &r) && r.kind == MTP_MSGBOX_REQ_DIFF &&
           r.pts == 108 && r.limit == 2, "getDifference{pts 108, pts_limit 2}");
    now += HOLD;
    r_diff(&x, true, vec(2, msg(0, "i"), msg(0, "j")), vec(0), 110, 5, 0);
    IS_INT(answer(b, now, r.token, &x), 0, "differenceSlice{i, j; pts 110}");
    OK(mtp_msgbox_deadline(b) <= now && mtp_msgbox_next_request(b, now, &r) &&
           r.kind == MTP_MSGBOX_REQ_DIFF && r.pts == 110,
       "the next slice asked for at once, from pts 110");
    r_diff(&x, true, vec(1, msg(0, "k")), vec(0), 111, 5, 0);
    IS_INT(answer(b, now, r.token, &x), 0, "differenceSlice{k; pts 111}");
    OK(mtp_msgbox_next_request(b, now, &r) && r.pts == 111, "and the next, from 111");
    OK(info(b).held == 1, "the held body waits for the end of the chain");
    r_diff(&x, false, vec(1, msg(0, "l")), vec(0), 112, 5, 0);
    IS_INT(answer(b, now, r.token, &x), 0, "difference{l; pts 112}");
    drain(b, &rec);
    mtp_msgbox_info_t i = info(b);
    OK(texts(&rec, 4, "i", "j", "k", "l") && i.pts == 112 && i.held == 0 && i.differences == 3,
       "i, j, k, l once each, in order; the held one skipped; 3 calls");
    OK(!mtp_msgbox_next_request(b, now + 60 * SEC, &r), "the chain ended");

    /* a slice that does not move the state ends the chain */
    mtp_buf_t t;
    b_too_long(&t);
    IS_INT(push(b, now, &t), MTP_MSGBOX_SKIPPED, "updatesTooLong: nothing delivered");
    OK(mtp_msgbox_next_request(b, now, &r) && r.kind == MTP_MSGBOX_REQ_DIFF,
       "updatesTooLong: getDifference at once");
    r_diff(&x, true, vec(0), vec(0), 112, 5, 0);
    answer(b, now, r.token, &x);
    OK(!mtp_msgbox_next_request(b, now, &r) && !mtp_msgbox_diff_running(b),
       "a slice that moves nothing: no further round");

    /* differenceTooLong: pts adopted, updatesTooLong delivered, carry on */
    memset(&rec, 0, sizeof rec);
    b_short(&x, 130, 1, "far", false);
    push(b, now, &x);
    OK(mtp_msgbox_next_request(b, now + HOLD, &r), "a gap: getDifference");
    now += HOLD;
    mtp_updates_differenceTooLong_t *tl = MTP_NEW(A, updates_differenceTooLong);
    tl->pts = 200;
    enc(&x, tl);
    IS_INT(answer(b, now, r.token, &x), 0, "differenceTooLong{pts 200}");
    drain(b, &rec);
    i = info(b);
    OK(rec.n == 1 && rec.id[0] == MTP_ID_updatesTooLong && i.pts == 200 && i.held == 0,
       "one updatesTooLong delivered, pts 200, what was held dropped");
    OK(mtp_msgbox_next_request(b, now, &r) && r.kind == MTP_MSGBOX_REQ_DIFF && r.pts == 200,
       "getDifference carries on from pts 200");
    mtp_updates_differenceEmpty_t *de = MTP_NEW(A, updates_differenceEmpty);
    de->date = 1700009999;
    de->seq = 44;
    enc(&x, de);
    IS_INT(answer(b, now, r.token, &x), 0, "differenceEmpty{date, seq 44}");
    i = info(b);
    OK(i.date == 1700009999 && i.seq == 44 && i.pts == 200 && mtp_msgbox_idle(b),
       "date and seq taken, idle");
    mtp_msgbox_free(b);
}

static void test_failures(void)
{
    mtp_usec_t now = 7 * SEC;
    mtp_msgbox_t *b = box_at(now, 50, 0, NULL);
    mtp_msgbox_req_t r;
    mtp_buf_t x;
    rec_t rec = { 0 };

    /* rejected (400): getState, the held body skipped */
    b_short(&x, 52, 1, "lost", false);
    push(b, now, &x);
    mtp_msgbox_next_request(b, now + HOLD, &r);
    now += HOLD;
    uint64_t d0 = info(b).differences;
    mtp_msgbox_failed(b, now, r.token, MTP_MSGBOX_FAIL_REJECTED);
    OK(mtp_msgbox_next_request(b, now, &r) && r.kind == MTP_MSGBOX_REQ_STATE &&
           info(b).differences == d0, "getDifference rejected: getState at once (not counted)");
    r_state(&x, 60, 6, 1700000500, 3);
    answer(b, now, r.token, &x);
    mtp_msgbox_info_t i = info(b);
    OK(i.pts == 60 && i.held == 0 && drain(b, &rec) == 0 && i.delivered == 0,
       "state pts 60; the held update skipped, not delivered");
    b_short(&x, 61, 1, "on", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "the stream carries on");
    drain(b, &rec);

    /* transient failure: asked again after retry_us */
    b_too_long(&x);
    push(b, now, &x);
    OK(mtp_msgbox_next_request(b, now, &r), "updatesTooLong: getDifference");
    mtp_msgbox_failed(b, now, r.token, MTP_MSGBOX_FAIL_RETRY);
    OK(!mtp_msgbox_diff_running(b) && mtp_msgbox_deadline(b) == now + RETRY &&
           !mtp_msgbox_next_request(b, now + RETRY - 1, &r), "failed: nothing until 2 s later");
    /* a gap opens and closes meanwhile: the retry stays */
    b_updates(&x, 5, vec(1, u_status(2)));
    IS_INT(push(b, now + 10, &x), MTP_MSGBOX_HELD, "seq 5 at 3: held");
    b_updates(&x, 4, vec(1, u_status(1)));
    IS_INT(push(b, now + 20, &x), MTP_MSGBOX_APPLIED, "seq 4: applied, the gap closes");
    drain(b, &rec);
    OK(rec.n == 3 && rec.from[1] == 1 && rec.from[2] == 2 && info(b).held == 0 &&
           info(b).seq == 5, "both in order, seq 5");
    IS_INT(mtp_msgbox_deadline(b), now + RETRY, "the retry's deadline survived the gap");
    OK(mtp_msgbox_next_request(b, now + RETRY, &r) && r.kind == MTP_MSGBOX_REQ_DIFF,
       "getDifference asked again");
    now += RETRY;

    /* not sent, undecodable, closed, stale */
    mtp_msgbox_failed(b, now, r.token, MTP_MSGBOX_FAIL_NOT_SENT);
    OK(mtp_msgbox_deadline(b) == now + RETRY, "not sent: again after 2 s");
    OK(mtp_msgbox_next_request(b, now + RETRY, &r), "asked again");
    now += RETRY;
    uint8_t junk[] = { 0x01, 0x02, 0x03, 0x04, 0x05 };
    IS_INT(mtp_msgbox_result(b, now, r.token, junk, sizeof junk), MTP_EPROTO,
           "an undecodable answer: MTP_EPROTO");
    IS_INT(mtp_msgbox_deadline(b), now + RETRY, "... asked again after 2 s");
    OK(mtp_msgbox_next_request(b, now + RETRY, &r), "asked again");
    now += RETRY;
    IS_INT(mtp_msgbox_result(b, now, r.token, NULL, 0), MTP_EPROTO, "no answer bytes: EPROTO");
    OK(mtp_msgbox_next_request(b, now + RETRY, &r), "asked again");
    now += RETRY;
    IS_INT(mtp_msgbox_result(b, now, r.token + 1000, junk, sizeof junk), 1,
           "an unknown token: ignored");
    mtp_msgbox_failed(b, now, 0, MTP_MSGBOX_FAIL_RETRY);
    OK(mtp_msgbox_diff_running(b), "a failure of an unknown token: ignored");
    mtp_msgbox_failed(b, now, r.token, MTP_MSGBOX_FAIL_CLOSED);
    OK(!mtp_msgbox_diff_running(b) && mtp_msgbox_deadline(b) == MTP_TIME_NEVER &&
           !mtp_msgbox_next_request(b, now + 3600 * SEC, &r), "closed: nothing more asked");

    /* an answer of the wrong type ends the run without harm */
    mtp_msgbox_lost(b, now);
    OK(mtp_msgbox_next_request(b, now, &r) && r.kind == MTP_MSGBOX_REQ_DIFF,
       "pushes lost (new session): getDifference at once");
    b_updates(&x, 0, vec(0));
    IS_INT(answer(b, now, r.token, &x), 0, "answered with updates{}: taken");
    OK(!mtp_msgbox_diff_running(b) && info(b).pts == 61, "no state change, not running");
    mtp_msgbox_stop(b);
    mtp_msgbox_lost(b, now);
    b_short(&x, 62, 1, "x", false);
    OK(push(b, now, &x) == MTP_MSGBOX_IGNORED && !mtp_msgbox_next_request(b, now, &r),
       "stopped: pushes ignored, nothing asked");
    mtp_msgbox_free(b);
}

static void test_seq_qts(void)
{
    mtp_usec_t now = SEC;
    mtp_msgbox_t *b = box_at(now, 10, 20, NULL);
    mtp_buf_t x;
    rec_t rec = { 0 };

    b_updates(&x, 21, vec(1, u_status(1)));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "seq 21 at 20: applied");
    b_updates(&x, 23, vec(1, u_status(3)));
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "seq 23: held");
    OK(info(b).seq == 21 && mtp_msgbox_deadline(b) == now + HOLD, "seq 21, a hold deadline");
    b_updates(&x, 22, vec(1, u_status(2)));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "seq 22: applied");
    drain(b, &rec);
    OK(rec.n == 3 && rec.from[0] == 1 && rec.from[1] == 2 && rec.from[2] == 3 &&
           info(b).seq == 23 && info(b).held == 0, "1, 2, 3 in order, seq 23");
    b_updates(&x, 22, vec(1, u_status(2)));
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "an old seq: skipped");
    b_updates(&x, 0, vec(1, u_status(9)));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "seq 0: not checked");
    OK(info(b).seq == 23 && drain(b, &rec) == 1, "seq unchanged by it, delivered");

    b_combined(&x, 24, 26, vec(3, u_new(0, 11, 1, "c1"), u_new(0, 12, 1, "c2"),
                               u_new(0, 13, 1, "c3")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "updatesCombined seq 24..26: applied");
    memset(&rec, 0, sizeof rec);
    drain(b, &rec);
    OK(texts(&rec, 3, "c1", "c2", "c3") && info(b).seq == 26 && info(b).pts == 13,
       "its three in order, seq 26, pts 13");
    b_combined(&x, 28, 29, vec(1, u_new(0, 15, 1, "d2")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "updatesCombined seq 28..29 at 26: held");
    b_combined(&x, 27, 27, vec(1, u_new(0, 14, 1, "d1")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "seq 27 fills it");
    memset(&rec, 0, sizeof rec);
    drain(b, &rec);
    OK(texts(&rec, 2, "d1", "d2") && info(b).seq == 29 && info(b).pts == 15,
       "both in order, seq 29, pts 15");
    OK(info(b).differences == 0, "no getDifference in all this");

    /* qts: taken from updates that carry it (the highest) */
    mtp_buf_t q;
    b_ushort(&q, u_qts(9));
    IS_INT(push(b, now, &q), MTP_MSGBOX_APPLIED, "updateShort{updateBotStopped qts 9}");
    OK(info(b).qts == 9, "qts 9");
    b_updates(&q, 0, vec(1, u_qts(7)));
    IS_INT(push(b, now, &q), MTP_MSGBOX_APPLIED, "qts 7 afterwards: delivered");
    OK(info(b).qts == 9, "... qts stays 9");
    mtp_msgbox_free(b);
}

/* ---- channels ---- */

static void test_channels(void)
{
    mtp_usec_t now = 3 * SEC;
    mtp_msgbox_t *b = box_at(now, 100, 0, NULL);
    mtp_msgbox_req_t r;
    mtp_buf_t x;
    rec_t rec = { 0 };

    b_updates(&x, 0, vec(1, u_new(CHAN, 10, 1, "k1")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "first channel message: applied");
    mtp_msgbox_info_t i = info(b);
    OK(i.channels == 1 && i.channels_seen == 1 && mtp_msgbox_channel_pts(b, CHAN) == 10 &&
           i.pts == 100, "the channel tracked from pts 10; the common pts unchanged");
    b_updates(&x, 0, vec(1, u_new(CHAN, 11, 1, "k2")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "pts 11: applied");
    b_updates(&x, 0, vec(1, u_new(CHAN, 11, 1, "k2")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "pts 11 again: skipped");
    drain(b, &rec);
    OK(texts(&rec, 2, "k1", "k2") && rec.id[0] == MTP_ID_updateNewChannelMessage,
       "k1, k2 once each");

    /* a gap: getChannelDifference after the hold */
    b_updates(&x, 0, vec(1, u_new(CHAN, 14, 1, "k5")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "pts 14 at 11: held");
    IS_INT(mtp_msgbox_deadline(b), now + HOLD, "deadline: the hold");
    OK(!mtp_msgbox_next_request(b, now + HOLD - 1, &r), "nothing before it");
    OK(mtp_msgbox_next_request(b, now + HOLD, &r) && r.kind == MTP_MSGBOX_REQ_CHANNEL &&
           r.channel == CHAN && r.pts == 11 && r.limit == MTP_MSGBOX_CHAN_LIMIT,
       "getChannelDifference{channel, pts 11, limit 100}");
    now += HOLD;
    OK(info(b).channel_differences == 1 && info(b).differences == 0, "counted; no getDifference");
    b_short(&x, 101, 1, "common", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "a push while it runs: held");
    r_cdiff(&x, false, 13, vec(2, msg(CHAN, "k3"), msg(CHAN, "k4")));
    IS_INT(answer(b, now, r.token, &x), 0, "channelDifference{k3, k4; pts 13; final=false}");
    OK(mtp_msgbox_next_request(b, now, &r) && r.kind == MTP_MSGBOX_REQ_CHANNEL && r.pts == 13,
       "final=false: the next round at once, from 13");
    r_cdiff(&x, true, 14, vec(1, msg(CHAN, "k5")));
    IS_INT(answer(b, now, r.token, &x), 0, "channelDifference{k5; pts 14; final}");
    drain(b, &rec);
    i = info(b);
    OK(texts(&rec, 6, "k1", "k2", "k3", "k4", "k5", "common") &&
           rec.id[5] == MTP_ID_updateNewMessage,
       "k3, k4, k5, then the held common one");
    OK(i.held == 0 && mtp_msgbox_channel_pts(b, CHAN) == 14 && i.pts == 101 &&
           i.channel_differences == 2, "channel pts 14, common pts 101, 2 calls");

    /* final=false that moves nothing ends */
    b_ushort(&x, u_chan_too_long(CHAN));
    memset(&rec, 0, sizeof rec);
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "updateChannelTooLong of a tracked channel");
    OK(drain(b, &rec) == 0, "... not delivered");
    OK(mtp_msgbox_next_request(b, now, &r) && r.kind == MTP_MSGBOX_REQ_CHANNEL && r.pts == 14,
       "... getChannelDifference at once");
    r_cdiff(&x, false, 14, vec(0));
    answer(b, now, r.token, &x);
    OK(!mtp_msgbox_next_request(b, now, &r) && mtp_msgbox_idle(b),
       "channelDifferenceEmpty final=false, same pts: no further round");
    b_ushort(&x, u_chan_too_long(999));
    push(b, now, &x);
    OK(drain(b, &rec) == 1 && rec.id[0] == MTP_ID_updateChannelTooLong &&
           !mtp_msgbox_next_request(b, now, &r), "of an unknown channel: delivered, nothing asked");

    /* channelDifferenceTooLong */
    memset(&rec, 0, sizeof rec);
    b_ushort(&x, u_chan_too_long(CHAN));
    push(b, now, &x);
    mtp_msgbox_next_request(b, now, &r);
    r_cdiff_too_long(&x, CHAN, 40);
    IS_INT(answer(b, now, r.token, &x), 0, "channelDifferenceTooLong{dialog pts 40}");
    drain(b, &rec);
    OK(rec.n == 1 && rec.id[0] == MTP_ID_updateChannelTooLong &&
           mtp_msgbox_channel_pts(b, CHAN) == 40, "updateChannelTooLong delivered, pts 40");

    /* retry, then rejected: the channel forgotten and tracked anew */
    b_updates(&x, 0, vec(1, u_new(CHAN, 43, 1, "m3")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "pts 43 at 40: held");
    mtp_msgbox_next_request(b, now + HOLD, &r);
    now += HOLD;
    mtp_msgbox_failed(b, now, r.token, MTP_MSGBOX_FAIL_RETRY);
    OK(!mtp_msgbox_next_request(b, now + RETRY - 1, &r) &&
           mtp_msgbox_next_request(b, now + RETRY, &r) && r.kind == MTP_MSGBOX_REQ_CHANNEL,
       "a failed getChannelDifference: asked again after 2 s");
    now += RETRY;
    uint64_t seen = info(b).channels_seen;
    mtp_msgbox_failed(b, now, r.token, MTP_MSGBOX_FAIL_REJECTED);
    drain(b, &rec);
    i = info(b);
    OK(rec.n == 2 && !strcmp(rec.text[1], "m3") && i.held == 0 && i.channels_seen == seen + 1 &&
           mtp_msgbox_channel_pts(b, CHAN) == 43,
       "rejected: the held one delivered, the channel tracked anew from pts 43");
    b_updates(&x, 0, vec(1, u_new(CHAN, 45, 1, "m5")));
    push(b, now, &x);
    mtp_msgbox_next_request(b, now + HOLD, &r);
    now += HOLD;
    uint64_t cd = info(b).channel_differences;
    mtp_msgbox_failed(b, now, r.token, MTP_MSGBOX_FAIL_UNAVAILABLE);
    drain(b, &rec);
    OK(rec.n == 3 && info(b).channel_differences == cd - 1 &&
           mtp_msgbox_channel_pts(b, CHAN) == 45,
       "unavailable (no access hash): not counted as a call, tracked anew");

    /* a container with a channel gap is held whole; the common part waits with it */
    memset(&rec, 0, sizeof rec);
    b_updates(&x, 0, vec(2, u_new(0, 102, 1, "c"), u_new(CHAN, 47, 1, "m7")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "updates{common 102, channel 47 at 45}: held");
    OK(info(b).pts == 101 && drain(b, &rec) == 0, "nothing of it applied");
    OK(mtp_msgbox_next_request(b, now + HOLD, &r) && r.kind == MTP_MSGBOX_REQ_CHANNEL,
       "the gap is the channel's: getChannelDifference");
    now += HOLD;
    r_cdiff(&x, true, 46, vec(1, msg(CHAN, "m6")));
    answer(b, now, r.token, &x);
    drain(b, &rec);
    OK(texts(&rec, 3, "m6", "c", "m7") && info(b).pts == 102 &&
           mtp_msgbox_channel_pts(b, CHAN) == 47, "m6, then the container: c, m7");

    /* a common and a channel difference may run together */
    b_short(&x, 104, 1, "y", false);
    push(b, now, &x);
    b_updates(&x, 0, vec(1, u_new(CHAN, 49, 1, "m9")));
    push(b, now, &x);
    mtp_msgbox_req_t r1, r2;
    OK(mtp_msgbox_next_request(b, now + HOLD, &r1) && mtp_msgbox_next_request(b, now + HOLD, &r2) &&
           r1.kind == MTP_MSGBOX_REQ_DIFF && r2.kind == MTP_MSGBOX_REQ_CHANNEL &&
           r1.token != r2.token && !mtp_msgbox_next_request(b, now + HOLD, &r),
       "both gaps due: getDifference and getChannelDifference, each once");
    mtp_msgbox_free(b);
}

/* ---- what a bad server can send ---- */

static void put_id(uint8_t *p, uint32_t id)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(id >> (8 * i));
}

static void test_bad_server(void)
{
    mtp_usec_t now = SEC;
    mtp_msgbox_t *b = box_at(now, 1000, 0, NULL);
    mtp_msgbox_req_t r;
    mtp_buf_t x;
    rec_t rec = { 0 };

    b_short(&x, 990, 1, "back", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "pts going backwards: skipped");
    b_short(&x, 1001, INT32_MAX, "huge", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "pts_count INT32_MAX: skipped");
    b_short(&x, 999, -1, "neg", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "negative pts_count: skipped");
    b_short(&x, INT32_MIN, INT32_MIN, "min", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "INT32_MIN everywhere: skipped");
    OK(info(b).pts == 1000 && drain(b, &rec) == 0, "pts still 1000, nothing delivered");
    b_short(&x, INT32_MAX, 1, "max", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_HELD, "pts INT32_MAX: a gap, held");
    OK(mtp_msgbox_next_request(b, now + HOLD, &r) && r.kind == MTP_MSGBOX_REQ_DIFF,
       "getDifference");
    now += HOLD;
    r_diff(&x, false, vec(0), vec(0), INT32_MAX, INT32_MAX, INT32_MAX);
    answer(b, now, r.token, &x);
    mtp_msgbox_info_t i = info(b);
    OK(i.pts == INT32_MAX && i.held == 0 && drain(b, &rec) == 0,
       "state at INT32_MAX: the held one skipped");
    b_short(&x, INT32_MIN, 1, "wrap", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "a wrapped pts (INT32_MIN): skipped");
    b_short(&x, INT32_MAX, 0, "zero", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "pts INT32_MAX count 0: applied");
    b_combined(&x, INT32_MIN, INT32_MIN, vec(1, u_status(5)));
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "seq_start INT32_MIN at seq INT32_MAX: skipped");
    b_updates(&x, INT32_MAX, vec(1, u_status(5)));
    IS_INT(push(b, now, &x), MTP_MSGBOX_SKIPPED, "seq INT32_MAX again: skipped");
    mtp_msgbox_free(b);

    b = box_at(now, 10, 0, NULL);
    uint8_t junk[64];
    for (size_t k = 0; k < sizeof junk; k++)
        junk[k] = (uint8_t)(k * 37 + 11);
    put_id(junk, MTP_ID_updates);
    IS_INT(mtp_msgbox_push(b, now, junk, sizeof junk), MTP_MSGBOX_SKIPPED,
           "an Updates id with garbage after it: skipped");
    IS_INT(mtp_msgbox_push(b, now, junk, 3), MTP_MSGBOX_IGNORED, "3 bytes: ignored");
    IS_INT(mtp_msgbox_push(b, now, NULL, 0), MTP_MSGBOX_IGNORED, "nothing: ignored");
    put_id(junk, MTP_ID_updates_state);
    IS_INT(mtp_msgbox_push(b, now, junk, sizeof junk), MTP_MSGBOX_IGNORED,
           "not an Updates body: ignored");
    OK(mtp_msgbox_is_updates((const uint8_t *)"\x00\x00", 0) == false, "is_updates(len 0)");
    /* a channel update naming channel id <= 0: not tracked, delivered */
    b_updates(&x, 0, vec(1, u_new(-5, 3, 1, "negchan")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "channel id -5: delivered unchecked");
    OK(info(b).channels == 0 && drain(b, &rec) == 1, "... not tracked");

    /* more held than the box keeps: the oldest go, getDifference at once */
    for (int k = 0; k < MTP_MSGBOX_MAX_PENDING + 44; k++) {
        b_short(&x, 20 + k, 1, "p", false);
        push(b, now, &x);
    }
    i = info(b);
    OK(i.held == MTP_MSGBOX_MAX_PENDING && i.held_total == MTP_MSGBOX_MAX_PENDING + 44,
       "held: %llu of %llu kept", (unsigned long long)i.held,
       (unsigned long long)i.held_total);
    OK(mtp_msgbox_next_request(b, now, &r) && r.kind == MTP_MSGBOX_REQ_DIFF,
       "... and getDifference at once");
    r_diff(&x, false, vec(0), vec(0), 11, 5, 0);
    answer(b, now, r.token, &x);
    i = info(b);
    OK(i.pts == 11 && i.held == MTP_MSGBOX_MAX_PENDING, "a difference that fills nothing: "
       "still held (first round)");
    mtp_msgbox_lost(b, now);
    mtp_msgbox_next_request(b, now, &r);
    r_diff(&x, false, vec(0), vec(0), 11, 5, 0);
    answer(b, now, r.token, &x);
    OK(info(b).held == 0 && mtp_msgbox_deadline(b) == MTP_TIME_NEVER,
       "after a second full difference the server evidently lacks them: dropped");

    /* more channels than tracked: the rest delivered unchecked */
    mtp_msgbox_free(b);
    b = box_at(now, 10, 0, NULL);
    int applied = 0;
    for (int k = 1; k <= MTP_MSGBOX_MAX_CHANNELS + 3; k++) {
        b_updates(&x, 0, vec(1, u_new(k, 5, 1, "c")));
        applied += push(b, now, &x) == MTP_MSGBOX_APPLIED;
    }
    i = info(b);
    OK(applied == MTP_MSGBOX_MAX_CHANNELS + 3 && i.channels == MTP_MSGBOX_MAX_CHANNELS &&
           i.channels_seen == MTP_MSGBOX_MAX_CHANNELS,
       "4099 channels: 4096 tracked, all delivered");
    b_updates(&x, 0, vec(1, u_new(MTP_MSGBOX_MAX_CHANNELS + 2, 9, 1, "c")));
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "an untracked one's jump: no gap");
    mtp_msgbox_free(b);
}

/* ---- state, reset, delivery order ---- */

static void test_state(void)
{
    mtp_usec_t now = SEC;
    mtp_msgbox_t *b = box_at(now, 70, 9, NULL);
    mtp_buf_t x, s;
    b_updates(&x, 0, vec(1, u_new(CHAN, 30, 1, "k")));
    push(b, now, &x);
    b_updates(&x, 0, vec(1, u_new(CHAN + 1, 7, 1, "k")));
    push(b, now, &x);
    rec_t rec = { 0 };
    IS_INT(drain(b, &rec), 2, "two channels' first updates delivered");
    memset(&rec, 0, sizeof rec);
    mtp_buf_init(&s);
    mtp_msgbox_serialize(b, &s);
    IS_INT(s.len, 20 + 4 + 2 * 12, "section: 2 channels (12 bytes each), count, common state");
    IS_INT(mtp_msgbox_section_size(s.data, s.len, 4), s.len, "section_size (v4)");
    IS_INT(mtp_msgbox_section_size(s.data, s.len, 3), 20, "section_size (v3): common only");
    IS_INT(mtp_msgbox_section_size(s.data, s.len, 2), 0, "section_size (v2): none");
    IS_INT(mtp_msgbox_section_size(s.data, 19, 3), (size_t)-1, "v3 shorter than 20: malformed");
    IS_INT(mtp_msgbox_section_size(s.data, 23, 4), (size_t)-1, "v4 shorter than 24: malformed");
    IS_INT(mtp_msgbox_section_size(s.data + 12, s.len - 12, 4), (size_t)-1,
           "v4 whose count exceeds its bytes: malformed");
    mtp_msgbox_t *c = mtp_msgbox_new(NULL);
    mtp_msgbox_parse(c, s.data, s.len);
    mtp_msgbox_info_t i = info(c);
    OK(i.have_state && !i.started && i.pts == 70 && i.qts == 5 && i.seq == 9 &&
           i.channels == 2 && mtp_msgbox_channel_pts(c, CHAN) == 30 &&
           mtp_msgbox_channel_pts(c, CHAN + 1) == 7 && !mtp_msgbox_dirty(c),
       "parsed back: common state, both channels, not started, clean");
    mtp_msgbox_parse(c, s.data + s.len - 20, 20);
    i = info(c);
    OK(i.have_state && i.pts == 70 && i.channels == 0, "a v3 section: common state only");
    mtp_msgbox_parse(c, s.data, 10);
    OK(!info(c).have_state, "a short section: no state");
    mtp_msgbox_free(c);
    mtp_buf_free(&s);

    /* delivery from inside delivery: what is pushed while popping comes after */
    b_updates(&x, 0, vec(2, u_new(0, 71, 1, "a"), u_new(0, 72, 1, "b")));
    push(b, now, &x);
    mtp_msgbox_update_t u;
    OK(mtp_msgbox_pop(b, &u), "popped the first of two");
    b_short(&x, 73, 1, "c", false);
    IS_INT(push(b, now, &x), MTP_MSGBOX_APPLIED, "a push while the first is out: applied");
    drain(b, &rec);
    OK(texts(&rec, 2, "b", "c"), "the rest of the first container, then it");

    /* reset: everything forgotten; what was popped stays readable until the next pop */
    b_updates(&x, 0, vec(2, u_new(0, 74, 1, "d"), u_new(0, 75, 1, "e")));
    push(b, now, &x);
    b_short(&x, 80, 1, "held", false);
    push(b, now, &x);
    mtp_msgbox_req_t r;
    mtp_msgbox_lost(b, now);
    OK(mtp_msgbox_next_request(b, now, &r), "a getDifference in flight");
    OK(mtp_msgbox_pop(b, &u), "popped one");
    mtp_msgbox_reset(b);
    OK(u.update->tl->id == MTP_ID_updateNewMessage && u.users && u.users->n == 0,
       "the popped update is still readable after reset");
    i = info(b);
    OK(!mtp_msgbox_pop(b, &u) && !i.started && !i.have_state && i.held == 0 && i.channels == 0 &&
           i.pts == 0, "reset: nothing queued, held, tracked or started");
    r_diff(&x, false, vec(1, msg(0, "old")), vec(0), 99, 1, 1);
    IS_INT(answer(b, now, r.token, &x), 1, "the old account's answer: ignored");
    OK(!info(b).have_state && !mtp_msgbox_pop(b, &u), "... nothing taken from it");
    mtp_msgbox_free(b);

    /* custom timings */
    mtp_msgbox_params_t p = { .hold_us = 10 * 1000, .retry_us = 100 * 1000 };
    b = box_at(now, 10, 0, &p);
    b_short(&x, 12, 1, "g", false);
    push(b, now, &x);
    IS_INT(mtp_msgbox_deadline(b), now + 10 * 1000, "hold_us 10 ms");
    mtp_msgbox_next_request(b, now + 10 * 1000, &r);
    mtp_msgbox_failed(b, now + 10 * 1000, r.token, MTP_MSGBOX_FAIL_RETRY);
    IS_INT(mtp_msgbox_deadline(b), now + 110 * 1000, "retry_us 100 ms");
    mtp_msgbox_set_params(b, NULL);
    b_short(&x, 14, 1, "h", false);
    push(b, now + 200 * 1000, &x);
    IS_INT(mtp_msgbox_deadline(b), now + 110 * 1000, "defaults again; the deadline set stays");
    mtp_msgbox_free(b);
    mtp_msgbox_free(NULL);
}


/* ---- a random network against the rules ----
 *
 * A model server numbers events of the common box (texts "p<pts>") and of one channel
 * ("c<pts>"); their pushes are lost, delayed, reordered and repeated at random; the box's
 * requests are answered like a server would (a difference of what follows the asked pts,
 * at most limit of it: slices / final=false; sometimes differenceTooLong, sometimes a
 * failure); the clock jumps. Checked on every delivery: no event twice, each box in
 * increasing order. At the end the network heals: every event is delivered, or was
 * skipped by a TooLong answer. Seeded: the same run every time (TEST_MSGBOX_SEED=n for
 * another). */

typedef struct stream {
    int32_t first, pts;                 /* events first+1 .. pts exist */
    int32_t last;                       /* the last delivered */
    uint8_t seen[4096], gone[4096];     /* delivered / skipped by a TooLong answer */
    int32_t pend[64];                   /* pushes on the way */
    int npend;
    bool twice, order;
} stream_t;

static uint64_t rs = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(uint32_t n)
{
    rs ^= rs >> 12;
    rs ^= rs << 25;
    rs ^= rs >> 27;
    return (uint32_t)((rs * 0x2545f4914f6cdd1dULL) >> 33) % n;
}

static void push_event(mtp_msgbox_t *b, mtp_usec_t now, bool chan, int32_t pts)
{
    char t[16];
    mtp_buf_t x;
    snprintf(t, sizeof t, "%c%d", chan ? 'c' : 'p', (int)pts);
    if (chan)
        b_updates(&x, 0, vec(1, u_new(CHAN, pts, 1, t)));
    else
        b_short(&x, pts, 1, t, false);
    push(b, now, &x);
}

static void note(stream_t *s, int32_t pts)
{
    if (pts <= s->first || pts > s->pts || pts - s->first >= 4096) {
        if (s->order)
            tap_diag("%d delivered: no such event (%d..%d)", (int)pts, (int)s->first, (int)s->pts);
        s->order = false;               /* an event that does not exist */
        return;
    }
    if (s->seen[pts - s->first] && !s->twice) {
        s->twice = true;
        tap_diag("%s%d delivered twice", s->first == 50 ? "c" : "p", (int)pts);
    }
    if (pts <= s->last && s->order) {
        s->order = false;
        tap_diag("%s%d delivered after %d", s->first == 50 ? "c" : "p", (int)pts, (int)s->last);
    }
    s->seen[pts - s->first] = 1;
    s->last = pts;
}

static void rnd_drain(mtp_msgbox_t *b, stream_t *common, stream_t *ch)
{
    mtp_msgbox_update_t x;
    while (mtp_msgbox_pop(b, &x)) {
        const mtp_tl_object_t *m = NULL;
        if (x.update->tl->id == MTP_ID_updateNewMessage)
            m = ((const mtp_updateNewMessage_t *)x.update)->message;
        else if (x.update->tl->id == MTP_ID_updateNewChannelMessage)
            m = ((const mtp_updateNewChannelMessage_t *)x.update)->message;
        if (!m || m->tl->id != MTP_ID_message)
            continue;
        const mtp_message_t *mm = (const void *)m;
        char t[16] = { 0 };
        memcpy(t, mm->message.ptr, mm->message.len < 15 ? mm->message.len : 15);
        note(t[0] == 'c' ? ch : common, (int32_t)atoi(t + 1));
    }
}

/* The answer to a request (or a failure), like a server. */
static void serve(mtp_msgbox_t *b, mtp_usec_t now, const mtp_msgbox_req_t *r, stream_t *common,
                  stream_t *ch, bool flaky)
{
    uint32_t dice = flaky ? rnd(20) : 99;
    if (dice == 0) {
        mtp_msgbox_failed(b, now, r->token, MTP_MSGBOX_FAIL_RETRY);
        return;
    }
    if (dice == 1) {
        mtp_msgbox_failed(b, now, r->token, MTP_MSGBOX_FAIL_NOT_SENT);
        return;
    }
    stream_t *s = r->kind == MTP_MSGBOX_REQ_CHANNEL ? ch : common;
    mtp_buf_t x;
    if (r->kind == MTP_MSGBOX_REQ_STATE) {
        r_state(&x, s->pts, 5, 1700000000, 0);
        answer(b, now, r->token, &x);
        return;
    }
    if (dice == 2 && r->pts < s->pts) {     /* too long: what lies between is skipped */
        for (int32_t p = r->pts + 1; p <= s->pts; p++)
            s->gone[p - s->first] = 1;
        if (r->kind == MTP_MSGBOX_REQ_CHANNEL) {
            r_cdiff_too_long(&x, CHAN, s->pts);
        } else {
            mtp_updates_differenceTooLong_t *t = MTP_NEW(A, updates_differenceTooLong);
            t->pts = s->pts;
            enc(&x, t);
        }
        answer(b, now, r->token, &x);
        return;
    }
    int32_t limit = r->kind == MTP_MSGBOX_REQ_CHANNEL ? 3 : 4;
    int32_t upto = r->pts + limit < s->pts ? r->pts + limit : s->pts;
    mtp_tl_object_t *v[16];
    int n = 0;
    for (int32_t p = r->pts + 1; p <= upto && n < 16; p++) {
        char t[16];
        snprintf(t, sizeof t, "%c%d", s == ch ? 'c' : 'p', (int)p);
        v[n++] = msg(s == ch ? CHAN : 0, t);
    }
    if (r->kind == MTP_MSGBOX_REQ_CHANNEL)
        r_cdiff(&x, upto == s->pts, upto, vec_of(v, n));
    else
        r_diff(&x, upto < s->pts, vec_of(v, n), vec(0), upto, 5, 0);
    answer(b, now, r->token, &x);
}

static void test_random(void)
{
    mtp_usec_t now = SEC;
    static stream_t common, ch;
    const char *seed = getenv("TEST_MSGBOX_SEED");   /* another run: any number */
    if (seed && strtoull(seed, NULL, 0))
        rs = strtoull(seed, NULL, 0);
    memset(&common, 0, sizeof common);
    memset(&ch, 0, sizeof ch);
    common.first = common.pts = common.last = 1000;
    ch.first = ch.pts = ch.last = 50;
    common.order = ch.order = true;
    mtp_msgbox_t *b = box_at(now, 1000, 0, NULL);
    /* the channel is tracked from its first event, delivered reliably */
    ch.pts++;
    push_event(b, now, true, ch.pts);
    rnd_drain(b, &common, &ch);
    mtp_msgbox_req_t r;
    int steps = 0, reqs = 0;
    for (; steps < 4000 && common.pts < 1000 + 2000 && ch.pts < 50 + 1000; steps++) {
        uint32_t op = rnd(16);
        stream_t *s = rnd(3) ? &common : &ch;
        if (op < 5) {                   /* a new event; its push may get lost */
            s->pts++;
            if (rnd(8) && s->npend < 64)
                s->pend[s->npend++] = s->pts;
        } else if (op < 10 && s->npend) {   /* a push arrives (mostly in order) */
            int k = rnd(4) ? 0 : (int)rnd((uint32_t)s->npend);
            int32_t p = s->pend[k];
            memmove(s->pend + k, s->pend + k + 1, (size_t)(s->npend - k - 1) * sizeof *s->pend);
            s->npend--;
            push_event(b, now, s == &ch, p);
        } else if (op == 10 && s->pts > s->first + 1) {     /* a repeated push */
            push_event(b, now, s == &ch, s->first + 1 + (int32_t)rnd((uint32_t)(s->pts - s->first)));
        } else if (op == 11) {
            now += (mtp_usec_t)rnd(800) * 1000;
        } else if (op == 12) {
            mtp_msgbox_lost(b, now);
        } else {
            while (mtp_msgbox_next_request(b, now, &r)) {
                reqs++;
                serve(b, now, &r, &common, &ch, true);
            }
        }
        rnd_drain(b, &common, &ch);
    }
    OK(!common.twice && common.order && !ch.twice && ch.order,
       "random network (%d steps, %d requests, %d + %d events): nothing twice, in order",
       steps, reqs, (int)(common.pts - common.first), (int)(ch.pts - ch.first));
    /* heal: the pushes on the way arrive, then until nothing is due */
    for (int k = 0; k < common.npend; k++)
        push_event(b, now, false, common.pend[k]);
    for (int k = 0; k < ch.npend; k++)
        push_event(b, now, true, ch.pend[k]);
    mtp_msgbox_lost(b, now);
    for (int round = 0; round < 200 && !mtp_msgbox_idle(b); round++) {
        while (mtp_msgbox_next_request(b, now, &r))
            serve(b, now, &r, &common, &ch, false);
        rnd_drain(b, &common, &ch);
        now += HOLD;
    }
    rnd_drain(b, &common, &ch);
    /* a channel gap may be left open if its last events were lost: one more event shows it */
    ch.pts++;
    push_event(b, now, true, ch.pts);
    for (int round = 0; round < 200 && !mtp_msgbox_idle(b); round++) {
        while (mtp_msgbox_next_request(b, now, &r))
            serve(b, now, &r, &common, &ch, false);
        rnd_drain(b, &common, &ch);
        now += HOLD;
    }
    rnd_drain(b, &common, &ch);
    int missing = 0;
    for (int32_t p = common.first + 1; p <= common.pts; p++)
        missing += !common.seen[p - common.first] && !common.gone[p - common.first];
    for (int32_t p = ch.first + 2; p <= ch.pts; p++)
        missing += !ch.seen[p - ch.first] && !ch.gone[p - ch.first];
    mtp_msgbox_info_t i = info(b);
    OK(mtp_msgbox_idle(b) && missing == 0 && i.pts == common.pts &&
           mtp_msgbox_channel_pts(b, CHAN) == ch.pts && !common.twice && common.order &&
           !ch.twice && ch.order,
       "healed: every event delivered once or skipped by TooLong (%d missing), both pts caught "
       "up (%d/%d, %d/%d)", missing, (int)i.pts, (int)common.pts,
       (int)mtp_msgbox_channel_pts(b, CHAN), (int)ch.pts);
    mtp_msgbox_free(b);
}

int main(void)
{
    A = mtp_arena_new(0);
    test_basic();
    test_gaps();
    test_slices();
    test_failures();
    test_seq_qts();
    test_channels();
    test_bad_server();
    test_state();
    test_random();
    mtp_arena_free(A);
    return tap_done();
}
