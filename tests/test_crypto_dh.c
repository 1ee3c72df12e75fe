/*
 * Diffie-Hellman checks and computations, SRP 2FA (client and server side).
 * Vectors: tests/vectors/{srp_2fa,auth_key_flow_grammers,auth_key_sample_official}.json
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include <mtproto/crypto.h>
#include "testutil.h"

static void *allocs[1024];
static size_t nallocs;

static void *keep(void *p)
{
    if (nallocs < sizeof allocs / sizeof allocs[0])
        allocs[nallocs++] = p;
    return p;
}

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

/* RFC 3526 group 14: a 2048-bit safe prime other than Telegram's (g = 2 qualifies). */
static const char modp14_hex[] =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF";

static void bn_be256(const BIGNUM *b, uint8_t out[256])
{
    BN_bn2binpad(b, out, 256);
}

/* ---------------------------------------------------------------------------------- */

static void test_params(void)
{
    const uint8_t *kp = mtp_dh_known_prime();
    uint8_t p[257], *m14 = NULL;
    double t0, t1, t2;

    tj *g = tj_load("tests/vectors/auth_key_flow_grammers.json");
    tap_mem_eq(kp, hx(g, "intermediate.dh_prime", NULL), 256, "known prime == the dh_prime servers send");
    tj_free(g);

    IS_INT(mtp_dh_check_params(kp, 256, 3), 0, "known prime, g=3 accepted");
    IS_INT(mtp_dh_check_params(kp, 256, 4), 0, "known prime, g=4 accepted");
    IS_INT(mtp_dh_check_params(kp, 256, 7), 0, "known prime, g=7 accepted (p mod 7 = 6)");
    IS_INT(mtp_dh_check_params(kp, 256, 2), MTP_ESECURITY, "known prime, g=2 rejected (p mod 8 != 7)");
    IS_INT(mtp_dh_check_params(kp, 256, 5), MTP_ESECURITY, "known prime, g=5 rejected (p mod 5 = 3)");
    IS_INT(mtp_dh_check_params(kp, 256, 6), MTP_ESECURITY, "known prime, g=6 rejected (p mod 24 = 11)");
    IS_INT(mtp_dh_check_params(kp, 256, 1), MTP_ESECURITY, "g=1 rejected");
    IS_INT(mtp_dh_check_params(kp, 256, 8), MTP_ESECURITY, "g=8 rejected");
    IS_INT(mtp_dh_check_params(kp, 256, 0), MTP_ESECURITY, "g=0 rejected");
    IS_INT(mtp_dh_check_params(kp, 256, -3), MTP_ESECURITY, "g=-3 rejected");
    p[0] = 0;
    memcpy(p + 1, kp, 256);
    IS_INT(mtp_dh_check_params(p, 257, 3), 0, "a leading zero byte is tolerated");
    IS_INT(mtp_dh_check_params(kp + 1, 255, 3), MTP_ESECURITY, "a 2040-bit prime is rejected (size)");
    memcpy(p, kp, 256);
    p[0] = 0x47;   /* 2047-bit */
    IS_INT(mtp_dh_check_params(p, 256, 4), MTP_ESECURITY, "2047-bit p rejected");

    /* not prime: the known prime with its low bytes changed */
    memcpy(p, kp, 256);
    p[255] ^= 0x06;
    t0 = tu_now();
    IS_INT(mtp_dh_check_params(p, 256, 4), MTP_ESECURITY, "composite p rejected");
    memcpy(p, kp, 256);
    p[255] ^= 0x01;   /* even */
    IS_INT(mtp_dh_check_params(p, 256, 4), MTP_ESECURITY, "even p rejected");

    /* a genuine safe prime other than the known one: full test, then cached */
    tu_unhex(modp14_hex, &m14);
    keep(m14);
    t0 = tu_now();
    IS_INT(mtp_dh_check_params(m14, 256, 2), 0, "RFC 3526 2048-bit safe prime with g=2 accepted");
    t1 = tu_now();
    IS_INT(mtp_dh_check_params(m14, 256, 5), 0, "same prime, g=5 accepted (cached)");
    t2 = tu_now();
    tap_diag("safe-prime test: first %.1f ms, cached %.3f ms", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
    OK(t2 - t1 < (t1 - t0) / 4 + 0.002, "the second check is served by the prime cache");
    IS_INT(mtp_dh_check_params(m14, 256, 3), 0, "same prime, g=3 (p mod 3 = 2)");

    /* prime but not safe: (p-1)/2 composite; g=4 passes the residue rule */
    BIGNUM *bp = BN_new();
    BIGNUM *q = BN_new();
    BN_CTX *ctx = BN_CTX_new();
    BN_generate_prime_ex2(bp, 2048, 0, NULL, NULL, NULL, ctx);
    BN_rshift1(q, bp);
    int q_prime = BN_check_prime(q, ctx, NULL);
    bn_be256(bp, p);
    if (q_prime)
        tap_skip("random prime happened to be safe", 1);
    else
        IS_INT(mtp_dh_check_params(p, 256, 4), MTP_ESECURITY, "2048-bit prime that is not a safe prime rejected");
    BN_free(q);
    BN_free(bp);
    BN_CTX_free(ctx);

    /* toy parameters (no size requirement) */
    tj *srp = tj_load("tests/vectors/srp_2fa.json");
    const tj *good = tj_path(srp, "check_p_g_examples.correct"), *bad = tj_path(srp, "check_p_g_examples.incorrect");
    for (size_t i = 0; i < tj_len(good); i++) {
        long long pv = tj_int(tj_at(tj_at(good, i), 0)), gv = tj_int(tj_at(tj_at(good, i), 1));
        uint8_t pb[2] = { (uint8_t)(pv >> 8), (uint8_t)pv };
        IS_INT(mtp_dh_check_safe_prime_g(pb, 2, (int)gv), 0, "toy p=%lld g=%lld accepted", pv, gv);
        IS_INT(mtp_dh_check_params(pb, 2, (int)gv), MTP_ESECURITY, "toy p=%lld refused by the 2048-bit check", pv);
    }
    for (size_t i = 0; i < tj_len(bad); i++) {
        long long pv = tj_int(tj_at(tj_at(bad, i), 0)), gv = tj_int(tj_at(tj_at(bad, i), 1));
        uint8_t pb[2] = { (uint8_t)(pv >> 8), (uint8_t)pv };
        IS_INT(mtp_dh_check_safe_prime_g(pb, 2, (int)gv), MTP_ESECURITY, "toy p=%lld g=%lld rejected", pv, gv);
    }
    tj_free(srp);
}

static void test_public_values(void)
{
    const uint8_t *kp = mtp_dh_known_prime();
    BIGNUM *p = BN_bin2bn(kp, 256, NULL), *v = BN_new(), *w = BN_new();
    uint8_t b[256];

#define CHECK_V(expr_setup, want, ...)                                                        \
    do {                                                                                      \
        expr_setup;                                                                           \
        bn_be256(v, b);                                                                       \
        IS_INT(mtp_dh_check_public(kp, 256, b, 256), want, __VA_ARGS__);                      \
    } while (0)

    CHECK_V(BN_zero(v), MTP_ESECURITY, "g_a = 0 rejected");
    CHECK_V(BN_one(v), MTP_ESECURITY, "g_a = 1 rejected");
    CHECK_V(BN_set_word(v, 2), MTP_ESECURITY, "g_a = 2 rejected (below 2^1984)");
    CHECK_V((BN_copy(v, p), BN_sub_word(v, 1)), MTP_ESECURITY, "g_a = p - 1 rejected");
    CHECK_V(BN_copy(v, p), MTP_ESECURITY, "g_a = p rejected");
    CHECK_V((BN_copy(v, p), BN_add_word(v, 5)), MTP_ESECURITY, "g_a > p rejected");
    CHECK_V((BN_zero(v), BN_set_bit(v, 1984)), MTP_ESECURITY, "g_a = 2^1984 rejected");
    CHECK_V((BN_zero(v), BN_set_bit(v, 1984), BN_add_word(v, 1)), 0, "g_a = 2^1984 + 1 accepted");
    CHECK_V((BN_zero(w), BN_set_bit(w, 1984), BN_sub(v, p, w)), MTP_ESECURITY, "g_a = p - 2^1984 rejected");
    CHECK_V((BN_zero(w), BN_set_bit(w, 1984), BN_sub(v, p, w), BN_sub_word(v, 1)), 0, "g_a = p - 2^1984 - 1 accepted");
    CHECK_V((BN_zero(v), BN_set_bit(v, 2000)), 0, "g_a = 2^2000 accepted");
    BN_zero(v);
    BN_set_bit(v, 2000);
    int nb = BN_num_bytes(v);
    BN_bn2bin(v, b);
    IS_INT(mtp_dh_check_public(kp, 256, b, (size_t)nb), 0, "minimal (251-byte) encoding accepted");
    IS_INT(mtp_dh_check_public(kp, 255, b, (size_t)nb), MTP_ESECURITY, "short p rejected");
    BN_free(p);
    BN_free(v);
    BN_free(w);
#undef CHECK_V
}

static void test_flows(void)
{
    uint8_t pub[256], ak[256], secret[256];
    size_t pl = 0;
    mtp_rng_replay_t st;
    mtp_rng_t rng;

    tj *g = tj_load("tests/vectors/auth_key_flow_grammers.json");
    const tj *in = tj_get(g, "intermediate");
    size_t gal, gbl;
    uint8_t *p = hx(in, "dh_prime", NULL), *ga = hx(in, "g_a", &gal), *b = hx(in, "b", NULL);
    uint8_t *gb = hx(in, "g_b", &gbl), *s3 = hx(g, "step3.random", NULL);
    int gg = (int)tj_int(tj_get(in, "g"));
    IS_INT(mtp_dh_check_params(p, 256, gg), 0, "grammers flow: dh params ok");
    IS_INT(mtp_dh_check_public(p, 256, ga, gal), 0, "grammers flow: g_a ok");
    mtp_rng_replay_init(&rng, &st, s3, 256);
    OK(mtp_dh_generate(p, 256, gg, &rng, secret, pub, &pl) == 0, "grammers flow: dh_generate with replayed b");
    tap_mem_eq(secret, b, 256, "grammers flow: b");
    OK(pl == gbl, "grammers flow: g_b length %zu", pl);
    tap_mem_eq(pub, gb, gbl, "grammers flow: g_b");
    OK(mtp_dh_shared(p, 256, ga, gal, b, ak) == 0, "grammers flow: shared");
    tap_mem_eq(ak, hx(g, "expected.auth_key", NULL), 256, "grammers flow: auth_key");
    tj_free(g);

    tj *o = tj_load("tests/vectors/auth_key_sample_official.json");
    const tj *dh = tj_get(o, "dh_step");
    p = hx(dh, "dh_prime", NULL);
    ga = hx(dh, "g_a", &gal);
    gb = hx(dh, "g_b", &gbl);
    b = hx(o, "inputs.b", NULL);
    gg = (int)tj_int(tj_get(dh, "g"));
    OK(mtp_dh_public(p, 256, gg, b, pub, &pl) == 0 && pl == gbl, "official sample: g_b");
    tap_mem_eq(pub, gb, gbl, "official sample: g_b = g^b mod p");
    OK(mtp_dh_shared(p, 256, ga, gal, b, ak) == 0, "official sample: shared");
    tap_mem_eq(ak, hx(o, "result.auth_key", NULL), 256, "official sample: auth_key");
    tj_free(o);

    /* both sides with fresh randomness agree; leading zeros of a small g^a are kept out */
    const uint8_t *kp = mtp_dh_known_prime();
    uint8_t a[256], ga2[256], gb2[256], k1[256], k2[256];
    size_t ga2l, gb2l;
    OK(mtp_dh_generate(kp, 256, 3, NULL, a, ga2, &ga2l) == 0, "server dh_generate (a, g_a)");
    OK(mtp_dh_generate(kp, 256, 3, NULL, secret, gb2, &gb2l) == 0, "client dh_generate (b, g_b)");
    OK(ga2[0] != 0 && gb2[0] != 0, "public values are minimal big-endian");
    OK(mtp_dh_check_public(kp, 256, ga2, ga2l) == 0 && mtp_dh_check_public(kp, 256, gb2, gb2l) == 0,
       "generated public values pass the checks");
    OK(mtp_dh_shared(kp, 256, gb2, gb2l, a, k1) == 0 && mtp_dh_shared(kp, 256, ga2, ga2l, secret, k2) == 0,
       "both shared computations ok");
    tap_mem_eq(k1, k2, 256, "g_b^a == g_a^b");
    uint8_t one = 1;
    IS_INT(mtp_dh_shared(kp, 256, &one, 1, secret, k1), MTP_ESECURITY, "dh_shared rejects g_a = 1");

    uint8_t shortb[100] = { 0 };
    mtp_rng_replay_init(&rng, &st, shortb, sizeof shortb);
    IS_INT(mtp_dh_generate(kp, 256, 3, &rng, a, ga2, &ga2l), MTP_ERANGE, "dh_generate: replay exhausted");
    /* b = 0 gives g_b = 1, outside the window: it draws again and then runs out */
    uint8_t zeros[256 * 2] = { 0 };
    mtp_rng_replay_init(&rng, &st, zeros, sizeof zeros);
    IS_INT(mtp_dh_generate(kp, 256, 3, &rng, a, ga2, &ga2l), MTP_ERANGE, "dh_generate: redraws a bad b");
    IS_INT(mtp_rng_replay_left(&st), 0, "dh_generate: two draws consumed");

    /* generic modexp */
    uint8_t r[2];
    uint8_t base = 4, e = 13, m[2] = { 0x01, 0xf1 };   /* 4^13 mod 497 = 445 */
    OK(mtp_modexp(&base, 1, &e, 1, m, 2, r, 2) == 0 && r[0] == 0x01 && r[1] == 0xbd, "modexp 4^13 mod 497 = 445");
    uint8_t meven[1] = { 10 };
    IS_INT(mtp_modexp(&base, 1, &e, 1, meven, 1, r, 2), MTP_EINVAL, "modexp with an even modulus");
    IS_INT(mtp_modexp(&base, 1, &e, 1, m, 2, r, 1), MTP_ERANGE, "modexp output too small");
}

/* ---------------------------------------------------------------------------------- */

static mtp_srp_algo_t algo_from(const tj *v, const char *salt1_key, uint8_t **pbuf)
{
    mtp_srp_algo_t a;
    a.salt1 = hx(v, salt1_key, &a.salt1_len);
    a.salt2 = hx(v, "salt2", &a.salt2_len);
    a.g = (int)tj_int(tj_get(v, "g"));
    *pbuf = hx(v, "p", &a.p_len);
    a.p = *pbuf;
    return a;
}

static void test_srp_vectors(void)
{
    tj *doc = tj_load("tests/vectors/srp_2fa.json");
    const tj *vecs = tj_get(doc, "vectors");
    OK(tj_len(vecs) == 4, "4 SRP vectors");
    for (size_t i = 0; i < tj_len(vecs); i++) {
        const tj *v = tj_at(vecs, i);
        const char *name = tj_str(tj_get(v, "name"));
        uint8_t *pb;
        mtp_srp_algo_t algo = algo_from(v, "salt1", &pb);
        size_t pwl, al, Bl;
        uint8_t *pw = hx(v, "password_hex", &pwl), *a = hx(v, "a", &al), *B = hx(v, "srp_B", &Bl);
        uint8_t a256[256] = { 0 }, x[32], A[256], M1[32], vv[256];
        unsigned flags = 0;
        memcpy(a256 + 256 - al, a, al);
        if (mtp_dh_check_params(algo.p, algo.p_len, algo.g) != 0) {
            flags = MTP_SRP_SKIP_PARAM_CHECK;
            tap_diag("%s: toy group, parameter check skipped", name);
        }
        OK(mtp_srp_password_hash(&algo, pw, pwl, x) == 0, "%s: password hash", name);
        tap_mem_eq(x, hx(v, "intermediate_computed.x", NULL), 32, "%s: x = PH2(password)", name);
        OK(mtp_srp_verifier_from_x(&algo, x, vv) == 0, "%s: verifier", name);
        tap_mem_eq(vv, hx(v, "intermediate_computed.v", NULL), 256, "%s: v = g^x", name);

        mtp_rng_replay_t st;
        mtp_rng_t rng;
        mtp_rng_replay_init(&rng, &st, a256, 256);
        OK(mtp_srp_client_proof(&algo, x, B, Bl, &rng, flags, A, M1) == 0, "%s: client proof", name);
        tap_mem_eq(A, hx(v, "expected_A", NULL), 256, "%s: A", name);
        tap_mem_eq(M1, hx(v, "expected_M1", NULL), 32, "%s: M1", name);
        IS_INT(mtp_rng_replay_left(&st), 0, "%s: drew 256 bytes for a", name);

        mtp_rng_replay_init(&rng, &st, a256, 256);
        OK(mtp_srp_client_compute(&algo, pw, pwl, B, Bl, &rng, flags, A, M1) == 0, "%s: client_compute", name);
        tap_mem_eq(M1, hx(v, "expected_M1", NULL), 32, "%s: M1 via client_compute", name);
        if (flags) {
            mtp_rng_replay_init(&rng, &st, a256, 256);
            IS_INT(mtp_srp_client_proof(&algo, x, B, Bl, &rng, 0, A, M1), MTP_ESECURITY,
                   "%s: toy group refused without the skip flag", name);
        }
    }

    const tj *ph = tj_get(doc, "password_hash_only");
    {
        const char *pw = tj_str(tj_get(ph, "password_utf8"));
        mtp_srp_algo_t algo = { 0 };
        uint8_t x[32];
        algo.salt1 = hx(ph, "salt1", &algo.salt1_len);
        algo.salt2 = hx(ph, "salt2", &algo.salt2_len);
        OK(mtp_srp_password_hash(&algo, (const uint8_t *)pw, strlen(pw), x) == 0, "PH2 only: ok");
        tap_mem_eq(x, hx(ph, "expected_x_PH2", NULL), 32, "PH2 only: x");
    }

    const tj *np = tj_get(doc, "new_password");
    {
        const char *pw = tj_str(tj_get(np, "password_utf8"));
        size_t s1l, rl, sul;
        uint8_t *s1 = hx(np, "salt1_from_server", &s1l), *r32 = hx(np, "random_32_appended", &rl);
        uint8_t *used = hx(np, "salt1_used", &sul), *pb, v[256];
        OK(sul == s1l + rl && memcmp(used, s1, s1l) == 0 && memcmp(used + s1l, r32, rl) == 0,
           "new password: salt1' = salt1 + 32 random bytes");
        mtp_srp_algo_t algo = algo_from(np, "salt1_used", &pb);
        OK(mtp_srp_verifier(&algo, (const uint8_t *)pw, strlen(pw), v) == 0, "new password: verifier");
        tap_mem_eq(v, hx(np, "expected_new_password_hash_v", NULL), 256, "new password: new_password_hash");
    }
    tj_free(doc);
}

static void test_srp_server(void)
{
    const uint8_t *kp = mtp_dh_known_prime();
    uint8_t salt1[40], salt2[16];
    mtp_rand(NULL, salt1, sizeof salt1);
    mtp_rand(NULL, salt2, sizeof salt2);
    mtp_srp_algo_t algo = { salt1, sizeof salt1, salt2, sizeof salt2, 3, kp, 256 };
    const char *pw = "correct horse", *wrong = "battery staple";
    uint8_t x[32], xw[32], v[256], b[256], B[256], A[256], M1[32];

    OK(mtp_srp_password_hash(&algo, (const uint8_t *)pw, strlen(pw), x) == 0, "server: x");
    OK(mtp_srp_verifier_from_x(&algo, x, v) == 0, "server: stored verifier");
    OK(mtp_srp_server_B(&algo, v, NULL, b, B) == 0, "server: b, B");
    OK(mtp_srp_client_proof(&algo, x, B, 256, NULL, 0, A, M1) == 0, "client: A, M1 against the harness B");
    IS_INT(mtp_srp_server_check(&algo, v, b, B, A, 256, M1), 0, "server accepts the right password");
    uint8_t M1b[32];
    memcpy(M1b, M1, 32);
    M1b[5] ^= 0x20;
    IS_INT(mtp_srp_server_check(&algo, v, b, B, A, 256, M1b), MTP_ESECURITY, "server rejects a tampered M1");
    uint8_t Ab[256];
    memcpy(Ab, A, 256);
    Ab[200] ^= 1;
    IS_INT(mtp_srp_server_check(&algo, v, b, B, Ab, 256, M1), MTP_ESECURITY, "server rejects a tampered A");
    IS_INT(mtp_srp_server_check(&algo, v, b, B, kp, 256, M1), MTP_ESECURITY, "server rejects A = p");
    uint8_t zero[256] = { 0 };
    IS_INT(mtp_srp_server_check(&algo, v, b, B, zero, 256, M1), MTP_ESECURITY, "server rejects A = 0");

    OK(mtp_srp_password_hash(&algo, (const uint8_t *)wrong, strlen(wrong), xw) == 0, "wrong password: x");
    OK(mtp_srp_client_proof(&algo, xw, B, 256, NULL, 0, A, M1) == 0, "wrong password: client proof");
    IS_INT(mtp_srp_server_check(&algo, v, b, B, A, 256, M1), MTP_ESECURITY, "server rejects a wrong password");

    /* replayed b is used as given */
    uint8_t b2[256], B2[256], bb[256];
    mtp_rng_replay_t st;
    mtp_rng_t rng;
    mtp_rand(NULL, bb, sizeof bb);
    mtp_rng_replay_init(&rng, &st, bb, sizeof bb);
    OK(mtp_srp_server_B(&algo, v, &rng, b2, B2) == 0 && memcmp(b2, bb, 256) == 0, "server_B uses the rng's b");

    /* client-side checks on B and the group */
    IS_INT(mtp_srp_client_proof(&algo, x, zero, 256, NULL, 0, A, M1), MTP_ESECURITY, "client rejects B = 0");
    IS_INT(mtp_srp_client_proof(&algo, x, kp, 256, NULL, 0, A, M1), MTP_ESECURITY, "client rejects B = p");
    IS_INT(mtp_srp_client_proof(&algo, x, B, 0, NULL, 0, A, M1), MTP_ESECURITY, "client rejects empty B");
    mtp_srp_algo_t g2 = algo;
    g2.g = 2;
    IS_INT(mtp_srp_client_proof(&g2, x, B, 256, NULL, 0, A, M1), MTP_ESECURITY, "client rejects g=2 for this prime");
    uint8_t badp[256];
    memcpy(badp, kp, 256);
    badp[255] ^= 0x06;
    mtp_srp_algo_t pbad = algo;
    pbad.p = badp;
    IS_INT(mtp_srp_client_compute(&pbad, (const uint8_t *)pw, strlen(pw), B, 256, NULL, 0, A, M1), MTP_ESECURITY,
           "client rejects a non-prime p (before hashing)");
    uint8_t few[10] = { 0 };
    mtp_rng_replay_init(&rng, &st, few, sizeof few);
    IS_INT(mtp_srp_client_proof(&algo, x, B, 256, &rng, 0, A, M1), MTP_ERANGE, "client: rng exhausted");
    IS_INT(mtp_srp_client_proof(NULL, x, B, 256, NULL, 0, A, M1), MTP_EINVAL, "client: NULL algo");
}

int main(void)
{
    test_params();
    test_public_values();
    test_flows();
    test_srp_vectors();
    test_srp_server();
    for (size_t i = 0; i < nallocs; i++)
        free(allocs[i]);
    return tap_done();
}
