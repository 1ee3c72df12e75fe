/*
 * obfuscated2 and MTProxy secrets: every vector of tests/vectors/obfuscated2.json,
 * replayed byte for byte through the public transport API (client init with a replay
 * RNG, server detection of the same header), plus key derivation, the forbidden
 * prefixes, secret formats and the secret-related rejection rules of the server.
 */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include <mtproto/transport.h>
#include <mtproto/crypto.h>
#include "proto/transport_internal.h"
#include "testutil.h"

static uint8_t *hexdup(const tj *v, size_t want_len, const char *what)
{
    uint8_t *p;
    size_t n = tj_hex(v, &p);
    if (n == (size_t)-1 || (want_len && n != want_len))
        tap_bail("%s: bad hex", what);
    return p;
}

/* First whitespace-separated token of a string (the secrets carry descriptions). */
static size_t first_token_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (s[0] && s[0] != ' ' && s[1] && s[1] != ' ' && n < cap) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static mtp_transport_kind_t kind_of_tag(const uint8_t *t)
{
    if (t[0] == 0xef)
        return MTP_TRANSPORT_ABRIDGED;
    if (t[0] == 0xee)
        return MTP_TRANSPORT_INTERMEDIATE;
    return MTP_TRANSPORT_PADDED;
}

static void test_vector(const tj *v)
{
    const char *name = tj_str(tj_get(v, "name"));
    uint8_t *random64 = hexdup(tj_get(v, "random64"), 64, name);
    uint8_t *tag = hexdup(tj_get(v, "protocol_tag"), 4, name);
    uint8_t *init = hexdup(tj_get(v, "init_before_encryption"), 64, name);
    uint8_t *header = hexdup(tj_get(v, "header_sent"), 64, name);
    const tj *dcj = tj_get(v, "dc");
    const tj *secj = tj_get(v, "secret16");
    int dc = dcj && dcj->kind == TJ_NUM ? (int)tj_int(dcj) : 0;
    uint8_t *secret16 = secj && secj->kind == TJ_STR ? hexdup(secj, 16, name) : NULL;
    mtp_transport_kind_t kind = kind_of_tag(tag);
    mtp_proxy_secret_t sec;
    if (secret16)
        IS_INT(mtp_proxy_secret_parse(&sec, secret16, 16), 0, "%s: secret parses", name);

    /* key derivation */
    uint8_t ek[32], ei[16], dk[32], di[16];
    const tj *raw = tj_get(v, "raw_keys");
    if (raw) {
        mtp_obfs2_derive_(init, NULL, ek, ei, dk, di);
        uint8_t *w;
        w = hexdup(tj_get(raw, "encrypt_key"), 32, name);
        tap_mem_eq(ek, w, 32, "%s: raw encrypt key", name); free(w);
        w = hexdup(tj_get(raw, "encrypt_iv"), 16, name);
        tap_mem_eq(ei, w, 16, "%s: raw encrypt iv", name); free(w);
        w = hexdup(tj_get(raw, "decrypt_key"), 32, name);
        tap_mem_eq(dk, w, 32, "%s: raw decrypt key", name); free(w);
        w = hexdup(tj_get(raw, "decrypt_iv"), 16, name);
        tap_mem_eq(di, w, 16, "%s: raw decrypt iv", name); free(w);
    }
    const tj *der = tj_get(v, "derived_keys");
    if (der) {
        mtp_obfs2_derive_(init, secret16, ek, ei, dk, di);
        uint8_t *w;
        w = hexdup(tj_get(der, "encrypt_key"), 32, name);
        tap_mem_eq(ek, w, 32, "%s: derived encrypt key", name); free(w);
        w = hexdup(tj_get(der, "encrypt_iv"), 16, name);
        tap_mem_eq(ei, w, 16, "%s: derived encrypt iv", name); free(w);
        w = hexdup(tj_get(der, "decrypt_key"), 32, name);
        tap_mem_eq(dk, w, 32, "%s: derived decrypt key", name); free(w);
        w = hexdup(tj_get(der, "decrypt_iv"), 16, name);
        tap_mem_eq(di, w, 16, "%s: derived decrypt iv", name); free(w);
    }

    /* client: replaying random64 reproduces the header byte for byte */
    /* one extra zero byte: "no padding" for the padded frame of the 'abcd' check */
    uint8_t rbytes[65];
    memcpy(rbytes, random64, 64);
    rbytes[64] = 0;
    mtp_rng_replay_t st;
    mtp_rng_t rng;
    mtp_rng_replay_init(&rng, &st, rbytes, sizeof rbytes);
    mtp_transport_t c, s;
    mtp_buf_t out;
    mtp_buf_init(&out);
    IS_INT(mtp_transport_init_client(&c, kind, true, dc, secret16 ? &sec : NULL, &rng), 0,
           "%s: init client (%s, dc %d%s)", name, mtp_transport_kind_name(kind), dc,
           secret16 ? ", secret" : "");
    IS_INT(mtp_rng_replay_left(&st), 1, "%s: consumed exactly the 64 random bytes", name);
    IS_INT(mtp_transport_handshake(&c, &out), 0, "%s: handshake", name);
    IS_INT(out.len, 64, "%s: 64-byte header", name);
    tap_mem_eq(out.data, header, 64, "%s: header_sent", name);
    IS_INT(mtp_transport_dc_id(&c), dc, "%s: client dc", name);

    /* server: detects the inner kind and the DC with the same secret */
    mtp_transport_event_t ev;
    IS_INT(mtp_transport_init_server(&s, secret16 ? &sec : NULL, NULL), 0, "%s: init server", name);
    IS_INT(mtp_transport_feed(&s, header, 64), 0, "%s: server feed", name);
    IS_INT(mtp_transport_next(&s, &ev), 0, "%s: server decided, no packet yet", name);
    IS_INT(mtp_transport_kind(&s), kind, "%s: server detected %s", name,
           mtp_transport_kind_name(kind));
    OK(mtp_transport_obfuscated(&s), "%s: obfuscated", name);
    int want_dc = (int)(int16_t)(uint16_t)(init[60] | init[61] << 8);
    IS_INT(mtp_transport_dc_id(&s), want_dc, "%s: server dc %d", name, want_dc);

    /* the 'abcd' stream checks: encrypt stream after the header, decrypt stream fresh */
    const tj *after = tj_get(v, "after_header");
    if (after) {
        uint8_t *enc_abcd = hexdup(tj_get(after, "encrypt_stream_on_abcd"), 4, name);
        uint8_t *dec_abcd = hexdup(tj_get(after, "decrypt_stream_on_abcd"), 4, name);
        static const uint8_t abcd[4] = { 'a', 'b', 'c', 'd' };
        static const uint8_t len4[4] = { 4, 0, 0, 0 };
        uint8_t ks[4], got[4];

        /* the client's next 4 wire bytes are the length word under keystream 64..67 */
        uint8_t pl[4] = { 1, 0, 0, 0 };
        mtp_buf_clear(&out);
        IS_INT(mtp_transport_frame(&c, pl, 4, 0, &out), 0, "%s: frame after header", name);
        for (int i = 0; i < 4; i++) {
            ks[i] = out.data[i] ^ len4[i];
            got[i] = ks[i] ^ abcd[i];
        }
        tap_mem_eq(got, enc_abcd, 4, "%s: encrypt stream continues at byte 64", name);

        /* the server's first wire bytes use the client's decrypt stream from 0 */
        mtp_buf_clear(&out);
        IS_INT(mtp_transport_frame_error(&s, -404, &out), 0, "%s: server frames", name);
        for (int i = 0; i < 4; i++) {
            ks[i] = out.data[i] ^ len4[i];
            got[i] = ks[i] ^ abcd[i];
        }
        tap_mem_eq(got, dec_abcd, 4, "%s: decrypt stream starts fresh", name);
        IS_INT(mtp_transport_feed(&c, out.data, out.len), 0, "%s: client feed", name);
        IS_INT(mtp_transport_next(&c, &ev), 1, "%s: client event", name);
        OK(ev.type == MTP_TRANSPORT_EV_ERROR && ev.code == -404, "%s: client reads -404", name);
        free(enc_abcd);
        free(dec_abcd);
    }

    /* mtcute stream: outgoing intermediate packets and incoming -404s */
    const tj *outgoing = tj_get(v, "outgoing");
    for (size_t i = 0; outgoing && i < tj_len(outgoing); i++) {
        uint8_t *pkt;
        size_t pn = tj_hex(tj_get(tj_at(outgoing, i), "intermediate_packet"), &pkt);
        uint8_t *wire = hexdup(tj_get(tj_at(outgoing, i), "wire"), pn, name);
        mtp_buf_clear(&out);
        IS_INT(mtp_transport_frame(&c, pkt + 4, pn - 4, 0, &out), 0, "%s: outgoing %zu", name, i);
        IS_INT(out.len, pn, "%s: outgoing %zu length", name, i);
        tap_mem_eq(out.data, wire, pn, "%s: outgoing %zu wire", name, i);
        /* the server reads it (server role does not interpret payloads) */
        IS_INT(mtp_transport_feed(&s, wire, pn), 0, "%s: server feed %zu", name, i);
        IS_INT(mtp_transport_next(&s, &ev), 1, "%s: server event %zu", name, i);
        OK(ev.type == MTP_TRANSPORT_EV_PACKET && ev.len == pn - 4 &&
           !memcmp(ev.data, pkt + 4, pn - 4), "%s: server got the packet %zu", name, i);
        free(pkt);
        free(wire);
    }
    const tj *incoming = tj_get(v, "incoming");
    for (size_t i = 0; incoming && i < tj_len(incoming); i++) {
        uint8_t *wire;
        size_t wn = tj_hex(tj_get(tj_at(incoming, i), "wire"), &wire);
        uint8_t *dec = hexdup(tj_get(tj_at(incoming, i), "decrypted"), wn, name);
        /* our server produces exactly these bytes for -404 */
        mtp_buf_clear(&out);
        IS_INT(mtp_transport_frame_error(&s, (int32_t)mtp_get_le32(dec + 4), &out), 0,
               "%s: server error %zu", name, i);
        tap_mem_eq(out.data, wire, wn, "%s: incoming %zu wire = our server's frame", name, i);
        /* and the client reads it byte by byte */
        int rc = 0;
        for (size_t k = 0; k < wn && rc == 0; k++) {
            IS_INT(mtp_transport_feed(&c, wire + k, 1), 0, "%s: feed byte", name);
            rc = mtp_transport_next(&c, &ev);
            if (k + 1 < wn)
                IS_INT(rc, 0, "%s: need more at %zu", name, k);
        }
        OK(rc == 1 && ev.type == MTP_TRANSPORT_EV_ERROR && ev.code == -404,
           "%s: incoming %zu decodes to -404", name, i);
        free(wire);
        free(dec);
    }

    /* wrong secret (or none where one was used): the tag does not decrypt */
    {
        mtp_transport_t s2;
        mtp_proxy_secret_t other;
        uint8_t k16[16];
        memset(k16, 0x5a, 16);
        mtp_proxy_secret_parse(&other, k16, 16);
        mtp_transport_init_server(&s2, secret16 ? NULL : &other, NULL);
        mtp_transport_feed(&s2, header, 64);
        IS_INT(mtp_transport_next(&s2, &ev), MTP_ETRANSPORT, "%s: server with %s secret rejects",
               name, secret16 ? "no" : "another");
        mtp_transport_free(&s2);
    }

    mtp_buf_free(&out);
    mtp_transport_free(&c);
    mtp_transport_free(&s);
    free(random64);
    free(tag);
    free(init);
    free(header);
    free(secret16);
}

static void test_forbidden(const tj *root)
{
    const tj *list = tj_get(root, "forbidden_first_words");
    OK(tj_len(list) == 9, "9 forbidden rules listed");
    /* a good init to fall back on */
    uint8_t good[64];
    for (int i = 0; i < 64; i++)
        good[i] = (uint8_t)(0x31 + i);
    OK(!mtp_obfs2_forbidden_(good), "reference init allowed");

    uint8_t want[64];
    {
        mtp_rng_replay_t st;
        mtp_rng_t rng;
        mtp_transport_t c;
        mtp_buf_t out;
        mtp_buf_init(&out);
        mtp_rng_replay_init(&rng, &st, good, 64);
        mtp_transport_init_client(&c, MTP_TRANSPORT_ABRIDGED, true, 0, NULL, &rng);
        mtp_transport_handshake(&c, &out);
        memcpy(want, out.data, 64);
        mtp_transport_free(&c);
        mtp_buf_free(&out);
    }

    for (size_t i = 0; i < tj_len(list); i++) {
        const char *rule = tj_str(tj_at(list, i));
        uint8_t bad[128];
        memcpy(bad, good, 64);
        memcpy(bad + 64, good, 64);
        if (!strncmp(rule, "ef", 2)) {
            bad[0] = 0xef;
        } else if (!strncmp(rule, "bytes[4:8]", 10)) {
            memset(bad + 4, 0, 4);
        } else {
            uint8_t w[4];
            if (first_token_hex(rule, w, 4) != 4)
                tap_bail("rule %s", rule);
            memcpy(bad, w, 4);
        }
        OK(mtp_obfs2_forbidden_(bad), "forbidden: %s", rule);
        mtp_rng_replay_t st;
        mtp_rng_t rng;
        mtp_transport_t c;
        mtp_buf_t out;
        mtp_buf_init(&out);
        mtp_rng_replay_init(&rng, &st, bad, 128);
        IS_INT(mtp_transport_init_client(&c, MTP_TRANSPORT_ABRIDGED, true, 0, NULL, &rng), 0,
               "init with %s first", rule);
        IS_INT(mtp_rng_replay_left(&st), 0, "re-drew 64 bytes after %s", rule);
        mtp_transport_handshake(&c, &out);
        tap_mem_eq(out.data, want, 64, "the second draw was used (%s)", rule);
        mtp_transport_free(&c);
        mtp_buf_free(&out);

        /* only forbidden draws: the replay RNG runs dry, the error is returned */
        mtp_rng_replay_init(&rng, &st, bad, 64);
        IS_INT(mtp_transport_init_client(&c, MTP_TRANSPORT_ABRIDGED, true, 0, NULL, &rng),
               MTP_ERANGE, "only %s available: rng error", rule);
    }

    /* the server rejects the forbidden first words early */
    static const char *words[] = { "HEAD", "POST", "GET ", "OPTI" };
    for (int i = 0; i < 4; i++) {
        mtp_transport_t s;
        mtp_transport_event_t ev;
        mtp_transport_init_server(&s, NULL, NULL);
        mtp_transport_feed(&s, (const uint8_t *)words[i], 4);
        IS_INT(mtp_transport_next(&s, &ev), MTP_ETRANSPORT, "server rejects \"%s\" at 4 bytes",
               words[i]);
        mtp_transport_free(&s);
    }
}

static int const_fill(void *ctx, uint8_t *out, size_t n)
{
    memset(out, *(const uint8_t *)ctx, n);
    return 0;
}

static void test_secrets(const tj *root)
{
    const tj *sj = tj_get(root, "secrets");
    uint8_t b[300];
    size_t n;
    mtp_proxy_secret_t s;

    n = first_token_hex(tj_str(tj_get(sj, "simple_16_bytes")), b, sizeof b);
    IS_INT(mtp_proxy_secret_parse(&s, b, n), 0, "16-byte secret");
    OK(s.kind == MTP_PROXY_SECRET_PLAIN && !memcmp(s.key, b, 16), "plain, key as given");

    n = first_token_hex(tj_str(tj_get(sj, "dd_secured")), b, sizeof b);
    IS_INT(mtp_proxy_secret_parse(&s, b, n), 0, "dd secret");
    OK(s.kind == MTP_PROXY_SECRET_PADDED && !memcmp(s.key, b + 1, 16), "padded-required, key = 1..16");

    n = first_token_hex(tj_str(tj_get(sj, "ee_secured_no_domain")), b, sizeof b);
    IS_INT(mtp_proxy_secret_parse(&s, b, n), MTP_EINVAL,
           "17-byte ee secret rejected (tdlib rule; gotd differs)");

    const tj *ee = tj_get(sj, "ee_fake_tls");
    static const char *domains[] = { "google.com", "bing.com" };
    for (size_t i = 0; i < tj_len(ee) && i < 2; i++) {
        n = first_token_hex(tj_str(tj_at(ee, i)), b, sizeof b);
        IS_INT(mtp_proxy_secret_parse(&s, b, n), 0, "ee secret %zu parses", i);
        OK(s.kind == MTP_PROXY_SECRET_FAKETLS && !memcmp(s.key, b + 1, 16) &&
           s.domain_len == strlen(domains[i]) && !strcmp(s.domain, domains[i]),
           "FakeTLS, domain %s", s.domain);
        mtp_transport_t t;
        IS_INT(mtp_transport_init_client(&t, MTP_TRANSPORT_PADDED, true, 2, &s, NULL), MTP_EINVAL,
               "FakeTLS client not implemented -> MTP_EINVAL");
        IS_INT(mtp_transport_init_server(&t, &s, NULL), MTP_EINVAL,
               "FakeTLS server not implemented -> MTP_EINVAL");
    }
    const tj *inv = tj_get(sj, "invalid");
    for (size_t i = 0; i < tj_len(inv); i++) {
        n = first_token_hex(tj_str(tj_at(inv, i)), b, sizeof b);
        IS_INT(mtp_proxy_secret_parse(&s, b, n), MTP_EINVAL, "invalid secret: %s",
               tj_str(tj_at(inv, i)));
    }
    /* domain too long */
    memset(b, 'a', sizeof b);
    b[0] = 0xee;
    IS_INT(mtp_proxy_secret_parse(&s, b, 17 + 255), 0, "255-byte domain ok");
    IS_INT(mtp_proxy_secret_parse(&s, b, 17 + 256), MTP_EINVAL, "256-byte domain refused");

    b[17 + 3] = 0;
    IS_INT(mtp_proxy_secret_parse(&s, b, 17 + 10), MTP_EINVAL, "NUL inside the domain refused");

    /* text forms */
    IS_INT(mtp_proxy_secret_parse_text(&s, "52a493bdfb90eea55739eabff2d92a14", 32), 0,
           "lowercase hex text");
    OK(s.kind == MTP_PROXY_SECRET_PLAIN && s.key[0] == 0x52 && s.key[15] == 0x14, "-> plain");
    IS_INT(mtp_proxy_secret_parse_text(&s, "DDF05FB7ACB549BE047A7C585116581418", 34), 0, "hex text");
    IS_INT(s.kind, MTP_PROXY_SECRET_PADDED, "hex -> dd");
    /* base64url of ee 852380f362a09343efb4690c4e17862e "google.com" */
    static const char *b64 = "7oUjgPNioJND77RpDE4Xhi5nb29nbGUuY29t";
    IS_INT(mtp_proxy_secret_parse_text(&s, b64, strlen(b64)), 0, "base64url text");
    OK(s.kind == MTP_PROXY_SECRET_FAKETLS && !strcmp(s.domain, "google.com"), "-> FakeTLS google.com");
    IS_INT(mtp_proxy_secret_parse_text(&s, "zz", 2), MTP_EINVAL, "garbage text");
    IS_INT(mtp_proxy_secret_parse_text(&s, "UqST", 4), MTP_EINVAL, "base64 of 3 bytes: too short");
    /* 16 bytes as base64 with padding and as base64url without */
    IS_INT(mtp_proxy_secret_parse_text(&s, "UqSTvfuQ7qVXOeq/8tkqFA==", 24), 0, "base64 with padding");
    OK(s.kind == MTP_PROXY_SECRET_PLAIN && s.key[0] == 0x52 && s.key[15] == 0x14, "-> plain");
    IS_INT(mtp_proxy_secret_parse_text(&s, "UqSTvfuQ7qVXOeq_8tkqFA", 22), 0, "base64url unpadded");
    IS_INT(mtp_proxy_secret_parse_text(&s, "UqSTvfuQ7qVXOeq_8tkqFB", 22), MTP_EINVAL,
           "non-canonical trailing bits");
}

/* Server with secrets: which clients get in. */
static void test_secret_server(void)
{
    uint8_t key[17];
    for (int i = 0; i < 17; i++)
        key[i] = (uint8_t)(0x40 + 7 * i);
    key[0] = 0xdd;
    mtp_proxy_secret_t plain, dd;
    mtp_proxy_secret_parse(&plain, key + 1, 16);
    mtp_proxy_secret_parse(&dd, key, 17);

    struct {
        const mtp_proxy_secret_t *server, *client;
        mtp_transport_kind_t kind;
        bool obfs;
        int want;
        const char *what;
    } cases[] = {
        { &plain, &plain, MTP_TRANSPORT_ABRIDGED, true, 0, "plain secret, abridged" },
        { &plain, &plain, MTP_TRANSPORT_PADDED, true, 0, "plain secret, padded" },
        { &plain, &dd, MTP_TRANSPORT_PADDED, true, 0, "plain-secret server, dd client (same key)" },
        { &dd, &dd, MTP_TRANSPORT_PADDED, true, 0, "dd secret, padded" },
        { &dd, &plain, MTP_TRANSPORT_INTERMEDIATE, true, MTP_ETRANSPORT,
          "dd server refuses an intermediate inner tag" },
        { &dd, &plain, MTP_TRANSPORT_ABRIDGED, true, MTP_ETRANSPORT,
          "dd server refuses an abridged inner tag" },
        { &plain, NULL, MTP_TRANSPORT_INTERMEDIATE, true, MTP_ETRANSPORT,
          "secret server refuses obfuscation without secret" },
        { &plain, NULL, MTP_TRANSPORT_INTERMEDIATE, false, MTP_ETRANSPORT,
          "secret server refuses plain intermediate" },
        { &plain, NULL, MTP_TRANSPORT_PADDED, false, MTP_ETRANSPORT,
          "secret server refuses plain padded" },
        { &plain, NULL, MTP_TRANSPORT_ABRIDGED, false, MTP_ETRANSPORT,
          "secret server refuses plain abridged" },
        { &plain, NULL, MTP_TRANSPORT_FULL, false, MTP_ETRANSPORT,
          "secret server refuses full" },
        { NULL, &plain, MTP_TRANSPORT_INTERMEDIATE, true, MTP_ETRANSPORT,
          "server without secret cannot read a secret client" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mtp_transport_t c, s;
        mtp_transport_event_t ev;
        mtp_buf_t out;
        mtp_buf_init(&out);
        int rc = mtp_transport_init_client(&c, cases[i].kind, cases[i].obfs, 3, cases[i].client,
                                           NULL);
        if (rc) {
            OK(0, "%s: init %d", cases[i].what, rc);
            continue;
        }
        uint8_t pkt[40] = { 1 };
        mtp_transport_frame(&c, pkt, 40, 0, &out);
        mtp_transport_init_server(&s, cases[i].server, NULL);
        mtp_transport_feed(&s, out.data, out.len);
        rc = mtp_transport_next(&s, &ev);
        if (cases[i].want == 0) {
            OK(rc == 1 && ev.type == MTP_TRANSPORT_EV_PACKET && ev.len == 40 &&
               mtp_transport_kind(&s) == cases[i].kind && mtp_transport_dc_id(&s) == 3,
               "%s: accepted (rc %d)", cases[i].what, rc);
        } else {
            IS_INT(rc, cases[i].want, "%s", cases[i].what);
        }
        mtp_transport_free(&c);
        mtp_transport_free(&s);
        mtp_buf_free(&out);
    }

    /* a constant RNG source can never produce an allowed init when forbidden */
    {
        uint8_t ef = 0xef;
        mtp_rng_t bad = { const_fill, &ef };
        mtp_transport_t c;
        IS_INT(mtp_transport_init_client(&c, MTP_TRANSPORT_INTERMEDIATE, true, 0, NULL, &bad),
               MTP_ECRYPTO, "always-forbidden source: gives up after bounded draws");
    }

    /* corrupted tag byte in a valid header */
    {
        mtp_transport_t c, s;
        mtp_transport_event_t ev;
        mtp_buf_t out;
        mtp_buf_init(&out);
        mtp_transport_init_client(&c, MTP_TRANSPORT_INTERMEDIATE, true, 0, NULL, NULL);
        mtp_transport_handshake(&c, &out);
        for (int pos = 56; pos < 60; pos++) {
            out.data[pos] ^= 0x01;
            mtp_transport_init_server(&s, NULL, NULL);
            mtp_transport_feed(&s, out.data, 64);
            IS_INT(mtp_transport_next(&s, &ev), MTP_ETRANSPORT, "tag byte %d flipped: rejected", pos);
            mtp_transport_free(&s);
            out.data[pos] ^= 0x01;
        }
        /* flipping a DC byte changes only the reported DC */
        out.data[60] ^= 0x01;
        mtp_transport_init_server(&s, NULL, NULL);
        mtp_transport_feed(&s, out.data, 64);
        IS_INT(mtp_transport_next(&s, &ev), 0, "dc byte flipped: still accepted");
        IS_INT(mtp_transport_kind(&s), MTP_TRANSPORT_INTERMEDIATE, "as intermediate");
        mtp_transport_free(&s);
        mtp_transport_free(&c);
        mtp_buf_free(&out);
    }
}

int main(void)
{
    tj *root = tj_load("tests/vectors/obfuscated2.json");
    const tj *vs = tj_get(root, "vectors");
    OK(tj_len(vs) >= 8, "obfuscated2.json has %zu vectors", tj_len(vs));
    for (size_t i = 0; i < tj_len(vs); i++)
        test_vector(tj_at(vs, i));
    test_forbidden(root);
    test_secrets(root);
    test_secret_server();
    tj_free(root);
    return tap_done();
}
