/*
 * libFuzzer target: the TL decoder on arbitrary bytes (the first byte picks the layer).
 * Whatever decodes must re-encode to exactly the input bytes (gzip_packed is kept packed so
 * the round trip is byte-exact), print, and convert to JSON that the JSON reader accepts.
 */
#include <mtproto/tl.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const int layers[] = { 228, 227, 198, 0 };
    const mtp_tl_layer_t *L = mtp_tl_layer(layers[data[0] % 4]);
    data++;
    size--;
    mtp_arena_t *a = mtp_arena_new(64u << 20);
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, L, data, size, a);
    r.unpack_gzip = false;
    mtp_tl_object_t *o;
    if (mtp_tl_decode_reader(&r, &o) == 0) {
        mtp_buf_t b;
        mtp_buf_init(&b);
        if (mtp_tl_encode(o, &b) || b.len != size || memcmp(b.data, data, size))
            abort();   /* decoded but does not re-encode to the same bytes */
        mtp_buf_clear(&b);
        if (mtp_tl_print(o, &b))
            abort();
        mtp_buf_clear(&b);
        if (mtp_tl_to_json(o, &b))
            abort();
        /* the JSON of a decoded object is valid input for the reader (it may differ from
         * the original where invalid UTF-8 became U+FFFD, so only parse it) */
        mtp_tl_object_t *back;
        char err[256];
        mtp_tl_from_json(L, (const char *)b.data, b.len, a, &back, err, sizeof err);
        mtp_buf_free(&b);
    } else {
        char msg[128];
        mtp_tl_reader_strerror(&r, msg, sizeof msg);
    }
    mtp_arena_free(a);
    return 0;
}
