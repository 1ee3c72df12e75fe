/*
 * The updates stream against the in-process harness: pushed messages delivered in order
 * and once, the sender's own sendMessage result moving its pts without a gap, missed
 * updates fetched with getDifference after a restart from the session file (format v3),
 * a lost push (gap) filled by getDifference without loss or duplicates, differenceSlice
 * followed to the end, out-of-order pushes held and applied in order, version-2 sessions
 * still loading, and `mtproto-cli updates`. Then paths the harness produces on request
 * (mtp_server_fault_updates / _rpc / _drop): updates{} with seq and a seq gap,
 * updatesCombined (also after a gap), a seq-only gap, updates.differenceTooLong and a
 * pushed updatesTooLong (and a failed getDifference retried), a connection cut mid-stream,
 * getDifference failing with 400; and a supergroup's own pts: a gap filled by
 * getChannelDifference, updateChannelTooLong with final=false slices, duplicates, the
 * channel's pts across a restart (session v4; v3 still loads), channelDifferenceTooLong,
 * getChannelDifference failing with 400, the sender's own posts.
 *
 * The rules themselves are tested without a server in test_msgbox; here the clients run
 * with a 10 ms gap hold and a 100 ms retry (a test hook) and wait for quiet rather than
 * for fixed times, so the whole run takes about a second.
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

/* The clients hold a gap HOLD_MS before asking for a difference and retry a failed one
 * after RETRY_MS (mtp_client__updates_timing; the library's defaults are 500 ms and 2 s).
 * After the expected updates arrived, quiesce() makes sure nothing more is coming, so that
 * anything delivered twice would be seen. */
#define HOLD_MS 10
#define RETRY_MS 100

static mtp_client_t *mk(const char *session)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    cfg.session_path = session;
    cfg.backoff_base = 10 * 1000;   /* reconnect soon after a cut connection */
    mtp_client_t *c = NULL;
    int err = mtp_client_new(&cfg, &c);
    if (err)
        tap_bail("mtp_client_new: %d", err);
    mtp_client__updates_timing(c, HOLD_MS * 1000, RETRY_MS * 1000);
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
    int too_long;               /* updatesTooLong (after updates.differenceTooLong) */
    int status;                 /* updateUserStatus */
    int64_t status_uid[16];     /* their user_id, in order */
    int chan;                   /* updateNewChannelMessage */
    char ctext[64][48];         /* their texts, in order */
    int chan_too_long;          /* updateChannelTooLong */
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
    } else if (u->tl->id == MTP_ID_updatesTooLong) {
        r->too_long++;
        r->other++;
    } else if (u->tl->id == MTP_ID_updateNewChannelMessage) {
        const mtp_message_t *m = (const void *)((const mtp_updateNewChannelMessage_t *)u)->message;
        if (r->chan < 64 && m && m->_.tl->id == MTP_ID_message) {
            size_t n = m->message.len < 47 ? m->message.len : 47;
            memcpy(r->ctext[r->chan], m->message.ptr, n);
            r->ctext[r->chan][n] = 0;
        }
        r->chan++;
        r->other++;
    } else if (u->tl->id == MTP_ID_updateChannelTooLong) {
        r->chan_too_long++;
        r->other++;
    } else if (u->tl->id == MTP_ID_updateUserStatus) {
        if (r->status < 16)
            r->status_uid[r->status] = ((const mtp_updateUserStatus_t *)u)->user_id;
        r->status++;
        r->other++;
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

/* Run c's loop until nothing more can be delivered without new input (bounded): a round
 * trip on its connection (every push the harness sent before the answer has been handled;
 * the harness sends pushes as it handles the call that causes them), then until nothing
 * is held, in flight or due in its updates box (a gap's difference ran to its end), twice. */
static void quiesce(mtp_client_t *c)
{
    for (int round = 0; round < 2; round++) {
        mtp_call_error_t e;
        mtp_arena_t *a = mtp_arena_new(0);
        mtp_tl_object_t *o = NULL;
        if (mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, updates_getState), a, &o, &e))
            tap_diag("quiesce: updates.getState: %d %s", e.err, e.message);
        mtp_arena_free(a);
        double end = tu_now() + 8;
        while (!mtp_client__updates_idle(c) && tu_now() < end)
            mtp_client_step(c, 5);
    }
}

/* Run the client's loop until r has want messages (bounded), then until it is quiet. */
static void pump(mtp_client_t *c, const rec_t *r, int want)
{
    double end = tu_now() + 8;
    while (r->msgs < want && tu_now() < end)
        mtp_client_step(c, 50);
    quiesce(c);
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

/* The session file at path holds an updates state (its owner ran updates_start): the
 * common state is the last 20 bytes before the CRC, have_state first. */
static bool session_has_state(const char *path)
{
    size_t n = 0;
    uint8_t *f = tu_read_file(path, &n);
    bool ok = f && n >= 36 && get32(f + 4) >= 3 && (get32(f + n - 24) & 1u);
    free(f);
    return ok;
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

    pump(cb, rb, 3);
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
    OK(fb && flen > 8 && get32(fb + 4) == 4, "session file is version 4");
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
    pump(cb, rb, 2);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 2 && rb->n == 2 && ib.differences >= 1 && ib.pts == b_pts0 + 5,
       "B: nothing more after the restart (%d), pts %d", rb->n, ib.pts);

    /* a lost push: the gap is noticed, getDifference fills it */
    uint64_t diffs0 = ib.differences;
    mtp_client__updates_drop_pushes(cb, 1);
    const char *t2b[] = { "six", "seven" };
    for (int i = 0; i < 2; i++)
        IS_INT(send_text(ca, "9996611111", t2b[i], &e), 0, "A sends '%s'", t2b[i]);
    pump(cb, rb, 4);
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
    bool v4 = bl > 52 && get32(bin + 4) == 4;
    if (v4) {
        /* drop the updates section: channels (12 bytes each), their count, common state */
        size_t n2 = (size_t)bl - 24 - 12 * (size_t)get32(bin + bl - 28);
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
        tap_skip("export not v4", 7);
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
    pid_t pid, hpid;
    int hfd = spawn(cli, h, &hpid);     /* runs meanwhile (no session) */
    const char *lg[] = CLI("login", "--phone", B_PHONE, "--code", "11111");
    int fd = spawn(cli, lg, &pid);
    int x = reap(fd, pid, out, sizeof out);
    int lx = x;
    x = reap(hfd, hpid, out, sizeof out);
    OK(x == 0 && strstr(out, "updates [--timeout S] [--limit N]"), "--help documents updates");
    IS_INT(lx, 0, "cli login as B");
    const char *bad[] = CLI("updates", "--limit", "x");
    fd = spawn(cli, bad, &pid);
    x = reap(fd, pid, out, sizeof out);
    IS_INT(x, 2, "cli updates --limit x: usage error");
    const char *up[] = CLI("--json", "updates", "--timeout", "10", "--limit", "2");
    bool had = session_has_state(cs);
    fd = spawn(cli, up, &pid);
    /* let it fetch its state: updates_start saves it (bounded wait) */
    for (double until = tu_now() + 5; !session_has_state(cs) && tu_now() < until;)
        usleep(5 * 1000);
    if (had || !session_has_state(cs))
        tap_diag("cli session: state before %d, after %d", had, session_has_state(cs));
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

/* ---- paths the harness produces on request (mtp_server_fault_updates and friends) ---- */

#define B_PEER "@user" B_PHONE

/* Logged-in sessions of A and B without an updates state (exports), made once: every
 * pair_up imports them instead of running a key exchange and a login of its own. */
static char *tmpl_a, *tmpl_b;

static char *logged_in(const char *phone, const char *code)
{
    mtp_call_error_t e;
    mtp_client_t *c = mk(NULL);
    if (mtp_login_phone(c, phone, code, NULL, NULL, &e))
        tap_bail("login %s: %s", phone, e.message);
    char *s = mtp_client_session_export(c);
    if (!s)
        tap_bail("session_export");
    mtp_client_free(c);
    return s;
}

/* A (memory session) and B (session file <H.dir>/<tag>.session, path in sb) logged in, B's
 * stream started; callbacks record into ra / rb. */
static void pair_up(const char *tag, mtp_client_t **ca, mtp_client_t **cb, rec_t *ra, rec_t *rb,
                    char *sb, size_t sbn)
{
    mtp_call_error_t e;
    if (!tmpl_a) {
        tmpl_a = logged_in(A_PHONE, "22222");
        tmpl_b = logged_in(B_PHONE, "11111");
    }
    snprintf(sb, sbn, "%s/%s.session", H.dir, tag);
    *ca = mk(NULL);
    *cb = mk(sb);
    if (mtp_client_session_import(*ca, tmpl_a) || mtp_client_session_import(*cb, tmpl_b) ||
        !mtp_client_authorized(*ca) || !mtp_client_authorized(*cb))
        tap_bail("%s: the logged-in sessions do not import", tag);
    mtp_client_on_update(*ca, on_upd, ra);
    mtp_client_on_update(*cb, on_upd, rb);
    if (mtp_client_updates_start(*cb, &e))
        tap_bail("%s: updates_start: %s", tag, e.message);
}

/* A sends B the n texts; 0 or -1 (diagnosed). */
static int send_n(mtp_client_t *ca, const char *const *t, int n)
{
    mtp_call_error_t e;
    for (int i = 0; i < n; i++)
        if (send_text(ca, B_PEER, t[i], &e)) {
            tap_diag("send '%s': %d %s", t[i], e.err, e.message);
            return -1;
        }
    return 0;
}

/* Run c's loop until its pts reached `pts` with nothing held (bounded), then until quiet. */
static void settle(mtp_client_t *c, int32_t pts)
{
    mtp_client_updates_info_t i;
    double end = tu_now() + 8;
    do {
        mtp_client_step(c, 50);
        mtp_client_updates_info(c, &i);
    } while ((i.pts < pts || i.held) && tu_now() < end);
    quiesce(c);
}

/* Run c's loop for ms milliseconds. */
static void run_ms(mtp_client_t *c, int ms)
{
    double end = tu_now() + ms / 1000.0;
    while (tu_now() < end)
        mtp_client_step(c, 20);
}

/* updates{updateUserStatus{uid}} with seq (no pts anywhere), encoded into b. */
static void mk_status(mtp_buf_t *b, int64_t uid, int32_t seq)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_updates_t *u = MTP_NEW(a, updates);
    mtp_updateUserStatus_t *st = MTP_NEW(a, updateUserStatus);
    mtp_userStatusOnline_t *on = MTP_NEW(a, userStatusOnline);
    mtp_tl_object_t **v = mtp_arena_alloc(a, sizeof *v);
    on->expires = 1700000300;
    st->user_id = uid;
    st->status = &on->_;
    v[0] = &st->_;
    u->updates = (mtp_vec_obj_t){ 1, v };
    u->date = 1700000000;
    u->seq = seq;
    mtp_buf_init(b);
    if (mtp_tl_encode(&u->_, b))
        tap_bail("encode updates");
    mtp_arena_free(a);
}

/* updates{} with seq, a lost one (seq gap), updatesCombined, combined after a gap, and a
 * seq-only gap. */
static void test_seq(void)
{
    rec_t *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    mtp_client_t *ca, *cb;
    char sb[300];
    pair_up("seq", &ca, &cb, ra, rb, sb, sizeof sb);
    mtp_client_updates_info_t ib;
    mtp_client_updates_info(cb, &ib);
    int32_t p0 = ib.pts, s0 = ib.seq;
    uint64_t g0 = ib.gaps, d0 = ib.differences;

    IS_INT(mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_SEQ, -1), 0,
           "harness: B's pushes as updates{} with seq");
    const char *q[] = { "q1", "q2", "q3", "q4" };
    IS_INT(send_n(ca, q, 2), 0, "seq: A sends two");
    pump(cb, rb, 2);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 2 && rb->n == 2 && texts_are(rb, 0, q, 2),
       "seq: two updates{} delivered once, in order (%d)", rb->n);
    OK(ib.seq == s0 + 2 && ib.pts == p0 + 2 && ib.gaps == g0,
       "seq: seq %d -> %d, pts +%d, no gap", s0, ib.seq, ib.pts - p0);

    /* a lost updates{}: the next one's seq is one ahead -> held, then getDifference */
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DROP, 1);
    IS_INT(send_n(ca, q + 2, 2), 0, "seq: A sends two more, the first push is lost");
    pump(cb, rb, 4);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 4 && rb->n == 4 && texts_are(rb, 2, q + 2, 2),
       "seq gap: both delivered once, in order (%d)", rb->n);
    OK(ib.gaps > g0 && ib.differences > d0 && ib.held == 0 && ib.seq == s0 + 4 &&
           ib.pts == p0 + 4,
       "seq gap: detected (%llu), getDifference ran, nothing held, seq %d, pts +%d",
       (unsigned long long)(ib.gaps - g0), ib.seq, ib.pts - p0);
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_SEQ, 0);

    /* updatesCombined: three pushes as one container (seq_start..seq) */
    g0 = ib.gaps, d0 = ib.differences;
    IS_INT(mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_COMBINE, 3), 0,
           "harness: B's next three pushes as one updatesCombined");
    const char *c3[] = { "c1", "c2", "c3" };
    IS_INT(send_n(ca, c3, 2), 0, "combined: A sends two");
    pump(cb, rb, 4);
    OK(rb->n == 4, "combined: nothing pushed before the third (%d)", rb->n);
    IS_INT(send_n(ca, c3 + 2, 1), 0, "combined: A sends the third");
    pump(cb, rb, 7);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 7 && rb->n == 7 && texts_are(rb, 4, c3, 3),
       "updatesCombined: three delivered once, in order (%d)", rb->n);
    OK(ib.seq == s0 + 7 && ib.pts == p0 + 7 && ib.gaps == g0 && ib.differences == d0,
       "updatesCombined: seq %d, pts +%d, no gap, no getDifference", ib.seq, ib.pts - p0);

    /* updatesCombined after a lost updates{}: seq_start is ahead -> gap */
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_SEQ, 1);
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DROP, 1);
    const char *d3[] = { "d1", "d2", "d3" };
    IS_INT(send_n(ca, d3, 1), 0, "combined gap: A sends one, its push is lost");
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_COMBINE, 2);
    IS_INT(send_n(ca, d3 + 1, 2), 0, "combined gap: A sends two more (one updatesCombined)");
    pump(cb, rb, 10);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 10 && rb->n == 10 && texts_are(rb, 7, d3, 3),
       "combined gap: all three delivered once, in order (%d)", rb->n);
    OK(ib.gaps > g0 && ib.differences > d0 && ib.held == 0 && ib.seq == s0 + 10 &&
           ib.pts == p0 + 10,
       "combined gap: getDifference ran, nothing held, seq %d, pts +%d", ib.seq, ib.pts - p0);

    /* a gap in seq only (containers without pts; synthetic pushes) */
    int32_t s1 = ib.seq;
    d0 = ib.differences;
    mtp_buf_t m1, m2;
    mk_status(&m1, B_ID, s1 + 1);
    mk_status(&m2, A_ID, s1 + 2);
    mtp_client__updates_inject(cb, m2.data, m2.len);
    mtp_client_updates_info(cb, &ib);
    OK(rb->n == 10 && ib.held == 1 && ib.seq == s1, "seq+2 first: held, not delivered");
    mtp_client__updates_inject(cb, m1.data, m1.len);
    mtp_client_updates_info(cb, &ib);
    OK(rb->status == 2 && rb->status_uid[0] == B_ID && rb->status_uid[1] == A_ID &&
           ib.held == 0 && ib.seq == s1 + 2 && ib.differences == d0,
       "seq+1 arrives: both applied in order, no getDifference (seq %d)", ib.seq);
    mtp_client__updates_inject(cb, m1.data, m1.len);
    mtp_client_updates_info(cb, &ib);
    OK(rb->n == 12 && ib.seq == s1 + 2, "an old seq is skipped (%d)", rb->n);
    mtp_buf_free(&m1);
    mtp_buf_free(&m2);

    mtp_client_free(ca);
    mtp_client_free(cb);
    free(ra);
    free(rb);
}

/* updates.differenceTooLong: the client adopts the pts, tells the application, carries on;
 * a pushed updatesTooLong runs getDifference at once. */
static void test_too_long(void)
{
    rec_t *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    mtp_client_t *ca, *cb;
    char sb[300];
    mtp_call_error_t e;
    pair_up("toolong", &ca, &cb, ra, rb, sb, sizeof sb);
    mtp_client_updates_info_t ib;
    mtp_client_updates_info(cb, &ib);
    int32_t p0 = ib.pts;
    mtp_client_free(cb);

    const char *t[] = { "x1", "x2", "x3", "x4", "x5" };
    IS_INT(send_n(ca, t, 3), 0, "too long: A sends three while B is offline");
    IS_INT(mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DIFF_TOO_LONG, 1), 0,
           "harness: B's next getDifference answered differenceTooLong");
    memset(rb, 0, sizeof *rb);
    cb = mk(sb);
    mtp_client_on_update(cb, on_upd, rb);
    IS_INT(mtp_client_updates_start(cb, &e), 0, "too long: updates_start (%s)", e.message);
    mtp_client_updates_info(cb, &ib);
    OK(rb->too_long == 1 && rb->msgs == 0 && rb->n == 1,
       "differenceTooLong: one updatesTooLong to the application, no messages (%d)", rb->n);
    OK(ib.pts == p0 + 3 && ib.held == 0 && ib.differences >= 2,
       "differenceTooLong: the new pts adopted (+%d), getDifference carried on (%llu calls)",
       ib.pts - p0, (unsigned long long)ib.differences);
    IS_INT(send_n(ca, t + 3, 1), 0, "too long: A sends one more");
    pump(cb, rb, 1);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 1 && rb->n == 2 && texts_are(rb, 0, t + 3, 1) && ib.pts == p0 + 4 &&
           ib.gaps == 0,
       "after differenceTooLong: the next push applies (pts +%d, no gap)", ib.pts - p0);

    uint64_t d0 = ib.differences;
    IS_INT(mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_TOO_LONG, 1), 0,
           "harness: B's next push replaced by updatesTooLong");
    IS_INT(send_n(ca, t + 4, 1), 0, "too long: A sends one more");
    pump(cb, rb, 2);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 2 && rb->n == 3 && texts_are(rb, 1, t + 4, 1) && ib.pts == p0 + 5 &&
           ib.differences > d0 && ib.held == 0,
       "updatesTooLong: getDifference fetched the message once (pts +%d)", ib.pts - p0);

    /* that getDifference fails (500): its retry must survive a gap that opens and closes
     * meanwhile (synthetic seq-only pushes) */
    d0 = ib.differences;
    mtp_server_fault_rpc(H.srv, "updates.getDifference", 1, 500, "INTERNAL");
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_TOO_LONG, 1);
    const char *t6[] = { "x6" };
    IS_INT(send_n(ca, t6, 1), 0, "too long: A sends one more (updatesTooLong, getDifference "
           "fails)");
    double end = tu_now() + 5;
    do {
        mtp_client_step(cb, 20);
        mtp_client_updates_info(cb, &ib);
    } while (ib.differences == d0 && tu_now() < end);
    run_ms(cb, RETRY_MS / 3);     /* it failed; its retry is due later */
    mtp_buf_t m1, m2;
    mk_status(&m1, B_ID, ib.seq + 1);
    mk_status(&m2, A_ID, ib.seq + 2);
    mtp_client__updates_inject(cb, m2.data, m2.len);
    mtp_client__updates_inject(cb, m1.data, m1.len);
    mtp_buf_free(&m1);
    mtp_buf_free(&m2);
    pump(cb, rb, 3);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 3 && texts_are(rb, 2, t6, 1) && rb->status == 2 && ib.pts == p0 + 6 &&
           ib.differences >= d0 + 2 && ib.held == 0,
       "the failed getDifference is retried and delivers it once (pts +%d, %llu calls)",
       ib.pts - p0, (unsigned long long)(ib.differences - d0));

    mtp_client_free(ca);
    mtp_client_free(cb);
    free(ra);
    free(rb);
}

/* The connection drops in the middle of the stream; pushes while it is down are lost: the
 * client reconnects on its own and getDifference delivers them once. */
static void test_reconnect(void)
{
    rec_t *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    mtp_client_t *ca, *cb;
    char sb[300];
    pair_up("reconnect", &ca, &cb, ra, rb, sb, sizeof sb);
    mtp_client_updates_info_t ib;
    mtp_client_updates_info(cb, &ib);
    int32_t p0 = ib.pts;
    uint64_t d0 = ib.differences;
    mtp_client_stats_t cs0, cs1;
    mtp_client_stats(cb, &cs0);

    const char *t[] = { "r1", "r2", "r3", "r4" };
    IS_INT(send_n(ca, t, 1), 0, "reconnect: A sends one");
    pump(cb, rb, 1);
    OK(rb->msgs == 1, "reconnect: pushed before the drop");
    /* B's connection (DC 1) is cut at the first byte of the next push */
    IS_INT(mtp_server_fault_drop(H.srv, 1, 0, 1), 0, "harness: cut the next DC 1 connection that "
           "sends");
    IS_INT(send_n(ca, t + 1, 3), 0, "reconnect: A sends three (B's connection is cut)");
    pump(cb, rb, 4);
    mtp_client_updates_info(cb, &ib);
    mtp_client_stats(cb, &cs1);
    OK(cs1.reconnects > cs0.reconnects, "reconnect: B lost its connection (%llu)",
       (unsigned long long)(cs1.reconnects - cs0.reconnects));
    OK(rb->msgs == 4 && rb->n == 4 && texts_are(rb, 1, t + 1, 3),
       "reconnect: the three delivered once, in order, after reconnecting (%d)", rb->n);
    OK(ib.pts == p0 + 4 && ib.held == 0 && ib.differences > d0,
       "reconnect: getDifference ran, pts +%d, nothing held", ib.pts - p0);
    mtp_server_fault_drop(H.srv, 1, 0, 0);

    mtp_client_free(ca);
    mtp_client_free(cb);
    free(ra);
    free(rb);
}

/* getDifference fails with 400: the client falls back to updates.getState (what was in the
 * gap is skipped, nothing is delivered twice) and the stream carries on. */
static void test_diff_400(void)
{
    rec_t *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    mtp_client_t *ca, *cb;
    char sb[300];
    pair_up("diff400", &ca, &cb, ra, rb, sb, sizeof sb);
    mtp_client_updates_info_t ib;
    mtp_client_updates_info(cb, &ib);
    int32_t p0 = ib.pts;
    uint64_t d0 = ib.differences;

    IS_INT(mtp_server_fault_rpc(H.srv, "updates.getDifference", 1, 400,
                                "PERSISTENT_TIMESTAMP_INVALID"), 0,
           "harness: next getDifference fails with 400");
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DROP, 1);
    const char *t[] = { "f1", "f2", "f3" };
    IS_INT(send_n(ca, t, 2), 0, "400: A sends two, the first push is lost");
    settle(cb, p0 + 2);
    mtp_client_updates_info(cb, &ib);
    OK(ib.gaps >= 1 && ib.differences == d0 + 1 && ib.pts == p0 + 2 && ib.held == 0,
       "400: gap, one getDifference, then getState: pts +%d, nothing held",
       ib.pts - p0);
    OK(rb->n == 0 && ib.delivered == 0,
       "400: the held update is not delivered after getState (%d)", rb->n);
    IS_INT(send_n(ca, t + 2, 1), 0, "400: A sends one more");
    pump(cb, rb, 1);
    mtp_client_updates_info(cb, &ib);
    OK(rb->msgs == 1 && rb->n == 1 && texts_are(rb, 0, t + 2, 1) && ib.pts == p0 + 3,
       "400: the stream carries on (pts +%d)", ib.pts - p0);

    mtp_client_free(ca);
    mtp_client_free(cb);
    free(ra);
    free(rb);
}

/* ---- channels: per-channel pts ---- */

static bool ctexts_are(const rec_t *r, int from, const char *const *want, int n)
{
    for (int i = 0; i < n; i++)
        if (from + i >= r->chan || from + i >= 64 || strcmp(r->ctext[from + i], want[i]))
            return false;
    return true;
}

/* Run c's loop until r has `want` channel messages (bounded), then until it is quiet. */
static void pump_chan(mtp_client_t *c, const rec_t *r, int want)
{
    double end = tu_now() + 8;
    while (r->chan < want && tu_now() < end)
        mtp_client_step(c, 50);
    quiesce(c);
}

/* A posts the n texts into channel (id, hash); 0 or -1 (diagnosed). */
static int post_n(mtp_client_t *ca, int64_t id, int64_t hash, const char *const *t, int n)
{
    static int64_t rnd = 500000;
    for (int i = 0; i < n; i++) {
        mtp_call_error_t e;
        mtp_arena_t *a = mtp_arena_new(0);
        mtp_inputPeerChannel_t *ip = MTP_NEW(a, inputPeerChannel);
        mtp_messages_sendMessage_t *s = MTP_NEW(a, messages_sendMessage);
        mtp_tl_object_t *o = NULL;
        ip->channel_id = id;
        ip->access_hash = hash;
        s->peer = &ip->_;
        s->message = (mtp_bytes_t){ (const uint8_t *)t[i], strlen(t[i]) };
        s->random_id = (int64_t)(tu_now() * 1e6) + ++rnd;
        int rc = mtp_call_sync(ca, &s->_, a, &o, &e);
        mtp_arena_free(a);
        if (rc) {
            tap_diag("post '%s': %d %s", t[i], e.err, e.message);
            return -1;
        }
    }
    return 0;
}

/* updates{updateNewChannelMessage{channel id, pts, pts_count 1}} encoded into b. */
static void mk_chan_msg(mtp_buf_t *b, int64_t chan, int32_t pts, const char *text)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_updates_t *u = MTP_NEW(a, updates);
    mtp_updateNewChannelMessage_t *nm = MTP_NEW(a, updateNewChannelMessage);
    mtp_message_t *m = MTP_NEW(a, message);
    mtp_peerChannel_t *pc = MTP_NEW(a, peerChannel);
    mtp_peerUser_t *from = MTP_NEW(a, peerUser);
    mtp_tl_object_t **v = mtp_arena_alloc(a, sizeof *v);
    pc->channel_id = chan;
    from->user_id = A_ID;
    m->id = 900000 + pts;
    m->peer_id = &pc->_;
    m->from_id = &from->_;
    m->date = 1700000000;
    m->message = (mtp_bytes_t){ (const uint8_t *)text, strlen(text) };
    nm->message = &m->_;
    nm->pts = pts;
    nm->pts_count = 1;
    v[0] = &nm->_;
    u->updates = (mtp_vec_obj_t){ 1, v };
    u->date = 1700000000;
    mtp_buf_init(b);
    if (mtp_tl_encode(&u->_, b))
        tap_bail("encode updateNewChannelMessage");
    mtp_arena_free(a);
}

static void test_channels(void)
{
    rec_t *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    mtp_client_t *ca, *cb;
    char sb[300];
    mtp_call_error_t e;
    pair_up("chan", &ca, &cb, ra, rb, sb, sizeof sb);
    mtp_client_updates_info_t ib;
    mtp_client_updates_info(cb, &ib);
    int32_t p0 = ib.pts;
    uint64_t d0 = ib.differences;

    /* A creates a supergroup and adds B */
    int64_t id = 0, hash = 0;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_channels_createChannel_t *cc = MTP_NEW(a, channels_createChannel);
    cc->megagroup = true;
    cc->title = (mtp_bytes_t){ (const uint8_t *)"pts test", 8 };
    mtp_tl_object_t *res = NULL;
    int rc = mtp_call_sync(ca, &cc->_, a, &res, &e);
    if (!rc && res && res->tl->id == MTP_ID_updates) {
        const mtp_updates_t *up = (const void *)res;
        if (up->chats.n == 1 && up->chats.v[0]->tl->id == MTP_ID_channel) {
            id = ((const mtp_channel_t *)up->chats.v[0])->id;
            hash = ((const mtp_channel_t *)up->chats.v[0])->access_hash;
        }
    }
    OK(id > 0, "channels.createChannel: a channel (%lld) (%s)", (long long)id, e.message);
    IS_INT(mtp_client_updates_start(ca, &e), 0, "A: updates_start (%s)", e.message);
    mtp_channels_inviteToChannel_t *inv = MTP_NEW(a, channels_inviteToChannel);
    mtp_inputChannel_t *ic = MTP_NEW(a, inputChannel);
    mtp_tl_object_t *iu = NULL;
    ic->channel_id = id;
    ic->access_hash = hash;
    inv->channel = &ic->_;
    inv->users.v = mtp_arena_alloc(a, sizeof *inv->users.v);
    rc = mtp_client_input_user(ca, B_PEER, a, &iu, &e);
    if (!rc) {
        inv->users.v[0] = iu;
        inv->users.n = 1;
        rc = mtp_call_sync(ca, &inv->_, a, &res, &e);
    }
    IS_INT(rc, 0, "channels.inviteToChannel B (%s)", e.message);
    mtp_arena_free(a);
    mtp_peer_t pe;
    double end = tu_now() + 5;
    while (mtp_client_peer_get(cb, MTP_PEER_CHANNEL, id, &pe) && tu_now() < end)
        mtp_client_step(cb, 50);
    OK(mtp_client_peer_get(cb, MTP_PEER_CHANNEL, id, &pe) == 0 && pe.access_hash == hash,
       "B learnt the channel (updateChannel push)");

    /* first posts: tracked from the first one seen, then applied in order */
    const char *k[] = { "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11",
                        "k12", "k13", "k14", "k15" };
    IS_INT(post_n(ca, id, hash, k, 2), 0, "A posts two");
    pump_chan(cb, rb, 2);
    mtp_client_updates_info(cb, &ib);
    int32_t cp = mtp_client_updates_channel_pts(cb, id);
    OK(rb->chan == 2 && ctexts_are(rb, 0, k, 2), "B: two channel messages, once, in order (%d)",
       rb->chan);
    OK(ib.channels == 1 && ib.channels_seen == 1 && cp >= 2 && ib.pts == p0,
       "B: the channel is tracked (pts %d); the common pts did not move", cp);

    /* a lost push: the next one is held, getChannelDifference fills the gap */
    uint64_t g0 = ib.gaps, cd0 = ib.channel_differences;
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DROP, 1);
    IS_INT(post_n(ca, id, hash, k + 2, 2), 0, "A posts two, the first push is lost");
    pump_chan(cb, rb, 4);
    mtp_client_updates_info(cb, &ib);
    OK(rb->chan == 4 && ctexts_are(rb, 2, k + 2, 2), "channel gap: both delivered once, in "
       "order (%d)", rb->chan);
    OK(ib.gaps > g0 && ib.channel_differences > cd0 && ib.held == 0 &&
           mtp_client_updates_channel_pts(cb, id) == cp + 2 && ib.differences == d0,
       "channel gap: getChannelDifference ran (no getDifference), channel pts %d",
       mtp_client_updates_channel_pts(cb, id));

    /* updateChannelTooLong after two lost pushes; the difference in slices (limit 1) */
    cd0 = ib.channel_differences;
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DROP, 2);
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_TOO_LONG, 1);
    mtp_client__updates_pts_limit(cb, 1);
    IS_INT(post_n(ca, id, hash, k + 4, 3), 0, "A posts three: two pushes lost, then "
           "updateChannelTooLong");
    pump_chan(cb, rb, 7);
    mtp_client__updates_pts_limit(cb, 0);
    mtp_client_updates_info(cb, &ib);
    OK(rb->chan == 7 && ctexts_are(rb, 4, k + 4, 3) && rb->chan_too_long == 0,
       "updateChannelTooLong: the three delivered once, in order (%d)", rb->chan);
    OK(ib.channel_differences >= cd0 + 3 && mtp_client_updates_channel_pts(cb, id) == cp + 5,
       "final=false followed (%llu calls), channel pts %d",
       (unsigned long long)(ib.channel_differences - cd0), mtp_client_updates_channel_pts(cb, id));

    /* a repeated update is skipped */
    mtp_buf_t dup;
    mk_chan_msg(&dup, id, cp + 5, "k7");
    mtp_client__updates_inject(cb, dup.data, dup.len);
    mtp_buf_free(&dup);
    mtp_client_updates_info(cb, &ib);
    OK(rb->chan == 7 && ib.held == 0, "a repeated channel update is skipped");

    /* restart: the channel's pts comes back from the session file (version 4) */
    mtp_client_free(cb);
    IS_INT(post_n(ca, id, hash, k + 7, 1), 0, "A posts one while B is offline");
    size_t flen = 0;
    uint8_t *fb = tu_read_file(sb, &flen);
    OK(fb && flen > 36 && get32(fb + 4) == 4 && get32(fb + flen - 28) == 1,
       "session file: version 4, one channel");
    memset(rb, 0, sizeof *rb);
    cb = mk(sb);
    mtp_client_on_update(cb, on_upd, rb);
    mtp_client_updates_info(cb, &ib);
    OK(ib.channels == 1 && mtp_client_updates_channel_pts(cb, id) == cp + 5,
       "restart: channel pts %d loaded", mtp_client_updates_channel_pts(cb, id));
    IS_INT(mtp_client_updates_start(cb, &e), 0, "restart: updates_start (%s)", e.message);
    IS_INT(post_n(ca, id, hash, k + 8, 1), 0, "A posts one more");
    pump_chan(cb, rb, 2);
    mtp_client_updates_info(cb, &ib);
    OK(rb->chan == 2 && ctexts_are(rb, 0, k + 7, 2) && ib.held == 0 &&
           mtp_client_updates_channel_pts(cb, id) == cp + 7,
       "restart: the missed one fetched, both once, in order (%d), channel pts %d", rb->chan,
       mtp_client_updates_channel_pts(cb, id));

    /* version 3 (no channel part) still loads: common state kept, channels not */
    if (fb && flen > 36 && get32(fb + 4) == 4) {
        size_t cut = 4 + 12 * (size_t)get32(fb + flen - 28);
        size_t n3 = flen - cut;
        uint8_t *v3 = malloc(flen);
        memcpy(v3, fb, flen - 28);
        memcpy(v3 + flen - 28 - (cut - 4), fb + flen - 24, 24);
        put32(v3 + 4, 3);
        put32(v3 + n3 - 4, (uint32_t)crc32(0, v3, (uInt)(n3 - 4)));
        char *t = malloc(4 * (n3 / 3 + 1) + 1);
        EVP_EncodeBlock((unsigned char *)t, v3, (int)n3);
        mtp_client_t *cv = mk(NULL);
        IS_INT(mtp_client_session_import(cv, t), 0, "a version-3 export imports");
        mtp_client_updates_info_t iv;
        mtp_client_updates_info(cv, &iv);
        OK(iv.have_state && iv.pts == p0 && iv.channels == 0 && mtp_client_user_id(cv) == B_ID,
           "v3: common state (pts %d), no channels", iv.pts);
        mtp_client_free(cv);
        free(t);
        free(v3);
    } else {
        tap_skip("no v4 session file", 2);
    }
    free(fb);

    /* channelDifferenceTooLong: the dialog's pts is adopted, updateChannelTooLong delivered */
    cp = mtp_client_updates_channel_pts(cb, id);
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DROP, 1);
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DIFF_TOO_LONG, 1);
    IS_INT(post_n(ca, id, hash, k + 9, 2), 0, "A posts two, the first push is lost");
    end = tu_now() + 8;
    while (rb->chan_too_long == 0 && tu_now() < end)
        mtp_client_step(cb, 50);
    pump_chan(cb, rb, 2);
    mtp_client_updates_info(cb, &ib);
    OK(rb->chan_too_long == 1 && rb->chan == 2 && ib.held == 0 &&
           mtp_client_updates_channel_pts(cb, id) == cp + 2,
       "channelDifferenceTooLong: updateChannelTooLong once, nothing else, channel pts +%d",
       mtp_client_updates_channel_pts(cb, id) - cp);
    IS_INT(post_n(ca, id, hash, k + 11, 1), 0, "A posts one more");
    pump_chan(cb, rb, 3);
    OK(rb->chan == 3 && ctexts_are(rb, 2, k + 11, 1) &&
           mtp_client_updates_channel_pts(cb, id) == cp + 3,
       "after channelDifferenceTooLong: the next post applies");

    /* getChannelDifference fails with 400: the channel is tracked anew from its next update */
    cp = mtp_client_updates_channel_pts(cb, id);
    mtp_client_updates_info(cb, &ib);
    uint64_t seen0 = ib.channels_seen;
    mtp_server_fault_rpc(H.srv, "updates.getChannelDifference", 1, 400, "CHANNEL_PRIVATE");
    mtp_server_fault_updates(H.srv, B_ID, MTP_SERVER_UPD_DROP, 1);
    IS_INT(post_n(ca, id, hash, k + 12, 2), 0, "A posts two, the first push is lost");
    pump_chan(cb, rb, 4);
    mtp_client_updates_info(cb, &ib);
    OK(rb->chan == 4 && ctexts_are(rb, 3, k + 13, 1) && ib.held == 0 &&
           ib.channels_seen == seen0 + 1 && mtp_client_updates_channel_pts(cb, id) == cp + 2,
       "400: the held one delivered once, the channel tracked anew (pts %d)",
       mtp_client_updates_channel_pts(cb, id));
    IS_INT(post_n(ca, id, hash, k + 14, 1), 0, "A posts one more");
    pump_chan(cb, rb, 5);
    mtp_client_updates_info(cb, &ib);
    OK(rb->chan == 5 && ctexts_are(rb, 4, k + 14, 1) && ib.pts == p0 &&
           mtp_client_updates_channel_pts(cb, id) == cp + 3,
       "400: the stream carries on; the common pts never moved (%d)", ib.pts);

    /* the sender: its own 15 posts came back as results, each moved its channel pts */
    mtp_client_updates_info_t ia;
    mtp_client_updates_info(ca, &ia);
    OK(ra->chan == 15 && ctexts_are(ra, 0, k, 15) && ia.gaps == 0 && ia.held == 0 &&
           ia.channel_differences == 0 &&
           mtp_client_updates_channel_pts(ca, id) == mtp_client_updates_channel_pts(cb, id),
       "A: its 15 posts once each, in order, no gap, channel pts %d as B's",
       mtp_client_updates_channel_pts(ca, id));

    mtp_client_free(ca);
    mtp_client_free(cb);
    free(ra);
    free(rb);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* a fixed key (made for this harness only): no 2048-bit key generation at start */
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 3;
    sc.rsa_key_path = "tests/vectors/harness_rsa_2048.pem";
    if (access(sc.rsa_key_path, R_OK) != 0)
        sc.rsa_key_path = NULL;     /* not run from the repository root: a fresh key */
    if (tu_harness_start(&H, "test_updates", &sc))
        tap_bail("harness did not start");

    test_updates(argv[0]);
    test_seq();
    test_too_long();
    test_reconnect();
    test_diff_400();
    test_channels();

    free(tmpl_a);
    free(tmpl_b);
    tu_harness_stop(&H);
    return tap_done();
}
