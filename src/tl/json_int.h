/*
 * libmtproto — internals of the TL JSON codec (src/tl/json_num.c, json_write.c, json_lex.c,
 * json_read.c), some shared with print.c. Not installed; hidden.
 */
#ifndef MTP_TL_JSON_INT_H
#define MTP_TL_JSON_INT_H

#include <mtproto/tl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/util.h"

/* json_num.c: shortest decimal that round-trips, laid out as JavaScript's Number::toString
 * does. Returns the length, or 0 for NaN / Infinity (JSON null). */
MTP_UTIL_HIDDEN size_t mtp_tl_fmt_double(double v, char out[40]);
/* json_write.c: the '#' word params[idx] as it goes on the wire. */
MTP_UTIL_HIDDEN uint32_t mtp_tl_nat_value(const mtp_tl_object_t *obj, int idx);

/* ---- the reader's state (json_lex.c, json_read.c) ---- */

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

typedef struct jnum {
    const char *s;
    size_t n;
    bool integer;    /* no fraction, no exponent */
} jnum_t;

/* Record the first error (rc, with "field 'f' of 'c': " from cx) and return it. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
MTP_UTIL_HIDDEN int mtp_json_fail(jp_t *j, const jctx_t *cx, int rc, const char *fmt, ...);
MTP_UTIL_HIDDEN int mtp_json_syntax(jp_t *j, const char *what);
/* A string at j->p: *raw and *rawlen the text between the quotes, *plain when it has no
 * escapes. Decoded length <= rawlen. */
MTP_UTIL_HIDDEN int mtp_json_scan_string(jp_t *j, const char **raw, size_t *rawlen, bool *plain);
/* The raw text of a scanned string decoded into o (room for rawlen); the length. */
MTP_UTIL_HIDDEN size_t mtp_json_decode_string(const char *raw, size_t rawlen, uint8_t *o);
MTP_UTIL_HIDDEN int mtp_json_scan_number(jp_t *j, jnum_t *num);
/* An optionally negative run of decimal digits as int64. */
MTP_UTIL_HIDDEN bool mtp_json_parse_i64(const char *s, size_t n, int64_t *out);
/* Skip any JSON value (syntax checked, nesting bounded). */
MTP_UTIL_HIDDEN int mtp_json_skip_value(jp_t *j);
/* A short printable rendering of the value at j->p, for "got ..." in messages. */
MTP_UTIL_HIDDEN const char *mtp_json_describe(jp_t *j, char *buf, size_t n);

static inline void skip_ws(jp_t *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static inline bool lit(jp_t *j, const char *w, size_t n)
{
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, w, n) == 0) {
        j->p += n;
        return true;
    }
    return false;
}

#endif
