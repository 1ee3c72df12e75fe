/*
 * The asynchronous mtp_call / mtp_call_ex results feed the peer cache as the synchronous
 * calls do (decoded by the method's result type: a bare Vector<User>, contacts.resolvedPeer),
 * and the opt-outs: MTP_CALL_NO_PEERS per call, mtp_client_set_async_peer_feed(c, false)
 * for the client. Against the in-process harness.
 */
#define _GNU_SOURCE
#include "testharness.h"
#include "testutil.h"

#include <mtproto/tl_schema.h>

#include <stdio.h>
#include <string.h>

typedef struct done {
    int n, err;
    size_t len;
} done_t;

static void cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len, const mtp_call_error_t *e)
{
    (void)c;
    (void)res;
    done_t *d = user;
    d->n++;
    d->err = e->err;
    d->len = len;
}

static int wait_done(mtp_client_t *c, done_t *d)
{
    double t0 = tu_now();
    while (!d->n && tu_now() - t0 < 20)
        mtp_client_step(c, 50);
    return d->n == 1 && d->err == 0;
}

/* async users.getUsers([inputUserSelf]) with flags; true when the call succeeded */
static bool get_self(mtp_client_t *c, unsigned flags)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
    g->id.n = 1;
    g->id.v = mtp_arena_alloc(a, sizeof(mtp_tl_object_t *));
    g->id.v[0] = (mtp_tl_object_t *)MTP_NEW(a, inputUserSelf);
    done_t d = { 0, 0, 0 };
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = mtp_tl_encode(&g->_, &b);
    if (!rc)
        rc = flags ? mtp_call_ex(c, 0, flags, b.data, b.len, cb, &d) : mtp_call(c, &g->_, cb, &d);
    mtp_buf_free(&b);
    mtp_arena_free(a);
    return !rc && wait_done(c, &d);
}

int main(void)
{
    tu_harness_t H;
    if (tu_harness_start(&H, "test_peers_async", NULL))
        tap_bail("harness did not start");
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    mtp_client_t *c = NULL;
    if (mtp_client_new(&cfg, &c))
        tap_bail("client");
    mtp_call_error_t e;
    IS_INT(mtp_login_phone(c, "9996611234", "11111", NULL, NULL, &e), 0, "login");
    const int64_t me = 9996611234LL;
    mtp_peer_t p;

    mtp_client_peers_clear(c);
    IS_INT(mtp_client_peers_count(c), 0, "cache emptied");
    OK(get_self(c, 0), "async mtp_call(users.getUsers)");
    IS_INT(mtp_client_peer_get(c, MTP_PEER_USER, me, &p), 0, "its Vector<User> fed the cache");
    OK(p.has_access_hash && !strcmp(p.username, "user9996611234"), "… with the access hash and username %s", p.username);

    mtp_client_peers_clear(c);
    OK(get_self(c, MTP_CALL_NO_PEERS), "async mtp_call_ex with MTP_CALL_NO_PEERS");
    IS_INT(mtp_client_peer_get(c, MTP_PEER_USER, me, &p), MTP_ENOTFOUND, "… fed nothing");

    /* contacts.resolveUsername through mtp_call_ex: a contacts.resolvedPeer */
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_contacts_resolveUsername_t *r = MTP_NEW(a, contacts_resolveUsername);
    r->username = (mtp_bytes_t){ (const uint8_t *)"user9996621234", 14 };
    mtp_buf_t b;
    mtp_buf_init(&b);
    done_t d = { 0, 0, 0 };
    OK(!mtp_tl_encode(&r->_, &b) && !mtp_call_ex(c, 0, 0, b.data, b.len, cb, &d) && wait_done(c, &d),
       "async contacts.resolveUsername");
    OK(mtp_client_peer_get(c, MTP_PEER_USER, 9996621234LL, &p) == 0 && p.has_access_hash,
       "the resolved user is in the cache");
    mtp_buf_free(&b);
    mtp_arena_free(a);

    mtp_client_set_async_peer_feed(c, false);
    mtp_client_peers_clear(c);
    OK(get_self(c, 0), "async call with the feed turned off");
    IS_INT(mtp_client_peer_get(c, MTP_PEER_USER, me, &p), MTP_ENOTFOUND, "… fed nothing");
    mtp_client_set_async_peer_feed(c, true);
    OK(get_self(c, 0) && mtp_client_peer_get(c, MTP_PEER_USER, me, &p) == 0, "turned on again: fed");

    /* the sync path is fed once, as before */
    mtp_client_peers_clear(c);
    a = mtp_arena_new(0);
    mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
    g->id.n = 1;
    g->id.v = mtp_arena_alloc(a, sizeof(mtp_tl_object_t *));
    g->id.v[0] = (mtp_tl_object_t *)MTP_NEW(a, inputUserSelf);
    mtp_tl_object_t *res = NULL;
    IS_INT(mtp_call_sync(c, &g->_, a, &res, &e), 0, "sync users.getUsers");
    OK(mtp_client_peer_get(c, MTP_PEER_USER, me, &p) == 0 && mtp_client_peers_count(c) == 1,
       "sync: fed, one entry");
    mtp_arena_free(a);

    mtp_client_free(c);
    tu_harness_stop(&H);
    return tap_done();
}
