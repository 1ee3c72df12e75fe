/*
 * libmtproto — a boxed Vector<T> as an object, and decoding method results by their
 * declared result type.
 *
 * A method whose result type is Vector<T> (users.getUsers -> Vector<User>, Vector<int>,
 * Vector<long> ...) answers with the bare bytes 0x1cb5c415, count, items: no constructor of
 * any layer. mtp_tl_decode_result() turns those into an mtp_tl_vector_t, whose descriptor
 * mtp_tl_vector_comb lives here, outside every layer's tables (so an id lookup never finds
 * it and bytes alone never decode to it: the item type comes from the method). Its codec
 * functions give the Vector encoding, so mtp_tl_size() / mtp_tl_encode() / an Object field
 * holding one all work without special cases; the printers special-case it (a JSON array,
 * TL text "Vector<T> [...]").
 */
#include <mtproto/tl.h>

/* The Vector<T> type of v with kind BARE_VECTOR (the id is written by the caller). */
static int bare_type(const mtp_tl_vector_t *v, mtp_tl_type_t *bt, mtp_vec_t *items)
{
    const mtp_tl_type_t *t = v->type;
    if (!t || t->kind != MTP_TL_VECTOR || !t->elem || !t->elem->size)
        return MTP_EINVAL;
    *bt = *t;
    bt->kind = MTP_TL_BARE_VECTOR;
    items->n = v->n;
    items->v = v->v.any;
    return 0;
}

static int vec_decode(mtp_tl_reader_t *r, void *obj)
{
    /* only with the type set beforehand: the bytes do not say what the items are */
    mtp_tl_vector_t *v = obj;
    mtp_tl_type_t bt;
    mtp_vec_t items;
    if (bare_type(v, &bt, &items))
        return mtp_tl_reader_fail(r, MTP_ETYPE);
    int rc = mtp_tl_read_vector(r, &bt, &items);
    v->n = rc ? 0 : items.n;
    v->v.any = rc ? NULL : items.v;
    return rc;
}

static int vec_measure(const void *obj, size_t *acc)
{
    mtp_tl_type_t bt;
    mtp_vec_t items;
    int rc = bare_type(obj, &bt, &items);
    return rc ? rc : mtp_tl_size_value(&bt, &items, acc);
}

static uint8_t *vec_encode(const void *obj, uint8_t *out)
{
    mtp_tl_type_t bt;
    mtp_vec_t items;
    if (bare_type(obj, &bt, &items))
        return out;   /* unreachable after a successful measure() */
    return mtp_tl_write_value(&bt, &items, out);
}

static int vec_write(const void *obj, mtp_tl_writer_t *w)
{
    mtp_tl_type_t bt;
    mtp_vec_t items;
    int rc = bare_type(obj, &bt, &items);
    return rc ? rc : mtp_tl_write_value_w(w, &bt, &items);
}

const mtp_tl_comb_t mtp_tl_vector_comb = {
    .id = MTP_TL_ID_VECTOR,
    .size = sizeof(mtp_tl_vector_t),
    .name = "vector",
    .line = "vector#1cb5c415 {t:Type} # [ t ] = Vector t",
    .cname = "vector",
    .decode = vec_decode,
    .measure = vec_measure,
    .encode = vec_encode,
    .write = vec_write,
};

const mtp_tl_vector_t *mtp_tl_as_vector(const mtp_tl_object_t *obj)
{
    return obj && obj->tl == &mtp_tl_vector_comb ? (const mtp_tl_vector_t *)obj : NULL;
}

mtp_tl_vector_t *mtp_tl_vector_new(mtp_arena_t *a, const mtp_tl_type_t *type)
{
    if (!type || type->kind != MTP_TL_VECTOR || !type->elem || !type->elem->size)
        return NULL;
    mtp_tl_vector_t *v = (mtp_tl_vector_t *)mtp_tl_new(a, &mtp_tl_vector_comb);
    if (v)
        v->type = type;
    return v;
}

/* Wrappers (invokeWithLayer, initConnection, invokeAfterMsg ...) have the generic result X:
 * the call they carry in their !X field decides. */
const mtp_tl_type_t *mtp_tl_method_result(const mtp_tl_object_t *method)
{
    for (int depth = 0; method && method->tl && method->tl->is_method && depth < MTP_TL_MAX_DEPTH;
         depth++) {
        const mtp_tl_comb_t *c = method->tl;
        if (c->result)
            return c->result;
        const mtp_tl_object_t *inner = NULL;
        for (uint16_t i = 0; i < c->nparams && !inner; i++)
            if (c->params[i].type && c->params[i].type->kind == MTP_TL_QUERY)
                inner = *(mtp_tl_object_t *const *)mtp_tl_field(method, &c->params[i]);
        method = inner;
    }
    return NULL;
}

int mtp_tl_decode_result_reader(mtp_tl_reader_t *r, const mtp_tl_object_t *method,
                                mtp_tl_object_t **out)
{
    if (!r || !out)
        return MTP_EINVAL;
    *out = NULL;
    const mtp_tl_type_t *t = mtp_tl_method_result(method);
    if (!t || t->kind != MTP_TL_VECTOR)
        return mtp_tl_decode_reader(r, out);   /* a boxed object (Bool: boolTrue/boolFalse) */
    mtp_tl_vector_t *v = mtp_tl_vector_new(r->arena, t);
    if (!v)
        return mtp_tl_reader_fail(r, MTP_ENOMEM);
    mtp_vec_t items;
    mtp_tl_read_vector(r, t, &items);
    if (!r->err && r->p != r->end)
        mtp_tl_reader_fail(r, MTP_EBADTL);   /* trailing bytes */
    if (r->err)
        return r->err;
    v->n = items.n;
    v->v.any = items.v;
    *out = &v->_;
    return 0;
}

int mtp_tl_decode_result(const mtp_tl_layer_t *layer, const mtp_tl_object_t *method,
                         const uint8_t *p, size_t n, mtp_arena_t *arena, mtp_tl_object_t **out)
{
    if (!layer || (!p && n) || !arena || !out)
        return MTP_EINVAL;
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, layer, p, n, arena);
    return mtp_tl_decode_result_reader(&r, method, out);
}
