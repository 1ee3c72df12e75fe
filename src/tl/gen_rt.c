/*
 * Helpers of the generated codecs (src/tl/tl_gen_rt.h) that are called, not inlined: the
 * string and vector readers and the single-pass writers of variable-size values. Each
 * validates exactly like the runtime function named in its comment.
 */
#include "tl/tl_gen_rt.h"

/* string / bytes (mtp_tl_read_bytes()): short canonical values here, the rest there. */
mtp_bytes_t mtp_gen_rd_bytes(mtp_tl_reader_t *r)
{
    const uint8_t *p = r->p;
    size_t left = (size_t)(r->end - p);
    if (left >= 4 && p[0] < 254) {
        size_t len = p[0], total = (len + 4) & ~(size_t)3, pad = total - 1 - len;
        /* the padding bytes are the top pad bytes of the last word and must be zero */
        if (total <= left && !(pad && (mtp_gen_ld32(p + total - 4) >> (32 - 8 * pad)))) {
            mtp_bytes_t b = { (const uint8_t *)"", 0 };
            if (len) {
                if (r->borrow) {
                    b.ptr = p + 1;
                } else {
                    uint8_t *d = r->arena ? mtp_arena_bump(r->arena, len, 1) : NULL;
                    if (!d)
                        return mtp_tl_read_bytes(r);
                    mtp_tl_copy_mem(d, p + 1, len);
                    b.ptr = d;
                }
                b.len = len;
            }
            r->p = p + total;
            return b;
        }
    }
    return mtp_tl_read_bytes(r);
}

/* Vector<T> / vector<T> of boxed objects read by rd (mtp_tl_read_vector()). */
int mtp_gen_rd_vec_obj(mtp_tl_reader_t *r, const mtp_tl_type_t *vt, void *dst,
                       mtp_tl_object_t *(*rd)(mtp_tl_reader_t *))
{
    mtp_vec_obj_t *v = dst;
    size_t hdr = vt->kind == MTP_TL_VECTOR ? 8 : 4, left = (size_t)(r->end - r->p);
    if (!r->err && r->arena && left >= hdr && (hdr == 4 || mtp_gen_ld32(r->p) == MTP_GEN_ID_VECTOR)) {
        uint32_t n = mtp_gen_ld32(r->p + hdr - 4);
        if (n <= INT32_MAX && n <= (left - hdr) / 4) {
            r->p += hdr;
            v->n = 0;
            v->v = NULL;
            if (!n)
                return 0;
            mtp_tl_object_t **it = mtp_arena_bump(r->arena, (size_t)n * sizeof *it, 8);
            if (!it)
                return mtp_tl_reader_fail(r, MTP_ENOMEM);
            for (uint32_t i = 0; i < n; i++) {
                it[i] = rd(r);
                if (r->err)
                    return r->err;
            }
            v->v = it;
            v->n = n;
            return 0;
        }
    }
    return mtp_tl_read_vector(r, vt, dst);
}

/* header + data + zero padding; n <= MTP_TL_MAX_BYTES, room for n + 7 bytes */
static uint8_t *wbytes_raw(uint8_t *p, const uint8_t *s, size_t n)
{
    size_t total = mtp_tlb_size(n);
    memset(p + total - 4, 0, 4);   /* the padding (header and data overwrite the rest) */
    size_t hdr = mtp_tlb_header(p, n);
    if (n)
        memcpy(p + hdr, s, n);
    return p + total;
}

/* A string/bytes field: MTP_ERANGE if too long, null_err for a NULL pointer with a length. */
static int wr_bytes_e(mtp_tl_writer_t *w, const mtp_bytes_t *b, int null_err)
{
    if (b->len > MTP_TL_MAX_BYTES)
        return MTP_ERANGE;
    if (b->len && !b->ptr)
        return null_err;
    int rc = mtp_tl_writer_need(w, b->len + 7);
    if (rc)
        return rc;
    w->p = wbytes_raw(w->p, b->ptr, b->len);
    return 0;
}

int mtp_gen_wr_bytes(mtp_tl_writer_t *w, const mtp_bytes_t *b)
{
    return wr_bytes_e(w, b, MTP_EINVAL);
}

/* The fields of x, one level deeper. */
static int wr_fields(mtp_tl_writer_t *w, const mtp_tl_object_t *x)
{
    if (w->depth >= MTP_TL_MAX_DEPTH)
        return MTP_EDEPTH;
    w->depth++;
    int rc = x->tl->write(x, w);
    w->depth--;
    return rc;
}

/* A boxed object of type tn (NULL: Object, any boxed value). */
int mtp_gen_wr_obj(mtp_tl_writer_t *w, const mtp_tl_object_t *x, const mtp_tl_tname_t *tn)
{
    if (!x || !x->tl)
        return MTP_EINVAL;
    if (tn && (x->tl->is_method || x->tl->tname != tn))
        return MTP_ETYPE;
    int rc = mtp_tl_writer_need(w, 4);
    if (rc)
        return rc;
    w->p = mtp_gen_w32(w->p, x->tl->id);
    return wr_fields(w, x);
}

/* !X: a method call. */
int mtp_gen_wr_query(mtp_tl_writer_t *w, const mtp_tl_object_t *x)
{
    if (!x || !x->tl)
        return MTP_EINVAL;
    if (!x->tl->is_method)
        return MTP_ETYPE;
    int rc = mtp_tl_writer_need(w, 4);
    if (rc)
        return rc;
    w->p = mtp_gen_w32(w->p, x->tl->id);
    return wr_fields(w, x);
}

/* A bare object of constructor c. */
int mtp_gen_wr_bare(mtp_tl_writer_t *w, const mtp_tl_object_t *x, const mtp_tl_comb_t *c)
{
    if (!x || !x->tl)
        return MTP_EINVAL;
    if (x->tl != c)
        return MTP_ETYPE;
    return wr_fields(w, x);
}

/* The count (and the Vector id if boxed) of a vector, with room for n * item more bytes. */
static int wr_vhdr(mtp_tl_writer_t *w, const void *vv, bool boxed, size_t item)
{
    const mtp_vec_t *v = vv;
    if (v->n > INT32_MAX || (v->n && !v->v))
        return MTP_ERANGE;
    int rc = mtp_tl_writer_need(w, 8 + (size_t)v->n * item);
    if (rc)
        return rc;
    if (boxed)
        w->p = mtp_gen_w32(w->p, MTP_GEN_ID_VECTOR);
    w->p = mtp_gen_w32(w->p, v->n);
    return 0;
}

int mtp_gen_wr_vec_obj(mtp_tl_writer_t *w, const void *vv, bool boxed, const mtp_tl_tname_t *tn)
{
    const mtp_vec_obj_t *v = vv;
    int rc = wr_vhdr(w, v, boxed, 0);
    for (uint32_t i = 0; i < v->n && !rc; i++)
        rc = mtp_gen_wr_obj(w, v->v[i], tn);
    return rc;
}

int mtp_gen_wr_vec_bytes(mtp_tl_writer_t *w, const void *vv, bool boxed)
{
    const mtp_vec_bytes_t *v = vv;
    int rc = wr_vhdr(w, v, boxed, 0);
    for (uint32_t i = 0; i < v->n && !rc; i++)
        rc = wr_bytes_e(w, &v->v[i], MTP_ERANGE);
    return rc;
}

int mtp_gen_wr_vec_int(mtp_tl_writer_t *w, const void *vv, bool boxed)
{
    const mtp_vec_int_t *v = vv;
    int rc = wr_vhdr(w, v, boxed, 4);
    if (rc)
        return rc;
    uint8_t *p = w->p;
    for (uint32_t i = 0; i < v->n; i++)
        p = mtp_gen_w32(p, (uint32_t)v->v[i]);
    w->p = p;
    return 0;
}

int mtp_gen_wr_vec_long(mtp_tl_writer_t *w, const void *vv, bool boxed)
{
    const mtp_vec_long_t *v = vv;
    int rc = wr_vhdr(w, v, boxed, 8);
    if (rc)
        return rc;
    uint8_t *p = w->p;
    for (uint32_t i = 0; i < v->n; i++)
        p = mtp_gen_w64(p, (uint64_t)v->v[i]);
    w->p = p;
    return 0;
}

