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
 * Event-loop integration (libcurl-multi style): mtp_client_fds() + mtp_client_timeout()
 * tell what to wait for, mtp_client_process() does the work (reads, writes, timers,
 * callbacks). mtp_client_run() / mtp_call_sync() use a built-in poll() loop.
 *
 * Threads: one client is used by one thread at a time. Secrets (api_hash, auth keys,
 * passwords) are never logged.
 */
#ifndef MTPROTO_CLIENT_H
#define MTPROTO_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/tl.h>
#include <mtproto/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

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

typedef struct mtp_client_config {
    int32_t api_id;
    const char *api_hash;       /* secret: never logged */
    const char *device_model, *system_version, *app_version, *lang_code;

    mtp_client_dcs_kind_t dcs_kind;
    mtp_client_dc_t dcs[MTP_CLIENT_MAX_DCS];   /* CUSTOM */
    int n_dcs;
    const char *rsa_pem;        /* CUSTOM: the server's public key (PEM) */
    int first_dc;               /* home DC when the session has none (default 2, or the
                                   first DC of a custom table) */

    mtp_transport_kind_t transport;   /* default INTERMEDIATE */
    bool obfuscated;

    /* Session store: a file (written atomically, mode 0600) or NULL = memory only. */
    const char *session_path;

    /* FLOOD_WAIT_X / SLOWMODE_WAIT_X with X <= this (seconds) are waited out and retried;
     * above it the call fails with MTP_EFLOOD (default 60; < 0 = never wait). */
    int flood_threshold;
    /* Timeout of one call (µs, default 60 s) and of connecting (default 10 s). */
    mtp_usec_t call_timeout;
    /* Connections used for file transfer per DC (default 2), parts in flight (default 4). */
    int file_conns;
    int file_parallel;
    /* Reconnect backoff (µs): base (default 100 ms) and cap (default 10 s); attempts
     * before the calls of a DC fail with MTP_ECLOSED (default 5). */
    mtp_usec_t backoff_base, backoff_cap;
    int max_reconnects;
} mtp_client_config_t;

void mtp_client_config_init(mtp_client_config_t *cfg);
/* Parse "HOST:PORT" into dc (id given). 0 or MTP_EINVAL. */
int mtp_client_dc_parse(mtp_client_dc_t *dc, int id, const char *hostport);

/* NULL on failure (*err gets the reason). Loads the session file if it exists. */
mtp_client_t *mtp_client_new(const mtp_client_config_t *cfg, int *err);
/* Closes everything; pending calls end with MTP_ECLOSED through their callbacks. */
void mtp_client_free(mtp_client_t *c);
/* Add or replace a DC address. */
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
 * mtp_tl_decode into your arena), or err->err != 0. Called exactly once per call. */
typedef void (*mtp_call_cb)(mtp_client_t *c, void *user, const uint8_t *result, size_t len,
                            const mtp_call_error_t *err);

/* Flags for mtp_call_ex. */
#define MTP_CALL_FILE     1u    /* use a file-transfer connection */
#define MTP_CALL_NO_AUTH  2u    /* don't import the authorization on a non-home DC */

/* Asynchronous call: obj is a generated layer-228 method object (encoded at once).
 * dc 0 = home DC. Returns 0 or a negative error (then cb is not called). */
int mtp_call(mtp_client_t *c, const mtp_tl_object_t *obj, mtp_call_cb cb, void *user);
int mtp_call_ex(mtp_client_t *c, int dc, unsigned flags, const uint8_t *body, size_t len,
                mtp_call_cb cb, void *user);
/* Blocking call (runs the built-in loop; other calls progress meanwhile). The result is
 * decoded into arena. Returns 0 or the error (details in *err if given). */
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

typedef struct mtp_client_fd {
    int fd;
    bool want_read, want_write;
} mtp_client_fd_t;

/* Fill up to max descriptors to wait on; returns how many there are (may exceed max). */
int mtp_client_fds(mtp_client_t *c, mtp_client_fd_t *fds, int max);
/* Milliseconds until mtp_client_process() must run at the latest (-1 = no deadline). */
int mtp_client_timeout(mtp_client_t *c);
/* Do whatever can be done now without blocking (I/O on every fd, timers, callbacks). */
int mtp_client_process(mtp_client_t *c);
/* Built-in loop: wait up to ms and process once. */
int mtp_client_step(mtp_client_t *c, int ms);
/* Built-in loop until *done becomes true or ms pass (ms < 0: no limit). */
int mtp_client_run(mtp_client_t *c, const volatile bool *done, int ms);

/* ---- state ---- */

int mtp_client_home_dc(const mtp_client_t *c);
int64_t mtp_client_user_id(const mtp_client_t *c);     /* 0 = not logged in */
bool mtp_client_authorized(const mtp_client_t *c);
/* Write the session file now (done automatically on changes). */
int mtp_client_save(mtp_client_t *c);
/* Session as one text string (base64 of a versioned binary with a CRC). malloc'd. */
char *mtp_client_session_export(mtp_client_t *c);
/* Replace the session (keys, home DC, user) with an exported one. */
int mtp_client_session_import(mtp_client_t *c, const char *text);

typedef struct mtp_client_stats {
    uint64_t calls, results, rpc_errors, flood_waits, migrations, reconnects, resent;
    uint64_t bytes_up, bytes_down;
} mtp_client_stats_t;
void mtp_client_stats(const mtp_client_t *c, mtp_client_stats_t *out);

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

const char *mtp_client_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_CLIENT_H */
