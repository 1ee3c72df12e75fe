/*
 * libmtproto — harness internals (src/server). Not a public header.
 *
 * Pieces:
 *   server.c     public API, lifecycle, fault rules, statistics
 *   srv_conn.c   connections: stream <-> mtp_conn_t, sessions, events, trace lines
 *   srv_api.c    API dispatch; the methods by area in srv_auth.c, srv_users.c, srv_msgs.c,
 *                srv_chan.c, srv_files.c, shared replies/objects in srv_reply.c
 *                (srv_api_int.h)
 *   srv_keys.c   auth keys: add, destroy, expire
 *   srv_store.c  users, messages, documents, uploads; persistence (--state)
 *   srv_util.c   hash map, seeded RNG, JSON helpers
 *
 * What the harness would need from the layers below (workarounds in place):
 *  1. The reason of each bad_msg_notification the session sends: the trace reports them
 *     from mtp_session_stats() deltas (count and the last code only).
 *  2. mtp_conn caches a key found by lookup_key for the connection's life: a destroyed or
 *     expired key keeps working on an open connection; the harness closes such connections.
 */
#ifndef MTP_SERVER_INT_H
#define MTP_SERVER_INT_H

#include <mtproto/server.h>
#include <mtproto/conn.h>
#include <mtproto/net.h>
#include <mtproto/tl.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* ------------------------------------------------------------------------------------ */
/* utilities                                                                            */
/* ------------------------------------------------------------------------------------ */

/* int64 -> pointer hash map (open addressing, linear probing, tombstones). */
typedef struct srv_map {
    int64_t *keys;
    void **vals;
    uint8_t *st;        /* 0 empty, 1 used, 2 deleted */
    size_t cap, n, used;
} srv_map_t;

void  srv_map_free(srv_map_t *m);
void *srv_map_get(const srv_map_t *m, int64_t k);
int   srv_map_put(srv_map_t *m, int64_t k, void *v);
void *srv_map_del(srv_map_t *m, int64_t k);
/* Iterate: i starts at 0; returns false at the end. */
bool  srv_map_next(const srv_map_t *m, size_t *i, int64_t *k, void **v);

/* Deterministic generator (SHA-256 of seed + counter) behind an mtp_rng_t. */
typedef struct srv_drbg {
    uint8_t seed[32];
    uint64_t counter;
    uint8_t block[32];
    unsigned used;
} srv_drbg_t;

void srv_drbg_init(srv_drbg_t *d, uint64_t seed);
int  srv_drbg_fill(void *ctx, uint8_t *out, size_t n);

/* JSON helpers (append to b). */
void srv_json_str(mtp_buf_t *b, const uint8_t *p, size_t n);   /* "..." escaped */
void srv_json_cstr(mtp_buf_t *b, const char *s);
/* Replace the values of secret fields of a JSON line (api_hash, login codes, passwords and
 * SRP values, bot tokens, key material; "bytes" of exported authorizations) by
 * "[redacted]"; numbers and empty strings stay. */
void srv_json_redact(mtp_buf_t *b);

/* ------------------------------------------------------------------------------------ */
/* data model                                                                           */
/* ------------------------------------------------------------------------------------ */

#define SRV_MAX_SALTS 64
#define SRV_NAME_MAX 64

typedef struct srv_sess srv_sess_t;
typedef struct srv_conn srv_conn_t;
typedef struct mtp_server srv_t;

typedef struct srv_key {
    int64_t id;
    mtp_usec_t last_used;       /* permanent keys: last packet or authorization (expiry) */
    mtp_auth_key_t key;
    int dc;
    bool temp;
    bool destroyed;             /* destroy_auth_key / expired: kept while sessions hold it */
    int32_t expires_at;         /* temp keys: unix time */
    int64_t perm_id;            /* temp: the permanent key it is bound to (0 none) */
    int64_t user_id;            /* perm: the authorization (0 none) */
    int32_t layer;              /* last invokeWithLayer (0 none yet) */
    int32_t api_id;
    char device_model[SRV_NAME_MAX], system_version[SRV_NAME_MAX], app_version[SRV_NAME_MAX];
    char lang_code[16];
    int64_t salt;               /* the salt new sessions start with */
    mtp_future_salt_t salts[SRV_MAX_SALTS];
    uint32_t n_salts;
    /* login in progress on this key */
    int64_t pw_user;            /* SESSION_PASSWORD_NEEDED was answered for this user */
    bool srp_valid;
    int64_t srp_id;
    uint8_t srp_b[256], srp_B[256];
    srv_sess_t *sessions;       /* list (srv_sess.next_in_key) */
    unsigned n_sessions;
} srv_key_t;

typedef struct srv_msg {
    int32_t id;
    int32_t pts;
    int32_t date;
    bool out;
    int64_t peer;               /* the other user (== owner for Saved Messages) */
    int64_t from;               /* the sender */
    int64_t random_id;          /* sender side only (0 otherwise) */
    int64_t doc_id;             /* media document, 0 none */
    char *text;
    size_t text_len;
    /* srv_act.c: forwarded from (marked peer id, message id, date); deleted */
    int64_t fwd_peer;
    int32_t fwd_msg_id, fwd_date;
    bool deleted;
} srv_msg_t;

typedef struct srv_user {
    int64_t id;
    int dc;                     /* home DC */
    bool bot;
    bool registered;            /* false: a new number before auth.signUp */
    char phone[24];             /* digits ("" for bots) */
    char username[40];
    char *first_name, *last_name;
    int64_t access_hash;
    int32_t pts;
    int32_t seq;                /* of the updates / updatesCombined pushed (not persisted) */
    int32_t combine[16];        /* MTP_SERVER_UPD_COMBINE: pts of the pushes held back */
    int n_combine;
    int32_t next_msg_id;        /* last message id used in this box */
    srv_msg_t *msgs;            /* ascending id */
    size_t n_msgs, cap_msgs;
    srv_map_t by_random;        /* random_id -> (msg index + 1) */
    srv_map_t uploads;          /* file_id -> srv_upload_t */
    bool has_password;
    uint8_t salt1[40], salt2[16];
    uint8_t verifier[256];
} srv_user_t;

/* A channel (supergroup). Memory only: not persisted with --state. Its messages use
 * srv_msg_t with peer = the channel id, from = the sender, out = false. */
#define SRV_CHANNEL_MEMBERS 64
#define SRV_MAX_CHANNELS 10000
typedef struct srv_channel {
    int64_t id, access_hash;
    char title[64];
    int32_t date;
    int32_t pts;
    int32_t next_msg_id;
    srv_msg_t *msgs;            /* ascending id (and pts) */
    size_t n_msgs, cap_msgs;
    int64_t members[SRV_CHANNEL_MEMBERS];
    int n_members;
    /* srv_hist.c: public (username), broadcast, and the seeded members (synthetic users
     * seed_base + 1 .. seed_base + n_seeded, made by mtp_server_config_t.populate_*) */
    char username[33];
    bool broadcast;
    bool basic;                 /* srv_group.c: a basic group (chat id = id - 10^9) */
    int64_t seed_base;
    int32_t n_seeded;
} srv_channel_t;

typedef struct srv_doc {
    int64_t id, access_hash;
    uint8_t file_ref[16];
    int dc;
    int32_t date;
    int64_t size;
    char *mime, *name;
    int64_t owner;
    /* data: in memory as the uploaded parts, or in a file of the state directory */
    uint32_t part_size;         /* size of every part but the last */
    uint32_t n_parts;
    uint8_t **parts;            /* NULL when file-backed */
    uint32_t *part_len;
    char *path;                 /* file-backed: the data file in the state directory */
} srv_doc_t;

typedef struct srv_upload {
    int64_t owner, file_id;
    bool big;
    int32_t total;              /* big: file_total_parts */
    uint32_t cap;
    uint8_t **parts;            /* NULL = missing */
    uint32_t *part_len;
    uint64_t bytes;
    mtp_usec_t touched;
} srv_upload_t;

typedef struct srv_code {
    char phone[24];
    char hash[24];
    mtp_usec_t expires;
} srv_code_t;

typedef struct srv_export {
    uint8_t bytes[32];
    int64_t user_id;
    int target_dc;
    mtp_usec_t expires;
} srv_export_t;

/* A server session: owned by the harness so it outlives connections. */
#define SRV_SEQ_RING 64

struct srv_sess {
    srv_t *srv;
    srv_sess_t *next_in_key;
    srv_key_t *key;
    int64_t session_id;
    mtp_session_t *s;
    int refs;                   /* connections holding it, pending delayed answers */
    srv_conn_t *conn;           /* connection that used it last (NULL if closed) */
    mtp_usec_t last_used;
    uint64_t bad_msg_seen;      /* session stats already reported in the trace */
    uint64_t push_gen;          /* last push delivered (dedupe across connections) */
    /* seq_no of recent incoming queries, for the "in" trace lines of the API layer */
    int64_t seq_msg[SRV_SEQ_RING];
    int32_t seq_no[SRV_SEQ_RING];
    unsigned seq_next;
    /* queries whose answer cannot be decoded without their method (a bare Vector<T>
     * result): msg_id -> method, until the answer is traced */
    int64_t res_msg[SRV_SEQ_RING];
    const mtp_tl_comb_t *res_method[SRV_SEQ_RING];
    unsigned res_next;
    /* outcomes of recent queries, for invokeAfterMsg(s): msg_id, failed, and when the
     * answer goes out (monotonic; 0 = already sent) */
    int64_t done_msg[SRV_SEQ_RING];
    bool done_failed[SRV_SEQ_RING];
    mtp_usec_t done_due[SRV_SEQ_RING];
    unsigned done_next;
};

/* seq_no of an incoming query seen by the wire trace hook (-1 if unknown). */
int32_t srv_sess_seq_no(const srv_sess_t *ss, int64_t msg_id);
/* The query msg_id is `method` (its client-layer combinator): the trace decodes its
 * rpc_result by the method's result type (kept only for Vector<T> results). */
void srv_sess_note_method(srv_sess_t *ss, int64_t msg_id, const mtp_tl_comb_t *method);

/* ------------------------------------------------------------------------------------ */
/* connections                                                                          */
/* ------------------------------------------------------------------------------------ */

typedef struct srv_dc {
    srv_t *srv;
    int id;
    uint16_t port;
    mtp_listener_t *lst;
} srv_dc_t;

struct srv_conn {
    srv_t *srv;
    srv_dc_t *dc;
    uint64_t id;
    srv_conn_t *prev, *next;
    mtp_stream_t *st;
    mtp_conn_t *c;
    mtp_timer_t *timer;
    srv_sess_t **sess;          /* sessions this connection holds a reference to */
    int nsess, capsess;
    bool detected;              /* transport reported in the trace */
    bool closing;
    bool paused;
    bool updates;               /* subscribed to updates (a query without invokeWithoutUpdates) */
    bool in_feed;
    bool close_after_flush;     /* transport error / fatal error: close once written */
    int64_t last_key;           /* key id of the last encrypted packet (trace) */
    /* budgets (cfg.limits) */
    int sess_opened;            /* sessions this connection created */
    int key_exchanges;          /* key exchanges it completed */
    int pending;                /* answers held back for it (srv_delayed_t) */
    size_t held;                /* bytes of an incomplete frame in its transport */
    uint64_t packets_seen;      /* packets_in when `held` last made progress */
    mtp_usec_t partial_since;   /* since when `held` has not completed a frame */
    uint64_t bytes_in, bytes_out;
    char peer[MTP_NET_ADDRSTRLEN];
    const char *close_reason;
    /* fault engine (srv_fault.c) */
    uint64_t fx_queries;        /* queries handled on this connection */
    bool fx_silent;             /* silent: nothing more is written */
    mtp_usec_t fx_bw_at;        /* bw: when the bucket was last filled (monotonic) */
    double fx_bw_tokens;
};

/* ------------------------------------------------------------------------------------ */
/* faults                                                                               */
/* ------------------------------------------------------------------------------------ */

enum { FAULT_RPC = 1, FAULT_DELAY, FAULT_DROP, FAULT_UPD };

typedef struct srv_fault {
    int kind;
    char method[96];
    int count;                  /* < 0 forever */
    int32_t code;
    char message[128];
    mtp_usec_t delay;
    int dc;
    uint64_t after_bytes;
    uint64_t sent;              /* DROP: bytes counted so far */
    int upd;                    /* UPD: MTP_SERVER_UPD_* */
    int64_t user;               /* UPD: the user (0 any) */
} srv_fault_t;

#define SRV_MAX_FAULTS 32

/* A delayed answer. */
typedef struct srv_delayed {
    struct srv_delayed *next;
    srv_sess_t *ss;
    srv_conn_t *sc;             /* counted in its pending (NULL once it closed) */
    int64_t req_msg_id;
    mtp_usec_t due;             /* monotonic */
    bool is_error;
    int32_t code;
    char message[128];
    uint8_t *body;
    size_t len;
    bool no_gzip;
} srv_delayed_t;

/* ------------------------------------------------------------------------------------ */
/* the server                                                                           */
/* ------------------------------------------------------------------------------------ */

struct mtp_server {
    mtp_server_config_t cfg;
    char host[128];             /* listen address */
    char adv_host[128];         /* advertised (ready line, config): 127.0.0.1 for wildcards */
    char *state_dir;
    mtp_server_password_t *passwords;

    mtp_rsa_key_t *rsa;
    const mtp_rsa_key_t *rsa_list[1];
    char *pub_pem;
    int64_t fingerprint;
    srv_drbg_t drbg;
    mtp_rng_t rng_obj;
    const mtp_rng_t *rng;       /* NULL = CSPRNG */
    uint8_t secret[32];         /* access hashes, file references */

    mtp_loop_t *loop;
    srv_dc_t dcs[MTP_SERVER_MAX_DCS];
    int n_dcs;
    bool started, running;
    pthread_t thread;
    bool has_thread;
    bool own_loop;              /* false: cfg.loop, the caller's */
    atomic_int stop_flag;

    srv_conn_t *conns;
    uint64_t next_conn_id;
    uint64_t n_conns;

    mtp_timer_t *housekeeping;  /* persistence, expiry */
    mtp_timer_t *delay_timer;
    srv_delayed_t *delayed;

    FILE *trace_fp;
    bool trace_close;
    mtp_buf_t tline;

    /* store */
    srv_map_t keys;             /* id -> srv_key_t */
    srv_map_t users;            /* id -> srv_user_t */
    srv_map_t docs;             /* id -> srv_doc_t */
    srv_map_t channels;         /* id -> srv_channel_t (memory only) */
    struct srv_act *act;        /* srv_act.c: reactions, invites, folders, reads (memory) */
    int32_t page_rate;          /* srv_act.c: list pages per second per user (0 any) */
    int64_t last_channel_id;
    srv_code_t *codes;
    size_t n_codes, cap_codes;
    srv_export_t *exports;
    size_t n_exports, cap_exports;
    srv_key_t **graveyard;
    size_t n_grave, cap_grave;
    bool dirty_keys, dirty_users, dirty_msgs, dirty_docs;
    uint64_t n_sessions;
    uint64_t push_gen;
    uint64_t upload_bytes;
    uint64_t input_bytes;       /* sum of srv_conn.held */
    int n_pending;              /* srv_delayed_t in total */
    /* key exchanges per source address in the current minute */
    struct srv_addr_rate { char addr[MTP_NET_ADDRSTRLEN]; mtp_usec_t start; int n; } *rates;
    size_t n_rates, cap_rates;
    /* loop-thread scratch reused by every query: file data read for upload.getFile and
     * the encoded answer (1 MiB parts; fresh buffers of that size fault page by page) */
    mtp_buf_t part_buf, enc_buf;

    /* faults and stats (guarded by mu) */
    pthread_mutex_t mu;
    srv_fault_t faults[SRV_MAX_FAULTS];
    int n_faults;
    mtp_server_stats_t stats;
    struct srv_fx *fx;          /* fault engine rules (srv_fault.c), NULL until one is added */
    struct srv_ctl *ctl;        /* control channel (srv_control.c), NULL if none */
};

/* server.c */
mtp_usec_t srv_now(void);
int32_t srv_unixtime(void);
void srv_stat_add(srv_t *srv, size_t off, uint64_t n);
#define SRV_STAT(srv, field, n) srv_stat_add((srv), offsetof(mtp_server_stats_t, field), (n))
/* Matching rule for a query; returns true and fills *out (a copy) when one applies. */
bool srv_fault_take(srv_t *srv, int kind, const char *method, srv_fault_t *out);
/* DROP rule: how many of n bytes about to be sent on dc may go out before a drop
 * (n = no drop). */
size_t srv_fault_drop_room(srv_t *srv, int dc, size_t n, bool *drop);
/* An updates-stream rule (MTP_SERVER_UPD_*) for `user`: true if one applies (its count is
 * used up by one); *last: that was its last use. */
bool srv_fault_take_upd(srv_t *srv, int upd, int64_t user, bool *last);
void srv_rand(srv_t *srv, void *out, size_t n);
int64_t srv_rand64(srv_t *srv);

/* srv_conn.c */
void srv_accept(mtp_listener_t *l, int fd, const struct sockaddr *peer, socklen_t len,
                void *user);
void srv_conn_close(srv_conn_t *sc, const char *reason);
void srv_conn_pump(srv_conn_t *sc);
void srv_close_all(srv_t *srv);
/* Trace: start a line (returns the buffer, or NULL when tracing is off), emit it. */
mtp_buf_t *srv_trace_begin(srv_t *srv, const char *event_or_dir, srv_conn_t *sc);
void srv_trace_end(srv_t *srv);
bool srv_tracing(const srv_t *srv);
void srv_sess_unref(srv_t *srv, srv_sess_t *ss);
/* Unlink and free a session (and its key if that was destroyed and this its last). */
void srv_sess_free(srv_t *srv, srv_sess_t *ss);
/* A session's answer was queued outside a connection callback: send it. */
void srv_sess_flush(srv_t *srv, srv_sess_t *ss);
void srv_delay_fire(mtp_timer_t *t, void *user);
/* Push a body (already in the receiver's layer) to every live session of user uid that
 * is subscribed to updates, except `except`. */
typedef int (*srv_push_build)(void *ctx, int layer, mtp_buf_t *out);
void srv_push_user(srv_t *srv, int64_t uid, srv_sess_t *except, srv_push_build build, void *ctx);
/* Close every connection using key id. */
void srv_close_key_conns(srv_t *srv, int64_t key_id);
/* Budgets checked by the housekeeping timer: incomplete frames held too long. */
void srv_conns_check(srv_t *srv, mtp_usec_t now);

/* srv_api.c */
typedef struct srv_req {
    srv_t *srv;
    srv_conn_t *sc;
    srv_sess_t *ss;
    srv_key_t *key;
    int dc;
    int64_t req_msg_id;
    int layer;                  /* the client's layer */
    const mtp_tl_layer_t *L;    /* its table */
    mtp_arena_t *arena;
    mtp_usec_t now;
    const char *method;
    mtp_usec_t delay;           /* fault: answer later */
    mtp_usec_t due_min;         /* invokeAfterMsg: not before this (monotonic, 0 none) */
    bool replied;
    bool no_gzip;               /* file parts: the result goes as it is */
} srv_req_t;

void srv_handle_query(srv_conn_t *sc, srv_sess_t *ss, const mtp_session_event_t *ev,
                      mtp_usec_t now);
/* Layer table used for a client layer (see server.h). */
const mtp_tl_layer_t *srv_layer_table(int layer, int *used);

/* srv_fault.c: the fault engine (mtp_server_fault_add) and its hooks */
typedef struct srv_fx srv_fx_t;
void srv_fx_free(srv_t *srv);
mtp_usec_t srv_fx_skew(srv_t *srv);                 /* clock-skew: added to the server's clock */
bool srv_fx_accept(srv_t *srv, int fd);             /* true: fd closed (accept-close) */
bool srv_fx_query(srv_req_t *r);                    /* before the handler; true: consumed */
void srv_fx_after(srv_req_t *r);                    /* after the handler */
/* An answer about to be queued: the body to send instead (tmp holds a rewritten one). */
const uint8_t *srv_fx_answer(srv_req_t *r, const uint8_t *body, size_t *len, mtp_buf_t *tmp);
enum { SRV_FX_OK, SRV_FX_DISCARD, SRV_FX_CUT, SRV_FX_WAIT };
int srv_fx_room(srv_conn_t *sc, size_t *room, mtp_usec_t *wait);   /* output (monotonic wait) */
void srv_fx_restart(srv_t *srv);                    /* drop every connection, save --state */
/* srv_control.c: the control channel */
void srv_control_free(srv_t *srv);

/* srv_store.c */
int  srv_store_load(srv_t *srv);           /* from state_dir (no-op without) */
int  srv_store_save(srv_t *srv, bool all); /* dirty parts (or everything) */
void srv_store_free(srv_t *srv);
srv_key_t *srv_key_find(srv_t *srv, int64_t id);
srv_key_t *srv_key_add(srv_t *srv, const mtp_auth_key_t *k, int dc, bool temp,
                       int32_t expires_at, int64_t salt);
/* Destroyed keys are freed at once, or with their last session (srv_key_release). */
void srv_key_destroy(srv_t *srv, srv_key_t *k);
void srv_key_release(srv_t *srv, srv_key_t *k);
/* The user a key is authorized as (via its permanent key for a bound temp key). */
int64_t srv_key_user(srv_t *srv, const srv_key_t *k);
srv_key_t *srv_key_perm(srv_t *srv, srv_key_t *k);   /* the key holding the authorization */

/* Phone "99966XYYYY": its DC (1..n) or 0 if invalid; *registered_by_default. */
int srv_phone_dc(const srv_t *srv, const char *digits, bool *registered);
/* Normalise a phone (digits only) into out (size 24); false if not a plausible number. */
bool srv_phone_norm(const uint8_t *p, size_t n, char out[24]);
srv_user_t *srv_user_find(srv_t *srv, int64_t id);
/* The account of a valid test phone (created on demand as registered or not). */
srv_user_t *srv_user_by_phone(srv_t *srv, const char *digits);
srv_user_t *srv_user_by_username(srv_t *srv, const uint8_t *name, size_t n);
srv_user_t *srv_bot_get(srv_t *srv, int64_t bot_id, bool create);
int64_t srv_access_hash(const srv_t *srv, int64_t id, uint32_t kind);
void srv_user_set_names(srv_user_t *u, const uint8_t *first, size_t fn, const uint8_t *last,
                        size_t ln);
void srv_user_set_password(srv_t *srv, srv_user_t *u, const char *password);
/* Channels: a new one (creator is its first member; MTP_EFULL: SRV_MAX_CHANNELS reached,
 * MTP_ENOMEM), lookup, membership (join: MTP_EFULL at SRV_CHANNEL_MEMBERS), a new message
 * (id, pts assigned). */
int srv_channel_new(srv_t *srv, int64_t creator, const uint8_t *title, size_t tlen, int32_t date,
                    srv_channel_t **out);
srv_channel_t *srv_channel_find(srv_t *srv, int64_t id);
/* srv_hist.c: the seeded channel and supergroup (0 counts: nothing). */
int srv_populate(srv_t *srv, int32_t n_msgs, int32_t n_members);
/* srv_act.c: free srv->act. */
void srv_act_free(srv_t *srv);
bool srv_channel_member(const srv_channel_t *ch, int64_t uid);
int srv_channel_join(srv_channel_t *ch, int64_t uid);
srv_msg_t *srv_channel_post(srv_channel_t *ch, int64_t from, const uint8_t *text, size_t tlen,
                            int64_t random_id, int32_t date);
/* Append a message to a user's box: returns it (id, pts assigned). */
srv_msg_t *srv_msg_add(srv_t *srv, srv_user_t *u, int64_t peer, int64_t from, bool out,
                       const uint8_t *text, size_t tlen, int64_t random_id, int64_t doc_id,
                       int32_t date);
srv_msg_t *srv_msg_by_random(srv_user_t *u, int64_t random_id);

srv_code_t *srv_code_find(srv_t *srv, const char *phone);
srv_code_t *srv_code_new(srv_t *srv, const char *phone);
void srv_code_del(srv_t *srv, srv_code_t *c);
srv_export_t *srv_export_new(srv_t *srv);
bool srv_export_take(srv_t *srv, const uint8_t *bytes, size_t n, srv_export_t *out);

srv_upload_t *srv_upload_get(srv_t *srv, int64_t owner, int64_t file_id, bool create);
void srv_upload_free(srv_t *srv, srv_upload_t *u);
srv_doc_t *srv_doc_find(srv_t *srv, int64_t id);
/* Turn a complete upload (parts 0..np-1 present, all but the last of one size) into a
 * document: the parts move, nothing is copied; the upload is freed. */
srv_doc_t *srv_doc_from_upload(srv_t *srv, srv_upload_t *up, uint32_t np, int dc,
                               const uint8_t *name, size_t nlen, const uint8_t *mime,
                               size_t mlen);
/* Copy [off, off+len) of a document into out (len already clamped to the size). */
int srv_doc_read(srv_doc_t *d, int64_t off, size_t len, uint8_t *out);
void srv_store_expire(srv_t *srv, mtp_usec_t now);   /* srv_keys_expire too */
/* srv_keys.c */
void srv_keys_expire(srv_t *srv, mtp_usec_t now);

#endif
