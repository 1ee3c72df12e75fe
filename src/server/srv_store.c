/*
 * libmtproto harness — the data: auth keys, accounts, message boxes, documents, uploads,
 * login codes, exported authorizations; and their persistence in --state DIR.
 *
 * State files (text, one record a line, strings as lowercase hex or "-" when empty;
 * each written atomically: temp file, fsync, rename, fsync of the directory; mode 0600):
 *   secret        32 random bytes (access hashes, file references)
 *   rsa.pem       the generated RSA key when none was given
 *   keys          K id dc user_id layer api_id salt key device system app lang
 *   users         U id dc bot registered phone access_hash pts next_msg_id first last
 *   messages      M owner id pts date out peer from random_id doc_id text
 *   documents     D id access_hash dc date size owner part_size n_parts file_ref mime name
 *   files/<id>    the bytes of a document (id as 16 hex digits)
 * Temporary auth keys, uploads in progress, login codes and sessions live in memory only.
 */
#include "server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UPLOAD_TTL      (3600 * MTP_USEC_PER_SEC)
#define EXPORT_TTL      (600 * MTP_USEC_PER_SEC)

/* ------------------------------------------------------------------------------------ */
/* accounts                                                                             */
/* ------------------------------------------------------------------------------------ */

bool srv_phone_norm(const uint8_t *p, size_t n, char out[24])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= '0' && c <= '9') {
            if (k >= 20)
                return false;
            out[k++] = (char)c;
        } else if (c == '+' && k == 0) {
            continue;
        } else if (c == ' ' || c == '-' || c == '(' || c == ')') {
            continue;
        } else {
            return false;
        }
    }
    out[k] = 0;
    return k > 0;
}

int srv_phone_dc(const srv_t *srv, const char *d, bool *registered)
{
    if (strlen(d) != 10 || strncmp(d, "99966", 5) != 0)
        return 0;
    int x = d[5] - '0';
    if (x < 1 || x > srv->n_dcs)
        return 0;
    if (registered)
        *registered = atoi(d + 6) < 9000;
    return x;
}

int64_t srv_access_hash(const srv_t *srv, int64_t id, uint32_t kind)
{
    uint8_t in[44], h[32];
    memcpy(in, srv->secret, 32);
    for (int i = 0; i < 8; i++)
        in[32 + i] = (uint8_t)((uint64_t)id >> (8 * i));
    for (int i = 0; i < 4; i++)
        in[40 + i] = (uint8_t)(kind >> (8 * i));
    mtp_sha256(in, sizeof in, h);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | h[i];
    return (int64_t)(v & 0x7fffffffffffffffULL);   /* non-negative (mtcute int53 quirk) */
}

static char *dupn(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    return s;
}

void srv_user_set_names(srv_user_t *u, const uint8_t *first, size_t fn, const uint8_t *last,
                        size_t ln)
{
    char *f = dupn(first, fn), *l = dupn(last, ln);
    if (!f || !l) {
        free(f);
        free(l);
        return;
    }
    free(u->first_name);
    free(u->last_name);
    u->first_name = f;
    u->last_name = l;
}

srv_user_t *srv_user_find(srv_t *srv, int64_t id)
{
    return srv_map_get(&srv->users, id);
}

static srv_user_t *user_new(srv_t *srv, int64_t id)
{
    srv_user_t *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->id = id;
    u->access_hash = srv_access_hash(srv, id, 1);
    if (srv_map_put(&srv->users, id, u)) {
        free(u);
        return NULL;
    }
    return u;
}

srv_user_t *srv_user_by_phone(srv_t *srv, const char *d)
{
    bool reg = false;
    int dc = srv_phone_dc(srv, d, &reg);
    if (!dc)
        return NULL;
    int64_t id = strtoll(d, NULL, 10);
    srv_user_t *u = srv_user_find(srv, id);
    if (u)
        return u;
    u = user_new(srv, id);
    if (!u)
        return NULL;
    u->dc = dc;
    u->registered = reg;
    snprintf(u->phone, sizeof u->phone, "%s", d);
    snprintf(u->username, sizeof u->username, "user%s", d);
    char first[16];
    snprintf(first, sizeof first, "User %d", dc);
    srv_user_set_names(u, (const uint8_t *)first, strlen(first), (const uint8_t *)d + 6, 4);
    if (reg)
        srv->dirty_users = true;
    return u;
}

srv_user_t *srv_bot_get(srv_t *srv, int64_t bot_id, bool create)
{
    srv_user_t *u = srv_user_find(srv, bot_id);
    if (u)
        return u->bot ? u : NULL;
    if (!create)
        return NULL;
    u = user_new(srv, bot_id);
    if (!u)
        return NULL;
    u->bot = true;
    u->registered = true;
    u->dc = srv->n_dcs >= 2 ? 2 : 1;
    snprintf(u->username, sizeof u->username, "bot%" PRId64 "_bot", bot_id);
    char first[32];
    snprintf(first, sizeof first, "Bot %" PRId64, bot_id);
    srv_user_set_names(u, (const uint8_t *)first, strlen(first), NULL, 0);
    srv->dirty_users = true;
    return u;
}

srv_user_t *srv_user_by_username(srv_t *srv, const uint8_t *name, size_t n)
{
    char buf[40];
    if (n == 0 || n >= sizeof buf)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = name[i];
        buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    buf[n] = 0;
    if (strncmp(buf, "user", 4) == 0) {
        srv_user_t *u = srv_user_by_phone(srv, buf + 4);
        return u && u->registered ? u : NULL;
    }
    size_t i = 0;
    srv_user_t *u;
    while (srv_map_next(&srv->users, &i, NULL, (void **)&u))
        if (u->registered && strcmp(u->username, buf) == 0)
            return u;
    return NULL;
}

void srv_user_set_password(srv_t *srv, srv_user_t *u, const char *password)
{
    srv_rand(srv, u->salt1, sizeof u->salt1);
    srv_rand(srv, u->salt2, sizeof u->salt2);
    mtp_srp_algo_t algo = { u->salt1, sizeof u->salt1, u->salt2, sizeof u->salt2, 3,
                            mtp_dh_known_prime(), 256 };
    if (mtp_srp_verifier(&algo, (const uint8_t *)password, strlen(password), u->verifier) == 0)
        u->has_password = true;
}

static void user_free(srv_t *srv, srv_user_t *u)
{
    for (size_t i = 0; i < u->n_msgs; i++)
        free(u->msgs[i].text);
    free(u->msgs);
    srv_map_free(&u->by_random);
    size_t i = 0;
    srv_upload_t *up;
    while (srv_map_next(&u->uploads, &i, NULL, (void **)&up))
        srv_upload_free(srv, up);
    srv_map_free(&u->uploads);
    free(u->first_name);
    free(u->last_name);
    mtp_secure_zero(u->verifier, sizeof u->verifier);
    free(u);
}

/* ---- messages ---- */

static srv_msg_t *msg_append(srv_user_t *u)
{
    if (u->n_msgs == u->cap_msgs) {
        size_t cap = u->cap_msgs ? u->cap_msgs * 2 : 16;
        srv_msg_t *m = realloc(u->msgs, cap * sizeof *m);
        if (!m)
            return NULL;
        u->msgs = m;
        u->cap_msgs = cap;
    }
    srv_msg_t *m = &u->msgs[u->n_msgs++];
    memset(m, 0, sizeof *m);
    return m;
}

/* ---- channels (memory only) ---- */

int srv_channel_new(srv_t *srv, int64_t creator, const uint8_t *title, size_t tlen, int32_t date,
                    srv_channel_t **out)
{
    *out = NULL;
    if (srv->channels.n >= SRV_MAX_CHANNELS)
        return MTP_EFULL;
    srv_channel_t *ch = calloc(1, sizeof *ch);
    if (!ch)
        return MTP_ENOMEM;
    ch->id = srv->last_channel_id ? srv->last_channel_id + 1 : 1000000001;
    ch->access_hash = srv_access_hash(srv, ch->id, 3);
    if (tlen >= sizeof ch->title)
        tlen = sizeof ch->title - 1;
    memcpy(ch->title, title, tlen);
    ch->date = date;
    ch->pts = 1;                /* Telegram's channels start at pts 1 */
    ch->members[ch->n_members++] = creator;
    if (srv_map_put(&srv->channels, ch->id, ch)) {
        free(ch);
        return MTP_ENOMEM;
    }
    srv->last_channel_id = ch->id;
    *out = ch;
    return 0;
}

srv_channel_t *srv_channel_find(srv_t *srv, int64_t id)
{
    return srv_map_get(&srv->channels, id);
}

bool srv_channel_member(const srv_channel_t *ch, int64_t uid)
{
    for (int i = 0; i < ch->n_members; i++)
        if (ch->members[i] == uid)
            return true;
    return false;
}

int srv_channel_join(srv_channel_t *ch, int64_t uid)
{
    if (srv_channel_member(ch, uid))
        return 0;
    if (ch->n_members == SRV_CHANNEL_MEMBERS)
        return MTP_EFULL;
    ch->members[ch->n_members++] = uid;
    return 0;
}

srv_msg_t *srv_channel_post(srv_channel_t *ch, int64_t from, const uint8_t *text, size_t tlen,
                            int64_t random_id, int32_t date)
{
    if (ch->n_msgs == ch->cap_msgs) {
        size_t cap = ch->cap_msgs ? ch->cap_msgs * 2 : 16;
        srv_msg_t *m = realloc(ch->msgs, cap * sizeof *m);
        if (!m)
            return NULL;
        ch->msgs = m;
        ch->cap_msgs = cap;
    }
    char *t = dupn(text, tlen);
    if (!t)
        return NULL;
    srv_msg_t *m = &ch->msgs[ch->n_msgs++];
    memset(m, 0, sizeof *m);
    m->id = ++ch->next_msg_id;
    m->pts = ++ch->pts;
    m->date = date;
    m->peer = ch->id;
    m->from = from;
    m->random_id = random_id;
    m->text = t;
    m->text_len = tlen;
    return m;
}

static void channel_free(srv_channel_t *ch)
{
    for (size_t i = 0; i < ch->n_msgs; i++)
        free(ch->msgs[i].text);
    free(ch->msgs);
    free(ch);
}

srv_msg_t *srv_msg_add(srv_t *srv, srv_user_t *u, int64_t peer, int64_t from, bool out,
                       const uint8_t *text, size_t tlen, int64_t random_id, int64_t doc_id,
                       int32_t date)
{
    char *t = dupn(text, tlen);
    if (!t)
        return NULL;
    srv_msg_t *m = msg_append(u);
    if (!m) {
        free(t);
        return NULL;
    }
    m->id = ++u->next_msg_id;
    m->pts = ++u->pts;
    m->date = date;
    m->out = out;
    m->peer = peer;
    m->from = from;
    m->random_id = out ? random_id : 0;
    m->doc_id = doc_id;
    m->text = t;
    m->text_len = tlen;
    if (m->random_id)
        srv_map_put(&u->by_random, m->random_id, (void *)(uintptr_t)u->n_msgs);
    srv->dirty_msgs = true;
    srv->dirty_users = true;
    return m;
}

srv_msg_t *srv_msg_by_random(srv_user_t *u, int64_t random_id)
{
    uintptr_t i = (uintptr_t)srv_map_get(&u->by_random, random_id);
    return i && i <= u->n_msgs ? &u->msgs[i - 1] : NULL;
}

/* ------------------------------------------------------------------------------------ */
/* login codes, exported authorizations                                                 */
/* ------------------------------------------------------------------------------------ */

srv_code_t *srv_code_find(srv_t *srv, const char *phone)
{
    for (size_t i = 0; i < srv->n_codes; i++)
        if (strcmp(srv->codes[i].phone, phone) == 0)
            return &srv->codes[i];
    return NULL;
}

srv_code_t *srv_code_new(srv_t *srv, const char *phone)
{
    srv_code_t *c = srv_code_find(srv, phone);
    if (!c) {
        if (srv->n_codes == srv->cap_codes) {
            size_t cap = srv->cap_codes ? srv->cap_codes * 2 : 16;
            if (cap > 65536)
                return NULL;
            srv_code_t *v = realloc(srv->codes, cap * sizeof *v);
            if (!v)
                return NULL;
            srv->codes = v;
            srv->cap_codes = cap;
        }
        c = &srv->codes[srv->n_codes++];
        memset(c, 0, sizeof *c);
        snprintf(c->phone, sizeof c->phone, "%s", phone);
    }
    uint8_t r[8];
    srv_rand(srv, r, sizeof r);
    for (int i = 0; i < 8; i++)
        snprintf(c->hash + 2 * i, 3, "%02x", r[i]);
    c->expires = srv_now() + srv->cfg.code_ttl;
    return c;
}

void srv_code_del(srv_t *srv, srv_code_t *c)
{
    size_t i = (size_t)(c - srv->codes);
    srv->codes[i] = srv->codes[--srv->n_codes];
}

srv_export_t *srv_export_new(srv_t *srv)
{
    if (srv->n_exports == srv->cap_exports) {
        size_t cap = srv->cap_exports ? srv->cap_exports * 2 : 16;
        if (cap > 65536)
            return NULL;
        srv_export_t *v = realloc(srv->exports, cap * sizeof *v);
        if (!v)
            return NULL;
        srv->exports = v;
        srv->cap_exports = cap;
    }
    srv_export_t *e = &srv->exports[srv->n_exports++];
    memset(e, 0, sizeof *e);
    srv_rand(srv, e->bytes, sizeof e->bytes);
    e->expires = srv_now() + EXPORT_TTL;
    return e;
}

bool srv_export_take(srv_t *srv, const uint8_t *bytes, size_t n, srv_export_t *out)
{
    if (n != 32)
        return false;
    for (size_t i = 0; i < srv->n_exports; i++)
        if (mtp_ct_memeq(srv->exports[i].bytes, bytes, 32)) {
            *out = srv->exports[i];   /* single use: removed from the table */
            srv->exports[i] = srv->exports[--srv->n_exports];
            return true;
        }
    return false;
}

/* ------------------------------------------------------------------------------------ */
/* uploads and documents                                                                */
/* ------------------------------------------------------------------------------------ */

srv_upload_t *srv_upload_get(srv_t *srv, int64_t owner, int64_t file_id, bool create)
{
    srv_user_t *u = srv_user_find(srv, owner);
    if (!u)
        return NULL;
    srv_upload_t *up = srv_map_get(&u->uploads, file_id);
    if (up || !create)
        return up;
    up = calloc(1, sizeof *up);
    if (!up)
        return NULL;
    up->owner = owner;
    up->file_id = file_id;
    if (srv_map_put(&u->uploads, file_id, up)) {
        free(up);
        return NULL;
    }
    return up;
}

static void upload_release(srv_t *srv, srv_upload_t *up)
{
    for (uint32_t i = 0; i < up->cap; i++)
        free(up->parts[i]);
    free(up->parts);
    free(up->part_len);
    srv->upload_bytes -= up->bytes;
    free(up);
}

void srv_upload_free(srv_t *srv, srv_upload_t *up)
{
    srv_user_t *u = srv_user_find(srv, up->owner);
    if (u && srv_map_get(&u->uploads, up->file_id) == up)
        srv_map_del(&u->uploads, up->file_id);
    upload_release(srv, up);
}

srv_doc_t *srv_doc_find(srv_t *srv, int64_t id)
{
    return srv_map_get(&srv->docs, id);
}

static void doc_free(srv_doc_t *d)
{
    if (d->parts)
        for (uint32_t i = 0; i < d->n_parts; i++)
            free(d->parts[i]);
    free(d->parts);
    free(d->part_len);
    free(d->mime);
    free(d->name);
    free(d->path);
    free(d);
}

static char *doc_path(const srv_t *srv, int64_t id)
{
    size_t n = strlen(srv->state_dir) + 40;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/files/%016" PRIx64, srv->state_dir, (uint64_t)id);
    return p;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return MTP_EIO;
    int rc = fsync(fd) ? MTP_EIO : 0;
    close(fd);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return MTP_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Atomically replace path with the parts (temp file, fsync, rename, fsync dir). */
static int write_atomic(const char *dir, const char *path, const mtp_bytes_t *parts, size_t n)
{
    size_t tl = strlen(path) + 8;
    char *tmp = malloc(tl);
    if (!tmp)
        return MTP_ENOMEM;
    snprintf(tmp, tl, "%s.tmp", path);
    /* a fresh file of ours: whatever lies at the temp name (a leftover, a planted symlink
     * or a file of other permissions) goes first, never followed nor reused */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? MTP_EIO : 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = write_all(fd, parts[i].ptr, parts[i].len);
    if (!rc && fsync(fd))
        rc = MTP_EIO;
    if (fd >= 0 && close(fd) && !rc)
        rc = MTP_EIO;
    if (!rc && rename(tmp, path))
        rc = MTP_EIO;
    if (rc)
        unlink(tmp);
    else
        rc = fsync_dir(dir);
    free(tmp);
    return rc;
}

srv_doc_t *srv_doc_from_upload(srv_t *srv, srv_upload_t *up, uint32_t np, int dc,
                               const uint8_t *name, size_t nlen, const uint8_t *mime,
                               size_t mlen)
{
    srv_doc_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    do
        d->id = srv_rand64(srv) & 0x7fffffffffffffffLL;
    while (!d->id || srv_doc_find(srv, d->id));
    d->access_hash = srv_access_hash(srv, d->id, 2);
    srv_rand(srv, d->file_ref, sizeof d->file_ref);
    d->dc = dc;
    d->date = srv_unixtime();
    d->owner = up->owner;
    d->name = dupn(name, nlen);
    d->mime = dupn(mime, mlen);
    if (np > up->cap)
        np = up->cap;
    d->n_parts = np;
    d->parts = up->parts;
    d->part_len = up->part_len;
    d->part_size = np ? up->part_len[0] : 0;
    for (uint32_t i = 0; i < np; i++)
        d->size += up->part_len[i];
    /* extra slots beyond np (never filled, checked by the caller) */
    for (uint32_t i = np; i < up->cap; i++)
        free(up->parts[i]);
    up->parts = NULL;
    up->part_len = NULL;
    up->cap = 0;
    srv->upload_bytes -= up->bytes;
    up->bytes = 0;
    srv_upload_free(srv, up);
    if (!d->name || !d->mime || srv_map_put(&srv->docs, d->id, d)) {
        doc_free(d);
        return NULL;
    }
    if (srv->state_dir) {
        /* move the data to disk */
        char *path = doc_path(srv, d->id);
        mtp_bytes_t *v = path ? malloc((np ? np : 1) * sizeof *v) : NULL;
        int rc = v ? 0 : MTP_ENOMEM;
        if (!rc) {
            for (uint32_t i = 0; i < np; i++)
                v[i] = (mtp_bytes_t){ d->parts[i], d->part_len[i] };
            size_t dl = strlen(srv->state_dir) + 8;
            char *dir = malloc(dl);
            rc = dir ? 0 : MTP_ENOMEM;
            if (dir) {
                snprintf(dir, dl, "%s/files", srv->state_dir);
                rc = write_atomic(dir, path, v, np);
                free(dir);
            }
        }
        free(v);
        if (!rc) {
            for (uint32_t i = 0; i < np; i++)
                free(d->parts[i]);
            free(d->parts);
            d->parts = NULL;
            d->path = path;
        } else {
            free(path);   /* keep it in memory */
        }
        srv->dirty_docs = true;
    }
    return d;
}

int srv_doc_read(srv_doc_t *d, int64_t off, size_t len, uint8_t *out)
{
    if (off < 0 || (uint64_t)off + len > (uint64_t)d->size)
        return MTP_ERANGE;
    if (d->path) {
        int fd = open(d->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return MTP_EIO;
        size_t got = 0;
        while (got < len) {
            ssize_t r = pread(fd, out + got, len - got, (off_t)(off + (int64_t)got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        close(fd);
        return got == len ? 0 : MTP_EIO;
    }
    if (!d->part_size)
        return len ? MTP_ERANGE : 0;
    uint32_t idx = (uint32_t)(off / d->part_size);
    size_t within = (size_t)(off % d->part_size);
    size_t done = 0;
    while (done < len && idx < d->n_parts) {
        size_t avail = d->part_len[idx] - within;
        size_t k = len - done < avail ? len - done : avail;
        memcpy(out + done, d->parts[idx] + within, k);
        done += k;
        within = 0;
        idx++;
    }
    return done == len ? 0 : MTP_ERANGE;
}

/* ------------------------------------------------------------------------------------ */
/* expiry                                                                               */
/* ------------------------------------------------------------------------------------ */

void srv_store_expire(srv_t *srv, mtp_usec_t now)
{
    for (size_t i = 0; i < srv->n_codes;)
        if (srv->codes[i].expires + 3600 * MTP_USEC_PER_SEC < now)
            srv->codes[i] = srv->codes[--srv->n_codes];
        else
            i++;
    for (size_t i = 0; i < srv->n_exports;)
        if (srv->exports[i].expires < now)
            srv->exports[i] = srv->exports[--srv->n_exports];
        else
            i++;
    size_t i = 0;
    srv_user_t *u;
    while (srv_map_next(&srv->users, &i, NULL, (void **)&u)) {
        size_t j = 0;
        srv_upload_t *up;
        int64_t fid;
        while (srv_map_next(&u->uploads, &j, &fid, (void **)&up))
            if (up->touched + UPLOAD_TTL < now) {
                srv_map_del(&u->uploads, fid);
                upload_release(srv, up);
            }
    }
    srv_keys_expire(srv, now);
}

/* ------------------------------------------------------------------------------------ */
/* persistence                                                                          */
/* ------------------------------------------------------------------------------------ */

static void put_hex(mtp_buf_t *b, const void *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    const uint8_t *s = p;
    mtp_buf_putc(b, ' ');
    if (!n) {
        mtp_buf_putc(b, '-');
        return;
    }
    if (mtp_buf_reserve(b, 2 * n))
        return;
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = (uint8_t)hx[s[i] >> 4];
        b->data[b->len++] = (uint8_t)hx[s[i] & 15];
    }
}

static void put_str(mtp_buf_t *b, const char *s)
{
    put_hex(b, s, s ? strlen(s) : 0);
}

static int save_file(srv_t *srv, const char *name, const mtp_buf_t *b)
{
    if (b->err)
        return b->err;
    size_t n = strlen(srv->state_dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path)
        return MTP_ENOMEM;
    snprintf(path, n, "%s/%s", srv->state_dir, name);
    mtp_bytes_t part = { b->data, b->len };
    int rc = write_atomic(srv->state_dir, path, &part, 1);
    free(path);
    return rc;
}

int srv_store_save(srv_t *srv, bool all)
{
    if (!srv->state_dir)
        return 0;
    int rc = 0;
    mtp_buf_t b;
    mtp_buf_init(&b);
    if (all || srv->dirty_keys) {
        size_t i = 0;
        srv_key_t *k;
        while (srv_map_next(&srv->keys, &i, NULL, (void **)&k)) {
            if (k->temp || k->destroyed)
                continue;
            mtp_buf_printf(&b, "K %" PRId64 " %d %" PRId64 " %d %d %" PRId64, k->id, k->dc,
                           k->user_id, k->layer, k->api_id, k->salt);
            put_hex(&b, k->key.key, sizeof k->key.key);
            put_str(&b, k->device_model);
            put_str(&b, k->system_version);
            put_str(&b, k->app_version);
            put_str(&b, k->lang_code);
            mtp_buf_putc(&b, '\n');
        }
        int r = save_file(srv, "keys", &b);
        if (b.data)
            mtp_secure_zero(b.data, b.cap);
        mtp_buf_clear(&b);
        if (r)
            rc = r;
        else
            srv->dirty_keys = false;
    }
    if (all || srv->dirty_users) {
        size_t i = 0;
        srv_user_t *u;
        while (srv_map_next(&srv->users, &i, NULL, (void **)&u)) {
            if (!u->registered)
                continue;
            mtp_buf_printf(&b, "U %" PRId64 " %d %d %d %s %" PRId64 " %d %d", u->id, u->dc,
                           u->bot, u->registered, u->phone[0] ? u->phone : "-",
                           u->access_hash, u->pts, u->next_msg_id);
            put_str(&b, u->first_name);
            put_str(&b, u->last_name);
            mtp_buf_putc(&b, '\n');
        }
        int r = save_file(srv, "users", &b);
        mtp_buf_clear(&b);
        if (r)
            rc = r;
        else
            srv->dirty_users = false;
    }
    if (all || srv->dirty_msgs) {
        size_t i = 0;
        srv_user_t *u;
        while (srv_map_next(&srv->users, &i, NULL, (void **)&u)) {
            for (size_t j = 0; j < u->n_msgs; j++) {
                const srv_msg_t *m = &u->msgs[j];
                mtp_buf_printf(&b, "M %" PRId64 " %d %d %d %d %" PRId64 " %" PRId64 " %" PRId64
                               " %" PRId64, u->id, m->id, m->pts, m->date, m->out, m->peer,
                               m->from, m->random_id, m->doc_id);
                put_hex(&b, m->text, m->text_len);
                mtp_buf_putc(&b, '\n');
            }
        }
        int r = save_file(srv, "messages", &b);
        mtp_buf_clear(&b);
        if (r)
            rc = r;
        else
            srv->dirty_msgs = false;
    }
    if (all || srv->dirty_docs) {
        size_t i = 0;
        srv_doc_t *d;
        while (srv_map_next(&srv->docs, &i, NULL, (void **)&d)) {
            if (!d->path)
                continue;   /* could not be written: not persistent */
            mtp_buf_printf(&b, "D %" PRId64 " %" PRId64 " %d %d %" PRId64 " %" PRId64 " %u %u",
                           d->id, d->access_hash, d->dc, d->date, d->size, d->owner,
                           d->part_size, d->n_parts);
            put_hex(&b, d->file_ref, sizeof d->file_ref);
            put_str(&b, d->mime);
            put_str(&b, d->name);
            mtp_buf_putc(&b, '\n');
        }
        int r = save_file(srv, "documents", &b);
        mtp_buf_clear(&b);
        if (r)
            rc = r;
        else
            srv->dirty_docs = false;
    }
    mtp_buf_free(&b);
    return rc;
}

/* ---- loading ---- */

static int unhex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode a hex token ("-" = empty) into a malloc'd buffer (NUL-terminated). */
static uint8_t *tok_hex(const char *t, size_t *n)
{
    size_t l = strlen(t);
    if (strcmp(t, "-") == 0)
        l = 0;
    if (l % 2)
        return NULL;
    uint8_t *o = malloc(l / 2 + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i < l / 2; i++) {
        int a = unhex_val(t[2 * i]), b = unhex_val(t[2 * i + 1]);
        if (a < 0 || b < 0) {
            free(o);
            return NULL;
        }
        o[i] = (uint8_t)(a << 4 | b);
    }
    o[l / 2] = 0;
    *n = l / 2;
    return o;
}

static char *read_text(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f)
        return NULL;
    mtp_buf_t b;
    mtp_buf_init(&b);
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        mtp_buf_append(&b, chunk, r);
    fclose(f);
    mtp_buf_putc(&b, 0);
    if (b.err) {
        mtp_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

#define MAX_TOK 16

/* Split a line into tokens (in place). */
static int split(char *line, char **tok)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t && n < MAX_TOK; t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    return n;
}

static void copy_tok_str(char *dst, size_t cap, const char *t)
{
    size_t n = 0;
    uint8_t *v = tok_hex(t, &n);
    dst[0] = 0;
    if (v) {
        snprintf(dst, cap, "%s", (const char *)v);
        free(v);
    }
}

static void load_keys(srv_t *srv, char *text)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *t[MAX_TOK];
        if (split(line, t) != 12 || strcmp(t[0], "K"))
            continue;
        size_t kl = 0;
        uint8_t *kb = tok_hex(t[7], &kl);
        mtp_auth_key_t ak;
        if (!kb || kl != 256 || mtp_auth_key_init(&ak, kb)) {
            free(kb);
            continue;
        }
        mtp_secure_zero(kb, kl);
        free(kb);
        if (ak.id64 != strtoll(t[1], NULL, 10))
            continue;
        srv_key_t *k = srv_key_add(srv, &ak, atoi(t[2]), false, 0, strtoll(t[6], NULL, 10));
        mtp_secure_zero(&ak, sizeof ak);
        if (!k)
            continue;
        k->user_id = strtoll(t[3], NULL, 10);
        k->layer = atoi(t[4]);
        k->api_id = atoi(t[5]);
        copy_tok_str(k->device_model, sizeof k->device_model, t[8]);
        copy_tok_str(k->system_version, sizeof k->system_version, t[9]);
        copy_tok_str(k->app_version, sizeof k->app_version, t[10]);
        copy_tok_str(k->lang_code, sizeof k->lang_code, t[11]);
    }
}

static void load_users(srv_t *srv, char *text)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *t[MAX_TOK];
        if (split(line, t) != 11 || strcmp(t[0], "U"))
            continue;
        int64_t id = strtoll(t[1], NULL, 10);
        if (srv_user_find(srv, id))
            continue;
        srv_user_t *u = user_new(srv, id);
        if (!u)
            continue;
        u->dc = atoi(t[2]);
        if (u->dc < 1 || u->dc > srv->n_dcs)
            u->dc = 1;
        u->bot = atoi(t[3]) != 0;
        u->registered = atoi(t[4]) != 0;
        if (strcmp(t[5], "-"))
            snprintf(u->phone, sizeof u->phone, "%s", t[5]);
        u->access_hash = strtoll(t[6], NULL, 10);
        u->pts = atoi(t[7]);
        u->next_msg_id = atoi(t[8]);
        if (u->bot)
            snprintf(u->username, sizeof u->username, "bot%" PRId64 "_bot", id);
        else
            snprintf(u->username, sizeof u->username, "user%s", u->phone);
        size_t fl = 0, ll = 0;
        uint8_t *f = tok_hex(t[9], &fl), *l = tok_hex(t[10], &ll);
        if (f && l)
            srv_user_set_names(u, f, fl, l, ll);
        free(f);
        free(l);
    }
}

static void load_messages(srv_t *srv, char *text)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *t[MAX_TOK];
        if (split(line, t) != 11 || strcmp(t[0], "M"))
            continue;
        srv_user_t *u = srv_user_find(srv, strtoll(t[1], NULL, 10));
        size_t tl = 0;
        uint8_t *txt = u ? tok_hex(t[10], &tl) : NULL;
        if (!txt)
            continue;
        srv_msg_t *m = msg_append(u);
        if (!m) {
            free(txt);
            continue;
        }
        m->id = atoi(t[2]);
        m->pts = atoi(t[3]);
        m->date = atoi(t[4]);
        m->out = atoi(t[5]) != 0;
        m->peer = strtoll(t[6], NULL, 10);
        m->from = strtoll(t[7], NULL, 10);
        m->random_id = strtoll(t[8], NULL, 10);
        m->doc_id = strtoll(t[9], NULL, 10);
        m->text = (char *)txt;
        m->text_len = tl;
        if (m->random_id)
            srv_map_put(&u->by_random, m->random_id, (void *)(uintptr_t)u->n_msgs);
        if (m->id > u->next_msg_id)
            u->next_msg_id = m->id;
        if (m->pts > u->pts)
            u->pts = m->pts;
    }
}

static void load_docs(srv_t *srv, char *text)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *t[MAX_TOK];
        if (split(line, t) != 12 || strcmp(t[0], "D"))
            continue;
        srv_doc_t *d = calloc(1, sizeof *d);
        if (!d)
            continue;
        d->id = strtoll(t[1], NULL, 10);
        d->access_hash = strtoll(t[2], NULL, 10);
        d->dc = atoi(t[3]);
        d->date = atoi(t[4]);
        d->size = strtoll(t[5], NULL, 10);
        d->owner = strtoll(t[6], NULL, 10);
        d->part_size = (uint32_t)strtoul(t[7], NULL, 10);
        d->n_parts = (uint32_t)strtoul(t[8], NULL, 10);
        size_t n = 0;
        uint8_t *ref = tok_hex(t[9], &n);
        if (ref && n == sizeof d->file_ref)
            memcpy(d->file_ref, ref, n);
        free(ref);
        d->mime = (char *)tok_hex(t[10], &n);
        d->name = (char *)tok_hex(t[11], &n);
        d->path = doc_path(srv, d->id);
        struct stat sb;
        if (!d->mime || !d->name || !d->path || stat(d->path, &sb) || sb.st_size != d->size ||
            srv_doc_find(srv, d->id) || srv_map_put(&srv->docs, d->id, d)) {
            doc_free(d);
            continue;
        }
    }
}

int srv_store_load(srv_t *srv)
{
    if (!srv->state_dir)
        return 0;
    char *t;
    if ((t = read_text(srv->state_dir, "keys"))) {
        load_keys(srv, t);
        mtp_secure_zero(t, strlen(t));
        free(t);
    }
    if ((t = read_text(srv->state_dir, "users"))) {
        load_users(srv, t);
        free(t);
    }
    if ((t = read_text(srv->state_dir, "messages"))) {
        load_messages(srv, t);
        free(t);
    }
    if ((t = read_text(srv->state_dir, "documents"))) {
        load_docs(srv, t);
        free(t);
    }
    srv->dirty_keys = srv->dirty_users = srv->dirty_msgs = srv->dirty_docs = false;
    return 0;
}

void srv_store_free(srv_t *srv)
{
    size_t i = 0;
    void *v;
    while (srv_map_next(&srv->keys, &i, NULL, &v)) {
        mtp_secure_zero(v, sizeof(srv_key_t));
        free(v);
    }
    srv_map_free(&srv->keys);
    for (size_t g = 0; g < srv->n_grave; g++) {
        mtp_secure_zero(srv->graveyard[g], sizeof(srv_key_t));
        free(srv->graveyard[g]);
    }
    free(srv->graveyard);
    free(srv->rates);
    i = 0;
    while (srv_map_next(&srv->users, &i, NULL, &v))
        user_free(srv, v);
    srv_map_free(&srv->users);
    i = 0;
    while (srv_map_next(&srv->docs, &i, NULL, &v))
        doc_free(v);
    srv_map_free(&srv->docs);
    i = 0;
    while (srv_map_next(&srv->channels, &i, NULL, &v))
        channel_free(v);
    srv_map_free(&srv->channels);
    free(srv->codes);
    if (srv->exports)
        mtp_secure_zero(srv->exports, srv->cap_exports * sizeof *srv->exports);
    free(srv->exports);
}
