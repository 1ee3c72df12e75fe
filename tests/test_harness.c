/*
 * The harness (include/mtproto/server.h) driven by our own client core over loopback:
 * every transport, key exchange, config, ping, logins (migrate, 2FA, bot, sign-up),
 * export/import of authorizations, messages, files, layers 198/227, faults, -404,
 * undecodable queries, the trace, and --state persistence across a restart.
 */
#include "testutil.h"
#include "test_harness_client.h"

#include <mtproto/server.h>

#include <inttypes.h>
#include <pthread.h>
#include <sys/stat.h>

static mtp_server_t *srv;
static uint16_t ports[3];
static mtp_rsa_key_t *pub;
static mtp_arena_t *A;

/* ---- trace capture (called on the server thread) ---- */
static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static char *trace;
static size_t trace_len, trace_cap;

static void on_trace(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    pthread_mutex_lock(&tmu);
    if (trace_len + len + 2 > trace_cap) {
        size_t cap = trace_cap ? trace_cap : 1 << 20;
        while (trace_len + len + 2 > cap)
            cap *= 2;
        char *t = realloc(trace, cap);
        if (!t) {
            pthread_mutex_unlock(&tmu);
            return;
        }
        trace = t;
        trace_cap = cap;
    }
    memcpy(trace + trace_len, line, len);
    trace_len += len;
    trace[trace_len++] = '\n';
    trace[trace_len] = 0;
    pthread_mutex_unlock(&tmu);
}

static bool trace_has(const char *needle)
{
    pthread_mutex_lock(&tmu);
    bool r = trace && strstr(trace, needle) != NULL;
    pthread_mutex_unlock(&tmu);
    return r;
}

/* ---- object helpers ---- */

static mtp_bytes_t S(const char *s)
{
    return (mtp_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static int call_config(hc_t *h, bool init)
{
    mtp_help_getConfig_t *q = MTP_NEW(A, help_getConfig);
    return hc_call_obj(h, q, init, 5000);
}

static int send_code(hc_t *h, const char *phone, bool init, char *hash, size_t hn)
{
    mtp_auth_sendCode_t *q = MTP_NEW(A, auth_sendCode);
    mtp_codeSettings_t *cs = MTP_NEW(A, codeSettings);
    q->phone_number = S(phone);
    q->api_id = 12345;
    q->api_hash = S("0123456789abcdef0123456789abcdef");
    q->settings = &cs->_;
    int rc = hc_call_obj(h, q, init, 5000);
    if (rc)
        return rc;
    mtp_tl_object_t *o = hc_result(h, A, NULL);
    if (!o || o->tl != &mtp_tlc_auth_sentCode)
        return MTP_EPROTO;
    mtp_auth_sentCode_t *s = (void *)o;
    if (!s->type || s->type->tl != &mtp_tlc_auth_sentCodeTypeApp ||
        ((mtp_auth_sentCodeTypeApp_t *)s->type)->length != 5)
        return MTP_EPROTO;
    snprintf(hash, hn, "%.*s", (int)s->phone_code_hash.len, (const char *)s->phone_code_hash.ptr);
    return 0;
}

static int sign_in(hc_t *h, const char *phone, const char *hash, const char *code)
{
    mtp_auth_signIn_t *q = MTP_NEW(A, auth_signIn);
    q->phone_number = S(phone);
    q->phone_code_hash = S(hash);
    q->has_phone_code = true;
    q->phone_code = S(code);
    return hc_call_obj(h, q, false, 5000);
}

/* The user of an auth.authorization result (NULL otherwise). */
static mtp_user_t *auth_user(hc_t *h)
{
    mtp_tl_object_t *o = hc_result(h, A, NULL);
    if (!o || o->tl != &mtp_tlc_auth_authorization)
        return NULL;
    mtp_tl_object_t *u = ((mtp_auth_authorization_t *)o)->user;
    return u && u->tl == &mtp_tlc_user ? (mtp_user_t *)u : NULL;
}

static int get_self(hc_t *h, bool init)
{
    mtp_users_getUsers_t *q = MTP_NEW(A, users_getUsers);
    mtp_inputUserSelf_t *s = MTP_NEW(A, inputUserSelf);
    q->id.n = 1;
    q->id.v = mtp_arena_alloc(A, sizeof(void *));
    q->id.v[0] = &s->_;
    return hc_call_obj(h, q, init, 5000);
}

/* Log in phone on its DC (new key over intermediate). */
static int login(hc_t *h, const char *phone, int dc)
{
    int rc = hc_open(h, ports[dc - 1], MTP_TRANSPORT_INTERMEDIATE, false, pub, dc, NULL, 0);
    if (rc)
        return rc;
    char hash[64], code[6];
    if ((rc = send_code(h, phone, true, hash, sizeof hash)))
        return rc;
    memset(code, '0' + dc, 5);
    code[5] = 0;
    if ((rc = sign_in(h, phone, hash, code)))
        return rc;
    return auth_user(h) ? 0 : MTP_EPROTO;
}

static mtp_user_t *resolve(hc_t *h, const char *username)
{
    mtp_contacts_resolveUsername_t *q = MTP_NEW(A, contacts_resolveUsername);
    q->username = S(username);
    if (hc_call_obj(h, q, false, 5000))
        return NULL;
    mtp_tl_object_t *o = hc_result(h, A, NULL);
    if (!o || o->tl != &mtp_tlc_contacts_resolvedPeer)
        return NULL;
    mtp_contacts_resolvedPeer_t *r = (void *)o;
    return r->users.n == 1 && r->users.v[0]->tl == &mtp_tlc_user ? (mtp_user_t *)r->users.v[0]
                                                                 : NULL;
}

static mtp_tl_object_t *peer_user(int64_t id, int64_t hash)
{
    mtp_inputPeerUser_t *p = MTP_NEW(A, inputPeerUser);
    p->user_id = id;
    p->access_hash = hash;
    return &p->_;
}

static mtp_tl_object_t *peer_self(void)
{
    return &MTP_NEW(A, inputPeerSelf)->_;
}

static int send_msg(hc_t *h, mtp_tl_object_t *peer, const char *text, int64_t random_id)
{
    mtp_messages_sendMessage_t *q = MTP_NEW(A, messages_sendMessage);
    q->peer = peer;
    q->message = S(text);
    q->random_id = random_id;
    return hc_call_obj(h, q, false, 5000);
}

static int history(hc_t *h, mtp_tl_object_t *peer, int offset_id, int add_offset, int limit)
{
    mtp_messages_getHistory_t *q = MTP_NEW(A, messages_getHistory);
    q->peer = peer;
    q->offset_id = offset_id;
    q->add_offset = add_offset;
    q->limit = limit;
    return hc_call_obj(h, q, false, 5000);
}

/* Message ids of a messages.messages / messagesSlice result, newest first. */
static int history_ids(hc_t *h, int *ids, int max, int *count)
{
    mtp_tl_object_t *o = hc_result(h, A, NULL);
    if (!o)
        return -1;
    mtp_vec_obj_t *v;
    if (o->tl == &mtp_tlc_messages_messages) {
        v = &((mtp_messages_messages_t *)o)->messages;
        *count = (int)v->n;
    } else if (o->tl == &mtp_tlc_messages_messagesSlice) {
        v = &((mtp_messages_messagesSlice_t *)o)->messages;
        *count = ((mtp_messages_messagesSlice_t *)o)->count;
    } else {
        return -1;
    }
    int n = 0;
    for (uint32_t i = 0; i < v->n && n < max; i++)
        if (v->v[i]->tl == &mtp_tlc_message)
            ids[n++] = ((mtp_message_t *)v->v[i])->id;
    return n;
}

static int save_part(hc_t *h, int64_t file_id, int part, const uint8_t *p, size_t n)
{
    mtp_upload_saveFilePart_t *q = MTP_NEW(A, upload_saveFilePart);
    q->file_id = file_id;
    q->file_part = part;
    q->bytes = (mtp_bytes_t){ p, n };
    return hc_call_obj(h, q, false, 10000);
}

static int save_big_part(hc_t *h, int64_t file_id, int part, int total, const uint8_t *p,
                         size_t n)
{
    mtp_upload_saveBigFilePart_t *q = MTP_NEW(A, upload_saveBigFilePart);
    q->file_id = file_id;
    q->file_part = part;
    q->file_total_parts = total;
    q->bytes = (mtp_bytes_t){ p, n };
    return hc_call_obj(h, q, false, 10000);
}

/* sendMedia with an uploaded document; returns the document (NULL on failure). */
static mtp_document_t *send_doc(hc_t *h, mtp_tl_object_t *peer, mtp_tl_object_t *file,
                                int64_t random_id)
{
    mtp_messages_sendMedia_t *q = MTP_NEW(A, messages_sendMedia);
    mtp_inputMediaUploadedDocument_t *m = MTP_NEW(A, inputMediaUploadedDocument);
    m->file = file;
    m->mime_type = S("application/octet-stream");
    q->peer = peer;
    q->media = &m->_;
    q->message = S("a file");
    q->random_id = random_id;
    if (hc_call_obj(h, q, false, 20000))
        return NULL;
    mtp_tl_object_t *o = hc_result(h, A, NULL);
    if (!o || o->tl != &mtp_tlc_updates)
        return NULL;
    mtp_updates_t *u = (void *)o;
    for (uint32_t i = 0; i < u->updates.n; i++) {
        if (u->updates.v[i]->tl != &mtp_tlc_updateNewMessage)
            continue;
        mtp_tl_object_t *msg = ((mtp_updateNewMessage_t *)u->updates.v[i])->message;
        if (!msg || msg->tl != &mtp_tlc_message)
            return NULL;
        mtp_tl_object_t *media = ((mtp_message_t *)msg)->media;
        if (!media || media->tl != &mtp_tlc_messageMediaDocument)
            return NULL;
        mtp_tl_object_t *d = ((mtp_messageMediaDocument_t *)media)->document;
        return d && d->tl == &mtp_tlc_document ? (mtp_document_t *)d : NULL;
    }
    return NULL;
}

static int get_file(hc_t *h, const mtp_document_t *d, int64_t offset, int32_t limit,
                    bool precise)
{
    mtp_upload_getFile_t *q = MTP_NEW(A, upload_getFile);
    mtp_inputDocumentFileLocation_t *l = MTP_NEW(A, inputDocumentFileLocation);
    l->id = d->id;
    l->access_hash = d->access_hash;
    l->file_reference = d->file_reference;
    l->thumb_size = S("");
    q->location = &l->_;
    q->offset = offset;
    q->limit = limit;
    q->precise = precise;
    return hc_call_obj(h, q, false, 10000);
}

static mtp_bytes_t file_bytes(hc_t *h)
{
    mtp_tl_object_t *o = hc_result(h, A, NULL);
    if (!o || o->tl != &mtp_tlc_upload_file)
        return (mtp_bytes_t){ NULL, 0 };
    return ((mtp_upload_file_t *)o)->bytes;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* ------------------------------------------------------------------------------------ */

static const char *kind_name(mtp_transport_kind_t k, bool obfs)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "%s%s", obfs ? "obfuscated " : "", mtp_transport_kind_name(k));
    return buf;
}

static void test_transports(void)
{
    static const struct { mtp_transport_kind_t k; bool obfs; } kinds[] = {
        { MTP_TRANSPORT_ABRIDGED, false },     { MTP_TRANSPORT_INTERMEDIATE, false },
        { MTP_TRANSPORT_PADDED, false },       { MTP_TRANSPORT_FULL, false },
        { MTP_TRANSPORT_ABRIDGED, true },      { MTP_TRANSPORT_INTERMEDIATE, true },
        { MTP_TRANSPORT_PADDED, true },
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        mtp_arena_reset(A);
        const char *name = kind_name(kinds[i].k, kinds[i].obfs);
        hc_t h;
        int dc = (int)(i % 3) + 1;
        int rc = hc_open(&h, ports[dc - 1], kinds[i].k, kinds[i].obfs, pub, dc, NULL, 0);
        if (!OK(rc == 0, "%s: key exchange with DC %d (%s)", name, dc, mtp_strerror(rc))) {
            hc_close(&h);
            continue;
        }
        rc = call_config(&h, true);
        mtp_tl_object_t *o = hc_result(&h, A, NULL);
        bool ok = !rc && o && o->tl == &mtp_tlc_config;
        if (ok) {
            mtp_config_t *c = (void *)o;
            ok = c->this_dc == dc && c->dc_options.n == 3;
            for (uint32_t j = 0; ok && j < c->dc_options.n; j++) {
                mtp_dcOption_t *d = (void *)c->dc_options.v[j];
                ok = d->id == (int)j + 1 && d->port == ports[j] &&
                     d->ip_address.len == 9 && memcmp(d->ip_address.ptr, "127.0.0.1", 9) == 0;
            }
        }
        OK(ok, "%s: help.getConfig lists the 3 DCs and their ports, this_dc %d", name, dc);
        /* ping */
        mtp_session_t *s = mtp_conn_session(h.c);
        mtp_session_ping(s, 77 + (int64_t)i, 0, hc_now());
        mtp_conn_flush(h.c, hc_now());
        mtp_usec_t until = hc_now() + 5 * MTP_USEC_PER_SEC;
        while (h.pongs == 0 && hc_now() < until && !h.eof) {
            hc_step(&h, 20);
            hc_events(&h, -1);
        }
        OK(h.pongs == 1, "%s: ping -> pong", name);
        if (kinds[i].k != MTP_TRANSPORT_FULL)
            OK(h.quick_acks > 0, "%s: quick acks (%d)", name, h.quick_acks);
        hc_close(&h);
    }
    OK(trace_has("\"transport\":\"full\",\"obfuscated\":false"), "trace: full transport detected");
    OK(trace_has("\"transport\":\"padded\",\"obfuscated\":true"),
       "trace: obfuscated padded detected");
}

static hc_t A2;                 /* user 9996621234 on DC 2 */
static mtp_user_t userA;
static hc_t B1;                 /* user 9996611234 on DC 1 */
static int64_t idB, hashB;

static void test_login(void)
{
    mtp_arena_reset(A);
    hc_t h;
    int rc = hc_open(&h, ports[0], MTP_TRANSPORT_ABRIDGED, false, pub, 1, NULL, 0);
    OK(rc == 0, "DC 1: key exchange");
    rc = get_self(&h, true);
    OK(hc_is_err(&h, 401, "AUTH_KEY_UNREGISTERED"), "users.getUsers before login -> 401 %s",
       h.rpc_msg);
    /* an open (help.*) method the harness lacks: METHOD_NOT_IMPLEMENTED even before login
     * (help.getAppConfig was this example until the harness answered it, for TDLib) */
    mtp_help_getTermsOfServiceUpdate_t *tos = MTP_NEW(A, help_getTermsOfServiceUpdate);
    hc_call_obj(&h, tos, false, 5000);
    OK(hc_is_err(&h, 400, "METHOD_NOT_IMPLEMENTED"), "help.getTermsOfServiceUpdate -> 400 %s",
       h.rpc_msg);
    mtp_help_getAppConfig_t *ac = MTP_NEW(A, help_getAppConfig);
    hc_call_obj(&h, ac, false, 5000);
    OK(hc_result_id(&h) == MTP_ID_help_appConfig, "help.getAppConfig before login -> help.appConfig");
    char hash[64];
    rc = send_code(&h, "+9996621234", false, hash, sizeof hash);
    OK(hc_is_err(&h, 303, "PHONE_MIGRATE_2"), "auth.sendCode for a DC 2 phone on DC 1 -> %d %s",
       h.rpc_code, h.rpc_msg);
    send_code(&h, "12345", false, hash, sizeof hash);
    OK(hc_is_err(&h, 400, "PHONE_NUMBER_INVALID"), "other numbers -> PHONE_NUMBER_INVALID");
    send_code(&h, "9996651234", false, hash, sizeof hash);
    OK(hc_is_err(&h, 400, "PHONE_NUMBER_INVALID"), "DC 5 does not exist -> PHONE_NUMBER_INVALID");
    hc_close(&h);

    rc = hc_open(&A2, ports[1], MTP_TRANSPORT_INTERMEDIATE, true, pub, 2, NULL, 0);
    OK(rc == 0, "DC 2: key exchange");
    rc = send_code(&A2, "9996621234", true, hash, sizeof hash);
    OK(rc == 0, "auth.sendCode on DC 2 -> auth.sentCode (app, length 5)");
    sign_in(&A2, "9996621234", hash, "11111");
    OK(hc_is_err(&A2, 400, "PHONE_CODE_INVALID"), "wrong code -> PHONE_CODE_INVALID");
    sign_in(&A2, "9996621234", "deadbeef", "22222");
    OK(hc_is_err(&A2, 400, "PHONE_CODE_EXPIRED"), "unknown hash -> PHONE_CODE_EXPIRED");
    sign_in(&A2, "9996621234", hash, "22222");
    mtp_user_t *u = auth_user(&A2);
    OK(u && u->id == 9996621234LL && u->self && u->has_access_hash,
       "code 22222 -> auth.authorization for user 9996621234");
    if (u) {
        userA = *u;
        OK(u->first_name.len == 6 && memcmp(u->first_name.ptr, "User 2", 6) == 0 &&
               u->username.len == 14 && memcmp(u->username.ptr, "user9996621234", 14) == 0,
           "first_name \"User 2\", username user9996621234");
    }
    rc = get_self(&A2, false);
    mtp_tl_object_t *o = hc_result(&A2, A, NULL);
    (void)o;
    OK(rc == 0 && hc_result_id(&A2) == 0x1cb5c415u && A2.res_len > 12 &&
           hc_le32(A2.res + 8) == MTP_ID_user,
       "users.getUsers([inputUserSelf]) after login -> Vector<User>");
    mtp_users_getFullUser_t *fu = MTP_NEW(A, users_getFullUser);
    fu->id = &MTP_NEW(A, inputUserSelf)->_;
    hc_call_obj(&A2, fu, false, 5000);
    OK(hc_result_id(&A2) == MTP_ID_users_userFull, "users.getFullUser(inputUserSelf)");
    mtp_user_t *r = resolve(&A2, "user9996611234");
    OK(r && r->id == 9996611234LL, "contacts.resolveUsername(user9996611234)");
    if (r) {
        idB = r->id;
        hashB = r->access_hash;
    }
    resolve(&A2, "nobody_here");
    OK(hc_is_err(&A2, 400, "USERNAME_NOT_OCCUPIED"), "unknown username -> USERNAME_NOT_OCCUPIED");
    mtp_messages_getAllStickers_t *gs = MTP_NEW(A, messages_getAllStickers);
    hc_call_obj(&A2, gs, false, 5000);
    OK(hc_is_err(&A2, 400, "METHOD_NOT_IMPLEMENTED"),
       "messages.getAllStickers -> 400 METHOD_NOT_IMPLEMENTED");

    rc = login(&B1, "9996611234", 1);
    OK(rc == 0, "user 9996611234 logs in on DC 1 with 11111");

    /* a new number: sign-up */
    hc_t n;
    rc = hc_open(&n, ports[1], MTP_TRANSPORT_PADDED, false, pub, 2, NULL, 0);
    send_code(&n, "9996629001", true, hash, sizeof hash);
    sign_in(&n, "9996629001", hash, "22222");
    OK(hc_result_id(&n) == MTP_ID_auth_authorizationSignUpRequired,
       "new number -> auth.authorizationSignUpRequired");
    mtp_auth_signUp_t *su = MTP_NEW(A, auth_signUp);
    su->phone_number = S("9996629001");
    su->phone_code_hash = S(hash);
    su->first_name = S("Ann");
    su->last_name = S("Example");
    hc_call_obj(&n, su, false, 5000);
    u = auth_user(&n);
    OK(u && u->id == 9996629001LL && u->first_name.len == 3, "auth.signUp -> authorization");
    hc_close(&n);
}

static void test_2fa(void)
{
    mtp_arena_reset(A);
    hc_t h;
    char hash[64];
    int rc = hc_open(&h, ports[1], MTP_TRANSPORT_INTERMEDIATE, false, pub, 2, NULL, 0);
    send_code(&h, "9996621111", true, hash, sizeof hash);
    sign_in(&h, "9996621111", hash, "22222");
    OK(rc == 0 && hc_is_err(&h, 401, "SESSION_PASSWORD_NEEDED"),
       "2FA account: auth.signIn -> 401 SESSION_PASSWORD_NEEDED");
    for (int attempt = 0; attempt < 2; attempt++) {
        mtp_account_getPassword_t *gp = MTP_NEW(A, account_getPassword);
        hc_call_obj(&h, gp, false, 5000);
        mtp_tl_object_t *o = hc_result(&h, A, NULL);
        mtp_account_password_t *p = o && o->tl == &mtp_tlc_account_password ? (void *)o : NULL;
        bool algo_ok = p && p->has_password && p->current_algo &&
                       p->current_algo->tl ==
                           &mtp_tlc_passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow &&
                       p->has_srp_B && p->has_srp_id;
        OK(algo_ok, "account.getPassword -> current_algo SHA256SHA256PBKDF2..ModPow, srp_B, srp_id");
        if (!algo_ok)
            break;
        mtp_passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow_t *al =
            (void *)p->current_algo;
        OK(al->g == 3 && al->p.len == 256 && memcmp(al->p.ptr, mtp_dh_known_prime(), 256) == 0,
           "g = 3, p = the known prime");
        mtp_srp_algo_t sa = { al->salt1.ptr, al->salt1.len, al->salt2.ptr, al->salt2.len, al->g,
                              al->p.ptr, al->p.len };
        const char *pw = attempt == 0 ? "wrong" : "hunter2";
        uint8_t Aa[256], M1[32];
        rc = mtp_srp_client_compute(&sa, (const uint8_t *)pw, strlen(pw), p->srp_B.ptr,
                                    p->srp_B.len, NULL, 0, Aa, M1);
        OK(rc == 0, "client SRP proof computed");
        mtp_auth_checkPassword_t *cp = MTP_NEW(A, auth_checkPassword);
        mtp_inputCheckPasswordSRP_t *in = MTP_NEW(A, inputCheckPasswordSRP);
        in->srp_id = p->srp_id;
        in->A = (mtp_bytes_t){ mtp_arena_memdup(A, Aa, 256), 256 };
        in->M1 = (mtp_bytes_t){ mtp_arena_memdup(A, M1, 32), 32 };
        cp->password = &in->_;
        hc_call_obj(&h, cp, false, 5000);
        if (attempt == 0) {
            OK(hc_is_err(&h, 400, "PASSWORD_HASH_INVALID"), "wrong password -> PASSWORD_HASH_INVALID");
        } else {
            mtp_user_t *u = auth_user(&h);
            OK(u && u->id == 9996621111LL, "right password -> auth.authorization");
        }
    }
    hc_close(&h);
}

static void test_bot(void)
{
    mtp_arena_reset(A);
    const char *token = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1";
    hc_t h;
    int rc = hc_open(&h, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, NULL, 0);
    mtp_auth_importBotAuthorization_t *q = MTP_NEW(A, auth_importBotAuthorization);
    q->api_id = 1;
    q->api_hash = S("x");
    q->bot_auth_token = S(token);
    hc_call_obj(&h, q, true, 5000);
    OK(rc == 0 && hc_is_err(&h, 303, "USER_MIGRATE_2"), "bot login on DC 1 -> 303 USER_MIGRATE_2");
    hc_close(&h);
    rc = hc_open(&h, ports[1], MTP_TRANSPORT_INTERMEDIATE, false, pub, 2, NULL, 0);
    hc_call_obj(&h, q, true, 5000);
    mtp_user_t *u = auth_user(&h);
    OK(rc == 0 && u && u->bot && u->id == 123456, "bot login on DC 2 -> bot user 123456");
    q->bot_auth_token = S("12:short");
    hc_call_obj(&h, q, false, 5000);
    OK(hc_is_err(&h, 400, "ACCESS_TOKEN_INVALID"), "malformed token -> ACCESS_TOKEN_INVALID");
    hc_close(&h);
}

static hc_t A3;                 /* user A's authorization imported on DC 3 */

static void test_export_import(void)
{
    mtp_arena_reset(A);
    mtp_auth_exportAuthorization_t *q = MTP_NEW(A, auth_exportAuthorization);
    q->dc_id = 3;
    hc_call_obj(&A2, q, false, 5000);
    mtp_tl_object_t *o = hc_result(&A2, A, NULL);
    mtp_auth_exportedAuthorization_t *e =
        o && o->tl == &mtp_tlc_auth_exportedAuthorization ? (void *)o : NULL;
    OK(e && e->id == 9996621234LL && e->bytes.len == 32, "auth.exportAuthorization(3)");
    q->dc_id = 2;
    hc_call_obj(&A2, q, false, 5000);
    OK(hc_is_err(&A2, 400, "DC_ID_INVALID"), "export to the own DC -> DC_ID_INVALID");
    if (!e)
        return;
    int rc = hc_open(&A3, ports[2], MTP_TRANSPORT_FULL, false, pub, 3, NULL, 0);
    mtp_auth_importAuthorization_t *im = MTP_NEW(A, auth_importAuthorization);
    im->id = e->id;
    im->bytes = e->bytes;
    hc_call_obj(&A3, im, true, 5000);
    mtp_user_t *u = auth_user(&A3);
    OK(rc == 0 && u && u->id == 9996621234LL, "auth.importAuthorization on DC 3");
    hc_call_obj(&A3, im, false, 5000);
    OK(hc_is_err(&A3, 400, "AUTH_BYTES_INVALID"), "the exported bytes are single-use");
}

static void test_messages(void)
{
    mtp_arena_reset(A);
    send_msg(&A2, peer_user(idB, hashB), "hello B", 42);
    mtp_tl_object_t *o = hc_result(&A2, A, NULL);
    mtp_updateShortSentMessage_t *s1 =
        o && o->tl == &mtp_tlc_updateShortSentMessage ? (void *)o : NULL;
    OK(s1 && s1->out && s1->id >= 1, "messages.sendMessage -> updateShortSentMessage");
    int id1 = s1 ? s1->id : -1;
    send_msg(&A2, peer_user(idB, hashB), "hello B", 42);
    o = hc_result(&A2, A, NULL);
    OK(o && o->tl == &mtp_tlc_updateShortSentMessage &&
           ((mtp_updateShortSentMessage_t *)o)->id == id1,
       "same random_id -> the same message (deduplicated)");
    send_msg(&A2, peer_user(idB, hashB), "second", 43);
    o = hc_result(&A2, A, NULL);
    int id2 = o && o->tl == &mtp_tlc_updateShortSentMessage
                  ? ((mtp_updateShortSentMessage_t *)o)->id : -1;
    OK(id2 == id1 + 1, "second message id %d", id2);
    send_msg(&A2, peer_user(idB, hashB + 1), "x", 44);
    OK(hc_is_err(&A2, 400, "PEER_ID_INVALID"), "wrong access_hash -> PEER_ID_INVALID");
    int ids[10], count = 0;
    history(&A2, peer_user(idB, hashB), 0, 0, 10);
    int n = history_ids(&A2, ids, 10, &count);
    OK(n == 2 && ids[0] == id2 && ids[1] == id1 && count == 2,
       "messages.getHistory: newest first (%d messages)", n);
    history(&A2, peer_user(idB, hashB), 0, 0, 1);
    n = history_ids(&A2, ids, 10, &count);
    OK(n == 1 && ids[0] == id2 && count == 2 &&
           hc_result_id(&A2) == MTP_ID_messages_messagesSlice,
       "limit 1 -> messagesSlice count 2");
    history(&A2, peer_user(idB, hashB), id2, 0, 1);
    n = history_ids(&A2, ids, 10, &count);
    OK(n == 1 && ids[0] == id1, "offset_id pages to older messages");
    history(&A2, peer_user(idB, hashB), id1, -2, 2);
    n = history_ids(&A2, ids, 10, &count);
    OK(n == 2 && ids[0] == id2 && ids[1] == id1,
       "negative add_offset pages to newer messages (offset_id included)");
    /* B sees them */
    history(&B1, peer_user(9996621234LL, userA.access_hash), 0, 0, 10);
    n = history_ids(&B1, ids, 10, &count);
    OK(n == 2, "the receiver has both messages in its box");
    /* the receiver, subscribed to updates, got them pushed */
    mtp_usec_t until = hc_now() + 2 * MTP_USEC_PER_SEC;
    while (B1.updates < 2 && hc_now() < until) {
        hc_step(&B1, 20);
        hc_events(&B1, -1);
    }
    OK(B1.updates == 2, "the receiver got %d updateShortMessage pushes", B1.updates);
    /* gzip both ways: a long compressible text goes out gzip_packed and comes back so */
    char *longtxt = malloc(3001);
    for (int i = 0; i < 3000; i++)
        longtxt[i] = (char)('a' + i % 7);
    longtxt[3000] = 0;
    const mtp_session_stats_t *cst = mtp_session_stats(mtp_conn_session(A2.c));
    uint64_t gz_out0 = cst->gzip_out, gz_in0 = cst->gzip_in;
    send_msg(&A2, peer_self(), longtxt, 46);
    OK(hc_result_id(&A2) == MTP_ID_updateShortSentMessage && cst->gzip_out > gz_out0,
       "a gzip_packed query is accepted");
    history(&A2, peer_self(), 0, 0, 1);
    n = history_ids(&A2, ids, 10, &count);
    OK(n == 1 && cst->gzip_in > gz_in0, "the answer with the long text came gzip_packed");
    free(longtxt);
    /* wrappers */
    mtp_help_getNearestDc_t *nd = MTP_NEW(A, help_getNearestDc);
    mtp_buf_t qb, wb;
    mtp_buf_init(&qb);
    mtp_buf_init(&wb);
    mtp_tl_encode(&nd->_, &qb);
    mtp_wrap_without_updates(qb.data, qb.len, &wb);
    mtp_buf_t ab;
    mtp_buf_init(&ab);
    mtp_wrap_invoke_after(mtp_msg_id_from_time(hc_now()) & ~(int64_t)3, wb.data, wb.len, &ab);
    hc_call(&A2, ab.data, ab.len, 5000);
    OK(hc_result_id(&A2) == MTP_ID_nearestDc, "invokeAfterMsg(invokeWithoutUpdates(...)) unwrapped");
    mtp_buf_free(&qb);
    mtp_buf_free(&wb);
    mtp_buf_free(&ab);
    /* saved messages */
    send_msg(&A2, peer_self(), "note to self", 45);
    history(&A2, peer_self(), 0, 0, 10);
    n = history_ids(&A2, ids, 10, &count);
    OK(n == 2, "Saved Messages via inputPeerSelf");
    mtp_messages_getDialogs_t *gd = MTP_NEW(A, messages_getDialogs);
    gd->offset_peer = &MTP_NEW(A, inputPeerEmpty)->_;
    gd->limit = 20;
    hc_call_obj(&A2, gd, false, 5000);
    o = hc_result(&A2, A, NULL);
    OK(o && o->tl == &mtp_tlc_messages_dialogs && ((mtp_messages_dialogs_t *)o)->dialogs.n == 2,
       "messages.getDialogs -> 2 dialogs");
    /* getPeerDialogs (TDLib loads a private chat with it): Saved Messages, newest on top */
    mtp_messages_getPeerDialogs_t *gp = MTP_NEW(A, messages_getPeerDialogs);
    mtp_inputDialogPeer_t *idp = MTP_NEW(A, inputDialogPeer);
    idp->peer = peer_self();
    mtp_tl_object_t *idps[1] = { &idp->_ };
    gp->peers = (mtp_vec_obj_t){ 1, idps };
    hc_call_obj(&A2, gp, false, 5000);
    o = hc_result(&A2, A, NULL);
    const mtp_messages_peerDialogs_t *pd =
        o && o->tl == &mtp_tlc_messages_peerDialogs ? (const void *)o : NULL;
    const mtp_dialog_t *d0 = pd && pd->dialogs.n == 1 ? (const void *)pd->dialogs.v[0] : NULL;
    OK(d0 && d0->top_message == ids[0] && pd->messages.n == 1 && pd->state,
       "messages.getPeerDialogs(self) -> 1 dialog, top_message %d (want %d), its message, state",
       d0 ? d0->top_message : -1, ids[0]);
    idp->peer = peer_user(idB, hashB + 1);
    hc_call_obj(&A2, gp, false, 5000);
    OK(hc_is_err(&A2, 400, "PEER_ID_INVALID"),
       "messages.getPeerDialogs(wrong access_hash) -> PEER_ID_INVALID");
    mtp_help_getAppConfig_t *ac = MTP_NEW(A, help_getAppConfig);
    hc_call_obj(&A2, ac, false, 5000);
    o = hc_result(&A2, A, NULL);
    int ach = o && o->tl == &mtp_tlc_help_appConfig ? ((mtp_help_appConfig_t *)o)->hash : -1;
    OK(ach != -1 && ((mtp_help_appConfig_t *)o)->config->tl == &mtp_tlc_jsonObject,
       "help.getAppConfig(0) -> help.appConfig with a JSON object, hash %d", ach);
    ac->hash = ach;
    hc_call_obj(&A2, ac, false, 5000);
    OK(hc_result_id(&A2) == MTP_ID_help_appConfigNotModified,
       "help.getAppConfig(its hash) -> not modified");
    mtp_updates_getState_t *gs = MTP_NEW(A, updates_getState);
    hc_call_obj(&B1, gs, false, 5000);
    o = hc_result(&B1, A, NULL);
    int pts = o && o->tl == &mtp_tlc_updates_state ? ((mtp_updates_state_t *)o)->pts : -1;
    OK(pts == 2, "updates.getState of the receiver: pts %d", pts);
    mtp_updates_getDifference_t *df = MTP_NEW(A, updates_getDifference);
    df->pts = 1;
    df->date = 1;
    hc_call_obj(&B1, df, false, 5000);
    o = hc_result(&B1, A, NULL);
    OK(o && o->tl == &mtp_tlc_updates_difference &&
           ((mtp_updates_difference_t *)o)->new_messages.n == 1,
       "updates.getDifference(pts 1) -> 1 new message");
    df->pts = 2;
    hc_call_obj(&B1, df, false, 5000);
    OK(hc_result_id(&B1) == MTP_ID_updates_differenceEmpty, "getDifference at pts -> empty");
}

static mtp_document_t docA;     /* A's big file on DC 2 */
static uint8_t *big_data;
static size_t big_len;

static void test_files(void)
{
    mtp_arena_reset(A);
    /* small API: 3 parts, 4 KiB + 4 KiB + 1000 */
    uint8_t small[9192];
    fill(small, sizeof small, 7);
    int64_t fid = 0x1111;
    bool ok = !save_part(&A2, fid, 0, small, 4096) && !save_part(&A2, fid, 1, small + 4096, 4096) &&
              !save_part(&A2, fid, 2, small + 8192, 1000);
    OK(ok && hc_result_id(&A2) == MTP_ID_boolTrue, "upload.saveFilePart x3 -> boolTrue");
    uint8_t md5[16];
    char hex[33];
    mtp_md5(small, sizeof small, md5);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md5[i]);
    mtp_inputFile_t *f = MTP_NEW(A, inputFile);
    f->id = fid;
    f->parts = 3;
    f->name = S("small.bin");
    f->md5_checksum = S(hex);
    mtp_document_t *d = send_doc(&A2, peer_user(idB, hashB), &f->_, 1001);
    OK(d && d->size == (int64_t)sizeof small && d->dc_id == 2 && d->file_reference.len > 0,
       "messages.sendMedia(inputMediaUploadedDocument) -> document on DC 2, size %lld",
       d ? (long long)d->size : -1LL);
    if (d) {
        mtp_document_t dd = *d;
        get_file(&A2, &dd, 0, 4096, false);
        mtp_bytes_t b = file_bytes(&A2);
        OK(b.len == 4096 && memcmp(b.ptr, small, 4096) == 0, "upload.getFile first 4 KiB");
        get_file(&A2, &dd, 8192, 4096, false);
        b = file_bytes(&A2);
        OK(b.len == 1000 && memcmp(b.ptr, small + 8192, 1000) == 0,
           "upload.getFile last chunk is short (end of file)");
        get_file(&A2, &dd, 0, 1000, false);
        OK(hc_is_err(&A2, 400, "LIMIT_INVALID"), "limit 1000 -> LIMIT_INVALID");
        get_file(&A2, &dd, 100, 4096, false);
        OK(hc_is_err(&A2, 400, "OFFSET_INVALID"), "offset 100 -> OFFSET_INVALID");
        get_file(&A2, &dd, 1048576 - 4096, 8192, false);
        OK(hc_is_err(&A2, 400, "LIMIT_INVALID"), "crossing a 1 MiB boundary -> LIMIT_INVALID");
        get_file(&A2, &dd, 1024, 1024, true);
        b = file_bytes(&A2);
        OK(b.len == 1024 && memcmp(b.ptr, small + 1024, 1024) == 0, "precise 1 KiB read");
    }
    /* wrong md5 */
    save_part(&A2, 0x2222, 0, small, 1000);
    f = MTP_NEW(A, inputFile);
    f->id = 0x2222;
    f->parts = 1;
    f->name = S("x");
    f->md5_checksum = S("00000000000000000000000000000000");
    send_doc(&A2, peer_self(), &f->_, 1002);
    OK(hc_is_err(&A2, 400, "MD5_CHECKSUM_INVALID"), "wrong md5 -> MD5_CHECKSUM_INVALID");
    f->parts = 2;
    f->md5_checksum = S("");
    send_doc(&A2, peer_self(), &f->_, 1003);
    OK(hc_is_err(&A2, 400, "FILE_PART_1_MISSING"), "missing part -> FILE_PART_1_MISSING");

    /* big API: 3 x 512 KiB parts, the last shorter */
    big_len = 2 * 524288 + 12345;
    big_data = malloc(big_len);
    fill(big_data, big_len, 99);
    int64_t bid = 0x3333;
    ok = true;
    for (int p = 0; p < 3 && ok; p++) {
        size_t off = (size_t)p * 524288, n = big_len - off < 524288 ? big_len - off : 524288;
        ok = !save_big_part(&A2, bid, p, 3, big_data + off, n);
    }
    OK(ok, "upload.saveBigFilePart x3");
    save_big_part(&A2, 0x4444, 0, 3, big_data, 1000);
    OK(hc_is_err(&A2, 400, "FILE_PART_SIZE_INVALID"), "big part of 1000 bytes -> FILE_PART_SIZE_INVALID");
    mtp_inputFileBig_t *fb = MTP_NEW(A, inputFileBig);
    fb->id = bid;
    fb->parts = 3;
    fb->name = S("big.bin");
    d = send_doc(&A2, peer_user(idB, hashB), &fb->_, 1004);
    OK(d && d->size == (int64_t)big_len, "sendMedia(inputFileBig) -> document of %zu bytes", big_len);
    if (!d)
        return;
    docA = *d;
    docA.file_reference.ptr = malloc(d->file_reference.len);
    memcpy((void *)docA.file_reference.ptr, d->file_reference.ptr, d->file_reference.len);
    get_file(&A2, &docA, 1048576, 524288, false);
    mtp_bytes_t b = file_bytes(&A2);
    OK(b.len == 12345 && memcmp(b.ptr, big_data + 1048576, 12345) == 0,
       "getFile at 1 MiB across parts");
    get_file(&A2, &docA, 262144, 524288, false);
    b = file_bytes(&A2);
    OK(b.len == 524288 && memcmp(b.ptr, big_data + 262144, 524288) == 0,
       "getFile spanning two uploaded parts");
    /* from DC 3 (imported authorization): FILE_MIGRATE_2 */
    get_file(&A3, &docA, 0, 4096, false);
    OK(hc_is_err(&A3, 303, "FILE_MIGRATE_2"), "getFile on DC 3 -> 303 FILE_MIGRATE_2");
    /* the receiver (home DC 1) downloads with an authorization imported on DC 2 */
    mtp_auth_exportAuthorization_t *ex = MTP_NEW(A, auth_exportAuthorization);
    ex->dc_id = 2;
    hc_call_obj(&B1, ex, false, 5000);
    mtp_tl_object_t *o = hc_result(&B1, A, NULL);
    if (o && o->tl == &mtp_tlc_auth_exportedAuthorization) {
        hc_t h;
        hc_open(&h, ports[1], MTP_TRANSPORT_ABRIDGED, true, pub, 2, NULL, 0);
        mtp_auth_importAuthorization_t *im = MTP_NEW(A, auth_importAuthorization);
        im->id = ((mtp_auth_exportedAuthorization_t *)o)->id;
        im->bytes = ((mtp_auth_exportedAuthorization_t *)o)->bytes;
        hc_call_obj(&h, im, true, 5000);
        get_file(&h, &docA, 0, 1048576, false);
        b = file_bytes(&h);
        OK(b.len == 1048576 && memcmp(b.ptr, big_data, 1048576) == 0,
           "the receiver downloads 1 MiB on DC 2 after importAuthorization");
        hc_close(&h);
    } else {
        OK(0, "export for the receiver");
    }
}

static void test_layers(void)
{
    mtp_arena_reset(A);
    mtp_users_getUsers_t *q = MTP_NEW(A, users_getUsers);
    q->id.n = 1;
    q->id.v = mtp_arena_alloc(A, sizeof(void *));
    q->id.v[0] = &MTP_NEW(A, inputUserSelf)->_;
    mtp_buf_t b;
    mtp_buf_init(&b);
    mtp_tl_encode(&q->_, &b);
    static const struct { int layer; uint32_t user_id; } L[] = {
        { 198, 0x4b46c37eu }, { 227, 0x31774388u }, { 228, 0xb1b8cc83u } };
    for (int i = 0; i < 3; i++) {
        hc_call_init(&A3, L[i].layer, b.data, b.len, 5000);
        OK(hc_result_id(&A3) == 0x1cb5c415u && A3.res_len > 12 &&
               hc_le32(A3.res + 8) == L[i].user_id,
           "invokeWithLayer(%d) + users.getUsers -> user#%08x", L[i].layer, L[i].user_id);
        /* the layer sticks to the key: next call without the wrapper */
        hc_call(&A3, b.data, b.len, 5000);
        OK(A3.res_len > 12 && hc_le32(A3.res + 8) == L[i].user_id,
           "layer %d remembered for the key", L[i].layer);
        if (L[i].layer == 198) {
            mtp_tl_object_t *o = NULL;
            OK(mtp_tl_decode(mtp_tl_layer(198), A3.res + 8, A3.res_len - 8, A, &o) == 0 &&
                   o->tl->id == 0x4b46c37eu,
               "the answer decodes with the layer-198 schema");
        }
    }
    mtp_buf_free(&b);
    /* config in 198 */
    mtp_help_getConfig_t *gc = MTP_NEW(A, help_getConfig);
    mtp_buf_init(&b);
    mtp_tl_encode(&gc->_, &b);
    hc_call_init(&A3, 198, b.data, b.len, 5000);
    mtp_tl_object_t *o = NULL;
    OK(A3.err == 0 && mtp_tl_decode(mtp_tl_layer(198), A3.res, A3.res_len, A, &o) == 0,
       "help.getConfig in layer 198 decodes");
    hc_call_init(&A3, 228, b.data, b.len, 5000);
    mtp_buf_free(&b);
    OK(trace_has("\"event\":\"layer\"") && trace_has("\"layer\":198"), "trace: layer announced");
}

/* Send one encrypted message by hand (msg_id chosen by us) and collect the decrypted
 * plaintexts of what comes back for a while. */
static size_t raw_exchange_seq(uint16_t port, const mtp_auth_key_t *key, int64_t salt,
                               int64_t sid, int64_t msg_id, int32_t seq, const uint8_t *body,
                               size_t len, uint8_t *out, size_t cap)
{
    int fd = hc_tcp(port);
    mtp_transport_t t;
    mtp_transport_init_client(&t, MTP_TRANSPORT_INTERMEDIATE, false, 0, NULL, NULL);
    mtp_buf_t pkt, fr;
    mtp_buf_init(&pkt);
    mtp_buf_init(&fr);
    mtp_envelope_encrypt(key, MTP_ROLE_CLIENT, salt, sid, msg_id, seq, body, len, NULL, &pkt, NULL);
    mtp_transport_frame(&t, pkt.data, pkt.len, 0, &fr);
    hc_write_all(fd, fr.data, fr.len, 2000);
    size_t got = 0;
    double until = tu_now() + 2.0;
    uint8_t buf[65536];
    while (tu_now() < until) {
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        mtp_transport_feed(&t, buf, (size_t)r);
        mtp_transport_event_t ev;
        while (mtp_transport_next(&t, &ev) == 1) {
            if (ev.type != MTP_TRANSPORT_EV_PACKET || ev.len < MTP_ENC_MIN_LEN)
                continue;
            uint8_t *copy = malloc(ev.len);
            memcpy(copy, ev.data, ev.len);
            mtp_envelope_msg_t m;
            if (!mtp_envelope_decrypt(key, MTP_ROLE_CLIENT, copy, ev.len, &m) &&
                got + m.body.len <= cap) {
                memcpy(out + got, m.body.ptr, m.body.len);
                got += m.body.len;
                if (until > tu_now() + 0.3)
                    until = tu_now() + 0.3;   /* a little more (acks, containers), then stop */
            }
            free(copy);
        }
    }
    mtp_transport_free(&t);
    mtp_buf_free(&pkt);
    mtp_buf_free(&fr);
    close(fd);
    return got;
}

static size_t raw_exchange(uint16_t port, const mtp_auth_key_t *key, int64_t salt, int64_t sid,
                           int64_t msg_id, const uint8_t *body, size_t len, uint8_t *out,
                           size_t cap)
{
    return raw_exchange_seq(port, key, salt, sid, msg_id, 1, body, len, out, cap);
}

/* bad_msg_notification(bad_msg_id = id, code) somewhere in the plaintexts? */
static bool has_bad_msg(const uint8_t *p, size_t n, int64_t id, int32_t code)
{
    for (size_t i = 0; i + 20 <= n; i += 4)
        if (hc_le32(p + i) == 0xa7eff811u && memcmp(p + i + 4, &id, 8) == 0 &&
            (int32_t)hc_le32(p + i + 16) == code)
            return true;
    return false;
}

/* rpc_result(req_msg_id = id, result starting with ctor) somewhere in the plaintexts? */
static bool has_result(const uint8_t *p, size_t n, int64_t id, uint32_t ctor)
{
    uint8_t pat[16];
    mtp_tl_write_int(pat, (int32_t)0xf35c6d01u);
    mtp_tl_write_long(pat + 4, id);
    mtp_tl_write_int(pat + 12, (int32_t)ctor);
    for (size_t i = 0; i + 16 <= n; i += 4)
        if (memcmp(p + i, pat, 16) == 0)
            return true;
    return false;
}

static void test_errors(void)
{
    mtp_arena_reset(A);
    /* undecodable TL inside a valid envelope */
    uint8_t junk[12] = { 0xef, 0xbe, 0xad, 0xde, 1, 2, 3, 4, 5, 6, 7, 8 };
    hc_call(&A2, junk, sizeof junk, 5000);
    OK(hc_is_err(&A2, 400, "INPUT_METHOD_INVALID_3735928559"), "unknown method id -> 400 %s",
       A2.rpc_msg);
    /* a known method with a truncated body */
    uint8_t trunc[8] = { 0x6b, 0x18, 0xf9, 0xc4, 0, 0, 0, 0 };   /* help.getConfig + junk */
    hc_call(&A2, trunc, sizeof trunc, 5000);
    OK(A2.err == MTP_ERPC && A2.rpc_code == 400, "trailing bytes -> 400 %s", A2.rpc_msg);
    get_self(&A2, false);
    OK(hc_result_id(&A2) == 0x1cb5c415u, "the connection keeps working");
    OK(trace_has("\"_\":\"undecodable\""), "trace: undecodable query recorded");

    /* unknown auth_key_id -> -404 */
    mtp_auth_key_t fake;
    uint8_t kb[256];
    fill(kb, sizeof kb, 1234);
    mtp_auth_key_init(&fake, kb);
    hc_t h;
    hc_open(&h, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 1, &fake, 1);
    get_self(&h, true);
    OK(h.transport_error == -404, "unknown auth_key_id -> transport error -404 (%d)",
       h.transport_error);
    hc_close(&h);
    OK(trace_has("\"code\":-404"), "trace: -404 recorded");

    /* a wrong salt: bad_server_salt with the right one, the client re-sends */
    hc_open(&h, ports[1], MTP_TRANSPORT_INTERMEDIATE, false, pub, 2, &A2.key, A2.salt ^ 0x55);
    get_self(&h, false);
    OK(hc_result_id(&h) == 0x1cb5c415u, "wrong salt -> bad_server_salt, re-sent, answered");
    hc_close(&h);
    OK(trace_has("\"last_code\":48,\"why\":\"bad server salt\""),
       "trace: bad_server_salt recorded");
    /* service-layer violations answered with bad_msg_notification */
    {
        uint8_t body[4] = { 0x6b, 0x18, 0xf9, 0xc4 };   /* help.getConfig */
        uint8_t *out = malloc(1 << 16);
        int64_t now_id = mtp_msg_id_from_time(hc_now()) & ~(int64_t)3;
        size_t n = raw_exchange_seq(ports[1], &A2.key, A2.salt, 0x6161, now_id | 1, 1, body, 4,
                                    out, 1 << 16);
        OK(has_bad_msg(out, n, now_id | 1, 18), "msg_id not divisible by 4 -> bad_msg 18");
        int64_t old = mtp_msg_id_from_time(hc_now() - 400 * MTP_USEC_PER_SEC) & ~(int64_t)3;
        n = raw_exchange_seq(ports[1], &A2.key, A2.salt, 0x6162, old, 1, body, 4, out, 1 << 16);
        OK(has_bad_msg(out, n, old, 16), "msg_id 400 s in the past -> bad_msg 16");
        int64_t fut = mtp_msg_id_from_time(hc_now() + 60 * MTP_USEC_PER_SEC) & ~(int64_t)3;
        n = raw_exchange_seq(ports[1], &A2.key, A2.salt, 0x6163, fut, 1, body, 4, out, 1 << 16);
        OK(has_bad_msg(out, n, fut, 17), "msg_id 60 s in the future -> bad_msg 17");
        now_id = mtp_msg_id_from_time(hc_now()) & ~(int64_t)3;
        n = raw_exchange_seq(ports[1], &A2.key, A2.salt, 0x6164, now_id, 2, body, 4, out, 1 << 16);
        OK(has_bad_msg(out, n, now_id, 35), "a query with an even seq_no -> bad_msg 35");
        free(out);
        OK(trace_has("\"last_code\":18,") && trace_has("\"last_code\":35,"),
           "trace: the notifications are recorded with their codes");
    }
    /* key exchange naming another DC -> -444 */
    int rc = hc_open(&h, ports[0], MTP_TRANSPORT_INTERMEDIATE, false, pub, 2, NULL, 0);
    OK(rc != 0 && h.transport_error == -444, "p_q_inner_data_dc with DC 2 on DC 1 -> -444 (%d)",
       h.transport_error);
    hc_close(&h);

    /* faults */
    mtp_server_fault_rpc(srv, "help.getNearestDc", 1, 420, "FLOOD_WAIT_3");
    mtp_help_getNearestDc_t *nd = MTP_NEW(A, help_getNearestDc);
    hc_call_obj(&A2, nd, false, 5000);
    OK(hc_is_err(&A2, 420, "FLOOD_WAIT_3"), "fault: 420 FLOOD_WAIT_3");
    hc_call_obj(&A2, nd, false, 5000);
    OK(hc_result_id(&A2) == MTP_ID_nearestDc, "the next call succeeds (count 1)");
    mtp_server_fault_rpc(srv, "*", 1, 500, "INTERNAL");
    hc_call_obj(&A2, nd, false, 5000);
    OK(hc_is_err(&A2, 500, "INTERNAL"), "fault on any method: 500 INTERNAL");
    mtp_server_fault_delay(srv, "help.getNearestDc", 1, 300 * 1000);
    double t0 = tu_now();
    hc_call_obj(&A2, nd, false, 5000);
    double dt = tu_now() - t0;
    OK(hc_result_id(&A2) == MTP_ID_nearestDc && dt >= 0.28, "fault: answer delayed %.3f s", dt);
    OK(trace_has("\"fault\":\"delay\""), "trace: fault recorded");

    /* drop after N bytes: a reconnect in the middle of a download, with the same session */
    if (docA.id) {
        mtp_server_fault_drop(srv, 2, 300000, 1);
        get_file(&A2, &docA, 0, 524288, false);
        OK(A2.err == MTP_ECLOSED || A2.eof, "fault: the connection is cut mid-answer");
        mtp_session_t *s = mtp_conn_take_session(A2.c);
        mtp_auth_key_t k = A2.key;
        int64_t salt = mtp_session_salt(s, hc_now());
        hc_close(&A2);
        /* reconnect with the same key and session: the retained answer is re-sent */
        memset(&A2, 0, sizeof A2);
        A2.fd = hc_tcp(ports[1]);
        mtp_conn_config_t cfg;
        mtp_conn_config_init(&cfg, MTP_ROLE_CLIENT);
        cfg.auth_key = &k;
        cfg.client_session = s;
        cfg.session.server_salt = salt;
        (void)mtp_conn_new(&cfg, hc_now(), &A2.c);
        A2.key = k;
        A2.has_key = true;
        get_file(&A2, &docA, 524288, 524288, false);
        mtp_bytes_t b = file_bytes(&A2);
        OK(b.len == 524288 && memcmp(b.ptr, big_data + 524288, 524288) == 0,
           "after reconnecting, the download continues");
        /* the session is the caller's: keep it for cleanup */
        hc_close(&A2);
        mtp_session_free(s);
        hc_open(&A2, ports[1], MTP_TRANSPORT_INTERMEDIATE, false, pub, 2, &k, salt);
        get_self(&A2, false);
        OK(hc_result_id(&A2) == 0x1cb5c415u, "same key, new connection works");
    }
}

static void test_bind_temp(void)
{
    mtp_arena_reset(A);
    hc_t t;
    int rc = hc_open2(&t, ports[1], MTP_TRANSPORT_INTERMEDIATE, false, pub, 2, NULL, 0, true, 3600);
    OK(rc == 0, "temporary key exchange (p_q_inner_data_temp_dc) on DC 2");
    if (rc) {
        hc_close(&t);
        return;
    }
    get_self(&t, true);
    OK(hc_is_err(&t, 401, "AUTH_KEY_PERM_EMPTY"), "unbound temp key -> 401 AUTH_KEY_PERM_EMPTY");
    call_config(&t, false);
    OK(hc_result_id(&t) == MTP_ID_config, "help.getConfig works on an unbound temp key");
    mtp_auth_key_t temp = t.key;
    int64_t salt = t.salt;
    hc_close(&t);

    uint8_t *out = malloc(1 << 16);
    for (int pass = 0; pass < 2; pass++) {
        int64_t sid = 0x5151 + pass;
        int64_t msg_id = mtp_msg_id_from_time(hc_now()) & ~(int64_t)3;
        int32_t expires_at = (int32_t)(hc_now() / MTP_USEC_PER_SEC) + 3600;
        mtp_bind_inner_t in = { 0x7777, temp.id64, A2.key.id64, sid, expires_at, msg_id };
        mtp_buf_t enc, body;
        mtp_buf_init(&enc);
        mtp_buf_init(&body);
        mtp_bind_inner_encrypt(&A2.key, &in, NULL, &enc);
        mtp_auth_bindTempAuthKey_t *q = MTP_NEW(A, auth_bindTempAuthKey);
        q->perm_auth_key_id = A2.key.id64;
        q->nonce = pass == 0 ? 0x7778 : 0x7777;   /* first: a nonce that does not match */
        q->expires_at = expires_at;
        q->encrypted_message = (mtp_bytes_t){ enc.data, enc.len };
        mtp_tl_encode(&q->_, &body);
        size_t n = raw_exchange(ports[1], &temp, salt, sid, msg_id, body.data, body.len, out,
                                1 << 16);
        if (pass == 0)
            OK(has_result(out, n, msg_id, 0x2144ca19u),
               "bind with a mismatched nonce -> rpc_error (ENCRYPTED_MESSAGE_INVALID)");
        else
            OK(has_result(out, n, msg_id, MTP_ID_boolTrue),
               "auth.bindTempAuthKey with the MTProto 1.0 inner message -> boolTrue");
        mtp_buf_free(&enc);
        mtp_buf_free(&body);
    }
    free(out);
    OK(trace_has("\"event\":\"bind_temp_key\""), "trace: binding recorded");
    rc = hc_open(&t, ports[1], MTP_TRANSPORT_ABRIDGED, false, pub, 2, &temp, salt);
    get_self(&t, true);
    OK(rc == 0 && hc_result_id(&t) == 0x1cb5c415u && t.res_len > 12 &&
           hc_le32(t.res + 8) == MTP_ID_user,
       "the bound temp key acts with the permanent key's authorization");
    hc_close(&t);
}

static void test_trace_has_no_keys(void)
{
    /* the auth key bytes of A2 as hex must not appear anywhere in the trace */
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", A2.key.key[i]);
    OK(!trace_has(hex), "trace: no auth key material");
    OK(trace_has("\"dir\":\"in\"") && trace_has("\"dir\":\"out\"") &&
           trace_has("\"_\":\"help.getConfig\"") && trace_has("\"event\":\"key\""),
       "trace: messages both ways and key events");
}

/* The "out" line answering the last traced query `method` contains `want` right after its
 * "req_msg_id":"<msg_id of that query>" (the decoded rpc_result)? */
static bool trace_answer_has(const char *method, const char *want)
{
    char key[160], id[32] = "", *at = NULL;
    snprintf(key, sizeof key, "\"body\":{\"_\":\"%s\"", method);
    pthread_mutex_lock(&tmu);
    for (char *p = trace; p && (p = strstr(p, key)) != NULL; p++)
        at = p;
    if (at) {
        char *ls = at;
        while (ls > trace && ls[-1] != '\n')
            ls--;
        char *m = strstr(ls, "\"msg_id\":\"");
        if (m && m < at)
            sscanf(m + 10, "%31[0-9-]", id);
    }
    snprintf(key, sizeof key, "\"req_msg_id\":\"%s\",\"result\":%s", id, want);
    bool r = id[0] && strstr(trace, key) != NULL;
    pthread_mutex_unlock(&tmu);
    return r;
}

static void test_trace_decodes_results(void)
{
    OK(get_self(&A2, false) == 0 && trace_answer_has("users.getUsers", "[{\"_\":\"user\","),
       "trace: the users.getUsers answer is decoded as Vector<User> ([{\"_\":\"user\",...}])");
    mtp_messages_receivedQueue_t *q = MTP_NEW(A, messages_receivedQueue);
    q->max_qts = 1;
    hc_call_obj(&A2, q, false, 5000);
    OK(hc_result_id(&A2) == 0x1cb5c415u && A2.res_len == 8 &&
           trace_answer_has("messages.receivedQueue", "[]}"),
       "trace: the messages.receivedQueue answer is decoded as Vector<long> ([])");
    OK(!trace_has("\"undecodable\",\"id\":\"f35c6d01\""),
       "trace: no rpc_result is undecodable");
}

/* The fault table is bounded: a rule beyond it is MTP_EFULL (not MTP_ENOMEM). */
static void test_fault_table_full(void)
{
    char m[32];
    int added = 0, rc = 0;
    while (added < 64 && rc == 0) {
        snprintf(m, sizeof m, "nosuch.method%d", added);
        rc = mtp_server_fault_rpc(srv, m, 1, 500, "X");
        if (rc == 0)
            added++;
    }
    OK(rc == MTP_EFULL && added > 0 && added <= 32, "fault rule %d -> MTP_EFULL", added + 1);
    for (int i = 0; i < added; i++) {
        snprintf(m, sizeof m, "nosuch.method%d", i);
        mtp_server_fault_rpc(srv, m, 0, 0, "");
    }
    OK(mtp_server_fault_rpc(srv, "nosuch.method0", 1, 500, "X") == 0 &&
           mtp_server_fault_rpc(srv, "nosuch.method0", 0, 0, "") == 0,
       "room again once the rules are removed");
}

/* ---- --state persistence across a restart ---- */

static void test_state(void)
{
    char dir[] = "/tmp/mtp-harness-state-XXXXXX";
    if (!mkdtemp(dir)) {
        OK(0, "mkdtemp");
        return;
    }
    mtp_server_config_t cfg;
    mtp_server_config_init(&cfg);
    cfg.n_dcs = 2;
    cfg.state_dir = dir;
    mtp_server_t *s1 = NULL;
    OK(mtp_server_new(&cfg, &s1) == 0 && mtp_server_start_thread(s1) == 0,
       "state server started");
    if (!s1)
        return;
    uint16_t p1[2];
    mtp_server_ports(s1, p1, 2);
    mtp_rsa_key_t *k1 = NULL;
    const char *pem = mtp_server_public_pem(s1);
    mtp_rsa_load_public_pem(pem, strlen(pem), &k1);
    int64_t fp1 = mtp_server_fingerprint(s1);
    hc_t h;
    int rc = hc_open(&h, p1[0], MTP_TRANSPORT_INTERMEDIATE, false, k1, 1, NULL, 0);
    char hash[64];
    send_code(&h, "9996615555", true, hash, sizeof hash);
    sign_in(&h, "9996615555", hash, "11111");
    OK(rc == 0 && auth_user(&h), "logged in on the state server");
    send_msg(&h, peer_self(), "persist me", 7);
    OK(hc_result_id(&h) == MTP_ID_updateShortSentMessage, "message sent");
    uint8_t fdata[6000];
    fill(fdata, sizeof fdata, 5);
    save_part(&h, 0x99, 0, fdata, 4096);
    save_part(&h, 0x99, 1, fdata + 4096, sizeof fdata - 4096);
    mtp_inputFile_t *inf = MTP_NEW(A, inputFile);
    inf->id = 0x99;
    inf->parts = 2;
    inf->name = S("kept.bin");
    mtp_document_t *dp = send_doc(&h, peer_self(), &inf->_, 8);
    mtp_document_t doc;
    memset(&doc, 0, sizeof doc);
    uint8_t ref[64];
    if (dp && dp->file_reference.len <= sizeof ref) {
        doc = *dp;
        memcpy(ref, dp->file_reference.ptr, dp->file_reference.len);
        doc.file_reference.ptr = ref;
    }
    OK(dp != NULL, "a document stored on the state server");
    mtp_auth_key_t key = h.key;
    int64_t salt = h.salt;
    hc_close(&h);
    mtp_server_stop(s1);
    mtp_server_free(s1);
    struct stat sb;
    char path[256];
    snprintf(path, sizeof path, "%s/keys", dir);
    OK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "state file keys, mode 0600");

    mtp_server_t *s2 = NULL;
    OK(mtp_server_new(&cfg, &s2) == 0 && mtp_server_start_thread(s2) == 0,
       "restarted on the same state");
    if (!s2) {
        mtp_rsa_free(k1);
        return;
    }
    OK(mtp_server_fingerprint(s2) == fp1, "the generated RSA key was kept");
    uint16_t p2[2];
    mtp_server_ports(s2, p2, 2);
    rc = hc_open(&h, p2[0], MTP_TRANSPORT_ABRIDGED, false, k1, 1, &key, salt);
    get_self(&h, true);
    OK(rc == 0 && hc_result_id(&h) == 0x1cb5c415u && h.res_len > 12 &&
           hc_le32(h.res + 8) == MTP_ID_user,
       "the same auth key works after the restart and is still logged in");
    mtp_arena_reset(A);
    int ids[4], count = 0;
    history(&h, peer_self(), 0, 0, 10);
    int n = history_ids(&h, ids, 4, &count);
    OK(n == 2, "the messages are still there");
    if (doc.id) {
        get_file(&h, &doc, 4096, 4096, false);
        mtp_bytes_t b = file_bytes(&h);
        OK(b.len == sizeof fdata - 4096 && memcmp(b.ptr, fdata + 4096, b.len) == 0,
           "the document's bytes are still there (file in the state directory)");
    }
    hc_close(&h);
    mtp_server_stop(s2);
    mtp_server_free(s2);
    mtp_rsa_free(k1);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
}

/* ---- the constructor: versioned config, errors as codes, the reason to the log ---- */

static char log_line[512];
static int log_lines;

static void on_log(void *user, mtp_log_level_t level, const char *line)
{
    (void)user;
    if (level == MTP_LOG_ERROR)
        snprintf(log_line, sizeof log_line, "%s", line);
    log_lines++;
}

static void test_constructor(const mtp_server_config_t *good)
{
    mtp_server_config_t cfg;
    OK(mtp_server_config_init_versioned(MTP_SERVER_CONFIG_VERSION + 1, &cfg) == MTP_EVERSION,
       "config_init of an unknown version -> MTP_EVERSION");
    mtp_server_t *s = (mtp_server_t *)&cfg;
    cfg = *good;
    cfg.version = 0;
    cfg.log = on_log;
    OK(mtp_server_new(&cfg, &s) == MTP_EVERSION && !s && log_lines == 1 &&
           strstr(log_line, "version"),
       "a config not made by config_init -> MTP_EVERSION, *out NULL, logged: %s", log_line);
    cfg = *good;
    cfg.n_dcs = MTP_SERVER_MAX_DCS + 1;
    cfg.log = on_log;
    s = (mtp_server_t *)&cfg;
    OK(mtp_server_new(&cfg, &s) == MTP_EINVAL && !s && log_lines == 2 &&
           strstr(log_line, "number of DCs"),
       "n_dcs 17 -> MTP_EINVAL, logged: %s", log_line);
    cfg.log_level = MTP_LOG_ERROR;
    cfg.log = NULL;
    OK(mtp_server_new(&cfg, &s) == MTP_EINVAL && log_lines == 2, "no log callback: no line");
    OK(mtp_server_new(good, NULL) == MTP_EINVAL, "out NULL -> MTP_EINVAL");
}

int main(void)
{
    A = mtp_arena_new(0);
    mtp_server_config_t cfg;
    mtp_server_config_init(&cfg);
    static const mtp_server_password_t pw[] = { { "9996621111", "hunter2" } };
    cfg.passwords = pw;
    cfg.n_passwords = 1;
    cfg.trace_cb = on_trace;
    cfg.has_seed = true;
    cfg.seed = 42;
    test_constructor(&cfg);
    cfg.log = on_log;
    if (mtp_server_new(&cfg, &srv))
        tap_bail("mtp_server_new: %s", log_line);
    if (mtp_server_start_thread(srv))
        tap_bail("cannot start the server");
    OK(mtp_server_ports(srv, ports, 3) == 3 && ports[0] && ports[1] && ports[2],
       "3 DCs on ports %u %u %u", ports[0], ports[1], ports[2]);
    const char *pem = mtp_server_public_pem(srv);
    OK(pem && mtp_rsa_load_public_pem(pem, strlen(pem), &pub) == 0 &&
           mtp_rsa_fingerprint(pub) == mtp_server_fingerprint(srv),
       "public PEM matches the fingerprint");
    char ready[1024];
    mtp_server_ready_json(srv, ready, sizeof ready);
    OK(strncmp(ready, "{\"event\":\"ready\",\"dcs\":[{\"id\":1,\"host\":\"127.0.0.1\",\"port\":", 58) == 0,
       "ready line: %s", ready);

    test_transports();
    test_login();
    test_2fa();
    test_bot();
    test_export_import();
    test_messages();
    test_files();
    test_layers();
    test_errors();
    test_bind_temp();
    test_trace_has_no_keys();
    test_trace_decodes_results();
    test_fault_table_full();

    hc_close(&A2);
    hc_close(&A3);
    hc_close(&B1);
    mtp_server_stats_t st;
    mtp_server_stats(srv, &st);
    OK(st.key_exchanges > 10 && st.queries > 50 && st.rpc_errors > 10,
       "stats: %" PRIu64 " keys made, %" PRIu64 " queries, %" PRIu64 " rpc errors",
       st.key_exchanges, st.queries, st.rpc_errors);
    mtp_server_stop(srv);
    mtp_server_free(srv);
    mtp_rsa_free(pub);

    test_state();

    const char *dump = getenv("MTP_HARNESS_TRACE_OUT");   /* debugging aid */
    if (dump && trace) {
        FILE *f = fopen(dump, "w");
        if (f) {
            fwrite(trace, 1, trace_len, f);
            fclose(f);
        }
    }
    free(big_data);
    free((void *)docA.file_reference.ptr);
    mtp_arena_free(A);
    free(trace);
    return tap_done();
}
