/*
 * libmtproto — one MTProto connection, sans-IO, either role.
 *
 * mtp_conn_t ties the pieces of src/proto together for one TCP (or TCP-like) byte stream:
 *
 *   bytes in -> transport (unframe) -> handshake (no key yet / unencrypted packets)
 *                                    -> envelope (decrypt, §3.5 checks) -> session
 *   (§3.5 and the like: sections of docs/PROTOCOL.md)
 *   session  -> envelope (encrypt)  -> transport (frame) -> bytes out
 *
 * The caller owns the socket and the clock: it feeds received bytes with mtp_conn_feed(),
 * writes what mtp_conn_pending_output() shows and reports it with mtp_conn_consume(),
 * drains events with mtp_conn_next_event(), and calls mtp_conn_tick() at
 * mtp_conn_next_deadline(). Nothing here blocks, reads a clock or keeps global state.
 *
 * Client role: runs the auth-key exchange when no key is given, then owns (or borrows) one
 * session. Calls may be queued at any time; they go out once the key exists.
 * Server role (the test harness): detects the transport, answers the key exchange, looks up
 * auth keys of encrypted packets through a callback (unknown -> transport error -404),
 * keeps one session per session_id (its own, or the caller's through a callback),
 * answers quick-ack requests, and hands incoming queries out as session events.
 *
 * Failures: a framing error, a failed §3.5 check, a failed key exchange or a transport error
 * sent by the server end the connection: MTP_CONN_EV_ERROR / MTP_CONN_EV_TRANSPORT_ERROR
 * is queued, mtp_conn_dead() becomes true, and later feeds return the error. Output that
 * was already queued (e.g. a -404 to the client) stays available; close the socket once it
 * is written. Sessions survive: take the client's session with mtp_conn_take_session()
 * to continue it (and its pending calls) on a new connection.
 *
 * Thread safety: one connection object must be used by one thread at a time.
 */
#ifndef MTPROTO_CONN_H
#define MTPROTO_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/crypto.h>
#include <mtproto/envelope.h>
#include <mtproto/transport.h>
#include <mtproto/handshake.h>
#include <mtproto/session.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)   /* the public API (-fvisibility=hidden) */

typedef struct mtp_conn mtp_conn_t;

/* Version of mtp_conn_config_t this header describes (its first field). */
#define MTP_CONN_CONFIG_VERSION 1u

typedef struct mtp_conn_config {
    unsigned version;                   /* set by mtp_conn_config_init() */
    mtp_role_t role;

    /* ---- transport ---- */
    mtp_transport_kind_t transport;     /* client: ABRIDGED / INTERMEDIATE / PADDED / FULL */
    bool obfuscated;                    /* client: obfuscated2 around it (not FULL) */
    int dc_id;                          /* client: obfuscated init dc code (0 = random) */
    const mtp_proxy_secret_t *secret;   /* MTProxy secret or NULL (borrowed) */
    size_t max_packet;                  /* 0 = MTP_TRANSPORT_DEFAULT_MAX_PACKET */
    bool quick_ack;                     /* client: ask for quick acks (not FULL) */
    /* Stop packing session messages while this many output bytes wait to be written
     * (0 = 4 MiB). The messages stay queued in the session meanwhile. */
    size_t out_limit;
    const mtp_rng_t *rng;               /* NULL = CSPRNG; borrowed, must outlive the conn */

    /* ---- keys ---- */
    /* Client: the auth key to use (copied), or NULL to run the key exchange first with
     * hs_client. The session config below then needs server_salt/time_offset (a stored
     * session) — after an exchange they come from its result. */
    const mtp_auth_key_t *auth_key;
    mtp_hs_client_config_t hs_client;
    /* Client: resends of a key-exchange request after its timeout before giving up with
     * MTP_ETIMEDOUT (0 = 2). */
    int hs_resends;
    /* Server: the key exchange (RSA private keys ...). */
    mtp_hs_server_config_t hs_server;

    /* ---- sessions ---- */
    /* Template for sessions (role is forced). Client: session_id 0 = random. */
    mtp_session_config_t session;
    /* Client: continue this session (borrowed; call mtp_session_reconnected() is done for
     * you) instead of creating one. It must belong to auth_key. */
    mtp_session_t *client_session;

    /* ---- server callbacks (all optional) ---- */
    /* Find a key by auth_key_id: fill *key and the salt new sessions start with, return 1;
     * 0 if unknown (the client then gets transport error -404). NULL: only keys made on
     * this connection are known. */
    int (*lookup_key)(void *ctx, int64_t auth_key_id, mtp_auth_key_t *key, int64_t *salt);
    /* A key exchange on this connection finished: store the key. */
    void (*new_key)(void *ctx, const mtp_hs_result_t *result);
    /* Sessions owned by the caller (so they outlive connections): return the session for
     * (key, session_id), creating it from tmpl (a filled-in config) if needed; NULL drops
     * the message. The conn calls mtp_session_reconnected() the first time it sees a
     * session. NULL callback: the conn creates and owns its sessions. */
    mtp_session_t *(*get_session)(void *ctx, const mtp_auth_key_t *key, int64_t session_id,
                                  const mtp_session_config_t *tmpl);
    void *cb_ctx;

    /* Observer for every decrypted (in) and packed (out) message, container contents one
     * by one (see mtp_session_trace_fn; dir = MTP_TRACE_IN/OUT | MTP_TRACE_INNER). When
     * set it goes into every session the conn creates and into the template passed to
     * get_session (same as setting session.trace/trace_ctx). */
    mtp_session_trace_fn trace;
    void *trace_ctx;
} mtp_conn_config_t;

/* Defaults: intermediate transport, session defaults of the role, for the config version
 * the caller was compiled with (an unknown version only stores version). */
void mtp_conn_config_init_versioned(unsigned version, mtp_conn_config_t *c, mtp_role_t role);
#define mtp_conn_config_init(c, role) \
    mtp_conn_config_init_versioned(MTP_CONN_CONFIG_VERSION, (c), (role))

/* *out = a new connection; 0, MTP_EINVAL (invalid config), MTP_EVERSION (a config, or its
 * session template, of an unknown version), MTP_ENOMEM, or the error of the first step
 * (transport setup, key exchange start). */
int mtp_conn_new(const mtp_conn_config_t *cfg, mtp_usec_t now, mtp_conn_t **out);
/* Frees the connection and the sessions it owns (their pending calls end silently: use
 * mtp_conn_close() first if their owners must hear about it). */
void mtp_conn_free(mtp_conn_t *c);
/* End every pending call of the owned sessions with err (MTP_ECLOSED if err >= 0) as
 * events; the connection is dead afterwards. */
void mtp_conn_close(mtp_conn_t *c, int err);

/* ---- events ---- */

typedef enum mtp_conn_event_type {
    MTP_CONN_EV_NONE = 0,
    MTP_CONN_EV_KEY,             /* key exchange finished: key (client and server) */
    MTP_CONN_EV_SESSION,         /* session/sev: an event of a session (results, updates,
                                    queries, new_session_created, pongs, disconnect ...) */
    MTP_CONN_EV_QUICK_ACK,       /* client: the server confirmed a packet (token, msg_id) */
    MTP_CONN_EV_TRANSPORT_ERROR, /* client: the server sent code (-404 ...); server: we
                                    answered code. Client: the connection is dead. */
    MTP_CONN_EV_ERROR            /* err: the connection is dead (framing, §3.5 check, key
                                    exchange, timeout) */
} mtp_conn_event_type_t;

typedef struct mtp_conn_event {
    mtp_conn_event_type_t type;
    int err;                        /* ERROR */
    int32_t code;                   /* TRANSPORT_ERROR */
    uint32_t token;                 /* QUICK_ACK */
    int64_t msg_id;                 /* QUICK_ACK: msg_id of the confirmed packet (0 unknown) */
    mtp_hs_result_t key;            /* KEY (secret: wipe your copies) */
    mtp_session_t *session;         /* SESSION */
    mtp_session_event_t sev;        /* SESSION; pointers valid until the next call */
} mtp_conn_event_t;

/* 1 = *ev filled, 0 = none. */
int mtp_conn_next_event(mtp_conn_t *c, mtp_conn_event_t *ev);

/* ---- bytes ---- */

/* Received stream bytes (any split). Returns 0, or the connection's fatal error (also
 * queued as an event) once it is dead. */
int mtp_conn_feed(mtp_conn_t *c, const uint8_t *data, size_t n, mtp_usec_t now);
/* Zero-copy input (see mtp_transport_rx_space): room for at least want bytes, written by
 * the caller (recv straight into it), then handed over with mtp_conn_rx_commit(), which
 * does what mtp_conn_feed() of those bytes would. Reading everything the socket has
 * before committing lets large packets that arrived together be opened together. */
int mtp_conn_rx_space(mtp_conn_t *c, size_t want, uint8_t **ptr, size_t *cap);
int mtp_conn_rx_commit(mtp_conn_t *c, size_t n, mtp_usec_t now);
/* Bytes waiting to be written (valid until the next call on the conn). */
mtp_bytes_t mtp_conn_pending_output(const mtp_conn_t *c);
/* n of them were written. May pack more session messages (with the last `now` seen). */
void mtp_conn_consume(mtp_conn_t *c, size_t n);

/* ---- time ---- */

mtp_usec_t mtp_conn_next_deadline(const mtp_conn_t *c);
int mtp_conn_tick(mtp_conn_t *c, mtp_usec_t now);
/* Pack what sessions have queued (after using a session directly). */
int mtp_conn_flush(mtp_conn_t *c, mtp_usec_t now);

/* ---- client ---- */

/* Queue an RPC call (see mtp_session_call) and pack it for sending. Returns the call id or a
 * negative error. flags: the session's MTP_SESS_* call flags, plus MTP_CONN_DEFER: the
 * call is only queued, and calls queued together go out in one container (one
 * encryption) at the next mtp_conn_flush(). */
#define MTP_CONN_DEFER (1u << 30)
int64_t mtp_conn_call(mtp_conn_t *c, const uint8_t *body, size_t len, uint32_t flags,
                      void *user, mtp_usec_t now);

/* ---- server ---- */

/* Answer a query (routed to the session that received req_msg_id) / push to the session
 * that was active last. */
int mtp_conn_reply(mtp_conn_t *c, int64_t req_msg_id, const uint8_t *body, size_t len,
                   mtp_usec_t now);
int mtp_conn_reply_error(mtp_conn_t *c, int64_t req_msg_id, int32_t code, const char *message,
                         mtp_usec_t now);
int mtp_conn_push(mtp_conn_t *c, const uint8_t *body, size_t len, mtp_usec_t now);
/* Send a transport error frame (e.g. -404, -429) now; the connection reports
 * MTP_CONN_EV_TRANSPORT_ERROR as for one it sent itself (fault injection). */
int mtp_conn_send_transport_error(mtp_conn_t *c, int32_t code);

/* ---- state ---- */

bool mtp_conn_dead(const mtp_conn_t *c);
/* The fatal error (0 while alive). */
int mtp_conn_error(const mtp_conn_t *c);
/* true once a key is in use (client: given or exchanged; server: first encrypted packet or
 * exchange). */
bool mtp_conn_has_key(const mtp_conn_t *c);
const mtp_auth_key_t *mtp_conn_key(const mtp_conn_t *c);
/* Client: its session. Server: the session that was active last (NULL before any). */
mtp_session_t *mtp_conn_session(const mtp_conn_t *c);
/* Client: take the session out (the conn forgets it; the caller frees it or passes it to a
 * new conn as client_session). NULL if none. */
mtp_session_t *mtp_conn_take_session(mtp_conn_t *c);
const mtp_transport_t *mtp_conn_transport(const mtp_conn_t *c);

typedef struct mtp_conn_stats {
    uint64_t bytes_in, bytes_out;
    uint64_t packets_in, packets_out;
    uint64_t quick_acks;            /* client: received; server: sent */
    uint64_t rejected;              /* server: packets answered with a transport error */
} mtp_conn_stats_t;
const mtp_conn_stats_t *mtp_conn_stats(const mtp_conn_t *c);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_CONN_H */
