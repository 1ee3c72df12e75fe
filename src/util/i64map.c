/*
 * libmtproto — internal util layer: int64 -> pointer hash map (src/util/util.h).
 */
#include "util/util.h"

#include <stdlib.h>

static uint32_t slot_of(const mtp_i64map_t *m, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (uint32_t)h & (m->cap - 1);
}

void mtp_i64map_free(mtp_i64map_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

void *mtp_i64map_get(const mtp_i64map_t *m, int64_t key)
{
    if (!key)
        return m->has_zero ? m->zero_val : NULL;
    if (!m->cap)
        return NULL;
    for (uint32_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return m->vals[i];
        if (!m->keys[i])
            return NULL;
    }
}

bool mtp_i64map_has(const mtp_i64map_t *m, int64_t key)
{
    if (!key)
        return m->has_zero;
    if (!m->cap)
        return false;
    for (uint32_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return true;
        if (!m->keys[i])
            return false;
    }
}

/* table keys (0 excluded) */
static uint32_t table_n(const mtp_i64map_t *m)
{
    return m->n - (m->has_zero ? 1u : 0u);
}

static int grow(mtp_i64map_t *m, uint32_t want)
{
    uint32_t ncap = m->cap ? m->cap : 64;
    while ((uint64_t)want * 2 > ncap) {
        if (ncap >= (1u << 30))
            return MTP_ENOMEM;
        ncap *= 2;
    }
    mtp_i64map_t n = { calloc(ncap, sizeof(int64_t)), calloc(ncap, sizeof(void *)), ncap, m->n,
                       m->has_zero, m->zero_val };
    if (!n.keys || !n.vals) {
        free(n.keys);
        free(n.vals);
        return MTP_ENOMEM;
    }
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            uint32_t j = slot_of(&n, m->keys[i]);
            while (n.keys[j])
                j = (j + 1) & (ncap - 1);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    *m = n;
    return 0;
}

int mtp_i64map_reserve(mtp_i64map_t *m, uint32_t extra)
{
    uint64_t want = (uint64_t)table_n(m) + extra;
    if (want > (1u << 29))
        return MTP_ENOMEM;
    if (want * 2 > m->cap)
        return grow(m, (uint32_t)want);
    return 0;
}

int mtp_i64map_put(mtp_i64map_t *m, int64_t key, void *val)
{
    if (!key) {
        if (!m->has_zero)
            m->n++;
        m->has_zero = true;
        m->zero_val = val;
        return 0;
    }
    uint32_t tn = table_n(m);
    if (((uint64_t)tn + 1) * 2 > m->cap && grow(m, tn + 1))
        return MTP_ENOMEM;
    uint32_t i = slot_of(m, key);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

void *mtp_i64map_del(mtp_i64map_t *m, int64_t key)
{
    if (!key) {
        void *v = m->has_zero ? m->zero_val : NULL;
        if (m->has_zero)
            m->n--;
        m->has_zero = false;
        m->zero_val = NULL;
        return v;
    }
    if (!m->cap)
        return NULL;
    uint32_t i = slot_of(m, key);
    while (m->keys[i] != key) {
        if (!m->keys[i])
            return NULL;
        i = (i + 1) & (m->cap - 1);
    }
    void *old = m->vals[i];
    /* backward-shift deletion keeps probe chains intact without tombstones */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->keys[j])
            break;
        uint32_t k = slot_of(m, m->keys[j]);
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
    return old;
}

bool mtp_i64map_next(const mtp_i64map_t *m, size_t *it, int64_t *k, void **v)
{
    /* position 0 is key 0, then the slots */
    if (*it == 0) {
        *it = 1;
        if (m->has_zero) {
            if (k)
                *k = 0;
            if (v)
                *v = m->zero_val;
            return true;
        }
    }
    while (*it - 1 < m->cap) {
        size_t j = (*it)++ - 1;
        if (m->keys[j]) {
            if (k)
                *k = m->keys[j];
            if (v)
                *v = m->vals[j];
            return true;
        }
    }
    return false;
}
