/* Test support: the in-process harness with its PEM on disk (see testharness.h). */
#define _GNU_SOURCE
#include "testharness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tu_harness_start(tu_harness_t *h, const char *name, const mtp_server_config_t *sc)
{
    memset(h, 0, sizeof *h);
    mtp_server_config_t def;
    if (!sc) {
        mtp_server_config_init(&def);
        def.n_dcs = 3;
        sc = &def;
    }
    h->n_dcs = sc->n_dcs;
    if (h->n_dcs < 1 || h->n_dcs > MTP_SERVER_MAX_DCS)
        return -1;
    snprintf(h->dir, sizeof h->dir, "/tmp/%s.%ld", name, (long)getpid());
    snprintf(h->pem_path, sizeof h->pem_path, "%s/pub.pem", h->dir);
    if (mkdir(h->dir, 0700) != 0) {
        h->dir[0] = 0;
        return -1;
    }
    if (mtp_server_new(sc, &h->srv) || mtp_server_start_thread(h->srv) ||
        mtp_server_ports(h->srv, h->ports, h->n_dcs) < h->n_dcs) {
        tu_harness_stop(h);
        return -1;
    }
    FILE *f = fopen(h->pem_path, "w");
    const char *pem = mtp_server_public_pem(h->srv);
    bool ok = f && pem && fputs(pem, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok) {
        tu_harness_stop(h);
        return -1;
    }
    return 0;
}

void tu_harness_stop(tu_harness_t *h)
{
    if (h->srv) {
        mtp_server_stop(h->srv);
        mtp_server_free(h->srv);
        h->srv = NULL;
    }
    if (h->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
        if (system(cmd)) {
        }
        h->dir[0] = 0;
    }
}

void tu_harness_client_config(const tu_harness_t *h, mtp_client_config_t *cfg)
{
    mtp_client_config_init(cfg);
    cfg->api_id = 1;
    cfg->api_hash = "0123456789abcdef";
    cfg->dcs_kind = MTP_CLIENT_DCS_CUSTOM;
    cfg->n_dcs = h->n_dcs;
    for (int i = 0; i < h->n_dcs && i < MTP_CLIENT_MAX_DCS; i++) {
        cfg->dcs[i].id = i + 1;
        strcpy(cfg->dcs[i].host, "127.0.0.1");
        cfg->dcs[i].port = h->ports[i];
    }
    cfg->rsa_pem = mtp_server_public_pem(h->srv);
    cfg->first_dc = 1;
    cfg->call_timeout = 20 * MTP_USEC_PER_SEC;
}
