/*
 * libmtproto — readable, indented TL text for any object, generic over the descriptors.
 *
 *   messages.messages
 *     messages: Vector<Message> [
 *       message
 *         flags: 0x00000102
 *         out: true
 *         id: 5
 *         peer_id: peerUser
 *           user_id: 777
 *         message: "hi\n"
 *     ]
 *     chats: Vector<Chat> []
 *     users: Vector<User> []
 *
 * One field a line, two spaces per level; absent optional fields are omitted; '#' words in
 * hex (the value that goes on the wire); strings quoted with C-like escapes (invalid UTF-8
 * bytes as \xNN); bytes in full hex with their length; int128/int256 in hex; longs and ints
 * in decimal; doubles in the shortest round-trip form; vectors of numbers on one line.
 */
#include <mtproto/tl.h>

#include <string.h>

#include "tl/json_int.h"   /* mtp_tl_fmt_double, mtp_tl_nat_value; util */

#define PR_MAX_DEPTH (4 * MTP_TL_MAX_DEPTH)

static const char hexdig[] = "0123456789abcdef";

static void indent(mtp_buf_t *b, int n)
{
    if (mtp_buf_reserve(b, (size_t)n) != 0)
        return;
    memset(b->data + b->len, ' ', (size_t)n);
    b->len += (size_t)n;
}

static void puts_(mtp_buf_t *b, const char *s)
{
    mtp_buf_append(b, s, strlen(s));
}

static void hex(mtp_buf_t *b, const uint8_t *p, size_t n)
{
    if (mtp_buf_reserve(b, 2 * n) != 0)
        return;
    mtp_hex_encode(p, n, (char *)b->data + b->len);
    b->len += 2 * n;
}

static void qstring(mtp_buf_t *b, const uint8_t *s, size_t n)
{
    if (mtp_buf_reserve(b, 4 * n + 2) != 0)
        return;
    char *o = (char *)b->data + b->len, *o0 = o;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        size_t bad, k = c >= 0x80 ? mtp_utf8_seq(s + i, n - i, &bad) : 0;
        if (k) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'x';
            *o++ = hexdig[c >> 4];
            *o++ = hexdig[c & 15];
        }
        i++;
    }
    *o++ = '"';
    b->len += (size_t)(o - o0);
}

static bool is_scalar(const mtp_tl_type_t *t)
{
    switch (t->kind) {
    case MTP_TL_INT: case MTP_TL_LONG: case MTP_TL_DOUBLE: case MTP_TL_NAT:
    case MTP_TL_BOOL: case MTP_TL_TRUE:
        return true;
    default:
        return false;
    }
}

static int pr_value(mtp_buf_t *b, const mtp_tl_type_t *t, const void *val, int ind, int depth);

/* Writes the constructor name and a newline, then the fields at ind + 2. */
static int pr_object(mtp_buf_t *b, const mtp_tl_object_t *obj, int ind, int depth)
{
    if (!obj) {
        puts_(b, "null\n");
        return 0;
    }
    if (depth > PR_MAX_DEPTH)
        return MTP_EDEPTH;
    const mtp_tl_vector_t *vec = mtp_tl_as_vector(obj);
    if (vec) {   /* a Vector<T> result: printed as the value it holds */
        if (!vec->type || vec->type->kind != MTP_TL_VECTOR)
            return MTP_EINVAL;
        mtp_vec_t items = { vec->n, vec->v.any };
        return pr_value(b, vec->type, &items, ind, depth);
    }
    const mtp_tl_comb_t *c = obj->tl;
    if (!c || !c->name)
        return MTP_EINVAL;
    puts_(b, c->name);
    mtp_buf_putc(b, '\n');
    const uint8_t *base = (const uint8_t *)obj;
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        if (!mtp_tl_field_present(obj, p))
            continue;
        indent(b, ind + 2);
        puts_(b, p->name);
        puts_(b, ": ");
        if (p->type->kind == MTP_TL_NAT) {
            mtp_buf_printf(b, "0x%08x\n", mtp_tl_nat_value(obj, i));
            continue;
        }
        int rc = pr_value(b, p->type, base + p->offset, ind + 2, depth);
        if (rc)
            return rc;
    }
    return 0;
}

/* Writes the value (starting at the current column) and a newline; nested lines at ind+2. */
static int pr_value(mtp_buf_t *b, const mtp_tl_type_t *t, const void *val, int ind, int depth)
{
    if (!t || !val)
        return MTP_EINVAL;
    switch (t->kind) {
    case MTP_TL_INT:
        mtp_buf_printf(b, "%d\n", (int)*(const int32_t *)val);
        return 0;
    case MTP_TL_NAT:
        mtp_buf_printf(b, "0x%08x\n", (unsigned)*(const uint32_t *)val);
        return 0;
    case MTP_TL_LONG:
        mtp_buf_printf(b, "%lld\n", (long long)*(const int64_t *)val);
        return 0;
    case MTP_TL_DOUBLE: {
        char s[40];
        size_t n = mtp_tl_fmt_double(*(const double *)val, s);
        if (!n) {
            double d = *(const double *)val;
            puts_(b, d != d ? "NaN" : d < 0 ? "-Infinity" : "Infinity");
        } else {
            mtp_buf_append(b, s, n);
        }
        mtp_buf_putc(b, '\n');
        return 0;
    }
    case MTP_TL_INT128:
    case MTP_TL_INT256:
        hex(b, (const uint8_t *)val, t->kind == MTP_TL_INT128 ? 16 : 32);
        mtp_buf_putc(b, '\n');
        return 0;
    case MTP_TL_STRING: {
        const mtp_bytes_t *s = (const mtp_bytes_t *)val;
        if (!s->ptr && s->len)
            return MTP_EINVAL;
        qstring(b, s->ptr, s->len);
        mtp_buf_putc(b, '\n');
        return 0;
    }
    case MTP_TL_BYTES: {
        const mtp_bytes_t *s = (const mtp_bytes_t *)val;
        if (!s->ptr && s->len)
            return MTP_EINVAL;
        if (s->len) {
            hex(b, s->ptr, s->len);
            mtp_buf_putc(b, ' ');
        }
        mtp_buf_printf(b, "(%zu bytes)\n", s->len);
        return 0;
    }
    case MTP_TL_BOOL:
    case MTP_TL_TRUE:
        puts_(b, *(const bool *)val ? "true\n" : "false\n");
        return 0;
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: {
        const mtp_vec_t *v = (const mtp_vec_t *)val;
        const mtp_tl_type_t *et = t->elem;
        if (!et || (v->n && !v->v))
            return MTP_EINVAL;
        if (depth > PR_MAX_DEPTH)
            return MTP_EDEPTH;
        puts_(b, t->text ? t->text : "vector");
        if (!v->n) {
            puts_(b, " []\n");
            return 0;
        }
        const uint8_t *item = (const uint8_t *)v->v;
        if (is_scalar(et)) {
            puts_(b, " [");
            for (uint32_t i = 0; i < v->n; i++, item += et->size) {
                if (i)
                    puts_(b, ", ");
                size_t len0 = b->len;
                int rc = pr_value(b, et, item, ind, depth + 1);
                if (rc)
                    return rc;
                if (b->len > len0 && b->data[b->len - 1] == '\n')
                    b->len--;
            }
            puts_(b, "]\n");
            return 0;
        }
        puts_(b, " [\n");
        for (uint32_t i = 0; i < v->n; i++, item += et->size) {
            indent(b, ind + 2);
            int rc = pr_value(b, et, item, ind + 2, depth + 1);
            if (rc)
                return rc;
        }
        indent(b, ind);
        puts_(b, "]\n");
        return 0;
    }
    case MTP_TL_OBJECT:
    case MTP_TL_BARE_OBJECT:
    case MTP_TL_QUERY:
        return pr_object(b, *(const mtp_tl_object_t *const *)val, ind, depth + 1);
    default:
        return MTP_EINVAL;
    }
}

int mtp_tl_print(const mtp_tl_object_t *obj, mtp_buf_t *out)
{
    if (!obj || !out)
        return MTP_EINVAL;
    size_t len0 = out->len;
    int rc = pr_object(out, obj, 0, 0);
    if (!rc && out->err)
        rc = out->err;
    if (rc && !out->err)
        out->len = len0;
    return rc;
}

int mtp_tl_print_value(const mtp_tl_type_t *t, const void *val, mtp_buf_t *out)
{
    if (!t || !val || !out)
        return MTP_EINVAL;
    size_t len0 = out->len;
    int rc = pr_value(out, t, val, 0, 0);
    if (!rc && out->err)
        rc = out->err;
    if (rc && !out->err)
        out->len = len0;
    return rc;
}
