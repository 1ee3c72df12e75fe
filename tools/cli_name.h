/*
 * mtproto-cli: a local file name from a server-supplied one (a document's file_name
 * attribute), header-only so that the fuzzer and the tests use the same code.
 *
 * The result is one path component, safe to create in the current directory: every path
 * separator ('/', '\\'), control character (< 0x20, 0x7f) and NUL becomes '_', a leading dot
 * becomes '_' (no hidden file, no "." or ".."), it is cut at CLI_NAME_MAX bytes on a UTF-8
 * character boundary, and an empty name becomes CLI_NAME_FALLBACK.
 */
#ifndef MTP_CLI_NAME_H
#define MTP_CLI_NAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CLI_NAME_MAX 200
#define CLI_NAME_FALLBACK "download.bin"

/* out: at least CLI_NAME_MAX + 1 bytes. Returns the length written. */
static inline size_t cli_safe_name(const uint8_t *in, size_t n, char *out)
{
    size_t len = 0;
    for (size_t i = 0; i < n && len < CLI_NAME_MAX; i++) {
        uint8_t ch = in[i];
        if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f || (ch == '.' && len == 0))
            ch = '_';
        out[len++] = (char)ch;
    }
    /* cut at a character boundary: drop a trailing incomplete UTF-8 sequence */
    if (len == CLI_NAME_MAX && n > CLI_NAME_MAX) {
        size_t k = len;
        while (k > 0 && ((uint8_t)out[k - 1] & 0xc0) == 0x80)
            k--;
        if (k > 0 && ((uint8_t)out[k - 1] & 0xc0) == 0xc0) {
            uint8_t lead = (uint8_t)out[k - 1];
            size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
            if (len - (k - 1) < need)
                len = k - 1;
        }
    }
    if (!len) {
        memcpy(out, CLI_NAME_FALLBACK, sizeof CLI_NAME_FALLBACK);
        return sizeof CLI_NAME_FALLBACK - 1;
    }
    out[len] = 0;
    return len;
}

#endif
