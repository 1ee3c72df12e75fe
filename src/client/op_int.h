/* libmtproto client — the operation core shared by login.c and files.c (op.c). */
#ifndef MTP_OP_INT_H
#define MTP_OP_INT_H

#include "client_int.h"

/*
 * An operation's memory lives while someone refers to it: the user's handle (until
 * mtp_op_free), each call in flight (until its callback), and whoever is running one of the
 * op's functions (a temporary reference). Its resources (files, buffers, secrets) are
 * released by `release` once, when it completes; the calls still in flight then only drop
 * their reference.
 */
struct mtp_op {
    mtp_op_kind_t kind;
    mtp_client_t *c;
    struct mtp_op *next;        /* the client's running operations */
    int refs;
    bool user_ref;              /* the handle is held by the user */
    bool finished;
    mtp_call_error_t err;
    mtp_op_progress_t prog;
    mtp_op_progress_cb progress;
    mtp_op_done_cb done;
    void *user;
    void (*release)(mtp_op_t *op);
    void (*abandon)(mtp_op_t *op);  /* end the op's calls still in flight (client alive) */
};

/* Allocate size bytes (a struct starting with mtp_op_t), linked to the client; one
 * reference for the user when out != NULL (then *out is set by op_publish). */
mtp_op_t *mtp_op__new(mtp_client_t *c, size_t size, mtp_op_kind_t kind, mtp_op_progress_cb pr,
                      mtp_op_done_cb done, void *user);
/* Hand the started op to the caller (or keep it self-owned with out NULL). */
void mtp_op__publish(mtp_op_t *op, mtp_op_t **out);
/* A start that failed before publish: release and free without any callback. */
void mtp_op__discard(mtp_op_t *op);
void mtp_op__ref(mtp_op_t *op);
void mtp_op__unref(mtp_op_t *op);
/* Complete once (later calls do nothing): abandon the calls in flight, release, unlink,
 * done callback. */
void mtp_op__finish(mtp_op_t *op, const mtp_call_error_t *e);
void mtp_op__fail(mtp_op_t *op, int err);
/* Report progress (nothing once finished). Returns whether the op still runs. */
bool mtp_op__report(mtp_op_t *op);
/* Run the client's loop until op completes (the synchronous wrappers); returns its result
 * into *err and frees the handle. */
int mtp_op__wait(mtp_op_t *op, mtp_call_error_t *err);
void mtp_op__set_err(mtp_call_error_t *e, int err);

/* client.c */
mtp_op_t **mtp_client__ops(mtp_client_t *c);
int mtp_client__answered_dc(const mtp_client_t *c);
void mtp_client__set_user(mtp_client_t *c, int64_t user_id);
const char *mtp_client__api_hash(const mtp_client_t *c);
int mtp_client__api_id(const mtp_client_t *c);
int mtp_client__file_parallel(const mtp_client_t *c);

#endif
