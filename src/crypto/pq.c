/*
 * libmtproto — pq factorisation (Pollard rho, Brent's cycle finding) and 64-bit primes.
 */
#include <string.h>

#include "crypto/crypto_internal.h"

/* ---- 64-bit modular arithmetic ---- */

#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 mtp_u128;

static inline uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t)(((mtp_u128)a * b) % m);
}
#else
/* Portable fallback: double-and-add without overflow (a, b < m). */
static inline uint64_t addmod(uint64_t a, uint64_t b, uint64_t m)
{
    return a >= m - b ? a - (m - b) : a + b;
}

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    uint64_t r = 0;
    a %= m;
    b %= m;
    while (b) {
        if (b & 1)
            r = addmod(r, a, m);
        a = addmod(a, a, m);
        b >>= 1;
    }
    return r;
}
#endif

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t m)
{
    uint64_t r = 1 % m;
    b %= m;
    while (e) {
        if (e & 1)
            r = mulmod(r, b, m);
        b = mulmod(b, b, m);
        e >>= 1;
    }
    return r;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Miller-Rabin with the first 12 prime bases: deterministic for all n < 3.3e24. */
int mtp_is_prime_u64(uint64_t n)
{
    static const uint64_t bases[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 };
    uint64_t d;
    int s = 0;
    if (n < 2)
        return 0;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        if (n == bases[i])
            return 1;
        if (n % bases[i] == 0)
            return 0;
    }
    d = n - 1;
    while ((d & 1) == 0) {
        d >>= 1;
        s++;
    }
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        uint64_t x = powmod(bases[i], d, n);
        if (x == 1 || x == n - 1)
            continue;
        int composite = 1;
        for (int r = 1; r < s; r++) {
            x = mulmod(x, x, n);
            if (x == n - 1) {
                composite = 0;
                break;
            }
        }
        if (composite)
            return 0;
    }
    return 1;
}

/* f(y) = y^2 + c mod n without overflow (c < n). */
static inline uint64_t rho_f(uint64_t y, uint64_t c, uint64_t n)
{
    uint64_t t = mulmod(y, y, n);
    return t >= n - c ? t - (n - c) : t + c;
}

/*
 * One Brent-rho run with f(y) = y^2 + c mod n, starting at y0. Products of |x - y| are
 * accumulated m at a time and gcd'd once per batch; on overshoot (gcd == n) the last
 * batch is replayed one step at a time. Returns a factor in (1, n], n meaning failure.
 */
static uint64_t brent(uint64_t n, uint64_t y0, uint64_t c)
{
    const uint64_t m = 128;
    uint64_t y = y0, x = y0, ys = y0, q = 1, g = 1, r = 1;
    while (g == 1) {
        x = y;
        for (uint64_t i = 0; i < r; i++)
            y = rho_f(y, c, n);
        for (uint64_t k = 0; k < r && g == 1; k += m) {
            ys = y;
            uint64_t lim = (r - k) < m ? (r - k) : m;
            for (uint64_t i = 0; i < lim; i++) {
                y = rho_f(y, c, n);
                q = mulmod(q, x > y ? x - y : y - x, n);
            }
            g = gcd64(q, n);
        }
        r <<= 1;
        if (r > ((uint64_t)1 << 40))   /* never for a real pq; bounded anyway */
            return n;
    }
    if (g == n) {
        do {
            ys = rho_f(ys, c, n);
            g = gcd64(x > ys ? x - ys : ys - x, n);
        } while (g == 1);
    }
    return g;
}

/* Some non-trivial factor of an odd composite n > 3, or 0. */
static uint64_t find_factor(uint64_t n)
{
    for (uint64_t c = 1; c < 64; c++) {
        uint64_t d = brent(n, 2 + c, c);
        if (d > 1 && d < n)
            return d;
    }
    return 0;
}

int mtp_factorize_pq(uint64_t pq, uint64_t *p, uint64_t *q)
{
    uint64_t d = 0, a, b;
    if (!p || !q)
        return MTP_EINVAL;
    *p = *q = 0;
    if (pq < 6 || mtp_is_prime_u64(pq))
        return MTP_EINVAL;
    /* Small factors by trial division (also covers even pq). */
    for (uint64_t t = 2; t < 1000 && t * t <= pq; t++) {
        if (pq % t == 0) {
            d = t;
            break;
        }
    }
    if (!d)
        d = find_factor(pq);
    if (!d)
        return MTP_EINVAL;
    a = d;
    b = pq / d;
    if (a > b) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    if (a == b || !mtp_is_prime_u64(a) || !mtp_is_prime_u64(b))
        return MTP_EINVAL;
    *p = a;
    *q = b;
    return 0;
}

static size_t u64_to_be_min(uint64_t v, uint8_t out[8])
{
    uint8_t tmp[8];
    size_t n = 0;
    for (int i = 7; i >= 0; i--) {
        tmp[i] = (uint8_t)v;
        v >>= 8;
    }
    while (n < 7 && tmp[n] == 0)
        n++;
    memcpy(out, tmp + n, 8 - n);
    return 8 - n;
}

int mtp_factorize_pq_bytes(const uint8_t *pq, size_t pq_len,
                           uint8_t p[8], size_t *p_len, uint8_t q[8], size_t *q_len)
{
    uint64_t v = 0, a, b;
    size_t i = 0;
    int rc;
    if (!pq || !p || !p_len || !q || !q_len || pq_len == 0)
        return MTP_EINVAL;
    while (i < pq_len && pq[i] == 0)
        i++;
    if (pq_len - i > 8)
        return MTP_EINVAL;
    for (; i < pq_len; i++)
        v = (v << 8) | pq[i];
    rc = mtp_factorize_pq(v, &a, &b);
    if (rc)
        return rc;
    *p_len = u64_to_be_min(a, p);
    *q_len = u64_to_be_min(b, q);
    return 0;
}

static int random_prime(const mtp_rng_t *rng, uint64_t lo, uint64_t span, uint64_t *out)
{
    for (int tries = 0; tries < 100000; tries++) {
        uint8_t r[8];
        uint64_t v = 0;
        int rc = mtp_rand(rng, r, sizeof r);
        if (rc)
            return rc;
        for (int i = 0; i < 8; i++)
            v = (v << 8) | r[i];
        v = (lo + v % span) | 1;
        if (mtp_is_prime_u64(v)) {
            *out = v;
            return 0;
        }
    }
    return MTP_ECRYPTO;
}

int mtp_pq_generate(const mtp_rng_t *rng, uint64_t *pq, uint64_t *p, uint64_t *q)
{
    /* p, q in [2^30, 3037000499]: 3037000499^2 < 2^63. */
    const uint64_t lo = (uint64_t)1 << 30, hi = 3037000499u;
    uint64_t a, b;
    int rc;
    if (!pq || !p || !q)
        return MTP_EINVAL;
    do {
        rc = random_prime(rng, lo, hi - lo, &a);
        if (rc)
            return rc;
        rc = random_prime(rng, lo, hi - lo, &b);
        if (rc)
            return rc;
    } while (a == b);
    if (a > b) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    *p = a;
    *q = b;
    *pq = a * b;
    return 0;
}
