/*
 * The intermediate transport written out by hand for tests and benches that send their own
 * (hostile) bytes: the 0xeeeeeeee tag before the first frame, then little-endian length +
 * payload each way. Independent of the library's transport API on purpose.
 */
#ifndef MTP_TEST_INTERMEDIATE_H
#define MTP_TEST_INTERMEDIATE_H

#include <mtproto/common.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ifr {
    bool tagged;                /* the tag went out */
    uint8_t *in;                /* received bytes not yet returned as packets */
    size_t in_len, in_cap;
    size_t skip;                /* the packet returned last (dropped at the next call) */
} ifr_t;

static inline void ifr_init(ifr_t *t)
{
    memset(t, 0, sizeof *t);
}

static inline void ifr_free(ifr_t *t)
{
    free(t->in);
    memset(t, 0, sizeof *t);
}

/* Append the frame of p[0..n) (and the tag before the first) to out. */
static inline void ifr_frame(ifr_t *t, const uint8_t *p, size_t n, mtp_buf_t *out)
{
    if (!t->tagged) {
        mtp_buf_append(out, "\xee\xee\xee\xee", 4);
        t->tagged = true;
    }
    uint8_t len[4] = { (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24) };
    mtp_buf_append(out, len, 4);
    mtp_buf_append(out, p, n);
}

static inline void ifr_feed(ifr_t *t, const uint8_t *p, size_t n)
{
    if (t->in_len + n > t->in_cap) {
        t->in_cap = (t->in_len + n) * 2;
        t->in = realloc(t->in, t->in_cap);
    }
    memcpy(t->in + t->in_len, p, n);
    t->in_len += n;
}

/* The next complete packet (valid until the next call), or false. */
static inline bool ifr_next(ifr_t *t, const uint8_t **pkt, size_t *len)
{
    if (t->skip) {
        memmove(t->in, t->in + t->skip, t->in_len - t->skip);
        t->in_len -= t->skip;
        t->skip = 0;
    }
    if (t->in_len < 4)
        return false;
    size_t n = (size_t)t->in[0] | (size_t)t->in[1] << 8 | (size_t)t->in[2] << 16 |
               (size_t)(t->in[3] & 0x7f) << 24;
    if (t->in_len < 4 + n)
        return false;
    *pkt = t->in + 4;
    *len = n;
    t->skip = 4 + n;
    return true;
}

#endif
