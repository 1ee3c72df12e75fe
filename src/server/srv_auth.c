/*
 * libmtproto harness — help.* and auth.*: what a client asks before and while it logs in
 * (config, nearest DC, login codes, sign in / sign up, 2FA with SRP, bots, export / import
 * of an authorization to another DC, log out, binding a temporary key).
 */
#include "srv_api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* authorization                                                                        */
/* ------------------------------------------------------------------------------------ */

static void authorize(srv_req_t *r, srv_user_t *u)
{
    srv_key_t *p = srv_key_perm(r->srv, r->key);
    if (!p)
        return;
    p->user_id = u->id;
    r->key->pw_user = 0;
    r->key->srp_valid = false;
    r->srv->dirty_keys = true;
    mtp_buf_t *b = srv_trace_begin(r->srv, "authorized", r->sc);
    if (b) {
        mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"user_id\":\"%" PRId64 "\",\"bot\":%s",
                       p->id, u->id, u->bot ? "true" : "false");
        srv_trace_end(r->srv);
    }
}

/* ------------------------------------------------------------------------------------ */
/* help.*                                                                               */
/* ------------------------------------------------------------------------------------ */

static void h_getConfig(srv_req_t *r, const void *q)
{
    (void)q;
    srv_t *srv = r->srv;
    mtp_config_t *c = MTP_NEW(r->arena, config);
    if (!c || !vec_new(r->arena, &c->dc_options, (size_t)srv->n_dcs)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    int32_t now = srv_unixtime();
    c->date = now;
    c->expires = now + 3600;
    c->test_mode = false;
    c->this_dc = r->dc;
    for (int i = 0; i < srv->n_dcs; i++) {
        mtp_dcOption_t *d = MTP_NEW(r->arena, dcOption);
        if (!d)
            continue;
        d->id = srv->dcs[i].id;
        d->ip_address = cs(srv->adv_host);
        d->port = srv->dcs[i].port;
        vec_push(&c->dc_options, d);
    }
    c->dc_txt_domain_name = cs("apv3.stel.com");
    c->chat_size_max = 200;
    c->megagroup_size_max = 200000;
    c->forwarded_count_max = 100;
    c->online_update_period_ms = 210000;
    c->offline_blur_timeout_ms = 5000;
    c->offline_idle_timeout_ms = 30000;
    c->online_cloud_timeout_ms = 300000;
    c->notify_cloud_delay_ms = 30000;
    c->notify_default_delay_ms = 1500;
    c->push_chat_period_ms = 60000;
    c->push_chat_limit = 2;
    c->edit_time_limit = 172800;
    c->revoke_time_limit = 2147483647;
    c->revoke_pm_time_limit = 2147483647;
    c->rating_e_decay = 2419200;
    c->stickers_recent_limit = 200;
    c->channels_read_media_period = 604800;
    c->has_tmp_sessions = false;
    c->call_receive_timeout_ms = 20000;
    c->call_ring_timeout_ms = 90000;
    c->call_connect_timeout_ms = 30000;
    c->call_packet_timeout_ms = 10000;
    c->me_url_prefix = cs("https://t.me/");
    c->caption_length_max = 1024;
    c->message_length_max = MSG_MAX;
    c->webfile_dc_id = srv->n_dcs >= 4 ? 4 : 1;
    c->has_suggested_lang_code = true;
    c->suggested_lang_code = cs("en");
    c->has_lang_pack_version = true;
    c->lang_pack_version = 1;
    c->has_base_lang_pack_version = true;
    c->base_lang_pack_version = 1;
    reply_obj(r, &c->_);
}

/* help.getAppConfig: an empty JSON object under hash 1 (appConfigNotModified when the
 * client already has hash 1); every client asks for it at start-up. */
static void h_getAppConfig(srv_req_t *r, const void *qv)
{
    const mtp_help_getAppConfig_t *q = qv;
    if (q->hash == 1) {
        reply_obj(r, (mtp_tl_object_t *)MTP_NEW(r->arena, help_appConfigNotModified));
        return;
    }
    mtp_help_appConfig_t *o = MTP_NEW(r->arena, help_appConfig);
    mtp_jsonObject_t *j = MTP_NEW(r->arena, jsonObject);
    if (!o || !j) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->hash = 1;
    o->config = &j->_;
    reply_obj(r, &o->_);
}

static void h_getNearestDc(srv_req_t *r, const void *q)
{
    (void)q;
    mtp_nearestDc_t *n = MTP_NEW(r->arena, nearestDc);
    if (!n) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    n->country = cs("NL");
    n->this_dc = r->dc;
    n->nearest_dc = r->dc;
    reply_obj(r, &n->_);
}

static void h_getCdnConfig(srv_req_t *r, const void *q)
{
    (void)q;
    mtp_cdnConfig_t *c = MTP_NEW(r->arena, cdnConfig);   /* no CDN DCs here */
    if (c)
        reply_obj(r, &c->_);
    else
        reply_err(r, 500, "INTERNAL");
}

/* ------------------------------------------------------------------------------------ */
/* auth.*                                                                               */
/* ------------------------------------------------------------------------------------ */

#define SRV_TOS_ID "{\"id\":\"harness-tos-1\"}"
#define SRV_TOS_TEXT "The harness's terms of service: a test server on loopback."

/* Phone checks shared by sendCode / signIn / signUp: the user or NULL (answered). */
static srv_user_t *check_phone(srv_req_t *r, mtp_bytes_t phone, char digits[24])
{
    if (!srv_phone_norm(phone.ptr, phone.len, digits)) {
        reply_err(r, 400, "PHONE_NUMBER_INVALID");
        return NULL;
    }
    int dc = srv_phone_dc(r->srv, digits, NULL);
    if (!dc) {
        reply_err(r, 400, "PHONE_NUMBER_INVALID");
        return NULL;
    }
    if (dc != r->dc) {
        reply_errf(r, 303, "PHONE_MIGRATE_%lld", dc);
        return NULL;
    }
    srv_user_t *u = srv_user_by_phone(r->srv, digits);
    if (!u)
        reply_err(r, 500, "INTERNAL");
    return u;
}

static void h_sendCode(srv_req_t *r, const void *qv)
{
    const mtp_auth_sendCode_t *q = qv;
    char d[24];
    srv_user_t *u = check_phone(r, q->phone_number, d);
    if (!u)
        return;
    srv_code_t *c = srv_code_new(r->srv, d);
    mtp_auth_sentCode_t *s = MTP_NEW(r->arena, auth_sentCode);
    mtp_auth_sentCodeTypeApp_t *t = MTP_NEW(r->arena, auth_sentCodeTypeApp);
    if (!c || !s || !t) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    t->length = 5;
    s->type = &t->_;
    s->phone_code_hash = cs(mtp_arena_memdup(r->arena, c->hash, strlen(c->hash) + 1));
    reply_obj(r, &s->_);
}

/* The pending code of a phone, checked against hash (and code unless NULL). */
static srv_code_t *check_code(srv_req_t *r, const char *d, mtp_bytes_t hash, bool has_code,
                              mtp_bytes_t code)
{
    if (!hash.len) {
        reply_err(r, 400, "PHONE_CODE_HASH_EMPTY");
        return NULL;
    }
    srv_code_t *c = srv_code_find(r->srv, d);
    if (!c || !bytes_eq(hash, c->hash) || c->expires < r->now) {
        if (c && bytes_eq(hash, c->hash))
            srv_code_del(r->srv, c);
        reply_err(r, 400, "PHONE_CODE_EXPIRED");
        return NULL;
    }
    if (has_code) {
        if (!code.len) {
            reply_err(r, 400, "PHONE_CODE_EMPTY");
            return NULL;
        }
        char want[6];
        memset(want, d[5], 5);
        want[5] = 0;
        if (!bytes_eq(code, want)) {
            reply_err(r, 400, "PHONE_CODE_INVALID");
            return NULL;
        }
    }
    return c;
}

static void h_signIn(srv_req_t *r, const void *qv)
{
    const mtp_auth_signIn_t *q = qv;
    char d[24];
    srv_user_t *u = check_phone(r, q->phone_number, d);
    if (!u)
        return;
    if (!q->has_phone_code || !q->phone_code.len) {
        reply_err(r, 400, "PHONE_CODE_EMPTY");
        return;
    }
    srv_code_t *c = check_code(r, d, q->phone_code_hash, true, q->phone_code);
    if (!c)
        return;
    if (!u->registered) {
        mtp_auth_authorizationSignUpRequired_t *s =
            MTP_NEW(r->arena, auth_authorizationSignUpRequired);
        mtp_help_termsOfService_t *t = MTP_NEW(r->arena, help_termsOfService);
        mtp_dataJSON_t *id = MTP_NEW(r->arena, dataJSON);
        if (s && t && id) {   /* the terms of service, accepted with help.acceptTermsOfService */
            id->data = cs(SRV_TOS_ID);
            t->id = &id->_;
            t->text = cs(SRV_TOS_TEXT);
            s->terms_of_service = &t->_;
        }
        if (s)
            reply_obj(r, &s->_);
        else
            reply_err(r, 500, "INTERNAL");
        return;   /* the code stays valid for auth.signUp */
    }
    srv_code_del(r->srv, c);
    if (u->has_password) {
        r->key->pw_user = u->id;
        r->key->srp_valid = false;
        reply_err(r, 401, "SESSION_PASSWORD_NEEDED");
        return;
    }
    authorize(r, u);
    reply_obj(r, auth_obj(r, u));
}

static void h_signUp(srv_req_t *r, const void *qv)
{
    const mtp_auth_signUp_t *q = qv;
    char d[24];
    srv_user_t *u = check_phone(r, q->phone_number, d);
    if (!u)
        return;
    srv_code_t *c = check_code(r, d, q->phone_code_hash, false, q->phone_code_hash);
    if (!c)
        return;
    if (u->registered) {
        reply_err(r, 400, "PHONE_NUMBER_OCCUPIED");
        return;
    }
    if (!q->first_name.len || q->first_name.len > 64) {
        reply_err(r, 400, "FIRSTNAME_INVALID");
        return;
    }
    if (q->last_name.len > 64) {
        reply_err(r, 400, "LASTNAME_INVALID");
        return;
    }
    srv_code_del(r->srv, c);
    srv_user_set_names(u, q->first_name.ptr, q->first_name.len, q->last_name.ptr,
                       q->last_name.len);
    u->registered = true;
    r->srv->dirty_users = true;
    authorize(r, u);
    reply_obj(r, auth_obj(r, u));
}

static mtp_tl_object_t *srp_algo(srv_req_t *r, const uint8_t *s1, size_t l1, const uint8_t *s2,
                                 size_t l2)
{
    mtp_passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow_t *a =
        MTP_NEW(r->arena, passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow);
    if (!a)
        return NULL;
    a->salt1 = (mtp_bytes_t){ mtp_arena_memdup(r->arena, s1, l1), l1 };
    a->salt2 = (mtp_bytes_t){ mtp_arena_memdup(r->arena, s2, l2), l2 };
    a->g = 3;
    a->p = (mtp_bytes_t){ mtp_dh_known_prime(), 256 };
    return &a->_;
}

static srv_user_t *password_user(srv_req_t *r)
{
    int64_t uid = r->key->pw_user ? r->key->pw_user : me_id(r);
    return uid ? srv_user_find(r->srv, uid) : NULL;
}

static void h_getPassword(srv_req_t *r, const void *q)
{
    (void)q;
    srv_user_t *u = password_user(r);
    if (!u) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    mtp_account_password_t *p = MTP_NEW(r->arena, account_password);
    mtp_securePasswordKdfAlgoSHA512_t *sec = MTP_NEW(r->arena, securePasswordKdfAlgoSHA512);
    uint8_t ns1[8], ns2[16], ssalt[8], *srand = mtp_arena_alloc(r->arena, 32);
    if (!p || !sec || !srand) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    srv_rand(r->srv, ns1, sizeof ns1);
    srv_rand(r->srv, ns2, sizeof ns2);
    srv_rand(r->srv, ssalt, sizeof ssalt);
    srv_rand(r->srv, srand, 32);
    p->new_algo = srp_algo(r, ns1, sizeof ns1, ns2, sizeof ns2);
    sec->salt = (mtp_bytes_t){ mtp_arena_memdup(r->arena, ssalt, 8), 8 };
    p->new_secure_algo = &sec->_;
    p->secure_random = (mtp_bytes_t){ srand, 32 };
    if (u->has_password) {
        mtp_srp_algo_t algo = { u->salt1, sizeof u->salt1, u->salt2, sizeof u->salt2, 3,
                                mtp_dh_known_prime(), 256 };
        srv_key_t *k = r->key;
        if (mtp_srp_server_B(&algo, u->verifier, r->srv->rng, k->srp_b, k->srp_B)) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        k->srp_valid = true;
        k->srp_id = srv_rand64(r->srv);
        p->has_password = true;
        p->current_algo = srp_algo(r, u->salt1, sizeof u->salt1, u->salt2, sizeof u->salt2);
        p->has_srp_B = true;
        p->srp_B = (mtp_bytes_t){ mtp_arena_memdup(r->arena, k->srp_B, 256), 256 };
        p->has_srp_id = true;
        p->srp_id = k->srp_id;
        p->has_hint = true;
        p->hint = cs("harness");
    }
    reply_obj(r, &p->_);
}

static void h_checkPassword(srv_req_t *r, const void *qv)
{
    const mtp_auth_checkPassword_t *q = qv;
    srv_user_t *u = password_user(r);
    if (!u) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    srv_key_t *k = r->key;
    if (!u->has_password || !q->password || q->password->tl != &mtp_tlc_inputCheckPasswordSRP) {
        reply_err(r, 400, "PASSWORD_HASH_INVALID");
        return;
    }
    const mtp_inputCheckPasswordSRP_t *c = (const void *)q->password;
    if (!k->srp_valid || c->srp_id != k->srp_id) {
        reply_err(r, 400, "SRP_ID_INVALID");
        return;
    }
    k->srp_valid = false;   /* one attempt per account.getPassword */
    mtp_srp_algo_t algo = { u->salt1, sizeof u->salt1, u->salt2, sizeof u->salt2, 3,
                            mtp_dh_known_prime(), 256 };
    int rc = c->M1.len == 32 && c->A.len <= 256
                 ? mtp_srp_server_check(&algo, u->verifier, k->srp_b, k->srp_B, c->A.ptr,
                                        c->A.len, c->M1.ptr)
                 : MTP_ESECURITY;
    mtp_secure_zero(k->srp_b, sizeof k->srp_b);
    if (rc) {
        reply_err(r, 400, "PASSWORD_HASH_INVALID");
        return;
    }
    authorize(r, u);
    reply_obj(r, auth_obj(r, u));
}

static void h_importBot(srv_req_t *r, const void *qv)
{
    const mtp_auth_importBotAuthorization_t *q = qv;
    const uint8_t *t = q->bot_auth_token.ptr;
    size_t n = q->bot_auth_token.len, i = 0;
    int64_t id = 0;
    while (i < n && i < 18 && t[i] >= '0' && t[i] <= '9')
        id = id * 10 + (t[i++] - '0');
    bool ok = i > 0 && i < n && t[i] == ':' && n - i - 1 == 35 && id > 0;
    for (size_t j = i + 1; ok && j < n; j++) {
        uint8_t c = t[j];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    }
    srv_user_t *existing = ok ? srv_user_find(r->srv, id) : NULL;
    if (!ok || (existing && !existing->bot)) {
        reply_err(r, 400, "ACCESS_TOKEN_INVALID");
        return;
    }
    int home = r->srv->n_dcs >= 2 ? 2 : 1;
    if (r->dc != home) {
        reply_errf(r, 303, "USER_MIGRATE_%lld", home);
        return;
    }
    srv_user_t *u = srv_bot_get(r->srv, id, true);
    if (!u) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    authorize(r, u);
    reply_obj(r, auth_obj(r, u));
}

static void h_exportAuth(srv_req_t *r, const void *qv)
{
    const mtp_auth_exportAuthorization_t *q = qv;
    if (q->dc_id < 1 || q->dc_id > r->srv->n_dcs || q->dc_id == r->dc) {
        reply_err(r, 400, "DC_ID_INVALID");
        return;
    }
    if (r->srv->n_exports >= (size_t)r->srv->cfg.limits.exports) {
        SRV_STAT(r->srv, limit_exports, 1);   /* budget: exported authorizations alive */
        reply_err(r, 420, "FLOOD_WAIT_1");
        return;
    }
    srv_export_t *e = srv_export_new(r->srv);
    mtp_auth_exportedAuthorization_t *o = MTP_NEW(r->arena, auth_exportedAuthorization);
    if (!e || !o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    e->user_id = me_id(r);
    e->target_dc = q->dc_id;
    o->id = e->user_id;
    o->bytes = (mtp_bytes_t){ mtp_arena_memdup(r->arena, e->bytes, 32), 32 };
    reply_obj(r, &o->_);
}

static void h_importAuth(srv_req_t *r, const void *qv)
{
    const mtp_auth_importAuthorization_t *q = qv;
    srv_export_t e;
    if (!srv_export_take(r->srv, q->bytes.ptr, q->bytes.len, &e) || e.target_dc != r->dc ||
        e.user_id != q->id || e.expires < r->now) {
        reply_err(r, 400, "AUTH_BYTES_INVALID");
        return;
    }
    srv_user_t *u = srv_user_find(r->srv, e.user_id);
    if (!u) {
        reply_err(r, 400, "AUTH_BYTES_INVALID");
        return;
    }
    authorize(r, u);
    reply_obj(r, auth_obj(r, u));
}

static void h_logOut(srv_req_t *r, const void *q)
{
    (void)q;
    srv_key_t *p = srv_key_perm(r->srv, r->key);
    if (p) {
        p->user_id = 0;
        r->srv->dirty_keys = true;
    }
    mtp_auth_loggedOut_t *o = MTP_NEW(r->arena, auth_loggedOut);
    if (o)
        reply_obj(r, &o->_);
    else
        reply_err(r, 500, "INTERNAL");
}

static void h_bindTemp(srv_req_t *r, const void *qv)
{
    const mtp_auth_bindTempAuthKey_t *q = qv;
    srv_key_t *k = r->key;
    if (!k->temp) {
        reply_err(r, 400, "TEMP_AUTH_KEY_EMPTY");
        return;
    }
    srv_key_t *perm = srv_key_find(r->srv, q->perm_auth_key_id);
    int64_t enc_key = 0;
    mtp_bind_inner_t got, want;
    if (!perm || perm->temp || perm->dc != r->dc ||
        mtp_envelope_key_id(q->encrypted_message.ptr, q->encrypted_message.len, &enc_key) ||
        enc_key != perm->id ||
        mtp_bind_inner_decrypt(&perm->key, q->encrypted_message.ptr, q->encrypted_message.len,
                               &got)) {
        reply_err(r, 400, "ENCRYPTED_MESSAGE_INVALID");
        return;
    }
    memset(&want, 0, sizeof want);
    want.nonce = q->nonce;
    want.temp_auth_key_id = k->id;
    want.perm_auth_key_id = perm->id;
    want.temp_session_id = r->ss->session_id;
    want.expires_at = q->expires_at;
    want.msg_id = r->req_msg_id;
    if (mtp_bind_inner_check(&got, &want)) {
        reply_err(r, 400, "ENCRYPTED_MESSAGE_INVALID");
        return;
    }
    if (k->perm_id && k->perm_id != perm->id) {
        reply_err(r, 400, "TEMP_AUTH_KEY_ALREADY_BOUND");
        return;
    }
    /* one temporary key per permanent key: unbind the previous one */
    size_t i = 0;
    srv_key_t *o;
    while (srv_map_next(&r->srv->keys, &i, NULL, (void **)&o))
        if (o != k && o->temp && o->perm_id == perm->id)
            o->perm_id = 0;
    k->perm_id = perm->id;
    if (q->expires_at > 0 && (!k->expires_at || q->expires_at < k->expires_at))
        k->expires_at = q->expires_at;
    mtp_buf_t *b = srv_trace_begin(r->srv, "bind_temp_key", r->sc);
    if (b) {
        mtp_buf_printf(b, ",\"temp_auth_key_id\":\"%" PRId64 "\",\"perm_auth_key_id\":\"%" PRId64
                       "\",\"expires_at\":%d", k->id, perm->id, q->expires_at);
        srv_trace_end(r->srv);
    }
    reply_bool(r, true);
}

/* help.acceptTermsOfService: the id of the terms signIn sent (SRV_TOS_ID) */
static void h_acceptTos(srv_req_t *r, const void *qv)
{
    const mtp_help_acceptTermsOfService_t *q = qv;
    const mtp_dataJSON_t *id = (const mtp_dataJSON_t *)q->id;
    if (!id || id->_.tl->id != MTP_ID_dataJSON || !bytes_eq(id->data, SRV_TOS_ID)) {
        reply_err(r, 400, "TERMS_ID_INVALID");
        return;
    }
    reply_bool(r, true);
}

/* ------------------------------------------------------------------------------------ */
/* methods of this area (see srv_api_int.h: one row per method)                         */
/* ------------------------------------------------------------------------------------ */

const handler_t srv_methods_auth[] = {
    { &mtp_tlc_help_getConfig, h_getConfig, A_NONE | A_TEMP_OK },
    { &mtp_tlc_help_getNearestDc, h_getNearestDc, A_NONE | A_TEMP_OK },
    { &mtp_tlc_help_getAppConfig, h_getAppConfig, A_NONE },
    { &mtp_tlc_help_getCdnConfig, h_getCdnConfig, A_NONE },
    { &mtp_tlc_auth_sendCode, h_sendCode, A_NONE },
    { &mtp_tlc_auth_signIn, h_signIn, A_NONE },
    { &mtp_tlc_auth_signUp, h_signUp, A_NONE },
    { &mtp_tlc_help_acceptTermsOfService, h_acceptTos, A_AUTH },
    { &mtp_tlc_account_getPassword, h_getPassword, A_AUTH | A_2FA },
    { &mtp_tlc_auth_checkPassword, h_checkPassword, A_NONE | A_2FA },
    { &mtp_tlc_auth_importBotAuthorization, h_importBot, A_NONE },
    { &mtp_tlc_auth_exportAuthorization, h_exportAuth, A_AUTH },
    { &mtp_tlc_auth_importAuthorization, h_importAuth, A_NONE },
    { &mtp_tlc_auth_logOut, h_logOut, A_AUTH },
    { &mtp_tlc_auth_bindTempAuthKey, h_bindTemp, A_NONE | A_TEMP_OK },
    { NULL, NULL, 0 }
};
