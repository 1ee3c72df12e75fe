/*
 * libmtproto — SHA-256 compression on the x86 SHA extensions (internal, not installed).
 *
 * Written from FIPS 180-4, section 6.2 and Intel's description of the instructions:
 *   sha256rnds2 (CDGH, ABEF, WK): two rounds; ABEF holds A,B,E,F in dwords 3,2,1,0 and
 *       CDGH holds C,D,G,H likewise; WK dwords 0 and 1 are W_t + K_t for the two rounds.
 *       The result is the new ABEF; the new CDGH is the old ABEF (after two rounds C,D,G,H
 *       are the old A,B,E,F).
 *   sha256msg1 (W[t..t+3], W[t+4..t+7]) = W[t+j] + sigma0(W[t+j+1]), j = 0..3
 *   sha256msg2 (X, W[t+12..t+15]) = X[j] + sigma1(W[t+14+j]) with the two words it
 *       produces itself feeding the last two lanes, i.e. W[t+16..t+19] when
 *       X = W[t..t+3] + sigma0(W[t+1..t+4]) + W[t+9..t+12].
 *
 * The block function is a set of macros over local variables so that callers can
 * interleave the quarter-blocks with other work (the fused IGE-decrypt + SHA-256 loop in
 * aesni.c keeps the AES and SHA dependency chains in flight together).
 *
 * Only for translation units built with target("sha,sse4.1,ssse3") functions; callers
 * must check mtp_sha256_ni_ok_() first.
 */
#ifndef MTP_SHA256_NI_H
#define MTP_SHA256_NI_H

#include <stdint.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(MTP_NO_SHANI)
#define MTP_HAVE_SHANI_CODE 1
#include <immintrin.h>

#define SHANI_TARGET "sha,sse4.1,ssse3,sse2"

/* FIPS 180-4, section 4.2.2: the 64 round constants. */
static const uint32_t mtp_sha256_k_[64] __attribute__((aligned(16), unused)) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Byte order: SHA-256 words are big-endian; swap the bytes of each 32-bit lane. */
#define SHANI_BSWAP_MASK() _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3)
#define SHANI_LOAD_W(p, mask) \
    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p)), (mask))
#define SHANI_K(q) _mm_load_si128((const __m128i *)(const void *)&mtp_sha256_k_[4 * (q)])

/* Four rounds with message words w (W[4q..4q+3]); abef/cdgh keep their roles afterwards. */
#define SHANI_QR(abef, cdgh, w, q)                                                          \
    do {                                                                                    \
        __m128i wk_ = _mm_add_epi32((w), SHANI_K(q));                                       \
        (cdgh) = _mm_sha256rnds2_epu32((cdgh), (abef), wk_);                                \
        (abef) = _mm_sha256rnds2_epu32((abef), (cdgh), _mm_shuffle_epi32(wk_, 0x0e));       \
    } while (0)

/* Message schedule: a = W[t..t+3], b = W[t+4..t+7], c = W[t+8..t+11], d = W[t+12..t+15];
 * a becomes W[t+16..t+19]. */
#define SHANI_SCHED(a, b, c, d)                                                             \
    (a) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((a), (b)),               \
                                             _mm_alignr_epi8((d), (c), 4)), (d))

/* Quarter q (0..3) of one block: rounds 16q .. 16q+15. m0..m3 hold the message words
 * (loaded by SHANI_BLOCK_BEGIN), updated in place by the schedule. */
#define SHANI_QUARTER(q, abef, cdgh, m0, m1, m2, m3)                                        \
    do {                                                                                    \
        if ((q) == 0) {                                                                     \
            SHANI_QR(abef, cdgh, m0, 0); SHANI_QR(abef, cdgh, m1, 1);                       \
            SHANI_QR(abef, cdgh, m2, 2); SHANI_QR(abef, cdgh, m3, 3);                       \
        } else {                                                                            \
            SHANI_SCHED(m0, m1, m2, m3); SHANI_QR(abef, cdgh, m0, 4 * (q) + 0);             \
            SHANI_SCHED(m1, m2, m3, m0); SHANI_QR(abef, cdgh, m1, 4 * (q) + 1);             \
            SHANI_SCHED(m2, m3, m0, m1); SHANI_QR(abef, cdgh, m2, 4 * (q) + 2);             \
            SHANI_SCHED(m3, m0, m1, m2); SHANI_QR(abef, cdgh, m3, 4 * (q) + 3);             \
        }                                                                                   \
    } while (0)

#define SHANI_BLOCK_BEGIN(p, mask, m0, m1, m2, m3)                                          \
    do {                                                                                    \
        m0 = SHANI_LOAD_W((p), mask);                                                       \
        m1 = SHANI_LOAD_W((p) + 16, mask);                                                  \
        m2 = SHANI_LOAD_W((p) + 32, mask);                                                  \
        m3 = SHANI_LOAD_W((p) + 48, mask);                                                  \
    } while (0)

/* A whole block: the state (abef, cdgh) absorbs the 64 bytes at p. */
#define SHANI_BLOCK(p, mask, abef, cdgh)                                                    \
    do {                                                                                    \
        __m128i m0_, m1_, m2_, m3_, sa_ = (abef), sc_ = (cdgh);                             \
        SHANI_BLOCK_BEGIN(p, mask, m0_, m1_, m2_, m3_);                                     \
        SHANI_QUARTER(0, abef, cdgh, m0_, m1_, m2_, m3_);                                   \
        SHANI_QUARTER(1, abef, cdgh, m0_, m1_, m2_, m3_);                                   \
        SHANI_QUARTER(2, abef, cdgh, m0_, m1_, m2_, m3_);                                   \
        SHANI_QUARTER(3, abef, cdgh, m0_, m1_, m2_, m3_);                                   \
        (abef) = _mm_add_epi32((abef), sa_);                                                \
        (cdgh) = _mm_add_epi32((cdgh), sc_);                                                \
    } while (0)

/* uint32 state H0..H7 <-> the (ABEF, CDGH) register pair. */
#define SHANI_STATE_LOAD(s, abef, cdgh)                                                     \
    do {                                                                                    \
        (abef) = _mm_set_epi32((int)(s)[0], (int)(s)[1], (int)(s)[4], (int)(s)[5]);         \
        (cdgh) = _mm_set_epi32((int)(s)[2], (int)(s)[3], (int)(s)[6], (int)(s)[7]);         \
    } while (0)
#define SHANI_STATE_STORE(s, abef, cdgh)                                                    \
    do {                                                                                    \
        (s)[0] = (uint32_t)_mm_extract_epi32((abef), 3);                                    \
        (s)[1] = (uint32_t)_mm_extract_epi32((abef), 2);                                    \
        (s)[4] = (uint32_t)_mm_extract_epi32((abef), 1);                                    \
        (s)[5] = (uint32_t)_mm_extract_epi32((abef), 0);                                    \
        (s)[2] = (uint32_t)_mm_extract_epi32((cdgh), 3);                                    \
        (s)[3] = (uint32_t)_mm_extract_epi32((cdgh), 2);                                    \
        (s)[6] = (uint32_t)_mm_extract_epi32((cdgh), 1);                                    \
        (s)[7] = (uint32_t)_mm_extract_epi32((cdgh), 0);                                    \
    } while (0)

/* The 32-byte digest straight from the registers: the high halves of (CDGH, ABEF) are the
 * lanes (D, C, B, A); reversing all 16 bytes gives A..D big-endian. Likewise E..H. */
#define SHANI_DIGEST_STORE(out, abef, cdgh)                                                 \
    do {                                                                                    \
        const __m128i rev_ = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); \
        _mm_storeu_si128((__m128i *)(void *)(out),                                          \
                         _mm_shuffle_epi8(_mm_unpackhi_epi64((cdgh), (abef)), rev_));       \
        _mm_storeu_si128((__m128i *)(void *)((out) + 16),                                   \
                         _mm_shuffle_epi8(_mm_unpacklo_epi64((cdgh), (abef)), rev_));       \
    } while (0)

#endif /* x86 */
#endif
