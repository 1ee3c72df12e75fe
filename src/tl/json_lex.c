/*
 * libmtproto — the JSON lexer of the TL JSON reader: error reporting, strings, numbers,
 * skipping values (src/tl/json_int.h).
 */
#include "tl/json_int.h"

#include <stdarg.h>
#include <stdio.h>


int mtp_json_fail(jp_t *j, const jctx_t *cx, int rc, const char *fmt, ...)
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

int mtp_json_syntax(jp_t *j, const char *what)
{
    return mtp_json_fail(j, NULL, MTP_EJSON, "JSON syntax error at offset %zu: %s",
                   (size_t)(j->p - j->s), what);
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
int mtp_json_scan_string(jp_t *j, const char **raw, size_t *rawlen, bool *plain)
{
    if (j->p >= j->end || *j->p != '"')
        return mtp_json_syntax(j, "expected a string");
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
                    return mtp_json_syntax(j, "bad \\u escape");
                }
                p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' ||
                       e == 'n' || e == 'r' || e == 't') {
                p += 2;
            } else {
                j->p = p;
                return mtp_json_syntax(j, "bad escape in string");
            }
            continue;
        }
        if (c < 0x20) {
            j->p = p;
            return mtp_json_syntax(j, "control character in string");
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t bad = 0, k = mtp_utf8_seq((const uint8_t *)p, (size_t)(j->end - p), &bad);
        if (!k) {
            j->p = p;
            return mtp_json_syntax(j, "invalid UTF-8 in string");
        }
        p += k;
    }
    j->p = p;
    return mtp_json_syntax(j, "unterminated string");
}

/* Decode the raw text of a scanned string into o (room for rawlen bytes). Lone surrogates
 * become U+FFFD (as a JavaScript TextEncoder would). Returns the decoded length. */
size_t mtp_json_decode_string(const char *raw, size_t rawlen, uint8_t *o)
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

int mtp_json_scan_number(jp_t *j, jnum_t *num)
{
    const char *p = j->p, *e = j->end;
    const char *s = p;
    bool integer = true;
    if (p < e && *p == '-')
        p++;
    if (p >= e || !(*p >= '0' && *p <= '9'))
        return mtp_json_syntax(j, "bad number");
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
            return mtp_json_syntax(j, "bad number");
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
            return mtp_json_syntax(j, "bad number");
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
bool mtp_json_parse_i64(const char *s, size_t n, int64_t *out)
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

static int skip_container(jp_t *j, char close)
{
    if (++j->depth > JP_MAX_NEST)
        return mtp_json_fail(j, NULL, MTP_EJSON, "JSON nesting deeper than the limit at offset %zu",
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
            if (mtp_json_scan_string(j, &r, &rl, &pl))
                return j->rc;
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return mtp_json_syntax(j, "expected ':'");
            j->p++;
            skip_ws(j);
        }
        if (mtp_json_skip_value(j))
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
        return mtp_json_syntax(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    j->depth--;
    return 0;
}

int mtp_json_skip_value(jp_t *j)
{
    skip_ws(j);
    if (j->p >= j->end)
        return mtp_json_syntax(j, "unexpected end of input");
    switch (*j->p) {
    case '{':
        return skip_container(j, '}');
    case '[':
        return skip_container(j, ']');
    case '"': {
        const char *r;
        size_t rl;
        bool pl;
        return mtp_json_scan_string(j, &r, &rl, &pl);
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
        return mtp_json_scan_number(j, &num);
    }
    }
    return mtp_json_syntax(j, "unexpected token");
}

/* A short printable rendering of the JSON value at j->p, for "got ..." in messages. */
const char *mtp_json_describe(jp_t *j, char *buf, size_t n)
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
