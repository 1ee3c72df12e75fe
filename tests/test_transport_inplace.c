/*
 * In-place framing and zero-copy input of the transport layer:
 *  - mtp_transport_frame_begin()/frame_end() (several frames begun before the first is
 *    ended, as the connection does when it seals packets together) produce exactly the
 *    bytes mtp_transport_frame() produces, for every kind, plain and obfuscated;
 *  - mtp_transport_rx_space()/rx_commit() in random pieces deliver exactly what
 *    mtp_transport_feed() delivers;
 *  - the packets of consecutive mtp_transport_next() calls stay valid together.
 */
#include <stdlib.h>
#include <string.h>

#include <mtproto/transport.h>
#include "testutil.h"

/* Deterministic rngs (testutil): two transports given equal seeds draw equal bytes. */
static tu_rng_t prng_s = { 0x1234567887654321ULL };

static const char *kname[] = { "?", "abridged", "intermediate", "padded", "full" };

static const size_t sizes[] = { 40, 56, 1000, 65560, 300024, 1048600, 88, 4120, 24 + 16 * 7 };   /* 24 + 16k: what padded can tell apart from its padding */
#define NSIZES (sizeof sizes / sizeof sizes[0])

static uint8_t *payload(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed * 131 + (i >> 9));
    p[0] |= 1;   /* an encrypted-looking packet (auth_key_id != 0) */
    return p;
}

static void one_kind(mtp_transport_kind_t kind, bool ob)
{
    char what[64];
    snprintf(what, sizeof what, "%s%s", kname[kind], ob ? " obfuscated" : "");
    tu_rng_t ra = { 42 }, rb = { 42 }, rs1 = { 7 }, rs2 = { 7 };
    mtp_rng_t rnga = { tu_rng_mtp_fill, &ra }, rngb = { tu_rng_mtp_fill, &rb };
    mtp_rng_t rngs1 = { tu_rng_mtp_fill, &rs1 }, rngs2 = { tu_rng_mtp_fill, &rs2 };
    mtp_transport_t a, b, s1, s2, s3;
    if (mtp_transport_init_client(&a, kind, ob, ob ? 2 : 0, NULL, &rnga) ||
        mtp_transport_init_client(&b, kind, ob, ob ? 2 : 0, NULL, &rngb)) {
        OK(0, "%s: init", what);
        return;
    }
    mtp_transport_init_server(&s1, NULL, &rngs1);
    mtp_transport_init_server(&s2, NULL, &rngs2);
    mtp_transport_init_server(&s3, NULL, &rngs2);
    uint8_t *pl[NSIZES];
    for (size_t i = 0; i < NSIZES; i++)
        pl[i] = payload(sizes[i], (unsigned)i);

    /* client a: one call per frame; client b: frames begun three at a time */
    mtp_buf_t wa, wb;
    mtp_buf_init(&wa);
    mtp_buf_init(&wb);
    bool qa_ok = kind != MTP_TRANSPORT_FULL;
    int bad = 0;
    for (size_t i = 0; i < NSIZES; i++) {
        unsigned fl = qa_ok && i % 2 ? MTP_TRANSPORT_QUICK_ACK : 0;
        bad += mtp_transport_frame(&a, pl[i], sizes[i], fl, &wa) != 0;
    }
    for (size_t i = 0; i < NSIZES; i += 3) {
        mtp_transport_slot_t slot[3];
        size_t m = NSIZES - i < 3 ? NSIZES - i : 3;
        for (size_t j = 0; j < m; j++) {
            unsigned fl = qa_ok && (i + j) % 2 ? MTP_TRANSPORT_QUICK_ACK : 0;
            bad += mtp_transport_frame_begin(&b, sizes[i + j], fl, &wb, &slot[j]) != 0;
        }
        for (size_t j = 0; j < m; j++) {
            bad += slot[j].len != sizes[i + j];
            memcpy(wb.data + slot[j].payload, pl[i + j], sizes[i + j]);
        }
        for (size_t j = 0; j < m; j++)
            bad += mtp_transport_frame_end(&b, &wb, &slot[j]) != 0;
    }
    IS_INT(bad, 0, "%s: frame_begin/frame_end accept the frames", what);
    OK(wa.len == wb.len && memcmp(wa.data, wb.data, wa.len) == 0,
       "%s: frames begun together and ended in order = mtp_transport_frame (%zu bytes)", what,
       wa.len);

    /* the server side: feed() at once vs rx_space/rx_commit in random pieces */
    size_t got1 = 0, got2 = 0;
    bad = 0;
    if (mtp_transport_feed(&s1, wa.data, wa.len))
        bad++;
    for (;;) {
        mtp_transport_event_t ev;
        int r = mtp_transport_next(&s1, &ev);
        if (r <= 0) {
            bad += r < 0;
            break;
        }
        bad += ev.type != MTP_TRANSPORT_EV_PACKET || got1 >= NSIZES || ev.len != sizes[got1] ||
               memcmp(ev.data, pl[got1], ev.len) != 0;
        got1++;
    }
    size_t off = 0;
    while (off < wa.len) {
        uint8_t *p;
        size_t cap, want = 1 + (size_t)tu_rng_below(&prng_s, 70000);
        if (mtp_transport_rx_space(&s2, want, &p, &cap) || cap < want) {
            bad++;
            break;
        }
        /* fill it in one to three writes, as several recv() calls would */
        size_t n = 1 + (size_t)tu_rng_below(&prng_s, cap < wa.len - off ? cap : wa.len - off);
        memcpy(p, wa.data + off, n);
        if (mtp_transport_rx_commit(&s2, n))
            bad++;
        off += n;
        for (;;) {
            mtp_transport_event_t ev;
            int r = mtp_transport_next(&s2, &ev);
            if (r <= 0) {
                bad += r < 0;
                break;
            }
            bad += ev.type != MTP_TRANSPORT_EV_PACKET || got2 >= NSIZES ||
                   ev.len != sizes[got2] || memcmp(ev.data, pl[got2], ev.len) != 0;
            got2++;
        }
    }
    IS_INT(bad, 0, "%s: every packet intact, both ways of input", what);
    OK(got1 == NSIZES && got2 == NSIZES, "%s: feed gives %zu packets, rx_space/rx_commit %zu",
       what, got1, got2);

    /* all packets taken first, compared afterwards: they stay valid together */
    const uint8_t *ptr[NSIZES];
    size_t len[NSIZES], n3 = 0;
    uint8_t *p;
    size_t cap;
    bad = mtp_transport_rx_space(&s3, wa.len, &p, &cap) != 0 || cap < wa.len;
    if (!bad) {
        memcpy(p, wa.data, wa.len);
        bad += mtp_transport_rx_commit(&s3, wa.len) != 0;
        IS_INT(mtp_transport_rx_commit(&s3, cap + 1), MTP_EINVAL,
               "%s: committing more than the space -> MTP_EINVAL", what);
    }
    for (;;) {
        mtp_transport_event_t ev;
        if (bad || n3 >= NSIZES || mtp_transport_next(&s3, &ev) != 1)
            break;
        ptr[n3] = ev.data;
        len[n3++] = ev.len;
    }
    for (size_t i = 0; i < n3; i++)
        bad += len[i] != sizes[i] || memcmp(ptr[i], pl[i], len[i]) != 0;
    OK(!bad && n3 == NSIZES, "%s: packets of consecutive next() calls stay valid together", what);

    for (size_t i = 0; i < NSIZES; i++)
        free(pl[i]);
    mtp_buf_free(&wa);
    mtp_buf_free(&wb);
    mtp_transport_free(&a);
    mtp_transport_free(&b);
    mtp_transport_free(&s1);
    mtp_transport_free(&s2);
    mtp_transport_free(&s3);
}

static void test_args(void)
{
    mtp_transport_t t;
    tu_rng_t r = { 1 };
    mtp_rng_t rng = { tu_rng_mtp_fill, &r };
    mtp_transport_init_client(&t, MTP_TRANSPORT_INTERMEDIATE, false, 0, NULL, &rng);
    mtp_buf_t w;
    mtp_buf_init(&w);
    mtp_transport_slot_t slot;
    IS_INT(mtp_transport_frame_begin(&t, 42, 0, &w, &slot), MTP_EINVAL, "frame_begin: length not a multiple of 4");
    IS_INT(mtp_transport_frame_begin(&t, 40, 0x100, &w, &slot), MTP_EINVAL, "frame_begin: unknown flag");
    IS_INT(mtp_transport_frame_begin(NULL, 40, 0, &w, &slot), MTP_EINVAL, "frame_begin: NULL transport");
    IS_INT(w.len, 0, "frame_begin: nothing written on error");
    OK(mtp_transport_frame_begin(&t, 40, 0, &w, &slot) == 0, "frame_begin: 40 bytes");
    slot.end = w.len + 1;
    IS_INT(mtp_transport_frame_end(&t, &w, &slot), MTP_EINVAL, "frame_end: a slot beyond the buffer");
    uint8_t *p;
    size_t cap;
    IS_INT(mtp_transport_rx_space(&t, 0, &p, &cap), MTP_EINVAL, "rx_space: want 0");
    mtp_buf_free(&w);
    mtp_transport_free(&t);
}

int main(void)
{
    static const mtp_transport_kind_t kinds[] = { MTP_TRANSPORT_ABRIDGED, MTP_TRANSPORT_INTERMEDIATE,
                                                  MTP_TRANSPORT_PADDED, MTP_TRANSPORT_FULL };
    for (size_t k = 0; k < 4; k++)
        for (int ob = 0; ob < 2; ob++)
            if (!(ob && kinds[k] == MTP_TRANSPORT_FULL))
                one_kind(kinds[k], ob);
    test_args();
    return tap_done();
}
