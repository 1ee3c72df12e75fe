/*
 * libmtproto harness — the API: decode each query in the layer its auth key announced,
 * answer it with layer-228 objects converted to that layer (mtp_tl_convert).
 *
 * Order of checks for every query: decode (400 INPUT_METHOD_INVALID_<id> /
 * INPUT_CONSTRUCTOR_INVALID_<id> / INPUT_FETCH_ERROR) -> injected faults -> temporary key
 * not bound (401 AUTH_KEY_PERM_EMPTY) -> not logged in (401 AUTH_KEY_UNREGISTERED) ->
 * the method (400 METHOD_NOT_IMPLEMENTED when there is no handler).
 */
#include "server_int.h"

#include <mtproto/tl_schema.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MIB             1048576
#define MAX_PART        524288
#define MAX_PARTS       8000
#define UPLOAD_CAP      ((uint64_t)6 << 30)
#define MSG_MAX         4096
#define HISTORY_MAX     100

/* ------------------------------------------------------------------------------------ */
/* layers                                                                               */
/* ------------------------------------------------------------------------------------ */

const mtp_tl_layer_t *srv_layer_table(int layer, int *used)
{
    int all[16];
    int n = mtp_tl_layers(all, 16);
    if (n > 16)
        n = 16;
    int pick = 0;
    if (layer > 0 && mtp_tl_layer(layer))
        pick = layer;
    for (int i = 0; !pick && i < n; i++)
        if (all[i] <= layer && (i + 1 == n || all[i + 1] > layer))
            pick = all[i];
    if (!pick)
        pick = layer <= 0 ? MTP_TL_DEFAULT_LAYER : (n ? all[0] : MTP_TL_DEFAULT_LAYER);
    if (used)
        *used = pick;
    return mtp_tl_layer(pick);
}

/* ------------------------------------------------------------------------------------ */
/* small builders                                                                       */
/* ------------------------------------------------------------------------------------ */

static mtp_bytes_t cs(const char *s)
{
    return (mtp_bytes_t){ (const uint8_t *)s, s ? strlen(s) : 0 };
}

static bool vec_new(mtp_arena_t *a, mtp_vec_obj_t *v, size_t n)
{
    v->n = 0;
    v->v = NULL;
    if (!n)
        return true;
    v->v = mtp_arena_alloc(a, n * sizeof *v->v);
    return v->v != NULL;
}

static void vec_push(mtp_vec_obj_t *v, void *o)
{
    if (o)
        v->v[v->n++] = o;
}

static bool bytes_eq(mtp_bytes_t b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* replies                                                                              */
/* ------------------------------------------------------------------------------------ */

/* Answers appear on the wire trace (srv_trace_hook) with their msg_id and seq_no; this
 * only records a delayed answer as an event. */
static void trace_out(srv_req_t *r, const char *json, size_t jlen, const char *err_msg,
                      int32_t code)
{
    if (!r->delay)
        return;
    mtp_buf_t *b = srv_trace_begin(r->srv, "delayed_answer", r->sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"session_id\":\"%" PRId64
                   "\",\"req_msg_id\":\"%" PRId64
                   "\",\"layer\":%d", r->key->id, r->ss->session_id, r->req_msg_id, r->layer);
    if (r->delay)
        mtp_buf_printf(b, ",\"delay_ms\":%" PRId64, (int64_t)(r->delay / 1000));
    mtp_buf_printf(b, ",\"body\":{\"_\":\"rpc_result\",\"req_msg_id\":\"%" PRId64 "\",\"result\":",
                   r->req_msg_id);
    if (err_msg) {
        mtp_buf_printf(b, "{\"_\":\"rpc_error\",\"error_code\":%d,\"error_message\":", code);
        srv_json_cstr(b, err_msg);
        mtp_buf_putc(b, '}');
    } else {
        mtp_buf_append(b, json, jlen);
    }
    mtp_buf_putc(b, '}');
    srv_trace_end(r->srv);
}

static void queue_delayed(srv_req_t *r, const uint8_t *body, size_t len, int32_t code,
                          const char *msg)
{
    srv_t *srv = r->srv;
    srv_delayed_t *d = calloc(1, sizeof *d);
    if (!d)
        return;
    d->ss = r->ss;
    d->req_msg_id = r->req_msg_id;
    d->no_gzip = r->no_gzip;
    d->due = mtp_mono_usec() + r->delay;
    if (msg) {
        d->is_error = true;
        d->code = code;
        snprintf(d->message, sizeof d->message, "%s", msg);
    } else {
        d->body = malloc(len ? len : 1);
        if (!d->body) {
            free(d);
            return;
        }
        memcpy(d->body, body, len);
        d->len = len;
    }
    r->ss->refs++;
    d->next = srv->delayed;
    srv->delayed = d;
    mtp_usec_t next = d->due;
    for (srv_delayed_t *p = srv->delayed; p; p = p->next)
        if (p->due < next)
            next = p->due;
    mtp_timer_start_mono(srv->delay_timer, next);
}

static void reply_err(srv_req_t *r, int32_t code, const char *msg)
{
    if (r->replied)
        return;
    r->replied = true;
    SRV_STAT(r->srv, rpc_errors, 1);
    trace_out(r, NULL, 0, msg, code);
    if (r->delay) {
        queue_delayed(r, NULL, 0, code, msg);
        return;
    }
    mtp_session_reply_error(r->ss->s, r->req_msg_id, code, msg, r->now);
    if (!r->sc->in_feed)   /* else on_data flushes once for the whole read: containers */
        mtp_conn_flush(r->sc->c, r->now);
}

static void reply_errf(srv_req_t *r, int32_t code, const char *fmt, long long v)
{
    char m[96];
    snprintf(m, sizeof m, fmt, v);
    reply_err(r, code, m);
}

static void reply_raw(srv_req_t *r, const uint8_t *body, size_t len, const char *json,
                      size_t jlen)
{
    if (r->replied)
        return;
    r->replied = true;
    trace_out(r, json, jlen, NULL, 0);
    if (r->delay) {
        queue_delayed(r, body, len, 0, NULL);
        return;
    }
    mtp_session_reply_ex(r->ss->s, r->req_msg_id, body, len, r->no_gzip ? MTP_CALL_NO_GZIP : 0,
                         r->now);
    if (!r->sc->in_feed)
        mtp_conn_flush(r->sc->c, r->now);
}

/* Convert a layer-228 object to the client's layer. */
static mtp_tl_object_t *to_client(srv_req_t *r, mtp_tl_object_t *o)
{
    if (!o || r->layer == MTP_TL_DEFAULT_LAYER)
        return o;
    mtp_tl_object_t *out = NULL;
    if (mtp_tl_convert(o, r->L, r->arena, &out))
        return NULL;
    return out;
}

static void reply_obj(srv_req_t *r, mtp_tl_object_t *o228)
{
    mtp_tl_object_t *o = to_client(r, o228);
    mtp_buf_t *b = &r->srv->enc_buf, j;
    mtp_buf_clear(b);
    mtp_buf_init(&j);
    if (!o || mtp_tl_encode(o, b) || b->err) {
        reply_err(r, 500, o ? "ENCODE_FAILED" : "LAYER_CONVERT_FAILED");
        return;
    }
    if (srv_tracing(r->srv))
        mtp_tl_to_json(o, &j);
    reply_raw(r, b->data, b->len, (const char *)j.data, j.len);
    mtp_buf_free(&j);
    if (b->cap > ((size_t)4 << 20))
        mtp_buf_free(b);   /* an unusually large answer: do not keep it */
}

static void reply_bool(srv_req_t *r, bool v)
{
    uint8_t b[4];
    uint32_t id = v ? MTP_ID_boolTrue : MTP_ID_boolFalse;
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(id >> (8 * i));
    reply_raw(r, b, 4, v ? "true" : "false", v ? 4 : 5);
}

static void reply_vec(srv_req_t *r, const mtp_vec_obj_t *v)
{
    mtp_buf_t b, j;
    mtp_buf_init(&b);
    mtp_buf_init(&j);
    uint8_t hdr[8];
    mtp_tl_write_int(mtp_tl_write_int(hdr, (int32_t)0x1cb5c415), (int32_t)v->n);
    mtp_buf_append(&b, hdr, 8);
    mtp_buf_putc(&j, '[');
    for (uint32_t i = 0; i < v->n; i++) {
        mtp_tl_object_t *o = to_client(r, v->v[i]);
        if (!o || mtp_tl_encode(o, &b)) {
            mtp_buf_free(&b);
            mtp_buf_free(&j);
            reply_err(r, 500, "ENCODE_FAILED");
            return;
        }
        if (i)
            mtp_buf_putc(&j, ',');
        if (srv_tracing(r->srv))
            mtp_tl_to_json(o, &j);
    }
    mtp_buf_putc(&j, ']');
    if (b.err) {
        mtp_buf_free(&b);
        mtp_buf_free(&j);
        reply_err(r, 500, "ENCODE_FAILED");
        return;
    }
    reply_raw(r, b.data, b.len, (const char *)j.data, j.len);
    mtp_buf_free(&b);
    mtp_buf_free(&j);
}

/* ------------------------------------------------------------------------------------ */
/* objects                                                                              */
/* ------------------------------------------------------------------------------------ */

static int64_t me_id(srv_req_t *r)
{
    return srv_key_user(r->srv, r->key);
}

static mtp_tl_object_t *user_obj(srv_req_t *r, const srv_user_t *u)
{
    mtp_user_t *o = MTP_NEW(r->arena, user);
    if (!o)
        return NULL;
    o->id = u->id;
    o->self = u->id == me_id(r);
    o->bot = u->bot;
    o->has_access_hash = true;
    o->access_hash = u->access_hash;
    o->has_first_name = true;
    o->first_name = cs(u->first_name);
    if (u->last_name && u->last_name[0]) {
        o->has_last_name = true;
        o->last_name = cs(u->last_name);
    }
    o->has_username = true;
    o->username = cs(u->username);
    if (o->self && u->phone[0]) {
        o->has_phone = true;
        o->phone = cs(u->phone);
    }
    if (u->bot) {
        o->has_bot_info_version = true;
        o->bot_info_version = 1;
    }
    return &o->_;
}

static mtp_tl_object_t *user_empty(srv_req_t *r, int64_t id)
{
    mtp_userEmpty_t *o = MTP_NEW(r->arena, userEmpty);
    if (o)
        o->id = id;
    return o ? &o->_ : NULL;
}

static mtp_tl_object_t *peer_user(srv_req_t *r, int64_t id)
{
    mtp_peerUser_t *p = MTP_NEW(r->arena, peerUser);
    if (p)
        p->user_id = id;
    return p ? &p->_ : NULL;
}

static mtp_tl_object_t *doc_obj(srv_req_t *r, const srv_doc_t *d)
{
    mtp_document_t *o = MTP_NEW(r->arena, document);
    mtp_documentAttributeFilename_t *fa = MTP_NEW(r->arena, documentAttributeFilename);
    if (!o || !fa || !vec_new(r->arena, &o->attributes, 1))
        return NULL;
    o->id = d->id;
    o->access_hash = d->access_hash;
    o->file_reference = (mtp_bytes_t){ d->file_ref, sizeof d->file_ref };
    o->date = d->date;
    o->mime_type = cs(d->mime);
    o->size = d->size;
    o->dc_id = d->dc;
    fa->file_name = cs(d->name);
    vec_push(&o->attributes, fa);
    return &o->_;
}

static mtp_tl_object_t *msg_obj(srv_req_t *r, const srv_msg_t *m)
{
    mtp_message_t *o = MTP_NEW(r->arena, message);
    if (!o)
        return NULL;
    o->id = m->id;
    o->out = m->out;
    o->peer_id = peer_user(r, m->peer);
    if (m->out)
        o->from_id = peer_user(r, m->from);
    o->date = m->date;
    o->message = (mtp_bytes_t){ (const uint8_t *)m->text, m->text_len };
    if (m->doc_id) {
        srv_doc_t *d = srv_doc_find(r->srv, m->doc_id);
        mtp_messageMediaDocument_t *md = MTP_NEW(r->arena, messageMediaDocument);
        if (md && d) {
            md->document = doc_obj(r, d);
            o->media = &md->_;
        }
    }
    return &o->_;
}

static mtp_tl_object_t *auth_obj(srv_req_t *r, const srv_user_t *u)
{
    mtp_auth_authorization_t *a = MTP_NEW(r->arena, auth_authorization);
    if (!a)
        return NULL;
    a->user = user_obj(r, u);
    return &a->_;
}

static mtp_tl_object_t *notify_settings(srv_req_t *r)
{
    mtp_peerNotifySettings_t *n = MTP_NEW(r->arena, peerNotifySettings);
    return n ? &n->_ : NULL;
}

/* ------------------------------------------------------------------------------------ */
/* input resolution                                                                     */
/* ------------------------------------------------------------------------------------ */

static srv_user_t *visible_user(srv_req_t *r, int64_t id)
{
    srv_user_t *u = srv_user_find(r->srv, id);
    if (!u && id > 0) {
        char d[24];
        snprintf(d, sizeof d, "%" PRId64, id);
        u = srv_user_by_phone(r->srv, d);
    }
    return u && u->registered ? u : NULL;
}

static srv_user_t *input_user(srv_req_t *r, const mtp_tl_object_t *o)
{
    if (!o)
        return NULL;
    if (o->tl == &mtp_tlc_inputUserSelf)
        return srv_user_find(r->srv, me_id(r));
    if (o->tl == &mtp_tlc_inputUser) {
        const mtp_inputUser_t *iu = (const void *)o;
        srv_user_t *u = visible_user(r, iu->user_id);
        if (u && (u->access_hash == iu->access_hash || u->id == me_id(r)))
            return u;
    }
    return NULL;
}

static srv_user_t *input_peer(srv_req_t *r, const mtp_tl_object_t *o)
{
    if (!o)
        return NULL;
    if (o->tl == &mtp_tlc_inputPeerSelf)
        return srv_user_find(r->srv, me_id(r));
    if (o->tl == &mtp_tlc_inputPeerUser) {
        const mtp_inputPeerUser_t *p = (const void *)o;
        srv_user_t *u = visible_user(r, p->user_id);
        if (u && (u->access_hash == p->access_hash || u->id == me_id(r)))
            return u;
    }
    return NULL;
}

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

/* ------------------------------------------------------------------------------------ */
/* users, contacts, account                                                             */
/* ------------------------------------------------------------------------------------ */

static void h_getUsers(srv_req_t *r, const void *qv)
{
    const mtp_users_getUsers_t *q = qv;
    mtp_vec_obj_t v;
    if (q->id.n > 200) {
        reply_err(r, 400, "LIMIT_INVALID");
        return;
    }
    if (!vec_new(r->arena, &v, q->id.n)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (uint32_t i = 0; i < q->id.n; i++) {
        const mtp_tl_object_t *in = q->id.v[i];
        srv_user_t *u = input_user(r, in);
        if (u)
            vec_push(&v, user_obj(r, u));
        else if (in && in->tl == &mtp_tlc_inputUser)
            vec_push(&v, user_empty(r, ((const mtp_inputUser_t *)in)->user_id));
    }
    reply_vec(r, &v);
}

static void h_getFullUser(srv_req_t *r, const void *qv)
{
    const mtp_users_getFullUser_t *q = qv;
    srv_user_t *u = input_user(r, q->id);
    if (!u) {
        reply_err(r, 400, "USER_ID_INVALID");
        return;
    }
    mtp_users_userFull_t *o = MTP_NEW(r->arena, users_userFull);
    mtp_userFull_t *f = MTP_NEW(r->arena, userFull);
    mtp_peerSettings_t *ps = MTP_NEW(r->arena, peerSettings);
    if (!o || !f || !ps || !vec_new(r->arena, &o->users, 1)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    f->id = u->id;
    f->settings = &ps->_;
    f->notify_settings = notify_settings(r);
    f->has_about = true;
    f->about = cs(u->bot ? "A harness bot." : "A harness user.");
    o->full_user = &f->_;
    vec_push(&o->users, user_obj(r, u));
    reply_obj(r, &o->_);
}

static void h_resolveUsername(srv_req_t *r, const void *qv)
{
    const mtp_contacts_resolveUsername_t *q = qv;
    srv_user_t *u = srv_user_by_username(r->srv, q->username.ptr, q->username.len);
    if (!u) {
        reply_err(r, 400, "USERNAME_NOT_OCCUPIED");
        return;
    }
    mtp_contacts_resolvedPeer_t *o = MTP_NEW(r->arena, contacts_resolvedPeer);
    if (!o || !vec_new(r->arena, &o->users, 1)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->peer = peer_user(r, u->id);
    vec_push(&o->users, user_obj(r, u));
    reply_obj(r, &o->_);
}

static void h_updateStatus(srv_req_t *r, const void *q)
{
    (void)q;
    reply_bool(r, true);
}

/* ------------------------------------------------------------------------------------ */
/* messages, updates                                                                    */
/* ------------------------------------------------------------------------------------ */

static void add_user_once(srv_req_t *r, mtp_vec_obj_t *v, int64_t *seen, size_t *ns,
                          int64_t id);

typedef struct push_ctx {
    srv_t *srv;
    srv_user_t *to;
    srv_msg_t *m;
    int32_t seq, seq_start;     /* != 0: updates / updatesCombined with these */
    srv_msg_t *comb[16];        /* updatesCombined of these (n_comb > 0) */
    int n_comb;
    bool too_long;              /* updatesTooLong instead */
} push_ctx_t;

static mtp_tl_object_t *new_message_upd(srv_req_t *r, const srv_msg_t *m)
{
    mtp_updateNewMessage_t *nm = MTP_NEW(r->arena, updateNewMessage);
    if (!nm)
        return NULL;
    nm->message = msg_obj(r, m);
    nm->pts = m->pts;
    nm->pts_count = 1;
    return &nm->_;
}

/* The request-like context a push is built in: the recipient's layer, an arena. */
static int push_begin(srv_req_t *r, srv_t *srv, int layer)
{
    memset(r, 0, sizeof *r);
    r->srv = srv;
    r->arena = mtp_arena_new(0);
    r->L = srv_layer_table(layer, &r->layer);
    return r->arena ? 0 : MTP_ENOMEM;
}

/* Encode the push o (layer 228) in the recipient's layer; the context is released. */
static int push_end(srv_req_t *r, mtp_tl_object_t *o, mtp_buf_t *out)
{
    int rc = MTP_ENOMEM;
    mtp_tl_object_t *c = o ? to_client(r, o) : NULL;
    if (c)
        rc = mtp_tl_encode(c, out);
    mtp_arena_free(r->arena);
    return rc;
}

/* updateShortMessage (text), updates{updateNewMessage} (media, or with a seq),
 * updatesCombined or updatesTooLong for the recipient. */
static int build_push(void *ctx, int layer, mtp_buf_t *out)
{
    push_ctx_t *p = ctx;
    srv_req_t r;
    if (push_begin(&r, p->srv, layer))
        return MTP_ENOMEM;
    mtp_tl_object_t *o = NULL;
    if (p->too_long) {
        o = (mtp_tl_object_t *)MTP_NEW(r.arena, updatesTooLong);
    } else if (p->n_comb) {
        mtp_updatesCombined_t *u = MTP_NEW(r.arena, updatesCombined);
        int64_t seen[17];
        size_t ns = 0;
        if (u && vec_new(r.arena, &u->updates, (size_t)p->n_comb) &&
            vec_new(r.arena, &u->users, (size_t)p->n_comb + 1) && vec_new(r.arena, &u->chats, 0)) {
            for (int i = 0; i < p->n_comb; i++) {
                mtp_tl_object_t *nm = new_message_upd(&r, p->comb[i]);
                if (nm)
                    vec_push(&u->updates, nm);
                add_user_once(&r, &u->users, seen, &ns, p->comb[i]->from);
            }
            u->date = p->comb[p->n_comb - 1]->date;
            u->seq_start = p->seq_start;
            u->seq = p->seq;
            o = &u->_;
        }
    } else if (!p->m->doc_id && !p->seq) {
        mtp_updateShortMessage_t *u = MTP_NEW(r.arena, updateShortMessage);
        if (u) {
            u->id = p->m->id;
            u->user_id = p->m->peer;
            u->message = (mtp_bytes_t){ (const uint8_t *)p->m->text, p->m->text_len };
            u->pts = p->m->pts;
            u->pts_count = 1;
            u->date = p->m->date;
            o = &u->_;
        }
    } else {
        mtp_updates_t *u = MTP_NEW(r.arena, updates);
        mtp_tl_object_t *nm = new_message_upd(&r, p->m);
        srv_user_t *from = srv_user_find(p->srv, p->m->peer);
        if (u && nm && vec_new(r.arena, &u->updates, 1) && vec_new(r.arena, &u->users, 2)) {
            vec_push(&u->updates, nm);
            if (from)
                vec_push(&u->users, user_obj(&r, from));
            u->date = p->m->date;
            u->seq = p->seq;
            o = &u->_;
        }
    }
    return push_end(&r, o, out);
}

static srv_msg_t *msg_by_pts(srv_user_t *u, int32_t pts)
{
    for (size_t i = u->n_msgs; i-- > 0;)
        if (u->msgs[i].pts == pts)
            return &u->msgs[i];
    return NULL;
}

static void trace_upd_fault(srv_req_t *r, const char *what, int64_t user)
{
    mtp_buf_t *b = srv_trace_begin(r->srv, "fault", r->sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"fault\":\"%s\",\"user_id\":\"%" PRId64 "\"", what, user);
    srv_trace_end(r->srv);
}

/* A new message in `to`'s box: push it, shaped by the MTP_SERVER_UPD_* rules. */
static void deliver(srv_req_t *r, srv_user_t *to, srv_msg_t *m)
{
    srv_t *srv = r->srv;
    push_ctx_t p;
    memset(&p, 0, sizeof p);
    p.srv = srv, p.to = to, p.m = m;
    bool last = false;
    bool comb = srv_fault_take_upd(srv, MTP_SERVER_UPD_COMBINE, to->id, &last);
    if (comb || to->n_combine) {        /* (rule removed meanwhile: what is held goes now) */
        to->combine[to->n_combine++] = m->pts;
        if (comb && !last && to->n_combine < (int)(sizeof to->combine / sizeof to->combine[0]))
            return;                     /* held back until the last of them */
        trace_upd_fault(r, "push_combine", to->id);
        for (int i = 0; i < to->n_combine; i++) {
            srv_msg_t *x = msg_by_pts(to, to->combine[i]);
            if (x)
                p.comb[p.n_comb++] = x;
        }
        p.seq_start = to->seq + 1;
        to->seq += to->n_combine;
        p.seq = to->seq;
        to->n_combine = 0;
        if (!p.n_comb)
            return;
    } else if (srv_fault_take_upd(srv, MTP_SERVER_UPD_SEQ, to->id, &last)) {
        p.seq = ++to->seq;
    }
    if (srv_fault_take_upd(srv, MTP_SERVER_UPD_DROP, to->id, &last)) {
        trace_upd_fault(r, "push_drop", to->id);
        return;
    }
    if (srv_fault_take_upd(srv, MTP_SERVER_UPD_TOO_LONG, to->id, &last)) {
        trace_upd_fault(r, "push_too_long", to->id);
        p.too_long = true;
    }
    srv_push_user(srv, to->id, r->ss, build_push, &p);
}

static void send_channel(srv_req_t *r, const mtp_messages_sendMessage_t *q);

static void h_sendMessage(srv_req_t *r, const void *qv)
{
    const mtp_messages_sendMessage_t *q = qv;
    if (q->peer && q->peer->tl == &mtp_tlc_inputPeerChannel) {
        if (!q->message.len)
            reply_err(r, 400, "MESSAGE_EMPTY");
        else if (q->message.len > MSG_MAX)
            reply_err(r, 400, "MESSAGE_TOO_LONG");
        else
            send_channel(r, q);
        return;
    }
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    srv_user_t *to = input_peer(r, q->peer);
    if (!me || !to) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    if (!q->message.len) {
        reply_err(r, 400, "MESSAGE_EMPTY");
        return;
    }
    if (q->message.len > MSG_MAX) {
        reply_err(r, 400, "MESSAGE_TOO_LONG");
        return;
    }
    srv_msg_t *m = q->random_id ? srv_msg_by_random(me, q->random_id) : NULL;
    if (!m) {
        int32_t now = srv_unixtime();
        m = srv_msg_add(r->srv, me, to->id, me->id, true, q->message.ptr, q->message.len,
                        q->random_id, 0, now);
        if (!m) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        if (to != me) {
            srv_msg_t *m2 = srv_msg_add(r->srv, to, me->id, me->id, false, q->message.ptr,
                                        q->message.len, 0, 0, now);
            /* re-find ours: the boxes are separate arrays, m is still valid */
            if (m2)
                deliver(r, to, m2);
        }
    }
    mtp_updateShortSentMessage_t *o = MTP_NEW(r->arena, updateShortSentMessage);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->out = true;
    o->id = m->id;
    o->pts = m->pts;
    o->pts_count = 1;
    o->date = m->date;
    reply_obj(r, &o->_);
}

/* An uploaded file: the upload if complete and consistent, else NULL (answered). */
static srv_upload_t *check_upload(srv_req_t *r, const mtp_tl_object_t *f, uint32_t *np,
                                  mtp_bytes_t *name)
{
    int64_t uid = me_id(r);
    int64_t id;
    int32_t parts;
    bool big = f && f->tl == &mtp_tlc_inputFileBig;
    const mtp_inputFile_t *small = NULL;
    if (f && f->tl == &mtp_tlc_inputFile) {
        small = (const void *)f;
        id = small->id;
        parts = small->parts;
        *name = small->name;
    } else if (big) {
        const mtp_inputFileBig_t *b = (const void *)f;
        id = b->id;
        parts = b->parts;
        *name = b->name;
    } else {
        reply_err(r, 400, "MEDIA_INVALID");
        return NULL;
    }
    srv_upload_t *up = srv_upload_get(r->srv, uid, id, false);
    if (parts <= 0 || parts > MAX_PARTS) {
        reply_err(r, 400, "FILE_PARTS_INVALID");
        return NULL;
    }
    if (!up) {
        reply_err(r, 400, "FILE_PART_0_MISSING");
        return NULL;
    }
    if (up->big != big || (big && up->total != parts)) {
        reply_err(r, 400, "FILE_PARTS_INVALID");
        return NULL;
    }
    for (int32_t i = 0; i < parts; i++)
        if ((uint32_t)i >= up->cap || !up->parts[i]) {
            reply_errf(r, 400, "FILE_PART_%lld_MISSING", i);
            return NULL;
        }
    uint32_t ps = up->part_len[0];
    if (parts > 1 && (ps % 1024 || MAX_PART % ps)) {
        reply_err(r, 400, "FILE_PART_SIZE_INVALID");
        return NULL;
    }
    for (int32_t i = 1; i < parts; i++)
        if ((i < parts - 1 && up->part_len[i] != ps) || up->part_len[i] > ps) {
            reply_err(r, 400, "FILE_PART_SIZE_CHANGED");
            return NULL;
        }
    if (small && small->md5_checksum.len) {
        mtp_hash_t *h = NULL;
        uint8_t md5[16];
        char hex[33];
        if (mtp_hash_new(MTP_HASH_MD5, &h)) {
            reply_err(r, 500, "INTERNAL");
            return NULL;
        }
        for (int32_t i = 0; i < parts; i++)
            mtp_hash_update(h, up->parts[i], up->part_len[i]);
        mtp_hash_final(h, md5);
        mtp_hash_free(h);
        for (int i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", md5[i]);
        bool eq = small->md5_checksum.len == 32;
        for (size_t i = 0; eq && i < 32; i++) {
            uint8_t c = small->md5_checksum.ptr[i];
            if (c >= 'A' && c <= 'F')
                c = (uint8_t)(c + 32);
            eq = c == (uint8_t)hex[i];
        }
        if (!eq) {
            reply_err(r, 400, "MD5_CHECKSUM_INVALID");
            return NULL;
        }
    }
    *np = (uint32_t)parts;
    return up;
}

static mtp_tl_object_t *updates_for(srv_req_t *r, srv_user_t *me, srv_user_t *to, srv_msg_t *m)
{
    mtp_updates_t *u = MTP_NEW(r->arena, updates);
    mtp_updateMessageID_t *mid = MTP_NEW(r->arena, updateMessageID);
    mtp_updateNewMessage_t *nm = MTP_NEW(r->arena, updateNewMessage);
    if (!u || !mid || !nm || !vec_new(r->arena, &u->updates, 2) ||
        !vec_new(r->arena, &u->users, 2))
        return NULL;
    mid->id = m->id;
    mid->random_id = m->random_id;
    nm->message = msg_obj(r, m);
    nm->pts = m->pts;
    nm->pts_count = 1;
    vec_push(&u->updates, mid);
    vec_push(&u->updates, nm);
    vec_push(&u->users, user_obj(r, me));
    if (to != me)
        vec_push(&u->users, user_obj(r, to));
    u->date = m->date;
    return &u->_;
}

static void h_sendMedia(srv_req_t *r, const void *qv)
{
    const mtp_messages_sendMedia_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    srv_user_t *to = input_peer(r, q->peer);
    if (!me || !to) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    if (q->message.len > 1024) {
        reply_err(r, 400, "MEDIA_CAPTION_TOO_LONG");
        return;
    }
    srv_msg_t *m = q->random_id ? srv_msg_by_random(me, q->random_id) : NULL;
    if (m) {
        reply_obj(r, updates_for(r, me, to, m));
        return;
    }
    srv_doc_t *doc = NULL;
    const mtp_tl_object_t *media = q->media;
    if (media && media->tl == &mtp_tlc_inputMediaUploadedDocument) {
        const mtp_inputMediaUploadedDocument_t *md = (const void *)media;
        uint32_t np = 0;
        mtp_bytes_t name = { NULL, 0 };
        srv_upload_t *up = check_upload(r, md->file, &np, &name);
        if (!up)
            return;
        for (uint32_t i = 0; i < md->attributes.n; i++) {
            const mtp_tl_object_t *a = md->attributes.v[i];
            if (a && a->tl == &mtp_tlc_documentAttributeFilename)
                name = ((const mtp_documentAttributeFilename_t *)a)->file_name;
        }
        mtp_bytes_t mime = md->mime_type.len ? md->mime_type : cs("application/octet-stream");
        doc = srv_doc_from_upload(r->srv, up, np, me->dc, name.ptr, name.len, mime.ptr,
                                  mime.len);
        if (!doc) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
    } else if (media && media->tl == &mtp_tlc_inputMediaDocument) {
        const mtp_inputMediaDocument_t *md = (const void *)media;
        if (md->id && md->id->tl == &mtp_tlc_inputDocument) {
            const mtp_inputDocument_t *id = (const void *)md->id;
            doc = srv_doc_find(r->srv, id->id);
            if (doc && doc->access_hash != id->access_hash)
                doc = NULL;
        }
        if (!doc) {
            reply_err(r, 400, "MEDIA_INVALID");
            return;
        }
    } else {
        reply_err(r, 400, "MEDIA_INVALID");
        return;
    }
    int32_t now = srv_unixtime();
    m = srv_msg_add(r->srv, me, to->id, me->id, true, q->message.ptr, q->message.len,
                    q->random_id, doc->id, now);
    if (!m) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    if (to != me) {
        srv_msg_t *m2 = srv_msg_add(r->srv, to, me->id, me->id, false, q->message.ptr,
                                    q->message.len, 0, doc->id, now);
        if (m2)
            deliver(r, to, m2);
    }
    reply_obj(r, updates_for(r, me, to, m));
}

/* The messages of me's box with `peer`, newest first (indices into me->msgs). */
static size_t chat_msgs(srv_user_t *me, int64_t peer, size_t *idx)
{
    size_t n = 0;
    for (size_t i = me->n_msgs; i-- > 0;)
        if (me->msgs[i].peer == peer)
            idx[n++] = i;
    return n;
}

static void add_user_once(srv_req_t *r, mtp_vec_obj_t *v, int64_t *seen, size_t *ns, int64_t id)
{
    for (size_t i = 0; i < *ns; i++)
        if (seen[i] == id)
            return;
    srv_user_t *u = srv_user_find(r->srv, id);
    if (!u)
        return;
    seen[(*ns)++] = id;
    vec_push(v, user_obj(r, u));
}

static void h_getHistory(srv_req_t *r, const void *qv)
{
    const mtp_messages_getHistory_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    srv_user_t *peer = input_peer(r, q->peer);
    if (!me || !peer) {
        reply_err(r, 400, "PEER_ID_INVALID");
        return;
    }
    size_t *idx = mtp_arena_alloc(r->arena, (me->n_msgs + 1) * sizeof *idx);
    if (!idx) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    size_t total = chat_msgs(me, peer->id, idx);
    /* max_id / min_id bound the window */
    size_t n = 0;
    for (size_t i = 0; i < total; i++) {
        const srv_msg_t *m = &me->msgs[idx[i]];
        if ((q->max_id > 0 && m->id >= q->max_id) || (q->min_id > 0 && m->id <= q->min_id))
            continue;
        idx[n++] = idx[i];
    }
    long long pos = 0;
    if (q->offset_id > 0) {
        while ((size_t)pos < n && me->msgs[idx[pos]].id >= q->offset_id)
            pos++;
    } else if (q->offset_date > 0) {
        while ((size_t)pos < n && me->msgs[idx[pos]].date >= q->offset_date)
            pos++;
    }
    long long limit = q->limit;
    if (limit < 0)
        limit = 0;
    if (limit > HISTORY_MAX)
        limit = HISTORY_MAX;
    pos += q->add_offset;
    if (pos < 0) {
        limit += pos;
        pos = 0;
    }
    long long end = pos + (limit > 0 ? limit : 0);
    if (end > (long long)n)
        end = (long long)n;
    size_t count = end > pos ? (size_t)(end - pos) : 0;
    mtp_vec_obj_t msgs, users;
    int64_t *seen = mtp_arena_alloc(r->arena, (count + 2) * sizeof *seen);
    size_t ns = 0;
    if (!seen || !vec_new(r->arena, &msgs, count) || !vec_new(r->arena, &users, count + 2)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    add_user_once(r, &users, seen, &ns, me->id);
    add_user_once(r, &users, seen, &ns, peer->id);
    for (size_t i = 0; i < count; i++) {
        const srv_msg_t *m = &me->msgs[idx[(size_t)pos + i]];
        vec_push(&msgs, msg_obj(r, m));
        add_user_once(r, &users, seen, &ns, m->from);
    }
    if (count == total) {
        mtp_messages_messages_t *o = MTP_NEW(r->arena, messages_messages);
        if (!o) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        o->messages = msgs;
        o->users = users;
        reply_obj(r, &o->_);
        return;
    }
    mtp_messages_messagesSlice_t *o = MTP_NEW(r->arena, messages_messagesSlice);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->count = (int32_t)total;
    o->has_offset_id_offset = true;
    o->offset_id_offset = (int32_t)pos;
    o->messages = msgs;
    o->users = users;
    reply_obj(r, &o->_);
}

static void h_getDialogs(srv_req_t *r, const void *qv)
{
    const mtp_messages_getDialogs_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    /* newest message per peer, newest dialog first */
    size_t *top = mtp_arena_alloc(r->arena, (me->n_msgs + 1) * sizeof *top);
    int32_t *in_max = mtp_arena_alloc(r->arena, (me->n_msgs + 1) * sizeof *in_max);
    int32_t *out_max = mtp_arena_alloc(r->arena, (me->n_msgs + 1) * sizeof *out_max);
    if (!top || !in_max || !out_max) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    size_t nd = 0;
    for (size_t i = me->n_msgs; i-- > 0;) {
        const srv_msg_t *m = &me->msgs[i];
        size_t d = 0;
        while (d < nd && me->msgs[top[d]].peer != m->peer)
            d++;
        if (d == nd) {
            top[nd] = i;
            in_max[nd] = out_max[nd] = 0;
            nd++;
        }
        if (m->out && m->id > out_max[d])
            out_max[d] = m->id;
        if (!m->out && m->id > in_max[d])
            in_max[d] = m->id;
    }
    long long limit = q->limit <= 0 || q->limit > HISTORY_MAX ? HISTORY_MAX : q->limit;
    mtp_vec_obj_t dialogs, msgs, users;
    int64_t *seen = mtp_arena_alloc(r->arena, (2 * nd + 2) * sizeof *seen);
    size_t ns = 0;
    if (!seen || !vec_new(r->arena, &dialogs, nd) || !vec_new(r->arena, &msgs, nd) ||
        !vec_new(r->arena, &users, 2 * nd + 2)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    add_user_once(r, &users, seen, &ns, me->id);
    for (size_t d = 0; d < nd && (long long)dialogs.n < limit; d++) {
        const srv_msg_t *m = &me->msgs[top[d]];
        if (q->offset_id > 0 && m->id >= q->offset_id)
            continue;
        if (q->offset_date > 0 && m->date > q->offset_date)
            continue;
        mtp_dialog_t *dl = MTP_NEW(r->arena, dialog);
        if (!dl)
            continue;
        dl->peer = peer_user(r, m->peer);
        dl->top_message = m->id;
        dl->read_inbox_max_id = in_max[d];
        dl->read_outbox_max_id = out_max[d];
        dl->notify_settings = notify_settings(r);
        dl->has_pts = false;
        vec_push(&dialogs, dl);
        vec_push(&msgs, msg_obj(r, m));
        add_user_once(r, &users, seen, &ns, m->peer);
        add_user_once(r, &users, seen, &ns, m->from);
    }
    if (dialogs.n == nd) {
        mtp_messages_dialogs_t *o = MTP_NEW(r->arena, messages_dialogs);
        if (!o) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        o->dialogs = dialogs;
        o->messages = msgs;
        o->users = users;
        reply_obj(r, &o->_);
        return;
    }
    mtp_messages_dialogsSlice_t *o = MTP_NEW(r->arena, messages_dialogsSlice);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->count = (int32_t)nd;
    o->dialogs = dialogs;
    o->messages = msgs;
    o->users = users;
    reply_obj(r, &o->_);
}

static mtp_tl_object_t *state_obj(srv_req_t *r, const srv_user_t *me)
{
    mtp_updates_state_t *s = MTP_NEW(r->arena, updates_state);
    if (!s)
        return NULL;
    s->pts = me->pts;
    s->qts = 0;
    s->date = srv_unixtime();
    s->seq = me->seq;
    s->unread_count = 0;
    return &s->_;
}

/* messages.getPeerDialogs (TDLib asks it to load a private chat): one dialog per known user
 * peer, its newest message as top_message; an unknown peer is 400 PEER_ID_INVALID. */
static void h_getPeerDialogs(srv_req_t *r, const void *qv)
{
    const mtp_messages_getPeerDialogs_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    mtp_vec_obj_t dialogs, msgs, users;
    uint32_t np = q->peers.n < HISTORY_MAX ? q->peers.n : HISTORY_MAX;
    int64_t *seen = mtp_arena_alloc(r->arena, (2 * np + 2) * sizeof *seen);
    size_t ns = 0;
    if (!me || !seen || !vec_new(r->arena, &dialogs, np) || !vec_new(r->arena, &msgs, np) ||
        !vec_new(r->arena, &users, 2 * np + 2)) {
        reply_err(r, me ? 500 : 401, me ? "INTERNAL" : "AUTH_KEY_UNREGISTERED");
        return;
    }
    add_user_once(r, &users, seen, &ns, me->id);
    for (uint32_t i = 0; i < np; i++) {
        const mtp_tl_object_t *ip = q->peers.v[i];
        srv_user_t *peer = ip && ip->tl == &mtp_tlc_inputDialogPeer
                               ? input_peer(r, ((const mtp_inputDialogPeer_t *)ip)->peer) : NULL;
        mtp_dialog_t *dl = peer ? MTP_NEW(r->arena, dialog) : NULL;
        if (!dl) {
            reply_err(r, 400, "PEER_ID_INVALID");
            return;
        }
        dl->peer = peer_user(r, peer->id);
        dl->notify_settings = notify_settings(r);
        for (size_t k = me->n_msgs; k-- > 0;) {
            const srv_msg_t *m = &me->msgs[k];
            if (m->peer != peer->id)
                continue;
            if (!dl->top_message) {
                dl->top_message = m->id;
                vec_push(&msgs, msg_obj(r, m));
                add_user_once(r, &users, seen, &ns, m->from);
            }
            int32_t *mx = m->out ? &dl->read_outbox_max_id : &dl->read_inbox_max_id;
            if (m->id > *mx)
                *mx = m->id;
        }
        vec_push(&dialogs, dl);
        add_user_once(r, &users, seen, &ns, peer->id);
    }
    mtp_messages_peerDialogs_t *o = MTP_NEW(r->arena, messages_peerDialogs);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->dialogs = dialogs;
    o->messages = msgs;
    o->users = users;
    o->state = state_obj(r, me);
    reply_obj(r, &o->_);
}

static void h_getState(srv_req_t *r, const void *q)
{
    (void)q;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    reply_obj(r, state_obj(r, me));
}

static void h_getDifference(srv_req_t *r, const void *qv)
{
    const mtp_updates_getDifference_t *q = qv;
    srv_user_t *me = srv_user_find(r->srv, me_id(r));
    if (!me) {
        reply_err(r, 401, "AUTH_KEY_UNREGISTERED");
        return;
    }
    if (q->pts > me->pts) {
        reply_err(r, 400, "PERSISTENT_TIMESTAMP_INVALID");
        return;
    }
    if (q->pts == me->pts) {
        mtp_updates_differenceEmpty_t *e = MTP_NEW(r->arena, updates_differenceEmpty);
        if (!e) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        e->date = srv_unixtime();
        e->seq = me->seq;
        reply_obj(r, &e->_);
        return;
    }
    int32_t gap = me->pts - q->pts;
    bool used_up = false;
    if ((q->has_pts_total_limit && q->pts_total_limit > 0 && gap > q->pts_total_limit) ||
        gap > 5000 ||
        srv_fault_take_upd(r->srv, MTP_SERVER_UPD_DIFF_TOO_LONG, me->id, &used_up)) {
        mtp_updates_differenceTooLong_t *t = MTP_NEW(r->arena, updates_differenceTooLong);
        if (!t) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        t->pts = me->pts;
        reply_obj(r, &t->_);
        return;
    }
    /* pts_limit: at most that many messages, as updates.differenceSlice */
    bool slice = q->has_pts_limit && q->pts_limit > 0 && gap > q->pts_limit;
    mtp_updates_difference_t *d = MTP_NEW(r->arena, updates_difference);
    size_t n = (size_t)(slice ? q->pts_limit : gap);
    int64_t *seen = mtp_arena_alloc(r->arena, (2 * n + 2) * sizeof *seen);
    size_t ns = 0;
    if (!d || !seen || !vec_new(r->arena, &d->new_messages, n) ||
        !vec_new(r->arena, &d->users, 2 * n + 2)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    add_user_once(r, &d->users, seen, &ns, me->id);
    int32_t last = q->pts;
    for (size_t i = 0; i < me->n_msgs; i++) {
        const srv_msg_t *m = &me->msgs[i];
        if (m->pts <= q->pts || d->new_messages.n >= n)
            continue;
        vec_push(&d->new_messages, msg_obj(r, m));
        add_user_once(r, &d->users, seen, &ns, m->peer);
        if (m->pts > last)
            last = m->pts;
    }
    d->state = state_obj(r, me);
    if (slice && d->state) {
        mtp_updates_differenceSlice_t *sl = MTP_NEW(r->arena, updates_differenceSlice);
        if (!sl) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        sl->new_messages = d->new_messages;
        sl->users = d->users;
        ((mtp_updates_state_t *)d->state)->pts = last;
        sl->intermediate_state = d->state;
        reply_obj(r, &sl->_);
        return;
    }
    reply_obj(r, &d->_);
}

/* ------------------------------------------------------------------------------------ */
/* channels (supergroups; memory only): create, invite, post, getChannelDifference       */
/* ------------------------------------------------------------------------------------ */

static mtp_tl_object_t *channel_obj(srv_req_t *r, const srv_channel_t *ch)
{
    mtp_channel_t *o = MTP_NEW(r->arena, channel);
    mtp_tl_object_t *photo = (mtp_tl_object_t *)MTP_NEW(r->arena, chatPhotoEmpty);
    if (!o || !photo)
        return NULL;
    o->id = ch->id;
    o->megagroup = true;
    o->creator = ch->n_members && ch->members[0] == me_id(r);
    o->has_access_hash = true;
    o->access_hash = ch->access_hash;
    o->title = (mtp_bytes_t){ (const uint8_t *)ch->title, strlen(ch->title) };
    o->photo = photo;
    o->date = ch->date;
    o->has_participants_count = true;
    o->participants_count = ch->n_members;
    return &o->_;
}

/* A channel message as `viewer` sees it. */
static mtp_tl_object_t *chan_msg_obj(srv_req_t *r, const srv_msg_t *m, int64_t viewer)
{
    mtp_message_t *o = MTP_NEW(r->arena, message);
    mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
    if (!o || !pc)
        return NULL;
    pc->channel_id = m->peer;
    o->id = m->id;
    o->out = m->from == viewer;
    o->peer_id = &pc->_;
    o->from_id = peer_user(r, m->from);
    o->date = m->date;
    o->message = (mtp_bytes_t){ (const uint8_t *)m->text, m->text_len };
    return &o->_;
}

static mtp_tl_object_t *new_chan_msg_upd(srv_req_t *r, const srv_msg_t *m, int64_t viewer)
{
    mtp_updateNewChannelMessage_t *u = MTP_NEW(r->arena, updateNewChannelMessage);
    if (!u)
        return NULL;
    u->message = chan_msg_obj(r, m, viewer);
    u->pts = m->pts;
    u->pts_count = 1;
    return &u->_;
}

/* The channel of an InputChannel / InputPeer the caller may use, else NULL (answered). */
static srv_channel_t *input_channel(srv_req_t *r, const mtp_tl_object_t *o, bool member)
{
    int64_t id = 0, hash = 0;
    if (o && o->tl == &mtp_tlc_inputChannel) {
        const mtp_inputChannel_t *c = (const void *)o;
        id = c->channel_id, hash = c->access_hash;
    } else if (o && o->tl == &mtp_tlc_inputPeerChannel) {
        const mtp_inputPeerChannel_t *c = (const void *)o;
        id = c->channel_id, hash = c->access_hash;
    }
    srv_channel_t *ch = id ? srv_channel_find(r->srv, id) : NULL;
    if (!ch || ch->access_hash != hash) {
        reply_err(r, 400, "CHANNEL_INVALID");
        return NULL;
    }
    if (member && !srv_channel_member(ch, me_id(r))) {
        reply_err(r, 400, "CHANNEL_PRIVATE");
        return NULL;
    }
    return ch;
}

/* updates{updates: [u0, u1], users, chats: [ch]} */
static mtp_tl_object_t *chan_updates(srv_req_t *r, const srv_channel_t *ch, mtp_tl_object_t *u0,
                                     mtp_tl_object_t *u1, int64_t user)
{
    mtp_updates_t *u = MTP_NEW(r->arena, updates);
    if (!u || !vec_new(r->arena, &u->updates, 2) || !vec_new(r->arena, &u->users, 1) ||
        !vec_new(r->arena, &u->chats, 1))
        return NULL;
    if (u0)
        vec_push(&u->updates, u0);
    if (u1)
        vec_push(&u->updates, u1);
    srv_user_t *su = user ? srv_user_find(r->srv, user) : NULL;
    if (su)
        vec_push(&u->users, user_obj(r, su));
    vec_push(&u->chats, channel_obj(r, ch));
    u->date = srv_unixtime();
    return &u->_;
}

static mtp_tl_object_t *upd_channel(srv_req_t *r, const srv_channel_t *ch)
{
    mtp_updateChannel_t *u = MTP_NEW(r->arena, updateChannel);
    if (u)
        u->channel_id = ch->id;
    return u ? &u->_ : NULL;
}

typedef struct chan_push {
    srv_t *srv;
    srv_channel_t *ch;
    const srv_msg_t *m;         /* NULL: updateChannel (added to the channel) */
    int64_t to;
    bool too_long;              /* updateChannelTooLong instead */
} chan_push_t;

static int build_chan_push(void *ctx, int layer, mtp_buf_t *out)
{
    chan_push_t *p = ctx;
    srv_req_t r;
    if (push_begin(&r, p->srv, layer))
        return MTP_ENOMEM;
    mtp_tl_object_t *u = NULL;
    if (!p->m) {
        u = upd_channel(&r, p->ch);
    } else if (p->too_long) {
        mtp_updateChannelTooLong_t *t = MTP_NEW(r.arena, updateChannelTooLong);
        if (t) {
            t->channel_id = p->ch->id;
            t->has_pts = true;
            t->pts = p->ch->pts;
            u = &t->_;
        }
    } else {
        u = new_chan_msg_upd(&r, p->m, p->to);
    }
    mtp_tl_object_t *o = u ? chan_updates(&r, p->ch, u, NULL, p->m ? p->m->from : 0) : NULL;
    return push_end(&r, o, out);
}

/* m (NULL: updateChannel) to every member but the sender, shaped by the DROP / TOO_LONG
 * rules of MTP_SERVER_UPD_*. */
static void deliver_chan(srv_req_t *r, srv_channel_t *ch, const srv_msg_t *m, int64_t except)
{
    for (int i = 0; i < ch->n_members; i++) {
        int64_t to = ch->members[i];
        if (to == except)
            continue;
        chan_push_t p = { r->srv, ch, m, to, false };
        bool last;
        if (m && srv_fault_take_upd(r->srv, MTP_SERVER_UPD_DROP, to, &last)) {
            trace_upd_fault(r, "push_drop", to);
            continue;
        }
        if (m && srv_fault_take_upd(r->srv, MTP_SERVER_UPD_TOO_LONG, to, &last)) {
            trace_upd_fault(r, "push_too_long", to);
            p.too_long = true;
        }
        srv_push_user(r->srv, to, r->ss, build_chan_push, &p);
    }
}

static void h_createChannel(srv_req_t *r, const void *qv)
{
    const mtp_channels_createChannel_t *q = qv;
    if (!q->title.len) {
        reply_err(r, 400, "CHAT_TITLE_EMPTY");
        return;
    }
    srv_channel_t *ch = srv_channel_new(r->srv, me_id(r), q->title.ptr, q->title.len,
                                        srv_unixtime());
    if (!ch) {
        reply_err(r, 400, "CHANNELS_TOO_MUCH");
        return;
    }
    reply_obj(r, chan_updates(r, ch, upd_channel(r, ch), NULL, 0));
}

static void h_inviteToChannel(srv_req_t *r, const void *qv)
{
    const mtp_channels_inviteToChannel_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, true);
    if (!ch)
        return;
    mtp_messages_invitedUsers_t *o = MTP_NEW(r->arena, messages_invitedUsers);
    if (!o) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (uint32_t i = 0; i < q->users.n; i++) {
        const mtp_tl_object_t *iu = q->users.v[i];
        srv_user_t *u = NULL;
        if (iu && iu->tl == &mtp_tlc_inputUser) {
            const mtp_inputUser_t *x = (const void *)iu;
            u = visible_user(r, x->user_id);
            if (u && u->access_hash != x->access_hash)
                u = NULL;
        }
        if (!u) {
            reply_err(r, 400, "USER_ID_INVALID");
            return;
        }
        if (!srv_channel_member(ch, u->id)) {
            if (srv_channel_join(ch, u->id)) {
                reply_err(r, 400, "USERS_TOO_MUCH");
                return;
            }
            chan_push_t p = { r->srv, ch, NULL, u->id, false };
            srv_push_user(r->srv, u->id, NULL, build_chan_push, &p);
        }
    }
    o->updates = chan_updates(r, ch, upd_channel(r, ch), NULL, 0);
    reply_obj(r, &o->_);
}

static void send_channel(srv_req_t *r, const mtp_messages_sendMessage_t *q)
{
    srv_channel_t *ch = input_channel(r, q->peer, true);
    if (!ch)
        return;
    int64_t me = me_id(r);
    srv_msg_t *m = NULL;
    for (size_t i = ch->n_msgs; q->random_id && i-- > 0;)
        if (ch->msgs[i].random_id == q->random_id && ch->msgs[i].from == me)
            m = &ch->msgs[i];
    if (!m) {
        m = srv_channel_post(ch, me, q->message.ptr, q->message.len, q->random_id,
                             srv_unixtime());
        if (!m) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        deliver_chan(r, ch, m, me);
    }
    mtp_updateMessageID_t *mid = MTP_NEW(r->arena, updateMessageID);
    if (!mid) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    mid->id = m->id;
    mid->random_id = q->random_id;
    reply_obj(r, chan_updates(r, ch, &mid->_, new_chan_msg_upd(r, m, me), me));
}

static void h_getChannelDifference(srv_req_t *r, const void *qv)
{
    const mtp_updates_getChannelDifference_t *q = qv;
    srv_channel_t *ch = input_channel(r, q->channel, true);
    if (!ch)
        return;
    int64_t me = me_id(r);
    if (q->pts <= 0 || q->pts > ch->pts) {
        reply_err(r, 400, "PERSISTENT_TIMESTAMP_INVALID");
        return;
    }
    if (q->pts == ch->pts) {
        mtp_updates_channelDifferenceEmpty_t *e = MTP_NEW(r->arena,
                                                          updates_channelDifferenceEmpty);
        if (!e) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        e->final = true;
        e->pts = ch->pts;
        reply_obj(r, &e->_);
        return;
    }
    bool used_up;
    if (srv_fault_take_upd(r->srv, MTP_SERVER_UPD_DIFF_TOO_LONG, me, &used_up)) {
        mtp_updates_channelDifferenceTooLong_t *t = MTP_NEW(r->arena,
                                                            updates_channelDifferenceTooLong);
        mtp_dialog_t *dl = MTP_NEW(r->arena, dialog);
        mtp_peerChannel_t *pc = MTP_NEW(r->arena, peerChannel);
        if (!t || !dl || !pc || !vec_new(r->arena, &t->messages, 1) ||
            !vec_new(r->arena, &t->chats, 1)) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        pc->channel_id = ch->id;
        dl->peer = &pc->_;
        dl->top_message = ch->n_msgs ? ch->msgs[ch->n_msgs - 1].id : 0;
        dl->notify_settings = notify_settings(r);
        dl->has_pts = true;
        dl->pts = ch->pts;
        t->final = true;
        t->dialog = &dl->_;
        if (ch->n_msgs)
            vec_push(&t->messages, chan_msg_obj(r, &ch->msgs[ch->n_msgs - 1], me));
        vec_push(&t->chats, channel_obj(r, ch));
        reply_obj(r, &t->_);
        return;
    }
    /* limit: at most that many messages; final=false when more are left */
    size_t limit = q->limit > 0 && q->limit < 1000 ? (size_t)q->limit : 1000;
    mtp_updates_channelDifference_t *d = MTP_NEW(r->arena, updates_channelDifference);
    int64_t *seen = mtp_arena_alloc(r->arena, (limit + 1) * sizeof *seen);
    size_t ns = 0;
    if (!d || !seen || !vec_new(r->arena, &d->new_messages, limit) ||
        !vec_new(r->arena, &d->users, limit + 1) || !vec_new(r->arena, &d->chats, 1)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    int32_t last = q->pts;
    for (size_t i = 0; i < ch->n_msgs && d->new_messages.n < limit; i++) {
        const srv_msg_t *m = &ch->msgs[i];
        if (m->pts <= q->pts)
            continue;
        vec_push(&d->new_messages, chan_msg_obj(r, m, me));
        add_user_once(r, &d->users, seen, &ns, m->from);
        last = m->pts;
    }
    vec_push(&d->chats, channel_obj(r, ch));
    d->final = last == ch->pts;
    d->pts = last;
    reply_obj(r, &d->_);
}

/* ------------------------------------------------------------------------------------ */
/* upload.*                                                                             */
/* ------------------------------------------------------------------------------------ */

static void store_part(srv_req_t *r, int64_t file_id, int32_t part, int32_t total,
                       mtp_bytes_t bytes, bool big)
{
    srv_t *srv = r->srv;
    if (part < 0 || part >= MAX_PARTS || (big && part >= total)) {
        reply_err(r, 400, "FILE_PART_INVALID");
        return;
    }
    if (big && (total <= 0 || total > MAX_PARTS)) {
        reply_err(r, 400, "FILE_PARTS_INVALID");
        return;
    }
    if (!bytes.len) {
        reply_err(r, 400, "FILE_PART_EMPTY");
        return;
    }
    if (bytes.len > MAX_PART) {
        reply_err(r, 400, "FILE_PART_TOO_BIG");
        return;
    }
    bool last = big && part == total - 1;
    if (big && !last && (bytes.len % 1024 || MAX_PART % bytes.len)) {
        reply_err(r, 400, "FILE_PART_SIZE_INVALID");
        return;
    }
    srv_upload_t *up = srv_upload_get(srv, me_id(r), file_id, true);
    if (!up) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    bool fresh = up->cap == 0;
    if (fresh) {
        up->big = big;
        up->total = big ? total : 0;
    } else if (up->big != big || (big && up->total != total)) {
        reply_err(r, 400, "FILE_PARTS_INVALID");
        return;
    }
    if (big && !last) {
        for (uint32_t i = 0; i < up->cap; i++)
            if (up->parts[i] && (int32_t)i != total - 1 && up->part_len[i] != bytes.len) {
                reply_err(r, 400, "FILE_PART_SIZE_CHANGED");
                return;
            }
    }
    if (srv->upload_bytes + bytes.len > UPLOAD_CAP) {
        reply_err(r, 420, "FLOOD_WAIT_60");
        return;
    }
    if ((uint32_t)part >= up->cap) {
        uint32_t cap = up->cap ? up->cap : 4;
        while (cap <= (uint32_t)part)
            cap *= 2;
        if (cap > MAX_PARTS)
            cap = MAX_PARTS;
        uint8_t **p = realloc(up->parts, cap * sizeof *p);
        if (p)
            up->parts = p;
        uint32_t *l = p ? realloc(up->part_len, cap * sizeof *l) : NULL;
        if (!p || !l) {
            reply_err(r, 500, "INTERNAL");
            return;
        }
        up->part_len = l;
        for (uint32_t i = up->cap; i < cap; i++) {
            up->parts[i] = NULL;
            up->part_len[i] = 0;
        }
        up->cap = cap;
    }
    uint8_t *copy = malloc(bytes.len);
    if (!copy) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    memcpy(copy, bytes.ptr, bytes.len);
    if (up->parts[part]) {
        up->bytes -= up->part_len[part];
        srv->upload_bytes -= up->part_len[part];
        free(up->parts[part]);
    }
    up->parts[part] = copy;
    up->part_len[part] = (uint32_t)bytes.len;
    up->bytes += bytes.len;
    srv->upload_bytes += bytes.len;
    up->touched = r->now;
    reply_bool(r, true);
}

static void h_saveFilePart(srv_req_t *r, const void *qv)
{
    const mtp_upload_saveFilePart_t *q = qv;
    store_part(r, q->file_id, q->file_part, 0, q->bytes, false);
}

static void h_saveBigFilePart(srv_req_t *r, const void *qv)
{
    const mtp_upload_saveBigFilePart_t *q = qv;
    store_part(r, q->file_id, q->file_part, q->file_total_parts, q->bytes, true);
}

static void h_getFile(srv_req_t *r, const void *qv)
{
    const mtp_upload_getFile_t *q = qv;
    int64_t off = q->offset;
    int32_t lim = q->limit;
    if (q->precise) {
        if (lim <= 0 || lim % 1024 || lim > MIB) {
            reply_err(r, 400, "LIMIT_INVALID");
            return;
        }
        if (off < 0 || off % 1024) {
            reply_err(r, 400, "OFFSET_INVALID");
            return;
        }
    } else {
        if (lim <= 0 || lim % 4096 || MIB % lim) {
            reply_err(r, 400, "LIMIT_INVALID");
            return;
        }
        if (off < 0 || off % 4096) {
            reply_err(r, 400, "OFFSET_INVALID");
            return;
        }
    }
    if (off % MIB + lim > MIB) {   /* must stay inside one 1 MiB chunk */
        reply_err(r, 400, "LIMIT_INVALID");
        return;
    }
    const mtp_tl_object_t *loc = q->location;
    if (!loc || loc->tl != &mtp_tlc_inputDocumentFileLocation) {
        reply_err(r, 400, "LOCATION_INVALID");
        return;
    }
    const mtp_inputDocumentFileLocation_t *l = (const void *)loc;
    srv_doc_t *d = srv_doc_find(r->srv, l->id);
    if (!d || d->access_hash != l->access_hash) {
        reply_err(r, 400, "FILE_ID_INVALID");
        return;
    }
    if (l->thumb_size.len) {
        reply_err(r, 400, "LOCATION_INVALID");
        return;
    }
    if (d->dc != r->dc) {
        reply_errf(r, 303, "FILE_MIGRATE_%lld", d->dc);
        return;
    }
    if (l->file_reference.len != sizeof d->file_ref ||
        memcmp(l->file_reference.ptr, d->file_ref, sizeof d->file_ref)) {
        reply_err(r, 400, "FILE_REFERENCE_EXPIRED");
        return;
    }
    size_t n = 0;
    if (off < d->size)
        n = (size_t)(d->size - off < lim ? d->size - off : lim);
    mtp_buf_t *pb = &r->srv->part_buf;   /* n <= 1 MiB: kept for the next part */
    mtp_buf_clear(pb);
    uint8_t *data = mtp_buf_reserve(pb, n ? n : 1) ? NULL : pb->data;
    if (!data || srv_doc_read(d, off, n, data)) {
        reply_err(r, 500, "FILE_READ_FAILED");
        return;
    }
    mtp_upload_file_t *f = MTP_NEW(r->arena, upload_file);
    mtp_storage_fileUnknown_t *t = MTP_NEW(r->arena, storage_fileUnknown);
    if (!f || !t) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    f->type = &t->_;
    f->mtime = d->date;
    f->bytes = (mtp_bytes_t){ data, n };
    r->no_gzip = true;   /* as Telegram: file parts are never gzip_packed */
    reply_obj(r, &f->_);
}

/* ------------------------------------------------------------------------------------ */
/* dispatch                                                                             */
/* ------------------------------------------------------------------------------------ */

enum { A_NONE = 0, A_AUTH = 1, A_TEMP_OK = 2 };

typedef struct handler {
    const mtp_tl_comb_t *c;
    void (*fn)(srv_req_t *r, const void *q);
    unsigned flags;             /* A_NONE: no login needed; A_AUTH: login needed;
                                   A_TEMP_OK: allowed on an unbound temporary key */
} handler_t;

static const handler_t handlers[] = {
    { &mtp_tlc_help_getConfig, h_getConfig, A_NONE | A_TEMP_OK },
    { &mtp_tlc_help_getNearestDc, h_getNearestDc, A_NONE | A_TEMP_OK },
    { &mtp_tlc_help_getCdnConfig, h_getCdnConfig, A_NONE },
    { &mtp_tlc_help_getAppConfig, h_getAppConfig, A_NONE },
    { &mtp_tlc_auth_sendCode, h_sendCode, A_NONE },
    { &mtp_tlc_auth_signIn, h_signIn, A_NONE },
    { &mtp_tlc_auth_signUp, h_signUp, A_NONE },
    { &mtp_tlc_account_getPassword, h_getPassword, A_NONE },
    { &mtp_tlc_auth_checkPassword, h_checkPassword, A_NONE },
    { &mtp_tlc_auth_importBotAuthorization, h_importBot, A_NONE },
    { &mtp_tlc_auth_exportAuthorization, h_exportAuth, A_AUTH },
    { &mtp_tlc_auth_importAuthorization, h_importAuth, A_NONE },
    { &mtp_tlc_auth_logOut, h_logOut, A_AUTH },
    { &mtp_tlc_auth_bindTempAuthKey, h_bindTemp, A_NONE | A_TEMP_OK },
    { &mtp_tlc_users_getUsers, h_getUsers, A_AUTH },
    { &mtp_tlc_users_getFullUser, h_getFullUser, A_AUTH },
    { &mtp_tlc_contacts_resolveUsername, h_resolveUsername, A_AUTH },
    { &mtp_tlc_account_updateStatus, h_updateStatus, A_AUTH },
    { &mtp_tlc_messages_sendMessage, h_sendMessage, A_AUTH },
    { &mtp_tlc_messages_sendMedia, h_sendMedia, A_AUTH },
    { &mtp_tlc_messages_getHistory, h_getHistory, A_AUTH },
    { &mtp_tlc_messages_getDialogs, h_getDialogs, A_AUTH },
    { &mtp_tlc_messages_getPeerDialogs, h_getPeerDialogs, A_AUTH },
    { &mtp_tlc_updates_getState, h_getState, A_AUTH },
    { &mtp_tlc_updates_getDifference, h_getDifference, A_AUTH },
    { &mtp_tlc_updates_getChannelDifference, h_getChannelDifference, A_AUTH },
    { &mtp_tlc_channels_createChannel, h_createChannel, A_AUTH },
    { &mtp_tlc_channels_inviteToChannel, h_inviteToChannel, A_AUTH },
    { &mtp_tlc_upload_saveFilePart, h_saveFilePart, A_AUTH },
    { &mtp_tlc_upload_saveBigFilePart, h_saveBigFilePart, A_AUTH },
    { &mtp_tlc_upload_getFile, h_getFile, A_AUTH },
};

/* Methods without a handler that need no login (so they answer METHOD_NOT_IMPLEMENTED
 * rather than AUTH_KEY_UNREGISTERED). */
static bool open_method(const char *name)
{
    return strncmp(name, "help.", 5) == 0 || strncmp(name, "langpack.", 9) == 0 ||
           (strncmp(name, "auth.", 5) == 0 && strcmp(name, "auth.resetAuthorizations") != 0);
}

static void trace_layer(srv_conn_t *sc, srv_key_t *k, const mtp_query_info_t *info)
{
    mtp_buf_t *b = srv_trace_begin(sc->srv, "layer", sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"layer\":%d", k->id, k->layer);
    if (info->wrappers & MTP_WRAP_INIT) {
        mtp_buf_printf(b, ",\"api_id\":%d,\"device_model\":", info->api_id);
        srv_json_str(b, info->device_model.ptr, info->device_model.len);
        mtp_buf_printf(b, ",\"system_version\":");
        srv_json_str(b, info->system_version.ptr, info->system_version.len);
        mtp_buf_printf(b, ",\"app_version\":");
        srv_json_str(b, info->app_version.ptr, info->app_version.len);
        mtp_buf_printf(b, ",\"lang_code\":");
        srv_json_str(b, info->lang_code.ptr, info->lang_code.len);
    }
    srv_trace_end(sc->srv);
}

static void copy_field(char *dst, size_t cap, mtp_bytes_t v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = v.ptr[i] >= 0x20 && v.ptr[i] != 0x7f ? (char)v.ptr[i] : '?';
    dst[n] = 0;
}

static void note_wrappers(srv_conn_t *sc, srv_key_t *k, const mtp_query_info_t *info)
{
    bool changed = false;
    if ((info->wrappers & MTP_WRAP_LAYER) && info->layer != k->layer) {
        k->layer = info->layer;
        changed = true;
    }
    if (info->wrappers & MTP_WRAP_INIT) {
        k->api_id = info->api_id;
        copy_field(k->device_model, sizeof k->device_model, info->device_model);
        copy_field(k->system_version, sizeof k->system_version, info->system_version);
        copy_field(k->app_version, sizeof k->app_version, info->app_version);
        copy_field(k->lang_code, sizeof k->lang_code, info->lang_code);
        changed = true;
    }
    if (changed) {
        if (!k->temp)
            sc->srv->dirty_keys = true;
        trace_layer(sc, k, info);
    }
    if (!(info->wrappers & MTP_WRAP_WITHOUT_UPDATES))
        sc->updates = true;
}

static void trace_in(srv_req_t *r, const mtp_session_event_t *ev, const mtp_tl_object_t *obj,
                     const char *error)
{
    mtp_buf_t *b = srv_trace_begin(r->srv, "in", r->sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"session_id\":\"%" PRId64
                   "\",\"msg_id\":\"%" PRId64 "\",\"seq_no\":%d,\"layer\":%d,\"wrappers\":[",
                   r->key->id, r->ss->session_id, ev->msg_id, (int)srv_sess_seq_no(r->ss, ev->msg_id),
                   r->layer);
    static const char *const names[] = { "invokeWithLayer", "initConnection", "invokeAfterMsg",
                                         "invokeAfterMsgs", "invokeWithoutUpdates",
                                         "invokeWithTakeout", "invokeWithMessagesRange",
                                         "invokeWithBusinessConnection", "invokeWithIntegrity" };
    bool first = true;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ev->info.wrappers & (1u << i)) {
            mtp_buf_printf(b, "%s\"%s\"", first ? "" : ",", names[i]);
            first = false;
        }
    mtp_buf_printf(b, "],\"body\":");
    size_t mark = b->len;
    if (obj && mtp_tl_to_json(obj, b) == 0) {
        /* written */
    } else {
        b->len = mark;
        b->err = 0;
        uint32_t id = 0;
        if (ev->body.len >= 4)
            id = (uint32_t)ev->body.ptr[0] | (uint32_t)ev->body.ptr[1] << 8 |
                 (uint32_t)ev->body.ptr[2] << 16 | (uint32_t)ev->body.ptr[3] << 24;
        mtp_buf_printf(b, "{\"_\":\"undecodable\",\"id\":\"%08x\",\"bytes\":%zu,\"error\":", id,
                       ev->body.len);
        srv_json_cstr(b, error ? error : "?");
        mtp_buf_putc(b, '}');
    }
    srv_trace_end(r->srv);
}

static void trace_fault(srv_req_t *r, const char *what, const srv_fault_t *f)
{
    mtp_buf_t *b = srv_trace_begin(r->srv, "fault", r->sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"fault\":\"%s\",\"method\":", what);
    srv_json_cstr(b, r->method);
    if (f->kind == FAULT_RPC) {
        mtp_buf_printf(b, ",\"error_code\":%d,\"error_message\":", f->code);
        srv_json_cstr(b, f->message);
    } else {
        mtp_buf_printf(b, ",\"delay_ms\":%" PRId64, (int64_t)(f->delay / 1000));
    }
    srv_trace_end(r->srv);
}

static void destroy_auth_key(srv_req_t *r)
{
    srv_key_t *k = r->key;
    uint8_t body[4];
    uint32_t id = MTP_ID_mt_destroy_auth_key_ok;
    for (int i = 0; i < 4; i++)
        body[i] = (uint8_t)(id >> (8 * i));
    r->replied = true;
    mtp_session_send_raw(r->ss->s, body, 4, MTP_SEND_ANSWER, r->now);
    mtp_conn_flush(r->sc->c, r->now);
    mtp_buf_t *b = srv_trace_begin(r->srv, "destroy_auth_key", r->sc);
    if (b) {
        mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\"", k->id);
        srv_trace_end(r->srv);
    }
    int64_t id64 = k->id;
    srv_key_destroy(r->srv, k);
    srv_close_key_conns(r->srv, id64);
}

void srv_handle_query(srv_conn_t *sc, srv_sess_t *ss, const mtp_session_event_t *ev,
                      mtp_usec_t now)
{
    srv_t *srv = sc->srv;
    srv_key_t *k = ss->key;
    if (k->destroyed)
        return;
    SRV_STAT(srv, queries, 1);
    note_wrappers(sc, k, &ev->info);

    srv_req_t r;
    memset(&r, 0, sizeof r);
    r.srv = srv;
    r.sc = sc;
    r.ss = ss;
    r.key = k;
    r.dc = sc->dc->id;
    r.req_msg_id = ev->msg_id;
    r.now = now;
    r.L = srv_layer_table(k->layer, &r.layer);
    r.arena = mtp_arena_new(0);
    r.method = "?";
    if (!r.arena || !r.L) {
        reply_err(&r, 500, "INTERNAL");
        mtp_arena_free(r.arena);
        return;
    }

    /* decode in the client's layer */
    mtp_tl_reader_t rd;
    mtp_tl_reader_init(&rd, r.L, ev->body.ptr, ev->body.len, r.arena);
    mtp_tl_object_t *obj = NULL;
    int rc = mtp_tl_decode_reader(&rd, &obj);
    if (!rc && (!obj || !obj->tl->is_method))
        rc = MTP_ETYPE;
    if (rc) {
        uint32_t id = ev->body.len >= 4 ? (uint32_t)ev->body.ptr[0] |
                                              (uint32_t)ev->body.ptr[1] << 8 |
                                              (uint32_t)ev->body.ptr[2] << 16 |
                                              (uint32_t)ev->body.ptr[3] << 24
                                        : 0;
        char msg[64], why[128];
        if ((rc == MTP_EUNKNOWN_ID && rd.err_off == 0) || rc == MTP_ETYPE)
            snprintf(msg, sizeof msg, "INPUT_METHOD_INVALID_%u", id);
        else if (rc == MTP_EUNKNOWN_ID)
            snprintf(msg, sizeof msg, "INPUT_CONSTRUCTOR_INVALID_%u", rd.err_id);
        else
            snprintf(msg, sizeof msg, "INPUT_FETCH_ERROR");
        mtp_tl_reader_strerror(&rd, why, sizeof why);
        trace_in(&r, ev, NULL, why);
        mtp_buf_t *b = srv_trace_begin(srv, "violation", sc);
        if (b) {
            mtp_buf_printf(b, ",\"auth_key_id\":\"%" PRId64 "\",\"msg_id\":\"%" PRId64
                           "\",\"error\":\"undecodable query\",\"detail\":",
                           k->id, ev->msg_id);
            srv_json_cstr(b, why);
            srv_trace_end(srv);
        }
        reply_err(&r, 400, msg);
        mtp_arena_free(r.arena);
        return;
    }
    trace_in(&r, ev, obj, NULL);
    r.method = obj->tl->name;

    if (obj->tl == &mtp_tlc_mt_destroy_auth_key) {
        destroy_auth_key(&r);
        mtp_arena_free(r.arena);
        return;
    }

    /* faults */
    srv_fault_t f;
    if (srv_fault_take(srv, FAULT_DELAY, r.method, &f)) {
        SRV_STAT(srv, faults_injected, 1);
        trace_fault(&r, "delay", &f);
        r.delay = f.delay;
    }
    if (srv_fault_take(srv, FAULT_RPC, r.method, &f)) {
        SRV_STAT(srv, faults_injected, 1);
        trace_fault(&r, "rpc_error", &f);
        reply_err(&r, f.code, f.message);
        mtp_arena_free(r.arena);
        return;
    }

    /* to layer 228 */
    mtp_tl_object_t *q = obj;
    if (r.layer != MTP_TL_DEFAULT_LAYER &&
        mtp_tl_convert(obj, mtp_tl_layer(MTP_TL_DEFAULT_LAYER), r.arena, &q)) {
        q = NULL;
    }
    const handler_t *h = NULL;
    for (size_t i = 0; q && i < sizeof handlers / sizeof handlers[0]; i++)
        if (handlers[i].c == q->tl) {
            h = &handlers[i];
            break;
        }

    bool logged_in = srv_key_user(srv, k) != 0;
    bool pending_2fa = k->pw_user && (h && (h->fn == h_getPassword || h->fn == h_checkPassword));
    if (k->temp && !k->perm_id && !(h && (h->flags & A_TEMP_OK))) {
        reply_err(&r, 401, "AUTH_KEY_PERM_EMPTY");
    } else if (!logged_in && !pending_2fa &&
               (h ? (h->flags & A_AUTH) || h->fn == h_getPassword : !open_method(r.method))) {
        reply_err(&r, 401, "AUTH_KEY_UNREGISTERED");
    } else if (!h) {
        reply_err(&r, 400, "METHOD_NOT_IMPLEMENTED");
    } else {
        h->fn(&r, q);
        if (!r.replied)
            reply_err(&r, 500, "INTERNAL");
    }
    mtp_arena_free(r.arena);
}
