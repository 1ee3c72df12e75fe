/*
 * libFuzzer target for the crypto parsers and server-side checks that see untrusted input.
 *
 * Input byte 0 selects the mode (mod 6), the rest is the payload:
 *   0: RSA public-key PEM loader; on success fingerprint, n/e and PEM export must work.
 *   1: RSA private-key PEM loader.
 *   2: RSA_PAD server-side decryption of arbitrary bytes with a fixed private key: must
 *      fail cleanly or yield 192 bytes.
 *   3: structure-aware RSA_PAD round trip: byte 1 = data length (1..144), then the data,
 *      the rest is replayed as the randomness; whenever encryption succeeds, decryption
 *      must give the data back, and any flipped bit must be rejected.
 *   4: pq factorisation of up to 8 bytes; on success p*q == pq, p < q.
 *   5: DH public-value check and shared secret against Telegram's prime; AES-IGE/CTR on the
 *      payload with a key from its first bytes (length rules, no crash).
 */
#include <stdlib.h>
#include <string.h>

#include <mtproto/crypto.h>

static mtp_rsa_key_t *g_priv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void init(void)
{
    if (!g_priv && mtp_rsa_generate(2048, &g_priv) != 0)
        abort();
}

static void mode_pem(const uint8_t *p, size_t n, int priv)
{
    mtp_rsa_key_t *k = NULL;
    int rc = priv ? mtp_rsa_load_private_pem((const char *)p, n, &k)
                  : mtp_rsa_load_public_pem((const char *)p, n, &k);
    if (rc != 0) {
        if (k)
            abort();
        return;
    }
    uint8_t buf[1024];
    size_t len = 0;
    if (mtp_rsa_get_n(k, buf, sizeof buf, &len) != 0 || len != mtp_rsa_size(k))
        abort();
    uint8_t e[1024];
    size_t el = 0;
    if (mtp_rsa_get_e(k, e, sizeof e, &el) != 0)
        abort();
    int64_t fp = 0;
    if (mtp_rsa_fingerprint_ne(buf, len, e, el, &fp) != 0 || fp != mtp_rsa_fingerprint(k))
        abort();
    char *pem = malloc(8192);
    size_t pl = 0;
    if (!pem || mtp_rsa_public_pem(k, pem, 8192, &pl) != 0 || strlen(pem) != pl)
        abort();
    free(pem);
    mtp_rsa_free(k);
}

static void mode_pad_decrypt(const uint8_t *p, size_t n)
{
    uint8_t out[192];
    int rc = mtp_rsa_pad_decrypt(g_priv, p, n, out);
    if (rc != 0 && rc != MTP_EINVAL && rc != MTP_ESECURITY)
        abort();
}

static void mode_pad_roundtrip(const uint8_t *p, size_t n)
{
    if (n < 2)
        return;
    size_t dl = (size_t)(p[0] % 144) + 1;
    if (n - 1 < dl)
        return;
    const uint8_t *d = p + 1;
    mtp_rng_replay_t st;
    mtp_rng_t rng;
    uint8_t enc[256], dwp[192];
    mtp_rng_replay_init(&rng, &st, p + 1 + dl, n - 1 - dl);
    if (mtp_rsa_pad_encrypt(g_priv, d, dl, &rng, enc) != 0)
        return;
    if (mtp_rsa_pad_decrypt(g_priv, enc, 256, dwp) != 0 || memcmp(dwp, d, dl) != 0)
        abort();
    enc[(p[0] * 7u) % 256] ^= (uint8_t)(1u << (p[0] % 8));
    int rc = mtp_rsa_pad_decrypt(g_priv, enc, 256, dwp);
    if (rc != MTP_ESECURITY && rc != MTP_EINVAL)
        abort();
}

static void mode_pq(const uint8_t *p, size_t n)
{
    uint8_t a[8], b[8];
    size_t al = 0, bl = 0;
    if (n > 8)
        n = 8;
    if (n == 0)
        return;
    if (mtp_factorize_pq_bytes(p, n, a, &al, b, &bl) != 0)
        return;
    unsigned __int128 x = 0, y = 0, z = 0;
    for (size_t i = 0; i < al; i++)
        x = x << 8 | a[i];
    for (size_t i = 0; i < bl; i++)
        y = y << 8 | b[i];
    for (size_t i = 0; i < n; i++)
        z = z << 8 | p[i];
    if (x * y != z || x >= y || !mtp_is_prime_u64((uint64_t)x) || !mtp_is_prime_u64((uint64_t)y))
        abort();
}

static void mode_dh_aes(const uint8_t *p, size_t n)
{
    const uint8_t *prime = mtp_dh_known_prime();
    uint8_t secret[256] = { 0 }, key[256];
    size_t vl = n > 300 ? 300 : n;
    if (mtp_dh_check_public(prime, 256, p, vl) == 0) {
        if (mtp_dh_shared(prime, 256, p, vl, secret, key) != 0)
            abort();
    } else if (mtp_dh_shared(prime, 256, p, vl, secret, key) != MTP_ESECURITY) {
        abort();
    }
    if (n < 64)
        return;
    uint8_t k[32], iv[32];
    memcpy(k, p, 32);
    memcpy(iv, p + 32, 32);
    size_t len = n - 64;
    uint8_t *buf = malloc(len + 1), *back = malloc(len + 1);
    if (!buf || !back)
        abort();
    int rc = mtp_aes256_ige_encrypt(k, iv, p + 64, buf, len);
    if ((len % 16 == 0) != (rc == 0))
        abort();
    if (rc == 0) {
        if (mtp_aes256_ige_decrypt(k, iv, buf, back, len) != 0 || memcmp(back, p + 64, len) != 0)
            abort();
    }
    if (mtp_aes256_ctr(k, iv, p + 64, buf, len) != 0 || mtp_aes256_ctr(k, iv, buf, back, len) != 0 ||
        memcmp(back, p + 64, len) != 0)
        abort();
    free(buf);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    init();
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0: mode_pem(p, n, 0); break;
    case 1: mode_pem(p, n, 1); break;
    case 2: mode_pad_decrypt(p, n); break;
    case 3: mode_pad_roundtrip(p, n); break;
    case 4: mode_pq(p, n); break;
    default: mode_dh_aes(p, n); break;
    }
    return 0;
}
