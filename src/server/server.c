/*
 * libmtproto harness — public API (include/mtproto/server.h): configuration, lifecycle,
 * threads, fault rules, statistics, housekeeping.
 */
#include "server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOUSEKEEPING_PERIOD (250 * 1000)          /* µs */

mtp_usec_t srv_now(void)
{
    return mtp_now_usec();
}

int32_t srv_unixtime(void)
{
    return (int32_t)(mtp_now_usec() / MTP_USEC_PER_SEC);
}

void srv_rand(srv_t *srv, void *out, size_t n)
{
    if (mtp_rand(srv->rng, out, n))
        memset(out, 0x5a, n);   /* not reached with a working RNG */
}

int64_t srv_rand64(srv_t *srv)
{
    uint8_t b[8];
    srv_rand(srv, b, 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return (int64_t)v;
}

void srv_stat_add(srv_t *srv, size_t off, uint64_t n)
{
    pthread_mutex_lock(&srv->mu);
    uint64_t *p = (uint64_t *)((uint8_t *)&srv->stats + off);
    *p += n;
    pthread_mutex_unlock(&srv->mu);
}

/* Why mtp_server_new() failed, to the config's log callback (MTP_LOG_ERROR). */
static void seterr(const mtp_server_config_t *cfg, const char *fmt, ...)
{
    if (!cfg->log || cfg->log_level < MTP_LOG_ERROR)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cfg->log(cfg->log_user, MTP_LOG_ERROR, line);
}

int mtp_server_config_init_versioned(unsigned version, mtp_server_config_t *cfg)
{
    if (!cfg)
        return MTP_EINVAL;
    if (version != MTP_SERVER_CONFIG_VERSION)
        return MTP_EVERSION;
    memset(cfg, 0, sizeof *cfg);
    cfg->version = version;
    cfg->host = "127.0.0.1";
    cfg->n_dcs = 3;
    cfg->idle_timeout = (mtp_usec_t)300 * MTP_USEC_PER_SEC;
    cfg->code_ttl = (mtp_usec_t)300 * MTP_USEC_PER_SEC;
    cfg->log_level = MTP_LOG_WARN;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* faults                                                                               */
/* ------------------------------------------------------------------------------------ */

static bool method_match(const char *rule, const char *method)
{
    return strcmp(rule, "*") == 0 || strcmp(rule, method) == 0;
}

/* Fault i fired once (srv->mu held): one use fewer; removed when that was its last.
 * Returns whether it was removed. */
static bool fault_used(srv_t *srv, int i)
{
    srv_fault_t *f = &srv->faults[i];
    if (f->count <= 0 || --f->count > 0)
        return false;
    memmove(f, f + 1, (size_t)(srv->n_faults - i - 1) * sizeof *f);
    srv->n_faults--;
    return true;
}

bool srv_fault_take(srv_t *srv, int kind, const char *method, srv_fault_t *out)
{
    bool hit = false;
    pthread_mutex_lock(&srv->mu);
    for (int i = 0; i < srv->n_faults; i++) {
        srv_fault_t *f = &srv->faults[i];
        if (f->kind != kind || !method_match(f->method, method))
            continue;
        *out = *f;
        hit = true;
        fault_used(srv, i);
        break;
    }
    pthread_mutex_unlock(&srv->mu);
    return hit;
}

size_t srv_fault_drop_room(srv_t *srv, int dc, size_t n, bool *drop)
{
    *drop = false;
    size_t room = n;
    pthread_mutex_lock(&srv->mu);
    for (int i = 0; i < srv->n_faults; i++) {
        srv_fault_t *f = &srv->faults[i];
        if (f->kind != FAULT_DROP || (f->dc && f->dc != dc))
            continue;
        uint64_t left = f->after_bytes > f->sent ? f->after_bytes - f->sent : 0;
        if (left >= n) {
            f->sent += n;
            break;
        }
        room = (size_t)left;
        *drop = true;
        srv->stats.faults_injected++;
        f->sent = 0;
        fault_used(srv, i);
        break;
    }
    pthread_mutex_unlock(&srv->mu);
    return room;
}

bool srv_fault_take_upd(srv_t *srv, int upd, int64_t user, bool *last)
{
    bool hit = false;
    *last = false;
    pthread_mutex_lock(&srv->mu);
    for (int i = 0; i < srv->n_faults; i++) {
        srv_fault_t *f = &srv->faults[i];
        if (f->kind != FAULT_UPD || f->upd != upd || (f->user && f->user != user))
            continue;
        hit = true;
        srv->stats.faults_injected++;
        *last = fault_used(srv, i);
        break;
    }
    pthread_mutex_unlock(&srv->mu);
    return hit;
}

static bool same_rule(const srv_fault_t *a, const srv_fault_t *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == FAULT_DROP)
        return a->dc == b->dc;
    if (a->kind == FAULT_UPD)
        return a->upd == b->upd && a->user == b->user;
    return strcmp(a->method, b->method) == 0;
}

static int add_fault(srv_t *srv, const srv_fault_t *nf)
{
    if (!srv)
        return MTP_EINVAL;
    pthread_mutex_lock(&srv->mu);
    int rc = 0;
    int at = -1;
    for (int i = 0; i < srv->n_faults; i++) {
        srv_fault_t *f = &srv->faults[i];
        if (same_rule(f, nf)) {
            at = i;
            break;
        }
    }
    if (nf->count == 0) {
        if (at >= 0) {
            memmove(&srv->faults[at], &srv->faults[at + 1],
                    (size_t)(srv->n_faults - at - 1) * sizeof srv->faults[0]);
            srv->n_faults--;
        }
    } else if (at >= 0) {
        srv->faults[at] = *nf;
    } else if (srv->n_faults == SRV_MAX_FAULTS) {
        rc = MTP_EFULL;
    } else {
        srv->faults[srv->n_faults++] = *nf;
    }
    pthread_mutex_unlock(&srv->mu);
    return rc;
}

int mtp_server_fault_rpc(mtp_server_t *srv, const char *method, int count, int32_t code,
                         const char *message)
{
    if (!method || !message || strlen(method) >= sizeof ((srv_fault_t *)0)->method ||
        strlen(message) >= sizeof ((srv_fault_t *)0)->message)
        return MTP_EINVAL;
    for (const char *p = message; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return MTP_EINVAL;
    srv_fault_t f;
    memset(&f, 0, sizeof f);
    f.kind = FAULT_RPC;
    snprintf(f.method, sizeof f.method, "%s", method);
    f.count = count;
    f.code = code;
    snprintf(f.message, sizeof f.message, "%s", message);
    return add_fault(srv, &f);
}

int mtp_server_fault_delay(mtp_server_t *srv, const char *method, int count, mtp_usec_t delay)
{
    if (!method || strlen(method) >= sizeof ((srv_fault_t *)0)->method || delay < 0)
        return MTP_EINVAL;
    srv_fault_t f;
    memset(&f, 0, sizeof f);
    f.kind = FAULT_DELAY;
    snprintf(f.method, sizeof f.method, "%s", method);
    f.count = count;
    f.delay = delay;
    return add_fault(srv, &f);
}

int mtp_server_fault_drop(mtp_server_t *srv, int dc, uint64_t after_bytes, int count)
{
    if (dc < 0 || dc > MTP_SERVER_MAX_DCS)
        return MTP_EINVAL;
    srv_fault_t f;
    memset(&f, 0, sizeof f);
    f.kind = FAULT_DROP;
    f.dc = dc;
    f.after_bytes = after_bytes;
    f.count = count;
    snprintf(f.method, sizeof f.method, "*");
    return add_fault(srv, &f);
}

int mtp_server_fault_updates(mtp_server_t *srv, int64_t user_id, int kind, int count)
{
    if (kind < MTP_SERVER_UPD_DROP || kind > MTP_SERVER_UPD_DIFF_TOO_LONG || user_id < 0)
        return MTP_EINVAL;
    srv_fault_t f;
    memset(&f, 0, sizeof f);
    f.kind = FAULT_UPD;
    f.upd = kind;
    f.user = user_id;
    f.count = count;
    snprintf(f.method, sizeof f.method, "*");
    return add_fault(srv, &f);
}

void mtp_server_fault_clear(mtp_server_t *srv)
{
    if (!srv)
        return;
    pthread_mutex_lock(&srv->mu);
    srv->n_faults = 0;
    pthread_mutex_unlock(&srv->mu);
}

void mtp_server_stats(mtp_server_t *srv, mtp_server_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!srv)
        return;
    pthread_mutex_lock(&srv->mu);
    *out = srv->stats;
    pthread_mutex_unlock(&srv->mu);
}

/* ------------------------------------------------------------------------------------ */
/* creation                                                                             */
/* ------------------------------------------------------------------------------------ */

static char *sdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    mtp_buf_t b;
    mtp_buf_init(&b);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        mtp_buf_append(&b, chunk, r);
    fclose(f);
    if (b.err) {
        mtp_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    mtp_buf_putc(&b, 0);
    return b.data;
}

static int write_private(const char *path, const void *p, size_t n)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return MTP_EINVAL;
    FILE *f = NULL;
    unlink(tmp);   /* never follow or reuse what lies there (see srv_store.c) */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        f = fdopen(fd, "wb");
    if (!f) {
        if (fd >= 0)
            close(fd);
        return MTP_EIO;
    }
    int rc = fwrite(p, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : MTP_EIO;
    if (fclose(f) && !rc)
        rc = MTP_EIO;
    if (!rc && rename(tmp, path))
        rc = MTP_EIO;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    /* the rename itself must reach the disk too */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int load_rsa(srv_t *srv, const mtp_server_config_t *cfg)
{
    int rc;
    if (cfg->rsa_key_pem) {
        size_t n = cfg->rsa_key_pem_len ? cfg->rsa_key_pem_len : strlen(cfg->rsa_key_pem);
        rc = mtp_rsa_load_private_pem(cfg->rsa_key_pem, n, &srv->rsa);
        if (rc)
            seterr(cfg, "cannot load the RSA private key: %s", mtp_strerror(rc));
        return rc;
    }
    if (cfg->rsa_key_path) {
        size_t n = 0;
        uint8_t *t = read_file(cfg->rsa_key_path, &n);
        if (!t) {
            seterr(cfg, "cannot read %s: %s", cfg->rsa_key_path, strerror(errno));
            return MTP_EIO;
        }
        rc = mtp_rsa_load_private_pem((const char *)t, n, &srv->rsa);
        mtp_secure_zero(t, n);
        free(t);
        if (rc)
            seterr(cfg, "%s: not a usable RSA private key (%s)", cfg->rsa_key_path,
                   mtp_strerror(rc));
        return rc;
    }
    char path[4096];
    if (srv->state_dir) {
        snprintf(path, sizeof path, "%s/rsa.pem", srv->state_dir);
        size_t n = 0;
        uint8_t *t = read_file(path, &n);
        if (t) {
            rc = mtp_rsa_load_private_pem((const char *)t, n, &srv->rsa);
            mtp_secure_zero(t, n);
            free(t);
            if (!rc)
                return 0;
        }
    }
    rc = mtp_rsa_generate(2048, &srv->rsa);
    if (rc) {
        seterr(cfg, "cannot generate an RSA key: %s", mtp_strerror(rc));
        return rc;
    }
    if (srv->state_dir) {
        size_t len = 0;
        mtp_rsa_private_pem(srv->rsa, NULL, 0, &len);
        char *pem = malloc(len + 1);
        if (pem && !mtp_rsa_private_pem(srv->rsa, pem, len + 1, &len))
            write_private(path, pem, len);
        if (pem)
            mtp_secure_zero(pem, len);
        free(pem);
    }
    return 0;
}

static int load_secret(srv_t *srv, const mtp_server_config_t *cfg)
{
    if (srv->cfg.has_seed) {
        srv_rand(srv, srv->secret, sizeof srv->secret);
    } else if (mtp_rand(NULL, srv->secret, sizeof srv->secret)) {
        seterr(cfg, "no random bytes for the server secret");
        return MTP_ECRYPTO;
    }
    if (!srv->state_dir)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/secret", srv->state_dir);
    size_t n = 0;
    uint8_t *t = read_file(path, &n);
    if (t && n == sizeof srv->secret) {
        memcpy(srv->secret, t, n);
    } else if (write_private(path, srv->secret, sizeof srv->secret)) {
        free(t);
        seterr(cfg, "cannot write %s", path);
        return MTP_EIO;
    }
    free(t);
    return 0;
}

/* The state directory (and its files/): created 0700; an existing one must be a directory
 * of ours that neither group nor others can enter (it holds raw auth keys): anything else
 * is refused (MTP_ESECURITY), never "fixed" behind the owner's back. */
static int make_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat sb;
        if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return MTP_EIO;
        if (sb.st_uid != geteuid() || (sb.st_mode & 077))
            return MTP_ESECURITY;
        return 0;
    }
    return MTP_EIO;
}

static void housekeeping(mtp_timer_t *t, void *user);

/* The --password accounts: registered, with their SRP verifier. */
static int load_passwords(srv_t *srv, const mtp_server_config_t *cfg_in)
{
    srv->passwords = calloc(cfg_in->n_passwords, sizeof *srv->passwords);
    if (!srv->passwords) {
        seterr(cfg_in, "out of memory");
        return MTP_ENOMEM;
    }
    for (size_t i = 0; i < cfg_in->n_passwords; i++) {
        const mtp_server_password_t *p = &cfg_in->passwords[i];
        char d[24];
        srv_user_t *u = NULL;
        if (p->phone && p->password &&
            srv_phone_norm((const uint8_t *)p->phone, strlen(p->phone), d))
            u = srv_user_by_phone(srv, d);
        if (!u) {
            seterr(cfg_in, "--password: %s is not a valid test phone (99966XYYYY, X <= %d)",
                   p->phone ? p->phone : "(null)", srv->n_dcs);
            return MTP_EINVAL;
        }
        if (!u->registered) {
            u->registered = true;
            srv->dirty_users = true;
        }
        srv_user_set_password(srv, u, p->password);
        if (!u->has_password) {
            seterr(cfg_in, "cannot compute the SRP verifier");
            return MTP_ECRYPTO;
        }
    }
    srv->cfg.n_passwords = 0;
    return 0;
}

/* The budgets left 0 (or negative) get their defaults (server.h). */
static void limits_defaults(mtp_server_config_t *c)
{
#define LIM_DEF(f, v) do { if (c->limits.f <= 0) c->limits.f = (v); } while (0)
    LIM_DEF(max_frame, (size_t)2 << 20);
    LIM_DEF(max_input, (size_t)256 << 20);
    LIM_DEF(frame_timeout, (mtp_usec_t)30 * MTP_USEC_PER_SEC);
    LIM_DEF(sessions_per_key, 64);
    LIM_DEF(sessions_per_conn, 8);
    LIM_DEF(sessions, 4096);
    LIM_DEF(session_ttl, (mtp_usec_t)120 * MTP_USEC_PER_SEC);
    LIM_DEF(keys, 50000);
    LIM_DEF(key_exchanges_per_conn, 8);
    LIM_DEF(key_exchanges_per_addr, 300);
    LIM_DEF(key_unused_ttl, (mtp_usec_t)3600 * MTP_USEC_PER_SEC);
    LIM_DEF(pending_per_conn, 256);
    LIM_DEF(pending, 20000);
    LIM_DEF(upload_bytes, (uint64_t)1 << 30);
    LIM_DEF(exports, 1000);
#undef LIM_DEF
    if (c->limits.max_frame < 1024)
        c->limits.max_frame = 1024;
    if (c->limits.max_frame > MTP_TRANSPORT_MAX_PACKET_LIMIT)
        c->limits.max_frame = MTP_TRANSPORT_MAX_PACKET_LIMIT;
}

static int open_trace(srv_t *srv, const char *path, const mtp_server_config_t *cfg_in)
{
    if (strcmp(path, "-") == 0) {
        srv->trace_fp = stdout;
        return 0;
    }
    /* the trace shows login traffic: a file of ours, 0600, never through a symlink */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat sb;
    if (fd >= 0 && (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || fchmod(fd, 0600))) {
        close(fd);
        fd = -1;
        errno = EPERM;
    }
    srv->trace_fp = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!srv->trace_fp) {
        if (fd >= 0)
            close(fd);
        seterr(cfg_in, "cannot open the trace file %s: %s", path, strerror(errno));
        return MTP_EIO;
    }
    srv->trace_close = true;
    return 0;
}

int mtp_server_new(const mtp_server_config_t *cfg_in, mtp_server_t **out)
{
    if (!out)
        return MTP_EINVAL;
    *out = NULL;
    mtp_server_config_t def;
    if (!cfg_in) {
        mtp_server_config_init(&def);
        cfg_in = &def;
    }
    if (cfg_in->version != MTP_SERVER_CONFIG_VERSION) {
        seterr(cfg_in, "unknown mtp_server_config_t version %u (this library: %u)",
               cfg_in->version, (unsigned)MTP_SERVER_CONFIG_VERSION);
        return MTP_EVERSION;
    }
    if (cfg_in->n_dcs < 1 || cfg_in->n_dcs > MTP_SERVER_MAX_DCS) {
        seterr(cfg_in, "the number of DCs must be 1..%d", MTP_SERVER_MAX_DCS);
        return MTP_EINVAL;
    }
    if ((int)cfg_in->base_port + cfg_in->n_dcs - 1 > 65535) {
        seterr(cfg_in, "port range beyond 65535");
        return MTP_EINVAL;
    }
    srv_t *srv = calloc(1, sizeof *srv);
    if (!srv) {
        seterr(cfg_in, "out of memory");
        return MTP_ENOMEM;
    }
    int rc = MTP_ENOMEM;
    srv->cfg = *cfg_in;
    pthread_mutex_init(&srv->mu, NULL);
    mtp_buf_init(&srv->tline);
    snprintf(srv->host, sizeof srv->host, "%s",
             cfg_in->host && cfg_in->host[0] ? cfg_in->host : "127.0.0.1");
    srv->cfg.host = srv->host;
    bool wildcard = strcmp(srv->host, "0.0.0.0") == 0 || strcmp(srv->host, "::") == 0 ||
                    strcmp(srv->host, "[::]") == 0;
    snprintf(srv->adv_host, sizeof srv->adv_host, "%s", wildcard ? "127.0.0.1" : srv->host);
    if (srv->cfg.idle_timeout <= 0)
        srv->cfg.idle_timeout = (mtp_usec_t)300 * MTP_USEC_PER_SEC;
    if (srv->cfg.code_ttl <= 0)
        srv->cfg.code_ttl = (mtp_usec_t)300 * MTP_USEC_PER_SEC;
    limits_defaults(&srv->cfg);
    srv->n_dcs = cfg_in->n_dcs;
    for (int i = 0; i < srv->n_dcs; i++) {
        srv->dcs[i].srv = srv;
        srv->dcs[i].id = i + 1;
    }
    if (cfg_in->has_seed) {
        srv_drbg_init(&srv->drbg, cfg_in->seed);
        srv->rng_obj.fill = srv_drbg_fill;
        srv->rng_obj.ctx = &srv->drbg;
        srv->rng = &srv->rng_obj;
    }
    /* copies of borrowed strings */
    srv->cfg.rsa_key_pem = NULL;
    srv->cfg.rsa_key_path = NULL;
    srv->cfg.state_dir = NULL;
    srv->cfg.trace_path = NULL;
    srv->cfg.passwords = NULL;
    if (cfg_in->state_dir) {
        srv->state_dir = sdup(cfg_in->state_dir);
        char files[4200];
        snprintf(files, sizeof files, "%s/files", cfg_in->state_dir);
        int drc = srv->state_dir ? make_dir(srv->state_dir) : MTP_ENOMEM;
        if (!drc)
            drc = make_dir(files);
        if (drc == MTP_ESECURITY) {
            seterr(cfg_in, "refusing the state directory %s: it (or %s) must belong to this "
                   "user with no access for group or others (chmod 700)", cfg_in->state_dir,
                   files);
            rc = drc;
            goto fail;
        }
        if (drc) {
            seterr(cfg_in, "cannot create the state directory %s", cfg_in->state_dir);
            rc = drc;
            goto fail;
        }
    }
    if ((rc = load_rsa(srv, cfg_in)))
        goto fail;
    srv->rsa_list[0] = srv->rsa;
    srv->fingerprint = mtp_rsa_fingerprint(srv->rsa);
    {
        size_t len = 0;
        mtp_rsa_public_pem(srv->rsa, NULL, 0, &len);
        srv->pub_pem = malloc(len + 1);
        if (!srv->pub_pem || mtp_rsa_public_pem(srv->rsa, srv->pub_pem, len + 1, &len)) {
            seterr(cfg_in, "cannot export the public key");
            rc = srv->pub_pem ? MTP_ECRYPTO : MTP_ENOMEM;
            goto fail;
        }
    }
    if ((rc = load_secret(srv, cfg_in)))
        goto fail;
    if ((rc = srv_store_load(srv))) {
        seterr(cfg_in, "cannot load the state: %s", mtp_strerror(rc));
        goto fail;
    }
    if (cfg_in->n_passwords && (rc = load_passwords(srv, cfg_in)))
        goto fail;
    srv->page_rate = cfg_in->page_rate;
    if ((rc = srv_populate(srv, cfg_in->populate_messages, cfg_in->populate_members))) {
        seterr(cfg_in, "cannot populate: %s", mtp_strerror(rc));
        goto fail;
    }
    if (cfg_in->trace_path && (rc = open_trace(srv, cfg_in->trace_path, cfg_in)))
        goto fail;
    rc = MTP_ENOMEM;
    srv->own_loop = !cfg_in->loop;
    srv->loop = cfg_in->loop ? cfg_in->loop : mtp_loop_new(0);
    if (!srv->loop) {
        seterr(cfg_in, "cannot create the event loop");
        goto fail;
    }
    srv->housekeeping = mtp_timer_new(srv->loop, housekeeping, srv);
    srv->delay_timer = mtp_timer_new(srv->loop, srv_delay_fire, srv);
    if (!srv->housekeeping || !srv->delay_timer)
        goto fail;
    SRV_STAT(srv, users, 0);
    *out = srv;
    return 0;
fail:
    mtp_server_free(srv);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* housekeeping                                                                         */
/* ------------------------------------------------------------------------------------ */

static void sweep_sessions(srv_t *srv, mtp_usec_t now)
{
    size_t i = 0;
    srv_key_t *k;
    while (srv_map_next(&srv->keys, &i, NULL, (void **)&k)) {
        srv_sess_t *ss = k->sessions, *next;
        for (; ss; ss = next) {
            next = ss->next_in_key;
            if (!ss->refs && ss->last_used + srv->cfg.limits.session_ttl < now)
                srv_sess_free(srv, ss);   /* keys in the map are not destroyed: k stays */
        }
    }
}

static void housekeeping(mtp_timer_t *t, void *user)
{
    srv_t *srv = user;
    mtp_usec_t now = srv_now();
    srv_store_expire(srv, now);
    sweep_sessions(srv, now);
    srv_conns_check(srv, now);
    srv_store_save(srv, false);
    pthread_mutex_lock(&srv->mu);
    srv->stats.sessions = srv->n_sessions;
    srv->stats.keys = srv->keys.n;
    srv->stats.users = srv->users.n;
    srv->stats.input_bytes = srv->input_bytes;
    pthread_mutex_unlock(&srv->mu);
    mtp_timer_start(t, HOUSEKEEPING_PERIOD);
}

/* ------------------------------------------------------------------------------------ */
/* running                                                                              */
/* ------------------------------------------------------------------------------------ */

int mtp_server_start(mtp_server_t *srv)
{
    if (!srv)
        return MTP_EINVAL;
    if (srv->started)
        return 0;
    for (int i = 0; i < srv->n_dcs; i++) {
        uint16_t port = srv->cfg.base_port ? (uint16_t)(srv->cfg.base_port + i) : 0;
        int rc = mtp_listener_new(srv->loop, srv->host, port, NULL, srv_accept, &srv->dcs[i],
                                  &srv->dcs[i].lst);
        if (rc) {
            for (int j = 0; j < i; j++) {
                mtp_listener_free(srv->dcs[j].lst);
                srv->dcs[j].lst = NULL;
            }
            return rc;
        }
        srv->dcs[i].port = mtp_listener_port(srv->dcs[i].lst);
    }
    srv->started = true;
    mtp_timer_start(srv->housekeeping, HOUSEKEEPING_PERIOD);
    return 0;
}

static void shutdown_all(srv_t *srv)
{
    for (int i = 0; i < srv->n_dcs; i++)
        if (srv->dcs[i].lst) {
            mtp_listener_free(srv->dcs[i].lst);
            srv->dcs[i].lst = NULL;
        }
    srv_close_all(srv);
    /* let the streams deliver on_close */
    for (int i = 0; i < 100 && srv->conns; i++)
        mtp_loop_run_once(srv->loop, 0);
    srv_store_save(srv, true);
}

int mtp_server_run(mtp_server_t *srv)
{
    if (!srv)
        return MTP_EINVAL;
    int rc = mtp_server_start(srv);
    if (rc)
        return rc;
    srv->running = true;
    while (!atomic_load(&srv->stop_flag)) {
        rc = mtp_loop_run_once(srv->loop, 1000 * 1000);
        if (rc < 0 && rc != MTP_EAGAIN) {
            mtp_buf_t *b = srv_trace_begin(srv, "loop_error", NULL);
            if (b) {
                mtp_buf_printf(b, ",\"error\":\"%s\"", mtp_strerror(rc));
                srv_trace_end(srv);
            }
            break;
        }
        rc = 0;
    }
    shutdown_all(srv);
    srv->running = false;
    return rc;
}

static void *thread_main(void *arg)
{
    mtp_server_run(arg);
    return NULL;
}

int mtp_server_start_thread(mtp_server_t *srv)
{
    if (!srv || srv->has_thread || !srv->own_loop)
        return MTP_EINVAL;
    int rc = mtp_server_start(srv);
    if (rc)
        return rc;
    atomic_store(&srv->stop_flag, 0);
    if (pthread_create(&srv->thread, NULL, thread_main, srv))
        return MTP_ENOMEM;
    srv->has_thread = true;
    return 0;
}

void mtp_server_interrupt(mtp_server_t *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stop_flag, 1);
    if (srv->loop && srv->own_loop) {     /* never stop a caller's loop */
        mtp_loop_stop(srv->loop);
        mtp_loop_wakeup(srv->loop);
    }
}

void mtp_server_stop(mtp_server_t *srv)
{
    if (!srv)
        return;
    mtp_server_interrupt(srv);
    if (srv->has_thread) {
        pthread_join(srv->thread, NULL);
        srv->has_thread = false;
    }
}

void mtp_server_free(mtp_server_t *srv)
{
    if (!srv)
        return;
    mtp_server_stop(srv);
    if (srv->loop) {
        if (srv->started && srv->conns)
            shutdown_all(srv);
        while (srv->delayed) {
            srv_delayed_t *d = srv->delayed;
            srv->delayed = d->next;
            srv_sess_unref(srv, d->ss);
            free(d->body);
            free(d);
        }
        for (int i = 0; i < srv->n_dcs; i++)
            if (srv->dcs[i].lst)
                mtp_listener_free(srv->dcs[i].lst);
        mtp_timer_free(srv->housekeeping);
        mtp_timer_free(srv->delay_timer);
        srv_control_free(srv);
        if (srv->own_loop)
            mtp_loop_free(srv->loop);
    }
    if (srv->started)
        srv_store_save(srv, true);
    srv_act_free(srv);
    /* sessions */
    size_t i = 0;
    srv_key_t *k;
    while (srv_map_next(&srv->keys, &i, NULL, (void **)&k))
        while (k->sessions) {
            srv_sess_t *ss = k->sessions;
            k->sessions = ss->next_in_key;
            mtp_session_free(ss->s);
            free(ss);
        }
    for (size_t g = 0; g < srv->n_grave; g++)
        while (srv->graveyard[g]->sessions) {
            srv_sess_t *ss = srv->graveyard[g]->sessions;
            srv->graveyard[g]->sessions = ss->next_in_key;
            mtp_session_free(ss->s);
            free(ss);
        }
    srv_store_free(srv);
    srv_fx_free(srv);
    mtp_buf_free(&srv->part_buf);
    mtp_buf_free(&srv->enc_buf);
    if (srv->trace_close && srv->trace_fp)
        fclose(srv->trace_fp);
    mtp_buf_free(&srv->tline);
    mtp_rsa_free(srv->rsa);
    free(srv->pub_pem);
    free(srv->state_dir);
    free(srv->passwords);
    mtp_secure_zero(srv->secret, sizeof srv->secret);
    mtp_secure_zero(&srv->drbg, sizeof srv->drbg);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

/* ------------------------------------------------------------------------------------ */
/* accessors                                                                            */
/* ------------------------------------------------------------------------------------ */

int mtp_server_ports(const mtp_server_t *srv, uint16_t *ports, int max)
{
    if (!srv)
        return 0;
    for (int i = 0; ports && i < srv->n_dcs && i < max; i++)
        ports[i] = srv->dcs[i].port;
    return srv->n_dcs;
}

int mtp_server_dc_count(const mtp_server_t *srv)
{
    return srv ? srv->n_dcs : 0;
}

const char *mtp_server_host(const mtp_server_t *srv)
{
    return srv ? srv->adv_host : NULL;
}

int64_t mtp_server_fingerprint(const mtp_server_t *srv)
{
    return srv ? srv->fingerprint : 0;
}

const char *mtp_server_public_pem(const mtp_server_t *srv)
{
    return srv ? srv->pub_pem : NULL;
}

int mtp_server_ready_json(const mtp_server_t *srv, char *buf, size_t size)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    mtp_buf_printf(&b, "{\"event\":\"ready\",\"dcs\":[");
    for (int i = 0; i < srv->n_dcs; i++) {
        mtp_buf_printf(&b, "%s{\"id\":%d,\"host\":", i ? "," : "", srv->dcs[i].id);
        srv_json_cstr(&b, srv->adv_host);
        mtp_buf_printf(&b, ",\"port\":%u}", (unsigned)srv->dcs[i].port);
    }
    mtp_buf_printf(&b, "],\"rsa_fingerprint\":\"%" PRId64 "\",\"pid\":%ld}", srv->fingerprint,
                   (long)getpid());
    int n = b.err ? -1 : (int)b.len;
    if (n >= 0 && buf && size) {
        size_t k = (size_t)n < size - 1 ? (size_t)n : size - 1;
        memcpy(buf, b.data, k);
        buf[k] = 0;
    }
    mtp_buf_free(&b);
    return n;
}
