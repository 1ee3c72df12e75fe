/*
 * libmtproto client — call policy: the queue of calls, initConnection on a connection's
 * first call, migration (PHONE/NETWORK/USER_MIGRATE move home, FILE_MIGRATE moves the
 * call), FLOOD_WAIT / SLOWMODE_WAIT retries below the threshold, authorization export /
 * import on non-home DCs, timeouts, and the events of a connection's core.
 * Policy times (deadlines, waits) are monotonic; the core is given wall-clock time.
 */
#define _GNU_SOURCE
#include "client_core.h"

#include <mtproto/tl_schema.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ calls */

static void unlink_call(mtp_client_t *c, mtp_ccall_t *x)
{
    for (mtp_ccall_t **pp = &c->calls; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            return;
        }
}

void mtp_client__deliver(mtp_client_t *c, mtp_ccall_t *x, const uint8_t *res, size_t len,
                    const mtp_call_error_t *e)
{
    unlink_call(c, x);
    mtp_call_error_t ok = { .err = 0, .number = -1 };
    if (!e)
        e = &ok;
    if (e->err == MTP_ERPC)
        c->st.rpc_errors++;
    else if (!e->err)
        c->st.results++;
    c->answered_dc = x->on_dc;
    if (!e->err && res && mtp_upd__is_updates(res, len))
        mtp_upd__feed(c, res, len, false);  /* e.g. sendMessage: moves pts, no false gap */
    else if (!e->err && res && !c->no_async_feed &&
             !(x->flags & (MTP_CALL_FILE | MTP_CALL_NO_PEERS | MTP_CALL__FED)))
        mtp_peers__feed_raw(c->peers, x->body, x->len, res, len);  /* as the sync path */
    if (x->cb)
        x->cb(c, x->user, res, len, e);
    free(x->body);
    free(x);
}

int mtp_call_ex(mtp_client_t *c, int dc, unsigned flags, const uint8_t *body, size_t len,
                mtp_call_cb cb, void *user)
{
    if (!c || !body || !len || dc < 0 || dc > MTP_CLIENT_MAX_DCS || (dc && !mtp_client__dc_addr(c, dc)))
        return MTP_EINVAL;
    mtp_ccall_t *x = calloc(1, sizeof *x);
    uint8_t *b = malloc(len);
    if (!x || !b) {
        free(x);
        free(b);
        return MTP_ENOMEM;
    }
    memcpy(b, body, len);
    x->dc = dc;
    x->flags = flags;
    x->body = b;
    x->len = len;
    x->cb = cb;
    x->user = user;
    x->deadline = mtp_mono_usec() + c->cfg.call_timeout;
    /* append (FIFO) */
    mtp_ccall_t **pp = &c->calls;
    while (*pp)
        pp = &(*pp)->next;
    *pp = x;
    c->st.calls++;
    mtp_client__kick(c);
    return 0;
}

int mtp_call(mtp_client_t *c, const mtp_tl_object_t *obj, mtp_call_cb cb, void *user)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = mtp_tl_encode(obj, &b);
    if (!rc)
        rc = mtp_call_ex(c, 0, 0, b.data, b.len, cb, user);
    mtp_buf_free(&b);
    return rc;
}

int mtp_client__encode(const void *obj, mtp_buf_t *b)
{
    mtp_buf_init(b);
    int rc = mtp_tl_encode((const mtp_tl_object_t *)obj, b);
    if (rc)
        mtp_buf_free(b);
    return rc;
}

/* ---- authorization import on non-home DCs ---- */

static void import_done(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                        const mtp_call_error_t *e)
{
    (void)res;
    (void)len;
    int dc = (int)(intptr_t)user;
    mtp_dcstate_t *d = &c->dc[dc];
    d->importing = false;
    if (!e->err) {
        d->authorized = true;
        mtp_client_save(c);
    } else {
        d->import_err = e->err;
        d->import_error = *e;
    }
}

static void export_done(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                        const mtp_call_error_t *e)
{
    int dc = (int)(intptr_t)user;
    mtp_dcstate_t *d = &c->dc[dc];
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    int rc = e->err;
    if (!rc && (!a || mtp_tl_decode(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), res, len, a, &o) ||
                o->tl->id != MTP_ID_auth_exportedAuthorization))
        rc = MTP_EPROTO;
    if (!rc) {
        mtp_auth_exportedAuthorization_t *ex = (mtp_auth_exportedAuthorization_t *)o;
        mtp_auth_importAuthorization_t *im = MTP_NEW(a, auth_importAuthorization);
        im->id = ex->id;
        im->bytes = ex->bytes;
        mtp_buf_t b;
        rc = mtp_client__encode(im, &b);
        if (!rc) {
            rc = mtp_call_ex(c, dc, MTP_CALL_NO_AUTH, b.data, b.len, import_done, user);
            mtp_buf_free(&b);
        }
    }
    if (rc) {
        d->importing = false;
        d->import_err = rc;
        if (e->err)
            d->import_error = *e;
        else
            d->import_error = (mtp_call_error_t){ .err = rc, .number = -1 };
    }
    mtp_arena_free(a);
}

static void start_import(mtp_client_t *c, int dc)
{
    mtp_dcstate_t *d = &c->dc[dc];
    d->importing = true;
    d->import_err = 0;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_auth_exportAuthorization_t *ex = a ? MTP_NEW(a, auth_exportAuthorization) : NULL;
    mtp_buf_t b;
    int rc = MTP_ENOMEM;
    if (ex) {
        ex->dc_id = dc;
        rc = mtp_client__encode(ex, &b);
        if (!rc) {
            rc = mtp_call_ex(c, c->home, MTP_CALL_NO_AUTH, b.data, b.len, export_done,
                             (void *)(intptr_t)dc);
            mtp_buf_free(&b);
        }
    }
    mtp_arena_free(a);
    if (rc) {
        d->importing = false;
        d->import_err = rc;
        d->import_error = (mtp_call_error_t){ .err = rc, .number = -1 };
    }
}

/* ---- sending ---- */

static int send_call(mtp_client_t *c, mtp_ccall_t *x, int dc, mtp_cconn_t *k)
{
    mtp_usec_t now = mtp_now_usec();   /* protocol time: msg_ids */
    int64_t id;
    /* file parts are sent as they are: media is compressed already, and deflating a
     * 512 KiB part costs more than sending it (official clients do not gzip them either) */
    uint32_t sflags = MTP_CONN_DEFER | ((x->flags & MTP_CALL_FILE) ? MTP_SESS_NO_GZIP : 0);
    if (!k->inited) {
        mtp_init_connection_t ic;
        memset(&ic, 0, sizeof ic);
        ic.layer = MTP_TL_DEFAULT_LAYER;
        ic.api_id = c->cfg.api_id;
        ic.device_model = c->device_model;
        ic.system_version = c->system_version;
        ic.app_version = c->app_version;
        ic.system_lang_code = c->lang_code;
        ic.lang_pack = "";
        ic.lang_code = ic.system_lang_code;
        mtp_buf_t b;
        mtp_buf_init(&b);
        int rc = mtp_wrap_init_connection(&ic, x->body, x->len, &b);
        id = rc ? rc : mtp_conn_call(k->mc, b.data, b.len, sflags, x, now);
        mtp_buf_free(&b);
        if (id > 0)
            k->inited = true;
    } else {
        id = mtp_conn_call(k->mc, x->body, x->len, sflags, x, now);
    }
    if (id < 0)
        return (int)id;
    x->on = k;
    x->on_dc = dc;
    x->id = (uint64_t)id;
    k->dirty = true;    /* dispatch() flushes once for everything it queued */
    k->inflight++;
    c->st.bytes_up += x->len;
    return 0;
}

static mtp_cconn_t *pick_conn(mtp_client_t *c, int dc, unsigned flags)
{
    mtp_dcstate_t *d = &c->dc[dc];
    if (!(flags & MTP_CALL_FILE))
        return mtp_client__conn_get(c, dc, 0);
    if (!d->has_key)        /* the main connection makes the key */
        return mtp_client__conn_get(c, dc, 0) ? NULL : NULL;
    mtp_cconn_t *best = NULL;
    /* parts queued in the same dispatch stay on one connection: they leave in one packet
     * and the server can answer (and seal) them together */
    for (int i = 1; i <= c->cfg.file_conns; i++) {
        mtp_cconn_t *k = &d->conns[i];
        if (k->dirty && k->mc && mtp_conn_has_key(k->mc) && !k->connecting &&
            k->inflight < 2 * c->cfg.file_parallel)
            return k;
    }
    for (int i = 1; i <= c->cfg.file_conns; i++) {
        mtp_cconn_t *k = d->conns[i].mc ? &d->conns[i] : NULL;
        if (!k) {
            k = mtp_client__conn_get(c, dc, i);
            if (k && k->inflight == 0)
                return k;
        }
        if (k && mtp_conn_has_key(k->mc) && (!best || k->inflight < best->inflight))
            best = k;
    }
    return best;
}

static void revive(mtp_client_t *c)
{
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        mtp_dcstate_t *d = &c->dc[i];
        for (int k = 0; k < MTP_CLIENT__CONNS_PER_DC; k++) {
            mtp_cconn_t *cc = &d->conns[k];
            if (!cc->saved || cc->mc)
                continue;
            if (d->attempts > (unsigned)c->cfg.max_reconnects || !d->has_key)
                mtp_client__drop_saved(c, cc);      /* the calls are failed or re-sent by dispatch */
            else
                mtp_client__conn_get(c, i, k);
        }
    }
}

void mtp_client__dispatch(mtp_client_t *c)
{
    mtp_usec_t now = mtp_mono_usec();
    revive(c);
    for (mtp_ccall_t *x = c->calls, *nx; x; x = nx) {
        nx = x->next;
        if (x->on)
            continue;
        if (now >= x->deadline || x->hops > 10) {
            mtp_call_error_t e = { .err = now >= x->deadline ? MTP_ETIMEDOUT : MTP_ECLOSED,
                                   .number = -1 };
            mtp_client__deliver(c, x, NULL, 0, &e);
            nx = c->calls;      /* the list may have changed in the callback */
            continue;
        }
        if (now < x->not_before)
            continue;
        int dc = x->dc ? x->dc : c->home;
        mtp_dcstate_t *d = &c->dc[dc];
        if (d->attempts > (unsigned)c->cfg.max_reconnects) {
            mtp_call_error_t e = { .err = MTP_ECLOSED, .number = -1 };
            snprintf(e.message, sizeof e.message, "DC%d_UNREACHABLE", dc);
            mtp_client__deliver(c, x, NULL, 0, &e);
            nx = c->calls;
            continue;
        }
        if (dc != c->home && c->user_id && !(x->flags & MTP_CALL_NO_AUTH) && !d->authorized) {
            if (d->import_err) {
                mtp_call_error_t e = d->import_error;
                d->import_err = 0;
                mtp_client__deliver(c, x, NULL, 0, &e);
                nx = c->calls;
                continue;
            }
            if (!d->importing)
                start_import(c, dc);
            continue;
        }
        mtp_cconn_t *k = pick_conn(c, dc, x->flags);
        if (!k || !mtp_conn_has_key(k->mc) || k->connecting)
            continue;
        if ((x->flags & MTP_CALL_FILE) && k->inflight >= 2 * c->cfg.file_parallel)
            continue;
        int rc = send_call(c, x, dc, k);
        if (rc) {
            mtp_call_error_t e = { .err = rc, .number = -1 };
            mtp_client__deliver(c, x, NULL, 0, &e);
            nx = c->calls;
        }
    }
    /* a DC that ran out of reconnects failed the calls queued for it (above); calls made
     * from now on try it afresh instead of failing forever (fault matrix: drop) */
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        if (c->dc[i].attempts > (unsigned)c->cfg.max_reconnects)
            c->dc[i].attempts = 0;
    /* calls queued together leave together: containers, one encryption per packet */
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int j = 0; j < MTP_CLIENT__CONNS_PER_DC; j++) {
            mtp_cconn_t *k = &c->dc[i].conns[j];
            if (k->dirty) {
                k->dirty = false;
                if (k->mc)
                    mtp_conn_flush(k->mc, mtp_now_usec());
            }
        }
}

/* The 401 errors that mean the authorization of the key is gone (not
 * SESSION_PASSWORD_NEEDED, which is a step of a login). */
static bool logged_out(const char *m)
{
    static const char *const gone[] = { "AUTH_KEY_UNREGISTERED", "AUTH_KEY_INVALID",
                                        "AUTH_KEY_PERM_EMPTY", "SESSION_REVOKED",
                                        "SESSION_EXPIRED", "USER_DEACTIVATED",
                                        "USER_DEACTIVATED_BAN" };
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        if (!strcmp(m, gone[i]))
            return true;
    return false;
}

/* A call's result arrived. */
static void on_result(mtp_client_t *c, mtp_cconn_t *k, const mtp_session_event_t *sev)
{
    mtp_ccall_t *x = (mtp_ccall_t *)sev->user;
    bool found = false;
    for (mtp_ccall_t *y = c->calls; y; y = y->next)
        if (y == x && y->on == k && y->id == sev->call_id)
            found = true;
    if (!found)
        return;     /* not ours (anymore) */
    k->inflight--;
    int dc = x->on_dc;
    mtp_dcstate_t *d = &c->dc[dc];
    d->attempts = 0;
    mtp_usec_t now = mtp_mono_usec();
    if (!sev->err) {
        c->st.bytes_down += sev->body.len;
        mtp_client__deliver(c, x, sev->body.ptr, sev->body.len, NULL);
        return;
    }
    mtp_call_error_t e = { .err = sev->err, .number = -1 };
    if (sev->err == MTP_ERPC) {
        const mtp_rpc_error_t *r = &sev->rpc_error;
        e.code = r->code;
        size_t n = r->message.len < sizeof e.message - 1 ? r->message.len : sizeof e.message - 1;
        memcpy(e.message, r->message.ptr, n);
        e.message[n] = 0;
        if (r->has_arg)
            e.number = r->arg;
        int64_t arg = r->has_arg ? r->arg : -1;
        switch (r->kind) {
        case MTP_RPCERR_PHONE_MIGRATE:
        case MTP_RPCERR_NETWORK_MIGRATE:
        case MTP_RPCERR_USER_MIGRATE:
            if (arg >= 1 && arg <= MTP_CLIENT_MAX_DCS && mtp_client__dc_addr(c, (int)arg) && x->hops < 5) {
                mtp_client__log(c, MTP_LOG_INFO, "home DC %d -> %d (%.*s)", c->home, (int)arg,
                                (int)r->message.len, (const char *)r->message.ptr);
                c->home = (int)arg;
                c->dc[c->home].authorized = true;
                c->st.migrations++;
                mtp_client_save(c);
                x->dc = 0;
                x->hops++;
                mtp_client__requeue(x);
                return;
            }
            break;
        case MTP_RPCERR_FILE_MIGRATE:
            if (arg >= 1 && arg <= MTP_CLIENT_MAX_DCS && mtp_client__dc_addr(c, (int)arg) && x->hops < 5) {
                mtp_client__log(c, MTP_LOG_DEBUG, "file call moves to DC%d", (int)arg);
                c->st.migrations++;
                x->dc = (int)arg;
                x->hops++;
                mtp_client__requeue(x);
                return;
            }
            break;
        case MTP_RPCERR_FLOOD_WAIT:
        case MTP_RPCERR_FLOOD_PREMIUM_WAIT:
        case MTP_RPCERR_SLOWMODE_WAIT:
            c->st.flood_waits++;
            if (arg >= 0 && c->cfg.flood_threshold >= 0 && arg <= c->cfg.flood_threshold) {
                x->not_before = now + (arg ? arg : 1) * MTP_USEC_PER_SEC;
                x->deadline += (arg ? arg : 1) * MTP_USEC_PER_SEC;
                mtp_client__requeue(x);
                return;
            }
            e.err = MTP_EFLOOD;
            break;
        default:
            if (r->code == 401 && dc == c->home && c->user_id && logged_out(e.message)) {
                /* authenticated (inside the encrypted rpc_error): the login is gone */
                mtp_client__log(c, MTP_LOG_WARN, "DC%d: %s: logged out", dc, e.message);
                c->user_id = 0;
                d->authorized = false;
                mtp_client_save(c);
                break;
            }
            if (r->code == 401 && dc != c->home && c->user_id && d->authorized &&
                x->hops < 3 && !(x->flags & MTP_CALL_NO_AUTH)) {
                d->authorized = false;      /* import again */
                x->hops++;
                mtp_client__requeue(x);
                return;
            }
            break;
        }
    } else if (x->timed_out) {
        e.err = MTP_ETIMEDOUT;
    }
    mtp_client__deliver(c, x, NULL, 0, &e);
}

/* A transport error (a 4-byte packet): not authenticated, anyone on the path can forge
 * one. It ends the connection (the core marks it dead) and changes no lasting state, with
 * one exception: -404 ("auth key not found") drops the key only when confirmed, that is
 * a second fresh connection in a row got it to an encrypted request before carrying any
 * authenticated packet. Never on a connection that already carried one; and the user is
 * not forgotten here: only an authenticated 401 (inside an rpc_error) does that. */
static void transport_error(mtp_client_t *c, mtp_cconn_t *k, int32_t code)
{
    int dc = k->dc;
    mtp_dcstate_t *d = &c->dc[dc];
    mtp_client__log(c, MTP_LOG_INFO, "DC%d: transport error %d", dc, (int)code);
    if (code != -404 || !d->has_key || !k->mc || !mtp_conn_has_key(k->mc))
        return;
    if (k->authed) {
        mtp_client__log(c, MTP_LOG_WARN, "DC%d: -404 after authenticated packets: ignored", dc);
        return;
    }
    if (++d->unconfirmed_404 < 2) {
        mtp_client__log(c, MTP_LOG_INFO, "DC%d: -404 not confirmed yet: the key is kept", dc);
        return;
    }
    /* the server forgot our key: make a new one (saved once it exists) */
    mtp_client__log(c, MTP_LOG_WARN, "DC%d: -404 confirmed: a new auth key", dc);
    d->unconfirmed_404 = 0;
    d->has_key = false;
    d->authorized = false;
}

void mtp_client__conn_events(mtp_client_t *c, mtp_cconn_t *k)
{
    mtp_conn_event_t ev;
    int dc = k->dc;
    mtp_dcstate_t *d = &c->dc[dc];
    while (k->mc && mtp_conn_next_event(k->mc, &ev) == 1) {
        switch (ev.type) {
        case MTP_CONN_EV_KEY:
            k->authed = true;
            d->unconfirmed_404 = 0;
            d->key = ev.key.key;
            d->has_key = true;
            d->salt = ev.key.server_salt;
            d->time_offset = ev.key.time_offset;
            d->attempts = 0;
            mtp_client__log(c, MTP_LOG_DEBUG, "DC%d: new auth key", dc);
            mtp_client_save(c);
            memset(&ev.key, 0, sizeof ev.key);
            break;
        case MTP_CONN_EV_SESSION:
            k->authed = true;           /* decrypted and checked with the key */
            d->unconfirmed_404 = 0;
            if (ev.sev.type == MTP_SESSION_EV_RESULT) {
                on_result(c, k, &ev.sev);
            } else if (ev.sev.type == MTP_SESSION_EV_UPDATE) {
                mtp_upd__feed(c, ev.sev.body.ptr, ev.sev.body.len, true);
            } else if (ev.sev.type == MTP_SESSION_EV_NEW_SESSION) {
                if (ev.sev.server_salt)
                    d->salt = ev.sev.server_salt;
                if (dc == c->home && k == &d->conns[0])
                    mtp_upd__new_session(c);    /* pushes may have been lost */
            }
            break;
        case MTP_CONN_EV_TRANSPORT_ERROR:
            transport_error(c, k, ev.code);
            break;
        default:
            break;
        }
    }
}

void mtp_client__check_timeouts(mtp_client_t *c)
{
    mtp_usec_t now = mtp_mono_usec();
    for (mtp_ccall_t *x = c->calls; x; x = x->next)
        if (x->on && !x->timed_out && now >= x->deadline) {
            x->timed_out = true;
            mtp_session_t *s = x->on->mc ? mtp_conn_session(x->on->mc) : x->on->saved;
            if (s)
                mtp_session_cancel(s, x->id, mtp_now_usec());
        }
}
