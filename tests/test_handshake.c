/* Key exchange: our client against our server in memory (permanent and temporary keys,
 * many seeds, dh_gen_retry, resends), and one negative test per check on both sides,
 * driven by a scripted fake peer built from the generated TL structs. */
#include <mtproto/handshake.h>
#include <mtproto/tl.h>
#include <mtproto/tl_mtproto.h>

#include <stdlib.h>

#include "testutil.h"

/* the prime the server role uses (Telegram's, from crypto.h) */
#define mtp_hs_dh_prime (mtp_dh_known_prime())

/* ---- deterministic RNG: SHA256(seed || counter) blocks ---- */
typedef struct seeded {
    uint8_t seed[8];
    uint64_t ctr;
    uint8_t block[32];
    size_t used;
} seeded_t;

static int seeded_fill(void *ctx, uint8_t *out, size_t n)
{
    seeded_t *s = ctx;
    while (n) {
        if (s->used == 32) {
            uint8_t in[16];
            memcpy(in, s->seed, 8);
            for (int i = 0; i < 8; i++)
                in[8 + i] = (uint8_t)(s->ctr >> (8 * i));
            s->ctr++;
            mtp_sha256(in, sizeof in, s->block);
            s->used = 0;
        }
        size_t k = 32 - s->used < n ? 32 - s->used : n;
        memcpy(out, s->block + s->used, k);
        s->used += k;
        out += k;
        n -= k;
    }
    return 0;
}

static void seeded_init(seeded_t *s, mtp_rng_t *rng, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 8; i++)
        s->seed[i] = (uint8_t)(seed >> (8 * i));
    s->used = 32;
    rng->fill = seeded_fill;
    rng->ctx = s;
}

static mtp_rsa_key_t *g_priv;   /* the server's key pair */
static mtp_rsa_key_t *g_pub;    /* its public half, as a client has it */
static mtp_rsa_key_t *g_priv2;  /* a second server key */
static const mtp_usec_t T0 = 1705754877LL * 1000000;

static void setup_keys(void)
{
    if (mtp_rsa_generate(2048, &g_priv) || mtp_rsa_generate(2048, &g_priv2))
        tap_bail("rsa_generate");
    char pem[4096];
    size_t n;
    if (mtp_rsa_public_pem(g_priv, pem, sizeof pem, &n) || mtp_rsa_load_public_pem(pem, n, &g_pub))
        tap_bail("public pem");
}

/* ---------------------------------------------------------------------------------- */
/* client <-> server in memory                                                        */
/* ---------------------------------------------------------------------------------- */

typedef struct pair_opts {
    int32_t expires_in;
    unsigned flags;
    int32_t client_dc, server_dc;
    int collisions;          /* the server's key_exists says yes this many times */
    int server_retries;      /* max_retries of the server */
    bool extra_fp;           /* the server advertises an unknown fingerprint first */
    bool resend;             /* the client resends every request once (server replays) */
} pair_opts_t;

static bool collide(void *ctx, int64_t id)
{
    (void)id;
    int *left = ctx;
    if (*left > 0) {
        (*left)--;
        return true;
    }
    return false;
}

typedef struct pair_res {
    int client_rc, server_rc;
    mtp_hs_state_t cs, ss;
    mtp_hs_result_t cr, sr;
    int32_t terr;
    int replays_equal;       /* resent requests answered with identical bodies */
} pair_res_t;

static bool same_body(const mtp_buf_t *a, const mtp_buf_t *b)
{
    int64_t ia, ib;
    mtp_bytes_t ba, bb;
    return !mtp_plain_unpack(a->data, a->len, &ia, &ba) && !mtp_plain_unpack(b->data, b->len, &ib, &bb) &&
           ba.len == bb.len && !memcmp(ba.ptr, bb.ptr, ba.len) && ib > ia;
}

static void run_pair(uint64_t seed, const pair_opts_t *o, pair_res_t *res)
{
    memset(res, 0, sizeof *res);
    seeded_t cst, sst;
    mtp_rng_t crng, srng;
    seeded_init(&cst, &crng, seed);
    seeded_init(&sst, &srng, seed ^ 0x5eed5eed5eedULL);
    const mtp_rsa_key_t *ckeys[] = { g_pub };
    const mtp_rsa_key_t *skeys[] = { g_priv2, g_priv };
    int64_t extra[] = { 0x1122334455667788LL };
    int collisions = o->collisions;
    mtp_hs_client_config_t cc = {
        .rsa_keys = ckeys, .n_rsa_keys = 1, .dc_id = o->client_dc, .expires_in = o->expires_in,
        .flags = o->flags, .rng = &crng,
    };
    mtp_hs_server_config_t sc = {
        .rsa_keys = skeys, .n_rsa_keys = 2, .dc_id = o->server_dc,
        .extra_fingerprints = o->extra_fp ? extra : NULL, .n_extra_fingerprints = o->extra_fp,
        .key_exists = collide, .key_exists_ctx = &collisions, .max_retries = o->server_retries,
        .rng = &srng,
    };
    mtp_hs_client_t *c = NULL;
    mtp_hs_server_t *s = NULL;
    if (mtp_hs_client_new(&cc, &c) || mtp_hs_server_new(&sc, &s))
        tap_bail("new");
    mtp_buf_t c2s, s2c, again;
    mtp_buf_init(&c2s);
    mtp_buf_init(&s2c);
    mtp_buf_init(&again);
    mtp_usec_t now = T0 + (mtp_usec_t)(seed % 1000) * 1000;
    res->client_rc = mtp_hs_client_start(c, now, &c2s);
    for (int round = 0; round < 20 && !res->client_rc; round++) {
        mtp_hs_event_t ev;
        mtp_buf_clear(&s2c);
        res->server_rc = mtp_hs_server_feed(s, now, c2s.data, c2s.len, &s2c, &ev);
        if (res->server_rc || ev == MTP_HS_EV_REJECT) {
            res->terr = mtp_hs_server_transport_error(s);
            break;
        }
        if (o->resend) {
            /* the client resends its request; the server must answer identically */
            mtp_buf_clear(&c2s);
            mtp_hs_client_resend(c, now + 1000, &c2s);
            mtp_buf_clear(&again);
            mtp_hs_event_t ev2;
            if (!mtp_hs_server_feed(s, now + 1000, c2s.data, c2s.len, &again, &ev2) &&
                ev2 == MTP_HS_EV_SEND && same_body(&s2c, &again))
                res->replays_equal++;
        }
        mtp_buf_clear(&c2s);
        now += 1500;
        res->client_rc = mtp_hs_client_feed(c, now, s2c.data, s2c.len, &c2s);
        if (mtp_hs_client_state(c) != MTP_HS_DH_REQ && mtp_hs_client_state(c) != MTP_HS_DH_SET)
            break;
        now += 1500;
    }
    res->cs = mtp_hs_client_state(c);
    res->ss = mtp_hs_server_state(s);
    mtp_hs_client_result(c, &res->cr);
    mtp_hs_server_result(s, &res->sr);
    mtp_buf_free(&c2s);
    mtp_buf_free(&s2c);
    mtp_buf_free(&again);
    mtp_hs_client_free(c);
    mtp_hs_server_free(s);
}

static bool results_agree(const pair_res_t *r)
{
    return !memcmp(&r->cr.key, &r->sr.key, sizeof r->cr.key) &&
           r->cr.server_salt == r->sr.server_salt && r->cr.temp == r->sr.temp &&
           r->cr.expires_in == r->sr.expires_in && r->cr.dc_id == r->sr.dc_id &&
           r->cr.retries == r->sr.retries;
}

static void test_pairs(void)
{
    int ok = 0, agree = 0, total = 0, temp_ok = 0;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        pair_opts_t o = { 0 };
        o.expires_in = (seed & 1) ? 0 : 3600 * (int32_t)seed;
        o.flags = (seed % 3 == 0) ? MTP_HS_LEGACY_INNER : 0;
        o.client_dc = (seed % 4 == 0) ? -2 : 2;
        o.server_dc = 2;
        o.extra_fp = seed % 5 == 0;
        pair_res_t r;
        run_pair(seed, &o, &r);
        total++;
        if (r.client_rc == 0 && r.server_rc == 0 && r.cs == MTP_HS_DONE && r.ss == MTP_HS_DONE)
            ok++;
        else
            tap_diag("seed %llu: client %d server %d states %d/%d", (unsigned long long)seed,
                     r.client_rc, r.server_rc, r.cs, r.ss);
        if (results_agree(&r))
            agree++;
        if (o.expires_in && r.cr.temp && r.cr.expires_in == o.expires_in &&
            r.sr.expires_at == (int32_t)((T0 + (mtp_usec_t)(seed % 1000) * 1000) / 1000000 +
                                         o.expires_in) &&
            r.cr.expires_at >= r.sr.expires_at && r.cr.expires_at <= r.sr.expires_at + 1)
            temp_ok++;
        mtp_hs_result_wipe(&r.cr);
        mtp_hs_result_wipe(&r.sr);
    }
    IS_INT(ok, total, "memory pairs: every seed completes (perm/temp, dc/legacy, media dc)");
    IS_INT(agree, total, "memory pairs: client and server agree on key, salt, temp, dc");
    IS_INT(temp_ok, total / 2, "memory pairs: temp keys carry expires_in / expires_at");

    /* the key itself: auth_key_id and salt derivation */
    pair_opts_t o = { .server_dc = 2, .client_dc = 2 };
    pair_res_t r;
    run_pair(99, &o, &r);
    OK(r.cs == MTP_HS_DONE && r.cr.key.id64 == mtp_auth_key_id64(r.cr.key.key) && r.cr.dc_id == 2 &&
           !r.cr.temp && r.cr.expires_at == 0,
       "pair: auth_key_id = SHA1(key)[12:20], permanent key, dc 2");
    OK(r.cr.time_offset > -MTP_USEC_PER_SEC && r.cr.time_offset <= 0, "pair: client learned the server clock");
    mtp_hs_result_wipe(&r.cr);
    mtp_hs_result_wipe(&r.sr);

    /* dh_gen_retry: the server's collision predicate says yes once */
    o.collisions = 1;
    run_pair(7, &o, &r);
    OK(r.cs == MTP_HS_DONE && r.ss == MTP_HS_DONE && r.cr.retries == 1 && results_agree(&r),
       "dh_gen_retry once: both sides DONE after one retry, same key");
    mtp_hs_result_wipe(&r.cr);
    mtp_hs_result_wipe(&r.sr);
    o.collisions = 3;
    run_pair(8, &o, &r);
    OK(r.cs == MTP_HS_DONE && r.cr.retries == 3 && results_agree(&r), "dh_gen_retry three times");
    mtp_hs_result_wipe(&r.cr);
    mtp_hs_result_wipe(&r.sr);
    /* the server gives up after max_retries: dh_gen_fail, the client reports EPROTO */
    o.collisions = 100;
    o.server_retries = 2;
    run_pair(9, &o, &r);
    OK(r.client_rc == MTP_EPROTO && r.cs == MTP_HS_FAILED && r.ss == MTP_HS_IDLE,
       "collisions forever: dh_gen_fail -> client EPROTO, server back to IDLE");
    /* the client's own retry limit */
    o.server_retries = 50;
    run_pair(10, &o, &r);
    IS_INT(r.client_rc, MTP_EPROTO, "client gives up after its max_retries dh_gen_retry rounds");

    /* identical resends are answered from the cache */
    pair_opts_t ro = { .server_dc = 2, .client_dc = 2, .resend = true, .expires_in = 60 };
    run_pair(11, &ro, &r);
    OK(r.cs == MTP_HS_DONE && results_agree(&r), "resends: exchange still completes");
    IS_INT(r.replays_equal, 3, "resends: all three answers replayed identically");
    mtp_hs_result_wipe(&r.cr);
    mtp_hs_result_wipe(&r.sr);

    /* dc checks: a production harness rejects another dc with -444 */
    pair_opts_t dco = { .server_dc = 2, .client_dc = 10002 };
    run_pair(12, &dco, &r);
    OK(r.server_rc == MTP_EPROTO && r.terr == -444 && r.ss == MTP_HS_FAILED,
       "wrong dc -> reject with -444");
    dco.flags = MTP_HS_LEGACY_INNER;
    run_pair(13, &dco, &r);
    OK(r.cs == MTP_HS_DONE && r.sr.dc_id == 0, "legacy inner data (no dc) accepted");
    mtp_hs_result_wipe(&r.cr);
    mtp_hs_result_wipe(&r.sr);
}

/* ---------------------------------------------------------------------------------- */
/* scripted fake server (client-side negatives)                                       */
/* ---------------------------------------------------------------------------------- */

typedef struct fake {
    mtp_arena_t *arena;
    int64_t msg_id;
    uint8_t nonce[16], server_nonce[16], new_nonce[32];
    uint8_t tmp_key[32], tmp_iv[32];
    uint8_t a[256];
    uint8_t auth_key[256], aux[8];
    int64_t retry_id;
    bool inner_ok;
} fake_t;

static void fake_init(fake_t *f)
{
    memset(f, 0, sizeof *f);
    f->arena = mtp_arena_new(0);
    f->msg_id = (int64_t)((uint64_t)(T0 / 1000000) << 32 | 0x101);
    for (int i = 0; i < 16; i++)
        f->server_nonce[i] = (uint8_t)(0xc0 + i);
}

static void fake_free(fake_t *f)
{
    mtp_arena_free(f->arena);
    mtp_secure_zero(f, sizeof *f);
}

static void fake_pack(fake_t *f, const mtp_tl_object_t *o, mtp_buf_t *out)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    if (mtp_tl_encode(o, &b))
        tap_bail("encode %s", o->tl->name);
    mtp_buf_clear(out);
    f->msg_id += 4;
    mtp_plain_pack(f->msg_id, b.data, b.len, out);
    mtp_buf_free(&b);
}

/* Decode the body of a client packet. */
static mtp_tl_object_t *fake_read(fake_t *f, const mtp_buf_t *pkt)
{
    int64_t id;
    mtp_bytes_t body;
    mtp_tl_object_t *o = NULL;
    if (mtp_plain_unpack(pkt->data, pkt->len, &id, &body) ||
        mtp_tl_decode(mtp_tl_layer(0), body.ptr, body.len, f->arena, &o))
        return NULL;
    return o;
}

typedef struct respq_opts {
    const uint8_t *pq;
    size_t pq_len;
    const int64_t *fps;
    uint32_t nfps;
    bool bad_nonce;
} respq_opts_t;

static const uint8_t PQ_OK[8] = { 0x17, 0xed, 0x48, 0x94, 0x1a, 0x08, 0xf9, 0x81 };

static void fake_respq(fake_t *f, const mtp_buf_t *req, const respq_opts_t *o, mtp_buf_t *out)
{
    mtp_mt_req_pq_multi_t *q = (mtp_mt_req_pq_multi_t *)fake_read(f, req);
    if (!q || q->_.tl != &mtp_tlc_mt_req_pq_multi)
        tap_bail("not req_pq_multi");
    memcpy(f->nonce, q->nonce, 16);
    int64_t fp = mtp_rsa_fingerprint(g_priv);
    mtp_mt_resPQ_t r = MTP_INIT(mt_resPQ);
    memcpy(r.nonce, f->nonce, 16);
    if (o && o->bad_nonce)
        r.nonce[3] ^= 1;
    memcpy(r.server_nonce, f->server_nonce, 16);
    r.pq.ptr = o && o->pq ? o->pq : PQ_OK;
    r.pq.len = o && o->pq ? o->pq_len : 8;
    r.server_public_key_fingerprints.n = o && o->fps ? o->nfps : 1;
    r.server_public_key_fingerprints.v = o && o->fps ? (int64_t *)o->fps : &fp;
    fake_pack(f, &r._, out);
}

/* Read req_DH_params: RSA_PAD-decrypt the inner data and remember new_nonce. */
static void fake_take_req_dh(fake_t *f, const mtp_buf_t *req)
{
    mtp_mt_req_DH_params_t *q = (mtp_mt_req_DH_params_t *)fake_read(f, req);
    if (!q || q->_.tl != &mtp_tlc_mt_req_DH_params)
        tap_bail("not req_DH_params");
    uint8_t dwp[192];
    if (mtp_rsa_pad_decrypt(g_priv, q->encrypted_data.ptr, q->encrypted_data.len, dwp))
        tap_bail("rsa_pad_decrypt");
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, mtp_tl_layer(0), dwp, sizeof dwp, f->arena);
    mtp_tl_object_t *o = mtp_tl_read_object(&r, NULL);
    if (!o || o->tl != &mtp_tlc_mt_p_q_inner_data_dc)
        tap_bail("inner data");
    mtp_mt_p_q_inner_data_dc_t *d = (mtp_mt_p_q_inner_data_dc_t *)o;
    f->inner_ok = !memcmp(d->nonce, f->nonce, 16) && !memcmp(d->server_nonce, f->server_nonce, 16) &&
                  d->pq.len == 8 && !memcmp(d->pq.ptr, PQ_OK, 8) && d->dc == 2;
    memcpy(f->new_nonce, d->new_nonce, 32);
    mtp_tmp_aes_key_iv(f->new_nonce, f->server_nonce, f->tmp_key, f->tmp_iv);
}

typedef struct dh_opts {
    int g;                       /* 0 = 3 */
    const uint8_t *prime;        /* NULL = the known prime */
    size_t prime_len;
    const uint8_t *g_a;          /* NULL = g^a for a fresh a */
    size_t g_a_len;
    int extra_pad;               /* padding beyond the minimum (>= 16 is invalid) */
    bool bad_sha, bad_inner_nonce, bad_inner_server_nonce, bad_nonce, bad_server_nonce;
    bool trunc;                  /* encrypted_answer not a multiple of 16 */
    bool wrong_ctor;             /* client_DH_inner_data in place of server_DH_inner_data */
} dh_opts_t;

static void fake_dh_ok(fake_t *f, const dh_opts_t *o, mtp_buf_t *out)
{
    dh_opts_t d0 = { 0 };
    if (!o)
        o = &d0;
    int g = o->g ? o->g : 3;
    const uint8_t *prime = o->prime ? o->prime : mtp_hs_dh_prime;
    size_t prime_len = o->prime ? o->prime_len : 256;
    uint8_t g_a[256];
    size_t g_a_len = 256;
    if (o->g_a) {
        memcpy(g_a, o->g_a, o->g_a_len);
        g_a_len = o->g_a_len;
        memset(f->a, 7, sizeof f->a);
    } else if (mtp_dh_generate(mtp_hs_dh_prime, 256, 3, NULL, f->a, g_a, &g_a_len)) {
        tap_bail("dh_generate");
    }
    mtp_mt_server_DH_inner_data_t d = MTP_INIT(mt_server_DH_inner_data);
    memcpy(d.nonce, f->nonce, 16);
    memcpy(d.server_nonce, f->server_nonce, 16);
    if (o->bad_inner_nonce)
        d.nonce[0] ^= 0x80;
    if (o->bad_inner_server_nonce)
        d.server_nonce[15] ^= 1;
    d.g = g;
    d.dh_prime.ptr = prime;
    d.dh_prime.len = prime_len;
    d.g_a.ptr = g_a;
    d.g_a.len = g_a_len;
    d.server_time = (int32_t)(T0 / 1000000);
    mtp_mt_client_DH_inner_data_t wrong = MTP_INIT(mt_client_DH_inner_data);
    memcpy(wrong.nonce, f->nonce, 16);
    memcpy(wrong.server_nonce, f->server_nonce, 16);
    wrong.g_b = d.g_a;
    mtp_buf_t ans;
    mtp_buf_init(&ans);
    mtp_tl_encode(o->wrong_ctor ? &wrong._ : &d._, &ans);
    uint8_t awh[1200];
    size_t n = 20 + ans.len;
    size_t pad = (16 - n % 16) % 16 + (size_t)o->extra_pad;
    memcpy(awh + 20, ans.data, ans.len);
    mtp_sha1(ans.data, ans.len, awh);
    if (o->bad_sha)
        awh[5] ^= 1;
    memset(awh + n, 0x3c, pad);
    n += pad;
    mtp_aes256_ige_encrypt(f->tmp_key, f->tmp_iv, awh, awh, n);
    mtp_buf_free(&ans);
    mtp_mt_server_DH_params_ok_t r = MTP_INIT(mt_server_DH_params_ok);
    memcpy(r.nonce, f->nonce, 16);
    memcpy(r.server_nonce, f->server_nonce, 16);
    if (o->bad_nonce)
        r.nonce[1] ^= 1;
    if (o->bad_server_nonce)
        r.server_nonce[1] ^= 1;
    r.encrypted_answer.ptr = awh;
    r.encrypted_answer.len = o->trunc ? n - 4 : n;
    fake_pack(f, &r._, out);
}

/* Read set_client_DH_params: decrypt, check the hash, derive the key. 0 if sane. */
static int fake_take_set_dh(fake_t *f, const mtp_buf_t *req)
{
    mtp_mt_set_client_DH_params_t *q = (mtp_mt_set_client_DH_params_t *)fake_read(f, req);
    if (!q || q->_.tl != &mtp_tlc_mt_set_client_DH_params)
        return -1;
    size_t n = q->encrypted_data.len;
    uint8_t dwh[1024];
    if (n > sizeof dwh || n % 16)
        return -1;
    mtp_aes256_ige_decrypt(f->tmp_key, f->tmp_iv, q->encrypted_data.ptr, dwh, n);
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, mtp_tl_layer(0), dwh + 20, n - 20, f->arena);
    mtp_mt_client_DH_inner_data_t *d = (mtp_mt_client_DH_inner_data_t *)mtp_tl_read_object(&r, NULL);
    if (!d || d->_.tl != &mtp_tlc_mt_client_DH_inner_data)
        return -1;
    uint8_t h[20];
    mtp_sha1(dwh + 20, (size_t)(r.p - r.start), h);
    if (memcmp(h, dwh, 20) || (size_t)(r.end - r.p) >= 16)
        return -1;
    f->retry_id = d->retry_id;
    if (mtp_dh_shared(mtp_hs_dh_prime, 256, d->g_b.ptr, d->g_b.len, f->a, f->auth_key))
        return -1;
    mtp_auth_key_aux_hash(f->auth_key, f->aux);
    return 0;
}

static void fake_dh_gen(fake_t *f, int which, bool bad_hash, bool bad_nonce, mtp_buf_t *out)
{
    uint8_t h[16];
    mtp_new_nonce_hash(f->new_nonce, which, f->aux, h);
    if (bad_hash)
        h[15] ^= 1;
    mtp_mt_dh_gen_ok_t ok = MTP_INIT(mt_dh_gen_ok);
    mtp_mt_dh_gen_retry_t re = MTP_INIT(mt_dh_gen_retry);
    mtp_mt_dh_gen_fail_t fa = MTP_INIT(mt_dh_gen_fail);
    uint8_t nonce[16];
    memcpy(nonce, f->nonce, 16);
    if (bad_nonce)
        nonce[0] ^= 1;
    memcpy(ok.nonce, nonce, 16), memcpy(re.nonce, nonce, 16), memcpy(fa.nonce, nonce, 16);
    memcpy(ok.server_nonce, f->server_nonce, 16);
    memcpy(re.server_nonce, f->server_nonce, 16);
    memcpy(fa.server_nonce, f->server_nonce, 16);
    memcpy(ok.new_nonce_hash1, h, 16);
    memcpy(re.new_nonce_hash2, h, 16);
    memcpy(fa.new_nonce_hash3, h, 16);
    fake_pack(f, which == 1 ? &ok._ : which == 2 ? &re._ : &fa._, out);
}

/* A client (seeded) for the fake server. */
static mtp_hs_client_t *new_client(uint64_t seed, seeded_t *st, mtp_rng_t *rng)
{
    seeded_init(st, rng, seed);
    static const mtp_rsa_key_t *keys[1];
    keys[0] = g_pub;
    mtp_hs_client_config_t cfg = { .rsa_keys = keys, .n_rsa_keys = 1, .dc_id = 2, .rng = rng };
    mtp_hs_client_t *c;
    if (mtp_hs_client_new(&cfg, &c))
        tap_bail("client_new");
    return c;
}

/* Expect the client to fail with rc, be FAILED, keep out untouched and stay failed. */
static void expect_fail(mtp_hs_client_t *c, const mtp_buf_t *in, int rc, const char *what)
{
    mtp_buf_t out;
    mtp_buf_init(&out);
    mtp_buf_append(&out, "xyz!", 4);
    int got = mtp_hs_client_feed(c, T0 + 5000, in->data, in->len, &out);
    IS_INT(got, rc, "client: %s -> %s", what, mtp_strerror(rc));
    OK(mtp_hs_client_state(c) == MTP_HS_FAILED && mtp_hs_client_error(c) == rc && out.len == 4 &&
           !memcmp(out.data, "xyz!", 4),
       "client: %s: FAILED, nothing sent", what);
    mtp_hs_result_t r;
    OK(mtp_hs_client_result(c, &r) == MTP_ESTATE &&
           mtp_hs_client_feed(c, T0, in->data, in->len, &out) == MTP_ESTATE &&
           mtp_hs_client_resend(c, T0, &out) == MTP_ESTATE &&
           mtp_hs_client_deadline(c) == MTP_TIME_NEVER,
       "client: %s: stays failed", what);
    mtp_buf_free(&out);
}

/* Client in state PQ with its req_pq_multi in out. */
static mtp_hs_client_t *at_pq(uint64_t seed, seeded_t *st, mtp_rng_t *rng, fake_t *f, mtp_buf_t *out)
{
    mtp_hs_client_t *c = new_client(seed, st, rng);
    fake_init(f);
    mtp_buf_clear(out);
    if (mtp_hs_client_start(c, T0, out))
        tap_bail("start");
    return c;
}

/* Client in state DH_REQ, the fake holding new_nonce. */
static mtp_hs_client_t *at_dh_req(uint64_t seed, seeded_t *st, mtp_rng_t *rng, fake_t *f)
{
    mtp_buf_t out, in;
    mtp_buf_init(&out);
    mtp_buf_init(&in);
    mtp_hs_client_t *c = at_pq(seed, st, rng, f, &out);
    fake_respq(f, &out, NULL, &in);
    mtp_buf_clear(&out);
    if (mtp_hs_client_feed(c, T0 + 1000, in.data, in.len, &out))
        tap_bail("resPQ");
    fake_take_req_dh(f, &out);
    mtp_buf_free(&out);
    mtp_buf_free(&in);
    return c;
}

/* Client in state DH_SET, the fake holding the auth key. */
static mtp_hs_client_t *at_dh_set(uint64_t seed, seeded_t *st, mtp_rng_t *rng, fake_t *f)
{
    mtp_hs_client_t *c = at_dh_req(seed, st, rng, f);
    mtp_buf_t out, in;
    mtp_buf_init(&out);
    mtp_buf_init(&in);
    fake_dh_ok(f, NULL, &in);
    if (mtp_hs_client_feed(c, T0 + 2000, in.data, in.len, &out) || fake_take_set_dh(f, &out))
        tap_bail("server_DH_params_ok");
    mtp_buf_free(&out);
    mtp_buf_free(&in);
    return c;
}

/* A 2048-bit prime p (p mod 3 = 2) for which (p-1)/2 is composite: not a safe prime. */
static const char *UNSAFE_PRIME =
    "98084b472d4b5fadd61b263ee5b44c76ea4859f4704ad232e00f5cb2e063a8ab978e717d436d9966b3b70fde3e"
    "e7448cca08c1d2a0f9bcc82a8c965e637c13e4409872a9a02f6f31065a4040d44497274057df464319766c1fd6"
    "743dbdbc825424d32721c8a001bb7be4707946971a3dd0ac8d484367c393573d81def7afdebd5fc9bef124cf4b"
    "00e29d59c65794063e1deba994168239ccbdf7963f0f50b0420ace4c5f7435699c911bab8e3515cbce909089ae"
    "90e0035500fb09177e8962c8102b4a8f59d8e35174c9b27623544c0468a156d0d4653a615f835bcf8d3de7f6d1"
    "42c5904c990e74836e8205ecacdaf71934b6356384c1fb9e8848f7875b8d79";
/* RFC 2409 Oakley group 2: a 1024-bit safe prime (wrong size). */
static const char *SMALL_SAFE_PRIME =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E34"
    "04DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6"
    "F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";

static void test_client_negative(void)
{
    seeded_t st;
    mtp_rng_t rng;
    fake_t f;
    mtp_buf_t out, in;
    mtp_buf_init(&out);
    mtp_buf_init(&in);
    mtp_hs_client_t *c;

    /* ---- the happy path through the fake, as a baseline ---- */
    c = at_dh_set(1, &st, &rng, &f);
    OK(f.inner_ok, "fake: client's p_q_inner_data_dc carries nonces, pq, dc 2");
    IS_INT(f.retry_id, 0, "fake: first retry_id is 0");
    OK(mtp_hs_client_deadline(c) == T0 + 2000 + 10 * 1000000, "deadline = last send + 10 s");
    fake_dh_gen(&f, 2, false, false, &in);              /* dh_gen_retry */
    mtp_buf_clear(&out);
    IS_INT(mtp_hs_client_feed(c, T0 + 3000, in.data, in.len, &out), 0, "dh_gen_retry accepted");
    uint8_t old_aux[8];
    memcpy(old_aux, f.aux, 8);
    OK(fake_take_set_dh(&f, &out) == 0 && f.retry_id == (int64_t)mtp_get_le64(old_aux),
       "after dh_gen_retry: new g_b, retry_id = aux_hash of the previous key");
    fake_dh_gen(&f, 1, false, false, &in);
    mtp_buf_clear(&out);
    IS_INT(mtp_hs_client_feed(c, T0 + 4000, in.data, in.len, &out), 0, "dh_gen_ok accepted");
    mtp_hs_result_t r;
    OK(mtp_hs_client_result(c, &r) == 0 && !memcmp(r.key.key, f.auth_key, 256) && r.retries == 1,
       "fake: same auth key after one retry");
    mtp_hs_result_wipe(&r);
    mtp_hs_client_free(c);
    fake_free(&f);

    /* ---- envelope / TL level ---- */
    c = at_pq(2, &st, &rng, &f, &out);
    fake_respq(&f, &out, NULL, &in);
    in.data[0] = 1;
    expect_fail(c, &in, MTP_EPROTO, "auth_key_id != 0");
    mtp_hs_client_free(c), fake_free(&f);

    c = at_pq(2, &st, &rng, &f, &out);
    fake_respq(&f, &out, NULL, &in);
    in.data[8] &= ~1;   /* even msg_id */
    expect_fail(c, &in, MTP_EPROTO, "server msg_id even");
    mtp_hs_client_free(c), fake_free(&f);

    c = at_pq(2, &st, &rng, &f, &out);
    fake_respq(&f, &out, NULL, &in);
    in.len -= 4;
    in.data[16] -= 4;   /* consistent envelope, truncated TL */
    expect_fail(c, &in, MTP_EPROTO, "truncated resPQ");
    mtp_hs_client_free(c), fake_free(&f);

    c = at_pq(2, &st, &rng, &f, &out);
    fake_respq(&f, &out, NULL, &in);
    mtp_buf_append(&in, "\0\0\0\0", 4);
    in.data[16] += 4;
    expect_fail(c, &in, MTP_EPROTO, "resPQ with trailing bytes");
    mtp_hs_client_free(c), fake_free(&f);

    c = at_pq(2, &st, &rng, &f, &out);
    fake_dh_gen(&f, 1, false, false, &in);
    expect_fail(c, &in, MTP_EPROTO, "dh_gen_ok instead of resPQ");
    mtp_hs_client_free(c), fake_free(&f);

    /* ---- resPQ ---- */
    c = at_pq(3, &st, &rng, &f, &out);
    respq_opts_t ro = { .bad_nonce = true };
    fake_respq(&f, &out, &ro, &in);
    expect_fail(c, &in, MTP_ESECURITY, "resPQ nonce not echoed");
    mtp_hs_client_free(c), fake_free(&f);

    c = at_pq(3, &st, &rng, &f, &out);
    int64_t unknown[] = { 0x0102030405060708LL, -3414540481677951611LL };
    ro = (respq_opts_t){ .fps = unknown, .nfps = 2 };
    fake_respq(&f, &out, &ro, &in);
    expect_fail(c, &in, MTP_ESECURITY, "no fingerprint we hold");
    mtp_hs_client_free(c), fake_free(&f);

    c = at_pq(3, &st, &rng, &f, &out);
    ro = (respq_opts_t){ .fps = unknown, .nfps = 0 };
    fake_respq(&f, &out, &ro, &in);
    expect_fail(c, &in, MTP_ESECURITY, "empty fingerprint list");
    mtp_hs_client_free(c), fake_free(&f);

    static const uint8_t pq9[9] = { 0x01, 0x17, 0xed, 0x48, 0x94, 0x1a, 0x08, 0xf9, 0x81 };
    c = at_pq(3, &st, &rng, &f, &out);
    ro = (respq_opts_t){ .pq = pq9, .pq_len = 9 };
    fake_respq(&f, &out, &ro, &in);
    expect_fail(c, &in, MTP_EPROTO, "pq longer than 8 bytes");
    mtp_hs_client_free(c), fake_free(&f);

    static const uint8_t pq_prime[8] = { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe7 };  /* 2^63-25 */
    c = at_pq(3, &st, &rng, &f, &out);
    ro = (respq_opts_t){ .pq = pq_prime, .pq_len = 8 };
    fake_respq(&f, &out, &ro, &in);
    expect_fail(c, &in, MTP_EPROTO, "pq prime (not factorable)");
    mtp_hs_client_free(c), fake_free(&f);

    static const uint8_t pq_sq[4] = { 0x00, 0x01, 0x00, 0x01 };          /* 65537: prime */
    c = at_pq(3, &st, &rng, &f, &out);
    ro = (respq_opts_t){ .pq = pq_sq, .pq_len = 4 };
    fake_respq(&f, &out, &ro, &in);
    expect_fail(c, &in, MTP_EPROTO, "pq = 65537 (prime)");
    mtp_hs_client_free(c), fake_free(&f);

    static const uint8_t pq_3p[4] = { 0x00, 0x00, 0x01, 0x1d };          /* 285 = 3*5*19 */
    c = at_pq(3, &st, &rng, &f, &out);
    ro = (respq_opts_t){ .pq = pq_3p, .pq_len = 4 };
    fake_respq(&f, &out, &ro, &in);
    expect_fail(c, &in, MTP_EPROTO, "pq with three factors");
    mtp_hs_client_free(c), fake_free(&f);

    /* ---- server_DH_params_ok ---- */
    struct {
        const char *what;
        dh_opts_t o;
        int rc;
    } dh_cases[] = {
        { "server_DH_params_ok nonce", { .bad_nonce = true }, MTP_ESECURITY },
        { "server_DH_params_ok server_nonce", { .bad_server_nonce = true }, MTP_ESECURITY },
        { "encrypted_answer length % 16", { .trunc = true }, MTP_ESECURITY },
        { "bad answer SHA1", { .bad_sha = true }, MTP_ESECURITY },
        { "answer padding >= 16", { .extra_pad = 16 }, MTP_ESECURITY },
        { "nonce inside the answer", { .bad_inner_nonce = true }, MTP_ESECURITY },
        { "server_nonce inside the answer", { .bad_inner_server_nonce = true }, MTP_ESECURITY },
        { "wrong constructor inside the answer", { .wrong_ctor = true }, MTP_ESECURITY },
        { "g = 1", { .g = 1 }, MTP_ESECURITY },
        { "g = 8", { .g = 8 }, MTP_ESECURITY },
        { "g = -3", { .g = -3 }, MTP_ESECURITY },
        { "g = 2 (p mod 8 != 7)", { .g = 2 }, MTP_ESECURITY },
        { "g = 5 (p mod 5 not 1/4)", { .g = 5 }, MTP_ESECURITY },
        { "g = 6 (p mod 24 not 19/23)", { .g = 6 }, MTP_ESECURITY },
    };
    for (size_t i = 0; i < sizeof dh_cases / sizeof dh_cases[0]; i++) {
        c = at_dh_req(10 + i, &st, &rng, &f);
        fake_dh_ok(&f, &dh_cases[i].o, &in);
        expect_fail(c, &in, dh_cases[i].rc, dh_cases[i].what);
        mtp_hs_client_free(c), fake_free(&f);
    }

    /* bad primes */
    uint8_t *unsafe, *small;
    size_t unsafe_len = tu_unhex(UNSAFE_PRIME, &unsafe);
    size_t small_len = tu_unhex(SMALL_SAFE_PRIME, &small);
    uint8_t composite[256], one[1] = { 1 };
    memcpy(composite, mtp_hs_dh_prime, 256);
    composite[255] ^= 2;                 /* p - 2 (p ends in ...5b): odd, composite */
    struct {
        const char *what;
        const uint8_t *p;
        size_t n;
    } primes[] = {
        { "dh_prime not prime", composite, 256 },
        { "dh_prime prime but not safe", unsafe, unsafe_len },
        { "dh_prime 1024-bit safe prime (wrong size)", small, small_len },
        { "dh_prime 255 bytes", mtp_hs_dh_prime + 1, 255 },
        { "dh_prime = 1", one, 1 },
    };
    for (size_t i = 0; i < sizeof primes / sizeof primes[0]; i++) {
        c = at_dh_req(30 + i, &st, &rng, &f);
        uint8_t ga[256];
        memset(ga, 0x55, sizeof ga);
        dh_opts_t o = { .prime = primes[i].p, .prime_len = primes[i].n, .g_a = ga, .g_a_len = 200 };
        fake_dh_ok(&f, &o, &in);
        expect_fail(c, &in, MTP_ESECURITY, primes[i].what);
        mtp_hs_client_free(c), fake_free(&f);
    }
    free(unsafe);
    free(small);

    /* g_a bounds: 1, p-1, p, 2 (in range, below the 2^1984 window), p - 2^1984 (above) */
    uint8_t pm1[256], pw[256], lo[256], two[1] = { 2 };
    memcpy(pm1, mtp_hs_dh_prime, 256);
    pm1[255] -= 1;
    memcpy(pw, mtp_hs_dh_prime, 256);
    pw[7] -= 1;                          /* p - 2^1984 (byte i weighs 2^(8*(255-i))) */
    memset(lo, 0, sizeof lo);
    lo[7] = 1;                           /* exactly 2^1984 */
    struct {
        const char *what;
        const uint8_t *v;
        size_t n;
    } gas[] = {
        { "g_a = 1", one, 1 },
        { "g_a = 2 (below 2^1984)", two, 1 },
        { "g_a = 2^1984", lo, 256 },
        { "g_a = p - 2^1984", pw, 256 },
        { "g_a = p - 1", pm1, 256 },
        { "g_a = p", mtp_hs_dh_prime, 256 },
    };
    for (size_t i = 0; i < sizeof gas / sizeof gas[0]; i++) {
        c = at_dh_req(40 + i, &st, &rng, &f);
        dh_opts_t o = { .g_a = gas[i].v, .g_a_len = gas[i].n };
        fake_dh_ok(&f, &o, &in);
        expect_fail(c, &in, MTP_ESECURITY, gas[i].what);
        mtp_hs_client_free(c), fake_free(&f);
    }

    /* other valid g for the known prime are accepted: 4 (always) and 7 (p mod 7 = 6) */
    for (int g = 4; g <= 7; g += 3) {
        c = at_dh_req(50 + (uint64_t)g, &st, &rng, &f);
        uint8_t ga[256];
        size_t gal = 0;
        if (mtp_dh_generate(mtp_hs_dh_prime, 256, g, NULL, f.a, ga, &gal))
            tap_bail("dh_generate g=%d", g);
        dh_opts_t o = { .g = g, .g_a = ga, .g_a_len = gal };
        fake_dh_ok(&f, &o, &in);
        mtp_buf_clear(&out);
        IS_INT(mtp_hs_client_feed(c, T0 + 2000, in.data, in.len, &out), 0, "g = %d accepted", g);
        mtp_hs_client_free(c), fake_free(&f);
    }

    /* server_DH_params_fail */
    for (int bad = 0; bad < 2; bad++) {
        c = at_dh_req(60 + (uint64_t)bad, &st, &rng, &f);
        mtp_mt_server_DH_params_fail_t m = MTP_INIT(mt_server_DH_params_fail);
        memcpy(m.nonce, f.nonce, 16);
        memcpy(m.server_nonce, f.server_nonce, 16);
        mtp_new_nonce_hash_fail(f.new_nonce, m.new_nonce_hash);
        if (bad)
            m.new_nonce_hash[0] ^= 1;
        fake_pack(&f, &m._, &in);
        expect_fail(c, &in, bad ? MTP_ESECURITY : MTP_EPROTO,
                    bad ? "server_DH_params_fail with a wrong hash" : "server_DH_params_fail");
        mtp_hs_client_free(c), fake_free(&f);
    }

    /* ---- dh_gen_* ---- */
    struct {
        const char *what;
        int which;
        bool bad_hash, bad_nonce;
        int rc;
    } gen[] = {
        { "dh_gen_ok with a wrong new_nonce_hash1", 1, true, false, MTP_ESECURITY },
        { "dh_gen_ok with a wrong nonce", 1, false, true, MTP_ESECURITY },
        { "dh_gen_retry with a wrong new_nonce_hash2", 2, true, false, MTP_ESECURITY },
        { "dh_gen_fail with a wrong new_nonce_hash3", 3, true, false, MTP_ESECURITY },
        { "dh_gen_fail", 3, false, false, MTP_EPROTO },
    };
    for (size_t i = 0; i < sizeof gen / sizeof gen[0]; i++) {
        c = at_dh_set(70 + i, &st, &rng, &f);
        fake_dh_gen(&f, gen[i].which, gen[i].bad_hash, gen[i].bad_nonce, &in);
        expect_fail(c, &in, gen[i].rc, gen[i].what);
        mtp_hs_client_free(c), fake_free(&f);
    }
    /* hash1 in a dh_gen_retry (the hash of the wrong constructor) */
    c = at_dh_set(80, &st, &rng, &f);
    {
        uint8_t h[16];
        mtp_new_nonce_hash(f.new_nonce, 1, f.aux, h);
        mtp_mt_dh_gen_retry_t m = MTP_INIT(mt_dh_gen_retry);
        memcpy(m.nonce, f.nonce, 16);
        memcpy(m.server_nonce, f.server_nonce, 16);
        memcpy(m.new_nonce_hash2, h, 16);
        fake_pack(&f, &m._, &in);
    }
    expect_fail(c, &in, MTP_ESECURITY, "dh_gen_retry carrying new_nonce_hash1");
    mtp_hs_client_free(c), fake_free(&f);

    /* ---- API misuse ---- */
    c = new_client(90, &st, &rng);
    IS_INT(mtp_hs_client_feed(c, T0, in.data, in.len, &out), MTP_ESTATE, "feed before start -> ESTATE");
    IS_INT(mtp_hs_client_resend(c, T0, &out), MTP_ESTATE, "resend before start -> ESTATE");
    IS_INT(mtp_hs_client_start(c, T0, &out), 0, "start");
    IS_INT(mtp_hs_client_start(c, T0, &out), MTP_ESTATE, "second start -> ESTATE");
    mtp_hs_client_free(c);
    mtp_hs_client_config_t bad = { 0 };
    IS_INT(mtp_hs_client_new(&bad, &c), MTP_EINVAL, "config without keys -> EINVAL");
    mtp_hs_client_free(NULL);

    /* rng failure at start: FAILED with the rng's error */
    {
        uint8_t few[4] = { 0 };
        mtp_rng_replay_t rs;
        mtp_rng_t rr;
        mtp_rng_replay_init(&rr, &rs, few, sizeof few);
        const mtp_rsa_key_t *keys[] = { g_pub };
        mtp_hs_client_config_t cfg = { .rsa_keys = keys, .n_rsa_keys = 1, .rng = &rr };
        mtp_hs_client_new(&cfg, &c);
        mtp_buf_clear(&out);
        OK(mtp_hs_client_start(c, T0, &out) == MTP_ERANGE && out.len == 0 &&
               mtp_hs_client_state(c) == MTP_HS_FAILED,
           "rng exhausted at start -> error, FAILED, nothing sent");
        mtp_hs_client_free(c);
    }
    mtp_buf_free(&out);
    mtp_buf_free(&in);
}

/* ---------------------------------------------------------------------------------- */
/* server-side negatives: forged client messages                                      */
/* ---------------------------------------------------------------------------------- */

typedef struct srv {
    mtp_hs_server_t *s;
    seeded_t st;
    mtp_rng_t rng;
    mtp_arena_t *arena;
    int64_t msg_id;
    uint8_t nonce[16], server_nonce[16], new_nonce[32], tmp_key[32], tmp_iv[32];
    uint64_t pq, p, q;
    uint8_t g_a[256];
    size_t g_a_len;
} srv_t;

static void srv_open(srv_t *v, uint64_t seed)
{
    memset(v, 0, sizeof *v);
    seeded_init(&v->st, &v->rng, seed);
    static const mtp_rsa_key_t *keys[1];   /* borrowed by the server: must outlive it */
    keys[0] = g_priv;
    mtp_hs_server_config_t cfg = { .rsa_keys = keys, .n_rsa_keys = 1, .dc_id = 2, .rng = &v->rng };
    if (mtp_hs_server_new(&cfg, &v->s))
        tap_bail("server_new");
    v->arena = mtp_arena_new(0);
    v->msg_id = (int64_t)((uint64_t)(T0 / 1000000) << 32 | 0x1000);
    for (int i = 0; i < 16; i++)
        v->nonce[i] = (uint8_t)(0x10 + i);
    for (int i = 0; i < 32; i++)
        v->new_nonce[i] = (uint8_t)(0x90 + i);
}

static void srv_close(srv_t *v)
{
    mtp_hs_server_free(v->s);
    mtp_arena_free(v->arena);
}

/* Bytes of padding srv_send puts after the object, inside message_data_length (TDLib sends
 * 0..255 random bytes there). */
static size_t g_srv_pad;

/* Send obj to the server; returns the feed rc, *ev, and the answer object in *ans. */
static int srv_send(srv_t *v, const mtp_tl_object_t *obj, mtp_hs_event_t *ev, mtp_tl_object_t **ans)
{
    mtp_buf_t b, pkt, out;
    mtp_buf_init(&b);
    mtp_buf_init(&pkt);
    mtp_buf_init(&out);
    mtp_tl_encode(obj, &b);
    for (size_t i = 0; i < g_srv_pad; i++)
        mtp_buf_append(&b, (const uint8_t[]){ (uint8_t)(i * 37 + 11) }, 1);
    v->msg_id += 4;
    mtp_plain_pack(v->msg_id, b.data, b.len, &pkt);
    int rc = mtp_hs_server_feed(v->s, T0 + 1000, pkt.data, pkt.len, &out, ev);
    if (ans) {
        *ans = NULL;
        int64_t id;
        mtp_bytes_t body;
        if (!rc && !mtp_plain_unpack(out.data, out.len, &id, &body) && (id & 3) == 1)
            mtp_tl_decode(mtp_tl_layer(0), body.ptr, body.len, v->arena, ans);
    }
    mtp_buf_free(&b);
    mtp_buf_free(&pkt);
    mtp_buf_free(&out);
    return rc;
}

static void srv_expect_reject(srv_t *v, int rc, mtp_hs_event_t ev, const char *what)
{
    IS_INT(rc, MTP_ESECURITY, "server: %s -> ESECURITY", what);
    OK(ev == MTP_HS_EV_REJECT && mtp_hs_server_transport_error(v->s) == -404 &&
           mtp_hs_server_state(v->s) == MTP_HS_FAILED,
       "server: %s: reject with -404", what);
    /* poisoned: even a fresh req_pq_multi is refused now */
    mtp_mt_req_pq_multi_t q = MTP_INIT(mt_req_pq_multi);
    mtp_hs_event_t ev2;
    OK(srv_send(v, &q._, &ev2, NULL) == MTP_ESTATE && ev2 == MTP_HS_EV_REJECT,
       "server: %s: connection poisoned", what);
}

/* req_pq_multi -> resPQ; fills server_nonce, pq, p, q. */
static void srv_step1(srv_t *v)
{
    mtp_mt_req_pq_multi_t q = MTP_INIT(mt_req_pq_multi);
    memcpy(q.nonce, v->nonce, 16);
    mtp_hs_event_t ev;
    mtp_tl_object_t *a;
    if (srv_send(v, &q._, &ev, &a) || ev != MTP_HS_EV_SEND || !a || a->tl != &mtp_tlc_mt_resPQ)
        tap_bail("server step 1");
    mtp_mt_resPQ_t *r = (mtp_mt_resPQ_t *)a;
    memcpy(v->server_nonce, r->server_nonce, 16);
    v->pq = 0;
    for (size_t i = 0; i < r->pq.len; i++)
        v->pq = v->pq << 8 | r->pq.ptr[i];
    if (mtp_factorize_pq(v->pq, &v->p, &v->q))
        tap_bail("server pq");
}

static size_t be8(uint64_t x, uint8_t out[8])
{
    size_t n = 0;
    for (uint64_t t = x; t; t >>= 8)
        n++;
    for (size_t i = 0; i < n; i++)
        out[n - 1 - i] = (uint8_t)(x >> (8 * i));
    return n;
}

typedef struct req_dh_opts {
    bool bad_nonce, bad_server_nonce, bad_p, bad_fp, bad_pad, swap_pq;
    bool inner_bad_nonce, inner_bad_server_nonce, inner_bad_pq, temp, legacy, bad_expires;
    int32_t dc;
} req_dh_opts_t;

static int srv_step2(srv_t *v, const req_dh_opts_t *o, mtp_hs_event_t *ev)
{
    uint8_t pq[8], p[8], q[8];
    size_t pql = be8(v->pq, pq), pl = be8(v->p, p), ql = be8(v->q, q);
    mtp_bytes_t PQ = { pq, pql }, P = { p, pl }, Q = { q, ql };
    uint8_t nonce[16], snonce[16];
    memcpy(nonce, v->nonce, 16);
    memcpy(snonce, v->server_nonce, 16);
    if (o->inner_bad_nonce)
        nonce[2] ^= 1;
    if (o->inner_bad_server_nonce)
        snonce[2] ^= 1;
    uint8_t pq_bad[8];
    memcpy(pq_bad, pq, 8);
    pq_bad[pql - 1] ^= 2;
    mtp_mt_p_q_inner_data_dc_t d = MTP_INIT(mt_p_q_inner_data_dc);
    mtp_mt_p_q_inner_data_temp_dc_t t = MTP_INIT(mt_p_q_inner_data_temp_dc);
    mtp_mt_p_q_inner_data_t l = MTP_INIT(mt_p_q_inner_data);
#define FILLD(x)                                                   \
    do {                                                           \
        (x).pq = o->inner_bad_pq ? (mtp_bytes_t){ pq_bad, pql } : PQ; \
        (x).p = P;                                                 \
        (x).q = Q;                                                 \
        memcpy((x).nonce, nonce, 16);                              \
        memcpy((x).server_nonce, snonce, 16);                      \
        memcpy((x).new_nonce, v->new_nonce, 32);                   \
    } while (0)
    FILLD(d);
    FILLD(t);
    FILLD(l);
#undef FILLD
    d.dc = t.dc = o->dc ? o->dc : 2;
    t.expires_in = o->bad_expires ? 0 : 300;
    mtp_buf_t data;
    mtp_buf_init(&data);
    mtp_tl_encode(o->legacy ? &l._ : o->temp ? &t._ : &d._, &data);
    uint8_t enc[256];
    if (mtp_rsa_pad_encrypt(g_priv, data.data, data.len, NULL, enc))
        tap_bail("rsa_pad_encrypt");
    mtp_buf_free(&data);
    if (o->bad_pad)
        enc[200] ^= 1;
    mtp_mt_req_DH_params_t r = MTP_INIT(mt_req_DH_params);
    memcpy(r.nonce, v->nonce, 16);
    memcpy(r.server_nonce, v->server_nonce, 16);
    if (o->bad_nonce)
        r.nonce[0] ^= 1;
    if (o->bad_server_nonce)
        r.server_nonce[0] ^= 1;
    uint8_t p2[8];
    memcpy(p2, p, pl);
    p2[pl - 1] += 2;
    r.p = o->bad_p ? (mtp_bytes_t){ p2, pl } : o->swap_pq ? Q : P;
    r.q = o->swap_pq ? P : Q;
    r.public_key_fingerprint = o->bad_fp ? mtp_rsa_fingerprint(g_priv2) : mtp_rsa_fingerprint(g_priv);
    r.encrypted_data.ptr = enc;
    r.encrypted_data.len = sizeof enc;
    mtp_tl_object_t *a;
    int rc = srv_send(v, &r._, ev, &a);
    if (!rc && a && a->tl == &mtp_tlc_mt_server_DH_params_ok) {
        mtp_mt_server_DH_params_ok_t *ok = (mtp_mt_server_DH_params_ok_t *)a;
        mtp_tmp_aes_key_iv(v->new_nonce, v->server_nonce, v->tmp_key, v->tmp_iv);
        uint8_t awh[1024];
        size_t n = ok->encrypted_answer.len;
        mtp_aes256_ige_decrypt(v->tmp_key, v->tmp_iv, ok->encrypted_answer.ptr, awh, n);
        mtp_tl_reader_t rd;
        mtp_tl_reader_init(&rd, mtp_tl_layer(0), awh + 20, n - 20, v->arena);
        mtp_mt_server_DH_inner_data_t *in = (mtp_mt_server_DH_inner_data_t *)mtp_tl_read_object(&rd, NULL);
        uint8_t h[20];
        mtp_sha1(awh + 20, (size_t)(rd.p - rd.start), h);
        if (!in || in->_.tl != &mtp_tlc_mt_server_DH_inner_data || memcmp(h, awh, 20) ||
            in->g != 3 || in->dh_prime.len != 256 || memcmp(in->dh_prime.ptr, mtp_hs_dh_prime, 256) ||
            in->server_time != (int32_t)(T0 / 1000000) || (size_t)(rd.end - rd.p) >= 16)
            return -1000;
        memcpy(v->g_a, in->g_a.ptr, in->g_a.len);
        v->g_a_len = in->g_a.len;
    }
    return rc;
}

typedef struct set_opts {
    bool bad_sha, bad_nonce, bad_inner_nonce, big_pad;
    int64_t retry_id;
    const uint8_t *g_b;
    size_t g_b_len;
} set_opts_t;

static int srv_step3(srv_t *v, const set_opts_t *o, mtp_hs_event_t *ev, uint8_t auth_key[256])
{
    uint8_t b[256], g_b[256];
    size_t g_b_len;
    if (mtp_dh_generate(mtp_hs_dh_prime, 256, 3, NULL, b, g_b, &g_b_len))
        tap_bail("dh_generate");
    if (auth_key)
        mtp_dh_shared(mtp_hs_dh_prime, 256, v->g_a, v->g_a_len, b, auth_key);
    mtp_mt_client_DH_inner_data_t d = MTP_INIT(mt_client_DH_inner_data);
    memcpy(d.nonce, v->nonce, 16);
    memcpy(d.server_nonce, v->server_nonce, 16);
    if (o->bad_inner_nonce)
        d.nonce[9] ^= 1;
    d.retry_id = o->retry_id;
    d.g_b.ptr = o->g_b ? o->g_b : g_b;
    d.g_b.len = o->g_b ? o->g_b_len : g_b_len;
    mtp_buf_t data;
    mtp_buf_init(&data);
    mtp_tl_encode(&d._, &data);
    uint8_t dwh[1024];
    size_t n = 20 + data.len;
    size_t pad = (16 - n % 16) % 16 + (o->big_pad ? 16 : 0);
    memcpy(dwh + 20, data.data, data.len);
    mtp_sha1(data.data, data.len, dwh);
    if (o->bad_sha)
        dwh[0] ^= 1;
    memset(dwh + n, 0, pad);
    n += pad;
    mtp_buf_free(&data);
    mtp_aes256_ige_encrypt(v->tmp_key, v->tmp_iv, dwh, dwh, n);
    mtp_mt_set_client_DH_params_t s = MTP_INIT(mt_set_client_DH_params);
    memcpy(s.nonce, v->nonce, 16);
    memcpy(s.server_nonce, v->server_nonce, 16);
    if (o->bad_nonce)
        s.server_nonce[15] ^= 1;
    s.encrypted_data.ptr = dwh;
    s.encrypted_data.len = n;
    mtp_tl_object_t *a = NULL;
    int rc = srv_send(v, &s._, ev, &a);
    if (!rc && auth_key && a && a->tl == &mtp_tlc_mt_dh_gen_ok) {
        uint8_t aux[8], h[16];
        mtp_auth_key_aux_hash(auth_key, aux);
        mtp_new_nonce_hash(v->new_nonce, 1, aux, h);
        if (memcmp(h, ((mtp_mt_dh_gen_ok_t *)a)->new_nonce_hash1, 16))
            return -1000;
    }
    return rc;
}

static void test_server_negative(void)
{
    srv_t v;
    mtp_hs_event_t ev;
    int rc;

    /* baseline with forged (but valid) client messages, temp and legacy variants */
    for (int variant = 0; variant < 3; variant++) {
        srv_open(&v, 1 + (uint64_t)variant);
        srv_step1(&v);
        req_dh_opts_t o = { .temp = variant == 1, .legacy = variant == 2 };
        rc = srv_step2(&v, &o, &ev);
        OK(rc == 0 && ev == MTP_HS_EV_SEND && mtp_hs_server_state(v.s) == MTP_HS_DH_SET,
           "server baseline %d: server_DH_params_ok with a valid server_DH_inner_data", variant);
        uint8_t ak[256];
        set_opts_t so = { 0 };
        rc = srv_step3(&v, &so, &ev, ak);
        OK(rc == 0 && ev == MTP_HS_EV_KEY && mtp_hs_server_state(v.s) == MTP_HS_DONE,
           "server baseline %d: dh_gen_ok with the right new_nonce_hash1", variant);
        mtp_hs_result_t r;
        OK(mtp_hs_server_result(v.s, &r) == 0 && !memcmp(r.key.key, ak, 256) &&
               r.temp == (variant == 1) && r.dc_id == (variant == 2 ? 0 : 2) &&
               r.expires_in == (variant == 1 ? 300 : 0),
           "server baseline %d: reported key, temp flag, dc", variant);
        mtp_hs_result_wipe(&r);
        /* a new exchange may start on the same connection */
        memset(v.nonce, 0x42, 16);
        srv_step1(&v);
        OK(mtp_hs_server_state(v.s) == MTP_HS_DH_REQ, "server baseline %d: new exchange after DONE",
           variant);
        srv_close(&v);
    }

    /* TDLib's padded plain messages: accepted up to 1024 trailing bytes (as Telegram does) */
    g_srv_pad = 236;
    srv_open(&v, 7);
    srv_step1(&v);
    req_dh_opts_t po = { 0 };
    rc = srv_step2(&v, &po, &ev);
    OK(rc == 0 && ev == MTP_HS_EV_SEND, "server: padded (236 B) req_pq_multi and req_DH_params accepted");
    uint8_t pak[256];
    set_opts_t pso = { 0 };
    rc = srv_step3(&v, &pso, &ev, pak);
    OK(rc == 0 && ev == MTP_HS_EV_KEY, "server: padded set_client_DH_params accepted: key made");
    srv_close(&v);
    g_srv_pad = 1028;
    srv_open(&v, 8);
    {
        mtp_mt_req_pq_multi_t q = MTP_INIT(mt_req_pq_multi);
        rc = srv_send(&v, &q._, &ev, NULL);
        OK(rc == MTP_EPROTO && ev == MTP_HS_EV_REJECT && mtp_hs_server_transport_error(v.s) == -404,
           "server: req_pq_multi with 1028 trailing bytes rejected with -404");
    }
    srv_close(&v);
    g_srv_pad = 0;

    struct {
        const char *what;
        req_dh_opts_t o;
        int rc;
    } dh[] = {
        { "req_DH_params wrong nonce", { .bad_nonce = true }, MTP_ESECURITY },
        { "req_DH_params wrong server_nonce", { .bad_server_nonce = true }, MTP_ESECURITY },
        { "p * q != pq", { .bad_p = true }, MTP_ESECURITY },
        { "p and q swapped", { .swap_pq = true }, MTP_ESECURITY },
        { "fingerprint of a key we do not have", { .bad_fp = true }, MTP_ESECURITY },
        { "bad RSA_PAD hash", { .bad_pad = true }, MTP_ESECURITY },
        { "inner data wrong nonce", { .inner_bad_nonce = true }, MTP_ESECURITY },
        { "inner data wrong server_nonce", { .inner_bad_server_nonce = true }, MTP_ESECURITY },
        { "inner data wrong pq", { .inner_bad_pq = true }, MTP_ESECURITY },
    };
    for (size_t i = 0; i < sizeof dh / sizeof dh[0]; i++) {
        srv_open(&v, 10 + i);
        srv_step1(&v);
        rc = srv_step2(&v, &dh[i].o, &ev);
        srv_expect_reject(&v, rc, ev, dh[i].what);
        srv_close(&v);
    }
    /* temp key with expires_in 0; wrong dc */
    srv_open(&v, 20);
    srv_step1(&v);
    req_dh_opts_t te = { .temp = true, .bad_expires = true };
    rc = srv_step2(&v, &te, &ev);
    OK(rc == MTP_EPROTO && ev == MTP_HS_EV_REJECT && mtp_hs_server_transport_error(v.s) == -404,
       "server: temp key with expires_in 0 -> EPROTO, -404");
    srv_close(&v);
    srv_open(&v, 21);
    srv_step1(&v);
    req_dh_opts_t wd = { .dc = 4 };
    rc = srv_step2(&v, &wd, &ev);
    OK(rc == MTP_EPROTO && ev == MTP_HS_EV_REJECT && mtp_hs_server_transport_error(v.s) == -444,
       "server: dc 4 on a dc-2 server -> -444");
    srv_close(&v);
    srv_open(&v, 22);
    srv_step1(&v);
    wd.dc = -2;
    OK(srv_step2(&v, &wd, &ev) == 0 && ev == MTP_HS_EV_SEND, "server: media dc -2 accepted");
    srv_close(&v);

    uint8_t one[1] = { 1 }, pm1[256], two[1] = { 2 };
    memcpy(pm1, mtp_hs_dh_prime, 256);
    pm1[255] -= 1;
    struct {
        const char *what;
        set_opts_t o;
        int rc;
    } set[] = {
        { "set_client_DH_params wrong server_nonce", { .bad_nonce = true }, MTP_ESECURITY },
        { "client_DH_inner_data bad SHA1", { .bad_sha = true }, MTP_ESECURITY },
        { "client_DH_inner_data padding >= 16", { .big_pad = true }, MTP_ESECURITY },
        { "client_DH_inner_data wrong nonce", { .bad_inner_nonce = true }, MTP_ESECURITY },
        { "retry_id != 0 on the first try", { .retry_id = 5 }, MTP_ESECURITY },
        { "g_b = 1", { .g_b = one, .g_b_len = 1 }, MTP_ESECURITY },
        { "g_b = 2 (outside the window)", { .g_b = two, .g_b_len = 1 }, MTP_ESECURITY },
        { "g_b = p - 1", { .g_b = pm1, .g_b_len = 256 }, MTP_ESECURITY },
        { "g_b = p", { .g_b = mtp_hs_dh_prime, .g_b_len = 256 }, MTP_ESECURITY },
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
        srv_open(&v, 30 + i);
        srv_step1(&v);
        req_dh_opts_t o = { 0 };
        if (srv_step2(&v, &o, &ev))
            tap_bail("step2");
        rc = srv_step3(&v, &set[i].o, &ev, NULL);
        srv_expect_reject(&v, rc, ev, set[i].what);
        srv_close(&v);
    }

    /* out-of-order and unknown messages */
    srv_open(&v, 40);
    {
        set_opts_t so = { 0 };
        rc = srv_step3(&v, &so, &ev, NULL);
        OK(rc == MTP_EPROTO && ev == MTP_HS_EV_REJECT, "server: set_client_DH_params before req_pq -> EPROTO, reject");
    }
    srv_close(&v);
    srv_open(&v, 41);
    srv_step1(&v);
    {
        mtp_mt_ping_t p = MTP_INIT(mt_ping);
        rc = srv_send(&v, &p._, &ev, NULL);
        OK(rc == MTP_EPROTO && ev == MTP_HS_EV_REJECT && mtp_hs_server_transport_error(v.s) == -404,
           "server: a ping during the exchange -> reject");
    }
    srv_close(&v);

    /* identical req_pq_multi: the same resPQ again; 11 minutes later the exchange is gone */
    srv_open(&v, 42);
    {
        mtp_mt_req_pq_multi_t q = MTP_INIT(mt_req_pq_multi);
        memcpy(q.nonce, v.nonce, 16);
        mtp_tl_object_t *a1, *a2;
        srv_send(&v, &q._, &ev, &a1);
        srv_send(&v, &q._, &ev, &a2);
        OK(a1 && a2 && !memcmp(((mtp_mt_resPQ_t *)a1)->server_nonce, ((mtp_mt_resPQ_t *)a2)->server_nonce, 16),
           "server: resent req_pq_multi gets the cached resPQ");
        memcpy(v.server_nonce, ((mtp_mt_resPQ_t *)a1)->server_nonce, 16);
        mtp_buf_t b, pkt, out;
        mtp_buf_init(&b), mtp_buf_init(&pkt), mtp_buf_init(&out);
        mtp_mt_req_DH_params_t r = MTP_INIT(mt_req_DH_params);
        memcpy(r.nonce, v.nonce, 16);
        memcpy(r.server_nonce, v.server_nonce, 16);
        mtp_tl_encode(&r._, &b);
        mtp_plain_pack(v.msg_id + 400, b.data, b.len, &pkt);
        rc = mtp_hs_server_feed(v.s, T0 + 1000 + 660 * MTP_USEC_PER_SEC, pkt.data, pkt.len, &out, &ev);
        OK(rc == MTP_ETIMEDOUT && ev == MTP_HS_EV_REJECT, "server: req_DH_params 11 minutes later -> reject");
        mtp_buf_free(&b), mtp_buf_free(&pkt), mtp_buf_free(&out);
    }
    srv_close(&v);

    /* a client msg_id not divisible by 4, a non-zero auth_key_id */
    srv_open(&v, 43);
    {
        uint8_t pkt[40] = { 0 };
        pkt[8] = 1;
        pkt[16] = 20;
        pkt[20] = 0xf1, pkt[21] = 0x8e, pkt[22] = 0x7e, pkt[23] = 0xbe;
        mtp_buf_t out;
        mtp_buf_init(&out);
        rc = mtp_hs_server_feed(v.s, T0, pkt, sizeof pkt, &out, &ev);
        OK(rc == MTP_EPROTO && ev == MTP_HS_EV_REJECT && out.len == 0, "server: client msg_id %% 4 != 0 -> reject");
        mtp_buf_free(&out);
    }
    srv_close(&v);

    /* config errors */
    mtp_hs_server_t *s;
    const mtp_rsa_key_t *pubs[] = { g_pub };
    mtp_hs_server_config_t bad = { .rsa_keys = pubs, .n_rsa_keys = 1 };
    IS_INT(mtp_hs_server_new(&bad, &s), MTP_EINVAL, "server config with a public-only key -> EINVAL");
    mtp_hs_server_free(NULL);
}

int main(void)
{
    setup_keys();
    test_pairs();
    test_client_negative();
    test_server_negative();
    mtp_rsa_free(g_priv);
    mtp_rsa_free(g_priv2);
    mtp_rsa_free(g_pub);
    return tap_done();
}
