/*
 * Session and conn constructors (int mtp_X_new(cfg, &out), versioned configs) and the
 * session's random values under a failing RNG: every random id (session_id, ping_id,
 * unique_id, generated salts) fails with an error instead of a predictable value.
 */
#include <mtproto/session.h>
#include <mtproto/conn.h>
#include <mtproto/tl.h>
#include <mtproto/tl_mtproto.h>

#include <string.h>

#include "testutil.h"

#define SEC MTP_USEC_PER_SEC
#define NOW (1700000000LL * SEC)

typedef struct { bool fail, zeros; uint32_t x; } rng_state_t;

static int rng_fill(void *ctx, uint8_t *out, size_t n)
{
    rng_state_t *st = ctx;
    if (st->fail) {
        memset(out, 0, n);
        return MTP_ECRYPTO;
    }
    for (size_t i = 0; i < n; i++) {
        st->x = st->x * 1103515245u + 12345u;
        out[i] = st->zeros ? 0 : (uint8_t)(st->x >> 16);
    }
    return 0;
}

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

/* Does the packet carry a message starting with constructor id? (4-aligned scan) */
static bool has_id(const uint8_t *p, size_t n, uint32_t id)
{
    for (size_t i = 0; i + 4 <= n; i += 4)
        if (((uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
             (uint32_t)p[i + 3] << 24) == id)
            return true;
    return false;
}

static void test_versions(void)
{
    mtp_session_config_t c;
    mtp_session_t *s = (mtp_session_t *)&c;   /* must be reset to NULL on failure */
    IS_INT(mtp_session_new(NULL, &s), MTP_EINVAL, "session: no config");
    OK(s == NULL, "  *out cleared");
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    IS_INT(c.version, MTP_SESSION_CONFIG_VERSION, "config_init stores the version");
    IS_INT(mtp_session_new(&c, NULL), MTP_EINVAL, "session: no out pointer");
    memset(&c, 0x5a, sizeof c);
    mtp_session_config_init_versioned(MTP_SESSION_CONFIG_VERSION + 1, &c, MTP_ROLE_CLIENT);
    OK(c.version == MTP_SESSION_CONFIG_VERSION + 1 && c.replay_window == 0x5a5a5a5au,
       "an unknown version: only the version written");
    IS_INT(mtp_session_new(&c, &s), MTP_EVERSION, "session: unknown config version refused");
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.role = (mtp_role_t)7;
    IS_INT(mtp_session_new(&c, &s), MTP_EINVAL, "session: unknown role refused");
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    IS_INT(mtp_session_new(&c, &s), 0, "session: created");
    OK(s && mtp_session_id(s) != 0, "  with a random session id");
    mtp_session_free(s);

    mtp_conn_config_t cc;
    mtp_conn_t *conn = NULL;
    mtp_conn_config_init(&cc, MTP_ROLE_SERVER);
    IS_INT(cc.version, MTP_CONN_CONFIG_VERSION, "conn config_init stores the version");
    IS_INT(cc.session.version, MTP_SESSION_CONFIG_VERSION, "  and its session template's");
    cc.version = 99;
    IS_INT(mtp_conn_new(&cc, NOW, &conn), MTP_EVERSION, "conn: unknown config version refused");
    OK(conn == NULL, "  no conn");
    mtp_conn_config_init(&cc, MTP_ROLE_SERVER);
    cc.session.version = 99;
    IS_INT(mtp_conn_new(&cc, NOW, &conn), MTP_EVERSION, "conn: unknown session template version");
    mtp_conn_config_init(&cc, MTP_ROLE_SERVER);
    IS_INT(mtp_conn_new(&cc, NOW, NULL), MTP_EINVAL, "conn: no out pointer");
    IS_INT(mtp_conn_new(&cc, NOW, &conn), 0, "conn: created");
    OK(conn != NULL, "  returned");
    mtp_conn_free(conn);
}

static void test_rng_new(void)
{
    rng_state_t st = { .fail = true };
    mtp_rng_t rng = { rng_fill, &st };
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.rng = &rng;
    mtp_session_t *s = NULL;
    int rc = mtp_session_new(&c, &s);
    OK(rc == MTP_ECRYPTO && s == NULL, "client: failing RNG, no session id -> error (%d)", rc);
    st.fail = false;
    st.zeros = true;
    rc = mtp_session_new(&c, &s);
    OK(rc < 0 && s == NULL, "client: an RNG giving only zeros -> error, no fixed fallback id");
    st.zeros = false;
    IS_INT(mtp_session_new(&c, &s), 0, "client: a working RNG -> a session");
    mtp_session_free(s);
}

static void test_rng_ping(void)
{
    rng_state_t st = { 0 };
    mtp_rng_t rng = { rng_fill, &st };
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.rng = &rng;
    c.session_id = 1234;
    c.future_salts = 0;
    c.time_synced = true;
    c.ping_interval = 10 * SEC;
    mtp_session_t *s = NULL;
    if (mtp_session_new(&c, &s))
        tap_bail("session");
    mtp_session_tick(s, NOW);   /* arms the keep-alive */
    st.fail = true;
    int rc = mtp_session_tick(s, NOW + 11 * SEC);
    OK(rc == MTP_ECRYPTO, "keep-alive: failing RNG for the ping_id -> tick fails (%d)", rc);
    OK(!mtp_session_want_pack(s, NOW + 11 * SEC), "  no ping with a made-up id queued");
    OK(mtp_session_next_deadline(s) > NOW + 11 * SEC, "  the skipped ping does not make the deadline spin");
    st.fail = false;
    IS_INT(mtp_session_tick(s, NOW + 21 * SEC), 0, "RNG back: the next keep-alive tick works");
    OK(mtp_session_want_pack(s, NOW + 21 * SEC), "  and queues the ping");
    mtp_session_free(s);
}

static void test_rng_new_session(void)
{
    rng_state_t st = { 0 };
    mtp_rng_t rng = { rng_fill, &st };
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_CLIENT);
    c.rng = &rng;
    c.future_salts = 0;
    c.time_synced = true;
    c.server_salt = 0x5a17;
    mtp_session_t *s = NULL;
    if (mtp_session_new(&c, &s))
        tap_bail("session");
    int64_t sid = mtp_session_id(s);
    uint8_t q[8] = { 0x6b, 0x18, 0xf9, 0xc4 };
    mtp_session_call(s, q, 8, 0, NULL, NOW);
    mtp_session_msg_t out;
    if (mtp_session_pack(s, NOW, &out) != 1)
        tap_bail("pack");
    int64_t sent = out.msg_id;
    /* bad_msg_notification 32 (seq_no too low): the client must move to a new session id */
    mtp_buf_t b;
    mtp_buf_init(&b);
    p32(&b, MTP_ID_mt_bad_msg_notification);
    p64(&b, sent);
    p32(&b, (uint32_t)out.seq_no);
    p32(&b, 32);
    st.fail = true;
    mtp_session_msg_t m = { 0x5a17, sid, mtp_msg_id_from_time(NOW) | 1, 2, b.data, b.len };
    mtp_session_feed(s, &m, NOW);
    mtp_session_event_t ev;
    int results = 0, err = 0;
    while (mtp_session_next_event(s, &ev) == 1)
        if (ev.type == MTP_SESSION_EV_RESULT) {
            results++;
            err = ev.err;
        }
    OK(results == 1 && err == MTP_ECRYPTO,
       "no new session id can be drawn: the call ends with the RNG error (%d)", err);
    OK(mtp_session_id(s) == sid && mtp_session_call(s, q, 8, 0, NULL, NOW) == MTP_ESTATE,
       "  the session is closed, its id unchanged (no predictable replacement)");
    mtp_buf_free(&b);
    mtp_session_free(s);
}

static void test_rng_server(void)
{
    rng_state_t st = { .fail = true };
    mtp_rng_t rng = { rng_fill, &st };
    mtp_session_config_t c;
    mtp_session_config_init(&c, MTP_ROLE_SERVER);
    c.rng = &rng;
    c.session_id = 4242;
    c.server_salt = 0x5a17;
    mtp_session_t *s = NULL;
    if (mtp_session_new(&c, &s))
        tap_bail("session");
    uint8_t q[8] = { 0x6b, 0x18, 0xf9, 0xc4 };
    mtp_session_msg_t m = { 0x5a17, 4242, mtp_msg_id_from_time(NOW), 1, q, 8 };
    int rc = mtp_session_feed(s, &m, NOW);
    mtp_session_event_t ev;
    int queries = 0;
    while (mtp_session_next_event(s, &ev) == 1)
        queries += ev.type == MTP_SESSION_EV_QUERY;
    OK(rc == MTP_ECRYPTO && queries == 0,
       "server: no unique_id for new_session_created -> the packet fails (%d)", rc);
    OK(!mtp_session_want_pack(s, NOW), "  nothing queued (no new_session_created with a fixed id)");
    st.fail = false;
    m.msg_id += 4;
    m.seq_no = 3;
    IS_INT(mtp_session_feed(s, &m, NOW), 0, "RNG back: the next packet is taken");
    queries = 0;
    while (mtp_session_next_event(s, &ev) == 1)
        queries += ev.type == MTP_SESSION_EV_QUERY;
    OK(queries == 1 && mtp_session_want_pack(s, NOW), "  its query handed out, the announce queued");
    /* get_future_salts with a failing RNG: no answer made of predictable salts */
    st.fail = true;
    mtp_buf_t b;
    mtp_buf_init(&b);
    p32(&b, MTP_ID_mt_get_future_salts);
    p32(&b, 8);
    mtp_session_msg_t out;
    while (mtp_session_pack(s, NOW, &out) == 1) {
    }
    m.msg_id += 4;
    m.seq_no = 5;
    m.body = b.data;
    m.len = b.len;
    mtp_session_feed(s, &m, NOW);
    bool salts_sent = false;
    while (mtp_session_pack(s, NOW + SEC, &out) == 1)
        if (has_id(out.body, out.len, MTP_ID_mt_future_salts))
            salts_sent = true;
    OK(!salts_sent, "get_future_salts with a failing RNG: no future_salts answer");
    mtp_buf_free(&b);
    mtp_session_free(s);
}

int main(void)
{
    test_versions();
    test_rng_new();
    test_rng_ping();
    test_rng_new_session();
    test_rng_server();
    return tap_done();
}
