/*
 * libFuzzer target: session strings and files as users paste or keep them — the client's
 * session parser (header, per-DC keys, the peer cache of version 2, the updates state of
 * version 3, the channels' pts of version 4) behind mtp_client_session_import().
 *
 * Input: byte 0 selects the mode, the rest is the payload.
 *   bit 0 clear: the payload is a session blob; its last 4 bytes are replaced by the right
 *                CRC-32 (so mutations get past the checksum into the parser), then it is
 *                base64-encoded and imported;
 *   bit 0 set:   the payload is imported as text, as typed.
 * Invariants: no crash, no leak; an accepted session exports to a string that imports again
 * and exports to the same string.
 *
 * Seed: fuzz/corpus/fuzz_session_import/ (a version-2 session with two keys and peers; the
 * same as version 4 with two channels).
 */
#include <mtproto/client.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static mtp_client_t *client(void)
{
    static mtp_client_t *c;
    if (!c) {
        mtp_client_config_t cfg;
        mtp_client_config_init(&cfg);
        cfg.api_id = 1;
        cfg.api_hash = "fuzz";   /* production DC table: nothing connects without a call */
        if (mtp_client_new(&cfg, &c))
            abort();
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    mtp_client_t *c = client();
    char *text;
    size_t n = size - 1;
    if (data[0] & 1) {
        text = malloc(n + 1);
        if (!text)
            return 0;
        memcpy(text, data + 1, n);
        text[n] = 0;
    } else {
        uint8_t *blob = malloc(n + 4);
        if (!blob)
            return 0;
        memcpy(blob, data + 1, n);
        if (n >= 4) {
            uint32_t crc = (uint32_t)crc32(0, blob, (uInt)(n - 4));
            for (int i = 0; i < 4; i++)
                blob[n - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
        }
        text = malloc(4 * (n / 3 + 1) + 1);
        if (!text) {
            free(blob);
            return 0;
        }
        EVP_EncodeBlock((unsigned char *)text, blob, (int)n);
        free(blob);
    }
    if (mtp_client_session_import(c, text) == 0) {
        char *a = mtp_client_session_export(c);
        if (!a || mtp_client_session_import(c, a) != 0)
            abort();   /* what we accepted and wrote must read back */
        char *b = mtp_client_session_export(c);
        if (!b || strcmp(a, b) != 0)
            abort();
        free(a);
        free(b);
    }
    free(text);
    return 0;
}
