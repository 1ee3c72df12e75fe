/*
 * TL codec benchmark: decode and encode of one large messages.messages (~28 KB: 100 messages
 * with entities, their users and chats), in objects per second, beside mtcute's speed on the
 * very same bytes measured in the same run (tests/interop/tl/bench.mjs).
 *
 * "decode" is mtp_tl_decode(): strings and bytes are copied into the arena, so the result
 * does not depend on the input buffer. "decode, borrowed" sets the reader's borrow option
 * (strings and bytes point into the input, which must then outlive the result); it is shown
 * for comparison, the ratio that counts is the default one.
 */
#include <mtproto/tl.h>

#include <stdlib.h>

#include "testutil.h"

int main(void)
{
    const char *hexfile = "/tmp/mtp-bench-tl.hex";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "node tests/interop/tl/bench.mjs --out %s 2>/dev/null", hexfile);
    FILE *p = popen(cmd, "r");
    char line[1024] = "";
    if (!p || !fgets(line, sizeof line, p)) {
        fprintf(stderr, "bench_tl: mtcute reference unavailable (run tests/interop/tl/install.sh)\n");
        if (p)
            pclose(p);
        return 0;
    }
    pclose(p);
    tj *ref = tj_parse(line, strlen(line));
    double peer_dec = ref ? tj_get(ref, "decode_per_s")->num : 0;
    double peer_enc = ref ? tj_get(ref, "encode_per_s")->num : 0;

    size_t n;
    char *hex = (char *)tu_read_file(hexfile, &n);
    if (!hex) {
        fprintf(stderr, "bench_tl: %s missing\n", hexfile);
        return 1;
    }
    hex[strcspn(hex, "\r\n")] = 0;
    uint8_t *bin;
    size_t len = tu_unhex(hex, &bin);
    free(hex);
    const mtp_tl_layer_t *L = mtp_tl_layer(228);
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o;
    if (len == (size_t)-1 || mtp_tl_decode(L, bin, len, a, &o)) {
        fprintf(stderr, "bench_tl: cannot decode the reference object\n");
        return 1;
    }

    /* decode: fresh arena contents each time (reset keeps the memory) */
    mtp_arena_t *da = mtp_arena_new(0);
    long iters = 0;
    double t0 = tu_now(), t;
    do {
        for (int i = 0; i < 100; i++) {
            mtp_arena_reset(da);
            mtp_tl_object_t *x;
            if (mtp_tl_decode(L, bin, len, da, &x))
                return 1;
        }
        iters += 100;
    } while ((t = tu_now() - t0) < 1.0);
    double dec = (double)iters / t;

    /* the same with borrowed strings (opt-in: the object then refers to the input bytes) */
    iters = 0;
    t0 = tu_now();
    do {
        for (int i = 0; i < 100; i++) {
            mtp_arena_reset(da);
            mtp_tl_reader_t r;
            mtp_tl_reader_init(&r, L, bin, len, da);
            r.borrow = true;
            mtp_tl_object_t *x;
            if (mtp_tl_decode_reader(&r, &x))
                return 1;
        }
        iters += 100;
    } while ((t = tu_now() - t0) < 1.0);
    double dec_b = (double)iters / t;

    mtp_buf_t out;
    mtp_buf_init(&out);
    iters = 0;
    t0 = tu_now();
    do {
        for (int i = 0; i < 100; i++) {
            mtp_buf_clear(&out);
            if (mtp_tl_encode(o, &out))
                return 1;
        }
        iters += 100;
    } while ((t = tu_now() - t0) < 1.0);
    double enc = (double)iters / t;
    int same = out.len == len && !memcmp(out.data, bin, len);

    printf("tl messages.messages (%zu bytes, re-encode %s)\n", len, same ? "identical" : "DIFFERENT");
    printf("  decode: %10.0f obj/s  %7.1f MB/s   mtcute %8.0f obj/s   ratio %6.1fx (target >= 20x)\n",
           dec, dec * (double)len / 1e6, peer_dec, peer_dec > 0 ? dec / peer_dec : 0);
    printf("  decode, borrowed strings (opt-in): %10.0f obj/s  %7.1f MB/s   ratio %6.1fx\n",
           dec_b, dec_b * (double)len / 1e6, peer_dec > 0 ? dec_b / peer_dec : 0);
    printf("  encode: %10.0f obj/s  %7.1f MB/s   mtcute %8.0f obj/s   ratio %6.1fx (target >= 50x)\n",
           enc, enc * (double)len / 1e6, peer_enc, peer_enc > 0 ? enc / peer_enc : 0);
    tj_free(ref);
    mtp_buf_free(&out);
    mtp_arena_free(a);
    mtp_arena_free(da);
    free(bin);
    return same ? 0 : 1;
}
