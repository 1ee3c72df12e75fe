/*
 * libmtproto — digests, HMAC, PBKDF2, randomness, small shared helpers.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "crypto/crypto_internal.h"

/* ------------------------------------------------------------------------------------ */
/* Utilities                                                                            */
/* ------------------------------------------------------------------------------------ */

void mtp_crypto_fatal_(const char *what)
{
    /* Only reachable when OpenSSL cannot allocate or lost its default provider. No secret
     * material is printed. */
    fprintf(stderr, "libmtproto: fatal: %s failed inside OpenSSL\n", what);
    abort();
}

int mtp_ct_memeq(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return 1;
    return CRYPTO_memcmp(a, b, n) == 0;
}

void mtp_secure_zero(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

/* ------------------------------------------------------------------------------------ */
/* Randomness                                                                           */
/* ------------------------------------------------------------------------------------ */

int mtp_rand(const mtp_rng_t *rng, void *out, size_t n)
{
    uint8_t *o = out;
    if (n == 0)
        return 0;
    if (!o)
        return MTP_EINVAL;
    if (rng && rng->fill) {
        int rc = rng->fill(rng->ctx, o, n);
        if (rc != 0) {
            memset(o, 0, n);
            return mtp_rng_err_(rc);
        }
        return 0;
    }
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(o, chunk) != 1) {
            memset(out, 0, (size_t)(o - (uint8_t *)out) + n);
            return MTP_ECRYPTO;
        }
        o += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

static int replay_fill(void *ctx, uint8_t *out, size_t n)
{
    mtp_rng_replay_t *st = ctx;
    if (!st || st->pos > st->len || n > st->len - st->pos)
        return MTP_ERANGE;
    memcpy(out, st->data + st->pos, n);
    st->pos += n;
    return 0;
}

void mtp_rng_replay_init(mtp_rng_t *rng, mtp_rng_replay_t *state, const void *data, size_t len)
{
    state->data = data;
    state->len = data ? len : 0;
    state->pos = 0;
    rng->fill = replay_fill;
    rng->ctx = state;
}

size_t mtp_rng_replay_left(const mtp_rng_replay_t *state)
{
    return state->pos <= state->len ? state->len - state->pos : 0;
}

/* ------------------------------------------------------------------------------------ */
/* Digest handle cache                                                                  */
/* ------------------------------------------------------------------------------------ */

/*
 * OpenSSL 3 re-fetches the implementation on every EVP_DigestInit with EVP_sha256() &c.
 * (≈200 ns per call here — as much as hashing a small message). Fetch each digest once
 * and publish it with a compare-and-swap; a thread that loses the race frees its copy.
 * The handles are immutable and live until exit.
 */
enum { MD_SHA1, MD_SHA256, MD_SHA512, MD_MD5, MD_COUNT };
static _Atomic(EVP_MD *) md_cache[MD_COUNT];

static const EVP_MD *md_get(int which)
{
    static const char *const names[MD_COUNT] = { "SHA1", "SHA256", "SHA512", "MD5" };
    EVP_MD *md = atomic_load_explicit(&md_cache[which], memory_order_acquire);
    if (md)
        return md;
    md = EVP_MD_fetch(NULL, names[which], NULL);
    if (!md) {
        switch (which) {   /* implicit fetch on use; slower but works */
        case MD_SHA1: return EVP_sha1();
        case MD_SHA256: return EVP_sha256();
        case MD_SHA512: return EVP_sha512();
        default: return EVP_md5();
        }
    }
    EVP_MD *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&md_cache[which], &expected, md,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        EVP_MD_free(md);
        md = expected;
    }
    return md;
}

const EVP_MD *mtp_md_sha1_(void) { return md_get(MD_SHA1); }
const EVP_MD *mtp_md_sha256_(void) { return md_get(MD_SHA256); }
const EVP_MD *mtp_md_sha512_(void) { return md_get(MD_SHA512); }
const EVP_MD *mtp_md_md5_(void) { return md_get(MD_MD5); }

/* ------------------------------------------------------------------------------------ */
/* Digests                                                                              */
/* ------------------------------------------------------------------------------------ */

int mtp_digest_v_(const EVP_MD *md, const mtp_bytes_t *parts, size_t n, uint8_t *out)
{
    int rc = MTP_ECRYPTO;
    if (n && !parts)
        return MTP_EINVAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return MTP_ENOMEM;
    if (EVP_DigestInit_ex2(ctx, md, NULL) != 1)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len == 0)
            continue;
        if (!parts[i].ptr) {
            rc = MTP_EINVAL;
            goto done;
        }
        if (EVP_DigestUpdate(ctx, parts[i].ptr, parts[i].len) != 1)
            goto done;
    }
    if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        goto done;
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);   /* cleanses the digest state */
    return rc;
}

static int digest1(const EVP_MD *md, const void *in, size_t len, uint8_t *out)
{
    mtp_bytes_t part = MTP_BYTES(in, len);
    if (!out)
        return MTP_EINVAL;
    return mtp_digest_v_(md, &part, 1, out);
}

int mtp_sha1(const void *in, size_t len, uint8_t out[20])
{
    return digest1(mtp_md_sha1_(), in, len, out);
}

/* SHA-256 goes to the SHA-NI code (sha256.c) when the CPU has it, else to EVP. */
int mtp_sha256(const void *in, size_t len, uint8_t out[32])
{
    if (out && (in || len == 0) && mtp_sha256_ni_ok_()) {
        mtp_bytes_t part = MTP_BYTES(in, len);
        mtp_sha256_ni_v_(&part, 1, out);
        return 0;
    }
    return digest1(mtp_md_sha256_(), in, len, out);
}

/* The SHA-NI path for a parts list; 0 if it cannot take it (then use EVP). */
static int sha256_v_ni(const mtp_bytes_t *parts, size_t n, uint8_t out[32])
{
    if (!mtp_sha256_ni_ok_() || (n && !parts))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (parts[i].len && !parts[i].ptr)
            return 0;   /* EVP path reports MTP_EINVAL */
    mtp_sha256_ni_v_(parts, n, out);
    return 1;
}

int mtp_sha512(const void *in, size_t len, uint8_t out[64])
{
    return digest1(mtp_md_sha512_(), in, len, out);
}

int mtp_md5(const void *in, size_t len, uint8_t out[16])
{
    return digest1(mtp_md_md5_(), in, len, out);
}

int mtp_sha1_v(const mtp_bytes_t *parts, size_t n, uint8_t out[20])
{
    if (!out)
        return MTP_EINVAL;
    return mtp_digest_v_(mtp_md_sha1_(), parts, n, out);
}

int mtp_sha256_v(const mtp_bytes_t *parts, size_t n, uint8_t out[32])
{
    if (!out)
        return MTP_EINVAL;
    if (sha256_v_ni(parts, n, out))
        return 0;
    return mtp_digest_v_(mtp_md_sha256_(), parts, n, out);
}

void mtp_sha1_v_must_(const mtp_bytes_t *parts, size_t n, uint8_t out[20])
{
    if (mtp_digest_v_(mtp_md_sha1_(), parts, n, out) != 0)
        mtp_crypto_fatal_("SHA-1");
}

void mtp_sha256_v_must_(const mtp_bytes_t *parts, size_t n, uint8_t out[32])
{
    if (sha256_v_ni(parts, n, out))
        return;
    if (mtp_digest_v_(mtp_md_sha256_(), parts, n, out) != 0)
        mtp_crypto_fatal_("SHA-256");
}

/* ---- incremental ---- */

struct mtp_hash {
    EVP_MD_CTX *ctx;
    const EVP_MD *md;
    mtp_hash_alg_t alg;
};

size_t mtp_hash_len(mtp_hash_alg_t alg)
{
    switch (alg) {
    case MTP_HASH_MD5: return MTP_MD5_LEN;
    case MTP_HASH_SHA1: return MTP_SHA1_LEN;
    case MTP_HASH_SHA256: return MTP_SHA256_LEN;
    case MTP_HASH_SHA512: return MTP_SHA512_LEN;
    }
    return 0;
}

int mtp_hash_new(mtp_hash_alg_t alg, mtp_hash_t **out)
{
    const EVP_MD *md;
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    switch (alg) {
    case MTP_HASH_MD5: md = mtp_md_md5_(); break;
    case MTP_HASH_SHA1: md = mtp_md_sha1_(); break;
    case MTP_HASH_SHA256: md = mtp_md_sha256_(); break;
    case MTP_HASH_SHA512: md = mtp_md_sha512_(); break;
    default: return MTP_EINVAL;
    }
    mtp_hash_t *h = calloc(1, sizeof *h);
    if (!h)
        return MTP_ENOMEM;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx) {
        free(h);
        return MTP_ENOMEM;
    }
    h->md = md;
    h->alg = alg;
    if (EVP_DigestInit_ex2(h->ctx, md, NULL) != 1) {
        mtp_hash_free(h);
        return MTP_ECRYPTO;
    }
    *out = h;
    return 0;
}

int mtp_hash_update(mtp_hash_t *h, const void *p, size_t n)
{
    if (!h || (!p && n))
        return MTP_EINVAL;
    if (n == 0)
        return 0;
    return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : MTP_ECRYPTO;
}

int mtp_hash_final(mtp_hash_t *h, uint8_t *out)
{
    if (!h || !out)
        return MTP_EINVAL;
    if (EVP_DigestFinal_ex(h->ctx, out, NULL) != 1)
        return MTP_ECRYPTO;
    return EVP_DigestInit_ex2(h->ctx, h->md, NULL) == 1 ? 0 : MTP_ECRYPTO;
}

void mtp_hash_free(mtp_hash_t *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

/* ------------------------------------------------------------------------------------ */
/* HMAC-SHA256, PBKDF2-HMAC-SHA512                                                      */
/* ------------------------------------------------------------------------------------ */

int mtp_hmac_sha256_v(const void *key, size_t key_len, const mtp_bytes_t *parts, size_t n,
                      uint8_t out[32])
{
    int rc = MTP_ECRYPTO;
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    size_t outl = 0;
    static const uint8_t empty_key[1] = { 0 };
    char digest_name[] = "SHA256";
    OSSL_PARAM params[2];

    if (!out || (!key && key_len) || (n && !parts))
        return MTP_EINVAL;
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return MTP_ECRYPTO;
    ctx = EVP_MAC_CTX_new(mac);
    if (!ctx) {
        rc = MTP_ENOMEM;
        goto done;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0);
    params[1] = OSSL_PARAM_construct_end();
    /* EVP_MAC_init rejects a NULL key; an empty HMAC key is a valid 0-length key. */
    if (EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params) != 1)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len == 0)
            continue;
        if (!parts[i].ptr) {
            rc = MTP_EINVAL;
            goto done;
        }
        if (EVP_MAC_update(ctx, parts[i].ptr, parts[i].len) != 1)
            goto done;
    }
    if (EVP_MAC_final(ctx, out, &outl, 32) != 1 || outl != 32)
        goto done;
    rc = 0;
done:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

int mtp_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[32])
{
    mtp_bytes_t part = MTP_BYTES(data, len);
    if (!data && len)
        return MTP_EINVAL;
    return mtp_hmac_sha256_v(key, key_len, &part, 1, out);
}

int mtp_pbkdf2_hmac_sha512(const void *password, size_t password_len,
                           const void *salt, size_t salt_len, uint32_t iterations,
                           uint8_t *out, size_t out_len)
{
    static const char empty[1] = { 0 };
    if ((!password && password_len) || (!salt && salt_len) || !out || out_len == 0 ||
        iterations == 0 || iterations > (uint32_t)INT_MAX || password_len > (size_t)INT_MAX ||
        salt_len > (size_t)INT_MAX || out_len > (size_t)INT_MAX)
        return MTP_EINVAL;
    if (PKCS5_PBKDF2_HMAC(password_len ? password : empty, (int)password_len,
                          salt_len ? salt : (const void *)empty, (int)salt_len,
                          (int)iterations, mtp_md_sha512_(), (int)out_len, out) != 1) {
        mtp_secure_zero(out, out_len);
        return MTP_ECRYPTO;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* BN helpers, TL bytes                                                                 */
/* ------------------------------------------------------------------------------------ */

BIGNUM *mtp_bn_from_be_(const uint8_t *p, size_t len)
{
    static const uint8_t zero[1] = { 0 };
    if (len > (size_t)INT_MAX)
        return NULL;
    return BN_bin2bn(len ? p : zero, (int)len, NULL);
}

int mtp_bn_to_be_pad_(const BIGNUM *bn, uint8_t *out, size_t len)
{
    if (BN_is_negative(bn) || (size_t)BN_num_bytes(bn) > len || len > (size_t)INT_MAX)
        return MTP_ERANGE;
    return BN_bn2binpad(bn, out, (int)len) == (int)len ? 0 : MTP_ECRYPTO;
}

size_t mtp_tl_bytes_(const uint8_t *p, size_t len, uint8_t *out, size_t cap)
{
    if (len >= (1u << 24))
        return 0;
    size_t total = mtp_tlb_size(len);
    if (total > cap)
        return 0;
    size_t hdr = mtp_tlb_header(out, len);
    if (len)
        memcpy(out + hdr, p, len);
    memset(out + hdr + len, 0, total - hdr - len);
    return total;
}
