/*
 * libmtproto client — login as asynchronous operations (phone + code, 2FA password via SRP,
 * bot token), logout, and the synchronous wrappers over them.
 *
 * A login makes one call at a time: the op holds a reference for it, and its answer is
 * decoded into the op's arena. A login that waits for a code or a password has no call in
 * flight; mtp_login_submit() continues it.
 */
#include "op_int.h"

#include <mtproto/crypto.h>
#include <mtproto/tl_schema.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct login {
    mtp_op_t op;
    mtp_arena_t *a;
    const mtp_tl_object_t *method;  /* the call in flight (its result type decodes) */
    void (*next)(struct login *l, const mtp_tl_object_t *res);  /* on its success */
    char phone[64];
    char code[64];
    char password[256];
    bool have_code, have_password;
    char *bot_token;
    mtp_bytes_t code_hash;          /* auth.sentCode (in the arena) */
    char first[80], last[80];       /* sign-up names (have_names) */
    bool have_names;
    const mtp_dataJSON_t *tos_id;   /* terms of service of the sign-up request (in l->a) */
    char *tos_text;                 /* NUL-terminated copy (in l->a) */
    const mtp_tl_object_t *auth;    /* auth.authorization of signUp, while the ToS are accepted */
} login_t;

static void password_needed(login_t *l);
static void signup_needed(login_t *l, const mtp_tl_object_t *req);

static mtp_bytes_t S(const char *s)
{
    mtp_bytes_t b = { (const uint8_t *)s, s ? strlen(s) : 0 };
    return b;
}

static void login_release(mtp_op_t *op)
{
    login_t *l = (login_t *)op;
    mtp_arena_free(l->a);       /* held the SRP values and the code */
    l->a = NULL;
    memset(l->code, 0, sizeof l->code);
    memset(l->password, 0, sizeof l->password);
    if (l->bot_token) {
        memset(l->bot_token, 0, strlen(l->bot_token));
        free(l->bot_token);
        l->bot_token = NULL;
    }
}

static int64_t user_of_auth(const mtp_tl_object_t *o)
{
    if (!o || o->tl->id != MTP_ID_auth_authorization)
        return 0;
    const mtp_tl_object_t *u = ((const mtp_auth_authorization_t *)o)->user;
    if (u && u->tl->id == MTP_ID_user)
        return ((const mtp_user_t *)u)->id;
    return 0;
}

static bool set_state(login_t *l, mtp_login_state_t st)
{
    l->op.prog.login_state = st;
    return mtp_op__report(&l->op);
}

static void login_cb(mtp_client_t *c, void *user, const uint8_t *res, size_t len,
                     const mtp_call_error_t *e)
{
    login_t *l = user;
    if (l->op.finished) {       /* cancelled meanwhile: the answer is dropped */
        mtp_op__unref(&l->op);
        return;
    }
    mtp_tl_object_t *o = NULL;
    mtp_call_error_t ee = *e;
    if (!ee.err) {
        int rc = mtp_tl_decode_result(mtp_tl_layer(MTP_TL_DEFAULT_LAYER), l->method, res, len,
                                      l->a, &o);
        if (rc)
            mtp_op__set_err(&ee, rc);
        else
            mtp_client_peers_feed(c, o);
    }
    if (ee.err == MTP_ERPC && !strcmp(ee.message, "SESSION_PASSWORD_NEEDED") &&
        l->method->tl->id == MTP_ID_auth_signIn) {
        password_needed(l);     /* 2FA */
    } else if (ee.err == MTP_ERPC && !strcmp(ee.message, "PHONE_NUMBER_UNOCCUPIED") &&
               l->method->tl->id == MTP_ID_auth_signIn) {
        signup_needed(l, NULL); /* the older answer for a new number */
    } else if (ee.err) {
        mtp_op__finish(&l->op, &ee);
    } else {
        l->next(l, o);
    }
    mtp_op__unref(&l->op);
}

static bool is_op(void *user, void *op)
{
    return user == op;
}

static void login_abandon(mtp_op_t *op)
{
    mtp_client__cancel_calls(op->c, login_cb, is_op, op);
}

/* Call method (in l->a); next runs with its decoded result. */
static void login_call(login_t *l, mtp_tl_object_t *method,
                       void (*next)(login_t *, const mtp_tl_object_t *))
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    int rc = method ? mtp_tl_encode(method, &b) : MTP_ENOMEM;
    if (!rc) {
        l->method = method;
        l->next = next;
        rc = mtp_call_ex(l->op.c, 0, MTP_CALL__FED, b.data, b.len, login_cb, l);
    }
    mtp_buf_free(&b);
    if (rc)
        mtp_op__fail(&l->op, rc);
    else
        mtp_op__ref(&l->op);
}

static void logged_in(login_t *l, const mtp_tl_object_t *res)
{
    if (res && res->tl->id == MTP_ID_auth_authorizationSignUpRequired &&
        l->method->tl->id == MTP_ID_auth_signIn) {
        signup_needed(l, res);
        return;
    }
    int64_t uid = user_of_auth(res);
    if (!uid) {
        /* signIn without a user: sign-up required */
        mtp_op__fail(&l->op, l->method->tl->id == MTP_ID_auth_signIn ? MTP_EAUTH : MTP_EPROTO);
        return;
    }
    mtp_client__set_user(l->op.c, uid);
    if (!set_state(l, MTP_LOGIN_DONE))
        return;
    mtp_call_error_t ok;
    mtp_op__set_err(&ok, 0);
    mtp_op__finish(&l->op, &ok);
}

/* ---- 2FA: account.getPassword, SRP, auth.checkPassword ---- */

static void got_password_info(login_t *l, const mtp_tl_object_t *o)
{
    const mtp_account_password_t *p = (const mtp_account_password_t *)o;
    const mtp_tl_object_t *al = p->current_algo;
    if (o->tl->id != MTP_ID_account_password || !p->has_password || !al ||
        al->tl->id != MTP_ID_passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow) {
        mtp_op__fail(&l->op, MTP_EPROTO);
        return;
    }
    const mtp_passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow_t *k =
        (const void *)al;
    mtp_srp_algo_t sa = { k->salt1.ptr, k->salt1.len, k->salt2.ptr, k->salt2.len,
                          k->g, k->p.ptr, k->p.len };
    uint8_t *A = mtp_arena_alloc(l->a, 256), *M1 = mtp_arena_alloc(l->a, 32);
    int rc = A && M1 ? 0 : MTP_ENOMEM;
    if (!rc)
        rc = mtp_srp_client_compute(&sa, (const uint8_t *)l->password, strlen(l->password),
                                    p->srp_B.ptr, p->srp_B.len, NULL, 0, A, M1);
    memset(l->password, 0, sizeof l->password);
    if (rc) {
        mtp_op__fail(&l->op, rc);
        return;
    }
    mtp_inputCheckPasswordSRP_t *in = MTP_NEW(l->a, inputCheckPasswordSRP);
    mtp_auth_checkPassword_t *cp = MTP_NEW(l->a, auth_checkPassword);
    if (!in || !cp) {
        mtp_op__fail(&l->op, MTP_ENOMEM);
        return;
    }
    in->srp_id = p->srp_id;
    in->A = (mtp_bytes_t){ A, 256 };
    in->M1 = (mtp_bytes_t){ M1, 32 };
    cp->password = &in->_;
    login_call(l, &cp->_, logged_in);
}

static void check_password(login_t *l)
{
    if (!set_state(l, MTP_LOGIN_CHECKING_PASSWORD))
        return;
    login_call(l, (mtp_tl_object_t *)MTP_NEW(l->a, account_getPassword), got_password_info);
}

static void password_needed(login_t *l)
{
    if (l->have_password)
        check_password(l);
    else
        set_state(l, MTP_LOGIN_WAIT_PASSWORD);
}

/* ---- sign-up: auth.signUp, help.acceptTermsOfService ---- */

static void tos_accepted(login_t *l, const mtp_tl_object_t *res)
{
    (void)res;          /* boolTrue; an error has failed the op already */
    logged_in(l, l->auth);
}

static void signed_up(login_t *l, const mtp_tl_object_t *res)
{
    if (!user_of_auth(res) || !l->tos_id) {
        logged_in(l, res);
        return;
    }
    mtp_client__set_user(l->op.c, user_of_auth(res));   /* the accept call needs it */
    l->auth = res;
    mtp_help_acceptTermsOfService_t *a = MTP_NEW(l->a, help_acceptTermsOfService);
    if (a)
        a->id = (mtp_tl_object_t *)l->tos_id;
    login_call(l, a ? &a->_ : NULL, tos_accepted);
}

static void sign_up(login_t *l)
{
    if (!set_state(l, MTP_LOGIN_SIGNING_UP))
        return;
    mtp_auth_signUp_t *su = MTP_NEW(l->a, auth_signUp);
    if (su) {
        su->phone_number = S(l->phone);
        su->phone_code_hash = l->code_hash;
        su->first_name = (mtp_bytes_t){ mtp_arena_memdup(l->a, l->first, strlen(l->first) + 1),
                                        strlen(l->first) };
        su->last_name = (mtp_bytes_t){ mtp_arena_memdup(l->a, l->last, strlen(l->last) + 1),
                                       strlen(l->last) };
    }
    login_call(l, su && su->first_name.ptr && su->last_name.ptr ? &su->_ : NULL, signed_up);
}

static void signup_needed(login_t *l, const mtp_tl_object_t *req)
{
    const mtp_auth_authorizationSignUpRequired_t *r = (const void *)req;
    const mtp_help_termsOfService_t *t = r ? (const void *)r->terms_of_service : NULL;
    if (t && t->_.tl->id == MTP_ID_help_termsOfService && t->id &&
        t->id->tl->id == MTP_ID_dataJSON) {
        l->tos_id = (const mtp_dataJSON_t *)t->id;
        l->tos_text = mtp_arena_alloc(l->a, t->text.len + 1);
        if (l->tos_text) {
            memcpy(l->tos_text, t->text.ptr, t->text.len);
            l->tos_text[t->text.len] = 0;
        }
    }
    if (l->have_names)
        sign_up(l);
    else
        set_state(l, MTP_LOGIN_WAIT_SIGNUP);
}

static int copy_str(char *dst, size_t cap, const char *s);

static int check_names(const char *first, const char *last)
{
    size_t f = first ? strlen(first) : 0, n = last ? strlen(last) : 0;
    return f >= 1 && f <= 64 && n <= 64 ? 0 : MTP_EINVAL;
}

int mtp_login_submit_signup(mtp_op_t *op, const char *first, const char *last)
{
    if (!op || op->kind != MTP_OP_LOGIN_PHONE || check_names(first, last))
        return MTP_EINVAL;
    login_t *l = (login_t *)op;
    if (op->finished || op->prog.login_state != MTP_LOGIN_WAIT_SIGNUP)
        return MTP_ESTATE;
    copy_str(l->first, sizeof l->first, first);
    copy_str(l->last, sizeof l->last, last);
    l->have_names = true;
    mtp_op__ref(op);
    sign_up(l);
    mtp_op__unref(op);
    return 0;
}

const char *mtp_login_terms(const mtp_op_t *op)
{
    if (!op || op->kind != MTP_OP_LOGIN_PHONE)
        return NULL;
    return ((const login_t *)op)->tos_text;
}

/* ---- phone: auth.sendCode, code, auth.signIn ---- */

static void sign_in(login_t *l)
{
    if (!set_state(l, MTP_LOGIN_SIGNING_IN))
        return;
    mtp_auth_signIn_t *si = MTP_NEW(l->a, auth_signIn);
    if (si) {
        si->phone_number = S(l->phone);
        si->phone_code_hash = l->code_hash;
        si->has_phone_code = true;
        si->phone_code = (mtp_bytes_t){ mtp_arena_memdup(l->a, l->code, strlen(l->code) + 1),
                                        strlen(l->code) };
        memset(l->code, 0, sizeof l->code);
    }
    login_call(l, si ? &si->_ : NULL, logged_in);
}

static void code_sent(login_t *l, const mtp_tl_object_t *o)
{
    if (o->tl->id != MTP_ID_auth_sentCode) {
        mtp_op__fail(&l->op, MTP_EPROTO);
        return;
    }
    l->code_hash = ((const mtp_auth_sentCode_t *)o)->phone_code_hash;   /* in l->a */
    if (l->have_code)
        sign_in(l);
    else
        set_state(l, MTP_LOGIN_WAIT_CODE);
}

static int copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        return MTP_EINVAL;
    memcpy(dst, s ? s : "", n + 1);
    return 0;
}

static int login_new(mtp_client_t *c, const mtp_login_params_t *p, mtp_op_kind_t kind,
                     login_t **out)
{
    if (!c || !p)
        return MTP_EINVAL;
    if (p->version != MTP_LOGIN_PARAMS_VERSION && p->version != 1)
        return MTP_EVERSION;
    bool v2 = p->version >= 2;      /* version 1 ends before first_name */
    if (v2 && p->first_name && check_names(p->first_name, p->last_name))
        return MTP_EINVAL;
    login_t *l = (login_t *)mtp_op__new(c, sizeof *l, kind, p->progress, p->done, p->user);
    if (!l)
        return MTP_ENOMEM;
    l->op.release = login_release;
    l->op.abandon = login_abandon;
    l->a = mtp_arena_new(0);
    int rc = l->a ? 0 : MTP_ENOMEM;
    if (!rc && p->code && *p->code) {
        rc = copy_str(l->code, sizeof l->code, p->code);
        l->have_code = true;
    }
    if (!rc && p->password) {
        rc = copy_str(l->password, sizeof l->password, p->password);
        l->have_password = true;
    }
    if (!rc && v2 && p->first_name) {
        copy_str(l->first, sizeof l->first, p->first_name);
        copy_str(l->last, sizeof l->last, p->last_name);
        l->have_names = true;
    }
    if (rc) {
        mtp_op__discard(&l->op);
        return rc;
    }
    *out = l;
    return 0;
}

/* Start: publish the handle first, so that a callback running at once may use it. */
static int login_go(login_t *l, mtp_op_t **op, void (*first)(login_t *))
{
    mtp_op__ref(&l->op);
    mtp_op__publish(&l->op, op);
    first(l);
    mtp_op__unref(&l->op);
    return 0;
}

static void send_code(login_t *l)
{
    if (!set_state(l, MTP_LOGIN_SENDING_CODE))
        return;
    mtp_auth_sendCode_t *sc = MTP_NEW(l->a, auth_sendCode);
    if (sc) {
        sc->phone_number = S(l->phone);
        sc->api_id = mtp_client__api_id(l->op.c);
        sc->api_hash = S(mtp_client__api_hash(l->op.c));
        sc->settings = (mtp_tl_object_t *)MTP_NEW(l->a, codeSettings);
    }
    login_call(l, sc && sc->settings ? &sc->_ : NULL, code_sent);
}

int mtp_login_phone_start(mtp_client_t *c, const mtp_login_params_t *p, mtp_op_t **op)
{
    login_t *l;
    if (p && (!p->phone || !*p->phone))
        return MTP_EINVAL;
    int rc = login_new(c, p, MTP_OP_LOGIN_PHONE, &l);
    if (!rc && (rc = copy_str(l->phone, sizeof l->phone, p->phone)) != 0)
        mtp_op__discard(&l->op);
    return rc ? rc : login_go(l, op, send_code);
}

static void import_bot(login_t *l)
{
    if (!set_state(l, MTP_LOGIN_SIGNING_IN))
        return;
    mtp_auth_importBotAuthorization_t *b = MTP_NEW(l->a, auth_importBotAuthorization);
    if (b) {
        b->api_id = mtp_client__api_id(l->op.c);
        b->api_hash = S(mtp_client__api_hash(l->op.c));
        b->bot_auth_token = S(l->bot_token);
    }
    login_call(l, b ? &b->_ : NULL, logged_in);
}

int mtp_login_bot_start(mtp_client_t *c, const mtp_login_params_t *p, mtp_op_t **op)
{
    login_t *l;
    if (p && !p->bot_token)
        return MTP_EINVAL;
    int rc = login_new(c, p, MTP_OP_LOGIN_BOT, &l);
    if (!rc && !(l->bot_token = strdup(p->bot_token))) {
        mtp_op__discard(&l->op);
        rc = MTP_ENOMEM;
    }
    return rc ? rc : login_go(l, op, import_bot);
}

int mtp_login_password_start(mtp_client_t *c, const mtp_login_params_t *p, mtp_op_t **op)
{
    login_t *l;
    if (p && !p->password)
        return MTP_EINVAL;
    int rc = login_new(c, p, MTP_OP_LOGIN_PASSWORD, &l);
    return rc ? rc : login_go(l, op, check_password);
}

int mtp_login_submit(mtp_op_t *op, const char *secret)
{
    if (!op || !secret || (op->kind != MTP_OP_LOGIN_PHONE && op->kind != MTP_OP_LOGIN_PASSWORD))
        return MTP_EINVAL;
    login_t *l = (login_t *)op;
    mtp_login_state_t st = op->prog.login_state;
    if (op->finished || (st != MTP_LOGIN_WAIT_CODE && st != MTP_LOGIN_WAIT_PASSWORD))
        return MTP_ESTATE;
    bool code = st == MTP_LOGIN_WAIT_CODE;
    if (copy_str(code ? l->code : l->password, code ? sizeof l->code : sizeof l->password,
                 secret) != 0 || (code && !*secret))
        return MTP_EINVAL;
    mtp_op__ref(op);
    if (code)
        sign_in(l);
    else
        check_password(l);
    mtp_op__unref(op);
    return 0;
}

int mtp_login_params_init_versioned(unsigned version, mtp_login_params_t *p)
{
    if (!p)
        return MTP_EINVAL;
    if (version != MTP_LOGIN_PARAMS_VERSION && version != 1)
        return MTP_EVERSION;
    /* a version 1 caller's struct ends before first_name */
    memset(p, 0, version == 1 ? offsetof(mtp_login_params_t, first_name) : sizeof *p);
    p->version = version;
    return 0;
}

/* ------------------------------------------------------------------ sync wrappers */

typedef struct ask_ctx {
    mtp_ask_cb ask;
    void *user;
} ask_ctx_t;

/* Waiting for a code or a password: ask for it, or give up (MTP_ECANCELED). */
static void sync_progress(mtp_op_t *op, void *user, const mtp_op_progress_t *p)
{
    ask_ctx_t *a = user;
    if (p->login_state == MTP_LOGIN_WAIT_SIGNUP) {  /* a new number and no names given */
        mtp_op__fail(op, MTP_EAUTH);
        return;
    }
    bool code = p->login_state == MTP_LOGIN_WAIT_CODE;
    if (!code && p->login_state != MTP_LOGIN_WAIT_PASSWORD)
        return;
    char buf[256];
    if (!a->ask || a->ask(a->user, code ? "Login code: " : "Password: ", buf, code ? 64 : sizeof buf) ||
        mtp_login_submit(op, buf) != 0)
        mtp_op_cancel(op);
    memset(buf, 0, sizeof buf);
}

static int login_sync(mtp_client_t *c, int (*start)(mtp_client_t *, const mtp_login_params_t *,
                                                    mtp_op_t **),
                      mtp_login_params_t *p, mtp_call_error_t *err)
{
    mtp_op_t *op = NULL;
    int rc = start(c, p, &op);
    if (rc) {
        mtp_op__set_err(err, rc);
        return rc;
    }
    return mtp_op__wait(op, err);
}

int mtp_login_phone(mtp_client_t *c, const char *phone, const char *code, mtp_ask_cb ask,
                    void *ask_user, mtp_call_error_t *err)
{
    mtp_login_params_t p;
    mtp_login_params_init(&p);
    ask_ctx_t a = { ask, ask_user };
    p.phone = phone;
    p.code = code;
    p.progress = sync_progress;
    p.user = &a;
    return login_sync(c, mtp_login_phone_start, &p, err);
}

int mtp_login_phone_signup(mtp_client_t *c, const char *phone, const char *code,
                           const char *first, const char *last, mtp_ask_cb ask,
                           void *ask_user, mtp_call_error_t *err)
{
    mtp_login_params_t p;
    mtp_login_params_init(&p);
    ask_ctx_t a = { ask, ask_user };
    p.phone = phone;
    p.code = code;
    p.first_name = first;
    p.last_name = last;
    p.progress = sync_progress;
    p.user = &a;
    return login_sync(c, mtp_login_phone_start, &p, err);
}

int mtp_login_bot(mtp_client_t *c, const char *token, mtp_call_error_t *err)
{
    mtp_login_params_t p;
    mtp_login_params_init(&p);
    p.bot_token = token;
    return login_sync(c, mtp_login_bot_start, &p, err);
}

int mtp_login_password(mtp_client_t *c, const char *password, mtp_call_error_t *err)
{
    mtp_login_params_t p;
    mtp_login_params_init(&p);
    p.password = password;
    return login_sync(c, mtp_login_password_start, &p, err);
}

int mtp_logout(mtp_client_t *c, mtp_call_error_t *err)
{
    mtp_call_error_t e;
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a) {
        mtp_op__set_err(err, MTP_ENOMEM);
        return MTP_ENOMEM;
    }
    int rc = mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, auth_logOut), a, NULL, &e);
    mtp_client__set_user(c, 0);
    mtp_arena_free(a);
    if (err)
        *err = e;
    return rc;
}
