/*
 * Test support: the in-process harness (mtp_server_t) on free loopback ports, with a fresh
 * temporary directory holding its public RSA key as a PEM file, and client configurations
 * pointing at it. Used by the client tests and bench/bench_client.c.
 */
#ifndef MTP_TESTHARNESS_H
#define MTP_TESTHARNESS_H

#include <stdint.h>

#include <mtproto/client.h>
#include <mtproto/server.h>

typedef struct tu_harness {
    mtp_server_t *srv;
    int n_dcs;
    uint16_t ports[MTP_SERVER_MAX_DCS];   /* ports[i] serves DC i + 1 */
    char dir[256];                        /* /tmp/<name>.<pid>, removed by tu_harness_stop() */
    char pem_path[300];                   /* <dir>/pub.pem: the harness's public RSA key */
} tu_harness_t;

/* Start a harness with config sc (NULL: the defaults with 3 DCs; ports 0 pick free ones) in
 * its own thread, make the directory /tmp/<name>.<pid> and write the PEM there.
 * 0 on success; -1 if anything failed (then nothing is left running or on disk). */
int tu_harness_start(tu_harness_t *h, const char *name, const mtp_server_config_t *sc);
/* Stop and free the harness, remove its directory with everything in it. */
void tu_harness_stop(tu_harness_t *h);

/* A client configuration for h: every DC on 127.0.0.1, the harness's RSA key, api_id 1,
 * api_hash "0123456789abcdef", first DC 1, call_timeout 20 s, no session file. Override
 * fields afterwards as needed. */
void tu_harness_client_config(const tu_harness_t *h, mtp_client_config_t *cfg);

#endif
