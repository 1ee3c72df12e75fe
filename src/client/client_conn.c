/*
 * libmtproto client — connections: per DC a main connection and file connections, each an
 * mtp_stream_t on the client's loop carrying an mtp_conn_t (the sans-IO core). Addresses:
 * literals are parsed on the spot, host names resolved by mtp_resolve_start (a lookup
 * thread reporting back through the loop) — chosen over a resolver callback in the config
 * because it needs nothing from the application and keeps one code path for every
 * embedder; the loop's thread never blocks. Reconnects back off exponentially with jitter;
 * a broken connection's session is kept with its calls and continued on the next one.
 */
#define _GNU_SOURCE
#include "client_core.h"

#include <mtproto/net.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_CHUNK ((size_t)64 << 10)     /* read room when the socket says little */
#define RX_MAX ((size_t)8 << 20)        /* most read at once (a few file parts) */
#define EARLY_YIELD_BYTES ((size_t)256 << 10)
#define STREAM_MAX_OUTPUT ((size_t)24 << 20)
#define CONNECT_TIMEOUT (10 * MTP_USEC_PER_SEC)

static void backoff(mtp_client_t *c, int dc, const char *why)
{
    mtp_dcstate_t *d = &c->dc[dc];
    mtp_usec_t delay = mtp_backoff_delay(c->cfg.backoff_base, c->cfg.backoff_cap, d->attempts,
                                         NULL);
    d->retry_at = mtp_mono_usec() + delay + 1;
    d->attempts++;
    mtp_client__log(c, MTP_LOG_DEBUG, "DC%d: %s; attempt %u in %lld ms", dc, why, d->attempts,
                    (long long)(delay / 1000));
}

/* ---- stream callbacks ---- */

static void on_alloc(mtp_stream_t *s, size_t suggested, uint8_t **buf, size_t *cap)
{
    mtp_cconn_t *k = mtp_stream_user(s);
    *buf = NULL;
    *cap = 0;
    if (!k || !k->mc || k->yield)
        return;
    size_t want = suggested < RX_CHUNK ? RX_CHUNK : suggested > RX_MAX ? RX_MAX : suggested;
    size_t room = 0;
    if (mtp_conn_rx_space(k->mc, want, buf, &room)) {
        *buf = NULL;
        mtp_client__conn_drop(k->client, k, true);
        return;
    }
    *cap = room > RX_MAX ? RX_MAX : room;
}

static void on_data(mtp_stream_t *s, const uint8_t *data, size_t n)
{
    (void)data;     /* read in place: the room on_alloc gave (mtp_conn_rx_space) */
    mtp_cconn_t *k = mtp_stream_user(s);
    if (!k || !k->mc)
        return;
    mtp_client_t *c = k->client;
    uint64_t pk0 = mtp_conn_stats(k->mc)->packets_in;
    mtp_conn_rx_commit(k->mc, n, mtp_now_usec());
    k->fed += n;
    k->rx_at = mtp_mono_usec();
    k->pinged = false;
    /* A large packet (a file part) completed: hand it over and let the calls it triggers
     * (the next parts) leave before reading more. The socket stays readable. */
    if (k->fed >= EARLY_YIELD_BYTES && mtp_conn_stats(k->mc)->packets_in != pk0)
        k->yield = true;
    mtp_client__conn_events(c, k);
    if (k->mc && mtp_conn_dead(k->mc))
        mtp_client__conn_drop(c, k, true);
    mtp_client__kick(c);
}

static void on_connect(mtp_stream_t *s)
{
    mtp_cconn_t *k = mtp_stream_user(s);
    if (!k)
        return;
    k->connecting = false;
    mtp_client__log(k->client, MTP_LOG_INFO, "DC%d: connected (%s connection)", k->dc,
                    k->kind ? "file" : "main");
    mtp_client__conn_flush(k->client, k);
    mtp_client__kick(k->client);
}

static void on_drain(mtp_stream_t *s)
{
    mtp_cconn_t *k = mtp_stream_user(s);
    if (k)
        mtp_client__conn_flush(k->client, k);
}

static void on_close(mtp_stream_t *s, int err)
{
    mtp_cconn_t *k = mtp_stream_user(s);
    if (!k || k->st != s)
        return;     /* closed by us: already forgotten */
    mtp_client__log(k->client, MTP_LOG_INFO, "DC%d: connection lost (%s)", k->dc,
                    mtp_strerror(err));
    k->st = NULL;
    mtp_client__conn_drop(k->client, k, true);
    mtp_client__kick(k->client);
}

static void on_close_ignored(mtp_stream_t *s, int err)
{
    (void)s;
    (void)err;
}

static const mtp_stream_cbs_t conn_cbs = {
    .on_data = on_data, .on_close = on_close, .on_connect = on_connect,
    .on_drain = on_drain, .on_alloc = on_alloc,
};
static const mtp_stream_cbs_t closed_cbs = { .on_close = on_close_ignored };

/* ---- addresses ---- */

static void resolved(mtp_resolve_t *r, int err, const struct sockaddr_storage *addrs,
                     const socklen_t *lens, int n, void *user)
{
    (void)r;
    mtp_client_t *c = ((mtp_cconn_t *)user)->client;
    int dc = ((mtp_cconn_t *)user)->dc;
    mtp_dcstate_t *d = &c->dc[dc];
    d->resolving = NULL;
    if (err < 0 || n < 1) {
        backoff(c, dc, "host name not resolved");
    } else {
        int pick = 0;       /* IPv4 first: "localhost" may list ::1 where only 127.0.0.1 listens */
        for (int i = n - 1; i >= 0; i--)
            if (addrs[i].ss_family == AF_INET)
                pick = i;
        d->addr = addrs[pick];
        d->addr_len = lens[pick];
        mtp_client__log(c, MTP_LOG_DEBUG, "DC%d: host name resolved", dc);
    }
    mtp_client__kick(c);
}

/* 0: d->addr is known; MTP_EAGAIN: a lookup runs; < 0: failed (backing off). */
static int dc_address(mtp_client_t *c, int dc)
{
    mtp_dcstate_t *d = &c->dc[dc];
    if (d->addr_len)
        return 0;
    if (d->resolving)
        return MTP_EAGAIN;
    const mtp_client_dc_t *a = mtp_client__dc_addr(c, dc);
    if (!a)
        return MTP_ENOTFOUND;
    if (!mtp_net_parse_literal(a->host, a->port, &d->addr, &d->addr_len))
        return 0;
    /* the user pointer only needs the DC: the main slot's back pointers */
    int rc = mtp_resolve_start(c->loop, a->host, a->port, resolved, &d->conns[0], &d->resolving);
    if (rc) {
        backoff(c, dc, "cannot start a lookup");
        return rc;
    }
    return MTP_EAGAIN;
}

void mtp_client__dc_forget_addr(mtp_client_t *c, int dc)
{
    mtp_dcstate_t *d = &c->dc[dc];
    d->addr_len = 0;
    if (d->resolving) {
        mtp_resolve_cancel(d->resolving);
        d->resolving = NULL;
    }
}

/* ---- opening ---- */

static bool dc_handshaking(const mtp_dcstate_t *d)
{
    for (int k = 0; k < MTP_CLIENT__CONNS_PER_DC; k++)
        if (d->conns[k].mc)
            return true;
    return false;
}

static mtp_conn_t *core_new(mtp_client_t *c, int dc, mtp_cconn_t *k)
{
    mtp_dcstate_t *d = &c->dc[dc];
    mtp_conn_config_t cc;
    mtp_conn_config_init(&cc, MTP_ROLE_CLIENT);
    cc.transport = c->cfg.transport;
    cc.obfuscated = c->cfg.obfuscated && cc.transport != MTP_TRANSPORT_FULL;
    cc.dc_id = dc;
    cc.hs_client.rsa_keys = c->rsa_keys;
    cc.hs_client.n_rsa_keys = 1;
    cc.hs_client.dc_id = dc;
    cc.session.ping_interval = 0;
    cc.session.future_salts = 0;
    if (k->kind)    /* file connections: room to recycle the buffers of the parts in flight */
        cc.session.reuse_bytes = (size_t)(c->cfg.file_parallel + 2) << 20;
    cc.out_limit = 8u << 20;
    if (d->has_key) {
        cc.auth_key = &d->key;
        cc.session.server_salt = d->salt;
        cc.session.time_offset = d->time_offset;
        cc.session.time_synced = true;
        cc.client_session = k->saved;
    } else if (k->saved) {
        mtp_client__drop_saved(c, k);
    }
    mtp_usec_t now = mtp_now_usec();
    mtp_conn_t *mc = NULL;
    int err = mtp_conn_new(&cc, now, &mc);
    if (err && k->saved) {
        mtp_client__drop_saved(c, k);
        cc.client_session = NULL;
        err = mtp_conn_new(&cc, now, &mc);
    }
    return err ? NULL : mc;
}

/* The connection for kind (0 main, 1.. file), opened if needed. NULL: not ready yet. */
mtp_cconn_t *mtp_client__conn_get(mtp_client_t *c, int dc, int kind)
{
    mtp_dcstate_t *d = &c->dc[dc];
    mtp_cconn_t *k = &d->conns[kind];
    if (k->mc)
        return k;
    if (mtp_mono_usec() < d->retry_at)
        return NULL;
    if (!d->has_key && dc_handshaking(d))
        return NULL;            /* one key exchange per DC */
    if (dc_address(c, dc))
        return NULL;
    k->client = c;
    k->dc = dc;
    k->kind = kind;
    mtp_stream_opts_t so = { 0 };
    so.max_output = STREAM_MAX_OUTPUT;
    so.connect_timeout = CONNECT_TIMEOUT;
    if (kind)   /* file connections: a receive window for a batch of parts from the start */
        so.rcvbuf = 4 << 20;
    mtp_stream_t *st = NULL;
    if (mtp_stream_connect_addr(c->loop, (const struct sockaddr *)&d->addr, d->addr_len, &so,
                                &conn_cbs, k, &st)) {
        backoff(c, dc, "cannot connect");
        return NULL;
    }
    k->mc = core_new(c, dc, k);
    if (!k->mc) {
        mtp_stream_set_cbs(st, &closed_cbs);
        mtp_stream_set_user(st, NULL);
        mtp_stream_close(st);
        return NULL;
    }
    mtp_client__log(c, MTP_LOG_DEBUG, "DC%d: connecting (%s connection%s)", dc,
                    kind ? "file" : "main", d->has_key ? "" : ", new key");
    k->borrowed = k->saved;
    k->saved = NULL;
    k->st = st;
    k->connecting = true;
    k->inited = false;
    k->inflight = 0;
    k->fed = 0;
    k->yield = false;
    k->authed = false;
    return k;
}

void mtp_client__requeue(mtp_ccall_t *x)
{
    x->on = NULL;
    x->id = 0;
}

static void requeue_on(mtp_client_t *c, mtp_cconn_t *k)
{
    for (mtp_ccall_t *x = c->calls; x; x = x->next)
        if (x->on == k) {
            mtp_client__requeue(x);
            x->hops++;
            c->st.resent++;
        }
    k->inflight = 0;
}

/* Forget a saved session: its calls go back to the queue (sent again, new msg_ids). */
void mtp_client__drop_saved(mtp_client_t *c, mtp_cconn_t *k)
{
    requeue_on(c, k);
    mtp_session_free(k->saved);
    k->saved = NULL;
}

static void close_stream(mtp_cconn_t *k)
{
    if (!k->st)
        return;
    mtp_stream_set_cbs(k->st, &closed_cbs);
    mtp_stream_set_user(k->st, NULL);
    mtp_stream_close(k->st);
    k->st = NULL;
}

/* Close a connection; its calls go back to the queue (resent on a new connection). */
void mtp_client__conn_drop(mtp_client_t *c, mtp_cconn_t *k, bool failure)
{
    int dc = k->dc;
    bool keep = failure && k->mc && c->dc[dc].has_key && mtp_conn_has_key(k->mc) &&
                mtp_conn_error(k->mc) != MTP_ESECURITY;
    bool any = false;
    for (mtp_ccall_t *x = c->calls; x; x = x->next)
        any |= x->on == k;
    mtp_session_t *sess = NULL;
    if (k->mc) {
        if (k->borrowed)
            sess = k->borrowed;
        else if (keep && any)
            sess = mtp_conn_take_session(k->mc);
        mtp_conn_free(k->mc);
    }
    k->borrowed = NULL;
    close_stream(k);
    k->mc = NULL;
    if (sess) {
        if (k->saved)           /* cannot happen: a live conn has no saved session */
            mtp_session_free(sess);
        else
            k->saved = sess;
    }
    if (k->saved && !(keep && any))
        mtp_client__drop_saved(c, k);
    if (!k->saved)
        requeue_on(c, k);
    if (failure) {
        mtp_dcstate_t *d = &c->dc[dc];
        c->st.reconnects++;
        backoff(c, dc, "reconnecting");
        if (dc == c->home && k == &d->conns[0])
            mtp_upd__conn_lost(c);      /* getDifference reconnects and fetches them */
    }
}

mtp_usec_t mtp_client__conn_watch_deadline(const mtp_cconn_t *k)
{
    if (!k->mc || !k->rx_at || k->inflight <= 0 || k->connecting)
        return MTP_TIME_NEVER;
    return k->rx_at + (k->pinged ? MTP_CLIENT__DEAD_AFTER : MTP_CLIENT__PING_AFTER);
}

/* Dead-link detection (see client_core.h). Returns false when the connection was dropped. */
static bool conn_watch(mtp_client_t *c, mtp_cconn_t *k)
{
    mtp_usec_t mono = mtp_mono_usec();
    if (k->inflight <= 0 || k->connecting || !mtp_conn_has_key(k->mc)) {
        k->rx_at = 0;   /* idle: nothing is owed to us */
        k->pinged = false;
        return true;
    }
    if (!k->rx_at) {
        k->rx_at = mono;
        return true;
    }
    if (mono - k->rx_at >= MTP_CLIENT__DEAD_AFTER) {
        mtp_client__log(c, MTP_LOG_INFO, "DC%d: nothing received for %lld ms with calls in "
                        "flight: the connection is dead", k->dc,
                        (long long)((mono - k->rx_at) / 1000));
        mtp_client__conn_drop(c, k, true);
        return false;
    }
    if (!k->pinged && mono - k->rx_at >= MTP_CLIENT__PING_AFTER) {
        mtp_session_t *s = mtp_conn_session(k->mc);
        int64_t id = 0;
        mtp_rand(NULL, &id, sizeof id);
        /* the server closes its side too if we go silent (75 s, as TDLib) */
        if (s && !mtp_session_ping(s, id, 75, mtp_now_usec()))
            k->pinged = true;
    }
    return true;
}

void mtp_client__conn_flush(mtp_client_t *c, mtp_cconn_t *k)
{
    if (!k->mc)
        return;
    if (!conn_watch(c, k))
        return;
    mtp_conn_tick(k->mc, mtp_now_usec());
    /* the stream queues what the kernel does not take; hand it more once it drained, so
     * that the core's out_limit stays the bound of what waits */
    while (k->st && !k->connecting && !mtp_stream_pending(k->st)) {
        mtp_bytes_t b = mtp_conn_pending_output(k->mc);
        if (!b.len)
            break;
        int rc = mtp_stream_write(k->st, b.ptr, b.len);
        if (rc) {
            mtp_client__conn_drop(c, k, true);    /* on_close is ours no more */
            return;
        }
        mtp_conn_consume(k->mc, b.len);
    }
    mtp_client__conn_events(c, k);
    if (k->mc && mtp_conn_dead(k->mc))
        mtp_client__conn_drop(c, k, true);
}

void mtp_client__conns_free(mtp_client_t *c)
{
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        mtp_client__dc_forget_addr(c, i);
        for (int k = 0; k < MTP_CLIENT__CONNS_PER_DC; k++) {
            mtp_cconn_t *cc = &c->dc[i].conns[k];
            if (cc->st || cc->mc || cc->saved) {
                cc->dc = i;
                mtp_client__conn_drop(c, cc, false);
            }
        }
    }
}
