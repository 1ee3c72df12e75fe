/* Exponential backoff with full jitter: delay = uniform[0, min(cap, base * 2^attempt)]. */
#define _GNU_SOURCE
#include "net_internal.h"

#include <mtproto/crypto.h>

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

mtp_usec_t mtp_backoff_ceiling(mtp_usec_t base, mtp_usec_t cap, unsigned attempt)
{
    if (base <= 0 || cap <= 0)
        return 0;
    if (base >= cap)
        return cap;
    mtp_usec_t c = base;
    for (unsigned i = 0; i < attempt; i++) {
        if (c > cap / 2)
            return cap;
        c *= 2;
    }
    return c < cap ? c : cap;
}

/* 64 random bits from rng; false if it failed */
static bool draw(const mtp_rng_t *rng, uint64_t *r)
{
    uint8_t b[8];
    if (!rng->fill || rng->fill(rng->ctx, b, sizeof b) != 0)
        return false;
    memcpy(r, b, sizeof b);
    return true;
}

/* Uniform in [0, bound] from 64 random bits, without modulo bias (bounded rejection: a
 * degenerate generator cannot make it loop for ever). bound on failure of the rng. */
static uint64_t uniform(uint64_t bound, const mtp_rng_t *rng)
{
    uint64_t r;
    if (!draw(rng, &r))
        return bound;
    if (bound == UINT64_MAX)
        return r;
    uint64_t range = bound + 1;
    uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;   /* accept r <= limit */
    for (int i = 0; i < 32 && r > limit; i++)
        if (!draw(rng, &r))
            return bound;
    return r % range;
}

mtp_usec_t mtp_backoff_delay(mtp_usec_t base, mtp_usec_t cap, unsigned attempt,
                             const mtp_rng_t *rng)
{
    mtp_usec_t ceil = mtp_backoff_ceiling(base, cap, attempt);
    if (ceil <= 0 || !rng)
        return ceil > 0 ? ceil : 0;
    return (mtp_usec_t)uniform((uint64_t)ceil, rng);
}

/* splitmix64: the built-in generator (not for cryptography; jitter only). */
static uint64_t splitmix(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int builtin_fill(void *ctx, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = splitmix(ctx);
        memcpy(out + i, &v, n - i < 8 ? n - i : 8);
    }
    return 0;
}

void mtp_backoff_init(mtp_backoff_t *b, mtp_usec_t base, mtp_usec_t cap, const mtp_rng_t *rng)
{
    if (!b)
        return;
    b->base = base;
    b->cap = cap;
    b->attempt = 0;
    b->rng = rng;
    b->state = 0;
    if (!rng) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                   (uint64_t)(uintptr_t)b ^ ((uint64_t)getpid() << 16);
        }
        b->state = seed;
    }
}

mtp_usec_t mtp_backoff_next(mtp_backoff_t *b)
{
    if (!b)
        return 0;
    mtp_rng_t builtin = { builtin_fill, &b->state };
    mtp_usec_t d = mtp_backoff_delay(b->base, b->cap, b->attempt, b->rng ? b->rng : &builtin);
    if (b->attempt < 64)
        b->attempt++;
    return d;
}

void mtp_backoff_reset(mtp_backoff_t *b)
{
    if (b)
        b->attempt = 0;
}
