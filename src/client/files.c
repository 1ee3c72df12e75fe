/*
 * libmtproto client — file transfer as asynchronous operations (upload.saveFilePart /
 * saveBigFilePart, upload.getFile), and the synchronous wrappers over them.
 *
 * A transfer keeps several parts in flight; each call holds a reference on the op, so that
 * a part answered after a cancel (or an error) finds the op finished, drops its answer and
 * lets the op go.
 */
#define _GNU_SOURCE
#include "op_int.h"

#include <mtproto/crypto.h>
#include <mtproto/tl_schema.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PART_UP (512 * 1024)
#define PART_DOWN (1024 * 1024)
#define BIG_FILE (10 * 1024 * 1024)

typedef struct xfer {
    mtp_op_t op;
    int fd;                     /* upload: the source; download: the file (or -1) */
    uint64_t size;
    int inflight, max_inflight;
    int dc;
    /* upload */
    int64_t file_id;
    int32_t parts, next_part;
    bool big;
    mtp_upload_result_t result;
    /* download */
    mtp_write_cb write;
    void *wuser;
    uint64_t next_off, end;
    int64_t doc_id, access_hash;
    uint8_t *ref;
    size_t ref_len;
    bool first;                 /* the first part alone: FILE_MIGRATE moves the rest at once */
    bool to_path;
    mtp_arena_t *arena;         /* the getFile of the next part */
    mtp_arena_t *part_arena;    /* decoded upload.file headers (the bytes are borrowed) */
} xfer_t;

typedef struct part {
    xfer_t *x;
    uint64_t off;
    int32_t len;
} part_t;

static void xfer_release(mtp_op_t *op)
{
    xfer_t *x = (xfer_t *)op;
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
    mtp_arena_free(x->arena);
    mtp_arena_free(x->part_arena);
    x->arena = x->part_arena = NULL;
    free(x->ref);
    x->ref = NULL;
}

static void up_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                  const mtp_call_error_t *e);
static void down_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                    const mtp_call_error_t *e);

static bool part_of(void *user, void *x)
{
    return ((const part_t *)user)->x == x;
}

static void xfer_abandon(mtp_op_t *op)
{
    mtp_client__cancel_calls(op->c, op->kind == MTP_OP_UPLOAD ? up_cb : down_cb, part_of, op);
}

static xfer_t *xfer_new(mtp_client_t *c, mtp_op_kind_t kind, mtp_op_progress_cb pr,
                        mtp_op_done_cb done, void *user)
{
    xfer_t *x = (xfer_t *)mtp_op__new(c, sizeof *x, kind, pr, done, user);
    if (!x)
        return NULL;
    x->fd = -1;
    x->op.release = xfer_release;
    x->op.abandon = xfer_abandon;
    x->max_inflight = mtp_client__file_parallel(c);
    return x;
}

/* A part's call ended: false when the op no longer runs (the part is dropped). */
static bool part_begin(part_t *p)
{
    xfer_t *x = p->x;
    x->inflight--;
    if (!x->op.finished)
        return true;
    free(p);
    mtp_op__unref(&x->op);
    return false;
}

static void part_end(part_t *p)
{
    xfer_t *x = p->x;
    free(p);
    mtp_op__unref(&x->op);
}

static void xfer_error(xfer_t *x, int rc, const mtp_call_error_t *e)
{
    mtp_call_error_t ee;
    if (e && e->err)
        ee = *e;
    else
        mtp_op__set_err(&ee, rc);
    ee.err = rc;
    mtp_op__finish(&x->op, &ee);
}

static void xfer_ok(xfer_t *x)
{
    mtp_call_error_t ok;
    mtp_op__set_err(&ok, 0);
    mtp_op__finish(&x->op, &ok);
}

static bool xfer_progress(xfer_t *x, uint64_t bytes)
{
    x->op.prog.done += bytes;
    return mtp_op__report(&x->op);
}

/* ------------------------------------------------------------------ upload */

static void up_pump(xfer_t *x);

static void up_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                  const mtp_call_error_t *e)
{
    (void)c;
    part_t *p = user;
    xfer_t *x = p->x;
    if (!part_begin(p))
        return;
    if (e->err || len < 4 || (res[0] | res[1] << 8 | res[2] << 16 | (uint32_t)res[3] << 24) !=
                              MTP_ID_boolTrue)
        xfer_error(x, e->err ? e->err : MTP_EPROTO, e);
    else if (xfer_progress(x, (uint64_t)p->len))
        up_pump(x);
    part_end(p);
}

static int up_next(xfer_t *x)
{
    int32_t part = x->next_part;
    uint64_t off = (uint64_t)part * PART_UP;
    size_t n = (size_t)(x->size - off < PART_UP ? x->size - off : PART_UP);
    uint8_t *buf = malloc(n ? n : 1);
    part_t *p = calloc(1, sizeof *p);
    mtp_arena_t *a = mtp_arena_new(0);
    int rc = buf && p && a ? 0 : MTP_ENOMEM;
    if (!rc && pread(x->fd, buf, n, (off_t)off) != (ssize_t)n)
        rc = MTP_EIO;
    mtp_buf_t b;
    mtp_buf_init(&b);
    if (!rc) {
        mtp_tl_object_t *o;
        if (x->big) {
            mtp_upload_saveBigFilePart_t *s = MTP_NEW(a, upload_saveBigFilePart);
            s->file_id = x->file_id;
            s->file_part = part;
            s->file_total_parts = x->parts;
            s->bytes = (mtp_bytes_t){ buf, n };
            o = &s->_;
        } else {
            mtp_upload_saveFilePart_t *s = MTP_NEW(a, upload_saveFilePart);
            s->file_id = x->file_id;
            s->file_part = part;
            s->bytes = (mtp_bytes_t){ buf, n };
            o = &s->_;
        }
        rc = mtp_tl_encode(o, &b);
    }
    if (!rc) {
        p->x = x;
        p->len = (int32_t)n;
        rc = mtp_call_ex(x->op.c, 0, MTP_CALL_FILE, b.data, b.len, up_cb, p);
    }
    if (rc) {
        free(p);
    } else {
        mtp_op__ref(&x->op);
        x->inflight++;
        x->next_part++;
    }
    mtp_buf_free(&b);
    free(buf);
    mtp_arena_free(a);
    return rc;
}

static void up_pump(xfer_t *x)
{
    while (!x->op.finished && x->next_part < x->parts && x->inflight < x->max_inflight) {
        int rc = up_next(x);
        if (rc)
            xfer_error(x, rc, NULL);
    }
    if (!x->op.finished && x->next_part >= x->parts && !x->inflight)
        xfer_ok(x);
}

static int md5_hex(int fd, char out[33])
{
    mtp_hash_t *h = NULL;
    uint8_t md[16], buf[65536];
    int rc = mtp_hash_new(MTP_HASH_MD5, &h);
    ssize_t r;
    off_t o = 0;
    while (!rc && (r = pread(fd, buf, sizeof buf, o)) > 0) {
        rc = mtp_hash_update(h, buf, (size_t)r);
        o += r;
    }
    if (!rc)
        rc = mtp_hash_final(h, md);
    mtp_hash_free(h);
    if (!rc)
        for (int i = 0; i < 16; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    return rc;
}

int mtp_upload_start(mtp_client_t *c, const mtp_upload_params_t *p, mtp_op_t **op)
{
    if (!c || !p || !p->path)
        return MTP_EINVAL;
    if (p->version != MTP_UPLOAD_PARAMS_VERSION)
        return MTP_EVERSION;
    xfer_t *x = xfer_new(c, MTP_OP_UPLOAD, p->progress, p->done, p->user);
    if (!x)
        return MTP_ENOMEM;
    x->fd = open(p->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (x->fd < 0 || fstat(x->fd, &st) || st.st_size <= 0) {
        mtp_op__discard(&x->op);
        return MTP_EIO;
    }
    x->size = x->op.prog.total = (uint64_t)st.st_size;
    x->big = x->size > BIG_FILE;
    x->parts = (int32_t)((x->size + PART_UP - 1) / PART_UP);
    mtp_rand(NULL, &x->file_id, sizeof x->file_id);
    x->result.file_id = x->file_id;
    x->result.parts = x->parts;
    x->result.big = x->big;
    if (!x->big)
        md5_hex(x->fd, x->result.md5);      /* small files carry their md5 */
    mtp_op__ref(&x->op);
    mtp_op__publish(&x->op, op);
    up_pump(x);
    mtp_op__unref(&x->op);
    return 0;
}

int mtp_op_upload_result(const mtp_op_t *op, mtp_upload_result_t *out)
{
    if (!op || !out || op->kind != MTP_OP_UPLOAD)
        return MTP_EINVAL;
    if (!op->finished || op->err.err)
        return MTP_ESTATE;
    *out = ((const xfer_t *)op)->result;
    return 0;
}

int mtp_upload_params_init_versioned(unsigned version, mtp_upload_params_t *p)
{
    if (!p)
        return MTP_EINVAL;
    if (version != MTP_UPLOAD_PARAMS_VERSION)
        return MTP_EVERSION;
    memset(p, 0, sizeof *p);
    p->version = version;
    return 0;
}

/* ---- the synchronous wrappers' progress: the old (user, done, total) callback ---- */

typedef struct legacy_progress {
    mtp_progress_cb cb;
    void *user;
} legacy_progress_t;

static void legacy_progress(mtp_op_t *op, void *user, const mtp_op_progress_t *p)
{
    (void)op;
    const legacy_progress_t *l = user;
    if (l->cb)
        l->cb(l->user, p->done, p->total);
}

int mtp_upload_file(mtp_client_t *c, const char *path, mtp_progress_cb progress, void *puser,
                    mtp_upload_result_t *out, mtp_call_error_t *err)
{
    mtp_upload_params_t p;
    mtp_upload_params_init(&p);
    legacy_progress_t lp = { progress, puser };
    p.path = path;
    p.progress = legacy_progress;
    p.user = &lp;
    mtp_op_t *op = NULL;
    memset(out, 0, sizeof *out);
    int rc = mtp_upload_start(c, &p, &op);
    if (rc) {
        mtp_op__set_err(err, rc);
        return rc;
    }
    mtp_op__ref(op);            /* the result is read after the wait */
    rc = mtp_op__wait(op, err);
    xfer_t *x = (xfer_t *)op;
    out->file_id = x->file_id;
    out->parts = x->parts;
    out->big = x->big;
    memcpy(out->md5, x->result.md5, sizeof out->md5);
    mtp_op__unref(op);
    return rc;
}

/* ------------------------------------------------------------------ download */

static void down_pump(xfer_t *x);

/* The part's bytes stay in the result buffer: decoded in place, written from there. */
static int down_part(xfer_t *x, part_t *p, const uint8_t *res, size_t len)
{
    mtp_arena_t *a = x->part_arena;
    mtp_arena_reset(a);
    mtp_tl_object_t *o = NULL;
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, mtp_tl_layer(MTP_TL_DEFAULT_LAYER), res, len, a);
    r.borrow = true;
    if (mtp_tl_decode_reader(&r, &o) || !o || o->tl->id != MTP_ID_upload_file)
        return MTP_EPROTO;
    const mtp_upload_file_t *f = (const mtp_upload_file_t *)o;
    uint64_t want = x->end - p->off < (uint64_t)p->len ? x->end - p->off : (uint64_t)p->len;
    if (f->bytes.len != want)
        return MTP_EPROTO;
    if (f->bytes.len) {
        int rc = x->write(x->wuser, p->off, f->bytes.ptr, f->bytes.len);
        if (rc)
            return rc < 0 ? rc : MTP_EIO;
    }
    int d = mtp_client__answered_dc(x->op.c);
    if (d > 0)
        x->dc = d;              /* FILE_MIGRATE followed: the rest goes there directly */
    return 0;
}

static void down_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                    const mtp_call_error_t *e)
{
    (void)c;
    part_t *p = user;
    xfer_t *x = p->x;
    if (!part_begin(p))
        return;
    int rc = e->err ? e->err : down_part(x, p, res, len);
    uint64_t n = p->off + (uint64_t)p->len > x->end ? x->end - p->off : (uint64_t)p->len;
    if (x->op.finished) {
        /* the write callback cancelled it: nothing more */
    } else if (rc) {
        xfer_error(x, rc, e);
    } else if (xfer_progress(x, n)) {
        x->first = false;
        down_pump(x);
    }
    part_end(p);
}

static int down_next(xfer_t *x)
{
    mtp_arena_reset(x->arena);
    mtp_inputDocumentFileLocation_t *loc = MTP_NEW(x->arena, inputDocumentFileLocation);
    mtp_upload_getFile_t *g = MTP_NEW(x->arena, upload_getFile);
    part_t *p = calloc(1, sizeof *p);
    if (!loc || !g || !p) {
        free(p);
        return MTP_ENOMEM;
    }
    loc->id = x->doc_id;
    loc->access_hash = x->access_hash;
    loc->file_reference = (mtp_bytes_t){ x->ref, x->ref_len };
    loc->thumb_size = (mtp_bytes_t){ (const uint8_t *)"", 0 };
    g->precise = false;
    g->location = &loc->_;
    g->offset = (int64_t)x->next_off;
    g->limit = PART_DOWN;
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = mtp_tl_encode(&g->_, &b);
    if (!rc) {
        p->x = x;
        p->off = x->next_off;
        p->len = PART_DOWN;
        rc = mtp_call_ex(x->op.c, x->dc, MTP_CALL_FILE, b.data, b.len, down_cb, p);
    }
    mtp_buf_free(&b);
    if (rc) {
        free(p);
        return rc;
    }
    mtp_op__ref(&x->op);
    x->inflight++;
    x->next_off += PART_DOWN;
    return 0;
}

static int down_finish_file(xfer_t *x)
{
    if (!x->to_path)
        return 0;
    int rc = ftruncate(x->fd, (off_t)x->size) ? MTP_EIO : 0;
    if (close(x->fd) && !rc)
        rc = MTP_EIO;
    x->fd = -1;
    return rc;
}

/* Ask for the next parts: after the first one, in groups. Parts requested together are
 * answered together, and a server seals answers that wait together at once
 * (mtp_envelope_seal_many), much faster than one by one; one at a time, the requests would
 * trickle in exactly as fast as single answers go out and never bunch up. One group per
 * answer, also when ramping up: the first answers come back (and are decrypted) while the
 * server prepares the next ones. */
static void down_pump(xfer_t *x)
{
    if (x->next_off >= x->end && !x->inflight) {
        int rc = down_finish_file(x);
        if (rc)
            xfer_error(x, rc, NULL);
        else
            xfer_ok(x);
        return;
    }
    int lim = x->first ? 1 : x->max_inflight;
    int group = lim >= 8 ? 4 : lim >= 4 ? 2 : 1;
    uint64_t left = (x->end - x->next_off + PART_DOWN - 1) / PART_DOWN;
    if (x->next_off >= x->end)
        left = 0;
    if (x->inflight && lim - x->inflight < group && left >= (uint64_t)group)
        lim = x->inflight;      /* not enough free slots yet */
    if (!x->first && lim > x->inflight + group)
        lim = x->inflight + group;
    while (!x->op.finished && x->next_off < x->end && x->inflight < lim) {
        int rc = down_next(x);
        if (rc)
            xfer_error(x, rc, NULL);
    }
}

static int file_write(void *user, uint64_t offset, const uint8_t *data, size_t len)
{
    int fd = ((const xfer_t *)user)->fd;
    while (len) {
        ssize_t w = pwrite(fd, data, len, (off_t)offset);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return MTP_EIO;
        data += w;
        len -= (size_t)w;
        offset += (uint64_t)w;
    }
    return 0;
}

static int down_setup(xfer_t *x, const mtp_download_params_t *p)
{
    x->dc = p->dc;
    x->doc_id = p->id;
    x->access_hash = p->access_hash;
    x->size = x->end = x->op.prog.total = (uint64_t)p->size;
    /* offsets must be 1 MiB-aligned for 1 MiB parts: restart at the aligned offset */
    x->next_off = p->resume_from / PART_DOWN * PART_DOWN;
    if (x->next_off > x->size)
        x->next_off = x->size / PART_DOWN * PART_DOWN;
    x->op.prog.done = x->next_off;
    x->first = true;
    x->arena = mtp_arena_new(0);
    x->part_arena = mtp_arena_new(0);
    x->ref_len = p->ref_len;
    x->ref = malloc(p->ref_len ? p->ref_len : 1);
    if (!x->arena || !x->part_arena || !x->ref)
        return MTP_ENOMEM;
    if (p->ref_len)
        memcpy(x->ref, p->file_reference, p->ref_len);
    if (p->path) {
        x->fd = open(p->path, O_WRONLY | O_CREAT | O_CLOEXEC | (p->resume_from ? 0 : O_TRUNC),
                     0644);
        if (x->fd < 0)
            return MTP_EIO;
        x->to_path = true;
        x->write = file_write;
        x->wuser = x;
    } else {
        x->write = p->write;
        x->wuser = p->write_user;
    }
    return 0;
}

int mtp_download_start(mtp_client_t *c, const mtp_download_params_t *p, mtp_op_t **op)
{
    if (!c || !p)
        return MTP_EINVAL;
    if (p->version != MTP_DOWNLOAD_PARAMS_VERSION)
        return MTP_EVERSION;
    if (p->size < 0 || !p->write == !p->path || (!p->file_reference && p->ref_len) ||
        p->dc < 0 || p->dc > MTP_CLIENT_MAX_DCS)
        return MTP_EINVAL;
    xfer_t *x = xfer_new(c, MTP_OP_DOWNLOAD, p->progress, p->done, p->user);
    if (!x)
        return MTP_ENOMEM;
    int rc = down_setup(x, p);
    if (rc) {
        mtp_op__discard(&x->op);
        return rc;
    }
    mtp_op__ref(&x->op);
    mtp_op__publish(&x->op, op);
    down_pump(x);
    mtp_op__unref(&x->op);
    return 0;
}

int mtp_download_params_init_versioned(unsigned version, mtp_download_params_t *p)
{
    if (!p)
        return MTP_EINVAL;
    if (version != MTP_DOWNLOAD_PARAMS_VERSION)
        return MTP_EVERSION;
    memset(p, 0, sizeof *p);
    p->version = version;
    return 0;
}

int mtp_download_document_to(mtp_client_t *c, const mtp_download_params_t *p,
                             mtp_call_error_t *err)
{
    mtp_op_t *op = NULL;
    int rc = mtp_download_start(c, p, &op);
    if (rc) {
        mtp_op__set_err(err, rc);
        return rc;
    }
    return mtp_op__wait(op, err);
}

int mtp_download_document(mtp_client_t *c, int dc, int64_t id, int64_t access_hash,
                          const uint8_t *file_reference, size_t ref_len, int64_t size,
                          const char *path, uint64_t resume_from, mtp_progress_cb progress,
                          void *puser, mtp_call_error_t *err)
{
    mtp_download_params_t p;
    mtp_download_params_init(&p);
    legacy_progress_t lp = { progress, puser };
    p.dc = dc;
    p.id = id;
    p.access_hash = access_hash;
    p.file_reference = file_reference;
    p.ref_len = ref_len;
    p.size = size;
    p.resume_from = resume_from;
    p.path = path;
    p.progress = legacy_progress;
    p.user = &lp;
    if (!path) {
        mtp_op__set_err(err, MTP_EINVAL);
        return MTP_EINVAL;
    }
    return mtp_download_document_to(c, &p, err);
}
