/*
 * Crypto primitives: hashes, RNG, AES-IGE, AES-CTR, KDFs, packet encryption, pq.
 * Vectors: tests/vectors/{aes_ige,aes_ctr,mtproto2_crypto,pq_factorization,
 * auth_key_flow_grammers,auth_key_sample_official}.json
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include <mtproto/crypto.h>
#include "crypto/crypto_internal.h"
#include "testutil.h"

/* ---- scratch allocations, freed at exit (the suite runs with LeakSanitizer) ---- */
static void *allocs[4096];
static size_t nallocs;

static void *keep(void *p)
{
    if (nallocs < sizeof allocs / sizeof allocs[0])
        allocs[nallocs++] = p;
    return p;
}

static void free_all(void)
{
    for (size_t i = 0; i < nallocs; i++)
        free(allocs[i]);
    nallocs = 0;
}

/* Hex field of a JSON object (bails if missing). */
static uint8_t *hx(const tj *o, const char *key, size_t *len)
{
    uint8_t *p = NULL;
    size_t n = tj_hex(tj_path(o, key), &p);
    if (n == (size_t)-1)
        tap_bail("missing/invalid hex field %s", key);
    keep(p);
    if (len)
        *len = n;
    return p;
}

static uint8_t *unhex(const char *s, size_t *len)
{
    uint8_t *p = NULL;
    size_t n = tu_unhex(s, &p);
    if (n == (size_t)-1)
        tap_bail("bad hex literal");
    keep(p);
    if (len)
        *len = n;
    return p;
}

static uint8_t *xmalloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        tap_bail("out of memory");
    return keep(p);
}

/* ================================================================================== */
/* Hashes                                                                              */
/* ================================================================================== */

static void test_hashes(void)
{
    uint8_t out[64], out2[64];
    const char *abc = "abc";

    OK(mtp_sha1(abc, 3, out) == 0, "sha1 ok");
    tap_mem_eq(out, unhex("a9993e364706816aba3e25717850c26c9cd0d89d", NULL), 20, "sha1(abc)");
    OK(mtp_sha256(abc, 3, out) == 0, "sha256 ok");
    tap_mem_eq(out, unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", NULL),
               32, "sha256(abc)");
    OK(mtp_sha512(abc, 3, out) == 0, "sha512 ok");
    tap_mem_eq(out, unhex("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                          "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f", NULL),
               64, "sha512(abc)");
    OK(mtp_md5(abc, 3, out) == 0, "md5 ok");
    tap_mem_eq(out, unhex("900150983cd24fb0d6963f7d28e17f72", NULL), 16, "md5(abc)");
    OK(mtp_sha256(NULL, 0, out) == 0, "sha256 of empty input with NULL");
    tap_mem_eq(out, unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL),
               32, "sha256('')");

    /* parts == one shot */
    uint8_t buf[1000];
    tu_rng_fill(NULL, buf, sizeof buf);
    mtp_bytes_t parts[4] = { MTP_BYTES(buf, 1), MTP_BYTES(NULL, 0), MTP_BYTES(buf + 1, 500),
                             MTP_BYTES(buf + 501, 499) };
    mtp_sha256(buf, sizeof buf, out);
    OK(mtp_sha256_v(parts, 4, out2) == 0, "sha256_v ok");
    tap_mem_eq(out2, out, 32, "sha256_v over parts == one-shot");
    mtp_sha1(buf, sizeof buf, out);
    OK(mtp_sha1_v(parts, 4, out2) == 0, "sha1_v ok");
    tap_mem_eq(out2, out, 20, "sha1_v over parts == one-shot");
    mtp_bytes_t badpart = MTP_BYTES(NULL, 5);
    IS_INT(mtp_sha256_v(&badpart, 1, out), MTP_EINVAL, "sha256_v NULL part with length rejected");

    /* incremental, with reuse after final */
    static const mtp_hash_alg_t algs[] = { MTP_HASH_MD5, MTP_HASH_SHA1, MTP_HASH_SHA256,
                                           MTP_HASH_SHA512 };
    for (size_t a = 0; a < 4; a++) {
        mtp_hash_t *h = NULL;
        uint8_t want[64];
        size_t hl = mtp_hash_len(algs[a]);
        OK(mtp_hash_new(algs[a], &h) == 0 && h, "hash_new alg %d", (int)algs[a]);
        switch (algs[a]) {
        case MTP_HASH_MD5: mtp_md5(buf, sizeof buf, want); break;
        case MTP_HASH_SHA1: mtp_sha1(buf, sizeof buf, want); break;
        case MTP_HASH_SHA256: mtp_sha256(buf, sizeof buf, want); break;
        case MTP_HASH_SHA512: mtp_sha512(buf, sizeof buf, want); break;
        }
        for (int round = 0; round < 2; round++) {
            size_t off = 0;
            while (off < sizeof buf) {
                size_t n = (size_t)(tu_rng_next(NULL) % 97);
                if (n > sizeof buf - off)
                    n = sizeof buf - off;
                mtp_hash_update(h, buf + off, n);
                off += n;
            }
            OK(mtp_hash_final(h, out) == 0, "hash_final alg %d round %d", (int)algs[a], round);
            tap_mem_eq(out, want, hl, "incremental == one-shot (alg %d, round %d)", (int)algs[a], round);
        }
        mtp_hash_free(h);
    }
    mtp_hash_t *hbad = NULL;
    IS_INT(mtp_hash_new((mtp_hash_alg_t)99, &hbad), MTP_EINVAL, "hash_new unknown alg");
    IS_INT(mtp_hash_len((mtp_hash_alg_t)99), 0, "hash_len unknown alg");

    /* HMAC-SHA256 (RFC 4231 cases 1, 2) */
    uint8_t k1[20];
    memset(k1, 0x0b, sizeof k1);
    OK(mtp_hmac_sha256(k1, 20, "Hi There", 8, out) == 0, "hmac ok");
    tap_mem_eq(out, unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", NULL),
               32, "hmac-sha256 RFC 4231 #1");
    const char *d2 = "what do ya want for nothing?";
    mtp_bytes_t hp[2] = { MTP_BYTES(d2, 10), MTP_BYTES(d2 + 10, strlen(d2) - 10) };
    OK(mtp_hmac_sha256_v("Jefe", 4, hp, 2, out) == 0, "hmac_v ok");
    tap_mem_eq(out, unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", NULL),
               32, "hmac-sha256 RFC 4231 #2 over two parts");
    OK(mtp_hmac_sha256(NULL, 0, "", 0, out) == 0, "hmac with empty key and data");
    tap_mem_eq(out, unhex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", NULL),
               32, "hmac-sha256('', '')");

    /* PBKDF2-HMAC-SHA512 */
    OK(mtp_pbkdf2_hmac_sha512("password", 8, "salt", 4, 1, out, 64) == 0, "pbkdf2 ok");
    tap_mem_eq(out, unhex("867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
                          "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce", NULL),
               64, "pbkdf2-hmac-sha512 c=1");
    OK(mtp_pbkdf2_hmac_sha512("password", 8, "salt", 4, 2, out, 64) == 0, "pbkdf2 c=2 ok");
    tap_mem_eq(out, unhex("e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c"
                          "f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e", NULL),
               64, "pbkdf2-hmac-sha512 c=2");
    IS_INT(mtp_pbkdf2_hmac_sha512("p", 1, "s", 1, 0, out, 64), MTP_EINVAL, "pbkdf2 0 iterations");

    /* constant-time compare, wipe */
    OK(mtp_ct_memeq("abcd", "abcd", 4) == 1 && mtp_ct_memeq("abcd", "abce", 4) == 0 &&
       mtp_ct_memeq(NULL, NULL, 0) == 1, "ct_memeq");
    uint8_t w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, z[8] = { 0 };
    mtp_secure_zero(w, sizeof w);
    tap_mem_eq(w, z, 8, "secure_zero");
}

/* ================================================================================== */
/* RNG                                                                                 */
/* ================================================================================== */

static int failing_fill(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    (void)out;
    (void)n;
    return 1;   /* positive: "failed" without a code */
}

static void test_rng(void)
{
    uint8_t data[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, out[16], z[16] = { 0 };
    mtp_rng_replay_t st;
    mtp_rng_t rng;

    mtp_rng_replay_init(&rng, &st, data, sizeof data);
    IS_INT(mtp_rng_replay_left(&st), 10, "replay: 10 bytes available");
    OK(mtp_rand(&rng, out, 4) == 0, "replay: first 4");
    tap_mem_eq(out, data, 4, "replay: bytes 0..3");
    OK(mtp_rand(&rng, out, 3) == 0, "replay: next 3");
    tap_mem_eq(out, data + 4, 3, "replay: bytes 4..6");
    memset(out, 0xaa, sizeof out);
    IS_INT(mtp_rand(&rng, out, 4), MTP_ERANGE, "replay: exhaustion is an error");
    tap_mem_eq(out, z, 4, "replay: output zeroed on failure");
    IS_INT(mtp_rng_replay_left(&st), 3, "replay: failed request consumed nothing");
    OK(mtp_rand(&rng, out, 3) == 0, "replay: the last 3 still available");
    tap_mem_eq(out, data + 7, 3, "replay: bytes 7..9");
    IS_INT(mtp_rand(&rng, out, 1), MTP_ERANGE, "replay: empty");
    OK(mtp_rand(&rng, out, 0) == 0, "replay: 0 bytes always fine");

    uint8_t a[32], b[32];
    OK(mtp_rand(NULL, a, 32) == 0 && mtp_rand(NULL, b, 32) == 0, "default rng (RAND_bytes)");
    OK(memcmp(a, b, 32) != 0, "two default draws differ");
    mtp_rng_t custom = { NULL, NULL };
    OK(mtp_rand(&custom, a, 32) == 0, "rng with NULL fill = default");
    mtp_rng_t bad = { failing_fill, NULL };
    IS_INT(mtp_rand(&bad, a, 32), MTP_ECRYPTO, "positive fill result maps to MTP_ECRYPTO");
}

/* ================================================================================== */
/* AES-IGE                                                                             */
/* ================================================================================== */

/* Independent per-block reference on EVP ECB (does not share code with the library). */
static void ref_ige(const uint8_t *key, size_t klen, const uint8_t iv[32], const uint8_t *in,
                    uint8_t *out, size_t len, int enc)
{
    const EVP_CIPHER *c = klen == 16 ? EVP_aes_128_ecb() : klen == 24 ? EVP_aes_192_ecb()
                                                                      : EVP_aes_256_ecb();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t x[16], y[16], t[16], blk[16];
    int ol;
    if (enc) {
        EVP_EncryptInit_ex(ctx, c, NULL, key, NULL);
        memcpy(x, iv, 16);      /* c_{i-1} */
        memcpy(y, iv + 16, 16); /* p_{i-1} */
    } else {
        EVP_DecryptInit_ex(ctx, c, NULL, key, NULL);
        memcpy(x, iv + 16, 16); /* p_{i-1} */
        memcpy(y, iv, 16);      /* c_{i-1} */
    }
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    for (size_t off = 0; off < len; off += 16) {
        memcpy(blk, in + off, 16);
        for (int i = 0; i < 16; i++)
            t[i] = blk[i] ^ x[i];
        if (enc)
            EVP_EncryptUpdate(ctx, t, &ol, t, 16);
        else
            EVP_DecryptUpdate(ctx, t, &ol, t, 16);
        for (int i = 0; i < 16; i++)
            t[i] ^= y[i];
        memcpy(out + off, t, 16);
        memcpy(x, t, 16);
        memcpy(y, blk, 16);
    }
    EVP_CIPHER_CTX_free(ctx);
}

typedef int (*ige_fn)(const uint8_t *, size_t, uint8_t *, const uint8_t *, uint8_t *, size_t, int);

static const struct {
    const char *name;
    ige_fn fn;
} ige_impls[] = {
    { "dispatch", mtp_aes_ige },
    { "aesni", mtp_aes_ige_aesni_ },
    { "evp", mtp_aes_ige_evp_ },
};

/* tdlib generator: seed = L; seed = seed*123457567 + 987651241; byte = (seed >> 23) & 255 */
static void tdlib_gen(uint32_t len, uint8_t *out, size_t n)
{
    uint32_t seed = len;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 123457567u + 987651241u;
        out[i] = (uint8_t)((seed >> 23) & 255);
    }
}

static void test_ige_vectors(void)
{
    const tj *v;
    tj *doc = tj_load("tests/vectors/aes_ige.json");
    int have_ni = mtp_crypto_have_aesni();
    tap_diag("AES-NI %s", have_ni ? "available" : "NOT available (fallback only)");

    const tj *vecs = tj_get(doc, "vectors");
    for (size_t i = 0; i < tj_len(vecs); i++) {
        v = tj_at(vecs, i);
        const char *name = tj_str(tj_get(v, "name"));
        size_t kl, pl, cl, ivl;
        uint8_t *key = hx(v, "key", &kl), *iv = hx(v, "iv", &ivl);
        uint8_t *pt = hx(v, "plaintext", &pl), *ct = hx(v, "ciphertext", &cl);
        uint8_t *out = xmalloc(pl), ivc[32];
        OK(ivl == 32 && pl == cl, "%s: sizes", name);
        for (size_t m = 0; m < 3; m++) {
            if (m == 1 && !have_ni) {
                tap_skip("no AES-NI", 4);
                continue;
            }
            memcpy(ivc, iv, 32);
            OK(ige_impls[m].fn(key, kl, ivc, pt, out, pl, 1) == 0, "%s [%s]: encrypt", name, ige_impls[m].name);
            tap_mem_eq(out, ct, cl, "%s [%s]: ciphertext", name, ige_impls[m].name);
            memcpy(ivc, iv, 32);
            OK(ige_impls[m].fn(key, kl, ivc, ct, out, cl, 0) == 0, "%s [%s]: decrypt", name, ige_impls[m].name);
            tap_mem_eq(out, pt, pl, "%s [%s]: plaintext", name, ige_impls[m].name);
        }
        if (kl == 32) {
            OK(mtp_aes256_ige_encrypt(key, iv, pt, out, pl) == 0, "%s: aes256 encrypt", name);
            tap_mem_eq(out, ct, cl, "%s: mtp_aes256_ige_encrypt", name);
            OK(mtp_aes256_ige_decrypt(key, iv, out, out, cl) == 0, "%s: aes256 decrypt in place", name);
            tap_mem_eq(out, pt, pl, "%s: mtp_aes256_ige_decrypt in place", name);
        }
    }

    const tj *cases = tj_path(doc, "tdlib_generated.cases");
    OK(tj_len(cases) == 6, "6 tdlib generated IGE cases");
    for (size_t i = 0; i < tj_len(cases); i++) {
        v = tj_at(cases, i);
        uint32_t L = (uint32_t)tj_int(tj_get(v, "length"));
        uint32_t want_crc = (uint32_t)tj_uint(tj_get(v, "crc32_of_ciphertext"));
        uint8_t *gen = xmalloc(L + 64), *ct = xmalloc(L), *back = xmalloc(L);
        tdlib_gen(L, gen, L + 64);
        tap_mem_eq(gen + L, hx(v, "key", NULL), 32, "tdlib L=%u: generated key matches", L);
        tap_mem_eq(gen + L + 32, hx(v, "iv", NULL), 32, "tdlib L=%u: generated iv matches", L);
        if (tj_get(v, "plaintext") && L > 0) {
            tap_mem_eq(gen, hx(v, "plaintext", NULL), L, "tdlib L=%u: generated plaintext", L);
        }
        for (size_t m = 0; m < 3; m++) {
            uint8_t ivc[32];
            if (m == 1 && !have_ni) {
                tap_skip("no AES-NI", 3);
                continue;
            }
            memcpy(ivc, gen + L + 32, 32);
            OK(ige_impls[m].fn(gen + L, 32, ivc, gen, ct, L, 1) == 0, "tdlib L=%u [%s]: encrypt", L, ige_impls[m].name);
            uint32_t crc = (uint32_t)crc32(0L, ct, (uInt)L);
            IS_INT(crc, want_crc, "tdlib L=%u [%s]: crc32 of ciphertext", L, ige_impls[m].name);
            memcpy(ivc, gen + L + 32, 32);
            ige_impls[m].fn(gen + L, 32, ivc, ct, back, L, 0);
            tap_mem_eq(back, gen, L, "tdlib L=%u [%s]: decrypts back", L, ige_impls[m].name);
        }
        if (tj_get(v, "ciphertext") && L > 0)
            tap_mem_eq(ct, hx(v, "ciphertext", NULL), L, "tdlib L=%u: ciphertext hex", L);
    }
    tj_free(doc);
}

static void test_ige_errors(void)
{
    uint8_t key[32] = { 0 }, iv[32] = { 0 }, buf[48] = { 0 };
    IS_INT(mtp_aes256_ige_encrypt(key, iv, buf, buf, 15), MTP_EINVAL, "IGE encrypt len 15 rejected");
    IS_INT(mtp_aes256_ige_decrypt(key, iv, buf, buf, 17), MTP_EINVAL, "IGE decrypt len 17 rejected");
    IS_INT(mtp_aes256_ige_encrypt(key, iv, buf, buf, 47), MTP_EINVAL, "IGE encrypt len 47 rejected");
    IS_INT(mtp_aes256_ige_encrypt(key, iv, NULL, NULL, 0), 0, "IGE len 0 is a no-op");
    IS_INT(mtp_aes256_ige_encrypt(key, iv, NULL, buf, 16), MTP_EINVAL, "IGE NULL input rejected");
    IS_INT(mtp_aes_ige(key, 20, iv, buf, buf, 16, 1), MTP_EINVAL, "IGE key length 20 rejected");
    IS_INT(mtp_aes_ige_evp_(key, 32, iv, buf, buf, 8, 1), MTP_EINVAL, "EVP IGE len 8 rejected");
    if (mtp_crypto_have_aesni())
        IS_INT(mtp_aes_ige_aesni_(key, 24, iv, buf, buf, 16, 1), MTP_EINVAL,
               "AES-NI IGE has no 192-bit path (dispatch uses EVP)");
    else
        tap_skip("no AES-NI", 1);
}

/* Cross-check every implementation against the reference over random inputs. */
static void test_ige_random(void)
{
    static const size_t klens[] = { 16, 24, 32 };
    int bad_enc[3] = { 0 }, bad_dec[3] = { 0 }, bad_inplace = 0, bad_chain = 0, runs = 0;
    int have_ni = mtp_crypto_have_aesni();
    uint8_t *pt = xmalloc(8192), *ref = xmalloc(8192), *out = xmalloc(8192), *tmp = xmalloc(8192);

    for (int iter = 0; iter < 600; iter++) {
        size_t klen = klens[tu_rng_next(NULL) % 3];
        size_t len = 16 * (size_t)(tu_rng_next(NULL) % (iter < 300 ? 20 : 512));
        uint8_t key[32], iv[32], ivc[32];
        tu_rng_fill(NULL, key, sizeof key);
        tu_rng_fill(NULL, iv, sizeof iv);
        tu_rng_fill(NULL, pt, len);
        ref_ige(key, klen, iv, pt, ref, len, 1);
        runs++;
        for (size_t m = 0; m < 3; m++) {
            if ((m == 1 && (!have_ni || klen == 24)))
                continue;
            memcpy(ivc, iv, 32);
            ige_impls[m].fn(key, klen, ivc, pt, out, len, 1);
            if (memcmp(out, ref, len) != 0)
                bad_enc[m]++;
            memcpy(ivc, iv, 32);
            ige_impls[m].fn(key, klen, ivc, ref, out, len, 0);
            if (memcmp(out, pt, len) != 0)
                bad_dec[m]++;
        }
        /* in place, through the public 256-bit API */
        if (klen == 32) {
            memcpy(tmp, pt, len);
            mtp_aes256_ige_encrypt(key, iv, tmp, tmp, len);
            if (memcmp(tmp, ref, len) != 0)
                bad_inplace++;
            mtp_aes256_ige_decrypt(key, iv, tmp, tmp, len);
            if (memcmp(tmp, pt, len) != 0)
                bad_inplace++;
        }
        /* chained calls with the IV updated in place == one call */
        if (len >= 32) {
            size_t cut = 16 * (size_t)(1 + tu_rng_next(NULL) % (len / 16 - 1));
            memcpy(ivc, iv, 32);
            mtp_aes_ige(key, klen, ivc, pt, out, cut, 1);
            mtp_aes_ige(key, klen, ivc, pt + cut, out + cut, len - cut, 1);
            if (memcmp(out, ref, len) != 0)
                bad_chain++;
            memcpy(ivc, iv, 32);
            mtp_aes_ige(key, klen, ivc, ref, tmp, cut, 0);
            mtp_aes_ige(key, klen, ivc, ref + cut, tmp + cut, len - cut, 0);
            if (memcmp(tmp, pt, len) != 0)
                bad_chain++;
        }
    }
    for (size_t m = 0; m < 3; m++) {
        IS_INT(bad_enc[m], 0, "random IGE encrypt [%s] == per-block reference (%d runs)", ige_impls[m].name, runs);
        IS_INT(bad_dec[m], 0, "random IGE decrypt [%s] inverts the reference", ige_impls[m].name);
    }
    IS_INT(bad_inplace, 0, "random IGE in place (in == out) encrypt/decrypt");
    IS_INT(bad_chain, 0, "IGE split into two calls with the IV carried == one call");

    /* Larger than the EVP chunk, in place, through the EVP path */
    size_t big = 3 * 4096 + 48;
    uint8_t *b1 = xmalloc(big), *b2 = xmalloc(big), *b3 = xmalloc(big), key[32], iv[32], ivc[32];
    tu_rng_fill(NULL, b1, big);
    tu_rng_fill(NULL, key, 32);
    tu_rng_fill(NULL, iv, 32);
    ref_ige(key, 32, iv, b1, b2, big, 1);
    memcpy(b3, b1, big);
    memcpy(ivc, iv, 32);
    mtp_aes_ige_evp_(key, 32, ivc, b3, b3, big, 1);
    tap_mem_eq(b3, b2, big, "EVP IGE in place across chunk boundaries");
    tap_mem_eq(ivc, b2 + big - 16, 16, "EVP IGE updates iv[0:16] = last ciphertext block");
    tap_mem_eq(ivc + 16, b1 + big - 16, 16, "EVP IGE updates iv[16:32] = last plaintext block");
    memcpy(ivc, iv, 32);
    mtp_aes_ige(key, 32, ivc, b1, b3, big, 1);
    tap_mem_eq(ivc, b2 + big - 16, 16, "IGE dispatch updates iv[0:16]");
    tap_mem_eq(ivc + 16, b1 + big - 16, 16, "IGE dispatch updates iv[16:32]");
}

/* ================================================================================== */
/* AES-CTR                                                                             */
/* ================================================================================== */

typedef int (*ctr_init_fn)(mtp_aes_ctr_t *, const uint8_t *, const uint8_t *);

static void ref_ctr(const uint8_t key[32], const uint8_t iv[16], const uint8_t *in, uint8_t *out,
                    size_t len)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ol;
    EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv);
    if (len)
        EVP_EncryptUpdate(ctx, out, &ol, in, (int)len);
    EVP_CIPHER_CTX_free(ctx);
}

static void test_ctr(void)
{
    tj *doc = tj_load("tests/vectors/aes_ctr.json");
    const struct {
        const char *name;
        ctr_init_fn init;
    } impls[2] = { { "default", mtp_aes_ctr_init }, { "evp", mtp_aes_ctr_init_evp_ } };

    /* mtcute: the same block encrypted 6 times on one stream */
    const tj *ms = tj_get(doc, "mtcute_stream");
    uint8_t *key = hx(ms, "key", NULL), *iv = hx(ms, "iv", NULL), *blk = hx(ms, "plaintext_block", NULL);
    const tj *outs = tj_get(ms, "successive_outputs");
    for (int m = 0; m < 2; m++) {
        mtp_aes_ctr_t c;
        OK(impls[m].init(&c, key, iv) == 0, "mtcute stream [%s]: init", impls[m].name);
        for (size_t i = 0; i < tj_len(outs); i++) {
            uint8_t o[16], *want = unhex(tj_str(tj_at(outs, i)), NULL);
            mtp_aes_ctr_apply(&c, blk, o, 16);
            tap_mem_eq(o, want, 16, "mtcute stream [%s]: output %zu", impls[m].name, i);
        }
        mtp_aes_ctr_free(&c);
    }

    const tj *cases = tj_path(doc, "tdlib_generated.cases");
    OK(tj_len(cases) == 10, "10 tdlib CTR cases");
    for (size_t i = 0; i < tj_len(cases); i++) {
        const tj *v = tj_at(cases, i);
        uint32_t L = (uint32_t)tj_int(tj_get(v, "length"));
        uint32_t want = (uint32_t)tj_uint(tj_get(v, "crc32_ciphertext"));
        uint32_t want_ff = (uint32_t)tj_uint(tj_get(v, "crc32_ciphertext_iv_all_ff"));
        uint8_t *gen = xmalloc(L + 48), *ct = xmalloc(L), ff[16];
        memset(ff, 0xff, 16);
        tdlib_gen(L, gen, L + 48);
        tap_mem_eq(gen + L, hx(v, "key", NULL), 32, "tdlib CTR L=%u: generated key", L);
        tap_mem_eq(gen + L + 32, hx(v, "iv", NULL), 16, "tdlib CTR L=%u: generated iv", L);
        for (int m = 0; m < 2; m++) {
            mtp_aes_ctr_t c;
            impls[m].init(&c, gen + L, gen + L + 32);
            /* split the stream at random points */
            size_t off = 0;
            while (off < L) {
                size_t n = (size_t)(tu_rng_next(NULL) % 100);
                if (tu_rng_next(NULL) % 8 == 0)
                    n = (size_t)(tu_rng_next(NULL) % 5000);
                if (n > L - off)
                    n = L - off;
                mtp_aes_ctr_apply(&c, gen + off, ct + off, n);
                off += n;
            }
            mtp_aes_ctr_free(&c);
            IS_INT((uint32_t)crc32(0L, ct, (uInt)L), want, "tdlib CTR L=%u [%s]: crc32 (split calls)", L, impls[m].name);
            impls[m].init(&c, gen + L, ff);
            memcpy(ct, gen, L);
            mtp_aes_ctr_apply(&c, ct, ct, L);   /* in place, one call */
            mtp_aes_ctr_free(&c);
            IS_INT((uint32_t)crc32(0L, ct, (uInt)L), want_ff, "tdlib CTR L=%u [%s]: crc32 with iv ff..ff (wrap)", L, impls[m].name);
        }
        uint8_t *ct2 = xmalloc(L);
        OK(mtp_aes256_ctr(gen + L, gen + L + 32, gen, ct2, L) == 0, "one-shot CTR L=%u", L);
        IS_INT((uint32_t)crc32(0L, ct2, (uInt)L), want, "one-shot CTR L=%u crc32", L);
    }
    tj_free(doc);

    /* counter wrap and carries, against EVP, random splits */
    static const char *const ivs[] = { "ffffffffffffffffffffffffffffffff", "fffffffffffffffffffffffffffffff0",
                                       "0000000000000000fffffffffffffffe", "00000000000000000000000000000000",
                                       "7fffffffffffffffffffffffffffffff" };
    uint8_t *pt = xmalloc(4000), *want = xmalloc(4000), *got = xmalloc(4000);
    int bad = 0;
    for (size_t k = 0; k < sizeof ivs / sizeof ivs[0]; k++) {
        uint8_t kk[32], *ivb = unhex(ivs[k], NULL);
        for (int rep = 0; rep < 20; rep++) {
            size_t L = (size_t)(tu_rng_next(NULL) % 4000);
            tu_rng_fill(NULL, kk, 32);
            tu_rng_fill(NULL, pt, L);
            ref_ctr(kk, ivb, pt, want, L);
            for (int m = 0; m < 2; m++) {
                mtp_aes_ctr_t c;
                impls[m].init(&c, kk, ivb);
                size_t off = 0;
                while (off < L) {
                    size_t n = (size_t)(tu_rng_next(NULL) % 300);
                    if (n > L - off)
                        n = L - off;
                    mtp_aes_ctr_apply(&c, pt + off, got + off, n);
                    off += n;
                }
                mtp_aes_ctr_free(&c);
                if (memcmp(got, want, L) != 0)
                    bad++;
            }
        }
    }
    IS_INT(bad, 0, "CTR (both impls) == EVP reference around counter carries/wrap, random splits");

    mtp_aes_ctr_t c;
    memset(&c, 0, sizeof c);
    uint8_t b[4] = { 0 };
    IS_INT(mtp_aes_ctr_apply(&c, b, b, 4), MTP_ESTATE, "CTR apply on an uninitialized object");
    mtp_aes_ctr_free(&c);
    mtp_aes_ctr_free(&c);
    OK(1, "CTR free is idempotent on a zeroed object");
}

/* ================================================================================== */
/* KDFs and hashes of the key exchange                                                 */
/* ================================================================================== */

static void test_kdf(void)
{
    tj *doc = tj_load("tests/vectors/mtproto2_crypto.json");
    const tj *arr;
    uint8_t k[32], iv[32];

    arr = tj_get(doc, "kdf_v2");
    OK(tj_len(arr) == 4, "4 kdf_v2 vectors");
    for (size_t i = 0; i < tj_len(arr); i++) {
        const tj *v = tj_at(arr, i);
        const char *name = tj_str(tj_get(v, "name"));
        mtp_kdf2(hx(v, "auth_key", NULL), hx(v, "msg_key", NULL), (int)tj_int(tj_get(v, "x")), k, iv);
        tap_mem_eq(k, hx(v, "aes_key", NULL), 32, "kdf_v2 %s: aes_key", name);
        tap_mem_eq(iv, hx(v, "aes_iv", NULL), 32, "kdf_v2 %s: aes_iv", name);
    }
    arr = tj_get(doc, "kdf_v1");
    OK(tj_len(arr) == 4, "4 kdf_v1 vectors");
    for (size_t i = 0; i < tj_len(arr); i++) {
        const tj *v = tj_at(arr, i);
        const char *name = tj_str(tj_get(v, "name"));
        mtp_kdf1(hx(v, "auth_key", NULL), hx(v, "msg_key", NULL), (int)tj_int(tj_get(v, "x")), k, iv);
        tap_mem_eq(k, hx(v, "aes_key", NULL), 32, "kdf_v1 %s: aes_key", name);
        tap_mem_eq(iv, hx(v, "aes_iv", NULL), 32, "kdf_v1 %s: aes_iv", name);
    }

    const tj *mk1 = tj_get(doc, "message_key_v1");
    const char *in1 = tj_str(tj_get(mk1, "input_ascii"));
    uint8_t mk[16];
    mtp_msg_key1((const uint8_t *)in1, strlen(in1), mk);
    tap_mem_eq(mk, hx(mk1, "msg_key", NULL), 16, "message_key_v1");

    const tj *ah = tj_get(doc, "auth_key_hashes");
    uint8_t *ak = hx(ah, "auth_key", NULL), id[8], aux[8], nnh[16];
    mtp_auth_key_id(ak, id);
    tap_mem_eq(id, hx(ah, "auth_key_id_le", NULL), 8, "auth_key_id bytes");
    IS_INT(mtp_auth_key_id64(ak), tj_int(tj_get(ah, "auth_key_id_int64")), "auth_key_id as int64");
    mtp_auth_key_aux_hash(ak, aux);
    tap_mem_eq(aux, hx(ah, "auth_key_aux_hash", NULL), 8, "auth_key_aux_hash");
    for (int n = 1; n <= 3; n++) {
        char key[32];
        snprintf(key, sizeof key, "new_nonce_hash%d", n);
        OK(mtp_new_nonce_hash(hx(ah, "new_nonce", NULL), n, aux, nnh) == 0, "new_nonce_hash%d ok", n);
        tap_mem_eq(nnh, hx(ah, key, NULL), 16, "new_nonce_hash%d", n);
    }
    IS_INT(mtp_new_nonce_hash(hx(ah, "new_nonce", NULL), 0, aux, nnh), MTP_EINVAL, "new_nonce_hash N=0 rejected");
    IS_INT(mtp_new_nonce_hash(hx(ah, "new_nonce", NULL), 4, aux, nnh), MTP_EINVAL, "new_nonce_hash N=4 rejected");
    {
        uint8_t h[20], *nn = hx(ah, "new_nonce", NULL);
        mtp_new_nonce_hash_fail(nn, nnh);
        mtp_sha1(nn, 32, h);
        tap_mem_eq(nnh, h + 4, 16, "new_nonce_hash of server_DH_params_fail = SHA1(new_nonce)[4:20]");
    }

    arr = tj_get(doc, "tmp_aes_key_iv");
    OK(tj_len(arr) == 4, "4 tmp_aes vectors");
    for (size_t i = 0; i < tj_len(arr); i++) {
        const tj *v = tj_at(arr, i);
        const char *name = tj_str(tj_get(v, "name"));
        size_t nnl;
        uint8_t *nn = hx(v, "new_nonce", &nnl), *sn = hx(v, "server_nonce", NULL);
        if (nnl == 32) {
            mtp_tmp_aes_key_iv(nn, sn, k, iv);
        } else {
            /* mtcute's vector uses a 16-byte new_nonce: check the formula with the hashes */
            uint8_t a[20], b[20], c[20];
            mtp_bytes_t p1[2] = { MTP_BYTES(nn, nnl), MTP_BYTES(sn, 16) };
            mtp_bytes_t p2[2] = { MTP_BYTES(sn, 16), MTP_BYTES(nn, nnl) };
            mtp_bytes_t p3[2] = { MTP_BYTES(nn, nnl), MTP_BYTES(nn, nnl) };
            mtp_sha1_v(p1, 2, a);
            mtp_sha1_v(p2, 2, b);
            mtp_sha1_v(p3, 2, c);
            memcpy(k, a, 20);
            memcpy(k + 20, b, 12);
            memcpy(iv, b + 12, 8);
            memcpy(iv + 8, c, 20);
            memcpy(iv + 28, nn, 4);
            tap_diag("%s: 16-byte new_nonce, formula check only", name);
        }
        tap_mem_eq(k, hx(v, "tmp_aes_key", NULL), 32, "tmp_aes %s: key", name);
        tap_mem_eq(iv, hx(v, "tmp_aes_iv", NULL), 32, "tmp_aes %s: iv", name);
        if (tj_get(v, "encrypted_answer")) {
            size_t el;
            uint8_t *ea = hx(v, "encrypted_answer", &el), *awh = xmalloc(el);
            size_t al;
            uint8_t *ans = hx(v, "answer", &al), h[20];
            OK(mtp_aes256_ige_decrypt(k, iv, ea, awh, el) == 0, "tmp_aes %s: decrypt answer", name);
            tap_mem_eq(awh, hx(v, "answer_with_hash", NULL), el, "tmp_aes %s: answer_with_hash", name);
            tap_mem_eq(awh + 20, ans, al, "tmp_aes %s: answer", name);
            mtp_sha1(ans, al, h);
            tap_mem_eq(awh, h, 20, "tmp_aes %s: SHA1(answer) prefix", name);
            IS_INT(el - 20 - al, tj_int(tj_get(v, "answer_padding_length")), "tmp_aes %s: padding length", name);
        }
    }
    tj_free(doc);
}

static void test_packets(void)
{
    tj *doc = tj_load("tests/vectors/mtproto2_crypto.json");
    const tj *enc = tj_path(doc, "encrypted_messages.0"), *dec = tj_path(doc, "encrypted_messages.1");

    /* client encrypt (x = 0), byte-exact with the fixed padding */
    size_t pl, padl, outl;
    uint8_t *ak = hx(enc, "auth_key", NULL), *pt = hx(enc, "plaintext", &pl), *pad = hx(enc, "padding", &padl);
    uint8_t *want = hx(enc, "output", &outl);
    uint8_t *plain = xmalloc(pl + padl), *out = xmalloc(pl + padl + 24), large[32], mk[16], k[32], iv[32];
    memcpy(plain, pt, pl);
    memcpy(plain + pl, pad, padl);
    mtp_msg_key2_large(ak, 0, plain, pl + padl, large);
    tap_mem_eq(large, hx(enc, "msg_key_large", NULL), 32, "encrypt: msg_key_large");
    mtp_msg_key2(ak, 0, plain, pl + padl, mk);
    tap_mem_eq(mk, hx(enc, "msg_key", NULL), 16, "encrypt: msg_key");
    mtp_kdf2(ak, mk, 0, k, iv);
    tap_mem_eq(k, hx(enc, "aes_key", NULL), 32, "encrypt: aes_key");
    tap_mem_eq(iv, hx(enc, "aes_iv", NULL), 32, "encrypt: aes_iv");
    IS_INT(outl, pl + padl + 24, "encrypt: output length");
    OK(mtp_mtproto2_encrypt(ak, 0, plain, pl + padl, out) == 0, "mtproto2_encrypt ok");
    tap_mem_eq(out, want, outl, "mtproto2_encrypt: grammers client packet byte-exact");
    IS_INT(mtp_mtproto2_encrypt(ak, 0, plain, pl + padl - 1, out), MTP_EINVAL, "mtproto2_encrypt: len %% 16 != 0");
    /* the server can read it back with x = 0 */
    uint8_t *back = xmalloc(pl + padl);
    OK(mtp_mtproto2_decrypt(ak, 0, want, outl, back) == 0, "client packet decrypts with x=0");
    tap_mem_eq(back, plain, pl + padl, "client packet round trip");
    IS_INT(mtp_mtproto2_decrypt(ak, 8, want, outl, back), MTP_ESECURITY, "client packet with x=8 fails msg_key");

    /* server decrypt (x = 8) */
    size_t cl, ptl;
    uint8_t *ak2 = hx(dec, "auth_key", NULL), *cm = hx(dec, "ciphertext_message", &cl);
    uint8_t *ptw = hx(dec, "plaintext", &ptl), *p2 = xmalloc(cl);
    IS_INT(ptl, cl - 24, "decrypt: plaintext length");
    OK(mtp_mtproto2_decrypt(ak2, 8, cm, cl, p2) == 0, "mtproto2_decrypt (server->client, x=8) ok");
    tap_mem_eq(p2, ptw, ptl, "mtproto2_decrypt: plaintext");
    mtp_kdf2(ak2, cm + 8, 8, k, iv);
    tap_mem_eq(k, hx(dec, "aes_key", NULL), 32, "decrypt: aes_key");
    tap_mem_eq(iv, hx(dec, "aes_iv", NULL), 32, "decrypt: aes_iv");
    const tj *parsed = tj_get(dec, "parsed");
    IS_INT((int64_t)mtp_get_le64(p2), tj_int(tj_get(parsed, "salt")), "decrypt: salt");
    IS_INT((int64_t)mtp_get_le64(p2 + 8), tj_int(tj_get(parsed, "session_id")), "decrypt: session_id");
    IS_INT((int64_t)mtp_get_le64(p2 + 16), tj_int(tj_get(parsed, "msg_id")), "decrypt: msg_id");
    IS_INT(mtp_get_le32(p2 + 24), tj_int(tj_get(parsed, "seq_no")), "decrypt: seq_no");
    IS_INT(mtp_get_le32(p2 + 28), tj_int(tj_get(parsed, "message_data_length")), "decrypt: message_data_length");
    IS_INT(mtp_get_le32(p2 + 32), 0x73f1f8dc, "decrypt: body is msg_container");
    IS_INT(ptl - 32 - mtp_get_le32(p2 + 28), tj_int(tj_get(parsed, "padding_length")), "decrypt: padding length");

    /* tampering */
    uint8_t *t = xmalloc(cl), zero[64] = { 0 };
    for (size_t pos = 0; pos < cl; pos += (pos < 24 ? 7 : 53)) {
        memcpy(t, cm, cl);
        t[pos] ^= 0x01;
        memset(p2, 0xee, cl - 24);
        int rc = mtp_mtproto2_decrypt(ak2, 8, t, cl, p2);
        if (!IS_INT(rc, MTP_ESECURITY, "decrypt: byte %zu flipped -> MTP_ESECURITY", pos))
            break;
    }
    tap_mem_eq(p2, zero, 64, "decrypt: plaintext wiped on failure");
    IS_INT(mtp_mtproto2_decrypt(ak2, 0, cm, cl, p2), MTP_ESECURITY, "decrypt with the wrong direction");
    IS_INT(mtp_mtproto2_decrypt(ak2, 8, cm, cl - 1, p2), MTP_EINVAL, "decrypt: length not 24 + 16k");
    IS_INT(mtp_mtproto2_decrypt(ak2, 8, cm, 24, p2), MTP_EINVAL, "decrypt: no payload");
    IS_INT(mtp_mtproto2_decrypt(ak, 8, cm, cl, p2), MTP_ESECURITY, "decrypt with another auth_key");

    /* MTProto 1.0 (bindTempAuthKey-style) round trip */
    uint8_t p1[32 + 40], o1[32 + 40 + 24 + 15], d1[32 + 40 + 15], rnd[16], msgk[16];
    size_t o1l = 0, d1l = 0;
    tu_rng_fill(NULL, p1, sizeof p1);
    p1[28] = 40;
    p1[29] = p1[30] = p1[31] = 0;
    tu_rng_fill(NULL, rnd, sizeof rnd);
    mtp_rng_replay_t st;
    mtp_rng_t rng;
    mtp_rng_replay_init(&rng, &st, rnd, sizeof rnd);
    OK(mtp_mtproto1_encrypt(ak, 0, p1, 72, &rng, o1, &o1l) == 0, "mtproto1_encrypt ok");
    IS_INT(o1l, 24 + 80, "mtproto1: padded to 80 + header");
    IS_INT(mtp_rng_replay_left(&st), 8, "mtproto1: drew exactly the 8 padding bytes");
    mtp_msg_key1(p1, 72, msgk);
    tap_mem_eq(o1 + 8, msgk, 16, "mtproto1: msg_key = SHA1(plain)[4:20]");
    OK(mtp_mtproto1_decrypt(ak, 0, o1, o1l, d1, &d1l) == 0, "mtproto1_decrypt ok");
    IS_INT(d1l, 72, "mtproto1_decrypt: unpadded length");
    tap_mem_eq(d1, p1, 72, "mtproto1 round trip");
    {
        uint8_t kk[32], ii[32], padded[80];
        mtp_kdf1(ak, msgk, 0, kk, ii);
        memcpy(padded, p1, 72);
        memcpy(padded + 72, rnd, 8);
        mtp_aes256_ige_encrypt(kk, ii, padded, padded, 80);
        tap_mem_eq(o1 + 24, padded, 80, "mtproto1: ciphertext = IGE(kdf1) of plain + padding");
    }
    o1[40] ^= 0x80;
    IS_INT(mtp_mtproto1_decrypt(ak, 0, o1, o1l, d1, &d1l), MTP_ESECURITY, "mtproto1_decrypt: tampered");
    o1[40] ^= 0x80;
    IS_INT(mtp_mtproto1_decrypt(ak, 8, o1, o1l, d1, &d1l), MTP_ESECURITY, "mtproto1_decrypt: wrong x");
    /* a length field that does not fit: re-encrypt with message_data_length = 48 */
    p1[28] = 48;
    mtp_rng_replay_init(&rng, &st, rnd, sizeof rnd);
    mtp_mtproto1_encrypt(ak, 0, p1, 72, &rng, o1, &o1l);
    IS_INT(mtp_mtproto1_decrypt(ak, 0, o1, o1l, d1, &d1l), MTP_ESECURITY, "mtproto1_decrypt: bad length field");
    mtp_rng_replay_init(&rng, &st, rnd, 3);
    IS_INT(mtp_mtproto1_encrypt(ak, 0, p1, 72, &rng, o1, &o1l), MTP_ERANGE, "mtproto1_encrypt: rng exhausted");
    tj_free(doc);
}

/* Handshake flows: tmp keys, salt, auth key hashes from complete recorded exchanges. */
static void test_flows(void)
{
    tj *g = tj_load("tests/vectors/auth_key_flow_grammers.json");
    const tj *in = tj_get(g, "intermediate"), *ex = tj_get(g, "expected");
    uint8_t k[32], iv[32], salt[8], id[8], aux[8];
    uint8_t *nn = hx(in, "new_nonce", NULL), *sn = hx(in, "server_nonce", NULL);
    mtp_tmp_aes_key_iv(nn, sn, k, iv);
    tap_mem_eq(k, hx(in, "tmp_aes_key", NULL), 32, "grammers flow: tmp_aes_key");
    tap_mem_eq(iv, hx(in, "tmp_aes_iv", NULL), 32, "grammers flow: tmp_aes_iv");
    mtp_initial_server_salt(nn, sn, salt);
    tap_mem_eq(salt, hx(ex, "first_salt_le", NULL), 8, "grammers flow: first salt");
    uint8_t *ak = hx(ex, "auth_key", NULL);
    mtp_auth_key_id(ak, id);
    tap_mem_eq(id, hx(ex, "auth_key_id_le", NULL), 8, "grammers flow: auth_key_id");
    IS_INT(mtp_auth_key_id64(ak), tj_int(tj_get(ex, "auth_key_id_int64")), "grammers flow: auth_key_id int64");
    mtp_auth_key_aux_hash(ak, aux);
    tap_mem_eq(aux, hx(ex, "auth_key_aux_hash", NULL), 8, "grammers flow: aux hash");
    tj_free(g);

    tj *o = tj_load("tests/vectors/auth_key_sample_official.json");
    const tj *ip = tj_get(o, "inputs"), *dh = tj_get(o, "dh_step"), *res = tj_get(o, "result");
    nn = hx(ip, "new_nonce", NULL);
    sn = hx(ip, "server_nonce", NULL);
    mtp_tmp_aes_key_iv(nn, sn, k, iv);
    tap_mem_eq(k, hx(dh, "tmp_aes_key", NULL), 32, "official sample: tmp_aes_key");
    tap_mem_eq(iv, hx(dh, "tmp_aes_iv", NULL), 32, "official sample: tmp_aes_iv");
    size_t el;
    uint8_t *ea = hx(dh, "encrypted_answer", &el), *awh = xmalloc(el);
    mtp_aes256_ige_decrypt(k, iv, ea, awh, el);
    tap_mem_eq(awh, hx(dh, "answer_with_hash", NULL), el, "official sample: answer_with_hash");
    ak = hx(res, "auth_key", NULL);
    mtp_auth_key_aux_hash(ak, aux);
    const tj *dn = tj_get(res, "derived_not_on_page");
    tap_mem_eq(aux, hx(dn, "auth_key_aux_hash", NULL), 8, "official sample: aux hash");
    uint8_t nnh[16];
    mtp_new_nonce_hash(nn, 1, aux, nnh);
    tap_mem_eq(nnh, hx(res, "new_nonce_hash1", NULL), 16, "official sample: new_nonce_hash1 (dh_gen_ok)");
    mtp_new_nonce_hash(nn, 2, aux, nnh);
    tap_mem_eq(nnh, hx(dn, "new_nonce_hash2", NULL), 16, "official sample: new_nonce_hash2");
    mtp_new_nonce_hash(nn, 3, aux, nnh);
    tap_mem_eq(nnh, hx(dn, "new_nonce_hash3", NULL), 16, "official sample: new_nonce_hash3");
    mtp_initial_server_salt(nn, sn, salt);
    tap_mem_eq(salt, hx(dn, "server_salt_le", NULL), 8, "official sample: server salt");
    IS_INT(mtp_auth_key_id64(ak), tj_int(tj_get(dn, "auth_key_id_int64")), "official sample: auth_key_id");
    tj_free(o);
}

/* ================================================================================== */
/* pq                                                                                  */
/* ================================================================================== */

static void test_pq(void)
{
    tj *doc = tj_load("tests/vectors/pq_factorization.json");
    const tj *vecs = tj_get(doc, "vectors");
    OK(tj_len(vecs) == 12, "12 pq vectors");
    double t0 = tu_now();
    for (size_t i = 0; i < tj_len(vecs); i++) {
        const tj *v = tj_at(vecs, i);
        uint64_t pq = tj_uint(tj_get(v, "pq")), p = 0, q = 0;
        uint64_t wp = tj_uint(tj_get(v, "p")), wq = tj_uint(tj_get(v, "q"));
        OK(mtp_factorize_pq(pq, &p, &q) == 0 && p == wp && q == wq,
           "pq %llu = %llu * %llu", (unsigned long long)pq, (unsigned long long)p, (unsigned long long)q);
        /* wire form: TL strings */
        size_t tl_len;
        uint8_t *tl = hx(v, "pq_tl_string", &tl_len), pb[8], qb[8];
        size_t pbl = 0, qbl = 0;
        OK(mtp_factorize_pq_bytes(tl + 1, tl[0], pb, &pbl, qb, &qbl) == 0, "pq bytes #%zu ok", i);
        uint8_t *ptl = hx(v, "p_tl_string", NULL), *qtl = hx(v, "q_tl_string", NULL);
        OK(pbl == ptl[0] && memcmp(pb, ptl + 1, pbl) == 0, "pq bytes #%zu: p minimal BE", i);
        OK(qbl == qtl[0] && memcmp(qb, qtl + 1, qbl) == 0, "pq bytes #%zu: q minimal BE", i);
    }
    tap_diag("12 vectors factored in %.1f ms", (tu_now() - t0) * 1e3);

    uint64_t p, q;
    IS_INT(mtp_factorize_pq(1000000007ULL, &p, &q), MTP_EINVAL, "prime pq rejected");
    IS_INT(mtp_factorize_pq(1000000007ULL * 1000000007ULL, &p, &q), MTP_EINVAL, "square pq rejected");
    IS_INT(mtp_factorize_pq(3ULL * 5 * 7, &p, &q), MTP_EINVAL, "three factors rejected");
    IS_INT(mtp_factorize_pq(4, &p, &q), MTP_EINVAL, "4 = 2*2 rejected");
    IS_INT(mtp_factorize_pq(0, &p, &q), MTP_EINVAL, "0 rejected");
    IS_INT(mtp_factorize_pq(1, &p, &q), MTP_EINVAL, "1 rejected");
    OK(mtp_factorize_pq(6, &p, &q) == 0 && p == 2 && q == 3, "6 = 2 * 3");
    OK(mtp_factorize_pq(1000003ULL * 4294967291ULL, &p, &q) == 0 && p == 1000003ULL && q == 4294967291ULL,
       "unbalanced pq");
    uint8_t long9[9] = { 1, 0, 0, 0, 0, 0, 0, 0, 1 }, pb[8], qb[8];
    size_t pbl, qbl;
    IS_INT(mtp_factorize_pq_bytes(long9, 9, pb, &pbl, qb, &qbl), MTP_EINVAL, "9-byte pq rejected");
    uint8_t lead0[9] = { 0, 0x14, 0x60, 0xe7, 0xd3, 0xfa, 0x72, 0x77, 0x91 };
    OK(mtp_factorize_pq_bytes(lead0, 9, pb, &pbl, qb, &qbl) == 0 && pbl == 4 && qbl == 4,
       "leading zero byte tolerated");

    /* near the 64-bit limit: two primes just below 2^32 */
    uint64_t a = 4294967291ULL, b = a - 2;
    while (!mtp_is_prime_u64(b))
        b -= 2;
    t0 = tu_now();
    OK(mtp_factorize_pq(a * b, &p, &q) == 0 && p == b && q == a, "pq near 2^64 (%llu * %llu)",
       (unsigned long long)b, (unsigned long long)a);
    tap_diag("near-2^64 pq factored in %.1f ms", (tu_now() - t0) * 1e3);

    /* generator (server side) + factorization, random */
    int bad = 0;
    t0 = tu_now();
    for (int i = 0; i < 30; i++) {
        uint64_t pq, gp, gq;
        if (mtp_pq_generate(NULL, &pq, &gp, &gq) != 0 || pq >= (1ULL << 63) || gp >= gq ||
            !mtp_is_prime_u64(gp) || !mtp_is_prime_u64(gq) || gp < (1ULL << 30) ||
            mtp_factorize_pq(pq, &p, &q) != 0 || p != gp || q != gq)
            bad++;
    }
    IS_INT(bad, 0, "30 generated pq < 2^63 with ~31-bit primes factor back");
    tap_diag("30 generated pq factored in %.1f ms", (tu_now() - t0) * 1e3);
    uint8_t few[3] = { 0 };
    mtp_rng_replay_t st;
    mtp_rng_t rng;
    uint64_t pq;
    mtp_rng_replay_init(&rng, &st, few, sizeof few);
    IS_INT(mtp_pq_generate(&rng, &pq, &p, &q), MTP_ERANGE, "pq_generate with an exhausted rng");

    /* primality */
    OK(!mtp_is_prime_u64(0) && !mtp_is_prime_u64(1) && mtp_is_prime_u64(2) && mtp_is_prime_u64(3) &&
       !mtp_is_prime_u64(561) && !mtp_is_prime_u64(3215031751ULL) && mtp_is_prime_u64(18446744073709551557ULL) &&
       !mtp_is_prime_u64(18446744073709551615ULL), "is_prime_u64 edge cases (Carmichael, strong pseudoprime, 2^64-59)");
    tj_free(doc);
}

int main(void)
{
    test_hashes();
    test_rng();
    test_ige_vectors();
    test_ige_errors();
    test_ige_random();
    test_ctr();
    test_kdf();
    test_packets();
    test_flows();
    test_pq();
    free_all();
    return tap_done();
}
