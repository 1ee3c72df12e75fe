/*
 * libmtproto — RPC error parsing (PROTOCOL.md §6) and the invoke wrappers of §7.1/§7.5:
 * building invokeWithLayer(initConnection(...)) / invokeAfterMsg for the client, and
 * stripping them from incoming queries for the server.
 */
#include <mtproto/session.h>

#include <string.h>

#include <mtproto/tl_mtproto.h>
#include <mtproto/tl_schema.h>

#include "session_int.h"

/* ---------------------------------------------------------------------------------- */
/* rpc_error                                                                          */
/* ---------------------------------------------------------------------------------- */

static bool name_is(mtp_bytes_t n, const char *s)
{
    size_t l = strlen(s);
    return n.len == l && memcmp(n.ptr, s, l) == 0;
}

static bool parse_digits(const uint8_t *p, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

mtp_rpc_error_kind_t mtp_rpc_error_parse(int32_t code, const uint8_t *msg, size_t len,
                                         mtp_rpc_error_t *out)
{
    static const struct { const char *name; mtp_rpc_error_kind_t kind; } known[] = {
        { "FLOOD_WAIT", MTP_RPCERR_FLOOD_WAIT },
        { "FLOOD_PREMIUM_WAIT", MTP_RPCERR_FLOOD_PREMIUM_WAIT },
        { "SLOWMODE_WAIT", MTP_RPCERR_SLOWMODE_WAIT },
        { "TAKEOUT_INIT_DELAY", MTP_RPCERR_TAKEOUT_INIT_DELAY },
        { "2FA_CONFIRM_WAIT", MTP_RPCERR_2FA_CONFIRM_WAIT },
        { "PHONE_MIGRATE", MTP_RPCERR_PHONE_MIGRATE },
        { "NETWORK_MIGRATE", MTP_RPCERR_NETWORK_MIGRATE },
        { "USER_MIGRATE", MTP_RPCERR_USER_MIGRATE },
        { "FILE_MIGRATE", MTP_RPCERR_FILE_MIGRATE },
        { "STATS_MIGRATE", MTP_RPCERR_STATS_MIGRATE },
    };
    memset(out, 0, sizeof *out);
    if (!msg)
        len = 0;
    out->code = code;
    out->message.ptr = msg ? msg : (const uint8_t *)"";
    out->message.len = len;
    out->name = out->message;
    out->kind = MTP_RPCERR_OTHER;

    /* trailing "_<digits>" */
    size_t d = 0;
    while (d < len && msg[len - 1 - d] >= '0' && msg[len - 1 - d] <= '9')
        d++;
    int64_t v;
    if (d > 0 && d < len && msg[len - 1 - d] == '_' && parse_digits(msg + len - d, d, &v)) {
        out->has_arg = true;
        out->arg = v;
        out->name.len = len - d - 1;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (name_is(out->name, known[i].name)) {
                out->kind = known[i].kind;
                break;
            }
        return out->kind;
    }
    /* FILE_PART_<digits>_MISSING */
    static const char pre[] = "FILE_PART_", suf[] = "_MISSING";
    size_t lp = sizeof pre - 1, ls = sizeof suf - 1;
    if (len > lp + ls && memcmp(msg, pre, lp) == 0 && memcmp(msg + len - ls, suf, ls) == 0 &&
        parse_digits(msg + lp, len - lp - ls, &v)) {
        out->has_arg = true;
        out->arg = v;
        out->kind = MTP_RPCERR_FILE_PART_MISSING;
    }
    return out->kind;
}

bool mtp_rpc_error_is_wait(mtp_rpc_error_kind_t k)
{
    return k == MTP_RPCERR_FLOOD_WAIT || k == MTP_RPCERR_FLOOD_PREMIUM_WAIT ||
           k == MTP_RPCERR_SLOWMODE_WAIT || k == MTP_RPCERR_TAKEOUT_INIT_DELAY ||
           k == MTP_RPCERR_2FA_CONFIRM_WAIT;
}

bool mtp_rpc_error_is_migrate(mtp_rpc_error_kind_t k)
{
    return k == MTP_RPCERR_PHONE_MIGRATE || k == MTP_RPCERR_NETWORK_MIGRATE ||
           k == MTP_RPCERR_USER_MIGRATE || k == MTP_RPCERR_FILE_MIGRATE ||
           k == MTP_RPCERR_STATS_MIGRATE;
}

/* ---------------------------------------------------------------------------------- */
/* wrappers (client)                                                                  */
/* ---------------------------------------------------------------------------------- */

static bool query_ok(const uint8_t *q, size_t len)
{
    return q && len >= 4 && len % 4 == 0 && len <= MTP_ENC_BODY_MAX;
}

static void put_cstr(mtp_buf_t *b, const char *s)
{
    if (!s)
        s = "";
    ses_buf_tlbytes(b, (const uint8_t *)s, strlen(s));
}

int mtp_wrap_init_connection(const mtp_init_connection_t *p, const uint8_t *query, size_t len,
                             mtp_buf_t *out)
{
    if (!p || !out || !query_ok(query, len) || (p->params && (p->params_len < 4 ||
                                                             p->params_len % 4)))
        return MTP_EINVAL;
    size_t start = out->len;
    int err0 = out->err;
    uint32_t flags = (p->proxy_address ? 1u : 0u) | (p->params ? 2u : 0u);
    ses_buf_u32(out, MTP_ID_invokeWithLayer);
    ses_buf_u32(out, (uint32_t)p->layer);
    ses_buf_u32(out, MTP_ID_initConnection);
    ses_buf_u32(out, flags);
    ses_buf_u32(out, (uint32_t)p->api_id);
    put_cstr(out, p->device_model);
    put_cstr(out, p->system_version);
    put_cstr(out, p->app_version);
    put_cstr(out, p->system_lang_code);
    put_cstr(out, p->lang_pack);
    put_cstr(out, p->lang_code);
    if (p->proxy_address) {
        ses_buf_u32(out, MTP_ID_inputClientProxy);
        put_cstr(out, p->proxy_address);
        ses_buf_u32(out, (uint32_t)p->proxy_port);
    }
    if (p->params)
        mtp_buf_append(out, p->params, p->params_len);
    mtp_buf_append(out, query, len);
    if (out->err && !err0) {
        int e = out->err;
        out->len = start;
        out->err = 0;
        return e;
    }
    return out->err ? out->err : 0;
}

int mtp_wrap_invoke_after(int64_t msg_id, const uint8_t *query, size_t len, mtp_buf_t *out)
{
    if (!out || !query_ok(query, len))
        return MTP_EINVAL;
    size_t start = out->len;
    ses_buf_u32(out, MTP_ID_invokeAfterMsg);
    ses_buf_i64(out, msg_id);
    mtp_buf_append(out, query, len);
    if (out->err) {
        out->len = start;
        return out->err;
    }
    return 0;
}

int mtp_wrap_without_updates(const uint8_t *query, size_t len, mtp_buf_t *out)
{
    if (!out || !query_ok(query, len))
        return MTP_EINVAL;
    size_t start = out->len;
    ses_buf_u32(out, MTP_ID_invokeWithoutUpdates);
    mtp_buf_append(out, query, len);
    if (out->err) {
        out->len = start;
        return out->err;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* unwrapping (server)                                                                */
/* ---------------------------------------------------------------------------------- */

#define JSON_MAX_DEPTH 32

static void skip_json(mtp_tl_reader_t *r, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        mtp_tl_reader_fail(r, MTP_EDEPTH);
        return;
    }
    uint32_t id = mtp_tl_read_nat(r);
    switch (id) {
    case MTP_ID_jsonNull:
        break;
    case MTP_ID_jsonBool:
        (void)mtp_tl_read_bool(r);
        break;
    case MTP_ID_jsonNumber:
        (void)mtp_tl_read_long(r);
        break;
    case MTP_ID_jsonString:
        (void)mtp_tl_read_bytes(r);
        break;
    case MTP_ID_jsonArray:
    case MTP_ID_jsonObject: {
        if (mtp_tl_read_nat(r) != MTP_TL_ID_VECTOR) {
            mtp_tl_reader_fail(r, MTP_EBADTL);
            return;
        }
        uint32_t n = mtp_tl_read_nat(r);
        if ((size_t)n * 4 > (size_t)(r->end - r->p)) {
            mtp_tl_reader_fail(r, MTP_ETRUNC);
            return;
        }
        for (uint32_t i = 0; i < n && !r->err; i++) {
            if (id == MTP_ID_jsonObject) {
                if (mtp_tl_read_nat(r) != MTP_ID_jsonObjectValue) {
                    mtp_tl_reader_fail(r, MTP_EBADTL);
                    return;
                }
                (void)mtp_tl_read_bytes(r);
            }
            skip_json(r, depth + 1);
        }
        break;
    }
    default:
        mtp_tl_reader_fail(r, r->err ? r->err : MTP_EBADTL);
    }
}

#define UNWRAP_MAX_DEPTH 16

int mtp_query_unwrap(const uint8_t *body, size_t len, mtp_query_info_t *info)
{
    if (!info)
        return MTP_EINVAL;
    memset(info, 0, sizeof *info);
    if (!body && len)
        return MTP_EINVAL;
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, NULL, body, len, NULL);
    r.borrow = true;
    for (int depth = 0;; depth++) {
        if (depth > UNWRAP_MAX_DEPTH)
            return MTP_EDEPTH;
        if (r.end - r.p < 4)
            return MTP_ETRUNC;
        const uint8_t *at = r.p;
        uint32_t id = ses_get32(at);
        switch (id) {
        case MTP_ID_invokeWithLayer:
            r.p += 4;
            info->layer = mtp_tl_read_int(&r);
            info->wrappers |= MTP_WRAP_LAYER;
            break;
        case MTP_ID_initConnection: {
            r.p += 4;
            uint32_t flags = mtp_tl_read_nat(&r);
            info->api_id = mtp_tl_read_int(&r);
            info->device_model = mtp_tl_read_bytes(&r);
            info->system_version = mtp_tl_read_bytes(&r);
            info->app_version = mtp_tl_read_bytes(&r);
            info->system_lang_code = mtp_tl_read_bytes(&r);
            info->lang_pack = mtp_tl_read_bytes(&r);
            info->lang_code = mtp_tl_read_bytes(&r);
            if (flags & 1u) {
                if (mtp_tl_read_nat(&r) != MTP_ID_inputClientProxy && !r.err)
                    mtp_tl_reader_fail(&r, MTP_EBADTL);
                info->has_proxy = true;
                info->proxy_address = mtp_tl_read_bytes(&r);
                info->proxy_port = mtp_tl_read_int(&r);
            }
            if (flags & 2u) {
                const uint8_t *p0 = r.p;
                skip_json(&r, 0);
                if (!r.err) {
                    info->params.ptr = p0;
                    info->params.len = (size_t)(r.p - p0);
                }
            }
            info->wrappers |= MTP_WRAP_INIT;
            break;
        }
        case MTP_ID_invokeAfterMsg:
            r.p += 4;
            if (r.end - r.p < 8)
                return MTP_ETRUNC;
            info->after_raw = r.p;
            info->n_after = 1;
            r.p += 8;
            info->wrappers |= MTP_WRAP_AFTER_MSG;
            break;
        case MTP_ID_invokeAfterMsgs: {
            r.p += 4;
            if (mtp_tl_read_nat(&r) != MTP_TL_ID_VECTOR && !r.err)
                return MTP_EBADTL;
            uint32_t n = mtp_tl_read_nat(&r);
            if (r.err)
                break;
            if ((size_t)n > (size_t)(r.end - r.p) / 8)
                return MTP_ETRUNC;
            info->after_raw = r.p;
            info->n_after = n;
            r.p += (size_t)n * 8;
            info->wrappers |= MTP_WRAP_AFTER_MSGS;
            break;
        }
        case MTP_ID_invokeWithoutUpdates:
            r.p += 4;
            info->wrappers |= MTP_WRAP_WITHOUT_UPDATES;
            break;
        case MTP_ID_invokeWithTakeout:
            r.p += 4;
            info->takeout_id = mtp_tl_read_long(&r);
            info->wrappers |= MTP_WRAP_TAKEOUT;
            break;
        case MTP_ID_invokeWithMessagesRange:
            r.p += 4;
            if (mtp_tl_read_nat(&r) != MTP_ID_messageRange && !r.err)
                return MTP_EBADTL;
            (void)mtp_tl_read_int(&r);
            (void)mtp_tl_read_int(&r);
            info->wrappers |= MTP_WRAP_MESSAGES_RANGE;
            break;
        case MTP_ID_invokeWithBusinessConnection:
            r.p += 4;
            (void)mtp_tl_read_bytes(&r);
            info->wrappers |= MTP_WRAP_BUSINESS;
            break;
        case MTP_ID_invokeWithGooglePlayIntegrity:
        case MTP_ID_invokeWithApnsSecret:
            r.p += 4;
            (void)mtp_tl_read_bytes(&r);
            (void)mtp_tl_read_bytes(&r);
            info->wrappers |= MTP_WRAP_INTEGRITY;
            break;
        case MTP_ID_invokeWithReCaptcha:
            r.p += 4;
            (void)mtp_tl_read_bytes(&r);
            info->wrappers |= MTP_WRAP_INTEGRITY;
            break;
        default:
            info->query.ptr = at;
            info->query.len = (size_t)(r.end - at);
            info->query_id = id;
            info->gzipped = id == MTP_ID_mt_gzip_packed;
            return 0;
        }
        if (r.err)
            return r.err;
    }
}

int64_t mtp_query_after_id(const mtp_query_info_t *info, uint32_t i)
{
    if (!info || i >= info->n_after || !info->after_raw)
        return 0;
    return ses_get64(info->after_raw + (size_t)i * 8);
}
