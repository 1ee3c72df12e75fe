/*
 * libmtproto harness — small utilities: an int64 hash map, a seeded generator, JSON.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- hash map ---- */

static size_t slot_of(int64_t k, size_t cap)
{
    uint64_t x = (uint64_t)k;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (size_t)(x & (cap - 1));
}

void srv_map_free(srv_map_t *m)
{
    free(m->keys);
    free(m->vals);
    free(m->st);
    memset(m, 0, sizeof *m);
}

void *srv_map_get(const srv_map_t *m, int64_t k)
{
    if (!m->cap)
        return NULL;
    size_t i = slot_of(k, m->cap);
    for (size_t probes = 0; probes < m->cap; probes++) {
        if (m->st[i] == 0)
            return NULL;
        if (m->st[i] == 1 && m->keys[i] == k)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

static int map_grow(srv_map_t *m, size_t cap)
{
    srv_map_t n = { 0 };
    n.keys = calloc(cap, sizeof *n.keys);
    n.vals = calloc(cap, sizeof *n.vals);
    n.st = calloc(cap, 1);
    if (!n.keys || !n.vals || !n.st) {
        srv_map_free(&n);
        return MTP_ENOMEM;
    }
    n.cap = cap;
    for (size_t i = 0; i < m->cap; i++)
        if (m->st[i] == 1) {
            size_t j = slot_of(m->keys[i], cap);
            while (n.st[j])
                j = (j + 1) & (cap - 1);
            n.st[j] = 1;
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
            n.n++;
            n.used++;
        }
    srv_map_free(m);
    *m = n;
    return 0;
}

int srv_map_put(srv_map_t *m, int64_t k, void *v)
{
    if ((m->used + 1) * 4 >= m->cap * 3) {
        size_t cap = m->cap ? m->cap : 16;
        while ((m->n + 1) * 2 >= cap)
            cap *= 2;
        int rc = map_grow(m, cap);
        if (rc)
            return rc;
    }
    size_t i = slot_of(k, m->cap), tomb = SIZE_MAX;
    for (;;) {
        if (m->st[i] == 0)
            break;
        if (m->st[i] == 2 && tomb == SIZE_MAX)
            tomb = i;
        if (m->st[i] == 1 && m->keys[i] == k) {
            m->vals[i] = v;
            return 0;
        }
        i = (i + 1) & (m->cap - 1);
    }
    if (tomb != SIZE_MAX)
        i = tomb;
    else
        m->used++;
    m->st[i] = 1;
    m->keys[i] = k;
    m->vals[i] = v;
    m->n++;
    return 0;
}

void *srv_map_del(srv_map_t *m, int64_t k)
{
    if (!m->cap)
        return NULL;
    size_t i = slot_of(k, m->cap);
    for (size_t probes = 0; probes < m->cap; probes++) {
        if (m->st[i] == 0)
            return NULL;
        if (m->st[i] == 1 && m->keys[i] == k) {
            m->st[i] = 2;
            m->n--;
            return m->vals[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

bool srv_map_next(const srv_map_t *m, size_t *i, int64_t *k, void **v)
{
    while (*i < m->cap) {
        size_t j = (*i)++;
        if (m->st[j] == 1) {
            if (k)
                *k = m->keys[j];
            if (v)
                *v = m->vals[j];
            return true;
        }
    }
    return false;
}

/* ---- seeded generator ---- */

void srv_drbg_init(srv_drbg_t *d, uint64_t seed)
{
    uint8_t in[24];
    memcpy(in, "mtproto-harness:", 16);
    for (int i = 0; i < 8; i++)
        in[16 + i] = (uint8_t)(seed >> (8 * i));
    mtp_sha256(in, sizeof in, d->seed);
    d->counter = 0;
    d->used = 32;
}

int srv_drbg_fill(void *ctx, uint8_t *out, size_t n)
{
    srv_drbg_t *d = ctx;
    while (n) {
        if (d->used == 32) {
            uint8_t in[40];
            memcpy(in, d->seed, 32);
            for (int i = 0; i < 8; i++)
                in[32 + i] = (uint8_t)(d->counter >> (8 * i));
            d->counter++;
            if (mtp_sha256(in, sizeof in, d->block))
                return MTP_ECRYPTO;
            d->used = 0;
        }
        size_t k = 32 - d->used;
        if (k > n)
            k = n;
        memcpy(out, d->block + d->used, k);
        d->used += (unsigned)k;
        out += k;
        n -= k;
    }
    return 0;
}

/* ---- JSON ---- */

void srv_json_str(mtp_buf_t *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    mtp_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            mtp_buf_putc(b, '\\');
            mtp_buf_putc(b, c);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            mtp_buf_append(b, e, 6);
        } else if (c < 0x80) {
            mtp_buf_putc(b, c);
        } else {
            /* pass valid UTF-8 through, replace anything else by U+FFFD */
            size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            bool ok = len && i + len <= n;
            for (size_t j = 1; ok && j < len; j++)
                ok = (p[i + j] & 0xc0) == 0x80;
            if (ok && len == 3 && ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0)))
                ok = false;
            if (ok && len == 4 && ((c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90)))
                ok = false;
            if (ok) {
                mtp_buf_append(b, p + i, len);
                i += len - 1;
            } else {
                mtp_buf_append(b, "\xef\xbf\xbd", 3);
            }
        }
    }
    mtp_buf_putc(b, '"');
}

void srv_json_cstr(mtp_buf_t *b, const char *s)
{
    srv_json_str(b, (const uint8_t *)s, strlen(s));
}

/* ---- trace redaction ---- */

/* End of the JSON value starting at p[i] (i < n), or n if it does not end. */
static size_t json_skip(const char *p, size_t n, size_t i)
{
    if (p[i] == '"') {
        for (i++; i < n; i++)
            if (p[i] == '\\')
                i++;
            else if (p[i] == '"')
                return i + 1;
        return n;
    }
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            if (p[i] == '"') {
                i = json_skip(p, n, i) - 1;
            } else if (p[i] == '{' || p[i] == '[') {
                depth++;
            } else if (p[i] == '}' || p[i] == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n;
    }
    while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']')
        i++;
    return i;
}

static bool secret_key(const char *k, size_t n, bool export_line)
{
    static const char *const names[] = {
        "api_hash", "phone_code", "code", "email_code", "password", "A", "M1", "srp_B",
        "srp_b", "new_password_hash", "current_password_hash", "new_secure_settings",
        "bot_auth_token", "secure_secret", "auth_key", "key", "g_a", "g_b",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return true;
    return export_line && n == 5 && memcmp(k, "bytes", 5) == 0;
}

void srv_json_redact(mtp_buf_t *b)
{
    if (b->err || !b->len)
        return;
    const char *p = (const char *)b->data;
    size_t n = b->len;
    /* exported authorizations: their "bytes" are a bearer credential */
    bool exp = false;
    for (size_t i = 0; i + 13 <= n && !exp; i++)
        exp = memcmp(p + i, "Authorization", 13) == 0 &&
              ((i >= 13 && memcmp(p + i - 13, "auth.exported", 13) == 0) ||
               (i >= 11 && memcmp(p + i - 11, "auth.import", 11) == 0) ||
               (i >= 11 && memcmp(p + i - 11, "auth.export", 11) == 0));
    mtp_buf_t o;
    mtp_buf_init(&o);
    size_t i = 0, copied = 0;
    bool any = false;
    while (i < n) {
        if (p[i] != '"') {
            i++;
            continue;
        }
        size_t end = json_skip(p, n, i);   /* a string: a key if ':' follows */
        if (end < n && p[end] == ':' && end + 1 < n &&
            secret_key(p + i + 1, end - i - 2, exp)) {
            size_t v = end + 1, ve = json_skip(p, n, v);
            bool scalar = p[v] != '"' && p[v] != '{' && p[v] != '[';
            bool empty = ve == v + 2 && p[v] == '"';
            if (!scalar && !empty) {   /* numbers (an error code) and "" stay */
                mtp_buf_append(&o, p + copied, v - copied);
                mtp_buf_append(&o, "\"[redacted]\"", 12);
                copied = ve;
                any = true;
            }
            i = ve;
            continue;
        }
        i = end;
    }
    if (any && !o.err) {
        mtp_buf_append(&o, p + copied, n - copied);
        if (!o.err) {
            mtp_buf_clear(b);
            mtp_buf_append(b, o.data, o.len);
        }
    }
    if (o.data)
        mtp_secure_zero(o.data, o.cap);
    mtp_buf_free(&o);
}
