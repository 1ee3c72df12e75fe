/*
 * libmtproto — creating an authorization key (docs/PROTOCOL.md §4): the client and the server
 * role of the DH exchange as sans-IO state machines.
 *
 * Input: the unencrypted messages of the peer (whole packets: auth_key_id 0, msg_id,
 * length, body — as unframed by the transport). Output: the unencrypted packets to send,
 * appended to a caller mtp_buf_t, ready for the transport. The current time comes in as
 * `now` (mtp_usec_t); nothing here reads a clock, does I/O or keeps global state.
 *
 * All randomness is drawn from the configured mtp_rng_t (NULL = OpenSSL's CSPRNG), in the
 * documented order, so whole exchanges can be replayed byte for byte from recorded inputs.
 *
 * Every check that fails ends the exchange: the function returns a negative MTP_E* code,
 * the object enters MTP_HS_FAILED and wipes its secrets (new_nonce, b/a, the tmp AES key,
 * the half-built auth key). Error classes:
 *   MTP_ESECURITY  a security check of §4/§11 (nonce echoes, fingerprints, answer hash,
 *                  padding, DH prime/g/g_a/g_b, new_nonce_hashN, RSA_PAD hash, p/q)
 *   MTP_EPROTO     a malformed or unexpected message (bad envelope, bad TL, wrong
 *                  constructor, pq not a product of two primes, the server refused)
 *   MTP_ESTATE     the call does not fit the current state
 *   MTP_ENOMEM, MTP_ECRYPTO, rng errors: local failures
 * Nothing is logged.
 */
#ifndef MTPROTO_HANDSHAKE_H
#define MTPROTO_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/crypto.h>
#include <mtproto/envelope.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)   /* the public API (-fvisibility=hidden) */

/* Phase of an exchange (both roles). */
typedef enum mtp_hs_state {
    MTP_HS_IDLE = 0,   /* nothing sent / received yet */
    MTP_HS_PQ,         /* client: req_pq_multi sent, waiting for resPQ */
    MTP_HS_DH_REQ,     /* client: req_DH_params sent; server: resPQ sent */
    MTP_HS_DH_SET,     /* client: set_client_DH_params sent; server: server_DH_params_ok sent */
    MTP_HS_DONE,       /* the key exists (mtp_hs_*_result) */
    MTP_HS_FAILED      /* a check failed; see mtp_hs_*_error(); secrets wiped */
} mtp_hs_state_t;

/* What an exchange produced. */
typedef struct mtp_hs_result {
    mtp_auth_key_t key;         /* auth_key, auth_key_id, aux hash */
    int64_t server_salt;        /* new_nonce[0:8] XOR server_nonce[0:8], as LE int64 */
    mtp_usec_t time_offset;     /* client: server_time - local now at step 6 (µs); server: 0 */
    int32_t dc_id;              /* the dc of p_q_inner_data_*dc (0 for the legacy forms) */
    bool temp;                  /* temporary (PFS) key */
    int32_t expires_in;         /* temp: seconds of validity requested */
    int32_t expires_at;         /* temp: server unix time of expiry (server clock); else 0 */
    int retries;                /* dh_gen_retry rounds it took */
    int64_t rsa_fingerprint;    /* the RSA key the client encrypted to (TL fingerprint) */
} mtp_hs_result_t;

/* Wipe a result (it holds the key). */
void mtp_hs_result_wipe(mtp_hs_result_t *r);

/* ===================================================================================== */
/* Client                                                                                 */
/* ===================================================================================== */

/* Config flags */
#define MTP_HS_LEGACY_INNER 0x1u   /* send p_q_inner_data / p_q_inner_data_temp (no dc) */

typedef struct mtp_hs_client_config {
    /* The RSA public keys we trust (borrowed: must outlive the handshake). The first
     * fingerprint of resPQ that matches one of them is used. All must be 2048-bit. */
    const mtp_rsa_key_t *const *rsa_keys;
    size_t n_rsa_keys;
    int32_t dc_id;              /* sent in p_q_inner_data_dc: +10000 test DCs, negative media */
    int32_t expires_in;         /* > 0: create a temporary key valid this many seconds */
    unsigned flags;             /* MTP_HS_* */
    int max_retries;            /* dh_gen_retry rounds accepted; 0 = default (5) */
    mtp_usec_t timeout;         /* per request, for mtp_hs_client_deadline; 0 = 10 s */
    mtp_usec_t time_offset;     /* initial server - local clock offset for msg_ids (µs) */
    const mtp_rng_t *rng;       /* NULL = CSPRNG; borrowed */
} mtp_hs_client_config_t;

typedef struct mtp_hs_client mtp_hs_client_t;   /* opaque */

/* MTP_EINVAL for a bad config (no keys, negative expires_in), MTP_ENOMEM. The config is
 * copied (the arrays it points to are borrowed). */
int  mtp_hs_client_new(const mtp_hs_client_config_t *cfg, mtp_hs_client_t **out);
void mtp_hs_client_free(mtp_hs_client_t *c);    /* wipes; NULL is fine */

/*
 * Step 1: append the req_pq_multi packet to out. Randomness: nonce (16 bytes).
 * MTP_ESTATE unless the state is MTP_HS_IDLE.
 */
int  mtp_hs_client_start(mtp_hs_client_t *c, mtp_usec_t now, mtp_buf_t *out);

/*
 * Feed one packet from the server. On success either the next request was appended to
 * out (state DH_REQ or DH_SET) or the exchange is complete (state DONE, nothing appended).
 * Randomness, in order:
 *   on resPQ:               new_nonce (32), then mtp_rsa_pad_encrypt's draws: 224 bytes
 *                           R (padding = R[0:192-len(p_q_inner_data)], temp_key =
 *                           R[192:224]), +32 per temp_key retry (key_aes_encrypted >= n)
 *   on server_DH_params_ok: b (256; redrawn while g_b is outside the safe window), then
 *   and on dh_gen_retry     (16 - (20 + len(client_DH_inner_data)) % 16) % 16 padding bytes
 * server_DH_params_fail / dh_gen_fail with a correct hash: MTP_EPROTO (start over on a new
 * connection); with a wrong hash: MTP_ESECURITY. Any error leaves the state FAILED and
 * nothing appended to out.
 */
int  mtp_hs_client_feed(mtp_hs_client_t *c, mtp_usec_t now, const uint8_t *pkt, size_t len,
                        mtp_buf_t *out);

/* Append the last request again (identical body, fresh msg_id) — after a timeout, on a
 * connection the server still knows. MTP_ESTATE if nothing is pending. */
int  mtp_hs_client_resend(mtp_hs_client_t *c, mtp_usec_t now, mtp_buf_t *out);

/* When the pending request should be considered lost (last send + timeout); MTP_TIME_NEVER
 * when nothing is pending. What to do then (resend or restart) is the caller's policy. */
mtp_usec_t mtp_hs_client_deadline(const mtp_hs_client_t *c);

mtp_hs_state_t mtp_hs_client_state(const mtp_hs_client_t *c);
/* The error that failed the exchange (0 if not failed). */
int  mtp_hs_client_error(const mtp_hs_client_t *c);
/* Copy the result out: MTP_ESTATE unless DONE. The caller should wipe it when done. */
int  mtp_hs_client_result(const mtp_hs_client_t *c, mtp_hs_result_t *out);

/* ===================================================================================== */
/* Server (the test harness)                                                              */
/* ===================================================================================== */

/* The server role uses Telegram's 2048-bit DH prime (mtp_dh_known_prime() in crypto.h)
 * with g = 3, as the real servers do. */
#define MTP_HS_DH_G 3

typedef struct mtp_hs_server_config {
    /* Our RSA private keys (borrowed), all 2048-bit; their fingerprints are advertised in
     * resPQ, after extra_fingerprints (keys we pretend to have, e.g. to test that a
     * client picks the first one it knows). */
    const mtp_rsa_key_t *const *rsa_keys;
    size_t n_rsa_keys;
    const int64_t *extra_fingerprints;
    size_t n_extra_fingerprints;
    /* 0: accept any dc in p_q_inner_data_*dc. Else |dc| must equal |dc_id| (media DCs are
     * negative), otherwise the exchange is rejected with transport error -444. */
    int32_t dc_id;
    /* Does an auth key with this id exist already? If so the client gets dh_gen_retry.
     * NULL = never. */
    bool (*key_exists)(void *ctx, int64_t auth_key_id);
    void *key_exists_ctx;
    int max_retries;            /* dh_gen_retry rounds before dh_gen_fail; 0 = default (5) */
    mtp_usec_t replay_window;   /* cached answers replayed this long after step 1; 0 = 10 min */
    const mtp_rng_t *rng;       /* NULL = CSPRNG; borrowed */
} mtp_hs_server_config_t;

typedef struct mtp_hs_server mtp_hs_server_t;   /* opaque; one per connection */

typedef enum mtp_hs_event {
    MTP_HS_EV_NONE = 0,   /* nothing to send */
    MTP_HS_EV_SEND,       /* send the packet appended to out */
    MTP_HS_EV_KEY,        /* send out (dh_gen_ok) and store the new key: mtp_hs_server_result */
    MTP_HS_EV_REJECT      /* send transport error mtp_hs_server_transport_error() (-404 or
                             -444) and treat the connection as poisoned */
} mtp_hs_event_t;

int  mtp_hs_server_new(const mtp_hs_server_config_t *cfg, mtp_hs_server_t **out);
void mtp_hs_server_free(mtp_hs_server_t *s);    /* wipes; NULL is fine */

/*
 * Feed one unencrypted packet from the client. Accepts req_pq / req_pq_multi (which also
 * start a new exchange after DONE or instead of an unfinished one), req_DH_params with any
 * of p_q_inner_data, _dc, _temp, _temp_dc inside, and set_client_DH_params. A packet
 * identical to an earlier request of the current exchange (within the replay window
 * counted from step 1) gets the cached answer again (fresh msg_id), without re-processing.
 *
 * Returns 0 with *ev = NONE/SEND/KEY, or a negative MTP_E* code (the reason) with
 * *ev = MTP_HS_EV_REJECT; from then on every packet is rejected (MTP_ESTATE, -404).
 * Randomness, in order:
 *   req_pq(_multi):        server_nonce (16), then mtp_pq_generate()'s draws
 *   req_DH_params:         a (256, redrawn while g_a is outside the window), then
 *                          (16 - (20 + len(server_DH_inner_data)) % 16) % 16 padding bytes
 *   set_client_DH_params:  none
 */
int  mtp_hs_server_feed(mtp_hs_server_t *s, mtp_usec_t now, const uint8_t *pkt, size_t len,
                        mtp_buf_t *out, mtp_hs_event_t *ev);

mtp_hs_state_t mtp_hs_server_state(const mtp_hs_server_t *s);
int  mtp_hs_server_error(const mtp_hs_server_t *s);
/* -404 or -444 after a rejection, else 0. */
int32_t mtp_hs_server_transport_error(const mtp_hs_server_t *s);
/* The key of the last completed exchange: MTP_ESTATE if none. */
int  mtp_hs_server_result(const mtp_hs_server_t *s, mtp_hs_result_t *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif /* MTPROTO_HANDSHAKE_H */
