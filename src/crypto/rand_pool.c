/*
 * libmtproto — randomness for message padding from a per-thread pool.
 *
 * Every encrypted message needs 1 + 12..267 random bytes of padding. RAND_bytes per
 * message costs more than the hashing of a 1 KiB message (a getpid() fork check, a DRBG
 * lock and parameter lookups on every call), so padding is served from a 16 KiB buffer per
 * thread refilled from RAND_bytes. Only padding comes from here: nonces, DH exponents and
 * anything else secret keep calling mtp_rand() (RAND_bytes) directly.
 *
 * Hygiene: served bytes are wiped from the pool at once; the pool is wiped when its thread
 * exits (a pthread key destructor) and, in a forked child, by a pthread_atfork handler so
 * that parent and child never hand out the same bytes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "crypto/crypto_internal.h"

/* RAND_bytes costs ~5 k cycles per call plus ~0.3 per byte here: 16 KiB per refill makes
 * the fixed part ~1 % of a 1 KiB message's envelope (one refill per ~120 messages). */
#define POOL_SIZE 16384

typedef struct pool {
    size_t avail;                 /* unused bytes: buf[POOL_SIZE - avail .. POOL_SIZE) */
    uint8_t buf[POOL_SIZE];
} pool_t;

/* Allocated on a thread's first padding request, so threads that never encrypt pay
 * nothing; freed (wiped) by the key destructor when the thread exits. */
static _Thread_local pool_t *tl_pool;

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_key_t pool_key;
static int pool_key_ok;

static void pool_wipe(pool_t *p)
{
    mtp_secure_zero(p->buf, sizeof p->buf);
    p->avail = 0;
}

static void pool_thread_exit(void *v)
{
    pool_wipe(v);
    free(v);
    tl_pool = NULL;
}

/* Runs in the child after fork(), on the thread that forked (the only one left): its
 * copy of the parent's unused bytes must never be served. */
static void pool_atfork_child(void)
{
    if (tl_pool)
        pool_wipe(tl_pool);
}

static void pool_init_once(void)
{
    pool_key_ok = pthread_key_create(&pool_key, pool_thread_exit) == 0;
    if (pool_key_ok && pthread_atfork(NULL, NULL, pool_atfork_child) != 0) {
        /* without the fork handler the pool is unsafe: never use it */
        pthread_key_delete(pool_key);
        pool_key_ok = 0;
    }
}

static pool_t *pool_get(void)
{
    pool_t *p = tl_pool;
    if (p)
        return p;
    pthread_once(&pool_once, pool_init_once);
    if (!pool_key_ok)
        return NULL;
    p = malloc(sizeof *p);
    if (!p)
        return NULL;
    p->avail = 0;
    if (pthread_setspecific(pool_key, p) != 0) {
        free(p);
        return NULL;
    }
    tl_pool = p;
    return p;
}

int mtp_rand_padding(const mtp_rng_t *rng, void *out, size_t n)
{
    pool_t *p;
    if (rng && rng->fill)
        return mtp_rand(rng, out, n);
    if (n == 0)
        return 0;
    if (!out)
        return MTP_EINVAL;
    if (n > 1024 || !(p = pool_get()))
        return mtp_rand(NULL, out, n);
    if (p->avail < n) {
        if (RAND_bytes(p->buf, POOL_SIZE) != 1) {
            pool_wipe(p);
            memset(out, 0, n);
            return MTP_ECRYPTO;
        }
        p->avail = POOL_SIZE;
    }
    uint8_t *src = p->buf + (POOL_SIZE - p->avail);
    memcpy(out, src, n);
    memset(src, 0, n);
    p->avail -= n;
    return 0;
}
