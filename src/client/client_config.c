/*
 * libmtproto client — configuration: defaults, validation (every field, the reason naming
 * the field), and the copy the client keeps (every string duplicated; too long is an
 * error, never a silent cut).
 */
#define _GNU_SOURCE
#include "client_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const mtp_client_dc_t prod_dcs[] = {
    { 1, "149.154.175.53", 443 }, { 2, "149.154.167.51", 443 }, { 3, "149.154.175.100", 443 },
    { 4, "149.154.167.91", 443 }, { 5, "91.108.56.130", 443 },
};
static const mtp_client_dc_t test_dcs[] = {
    { 1, "149.154.175.10", 443 }, { 2, "149.154.167.40", 443 }, { 3, "149.154.175.117", 443 },
};

#define MAX_FILE_PARALLEL 64
#define MAX_FLOOD_THRESHOLD (7 * 86400)
#define MAX_RECONNECTS 1000
#define MAX_PEER_CACHE 1000000
#define MAX_TIMEOUT (7 * 86400 * MTP_USEC_PER_SEC)

void mtp_client_config_init_versioned(unsigned version, mtp_client_config_t *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->version = version;
    cfg->device_model = "libmtproto";
    cfg->system_version = "Linux";
    cfg->app_version = "1.0";
    cfg->lang_code = "en";
    cfg->transport = MTP_TRANSPORT_INTERMEDIATE;
    cfg->flood_threshold = 60;
    cfg->call_timeout = 60 * MTP_USEC_PER_SEC;
    cfg->file_conns = 2;
    cfg->file_parallel = 8;
    cfg->backoff_base = 100 * 1000;
    cfg->backoff_cap = 10 * MTP_USEC_PER_SEC;
    cfg->max_reconnects = 5;
    cfg->log_level = MTP_LOG_INFO;
}

int mtp_client_dc_parse(mtp_client_dc_t *dc, int id, const char *hp)
{
    const char *colon = hp ? strrchr(hp, ':') : NULL;
    if (!dc || !colon || colon == hp || (size_t)(colon - hp) >= sizeof dc->host)
        return MTP_EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return MTP_EINVAL;
    memset(dc, 0, sizeof *dc);
    dc->id = id;
    memcpy(dc->host, hp, (size_t)(colon - hp));
    dc->port = (uint16_t)port;
    return 0;
}

static int why_set(char *why, size_t why_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int why_set(char *why, size_t why_len, int rc, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* A string field: NULL allowed (a default), at most max bytes. */
static int check_str(const char *field, const char *v, size_t max, bool empty_ok, char *why,
                     size_t why_len)
{
    if (!v)
        return 0;
    size_t n = strnlen(v, max + 1);
    if (n > max)
        return why_set(why, why_len, MTP_EINVAL, "%s: longer than %zu characters", field, max);
    if (!n && !empty_ok)
        return why_set(why, why_len, MTP_EINVAL, "%s: empty (use NULL for the default)", field);
    return 0;
}

static int check_dcs(const mtp_client_config_t *cfg, char *why, size_t why_len)
{
    if (cfg->n_dcs < 0 || cfg->n_dcs > MTP_CLIENT_MAX_DCS)
        return why_set(why, why_len, MTP_EINVAL, "n_dcs: %d is not in 0..%d", cfg->n_dcs,
                       MTP_CLIENT_MAX_DCS);
    if (cfg->dcs_kind != MTP_CLIENT_DCS_CUSTOM)
        return 0;       /* the built-in table is used; dcs[] is not read */
    if (cfg->n_dcs < 1)
        return why_set(why, why_len, MTP_EINVAL, "n_dcs: a CUSTOM table needs at least one DC");
    for (int i = 0; i < cfg->n_dcs; i++) {
        const mtp_client_dc_t *d = &cfg->dcs[i];
        if (d->id < 1 || d->id > MTP_CLIENT_MAX_DCS)
            return why_set(why, why_len, MTP_EINVAL, "dcs[%d].id: %d is not in 1..%d", i, d->id,
                           MTP_CLIENT_MAX_DCS);
        for (int j = 0; j < i; j++)
            if (cfg->dcs[j].id == d->id)
                return why_set(why, why_len, MTP_EINVAL, "dcs[%d].id: DC %d listed twice", i,
                               d->id);
        size_t hl = strnlen(d->host, sizeof d->host);
        if (!hl || hl == sizeof d->host)
            return why_set(why, why_len, MTP_EINVAL, "dcs[%d].host: %s", i,
                           hl ? "not NUL-terminated" : "empty");
        if (!d->port)
            return why_set(why, why_len, MTP_EINVAL, "dcs[%d].port: 0", i);
    }
    if (!cfg->rsa_pem)
        return why_set(why, why_len, MTP_EINVAL, "rsa_pem: a CUSTOM table needs the server's key");
    return check_str("rsa_pem", cfg->rsa_pem, MTP_CLIENT_PEM_MAX, false, why, why_len);
}

static bool table_has(const mtp_client_config_t *cfg, int id)
{
    if (cfg->dcs_kind == MTP_CLIENT_DCS_PRODUCTION)
        return id >= 1 && id <= (int)(sizeof prod_dcs / sizeof prod_dcs[0]);
    if (cfg->dcs_kind == MTP_CLIENT_DCS_TEST)
        return id >= 1 && id <= (int)(sizeof test_dcs / sizeof test_dcs[0]);
    for (int i = 0; i < cfg->n_dcs; i++)
        if (cfg->dcs[i].id == id)
            return true;
    return false;
}

static int check_numbers(const mtp_client_config_t *cfg, char *why, size_t why_len)
{
    if (cfg->transport != MTP_TRANSPORT_UNKNOWN && cfg->transport != MTP_TRANSPORT_ABRIDGED &&
        cfg->transport != MTP_TRANSPORT_INTERMEDIATE && cfg->transport != MTP_TRANSPORT_PADDED &&
        cfg->transport != MTP_TRANSPORT_FULL)
        return why_set(why, why_len, MTP_EINVAL, "transport: %d is not a transport",
                       (int)cfg->transport);
    if (cfg->flood_threshold > MAX_FLOOD_THRESHOLD)
        return why_set(why, why_len, MTP_EINVAL, "flood_threshold: %d s is over %d s",
                       cfg->flood_threshold, MAX_FLOOD_THRESHOLD);
    if (cfg->call_timeout < 0 || cfg->call_timeout > MAX_TIMEOUT)
        return why_set(why, why_len, MTP_EINVAL, "call_timeout: %lld us is not in 0..%lld",
                       (long long)cfg->call_timeout, (long long)MAX_TIMEOUT);
    if (cfg->file_conns < 0 || cfg->file_conns > MTP_CLIENT__CONNS_PER_DC - 1)
        return why_set(why, why_len, MTP_EINVAL, "file_conns: %d is not in 0..%d",
                       cfg->file_conns, MTP_CLIENT__CONNS_PER_DC - 1);
    if (cfg->file_parallel < 0 || cfg->file_parallel > MAX_FILE_PARALLEL)
        return why_set(why, why_len, MTP_EINVAL, "file_parallel: %d is not in 0..%d",
                       cfg->file_parallel, MAX_FILE_PARALLEL);
    if (cfg->backoff_base < 0 || cfg->backoff_base > MAX_TIMEOUT)
        return why_set(why, why_len, MTP_EINVAL, "backoff_base: %lld us is not in 0..%lld",
                       (long long)cfg->backoff_base, (long long)MAX_TIMEOUT);
    if (cfg->backoff_cap < 0 || cfg->backoff_cap > MAX_TIMEOUT)
        return why_set(why, why_len, MTP_EINVAL, "backoff_cap: %lld us is not in 0..%lld",
                       (long long)cfg->backoff_cap, (long long)MAX_TIMEOUT);
    if (cfg->backoff_base && cfg->backoff_cap && cfg->backoff_cap < cfg->backoff_base)
        return why_set(why, why_len, MTP_EINVAL, "backoff_cap: below backoff_base");
    if (cfg->max_reconnects < 0 || cfg->max_reconnects > MAX_RECONNECTS)
        return why_set(why, why_len, MTP_EINVAL, "max_reconnects: %d is not in 0..%d",
                       cfg->max_reconnects, MAX_RECONNECTS);
    if (cfg->peer_cache_max > MAX_PEER_CACHE)
        return why_set(why, why_len, MTP_EINVAL, "peer_cache_max: %d is over %d",
                       cfg->peer_cache_max, MAX_PEER_CACHE);
    if ((int)cfg->log_level < MTP_LOG_ERROR || (int)cfg->log_level > MTP_LOG_DEBUG)
        return why_set(why, why_len, MTP_EINVAL, "log_level: %d is not a level",
                       (int)cfg->log_level);
    return 0;
}

int mtp_client_config_check(const mtp_client_config_t *cfg, char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = 0;
    if (!cfg)
        return why_set(why, why_len, MTP_EINVAL, "cfg: NULL");
    if (cfg->version != MTP_CLIENT_CONFIG_VERSION)
        return why_set(why, why_len, MTP_EVERSION,
                       "version: %u is not %u (call mtp_client_config_init)", cfg->version,
                       MTP_CLIENT_CONFIG_VERSION);
    if (cfg->api_id < 0)
        return why_set(why, why_len, MTP_EINVAL, "api_id: negative");
    int rc;
    if ((rc = check_str("api_hash", cfg->api_hash, MTP_CLIENT_API_HASH_MAX, true, why, why_len)) ||
        (rc = check_str("device_model", cfg->device_model, MTP_CLIENT_NAME_MAX, false, why,
                        why_len)) ||
        (rc = check_str("system_version", cfg->system_version, MTP_CLIENT_NAME_MAX, false, why,
                        why_len)) ||
        (rc = check_str("app_version", cfg->app_version, MTP_CLIENT_NAME_MAX, false, why,
                        why_len)) ||
        (rc = check_str("lang_code", cfg->lang_code, MTP_CLIENT_LANG_MAX, false, why, why_len)) ||
        (rc = check_str("session_path", cfg->session_path, MTP_CLIENT_PATH_MAX, true, why,
                        why_len)))
        return rc;
    if (cfg->dcs_kind != MTP_CLIENT_DCS_PRODUCTION && cfg->dcs_kind != MTP_CLIENT_DCS_TEST &&
        cfg->dcs_kind != MTP_CLIENT_DCS_CUSTOM)
        return why_set(why, why_len, MTP_EINVAL, "dcs_kind: %d is not a kind",
                       (int)cfg->dcs_kind);
    if ((rc = check_dcs(cfg, why, why_len)))
        return rc;
    if (cfg->first_dc && !table_has(cfg, cfg->first_dc))
        return why_set(why, why_len, MTP_EINVAL, "first_dc: %d is not a DC of the table",
                       cfg->first_dc);
    return check_numbers(cfg, why, why_len);
}

static char *dup_or(const char *v, const char *def)
{
    return strdup(v ? v : def);
}

int mtp_client__config_copy(mtp_client_t *c, const mtp_client_config_t *cfg, const char **pem)
{
    char why[200];
    int rc = mtp_client_config_check(cfg, why, sizeof why);
    if (rc) {
        if (cfg && cfg->log)
            cfg->log(cfg->log_user, MTP_LOG_ERROR, why);
        return rc;
    }
    c->cfg = *cfg;
    *pem = cfg->rsa_pem;
    if (cfg->dcs_kind != MTP_CLIENT_DCS_CUSTOM) {
        bool prod = cfg->dcs_kind == MTP_CLIENT_DCS_PRODUCTION;
        const mtp_client_dc_t *t = prod ? prod_dcs : test_dcs;
        int n = prod ? 5 : 3;
        memset(c->cfg.dcs, 0, sizeof c->cfg.dcs);
        memcpy(c->cfg.dcs, t, (size_t)n * sizeof *t);
        c->cfg.n_dcs = n;
        *pem = prod ? mtp_client_pem_production : mtp_client_pem_test;
    }
    c->api_hash = dup_or(cfg->api_hash, "");
    c->device_model = dup_or(cfg->device_model, "libmtproto");
    c->system_version = dup_or(cfg->system_version, "Linux");
    c->app_version = dup_or(cfg->app_version, "1.0");
    c->lang_code = dup_or(cfg->lang_code, "en");
    c->session_path = dup_or(cfg->session_path, "");
    if (!c->api_hash || !c->device_model || !c->system_version || !c->app_version ||
        !c->lang_code || !c->session_path)
        return MTP_ENOMEM;
    c->cfg.api_hash = NULL;         /* the secret is kept in one place only */
    c->cfg.device_model = c->device_model;
    c->cfg.system_version = c->system_version;
    c->cfg.app_version = c->app_version;
    c->cfg.lang_code = c->lang_code;
    c->cfg.session_path = c->session_path[0] ? c->session_path : NULL;
    c->cfg.rsa_pem = NULL;          /* parsed once by mtp_client_new */
    if (!c->cfg.transport)
        c->cfg.transport = MTP_TRANSPORT_INTERMEDIATE;
    if (!c->cfg.call_timeout)
        c->cfg.call_timeout = 60 * MTP_USEC_PER_SEC;
    if (c->cfg.file_conns < 1)
        c->cfg.file_conns = 1;
    if (c->cfg.file_parallel < 1)
        c->cfg.file_parallel = 1;
    if (!c->cfg.backoff_base)
        c->cfg.backoff_base = 100 * 1000;
    if (!c->cfg.backoff_cap)
        c->cfg.backoff_cap = 10 * MTP_USEC_PER_SEC;
    if (c->cfg.backoff_cap < c->cfg.backoff_base)
        c->cfg.backoff_cap = c->cfg.backoff_base;
    if (!c->cfg.max_reconnects)
        c->cfg.max_reconnects = 5;
    c->home = cfg->first_dc > 0 ? cfg->first_dc
              : cfg->dcs_kind == MTP_CLIENT_DCS_CUSTOM ? c->cfg.dcs[0].id : 2;
    return 0;
}

static void free_secret(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

void mtp_client__config_free(mtp_client_t *c)
{
    free_secret(c->api_hash);
    free(c->device_model);
    free(c->system_version);
    free(c->app_version);
    free(c->lang_code);
    free(c->session_path);
    c->api_hash = c->device_model = c->system_version = c->app_version = NULL;
    c->lang_code = c->session_path = NULL;
}

const mtp_client_dc_t *mtp_client__dc_addr(const mtp_client_t *c, int id)
{
    for (int i = 0; i < c->cfg.n_dcs; i++)
        if (c->cfg.dcs[i].id == id)
            return &c->cfg.dcs[i];
    return NULL;
}

void mtp_client__log(const mtp_client_t *c, mtp_log_level_t level, const char *fmt, ...)
{
    if (!c->cfg.log || level > c->cfg.log_level)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->cfg.log(c->cfg.log_user, level, line);
}
