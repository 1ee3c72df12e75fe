/*
 * libmtproto — asynchronous high-level operations: login (phone + code, 2FA password via
 * SRP, bot token), upload and download. Included by <mtproto/client.h>.
 *
 * Every operation is an mtp_op_t:
 *  - it starts with mtp_*_start(client, &params, &op), which only queues the first call
 *    and returns at once (0, or a negative MTP_E* and then no callback ever runs; an
 *    operation with nothing to do, such as a 0-byte download, or whose first call cannot
 *    be queued, completes inside start);
 *  - it runs on the client's loop (mtp_client_process / mtp_client_step / mtp_client_run,
 *    or any synchronous call, which runs the loop meanwhile);
 *  - it reports progress through params.progress (bytes done / total for transfers, the
 *    login state for logins) and finishes through params.done exactly once, with
 *    err->err == 0 on success or the error (MTP_ECANCELED after mtp_op_cancel, MTP_ECLOSED
 *    when the client is freed meanwhile). After done, no callback of the operation runs.
 *  - The handle given in *op stays valid until mtp_op_free(), also after completion (its
 *    result can be read then). Pass op = NULL to start and forget: the operation then frees
 *    itself after done.
 *
 * Cancelling abandons the calls in flight: the ones not sent yet are dropped, the sent ones
 * are cancelled (rpc_drop_answer) and whatever still arrives for them is dropped (a
 * transfer writes nothing more, a login changes no state). An operation failing (an RPC
 * error, a write callback's error) abandons its other calls the same way. Callbacks run
 * inside the loop and may call any function here, including mtp_op_cancel / mtp_op_free of
 * their own op.
 *
 * The synchronous functions (mtp_login_phone, mtp_login_bot, mtp_login_password,
 * mtp_upload_file, mtp_download_document, mtp_download_document_to) start the operation
 * and run the loop until it completes.
 *
 * Parameter structs are versioned: initialise them with the *_init macro (which stores the
 * version the program was compiled against in the first field); an unknown version gives
 * MTP_EVERSION.
 */
#ifndef MTPROTO_OPS_H
#define MTPROTO_OPS_H

#include <mtproto/client.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mtp_op mtp_op_t;

typedef enum mtp_op_kind {
    MTP_OP_LOGIN_PHONE = 1,
    MTP_OP_LOGIN_PASSWORD,
    MTP_OP_LOGIN_BOT,
    MTP_OP_UPLOAD,
    MTP_OP_DOWNLOAD
} mtp_op_kind_t;

/* Where a login is (reported through progress). */
typedef enum mtp_login_state {
    MTP_LOGIN_SENDING_CODE = 1,     /* auth.sendCode (PHONE_MIGRATE followed) */
    MTP_LOGIN_WAIT_CODE,            /* no code given: mtp_login_submit(op, code) */
    MTP_LOGIN_SIGNING_IN,           /* auth.signIn / auth.importBotAuthorization */
    MTP_LOGIN_WAIT_PASSWORD,        /* 2FA, no password given: mtp_login_submit(op, pw) */
    MTP_LOGIN_CHECKING_PASSWORD,    /* account.getPassword + SRP auth.checkPassword */
    MTP_LOGIN_DONE,                 /* logged in (done follows) */
    /* A new number (signIn: auth.authorizationSignUpRequired or PHONE_NUMBER_UNOCCUPIED)
     * and no first_name given: mtp_login_submit_signup(op, first, last); the terms of
     * service to show are in mtp_login_terms(op). */
    MTP_LOGIN_WAIT_SIGNUP,
    MTP_LOGIN_SIGNING_UP            /* auth.signUp, then help.acceptTermsOfService */
} mtp_login_state_t;

typedef struct mtp_op_progress {
    mtp_op_kind_t kind;
    uint64_t done, total;           /* transfers: bytes (done never decreases) */
    mtp_login_state_t login_state;  /* logins */
} mtp_op_progress_t;

typedef void (*mtp_op_progress_cb)(mtp_op_t *op, void *user, const mtp_op_progress_t *p);
/* err->err: 0, MTP_ECANCELED, MTP_ECLOSED, MTP_ERPC (code/message) ... */
typedef void (*mtp_op_done_cb)(mtp_op_t *op, void *user, const mtp_call_error_t *err);

/* Cancel: the done callback runs now (inside this call) with MTP_ECANCELED, nothing after
 * it. 0, or MTP_ESTATE when the operation had already completed (nothing happens). */
int mtp_op_cancel(mtp_op_t *op);
/* Release the handle (NULL-safe; once per handle, also from inside a callback). An
 * operation still running is cancelled first (its done callback runs inside, with
 * MTP_ECANCELED). A handle may outlive its client: freeing the client completes the op
 * with MTP_ECLOSED, and mtp_op_free works afterwards. */
void mtp_op_free(mtp_op_t *op);
mtp_op_kind_t mtp_op_kind(const mtp_op_t *op);
bool mtp_op_done(const mtp_op_t *op);
/* The result once done (0 / error, details in *err if given); MTP_EAGAIN while running. */
int mtp_op_result(const mtp_op_t *op, mtp_call_error_t *err);
/* The latest progress. */
void mtp_op_progress(const mtp_op_t *op, mtp_op_progress_t *out);

/* ---- login ---- */

/* Version 2 added first_name / last_name (version 1 structs are still accepted). */
#define MTP_LOGIN_PARAMS_VERSION 2u
typedef struct mtp_login_params {
    unsigned version;
    const char *phone;              /* phone login */
    const char *code;               /* optional: else state WAIT_CODE */
    const char *password;           /* optional 2FA password: else state WAIT_PASSWORD */
    const char *bot_token;          /* bot login */
    mtp_op_progress_cb progress;
    mtp_op_done_cb done;
    void *user;
    /* version 2: sign-up of a new number (auth.signUp) with these names (first_name 1..64
     * bytes, last_name 0..64), accepting the terms of service the server sent; NULL =
     * state WAIT_SIGNUP when the number is new */
    const char *first_name, *last_name;
} mtp_login_params_t;
int mtp_login_params_init_versioned(unsigned version, mtp_login_params_t *p);
#define mtp_login_params_init(p) \
    mtp_login_params_init_versioned(MTP_LOGIN_PARAMS_VERSION, (p))

/* The strings are copied (secrets are wiped when the operation ends). */
int mtp_login_phone_start(mtp_client_t *c, const mtp_login_params_t *p, mtp_op_t **op);
int mtp_login_bot_start(mtp_client_t *c, const mtp_login_params_t *p, mtp_op_t **op);
/* The password step alone (after SESSION_PASSWORD_NEEDED); p->password required. */
int mtp_login_password_start(mtp_client_t *c, const mtp_login_params_t *p, mtp_op_t **op);
/* Give the code (state WAIT_CODE) or the password (WAIT_PASSWORD). 0, MTP_EINVAL,
 * MTP_ESTATE (not waiting for one). */
int mtp_login_submit(mtp_op_t *op, const char *secret);

/* Sign up (state WAIT_SIGNUP): first 1..64 bytes, last 0..64 (NULL = ""). Giving the names
 * accepts the terms of service of mtp_login_terms(). 0, MTP_EINVAL, MTP_ESTATE. */
int mtp_login_submit_signup(mtp_op_t *op, const char *first, const char *last);
/* The terms of service the server sent with a sign-up request (owned by the op; NULL:
 * none, or not a sign-up). */
const char *mtp_login_terms(const mtp_op_t *op);
/* Synchronous phone login that signs the number up with first / last if it is new (the
 * terms of service accepted); otherwise as mtp_login_phone. */
int mtp_login_phone_signup(mtp_client_t *c, const char *phone, const char *code,
                           const char *first, const char *last, mtp_ask_cb ask,
                           void *ask_user, mtp_call_error_t *err);

/* ---- files ---- */

#define MTP_UPLOAD_PARAMS_VERSION 1u
typedef struct mtp_upload_params {
    unsigned version;
    const char *path;               /* the local file (copied) */
    mtp_op_progress_cb progress;
    mtp_op_done_cb done;
    void *user;
} mtp_upload_params_t;
int mtp_upload_params_init_versioned(unsigned version, mtp_upload_params_t *p);
#define mtp_upload_params_init(p) \
    mtp_upload_params_init_versioned(MTP_UPLOAD_PARAMS_VERSION, (p))

int mtp_upload_start(mtp_client_t *c, const mtp_upload_params_t *p, mtp_op_t **op);
/* The uploaded file, once an upload completed with 0 (else MTP_ESTATE / MTP_EINVAL). */
int mtp_op_upload_result(const mtp_op_t *op, mtp_upload_result_t *out);

#define MTP_DOWNLOAD_PARAMS_VERSION 1u
typedef struct mtp_download_params {
    unsigned version;
    int dc;                         /* where the file lives (0 = home); FILE_MIGRATE followed */
    int64_t id, access_hash;        /* InputDocumentFileLocation */
    const uint8_t *file_reference;  /* copied */
    size_t ref_len;
    int64_t size;                   /* bytes of the document */
    uint64_t resume_from;           /* rounded down to 1 MiB */
    /* exactly one of: */
    const char *path;               /* a file (bytes before resume_from kept) */
    mtp_write_cb write;             /* or a callback: see mtp_write_cb in client.h */
    void *write_user;
    mtp_op_progress_cb progress;
    mtp_op_done_cb done;
    void *user;
} mtp_download_params_t;
int mtp_download_params_init_versioned(unsigned version, mtp_download_params_t *p);
#define mtp_download_params_init(p) \
    mtp_download_params_init_versioned(MTP_DOWNLOAD_PARAMS_VERSION, (p))

int mtp_download_start(mtp_client_t *c, const mtp_download_params_t *p, mtp_op_t **op);
/* Synchronous: the download of p (into p->path or p->write) until it completes; p->done is
 * called too if set. */
int mtp_download_document_to(mtp_client_t *c, const mtp_download_params_t *p,
                             mtp_call_error_t *err);

#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_OPS_H */
