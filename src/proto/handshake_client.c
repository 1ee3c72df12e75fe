/*
 * libmtproto — key exchange, client role (PROTOCOL.md §4, §11 "Key exchange").
 *
 *   IDLE --start--> PQ --resPQ--> DH_REQ --server_DH_params_ok--> DH_SET --dh_gen_ok--> DONE
 *                                                     dh_gen_retry: DH_SET again (new b)
 *   any failed check --> FAILED (secrets wiped)
 */
#include <stdlib.h>
#include <string.h>

#include "proto/handshake_int.h"
#include "util/util.h"

struct mtp_hs_client {
    mtp_hs_client_config_t cfg;
    mtp_hs_state_t state;
    int err;
    mtp_arena_t *arena;
    int64_t last_msg_id;
    int64_t rsa_fp;               /* fingerprint of the key we encrypted to */
    mtp_usec_t offset;            /* server - local (µs) */
    mtp_usec_t sent_at;
    mtp_buf_t last_req;           /* body of the pending request (for resend) */
    int retries;
    int64_t retry_id;

    uint8_t nonce[16];
    uint8_t server_nonce[16];
    /* secrets: wiped on failure, completion and free */
    uint8_t new_nonce[32];
    uint8_t tmp_key[32], tmp_iv[32];
    uint8_t b[256];
    uint8_t auth_key[256];
    uint8_t aux_hash[8];
    /* DH parameters from the server */
    uint8_t dh_prime[256];
    int g;
    uint8_t g_a[256];
    size_t g_a_len;

    mtp_hs_result_t result;
};

static void wipe_secrets(mtp_hs_client_t *c)
{
    mtp_secure_zero(c->new_nonce, sizeof c->new_nonce);
    mtp_secure_zero(c->tmp_key, sizeof c->tmp_key);
    mtp_secure_zero(c->tmp_iv, sizeof c->tmp_iv);
    mtp_secure_zero(c->b, sizeof c->b);
    mtp_secure_zero(c->auth_key, sizeof c->auth_key);
    mtp_secure_zero(c->aux_hash, sizeof c->aux_hash);
}

static int fail(mtp_hs_client_t *c, int rc)
{
    wipe_secrets(c);
    mtp_hs_result_wipe(&c->result);
    mtp_buf_clear(&c->last_req);
    c->state = MTP_HS_FAILED;
    c->err = rc;
    return rc;
}

int mtp_hs_client_new(const mtp_hs_client_config_t *cfg, mtp_hs_client_t **out)
{
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    if (!cfg || !cfg->rsa_keys || cfg->n_rsa_keys == 0 || cfg->expires_in < 0 ||
        cfg->max_retries < 0 || cfg->timeout < 0)
        return MTP_EINVAL;
    for (size_t i = 0; i < cfg->n_rsa_keys; i++)
        if (!cfg->rsa_keys[i])
            return MTP_EINVAL;
    mtp_hs_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return MTP_ENOMEM;
    c->arena = mtp_arena_new(0);
    if (!c->arena) {
        free(c);
        return MTP_ENOMEM;
    }
    c->cfg = *cfg;
    if (!c->cfg.max_retries)
        c->cfg.max_retries = HS_DEFAULT_RETRIES;
    if (!c->cfg.timeout)
        c->cfg.timeout = HS_DEFAULT_TIMEOUT;
    c->offset = cfg->time_offset;
    mtp_buf_init(&c->last_req);
    c->state = MTP_HS_IDLE;
    *out = c;
    return 0;
}

void mtp_hs_client_free(mtp_hs_client_t *c)
{
    if (!c)
        return;
    mtp_arena_free(c->arena);
    if (c->last_req.data)
        mtp_secure_zero(c->last_req.data, c->last_req.cap);
    mtp_buf_free(&c->last_req);
    mtp_secure_zero(c, sizeof *c);
    free(c);
}

mtp_hs_state_t mtp_hs_client_state(const mtp_hs_client_t *c)
{
    return c ? c->state : MTP_HS_FAILED;
}

int mtp_hs_client_error(const mtp_hs_client_t *c)
{
    return c ? c->err : MTP_EINVAL;
}

int mtp_hs_client_result(const mtp_hs_client_t *c, mtp_hs_result_t *out)
{
    if (!c || !out)
        return MTP_EINVAL;
    if (c->state != MTP_HS_DONE)
        return MTP_ESTATE;
    *out = c->result;
    return 0;
}

mtp_usec_t mtp_hs_client_deadline(const mtp_hs_client_t *c)
{
    if (!c || c->state < MTP_HS_PQ || c->state > MTP_HS_DH_SET)
        return MTP_TIME_NEVER;
    return c->sent_at + c->cfg.timeout;
}

/* Pack the request obj (stored for resend) and append it to out. */
static int send_req(mtp_hs_client_t *c, mtp_usec_t now, const mtp_tl_object_t *obj,
                    mtp_buf_t *out)
{
    int64_t saved = c->last_msg_id;
    int64_t id = mtp_hs_msg_id_(now, c->offset, 0, &c->last_msg_id);
    int rc = mtp_hs_pack_(obj, id, out, &c->last_req);
    if (rc) {
        c->last_msg_id = saved;
        return rc;
    }
    c->sent_at = now;
    return 0;
}

int mtp_hs_client_start(mtp_hs_client_t *c, mtp_usec_t now, mtp_buf_t *out)
{
    if (!c || !out)
        return MTP_EINVAL;
    if (c->state != MTP_HS_IDLE)
        return MTP_ESTATE;
    int rc = mtp_rand(c->cfg.rng, c->nonce, sizeof c->nonce);
    if (rc)
        return fail(c, rc);
    mtp_mt_req_pq_multi_t q = MTP_INIT(mt_req_pq_multi);
    memcpy(q.nonce, c->nonce, 16);
    rc = send_req(c, now, &q._, out);
    if (rc)
        return fail(c, rc);
    c->state = MTP_HS_PQ;
    return 0;
}

int mtp_hs_client_resend(mtp_hs_client_t *c, mtp_usec_t now, mtp_buf_t *out)
{
    if (!c || !out)
        return MTP_EINVAL;
    if (c->state < MTP_HS_PQ || c->state > MTP_HS_DH_SET || !c->last_req.len)
        return MTP_ESTATE;
    int64_t saved = c->last_msg_id;
    int rc = mtp_hs_repack_(&c->last_req, mtp_hs_msg_id_(now, c->offset, 0, &c->last_msg_id),
                            out);
    if (rc) {
        c->last_msg_id = saved;
        return rc;
    }
    c->sent_at = now;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* step 2 -> 5: resPQ -> req_DH_params                                                */
/* ---------------------------------------------------------------------------------- */

static int on_respq(mtp_hs_client_t *c, mtp_usec_t now, mtp_bytes_t body, mtp_buf_t *out)
{
    static const mtp_tl_comb_t *const allowed[] = { &mtp_tlc_mt_resPQ };
    int rc;
    mtp_mt_resPQ_t *m = mtp_hs_decode_(c->arena, body.ptr, body.len, allowed, 1, 0, NULL, &rc);
    if (!m)
        return rc;
    if (!mtp_ct_memeq(m->nonce, c->nonce, 16))
        return MTP_ESECURITY;
    memcpy(c->server_nonce, m->server_nonce, 16);

    /* pq: at most 8 bytes, the product of two distinct primes */
    if (m->pq.len == 0 || m->pq.len > 8)
        return MTP_EPROTO;
    uint8_t p[8], q[8];
    size_t p_len = 0, q_len = 0;
    if (mtp_factorize_pq_bytes(m->pq.ptr, m->pq.len, p, &p_len, q, &q_len))
        return MTP_EPROTO;

    /* the first advertised fingerprint we hold a key for */
    const mtp_rsa_key_t *key = NULL;
    int64_t fp = 0;
    for (uint32_t i = 0; i < m->server_public_key_fingerprints.n && !key; i++) {
        int64_t f = m->server_public_key_fingerprints.v[i];
        for (size_t k = 0; k < c->cfg.n_rsa_keys; k++) {
            if (mtp_rsa_fingerprint(c->cfg.rsa_keys[k]) == f) {
                key = c->cfg.rsa_keys[k];
                fp = f;
                break;
            }
        }
    }
    if (!key)
        return MTP_ESECURITY;

    rc = mtp_rand(c->cfg.rng, c->new_nonce, sizeof c->new_nonce);
    if (rc)
        return rc;

    /* p_q_inner_data in the form the config asks for */
    bool temp = c->cfg.expires_in > 0;
    bool legacy = (c->cfg.flags & MTP_HS_LEGACY_INNER) != 0;
    mtp_bytes_t pq = m->pq, pb = { p, p_len }, qb = { q, q_len };
    mtp_mt_p_q_inner_data_t i0 = MTP_INIT(mt_p_q_inner_data);
    mtp_mt_p_q_inner_data_dc_t i1 = MTP_INIT(mt_p_q_inner_data_dc);
    mtp_mt_p_q_inner_data_temp_t i2 = MTP_INIT(mt_p_q_inner_data_temp);
    mtp_mt_p_q_inner_data_temp_dc_t i3 = MTP_INIT(mt_p_q_inner_data_temp_dc);
    const mtp_tl_object_t *inner;
#define FILL(o)                                             \
    do {                                                    \
        (o).pq = pq;                                        \
        (o).p = pb;                                         \
        (o).q = qb;                                         \
        memcpy((o).nonce, c->nonce, 16);                    \
        memcpy((o).server_nonce, c->server_nonce, 16);      \
        memcpy((o).new_nonce, c->new_nonce, 32);            \
    } while (0)
    if (legacy && !temp) {
        FILL(i0);
        inner = &i0._;
    } else if (!legacy && !temp) {
        FILL(i1);
        i1.dc = c->cfg.dc_id;
        inner = &i1._;
    } else if (legacy) {
        FILL(i2);
        i2.expires_in = c->cfg.expires_in;
        inner = &i2._;
    } else {
        FILL(i3);
        i3.dc = c->cfg.dc_id;
        i3.expires_in = c->cfg.expires_in;
        inner = &i3._;
    }
#undef FILL
    mtp_buf_t data;
    mtp_buf_init(&data);
    rc = mtp_hs_encode_(inner, &data);
    uint8_t enc[MTP_RSA_PAD_OUT];
    if (!rc && data.len > MTP_RSA_PAD_DATA_MAX)
        rc = MTP_EPROTO;
    if (!rc)
        rc = mtp_rsa_pad_encrypt(key, data.data, data.len, c->cfg.rng, enc);
    if (data.data)
        mtp_secure_zero(data.data, data.cap);   /* holds new_nonce */
    mtp_secure_zero(&i0, sizeof i0);
    mtp_secure_zero(&i1, sizeof i1);
    mtp_secure_zero(&i2, sizeof i2);
    mtp_secure_zero(&i3, sizeof i3);
    mtp_buf_free(&data);
    if (rc)
        return rc;

    mtp_mt_req_DH_params_t r = MTP_INIT(mt_req_DH_params);
    memcpy(r.nonce, c->nonce, 16);
    memcpy(r.server_nonce, c->server_nonce, 16);
    r.p = pb;
    r.q = qb;
    r.public_key_fingerprint = fp;
    c->rsa_fp = fp;
    r.encrypted_data.ptr = enc;
    r.encrypted_data.len = sizeof enc;
    rc = send_req(c, now, &r._, out);
    if (rc)
        return rc;
    c->state = MTP_HS_DH_REQ;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* step 7: set_client_DH_params (first try and after dh_gen_retry)                    */
/* ---------------------------------------------------------------------------------- */

static int send_client_dh(mtp_hs_client_t *c, mtp_usec_t now, mtp_buf_t *out)
{
    uint8_t g_b[256];
    size_t g_b_len = 0;
    int rc = mtp_dh_generate(c->dh_prime, sizeof c->dh_prime, c->g, c->cfg.rng, c->b, g_b,
                             &g_b_len);
    if (rc)
        return rc == MTP_EINVAL ? MTP_ESECURITY : rc;
    rc = mtp_dh_shared(c->dh_prime, sizeof c->dh_prime, c->g_a, c->g_a_len, c->b, c->auth_key);
    if (rc)
        return rc == MTP_EINVAL ? MTP_ESECURITY : rc;
    mtp_auth_key_aux_hash(c->auth_key, c->aux_hash);

    mtp_mt_client_DH_inner_data_t d = MTP_INIT(mt_client_DH_inner_data);
    memcpy(d.nonce, c->nonce, 16);
    memcpy(d.server_nonce, c->server_nonce, 16);
    d.retry_id = c->retry_id;
    d.g_b.ptr = g_b;
    d.g_b.len = g_b_len;

    /* data_with_hash = SHA1(data) + data + 0..15 random bytes */
    uint8_t dwh[HS_MAX_DH_BLOB];
    mtp_buf_t data;
    mtp_buf_init(&data);
    rc = mtp_hs_encode_(&d._, &data);
    size_t n = 0;
    if (!rc && MTP_SHA1_LEN + data.len + 15 > sizeof dwh)
        rc = MTP_EPROTO;
    if (!rc) {
        size_t pad = (16 - (MTP_SHA1_LEN + data.len) % 16) % 16;
        memcpy(dwh + MTP_SHA1_LEN, data.data, data.len);
        rc = mtp_sha1(data.data, data.len, dwh);
        if (!rc)
            rc = mtp_rand(c->cfg.rng, dwh + MTP_SHA1_LEN + data.len, pad);
        n = MTP_SHA1_LEN + data.len + pad;
    }
    mtp_buf_free(&data);
    if (!rc)
        rc = mtp_aes256_ige_encrypt(c->tmp_key, c->tmp_iv, dwh, dwh, n);
    if (rc)
        return rc;

    mtp_mt_set_client_DH_params_t s = MTP_INIT(mt_set_client_DH_params);
    memcpy(s.nonce, c->nonce, 16);
    memcpy(s.server_nonce, c->server_nonce, 16);
    s.encrypted_data.ptr = dwh;
    s.encrypted_data.len = n;
    rc = send_req(c, now, &s._, out);
    if (rc)
        return rc;
    c->state = MTP_HS_DH_SET;
    return 0;
}

/* Strip leading zero bytes of a big-endian number. */
static mtp_bytes_t be_trim(mtp_bytes_t v)
{
    while (v.len && v.ptr[0] == 0) {
        v.ptr++;
        v.len--;
    }
    return v;
}

/* ---------------------------------------------------------------------------------- */
/* step 6: server_DH_params_ok / _fail                                                */
/* ---------------------------------------------------------------------------------- */

static int on_dh_params(mtp_hs_client_t *c, mtp_usec_t now, mtp_bytes_t body, mtp_buf_t *out)
{
    static const mtp_tl_comb_t *const allowed[] = { &mtp_tlc_mt_server_DH_params_ok,
                                                    &mtp_tlc_mt_server_DH_params_fail };
    int rc;
    mtp_tl_object_t *o = mtp_hs_decode_(c->arena, body.ptr, body.len, allowed, 2, 0, NULL, &rc);
    if (!o)
        return rc;
    if (o->tl == &mtp_tlc_mt_server_DH_params_fail) {
        mtp_mt_server_DH_params_fail_t *f = (mtp_mt_server_DH_params_fail_t *)o;
        uint8_t h[16];
        mtp_new_nonce_hash_fail(c->new_nonce, h);
        unsigned ok = mtp_ct_memeq(f->nonce, c->nonce, 16) &
                      mtp_ct_memeq(f->server_nonce, c->server_nonce, 16) &
                      mtp_ct_memeq(f->new_nonce_hash, h, 16);
        return ok ? MTP_EPROTO : MTP_ESECURITY;
    }
    mtp_mt_server_DH_params_ok_t *m = (mtp_mt_server_DH_params_ok_t *)o;
    if (!mtp_ct_memeq(m->nonce, c->nonce, 16) ||
        !mtp_ct_memeq(m->server_nonce, c->server_nonce, 16))
        return MTP_ESECURITY;
    size_t n = m->encrypted_answer.len;
    if (n == 0 || n % 16)
        return MTP_ESECURITY;
    if (n > HS_MAX_DH_BLOB || n < 48)
        return MTP_EPROTO;

    mtp_tmp_aes_key_iv(c->new_nonce, c->server_nonce, c->tmp_key, c->tmp_iv);
    uint8_t awh[HS_MAX_DH_BLOB];
    rc = mtp_aes256_ige_decrypt(c->tmp_key, c->tmp_iv, m->encrypted_answer.ptr, awh, n);
    if (rc)
        return rc;

    /* answer_with_hash = SHA1(answer) + answer + padding < 16 */
    static const mtp_tl_comb_t *const inner_allowed[] = { &mtp_tlc_mt_server_DH_inner_data };
    size_t used = 0;
    mtp_mt_server_DH_inner_data_t *a =
        mtp_hs_decode_(c->arena, awh + MTP_SHA1_LEN, n - MTP_SHA1_LEN, inner_allowed, 1,
                       HS_ANY_TAIL,
                       &used, &rc);
    if (!a)
        return rc == MTP_ENOMEM ? rc : MTP_ESECURITY;   /* garbage after decryption */
    uint8_t h[MTP_SHA1_LEN];
    rc = mtp_sha1(awh + MTP_SHA1_LEN, used, h);
    if (rc)
        return rc;
    if (!mtp_ct_memeq(h, awh, MTP_SHA1_LEN))
        return MTP_ESECURITY;
    if (n - MTP_SHA1_LEN - used >= 16)
        return MTP_ESECURITY;
    if (!mtp_ct_memeq(a->nonce, c->nonce, 16) ||
        !mtp_ct_memeq(a->server_nonce, c->server_nonce, 16))
        return MTP_ESECURITY;

    /* DH parameters: 2048-bit safe prime, g in 2..7 with the residue rule, g_a window */
    mtp_bytes_t prime = be_trim(a->dh_prime), g_a = be_trim(a->g_a);
    if (prime.len != 256 || g_a.len == 0 || g_a.len > 256)
        return MTP_ESECURITY;
    if (mtp_dh_check_params(prime.ptr, prime.len, a->g))
        return MTP_ESECURITY;
    if (mtp_dh_check_public(prime.ptr, prime.len, g_a.ptr, g_a.len))
        return MTP_ESECURITY;
    memcpy(c->dh_prime, prime.ptr, 256);
    c->g = a->g;
    memcpy(c->g_a, g_a.ptr, g_a.len);
    c->g_a_len = g_a.len;
    c->offset = (mtp_usec_t)a->server_time * MTP_USEC_PER_SEC - now;
    mtp_secure_zero(awh, sizeof awh);

    c->retry_id = 0;
    return send_client_dh(c, now, out);
}

/* ---------------------------------------------------------------------------------- */
/* step 9: dh_gen_ok / dh_gen_retry / dh_gen_fail                                     */
/* ---------------------------------------------------------------------------------- */

static int on_dh_gen(mtp_hs_client_t *c, mtp_usec_t now, mtp_bytes_t body, mtp_buf_t *out)
{
    static const mtp_tl_comb_t *const allowed[] = { &mtp_tlc_mt_dh_gen_ok, &mtp_tlc_mt_dh_gen_retry,
                                                    &mtp_tlc_mt_dh_gen_fail };
    int rc;
    mtp_tl_object_t *o = mtp_hs_decode_(c->arena, body.ptr, body.len, allowed, 3, 0, NULL, &rc);
    if (!o)
        return rc;
    const uint8_t *nonce, *server_nonce, *hash;
    int which;
    if (o->tl == &mtp_tlc_mt_dh_gen_ok) {
        mtp_mt_dh_gen_ok_t *m = (mtp_mt_dh_gen_ok_t *)o;
        nonce = m->nonce, server_nonce = m->server_nonce, hash = m->new_nonce_hash1, which = 1;
    } else if (o->tl == &mtp_tlc_mt_dh_gen_retry) {
        mtp_mt_dh_gen_retry_t *m = (mtp_mt_dh_gen_retry_t *)o;
        nonce = m->nonce, server_nonce = m->server_nonce, hash = m->new_nonce_hash2, which = 2;
    } else {
        mtp_mt_dh_gen_fail_t *m = (mtp_mt_dh_gen_fail_t *)o;
        nonce = m->nonce, server_nonce = m->server_nonce, hash = m->new_nonce_hash3, which = 3;
    }
    if (!mtp_ct_memeq(nonce, c->nonce, 16) || !mtp_ct_memeq(server_nonce, c->server_nonce, 16))
        return MTP_ESECURITY;
    uint8_t want[16];
    rc = mtp_new_nonce_hash(c->new_nonce, which, c->aux_hash, want);
    if (rc)
        return rc;
    if (!mtp_ct_memeq(hash, want, 16))
        return MTP_ESECURITY;

    if (which == 3)
        return MTP_EPROTO;                      /* the server refused: start over */
    if (which == 2) {
        if (c->retries >= c->cfg.max_retries)
            return MTP_EPROTO;
        c->retries++;
        c->retry_id = (int64_t)mtp_get_le64(c->aux_hash);
        return send_client_dh(c, now, out);
    }

    /* dh_gen_ok */
    mtp_hs_result_t *r = &c->result;
    memset(r, 0, sizeof *r);
    rc = mtp_hs_set_key_(r, c->auth_key);
    if (rc)
        return rc;
    uint8_t salt[8];
    mtp_initial_server_salt(c->new_nonce, c->server_nonce, salt);
    r->server_salt = (int64_t)mtp_get_le64(salt);
    r->time_offset = c->offset;
    r->dc_id = (c->cfg.flags & MTP_HS_LEGACY_INNER) ? 0 : c->cfg.dc_id;
    r->rsa_fingerprint = c->rsa_fp;
    r->temp = c->cfg.expires_in > 0;
    r->retries = c->retries;
    if (r->temp) {
        r->expires_in = c->cfg.expires_in;
        int64_t server_now = (now + c->offset) / MTP_USEC_PER_SEC;
        r->expires_at = (int32_t)(server_now + c->cfg.expires_in);
    }
    wipe_secrets(c);
    mtp_buf_clear(&c->last_req);
    c->state = MTP_HS_DONE;
    return 0;
}

int mtp_hs_client_feed(mtp_hs_client_t *c, mtp_usec_t now, const uint8_t *pkt, size_t len,
                       mtp_buf_t *out)
{
    if (!c || !out || (!pkt && len))
        return MTP_EINVAL;
    if (c->state < MTP_HS_PQ || c->state > MTP_HS_DH_SET)
        return MTP_ESTATE;
    size_t out_len = out->len;
    int64_t msg_id;
    mtp_bytes_t body;
    int rc = mtp_plain_unpack(pkt, len, &msg_id, &body);
    if (rc)
        return fail(c, MTP_EPROTO);
    if ((msg_id & 1) == 0)                     /* server messages have odd msg_ids */
        return fail(c, MTP_EPROTO);
    mtp_arena_reset(c->arena);
    switch (c->state) {
    case MTP_HS_PQ: rc = on_respq(c, now, body, out); break;
    case MTP_HS_DH_REQ: rc = on_dh_params(c, now, body, out); break;
    default: rc = on_dh_gen(c, now, body, out); break;
    }
    mtp_arena_reset(c->arena);
    if (rc) {
        if (out->len > out_len)
            mtp_secure_zero(out->data + out_len, out->len - out_len);
        out->len = out_len;
        return fail(c, rc);
    }
    return 0;
}
