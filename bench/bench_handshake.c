/*
 * Benchmarks of the key exchange and the envelope.
 *
 *  1. Client-side CPU time of one full auth-key exchange (req_pq_multi .. dh_gen_ok)
 *     against our server role in memory; only the client's calls are timed (thread CPU
 *     time). Target: <= 15 ms. The server's share is printed too.
 *  2. Envelope throughput on 1 MiB bodies (a file part): decrypt (in place, all checks)
 *     and encrypt, as a ratio of the raw AES-256-IGE speed measured in the same run.
 *     Target: decrypt >= 70% of raw IGE decryption.
 *
 * Exit status 0 always (numbers are reported, the CI compares them); prints one
 * "name: value" line per result.
 */
#include <mtproto/handshake.h>
#include <mtproto/envelope.h>

#include <stdlib.h>
#include <time.h>

#include "testutil.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_exchange(void)
{
    mtp_rsa_key_t *priv = NULL, *pub = NULL;
    char pem[4096];
    size_t n;
    if (mtp_rsa_generate(2048, &priv) || mtp_rsa_public_pem(priv, pem, sizeof pem, &n) ||
        mtp_rsa_load_public_pem(pem, n, &pub)) {
        printf("handshake: cannot make an RSA key\n");
        exit(1);
    }
    const mtp_rsa_key_t *ckeys[] = { pub }, *skeys[] = { priv };
    enum { RUNS = 40 };
    double client[RUNS], server[RUNS];
    mtp_usec_t now = 1705754877LL * MTP_USEC_PER_SEC;
    int failures = 0;
    for (int run = 0; run < RUNS; run++) {
        mtp_hs_client_config_t cc = { .rsa_keys = ckeys, .n_rsa_keys = 1, .dc_id = 2,
                                      .expires_in = run & 1 ? 86400 : 0 };
        mtp_hs_server_config_t sc = { .rsa_keys = skeys, .n_rsa_keys = 1, .dc_id = 2 };
        mtp_hs_client_t *c;
        mtp_hs_server_t *s;
        mtp_hs_client_new(&cc, &c);
        mtp_hs_server_new(&sc, &s);
        mtp_buf_t c2s, s2c;
        mtp_buf_init(&c2s);
        mtp_buf_init(&s2c);
        double tc = 0, ts = 0, t;
        t = cpu_now();
        int rc = mtp_hs_client_start(c, now, &c2s);
        tc += cpu_now() - t;
        while (!rc && mtp_hs_client_state(c) != MTP_HS_DONE) {
            mtp_hs_event_t ev;
            mtp_buf_clear(&s2c);
            t = cpu_now();
            rc = mtp_hs_server_feed(s, now, c2s.data, c2s.len, &s2c, &ev);
            ts += cpu_now() - t;
            if (rc)
                break;
            mtp_buf_clear(&c2s);
            t = cpu_now();
            rc = mtp_hs_client_feed(c, now, s2c.data, s2c.len, &c2s);
            tc += cpu_now() - t;
        }
        if (rc || mtp_hs_client_state(c) != MTP_HS_DONE)
            failures++;
        client[run] = tc;
        server[run] = ts;
        mtp_buf_free(&c2s);
        mtp_buf_free(&s2c);
        mtp_hs_client_free(c);
        mtp_hs_server_free(s);
        now += 10 * MTP_USEC_PER_SEC;
    }
    qsort(client, RUNS, sizeof client[0], cmp_double);
    qsort(server, RUNS, sizeof server[0], cmp_double);
    printf("handshake_client_cpu_ms_median: %.2f (min %.2f, max %.2f, target <= 15)\n",
           client[RUNS / 2] * 1e3, client[0] * 1e3, client[RUNS - 1] * 1e3);
    printf("handshake_server_cpu_ms_median: %.2f\n", server[RUNS / 2] * 1e3);
    printf("handshake_failures: %d of %d\n", failures, RUNS);
    mtp_rsa_free(priv);
    mtp_rsa_free(pub);
}

static void bench_envelope(void)
{
    enum { MIB = 1 << 20, ROUNDS = 60 };
    uint8_t key_raw[256];
    for (int i = 0; i < 256; i++)
        key_raw[i] = (uint8_t)(i * 29 + 3);
    mtp_auth_key_t key;
    mtp_auth_key_init(&key, key_raw);
    uint8_t *body = malloc(MIB), *raw = malloc(MIB + 64), *pkt = malloc(MIB + 512);
    for (size_t i = 0; i < MIB; i++)
        body[i] = (uint8_t)(i * 7);
    uint8_t k[32], iv[32];
    memset(k, 1, sizeof k);
    memset(iv, 2, sizeof iv);

    /* raw IGE decryption of 1 MiB, in place */
    double best_raw = 1e9, best_dec = 1e9, best_enc = 1e9;
    mtp_buf_t out;
    mtp_buf_init(&out);
    mtp_envelope_encrypt(&key, MTP_ROLE_SERVER, 1, 2, 5, 1, body, MIB, NULL, &out, NULL);
    size_t plen = out.len;
    for (int r = 0; r < ROUNDS; r++) {
        memcpy(raw, body, MIB);
        double t = tu_now();
        mtp_aes256_ige_decrypt(k, iv, raw, raw, MIB);
        t = tu_now() - t;
        best_raw = t < best_raw ? t : best_raw;

        memcpy(pkt, out.data, plen);
        mtp_envelope_msg_t m;
        t = tu_now();
        int rc = mtp_envelope_decrypt(&key, MTP_ROLE_CLIENT, pkt, plen, &m);
        t = tu_now() - t;
        if (rc || m.body.len != MIB) {
            printf("envelope: decrypt failed\n");
            exit(1);
        }
        best_dec = t < best_dec ? t : best_dec;

        mtp_buf_t o2;
        mtp_buf_init(&o2);
        mtp_buf_reserve(&o2, MIB + 512);
        t = tu_now();
        mtp_envelope_encrypt(&key, MTP_ROLE_CLIENT, 1, 2, 5, 1, body, MIB, NULL, &o2, NULL);
        t = tu_now() - t;
        best_enc = t < best_enc ? t : best_enc;
        mtp_buf_free(&o2);
    }
    double mb = (double)MIB / 1e6;
    printf("ige_raw_decrypt_MBps: %.0f (aesni %d)\n", mb / best_raw, mtp_crypto_have_aesni());
    printf("envelope_decrypt_1MiB_MBps: %.0f (%.0f%% of raw IGE, target >= 70%%)\n",
           mb / best_dec, 100.0 * best_raw / best_dec);
    printf("envelope_encrypt_1MiB_MBps: %.0f (%.0f%% of raw IGE)\n", mb / best_enc,
           100.0 * best_raw / best_enc);

    /* four 1 MiB packets sealed together (a server answering several file parts) */
    enum { NS = 4 };
    uint8_t *bufs[NS];
    mtp_seal_job_t jobs[NS];
    double best_many = 1e9;
    size_t plain = MIB + 32 + 16;
    for (int i = 0; i < NS; i++) {
        bufs[i] = malloc(24 + plain);
        memset(bufs[i], i + 1, 24 + plain);
    }
    for (int r = 0; r < ROUNDS / 4; r++) {
        for (int i = 0; i < NS; i++)
            jobs[i] = (mtp_seal_job_t){ .key = &key, .buf = bufs[i], .plain_len = plain };
        double t = tu_now();
        mtp_envelope_seal_many(MTP_ROLE_SERVER, jobs, NS);
        t = tu_now() - t;
        best_many = t < best_many ? t : best_many;
    }
    printf("envelope_seal_many_4x1MiB_MBps: %.0f (%.2fx raw IGE of one chain; one packet at a time: %.0f)\n",
           NS * mb / best_many, best_raw / (best_many / NS), mb / best_enc);
    for (int i = 0; i < NS; i++)
        free(bufs[i]);
    mtp_buf_free(&out);
    free(body);
    free(raw);
    free(pkt);
    mtp_auth_key_wipe(&key);
}

int main(void)
{
    bench_exchange();
    bench_envelope();
    return 0;
}
