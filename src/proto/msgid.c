/*
 * libmtproto — msg_id <-> time, the msg_id generator, the replay window of received ids
 * (PROTOCOL.md §3.5, §3.7), and the session's buffer appenders. The int64 map the session
 * uses is the util layer's (src/util/util.h).
 */
#include <mtproto/session.h>

#include <stdlib.h>
#include <string.h>

#include "session_int.h"

/* ---------------------------------------------------------------------------------- */
/* buffers                                                                            */
/* ---------------------------------------------------------------------------------- */

void ses_buf_u32(mtp_buf_t *b, uint32_t v)
{
    uint8_t t[4];
    mtp_put_le32(t, v);
    mtp_buf_append(b, t, 4);
}

void ses_buf_i64(mtp_buf_t *b, int64_t v)
{
    uint8_t t[8];
    mtp_put_le64(t, (uint64_t)v);
    mtp_buf_append(b, t, 8);
}

void ses_buf_tlbytes(mtp_buf_t *b, const uint8_t *p, size_t n)
{
    if (n > MTP_TL_MAX_BYTES) {
        if (!b->err)
            b->err = MTP_EINVAL;
        return;
    }
    if (mtp_buf_reserve(b, mtp_tl_bytes_size(n)))
        return;
    uint8_t *end = mtp_tl_write_bytes(b->data + b->len, p, n);
    b->len = (size_t)(end - b->data);
}

/* ---------------------------------------------------------------------------------- */
/* msg_id and time                                                                    */
/* ---------------------------------------------------------------------------------- */

int64_t mtp_msg_id_from_time(mtp_usec_t t)
{
    if (t < 0)
        t = 0;
    uint64_t sec = (uint64_t)t / 1000000u;
    uint64_t frac = (uint64_t)t % 1000000u;
    uint64_t lo = (frac << 32) / 1000000u;   /* < 2^32 */
    return (int64_t)((sec << 32 | lo) & ~(uint64_t)3);
}

mtp_usec_t mtp_msg_id_time(int64_t msg_id)
{
    uint64_t u = (uint64_t)msg_id;
    uint64_t sec = u >> 32;
    uint64_t frac = u & 0xffffffffu;
    return (mtp_usec_t)(sec * 1000000u + ((frac * 1000000u) >> 32));
}

int64_t msgid_next(int64_t *last, mtp_usec_t t, unsigned mod)
{
    uint64_t id = (uint64_t)mtp_msg_id_from_time(t) | (mod & 3u);
    uint64_t l = (uint64_t)*last;
    if ((int64_t)id <= *last) {
        id = (l & ~(uint64_t)3) | (mod & 3u);
        if ((int64_t)id <= *last)
            id += 4;
    }
    if ((id & 0xffffffffu) == 0)     /* the fraction part must not be all zero */
        id += 4;
    *last = (int64_t)id;
    return (int64_t)id;
}

/* ---------------------------------------------------------------------------------- */
/* replay window                                                                      */
/* ---------------------------------------------------------------------------------- */

int inwin_init(in_win_t *w, uint32_t cap)
{
    memset(w, 0, sizeof *w);
    w->v = calloc(cap, sizeof *w->v);
    if (!w->v)
        return MTP_ENOMEM;
    w->cap = cap;
    return 0;
}

void inwin_free(in_win_t *w)
{
    free(w->v);
    memset(w, 0, sizeof *w);
}

void inwin_clear(in_win_t *w)
{
    w->head = w->n = 0;
    w->max_id = 0;
}

in_rec_t *inwin_at(const in_win_t *w, uint32_t i)
{
    uint32_t k = w->head + i;
    if (k >= w->cap)
        k -= w->cap;
    return &w->v[k];
}

uint32_t inwin_lower(const in_win_t *w, int64_t id)
{
    uint32_t lo = 0, hi = w->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (inwin_at(w, mid)->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

in_rec_t *inwin_find(const in_win_t *w, int64_t id)
{
    uint32_t i = inwin_lower(w, id);
    if (i < w->n && inwin_at(w, i)->id == id)
        return inwin_at(w, i);
    return NULL;
}

bool inwin_full(const in_win_t *w)
{
    return w->n == w->cap;
}

bool inwin_too_old(const in_win_t *w, int64_t id)
{
    return w->n == w->cap && id < inwin_at(w, 0)->id;
}

in_rec_t *inwin_insert(in_win_t *w, int64_t id, int32_t seq, uint32_t flags)
{
    if (w->n == w->cap) {          /* evict the smallest */
        w->head = w->head + 1 == w->cap ? 0 : w->head + 1;
        w->n--;
    }
    uint32_t pos = inwin_lower(w, id);
    /* shift [pos, n) one place towards the tail */
    for (uint32_t i = w->n; i > pos; i--)
        *inwin_at(w, i) = *inwin_at(w, i - 1);
    w->n++;
    in_rec_t *r = inwin_at(w, pos);
    r->id = id;
    r->seq = seq;
    r->flags = flags;
    if (id > w->max_id)
        w->max_id = id;
    return r;
}

