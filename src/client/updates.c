/*
 * libmtproto client — the updates stream: the client's side of the message box (msgbox.h,
 * the pure pts / qts / seq rules). This file feeds the box what the client receives
 * (pushed bodies, call results of type Updates, the answers to the box's requests), makes
 * the calls the box asks for (getState, getDifference, getChannelDifference: the access
 * hash of a channel comes from the peer cache), hands the updates the box releases to the
 * application callback, feeds the peer cache with every body the box decodes, and saves
 * the state at most once a second while it changes.
 *
 * Clocks: the box runs on the monotonic clock (mtp_mono_usec); the deadline handed to the
 * client is converted into the clock of the client's timers (mtp_client__now), which the
 * save throttle uses too.
 *
 * Delivery never nests: updates fed while the callback runs (a sync call inside it) are
 * processed at once and queued; the outer delivery loop hands them over, in order, after
 * the callback returns.
 */
#define _GNU_SOURCE
#include "client_int.h"
#include "msgbox.h"

#include <mtproto/net.h>
#include <mtproto/tl_schema.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SAVE_US MTP_USEC_PER_SEC        /* state saved at most this often (and on free) */
#define MAX_ISSUE 8                     /* requests issued per pass (the box has 2 at most) */

struct mtp_upd {
    mtp_msgbox_t *box;
    mtp_msgbox_params_t prm;
    mtp_client_t *c;                    /* the owner (for observe); set by every hook */
    mtp_update_cb cb;
    void *user;
    bool dirty;                         /* the peer cache changed through updates */
    mtp_usec_t saved_at;                /* client clock */
    uint32_t common_token;              /* getState / getDifference in flight */
    int diff_err;                       /* of the last getState / getDifference */
    mtp_call_error_t diff_error;
    int drop_pushes;                    /* test hook */
    int draining;                       /* inside the delivery loop */
};

/* The clock of the client's timers (mtp_client__now). */
static mtp_usec_t client_now(const mtp_client_t *c)
{
    return mtp_client__now(c);
}

/* The clock of the box. */
static mtp_usec_t box_now(void)
{
    return mtp_mono_usec();
}

static void observe(void *user, const mtp_tl_object_t *o)
{
    mtp_upd_t *u = user;
    if (u->c && mtp_client_peers_feed(u->c, o) > 0)
        u->dirty = true;    /* the peer cache changed: the periodic save writes it too */
}

mtp_upd_t *mtp_upd__new(void)
{
    mtp_upd_t *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    if (!(u->box = mtp_msgbox_new(NULL))) {
        free(u);
        return NULL;
    }
    mtp_msgbox_observe(u->box, observe, u);
    return u;
}

void mtp_upd__free(mtp_upd_t *u)
{
    if (!u)
        return;
    mtp_msgbox_free(u->box);
    free(u);
}

void mtp_upd__reset(mtp_upd_t *u)
{
    mtp_msgbox_reset(u->box);
    u->common_token = 0;
    u->dirty = true;
}

bool mtp_upd__is_updates(const uint8_t *body, size_t len)
{
    return mtp_msgbox_is_updates(body, len);
}

/* ---- session section (the box's) ---- */

void mtp_upd__serialize(const mtp_upd_t *u, mtp_buf_t *b)
{
    mtp_msgbox_serialize(u->box, b);
}

size_t mtp_upd__section_size(const uint8_t *p, size_t n, uint32_t ver)
{
    return mtp_msgbox_section_size(p, n, ver);
}

void mtp_upd__parse(mtp_upd_t *u, const uint8_t *p, size_t len)
{
    mtp_msgbox_parse(u->box, p, len);
    u->common_token = 0;
    u->dirty = false;
}

void mtp_upd__saved(mtp_upd_t *u, mtp_usec_t now)
{
    mtp_msgbox_clean(u->box);
    u->dirty = false;
    u->saved_at = now;
}

bool mtp_upd__dirty(const mtp_upd_t *u)
{
    return u->dirty || mtp_msgbox_dirty(u->box);
}

/* ---- delivery ---- */

static mtp_upd_t *upd(mtp_client_t *c)
{
    mtp_upd_t *u = mtp_client__upd(c);
    u->c = c;
    mtp_msgbox_set_self(u->box, mtp_client_user_id(c));
    return u;
}

/* Hand what the box released to the callback (once: a nested call returns at once, the
 * outer loop delivers what was queued meanwhile). */
static void drain(mtp_client_t *c, mtp_upd_t *u)
{
    if (u->draining)
        return;
    u->draining++;
    mtp_msgbox_update_t x;
    while (mtp_msgbox_pop(u->box, &x))
        if (u->cb)
            u->cb(c, u->user, x.update, x.users, x.chats);
    u->draining--;
}

/* ---- requests ---- */

static void issue_due(mtp_client_t *c, mtp_upd_t *u);

static int how_failed(const mtp_call_error_t *e)
{
    if (e->err == MTP_ECLOSED && !strcmp(e->message, "CLIENT_CLOSED"))
        return MTP_MSGBOX_FAIL_CLOSED;
    if (e->err == MTP_ERPC && e->code == 400)
        return MTP_MSGBOX_FAIL_REJECTED;    /* PERSISTENT_TIMESTAMP_INVALID, CHANNEL_PRIVATE */
    return MTP_MSGBOX_FAIL_RETRY;
}

static void req_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                   const mtp_call_error_t *e)
{
    mtp_upd_t *u = upd(c);
    uint32_t token = (uint32_t)(uintptr_t)user;
    bool common = token == u->common_token;
    if (common)
        u->common_token = 0;
    if (!e->err) {
        int rc = mtp_msgbox_result(u->box, box_now(), token, res, len);
        if (common && rc == MTP_EPROTO) {
            u->diff_err = MTP_EPROTO;
            u->diff_error = (mtp_call_error_t){ .err = MTP_EPROTO, .number = -1 };
        } else if (common && rc == 0) {
            u->diff_err = 0;
        }
    } else {
        if (common) {
            u->diff_err = e->err;
            u->diff_error = *e;
        }
        mtp_msgbox_failed(u->box, box_now(), token, how_failed(e));
    }
    if (!e->err || how_failed(e) != MTP_MSGBOX_FAIL_CLOSED)
        issue_due(c, u);        /* the next slice, a retry, getState (not while closing) */
    drain(c, u);
}

/* The query of a request, encoded into b: 0, or MTP_MSGBOX_FAIL_* if it cannot be made. */
static int build(mtp_client_t *c, const mtp_msgbox_req_t *r, mtp_buf_t *b)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *q = NULL;
    int how = MTP_MSGBOX_FAIL_NOT_SENT;
    if (!a)
        return how;
    if (r->kind == MTP_MSGBOX_REQ_STATE) {
        q = (mtp_tl_object_t *)MTP_NEW(a, updates_getState);
    } else if (r->kind == MTP_MSGBOX_REQ_DIFF) {
        mtp_updates_getDifference_t *d = MTP_NEW(a, updates_getDifference);
        if (d) {
            d->pts = r->pts;
            d->date = r->date;
            d->qts = r->qts;
            d->has_pts_limit = r->limit > 0;
            d->pts_limit = r->limit > 0 ? r->limit : 0;
            q = &d->_;
        }
    } else {
        mtp_updates_getChannelDifference_t *d = MTP_NEW(a, updates_getChannelDifference);
        mtp_tl_object_t *f = (mtp_tl_object_t *)MTP_NEW(a, channelMessagesFilterEmpty);
        mtp_tl_object_t *ic = NULL;
        mtp_peer_t p;
        if (d && f && (mtp_client_peer_get(c, MTP_PEER_CHANNEL, r->channel, &p) ||
                       mtp_peer_input_channel(&p, a, &ic))) {
            how = MTP_MSGBOX_FAIL_UNAVAILABLE;  /* no access hash: it cannot be asked for */
        } else if (d && f) {
            d->channel = ic;
            d->filter = f;
            d->pts = r->pts;
            d->limit = r->limit;
            q = &d->_;
        }
    }
    if (q && !mtp_tl_encode(q, b))
        how = 0;
    mtp_arena_free(a);
    return how;
}

static void issue(mtp_client_t *c, mtp_upd_t *u, const mtp_msgbox_req_t *r)
{
    bool common = r->kind != MTP_MSGBOX_REQ_CHANNEL;
    mtp_buf_t b;
    mtp_buf_init(&b);
    int how = build(c, r, &b);
    int rc = how ? MTP_ENOMEM : 0;
    if (!how && (rc = mtp_call_ex(c, 0, MTP_CALL__FED, b.data, b.len, req_cb, (void *)(uintptr_t)r->token)))
        how = MTP_MSGBOX_FAIL_NOT_SENT;
    mtp_buf_free(&b);
    if (!how) {
        if (common)
            u->common_token = r->token;
        return;
    }
    if (common) {
        u->diff_err = rc;
        u->diff_error = (mtp_call_error_t){ .err = rc, .number = -1 };
    }
    mtp_msgbox_failed(u->box, box_now(), r->token, how);
}

/* Make the calls the box asks for now. */
static void issue_due(mtp_client_t *c, mtp_upd_t *u)
{
    mtp_msgbox_req_t r;
    for (int i = 0; i < MAX_ISSUE && mtp_msgbox_next_request(u->box, box_now(), &r); i++)
        issue(c, u, &r);
}

/* ---- hooks from client.c ---- */

void mtp_upd__feed(mtp_client_t *c, const uint8_t *body, size_t len, bool pushed)
{
    mtp_upd_t *u = upd(c);
    if (!mtp_msgbox_is_updates(body, len))
        return;
    if (pushed && u->drop_pushes > 0) {
        mtp_msgbox_info_t i;
        mtp_msgbox_info(u->box, &i);
        if (i.started && i.have_state) {
            u->drop_pushes--;
            return;
        }
    }
    mtp_msgbox_push(u->box, box_now(), body, len);
    drain(c, u);
}

void mtp_upd__new_session(mtp_client_t *c)
{
    mtp_msgbox_lost(upd(c)->box, box_now());   /* the next tick asks getDifference */
}

void mtp_upd__conn_lost(mtp_client_t *c)
{
    mtp_msgbox_lost(upd(c)->box, box_now());
}

void mtp_upd__tick(mtp_client_t *c)
{
    mtp_upd_t *u = upd(c);
    issue_due(c, u);
    drain(c, u);
    mtp_usec_t now = client_now(c);
    if (mtp_upd__dirty(u) && now - u->saved_at >= SAVE_US) {
        u->saved_at = now;      /* a failing save is retried a second later, not at once */
        mtp_client_save(c);
    }
}

mtp_usec_t mtp_upd__deadline(mtp_client_t *c)
{
    mtp_upd_t *u = mtp_client__upd(c);
    mtp_usec_t d = mtp_msgbox_deadline(u->box), t = MTP_TIME_NEVER;
    if (d != MTP_TIME_NEVER) {
        mtp_usec_t mono = box_now(), now = client_now(c);
        if (d <= mono)
            t = now;
        else if (d - mono < MTP_TIME_NEVER - now)
            t = now + (d - mono);
    }
    if (mtp_upd__dirty(u) && u->saved_at + SAVE_US < t)
        t = u->saved_at + SAVE_US;
    return t;
}

void mtp_client__updates_drop_pushes(mtp_client_t *c, int n)
{
    mtp_client__upd(c)->drop_pushes = n;
}

void mtp_client__updates_pts_limit(mtp_client_t *c, int n)
{
    mtp_upd_t *u = mtp_client__upd(c);
    u->prm.pts_limit = n;
    mtp_msgbox_set_params(u->box, &u->prm);
}

void mtp_client__updates_timing(mtp_client_t *c, mtp_usec_t hold_us, mtp_usec_t retry_us)
{
    mtp_upd_t *u = mtp_client__upd(c);
    u->prm.hold_us = hold_us;
    u->prm.retry_us = retry_us;
    mtp_msgbox_set_params(u->box, &u->prm);
}

bool mtp_client__updates_idle(mtp_client_t *c)
{
    return mtp_msgbox_idle(mtp_client__upd(c)->box);
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
    mtp_upd_t *u = upd(c);
    u->diff_err = 0;
    mtp_msgbox_start(u->box, box_now());
    issue_due(c, u);
    drain(c, u);
    /* wait for it (and the slices after it); bounded by the call timeouts */
    mtp_usec_t until = box_now() + 4 * 60 * MTP_USEC_PER_SEC;
    while (mtp_msgbox_diff_running(u->box) && box_now() < until)
        if (mtp_client_step(c, 200))
            break;
    if (mtp_msgbox_diff_running(u->box)) {
        err->err = MTP_ETIMEDOUT;
        return MTP_ETIMEDOUT;
    }
    mtp_msgbox_info_t i;
    mtp_msgbox_info(u->box, &i);
    if (!i.have_state) {
        mtp_msgbox_stop(u->box);
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
    mtp_msgbox_info_t i;
    mtp_msgbox_info(mtp_client__upd(c)->box, &i);
    *out = (mtp_client_updates_info_t){
        .started = i.started, .have_state = i.have_state,
        .pts = i.pts, .qts = i.qts, .date = i.date, .seq = i.seq,
        .delivered = i.delivered, .duplicates = i.duplicates, .gaps = i.gaps,
        .differences = i.differences, .held = i.held, .held_total = i.held_total,
        .channels = i.channels, .channels_seen = i.channels_seen,
        .channel_differences = i.channel_differences,
    };
}

int32_t mtp_client_updates_channel_pts(mtp_client_t *c, int64_t channel_id)
{
    if (!c)
        return 0;
    return mtp_msgbox_channel_pts(mtp_client__upd(c)->box, channel_id);
}
