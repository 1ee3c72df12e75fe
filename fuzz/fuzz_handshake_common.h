/*
 * Shared by fuzz/fuzz_handshake_client.c and fuzz/fuzz_handshake_server.c (included, not
 * compiled alone): an embedded throw-away RSA test key, a deterministic RNG, a recorded
 * reference exchange between our two roles, and an input reader.
 *
 * Both roles draw from SHA256(seed || counter) streams with fixed seeds, so as long as a
 * fuzz run feeds the recorded messages unchanged, each side produces exactly the recorded
 * answers: only the role under test has to run per input.
 */
#ifndef FUZZ_HANDSHAKE_COMMON_H
#define FUZZ_HANDSHAKE_COMMON_H

#include <mtproto/handshake.h>
#include <mtproto/tl.h>
#include <mtproto/tl_mtproto.h>

#include <stdlib.h>
#include <string.h>

/* A 2048-bit key generated for these fuzzers only (it protects nothing). */
static const char TEST_KEY_PEM[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEAtaNGGCFt82CHsJjcbFJYKcW2NN0dXsSSUevT4EsnPkSGzSKy\n"
    "dNbbtVnXoXJ1DfnlnybjdAnWvju+ytSQnWJ3q+aRAyl6CImiNJNSqaBX65sdl+e0\n"
    "OcrITeO/9KD6SMKPouDMnsRde2CXvIhvNEQsskk6whDAWsfqMU7OCC/+2LjTSZk0\n"
    "2Beww37aqAKazNpINZ6RG7ah25EQxJ8YNV2YeP+n/eYIcJZLg8bHt49a8jb62WKQ\n"
    "F4mwdfU6mepTtJm52dhLowRemj/3kM5rXKeD/i2IpI8YeZ6wsxHbXro1KH2UURkS\n"
    "ZkW6vZssZQkOs5I0Sun856M30pdBUW08OtBjJwIDAQABAoIBAAsvlu19gYvvcevK\n"
    "PijdmVhZOLNguqJPcMNixpWVi0EmbzbK4DqZ0MYGVmU260aFEUMP3goTYQouG73a\n"
    "AV3v5nbLqDqNn1pPP5IFUJ3ppgB4eQYV2t+EQXmqgPPLxh4c/UOGnJNafHdQp4eQ\n"
    "z2hkmmwQXnH9Hht5HE8VD1MpwYQPI0QgmW4wFZG+C0ddN6vI1yKRxckDoEoRYwUC\n"
    "ejipWqpbCQMTr93grE1ASxmvehn8mIWO7QUk3Obm+n/I6feno4TpznXTE9Py3pzA\n"
    "CV+i04yH3YuJbERgX3nD2xtidbq/ig36HttbCCwe0fGy1S4oiGz1oFUJOH4t/GBk\n"
    "pZVqduECgYEA2k17cfMaj1tW3hH93J9v4uZZNNalVPpknvNCGgW7CwUAbWvLmEms\n"
    "uTJo/JRD+q39ODT1QmeDli+QZ0hi90HVr1UfcTTwTLvU4WsTjDKkAhBF9QMlQtke\n"
    "BBk2wKA84QFV97ewYr2YaHPYEPo4pZKY//d7vUlmoXaxebLshn86FHMCgYEA1QDy\n"
    "BfPcq5EHcjiejmpGb7/dD3h7hl2kYjBpeUsQM2bzFyuOtRBMIQnH0yGb0VTMwb6Y\n"
    "RZBxjHZaloFDwunpItcYi0s4wP65EZrHbEBT/MTW9BSqi213CtkS3eZ6NqUr37zr\n"
    "CygtOXpJMTQ3PKphEHULeIkUZzSrAlSbOYjXPX0CgYEA2OTG065wIyLjKfzCN2OJ\n"
    "rOykkST6W3X0ZyDV+jjbX9V2WUESpZn9rHtzaBB/gh9ASYoEbBeg26UiWhvHiFa2\n"
    "0l9GwBmS7wpoNhdG8rKV1R8KAqc/bC1/7x6GEdii5AOJwHeXHmO1e4ItmKCji44d\n"
    "yaPAI488Ewx0xK+K5Q6fTBUCgYEAhXkZL8e3EL9JhjaajK1lw+LbeDVMWk9Vkb26\n"
    "aioyVbN+QpelzioPOmixkciupkbYI9P2ASlZLeaAL22C86G12IImvCp/vtgfSjvO\n"
    "GTRaLLt/4uUMVWBbxy1tWCVzkciArKvqMUyUwj6xnKaWsmoldrWRYY+sfFuRiV1R\n"
    "A4WPMtUCgYAHoGMV47mYbMr/2T8JHJBgA/h01cONwFr1yy/+GvymB9HQwPhJihmW\n"
    "NRNWyusc48AiJg/GtRXaI8/0cagveOhI1FMc/Y833darDDPrrbIn1SxkZU3qUdKC\n"
    "8545kOh5ofKBo6ODS02GcG6+R824CrVnKdVkcM55+4azhGS3vlxFww==\n"
    "-----END RSA PRIVATE KEY-----\n"
    ;

#define FZ_T0 ((mtp_usec_t)1705754877 * 1000000)
#define FZ_CLIENT_SEED 1
#define FZ_SERVER_SEED 2

typedef struct fz_rng {
    uint8_t seed;
    uint64_t ctr;
    uint8_t block[32];
    size_t used;
} fz_rng_t;

static int fz_fill(void *ctx, uint8_t *out, size_t n)
{
    fz_rng_t *s = ctx;
    while (n) {
        if (s->used == 32) {
            uint8_t in[9];
            in[0] = s->seed;
            for (int i = 0; i < 8; i++)
                in[1 + i] = (uint8_t)(s->ctr >> (8 * i));
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

static void fz_rng_init(fz_rng_t *s, mtp_rng_t *rng, uint8_t seed)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->used = 32;
    rng->fill = fz_fill;
    rng->ctx = s;
}

/* The reference exchange. */
typedef struct fz_ref {
    mtp_rsa_key_t *key;
    const mtp_rsa_key_t *keys[1];
    mtp_buf_t req[3], ans[3];          /* whole packets */
    uint8_t nonce[16], server_nonce[16], new_nonce[32], tmp_key[32], tmp_iv[32];
    mtp_buf_t inner;                   /* p_q_inner_data_dc as sent */
    int ok;
} fz_ref_t;

static fz_ref_t g_ref;

/* Body of an unencrypted packet, decoded into a (caller) arena; NULL if not decodable. */
static mtp_tl_object_t *fz_decode(const mtp_buf_t *pkt, mtp_arena_t *a)
{
    int64_t id;
    mtp_bytes_t body;
    mtp_tl_object_t *o = NULL;
    if (mtp_plain_unpack(pkt->data, pkt->len, &id, &body) ||
        mtp_tl_decode(mtp_tl_layer(0), body.ptr, body.len, a, &o))
        return NULL;
    return o;
}

/* Re-pack obj with the msg_id of the packet it replaces. */
static void fz_repack(const mtp_tl_object_t *obj, const mtp_buf_t *like, mtp_buf_t *out)
{
    int64_t id = 0;
    mtp_bytes_t body;
    mtp_plain_unpack(like->data, like->len, &id, &body);
    mtp_buf_t b;
    mtp_buf_init(&b);
    mtp_tl_encode(obj, &b);
    mtp_buf_clear(out);
    mtp_plain_pack(id, b.data, b.len, out);
    mtp_buf_free(&b);
}

static void fz_ref_init(void)
{
    if (g_ref.ok)
        return;
    fz_ref_t *r = &g_ref;
    if (mtp_rsa_load_private_pem(TEST_KEY_PEM, strlen(TEST_KEY_PEM), &r->key))
        abort();
    r->keys[0] = r->key;
    for (int i = 0; i < 3; i++) {
        mtp_buf_init(&r->req[i]);
        mtp_buf_init(&r->ans[i]);
    }
    mtp_buf_init(&r->inner);
    fz_rng_t cs, ss;
    mtp_rng_t crng, srng;
    fz_rng_init(&cs, &crng, FZ_CLIENT_SEED);
    fz_rng_init(&ss, &srng, FZ_SERVER_SEED);
    mtp_hs_client_config_t cc = { .rsa_keys = r->keys, .n_rsa_keys = 1, .dc_id = 2, .rng = &crng };
    mtp_hs_server_config_t sc = { .rsa_keys = r->keys, .n_rsa_keys = 1, .dc_id = 2, .rng = &srng };
    mtp_hs_client_t *c;
    mtp_hs_server_t *s;
    if (mtp_hs_client_new(&cc, &c) || mtp_hs_server_new(&sc, &s))
        abort();
    if (mtp_hs_client_start(c, FZ_T0, &r->req[0]))
        abort();
    for (int i = 0; i < 3; i++) {
        mtp_hs_event_t ev;
        if (mtp_hs_server_feed(s, FZ_T0, r->req[i].data, r->req[i].len, &r->ans[i], &ev))
            abort();
        if (mtp_hs_client_feed(c, FZ_T0, r->ans[i].data, r->ans[i].len, i < 2 ? &r->req[i + 1] : &r->inner))
            abort();
    }
    if (mtp_hs_client_state(c) != MTP_HS_DONE || mtp_hs_server_state(s) != MTP_HS_DONE)
        abort();
    mtp_hs_client_free(c);
    mtp_hs_server_free(s);

    /* the secrets of the reference run, recovered with the private key */
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_mt_req_DH_params_t *q = (mtp_mt_req_DH_params_t *)fz_decode(&r->req[1], a);
    uint8_t dwp[192];
    if (!q || mtp_rsa_pad_decrypt(r->key, q->encrypted_data.ptr, q->encrypted_data.len, dwp))
        abort();
    mtp_tl_reader_t rd;
    mtp_tl_reader_init(&rd, mtp_tl_layer(0), dwp, sizeof dwp, a);
    mtp_mt_p_q_inner_data_dc_t *d = (mtp_mt_p_q_inner_data_dc_t *)mtp_tl_read_object(&rd, NULL);
    if (!d || d->_.tl != &mtp_tlc_mt_p_q_inner_data_dc)
        abort();
    mtp_buf_clear(&r->inner);
    mtp_buf_append(&r->inner, dwp, (size_t)(rd.p - rd.start));
    memcpy(r->nonce, d->nonce, 16);
    memcpy(r->server_nonce, d->server_nonce, 16);
    memcpy(r->new_nonce, d->new_nonce, 32);
    mtp_tmp_aes_key_iv(r->new_nonce, r->server_nonce, r->tmp_key, r->tmp_iv);
    mtp_arena_free(a);
    r->ok = 1;
}

/* Input reader: records of [op][len][len bytes]. */
typedef struct fz_in {
    const uint8_t *p, *end;
} fz_in_t;

/* Next record; op 0 with an empty payload once the input is used up. */
static uint8_t fz_next(fz_in_t *in, const uint8_t **payload, size_t *len)
{
    *payload = in->p;
    *len = 0;
    if (in->end - in->p < 2) {
        in->p = in->end;
        return 0;
    }
    uint8_t op = in->p[0];
    size_t n = in->p[1];
    in->p += 2;
    if (n > (size_t)(in->end - in->p))
        n = (size_t)(in->end - in->p);
    *payload = in->p;
    *len = n;
    in->p += n;
    return op;
}

/* XOR mutations: (position_lo, position_hi, value) triples applied to buf[skip:n]. */
static void fz_mutate(uint8_t *buf, size_t n, size_t skip, const uint8_t *ops, size_t len)
{
    if (n <= skip)
        return;
    for (size_t i = 0; i + 3 <= len; i += 3) {
        size_t pos = skip + ((size_t)ops[i] | (size_t)ops[i + 1] << 8) % (n - skip);
        buf[pos] ^= ops[i + 2];
    }
}

/* Append len bytes as the body of an unencrypted packet with msg_id parity (0 or 1). */
static void fz_wrap(const uint8_t *body, size_t len, int parity, mtp_buf_t *out)
{
    mtp_buf_clear(out);
    int64_t id = (int64_t)((uint64_t)(FZ_T0 / 1000000) << 32 | (uint32_t)(0x5000 | parity));
    uint8_t hdr[20] = { 0 };
    for (int i = 0; i < 8; i++)
        hdr[8 + i] = (uint8_t)((uint64_t)id >> (8 * i));
    for (int i = 0; i < 4; i++)
        hdr[16 + i] = (uint8_t)(len >> (8 * i));
    mtp_buf_append(out, hdr, sizeof hdr);
    mtp_buf_append(out, body, len);
}

/* Decrypt an IGE blob (tmp key of the reference run) holding SHA1(x) + x + padding,
 * mutate the bytes, recompute the SHA1 over the originally parsed x (if fix_hash), and
 * encrypt again into out (<= 1024 bytes). */
static void fz_mutate_encrypted(mtp_bytes_t blob, int fix_hash, const uint8_t *ops, size_t len,
                                uint8_t *out, size_t *out_len, mtp_arena_t *a)
{
    size_t n = blob.len & ~(size_t)15;
    if (n > 1024)
        n = 1024;
    *out_len = n;
    if (n < 32)
        return;
    mtp_aes256_ige_decrypt(g_ref.tmp_key, g_ref.tmp_iv, blob.ptr, out, n);
    mtp_tl_reader_t rd;
    mtp_tl_reader_init(&rd, mtp_tl_layer(0), out + 20, n - 20, a);
    mtp_tl_read_object(&rd, NULL);
    size_t used = rd.err ? 0 : (size_t)(rd.p - rd.start);
    fz_mutate(out, n, fix_hash ? 20 : 0, ops, len);
    if (fix_hash && used)
        mtp_sha1(out + 20, used, out);
    mtp_aes256_ige_encrypt(g_ref.tmp_key, g_ref.tmp_iv, out, out, n);
}

#endif
