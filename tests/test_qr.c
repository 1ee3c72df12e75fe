/*
 * The QR encoder (include/mtproto/qr.h), checked by a decoder written here from the
 * standard: the byte-mode capacities of versions 1..10 at L and M (the spec's table), the
 * format information (BCH values of the spec's table for L/M mask 0), both format copies,
 * finder patterns, timing, the data read back in the zigzag order, unmasked, de-interleaved,
 * every block's Reed-Solomon syndromes zero, and the byte-mode payload equal to the input.
 */
#include "testutil.h"

#include <mtproto/common.h>
#include <mtproto/qr.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int CAP[2][11] = {
    { 0, 17, 32, 53, 78, 106, 134, 154, 192, 230, 271 },
    { 0, 14, 26, 42, 62, 84, 106, 122, 152, 180, 213 },
};
typedef struct { int ec, n1, d1, n2; } blk_t;
static const blk_t BLK[2][11] = {
    { { 0, 0, 0, 0 }, { 7, 1, 19, 0 }, { 10, 1, 34, 0 }, { 15, 1, 55, 0 }, { 20, 1, 80, 0 },
      { 26, 1, 108, 0 }, { 18, 2, 68, 0 }, { 20, 2, 78, 0 }, { 24, 2, 97, 0 },
      { 30, 2, 116, 0 }, { 18, 2, 68, 2 } },
    { { 0, 0, 0, 0 }, { 10, 1, 16, 0 }, { 16, 1, 28, 0 }, { 26, 1, 44, 0 }, { 18, 2, 32, 0 },
      { 24, 2, 43, 0 }, { 16, 4, 27, 0 }, { 18, 4, 31, 0 }, { 22, 2, 38, 2 },
      { 22, 3, 36, 2 }, { 26, 4, 43, 1 } },
};
static const int AL[11][3] = { { 0 }, { 0 }, { 6, 18 }, { 6, 22 }, { 6, 26 }, { 6, 30 },
                               { 6, 34 }, { 6, 22, 38 }, { 6, 24, 42 }, { 6, 26, 46 },
                               { 6, 28, 50 } };

static unsigned fmt_bits(int ecl, int mask)
{
    unsigned d = (ecl == 0 ? 1u : 0u) << 3 | (unsigned)mask, r = d;
    for (int i = 0; i < 10; i++)
        r = (r << 1) ^ ((r >> 9) * 0x537u);
    return ((d << 10) | r) ^ 0x5412u;
}

static uint8_t fn[64][64];

static void mark(int x0, int y0, int w, int h, int n)
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            if (x >= 0 && y >= 0 && x < n && y < n)
                fn[y][x] = 1;
}

static void function_map(int v, int n)
{
    memset(fn, 0, sizeof fn);
    mark(0, 0, 9, 9, n);
    mark(n - 8, 0, 8, 9, n);
    mark(0, n - 8, 9, 8, n);
    mark(6, 0, 1, n, n);
    mark(0, 6, n, 1, n);
    int na = v == 1 ? 0 : v < 7 ? 2 : 3;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < na; j++)
            if (!((i == 0 && j == 0) || (i == 0 && j == na - 1) || (i == na - 1 && j == 0)))
                mark(AL[v][i] - 2, AL[v][j] - 2, 5, 5, n);
    if (v >= 7) {
        mark(n - 11, 0, 3, 6, n);
        mark(0, n - 11, 6, 3, n);
    }
}

static bool mbit(int k, int x, int y)
{
    switch (k) {
    case 0: return (x + y) % 2 == 0;
    case 1: return y % 2 == 0;
    case 2: return x % 3 == 0;
    case 3: return (x + y) % 3 == 0;
    case 4: return (x / 3 + y / 2) % 2 == 0;
    case 5: return x * y % 2 + x * y % 3 == 0;
    case 6: return (x * y % 2 + x * y % 3) % 2 == 0;
    default: return ((x + y) % 2 + x * y % 3) % 2 == 0;
    }
}

static uint8_t gm(uint8_t a, uint8_t b)
{
    unsigned r = 0;
    for (int i = 7; i >= 0; i--) {
        r = (r << 1) ^ ((r >> 7) * 0x11d);
        r ^= ((b >> i) & 1u) * a;
    }
    return (uint8_t)r;
}

/* Decode q: -1 on any structural failure, -2 on an RS failure, else the payload length. */
static int decode(const mtp_qr_t *q, uint8_t *out, int *ecl_out, int *mask_out)
{
    int n = q->size, v = (n - 17) / 4;
    if (v < 1 || v > 10 || n != 17 + 4 * v)
        return -1;
    /* finder centres and timing */
    const int fc[3][2] = { { 3, 3 }, { n - 4, 3 }, { 3, n - 4 } };
    for (int k = 0; k < 3; k++)
        for (int dy = -3; dy <= 3; dy++)
            for (int dx = -3; dx <= 3; dx++) {
                int d = abs(dx) > abs(dy) ? abs(dx) : abs(dy);
                if (q->m[fc[k][1] + dy][fc[k][0] + dx] != (d != 2))
                    return -1;
            }
    for (int i = 8; i < n - 8; i++)
        if (q->m[6][i] != (i % 2 == 0) || q->m[i][6] != (i % 2 == 0))
            return -1;
    if (!q->m[n - 8][8])
        return -1;
    /* format: both copies */
    unsigned f1 = 0, f2 = 0;
    for (int i = 0; i <= 5; i++)
        f1 |= (unsigned)q->m[i][8] << i;
    f1 |= (unsigned)q->m[7][8] << 6 | (unsigned)q->m[8][8] << 7 | (unsigned)q->m[8][7] << 8;
    for (int i = 9; i < 15; i++)
        f1 |= (unsigned)q->m[8][14 - i] << i;
    for (int i = 0; i < 8; i++)
        f2 |= (unsigned)q->m[8][n - 1 - i] << i;
    for (int i = 8; i < 15; i++)
        f2 |= (unsigned)q->m[n - 15 + i][8] << i;
    if (f1 != f2)
        return -1;
    int ecl = -1, mask = -1;
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < 8; k++)
            if (fmt_bits(e, k) == f1) {
                ecl = e;
                mask = k;
            }
    if (ecl < 0)
        return -1;
    *ecl_out = ecl;
    *mask_out = mask;
    /* the codewords */
    function_map(v, n);
    uint8_t cw[400];
    memset(cw, 0, sizeof cw);
    int i = 0;
    for (int right = n - 1; right >= 1; right -= 2) {
        if (right == 6)
            right = 5;
        for (int vert = 0; vert < n; vert++)
            for (int j = 0; j < 2; j++) {
                int x = right - j, y = ((right + 1) & 2) == 0 ? n - 1 - vert : vert;
                if (fn[y][x])
                    continue;
                if (i < 400 * 8 && (q->m[y][x] ^ mbit(mask, x, y)))
                    cw[i >> 3] |= (uint8_t)(0x80 >> (i & 7));
                i++;
            }
    }
    const blk_t *b = &BLK[ecl][v];
    int nb = b->n1 + b->n2, total = b->n1 * (b->d1 + b->ec) + b->n2 * (b->d1 + 1 + b->ec);
    if (i / 8 != total)
        return -1;
    uint8_t blocks[8][200], data[400];
    int dl[8], o = 0, nd = 0;
    for (int k = 0; k < nb; k++)
        dl[k] = b->d1 + (k >= b->n1);
    for (int k = 0; k <= b->d1; k++)
        for (int bi = 0; bi < nb; bi++)
            if (k < dl[bi])
                blocks[bi][k] = cw[o++];
    for (int k = 0; k < b->ec; k++)
        for (int bi = 0; bi < nb; bi++)
            blocks[bi][dl[bi] + k] = cw[o++];
    for (int bi = 0; bi < nb; bi++) {
        int len = dl[bi] + b->ec;
        uint8_t root = 1;
        for (int s = 0; s < b->ec; s++) {     /* syndrome s: the codeword at alpha^s */
            uint8_t acc = 0;
            for (int k = 0; k < len; k++)
                acc = gm(acc, root) ^ blocks[bi][k];
            if (acc)
                return -2;
            root = gm(root, 2);
        }
        memcpy(data + nd, blocks[bi], (size_t)dl[bi]);
        nd += dl[bi];
    }
    /* byte mode */
    int bit = 0;
#define GET(nbits, var)                                                           \
    do {                                                                          \
        var = 0;                                                                  \
        for (int _k = 0; _k < (nbits); _k++, bit++)                               \
            var = var << 1 | ((data[bit >> 3] >> (7 - (bit & 7))) & 1);           \
    } while (0)
    int mode, cnt;
    GET(4, mode);
    GET(v < 10 ? 8 : 16, cnt);
    if (mode != 4 || (bit + cnt * 8) > nd * 8)
        return -1;
    for (int k = 0; k < cnt; k++) {
        int c;
        GET(8, c);
        out[k] = (uint8_t)c;
    }
#undef GET
    return cnt;
}

int main(void)
{
    static mtp_qr_t q;
    uint8_t in[300], out[300];
    IS_INT(fmt_bits(0, 0), 0x77c4, "format L mask 0: the spec's 111011111000100");
    IS_INT(fmt_bits(1, 0), 0x5412, "format M mask 0: the spec's 101010000010010");
    tu_rng_t r;
    tu_rng_seed(&r, 9);
    for (int e = 0; e < 2; e++) {
        int bad = 0, badv = 0, n = 0;
        for (int v = 1; v <= 10; v++)
            for (int extra = 0; extra <= 1; extra++) {
                int len = CAP[e][v] + extra;
                if (v == 10 && extra) {
                    tu_rng_fill(&r, in, (size_t)len);
                    if (mtp_qr_encode(in, (size_t)len, (mtp_qr_ecl_t)e, -1, &q) != MTP_ERANGE)
                        bad++;
                    continue;
                }
                for (int mask = -1; mask < 8; mask += v == 4 ? 1 : 9) {
                    tu_rng_fill(&r, in, (size_t)len);
                    int ecl = -1, mk = -1;
                    n++;
                    if (mtp_qr_encode(in, (size_t)len, (mtp_qr_ecl_t)e, mask, &q)) {
                        bad++;
                        continue;
                    }
                    if (q.version != v + extra)
                        badv++;
                    int got = decode(&q, out, &ecl, &mk);
                    if (got != len || memcmp(in, out, (size_t)len) || ecl != e ||
                        (mask >= 0 && mk != mask) || mk != q.mask)
                        bad++;
                }
            }
        IS_INT(badv, 0, "%s: the capacity of each version is the spec's (version chosen)", e ? "M" : "L");
        IS_INT(bad, 0, "%s: %d codes (versions 1..10, every mask on version 4) decode back", e ? "M" : "L", n);
    }
    const char *url = "tg://login?token=AQAAAABnVkVxk8r9dGVzdC10b2tlbi1mb3ItcXItbG9naW4";
    IS_INT(mtp_qr_encode((const uint8_t *)url, strlen(url), MTP_QR_ECL_M, -1, &q), 0, "a login URL");
    int ecl, mk;
    int got = decode(&q, out, &ecl, &mk);
    int want = 1;
    while (CAP[1][want] < (int)strlen(url))
        want++;
    OK(got == (int)strlen(url) && !memcmp(out, url, strlen(url)) && q.version == want,
       "decodes back (version %d of %zu bytes, mask %d)", q.version, strlen(url), q.mask);
    /* a damaged code fails the syndrome check */
    q.m[q.size - 1][q.size - 1] ^= 1;
    q.m[q.size - 1][q.size - 2] ^= 1;
    IS_INT(decode(&q, out, &ecl, &mk), -2, "two flipped data modules: the RS check fails");
    char *t = mtp_qr_to_text(&q);
    OK(t && strstr(t, "\xe2\x96\x88") && strchr(t, '\n'), "terminal text");
    free(t);
    IS_INT(mtp_qr_encode(NULL, 1, MTP_QR_ECL_L, -1, &q), MTP_EINVAL, "NULL data");
    IS_INT(mtp_qr_encode(in, 1, MTP_QR_ECL_L, 8, &q), MTP_EINVAL, "mask 8");
    return tap_done();
}
