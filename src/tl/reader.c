/* Bounded TL reader: primitives, objects, vectors, gzip_packed. Never reads past the input. */
#include <mtproto/tl.h>

#include <stdio.h>
#include <string.h>

#include "tl/tl_arena.h"
#include "tl/tl_gen_rt.h"

#define ID_VECTOR      0x1cb5c415u
#define ID_BOOL_TRUE   0x997275b5u
#define ID_BOOL_FALSE  0xbc799737u
#define ID_GZIP_PACKED 0x3072cfa1u

void mtp_tl_reader_init(mtp_tl_reader_t *r, const mtp_tl_layer_t *layer,
                        const uint8_t *p, size_t n, mtp_arena_t *arena)
{
    memset(r, 0, sizeof *r);
    r->start = r->p = p;
    r->end = p + n;
    r->layer = layer;
    r->arena = arena;
    r->max_depth = MTP_TL_MAX_DEPTH;
    r->gzip_cap = MTP_TL_GZIP_CAP_DEFAULT;
    r->unpack_gzip = true;
}

void mtp_tl_zero_mem(void *p, size_t n)
{
    memset(p, 0, n);
}

void mtp_tl_copy_mem(void *d, const void *s, size_t n)
{
    memcpy(d, s, n);
}

int mtp_tl_reader_fail(mtp_tl_reader_t *r, int err)
{
    if (!r->err) {
        r->err = err;
        r->err_off = (size_t)(r->p - r->start);
    }
    r->p = r->end;   /* every later read fails fast */
    return r->err;
}

static int fail_id(mtp_tl_reader_t *r, int err, uint32_t id)
{
    if (!r->err) {
        r->err_id = id;
        r->p -= 4;   /* report the offset of the id itself */
        mtp_tl_reader_fail(r, err);
    }
    return r->err;
}

const char *mtp_tl_reader_strerror(const mtp_tl_reader_t *r, char *buf, size_t n)
{
    if (!r->err)
        snprintf(buf, n, "no error");
    else if (r->err == MTP_EUNKNOWN_ID)
        snprintf(buf, n, "unknown constructor id 0x%08x at offset %zu", r->err_id, r->err_off);
    else if (r->err == MTP_ETYPE)
        snprintf(buf, n, "unexpected constructor 0x%08x at offset %zu", r->err_id, r->err_off);
    else
        snprintf(buf, n, "%s at offset %zu", mtp_strerror(r->err), r->err_off);
    return buf;
}

double mtp_tl_read_double(mtp_tl_reader_t *r)
{
    uint64_t v = (uint64_t)mtp_tl_read_long(r);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

void mtp_tl_read_raw(mtp_tl_reader_t *r, uint8_t *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        mtp_tl_reader_fail(r, MTP_ETRUNC);
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
}

mtp_bytes_t mtp_tl_read_bytes(mtp_tl_reader_t *r)
{
    mtp_bytes_t b = { (const uint8_t *)"", 0 };
    size_t left = (size_t)(r->end - r->p);
    if (left < 4) {
        mtp_tl_reader_fail(r, MTP_ETRUNC);
        return b;
    }
    const uint8_t *p = r->p;
    size_t len, hdr;
    if (p[0] < 254) {
        len = p[0];
        hdr = 1;
    } else if (p[0] == 254) {
        len = (size_t)p[1] | (size_t)p[2] << 8 | (size_t)p[3] << 16;
        hdr = 4;
        if (len < 254) {
            mtp_tl_reader_fail(r, MTP_EBADTL);
            return b;
        }
    } else {
        mtp_tl_reader_fail(r, MTP_EBADTL);
        return b;
    }
    size_t total = (hdr + len + 3) & ~(size_t)3;
    if (total > left) {
        mtp_tl_reader_fail(r, MTP_ETRUNC);
        return b;
    }
    for (size_t i = hdr + len; i < total; i++)
        if (p[i]) {
            r->p += i;
            mtp_tl_reader_fail(r, MTP_EBADTL);
            return b;
        }
    if (r->borrow || len == 0) {
        b.ptr = len ? p + hdr : b.ptr;
    } else {
        uint8_t *d = r->arena ? mtp_arena_bump(r->arena, len, 1) : NULL;
        if (!d) {
            mtp_tl_reader_fail(r, MTP_ENOMEM);
            return b;
        }
        memcpy(d, p + hdr, len);
        b.ptr = d;
    }
    b.len = len;
    r->p += total;
    return b;
}

bool mtp_tl_read_bool(mtp_tl_reader_t *r)
{
    uint32_t id = mtp_tl_read_nat(r);
    if (id == ID_BOOL_TRUE)
        return true;
    if (id != ID_BOOL_FALSE && !r->err)
        fail_id(r, MTP_ETYPE, id);
    return false;
}

/* Decode the fields of c into a fresh object. */
static mtp_tl_object_t *read_fields(mtp_tl_reader_t *r, const mtp_tl_comb_t *c)
{
    if (r->err)
        return NULL;
    if (++r->depth > r->max_depth) {
        mtp_tl_reader_fail(r, MTP_EDEPTH);
        return NULL;
    }
    mtp_tl_object_t *o = r->arena ? mtp_arena_bump(r->arena, c->size, 8) : NULL;
    if (!o) {
        mtp_tl_reader_fail(r, MTP_ENOMEM);
        return NULL;
    }
    memset(o, 0, c->size);
    o->tl = c;
    c->decode(r, o);
    r->depth--;
    return r->err ? NULL : o;
}

/* gzip_packed in place of an object: inflate and decode the content with the same rules. */
static mtp_tl_object_t *read_gzipped(mtp_tl_reader_t *r, const mtp_tl_tname_t *tname, int want)
{
    if (r->in_gzip) {
        fail_id(r, MTP_EGZIP, ID_GZIP_PACKED);
        return NULL;
    }
    bool borrow = r->borrow;
    r->borrow = true;
    mtp_bytes_t packed = mtp_tl_read_bytes(r);
    r->borrow = borrow;
    if (r->err)
        return NULL;
    mtp_buf_t out;
    mtp_buf_init(&out);
    int rc = mtp_gzip_inflate(packed.ptr, packed.len, r->gzip_cap, &out);
    uint8_t *data = rc ? NULL : mtp_arena_memdup(r->arena, out.data, out.len);
    size_t n = out.len;
    mtp_buf_free(&out);
    if (rc || !data) {
        mtp_tl_reader_fail(r, rc ? rc : MTP_ENOMEM);
        return NULL;
    }
    mtp_tl_reader_t sub = *r;
    sub.start = sub.p = data;
    sub.end = data + n;
    sub.in_gzip = true;
    sub.borrow = true;   /* the inflated data already lives in the arena */
    mtp_tl_object_t *o = NULL;
    if (want == 2)
        o = mtp_tl_read_query(&sub);
    else
        o = mtp_tl_read_object(&sub, tname);
    if (!sub.err && sub.p != sub.end)
        mtp_tl_reader_fail(&sub, MTP_EBADTL);
    if (sub.err) {
        r->err_id = sub.err_id;
        mtp_tl_reader_fail(r, sub.err);
        return NULL;
    }
    return o;
}

/* want: 0 constructor of tname, 1 anything (top level), 2 method */
static mtp_tl_object_t *read_boxed(mtp_tl_reader_t *r, const mtp_tl_tname_t *tname, int want)
{
    uint32_t id = mtp_tl_read_nat(r);
    if (r->err)
        return NULL;
    if (id == ID_GZIP_PACKED && r->unpack_gzip)
        return read_gzipped(r, tname, want);
    const mtp_tl_comb_t *c = mtp_tl_find_id(r->layer, id);
    if (!c) {
        fail_id(r, MTP_EUNKNOWN_ID, id);
        return NULL;
    }
    /* Object (tname NULL) holds any boxed value, method calls included (container bodies) */
    if ((want == 0 && tname && (c->is_method || c->tname != tname)) || (want == 2 && !c->is_method)) {
        fail_id(r, MTP_ETYPE, id);
        return NULL;
    }
    return read_fields(r, c);
}

mtp_tl_object_t *mtp_tl_read_object(mtp_tl_reader_t *r, const mtp_tl_tname_t *tname)
{
    return read_boxed(r, tname, 0);
}

mtp_tl_object_t *mtp_tl_read_query(mtp_tl_reader_t *r)
{
    return read_boxed(r, NULL, 2);
}

mtp_tl_object_t *mtp_tl_read_bare(mtp_tl_reader_t *r, const mtp_tl_comb_t *c)
{
    return read_fields(r, c);
}

/* Smallest encoding of one item, to bound counts before allocating. */
static size_t min_item_size(const mtp_tl_type_t *t)
{
    switch (t->kind) {
    case MTP_TL_LONG: case MTP_TL_DOUBLE: return 8;
    case MTP_TL_INT128: return 16;
    case MTP_TL_INT256: return 32;
    case MTP_TL_VECTOR: return 8;
    default: return 4;
    }
}

int mtp_tl_read_vector(mtp_tl_reader_t *r, const mtp_tl_type_t *vt, void *dst)
{
    mtp_vec_t *v = dst;
    v->n = 0;
    v->v = NULL;
    if (vt->kind == MTP_TL_VECTOR) {
        uint32_t id = mtp_tl_read_nat(r);
        if (r->err)
            return r->err;
        if (id != ID_VECTOR)
            return fail_id(r, MTP_ETYPE, id);
    }
    int32_t count = mtp_tl_read_int(r);
    if (r->err)
        return r->err;
    const mtp_tl_type_t *et = vt->elem;
    if (count < 0 || (size_t)count > (size_t)(r->end - r->p) / min_item_size(et)) {
        r->p -= 4;
        return mtp_tl_reader_fail(r, MTP_ERANGE);
    }
    if (count == 0)
        return 0;
    /* not zeroed: every item is written below (on an error the vector is dropped) */
    uint8_t *items = r->arena ? mtp_arena_bump(r->arena, (size_t)count * et->size, 8) : NULL;
    if (!items)
        return mtp_tl_reader_fail(r, MTP_ENOMEM);
    v->v = items;
    v->n = (uint32_t)count;
    switch (et->kind) {   /* fast paths for the common item types */
    case MTP_TL_INT:
        for (int32_t i = 0; i < count; i++)
            ((int32_t *)items)[i] = mtp_tl_read_int(r);
        break;
    case MTP_TL_LONG:
        for (int32_t i = 0; i < count; i++)
            ((int64_t *)items)[i] = mtp_tl_read_long(r);
        break;
    case MTP_TL_OBJECT:
        for (int32_t i = 0; i < count && !r->err; i++)
            ((mtp_tl_object_t **)items)[i] = mtp_tl_read_object(r, et->tname);
        break;
    default:
        for (int32_t i = 0; i < count && !r->err; i++)
            mtp_tl_read_value(r, et, items + (size_t)i * et->size);
    }
    if (r->err) {
        v->n = 0;
        v->v = NULL;
    }
    return r->err;
}

int mtp_tl_read_value(mtp_tl_reader_t *r, const mtp_tl_type_t *t, void *dst)
{
    switch (t->kind) {
    case MTP_TL_INT: *(int32_t *)dst = mtp_tl_read_int(r); break;
    case MTP_TL_NAT: *(uint32_t *)dst = mtp_tl_read_nat(r); break;
    case MTP_TL_LONG: *(int64_t *)dst = mtp_tl_read_long(r); break;
    case MTP_TL_DOUBLE: *(double *)dst = mtp_tl_read_double(r); break;
    case MTP_TL_INT128: mtp_tl_read_raw(r, dst, 16); break;
    case MTP_TL_INT256: mtp_tl_read_raw(r, dst, 32); break;
    case MTP_TL_STRING:
    case MTP_TL_BYTES: *(mtp_bytes_t *)dst = mtp_tl_read_bytes(r); break;
    case MTP_TL_BOOL: *(bool *)dst = mtp_tl_read_bool(r); break;
    case MTP_TL_TRUE: *(bool *)dst = true; break;
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: mtp_tl_read_vector(r, t, dst); break;
    case MTP_TL_OBJECT: *(mtp_tl_object_t **)dst = mtp_tl_read_object(r, t->tname); break;
    case MTP_TL_QUERY: *(mtp_tl_object_t **)dst = mtp_tl_read_query(r); break;
    case MTP_TL_BARE_OBJECT: *(mtp_tl_object_t **)dst = mtp_tl_read_bare(r, t->bare); break;
    default: mtp_tl_reader_fail(r, MTP_EINVAL);
    }
    return r->err;
}

int mtp_tl_decode_reader(mtp_tl_reader_t *r, mtp_tl_object_t **out)
{
    *out = NULL;
    mtp_tl_object_t *o = read_boxed(r, NULL, 1);
    if (!r->err && r->p != r->end)
        mtp_tl_reader_fail(r, MTP_EBADTL);   /* trailing bytes */
    if (r->err)
        return r->err;
    *out = o;
    return 0;
}

int mtp_tl_decode(const mtp_tl_layer_t *layer, const uint8_t *p, size_t n,
                  mtp_arena_t *arena, mtp_tl_object_t **out)
{
    if (!layer || (!p && n) || !arena || !out)
        return MTP_EINVAL;
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, layer, p, n, arena);
    return mtp_tl_decode_reader(&r, out);
}
