/*
 * libFuzzer target: canonical JSON -> object (layer 228); when that succeeds the object is
 * encoded, decoded, and printed as JSON and text again, and the JSON must be a fixed point
 * (to_json(from_json(J)) == J for the canonical J of the parsed object).
 */
#include <mtproto/tl.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mtp_arena_t *arena;
    static const mtp_tl_layer_t *layer;
    if (!arena) {
        arena = mtp_arena_new(64u << 20);
        layer = mtp_tl_layer(MTP_TL_DEFAULT_LAYER);
        if (!arena || !layer)
            abort();
    }
    mtp_arena_reset(arena);
    char err[256];
    mtp_tl_object_t *obj = NULL;
    if (mtp_tl_from_json(layer, (const char *)data, size, arena, &obj, err, sizeof err) != 0)
        return 0;
    mtp_buf_t j1, j2, bin, txt;
    mtp_buf_init(&j1);
    mtp_buf_init(&j2);
    mtp_buf_init(&bin);
    mtp_buf_init(&txt);
    if (mtp_tl_to_json(obj, &j1) != 0)
        abort();   /* anything from_json accepts can be written back */
    mtp_tl_object_t *again = NULL;
    if (mtp_tl_from_json(layer, (const char *)j1.data, j1.len, arena, &again, err, sizeof err) != 0)
        abort();   /* ... and read again */
    if (mtp_tl_to_json(again, &j2) != 0 || j2.len != j1.len || memcmp(j1.data, j2.data, j1.len))
        abort();   /* canonical form is a fixed point */
    if (mtp_tl_encode(obj, &bin) == 0) {
        mtp_tl_object_t *dec = NULL;
        mtp_tl_reader_t r;
        mtp_tl_reader_init(&r, layer, bin.data, bin.len, arena);
        r.unpack_gzip = false;
        if (mtp_tl_decode_reader(&r, &dec) == 0) {
            mtp_buf_clear(&j2);
            mtp_tl_to_json(dec, &j2);
            mtp_tl_print(dec, &txt);
        }
    }
    mtp_buf_free(&j1);
    mtp_buf_free(&j2);
    mtp_buf_free(&bin);
    mtp_buf_free(&txt);
    return 0;
}
