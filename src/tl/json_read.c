/*
 * libmtproto — the strict TL JSON reader: JSON (json_lex.c) into TL objects and values,
 * checked against the generated descriptors (see json_write.c for the canonical form).
 */
#include "tl/json_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int parse_value(jp_t *j, const mtp_tl_type_t *t, void *dst, const jctx_t *cx);

static bool tname_ok(const mtp_tl_comb_t *c, const mtp_tl_tname_t *want)
{
    return !want || c->tname == want;   /* as the reader and the writer check it */
}

static const char *type_label(const mtp_tl_type_t *t)
{
    if (t->kind == MTP_TL_QUERY)
        return "a method call";
    if (t->kind == MTP_TL_BARE_OBJECT && t->bare)
        return t->bare->name;
    if (t->tname && t->tname->name)
        return t->tname->name;
    return t->text ? t->text : "Object";
}

/* Pass 1 over an object (j->p just past its '{'): find "_" (normally the first member;
 * pass 2 checks the syntax of the rest). *name stays NULL when there is none. */
static int find_type_name(jp_t *j, const jctx_t *cx, const char **name, size_t *namelen)
{
    skip_ws(j);
    if (j->p >= j->end || *j->p == '}')
        return 0;
    for (;;) {
        skip_ws(j);
        const char *r;
        size_t rl;
        bool pl;
        if (mtp_json_scan_string(j, &r, &rl, &pl))
            return j->rc;
        bool is_type = (rl == 1 && r[0] == '_') ||
                       (!pl && rl == 6 && (memcmp(r, "\\u005f", 6) == 0 ||
                                           memcmp(r, "\\u005F", 6) == 0));
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return mtp_json_syntax(j, "expected ':'");
        j->p++;
        skip_ws(j);
        if (is_type) {
            if (j->p >= j->end || *j->p != '"') {
                char b[32];
                return mtp_json_fail(j, cx, MTP_EJSON, "\"_\" must be a string, got %s",
                                     mtp_json_describe(j, b, sizeof b));
            }
            if (mtp_json_scan_string(j, &r, &rl, &pl))
                return j->rc;
            if (pl) {
                *name = r;
                *namelen = rl;
            } else {
                uint8_t *nb = mtp_arena_alloc(j->arena, rl + 1);
                if (!nb)
                    return mtp_json_fail(j, cx, MTP_ENOMEM, "out of memory");
                *namelen = mtp_json_decode_string(r, rl, nb);
                *name = (const char *)nb;
            }
            return 0;
        }
        if (mtp_json_skip_value(j))
            return j->rc;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}')
            return 0;
        return mtp_json_syntax(j, "expected ',' or '}'");
    }
}

/* Whether constructor c may stand where type t is expected (t not a described bare type). */
static bool comb_fits(const mtp_tl_comb_t *c, const mtp_tl_type_t *t)
{
    if (t->kind == MTP_TL_QUERY)
        return c->is_method;
    if (t->kind == MTP_TL_BARE_OBJECT)
        return false;   /* BARE_OBJECT without a descriptor */
    if (!t->tname)
        return true;   /* Object: any boxed value, method calls too (as the reader rules) */
    return !c->is_method && tname_ok(c, t->tname);
}

/* The constructor of an object named name (NULL: no "_"), expected as t (NULL: any). */
static int resolve_comb(jp_t *j, const mtp_tl_type_t *t, const jctx_t *cx, const char *name,
                        size_t namelen, const char *obj_start, const mtp_tl_comb_t **out)
{
    const mtp_tl_comb_t *c;
    if (!name) {
        if (t && t->kind == MTP_TL_BARE_OBJECT && t->bare) {
            *out = t->bare;
            return 0;
        }
        j->p = obj_start;
        return mtp_json_fail(j, cx, MTP_EJSON, "object without \"_\" (the constructor name)");
    }
    if (t && t->kind == MTP_TL_BARE_OBJECT && t->bare) {
        /* a bare constructor is known from the field; its name may also name a boxed
         * constructor of the layer (service "message" vs API "message") */
        c = t->bare;
        if (strlen(c->name) != namelen || memcmp(c->name, name, namelen) != 0)
            return mtp_json_fail(j, cx, MTP_EJSON, "expected %s, got '%.*s'", c->name,
                                 (int)(namelen > 200 ? 200 : namelen), name);
        *out = c;
        return 0;
    }
    /* (a NUL cannot be part of a name; mtp_tl_find_name compares with strncmp) */
    c = memchr(name, 0, namelen) ? NULL : mtp_tl_find_name(j->layer, name, namelen);
    if (t && t->kind == MTP_TL_OBJECT && t->tname && (!c || c->tname != t->tname)) {
        /* the name may belong to a constructor of the expected type that a namesake
         * shadows in the layer (the service Message's bare "message") */
        for (uint32_t k = 0; k < t->tname->ncons; k++) {
            const mtp_tl_comb_t *x = t->tname->cons[k];
            if (strlen(x->name) == namelen && memcmp(x->name, name, namelen) == 0) {
                c = x;
                break;
            }
        }
    }
    if (!c) {
        j->p = obj_start;
        return mtp_json_fail(j, cx, MTP_EJSON, "unknown constructor '%.*s'",
                             (int)(namelen > 200 ? 200 : namelen), name);
    }
    if (t && !comb_fits(c, t))
        return mtp_json_fail(j, cx, MTP_EJSON, "expected %s, got '%s'", type_label(t), c->name);
    *out = c;
    return 0;
}

/* One member "key": value of an object of constructor c (j->p at the key). */
static int parse_member(jp_t *j, const mtp_tl_comb_t *c, uint8_t *base, uint64_t seen[4],
                        int *nunder, const jctx_t *cx)
{
    const char *r;
    size_t rl;
    bool pl;
    if (mtp_json_scan_string(j, &r, &rl, &pl))
        return j->rc;
    char keybuf[128];
    const char *key = r;
    size_t keylen = rl;
    if (!pl) {
        if (rl < sizeof keybuf) {
            keylen = mtp_json_decode_string(r, rl, (uint8_t *)keybuf);
            key = keybuf;
        } else {
            keylen = 0;
            key = "";
        }
    }
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':')
        return mtp_json_syntax(j, "expected ':'");
    j->p++;
    skip_ws(j);
    if (keylen == 1 && key[0] == '_') {
        if ((*nunder)++)
            return mtp_json_fail(j, cx, MTP_EJSON, "duplicate \"_\" in object");
        return mtp_json_skip_value(j) ? j->rc : 0;
    }
    int idx = -1;
    for (uint16_t i = 0; i < c->nparams; i++) {
        const char *pn = c->params[i].name;
        if (pn[0] == key[0] && strlen(pn) == keylen && memcmp(pn, key, keylen) == 0) {
            idx = i;
            break;
        }
    }
    if (idx < 0)
        return mtp_json_fail(j, cx, MTP_EJSON, "unknown field '%.*s' in '%s'",
                             (int)(keylen > 100 ? 100 : keylen), key, c->name);
    if (seen[idx >> 6] & (1ull << (idx & 63)))
        return mtp_json_fail(j, cx, MTP_EJSON, "duplicate field '%s' in '%s'",
                             c->params[idx].name, c->name);
    seen[idx >> 6] |= 1ull << (idx & 63);
    const mtp_tl_param_t *p = &c->params[idx];
    jctx_t fcx = {c->name, p->name};
    skip_ws(j);
    bool optional = p->flag_param >= 0;
    uint8_t k = p->type->kind;
    if (optional && k != MTP_TL_TRUE && lit(j, "null", 4))
        return 0;   /* explicit null: absent */
    if (parse_value(j, p->type, base + p->offset, &fcx))
        return j->rc;
    if (optional && k != MTP_TL_TRUE && k != MTP_TL_OBJECT && k != MTP_TL_BARE_OBJECT &&
        k != MTP_TL_QUERY && p->has_offset != MTP_TL_NO_OFFSET)
        *(bool *)(base + p->has_offset) = true;
    return 0;
}

/* Pass 2: every member (j->p just past the '{'), then past the '}'. */
static int parse_members(jp_t *j, const mtp_tl_comb_t *c, uint8_t *base, uint64_t seen[4],
                         const jctx_t *cx)
{
    int nunder = 0;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        skip_ws(j);
        if (parse_member(j, c, base, seen, &nunder, cx))
            return j->rc;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return 0;
        }
        return mtp_json_syntax(j, "expected ',' or '}'");
    }
}

/* A given '#' word params[i]: the bits fields use must be the ones the present fields
 * imply (a shared bit is set when any field using it is present); other bits are kept as
 * given. */
static int check_nat_word(jp_t *j, const mtp_tl_comb_t *c, const mtp_tl_object_t *obj,
                          uint16_t i, const jctx_t *cx)
{
    const mtp_tl_param_t *p = &c->params[i];
    uint32_t v = *(const uint32_t *)((const uint8_t *)obj + p->offset);
    uint32_t used = 0, set = 0;
    for (uint16_t q = 0; q < c->nparams; q++) {
        const mtp_tl_param_t *f = &c->params[q];
        if (f->flag_param != (int)i || f->flag_bit < 0 || f->flag_bit > 31)
            continue;
        used |= 1u << f->flag_bit;
        if (mtp_tl_field_present(obj, f))
            set |= 1u << f->flag_bit;
    }
    uint32_t diff = (v ^ set) & used;
    if (!diff)
        return 0;
    int bit = 0;
    while (!((diff >> bit) & 1))
        bit++;
    bool want_set = (v >> bit) & 1;
    const char *fname = "?";
    for (uint16_t q = 0; q < c->nparams; q++) {
        const mtp_tl_param_t *f = &c->params[q];
        if (f->flag_param == (int)i && f->flag_bit == bit &&
            (want_set || mtp_tl_field_present(obj, f))) {
            fname = f->name;
            break;
        }
    }
    return mtp_json_fail(j, cx, MTP_EJSON,
                         "field '%s' of '%s' disagrees with the fields present: "
                         "bit %d is %s but '%s' is %s",
                         p->name, c->name, bit, want_set ? "set" : "clear", fname,
                         want_set ? "absent" : "present");
}

/* After the members: required fields given, '#' words consistent, fields sharing a bit all
 * present or all absent. */
static int check_fields(jp_t *j, const mtp_tl_comb_t *c, const mtp_tl_object_t *obj,
                        const uint64_t seen[4], const jctx_t *cx)
{
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        bool given = (seen[i >> 6] >> (i & 63)) & 1;
        if (p->type->kind == MTP_TL_NAT) {
            if (given && check_nat_word(j, c, obj, i, cx))
                return j->rc;
            continue;
        }
        if (p->flag_param < 0 && !given)
            return mtp_json_fail(j, cx, MTP_EJSON, "missing field '%s' of '%s'", p->name,
                                 c->name);
        /* fields sharing a bit: when one is present, every non-true one must be (the bit
         * says all of them are on the wire) */
        if (p->flag_param >= 0 && p->type->kind != MTP_TL_TRUE && !mtp_tl_field_present(obj, p)) {
            for (uint16_t q = 0; q < c->nparams; q++) {
                const mtp_tl_param_t *f = &c->params[q];
                if (q != i && f->flag_param == p->flag_param && f->flag_bit == p->flag_bit &&
                    mtp_tl_field_present(obj, f))
                    return mtp_json_fail(j, cx, MTP_EJSON,
                                         "missing field '%s' of '%s': it shares %s.%d with '%s'",
                                         p->name, c->name, c->params[p->flag_param].name,
                                         p->flag_bit, f->name);
            }
        }
    }
    return 0;
}

/*
 * Parse a JSON object into a new TL object. t is the expected type (OBJECT, BARE_OBJECT,
 * QUERY) or NULL at the top level (any constructor or method).
 */
static int parse_object(jp_t *j, const mtp_tl_type_t *t, mtp_tl_object_t **out, const jctx_t *cx)
{
    skip_ws(j);
    if (j->p >= j->end || *j->p != '{') {
        char b[32];
        return mtp_json_fail(j, cx, MTP_EJSON, "expected %s object, got %s",
                             t ? type_label(t) : "a TL", mtp_json_describe(j, b, sizeof b));
    }
    if (++j->odepth > MTP_TL_MAX_DEPTH || ++j->depth > JP_MAX_NEST)
        return mtp_json_fail(j, cx, MTP_EJSON, "nesting deeper than %d objects at offset %zu",
                             MTP_TL_MAX_DEPTH, (size_t)(j->p - j->s));
    const char *obj_start = j->p;

    const char *name = NULL;
    size_t namelen = 0;
    j->p++;
    if (find_type_name(j, cx, &name, &namelen))
        return j->rc;
    const mtp_tl_comb_t *c = NULL;
    if (resolve_comb(j, t, cx, name, namelen, obj_start, &c))
        return j->rc;

    mtp_tl_object_t *obj = mtp_tl_new(j->arena, c);
    if (!obj)
        return mtp_json_fail(j, cx, MTP_ENOMEM, "out of memory");
    uint64_t seen[4] = {0, 0, 0, 0};
    if (c->nparams > 256)
        return mtp_json_fail(j, cx, MTP_EINVAL, "'%s' has too many fields", c->name);
    j->p = obj_start + 1;
    if (parse_members(j, c, (uint8_t *)obj, seen, cx) || check_fields(j, c, obj, seen, cx))
        return j->rc;
    j->depth--;
    j->odepth--;
    *out = obj;
    return 0;
}

static int parse_hex(jp_t *j, const jctx_t *cx, const char *r, size_t rl, bool plain,
                     uint8_t *dst, size_t want, mtp_bytes_t *slice)
{
    if (!plain)
        return mtp_json_fail(j, cx, MTP_EJSON, "expected a hex string (escapes not allowed)");
    if (rl % 2)
        return mtp_json_fail(j, cx, MTP_EJSON, "hex string of odd length %zu", rl);
    size_t n = rl / 2;
    if (want && n != want)
        return mtp_json_fail(j, cx, MTP_EJSON, "expected %zu hex digits, got %zu", 2 * want, rl);
    if (!want) {
        if (n > MTP_TL_MAX_BYTES)
            return mtp_json_fail(j, cx, MTP_EJSON, "bytes longer than %u", MTP_TL_MAX_BYTES);
        dst = n ? mtp_arena_alloc(j->arena, n) : NULL;
        if (n && !dst)
            return mtp_json_fail(j, cx, MTP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int hi = mtp_hexval((unsigned char)r[2 * i]), lo = mtp_hexval((unsigned char)r[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return mtp_json_fail(j, cx, MTP_EJSON, "bad hex digit at position %zu",
                           hi < 0 ? 2 * i : 2 * i + 1);
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
    if (slice) {
        slice->ptr = n ? dst : (const uint8_t *)"";
        slice->len = n;
    }
    return 0;
}

static int parse_vector(jp_t *j, const mtp_tl_type_t *t, mtp_vec_t *dst, const jctx_t *cx)
{
    const mtp_tl_type_t *et = t->elem;
    if (!et || !et->size)
        return mtp_json_fail(j, cx, MTP_EINVAL, "bad vector descriptor");
    if (j->p >= j->end || *j->p != '[') {
        char b[32];
        return mtp_json_fail(j, cx, MTP_EJSON, "expected an array (%s), got %s",
                       t->text ? t->text : "vector", mtp_json_describe(j, b, sizeof b));
    }
    if (++j->depth > JP_MAX_NEST)
        return mtp_json_fail(j, cx, MTP_EJSON, "JSON nesting deeper than the limit at offset %zu",
                       (size_t)(j->p - j->s));
    j->p++;
    size_t esz = et->size, n = 0, cap = 0;
    uint8_t *items = NULL;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
    } else {
        for (;;) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                if (ncap > 0xffffffu)
                    return mtp_json_fail(j, cx, MTP_EJSON, "vector too long");
                uint8_t *ni = mtp_arena_alloc(j->arena, ncap * esz);
                if (!ni)
                    return mtp_json_fail(j, cx, MTP_ENOMEM, "out of memory");
                if (n)
                    memcpy(ni, items, n * esz);
                items = ni;
                cap = ncap;
            }
            skip_ws(j);
            if (parse_value(j, et, items + n * esz, cx))
                return j->rc;
            n++;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                break;
            }
            return mtp_json_syntax(j, "expected ',' or ']'");
        }
    }
    dst->n = (uint32_t)n;
    dst->v = items;
    j->depth--;
    return 0;
}

/* int or # */
static int parse_int(jp_t *j, const mtp_tl_type_t *t, void *dst, const jctx_t *cx)
{
    char b[32];
    jnum_t num;
    if (j->p >= j->end || !(*j->p == '-' || (*j->p >= '0' && *j->p <= '9')))
        return mtp_json_fail(j, cx, MTP_EJSON, "expected an integer, got %s",
                             mtp_json_describe(j, b, sizeof b));
    if (mtp_json_scan_number(j, &num))
        return j->rc;
    int64_t v;
    if (!num.integer || !mtp_json_parse_i64(num.s, num.n, &v))
        return mtp_json_fail(j, cx, MTP_EJSON, "expected an integer, got %.*s",
                             (int)(num.n > 40 ? 40 : num.n), num.s);
    if (t->kind == MTP_TL_INT) {
        if (v < INT32_MIN || v > INT32_MAX)
            return mtp_json_fail(j, cx, MTP_EJSON, "%.*s is out of the int32 range",
                                 (int)(num.n > 40 ? 40 : num.n), num.s);
        *(int32_t *)dst = (int32_t)v;
    } else {
        if (v < 0 || v > (int64_t)UINT32_MAX)
            return mtp_json_fail(j, cx, MTP_EJSON, "%.*s is out of the uint32 range",
                                 (int)(num.n > 40 ? 40 : num.n), num.s);
        *(uint32_t *)dst = (uint32_t)v;
    }
    return 0;
}

/* long: a decimal string (or a bare integer) */
static int parse_long(jp_t *j, int64_t *dst, const jctx_t *cx)
{
    char b[32];
    int64_t v;
    if (j->p < j->end && *j->p == '"') {
        const char *r;
        size_t rl;
        bool pl;
        if (mtp_json_scan_string(j, &r, &rl, &pl))
            return j->rc;
        if (!pl || !mtp_json_parse_i64(r, rl, &v))
            return mtp_json_fail(j, cx, MTP_EJSON, "expected a decimal int64 string, got \"%.*s\"",
                                 (int)(rl > 40 ? 40 : rl), r);
    } else if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
        jnum_t num;
        if (mtp_json_scan_number(j, &num))
            return j->rc;
        if (!num.integer || !mtp_json_parse_i64(num.s, num.n, &v))
            return mtp_json_fail(j, cx, MTP_EJSON, "expected an int64, got %.*s",
                                 (int)(num.n > 40 ? 40 : num.n), num.s);
    } else {
        return mtp_json_fail(j, cx, MTP_EJSON, "expected a long (decimal string), got %s",
                             mtp_json_describe(j, b, sizeof b));
    }
    *dst = v;
    return 0;
}

/* double: a number, or null for NaN */
static int parse_double(jp_t *j, double *dst, const jctx_t *cx)
{
    char b[32];
    if (lit(j, "null", 4)) {
        *dst = NAN;
        return 0;
    }
    jnum_t num;
    if (j->p >= j->end || !(*j->p == '-' || (*j->p >= '0' && *j->p <= '9')))
        return mtp_json_fail(j, cx, MTP_EJSON, "expected a number, got %s",
                             mtp_json_describe(j, b, sizeof b));
    if (mtp_json_scan_number(j, &num))
        return j->rc;
    char sb[128];
    char *s = sb;
    if (num.n >= sizeof sb) {
        s = malloc(num.n + 1);
        if (!s)
            return mtp_json_fail(j, cx, MTP_ENOMEM, "out of memory");
    }
    memcpy(s, num.s, num.n);
    s[num.n] = 0;
    *dst = strtod(s, NULL);
    if (s != sb)
        free(s);
    return 0;
}

/* int128, int256, bytes: lowercase or uppercase hex */
static int parse_hex_value(jp_t *j, const mtp_tl_type_t *t, void *dst, const jctx_t *cx)
{
    char b[32];
    if (j->p >= j->end || *j->p != '"')
        return mtp_json_fail(j, cx, MTP_EJSON, "expected a hex string, got %s",
                             mtp_json_describe(j, b, sizeof b));
    const char *r;
    size_t rl;
    bool pl;
    if (mtp_json_scan_string(j, &r, &rl, &pl))
        return j->rc;
    if (t->kind == MTP_TL_BYTES)
        return parse_hex(j, cx, r, rl, pl, NULL, 0, (mtp_bytes_t *)dst);
    return parse_hex(j, cx, r, rl, pl, (uint8_t *)dst, t->kind == MTP_TL_INT128 ? 16 : 32,
                     NULL);
}

/* string: copied (or decoded) into the arena */
static int parse_string(jp_t *j, mtp_bytes_t *s, const jctx_t *cx)
{
    char b[32];
    if (j->p >= j->end || *j->p != '"')
        return mtp_json_fail(j, cx, MTP_EJSON, "expected a string, got %s",
                             mtp_json_describe(j, b, sizeof b));
    const char *r;
    size_t rl;
    bool pl;
    if (mtp_json_scan_string(j, &r, &rl, &pl))
        return j->rc;
    if (rl == 0) {
        s->ptr = (const uint8_t *)"";
        s->len = 0;
        return 0;
    }
    uint8_t *o = mtp_arena_alloc(j->arena, rl);
    if (!o)
        return mtp_json_fail(j, cx, MTP_ENOMEM, "out of memory");
    size_t n;
    if (pl) {
        memcpy(o, r, rl);
        n = rl;
    } else {
        n = mtp_json_decode_string(r, rl, o);
    }
    if (n > MTP_TL_MAX_BYTES)
        return mtp_json_fail(j, cx, MTP_EJSON, "string longer than %u bytes", MTP_TL_MAX_BYTES);
    s->ptr = o;
    s->len = n;
    return 0;
}

static int parse_value(jp_t *j, const mtp_tl_type_t *t, void *dst, const jctx_t *cx)
{
    char b[32];
    skip_ws(j);
    switch (t->kind) {
    case MTP_TL_INT:
    case MTP_TL_NAT:
        return parse_int(j, t, dst, cx);
    case MTP_TL_LONG:
        return parse_long(j, (int64_t *)dst, cx);
    case MTP_TL_DOUBLE:
        return parse_double(j, (double *)dst, cx);
    case MTP_TL_INT128:
    case MTP_TL_INT256:
    case MTP_TL_BYTES:
        return parse_hex_value(j, t, dst, cx);
    case MTP_TL_STRING:
        return parse_string(j, (mtp_bytes_t *)dst, cx);
    case MTP_TL_BOOL:
    case MTP_TL_TRUE:
        if (lit(j, "true", 4))
            *(bool *)dst = true;
        else if (lit(j, "false", 5))
            *(bool *)dst = false;
        else
            return mtp_json_fail(j, cx, MTP_EJSON, "expected true or false, got %s",
                                 mtp_json_describe(j, b, sizeof b));
        return 0;
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR:
        return parse_vector(j, t, (mtp_vec_t *)dst, cx);
    case MTP_TL_OBJECT:
    case MTP_TL_BARE_OBJECT:
    case MTP_TL_QUERY: {
        if (j->p < j->end && *j->p == 'n' && lit(j, "null", 4))
            return mtp_json_fail(j, cx, MTP_EJSON, "expected %s object, got null", type_label(t));
        return parse_object(j, t, (mtp_tl_object_t **)dst, cx);
    }
    default:
        return mtp_json_fail(j, cx, MTP_EINVAL, "unsupported type kind %d", t->kind);
    }
}

static int finish(jp_t *j)
{
    skip_ws(j);
    if (j->p != j->end)
        return mtp_json_fail(j, NULL, MTP_EJSON, "trailing garbage at offset %zu",
                       (size_t)(j->p - j->s));
    return 0;
}

int mtp_tl_from_json(const mtp_tl_layer_t *layer, const char *json, size_t len,
                     mtp_arena_t *arena, mtp_tl_object_t **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (out)
        *out = NULL;
    if (!layer || (!json && len) || !arena || !out) {
        if (err && errlen)
            snprintf(err, errlen, "invalid argument");
        return MTP_EINVAL;
    }
    if (!json)
        json = "";
    jp_t j = {json, json, json + len, layer, arena, err, errlen, 0, 0, 0};
    mtp_tl_object_t *obj = NULL;
    skip_ws(&j);
    if (parse_object(&j, NULL, &obj, NULL) || finish(&j))
        return j.rc < 0 ? j.rc : MTP_EJSON;
    *out = obj;
    return 0;
}

int mtp_tl_value_from_json(const mtp_tl_layer_t *layer, const mtp_tl_type_t *t,
                           const char *json, size_t len, mtp_arena_t *arena, void *dst,
                           char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!layer || !t || (!json && len) || !arena || !dst) {
        if (err && errlen)
            snprintf(err, errlen, "invalid argument");
        return MTP_EINVAL;
    }
    if (!json)
        json = "";
    jp_t j = {json, json, json + len, layer, arena, err, errlen, 0, 0, 0};
    uint8_t tmp[64];
    void *target = t->size <= sizeof tmp ? (void *)tmp : dst;
    memset(target, 0, t->size);
    skip_ws(&j);
    if (parse_value(&j, t, target, NULL) || finish(&j))
        return j.rc < 0 ? j.rc : MTP_EJSON;
    if (target != dst)
        memcpy(dst, tmp, t->size);
    return 0;
}

