/*
 * libmtproto client — lifecycle and state accessors. The client's work is split by job:
 * client_config.c (validation, copies), client_store.c (session file / export),
 * client_conn.c (streams, addresses, reconnects), client_call.c (call policy),
 * client_loop.c (the loop glue), client_sync.c (synchronous wrappers).
 * Policy only: framing, crypto, key exchange, sessions and RPC error parsing come from
 * the core (mtp_conn_t / mtp_session_t).
 */
#define _GNU_SOURCE
#include "client_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void client_destroy(mtp_client_t *c)
{
    if (c->rsa)
        mtp_rsa_free(c->rsa);
    mtp_peers__free(c->peers);
    mtp_upd__free(c->upd);
    mtp_client__loop_free(c);
    mtp_client__session_unlock(c);
    mtp_client__config_free(c);
    for (int i = 0; i <= MTP_CLIENT_MAX_DCS; i++)
        mtp_secure_zero(&c->dc[i].key, sizeof c->dc[i].key);
    free(c);
}

int mtp_client_new(const mtp_client_config_t *cfg, mtp_client_t **out)
{
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    mtp_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return MTP_ENOMEM;
    c->lock_fd = -1;
    for (int i = 0; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int k = 0; k < MTP_CLIENT__CONNS_PER_DC; k++) {
            c->dc[i].conns[k].client = c;
            c->dc[i].conns[k].dc = i;
            c->dc[i].conns[k].kind = k;
        }
    const char *pem = NULL;
    int e = mtp_client__config_copy(c, cfg, &pem);
    if (!e)
        e = mtp_rsa_load_public_pem(pem, strlen(pem), &c->rsa);
    if (!e && (!(c->peers = mtp_peers__new(cfg->peer_cache_max)) || !(c->upd = mtp_upd__new())))
        e = MTP_ENOMEM;
    if (!e)
        e = mtp_client__loop_init(c, cfg->loop);
    if (!e && c->session_path[0])
        e = mtp_client__session_load(c);
    if (e) {
        if (e != MTP_EINVAL && e != MTP_EVERSION)
            mtp_client__log(c, MTP_LOG_ERROR, "client not created: %s", mtp_strerror(e));
        client_destroy(c);
        return e;
    }
    c->rsa_keys[0] = c->rsa;
    mtp_client__log(c, MTP_LOG_DEBUG, "client created: %d DCs, home DC %d", c->cfg.n_dcs,
                    c->home);
    *out = c;
    return 0;
}

void mtp_client_free(mtp_client_t *c)
{
    if (!c)
        return;
    if (mtp_peers__dirty(c->peers) || mtp_upd__dirty(c->upd))
        mtp_client_save(c);     /* peers learned / updates state moved since the last save */
    mtp_ops__client_closing(c); /* op.c: running operations end with MTP_ECLOSED */
    mtp_client__conns_free(c);
    mtp_call_error_t e = { .err = MTP_ECLOSED, .number = -1 };
    snprintf(e.message, sizeof e.message, "CLIENT_CLOSED");
    while (c->calls)
        mtp_client__deliver(c, c->calls, NULL, 0, &e);
    client_destroy(c);
}

int mtp_client_home_dc(const mtp_client_t *c) { return c->home; }
int64_t mtp_client_user_id(const mtp_client_t *c) { return c->user_id; }
bool mtp_client_authorized(const mtp_client_t *c) { return c->user_id != 0; }
void mtp_client_stats(const mtp_client_t *c, mtp_client_stats_t *out) { *out = c->st; }

/* internal: the DC the current callback's call was answered on */
int mtp_client__answered_dc(const mtp_client_t *c);
int mtp_client__answered_dc(const mtp_client_t *c)
{
    return c->answered_dc;
}

void mtp_client__set_user(mtp_client_t *c, int64_t user_id);
void mtp_client__set_user(mtp_client_t *c, int64_t user_id)
{
    if (c->user_id && c->user_id != user_id)
        mtp_peers__clear(c->peers);     /* access hashes belong to the old account */
    if (c->user_id != user_id)
        mtp_upd__reset(c->upd);         /* so does the updates state */
    c->user_id = user_id;
    c->dc[c->home].authorized = user_id != 0;
    if (!user_id)
        for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
            c->dc[i].authorized = false;
    mtp_client_save(c);
}

void mtp_client_set_async_peer_feed(mtp_client_t *c, bool on)
{
    if (c)
        c->no_async_feed = !on;
}

mtp_op_t **mtp_client__ops(mtp_client_t *c)
{
    return &c->ops;
}

void mtp_client__cancel_calls(mtp_client_t *c, mtp_call_cb cb,
                              bool (*match)(void *user, void *ctx), void *ctx)
{
    mtp_call_error_t e = { .err = MTP_ECANCELED, .number = -1 };
    for (mtp_ccall_t *x = c->calls; x;) {
        if (x->cb != cb || !match(x->user, ctx)) {
            x = x->next;
        } else if (!x->on) {
            mtp_client__deliver(c, x, NULL, 0, &e);     /* not sent: ends now */
            x = c->calls;
        } else {
            mtp_session_t *s = x->on->mc ? mtp_conn_session(x->on->mc) : x->on->saved;
            if (s)      /* rpc_drop_answer; the call ends with MTP_ECANCELED */
                mtp_session_cancel(s, x->id, mtp_now_usec());
            x = x->next;
        }
    }
}

mtp_peers_t *mtp_client__peers(mtp_client_t *c)
{
    return c->peers;
}

mtp_upd_t *mtp_client__upd(mtp_client_t *c)
{
    return c->upd;
}

mtp_usec_t mtp_client__now(const mtp_client_t *c)
{
    (void)c;
    return mtp_mono_usec();     /* the clock of the client's timers (client_loop.c) */
}

const char *mtp_client__api_hash(const mtp_client_t *c);
const char *mtp_client__api_hash(const mtp_client_t *c)
{
    return c->api_hash;
}

int mtp_client__api_id(const mtp_client_t *c);
int mtp_client__api_id(const mtp_client_t *c)
{
    return c->cfg.api_id;
}

int mtp_client__file_parallel(const mtp_client_t *c);
int mtp_client__file_parallel(const mtp_client_t *c)
{
    return c->cfg.file_parallel * c->cfg.file_conns;
}

