/*
 * libmtproto — QR code encoder (see include/mtproto/qr.h). Facts of the standard used here:
 * the block structure of versions 1..10 at L and M, the alignment pattern centres, byte
 * mode (0100, 8-bit count below version 10, 16-bit from 10), pad bytes EC 11, Reed-Solomon
 * over GF(256) with x^8+x^4+x^3+x^2+1, format information BCH(15,5) with 0x537 and mask
 * 0x5412, version information BCH(18,6) with 0x1f25, the eight data masks and the four
 * penalty rules.
 */
#include <mtproto/common.h>
#include <mtproto/qr.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ec codewords per block, blocks of group 1, data codewords per group-1 block, blocks of
 * group 2 (one more data codeword each) */
typedef struct qr_blocks { uint8_t ec, n1, d1, n2; } qr_blocks_t;

static const qr_blocks_t BLOCKS[2][MTP_QR_MAX_VERSION + 1] = {
    { { 0, 0, 0, 0 }, { 7, 1, 19, 0 }, { 10, 1, 34, 0 }, { 15, 1, 55, 0 }, { 20, 1, 80, 0 },
      { 26, 1, 108, 0 }, { 18, 2, 68, 0 }, { 20, 2, 78, 0 }, { 24, 2, 97, 0 },
      { 30, 2, 116, 0 }, { 18, 2, 68, 2 } },
    { { 0, 0, 0, 0 }, { 10, 1, 16, 0 }, { 16, 1, 28, 0 }, { 26, 1, 44, 0 }, { 18, 2, 32, 0 },
      { 24, 2, 43, 0 }, { 16, 4, 27, 0 }, { 18, 4, 31, 0 }, { 22, 2, 38, 2 },
      { 22, 3, 36, 2 }, { 26, 4, 43, 1 } },
};

static const uint8_t ALIGN[MTP_QR_MAX_VERSION + 1][3] = {
    { 0 }, { 0 }, { 6, 18 }, { 6, 22 }, { 6, 26 }, { 6, 30 }, { 6, 34 },
    { 6, 22, 38 }, { 6, 24, 42 }, { 6, 26, 46 }, { 6, 28, 50 },
};

typedef struct qr_work {
    mtp_qr_t *q;
    uint8_t fn[MTP_QR_MAX_SIZE][MTP_QR_MAX_SIZE];  /* function modules */
} qr_work_t;

static void setf(qr_work_t *w, int x, int y, bool dark)
{
    w->q->m[y][x] = dark;
    w->fn[y][x] = 1;
}

static int data_codewords(int v, int e)
{
    const qr_blocks_t *b = &BLOCKS[e][v];
    return b->n1 * b->d1 + b->n2 * (b->d1 + 1);
}

/* ---- Reed-Solomon */

static uint8_t gmul(uint8_t a, uint8_t b)
{
    unsigned r = 0;
    for (int i = 7; i >= 0; i--) {
        r = (r << 1) ^ ((r >> 7) * 0x11d);
        r ^= ((b >> i) & 1u) * a;
    }
    return (uint8_t)r;
}

static void rs_ec(const uint8_t *d, int n, int ec, uint8_t *out)
{
    uint8_t gen[32];            /* x^ec + ...: coefficients of x^(ec-1) .. x^0 */
    memset(gen, 0, sizeof gen);
    gen[ec - 1] = 1;
    uint8_t root = 1;
    for (int i = 0; i < ec; i++) {
        for (int j = 0; j < ec; j++) {
            gen[j] = gmul(gen[j], root);
            if (j + 1 < ec)
                gen[j] ^= gen[j + 1];
        }
        root = gmul(root, 2);
    }
    memset(out, 0, (size_t)ec);
    for (int i = 0; i < n; i++) {
        uint8_t f = d[i] ^ out[0];
        memmove(out, out + 1, (size_t)ec - 1);
        out[ec - 1] = 0;
        for (int j = 0; j < ec; j++)
            out[j] ^= gmul(gen[j], f);
    }
}

/* ---- function patterns */

static void draw_functions(qr_work_t *w)
{
    mtp_qr_t *q = w->q;
    int n = q->size;
    for (int i = 0; i < n; i++) {
        setf(w, 6, i, i % 2 == 0);
        setf(w, i, 6, i % 2 == 0);
    }
    const int fc[3][2] = { { 3, 3 }, { n - 4, 3 }, { 3, n - 4 } };
    for (int k = 0; k < 3; k++)
        for (int dy = -4; dy <= 4; dy++)
            for (int dx = -4; dx <= 4; dx++) {
                int x = fc[k][0] + dx, y = fc[k][1] + dy;
                int d = abs(dx) > abs(dy) ? abs(dx) : abs(dy);
                if (x >= 0 && x < n && y >= 0 && y < n)
                    setf(w, x, y, d != 2 && d != 4);
            }
    int na = q->version == 1 ? 0 : q->version < 7 ? 2 : 3;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < na; j++) {
            if ((i == 0 && j == 0) || (i == 0 && j == na - 1) || (i == na - 1 && j == 0))
                continue;
            int cx = ALIGN[q->version][i], cy = ALIGN[q->version][j];
            for (int dy = -2; dy <= 2; dy++)
                for (int dx = -2; dx <= 2; dx++)
                    setf(w, cx + dx, cy + dy, (abs(dx) > abs(dy) ? abs(dx) : abs(dy)) != 1);
        }
    if (q->version >= 7) {
        unsigned rem = (unsigned)q->version;
        for (int i = 0; i < 12; i++)
            rem = (rem << 1) ^ ((rem >> 11) * 0x1f25u);
        unsigned bits = (unsigned)q->version << 12 | rem;
        for (int i = 0; i < 18; i++) {
            bool b = (bits >> i) & 1u;
            int a = n - 11 + i % 3, c = i / 3;
            setf(w, a, c, b);
            setf(w, c, a, b);
        }
    }
}

static void draw_format(qr_work_t *w, int mask)
{
    mtp_qr_t *q = w->q;
    int n = q->size;
    unsigned data = (q->ecl == MTP_QR_ECL_L ? 1u : 0u) << 3 | (unsigned)mask, rem = data;
    for (int i = 0; i < 10; i++)
        rem = (rem << 1) ^ ((rem >> 9) * 0x537u);
    unsigned bits = ((data << 10) | rem) ^ 0x5412u;
    for (int i = 0; i <= 5; i++)
        setf(w, 8, i, (bits >> i) & 1u);
    setf(w, 8, 7, (bits >> 6) & 1u);
    setf(w, 8, 8, (bits >> 7) & 1u);
    setf(w, 7, 8, (bits >> 8) & 1u);
    for (int i = 9; i < 15; i++)
        setf(w, 14 - i, 8, (bits >> i) & 1u);
    for (int i = 0; i < 8; i++)
        setf(w, n - 1 - i, 8, (bits >> i) & 1u);
    for (int i = 8; i < 15; i++)
        setf(w, 8, n - 15 + i, (bits >> i) & 1u);
    setf(w, 8, n - 8, true);
}

static bool mask_bit(int mask, int x, int y)
{
    switch (mask) {
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

static void apply_mask(qr_work_t *w, int mask)
{
    for (int y = 0; y < w->q->size; y++)
        for (int x = 0; x < w->q->size; x++)
            if (!w->fn[y][x] && mask_bit(mask, x, y))
                w->q->m[y][x] ^= 1;
}

static long penalty_line(const mtp_qr_t *q, bool rows)
{
    long p = 0;
    int n = q->size;
    for (int a = 0; a < n; a++) {
        int run = 0, prev = -1;
        for (int b = 0; b < n; b++) {
            int v = rows ? q->m[a][b] : q->m[b][a];
            run = v == prev ? run + 1 : 1;
            prev = v;
            if (run == 5)
                p += 3;
            else if (run > 5)
                p++;
        }
        for (int b = 0; b + 11 <= n; b++) {   /* 1011101 with 4 light modules on one side */
            static const uint8_t p1[11] = { 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0 };
            static const uint8_t p2[11] = { 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1 };
            bool m1 = true, m2 = true;
            for (int k = 0; k < 11; k++) {
                int v = rows ? q->m[a][b + k] : q->m[b + k][a];
                m1 = m1 && v == p1[k];
                m2 = m2 && v == p2[k];
            }
            p += (m1 ? 40 : 0) + (m2 ? 40 : 0);
        }
    }
    return p;
}

static long penalty(const mtp_qr_t *q)
{
    long p = penalty_line(q, true) + penalty_line(q, false), dark = 0;
    int n = q->size;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            dark += q->m[y][x];
            if (x + 1 < n && y + 1 < n && q->m[y][x] == q->m[y][x + 1] &&
                q->m[y][x] == q->m[y + 1][x] && q->m[y][x] == q->m[y + 1][x + 1])
                p += 3;
        }
    long total = (long)n * n;
    long k = (labs(dark * 20 - total * 10) + total - 1) / total - 1;
    return p + k * 10;
}

/* ---- codewords */

static int build_codewords(const uint8_t *data, size_t len, int v, int e, uint8_t *out)
{
    int nd = data_codewords(v, e);
    uint8_t buf[400];
    memset(buf, 0, sizeof buf);
    size_t bit = 0;
#define PUT(val, nb)                                                                  \
    for (int _i = (nb) - 1; _i >= 0; _i--, bit++)                                      \
        if (((unsigned)(val) >> _i) & 1u)                                              \
            buf[bit >> 3] |= (uint8_t)(0x80u >> (bit & 7));
    PUT(4, 4);
    PUT(len, v < 10 ? 8 : 16);
    for (size_t i = 0; i < len; i++)
        PUT(data[i], 8);
#undef PUT
    size_t cap = (size_t)nd * 8;
    bit += cap - bit < 4 ? cap - bit : 4;       /* terminator */
    size_t nbytes = (bit + 7) / 8;
    for (size_t i = nbytes, k = 0; i < (size_t)nd; i++, k++)
        buf[i] = k % 2 ? 0x11 : 0xec;
    const qr_blocks_t *b = &BLOCKS[e][v];
    int nb = b->n1 + b->n2, off = 0;
    uint8_t ecw[8][32];
    int dlen[8], doff[8];
    for (int i = 0; i < nb; i++) {
        dlen[i] = b->d1 + (i >= b->n1);
        doff[i] = off;
        rs_ec(buf + off, dlen[i], b->ec, ecw[i]);
        off += dlen[i];
    }
    int o = 0;
    for (int k = 0; k <= b->d1; k++)
        for (int i = 0; i < nb; i++)
            if (k < dlen[i])
                out[o++] = buf[doff[i] + k];
    for (int k = 0; k < b->ec; k++)
        for (int i = 0; i < nb; i++)
            out[o++] = ecw[i][k];
    return o;
}

static void place_data(qr_work_t *w, const uint8_t *cw, int ncw)
{
    int n = w->q->size;
    long i = 0, nbits = (long)ncw * 8;
    for (int right = n - 1; right >= 1; right -= 2) {
        if (right == 6)
            right = 5;
        for (int vert = 0; vert < n; vert++)
            for (int j = 0; j < 2; j++) {
                int x = right - j;
                bool up = ((right + 1) & 2) == 0;
                int y = up ? n - 1 - vert : vert;
                if (!w->fn[y][x]) {
                    w->q->m[y][x] = i < nbits && ((cw[i >> 3] >> (7 - (i & 7))) & 1u);
                    i++;
                }
            }
    }
}

int mtp_qr_encode(const uint8_t *data, size_t len, mtp_qr_ecl_t ecl, int mask, mtp_qr_t *out)
{
    if ((!data && len) || !out || (ecl != MTP_QR_ECL_L && ecl != MTP_QR_ECL_M) || mask < -1 ||
        mask > 7)
        return MTP_EINVAL;
    int v = 1;
    while (v <= MTP_QR_MAX_VERSION &&
           (size_t)data_codewords(v, ecl) * 8 < 4 + (v < 10 ? 8u : 16u) + len * 8)
        v++;
    if (v > MTP_QR_MAX_VERSION)
        return MTP_ERANGE;
    qr_work_t *w = calloc(1, sizeof *w);
    if (!w)
        return MTP_ENOMEM;
    memset(out, 0, sizeof *out);
    out->version = v;
    out->size = 17 + 4 * v;
    out->ecl = ecl;
    w->q = out;
    uint8_t cw[400];
    int ncw = build_codewords(data, len, v, ecl, cw);
    draw_functions(w);
    draw_format(w, 0);          /* reserve the format areas */
    place_data(w, cw, ncw);
    int best = mask;
    if (mask < 0) {
        long bp = -1;
        for (int k = 0; k < 8; k++) {
            apply_mask(w, k);
            draw_format(w, k);
            long p = penalty(out);
            if (bp < 0 || p < bp) {
                bp = p;
                best = k;
            }
            apply_mask(w, k);   /* undo */
        }
    }
    apply_mask(w, best);
    draw_format(w, best);
    out->mask = best;
    free(w);
    return 0;
}

char *mtp_qr_to_text(const mtp_qr_t *q)
{
    if (!q || q->size < 21 || q->size > MTP_QR_MAX_SIZE)
        return NULL;
    int n = q->size, qz = 2, side = n + 2 * qz;
    size_t cap = (size_t)(side / 2 + 1) * ((size_t)side * 3 + 1) + 1;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    for (int y = 0; y < side; y += 2) {
        for (int x = 0; x < side; x++) {
            int yy = y - qz, xx = x - qz;
            bool top = yy >= 0 && yy < n && xx >= 0 && xx < n && q->m[yy][xx];
            bool bot = yy + 1 >= 0 && yy + 1 < n && xx >= 0 && xx < n && q->m[yy + 1][xx];
            const char *c = !top && !bot ? "\xe2\x96\x88" : !top ? "\xe2\x96\x80"
                          : !bot ? "\xe2\x96\x84" : " ";
            size_t l = strlen(c);
            memcpy(p, c, l);
            p += l;
        }
        *p++ = '\n';
    }
    *p = 0;
    return s;
}
