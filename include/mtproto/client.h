/*
 * libmtproto — the client: policy over the sans-IO core (mtp_conn_t).
 *
 * One mtp_client_t keeps a pool of connections (one main connection per DC in use, plus
 * file-transfer connections), the auth keys per DC, the home DC and the logged-in user,
 * and applies the client policy on top of the core: initConnection on the first call of
 * a connection, migration (PHONE/NETWORK/USER_MIGRATE move home, FILE_MIGRATE only moves
 * the call), FLOOD_WAIT / SLOWMODE_WAIT retries below a threshold (a timer, never
 * blocking other calls), export/importAuthorization before the first authorized call on
 * a non-home DC, and reconnects with exponential backoff + jitter (calls in flight are
 * resent on the new connection, or failed with a typed error — never lost, never answered
 * twice).
 *
 * Event loop: every client lives on an mtp_loop_t (<mtproto/net.h>): its own, or the
 * one given in cfg.loop, which many clients (and an in-process harness) can share. Its
 * connections are mtp_stream_t and its timers run on the monotonic clock (the offset to
 * the server's time, used for msg_ids, is kept apart, on the wall clock). Host names are
 * resolved without blocking (mtp_resolve_start: a lookup thread that reports through the
 * loop). Drive it with the loop's own functions (mtp_loop_fds / mtp_loop_timeout_ms /
 * mtp_loop_process, or mtp_loop_run_once), or with the wrappers below, which do the same
 * on the client's loop. mtp_client_run() / mtp_call_sync() run the loop themselves (not
 * from inside a callback of that loop: MTP_ESTATE).
 *
 * Threads: one client, and its loop, are used by one thread at a time. Secrets
 * (api_hash, auth keys, passwords) are never logged.
 */
#ifndef MTPROTO_CLIENT_H
#define MTPROTO_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/net.h>
#include <mtproto/tl.h>
#include <mtproto/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)   /* the public API (-fvisibility=hidden) */

#define MTP_CLIENT_MAX_DCS 16

typedef struct mtp_client mtp_client_t;
typedef struct mtp_call_error mtp_call_error_t;

typedef struct mtp_client_dc {
    int id;                     /* 1..MTP_CLIENT_MAX_DCS */
    char host[64];              /* IPv4 / IPv6 literal or host name */
    uint16_t port;
} mtp_client_dc_t;

typedef enum mtp_client_dcs_kind {
    MTP_CLIENT_DCS_PRODUCTION = 0,  /* Telegram's production DCs 1-5 and RSA key */
    MTP_CLIENT_DCS_TEST,            /* Telegram's test DCs 1-3 */
    MTP_CLIENT_DCS_CUSTOM           /* dcs[] + rsa_pem below */
} mtp_client_dcs_kind_t;

/* The version of mtp_client_config_t this header describes. */
#define MTP_CLIENT_CONFIG_VERSION 1u

/* Limits checked by mtp_client_new (longer is MTP_EINVAL, never silently cut). */
#define MTP_CLIENT_API_HASH_MAX 64      /* characters */
#define MTP_CLIENT_NAME_MAX 255         /* device_model, system_version, app_version */
#define MTP_CLIENT_LANG_MAX 16          /* lang_code */
#define MTP_CLIENT_PATH_MAX 1023        /* session_path */
#define MTP_CLIENT_PEM_MAX 65536        /* rsa_pem */

/*
 * Every field is validated by mtp_client_new (MTP_EINVAL, with a message naming the field
 * through cfg.log and from mtp_client_config_check) and every string is copied: nothing of
 * the config is referred to after mtp_client_new returns, except cfg.loop and the log
 * callback.
 */
typedef struct mtp_client_config {
    unsigned version;           /* MTP_CLIENT_CONFIG_VERSION, set by mtp_client_config_init */
    int32_t api_id;             /* >= 0 */
    const char *api_hash;       /* secret: never logged; NULL = "" */
    /* initConnection fields; NULL = the defaults ("libmtproto", "Linux", "1.0", "en") */
    const char *device_model, *system_version, *app_version, *lang_code;

    mtp_client_dcs_kind_t dcs_kind;
    /* CUSTOM: n_dcs (1..MTP_CLIENT_MAX_DCS) entries, ids 1..MTP_CLIENT_MAX_DCS and distinct,
     * host non-empty, port non-zero (other kinds: n_dcs 0..MTP_CLIENT_MAX_DCS, not read) */
    mtp_client_dc_t dcs[MTP_CLIENT_MAX_DCS];
    int n_dcs;
    const char *rsa_pem;        /* CUSTOM: the server's public key (PEM) */
    int first_dc;               /* home DC when the session has none: 0 (default 2, or the
                                   first DC of a custom table) or a DC of the table */

    mtp_transport_kind_t transport;   /* default INTERMEDIATE */
    bool obfuscated;

    /* Session store: a file (written atomically through a unique temporary beside it,
     * mode 0600; at most MTP_CLIENT_PATH_MAX characters; not a symlink; locked through
     * "<path>.lock" while the client lives) or NULL / "" = memory only. */
    const char *session_path;

    /* FLOOD_WAIT_X / SLOWMODE_WAIT_X with X <= this (seconds) are waited out and retried;
     * above it the call fails with MTP_EFLOOD (default 60; < 0 = never wait; at most
     * 7 days). */
    int flood_threshold;
    /* Timeout of one call (µs; 0 = default 60 s; at most 7 days) and of connecting
     * (10 s). */
    mtp_usec_t call_timeout;
    /* Connections used for file transfer per DC (default 2) and parts in flight per
     * connection (default 8; a download keeps file_conns * file_parallel 1 MiB parts in
     * flight, asked for four at a time so that they are answered and sealed together).
     * file_conns 0..8 and file_parallel 0..64; 0 = 1. */
    int file_conns;
    int file_parallel;
    /* Reconnect backoff (µs, >= 0, cap >= base): base (0 = default 100 ms) and cap (0 =
     * default 10 s); attempts before the calls of a DC fail with MTP_ECLOSED (0 = default
     * 5, at most 1000). */
    mtp_usec_t backoff_base, backoff_cap;
    int max_reconnects;
    /* Peer cache entries kept (0 = default 100000, at most 1000000; < 0 = no peer cache).
     * See "peers" below. */
    int peer_cache_max;

    /* The event loop to live on (shared with others; it must outlive the client). NULL =
     * a loop of the client's own, freed with it. */
    mtp_loop_t *loop;
    /* Log lines up to log_level: configuration errors (ERROR), connections, reconnects,
     * migrations (INFO), key exchanges, resolution, backoff (DEBUG). Never secrets. */
    mtp_log_fn log;
    void *log_user;
    mtp_log_level_t log_level;
} mtp_client_config_t;

/* Defaults, and cfg->version = version (pass MTP_CLIENT_CONFIG_VERSION: use the macro). */
void mtp_client_config_init_versioned(unsigned version, mtp_client_config_t *cfg);
#define mtp_client_config_init(cfg) \
    mtp_client_config_init_versioned(MTP_CLIENT_CONFIG_VERSION, (cfg))
/* Validate cfg as mtp_client_new does, without creating anything: 0, MTP_EVERSION or
 * MTP_EINVAL with the reason (naming the field) in why (NUL-terminated; may be NULL). */
int mtp_client_config_check(const mtp_client_config_t *cfg, char *why, size_t why_len);
/* Parse "HOST:PORT" into dc (id given). 0 or MTP_EINVAL. */
int mtp_client_dc_parse(mtp_client_dc_t *dc, int id, const char *hostport);

/* 0 and *out, or MTP_EVERSION (unknown cfg->version), MTP_EINVAL (a bad field: see
 * mtp_client_config_check), MTP_ENOMEM, MTP_EIO / MTP_EINVAL (session file unreadable, a
 * symlink / malformed), MTP_EEXIST (another client, in this process or another, has the
 * session file), MTP_EBADKEY. Loads the session file if it exists. */
int mtp_client_new(const mtp_client_config_t *cfg, mtp_client_t **out);
/* Closes everything; pending calls end with MTP_ECLOSED through their callbacks. */
void mtp_client_free(mtp_client_t *c);
/* Add or replace a DC address. 0, MTP_EINVAL, MTP_EFULL (the DC table is full). */
int mtp_client_set_dc(mtp_client_t *c, int id, const char *host, uint16_t port);
/* help.getConfig on DC dc (0 = home): add the IPv4 DCs it lists that are not known yet. */
int mtp_client_update_dcs(mtp_client_t *c, int dc, mtp_call_error_t *err);

/* ---- results ---- */

struct mtp_call_error {
    int err;                    /* 0 ok; MTP_ERPC (code/message below), MTP_EFLOOD (wait
                                   seconds in number), MTP_ECLOSED, MTP_ETIMEDOUT ... */
    int32_t code;               /* RPC error code (303, 400, 420 ...) */
    char message[128];          /* RPC error message ("FLOOD_WAIT_120") */
    int64_t number;             /* its number X (seconds, DC, part), -1 if none */
};

/* Completion: result is the boxed answer (valid only during the callback; decode it with
 * mtp_tl_decode_result(layer, method, ...) into your arena, which also takes the bare
 * Vector<T> results that mtp_tl_decode rejects), or err->err != 0. Called exactly once per
 * call. */
typedef void (*mtp_call_cb)(mtp_client_t *c, void *user, const uint8_t *result, size_t len,
                            const mtp_call_error_t *err);

/* Flags for mtp_call_ex. */
#define MTP_CALL_FILE     1u    /* use a file-transfer connection */
#define MTP_CALL_NO_AUTH  2u    /* don't import the authorization on a non-home DC */
#define MTP_CALL_NO_PEERS 4u    /* don't feed the result to the peer cache (see "peers") */

/* Asynchronous call: obj is a generated layer-228 method object (encoded at once).
 * dc 0 = home DC. Returns 0 or a negative error (then cb is not called). */
int mtp_call(mtp_client_t *c, const mtp_tl_object_t *obj, mtp_call_cb cb, void *user);
int mtp_call_ex(mtp_client_t *c, int dc, unsigned flags, const uint8_t *body, size_t len,
                mtp_call_cb cb, void *user);
/* Blocking call (runs the built-in loop; other calls progress meanwhile). The result is
 * decoded into arena by the method's declared result type (mtp_tl_decode_result(); for a
 * wrapper such as invokeWithLayer, that of the call it carries). Returns 0 or the error
 * (details in *err if given). A method whose result is a bare Vector<T> (users.getUsers ->
 * Vector<User>, Vector<int>, Vector<long> …) gives an mtp_tl_vector_t (<mtproto/tl.h>):
 *     const mtp_tl_vector_t *v = mtp_tl_as_vector(res);
 *     for (uint32_t i = 0; v && i < v->n; i++) use(v->v.obj[i]);   (v->v.i32 for int …)
 * which mtp_tl_to_json() prints as a JSON array and mtp_tl_print() as TL text. With arena
 * NULL the result is not decoded (*result stays NULL). */
int mtp_call_sync(mtp_client_t *c, const mtp_tl_object_t *obj, mtp_arena_t *arena,
                  mtp_tl_object_t **result, mtp_call_error_t *err);
int mtp_call_sync_ex(mtp_client_t *c, int dc, unsigned flags, const mtp_tl_object_t *obj,
                     mtp_arena_t *arena, mtp_tl_object_t **result, mtp_call_error_t *err);

/* Blocking call of a serialized query; the boxed result is appended to out. */
int mtp_call_sync_raw(mtp_client_t *c, int dc, unsigned flags, const uint8_t *body, size_t len,
                      mtp_buf_t *out, mtp_call_error_t *err);
/* Print the result of method obj (any result type, vectors included) as canonical JSON
 * (or indented text with pretty) into out. */
int mtp_result_format(const mtp_tl_object_t *method, const uint8_t *res, size_t len,
                      bool pretty, mtp_buf_t *out);

/* ---- event loop ---- */

/* The loop the client lives on (cfg.loop or its own). */
mtp_loop_t *mtp_client_loop(const mtp_client_t *c);
/* Wrappers over the client's loop, with the loop's shapes (see mtp_loop_fds): the fds to
 * wait on (returns how many are needed), milliseconds until mtp_client_process() must run
 * at the latest (-1 = no deadline), and the work for the readiness in fds (n 0: timers
 * and deferred work only). On a shared loop these serve every user of the loop. */
size_t mtp_client_fds(mtp_client_t *c, struct pollfd *fds, size_t max);
int mtp_client_timeout(mtp_client_t *c);
int mtp_client_process(mtp_client_t *c, const struct pollfd *fds, size_t n);
/* Built-in loop: wait up to ms for I/O and process once (mtp_loop_run_once). 0 or < 0. */
int mtp_client_step(mtp_client_t *c, int ms);
/* Built-in loop until *done becomes true or ms pass (ms < 0: no limit); with done NULL,
 * until no call of this client is pending. */
int mtp_client_run(mtp_client_t *c, const volatile bool *done, int ms);

/* ---- state ---- */

int mtp_client_home_dc(const mtp_client_t *c);
int64_t mtp_client_user_id(const mtp_client_t *c);     /* 0 = not logged in */
bool mtp_client_authorized(const mtp_client_t *c);
/* Write the session file now (done automatically on changes). */
int mtp_client_save(mtp_client_t *c);
/* Session as one text string (base64 of a versioned binary with a CRC; the peer cache and
 * the updates state included). malloc'd. */
char *mtp_client_session_export(mtp_client_t *c);
/* Replace the session (keys, home DC, user, peer cache, updates state) with an exported
 * one. Strings and files of the older formats still load: version 2 (no updates state:
 * mtp_client_updates_start calls getState) and version 1 (no peer cache either). */
int mtp_client_session_import(mtp_client_t *c, const char *text);

typedef struct mtp_client_stats {
    uint64_t calls, results, rpc_errors, flood_waits, migrations, reconnects, resent;
    uint64_t bytes_up, bytes_down;
} mtp_client_stats_t;
void mtp_client_stats(const mtp_client_t *c, mtp_client_stats_t *out);

/* ---- peers ----
 *
 * Telegram accepts a user or channel only with the access_hash the account received with it
 * (InputPeerUser / InputUser / InputPeerChannel / InputChannel). The client keeps a peer
 * cache: every `user`, `chat`, `chatForbidden`, `channel` and `channelForbidden` object in a
 * decoded result is remembered (kind, id, access_hash, username), found by walking the whole
 * object generically over the TL descriptors. It is fed automatically by the results of
 * mtp_call_sync / mtp_call_sync_ex (when an arena is given), mtp_call_sync_raw, the
 * login functions and the asynchronous mtp_call / mtp_call_ex (their results are decoded
 * by the method's result type before the callback runs; not for MTP_CALL_FILE calls, nor
 * with MTP_CALL_NO_PEERS, nor after mtp_client_set_async_peer_feed(c, false)).
 *
 * The cache is bounded (config peer_cache_max, default 100000 entries; the entry seen
 * longest ago is evicted), saved with the session file and the session export, and
 * cleared when the logged-in user changes (access hashes belong to one account).
 * An entry seen only in a `min` object keeps its access_hash but says so (min): Telegram may
 * refuse it; a full object later replaces it, a min object never overwrites a full one.
 *
 * PEER specs (mtp_peer_spec_parse, mtp_client_input_peer ...):
 *   "me" or "self"     the logged-in user
 *   "@username"        1..64 of [A-Za-z0-9_]: the cache, else contacts.resolveUsername
 *   "N"                a user id (1 <= N < 2^52)
 *   "-N"               a basic group (chat) id, 1 <= N <= 999999999999
 *   "-100N"            a channel/supergroup in Bot API marked form: -(10^12 + N),
 *                      e.g. channel 1234567890 is -1001234567890
 */

#define MTP_PEER_USERNAME_MAX 64
#define MTP_PEER_CHANNEL_MARK 1000000000000LL   /* Bot API: channel -> -(MARK + id) */

typedef enum mtp_peer_kind {
    MTP_PEER_USER = 1,
    MTP_PEER_CHAT = 2,          /* basic group: no access_hash needed */
    MTP_PEER_CHANNEL = 3        /* channel or supergroup */
} mtp_peer_kind_t;

/* One cache entry. */
typedef struct mtp_peer {
    mtp_peer_kind_t kind;
    int64_t id;                 /* bare id, > 0 */
    int64_t access_hash;        /* 0 when has_access_hash is false (always for chats) */
    bool has_access_hash;
    bool min;                   /* only seen in a min constructor (hash may be refused) */
    bool bot;                   /* users */
    bool broadcast, megagroup;  /* channels */
    char username[MTP_PEER_USERNAME_MAX + 1];   /* without '@'; "" if none */
} mtp_peer_t;

typedef enum mtp_peer_spec_type {
    MTP_PEER_SPEC_SELF = 1,
    MTP_PEER_SPEC_ID,           /* kind + id */
    MTP_PEER_SPEC_USERNAME      /* username */
} mtp_peer_spec_type_t;

typedef struct mtp_peer_spec {
    mtp_peer_spec_type_t type;
    mtp_peer_kind_t kind;
    int64_t id;
    char username[MTP_PEER_USERNAME_MAX + 1];
} mtp_peer_spec_t;

/* Parse a PEER spec (above), no network. 0 or MTP_EINVAL ("", "-", "abc", overflow,
 * "-0", ids out of range, bad username characters). */
int mtp_peer_spec_parse(const char *spec, mtp_peer_spec_t *out);
/* Bot API marked id of a peer: user id, -chat id, -(MTP_PEER_CHANNEL_MARK + channel id);
 * 0 for an id out of range. */
int64_t mtp_peer_marked_id(mtp_peer_kind_t kind, int64_t id);

/* Build the input objects of an entry in arena a: InputPeer (inputPeerUser / inputPeerChat
 * / inputPeerChannel), InputUser (users only) and InputChannel (channels only; else
 * MTP_EINVAL). */
int mtp_peer_input_peer(const mtp_peer_t *p, mtp_arena_t *a, mtp_tl_object_t **out);
int mtp_peer_input_user(const mtp_peer_t *p, mtp_arena_t *a, mtp_tl_object_t **out);
int mtp_peer_input_channel(const mtp_peer_t *p, mtp_arena_t *a, mtp_tl_object_t **out);

/* Cache lookups (no network): 0 and *out, or MTP_ENOTFOUND. Usernames compare
 * case-insensitively, with or without a leading '@'. */
int mtp_client_peer_get(mtp_client_t *c, mtp_peer_kind_t kind, int64_t id, mtp_peer_t *out);
int mtp_client_peer_find_username(mtp_client_t *c, const char *username, mtp_peer_t *out);
/* Add or update an entry by hand (e.g. from your own storage). 0, MTP_EINVAL,
 * MTP_EDISABLED (cache disabled: peer_cache_max < 0), MTP_ENOMEM. */
int mtp_client_peer_put(mtp_client_t *c, const mtp_peer_t *p);
/* Record every user/chat/channel under obj (any decoded object). Returns how many entries
 * were added or changed. */
int mtp_client_peers_feed(mtp_client_t *c, const mtp_tl_object_t *obj);
/* Whether the results of mtp_call / mtp_call_ex feed the peer cache (default true). */
void mtp_client_set_async_peer_feed(mtp_client_t *c, bool on);
size_t mtp_client_peers_count(const mtp_client_t *c);
void mtp_client_peers_clear(mtp_client_t *c);

/* Resolve a PEER spec to an entry: the cache first; "@username" not cached ->
 * contacts.resolveUsername; a user id not cached -> users.getUsers with access_hash 0 (bots
 * and the own account may get an answer); a basic group id needs no cache. "me" gives the
 * own user (id from the session; has_access_hash as cached).
 * Errors: MTP_EINVAL (bad spec; err->message says what PEER accepts), MTP_ENOTFOUND
 * ("PEER_ID_INVALID: id N not in the peer cache; ..." in err->message, err->number = N),
 * MTP_ERPC (e.g. USERNAME_NOT_OCCUPIED) or a transport error from the calls. */
int mtp_client_resolve_peer(mtp_client_t *c, const char *spec, mtp_peer_t *out,
                            mtp_call_error_t *err);
/* The same, built as InputPeer / InputUser / InputChannel in arena a ("me" gives
 * inputPeerSelf / inputUserSelf without a lookup). */
int mtp_client_input_peer(mtp_client_t *c, const char *spec, mtp_arena_t *a,
                          mtp_tl_object_t **out, mtp_call_error_t *err);
int mtp_client_input_user(mtp_client_t *c, const char *spec, mtp_arena_t *a,
                          mtp_tl_object_t **out, mtp_call_error_t *err);
int mtp_client_input_channel(mtp_client_t *c, const char *spec, mtp_arena_t *a,
                             mtp_tl_object_t **out, mtp_call_error_t *err);

/* ---- updates ----
 *
 * The server pushes updates (new messages, read receipts ...) to a logged-in session, and
 * some calls answer with Updates (messages.sendMessage -> updateShortSentMessage,
 * messages.sendMedia -> updates). The client keeps the state of the common message box
 * (pts, qts, date, seq) and hands every update to one callback, in order, at most once:
 *
 *  - Subscribe: mtp_client_on_update(), then mtp_client_updates_start() (not automatic
 *    after login). Before start nothing is delivered or tracked. start calls
 *    updates.getState when the session holds no state, else updates.getDifference from
 *    the saved state, so the updates missed while the program was not running are
 *    delivered by start itself (before it returns). Then the event loop (mtp_client_run,
 *    mtp_client_step, mtp_client_process, the loop's own functions, or any sync call)
 *    delivers them as they come.
 *  - Containers: updates / updatesCombined (each inner update, with the container's users
 *    and chats), updateShort (its update), updateShortMessage / updateShortChatMessage
 *    (converted to updateNewMessage{message} with from_id / peer_id filled in from the
 *    short form), updateShortSentMessage (delivered as is: the answer to your own send,
 *    id/date/pts only; it moves pts), updatesTooLong (not delivered: getDifference runs).
 *    users and chats of a container and of a difference feed the peer cache first.
 *  - pts rules for every update carrying pts/pts_count: local_pts + pts_count == pts:
 *    applied and delivered; local_pts + pts_count > pts: already applied, skipped (so an
 *    RPC result and a push of the same event are delivered once); otherwise a gap: the
 *    container is held (nothing of it delivered) for up to 0.5 s waiting for the missing
 *    ones, then updates.getDifference runs, following updates.differenceSlice until
 *    difference / differenceEmpty / differenceTooLong. seq of updates/updatesCombined is
 *    checked the same way when non-zero. qts is taken from updates that carry it.
 *  - getDifference also runs on updatesTooLong, on new_session_created and when the main
 *    connection to the home DC is lost (the call reconnects). Its messages arrive as
 *    updateNewMessage objects (pts/pts_count 0: the difference's state is applied after
 *    them), its other_updates as they are. differenceTooLong sets pts, delivers an
 *    `updatesTooLong` object (refetch what you display: dialogs, history) and
 *    getDifference carries on from the new pts.
 *  - Channels (supergroups) have their own pts: every channel update with pts/pts_count
 *    (updateNewChannelMessage, updateEditChannelMessage, updateDeleteChannelMessages, ...)
 *    is checked against its channel's pts with the same rules; a channel is tracked from
 *    the first such update seen (at most 4096 channels; beyond that they are delivered
 *    unchecked). A gap holds the container; after 0.5 s updates.getChannelDifference runs
 *    for that channel (access hash from the peer cache), following final=false. Its
 *    messages arrive as updateNewChannelMessage (pts/pts_count 0), other_updates as they
 *    are. updateChannelTooLong of a tracked channel runs getChannelDifference at once (not
 *    delivered; of an unknown channel it is delivered). channelDifferenceTooLong sets the
 *    channel's pts from its dialog and delivers updateChannelTooLong{channel_id, pts}. A
 *    channel whose difference fails with a 400 error (left, banned, no access hash) is
 *    forgotten and tracked anew from its next update.
 *  - The state is saved in the session file (format version 4: with the pts of each
 *    tracked channel; versions 1-3 still load) at most once a second
 *    while it changes, on mtp_client_save() and on mtp_client_free(). A crash between a
 *    delivery and the next save may deliver those updates again after a restart
 *    (at-least-once across crashes; exactly once within a run and across clean exits).
 *    The state is dropped when the logged-in user changes.
 *
 * The callback runs inside the event loop; update, users and chats are valid only during
 * it (copy, or encode with mtp_tl_encode, what you keep). It may make asynchronous calls;
 * a synchronous call from inside it fails with MTP_ESTATE (the loop is running).
 */

typedef void (*mtp_update_cb)(mtp_client_t *c, void *user, const mtp_tl_object_t *update,
                              const mtp_vec_obj_t *users, const mtp_vec_obj_t *chats);

/* Set (or with NULL remove) the update callback. 0 or MTP_EINVAL. */
int mtp_client_on_update(mtp_client_t *c, mtp_update_cb cb, void *user);
/* Start receiving updates (see above): getState, or getDifference from the saved state,
 * waited for. 0 (err->err may still report a failed getDifference, retried in the
 * background), MTP_EAUTH (not logged in) or the error of getState. */
int mtp_client_updates_start(mtp_client_t *c, mtp_call_error_t *err);

typedef struct mtp_client_updates_info {
    bool started, have_state;
    int32_t pts, qts, date, seq;
    uint64_t delivered;         /* updates handed to the callback */
    uint64_t duplicates;        /* skipped as already applied */
    uint64_t gaps;              /* gaps detected */
    uint64_t differences;       /* updates.getDifference calls made */
    uint64_t held;              /* containers held now, waiting for a gap to close */
    uint64_t held_total;        /* containers held so far */
    uint64_t channels;          /* channels whose own pts is tracked now */
    uint64_t channels_seen;     /* channels that started to be tracked */
    uint64_t channel_differences;   /* updates.getChannelDifference calls made */
} mtp_client_updates_info_t;

void mtp_client_updates_info(mtp_client_t *c, mtp_client_updates_info_t *out);
/* The pts of a channel's own message box, 0 if it is not tracked. */
int32_t mtp_client_updates_channel_pts(mtp_client_t *c, int64_t channel_id);

/* ---- login ---- */

/* Returns the code (written to buf, NUL-terminated) or non-zero to give up. */
typedef int (*mtp_ask_cb)(void *user, const char *prompt, char *buf, size_t cap);

/* Phone login: sendCode (following PHONE_MIGRATE), code from `code` or ask(), signIn;
 * SESSION_PASSWORD_NEEDED: password from ask() and SRP checkPassword. */
int mtp_login_phone(mtp_client_t *c, const char *phone, const char *code, mtp_ask_cb ask,
                    void *ask_user, mtp_call_error_t *err);
int mtp_login_bot(mtp_client_t *c, const char *token, mtp_call_error_t *err);
/* The password step alone (after SESSION_PASSWORD_NEEDED). */
int mtp_login_password(mtp_client_t *c, const char *password, mtp_call_error_t *err);
int mtp_logout(mtp_client_t *c, mtp_call_error_t *err);

/* ---- files ---- */

typedef void (*mtp_progress_cb)(void *user, uint64_t done, uint64_t total);

typedef struct mtp_upload_result {
    int64_t file_id;
    int32_t parts;
    bool big;
    char md5[33];               /* small files */
} mtp_upload_result_t;

/* Upload a local file (saveFilePart / saveBigFilePart above 10 MiB, 512 KiB parts). */
int mtp_upload_file(mtp_client_t *c, const char *path, mtp_progress_cb progress, void *puser,
                    mtp_upload_result_t *out, mtp_call_error_t *err);
/* Download a document (InputDocumentFileLocation from id/access_hash/file_reference) of
 * `size` bytes living on DC dc (0 = home) to path, starting at offset `resume_from`
 * (existing bytes kept). 1 MiB parts, several in flight, FILE_MIGRATE followed. */
int mtp_download_document(mtp_client_t *c, int dc, int64_t id, int64_t access_hash,
                          const uint8_t *file_reference, size_t ref_len, int64_t size,
                          const char *path, uint64_t resume_from, mtp_progress_cb progress,
                          void *puser, mtp_call_error_t *err);

/*
 * The same download into a callback instead of a file (a player, a socket, memory):
 * write(wuser, offset, data, len) receives every byte of [resume_from rounded down to
 * 1 MiB, size) exactly once, part by part (1 MiB, the last one shorter). Parts complete
 * out of order when several are in flight: use the offset. data is valid only during the
 * call. Return 0 to go on; anything else stops the download with that error (a positive
 * value becomes MTP_EIO). Given in mtp_download_params_t (<mtproto/ops.h>) to
 * mtp_download_document_to() or mtp_download_start().
 */
typedef int (*mtp_write_cb)(void *user, uint64_t offset, const uint8_t *data, size_t len);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
/* asynchronous login / upload / download, versioned parameter structs */
#include <mtproto/ops.h>
#endif /* MTPROTO_CLIENT_H */
