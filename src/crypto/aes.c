/*
 * libmtproto — AES-IGE and AES-256-CTR front ends, and their portable EVP implementations.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/crypto_internal.h"

/* ------------------------------------------------------------------------------------ */
/* IGE on EVP                                                                           */
/* ------------------------------------------------------------------------------------ */

static const EVP_CIPHER *cipher_for(size_t key_len, int cbc)
{
    switch (key_len) {
    case 16: return cbc ? EVP_aes_128_cbc() : EVP_aes_128_ecb();
    case 24: return cbc ? EVP_aes_192_cbc() : EVP_aes_192_ecb();
    case 32: return cbc ? EVP_aes_256_cbc() : EVP_aes_256_ecb();
    default: return NULL;
    }
}

static inline void xor16(uint8_t *d, const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < 16; i++)
        d[i] = (uint8_t)(a[i] ^ b[i]);
}

#define IGE_CHUNK 4096

/*
 * IGE encryption as one CBC encryption. With y_i = c_i ^ p_{i-1}:
 *     y_i = E(p_i ^ c_{i-1}) = E(p_i ^ p_{i-2} ^ y_{i-1})
 * so CBC-encrypting x_i = p_i ^ p_{i-2} (p_{-2} := 0) under IV c_{-1} yields y_i, and
 * c_i = y_i ^ p_{i-1}. Both XOR passes are independent of the cipher chain, so this runs
 * at OpenSSL's CBC speed. Processed in stack-sized chunks (works in place).
 */
static int ige_evp_encrypt(const EVP_CIPHER *cbc, const uint8_t *key, uint8_t iv[32],
                           const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t buf[IGE_CHUNK];
    uint8_t pm1[16], pm2[16], prev_in[16];
    int rc = MTP_ECRYPTO, outl = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return MTP_ENOMEM;
    if (EVP_EncryptInit_ex2(ctx, cbc, key, iv, NULL) != 1 || EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
        goto done;
    memset(pm2, 0, 16);
    memcpy(pm1, iv + 16, 16);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < IGE_CHUNK ? len - off : IGE_CHUNK;
        memcpy(prev_in, pm1, 16);   /* p_{start-1} */
        for (size_t j = 0; j < n; j += 16) {
            uint8_t p[16];
            memcpy(p, in + off + j, 16);
            xor16(buf + j, p, pm2);
            memcpy(pm2, pm1, 16);
            memcpy(pm1, p, 16);
        }
        if (EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)n) != 1 || (size_t)outl != n)
            goto done;
        /* c_j = y_j ^ p_{j-1}, descending so that in == out still sees p_{j-1}. */
        for (size_t j = n; j >= 32; j -= 16)
            xor16(out + off + j - 16, buf + j - 16, in + off + j - 32);
        xor16(out + off, buf, prev_in);
        off += n;
    }
    memcpy(iv, out + len - 16, 16);
    memcpy(iv + 16, pm1, 16);
    rc = 0;
done:
    EVP_CIPHER_CTX_free(ctx);
    mtp_secure_zero(buf, sizeof buf);
    mtp_secure_zero(pm1, sizeof pm1);
    mtp_secure_zero(pm2, sizeof pm2);
    mtp_secure_zero(prev_in, sizeof prev_in);
    return rc;
}

/* IGE decryption is sequential through the block cipher: one ECB block per step. */
static int ige_evp_decrypt(const EVP_CIPHER *ecb, const uint8_t *key, uint8_t iv[32],
                           const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t cprev[16], pprev[16], c[16], t[16];
    int rc = MTP_ECRYPTO, outl = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return MTP_ENOMEM;
    if (EVP_DecryptInit_ex2(ctx, ecb, key, NULL, NULL) != 1 || EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
        goto done;
    memcpy(cprev, iv, 16);
    memcpy(pprev, iv + 16, 16);
    for (size_t off = 0; off < len; off += 16) {
        memcpy(c, in + off, 16);
        xor16(t, c, pprev);
        if (EVP_DecryptUpdate(ctx, t, &outl, t, 16) != 1 || outl != 16)
            goto done;
        xor16(pprev, t, cprev);
        memcpy(out + off, pprev, 16);
        memcpy(cprev, c, 16);
    }
    memcpy(iv, cprev, 16);
    memcpy(iv + 16, pprev, 16);
    rc = 0;
done:
    EVP_CIPHER_CTX_free(ctx);
    mtp_secure_zero(pprev, sizeof pprev);
    mtp_secure_zero(t, sizeof t);
    mtp_secure_zero(c, sizeof c);
    mtp_secure_zero(cprev, sizeof cprev);
    return rc;
}

int mtp_aes_ige_evp_(const uint8_t *key, size_t key_len, uint8_t iv[32],
                     const uint8_t *in, uint8_t *out, size_t len, int encrypt)
{
    const EVP_CIPHER *cipher = cipher_for(key_len, encrypt);
    if (!cipher || !key || !iv || len % 16 != 0 || (len && (!in || !out)) || len > (size_t)INT_MAX)
        return MTP_EINVAL;
    if (len == 0)
        return 0;
    return encrypt ? ige_evp_encrypt(cipher, key, iv, in, out, len)
                   : ige_evp_decrypt(cipher, key, iv, in, out, len);
}

/* ------------------------------------------------------------------------------------ */
/* IGE front end                                                                        */
/* ------------------------------------------------------------------------------------ */

int mtp_aes_ige(const uint8_t *key, size_t key_len, uint8_t iv[32],
                const uint8_t *in, uint8_t *out, size_t len, int encrypt)
{
    if (!key || !iv || (key_len != 16 && key_len != 24 && key_len != 32) || len % 16 != 0 ||
        (len && (!in || !out)))
        return MTP_EINVAL;
    if (len == 0)
        return 0;
    if ((key_len == 16 || key_len == 32) && mtp_crypto_have_aesni())
        return mtp_aes_ige_aesni_(key, key_len, iv, in, out, len, encrypt);
    /* The EVP path takes int lengths: feed huge buffers in pieces (the IV carries on). */
    while (len > 0) {
        size_t n = len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len;
        int rc = mtp_aes_ige_evp_(key, key_len, iv, in, out, n, encrypt);
        if (rc)
            return rc;
        in += n;
        out += n;
        len -= n;
    }
    return 0;
}

static int ige256(const uint8_t key[32], const uint8_t iv[32], const uint8_t *in, uint8_t *out,
                  size_t len, int encrypt)
{
    uint8_t ivc[32];
    int rc;
    if (!iv)
        return MTP_EINVAL;
    memcpy(ivc, iv, 32);
    rc = mtp_aes_ige(key, 32, ivc, in, out, len, encrypt);
    mtp_secure_zero(ivc, sizeof ivc);
    return rc;
}

int mtp_aes256_ige_encrypt(const uint8_t key[32], const uint8_t iv[32],
                           const uint8_t *in, uint8_t *out, size_t len)
{
    return ige256(key, iv, in, out, len, 1);
}

static int ige_many(const mtp_ige_job_t *jobs, size_t n, int encrypt)
{
    if (n && !jobs)
        return MTP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const mtp_ige_job_t *j = &jobs[i];
        if (!j->key || !j->iv || j->len % 16 || (j->len && (!j->in || !j->out)))
            return MTP_EINVAL;
    }
    if (mtp_crypto_have_aesni())
        return mtp_aes256_ige_many_aesni_(jobs, n, encrypt);
    for (size_t i = 0; i < n; i++) {
        int rc = ige256(jobs[i].key, jobs[i].iv, jobs[i].in, jobs[i].out, jobs[i].len, encrypt);
        if (rc)
            return rc;
    }
    return 0;
}

int mtp_aes256_ige_encrypt_many(const mtp_ige_job_t *jobs, size_t n)
{
    return ige_many(jobs, n, 1);
}

int mtp_aes256_ige_decrypt_many(const mtp_ige_job_t *jobs, size_t n)
{
    return ige_many(jobs, n, 0);
}

int mtp_aes256_ige_decrypt(const uint8_t key[32], const uint8_t iv[32],
                           const uint8_t *in, uint8_t *out, size_t len)
{
    return ige256(key, iv, in, out, len, 0);
}

/* ------------------------------------------------------------------------------------ */
/* CTR                                                                                  */
/* ------------------------------------------------------------------------------------ */

enum { CTR_NONE = 0, CTR_AESNI = 1, CTR_EVP = 2 };

int mtp_aes_ctr_init_evp_(mtp_aes_ctr_t *c, const uint8_t key[32], const uint8_t iv[16])
{
    EVP_CIPHER_CTX *ctx;
    if (!c || !key || !iv)
        return MTP_EINVAL;
    memset(c, 0, sizeof *c);
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return MTP_ENOMEM;
    if (EVP_EncryptInit_ex2(ctx, EVP_aes_256_ctr(), key, iv, NULL) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return MTP_ECRYPTO;
    }
    c->priv_evp = ctx;
    c->priv_impl = CTR_EVP;
    return 0;
}

int mtp_aes_ctr_init_(mtp_aes_ctr_t *c, const uint8_t key[32], const uint8_t iv[16])
{
    if (!c || !key || !iv)
        return MTP_EINVAL;
    if (!mtp_crypto_have_aesni())
        return mtp_aes_ctr_init_evp_(c, key, iv);
    memset(c, 0, sizeof *c);
    mtp_aesni_expand_enc_(key, 32, c->priv_rk);
    memcpy(c->priv_ctr, iv, 16);
    c->priv_ks_used = 16;
    c->priv_impl = CTR_AESNI;
    return 0;
}

static void ctr_inc(uint8_t ctr[16])
{
    for (int i = 15; i >= 0; i--)
        if (++ctr[i] != 0)
            break;
}

int mtp_aes_ctr_apply(mtp_aes_ctr_t *c, const uint8_t *in, uint8_t *out, size_t len)
{
    if (!c || (len && (!in || !out)))
        return MTP_EINVAL;
    if (len == 0)
        return c->priv_impl == CTR_NONE ? MTP_ESTATE : 0;
    if (c->priv_impl == CTR_EVP) {
        while (len > 0) {
            int n = len > (size_t)(1 << 30) ? (1 << 30) : (int)len, outl = 0;
            if (EVP_EncryptUpdate((EVP_CIPHER_CTX *)c->priv_evp, out, &outl, in, n) != 1 || outl != n)
                return MTP_ECRYPTO;
            in += n;
            out += n;
            len -= (size_t)n;
        }
        return 0;
    }
    if (c->priv_impl != CTR_AESNI)
        return MTP_ESTATE;
    /* Rest of the current keystream block. */
    while (len > 0 && c->priv_ks_used < 16) {
        *out++ = (uint8_t)(*in++ ^ c->priv_ks[c->priv_ks_used++]);
        len--;
    }
    if (len >= 16) {
        size_t blocks = len / 16;
        mtp_aesni_ctr256_blocks_(c->priv_rk, c->priv_ctr, in, out, blocks);
        in += blocks * 16;
        out += blocks * 16;
        len -= blocks * 16;
    }
    if (len > 0) {
        mtp_aesni_enc256_block_(c->priv_rk, c->priv_ctr, c->priv_ks);
        ctr_inc(c->priv_ctr);
        c->priv_ks_used = 0;
        while (len > 0) {
            *out++ = (uint8_t)(*in++ ^ c->priv_ks[c->priv_ks_used++]);
            len--;
        }
    }
    return 0;
}

void mtp_aes_ctr_clear_(mtp_aes_ctr_t *c)
{
    if (!c)
        return;
    if (c->priv_impl == CTR_EVP && c->priv_evp)
        EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)c->priv_evp);
    mtp_secure_zero(c, sizeof *c);
}

int mtp_aes_ctr_new(mtp_aes_ctr_t **out, const uint8_t key[32], const uint8_t iv[16])
{
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    mtp_aes_ctr_t *c = malloc(sizeof *c);
    if (!c)
        return MTP_ENOMEM;
    int rc = mtp_aes_ctr_init_(c, key, iv);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void mtp_aes_ctr_free(mtp_aes_ctr_t *c)
{
    if (!c)
        return;
    mtp_aes_ctr_clear_(c);
    free(c);
}

int mtp_aes256_ctr(const uint8_t key[32], const uint8_t iv[16],
                   const uint8_t *in, uint8_t *out, size_t len)
{
    mtp_aes_ctr_t c;
    int rc = mtp_aes_ctr_init_(&c, key, iv);
    if (rc)
        return rc;
    rc = mtp_aes_ctr_apply(&c, in, out, len);
    mtp_aes_ctr_clear_(&c);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* IGE decryption fused with SHA-256 of (prefix + plaintext)                            */
/* ------------------------------------------------------------------------------------ */

int mtp_aes256_ige_decrypt_sha256(const uint8_t key[32], const uint8_t iv[32],
                                  const uint8_t *prefix, size_t prefix_len,
                                  const uint8_t *in, uint8_t *out, size_t len,
                                  uint8_t digest[32])
{
    int rc;
    if (!key || !iv || !digest || (!prefix && prefix_len) || len % 16 != 0 ||
        (len && (!in || !out)))
        return MTP_EINVAL;
    if (len && mtp_crypto_have_aesni() && mtp_sha256_ni_ok_()) {
        mtp_sha256_ctx_ c;
        mtp_sha256_ni_init_(&c);
        if (prefix_len)
            mtp_sha256_ni_update_(&c, prefix, prefix_len);
        mtp_aesni_ige256_dec_sha256_(key, iv, &c, in, out, len, digest);
        return 0;
    }
    /* Portable: decrypt, then hash. */
    rc = mtp_aes256_ige_decrypt(key, iv, in, out, len);
    if (rc == 0) {
        mtp_bytes_t parts[2] = { MTP_BYTES(prefix, prefix_len), MTP_BYTES(out, len) };
        rc = mtp_sha256_v(parts, 2, digest);
    }
    if (rc)
        mtp_secure_zero(digest, 32);
    return rc;
}
