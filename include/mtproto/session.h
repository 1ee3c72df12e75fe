/*
 * libmtproto — the MTProto session (PROTOCOL.md §3.5–3.8, §5, §6, §7.1, §7.5).
 *
 * One mtp_session_t per (auth_key, session_id), in either role. It works on the plaintext
 * inner messages (salt, session_id, msg_id, seq_no, body); the envelope layer encrypts and
 * decrypts around it, the transport frames. Sans-IO: no sockets, no clock, no globals.
 * The caller passes the current time (mtp_usec_t, local clock) into every call that needs
 * it and asks mtp_session_next_deadline() when to call mtp_session_tick() next.
 *
 * What it does
 *  - msg_id generation (server time = local time + offset; client ids ≡ 0 mod 4, server
 *    answers ≡ 1, server pushes ≡ 3; strictly increasing; a container's id is greater than
 *    its contents') and content-related seq_no.
 *  - Incoming checks: session_id, msg_id parity, replay window (the last N ids; duplicates
 *    ignored but re-acked when content-related), time window −300 s/+30 s (server always,
 *    client once its clock offset is known; bad_server_salt / bad_msg_notification are
 *    exempt), salt (server), seq_no rules (server: 32/33/34/35), containers (§5.4).
 *    The server role answers every violation with the matching bad_msg_notification /
 *    bad_server_salt; the client role reacts as §5.3 says (see mtp_session_feed()).
 *  - Outgoing queue: RPC calls (serialized bodies + a user handle), service messages;
 *    packing into msg_container (≤ 1024 messages, a byte limit), piggy-backed and batched
 *    acks, gzip_packed for large bodies, invokeAfterMsg chains for "ordered" calls.
 *  - Every service message of §5 in both directions (see the table in session.c).
 *  - Every call ends exactly once: with its result, with an rpc_error, or with a typed
 *    failure (MTP_EPROTO for the "our bug" notifications, MTP_ECANCELED, MTP_ECLOSED ...).
 *
 * Memory: received bodies are copied into events the caller drains; pointers in an event
 * stay valid until the next mtp_session_next_event() call (or mtp_session_free()).
 * Outgoing bodies are copied when queued. All tables are bounded by the configuration.
 *
 * Thread safety: one session object must be used by one thread at a time.
 */
#ifndef MTPROTO_SESSION_H
#define MTPROTO_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/crypto.h>
#include <mtproto/envelope.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================================== */
/* msg_id <-> time                                                                       */
/* ===================================================================================== */

/* The msg_id of server time t (µs since the epoch): seconds << 32 | fraction·2^32, low two
 * bits cleared. */
int64_t    mtp_msg_id_from_time(mtp_usec_t t);
/* The time a msg_id stands for (µs since the epoch). */
mtp_usec_t mtp_msg_id_time(int64_t msg_id);

/* ===================================================================================== */
/* RPC errors (PROTOCOL.md §6)                                                            */
/* ===================================================================================== */

typedef enum mtp_rpc_error_kind {
    MTP_RPCERR_OTHER = 0,
    MTP_RPCERR_FLOOD_WAIT,          /* FLOOD_WAIT_X: wait X seconds */
    MTP_RPCERR_FLOOD_PREMIUM_WAIT,  /* FLOOD_PREMIUM_WAIT_X */
    MTP_RPCERR_SLOWMODE_WAIT,       /* SLOWMODE_WAIT_X */
    MTP_RPCERR_TAKEOUT_INIT_DELAY,  /* TAKEOUT_INIT_DELAY_X */
    MTP_RPCERR_2FA_CONFIRM_WAIT,    /* 2FA_CONFIRM_WAIT_X */
    MTP_RPCERR_PHONE_MIGRATE,       /* *_MIGRATE_X: X = DC id */
    MTP_RPCERR_NETWORK_MIGRATE,
    MTP_RPCERR_USER_MIGRATE,
    MTP_RPCERR_FILE_MIGRATE,
    MTP_RPCERR_STATS_MIGRATE,
    MTP_RPCERR_FILE_PART_MISSING    /* FILE_PART_X_MISSING: X = the part */
} mtp_rpc_error_kind_t;

typedef struct mtp_rpc_error {
    int32_t code;               /* error_code (303, 400, 420, -503 ...) */
    mtp_bytes_t message;        /* error_message as sent */
    mtp_bytes_t name;           /* message without its numeric parameter ("FLOOD_WAIT");
                                   equal to message when there is none */
    mtp_rpc_error_kind_t kind;
    bool has_arg;               /* a number was found (trailing _X, or FILE_PART_X_MISSING) */
    int64_t arg;                /* the number: seconds to wait, DC id, part index */
} mtp_rpc_error_t;

/*
 * Parse an error_message. Never fails for any input (numbers out of range of int64 or
 * longer than 18 digits are not parameters); slices point into msg. Returns out->kind.
 */
mtp_rpc_error_kind_t mtp_rpc_error_parse(int32_t code, const uint8_t *msg, size_t len,
                                         mtp_rpc_error_t *out);
/* true for *_WAIT / *_DELAY kinds (arg = seconds) and for *_MIGRATE kinds (arg = DC). */
bool mtp_rpc_error_is_wait(mtp_rpc_error_kind_t kind);
bool mtp_rpc_error_is_migrate(mtp_rpc_error_kind_t kind);

/* ===================================================================================== */
/* Query wrappers (PROTOCOL.md §7.1, §7.5)                                                */
/* ===================================================================================== */

/* Parameters of invokeWithLayer(initConnection(...)). Strings are NUL-terminated UTF-8;
 * NULL means "". */
typedef struct mtp_init_connection {
    int32_t layer;                  /* e.g. MTP_TL_DEFAULT_LAYER */
    int32_t api_id;
    const char *device_model;
    const char *system_version;
    const char *app_version;
    const char *system_lang_code;
    const char *lang_pack;
    const char *lang_code;
    const char *proxy_address;      /* non-NULL: inputClientProxy (flags.0) */
    int32_t proxy_port;
    const uint8_t *params;          /* non-NULL: a serialized boxed JSONValue (flags.1) */
    size_t params_len;
} mtp_init_connection_t;

/*
 * Append invokeWithLayer(layer, initConnection(..., query)) to out. query is one serialized
 * method call (a multiple of 4 bytes). MTP_EINVAL for bad arguments, MTP_ENOMEM.
 * The client policy wraps the first call of every fresh connection/session this way.
 */
int mtp_wrap_init_connection(const mtp_init_connection_t *p, const uint8_t *query, size_t len,
                             mtp_buf_t *out);
/* Append invokeAfterMsg(msg_id, query) / invokeWithoutUpdates(query) to out. */
int mtp_wrap_invoke_after(int64_t msg_id, const uint8_t *query, size_t len, mtp_buf_t *out);
int mtp_wrap_without_updates(const uint8_t *query, size_t len, mtp_buf_t *out);

/* Wrappers found by mtp_query_unwrap() (bits of mtp_query_info_t.wrappers). */
#define MTP_WRAP_LAYER            (1u << 0)   /* invokeWithLayer */
#define MTP_WRAP_INIT             (1u << 1)   /* initConnection */
#define MTP_WRAP_AFTER_MSG        (1u << 2)   /* invokeAfterMsg */
#define MTP_WRAP_AFTER_MSGS       (1u << 3)   /* invokeAfterMsgs */
#define MTP_WRAP_WITHOUT_UPDATES  (1u << 4)
#define MTP_WRAP_TAKEOUT          (1u << 5)
#define MTP_WRAP_MESSAGES_RANGE   (1u << 6)
#define MTP_WRAP_BUSINESS         (1u << 7)   /* invokeWithBusinessConnection */
#define MTP_WRAP_INTEGRITY        (1u << 8)   /* GooglePlayIntegrity / ApnsSecret / ReCaptcha */

/* The wrappers of an incoming query and the query inside them. Slices point into the body
 * that was unwrapped. */
typedef struct mtp_query_info {
    uint32_t wrappers;              /* MTP_WRAP_* seen (outermost first is not recorded) */
    int32_t layer;                  /* invokeWithLayer.layer, 0 if absent */
    /* initConnection (MTP_WRAP_INIT) */
    int32_t api_id;
    mtp_bytes_t device_model, system_version, app_version;
    mtp_bytes_t system_lang_code, lang_pack, lang_code;
    bool has_proxy;
    mtp_bytes_t proxy_address;
    int32_t proxy_port;
    mtp_bytes_t params;             /* boxed JSONValue bytes, empty if absent */
    /* invokeAfterMsg / invokeAfterMsgs: n_after LE int64 values at after_raw */
    uint32_t n_after;
    const uint8_t *after_raw;
    int64_t takeout_id;             /* MTP_WRAP_TAKEOUT */
    mtp_bytes_t query;              /* the innermost query (boxed method call) */
    uint32_t query_id;              /* its constructor id */
    bool gzipped;                   /* the innermost object is gzip_packed (not inflated) */
} mtp_query_info_t;

/*
 * Strip the invoke wrappers of §7 from a serialized query: invokeWithLayer,
 * initConnection, invokeAfterMsg(s), invokeWithoutUpdates, invokeWithTakeout,
 * invokeWithMessagesRange, invokeWithBusinessConnection, invokeWithGooglePlayIntegrity,
 * invokeWithApnsSecret, invokeWithReCaptcha (at most 16 levels). Stops at the first other
 * constructor; if that is gzip_packed, info->gzipped is set and info->query is the whole
 * gzip_packed object (inflate it and unwrap again). Bounded: never reads past body.
 * MTP_ETRUNC / MTP_EBADTL / MTP_EDEPTH for malformed wrappers.
 */
int mtp_query_unwrap(const uint8_t *body, size_t len, mtp_query_info_t *info);
/* The i-th msg_id of invokeAfterMsg(s). */
int64_t mtp_query_after_id(const mtp_query_info_t *info, uint32_t i);

/* ===================================================================================== */
/* The session                                                                            */
/* ===================================================================================== */

typedef struct mtp_session mtp_session_t;

/* A plaintext message going out of or into the session (what the envelope carries). */
typedef struct mtp_session_msg {
    int64_t salt;
    int64_t session_id;
    int64_t msg_id;
    int32_t seq_no;
    const uint8_t *body;        /* one boxed TL object, a multiple of 4 bytes */
    size_t len;
} mtp_session_msg_t;

/* A salt with its validity (future_salt), unix seconds of server time. */
typedef struct mtp_future_salt {
    int32_t valid_since;
    int32_t valid_until;
    int64_t salt;
} mtp_future_salt_t;

/* Directions of the trace hook (dir argument): IN or OUT, plus INNER for a message inside
 * a container (the container itself is traced first, without INNER). */
#define MTP_TRACE_IN     0
#define MTP_TRACE_OUT    1
#define MTP_TRACE_INNER  2
typedef void (*mtp_session_trace_fn)(void *ctx, int dir, int64_t session_id, int64_t msg_id,
                                     int32_t seq_no, const uint8_t *body, size_t len);

/* Version of mtp_session_config_t this header describes (its first field). */
#define MTP_SESSION_CONFIG_VERSION 1u

typedef struct mtp_session_config {
    unsigned version;               /* set by mtp_session_config_init() */
    mtp_role_t role;
    /* Client: 0 = draw a random one. Server: the client's session_id (required). */
    int64_t session_id;
    /* The current server salt (client: from the handshake or storage; server: the salt
     * accepted until a salt table is set with mtp_session_set_server_salts()). */
    int64_t server_salt;
    /* Client: server time − local time, µs (from the handshake's server_time), and whether
     * it is known; an unsynced client does not apply the time window to what it receives
     * and syncs from the first valid server message. Ignored by the server role. */
    mtp_usec_t time_offset;
    bool time_synced;
    /* Randomness for session ids, ping ids, unique ids and generated salts (NULL = CSPRNG).
     * Must outlive the session. */
    const mtp_rng_t *rng;

    uint32_t replay_window;         /* ids remembered per direction (default 2048, ≥ 64) */
    uint32_t max_container_msgs;    /* default and maximum 1024 */
    size_t max_container_bytes;     /* bytes of one outgoing packet body (default 1 MiB) */
    uint32_t ack_max_pending;       /* flush acks when this many are pending (default 100) */
    mtp_usec_t ack_delay;           /* ... or when the oldest waited this long (500 ms) */
    /* gzip_packed for outgoing bodies (client: queries; server: rpc_result contents) of at
     * least this many bytes when the result is smaller. Default 512; SIZE_MAX disables. */
    size_t gzip_min;
    size_t gzip_cap;                /* cap for inflating incoming gzip_packed (16 MiB) */
    /* Client: a call sent but not acknowledged for this long is asked about with
     * msgs_state_req and re-sent if the server says it never got it (default 10 s;
     * 0 = never). */
    mtp_usec_t resend_timeout;
    /* Client keep-alive: 0 = off. With ping_disconnect_delay > 0 (seconds) the keep-alive
     * is ping_delay_disconnect(ping_id, delay), else ping. */
    mtp_usec_t ping_interval;
    int32_t ping_disconnect_delay;
    /* Client: how many future salts to ask for with get_future_salts when none is known
     * or they run out within salt_refresh_margin (0 = never ask). Server: the most salts
     * one future_salts answer carries (≤ 64). Default 32. */
    uint32_t future_salts;
    mtp_usec_t salt_refresh_margin; /* default 10 min */
    /* Server: length of one generated salt period (default 1 h) and how long an expired
     * salt is still accepted (default 1800 s). */
    int32_t salt_period;
    int32_t salt_grace;
    /* Re-sends of one message after 16/17/20/48 notifications before its call fails
     * with MTP_EPROTO (default 5): a misbehaving peer never makes us loop forever. */
    uint32_t max_retries;
    /* Server: bytes of unacknowledged answers kept for re-sending (default 16 MiB; the
     * oldest are forgotten beyond it). */
    size_t max_retained_bytes;
    /* Memory kept in recycled buffers (large records and received-event buffers) for the
     * next messages, default 4 MiB. A file transfer moves 1 MiB parts through them, and a
     * fresh allocation of that size costs a page fault per 4 KiB: a session that moves
     * several parts at once wants about 1 MiB per part in flight (the client gives its
     * file connections file_parallel + 2 MiB). */
    size_t reuse_bytes;
    /* Server: send new_session_created with the first message (default true). */
    bool announce_new_session;
    /* Server: destroy_session for another session id; return 1 if it existed and was
     * destroyed, 0 if unknown. NULL = always unknown (destroy_session_none). */
    int (*destroy_session)(void *ctx, int64_t session_id);
    void *cb_ctx;
    /* Observer (optional): every message fed (after the session_id check, before any
     * other check; bodies as received, gzip_packed not inflated) and every message packed,
     * container contents one by one with their real msg_id and seq_no. Must not call
     * back into the session. */
    mtp_session_trace_fn trace;
    void *trace_ctx;
} mtp_session_config_t;

/* Defaults for the role (everything above that is not a per-session value), for the
 * config version the caller was compiled with. An unknown version only stores version
 * (mtp_session_new() then refuses it). */
void mtp_session_config_init_versioned(unsigned version, mtp_session_config_t *c,
                                       mtp_role_t role);
#define mtp_session_config_init(c, role) \
    mtp_session_config_init_versioned(MTP_SESSION_CONFIG_VERSION, (c), (role))

/* *out = a new session; 0, MTP_EINVAL (no config, unknown role, server role without
 * session_id), MTP_EVERSION (config of an unknown version), MTP_ENOMEM, or the RNG's error
 * when no random session_id can be drawn. */
int mtp_session_new(const mtp_session_config_t *cfg, mtp_session_t **out);
/* Frees everything. Pending calls end silently: call mtp_session_close() and drain the
 * events first if the owners of the calls must hear about it. */
void mtp_session_free(mtp_session_t *s);

/* ---- events ---- */

typedef enum mtp_session_event_type {
    MTP_SESSION_EV_NONE = 0,
    MTP_SESSION_EV_RESULT,          /* client: a call ended */
    MTP_SESSION_EV_UPDATE,          /* client: a server-initiated body (updates, ...) */
    MTP_SESSION_EV_NEW_SESSION,     /* client: new_session_created (fetch missed updates) */
    MTP_SESSION_EV_SESSION_RESET,   /* client: we moved to a new session_id (32/33/17) */
    MTP_SESSION_EV_PONG,            /* client or server: pong for a ping of ours */
    MTP_SESSION_EV_QUERY,           /* server: an incoming RPC query to answer */
    MTP_SESSION_EV_DISCONNECT,      /* server: the ping_delay_disconnect delay ran out */
    MTP_SESSION_EV_SALTS            /* client: salts changed (bad_server_salt, future_salts;
                                       NEW_SESSION carries its own server_salt); persist
                                       them if wanted */
} mtp_session_event_type_t;

typedef struct mtp_session_event {
    mtp_session_event_type_t type;
    /* RESULT */
    uint64_t call_id;               /* as returned by mtp_session_call() */
    void *user;                     /* the call's user handle */
    int err;                        /* 0: body holds the result; MTP_ERPC: rpc_error below;
                                       MTP_EPROTO: bad_msg_notification bad_msg_code (our
                                       bug: 18/19/34/35/64) or retries exhausted;
                                       MTP_ECANCELED, MTP_ECLOSED, ... */
    int32_t bad_msg_code;
    mtp_rpc_error_t rpc_error;
    /* RESULT: the call's last msg_id; UPDATE: the message's id; QUERY: req_msg_id;
     * NEW_SESSION: first_msg_id; PONG: the ping's msg_id */
    int64_t msg_id;
    /* RESULT: the boxed result (gzip_packed already inflated); UPDATE: the body (inflated);
     * QUERY: info.query, the unwrapped and inflated query */
    mtp_bytes_t body;
    /* QUERY: wrappers of this query; info.layer is the layer of this query or, if it had
     * no invokeWithLayer, the last one seen in this session (0 if none yet) */
    mtp_query_info_t info;
    bool content_related;           /* UPDATE */
    /* NEW_SESSION */
    int64_t unique_id;
    int64_t server_salt;
    /* PONG */
    int64_t ping_id;
    mtp_usec_t rtt;
    /* SESSION_RESET */
    int64_t old_session_id;
    int64_t new_session_id;
} mtp_session_event_t;

/* 1 = *ev filled, 0 = no event. Pointers in *ev stay valid until the next call. */
int mtp_session_next_event(mtp_session_t *s, mtp_session_event_t *ev);

/* ---- incoming ---- */

/*
 * Process one decrypted message (from the envelope). Returns:
 *   0            processed — accepted, ignored as a duplicate, or (server) answered with a
 *                bad_msg_notification / bad_server_salt
 *   MTP_ESTATE   session_id is not this session's (route it elsewhere; nothing done)
 *   MTP_ESECURITY a §3.5 check failed (client: bad parity, outside the time window):
 *                the message was dropped; §3.5 recommends closing the connection
 *   MTP_EPROTO   malformed body (client: dropped; server: answered 64 for containers)
 *   MTP_ENOMEM
 * Client reactions to bad_msg_notification (only for a bad_msg_id that is one of ours and
 * pending; a container id stands for its contents): 16 → resync the clock offset from the
 * notification's msg_id and re-send with new ids; 17 → the same in a fresh session (ids
 * must go down); 20 → re-send; 32/33 → fresh session (new session_id, seq_no 0), re-send
 * everything pending; 48 (bad_server_salt) → adopt the salt, re-send; 18/19/34/35/64 →
 * the affected calls fail with MTP_EPROTO (bad_msg_code set). Re-sends are bounded by
 * max_retries.
 */
int mtp_session_feed(mtp_session_t *s, const mtp_session_msg_t *m, mtp_usec_t now);

/* ---- outgoing ---- */

/* Flags of mtp_session_call() (other bits: MTP_EINVAL). The MTP_SESS_ namespace is the
 * session's own: the client's MTP_CALL_* and the conn's MTP_CONN_* flags are others. */
#define MTP_SESS_ORDERED   (1u << 0)   /* run after the previous ORDERED call (invokeAfterMsg
                                          while that one is still pending) */
#define MTP_SESS_NO_GZIP   (1u << 1)   /* never gzip_packed (also mtp_session_reply_ex) */
#define MTP_SESS_ALONE     (1u << 2)   /* never inside a container */
#define MTP_SESS_CALL_MASK (MTP_SESS_ORDERED | MTP_SESS_NO_GZIP | MTP_SESS_ALONE)

/*
 * Client: queue an RPC call (body: one serialized method call, copied). Returns the call
 * id (> 0) or a negative error (MTP_EINVAL, MTP_ENOMEM, MTP_ESTATE for the server role or
 * after mtp_session_close()). The call ends with exactly one MTP_SESSION_EV_RESULT.
 */
int64_t mtp_session_call(mtp_session_t *s, const uint8_t *body, size_t len, uint32_t flags,
                         void *user, mtp_usec_t now);
/* The same, chained explicitly after call `after` (invokeAfterMsg with that call's current
 * msg_id while it is pending; 0 = no chain). */
int64_t mtp_session_call_after(mtp_session_t *s, const uint8_t *body, size_t len,
                               uint32_t flags, uint64_t after, void *user, mtp_usec_t now);
/* Client: end a pending call now with MTP_ECANCELED (an rpc_drop_answer goes to the server
 * if it was sent). MTP_ENOTFOUND if it is not pending. */
int mtp_session_cancel(mtp_session_t *s, uint64_t call_id, mtp_usec_t now);
/* The msg_id a pending call was last sent with (0 if not sent yet or unknown). */
int64_t mtp_session_call_msg_id(const mtp_session_t *s, uint64_t call_id);
/* Number of calls that have not ended yet. */
size_t mtp_session_pending_calls(const mtp_session_t *s);
/* Messages sent and kept for re-sending until the peer acknowledges them (client: calls
 * not yet acked; server: answers and pushes not yet acked). */
size_t mtp_session_unacked(const mtp_session_t *s);

/* Server: answer query req_msg_id with a serialized result (rpc_result, gzip_packed when
 * large) or with an rpc_error. Answers to a query the client dropped are discarded. */
int mtp_session_reply(mtp_session_t *s, int64_t req_msg_id, const uint8_t *body, size_t len,
                      mtp_usec_t now);
/* The same with flags: MTP_SESS_NO_GZIP sends the result as it is (file parts). */
int mtp_session_reply_ex(mtp_session_t *s, int64_t req_msg_id, const uint8_t *body, size_t len,
                         uint32_t flags, mtp_usec_t now);
int mtp_session_reply_error(mtp_session_t *s, int64_t req_msg_id, int32_t code,
                            const char *message, mtp_usec_t now);
/* Server: a server-initiated content-related message (updates); msg_id ≡ 3 mod 4. */
int mtp_session_push(mtp_session_t *s, const uint8_t *body, size_t len, mtp_usec_t now);

/* Flags of mtp_session_send_raw(). */
#define MTP_SESS_SEND_CONTENT (1u << 0)   /* content-related (odd seq_no) */
#define MTP_SESS_SEND_ANSWER  (1u << 1)   /* server: msg_id ≡ 1 mod 4 (else 3) */
#define MTP_SESS_SEND_ALONE   (1u << 2)   /* not inside a container */
/* Queue any body as-is (service messages, fault injection). Not retained for re-sending.
 * Both roles. */
int mtp_session_send_raw(mtp_session_t *s, const uint8_t *body, size_t len, uint32_t flags,
                         mtp_usec_t now);
/* Send a ping (disconnect_delay > 0: ping_delay_disconnect, client only). The pong comes
 * as MTP_SESSION_EV_PONG. */
int mtp_session_ping(mtp_session_t *s, int64_t ping_id, int32_t disconnect_delay,
                     mtp_usec_t now);

/*
 * Produce the next message to encrypt and send: 1 = *out filled (out->body valid until
 * the next call on the session), 0 = nothing to send now, negative = error. Call it until
 * it returns 0 after every feed/call/reply/tick. Pending acks go out with anything else,
 * or alone once ack_max_pending are pending or the oldest waited ack_delay.
 */
int mtp_session_pack(mtp_session_t *s, mtp_usec_t now, mtp_session_msg_t *out);
/* Whether mtp_session_pack() would produce a message now. */
bool mtp_session_want_pack(const mtp_session_t *s, mtp_usec_t now);

/* The earliest time mtp_session_tick() has something to do (acks to flush, keep-alive,
 * salt refresh, a call to ask about, the server's disconnect deadline), MTP_TIME_NEVER if
 * nothing is scheduled, or a time ≤ now if output is already waiting. */
mtp_usec_t mtp_session_next_deadline(const mtp_session_t *s);
/* Run the timers due at `now`. Then call mtp_session_pack(). */
int mtp_session_tick(mtp_session_t *s, mtp_usec_t now);

/*
 * The transport connection was replaced: messages sent but not acknowledged are queued
 * again (client: with new msg_ids; server: the same msg_ids, as servers do), the
 * disconnect deadline is cleared.
 */
void mtp_session_reconnected(mtp_session_t *s, mtp_usec_t now);
/* Close: every pending call ends with `err` (e.g. MTP_ECLOSED); nothing else is sent.
 * Further calls fail with MTP_ESTATE. */
void mtp_session_close(mtp_session_t *s, int err);

/* ---- state ---- */

mtp_role_t mtp_session_role(const mtp_session_t *s);
int64_t    mtp_session_id(const mtp_session_t *s);
/* Salt used for the next outgoing message at `now` (client: the best future salt valid at
 * server time, else the last one learned; server: the current salt of its table). */
int64_t    mtp_session_salt(const mtp_session_t *s, mtp_usec_t now);
void       mtp_session_set_salt(mtp_session_t *s, int64_t salt);
/* Client: add known future salts (e.g. restored from storage). Server: replace the salt
 * table checked against incoming salts and served by get_future_salts (shared by the
 * sessions of one auth key if the caller copies it around). n ≤ 64. */
int        mtp_session_add_future_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n);
int        mtp_session_set_server_salts(mtp_session_t *s, const mtp_future_salt_t *v, size_t n);
/* Copy out the known salts (client: future salts; server: its table). Returns the count. */
size_t     mtp_session_salts(const mtp_session_t *s, mtp_future_salt_t *out, size_t max);
/* Client clock: server time − local time (µs) and whether it is synchronized. */
mtp_usec_t mtp_session_time_offset(const mtp_session_t *s);
bool       mtp_session_time_synced(const mtp_session_t *s);
void       mtp_session_set_time_offset(mtp_session_t *s, mtp_usec_t offset);
/* Whether msg_id was received from the peer (still in the replay window). */
bool       mtp_session_received(const mtp_session_t *s, int64_t msg_id);
/* Server: the layer of the last invokeWithLayer seen (0 if none). */
int32_t    mtp_session_layer(const mtp_session_t *s);

typedef struct mtp_session_stats {
    uint64_t msgs_in, msgs_out;         /* messages (container contents counted) */
    uint64_t packets_out;               /* results of mtp_session_pack() */
    uint64_t containers_in, containers_out;
    uint64_t duplicates;                /* ignored as replays */
    uint64_t dropped;                   /* failed a check and were ignored */
    uint64_t acks_out;                  /* msgs_ack messages sent */
    uint64_t ids_acked;                 /* ids in them */
    uint64_t resent;                    /* messages re-sent (any reason) */
    uint64_t bad_msg_out;               /* server: notifications sent */
    uint64_t bad_msg_in;                /* client: notifications received about ours */
    uint64_t gzip_in, gzip_out;
    uint32_t last_bad_msg_code;         /* last code sent (server) / received (client) */
} mtp_session_stats_t;

const mtp_session_stats_t *mtp_session_stats(const mtp_session_t *s);

#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_SESSION_H */
