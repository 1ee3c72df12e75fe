/*
 * Sign-up of a new number against the harness (phones 99966XYYYY with YYYY >= 9000 are new:
 * auth.signIn answers auth.authorizationSignUpRequired with terms of service until
 * auth.signUp registers them): the asynchronous login op (state WAIT_SIGNUP, the terms,
 * mtp_login_submit_signup, help.acceptTermsOfService with the server's id), names in the
 * login params, the synchronous wrapper, the checks of the names, and the CLI.
 */
#define _GNU_SOURCE
#include "testharness.h"
#include "testutil.h"

#include <mtproto/ops.h>
#include <mtproto/tl_schema.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct rec {
    bool done, saw_signup, saw_signing_up;
    int err;
    char terms[256];
    const char *first, *last;   /* submitted on WAIT_SIGNUP (NULL: nothing) */
    int submit_rc;
} rec_t;

static void on_progress(mtp_op_t *op, void *user, const mtp_op_progress_t *p)
{
    rec_t *r = user;
    if (p->login_state == MTP_LOGIN_SIGNING_UP)
        r->saw_signing_up = true;
    if (p->login_state != MTP_LOGIN_WAIT_SIGNUP)
        return;
    r->saw_signup = true;
    const char *t = mtp_login_terms(op);
    snprintf(r->terms, sizeof r->terms, "%s", t ? t : "");
    if (r->first)
        r->submit_rc = mtp_login_submit_signup(op, r->first, r->last);
}

static void on_done(mtp_op_t *op, void *user, const mtp_call_error_t *e)
{
    (void)op;
    rec_t *r = user;
    r->done = true;
    r->err = e->err;
}

static mtp_client_t *new_client(const tu_harness_t *H)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(H, &cfg);
    mtp_client_t *c = NULL;
    if (mtp_client_new(&cfg, &c))
        tap_bail("client");
    return c;
}

static int run_until(mtp_client_t *c, rec_t *r, bool (*cond)(const rec_t *))
{
    double t0 = tu_now();
    while (tu_now() - t0 < 20 && !cond(r))
        mtp_client_step(c, 50);
    return cond(r);
}

static bool is_done(const rec_t *r) { return r->done; }
static bool is_waiting(const rec_t *r) { return r->done || r->saw_signup; }

/* users.getUsers([inputUserSelf]): first and last name of the logged-in user */
static bool self_names(mtp_client_t *c, char *first, char *last, int64_t *id)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
    g->id.n = 1;
    g->id.v = mtp_arena_alloc(a, sizeof(mtp_tl_object_t *));
    g->id.v[0] = (mtp_tl_object_t *)MTP_NEW(a, inputUserSelf);
    mtp_tl_object_t *res = NULL;
    mtp_call_error_t e;
    bool ok = false;
    const mtp_tl_vector_t *v = NULL;
    if (!mtp_call_sync(c, &g->_, a, &res, &e) && (v = mtp_tl_as_vector(res)) != NULL) {
        if (v->n == 1 && v->v.obj[0]->tl->id == MTP_ID_user) {
            const mtp_user_t *u = (const mtp_user_t *)v->v.obj[0];
            snprintf(first, 80, "%.*s", (int)u->first_name.len, (const char *)u->first_name.ptr);
            snprintf(last, 80, "%.*s", (int)u->last_name.len, (const char *)u->last_name.ptr);
            *id = u->id;
            ok = true;
        }
    }
    mtp_arena_free(a);
    return ok;
}

static int run_cli(const char *const *args, char *out, size_t cap)
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
        alarm(60);
        execv(args[0], (char *const *)args);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(pfd[0], out + n, cap - 1 - n)) > 0)
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
    tu_harness_t H;
    if (tu_harness_start(&H, "test_signup", NULL))
        tap_bail("harness did not start");
    char first[80], last[80];
    int64_t id = 0;

    /* 1. async, no names: WAIT_SIGNUP with the terms, then the names */
    mtp_client_t *c = new_client(&H);
    rec_t r;
    memset(&r, 0, sizeof r);
    mtp_login_params_t p;
    mtp_login_params_init(&p);
    p.phone = "9996619001";
    p.code = "11111";
    p.progress = on_progress;
    p.done = on_done;
    p.user = &r;
    mtp_op_t *op = NULL;
    IS_INT(mtp_login_phone_start(c, &p, &op), 0, "login of a new number started");
    OK(run_until(c, &r, is_waiting) && r.saw_signup && !r.done, "state WAIT_SIGNUP reached");
    OK(strstr(r.terms, "terms of service") != NULL, "the server's terms of service: \"%s\"", r.terms);
    IS_INT(mtp_login_submit(op, "11111"), MTP_ESTATE, "submit (a code) is refused while waiting for names");
    IS_INT(mtp_login_submit_signup(op, "", "x"), MTP_EINVAL, "an empty first name is refused");
    char longname[80];
    memset(longname, 'a', 65);
    longname[65] = 0;
    IS_INT(mtp_login_submit_signup(op, longname, NULL), MTP_EINVAL, "a 65-byte first name is refused");
    IS_INT(mtp_login_submit_signup(op, "Ada", "Lovelace"), 0, "names submitted");
    OK(run_until(c, &r, is_done) && r.err == 0 && r.saw_signing_up, "signed up and logged in (%d)", r.err);
    IS_INT(mtp_client_user_id(c), 9996619001LL, "the new user's id");
    OK(self_names(c, first, last, &id) && !strcmp(first, "Ada") && !strcmp(last, "Lovelace") &&
       id == 9996619001LL, "users.getUsers: %s %s", first, last);
    IS_INT(mtp_login_submit_signup(op, "Ada", NULL), MTP_ESTATE, "names after the end are refused");
    mtp_op_free(op);
    mtp_client_free(c);

    /* 2. names in the params (version 2), on DC 2 (PHONE_MIGRATE followed) */
    c = new_client(&H);
    memset(&r, 0, sizeof r);
    p.phone = "9996629002";
    p.code = "22222";
    p.first_name = "Grace";
    p.last_name = NULL;
    IS_INT(mtp_login_phone_start(c, &p, NULL), 0, "login with names started");
    OK(run_until(c, &r, is_done) && r.err == 0 && !r.saw_signup && r.saw_signing_up,
       "signed up without waiting (%d)", r.err);
    OK(self_names(c, first, last, &id) && !strcmp(first, "Grace") && !last[0] &&
       mtp_client_home_dc(c) == 2, "user Grace on DC %d", mtp_client_home_dc(c));
    mtp_client_free(c);

    /* 3. the same number again: registered now, a plain sign-in (names unused) */
    c = new_client(&H);
    mtp_call_error_t e;
    IS_INT(mtp_login_phone_signup(c, "9996629002", "22222", "Other", "Name", NULL, NULL, &e), 0,
           "sync sign-up wrapper on a registered number: signs in");
    OK(self_names(c, first, last, &id) && !strcmp(first, "Grace"), "still Grace (%s)", first);
    mtp_client_free(c);

    /* 4. a new number with the sync login without names: MTP_EAUTH, not a hang */
    c = new_client(&H);
    double t0 = tu_now();
    IS_INT(mtp_login_phone(c, "9996619003", "11111", NULL, NULL, &e), MTP_EAUTH,
           "a new number without names: MTP_EAUTH");
    OK(tu_now() - t0 < 15, "… at once");
    IS_INT(mtp_login_phone_signup(c, "9996619003", "11111", "Linus", "T", NULL, NULL, &e), 0,
           "sync sign-up with names");
    IS_INT(mtp_client_user_id(c), 9996619003LL, "user id of the sync sign-up");
    mtp_client_free(c);

    /* 5. a version-1 params struct still works (no names: WAIT_SIGNUP) */
    IS_INT(mtp_login_params_init_versioned(1, &p), 0, "params version 1");
    IS_INT(mtp_login_params_init_versioned(3, &p), MTP_EVERSION, "params version 3 unknown");

    /* 6. the CLI */
    char cli[512];
    snprintf(cli, sizeof cli, "%s", argv[0]);
    char *slash = strrchr(cli, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(cli, '/');
    }
    if (slash)
        strcpy(slash, "/bin/mtproto-cli");
    if (access(cli, X_OK)) {
        tap_skip("mtproto-cli not built", 3);
    } else {
        char hp[64], sess[400], out[4096];
        snprintf(hp, sizeof hp, "127.0.0.1:%u", H.ports[0]);
        snprintf(sess, sizeof sess, "%s/cli.session", H.dir);
        const char *a1[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", sess, "--api-id", "1",
                             "--api-hash", "x", "login", "--phone", "9996639004", "--code", "33333", NULL };
        IS_INT(run_cli(a1, out, sizeof out), 1, "cli login of a new number without --first-name fails");
        const char *a2[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", sess, "--api-id", "1",
                             "--api-hash", "x", "--json", "login", "--phone", "9996639004", "--code", "33333",
                             "--first-name", "Bob", "--last-name", "Builder", NULL };
        int x = run_cli(a2, out, sizeof out);
        OK(x == 0 && strstr(out, "\"user_id\":\"9996639004\""), "cli login --first-name signs up (%d)", x);
        const char *a3[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", sess, "--api-id", "1",
                             "--api-hash", "x", "me", NULL };
        x = run_cli(a3, out, sizeof out);
        OK(x == 0 && strstr(out, "\"first_name\":\"Bob\"") && strstr(out, "\"last_name\":\"Builder\""),
           "cli me: Bob Builder");
    }
    tu_harness_stop(&H);
    return tap_done();
}
