/*
 * Transport codecs: the framing vectors of tests/vectors/transports.json, client <->
 * server round trips for every kind (plain and obfuscated, with and without MTProxy
 * secrets) under random stream splits, quick acks, transport errors, server
 * auto-detection, and the negative cases (bad tags, lengths, CRC, seqno, truncation).
 */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include <mtproto/transport.h>
#include <mtproto/crypto.h>
#include "proto/transport_internal.h"
#include "testutil.h"

/* ---------------- helpers ---------------- */

/* The test generator (testutil), also used as an mtp_rng_t for padding. */
static const mtp_rng_t test_rng = { tu_rng_mtp_fill, NULL };

static uint8_t *seq_payload(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i & 0xff);
    return p;
}

static const char *kname(mtp_transport_kind_t k)
{
    return mtp_transport_kind_name(k);
}

static mtp_transport_kind_t kind_from_name(const char *s)
{
    if (!strcmp(s, "abridged"))
        return MTP_TRANSPORT_ABRIDGED;
    if (!strcmp(s, "intermediate"))
        return MTP_TRANSPORT_INTERMEDIATE;
    if (!strcmp(s, "padded"))
        return MTP_TRANSPORT_PADDED;
    if (!strcmp(s, "full"))
        return MTP_TRANSPORT_FULL;
    return MTP_TRANSPORT_UNKNOWN;
}

/* Feed all of data at once and return the first event's rc (events in *ev). */
static int feed_next(mtp_transport_t *t, const uint8_t *data, size_t n, mtp_transport_event_t *ev)
{
    int rc = mtp_transport_feed(t, data, n);
    if (rc)
        return rc;
    return mtp_transport_next(t, ev);
}

static int feed_hex_next(mtp_transport_t *t, const char *hex, mtp_transport_event_t *ev)
{
    uint8_t *b;
    size_t n = tu_unhex(hex, &b);
    if (n == (size_t)-1)
        tap_bail("bad hex %s", hex);
    int rc = feed_next(t, b, n, ev);
    free(b);
    return rc;
}

/* ---------------- vectors: transports.json ---------------- */

static void test_vectors(void)
{
    tj *root = tj_load("tests/vectors/transports.json");
    const tj *vs = tj_get(root, "vectors");
    OK(vs && tj_len(vs) >= 10, "transports.json has vectors");

    for (size_t i = 0; i < tj_len(vs); i++) {
        const tj *v = tj_at(vs, i);
        const char *tname = tj_str(tj_get(v, "transport"));
        const char *test = tj_str(tj_get(v, "test"));
        mtp_transport_kind_t kind = kind_from_name(tname);
        const tj *plen_j = tj_get(v, "payload_len");
        const tj *frame_j = tj_get(v, "frame");
        const tj *prefix_j = tj_get(v, "frame_prefix");
        const tj *input_j = tj_get(v, "input");
        const tj *bad_j = tj_get(v, "frame_with_last_byte_flipped");

        if (plen_j && (frame_j || prefix_j)) {
            size_t plen = (size_t)tj_int(plen_j);
            long long seqno = tj_get(v, "seqno") ? tj_int(tj_get(v, "seqno")) : 0;
            uint8_t *payload = seq_payload(plen);
            uint8_t *want;
            size_t wlen = tj_hex(frame_j ? frame_j : prefix_j, &want);

            /* client framing reproduces the bytes (seqno n = the (n+1)-th frame) */
            mtp_transport_t c;
            mtp_buf_t out, last;
            mtp_buf_init(&out);
            mtp_buf_init(&last);
            IS_INT(mtp_transport_init_client(&c, kind, false, 0, NULL, NULL), 0,
                   "%s %s: init client", tname, test);
            for (long long s = 0; s <= seqno; s++) {
                mtp_buf_clear(&last);
                IS_INT(mtp_transport_frame(&c, payload, plen, 0, &last), 0, "%s %s: frame #%lld",
                       tname, test, s);
                mtp_buf_append(&out, last.data, last.len);
            }
            if (frame_j) {
                IS_INT(last.len, wlen, "%s %s: frame length", tname, test);
                tap_mem_eq(last.data, want, wlen < last.len ? wlen : last.len,
                           "%s %s: frame bytes", tname, test);
            } else {
                size_t tag = kind == MTP_TRANSPORT_ABRIDGED ? 1 : 4;
                IS_INT(last.len, wlen - tag + plen + tag, "%s %s: frame length = prefix + payload",
                       tname, test);
                tap_mem_eq(last.data, want, wlen, "%s %s: frame prefix", tname, test);
                tap_mem_eq(last.data + wlen, payload, plen, "%s %s: payload follows", tname, test);
            }
            if (kind == MTP_TRANSPORT_FULL && tj_get(v, "crc32")) {
                uint32_t crc = mtp_get_le32(last.data + last.len - 4);
                IS_INT(crc, tj_uint(tj_get(v, "crc32")), "%s %s: crc32", tname, test);
            }

            /* an auto-detecting server reads the whole stream back */
            mtp_transport_t s;
            mtp_transport_event_t ev;
            mtp_transport_init_server(&s, NULL, NULL);
            int rc = mtp_transport_feed(&s, out.data, out.len);
            IS_INT(rc, 0, "%s %s: server feed", tname, test);
            if (plen == 0) {
                IS_INT(mtp_transport_next(&s, &ev), MTP_ETRANSPORT,
                       "%s %s: empty payload is rejected by the receiver", tname, test);
            } else {
                int n = 0, good = 1;
                while ((rc = mtp_transport_next(&s, &ev)) == 1) {
                    n++;
                    if (ev.type != MTP_TRANSPORT_EV_PACKET || ev.len != plen ||
                        memcmp(ev.data, payload, plen) != 0)
                        good = 0;
                }
                OK(rc == 0 && good && n == seqno + 1, "%s %s: server decodes %d packet(s)", tname,
                   test, n);
                IS_INT(mtp_transport_kind(&s), kind, "%s %s: server detected %s", tname, test,
                       tname);
            }
            mtp_transport_free(&s);
            mtp_transport_free(&c);
            mtp_buf_free(&out);
            mtp_buf_free(&last);
            free(want);
            free(payload);
        } else if (bad_j) {
            uint8_t *f;
            size_t n = tj_hex(bad_j, &f);
            mtp_transport_t s;
            mtp_transport_event_t ev;
            mtp_transport_init_server(&s, NULL, NULL);
            IS_INT(feed_next(&s, f, n, &ev), MTP_ETRANSPORT, "full %s: bad CRC rejected", test);
            IS_INT(mtp_transport_next(&s, &ev), MTP_ETRANSPORT, "full: error is sticky");
            IS_INT(mtp_transport_feed(&s, f, 1), MTP_ETRANSPORT, "full: feed after error fails");
            uint32_t got = mtp_get_le32(f + n - 4);
            IS_INT(got, tj_uint(tj_get(v, "got_crc")), "full: got_crc field as in the vector");
            mtp_transport_free(&s);

            /* client role too */
            mtp_transport_init_client(&s, MTP_TRANSPORT_FULL, false, 0, NULL, NULL);
            IS_INT(feed_next(&s, f, n, &ev), MTP_ETRANSPORT, "full client: bad CRC rejected");
            mtp_transport_free(&s);
            free(f);
        } else if (input_j) {
            mtp_transport_t c;
            mtp_transport_event_t ev;
            mtp_transport_init_client(&c, kind, false, 0, NULL, NULL);
            int rc = feed_hex_next(&c, tj_str(input_j), &ev);
            OK(rc == 1 && ev.type == MTP_TRANSPORT_EV_ERROR && ev.code == -404,
               "%s %s: transport error -404 (rc=%d type=%d code=%d)", tname, test, rc, ev.type,
               ev.code);
            IS_INT(mtp_transport_pending(&c), 0, "%s %s: consumed", tname, test);
            IS_INT(mtp_transport_next(&c, &ev), 0, "%s %s: then need more", tname, test);
            mtp_transport_free(&c);
        } else {
            tap_diag("vector %zu (%s) not used", i, test ? test : "?");
        }
    }
    tj_free(root);
}

/* ---------------- packets that satisfy the padded-intermediate rules ---------------- */

/* A payload of size n (multiple of 4) that looks like an MTProto packet where it can:
 * encrypted-like (non-zero auth_key_id, 24 + 16k) or unencrypted-like (zero auth_key_id,
 * message_data_length = n - 20); n == 4 gives a non-negative word. Such payloads
 * survive the padded transport's length recovery. */
static void make_packet(uint8_t *p, size_t n)
{
    tu_rng_fill(NULL, p, n);
    if (n == 4) {
        p[3] &= 0x7f;
        return;
    }
    if (n >= 40 && (n - 24) % 16 == 0 && (tu_rng_next(NULL) & 1)) {
        p[0] |= 1;                  /* auth_key_id != 0 */
        return;
    }
    if (n >= 20) {
        memset(p, 0, 8);
        mtp_put_le32(p + 16, (uint32_t)(n - 20));
        return;
    }
}

static bool padded_ok(size_t n)
{
    return n == 4 || n >= 20;
}

/* ---------------- round trips ---------------- */

enum { SPLIT_WHOLE, SPLIT_BYTE, SPLIT_RANDOM, SPLIT_COUNT };
static const char *split_name[] = { "whole", "1-byte", "random" };

enum { OB_NONE, OB_PLAIN, OB_SECRET, OB_DD, OB_COUNT };
static const char *ob_name[] = { "plain", "obfuscated", "obfuscated+secret", "obfuscated+dd secret" };

typedef struct expect {
    int type;
    uint8_t *data;
    size_t len;
    bool qa;
    uint32_t token;
    int32_t code;
} expect_t;

typedef struct stream {
    mtp_buf_t wire;
    expect_t *ev;
    size_t n, cap;
} stream_t;

static void stream_push(stream_t *s, expect_t e)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
    }
    s->ev[s->n++] = e;
}

static void stream_free(stream_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ev[i].data);
    free(s->ev);
    mtp_buf_free(&s->wire);
    memset(s, 0, sizeof *s);
}

/* Feed s->wire into rx with the split mode and compare every event. Returns 1 if all
 * expected events came in order and nothing else. */
static int pump(mtp_transport_t *rx, stream_t *s, int split, const char *what)
{
    size_t pos = 0, k = 0;
    int ok = 1;
    char why[200] = "";
    while (pos < s->wire.len && ok) {
        size_t chunk;
        switch (split) {
        case SPLIT_WHOLE: chunk = s->wire.len; break;
        case SPLIT_BYTE: chunk = 1; break;
        default:
            chunk = (tu_rng_next(NULL) & 3) == 0 ? 1 + tu_rng_below(NULL, 8) : 1 + tu_rng_below(NULL, 70000);
            break;
        }
        if (chunk > s->wire.len - pos)
            chunk = s->wire.len - pos;
        int rc = mtp_transport_feed(rx, s->wire.data + pos, chunk);
        if (rc) {
            snprintf(why, sizeof why, "feed rc %d", rc);
            ok = 0;
            break;
        }
        pos += chunk;
        mtp_transport_event_t ev;
        while ((rc = mtp_transport_next(rx, &ev)) == 1) {
            if (k >= s->n) {
                snprintf(why, sizeof why, "unexpected extra event type %d", ev.type);
                ok = 0;
                break;
            }
            expect_t *e = &s->ev[k++];
            if ((int)ev.type != e->type) {
                snprintf(why, sizeof why, "event %zu: type %d, want %d", k - 1, ev.type, e->type);
                ok = 0;
            } else if (e->type == MTP_TRANSPORT_EV_PACKET &&
                       (ev.len != e->len || memcmp(ev.data, e->data, e->len) != 0 ||
                        ev.quick_ack != e->qa)) {
                snprintf(why, sizeof why, "event %zu: packet len %zu (want %zu) qa %d (want %d)",
                         k - 1, ev.len, e->len, ev.quick_ack, e->qa);
                ok = 0;
            } else if (e->type == MTP_TRANSPORT_EV_QUICK_ACK && ev.token != e->token) {
                snprintf(why, sizeof why, "event %zu: token %08x want %08x", k - 1, ev.token,
                         e->token);
                ok = 0;
            } else if (e->type == MTP_TRANSPORT_EV_ERROR && ev.code != e->code) {
                snprintf(why, sizeof why, "event %zu: code %d want %d", k - 1, ev.code, e->code);
                ok = 0;
            }
            if (!ok)
                break;
        }
        if (ok && rc != 0) {
            snprintf(why, sizeof why, "next rc %d after %zu events", rc, k);
            ok = 0;
        }
    }
    if (ok && k != s->n) {
        snprintf(why, sizeof why, "%zu of %zu events", k, s->n);
        ok = 0;
    }
    if (ok && mtp_transport_pending(rx) != 0) {
        snprintf(why, sizeof why, "%zu bytes left over", mtp_transport_pending(rx));
        ok = 0;
    }
    OK(ok, "%s", what);
    if (!ok)
        tap_diag("  %s", why);
    return ok;
}

static uint32_t token_of(const uint8_t *p, size_t n)
{
    uint8_t h[32];
    mtp_sha256(p, n, h);
    return mtp_transport_quick_ack_token(h);
}

static void round_trip(mtp_transport_kind_t kind, int ob, int split)
{
    mtp_proxy_secret_t sec;
    const mtp_proxy_secret_t *secret = NULL;
    uint8_t raw[17];
    if (ob == OB_SECRET || ob == OB_DD) {
        tu_rng_fill(NULL, raw, sizeof raw);
        raw[0] = 0xdd;
        if (ob == OB_DD)
            mtp_proxy_secret_parse(&sec, raw, 17);
        else
            mtp_proxy_secret_parse(&sec, raw + 1, 16);
        secret = &sec;
    }
    int dc = ob == OB_NONE ? 0 : (int)tu_rng_below(NULL, 5) + 1;
    if (dc && (tu_rng_next(NULL) & 1))
        dc = mtp_transport_dc_code(dc, tu_rng_next(NULL) & 1, tu_rng_next(NULL) & 1);

    char what[200];
    snprintf(what, sizeof what, "%s %s %s", kname(kind), ob_name[ob], split_name[split]);

    mtp_transport_t c, s;
    int rc = mtp_transport_init_client(&c, kind, ob != OB_NONE, dc, secret, &test_rng);
    if (rc) {
        OK(0, "%s: init client rc %d", what, rc);
        return;
    }
    mtp_transport_init_server(&s, secret, &test_rng);

    /* sizes: small ones, structured boundaries, and large ones (not with 1-byte feeding) */
    static const size_t sizes_all[] = { 4, 8, 12, 16, 20, 24, 28, 40, 56, 300, 504, 508, 512,
                                        1000, 1024, 4096, 65536, 65560, 262144 + 24,
                                        1048576 + 8, 2097152 - 8, 2097152 };
    size_t nsizes = sizeof sizes_all / sizeof sizes_all[0];
    /* 1-byte feeding stops at 64 KiB; the multi-MiB packets go once, in random splits */
    size_t maxsize = split == SPLIT_BYTE ? 70000 : split == SPLIT_WHOLE ? 300000 : (size_t)-1;

    /* client -> server */
    stream_t up = { 0 }, down = { 0 };
    mtp_buf_init(&up.wire);
    mtp_buf_init(&down.wire);
    int qa_ok = kind != MTP_TRANSPORT_FULL;
    uint32_t *tokens = calloc(nsizes * 2, sizeof *tokens);
    size_t ntok = 0;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < nsizes; i++) {
            size_t n = sizes_all[i];
            if (n > maxsize || (round && n > 300000) ||
                (kind == MTP_TRANSPORT_PADDED && !padded_ok(n)))
                continue;
            expect_t e = { MTP_TRANSPORT_EV_PACKET, malloc(n), n, false, 0, 0 };
            make_packet(e.data, n);
            e.qa = qa_ok && (tu_rng_next(NULL) & 1);
            rc = mtp_transport_frame(&c, e.data, n, e.qa ? MTP_TRANSPORT_QUICK_ACK : 0, &up.wire);
            if (rc)
                OK(0, "%s: frame %zu rc %d", what, n, rc);
            if (e.qa)
                tokens[ntok++] = token_of(e.data, n);
            stream_push(&up, e);
        }
    }
    snprintf(what, sizeof what, "%s %s %s: client->server", kname(kind), ob_name[ob],
             split_name[split]);
    pump(&s, &up, split, what);
    IS_INT(mtp_transport_kind(&s), kind, "%s: server detected %s", what, kname(kind));
    IS_INT(mtp_transport_obfuscated(&s), ob != OB_NONE, "%s: obfuscation detected", what);
    if (dc)
        IS_INT(mtp_transport_dc_id(&s), dc, "%s: server reads DC %d", what, dc);

    /* server -> client: packets, quick acks, errors interleaved */
    static const int32_t codes[] = { -404, -429, -444, -403 };
    size_t tk = 0;
    for (size_t i = 0; i < nsizes; i++) {
        size_t n = sizes_all[i];
        if (n > maxsize || (kind == MTP_TRANSPORT_PADDED && !padded_ok(n)))
            continue;
        expect_t e = { MTP_TRANSPORT_EV_PACKET, malloc(n), n, false, 0, 0 };
        make_packet(e.data, n);
        rc = mtp_transport_frame(&s, e.data, n, 0, &down.wire);
        if (rc)
            OK(0, "%s: server frame %zu rc %d", what, n, rc);
        stream_push(&down, e);
        if (tk < ntok) {
            expect_t q = { MTP_TRANSPORT_EV_QUICK_ACK, NULL, 0, false, tokens[tk], 0 };
            if (mtp_transport_frame_quick_ack(&s, tokens[tk], &down.wire) != 0)
                OK(0, "%s: frame_quick_ack", what);
            tk++;
            stream_push(&down, q);
        }
        if (i % 5 == 0) {
            expect_t x = { MTP_TRANSPORT_EV_ERROR, NULL, 0, false, 0, codes[(i / 5) % 4] };
            if (mtp_transport_frame_error(&s, x.code, &down.wire) != 0)
                OK(0, "%s: frame_error", what);
            stream_push(&down, x);
        }
    }
    if (!qa_ok) {
        IS_INT(mtp_transport_frame_quick_ack(&s, 0x80000001u, &down.wire), MTP_EINVAL,
               "%s: no quick ack on full", what);
        IS_INT(mtp_transport_frame(&c, up.ev[0].data, up.ev[0].len, MTP_TRANSPORT_QUICK_ACK,
                                   &up.wire), MTP_EINVAL, "%s: no quick-ack request on full", what);
    }
    snprintf(what, sizeof what, "%s %s %s: server->client", kname(kind), ob_name[ob],
             split_name[split]);
    pump(&c, &down, split, what);

    free(tokens);
    stream_free(&up);
    stream_free(&down);
    mtp_transport_free(&c);
    mtp_transport_free(&s);
}

static void test_round_trips(void)
{
    static const mtp_transport_kind_t kinds[] = { MTP_TRANSPORT_ABRIDGED,
                                                  MTP_TRANSPORT_INTERMEDIATE,
                                                  MTP_TRANSPORT_PADDED, MTP_TRANSPORT_FULL };
    for (size_t k = 0; k < 4; k++)
        for (int ob = 0; ob < OB_COUNT; ob++) {
            if (kinds[k] == MTP_TRANSPORT_FULL && ob != OB_NONE)
                continue;
            if (ob == OB_DD && kinds[k] != MTP_TRANSPORT_PADDED)
                continue;
            for (int sp = 0; sp < SPLIT_COUNT; sp++)
                round_trip(kinds[k], ob, sp);
        }
}

/* ---------------- wire forms ---------------- */

static void test_wire_forms(void)
{
    mtp_transport_t s, c;
    mtp_transport_event_t ev;
    mtp_buf_t out;
    mtp_buf_init(&out);

    /* abridged: server detected, quick ack is the token big-endian */
    mtp_transport_init_server(&s, NULL, NULL);
    IS_INT(mtp_transport_frame(&s, (const uint8_t *)"abcd", 4, 0, &out), MTP_ESTATE,
           "server cannot frame before detection");
    IS_INT(mtp_transport_frame_quick_ack(&s, 1, &out), MTP_ESTATE, "nor quick-ack");
    IS_INT(mtp_transport_frame_error(&s, -404, &out), MTP_ESTATE, "nor error");
    IS_INT(mtp_transport_kind(&s), MTP_TRANSPORT_UNKNOWN, "kind unknown before detection");
    IS_INT(feed_hex_next(&s, "ef", &ev), 0, "abridged tag alone: need more");
    IS_INT(mtp_transport_kind(&s), MTP_TRANSPORT_ABRIDGED, "abridged detected from 1 byte");
    IS_INT(mtp_transport_frame_quick_ack(&s, 0x12345678u, &out), 0, "abridged quick ack");
    tap_mem_eq(out.data, "\x92\x34\x56\x78", 4, "abridged quick ack = BE token with bit 31");
    mtp_buf_clear(&out);
    IS_INT(mtp_transport_frame_error(&s, -404, &out), 0, "abridged error");
    tap_mem_eq(out.data, "\x01\x6c\xfe\xff\xff", 5, "abridged -404 = 01 6cfeffff");
    mtp_buf_clear(&out);
    /* quick-ack request, short and long form */
    IS_INT(feed_hex_next(&s, "8101020304", &ev), 1, "abridged 0x81 packet");
    OK(ev.type == MTP_TRANSPORT_EV_PACKET && ev.len == 4 && ev.quick_ack,
       "0x80|len/4 -> packet with quick_ack");
    uint8_t big[4 + 127 * 4];
    big[0] = 0xff;
    big[1] = 127;
    big[2] = 0;
    big[3] = 0;
    tu_rng_fill(NULL, big + 4, 127 * 4);
    IS_INT(feed_next(&s, big, sizeof big, &ev), 1, "abridged 0xff long form");
    OK(ev.type == MTP_TRANSPORT_EV_PACKET && ev.len == 508 && ev.quick_ack &&
       !memcmp(ev.data, big + 4, 508), "0xff long form -> 508-byte packet with quick_ack");
    mtp_transport_free(&s);

    mtp_transport_init_client(&c, MTP_TRANSPORT_ABRIDGED, false, 0, NULL, NULL);
    IS_INT(mtp_transport_frame(&c, big + 4, 508, MTP_TRANSPORT_QUICK_ACK, &out), 0,
           "client abridged long form with quick ack");
    tap_mem_eq(out.data, "\xef\xff\x7f\x00\x00", 5, "header ef ff 7f0000");
    mtp_buf_clear(&out);
    IS_INT(mtp_transport_frame(&c, big + 4, 504, MTP_TRANSPORT_QUICK_ACK, &out), 0,
           "client abridged 504 bytes with quick ack");
    IS_INT(out.data[0], 0xfe, "126 words -> short form 0x80|0x7e");
    mtp_buf_clear(&out);
    IS_INT(feed_hex_next(&c, "92345678", &ev), 1, "client reads abridged quick ack");
    OK(ev.type == MTP_TRANSPORT_EV_QUICK_ACK && ev.token == 0x92345678u, "token 0x92345678");
    IS_INT(feed_hex_next(&c, "92", &ev), 0, "partial quick ack: need more");
    IS_INT(feed_hex_next(&c, "3456", &ev), 0, "still need more");
    IS_INT(feed_hex_next(&c, "78", &ev), 1, "completed");
    IS_INT(ev.token, 0x92345678u, "split quick ack token");
    IS_INT(mtp_transport_frame_quick_ack(&c, 1, &out), MTP_EINVAL, "client cannot send quick ack");
    IS_INT(mtp_transport_frame_error(&c, -404, &out), MTP_EINVAL, "client cannot send errors");
    IS_INT(mtp_transport_frame(&c, big, 5, 0, &out), MTP_EINVAL, "length not multiple of 4");
    IS_INT(mtp_transport_frame(&c, big, 4, 0x10, &out), MTP_EINVAL, "unknown flag");
    IS_INT(out.len, 0, "nothing appended on errors");
    mtp_transport_free(&c);

    /* intermediate: quick ack is a bare LE length word */
    mtp_transport_init_server(&s, NULL, NULL);
    IS_INT(feed_hex_next(&s, "eeeeee", &ev), 0, "ee ee ee: undecided");
    IS_INT(mtp_transport_kind(&s), MTP_TRANSPORT_UNKNOWN, "still unknown");
    IS_INT(feed_hex_next(&s, "ee", &ev), 0, "ee x4");
    IS_INT(mtp_transport_kind(&s), MTP_TRANSPORT_INTERMEDIATE, "intermediate detected");
    IS_INT(feed_hex_next(&s, "0400008001020304", &ev), 1, "length with bit 31");
    OK(ev.type == MTP_TRANSPORT_EV_PACKET && ev.len == 4 && ev.quick_ack,
       "intermediate quick-ack request");
    IS_INT(mtp_transport_frame_quick_ack(&s, 0x12345678u, &out), 0, "intermediate quick ack");
    tap_mem_eq(out.data, "\x78\x56\x34\x92", 4, "LE token with bit 31");
    mtp_buf_clear(&out);
    IS_INT(mtp_transport_frame_error(&s, -429, &out), 0, "intermediate error");
    tap_mem_eq(out.data, "\x04\x00\x00\x00\x53\xfe\xff\xff", 8, "-429 = 04000000 53feffff");
    mtp_buf_clear(&out);
    IS_INT(mtp_transport_frame_error(&s, 0, &out), MTP_EINVAL, "error code must be negative");
    IS_INT(mtp_transport_frame(&s, big, 4, MTP_TRANSPORT_QUICK_ACK, &out), MTP_EINVAL,
           "server cannot request quick acks");
    mtp_transport_free(&s);

    /* padded: deterministic padding through a replay rng */
    {
        static const uint8_t rbytes[] = { 0x03, 0xa1, 0xa2, 0xa3, 0x10, 0x0f };
        mtp_rng_replay_t st;
        mtp_rng_t rr;
        mtp_rng_replay_init(&rr, &st, rbytes, sizeof rbytes);
        uint8_t pkt[20] = { 0 };
        mtp_put_le32(pkt + 16, 0);
        mtp_transport_init_client(&c, MTP_TRANSPORT_PADDED, false, 0, NULL, &rr);
        IS_INT(mtp_transport_frame(&c, pkt, 20, MTP_TRANSPORT_QUICK_ACK, &out), 0, "padded frame");
        IS_INT(out.len, 4 + 4 + 20 + 3, "tag + len + payload + 3 padding bytes");
        tap_mem_eq(out.data, "\xdd\xdd\xdd\xdd\x17\x00\x00\x80", 8, "dd tag, len 23 | bit 31");
        tap_mem_eq(out.data + 28, "\xa1\xa2\xa3", 3, "padding from the rng");
        mtp_buf_clear(&out);
        IS_INT(mtp_transport_frame(&c, pkt, 20, 0, &out), 0, "padded frame, 0 padding (0x10 & 15)");
        IS_INT(out.len, 24, "no padding");
        mtp_buf_clear(&out);
        IS_INT(mtp_transport_frame(&c, pkt, 20, 0, &out), MTP_ERANGE,
               "rng exhausted -> its error, nothing appended");
        IS_INT(out.len, 0, "out untouched");
        mtp_transport_free(&c);
    }

    /* full: server errors are complete packets, quick acks do not exist */
    mtp_transport_init_client(&c, MTP_TRANSPORT_FULL, false, 0, NULL, NULL);
    IS_INT(mtp_transport_quick_ack_supported(&c), 0, "full has no quick ack");
    uint8_t pl[16];
    make_packet(pl, 16);
    IS_INT(mtp_transport_frame(&c, pl, 16, 0, &out), 0, "full frame");
    mtp_transport_init_server(&s, NULL, NULL);
    IS_INT(feed_next(&s, out.data, 7, &ev), 0, "7 bytes of full: undecided");
    IS_INT(mtp_transport_kind(&s), MTP_TRANSPORT_UNKNOWN, "still unknown at 7 bytes");
    IS_INT(feed_next(&s, out.data + 7, 1, &ev), 0, "8 bytes: decided");
    IS_INT(mtp_transport_kind(&s), MTP_TRANSPORT_FULL, "full detected from 8 bytes");
    IS_INT(feed_next(&s, out.data + 8, out.len - 8, &ev), 1, "full packet");
    mtp_buf_clear(&out);
    IS_INT(mtp_transport_frame_error(&s, -444, &out), 0, "full error frame");
    IS_INT(out.len, 16, "error is a 16-byte full packet");
    IS_INT(feed_next(&c, out.data, out.len, &ev), 1, "client reads it");
    OK(ev.type == MTP_TRANSPORT_EV_ERROR && ev.code == -444, "full framed -444");
    IS_INT(feed_hex_next(&c, "63feffff", &ev), 1, "bare -413 word");
    OK(ev.type == MTP_TRANSPORT_EV_ERROR && ev.code == -413, "bare negative word -> error");
    mtp_buf_clear(&out);
    IS_INT(mtp_transport_frame(&s, pl, 16, 0, &out), 0, "server full frame seq 1");
    IS_INT(mtp_get_le32(out.data + 4), 1, "server seqno counts its own frames (error was 0)");
    IS_INT(feed_next(&c, out.data, out.len, &ev), 1, "client reads seq 1");
    mtp_transport_free(&s);
    mtp_transport_free(&c);

    /* client role: 4-byte non-negative payload is a packet, negative an error */
    mtp_transport_init_client(&c, MTP_TRANSPORT_INTERMEDIATE, false, 0, NULL, NULL);
    IS_INT(feed_hex_next(&c, "0400000000000000", &ev), 1, "4-byte zero payload");
    OK(ev.type == MTP_TRANSPORT_EV_PACKET && ev.len == 4, "delivered as a packet");
    IS_INT(feed_hex_next(&c, "0400000094fdffff", &ev), 1, "-620");
    OK(ev.type == MTP_TRANSPORT_EV_ERROR && ev.code == -620, "any negative code is reported");
    mtp_transport_free(&c);

    /* server role never interprets payloads */
    mtp_transport_init_server(&s, NULL, NULL);
    IS_INT(feed_hex_next(&s, "eeeeeeee040000006cfeffff", &ev), 1, "server reads 4-byte -404");
    OK(ev.type == MTP_TRANSPORT_EV_PACKET && ev.len == 4, "as a packet");
    mtp_transport_free(&s);

    /* handshake() sends the tag once */
    mtp_transport_init_client(&c, MTP_TRANSPORT_INTERMEDIATE, false, 0, NULL, NULL);
    mtp_buf_clear(&out);
    IS_INT(mtp_transport_handshake(&c, &out), 0, "handshake");
    IS_INT(mtp_transport_handshake(&c, &out), 0, "handshake again");
    IS_INT(mtp_transport_frame(&c, pl, 16, 0, &out), 0, "frame");
    IS_INT(out.len, 4 + 4 + 16, "tag sent once");
    mtp_transport_free(&c);
    mtp_buf_free(&out);

    /* helpers */
    IS_INT(mtp_transport_dc_code(2, false, false), 2, "dc 2");
    IS_INT(mtp_transport_dc_code(2, true, false), 10002, "test dc 2");
    IS_INT(mtp_transport_dc_code(4, false, true), -4, "media dc 4");
    IS_INT(mtp_transport_dc_code(1, true, true), -10001, "media test dc 1");
    {
        uint8_t mk[32] = { 0x11, 0x22, 0x33, 0x44 };
        IS_INT(mtp_transport_quick_ack_token(mk), 0xc4332211u, "token = LE32(mk[0:4]) | bit 31");
    }
}

/* ---------------- negative cases ---------------- */

/* A fresh server (or client of kind) fed hex; expect final rc. */
static void expect_server(const char *hex, int want, const char *what)
{
    mtp_transport_t s;
    mtp_transport_event_t ev;
    mtp_transport_init_server(&s, NULL, NULL);
    int rc = feed_hex_next(&s, hex, &ev);
    while (rc == 1)
        rc = mtp_transport_next(&s, &ev);
    IS_INT(rc, want, "%s", what);
    if (want < 0)
        IS_INT(mtp_transport_error(&s), want, "%s: sticky", what);
    mtp_transport_free(&s);
}

static void expect_client(mtp_transport_kind_t kind, const char *hex, int want, const char *what)
{
    mtp_transport_t c;
    mtp_transport_event_t ev;
    mtp_transport_init_client(&c, kind, false, 0, NULL, NULL);
    int rc = feed_hex_next(&c, hex, &ev);
    while (rc == 1)
        rc = mtp_transport_next(&c, &ev);
    IS_INT(rc, want, "%s", what);
    mtp_transport_free(&c);
}

static void test_negative(void)
{
    /* detection */
    expect_server("474554202f20485454502f312e310d0a", MTP_ETRANSPORT, "HTTP GET is rejected early");
    expect_server("504f5354", MTP_ETRANSPORT, "POST rejected at 4 bytes");
    expect_server("16030102", MTP_ETRANSPORT, "TLS record start rejected");
    expect_server("0d00000000000000", MTP_ETRANSPORT, "zero seqno but length not x4: error");
    expect_server("0c00000000000000", MTP_ETRANSPORT, "full with empty payload: error");
    expect_server("ffffff0f00000000", MTP_ETRANSPORT, "full with oversize length: error");
    expect_server("10000000000000", 0, "7 bytes of full: need more");
    expect_server("eeeedd", 0, "ee ee dd: undecided (could be obfuscated)");
    {
        uint8_t junk[64];
        char hex[129];
        /* a random 64-byte init decrypts to a random tag (2^-30 chance of a valid one) */
        tu_rng_fill(NULL, junk, 64);
        junk[0] = 0x01;
        junk[4] = 0x01;
        for (int i = 0; i < 64; i++)
            snprintf(hex + 2 * i, 3, "%02x", junk[i]);
        expect_server(hex, MTP_ETRANSPORT, "garbage 64 bytes: unknown obfuscated tag");
        hex[126] = 0;
        expect_server(hex, 0, "63 garbage bytes: need more");
    }

    /* lengths */
    expect_server("eeeeeeee05000000", MTP_ETRANSPORT, "intermediate length not x4");
    expect_server("eeeeeeee00000000", MTP_ETRANSPORT, "intermediate zero length");
    expect_server("eeeeeeee04100001", MTP_ETRANSPORT, "intermediate oversize length");
    expect_server("ef00", MTP_ETRANSPORT, "abridged zero length");
    expect_server("ef7fffffff", MTP_ETRANSPORT, "abridged 0x7f long form, 64 MiB");
    expect_server("ef7f000000", MTP_ETRANSPORT, "abridged 0x7f long form, 0 words");
    expect_server("efffffff40", MTP_ETRANSPORT, "abridged 0xff long form just over the default cap");
    expect_server("dddddddd03000000", MTP_ETRANSPORT, "padded total < 4");
    expect_server("dddddddd15000000" "0000000000000000" "0000000000000000" "02000000" "00",
                  MTP_ETRANSPORT, "padded unencrypted: message_data_length too big");
    expect_server("dddddddd28000000" "0000000000000000" "0000000000000000" "00000000"
                  "00000000000000000000000000000000" "00000000", MTP_ETRANSPORT,
                  "padded unencrypted: 20 bytes of padding");
    expect_server("dddddddd15000000" "0100000000000000" "0000000000000000" "00000000" "00",
                  MTP_ETRANSPORT, "padded encrypted shorter than 24");
    expect_client(MTP_TRANSPORT_FULL, "11000000000000000000000000000000ffffffff", MTP_ETRANSPORT,
                  "full length not x4");
    expect_client(MTP_TRANSPORT_FULL, "0c000000000000000000000000", MTP_ETRANSPORT,
                  "full empty payload");
    expect_client(MTP_TRANSPORT_INTERMEDIATE, "00000000", MTP_ETRANSPORT,
                  "client: intermediate zero length");
    expect_client(MTP_TRANSPORT_ABRIDGED, "7fffffff", MTP_ETRANSPORT,
                  "client: abridged long form huge");
    expect_client(MTP_TRANSPORT_ABRIDGED, "7f", 0, "client: abridged long form truncated");
    expect_client(MTP_TRANSPORT_INTERMEDIATE, "0800000001020304", 0,
                  "client: truncated packet: need more");

    /* configured max */
    {
        mtp_transport_t s;
        mtp_transport_event_t ev;
        mtp_buf_t out;
        mtp_buf_init(&out);
        mtp_transport_init_server(&s, NULL, NULL);
        IS_INT(mtp_transport_set_max_packet(&s, 2), MTP_EINVAL, "max < 4 refused");
        IS_INT(mtp_transport_set_max_packet(&s, MTP_TRANSPORT_MAX_PACKET_LIMIT + 4), MTP_EINVAL,
               "max above the abridged limit refused");
        IS_INT(mtp_transport_set_max_packet(&s, 1024), 0, "max 1024");
        IS_INT(feed_hex_next(&s, "eeeeeeee04040000", &ev), MTP_ETRANSPORT, "1028 > 1024 rejected");
        mtp_transport_free(&s);
        /* padded: total may exceed max by the padding, the recovered payload may not */
        {
            uint8_t pk[4 + 4 + 1022];
            memset(pk, 0xdd, 4);
            mtp_put_le32(pk + 4, 1022);
            tu_rng_fill(NULL, pk + 8, 1022);
            pk[8] = 1;                        /* encrypted: 1022 -> 24 + 16 * 62 = 1016 */
            mtp_transport_init_server(&s, NULL, NULL);
            mtp_transport_set_max_packet(&s, 1016);
            IS_INT(feed_next(&s, pk, sizeof pk, &ev), 1, "padded 1016 + 6 padding at max 1016");
            IS_INT(ev.len, 1016, "payload 1016");
            mtp_transport_free(&s);
            mtp_transport_init_server(&s, NULL, NULL);
            mtp_transport_set_max_packet(&s, 1012);
            IS_INT(feed_next(&s, pk, sizeof pk, &ev), MTP_ETRANSPORT,
                   "padded payload 1016 above max 1012 (total within max + 15)");
            mtp_transport_free(&s);
        }

        mtp_transport_t c;
        uint8_t *big = calloc(1, 2048);
        mtp_transport_init_client(&c, MTP_TRANSPORT_ABRIDGED, false, 0, NULL, NULL);
        mtp_transport_set_max_packet(&c, 1024);
        IS_INT(mtp_transport_frame(&c, big, 1028, 0, &out), MTP_EINVAL, "frame above max refused");
        IS_INT(mtp_transport_frame(&c, big, 1024, 0, &out), 0, "frame at max");
        mtp_transport_init_server(&s, NULL, NULL);
        mtp_transport_set_max_packet(&s, 1024);
        IS_INT(feed_next(&s, out.data, out.len, &ev), 1, "packet at max accepted");
        IS_INT(ev.len, 1024, "1024 bytes");
        mtp_transport_free(&s);
        mtp_transport_free(&c);
        mtp_buf_free(&out);
        free(big);
    }

    /* seqno */
    {
        mtp_transport_t c, s;
        mtp_transport_event_t ev;
        mtp_buf_t a, b;
        mtp_buf_init(&a);
        mtp_buf_init(&b);
        uint8_t pl[32];
        make_packet(pl, 32);
        mtp_transport_init_client(&c, MTP_TRANSPORT_FULL, false, 0, NULL, NULL);
        mtp_transport_frame(&c, pl, 32, 0, &a);
        mtp_transport_frame(&c, pl, 32, 0, &b);
        mtp_transport_init_server(&s, NULL, NULL);
        IS_INT(feed_next(&s, a.data, a.len, &ev), 1, "seq 0 ok");
        IS_INT(feed_next(&s, a.data, 8, &ev), MTP_ETRANSPORT, "seq 0 again: wrong seqno at 8 bytes");
        mtp_transport_free(&s);
        mtp_transport_init_server(&s, NULL, NULL);
        IS_INT(feed_next(&s, b.data, b.len, &ev), 0,
               "server: non-zero first seqno is not full (waits for an obfuscated init)");
        mtp_transport_free(&s);
        mtp_transport_init_client(&s, MTP_TRANSPORT_FULL, false, 0, NULL, NULL);
        IS_INT(feed_next(&s, b.data + 0, b.len, &ev), MTP_ETRANSPORT,
               "client: stream starting at seq 1");
        mtp_transport_free(&s);
        /* CRC: flip each region */
        for (size_t pos = 8; pos < a.len; pos += 7) {
            mtp_transport_init_server(&s, NULL, NULL);
            a.data[pos] ^= 0x40;
            int rc = feed_next(&s, a.data, a.len, &ev);
            a.data[pos] ^= 0x40;
            if (rc != MTP_ETRANSPORT) {
                OK(0, "flipped byte %zu not detected", pos);
                break;
            }
            mtp_transport_free(&s);
        }
        mtp_transport_free(&s);
        OK(1, "every flipped payload/crc byte is detected");
        /* server role: a full length with bit 31 set */
        mtp_transport_init_server(&s, NULL, NULL);
        mtp_transport_feed(&s, a.data, a.len);
        IS_INT(mtp_transport_next(&s, &ev), 1, "first packet");
        IS_INT(feed_hex_next(&s, "6cfeffff", &ev), MTP_ETRANSPORT,
               "server: negative full length is an error");
        mtp_transport_free(&s);
        mtp_transport_free(&c);
        mtp_buf_free(&a);
        mtp_buf_free(&b);
    }

    /* truncated streams never produce events or errors */
    static const mtp_transport_kind_t kinds[] = { MTP_TRANSPORT_ABRIDGED,
                                                  MTP_TRANSPORT_INTERMEDIATE,
                                                  MTP_TRANSPORT_PADDED, MTP_TRANSPORT_FULL };
    for (int k = 0; k < 4; k++)
        for (int ob = 0; ob < 2; ob++) {
            if (ob && kinds[k] == MTP_TRANSPORT_FULL)
                continue;
            mtp_transport_t c;
            mtp_buf_t out;
            mtp_buf_init(&out);
            mtp_transport_init_client(&c, kinds[k], ob, 0, NULL, &test_rng);
            uint8_t pl[600];
            make_packet(pl, 600);
            mtp_transport_frame(&c, pl, 600, 0, &out);
            int ok = 1;
            for (size_t cut = 0; cut < out.len; cut++) {
                mtp_transport_t s;
                mtp_transport_event_t ev;
                mtp_transport_init_server(&s, NULL, NULL);
                int rc = feed_next(&s, out.data, cut, &ev);
                if (rc != 0 || mtp_transport_pending(&s) > cut)
                    ok = 0;
                /* again, byte by byte for a few cuts */
                mtp_transport_free(&s);
            }
            OK(ok, "%s%s: every truncation is 'need more'", kname(kinds[k]), ob ? " obfuscated" : "");
            mtp_transport_free(&c);
            mtp_buf_free(&out);
        }

    /* init argument checks */
    {
        mtp_transport_t t;
        mtp_proxy_secret_t sec;
        uint8_t raw[17] = { 0xdd };
        mtp_proxy_secret_parse(&sec, raw, 17);
        IS_INT(mtp_transport_init_client(&t, MTP_TRANSPORT_FULL, true, 0, NULL, NULL), MTP_EINVAL,
               "obfuscated full refused");
        IS_INT(mtp_transport_init_client(&t, MTP_TRANSPORT_UNKNOWN, false, 0, NULL, NULL),
               MTP_EINVAL, "unknown kind refused");
        IS_INT(mtp_transport_init_client(&t, MTP_TRANSPORT_INTERMEDIATE, true, 40000, NULL, NULL),
               MTP_EINVAL, "dc id out of int16 refused");
        IS_INT(mtp_transport_init_client(&t, MTP_TRANSPORT_PADDED, false, 0, &sec, NULL), MTP_EINVAL,
               "secret without obfuscation refused");
        IS_INT(mtp_transport_init_client(&t, MTP_TRANSPORT_INTERMEDIATE, true, 0, &sec, NULL),
               MTP_EINVAL, "dd secret requires padded");
        IS_INT(mtp_transport_init_client(&t, MTP_TRANSPORT_PADDED, true, 0, &sec, NULL), 0,
               "dd secret with padded");
        mtp_transport_free(&t);
        mtp_transport_free(&t);
        OK(1, "double free is harmless");
    }
}

/* ---------------- steady state: no reallocation ---------------- */

static void test_steady_state(void)
{
    mtp_transport_t c, s;
    mtp_buf_t out;
    mtp_buf_init(&out);
    mtp_transport_init_client(&c, MTP_TRANSPORT_INTERMEDIATE, true, 2, NULL, &test_rng);
    mtp_transport_init_server(&s, NULL, &test_rng);
    uint8_t *pl = malloc(100000);
    make_packet(pl, 100000);
    const uint8_t *buf0 = NULL;
    size_t cap0 = 0;
    int stable = 1, ok = 1;
    for (int i = 0; i < 200; i++) {
        mtp_buf_clear(&out);
        size_t n = i == 0 ? 100000 : 4 * (1 + tu_rng_below(NULL, 25000));
        mtp_transport_frame(&c, pl, n, 0, &out);
        /* feed in 3 pieces */
        size_t a = tu_rng_below(NULL, out.len), b = a + tu_rng_below(NULL, out.len - a);
        mtp_transport_event_t ev;
        int got = 0;
        mtp_transport_feed(&s, out.data, a);
        while (mtp_transport_next(&s, &ev) == 1) { ok &= ev.len == n; got++; }
        mtp_transport_feed(&s, out.data + a, b - a);
        while (mtp_transport_next(&s, &ev) == 1) { ok &= ev.len == n; got++; }
        mtp_transport_feed(&s, out.data + b, out.len - b);
        while (mtp_transport_next(&s, &ev) == 1) {
            ok &= ev.len == n && !memcmp(ev.data, pl, n);
            got++;
        }
        ok &= got == 1;
        if (i == 0) {
            /* warmed up with the largest packet */
            buf0 = s.priv_rx;
            cap0 = s.priv_rx_cap;
        } else if (s.priv_rx != buf0 || s.priv_rx_cap != cap0) {
            stable = 0;
        }
    }
    OK(ok, "200 obfuscated packets in 3-piece splits");
    OK(stable, "input buffer never reallocated once it held the largest packet");
    tap_diag("rx cap after warm-up: %zu", cap0);
    free(pl);
    mtp_buf_free(&out);
    mtp_transport_free(&c);
    mtp_transport_free(&s);
}

int main(void)
{
    double t0 = tu_now();
    test_vectors();
    test_wire_forms();
    test_negative();
    double t1 = tu_now();
    test_round_trips();
    double t2 = tu_now();
    test_steady_state();
    tap_diag("times: unit %.2fs, round trips %.2fs, steady state %.2fs", t1 - t0, t2 - t1,
             tu_now() - t2);
    return tap_done();
}
