/*
 * libmtproto — re-express a TL object in another layer, by constructor and field names.
 *
 * The test harness answers each client in the layer it negotiated: an object built against
 * layer 228 is deep-copied into the target layer's structs. Constructors are matched by name
 * (mtp_tl_find_name), fields by name and compatible kind (string and bytes are compatible;
 * vectors when their items are; objects are converted recursively and must fit the target
 * field's type). Fields the target lacks are dropped; fields it adds stay absent (optional)
 * or zero (required). '#' words are recomputed from the target fields present. Bytes and
 * string payloads are shared with the source (not copied); vectors are copied.
 */
#include <mtproto/tl.h>

#include <string.h>


#define CV_MAX_DEPTH (4 * MTP_TL_MAX_DEPTH)

static bool kinds_compatible(const mtp_tl_type_t *a, const mtp_tl_type_t *b)
{
    uint8_t ka = a->kind, kb = b->kind;
    if ((ka == MTP_TL_STRING || ka == MTP_TL_BYTES) && (kb == MTP_TL_STRING || kb == MTP_TL_BYTES))
        return true;
    if (ka != kb)
        return false;
    if (ka == MTP_TL_VECTOR || ka == MTP_TL_BARE_VECTOR) {
        if (!a->elem || !b->elem)
            return false;
        return kinds_compatible(a->elem, b->elem);
    }
    return true;
}

static bool type_fits(const mtp_tl_comb_t *c, const mtp_tl_type_t *t)
{
    switch (t->kind) {
    case MTP_TL_QUERY:
        return c->is_method;
    case MTP_TL_BARE_OBJECT:
        return t->bare == c;
    default:
        return !c->is_method && (!t->tname || c->tname == t->tname);
    }
}

/* The target constructor for a source object stored in a field of target type tt. */
static const mtp_tl_comb_t *target_comb(const mtp_tl_comb_t *sc, const mtp_tl_type_t *tt,
                                        const mtp_tl_layer_t *to)
{
    if (tt->kind == MTP_TL_BARE_OBJECT)
        return tt->bare && strcmp(tt->bare->name, sc->name) == 0 ? tt->bare : NULL;
    const mtp_tl_comb_t *c = mtp_tl_find_name(to, sc->name, strlen(sc->name));
    if (tt->kind == MTP_TL_OBJECT && tt->tname && (!c || c->tname != tt->tname)) {
        /* a namesake may shadow the constructor of the field's type */
        for (uint32_t k = 0; k < tt->tname->ncons; k++)
            if (strcmp(tt->tname->cons[k]->name, sc->name) == 0)
                return tt->tname->cons[k];
    }
    return c;
}

static int cv_object(const mtp_tl_object_t *src, const mtp_tl_comb_t *tc,
                     const mtp_tl_layer_t *to, mtp_arena_t *a, mtp_tl_object_t **out, int depth);

/* Convert one value of source type st at sv into target type tt at tv (zeroed). */
static int cv_value(const mtp_tl_type_t *st, const void *sv, const mtp_tl_type_t *tt, void *tv,
                    const mtp_tl_layer_t *to, mtp_arena_t *a, int depth)
{
    if (depth > CV_MAX_DEPTH)
        return MTP_EDEPTH;
    switch (tt->kind) {
    case MTP_TL_INT:
    case MTP_TL_LONG:
    case MTP_TL_DOUBLE:
    case MTP_TL_INT128:
    case MTP_TL_INT256:
    case MTP_TL_BOOL:
    case MTP_TL_TRUE:
    case MTP_TL_NAT:
    case MTP_TL_STRING:
    case MTP_TL_BYTES:
        /* same representation on both sides (bytes slices are shared) */
        memcpy(tv, sv, tt->size < st->size ? tt->size : st->size);
        return 0;
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: {
        const mtp_vec_t *s = (const mtp_vec_t *)sv;
        mtp_vec_t *d = (mtp_vec_t *)tv;
        const mtp_tl_type_t *se = st->elem, *te = tt->elem;
        if (!se || !te || (s->n && !s->v))
            return MTP_EINVAL;
        d->n = s->n;
        d->v = NULL;
        if (!s->n)
            return 0;
        if ((size_t)s->n > SIZE_MAX / te->size)
            return MTP_ENOMEM;
        uint8_t *items = mtp_arena_alloc(a, (size_t)s->n * te->size);
        if (!items)
            return MTP_ENOMEM;
        const uint8_t *si = (const uint8_t *)s->v;
        for (uint32_t i = 0; i < s->n; i++) {
            int rc = cv_value(se, si + (size_t)i * se->size, te, items + (size_t)i * te->size,
                              to, a, depth + 1);
            if (rc)
                return rc;
        }
        d->v = items;
        return 0;
    }
    case MTP_TL_OBJECT:
    case MTP_TL_BARE_OBJECT:
    case MTP_TL_QUERY: {
        const mtp_tl_object_t *so = *(const mtp_tl_object_t *const *)sv;
        mtp_tl_object_t *to_obj = NULL;
        if (so) {
            if (!so->tl || !so->tl->name)
                return MTP_EINVAL;
            const mtp_tl_comb_t *tc = target_comb(so->tl, tt, to);
            if (!tc)
                return tt->kind == MTP_TL_BARE_OBJECT ? MTP_ETYPE : MTP_ENOTFOUND;
            int rc = cv_object(so, tc, to, a, &to_obj, depth + 1);
            if (rc)
                return rc;
            if (!type_fits(to_obj->tl, tt))
                return MTP_ETYPE;
        }
        *(mtp_tl_object_t **)tv = to_obj;
        return 0;
    }
    default:
        return MTP_EINVAL;
    }
}

static int cv_object(const mtp_tl_object_t *src, const mtp_tl_comb_t *tc,
                     const mtp_tl_layer_t *to, mtp_arena_t *a, mtp_tl_object_t **out, int depth)
{
    if (depth > CV_MAX_DEPTH)
        return MTP_EDEPTH;
    const mtp_tl_comb_t *sc = src->tl;
    if (!sc || !sc->name)
        return MTP_EINVAL;
    if (!tc)
        tc = mtp_tl_find_name(to, sc->name, strlen(sc->name));
    if (!tc)
        return MTP_ENOTFOUND;
    mtp_tl_object_t *dst = mtp_tl_new(a, tc);
    if (!dst)
        return MTP_ENOMEM;
    const uint8_t *sb = (const uint8_t *)src;
    uint8_t *db = (uint8_t *)dst;
    for (uint16_t i = 0; i < tc->nparams; i++) {
        const mtp_tl_param_t *tp = &tc->params[i];
        if (tp->type->kind == MTP_TL_NAT)
            continue; /* recomputed below */
        const mtp_tl_param_t *sp = NULL;
        for (uint16_t k = 0; k < sc->nparams; k++)
            if (strcmp(sc->params[k].name, tp->name) == 0) {
                sp = &sc->params[k];
                break;
            }
        if (!sp || sp->type->kind == MTP_TL_NAT || !kinds_compatible(sp->type, tp->type))
            continue;
        if (!mtp_tl_field_present(src, sp))
            continue;
        int rc = cv_value(sp->type, sb + sp->offset, tp->type, db + tp->offset, to, a, depth);
        if (rc)
            return rc;
        if (tp->flag_param >= 0 && tp->has_offset != MTP_TL_NO_OFFSET &&
            tp->type->kind != MTP_TL_TRUE)
            *(bool *)(db + tp->has_offset) = true;
    }
    /* '#' words: exactly the bits of the target fields present */
    for (uint16_t i = 0; i < tc->nparams; i++) {
        const mtp_tl_param_t *f = &tc->params[i];
        if (f->flag_param < 0 || f->flag_bit < 0 || f->flag_bit > 31 ||
            f->flag_param >= (int)tc->nparams)
            continue;
        if (mtp_tl_field_present(dst, f))
            *(uint32_t *)(db + tc->params[f->flag_param].offset) |= 1u << f->flag_bit;
    }
    *out = dst;
    return 0;
}

int mtp_tl_convert(const mtp_tl_object_t *obj, const mtp_tl_layer_t *to, mtp_arena_t *a,
                   mtp_tl_object_t **out)
{
    if (!obj || !to || !a || !out)
        return MTP_EINVAL;
    *out = NULL;
    /* the service schema's bare "message" is only reachable by itself */
    const mtp_tl_comb_t *tc = NULL;
    if (obj->tl && obj->tl->layer && obj->tl->layer->layer == 0) {
        const mtp_tl_layer_t *l = to;
        while (l && l->layer != 0)
            l = l->fallback;
        if (l == obj->tl->layer)
            tc = obj->tl;
    }
    return cv_object(obj, tc, to, a, out, 0);
}
