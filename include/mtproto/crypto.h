/*
 * libmtproto — cryptographic primitives of MTProto 2.0 (and the 1.0 pieces still in use).
 *
 * Everything here is a thin, documented layer over OpenSSL 3 libcrypto (EVP, BN,
 * OSSL_DECODER/ENCODER) plus an AES-NI implementation of AES-IGE and AES-CTR, so that
 * protocol code — and researchers — can use the primitives directly.
 *
 * Conventions
 *  - Functions return 0 on success or a negative MTP_E* code (see mtproto/common.h).
 *    MTP_EINVAL: bad argument (wrong size, NULL, misaligned length); MTP_ECRYPTO: OpenSSL
 *    failed; MTP_EBADKEY: unusable key; MTP_ESECURITY: a security check failed;
 *    MTP_ENOMEM: allocation failed; MTP_ERANGE: an output buffer is too small or the
 *    replay RNG ran out of bytes.
 *  - A few functions whose only possible failure is an internal OpenSSL allocation failure
 *    (the KDFs and fixed-size hashes of small inputs) return void; if that ever happens the
 *    process is aborted rather than continuing with an undefined key.
 *  - Inputs come first, outputs last. Where "in == out" is allowed it is said so; otherwise
 *    input and output buffers must not overlap. Partially overlapping buffers are never
 *    allowed.
 *  - Big numbers (RSA n/e, DH p/g_a/g_b, SRP values) are big-endian byte strings. Inputs may
 *    carry leading zero bytes. Outputs named "minimal" have none; outputs of a fixed size
 *    (auth_key, SRP A, verifier) are left-padded with zeros to that size.
 *  - Nonces (int128/int256), msg_key, auth_key_id and fingerprints are raw byte arrays in
 *    wire order (the int64 values are little-endian on the wire).
 *  - Secrets are never logged. Temporary copies of secret material are wiped before return.
 *  - Everything that needs randomness takes a `const mtp_rng_t *` (NULL = OpenSSL CSPRNG),
 *    so whole flows can be replayed byte for byte in tests.
 *
 * Where each primitive is used (docs/PROTOCOL.md section in brackets):
 *   key exchange, client [§4]: mtp_rand (nonce, new_nonce) -> mtp_factorize_pq_bytes ->
 *     mtp_rsa_load_public_pem + mtp_rsa_fingerprint (pick the server's key) ->
 *     mtp_rsa_pad_encrypt (req_DH_params.encrypted_data) -> mtp_tmp_aes_key_iv +
 *     mtp_aes256_ige_decrypt (encrypted_answer) + mtp_sha1 (answer hash) ->
 *     mtp_dh_check_params, mtp_dh_check_public (g_a) -> mtp_dh_generate (b, g_b) ->
 *     mtp_aes256_ige_encrypt (client_DH_inner_data) -> mtp_dh_shared (auth_key) ->
 *     mtp_auth_key_aux_hash + mtp_new_nonce_hash (check dh_gen_*) ->
 *     mtp_initial_server_salt, mtp_auth_key_id.
 *   key exchange, server (test harness): mtp_pq_generate, mtp_rsa_generate /
 *     mtp_rsa_load_private_pem, mtp_rsa_pad_decrypt, mtp_dh_generate (a, g_a), the same
 *     tmp-key / hash helpers.
 *   every encrypted packet [§3]: mtp_mtproto2_encrypt / mtp_mtproto2_decrypt (or the pieces:
 *     mtp_msg_key2, mtp_kdf2, mtp_aes256_ige_*); quick ack: mtp_msg_key2_large [§2.5].
 *   bindTempAuthKey [§8]: mtp_mtproto1_encrypt / mtp_mtproto1_decrypt (mtp_msg_key1, mtp_kdf1).
 *   obfuscated2 / MTProxy [§2.7]: mtp_aes_ctr_*, mtp_sha256_v; FakeTLS: mtp_hmac_sha256_v.
 *   CDN files [§7.6]: mtp_aes256_ctr, mtp_sha256. Uploads [§10]: mtp_hash_* with MTP_HASH_MD5.
 *   2FA [§9]: mtp_srp_client_compute (or mtp_srp_password_hash + mtp_srp_client_proof),
 *     mtp_srp_verifier (new password); harness: mtp_srp_server_B, mtp_srp_server_check.
 *
 * Thread safety: all functions are reentrant. Shared state is limited to (a) a small cache
 * of DH primes already proven safe, guarded by a C11 atomic_flag spin lock, (b) a lock-free
 * (C11 atomics) cache of fetched OpenSSL digest handles, and (c) a once-computed CPU
 * feature flag (C11 atomic int). An mtp_aes_ctr_t or mtp_hash_t object may be used by one
 * thread at a time; an mtp_rsa_key_t may be shared between threads (every operation on it
 * only reads it).
 */
#ifndef MTPROTO_CRYPTO_H
#define MTPROTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <mtproto/common.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)   /* the public API (-fvisibility=hidden) */

/* ===================================================================================== */
/* Sizes                                                                                  */
/* ===================================================================================== */

#define MTP_AUTH_KEY_LEN     256   /* auth_key: 2048-bit, big-endian, left-padded */
#define MTP_MSG_KEY_LEN      16
#define MTP_AUTH_KEY_ID_LEN  8
#define MTP_SHA1_LEN         20
#define MTP_SHA256_LEN       32
#define MTP_SHA512_LEN       64
#define MTP_MD5_LEN          16
#define MTP_HASH_MAX_LEN     64
#define MTP_DH_PRIME_LEN     256   /* dh_prime / SRP p: 2048-bit */
#define MTP_RSA_PAD_DATA_MAX 144   /* RSA_PAD: at most 144 bytes of data ... */
#define MTP_RSA_PAD_PADDED   192   /* ... padded with random bytes to 192 */
#define MTP_RSA_PAD_OUT      256   /* RSA_PAD output: 256 bytes (2048-bit modulus) */

/* ===================================================================================== */
/* Utilities                                                                              */
/* ===================================================================================== */

/* Constant-time comparison: 1 if the n bytes at a and b are equal, else 0. */
int  mtp_ct_memeq(const void *a, const void *b, size_t n);

/* Wipe n bytes in a way the compiler cannot optimize away (OPENSSL_cleanse). */
void mtp_secure_zero(void *p, size_t n);

/* 1 if this CPU runs the AES-NI code paths of AES-IGE / AES-CTR, 0 if the portable
 * OpenSSL EVP fallback is used. Informational (benchmarks, diagnostics). */
int  mtp_crypto_have_aesni(void);

/* 1 if this CPU has the SHA extensions (SHA-NI) that SHA-256 (mtp_sha256, mtp_sha256_v,
 * mtp_kdf2, msg_key, mtp_aes256_ige_decrypt_sha256) runs on; 0 if those use OpenSSL EVP.
 * Informational. */
int  mtp_crypto_have_shani(void);

/* ===================================================================================== */
/* Randomness                                                                             */
/* ===================================================================================== */

/*
 * One injectable randomness source. `fill` must write exactly n bytes to out and return 0,
 * or return a negative MTP_E* code (a positive return is treated as MTP_ECRYPTO).
 * Every function in this header that consumes randomness takes a `const mtp_rng_t *rng`;
 * rng == NULL (or rng->fill == NULL) means OpenSSL's CSPRNG (RAND_bytes).
 *
 * Production code should pass NULL (or a source that mixes into RAND_bytes); a custom
 * source must be a CSPRNG. The replay source below exists for tests.
 */
typedef struct mtp_rng {
    int (*fill)(void *ctx, uint8_t *out, size_t n);
    void *ctx;
} mtp_rng_t;

/* Fill out[0..n) from rng (NULL = RAND_bytes). On failure out is zeroed and the error
 * returned (MTP_ECRYPTO if RAND_bytes failed; whatever the source returned otherwise). */
int  mtp_rand(const mtp_rng_t *rng, void *out, size_t n);

/*
 * Randomness for message *padding* only. With an rng this is exactly mtp_rand(rng, ...).
 * With rng == NULL the bytes come from a per-thread pool (16 KiB, refilled from RAND_bytes)
 * instead of one RAND_bytes call per request: served bytes are removed from the pool, the
 * pool is wiped when its thread exits and in the child after fork() (pthread_atfork), so
 * no two requests — nor a parent and its forked child — get the same bytes. Requests over
 * 1 KiB go to RAND_bytes directly. Never use it for keys, nonces or DH exponents (use
 * mtp_rand). Errors as mtp_rand.
 */
int  mtp_rand_padding(const mtp_rng_t *rng, void *out, size_t n);

/*
 * Replay RNG: serves the bytes of a caller buffer in order, so recorded "random" inputs of
 * a protocol run can be replayed exactly. A request for more bytes than remain fails with
 * MTP_ERANGE and consumes nothing. The buffer is not copied: it must outlive the rng.
 *
 *   mtp_rng_replay_t st; mtp_rng_t rng;
 *   mtp_rng_replay_init(&rng, &st, recorded, sizeof recorded);
 *   mtp_rsa_pad_encrypt(key, data, len, &rng, out);
 */
typedef struct mtp_rng_replay {
    const uint8_t *data;
    size_t len;
    size_t pos;
} mtp_rng_replay_t;

void   mtp_rng_replay_init(mtp_rng_t *rng, mtp_rng_replay_t *state, const void *data, size_t len);
/* Bytes not yet consumed. */
size_t mtp_rng_replay_left(const mtp_rng_replay_t *state);

/* ===================================================================================== */
/* Hashes, HMAC, PBKDF2                                                                   */
/* ===================================================================================== */

/* One-shot digests. Return 0 or MTP_ECRYPTO. `in` may be NULL when len == 0. */
int  mtp_sha1(const void *in, size_t len, uint8_t out[20]);
int  mtp_sha256(const void *in, size_t len, uint8_t out[32]);
int  mtp_sha512(const void *in, size_t len, uint8_t out[64]);
int  mtp_md5(const void *in, size_t len, uint8_t out[16]);   /* upload checksums only */

/*
 * Digest of the concatenation of n parts (no copy is made). Parts with len 0 may have a
 * NULL ptr. Example: SHA256(a + b) with
 *   mtp_bytes_t parts[] = { MTP_BYTES(a, 32), MTP_BYTES(b, blen) };
 *   mtp_sha256_v(parts, 2, out);
 */
#define MTP_BYTES(p, n) ((mtp_bytes_t){ (const uint8_t *)(p), (size_t)(n) })
int  mtp_sha1_v(const mtp_bytes_t *parts, size_t n, uint8_t out[20]);
int  mtp_sha256_v(const mtp_bytes_t *parts, size_t n, uint8_t out[32]);

/* Incremental hashing (e.g. the MD5 of a whole file uploaded in parts). */
typedef enum mtp_hash_alg {
    MTP_HASH_MD5 = 1,
    MTP_HASH_SHA1 = 2,
    MTP_HASH_SHA256 = 3,
    MTP_HASH_SHA512 = 4
} mtp_hash_alg_t;

typedef struct mtp_hash mtp_hash_t;   /* opaque; heap-allocated */

/* Digest length of alg in bytes (0 for an unknown alg). */
size_t mtp_hash_len(mtp_hash_alg_t alg);
/* Create a hashing context. MTP_EINVAL (unknown alg), MTP_ENOMEM or MTP_ECRYPTO. */
int  mtp_hash_new(mtp_hash_alg_t alg, mtp_hash_t **out);
int  mtp_hash_update(mtp_hash_t *h, const void *p, size_t n);
/* Write the digest (mtp_hash_len(alg) bytes) and reset h for a new message. */
int  mtp_hash_final(mtp_hash_t *h, uint8_t *out);
void mtp_hash_free(mtp_hash_t *h);       /* NULL is fine */

/* HMAC-SHA256 (FakeTLS). The _v form MACs the concatenation of the parts. */
int  mtp_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                     uint8_t out[32]);
int  mtp_hmac_sha256_v(const void *key, size_t key_len, const mtp_bytes_t *parts, size_t n,
                       uint8_t out[32]);

/* PBKDF2-HMAC-SHA512 (2FA: 100000 iterations, 64-byte output). iterations >= 1. */
int  mtp_pbkdf2_hmac_sha512(const void *password, size_t password_len,
                            const void *salt, size_t salt_len, uint32_t iterations,
                            uint8_t *out, size_t out_len);

/* ===================================================================================== */
/* AES-256-IGE (MTProto message encryption)                                               */
/* ===================================================================================== */

/*
 * AES-IGE with the 32-byte IV in the OpenSSL/Telegram layout: iv[0:16] is the initial
 * "previous ciphertext block" c_{-1}, iv[16:32] the initial "previous plaintext block"
 * p_{-1}:
 *     encrypt: c_i = AES_enc(p_i XOR c_{i-1}) XOR p_{i-1}
 *     decrypt: p_i = AES_dec(c_i XOR p_{i-1}) XOR c_{i-1}
 * len must be a multiple of 16 (else MTP_EINVAL); len == 0 is a no-op. in == out is
 * allowed. Runs on AES-NI when available (mtp_crypto_have_aesni()), otherwise on EVP.
 */
int  mtp_aes256_ige_encrypt(const uint8_t key[32], const uint8_t iv[32],
                            const uint8_t *in, uint8_t *out, size_t len);
int  mtp_aes256_ige_decrypt(const uint8_t key[32], const uint8_t iv[32],
                            const uint8_t *in, uint8_t *out, size_t len);

/*
 * Several independent AES-256-IGE encryptions at once (each job its own key, IV and
 * length). One IGE chain is bound by the latency of an AES block; with AES-NI up to four
 * chains run interleaved, so n jobs cost about what the longest one costs alone (a server
 * sealing several 1 MiB file parts, for example). Elsewhere the jobs run one after the
 * other. Each job: key 32 bytes, iv 32 bytes (read only, layout as above), len a multiple
 * of 16, in == out allowed. Every job is checked before any is run: MTP_EINVAL leaves all
 * outputs untouched. Returns 0, MTP_EINVAL, or an OpenSSL failure code.
 */
typedef struct mtp_ige_job {
    const uint8_t *key;
    const uint8_t *iv;
    const uint8_t *in;
    uint8_t *out;
    size_t len;
} mtp_ige_job_t;
int  mtp_aes256_ige_encrypt_many(const mtp_ige_job_t *jobs, size_t n);
/* The same for decryption (the receive side of several packets at once). */
int  mtp_aes256_ige_decrypt_many(const mtp_ige_job_t *jobs, size_t n);

/*
 * AES-256-IGE decryption fused with SHA-256 of what it produces:
 *     out    = IGE-decrypt(key, iv, in[0:len])
 *     digest = SHA256(prefix[0:prefix_len] + out[0:len])
 * This is the receive side of MTProto 2.0 in one pass (prefix = auth_key[88+x:120+x],
 * digest = msg_key_large). With AES-NI and SHA-NI the two dependency chains run
 * interleaved in one loop (the SHA-256 of each 64 plaintext bytes overlaps the decryption
 * of the next 64), so it costs about as much as the decryption alone; elsewhere it is
 * mtp_aes256_ige_decrypt followed by mtp_sha256_v. len % 16 == 0 (else MTP_EINVAL); in ==
 * out allowed, other overlaps not; prefix may be NULL when prefix_len == 0. The caller
 * still has to compare the digest (in constant time, mtp_ct_memeq) before trusting out.
 * Returns 0, MTP_EINVAL, or an OpenSSL failure code (then digest is zeroed).
 */
int  mtp_aes256_ige_decrypt_sha256(const uint8_t key[32], const uint8_t iv[32],
                                   const uint8_t *prefix, size_t prefix_len,
                                   const uint8_t *in, uint8_t *out, size_t len,
                                   uint8_t digest[32]);

/*
 * General form: key_len 16, 24 or 32 (AES-128/192/256), encrypt != 0 to encrypt.
 * The IV is updated in place to (last ciphertext block, last plaintext block), so a
 * message may be processed in several calls (each a multiple of 16 bytes).
 */
int  mtp_aes_ige(const uint8_t *key, size_t key_len, uint8_t iv[32],
                 const uint8_t *in, uint8_t *out, size_t len, int encrypt);

/* ===================================================================================== */
/* AES-256-CTR (obfuscated2 transport, CDN files)                                         */
/* ===================================================================================== */

/*
 * A continuous AES-256-CTR keystream: the 16-byte IV is the initial counter block, read
 * as a 128-bit big-endian integer, incremented per block, wrapping mod 2^128 (OpenSSL
 * EVP_aes_256_ctr semantics). Successive mtp_aes_ctr_apply() calls continue the stream
 * at the exact byte where the previous call stopped, whatever the lengths.
 *
 * Opaque (the key schedule is private): mtp_aes_ctr_new() allocates and keys one,
 * mtp_aes_ctr_free() wipes the key schedule and releases it.
 */
typedef struct mtp_aes_ctr mtp_aes_ctr_t;

/* *out = a new keystream. MTP_EINVAL, MTP_ENOMEM or MTP_ECRYPTO on failure (then *out
 * is NULL). */
int  mtp_aes_ctr_new(mtp_aes_ctr_t **out, const uint8_t key[32], const uint8_t iv[16]);
/* XOR the next len keystream bytes into in, writing out. in == out allowed.
 * MTP_ESTATE if c was never initialized. */
int  mtp_aes_ctr_apply(mtp_aes_ctr_t *c, const uint8_t *in, uint8_t *out, size_t len);
/* Wipe and release. NULL is a no-op. */
void mtp_aes_ctr_free(mtp_aes_ctr_t *c);

/* One-shot AES-256-CTR from a fresh counter block iv. in == out allowed. */
int  mtp_aes256_ctr(const uint8_t key[32], const uint8_t iv[16],
                    const uint8_t *in, uint8_t *out, size_t len);

/* ===================================================================================== */
/* MTProto key derivation and message keys                                                */
/* ===================================================================================== */

/*
 * x selects the direction: 0 for client->server messages, 8 for server->client.
 * (x must be 0 or 8; any other non-zero value is treated as 8.) Only auth_key[0:128+8]
 * takes part in any derivation.
 *
 * MTProto 2.0 (docs/PROTOCOL.md §3.3):
 *   a = SHA256(msg_key + auth_key[x:x+36]);  b = SHA256(auth_key[40+x:76+x] + msg_key)
 *   aes_key = a[0:8] + b[8:24] + a[24:32];    aes_iv = b[0:8] + a[8:24] + b[24:32]
 */
void mtp_kdf2(const uint8_t auth_key[256], const uint8_t msg_key[16], int x,
              uint8_t aes_key[32], uint8_t aes_iv[32]);

/*
 * MTProto 1.0 (§3.9; needed for the auth.bindTempAuthKey inner message):
 *   sha1_a = SHA1(msg_key + auth_key[x:x+32])
 *   sha1_b = SHA1(auth_key[32+x:48+x] + msg_key + auth_key[48+x:64+x])
 *   sha1_c = SHA1(auth_key[64+x:96+x] + msg_key)
 *   sha1_d = SHA1(msg_key + auth_key[96+x:128+x])
 *   aes_key = sha1_a[0:8] + sha1_b[8:20] + sha1_c[4:16]
 *   aes_iv  = sha1_a[8:20] + sha1_b[0:8] + sha1_c[16:20] + sha1_d[0:8]
 */
void mtp_kdf1(const uint8_t auth_key[256], const uint8_t msg_key[16], int x,
              uint8_t aes_key[32], uint8_t aes_iv[32]);

/* msg_key (2.0) = SHA256(auth_key[88+x:120+x] + plaintext_with_padding)[8:24]. */
void mtp_msg_key2(const uint8_t auth_key[256], int x, const uint8_t *plain_with_padding,
                  size_t len, uint8_t msg_key[16]);
/* The full 32-byte msg_key_large = SHA256(auth_key[88+x:120+x] + plaintext_with_padding);
 * the quick-ack token is LE_uint32(msg_key_large[0:4]) | 0x80000000 (docs/PROTOCOL.md §2.5). */
void mtp_msg_key2_large(const uint8_t auth_key[256], int x, const uint8_t *plain_with_padding,
                        size_t len, uint8_t msg_key_large[32]);
/* Two msg_key_large at once (packets a and b, possibly under different keys): with SHA-NI
 * the two hashes are compressed interleaved, about 1.6x the speed of two calls. */
void mtp_msg_key2_large_x2(int x, const uint8_t auth_key_a[256], const uint8_t *plain_a,
                           size_t len_a, const uint8_t auth_key_b[256], const uint8_t *plain_b,
                           size_t len_b, uint8_t large_a[32], uint8_t large_b[32]);
/* msg_key (1.0) = SHA1(plaintext_without_padding)[4:20]. */
void mtp_msg_key1(const uint8_t *plain, size_t len, uint8_t msg_key[16]);

/* auth_key_id = SHA1(auth_key)[12:20] (the LE int64 on the wire, as bytes). */
void    mtp_auth_key_id(const uint8_t auth_key[256], uint8_t id[8]);
/* The same as a signed 64-bit integer (bytes read little-endian). */
int64_t mtp_auth_key_id64(const uint8_t auth_key[256]);
/* auth_key_aux_hash = SHA1(auth_key)[0:8] (retry_id of client_DH_inner_data). */
void    mtp_auth_key_aux_hash(const uint8_t auth_key[256], uint8_t aux_hash[8]);

/* new_nonce_hashN = SHA1(new_nonce + byte(N) + aux_hash)[4:20] for dh_gen_ok (N=1),
 * dh_gen_retry (2), dh_gen_fail (3). MTP_EINVAL if n is not 1, 2 or 3. */
int  mtp_new_nonce_hash(const uint8_t new_nonce[32], int n, const uint8_t aux_hash[8],
                        uint8_t out[16]);
/* new_nonce_hash of server_DH_params_fail = SHA1(new_nonce)[4:20]. */
void mtp_new_nonce_hash_fail(const uint8_t new_nonce[32], uint8_t out[16]);

/* Handshake step 6 keys for encrypted_answer / client_DH_inner_data:
 *   tmp_aes_key = SHA1(new_nonce + server_nonce) + SHA1(server_nonce + new_nonce)[0:12]
 *   tmp_aes_iv  = SHA1(server_nonce + new_nonce)[12:20] + SHA1(new_nonce + new_nonce)
 *                 + new_nonce[0:4]                                                      */
void mtp_tmp_aes_key_iv(const uint8_t new_nonce[32], const uint8_t server_nonce[16],
                        uint8_t tmp_aes_key[32], uint8_t tmp_aes_iv[32]);

/* First server salt = new_nonce[0:8] XOR server_nonce[0:8] (bytes; LE int64 on the wire). */
void mtp_initial_server_salt(const uint8_t new_nonce[32], const uint8_t server_nonce[16],
                             uint8_t salt[8]);

/* ===================================================================================== */
/* Whole-packet encryption (the cryptographic part of the message envelope)               */
/* ===================================================================================== */

/*
 * MTProto 2.0 encryption of one packet: out = auth_key_id(8) + msg_key(16) +
 * AES-256-IGE(plain). `plain` is the complete plaintext *including* the caller's padding
 * (salt, session_id, msg_id, seq_no, length, data, 12..1024 random bytes); len must be a
 * non-zero multiple of 16. out must hold len + 24 bytes and must not overlap plain.
 * x: 0 when the client sends, 8 when the server sends. Does not look at the content.
 */
int  mtp_mtproto2_encrypt(const uint8_t auth_key[256], int x, const uint8_t *plain,
                          size_t len, uint8_t *out);

/*
 * MTProto 2.0 decryption of one packet `in` (auth_key_id + msg_key + ciphertext) into
 * plain (in_len - 24 bytes; may not overlap in). x is the *sender's* direction: a client
 * decrypting a server packet passes 8. Checks, in this order and always doing the msg_key
 * computation: in_len >= 24 + 16 and (in_len - 24) % 16 == 0 (else MTP_EINVAL, nothing
 * written); auth_key_id matches; msg_key recomputed over the whole decrypted buffer
 * matches (constant time). Any mismatch: MTP_ESECURITY and plain is wiped.
 * The header fields, length and padding rules (docs/PROTOCOL.md §3.5 step 5+) are the caller's.
 */
int  mtp_mtproto2_decrypt(const uint8_t auth_key[256], int x, const uint8_t *in,
                          size_t in_len, uint8_t *plain);

/*
 * MTProto 1.0 encryption, as needed for auth.bindTempAuthKey's encrypted_message:
 * msg_key = SHA1(plain)[4:20]; plain is padded with 0..15 random bytes from rng to a
 * multiple of 16; out = auth_key_id(8) + msg_key(16) + AES-256-IGE(padded) with
 * mtp_kdf1(auth_key, msg_key, x). out must hold len + 24 + 15 bytes; *out_len receives
 * the length written. plain must be a well-formed 1.0 plaintext (it is not inspected).
 */
int  mtp_mtproto1_encrypt(const uint8_t auth_key[256], int x, const uint8_t *plain, size_t len,
                          const mtp_rng_t *rng, uint8_t *out, size_t *out_len);

/*
 * MTProto 1.0 decryption (server side of bindTempAuthKey). plain must hold in_len - 24
 * bytes. The unpadded length is 32 + message_data_length (int32 LE at plaintext offset
 * 28); it must be a multiple of 4 with 0..15 padding bytes after it. msg_key must equal
 * SHA1(plain[0:32+message_data_length])[4:20]. On success *plain_len = that unpadded
 * length. MTP_EINVAL for a malformed size, MTP_ESECURITY for every other failure.
 */
int  mtp_mtproto1_decrypt(const uint8_t auth_key[256], int x, const uint8_t *in, size_t in_len,
                          uint8_t *plain, size_t *plain_len);

/* ===================================================================================== */
/* pq factorisation (handshake proof of work)                                             */
/* ===================================================================================== */

/*
 * Split pq into primes p < q with p * q == pq (Pollard rho, Brent's variant, 128-bit
 * mulmod, after trial division by small primes). MTP_EINVAL if pq is not the product of
 * two distinct primes (prime, square, three or more factors, < 6).
 */
int  mtp_factorize_pq(uint64_t pq, uint64_t *p, uint64_t *q);

/*
 * The same on the wire forms: pq as big-endian bytes (1..8 bytes, leading zeros allowed;
 * longer -> MTP_EINVAL), p and q written minimal big-endian into 8-byte buffers.
 */
int  mtp_factorize_pq_bytes(const uint8_t *pq, size_t pq_len,
                            uint8_t p[8], size_t *p_len, uint8_t q[8], size_t *q_len);

/* Deterministic primality test for 64-bit integers (Miller-Rabin, fixed bases). */
int  mtp_is_prime_u64(uint64_t n);

/*
 * Server side: draw two distinct random primes p < q in [2^30, 2^31.5) so that pq < 2^63
 * (the size real servers use), using rng.
 */
int  mtp_pq_generate(const mtp_rng_t *rng, uint64_t *pq, uint64_t *p, uint64_t *q);

/* ===================================================================================== */
/* RSA                                                                                    */
/* ===================================================================================== */

typedef struct mtp_rsa_key mtp_rsa_key_t;   /* opaque; wraps an EVP_PKEY */

/*
 * Load an RSA public key from PEM: PKCS#1 "-----BEGIN RSA PUBLIC KEY-----" (the form
 * Telegram publishes) or SubjectPublicKeyInfo "-----BEGIN PUBLIC KEY-----".
 * pem need not be NUL-terminated. MTP_EBADKEY if it is not an RSA public key of
 * 512..8192 bits; MTP_ENOMEM on allocation failure.
 */
int  mtp_rsa_load_public_pem(const char *pem, size_t len, mtp_rsa_key_t **out);

/* Load an RSA private key from PEM: PKCS#1 "RSA PRIVATE KEY" or unencrypted PKCS#8
 * "PRIVATE KEY". The key can do everything a public key can, plus private operations. */
int  mtp_rsa_load_private_pem(const char *pem, size_t len, mtp_rsa_key_t **out);

/* Build a public key from its modulus and exponent (big-endian, leading zeros allowed). */
int  mtp_rsa_from_ne(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                     mtp_rsa_key_t **out);

/* Generate a fresh key pair (e = 65537), e.g. 2048 bits for a test server. Uses OpenSSL's
 * CSPRNG (key generation is not replayable). bits in 1024..8192. */
int  mtp_rsa_generate(unsigned bits, mtp_rsa_key_t **out);

void     mtp_rsa_free(mtp_rsa_key_t *key);            /* NULL is fine */
int      mtp_rsa_has_private(const mtp_rsa_key_t *key);
unsigned mtp_rsa_bits(const mtp_rsa_key_t *key);
size_t   mtp_rsa_size(const mtp_rsa_key_t *key);       /* modulus length in bytes */

/* MTProto fingerprint: SHA1(tl_bytes(n) + tl_bytes(e))[12:20] read as LE int64 (the
 * rsa_public_key TL serialization, n and e minimal big-endian). Computed at load. */
int64_t  mtp_rsa_fingerprint(const mtp_rsa_key_t *key);
int      mtp_rsa_fingerprint_ne(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                                int64_t *fingerprint);

/* n / e as minimal big-endian bytes. If cap is too small: MTP_ERANGE with *len set to
 * the size needed. */
int  mtp_rsa_get_n(const mtp_rsa_key_t *key, uint8_t *out, size_t cap, size_t *len);
int  mtp_rsa_get_e(const mtp_rsa_key_t *key, uint8_t *out, size_t cap, size_t *len);

/*
 * PEM export, NUL-terminated; *len = length without the NUL. If cap is too small:
 * MTP_ERANGE and *len = the length needed (without the NUL).
 * public: PKCS#1 "RSA PUBLIC KEY"; private: unencrypted PKCS#8 "PRIVATE KEY"
 * (MTP_EBADKEY if the key has no private part).
 */
int  mtp_rsa_public_pem(const mtp_rsa_key_t *key, char *out, size_t cap, size_t *len);
int  mtp_rsa_private_pem(const mtp_rsa_key_t *key, char *out, size_t cap, size_t *len);

/*
 * Raw ("textbook") RSA, no padding. The input is a big-endian integer of at most
 * mtp_rsa_size() bytes that must be < n (else MTP_EINVAL); the output is exactly
 * mtp_rsa_size() bytes, left-padded. public: m^e mod n; private: c^d mod n (CRT,
 * blinded; MTP_EBADKEY without a private part).
 */
int  mtp_rsa_public_op(const mtp_rsa_key_t *key, const uint8_t *in, size_t in_len, uint8_t *out);
int  mtp_rsa_private_op(const mtp_rsa_key_t *key, const uint8_t *in, size_t in_len, uint8_t *out);

/*
 * RSA_PAD, the client side of handshake step 4.1 (docs/PROTOCOL.md §4), for a 2048-bit key
 * (else MTP_EBADKEY). data: 1..144 bytes (else MTP_EINVAL). Randomness: one draw of
 * 224 bytes R, padding = R[0 : 192-len], temp_key = R[192:224] (R[192-len:192] is unused;
 * this is the layout of the recorded reference runs, so they replay byte for byte), then
 * one more 32-byte draw for a new temp_key on each retry needed because
 * key_aes_encrypted >= n (at most 64 attempts). out receives the 256-byte
 * encrypted_data.
 */
int  mtp_rsa_pad_encrypt(const mtp_rsa_key_t *key, const uint8_t *data, size_t len,
                         const mtp_rng_t *rng, uint8_t out[256]);

/*
 * RSA_PAD inverse (the server side): RSA-decrypt with the private key, recover temp_key,
 * AES-IGE-decrypt, un-reverse, and require SHA256(temp_key + data_with_padding) to match
 * (constant time). in: the encrypted_data bytes (<= 256, big-endian, < n).
 * On success writes the 192-byte data_with_padding (the TL data starts at offset 0).
 * MTP_EBADKEY (no private key / not 2048-bit), MTP_EINVAL (size), MTP_ESECURITY (hash).
 */
int  mtp_rsa_pad_decrypt(const mtp_rsa_key_t *key, const uint8_t *in, size_t in_len,
                         uint8_t data_with_padding[192]);

/* ===================================================================================== */
/* Diffie-Hellman (handshake steps 6-8)                                                   */
/* ===================================================================================== */

/* Telegram's well-known 2048-bit safe prime C71CAEB9…B92FCC5B (256 bytes), used with g=3
 * by the production servers and for SRP. Valid for the life of the process. */
const uint8_t *mtp_dh_known_prime(void);

/*
 * Validate DH parameters from server_DH_inner_data / account.password:
 *  - p is exactly 2048 bits (2^2047 < p < 2^2048; leading zero bytes are tolerated),
 *  - p and (p-1)/2 are prime (BN_check_prime; results are cached in a small process-wide
 *    table, and the well-known prime is recognised without a test),
 *  - g in 2..7 and g generates the quadratic-residue subgroup as required
 *    (g=2: p mod 8 = 7; 3: p mod 3 = 2; 4: always; 5: p mod 5 in {1,4};
 *     6: p mod 24 in {19,23}; 7: p mod 7 in {3,5,6}).
 * 0 if acceptable, MTP_ESECURITY if not, MTP_EINVAL for absurd arguments.
 */
int  mtp_dh_check_params(const uint8_t *p, size_t p_len, int g);

/* The same safe-prime and g rules without the 2048-bit size requirement (tests with toy
 * parameters; never use this to accept a server's prime). */
int  mtp_dh_check_safe_prime_g(const uint8_t *p, size_t p_len, int g);

/*
 * Check a DH public value (g_a, g_b) against a 2048-bit p:
 * 1 < v < p - 1 and 2^(2048-64) < v < p - 2^(2048-64). 0 or MTP_ESECURITY.
 */
int  mtp_dh_check_public(const uint8_t *p, size_t p_len, const uint8_t *v, size_t v_len);

/*
 * Generate a secret exponent (256 random bytes from rng, used as a big-endian integer)
 * and its public value g^secret mod p, redrawing until the public value passes
 * mtp_dh_check_public() (at most 32 draws). p must be 2048-bit; the parameters are not
 * re-validated here (call mtp_dh_check_params first). pub receives the minimal
 * big-endian value (as TL bytes carry it), *pub_len its length (<= 256).
 * Client: secret = b, pub = g_b. Server harness: secret = a, pub = g_a.
 */
int  mtp_dh_generate(const uint8_t *p, size_t p_len, int g, const mtp_rng_t *rng,
                     uint8_t secret[256], uint8_t pub[256], size_t *pub_len);

/* g^secret mod p (deterministic part of mtp_dh_generate), minimal big-endian. */
int  mtp_dh_public(const uint8_t *p, size_t p_len, int g, const uint8_t secret[256],
                   uint8_t pub[256], size_t *pub_len);

/*
 * auth_key = BE256(other_pub ^ secret mod p), left-padded to 256 bytes. other_pub is
 * checked with mtp_dh_check_public() first (MTP_ESECURITY).
 */
int  mtp_dh_shared(const uint8_t *p, size_t p_len, const uint8_t *other_pub, size_t other_len,
                   const uint8_t secret[256], uint8_t auth_key[256]);

/*
 * Generic modular exponentiation base^exp mod mod on big-endian byte strings, result
 * left-padded to out_len bytes (MTP_ERANGE if it does not fit). mod must be > 1 and odd
 * (the exponent is treated as secret: constant-time Montgomery ladder).
 */
int  mtp_modexp(const uint8_t *base, size_t base_len, const uint8_t *exp, size_t exp_len,
                const uint8_t *mod, size_t mod_len, uint8_t *out, size_t out_len);

/* ===================================================================================== */
/* SRP two-factor authentication (docs/PROTOCOL.md §9)                                         */
/* ===================================================================================== */

/*
 * The parameters of passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow
 * (from account.password.current_algo / new_algo). p: big-endian, at most 256 bytes.
 */
typedef struct mtp_srp_algo {
    const uint8_t *salt1; size_t salt1_len;
    const uint8_t *salt2; size_t salt2_len;
    int g;
    const uint8_t *p;     size_t p_len;
} mtp_srp_algo_t;

/* Flag for mtp_srp_client_proof(): skip mtp_dh_check_params(p, g). Only for test vectors
 * with toy parameters. */
#define MTP_SRP_SKIP_PARAM_CHECK 1u

/*
 * x = PH2(password) = SH(PBKDF2-HMAC-SHA512(PH1(password), salt1, 100000, 64), salt2),
 * where SH(d, s) = SHA256(s + d + s) and PH1 = SH(SH(password, salt1), salt2).
 * Costs 100000 HMAC-SHA512 iterations (tens of ms); x may be cached by the caller (it is a
 * password-equivalent secret: wipe it with mtp_secure_zero when done).
 */
int  mtp_srp_password_hash(const mtp_srp_algo_t *algo, const uint8_t *password, size_t pw_len,
                           uint8_t x[32]);

/*
 * Client proof from x: draws a (256 bytes) from rng, A = g^a mod p, then
 *   k = H(p + g), u = H(A + B), v = g^x, t = (B - k*v) mod p, S = t^(a + u*x) mod p,
 *   M1 = H((H(p) XOR H(g)) + H(salt1) + H(salt2) + A + B + H(S))
 * with every number hashed as 256 bytes big-endian. Unless flags has
 * MTP_SRP_SKIP_PARAM_CHECK, p and g are validated with mtp_dh_check_params().
 * srp_B must satisfy 0 < B < p (MTP_ESECURITY); u == 0 aborts (MTP_ESECURITY).
 * Outputs: A as 256 bytes (send as inputCheckPasswordSRP.A), M1 (32 bytes).
 */
int  mtp_srp_client_proof(const mtp_srp_algo_t *algo, const uint8_t x[32],
                          const uint8_t *srp_B, size_t srp_B_len, const mtp_rng_t *rng,
                          unsigned flags, uint8_t A[256], uint8_t M1[32]);

/* mtp_srp_password_hash + mtp_srp_client_proof in one call. */
int  mtp_srp_client_compute(const mtp_srp_algo_t *algo, const uint8_t *password, size_t pw_len,
                            const uint8_t *srp_B, size_t srp_B_len, const mtp_rng_t *rng,
                            unsigned flags, uint8_t A[256], uint8_t M1[32]);

/*
 * The verifier v = g^x mod p as 256 bytes big-endian, x = PH2(password, algo's salts).
 * This is account.passwordInputSettings.new_password_hash when algo is the new_algo with
 * 32 random bytes appended to salt1 (the caller appends them). Also what a server stores.
 */
int  mtp_srp_verifier(const mtp_srp_algo_t *algo, const uint8_t *password, size_t pw_len,
                      uint8_t v[256]);
/* The same from an already computed x. */
int  mtp_srp_verifier_from_x(const mtp_srp_algo_t *algo, const uint8_t x[32], uint8_t v[256]);

/*
 * Server side (test harness): draw b (256 bytes) from rng and compute
 * B = (k*v + g^b) mod p, redrawing in the (negligible) case B == 0. Outputs b and B,
 * both 256 bytes big-endian (b is secret: keep it for mtp_srp_server_check, then wipe).
 */
int  mtp_srp_server_B(const mtp_srp_algo_t *algo, const uint8_t v[256], const mtp_rng_t *rng,
                      uint8_t b[256], uint8_t B[256]);

/*
 * Server side: verify the client's (A, M1) for the session (v, b, B):
 * S = (A * v^u)^b mod p, u = H(A + B), and M1 must equal the client formula (constant
 * time). A must satisfy 0 < A < p. 0 if the password was right, MTP_ESECURITY if not.
 */
int  mtp_srp_server_check(const mtp_srp_algo_t *algo, const uint8_t v[256], const uint8_t b[256],
                          const uint8_t B[256], const uint8_t *A, size_t A_len,
                          const uint8_t M1[32]);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_CRYPTO_H */
