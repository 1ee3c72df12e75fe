/*
 * libmtproto — obfuscated2 transport obfuscation and MTProxy secrets (PROTOCOL.md §2.7).
 *
 * Pure functions: the random init comes from the injected rng, the keys go into the
 * caller's AES-CTR objects. No I/O, no clock, no globals.
 */
#include <string.h>

#include <mtproto/crypto.h>
#include "proto/transport_internal.h"

int mtp_obfs2_forbidden_word_(const uint8_t p[4])
{
    switch (mtp_get_le32(p)) {
    case 0x44414548u: /* "HEAD" */
    case 0x54534f50u: /* "POST" */
    case 0x20544547u: /* "GET " */
    case 0x4954504fu: /* "OPTI" */
    case 0x02010316u: /* TLS handshake record 16 03 01 02 */
    case 0xddddddddu: /* padded intermediate tag */
    case 0xeeeeeeeeu: /* intermediate tag */
        return 1;
    default:
        return 0;
    }
}

int mtp_obfs2_forbidden_(const uint8_t init[64])
{
    if (init[0] == 0xef)
        return 1;
    if (mtp_obfs2_forbidden_word_(init))
        return 1;
    if (init[4] == 0 && init[5] == 0 && init[6] == 0 && init[7] == 0)
        return 1;
    return 0;
}

static int mix_secret(uint8_t key[32], const uint8_t *secret16)
{
    if (!secret16)
        return 0;
    mtp_bytes_t parts[2] = { MTP_BYTES(key, 32), MTP_BYTES(secret16, 16) };
    uint8_t out[32];
    int rc = mtp_sha256_v(parts, 2, out);
    if (rc == 0)
        memcpy(key, out, 32);
    mtp_secure_zero(out, sizeof out);
    return rc;
}

int mtp_obfs2_derive_(const uint8_t init[64], const uint8_t *secret16,
                      uint8_t enc_key[32], uint8_t enc_iv[16],
                      uint8_t dec_key[32], uint8_t dec_iv[16])
{
    uint8_t rev[48];
    for (size_t i = 0; i < 48; i++)
        rev[i] = init[55 - i];                 /* reverse(init[8:56]) */
    memcpy(enc_key, init + 8, 32);
    memcpy(enc_iv, init + 40, 16);
    memcpy(dec_key, rev, 32);
    memcpy(dec_iv, rev + 32, 16);
    mtp_secure_zero(rev, sizeof rev);
    int rc = mix_secret(enc_key, secret16);
    if (rc == 0)
        rc = mix_secret(dec_key, secret16);
    return rc;
}

/* Set up a pair of streams; on failure nothing stays allocated. */
static int setup_pair(mtp_aes_ctr_t *a, const uint8_t akey[32], const uint8_t aiv[16],
                      mtp_aes_ctr_t *b, const uint8_t bkey[32], const uint8_t biv[16])
{
    int rc = mtp_aes_ctr_init(a, akey, aiv);
    if (rc)
        return rc;
    rc = mtp_aes_ctr_init(b, bkey, biv);
    if (rc) {
        mtp_aes_ctr_free(a);
        return rc;
    }
    return 0;
}

int mtp_obfs2_client_setup_(const mtp_rng_t *rng, uint32_t tag, int dc,
                            const uint8_t *secret16, mtp_aes_ctr_t *enc,
                            mtp_aes_ctr_t *dec, uint8_t header[64])
{
    uint8_t init[64], ek[32], ei[16], dk[32], di[16];
    int rc, draws = 0;

    for (;;) {
        rc = mtp_rand(rng, init, sizeof init);
        if (rc)
            return rc;
        if (!mtp_obfs2_forbidden_(init))
            break;
        if (++draws >= MTP_OBFS2_MAX_DRAWS) {
            mtp_secure_zero(init, sizeof init);
            return MTP_ECRYPTO;     /* the source is not random */
        }
    }
    mtp_put_le32(init + 56, tag);
    if (dc != 0) {
        uint16_t d = (uint16_t)(int16_t)dc;
        init[60] = (uint8_t)d;
        init[61] = (uint8_t)(d >> 8);
    }
    rc = mtp_obfs2_derive_(init, secret16, ek, ei, dk, di);
    if (rc == 0)
        rc = setup_pair(enc, ek, ei, dec, dk, di);
    if (rc == 0) {
        uint8_t encrypted[64];
        rc = mtp_aes_ctr_apply(enc, init, encrypted, 64);
        if (rc == 0) {
            memcpy(header, init, 56);
            memcpy(header + 56, encrypted + 56, 8);
        } else {
            mtp_aes_ctr_free(enc);
            mtp_aes_ctr_free(dec);
        }
        mtp_secure_zero(encrypted, sizeof encrypted);
    }
    mtp_secure_zero(init, sizeof init);
    mtp_secure_zero(ek, sizeof ek);
    mtp_secure_zero(dk, sizeof dk);
    return rc;
}

int mtp_obfs2_server_accept_(const uint8_t received[64], const uint8_t *secret16,
                             mtp_aes_ctr_t *enc, mtp_aes_ctr_t *dec,
                             uint32_t *tag, int *dc)
{
    uint8_t ek[32], ei[16], dk[32], di[16], plain[64];
    /* The client's encrypt key decrypts what we receive; its decrypt key encrypts
     * what we send. */
    int rc = mtp_obfs2_derive_(received, secret16, dk, di, ek, ei);
    if (rc == 0)
        rc = setup_pair(enc, ek, ei, dec, dk, di);
    mtp_secure_zero(ek, sizeof ek);
    mtp_secure_zero(dk, sizeof dk);
    if (rc)
        return rc;
    rc = mtp_aes_ctr_apply(dec, received, plain, 64);
    if (rc == 0) {
        uint32_t tg = mtp_get_le32(plain + 56);
        if (tg != MTP_OBFS2_TAG_ABRIDGED && tg != MTP_OBFS2_TAG_INTERMEDIATE &&
            tg != MTP_OBFS2_TAG_PADDED) {
            rc = MTP_ETRANSPORT;
        } else {
            *tag = tg;
            *dc = (int)(int16_t)(uint16_t)(plain[60] | plain[61] << 8);
        }
    }
    mtp_secure_zero(plain, sizeof plain);
    if (rc) {
        mtp_aes_ctr_free(enc);
        mtp_aes_ctr_free(dec);
    }
    return rc;
}

/* ---------------- MTProxy secrets ---------------- */

int mtp_proxy_secret_parse(mtp_proxy_secret_t *s, const uint8_t *raw, size_t len)
{
    if (!s || (!raw && len))
        return MTP_EINVAL;
    memset(s, 0, sizeof *s);
    if (len == 16) {
        s->kind = MTP_PROXY_SECRET_PLAIN;
        memcpy(s->key, raw, 16);
        return 0;
    }
    if (len == 17 && raw[0] == 0xdd) {
        s->kind = MTP_PROXY_SECRET_PADDED;
        memcpy(s->key, raw + 1, 16);
        return 0;
    }
    if (len >= 18 && raw[0] == 0xee) {
        size_t dl = len - 17;
        if (dl > MTP_PROXY_SECRET_DOMAIN_MAX)
            return MTP_EINVAL;
        for (size_t i = 0; i < dl; i++)
            if (raw[17 + i] == 0)        /* the domain is text; keep domain a C string */
                return MTP_EINVAL;
        s->kind = MTP_PROXY_SECRET_FAKETLS;
        memcpy(s->key, raw + 1, 16);
        memcpy(s->domain, raw + 17, dl);
        s->domain[dl] = 0;
        s->domain_len = dl;
        return 0;
    }
    return MTP_EINVAL;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Max binary secret: 1 + 16 + 255. */
#define SECRET_BIN_MAX (17 + MTP_PROXY_SECRET_DOMAIN_MAX)

int mtp_proxy_secret_parse_text(mtp_proxy_secret_t *s, const char *text, size_t len)
{
    uint8_t bin[SECRET_BIN_MAX];
    size_t n = 0;

    if (!s || (!text && len))
        return MTP_EINVAL;
    memset(s, 0, sizeof *s);

    /* hex */
    if (len % 2 == 0 && len / 2 <= sizeof bin && mtp_hex_decode(text, len / 2, bin) == 0 &&
        mtp_proxy_secret_parse(s, bin, len / 2) == 0)
        return 0;

    /* base64 / base64url, '=' padding optional */
    size_t l = len;
    while (l > 0 && text[l - 1] == '=')
        l--;
    if (len - l > 2 || l % 4 == 1)
        return MTP_EINVAL;
    uint32_t acc = 0;
    int bits = 0;
    n = 0;
    for (size_t i = 0; i < l; i++) {
        int v = b64val((unsigned char)text[i]);
        if (v < 0)
            return MTP_EINVAL;
        acc = (acc << 6 | (uint32_t)v) & 0xffffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= sizeof bin)
                return MTP_EINVAL;
            bin[n++] = (uint8_t)(acc >> bits);
        }
    }
    /* leftover bits must be zero (canonical encoding) */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return MTP_EINVAL;
    return mtp_proxy_secret_parse(s, bin, n);
}
