/* Exponential backoff with full jitter: delay = uniform[0, min(cap, base * 2^attempt)]. */
#define _GNU_SOURCE
#include "net_internal.h"

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

/* Uniform in [0, bound] from 64 random bits, without modulo bias (bounded rejection: a
 * degenerate generator cannot make it loop for ever). */
static uint64_t uniform(uint64_t bound, mtp_rng_fn rng, void *ctx)
{
    if (bound == UINT64_MAX)
        return rng(ctx);
    uint64_t range = bound + 1;
    uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;   /* accept r <= limit */
    uint64_t r = rng(ctx);
    for (int i = 0; i < 32 && r > limit; i++)
        r = rng(ctx);
    return r % range;
}

mtp_usec_t mtp_backoff_delay(mtp_usec_t base, mtp_usec_t cap, unsigned attempt,
                             mtp_rng_fn rng, void *ctx)
{
    mtp_usec_t ceil = mtp_backoff_ceiling(base, cap, attempt);
    if (ceil <= 0 || !rng)
        return ceil > 0 ? ceil : 0;
    return (mtp_usec_t)uniform((uint64_t)ceil, rng, ctx);
}

/* splitmix64: the built-in generator (not for cryptography; jitter only). */
static uint64_t builtin_rng(void *ctx)
{
    uint64_t *st = ctx;
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mtp_backoff_init(mtp_backoff_t *b, mtp_usec_t base, mtp_usec_t cap, mtp_rng_fn rng,
                      void *ctx)
{
    if (!b)
        return;
    b->base = base;
    b->cap = cap;
    b->attempt = 0;
    b->rng = rng;
    b->rng_ctx = ctx;
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
    mtp_usec_t d = b->rng ? mtp_backoff_delay(b->base, b->cap, b->attempt, b->rng, b->rng_ctx)
                          : mtp_backoff_delay(b->base, b->cap, b->attempt, builtin_rng, &b->state);
    if (b->attempt < 64)
        b->attempt++;
    return d;
}

void mtp_backoff_reset(mtp_backoff_t *b)
{
    if (b)
        b->attempt = 0;
}
