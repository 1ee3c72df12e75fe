/*
 * libmtproto client — the session store: the auth keys per DC, the home DC, the user, the
 * peer cache and the updates state as one versioned binary with a CRC; in a file (written
 * to a unique temporary file, fsync'd and renamed over the old one: atomic; mode 0600;
 * locked while a client uses it) and as an exported text (base64). A session is parsed
 * and validated whole before any of it replaces the live one.
 */
#define _GNU_SOURCE
#include "client_core.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <openssl/evp.h>

/* ------------------------------------------------------------------ session store */

#define SESS_MAGIC 0x5350544du   /* "MTPS" */
/* 1: header + DC keys; 2: the same followed by the peer cache (peers.c); 3: the same
 * followed by the updates state (updates.c: have_state, pts, qts, date, seq; 20 bytes).
 * 1 and 2 still load. */
#define SESS_VERSION 4u
#define SESS_MAX_BYTES (128u << 20)

static void put32(mtp_buf_t *b, uint32_t v)
{
    uint8_t p[4];
    mtp_put_le32(p, v);
    mtp_buf_append(b, p, 4);
}

static void put64(mtp_buf_t *b, uint64_t v)
{
    uint8_t p[8];
    mtp_put_le64(p, v);
    mtp_buf_append(b, p, 8);
}

#define get32 mtp_get_le32
#define get64 mtp_get_le64

static void session_serialize(const mtp_client_t *c, mtp_buf_t *b)
{
    uint32_t n = 0;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++)
        n += c->dc[i].has_key;
    put32(b, SESS_MAGIC);
    put32(b, SESS_VERSION);
    put32(b, (uint32_t)c->home);
    put64(b, (uint64_t)c->user_id);
    put32(b, n);
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        const mtp_dcstate_t *d = &c->dc[i];
        if (!d->has_key)
            continue;
        put32(b, (uint32_t)i | (d->authorized ? 0x100u : 0));
        mtp_buf_append(b, d->key.key, MTP_AUTH_KEY_LEN);
        put64(b, (uint64_t)d->salt);
        put64(b, (uint64_t)d->time_offset);
    }
    mtp_peers__serialize(c->peers, b);
    mtp_upd__serialize(c->upd, b);
    put32(b, (uint32_t)crc32(0, b->data, (uInt)b->len));
}

/* A parsed session, not applied yet: a rejected one changes nothing. */
typedef struct {
    int home;
    int64_t user_id;
    struct {
        bool has_key, authorized;
        mtp_auth_key_t key;
        int64_t salt;
        mtp_usec_t time_offset;
    } dc[MTP_CLIENT_MAX_DCS + 1];
    mtp_peers_t *peers;         /* NULL: version 1, none (the cache is emptied) */
    const uint8_t *upd;         /* the updates section (updsz bytes; 0: none) */
    size_t updsz;
} parsed_t;

static void parsed_wipe(parsed_t *t)
{
    mtp_peers__free(t->peers);
    mtp_secure_zero(t, sizeof *t);
}

/* Parse and validate all of p into t (nothing of c changes). */
static int session_parse(const mtp_client_t *c, const uint8_t *p, size_t n, parsed_t *t)
{
    memset(t, 0, sizeof *t);
    uint32_t ver = n >= 8 ? get32(p + 4) : 0;
    if (n < 28 || n > SESS_MAX_BYTES || get32(p) != SESS_MAGIC || ver < 1 || ver > SESS_VERSION)
        return MTP_EINVAL;
    if ((uint32_t)crc32(0, p, (uInt)(n - 4)) != get32(p + n - 4))
        return MTP_EINVAL;
    uint32_t cnt = get32(p + 16 + 4);
    size_t rec = 4 + MTP_AUTH_KEY_LEN + 16;
    if (cnt > MTP_CLIENT_MAX_DCS)
        return MTP_EINVAL;
    size_t end = 24 + cnt * rec;
    size_t updsz = mtp_upd__section_size(p, n - 4, ver);    /* 0: none (version < 3) */
    if (updsz == (size_t)-1 || (ver == 1 ? n != end + 4 : n < end + 8 + updsz))
        return MTP_EINVAL;
    t->home = (int)get32(p + 8);
    if (t->home < 1 || t->home > MTP_CLIENT_MAX_DCS)
        return MTP_EINVAL;
    t->user_id = (int64_t)get64(p + 12);
    const uint8_t *r = p + 24;
    for (uint32_t i = 0; i < cnt; i++, r += rec) {
        uint32_t id = get32(r);
        int dc = (int)(id & 0xff);
        if ((id & ~0x1ffu) || dc < 1 || dc > MTP_CLIENT_MAX_DCS || t->dc[dc].has_key ||
            mtp_auth_key_init(&t->dc[dc].key, r + 4))
            return MTP_EINVAL;
        t->dc[dc].has_key = true;
        t->dc[dc].authorized = (id & 0x100u) != 0;
        t->dc[dc].salt = (int64_t)get64(r + 4 + MTP_AUTH_KEY_LEN);
        t->dc[dc].time_offset = (mtp_usec_t)get64(r + 12 + MTP_AUTH_KEY_LEN);
    }
    if (ver >= 2 && mtp_peers__parse(c->peers, p + end, n - 4 - updsz - end, &t->peers))
        return MTP_EINVAL;
    t->upd = updsz ? p + n - 4 - updsz : NULL;
    t->updsz = updsz;
    return 0;
}

/* Swap a parsed session in (t is wiped). */
static void session_apply(mtp_client_t *c, parsed_t *t)
{
    c->home = t->home;
    c->user_id = t->user_id;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        mtp_dcstate_t *d = &c->dc[i];
        d->has_key = t->dc[i].has_key;
        d->authorized = t->dc[i].authorized;
        d->unconfirmed_404 = 0;
        if (d->has_key) {
            d->key = t->dc[i].key;
            d->salt = t->dc[i].salt;
            d->time_offset = t->dc[i].time_offset;
        }
    }
    if (t->peers) {
        mtp_peers__free(c->peers);
        c->peers = t->peers;
        t->peers = NULL;
    } else {
        mtp_peers__clear(c->peers);
    }
    if (t->updsz)
        mtp_upd__parse(c->upd, t->upd, t->updsz);
    else
        mtp_upd__reset(c->upd);     /* no state: updates_start calls getState */
    parsed_wipe(t);
}

/* Write all of p to fd. */
static bool write_all(int fd, const uint8_t *p, size_t n)
{
    size_t off = 0;     /* the peer cache can make it large: loop on short writes */
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    return true;
}

/* fsync the directory holding path (the rename is durable). */
static void sync_dir(const char *path)
{
    char dir[MTP_CLIENT_PATH_MAX + 2];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Write the session: a new file of a unique name next to the session file (mkostemp:
 * O_CREAT|O_EXCL, mode 0600; never a planted file or symlink), fsync'd, renamed over the
 * session file (a symlink there is replaced, not followed), then the directory fsync'd. */
int mtp_client_save(mtp_client_t *c)
{
    if (!c->session_path[0]) {
        mtp_upd__saved(c->upd, mtp_now_usec());   /* memory only: nothing to write */
        return 0;
    }
    mtp_buf_t b;
    mtp_buf_init(&b);
    session_serialize(c, &b);
    char tmp[MTP_CLIENT_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", c->session_path);
    int rc = MTP_EIO;
    mode_t old = umask(077);
    int fd = b.err ? -1 : mkostemp(tmp, O_CLOEXEC);
    umask(old);
    if (fd >= 0) {
        bool ok = fchmod(fd, 0600) == 0 && write_all(fd, b.data, b.len) && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && rename(tmp, c->session_path) == 0) {
            sync_dir(c->session_path);
            rc = 0;
        } else {
            unlink(tmp);
        }
    }
    if (!rc) {
        mtp_peers__saved(c->peers, mtp_now_usec());
        mtp_upd__saved(c->upd, mtp_now_usec());
    }
    if (b.data)
        memset(b.data, 0, b.len);
    mtp_buf_free(&b);
    return rc;
}

/* Lock "<session>.lock" (flock, exclusive) for the client's life: a second process (or a
 * second client) on the same session file is refused with MTP_EEXIST. */
static int session_lock(mtp_client_t *c)
{
    char lk[MTP_CLIENT_PATH_MAX + 8];
    snprintf(lk, sizeof lk, "%s.lock", c->session_path);
    int fd = open(lk, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return MTP_EIO;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        close(fd);
        return e == EWOULDBLOCK ? MTP_EEXIST : MTP_EIO;
    }
    c->lock_fd = fd;
    return 0;
}

void mtp_client__session_unlock(mtp_client_t *c)
{
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    c->lock_fd = -1;
}

int mtp_client__session_load(mtp_client_t *c)
{
    int rc = session_lock(c);
    if (rc)
        return rc;
    /* not through a symlink: one planted at the session path is refused */
    int fd = open(c->session_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : MTP_EIO;
    mtp_buf_t b;
    mtp_buf_init(&b);
    uint8_t chunk[8192];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) != 0 && b.len <= SESS_MAX_BYTES) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            b.err = MTP_EIO;
            break;
        }
        mtp_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    parsed_t t;
    rc = b.err ? b.err : session_parse(c, b.data, b.len, &t);
    if (!rc)
        session_apply(c, &t);
    else if (!b.err)
        parsed_wipe(&t);
    memset(chunk, 0, sizeof chunk);
    if (b.data)
        memset(b.data, 0, b.len);
    mtp_buf_free(&b);
    return rc;
}

char *mtp_client_session_export(mtp_client_t *c)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    session_serialize(c, &b);
    char *out = b.err ? NULL : malloc(4 * (b.len / 3 + 1) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, b.data, (int)b.len);
    if (b.data)
        memset(b.data, 0, b.len);
    mtp_buf_free(&b);
    return out;
}

int mtp_client_session_import(mtp_client_t *c, const char *text)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    if (!n || n % 4 || n / 4 * 3 > SESS_MAX_BYTES + 3)
        return MTP_EINVAL;
    uint8_t *buf = malloc(n);
    if (!buf)
        return MTP_ENOMEM;
    int len = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)n);
    int rc = MTP_EINVAL;
    if (len > 0) {
        if (n >= 1 && text[n - 1] == '=')
            len--;
        if (n >= 2 && text[n - 2] == '=')
            len--;
        parsed_t t;
        rc = session_parse(c, buf, (size_t)len, &t);
        if (!rc)
            session_apply(c, &t);
        else
            parsed_wipe(&t);
    }
    memset(buf, 0, n);
    free(buf);
    if (!rc)
        rc = mtp_client_save(c);
    return rc;
}

