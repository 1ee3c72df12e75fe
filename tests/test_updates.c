/*
 * The updates stream against the in-process harness: pushed messages delivered in order
 * and once, the sender's own sendMessage result moving its pts without a gap, missed
 * updates fetched with getDifference after a restart from the session file (format v3),
 * a lost push (gap) filled by getDifference without loss or duplicates, differenceSlice
 * followed to the end, out-of-order pushes held and applied in order, version-2 sessions
 * still loading, and `mtproto-cli updates`.
 */
#define _GNU_SOURCE
#include <mtproto/client.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "client/client_int.h"
#include "testharness.h"
#include "testutil.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define A_PHONE "9996621234"    /* user A, DC 2 */
#define B_PHONE "9996611111"    /* user B, DC 1 */
#define A_ID 9996621234LL
#define B_ID 9996611111LL

static tu_harness_t H;

static mtp_client_t *mk(const char *session)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    cfg.session_path = session;
    int err = 0;
    mtp_client_t *c = mtp_client_new(&cfg, &err);
    if (!c)
        tap_bail("mtp_client_new: %d", err);
    return c;
}

/* What a callback saw. */
typedef struct rec {
    int n;                      /* updates delivered */
    int msgs;                   /* updateNewMessage */
    int sent;                   /* updateShortSentMessage */
    int other;
    char text[64][48];          /* texts of the updateNewMessage ones, in order */
    int64_t from[64];
} rec_t;

static void on_upd(mtp_client_t *c, void *user, const mtp_tl_object_t *u,
                   const mtp_vec_obj_t *users, const mtp_vec_obj_t *chats)
{
    (void)c;
    (void)users;
    (void)chats;
    rec_t *r = user;
    r->n++;
    if (u->tl->id == MTP_ID_updateNewMessage) {
        const mtp_updateNewMessage_t *nm = (const void *)u;
        const mtp_message_t *m = (const void *)nm->message;
        if (r->msgs < 64 && m && m->_.tl->id == MTP_ID_message) {
            size_t n = m->message.len < 47 ? m->message.len : 47;
            memcpy(r->text[r->msgs], m->message.ptr, n);
            r->text[r->msgs][n] = 0;
            r->from[r->msgs] = m->from_id && m->from_id->tl->id == MTP_ID_peerUser
                                   ? ((const mtp_peerUser_t *)m->from_id)->user_id : 0;
        }
        r->msgs++;
    } else if (u->tl->id == MTP_ID_updateShortSentMessage) {
        r->sent++;
    } else {
        r->other++;
    }
}

static int send_text(mtp_client_t *c, const char *peer, const char *text, mtp_call_error_t *e)
{
    static int64_t rnd = 1000;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *ip = NULL, *o = NULL;
    int rc = mtp_client_input_peer(c, peer, a, &ip, e);
    if (!rc) {
        mtp_messages_sendMessage_t *s = MTP_NEW(a, messages_sendMessage);
        s->peer = ip;
        s->message = (mtp_bytes_t){ (const uint8_t *)text, strlen(text) };
        s->random_id = (int64_t)(tu_now() * 1e6) + ++rnd;
        rc = mtp_call_sync(c, &s->_, a, &o, e);
    }
    mtp_arena_free(a);
    return rc;
}

/* Run the client's loop until r has want messages (bounded), then `extra` ms more. */
static void pump(mtp_client_t *c, const rec_t *r, int want, int extra_ms)
{
    double end = tu_now() + 8;
    while (r->msgs < want && tu_now() < end)
        mtp_client_step(c, 50);
    end = tu_now() + extra_ms / 1000.0;
    while (tu_now() < end)
        mtp_client_step(c, 20);
}

static bool texts_are(const rec_t *r, int from, const char *const *want, int n)
{
    for (int i = 0; i < n; i++)
        if (from + i >= r->msgs || strcmp(r->text[from + i], want[i]))
            return false;
    return true;
}

/* An updateShortMessage from A with pts (pts_count 1), encoded into b. */
static void mk_short(mtp_buf_t *b, int32_t pts, const char *text)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_updateShortMessage_t *u = MTP_NEW(a, updateShortMessage);
    u->id = 100000 + pts;
    u->user_id = A_ID;
    u->message = (mtp_bytes_t){ (const uint8_t *)text, strlen(text) };
    u->pts = pts;
    u->pts_count = 1;
    u->date = 1700000000;
    mtp_buf_init(b);
    if (mtp_tl_encode(&u->_, b))
        tap_bail("encode updateShortMessage");
    mtp_arena_free(a);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static const char *cli_path(const char *argv0)
{
    static char cli[600];
    const char *slash = strrchr(argv0, '/');
    int n = slash ? (int)(slash - argv0) : 1;
    snprintf(cli, sizeof cli, "%.*s/../bin/mtproto-cli", n, slash ? argv0 : ".");
    return cli;
}

/* Start the CLI with stdout on a pipe; returns the read end (pid in *pid). */
static int spawn(const char *cli, const char *const *args, pid_t *pid)
{
    int po[2];
    if (pipe(po))
        return -1;
    *pid = fork();
    if (*pid == 0) {
        dup2(po[1], 1);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0)
            dup2(dn, 2);
        close(po[0]);
        execv(cli, (char *const *)args);
        _exit(127);
    }
    close(po[1]);
    return po[0];
}

static int reap(int fd, pid_t pid, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fd);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_updates(const char *argv0)
{
    char sa[300], sb[300];
    snprintf(sa, sizeof sa, "%s/a.session", H.dir);
    snprintf(sb, sizeof sb, "%s/b.session", H.dir);
    mtp_call_error_t e;
    mtp_client_updates_info_t ia, ib;
    rec_t *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);

    mtp_client_t *ca = mk(sa), *cb = mk(sb);
    OK(mtp_client_updates_start(cb, &e) == MTP_EAUTH, "updates_start before login: MTP_EAUTH");
    IS_INT(mtp_login_phone(ca, A_PHONE, "22222", NULL, NULL, &e), 0, "A logs in (%s)", e.message);
    IS_INT(mtp_login_phone(cb, B_PHONE, "11111", NULL, NULL, &e), 0, "B logs in (%s)", e.message);
    mtp_client_on_update(ca, on_upd, ra);
    mtp_client_on_update(cb, on_upd, rb);
    IS_INT(mtp_client_updates_start(cb, &e), 0, "B: updates_start (getState) (%s)", e.message);
    IS_INT(mtp_client_updates_start(ca, &e), 0, "A: updates_start (%s)", e.message);
    mtp_client_updates_info(ca, &ia);
    mtp_client_updates_info(cb, &ib);
    OK(ia.started && ia.have_state && ib.started && ib.have_state, "both have a state");
    int32_t a_pts0 = ia.pts, b_pts0 = ib.pts;

    /* A sends B three messages */
    const char *t3[] = { "one", "two", "three" };
    char bpeer[32];
    snprintf(bpeer, sizeof bpeer, "@user%s", B_PHONE);
    for (int i = 0; i < 3; i++)
        IS_INT(send_text(ca, i ? "9996611111" : bpeer, t3[i], &e), 0, "A sends '%s' (%s)", t3[i],
               e.message);
    mtp_client_updates_info(ca, &ia);
    OK(ra->sent == 3 && ra->n == 3, "A: its 3 sendMessage results delivered once each as "
       "updateShortSentMessage (%d/%d)", ra->sent, ra->n);
    OK(ia.pts == a_pts0 + 3 && ia.gaps == 0 && ia.held == 0,
       "A: pts moved by its own sends (%d -> %d), no gap (%llu)", a_pts0, ia.pts,
       (unsigned long long)ia.gaps);

    pump(cb, rb, 3, 300);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 3 && rb->n == 3, "B: three new-message updates, exactly once (%d/%d)",
       rb->msgs, rb->n);
    OK(texts_are(rb, 0, t3, 3), "B: right texts, in order");
    OK(rb->from[0] == A_ID && rb->from[2] == A_ID, "B: from_id is A (converted short form)");
    OK(ib.pts == b_pts0 + 3 && ib.gaps == 0, "B: pts %d -> %d, no gap", b_pts0, ib.pts);

    /* B offline: A sends two more; B restarts from its session file */
    mtp_client_free(cb);
    size_t flen = 0;
    uint8_t *fb = tu_read_file(sb, &flen);
    OK(fb && flen > 8 && get32(fb + 4) == 3, "session file is version 3");
    free(fb);
    const char *t2[] = { "four", "five" };
    for (int i = 0; i < 2; i++)
        IS_INT(send_text(ca, "9996611111", t2[i], &e), 0, "A sends '%s' while B is offline",
               t2[i]);
    memset(rb, 0, sizeof *rb);
    cb = mk(sb);
    mtp_client_on_update(cb, on_upd, rb);
    mtp_client_updates_info(cb, &ib);
    OK(ib.have_state && !ib.started && ib.pts == b_pts0 + 3, "B: state loaded from the file "
       "(pts %d)", ib.pts);
    IS_INT(mtp_client_updates_start(cb, &e), 0, "B: updates_start after restart (%s)", e.message);
    OK(rb->msgs == 2 && texts_are(rb, 0, t2, 2), "B: exactly the two missed messages, in "
       "order, via getDifference (%d)", rb->msgs);
    pump(cb, rb, 2, 400);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 2 && rb->n == 2 && ib.differences >= 1 && ib.pts == b_pts0 + 5,
       "B: nothing more after the restart (%d), pts %d", rb->n, ib.pts);

    /* a lost push: the gap is noticed, getDifference fills it */
    uint64_t diffs0 = ib.differences;
    mtp_client__updates_drop_pushes(cb, 1);
    const char *t2b[] = { "six", "seven" };
    for (int i = 0; i < 2; i++)
        IS_INT(send_text(ca, "9996611111", t2b[i], &e), 0, "A sends '%s'", t2b[i]);
    pump(cb, rb, 4, 900);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 4 && rb->n == 4 && texts_are(rb, 2, t2b, 2),
       "gap: both delivered, in order, once (%d updates)", rb->n);
    OK(ib.gaps >= 1 && ib.differences > diffs0 && ib.held == 0 && ib.pts == b_pts0 + 7,
       "gap detected (%llu), getDifference ran, nothing held, pts %d",
       (unsigned long long)ib.gaps, ib.pts);

    /* restart once more, getDifference answered in slices (pts_limit 1) */
    mtp_client_free(cb);
    const char *ts[] = { "s1", "s2", "s3" };
    for (int i = 0; i < 3; i++)
        IS_INT(send_text(ca, "9996611111", ts[i], &e), 0, "A sends '%s' while B is offline",
               ts[i]);
    memset(rb, 0, sizeof *rb);
    cb = mk(sb);
    mtp_client_on_update(cb, on_upd, rb);
    mtp_client__updates_pts_limit(cb, 1);
    IS_INT(mtp_client_updates_start(cb, &e), 0, "B: updates_start with slices (%s)", e.message);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 3 && rb->n == 3 && texts_are(rb, 0, ts, 3) && ib.differences >= 3 &&
           ib.pts == b_pts0 + 10,
       "differenceSlice followed to the end: 3 messages in order (%d), %llu calls, pts %d",
       rb->n, (unsigned long long)ib.differences, ib.pts);
    mtp_client__updates_pts_limit(cb, 0);

    mtp_client_free(ca);
    ca = NULL;

    /* version-2 session (no updates state) still loads: start falls back to getState */
    char *ex = mtp_client_session_export(cb);
    size_t el = ex ? strlen(ex) : 0;
    uint8_t *bin = malloc(el + 4);
    int bl = ex ? EVP_DecodeBlock(bin, (const unsigned char *)ex, (int)el) : -1;
    if (bl > 0 && el && ex[el - 1] == '=')
        bl--;
    if (bl > 0 && el > 1 && ex[el - 2] == '=')
        bl--;
    bool v3 = bl > 48 && get32(bin + 4) == 3;
    if (v3) {
        size_t n2 = (size_t)bl - 20;        /* drop the updates section */
        put32(bin + 4, 2);
        put32(bin + n2 - 4, (uint32_t)crc32(0, bin, (uInt)(n2 - 4)));
        char *t = malloc(4 * (n2 / 3 + 1) + 1);
        EVP_EncodeBlock((unsigned char *)t, bin, (int)n2);
        mtp_client_t *cv = mk(NULL);
        IS_INT(mtp_client_session_import(cv, t), 0, "a version-2 export imports");
        mtp_client_updates_info(cv, &ib);
        OK(!ib.have_state && mtp_client_user_id(cv) == B_ID, "v2: user kept, no updates state");
        rec_t *rv = calloc(1, sizeof *rv);
        mtp_client_on_update(cv, on_upd, rv);
        IS_INT(mtp_client_updates_start(cv, &e), 0, "v2: updates_start calls getState");
        mtp_client_updates_info(cv, &ib);
        OK(ib.have_state && ib.pts == b_pts0 + 10 && rv->n == 0,
           "v2: state from getState (pts %d), nothing replayed", ib.pts);
        /* out of order (synthetic pushes): held, then applied in order, no getDifference */
        int32_t p0 = ib.pts;
        uint64_t d0 = ib.differences;
        mtp_buf_t m1, m2;
        mk_short(&m1, p0 + 1, "late one");
        mk_short(&m2, p0 + 2, "late two");
        mtp_client__updates_inject(cv, m2.data, m2.len);
        mtp_client_updates_info(cv, &ib);
        OK(rv->n == 0 && ib.held == 1 && ib.gaps == 1, "pts+2 first: held, not delivered");
        mtp_client__updates_inject(cv, m1.data, m1.len);
        mtp_client_updates_info(cv, &ib);
        const char *late[] = { "late one", "late two" };
        OK(rv->msgs == 2 && texts_are(rv, 0, late, 2) && ib.held == 0 && ib.pts == p0 + 2 &&
               ib.differences == d0, "the missing one arrives: both applied in order, no "
           "getDifference (%d, pts %d)", rv->msgs, ib.pts);
        mtp_client__updates_inject(cv, m1.data, m1.len);
        mtp_client_updates_info(cv, &ib);
        OK(rv->n == 2 && ib.duplicates >= 1, "a repeated update is skipped");
        mtp_buf_free(&m1);
        mtp_buf_free(&m2);
        mtp_client_free(cv);
        free(rv);
        free(t);
    } else {
        tap_skip("export not v3", 7);
    }
    free(bin);
    free(ex);
    mtp_client_free(cb);

    /* mtproto-cli updates */
    const char *cli = cli_path(argv0);
    if (access(cli, X_OK) != 0) {
        tap_skip("mtproto-cli not built", 4);
        free(ra);
        free(rb);
        return;
    }
    char out[65536], hp[64], cs[300];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", H.ports[0]);
    snprintf(cs, sizeof cs, "%s/cli.session", H.dir);
#define CLI(...) { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", cs, "--api-id", "1", \
                   "--api-hash", "x", __VA_ARGS__, NULL }
    const char *h[] = { cli, "--help", NULL };
    pid_t pid;
    int fd = spawn(cli, h, &pid);
    int x = reap(fd, pid, out, sizeof out);
    OK(x == 0 && strstr(out, "updates [--timeout S] [--limit N]"), "--help documents updates");
    const char *lg[] = CLI("login", "--phone", B_PHONE, "--code", "11111");
    fd = spawn(cli, lg, &pid);
    x = reap(fd, pid, out, sizeof out);
    IS_INT(x, 0, "cli login as B");
    const char *bad[] = CLI("updates", "--limit", "x");
    fd = spawn(cli, bad, &pid);
    x = reap(fd, pid, out, sizeof out);
    IS_INT(x, 2, "cli updates --limit x: usage error");
    const char *up[] = CLI("--json", "updates", "--timeout", "10", "--limit", "2");
    fd = spawn(cli, up, &pid);
    usleep(1500 * 1000);        /* let it fetch its state */
    ca = mk(sa);
    send_text(ca, "9996611111", "cli eight", &e);
    send_text(ca, "9996611111", "cli nine", &e);
    mtp_client_free(ca);
    double t0 = tu_now();
    x = reap(fd, pid, out, sizeof out);
    char *l2 = strchr(out, '\n');
    bool good = x == 0 && tu_now() - t0 < 9 && l2 && strstr(out, "\"_\":\"updateNewMessage\"") &&
                strstr(out, "cli eight") && strstr(l2 + 1, "cli nine") && l2[1] == '{' &&
                strchr(l2 + 1, '\n') && !strchr(l2 + 1, '\n')[1];
    OK(good, "cli updates --limit 2: two JSON lines, in order, then exit (%d)", x);
    if (!good)
        tap_diag("output: %.400s", out);
#undef CLI
    free(ra);
    free(rb);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (tu_harness_start(&H, "test_updates", NULL))
        tap_bail("harness did not start");

    test_updates(argv[0]);

    tu_harness_stop(&H);
    return tap_done();
}
