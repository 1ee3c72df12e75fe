/*
 * SHA-256 on SHA-NI against the portable (OpenSSL EVP) path, the fused AES-256-IGE decrypt
 * + SHA-256, the two-block KDF, and the per-thread padding pool (incl. fork safety).
 * Where the CPU has no SHA-NI both sides take the portable path and the tests still run.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mtproto/crypto.h>
#include <mtproto/envelope.h>
#include "crypto/crypto_internal.h"
#include "testutil.h"

static tu_rng_t prng_state = { 0x243f6a8885a308d3ULL };

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        tap_bail("out of memory");
    return p;
}

/* SHA-256 on the portable path (EVP), whatever the CPU. */
static void sha_ref_v(const mtp_bytes_t *parts, size_t n, uint8_t out[32])
{
    mtp_sha256_force_portable_(1);
    if (mtp_sha256_v(parts, n, out) != 0)
        tap_bail("portable SHA-256 failed");
    mtp_sha256_force_portable_(0);
}

static void sha_ref(const uint8_t *p, size_t n, uint8_t out[32])
{
    mtp_bytes_t part = MTP_BYTES(p, n);
    sha_ref_v(&part, 1, out);
}

/* ---- FIPS 180-4 / NIST example vectors on both paths ---- */

static void test_nist(void)
{
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
          "klmnopqrlmnopqrsmnopqrstnopqrstu",
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
    };
    tap_diag("SHA-NI %s", mtp_crypto_have_shani() ? "available" : "not available (portable on both sides)");
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t *want = NULL, got[32];
        size_t len = strlen(v[i].msg);
        tu_unhex(v[i].hex, &want);
        for (int portable = 0; portable < 2; portable++) {
            mtp_sha256_force_portable_(portable);
            memset(got, 0, 32);
            IS_INT(mtp_sha256(v[i].msg, len, got), 0, "sha256 rc");
            tap_mem_eq(got, want, 32, "NIST vector %zu (%zu bytes), %s, one-shot", i, len,
                       portable ? "portable" : "SHA-NI");
            /* byte-wise parts */
            mtp_bytes_t parts[3] = { MTP_BYTES(v[i].msg, len / 3), MTP_BYTES(v[i].msg + len / 3, 0),
                                     MTP_BYTES(v[i].msg + len / 3, len - len / 3) };
            memset(got, 0, 32);
            IS_INT(mtp_sha256_v(parts, 3, got), 0, "sha256_v rc");
            tap_mem_eq(got, want, 32, "NIST vector %zu, %s, in parts", i, portable ? "portable" : "SHA-NI");
        }
        mtp_sha256_force_portable_(0);
        free(want);
    }
    /* one million 'a' */
    uint8_t *want = NULL, got[32];
    uint8_t *m = xmalloc(1000000);
    memset(m, 'a', 1000000);
    tu_unhex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", &want);
    for (int portable = 0; portable < 2; portable++) {
        mtp_sha256_force_portable_(portable);
        mtp_sha256(m, 1000000, got);
        tap_mem_eq(got, want, 32, "one million 'a', %s", portable ? "portable" : "SHA-NI");
        /* incremental in odd pieces through the internal context */
        if (!portable && mtp_sha256_ni_ok_()) {
            mtp_sha256_ctx_ c;
            mtp_sha256_ni_init_(&c);
            size_t off = 0, step = 1;
            while (off < 1000000) {
                size_t n = step < 1000000 - off ? step : 1000000 - off;
                mtp_sha256_ni_update_(&c, m + off, n);
                off += n;
                step = step * 3 + 1;
                if (step > 70000)
                    step = 7;
            }
            mtp_sha256_ni_final_(&c, got);
            tap_mem_eq(got, want, 32, "one million 'a', SHA-NI context in odd pieces");
        }
    }
    mtp_sha256_force_portable_(0);
    free(want);
    free(m);
}

/* ---- every length 0..300 and some large ones, unaligned, both paths ---- */

static void test_lengths(void)
{
    const size_t max = (1 << 20) + 67;
    uint8_t *buf = xmalloc(max + 16);
    tu_rng_fill(&prng_state, buf, max + 16);
    int bad = 0, badv = 0;
    for (size_t len = 0; len <= 300; len++) {
        for (size_t al = 0; al < 4; al++) {
            uint8_t a[32], b[32];
            const uint8_t *p = buf + al * 5 + (len & 1);
            sha_ref(p, len, b);
            mtp_sha256(p, len, a);
            bad += memcmp(a, b, 32) != 0;
            /* split in three at length-dependent points */
            size_t s1 = len / (al + 2), s2 = len - s1 > 0 ? (len - s1) / 2 : 0;
            mtp_bytes_t parts[3] = { MTP_BYTES(p, s1), MTP_BYTES(p + s1, s2),
                                     MTP_BYTES(p + s1 + s2, len - s1 - s2) };
            memset(a, 0, 32);
            mtp_sha256_v(parts, 3, a);
            badv += memcmp(a, b, 32) != 0;
        }
    }
    IS_INT(bad, 0, "SHA-NI == portable for every length 0..300 at 4 alignments");
    IS_INT(badv, 0, "SHA-NI in three parts == portable for every length 0..300");
    static const size_t big[] = { 511, 512, 513, 1000, 1023, 1024, 1056, 4095, 4096, 65537,
                                  (1 << 20) + 67 };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        uint8_t a[32], b[32];
        sha_ref(buf + 3, big[i], b);
        mtp_sha256(buf + 3, big[i], a);
        tap_mem_eq(a, b, 32, "SHA-NI == portable, %zu bytes (offset 3)", big[i]);
    }
    free(buf);
}

/* ---- KDF2 (paired single blocks) and msg_key against the portable path ---- */

static void test_kdf(void)
{
    uint8_t ak[256], mk[16];
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        uint8_t k1[32], v1[32], k2[32], v2[32];
        int x = (i & 1) ? 8 : 0;
        tu_rng_fill(&prng_state, ak, sizeof ak);
        tu_rng_fill(&prng_state, mk, sizeof mk);
        mtp_kdf2(ak, mk, x, k1, v1);
        mtp_sha256_force_portable_(1);
        mtp_kdf2(ak, mk, x, k2, v2);
        mtp_sha256_force_portable_(0);
        bad += memcmp(k1, k2, 32) != 0 || memcmp(v1, v2, 32) != 0;
    }
    IS_INT(bad, 0, "mtp_kdf2 on SHA-NI == portable (200 random keys, x = 0 / 8)");

    /* the paired helper itself, all splits of messages up to 55 bytes */
    uint8_t m[64];
    tu_rng_fill(&prng_state, m, sizeof m);
    bad = 0;
    int done = 0;
    for (size_t la = 0; la <= 55; la++) {
        size_t lb = 55 - la;
        uint8_t da[32], db[32], ra[32], rb[32];
        if (mtp_sha256_ni_pair2_(m, la / 2, m + la / 2, la - la / 2, m + 1, lb, NULL, 0, da, db)) {
            done++;
            sha_ref(m, la, ra);
            sha_ref(m + 1, lb, rb);
            bad += memcmp(da, ra, 32) != 0 || memcmp(db, rb, 32) != 0;
        }
    }
    IS_INT(bad, 0, "paired one-block SHA-256 == portable for 0..55 bytes (%d checked)", done);
    OK(mtp_sha256_ni_pair2_(m, 56, NULL, 0, m, 1, NULL, 0, m, m) == 0, "paired helper declines 56 bytes");
}

/* ---- fused IGE decrypt + SHA-256 ---- */

/* Reference: portable decrypt (EVP IGE) then portable hash. */
static void fused_ref(const uint8_t key[32], const uint8_t iv[32], const uint8_t *pre, size_t plen,
                      const uint8_t *in, uint8_t *out, size_t len, uint8_t d[32])
{
    uint8_t ivc[32];
    memcpy(ivc, iv, 32);
    if (len && mtp_aes_ige_evp_(key, 32, ivc, in, out, len, 0) != 0)
        tap_bail("EVP IGE failed");
    mtp_bytes_t parts[2] = { MTP_BYTES(pre, plen), MTP_BYTES(out, len) };
    sha_ref_v(parts, 2, d);
}

static void test_fused(void)
{
    const size_t maxlen = 2048 + 64;
    uint8_t key[32], iv[32], pre[200];
    uint8_t *ct = xmalloc(maxlen + 16), *o1 = xmalloc(maxlen + 16), *o2 = xmalloc(maxlen + 16);
    uint8_t *inpl = xmalloc(maxlen + 16);
    static const size_t plens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 55, 56, 63, 64, 65, 100, 127, 128, 129, 200 };
    int bad = 0, bad_inpl = 0, bad_port = 0, count = 0;
    tu_rng_fill(&prng_state, pre, sizeof pre);
    for (size_t len = 0; len <= maxlen; len += 16) {
        for (size_t pi = 0; pi < sizeof plens / sizeof plens[0]; pi++) {
            size_t plen = plens[pi], oi = (len / 16 + pi) % 4, oo = (len / 16 + 2 * pi) % 5;
            uint8_t d1[32], d2[32], d3[32];
            tu_rng_fill(&prng_state, key, 32);
            tu_rng_fill(&prng_state, iv, 32);
            tu_rng_fill(&prng_state, ct + oi, len);
            fused_ref(key, iv, pre, plen, ct + oi, o2, len, d2);
            memset(o1, 0xee, maxlen + 16);
            bad += mtp_aes256_ige_decrypt_sha256(key, iv, plen ? pre : NULL, plen, ct + oi, o1 + oo,
                                                 len, d1) != 0;
            bad += memcmp(d1, d2, 32) != 0 || (len && memcmp(o1 + oo, o2, len) != 0);
            bad += o1[oo + len] != 0xee;   /* nothing written past the end */
            /* in place */
            memcpy(inpl + oo, ct + oi, len);
            mtp_aes256_ige_decrypt_sha256(key, iv, pre, plen, inpl + oo, inpl + oo, len, d3);
            bad_inpl += memcmp(d3, d2, 32) != 0 || (len && memcmp(inpl + oo, o2, len) != 0);
            /* forced portable fallback */
            mtp_sha256_force_portable_(1);
            memset(d3, 0, 32);
            mtp_aes256_ige_decrypt_sha256(key, iv, pre, plen, ct + oi, o1, len, d3);
            mtp_sha256_force_portable_(0);
            bad_port += memcmp(d3, d2, 32) != 0 || (len && memcmp(o1, o2, len) != 0);
            count++;
        }
    }
    IS_INT(bad, 0, "fused == decrypt-then-hash: lengths 0..%zu, %zu prefix lengths, unaligned (%d cases)",
           maxlen, sizeof plens / sizeof plens[0], count);
    IS_INT(bad_inpl, 0, "fused in place (in == out) == decrypt-then-hash");
    IS_INT(bad_port, 0, "fused with SHA-NI forced off == decrypt-then-hash");

    /* 1 MiB (file part) with the 32-byte msg_key prefix */
    size_t big = 1 << 20;
    uint8_t *bc = xmalloc(big), *b1 = xmalloc(big), *b2 = xmalloc(big), d1[32], d2[32];
    tu_rng_fill(&prng_state, bc, big);
    fused_ref(key, iv, pre, 32, bc, b2, big, d2);
    mtp_aes256_ige_decrypt_sha256(key, iv, pre, 32, bc, b1, big, d1);
    OK(memcmp(d1, d2, 32) == 0 && memcmp(b1, b2, big) == 0, "fused == decrypt-then-hash, 1 MiB");
    free(bc);
    free(b1);
    free(b2);

    uint8_t d[32];
    IS_INT(mtp_aes256_ige_decrypt_sha256(key, iv, pre, 32, ct, o1, 17, d), MTP_EINVAL, "len %% 16 != 0");
    IS_INT(mtp_aes256_ige_decrypt_sha256(key, iv, pre, 32, ct, o1, 16, NULL), MTP_EINVAL, "NULL digest");
    IS_INT(mtp_aes256_ige_decrypt_sha256(key, iv, NULL, 5, ct, o1, 16, d), MTP_EINVAL, "NULL prefix, len 5");
    IS_INT(mtp_aes256_ige_decrypt_sha256(NULL, iv, pre, 32, ct, o1, 16, d), MTP_EINVAL, "NULL key");
    free(ct);
    free(o1);
    free(o2);
    free(inpl);
}

/* ---- envelope across the two paths ---- */

static void test_envelope_paths(void)
{
    mtp_auth_key_t key;
    uint8_t raw[256], body[2048];
    mtp_buf_t out;
    int bad = 0;
    tu_rng_fill(&prng_state, raw, sizeof raw);
    tu_rng_fill(&prng_state, body, sizeof body);
    mtp_auth_key_init(&key, raw);
    mtp_buf_init(&out);
    for (size_t len = 4; len <= 2048; len += 4 * 7) {
        for (int enc_port = 0; enc_port < 2; enc_port++) {
            mtp_envelope_msg_t m;
            mtp_buf_clear(&out);
            mtp_sha256_force_portable_(enc_port);
            if (mtp_envelope_encrypt(&key, MTP_ROLE_SERVER, 1, 2, 3, 4, body, len, NULL, &out, NULL)) {
                bad++;
                continue;
            }
            mtp_sha256_force_portable_(!enc_port);
            int rc = mtp_envelope_decrypt(&key, MTP_ROLE_CLIENT, out.data, out.len, &m);
            bad += rc != 0 || m.body.len != len || memcmp(m.body.ptr, body, len) != 0;
        }
    }
    mtp_sha256_force_portable_(0);
    IS_INT(bad, 0, "envelope: encrypted on one SHA path, decrypted and verified on the other");
    /* one flipped ciphertext bit anywhere must fail the fused check */
    mtp_buf_clear(&out);
    mtp_envelope_encrypt(&key, MTP_ROLE_SERVER, 1, 2, 3, 4, body, 1024, NULL, &out, NULL);
    uint8_t *copy = xmalloc(out.len);
    int accepted = 0;
    for (size_t i = 24; i < out.len; i += 37) {
        mtp_envelope_msg_t m;
        memcpy(copy, out.data, out.len);
        copy[i] ^= 0x10;
        accepted += mtp_envelope_decrypt(&key, MTP_ROLE_CLIENT, copy, out.len, &m) != MTP_ESECURITY;
    }
    IS_INT(accepted, 0, "envelope: every flipped ciphertext bit is rejected");
    free(copy);
    mtp_buf_free(&out);
    mtp_auth_key_wipe(&key);
}

/* ---- several packets at once: IGE lanes, paired msg_key hashes, seal_many ---- */

static void test_ige_many(void)
{
    enum { NJ = 9, MAXLEN = 4096 };
    static uint8_t keys[NJ][32], ivs[NJ][32], in[NJ][MAXLEN], got[NJ][MAXLEN], want[NJ][MAXLEN];
    int bad = 0, rounds = 0;
    for (int round = 0; round < 60; round++) {
        size_t n = 1 + (size_t)(tu_rng_next(&prng_state) % NJ);
        bool inplace = round % 3 == 0;
        mtp_ige_job_t jobs[NJ];
        for (size_t i = 0; i < n; i++) {
            size_t len = 16 * (size_t)(tu_rng_next(&prng_state) % (MAXLEN / 16 + 1));
            if (round % 4 == 1)
                len = 16 * 64;     /* equal lengths: all lanes end together */
            tu_rng_fill(&prng_state, keys[i], 32);
            tu_rng_fill(&prng_state, ivs[i], 32);
            tu_rng_fill(&prng_state, in[i], len);
            uint8_t iv[32];
            memcpy(iv, ivs[i], 32);
            if (mtp_aes_ige_evp_(keys[i], 32, iv, in[i], want[i], len, 1))
                bad++;
            if (inplace)
                memcpy(got[i], in[i], len);
            jobs[i] = (mtp_ige_job_t){ keys[i], ivs[i], inplace ? got[i] : in[i], got[i], len };
        }
        uint8_t ivcopy[NJ][32];
        memcpy(ivcopy, ivs, sizeof ivcopy);
        if (mtp_aes256_ige_encrypt_many(jobs, n))
            bad++;
        for (size_t i = 0; i < n; i++)
            bad += memcmp(got[i], want[i], jobs[i].len) != 0 || memcmp(ivs[i], ivcopy[i], 32) != 0;
        /* and back: decrypt_many (in place or not) gives the plaintexts, as EVP does */
        static uint8_t back[NJ][MAXLEN], evp[NJ][MAXLEN];
        for (size_t i = 0; i < n; i++) {
            uint8_t iv[32];
            memcpy(iv, ivs[i], 32);
            if (mtp_aes_ige_evp_(keys[i], 32, iv, got[i], evp[i], jobs[i].len, 0))
                bad++;
            if (inplace)
                memcpy(back[i], got[i], jobs[i].len);
            jobs[i].in = inplace ? back[i] : got[i];
            jobs[i].out = back[i];
        }
        if (mtp_aes256_ige_decrypt_many(jobs, n))
            bad++;
        for (size_t i = 0; i < n; i++)
            bad += memcmp(back[i], in[i], jobs[i].len) != 0 || memcmp(evp[i], in[i], jobs[i].len) != 0;
        rounds++;
    }
    IS_INT(bad, 0, "ige_{en,de}crypt_many: %d rounds of 1..9 jobs of 0..4096 bytes equal the EVP path (IVs untouched)", rounds);

    /* one bad job: nothing is written */
    memset(got[0], 0xaa, 64);
    memset(got[1], 0xaa, 64);
    mtp_ige_job_t j2[2] = { { keys[0], ivs[0], in[0], got[0], 64 }, { keys[1], ivs[1], in[1], got[1], 40 } };
    int rc = mtp_aes256_ige_encrypt_many(j2, 2);
    OK(rc == MTP_EINVAL && got[0][0] == 0xaa && got[0][63] == 0xaa, "ige_encrypt_many: a length not a multiple of 16 -> MTP_EINVAL, nothing written");
    j2[1].len = 64;
    j2[1].key = NULL;
    OK(mtp_aes256_ige_encrypt_many(j2, 2) == MTP_EINVAL, "ige_encrypt_many: NULL key -> MTP_EINVAL");
    OK(mtp_aes256_ige_encrypt_many(NULL, 0) == 0 && mtp_aes256_ige_encrypt_many(NULL, 1) == MTP_EINVAL,
       "ige_encrypt_many: n == 0 is a no-op, NULL jobs rejected");
}

static void test_msg_key_x2(void)
{
    uint8_t ka[256], kb[256], a[700], b[700], da[32], db[32], ra[32], rb[32];
    int bad = 0, n = 0;
    tu_rng_fill(&prng_state, ka, sizeof ka);
    tu_rng_fill(&prng_state, kb, sizeof kb);
    tu_rng_fill(&prng_state, a, sizeof a);
    tu_rng_fill(&prng_state, b, sizeof b);
    for (int port = 0; port < 2; port++) {
        mtp_sha256_force_portable_(port);
        for (size_t la = 0; la <= 700; la += (la < 140 ? 1 : 37))
            for (size_t lb = la < 100 ? 0 : la - 100; lb <= la + 70 && lb <= 700; lb += 23) {
                for (int x = 0; x <= 8; x += 8) {
                    mtp_msg_key2_large_x2(x, ka, a, la, kb, b, lb, da, db);
                    mtp_sha256_force_portable_(1);
                    mtp_msg_key2_large(ka, x, a, la, ra);
                    mtp_msg_key2_large(kb, x, b, lb, rb);
                    mtp_sha256_force_portable_(port);
                    bad += memcmp(da, ra, 32) != 0 || memcmp(db, rb, 32) != 0;
                    n++;
                }
            }
    }
    mtp_sha256_force_portable_(0);
    IS_INT(bad, 0, "msg_key2_large_x2: %d length pairs (0..700 bytes, both x, both paths) equal two single hashes", n);
}

static void test_seal_many(void)
{
    enum { NP = 7 };
    mtp_auth_key_t keys[2];
    uint8_t raw[256];
    for (int k = 0; k < 2; k++) {
        tu_rng_fill(&prng_state, raw, sizeof raw);
        mtp_auth_key_init(&keys[k], raw);
    }
    static uint8_t one[NP][24 + 8192], many[NP][24 + 8192], plain0[8192];
    int bad = 0, opened = 0, rounds = 0, total = 0, spoiled = 0;
    for (int round = 0; round < 40; round++) {
        size_t n = 1 + (size_t)(tu_rng_next(&prng_state) % NP);
        mtp_seal_job_t jobs[NP];
        uint8_t large[32];
        for (size_t i = 0; i < n; i++) {
            size_t plain = 16 * (3 + (size_t)(tu_rng_next(&prng_state) % 500));
            const mtp_auth_key_t *k = &keys[tu_rng_next(&prng_state) % 2];
            tu_rng_fill(&prng_state, one[i] + 24, plain);
            /* a well-formed inner header so that the result also opens */
            size_t body = plain - 32 - 12 - (tu_rng_next(&prng_state) % 2) * 16;
            body &= ~(size_t)3;
            for (int b = 0; b < 4; b++) {
                one[i][24 + 28 + b] = (uint8_t)(body >> (8 * b));
            }
            memcpy(many[i], one[i], 24 + plain);
            if (mtp_envelope_seal(k, MTP_ROLE_SERVER, one[i], plain, large))
                bad++;
            jobs[i] = (mtp_seal_job_t){ .key = k, .buf = many[i], .plain_len = plain };
        }
        if (mtp_envelope_seal_many(MTP_ROLE_SERVER, jobs, n))
            bad++;
        for (size_t i = 0; i < n; i++) {
            mtp_envelope_seal(jobs[i].key, MTP_ROLE_SERVER, one[i], 0, large); /* EINVAL, no-op */
            bad += memcmp(jobs[i].msg_key_large + 8, many[i] + 8, 16) != 0;
        }
        for (size_t i = 0; i < n; i++) {
            bad += memcmp(one[i], many[i], 24 + jobs[i].plain_len) != 0;
            total++;
        }
        /* open them all at once, one of them tampered with (when there are several) */
        static uint8_t plain[NP][8192];
        mtp_open_job_t oj[NP];
        size_t spoil = n > 1 ? (size_t)(tu_rng_next(&prng_state) % n) : NP;
        if (spoil < n)
            many[spoil][24 + 5] ^= 1;
        for (size_t i = 0; i < n; i++)
            oj[i] = (mtp_open_job_t){ .key = jobs[i].key, .pkt = many[i],
                                      .len = 24 + jobs[i].plain_len, .plain = plain[i] };
        if (mtp_envelope_decrypt_many(MTP_ROLE_CLIENT, oj, n))
            bad++;
        for (size_t i = 0; i < n; i++) {
            mtp_envelope_msg_t m;
            if (i == spoil) {
                bad += oj[i].rc != MTP_ESECURITY;
                spoiled++;
                continue;
            }
            int rc = mtp_envelope_decrypt(jobs[i].key, MTP_ROLE_CLIENT, one[i], 24 + jobs[i].plain_len, &m);
            opened += rc == 0 && oj[i].rc == 0 && oj[i].msg.body.len == m.body.len &&
                      memcmp(oj[i].msg.body.ptr, m.body.ptr, m.body.len) == 0 &&
                      oj[i].msg.msg_id == m.msg_id && oj[i].msg.quick_ack == m.quick_ack &&
                      oj[i].msg.padding_len == m.padding_len;
        }
        rounds++;
    }
    IS_INT(bad, 0, "seal_many: %d rounds of 1..7 packets under 2 keys give the bytes of single seals", rounds);
    IS_INT(opened, total - spoiled, "decrypt_many: every intact packet opens, with the fields single decryption gives");
    OK(spoiled > 10, "decrypt_many: a tampered packet in the batch fails alone (%d)", spoiled);
    mtp_open_job_t short_job = { .key = &keys[0], .pkt = many[0], .len = 40, .plain = plain0 };
    OK(mtp_envelope_decrypt_many(MTP_ROLE_CLIENT, &short_job, 1) == 0 && short_job.rc == MTP_ESECURITY,
       "decrypt_many: a packet too short fails with MTP_ESECURITY");
    mtp_open_job_t overlap = { .key = &keys[0], .pkt = many[0], .len = 100, .plain = many[0] + 8 };
    OK(mtp_envelope_decrypt_many(MTP_ROLE_CLIENT, &overlap, 1) == MTP_EINVAL, "decrypt_many: overlapping output rejected");
    mtp_seal_job_t badjob = { .key = &keys[0], .buf = many[0], .plain_len = 40 };
    OK(mtp_envelope_seal_many(MTP_ROLE_CLIENT, &badjob, 1) == MTP_EINVAL, "seal_many: plain_len %% 16 != 0 rejected");
    mtp_auth_key_wipe(&keys[0]);
    mtp_auth_key_wipe(&keys[1]);
}

/* ---- padding pool ---- */

static void *pool_thread(void *arg)
{
    uint8_t *p = arg;
    if (mtp_rand_padding(NULL, p, 64) != 0)
        return NULL;
    return p;
}

static void test_pool(void)
{
    uint8_t a[300], b[300], rec[64];
    /* with an rng: exactly mtp_rand, same bytes in the same order */
    for (int i = 0; i < 64; i++)
        rec[i] = (uint8_t)(i * 7 + 1);
    mtp_rng_replay_t st;
    mtp_rng_t rng;
    mtp_rng_replay_init(&rng, &st, rec, sizeof rec);
    IS_INT(mtp_rand_padding(&rng, a, 1), 0, "injected rng: 1 byte");
    IS_INT(mtp_rand_padding(&rng, a + 1, 40), 0, "injected rng: 40 bytes");
    tap_mem_eq(a, rec, 41, "injected rng: bytes served in order");
    IS_INT(mtp_rand_padding(&rng, a, 24), MTP_ERANGE, "injected rng: exhausted -> its error");

    /* pool: consecutive draws differ, large requests work, zero length is fine */
    IS_INT(mtp_rand_padding(NULL, a, 268), 0, "pool draw");
    IS_INT(mtp_rand_padding(NULL, b, 268), 0, "pool draw");
    OK(memcmp(a, b, 268) != 0, "two pool draws differ");
    IS_INT(mtp_rand_padding(NULL, NULL, 0), 0, "zero bytes");
    IS_INT(mtp_rand_padding(NULL, NULL, 5), MTP_EINVAL, "NULL out");
    uint8_t *big = xmalloc(100000);
    memset(big, 0, 100000);
    IS_INT(mtp_rand_padding(NULL, big, 100000), 0, "large request (direct CSPRNG)");
    int zeros = 0;
    for (int i = 0; i < 100000; i++)
        zeros += big[i] == 0;
    OK(zeros < 1000, "large request is random (%d zero bytes of 100000)", zeros);
    free(big);
    /* many draws across refills: no draw repeats the previous one */
    int rep = 0;
    for (int i = 0; i < 2000; i++) {
        memcpy(b, a, 32);
        mtp_rand_padding(NULL, a, 32);
        rep += memcmp(a, b, 32) == 0;
    }
    IS_INT(rep, 0, "2000 draws across refills, none repeats");

    /* threads get their own pools (and the exit destructor frees them: LeakSanitizer) */
    pthread_t t1, t2;
    uint8_t x1[64], x2[64];
    void *r1 = NULL, *r2 = NULL;
    pthread_create(&t1, NULL, pool_thread, x1);
    pthread_create(&t2, NULL, pool_thread, x2);
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    OK(r1 && r2 && memcmp(x1, x2, 64) != 0, "two threads draw different bytes");

    /* fork: the child must not serve the bytes the parent serves next */
    mtp_rand_padding(NULL, a, 16);   /* the pool is filled and partly used */
    int fds[2];
    if (pipe(fds) != 0)
        tap_bail("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork");
    if (pid == 0) {
        uint8_t c[64];
        close(fds[0]);
        int ok = mtp_rand_padding(NULL, c, sizeof c) == 0 &&
                 write(fds[1], c, sizeof c) == (ssize_t)sizeof c;
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    uint8_t pc[64], cc[64];
    mtp_rand_padding(NULL, pc, sizeof pc);
    size_t got = 0;
    while (got < sizeof cc) {
        ssize_t n = read(fds[0], cc + got, sizeof cc - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    OK(got == sizeof cc && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child drew padding");
    OK(memcmp(pc, cc, sizeof pc) != 0, "forked child and parent draw different padding bytes");
}

int main(void)
{
    test_nist();
    test_lengths();
    test_kdf();
    test_fused();
    test_envelope_paths();
    test_ige_many();
    test_msg_key_x2();
    test_seal_many();
    test_pool();
    return tap_done();
}
