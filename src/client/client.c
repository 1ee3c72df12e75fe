/*
 * libmtproto client — connection pool, call policy, session store.
 * Policy only: framing, crypto, key exchange, sessions and RPC error parsing come from
 * the core (mtp_conn_t / mtp_session_t).
 */
#define _GNU_SOURCE
#include "client_int.h"

#include <mtproto/conn.h>
#include <mtproto/net.h>
#include <mtproto/session.h>
#include <mtproto/tl_schema.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <openssl/evp.h>

#define MAX_CONNS_PER_DC 9      /* 1 main + up to 8 file */

typedef struct cconn {
    int fd;
    bool connecting;
    mtp_conn_t *mc;
    bool inited;                /* initConnection sent on it */
    int inflight;
    /* The session of a connection that broke, with its pending calls: continued on the
     * next connection of this slot (the server recognises re-sent msg_ids, so a call is
     * neither lost nor executed twice). */
    mtp_session_t *saved;
    mtp_session_t *borrowed;    /* the continued session the live conn uses (ours to free) */
    bool dirty;                 /* calls queued since the last flush */
} cconn_t;

typedef struct call {
    struct call *next;
    int dc;                     /* 0 = home */
    unsigned flags;
    uint8_t *body;
    size_t len;
    mtp_call_cb cb;
    void *user;
    mtp_usec_t not_before;
    mtp_usec_t deadline;
    cconn_t *on;                /* NULL: queued */
    int on_dc;
    int64_t id;
    int hops;                   /* migrations + resends */
    bool timed_out;
} call_t;

typedef struct dcstate {
    bool has_key;
    mtp_auth_key_t key;
    int64_t salt;
    mtp_usec_t time_offset;
    bool authorized;            /* imported (or home) */
    bool importing;
    int import_err;
    mtp_call_error_t import_error;
    unsigned attempts;
    mtp_usec_t retry_at;
    cconn_t conns[MAX_CONNS_PER_DC];
} dcstate_t;

struct mtp_client {
    mtp_client_config_t cfg;
    char api_hash[80];
    char session_path[1024];
    mtp_rsa_key_t *rsa;
    const mtp_rsa_key_t *rsa_keys[1];
    dcstate_t dc[MTP_CLIENT_MAX_DCS + 1];
    int home;
    int64_t user_id;
    call_t *calls;              /* every call not yet completed */
    mtp_client_stats_t st;
    int answered_dc;            /* DC of the call whose callback runs */
    mtp_backoff_t backoff;
    bool in_process;
    mtp_peers_t *peers;         /* peers.c: id -> access_hash, username */
    mtp_upd_t *upd;             /* updates.c: pts/qts/date/seq, held updates, callback */
};

static const mtp_client_dc_t prod_dcs[] = {
    { 1, "149.154.175.53", 443 }, { 2, "149.154.167.51", 443 }, { 3, "149.154.175.100", 443 },
    { 4, "149.154.167.91", 443 }, { 5, "91.108.56.130", 443 },
};
static const mtp_client_dc_t test_dcs[] = {
    { 1, "149.154.175.10", 443 }, { 2, "149.154.167.40", 443 }, { 3, "149.154.175.117", 443 },
};

void mtp_client_config_init(mtp_client_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->device_model = "libmtproto";
    cfg->system_version = "Linux";
    cfg->app_version = "1.0";
    cfg->lang_code = "en";
    cfg->transport = MTP_TRANSPORT_INTERMEDIATE;
    cfg->flood_threshold = 60;
    cfg->call_timeout = 60 * MTP_USEC_PER_SEC;
    cfg->file_conns = 2;
    cfg->file_parallel = 8;
    cfg->backoff_base = 100 * 1000;
    cfg->backoff_cap = 10 * MTP_USEC_PER_SEC;
    cfg->max_reconnects = 5;
}

int mtp_client_dc_parse(mtp_client_dc_t *dc, int id, const char *hp)
{
    const char *colon = hp ? strrchr(hp, ':') : NULL;
    if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof dc->host)
        return MTP_EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return MTP_EINVAL;
    memset(dc, 0, sizeof *dc);
    dc->id = id;
    memcpy(dc->host, hp, (size_t)(colon - hp));
    dc->port = (uint16_t)port;
    return 0;
}

const char *mtp_client_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case MTP_ERPC: return "RPC error";
    case MTP_EFLOOD: return "flood wait above the threshold";
    case MTP_ECLOSED: return "connection closed";
    case MTP_ETIMEDOUT: return "timed out";
    case MTP_EIO: return "I/O error";
    case MTP_EINVAL: return "invalid argument";
    case MTP_EAUTH: return "not authorized";
    case MTP_ENOTFOUND: return "not found";
    case MTP_EBADKEY: return "bad key";
    case MTP_ENOMEM: return "out of memory";
    case MTP_EJSON: return "bad JSON";
    default: return "error";
    }
}

static const mtp_client_dc_t *dc_addr(const mtp_client_t *c, int id)
{
    for (int i = 0; i < c->cfg.n_dcs; i++)
        if (c->cfg.dcs[i].id == id)
            return &c->cfg.dcs[i];
    return NULL;
}

static mtp_usec_t now_us(void)
{
    return mtp_now_usec();
}

/* ------------------------------------------------------------------ session store */

#define SESS_MAGIC 0x5350544du   /* "MTPS" */
/* 1: header + DC keys; 2: the same followed by the peer cache (peers.c); 3: the same
 * followed by the updates state (updates.c: have_state, pts, qts, date, seq; 20 bytes).
 * 1 and 2 still load. */
#define SESS_VERSION 4u
#define SESS_MAX_BYTES (128u << 20)

static void put32(mtp_buf_t *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mtp_buf_append(b, p, 4);
}

static void put64(mtp_buf_t *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void session_serialize(const mtp_client_t *c, mtp_buf_t *b)
{
    uint32_t n = 0;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        n += c->dc[i].has_key;
    put32(b, SESS_MAGIC);
    put32(b, SESS_VERSION);
    put32(b, (uint32_t)c->home);
    put64(b, (uint64_t)c->user_id);
    put32(b, n);
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        const dcstate_t *d = &c->dc[i];
        if (!d->has_key)
            continue;
        put32(b, (uint32_t)i | (d->authorized ? 0x100u : 0));
        mtp_buf_append(b, d->key.key, MTP_AUTH_KEY_LEN);
        put64(b, (uint64_t)d->salt);
        put64(b, (uint64_t)d->time_offset);
    }
    mtp_peers__serialize(c->peers, b);
    mtp_upd__serialize(c->upd, b);
    put32(b, (uint32_t)crc32(0, b->data, (uInt)b->len));
}

static int session_parse(mtp_client_t *c, const uint8_t *p, size_t n)
{
    uint32_t ver = n >= 8 ? get32(p + 4) : 0;
    if (n < 28 || n > SESS_MAX_BYTES || get32(p) != SESS_MAGIC || ver < 1 || ver > SESS_VERSION)
        return MTP_EINVAL;
    if ((uint32_t)crc32(0, p, (uInt)(n - 4)) != get32(p + n - 4))
        return MTP_EINVAL;
    uint32_t cnt = get32(p + 16 + 4);
    size_t rec = 4 + MTP_AUTH_KEY_LEN + 16, end = 24 + cnt * rec;
    size_t updsz = mtp_upd__section_size(p, n - 4, ver);    /* 0: none (version < 3) */
    if (updsz == (size_t)-1 || cnt > MTP_CLIENT_MAX_DCS ||
        (ver == 1 ? n != end + 4 : n < end + 8 + updsz))
        return MTP_EINVAL;
    int home = (int)get32(p + 8);
    if (home < 1 || home > MTP_CLIENT_MAX_DCS)
        return MTP_EINVAL;
    mtp_peers_t *peers = NULL;      /* version 1: none (the cache is emptied) */
    if (ver >= 2 && mtp_peers__parse(c->peers, p + end, n - 4 - updsz - end, &peers))
        return MTP_EINVAL;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        c->dc[i].has_key = false;
        c->dc[i].authorized = false;
    }
    c->home = home;
    c->user_id = (int64_t)get64(p + 12);
    const uint8_t *r = p + 24;
    for (uint32_t i = 0; i < cnt; i++, r += rec) {
        uint32_t id = get32(r);
        int dc = (int)(id & 0xff);
        dcstate_t *d = dc >= 1 && dc <= MTP_CLIENT_MAX_DCS ? &c->dc[dc] : NULL;
        if (!d || mtp_auth_key_init(&d->key, r + 4)) {
            mtp_peers__free(peers);
            return MTP_EINVAL;
        }
        d->has_key = true;
        d->authorized = (id & 0x100u) != 0;
        d->salt = (int64_t)get64(r + 4 + MTP_AUTH_KEY_LEN);
        d->time_offset = (mtp_usec_t)get64(r + 12 + MTP_AUTH_KEY_LEN);
    }
    if (peers) {
        mtp_peers__free(c->peers);
        c->peers = peers;
    } else {
        mtp_peers__clear(c->peers);
    }
    if (updsz)
        mtp_upd__parse(c->upd, p + n - 4 - updsz, updsz);
    else
        mtp_upd__reset(c->upd);     /* no state: updates_start calls getState */
    return 0;
}

int mtp_client_save(mtp_client_t *c)
{
    if (!c->session_path[0]) {
        mtp_upd__saved(c->upd, now_us());   /* memory only: nothing to write */
        return 0;
    }
    mtp_buf_t b;
    mtp_buf_init(&b);
    session_serialize(c, &b);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", c->session_path, (long)getpid());
    int rc = MTP_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        fchmod(fd, 0600);
        size_t off = 0;     /* the peer cache can make it large: loop on short writes */
        ssize_t w = 0;
        while (!b.err && off < b.len &&
               ((w = write(fd, b.data + off, b.len - off)) > 0 || (w < 0 && errno == EINTR)))
            off += w > 0 ? (size_t)w : 0;
        bool ok = !b.err && off == b.len && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && rename(tmp, c->session_path) == 0)
            rc = 0;
        else
            unlink(tmp);
    }
    if (!rc) {
        mtp_peers__saved(c->peers, now_us());
        mtp_upd__saved(c->upd, now_us());
    }
    if (b.data)
        memset(b.data, 0, b.len);
    mtp_buf_free(&b);
    return rc;
}

static int session_load_file(mtp_client_t *c)
{
    FILE *f = fopen(c->session_path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : MTP_EIO;
    mtp_buf_t b;
    mtp_buf_init(&b);
    uint8_t chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= SESS_MAX_BYTES)
        mtp_buf_append(&b, chunk, n);
    fclose(f);
    int rc = b.err ? b.err : session_parse(c, b.data, b.len);
    memset(chunk, 0, sizeof chunk);
    if (b.data)
        memset(b.data, 0, b.len);
    mtp_buf_free(&b);
    return rc;
}

char *mtp_client_session_export(mtp_client_t *c)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    session_serialize(c, &b);
    char *out = b.err ? NULL : malloc(4 * (b.len / 3 + 1) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, b.data, (int)b.len);
    if (b.data)
        memset(b.data, 0, b.len);
    mtp_buf_free(&b);
    return out;
}

int mtp_client_session_import(mtp_client_t *c, const char *text)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    if (!n || n % 4 || n / 4 * 3 > SESS_MAX_BYTES + 3)
        return MTP_EINVAL;
    uint8_t *buf = malloc(n);
    if (!buf)
        return MTP_ENOMEM;
    int len = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)n);
    int rc = MTP_EINVAL;
    if (len > 0) {
        if (n >= 1 && text[n - 1] == '=')
            len--;
        if (n >= 2 && text[n - 2] == '=')
            len--;
        rc = session_parse(c, buf, (size_t)len);
    }
    memset(buf, 0, n);
    free(buf);
    if (!rc)
        rc = mtp_client_save(c);
    return rc;
}

/* ------------------------------------------------------------------ lifecycle */

mtp_client_t *mtp_client_new(const mtp_client_config_t *cfg, int *err)
{
    int e = 0;
    mtp_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        if (err)
            *err = MTP_ENOMEM;
        return NULL;
    }
    c->cfg = *cfg;
    const char *pem = cfg->rsa_pem;
    if (cfg->dcs_kind == MTP_CLIENT_DCS_PRODUCTION || cfg->dcs_kind == MTP_CLIENT_DCS_TEST) {
        bool prod = cfg->dcs_kind == MTP_CLIENT_DCS_PRODUCTION;
        const mtp_client_dc_t *t = prod ? prod_dcs : test_dcs;
        int n = prod ? 5 : 3;
        memcpy(c->cfg.dcs, t, (size_t)n * sizeof *t);
        c->cfg.n_dcs = n;
        pem = prod ? mtp_client_pem_production : mtp_client_pem_test;
    }
    if (c->cfg.n_dcs <= 0 || !pem) {
        e = MTP_EINVAL;
        goto fail;
    }
    c->cfg.rsa_pem = NULL;
    c->cfg.api_hash = NULL;
    c->cfg.session_path = NULL;
    snprintf(c->api_hash, sizeof c->api_hash, "%s", cfg->api_hash ? cfg->api_hash : "");
    if (cfg->session_path)
        snprintf(c->session_path, sizeof c->session_path, "%s", cfg->session_path);
    if (c->cfg.call_timeout <= 0)
        c->cfg.call_timeout = 60 * MTP_USEC_PER_SEC;
    if (c->cfg.file_conns < 1)
        c->cfg.file_conns = 1;
    if (c->cfg.file_conns > MAX_CONNS_PER_DC - 1)
        c->cfg.file_conns = MAX_CONNS_PER_DC - 1;
    if (c->cfg.file_parallel < 1)
        c->cfg.file_parallel = 1;
    if (c->cfg.backoff_base <= 0)
        c->cfg.backoff_base = 100 * 1000;
    if (c->cfg.backoff_cap <= 0)
        c->cfg.backoff_cap = 10 * MTP_USEC_PER_SEC;
    if (c->cfg.max_reconnects <= 0)
        c->cfg.max_reconnects = 5;
    e = mtp_rsa_load_public_pem(pem, strlen(pem), &c->rsa);
    if (e)
        goto fail;
    c->rsa_keys[0] = c->rsa;
    if (!(c->peers = mtp_peers__new(cfg->peer_cache_max)) || !(c->upd = mtp_upd__new())) {
        e = MTP_ENOMEM;
        goto fail;
    }
    mtp_backoff_init(&c->backoff, c->cfg.backoff_base, c->cfg.backoff_cap, NULL, NULL);
    for (int i = 0; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int k = 0; k < MAX_CONNS_PER_DC; k++)
            c->dc[i].conns[k].fd = -1;
    c->home = cfg->first_dc > 0 ? cfg->first_dc
              : cfg->dcs_kind == MTP_CLIENT_DCS_CUSTOM ? c->cfg.dcs[0].id : 2;
    if (c->session_path[0]) {
        e = session_load_file(c);
        if (e)
            goto fail;
    }
    if (err)
        *err = 0;
    return c;
fail:
    if (c->rsa)
        mtp_rsa_free(c->rsa);
    mtp_peers__free(c->peers);
    mtp_upd__free(c->upd);
    free(c);
    if (err)
        *err = e ? e : MTP_EINVAL;
    return NULL;
}

static void conn_drop(mtp_client_t *c, int dc, cconn_t *k, bool failure);
static void deliver(mtp_client_t *c, call_t *x, const uint8_t *res, size_t len,
                    const mtp_call_error_t *e);

void mtp_client_free(mtp_client_t *c)
{
    if (!c)
        return;
    if (mtp_peers__dirty(c->peers) || mtp_upd__dirty(c->upd))
        mtp_client_save(c);     /* peers learned / updates state moved since the last save */
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int k = 0; k < MAX_CONNS_PER_DC; k++)
            if (c->dc[i].conns[k].fd >= 0 || c->dc[i].conns[k].mc || c->dc[i].conns[k].saved)
                conn_drop(c, i, &c->dc[i].conns[k], false);
    mtp_call_error_t e = { .err = MTP_ECLOSED, .number = -1 };
    snprintf(e.message, sizeof e.message, "CLIENT_CLOSED");
    while (c->calls)
        deliver(c, c->calls, NULL, 0, &e);
    mtp_rsa_free(c->rsa);
    mtp_peers__free(c->peers);
    mtp_upd__free(c->upd);
    for (int i = 0; i <= MTP_CLIENT_MAX_DCS; i++)
        memset(&c->dc[i].key, 0, sizeof c->dc[i].key);
    memset(c->api_hash, 0, sizeof c->api_hash);
    free(c);
}

int mtp_client_home_dc(const mtp_client_t *c) { return c->home; }
int64_t mtp_client_user_id(const mtp_client_t *c) { return c->user_id; }
bool mtp_client_authorized(const mtp_client_t *c) { return c->user_id != 0; }
void mtp_client_stats(const mtp_client_t *c, mtp_client_stats_t *out) { *out = c->st; }

/* ------------------------------------------------------------------ connections */

static int tcp_open(const mtp_client_dc_t *a, bool bulk, bool *connecting)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof port, "%u", a->port);
    if (getaddrinfo(a->host, port, &hints, &res) || !res)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (bulk) {
            /* file connections: a receive window for a batch of parts from the first byte
             * on (autotuning starts small and grows over the first megabytes) */
            int rcv = 4 << 20;
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        }
        int r = connect(fd, res->ai_addr, res->ai_addrlen);
        if (r == 0)
            *connecting = false;
        else if (errno == EINPROGRESS)
            *connecting = true;
        else {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static bool dc_handshaking(const dcstate_t *d)
{
    for (int k = 0; k < MAX_CONNS_PER_DC; k++)
        if (d->conns[k].mc)
            return true;
    return false;
}

/* The connection for kind (0 main, 1.. file), opened if needed. NULL: not ready yet. */
static void drop_saved(mtp_client_t *c, cconn_t *k);

static cconn_t *conn_get(mtp_client_t *c, int dc, int kind)
{
    dcstate_t *d = &c->dc[dc];
    cconn_t *k = &d->conns[kind];
    if (k->mc)
        return k;
    mtp_usec_t now = now_us();
    if (now < d->retry_at)
        return NULL;
    if (!d->has_key && dc_handshaking(d))
        return NULL;            /* one key exchange per DC */
    const mtp_client_dc_t *a = dc_addr(c, dc);
    if (!a)
        return NULL;
    bool connecting = false;
    int fd = tcp_open(a, kind != 0, &connecting);
    if (fd < 0) {
        d->retry_at = now + mtp_backoff_delay(c->cfg.backoff_base, c->cfg.backoff_cap,
                                              d->attempts, NULL, NULL) + 1;
        d->attempts++;
        return NULL;
    }
    mtp_conn_config_t cc;
    mtp_conn_config_init(&cc, MTP_ROLE_CLIENT);
    cc.transport = c->cfg.transport ? c->cfg.transport : MTP_TRANSPORT_INTERMEDIATE;
    cc.obfuscated = c->cfg.obfuscated && cc.transport != MTP_TRANSPORT_FULL;
    cc.dc_id = dc;
    cc.hs_client.rsa_keys = c->rsa_keys;
    cc.hs_client.n_rsa_keys = 1;
    cc.hs_client.dc_id = dc;
    cc.session.ping_interval = 0;
    cc.session.future_salts = 0;
    if (kind)   /* file connections: room to recycle the buffers of the parts in flight */
        cc.session.reuse_bytes = (size_t)(c->cfg.file_parallel + 2) << 20;
    cc.out_limit = 8u << 20;
    if (d->has_key) {
        cc.auth_key = &d->key;
        cc.session.server_salt = d->salt;
        cc.session.time_offset = d->time_offset;
        cc.session.time_synced = true;
        cc.client_session = k->saved;
    } else if (k->saved) {
        drop_saved(c, k);
    }
    int err = mtp_conn_new(&cc, now, &k->mc);
    if (err && k->saved) {
        drop_saved(c, k);
        cc.client_session = NULL;
        err = mtp_conn_new(&cc, now, &k->mc);
    }
    if (!k->mc) {
        close(fd);
        return NULL;
    }
    k->borrowed = k->saved;
    k->saved = NULL;
    k->fd = fd;
    k->connecting = connecting;
    k->inited = false;
    k->inflight = 0;
    return k;
}

static void requeue(call_t *x)
{
    x->on = NULL;
    x->id = 0;
}

/* Forget a saved session: its calls go back to the queue (sent again, new msg_ids). */
static void drop_saved(mtp_client_t *c, cconn_t *k)
{
    for (call_t *x = c->calls; x; x = x->next)
        if (x->on == k) {
            requeue(x);
            x->hops++;
            c->st.resent++;
        }
    mtp_session_free(k->saved);
    k->saved = NULL;
    k->inflight = 0;
}

/* Close a connection; its calls go back to the queue (resent on a new connection). */
static void conn_drop(mtp_client_t *c, int dc, cconn_t *k, bool failure)
{
    bool keep = failure && k->mc && c->dc[dc].has_key && mtp_conn_has_key(k->mc) &&
                mtp_conn_error(k->mc) != MTP_ESECURITY;
    bool any = false;
    for (call_t *x = c->calls; x; x = x->next)
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
    if (k->fd >= 0)
        close(k->fd);
    k->mc = NULL;
    k->fd = -1;
    if (sess) {
        if (k->saved)           /* cannot happen: a live conn has no saved session */
            mtp_session_free(sess);
        else
            k->saved = sess;
    }
    if (k->saved && !(keep && any))
        drop_saved(c, k);
    if (!k->saved) {
        for (call_t *x = c->calls; x; x = x->next)
            if (x->on == k) {
                requeue(x);
                x->hops++;
                c->st.resent++;
            }
        k->inflight = 0;
    }
    if (failure) {
        dcstate_t *d = &c->dc[dc];
        c->st.reconnects++;
        d->retry_at = now_us() + mtp_backoff_delay(c->cfg.backoff_base, c->cfg.backoff_cap,
                                                   d->attempts, NULL, NULL);
        d->attempts++;
        if (dc == c->home && k == &d->conns[0])
            mtp_upd__conn_lost(c);      /* getDifference reconnects and fetches them */
    }
}

/* ------------------------------------------------------------------ calls */

static void unlink_call(mtp_client_t *c, call_t *x)
{
    for (call_t **pp = &c->calls; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            return;
        }
}

static void deliver(mtp_client_t *c, call_t *x, const uint8_t *res, size_t len,
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
    if (x->cb)
        x->cb(c, x->user, res, len, e);
    free(x->body);
    free(x);
}

int mtp_call_ex(mtp_client_t *c, int dc, unsigned flags, const uint8_t *body, size_t len,
                mtp_call_cb cb, void *user)
{
    if (!c || !body || !len || dc < 0 || dc > MTP_CLIENT_MAX_DCS || (dc && !dc_addr(c, dc)))
        return MTP_EINVAL;
    call_t *x = calloc(1, sizeof *x);
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
    x->deadline = now_us() + c->cfg.call_timeout;
    /* append (FIFO) */
    call_t **pp = &c->calls;
    while (*pp)
        pp = &(*pp)->next;
    *pp = x;
    c->st.calls++;
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

static int encode_obj(const void *obj, mtp_buf_t *b)
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
    dcstate_t *d = &c->dc[dc];
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
    dcstate_t *d = &c->dc[dc];
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
        rc = encode_obj(im, &b);
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
    dcstate_t *d = &c->dc[dc];
    d->importing = true;
    d->import_err = 0;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_auth_exportAuthorization_t *ex = a ? MTP_NEW(a, auth_exportAuthorization) : NULL;
    mtp_buf_t b;
    int rc = MTP_ENOMEM;
    if (ex) {
        ex->dc_id = dc;
        rc = encode_obj(ex, &b);
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

static int send_call(mtp_client_t *c, call_t *x, int dc, cconn_t *k)
{
    mtp_usec_t now = now_us();
    int64_t id;
    /* file parts are sent as they are: media is compressed already, and deflating a
     * 512 KiB part costs more than sending it (official clients do not gzip them either) */
    uint32_t sflags = MTP_CONN_DEFER | ((x->flags & MTP_CALL_FILE) ? MTP_SESS_NO_GZIP : 0);
    if (!k->inited) {
        mtp_init_connection_t ic;
        memset(&ic, 0, sizeof ic);
        ic.layer = MTP_TL_DEFAULT_LAYER;
        ic.api_id = c->cfg.api_id;
        ic.device_model = c->cfg.device_model ? c->cfg.device_model : "libmtproto";
        ic.system_version = c->cfg.system_version ? c->cfg.system_version : "Linux";
        ic.app_version = c->cfg.app_version ? c->cfg.app_version : "1.0";
        ic.system_lang_code = c->cfg.lang_code ? c->cfg.lang_code : "en";
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
    x->id = id;
    k->dirty = true;    /* dispatch() flushes once for everything it queued */
    k->inflight++;
    c->st.bytes_up += x->len;
    return 0;
}

static cconn_t *pick_conn(mtp_client_t *c, int dc, unsigned flags)
{
    dcstate_t *d = &c->dc[dc];
    if (!(flags & MTP_CALL_FILE))
        return conn_get(c, dc, 0);
    if (!d->has_key)        /* the main connection makes the key */
        return conn_get(c, dc, 0) ? NULL : NULL;
    cconn_t *best = NULL;
    /* parts queued in the same dispatch stay on one connection: they leave in one packet
     * and the server can answer (and seal) them together */
    for (int i = 1; i <= c->cfg.file_conns; i++) {
        cconn_t *k = &d->conns[i];
        if (k->dirty && k->mc && mtp_conn_has_key(k->mc) && !k->connecting &&
            k->inflight < 2 * c->cfg.file_parallel)
            return k;
    }
    for (int i = 1; i <= c->cfg.file_conns; i++) {
        cconn_t *k = d->conns[i].mc ? &d->conns[i] : NULL;
        if (!k) {
            k = conn_get(c, dc, i);
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
        dcstate_t *d = &c->dc[i];
        for (int k = 0; k < MAX_CONNS_PER_DC; k++) {
            cconn_t *cc = &d->conns[k];
            if (!cc->saved || cc->mc)
                continue;
            if (d->attempts > (unsigned)c->cfg.max_reconnects || !d->has_key)
                drop_saved(c, cc);      /* the calls are failed or re-sent by dispatch */
            else
                conn_get(c, i, k);
        }
    }
}

static void dispatch(mtp_client_t *c)
{
    mtp_usec_t now = now_us();
    revive(c);
    for (call_t *x = c->calls, *nx; x; x = nx) {
        nx = x->next;
        if (x->on)
            continue;
        if (now >= x->deadline || x->hops > 10) {
            mtp_call_error_t e = { .err = now >= x->deadline ? MTP_ETIMEDOUT : MTP_ECLOSED,
                                   .number = -1 };
            deliver(c, x, NULL, 0, &e);
            nx = c->calls;      /* the list may have changed in the callback */
            continue;
        }
        if (now < x->not_before)
            continue;
        int dc = x->dc ? x->dc : c->home;
        dcstate_t *d = &c->dc[dc];
        if (d->attempts > (unsigned)c->cfg.max_reconnects) {
            mtp_call_error_t e = { .err = MTP_ECLOSED, .number = -1 };
            snprintf(e.message, sizeof e.message, "DC%d_UNREACHABLE", dc);
            deliver(c, x, NULL, 0, &e);
            nx = c->calls;
            continue;
        }
        if (dc != c->home && c->user_id && !(x->flags & MTP_CALL_NO_AUTH) && !d->authorized) {
            if (d->import_err) {
                mtp_call_error_t e = d->import_error;
                d->import_err = 0;
                deliver(c, x, NULL, 0, &e);
                nx = c->calls;
                continue;
            }
            if (!d->importing)
                start_import(c, dc);
            continue;
        }
        cconn_t *k = pick_conn(c, dc, x->flags);
        if (!k || !mtp_conn_has_key(k->mc) || k->connecting)
            continue;
        if ((x->flags & MTP_CALL_FILE) && k->inflight >= 2 * c->cfg.file_parallel)
            continue;
        int rc = send_call(c, x, dc, k);
        if (rc) {
            mtp_call_error_t e = { .err = rc, .number = -1 };
            deliver(c, x, NULL, 0, &e);
            nx = c->calls;
        }
    }
    /* calls queued together leave together: containers, one encryption per packet */
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int j = 0; j < MAX_CONNS_PER_DC; j++) {
            cconn_t *k = &c->dc[i].conns[j];
            if (k->dirty) {
                k->dirty = false;
                if (k->mc)
                    mtp_conn_flush(k->mc, now);
            }
        }
}

/* A call's result arrived. */
static void on_result(mtp_client_t *c, cconn_t *k, const mtp_session_event_t *sev)
{
    call_t *x = (call_t *)sev->user;
    bool found = false;
    for (call_t *y = c->calls; y; y = y->next)
        if (y == x && y->on == k && y->id == (int64_t)sev->call_id)
            found = true;
    if (!found)
        return;     /* not ours (anymore) */
    k->inflight--;
    int dc = x->on_dc;
    dcstate_t *d = &c->dc[dc];
    d->attempts = 0;
    mtp_usec_t now = now_us();
    if (!sev->err) {
        c->st.bytes_down += sev->body.len;
        deliver(c, x, sev->body.ptr, sev->body.len, NULL);
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
            if (arg >= 1 && arg <= MTP_CLIENT_MAX_DCS && dc_addr(c, (int)arg) && x->hops < 5) {
                c->home = (int)arg;
                c->dc[c->home].authorized = true;
                c->st.migrations++;
                mtp_client_save(c);
                x->dc = 0;
                x->hops++;
                requeue(x);
                return;
            }
            break;
        case MTP_RPCERR_FILE_MIGRATE:
            if (arg >= 1 && arg <= MTP_CLIENT_MAX_DCS && dc_addr(c, (int)arg) && x->hops < 5) {
                c->st.migrations++;
                x->dc = (int)arg;
                x->hops++;
                requeue(x);
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
                requeue(x);
                return;
            }
            e.err = MTP_EFLOOD;
            break;
        default:
            if (r->code == 401 && dc != c->home && c->user_id && d->authorized &&
                x->hops < 3 && !(x->flags & MTP_CALL_NO_AUTH)) {
                d->authorized = false;      /* import again */
                x->hops++;
                requeue(x);
                return;
            }
            break;
        }
    } else if (x->timed_out) {
        e.err = MTP_ETIMEDOUT;
    }
    deliver(c, x, NULL, 0, &e);
}

static void conn_events(mtp_client_t *c, int dc, cconn_t *k)
{
    mtp_conn_event_t ev;
    dcstate_t *d = &c->dc[dc];
    while (k->mc && mtp_conn_next_event(k->mc, &ev) == 1) {
        switch (ev.type) {
        case MTP_CONN_EV_KEY:
            d->key = ev.key.key;
            d->has_key = true;
            d->salt = ev.key.server_salt;
            d->time_offset = ev.key.time_offset;
            d->attempts = 0;
            mtp_client_save(c);
            memset(&ev.key, 0, sizeof ev.key);
            break;
        case MTP_CONN_EV_SESSION:
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
            if (ev.code == -404 && d->has_key) {
                /* the server forgot our key: make a new one */
                d->has_key = false;
                d->authorized = false;
                if (dc == c->home)
                    c->user_id = 0;
            }
            break;
        default:
            break;
        }
    }
}

#define EARLY_YIELD_BYTES ((size_t)256 << 10)
#define RX_CHUNK ((size_t)64 << 10)     /* read room when the socket says little */
#define RX_MAX ((size_t)8 << 20)        /* most read at once (a few file parts) */

static void conn_io(mtp_client_t *c, int dc, cconn_t *k, short revents)
{
    mtp_usec_t now = now_us();
    bool dead = false;
    if (k->connecting) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
            return;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            conn_drop(c, dc, k, true);
            return;
        }
        k->connecting = false;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        /* Read straight into the transport's buffer, everything the socket has (up to a
         * bound), then hand it over at once: large packets that arrived together are then
         * opened together (mtp_envelope_decrypt_many). */
        uint64_t pk0 = mtp_conn_stats(k->mc)->packets_in;
        size_t fed = 0;
        for (int i = 0; i < 16 && !dead; i++) {
            int avail = 0;
            if (ioctl(k->fd, FIONREAD, &avail) < 0 || avail < 0)
                avail = 0;
            size_t want = (size_t)avail < RX_CHUNK ? RX_CHUNK
                          : (size_t)avail > RX_MAX ? RX_MAX : (size_t)avail;
            uint8_t *p;
            size_t cap, got = 0;
            if (mtp_conn_rx_space(k->mc, want, &p, &cap)) {
                dead = true;
                break;
            }
            if (cap > RX_MAX)
                cap = RX_MAX;
            bool more = false;
            while (got < cap) {
                ssize_t r = recv(k->fd, p + got, cap - got, 0);
                if (r > 0) {
                    got += (size_t)r;
                    more = got == cap;
                    continue;
                }
                if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                    dead = true;
                break;
            }
            if (got)
                mtp_conn_rx_commit(k->mc, got, now);
            fed += got;
            if (!more)
                break;
            /* A large packet (a file part) was completed: hand it over and let the
             * calls it triggers (the next parts) leave before reading more, so the
             * server is never left without work while we are busy. The socket is
             * still readable; the next step continues. */
            if (fed >= EARLY_YIELD_BYTES && mtp_conn_stats(k->mc)->packets_in != pk0)
                break;
        }
    }
    mtp_conn_tick(k->mc, now_us());
    for (;;) {
        mtp_bytes_t b = mtp_conn_pending_output(k->mc);
        if (!b.len)
            break;
        ssize_t w = send(k->fd, b.ptr, b.len, MSG_NOSIGNAL);
        if (w > 0) {
            mtp_conn_consume(k->mc, (size_t)w);
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            dead = true;
        break;
    }
    conn_events(c, dc, k);
    if (k->mc && (dead || mtp_conn_dead(k->mc)))
        conn_drop(c, dc, k, true);
}

static void check_timeouts(mtp_client_t *c)
{
    mtp_usec_t now = now_us();
    for (call_t *x = c->calls; x; x = x->next)
        if (x->on && !x->timed_out && now >= x->deadline) {
            x->timed_out = true;
            mtp_session_t *s = x->on->mc ? mtp_conn_session(x->on->mc) : x->on->saved;
            if (s)
                mtp_session_cancel(s, (uint64_t)x->id, now);
        }
}

int mtp_client_fds(mtp_client_t *c, mtp_client_fd_t *fds, int max)
{
    int n = 0;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int k = 0; k < MAX_CONNS_PER_DC; k++) {
            cconn_t *cc = &c->dc[i].conns[k];
            if (cc->fd < 0)
                continue;
            if (n < max) {
                fds[n].fd = cc->fd;
                fds[n].want_read = !cc->connecting;
                fds[n].want_write = cc->connecting || mtp_conn_pending_output(cc->mc).len;
            }
            n++;
        }
    return n;
}

int mtp_client_timeout(mtp_client_t *c)
{
    mtp_usec_t now = now_us(), next = MTP_TIME_NEVER;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        for (int k = 0; k < MAX_CONNS_PER_DC; k++)
            if (c->dc[i].conns[k].mc) {
                mtp_usec_t dl = mtp_conn_next_deadline(c->dc[i].conns[k].mc);
                if (dl < next)
                    next = dl;
            }
    }
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int k = 0; k < MAX_CONNS_PER_DC; k++)
            if (c->dc[i].conns[k].saved && !c->dc[i].conns[k].mc) {
                mtp_usec_t t = c->dc[i].retry_at > now ? c->dc[i].retry_at : now + 20000;
                if (t < next)
                    next = t;
            }
    mtp_usec_t ud = mtp_upd__deadline(c);
    if (ud < next)
        next = ud;
    for (call_t *x = c->calls; x; x = x->next) {
        if (!x->on) {
            mtp_usec_t t = x->not_before > now ? x->not_before : now + 20000;
            int dc = x->dc ? x->dc : c->home;
            if (c->dc[dc].retry_at > t)
                t = c->dc[dc].retry_at;
            if (t < next)
                next = t;
        }
        if (x->deadline < next)
            next = x->deadline;
    }
    if (next == MTP_TIME_NEVER)
        return -1;
    if (next <= now)
        return 0;
    mtp_usec_t ms = (next - now + 999) / 1000;
    return ms > 60000 ? 60000 : (int)ms;
}

static int process_fds(mtp_client_t *c, const struct pollfd *pf, int npf)
{
    dispatch(c);
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int k = 0; k < MAX_CONNS_PER_DC; k++) {
            cconn_t *cc = &c->dc[i].conns[k];
            if (cc->fd < 0)
                continue;
            short rev = 0;
            bool known = false;
            for (int j = 0; j < npf; j++)
                if (pf[j].fd == cc->fd) {
                    rev = pf[j].revents;
                    known = true;
                }
            if (!known) {
                /* called without poll results (mtp_client_process): ask the kernel */
                struct pollfd one = { cc->fd, (short)(POLLIN | POLLOUT), 0 };
                rev = poll(&one, 1, 0) > 0 ? one.revents : 0;
            }
            conn_io(c, i, cc, rev);
        }
    check_timeouts(c);
    mtp_upd__tick(c);
    dispatch(c);
    /* flush what dispatch queued */
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        for (int k = 0; k < MAX_CONNS_PER_DC; k++) {
            cconn_t *cc = &c->dc[i].conns[k];
            if (cc->mc && !cc->connecting)
                conn_io(c, i, cc, 0);
        }
    return 0;
}

int mtp_client_process(mtp_client_t *c)
{
    return process_fds(c, NULL, 0);
}

int mtp_client_step(mtp_client_t *c, int ms)
{
    struct pollfd pf[MTP_CLIENT_MAX_DCS * MAX_CONNS_PER_DC];
    mtp_client_fd_t f[MTP_CLIENT_MAX_DCS * MAX_CONNS_PER_DC];
    dispatch(c);
    int n = mtp_client_fds(c, f, (int)(sizeof f / sizeof f[0]));
    for (int i = 0; i < n; i++) {
        pf[i].fd = f[i].fd;
        pf[i].events = (short)((f[i].want_read ? POLLIN : 0) | (f[i].want_write ? POLLOUT : 0));
        pf[i].revents = 0;
    }
    int t = mtp_client_timeout(c);
    if (t >= 0 && (ms < 0 || t < ms))
        ms = t;
    if (poll(pf, (nfds_t)n, ms) < 0 && errno != EINTR)
        return MTP_EIO;
    return process_fds(c, pf, n);
}

int mtp_client_run(mtp_client_t *c, const volatile bool *done, int ms)
{
    mtp_usec_t until = ms < 0 ? MTP_TIME_NEVER : now_us() + (mtp_usec_t)ms * 1000;
    while (!(done && *done)) {
        mtp_usec_t now = now_us();
        if (now >= until)
            return MTP_ETIMEDOUT;
        int w = until == MTP_TIME_NEVER ? 1000 : (int)((until - now) / 1000 + 1);
        int rc = mtp_client_step(c, w > 1000 ? 1000 : w);
        if (rc)
            return rc;
        if (!done && !c->calls)
            return 0;
    }
    return 0;
}

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
                   mtp_peers__want_save(c->peers, now_us())) {
            mtp_client_save(c);
        }
    }
    s->done = true;
}

/* The calls whose completion context is `user` (a synchronous caller giving up): their
 * answers are dropped from now on. */
static void detach_calls(mtp_client_t *c, void *user)
{
    for (call_t *x = c->calls; x; x = x->next)
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
    int rc = encode_obj(obj, &b);
    if (!rc) {
        rc = mtp_call_ex(c, dc, flags, b.data, b.len, sync_cb, &s);
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

mtp_peers_t *mtp_client__peers(mtp_client_t *c)
{
    return c->peers;
}

mtp_upd_t *mtp_client__upd(mtp_client_t *c)
{
    return c->upd;
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

int mtp_client_set_dc(mtp_client_t *c, int id, const char *host, uint16_t port)
{
    if (id < 1 || id > MTP_CLIENT_MAX_DCS || !host || strlen(host) >= sizeof c->cfg.dcs[0].host)
        return MTP_EINVAL;
    mtp_client_dc_t *d = (mtp_client_dc_t *)dc_addr(c, id);
    if (!d) {
        if (c->cfg.n_dcs >= MTP_CLIENT_MAX_DCS)
            return MTP_ENOMEM;
        d = &c->cfg.dcs[c->cfg.n_dcs++];
    }
    d->id = id;
    snprintf(d->host, sizeof d->host, "%s", host);
    d->port = port;
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
                d->id < 1 || d->id > MTP_CLIENT_MAX_DCS || dc_addr(c, d->id))
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
    int rc = mtp_call_ex(c, dc, flags, body, len, raw_cb, &r);
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
        if (mtp_peers__want_save(c->peers, now_us()))
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
