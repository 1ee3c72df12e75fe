/*
 * libmtproto — msg_id <-> time, the msg_id generator, the replay window of received ids
 * and a small int64-keyed hash map used by the session (docs/PROTOCOL.md §3.5, §3.7).
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
    ses_put32(t, v);
    mtp_buf_append(b, t, 4);
}

void ses_buf_i64(mtp_buf_t *b, int64_t v)
{
    uint8_t t[8];
    ses_put64(t, v);
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

/* ---------------------------------------------------------------------------------- */
/* id map                                                                             */
/* ---------------------------------------------------------------------------------- */

static uint32_t idmap_slot(const id_map_t *m, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (uint32_t)h & (m->cap - 1);
}

void idmap_free(id_map_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

void *idmap_get(const id_map_t *m, int64_t key)
{
    if (!m->cap || !key)
        return NULL;
    for (uint32_t i = idmap_slot(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return m->vals[i];
        if (!m->keys[i])
            return NULL;
    }
}

static int idmap_grow(id_map_t *m, uint32_t want)
{
    uint32_t ncap = m->cap ? m->cap : 64;
    while ((uint64_t)want * 2 > ncap) {
        if (ncap >= (1u << 30))
            return MTP_ENOMEM;
        ncap *= 2;
    }
    id_map_t n = { calloc(ncap, sizeof(int64_t)), calloc(ncap, sizeof(void *)), ncap, 0 };
    if (!n.keys || !n.vals) {
        free(n.keys);
        free(n.vals);
        return MTP_ENOMEM;
    }
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            uint32_t j = idmap_slot(&n, m->keys[i]);
            while (n.keys[j])
                j = (j + 1) & (ncap - 1);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
            n.n++;
        }
    free(m->keys);
    free(m->vals);
    *m = n;
    return 0;
}

int idmap_reserve(id_map_t *m, uint32_t extra)
{
    uint64_t want = (uint64_t)m->n + extra;
    if (want > (1u << 29))
        return MTP_ENOMEM;
    if (want * 2 > m->cap)
        return idmap_grow(m, (uint32_t)want);
    return 0;
}

int idmap_put(id_map_t *m, int64_t key, void *val)
{
    if (!key)
        return MTP_EINVAL;
    if (((uint64_t)m->n + 1) * 2 > m->cap && idmap_grow(m, m->n + 1))
        return MTP_ENOMEM;
    uint32_t i = idmap_slot(m, key);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

void idmap_del(id_map_t *m, int64_t key)
{
    if (!m->cap || !key)
        return;
    uint32_t i = idmap_slot(m, key);
    while (m->keys[i] != key) {
        if (!m->keys[i])
            return;
        i = (i + 1) & (m->cap - 1);
    }
    /* backward-shift deletion keeps probe chains intact without tombstones */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->keys[j])
            break;
        uint32_t k = idmap_slot(m, m->keys[j]);
        /* move j to i if k is cyclically outside (i, j] */
        bool move = (i <= j) ? (k <= i || k > j) : (k <= i && k > j);
        if (move) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = NULL;
    m->n--;
}
