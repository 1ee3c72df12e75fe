/*
 * libmtproto — internals shared by the client and server roles of the key exchange.
 * Not installed.
 */
#ifndef MTP_HANDSHAKE_INT_H
#define MTP_HANDSHAKE_INT_H

#include <mtproto/handshake.h>
#include <mtproto/tl.h>
#include <mtproto/tl_mtproto.h>

#define HS_DEFAULT_RETRIES 5
#define HS_DEFAULT_TIMEOUT (10 * MTP_USEC_PER_SEC)
#define HS_DEFAULT_REPLAY  (600 * MTP_USEC_PER_SEC)
/* Bound for encrypted_answer / client encrypted_data: a valid one is <= 592 bytes. */
#define HS_MAX_DH_BLOB     1024

/* Next msg_id from the (offset-corrected) clock: (sec << 32 | frac) with the two low bits
 * = parity (0 client, 1 server answer), never all-zero fraction, > *last. Updates *last. */
int64_t mtp_hs_msg_id_(mtp_usec_t now, mtp_usec_t offset, int parity, int64_t *last);

/*
 * Decode one boxed object from the start of p[0:n] (strings borrowed from p; gzip not
 * unpacked). The constructor must be one of allowed[0..nallowed). At most pad_max bytes may
 * follow the object (0: it must fill all n bytes; HS_ANY_TAIL: any). *consumed (may be NULL)
 * receives the object's length. NULL + *err (MTP_EPROTO) on failure.
 */
void *mtp_hs_decode_(mtp_arena_t *arena, const uint8_t *p, size_t n,
                     const mtp_tl_comb_t *const *allowed, size_t nallowed, size_t pad_max,
                     size_t *consumed, int *err);
#define HS_ANY_TAIL        ((size_t)-1)
/* A client's plain handshake message may carry random padding after its object: TDLib adds
 * 0..255 bytes (inside message_data_length) and Telegram ignores them, so the server accepts
 * up to this many. Server answers stay exact (Telegram sends none; the client checks). */
#define HS_PLAIN_PAD_MAX   1024

/* Append an unencrypted message: header (auth_key_id 0, msg_id, length) + boxed obj.
 * If body_copy is non-NULL, the encoded body is also stored there (replaced). On failure
 * out is left as it was. */
int mtp_hs_pack_(const mtp_tl_object_t *obj, int64_t msg_id, mtp_buf_t *out,
                 mtp_buf_t *body_copy);

/* Re-pack a stored body with a new msg_id. */
int mtp_hs_repack_(const mtp_buf_t *body, int64_t msg_id, mtp_buf_t *out);

/* Serialize obj (boxed) into a fresh buffer. */
int mtp_hs_encode_(const mtp_tl_object_t *obj, mtp_buf_t *b);

/* Big-endian unsigned of 1..8 bytes (leading zeros allowed) -> *v; MTP_EPROTO otherwise. */
int mtp_hs_be_u64_(const uint8_t *p, size_t n, uint64_t *v);
/* Minimal big-endian form of v (v > 0) into out[8]; returns the length. */
size_t mtp_hs_u64_be_(uint64_t v, uint8_t out[8]);

/* Fill a result's auth key part. */
int mtp_hs_set_key_(mtp_hs_result_t *r, const uint8_t auth_key[256]);

#endif
