/*
 * Crypto benchmarks (not a test: prints numbers, asserts nothing).
 *
 *   AES-256-IGE encrypt/decrypt (1 KiB, 1 MiB) next to OpenSSL EVP AES-256-CBC encrypt
 *   measured in the same run (both are one sequential AES chain per block; target ratio
 *   >= 0.9 at 1 MiB), AES-256-CTR vs EVP, SHA-256 (SHA-NI and the portable path) vs EVP,
 *   the KDF, the fused IGE-decrypt + SHA-256 vs decrypt-then-hash, whole-packet MTProto 2.0
 *   encryption, and the cost of the client side of the key exchange (RSA_PAD, 2048-bit
 *   modexps, pq factorisation).
 *
 * Each figure is the best of 3 runs of ~0.3 s (the machine may be shared); the IGE and
 * CBC runs are interleaved so that load changes affect both alike.
 * Usage: bench_crypto [seconds_per_run] [cpu]
 *   cpu: time with CLOCK_THREAD_CPUTIME_ID instead of CLOCK_MONOTONIC (useful on a busy
 *        machine, where wall-clock time includes time the thread was not running).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include <mtproto/crypto.h>
#include "crypto/crypto_internal.h"

static double run_seconds = 0.3;
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef void (*bench_fn)(void *ctx);

/* Seconds per call over one run of about run_seconds. */
static double measure1(bench_fn fn, void *ctx)
{
    long iters = 0;
    double t0 = now(), t;
    fn(ctx);   /* warm up */
    t0 = now();
    do {
        for (int i = 0; i < 8; i++)
            fn(ctx);
        iters += 8;
        t = now();
    } while (t - t0 < run_seconds);
    return (t - t0) / (double)iters;
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

/* Best of 3 runs. */
static double measure(bench_fn fn, void *ctx)
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++)
        best = min2(best, measure1(fn, ctx));
    return best;
}

static double mbps(size_t bytes, double sec)
{
    return (double)bytes / sec / 1e6;
}

/* ---- contexts ---- */

typedef struct {
    uint8_t key[32], iv[32];
    uint8_t *buf;
    size_t len;
    EVP_CIPHER_CTX *evp;
    EVP_CIPHER *cipher;
    EVP_MD *md;
    mtp_aes_ctr_t ctr;
    int sink;
} bctx;

static void f_ige_enc(void *p)
{
    bctx *c = p;
    c->sink += mtp_aes256_ige_encrypt(c->key, c->iv, c->buf, c->buf, c->len);
}

static void f_ige_dec(void *p)
{
    bctx *c = p;
    c->sink += mtp_aes256_ige_decrypt(c->key, c->iv, c->buf, c->buf, c->len);
}

static void f_ige_evp_enc(void *p)
{
    bctx *c = p;
    uint8_t iv[32];
    memcpy(iv, c->iv, 32);
    c->sink += mtp_aes_ige_evp_(c->key, 32, iv, c->buf, c->buf, c->len, 1);
}

static void f_ige_evp_dec(void *p)
{
    bctx *c = p;
    uint8_t iv[32];
    memcpy(iv, c->iv, 32);
    c->sink += mtp_aes_ige_evp_(c->key, 32, iv, c->buf, c->buf, c->len, 0);
}

/* Reference: one CBC-encrypted message = set key + IV, encrypt (as IGE does per call). */
static void f_cbc_enc(void *p)
{
    bctx *c = p;
    int outl = 0;
    EVP_EncryptInit_ex2(c->evp, c->cipher, c->key, c->iv, NULL);
    EVP_CIPHER_CTX_set_padding(c->evp, 0);
    EVP_EncryptUpdate(c->evp, c->buf, &outl, c->buf, (int)c->len);
    c->sink += outl;
}

/* Reference without re-keying: pure CBC throughput of a keyed context. */
static void f_cbc_update(void *p)
{
    bctx *c = p;
    int outl = 0;
    EVP_EncryptUpdate(c->evp, c->buf, &outl, c->buf, (int)c->len);
    c->sink += outl;
}

static void f_ctr(void *p)
{
    bctx *c = p;
    c->sink += mtp_aes_ctr_apply(&c->ctr, c->buf, c->buf, c->len);
}

static void f_evp_ctr(void *p)
{
    bctx *c = p;
    int outl = 0;
    EVP_EncryptUpdate(c->evp, c->buf, &outl, c->buf, (int)c->len);
    c->sink += outl;
}

static void f_sha256(void *p)
{
    bctx *c = p;
    uint8_t out[32];
    c->sink += mtp_sha256(c->buf, c->len, out) + out[0];
}

static void f_sha256_portable(void *p)
{
    bctx *c = p;
    uint8_t out[32];
    mtp_sha256_force_portable_(1);
    c->sink += mtp_sha256(c->buf, c->len, out) + out[0];
    mtp_sha256_force_portable_(0);
}

static uint8_t *fused_out;

static void f_fused(void *p)
{
    bctx *c = p;
    uint8_t d[32];
    c->sink += mtp_aes256_ige_decrypt_sha256(c->key, c->iv, c->iv, 32, c->buf, fused_out, c->len, d) + d[0];
}

static void f_dec_then_hash(void *p)
{
    bctx *c = p;
    uint8_t d[32];
    mtp_bytes_t parts[2] = { MTP_BYTES(c->iv, 32), MTP_BYTES(fused_out, c->len) };
    c->sink += mtp_aes256_ige_decrypt(c->key, c->iv, c->buf, fused_out, c->len);
    c->sink += mtp_sha256_v(parts, 2, d) + d[0];
}

static void f_fused_portable(void *p)
{
    mtp_sha256_force_portable_(1);
    f_fused(p);
    mtp_sha256_force_portable_(0);
}

static void f_kdf2(void *p)
{
    bctx *c = p;
    uint8_t k[32], iv[32];
    mtp_kdf2(c->buf, c->key, 0, k, iv);
    c->sink += k[0];
}

static void f_kdf2_portable(void *p)
{
    mtp_sha256_force_portable_(1);
    f_kdf2(p);
    mtp_sha256_force_portable_(0);
}

static void f_evp_sha256(void *p)
{
    bctx *c = p;
    uint8_t out[32];
    unsigned int ol = 0;
    EVP_Digest(c->buf, c->len, out, &ol, c->md, NULL);
    c->sink += (int)ol + out[0];
}

typedef struct {
    uint8_t auth_key[256];
    uint8_t *plain, *packet, *back;
    size_t len;
    int sink;
} pctx;

static void f_pkt_enc(void *p)
{
    pctx *c = p;
    c->sink += mtp_mtproto2_encrypt(c->auth_key, 0, c->plain, c->len, c->packet);
}

static void f_pkt_dec(void *p)
{
    pctx *c = p;
    c->sink += mtp_mtproto2_decrypt(c->auth_key, 0, c->packet, c->len + 24, c->back);
}

typedef struct {
    mtp_rsa_key_t *key;
    uint8_t secret[256], pub[256], g_a[256], out[256];
    size_t pub_len, g_a_len;
    int sink;
} hctx;

static void f_rsa_pad(void *p)
{
    hctx *c = p;
    uint8_t data[144] = { 0 };
    c->sink += mtp_rsa_pad_encrypt(c->key, data, 144, NULL, c->out);
}

static void f_dh_gen(void *p)
{
    hctx *c = p;
    c->sink += mtp_dh_generate(mtp_dh_known_prime(), 256, 3, NULL, c->secret, c->pub, &c->pub_len);
}

static void f_dh_shared(void *p)
{
    hctx *c = p;
    c->sink += mtp_dh_shared(mtp_dh_known_prime(), 256, c->g_a, c->g_a_len, c->secret, c->out);
}

static void f_dh_check(void *p)
{
    hctx *c = p;
    c->sink += mtp_dh_check_params(mtp_dh_known_prime(), 256, 3) +
               mtp_dh_check_public(mtp_dh_known_prime(), 256, c->g_a, c->g_a_len);
}

static void f_pq(void *p)
{
    hctx *c = p;
    uint64_t a, b;
    c->sink += mtp_factorize_pq(1825206431143503757ULL, &a, &b);
}

/* ---- main ---- */

static void ige_block(bctx *c, size_t len, const char *label)
{
    double enc = 1e30, dec = 1e30, cbc = 1e30, cbcu = 1e30;
    c->len = len;
    /* interleaved, so that load changes on a shared machine hit all of them alike */
    for (int rep = 0; rep < 3; rep++) {
        enc = min2(enc, measure1(f_ige_enc, c));
        cbc = min2(cbc, measure1(f_cbc_enc, c));
        dec = min2(dec, measure1(f_ige_dec, c));
        EVP_EncryptInit_ex2(c->evp, c->cipher, c->key, c->iv, NULL);
        EVP_CIPHER_CTX_set_padding(c->evp, 0);
        cbcu = min2(cbcu, measure1(f_cbc_update, c));
    }
    double evpe = measure(f_ige_evp_enc, c), evpd = measure(f_ige_evp_dec, c);
    printf("IGE %-6s  encrypt %8.1f MB/s   decrypt %8.1f MB/s   | EVP AES-256-CBC encrypt %8.1f MB/s"
           " (keyed ctx, update only %8.1f MB/s)\n",
           label, mbps(len, enc), mbps(len, dec), mbps(len, cbc), mbps(len, cbcu));
    printf("            ratio IGE/CBC: encrypt %.2fx  decrypt %.2fx"
           "   (vs update-only CBC: %.2fx / %.2fx)\n",
           cbc / enc, cbc / dec, cbcu / enc, cbcu / dec);
    printf("            portable EVP fallback IGE: encrypt %8.1f MB/s  decrypt %8.1f MB/s\n",
           mbps(len, evpe), mbps(len, evpd));
}

int main(int argc, char **argv)
{
    if (argc > 1 && atof(argv[1]) > 0)
        run_seconds = atof(argv[1]);
    if (argc > 2 && strcmp(argv[2], "cpu") == 0)
        bench_clock = CLOCK_THREAD_CPUTIME_ID;
    bctx c;
    memset(&c, 0, sizeof c);
    const size_t big = 1 << 20;
    c.buf = malloc(big);
    if (!c.buf)
        return 1;
    mtp_rand(NULL, c.key, 32);
    mtp_rand(NULL, c.iv, 32);
    mtp_rand(NULL, c.buf, big);
    c.evp = EVP_CIPHER_CTX_new();
    c.cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    c.md = EVP_MD_fetch(NULL, "SHA256", NULL);

    printf("libmtproto crypto bench (%s, AES-NI %s, best of 3 x %.2f s, %s clock)\n",
           OpenSSL_version(OPENSSL_VERSION), mtp_crypto_have_aesni() ? "yes" : "no", run_seconds,
           bench_clock == CLOCK_MONOTONIC ? "monotonic" : "thread CPU-time");
    printf("\n== AES-256-IGE vs OpenSSL AES-256-CBC encrypt (same run) ==\n");
    ige_block(&c, 1024, "1 KiB");
    ige_block(&c, big, "1 MiB");

    printf("\n== AES-256-CTR (obfuscated2 / CDN) ==\n");
    EVP_CIPHER *ctrc = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
    for (int i = 0; i < 2; i++) {
        size_t len = i ? big : 1024;
        c.len = len;
        mtp_aes_ctr_init_(&c.ctr, c.key, c.iv);
        double t = measure(f_ctr, &c);
        mtp_aes_ctr_clear_(&c.ctr);
        EVP_EncryptInit_ex2(c.evp, ctrc, c.key, c.iv, NULL);
        double r = measure(f_evp_ctr, &c);
        printf("CTR %-6s  mtp_aes_ctr %8.1f MB/s   EVP AES-256-CTR %8.1f MB/s   ratio %.2fx\n",
               i ? "1 MiB" : "1 KiB", mbps(len, t), mbps(len, r), r / t);
    }
    EVP_CIPHER_free(ctrc);

    printf("\n== SHA-256 (SHA-NI %s) ==\n", mtp_crypto_have_shani() ? "yes" : "no");
    static const size_t shalens[] = { 52, 64, 1024, 1 << 20 };
    for (int i = 0; i < 4; i++) {
        c.len = shalens[i];
        double t = measure(f_sha256, &c), tp = measure(f_sha256_portable, &c), r = measure(f_evp_sha256, &c);
        printf("SHA-256 %7zu B  mtp_sha256 %8.1f MB/s (%6.0f ns)   portable path %8.1f MB/s (%6.0f ns)"
               "   EVP_Digest %8.1f MB/s (%6.0f ns)   ratio vs EVP %.2fx\n",
               shalens[i], mbps(shalens[i], t), t * 1e9, mbps(shalens[i], tp), tp * 1e9,
               mbps(shalens[i], r), r * 1e9, r / t);
    }
    {
        double t = measure(f_kdf2, &c), tp = measure(f_kdf2_portable, &c);
        printf("mtp_kdf2 (two 52-byte SHA-256)  %6.0f ns   portable path %6.0f ns   ratio %.2fx\n",
               t * 1e9, tp * 1e9, tp / t);
    }

    printf("\n== AES-256-IGE decrypt + SHA-256(32-byte prefix + plaintext) ==\n");
    fused_out = malloc(big);
    if (!fused_out)
        return 1;
    static const size_t flens[] = { 1088, 1 << 20 };
    for (int i = 0; i < 2; i++) {
        double f = 1e30, s = 1e30, d = 1e30;
        c.len = flens[i];
        for (int rep = 0; rep < 3; rep++) {
            f = min2(f, measure1(f_fused, &c));
            s = min2(s, measure1(f_dec_then_hash, &c));
            d = min2(d, measure1(f_ige_dec, &c));
        }
        double fp = measure(f_fused_portable, &c);
        printf("%7zu B  fused %8.1f MB/s (%8.2f us)   decrypt then hash %8.1f MB/s   IGE decrypt alone %8.1f MB/s"
               "   portable %8.1f MB/s   fused/separate %.2fx\n",
               flens[i], mbps(flens[i], f), f * 1e6, mbps(flens[i], s), mbps(flens[i], d),
               mbps(flens[i], fp), s / f);
    }
    free(fused_out);

    printf("\n== MTProto 2.0 packet (msg_key + KDF + IGE) ==\n");
    pctx pc;
    memset(&pc, 0, sizeof pc);
    mtp_rand(NULL, pc.auth_key, 256);
    pc.plain = malloc(big + 32);
    pc.packet = malloc(big + 64);
    pc.back = malloc(big + 32);
    if (!pc.plain || !pc.packet || !pc.back)
        return 1;
    mtp_rand(NULL, pc.plain, big);
    static const size_t plens[] = { 64, 1024, 1 << 20 };
    for (int i = 0; i < 3; i++) {
        pc.len = plens[i];
        double e = measure(f_pkt_enc, &pc);
        double d = measure(f_pkt_dec, &pc);
        printf("packet %7zu B  encrypt %8.2f us (%7.1f MB/s)   decrypt+verify %8.2f us (%7.1f MB/s)\n",
               plens[i], e * 1e6, mbps(plens[i], e), d * 1e6, mbps(plens[i], d));
    }

    printf("\n== Key exchange, client side ==\n");
    hctx h;
    memset(&h, 0, sizeof h);
    if (mtp_rsa_generate(2048, &h.key) != 0)
        return 1;
    mtp_dh_generate(mtp_dh_known_prime(), 256, 3, NULL, h.secret, h.g_a, &h.g_a_len);
    double t_pq = measure(f_pq, &h);
    double t_pad = measure(f_rsa_pad, &h);
    double t_chk = measure(f_dh_check, &h);
    double t_gen = measure(f_dh_gen, &h);
    double t_sh = measure(f_dh_shared, &h);
    printf("pq factorisation (63-bit)        %9.1f us\n", t_pq * 1e6);
    printf("RSA_PAD encrypt (e = 65537)      %9.1f us\n", t_pad * 1e6);
    printf("DH checks (known prime, g_a)     %9.1f us\n", t_chk * 1e6);
    printf("b + g_b = g^b mod p (modexp2048) %9.1f us\n", t_gen * 1e6);
    printf("auth_key = g_a^b mod p (modexp)  %9.1f us\n", t_sh * 1e6);
    printf("client handshake crypto total    %9.1f us  (pq + RSA_PAD + checks + 2 modexp)\n",
           (t_pq + t_pad + t_chk + t_gen + t_sh) * 1e6);
    double t0 = now();
    uint8_t modp[256];
    for (int i = 0; i < 256; i++)
        modp[i] = mtp_dh_known_prime()[i];
    modp[255] ^= 0x06;   /* composite: how long a rejection of an unknown prime takes */
    mtp_dh_check_params(modp, 256, 4);
    printf("rejecting an unknown composite p  %9.1f us (one shot)\n", (now() - t0) * 1e6);

    mtp_rsa_free(h.key);
    free(pc.plain);
    free(pc.packet);
    free(pc.back);
    EVP_CIPHER_CTX_free(c.evp);
    EVP_CIPHER_free(c.cipher);
    EVP_MD_free(c.md);
    free(c.buf);
    return (c.sink == 42424242 && pc.sink == 1 && h.sink == 1) ? 1 : 0;
}
