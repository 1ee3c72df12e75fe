/*
 * The session's packing (src/proto/session_pack.c) on its own: the pending-ack queue, the
 * layout check of incoming containers, gzip_packed both ways, and what one
 * mtp_session_pack() puts on the wire (ids, seq_nos, the container, bare messages).
 */
#include <mtproto/session.h>
#include <mtproto/tl.h>

#include <string.h>

#include "proto/session_impl.h"
#include "testutil.h"

#define SEC MTP_USEC_PER_SEC
#define NOW (1700000000LL * SEC)

static void p32(mtp_buf_t *b, uint32_t v)
{
    uint8_t x[4];
    ses_put32(x, v);
    mtp_buf_append(b, x, 4);
}

static void p64(mtp_buf_t *b, int64_t v)
{
    uint8_t x[8];
    ses_put64(x, v);
    mtp_buf_append(b, x, 8);
}

static mtp_session_t *client(void)
{
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x5a17;
    c.time_synced = true;
    c.future_salts = 0;
    mtp_session_t *s = NULL;
    if (mtp_session_new(&c, &s))
        tap_bail("mtp_session_new");
    return s;
}

static void test_acks(void)
{
    mtp_session_t *s = client();
    OK(!ses_acks_due(s, NOW), "no acks pending: none due");
    ses_ack_add(s, 101, NOW);
    ses_ack_add(s, 101, NOW);
    IS_INT(s->n_acks, 1, "the same id queued twice in a row: once");
    OK(!ses_acks_due(s, NOW + s->cfg.ack_delay - 1), "not due before ack_delay");
    OK(ses_acks_due(s, NOW + s->cfg.ack_delay), "due at ack_delay");
    for (int64_t i = 0; i < 200; i++)
        ses_ack_add(s, 1000 + i, NOW);
    OK(ses_acks_due(s, NOW), "due at once with ack_max_pending ids");
    ses_ack_remove(s, 1005);
    bool gone = true;
    for (uint32_t i = 0; i < s->n_acks; i++)
        if (s->acks[i] == 1005)
            gone = false;
    OK(gone && s->n_acks == 200, "one removed (an answer acknowledges its query)");
    for (int64_t i = 0; i < (int64_t)MAX_IDS + 10; i++)
        ses_ack_add(s, 100000 + i, NOW);
    IS_INT(s->n_acks, MAX_IDS, "the queue stops at %u ids", MAX_IDS);
    mtp_session_free(s);
}

static void container(mtp_buf_t *b, int n, const int64_t *ids, const uint32_t *lens)
{
    mtp_buf_clear(b);
    p32(b, MTP_ID_mt_msg_container);
    p32(b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        p64(b, ids[i]);
        p32(b, 1);
        p32(b, lens[i]);
        for (uint32_t k = 0; k < lens[i] / 4; k++)
            p32(b, 0x0badf00du);
    }
}

static void test_container_check(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    int64_t first = 0;
    int64_t ids[3] = { 400, 300, 500 };
    uint32_t lens[3] = { 8, 4, 12 };
    container(&b, 3, ids, lens);
    OK(ses_container_check(b.data, b.len, 1000, &first) == 0 && first == 300,
       "a valid container; first = its smallest inner id");
    OK(ses_container_check(b.data, b.len, 500, &first) != 0, "an inner id not below the container's");
    OK(ses_container_check(b.data, b.len - 4, 1000, &first) != 0, "truncated");
    mtp_buf_t longer;
    mtp_buf_init(&longer);
    mtp_buf_append(&longer, b.data, b.len);
    p32(&longer, 0);
    OK(ses_container_check(longer.data, longer.len, 1000, &first) != 0, "trailing bytes");
    lens[1] = 6;
    container(&b, 3, ids, lens);
    OK(ses_container_check(b.data, b.len, 1000, &first) != 0, "inner length not a multiple of 4");
    lens[1] = 0;
    container(&b, 3, ids, lens);
    OK(ses_container_check(b.data, b.len, 1000, &first) != 0, "empty inner message");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_msg_container);
    p32(&b, MAX_CONTAINER + 1);
    OK(ses_container_check(b.data, b.len, 1000, &first) != 0, "more than %u messages", MAX_CONTAINER);
    /* nested */
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_msg_container);
    p32(&b, 1);
    p64(&b, 10);
    p32(&b, 0);
    p32(&b, 8);
    p32(&b, MTP_ID_mt_msg_container);
    p32(&b, 0);
    OK(ses_container_check(b.data, b.len, 1000, &first) != 0, "nested container");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_msg_container);
    p32(&b, 0);
    OK(ses_container_check(b.data, b.len, 1000, &first) == 0 && first == 1000, "empty container");
    mtp_buf_free(&longer);
    mtp_buf_free(&b);
}

static void test_gzip(void)
{
    mtp_session_t *s = client();
    mtp_buf_t body, z, back;
    mtp_buf_init(&body);
    mtp_buf_init(&z);
    mtp_buf_init(&back);
    p32(&body, 0x0badf00du);
    for (int i = 0; i < 400; i++)
        p32(&body, 0x41414141u);
    OK(ses_maybe_gzip(s, body.data, body.len, &z) && ses_get32(z.data) == MTP_ID_mt_gzip_packed &&
       z.len < body.len, "a compressible body becomes a smaller gzip_packed");
    OK(ses_inflate_packed(s, z.data, z.len, &back) == 0 && back.len == body.len &&
       memcmp(back.data, body.data, body.len) == 0, "and inflates back to the same bytes");
    mtp_buf_clear(&z);
    OK(!ses_maybe_gzip(s, body.data, 256, &z) && z.len == 0, "below gzip_min: not packed");
    mtp_buf_clear(&body);
    p32(&body, 0x0badf00du);
    uint32_t x = 1;
    for (int i = 0; i < 400; i++) {
        x = x * 1103515245u + 12345u;
        p32(&body, x);
    }
    mtp_buf_clear(&z);
    OK(!ses_maybe_gzip(s, body.data, body.len, &z), "an incompressible body: not packed");
    /* gzip_packed inside gzip_packed is refused */
    mtp_buf_clear(&body);
    p32(&body, MTP_ID_mt_gzip_packed);
    for (int i = 0; i < 300; i++)
        p32(&body, 0);
    mtp_buf_clear(&z);
    OK(ses_maybe_gzip(s, body.data, body.len, &z), "(a gzip_packed id packed again)");
    OK(ses_inflate_packed(s, z.data, z.len, &back) == MTP_EPROTO, "nested gzip_packed refused");
    mtp_buf_free(&body);
    mtp_buf_free(&z);
    mtp_buf_free(&back);
    mtp_session_free(s);
}

static void test_pack(void)
{
    mtp_session_t *s = client();
    uint8_t q[16] = { 0x6b, 0x18, 0xf9, 0xc4 };   /* help.getConfig + padding words */
    ses_ack_add(s, 0x7001, NOW);
    OK(mtp_session_call(s, q, 8, 0, NULL, NOW) > 0 && mtp_session_call(s, q, 16, 0, NULL, NOW) > 0,
       "two calls queued");
    mtp_session_msg_t m;
    IS_INT(mtp_session_pack(s, NOW, &m), 1, "one packet");
    OK(m.len >= 8 && ses_get32(m.body) == MTP_ID_mt_msg_container && ses_get32(m.body + 4) == 3,
       "a container of three: the ack and both calls");
    inner_it_t it = ses_inner_begin(m.body, m.len);
    int64_t id, prev = 0;
    int32_t seq;
    const uint8_t *b;
    size_t n;
    int k = 0;
    bool ids_up = true, seqs_ok = true, ack_first = false;
    while (ses_inner_next(&it, &id, &seq, &b, &n)) {
        if (id <= prev || id >= m.msg_id)
            ids_up = false;
        prev = id;
        if (k == 0)
            ack_first = ses_get32(b) == MTP_ID_mt_msgs_ack && !(seq & 1) && n == 20 &&
                        ses_get64(b + 12) == 0x7001;
        else if (!(seq & 1) || seq != 2 * (k - 1) + 1)
            seqs_ok = false;
        k++;
    }
    OK(ack_first, "the ack goes first, even seq_no, with the queued id");
    OK(seqs_ok, "calls: odd seq_nos 1, 3");
    OK(ids_up, "inner ids increase and stay below the container's");
    OK(!(m.seq_no & 1) && m.session_id == mtp_session_id(s) && m.salt == 0x5a17,
       "container: even seq_no, the session id, the salt");
    IS_INT(s->n_acks, 0, "acks sent are off the queue");
    IS_INT(mtp_session_pack(s, NOW, &m), 0, "nothing more to pack");

    /* ALONE: bare, never in a container */
    OK(mtp_session_call(s, q, 8, MTP_SESS_ALONE, NULL, NOW) > 0 &&
       mtp_session_call(s, q, 8, 0, NULL, NOW) > 0, "an ALONE call and another");
    IS_INT(mtp_session_pack(s, NOW, &m), 1, "first packet");
    OK(m.len == 8 && (m.seq_no & 1), "the ALONE call goes bare");
    IS_INT(mtp_session_pack(s, NOW, &m), 1, "second packet");
    OK(m.len == 8 && ses_get32(m.body) == 0xc4f9186bu, "the other one too (one message: no container)");
    IS_INT(mtp_session_call(s, q, 8, 1u << 5, NULL, NOW), MTP_EINVAL, "unknown call flags refused");
    mtp_session_free(s);
}

int main(void)
{
    test_acks();
    test_container_check();
    test_gzip();
    test_pack();
    return tap_done();
}
