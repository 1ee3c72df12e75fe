/*
 * libmtproto — the AES-256-CTR object's layout, for the code that embeds it by value
 * (the transport in src/proto keeps two, with no heap on AES-NI CPUs). Not installed:
 * the public API (include/mtproto/crypto.h) sees mtp_aes_ctr_t as opaque and goes
 * through mtp_aes_ctr_new() / mtp_aes_ctr_free().
 */
#ifndef MTP_AES_CTR_INT_H
#define MTP_AES_CTR_INT_H

#include <stdint.h>
#include <mtproto/crypto.h>

struct mtp_aes_ctr {
    uint8_t priv_rk[240];      /* expanded key (AES-NI path) */
    uint8_t priv_ctr[16];      /* next counter block, big-endian */
    uint8_t priv_ks[16];       /* keystream of the current partial block */
    unsigned priv_ks_used;     /* bytes of priv_ks already used (16 = none left) */
    int priv_impl;             /* 0 = not initialized, 1 = AES-NI, 2 = EVP */
    void *priv_evp;            /* EVP_CIPHER_CTX * (EVP path) */
};

/* In place, on caller storage: MTP_EINVAL, MTP_ENOMEM or MTP_ECRYPTO on failure (then
 * nothing needs clearing). Pair a success with mtp_aes_ctr_clear_(). */
int  mtp_aes_ctr_init_(mtp_aes_ctr_t *c, const uint8_t key[32], const uint8_t iv[16]);
/* Force the EVP path (tests): call instead of mtp_aes_ctr_init_. */
int  mtp_aes_ctr_init_evp_(mtp_aes_ctr_t *c, const uint8_t key[32], const uint8_t iv[16]);
/* Wipe the key schedule and release the EVP context; the storage stays the caller's.
 * Safe on a zero-filled or already cleared object. */
void mtp_aes_ctr_clear_(mtp_aes_ctr_t *c);

#endif
