/*
 * libmtproto client — loop glue: one timer per client on its loop runs the client's work
 * (dispatch the queue, call timeouts, the updates timers, flush every connection) when
 * something changed (a kick: a new call, data read, a connection opened or lost) and at
 * the next deadline. Deadlines of the policy are monotonic; those of the sans-IO core and
 * of the updates state are on the wall clock and converted when the timer is armed.
 * The mtp_client_fds/timeout/process/step/run wrappers drive the client's loop.
 */
#define _GNU_SOURCE
#include "client_core.h"

#include <stdlib.h>

#define QUEUED_POLL_USEC 20000  /* calls waiting for a connection or a key: look again */

mtp_usec_t mtp_client__wall_to_mono(mtp_usec_t wall, mtp_usec_t now_wall, mtp_usec_t now_mono)
{
    if (wall == MTP_TIME_NEVER)
        return MTP_TIME_NEVER;
    if (wall <= now_wall)
        return now_mono;
    mtp_usec_t d = wall - now_wall;
    return d > MTP_TIME_NEVER - now_mono ? MTP_TIME_NEVER : now_mono + d;
}

static mtp_usec_t earlier(mtp_usec_t a, mtp_usec_t b)
{
    return a < b ? a : b;
}

/* The monotonic time at which the client has work next (MTP_TIME_NEVER: none). */
static mtp_usec_t next_deadline(mtp_client_t *c)
{
    mtp_usec_t mono = mtp_mono_usec(), wall = mtp_now_usec(), next = MTP_TIME_NEVER;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        mtp_dcstate_t *d = &c->dc[i];
        for (int k = 0; k < MTP_CLIENT__CONNS_PER_DC; k++) {
            const mtp_cconn_t *cc = &d->conns[k];
            if (cc->mc)
                next = earlier(earlier(next, mtp_client__conn_watch_deadline(cc)),
                               mtp_client__wall_to_mono(mtp_conn_next_deadline(cc->mc),
                                                        wall, mono));
            else if (cc->saved)
                next = earlier(next, d->retry_at > mono ? d->retry_at : mono + QUEUED_POLL_USEC);
        }
    }
    next = earlier(next, mtp_client__wall_to_mono(mtp_upd__deadline(c), wall, mono));
    for (const mtp_ccall_t *x = c->calls; x; x = x->next) {
        if (!x->on) {
            mtp_usec_t t = x->not_before > mono ? x->not_before : mono + QUEUED_POLL_USEC;
            int dc = x->dc ? x->dc : c->home;
            if (c->dc[dc].retry_at > t)
                t = c->dc[dc].retry_at;
            next = earlier(next, t);
        }
        next = earlier(next, x->deadline);
    }
    return next;
}

static void flush_all(mtp_client_t *c)
{
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int k = 0; k < MTP_CLIENT__CONNS_PER_DC; k++) {
            mtp_cconn_t *cc = &c->dc[i].conns[k];
            cc->fed = 0;
            cc->yield = false;  /* the fd stayed readable: the loop comes back to it */
            if (cc->mc && !cc->connecting)
                mtp_client__conn_flush(c, cc);
        }
}

static void work(mtp_timer_t *t, void *user)
{
    (void)t;
    mtp_client_t *c = user;
    mtp_usec_t next;
    c->in_work = true;
    c->kicked = false;
    mtp_client__dispatch(c);
    mtp_client__check_timeouts(c);
    mtp_upd__tick(c);
    mtp_client__dispatch(c);
    flush_all(c);           /* what dispatch queued, and the cores' own (acks, resends) */
    c->in_work = false;
    if (c->kicked)          /* callbacks of this round queued more: the next iteration */
        mtp_timer_start(c->timer, 0);
    else if ((next = next_deadline(c)) != MTP_TIME_NEVER)
        mtp_timer_start_mono(c->timer, next);
}

int mtp_client__loop_init(mtp_client_t *c, mtp_loop_t *loop)
{
    c->own_loop = !loop;
    c->loop = loop ? loop : mtp_loop_new(0);
    if (!c->loop)
        return MTP_ENOMEM;
    c->timer = mtp_timer_new(c->loop, work, c);
    return c->timer ? 0 : MTP_ENOMEM;
}

void mtp_client__loop_free(mtp_client_t *c)
{
    mtp_timer_free(c->timer);
    c->timer = NULL;
    if (c->own_loop)
        mtp_loop_free(c->loop);
    c->loop = NULL;
}

void mtp_client__kick(mtp_client_t *c)
{
    c->kicked = true;
    if (c->timer && !c->in_work && mtp_timer_deadline(c->timer) > mtp_mono_usec())
        mtp_timer_start(c->timer, 0);
}

mtp_loop_t *mtp_client_loop(const mtp_client_t *c)
{
    return c ? c->loop : NULL;
}

size_t mtp_client_fds(mtp_client_t *c, struct pollfd *fds, size_t max)
{
    return c ? mtp_loop_fds(c->loop, fds, max) : 0;
}

int mtp_client_timeout(mtp_client_t *c)
{
    return c ? mtp_loop_timeout_ms(c->loop) : -1;
}

int mtp_client_process(mtp_client_t *c, const struct pollfd *fds, size_t n)
{
    if (!c)
        return MTP_EINVAL;
    int rc = mtp_loop_process(c->loop, fds, n);
    return rc < 0 ? rc : 0;
}

/* Work that is due now (calls queued since the last iteration) runs before waiting, so
 * that a step sends them and waits for their answers in one iteration. */
static void work_now(mtp_client_t *c)
{
    if (c->kicked && !c->in_work && mtp_timer_deadline(c->timer) <= mtp_mono_usec()) {
        mtp_timer_stop(c->timer);
        work(c->timer, c);
    }
}

int mtp_client_step(mtp_client_t *c, int ms)
{
    if (!c)
        return MTP_EINVAL;
    work_now(c);
    int rc = mtp_loop_run_once(c->loop, ms < 0 ? -1 : (mtp_usec_t)ms * 1000);
    return rc < 0 ? rc : 0;
}

int mtp_client_run(mtp_client_t *c, const volatile bool *done, int ms)
{
    if (!c)
        return MTP_EINVAL;
    mtp_usec_t until = ms < 0 ? MTP_TIME_NEVER : mtp_mono_usec() + (mtp_usec_t)ms * 1000;
    while (!(done && *done)) {
        mtp_usec_t now = mtp_mono_usec();
        if (now >= until)
            return MTP_ETIMEDOUT;
        mtp_usec_t w = until == MTP_TIME_NEVER ? MTP_USEC_PER_SEC : until - now;
        work_now(c);
        int rc = mtp_loop_run_once(c->loop, w > MTP_USEC_PER_SEC ? MTP_USEC_PER_SEC : w);
        if (rc < 0)
            return rc;
        if (!done && !c->calls)
            return 0;
    }
    return 0;
}
