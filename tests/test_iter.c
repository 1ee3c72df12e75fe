/*
 * Iterators (include/mtproto/iter.h) against the in-process harness seeded with
 * populate_messages = 50,000 (the public channel @harness_channel) and populate_members =
 * 10,000 (the public supergroup @harness_group): every message exactly once and in order,
 * newest first and oldest first, resumed from a saved position halfway, with FLOOD_WAIT
 * injected while paging (waited out by the client, and by the iterator); every member
 * once; the filters; search; join and leave checked from the harness's answers.
 * Prints the speeds measured (messages/s, members/s) as TAP comments.
 */
#include <mtproto/client.h>
#include <mtproto/iter.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "testharness.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_MSGS    50000
#define N_MEMBERS 10000
#define PHONE     "9996611111"      /* DC 1, code 11111 */

static tu_harness_t H;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static mtp_client_t *mk(int flood_threshold)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    cfg.flood_threshold = flood_threshold;
    mtp_client_t *c = NULL;
    int err = mtp_client_new(&cfg, &c);
    if (err)
        tap_bail("mtp_client_new: %d", err);
    mtp_call_error_t e;
    if (mtp_login_phone(c, PHONE, "11111", NULL, NULL, &e))
        tap_bail("login: %s", e.message);
    return c;
}

static int32_t msg_id(const mtp_tl_object_t *o)
{
    return o && o->tl == &mtp_tlc_message ? ((const mtp_message_t *)o)->id : -1;
}

/* Iterate the channel's history; ids into seen[] (counted), order checked. Stops after
 * `stop` items (0: to the end) and saves the position in pos. */
typedef struct walk {
    int64_t n, dups, disorder, bad;
    int32_t prev;
    int rc;
    int64_t pages, floods;
} walk_t;

static void walk_history(mtp_client_t *c, const mtp_iter_params_t *p, unsigned char *seen,
                         int64_t stop, char *pos, walk_t *w)
{
    mtp_iter_t *it = NULL;
    mtp_call_error_t e;
    w->rc = mtp_iter_new(c, p, &it, &e);
    if (w->rc)
        return;
    const mtp_tl_object_t *o;
    int rc;
    while ((rc = mtp_iter_next(it, &o, &e)) == 1) {
        int32_t id = msg_id(o);
        if (id <= 0 || id > N_MSGS) {
            w->bad++;
        } else {
            if (seen[id]++)
                w->dups++;
            if (w->prev && (p->reverse ? id <= w->prev : id >= w->prev))
                w->disorder++;
            w->prev = id;
        }
        w->n++;
        if (stop && w->n == stop)
            break;
    }
    w->rc = rc < 0 ? rc : 0;
    if (rc < 0)
        printf("# history: %d %s\n", rc, e.message);
    if (pos)
        mtp_iter_position(it, pos, 64);
    mtp_iter_stats(it, &w->pages, &w->floods);
    mtp_iter_free(it);
}

static int64_t missing(const unsigned char *seen)
{
    int64_t m = 0;
    for (int i = 1; i <= N_MSGS; i++)
        m += seen[i] == 0;
    return m;
}

static void test_history(mtp_client_t *c)
{
    unsigned char *seen = calloc(N_MSGS + 1, 1);
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_HISTORY;
    p.peer = "@harness_channel";
    walk_t w = { 0 };
    double t0 = now_s();
    walk_history(c, &p, seen, 0, NULL, &w);
    double dt = now_s() - t0;
    IS_INT(w.rc, 0, "history newest first ends without an error");
    IS_INT(w.n, N_MSGS, "every message yielded");
    IS_INT(missing(seen) + w.dups + w.bad, 0, "each exactly once");
    IS_INT(w.disorder, 0, "newest first");
    IS_INT(w.pages, N_MSGS / 100 + 1, "pages of 100 (and the empty page that ends)");
    printf("# export speed: %.0f messages/s (%d messages in %.2f s)\n", N_MSGS / dt, N_MSGS,
           dt);

    /* oldest first, killed halfway and resumed from the saved position */
    memset(seen, 0, N_MSGS + 1);
    p.reverse = true;
    char pos[64] = "";
    walk_t a = { 0 }, b = { 0 };
    walk_history(c, &p, seen, 23456, pos, &a);
    IS_INT(a.n, 23456, "oldest first: first part");
    p.resume = pos;
    b.prev = a.prev;
    walk_history(c, &p, seen, 0, NULL, &b);
    IS_INT(b.rc, 0, "resumed run ends without an error");
    IS_INT(a.n + b.n, N_MSGS, "both parts together: every message");
    IS_INT(missing(seen) + a.dups + b.dups + a.bad + b.bad, 0, "each exactly once");
    IS_INT(a.disorder + b.disorder, 0, "oldest first across the resume");

    /* limit and bounds */
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_HISTORY;
    p.peer = "@harness_channel";
    p.limit = 250;
    p.min_id = 100;
    p.max_id = 300;
    memset(seen, 0, N_MSGS + 1);
    walk_t l = { 0 };
    walk_history(c, &p, seen, 0, NULL, &l);
    IS_INT(l.n, 199, "min_id 100 < id < max_id 300: 199 messages (limit 250 not reached)");
    OK(seen[299] && seen[101] && !seen[100] && !seen[300], "bounds exclusive");
    p.limit = 150;
    p.min_id = p.max_id = 0;
    walk_t l2 = { 0 };
    walk_history(c, &p, seen, 0, NULL, &l2);
    IS_INT(l2.n, 150, "limit 150 over two pages");
    free(seen);
}

static void test_flood(mtp_client_t *c, mtp_client_t *strict)
{
    unsigned char *seen = calloc(N_MSGS + 1, 1);
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_HISTORY;
    p.peer = "@harness_channel";
    p.min_id = N_MSGS - 5000;       /* ids 45001..50000: 50 pages */
    /* the client waits out FLOOD_WAIT_1 itself (threshold 60) */
    mtp_server_fault_rpc(H.srv, "messages.getHistory", 2, 420, "FLOOD_WAIT_1");
    walk_t w = { 0 };
    walk_history(c, &p, seen, 0, NULL, &w);
    IS_INT(w.rc, 0, "FLOOD_WAIT waited out by the client");
    IS_INT(w.n, 5000, "every message of the window once");
    IS_INT(w.dups + w.disorder + w.bad, 0, "no duplicate, in order");
    mtp_server_fault_clear(H.srv);

    /* a client that waits for nothing: the iterator waits and asks for the page again */
    memset(seen, 0, N_MSGS + 1);
    mtp_server_fault_rpc(H.srv, "messages.getHistory", 1, 420, "FLOOD_WAIT_1");
    walk_t s = { 0 };
    walk_history(strict, &p, seen, 0, NULL, &s);
    IS_INT(s.rc, 0, "FLOOD_WAIT waited out by the iterator");
    IS_INT(s.floods, 1, "one flood wait counted by the iterator");
    IS_INT(s.n, 5000, "every message of the window once");
    IS_INT(s.dups + s.disorder + s.bad, 0, "no duplicate, in order");
    mtp_server_fault_clear(H.srv);

    /* longer than max_flood_wait: the error */
    mtp_server_fault_rpc(H.srv, "messages.getHistory", 1, 420, "FLOOD_WAIT_100");
    p.max_flood_wait = 5;
    walk_t f = { 0 };
    walk_history(strict, &p, seen, 0, NULL, &f);
    IS_INT(f.rc, MTP_EFLOOD, "a wait above max_flood_wait fails with MTP_EFLOOD");
    mtp_server_fault_clear(H.srv);
    free(seen);
}

static int64_t walk_members(mtp_client_t *c, int filter, const char *q, int64_t *dups,
                            int *rc_out, int64_t *total)
{
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_PARTICIPANTS;
    p.peer = "@harness_group";
    p.filter = filter;
    p.query = q;
    mtp_iter_t *it = NULL;
    mtp_call_error_t e;
    *rc_out = mtp_iter_new(c, &p, &it, &e);
    if (*rc_out)
        return 0;
    unsigned char *seen = calloc(N_MEMBERS + 1, 1);
    const mtp_tl_object_t *o;
    int64_t n = 0;
    int rc;
    *dups = 0;
    while ((rc = mtp_iter_next(it, &o, &e)) == 1) {
        const mtp_user_t *u = (const void *)o;
        int64_t k = o->tl == &mtp_tlc_user ? u->id - 7000000000LL : -1;
        if (k < 0 || k >= N_MEMBERS || seen[k]++)
            (*dups)++;
        n++;
    }
    *rc_out = rc;
    *total = mtp_iter_total(it);
    free(seen);
    mtp_iter_free(it);
    return n;
}

static void test_members(mtp_client_t *c)
{
    int64_t dups, total;
    int rc;
    double t0 = now_s();
    int64_t n = walk_members(c, MTP_ITER_MEMBERS_RECENT, NULL, &dups, &rc, &total);
    double dt = now_s() - t0;
    IS_INT(rc, 0, "members: no error");
    IS_INT(n, N_MEMBERS, "every member");
    IS_INT(dups, 0, "each once");
    IS_INT(total, N_MEMBERS, "count from the server");
    printf("# member-list speed: %.0f members/s (%d members in %.2f s)\n", N_MEMBERS / dt,
           N_MEMBERS, dt);
    n = walk_members(c, MTP_ITER_MEMBERS_ADMINS, NULL, &dups, &rc, &total);
    IS_INT(n, N_MEMBERS / 500, "admins: the creator and every 500th member");
    n = walk_members(c, MTP_ITER_MEMBERS_BOTS, NULL, &dups, &rc, &total);
    IS_INT(n, (N_MEMBERS - 5 + 96) / 97, "bots: every 97th member from 5");
    n = walk_members(c, MTP_ITER_MEMBERS_SEARCH, "member123", &dups, &rc, &total);
    IS_INT(n, 11, "search member123: 123 and 1230..1239");
    n = walk_members(c, MTP_ITER_MEMBERS_KICKED, NULL, &dups, &rc, &total);
    IS_INT(rc, 0, "kicked: no error");
    IS_INT(n, 0, "kicked: none");

    /* a broadcast channel's members need an admin */
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_PARTICIPANTS;
    p.peer = "@harness_channel";
    mtp_iter_t *it = NULL;
    mtp_call_error_t e;
    IS_INT(mtp_iter_new(c, &p, &it, &e), 0, "iterator over the channel's members");
    const mtp_tl_object_t *o;
    IS_INT(mtp_iter_next(it, &o, &e), MTP_ERPC, "its first page fails");
    OK(strcmp(e.message, "CHAT_ADMIN_REQUIRED") == 0, "CHAT_ADMIN_REQUIRED (%s)", e.message);
    mtp_iter_free(it);
}

static void test_search(mtp_client_t *c)
{
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_SEARCH;
    p.peer = "@harness_channel";
    p.query = "post 4999";          /* 4999, 49990..49999 */
    mtp_iter_t *it = NULL;
    mtp_call_error_t e;
    IS_INT(mtp_iter_new(c, &p, &it, &e), 0, "search iterator");
    const mtp_tl_object_t *o;
    int64_t n = 0, bad = 0;
    int rc;
    while ((rc = mtp_iter_next(it, &o, &e)) == 1) {
        int32_t id = msg_id(o);
        n++;
        bad += !(id == 4999 || (id >= 49990 && id <= 49999));
    }
    IS_INT(rc, 0, "search ends");
    IS_INT(n, 11, "11 matches");
    IS_INT(bad, 0, "the right ones");
    mtp_iter_free(it);

    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_SEARCH;
    p.peer = "@harness_channel";
    p.filter = MTP_ITER_MSG_DOCUMENT;
    p.min_id = N_MSGS - 1000;
    IS_INT(mtp_iter_new(c, &p, &it, &e), 0, "document search iterator");
    n = bad = 0;
    while ((rc = mtp_iter_next(it, &o, &e)) == 1) {
        n++;
        bad += msg_id(o) % 10 != 0;
    }
    IS_INT(n, 100, "every 10th post of the last 1000 (after min_id)");
    IS_INT(bad, 0, "documents only");
    mtp_iter_free(it);
}

/* Async: fetch pages from the callback until the end. */
typedef struct async_rec {
    int64_t n;
    int32_t prev;
    int disorder;
    bool done;
    int err;
} async_rec_t;

static void on_async(mtp_iter_t *it, void *user, const mtp_call_error_t *err)
{
    async_rec_t *r = user;
    if (err->err) {
        r->err = err->err;
        r->done = true;
        return;
    }
    const mtp_tl_object_t *o;
    int rc;
    while ((rc = mtp_iter_take(it, &o)) == 1) {
        int32_t id = msg_id(o);
        if (r->prev && id >= r->prev)
            r->disorder++;
        r->prev = id;
        r->n++;
    }
    if (rc == MTP_EAGAIN && mtp_iter_fetch(it, on_async, r) == 0)
        return;
    r->done = true;
}

static void test_async(mtp_client_t *c)
{
    mtp_iter_params_t p;
    mtp_iter_params_init(&p);
    p.kind = MTP_ITER_HISTORY;
    p.peer = "@harness_channel";
    p.min_id = N_MSGS - 1000;
    mtp_iter_t *it = NULL;
    mtp_call_error_t e;
    IS_INT(mtp_iter_new(c, &p, &it, &e), 0, "async iterator");
    const mtp_tl_object_t *o;
    IS_INT(mtp_iter_take(it, &o), MTP_EAGAIN, "nothing buffered before a fetch");
    async_rec_t r = { 0 };
    IS_INT(mtp_iter_fetch(it, on_async, &r), 0, "fetch started");
    IS_INT(mtp_iter_fetch(it, on_async, &r), MTP_ESTATE, "one fetch at a time");
    mtp_client_run(c, &r.done, 20000);
    OK(r.done, "async iteration completed");
    IS_INT(r.err, 0, "no error");
    IS_INT(r.n, 1000, "every message once");
    IS_INT(r.disorder, 0, "newest first");
    mtp_iter_free(it);
}

static void test_join_leave(mtp_client_t *c)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_call_error_t e;
    mtp_tl_object_t *ch = NULL, *res = NULL;
    IS_INT(mtp_client_input_channel(c, "@harness_group", a, &ch, &e), 0, "resolve the group");
    mtp_channels_joinChannel_t *j = MTP_NEW(a, channels_joinChannel);
    j->channel = ch;
    IS_INT(mtp_call_sync(c, &j->_, a, &res, &e), 0, "join (%s)", e.message);
    IS_INT(mtp_call_sync(c, &j->_, a, &res, &e), MTP_ERPC, "join again");
    OK(strcmp(e.message, "USER_ALREADY_PARTICIPANT") == 0, "USER_ALREADY_PARTICIPANT");
    int64_t dups, total;
    int rc;
    int64_t n = walk_members(c, MTP_ITER_MEMBERS_RECENT, NULL, &dups, &rc, &total);
    IS_INT(total, N_MEMBERS + 1, "the harness counts one member more");
    IS_INT(n, N_MEMBERS + 1, "and lists it");
    mtp_channels_leaveChannel_t *l = MTP_NEW(a, channels_leaveChannel);
    l->channel = ch;
    IS_INT(mtp_call_sync(c, &l->_, a, &res, &e), 0, "leave");
    IS_INT(mtp_call_sync(c, &l->_, a, &res, &e), MTP_ERPC, "leave again");
    OK(strcmp(e.message, "USER_NOT_PARTICIPANT") == 0, "USER_NOT_PARTICIPANT");
    n = walk_members(c, MTP_ITER_MEMBERS_RECENT, NULL, &dups, &rc, &total);
    IS_INT(total, N_MEMBERS, "back to the seeded count");
    mtp_arena_free(a);
}

int main(void)
{
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 1;
    sc.rsa_key_path = "tests/vectors/harness_rsa_2048.pem";
    if (access(sc.rsa_key_path, R_OK) != 0)
        sc.rsa_key_path = NULL;
    sc.populate_messages = N_MSGS;
    sc.populate_members = N_MEMBERS;
    double t0 = now_s();
    if (tu_harness_start(&H, "test_iter", &sc))
        tap_bail("harness did not start");
    printf("# harness seeded with %d posts and %d members in %.2f s\n", N_MSGS, N_MEMBERS,
           now_s() - t0);
    mtp_client_t *c = mk(60);
    mtp_client_t *strict = mk(0);
    test_history(c);
    test_flood(c, strict);
    test_members(c);
    test_search(c);
    test_async(c);
    test_join_leave(c);
    mtp_client_free(strict);
    mtp_client_free(c);
    tu_harness_stop(&H);
    return tap_done();
}
