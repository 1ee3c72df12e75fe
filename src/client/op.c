/*
 * libmtproto client — the operation handle shared by every asynchronous operation
 * (login.c, files.c): references, completion exactly once, cancel, the sync wrappers' wait.
 */
#include "op_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mtp_op__set_err(mtp_call_error_t *e, int err)
{
    if (e) {
        memset(e, 0, sizeof *e);
        e->err = err;
        e->number = -1;
    }
}

mtp_op_t *mtp_op__new(mtp_client_t *c, size_t size, mtp_op_kind_t kind, mtp_op_progress_cb pr,
                      mtp_op_done_cb done, void *user)
{
    mtp_op_t *op = calloc(1, size);
    if (!op)
        return NULL;
    op->kind = kind;
    op->c = c;
    op->refs = 1;               /* the starter's, until publish */
    op->progress = pr;
    op->done = done;
    op->user = user;
    op->prog.kind = kind;
    mtp_op__set_err(&op->err, MTP_EAGAIN);
    mtp_op_t **head = mtp_client__ops(c);
    op->next = *head;
    *head = op;
    return op;
}

static void unlink_op(mtp_op_t *op)
{
    if (!op->c)
        return;
    for (mtp_op_t **pp = mtp_client__ops(op->c); *pp; pp = &(*pp)->next)
        if (*pp == op) {
            *pp = op->next;
            break;
        }
    op->c = NULL;
}

void mtp_op__publish(mtp_op_t *op, mtp_op_t **out)
{
    if (out) {
        op->user_ref = true;    /* the starter's reference becomes the user's */
        *out = op;
    } else {
        mtp_op__unref(op);      /* self-owned: lives while calls are in flight */
    }
}

void mtp_op__discard(mtp_op_t *op)
{
    op->finished = true;
    unlink_op(op);
    if (op->release)
        op->release(op);
    mtp_op__unref(op);
}

void mtp_op__ref(mtp_op_t *op)
{
    op->refs++;
}

void mtp_op__unref(mtp_op_t *op)
{
    if (--op->refs == 0)
        free(op);
}

void mtp_op__finish(mtp_op_t *op, const mtp_call_error_t *e)
{
    if (op->finished)
        return;
    op->finished = true;
    op->err = *e;
    mtp_op__ref(op);            /* the callbacks may free the handle */
    if (op->abandon && op->c)
        op->abandon(op);        /* their callbacks see the op finished and let it go */
    unlink_op(op);
    if (op->release)
        op->release(op);
    if (op->done)
        op->done(op, op->user, &op->err);
    mtp_op__unref(op);
}

void mtp_op__fail(mtp_op_t *op, int err)
{
    mtp_call_error_t e;
    mtp_op__set_err(&e, err);
    mtp_op__finish(op, &e);
}

bool mtp_op__report(mtp_op_t *op)
{
    if (op->finished)
        return false;
    if (op->progress) {
        mtp_op__ref(op);
        op->progress(op, op->user, &op->prog);
        bool running = !op->finished;
        mtp_op__unref(op);
        return running;
    }
    return true;
}

int mtp_op__wait(mtp_op_t *op, mtp_call_error_t *err)
{
    mtp_client_t *c = op->c;
    int rc = 0;
    while (!op->finished && !rc)
        rc = mtp_client_step(c, 1000);
    if (!op->finished)
        mtp_op__fail(op, rc);   /* the loop failed (poll): the calls are abandoned */
    rc = op->err.err;
    if (err)
        *err = op->err;
    mtp_op_free(op);
    return rc;
}

/* Freeing the client: every operation still running ends with MTP_ECLOSED (the calls in
 * flight are then delivered MTP_ECLOSED by the client and drop their references). */
void mtp_ops__client_closing(mtp_client_t *c);
void mtp_ops__client_closing(mtp_client_t *c)
{
    mtp_call_error_t e;
    mtp_op__set_err(&e, MTP_ECLOSED);
    snprintf(e.message, sizeof e.message, "CLIENT_CLOSED");
    mtp_op_t **head = mtp_client__ops(c);
    while (*head)
        mtp_op__finish(*head, &e);
}

/* ------------------------------------------------------------------ public */

int mtp_op_cancel(mtp_op_t *op)
{
    if (!op)
        return MTP_EINVAL;
    if (op->finished)
        return MTP_ESTATE;
    mtp_call_error_t e;
    mtp_op__set_err(&e, MTP_ECANCELED);
    mtp_op__finish(op, &e);
    return 0;
}

void mtp_op_free(mtp_op_t *op)
{
    if (!op || !op->user_ref)
        return;
    mtp_op__ref(op);
    mtp_op_cancel(op);
    op->user_ref = false;
    op->refs--;                 /* the user's; the reference taken above keeps op alive */
    mtp_op__unref(op);
}

mtp_op_kind_t mtp_op_kind(const mtp_op_t *op)
{
    return op->kind;
}

bool mtp_op_done(const mtp_op_t *op)
{
    return op && op->finished;
}

int mtp_op_result(const mtp_op_t *op, mtp_call_error_t *err)
{
    if (!op)
        return MTP_EINVAL;
    if (err)
        *err = op->err;
    return op->finished ? op->err.err : MTP_EAGAIN;
}

void mtp_op_progress(const mtp_op_t *op, mtp_op_progress_t *out)
{
    *out = op->prog;
}
