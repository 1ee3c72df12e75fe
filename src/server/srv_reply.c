/*
 * libmtproto harness — what every API area shares: small builders, the replies (error,
 * object, Bool, bare vector; immediate or delayed), the layer-228 objects (user, message,
 * document, authorization), input resolution (InputUser / InputPeer), and the context a
 * push is built in. Declared in srv_api_int.h.
 */
#include "srv_api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* small builders                                                                       */
/* ------------------------------------------------------------------------------------ */

mtp_bytes_t cs(const char *s)
{
    return (mtp_bytes_t){ (const uint8_t *)s, s ? strlen(s) : 0 };
}

bool vec_new(mtp_arena_t *a, mtp_vec_obj_t *v, size_t n)
{
    v->n = 0;
    v->v = NULL;
    if (!n)
        return true;
    v->v = mtp_arena_alloc(a, n * sizeof *v->v);
    return v->v != NULL;
}

void vec_push(mtp_vec_obj_t *v, void *o)
{
    if (o)
        v->v[v->n++] = o;
}

bool bytes_eq(mtp_bytes_t b, const char *s)
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

/* The outcome of r for later invokeAfterMsg(s) naming it (due: when its answer leaves). */
static void note_done(srv_req_t *r, bool failed, mtp_usec_t due)
{
    srv_sess_t *ss = r->ss;
    unsigned i = ss->done_next++ % SRV_SEQ_RING;
    ss->done_msg[i] = r->req_msg_id;
    ss->done_failed[i] = failed;
    ss->done_due[i] = due;
}

static mtp_usec_t delayed_due(const srv_req_t *r)
{
    mtp_usec_t due = mtp_mono_usec() + r->delay;
    return due < r->due_min ? r->due_min : due;
}

static void queue_delayed(srv_req_t *r, const uint8_t *body, size_t len, int32_t code,
                          const char *msg, mtp_usec_t due)
{
    srv_t *srv = r->srv;
    srv_delayed_t *d = calloc(1, sizeof *d);
    if (!d)
        return;
    d->ss = r->ss;
    d->sc = r->sc;
    r->sc->pending++;
    srv->n_pending++;
    d->req_msg_id = r->req_msg_id;
    d->no_gzip = r->no_gzip;
    d->due = due;   /* the very time noted for invokeAfterMsg (note_done) */
    if (msg) {
        d->is_error = true;
        d->code = code;
        snprintf(d->message, sizeof d->message, "%s", msg);
    } else {
        d->body = malloc(len ? len : 1);
        if (!d->body) {
            r->sc->pending--;
            srv->n_pending--;
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

void reply_err(srv_req_t *r, int32_t code, const char *msg)
{
    if (r->replied)
        return;
    r->replied = true;
    SRV_STAT(r->srv, rpc_errors, 1);
    trace_out(r, NULL, 0, msg, code);
    mtp_usec_t due = r->delay ? delayed_due(r) : 0;
    note_done(r, true, due);
    if (r->delay) {
        queue_delayed(r, NULL, 0, code, msg, due);
        return;
    }
    mtp_session_reply_error(r->ss->s, r->req_msg_id, code, msg, r->now);
    if (!r->sc->in_feed)   /* else on_data flushes once for the whole read: containers */
        mtp_conn_flush(r->sc->c, r->now);
}

void reply_errf(srv_req_t *r, int32_t code, const char *fmt, long long v)
{
    char m[96];
    snprintf(m, sizeof m, fmt, v);
    reply_err(r, code, m);
}

void reply_raw(srv_req_t *r, const uint8_t *body, size_t len, const char *json,
               size_t jlen)
{
    if (r->replied)
        return;
    r->replied = true;
    trace_out(r, json, jlen, NULL, 0);
    mtp_buf_t fx;   /* the fault engine may rewrite the answer */
    mtp_buf_init(&fx);
    body = srv_fx_answer(r, body, &len, &fx);
    mtp_usec_t due = r->delay ? delayed_due(r) : 0;
    note_done(r, false, due);
    if (r->delay) {
        queue_delayed(r, body, len, 0, NULL, due);
        mtp_buf_free(&fx);
        return;
    }
    mtp_session_reply_ex(r->ss->s, r->req_msg_id, body, len, r->no_gzip ? MTP_SESS_NO_GZIP : 0,
                         r->now);
    mtp_buf_free(&fx);
    if (!r->sc->in_feed)
        mtp_conn_flush(r->sc->c, r->now);
}

/* Convert a layer-228 object to the client's layer. */
mtp_tl_object_t *to_client(srv_req_t *r, mtp_tl_object_t *o)
{
    if (!o || r->layer == MTP_TL_DEFAULT_LAYER)
        return o;
    mtp_tl_object_t *out = NULL;
    if (mtp_tl_convert(o, r->L, r->arena, &out))
        return NULL;
    return out;
}

void reply_obj(srv_req_t *r, mtp_tl_object_t *o228)
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

void reply_bool(srv_req_t *r, bool v)
{
    uint8_t b[4];
    uint32_t id = v ? MTP_ID_boolTrue : MTP_ID_boolFalse;
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(id >> (8 * i));
    reply_raw(r, b, 4, v ? "true" : "false", v ? 4 : 5);
}

void reply_vec(srv_req_t *r, const mtp_vec_obj_t *v)
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

int64_t me_id(srv_req_t *r)
{
    return srv_key_user(r->srv, r->key);
}

mtp_tl_object_t *user_obj(srv_req_t *r, const srv_user_t *u)
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

mtp_tl_object_t *user_empty(srv_req_t *r, int64_t id)
{
    mtp_userEmpty_t *o = MTP_NEW(r->arena, userEmpty);
    if (o)
        o->id = id;
    return o ? &o->_ : NULL;
}

mtp_tl_object_t *peer_user(srv_req_t *r, int64_t id)
{
    mtp_peerUser_t *p = MTP_NEW(r->arena, peerUser);
    if (p)
        p->user_id = id;
    return p ? &p->_ : NULL;
}

mtp_tl_object_t *doc_obj(srv_req_t *r, const srv_doc_t *d)
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

mtp_tl_object_t *msg_obj(srv_req_t *r, const srv_msg_t *m)
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
    o->fwd_from = srv_fwd_header(r, m);
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

mtp_tl_object_t *auth_obj(srv_req_t *r, const srv_user_t *u)
{
    mtp_auth_authorization_t *a = MTP_NEW(r->arena, auth_authorization);
    if (!a)
        return NULL;
    a->user = user_obj(r, u);
    return &a->_;
}

mtp_tl_object_t *notify_settings(srv_req_t *r)
{
    mtp_peerNotifySettings_t *n = MTP_NEW(r->arena, peerNotifySettings);
    return n ? &n->_ : NULL;
}

/* ------------------------------------------------------------------------------------ */
/* input resolution                                                                     */
/* ------------------------------------------------------------------------------------ */

srv_user_t *visible_user(srv_req_t *r, int64_t id)
{
    srv_user_t *u = srv_user_find(r->srv, id);
    if (!u && id > 0) {
        char d[24];
        snprintf(d, sizeof d, "%" PRId64, id);
        u = srv_user_by_phone(r->srv, d);
    }
    return u && u->registered ? u : NULL;
}

srv_user_t *input_user(srv_req_t *r, const mtp_tl_object_t *o)
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

srv_user_t *input_peer(srv_req_t *r, const mtp_tl_object_t *o)
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

/* The request-like context a push is built in: the recipient's layer, an arena. */
int push_begin(srv_req_t *r, srv_t *srv, int layer)
{
    memset(r, 0, sizeof *r);
    r->srv = srv;
    r->arena = mtp_arena_new(0);
    r->L = srv_layer_table(layer, &r->layer);
    return r->arena ? 0 : MTP_ENOMEM;
}

/* Encode the push o (layer 228) in the recipient's layer; the context is released. */
int push_end(srv_req_t *r, mtp_tl_object_t *o, mtp_buf_t *out)
{
    int rc = MTP_ENOMEM;
    mtp_tl_object_t *c = o ? to_client(r, o) : NULL;
    if (c)
        rc = mtp_tl_encode(c, out);
    mtp_arena_free(r->arena);
    return rc;
}

void trace_upd_fault(srv_req_t *r, const char *what, int64_t user)
{
    mtp_buf_t *b = srv_trace_begin(r->srv, "fault", r->sc);
    if (!b)
        return;
    mtp_buf_printf(b, ",\"fault\":\"%s\",\"user_id\":\"%" PRId64 "\"", what, user);
    srv_trace_end(r->srv);
}

void add_user_once(srv_req_t *r, mtp_vec_obj_t *v, int64_t *seen, size_t *ns, int64_t id)
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
