/*
 * libmtproto client — synchronous wrappers: mtp_call_sync* run the client's loop until
 * their call completes (other calls progress meanwhile), plus the DC table calls and the
 * result formatter.
 */
#define _GNU_SOURCE
#include "client_core.h"

#include <mtproto/tl_schema.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ sync calls */

typedef struct sync_ctx {
    bool done;
    mtp_arena_t *arena;
    const mtp_tl_object_t *method;  /* its declared result type decides how to decode */
    mtp_tl_object_t *result;
    mtp_call_error_t err;
} sync_ctx_t;

static void sync_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                    const mtp_call_error_t *e)
{
    sync_ctx_t *s = user;
    s->err = *e;
    if (!e->err && s->arena) {
        int rc = mtp_tl_decode_result(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), s->method, res, len,
                                      s->arena, &s->result);
        if (rc) {
            s->err.err = rc;
            s->err.number = -1;
        } else if (mtp_peers__feed(c->peers, s->result) &&
                   mtp_peers__want_save(c->peers, mtp_now_usec())) {
            mtp_client_save(c);
        }
    }
    s->done = true;
}

/* The calls whose completion context is `user` (a synchronous caller giving up): their
 * answers are dropped from now on. */
static void detach_calls(mtp_client_t *c, void *user)
{
    for (mtp_ccall_t *x = c->calls; x; x = x->next)
        if (x->user == user) {
            x->cb = NULL;
            x->user = NULL;
        }
}

int mtp_call_sync_ex(mtp_client_t *c, int dc, unsigned flags, const mtp_tl_object_t *obj,
                     mtp_arena_t *arena, mtp_tl_object_t **result, mtp_call_error_t *err)
{
    sync_ctx_t s;
    memset(&s, 0, sizeof s);
    s.arena = arena;
    s.method = obj;
    mtp_buf_t b;
    int rc = mtp_client__encode(obj, &b);
    if (!rc) {
        rc = mtp_call_ex(c, dc, flags | MTP_CALL__FED, b.data, b.len, sync_cb, &s);
        mtp_buf_free(&b);
    }
    if (rc) {
        s.err.err = rc;
        s.err.number = -1;
    } else {
        while (!s.done)
            if ((rc = mtp_client_step(c, 1000)) != 0)
                break;
        if (!s.done) {
            /* only when poll fails: the call stays queued, but its answer must not reach
             * this stack frame once we have returned */
            detach_calls(c, &s);
            s.err.err = rc;
        }
    }
    if (result)
        *result = s.err.err ? NULL : s.result;
    if (err)
        *err = s.err;
    return s.err.err;
}

int mtp_call_sync(mtp_client_t *c, const mtp_tl_object_t *obj, mtp_arena_t *arena,
                  mtp_tl_object_t **result, mtp_call_error_t *err)
{
    return mtp_call_sync_ex(c, 0, 0, obj, arena, result, err);
}

int mtp_client_set_dc(mtp_client_t *c, int id, const char *host, uint16_t port)
{
    if (!c || id < 1 || id > MTP_CLIENT_MAX_DCS || !host || !*host || !port ||
        strlen(host) >= sizeof c->cfg.dcs[0].host)
        return MTP_EINVAL;
    mtp_client_dc_t *d = (mtp_client_dc_t *)mtp_client__dc_addr(c, id);
    if (!d) {
        if (c->cfg.n_dcs >= MTP_CLIENT_MAX_DCS)
            return MTP_EFULL;
        d = &c->cfg.dcs[c->cfg.n_dcs++];
    }
    d->id = id;
    snprintf(d->host, sizeof d->host, "%s", host);
    d->port = port;
    mtp_client__dc_forget_addr(c, id);  /* the next connection uses the new address */
    return 0;
}

int mtp_client_update_dcs(mtp_client_t *c, int dc, mtp_call_error_t *err)
{
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return MTP_ENOMEM;
    mtp_tl_object_t *o = NULL;
    int rc = mtp_call_sync_ex(c, dc, MTP_CALL_NO_AUTH, (mtp_tl_object_t *)MTP_NEW(a, help_getConfig),
                              a, &o, err);
    if (!rc && o->tl->id == MTP_ID_config) {
        const mtp_config_t *cf = (const mtp_config_t *)o;
        for (uint32_t i = 0; i < cf->dc_options.n; i++) {
            const mtp_tl_object_t *x = cf->dc_options.v[i];
            if (x->tl->id != MTP_ID_dcOption)
                continue;
            const mtp_dcOption_t *d = (const mtp_dcOption_t *)x;
            if (d->ipv6 || d->media_only || d->cdn || d->ip_address.len >= 64 ||
                d->id < 1 || d->id > MTP_CLIENT_MAX_DCS || mtp_client__dc_addr(c, d->id))
                continue;
            char host[64];
            memcpy(host, d->ip_address.ptr, d->ip_address.len);
            host[d->ip_address.len] = 0;
            mtp_client_set_dc(c, d->id, host, (uint16_t)d->port);
        }
    }
    mtp_arena_free(a);
    return rc;
}

typedef struct raw_ctx {
    bool done;
    mtp_buf_t *out;
    mtp_call_error_t err;
} raw_ctx_t;

static void raw_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                   const mtp_call_error_t *e)
{
    (void)c;
    raw_ctx_t *r = user;
    r->err = *e;
    if (!e->err && mtp_buf_append(r->out, res, len)) {
        r->err.err = MTP_ENOMEM;
        r->err.number = -1;
    }
    r->done = true;
}

int mtp_call_sync_raw(mtp_client_t *c, int dc, unsigned flags, const uint8_t *body, size_t len,
                      mtp_buf_t *out, mtp_call_error_t *err)
{
    raw_ctx_t r;
    memset(&r, 0, sizeof r);
    r.out = out;
    size_t start = out->len;
    int rc = mtp_call_ex(c, dc, flags | MTP_CALL__FED, body, len, raw_cb, &r);
    if (rc) {
        r.err.err = rc;
        r.err.number = -1;
    } else {
        while (!r.done)
            if ((rc = mtp_client_step(c, 1000)) != 0)
                break;
        if (!r.done) {
            detach_calls(c, &r);
            r.err.err = rc;
        }
    }
    if (!r.err.err && out->len > start) {
        mtp_peers__feed_raw(c->peers, body, len, out->data + start, out->len - start);
        if (mtp_peers__want_save(c->peers, mtp_now_usec()))
            mtp_client_save(c);
    }
    if (err)
        *err = r.err;
    return r.err.err;
}

int mtp_result_format(const mtp_tl_object_t *method, const uint8_t *res, size_t len,
                      bool pretty, mtp_buf_t *out)
{
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return MTP_ENOMEM;
    const mtp_tl_layer_t *L = mtp_tl_layer(MTP_TL_DEFAULT_LAYER);
    const mtp_tl_type_t *t = mtp_tl_method_result(method);
    int rc;
    if (!t) {
        mtp_tl_object_t *o = NULL;
        rc = mtp_tl_decode(L, res, len, a, &o);
        if (!rc)
            rc = pretty ? mtp_tl_print(o, out) : mtp_tl_to_json(o, out);
    } else {
        void *dst = mtp_arena_alloc(a, t->size ? t->size : 16);
        mtp_tl_reader_t r;
        mtp_tl_reader_init(&r, L, res, len, a);
        rc = dst ? mtp_tl_read_value(&r, t, dst) : MTP_ENOMEM;
        if (!rc && r.err)
            rc = r.err;
        if (!rc && r.p != r.end)
            rc = MTP_EBADTL;
        if (!rc)
            rc = pretty ? mtp_tl_print_value(t, dst, out) : mtp_tl_value_to_json(t, dst, out);
    }
    mtp_arena_free(a);
    return rc;
}
