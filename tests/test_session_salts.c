/*
 * The session's salts (src/proto/session_salts.c) on their own: the client's store of
 * future salts (dedup, expiry, cap, which one is in use, when to ask again) and the
 * server's salt table (rotation, acceptance window and grace, a failing RNG).
 */
#include <mtproto/session.h>

#include <string.h>

#include "proto/session_impl.h"
#include "testutil.h"

#define T0 1700000000   /* seconds */

static int rng_fail(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    memset(out, 0, n);
    return MTP_ECRYPTO;
}

static int rng_count(void *ctx, uint8_t *out, size_t n)
{
    uint64_t *c = ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(++*c * 131u + i);
    return 0;
}

static mtp_session_t *make(mtp_role_t role, const mtp_rng_t *rng)
{
    mtp_session_config_t c;
    mtp_session_config_init(&c, role);
    c.session_id = 777;
    c.server_salt = 0x5a17;
    c.rng = rng;
    mtp_session_t *s = NULL;
    if (mtp_session_new(&c, &s))
        tap_bail("mtp_session_new");
    return s;
}

static void test_client_store(void)
{
    mtp_session_t *s = make(MTP_ROLE_CLIENT, NULL);
    OK(ses_salt_at(s, T0) == 0x5a17, "no future salts: the configured salt");
    mtp_future_salt_t v[] = {
        { T0 - 100, T0 + 1000, 0xa },    /* valid now */
        { T0 + 900, T0 + 2000, 0xb },    /* next */
        { T0 - 500, T0 - 10, 0xc },      /* expired: dropped */
        { T0 + 10, T0 + 5, 0xd },        /* empty interval: dropped */
        { T0 - 100, T0 + 1200, 0xa },    /* same salt and start: extends the first */
    };
    ses_client_store_salts(s, v, 5, T0);
    mtp_future_salt_t got[8];
    IS_INT(mtp_session_salts(s, got, 8), 2, "two salts kept (expired, empty, duplicate dropped)");
    OK(got[0].salt == 0xa && got[0].valid_until == T0 + 1200 && got[1].salt == 0xb,
       "sorted by start; the duplicate extended the first");
    OK(ses_salt_at(s, T0) == 0xa, "salt in use now: the one valid now");
    OK(ses_salt_at(s, T0 + 950) == 0xb, "where two are valid: the newer one");
    OK(ses_salts_max_until(s) == T0 + 2000, "latest valid_until");
    ses_client_prune_salts(s, T0 + 1300);
    IS_INT(mtp_session_salts(s, got, 8), 1, "pruned at T0+1300: one left");
    OK(got[0].salt == 0xb, "  the later one");

    /* the cap: a full store keeps the earliest-starting salts */
    mtp_future_salt_t many[MAX_SALTS + 8];
    for (int i = 0; i < (int)MAX_SALTS + 8; i++) {
        many[i].valid_since = T0 + 10 * ((int)MAX_SALTS + 8 - i);
        many[i].valid_until = many[i].valid_since + 3600;
        many[i].salt = 1000 + i;
    }
    ses_client_store_salts(s, many, MAX_SALTS + 8, T0);
    size_t n = mtp_session_salts(s, NULL, 0);
    IS_INT(n, MAX_SALTS, "store capped at %u salts", MAX_SALTS);
    mtp_session_salts(s, many, 1);
    OK(many[0].valid_since == T0 + 10, "  the earliest-starting one kept");
    mtp_session_free(s);
}

static void test_client_refresh(void)
{
    mtp_session_t *s = make(MTP_ROLE_CLIENT, NULL);
    mtp_usec_t now = (mtp_usec_t)T0 * MTP_USEC_PER_SEC;
    mtp_session_set_time_offset(s, 0);
    OK(ses_salts_needed(s, now), "no salts known: ask");
    ses_queue_salts_req(s, now);
    OK(!ses_salts_needed(s, now + MTP_USEC_PER_SEC), "a request outstanding: do not ask again");
    OK(ses_salts_needed(s, now + SALTS_RETRY), "... until the retry time");
    mtp_future_salt_t f = { T0 - 10, T0 + 7200, 0xe };
    s->salts_req_at = 0;
    ses_client_store_salts(s, &f, 1, T0);
    OK(!ses_salts_needed(s, now), "two hours of salts: nothing to ask");
    OK(ses_salts_needed(s, now + (7200 - 599) * MTP_USEC_PER_SEC),
       "inside the refresh margin (10 min): ask");
    mtp_session_free(s);
}

static void test_server_table(void)
{
    uint64_t ctr = 0;
    mtp_rng_t rng = { rng_count, &ctr };
    mtp_session_t *s = make(MTP_ROLE_SERVER, &rng);
    OK(ses_server_salt_ok(s, 0x5a17, T0), "no table: the configured salt is accepted");
    OK(!ses_server_salt_ok(s, 0x5a18, T0), "  and no other");
    IS_INT(ses_server_salts_ensure(s, T0, 4), 0, "table of 4 future salts made");
    mtp_future_salt_t t[MAX_SALTS];
    size_t n = mtp_session_salts(s, t, MAX_SALTS);
    OK(n == 4 && t[0].salt == 0x5a17 && t[0].valid_since == T0 &&
       t[1].valid_since == t[0].valid_until && t[3].valid_until == T0 + 4 * 3600,
       "the current salt first, then back-to-back periods of an hour");
    bool distinct = t[1].salt != t[2].salt && t[2].salt != t[3].salt && t[1].salt != 0;
    OK(distinct, "generated salts are random and non-zero");
    OK(ses_server_salt_ok(s, t[1].salt, t[1].valid_since - 60), "next salt accepted 60 s early");
    OK(!ses_server_salt_ok(s, t[1].salt, t[1].valid_since - 61), "  not 61 s early");
    OK(ses_server_salt_ok(s, t[0].salt, t[0].valid_until + 1799), "expired salt within grace");
    OK(!ses_server_salt_ok(s, t[0].salt, t[0].valid_until + 1800), "  not after it");
    OK(ses_salt_at(s, T0 + 3600 + 5) == t[1].salt, "salt in use an hour later: the second");
    /* rotation: two hours later the first is gone (past the grace) and one more exists */
    IS_INT(ses_server_salts_ensure(s, T0 + 2 * 3600, 3), 0, "rotated two hours on");
    n = mtp_session_salts(s, t, MAX_SALTS);
    OK(n == 4 && t[0].valid_since == T0 + 3600 && t[3].valid_until == T0 + 5 * 3600,
       "expired salts past the grace dropped, one more period made (3 future + 1 in grace)");
    mtp_session_free(s);

    /* a failing RNG: an error, the table keeps what it had */
    mtp_rng_t bad = { rng_fail, NULL };
    s = make(MTP_ROLE_SERVER, &bad);
    int rc = ses_server_salts_ensure(s, T0, 3);
    OK(rc < 0, "server: RNG failure while making salts is an error (%d)", rc);
    n = mtp_session_salts(s, t, MAX_SALTS);
    OK(n == 1 && t[0].salt == 0x5a17, "  only the configured salt in the table, no made-up one");
    mtp_session_free(s);
}

static void test_public_api(void)
{
    mtp_session_t *s = make(MTP_ROLE_SERVER, NULL);
    mtp_future_salt_t v[2] = { { T0 + 3600, T0 + 7200, 0x22 }, { T0, T0 + 3600, 0x11 } };
    IS_INT(mtp_session_set_server_salts(s, v, 2), 0, "server salts set");
    OK(mtp_session_salt(s, (mtp_usec_t)(T0 + 10) * MTP_USEC_PER_SEC) == 0x11 &&
       mtp_session_salt(s, (mtp_usec_t)(T0 + 3610) * MTP_USEC_PER_SEC) == 0x22,
       "mtp_session_salt follows the table (sorted on set)");
    IS_INT(mtp_session_set_server_salts(s, v, MAX_SALTS + 1), MTP_EINVAL, "too many salts refused");
    mtp_session_free(s);
    s = make(MTP_ROLE_CLIENT, NULL);
    IS_INT(mtp_session_set_server_salts(s, v, 2), MTP_EINVAL, "client cannot set a server table");
    IS_INT(mtp_session_add_future_salts(s, NULL, 1), MTP_EINVAL, "NULL salts refused");
    mtp_session_free(s);
}

int main(void)
{
    test_client_store();
    test_client_refresh();
    test_server_table();
    test_public_api();
    return tap_done();
}
