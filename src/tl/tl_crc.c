/*
 * libmtproto — crc32 id of a TL schema line (docs/PROTOCOL.md §1.5).
 *
 * Normalisation, applied to the declaration text:
 *   1. drop a "//" comment, the trailing ";", and "#id" after the combinator name;
 *   2. a field whose type is exactly "bytes" (":bytes " / "?bytes ") hashes as "string";
 *   3. "<" becomes a space, ">" is dropped;
 *   4. "{" and "}" are dropped;
 *   5. every "name:word.N?true" field is dropped;
 *   6. "(" and ")" are dropped, whitespace runs become one space, no leading/trailing space.
 * The id is the CRC-32 (zlib polynomial) of the result.
 *
 * This file is also compiled into the code generator (codegen/crc.c defines
 * MTP_TL_CRC_STANDALONE), which links neither the library nor zlib.
 */
#include "tl_crc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifdef MTP_TL_CRC_STANDALONE
uint32_t mtp_tl_line_crc(const char *line, size_t len);

static uint32_t line_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}
#else
#include <mtproto/tl.h>
#include <zlib.h>

static uint32_t line_crc32(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}
#endif

static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* "name:word.N?true" */
static bool is_true_field(const char *t, size_t n)
{
    size_t i = 0;
    while (i < n && is_ident(t[i]))
        i++;
    if (i == 0 || i >= n || t[i] != ':')
        return false;
    size_t j = ++i;
    while (i < n && is_ident(t[i]))
        i++;
    if (i == j || i >= n || t[i] != '.')
        return false;
    j = ++i;
    while (i < n && t[i] >= '0' && t[i] <= '9')
        i++;
    if (i == j)
        return false;
    return n - i == 5 && memcmp(t + i, "?true", 5) == 0;
}

typedef struct norm_out {
    char *out;
    size_t cap, len;
    bool pending_space;
} norm_out;

static void put_char(norm_out *o, char c)
{
    if (c == ' ') {
        o->pending_space = o->len > 0;
        return;
    }
    if (o->pending_space) {
        o->pending_space = false;
        if (o->len + 1 < o->cap)
            o->out[o->len] = ' ';
        o->len++;
    }
    if (o->len + 1 < o->cap)
        o->out[o->len] = c;
    o->len++;
}

size_t mtp_tl_line_normalize(const char *line, size_t len, char *out, size_t cap)
{
    norm_out o = { out, cap, 0, false };
    size_t end = len;
    for (size_t i = 0; i + 1 < len; i++)
        if (line[i] == '/' && line[i + 1] == '/') {
            end = i;
            break;
        }
    while (end > 0 && is_space(line[end - 1]))
        end--;
    if (end > 0 && line[end - 1] == ';')
        end--;

    size_t i = 0;
    bool first = true;
    while (i < end) {
        while (i < end && is_space(line[i]))
            i++;
        if (i >= end)
            break;
        size_t ts = i;
        while (i < end && !is_space(line[i]))
            i++;
        size_t te = i;
        bool last = true;
        for (size_t k = te; k < end; k++)
            if (!is_space(line[k])) {
                last = false;
                break;
            }
        if (first) {
            for (size_t k = ts; k < te; k++)
                if (line[k] == '#') {
                    te = k;
                    break;
                }
            first = false;
        } else if (is_true_field(line + ts, te - ts)) {
            continue;
        }
        size_t tn = te - ts;
        bool bytes_as_string = !last && tn >= 6 && memcmp(line + te - 5, "bytes", 5) == 0 &&
                               (line[te - 6] == ':' || line[te - 6] == '?');
        size_t copy_end = bytes_as_string ? te - 5 : te;
        put_char(&o, ' ');
        for (size_t k = ts; k < copy_end; k++) {
            char c = line[k];
            if (c == '<')
                put_char(&o, ' ');
            else if (c == '>' || c == '{' || c == '}' || c == '(' || c == ')')
                continue;
            else if (is_space(c))
                put_char(&o, ' ');
            else
                put_char(&o, c);
        }
        if (bytes_as_string)
            for (const char *s = "string"; *s; s++)
                put_char(&o, *s);
    }
    if (cap > 0)
        out[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}

uint32_t mtp_tl_line_crc(const char *line, size_t len)
{
    char stack[4096];
    size_t n = mtp_tl_line_normalize(line, len, stack, sizeof stack);
    if (n < sizeof stack)
        return line_crc32((const uint8_t *)stack, n);
    char *heap = malloc(n + 1);
    if (!heap)
        return 0;
    mtp_tl_line_normalize(line, len, heap, n + 1);
    uint32_t c = line_crc32((const uint8_t *)heap, n);
    free(heap);
    return c;
}
