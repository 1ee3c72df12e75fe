/*
 * libmtproto client — sessions of other libraries (see include/mtproto/session_formats.h):
 * the string formats of Telethon, Pyrogram, GramJS and mtcute, a bounded reader of the
 * SQLite file format for the Telethon / Pyrogram `.session` files, and the glue to the
 * client's session store.
 *
 * Layouts (facts of the formats):
 *  - Telethon StringSession: '1' + urlsafe base64 (padded) of dc_id:u8, ip:4|16 bytes,
 *    port:u16 BE, auth_key:256.
 *  - Pyrogram: urlsafe base64 without padding of dc_id:u8, api_id:u32 BE, test_mode:u8,
 *    auth_key:256, user_id:u64 BE, is_bot:u8 (271 bytes); the older 263-byte (dc, test,
 *    key, user:u32, bot) and 267-byte (dc, test, key, user:u64, bot) ones load.
 *  - GramJS StringSession: '1' + base64 of dc_id:u8, len:u16 BE, address, port:u16 BE,
 *    auth_key:256 (the Telethon IPv4 layout also loads, as GramJS does).
 *  - mtcute (version 3): urlsafe base64 of version:u8 = 3, flags:i32 LE (1 self, 4 media DC),
 *    bytes(dc option), [bytes(media dc option)], [user_id:i64 LE, Bool is_bot], bytes(key);
 *    a dc option is version:u8 (1|2), id:u8, flags:u8 (1 ipv6, 2 media, 4 test), string ip,
 *    port:i32 LE; bytes/strings are TL-serialized.
 *  - SQLite: table `sessions`; Telethon (dc_id, server_address, port, auth_key, ...),
 *    Pyrogram (dc_id, api_id, test_mode, auth_key, date, user_id, is_bot).
 */
#define _GNU_SOURCE
#include "client_core.h"

#include <mtproto/session_formats.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SF_MAX_TEXT 4096            /* no string session is longer */

int mtp_session_format_from_name(const char *name)
{
    static const char *names[] = { NULL, "telethon", "pyrogram", "gramjs", "mtcute" };
    for (int i = 1; name && i < 5; i++)
        if (!strcmp(name, names[i]))
            return i;
    return 0;
}

const char *mtp_session_format_name(int fmt)
{
    switch (fmt) {
    case MTP_SESSION_FMT_TELETHON: return "telethon";
    case MTP_SESSION_FMT_PYROGRAM: return "pyrogram";
    case MTP_SESSION_FMT_GRAMJS: return "gramjs";
    case MTP_SESSION_FMT_MTCUTE: return "mtcute";
    default: return "?";
    }
}

void mtp_session_info_clear(mtp_session_info_t *info)
{
    if (info) {
        volatile uint8_t *p = (volatile uint8_t *)info;
        for (size_t i = 0; i < sizeof *info; i++)
            p[i] = 0;
    }
}

/* ------------------------------------------------------------------ base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(int ch, bool url)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == (url ? '-' : '+')) return 62;
    if (ch == (url ? '_' : '/')) return 63;
    return -1;
}

/* Strict decoding: the alphabet of url or the standard one, padding optional but then
 * correct, no stray bits. Returns the length or -1. */
static long b64_decode(const char *s, size_t n, bool url, uint8_t *out, size_t cap)
{
    size_t pad = 0;
    while (n && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (pad && (n + pad) % 4)
        return -1;
    if (n % 4 == 1)
        return -1;
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > cap)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i], url);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits && (acc & ((1u << bits) - 1)))
        return -1;      /* non-canonical trailing bits */
    return (long)o;
}

static char *b64_encode(const uint8_t *p, size_t n, bool url, bool pad, const char *prefix)
{
    size_t pl = strlen(prefix);
    char *out = malloc(pl + 4 * (n / 3 + 1) + 1);
    if (!out)
        return NULL;
    memcpy(out, prefix, pl);
    char *w = out + pl;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        size_t k = n - i >= 3 ? 4 : n - i + 1;
        for (size_t j = 0; j < 4; j++) {
            char ch = B64[(v >> (18 - 6 * j)) & 63];
            if (url && ch == '+') ch = '-';
            if (url && ch == '/') ch = '_';
            if (j < k)
                *w++ = ch;
            else if (pad)
                *w++ = '=';
        }
    }
    *w = 0;
    return out;
}

/* ------------------------------------------------------------------ string formats */

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int check_dc(int dc)
{
    return dc >= 1 && dc <= MTP_CLIENT_MAX_DCS ? 0 : MTP_ERANGE;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int set_key(mtp_session_info_t *o, const uint8_t *k)
{
    if (all_zero(k, MTP_SESSION_KEY_LEN))
        return MTP_EBADKEY;
    memcpy(o->auth_key, k, MTP_SESSION_KEY_LEN);
    return 0;
}

static int parse_ip(mtp_session_info_t *o, const uint8_t *ip, size_t n)
{
    if (!inet_ntop(n == 4 ? AF_INET : AF_INET6, ip, o->host, sizeof o->host))
        return MTP_EINVAL;
    return 0;
}

static int parse_telethon(const uint8_t *b, size_t n, mtp_session_info_t *o)
{
    size_t iplen = n == 1 + 4 + 2 + 256 ? 4 : n == 1 + 16 + 2 + 256 ? 16 : 0;
    if (!iplen)
        return MTP_EINVAL;
    o->dc_id = b[0];
    int rc = check_dc(o->dc_id);
    if (!rc)
        rc = parse_ip(o, b + 1, iplen);
    o->port = (uint16_t)be16(b + 1 + iplen);
    return rc ? rc : set_key(o, b + 3 + iplen);
}

static int parse_bool8(uint8_t v, bool *out)
{
    if (v > 1)
        return MTP_EINVAL;
    *out = v != 0;
    return 0;
}

static int parse_pyrogram(const uint8_t *b, size_t n, mtp_session_info_t *o)
{
    int rc;
    o->dc_id = b[0];
    if (n == 271) {                 /* >BI?256sQ? */
        uint32_t api = be32(b + 1);
        if (api > INT32_MAX)
            return MTP_ERANGE;
        o->api_id = (int32_t)api;
        if ((rc = parse_bool8(b[5], &o->test_mode)) || (rc = set_key(o, b + 6)))
            return rc;
        o->user_id = (int64_t)be64(b + 262);
        rc = parse_bool8(b[270], &o->is_bot);
    } else if (n == 263 || n == 267) {  /* >B?256sI? and >B?256sQ? */
        if ((rc = parse_bool8(b[1], &o->test_mode)) || (rc = set_key(o, b + 2)))
            return rc;
        o->user_id = n == 263 ? (int64_t)be32(b + 258) : (int64_t)be64(b + 258);
        rc = parse_bool8(b[n - 1], &o->is_bot);
    } else {
        return MTP_EINVAL;
    }
    if (!rc && o->user_id <= 0)
        rc = MTP_ERANGE;
    return rc ? rc : check_dc(o->dc_id);
}

static int parse_gramjs(const uint8_t *b, size_t n, mtp_session_info_t *o, size_t textlen)
{
    if (textlen == 352 && n == 263)  /* the Telethon IPv4 layout, as GramJS reads it */
        return parse_telethon(b, n, o);
    if (n < 1 + 2 + 2 + 256)
        return MTP_ETRUNC;
    o->dc_id = b[0];
    size_t al = be16(b + 1);
    if (al == 0 || al >= sizeof o->host || n != 1 + 2 + al + 2 + 256)
        return MTP_EINVAL;
    for (size_t i = 0; i < al; i++)
        if (b[3 + i] < 0x21 || b[3 + i] > 0x7e)
            return MTP_EINVAL;
    memcpy(o->host, b + 3, al);
    o->host[al] = 0;
    o->port = (uint16_t)be16(b + 3 + al);
    int rc = check_dc(o->dc_id);
    return rc ? rc : set_key(o, b + 5 + al);
}

/* TL bytes at *pos in b[0..n): sets *p / *len, advances past the padding. */
static int tl_bytes(const uint8_t *b, size_t n, size_t *pos, const uint8_t **p, size_t *len)
{
    size_t at = *pos, hdr = 1, l;
    if (at >= n)
        return MTP_ETRUNC;
    if (b[at] == 255)
        return MTP_EBADTL;
    if (b[at] == 254) {
        if (n - at < 4)
            return MTP_ETRUNC;
        l = (size_t)b[at + 1] | (size_t)b[at + 2] << 8 | (size_t)b[at + 3] << 16;
        hdr = 4;
        if (l < 254)
            return MTP_EBADTL;
    } else {
        l = b[at];
    }
    size_t total = (hdr + l + 3) & ~(size_t)3;
    if (n - at < total)
        return MTP_ETRUNC;
    *p = b + at + hdr;
    *len = l;
    *pos = at + total;
    return 0;
}

static int parse_mtcute_dc(const uint8_t *d, size_t n, mtp_session_info_t *o, bool *test)
{
    if (n < 3)
        return MTP_ETRUNC;
    if (d[0] != 1 && d[0] != 2)
        return MTP_EVERSION;
    size_t pos = 3, sl;
    const uint8_t *s;
    int rc = tl_bytes(d, n, &pos, &s, &sl);
    if (rc)
        return rc;
    if (n - pos != 4 || sl == 0 || sl >= sizeof o->host)
        return MTP_EINVAL;
    for (size_t i = 0; i < sl; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return MTP_EINVAL;
    uint32_t port = le32(d + pos);
    if (port == 0 || port > 65535)
        return MTP_ERANGE;
    o->dc_id = d[1];
    memcpy(o->host, s, sl);
    o->host[sl] = 0;
    o->port = (uint16_t)port;
    *test = d[0] == 2 && (d[2] & 4);
    return check_dc(o->dc_id);
}

static int parse_mtcute(const uint8_t *b, size_t n, mtp_session_info_t *o)
{
    if (n < 5)
        return MTP_ETRUNC;
    if (b[0] != 3)
        return MTP_EVERSION;
    uint32_t flags = le32(b + 1);
    if (flags & ~7u)
        return MTP_EINVAL;
    size_t pos = 5, l;
    const uint8_t *p;
    bool test = false, mtest = false;
    int rc = tl_bytes(b, n, &pos, &p, &l);
    if (!rc)
        rc = parse_mtcute_dc(p, l, o, &test);
    if (!rc && (flags & 4)) {       /* a media DC: checked, not kept */
        mtp_session_info_t m;
        memset(&m, 0, sizeof m);
        rc = tl_bytes(b, n, &pos, &p, &l);
        if (!rc)
            rc = parse_mtcute_dc(p, l, &m, &mtest);
        if (!rc && mtest != test && !(flags & 2))
            rc = MTP_EINVAL;
    }
    if (rc)
        return rc;
    o->test_mode = test || (flags & 2);
    if (flags & 1) {
        if (n - pos < 12)
            return MTP_ETRUNC;
        o->user_id = (int64_t)((uint64_t)le32(b + pos) | (uint64_t)le32(b + pos + 4) << 32);
        uint32_t bo = le32(b + pos + 8);
        if (bo != 0x997275b5u && bo != 0xbc799737u)
            return MTP_EBADTL;
        o->is_bot = bo == 0x997275b5u;
        if (o->user_id <= 0 || o->user_id > ((int64_t)1 << 53))
            return MTP_ERANGE;
        pos += 12;
    }
    if ((rc = tl_bytes(b, n, &pos, &p, &l)))
        return rc;
    if (l != MTP_SESSION_KEY_LEN || pos != n)
        return MTP_EINVAL;
    return set_key(o, p);
}

int mtp_session_info_parse(int fmt, const char *text, mtp_session_info_t *out)
{
    if (!text || !out)
        return MTP_EINVAL;
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strnlen(text, SF_MAX_TEXT + 1);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    if (n == 0 || n > SF_MAX_TEXT)
        return MTP_EINVAL;
    uint8_t buf[SF_MAX_TEXT];
    bool versioned = fmt == MTP_SESSION_FMT_TELETHON || fmt == MTP_SESSION_FMT_GRAMJS;
    bool url = fmt != MTP_SESSION_FMT_GRAMJS;
    int rc = MTP_EINVAL;
    if (versioned && text[0] != '1')
        return MTP_EVERSION;
    long len = b64_decode(text + versioned, n - versioned, url, buf, sizeof buf);
    if (len < 0 && fmt == MTP_SESSION_FMT_GRAMJS)   /* Buffer.from(x, "base64") takes both */
        len = b64_decode(text + 1, n - 1, true, buf, sizeof buf);
    if (len > 0) {
        switch (fmt) {
        case MTP_SESSION_FMT_TELETHON: rc = parse_telethon(buf, (size_t)len, out); break;
        case MTP_SESSION_FMT_PYROGRAM: rc = parse_pyrogram(buf, (size_t)len, out); break;
        case MTP_SESSION_FMT_GRAMJS:
            rc = parse_gramjs(buf, (size_t)len, out, n - 1);
            break;
        case MTP_SESSION_FMT_MTCUTE: rc = parse_mtcute(buf, (size_t)len, out); break;
        default: rc = MTP_EINVAL; break;
        }
    }
    memset(buf, 0, sizeof buf);
    if (rc)
        mtp_session_info_clear(out);
    return rc;
}

/* ------------------------------------------------------------------ export */

static void wbe(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static size_t tl_put_bytes(uint8_t *w, const uint8_t *p, size_t l)
{
    /* only short forms are written here (l < 254) except the key (256) */
    size_t hdr = l < 254 ? 1 : 4;
    if (hdr == 1)
        w[0] = (uint8_t)l;
    else {
        w[0] = 254;
        w[1] = (uint8_t)l;
        w[2] = (uint8_t)(l >> 8);
        w[3] = (uint8_t)(l >> 16);
    }
    memcpy(w + hdr, p, l);
    size_t total = (hdr + l + 3) & ~(size_t)3;
    memset(w + hdr + l, 0, total - hdr - l);
    return total;
}

static size_t fmt_mtcute(const mtp_session_info_t *in, uint8_t *b)
{
    uint8_t dc[96];
    size_t hl = strlen(in->host);
    dc[0] = 2;
    dc[1] = (uint8_t)in->dc_id;
    dc[2] = (uint8_t)((strchr(in->host, ':') ? 1 : 0) | (in->test_mode ? 4 : 0));
    size_t dl = 3 + tl_put_bytes(dc + 3, (const uint8_t *)in->host, hl);
    for (int i = 0; i < 4; i++)
        dc[dl++] = (uint8_t)(in->port >> (8 * i));
    size_t n = 0;
    uint32_t flags = in->user_id ? 1u : 0u;
    b[n++] = 3;
    for (int i = 0; i < 4; i++)
        b[n++] = (uint8_t)(flags >> (8 * i));
    n += tl_put_bytes(b + n, dc, dl);
    if (in->user_id) {
        uint64_t u = (uint64_t)in->user_id;
        uint32_t bo = in->is_bot ? 0x997275b5u : 0xbc799737u;
        for (int i = 0; i < 8; i++)
            b[n++] = (uint8_t)(u >> (8 * i));
        for (int i = 0; i < 4; i++)
            b[n++] = (uint8_t)(bo >> (8 * i));
    }
    n += tl_put_bytes(b + n, in->auth_key, MTP_SESSION_KEY_LEN);
    return n;
}

char *mtp_session_info_format(int fmt, const mtp_session_info_t *in, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = MTP_EINVAL;
    if (!in || check_dc(in->dc_id) || all_zero(in->auth_key, MTP_SESSION_KEY_LEN))
        return NULL;
    size_t hl = strnlen(in->host, sizeof in->host);
    bool need_addr = fmt != MTP_SESSION_FMT_PYROGRAM;
    if (need_addr && (hl == 0 || hl >= sizeof in->host || in->port == 0))
        return NULL;
    uint8_t b[512];
    size_t n = 0;
    char *out = NULL;
    uint8_t ip[16];
    switch (fmt) {
    case MTP_SESSION_FMT_TELETHON: {
        size_t il = inet_pton(AF_INET, in->host, ip) == 1 ? 4
                  : inet_pton(AF_INET6, in->host, ip) == 1 ? 16 : 0;
        if (!il)
            return NULL;
        b[n++] = (uint8_t)in->dc_id;
        memcpy(b + n, ip, il);
        n += il;
        wbe(b + n, in->port, 2);
        memcpy(b + n + 2, in->auth_key, MTP_SESSION_KEY_LEN);
        n += 2 + MTP_SESSION_KEY_LEN;
        out = b64_encode(b, n, true, true, "1");
        break;
    }
    case MTP_SESSION_FMT_PYROGRAM:
        if (in->user_id <= 0 || in->api_id < 0)
            return NULL;
        b[0] = (uint8_t)in->dc_id;
        wbe(b + 1, (uint32_t)in->api_id, 4);
        b[5] = in->test_mode;
        memcpy(b + 6, in->auth_key, MTP_SESSION_KEY_LEN);
        wbe(b + 262, (uint64_t)in->user_id, 8);
        b[270] = in->is_bot;
        n = 271;
        out = b64_encode(b, n, true, false, "");
        break;
    case MTP_SESSION_FMT_GRAMJS:
        b[n++] = (uint8_t)in->dc_id;
        wbe(b + n, hl, 2);
        memcpy(b + n + 2, in->host, hl);
        n += 2 + hl;
        wbe(b + n, in->port, 2);
        memcpy(b + n + 2, in->auth_key, MTP_SESSION_KEY_LEN);
        n += 2 + MTP_SESSION_KEY_LEN;
        out = b64_encode(b, n, false, true, "1");
        break;
    case MTP_SESSION_FMT_MTCUTE:
        if (in->user_id < 0 || in->user_id > ((int64_t)1 << 53))
            return NULL;
        n = fmt_mtcute(in, b);
        out = b64_encode(b, n, true, false, "");
        break;
    default:
        return NULL;
    }
    memset(b, 0, sizeof b);
    *err = out ? 0 : MTP_ENOMEM;
    return out;
}

/* ------------------------------------------------------------------ client glue */

int mtp_client_session_get_info(mtp_client_t *c, mtp_session_info_t *out)
{
    if (!c || !out)
        return MTP_EINVAL;
    memset(out, 0, sizeof *out);
    const mtp_dcstate_t *d = &c->dc[c->home];
    if (!d->has_key)
        return MTP_ESTATE;
    out->dc_id = c->home;
    memcpy(out->auth_key, d->key.key, MTP_SESSION_KEY_LEN);
    out->user_id = c->user_id;
    out->api_id = c->cfg.api_id;
    const mtp_client_dc_t *a = mtp_client__dc_addr(c, c->home);
    if (a) {
        snprintf(out->host, sizeof out->host, "%s", a->host);
        out->port = a->port;
    }
    out->test_mode = c->cfg.dcs_kind == MTP_CLIENT_DCS_TEST;
    return 0;
}

int mtp_client_session_set_info(mtp_client_t *c, const mtp_session_info_t *in)
{
    if (!c || !in || check_dc(in->dc_id) || in->user_id < 0)
        return MTP_EINVAL;
    mtp_auth_key_t k;
    if (mtp_auth_key_init(&k, in->auth_key))
        return MTP_EBADKEY;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        c->dc[i].has_key = false;
        c->dc[i].authorized = false;
    }
    mtp_dcstate_t *d = &c->dc[in->dc_id];
    d->key = k;
    memset(&k, 0, sizeof k);
    d->has_key = true;
    d->authorized = true;
    d->salt = 0;            /* the first call learns it (bad_server_salt) */
    d->time_offset = 0;
    c->home = in->dc_id;
    c->user_id = in->user_id;
    mtp_peers__clear(c->peers);
    mtp_upd__reset(c->upd);
    return mtp_client_save(c);
}
