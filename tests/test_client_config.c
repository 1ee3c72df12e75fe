/*
 * Client configuration: every field validated (MTP_EINVAL naming the field, through
 * mtp_client_config_check and the log callback), versioned configs, every string copied
 * (the caller's may be freed right after mtp_client_new), truncation an error.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "testharness.h"

#include <mtproto/client.h>
#include <mtproto/tl_schema.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct logrec {
    int lines, errors, infos;
    char last_error[256];
    bool leaked_secret;
    const char *secret;
} logrec_t;

static void log_cb(void *user, mtp_log_level_t level, const char *line)
{
    logrec_t *r = user;
    r->lines++;
    if (level == MTP_LOG_ERROR) {
        r->errors++;
        snprintf(r->last_error, sizeof r->last_error, "%s", line);
    }
    if (level == MTP_LOG_INFO)
        r->infos++;
    if (r->secret && strstr(line, r->secret))
        r->leaked_secret = true;
}

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        tap_bail("malloc");
    memset(s, ch, n);
    s[n] = 0;
    return s;
}

typedef void (*mutate_fn)(mtp_client_config_t *cfg);

static char *g_long;    /* scratch string for the mutations */

static void m_api_id(mtp_client_config_t *c) { c->api_id = -5; }
static void m_api_hash(mtp_client_config_t *c) { c->api_hash = g_long; }
static void m_device(mtp_client_config_t *c) { c->device_model = g_long; }
static void m_device_empty(mtp_client_config_t *c) { c->device_model = ""; }
static void m_system(mtp_client_config_t *c) { c->system_version = g_long; }
static void m_app(mtp_client_config_t *c) { c->app_version = g_long; }
static void m_lang(mtp_client_config_t *c) { c->lang_code = "abcdefghijklmnopq"; }
static void m_session(mtp_client_config_t *c) { c->session_path = g_long; }
static void m_kind(mtp_client_config_t *c) { c->dcs_kind = (mtp_client_dcs_kind_t)7; }
static void m_ndcs_neg(mtp_client_config_t *c) { c->n_dcs = -1; }
static void m_ndcs_big(mtp_client_config_t *c) { c->n_dcs = MTP_CLIENT_MAX_DCS + 1; }
static void m_ndcs_zero(mtp_client_config_t *c) { c->n_dcs = 0; }
static void m_id_zero(mtp_client_config_t *c) { c->dcs[0].id = 0; }
static void m_id_big(mtp_client_config_t *c) { c->dcs[1].id = MTP_CLIENT_MAX_DCS + 1; }
static void m_id_dup(mtp_client_config_t *c) { c->dcs[1].id = c->dcs[0].id; }
static void m_host_empty(mtp_client_config_t *c) { c->dcs[0].host[0] = 0; }
static void m_host_unterminated(mtp_client_config_t *c)
{
    memset(c->dcs[1].host, 'a', sizeof c->dcs[1].host);
}
static void m_port(mtp_client_config_t *c) { c->dcs[0].port = 0; }
static void m_pem(mtp_client_config_t *c) { c->rsa_pem = NULL; }
static void m_first_huge(mtp_client_config_t *c) { c->first_dc = 1000000; }
static void m_first_missing(mtp_client_config_t *c) { c->first_dc = 9; }
static void m_first_prod(mtp_client_config_t *c)
{
    c->dcs_kind = MTP_CLIENT_DCS_PRODUCTION;
    c->first_dc = 6;
}
static void m_transport(mtp_client_config_t *c) { c->transport = (mtp_transport_kind_t)9; }
static void m_flood(mtp_client_config_t *c) { c->flood_threshold = 100000000; }
static void m_timeout(mtp_client_config_t *c) { c->call_timeout = -1; }
static void m_file_conns(mtp_client_config_t *c) { c->file_conns = 9; }
static void m_file_conns_neg(mtp_client_config_t *c) { c->file_conns = -1; }
static void m_file_parallel(mtp_client_config_t *c) { c->file_parallel = 1000; }
static void m_backoff_base(mtp_client_config_t *c) { c->backoff_base = -1; }
static void m_backoff_cap(mtp_client_config_t *c)
{
    c->backoff_base = 5 * MTP_USEC_PER_SEC;
    c->backoff_cap = MTP_USEC_PER_SEC;
}
static void m_reconnects(mtp_client_config_t *c) { c->max_reconnects = -2; }
static void m_peers(mtp_client_config_t *c) { c->peer_cache_max = 2000000; }
static void m_log_level(mtp_client_config_t *c) { c->log_level = (mtp_log_level_t)9; }

static const struct {
    const char *field;
    mutate_fn fn;
} cases[] = {
    { "api_id", m_api_id },           { "api_hash", m_api_hash },
    { "device_model", m_device },     { "device_model", m_device_empty },
    { "system_version", m_system },   { "app_version", m_app },
    { "lang_code", m_lang },          { "session_path", m_session },
    { "dcs_kind", m_kind },           { "n_dcs", m_ndcs_neg },
    { "n_dcs", m_ndcs_big },          { "n_dcs", m_ndcs_zero },
    { "dcs[0].id", m_id_zero },       { "dcs[1].id", m_id_big },
    { "dcs[1].id", m_id_dup },        { "dcs[0].host", m_host_empty },
    { "dcs[1].host", m_host_unterminated }, { "dcs[0].port", m_port },
    { "rsa_pem", m_pem },             { "first_dc", m_first_huge },
    { "first_dc", m_first_missing },  { "first_dc", m_first_prod },
    { "transport", m_transport },     { "flood_threshold", m_flood },
    { "call_timeout", m_timeout },    { "file_conns", m_file_conns },
    { "file_conns", m_file_conns_neg }, { "file_parallel", m_file_parallel },
    { "backoff_base", m_backoff_base }, { "backoff_cap", m_backoff_cap },
    { "max_reconnects", m_reconnects }, { "peer_cache_max", m_peers },
    { "log_level", m_log_level },
};

static tu_harness_t H;

static void invalid_fields(void)
{
    g_long = repeat('x', 2000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mtp_client_config_t cfg;
        tu_harness_client_config(&H, &cfg);
        logrec_t lr = { 0 };
        cfg.log = log_cb;
        cfg.log_user = &lr;
        cases[i].fn(&cfg);
        char why[200];
        int rc = mtp_client_config_check(&cfg, why, sizeof why);
        bool named = !strncmp(why, cases[i].field, strlen(cases[i].field)) &&
                     why[strlen(cases[i].field)] == ':';
        OK(rc == MTP_EINVAL && named, "check: bad %s -> MTP_EINVAL (%d), \"%s\"", cases[i].field,
           rc, why);
        mtp_client_t *c = (mtp_client_t *)&lr;      /* must be reset to NULL */
        rc = mtp_client_new(&cfg, &c);
        OK(rc == MTP_EINVAL && !c && lr.errors == 1 && !strcmp(lr.last_error, why),
           "new: bad %s -> MTP_EINVAL, *out NULL, logged once as ERROR", cases[i].field);
        mtp_client_free(c);
    }
    free(g_long);
}

static void versions(void)
{
    mtp_client_config_t cfg;
    mtp_client_config_init_versioned(MTP_CLIENT_CONFIG_VERSION + 1, &cfg);
    IS_INT(cfg.version, MTP_CLIENT_CONFIG_VERSION + 1, "init_versioned stores the version");
    cfg.api_id = 1;
    char why[200];
    mtp_client_t *c = NULL;
    IS_INT(mtp_client_config_check(&cfg, why, sizeof why), MTP_EVERSION,
           "unknown version: check says MTP_EVERSION (%s)", why);
    IS_INT(mtp_client_new(&cfg, &c), MTP_EVERSION, "unknown version: new says MTP_EVERSION");
    OK(!c, "no client for an unknown version");
    mtp_client_config_t zero;
    memset(&zero, 0, sizeof zero);
    IS_INT(mtp_client_new(&zero, &c), MTP_EVERSION, "a zeroed config (no init): MTP_EVERSION");
    mtp_client_config_init(&cfg);
    IS_INT(cfg.version, MTP_CLIENT_CONFIG_VERSION, "mtp_client_config_init sets the version");
    IS_INT(mtp_client_config_check(&cfg, why, sizeof why), 0,
           "the defaults (production table) are valid");
    IS_INT(mtp_client_new(&cfg, &c), 0, "a client on the defaults (nothing connects)");
    IS_INT(mtp_client_home_dc(c), 2, "its home DC is 2");
    mtp_client_free(c);
    IS_INT(mtp_client_new(NULL, &c), MTP_EINVAL, "cfg NULL: MTP_EINVAL");
    tu_harness_client_config(&H, &cfg);
    IS_INT(mtp_client_new(&cfg, NULL), MTP_EINVAL, "out NULL: MTP_EINVAL");
}

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    if (!d)
        tap_bail("strdup");
    return d;
}

static void wipe_free(char *s)
{
    memset(s, '#', strlen(s));
    free(s);
}

/* Every string of the config is the caller's memory, freed (and scribbled over first)
 * right after mtp_client_new: the client still logs in, calls and saves its session. */
static void borrowed_strings(void)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    char path[400];
    snprintf(path, sizeof path, "%s/borrowed.session", H.dir);
    char *hash = dup_str("0123456789abcdef"), *dev = dup_str("test-device");
    char *sys = dup_str("test-os"), *app = dup_str("9.9"), *lang = dup_str("de");
    char *sp = dup_str(path), *pem = dup_str(cfg.rsa_pem);
    cfg.api_hash = hash;
    cfg.device_model = dev;
    cfg.system_version = sys;
    cfg.app_version = app;
    cfg.lang_code = lang;
    cfg.session_path = sp;
    cfg.rsa_pem = pem;
    logrec_t lr = { .secret = "0123456789abcdef" };
    cfg.log = log_cb;
    cfg.log_user = &lr;
    cfg.log_level = MTP_LOG_DEBUG;
    mtp_client_t *c = NULL;
    int rc = mtp_client_new(&cfg, &c);
    IS_INT(rc, 0, "client from borrowed strings");
    wipe_free(hash);
    wipe_free(dev);
    wipe_free(sys);
    wipe_free(app);
    wipe_free(lang);
    wipe_free(sp);
    wipe_free(pem);
    if (rc)
        return;
    mtp_call_error_t e;
    rc = mtp_login_phone(c, "9996610001", "11111", NULL, NULL, &e);
    IS_INT(rc, 0, "login works after the strings were freed (%s)", e.message);
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    rc = mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), a, &o, &e);
    OK(!rc && o && o->tl->id == MTP_ID_nearestDc, "a call works after the strings were freed");
    mtp_arena_free(a);
    IS_INT(mtp_client_save(c), 0, "the session saves to the copied path");
    struct stat st;
    OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "session file there, mode 0600");
    OK(lr.infos > 0, "the log callback got connection events (%d lines)", lr.lines);
    OK(!lr.leaked_secret, "no log line carries the api_hash");
    mtp_client_free(c);
}

static void long_session_path(void)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    char *p = repeat('s', 2000);
    memcpy(p, "/tmp/", 5);
    cfg.session_path = p;
    mtp_client_t *c = NULL;
    char why[200];
    IS_INT(mtp_client_new(&cfg, &c), MTP_EINVAL, "a 2,000-character session_path fails");
    mtp_client_config_check(&cfg, why, sizeof why);
    OK(!strncmp(why, "session_path:", 13), "and names session_path (%s)", why);
    p[MTP_CLIENT_PATH_MAX] = 0;     /* exactly the limit */
    OK(mtp_client_config_check(&cfg, why, sizeof why) == 0,
       "a path of MTP_CLIENT_PATH_MAX characters passes the check");
    free(p);
}

int main(void)
{
    if (tu_harness_start(&H, "test_client_config", NULL))
        tap_bail("harness did not start");
    versions();
    invalid_fields();
    borrowed_strings();
    long_session_path();
    tu_harness_stop(&H);
    return tap_done();
}
