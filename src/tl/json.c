/*
 * libmtproto — canonical JSON for TL objects (writer and strict parser), generic over the
 * generated descriptors.
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
#include <mtproto/tl.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* Shared with print.c (internal; not part of the public API). */
size_t mtp_tl_fmt_double(double v, char out[40]);
uint32_t mtp_tl_nat_value(const mtp_tl_object_t *obj, int idx);

/* Depth limit for writing (guards against cycles in hand-built graphs). A decoded object
 * nests at most MTP_TL_MAX_DEPTH objects; each may add a vector level or two. */
#define JW_MAX_DEPTH (4 * MTP_TL_MAX_DEPTH)

static const char hexdig[] = "0123456789abcdef";

/* ------------------------------------------------------------------------------------ */
/* shared helpers                                                                        */

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

/* Shortest decimal that round-trips, laid out as JavaScript's Number::toString does.
 * Returns the length, or 0 for NaN / Infinity (JSON null). */
size_t mtp_tl_fmt_double(double v, char out[40])
{
    if (isnan(v) || isinf(v)) {
        out[0] = 0;
        return 0;
    }
    if (v == 0) {
        out[0] = '0';
        out[1] = 0;
        return 1;
    }
    char *o = out;
    if (v < 0) {
        *o++ = '-';
        v = -v;
    }
    char digits[24];
    int nd = 0, exp10 = 0;
    if (v < 1e21 && v == floor(v) && v < 9007199254740992.0) {
        /* an exact integer: its decimal digits are the shortest form */
        unsigned long long u = (unsigned long long)v;
        char tmp[24];
        int k = 0;
        while (u) {
            tmp[k++] = (char)('0' + u % 10);
            u /= 10;
        }
        for (int i = 0; i < k; i++)
            digits[i] = tmp[k - 1 - i];
        nd = k;
        exp10 = k - 1;
    } else {
        char buf[48];
        bool found = false;
        for (int prec = 1; prec <= 17 && !found; prec++) {
            snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
            /* split "d.ddde[+-]xx" */
            int k = 0;
            const char *s = buf;
            for (; *s && *s != 'e'; s++)
                if (*s >= '0' && *s <= '9')
                    digits[k++] = *s;
            int e = atoi(s + 1);
            if (strtod(buf, NULL) == v) {
                nd = k;
                exp10 = e;
                found = true;
                break;
            }
            /* The correctly rounded prec-digit value misses; a neighbour one unit in the
             * last place away may still round-trip (asymmetric intervals at powers of 2). */
            for (int dir = -1; dir <= 1 && !found; dir += 2) {
                char d2[24];
                memcpy(d2, digits, (size_t)k);
                int e2 = e, k2 = k, i = k - 1;
                if (dir > 0) {
                    while (i >= 0 && d2[i] == '9')
                        d2[i--] = '0';
                    if (i < 0) {
                        d2[0] = '1';
                        memset(d2 + 1, '0', (size_t)(k2 - 1));
                        e2++;
                    } else {
                        d2[i]++;
                    }
                } else {
                    while (i >= 0 && d2[i] == '0')
                        d2[i--] = '9';
                    if (i < 0)
                        continue;
                    d2[i]--;
                    if (d2[0] == '0') {
                        if (k2 == 1)
                            continue;
                        memmove(d2, d2 + 1, (size_t)(k2 - 1));
                        k2--;
                        e2--;
                    }
                }
                char b2[48];
                int m = 0;
                b2[m++] = d2[0];
                if (k2 > 1) {
                    b2[m++] = '.';
                    memcpy(b2 + m, d2 + 1, (size_t)(k2 - 1));
                    m += k2 - 1;
                }
                snprintf(b2 + m, sizeof b2 - (size_t)m, "e%d", e2);
                if (strtod(b2, NULL) == v) {
                    memcpy(digits, d2, (size_t)k2);
                    nd = k2;
                    exp10 = e2;
                    found = true;
                }
            }
        }
        if (!found) { /* cannot happen: 17 digits always round-trip */
            snprintf(buf, sizeof buf, "%.16e", v);
            int k = 0;
            const char *s = buf;
            for (; *s && *s != 'e'; s++)
                if (*s >= '0' && *s <= '9')
                    digits[k++] = *s;
            nd = k;
            exp10 = atoi(s + 1);
        }
        while (nd > 1 && digits[nd - 1] == '0')
            nd--;
    }
    /* JS layout: n = exp10 + 1 is the position of the decimal point */
    int n = exp10 + 1;
    if (nd <= n && n <= 21) {
        memcpy(o, digits, (size_t)nd);
        o += nd;
        for (int i = nd; i < n; i++)
            *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, digits, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, digits + n, (size_t)(nd - n));
        o += nd - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++)
            *o++ = '0';
        memcpy(o, digits, (size_t)nd);
        o += nd;
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        int e = n - 1;
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        if (e < 0)
            e = -e;
        char t[8];
        int k = 0;
        do {
            t[k++] = (char)('0' + e % 10);
            e /= 10;
        } while (e);
        while (k)
            *o++ = t[--k];
    }
    *o = 0;
    return (size_t)(o - out);
}

/* ------------------------------------------------------------------------------------ */
/* writer                                                                                */

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

/* ------------------------------------------------------------------------------------ */
/* parser                                                                                */

typedef struct jp {
    const char *s, *p, *end;
    const mtp_tl_layer_t *layer;
    mtp_arena_t *arena;
    char *err;
    size_t errlen;
    int depth;           /* JSON containers open */
    int odepth;          /* TL objects open */
    int rc;
} jp_t;

#define JP_MAX_NEST (3 * MTP_TL_MAX_DEPTH)

/* Where a value sits, for error messages. */
typedef struct jctx {
    const char *comb;    /* combinator name, or NULL at the top level */
    const char *field;   /* field name */
} jctx_t;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int jp_fail(jp_t *j, const jctx_t *cx, int rc, const char *fmt, ...)
{
    if (j->rc)
        return j->rc;
    j->rc = rc;
    if (j->err && j->errlen) {
        size_t off = 0;
        if (cx && cx->comb && cx->field) {
            int k = snprintf(j->err, j->errlen, "field '%s' of '%s': ", cx->field, cx->comb);
            off = k < 0 ? 0 : (size_t)k;
        } else if (cx && cx->field) {
            int k = snprintf(j->err, j->errlen, "%s: ", cx->field);
            off = k < 0 ? 0 : (size_t)k;
        }
        if (off < j->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(j->err + off, j->errlen - off, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

static int jp_syntax(jp_t *j, const char *what)
{
    return jp_fail(j, NULL, MTP_EJSON, "JSON syntax error at offset %zu: %s",
                   (size_t)(j->p - j->s), what);
}

static void skip_ws(jp_t *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool lit(jp_t *j, const char *w, size_t n)
{
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, w, n) == 0) {
        j->p += n;
        return true;
    }
    return false;
}

static int read_u4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = mtp_hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}


/*
 * Scan a JSON string at j->p (which is at the opening quote). On success j->p is past the
 * closing quote, *raw and *rawlen are the text between the quotes and *plain tells whether it
 * has no escapes (then the raw text is the value). Decoded length upper bound = rawlen.
 */
static int scan_string(jp_t *j, const char **raw, size_t *rawlen, bool *plain)
{
    if (j->p >= j->end || *j->p != '"')
        return jp_syntax(j, "expected a string");
    const char *p = ++j->p;
    bool pl = true;
    while (p < j->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *raw = j->p;
            *rawlen = (size_t)(p - j->p);
            *plain = pl;
            j->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            pl = false;
            if (p + 1 >= j->end)
                break;
            char e = p[1];
            if (e == 'u') {
                if (j->end - p < 6 || read_u4(p + 2) < 0) {
                    j->p = p;
                    return jp_syntax(j, "bad \\u escape");
                }
                p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' ||
                       e == 'n' || e == 'r' || e == 't') {
                p += 2;
            } else {
                j->p = p;
                return jp_syntax(j, "bad escape in string");
            }
            continue;
        }
        if (c < 0x20) {
            j->p = p;
            return jp_syntax(j, "control character in string");
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t bad = 0, k = mtp_utf8_seq((const uint8_t *)p, (size_t)(j->end - p), &bad);
        if (!k) {
            j->p = p;
            return jp_syntax(j, "invalid UTF-8 in string");
        }
        p += k;
    }
    j->p = p;
    return jp_syntax(j, "unterminated string");
}

/* Decode the raw text of a scanned string into o (room for rawlen bytes). Lone surrogates
 * become U+FFFD (as a JavaScript TextEncoder would). Returns the decoded length. */
static size_t decode_string(const char *raw, size_t rawlen, uint8_t *o)
{
    const char *p = raw, *e = raw + rawlen;
    uint8_t *o0 = o;
    while (p < e) {
        if (*p != '\\') {
            const char *q = p;
            while (q < e && *q != '\\')
                q++;
            memcpy(o, p, (size_t)(q - p));
            o += q - p;
            p = q;
            continue;
        }
        char c = p[1];
        p += 2;
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)read_u4(p);
            p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    int lo = read_u4(p + 2);
                    if (lo >= 0xdc00 && lo <= 0xdfff) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
                        p += 6;
                    } else {
                        cp = 0xfffd;
                    }
                } else {
                    cp = 0xfffd;
                }
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                cp = 0xfffd;
            }
            /* a \uXXXX escape (6 chars) always has room for its <= 3 bytes, a pair (12)
             * for its 4 */
            o += mtp_utf8_put(o, cp);
            break;
        }
        default: *o++ = (uint8_t)c; break; /* " \ / */
        }
    }
    return (size_t)(o - o0);
}

typedef struct jnum {
    const char *s;
    size_t n;
    bool integer;    /* no fraction, no exponent */
} jnum_t;

static int scan_number(jp_t *j, jnum_t *num)
{
    const char *p = j->p, *e = j->end;
    const char *s = p;
    bool integer = true;
    if (p < e && *p == '-')
        p++;
    if (p >= e || !(*p >= '0' && *p <= '9'))
        return jp_syntax(j, "bad number");
    if (*p == '0')
        p++;
    else
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    if (p < e && *p == '.') {
        integer = false;
        p++;
        if (p >= e || !(*p >= '0' && *p <= '9')) {
            j->p = p;
            return jp_syntax(j, "bad number");
        }
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        integer = false;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !(*p >= '0' && *p <= '9')) {
            j->p = p;
            return jp_syntax(j, "bad number");
        }
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    num->s = s;
    num->n = (size_t)(p - s);
    num->integer = integer;
    j->p = p;
    return 0;
}

/* Parse an optionally negative run of decimal digits as int64. */
static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    bool neg = false;
    size_t i = 0;
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= n)
        return false;
    uint64_t v = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}

static int skip_value(jp_t *j);

static int skip_container(jp_t *j, char close)
{
    if (++j->depth > JP_MAX_NEST)
        return jp_fail(j, NULL, MTP_EJSON, "JSON nesting deeper than the limit at offset %zu",
                       (size_t)(j->p - j->s));
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(j);
        if (close == '}') {
            const char *r;
            size_t rl;
            bool pl;
            if (scan_string(j, &r, &rl, &pl))
                return j->rc;
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return jp_syntax(j, "expected ':'");
            j->p++;
            skip_ws(j);
        }
        if (skip_value(j))
            return j->rc;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            break;
        }
        return jp_syntax(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    j->depth--;
    return 0;
}

static int skip_value(jp_t *j)
{
    skip_ws(j);
    if (j->p >= j->end)
        return jp_syntax(j, "unexpected end of input");
    switch (*j->p) {
    case '{':
        return skip_container(j, '}');
    case '[':
        return skip_container(j, ']');
    case '"': {
        const char *r;
        size_t rl;
        bool pl;
        return scan_string(j, &r, &rl, &pl);
    }
    case 't':
        if (lit(j, "true", 4))
            return 0;
        break;
    case 'f':
        if (lit(j, "false", 5))
            return 0;
        break;
    case 'n':
        if (lit(j, "null", 4))
            return 0;
        break;
    default: {
        jnum_t num;
        return scan_number(j, &num);
    }
    }
    return jp_syntax(j, "unexpected token");
}

/* A short printable rendering of the JSON value at j->p, for "got ..." in messages. */
static const char *describe(jp_t *j, char *buf, size_t n)
{
    const char *p = j->p;
    if (p >= j->end)
        return "end of input";
    switch (*p) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
        return (size_t)(j->end - p) >= 4 && !memcmp(p, "true", 4) ? "true" : "an invalid token";
    case 'f':
        return (size_t)(j->end - p) >= 5 && !memcmp(p, "false", 5) ? "false" : "an invalid token";
    case 'n':
        return (size_t)(j->end - p) >= 4 && !memcmp(p, "null", 4) ? "null" : "an invalid token";
    default: {
        size_t k = 0;
        while (p + k < j->end && k + 1 < n && k < 24 &&
               ((p[k] && strchr("+-.eE", p[k])) || (p[k] >= '0' && p[k] <= '9')))
            k++;
        if (k == 0)
            return "an invalid token";
        memcpy(buf, p, k);
        buf[k] = 0;
        return buf;
    }
    }
}

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

/*
 * Parse a JSON object into a new TL object. t is the expected type (OBJECT, BARE_OBJECT,
 * QUERY) or NULL at the top level (any constructor or method).
 */
static int parse_object(jp_t *j, const mtp_tl_type_t *t, mtp_tl_object_t **out, const jctx_t *cx)
{
    skip_ws(j);
    if (j->p >= j->end || *j->p != '{') {
        char b[32];
        return jp_fail(j, cx, MTP_EJSON, "expected %s object, got %s",
                       t ? type_label(t) : "a TL", describe(j, b, sizeof b));
    }
    if (++j->odepth > MTP_TL_MAX_DEPTH || ++j->depth > JP_MAX_NEST)
        return jp_fail(j, cx, MTP_EJSON, "nesting deeper than %d objects at offset %zu",
                       MTP_TL_MAX_DEPTH, (size_t)(j->p - j->s));
    const char *obj_start = j->p;

    /* pass 1: find "_" (normally the first member; pass 2 checks the syntax of the rest) */
    const char *name = NULL;
    size_t namelen = 0;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p != '}') {
        for (;;) {
            skip_ws(j);
            const char *r;
            size_t rl;
            bool pl;
            if (scan_string(j, &r, &rl, &pl))
                return j->rc;
            bool is_type = (rl == 1 && r[0] == '_') ||
                           (!pl && rl == 6 && (memcmp(r, "\\u005f", 6) == 0 ||
                                               memcmp(r, "\\u005F", 6) == 0));
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return jp_syntax(j, "expected ':'");
            j->p++;
            skip_ws(j);
            if (is_type) {
                if (j->p >= j->end || *j->p != '"') {
                    char b[32];
                    return jp_fail(j, cx, MTP_EJSON, "\"_\" must be a string, got %s",
                                   describe(j, b, sizeof b));
                }
                if (scan_string(j, &r, &rl, &pl))
                    return j->rc;
                if (pl) {
                    name = r;
                    namelen = rl;
                } else {
                    uint8_t *nb = mtp_arena_alloc(j->arena, rl + 1);
                    if (!nb)
                        return jp_fail(j, cx, MTP_ENOMEM, "out of memory");
                    namelen = decode_string(r, rl, nb);
                    name = (const char *)nb;
                }
                break;
            }
            if (skip_value(j))
                return j->rc;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == '}')
                break;
            return jp_syntax(j, "expected ',' or '}'");
        }
    }

    const mtp_tl_comb_t *c;
    if (!name) {
        if (t && t->kind == MTP_TL_BARE_OBJECT && t->bare) {
            c = t->bare;
        } else {
            j->p = obj_start;
            return jp_fail(j, cx, MTP_EJSON, "object without \"_\" (the constructor name)");
        }
    } else if (t && t->kind == MTP_TL_BARE_OBJECT && t->bare) {
        /* a bare constructor is known from the field; its name may also name a boxed
         * constructor of the layer (service "message" vs API "message") */
        c = t->bare;
        if (strlen(c->name) != namelen || memcmp(c->name, name, namelen) != 0)
            return jp_fail(j, cx, MTP_EJSON, "expected %s, got '%.*s'", c->name,
                           (int)(namelen > 200 ? 200 : namelen), name);
    } else {
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
            return jp_fail(j, cx, MTP_EJSON, "unknown constructor '%.*s'",
                           (int)(namelen > 200 ? 200 : namelen), name);
        }
        if (t) {
            bool ok;
            if (t->kind == MTP_TL_QUERY)
                ok = c->is_method;
            else if (t->kind == MTP_TL_BARE_OBJECT)
                ok = false;   /* BARE_OBJECT without a descriptor */
            else if (!t->tname)
                ok = true;   /* Object: any boxed value, method calls too (as the reader rules) */
            else
                ok = !c->is_method && tname_ok(c, t->tname);
            if (!ok)
                return jp_fail(j, cx, MTP_EJSON, "expected %s, got '%s'", type_label(t),
                               c->name);
        }
    }

    mtp_tl_object_t *obj = mtp_tl_new(j->arena, c);
    if (!obj)
        return jp_fail(j, cx, MTP_ENOMEM, "out of memory");
    uint8_t *base = (uint8_t *)obj;

    uint64_t seen[4] = {0, 0, 0, 0};
    int nunder = 0;
    if (c->nparams > 256)
        return jp_fail(j, cx, MTP_EINVAL, "'%s' has too many fields", c->name);

    /* pass 2: the members */
    j->p = obj_start + 1;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
    } else {
        for (;;) {
            skip_ws(j);
            const char *r;
            size_t rl;
            bool pl;
            if (scan_string(j, &r, &rl, &pl))
                return j->rc;
            char keybuf[128];
            const char *key = r;
            size_t keylen = rl;
            if (!pl) {
                if (rl < sizeof keybuf) {
                    keylen = decode_string(r, rl, (uint8_t *)keybuf);
                    key = keybuf;
                } else {
                    keylen = 0;
                    key = "";
                }
            }
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return jp_syntax(j, "expected ':'");
            j->p++;
            skip_ws(j);
            if (keylen == 1 && key[0] == '_') {
                if (nunder++)
                    return jp_fail(j, cx, MTP_EJSON, "duplicate \"_\" in object");
                if (skip_value(j))
                    return j->rc;
            } else {
                int idx = -1;
                for (uint16_t i = 0; i < c->nparams; i++) {
                    const char *pn = c->params[i].name;
                    if (pn[0] == key[0] && strlen(pn) == keylen && memcmp(pn, key, keylen) == 0) {
                        idx = i;
                        break;
                    }
                }
                if (idx < 0)
                    return jp_fail(j, cx, MTP_EJSON, "unknown field '%.*s' in '%s'",
                                   (int)(keylen > 100 ? 100 : keylen), key, c->name);
                if (seen[idx >> 6] & (1ull << (idx & 63)))
                    return jp_fail(j, cx, MTP_EJSON, "duplicate field '%s' in '%s'",
                                   c->params[idx].name, c->name);
                seen[idx >> 6] |= 1ull << (idx & 63);
                const mtp_tl_param_t *p = &c->params[idx];
                jctx_t fcx = {c->name, p->name};
                skip_ws(j);
                bool optional = p->flag_param >= 0;
                uint8_t k = p->type->kind;
                if (optional && k != MTP_TL_TRUE && lit(j, "null", 4)) {
                    /* explicit null: absent */
                } else {
                    if (parse_value(j, p->type, base + p->offset, &fcx))
                        return j->rc;
                    if (optional && k != MTP_TL_TRUE && k != MTP_TL_OBJECT &&
                        k != MTP_TL_BARE_OBJECT && k != MTP_TL_QUERY &&
                        p->has_offset != MTP_TL_NO_OFFSET)
                        *(bool *)(base + p->has_offset) = true;
                }
            }
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == '}') {
                j->p++;
                break;
            }
            return jp_syntax(j, "expected ',' or '}'");
        }
    }

    /* required fields, '#' words */
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        bool given = (seen[i >> 6] >> (i & 63)) & 1;
        if (p->type->kind == MTP_TL_NAT) {
            if (!given)
                continue;
            /* the bits fields use must be the ones the present fields imply (a shared bit
             * is set when any field using it is present); other bits are kept as given */
            uint32_t v = *(const uint32_t *)(base + p->offset);
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
            if (diff) {
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
                return jp_fail(j, cx, MTP_EJSON,
                               "field '%s' of '%s' disagrees with the fields present: "
                               "bit %d is %s but '%s' is %s",
                               p->name, c->name, bit, want_set ? "set" : "clear", fname,
                               want_set ? "absent" : "present");
            }
            continue;
        }
        if (p->flag_param < 0 && !given)
            return jp_fail(j, cx, MTP_EJSON, "missing field '%s' of '%s'", p->name, c->name);
        /* fields sharing a bit: when one is present, every non-true one must be (the bit
         * says all of them are on the wire) */
        if (p->flag_param >= 0 && p->type->kind != MTP_TL_TRUE && !mtp_tl_field_present(obj, p)) {
            for (uint16_t q = 0; q < c->nparams; q++) {
                const mtp_tl_param_t *f = &c->params[q];
                if (q != i && f->flag_param == p->flag_param && f->flag_bit == p->flag_bit &&
                    mtp_tl_field_present(obj, f))
                    return jp_fail(j, cx, MTP_EJSON,
                                   "missing field '%s' of '%s': it shares %s.%d with '%s'",
                                   p->name, c->name, c->params[p->flag_param].name,
                                   p->flag_bit, f->name);
            }
        }
    }
    j->depth--;
    j->odepth--;
    *out = obj;
    return 0;
}

static int parse_hex(jp_t *j, const jctx_t *cx, const char *r, size_t rl, bool plain,
                     uint8_t *dst, size_t want, mtp_bytes_t *slice)
{
    if (!plain)
        return jp_fail(j, cx, MTP_EJSON, "expected a hex string (escapes not allowed)");
    if (rl % 2)
        return jp_fail(j, cx, MTP_EJSON, "hex string of odd length %zu", rl);
    size_t n = rl / 2;
    if (want && n != want)
        return jp_fail(j, cx, MTP_EJSON, "expected %zu hex digits, got %zu", 2 * want, rl);
    if (!want) {
        if (n > MTP_TL_MAX_BYTES)
            return jp_fail(j, cx, MTP_EJSON, "bytes longer than %u", MTP_TL_MAX_BYTES);
        dst = n ? mtp_arena_alloc(j->arena, n) : NULL;
        if (n && !dst)
            return jp_fail(j, cx, MTP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int hi = mtp_hexval((unsigned char)r[2 * i]), lo = mtp_hexval((unsigned char)r[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return jp_fail(j, cx, MTP_EJSON, "bad hex digit at position %zu",
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
        return jp_fail(j, cx, MTP_EINVAL, "bad vector descriptor");
    if (j->p >= j->end || *j->p != '[') {
        char b[32];
        return jp_fail(j, cx, MTP_EJSON, "expected an array (%s), got %s",
                       t->text ? t->text : "vector", describe(j, b, sizeof b));
    }
    if (++j->depth > JP_MAX_NEST)
        return jp_fail(j, cx, MTP_EJSON, "JSON nesting deeper than the limit at offset %zu",
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
                    return jp_fail(j, cx, MTP_EJSON, "vector too long");
                uint8_t *ni = mtp_arena_alloc(j->arena, ncap * esz);
                if (!ni)
                    return jp_fail(j, cx, MTP_ENOMEM, "out of memory");
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
            return jp_syntax(j, "expected ',' or ']'");
        }
    }
    dst->n = (uint32_t)n;
    dst->v = items;
    j->depth--;
    return 0;
}

static int parse_value(jp_t *j, const mtp_tl_type_t *t, void *dst, const jctx_t *cx)
{
    char b[32];
    skip_ws(j);
    switch (t->kind) {
    case MTP_TL_INT:
    case MTP_TL_NAT: {
        jnum_t num;
        if (j->p >= j->end || !(*j->p == '-' || (*j->p >= '0' && *j->p <= '9')))
            return jp_fail(j, cx, MTP_EJSON, "expected an integer, got %s",
                           describe(j, b, sizeof b));
        if (scan_number(j, &num))
            return j->rc;
        int64_t v;
        if (!num.integer || !parse_i64(num.s, num.n, &v))
            return jp_fail(j, cx, MTP_EJSON, "expected an integer, got %.*s",
                           (int)(num.n > 40 ? 40 : num.n), num.s);
        if (t->kind == MTP_TL_INT) {
            if (v < INT32_MIN || v > INT32_MAX)
                return jp_fail(j, cx, MTP_EJSON, "%.*s is out of the int32 range",
                               (int)(num.n > 40 ? 40 : num.n), num.s);
            *(int32_t *)dst = (int32_t)v;
        } else {
            if (v < 0 || v > (int64_t)UINT32_MAX)
                return jp_fail(j, cx, MTP_EJSON, "%.*s is out of the uint32 range",
                               (int)(num.n > 40 ? 40 : num.n), num.s);
            *(uint32_t *)dst = (uint32_t)v;
        }
        return 0;
    }
    case MTP_TL_LONG: {
        int64_t v;
        if (j->p < j->end && *j->p == '"') {
            const char *r;
            size_t rl;
            bool pl;
            if (scan_string(j, &r, &rl, &pl))
                return j->rc;
            if (!pl || !parse_i64(r, rl, &v))
                return jp_fail(j, cx, MTP_EJSON, "expected a decimal int64 string, got \"%.*s\"",
                               (int)(rl > 40 ? 40 : rl), r);
        } else if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
            jnum_t num;
            if (scan_number(j, &num))
                return j->rc;
            if (!num.integer || !parse_i64(num.s, num.n, &v))
                return jp_fail(j, cx, MTP_EJSON, "expected an int64, got %.*s",
                               (int)(num.n > 40 ? 40 : num.n), num.s);
        } else {
            return jp_fail(j, cx, MTP_EJSON, "expected a long (decimal string), got %s",
                           describe(j, b, sizeof b));
        }
        *(int64_t *)dst = v;
        return 0;
    }
    case MTP_TL_DOUBLE: {
        if (lit(j, "null", 4)) {
            *(double *)dst = NAN;
            return 0;
        }
        jnum_t num;
        if (j->p >= j->end || !(*j->p == '-' || (*j->p >= '0' && *j->p <= '9')))
            return jp_fail(j, cx, MTP_EJSON, "expected a number, got %s",
                           describe(j, b, sizeof b));
        if (scan_number(j, &num))
            return j->rc;
        char sb[128];
        char *s = sb;
        if (num.n >= sizeof sb) {
            s = malloc(num.n + 1);
            if (!s)
                return jp_fail(j, cx, MTP_ENOMEM, "out of memory");
        }
        memcpy(s, num.s, num.n);
        s[num.n] = 0;
        *(double *)dst = strtod(s, NULL);
        if (s != sb)
            free(s);
        return 0;
    }
    case MTP_TL_INT128:
    case MTP_TL_INT256:
    case MTP_TL_BYTES: {
        if (j->p >= j->end || *j->p != '"')
            return jp_fail(j, cx, MTP_EJSON, "expected a hex string, got %s",
                           describe(j, b, sizeof b));
        const char *r;
        size_t rl;
        bool pl;
        if (scan_string(j, &r, &rl, &pl))
            return j->rc;
        if (t->kind == MTP_TL_BYTES)
            return parse_hex(j, cx, r, rl, pl, NULL, 0, (mtp_bytes_t *)dst);
        return parse_hex(j, cx, r, rl, pl, (uint8_t *)dst, t->kind == MTP_TL_INT128 ? 16 : 32,
                         NULL);
    }
    case MTP_TL_STRING: {
        if (j->p >= j->end || *j->p != '"')
            return jp_fail(j, cx, MTP_EJSON, "expected a string, got %s",
                           describe(j, b, sizeof b));
        const char *r;
        size_t rl;
        bool pl;
        if (scan_string(j, &r, &rl, &pl))
            return j->rc;
        mtp_bytes_t *s = (mtp_bytes_t *)dst;
        if (rl == 0) {
            s->ptr = (const uint8_t *)"";
            s->len = 0;
            return 0;
        }
        uint8_t *o = mtp_arena_alloc(j->arena, rl);
        if (!o)
            return jp_fail(j, cx, MTP_ENOMEM, "out of memory");
        size_t n;
        if (pl) {
            memcpy(o, r, rl);
            n = rl;
        } else {
            n = decode_string(r, rl, o);
        }
        if (n > MTP_TL_MAX_BYTES)
            return jp_fail(j, cx, MTP_EJSON, "string longer than %u bytes", MTP_TL_MAX_BYTES);
        s->ptr = o;
        s->len = n;
        return 0;
    }
    case MTP_TL_BOOL:
    case MTP_TL_TRUE:
        if (lit(j, "true", 4))
            *(bool *)dst = true;
        else if (lit(j, "false", 5))
            *(bool *)dst = false;
        else
            return jp_fail(j, cx, MTP_EJSON, "expected true or false, got %s",
                           describe(j, b, sizeof b));
        return 0;
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR:
        return parse_vector(j, t, (mtp_vec_t *)dst, cx);
    case MTP_TL_OBJECT:
    case MTP_TL_BARE_OBJECT:
    case MTP_TL_QUERY: {
        if (j->p < j->end && *j->p == 'n' && lit(j, "null", 4))
            return jp_fail(j, cx, MTP_EJSON, "expected %s object, got null", type_label(t));
        return parse_object(j, t, (mtp_tl_object_t **)dst, cx);
    }
    default:
        return jp_fail(j, cx, MTP_EINVAL, "unsupported type kind %d", t->kind);
    }
}

static int finish(jp_t *j)
{
    skip_ws(j);
    if (j->p != j->end)
        return jp_fail(j, NULL, MTP_EJSON, "trailing garbage at offset %zu",
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
