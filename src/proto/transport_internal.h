/*
 * libmtproto — internals of the transport codecs (src/proto/transport.c, obfs.c).
 * Not installed. Exposed to the tests for the known-answer vectors.
 */
#ifndef MTP_TRANSPORT_INTERNAL_H
#define MTP_TRANSPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <mtproto/transport.h>
#include "util/util.h"

/* Inner protocol tags as carried at init[56..59] (byte patterns, read LE). */
#define MTP_OBFS2_TAG_ABRIDGED     0xefefefefu
#define MTP_OBFS2_TAG_INTERMEDIATE 0xeeeeeeeeu
#define MTP_OBFS2_TAG_PADDED       0xddddddddu

/* Maximum number of 64-byte draws before giving up on finding an allowed init. */
#define MTP_OBFS2_MAX_DRAWS 1024

/* 1 if a 64-byte init must be re-drawn (PROTOCOL.md §2.7 step 1), else 0. */
int mtp_obfs2_forbidden_(const uint8_t init[64]);

/* 1 if the first 4 bytes are one of the forbidden first words (HTTP verbs, TLS record,
 * dd/ee tags). Used by the server detector to reject early. */
int mtp_obfs2_forbidden_word_(const uint8_t p[4]);

/*
 * Key derivation from an init (the client's view): encrypt = init[8:40] / init[40:56],
 * decrypt = reverse(init[8:56]) split 32/16; with secret16 != NULL each key becomes
 * SHA256(key + secret16). Returns 0 or MTP_ECRYPTO.
 */
int mtp_obfs2_derive_(const uint8_t init[64], const uint8_t *secret16,
                      uint8_t enc_key[32], uint8_t enc_iv[16],
                      uint8_t dec_key[32], uint8_t dec_iv[16]);

/*
 * Client: draw the init from rng (re-drawing forbidden ones), put the tag at 56 and,
 * when dc != 0, int16 LE dc at 60; derive the keys, set up both streams (enc has
 * consumed the 64 init bytes) and write the 64 bytes to send into header.
 * On failure nothing needs freeing.
 */
int mtp_obfs2_client_setup_(const mtp_rng_t *rng, uint32_t tag, int dc,
                            const uint8_t *secret16, mtp_aes_ctr_t *enc,
                            mtp_aes_ctr_t *dec, uint8_t header[64]);

/*
 * Server: from the 64 bytes received, derive the keys with the roles swapped (dec =
 * client's encrypt stream, which has then consumed 64 bytes; enc = client's decrypt
 * stream), decrypt the init and return the tag and the int16 at 60. Returns
 * MTP_ETRANSPORT (tag not one of the three; nothing to free), MTP_ECRYPTO/ENOMEM.
 */
int mtp_obfs2_server_accept_(const uint8_t received[64], const uint8_t *secret16,
                             mtp_aes_ctr_t *enc, mtp_aes_ctr_t *dec,
                             uint32_t *tag, int *dc);

#endif
