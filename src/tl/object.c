/* Objects and lookups over the generated descriptor tables. */
#include <mtproto/tl.h>

#include <string.h>

static const mtp_tl_comb_t *find_id_in(const mtp_tl_layer_t *l, uint32_t id)
{
    if (l->id_hash && l->id_hash_bits > 0 && l->id_hash_bits < 32) {
        /* open addressing over by_id indexes, built by the generator (0xffff = empty) */
        uint32_t mask = (1u << l->id_hash_bits) - 1;
        for (uint32_t h = (id * 0x9e3779b1u) >> (32 - l->id_hash_bits), probes = 0; probes <= mask;
             h = (h + 1) & mask, probes++) {
            uint16_t k = l->id_hash[h];
            if (k == 0xffff)
                return NULL;
            if (k < l->ncombs && l->by_id[k]->id == id)
                return l->by_id[k];
        }
        return NULL;
    }
    size_t lo = 0, hi = l->ncombs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t m = l->by_id[mid]->id;
        if (m == id)
            return l->by_id[mid];
        if (m < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const mtp_tl_comb_t *mtp_tl_find_id(const mtp_tl_layer_t *l, uint32_t id)
{
    for (; l; l = l->fallback) {
        const mtp_tl_comb_t *c = find_id_in(l, id);
        if (c)
            return c;
    }
    return NULL;
}

/* strcmp order between a NUL-terminated name and a (ptr,len) key */
static int name_cmp(const char *name, const char *key, size_t len)
{
    /* names never contain NUL: compare as bytes up to len, then by length */
    size_t i = 0;
    while (i < len && name[i] && name[i] == key[i])
        i++;
    if (i < len) {
        unsigned char a = (unsigned char)name[i], b = (unsigned char)key[i];
        return a < b ? -1 : 1;   /* name[i] == 0 sorts first; a key NUL never matches */
    }
    return name[len] ? 1 : 0;
}

const mtp_tl_comb_t *mtp_tl_find_name(const mtp_tl_layer_t *l, const char *name, size_t len)
{
    for (; l && name; l = l->fallback) {
        size_t lo = 0, hi = l->ncombs;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = name_cmp(l->by_name[mid]->name, name, len);
            if (!c)
                return l->by_name[mid];
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return NULL;
}

const mtp_tl_tname_t *mtp_tl_find_type(const mtp_tl_layer_t *l, const char *name, size_t len)
{
    for (; l && name; l = l->fallback) {
        size_t lo = 0, hi = l->ntypes;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = name_cmp(l->types[mid]->name, name, len);
            if (!c)
                return l->types[mid];
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return NULL;
}

mtp_tl_object_t *mtp_tl_new(mtp_arena_t *a, const mtp_tl_comb_t *c)
{
    if (!a || !c)
        return NULL;
    mtp_tl_object_t *o = mtp_arena_alloc(a, c->size);
    if (o)
        o->tl = c;
    return o;
}

void *mtp_tl_field(const mtp_tl_object_t *obj, const mtp_tl_param_t *p)
{
    return (uint8_t *)(uintptr_t)obj + p->offset;
}

bool mtp_tl_field_present(const mtp_tl_object_t *obj, const mtp_tl_param_t *p)
{
    const uint8_t *base = (const uint8_t *)obj;
    if (p->flag_param < 0)
        return true;
    switch (p->type->kind) {
    case MTP_TL_TRUE:
        return *(const bool *)(base + p->offset);
    case MTP_TL_OBJECT:
    case MTP_TL_QUERY:
    case MTP_TL_BARE_OBJECT:
        return *(mtp_tl_object_t *const *)(base + p->offset) != NULL;
    default:
        return p->has_offset != MTP_TL_NO_OFFSET && *(const bool *)(base + p->has_offset);
    }
}
