/*
 * The client library and mtproto-cli against the in-process harness (3 DCs, loopback).
 */
#define _GNU_SOURCE
#include <mtproto/client.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "testharness.h"
#include "testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static tu_harness_t H;

static void cfg_for(mtp_client_config_t *cfg, const char *session, int first_dc)
{
    tu_harness_client_config(&H, cfg);
    cfg->first_dc = first_dc;
    cfg->session_path = session;
}

static mtp_client_t *mk(const char *session, int first_dc)
{
    mtp_client_config_t cfg;
    cfg_for(&cfg, session, first_dc);
    mtp_client_t *c = NULL;
    int err = mtp_client_new(&cfg, &c);
    if (err)
        tap_bail("mtp_client_new: %d", err);
    return c;
}

static int nearest(mtp_client_t *c, mtp_call_error_t *e)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    int rc = mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), a, &o, e);
    if (!rc && o->tl->id != MTP_ID_nearestDc)
        rc = -1;
    mtp_arena_free(a);
    return rc;
}

static int64_t self_id(mtp_client_t *c)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
    g->id.n = 1;
    g->id.v = mtp_arena_alloc(a, sizeof(mtp_tl_object_t *));
    g->id.v[0] = (mtp_tl_object_t *)MTP_NEW(a, inputUserSelf);
    mtp_buf_t body, res;
    mtp_buf_init(&body);
    mtp_buf_init(&res);
    mtp_tl_encode(&g->_, &body);
    mtp_call_error_t e;
    int64_t id = 0;
    if (!mtp_call_sync_raw(c, 0, 0, body.data, body.len, &res, &e)) {
        mtp_buf_t js;
        mtp_buf_init(&js);
        if (!mtp_result_format(&g->_, res.data, res.len, false, &js)) {
            mtp_buf_append(&js, "", 1);
            const char *p = strstr((const char *)js.data, "\"id\":\"");
            if (p)
                id = strtoll(p + 6, NULL, 10);
        }
        mtp_buf_free(&js);
    }
    mtp_buf_free(&body);
    mtp_buf_free(&res);
    mtp_arena_free(a);
    return id;
}

/* ---- async calls answered exactly once ---- */
static int answers[64];
static void count_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                     const mtp_call_error_t *e)
{
    (void)c;
    (void)res;
    (void)len;
    if (!e->err)
        answers[(intptr_t)user]++;
    else
        answers[(intptr_t)user] += 100;
}

static int ask_pw(void *user, const char *prompt, char *buf, size_t cap)
{
    (void)prompt;
    snprintf(buf, cap, "%s", (const char *)user);
    return 0;
}

static void write_random(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    uint8_t buf[65536];
    tu_rng_t rng;
    tu_rng_seed(&rng, 0x9e3779b97f4a7c15ull);
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof buf ? n - done : sizeof buf;
        tu_rng_fill(&rng, buf, k);
        fwrite(buf, 1, k, f);
        done += k;
    }
    fclose(f);
}

static bool same_files(const char *a, const char *b)
{
    size_t la, lb;
    uint8_t *pa = tu_read_file(a, &la), *pb = tu_read_file(b, &lb);
    bool same = pa && pb && la == lb && memcmp(pa, pb, la) == 0;
    free(pa);
    free(pb);
    return same;
}

typedef struct doc {
    int dc;
    int64_t id, hash, size;
    uint8_t ref[64];
    size_t ref_len;
} doc_t;

/* upload path, send it to self, find the document of the newest message */
/* A download callback that collects the parts and checks each byte comes once. */
#define MTP_ENOSPC_TEST (-1000)
typedef struct sink {
    size_t size, bytes;
    uint8_t *buf, *seen;
    int bad, calls, fail_after;
} sink_t;

static int sink_write(void *user, uint64_t offset, const uint8_t *data, size_t len)
{
    sink_t *s = user;
    s->calls++;
    if (s->fail_after && s->calls > s->fail_after)
        return MTP_ENOSPC_TEST;
    if (offset % (1u << 20) || offset + len > s->size || len == 0) {
        s->bad++;
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        s->bad += s->seen[offset + i]++ != 0;
    memcpy(s->buf + offset, data, len);
    s->bytes += len;
    return 0;
}

static bool same_as_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t *q = malloc(n + 1);
    size_t got = fread(q, 1, n + 1, f);
    fclose(f);
    bool same = got == n && memcmp(p, q, n) == 0;
    free(q);
    return same;
}

static int upload_doc(mtp_client_t *c, const char *path, doc_t *d)
{
    mtp_upload_result_t up;
    mtp_call_error_t e;
    int rc = mtp_upload_file(c, path, NULL, NULL, &up, &e);
    if (rc)
        return rc;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *file;
    if (up.big) {
        mtp_inputFileBig_t *f = MTP_NEW(a, inputFileBig);
        f->id = up.file_id;
        f->parts = up.parts;
        f->name = (mtp_bytes_t){ (const uint8_t *)"f.bin", 5 };
        file = &f->_;
    } else {
        mtp_inputFile_t *f = MTP_NEW(a, inputFile);
        f->id = up.file_id;
        f->parts = up.parts;
        f->name = (mtp_bytes_t){ (const uint8_t *)"f.bin", 5 };
        f->md5_checksum = (mtp_bytes_t){ (const uint8_t *)up.md5, strlen(up.md5) };
        file = &f->_;
    }
    mtp_inputMediaUploadedDocument_t *m = MTP_NEW(a, inputMediaUploadedDocument);
    m->file = file;
    m->mime_type = (mtp_bytes_t){ (const uint8_t *)"application/octet-stream", 24 };
    mtp_messages_sendMedia_t *s = MTP_NEW(a, messages_sendMedia);
    s->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
    s->media = &m->_;
    s->random_id = (int64_t)up.file_id ^ 77;
    mtp_tl_object_t *o;
    rc = mtp_call_sync(c, &s->_, a, &o, &e);
    if (!rc) {
        mtp_messages_getHistory_t *g = MTP_NEW(a, messages_getHistory);
        g->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
        g->limit = 1;
        rc = mtp_call_sync(c, &g->_, a, &o, &e);
    }
    if (!rc) {
        const mtp_vec_obj_t *ms = o->tl->id == MTP_ID_messages_messages
                                      ? &((mtp_messages_messages_t *)o)->messages
                                      : &((mtp_messages_messagesSlice_t *)o)->messages;
        rc = -1;
        if (ms->n && ms->v[0]->tl->id == MTP_ID_message) {
            const mtp_message_t *msg = (const mtp_message_t *)ms->v[0];
            const mtp_tl_object_t *md = msg->media;
            if (md && md->tl->id == MTP_ID_messageMediaDocument) {
                const mtp_document_t *doc =
                    (const mtp_document_t *)((const mtp_messageMediaDocument_t *)md)->document;
                d->dc = doc->dc_id;
                d->id = doc->id;
                d->hash = doc->access_hash;
                d->size = doc->size;
                d->ref_len = doc->file_reference.len < 64 ? doc->file_reference.len : 64;
                memcpy(d->ref, doc->file_reference.ptr, d->ref_len);
                rc = 0;
            }
        }
    }
    mtp_arena_free(a);
    return rc;
}

static int run_cli(const char *cli, const char *const *args, char *out, size_t cap)
{
    int pfd[2];
    if (pipe(pfd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2);
        close(pfd[0]);
        execv(cli, (char *const *)args);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(pfd[0], out + n, cap - 1 - n)) > 0 && n + 1 < cap)
        n += (size_t)r;
    out[n] = 0;
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
    (void)argc;
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 3;
    mtp_server_password_t pw = { "9996631234", "hunter2" };
    sc.passwords = &pw;
    sc.n_passwords = 1;
    if (tu_harness_start(&H, "test_client", &sc))
        tap_bail("harness did not start");

    char sess[300];
    snprintf(sess, sizeof sess, "%s/a.session", H.dir);
    mtp_call_error_t e;

    /* login with migration: DC 1 first, the phone lives on DC 2 */
    mtp_client_t *c = mk(sess, 1);
    int rc = mtp_login_phone(c, "9996621234", "22222", NULL, NULL, &e);
    IS_INT(rc, 0, "phone login (%s)", e.message);
    IS_INT(mtp_client_home_dc(c), 2, "PHONE_MIGRATE moved home to DC 2");
    IS_INT(mtp_client_user_id(c), 9996621234LL, "own user id");
    IS_INT(self_id(c), 9996621234LL, "users.getUsers(self) after login");

    /* users.getUsers through mtp_call_sync: the Vector<User> result is an mtp_tl_vector_t */
    {
        mtp_arena_t *va = mtp_arena_new(0);
        mtp_users_getUsers_t *g = MTP_NEW(va, users_getUsers);
        mtp_inputUser_t *iu = MTP_NEW(va, inputUser);
        iu->user_id = 4242;
        g->id.n = 2;
        g->id.v = mtp_arena_alloc(va, 2 * sizeof(mtp_tl_object_t *));
        g->id.v[0] = (mtp_tl_object_t *)MTP_NEW(va, inputUserSelf);
        g->id.v[1] = &iu->_;
        mtp_tl_object_t *o = NULL;
        rc = mtp_call_sync(c, &g->_, va, &o, &e);
        const mtp_tl_vector_t *v = mtp_tl_as_vector(o);
        OK(rc == 0 && v && v->n == 2 && v->type == mtp_tlc_users_getUsers.result,
           "mtp_call_sync(users.getUsers): Vector<User> of 2 (%d %s)", rc, e.message);
        const mtp_user_t *u0 = v && v->n == 2 && v->v.obj[0]->tl->id == MTP_ID_user
                                   ? (const mtp_user_t *)v->v.obj[0] : NULL;
        OK(u0 && u0->id == 9996621234LL && u0->self, "item 0: the own user");
        OK(v && v->n == 2 && v->v.obj[1]->tl->id == MTP_ID_userEmpty &&
               ((const mtp_userEmpty_t *)v->v.obj[1])->id == 4242, "item 1: userEmpty for an unknown id");
        mtp_buf_t js;
        mtp_buf_init(&js);
        rc = v ? mtp_tl_to_json(o, &js) : -1;
        mtp_buf_append(&js, "", 1);
        OK(rc == 0 && js.data[0] == '[' && strstr((const char *)js.data, "\"id\":\"9996621234\"") &&
               strstr((const char *)js.data, "{\"_\":\"userEmpty\",\"id\":\"4242\"}]"),
           "mtp_tl_to_json: a JSON array");
        mtp_buf_free(&js);
        mtp_invokeWithoutUpdates_t *w = MTP_NEW(va, invokeWithoutUpdates);
        w->query = &g->_;
        rc = mtp_call_sync(c, &w->_, va, &o, &e);
        v = mtp_tl_as_vector(o);
        OK(rc == 0 && v && v->n == 2, "wrapped in invokeWithoutUpdates: the inner result type (%d)", rc);
        mtp_arena_free(va);
    }

    /* session file: 0600, no temp file left */
    struct stat st;
    OK(stat(sess, &st) == 0 && (st.st_mode & 0777) == 0600, "session file mode 0600");
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", sess, (long)getpid());
    OK(access(tmp, F_OK) != 0, "no temporary session file left (atomic rename)");

    /* calls, async, each answered exactly once */
    memset(answers, 0, sizeof answers);
    mtp_arena_t *a = mtp_arena_new(0);
    for (intptr_t i = 0; i < 50; i++)
        mtp_call(c, (mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), count_cb, (void *)i);
    double t0 = tu_now();
    for (;;) {
        int done = 0;
        for (int i = 0; i < 50; i++)
            done += answers[i] != 0;
        if (done == 50 || tu_now() - t0 > 20)
            break;
        mtp_client_step(c, 100);
    }
    mtp_client_step(c, 50);
    int once = 0;
    for (int i = 0; i < 50; i++)
        once += answers[i] == 1;
    IS_INT(once, 50, "50 async calls, each answered exactly once");

    /* the same through an external loop: fds + timeout + process */
    {
        memset(answers, 0, sizeof answers);
        for (intptr_t i = 0; i < 10; i++)
            mtp_call(c, (mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), count_cb, (void *)i);
        t0 = tu_now();
        int got = 0;
        while (got < 10 && tu_now() - t0 < 20) {
            struct pollfd pfd[32];
            size_t n = mtp_client_fds(c, pfd, 32);
            if (n > 32)
                n = 32;
            int to = mtp_client_timeout(c);
            int pr = poll(pfd, (nfds_t)n, to < 0 || to > 100 ? 100 : to);
            mtp_client_process(c, pfd, pr > 0 ? n : 0);
            got = 0;
            for (int i = 0; i < 10; i++)
                got += answers[i] == 1;
        }
        IS_INT(got, 10, "external loop (mtp_client_fds/timeout/process): 10 calls answered");
    }

    /* FLOOD_WAIT below the threshold: waited out */
    mtp_server_fault_rpc(H.srv, "help.getNearestDc", 1, 420, "FLOOD_WAIT_1");
    t0 = tu_now();
    rc = nearest(c, &e);
    IS_INT(rc, 0, "FLOOD_WAIT_1 retried automatically");
    OK(tu_now() - t0 >= 0.9, "it waited (%.2f s)", tu_now() - t0);
    /* above: typed error */
    mtp_server_fault_rpc(H.srv, "help.getNearestDc", 1, 420, "FLOOD_WAIT_120");
    rc = nearest(c, &e);
    OK(rc == MTP_EFLOOD && e.number == 120 && e.code == 420, "FLOOD_WAIT_120 > 60: MTP_EFLOOD with 120 (%d %lld)", rc, (long long)e.number);
    /* the wait does not hold up other calls: help.getConfig waits out FLOOD_WAIT_2 while
     * help.getNearestDc is answered at once; SLOWMODE_WAIT_X is waited out the same way */
    {
        mtp_arena_t *fa = mtp_arena_new(0);
        memset(answers, 0, sizeof answers);
        mtp_server_fault_rpc(H.srv, "help.getConfig", 1, 420, "FLOOD_WAIT_2");
        t0 = tu_now();
        mtp_client_stats_t fs;
        mtp_client_stats(c, &fs);
        uint64_t fw0 = fs.flood_waits;
        mtp_call(c, (mtp_tl_object_t *)MTP_NEW(fa, help_getConfig), count_cb, (void *)(intptr_t)40);
        for (int i = 0; i < 200 && fs.flood_waits == fw0; i++) {
            mtp_client_step(c, 10);     /* until the FLOOD_WAIT has arrived: the wait starts */
            mtp_client_stats(c, &fs);
        }
        double t_other = tu_now();
        rc = nearest(c, &e);
        t_other = tu_now() - t_other;
        OK(fs.flood_waits == fw0 + 1 && rc == 0 && answers[40] == 0 && t_other < 1.0,
           "another call during a FLOOD_WAIT is answered at once (%.2f s, waiting call pending)", t_other);
        for (int i = 0; i < 400 && !answers[40]; i++)
            mtp_client_step(c, 20);
        OK(answers[40] == 1 && tu_now() - t0 >= 1.9,
           "... and the waiting call completes after its 2 s (%.2f s)", tu_now() - t0);
        mtp_server_fault_rpc(H.srv, "help.getNearestDc", 1, 420, "SLOWMODE_WAIT_1");
        t0 = tu_now();
        rc = nearest(c, &e);
        OK(rc == 0 && tu_now() - t0 >= 0.9, "SLOWMODE_WAIT_1 waited out and retried (%.2f s)", tu_now() - t0);
        mtp_arena_free(fa);
    }
    /* an ordinary rpc error passes through typed */
    mtp_server_fault_rpc(H.srv, "help.getNearestDc", 1, 500, "INTERNAL");
    rc = nearest(c, &e);
    OK(rc == MTP_ERPC && e.code == 500 && !strcmp(e.message, "INTERNAL"), "rpc_error 500 INTERNAL typed");

    /* upload + download with checksum */
    char f1[300], f2[300];
    snprintf(f1, sizeof f1, "%s/up.bin", H.dir);
    snprintf(f2, sizeof f2, "%s/down.bin", H.dir);
    write_random(f1, 3 * 1024 * 1024 + 12345);
    doc_t d;
    memset(&d, 0, sizeof d);
    rc = upload_doc(c, f1, &d);
    IS_INT(rc, 0, "upload + sendMedia");
    IS_INT(d.size, 3 * 1024 * 1024 + 12345, "document size");
    rc = mtp_download_document(c, d.dc, d.id, d.hash, d.ref, d.ref_len, d.size, f2, 0, NULL,
                               NULL, &e);
    IS_INT(rc, 0, "download");
    OK(same_files(f1, f2), "downloaded file identical");

    /* the same into a callback: every byte exactly once, each part at its offset */
    {
        sink_t sk;
        memset(&sk, 0, sizeof sk);
        sk.size = (size_t)d.size;
        sk.buf = calloc(1, sk.size);
        sk.seen = calloc(1, sk.size);
        mtp_download_params_t dp;
        mtp_download_params_init(&dp);
        dp.dc = d.dc;
        dp.id = d.id;
        dp.access_hash = d.hash;
        dp.file_reference = d.ref;
        dp.ref_len = d.ref_len;
        dp.size = d.size;
        dp.write = sink_write;
        dp.write_user = &sk;
        rc = mtp_download_document_to(c, &dp, &e);
        IS_INT(rc, 0, "download into a callback");
        OK(!sk.bad && sk.bytes == sk.size && same_as_file(f1, sk.buf, sk.size),
           "callback: %zu bytes, each once, equal to the file (%d bad calls)", sk.bytes, sk.bad);
        /* a callback error stops the download with that error */
        memset(sk.seen, 0, sk.size);
        sk.bytes = 0;
        sk.calls = 0;
        sk.fail_after = 1;
        rc = mtp_download_document_to(c, &dp, &e);
        OK(rc == MTP_ENOSPC_TEST && e.err == MTP_ENOSPC_TEST, "callback error -> the download stops with it (%d)", rc);
        IS_INT(sk.calls, 2, "callback: not called again after it failed");
        dp.write = NULL;
        IS_INT(mtp_download_document_to(c, &dp, &e), MTP_EINVAL, "no callback -> MTP_EINVAL");
        free(sk.buf);
        free(sk.seen);
        OK(nearest(c, &e) == 0, "the client is fine after the stopped download");
    }

    /* FILE_MIGRATE: ask DC 3 (imports the authorization there first) */
    unlink(f2);
    rc = mtp_download_document(c, 3, d.id, d.hash, d.ref, d.ref_len, d.size, f2, 0, NULL,
                               NULL, &e);
    IS_INT(rc, 0, "download via DC 3 -> FILE_MIGRATE_2 (%s)", e.message);
    OK(same_files(f1, f2), "identical after FILE_MIGRATE");
    mtp_client_stats_t cst;
    mtp_client_stats(c, &cst);
    OK(cst.migrations >= 2, "migrations counted (%llu)", (unsigned long long)cst.migrations);

    /* reconnect in the middle of a download */
    unlink(f2);
    uint64_t rec0 = cst.reconnects;
    mtp_server_fault_drop(H.srv, 2, 1500000, 1);
    rc = mtp_download_document(c, d.dc, d.id, d.hash, d.ref, d.ref_len, d.size, f2, 0, NULL,
                               NULL, &e);
    mtp_client_stats(c, &cst);
    IS_INT(rc, 0, "download across a dropped connection");
    OK(same_files(f1, f2), "no part lost or duplicated");
    OK(cst.reconnects > rec0, "a reconnect happened (%llu)", (unsigned long long)(cst.reconnects - rec0));
    tap_diag("calls re-sent from scratch after the drop: %llu (0 = the session was continued)",
             (unsigned long long)cst.resent);
    mtp_server_fault_clear(H.srv);

    /* non-idempotent calls across a dropped connection: each executed once */
    {
        mtp_arena_t *b = mtp_arena_new(0);
        memset(answers, 0, sizeof answers);
        mtp_server_fault_drop(H.srv, 2, 1200, 1);   /* mid-burst: the 30 answers leave in a few packets */
        for (intptr_t i = 0; i < 30; i++) {
            mtp_messages_sendMessage_t *sm = MTP_NEW(b, messages_sendMessage);
            sm->peer = (mtp_tl_object_t *)MTP_NEW(b, inputPeerSelf);
            char *txt = mtp_arena_alloc(b, 32);
            snprintf(txt, 32, "burst %d", (int)i);
            sm->message = (mtp_bytes_t){ (const uint8_t *)txt, strlen(txt) };
            sm->random_id = 1000 + i;
            mtp_call(c, &sm->_, count_cb, (void *)i);
        }
        t0 = tu_now();
        for (;;) {
            int done = 0;
            for (int i = 0; i < 30; i++)
                done += answers[i] != 0;
            if (done == 30 || tu_now() - t0 > 20)
                break;
            mtp_client_step(c, 100);
        }
        int ones = 0;
        for (int i = 0; i < 30; i++)
            ones += answers[i] == 1;
        IS_INT(ones, 30, "30 sendMessage across a drop: each answered once");
        uint64_t r0 = cst.reconnects;
        mtp_client_stats(c, &cst);
        OK(cst.reconnects > r0, "the connection was dropped meanwhile");
        mtp_messages_getHistory_t *g = MTP_NEW(b, messages_getHistory);
        g->peer = (mtp_tl_object_t *)MTP_NEW(b, inputPeerSelf);
        g->limit = 100;
        mtp_tl_object_t *o = NULL;
        int n = -1;
        if (!mtp_call_sync(c, &g->_, b, &o, &e)) {
            const mtp_vec_obj_t *ms = o->tl->id == MTP_ID_messages_messages
                                          ? &((mtp_messages_messages_t *)o)->messages
                                          : &((mtp_messages_messagesSlice_t *)o)->messages;
            n = 0;
            for (uint32_t i = 0; i < ms->n; i++)
                if (ms->v[i]->tl->id == MTP_ID_message &&
                    ((mtp_message_t *)ms->v[i])->message.len >= 6 &&
                    !memcmp(((mtp_message_t *)ms->v[i])->message.ptr, "burst ", 6))
                    n++;
        }
        IS_INT(n, 30, "history holds each message exactly once");
        mtp_server_fault_clear(H.srv);
        mtp_arena_free(b);
    }

    /* resume from an offset */
    if (truncate(f2, 1024 * 1024 + 100) == 0) {
        rc = mtp_download_document(c, d.dc, d.id, d.hash, d.ref, d.ref_len, d.size, f2,
                                   1024 * 1024 + 100, NULL, NULL, &e);
        OK(rc == 0 && same_files(f1, f2), "resumed download");
    }

    /* export for later */
    char *exported = mtp_client_session_export(c);
    OK(exported && strlen(exported) > 100, "session export");
    mtp_arena_free(a);
    mtp_client_free(c);

    /* reuse after restart: no new login */
    c = mk(sess, 1);
    IS_INT(mtp_client_home_dc(c), 2, "restart: home DC from the session file");
    IS_INT(self_id(c), 9996621234LL, "restart: authorized without a new login");
    mtp_client_free(c);

    /* import into a memory-only client */
    c = mk(NULL, 1);
    rc = exported ? mtp_client_session_import(c, exported) : -1;
    IS_INT(rc, 0, "session import");
    IS_INT(self_id(c), 9996621234LL, "imported session is authorized");
    OK(mtp_client_session_import(c, "AAAA") != 0, "garbage import rejected");
    free(exported);
    /* logout */
    rc = mtp_logout(c, &e);
    IS_INT(rc, 0, "logout");
    IS_INT(mtp_client_user_id(c), 0, "logged out");
    mtp_client_free(c);

    /* 2FA */
    c = mk(NULL, 1);
    rc = mtp_login_phone(c, "9996631234", "33333", ask_pw, "hunter2", &e);
    IS_INT(rc, 0, "2FA login (%s)", e.message);
    IS_INT(mtp_client_user_id(c), 9996631234LL, "2FA user");
    mtp_client_free(c);
    c = mk(NULL, 1);
    rc = mtp_login_phone(c, "9996631234", "33333", ask_pw, "wrong", &e);
    OK(rc == MTP_ERPC && !strcmp(e.message, "PASSWORD_HASH_INVALID"), "wrong password: %s", e.message);
    mtp_client_free(c);

    /* bot */
    c = mk(NULL, 1);
    rc = mtp_login_bot(c, "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi", &e);
    IS_INT(rc, 0, "bot login (%s)", e.message);
    IS_INT(mtp_client_home_dc(c), 2, "bot moved to DC 2");
    IS_INT(mtp_client_user_id(c), 123456, "bot id");
    mtp_client_free(c);

    /* the CLI */
    char cli[512];
    snprintf(cli, sizeof cli, "%s", argv[0]);
    char *slash = strrchr(cli, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(cli, '/');
    }
    if (slash)
        strcpy(slash, "/bin/mtproto-cli");
    if (access(cli, X_OK) != 0) {
        tap_skip("mtproto-cli not built", 6);
    } else {
        char out[65536], hp[64], csess[300];
        snprintf(hp, sizeof hp, "127.0.0.1:%u", H.ports[0]);
        snprintf(csess, sizeof csess, "%s/cli.session", H.dir);
        const char *h[] = { cli, "--help", NULL };
        IS_INT(run_cli(cli, h, out, sizeof out), 0, "cli --help");
        OK(strstr(out, "session import") && strstr(out, "download PEER MSG_ID"), "--help documents the commands");
        const char *bad[] = { cli, "frobnicate", NULL };
        IS_INT(run_cli(cli, bad, out, sizeof out), 2, "cli: unknown command exits 2");
        const char *lg[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", csess,
                             "--api-id", "1", "--api-hash", "x", "--json", "login", "--phone",
                             "9996621234", "--code", "22222", NULL };
        int x = run_cli(cli, lg, out, sizeof out);
        OK(x == 0 && strstr(out, "\"user_id\":\"9996621234\""), "cli login --json (%d)", x);
        const char *cl[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", csess,
                             "--api-id", "1", "--api-hash", "x", "call", "help.getNearestDc",
                             "{}", NULL };
        x = run_cli(cli, cl, out, sizeof out);
        OK(x == 0 && strstr(out, "\"_\":\"nearestDc\""), "cli call help.getNearestDc");
        const char *cu[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", csess,
                             "--api-id", "1", "--api-hash", "x", "call", "users.getUsers",
                             "{\"id\":[{\"_\":\"inputUserSelf\"}]}", NULL };
        x = run_cli(cli, cu, out, sizeof out);
        OK(x == 0 && out[0] == '[' && strstr(out, "\"id\":\"9996621234\""),
           "cli call users.getUsers: a JSON array (%d)", x);
    }

    tu_harness_stop(&H);
    return tap_done();
}
