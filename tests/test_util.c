/*
 * The internal util layer (src/util/util.h): little-endian access, hex, UTF-8, TL string
 * headers, and the int64 map checked against a plain array model under random operations.
 */
#include <mtproto/tl.h>

#include <stdlib.h>

#include "testutil.h"

static void test_endian(void)
{
    uint8_t b[8];
    mtp_put_le32(b, 0x04030201u);
    OK(b[0] == 1 && b[1] == 2 && b[2] == 3 && b[3] == 4, "put_le32 byte order");
    mtp_put_le64(b, 0x0807060504030201ull);
    OK(b[0] == 1 && b[7] == 8, "put_le64 byte order");
    IS_INT(mtp_get_le32(b + 4), 0x08070605, "get_le32 at an unaligned offset");
    OK(mtp_get_le64(b) == 0x0807060504030201ull, "get_le64");
}

static void test_hex(void)
{
    static const uint8_t raw[] = { 0x00, 0x7f, 0xab, 0xff };
    char h[9] = { 0 };
    mtp_hex_encode(raw, 4, h);
    OK(strcmp(h, "007fabff") == 0, "hex_encode: lowercase (%s)", h);
    uint8_t back[4];
    OK(mtp_hex_decode("007FabfF", 4, back) == 0 && memcmp(back, raw, 4) == 0,
       "hex_decode: either case");
    IS_INT(mtp_hex_decode("00g0", 2, back), MTP_EINVAL, "hex_decode: a non-digit fails");
    IS_INT(mtp_hexval('F'), 15, "hexval F");
    IS_INT(mtp_hexval(' '), -1, "hexval of a space");
}

static void test_utf8(void)
{
    OK(mtp_utf8_valid((const uint8_t *)"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10),
       "valid: 1-, 2-, 3- and 4-byte sequences");
    OK(!mtp_utf8_valid((const uint8_t *)"\xc0\xaf", 2), "overlong: invalid");
    OK(!mtp_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3), "surrogate: invalid");
    OK(!mtp_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4), "above U+10FFFF: invalid");
    OK(!mtp_utf8_valid((const uint8_t *)"\xe2\x82", 2), "truncated: invalid");
    size_t bad = 0;
    IS_INT(mtp_utf8_seq((const uint8_t *)"\xe2\x82x", 3, &bad), 0, "seq: truncated 3-byte");
    IS_INT(bad, 2, "seq: maximal invalid subpart of 2 bytes");
    uint8_t o[4];
    OK(mtp_utf8_put(o, 0x1f600) == 4 && memcmp(o, "\xf0\x9f\x98\x80", 4) == 0, "utf8_put U+1F600");
}

static void test_tlb(void)
{
    uint8_t h[4];
    IS_INT(mtp_tlb_header(h, 253), 1, "253 bytes: short header");
    IS_INT(h[0], 253, "... holding the length");
    IS_INT(mtp_tlb_header(h, 70000), 4, "70000 bytes: long header");
    OK(h[0] == 254 && h[1] == (70000 & 255) && h[2] == ((70000 >> 8) & 255) && h[3] == 1,
       "... 0xfe and 24-bit length");
    for (size_t n = 0; n < 600; n++)
        if (mtp_tlb_size(n) != mtp_tl_bytes_size(n)) {
            OK(0, "tlb_size(%zu) matches mtp_tl_bytes_size", n);
            return;
        }
    OK(1, "tlb_size matches mtp_tl_bytes_size for 0..599");
}

/* random puts / dels / gets against a model of 64 keys (0 and negatives included) */
static void test_map(void)
{
    enum { K = 64 };
    int64_t keys[K];
    void *model[K] = { 0 };
    tu_rng_t g = { 12345 };
    for (int i = 0; i < K; i++)
        keys[i] = i == 0 ? 0 : i == 1 ? INT64_MIN : (int64_t)tu_rng_next(&g);
    mtp_i64map_t m = { 0 };
    bool ok = true;
    uint32_t count = 0;
    for (int step = 0; step < 20000 && ok; step++) {
        int k = (int)tu_rng_below(&g, K);
        switch (tu_rng_below(&g, 3)) {
        case 0: {
            void *v = (void *)(uintptr_t)(step + 1);
            ok &= mtp_i64map_put(&m, keys[k], v) == 0;
            count += model[k] == NULL;
            model[k] = v;
            break;
        }
        case 1:
            ok &= mtp_i64map_del(&m, keys[k]) == model[k];
            count -= model[k] != NULL;
            model[k] = NULL;
            break;
        default:
            ok &= mtp_i64map_get(&m, keys[k]) == model[k] &&
                  mtp_i64map_has(&m, keys[k]) == (model[k] != NULL);
        }
        ok &= m.n == count;
    }
    OK(ok, "20000 random put/del/get agree with the model (key 0 and INT64_MIN included)");
    size_t it = 0, seen = 0;
    int64_t k;
    void *v;
    bool match = true;
    while (mtp_i64map_next(&m, &it, &k, &v)) {
        seen++;
        bool found = false;
        for (int i = 0; i < K; i++)
            found |= keys[i] == k && model[i] == v;
        match &= found;
    }
    OK(match && seen == count, "next walks every entry once (%zu of %u)", seen, count);
    OK(mtp_i64map_reserve(&m, 1000) == 0 && m.cap >= 2 * (m.n - m.has_zero + 1000u),
       "reserve makes room");
    mtp_i64map_free(&m);
    OK(m.cap == 0 && m.n == 0 && !mtp_i64map_get(&m, 5) && !mtp_i64map_has(&m, 0),
       "free leaves an empty map");
}

int main(void)
{
    test_endian();
    test_hex();
    test_utf8();
    test_tlb();
    test_map();
    return tap_done();
}
