/*
 * libFuzzer target: the server-side transport detector and unframer.
 *
 * Input: byte 0 chooses the configuration and the chunking, the rest is the stream a
 * client would send:
 *   bits 0..1  0: no secret   1: 16-byte secret   2: 0xdd secret   3: no secret, max 256
 *   bits 2..7  0: feed everything at once; n: feed in chunks of n bytes; 63: chunk sizes
 *              taken from the stream position (1..16, varying)
 * Every event is drained after each feed; packets are touched byte by byte, quick-ack
 * requests are answered, and some packets are echoed back through the framer (padding,
 * obfuscation) so the sending side runs too. Invariants checked (trap on violation):
 * the receive error is sticky, packets respect the max size, nothing is left undrained.
 *
 * Seeds: build with -DFUZZ_TRANSPORT_MAKE_SEEDS (a plain main, no libFuzzer) and run
 * with the corpus directory as argument: fuzz/corpus/fuzz_transport/.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtproto/transport.h>
#include "proto/transport_internal.h"   /* in-place transports on the stack */

/* Deterministic "random" source: fuzzing must be reproducible. */
static int det_fill(void *ctx, uint8_t *out, size_t n)
{
    uint32_t *s = ctx;
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1103515245u + 12345u;
        out[i] = (uint8_t)(*s >> 16);
    }
    return 0;
}

static const uint8_t fuzz_key[17] = { 0xdd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                      0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] & 3, sel = data[0] >> 2;
    data++;
    size--;

    mtp_proxy_secret_t sec;
    const mtp_proxy_secret_t *secret = NULL;
    if (mode == 1) {
        mtp_proxy_secret_parse(&sec, fuzz_key + 1, 16);
        secret = &sec;
    } else if (mode == 2) {
        mtp_proxy_secret_parse(&sec, fuzz_key, 17);
        secret = &sec;
    }
    uint32_t seed = 1;
    mtp_rng_t rng = { det_fill, &seed };
    mtp_transport_t t;
    if (mtp_transport_init_server_(&t, secret, &rng) != 0)
        __builtin_trap();
    size_t max = MTP_TRANSPORT_DEFAULT_MAX_PACKET;
    if (mode == 3) {
        max = 256;
        mtp_transport_set_max_packet(&t, max);
    }

    mtp_buf_t out;
    mtp_buf_init(&out);
    volatile uint8_t sink = 0;
    size_t pos = 0, npackets = 0;
    int dead = 0;
    while (pos < size) {
        size_t chunk = sel == 0 ? size : sel == 63 ? 1 + (pos * 7 + size) % 16 : sel;
        if (chunk > size - pos)
            chunk = size - pos;
        int rc = mtp_transport_feed(&t, data + pos, chunk);
        pos += chunk;
        if (dead) {
            check(rc == dead);
            continue;
        }
        check(rc == 0);
        mtp_transport_event_t ev;
        while ((rc = mtp_transport_next(&t, &ev)) == 1) {
            check(ev.type == MTP_TRANSPORT_EV_PACKET);   /* server role: packets only */
            check(ev.len >= 4 && ev.len <= max);
            uint8_t acc = 0;
            for (size_t i = 0; i < ev.len; i++)
                acc ^= ev.data[i];
            sink ^= acc;
            npackets++;
            mtp_buf_clear(&out);
            if (ev.quick_ack)
                check(mtp_transport_frame_quick_ack(&t, 0x80000000u | (uint32_t)ev.len, &out) == 0);
            if (npackets % 3 == 1) {
                uint8_t copy[512];
                size_t n = ev.len < sizeof copy ? ev.len : sizeof copy;
                memcpy(copy, ev.data, n);
                check(mtp_transport_frame(&t, copy, n & ~(size_t)3, 0, &out) == 0);
            }
            if (npackets % 5 == 2)
                check(mtp_transport_frame_error(&t, -404, &out) == 0);
        }
        if (rc < 0) {
            check(rc == MTP_ETRANSPORT);
            check(mtp_transport_error(&t) == rc);
            check(mtp_transport_next(&t, &ev) == rc);
            dead = rc;
        }
    }
    (void)sink;
    if (!dead && mtp_transport_kind(&t) == MTP_TRANSPORT_UNKNOWN)
        check(mtp_transport_pending(&t) == size);
    mtp_buf_free(&out);
    mtp_transport_clear_(&t);
    return 0;
}

#ifdef FUZZ_TRANSPORT_MAKE_SEEDS
/* Write seed streams: every client kind (plain, obfuscated, with secrets), a few
 * packets each, some with quick-ack requests. */
static void write_seed(const char *dir, const char *name, uint8_t mode,
                       const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputc(mode, f);
    fwrite(p, 1, n, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
        return 2;
    }
    static const mtp_transport_kind_t kinds[] = { MTP_TRANSPORT_ABRIDGED,
                                                  MTP_TRANSPORT_INTERMEDIATE,
                                                  MTP_TRANSPORT_PADDED, MTP_TRANSPORT_FULL };
    static const unsigned sizes[] = { 4, 40, 24 + 16 * 30, 20 + 600 };
    for (int k = 0; k < 4; k++)
        for (int ob = 0; ob < 4; ob++) {         /* none, obfs, obfs+secret, obfs+dd */
            if (ob && kinds[k] == MTP_TRANSPORT_FULL)
                continue;
            if (ob == 3 && kinds[k] != MTP_TRANSPORT_PADDED)
                continue;
            mtp_proxy_secret_t sec;
            if (ob == 2)
                mtp_proxy_secret_parse(&sec, fuzz_key + 1, 16);
            if (ob == 3)
                mtp_proxy_secret_parse(&sec, fuzz_key, 17);
            uint32_t seed = 7u + (unsigned)k * 4u + (unsigned)ob;
            mtp_rng_t rng = { det_fill, &seed };
            mtp_transport_t c;
            if (mtp_transport_init_client_(&c, kinds[k], ob != 0, 2, ob >= 2 ? &sec : NULL, &rng))
                return 1;
            mtp_buf_t out;
            mtp_buf_init(&out);
            for (int i = 0; i < 4; i++) {
                uint8_t pkt[1024] = { 0 };
                unsigned n = sizes[i];
                if (n >= 40 && (n - 24) % 16 == 0)
                    pkt[0] = 0x5a;                      /* encrypted-looking */
                else if (n >= 20)
                    pkt[16] = (uint8_t)(n - 20), pkt[17] = (uint8_t)((n - 20) >> 8);
                for (unsigned j = 24; j < n; j++)
                    pkt[j] = (uint8_t)j;
                unsigned fl = (i & 1) && kinds[k] != MTP_TRANSPORT_FULL ? MTP_TRANSPORT_QUICK_ACK : 0;
                if (mtp_transport_frame(&c, pkt, n, fl, &out))
                    return 1;
            }
            uint8_t mode = ob == 2 ? 1 : ob == 3 ? 2 : 0;
            char name[64];
            snprintf(name, sizeof name, "seed-%s-%d-whole", mtp_transport_kind_name(kinds[k]), ob);
            write_seed(argv[1], name, mode, out.data, out.len);
            snprintf(name, sizeof name, "seed-%s-%d-split", mtp_transport_kind_name(kinds[k]), ob);
            write_seed(argv[1], name, (uint8_t)(mode | 63u << 2), out.data, out.len);
            mtp_buf_free(&out);
            mtp_transport_clear_(&c);
        }
    return 0;
}
#endif
