/*
 * A small synchronous MTProto client for the harness tests: our own sans-IO client core
 * (mtp_conn_t, client role) over a blocking-with-timeout TCP socket.
 *
 *   hc_t h;
 *   hc_open(&h, port, MTP_TRANSPORT_INTERMEDIATE, false, rsa_pub, dc, NULL);  // key exchange
 *   hc_call_init(&h, 228, body, len, 5000);   // invokeWithLayer(initConnection(body))
 *   ... h.res / h.res_len (boxed result), or h.rpc_code / h.rpc_msg after MTP_ERPC
 *   hc_close(&h);
 */
#ifndef MTP_TEST_HARNESS_CLIENT_H
#define MTP_TEST_HARNESS_CLIENT_H

#include <mtproto/conn.h>
#include <mtproto/net.h>
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct hc {
    int fd;
    mtp_conn_t *c;
    const mtp_rsa_key_t *keys[1];
    mtp_auth_key_t key;
    bool has_key;
    int64_t salt;
    mtp_usec_t time_offset;
    /* last call */
    int err;                    /* 0, MTP_ERPC, MTP_ETIMEDOUT, MTP_ECLOSED ... */
    int32_t rpc_code;
    char rpc_msg[128];
    uint8_t *res;
    size_t res_len;
    /* connection-level happenings */
    int32_t transport_error;    /* -404 ... once seen */
    bool eof;
    int pongs;
    int updates;
    int quick_acks;
} hc_t;

static inline mtp_usec_t hc_now(void)
{
    return mtp_now_usec();
}

static inline int hc_tcp(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static inline bool hc_write_all(int fd, const uint8_t *p, size_t n, int timeout_ms)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        struct pollfd pf = { fd, POLLOUT, 0 };
        if (poll(&pf, 1, timeout_ms) <= 0)
            return false;
    }
    return true;
}

/* Write pending conn output (blocking up to a while). */
static inline void hc_flush(hc_t *h)
{
    for (;;) {
        mtp_bytes_t b = mtp_conn_pending_output(h->c);
        if (!b.len)
            return;
        ssize_t w = send(h->fd, b.ptr, b.len, MSG_NOSIGNAL);
        if (w > 0) {
            mtp_conn_consume(h->c, (size_t)w);
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            h->eof = true;
            return;
        }
        struct pollfd pf = { h->fd, POLLOUT | POLLIN, 0 };
        poll(&pf, 1, 100);
        if (pf.revents & POLLIN)
            return;   /* read first (the peer may be waiting for us to read) */
    }
}

/* One round: wait up to ms for input or the conn's deadline, feed, tick, flush. */
static inline void hc_step(hc_t *h, int ms)
{
    hc_flush(h);
    mtp_usec_t now = hc_now();
    mtp_usec_t d = mtp_conn_next_deadline(h->c);
    if (d != MTP_TIME_NEVER) {
        mtp_usec_t w = (d - now) / 1000 + 1;
        if (w < 0)
            w = 0;
        if (w < ms)
            ms = (int)w;
    }
    struct pollfd pf = { h->fd, POLLIN, 0 };
    if (mtp_conn_pending_output(h->c).len)
        pf.events |= POLLOUT;
    int pr = h->eof ? 0 : poll(&pf, 1, ms);
    now = hc_now();
    if (pr > 0 && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
        uint8_t buf[65536];
        for (;;) {
            ssize_t r = recv(h->fd, buf, sizeof buf, 0);
            if (r > 0) {
                mtp_conn_feed(h->c, buf, (size_t)r, now);
                continue;
            }
            if (r == 0 || (errno != EAGAIN && errno != EINTR))
                h->eof = true;
            break;
        }
    }
    mtp_conn_tick(h->c, hc_now());
    hc_flush(h);
}

/* Drain events; returns true when the call `want` ended (its outcome is stored). */
static inline bool hc_events(hc_t *h, int64_t want)
{
    bool done = false;
    mtp_conn_event_t ev;
    while (mtp_conn_next_event(h->c, &ev) == 1) {
        switch (ev.type) {
        case MTP_CONN_EV_KEY:
            h->key = ev.key.key;
            h->has_key = true;
            h->salt = ev.key.server_salt;
            h->time_offset = ev.key.time_offset;
            break;
        case MTP_CONN_EV_TRANSPORT_ERROR:
            h->transport_error = ev.code;
            break;
        case MTP_CONN_EV_QUICK_ACK:
            h->quick_acks++;
            break;
        case MTP_CONN_EV_ERROR:
            if (!h->eof)
                h->eof = true;
            break;
        case MTP_CONN_EV_SESSION:
            if (ev.sev.type == MTP_SESSION_EV_PONG)
                h->pongs++;
            else if (ev.sev.type == MTP_SESSION_EV_UPDATE)
                h->updates++;
            else if (ev.sev.type == MTP_SESSION_EV_RESULT && (int64_t)ev.sev.call_id == want) {
                done = true;
                h->err = ev.sev.err;
                free(h->res);
                h->res = NULL;
                h->res_len = 0;
                if (!ev.sev.err) {
                    h->res = malloc(ev.sev.body.len ? ev.sev.body.len : 1);
                    memcpy(h->res, ev.sev.body.ptr, ev.sev.body.len);
                    h->res_len = ev.sev.body.len;
                } else if (ev.sev.err == MTP_ERPC) {
                    h->rpc_code = ev.sev.rpc_error.code;
                    size_t n = ev.sev.rpc_error.message.len;
                    if (n >= sizeof h->rpc_msg)
                        n = sizeof h->rpc_msg - 1;
                    memcpy(h->rpc_msg, ev.sev.rpc_error.message.ptr, n);
                    h->rpc_msg[n] = 0;
                }
            }
            break;
        default:
            break;
        }
    }
    return done;
}

/* Connect; with key == NULL run the key exchange (waits up to 10 s). 0 or an error. */
static inline int hc_open2(hc_t *h, uint16_t port, mtp_transport_kind_t kind, bool obfs,
                           const mtp_rsa_key_t *pub, int dc, const mtp_auth_key_t *key,
                           int64_t salt, bool temp, int32_t expires_in)
{
    memset(h, 0, sizeof *h);
    h->fd = hc_tcp(port);
    if (h->fd < 0)
        return MTP_EIO;
    mtp_conn_config_t cfg;
    mtp_conn_config_init(&cfg, MTP_ROLE_CLIENT);
    cfg.transport = kind;
    cfg.obfuscated = obfs;
    cfg.dc_id = dc;
    cfg.quick_ack = kind != MTP_TRANSPORT_FULL;
    h->keys[0] = pub;
    cfg.hs_client.rsa_keys = h->keys;
    cfg.hs_client.n_rsa_keys = 1;
    cfg.hs_client.dc_id = dc;
    if (temp)
        cfg.hs_client.expires_in = expires_in;
    cfg.session.ping_interval = 0;
    cfg.session.future_salts = 0;
    if (key) {
        cfg.auth_key = key;
        cfg.session.server_salt = salt;
        cfg.session.time_synced = true;
        h->key = *key;
        h->has_key = true;
        h->salt = salt;
    }
    int err = 0;
    err = mtp_conn_new(&cfg, hc_now(), &h->c);
    if (!h->c) {
        close(h->fd);
        h->fd = -1;
        return err ? err : MTP_ENOMEM;
    }
    if (key)
        return 0;
    mtp_usec_t until = hc_now() + 10 * MTP_USEC_PER_SEC;
    while (!h->has_key && hc_now() < until && !mtp_conn_dead(h->c) && !h->eof) {
        hc_step(h, 50);
        hc_events(h, -1);
    }
    return h->has_key ? 0 : mtp_conn_dead(h->c) ? mtp_conn_error(h->c) : MTP_ETIMEDOUT;
}

static inline int hc_open(hc_t *h, uint16_t port, mtp_transport_kind_t kind, bool obfs,
                          const mtp_rsa_key_t *pub, int dc, const mtp_auth_key_t *key,
                          int64_t salt)
{
    return hc_open2(h, port, kind, obfs, pub, dc, key, salt, false, 0);
}

static inline void hc_close(hc_t *h)
{
    if (h->c)
        mtp_conn_free(h->c);
    if (h->fd >= 0)
        close(h->fd);
    free(h->res);
    h->c = NULL;
    h->fd = -1;
    h->res = NULL;
}

/* Send one serialized query and wait for its end. Returns h->err. */
static inline int hc_call(hc_t *h, const uint8_t *body, size_t len, int timeout_ms)
{
    h->err = MTP_ETIMEDOUT;
    h->rpc_code = 0;
    h->rpc_msg[0] = 0;
    int64_t id = mtp_conn_call(h->c, body, len, 0, NULL, hc_now());
    if (id < 0)
        return h->err = (int)id;
    mtp_usec_t until = hc_now() + (mtp_usec_t)timeout_ms * 1000;
    while (hc_now() < until) {
        hc_step(h, 20);
        if (hc_events(h, id))
            return h->err;
        if (h->eof || mtp_conn_dead(h->c)) {
            hc_events(h, id);
            return h->err = MTP_ECLOSED;
        }
    }
    return h->err;
}

/* invokeWithLayer(layer, initConnection(body)). */
static inline int hc_call_init(hc_t *h, int layer, const uint8_t *body, size_t len,
                               int timeout_ms)
{
    mtp_init_connection_t ic;
    memset(&ic, 0, sizeof ic);
    ic.layer = layer;
    ic.api_id = 12345;
    ic.device_model = "harness-test";
    ic.system_version = "Linux";
    ic.app_version = "1.0";
    ic.system_lang_code = "en";
    ic.lang_pack = "";
    ic.lang_code = "en";
    mtp_buf_t b;
    mtp_buf_init(&b);
    if (mtp_wrap_init_connection(&ic, body, len, &b)) {
        mtp_buf_free(&b);
        return h->err = MTP_EINVAL;
    }
    int rc = hc_call(h, b.data, b.len, timeout_ms);
    mtp_buf_free(&b);
    return rc;
}

/* Encode a (layer-228) object and call it; init = wrap in invokeWithLayer(228, ...). */
static inline int hc_call_obj(hc_t *h, const void *obj, bool init, int timeout_ms)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    if (mtp_tl_encode((const mtp_tl_object_t *)obj, &b)) {
        mtp_buf_free(&b);
        return h->err = MTP_EINVAL;
    }
    int rc = init ? hc_call_init(h, MTP_TL_DEFAULT_LAYER, b.data, b.len, timeout_ms)
                  : hc_call(h, b.data, b.len, timeout_ms);
    mtp_buf_free(&b);
    return rc;
}

/* Decode the last result (layer 228 unless L given) into arena. NULL on failure. */
static inline mtp_tl_object_t *hc_result(hc_t *h, mtp_arena_t *a, const mtp_tl_layer_t *L)
{
    if (h->err || !h->res)
        return NULL;
    mtp_tl_object_t *o = NULL;
    if (mtp_tl_decode(L ? L : mtp_tl_layer(MTP_TL_DEFAULT_LAYER), h->res, h->res_len, a, &o))
        return NULL;
    return o;
}

static inline uint32_t hc_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The boxed id of the result (0 if none). */
static inline uint32_t hc_result_id(const hc_t *h)
{
    return !h->err && h->res && h->res_len >= 4 ? hc_le32(h->res) : 0;
}

static inline bool hc_is_err(const hc_t *h, int32_t code, const char *msg)
{
    return h->err == MTP_ERPC && h->rpc_code == code && strcmp(h->rpc_msg, msg) == 0;
}

/* Wait until the peer closes (or ms pass). */
static inline bool hc_wait_eof(hc_t *h, int ms)
{
    mtp_usec_t until = hc_now() + (mtp_usec_t)ms * 1000;
    while (!h->eof && hc_now() < until) {
        hc_step(h, 20);
        hc_events(h, -1);
    }
    return h->eof;
}

#endif
