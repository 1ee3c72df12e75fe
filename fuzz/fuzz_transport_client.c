/*
 * libFuzzer target: the client-side transport unframer (what a server sends back).
 *
 * Input: byte 0 chooses the transport and the chunking, the rest is the server stream:
 *   bits 0..1  kind: abridged, intermediate, padded, full
 *   bit  2     obfuscated2 (ignored for full); the client's init is drawn from a fixed
 *              deterministic source, so seeds can carry a correctly encrypted stream
 *   bits 3..7  0: feed everything at once; n: chunks of n bytes; 31: varying 1..16
 * Events are drained after each feed: packets touched, quick acks and transport errors
 * checked for form. The client also frames a packet per event so its sender runs.
 *
 * Seeds: build with -DFUZZ_TRANSPORT_MAKE_SEEDS (plain main) and run with
 * fuzz/corpus/fuzz_transport_client/ as argument.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtproto/transport.h>
#include "proto/transport_internal.h"   /* in-place transports on the stack */

static int det_fill(void *ctx, uint8_t *out, size_t n)
{
    uint32_t *s = ctx;
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1103515245u + 12345u;
        out[i] = (uint8_t)(*s >> 16);
    }
    return 0;
}

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static const mtp_transport_kind_t kinds[4] = { MTP_TRANSPORT_ABRIDGED, MTP_TRANSPORT_INTERMEDIATE,
                                               MTP_TRANSPORT_PADDED, MTP_TRANSPORT_FULL };

/* Set up the client exactly as the seeds generator does. */
static int client_setup(mtp_transport_t *c, unsigned sel, uint32_t *seed, mtp_rng_t *rng)
{
    mtp_transport_kind_t kind = kinds[sel & 3];
    int obfs = (sel & 4) && kind != MTP_TRANSPORT_FULL;
    *seed = 12345;
    rng->fill = det_fill;
    rng->ctx = seed;
    return mtp_transport_init_client_(c, kind, obfs, 2, NULL, rng);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0] & 7, chunksel = data[0] >> 3;
    data++;
    size--;

    uint32_t seed;
    mtp_rng_t rng;
    mtp_transport_t t;
    if (client_setup(&t, sel, &seed, &rng) != 0)
        __builtin_trap();

    mtp_buf_t out;
    mtp_buf_init(&out);
    volatile uint8_t sink = 0;
    size_t pos = 0;
    int dead = 0;
    static const uint8_t ping[20] = { 0 };
    while (pos < size) {
        size_t chunk = chunksel == 0 ? size : chunksel == 31 ? 1 + (pos * 5 + size) % 16 : chunksel;
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
            switch (ev.type) {
            case MTP_TRANSPORT_EV_PACKET: {
                check(ev.len >= 4 && ev.len <= MTP_TRANSPORT_DEFAULT_MAX_PACKET);
                uint8_t acc = 0;
                for (size_t i = 0; i < ev.len; i++)
                    acc ^= ev.data[i];
                sink ^= acc;
                break;
            }
            case MTP_TRANSPORT_EV_QUICK_ACK:
                check(ev.token & 0x80000000u);
                check(mtp_transport_kind(&t) != MTP_TRANSPORT_FULL);
                break;
            case MTP_TRANSPORT_EV_ERROR:
                check(ev.code < 0);
                break;
            default:
                check(0);
            }
            mtp_buf_clear(&out);
            unsigned fl = mtp_transport_quick_ack_supported(&t) ? MTP_TRANSPORT_QUICK_ACK : 0;
            check(mtp_transport_frame(&t, ping, sizeof ping, fl, &out) == 0);
        }
        if (rc < 0) {
            check(rc == MTP_ETRANSPORT);
            check(mtp_transport_next(&t, &ev) == rc);
            dead = rc;
        }
    }
    (void)sink;
    mtp_buf_free(&out);
    mtp_transport_clear_(&t);
    return 0;
}

#ifdef FUZZ_TRANSPORT_MAKE_SEEDS
/* Seeds: for each kind (plain and obfuscated) a server stream with packets, quick acks
 * and transport errors, produced by a real server transport that read the client's
 * handshake. */
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
        return 2;
    }
    for (unsigned sel = 0; sel < 8; sel++) {
        if ((sel & 4) && kinds[sel & 3] == MTP_TRANSPORT_FULL)
            continue;
        uint32_t seed, sseed = 99;
        mtp_rng_t rng, srng = { det_fill, &sseed };
        mtp_transport_t c, s;
        mtp_buf_t hs, out;
        mtp_buf_init(&hs);
        mtp_buf_init(&out);
        if (client_setup(&c, sel, &seed, &rng))
            return 1;
        static const uint8_t first[40] = { 1 };
        mtp_transport_frame(&c, first, sizeof first, 0, &hs);
        mtp_transport_init_server_(&s, NULL, &srng);
        mtp_transport_feed(&s, hs.data, hs.len);
        mtp_transport_event_t ev;
        while (mtp_transport_next(&s, &ev) == 1)
            ;
        static const unsigned sizes[] = { 40, 24 + 16 * 20, 20 + 100, 24 + 16 * 100 };
        for (int i = 0; i < 4; i++) {
            uint8_t pkt[2048] = { 0 };
            unsigned n = sizes[i];
            if ((n - 24) % 16 == 0)
                pkt[0] = 0x77;
            else
                pkt[16] = (uint8_t)(n - 20);
            for (unsigned j = 24; j < n; j++)
                pkt[j] = (uint8_t)(j * 3);
            mtp_transport_frame(&s, pkt, n, 0, &out);
            if (mtp_transport_quick_ack_supported(&s))
                mtp_transport_frame_quick_ack(&s, 0x80001234u + (unsigned)i, &out);
            if (i == 2)
                mtp_transport_frame_error(&s, -429, &out);
        }
        mtp_transport_frame_error(&s, -404, &out);
        for (int split = 0; split < 2; split++) {
            char path[512];
            snprintf(path, sizeof path, "%s/seed-%s%s-%s", argv[1],
                     mtp_transport_kind_name(kinds[sel & 3]), (sel & 4) ? "-obfs" : "",
                     split ? "split" : "whole");
            FILE *f = fopen(path, "wb");
            if (!f) {
                perror(path);
                return 1;
            }
            fputc((int)(sel | (split ? 31u << 3 : 0)), f);
            fwrite(out.data, 1, out.len, f);
            fclose(f);
        }
        mtp_transport_clear_(&c);
        mtp_transport_clear_(&s);
        mtp_buf_free(&hs);
        mtp_buf_free(&out);
    }
    return 0;
}
#endif
