/*
 * libmtproto client — login helpers and file transfer on top of the call layer.
 */
#define _GNU_SOURCE
#include "client_int.h"

#include <mtproto/crypto.h>
#include <mtproto/net.h>
#include <mtproto/tl_schema.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mtp_client__answered_dc(const mtp_client_t *c);
void mtp_client__set_user(mtp_client_t *c, int64_t user_id);
const char *mtp_client__api_hash(const mtp_client_t *c);
int mtp_client__api_id(const mtp_client_t *c);
int mtp_client__file_parallel(const mtp_client_t *c);

static mtp_bytes_t S(const char *s)
{
    mtp_bytes_t b = { (const uint8_t *)s, s ? strlen(s) : 0 };
    return b;
}

static void set_err(mtp_call_error_t *e, int err)
{
    if (e) {
        memset(e, 0, sizeof *e);
        e->err = err;
        e->number = -1;
    }
}

static bool is_rpc(const mtp_call_error_t *e, const char *msg)
{
    return e->err == MTP_ERPC && strcmp(e->message, msg) == 0;
}

static int64_t user_of_auth(const mtp_tl_object_t *o)
{
    if (!o || o->tl->id != MTP_ID_auth_authorization)
        return 0;
    const mtp_tl_object_t *u = ((const mtp_auth_authorization_t *)o)->user;
    if (u && u->tl->id == MTP_ID_user)
        return ((const mtp_user_t *)u)->id;
    return 0;
}

int mtp_login_password(mtp_client_t *c, const char *password, mtp_call_error_t *err)
{
    mtp_call_error_t e;
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a) {
        set_err(err, MTP_ENOMEM);
        return MTP_ENOMEM;
    }
    mtp_tl_object_t *o = NULL;
    int rc = mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, account_getPassword), a, &o, &e);
    if (!rc) {
        const mtp_account_password_t *p = (const mtp_account_password_t *)o;
        const mtp_tl_object_t *al = p->current_algo;
        if (o->tl->id != MTP_ID_account_password || !p->has_password || !al ||
            al->tl->id != MTP_ID_passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow) {
            set_err(&e, rc = MTP_EPROTO);
        } else {
            const mtp_passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow_t *k =
                (const void *)al;
            mtp_srp_algo_t sa = { k->salt1.ptr, k->salt1.len, k->salt2.ptr, k->salt2.len,
                                  k->g, k->p.ptr, k->p.len };
            uint8_t A[256], M1[32];
            rc = mtp_srp_client_compute(&sa, (const uint8_t *)password, strlen(password),
                                        p->srp_B.ptr, p->srp_B.len, NULL, 0, A, M1);
            if (rc) {
                set_err(&e, rc);
            } else {
                mtp_inputCheckPasswordSRP_t *in = MTP_NEW(a, inputCheckPasswordSRP);
                in->srp_id = p->srp_id;
                in->A = (mtp_bytes_t){ A, 256 };
                in->M1 = (mtp_bytes_t){ M1, 32 };
                mtp_auth_checkPassword_t *cp = MTP_NEW(a, auth_checkPassword);
                cp->password = &in->_;
                rc = mtp_call_sync(c, &cp->_, a, &o, &e);
                if (!rc) {
                    int64_t uid = user_of_auth(o);
                    if (uid)
                        mtp_client__set_user(c, uid);
                    else
                        set_err(&e, rc = MTP_EPROTO);
                }
            }
            memset(A, 0, sizeof A);
            memset(M1, 0, sizeof M1);
        }
    }
    mtp_arena_free(a);
    if (err)
        *err = e;
    return rc;
}

int mtp_login_phone(mtp_client_t *c, const char *phone, const char *code, mtp_ask_cb ask,
                    void *ask_user, mtp_call_error_t *err)
{
    mtp_call_error_t e;
    set_err(&e, 0);
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a) {
        set_err(err, MTP_ENOMEM);
        return MTP_ENOMEM;
    }
    mtp_auth_sendCode_t *sc = MTP_NEW(a, auth_sendCode);
    sc->phone_number = S(phone);
    sc->api_id = mtp_client__api_id(c);
    sc->api_hash = S(mtp_client__api_hash(c));
    sc->settings = (mtp_tl_object_t *)MTP_NEW(a, codeSettings);
    mtp_tl_object_t *o = NULL;
    char codebuf[64];
    int rc = mtp_call_sync(c, &sc->_, a, &o, &e);
    if (!rc && o->tl->id != MTP_ID_auth_sentCode)
        set_err(&e, rc = MTP_EPROTO);
    if (!rc && !code) {
        if (!ask || ask(ask_user, "Login code: ", codebuf, sizeof codebuf))
            set_err(&e, rc = MTP_ECANCELED);
        else
            code = codebuf;
    }
    if (!rc) {
        const mtp_auth_sentCode_t *sent = (const mtp_auth_sentCode_t *)o;
        mtp_auth_signIn_t *si = MTP_NEW(a, auth_signIn);
        si->phone_number = S(phone);
        si->phone_code_hash = sent->phone_code_hash;
        si->has_phone_code = true;
        si->phone_code = S(code);
        rc = mtp_call_sync(c, &si->_, a, &o, &e);
        if (!rc) {
            int64_t uid = user_of_auth(o);
            if (uid)
                mtp_client__set_user(c, uid);
            else
                set_err(&e, rc = MTP_EAUTH);   /* sign-up required */
        } else if (is_rpc(&e, "SESSION_PASSWORD_NEEDED")) {
            char pw[256];
            if (!ask || ask(ask_user, "Password: ", pw, sizeof pw)) {
                set_err(&e, rc = MTP_ECANCELED);
            } else {
                rc = mtp_login_password(c, pw, &e);
            }
            memset(pw, 0, sizeof pw);
        }
    }
    mtp_arena_free(a);
    if (err)
        *err = e;
    return rc;
}

int mtp_login_bot(mtp_client_t *c, const char *token, mtp_call_error_t *err)
{
    mtp_call_error_t e;
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a) {
        set_err(err, MTP_ENOMEM);
        return MTP_ENOMEM;
    }
    mtp_auth_importBotAuthorization_t *b = MTP_NEW(a, auth_importBotAuthorization);
    b->api_id = mtp_client__api_id(c);
    b->api_hash = S(mtp_client__api_hash(c));
    b->bot_auth_token = S(token);
    mtp_tl_object_t *o = NULL;
    int rc = mtp_call_sync(c, &b->_, a, &o, &e);
    if (!rc) {
        int64_t uid = user_of_auth(o);
        if (uid)
            mtp_client__set_user(c, uid);
        else
            set_err(&e, rc = MTP_EPROTO);
    }
    mtp_arena_free(a);
    if (err)
        *err = e;
    return rc;
}

int mtp_logout(mtp_client_t *c, mtp_call_error_t *err)
{
    mtp_call_error_t e;
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a) {
        set_err(err, MTP_ENOMEM);
        return MTP_ENOMEM;
    }
    int rc = mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, auth_logOut), a, NULL, &e);
    mtp_client__set_user(c, 0);
    mtp_arena_free(a);
    if (err)
        *err = e;
    return rc;
}

/* ------------------------------------------------------------------ files */

#define PART_UP (512 * 1024)
#define PART_DOWN (1024 * 1024)
#define BIG_FILE (10 * 1024 * 1024)

typedef struct xfer {
    mtp_client_t *c;
    int fd;
    mtp_write_cb write;         /* download: where the bytes go */
    void *wuser;
    uint64_t size, next_off, done_bytes;
    int inflight, max_inflight;
    int err;
    mtp_call_error_t e;
    mtp_progress_cb progress;
    void *puser;
    int dc;
    /* upload */
    int64_t file_id;
    int32_t parts, next_part;
    bool big;
    /* download */
    mtp_tl_object_t *loc;
    mtp_arena_t *arena;
    mtp_arena_t *part_arena;    /* decoded upload.file headers (the bytes are borrowed) */
    uint64_t end;
} xfer_t;

typedef struct part {
    xfer_t *x;
    uint64_t off;
    int32_t len;
} part_t;

static void up_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                  const mtp_call_error_t *e)
{
    (void)c;
    (void)len;
    part_t *p = user;
    xfer_t *x = p->x;
    x->inflight--;
    if (e->err || len < 4 || (res[0] | res[1] << 8 | res[2] << 16 | (uint32_t)res[3] << 24) !=
                              MTP_ID_boolTrue) {
        if (!x->err) {
            x->err = e->err ? e->err : MTP_EPROTO;
            x->e = *e;
            x->e.err = x->err;
        }
    } else {
        x->done_bytes += (uint64_t)p->len;
        if (x->progress)
            x->progress(x->puser, x->done_bytes, x->size);
    }
    free(p);
}

static int up_next(xfer_t *x)
{
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return MTP_ENOMEM;
    int32_t part = x->next_part;
    uint64_t off = (uint64_t)part * PART_UP;
    size_t n = (size_t)(x->size - off < PART_UP ? x->size - off : PART_UP);
    uint8_t *buf = malloc(n ? n : 1);
    part_t *p = calloc(1, sizeof *p);
    int rc = buf && p ? 0 : MTP_ENOMEM;
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
        rc = mtp_call_ex(x->c, 0, MTP_CALL_FILE, b.data, b.len, up_cb, p);
    }
    if (rc)
        free(p);
    else {
        x->inflight++;
        x->next_part++;
    }
    mtp_buf_free(&b);
    free(buf);
    mtp_arena_free(a);
    return rc;
}

int mtp_upload_file(mtp_client_t *c, const char *path, mtp_progress_cb progress, void *puser,
                    mtp_upload_result_t *out, mtp_call_error_t *err)
{
    xfer_t x;
    memset(&x, 0, sizeof x);
    set_err(&x.e, 0);
    x.c = c;
    x.progress = progress;
    x.puser = puser;
    x.fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (x.fd < 0 || fstat(x.fd, &st) || st.st_size <= 0) {
        if (x.fd >= 0)
            close(x.fd);
        set_err(err, MTP_EIO);
        return MTP_EIO;
    }
    x.size = (uint64_t)st.st_size;
    x.big = x.size > BIG_FILE;
    x.parts = (int32_t)((x.size + PART_UP - 1) / PART_UP);
    mtp_rand(NULL, &x.file_id, sizeof x.file_id);
    x.max_inflight = mtp_client__file_parallel(c);
    memset(out, 0, sizeof *out);
    if (!x.big) {
        /* md5 of small files */
        mtp_hash_t *h = NULL;
        uint8_t md[16], buf[65536];
        int rc = mtp_hash_new(MTP_HASH_MD5, &h);
        ssize_t r;
        off_t o = 0;
        while (!rc && (r = pread(x.fd, buf, sizeof buf, o)) > 0) {
            rc = mtp_hash_update(h, buf, (size_t)r);
            o += r;
        }
        if (!rc)
            rc = mtp_hash_final(h, md);
        mtp_hash_free(h);
        if (!rc)
            for (int i = 0; i < 16; i++)
                snprintf(out->md5 + 2 * i, 3, "%02x", md[i]);
    }
    while (!x.err && (x.next_part < x.parts || x.inflight)) {
        while (!x.err && x.next_part < x.parts && x.inflight < x.max_inflight) {
            int rc = up_next(&x);
            if (rc) {
                x.err = rc;
                set_err(&x.e, rc);
            }
        }
        if (x.inflight)
            mtp_client_step(c, 1000);
    }
    while (x.inflight)      /* let the rest end before x goes out of scope */
        mtp_client_step(c, 1000);
    close(x.fd);
    out->file_id = x.file_id;
    out->parts = x.parts;
    out->big = x.big;
    if (err)
        *err = x.e;
    return x.err;
}

static void down_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                    const mtp_call_error_t *e)
{
    part_t *p = user;
    xfer_t *x = p->x;
    x->inflight--;
    int rc = e->err;
    mtp_arena_t *a = x->part_arena;
    mtp_arena_reset(a);
    mtp_tl_object_t *o = NULL;
    if (!rc && x->err) {    /* the download is already failing: nothing more goes out */
        free(p);
        return;
    }
    if (!rc) {
        /* the part's bytes stay in the result buffer: decoded in place, written from there */
        mtp_tl_reader_t r;
        mtp_tl_reader_init(&r, mtp_tl_layer(MTP_TL_DEFAULT_LAYER), res, len, a);
        r.borrow = true;
        if (mtp_tl_decode_reader(&r, &o) || !o || o->tl->id != MTP_ID_upload_file)
            rc = MTP_EPROTO;
    }
    if (!rc) {
        const mtp_upload_file_t *f = (const mtp_upload_file_t *)o;
        uint64_t want = x->end - p->off < (uint64_t)p->len ? x->end - p->off : (uint64_t)p->len;
        if (f->bytes.len != want)
            rc = MTP_EPROTO;
        else if (f->bytes.len && (rc = x->write(x->wuser, p->off, f->bytes.ptr, f->bytes.len)) != 0)
            rc = rc < 0 ? rc : MTP_EIO;
        else {
            x->done_bytes += f->bytes.len;
            int d = mtp_client__answered_dc(c);
            if (d > 0)
                x->dc = d;   /* FILE_MIGRATE followed: the rest goes there directly */
            if (x->progress)
                x->progress(x->puser, x->done_bytes, x->size);
        }
    }
    if (rc && !x->err) {
        x->err = rc;
        if (e->err)
            x->e = *e;
        else
            set_err(&x->e, rc);
    }
    free(p);
}

static int down_next(xfer_t *x)
{
    mtp_upload_getFile_t *g = MTP_NEW(x->arena, upload_getFile);
    part_t *p = calloc(1, sizeof *p);
    if (!g || !p) {
        free(p);
        return MTP_ENOMEM;
    }
    g->precise = false;
    g->location = x->loc;
    g->offset = (int64_t)x->next_off;
    g->limit = PART_DOWN;
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = mtp_tl_encode(&g->_, &b);
    if (!rc) {
        p->x = x;
        p->off = x->next_off;
        p->len = PART_DOWN;
        rc = mtp_call_ex(x->c, x->dc, MTP_CALL_FILE, b.data, b.len, down_cb, p);
    }
    mtp_buf_free(&b);
    if (rc) {
        free(p);
        return rc;
    }
    x->inflight++;
    x->next_off += PART_DOWN;
    return 0;
}

int mtp_download_document_to(mtp_client_t *c, int dc, int64_t id, int64_t access_hash,
                             const uint8_t *file_reference, size_t ref_len, int64_t size,
                             uint64_t resume_from, mtp_write_cb write, void *wuser,
                             mtp_progress_cb progress, void *puser, mtp_call_error_t *err)
{
    xfer_t x;
    memset(&x, 0, sizeof x);
    set_err(&x.e, 0);
    if (!c || size < 0 || !write || (!file_reference && ref_len)) {
        set_err(err, MTP_EINVAL);
        return MTP_EINVAL;
    }
    x.c = c;
    x.dc = dc;
    x.write = write;
    x.wuser = wuser;
    x.fd = -1;
    x.progress = progress;
    x.puser = puser;
    x.size = x.end = (uint64_t)size;
    /* offsets must be 1 MiB-aligned for 1 MiB parts: restart at the aligned offset */
    x.next_off = resume_from / PART_DOWN * PART_DOWN;
    if (x.next_off > x.size)
        x.next_off = x.size / PART_DOWN * PART_DOWN;
    x.done_bytes = x.next_off;
    x.max_inflight = mtp_client__file_parallel(c);
    x.arena = mtp_arena_new(0);
    x.part_arena = mtp_arena_new(0);
    if (!x.arena || !x.part_arena) {
        mtp_arena_free(x.arena);
        mtp_arena_free(x.part_arena);
        set_err(err, MTP_ENOMEM);
        return MTP_ENOMEM;
    }
    mtp_inputDocumentFileLocation_t *loc = MTP_NEW(x.arena, inputDocumentFileLocation);
    loc->id = id;
    loc->access_hash = access_hash;
    loc->file_reference = (mtp_bytes_t){ mtp_arena_memdup(x.arena, file_reference, ref_len ? ref_len : 1), ref_len };
    loc->thumb_size = S("");
    x.loc = &loc->_;
    if (x.size == 0)
        x.next_off = 0;
    /* the first part alone: a FILE_MIGRATE moves the rest to the right DC at once */
    bool first = true;
    while (!x.err && (x.next_off < x.end || x.inflight)) {
        int lim = first ? 1 : x.max_inflight;
        /* Ask in groups: parts requested together are answered together, and a server
         * seals answers that wait together at once (mtp_envelope_seal_many), much faster
         * than one by one. One at a time, the requests would trickle in exactly as fast
         * as single answers go out and never bunch up. */
        int group = lim >= 8 ? 4 : lim >= 4 ? 2 : 1;
        uint64_t left = (x.end - x.next_off + PART_DOWN - 1) / PART_DOWN;
        if (x.inflight && lim - x.inflight < group && left >= (uint64_t)group)
            lim = x.inflight;       /* not enough free slots yet */
        /* one group per step, also when ramping up: the first answers come back (and are
         * decrypted) while the server prepares the next ones */
        if (!first && lim > x.inflight + group)
            lim = x.inflight + group;
        while (!x.err && x.next_off < x.end && x.inflight < lim) {
            int rc = down_next(&x);
            if (rc) {
                x.err = rc;
                set_err(&x.e, rc);
            }
        }
        if (x.inflight)
            mtp_client_step(c, 1000);
        if (!x.inflight)
            first = false;
        mtp_arena_reset(x.arena);
        loc = MTP_NEW(x.arena, inputDocumentFileLocation);
        loc->id = id;
        loc->access_hash = access_hash;
        loc->file_reference = (mtp_bytes_t){ mtp_arena_memdup(x.arena, file_reference, ref_len ? ref_len : 1), ref_len };
        loc->thumb_size = S("");
        x.loc = &loc->_;
    }
    while (x.inflight)
        mtp_client_step(c, 1000);
    mtp_arena_free(x.arena);
    mtp_arena_free(x.part_arena);
    if (err)
        *err = x.e;
    return x.err;
}

static int file_write(void *user, uint64_t offset, const uint8_t *data, size_t len)
{
    int fd = *(const int *)user;
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

int mtp_download_document(mtp_client_t *c, int dc, int64_t id, int64_t access_hash,
                          const uint8_t *file_reference, size_t ref_len, int64_t size,
                          const char *path, uint64_t resume_from, mtp_progress_cb progress,
                          void *puser, mtp_call_error_t *err)
{
    if (!c || !path || size < 0) {
        set_err(err, MTP_EINVAL);
        return MTP_EINVAL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (resume_from ? 0 : O_TRUNC), 0644);
    if (fd < 0) {
        set_err(err, MTP_EIO);
        return MTP_EIO;
    }
    int rc = mtp_download_document_to(c, dc, id, access_hash, file_reference, ref_len, size,
                                      resume_from, file_write, &fd, progress, puser, err);
    if (!rc && ftruncate(fd, (off_t)size))
        rc = MTP_EIO;
    if (close(fd) && !rc)
        rc = MTP_EIO;
    if (rc && err && !err->err)
        set_err(err, rc);
    return rc;
}
