/*
 * MTProto 2.0 envelope of 1 KiB messages (msg_key + KDF + AES-256-IGE), ops/s, beside the npm
 * peer mtcute (@mtcute/core 0.30.3, what @mtcute/node 0.30.3 runs) on the same inputs measured
 * in the same run: the auth key and the server->client packets are written here and decrypted
 * by both.
 */
#include <mtproto/crypto.h>
#include <mtproto/envelope.h>

#include <inttypes.h>
#include <stdlib.h>

#include "testutil.h"

#define NPKT 256
#define BODY 1024

static double rate(int (*fn)(int), double secs)
{
    long n = 0;
    double t0 = tu_now(), t;
    do {
        for (int i = 0; i < 200; i++)
            if (fn((int)(n + i)))
                return -1;
        n += 200;
    } while ((t = tu_now() - t0) < secs);
    return (double)n / t;
}

static mtp_auth_key_t key;
static uint8_t *pkts[NPKT];
static size_t pkt_len[NPKT];
static uint8_t body[BODY], work[4096];
static mtp_buf_t out;
static const int64_t SID = 0x0123456789abcdefLL;

static int enc_one(int i)
{
    mtp_buf_clear(&out);
    uint32_t qa;
    return mtp_envelope_encrypt(&key, MTP_ROLE_CLIENT, 0x1234567, SID, ((int64_t)1700000000 << 32) + 4 * i,
                                1, body, BODY, NULL, &out, &qa);
}

static int dec_one(int i)
{
    mtp_envelope_msg_t m;
    int k = i % NPKT;
    return mtp_envelope_decrypt_to(&key, MTP_ROLE_CLIENT, pkts[k], pkt_len[k], work, &m);
}

int main(void)
{
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)(i * 37 + 11);
    mtp_auth_key_init(&key, raw);
    for (int i = 0; i < BODY; i++)
        body[i] = (uint8_t)i;
    mtp_buf_init(&out);
    const char *path = "/tmp/mtp-bench-envelope.txt";
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    char *kh = tu_hex(raw, 256);
    fprintf(f, "%s\n%" PRId64 "\n", kh, SID);
    free(kh);
    for (int i = 0; i < NPKT; i++) {
        mtp_buf_clear(&out);
        uint32_t qa;
        if (mtp_envelope_encrypt(&key, MTP_ROLE_SERVER, 0x1234567, SID, ((int64_t)1700000000 << 32) + 4 * i + 1,
                                 2 * i + 1, body, BODY, NULL, &out, &qa))
            return 1;
        pkts[i] = malloc(out.len);
        memcpy(pkts[i], out.data, out.len);
        pkt_len[i] = out.len;
        char *h = tu_hex(out.data, out.len);
        fprintf(f, "%s\n", h);
        free(h);
    }
    fclose(f);

    double enc = rate(enc_one, 1.0), dec = rate(dec_one, 1.0);
    char cmd[256], line[512] = "";
    snprintf(cmd, sizeof cmd, "node tests/interop/peers/bench-envelope.mjs %s 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (!fgets(line, sizeof line, p))
            line[0] = 0;
        pclose(p);
    }
    tj *ref = line[0] ? tj_parse(line, strlen(line)) : NULL;
    printf("mtproto 2.0 envelope, 1 KiB messages\n");
    if (!ref || tj_int(tj_get(ref, "decrypted")) != NPKT) {
        printf("  encrypt %10.0f ops/s   decrypt+verify %10.0f ops/s   (mtcute unavailable or disagreed: %s)\n",
               enc, dec, line[0] ? line : "run tests/interop/peers/install.sh");
    } else {
        double pe = (double)tj_int(tj_get(ref, "encrypt_per_s")), pd = (double)tj_int(tj_get(ref, "decrypt_per_s"));
        printf("  encrypt        %10.0f ops/s   mtcute %9.0f ops/s   ratio %5.1fx (target >= 10x)\n", enc, pe,
               pe > 0 ? enc / pe : 0);
        printf("  decrypt+verify %10.0f ops/s   mtcute %9.0f ops/s   ratio %5.1fx (target >= 10x)\n", dec, pd,
               pd > 0 ? dec / pd : 0);
        printf("  mtcute verified all %d packets written here\n", NPKT);
    }
    tj_free(ref);
    for (int i = 0; i < NPKT; i++)
        free(pkts[i]);
    mtp_buf_free(&out);
    return 0;
}
