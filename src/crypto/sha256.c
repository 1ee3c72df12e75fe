/*
 * libmtproto — SHA-256 on the x86 SHA extensions (SHA-NI), with the OpenSSL EVP digest as
 * the portable path.
 *
 * Why: the envelope hashes small inputs all the time (two 52-byte KDF inputs and one
 * ~1 KiB msg_key input per message). Through EVP each call costs a context allocation,
 * provider dispatch and a cleanse on top of the compression itself. Here a small context
 * lives on the stack, the compression runs on sha256rnds2/sha256msg1/sha256msg2, and the
 * two KDF hashes (one block each) are computed together so that their dependency chains
 * overlap.
 *
 * mtp_sha256_ni_ok_() decides per call: SHA-NI present (CPUID leaf 7 EBX bit 29, plus
 * SSSE3 and SSE4.1) and not switched off by mtp_sha256_force_portable_() (tests).
 */
#include <stdatomic.h>
#include <string.h>

#include "crypto/crypto_internal.h"
#include "crypto/sha256_ni.h"

/* FIPS 180-4, section 5.3.3 */
#define H0 0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au, \
           0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u

static _Atomic int force_portable;

void mtp_sha256_force_portable_(int on)
{
    atomic_store_explicit(&force_portable, on ? 1 : 0, memory_order_relaxed);
}

#ifdef MTP_HAVE_SHANI_CODE
#include <cpuid.h>

static _Atomic int shani_state;   /* 0 = not probed yet, 1 = absent, 2 = present */

int mtp_crypto_have_shani(void)
{
    int s = atomic_load_explicit(&shani_state, memory_order_relaxed);
    if (s == 0) {
        unsigned a = 0, b = 0, c = 0, d = 0;
        int ok = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
                 (d & bit_SSE2);
        if (ok) {
            ok = __get_cpuid_max(0, NULL) >= 7;
            if (ok) {
                __cpuid_count(7, 0, a, b, c, d);
                ok = (b & (1u << 29)) != 0;   /* SHA extensions */
            }
        }
        s = ok ? 2 : 1;
        atomic_store_explicit(&shani_state, s, memory_order_relaxed);
    }
    return s == 2;
}

int mtp_sha256_ni_ok_(void)
{
    return !atomic_load_explicit(&force_portable, memory_order_relaxed) && mtp_crypto_have_shani();
}

#define SHANI_FN __attribute__((target(SHANI_TARGET)))

SHANI_FN void mtp_sha256_ni_blocks_(uint32_t s[8], const uint8_t *p, size_t nblocks)
{
    const __m128i mask = SHANI_BSWAP_MASK();
    __m128i abef, cdgh;
    SHANI_STATE_LOAD(s, abef, cdgh);
    while (nblocks--) {
        SHANI_BLOCK(p, mask, abef, cdgh);
        p += 64;
    }
    SHANI_STATE_STORE(s, abef, cdgh);
}

/* One block of each of two independent streams, quarter by quarter: the two sha256rnds2
 * chains overlap (one stream alone is bound by the instruction's latency). */
#define SHANI_BLOCK2(pa, pb, mask, abef0, cdgh0, abef1, cdgh1)                              \
    do {                                                                                    \
        __m128i a0_ = (abef0), c0_ = (cdgh0), a1_ = (abef1), c1_ = (cdgh1);                 \
        __m128i x0, x1, x2, x3, y0, y1, y2, y3;                                             \
        SHANI_BLOCK_BEGIN(pa, mask, x0, x1, x2, x3);                                        \
        SHANI_BLOCK_BEGIN(pb, mask, y0, y1, y2, y3);                                        \
        SHANI_QUARTER(0, abef0, cdgh0, x0, x1, x2, x3);                                     \
        SHANI_QUARTER(0, abef1, cdgh1, y0, y1, y2, y3);                                     \
        SHANI_QUARTER(1, abef0, cdgh0, x0, x1, x2, x3);                                     \
        SHANI_QUARTER(1, abef1, cdgh1, y0, y1, y2, y3);                                     \
        SHANI_QUARTER(2, abef0, cdgh0, x0, x1, x2, x3);                                     \
        SHANI_QUARTER(2, abef1, cdgh1, y0, y1, y2, y3);                                     \
        SHANI_QUARTER(3, abef0, cdgh0, x0, x1, x2, x3);                                     \
        SHANI_QUARTER(3, abef1, cdgh1, y0, y1, y2, y3);                                     \
        (abef0) = _mm_add_epi32((abef0), a0_);                                              \
        (cdgh0) = _mm_add_epi32((cdgh0), c0_);                                              \
        (abef1) = _mm_add_epi32((abef1), a1_);                                              \
        (cdgh1) = _mm_add_epi32((cdgh1), c1_);                                              \
    } while (0)

/* nblocks blocks of each of two streams (states sa, sb). */
SHANI_FN static void blocks2(uint32_t sa[8], const uint8_t *pa, uint32_t sb[8],
                             const uint8_t *pb, size_t nblocks)
{
    const __m128i mask = SHANI_BSWAP_MASK();
    __m128i abef0, cdgh0, abef1, cdgh1;
    SHANI_STATE_LOAD(sa, abef0, cdgh0);
    SHANI_STATE_LOAD(sb, abef1, cdgh1);
    for (size_t i = 0; i < nblocks; i++, pa += 64, pb += 64)
        SHANI_BLOCK2(pa, pb, mask, abef0, cdgh0, abef1, cdgh1);
    SHANI_STATE_STORE(sa, abef0, cdgh0);
    SHANI_STATE_STORE(sb, abef1, cdgh1);
}

/* Two single-block messages from the initial state, the digests written straight from the
 * registers (the KDF's two hashes). */
SHANI_FN void mtp_sha256_ni_2x1_(const uint8_t a[64], const uint8_t b[64], uint8_t da[32],
                                 uint8_t db[32])
{
    static const uint32_t h0[8] = { H0 };
    const __m128i mask = SHANI_BSWAP_MASK();
    __m128i abef0, cdgh0, abef1, cdgh1;
    SHANI_STATE_LOAD(h0, abef0, cdgh0);
    abef1 = abef0;
    cdgh1 = cdgh0;
    SHANI_BLOCK2(a, b, mask, abef0, cdgh0, abef1, cdgh1);
    SHANI_DIGEST_STORE(da, abef0, cdgh0);
    SHANI_DIGEST_STORE(db, abef1, cdgh1);
}

#else /* no SHA-NI code on this platform */

int mtp_crypto_have_shani(void)
{
    return 0;
}

int mtp_sha256_ni_ok_(void)
{
    return 0;
}

void mtp_sha256_ni_blocks_(uint32_t s[8], const uint8_t *p, size_t nblocks)
{
    (void)s; (void)p; (void)nblocks;
}

void mtp_sha256_ni_2x1_(const uint8_t a[64], const uint8_t b[64], uint8_t da[32],
                        uint8_t db[32])
{
    (void)a; (void)b; (void)da; (void)db;
}

static void blocks2(uint32_t sa[8], const uint8_t *pa, uint32_t sb[8], const uint8_t *pb,
                    size_t nblocks)
{
    (void)sa; (void)pa; (void)sb; (void)pb; (void)nblocks;
}

#endif

/* ------------------------------------------------------------------------------------ */
/* Streaming context on the block function (only used when mtp_sha256_ni_ok_())          */
/* ------------------------------------------------------------------------------------ */

void mtp_sha256_ni_init_(mtp_sha256_ctx_ *c)
{
    static const uint32_t h0[8] = { H0 };
    memcpy(c->s, h0, sizeof h0);
    c->total = 0;
    c->nbuf = 0;
}

void mtp_sha256_ni_update_(mtp_sha256_ctx_ *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (n == 0)
        return;
    c->total += n;
    if (c->nbuf) {
        size_t take = 64 - c->nbuf < n ? 64 - c->nbuf : n;
        memcpy(c->buf + c->nbuf, p, take);
        c->nbuf += take;
        p += take;
        n -= take;
        if (c->nbuf < 64)
            return;
        mtp_sha256_ni_blocks_(c->s, c->buf, 1);
        c->nbuf = 0;
    }
    if (n >= 64) {
        mtp_sha256_ni_blocks_(c->s, p, n / 64);
        p += n & ~(size_t)63;
        n &= 63;
    }
    if (n) {
        memcpy(c->buf, p, n);
        c->nbuf = n;
    }
}

void mtp_sha256_ni_final_(mtp_sha256_ctx_ *c, uint8_t out[32])
{
    uint64_t bits = c->total * 8;
    size_t n = c->nbuf;
    c->buf[n++] = 0x80;
    if (n > 56) {
        memset(c->buf + n, 0, 64 - n);
        mtp_sha256_ni_blocks_(c->s, c->buf, 1);
        n = 0;
    }
    memset(c->buf + n, 0, 56 - n);
    for (int i = 0; i < 8; i++)
        c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    mtp_sha256_ni_blocks_(c->s, c->buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->s[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->s[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->s[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->s[i];
    }
    mtp_secure_zero(c, sizeof *c);
}

void mtp_sha256_ni_v_(const mtp_bytes_t *parts, size_t n, uint8_t out[32])
{
    mtp_sha256_ctx_ c;
    mtp_sha256_ni_init_(&c);
    for (size_t i = 0; i < n; i++)
        if (parts[i].len)
            mtp_sha256_ni_update_(&c, parts[i].ptr, parts[i].len);
    mtp_sha256_ni_final_(&c, out);
}

int mtp_sha256_ni_x2_pre32_(const uint8_t pa[32], const uint8_t *a, size_t la,
                            const uint8_t pb[32], const uint8_t *b, size_t lb,
                            uint8_t da[32], uint8_t db[32])
{
    if (!mtp_sha256_ni_ok_())
        return 0;
    mtp_sha256_ctx_ ca, cb;
    mtp_sha256_ni_init_(&ca);
    mtp_sha256_ni_init_(&cb);
    if (la >= 32 && lb >= 32) {
        /* first block: the 32-byte prefix and the first 32 message bytes; then both
         * streams are block aligned at message offset 32 */
        uint8_t blk[128];
        memcpy(blk, pa, 32);
        memcpy(blk + 32, a, 32);
        memcpy(blk + 64, pb, 32);
        memcpy(blk + 96, b, 32);
        size_t n = (la - 32) / 64 < (lb - 32) / 64 ? (la - 32) / 64 : (lb - 32) / 64;
        blocks2(ca.s, blk, cb.s, blk + 64, 1);
        blocks2(ca.s, a + 32, cb.s, b + 32, n);
        mtp_secure_zero(blk, sizeof blk);
        ca.total = cb.total = 64 + 64 * (uint64_t)n;
        mtp_sha256_ni_update_(&ca, a + 32 + 64 * n, la - 32 - 64 * n);
        mtp_sha256_ni_update_(&cb, b + 32 + 64 * n, lb - 32 - 64 * n);
    } else {
        mtp_sha256_ni_update_(&ca, pa, 32);
        mtp_sha256_ni_update_(&ca, a, la);
        mtp_sha256_ni_update_(&cb, pb, 32);
        mtp_sha256_ni_update_(&cb, b, lb);
    }
    mtp_sha256_ni_final_(&ca, da);
    mtp_sha256_ni_final_(&cb, db);
    return 1;
}

/* One padded block for a message of len <= 55 bytes made of two parts. */
static void one_block(uint8_t blk[64], const uint8_t *a, size_t alen, const uint8_t *b,
                      size_t blen)
{
    size_t len = alen + blen;
    uint64_t bits = (uint64_t)len * 8;
    if (alen)
        memcpy(blk, a, alen);
    if (blen)
        memcpy(blk + alen, b, blen);
    blk[len] = 0x80;
    memset(blk + len + 1, 0, 56 - len - 1);
    for (int i = 0; i < 8; i++)
        blk[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
}

int mtp_sha256_ni_pair2_(const uint8_t *a1, size_t a1len, const uint8_t *a2, size_t a2len,
                         const uint8_t *b1, size_t b1len, const uint8_t *b2, size_t b2len,
                         uint8_t da[32], uint8_t db[32])
{
    uint8_t blk[128];
    if (!mtp_sha256_ni_ok_() || a1len + a2len > 55 || b1len + b2len > 55)
        return 0;
    one_block(blk, a1, a1len, a2, a2len);
    one_block(blk + 64, b1, b1len, b2, b2len);
    mtp_sha256_ni_2x1_(blk, blk + 64, da, db);
    mtp_secure_zero(blk, sizeof blk);
    return 1;
}
