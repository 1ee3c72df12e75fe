/*
 * libmtproto client — the session store: the auth keys per DC, the home DC, the user, the
 * peer cache and the updates state as one versioned binary with a CRC; in a file (written
 * to a temporary file, fsync'd and renamed over the old one: atomic; mode 0600) and as an
 * exported text (base64).
 */
#define _GNU_SOURCE
#include "client_core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    mtp_buf_append(b, p, 4);
}

static void put64(mtp_buf_t *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

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

static int session_parse(mtp_client_t *c, const uint8_t *p, size_t n)
{
    uint32_t ver = n >= 8 ? get32(p + 4) : 0;
    if (n < 28 || n > SESS_MAX_BYTES || get32(p) != SESS_MAGIC || ver < 1 || ver > SESS_VERSION)
        return MTP_EINVAL;
    if ((uint32_t)crc32(0, p, (uInt)(n - 4)) != get32(p + n - 4))
        return MTP_EINVAL;
    uint32_t cnt = get32(p + 16 + 4);
    size_t rec = 4 + MTP_AUTH_KEY_LEN + 16, end = 24 + cnt * rec;
    size_t updsz = mtp_upd__section_size(p, n - 4, ver);    /* 0: none (version < 3) */
    if (updsz == (size_t)-1 || cnt > MTP_CLIENT_MAX_DCS ||
        (ver == 1 ? n != end + 4 : n < end + 8 + updsz))
        return MTP_EINVAL;
    int home = (int)get32(p + 8);
    if (home < 1 || home > MTP_CLIENT_MAX_DCS)
        return MTP_EINVAL;
    mtp_peers_t *peers = NULL;      /* version 1: none (the cache is emptied) */
    if (ver >= 2 && mtp_peers__parse(c->peers, p + end, n - 4 - updsz - end, &peers))
        return MTP_EINVAL;
    for (int i = 1; i <= MTP_CLIENT_MAX_DCS; i++) {
        c->dc[i].has_key = false;
        c->dc[i].authorized = false;
    }
    c->home = home;
    c->user_id = (int64_t)get64(p + 12);
    const uint8_t *r = p + 24;
    for (uint32_t i = 0; i < cnt; i++, r += rec) {
        uint32_t id = get32(r);
        int dc = (int)(id & 0xff);
        mtp_dcstate_t *d = dc >= 1 && dc <= MTP_CLIENT_MAX_DCS ? &c->dc[dc] : NULL;
        if (!d || mtp_auth_key_init(&d->key, r + 4)) {
            mtp_peers__free(peers);
            return MTP_EINVAL;
        }
        d->has_key = true;
        d->authorized = (id & 0x100u) != 0;
        d->salt = (int64_t)get64(r + 4 + MTP_AUTH_KEY_LEN);
        d->time_offset = (mtp_usec_t)get64(r + 12 + MTP_AUTH_KEY_LEN);
    }
    if (peers) {
        mtp_peers__free(c->peers);
        c->peers = peers;
    } else {
        mtp_peers__clear(c->peers);
    }
    if (updsz)
        mtp_upd__parse(c->upd, p + n - 4 - updsz, updsz);
    else
        mtp_upd__reset(c->upd);     /* no state: updates_start calls getState */
    return 0;
}

int mtp_client_save(mtp_client_t *c)
{
    if (!c->session_path[0]) {
        mtp_upd__saved(c->upd, mtp_now_usec());   /* memory only: nothing to write */
        return 0;
    }
    mtp_buf_t b;
    mtp_buf_init(&b);
    session_serialize(c, &b);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", c->session_path, (long)getpid());
    int rc = MTP_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        fchmod(fd, 0600);
        size_t off = 0;     /* the peer cache can make it large: loop on short writes */
        ssize_t w = 0;
        while (!b.err && off < b.len &&
               ((w = write(fd, b.data + off, b.len - off)) > 0 || (w < 0 && errno == EINTR)))
            off += w > 0 ? (size_t)w : 0;
        bool ok = !b.err && off == b.len && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && rename(tmp, c->session_path) == 0)
            rc = 0;
        else
            unlink(tmp);
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

int mtp_client__session_load(mtp_client_t *c)
{
    FILE *f = fopen(c->session_path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : MTP_EIO;
    mtp_buf_t b;
    mtp_buf_init(&b);
    uint8_t chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= SESS_MAX_BYTES)
        mtp_buf_append(&b, chunk, n);
    fclose(f);
    int rc = b.err ? b.err : session_parse(c, b.data, b.len);
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
        rc = session_parse(c, buf, (size_t)len);
    }
    memset(buf, 0, n);
    free(buf);
    if (!rc)
        rc = mtp_client_save(c);
    return rc;
}

