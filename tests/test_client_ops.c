/*
 * Asynchronous operations (mtp_op_t) against the in-process harness: login (phone with
 * PHONE_MIGRATE, 2FA, bot), upload and download with progress, cancel (midway, before the
 * loop ran, after completion), freeing the client with operations in flight, versioned
 * parameter structs.
 */
#define _GNU_SOURCE
#include <mtproto/client.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "testharness.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tu_harness_t H;

/* The one place that makes a client (session file or NULL). */
static mtp_client_t *mk(int first_dc, const char *session)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    cfg.first_dc = first_dc;
    cfg.session_path = session;
    mtp_client_t *c = NULL;
    int err = mtp_client_new(&cfg, &c);
    if (err)
        tap_bail("mtp_client_new: %d", err);
    return c;
}

static int nearest(mtp_client_t *c)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    mtp_call_error_t e;
    int rc = mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), a, &o, &e);
    if (!rc && o->tl->id != MTP_ID_nearestDc)
        rc = -1;
    mtp_arena_free(a);
    return rc;
}

/* ---- what an operation reported ---- */
typedef struct rec {
    int done_calls;
    int done_err;
    char done_msg[128];
    int progress_calls, progress_after_done, nonmonotone;
    uint64_t last_done, last_total;
    mtp_login_state_t states[16];
    int n_states;
    /* actions taken from inside the callbacks */
    const char *submit_code;        /* submitted on WAIT_CODE */
    int cancel_after;               /* cancel from the progress callback after N calls */
    bool free_in_done;
    mtp_op_t *op;
    /* the download sink */
    uint8_t *buf, *seen;
    size_t size;
    int writes, writes_after_done, bad;
} rec_t;

static void on_progress(mtp_op_t *op, void *user, const mtp_op_progress_t *p)
{
    rec_t *r = user;
    if (r->done_calls)
        r->progress_after_done++;
    r->progress_calls++;
    if (p->kind == MTP_OP_UPLOAD || p->kind == MTP_OP_DOWNLOAD) {
        if (p->done < r->last_done || p->done > p->total)
            r->nonmonotone++;
        r->last_done = p->done;
        r->last_total = p->total;
    } else if (r->n_states < 16) {
        r->states[r->n_states++] = p->login_state;
        if (p->login_state == MTP_LOGIN_WAIT_CODE && r->submit_code)
            mtp_login_submit(op, r->submit_code);
    }
    if (r->cancel_after && r->progress_calls == r->cancel_after)
        mtp_op_cancel(op);
}

static void on_done(mtp_op_t *op, void *user, const mtp_call_error_t *e)
{
    rec_t *r = user;
    r->done_calls++;
    r->done_err = e->err;
    snprintf(r->done_msg, sizeof r->done_msg, "%s", e->message);
    if (r->free_in_done)
        mtp_op_free(op);
}

static int on_write(void *user, uint64_t off, const uint8_t *data, size_t len)
{
    rec_t *r = user;
    r->writes++;
    if (r->done_calls)
        r->writes_after_done++;
    if (off + len > r->size || len == 0) {
        r->bad++;
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        r->bad += r->seen[off + i]++ != 0;
    memcpy(r->buf + off, data, len);
    return 0;
}

static void rec_init(rec_t *r, size_t size)
{
    memset(r, 0, sizeof *r);
    r->size = size;
    if (size) {
        r->buf = calloc(1, size);
        r->seen = calloc(1, size);
    }
}

static void rec_free(rec_t *r)
{
    free(r->buf);
    free(r->seen);
}

/* Run the loop until the op is done (or seconds pass). */
static void run_until(mtp_client_t *c, const rec_t *r, double secs)
{
    double t0 = tu_now();
    while (!r->done_calls && tu_now() - t0 < secs)
        mtp_client_step(c, 50);
}

static void run_for(mtp_client_t *c, double secs)
{
    double t0 = tu_now();
    while (tu_now() - t0 < secs)
        mtp_client_step(c, 20);
}

static void write_random(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        tap_bail("cannot write %s", path);
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        fputc((int)(x & 0xff), f);
    }
    fclose(f);
}

typedef struct doc {
    int dc;
    int64_t id, hash, size;
    uint8_t ref[64];
    size_t ref_len;
} doc_t;

/* sendMedia of an uploaded file to self, then the document of the newest message. */
static int send_doc(mtp_client_t *c, const mtp_upload_result_t *up, doc_t *d)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *file;
    if (up->big) {
        mtp_inputFileBig_t *f = MTP_NEW(a, inputFileBig);
        f->id = up->file_id;
        f->parts = up->parts;
        f->name = (mtp_bytes_t){ (const uint8_t *)"f.bin", 5 };
        file = &f->_;
    } else {
        mtp_inputFile_t *f = MTP_NEW(a, inputFile);
        f->id = up->file_id;
        f->parts = up->parts;
        f->name = (mtp_bytes_t){ (const uint8_t *)"f.bin", 5 };
        f->md5_checksum = (mtp_bytes_t){ (const uint8_t *)up->md5, strlen(up->md5) };
        file = &f->_;
    }
    mtp_inputMediaUploadedDocument_t *m = MTP_NEW(a, inputMediaUploadedDocument);
    m->file = file;
    m->mime_type = (mtp_bytes_t){ (const uint8_t *)"application/octet-stream", 24 };
    mtp_messages_sendMedia_t *s = MTP_NEW(a, messages_sendMedia);
    s->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
    s->media = &m->_;
    s->random_id = up->file_id ^ 99;
    mtp_tl_object_t *o;
    mtp_call_error_t e;
    int rc = mtp_call_sync(c, &s->_, a, &o, &e);
    if (!rc) {
        mtp_messages_getHistory_t *g = MTP_NEW(a, messages_getHistory);
        g->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
        g->limit = 1;
        rc = mtp_call_sync(c, &g->_, a, &o, &e);
    }
    if (!rc) {
        const mtp_vec_obj_t *ms = o->tl->id == MTP_ID_messages_messages
                                      ? &((mtp_messages_messages_t *)o)->messages
                                      : &((mtp_messages_messagesSlice_t *)o)->messages;
        rc = -1;
        if (ms->n && ms->v[0]->tl->id == MTP_ID_message) {
            const mtp_tl_object_t *md = ((const mtp_message_t *)ms->v[0])->media;
            if (md && md->tl->id == MTP_ID_messageMediaDocument) {
                const mtp_document_t *doc =
                    (const mtp_document_t *)((const mtp_messageMediaDocument_t *)md)->document;
                d->dc = doc->dc_id;
                d->id = doc->id;
                d->hash = doc->access_hash;
                d->size = doc->size;
                d->ref_len = doc->file_reference.len < 64 ? doc->file_reference.len : 64;
                memcpy(d->ref, doc->file_reference.ptr, d->ref_len);
                rc = 0;
            }
        }
    }
    mtp_arena_free(a);
    return rc;
}

static void dl_params(mtp_download_params_t *p, const doc_t *d, rec_t *r)
{
    mtp_download_params_init(p);
    p->dc = d->dc;
    p->id = d->id;
    p->access_hash = d->hash;
    p->file_reference = d->ref;
    p->ref_len = d->ref_len;
    p->size = d->size;
    p->write = on_write;
    p->write_user = r;
    p->progress = on_progress;
    p->done = on_done;
    p->user = r;
}

static bool has_state(const rec_t *r, mtp_login_state_t s)
{
    for (int i = 0; i < r->n_states; i++)
        if (r->states[i] == s)
            return true;
    return false;
}

/* ------------------------------------------------------------------ tests */

static void test_params(mtp_client_t *c)
{
    mtp_download_params_t dp;
    IS_INT(mtp_download_params_init_versioned(999, &dp), MTP_EVERSION, "download params v999");
    IS_INT(mtp_download_params_init(&dp), 0, "download params init");
    IS_INT(dp.version, MTP_DOWNLOAD_PARAMS_VERSION, "version stored first");
    mtp_upload_params_t up;
    IS_INT(mtp_upload_params_init_versioned(0, &up), MTP_EVERSION, "upload params v0");
    mtp_login_params_t lp;
    IS_INT(mtp_login_params_init_versioned(3, &lp), MTP_EVERSION, "login params v3 (unknown; v2 added the sign-up names)");
    rec_t r;
    rec_init(&r, 0);
    mtp_op_t *op = NULL;
    dp.size = 10;
    dp.write = on_write;
    dp.done = on_done;
    dp.user = &r;
    dp.version = 7;
    IS_INT(mtp_download_start(c, &dp, &op), MTP_EVERSION, "download start with version 7");
    dp.version = MTP_DOWNLOAD_PARAMS_VERSION;
    dp.path = "/nonexistent/x";
    IS_INT(mtp_download_start(c, &dp, &op), MTP_EINVAL, "both a path and a callback");
    mtp_upload_params_init(&up);
    up.path = "/nonexistent/file";
    up.done = on_done;
    up.user = &r;
    IS_INT(mtp_upload_start(c, &up, &op), MTP_EIO, "upload of a missing file");
    mtp_login_params_init(&lp);
    lp.done = on_done;
    lp.user = &r;
    IS_INT(mtp_login_phone_start(c, &lp, &op), MTP_EINVAL, "phone login without a phone");
    OK(op == NULL && r.done_calls == 0, "failed starts: no handle, no callback");
    IS_INT(mtp_op_cancel(NULL), MTP_EINVAL, "cancel(NULL)");
    mtp_op_free(NULL);
}

static void test_phone_login(mtp_client_t *c)
{
    rec_t r;
    rec_init(&r, 0);
    mtp_login_params_t p;
    mtp_login_params_init(&p);
    p.phone = "9996621234";     /* lives on DC 2; the client starts on DC 1 */
    p.progress = on_progress;
    p.done = on_done;
    p.user = &r;
    r.submit_code = "22222";    /* given from the callback when asked */
    mtp_op_t *op = NULL;
    IS_INT(mtp_login_phone_start(c, &p, &op), 0, "phone login started");
    IS_INT(mtp_op_kind(op), MTP_OP_LOGIN_PHONE, "kind");
    OK(!mtp_op_done(op) && mtp_op_result(op, NULL) == MTP_EAGAIN, "running");
    IS_INT(mtp_client_user_id(c), 0, "start returns before the login");
    run_until(c, &r, 20);
    IS_INT(r.done_calls, 1, "done once");
    IS_INT(r.done_err, 0, "phone login ok (%s)", r.done_msg);
    OK(has_state(&r, MTP_LOGIN_SENDING_CODE) && has_state(&r, MTP_LOGIN_WAIT_CODE) &&
       has_state(&r, MTP_LOGIN_SIGNING_IN) && r.states[r.n_states - 1] == MTP_LOGIN_DONE,
       "states: sending code, waiting for the code, signing in, done (%d states)", r.n_states);
    IS_INT(mtp_client_home_dc(c), 2, "PHONE_MIGRATE moved home to DC 2");
    IS_INT(mtp_client_user_id(c), 9996621234LL, "own user id");
    IS_INT(mtp_op_result(op, NULL), 0, "result after done");
    IS_INT(mtp_op_cancel(op), MTP_ESTATE, "cancel after completion: MTP_ESTATE");
    run_for(c, 0.1);
    OK(r.done_calls == 1 && r.progress_after_done == 0, "nothing after done");
    mtp_op_free(op);
    IS_INT(mtp_login_submit(op = NULL, "1"), MTP_EINVAL, "submit(NULL)");
}

static void test_2fa_login(void)
{
    mtp_client_t *c = mk(1, NULL);
    rec_t r;
    rec_init(&r, 0);
    mtp_login_params_t p;
    mtp_login_params_init(&p);
    p.phone = "9996631234";
    p.code = "33333";
    p.progress = on_progress;
    p.done = on_done;
    p.user = &r;
    mtp_op_t *op = NULL;
    IS_INT(mtp_login_phone_start(c, &p, &op), 0, "2FA login started");
    IS_INT(mtp_login_submit(op, "hunter2"), MTP_ESTATE, "submit before it waits: MTP_ESTATE");
    double t0 = tu_now();
    while (!r.done_calls && tu_now() - t0 < 20 &&
           !(r.n_states && r.states[r.n_states - 1] == MTP_LOGIN_WAIT_PASSWORD))
        mtp_client_step(c, 50);
    OK(r.n_states && r.states[r.n_states - 1] == MTP_LOGIN_WAIT_PASSWORD && !r.done_calls,
       "waits for the password");
    run_for(c, 0.1);
    OK(!r.done_calls, "still waiting (no call in flight)");
    IS_INT(mtp_login_submit(op, "hunter2"), 0, "password submitted from outside the loop");
    run_until(c, &r, 20);
    IS_INT(r.done_calls, 1, "done once");
    IS_INT(r.done_err, 0, "2FA login ok (%s)", r.done_msg);
    OK(has_state(&r, MTP_LOGIN_CHECKING_PASSWORD), "checked the password (SRP)");
    IS_INT(mtp_client_user_id(c), 9996631234LL, "2FA user id");
    mtp_op_free(op);

    /* given up front, wrong: the RPC error comes through the callback */
    rec_init(&r, 0);
    p.password = "wrong";
    IS_INT(mtp_login_phone_start(c, &p, NULL), 0, "2FA login with a wrong password (no handle)");
    run_until(c, &r, 20);
    OK(r.done_calls == 1 && r.done_err == MTP_ERPC && !strcmp(r.done_msg, "PASSWORD_HASH_INVALID"),
       "wrong password: %s", r.done_msg);

    /* bot */
    rec_init(&r, 0);
    mtp_login_params_init(&p);
    p.bot_token = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi";
    p.done = on_done;
    p.user = &r;
    r.free_in_done = true;
    IS_INT(mtp_login_bot_start(c, &p, &r.op), 0, "bot login started");
    run_until(c, &r, 20);
    OK(r.done_calls == 1 && r.done_err == 0, "bot login ok, handle freed in done (%s)", r.done_msg);
    OK(mtp_client_user_id(c) != 0 && mtp_client_user_id(c) != 9996631234LL, "bot user id");

    /* a login waiting for a code when the client is freed: MTP_ECLOSED once */
    rec_init(&r, 0);
    mtp_login_params_init(&p);
    p.phone = "9996611234";
    p.progress = on_progress;
    p.done = on_done;
    p.user = &r;
    IS_INT(mtp_login_phone_start(c, &p, &op), 0, "another login");
    t0 = tu_now();
    while (tu_now() - t0 < 20 && !has_state(&r, MTP_LOGIN_WAIT_CODE))
        mtp_client_step(c, 50);
    OK(has_state(&r, MTP_LOGIN_WAIT_CODE), "waiting for its code");
    mtp_client_free(c);
    OK(r.done_calls == 1 && r.done_err == MTP_ECLOSED, "client freed: done once with MTP_ECLOSED (%d)",
       r.done_err);
    IS_INT(mtp_login_submit(op, "11111"), MTP_ESTATE, "submit after it ended");
    mtp_op_free(op);
}

static void test_upload(mtp_client_t *c, const char *path, size_t size, doc_t *d)
{
    rec_t r;
    rec_init(&r, 0);
    mtp_upload_params_t p;
    mtp_upload_params_init(&p);
    p.path = path;
    p.progress = on_progress;
    p.done = on_done;
    p.user = &r;
    mtp_op_t *op = NULL;
    IS_INT(mtp_upload_start(c, &p, &op), 0, "upload started");
    mtp_upload_result_t up;
    IS_INT(mtp_op_upload_result(op, &up), MTP_ESTATE, "no result while running");
    run_until(c, &r, 60);
    IS_INT(r.done_calls, 1, "upload done once");
    IS_INT(r.done_err, 0, "upload ok (%s)", r.done_msg);
    OK(r.progress_calls >= (int)(size / (512 * 1024)) && !r.nonmonotone,
       "upload progress: %d calls, monotone", r.progress_calls);
    OK(r.last_done == size && r.last_total == size, "upload progress reached the total");
    IS_INT(mtp_op_upload_result(op, &up), 0, "upload result");
    OK(up.big == (size > 10 * 1024 * 1024) && up.parts == (int32_t)((size + 512 * 1024 - 1) / (512 * 1024)),
       "big %d, %d parts", up.big, up.parts);
    mtp_op_free(op);
    IS_INT(send_doc(c, &up, d), 0, "sent as a document");

    /* cancelled midway from its progress callback */
    rec_init(&r, 0);
    r.cancel_after = 2;
    IS_INT(mtp_upload_start(c, &p, &op), 0, "upload to cancel started");
    run_until(c, &r, 60);
    OK(r.done_calls == 1 && r.done_err == MTP_ECANCELED && r.last_done < size,
       "upload cancelled midway (%llu bytes)", (unsigned long long)r.last_done);
    run_for(c, 0.3);
    OK(r.done_calls == 1 && !r.progress_after_done, "nothing after");
    IS_INT(mtp_op_upload_result(op, &up), MTP_ESTATE, "no result after a cancel");
    mtp_op_free(op);
    IS_INT(d->size, (int64_t)size, "document size");
}

static void test_download_ok(mtp_client_t *c, const doc_t *d, const uint8_t *want)
{
    rec_t r;
    rec_init(&r, (size_t)d->size);
    mtp_download_params_t p;
    dl_params(&p, d, &r);
    mtp_op_t *op = NULL;
    IS_INT(mtp_download_start(c, &p, &op), 0, "download started");
    IS_INT(mtp_op_kind(op), MTP_OP_DOWNLOAD, "kind");
    run_until(c, &r, 60);
    IS_INT(r.done_calls, 1, "download done once");
    IS_INT(r.done_err, 0, "download ok (%s)", r.done_msg);
    OK(!r.bad && !memcmp(r.buf, want, r.size), "every byte right, each once");
    OK(!r.nonmonotone && r.last_done == r.size && r.last_total == r.size,
       "progress monotone, reached the total (%d calls)", r.progress_calls);
    mtp_op_progress_t pr;
    mtp_op_progress(op, &pr);
    OK(pr.done == r.size && pr.total == r.size, "mtp_op_progress");
    mtp_op_free(op);
    rec_free(&r);

    /* into a file, started and forgotten (no handle) */
    char f2[300];
    snprintf(f2, sizeof f2, "%s/down.bin", H.dir);
    rec_init(&r, 0);
    dl_params(&p, d, &r);
    p.write = NULL;
    p.path = f2;
    IS_INT(mtp_download_start(c, &p, NULL), 0, "download to a file, no handle");
    run_until(c, &r, 60);
    size_t n = 0;
    uint8_t *got = tu_read_file(f2, &n);
    OK(r.done_calls == 1 && r.done_err == 0 && got && n == (size_t)d->size &&
       !memcmp(got, want, n), "file identical");
    free(got);
}

static void test_download_cancel(mtp_client_t *c, const doc_t *d, const uint8_t *want)
{
    /* midway, from the progress callback */
    rec_t r;
    rec_init(&r, (size_t)d->size);
    r.cancel_after = 3;
    mtp_download_params_t p;
    dl_params(&p, d, &r);
    mtp_op_t *op = NULL;
    IS_INT(mtp_download_start(c, &p, &op), 0, "download to cancel started");
    run_until(c, &r, 60);
    IS_INT(r.done_calls, 1, "done once");
    IS_INT(r.done_err, MTP_ECANCELED, "with MTP_ECANCELED");
    OK(r.last_done > 0 && r.last_done < r.size, "cancelled midway (%llu of %zu bytes)",
       (unsigned long long)r.last_done, r.size);
    int writes = r.writes;
    run_for(c, 0.5);        /* the answers in flight arrive and are dropped */
    OK(r.done_calls == 1 && r.progress_after_done == 0 && r.writes_after_done == 0 &&
       r.writes == writes, "nothing after the cancel");
    IS_INT(mtp_op_result(op, NULL), MTP_ECANCELED, "result MTP_ECANCELED");
    IS_INT(mtp_op_cancel(op), MTP_ESTATE, "cancel again: MTP_ESTATE");
    mtp_op_free(op);
    IS_INT(nearest(c), 0, "the client works after the cancel");
    rec_free(&r);

    /* midway, from outside the loop */
    rec_init(&r, (size_t)d->size);
    dl_params(&p, d, &r);
    IS_INT(mtp_download_start(c, &p, &op), 0, "second download started");
    double t0 = tu_now();
    while (r.progress_calls < 2 && !r.done_calls && tu_now() - t0 < 30)
        mtp_client_step(c, 20);
    OK(r.progress_calls >= 2 && !r.done_calls, "some progress (%d)", r.progress_calls);
    IS_INT(mtp_op_cancel(op), 0, "cancelled from outside");
    OK(r.done_calls == 1 && r.done_err == MTP_ECANCELED, "done ran inside cancel");
    writes = r.writes;
    run_for(c, 0.5);
    OK(r.done_calls == 1 && r.writes == writes && !r.progress_after_done, "nothing later");
    mtp_op_free(op);
    rec_free(&r);

    /* before the loop ran at all */
    rec_init(&r, (size_t)d->size);
    dl_params(&p, d, &r);
    mtp_client_stats_t st0, st1;
    mtp_client_stats(c, &st0);
    IS_INT(mtp_download_start(c, &p, &op), 0, "third download started");
    IS_INT(mtp_op_cancel(op), 0, "cancelled before the loop ran");
    OK(r.done_calls == 1 && r.done_err == MTP_ECANCELED && r.writes == 0, "done once, nothing written");
    run_for(c, 0.3);
    OK(r.done_calls == 1 && r.writes == 0 && r.progress_calls == 0, "nothing later");
    mtp_client_stats(c, &st1);
    OK(st1.bytes_down - st0.bytes_down < 65536, "its queued call was dropped, never sent (%llu bytes in)",
       (unsigned long long)(st1.bytes_down - st0.bytes_down));
    mtp_op_free(op);
    rec_free(&r);

    /* mtp_op_free of a running download cancels it */
    rec_init(&r, (size_t)d->size);
    dl_params(&p, d, &r);
    IS_INT(mtp_download_start(c, &p, &op), 0, "fourth download started");
    mtp_client_step(c, 20);
    mtp_op_free(op);
    OK(r.done_calls == 1 && r.done_err == MTP_ECANCELED, "mtp_op_free while running: MTP_ECANCELED once");
    run_for(c, 0.3);
    IS_INT(r.done_calls, 1, "once");
    rec_free(&r);

    /* and a full download still works on the same client */
    test_download_ok(c, d, want);
}

static void test_free_client(const doc_t *d, const char *sess, const char *big_file)
{
    mtp_client_t *c = mk(1, sess);
    rec_t r, r2;
    rec_init(&r, (size_t)d->size);
    rec_init(&r2, 0);
    mtp_download_params_t p;
    dl_params(&p, d, &r);
    mtp_op_t *op = NULL;
    IS_INT(mtp_download_start(c, &p, &op), 0, "download on a client to be freed");
    mtp_upload_params_t up;
    mtp_upload_params_init(&up);
    up.path = big_file;
    up.done = on_done;
    up.user = &r2;
    IS_INT(mtp_upload_start(c, &up, NULL), 0, "and an upload (no handle)");
    double t0 = tu_now();
    while (r.progress_calls < 1 && !r.done_calls && tu_now() - t0 < 30)
        mtp_client_step(c, 20);
    OK(r.progress_calls >= 1 && !r.done_calls && !r2.done_calls, "in flight");
    mtp_client_free(c);
    OK(r.done_calls == 1 && (r.done_err == MTP_ECLOSED || r.done_err == MTP_ECANCELED),
       "client freed: download done once (%d)", r.done_err);
    OK(r2.done_calls == 1 && (r2.done_err == MTP_ECLOSED || r2.done_err == MTP_ECANCELED),
       "client freed: upload done once (%d)", r2.done_err);
    IS_INT(mtp_op_cancel(op), MTP_ESTATE, "cancel after the client is gone");
    mtp_op_free(op);
    rec_free(&r);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 3;
    mtp_server_password_t pw = { "9996631234", "hunter2" };
    sc.passwords = &pw;
    sc.n_passwords = 1;
    if (tu_harness_start(&H, "test_client_ops", &sc))
        tap_bail("harness did not start");
    char sess[300];
    snprintf(sess, sizeof sess, "%s/a.session", H.dir);

    mtp_client_t *c = mk(1, sess);
    test_params(c);
    test_phone_login(c);

    char f1[300];
    snprintf(f1, sizeof f1, "%s/up.bin", H.dir);
    size_t size = 12 * 1024 * 1024 + 4321;     /* above 10 MiB: saveBigFilePart */
    write_random(f1, size);
    size_t n = 0;
    uint8_t *want = tu_read_file(f1, &n);
    doc_t d;
    memset(&d, 0, sizeof d);
    test_upload(c, f1, size, &d);
    test_download_ok(c, &d, want);
    test_download_cancel(c, &d, want);
    mtp_client_save(c);
    mtp_client_free(c);

    test_free_client(&d, sess, f1);
    test_2fa_login();

    free(want);
    tu_harness_stop(&H);
    return tap_done();
}
