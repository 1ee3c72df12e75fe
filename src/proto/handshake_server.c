/*
 * libmtproto — key exchange, server role (the test harness; PROTOCOL.md §4 "Harness
 * notes"). One object per connection.
 *
 *   IDLE --req_pq(_multi)--> DH_REQ --req_DH_params--> DH_SET --set_client_DH_params--> DONE
 *                     (auth_key_id collision: dh_gen_retry, stay in DH_SET)
 *   a new req_pq(_multi) restarts from any state but FAILED
 *   any failed check --> FAILED: answer -404 (or -444) now and for every later packet
 */
#include <stdlib.h>
#include <string.h>

#include "proto/handshake_int.h"
#include "util/util.h"

enum { SLOT_PQ, SLOT_DH, SLOT_SET, NSLOTS };

struct mtp_hs_server {
    mtp_hs_server_config_t cfg;
    mtp_hs_state_t state;
    int err;
    int32_t terr;
    mtp_arena_t *arena;
    int64_t last_msg_id;
    int64_t rsa_fp;               /* fingerprint of the key req_DH_params named */
    mtp_usec_t started;               /* step 1 of the current exchange */
    struct { mtp_buf_t req, ans; } cache[NSLOTS];

    uint8_t nonce[16];
    uint8_t server_nonce[16];
    uint64_t pq, p, q;
    int32_t dc;
    int32_t expires_in;
    bool temp;
    int retries;
    int64_t retry_id;                 /* expected in client_DH_inner_data */
    /* secrets */
    uint8_t new_nonce[32];
    uint8_t a[256];
    uint8_t tmp_key[32], tmp_iv[32];

    bool have_result;
    mtp_hs_result_t result;
};

static void wipe_buf(mtp_buf_t *b)
{
    if (b->data)
        mtp_secure_zero(b->data, b->cap);
    b->len = 0;
    b->err = 0;
}

static void wipe_exchange(mtp_hs_server_t *s)
{
    mtp_secure_zero(s->new_nonce, sizeof s->new_nonce);
    mtp_secure_zero(s->a, sizeof s->a);
    mtp_secure_zero(s->tmp_key, sizeof s->tmp_key);
    mtp_secure_zero(s->tmp_iv, sizeof s->tmp_iv);
}

static void clear_cache(mtp_hs_server_t *s)
{
    for (int i = 0; i < NSLOTS; i++) {
        wipe_buf(&s->cache[i].req);
        wipe_buf(&s->cache[i].ans);
    }
}

static int reject(mtp_hs_server_t *s, int rc, int32_t terr, mtp_hs_event_t *ev)
{
    wipe_exchange(s);
    clear_cache(s);
    s->state = MTP_HS_FAILED;
    s->err = rc;
    s->terr = terr;
    *ev = MTP_HS_EV_REJECT;
    return rc;
}

int mtp_hs_server_new(const mtp_hs_server_config_t *cfg, mtp_hs_server_t **out)
{
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    if (!cfg || !cfg->rsa_keys || cfg->n_rsa_keys == 0 || cfg->max_retries < 0 ||
        cfg->replay_window < 0 || (cfg->n_extra_fingerprints && !cfg->extra_fingerprints) ||
        cfg->n_rsa_keys + cfg->n_extra_fingerprints > 64)
        return MTP_EINVAL;
    for (size_t i = 0; i < cfg->n_rsa_keys; i++)
        if (!cfg->rsa_keys[i] || !mtp_rsa_has_private(cfg->rsa_keys[i]))
            return MTP_EINVAL;
    mtp_hs_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return MTP_ENOMEM;
    s->arena = mtp_arena_new(0);
    if (!s->arena) {
        free(s);
        return MTP_ENOMEM;
    }
    s->cfg = *cfg;
    if (!s->cfg.max_retries)
        s->cfg.max_retries = HS_DEFAULT_RETRIES;
    if (!s->cfg.replay_window)
        s->cfg.replay_window = HS_DEFAULT_REPLAY;
    for (int i = 0; i < NSLOTS; i++) {
        mtp_buf_init(&s->cache[i].req);
        mtp_buf_init(&s->cache[i].ans);
    }
    s->state = MTP_HS_IDLE;
    *out = s;
    return 0;
}

void mtp_hs_server_free(mtp_hs_server_t *s)
{
    if (!s)
        return;
    clear_cache(s);
    for (int i = 0; i < NSLOTS; i++) {
        mtp_buf_free(&s->cache[i].req);
        mtp_buf_free(&s->cache[i].ans);
    }
    mtp_arena_free(s->arena);
    mtp_secure_zero(s, sizeof *s);
    free(s);
}

mtp_hs_state_t mtp_hs_server_state(const mtp_hs_server_t *s)
{
    return s ? s->state : MTP_HS_FAILED;
}

int mtp_hs_server_error(const mtp_hs_server_t *s)
{
    return s ? s->err : MTP_EINVAL;
}

int32_t mtp_hs_server_transport_error(const mtp_hs_server_t *s)
{
    return s ? s->terr : 0;
}

int mtp_hs_server_result(const mtp_hs_server_t *s, mtp_hs_result_t *out)
{
    if (!s || !out)
        return MTP_EINVAL;
    if (!s->have_result)
        return MTP_ESTATE;
    *out = s->result;
    return 0;
}

/* Answer obj: pack it into out and remember (request, answer) in the slot. */
static int answer(mtp_hs_server_t *s, mtp_usec_t now, int slot, mtp_bytes_t req,
                  const mtp_tl_object_t *obj, mtp_buf_t *out)
{
    int64_t saved = s->last_msg_id;
    int64_t id = mtp_hs_msg_id_(now, 0, 1, &s->last_msg_id);
    int rc = mtp_hs_pack_(obj, id, out, &s->cache[slot].ans);
    if (!rc) {
        mtp_buf_clear(&s->cache[slot].req);
        rc = mtp_buf_append(&s->cache[slot].req, req.ptr, req.len);
    }
    if (rc) {
        s->last_msg_id = saved;
        mtp_buf_clear(&s->cache[slot].req);
        mtp_buf_clear(&s->cache[slot].ans);
    }
    return rc;
}

static bool nonces_ok(const mtp_hs_server_t *s, const uint8_t nonce[16],
                      const uint8_t server_nonce[16])
{
    return mtp_ct_memeq(nonce, s->nonce, 16) & mtp_ct_memeq(server_nonce, s->server_nonce, 16);
}

static bool be_equals(mtp_bytes_t b, uint64_t v)
{
    uint64_t x;
    return mtp_hs_be_u64_(b.ptr, b.len, &x) == 0 && x == v;
}

/* ---------------------------------------------------------------------------------- */
/* step 1 -> 2                                                                        */
/* ---------------------------------------------------------------------------------- */

static int on_req_pq(mtp_hs_server_t *s, mtp_usec_t now, mtp_bytes_t body, mtp_buf_t *out)
{
    static const mtp_tl_comb_t *const allowed[] = { &mtp_tlc_mt_req_pq_multi, &mtp_tlc_mt_req_pq };
    int rc;
    mtp_tl_object_t *o = mtp_hs_decode_(s->arena, body.ptr, body.len, allowed, 2, HS_PLAIN_PAD_MAX,
                                        NULL, &rc);
    if (!o)
        return rc;
    /* a fresh exchange replaces whatever was going on */
    wipe_exchange(s);
    clear_cache(s);
    s->retries = 0;
    s->retry_id = 0;
    s->started = now;
    if (o->tl == &mtp_tlc_mt_req_pq_multi)
        memcpy(s->nonce, ((mtp_mt_req_pq_multi_t *)o)->nonce, 16);
    else
        memcpy(s->nonce, ((mtp_mt_req_pq_t *)o)->nonce, 16);
    rc = mtp_rand(s->cfg.rng, s->server_nonce, 16);
    if (!rc)
        rc = mtp_pq_generate(s->cfg.rng, &s->pq, &s->p, &s->q);
    if (rc)
        return rc;

    size_t nfp = s->cfg.n_extra_fingerprints + s->cfg.n_rsa_keys;
    int64_t fps[64];
    for (size_t i = 0; i < s->cfg.n_extra_fingerprints; i++)
        fps[i] = s->cfg.extra_fingerprints[i];
    for (size_t i = 0; i < s->cfg.n_rsa_keys; i++)
        fps[s->cfg.n_extra_fingerprints + i] = mtp_rsa_fingerprint(s->cfg.rsa_keys[i]);

    uint8_t pq[8];
    mtp_mt_resPQ_t r = MTP_INIT(mt_resPQ);
    memcpy(r.nonce, s->nonce, 16);
    memcpy(r.server_nonce, s->server_nonce, 16);
    r.pq.ptr = pq;
    r.pq.len = mtp_hs_u64_be_(s->pq, pq);
    r.server_public_key_fingerprints.n = (uint32_t)nfp;
    r.server_public_key_fingerprints.v = fps;
    rc = answer(s, now, SLOT_PQ, body, &r._, out);
    if (rc)
        return rc;
    s->state = MTP_HS_DH_REQ;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* step 5 -> 6                                                                        */
/* ---------------------------------------------------------------------------------- */

/* The common fields of the four p_q_inner_data forms. */
typedef struct inner_view {
    mtp_bytes_t pq, p, q;
    const uint8_t *nonce, *server_nonce, *new_nonce;
    bool has_dc, temp;
    int32_t dc, expires_in;
} inner_view_t;

static int parse_inner(mtp_hs_server_t *s, const uint8_t *data, size_t n, inner_view_t *v)
{
    static const mtp_tl_comb_t *const allowed[] = {
        &mtp_tlc_mt_p_q_inner_data, &mtp_tlc_mt_p_q_inner_data_dc,
        &mtp_tlc_mt_p_q_inner_data_temp, &mtp_tlc_mt_p_q_inner_data_temp_dc
    };
    int rc;
    memset(v, 0, sizeof *v);
    mtp_tl_object_t *o = mtp_hs_decode_(s->arena, data, n, allowed, 4, HS_ANY_TAIL, NULL, &rc);
    if (!o)
        return rc;
#define VIEW(m)                              \
    do {                                     \
        v->pq = (m)->pq;                     \
        v->p = (m)->p;                       \
        v->q = (m)->q;                       \
        v->nonce = (m)->nonce;               \
        v->server_nonce = (m)->server_nonce; \
        v->new_nonce = (m)->new_nonce;       \
    } while (0)
    if (o->tl == &mtp_tlc_mt_p_q_inner_data) {
        VIEW((mtp_mt_p_q_inner_data_t *)o);
    } else if (o->tl == &mtp_tlc_mt_p_q_inner_data_dc) {
        mtp_mt_p_q_inner_data_dc_t *m = (mtp_mt_p_q_inner_data_dc_t *)o;
        VIEW(m);
        v->has_dc = true;
        v->dc = m->dc;
    } else if (o->tl == &mtp_tlc_mt_p_q_inner_data_temp) {
        mtp_mt_p_q_inner_data_temp_t *m = (mtp_mt_p_q_inner_data_temp_t *)o;
        VIEW(m);
        v->temp = true;
        v->expires_in = m->expires_in;
    } else {
        mtp_mt_p_q_inner_data_temp_dc_t *m = (mtp_mt_p_q_inner_data_temp_dc_t *)o;
        VIEW(m);
        v->has_dc = v->temp = true;
        v->dc = m->dc;
        v->expires_in = m->expires_in;
    }
#undef VIEW
    return 0;
}

static int32_t abs32(int32_t x)
{
    return x < 0 ? (int32_t)(0u - (uint32_t)x) : x;
}

static int on_req_dh(mtp_hs_server_t *s, mtp_usec_t now, mtp_bytes_t body, mtp_buf_t *out,
                     int32_t *terr)
{
    static const mtp_tl_comb_t *const allowed[] = { &mtp_tlc_mt_req_DH_params };
    int rc;
    mtp_mt_req_DH_params_t *m = mtp_hs_decode_(s->arena, body.ptr, body.len, allowed, 1,
                                               HS_PLAIN_PAD_MAX,
                                               NULL, &rc);
    if (!m)
        return rc;
    if (!nonces_ok(s, m->nonce, m->server_nonce))
        return MTP_ESECURITY;
    if (!be_equals(m->p, s->p) || !be_equals(m->q, s->q))
        return MTP_ESECURITY;
    const mtp_rsa_key_t *key = NULL;
    for (size_t i = 0; i < s->cfg.n_rsa_keys && !key; i++)
        if (mtp_rsa_fingerprint(s->cfg.rsa_keys[i]) == m->public_key_fingerprint)
            key = s->cfg.rsa_keys[i];
    if (!key)
        return MTP_ESECURITY;
    s->rsa_fp = m->public_key_fingerprint;

    uint8_t dwp[MTP_RSA_PAD_PADDED];
    rc = mtp_rsa_pad_decrypt(key, m->encrypted_data.ptr, m->encrypted_data.len, dwp);
    if (rc)
        return rc == MTP_ENOMEM ? rc : MTP_ESECURITY;
    inner_view_t v;
    memset(&v, 0, sizeof v);
    rc = parse_inner(s, dwp, sizeof dwp, &v);
    if (!rc) {
        if (!nonces_ok(s, v.nonce, v.server_nonce) || !be_equals(v.pq, s->pq) ||
            !be_equals(v.p, s->p) || !be_equals(v.q, s->q))
            rc = MTP_ESECURITY;
        else if (v.temp && v.expires_in <= 0)
            rc = MTP_EPROTO;
        else if (v.has_dc && s->cfg.dc_id && abs32(v.dc) != abs32(s->cfg.dc_id)) {
            rc = MTP_EPROTO;
            *terr = -444;
        }
    }
    if (!rc) {
        memcpy(s->new_nonce, v.new_nonce, 32);
        s->temp = v.temp;
        s->expires_in = v.temp ? v.expires_in : 0;
        s->dc = v.has_dc ? v.dc : 0;
    }
    mtp_secure_zero(dwp, sizeof dwp);
    if (rc)
        return rc;

    /* server_DH_inner_data */
    uint8_t g_a[256];
    size_t g_a_len = 0;
    rc = mtp_dh_generate(mtp_dh_known_prime(), 256, MTP_HS_DH_G, s->cfg.rng, s->a,
                         g_a, &g_a_len);
    if (rc)
        return rc;
    mtp_mt_server_DH_inner_data_t d = MTP_INIT(mt_server_DH_inner_data);
    memcpy(d.nonce, s->nonce, 16);
    memcpy(d.server_nonce, s->server_nonce, 16);
    d.g = MTP_HS_DH_G;
    d.dh_prime.ptr = mtp_dh_known_prime();
    d.dh_prime.len = 256;
    d.g_a.ptr = g_a;
    d.g_a.len = g_a_len;
    d.server_time = (int32_t)(now / MTP_USEC_PER_SEC);

    uint8_t awh[HS_MAX_DH_BLOB];
    size_t n = 0;
    mtp_buf_t ans;
    mtp_buf_init(&ans);
    rc = mtp_hs_encode_(&d._, &ans);
    if (!rc && MTP_SHA1_LEN + ans.len + 15 > sizeof awh)
        rc = MTP_EINVAL;
    if (!rc) {
        size_t pad = (16 - (MTP_SHA1_LEN + ans.len) % 16) % 16;
        memcpy(awh + MTP_SHA1_LEN, ans.data, ans.len);
        rc = mtp_sha1(ans.data, ans.len, awh);
        if (!rc)
            rc = mtp_rand(s->cfg.rng, awh + MTP_SHA1_LEN + ans.len, pad);
        n = MTP_SHA1_LEN + ans.len + pad;
    }
    mtp_buf_free(&ans);
    if (!rc) {
        mtp_tmp_aes_key_iv(s->new_nonce, s->server_nonce, s->tmp_key, s->tmp_iv);
        rc = mtp_aes256_ige_encrypt(s->tmp_key, s->tmp_iv, awh, awh, n);
    }
    if (rc)
        return rc;

    mtp_mt_server_DH_params_ok_t r = MTP_INIT(mt_server_DH_params_ok);
    memcpy(r.nonce, s->nonce, 16);
    memcpy(r.server_nonce, s->server_nonce, 16);
    r.encrypted_answer.ptr = awh;
    r.encrypted_answer.len = n;
    rc = answer(s, now, SLOT_DH, body, &r._, out);
    if (rc)
        return rc;
    s->retries = 0;
    s->retry_id = 0;
    s->state = MTP_HS_DH_SET;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* step 7 -> 9                                                                        */
/* ---------------------------------------------------------------------------------- */

static int on_set_dh(mtp_hs_server_t *s, mtp_usec_t now, mtp_bytes_t body, mtp_buf_t *out,
                     mtp_hs_event_t *ev)
{
    static const mtp_tl_comb_t *const allowed[] = { &mtp_tlc_mt_set_client_DH_params };
    int rc;
    mtp_mt_set_client_DH_params_t *m = mtp_hs_decode_(s->arena, body.ptr, body.len, allowed, 1,
                                                      HS_PLAIN_PAD_MAX, NULL, &rc);
    if (!m)
        return rc;
    if (!nonces_ok(s, m->nonce, m->server_nonce))
        return MTP_ESECURITY;
    size_t n = m->encrypted_data.len;
    if (n == 0 || n % 16 || n > HS_MAX_DH_BLOB || n < 48)
        return MTP_ESECURITY;
    uint8_t dwh[HS_MAX_DH_BLOB];
    rc = mtp_aes256_ige_decrypt(s->tmp_key, s->tmp_iv, m->encrypted_data.ptr, dwh, n);
    if (rc)
        return rc;
    static const mtp_tl_comb_t *const inner_allowed[] = { &mtp_tlc_mt_client_DH_inner_data };
    size_t used = 0;
    mtp_mt_client_DH_inner_data_t *d =
        mtp_hs_decode_(s->arena, dwh + MTP_SHA1_LEN, n - MTP_SHA1_LEN, inner_allowed, 1,
                       HS_ANY_TAIL,
                       &used, &rc);
    if (!d)
        return rc == MTP_ENOMEM ? rc : MTP_ESECURITY;
    uint8_t h[MTP_SHA1_LEN];
    rc = mtp_sha1(dwh + MTP_SHA1_LEN, used, h);
    if (rc)
        return rc;
    if (!mtp_ct_memeq(h, dwh, MTP_SHA1_LEN) || n - MTP_SHA1_LEN - used >= 16 ||
        !nonces_ok(s, d->nonce, d->server_nonce) || d->retry_id != s->retry_id)
        return MTP_ESECURITY;

    /* auth_key = g_b^a mod p (g_b range and window checked inside) */
    uint8_t auth_key[256];
    rc = mtp_dh_shared(mtp_dh_known_prime(), 256, d->g_b.ptr, d->g_b.len, s->a,
                       auth_key);
    if (rc)
        return rc == MTP_ENOMEM ? rc : MTP_ESECURITY;
    mtp_auth_key_t k;
    rc = mtp_auth_key_init(&k, auth_key);
    mtp_secure_zero(auth_key, sizeof auth_key);
    if (rc)
        return rc;

    bool exists = s->cfg.key_exists && s->cfg.key_exists(s->cfg.key_exists_ctx, k.id64);
    int which = !exists ? 1 : s->retries < s->cfg.max_retries ? 2 : 3;
    uint8_t hash[16];
    rc = mtp_new_nonce_hash(s->new_nonce, which, k.aux_hash, hash);
    if (rc) {
        mtp_auth_key_wipe(&k);
        return rc;
    }
    mtp_mt_dh_gen_ok_t ok = MTP_INIT(mt_dh_gen_ok);
    mtp_mt_dh_gen_retry_t retry = MTP_INIT(mt_dh_gen_retry);
    mtp_mt_dh_gen_fail_t failm = MTP_INIT(mt_dh_gen_fail);
    const mtp_tl_object_t *obj;
    if (which == 1) {
        memcpy(ok.nonce, s->nonce, 16);
        memcpy(ok.server_nonce, s->server_nonce, 16);
        memcpy(ok.new_nonce_hash1, hash, 16);
        obj = &ok._;
    } else if (which == 2) {
        memcpy(retry.nonce, s->nonce, 16);
        memcpy(retry.server_nonce, s->server_nonce, 16);
        memcpy(retry.new_nonce_hash2, hash, 16);
        obj = &retry._;
    } else {
        memcpy(failm.nonce, s->nonce, 16);
        memcpy(failm.server_nonce, s->server_nonce, 16);
        memcpy(failm.new_nonce_hash3, hash, 16);
        obj = &failm._;
    }
    rc = answer(s, now, SLOT_SET, body, obj, out);
    if (rc) {
        mtp_auth_key_wipe(&k);
        return rc;
    }
    if (which == 2) {
        s->retries++;
        s->retry_id = (int64_t)mtp_get_le64(k.aux_hash);
        mtp_auth_key_wipe(&k);
        *ev = MTP_HS_EV_SEND;
        return 0;
    }
    if (which == 3) {
        /* refused; the client starts over with req_pq */
        mtp_auth_key_wipe(&k);
        wipe_exchange(s);
        s->state = MTP_HS_IDLE;
        *ev = MTP_HS_EV_SEND;
        return 0;
    }
    mtp_hs_result_t *r = &s->result;
    mtp_hs_result_wipe(r);
    r->key = k;
    mtp_auth_key_wipe(&k);
    uint8_t salt[8];
    mtp_initial_server_salt(s->new_nonce, s->server_nonce, salt);
    r->server_salt = (int64_t)mtp_get_le64(salt);
    r->dc_id = s->dc;
    r->temp = s->temp;
    r->rsa_fingerprint = s->rsa_fp;
    r->retries = s->retries;
    if (s->temp) {
        r->expires_in = s->expires_in;
        r->expires_at = (int32_t)(now / MTP_USEC_PER_SEC + s->expires_in);
    }
    s->have_result = true;
    wipe_exchange(s);
    s->state = MTP_HS_DONE;
    *ev = MTP_HS_EV_KEY;
    return 0;
}

/* ---------------------------------------------------------------------------------- */

int mtp_hs_server_feed(mtp_hs_server_t *s, mtp_usec_t now, const uint8_t *pkt, size_t len,
                       mtp_buf_t *out, mtp_hs_event_t *ev)
{
    if (!ev)
        return MTP_EINVAL;
    *ev = MTP_HS_EV_NONE;
    if (!s || !out || (!pkt && len))
        return MTP_EINVAL;
    if (s->state == MTP_HS_FAILED) {
        *ev = MTP_HS_EV_REJECT;
        return MTP_ESTATE;
    }
    int64_t msg_id;
    mtp_bytes_t body;
    int rc = mtp_plain_unpack(pkt, len, &msg_id, &body);
    if (rc || (msg_id & 3) != 0 || body.len < 4)
        return reject(s, MTP_EPROTO, -404, ev);

    /* an identical resend of a request of this exchange: replay the cached answer */
    if (s->state != MTP_HS_IDLE && now - s->started <= s->cfg.replay_window) {
        for (int i = 0; i < NSLOTS; i++) {
            mtp_buf_t *req = &s->cache[i].req;
            if (req->len && req->len == body.len && !memcmp(req->data, body.ptr, body.len)) {
                int64_t saved = s->last_msg_id;
                rc = mtp_hs_repack_(&s->cache[i].ans,
                                    mtp_hs_msg_id_(now, 0, 1, &s->last_msg_id), out);
                if (rc) {
                    s->last_msg_id = saved;
                    return rc;            /* local failure: not the client's fault */
                }
                *ev = MTP_HS_EV_SEND;
                return 0;
            }
        }
    }

    uint32_t id = mtp_get_le32(body.ptr);
    size_t out_len = out->len;
    int32_t terr = -404;
    mtp_arena_reset(s->arena);
    if (id == MTP_ID_mt_req_pq_multi || id == MTP_ID_mt_req_pq) {
        rc = on_req_pq(s, now, body, out);
        if (!rc)
            *ev = MTP_HS_EV_SEND;
    } else if (s->state == MTP_HS_DH_REQ || s->state == MTP_HS_DH_SET) {
        if (now - s->started > s->cfg.replay_window)
            rc = MTP_ETIMEDOUT;       /* the exchange is forgotten after 10 minutes */
        else if (id == MTP_ID_mt_req_DH_params && s->state == MTP_HS_DH_REQ) {
            rc = on_req_dh(s, now, body, out, &terr);
            if (!rc)
                *ev = MTP_HS_EV_SEND;
        } else if (id == MTP_ID_mt_set_client_DH_params && s->state == MTP_HS_DH_SET)
            rc = on_set_dh(s, now, body, out, ev);
        else
            rc = MTP_EPROTO;
    } else {
        rc = MTP_EPROTO;
    }
    mtp_arena_reset(s->arena);
    if (rc) {
        if (out->len > out_len)
            mtp_secure_zero(out->data + out_len, out->len - out_len);
        out->len = out_len;
        return reject(s, rc, terr, ev);
    }
    return 0;
}
