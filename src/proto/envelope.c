/*
 * libmtproto — message envelope: unencrypted messages, MTProto 2.0 encryption and the
 * checks on received packets, MTProto 1.0 for the bindTempAuthKey inner message.
 * Sans-IO: no clock, no globals, no allocation (output goes to caller buffers).
 */
#include <mtproto/envelope.h>

#include <string.h>

#include "util/util.h"

#define ID_BIND_AUTH_KEY_INNER 0x75a3f765u   /* bind_auth_key_inner (tl/mtproto.tl) */
#define BIND_INNER_LEN 40                    /* id + 4 longs + int */
#define BIND_PLAIN_LEN (MTP_ENC_INNER_LEN + BIND_INNER_LEN)

/* x of the *sender*: clients send with 0, servers with 8. */
static int x_send(mtp_role_t self)
{
    return self == MTP_ROLE_SERVER ? 8 : 0;
}

static int x_recv(mtp_role_t self)
{
    return self == MTP_ROLE_SERVER ? 0 : 8;
}

/* ---------------------------------------------------------------------------------- */
/* auth keys                                                                          */
/* ---------------------------------------------------------------------------------- */

int mtp_auth_key_init(mtp_auth_key_t *k, const uint8_t key[MTP_AUTH_KEY_LEN])
{
    if (!k || !key)
        return MTP_EINVAL;
    uint8_t h[MTP_SHA1_LEN];
    int rc = mtp_sha1(key, MTP_AUTH_KEY_LEN, h);
    if (rc)
        return rc;
    if (k->key != key)
        memmove(k->key, key, MTP_AUTH_KEY_LEN);
    memcpy(k->id, h + 12, 8);
    k->id64 = (int64_t)mtp_get_le64(h + 12);
    memcpy(k->aux_hash, h, 8);
    mtp_secure_zero(h, sizeof h);
    return 0;
}

void mtp_auth_key_wipe(mtp_auth_key_t *k)
{
    if (k)
        mtp_secure_zero(k, sizeof *k);
}

/* ---------------------------------------------------------------------------------- */
/* unencrypted messages                                                               */
/* ---------------------------------------------------------------------------------- */

int mtp_plain_pack(int64_t msg_id, const uint8_t *body, size_t len, mtp_buf_t *out)
{
    if (!out || (!body && len) || len % 4 || len > 0x7fffffffu)
        return MTP_EINVAL;
    int rc = mtp_buf_reserve(out, MTP_PLAIN_HDR_LEN + len);
    if (rc)
        return rc;
    uint8_t *p = out->data + out->len;
    memset(p, 0, 8);
    mtp_put_le64(p + 8, (uint64_t)msg_id);
    mtp_put_le32(p + 16, (uint32_t)len);
    if (len)
        memcpy(p + MTP_PLAIN_HDR_LEN, body, len);
    out->len += MTP_PLAIN_HDR_LEN + len;
    return 0;
}

int mtp_plain_unpack(const uint8_t *pkt, size_t len, int64_t *msg_id, mtp_bytes_t *body)
{
    if ((!pkt && len) || !msg_id || !body)
        return MTP_EINVAL;
    *msg_id = 0;
    body->ptr = NULL;
    body->len = 0;
    if (len < MTP_PLAIN_HDR_LEN)
        return MTP_ETRUNC;
    if (mtp_get_le64(pkt) != 0)
        return MTP_EPROTO;
    uint32_t n = mtp_get_le32(pkt + 16);
    if ((size_t)n != len - MTP_PLAIN_HDR_LEN || n % 4)
        return MTP_EPROTO;
    *msg_id = (int64_t)mtp_get_le64(pkt + 8);
    body->ptr = pkt + MTP_PLAIN_HDR_LEN;
    body->len = n;
    return 0;
}

int mtp_envelope_key_id(const uint8_t *pkt, size_t len, int64_t *auth_key_id)
{
    if (!pkt || !auth_key_id)
        return MTP_EINVAL;
    if (len < 8)
        return MTP_ETRUNC;
    *auth_key_id = (int64_t)mtp_get_le64(pkt);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* MTProto 2.0                                                                        */
/* ---------------------------------------------------------------------------------- */

int mtp_envelope_seal_many(mtp_role_t self, mtp_seal_job_t *jobs, size_t n)
{
    if (n && !jobs)
        return MTP_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].key || !jobs[i].buf || jobs[i].plain_len == 0 || jobs[i].plain_len % 16)
            return MTP_EINVAL;
    int x = x_send(self);
    enum { G = 4 };
    uint8_t aes[G][64];        /* key (32) + iv (32) per packet of the group */
    mtp_ige_job_t ige[G];
    size_t used = 0;
    int rc = 0;
    for (size_t g = 0; g < n && !rc; g += G) {
        size_t m = n - g < G ? n - g : G;
        mtp_seal_job_t *J = jobs + g;
        /* msg_key_large = SHA256(auth_key[88+x:120+x] + plaintext), two streams at a time */
        size_t i = 0;
        for (; i + 1 < m; i += 2)
            mtp_msg_key2_large_x2(x, J[i].key->key, J[i].buf + MTP_ENC_OUTER_LEN,
                                  J[i].plain_len, J[i + 1].key->key,
                                  J[i + 1].buf + MTP_ENC_OUTER_LEN, J[i + 1].plain_len,
                                  J[i].msg_key_large, J[i + 1].msg_key_large);
        if (i < m)
            mtp_msg_key2_large(J[i].key->key, x, J[i].buf + MTP_ENC_OUTER_LEN, J[i].plain_len,
                               J[i].msg_key_large);
        for (i = 0; i < m; i++) {
            mtp_kdf2(J[i].key->key, J[i].msg_key_large + 8, x, aes[i], aes[i] + 32);
            ige[i] = (mtp_ige_job_t){ aes[i], aes[i] + 32, J[i].buf + MTP_ENC_OUTER_LEN,
                                      J[i].buf + MTP_ENC_OUTER_LEN, J[i].plain_len };
        }
        rc = m == 1 ? mtp_aes256_ige_encrypt(aes[0], aes[0] + 32, ige[0].in, ige[0].out, ige[0].len)
                    : mtp_aes256_ige_encrypt_many(ige, m);
        used = m > used ? m : used;
        for (i = 0; i < m && !rc; i++) {
            memcpy(J[i].buf, J[i].key->id, 8);
            memcpy(J[i].buf + 8, J[i].msg_key_large + 8, 16);
        }
    }
    mtp_secure_zero(aes, used * sizeof aes[0]);
    if (rc)
        for (size_t i = 0; i < n; i++)
            mtp_secure_zero(jobs[i].buf + MTP_ENC_OUTER_LEN, jobs[i].plain_len);
    return rc;
}

int mtp_envelope_seal(const mtp_auth_key_t *key, mtp_role_t self, uint8_t *buf,
                      size_t plain_len, uint8_t msg_key_large[32])
{
    mtp_seal_job_t job = { .key = key, .buf = buf, .plain_len = plain_len };
    int rc = mtp_envelope_seal_many(self, &job, 1);
    if (!rc && msg_key_large)
        memcpy(msg_key_large, job.msg_key_large, sizeof job.msg_key_large);
    mtp_secure_zero(job.msg_key_large, sizeof job.msg_key_large);
    return rc;
}

int mtp_envelope_plan(size_t len, const mtp_rng_t *rng, size_t *pkt_len)
{
    if (!pkt_len || len % 4 || len > MTP_ENC_BODY_MAX)
        return MTP_EINVAL;
    /* Padding randomness: with rng == NULL from the per-thread padding pool (cheap); with
     * an injected rng exactly mtp_rand(rng, ...) in the documented order. */
    uint8_t extra;
    int rc = mtp_rand_padding(rng, &extra, 1);
    if (rc)
        return rc;
    *pkt_len = MTP_ENC_OUTER_LEN + MTP_ENC_INNER_LEN + len + mtp_envelope_pad_len(len, extra);
    return 0;
}

int mtp_envelope_fill(uint8_t *pkt, size_t pkt_len, int64_t salt, int64_t session_id,
                      int64_t msg_id, int32_t seq_no, const uint8_t *body, size_t len,
                      const mtp_rng_t *rng)
{
    if (!pkt || (!body && len) || len % 4 ||
        pkt_len < MTP_ENC_OUTER_LEN + MTP_ENC_INNER_LEN + len + MTP_ENC_PAD_MIN ||
        (pkt_len - MTP_ENC_OUTER_LEN) % 16 ||
        pkt_len - MTP_ENC_OUTER_LEN - MTP_ENC_INNER_LEN - len > MTP_ENC_PAD_MAX)
        return MTP_EINVAL;
    uint8_t *h = pkt + MTP_ENC_OUTER_LEN;
    size_t pad = pkt_len - MTP_ENC_OUTER_LEN - MTP_ENC_INNER_LEN - len;
    mtp_put_le64(h, (uint64_t)salt);
    mtp_put_le64(h + 8, (uint64_t)session_id);
    mtp_put_le64(h + 16, (uint64_t)msg_id);
    mtp_put_le32(h + 24, (uint32_t)seq_no);
    mtp_put_le32(h + 28, (uint32_t)len);
    if (len)
        memcpy(h + MTP_ENC_INNER_LEN, body, len);
    int rc = mtp_rand_padding(rng, h + MTP_ENC_INNER_LEN + len, pad);
    if (rc)
        mtp_secure_zero(h, pkt_len - MTP_ENC_OUTER_LEN);
    return rc;
}

int mtp_envelope_encrypt(const mtp_auth_key_t *key, mtp_role_t self,
                         int64_t salt, int64_t session_id, int64_t msg_id, int32_t seq_no,
                         const uint8_t *body, size_t len, const mtp_rng_t *rng,
                         mtp_buf_t *out, uint32_t *quick_ack)
{
    if (!key || !out || (!body && len) || len % 4 || len > MTP_ENC_BODY_MAX)
        return MTP_EINVAL;
    size_t n;
    int rc = mtp_envelope_plan(len, rng, &n);
    if (rc)
        return rc;
    rc = mtp_buf_reserve(out, n);
    if (rc)
        return rc;
    uint8_t *p = out->data + out->len;
    rc = mtp_envelope_fill(p, n, salt, session_id, msg_id, seq_no, body, len, rng);
    if (!rc) {
        uint8_t large[32];
        rc = mtp_envelope_seal(key, self, p, n - MTP_ENC_OUTER_LEN, large);
        if (!rc && quick_ack)
            *quick_ack = mtp_quick_ack_token(large);
    }
    if (rc) {
        mtp_secure_zero(p, n);
        return rc;
    }
    out->len += n;
    return 0;
}

/*
 * The checks of §3.5, shared by both decrypt forms. `in` is the ciphertext (len - 24
 * bytes), plain the output (may equal in).
 */
/* Checks 5.. of §3.5 once the plaintext and msg_key_large are known; fills msg. bad: the
 * earlier checks' verdict (all evaluated whatever it is). */
static int open_finish(unsigned bad, const uint8_t *pkt, uint8_t *plain, size_t n,
                       uint8_t large[MTP_SHA256_LEN], mtp_envelope_msg_t *msg)
{
    bad |= !mtp_ct_memeq(large + 8, pkt + 8, 16);

    /* 5. lengths (evaluated without early exits) */
    uint32_t mdl = mtp_get_le32(plain + 28);
    size_t room = n - MTP_ENC_INNER_LEN;            /* n >= 48, so >= 16 */
    unsigned len_bad = (mdl & 0x80000003u) != 0;     /* negative or not % 4 */
    len_bad |= (size_t)mdl > room;
    size_t pad = room - ((size_t)mdl > room ? room : (size_t)mdl);
    len_bad |= pad < MTP_ENC_PAD_MIN;
    len_bad |= pad > MTP_ENC_PAD_MAX;
    bad |= len_bad;

    if (bad) {
        mtp_secure_zero(plain, n);
        mtp_secure_zero(large, MTP_SHA256_LEN);
        return MTP_ESECURITY;
    }
    msg->salt = (int64_t)mtp_get_le64(plain);
    msg->session_id = (int64_t)mtp_get_le64(plain + 8);
    msg->msg_id = (int64_t)mtp_get_le64(plain + 16);
    msg->seq_no = (int32_t)mtp_get_le32(plain + 24);
    msg->body.ptr = plain + MTP_ENC_INNER_LEN;
    msg->body.len = mdl;
    msg->padding_len = pad;
    msg->quick_ack = mtp_quick_ack_token(large);
    memcpy(msg->msg_key, pkt + 8, 16);
    mtp_secure_zero(large, MTP_SHA256_LEN);
    return 0;
}

int mtp_envelope_decrypt_many(mtp_role_t self, mtp_open_job_t *jobs, size_t n)
{
    if (n && !jobs)
        return MTP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const mtp_open_job_t *j = &jobs[i];
        if (!j->key || !j->pkt || !j->plain)
            return MTP_EINVAL;
        if (j->len > MTP_ENC_OUTER_LEN && j->plain != j->pkt + MTP_ENC_OUTER_LEN &&
            j->plain < j->pkt + j->len && j->pkt < j->plain + (j->len - MTP_ENC_OUTER_LEN))
            return MTP_EINVAL;   /* overlap other than exactly in place */
    }
    int x = x_recv(self);
    enum { G = 4 };
    uint8_t aes[G][64], large[G][MTP_SHA256_LEN];
    mtp_ige_job_t ige[G];
    mtp_open_job_t *grp[G];
    unsigned bad[G];
    size_t i = 0;
    while (i < n) {
        /* The checks of §3.5, every one evaluated whatever the others say: 1. size (whole
         * blocks, else nothing to decrypt: fails at once), 2. auth_key_id, then 3. decrypt
         * and 4. msg_key_large = SHA256(auth_key[88+x:120+x] + all that was decrypted)
         * compared in constant time, 5. lengths and padding (open_finish). Up to G packets
         * at a time. */
        size_t m = 0;
        for (; i < n && m < G; i++) {
            mtp_open_job_t *j = &jobs[i];
            memset(&j->msg, 0, sizeof j->msg);
            if (j->len < MTP_ENC_MIN_LEN || (j->len - MTP_ENC_OUTER_LEN) % 16) {
                j->rc = MTP_ESECURITY;
                continue;
            }
            bad[m] = memcmp(j->pkt, j->key->id, 8) != 0;
            mtp_kdf2(j->key->key, j->pkt + 8, x, aes[m], aes[m] + 32);
            ige[m] = (mtp_ige_job_t){ aes[m], aes[m] + 32, j->pkt + MTP_ENC_OUTER_LEN, j->plain,
                                      j->len - MTP_ENC_OUTER_LEN };
            grp[m++] = j;
        }
        if (!m)
            continue;
        if (m == 1) {   /* alone: the hash rides along with the decryption */
            mtp_open_job_t *j = grp[0];
            if (mtp_aes256_ige_decrypt_sha256(aes[0], aes[0] + 32, j->key->key + 88 + x, 32,
                                              j->pkt + MTP_ENC_OUTER_LEN, j->plain, ige[0].len,
                                              large[0]))
                bad[0] = 1;
        } else {
            /* IGE chains side by side, then the msg_key hashes two at a time */
            if (mtp_aes256_ige_decrypt_many(ige, m))
                for (size_t k = 0; k < m; k++)
                    bad[k] = 1;
            size_t k = 0;
            for (; k + 1 < m; k += 2)
                mtp_msg_key2_large_x2(x, grp[k]->key->key, grp[k]->plain, ige[k].len,
                                      grp[k + 1]->key->key, grp[k + 1]->plain, ige[k + 1].len,
                                      large[k], large[k + 1]);
            if (k < m)
                mtp_msg_key2_large(grp[k]->key->key, x, grp[k]->plain, ige[k].len, large[k]);
        }
        for (size_t k = 0; k < m; k++)
            grp[k]->rc = open_finish(bad[k], grp[k]->pkt, grp[k]->plain, ige[k].len, large[k],
                                     &grp[k]->msg);
    }
    mtp_secure_zero(aes, sizeof aes);
    mtp_secure_zero(large, sizeof large);
    return 0;
}

/* One packet: decrypt_many on a single job (the fused IGE-decrypt + SHA-256 pass). */
static int open_one(const mtp_auth_key_t *key, mtp_role_t self, const uint8_t *pkt,
                    size_t len, uint8_t *plain, mtp_envelope_msg_t *msg)
{
    mtp_open_job_t job = { .key = key, .pkt = pkt, .len = len, .plain = plain };
    int rc = mtp_envelope_decrypt_many(self, &job, 1);
    if (rc)
        return rc;
    *msg = job.msg;
    return job.rc;
}

int mtp_envelope_decrypt(const mtp_auth_key_t *key, mtp_role_t self, uint8_t *pkt, size_t len,
                         mtp_envelope_msg_t *msg)
{
    if (!key || !pkt || !msg)
        return MTP_EINVAL;
    return open_one(key, self, pkt, len, pkt + MTP_ENC_OUTER_LEN, msg);
}

int mtp_envelope_decrypt_to(const mtp_auth_key_t *key, mtp_role_t self, const uint8_t *pkt,
                            size_t len, uint8_t *plain, mtp_envelope_msg_t *msg)
{
    if (!key || !pkt || !plain || !msg)
        return MTP_EINVAL;
    if (len > MTP_ENC_OUTER_LEN && plain < pkt + len && pkt < plain + (len - MTP_ENC_OUTER_LEN))
        return MTP_EINVAL;   /* overlap */
    return open_one(key, self, pkt, len, plain, msg);
}

/* ---------------------------------------------------------------------------------- */
/* MTProto 1.0: bind_auth_key_inner                                                   */
/* ---------------------------------------------------------------------------------- */

int mtp_bind_inner_encrypt(const mtp_auth_key_t *perm, const mtp_bind_inner_t *in,
                           const mtp_rng_t *rng, mtp_buf_t *out)
{
    if (!perm || !in || !out || in->perm_auth_key_id != perm->id64)
        return MTP_EINVAL;
    uint8_t plain[BIND_PLAIN_LEN];
    int rc = mtp_rand(rng, plain, 16);   /* stands in for salt + session_id */
    if (rc)
        return rc;
    mtp_put_le64(plain + 16, (uint64_t)in->msg_id);
    mtp_put_le32(plain + 24, 0);                       /* seq_no */
    mtp_put_le32(plain + 28, BIND_INNER_LEN);          /* message_data_length */
    uint8_t *b = plain + MTP_ENC_INNER_LEN;
    mtp_put_le32(b, ID_BIND_AUTH_KEY_INNER);
    mtp_put_le64(b + 4, (uint64_t)in->nonce);
    mtp_put_le64(b + 12, (uint64_t)in->temp_auth_key_id);
    mtp_put_le64(b + 20, (uint64_t)in->perm_auth_key_id);
    mtp_put_le64(b + 28, (uint64_t)in->temp_session_id);
    mtp_put_le32(b + 36, (uint32_t)in->expires_at);

    rc = mtp_buf_reserve(out, MTP_BIND_MSG_LEN + 15);
    if (!rc) {
        size_t n = 0;
        rc = mtp_mtproto1_encrypt(perm->key, 0, plain, sizeof plain, rng,
                                  out->data + out->len, &n);
        if (!rc && n != MTP_BIND_MSG_LEN)
            rc = MTP_ECRYPTO;
        if (!rc)
            out->len += n;
    }
    mtp_secure_zero(plain, sizeof plain);
    return rc;
}

int mtp_bind_inner_decrypt(const mtp_auth_key_t *perm, const uint8_t *enc, size_t len,
                           mtp_bind_inner_t *out)
{
    if (!perm || !enc || !out)
        return MTP_EINVAL;
    memset(out, 0, sizeof *out);
    if (len != MTP_BIND_MSG_LEN)
        return MTP_ESECURITY;
    uint8_t plain[MTP_BIND_MSG_LEN - MTP_ENC_OUTER_LEN] = { 0 };
    size_t plain_len = 0;
    unsigned bad = memcmp(enc, perm->id, 8) != 0;
    int rc = mtp_mtproto1_decrypt(perm->key, 0, enc, len, plain, &plain_len);
    bad |= rc != 0;
    bad |= plain_len != BIND_PLAIN_LEN;
    bad |= mtp_get_le32(plain + 24) != 0;                       /* seq_no */
    bad |= mtp_get_le32(plain + 28) != BIND_INNER_LEN;
    const uint8_t *b = plain + MTP_ENC_INNER_LEN;
    bad |= mtp_get_le32(b) != ID_BIND_AUTH_KEY_INNER;
    if (!bad) {
        out->msg_id = (int64_t)mtp_get_le64(plain + 16);
        out->nonce = (int64_t)mtp_get_le64(b + 4);
        out->temp_auth_key_id = (int64_t)mtp_get_le64(b + 12);
        out->perm_auth_key_id = (int64_t)mtp_get_le64(b + 20);
        out->temp_session_id = (int64_t)mtp_get_le64(b + 28);
        out->expires_at = (int32_t)mtp_get_le32(b + 36);
    }
    mtp_secure_zero(plain, sizeof plain);
    return bad ? MTP_ESECURITY : 0;
}

int mtp_bind_inner_check(const mtp_bind_inner_t *got, const mtp_bind_inner_t *want)
{
    if (!got || !want)
        return MTP_EINVAL;
    unsigned bad = 0;
    bad |= got->nonce != want->nonce;
    bad |= got->temp_auth_key_id != want->temp_auth_key_id;
    bad |= got->perm_auth_key_id != want->perm_auth_key_id;
    bad |= got->temp_session_id != want->temp_session_id;
    bad |= got->expires_at != want->expires_at;
    bad |= got->msg_id != want->msg_id;
    return bad ? MTP_ESECURITY : 0;
}
