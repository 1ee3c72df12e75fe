/*
 * libmtproto — MTProto key derivation, message keys, auth key hashes, packet encryption.
 */
#include <string.h>

#include "crypto/crypto_internal.h"

static inline int xoff(int x)
{
    return x ? 8 : 0;
}

/* ------------------------------------------------------------------------------------ */
/* KDFs                                                                                 */
/* ------------------------------------------------------------------------------------ */

void mtp_kdf2(const uint8_t auth_key[256], const uint8_t msg_key[16], int x,
              uint8_t aes_key[32], uint8_t aes_iv[32])
{
    uint8_t a[32], b[32];
    int o = xoff(x);
    mtp_bytes_t pa[2] = { MTP_BYTES(msg_key, 16), MTP_BYTES(auth_key + o, 36) };
    mtp_bytes_t pb[2] = { MTP_BYTES(auth_key + 40 + o, 36), MTP_BYTES(msg_key, 16) };
    /* Both inputs are 52 bytes: one block each, hashed together on SHA-NI. */
    if (!mtp_sha256_ni_pair2_(msg_key, 16, auth_key + o, 36, auth_key + 40 + o, 36, msg_key, 16,
                              a, b)) {
        mtp_sha256_v_must_(pa, 2, a);
        mtp_sha256_v_must_(pb, 2, b);
    }
    memcpy(aes_key, a, 8);
    memcpy(aes_key + 8, b + 8, 16);
    memcpy(aes_key + 24, a + 24, 8);
    memcpy(aes_iv, b, 8);
    memcpy(aes_iv + 8, a + 8, 16);
    memcpy(aes_iv + 24, b + 24, 8);
    mtp_secure_zero(a, sizeof a);
    mtp_secure_zero(b, sizeof b);
}

void mtp_kdf1(const uint8_t auth_key[256], const uint8_t msg_key[16], int x,
              uint8_t aes_key[32], uint8_t aes_iv[32])
{
    uint8_t sa[20], sb[20], sc[20], sd[20];
    int o = xoff(x);
    mtp_bytes_t pa[2] = { MTP_BYTES(msg_key, 16), MTP_BYTES(auth_key + o, 32) };
    mtp_bytes_t pb[3] = { MTP_BYTES(auth_key + 32 + o, 16), MTP_BYTES(msg_key, 16),
                          MTP_BYTES(auth_key + 48 + o, 16) };
    mtp_bytes_t pc[2] = { MTP_BYTES(auth_key + 64 + o, 32), MTP_BYTES(msg_key, 16) };
    mtp_bytes_t pd[2] = { MTP_BYTES(msg_key, 16), MTP_BYTES(auth_key + 96 + o, 32) };
    mtp_sha1_v_must_(pa, 2, sa);
    mtp_sha1_v_must_(pb, 3, sb);
    mtp_sha1_v_must_(pc, 2, sc);
    mtp_sha1_v_must_(pd, 2, sd);
    memcpy(aes_key, sa, 8);
    memcpy(aes_key + 8, sb + 8, 12);
    memcpy(aes_key + 20, sc + 4, 12);
    memcpy(aes_iv, sa + 8, 12);
    memcpy(aes_iv + 12, sb, 8);
    memcpy(aes_iv + 20, sc + 16, 4);
    memcpy(aes_iv + 24, sd, 8);
    mtp_secure_zero(sa, sizeof sa);
    mtp_secure_zero(sb, sizeof sb);
    mtp_secure_zero(sc, sizeof sc);
    mtp_secure_zero(sd, sizeof sd);
}

void mtp_msg_key2_large(const uint8_t auth_key[256], int x, const uint8_t *plain_with_padding,
                        size_t len, uint8_t msg_key_large[32])
{
    mtp_bytes_t p[2] = { MTP_BYTES(auth_key + 88 + xoff(x), 32), MTP_BYTES(plain_with_padding, len) };
    mtp_sha256_v_must_(p, 2, msg_key_large);
}

void mtp_msg_key2_large_x2(int x, const uint8_t auth_key_a[256], const uint8_t *plain_a,
                           size_t len_a, const uint8_t auth_key_b[256], const uint8_t *plain_b,
                           size_t len_b, uint8_t large_a[32], uint8_t large_b[32])
{
    if (mtp_sha256_ni_x2_pre32_(auth_key_a + 88 + xoff(x), plain_a, len_a,
                                auth_key_b + 88 + xoff(x), plain_b, len_b, large_a, large_b))
        return;
    mtp_msg_key2_large(auth_key_a, x, plain_a, len_a, large_a);
    mtp_msg_key2_large(auth_key_b, x, plain_b, len_b, large_b);
}

void mtp_msg_key2(const uint8_t auth_key[256], int x, const uint8_t *plain_with_padding,
                  size_t len, uint8_t msg_key[16])
{
    uint8_t large[32];
    mtp_msg_key2_large(auth_key, x, plain_with_padding, len, large);
    memcpy(msg_key, large + 8, 16);
    mtp_secure_zero(large, sizeof large);
}

void mtp_msg_key1(const uint8_t *plain, size_t len, uint8_t msg_key[16])
{
    uint8_t h[20];
    mtp_bytes_t p = MTP_BYTES(plain, len);
    mtp_sha1_v_must_(&p, 1, h);
    memcpy(msg_key, h + 4, 16);
    mtp_secure_zero(h, sizeof h);
}

/* ------------------------------------------------------------------------------------ */
/* Auth key hashes, handshake hashes                                                    */
/* ------------------------------------------------------------------------------------ */

void mtp_auth_key_id(const uint8_t auth_key[256], uint8_t id[8])
{
    uint8_t h[20];
    mtp_bytes_t p = MTP_BYTES(auth_key, 256);
    mtp_sha1_v_must_(&p, 1, h);
    memcpy(id, h + 12, 8);
}

int64_t mtp_auth_key_id64(const uint8_t auth_key[256])
{
    uint8_t id[8];
    mtp_auth_key_id(auth_key, id);
    return (int64_t)mtp_get_le64(id);
}

void mtp_auth_key_aux_hash(const uint8_t auth_key[256], uint8_t aux_hash[8])
{
    uint8_t h[20];
    mtp_bytes_t p = MTP_BYTES(auth_key, 256);
    mtp_sha1_v_must_(&p, 1, h);
    memcpy(aux_hash, h, 8);
    mtp_secure_zero(h, sizeof h);
}

int mtp_new_nonce_hash(const uint8_t new_nonce[32], int n, const uint8_t aux_hash[8],
                       uint8_t out[16])
{
    uint8_t h[20];
    uint8_t nb;
    if (n < 1 || n > 3 || !new_nonce || !aux_hash || !out)
        return MTP_EINVAL;
    nb = (uint8_t)n;
    mtp_bytes_t p[3] = { MTP_BYTES(new_nonce, 32), MTP_BYTES(&nb, 1), MTP_BYTES(aux_hash, 8) };
    mtp_sha1_v_must_(p, 3, h);
    memcpy(out, h + 4, 16);
    return 0;
}

void mtp_new_nonce_hash_fail(const uint8_t new_nonce[32], uint8_t out[16])
{
    uint8_t h[20];
    mtp_bytes_t p = MTP_BYTES(new_nonce, 32);
    mtp_sha1_v_must_(&p, 1, h);
    memcpy(out, h + 4, 16);
}

void mtp_tmp_aes_key_iv(const uint8_t new_nonce[32], const uint8_t server_nonce[16],
                        uint8_t tmp_aes_key[32], uint8_t tmp_aes_iv[32])
{
    uint8_t ns[20], sn[20], nn[20];
    mtp_bytes_t p1[2] = { MTP_BYTES(new_nonce, 32), MTP_BYTES(server_nonce, 16) };
    mtp_bytes_t p2[2] = { MTP_BYTES(server_nonce, 16), MTP_BYTES(new_nonce, 32) };
    mtp_bytes_t p3[2] = { MTP_BYTES(new_nonce, 32), MTP_BYTES(new_nonce, 32) };
    mtp_sha1_v_must_(p1, 2, ns);
    mtp_sha1_v_must_(p2, 2, sn);
    mtp_sha1_v_must_(p3, 2, nn);
    memcpy(tmp_aes_key, ns, 20);
    memcpy(tmp_aes_key + 20, sn, 12);
    memcpy(tmp_aes_iv, sn + 12, 8);
    memcpy(tmp_aes_iv + 8, nn, 20);
    memcpy(tmp_aes_iv + 28, new_nonce, 4);
    mtp_secure_zero(ns, sizeof ns);
    mtp_secure_zero(sn, sizeof sn);
    mtp_secure_zero(nn, sizeof nn);
}

void mtp_initial_server_salt(const uint8_t new_nonce[32], const uint8_t server_nonce[16],
                             uint8_t salt[8])
{
    for (int i = 0; i < 8; i++)
        salt[i] = (uint8_t)(new_nonce[i] ^ server_nonce[i]);
}

/* ------------------------------------------------------------------------------------ */
/* Packets                                                                              */
/* ------------------------------------------------------------------------------------ */

int mtp_mtproto2_encrypt(const uint8_t auth_key[256], int x, const uint8_t *plain,
                         size_t len, uint8_t *out)
{
    uint8_t key[32], iv[32];
    int rc;
    if (!auth_key || !plain || !out || len == 0 || len % 16 != 0)
        return MTP_EINVAL;
    mtp_auth_key_id(auth_key, out);
    mtp_msg_key2(auth_key, x, plain, len, out + 8);
    mtp_kdf2(auth_key, out + 8, x, key, iv);
    rc = mtp_aes256_ige_encrypt(key, iv, plain, out + 24, len);
    mtp_secure_zero(key, sizeof key);
    mtp_secure_zero(iv, sizeof iv);
    if (rc)
        mtp_secure_zero(out, len + 24);
    return rc;
}

int mtp_mtproto2_decrypt(const uint8_t auth_key[256], int x, const uint8_t *in,
                         size_t in_len, uint8_t *plain)
{
    uint8_t key[32], iv[32], id[8], large[32];
    int rc, ok;
    if (!auth_key || !in || !plain || in_len < 24 + 16 || (in_len - 24) % 16 != 0)
        return MTP_EINVAL;
    mtp_auth_key_id(auth_key, id);
    mtp_kdf2(auth_key, in + 8, x, key, iv);
    /* Decrypt and compute msg_key_large = SHA256(auth_key[88+x:120+x] + plaintext) in one
     * pass; the msg_key is always computed, whatever the ids say (no early exit). */
    rc = mtp_aes256_ige_decrypt_sha256(key, iv, auth_key + 88 + xoff(x), 32, in + 24, plain,
                                       in_len - 24, large);
    mtp_secure_zero(key, sizeof key);
    mtp_secure_zero(iv, sizeof iv);
    if (rc) {
        mtp_secure_zero(plain, in_len - 24);
        return rc;
    }
    ok = mtp_ct_memeq(large + 8, in + 8, 16) & mtp_ct_memeq(id, in, 8);
    mtp_secure_zero(large, sizeof large);
    if (!ok) {
        mtp_secure_zero(plain, in_len - 24);
        return MTP_ESECURITY;
    }
    return 0;
}

int mtp_mtproto1_encrypt(const uint8_t auth_key[256], int x, const uint8_t *plain, size_t len,
                         const mtp_rng_t *rng, uint8_t *out, size_t *out_len)
{
    uint8_t key[32], iv[32];
    size_t padded, pad;
    int rc;
    if (!auth_key || !plain || !out || !out_len || len == 0 || len > SIZE_MAX - 64)
        return MTP_EINVAL;
    pad = (16 - len % 16) % 16;
    padded = len + pad;
    mtp_auth_key_id(auth_key, out);
    mtp_msg_key1(plain, len, out + 8);
    memmove(out + 24, plain, len);
    rc = mtp_rand(rng, out + 24 + len, pad);
    if (rc) {
        mtp_secure_zero(out, padded + 24);
        return rc;
    }
    mtp_kdf1(auth_key, out + 8, x, key, iv);
    rc = mtp_aes256_ige_encrypt(key, iv, out + 24, out + 24, padded);
    mtp_secure_zero(key, sizeof key);
    mtp_secure_zero(iv, sizeof iv);
    if (rc) {
        mtp_secure_zero(out, padded + 24);
        return rc;
    }
    *out_len = padded + 24;
    return 0;
}

int mtp_mtproto1_decrypt(const uint8_t auth_key[256], int x, const uint8_t *in, size_t in_len,
                         uint8_t *plain, size_t *plain_len)
{
    uint8_t key[32], iv[32], id[8], mk[16];
    size_t total, unpadded = 0;
    uint32_t dlen;
    int rc, ok;
    if (!auth_key || !in || !plain || !plain_len || in_len < 24 + 32 || (in_len - 24) % 16 != 0)
        return MTP_EINVAL;
    total = in_len - 24;
    mtp_auth_key_id(auth_key, id);
    mtp_kdf1(auth_key, in + 8, x, key, iv);
    rc = mtp_aes256_ige_decrypt(key, iv, in + 24, plain, total);
    mtp_secure_zero(key, sizeof key);
    mtp_secure_zero(iv, sizeof iv);
    if (rc) {
        mtp_secure_zero(plain, total);
        return rc;
    }
    dlen = mtp_get_le32(plain + 28);
    ok = 1;
    if (dlen > total - 32 || dlen % 4 != 0 || total - 32 - dlen > 15)
        ok = 0;
    else
        unpadded = 32 + (size_t)dlen;
    /* msg_key over the claimed length (or the whole buffer when the length is bad, so the
     * work done does not depend on which check failed). */
    mtp_msg_key1(plain, ok ? unpadded : total, mk);
    ok &= mtp_ct_memeq(mk, in + 8, 16) & mtp_ct_memeq(id, in, 8);
    if (!ok) {
        mtp_secure_zero(plain, total);
        return MTP_ESECURITY;
    }
    *plain_len = unpadded;
    return 0;
}
