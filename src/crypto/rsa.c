/*
 * libmtproto — RSA keys (PEM in/out, fingerprints, raw operations) and RSA_PAD.
 *
 * Only OpenSSL 3 non-deprecated interfaces: OSSL_DECODER/OSSL_ENCODER for PEM,
 * EVP_PKEY_fromdata / EVP_PKEY_get_bn_param for the components, BN_mod_exp for the public
 * operation and EVP_PKEY_decrypt(RSA_NO_PADDING) for the private one.
 */
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "crypto/crypto_internal.h"

#define RSA_MIN_BITS 512
#define RSA_MAX_BITS 8192
#define RSA_MAX_BYTES (RSA_MAX_BITS / 8)

struct mtp_rsa_key {
    EVP_PKEY *pkey;
    uint8_t n[RSA_MAX_BYTES];
    size_t n_len;
    uint8_t e[RSA_MAX_BYTES];
    size_t e_len;
    unsigned bits;
    int has_private;
    int64_t fingerprint;
};

/* ------------------------------------------------------------------------------------ */
/* Fingerprint                                                                          */
/* ------------------------------------------------------------------------------------ */

static void strip_zeros(const uint8_t **p, size_t *len)
{
    while (*len > 0 && (*p)[0] == 0) {
        (*p)++;
        (*len)--;
    }
}

int mtp_rsa_fingerprint_ne(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                           int64_t *fingerprint)
{
    uint8_t buf[2 * (RSA_MAX_BYTES + 8)];
    uint8_t h[20];
    size_t a, b;
    uint64_t v = 0;
    int rc;
    if (!n || !e || !fingerprint)
        return MTP_EINVAL;
    strip_zeros(&n, &n_len);
    strip_zeros(&e, &e_len);
    if (n_len == 0 || e_len == 0 || n_len > RSA_MAX_BYTES || e_len > RSA_MAX_BYTES)
        return MTP_EINVAL;
    a = mtp_tl_bytes_(n, n_len, buf, sizeof buf);
    b = a ? mtp_tl_bytes_(e, e_len, buf + a, sizeof buf - a) : 0;
    if (!a || !b)
        return MTP_EINVAL;
    rc = mtp_sha1(buf, a + b, h);
    if (rc)
        return rc;
    for (int i = 19; i >= 12; i--)
        v = (v << 8) | h[i];
    *fingerprint = (int64_t)v;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Construction                                                                         */
/* ------------------------------------------------------------------------------------ */

static int get_bn_be(const EVP_PKEY *pkey, const char *name, uint8_t *out, size_t cap, size_t *len)
{
    BIGNUM *bn = NULL;
    int rc = MTP_EBADKEY;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1 || !bn)
        goto done;
    if (BN_is_zero(bn) || BN_is_negative(bn) || (size_t)BN_num_bytes(bn) > cap)
        goto done;
    *len = (size_t)BN_bn2bin(bn, out);
    rc = 0;
done:
    BN_free(bn);
    return rc;
}

/* Take ownership of pkey and fill in the cached public values. */
static int key_from_pkey(EVP_PKEY *pkey, int has_private, mtp_rsa_key_t **out)
{
    mtp_rsa_key_t *k;
    int bits, rc;
    if (!EVP_PKEY_is_a(pkey, "RSA")) {
        EVP_PKEY_free(pkey);
        return MTP_EBADKEY;
    }
    bits = EVP_PKEY_get_bits(pkey);
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
        EVP_PKEY_free(pkey);
        return MTP_EBADKEY;
    }
    k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return MTP_ENOMEM;
    }
    k->pkey = pkey;
    k->bits = (unsigned)bits;
    k->has_private = has_private;
    rc = get_bn_be(pkey, OSSL_PKEY_PARAM_RSA_N, k->n, sizeof k->n, &k->n_len);
    if (!rc)
        rc = get_bn_be(pkey, OSSL_PKEY_PARAM_RSA_E, k->e, sizeof k->e, &k->e_len);
    if (!rc && (k->n[k->n_len - 1] & 1) == 0)   /* even modulus: not an RSA key */
        rc = MTP_EBADKEY;
    if (!rc)
        rc = mtp_rsa_fingerprint_ne(k->n, k->n_len, k->e, k->e_len, &k->fingerprint);
    if (rc) {
        mtp_rsa_free(k);
        return rc == MTP_EINVAL ? MTP_EBADKEY : rc;
    }
    *out = k;
    return 0;
}

static int decode_pem(const char *pem, size_t len, int selection, EVP_PKEY **pkey)
{
    OSSL_DECODER_CTX *dctx;
    const unsigned char *data = (const unsigned char *)pem;
    size_t left = len;
    int ok;
    *pkey = NULL;
    dctx = OSSL_DECODER_CTX_new_for_pkey(pkey, "PEM", NULL, "RSA", selection, NULL, NULL);
    if (!dctx) {
        ERR_clear_error();
        return MTP_ENOMEM;
    }
    ok = OSSL_DECODER_from_data(dctx, &data, &left) == 1 && *pkey != NULL;
    OSSL_DECODER_CTX_free(dctx);
    if (!ok) {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
        ERR_clear_error();
        return MTP_EBADKEY;
    }
    return 0;
}

int mtp_rsa_load_public_pem(const char *pem, size_t len, mtp_rsa_key_t **out)
{
    EVP_PKEY *pkey;
    int rc;
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    if (!pem || len == 0 || len > (1u << 20))
        return MTP_EBADKEY;
    rc = decode_pem(pem, len, EVP_PKEY_PUBLIC_KEY, &pkey);
    if (rc)
        return rc;
    return key_from_pkey(pkey, 0, out);
}

int mtp_rsa_load_private_pem(const char *pem, size_t len, mtp_rsa_key_t **out)
{
    EVP_PKEY *pkey;
    int rc;
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    if (!pem || len == 0 || len > (1u << 20))
        return MTP_EBADKEY;
    rc = decode_pem(pem, len, EVP_PKEY_KEYPAIR, &pkey);
    if (rc)
        return rc;
    /* Make sure a private part really came out (a public PEM must not pass as private). */
    BIGNUM *d = NULL;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) != 1 || !d || BN_is_zero(d)) {
        BN_clear_free(d);
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return MTP_EBADKEY;
    }
    BN_clear_free(d);
    return key_from_pkey(pkey, 1, out);
}

int mtp_rsa_from_ne(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                    mtp_rsa_key_t **out)
{
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    int rc = MTP_ECRYPTO;
    if (!out || !n || !e)
        return MTP_EINVAL;
    *out = NULL;
    strip_zeros(&n, &n_len);
    strip_zeros(&e, &e_len);
    if (n_len == 0 || n_len > RSA_MAX_BYTES || e_len == 0 || e_len > RSA_MAX_BYTES ||
        (n[n_len - 1] & 1) == 0 || (e[e_len - 1] & 1) == 0 || (e_len == 1 && e[0] == 1))
        return MTP_EBADKEY;
    bn = mtp_bn_from_be_(n, n_len);
    be = mtp_bn_from_be_(e, e_len);
    bld = OSSL_PARAM_BLD_new();
    if (!bn || !be || !bld) {
        rc = MTP_ENOMEM;
        goto done;
    }
    if (BN_cmp(be, bn) >= 0) {
        rc = MTP_EBADKEY;
        goto done;
    }
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
        goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !ctx)
        goto done;
    if (EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 || !pkey)
        goto done;
    rc = key_from_pkey(pkey, 0, out);
    pkey = NULL;
done:
    if (rc)
        ERR_clear_error();
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return rc;
}

int mtp_rsa_generate(unsigned bits, mtp_rsa_key_t **out)
{
    EVP_PKEY *pkey;
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    if (bits < 1024 || bits > RSA_MAX_BITS)
        return MTP_EINVAL;
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    if (!pkey) {
        ERR_clear_error();
        return MTP_ECRYPTO;
    }
    return key_from_pkey(pkey, 1, out);
}

void mtp_rsa_free(mtp_rsa_key_t *key)
{
    if (!key)
        return;
    EVP_PKEY_free(key->pkey);
    mtp_secure_zero(key, sizeof *key);
    free(key);
}

int mtp_rsa_has_private(const mtp_rsa_key_t *key)
{
    return key ? key->has_private : 0;
}

unsigned mtp_rsa_bits(const mtp_rsa_key_t *key)
{
    return key ? key->bits : 0;
}

size_t mtp_rsa_size(const mtp_rsa_key_t *key)
{
    return key ? key->n_len : 0;
}

int64_t mtp_rsa_fingerprint(const mtp_rsa_key_t *key)
{
    return key ? key->fingerprint : 0;
}

static int copy_out(const uint8_t *src, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    if (!len)
        return MTP_EINVAL;
    *len = n;
    if (!out || cap < n)
        return MTP_ERANGE;
    memcpy(out, src, n);
    return 0;
}

int mtp_rsa_get_n(const mtp_rsa_key_t *key, uint8_t *out, size_t cap, size_t *len)
{
    if (!key)
        return MTP_EINVAL;
    return copy_out(key->n, key->n_len, out, cap, len);
}

int mtp_rsa_get_e(const mtp_rsa_key_t *key, uint8_t *out, size_t cap, size_t *len)
{
    if (!key)
        return MTP_EINVAL;
    return copy_out(key->e, key->e_len, out, cap, len);
}

/* ------------------------------------------------------------------------------------ */
/* PEM export                                                                           */
/* ------------------------------------------------------------------------------------ */

static int encode_pem(const mtp_rsa_key_t *key, int selection, const char *structure,
                      char *out, size_t cap, size_t *len)
{
    OSSL_ENCODER_CTX *ectx;
    unsigned char *data = NULL;
    size_t dlen = 0;
    int rc = MTP_ECRYPTO;
    if (!key || !len)
        return MTP_EINVAL;
    ectx = OSSL_ENCODER_CTX_new_for_pkey(key->pkey, selection, "PEM", structure, NULL);
    if (!ectx) {
        ERR_clear_error();
        return MTP_ECRYPTO;
    }
    if (OSSL_ENCODER_to_data(ectx, &data, &dlen) != 1 || !data) {
        ERR_clear_error();
        goto done;
    }
    *len = dlen;
    if (!out || cap < dlen + 1) {
        rc = MTP_ERANGE;
        goto done;
    }
    memcpy(out, data, dlen);
    out[dlen] = '\0';
    rc = 0;
done:
    if (data)
        OPENSSL_clear_free(data, dlen);
    OSSL_ENCODER_CTX_free(ectx);
    return rc;
}

int mtp_rsa_public_pem(const mtp_rsa_key_t *key, char *out, size_t cap, size_t *len)
{
    return encode_pem(key, EVP_PKEY_PUBLIC_KEY, "type-specific", out, cap, len);
}

int mtp_rsa_private_pem(const mtp_rsa_key_t *key, char *out, size_t cap, size_t *len)
{
    if (key && !key->has_private)
        return MTP_EBADKEY;
    return encode_pem(key, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", out, cap, len);
}

/* ------------------------------------------------------------------------------------ */
/* Raw operations                                                                       */
/* ------------------------------------------------------------------------------------ */

/* Left-pad in to the modulus size into buf and check it is < n. */
static int prepare_input(const mtp_rsa_key_t *key, const uint8_t *in, size_t in_len, uint8_t *buf)
{
    if (!in && in_len)
        return MTP_EINVAL;
    strip_zeros(&in, &in_len);
    if (in_len > key->n_len)
        return MTP_EINVAL;
    memset(buf, 0, key->n_len - in_len);
    if (in_len)
        memcpy(buf + key->n_len - in_len, in, in_len);
    /* Equal-length big-endian strings compare like the integers. */
    if (memcmp(buf, key->n, key->n_len) >= 0)
        return MTP_EINVAL;
    return 0;
}

int mtp_rsa_public_op(const mtp_rsa_key_t *key, const uint8_t *in, size_t in_len, uint8_t *out)
{
    uint8_t buf[RSA_MAX_BYTES];
    BN_CTX *bctx = NULL;
    BIGNUM *m = NULL, *n = NULL, *e = NULL, *r = NULL;
    int rc;
    if (!key || !out)
        return MTP_EINVAL;
    rc = prepare_input(key, in, in_len, buf);
    if (rc)
        return rc;
    rc = MTP_ENOMEM;
    bctx = BN_CTX_new();
    m = mtp_bn_from_be_(buf, key->n_len);
    n = mtp_bn_from_be_(key->n, key->n_len);
    e = mtp_bn_from_be_(key->e, key->e_len);
    r = BN_new();
    if (!bctx || !m || !n || !e || !r)
        goto done;
    rc = MTP_ECRYPTO;
    if (BN_mod_exp(r, m, e, n, bctx) != 1)
        goto done;
    rc = mtp_bn_to_be_pad_(r, out, key->n_len);
done:
    BN_clear_free(m);
    BN_free(n);
    BN_free(e);
    BN_clear_free(r);
    BN_CTX_free(bctx);
    mtp_secure_zero(buf, sizeof buf);
    if (rc)
        ERR_clear_error();
    return rc;
}

int mtp_rsa_private_op(const mtp_rsa_key_t *key, const uint8_t *in, size_t in_len, uint8_t *out)
{
    uint8_t buf[RSA_MAX_BYTES];
    EVP_PKEY_CTX *ctx = NULL;
    size_t outl;
    int rc;
    if (!key || !out)
        return MTP_EINVAL;
    if (!key->has_private)
        return MTP_EBADKEY;
    rc = prepare_input(key, in, in_len, buf);
    if (rc)
        return rc;
    rc = MTP_ECRYPTO;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (!ctx) {
        rc = MTP_ENOMEM;
        goto done;
    }
    outl = key->n_len;
    if (EVP_PKEY_decrypt_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) != 1 ||
        EVP_PKEY_decrypt(ctx, out, &outl, buf, key->n_len) != 1)
        goto done;
    if (outl != key->n_len) {
        /* OpenSSL pads RSA_NO_PADDING output to the modulus size; be defensive anyway. */
        if (outl > key->n_len)
            goto done;
        memmove(out + key->n_len - outl, out, outl);
        memset(out, 0, key->n_len - outl);
    }
    rc = 0;
done:
    if (rc) {
        mtp_secure_zero(out, key->n_len);
        ERR_clear_error();
    }
    EVP_PKEY_CTX_free(ctx);
    mtp_secure_zero(buf, sizeof buf);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* RSA_PAD                                                                              */
/* ------------------------------------------------------------------------------------ */

#define RSA_PAD_MAX_ATTEMPTS 64

static void reverse192(const uint8_t *in, uint8_t *out)
{
    for (int i = 0; i < 192; i++)
        out[i] = in[191 - i];
}

int mtp_rsa_pad_encrypt(const mtp_rsa_key_t *key, const uint8_t *data, size_t len,
                        const mtp_rng_t *rng, uint8_t out[256])
{
    static const uint8_t zero_iv[32] = { 0 };
    uint8_t dwp[192], dwh[224], temp_key[32], h[32], kae[256];
    int rc, found = 0;
    if (!key || !out || (!data && len))
        return MTP_EINVAL;
    if (key->n_len != 256 || key->bits != 2048)
        return MTP_EBADKEY;
    if (len == 0 || len > MTP_RSA_PAD_DATA_MAX)
        return MTP_EINVAL;

    /* One draw of 224 bytes: [0, 192-len) padding, [192, 224) the first temp_key; the len
     * bytes in between are unused (this is the layout of the recorded reference runs in
     * tests/vectors, so they replay byte for byte). */
    rc = mtp_rand(rng, kae, 224);
    if (rc)
        goto done;
    memcpy(dwp, data, len);
    memcpy(dwp + len, kae, 192 - len);
    memcpy(temp_key, kae + 192, 32);
    reverse192(dwp, dwh);
    for (int attempt = 0; attempt < RSA_PAD_MAX_ATTEMPTS && !found; attempt++) {
        mtp_bytes_t hp[2] = { MTP_BYTES(temp_key, 32), MTP_BYTES(dwp, 192) };
        if (attempt > 0) {
            rc = mtp_rand(rng, temp_key, 32);
            if (rc)
                goto done;
        }
        rc = mtp_sha256_v(hp, 2, h);
        if (rc)
            goto done;
        memcpy(dwh + 192, h, 32);
        rc = mtp_aes256_ige_encrypt(temp_key, zero_iv, dwh, kae + 32, 224);
        if (rc)
            goto done;
        rc = mtp_sha256(kae + 32, 224, h);
        if (rc)
            goto done;
        for (int i = 0; i < 32; i++)
            kae[i] = (uint8_t)(temp_key[i] ^ h[i]);
        found = memcmp(kae, key->n, 256) < 0;
    }
    if (!found) {
        rc = MTP_ECRYPTO;
        goto done;
    }
    rc = mtp_rsa_public_op(key, kae, 256, out);
done:
    if (rc)
        mtp_secure_zero(out, 256);
    mtp_secure_zero(dwp, sizeof dwp);
    mtp_secure_zero(dwh, sizeof dwh);
    mtp_secure_zero(temp_key, sizeof temp_key);
    mtp_secure_zero(h, sizeof h);
    mtp_secure_zero(kae, sizeof kae);
    return rc;
}

int mtp_rsa_pad_decrypt(const mtp_rsa_key_t *key, const uint8_t *in, size_t in_len,
                        uint8_t data_with_padding[192])
{
    static const uint8_t zero_iv[32] = { 0 };
    uint8_t kae[256], temp_key[32], h[32], dwh[224], dwp[192];
    int rc;
    if (!key || !in || !data_with_padding)
        return MTP_EINVAL;
    if (!key->has_private || key->n_len != 256 || key->bits != 2048)
        return MTP_EBADKEY;
    if (in_len == 0 || in_len > 256)
        return MTP_EINVAL;
    rc = mtp_rsa_private_op(key, in, in_len, kae);
    if (rc)
        goto done;
    rc = mtp_sha256(kae + 32, 224, h);
    if (rc)
        goto done;
    for (int i = 0; i < 32; i++)
        temp_key[i] = (uint8_t)(kae[i] ^ h[i]);
    rc = mtp_aes256_ige_decrypt(temp_key, zero_iv, kae + 32, dwh, 224);
    if (rc)
        goto done;
    reverse192(dwh, dwp);
    {
        mtp_bytes_t hp[2] = { MTP_BYTES(temp_key, 32), MTP_BYTES(dwp, 192) };
        rc = mtp_sha256_v(hp, 2, h);
        if (rc)
            goto done;
    }
    if (!mtp_ct_memeq(h, dwh + 192, 32)) {
        rc = MTP_ESECURITY;
        goto done;
    }
    memcpy(data_with_padding, dwp, 192);
done:
    mtp_secure_zero(kae, sizeof kae);
    mtp_secure_zero(temp_key, sizeof temp_key);
    mtp_secure_zero(h, sizeof h);
    mtp_secure_zero(dwh, sizeof dwh);
    mtp_secure_zero(dwp, sizeof dwp);
    return rc;
}
