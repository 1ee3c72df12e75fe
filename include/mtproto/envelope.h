/*
 * libmtproto — the message envelope (PROTOCOL.md §3, §8): unencrypted handshake messages,
 * MTProto 2.0 encrypted messages, and the MTProto 1.0 inner message of auth.bindTempAuthKey.
 *
 * Sans-IO and stateless: every function works on caller memory only. Replay windows,
 * msg_id parity/time windows and session_id checks belong to the session layer; the
 * envelope returns the values it needs (salt, session_id, msg_id, seq_no).
 *
 * Roles, not x: functions take the role of the *caller*. A client encrypts with x = 0 and
 * decrypts with x = 8; a server (the test harness) the other way round. Getting x wrong is
 * the most common MTProto bug (§15.1), so it is never a free parameter here.
 *
 * Buffers and copies (the decrypt path is the hot path for 1 MiB file parts):
 *  - mtp_envelope_decrypt() decrypts *in place*: the packet buffer is overwritten with the
 *    plaintext and the returned body is a slice of it (no copy, no allocation).
 *    mtp_envelope_decrypt_to() decrypts into a separate caller buffer instead.
 *  - mtp_envelope_encrypt() appends the finished packet to an mtp_buf_t: the body is copied
 *    once (into its place in the plaintext) and then encrypted in place.
 *
 * Errors: every failed check of a received encrypted message returns MTP_ESECURITY — one
 * outcome for all failures, so the result is no oracle (§3.5). Caller mistakes (NULL, a
 * body too long for a 32-bit length) return MTP_EINVAL.
 */
#ifndef MTPROTO_ENVELOPE_H
#define MTPROTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/crypto.h>

#ifdef __cplusplus
extern "C" {
#endif

/* mtp_role_t (common.h): which side of the connection the caller is. */

/* ===================================================================================== */
/* Auth keys                                                                              */
/* ===================================================================================== */

/*
 * A 2048-bit auth key with the values derived from it once: auth_key_id (bytes as on the
 * wire and as an int64) and auth_key_aux_hash. Plain data; copy it freely. Wipe it with
 * mtp_auth_key_wipe() when done (it is a long-term secret; never log it).
 */
typedef struct mtp_auth_key {
    uint8_t key[MTP_AUTH_KEY_LEN];
    uint8_t id[MTP_AUTH_KEY_ID_LEN];   /* SHA1(key)[12:20], wire order */
    int64_t id64;                      /* the same read little-endian */
    uint8_t aux_hash[8];               /* SHA1(key)[0:8] */
} mtp_auth_key_t;

/* Fill k from the 256 key bytes (big-endian, left-padded). 0 or MTP_EINVAL. */
int  mtp_auth_key_init(mtp_auth_key_t *k, const uint8_t key[MTP_AUTH_KEY_LEN]);
void mtp_auth_key_wipe(mtp_auth_key_t *k);

/* ===================================================================================== */
/* Unencrypted messages (§3.1, key exchange only)                                         */
/* ===================================================================================== */

/* auth_key_id (8, zero) + msg_id (8) + message_data_length (4) */
#define MTP_PLAIN_HDR_LEN 20

/*
 * Append auth_key_id = 0, msg_id, len and the body to out. The body must be one TL object
 * (len a multiple of 4, at most 2^31 - 1): else MTP_EINVAL. MTP_ENOMEM if out cannot grow.
 */
int  mtp_plain_pack(int64_t msg_id, const uint8_t *body, size_t len, mtp_buf_t *out);

/*
 * Split an unencrypted message. Checks: at least 20 bytes (else MTP_ETRUNC), auth_key_id
 * == 0 (else MTP_EPROTO), message_data_length == the bytes that follow and a multiple of 4
 * (else MTP_EPROTO). *body is a slice of pkt. msg_id parity is the caller's business.
 */
int  mtp_plain_unpack(const uint8_t *pkt, size_t len, int64_t *msg_id, mtp_bytes_t *body);

/*
 * The auth_key_id of any packet (0 for an unencrypted one), to route it to a key before
 * decrypting. MTP_ETRUNC if len < 8.
 */
int  mtp_envelope_key_id(const uint8_t *pkt, size_t len, int64_t *auth_key_id);

/* ===================================================================================== */
/* MTProto 2.0 encrypted messages (§3.2-3.5)                                              */
/* ===================================================================================== */

#define MTP_ENC_OUTER_LEN   24     /* auth_key_id + msg_key */
#define MTP_ENC_INNER_LEN   32     /* salt, session_id, msg_id, seq_no, message_data_length */
#define MTP_ENC_PAD_MIN     12
#define MTP_ENC_PAD_MAX     1024
/* Smallest valid packet: 24 + 32 + 4 (one int) + 12, rounded up to whole blocks. */
#define MTP_ENC_MIN_LEN     (MTP_ENC_OUTER_LEN + 48)
/* Largest body mtp_envelope_encrypt accepts (the TL length field is a signed int32, and a
 * transport packet holds at most 2^24 words anyway). */
#define MTP_ENC_BODY_MAX    ((size_t)0x7ffffc00)

/* The quick-ack token of a packet whose msg_key_large starts with these 4 bytes:
 * LE_uint32(msg_key_large[0:4]) | 0x80000000 (§2.5). */
static inline uint32_t mtp_quick_ack_token(const uint8_t msg_key_large_head[4])
{
    return ((uint32_t)msg_key_large_head[0] | (uint32_t)msg_key_large_head[1] << 8 |
            (uint32_t)msg_key_large_head[2] << 16 | (uint32_t)msg_key_large_head[3] << 24) |
           0x80000000u;
}

/*
 * Padding length for a body of len bytes: the minimum that gives >= 12 bytes and a
 * multiple of 16 (12..27 bytes), plus extra_blocks * 16. mtp_envelope_encrypt() draws
 * extra_blocks uniformly from 0..15 (as gotd does) so sizes leak less; the result is always
 * within 12..267, inside the 12..1024 the protocol allows.
 */
static inline size_t mtp_envelope_pad_len(size_t len, unsigned extra_blocks)
{
    size_t base = (size_t)MTP_ENC_INNER_LEN + len + MTP_ENC_PAD_MIN;
    return MTP_ENC_PAD_MIN + ((16 - base % 16) % 16) + 16 * (size_t)(extra_blocks & 15u);
}

/*
 * Encrypt one message and append the packet (auth_key_id + msg_key + ciphertext) to out.
 * self: the caller's role (client -> x = 0, server -> x = 8). body: one boxed TL object
 * (a multiple of 4 bytes, <= MTP_ENC_BODY_MAX; else MTP_EINVAL).
 *
 * Randomness (rng; NULL = CSPRNG), consumed in this order:
 *   1 byte  b:  extra padding blocks = b & 15 (see mtp_envelope_pad_len)
 *   N bytes:    the padding itself, N = mtp_envelope_pad_len(len, b & 15)
 * quick_ack (may be NULL): receives the token the server will send back if a quick ack is
 * requested for this packet.
 * Errors: MTP_EINVAL, MTP_ENOMEM (out unchanged), rng errors (out unchanged).
 */
int  mtp_envelope_encrypt(const mtp_auth_key_t *key, mtp_role_t self,
                          int64_t salt, int64_t session_id, int64_t msg_id, int32_t seq_no,
                          const uint8_t *body, size_t len, const mtp_rng_t *rng,
                          mtp_buf_t *out, uint32_t *quick_ack);

/*
 * mtp_envelope_encrypt in steps, for callers that place packets themselves (the connection
 * writes them straight into its transport frames and seals several at once):
 *   mtp_envelope_plan: the packet length (24 + 32 + len + padding) for a body of len bytes;
 *       draws the padding size (the first rng byte of the documented order).
 *   mtp_envelope_fill: writes the plaintext (inner header, body, padding: the remaining rng
 *       bytes) at pkt[24:pkt_len]; pkt[0:24] is left for the seal.
 *   then mtp_envelope_seal(key, self, pkt, pkt_len - 24, ...) or mtp_envelope_seal_many.
 * The result is byte for byte what mtp_envelope_encrypt gives with the same rng.
 */
int  mtp_envelope_plan(size_t len, const mtp_rng_t *rng, size_t *pkt_len);
int  mtp_envelope_fill(uint8_t *pkt, size_t pkt_len, int64_t salt, int64_t session_id,
                       int64_t msg_id, int32_t seq_no, const uint8_t *body, size_t len,
                       const mtp_rng_t *rng);

/*
 * Lower level: encrypt a complete plaintext (header + body + padding, a non-zero multiple
 * of 16 bytes; its content is not inspected) *in place*. buf[0:24] is space for the outer
 * header, buf[24:24+plain_len] holds the plaintext; afterwards buf[0:24+plain_len] is the
 * packet. msg_key_large (may be NULL) receives all 32 bytes of SHA256(...).
 */
int  mtp_envelope_seal(const mtp_auth_key_t *key, mtp_role_t self, uint8_t *buf,
                       size_t plain_len, uint8_t msg_key_large[32]);

/*
 * mtp_envelope_seal for several packets at once (their keys may differ): the msg_key
 * hashes run two streams at a time and the AES-IGE chains four at a time
 * (mtp_aes256_ige_encrypt_many), so sealing n large packets costs well under n times one
 * seal. Each job's buf/plain_len are as for mtp_envelope_seal; msg_key_large is written.
 * Every job is checked first (MTP_EINVAL: nothing written). On any other error every
 * plaintext is wiped.
 */
typedef struct mtp_seal_job {
    const mtp_auth_key_t *key;
    uint8_t *buf;
    size_t plain_len;
    uint8_t msg_key_large[32];     /* out */
} mtp_seal_job_t;
int  mtp_envelope_seal_many(mtp_role_t self, mtp_seal_job_t *jobs, size_t n);

/* A received and verified message. body points into the decrypted buffer. */
typedef struct mtp_envelope_msg {
    int64_t salt;
    int64_t session_id;
    int64_t msg_id;
    int32_t seq_no;
    mtp_bytes_t body;          /* message_data (message_data_length bytes) */
    size_t padding_len;        /* 12..1024 */
    uint32_t quick_ack;        /* LE_uint32(msg_key_large[0:4]) | 0x80000000 */
    uint8_t msg_key[16];
} mtp_envelope_msg_t;

/*
 * Decrypt and check one received packet in place (pkt is overwritten with the plaintext,
 * starting at pkt + 24). self: the caller's role (a client decrypts with x = 8).
 *
 * The checks of §3.5 run in this fixed order, and every one runs even if an earlier one
 * failed (except that a packet whose length is not 24 + 16k, k >= 3, cannot be decrypted
 * at all):
 *   1. len >= MTP_ENC_MIN_LEN and (len - 24) % 16 == 0
 *   2. auth_key_id == key->id
 *   3. KDF (x) and AES-256-IGE decryption
 *   4. msg_key == SHA256(auth_key[88+x:120+x] + plaintext)[8:24] (constant time)
 *   5. message_data_length >= 0, % 4 == 0, <= plaintext - 32, padding 12..1024
 * Any failure: MTP_ESECURITY, the decrypted bytes are wiped and *msg is zeroed.
 * session_id, msg_id parity, replay and time checks are the session layer's (§3.5 6-9).
 */
int  mtp_envelope_decrypt(const mtp_auth_key_t *key, mtp_role_t self, uint8_t *pkt, size_t len,
                          mtp_envelope_msg_t *msg);

/* The same, decrypting into plain (len - 24 bytes; must not overlap pkt). msg->body points
 * into plain. */
int  mtp_envelope_decrypt_to(const mtp_auth_key_t *key, mtp_role_t self, const uint8_t *pkt,
                             size_t len, uint8_t *plain, mtp_envelope_msg_t *msg);

/*
 * Several received packets at once (their keys may differ): the IGE chains run four side
 * by side and the msg_key hashes two at a time, about twice as fast as one by one for
 * large packets. Each job: key, pkt/len in; plain out (len - 24 bytes; exactly pkt + 24
 * for in place, otherwise no overlap); rc (0 or MTP_ESECURITY) and msg (as
 * mtp_envelope_decrypt_to gives them) out. Returns MTP_EINVAL for bad arguments (nothing
 * done), else 0.
 */
typedef struct mtp_open_job {
    const mtp_auth_key_t *key;
    const uint8_t *pkt;
    size_t len;
    uint8_t *plain;
    int rc;                       /* out */
    mtp_envelope_msg_t msg;       /* out */
} mtp_open_job_t;
int  mtp_envelope_decrypt_many(mtp_role_t self, mtp_open_job_t *jobs, size_t n);

/* ===================================================================================== */
/* MTProto 1.0: the encrypted_message of auth.bindTempAuthKey (§8)                        */
/* ===================================================================================== */

/* Length of the encrypted_message: 24 + (32 + 40 rounded up to 16) */
#define MTP_BIND_MSG_LEN 104

/* The fields of bind_auth_key_inner plus the msg_id of its 1.0 envelope. */
typedef struct mtp_bind_inner {
    int64_t nonce;              /* random; equals auth.bindTempAuthKey.nonce */
    int64_t temp_auth_key_id;
    int64_t perm_auth_key_id;
    int64_t temp_session_id;    /* the session the bind request is sent in */
    int32_t expires_at;         /* unix time (server clock); equals the request's */
    int64_t msg_id;             /* the msg_id of the outer auth.bindTempAuthKey message */
} mtp_bind_inner_t;

/*
 * Client: build encrypted_message (MTP_BIND_MSG_LEN bytes appended to out) for
 * auth.bindTempAuthKey under the permanent key: plaintext = random(16) + msg_id + seq_no 0
 * + length 40 + bind_auth_key_inner, msg_key = SHA1(plaintext)[4:20], KDF v1 with x = 0,
 * padding 0..15 random bytes. in->perm_auth_key_id must equal perm->id64 (else MTP_EINVAL).
 * Randomness: 16 bytes (in place of salt + session_id), then 8 padding bytes.
 */
int  mtp_bind_inner_encrypt(const mtp_auth_key_t *perm, const mtp_bind_inner_t *in,
                            const mtp_rng_t *rng, mtp_buf_t *out);

/*
 * Server: decrypt and parse an encrypted_message with the permanent key (found by the
 * auth_key_id at its start — use mtp_envelope_key_id). Checks the 1.0 msg_key, the
 * length (message_data_length == 40, padding 0..15), seq_no == 0 and the constructor.
 * MTP_ESECURITY on any failure (answer ENCRYPTED_MESSAGE_INVALID).
 */
int  mtp_bind_inner_decrypt(const mtp_auth_key_t *perm, const uint8_t *enc, size_t len,
                            mtp_bind_inner_t *out);

/*
 * Server: the consistency rules of auth.bindTempAuthKey. `got` is the decrypted inner
 * message, `want` what the server knows: perm_auth_key_id (the request's field and the key
 * used), nonce and expires_at (the request's fields), temp_auth_key_id (the key the request
 * arrived under), temp_session_id (its session) and msg_id (its msg_id). Every field must be
 * equal: 0 or MTP_ESECURITY.
 */
int  mtp_bind_inner_check(const mtp_bind_inner_t *got, const mtp_bind_inner_t *want);

#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_ENVELOPE_H */
