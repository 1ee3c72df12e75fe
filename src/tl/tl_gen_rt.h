/*
 * libmtproto — helpers for the generated codecs (build/gen/tl_*.c). Internal.
 *
 * The service schema and the constructors of the public layer get generated straight-line
 * codecs per combinator:
 *   dec_<c>   the fields, with the inline readers below; objects from the generated dispatch
 *             come from the arena unzeroed, so dec_ writes every member (clearing the struct
 *             first when it has optional fields).
 *   rd_<T>    a boxed value of type T: a switch over T's constructor ids calling their dec_
 *             directly; anything it does not handle itself (errors, gzip_packed, the depth
 *             limit, ids the runtime lookup would resolve differently) goes to
 *             mtp_tl_read_object(), so errors and their offsets are exactly the runtime's.
 *   size_<c>  the exact encoded size (mtp_tl_size()).
 *   wr_<c>    single pass for mtp_tl_encode(): validates like size_<c> and writes into a
 *             buffer grown on demand; encode() is wr_ into an output sized by measure().
 * Methods and the other layers (kept for talking to older peers) use the descriptor-driven
 * mtp_gen_decode_fields / mtp_gen_size_fields / mtp_gen_encode_fields below and
 * mtp_tl_write_fields_generic: same wire behaviour, a fraction of the code and compile time.
 * Building with -DMTP_TL_COMPACT_CODECS makes every combinator use the descriptor-driven ones.
 */
#ifndef MTP_TL_GEN_RT_H
#define MTP_TL_GEN_RT_H

#include <mtproto/tl.h>

#include <string.h>

#include "tl/tl_arena.h"
#include "util/util.h"

#define MTP_GEN_ID_BOOL_TRUE  0x997275b5u
#define MTP_GEN_ID_BOOL_FALSE 0xbc799737u
#define MTP_GEN_ID_VECTOR     0x1cb5c415u

/* The fast paths below only pay off inlined into the generated codecs (constant sizes and
 * direct calls), which compilers do not always decide on their own in very large files. */
#if defined(__GNUC__) || defined(__clang__)
#define MTP_GEN_INLINE static inline __attribute__((always_inline))
/* ... and the generated rd_<T> readers are kept out of their callers: inlining them into
 * every dec_ multiplies the code (and the compile time, with clang nearly threefold). */
#define MTP_GEN_NOINLINE __attribute__((noinline))
#else
#define MTP_GEN_INLINE static inline
#define MTP_GEN_NOINLINE
#endif

/* writer.c: write() for combinators without a generated one (measure, then encode), and
 * encode() for those with one (write() into an output sized by measure()). */
int mtp_tl_write_fields_generic(const void *obj, mtp_tl_writer_t *w);
uint8_t *mtp_tl_encode_fields_via_write(const void *obj, uint8_t *out);
/* reader.c: memcpy / memset kept out of line, so that compilers call the C library's
 * vectorised versions instead of expanding them inline into slow "rep" string instructions
 * (which they do for sizes known to be bounded, or large constant sizes). */
void mtp_tl_copy_mem(void *d, const void *s, size_t n);
void mtp_tl_zero_mem(void *p, size_t n);

static inline uint32_t mtp_gen_ld32(const uint8_t *p)
{
    return mtp_get_le32(p);
}

static inline bool mtp_gen_rd_bool(mtp_tl_reader_t *r)
{
    if (!r->err && r->end - r->p >= 4) {
        uint32_t v = mtp_gen_ld32(r->p);
        if (v == MTP_GEN_ID_BOOL_TRUE) {
            r->p += 4;
            return true;
        }
        if (v == MTP_GEN_ID_BOOL_FALSE) {
            r->p += 4;
            return false;
        }
    }
    return mtp_tl_read_bool(r);   /* errors (truncation, a wrong id) are reported here */
}

/*
 * Decoding fast paths. Each handles the common, valid case inline and otherwise defers to the
 * runtime function that does the same job, before consuming anything, so errors, their
 * offsets and ids, gzip_packed and the depth limit are exactly the runtime's.
 */

/* Clear n bytes (a constant): small sizes inline, large ones through the C library. */
MTP_GEN_INLINE void mtp_gen_zero(void *p, size_t n)
{
    if (n <= 128)
        memset(p, 0, n);
    else
        mtp_tl_zero_mem(p, n);
}

/* The fields of combinator c into a fresh object of size bytes (the id, if any, was read).
 * The memory is not zeroed: the generated dec_ functions write every member (those with
 * optional fields clear the struct first). */
MTP_GEN_INLINE mtp_tl_object_t *mtp_gen_new_fields(mtp_tl_reader_t *r, const mtp_tl_comb_t *c,
                                                  size_t size, int (*dec)(mtp_tl_reader_t *, void *))
{
    r->depth++;
    mtp_tl_object_t *o = mtp_arena_bump(r->arena, size, 8);
    if (!o) {
        mtp_tl_reader_fail(r, MTP_ENOMEM);
        return NULL;
    }
    o->tl = c;
    dec(r, o);
    r->depth--;
    return r->err ? NULL : o;
}

/* int / # / long / double (mtp_tl_read_nat() and friends, always inlined). */
MTP_GEN_INLINE uint32_t mtp_gen_rd32(mtp_tl_reader_t *r)
{
    if (r->end - r->p < 4) {
        mtp_tl_reader_fail(r, MTP_ETRUNC);
        return 0;
    }
    uint32_t v = mtp_gen_ld32(r->p);
    r->p += 4;
    return v;
}

MTP_GEN_INLINE uint64_t mtp_gen_rd64(mtp_tl_reader_t *r)
{
    if (r->end - r->p < 8) {
        mtp_tl_reader_fail(r, MTP_ETRUNC);
        return 0;
    }
    uint64_t v = (uint64_t)mtp_gen_ld32(r->p) | (uint64_t)mtp_gen_ld32(r->p + 4) << 32;
    r->p += 8;
    return v;
}

MTP_GEN_INLINE double mtp_gen_rd_double(mtp_tl_reader_t *r)
{
    uint64_t v = mtp_gen_rd64(r);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* May a boxed object be read by a generated dispatch (else: the runtime reads it)? */
MTP_GEN_INLINE bool mtp_gen_can_box(const mtp_tl_reader_t *r)
{
    return !r->err && r->end - r->p >= 4 && r->depth < r->max_depth && r->arena;
}

/* A boxed object whose id at r->p selected constructor c. */
MTP_GEN_INLINE mtp_tl_object_t *mtp_gen_box(mtp_tl_reader_t *r, const mtp_tl_comb_t *c, size_t size,
                                           int (*dec)(mtp_tl_reader_t *, void *))
{
    r->p += 4;
    return mtp_gen_new_fields(r, c, size, dec);
}

/* A bare object of constructor c (mtp_tl_read_bare()). */
MTP_GEN_INLINE mtp_tl_object_t *mtp_gen_bare(mtp_tl_reader_t *r, const mtp_tl_comb_t *c, size_t size,
                                            int (*dec)(mtp_tl_reader_t *, void *))
{
    if (!r->err && r->depth < r->max_depth && r->arena)
        return mtp_gen_new_fields(r, c, size, dec);
    return mtp_tl_read_bare(r, c);
}

/* gen_rt.c: string / bytes (mtp_tl_read_bytes() with short canonical values done first),
 * and Vector<T> / vector<T> of boxed objects read by rd (mtp_tl_read_vector()). Out of line:
 * inlined at every field they cost more compile time than they save. */
mtp_bytes_t mtp_gen_rd_bytes(mtp_tl_reader_t *r);
int mtp_gen_rd_vec_obj(mtp_tl_reader_t *r, const mtp_tl_type_t *vt, void *dst,
                       mtp_tl_object_t *(*rd)(mtp_tl_reader_t *));

static inline uint8_t *mtp_gen_w32(uint8_t *p, uint32_t v)
{
    mtp_put_le32(p, v);
    return p + 4;
}

static inline uint8_t *mtp_gen_w64(uint8_t *p, uint64_t v)
{
    mtp_put_le64(p, v);
    return p + 8;
}

static inline uint8_t *mtp_gen_wdouble(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return mtp_gen_w64(p, v);
}

static inline uint8_t *mtp_gen_wraw(uint8_t *p, const uint8_t *v, size_t n)
{
    memcpy(p, v, n);
    return p + n;
}

static inline uint8_t *mtp_gen_wbool(uint8_t *p, bool v)
{
    return mtp_gen_w32(p, v ? MTP_GEN_ID_BOOL_TRUE : MTP_GEN_ID_BOOL_FALSE);
}

static inline uint8_t *mtp_gen_wbytes(uint8_t *p, const mtp_bytes_t *b)
{
    return mtp_tl_write_bytes(p, b->ptr, b->len);
}

/* Adds the encoded size of a string/bytes field: MTP_ERANGE if too long, MTP_EINVAL for
 * a NULL pointer with a non-zero length. */
static inline int mtp_gen_size_bytes(const mtp_bytes_t *b, size_t *n)
{
    if (b->len > MTP_TL_MAX_BYTES)
        return MTP_ERANGE;
    if (b->len && !b->ptr)
        return MTP_EINVAL;
    *n += ((b->len <= 253 ? 1 : 4) + b->len + 3) & ~(size_t)3;
    return 0;
}

/* Adds the encoded size of an object field (the runtime checks its type and the nesting
 * depth); MTP_EINVAL if the pointer is NULL. */
static inline int mtp_gen_size_obj(const mtp_tl_type_t *t, mtp_tl_object_t *const *x, size_t *n)
{
    if (!*x)
        return MTP_EINVAL;
    return mtp_tl_size_value(t, x, n);
}

/* Adds the encoded size of a vector field. */
static inline int mtp_gen_size_vec(const mtp_tl_type_t *t, const void *v, size_t *n)
{
    return mtp_tl_size_value(t, v, n);
}

/* ---- single-pass write helpers (gen_rt.c; validation as in mtp_tl_size_value()) ---- */

/* A string/bytes field: MTP_ERANGE if too long, MTP_EINVAL for a NULL pointer with a length. */
int mtp_gen_wr_bytes(mtp_tl_writer_t *w, const mtp_bytes_t *b);
/* A boxed object of type tn (NULL: Object, any boxed value). */
int mtp_gen_wr_obj(mtp_tl_writer_t *w, const mtp_tl_object_t *x, const mtp_tl_tname_t *tn);
/* !X: a method call. */
int mtp_gen_wr_query(mtp_tl_writer_t *w, const mtp_tl_object_t *x);
/* A bare object of constructor c. */
int mtp_gen_wr_bare(mtp_tl_writer_t *w, const mtp_tl_object_t *x, const mtp_tl_comb_t *c);
/* Vectors (boxed: with the Vector id) of boxed objects, strings, ints, longs. */
int mtp_gen_wr_vec_obj(mtp_tl_writer_t *w, const void *v, bool boxed, const mtp_tl_tname_t *tn);
int mtp_gen_wr_vec_bytes(mtp_tl_writer_t *w, const void *v, bool boxed);
int mtp_gen_wr_vec_int(mtp_tl_writer_t *w, const void *v, bool boxed);
int mtp_gen_wr_vec_long(mtp_tl_writer_t *w, const void *v, bool boxed);

/* ---- descriptor-driven codecs (layers without generated code) ---- */

/* decode(): the fields of obj (zeroed, header set) from r. */
static inline int mtp_gen_decode_fields(mtp_tl_reader_t *r, void *obj)
{
    const mtp_tl_comb_t *c = ((const mtp_tl_object_t *)obj)->tl;
    uint8_t *base = obj;
    for (uint32_t i = 0; i < c->nparams && !r->err; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        if (p->flag_param >= 0) {
            uint32_t w = *(const uint32_t *)(base + c->params[p->flag_param].offset);
            if (!((w >> p->flag_bit) & 1u))
                continue;
            if (p->has_offset != MTP_TL_NO_OFFSET)
                *(bool *)(base + p->has_offset) = true;
        }
        mtp_tl_read_value(r, p->type, base + p->offset);
    }
    return r->err;
}

#define MTP_GEN_MAX_WORDS 8   /* '#' words one combinator may have (the generator checks) */

typedef struct mtp_gen_words {
    int n;
    int8_t param[MTP_GEN_MAX_WORDS];
    uint32_t mask[MTP_GEN_MAX_WORDS];   /* bits used by fields */
    uint32_t bits[MTP_GEN_MAX_WORDS];   /* bits of present fields */
} mtp_gen_words_t;

/* Is the conditional field p present in the object at base? */
static inline bool mtp_gen_present(const uint8_t *base, const mtp_tl_param_t *p)
{
    if (p->type->kind == MTP_TL_TRUE)
        return *(const bool *)(base + p->offset);
    if (p->has_offset != MTP_TL_NO_OFFSET)
        return *(const bool *)(base + p->has_offset);
    return *(mtp_tl_object_t *const *)(base + p->offset) != NULL;
}

static inline int mtp_gen_word_slot(const mtp_gen_words_t *w, int param)
{
    for (int i = 0; i < w->n; i++)
        if (w->param[i] == param)
            return i;
    return -1;
}

/* Collect, for every '#' word, the bits its fields use and the bits of present fields. */
static inline int mtp_gen_collect(const mtp_tl_comb_t *c, const uint8_t *base, mtp_gen_words_t *w)
{
    w->n = 0;
    for (uint32_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        if (p->flag_param < 0)
            continue;
        int s = mtp_gen_word_slot(w, p->flag_param);
        if (s < 0) {
            if (w->n == MTP_GEN_MAX_WORDS)
                return MTP_EINVAL;
            s = w->n++;
            w->param[s] = p->flag_param;
            w->mask[s] = w->bits[s] = 0;
        }
        uint32_t bit = 1u << p->flag_bit;
        w->mask[s] |= bit;
        if (mtp_gen_present(base, p))
            w->bits[s] |= bit;
    }
    return 0;
}

/* The value of '#' param i as encoded: unused bits as stored, used bits from the fields. */
static inline uint32_t mtp_gen_word(const mtp_gen_words_t *w, const uint8_t *base,
                                    const mtp_tl_param_t *params, int i)
{
    uint32_t v = *(const uint32_t *)(base + params[i].offset);
    int s = mtp_gen_word_slot(w, i);
    return s < 0 ? v : ((v & ~w->mask[s]) | w->bits[s]);
}

/* Is conditional param p written (its bit set in the encoded word)? */
static inline bool mtp_gen_cond(const mtp_gen_words_t *w, const mtp_tl_param_t *p)
{
    int s = mtp_gen_word_slot(w, p->flag_param);
    return s >= 0 && (w->bits[s] >> p->flag_bit) & 1u;
}

/*
 * size(): the field bytes of obj. A flag bit is set when any field using it is present; when
 * it is set, every non-true field using it must be present, or this fails with MTP_EINVAL
 * (a shared bit cannot say "this one yes, that one no"). Required objects must be non-NULL.
 */
static inline int mtp_gen_size_fields(const void *obj, size_t *acc)
{
    const mtp_tl_comb_t *c = ((const mtp_tl_object_t *)obj)->tl;
    const uint8_t *base = obj;
    mtp_gen_words_t w;
    int rc = mtp_gen_collect(c, base, &w);
    if (rc)
        return rc;
    size_t n = 0;
    for (uint32_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        if (p->flag_param >= 0) {
            if (p->type->kind == MTP_TL_TRUE || !mtp_gen_cond(&w, p))
                continue;
            if (!mtp_gen_present(base, p))
                return MTP_EINVAL;
        }
        if ((rc = mtp_tl_size_value(p->type, base + p->offset, &n)) != 0)
            return rc;
    }
    *acc += n;
    return 0;
}

/* encode(): the field bytes of obj, after mtp_gen_size_fields() succeeded. */
static inline uint8_t *mtp_gen_encode_fields(const void *obj, uint8_t *out)
{
    const mtp_tl_comb_t *c = ((const mtp_tl_object_t *)obj)->tl;
    const uint8_t *base = obj;
    mtp_gen_words_t w;
    if (mtp_gen_collect(c, base, &w) != 0)
        return out;   /* unreachable: size() failed the same way */
    for (uint32_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        switch (p->type->kind) {
        case MTP_TL_NAT:
            out = mtp_gen_w32(out, mtp_gen_word(&w, base, c->params, (int)i));
            continue;
        case MTP_TL_TRUE:
            continue;
        default:
            break;
        }
        if (p->flag_param >= 0 && !mtp_gen_cond(&w, p))
            continue;
        switch (p->type->kind) {
        case MTP_TL_INT:
            out = mtp_gen_w32(out, *(const uint32_t *)(base + p->offset));
            break;
        case MTP_TL_LONG:
            out = mtp_gen_w64(out, *(const uint64_t *)(base + p->offset));
            break;
        case MTP_TL_STRING:
        case MTP_TL_BYTES:
            out = mtp_gen_wbytes(out, (const mtp_bytes_t *)(base + p->offset));
            break;
        default:
            out = mtp_tl_write_value(p->type, base + p->offset, out);
            break;
        }
    }
    return out;
}

#endif
