/*
 * libmtproto — the loopback test harness: a small multi-DC MTProto server.
 *
 * One process, one event loop (src/net), every connection a sans-IO mtp_conn_t in the
 * server role (transport detection, key exchange, envelope, sessions all come from
 * src/proto); this part is policy only: which DCs exist, who the users are, what each
 * API method answers, what is stored, and what faults to inject.
 *
 * Typical use from a test:
 *
 *     mtp_server_config_t cfg;
 *     mtp_server_config_init(&cfg);
 *     cfg.n_dcs = 3;                         // ports 0: free ports are picked
 *     mtp_server_t *srv = NULL;
 *     if (mtp_server_new(&cfg, &srv)) ...   // 0 or MTP_E*; the reason goes to cfg.log
 *     mtp_server_start_thread(srv);          // binds every DC, serves on its own thread
 *     uint16_t ports[3]; mtp_server_ports(srv, ports, 3);
 *     ... connect clients to 127.0.0.1:ports[i], trust mtp_server_public_pem(srv) ...
 *     mtp_server_fault_rpc(srv, "upload.getFile", 1, 420, "FLOOD_WAIT_3");
 *     mtp_server_stop(srv);                  // clean shutdown (state written)
 *     mtp_server_free(srv);
 *
 * The command-line front end is tools/mtproto-harness (`mtproto-harness --help`).
 *
 * What is served (the "believable Telegram"), conventions:
 *  - Phones 99966XYYYY live on DC X (1..n_dcs), login code = X repeated five times.
 *    Numbers with YYYY >= 9000 are new numbers: auth.signIn answers
 *    auth.authorizationSignUpRequired until auth.signUp registers them. Any other number
 *    is PHONE_NUMBER_INVALID. User id = the phone number as an integer, first_name
 *    "User X", last_name "YYYY", username "user<phone>".
 *  - Bots: auth.importBotAuthorization with "<digits>:<35 chars of [A-Za-z0-9_-]>"; the
 *    bot's id is <digits>, it lives on DC 2 (DC 1 when n_dcs == 1); other DCs answer
 *    303 USER_MIGRATE_2. Username "bot<id>_bot", first_name "Bot <id>".
 *  - Files live on the uploader's home DC; upload.getFile elsewhere gets 303
 *    FILE_MIGRATE_X (import the authorization there first).
 *  - Channels (supergroups, memory only, not kept by --state): channels.createChannel,
 *    channels.inviteToChannel (the invited get an updateChannel push), messages.sendMessage
 *    to an inputPeerChannel (members get updates{updateNewChannelMessage} with the
 *    channel's own pts, from 2 up), updates.getChannelDifference (limit honoured:
 *    final=false while more are left).
 *  - The layer of a key is the last invokeWithLayer seen on it (remembered per auth key,
 *    persisted with --state); queries are decoded and answers encoded in that layer's
 *    schema. Layers not compiled in use the highest compiled layer below them (else the
 *    lowest).
 *
 * Threads: a server is driven by one thread at a time (mtp_server_run() or the thread
 * of mtp_server_start_thread()). The fault-injection calls, mtp_server_stats(),
 * mtp_server_interrupt() and mtp_server_stop() may be called from any thread.
 *
 * Trace (--trace / trace_path / trace_cb): one JSON object per line. 64-bit ids
 * (auth_key_id, session_id, msg_id, user ids) are decimal strings, as in the canonical TL
 * JSON. Key material never appears. "dc" and "conn" (a connection number) are on every
 * line that belongs to a connection (not on loop_error). Bodies are mtp_tl_to_json().
 *  - The wire, as the session layer packs and accepts messages (real msg_id and seq_no):
 *      {"dir":"out","dc","conn","auth_key_id","session_id","msg_id","seq_no","body":<msg>}
 *    for every message sent (answers, acks, pongs, new_session_created, bad_msg_
 *    notification, future_salts, pushes ...) and {"dir":"in",...same fields...} for every
 *    service message received (msgs_ack, ping, get_future_salts ...). Bodies are decoded in
 *    the key's layer. An answer is {"_":"rpc_result","req_msg_id":"..","result":<r>}, the
 *    result decoded by the result type of the method it answers (a bare Vector<T> as a
 *    JSON array, gzip_packed inflated; an rpc_error as itself). A container is an
 *      {"event":"container","dc","conn","container_dir":"in"|"out","auth_key_id",
 *       "session_id","msg_id","seq_no","count":N}
 *    line followed by its messages, each with "inner":true. What cannot be decoded is
 *    {"_":"undecodable","id":"<hex constructor id>","bytes":N}.
 *  - API queries (the session's incoming query, unwrapped), written by the API layer:
 *      {"dir":"in","dc","conn","auth_key_id","session_id","msg_id","seq_no","layer":N,
 *       "wrappers":["invokeWithLayer","initConnection",...],"body":<query>}
 *    seq_no is -1 when not known; body is the query in the client's layer without its
 *    wrappers, or {"_":"undecodable","id":"<hex>","bytes":N,"error":".."}.
 *  - Pushes, when queued for a session (the wire line with its msg_id follows when sent):
 *      {"dir":"out","dc","conn","auth_key_id","session_id","msg_id":null,"seq_no":null,
 *       "push":true,"layer":N,"body":<update>}
 *  - Events: {"event":E,"dc","conn",...} with E and its fields:
 *      open (peer), transport (transport, obfuscated, init_dc), key (auth_key_id, temp,
 *      inner_dc, rsa_fingerprint, expires_in, retries), layer (auth_key_id, layer, api_id,
 *      device_model, system_version, app_version, lang_code), authorized (auth_key_id,
 *      user_id, bot), bind_temp_key (temp_auth_key_id, perm_auth_key_id, expires_at),
 *      destroy_auth_key (auth_key_id), fault (fault: rpc_error / delay with method,
 *      error_code, error_message / delay_ms; drop with bytes_out; push_drop /
 *      push_combine / push_too_long with user_id), delayed_answer (auth_key_id,
 *      session_id, req_msg_id, layer, delay_ms, body: the rpc_result to be sent),
 *      bad_msg_notification (auth_key_id, session_id, count, last_code, why: the
 *      notifications and bad_server_salt the session sent), transport_error (code, why:
 *      -404, -444 ... sent), violation (error: a framing or envelope failure that ended the
 *      connection; or auth_key_id, msg_id, error "undecodable query", detail),
 *      disconnect_delay, close (reason, bytes_in, bytes_out), loop_error (error).
 */
#ifndef MTPROTO_SERVER_H
#define MTPROTO_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)   /* the public API (-fvisibility=hidden) */

#define MTP_SERVER_MAX_DCS 16

typedef struct mtp_server mtp_server_t;

/* An account with two-factor authentication (--password PHONE:PASSWORD). */
typedef struct mtp_server_password {
    const char *phone;          /* digits, optionally with a leading '+' */
    const char *password;
} mtp_server_password_t;

/* The version of mtp_server_config_t these headers describe (see mtp_server_config_init). */
#define MTP_SERVER_CONFIG_VERSION 1u

typedef struct mtp_server_config {
    unsigned version;           /* set by mtp_server_config_init(); never by hand */
    const char *host;           /* address to listen on; default "127.0.0.1" (a wildcard
                                   such as 0.0.0.0 is advertised as 127.0.0.1) */
    uint16_t base_port;         /* DC i listens on base_port + i - 1; 0 = free ports */
    int n_dcs;                  /* 1..MTP_SERVER_MAX_DCS; default 3 */

    /* RSA private key, PEM (PKCS#1 or PKCS#8): the text itself, or a file. Neither: a
     * fresh 2048-bit key (with state_dir: made once and kept in state_dir/rsa.pem). */
    const char *rsa_key_pem;
    size_t rsa_key_pem_len;     /* 0 = strlen */
    const char *rsa_key_path;

    /* Directory for persistent state (users, messages, files, auth keys); created
     * (mode 0700) if missing. NULL = in memory only. */
    const char *state_dir;

    /* Trace of every message handled, as JSON lines (see README "Harness trace"):
     * trace_path "-" = stdout, a path = that file (appended), NULL = none; and/or a
     * callback called on the server thread with each line (no newline, NUL-terminated). */
    const char *trace_path;
    void (*trace_cb)(void *ctx, const char *line, size_t len);
    void *trace_ctx;

    /* Deterministic randomness (nonces, salts, padding, ids, SRP values) from this seed;
     * RSA key generation excepted. has_seed false = OpenSSL's CSPRNG. */
    bool has_seed;
    uint64_t seed;

    /* Seeding (memory only, made at mtp_server_new): populate_messages > 0 makes the public
     * broadcast channel @harness_channel with that many posts (every 10th with a document,
     * every 7th with reactions); populate_members > 0 the public supergroup @harness_group
     * with that many members (synthetic users "Member N", ids 7000000000 + N) and a private
     * supergroup joined by the invite hash "HarnessJoin" ("HarnessOld" has expired). */
    int32_t populate_messages;
    int32_t populate_members;
    /* List pages (messages.getHistory / search / searchGlobal / getDialogs,
     * channels.getParticipants) a user may ask for per second; beyond it 420 FLOOD_WAIT_X
     * (0 = no limit). */
    int32_t page_rate;

    const mtp_server_password_t *passwords;   /* accounts with 2FA (copied) */
    size_t n_passwords;

    /* A connection that receives nothing for this long is closed (default 300 s). */
    mtp_usec_t idle_timeout;
    /* Most connections open at once; beyond it new ones are closed at once (0 = none). */
    int max_connections;
    /* Login codes expire after this long (default 300 s): PHONE_CODE_EXPIRED. */
    mtp_usec_t code_ttl;

    /* The trace shows secrets (api_hash, login codes, passwords and SRP values, exported
     * authorization bytes) instead of "[redacted]". Off by default (--trace-secrets). */
    bool trace_secrets;

    /* Budgets against greedy or hostile peers; 0 = the default given. Exceeding one never
     * aborts: the reaction is named with each (see also mtp_server_stats_t.limit_*). */
    struct {
        size_t max_frame;           /* largest transport packet accepted (2 MiB): a longer
                                       one closes the connection as it is announced */
        size_t max_input;           /* bytes of incomplete frames held over all connections
                                       (256 MiB): the connection that would pass it is closed */
        mtp_usec_t frame_timeout;   /* an incomplete frame older than this closes its
                                       connection (30 s) */
        int sessions_per_key;       /* server sessions per auth key (64): the least recently
                                       used idle one is dropped, else the packet is ignored */
        int sessions_per_conn;      /* sessions one connection may open (8): closed */
        int sessions;               /* sessions in total (4096): new ones refused, the
                                       connection closed */
        mtp_usec_t session_ttl;     /* a session no connection holds is freed after this
                                       (120 s) */
        int keys;                   /* auth keys in total (50000): the key of a further
                                       exchange is not kept, its connection is closed */
        int key_exchanges_per_conn; /* key exchanges one connection may complete (8): closed */
        int key_exchanges_per_addr; /* per source address per minute (300): closed */
        mtp_usec_t key_unused_ttl;  /* a permanent key never authorized nor used for this
                                       long is dropped (1 h) */
        int pending_per_conn;       /* answers held back (delay faults, invokeAfterMsg) per
                                       connection (256): FLOOD_WAIT_1 */
        int pending;                /* in total (20000): FLOOD_WAIT_1 */
        uint64_t upload_bytes;      /* upload parts held in memory in total (1 GiB):
                                       FLOOD_WAIT_5 */
        int exports;                /* exported authorizations alive (1000): FLOOD_WAIT_1 */
    } limits;

    /* Diagnostics: why mtp_server_new() fails (MTP_LOG_ERROR, one line each), called on
     * the calling thread. Lines of a level up to log_level (default MTP_LOG_WARN; ERROR = 0
     * is the most severe) are passed; log NULL: none. Key material and passwords never
     * appear. */
    mtp_log_fn log;
    void *log_user;
    mtp_log_level_t log_level;

    /* Optional: run on the caller's event loop (an mtp_loop_t of <mtproto/net.h>, shared
     * with clients for instance): mtp_server_start() registers the listeners there and the
     * caller drives the loop; no thread and no mtp_server_run() are needed. Free the server
     * before the loop. NULL = a loop of its own. */
    struct mtp_loop *loop;
} mtp_server_config_t;

/* Defaults (see the fields) for a config of `version`: 0, or MTP_EVERSION for a version
 * this library does not know (MTP_EINVAL: cfg NULL). Use the macro: it passes the version
 * of the headers the caller was compiled with. */
int mtp_server_config_init_versioned(unsigned version, mtp_server_config_t *cfg);
#define mtp_server_config_init(cfg) \
    mtp_server_config_init_versioned(MTP_SERVER_CONFIG_VERSION, (cfg))

/* Loads/creates the RSA key and the state; binds nothing yet. The config is copied (cfg
 * NULL: the defaults). 0 and *out set, or a negative MTP_E* code with *out NULL (the reason
 * also goes to cfg->log): MTP_EVERSION (cfg->version unknown: the config was not made by
 * mtp_server_config_init()), MTP_EINVAL (a bad field), MTP_EIO (state directory, key or
 * trace file), MTP_ENOMEM, MTP_ECRYPTO, or what loading the RSA key / the state reported. */
int mtp_server_new(const mtp_server_config_t *cfg, mtp_server_t **out);
/* Stops the server if it runs, writes the state, closes everything. NULL is fine. */
void mtp_server_free(mtp_server_t *srv);

/* Bind every DC (fills the ports). 0 or a negative MTP_E* code (MTP_EIO: a port is taken). */
int mtp_server_start(mtp_server_t *srv);
/* Serve on the calling thread until mtp_server_interrupt()/mtp_server_stop(); then close
 * every connection and write the state. Starts the server if needed. 0 or MTP_E*. */
int mtp_server_run(mtp_server_t *srv);
/* Start (if needed) and serve on a new thread. */
int mtp_server_start_thread(mtp_server_t *srv);
/* Make mtp_server_run() return (async-signal-safe, thread-safe). */
void mtp_server_interrupt(mtp_server_t *srv);
/* Interrupt and, if the server runs on its own thread, wait for it to finish. */
void mtp_server_stop(mtp_server_t *srv);

/* The listening ports of DC 1..n (after start). Returns the number of DCs. */
int mtp_server_ports(const mtp_server_t *srv, uint16_t *ports, int max);
int mtp_server_dc_count(const mtp_server_t *srv);
/* The address advertised in the ready line and help.getConfig. */
const char *mtp_server_host(const mtp_server_t *srv);
/* The RSA key: MTProto fingerprint, and the public key as PKCS#1 PEM (NUL-terminated,
 * owned by the server). */
int64_t mtp_server_fingerprint(const mtp_server_t *srv);
const char *mtp_server_public_pem(const mtp_server_t *srv);
/* The ready line of the command-line tool (no newline):
 * {"event":"ready","dcs":[{"id":1,"host":"127.0.0.1","port":P1},...],
 *  "rsa_fingerprint":"<signed decimal>","pid":N}
 * Returns its length (like snprintf). */
int mtp_server_ready_json(const mtp_server_t *srv, char *buf, size_t size);

/* ---- fault injection (any thread; effective for queries handled afterwards) ----
 * Each returns 0, MTP_EINVAL (a bad argument) or MTP_EFULL (32 rules are set already). */

/* The next `count` calls of `method` (schema name such as "upload.getFile", or "*" for
 * every method) fail with rpc_error(code, message), e.g. 420 "FLOOD_WAIT_3",
 * 500 "INTERNAL", 303 "FILE_MIGRATE_2". count < 0: every call until cleared;
 * count 0 removes the rule for that method. Rules are checked in the order added. */
int mtp_server_fault_rpc(mtp_server_t *srv, const char *method, int count, int32_t code,
                         const char *message);
/* Answers to the next `count` calls of `method` ("*" = any) are sent `delay` later
 * (count < 0: until cleared, 0: remove). */
int mtp_server_fault_delay(mtp_server_t *srv, const char *method, int count,
                           mtp_usec_t delay);
/* Drop connections: once `after_bytes` more bytes have been sent on connections of DC
 * `dc` (0 = any DC), the connection that crosses the mark is cut there (abruptly, in the
 * middle of a packet if that is where the mark falls); repeated `count` times
 * (count < 0: forever; 0: remove). The byte count restarts after every drop. */
int mtp_server_fault_drop(mtp_server_t *srv, int dc, uint64_t after_bytes, int count);
/* The updates stream of user `user_id` (0 = every user): how the next `count` update
 * pushes (new messages) or updates.getDifference calls are shaped (count < 0: until
 * cleared; 0: remove the rule of that kind and user). Kinds:
 *   MTP_SERVER_UPD_DROP          the push is lost (not sent): the receiver sees a gap
 *                                (channel messages too)
 *   MTP_SERVER_UPD_SEQ           the push is sent as updates{...} with the user's next seq
 *                                (a dropped one still uses its seq: a seq gap)
 *   MTP_SERVER_UPD_COMBINE       the next `count` pushes are held back and sent together as
 *                                one updatesCombined (seq_start..seq) with the last of them
 *                                (count < 0: in groups of 16)
 *   MTP_SERVER_UPD_TOO_LONG      the push is replaced by updatesTooLong (a channel
 *                                message: by updateChannelTooLong)
 *   MTP_SERVER_UPD_DIFF_TOO_LONG updates.getDifference from behind the user's pts is
 *                                answered updates.differenceTooLong{pts: the current one}
 *                                (getChannelDifference: channelDifferenceTooLong)
 * getState / getDifference report the seq these pushes used (kept in memory only). */
enum {
    MTP_SERVER_UPD_DROP = 1,
    MTP_SERVER_UPD_SEQ,
    MTP_SERVER_UPD_COMBINE,
    MTP_SERVER_UPD_TOO_LONG,
    MTP_SERVER_UPD_DIFF_TOO_LONG
};
int mtp_server_fault_updates(mtp_server_t *srv, int64_t user_id, int kind, int count);
/* Remove every fault rule (of the calls above; mtp_server_fault_add rules stay). */
void mtp_server_fault_clear(mtp_server_t *srv);
/* Change mtp_server_config_t.page_rate of a running harness (0 = no limit). */
void mtp_server_set_page_rate(mtp_server_t *srv, int32_t pages_per_second);

/* The fault engine: a rule written as a spec, "KIND[:ARG...][,OPTION=VALUE...]":
 *   connection  drop:P (the connection carrying an answer is lost before the answer is
 *               written, with probability P; the session re-sends it on the next one),
 *               delay:MS[:JITTER], silent:AFTER_N (after N queries on a connection nothing
 *               more is written; TCP stays open), cut:BYTES (close a connection once it
 *               sent BYTES, mid-frame), reset[:AFTER_N] (RST: SO_LINGER 0 and close),
 *               accept-close:N (the next N connections are closed at once), bw:BYTES_PER_S
 *   session     bad-salt:EVERY_N (the key's salt changes: the next message, container or
 *               ping, gets bad_server_salt), clock-skew:SECONDS (the server's clock is
 *               ahead (+) or behind (-): codes 16/17), new-session:EVERY_N
 *               (new_session_created), bad-msg:CODE[:EVERY_N] (bad_msg_notification CODE,
 *               48 = bad_server_salt, instead of handling the query), duplicate:P[:copy]
 *               (the rpc_result twice, or again inside msg_copy), reorder[:MS] (every
 *               second answer held MS, default 50), container-mix (answers packed with an
 *               ack and an updatesTooLong push)
 *   errors      rpc:CODE:MESSAGE, internal (500 INTERNAL), timeout (-503 Timeout),
 *               auth-key-duplicated (406), migrate:PHONE|NETWORK|USER|FILE|STATS:DC,
 *               flood-wait:X, flood-premium-wait:X, transport-error:CODE (-404, -429: sent
 *               instead of an answer, then the connection closes), forget-keys (every auth
 *               key is forgotten at the next query), restart (at the next query every
 *               connection is dropped; --state is saved and kept)
 *   files       file-stall:K (the Kth upload.getFile is never answered), file-ref-expired:K
 *               (FILE_REFERENCE_EXPIRED), file-short:K (the Kth answer carries half its bytes)
 * Options: method=NAME (that method only), count=N (uses; default forever, 1 for
 * forget-keys, restart and the file kinds), skip=N (the first N matches pass), every=N,
 * p=P (probability per match), dc=N. Randomness comes from the --seed (a run repeats).
 * Returns the rule's id (> 0), MTP_EINVAL (a bad spec) or MTP_EFULL (64 rules). */
int mtp_server_fault_add(mtp_server_t *srv, const char *spec);
/* Remove rule id: 0 or MTP_ENOTFOUND. */
int mtp_server_fault_remove(mtp_server_t *srv, int id);
/* The rules as JSON [{"id":N,"spec":"...","matched":N,"fired":N,"left":N},...] into buf
 * (NUL-terminated, truncated to size); returns the full length or a negative MTP_E*. */
int mtp_server_fault_list(mtp_server_t *srv, char *buf, size_t size);

/* The control channel: JSON lines on a Unix socket (`where` a path) or on 127.0.0.1:PORT
 * (`where` all digits; "0" = a free port, see mtp_server_control_port()), served by the
 * server's loop. Call it before mtp_server_run() / mtp_server_start_thread(). One request
 * object per line, one answer line each ({"ok":true,...} or {"ok":false,"error":"..."}):
 *   {"cmd":"add","spec":SPEC} -> "id"       {"cmd":"remove","id":N}
 *   {"cmd":"list"} -> "faults" (as mtp_server_fault_list)   {"cmd":"clear"}
 *   {"cmd":"stats"} -> "stats" (mtp_server_stats_t fields)
 *   {"cmd":"push","user_id":N,"text":T[,"from_id":M]}: a new incoming message in N's box,
 *        pushed to N's sessions (updateShortMessage) -> "id", "pts"
 *   {"cmd":"restart"}: every connection dropped, --state saved and kept
 *   {"cmd":"qr_accept","token":T}: not implemented (no auth.exportLoginToken yet): an error
 * 0, MTP_EINVAL (already open, running, or a bad argument), MTP_EIO (bind/listen). */
int mtp_server_control_open(mtp_server_t *srv, const char *where);
/* The TCP port of the control channel (0 if none or a Unix socket). */
int mtp_server_control_port(const mtp_server_t *srv);

/* ---- statistics (any thread; a consistent snapshot) ---- */

typedef struct mtp_server_stats {
    uint64_t connections_open;
    uint64_t connections_total;
    uint64_t key_exchanges;         /* auth keys created */
    uint64_t queries;               /* API queries handled */
    uint64_t rpc_errors;            /* answered with rpc_error */
    uint64_t transport_errors;      /* -404 / -444 ... sent */
    uint64_t bad_msg_notifications; /* bad_msg_notification / bad_server_salt sent */
    uint64_t faults_injected;       /* rpc errors + delays + drops */
    uint64_t bytes_in, bytes_out;   /* closed and open connections */
    uint64_t sessions;              /* server sessions alive */
    uint64_t keys;                  /* auth keys known */
    uint64_t users;                 /* accounts known */
    /* budgets (mtp_server_config_t.limits): how often each was hit, and what is held */
    uint64_t input_bytes;           /* bytes of incomplete frames held now */
    uint64_t limit_frame;           /* connections closed: a frame incomplete longer than
                                       frame_timeout (one over max_frame is a framing
                                       violation: "violation" in the trace) */
    uint64_t limit_input;           /* connections closed: max_input */
    uint64_t limit_sessions;        /* sessions refused or dropped (any session budget) */
    uint64_t limit_keys;            /* key exchanges refused (any key budget) */
    uint64_t keys_expired;          /* unused permanent keys dropped */
    uint64_t limit_pending;         /* answers refused with FLOOD_WAIT (pending budgets) */
    uint64_t limit_uploads;         /* parts refused with FLOOD_WAIT (upload_bytes) */
    uint64_t limit_exports;         /* exportAuthorization refused (exports) */
} mtp_server_stats_t;

void mtp_server_stats(mtp_server_t *srv, mtp_server_stats_t *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_SERVER_H */
