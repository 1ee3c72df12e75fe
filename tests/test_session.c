/*
 * Session tests: a client session and server sessions talking through memory with a fake
 * clock (no envelope, no transport: the plaintext messages are handed over directly).
 * This file: ids and msg_id rules, round trips, containers and their limits, acks, gzip
 * both ways, file-part sized bodies, salts. test_session_rules.c: every
 * bad_msg_notification code (server detection and client reaction), new_session_created,
 * msgs_state_req/info, msg_resend_req, msg_detailed_info, ping/pong/ping_delay_disconnect,
 * destroy_session, rpc_drop_answer, rpc_result routing and rpc_error parsing, replays,
 * containers taken or refused as a whole, and that every call ends exactly once.
 */
#include "test_session_world.h"

/* ---------------------------------------------------------------------------------- */
/* tests                                                                              */
/* ---------------------------------------------------------------------------------- */

/* The ids the tests (and the session) hard-code agree with the generated schema. */
static void test_ids(void)
{
    OK(ID_MSGS_ACK == MTP_ID_mt_msgs_ack && ID_CONTAINER == MTP_ID_mt_msg_container &&
       ID_BAD_MSG == MTP_ID_mt_bad_msg_notification && ID_BAD_SALT == MTP_ID_mt_bad_server_salt &&
       ID_RPC_RESULT == MTP_ID_mt_rpc_result && ID_RPC_ERROR == MTP_ID_mt_rpc_error &&
       ID_GZIP == MTP_ID_mt_gzip_packed && ID_NEW_SESSION == MTP_ID_mt_new_session_created &&
       ID_STATE_REQ == MTP_ID_mt_msgs_state_req && ID_STATE_INFO == MTP_ID_mt_msgs_state_info &&
       ID_RESEND_REQ == MTP_ID_mt_msg_resend_req && ID_PONG == MTP_ID_mt_pong &&
       ID_PING == MTP_ID_mt_ping && ID_FUTURE_SALTS == MTP_ID_mt_future_salts &&
       ID_GET_SALTS == MTP_ID_mt_get_future_salts && ID_DESTROY == MTP_ID_mt_destroy_session &&
       ID_DESTROY_OK == MTP_ID_mt_destroy_session_ok &&
       ID_DESTROY_NONE == MTP_ID_mt_destroy_session_none &&
       ID_DROP_ANSWER == MTP_ID_mt_rpc_drop_answer &&
       ID_DROPPED_RUNNING == MTP_ID_mt_rpc_answer_dropped_running &&
       ID_DETAILED == MTP_ID_mt_msg_detailed_info, "service ids match tl/mtproto.tl");
    OK(ID_AFTER_MSG == MTP_ID_invokeAfterMsg && ID_WITH_LAYER == MTP_ID_invokeWithLayer &&
       ID_INIT_CONN == MTP_ID_initConnection && ID_GET_CONFIG == MTP_ID_help_getConfig,
       "wrapper ids match tl/api.tl");
}

static void test_msg_id(void)
{
    mtp_usec_t t = T0 + 123456;
    int64_t id = mtp_msg_id_from_time(t);
    OK((id & 3) == 0, "msg_id from time is divisible by 4");
    OK((id >> 32) == T0 / SEC, "msg_id high word is unix seconds");
    mtp_usec_t back = mtp_msg_id_time(id);
    OK(back <= t && t - back < 2, "msg_id time round trip (%lld vs %lld)", (long long)back,
       (long long)t);

    /* generator properties through a client session */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.future_salts = 0;
    c.time_synced = true;
    mtp_session_t *s = new_session(&c);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    int64_t last = 0;
    bool mono = true, parity = true, seqok = true;
    for (int i = 0; i < 50; i++) {
        mtp_session_call(s, q.data, q.len, 0, NULL, T0);   /* same clock value every time */
        mtp_session_msg_t m;
        while (mtp_session_pack(s, T0, &m) == 1) {
            msg_t v[8];
            int n = split(&m, v, 8);
            for (int k = 0; k < n; k++) {
                if (v[k].msg_id <= last)
                    mono = false;
                if (v[k].msg_id & 3)
                    parity = false;
                last = v[k].msg_id;
            }
            if (m.seq_no != 2 * i + 1)
                seqok = false;
        }
    }
    OK(mono, "client msg_ids strictly increase with a frozen clock");
    OK(parity, "client msg_ids are ≡ 0 mod 4");
    OK(seqok, "content-related seq_no = 2·count + 1");
    mtp_session_free(s);

    /* server parity: answers 1, pushes 3 */
    world_t w;
    world_init(&w, NULL);
    w.auto_reply = 1;
    call(&w, &q, 0);
    mtp_session_msg_t m;
    mtp_session_pack(w.c, w.now, &m);
    mtp_session_t *srv = server_for(&w, m.session_id);
    mtp_session_feed(srv, &m, w.now);
    drain_server(&w, srv);
    mtp_session_push(srv, q.data, q.len, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    bool ans = false, push = false, cont_gt = true;
    for (int i = 0; i < o.n; i++) {
        uint32_t id0 = g32(o.v[i].body);
        if (id0 == ID_RPC_RESULT)
            ans = (o.v[i].msg_id & 3) == 1;
        if (id0 == 0x0badf00du)
            push = (o.v[i].msg_id & 3) == 3;
        if (o.v[i].msg_id >= o.pk[0].msg_id && o.pk[0].len >= 4 && g32(o.pk[0].body) == ID_CONTAINER)
            cont_gt = false;
    }
    OK(ans, "server answer msg_id ≡ 1 mod 4");
    OK(push, "server push msg_id ≡ 3 mod 4");
    OK(cont_gt, "container msg_id greater than its contents");
    outbox_free(&o);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_round_trip(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 7, 5, false);
    int64_t id = call(&w, &q, 0);
    OK(id == 1, "first call id is 1");
    OK(mtp_session_pending_calls(w.c) == 1, "one call pending");
    pump(&w);
    OK(w.queries == 1, "server saw the query once");
    OK(w.last_query_len == q.len && !memcmp(w.last_query, q.data, q.len), "query body intact");
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "result arrived once, no error");
    OK(w.rec[1].len == q.len && !memcmp(w.rec[1].body, q.data, q.len), "echoed result intact");
    OK(mtp_session_pending_calls(w.c) == 0, "no call pending");
    OK(w.new_sessions == 1, "client heard new_session_created once");
    /* the client owes acks for rpc_result + new_session_created; they go out by deadline */
    mtp_session_t *srv = w.srv[0];
    OK(mtp_session_next_deadline(w.c) == w.now + 500 * 1000, "ack flush deadline = +0.5 s (%lld)",
       (long long)(mtp_session_next_deadline(w.c) - w.now));
    OK(mtp_session_unacked(srv) == 2, "server keeps answer + new_session_created until acked");
    advance(&w, 499 * 1000);
    OK(mtp_session_unacked(srv) == 2, "not acked before the deadline");
    advance(&w, 1000);
    OK(mtp_session_unacked(srv) == 0, "acked at the deadline");
    OK(mtp_session_stats(w.c)->acks_out == 1 && mtp_session_stats(w.c)->ids_acked == 2,
       "one msgs_ack with both ids");
    /* the server acked the query implicitly by the rpc_result: client has nothing unacked */
    OK(mtp_session_unacked(w.c) == 0, "client has nothing waiting for an ack");
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_containers(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 9, 2, false);
    for (int i = 0; i < 3000; i++)
        call(&w, &q, 0);
    pump(&w);
    OK(completed_once(&w, 1, 3000), "3000 calls completed exactly once");
    OK(w.max_container_seen <= 1024 && w.max_container_seen >= 1000,
       "containers hold at most 1024 messages (max seen %d)", w.max_container_seen);
    OK(mtp_session_stats(w.c)->containers_out >= 3, "several client containers");
    world_free(&w);

    /* byte limit */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.max_container_bytes = 4096;
    c.gzip_min = SIZE_MAX;
    world_init(&w, &c);
    make_query(&q, 10, 200, false);   /* 808 bytes */
    for (int i = 0; i < 40; i++)
        call(&w, &q, 0);
    make_query(&q, 11, 3000, false);  /* 12008 bytes: bigger than a container may be */
    call(&w, &q, 0);
    pump(&w);
    OK(completed_once(&w, 1, 41), "41 calls completed (one too big for a container)");
    OK(w.rec[41].len == q.len, "the oversized call went alone and came back");
    /* every client packet except the oversized one respected 4096 bytes */
    OK(mtp_session_stats(w.c)->packets_out >= 10, "packets split by the byte limit (%llu)",
       (unsigned long long)mtp_session_stats(w.c)->packets_out);
    world_free(&w);

    /* MTP_SESS_ALONE */
    world_init(&w, NULL);
    make_query(&q, 12, 1, false);
    call(&w, &q, 0);
    call(&w, &q, MTP_SESS_ALONE);
    mtp_session_msg_t m;
    int pk = 0;
    bool alone_bare = false;
    while (mtp_session_pack(w.c, w.now, &m) == 1) {
        pk++;
        if (g32(m.body) == 0x0badf00du && m.seq_no == 3)
            alone_bare = true;
    }
    OK(pk == 2 && alone_bare, "MTP_SESS_ALONE goes in a packet of its own");
    world_free(&w);
    mtp_buf_free(&q);
}

static void test_acks(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    pump(&w);
    advance(&w, SEC);   /* flush acks of the round trip */
    mtp_session_t *srv = w.srv[0];
    uint64_t acks0 = mtp_session_stats(w.c)->acks_out;
    /* 99 pushes: below the count limit */
    make_query(&q, 2, 1, false);
    for (int i = 0; i < 99; i++)
        mtp_session_push(srv, q.data, q.len, w.now);
    pump(&w);
    OK(w.updates == 99, "99 updates delivered");
    OK(!mtp_session_want_pack(w.c, w.now), "99 pending acks wait for the deadline");
    OK(mtp_session_stats(w.c)->acks_out == acks0, "no ack yet");
    advance(&w, 500 * 1000);
    OK(mtp_session_stats(w.c)->acks_out == acks0 + 1, "acks flushed by the deadline");
    OK(mtp_session_unacked(srv) == 0, "server got all 99 acks");
    /* 150 pushes: flushed at 100 without waiting */
    for (int i = 0; i < 150; i++)
        mtp_session_push(srv, q.data, q.len, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    OK(mtp_session_want_pack(w.c, w.now), "100+ pending acks want to go now");
    collect(w.c, w.now, &o);
    const msg_t *a = find_msg(&o, ID_MSGS_ACK);
    OK(a && g32(a->body + 8) == 150, "one msgs_ack with all 150 ids (%u)", a ? g32(a->body + 8) : 0);
    OK(a && (a->seq & 1) == 0, "msgs_ack is not content-related");
    outbox_free(&o);
    /* acks piggy-back on a call */
    for (int i = 0; i < 3; i++)
        mtp_session_push(srv, q.data, q.len, w.now);
    collect(srv, w.now, &o);
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    call(&w, &q, 0);
    collect(w.c, w.now, &o);
    OK(o.npk == 1 && g32(o.pk[0].body) == ID_CONTAINER && find_msg(&o, ID_MSGS_ACK) &&
       find_msg(&o, 0x0badf00du), "pending acks ride along with the call in one container");
    outbox_free(&o);
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_gzip(void)
{
    world_t w;
    world_init(&w, NULL);
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 3, 1000, true);   /* 4008 compressible bytes */
    call(&w, &q, 0);
    mtp_session_msg_t m;
    mtp_session_pack(w.c, w.now, &m);
    OK(g32(m.body) == ID_GZIP && m.len < 200, "large client query sent as gzip_packed (%zu bytes)",
       m.len);
    mtp_session_t *srv = server_for(&w, m.session_id);
    mtp_session_feed(srv, &m, w.now);
    drain_server(&w, srv);
    OK(w.last_query_len == q.len && !memcmp(w.last_query, q.data, q.len),
       "server got the inflated query");
    pump(&w);
    OK(w.rec[1].count == 1 && w.rec[1].len == q.len && !memcmp(w.rec[1].body, q.data, q.len),
       "gzipped answer inflated by the client");
    OK(mtp_session_stats(srv)->gzip_out == 1, "server gzipped the rpc_result content");
    OK(mtp_session_stats(w.c)->gzip_in == 1 && mtp_session_stats(srv)->gzip_in == 1,
       "each side inflated once");

    /* MTP_SESS_NO_GZIP and incompressible bodies stay plain */
    call(&w, &q, MTP_SESS_NO_GZIP);
    mtp_session_pack(w.c, w.now, &m);
    OK(!(m.len >= 4 && g32(m.body) == ID_GZIP) && (g32(m.body) != ID_CONTAINER ||
       g32(m.body + 24) != ID_GZIP), "MTP_SESS_NO_GZIP is sent plain");
    pump(&w);

    /* big bodies: incompressible ones are not deflated, compressible ones are */
    uint64_t gz0 = mtp_session_stats(w.c)->gzip_out;
    make_query(&q, 8, 30000, false);
    uint32_t x = 12345;
    for (size_t i = 8; i < q.len; i++) {
        x = x * 1103515245u + 12345u;
        q.data[i] = (uint8_t)(x >> 23);
    }
    call(&w, &q, 0);
    OK(mtp_session_stats(w.c)->gzip_out == gz0, "120 KB of noise sent plain");
    make_query(&q, 8, 30000, true);
    call(&w, &q, 0);
    OK(mtp_session_stats(w.c)->gzip_out == gz0 + 1, "120 KB of repetition gzipped");
    pump(&w);

    /* zlib stream inside gzip_packed (as mtcute sends) */
    make_query(&q, 4, 300, true);
    uLongf zl = compressBound(q.len);
    uint8_t *z = malloc(zl);
    compress(z, &zl, q.data, q.len);
    OK(z[0] == 0x78, "zlib header");
    mtp_buf_t g;
    mtp_buf_init(&g);
    p32(&g, ID_GZIP);
    pbytes(&g, z, zl);
    int before = w.queries;
    feed(srv, 0x1111, cid_at(w.now, 100), 101, g.data, g.len, w.now);
    drain_server(&w, srv);
    OK(w.queries == before + 1 && w.last_query_len == q.len &&
       !memcmp(w.last_query, q.data, q.len), "zlib-in-gzip_packed query inflated");
    free(z);

    /* top-level gzip_packed from the server (an update) */
    make_query(&q, 5, 40, true);
    mtp_buf_clear(&g);
    mtp_buf_t gz;
    mtp_buf_init(&gz);
    mtp_gzip_deflate(q.data, q.len, 0, &gz);
    p32(&g, ID_GZIP);
    pbytes(&g, gz.data, gz.len);
    mtp_session_send_raw(srv, g.data, g.len, MTP_SESS_SEND_CONTENT, w.now);
    int up = w.updates;
    pump(&w);
    OK(w.updates == up + 1 && w.last_update_len == q.len &&
       !memcmp(w.last_update, q.data, q.len), "gzipped update inflated");

    /* a bomb is refused: over the cap */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.gzip_cap = 1000;
    world_t w2;
    world_init(&w2, &c);
    make_query(&q, 6, 1000, true);
    call(&w2, &q, MTP_SESS_NO_GZIP);
    pump(&w2);
    OK(w2.rec[1].count == 1 && w2.rec[1].err == MTP_EGZIP,
       "answer inflating past gzip_cap fails the call with MTP_EGZIP (%d)", w2.rec[1].err);
    world_free(&w2);

    mtp_buf_free(&gz);
    mtp_buf_free(&g);
    mtp_buf_free(&q);
    world_free(&w);
}


/* File-part sized bodies both ways, as a download does: sent bare (too big for a container),
 * never gzipped with MTP_SESS_NO_GZIP / mtp_session_reply_ex(NO_GZIP) even when they would
 * compress, and every answer intact while records and event buffers are recycled. */
static void test_big_parts(void)
{
    /* packets of at most 128 KiB: the 256 KiB bodies go bare, as 1 MiB parts do */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 0;
    c.max_container_bytes = 128u << 10;
    world_t w;
    world_init(&w, &c);
    w.scfg.max_container_bytes = 128u << 10;
    w.reply_flags = MTP_SESS_NO_GZIP;
    mtp_buf_t q;
    mtp_buf_init(&q);
    int ok_bodies = 0, bare = 0, plain = 0, total = 0;
    int64_t first = 0, last = 0;
    for (int round = 0; round < 3; round++) {
        int64_t ids[8];
        for (int i = 0; i < 8; i++) {
            /* 256 KiB, compressible, distinct per call */
            make_query(&q, (uint32_t)(100 + round * 8 + i), 65535, (i & 1) != 0);
            ids[i] = call(&w, &q, MTP_SESS_NO_GZIP);
            if (!first)
                first = ids[i];
            last = ids[i];
        }
        mtp_session_msg_t m;
        while (mtp_session_pack(w.c, w.now, &m) == 1) {
            total++;
            bare += m.len == q.len;
            plain += g32(m.body) != ID_GZIP;
            mtp_session_t *srv = server_for(&w, m.session_id);
            mtp_session_feed(srv, &m, w.now);
        }
        pump(&w);
        for (int i = 0; i < 8; i++) {
            make_query(&q, (uint32_t)(100 + round * 8 + i), 65535, (i & 1) != 0);
            rec_t *r = &w.rec[ids[i]];
            ok_bodies += r->count == 1 && r->err == 0 && r->len == q.len && !memcmp(r->body, q.data, q.len);
        }
        advance(&w, 1000000);   /* acks flow: retained records are released and reused */
    }
    OK(total == 24 && bare == 24 && plain == 24,
       "24 queries of 256 KiB sent bare and plain (%d/%d/%d)", total, bare, plain);
    OK(ok_bodies == 24, "24 answers of 256 KiB intact through recycled buffers (%d)", ok_bodies);
    OK(last - first == 23, "call ids in order");
    OK(mtp_session_stats(w.c)->gzip_out == 0 && mtp_session_stats(w.srv[0])->gzip_out == 0 &&
       mtp_session_stats(w.c)->gzip_in == 0, "nothing gzipped either way");
    OK(mtp_session_unacked(w.srv[0]) == 0 && mtp_session_unacked(w.c) == 0,
       "everything acknowledged in the end");

    /* the same compressible answer without the flag is gzipped (the flag did the work) */
    w.reply_flags = 0;
    make_query(&q, 999, 65535, true);
    int64_t id = call(&w, &q, MTP_SESS_NO_GZIP);
    pump(&w);
    OK(w.rec[id].count == 1 && w.rec[id].len == q.len && mtp_session_stats(w.srv[0])->gzip_out == 1,
       "without MTP_SESS_NO_GZIP the server gzips a compressible 256 KiB answer");
    mtp_buf_free(&q);
    world_free(&w);
}

static void test_salts(void)
{
    /* bad_server_salt: switch and re-send */
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x9999;   /* wrong */
    c.time_synced = true;
    c.future_salts = 0;
    world_t w;
    world_init(&w, &c);
    w.scfg.server_salt = 0x2222;
    mtp_buf_t q;
    mtp_buf_init(&q);
    make_query(&q, 1, 1, false);
    call(&w, &q, 0);
    mtp_session_msg_t m;
    mtp_session_pack(w.c, w.now, &m);
    int64_t first_id = m.msg_id;
    mtp_session_t *srv = server_for(&w, m.session_id);
    mtp_session_feed(srv, &m, w.now);
    outbox_t o = { 0 };
    collect(srv, w.now, &o);
    int64_t bid = 0;
    OK(bad_code(&o, &bid) == 48 && bid == first_id, "server: bad_server_salt (48) for our msg");
    const msg_t *bs = find_msg(&o, ID_BAD_SALT);
    OK(bs && g64(bs->body + 20) == 0x2222, "bad_server_salt carries the right salt");
    OK(bs && (bs->seq & 1) == 0 && (bs->msg_id & 3) == 1, "notification: even seq, answer id");
    for (int i = 0; i < o.npk; i++)
        mtp_session_feed(w.c, &o.pk[i], w.now);
    outbox_free(&o);
    OK(mtp_session_salt(w.c, w.now) == 0x2222, "client adopted the new salt");
    OK(w.queries == 0, "query not processed under the bad salt");
    pump(&w);
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "re-sent call succeeded");
    OK(w.rec[1].msg_id != first_id, "re-sent with a new msg_id");
    OK(w.salts_ev >= 1, "salts event");
    world_free(&w);

    /* future salts: request, store, rotate by time */
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.server_salt = 0x1111;
    c.time_synced = true;
    c.future_salts = 4;
    c.salt_refresh_margin = 10 * SEC;
    world_init(&w, &c);
    w.scfg.salt_period = 100;
    w.scfg.salt_grace = 0;
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[1].count == 1 && w.rec[1].err == 0, "call alongside get_future_salts");
    mtp_future_salt_t fs[8];
    size_t nfs = mtp_session_salts(w.c, fs, 8);
    OK(nfs == 4, "client stored 4 future salts (%zu)", nfs);
    OK(nfs == 4 && fs[0].salt == 0x1111 && fs[1].valid_since == fs[0].valid_until,
       "first is the current salt, periods are consecutive");
    uint64_t bad0 = mtp_session_stats(w.srv[0])->bad_msg_out;
    advance(&w, 150 * SEC);   /* into the second period (no grace) */
    OK(nfs == 4 && mtp_session_salt(w.c, w.now) == fs[1].salt, "client rotates to the next salt");
    call(&w, &q, 0);
    pump(&w);
    OK(w.rec[2].count == 1 && w.rec[2].err == 0, "call under the rotated salt succeeded");
    OK(mtp_session_stats(w.srv[0])->bad_msg_out == bad0, "no bad_server_salt after rotation");
    /* running out: the client asks again before the last one ends */
    advance(&w, 180 * SEC);   /* t = 330: last salt ends at 400, margin 10 s not reached */
    uint64_t pk = mtp_session_stats(w.c)->packets_out;
    advance(&w, 65 * SEC);    /* t = 395 */
    OK(mtp_session_stats(w.c)->packets_out > pk, "get_future_salts sent when salts run out");
    nfs = mtp_session_salts(w.c, fs, 8);
    OK(nfs >= 2, "fresh salts stored (%zu)", nfs);
    world_free(&w);

    /* old salt accepted within the grace period, refused after */
    world_init(&w, NULL);
    w.scfg.salt_period = 100;
    w.scfg.salt_grace = 50;
    call(&w, &q, 0);
    pump(&w);
    srv = w.srv[0];
    mtp_future_salt_t tab[2] = { { (int32_t)(T0 / SEC), (int32_t)(T0 / SEC) + 100, 0x1111 },
                                 { (int32_t)(T0 / SEC) + 100, (int32_t)(T0 / SEC) + 200, 0x3333 } };
    mtp_session_set_server_salts(srv, tab, 2);
    w.now += 120 * SEC;
    feed(srv, 0x1111, cid_at(w.now, 0), 101, q.data, q.len, w.now);
    collect(srv, w.now, &o);
    OK(bad_code(&o, NULL) == 0, "expired salt still accepted within the grace period");
    outbox_free(&o);
    w.now += 40 * SEC;
    feed(srv, 0x1111, cid_at(w.now, 0), 103, q.data, q.len, w.now);
    collect(srv, w.now, &o);
    bs = find_msg(&o, ID_BAD_SALT);
    OK(bs && g64(bs->body + 20) == 0x3333, "after the grace: bad_server_salt with the current salt");
    outbox_free(&o);
    world_free(&w);
    mtp_buf_free(&q);
}

int main(void)
{
    test_ids();
    test_msg_id();
    test_round_trip();
    test_containers();
    test_acks();
    test_gzip();
    test_big_parts();
    test_salts();
    return tap_done();
}
