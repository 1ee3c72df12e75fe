/*
 * libFuzzer target for the message envelope.
 *
 * Input byte 0 selects the mode:
 *   even: the rest is an arbitrary packet, decrypted with a fixed key in both roles (in place
 *         and into a separate buffer), unpacked as an unencrypted message and as a bind
 *         encrypted_message. Nothing may crash or read out of bounds. The same bytes are
 *         also cut into 1..4 packets opened together (mtp_envelope_decrypt_many), which
 *         must give for each exactly what opening it alone gives.
 *   odd:  structure-aware. bytes 1..2 = body length, then the body (cut to a multiple of 4),
 *         then (position, xor) pairs. The body is encrypted, the pairs are applied to the
 *         packet, and the packet is decrypted: with no effective change it must decrypt to
 *         exactly the body; with any change it must be rejected (MTP_ESECURITY).
 */
#include <mtproto/envelope.h>

#include <stdlib.h>
#include <string.h>

static mtp_auth_key_t g_key;
static int g_init;

static int xs_fill(void *ctx, uint8_t *out, size_t n)
{
    uint64_t *s = ctx;
    for (size_t i = 0; i < n; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        out[i] = (uint8_t)*s;
    }
    return 0;
}

static void init_key(void)
{
    if (g_init)
        return;
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)(i * 131 + 7);
    mtp_auth_key_init(&g_key, raw);
    g_init = 1;
}

static void many_mode(const uint8_t *data, size_t size);

static void raw_mode(const uint8_t *data, size_t size)
{
    uint8_t *pkt = malloc(size ? size : 1);
    uint8_t *plain = malloc(size ? size : 1);
    mtp_envelope_msg_t m;
    for (int role = 0; role < 2; role++) {
        memcpy(pkt, data, size);
        if (mtp_envelope_decrypt(&g_key, (mtp_role_t)role, pkt, size, &m) == 0) {
            /* the body must lie inside the packet */
            if (m.body.ptr < pkt + 24 + 32 || m.body.ptr + m.body.len > pkt + size)
                abort();
        }
        if (mtp_envelope_decrypt_to(&g_key, (mtp_role_t)role, data, size, plain, &m) == 0) {
            if (m.body.ptr < plain + 32 || m.body.ptr + m.body.len > plain + size - 24)
                abort();
        }
    }
    int64_t id;
    mtp_bytes_t body;
    if (mtp_plain_unpack(data, size, &id, &body) == 0 && body.ptr + body.len != data + size)
        abort();
    mtp_envelope_key_id(data, size, &id);
    mtp_bind_inner_t bi;
    mtp_bind_inner_decrypt(&g_key, data, size, &bi);
    free(pkt);
    free(plain);
    many_mode(data, size);
}

static void many_mode(const uint8_t *data, size_t size)
{
    size_t k = 1 + size % 4, cut = size / k;
    mtp_open_job_t job[4];
    uint8_t *plain[4];
    for (size_t i = 0; i < k; i++) {
        size_t len = i + 1 == k ? size - cut * i : cut;
        plain[i] = malloc(len ? len : 1);
        job[i] = (mtp_open_job_t){ .key = &g_key, .pkt = data + cut * i, .len = len,
                                   .plain = plain[i] };
    }
    for (int role = 0; role < 2; role++) {
        if (mtp_envelope_decrypt_many((mtp_role_t)role, job, k))
            abort();
        for (size_t i = 0; i < k; i++) {
            uint8_t *one = malloc(job[i].len ? job[i].len : 1);
            mtp_envelope_msg_t m;
            int rc = mtp_envelope_decrypt_to(&g_key, (mtp_role_t)role, job[i].pkt, job[i].len, one, &m);
            if (rc != job[i].rc)
                abort();
            if (!rc && (m.body.len != job[i].msg.body.len || m.msg_id != job[i].msg.msg_id ||
                        memcmp(m.body.ptr, job[i].msg.body.ptr, m.body.len) != 0))
                abort();
            free(one);
        }
    }
    for (size_t i = 0; i < k; i++)
        free(plain[i]);
}

static void structured_mode(const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    size_t len = ((size_t)data[1] | (size_t)data[2] << 8) & ~(size_t)3;
    data += 3;
    size -= 3;
    if (len > size)
        len = size & ~(size_t)3;
    const uint8_t *body = data;
    const uint8_t *ops = data + len;
    size_t nops = (size - len) / 3;

    uint64_t seed = 0x9e3779b97f4a7c15ULL ^ len;
    mtp_rng_t rng = { xs_fill, &seed };
    mtp_role_t sender = (len / 4) & 1 ? MTP_ROLE_SERVER : MTP_ROLE_CLIENT;
    mtp_role_t receiver = sender == MTP_ROLE_CLIENT ? MTP_ROLE_SERVER : MTP_ROLE_CLIENT;
    mtp_buf_t out;
    mtp_buf_init(&out);
    if (mtp_envelope_encrypt(&g_key, sender, 1, 2, 0x65abc0fc000df764LL, 3, body, len, &rng, &out,
                             NULL))
        abort();
    uint8_t *orig = malloc(out.len);
    memcpy(orig, out.data, out.len);
    for (size_t i = 0; i < nops; i++) {
        size_t pos = ((size_t)ops[3 * i] | (size_t)ops[3 * i + 1] << 8) % out.len;
        out.data[pos] ^= ops[3 * i + 2];
    }
    int changed = memcmp(orig, out.data, out.len) != 0;
    mtp_envelope_msg_t m;
    int rc = mtp_envelope_decrypt(&g_key, receiver, out.data, out.len, &m);
    if (!changed) {
        if (rc || m.body.len != len || (len && memcmp(m.body.ptr, body, len)) || m.salt != 1 ||
            m.session_id != 2 || m.seq_no != 3)
            abort();
    } else if (rc != MTP_ESECURITY) {
        abort();   /* a modified packet was accepted */
    }
    free(orig);
    mtp_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_key();
    if (size == 0)
        return 0;
    if (data[0] & 1)
        structured_mode(data, size);
    else
        raw_mode(data + 1, size - 1);
    return 0;
}
