/*
 * The session's one parser of incoming service messages (src/proto/session_service.c),
 * on its own: every constructor it knows is read into its fields, a truncated or padded
 * body is refused, anything else is "not a service message" (0).
 */
#include <mtproto/session.h>
#include <mtproto/tl.h>
#include <mtproto/tl_mtproto.h>

#include <string.h>

#include "proto/session_impl.h"
#include "testutil.h"

static void p32(mtp_buf_t *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mtp_buf_append(b, x, 4);
}

static void p64(mtp_buf_t *b, int64_t v)
{
    p32(b, (uint32_t)(uint64_t)v);
    p32(b, (uint32_t)((uint64_t)v >> 32));
}

/* Parse b, and check that every shorter cut of it and the same with 4 more bytes fail. */
static int parse_strict(const mtp_buf_t *b, ses_svc_t *v, const char *what)
{
    int rc = ses_svc_parse(b->data, b->len, v);
    bool cuts_fail = true;
    ses_svc_t w;
    for (size_t n = 4; n < b->len; n += 4)
        if (ses_svc_parse(b->data, n, &w) >= 0)
            cuts_fail = false;
    mtp_buf_t longer;
    mtp_buf_init(&longer);
    mtp_buf_append(&longer, b->data, b->len);
    p32(&longer, 0);
    bool long_fails = ses_svc_parse(longer.data, longer.len, &w) < 0;
    mtp_buf_free(&longer);
    OK(cuts_fail && long_fails, "%s: truncated and padded forms refused", what);
    return rc;
}

static void test_ids_and_vectors(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    ses_svc_t v;
    const uint32_t vec_ctors[] = { MTP_ID_mt_msgs_ack, MTP_ID_mt_msgs_state_req,
                                   MTP_ID_mt_msg_resend_req };
    for (size_t i = 0; i < 3; i++) {
        mtp_buf_clear(&b);
        p32(&b, vec_ctors[i]);
        p32(&b, MTP_TL_ID_VECTOR);
        p32(&b, 3);
        p64(&b, 101);
        p64(&b, 202);
        p64(&b, 303);
        int rc = parse_strict(&b, &v, "Vector<long> message");
        OK(rc == 1 && v.cid == vec_ctors[i] && v.n_ids == 3 && ses_get64(v.ids) == 101 &&
           ses_get64(v.ids + 16) == 303, "constructor %08x: three ids", vec_ctors[i]);
    }
    /* a count larger than the body, and a bare vector without its id */
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_msgs_ack);
    p32(&b, MTP_TL_ID_VECTOR);
    p32(&b, 1000);
    p64(&b, 1);
    OK(ses_svc_parse(b.data, b.len, &v) < 0, "msgs_ack whose count exceeds the body refused");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_msgs_ack);
    p32(&b, 1);
    p64(&b, 1);
    OK(ses_svc_parse(b.data, b.len, &v) < 0, "msgs_ack without the vector id refused");
    mtp_buf_free(&b);
}

static void test_fields(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    ses_svc_t v;

    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_ping_delay_disconnect);
    p64(&b, 77);
    p32(&b, 75);
    OK(parse_strict(&b, &v, "ping_delay_disconnect") == 1 && v.ping_id == 77 && v.num == 75,
       "ping_delay_disconnect: ping_id and delay");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_pong);
    p64(&b, 5555);
    p64(&b, 77);
    OK(parse_strict(&b, &v, "pong") == 1 && v.msg_id == 5555 && v.ping_id == 77 &&
       v.body == b.data && v.len == 20, "pong: msg_id, ping_id, the whole body");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_bad_server_salt);
    p64(&b, 9999);
    p32(&b, 7);
    p32(&b, 48);
    p64(&b, 0x1234);
    OK(parse_strict(&b, &v, "bad_server_salt") == 1 && v.msg_id == 9999 && v.seq_no == 7 &&
       v.code == 48 && v.salt == 0x1234, "bad_server_salt: every field");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_new_session_created);
    p64(&b, 11);
    p64(&b, 22);
    p64(&b, 33);
    OK(parse_strict(&b, &v, "new_session_created") == 1 && v.first_msg_id == 11 &&
       v.unique_id == 22 && v.salt == 33, "new_session_created: every field");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_msg_detailed_info);
    p64(&b, 1);
    p64(&b, 2);
    p32(&b, 3);
    p32(&b, 0);
    OK(parse_strict(&b, &v, "msg_detailed_info") == 1 && v.msg_id == 1 && v.answer_id == 2,
       "msg_detailed_info: msg_id and answer_msg_id");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_msg_new_detailed_info);
    p64(&b, 2);
    p32(&b, 3);
    p32(&b, 0);
    OK(parse_strict(&b, &v, "msg_new_detailed_info") == 1 && v.msg_id == 0 && v.answer_id == 2,
       "msg_new_detailed_info: answer_msg_id only");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_msgs_state_info);
    p64(&b, 42);
    p32(&b, 0x03020103u);   /* TL bytes: length 3, "\x01\x02\x03" */
    OK(parse_strict(&b, &v, "msgs_state_info") == 1 && v.msg_id == 42 && v.info.len == 3 &&
       v.info.ptr[0] == 1 && v.info.ptr[2] == 3, "msgs_state_info: req_msg_id and info");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_future_salts);
    p64(&b, 42);
    p32(&b, 1000);
    p32(&b, 2);
    for (int i = 0; i < 2; i++) {
        p32(&b, 1000 + 100 * (uint32_t)i);
        p32(&b, 1100 + 100 * (uint32_t)i);
        p64(&b, 0x5a1700 + i);
    }
    OK(parse_strict(&b, &v, "future_salts") == 1 && v.msg_id == 42 && v.n_salts == 2 &&
       ses_get64(v.salts + 16 + 8) == 0x5a1701, "future_salts: req_msg_id and two salts");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_destroy_session_none);
    p64(&b, -5);
    OK(parse_strict(&b, &v, "destroy_session_none") == 1 && v.session_id == -5,
       "destroy_session_none: session_id");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_rpc_result);
    p64(&b, 4242);
    p32(&b, 0x0badf00du);
    ses_svc_t r;
    OK(ses_svc_parse(b.data, b.len, &r) == 1 && r.msg_id == 4242 && r.result_len == 4 &&
       ses_get32(r.result) == 0x0badf00du, "rpc_result: req_msg_id and the result");
    OK(ses_svc_parse(b.data, 12, &r) < 0, "rpc_result without a result refused");
    mtp_buf_free(&b);
}

static void test_not_service(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    ses_svc_t v;
    p32(&b, 0xc4f9186bu);   /* help.getConfig */
    OK(ses_svc_parse(b.data, b.len, &v) == 0 && v.cid == 0xc4f9186bu, "an API query: 0");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_destroy_auth_key);
    OK(ses_svc_parse(b.data, b.len, &v) == 0, "destroy_auth_key is not the session's: 0");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_rpc_error);
    p32(&b, 400);
    p32(&b, 0);
    OK(ses_svc_parse(b.data, b.len, &v) == 0, "a bare rpc_error: 0");
    mtp_buf_clear(&b);
    p32(&b, MTP_ID_mt_http_wait);
    p32(&b, 0);
    p32(&b, 0);
    p32(&b, 0);
    OK(ses_svc_parse(b.data, b.len, &v) == 1, "http_wait recognised (nothing to read)");
    mtp_buf_free(&b);
}

int main(void)
{
    test_ids_and_vectors();
    test_fields();
    test_not_service();
    return tap_done();
}
