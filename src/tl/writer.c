/* TL encoder. mtp_tl_encode() makes one pass: the write() codecs validate the object graph
 * and write into a buffer grown on demand, committing nothing on failure. mtp_tl_size() and
 * the measure()/encode() pair (exact size first, then writing) serve the other entry points. */
#include <mtproto/tl.h>

#include <string.h>

#include "tl/tl_gen_rt.h"

#define ID_VECTOR      0x1cb5c415u
#define ID_BOOL_TRUE   0x997275b5u
#define ID_BOOL_FALSE  0xbc799737u

/* Nesting guard for object graphs built by callers (a cycle must not recurse forever). */
static _Thread_local int size_depth;

uint8_t *mtp_tl_write_int(uint8_t *p, int32_t v)
{
    mtp_put_le32(p, (uint32_t)v);
    return p + 4;
}

uint8_t *mtp_tl_write_long(uint8_t *p, int64_t v)
{
    mtp_put_le64(p, (uint64_t)v);
    return p + 8;
}

uint8_t *mtp_tl_write_double(uint8_t *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return mtp_tl_write_long(p, (int64_t)u);
}

size_t mtp_tl_bytes_size(size_t n)
{
    return mtp_tlb_size(n);
}

uint8_t *mtp_tl_write_bytes(uint8_t *p, const uint8_t *s, size_t n)
{
    size_t hdr = mtp_tlb_header(p, n);
    if (n)
        memcpy(p + hdr, s, n);
    size_t total = mtp_tlb_size(n);
    memset(p + hdr + n, 0, total - hdr - n);
    return p + total;
}

static int size_fields(const mtp_tl_object_t *o, size_t *acc)
{
    if (++size_depth > MTP_TL_MAX_DEPTH) {
        size_depth--;
        return MTP_EDEPTH;
    }
    int rc = o->tl->measure(o, acc);
    size_depth--;
    return rc;
}

int mtp_tl_size_value(const mtp_tl_type_t *t, const void *val, size_t *acc)
{
    switch (t->kind) {
    case MTP_TL_INT: case MTP_TL_NAT: case MTP_TL_BOOL: *acc += 4; return 0;
    case MTP_TL_LONG: case MTP_TL_DOUBLE: *acc += 8; return 0;
    case MTP_TL_INT128: *acc += 16; return 0;
    case MTP_TL_INT256: *acc += 32; return 0;
    case MTP_TL_TRUE: return 0;
    case MTP_TL_STRING:
    case MTP_TL_BYTES: {
        const mtp_bytes_t *b = val;
        if (b->len > MTP_TL_MAX_BYTES || (b->len && !b->ptr))
            return MTP_ERANGE;
        *acc += mtp_tl_bytes_size(b->len);
        return 0;
    }
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: {
        const mtp_vec_t *v = val;
        const mtp_tl_type_t *et = t->elem;
        if (v->n > INT32_MAX || (v->n && !v->v))
            return MTP_ERANGE;
        *acc += t->kind == MTP_TL_VECTOR ? 8 : 4;
        switch (et->kind) {
        case MTP_TL_INT: case MTP_TL_NAT: case MTP_TL_BOOL: *acc += 4 * (size_t)v->n; return 0;
        case MTP_TL_LONG: case MTP_TL_DOUBLE: *acc += 8 * (size_t)v->n; return 0;
        case MTP_TL_INT128: *acc += 16 * (size_t)v->n; return 0;
        case MTP_TL_INT256: *acc += 32 * (size_t)v->n; return 0;
        default:
            for (uint32_t i = 0; i < v->n; i++) {
                int rc = mtp_tl_size_value(et, (const uint8_t *)v->v + (size_t)i * et->size, acc);
                if (rc)
                    return rc;
            }
            return 0;
        }
    }
    case MTP_TL_OBJECT:
    case MTP_TL_QUERY:
    case MTP_TL_BARE_OBJECT: {
        const mtp_tl_object_t *o = *(mtp_tl_object_t *const *)val;
        if (!o || !o->tl)
            return MTP_EINVAL;
        if (t->kind == MTP_TL_BARE_OBJECT) {
            if (o->tl != t->bare)
                return MTP_ETYPE;
        } else {
            /* Object (tname NULL) takes any boxed value, method calls included */
            if (t->kind == MTP_TL_QUERY ? !o->tl->is_method
                                        : (t->tname && (o->tl->is_method || o->tl->tname != t->tname)))
                return MTP_ETYPE;
            *acc += 4;
        }
        return size_fields(o, acc);
    }
    default:
        return MTP_EINVAL;
    }
}

uint8_t *mtp_tl_write_value(const mtp_tl_type_t *t, const void *val, uint8_t *p)
{
    switch (t->kind) {
    case MTP_TL_INT: return mtp_tl_write_int(p, *(const int32_t *)val);
    case MTP_TL_NAT: return mtp_tl_write_int(p, (int32_t) * (const uint32_t *)val);
    case MTP_TL_BOOL:
        return mtp_tl_write_int(p, (int32_t)(*(const bool *)val ? ID_BOOL_TRUE : ID_BOOL_FALSE));
    case MTP_TL_LONG: return mtp_tl_write_long(p, *(const int64_t *)val);
    case MTP_TL_DOUBLE: return mtp_tl_write_double(p, *(const double *)val);
    case MTP_TL_INT128: memcpy(p, val, 16); return p + 16;
    case MTP_TL_INT256: memcpy(p, val, 32); return p + 32;
    case MTP_TL_TRUE: return p;
    case MTP_TL_STRING:
    case MTP_TL_BYTES: {
        const mtp_bytes_t *b = val;
        return mtp_tl_write_bytes(p, b->ptr, b->len);
    }
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: {
        const mtp_vec_t *v = val;
        const mtp_tl_type_t *et = t->elem;
        if (t->kind == MTP_TL_VECTOR)
            p = mtp_tl_write_int(p, (int32_t)ID_VECTOR);
        p = mtp_tl_write_int(p, (int32_t)v->n);
        switch (et->kind) {
        case MTP_TL_INT:
            for (uint32_t i = 0; i < v->n; i++)
                p = mtp_tl_write_int(p, ((const int32_t *)v->v)[i]);
            return p;
        case MTP_TL_LONG:
            for (uint32_t i = 0; i < v->n; i++)
                p = mtp_tl_write_long(p, ((const int64_t *)v->v)[i]);
            return p;
        default:
            for (uint32_t i = 0; i < v->n; i++)
                p = mtp_tl_write_value(et, (const uint8_t *)v->v + (size_t)i * et->size, p);
            return p;
        }
    }
    case MTP_TL_OBJECT:
    case MTP_TL_QUERY:
    case MTP_TL_BARE_OBJECT: {
        const mtp_tl_object_t *o = *(mtp_tl_object_t *const *)val;
        if (t->kind != MTP_TL_BARE_OBJECT)
            p = mtp_tl_write_int(p, (int32_t)o->tl->id);
        return o->tl->encode(o, p);
    }
    default:
        return p;
    }
}

int mtp_tl_size(const mtp_tl_object_t *obj, size_t *out)
{
    if (!obj || !obj->tl || !out)
        return MTP_EINVAL;
    size_t acc = 4;
    int rc = size_fields(obj, &acc);
    if (rc)
        return rc;
    *out = acc;
    return 0;
}

int mtp_tl_writer_grow(mtp_tl_writer_t *w, size_t n)
{
    mtp_buf_t *b = w->b;
    if (!b)
        return MTP_EINVAL;   /* a pre-sized output is never short for validated objects */
    size_t used = (size_t)(w->p - (b->data + b->len));
    if (n > SIZE_MAX / 4 - used)
        return MTP_ENOMEM;
    size_t want = used + n, room = b->cap - b->len;
    if (want < 2 * room)
        want = 2 * room;   /* grow geometrically from the current size */
    int rc = mtp_buf_reserve(b, want);
    if (rc)
        return rc;
    w->p = b->data + b->len + used;
    w->lim = (uintptr_t)(b->data + b->cap);
    return 0;
}

int mtp_tl_write_value_w(mtp_tl_writer_t *w, const mtp_tl_type_t *t, const void *val)
{
    size_t n = 0;
    int saved = size_depth;
    size_depth = w->depth;
    int rc = mtp_tl_size_value(t, val, &n);
    size_depth = saved;
    if (rc || (rc = mtp_tl_writer_need(w, n)) != 0)
        return rc;
    w->p = mtp_tl_write_value(t, val, w->p);
    return 0;
}

/* write() of the combinators without generated write codecs: measure, then encode. */
int mtp_tl_write_fields_generic(const void *obj, mtp_tl_writer_t *w)
{
    const mtp_tl_comb_t *c = ((const mtp_tl_object_t *)obj)->tl;
    size_t n = 0;
    int saved = size_depth;
    size_depth = w->depth;
    int rc = c->measure(obj, &n);
    size_depth = saved;
    if (rc || (rc = mtp_tl_writer_need(w, n)) != 0)
        return rc;
    w->p = c->encode(obj, w->p);
    return 0;
}

/* encode() of the combinators with generated write codecs: write() into an output that the
 * caller sized with measure(). */
uint8_t *mtp_tl_encode_fields_via_write(const void *obj, uint8_t *out)
{
    mtp_tl_writer_t w = { out, UINTPTR_MAX, NULL, size_depth };
    if (((const mtp_tl_object_t *)obj)->tl->write(obj, &w) != 0)
        return out;   /* unreachable after a successful measure() */
    return w.p;
}

int mtp_tl_encode(const mtp_tl_object_t *obj, mtp_buf_t *b)
{
    if (!obj || !obj->tl || !b)
        return MTP_EINVAL;
    int rc = mtp_buf_reserve(b, 256);
    if (rc)
        return rc;
    mtp_tl_writer_t w = { b->data + b->len, (uintptr_t)(b->data + b->cap), b, 1 };
    w.p = mtp_tl_write_int(w.p, (int32_t)obj->tl->id);
    if ((rc = obj->tl->write(obj, &w)) != 0)
        return rc;   /* b->len unchanged: nothing is committed */
    b->len = (size_t)(w.p - b->data);
    return 0;
}

int mtp_tl_encode_value(const mtp_tl_type_t *t, const void *val, mtp_buf_t *b)
{
    size_t n = 0;
    int rc = mtp_tl_size_value(t, val, &n);
    if (rc)
        return rc;
    if ((rc = mtp_buf_reserve(b, n)))
        return rc;
    uint8_t *start = b->data + b->len;
    uint8_t *p = mtp_tl_write_value(t, val, start);
    if ((size_t)(p - start) != n)
        return MTP_EINVAL;
    b->len += n;
    return 0;
}
