/*
 * libmtproto — internal helpers shared by the files in src/crypto (not installed).
 */
#ifndef MTP_CRYPTO_INTERNAL_H
#define MTP_CRYPTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <mtproto/crypto.h>
#include "util/util.h"

/* ---- fatal error for the void-returning primitives (OpenSSL allocation failure) ---- */
#if defined(__GNUC__)
__attribute__((noreturn))
#endif
void mtp_crypto_fatal_(const char *what);

/* ---- digests ---- */
/* Cached, explicitly fetched digest handles (fall back to the implicit EVP_sha*()).
 * Never NULL. */
const EVP_MD *mtp_md_sha1_(void);
const EVP_MD *mtp_md_sha256_(void);
const EVP_MD *mtp_md_sha512_(void);
const EVP_MD *mtp_md_md5_(void);
/* Digest of concatenated parts with the given md; 0 or MTP_ECRYPTO. */
int mtp_digest_v_(const EVP_MD *md, const mtp_bytes_t *parts, size_t n, uint8_t *out);
/* Infallible (aborts on OpenSSL failure) versions for the void API. */
void mtp_sha1_v_must_(const mtp_bytes_t *parts, size_t n, uint8_t out[20]);
void mtp_sha256_v_must_(const mtp_bytes_t *parts, size_t n, uint8_t out[32]);

/* ---- SHA-256 on SHA-NI (sha256.c) ---- */
/* 1 if the SHA-NI paths are used now: the CPU has them and the portable path is not
 * forced. Every *_ni_* function below requires it. */
int  mtp_sha256_ni_ok_(void);
/* Tests/benchmarks: on != 0 makes every SHA-256 user take the portable EVP path (and the
 * fused IGE+SHA-256 its decrypt-then-hash fallback); 0 restores the default. */
void mtp_sha256_force_portable_(int on);

typedef struct mtp_sha256_ctx_ {
    uint32_t s[8];
    uint64_t total;     /* bytes absorbed */
    size_t nbuf;        /* bytes in buf, < 64 */
    uint8_t buf[64];
} mtp_sha256_ctx_;

/* Compress nblocks whole 64-byte blocks into the state s (H0..H7). */
void mtp_sha256_ni_blocks_(uint32_t s[8], const uint8_t *p, size_t nblocks);
void mtp_sha256_ni_init_(mtp_sha256_ctx_ *c);
void mtp_sha256_ni_update_(mtp_sha256_ctx_ *c, const void *data, size_t n);
/* Writes the digest and wipes the context. */
void mtp_sha256_ni_final_(mtp_sha256_ctx_ *c, uint8_t out[32]);
/* SHA-256 of the concatenated parts (parts with len 0 may have NULL ptr). */
void mtp_sha256_ni_v_(const mtp_bytes_t *parts, size_t n, uint8_t out[32]);
/* Two single-block digests computed together: two complete padded blocks a and b. */
void mtp_sha256_ni_2x1_(const uint8_t a[64], const uint8_t b[64], uint8_t da[32],
                        uint8_t db[32]);
/* da = SHA256(pa[0:32] + a[0:la]), db = SHA256(pb[0:32] + b[0:lb]), the two streams
 * compressed together (two MTProto 2.0 msg_key_large at once). Returns 1 if done, 0 if
 * SHA-NI is not usable and nothing was written. */
int  mtp_sha256_ni_x2_pre32_(const uint8_t pa[32], const uint8_t *a, size_t la,
                             const uint8_t pb[32], const uint8_t *b, size_t lb,
                             uint8_t da[32], uint8_t db[32]);
/* da = SHA256(a1 + a2), db = SHA256(b1 + b2) for messages of at most 55 bytes each (one
 * block), the two computed together. Returns 1 if done, 0 if SHA-NI is not usable (or a
 * message is too long) and nothing was written. */
int  mtp_sha256_ni_pair2_(const uint8_t *a1, size_t a1len, const uint8_t *a2, size_t a2len,
                          const uint8_t *b1, size_t b1len, const uint8_t *b2, size_t b2len,
                          uint8_t da[32], uint8_t db[32]);

/* ---- fused AES-256-IGE decrypt + SHA-256 (aesni.c) ---- */
/* out = IGE-decrypt(in) and c absorbs out as it is produced, then c is finalized into
 * digest. Requires mtp_crypto_have_aesni() && mtp_sha256_ni_ok_(); len % 16 == 0. */
void mtp_aesni_ige256_dec_sha256_(const uint8_t key[32], const uint8_t iv[32],
                                  mtp_sha256_ctx_ *c, const uint8_t *in, uint8_t *out,
                                  size_t len, uint8_t digest[32]);

/* ---- AES-IGE implementations (exposed for the cross-checking tests) ---- */
/* AES-NI implementation: MTP_EINVAL if the CPU lacks AES-NI or key_len is not 16/32. */
int mtp_aes_ige_aesni_(const uint8_t *key, size_t key_len, uint8_t iv[32],
                       const uint8_t *in, uint8_t *out, size_t len, int encrypt);
/* Portable implementation on OpenSSL EVP (any CPU; key_len 16/24/32). */
int mtp_aes_ige_evp_(const uint8_t *key, size_t key_len, uint8_t iv[32],
                     const uint8_t *in, uint8_t *out, size_t len, int encrypt);
/* Force the CTR object to use the EVP path (tests): call instead of mtp_aes_ctr_init. */
int mtp_aes_ctr_init_evp_(mtp_aes_ctr_t *c, const uint8_t key[32], const uint8_t iv[16]);

/* ---- AES-NI primitives (aesni.c); only valid when mtp_crypto_have_aesni() ---- */
/* mtp_aes256_ige_{en,de}crypt_many on AES-NI (jobs already checked); MTP_EINVAL without
 * it. */
int mtp_aes256_ige_many_aesni_(const mtp_ige_job_t *jobs, size_t n, int encrypt);
/* Expand an AES-128 or AES-256 encryption key into nr+1 round keys (16 bytes each). */
void mtp_aesni_expand_enc_(const uint8_t *key, size_t key_len, uint8_t *rk /* 240 */);
/* AES-256 CTR keystream XOR: blocks = len/16 full blocks; ctr (BE) advanced. */
void mtp_aesni_ctr256_blocks_(const uint8_t *rk, uint8_t ctr[16], const uint8_t *in,
                              uint8_t *out, size_t blocks);
/* Encrypt one block with AES-256 round keys. */
void mtp_aesni_enc256_block_(const uint8_t *rk, const uint8_t in[16], uint8_t out[16]);

/* ---- BN helpers ---- */
/* BN from big-endian bytes (NULL on allocation failure). */
BIGNUM *mtp_bn_from_be_(const uint8_t *p, size_t len);
/* BN to big-endian, left-padded to exactly len bytes; MTP_ERANGE if too large. */
int mtp_bn_to_be_pad_(const BIGNUM *bn, uint8_t *out, size_t len);

/* r = base^exp mod m for a secret exponent (constant-time Montgomery; m odd). 0 or
 * MTP_ECRYPTO. base may be >= m. */
int mtp_bn_modexp_secret_(BIGNUM *r, const BIGNUM *base, const BIGNUM *exp, const BIGNUM *m,
                          BN_CTX *ctx);

/* TL "bytes" serialization into out (cap bytes); returns the length or 0 if it does not
 * fit / payload too long. */
size_t mtp_tl_bytes_(const uint8_t *p, size_t len, uint8_t *out, size_t cap);

/* Map an rng return (positive = failure without code) to an MTP_E* code. */
static inline int mtp_rng_err_(int rc)
{
    return rc > 0 ? MTP_ECRYPTO : rc;
}

#endif
