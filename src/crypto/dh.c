/*
 * libmtproto — Diffie-Hellman parameter checks and modular exponentiation.
 *
 * Shared state: a process-wide cache of primes already proven to be safe primes (a fixed
 * table of 8 entries, round-robin replacement) protected by a C11 atomic_flag spin lock.
 * The lock is only held to compare/copy at most 8 x 256 bytes; the expensive primality
 * tests run outside it. Telegram's well-known prime never needs a test.
 */
#include <stdatomic.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>

#include "crypto/crypto_internal.h"

static const uint8_t known_prime[256] = {
    0xc7, 0x1c, 0xae, 0xb9, 0xc6, 0xb1, 0xc9, 0x04, 0x8e, 0x6c, 0x52, 0x2f,
    0x70, 0xf1, 0x3f, 0x73, 0x98, 0x0d, 0x40, 0x23, 0x8e, 0x3e, 0x21, 0xc1,
    0x49, 0x34, 0xd0, 0x37, 0x56, 0x3d, 0x93, 0x0f, 0x48, 0x19, 0x8a, 0x0a,
    0xa7, 0xc1, 0x40, 0x58, 0x22, 0x94, 0x93, 0xd2, 0x25, 0x30, 0xf4, 0xdb,
    0xfa, 0x33, 0x6f, 0x6e, 0x0a, 0xc9, 0x25, 0x13, 0x95, 0x43, 0xae, 0xd4,
    0x4c, 0xce, 0x7c, 0x37, 0x20, 0xfd, 0x51, 0xf6, 0x94, 0x58, 0x70, 0x5a,
    0xc6, 0x8c, 0xd4, 0xfe, 0x6b, 0x6b, 0x13, 0xab, 0xdc, 0x97, 0x46, 0x51,
    0x29, 0x69, 0x32, 0x84, 0x54, 0xf1, 0x8f, 0xaf, 0x8c, 0x59, 0x5f, 0x64,
    0x24, 0x77, 0xfe, 0x96, 0xbb, 0x2a, 0x94, 0x1d, 0x5b, 0xcd, 0x1d, 0x4a,
    0xc8, 0xcc, 0x49, 0x88, 0x07, 0x08, 0xfa, 0x9b, 0x37, 0x8e, 0x3c, 0x4f,
    0x3a, 0x90, 0x60, 0xbe, 0xe6, 0x7c, 0xf9, 0xa4, 0xa4, 0xa6, 0x95, 0x81,
    0x10, 0x51, 0x90, 0x7e, 0x16, 0x27, 0x53, 0xb5, 0x6b, 0x0f, 0x6b, 0x41,
    0x0d, 0xba, 0x74, 0xd8, 0xa8, 0x4b, 0x2a, 0x14, 0xb3, 0x14, 0x4e, 0x0e,
    0xf1, 0x28, 0x47, 0x54, 0xfd, 0x17, 0xed, 0x95, 0x0d, 0x59, 0x65, 0xb4,
    0xb9, 0xdd, 0x46, 0x58, 0x2d, 0xb1, 0x17, 0x8d, 0x16, 0x9c, 0x6b, 0xc4,
    0x65, 0xb0, 0xd6, 0xff, 0x9c, 0xa3, 0x92, 0x8f, 0xef, 0x5b, 0x9a, 0xe4,
    0xe4, 0x18, 0xfc, 0x15, 0xe8, 0x3e, 0xbe, 0xa0, 0xf8, 0x7f, 0xa9, 0xff,
    0x5e, 0xed, 0x70, 0x05, 0x0d, 0xed, 0x28, 0x49, 0xf4, 0x7b, 0xf9, 0x59,
    0xd9, 0x56, 0x85, 0x0c, 0xe9, 0x29, 0x85, 0x1f, 0x0d, 0x81, 0x15, 0xf6,
    0x35, 0xb1, 0x05, 0xee, 0x2e, 0x4e, 0x15, 0xd0, 0x4b, 0x24, 0x54, 0xbf,
    0x6f, 0x4f, 0xad, 0xf0, 0x34, 0xb1, 0x04, 0x03, 0x11, 0x9c, 0xd8, 0xe3,
    0xb9, 0x2f, 0xcc, 0x5b,
};

const uint8_t *mtp_dh_known_prime(void)
{
    return known_prime;
}

static void strip_zeros(const uint8_t **p, size_t *len)
{
    while (*len > 0 && (*p)[0] == 0) {
        (*p)++;
        (*len)--;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Safe-prime cache                                                                     */
/* ------------------------------------------------------------------------------------ */

#define PRIME_CACHE_SLOTS 8

static struct {
    size_t len;          /* 0 = empty */
    uint8_t p[256];
} prime_cache[PRIME_CACHE_SLOTS];
static unsigned prime_cache_next;
static atomic_flag prime_cache_lock = ATOMIC_FLAG_INIT;

static void cache_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&prime_cache_lock, memory_order_acquire)) {
        /* spin: the critical sections are a few memcmp/memcpy calls */
    }
}

static void cache_unlock(void)
{
    atomic_flag_clear_explicit(&prime_cache_lock, memory_order_release);
}

static int cache_has(const uint8_t *p, size_t len)
{
    int found = 0;
    cache_lock();
    for (int i = 0; i < PRIME_CACHE_SLOTS && !found; i++)
        found = prime_cache[i].len == len && memcmp(prime_cache[i].p, p, len) == 0;
    cache_unlock();
    return found;
}

static void cache_add(const uint8_t *p, size_t len)
{
    cache_lock();
    int present = 0;
    for (int i = 0; i < PRIME_CACHE_SLOTS && !present; i++)
        present = prime_cache[i].len == len && memcmp(prime_cache[i].p, p, len) == 0;
    if (!present) {
        unsigned slot = prime_cache_next++ % PRIME_CACHE_SLOTS;
        memcpy(prime_cache[slot].p, p, len);
        prime_cache[slot].len = len;
    }
    cache_unlock();
}

/* ------------------------------------------------------------------------------------ */
/* Parameter checks                                                                     */
/* ------------------------------------------------------------------------------------ */

/* 1 if g generates the subgroup of quadratic residues modulo the safe prime p. */
static int g_rule_ok(const BIGNUM *p, int g)
{
    BN_ULONG r;
    switch (g) {
    case 2:
        r = BN_mod_word(p, 8);
        return r == 7;
    case 3:
        r = BN_mod_word(p, 3);
        return r == 2;
    case 4:
        return 1;
    case 5:
        r = BN_mod_word(p, 5);
        return r == 1 || r == 4;
    case 6:
        r = BN_mod_word(p, 24);
        return r == 19 || r == 23;
    case 7:
        r = BN_mod_word(p, 7);
        return r == 3 || r == 5 || r == 6;
    default:
        return 0;
    }
}

static int is_safe_prime(const BIGNUM *p, BN_CTX *ctx)
{
    BIGNUM *q;
    int ok = 0;
    if (BN_cmp(p, BN_value_one()) <= 0 || !BN_is_odd(p))
        return 0;
    if (BN_check_prime(p, ctx, NULL) != 1)
        return 0;
    BN_CTX_start(ctx);
    q = BN_CTX_get(ctx);
    if (q && BN_rshift1(q, p) && BN_check_prime(q, ctx, NULL) == 1)
        ok = 1;
    BN_CTX_end(ctx);
    return ok;
}

static int check_p_g(const uint8_t *p, size_t p_len, int g, int require_2048)
{
    BIGNUM *bp = NULL;
    BN_CTX *ctx = NULL;
    int rc;
    if (!p && p_len)
        return MTP_EINVAL;
    strip_zeros(&p, &p_len);
    if (require_2048) {
        if (p_len != 256 || !(p[0] & 0x80))
            return MTP_ESECURITY;
    } else if (p_len > 256) {
        return MTP_EINVAL;
    }
    if (g < 2 || g > 7 || p_len == 0)
        return MTP_ESECURITY;
    bp = mtp_bn_from_be_(p, p_len);
    if (!bp)
        return MTP_ENOMEM;
    if (!g_rule_ok(bp, g)) {
        rc = MTP_ESECURITY;
        goto done;
    }
    if (p_len == 256 && memcmp(p, known_prime, 256) == 0) {
        rc = 0;
        goto done;
    }
    if (cache_has(p, p_len)) {
        rc = 0;
        goto done;
    }
    ctx = BN_CTX_new();
    if (!ctx) {
        rc = MTP_ENOMEM;
        goto done;
    }
    if (!is_safe_prime(bp, ctx)) {
        ERR_clear_error();
        rc = MTP_ESECURITY;
        goto done;
    }
    cache_add(p, p_len);
    rc = 0;
done:
    BN_CTX_free(ctx);
    BN_free(bp);
    return rc;
}

int mtp_dh_check_params(const uint8_t *p, size_t p_len, int g)
{
    return check_p_g(p, p_len, g, 1);
}

int mtp_dh_check_safe_prime_g(const uint8_t *p, size_t p_len, int g)
{
    return check_p_g(p, p_len, g, 0);
}

/* ------------------------------------------------------------------------------------ */
/* Public values                                                                        */
/* ------------------------------------------------------------------------------------ */

/* 0 if 2^1984 < v < p - 2^1984 (which implies 1 < v < p - 1). */
static int check_public_bn(const BIGNUM *p, const BIGNUM *v, BN_CTX *ctx)
{
    BIGNUM *lo, *hi;
    int rc = MTP_ENOMEM;
    if (BN_num_bits(p) != 2048)
        return MTP_ESECURITY;
    BN_CTX_start(ctx);
    lo = BN_CTX_get(ctx);
    hi = BN_CTX_get(ctx);
    if (!hi)
        goto done;
    BN_zero(lo);
    if (!BN_set_bit(lo, 2048 - 64) || !BN_sub(hi, p, lo))
        goto done;
    rc = 0;
    if (BN_cmp(v, BN_value_one()) <= 0 || BN_cmp(v, lo) <= 0 || BN_cmp(v, hi) >= 0)
        rc = MTP_ESECURITY;
done:
    BN_CTX_end(ctx);
    return rc;
}

int mtp_dh_check_public(const uint8_t *p, size_t p_len, const uint8_t *v, size_t v_len)
{
    BIGNUM *bp = NULL, *bv = NULL;
    BN_CTX *ctx = NULL;
    int rc = MTP_ENOMEM;
    if ((!p && p_len) || (!v && v_len))
        return MTP_EINVAL;
    strip_zeros(&p, &p_len);
    strip_zeros(&v, &v_len);
    if (p_len != 256 || v_len > 256)
        return MTP_ESECURITY;
    bp = mtp_bn_from_be_(p, p_len);
    bv = mtp_bn_from_be_(v, v_len);
    ctx = BN_CTX_new();
    if (bp && bv && ctx)
        rc = check_public_bn(bp, bv, ctx);
    BN_free(bp);
    BN_free(bv);
    BN_CTX_free(ctx);
    return rc;
}

/* r = base^exp mod m with a secret exponent (m odd). */
int mtp_bn_modexp_secret_(BIGNUM *r, const BIGNUM *base, const BIGNUM *exp, const BIGNUM *m,
                          BN_CTX *ctx)
{
    BIGNUM *b, *e;
    int ok = 0;
    BN_CTX_start(ctx);
    b = BN_CTX_get(ctx);
    e = BN_CTX_get(ctx);
    if (e && BN_nnmod(b, base, m, ctx) && BN_copy(e, exp)) {
        BN_set_flags(e, BN_FLG_CONSTTIME);
        ok = BN_mod_exp_mont_consttime(r, b, e, m, ctx, NULL) == 1;
    }
    if (e)
        BN_clear(e);
    BN_CTX_end(ctx);
    return ok ? 0 : MTP_ECRYPTO;
}

int mtp_modexp(const uint8_t *base, size_t base_len, const uint8_t *exp, size_t exp_len,
               const uint8_t *mod, size_t mod_len, uint8_t *out, size_t out_len)
{
    BIGNUM *b = NULL, *e = NULL, *m = NULL, *r = NULL;
    BN_CTX *ctx = NULL;
    int rc = MTP_ENOMEM;
    if ((!base && base_len) || (!exp && exp_len) || !mod || !out || out_len == 0)
        return MTP_EINVAL;
    b = mtp_bn_from_be_(base, base_len);
    e = mtp_bn_from_be_(exp, exp_len);
    m = mtp_bn_from_be_(mod, mod_len);
    r = BN_new();
    ctx = BN_CTX_new();
    if (!b || !e || !m || !r || !ctx)
        goto done;
    if (!BN_is_odd(m) || BN_is_one(m)) {
        rc = MTP_EINVAL;
        goto done;
    }
    rc = mtp_bn_modexp_secret_(r, b, e, m, ctx);
    if (!rc)
        rc = mtp_bn_to_be_pad_(r, out, out_len);
done:
    if (rc)
        ERR_clear_error();
    BN_clear_free(b);
    BN_clear_free(e);
    BN_free(m);
    BN_clear_free(r);
    BN_CTX_free(ctx);
    return rc;
}

int mtp_dh_public(const uint8_t *p, size_t p_len, int g, const uint8_t secret[256],
                  uint8_t pub[256], size_t *pub_len)
{
    BIGNUM *bp = NULL, *bg = NULL, *bs = NULL, *r = NULL;
    BN_CTX *ctx = NULL;
    int rc = MTP_ENOMEM;
    if (!p || !secret || !pub || !pub_len || g < 2)
        return MTP_EINVAL;
    strip_zeros(&p, &p_len);
    if (p_len == 0 || p_len > 256 || !(p[p_len - 1] & 1))
        return MTP_EINVAL;
    bp = mtp_bn_from_be_(p, p_len);
    bg = BN_new();
    bs = mtp_bn_from_be_(secret, 256);
    r = BN_new();
    ctx = BN_CTX_new();
    if (!bp || !bg || !bs || !r || !ctx || !BN_set_word(bg, (BN_ULONG)g))
        goto done;
    rc = mtp_bn_modexp_secret_(r, bg, bs, bp, ctx);
    if (rc)
        goto done;
    *pub_len = (size_t)BN_num_bytes(r);
    BN_bn2bin(r, pub);
    rc = 0;
done:
    if (rc)
        ERR_clear_error();
    BN_free(bp);
    BN_free(bg);
    BN_clear_free(bs);
    BN_free(r);
    BN_CTX_free(ctx);
    return rc;
}

#define DH_MAX_DRAWS 32

int mtp_dh_generate(const uint8_t *p, size_t p_len, int g, const mtp_rng_t *rng,
                    uint8_t secret[256], uint8_t pub[256], size_t *pub_len)
{
    int rc = MTP_ECRYPTO;
    if (!p || !secret || !pub || !pub_len)
        return MTP_EINVAL;
    for (int i = 0; i < DH_MAX_DRAWS; i++) {
        rc = mtp_rand(rng, secret, 256);
        if (rc)
            break;
        rc = mtp_dh_public(p, p_len, g, secret, pub, pub_len);
        if (rc)
            break;
        rc = mtp_dh_check_public(p, p_len, pub, *pub_len);
        if (rc != MTP_ESECURITY)
            break;
        rc = MTP_ECRYPTO;   /* out of the window: draw again */
    }
    if (rc) {
        mtp_secure_zero(secret, 256);
        mtp_secure_zero(pub, 256);
        *pub_len = 0;
    }
    return rc;
}

int mtp_dh_shared(const uint8_t *p, size_t p_len, const uint8_t *other_pub, size_t other_len,
                  const uint8_t secret[256], uint8_t auth_key[256])
{
    BIGNUM *bp = NULL, *bo = NULL, *bs = NULL, *r = NULL;
    BN_CTX *ctx = NULL;
    int rc;
    if (!p || !other_pub || !secret || !auth_key)
        return MTP_EINVAL;
    rc = mtp_dh_check_public(p, p_len, other_pub, other_len);
    if (rc)
        return rc;
    rc = MTP_ENOMEM;
    bp = mtp_bn_from_be_(p, p_len);
    bo = mtp_bn_from_be_(other_pub, other_len);
    bs = mtp_bn_from_be_(secret, 256);
    r = BN_new();
    ctx = BN_CTX_new();
    if (!bp || !bo || !bs || !r || !ctx)
        goto done;
    rc = mtp_bn_modexp_secret_(r, bo, bs, bp, ctx);
    if (!rc)
        rc = mtp_bn_to_be_pad_(r, auth_key, 256);
done:
    if (rc) {
        ERR_clear_error();
        mtp_secure_zero(auth_key, 256);
    }
    BN_free(bp);
    BN_free(bo);
    BN_clear_free(bs);
    BN_clear_free(r);
    BN_CTX_free(ctx);
    return rc;
}
