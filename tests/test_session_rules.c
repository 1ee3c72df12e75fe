/*
 * Session tests, the rules (see test_session.c for the world they run in): every
 * bad_msg_notification code (server detection and client reaction), new_session_created,
 * msgs_state_req/info, msg_resend_req, msg_detailed_info, ping/pong/ping_delay_disconnect,
 * destroy_session, rpc_drop_answer, rpc_result routing and rpc_error parsing, replays,
 * ordered calls and wrappers, close/reconnect, the trace hook, containers taken or refused
 * as a whole.
 */
#include "test_session_world.h"

/* Server-side detection of every violation. */
static void test_server_violations(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    mtp_session_t *srv = server_for(&w, 4242);
    outbox_t o = { 0 };
    int64_t bid;
    mtp_usec_t t = w.now;

#define EXPECT(code, id_, what)                                                          \
    do {                                                                                 \
        collect(srv, t, &o);                                                             \
        bid = 0;                                                                         \
        int c_ = bad_code(&o, &bid);                                                     \
        IS_INT(c_, code, "server answers %d: %s", code, what);                           \
        if (code)                                                                        \
            OK(bid == (id_), "  bad_msg_id is the offending id");                        \
        outbox_free(&o);                                                                 \
    } while (0)

    /* a good first message */
    feed(srv, 0x1111, cid_at(t, 0), 1, q.data, q.len, t);
    drain_server(&w, srv);
    EXPECT(0, 0, "a valid query");
    OK(w.queries == 1, "valid query delivered");

    int64_t id;
    id = cid_at(t - 301 * SEC, 0);
    feed(srv, 0x1111, id, 3, q.data, q.len, t);
    EXPECT(16, id, "msg_id too low (client clock 301 s behind)");
    id = cid_at(t + 31 * SEC, 0);
    feed(srv, 0x1111, id, 3, q.data, q.len, t);
    EXPECT(17, id, "msg_id too high (client clock 31 s ahead)");
    id = cid_at(t, 10) + 2;
    feed(srv, 0x1111, id, 3, q.data, q.len, t);
    EXPECT(18, id, "msg_id ≡ 2 mod 4");
    id = cid_at(t, 10) + 1;
    feed(srv, 0x1111, id, 3, q.data, q.len, t);
    EXPECT(18, id, "msg_id ≡ 1 mod 4 from a client");

    /* 19: a container whose id was already used */
    int64_t used = cid_at(t, 20);
    feed(srv, 0x1111, used, 3, q.data, q.len, t);
    drain_server(&w, srv);
    EXPECT(0, 0, "query with id X");
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 1);
    p64(&b, used - 4);
    p32(&b, 5);
    p32(&b, (uint32_t)q.len);
    mtp_buf_append(&b, q.data, q.len);
    feed(srv, 0x1111, used, 6, b.data, b.len, t);
    EXPECT(19, used, "container reuses the id of an earlier message");

    /* 32: lower seq_no after a higher one */
    int64_t a1 = cid_at(t, 30);
    feed(srv, 0x1111, a1, 11, q.data, q.len, t);
    drain_server(&w, srv);
    EXPECT(0, 0, "query seq 11");
    id = cid_at(t, 31);
    feed(srv, 0x1111, id, 7, q.data, q.len, t);
    EXPECT(32, id, "seq_no too low (7 after 11 with a higher msg_id)");
    id = cid_at(t, 32);
    feed(srv, 0x1111, id, 11, q.data, q.len, t);
    EXPECT(32, id, "equal odd seq_no reused");
    /* 33: higher seq_no with a lower msg_id */
    id = cid_at(t, 29);
    feed(srv, 0x1111, id, 13, q.data, q.len, t);
    EXPECT(33, id, "seq_no too high (13 below a message with 11)");

    /* 34: even expected (msg_copy); msgs_ack is tolerated either way (mtcute) */
    mtp_buf_clear(&b);
    p32(&b, 0xe06046b2u);   /* msg_copy */
    p64(&b, 1);
    p32(&b, 1);
    p32(&b, 4);
    p32(&b, ID_GET_CONFIG);
    id = cid_at(t, 40);
    feed(srv, 0x1111, id, 13, b.data, b.len, t);
    EXPECT(34, id, "msg_copy marked content-related");
    mtp_buf_clear(&b);
    p32(&b, ID_MSGS_ACK);
    p32(&b, ID_VECTOR);
    p32(&b, 0);
    feed(srv, 0x1111, cid_at(t, 45), 13, b.data, b.len, t);
    EXPECT(0, 0, "msgs_ack with an odd seq_no accepted (as Telegram does for mtcute)");
    feed(srv, 0x1111, cid_at(t, 46), 13, q.data, q.len, t);
    drain_server(&w, srv);
    EXPECT(0, 0, "a query reusing the odd ack's seq_no is not 32");
    /* 35: odd expected */
    id = cid_at(t, 41);
    feed(srv, 0x1111, id, 14, q.data, q.len, t);
    EXPECT(35, id, "query not marked content-related");
    /* service messages may be either */
    mtp_buf_clear(&b);
    p32(&b, ID_PING);
    p64(&b, 5);
    feed(srv, 0x1111, cid_at(t, 47), 14, b.data, b.len, t);
    EXPECT(0, 0, "ping with even seq_no accepted");
    feed(srv, 0x1111, cid_at(t, 48), 15, b.data, b.len, t);
    EXPECT(0, 0, "ping with odd seq_no accepted");

    /* 64: invalid containers */
    struct { const char *what; int kind; } bad[] = {
        { "inner msg_id not below the container's", 0 },
        { "inner sizes do not add up", 1 },
        { "nested container", 2 },
        { "more than 1024 messages", 3 },
        { "inner length not a multiple of 4", 4 },
    };
    for (int k = 0; k < 5; k++) {
        int64_t cid = cid_at(t, 100 + 10 * k);
        mtp_buf_clear(&b);
        p32(&b, ID_CONTAINER);
        p32(&b, k == 3 ? 1025 : 1);
        p64(&b, k == 0 ? cid + 4 : cid - 4);
        p32(&b, 17);
        if (k == 2) {
            p32(&b, 8);
            p32(&b, ID_CONTAINER);
            p32(&b, 0);
        } else if (k == 4) {
            p32(&b, (uint32_t)q.len - 2);
            mtp_buf_append(&b, q.data, q.len);
        } else {
            p32(&b, (uint32_t)q.len);
            mtp_buf_append(&b, q.data, q.len);
            if (k == 1)
                p32(&b, 0);
        }
        feed(srv, 0x1111, cid, 18, b.data, b.len, t);
        EXPECT(64, cid, bad[k].what);
    }
    /* container with an odd seq_no */
    id = cid_at(t, 200);
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 0);
    feed(srv, 0x1111, id, 19, b.data, b.len, t);
    EXPECT(34, id, "container marked content-related");
    /* an empty container is fine */
    feed(srv, 0x1111, cid_at(t, 201), 18, b.data, b.len, t);
    EXPECT(0, 0, "empty container accepted");

    /* 20: too old for the replay window */
    mtp_session_config_t sc = w.scfg;
    sc.session_id = 5151;
    sc.replay_window = 64;
    mtp_session_t *s2 = new_session(&sc);
    mtp_buf_clear(&b);
    p32(&b, ID_MSGS_ACK);
    p32(&b, ID_VECTOR);
    p32(&b, 0);
    for (int i = 0; i < 64; i++)
        feed(s2, 0x1111, cid_at(t, 1000 + i), 0, b.data, b.len, t);
    id = cid_at(t, 999);
    feed(s2, 0x1111, id, 0, b.data, b.len, t);
    o.n = 0;
    collect(s2, t, &o);
    bid = 0;
    IS_INT(bad_code(&o, &bid), 20, "server answers 20: id below a full replay window");
    OK(bid == id, "  bad_msg_id is the offending id");
    outbox_free(&o);
    mtp_session_free(s2);

    /* bad salt */
    id = cid_at(t, 300);
    feed(srv, 0x7777, id, 21, q.data, q.len, t);
    EXPECT(48, id, "wrong salt");

    /* duplicates: ignored, content-related ones re-acked */
    int qn = w.queries;
    uint64_t dups = mtp_session_stats(srv)->duplicates;
    feed(srv, 0x1111, a1, 11, q.data, q.len, t);
    drain_server(&w, srv);
    OK(w.queries == qn, "replayed query not delivered again");
    OK(mtp_session_stats(srv)->duplicates == dups + 1, "counted as duplicate");
    collect(srv, t + SEC, &o);
    const msg_t *ack = find_msg(&o, ID_MSGS_ACK);
    bool has = false;
    for (uint32_t i = 0; ack && i < g32(ack->body + 8); i++)
        if (g64(ack->body + 12 + 8 * i) == a1)
            has = true;
    OK(has, "duplicate re-acked");
    outbox_free(&o);

    /* wrong session id: not ours */
    mtp_session_msg_t m = { 0x1111, 999, cid_at(t, 400), 23, q.data, q.len };
    IS_INT(mtp_session_feed(srv, &m, t), MTP_ESTATE, "foreign session_id -> MTP_ESTATE");
#undef EXPECT
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

/* Craft a notification from the server about the client's last packet. */
static void notify(world_t *w, mtp_session_t *srv, int64_t bad_id, int32_t code)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    p32(&b, ID_BAD_MSG);
    p64(&b, bad_id);
    p32(&b, 1);
    p32(&b, (uint32_t)code);
    mtp_session_send_raw(srv, b.data, b.len, MTP_SESS_SEND_ANSWER, w->now);
    mtp_buf_free(&b);
}

static void test_client_reactions(void)
{
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);

    /* 16: client clock behind */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.time_offset = -400 * SEC;
    c.future_salts = 0;
    world_t w;
    world_init(&w, &c);
    call(&w, &q, 0);
    pump(&w);
    OK(mtp_session_stats(w.c)->last_bad_msg_code == 16, "client got 16");
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "16: re-sent with a new msg_id and answered");
    mtp_usec_t off = mtp_session_time_offset(w.c);
    OK(off > -2 * SEC && off < 2 * SEC, "16: clock offset corrected (%lld µs)", (long long)off);
    OK(w.resets == 0, "16: same session");
    world_free(&w);

    /* 17: client clock ahead */
    c.time_offset = 100 * SEC;
    world_init(&w, &c);
    int64_t sid0 = mtp_session_id(w.c);
    call(&w, &q, 0);
    pump(&w);
    OK(mtp_session_stats(w.c)->last_bad_msg_code == 17, "client got 17");
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "17: re-sent and answered");
    OK(w.resets == 1 && mtp_session_id(w.c) != sid0, "17: moved to a fresh session");
    off = mtp_session_time_offset(w.c);
    OK(off > -2 * SEC && off < 2 * SEC, "17: clock offset corrected");
    world_free(&w);

    /* crafted notifications about a pending call */
    int codes_fail[] = { 18, 19, 34, 35, 64 };
    for (int k = 0; k < 5; k++) {
        world_init(&w, NULL);
        w.hold_replies = 1;
        call(&w, &q, 0);
        pump(&w);
        int64_t mid = mtp_session_call_msg_id(w.c, 1);
        notify(&w, w.srv[0], mid, codes_fail[k]);
        pump(&w);
        OK(w.rec[1].count == 1 && w.rec[1].err == MTP_EPROTO && w.rec[1].bad == codes_fail[k],
           "%d: call failed with MTP_EPROTO, code reported", codes_fail[k]);
        OK(mtp_session_pending_calls(w.c) == 0, "  and is no longer pending");
        world_free(&w);
    }

    /* 64 about a container: all its calls fail */
    world_init(&w, NULL);
    w.hold_replies = 1;
    call(&w, &q, 0);
    call(&w, &q, 0);
    call(&w, &q, 0);
    pump(&w);
    int64_t cont = w.last_c2s.m.msg_id;
    OK(g32(w.last_c2s.copy) == ID_CONTAINER, "three calls went in one container");
    notify(&w, w.srv[0], cont, 64);
    pump(&w);
    OK(w.rec[1].err == MTP_EPROTO && w.rec[2].err == MTP_EPROTO && w.rec[3].err == MTP_EPROTO &&
       completed_once(&w, 1, 3), "64 on the container fails its contents");
    world_free(&w);

    /* 20: re-send; also bounded re-sends */
    world_init(&w, NULL);
    w.hold_replies = 1;
    call(&w, &q, 0);
    pump(&w);
    int64_t mid = mtp_session_call_msg_id(w.c, 1);
    notify(&w, w.srv[0], mid, 20);
    pump(&w);
    OK(mtp_session_call_msg_id(w.c, 1) != mid && w.rec[1].count == 0, "20: re-sent with a new id");
    for (int i = 0; i < 10 && !w.rec[1].count; i++) {
        notify(&w, w.srv[0], mtp_session_call_msg_id(w.c, 1), 20);
        pump(&w);
    }
    OK(w.rec[1].count == 1 && w.rec[1].err == MTP_EPROTO && w.rec[1].bad == 20,
       "20 forever: the call fails after max_retries instead of looping");
    world_free(&w);

    /* 32 / 33: new session, pending calls re-sent there */
    int codes_sess[] = { 32, 33 };
    for (int k = 0; k < 2; k++) {
        world_init(&w, NULL);
        w.hold_replies = 1;
        call(&w, &q, 0);
        call(&w, &q, 0);
        pump(&w);
        int64_t s0 = mtp_session_id(w.c);
        notify(&w, w.srv[0], mtp_session_call_msg_id(w.c, 2), codes_sess[k]);
        w.hold_replies = 0;
        pump(&w);
        OK(w.resets == 1 && mtp_session_id(w.c) != s0, "%d: fresh session id", codes_sess[k]);
        OK(w.nsrv == 2, "  the new session reached a new server session");
        OK(completed_once(&w, 1, 2) && !w.rec[1].err && !w.rec[2].err,
           "  both pending calls answered in the new session");
        OK(w.last_c2s.m.seq_no < 8, "  seq_no restarted");
        world_free(&w);
    }

    /* notification about an id that is not ours: ignored */
    world_init(&w, NULL);
    w.hold_replies = 1;
    call(&w, &q, 0);
    pump(&w);
    notify(&w, w.srv[0], 0x123456780, 18);
    pump(&w);
    OK(w.rec[1].count == 0 && mtp_session_pending_calls(w.c) == 1,
       "notification about a foreign msg_id ignored");
    world_free(&w);

    /* notifications are processed even with a wrong-looking time */
    world_init(&w, NULL);
    w.hold_replies = 1;
    call(&w, &q, 0);
    pump(&w);
    mtp_buf_t b;
    mtp_buf_init(&b);
    p32(&b, ID_BAD_SALT);
    p64(&b, mtp_session_call_msg_id(w.c, 1));
    p32(&b, 1);
    p32(&b, 48);
    p64(&b, 0x4444);
    int64_t far = mtp_msg_id_from_time(w.now + 1000 * SEC) | 1;
    mtp_session_msg_t m = { 0x1111, mtp_session_id(w.c), far, 2, b.data, b.len };
    IS_INT(mtp_session_feed(w.c, &m, w.now), 0, "bad_server_salt accepted outside the window");
    OK(mtp_session_salt(w.c, w.now) == 0x4444, "  and its salt adopted");
    mtp_buf_clear(&b);
    make_query(&b, 77, 1, false);
    m.msg_id = far + 4;
    m.body = b.data;
    m.len = b.len;
    m.seq_no = 3;
    IS_INT(mtp_session_feed(w.c, &m, w.now), MTP_ESECURITY, "an update that far ahead is dropped");
    m.msg_id = mtp_msg_id_from_time(w.now) + 2;
    IS_INT(mtp_session_feed(w.c, &m, w.now), MTP_ESECURITY, "even msg_id from a server dropped");
    mtp_buf_free(&b);
    world_free(&w);
    mtp_buf_free(&q);
}

static void test_new_session(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    w.hold_replies = 1;
    call(&w, &q, 0);   /* A: the server gets it but never answers */
    pump(&w);
    OK(w.new_sessions == 1 && w.new_session_first == mtp_session_call_msg_id(w.c, 1),
       "new_session_created.first_msg_id = the first message");
    advance(&w, SEC);
    /* the server forgets the session */
    mtp_session_free(w.srv[0]);
    w.nsrv = 0;
    w.hold_replies = 0;
    call(&w, &q, 0);   /* B reaches a fresh server session */
    pump(&w);
    OK(w.new_sessions == 2, "second new_session_created");
    OK(completed_once(&w, 1, 2) && !w.rec[1].err && !w.rec[2].err,
       "A (sent before first_msg_id) re-sent and answered; B answered");
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_state_req(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);          /* session established */
    advance(&w, SEC);
    /* a call whose packet is lost */
    w.drop_c2s = 1;
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[2].count == 0, "lost call not answered");
    int64_t lost = mtp_session_call_msg_id(w.c, 2);
    OK(mtp_session_next_deadline(w.c) <= w.now + 10 * SEC, "resend timer armed");
    advance(&w, 10 * SEC);
    OK(w.rec[2].count == 1 && w.rec[2].err == 0, "msgs_state_req -> not received -> re-sent");
    OK(w.rec[2].msg_id != lost, "  with a new msg_id");

    /* the server's state answer for known ids */
    mtp_session_t *srv = w.srv[0];
    int64_t known = w.rec[2].msg_id;
    mtp_buf_clear(&b);
    p32(&b, ID_STATE_REQ);
    p32(&b, ID_VECTOR);
    p32(&b, 3);
    p64(&b, known);
    p64(&b, lost);
    p64(&b, mtp_msg_id_from_time(w.now + 20 * SEC));
    int64_t rid = cid_at(w.now, 50);
    feed(srv, 0x1111, rid, 40, b.data, b.len, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    const msg_t *si = find_msg(&o, ID_STATE_INFO);
    OK(si && g64(si->body + 4) == rid && si->body[12] == 3, "msgs_state_info answers with 3 bytes");
    if (si) {
        uint8_t s0 = si->body[13], s1 = si->body[14], s2 = si->body[15];
        OK((s0 & 7) == 4 && (s0 & 32) && (s0 & 64), "received query: 4 +32 +64 (0x%02x)", s0);
        OK((s1 & 7) == 2, "never-received id in range: 2 (0x%02x)", s1);
        OK((s2 & 7) == 3, "id from the future: 3 (0x%02x)", s2);
    }
    outbox_free(&o);

    /* the client answers a server state request from its window */
    int64_t upd = 0;
    mtp_session_push(srv, q.data, q.len, w.now);
    pump(&w);
    upd = w.last_update_id;
    mtp_buf_clear(&b);
    p32(&b, ID_STATE_REQ);
    p32(&b, ID_VECTOR);
    p32(&b, 1);
    p64(&b, upd);
    mtp_session_send_raw(srv, b.data, b.len, 0, w.now);
    collect(srv, w.now, &o);
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    collect(w.c, w.now, &o);
    si = find_msg(&o, ID_STATE_INFO);
    OK(si && si->body[12] == 1 && (si->body[13] & 7) == 4, "client: state 4 for a received update");
    outbox_free(&o);
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

static void test_resend_and_detailed(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);
    mtp_session_t *srv = w.srv[0];

    /* server answer lost; the client asks for it with msg_resend_req */
    w.drop_s2c = 1;
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[2].count == 0, "answer lost");
    OK(mtp_session_unacked(srv) == 1, "server keeps the unacked answer");
    /* find the answer's id from the dropped packet */
    msg_t v[8];
    int n = split(&w.last_s2c.m, v, 8);
    int64_t ans = 0;
    for (int i = 0; i < n; i++)
        if (g32(v[i].body) == ID_RPC_RESULT)
            ans = v[i].msg_id;
    OK(ans != 0, "dropped packet held the rpc_result");
    mtp_buf_clear(&b);
    p32(&b, ID_RESEND_REQ);
    p32(&b, ID_VECTOR);
    p32(&b, 1);
    p64(&b, ans);
    mtp_session_send_raw(w.c, b.data, b.len, 0, w.now);
    pump(&w);
    OK(w.rec[2].count == 1 && !w.rec[2].err, "msg_resend_req: answer re-sent and routed");

    /* server asks the client to re-send a call */
    w.hold_replies = 1;
    call(&w, &q, 0);
    pump(&w);
    int64_t mid = mtp_session_call_msg_id(w.c, 3);
    int qn = w.queries;
    mtp_buf_clear(&b);
    p32(&b, ID_RESEND_REQ);
    p32(&b, ID_VECTOR);
    p32(&b, 1);
    p64(&b, mid);
    mtp_session_send_raw(srv, b.data, b.len, 0, w.now);
    pump(&w);
    OK(mtp_session_call_msg_id(w.c, 3) != mid && w.queries == qn + 1,
       "client re-sent the call on msg_resend_req");
    w.hold_replies = 0;
    for (int i = 0; i < w.nheld; i++)
        mtp_session_reply(srv, w.held[i], q.data, q.len, w.now);
    w.nheld = 0;
    pump(&w);
    OK(w.rec[3].count == 1, "answered once even though the server saw it twice");

    /* msg_detailed_info: the client re-sends a query the server answered (answer lost) */
    w.drop_s2c = 1;
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[4].count == 0, "answer lost again");
    pkt_t again = { 0 };
    pkt_save(&again, &w.last_c2s.m);
    n = split(&again.m, v, 8);
    for (int i = 0; i < n; i++)
        if (g32(v[i].body) == 0x0badf00du)   /* the client re-sends the query, same msg_id */
            feed(srv, again.m.salt, v[i].msg_id, v[i].seq, v[i].body, v[i].len, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    const msg_t *di = find_msg(&o, ID_DETAILED);
    OK(di != NULL, "server answers a duplicate answered query with msg_detailed_info");
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    pump(&w);
    OK(w.rec[4].count == 1 && !w.rec[4].err, "client asked for the answer and got it");
    free(again.copy);
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

static void test_ping(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    mtp_session_t *srv = w.srv[0];
    mtp_session_ping(w.c, 0x5151, 0, w.now);
    pump(&w);
    OK(w.pongs == 1 && w.last_pong_id == 0x5151, "client ping -> pong event");
    mtp_session_ping(srv, 0x6161, 0, w.now);
    pump(&w);
    OK(w.srv_pongs == 1, "server ping -> client pong -> server event");

    mtp_session_ping(w.c, 0x7171, 75, w.now);
    pump(&w);
    OK(w.pongs == 2, "ping_delay_disconnect answered with pong");
    OK(mtp_session_next_deadline(srv) == w.now + 75 * SEC, "server disconnect deadline = +75 s");
    advance(&w, 60 * SEC);
    mtp_session_ping(w.c, 0x8181, 75, w.now);
    pump(&w);
    OK(mtp_session_next_deadline(srv) == w.now + 75 * SEC, "a new ping moves the deadline");
    advance(&w, 74 * SEC);
    OK(w.disconnects == 0, "no disconnect before the deadline");
    advance(&w, SEC);
    OK(w.disconnects == 1, "disconnect event at the deadline");
    world_free(&w);

    /* keep-alive */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.ping_interval = 60 * SEC;
    c.ping_disconnect_delay = 75;
    world_init(&w, &c);
    call(&w, &q, 0);
    pump(&w);
    for (int i = 0; i < 5; i++)
        advance(&w, 60 * SEC);
    OK(w.pongs == 5, "keep-alive ping every 60 s (%d pongs)", w.pongs);
    OK(w.disconnects == 0, "server never disconnected a pinging client");
    world_free(&w);
    mtp_buf_free(&q);
}

static void test_destroy_and_drop(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    p32(&b, ID_DESTROY);
    p64(&b, 12345);
    mtp_session_call(w.c, b.data, b.len, 0, NULL, w.now);
    pump(&w);
    OK(w.rec[2].count == 1 && w.rec[2].len == 12 && g32(w.rec[2].body) == ID_DESTROY_NONE &&
       g64(w.rec[2].body + 4) == 12345, "destroy_session of an unknown session -> none");
    mtp_buf_clear(&b);
    p32(&b, ID_DESTROY);
    p64(&b, 777);
    mtp_session_call(w.c, b.data, b.len, 0, NULL, w.now);
    pump(&w);
    OK(w.rec[3].count == 1 && g32(w.rec[3].body) == ID_DESTROY_OK,
       "destroy_session of a known session -> ok");

    /* cancel a running call: rpc_drop_answer, later reply discarded */
    w.hold_replies = 1;
    int64_t id = call(&w, &q, 0);
    pump(&w);
    OK(mtp_session_cancel(w.c, (uint64_t)id, w.now) == 0, "cancel");
    drain_client(&w);
    OK(w.rec[id].count == 1 && w.rec[id].err == MTP_ECANCELED, "cancelled call ended with ECANCELED");
    outbox_t o = { 0 };
    collect(w.c, w.now, &o);
    const msg_t *d = find_msg(&o, ID_DROP_ANSWER);
    OK(d && (d->seq & 1), "rpc_drop_answer sent (content-related)");
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.srv[0], &o.pk[i], w.now);
    outbox_free(&o);
    collect(w.srv[0], w.now, &o);
    bool running = false;
    for (int i = 0; i < o.n; i++)
        if (g32(o.v[i].body) == ID_RPC_RESULT && o.v[i].len >= 16 &&
            g32(o.v[i].body + 12) == ID_DROPPED_RUNNING)
            running = true;
    OK(running, "server: rpc_answer_dropped_running");
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    uint64_t unacked = mtp_session_unacked(w.srv[0]);
    mtp_session_reply(w.srv[0], w.held[0], q.data, q.len, w.now);
    collect(w.srv[0], w.now, &o);
    bool answered = false;
    for (int i = 0; i < o.n; i++)
        if (g32(o.v[i].body) == ID_RPC_RESULT && g64(o.v[i].body + 4) == w.held[0])
            answered = true;
    OK(!answered && mtp_session_unacked(w.srv[0]) <= unacked, "reply to a dropped query discarded");
    outbox_free(&o);
    OK(mtp_session_cancel(w.c, (uint64_t)id, w.now) == MTP_ENOTFOUND, "second cancel: ENOTFOUND");
    drain_client(&w);
    OK(w.rec[id].count == 1, "still ended once");
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

static void test_rpc_errors(void)
{
    struct { int32_t code; const char *msg; int kind; bool has; int64_t arg; const char *name; } v[] = {
        { 420, "FLOOD_WAIT_42", MTP_RPCERR_FLOOD_WAIT, true, 42, "FLOOD_WAIT" },
        { 303, "PHONE_MIGRATE_2", MTP_RPCERR_PHONE_MIGRATE, true, 2, "PHONE_MIGRATE" },
        { 303, "FILE_MIGRATE_4", MTP_RPCERR_FILE_MIGRATE, true, 4, "FILE_MIGRATE" },
        { 303, "NETWORK_MIGRATE_5", MTP_RPCERR_NETWORK_MIGRATE, true, 5, "NETWORK_MIGRATE" },
        { 303, "USER_MIGRATE_3", MTP_RPCERR_USER_MIGRATE, true, 3, "USER_MIGRATE" },
        { 303, "STATS_MIGRATE_1", MTP_RPCERR_STATS_MIGRATE, true, 1, "STATS_MIGRATE" },
        { 420, "SLOWMODE_WAIT_10", MTP_RPCERR_SLOWMODE_WAIT, true, 10, "SLOWMODE_WAIT" },
        { 420, "FLOOD_PREMIUM_WAIT_7", MTP_RPCERR_FLOOD_PREMIUM_WAIT, true, 7, "FLOOD_PREMIUM_WAIT" },
        { 420, "2FA_CONFIRM_WAIT_3600", MTP_RPCERR_2FA_CONFIRM_WAIT, true, 3600, "2FA_CONFIRM_WAIT" },
        { 400, "FILE_PART_7_MISSING", MTP_RPCERR_FILE_PART_MISSING, true, 7, "FILE_PART_7_MISSING" },
        { 400, "PHONE_CODE_INVALID", MTP_RPCERR_OTHER, false, 0, "PHONE_CODE_INVALID" },
        { 420, "FLOOD_WAIT_", MTP_RPCERR_OTHER, false, 0, "FLOOD_WAIT_" },
        { 420, "FLOOD_WAIT_99999999999999999999", MTP_RPCERR_OTHER, false, 0, "FLOOD_WAIT_99999999999999999999" },
        { 400, "", MTP_RPCERR_OTHER, false, 0, "" },
        { 400, "_5", MTP_RPCERR_OTHER, true, 5, "" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        mtp_rpc_error_t e;
        int k = mtp_rpc_error_parse(v[i].code, (const uint8_t *)v[i].msg, strlen(v[i].msg), &e);
        OK(k == v[i].kind && e.has_arg == v[i].has && (!v[i].has || e.arg == v[i].arg) &&
           e.name.len == strlen(v[i].name) && !memcmp(e.name.ptr, v[i].name, e.name.len) &&
           e.code == v[i].code, "rpc_error parse %s", v[i].msg);
    }
    OK(mtp_rpc_error_is_wait(MTP_RPCERR_SLOWMODE_WAIT) && !mtp_rpc_error_is_wait(MTP_RPCERR_FILE_MIGRATE) &&
       mtp_rpc_error_is_migrate(MTP_RPCERR_FILE_MIGRATE), "wait/migrate predicates");

    /* routed through the sessions */
    world_t w;
    world_init(&w, NULL);
    w.hold_replies = 1;
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    for (int i = 0; i < 4; i++)
        call(&w, &q, 0);
    pump(&w);
    mtp_session_t *srv = w.srv[0];
    mtp_session_reply_error(srv, w.held[0], 420, "FLOOD_WAIT_42", w.now);
    mtp_session_reply_error(srv, w.held[1], 303, "PHONE_MIGRATE_2", w.now);
    mtp_session_reply_error(srv, w.held[2], 303, "FILE_MIGRATE_4", w.now);
    mtp_session_reply_error(srv, w.held[3], 420, "SLOWMODE_WAIT_10", w.now);
    pump(&w);
    OK(completed_once(&w, 1, 4), "four calls ended once");
    OK(w.rec[1].err == MTP_ERPC && w.rec[1].e.code == 420 && w.rec[1].e.kind == MTP_RPCERR_FLOOD_WAIT &&
       w.rec[1].e.arg == 42, "FLOOD_WAIT_42 routed and parsed");
    OK(w.rec[2].e.code == 303 && w.rec[2].e.kind == MTP_RPCERR_PHONE_MIGRATE && w.rec[2].e.arg == 2,
       "PHONE_MIGRATE_2 routed and parsed");
    OK(w.rec[3].e.kind == MTP_RPCERR_FILE_MIGRATE && w.rec[3].e.arg == 4, "FILE_MIGRATE_4");
    OK(w.rec[4].e.kind == MTP_RPCERR_SLOWMODE_WAIT && w.rec[4].e.arg == 10, "SLOWMODE_WAIT_10");
    OK(!strcmp(w.rec[1].emsg, "FLOOD_WAIT_42"), "error message kept");

    /* rpc_error inside gzip_packed; result for an unknown req_msg_id ignored */
    w.hold_replies = 1;
    w.nheld = 0;
    call(&w, &q, 0);
    pump(&w);
    mtp_buf_t e, g, z;
    mtp_buf_init(&e);
    mtp_buf_init(&g);
    mtp_buf_init(&z);
    p32(&e, ID_RPC_ERROR);
    p32(&e, 500);
    pbytes(&e, "INTERNAL", 8);
    mtp_gzip_deflate(e.data, e.len, 0, &z);
    p32(&g, ID_RPC_RESULT);
    p64(&g, mtp_session_call_msg_id(w.c, 5));
    p32(&g, ID_GZIP);
    pbytes(&g, z.data, z.len);
    mtp_session_send_raw(srv, g.data, g.len, MTP_SESS_SEND_CONTENT | MTP_SESS_SEND_ANSWER, w.now);
    mtp_buf_clear(&g);
    p32(&g, ID_RPC_RESULT);
    p64(&g, 0x7777777700000000);
    mtp_buf_append(&g, q.data, q.len);
    mtp_session_send_raw(srv, g.data, g.len, MTP_SESS_SEND_CONTENT | MTP_SESS_SEND_ANSWER, w.now);
    pump(&w);
    OK(w.rec[5].count == 1 && w.rec[5].err == MTP_ERPC && w.rec[5].e.code == 500,
       "gzipped rpc_error routed");
    OK(mtp_session_pending_calls(w.c) == 0, "stray rpc_result ignored");
    /* the stray result was content-related: the client acks it anyway */
    advance(&w, SEC);
    OK(mtp_session_unacked(srv) == 0, "every server message acked");

    mtp_buf_free(&e);
    mtp_buf_free(&g);
    mtp_buf_free(&z);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_replays(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);   /* acks flushed */
    OK(!mtp_session_want_pack(w.c, w.now), "nothing to send");
    /* replay the server's answer packet to the client */
    pkt_t p = { 0 };
    pkt_save(&p, &w.last_s2c.m);
    uint64_t d0 = mtp_session_stats(w.c)->duplicates;
    for (int i = 0; i < 3; i++)
        mtp_session_feed(w.c, &p.m, w.now);
    drain_client(&w);
    OK(w.rec[1].count == 1, "replayed answer does not complete the call again");
    OK(mtp_session_stats(w.c)->duplicates > d0, "replays counted as duplicates");
    uint64_t a0 = mtp_session_stats(w.c)->ids_acked;
    advance(&w, SEC);
    OK(mtp_session_stats(w.c)->ids_acked == a0 + 2, "replayed content-related messages re-acked");
    free(p.copy);
    world_free(&w);

    /* replays of a full server window */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.replay_window = 64;
    world_init(&w, &c);
    call(&w, &q, 0);
    pump(&w);
    mtp_session_t *srv = w.srv[0];
    for (int i = 0; i < 100; i++)
        mtp_session_push(srv, q.data, q.len, w.now);
    pump(&w);
    OK(w.updates == 100, "100 updates");
    /* an old one again: below the window -> ignored */
    msg_t v[4];
    split(&w.last_s2c.m, v, 4);
    mtp_buf_t b;
    mtp_buf_init(&b);
    make_query(&b, 3, 1, false);
    int64_t old = mtp_msg_id_from_time(w.now - 10 * SEC) | 3;
    mtp_session_msg_t m = { 0x1111, mtp_session_id(w.c), old, 301, b.data, b.len };
    mtp_session_feed(w.c, &m, w.now);
    drain_client(&w);
    OK(w.updates == 100, "message below a full replay window ignored");
    mtp_buf_free(&b);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_ordered_and_wrappers(void)
{
    world_t w;
    world_init(&w, NULL);
    w.hold_replies = 1;
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    int64_t a = call(&w, &q, MTP_SESS_ORDERED);
    pump(&w);
    int64_t b = call(&w, &q, MTP_SESS_ORDERED);
    pump(&w);
    OK(w.last_info.n_after == 1 && (w.last_info.wrappers & MTP_WRAP_AFTER_MSG) &&
       w.last_after == mtp_session_call_msg_id(w.c, (uint64_t)a),
       "ordered call wrapped in invokeAfterMsg(previous call's msg_id)");
    OK(w.last_query_len == q.len && !memcmp(w.last_query, q.data, q.len),
       "server sees the unwrapped query");
    /* both in one container: the second refers to the first */
    int64_t c1 = call(&w, &q, MTP_SESS_ORDERED);
    int64_t c2 = call(&w, &q, MTP_SESS_ORDERED);
    pump(&w);
    OK(w.last_after == mtp_session_call_msg_id(w.c, (uint64_t)c1),
       "chain inside one container");
    (void)b;
    (void)c2;
    /* after the predecessor finished, no wrapper */
    w.hold_replies = 0;
    for (int i = 0; i < w.nheld; i++)
        mtp_session_reply(w.srv[0], w.held[i], q.data, q.len, w.now);
    w.nheld = 0;
    pump(&w);
    call(&w, &q, MTP_SESS_ORDERED);
    pump(&w);
    OK(w.last_info.n_after == 0, "no invokeAfterMsg once the previous call ended");

    /* invokeWithLayer(initConnection(...)) */
    mtp_init_connection_t ic = { 0 };
    ic.layer = 228;
    ic.api_id = 12345;
    ic.device_model = "dev";
    ic.system_version = "sys";
    ic.app_version = "1.0";
    ic.system_lang_code = "en";
    ic.lang_pack = "";
    ic.lang_code = "en";
    ic.proxy_address = "proxy.example";
    ic.proxy_port = 443;
    uint8_t params[] = { 0x68, 0x7b, 0x6d, 0x3f };   /* jsonNull */
    ic.params = params;
    ic.params_len = 4;
    mtp_buf_t wr;
    mtp_buf_init(&wr);
    OK(mtp_wrap_init_connection(&ic, q.data, q.len, &wr) == 0, "wrap initConnection");
    OK(g32(wr.data) == ID_WITH_LAYER && g32(wr.data + 4) == 228 && g32(wr.data + 8) == ID_INIT_CONN,
       "invokeWithLayer(228, initConnection(...))");
    mtp_session_call(w.c, wr.data, wr.len, 0, NULL, w.now);
    pump(&w);
    OK((w.last_info.wrappers & (MTP_WRAP_LAYER | MTP_WRAP_INIT)) == (MTP_WRAP_LAYER | MTP_WRAP_INIT) &&
       w.last_info.layer == 228 && w.last_info.api_id == 12345 &&
       w.last_info.has_proxy && w.last_info.proxy_port == 443 && w.last_info.params.len == 4,
       "server unwrapped layer/initConnection");
    OK(w.last_query_len == q.len && !memcmp(w.last_query, q.data, q.len), "inner query intact");
    OK(mtp_session_layer(w.srv[0]) == 228, "server session remembers the layer");
    call(&w, &q, 0);
    pump(&w);
    OK(w.last_info.layer == 228 && !(w.last_info.wrappers & MTP_WRAP_LAYER),
       "later queries report the session's layer");

    /* unwrap edge cases */
    mtp_query_info_t info;
    mtp_buf_clear(&wr);
    p32(&wr, ID_WITH_LAYER);
    OK(mtp_query_unwrap(wr.data, wr.len, &info) == MTP_ETRUNC, "truncated invokeWithLayer");
    mtp_buf_clear(&wr);
    for (int i = 0; i < 20; i++)
        p32(&wr, 0xbf9459b7u);   /* invokeWithoutUpdates x 20 */
    mtp_buf_append(&wr, q.data, q.len);
    OK(mtp_query_unwrap(wr.data, wr.len, &info) == MTP_EDEPTH, "wrapper depth limited");
    mtp_buf_clear(&wr);
    OK(mtp_wrap_invoke_after(5, q.data, q.len, &wr) == 0 && g32(wr.data) == ID_AFTER_MSG &&
       mtp_query_unwrap(wr.data, wr.len, &info) == 0 && mtp_query_after_id(&info, 0) == 5,
       "invokeAfterMsg round trip");
    OK(mtp_wrap_invoke_after(5, q.data, 3, &wr) == MTP_EINVAL, "bad query length rejected");
    mtp_buf_free(&wr);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_close_and_reconnect(void)
{
    world_t w;
    world_init(&w, NULL);
    w.scfg.announce_new_session = false;   /* else its packet carries the acks at once */
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    w.hold_replies = 1;
    for (int i = 0; i < 5; i++)
        call(&w, &q, 0);
    pump(&w);
    /* reconnect: nothing acked yet (acks pending at the server) -> re-sent */
    w.drop_s2c = 100;     /* the server's acks never arrive */
    advance(&w, SEC);
    w.drop_s2c = 0;
    int qn = w.queries;
    mtp_session_reconnected(w.c, w.now);
    pump(&w);
    OK(w.queries == qn + 5, "unacked calls re-sent after reconnect (%d)", w.queries - qn);
    /* now acked: a second reconnect re-sends nothing */
    advance(&w, SEC);
    qn = w.queries;
    mtp_session_reconnected(w.c, w.now);
    pump(&w);
    OK(w.queries == qn, "acked calls are not re-sent after reconnect");
    /* server side: unacked answers re-sent with the same msg_id after reconnect */
    w.drop_s2c = 1;
    mtp_session_reply(w.srv[0], w.held[0], q.data, q.len, w.now);
    pump(&w);
    int64_t lost_id = 0;
    msg_t v[8];
    int n = split(&w.last_s2c.m, v, 8);
    for (int i = 0; i < n; i++)
        if (g32(v[i].body) == ID_RPC_RESULT)
            lost_id = v[i].msg_id;
    mtp_session_reconnected(w.srv[0], w.now);
    pump(&w);
    n = split(&w.last_s2c.m, v, 8);
    bool same = false;
    for (int i = 0; i < n; i++)
        if (g32(v[i].body) == ID_RPC_RESULT && v[i].msg_id == lost_id)
            same = true;
    OK(same, "server re-sends an unacked answer with the same msg_id");
    int done = 0;
    for (int i = 1; i <= 5; i++)
        done += w.rec[i].count;
    OK(done == 1, "exactly one call answered so far (%d)", done);
    /* close: the rest end with ECLOSED */
    mtp_session_close(w.c, MTP_ECLOSED);
    drain_client(&w);
    OK(completed_once(&w, 1, 5), "every call ended exactly once after close");
    int closed = 0;
    for (int i = 1; i <= 5; i++)
        closed += w.rec[i].err == MTP_ECLOSED;
    OK(closed == 4, "four ended with MTP_ECLOSED");
    OK(call(&w, &q, 0) == MTP_ESTATE, "calls after close refused");
    mtp_session_msg_t m;
    OK(mtp_session_pack(w.c, w.now, &m) == 0, "nothing to send after close");
    mtp_buf_free(&q);
    world_free(&w);
}

typedef struct tr {
    int in, out, in_inner, out_inner;
    bool ids_ok;
} tr_t;

static void trace_cb(void *ctx, int dir, int64_t sid, int64_t id, int32_t seq,
                     const uint8_t *body, size_t len)
{
    tr_t *t = ctx;
    (void)sid;
    (void)seq;
    if (!id || !body || len < 4)
        t->ids_ok = false;
    if (dir & MTP_TRACE_OUT) {
        t->out++;
        t->out_inner += (dir & MTP_TRACE_INNER) != 0;
    } else {
        t->in++;
        t->in_inner += (dir & MTP_TRACE_INNER) != 0;
    }
}

static void test_trace(void)
{
    tr_t ct = { 0, 0, 0, 0, true }, st = { 0, 0, 0, 0, true };
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.trace = trace_cb;
    c.trace_ctx = &ct;
    world_t w;
    world_init(&w, &c);
    w.scfg.trace = trace_cb;
    w.scfg.trace_ctx = &st;
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);
    /* client: 1 container out (2 calls) + 1 ack out; server: container in, then
     * new_session_created + 2 answers out in one container, ack in */
    OK(ct.out == 4 && ct.out_inner == 2, "client traced its container and both calls, then the ack "
       "(%d/%d)", ct.out, ct.out_inner);
    OK(st.in == ct.out && st.in_inner == ct.out_inner, "server traced the same messages in");
    OK(st.out == 4 && st.out_inner == 3 && ct.in == st.out && ct.in_inner == 3,
       "server traced new_session_created and both answers out, client in (%d/%d)", st.out,
       st.out_inner);
    OK(ct.ids_ok && st.ids_ok, "every traced message has an id and a body");
    mtp_buf_free(&q);
    world_free(&w);
}

/* A container is taken or refused as a whole (issue 13 item 9): when one inner message
 * breaks a rule, none of the others is dispatched, acked or entered into the replay
 * window. */
static void inner(mtp_buf_t *b, int64_t id, int32_t seq, const mtp_buf_t *body)
{
    p64(b, id);
    p32(b, (uint32_t)seq);
    p32(b, (uint32_t)body->len);
    mtp_buf_append(b, body->data, body->len);
}

static void test_container_whole(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q, b;
    mtp_buf_init(&q);
    mtp_buf_init(&b);
    make_query(&q, 1, 1, false);
    mtp_usec_t t = w.now;

    /* server: a valid query, then one with a msg_id ≡ 2 mod 4 */
    mtp_session_t *srv = server_for(&w, 4343);
    feed(srv, 0x1111, cid_at(t, 0), 1, q.data, q.len, t);
    drain_server(&w, srv);
    int q0 = w.queries;
    int64_t good = cid_at(t, 2), badid = cid_at(t, 3) + 2, cont = cid_at(t, 5);
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, good, 3, &q);
    inner(&b, badid, 5, &q);
    feed(srv, 0x1111, cont, 6, b.data, b.len, t);
    drain_server(&w, srv);
    outbox_t o = { 0 };
    collect(srv, t, &o);
    int64_t bid = 0;
    IS_INT(bad_code(&o, &bid), 18, "server: an inner msg_id ≡ 2 mod 4 refuses the container");
    OK(bid == cont, "  the notification is about the container");
    OK(w.queries == q0, "  its valid query is not handed out");
    OK(!mtp_session_received(srv, good) && !mtp_session_received(srv, cont),
       "  neither the query nor the container enters the replay window");
    OK(find_msg(&o, ID_MSGS_ACK) == NULL, "  nothing of it is acked");
    outbox_free(&o);
    /* the client re-sends the query alone: it is taken now */
    feed(srv, 0x1111, good, 3, q.data, q.len, t);
    drain_server(&w, srv);
    OK(w.queries == q0 + 1, "server: the query re-sent on its own is taken");

    /* server: the same msg_id twice in one container */
    int64_t twice = cid_at(t, 10);
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, twice, 7, &q);
    inner(&b, twice, 9, &q);
    feed(srv, 0x1111, cid_at(t, 12), 8, b.data, b.len, t);
    drain_server(&w, srv);
    collect(srv, t, &o);
    IS_INT(bad_code(&o, NULL), 64, "server: a msg_id twice in a container refuses it (64)");
    OK(w.queries == q0 + 1 && !mtp_session_received(srv, twice), "  and takes neither copy");
    outbox_free(&o);

    /* server: seq_no order broken inside the container (higher id, lower seq_no) */
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, cid_at(t, 20), 13, &q);
    inner(&b, cid_at(t, 21), 11, &q);
    feed(srv, 0x1111, cid_at(t, 22), 14, b.data, b.len, t);
    drain_server(&w, srv);
    collect(srv, t, &o);
    int code = bad_code(&o, &bid);
    OK((code == 32 || code == 33) && bid == cid_at(t, 22),
       "server: seq_no order broken inside a container refuses it (%d)", code);
    OK(w.queries == q0 + 1 && !mtp_session_received(srv, cid_at(t, 20)),
       "  its first query is not taken");
    outbox_free(&o);

    /* client: an update, then a message with an even (client) msg_id */
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);   /* the acks of that exchange go out first */
    int u0 = w.updates;
    uint64_t acked0 = mtp_session_stats(w.c)->ids_acked;
    make_query(&b, 7, 1, false);
    mtp_buf_t upd;
    mtp_buf_init(&upd);
    mtp_buf_append(&upd, b.data, b.len);
    int64_t base = mtp_msg_id_from_time(w.now + 2 * SEC);   /* ids the server never used */
    int64_t sid1 = base | 3, sid2 = (base + 8) & ~3;
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, sid1, 1001, &upd);
    inner(&b, sid2, 1003, &upd);
    mtp_session_msg_t m = { 0x1111, mtp_session_id(w.c), (base + 16) | 1, 1004, b.data, b.len };
    int rc = mtp_session_feed(w.c, &m, w.now);
    drain_client(&w);
    OK(rc < 0, "client: a container with an even inner msg_id is refused (%d)", rc);
    OK(w.updates == u0, "  its valid update is not delivered");
    OK(!mtp_session_received(w.c, sid1) && !mtp_session_received(w.c, m.msg_id),
       "  neither the update nor the container enters the replay window");
    advance(&w, SEC);
    OK(mtp_session_stats(w.c)->ids_acked == acked0, "  nothing of it is acked");
    /* the same update alone is taken */
    mtp_session_msg_t one = { 0x1111, mtp_session_id(w.c), sid1, 1001, upd.data, upd.len };
    mtp_session_feed(w.c, &one, w.now);
    drain_client(&w);
    OK(w.updates == u0 + 1, "client: the update on its own is delivered");

    /* client: the same msg_id twice */
    int64_t sid3 = (base + 40) | 3;
    mtp_buf_clear(&b);
    p32(&b, ID_CONTAINER);
    p32(&b, 2);
    inner(&b, sid3, 1005, &upd);
    inner(&b, sid3, 1007, &upd);
    m.msg_id = (base + 48) | 1;
    rc = mtp_session_feed(w.c, &m, w.now);
    drain_client(&w);
    OK(rc < 0 && w.updates == u0 + 1 && !mtp_session_received(w.c, sid3),
       "client: a msg_id twice in a container: refused, nothing delivered");
    mtp_buf_free(&upd);
    mtp_buf_free(&q);
    mtp_buf_free(&b);
    world_free(&w);
}

static void test_misc_api(void)
{
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_SERVER);
    mtp_session_t *refused = NULL;
    OK(mtp_session_new(&c, &refused) == MTP_EINVAL && refused == NULL,
       "server without session_id refused");
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    mtp_session_t *s = new_session(&c);
    OK(s && mtp_session_id(s) != 0, "client draws a session id");
    OK(mtp_session_role(s) == MTP_ROLE_CLIENT, "role");
    uint8_t bad[3] = { 0 };
    OK(mtp_session_call(s, bad, 3, 0, NULL, T0) == MTP_EINVAL, "odd-length body refused");
    OK(mtp_session_reply(s, 1, bad, 0, T0) == MTP_EINVAL, "empty reply refused");
    uint8_t four[4] = { 1, 2, 3, 4 };
    OK(mtp_session_reply(s, 1, four, 4, T0) == MTP_ESTATE, "client cannot reply");
    OK(mtp_session_push(s, four, 4, T0) == MTP_ESTATE, "client cannot push");
    OK(mtp_session_next_deadline(s) == MTP_TIME_NEVER, "idle client: no deadline");
    mtp_session_free(s);
    mtp_session_free(NULL);
}

int main(void)
{
    test_server_violations();
    test_client_reactions();
    test_new_session();
    test_state_req();
    test_resend_and_detailed();
    test_ping();
    test_destroy_and_drop();
    test_rpc_errors();
    test_replays();
    test_ordered_and_wrappers();
    test_close_and_reconnect();
    test_trace();
    test_container_whole();
    test_misc_api();
    return tap_done();
}
