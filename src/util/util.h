/*
 * libmtproto — the internal util layer: little-endian access, hex, UTF-8, TL bytes headers,
 * an int64 -> pointer hash map. Not installed, not part of the API: every function here is
 * static inline or has hidden visibility. Any layer may include it (it depends on nothing
 * but the C library and MTP_E* codes).
 */
#ifndef MTP_UTIL_H
#define MTP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mtproto/common.h>

#if defined(__GNUC__) || defined(__clang__)
#define MTP_UTIL_HIDDEN __attribute__((visibility("hidden")))
#else
#define MTP_UTIL_HIDDEN
#endif

/* ---- little-endian integers (unaligned access) ---- */

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MTP_UTIL_LE_HOST 1
#else
#define MTP_UTIL_LE_HOST 0
#endif

static inline uint32_t mtp_get_le32(const uint8_t *p)
{
#if MTP_UTIL_LE_HOST
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#else
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
#endif
}

static inline uint64_t mtp_get_le64(const uint8_t *p)
{
#if MTP_UTIL_LE_HOST
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    return (uint64_t)mtp_get_le32(p) | (uint64_t)mtp_get_le32(p + 4) << 32;
#endif
}

static inline void mtp_put_le32(uint8_t *p, uint32_t v)
{
#if MTP_UTIL_LE_HOST
    memcpy(p, &v, 4);
#else
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
#endif
}

static inline void mtp_put_le64(uint8_t *p, uint64_t v)
{
#if MTP_UTIL_LE_HOST
    memcpy(p, &v, 8);
#else
    mtp_put_le32(p, (uint32_t)v);
    mtp_put_le32(p + 4, (uint32_t)(v >> 32));
#endif
}

/* ---- hex ---- */

/* Value of one hex digit (either case), or -1. */
static inline int mtp_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* n bytes -> 2n lowercase hex digits at out (no terminator). */
static inline void mtp_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char dig[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *out++ = dig[p[i] >> 4];
        *out++ = dig[p[i] & 15];
    }
}
/* 2n hex digits (either case) -> n bytes. 0, or MTP_EINVAL at the first non-digit (out
 * then holds the bytes before it). */
MTP_UTIL_HIDDEN int mtp_hex_decode(const char *hex, size_t n, uint8_t *out);

/* ---- UTF-8 ---- */

/* Length (1..4) of the valid UTF-8 sequence at s[0..n), n >= 1; or 0 with *bad set to the
 * length of the maximal invalid subpart (1..3: a decoder that emits one U+FFFD for each
 * such subpart, as WHATWG's, skips *bad bytes). Overlongs, surrogates and code points
 * above U+10FFFF are invalid. */
static inline size_t mtp_utf8_seq(const uint8_t *s, size_t n, size_t *bad)
{
    uint8_t c = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        *bad = 1;
        return 0;
    }
    size_t j = 1;
    for (size_t k = 0; k < need; k++, j++) {
        if (j >= n || s[j] < lo || s[j] > hi) {
            *bad = j;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return j;
}
/* Whether s[0..n) is valid UTF-8 in full. */
MTP_UTIL_HIDDEN bool mtp_utf8_valid(const uint8_t *s, size_t n);
/* Encode a code point (<= 0x10FFFF) at o; returns 1..4. */
MTP_UTIL_HIDDEN size_t mtp_utf8_put(uint8_t *o, uint32_t cp);

/* ---- TL bytes/string header ---- */

/* Encoded size of a TL string of n bytes (n < 2^24): header, data, zero padding. */
static inline size_t mtp_tlb_size(size_t n)
{
    return ((n < 254 ? 1 : 4) + n + 3) & ~(size_t)3;
}

/* Write the header of a TL string of n bytes (n < 2^24) at p; returns its length (1 or 4). */
static inline size_t mtp_tlb_header(uint8_t *p, size_t n)
{
    if (n < 254) {
        p[0] = (uint8_t)n;
        return 1;
    }
    p[0] = 254;
    p[1] = (uint8_t)n;
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)(n >> 16);
    return 4;
}

/* ---- int64 -> pointer hash map ----
 * Open addressing with linear probing and backward-shift deletion (no tombstones); any
 * key, 0 included (kept beside the table). A zeroed struct is an empty map. */
typedef struct mtp_i64map {
    int64_t *keys;      /* 0 = empty slot */
    void **vals;
    uint32_t cap, n;    /* cap: power of two or 0; n counts key 0 too */
    bool has_zero;
    void *zero_val;
} mtp_i64map_t;

MTP_UTIL_HIDDEN void  mtp_i64map_free(mtp_i64map_t *m);
/* The value of key, or NULL if absent (a stored NULL looks absent: use _has). */
MTP_UTIL_HIDDEN void *mtp_i64map_get(const mtp_i64map_t *m, int64_t key);
MTP_UTIL_HIDDEN bool  mtp_i64map_has(const mtp_i64map_t *m, int64_t key);
/* Insert or replace: 0, or MTP_ENOMEM (the map is unchanged). */
MTP_UTIL_HIDDEN int   mtp_i64map_put(mtp_i64map_t *m, int64_t key, void *val);
/* Room for `extra` more keys so that the next `extra` puts cannot fail: 0 or MTP_ENOMEM. */
MTP_UTIL_HIDDEN int   mtp_i64map_reserve(mtp_i64map_t *m, uint32_t extra);
/* Remove key; returns its value (NULL if absent). */
MTP_UTIL_HIDDEN void *mtp_i64map_del(mtp_i64map_t *m, int64_t key);
/* Iterate: *it = 0 first; true with the next entry (k, v may be NULL). A deletion moves
 * entries, so do not delete during a walk: collect the keys, then delete. */
MTP_UTIL_HIDDEN bool  mtp_i64map_next(const mtp_i64map_t *m, size_t *it, int64_t *k, void **v);

#endif
