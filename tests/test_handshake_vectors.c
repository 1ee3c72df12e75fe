/* Key exchange, client role, replayed byte for byte against recorded exchanges:
 *  - tests/vectors/auth_key_flow_grammers.json: the full exchange (RSA_PAD included) with
 *    every random input fixed;
 *  - tests/vectors/auth_key_sample_official.json: the official worked example (everything
 *    but the RSA_PAD output, whose temp_key the page does not publish). */
#include <mtproto/handshake.h>
#include <mtproto/tl.h>
#include <mtproto/tl_mtproto.h>

#include <stdlib.h>

#include "testutil.h"

static size_t hex_at(const tj *root, const char *path, uint8_t **out)
{
    const tj *v = tj_path(root, path);
    if (!v)
        tap_bail("missing %s", path);
    size_t n = tj_hex(v, out);
    if (n == (size_t)-1)
        tap_bail("bad hex at %s", path);
    return n;
}

static mtp_rsa_key_t *load_key(const char *name)
{
    tj *keys = tj_load("tests/vectors/rsa_public_keys.json");
    const tj *arr = tj_get(keys, "keys");
    mtp_rsa_key_t *k = NULL;
    for (size_t i = 0; i < tj_len(arr); i++) {
        const tj *e = tj_at(arr, i);
        if (!strcmp(tj_str(tj_get(e, "name")), name)) {
            const char *pem = tj_str(tj_get(e, "pem"));
            if (mtp_rsa_load_public_pem(pem, strlen(pem), &k))
                tap_bail("cannot load %s", name);
        }
    }
    tj_free(keys);
    if (!k)
        tap_bail("no key %s", name);
    return k;
}

/* Wrap a recorded server body as an unencrypted packet. */
static void server_packet(const uint8_t *body, size_t n, int64_t msg_id, mtp_buf_t *out)
{
    mtp_buf_clear(out);
    if (mtp_plain_pack(msg_id, body, n, out))
        tap_bail("plain_pack");
}

/* Check the request in pkt (one unencrypted message) and return its body. */
static mtp_bytes_t request_body(const mtp_buf_t *pkt, mtp_usec_t now, const char *what)
{
    int64_t id = 0;
    mtp_bytes_t b = { NULL, 0 };
    int rc = mtp_plain_unpack(pkt->data, pkt->len, &id, &b);
    OK(rc == 0 && (id & 3) == 0 && (id >> 32) == now / MTP_USEC_PER_SEC && (id & 0xffffffff),
       "%s: unencrypted, msg_id = time << 32 | fraction, divisible by 4", what);
    return b;
}

/* ---------------------------------------------------------------------------------- */

static void test_grammers(void)
{
    tj *v = tj_load("tests/vectors/auth_key_flow_grammers.json");
    mtp_rsa_key_t *key = load_key("tdlib_test_dc");
    IS_INT(mtp_rsa_fingerprint(key), tj_int(tj_path(v, "rsa_key.fingerprint_int64")),
           "grammers: test-DC key fingerprint");

    uint8_t *r1, *r2, *r3, *inner;
    size_t n1 = hex_at(v, "step1.random", &r1);
    size_t n2 = hex_at(v, "step2.random", &r2);
    size_t n3 = hex_at(v, "step3.random", &r3);
    size_t ninner = hex_at(v, "intermediate.p_q_inner_data", &inner);
    /* Our consumption order (handshake.h) is the recorded one: nonce; new_nonce + one
     * 224-byte RSA_PAD draw (padding = [0:192-len], temp_key = [192:224]); b + padding. */
    OK(n1 == 16 && n2 == 256 && n3 >= 256 && ninner <= 144, "grammers: random blocks");
    size_t total = n1 + n2 + n3;
    uint8_t *rnd = malloc(total);
    memcpy(rnd, r1, n1);
    memcpy(rnd + n1, r2, n2);
    memcpy(rnd + n1 + n2, r3, n3);

    mtp_rng_replay_t rs;
    mtp_rng_t rng;
    mtp_rng_replay_init(&rng, &rs, rnd, total);
    const mtp_rsa_key_t *keys[] = { key };
    mtp_hs_client_config_t cfg = {
        .rsa_keys = keys, .n_rsa_keys = 1,
        .flags = MTP_HS_LEGACY_INNER,   /* grammers sends p_q_inner_data (no dc) */
        .rng = &rng,
    };
    mtp_hs_client_t *c;
    IS_INT(mtp_hs_client_new(&cfg, &c), 0, "grammers: client");
    mtp_usec_t now = (mtp_usec_t)tj_int(tj_path(v, "how_random_is_consumed.now_unix")) *
                     MTP_USEC_PER_SEC;
    mtp_buf_t out, in;
    mtp_buf_init(&out);
    mtp_buf_init(&in);

    static const char *const steps[] = { "step1", "step2", "step3" };
    IS_INT(mtp_hs_client_start(c, now, &out), 0, "grammers: start");
    IS_INT(mtp_hs_client_state(c), MTP_HS_PQ, "grammers: state PQ");
    int64_t srv_id = (int64_t)((uint64_t)(now / MTP_USEC_PER_SEC) << 32 | 0x1001);
    for (int s = 0; s < 3; s++) {
        char path[64];
        uint8_t *req, *resp;
        snprintf(path, sizeof path, "%s.request", steps[s]);
        size_t nreq = hex_at(v, path, &req);
        snprintf(path, sizeof path, "%s.response", steps[s]);
        size_t nresp = hex_at(v, path, &resp);
        mtp_bytes_t b = request_body(&out, now, steps[s]);
        IS_INT(b.len, nreq, "grammers %s: request length", steps[s]);
        tap_mem_eq(b.ptr, req, nreq < b.len ? nreq : b.len, "grammers %s: request byte for byte",
                   steps[s]);
        server_packet(resp, nresp, srv_id += 4, &in);
        mtp_buf_clear(&out);
        IS_INT(mtp_hs_client_feed(c, now, in.data, in.len, &out), 0,
               "grammers %s: response accepted", steps[s]);
        free(req);
        free(resp);
    }
    IS_INT(mtp_hs_client_state(c), MTP_HS_DONE, "grammers: DONE");
    IS_INT(out.len, 0, "grammers: nothing more to send");
    /* step 3 recorded 16 spare bytes after b; the client_DH_inner_data padding takes 12 */
    IS_INT(mtp_rng_replay_left(&rs), n3 - 256 - 12, "grammers: recorded randomness consumed exactly");

    mtp_hs_result_t r;
    IS_INT(mtp_hs_client_result(c, &r), 0, "grammers: result");
    uint8_t *ak, *kid, *aux;
    hex_at(v, "expected.auth_key", &ak);
    hex_at(v, "expected.auth_key_id_le", &kid);
    hex_at(v, "expected.auth_key_aux_hash", &aux);
    tap_mem_eq(r.key.key, ak, 256, "grammers: auth_key");
    tap_mem_eq(r.key.id, kid, 8, "grammers: auth_key_id");
    tap_mem_eq(r.key.aux_hash, aux, 8, "grammers: aux hash");
    IS_INT(r.key.id64, tj_int(tj_path(v, "expected.auth_key_id_int64")), "grammers: key id int64");
    IS_INT(r.server_salt, tj_int(tj_path(v, "expected.first_salt_int64")), "grammers: first salt");
    IS_INT(r.time_offset, tj_int(tj_path(v, "expected.time_offset")), "grammers: time offset 0");
    OK(!r.temp && r.expires_at == 0 && r.dc_id == 0 && r.retries == 0, "grammers: permanent key");
    IS_INT(mtp_hs_client_feed(c, now, in.data, in.len, &out), MTP_ESTATE,
           "grammers: feeding after DONE -> ESTATE");
    mtp_hs_result_wipe(&r);

    free(ak), free(kid), free(aux), free(rnd), free(r1), free(r2), free(r3), free(inner);
    mtp_buf_free(&out);
    mtp_buf_free(&in);
    mtp_hs_client_free(c);
    mtp_rsa_free(key);
    tj_free(v);
}

/* ---------------------------------------------------------------------------------- */

/* BE compare of two 256-byte numbers: a < b */
static bool be_less(const uint8_t *a, const uint8_t *b, size_t n)
{
    return memcmp(a, b, n) < 0;
}

/*
 * A temp_key for which RSA_PAD needs no retry (key_aes_encrypted < n), so the replayed
 * stream stays aligned. This recomputes the RSA_PAD steps of docs/PROTOCOL.md §4 with the
 * crypto primitives.
 */
static void pick_temp_key(const mtp_rsa_key_t *key, const uint8_t dwp[192], uint8_t tk[32])
{
    uint8_t n[256];
    size_t nl = 0;
    mtp_rsa_get_n(key, n, sizeof n, &nl);
    for (uint32_t ctr = 0;; ctr++) {
        uint8_t seed[4] = { (uint8_t)ctr, (uint8_t)(ctr >> 8), 0x77, 0x31 };
        mtp_sha256(seed, 4, tk);
        uint8_t dwh[224], h[32], zero[32] = { 0 }, kae[256];
        for (int i = 0; i < 192; i++)
            dwh[i] = dwp[191 - i];
        mtp_bytes_t parts[2] = { MTP_BYTES(tk, 32), MTP_BYTES(dwp, 192) };
        mtp_sha256_v(parts, 2, dwh + 192);
        mtp_aes256_ige_encrypt(tk, zero, dwh, kae + 32, 224);
        mtp_sha256(kae + 32, 224, h);
        for (int i = 0; i < 32; i++)
            kae[i] = tk[i] ^ h[i];
        if (nl == 256 && be_less(kae, n, 256))
            return;
    }
}

static void test_official(void)
{
    tj *v = tj_load("tests/vectors/auth_key_sample_official.json");
    mtp_rsa_key_t *prod = load_key("tdlib_production");
    mtp_rsa_key_t *other = load_key("telethon_current_1");   /* not advertised */
    IS_INT(mtp_rsa_fingerprint(prod), tj_int(tj_path(v, "inputs.chosen_fingerprint_int64")),
           "official: production key fingerprint");

    uint8_t *nonce, *new_nonce, *pad, *b, *dhpad, *inner;
    hex_at(v, "inputs.nonce", &nonce);
    hex_at(v, "inputs.new_nonce", &new_nonce);
    size_t padn = hex_at(v, "rsa_step.random_padding_bytes", &pad);
    size_t bn = hex_at(v, "inputs.b", &b);
    size_t dhpadn = hex_at(v, "inputs.client_dh_padding", &dhpad);
    size_t ninner = hex_at(v, "rsa_step.p_q_inner_data_dc", &inner);
    OK(ninner + padn == 192 && bn == 256, "official: inputs");
    uint8_t dwp[192], tk[32];
    memcpy(dwp, inner, ninner);
    memcpy(dwp + ninner, pad, padn);
    pick_temp_key(prod, dwp, tk);

    /* the RSA_PAD draw: 224 bytes, padding first, temp_key last, the middle unused */
    size_t total = 16 + 32 + 224 + bn + dhpadn;
    uint8_t *rnd = calloc(1, total), *p = rnd;
    memcpy(p, nonce, 16), p += 16;
    memcpy(p, new_nonce, 32), p += 32;
    memcpy(p, pad, padn);
    memcpy(p + 192, tk, 32), p += 224;
    memcpy(p, b, bn), p += bn;
    memcpy(p, dhpad, dhpadn);
    mtp_rng_replay_t rs;
    mtp_rng_t rng;
    mtp_rng_replay_init(&rng, &rs, rnd, total);

    const mtp_rsa_key_t *keys[] = { other, prod };
    mtp_hs_client_config_t cfg = {
        .rsa_keys = keys, .n_rsa_keys = 2,
        .dc_id = (int32_t)tj_int(tj_path(v, "inputs.dc")),
        .rng = &rng,
    };
    mtp_hs_client_t *c;
    IS_INT(mtp_hs_client_new(&cfg, &c), 0, "official: client");
    /* local clock half a second behind the server */
    mtp_usec_t server_time = (mtp_usec_t)tj_int(tj_path(v, "dh_step.server_time"));
    mtp_usec_t now = (server_time - 1) * MTP_USEC_PER_SEC + 500000;
    mtp_buf_t out, in;
    mtp_buf_init(&out);
    mtp_buf_init(&in);

    uint8_t *body;
    size_t nb;
    IS_INT(mtp_hs_client_start(c, now, &out), 0, "official: start");
    mtp_bytes_t got = request_body(&out, now, "official req_pq_multi");
    nb = hex_at(v, "messages.req_pq_multi.body", &body);
    OK(got.len == nb && !memcmp(got.ptr, body, nb), "official: req_pq_multi body byte for byte");
    free(body);

    /* resPQ (the page's length field is wrong: re-wrap the body with the right one) */
    nb = hex_at(v, "messages.resPQ.body", &body);
    server_packet(body, nb, (int64_t)0x65abc0fcbe6fc401ULL, &in);
    free(body);
    mtp_buf_clear(&out);
    IS_INT(mtp_hs_client_feed(c, now, in.data, in.len, &out), 0,
           "official: resPQ accepted (first fingerprint we hold: the 3rd advertised)");
    got = request_body(&out, now, "official req_DH_params");
    nb = hex_at(v, "messages.req_DH_params.body", &body);
    OK(got.len == nb, "official: req_DH_params length");
    /* all but the RSA output (the last 256 bytes) */
    OK(got.len == nb && !memcmp(got.ptr, body, nb - 256),
       "official: req_DH_params body byte for byte up to encrypted_data");
    free(body);

    nb = hex_at(v, "messages.server_DH_params_ok.body", &body);
    server_packet(body, nb, (int64_t)0x65abc0fd649ae001ULL, &in);
    free(body);
    mtp_buf_clear(&out);
    IS_INT(mtp_hs_client_feed(c, now, in.data, in.len, &out), 0,
           "official: server_DH_params_ok accepted");
    /* msg_ids now follow the server clock */
    int64_t id;
    mtp_bytes_t sb;
    mtp_plain_unpack(out.data, out.len, &id, &sb);
    IS_INT(id >> 32, server_time, "official: set_client_DH_params msg_id in server time");
    nb = hex_at(v, "messages.set_client_DH_params.body", &body);
    OK(sb.len == nb && !memcmp(sb.ptr, body, nb), "official: set_client_DH_params byte for byte");
    free(body);

    nb = hex_at(v, "messages.dh_gen_ok.body", &body);
    server_packet(body, nb, (int64_t)0x65abc0fdf6a6c001ULL, &in);
    free(body);
    mtp_buf_clear(&out);
    IS_INT(mtp_hs_client_feed(c, now + 2000, in.data, in.len, &out), 0,
           "official: dh_gen_ok accepted (new_nonce_hash1 verified)");
    IS_INT(mtp_hs_client_state(c), MTP_HS_DONE, "official: DONE");
    IS_INT(mtp_rng_replay_left(&rs), 0, "official: all inputs consumed");

    mtp_hs_result_t r;
    IS_INT(mtp_hs_client_result(c, &r), 0, "official: result");
    uint8_t *ak, *kid, *aux;
    hex_at(v, "result.auth_key", &ak);
    hex_at(v, "result.derived_not_on_page.auth_key_id_le", &kid);
    hex_at(v, "result.derived_not_on_page.auth_key_aux_hash", &aux);
    tap_mem_eq(r.key.key, ak, 256, "official: auth_key");
    tap_mem_eq(r.key.id, kid, 8, "official: auth_key_id");
    tap_mem_eq(r.key.aux_hash, aux, 8, "official: aux hash");
    IS_INT(r.server_salt, tj_int(tj_path(v, "result.derived_not_on_page.server_salt_int64")),
           "official: server_salt");
    IS_INT(r.time_offset, 500000, "official: time offset = server_time - now");
    IS_INT(r.dc_id, 2, "official: dc");
    mtp_hs_result_wipe(&r);
    free(ak), free(kid), free(aux);

    free(nonce), free(new_nonce), free(pad), free(b), free(dhpad), free(inner), free(rnd);
    mtp_buf_free(&out);
    mtp_buf_free(&in);
    mtp_hs_client_free(c);
    mtp_rsa_free(prod);
    mtp_rsa_free(other);
    tj_free(v);
}

int main(void)
{
    test_grammers();
    test_official();
    return tap_done();
}
