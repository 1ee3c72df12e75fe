/*
 * libmtproto — canonical JSON for TL objects: the writer (json_write.c), generic over the
 * generated descriptors; the strict parser is json_lex.c + json_read.c, numbers json_num.c.
 *
 * Canonical form (compared byte for byte with mtcute-produced JSON by the tests):
 *   {"_":"<name>",<field>:<value>,...}   minified, "_" first, fields in schema order
 *   absent optional fields are omitted; flags.N?true fields appear (as true) only when set;
 *   '#' words appear with their numeric value (the bits of fields recomputed from the fields,
 *   the other bits as stored, i.e. the word that goes on the wire);
 *   int, # -> number; long -> "decimal string"; double -> shortest round-trip number as
 *   JavaScript prints it (NaN/Infinity -> null); string -> JSON string (invalid UTF-8 ->
 *   U+FFFD per maximal subpart, as TextDecoder does); bytes/int128/int256 -> lowercase hex;
 *   Bool -> true/false; vectors -> arrays; a NULL required object -> null.
 */
#include "tl/json_int.h"

/* Depth limit for writing (guards against cycles in hand-built graphs). A decoded object
 * nests at most MTP_TL_MAX_DEPTH objects; each may add a vector level or two. */
#define JW_MAX_DEPTH (4 * MTP_TL_MAX_DEPTH)

static const char hexdig[] = "0123456789abcdef";

/* The '#' word params[idx] as it goes on the wire: bits used by fields recomputed from the
 * fields' presence, the other bits as stored. */
uint32_t mtp_tl_nat_value(const mtp_tl_object_t *obj, int idx)
{
    const mtp_tl_comb_t *c = obj->tl;
    uint32_t stored = *(const uint32_t *)((const uint8_t *)obj + c->params[idx].offset);
    uint32_t used = 0, set = 0;
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *q = &c->params[i];
        if (q->flag_param != idx || q->flag_bit < 0 || q->flag_bit > 31)
            continue;
        uint32_t bit = 1u << q->flag_bit;
        used |= bit;
        if (mtp_tl_field_present(obj, q))
            set |= bit;
    }
    return (stored & ~used) | set;
}

static void put(mtp_buf_t *b, const char *s, size_t n)
{
    mtp_buf_append(b, s, n);
}

static void put_hex(mtp_buf_t *b, const uint8_t *p, size_t n)
{
    if (mtp_buf_reserve(b, 2 * n + 2) != 0)
        return;
    char *o = (char *)b->data + b->len;
    *o++ = '"';
    mtp_hex_encode(p, n, o);
    o[2 * n] = '"';
    b->len += 2 * n + 2;
}

static void put_u64(mtp_buf_t *b, uint64_t u, bool neg, bool quote)
{
    char t[24];
    int k = 0;
    do {
        t[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    char s[28];
    int m = 0;
    if (quote)
        s[m++] = '"';
    if (neg)
        s[m++] = '-';
    while (k)
        s[m++] = t[--k];
    if (quote)
        s[m++] = '"';
    put(b, s, (size_t)m);
}

static void put_i64(mtp_buf_t *b, int64_t v, bool quote)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    put_u64(b, u, v < 0, quote);
}


static void put_string(mtp_buf_t *b, const uint8_t *s, size_t n)
{
    /* worst case: every byte becomes \u00xx (6) or U+FFFD (3) */
    if (mtp_buf_reserve(b, 6 * n + 2) != 0)
        return;
    char *o = (char *)b->data + b->len, *start = o;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hexdig[c >> 4];
                *o++ = hexdig[c & 15];
            }
            i++;
            continue;
        }
        size_t bad = 0, k = mtp_utf8_seq(s + i, n - i, &bad);
        if (k) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        } else {
            *o++ = (char)0xef;
            *o++ = (char)0xbf;
            *o++ = (char)0xbd;
            i += bad;
        }
    }
    *o++ = '"';
    b->len += (size_t)(o - start);
}

static int jw_value(mtp_buf_t *b, const mtp_tl_type_t *t, const void *val, int depth);

static int jw_object(mtp_buf_t *b, const mtp_tl_object_t *obj, int depth)
{
    if (!obj) {
        put(b, "null", 4);
        return 0;
    }
    if (depth > JW_MAX_DEPTH)
        return MTP_EDEPTH;
    const mtp_tl_vector_t *vec = mtp_tl_as_vector(obj);
    if (vec) {   /* a Vector<T> result: printed as the value it holds */
        if (!vec->type || vec->type->kind != MTP_TL_VECTOR)
            return MTP_EINVAL;
        mtp_vec_t items = { vec->n, vec->v.any };
        return jw_value(b, vec->type, &items, depth);
    }
    const mtp_tl_comb_t *c = obj->tl;
    if (!c || !c->name)
        return MTP_EINVAL;
    put(b, "{\"_\":", 5);
    put_string(b, (const uint8_t *)c->name, strlen(c->name));
    const uint8_t *base = (const uint8_t *)obj;
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        if (!mtp_tl_field_present(obj, p))
            continue;
        mtp_buf_putc(b, ',');
        put_string(b, (const uint8_t *)p->name, strlen(p->name));
        mtp_buf_putc(b, ':');
        int rc;
        if (p->type->kind == MTP_TL_NAT) {
            put_u64(b, mtp_tl_nat_value(obj, i), false, false);
            rc = 0;
        } else {
            rc = jw_value(b, p->type, base + p->offset, depth);
        }
        if (rc)
            return rc;
    }
    mtp_buf_putc(b, '}');
    return 0;
}

static int jw_value(mtp_buf_t *b, const mtp_tl_type_t *t, const void *val, int depth)
{
    if (!t || !val)
        return MTP_EINVAL;
    switch (t->kind) {
    case MTP_TL_INT:
        put_i64(b, *(const int32_t *)val, false);
        return 0;
    case MTP_TL_NAT:
        put_u64(b, *(const uint32_t *)val, false, false);
        return 0;
    case MTP_TL_LONG:
        put_i64(b, *(const int64_t *)val, true);
        return 0;
    case MTP_TL_DOUBLE: {
        char s[40];
        size_t n = mtp_tl_fmt_double(*(const double *)val, s);
        if (n)
            put(b, s, n);
        else
            put(b, "null", 4);
        return 0;
    }
    case MTP_TL_INT128:
        put_hex(b, (const uint8_t *)val, 16);
        return 0;
    case MTP_TL_INT256:
        put_hex(b, (const uint8_t *)val, 32);
        return 0;
    case MTP_TL_STRING: {
        const mtp_bytes_t *s = (const mtp_bytes_t *)val;
        if (!s->ptr && s->len)
            return MTP_EINVAL;
        put_string(b, s->ptr, s->len);
        return 0;
    }
    case MTP_TL_BYTES: {
        const mtp_bytes_t *s = (const mtp_bytes_t *)val;
        if (!s->ptr && s->len)
            return MTP_EINVAL;
        put_hex(b, s->ptr, s->len);
        return 0;
    }
    case MTP_TL_BOOL:
    case MTP_TL_TRUE:
        if (*(const bool *)val)
            put(b, "true", 4);
        else
            put(b, "false", 5);
        return 0;
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: {
        const mtp_vec_t *v = (const mtp_vec_t *)val;
        const mtp_tl_type_t *et = t->elem;
        if (!et)
            return MTP_EINVAL;
        if (v->n && !v->v)
            return MTP_EINVAL;
        if (depth > JW_MAX_DEPTH)
            return MTP_EDEPTH;
        mtp_buf_putc(b, '[');
        const uint8_t *item = (const uint8_t *)v->v;
        for (uint32_t i = 0; i < v->n; i++, item += et->size) {
            if (i)
                mtp_buf_putc(b, ',');
            int rc = jw_value(b, et, item, depth + 1);
            if (rc)
                return rc;
        }
        mtp_buf_putc(b, ']');
        return 0;
    }
    case MTP_TL_OBJECT:
    case MTP_TL_BARE_OBJECT:
    case MTP_TL_QUERY:
        return jw_object(b, *(const mtp_tl_object_t *const *)val, depth + 1);
    default:
        return MTP_EINVAL;
    }
}

int mtp_tl_to_json(const mtp_tl_object_t *obj, mtp_buf_t *out)
{
    if (!obj || !out)
        return MTP_EINVAL;
    size_t len0 = out->len;
    int rc = jw_object(out, obj, 0);
    if (!rc && out->err)
        rc = out->err;
    if (rc && !out->err)
        out->len = len0;
    return rc;
}

int mtp_tl_value_to_json(const mtp_tl_type_t *t, const void *val, mtp_buf_t *out)
{
    if (!t || !val || !out)
        return MTP_EINVAL;
    size_t len0 = out->len;
    int rc = jw_value(out, t, val, 0);
    if (!rc && out->err)
        rc = out->err;
    if (rc && !out->err)
        out->len = len0;
    return rc;
}
