/*
 * libmtproto — AES-NI code paths (x86/x86-64): key expansion, AES-IGE, AES-256-CTR, and
 * AES-256-IGE decryption fused with SHA-256 (SHA-NI) for the MTProto 2.0 receive path.
 *
 * IGE is inherently sequential in both directions (each block needs the previous output),
 * so its speed is bounded by the latency of one AES block, exactly like CBC encryption.
 * The loops keep the chain minimal: the first round-key XOR of the input and the final
 * "XOR the previous block" are folded off the critical path (into the input and into the
 * last round key), leaving XOR + Nr AES rounds per block, as in OpenSSL's CBC encrypt.
 *
 * Compiled with per-function target attributes; callers must check
 * mtp_crypto_have_aesni() (CPUID, cached in a C11 atomic) before using them.
 */
#include <stdatomic.h>
#include <string.h>

#include "crypto/crypto_internal.h"
#include "crypto/sha256_ni.h"

/* Build with -DMTP_NO_AESNI to leave the AES-NI code out (portable EVP paths only). */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(MTP_NO_AESNI)
#define MTP_HAVE_AESNI_CODE 1
#include <cpuid.h>
#include <emmintrin.h>
#include <wmmintrin.h>
#define AESNI_FN __attribute__((target("aes,sse2")))
#endif

#ifdef MTP_HAVE_AESNI_CODE

static _Atomic int aesni_state;   /* 0 = not probed yet, 1 = absent, 2 = present */

int mtp_crypto_have_aesni(void)
{
    int s = atomic_load_explicit(&aesni_state, memory_order_relaxed);
    if (s == 0) {
        unsigned a = 0, b = 0, c = 0, d = 0;
        int ok = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_AES) && (d & bit_SSE2);
        s = ok ? 2 : 1;
        atomic_store_explicit(&aesni_state, s, memory_order_relaxed);
    }
    return s == 2;
}

/* ------------------------------------------------------------------------------------ */
/* Key expansion                                                                        */
/* ------------------------------------------------------------------------------------ */

/* Word-wise prefix XOR: result word i = w0 ^ ... ^ wi. */
AESNI_FN static inline __m128i prefix_xor(__m128i k)
{
    __m128i t = _mm_slli_si128(k, 4);
    k = _mm_xor_si128(k, t);
    t = _mm_slli_si128(t, 4);
    k = _mm_xor_si128(k, t);
    t = _mm_slli_si128(t, 4);
    return _mm_xor_si128(k, t);
}

/* Next key block from the block two (AES-256) / one (AES-128) positions back and the
 * relevant word of the keygen-assist output broadcast to all lanes. */
#define KX_ROT(prev, last, rcon) \
    _mm_xor_si128(prefix_xor(prev), _mm_shuffle_epi32(_mm_aeskeygenassist_si128((last), (rcon)), 0xff))
#define KX_SUB(prev, last) \
    _mm_xor_si128(prefix_xor(prev), _mm_shuffle_epi32(_mm_aeskeygenassist_si128((last), 0x00), 0xaa))

AESNI_FN static void expand256(const uint8_t key[32], __m128i rk[15])
{
    rk[0] = _mm_loadu_si128((const __m128i *)(const void *)key);
    rk[1] = _mm_loadu_si128((const __m128i *)(const void *)(key + 16));
    rk[2] = KX_ROT(rk[0], rk[1], 0x01);
    rk[3] = KX_SUB(rk[1], rk[2]);
    rk[4] = KX_ROT(rk[2], rk[3], 0x02);
    rk[5] = KX_SUB(rk[3], rk[4]);
    rk[6] = KX_ROT(rk[4], rk[5], 0x04);
    rk[7] = KX_SUB(rk[5], rk[6]);
    rk[8] = KX_ROT(rk[6], rk[7], 0x08);
    rk[9] = KX_SUB(rk[7], rk[8]);
    rk[10] = KX_ROT(rk[8], rk[9], 0x10);
    rk[11] = KX_SUB(rk[9], rk[10]);
    rk[12] = KX_ROT(rk[10], rk[11], 0x20);
    rk[13] = KX_SUB(rk[11], rk[12]);
    rk[14] = KX_ROT(rk[12], rk[13], 0x40);
}

AESNI_FN static void expand128(const uint8_t key[16], __m128i rk[11])
{
    rk[0] = _mm_loadu_si128((const __m128i *)(const void *)key);
    rk[1] = KX_ROT(rk[0], rk[0], 0x01);
    rk[2] = KX_ROT(rk[1], rk[1], 0x02);
    rk[3] = KX_ROT(rk[2], rk[2], 0x04);
    rk[4] = KX_ROT(rk[3], rk[3], 0x08);
    rk[5] = KX_ROT(rk[4], rk[4], 0x10);
    rk[6] = KX_ROT(rk[5], rk[5], 0x20);
    rk[7] = KX_ROT(rk[6], rk[6], 0x40);
    rk[8] = KX_ROT(rk[7], rk[7], 0x80);
    rk[9] = KX_ROT(rk[8], rk[8], 0x1b);
    rk[10] = KX_ROT(rk[9], rk[9], 0x36);
}

/* Decryption schedule for the equivalent inverse cipher (aesdec/aesdeclast). */
AESNI_FN static void make_dec(const __m128i *ek, int nr, __m128i *dk)
{
    dk[0] = ek[nr];
    for (int i = 1; i < nr; i++)
        dk[i] = _mm_aesimc_si128(ek[nr - i]);
    dk[nr] = ek[0];
}

AESNI_FN void mtp_aesni_expand_enc_(const uint8_t *key, size_t key_len, uint8_t *rkb)
{
    __m128i rk[15];
    int n;
    if (key_len == 32) {
        expand256(key, rk);
        n = 15;
    } else {
        expand128(key, rk);
        n = 11;
    }
    for (int i = 0; i < n; i++)
        _mm_storeu_si128((__m128i *)(void *)(rkb + 16 * i), rk[i]);
    mtp_secure_zero(rk, sizeof rk);
}

/* ------------------------------------------------------------------------------------ */
/* IGE                                                                                  */
/* ------------------------------------------------------------------------------------ */

#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

#define ENC_MID_256(s, k)                                                                   \
    do {                                                                                    \
        s = _mm_aesenc_si128(s, k[1]); s = _mm_aesenc_si128(s, k[2]);                       \
        s = _mm_aesenc_si128(s, k[3]); s = _mm_aesenc_si128(s, k[4]);                       \
        s = _mm_aesenc_si128(s, k[5]); s = _mm_aesenc_si128(s, k[6]);                       \
        s = _mm_aesenc_si128(s, k[7]); s = _mm_aesenc_si128(s, k[8]);                       \
        s = _mm_aesenc_si128(s, k[9]); s = _mm_aesenc_si128(s, k[10]);                      \
        s = _mm_aesenc_si128(s, k[11]); s = _mm_aesenc_si128(s, k[12]);                     \
        s = _mm_aesenc_si128(s, k[13]);                                                     \
    } while (0)
#define DEC_MID_256(s, k)                                                                   \
    do {                                                                                    \
        s = _mm_aesdec_si128(s, k[1]); s = _mm_aesdec_si128(s, k[2]);                       \
        s = _mm_aesdec_si128(s, k[3]); s = _mm_aesdec_si128(s, k[4]);                       \
        s = _mm_aesdec_si128(s, k[5]); s = _mm_aesdec_si128(s, k[6]);                       \
        s = _mm_aesdec_si128(s, k[7]); s = _mm_aesdec_si128(s, k[8]);                       \
        s = _mm_aesdec_si128(s, k[9]); s = _mm_aesdec_si128(s, k[10]);                      \
        s = _mm_aesdec_si128(s, k[11]); s = _mm_aesdec_si128(s, k[12]);                     \
        s = _mm_aesdec_si128(s, k[13]);                                                     \
    } while (0)
#define ENC_MID_128(s, k)                                                                   \
    do {                                                                                    \
        s = _mm_aesenc_si128(s, k[1]); s = _mm_aesenc_si128(s, k[2]);                       \
        s = _mm_aesenc_si128(s, k[3]); s = _mm_aesenc_si128(s, k[4]);                       \
        s = _mm_aesenc_si128(s, k[5]); s = _mm_aesenc_si128(s, k[6]);                       \
        s = _mm_aesenc_si128(s, k[7]); s = _mm_aesenc_si128(s, k[8]);                       \
        s = _mm_aesenc_si128(s, k[9]);                                                      \
    } while (0)
#define DEC_MID_128(s, k)                                                                   \
    do {                                                                                    \
        s = _mm_aesdec_si128(s, k[1]); s = _mm_aesdec_si128(s, k[2]);                       \
        s = _mm_aesdec_si128(s, k[3]); s = _mm_aesdec_si128(s, k[4]);                       \
        s = _mm_aesdec_si128(s, k[5]); s = _mm_aesdec_si128(s, k[6]);                       \
        s = _mm_aesdec_si128(s, k[7]); s = _mm_aesdec_si128(s, k[8]);                       \
        s = _mm_aesdec_si128(s, k[9]);                                                      \
    } while (0)

/*
 * Encrypt:  c_i = E(p_i ^ c_{i-1}) ^ p_{i-1}
 *   chain:  s = (p_i ^ k0) ^ c_{i-1}; rounds; c_i = aesenclast(s, k_nr ^ p_{i-1})
 * Decrypt:  p_i = D(c_i ^ p_{i-1}) ^ c_{i-1}
 *   chain:  s = (c_i ^ dk0) ^ p_{i-1}; rounds; p_i = aesdeclast(s, dk_nr ^ c_{i-1})
 * The input block is loaded before the output block is stored, so in == out works.
 */
#define IGE_LOOP(MID, LAST, NR)                                                             \
    do {                                                                                    \
        __m128i xprev = LOAD(iv), yprev = LOAD(iv + 16);                                    \
        for (size_t i = 0; i < blocks; i++) {                                               \
            __m128i v = LOAD(in + 16 * i);                                                  \
            __m128i s = _mm_xor_si128(v, k[0]);                                             \
            OFF_CHAIN(s);                                                                   \
            s = _mm_xor_si128(s, xprev);                                                    \
            MID(s, k);                                                                      \
            __m128i r = LAST(s, _mm_xor_si128(k[NR], yprev));                               \
            STORE(out + 16 * i, r);                                                         \
            yprev = v;                                                                      \
            xprev = r;                                                                      \
        }                                                                                   \
        if (encrypt) {                                                                      \
            STORE(iv, xprev);                                                               \
            STORE(iv + 16, yprev);                                                          \
        } else {                                                                            \
            STORE(iv, yprev);                                                               \
            STORE(iv + 16, xprev);                                                          \
        }                                                                                   \
    } while (0)

/* Keep the compiler from re-associating (v ^ k0) ^ xprev into (xprev ^ k0) ^ v, which
 * would put two XORs instead of one on the block-to-block dependency chain. */
#define OFF_CHAIN(x) __asm__("" : "+x"(x))

/*
 * In the loop, "xprev" is the value XORed into the block before the cipher and "yprev"
 * the one XORed after it: for encryption (c_{i-1}, p_{i-1}) = (iv[0:16], iv[16:32]);
 * for decryption (p_{i-1}, c_{i-1}) = (iv[16:32], iv[0:16]) — so decryption swaps the IV
 * halves on the way in and out.
 */
AESNI_FN static void ige256(const __m128i *k, uint8_t *ivp, const uint8_t *in, uint8_t *out,
                            size_t blocks, int encrypt)
{
    uint8_t ivbuf[32];
    uint8_t *iv = ivbuf;
    if (encrypt) {
        memcpy(ivbuf, ivp, 32);
    } else {
        memcpy(ivbuf, ivp + 16, 16);
        memcpy(ivbuf + 16, ivp, 16);
    }
    if (encrypt)
        IGE_LOOP(ENC_MID_256, _mm_aesenclast_si128, 14);
    else
        IGE_LOOP(DEC_MID_256, _mm_aesdeclast_si128, 14);
    memcpy(ivp, ivbuf, 32);
    mtp_secure_zero(ivbuf, sizeof ivbuf);
}

AESNI_FN static void ige128(const __m128i *k, uint8_t *ivp, const uint8_t *in, uint8_t *out,
                            size_t blocks, int encrypt)
{
    uint8_t ivbuf[32];
    uint8_t *iv = ivbuf;
    if (encrypt) {
        memcpy(ivbuf, ivp, 32);
    } else {
        memcpy(ivbuf, ivp + 16, 16);
        memcpy(ivbuf + 16, ivp, 16);
    }
    if (encrypt)
        IGE_LOOP(ENC_MID_128, _mm_aesenclast_si128, 10);
    else
        IGE_LOOP(DEC_MID_128, _mm_aesdeclast_si128, 10);
    memcpy(ivp, ivbuf, 32);
    mtp_secure_zero(ivbuf, sizeof ivbuf);
}

AESNI_FN int mtp_aes_ige_aesni_(const uint8_t *key, size_t key_len, uint8_t iv[32],
                                const uint8_t *in, uint8_t *out, size_t len, int encrypt)
{
    __m128i ek[15], dk[15];
    const __m128i *k;
    int nr;

    if (!mtp_crypto_have_aesni() || (key_len != 16 && key_len != 32) || len % 16 != 0 ||
        !key || !iv || (len && (!in || !out)))
        return MTP_EINVAL;
    if (len == 0)
        return 0;
    if (key_len == 32) {
        expand256(key, ek);
        nr = 14;
    } else {
        expand128(key, ek);
        nr = 10;
    }
    if (encrypt) {
        k = ek;
    } else {
        make_dec(ek, nr, dk);
        k = dk;
    }
    if (nr == 14)
        ige256(k, iv, in, out, len / 16, encrypt);
    else
        ige128(k, iv, in, out, len / 16, encrypt);
    mtp_secure_zero(ek, sizeof ek);
    if (!encrypt)
        mtp_secure_zero(dk, sizeof dk);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* CTR                                                                                  */
/* ------------------------------------------------------------------------------------ */

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Counter block (hi, lo) as a 128-bit big-endian block. */
AESNI_FN static inline __m128i ctr_block(uint64_t hi, uint64_t lo)
{
    return _mm_set_epi64x((long long)__builtin_bswap64(lo), (long long)__builtin_bswap64(hi));
}

#define ROUND8(f, kk)                                                                       \
    do {                                                                                    \
        s0 = f(s0, kk); s1 = f(s1, kk); s2 = f(s2, kk); s3 = f(s3, kk);                     \
        s4 = f(s4, kk); s5 = f(s5, kk); s6 = f(s6, kk); s7 = f(s7, kk);                     \
    } while (0)

AESNI_FN void mtp_aesni_ctr256_blocks_(const uint8_t *rkb, uint8_t ctr[16], const uint8_t *in,
                                       uint8_t *out, size_t blocks)
{
    __m128i k[15];
    uint64_t hi = load_be64(ctr), lo = load_be64(ctr + 8);
    for (int i = 0; i < 15; i++)
        k[i] = LOAD(rkb + 16 * i);

    while (blocks >= 8) {
        __m128i s0, s1, s2, s3, s4, s5, s6, s7;
        uint64_t h = hi, l = lo;
        /* 8 consecutive counter values with carry into the high half. */
#define NEXT(sx)                                                                            \
        do {                                                                                \
            sx = _mm_xor_si128(ctr_block(h, l), k[0]);                                      \
            if (++l == 0)                                                                   \
                h++;                                                                        \
        } while (0)
        NEXT(s0); NEXT(s1); NEXT(s2); NEXT(s3); NEXT(s4); NEXT(s5); NEXT(s6); NEXT(s7);
#undef NEXT
        hi = h;
        lo = l;
        for (int r = 1; r < 14; r++)
            ROUND8(_mm_aesenc_si128, k[r]);
        ROUND8(_mm_aesenclast_si128, k[14]);
        STORE(out + 0, _mm_xor_si128(s0, LOAD(in + 0)));
        STORE(out + 16, _mm_xor_si128(s1, LOAD(in + 16)));
        STORE(out + 32, _mm_xor_si128(s2, LOAD(in + 32)));
        STORE(out + 48, _mm_xor_si128(s3, LOAD(in + 48)));
        STORE(out + 64, _mm_xor_si128(s4, LOAD(in + 64)));
        STORE(out + 80, _mm_xor_si128(s5, LOAD(in + 80)));
        STORE(out + 96, _mm_xor_si128(s6, LOAD(in + 96)));
        STORE(out + 112, _mm_xor_si128(s7, LOAD(in + 112)));
        in += 128;
        out += 128;
        blocks -= 8;
    }
    while (blocks > 0) {
        __m128i s = _mm_xor_si128(ctr_block(hi, lo), k[0]);
        if (++lo == 0)
            hi++;
        for (int r = 1; r < 14; r++)
            s = _mm_aesenc_si128(s, k[r]);
        s = _mm_aesenclast_si128(s, k[14]);
        STORE(out, _mm_xor_si128(s, LOAD(in)));
        in += 16;
        out += 16;
        blocks--;
    }
    store_be64(ctr, hi);
    store_be64(ctr + 8, lo);
    mtp_secure_zero(k, sizeof k);
}

AESNI_FN void mtp_aesni_enc256_block_(const uint8_t *rkb, const uint8_t in[16], uint8_t out[16])
{
    __m128i s = _mm_xor_si128(LOAD(in), LOAD(rkb));
    for (int r = 1; r < 14; r++)
        s = _mm_aesenc_si128(s, LOAD(rkb + 16 * r));
    s = _mm_aesenclast_si128(s, LOAD(rkb + 16 * 14));
    STORE(out, s);
}

/* ------------------------------------------------------------------------------------ */
/* Several independent AES-256-IGE encryptions in lock step                             */
/* ------------------------------------------------------------------------------------ */

/*
 * One IGE chain is bound by the latency of a block (the next block needs this one), but
 * the AES unit accepts a new round every cycle or two. Chains of different messages do
 * not depend on each other, so running 2-4 of them round by round fills the pipeline:
 * four chains cost about what one costs. Each lane has its own key schedule and IV.
 */
typedef struct ige_lane {
    __m128i k[15];
    __m128i c, p;              /* c_{i-1}, p_{i-1} */
    const uint8_t *in;
    uint8_t *out;
    size_t len;
} ige_lane_t;

#define IGE_LANES_MAX 4

/* Blocks [from, to) of lanes L[0..n-1] (all of which have at least `to` bytes). Every
 * lane's state lives in named registers (s, v, c, p per lane; REPn repeats a step for
 * lanes 0..n-1); only the round keys are read from memory. */
#define REP2(M) M(0) M(1)
#define REP3(M) M(0) M(1) M(2)
#define REP4(M) M(0) M(1) M(2) M(3)
#define LANE_DECL(j) __m128i s##j, v##j, c##j = L[j].c, p##j = L[j].p;
#define LANE_IN(j)                                                                          \
    v##j = LOAD(L[j].in + off);                                                             \
    s##j = _mm_xor_si128(v##j, L[j].k[0]);                                                  \
    OFF_CHAIN(s##j);                                                                        \
    s##j = _mm_xor_si128(s##j, c##j);
#define LANE_ROUND(j) s##j = _mm_aesenc_si128(s##j, L[j].k[r]);
#define LANE_OUT(j)                                                                         \
    c##j = _mm_aesenclast_si128(s##j, _mm_xor_si128(L[j].k[14], p##j));                    \
    STORE(L[j].out + off, c##j);                                                            \
    p##j = v##j;
#define LANE_SAVE(j) L[j].c = c##j; L[j].p = p##j;
#define IGE_ENC_LANES(REP)                                                                  \
    do {                                                                                    \
        REP(LANE_DECL)                                                                      \
        for (size_t off = from; off < to; off += 16) {                                      \
            REP(LANE_IN)                                                                    \
            for (int r = 1; r < 14; r++) {                                                  \
                REP(LANE_ROUND)                                                             \
            }                                                                               \
            REP(LANE_OUT)                                                                   \
        }                                                                                   \
        REP(LANE_SAVE)                                                                      \
    } while (0)

/* Decryption: p_i = D(c_i ^ p_{i-1}) ^ c_{i-1}; in the lane, "c" holds p_{i-1} (XORed
 * before the cipher) and "p" holds c_{i-1} (XORed after), k[] is the decryption schedule. */
#define LANE_DROUND(j) s##j = _mm_aesdec_si128(s##j, L[j].k[r]);
#define LANE_DOUT(j)                                                                        \
    c##j = _mm_aesdeclast_si128(s##j, _mm_xor_si128(L[j].k[14], p##j));                    \
    STORE(L[j].out + off, c##j);                                                            \
    p##j = v##j;
#define IGE_DEC_LANES(REP)                                                                  \
    do {                                                                                    \
        REP(LANE_DECL)                                                                      \
        for (size_t off = from; off < to; off += 16) {                                      \
            REP(LANE_IN)                                                                    \
            for (int r = 1; r < 14; r++) {                                                  \
                REP(LANE_DROUND)                                                            \
            }                                                                               \
            REP(LANE_DOUT)                                                                  \
        }                                                                                   \
        REP(LANE_SAVE)                                                                      \
    } while (0)

AESNI_FN static void ige_dec_lanes2(ige_lane_t *L, size_t from, size_t to)
{
    IGE_DEC_LANES(REP2);
}
AESNI_FN static void ige_dec_lanes3(ige_lane_t *L, size_t from, size_t to)
{
    IGE_DEC_LANES(REP3);
}
AESNI_FN static void ige_dec_lanes4(ige_lane_t *L, size_t from, size_t to)
{
    IGE_DEC_LANES(REP4);
}

AESNI_FN static void ige_enc_lanes2(ige_lane_t *L, size_t from, size_t to)
{
    IGE_ENC_LANES(REP2);
}
AESNI_FN static void ige_enc_lanes3(ige_lane_t *L, size_t from, size_t to)
{
    IGE_ENC_LANES(REP3);
}
AESNI_FN static void ige_enc_lanes4(ige_lane_t *L, size_t from, size_t to)
{
    IGE_ENC_LANES(REP4);
}

/* Up to IGE_LANES_MAX jobs; arguments already checked by the caller. */
AESNI_FN static void ige256_group(const mtp_ige_job_t *jobs, size_t n, int encrypt)
{
    ige_lane_t L[IGE_LANES_MAX];
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i].len)
            continue;
        ige_lane_t *l = &L[live++];
        if (encrypt) {
            expand256(jobs[i].key, l->k);
            l->c = LOAD(jobs[i].iv);
            l->p = LOAD(jobs[i].iv + 16);
        } else {
            __m128i ek[15];
            expand256(jobs[i].key, ek);
            make_dec(ek, 14, l->k);
            mtp_secure_zero(ek, sizeof ek);
            l->c = LOAD(jobs[i].iv + 16);    /* p_{-1} goes in before the cipher */
            l->p = LOAD(jobs[i].iv);         /* c_{-1} after it */
        }
        l->in = jobs[i].in;
        l->out = jobs[i].out;
        l->len = jobs[i].len;
    }
    size_t pos = 0;
    while (live) {
        size_t to = L[0].len;
        for (size_t j = 1; j < live; j++)
            if (L[j].len < to)
                to = L[j].len;
        switch (live) {
        case 4: encrypt ? ige_enc_lanes4(L, pos, to) : ige_dec_lanes4(L, pos, to); break;
        case 3: encrypt ? ige_enc_lanes3(L, pos, to) : ige_dec_lanes3(L, pos, to); break;
        case 2: encrypt ? ige_enc_lanes2(L, pos, to) : ige_dec_lanes2(L, pos, to); break;
        default: {
            /* the last one alone: the single-chain loop, its IV (in the loop's own order,
             * "before" then "after") from the lane state */
            uint8_t iv[32];
            STORE(iv, L[0].c);
            STORE(iv + 16, L[0].p);
            if (!encrypt) {          /* ige256() swaps the halves back for decryption */
                STORE(iv, L[0].p);
                STORE(iv + 16, L[0].c);
            }
            ige256(L[0].k, iv, L[0].in + pos, L[0].out + pos, (to - pos) / 16, encrypt);
            mtp_secure_zero(iv, sizeof iv);
            break;
        }
        }
        pos = to;
        /* drop the lanes that are done */
        for (size_t j = 0; j < live;) {
            if (L[j].len == pos) {
                L[j] = L[live - 1];
                live--;
            } else {
                j++;
            }
        }
    }
    mtp_secure_zero(L, sizeof L);
}

int mtp_aes256_ige_many_aesni_(const mtp_ige_job_t *jobs, size_t n, int encrypt)
{
    if (!mtp_crypto_have_aesni())
        return MTP_EINVAL;
    for (size_t i = 0; i < n; i += IGE_LANES_MAX)
        ige256_group(jobs + i, n - i < IGE_LANES_MAX ? n - i : IGE_LANES_MAX, encrypt);
    return 0;
}

#else /* no AES-NI code on this platform */

int mtp_crypto_have_aesni(void)
{
    return 0;
}

void mtp_aesni_expand_enc_(const uint8_t *key, size_t key_len, uint8_t *rk)
{
    (void)key; (void)key_len; (void)rk;
}

int mtp_aes_ige_aesni_(const uint8_t *key, size_t key_len, uint8_t iv[32],
                       const uint8_t *in, uint8_t *out, size_t len, int encrypt)
{
    (void)key; (void)key_len; (void)iv; (void)in; (void)out; (void)len; (void)encrypt;
    return MTP_EINVAL;
}

void mtp_aesni_ctr256_blocks_(const uint8_t *rk, uint8_t ctr[16], const uint8_t *in,
                              uint8_t *out, size_t blocks)
{
    (void)rk; (void)ctr; (void)in; (void)out; (void)blocks;
}

void mtp_aesni_enc256_block_(const uint8_t *rk, const uint8_t in[16], uint8_t out[16])
{
    (void)rk; (void)in; (void)out;
}

int mtp_aes256_ige_many_aesni_(const mtp_ige_job_t *jobs, size_t n, int encrypt)
{
    (void)jobs; (void)n; (void)encrypt;
    return MTP_EINVAL;
}

#endif

/* ------------------------------------------------------------------------------------ */
/* Fused AES-256-IGE decryption + SHA-256 of the plaintext                              */
/* ------------------------------------------------------------------------------------ */

#if defined(MTP_HAVE_AESNI_CODE) && defined(MTP_HAVE_SHANI_CODE)

/*
 * Both halves of an MTProto 2.0 receive are one long dependency chain each: IGE decryption
 * needs block i-1 before block i (AES round latency), and SHA-256 needs compression j-1
 * before j (sha256rnds2 latency). They run on different execution units, so one loop
 * carries both: while the four AES blocks of group g are decrypted, SHA-NI compresses the
 * 64 bytes of the hashed stream (prefix + plaintext) that were finished by group g-1.
 * The out-of-order core overlaps the two chains; the quarter-blocks are interleaved with
 * the AES blocks only to keep both within its window.
 *
 * The hashed stream is the context's buffered bytes (the prefix remainder, r < 64 bytes)
 * followed by the plaintext, so its first block may straddle the two ("mixed" below).
 */
#define FUSED_FN __attribute__((target("aes," SHANI_TARGET)))

/* One IGE-decrypt block at byte offset o (see IGE_LOOP: xprev = p_{i-1}, yprev = c_{i-1}). */
#define DEC_BLOCK(o)                                                                        \
    do {                                                                                    \
        __m128i v_ = LOAD(in + (o));                                                        \
        __m128i s_ = _mm_xor_si128(v_, k[0]);                                               \
        OFF_CHAIN(s_);                                                                      \
        s_ = _mm_xor_si128(s_, xprev);                                                      \
        DEC_MID_256(s_, k);                                                                 \
        __m128i r_ = _mm_aesdeclast_si128(s_, _mm_xor_si128(k[14], yprev));                 \
        STORE(out + (o), r_);                                                               \
        yprev = v_;                                                                         \
        xprev = r_;                                                                         \
    } while (0)

/* The next 64 bytes of the hashed stream: the first block of a stream whose context
 * still buffers r prefix bytes is assembled in `mixed`. */
#define NEXT_HASH_BLOCK(hp)                                                                 \
    do {                                                                                    \
        if (r && !used_mixed) {                                                             \
            memcpy(mixed, c->buf, r);                                                       \
            memcpy(mixed + r, out, 64 - r);                                                 \
            hp = mixed;                                                                     \
            hashed = 64 - r;                                                                \
            used_mixed = 1;                                                                 \
        } else {                                                                            \
            hp = out + hashed;                                                              \
            hashed += 64;                                                                   \
        }                                                                                   \
    } while (0)

FUSED_FN void mtp_aesni_ige256_dec_sha256_(const uint8_t key[32], const uint8_t iv[32],
                                           mtp_sha256_ctx_ *c, const uint8_t *in, uint8_t *out,
                                           size_t len, uint8_t digest[32])
{
    __m128i ek[15], k[15];
    uint8_t mixed[64];
    const __m128i mask = SHANI_BSWAP_MASK();
    size_t nb = len / 16, r = c->nbuf, hashed = 0, bi;
    int used_mixed = 0;
    /* The first stream block ends at out[e0]: decrypt that far before hashing anything,
     * then each group of 4 AES blocks runs beside the compression of the stream block
     * that ended before the group began (a lag of one block, the minimum). */
    size_t e0 = r ? 64 - r : 64, head = (e0 + 15) / 16;

    expand256(key, ek);
    make_dec(ek, 14, k);
    mtp_secure_zero(ek, sizeof ek);
    __m128i xprev = LOAD(iv + 16), yprev = LOAD(iv);

    if (head > nb)
        head = nb;
    for (bi = 0; bi < head; bi++)
        DEC_BLOCK(16 * bi);
    if (nb - bi >= 1 && (r ? e0 : 64) <= 16 * bi) {
        __m128i abef, cdgh;
        SHANI_STATE_LOAD(c->s, abef, cdgh);
        while (nb - bi >= 4) {
            const uint8_t *hp;
            size_t o = 16 * bi;
            NEXT_HASH_BLOCK(hp);
            __m128i m0, m1, m2, m3, sa = abef, sc = cdgh;
            SHANI_BLOCK_BEGIN(hp, mask, m0, m1, m2, m3);
            DEC_BLOCK(o);
            SHANI_QUARTER(0, abef, cdgh, m0, m1, m2, m3);
            DEC_BLOCK(o + 16);
            SHANI_QUARTER(1, abef, cdgh, m0, m1, m2, m3);
            DEC_BLOCK(o + 32);
            SHANI_QUARTER(2, abef, cdgh, m0, m1, m2, m3);
            DEC_BLOCK(o + 48);
            SHANI_QUARTER(3, abef, cdgh, m0, m1, m2, m3);
            abef = _mm_add_epi32(abef, sa);
            cdgh = _mm_add_epi32(cdgh, sc);
            bi += 4;
        }
        /* 1..3 AES blocks left: overlap them with one more stream block if it is complete */
        if (bi < nb && ((r && !used_mixed) ? e0 : hashed + 64) <= 16 * bi) {
            const uint8_t *hp;
            size_t left = nb - bi, o = 16 * bi;
            NEXT_HASH_BLOCK(hp);
            __m128i m0, m1, m2, m3, sa = abef, sc = cdgh;
            SHANI_BLOCK_BEGIN(hp, mask, m0, m1, m2, m3);
            DEC_BLOCK(o);
            SHANI_QUARTER(0, abef, cdgh, m0, m1, m2, m3);
            if (left > 1)
                DEC_BLOCK(o + 16);
            SHANI_QUARTER(1, abef, cdgh, m0, m1, m2, m3);
            if (left > 2)
                DEC_BLOCK(o + 32);
            SHANI_QUARTER(2, abef, cdgh, m0, m1, m2, m3);
            SHANI_QUARTER(3, abef, cdgh, m0, m1, m2, m3);
            abef = _mm_add_epi32(abef, sa);
            cdgh = _mm_add_epi32(cdgh, sc);
            bi = nb;
        }
        SHANI_STATE_STORE(c->s, abef, cdgh);
        if (used_mixed) {
            c->nbuf = 0;
            mtp_secure_zero(mixed, sizeof mixed);
        }
        c->total += hashed;
    }
    for (; bi < nb; bi++)
        DEC_BLOCK(16 * bi);
    mtp_secure_zero(k, sizeof k);
    mtp_sha256_ni_update_(c, out + hashed, len - hashed);
    mtp_sha256_ni_final_(c, digest);
}

#else

void mtp_aesni_ige256_dec_sha256_(const uint8_t key[32], const uint8_t iv[32],
                                  mtp_sha256_ctx_ *c, const uint8_t *in, uint8_t *out,
                                  size_t len, uint8_t digest[32])
{
    (void)key; (void)iv; (void)c; (void)in; (void)out; (void)len; (void)digest;
}

#endif
