/*
 * libmtproto — SRP 2FA: passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow.
 * Client (A, M1) and the server side used by the test harness (B, M1 check).
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>

#include "crypto/crypto_internal.h"

#define SRP_ITERATIONS 100000u
#define NB 256   /* every number is hashed as 256 big-endian bytes */

/* SH(data, salt) = SHA256(salt + data + salt) */
static int sh(const uint8_t *data, size_t len, const uint8_t *salt, size_t salt_len,
              uint8_t out[32])
{
    mtp_bytes_t parts[3] = { MTP_BYTES(salt, salt_len), MTP_BYTES(data, len),
                             MTP_BYTES(salt, salt_len) };
    return mtp_sha256_v(parts, 3, out);
}

static int algo_ok(const mtp_srp_algo_t *a)
{
    if (!a || (!a->salt1 && a->salt1_len) || (!a->salt2 && a->salt2_len) || !a->p)
        return 0;
    if (a->p_len == 0 || a->g < 2)
        return 0;
    size_t plen = a->p_len;
    const uint8_t *p = a->p;
    while (plen > 0 && p[0] == 0) {
        p++;
        plen--;
    }
    return plen > 0 && plen <= NB && (p[plen - 1] & 1);
}

int mtp_srp_password_hash(const mtp_srp_algo_t *algo, const uint8_t *password, size_t pw_len,
                          uint8_t x[32])
{
    uint8_t h1[32], h2[32], dk[64];
    int rc;
    if (!algo || (!password && pw_len) || !x || (!algo->salt1 && algo->salt1_len) ||
        (!algo->salt2 && algo->salt2_len))
        return MTP_EINVAL;
    rc = sh(password, pw_len, algo->salt1, algo->salt1_len, h1);          /* SH(pw, salt1) */
    if (!rc)
        rc = sh(h1, 32, algo->salt2, algo->salt2_len, h2);                 /* PH1 */
    if (!rc)
        rc = mtp_pbkdf2_hmac_sha512(h2, 32, algo->salt1, algo->salt1_len, SRP_ITERATIONS,
                                    dk, sizeof dk);
    if (!rc)
        rc = sh(dk, sizeof dk, algo->salt2, algo->salt2_len, x);           /* PH2 */
    mtp_secure_zero(h1, sizeof h1);
    mtp_secure_zero(h2, sizeof h2);
    mtp_secure_zero(dk, sizeof dk);
    if (rc)
        mtp_secure_zero(x, 32);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Shared computation state                                                             */
/* ------------------------------------------------------------------------------------ */

typedef struct srp_ctx {
    BN_CTX *bctx;
    BIGNUM *p, *g, *k, *v;
    uint8_t p256[NB], g256[NB];
    uint8_t k_hash[32];
} srp_ctx;

static void srp_ctx_free(srp_ctx *s)
{
    BN_free(s->p);
    BN_free(s->g);
    BN_free(s->k);
    BN_clear_free(s->v);
    BN_CTX_free(s->bctx);
    mtp_secure_zero(s, sizeof *s);
}

/* Load p and g, compute k = H(p + g) as an integer. */
static int srp_ctx_init(srp_ctx *s, const mtp_srp_algo_t *algo)
{
    memset(s, 0, sizeof *s);
    const uint8_t *p = algo->p;
    size_t plen = algo->p_len;
    while (plen > 0 && p[0] == 0) {
        p++;
        plen--;
    }
    memset(s->p256, 0, NB);
    memcpy(s->p256 + NB - plen, p, plen);
    memset(s->g256, 0, NB);
    s->g256[NB - 1] = (uint8_t)algo->g;
    s->g256[NB - 2] = (uint8_t)(algo->g >> 8);
    s->g256[NB - 3] = (uint8_t)(algo->g >> 16);
    s->g256[NB - 4] = (uint8_t)((unsigned)algo->g >> 24);
    mtp_bytes_t kp[2] = { MTP_BYTES(s->p256, NB), MTP_BYTES(s->g256, NB) };
    if (mtp_sha256_v(kp, 2, s->k_hash))
        return MTP_ECRYPTO;
    s->bctx = BN_CTX_new();
    s->p = mtp_bn_from_be_(s->p256, NB);
    s->g = mtp_bn_from_be_(s->g256, NB);
    s->k = mtp_bn_from_be_(s->k_hash, 32);
    s->v = BN_new();
    if (!s->bctx || !s->p || !s->g || !s->k || !s->v)
        return MTP_ENOMEM;
    return 0;
}

/* s->v = g^x mod p */
static int srp_compute_v(srp_ctx *s, const uint8_t x[32])
{
    BIGNUM *bx = mtp_bn_from_be_(x, 32);
    int rc;
    if (!bx)
        return MTP_ENOMEM;
    rc = mtp_bn_modexp_secret_(s->v, s->g, bx, s->p, s->bctx);
    BN_clear_free(bx);
    return rc;
}

/* M1 = H((H(p) ^ H(g)) + H(salt1) + H(salt2) + A + B + H(S)) */
static int srp_m1(const srp_ctx *s, const mtp_srp_algo_t *algo, const uint8_t A[NB],
                  const uint8_t B[NB], const BIGNUM *S, uint8_t M1[32])
{
    uint8_t hp[32], hg[32], hs1[32], hs2[32], s256[NB], ks[32];
    int rc = mtp_sha256(s->p256, NB, hp);
    if (!rc)
        rc = mtp_sha256(s->g256, NB, hg);
    if (!rc)
        rc = mtp_sha256(algo->salt1, algo->salt1_len, hs1);
    if (!rc)
        rc = mtp_sha256(algo->salt2, algo->salt2_len, hs2);
    if (!rc)
        rc = mtp_bn_to_be_pad_(S, s256, NB);
    if (!rc)
        rc = mtp_sha256(s256, NB, ks);
    if (!rc) {
        for (int i = 0; i < 32; i++)
            hp[i] ^= hg[i];
        mtp_bytes_t parts[6] = { MTP_BYTES(hp, 32), MTP_BYTES(hs1, 32), MTP_BYTES(hs2, 32),
                                 MTP_BYTES(A, NB), MTP_BYTES(B, NB), MTP_BYTES(ks, 32) };
        rc = mtp_sha256_v(parts, 6, M1);
    }
    mtp_secure_zero(s256, sizeof s256);
    mtp_secure_zero(ks, sizeof ks);
    return rc;
}

/* Left-pad a big-endian value to 256 bytes and check 0 < value < p. */
static int load_group_elem(const srp_ctx *s, const uint8_t *in, size_t len, uint8_t out[NB])
{
    while (len > 0 && in[0] == 0) {
        in++;
        len--;
    }
    if (len == 0 || len > NB)
        return MTP_ESECURITY;
    memset(out, 0, NB - len);
    memcpy(out + NB - len, in, len);
    if (memcmp(out, s->p256, NB) >= 0)
        return MTP_ESECURITY;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Client                                                                               */
/* ------------------------------------------------------------------------------------ */

int mtp_srp_client_proof(const mtp_srp_algo_t *algo, const uint8_t x[32],
                         const uint8_t *srp_B, size_t srp_B_len, const mtp_rng_t *rng,
                         unsigned flags, uint8_t A[256], uint8_t M1[32])
{
    srp_ctx s;
    uint8_t a[NB], B[NB], u_hash[32];
    BIGNUM *ba = NULL, *bA = NULL, *bB = NULL, *u = NULL, *bx = NULL, *t = NULL, *e = NULL,
           *S = NULL;
    int rc;
    memset(&s, 0, sizeof s);
    if (!algo_ok(algo) || !x || (!srp_B && srp_B_len) || !A || !M1)
        return MTP_EINVAL;
    if (!(flags & MTP_SRP_SKIP_PARAM_CHECK)) {
        rc = mtp_dh_check_params(algo->p, algo->p_len, algo->g);
        if (rc)
            return rc;
    }
    rc = srp_ctx_init(&s, algo);
    if (rc)
        goto done;
    rc = load_group_elem(&s, srp_B, srp_B_len, B);
    if (rc)
        goto done;
    rc = mtp_rand(rng, a, NB);
    if (rc)
        goto done;

    rc = MTP_ENOMEM;
    ba = mtp_bn_from_be_(a, NB);
    bA = BN_new();
    bB = mtp_bn_from_be_(B, NB);
    bx = mtp_bn_from_be_(x, 32);
    t = BN_new();
    e = BN_new();
    S = BN_new();
    if (!ba || !bA || !bB || !bx || !t || !e || !S)
        goto done;
    /* A = g^a mod p */
    rc = mtp_bn_modexp_secret_(bA, s.g, ba, s.p, s.bctx);
    if (rc)
        goto done;
    rc = mtp_bn_to_be_pad_(bA, A, NB);
    if (rc)
        goto done;
    /* u = H(A + B) */
    {
        mtp_bytes_t up[2] = { MTP_BYTES(A, NB), MTP_BYTES(B, NB) };
        rc = mtp_sha256_v(up, 2, u_hash);
        if (rc)
            goto done;
    }
    rc = MTP_ENOMEM;
    u = mtp_bn_from_be_(u_hash, 32);
    if (!u)
        goto done;
    if (BN_is_zero(u)) {
        rc = MTP_ESECURITY;
        goto done;
    }
    rc = srp_compute_v(&s, x);
    if (rc)
        goto done;
    rc = MTP_ECRYPTO;
    /* t = (B - k*v) mod p ; e = a + u*x ; S = t^e mod p */
    if (!BN_mod_mul(t, s.k, s.v, s.p, s.bctx) || !BN_mod_sub(t, bB, t, s.p, s.bctx) ||
        !BN_mul(e, u, bx, s.bctx) || !BN_add(e, e, ba))
        goto done;
    rc = mtp_bn_modexp_secret_(S, t, e, s.p, s.bctx);
    if (rc)
        goto done;
    rc = srp_m1(&s, algo, A, B, S, M1);
done:
    if (rc) {
        ERR_clear_error();
        mtp_secure_zero(A, NB);
        mtp_secure_zero(M1, 32);
    }
    mtp_secure_zero(a, sizeof a);
    BN_clear_free(ba);
    BN_free(bA);
    BN_free(bB);
    BN_free(u);
    BN_clear_free(bx);
    BN_clear_free(t);
    BN_clear_free(e);
    BN_clear_free(S);
    srp_ctx_free(&s);
    return rc;
}

int mtp_srp_client_compute(const mtp_srp_algo_t *algo, const uint8_t *password, size_t pw_len,
                           const uint8_t *srp_B, size_t srp_B_len, const mtp_rng_t *rng,
                           unsigned flags, uint8_t A[256], uint8_t M1[32])
{
    uint8_t x[32];
    int rc;
    if (!algo_ok(algo))
        return MTP_EINVAL;
    if (!(flags & MTP_SRP_SKIP_PARAM_CHECK)) {
        /* Validate before spending 100000 PBKDF2 rounds on a bogus group. */
        rc = mtp_dh_check_params(algo->p, algo->p_len, algo->g);
        if (rc)
            return rc;
    }
    rc = mtp_srp_password_hash(algo, password, pw_len, x);
    if (!rc)
        rc = mtp_srp_client_proof(algo, x, srp_B, srp_B_len, rng,
                                  flags | MTP_SRP_SKIP_PARAM_CHECK, A, M1);
    mtp_secure_zero(x, sizeof x);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Verifier                                                                             */
/* ------------------------------------------------------------------------------------ */

int mtp_srp_verifier_from_x(const mtp_srp_algo_t *algo, const uint8_t x[32], uint8_t v[256])
{
    srp_ctx s;
    int rc;
    memset(&s, 0, sizeof s);
    if (!algo_ok(algo) || !x || !v)
        return MTP_EINVAL;
    rc = srp_ctx_init(&s, algo);
    if (!rc)
        rc = srp_compute_v(&s, x);
    if (!rc)
        rc = mtp_bn_to_be_pad_(s.v, v, NB);
    if (rc)
        ERR_clear_error();
    srp_ctx_free(&s);
    return rc;
}

int mtp_srp_verifier(const mtp_srp_algo_t *algo, const uint8_t *password, size_t pw_len,
                     uint8_t v[256])
{
    uint8_t x[32];
    int rc;
    if (!algo_ok(algo) || !v)
        return MTP_EINVAL;
    rc = mtp_srp_password_hash(algo, password, pw_len, x);
    if (!rc)
        rc = mtp_srp_verifier_from_x(algo, x, v);
    mtp_secure_zero(x, sizeof x);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Server                                                                               */
/* ------------------------------------------------------------------------------------ */

int mtp_srp_server_B(const mtp_srp_algo_t *algo, const uint8_t v[256], const mtp_rng_t *rng,
                     uint8_t b[256], uint8_t B[256])
{
    srp_ctx s;
    BIGNUM *bb = NULL, *gb = NULL, *r = NULL;
    int rc;
    memset(&s, 0, sizeof s);
    if (!algo_ok(algo) || !v || !b || !B)
        return MTP_EINVAL;
    rc = srp_ctx_init(&s, algo);
    if (rc)
        goto done;
    rc = MTP_ENOMEM;
    gb = BN_new();
    r = BN_new();
    if (!gb || !r || !BN_bin2bn(v, NB, s.v))
        goto done;
    for (int tries = 0; tries < 8; tries++) {
        rc = mtp_rand(rng, b, NB);
        if (rc)
            goto done;
        BN_clear_free(bb);
        bb = mtp_bn_from_be_(b, NB);
        rc = MTP_ENOMEM;
        if (!bb)
            goto done;
        rc = mtp_bn_modexp_secret_(gb, s.g, bb, s.p, s.bctx);
        if (rc)
            goto done;
        rc = MTP_ECRYPTO;
        if (!BN_mod_mul(r, s.k, s.v, s.p, s.bctx) || !BN_mod_add(r, r, gb, s.p, s.bctx))
            goto done;
        if (!BN_is_zero(r)) {
            rc = mtp_bn_to_be_pad_(r, B, NB);
            goto done;
        }
    }
    rc = MTP_ECRYPTO;
done:
    if (rc) {
        ERR_clear_error();
        mtp_secure_zero(b, NB);
        mtp_secure_zero(B, NB);
    }
    BN_clear_free(bb);
    BN_clear_free(gb);
    BN_free(r);
    srp_ctx_free(&s);
    return rc;
}

int mtp_srp_server_check(const mtp_srp_algo_t *algo, const uint8_t v[256], const uint8_t b[256],
                         const uint8_t B[256], const uint8_t *A, size_t A_len,
                         const uint8_t M1[32])
{
    srp_ctx s;
    uint8_t A256[NB], u_hash[32], m1[32];
    BIGNUM *bA = NULL, *bb = NULL, *u = NULL, *t = NULL, *S = NULL;
    int rc;
    memset(&s, 0, sizeof s);
    if (!algo_ok(algo) || !v || !b || !B || (!A && A_len) || !M1)
        return MTP_EINVAL;
    rc = srp_ctx_init(&s, algo);
    if (rc)
        goto done;
    rc = load_group_elem(&s, A, A_len, A256);
    if (rc)
        goto done;
    {
        mtp_bytes_t up[2] = { MTP_BYTES(A256, NB), MTP_BYTES(B, NB) };
        rc = mtp_sha256_v(up, 2, u_hash);
        if (rc)
            goto done;
    }
    rc = MTP_ENOMEM;
    bA = mtp_bn_from_be_(A256, NB);
    bb = mtp_bn_from_be_(b, NB);
    u = mtp_bn_from_be_(u_hash, 32);
    t = BN_new();
    S = BN_new();
    if (!bA || !bb || !u || !t || !S || !BN_bin2bn(v, NB, s.v))
        goto done;
    if (BN_is_zero(u)) {
        rc = MTP_ESECURITY;
        goto done;
    }
    /* S = (A * v^u)^b mod p ; u is public, so a plain modexp is fine for v^u. */
    rc = MTP_ECRYPTO;
    if (!BN_mod_exp(t, s.v, u, s.p, s.bctx) || !BN_mod_mul(t, bA, t, s.p, s.bctx))
        goto done;
    rc = mtp_bn_modexp_secret_(S, t, bb, s.p, s.bctx);
    if (rc)
        goto done;
    rc = srp_m1(&s, algo, A256, B, S, m1);
    if (rc)
        goto done;
    rc = mtp_ct_memeq(m1, M1, 32) ? 0 : MTP_ESECURITY;
done:
    if (rc && rc != MTP_ESECURITY)
        ERR_clear_error();
    mtp_secure_zero(m1, sizeof m1);
    BN_free(bA);
    BN_clear_free(bb);
    BN_free(u);
    BN_clear_free(t);
    BN_clear_free(S);
    srp_ctx_free(&s);
    return rc;
}
