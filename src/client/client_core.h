/*
 * libmtproto client — the state shared by the files of the client core (config, session
 * store, connections, call policy, loop glue, sync wrappers). Internal; login, files,
 * peers and updates use the accessors of client_int.h instead.
 */
#ifndef MTP_CLIENT_CORE_H
#define MTP_CLIENT_CORE_H

#include "client_int.h"

#include <mtproto/conn.h>
#include <mtproto/net.h>
#include <mtproto/session.h>

#define MTP_CLIENT__CONNS_PER_DC 9      /* 1 main + up to 8 file */

typedef struct mtp_cconn {
    mtp_client_t *client;       /* back pointers for the stream callbacks */
    int dc, kind;               /* kind 0 main, 1.. file */
    mtp_stream_t *st;           /* NULL: no socket */
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
    /* Reading pauses once a large packet completed (a file part) until the calls it
     * triggered (the next parts) have left: the server is never left without work. */
    size_t fed;
    bool yield;
    /* Dead-link detection (mtp_client__conn_watch): when bytes last came (monotonic; 0 =
     * not watching), and whether a ping_delay_disconnect asked since. */
    mtp_usec_t rx_at;
    bool pinged;
    /* An authenticated packet (decrypted with the key, or the key exchange's answer)
     * arrived on this connection: unauthenticated transport errors on it are forged. */
    bool authed;
} mtp_cconn_t;

/* A connection with calls in flight that hears nothing for MTP_CLIENT__PING_AFTER sends
 * ping_delay_disconnect; still nothing after MTP_CLIENT__DEAD_AFTER: it is dropped and its
 * calls continue on a new one (the same session: re-sent ids, no double execution). */
#define MTP_CLIENT__PING_AFTER (3 * MTP_USEC_PER_SEC)
#define MTP_CLIENT__DEAD_AFTER (8 * MTP_USEC_PER_SEC)
/* The monotonic time the watch needs to run next (MTP_TIME_NEVER: not watching). */
mtp_usec_t mtp_client__conn_watch_deadline(const mtp_cconn_t *k);

typedef struct mtp_ccall {
    struct mtp_ccall *next;
    int dc;                     /* 0 = home */
    unsigned flags;
    uint8_t *body;
    size_t len;
    mtp_call_cb cb;
    void *user;
    mtp_usec_t not_before;      /* monotonic */
    mtp_usec_t deadline;        /* monotonic */
    mtp_cconn_t *on;            /* NULL: queued */
    int on_dc;
    uint64_t id;                /* msg_id of the session call, 0 while queued */
    int hops;                   /* migrations + resends */
    bool timed_out;
} mtp_ccall_t;

typedef struct mtp_dcstate {
    bool has_key;
    mtp_auth_key_t key;
    int64_t salt;
    mtp_usec_t time_offset;     /* server time - wall clock: msg_ids only */
    bool authorized;            /* imported (or home) */
    bool importing;
    int import_err;
    mtp_call_error_t import_error;
    unsigned attempts;
    /* Fresh connections in a row that got transport error -404 to an encrypted request
     * before any authenticated packet: the key is dropped only at the second. */
    unsigned unconfirmed_404;
    mtp_usec_t retry_at;        /* monotonic */
    /* the address of the DC's host: parsed (literal) or resolved (mtp_resolve_start) */
    struct sockaddr_storage addr;
    socklen_t addr_len;         /* 0: not known yet */
    mtp_resolve_t *resolving;
    mtp_cconn_t conns[MTP_CLIENT__CONNS_PER_DC];
} mtp_dcstate_t;

struct mtp_client {
    mtp_client_config_t cfg;    /* the strings point to the copies below */
    char *api_hash, *device_model, *system_version, *app_version, *lang_code;
    char *session_path;         /* "" = memory only */
    mtp_rsa_key_t *rsa;
    const mtp_rsa_key_t *rsa_keys[1];
    mtp_dcstate_t dc[MTP_CLIENT_MAX_DCS + 1];
    int home;
    int64_t user_id;
    mtp_ccall_t *calls;         /* every call not yet completed */
    mtp_client_stats_t st;
    int answered_dc;            /* DC of the call whose callback runs */
    mtp_peers_t *peers;         /* peers.c: id -> access_hash, username */
    mtp_upd_t *upd;             /* updates.c: pts/qts/date/seq, held updates, callback */
    struct mtp_op *ops;         /* op.c: asynchronous operations running */
    mtp_loop_t *loop;
    bool own_loop;
    mtp_timer_t *timer;         /* the client's work: dispatch, timeouts, flushes */
    bool in_work, kicked;
    int lock_fd;                /* the session file's lock (client_store.c); -1 none */
    bool no_async_feed;         /* mtp_client_set_async_peer_feed(c, false) */
};

/* client_config.c */
/* Validate cfg and copy it (strings included) into c; the DC table of the kind. */
int mtp_client__config_copy(mtp_client_t *c, const mtp_client_config_t *cfg, const char **pem);
void mtp_client__config_free(mtp_client_t *c);
const mtp_client_dc_t *mtp_client__dc_addr(const mtp_client_t *c, int id);
void mtp_client__log(const mtp_client_t *c, mtp_log_level_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* client_store.c */
/* Lock the session file (MTP_EEXIST: in use) and load it. */
int mtp_client__session_load(mtp_client_t *c);
void mtp_client__session_unlock(mtp_client_t *c);

/* client_conn.c */
mtp_cconn_t *mtp_client__conn_get(mtp_client_t *c, int dc, int kind);
void mtp_client__conn_drop(mtp_client_t *c, mtp_cconn_t *k, bool failure);
void mtp_client__drop_saved(mtp_client_t *c, mtp_cconn_t *k);
/* Tick the core and hand its output to the stream. */
void mtp_client__conn_flush(mtp_client_t *c, mtp_cconn_t *k);
/* The DC's address changed: forget the resolved one. */
void mtp_client__dc_forget_addr(mtp_client_t *c, int dc);
void mtp_client__conns_free(mtp_client_t *c);
void mtp_client__requeue(mtp_ccall_t *x);

/* client_call.c */
void mtp_client__dispatch(mtp_client_t *c);
void mtp_client__deliver(mtp_client_t *c, mtp_ccall_t *x, const uint8_t *res, size_t len,
                         const mtp_call_error_t *e);
void mtp_client__conn_events(mtp_client_t *c, mtp_cconn_t *k);
void mtp_client__check_timeouts(mtp_client_t *c);
int mtp_client__encode(const void *obj, mtp_buf_t *b);

/* client_loop.c */
int mtp_client__loop_init(mtp_client_t *c, mtp_loop_t *loop);
void mtp_client__loop_free(mtp_client_t *c);
/* Run the client's work soon (from the loop: in this iteration). */
void mtp_client__kick(mtp_client_t *c);
/* A wall-clock deadline of the core as a monotonic one. */
mtp_usec_t mtp_client__wall_to_mono(mtp_usec_t wall, mtp_usec_t now_wall, mtp_usec_t now_mono);

#endif
