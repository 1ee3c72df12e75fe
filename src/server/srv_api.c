/*
 * libmtproto harness — the API: decode each query in the layer its auth key announced,
 * answer it with layer-228 objects converted to that layer (mtp_tl_convert).
 *
 * Order of checks for every query: decode (400 INPUT_METHOD_INVALID_<id> /
 * INPUT_CONSTRUCTOR_INVALID_<id> / INPUT_FETCH_ERROR) -> injected faults -> temporary key
 * not bound (401 AUTH_KEY_PERM_EMPTY) -> not logged in (401 AUTH_KEY_UNREGISTERED) ->
 * the method (400 METHOD_NOT_IMPLEMENTED when there is no handler).
 */
#include "srv_api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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
/* dispatch                                                                             */
/* ------------------------------------------------------------------------------------ */

/*
 * The methods served: one table per area, each in its area's file (srv_auth.c ...), ended
 * by a row with c == NULL. Adding a method to an existing area is one change in that file:
 * its handler and one row { &mtp_tlc_<method>, h_<method>, A_* flags } in its table (the
 * flags and handler_t are in srv_api_int.h). Only a new area file is listed here too.
 */
static const handler_t *const method_tables[] = {
    srv_methods_auth, srv_methods_users, srv_methods_msgs, srv_methods_chan, srv_methods_files,
    srv_methods_hist, srv_methods_act, srv_methods_group,
};

/* The handler of a layer-228 method, or NULL (METHOD_NOT_IMPLEMENTED). */
static const handler_t *srv_method_find(const mtp_tl_comb_t *c)
{
    for (size_t t = 0; t < sizeof method_tables / sizeof method_tables[0]; t++)
        for (const handler_t *h = method_tables[t]; h->c; h++)
            if (h->c == c)
                return h;
    return NULL;
}

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
    mtp_session_send_raw(r->ss->s, body, 4, MTP_SESS_SEND_ANSWER, r->now);
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

/* Longest invokeAfterMsg waits for an earlier answer before MSG_WAIT_TIMEOUT. */
#define AFTER_WAIT_MAX ((mtp_usec_t)60 * MTP_USEC_PER_SEC)

/* invokeAfterMsg(s) of r: true when r was answered here (MSG_WAIT_FAILED: a named query
 * failed; MSG_WAIT_TIMEOUT: its answer would come later than AFTER_WAIT_MAX), else
 * r->due_min is when the last one named is answered (0: all answered already). A msg_id
 * the session does not remember (answered long ago, or never sent) is not waited for. */
static bool after_msgs(srv_req_t *r, const mtp_query_info_t *info)
{
    if (!(info->wrappers & (MTP_WRAP_AFTER_MSG | MTP_WRAP_AFTER_MSGS)))
        return false;
    srv_sess_t *ss = r->ss;
    mtp_usec_t mono = mtp_mono_usec();
    for (uint32_t i = 0; i < info->n_after; i++) {
        int64_t id = mtp_query_after_id(info, i);
        for (unsigned j = 0; j < SRV_SEQ_RING; j++) {
            if (!id || ss->done_msg[j] != id)
                continue;
            if (ss->done_failed[j]) {   /* after that failure's own answer */
                if (ss->done_due[j] > mono) {
                    r->due_min = ss->done_due[j] + 1;
                    r->delay = 1;
                }
                reply_err(r, 400, "MSG_WAIT_FAILED");
                return true;
            }
            if (ss->done_due[j] > mono + AFTER_WAIT_MAX) {
                reply_err(r, 400, "MSG_WAIT_TIMEOUT");
                return true;
            }
            if (ss->done_due[j] > mono && ss->done_due[j] + 1 > r->due_min)
                r->due_min = ss->done_due[j] + 1;
        }
    }
    return false;
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
    srv_sess_note_method(ss, ev->msg_id, obj->tl);

    if (obj->tl == &mtp_tlc_mt_destroy_auth_key) {
        destroy_auth_key(&r);
        mtp_arena_free(r.arena);
        return;
    }

    /* invokeAfterMsg(s): a failed one fails this; one still to be answered holds this
     * answer back until after it */
    if (after_msgs(&r, &ev->info)) {
        mtp_arena_free(r.arena);
        return;
    }

    /* faults */
    if (srv_fx_query(&r)) {
        srv_fx_after(&r);
        mtp_arena_free(r.arena);
        return;
    }
    srv_fault_t f;
    if (srv_fault_take(srv, FAULT_DELAY, r.method, &f)) {
        SRV_STAT(srv, faults_injected, 1);
        trace_fault(&r, "delay", &f);
        r.delay = f.delay;
    }
    if ((r.delay || r.due_min) && (sc->pending >= srv->cfg.limits.pending_per_conn ||
                                   srv->n_pending >= srv->cfg.limits.pending)) {
        SRV_STAT(srv, limit_pending, 1);   /* answers held back: budget spent */
        r.delay = r.due_min = 0;
        reply_err(&r, 420, "FLOOD_WAIT_1");
        mtp_arena_free(r.arena);
        return;
    }
    if (r.due_min && !r.delay)
        r.delay = 1;   /* answered through the delayed queue, after what it waits for */
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
    const handler_t *h = q ? srv_method_find(q->tl) : NULL;

    bool logged_in = srv_key_user(srv, k) != 0;
    bool pending_2fa = k->pw_user && h && (h->flags & A_2FA);
    if (k->temp && !k->perm_id && !(h && (h->flags & A_TEMP_OK))) {
        reply_err(&r, 401, "AUTH_KEY_PERM_EMPTY");
    } else if (!logged_in && !pending_2fa &&
               (h ? (h->flags & A_AUTH) : !open_method(r.method))) {
        reply_err(&r, 401, "AUTH_KEY_UNREGISTERED");
    } else if (!h) {
        reply_err(&r, 400, "METHOD_NOT_IMPLEMENTED");
    } else {
        h->fn(&r, q);
        if (!r.replied)
            reply_err(&r, 500, "INTERNAL");
    }
    srv_fx_after(&r);
    mtp_arena_free(r.arena);
}
