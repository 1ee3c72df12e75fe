/*
 * The client against a hostile network and a hostile file system (issue 13): forged
 * unauthenticated transport signals change no lasting state (a relay on loopback between
 * the client and the harness rewrites the server's packets), a rejected session import
 * leaves the live session and its file alone, the session file is written through a
 * unique temporary (planted symlinks are not followed) and is locked while a client uses it.
 */
#define _GNU_SOURCE
#include <mtproto/client.h>
#include <mtproto/server.h>
#include <mtproto/tl_schema.h>
#include "testharness.h"
#include "testutil.h"
#include "../tools/cli_name.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <openssl/evp.h>

static tu_harness_t H;

/* ------------------------------------------------------------------ the relay */

enum {
    R_PASS,         /* forward everything */
    R_404_FIRST,    /* the first encrypted answer replaced with -404 (once) */
    R_404_AFTER,    /* -404 after the first encrypted answer on a connection (once) */
    R_429_FIRST,    /* the first encrypted answer replaced with -429 (once) */
    R_QUICKACK,     /* forged quick acks after every encrypted answer */
    R_CLOSE,        /* the connection closed after the first encrypted answer (once) */
    R_404_TWICE,    /* the first encrypted answer of two connections in a row -> -404 */
};

typedef struct {
    int cfd, sfd;               /* client side, server side */
    uint8_t sbuf[1 << 17];      /* server -> client bytes not yet forwarded (framing) */
    size_t slen;
    int enc_seen;               /* encrypted answers forwarded on this connection */
    bool open;
    /* obfuscated2 without a secret protects nothing: from the client's 64-byte init the
     * relay derives the keys of the server's stream, reads it and writes its own */
    uint8_t init[64];
    size_t init_len;
    EVP_CIPHER_CTX *dec, *enc;
} pair_t;

static int relay_lfd;
static uint16_t relay_port, relay_target;
static atomic_int relay_mode, relay_fires, relay_stop, relay_obf;
static pthread_t relay_thr;

static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* To the client: through the relay's own obfuscation when the connection has one. */
static int out(pair_t *p, const uint8_t *d, size_t n)
{
    if (!p->enc)
        return send_all(p->cfd, d, n);
    uint8_t buf[4096];
    while (n) {
        int k = n < sizeof buf ? (int)n : (int)sizeof buf, ol = 0;
        if (!EVP_EncryptUpdate(p->enc, buf, &ol, d, k) || send_all(p->cfd, buf, (size_t)ol))
            return -1;
        d += k;
        n -= (size_t)k;
    }
    return 0;
}

static void put_err(pair_t *p, int32_t code)
{
    uint8_t f[8] = { 4, 0, 0, 0 };
    uint32_t v = (uint32_t)code;
    for (int i = 0; i < 4; i++)
        f[4 + i] = (uint8_t)(v >> (8 * i));
    out(p, f, 8);
}

/* The client's first bytes: its obfuscated2 init; the server's stream key is reverse(init[8:56]). */
static void client_bytes(pair_t *p, const uint8_t *d, size_t n)
{
    if (!atomic_load(&relay_obf) || p->init_len == 64)
        return;
    size_t k = n < 64 - p->init_len ? n : 64 - p->init_len;
    memcpy(p->init + p->init_len, d, k);
    p->init_len += k;
    if (p->init_len < 64)
        return;
    uint8_t rev[48];
    for (int i = 0; i < 48; i++)
        rev[i] = p->init[55 - i];
    p->dec = EVP_CIPHER_CTX_new();
    p->enc = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(p->dec, EVP_aes_256_ctr(), NULL, rev, rev + 32);
    EVP_EncryptInit_ex(p->enc, EVP_aes_256_ctr(), NULL, rev, rev + 32);
}

/* Forward the complete intermediate frames of the server's stream, rewriting per mode. */
static void relay_frames(pair_t *p)
{
    size_t off = 0;
    while (p->open && p->slen - off >= 4) {
        const uint8_t *f = p->sbuf + off;
        uint32_t w = (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 |
                     (uint32_t)f[3] << 24;
        size_t flen = w & 0x80000000u ? 4 : 4 + (size_t)w;
        if (p->slen - off < flen)
            break;
        static const uint8_t zero8[8];
        bool enc = flen >= 12 && memcmp(f + 4, zero8, 8) != 0;
        int mode = atomic_load(&relay_mode);
        bool fire = enc && atomic_load(&relay_fires) > 0;
        if (fire && (mode == R_404_FIRST || mode == R_429_FIRST || mode == R_404_TWICE) &&
            p->enc_seen == 0) {
            atomic_fetch_sub(&relay_fires, 1);
            put_err(p, mode == R_429_FIRST ? -429 : -404);
            p->enc_seen++;
        } else {
            if (out(p, f, flen))
                p->open = false;
            if (enc && fire && p->enc_seen == 0 && mode == R_404_AFTER) {
                atomic_fetch_sub(&relay_fires, 1);
                put_err(p, -404);
            } else if (enc && fire && mode == R_QUICKACK) {
                uint8_t qa[4] = { 0x11, 0x22, 0x33, 0x80 | (uint8_t)p->enc_seen };
                out(p, qa, 4);
            } else if (enc && fire && p->enc_seen == 0 && mode == R_CLOSE) {
                atomic_fetch_sub(&relay_fires, 1);
                p->open = false;
            }
            p->enc_seen += enc;
        }
        off += flen;
    }
    memmove(p->sbuf, p->sbuf + off, p->slen - off);
    p->slen -= off;
    if (p->slen == sizeof p->sbuf)
        p->open = false;
}

static void *relay_main(void *arg)
{
    (void)arg;
    pair_t *pairs[16] = { 0 };
    while (!atomic_load(&relay_stop)) {
        struct pollfd pf[33];
        int n = 0;
        pf[n++] = (struct pollfd){ .fd = relay_lfd, .events = POLLIN };
        for (int i = 0; i < 16; i++)
            if (pairs[i]) {
                pf[n++] = (struct pollfd){ .fd = pairs[i]->cfd, .events = POLLIN };
                pf[n++] = (struct pollfd){ .fd = pairs[i]->sfd, .events = POLLIN };
            }
        if (poll(pf, (nfds_t)n, 50) <= 0)
            continue;
        if (pf[0].revents & POLLIN) {
            int cfd = accept(relay_lfd, NULL, NULL);
            int slot = -1;
            for (int i = 0; i < 16 && slot < 0; i++)
                if (!pairs[i])
                    slot = i;
            struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(relay_target) };
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int sfd = socket(AF_INET, SOCK_STREAM, 0);
            if (cfd >= 0 && slot >= 0 && sfd >= 0 &&
                connect(sfd, (struct sockaddr *)&sa, sizeof sa) == 0) {
                pairs[slot] = calloc(1, sizeof(pair_t));
                pairs[slot]->cfd = cfd;
                pairs[slot]->sfd = sfd;
                pairs[slot]->open = true;
            } else {
                if (cfd >= 0)
                    close(cfd);
                if (sfd >= 0)
                    close(sfd);
            }
        }
        for (int i = 0; i < 16; i++) {
            pair_t *p = pairs[i];
            if (!p)
                continue;
            uint8_t buf[65536];
            ssize_t r = recv(p->cfd, buf, sizeof buf, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                p->open = false;
            else if (r > 0) {
                client_bytes(p, buf, (size_t)r);
                if (send_all(p->sfd, buf, (size_t)r))
                    p->open = false;
            }
            size_t room = sizeof p->sbuf - p->slen;
            r = recv(p->sfd, p->sbuf + p->slen, room, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                p->open = false;
            else if (r > 0) {
                int ol = 0;
                if (atomic_load(&relay_obf) && (!p->dec ||
                    !EVP_DecryptUpdate(p->dec, p->sbuf + p->slen, &ol, p->sbuf + p->slen, (int)r)))
                    p->open = false;
                p->slen += (size_t)r;
            }
            relay_frames(p);
            if (!p->open) {
                close(p->cfd);
                close(p->sfd);
                EVP_CIPHER_CTX_free(p->dec);
                EVP_CIPHER_CTX_free(p->enc);
                free(p);
                pairs[i] = NULL;
            }
        }
    }
    for (int i = 0; i < 16; i++)
        if (pairs[i]) {
            close(pairs[i]->cfd);
            close(pairs[i]->sfd);
            EVP_CIPHER_CTX_free(pairs[i]->dec);
            EVP_CIPHER_CTX_free(pairs[i]->enc);
            free(pairs[i]);
        }
    return NULL;
}

static int relay_start(uint16_t target)
{
    relay_target = target;
    relay_lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (relay_lfd < 0 || bind(relay_lfd, (struct sockaddr *)&sa, sizeof sa) ||
        listen(relay_lfd, 16) || getsockname(relay_lfd, (struct sockaddr *)&sa, &sl))
        return -1;
    relay_port = ntohs(sa.sin_port);
    return pthread_create(&relay_thr, NULL, relay_main, NULL) ? -1 : 0;
}

static void relay_stop_all(void)
{
    atomic_store(&relay_stop, 1);
    pthread_join(relay_thr, NULL);
    close(relay_lfd);
}

/* ------------------------------------------------------------------ helpers */

static mtp_client_t *mk(const char *session, bool via_relay, int *err)
{
    mtp_client_config_t cfg;
    tu_harness_client_config(&H, &cfg);
    cfg.first_dc = 1;
    cfg.session_path = session;
    cfg.transport = MTP_TRANSPORT_INTERMEDIATE;
    cfg.obfuscated = atomic_load(&relay_obf) != 0;
    cfg.backoff_base = 20000;
    cfg.backoff_cap = 200000;
    if (via_relay)
        cfg.dcs[1].port = relay_port;       /* DC 2, the home DC */
    mtp_client_t *c = NULL;
    int rc = mtp_client_new(&cfg, &c);
    if (err)
        *err = rc;
    else if (rc)
        tap_bail("mtp_client_new: %d", rc);
    return rc ? NULL : c;
}

static int64_t self_id(mtp_client_t *c)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
    g->id.n = 1;
    g->id.v = mtp_arena_alloc(a, sizeof(mtp_tl_object_t *));
    g->id.v[0] = (mtp_tl_object_t *)MTP_NEW(a, inputUserSelf);
    mtp_tl_object_t *o = NULL;
    mtp_call_error_t e;
    int64_t id = 0;
    const mtp_tl_vector_t *v = mtp_call_sync(c, &g->_, a, &o, &e) ? NULL : mtp_tl_as_vector(o);
    if (v && v->n == 1 && v->v.obj[0]->tl->id == MTP_ID_user)
        id = ((const mtp_user_t *)v->v.obj[0])->id;
    mtp_arena_free(a);
    return id;
}

static int nearest(mtp_client_t *c)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_object_t *o = NULL;
    mtp_call_error_t e;
    int rc = mtp_call_sync(c, (mtp_tl_object_t *)MTP_NEW(a, help_getNearestDc), a, &o, &e);
    mtp_arena_free(a);
    return rc;
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* The auth key of DC dc in a session file (the layout of client_store.c), 0 if found. */
static int file_key(const char *path, int dc, uint8_t key[256])
{
    static uint8_t b[1 << 20];
    size_t n = read_file(path, b, sizeof b);
    if (n < 28)
        return -1;
    uint32_t cnt = b[20] | (uint32_t)b[21] << 8;
    for (uint32_t i = 0; i < cnt && 24 + (i + 1) * 276 <= n; i++) {
        const uint8_t *r = b + 24 + i * 276;
        if ((r[0] & 0xff) == dc) {
            memcpy(key, r + 4, 256);
            return 0;
        }
    }
    return -1;
}

static bool same_bytes(const char *a, const char *b)
{
    static uint8_t x[1 << 20], y[1 << 20];
    size_t n = read_file(a, x, sizeof x), m = read_file(b, y, sizeof y);
    return n && n == m && !memcmp(x, y, n);
}

static void copy_file(const char *from, const char *to)
{
    static uint8_t x[1 << 20];
    size_t n = read_file(from, x, sizeof x);
    FILE *f = fopen(to, "wb");
    if (f) {
        fwrite(x, 1, n, f);
        fclose(f);
    }
}

/* base64 of a session blob, with its CRC fixed up (fix) or left as is. */
static char *b64(uint8_t *p, size_t n, bool fix)
{
    if (fix && n >= 4) {
        uint32_t crc = (uint32_t)crc32(0, p, (uInt)(n - 4));
        for (int i = 0; i < 4; i++)
            p[n - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    char *out = malloc(4 * (n / 3 + 1) + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

/* Rejected imports (each a session of the file, damaged) leave the live session and, after
 * a save, the file byte-identical. */
static void rejected_imports(const char *sess)
{
    static uint8_t blob[1 << 20], bad[1 << 20];
    size_t n = read_file(sess, blob, sizeof blob);
    char keep[400];
    snprintf(keep, sizeof keep, "%s.keep", sess);
    copy_file(sess, keep);
    mtp_client_t *c = mk(sess, false, NULL);
    char *before = mtp_client_session_export(c);
    struct {
        const char *what;
        int off;        /* byte to change (< 0: from the end), 0 none */
        uint8_t val;
        size_t cut;     /* bytes dropped at the end (before the CRC) */
        bool fix;       /* CRC recomputed */
    } cases[] = {
        { "bad CRC", -1, 0x5a, 0, false },
        { "bad version", 4, 99, 0, true },
        { "truncated", 0, 0, 9, true },
        { "bad DC in a key record", 24, 0x7f, 0, true },
        { "bad home DC", 8, 2, 0, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, blob, n);
        size_t m = n - cases[i].cut;
        if (cases[i].cut)
            memmove(bad + m - 4, blob + n - 4, 4);
        if (cases[i].off)
            bad[cases[i].off < 0 ? (int)m + cases[i].off : cases[i].off] ^= cases[i].val;
        char *t = b64(bad, m, cases[i].fix);
        int rc = mtp_client_session_import(c, t);
        free(t);
        char *after = mtp_client_session_export(c);
        OK(rc == MTP_EINVAL && before && after && !strcmp(before, after) &&
               mtp_client_user_id(c) == 9996621234LL && mtp_client_home_dc(c) == 2,
           "import rejected (%s): the live session unchanged (%d)", cases[i].what, rc);
        free(after);
        IS_INT(mtp_client_save(c), 0, "... saved");
        OK(same_bytes(sess, keep), "... the file byte-identical");
    }
    IS_INT(self_id(c), 9996621234LL, "after the rejected imports the client works");
    free(before);
    mtp_client_free(c);
}

/* A file planted at path (a symlink to victim) is not followed by a save. */
static void planted(const char *sess)
{
    char victim[400], link1[400], link2[400];
    snprintf(victim, sizeof victim, "%s/victim", H.dir);
    FILE *f = fopen(victim, "w");
    fputs("precious\n", f);
    fclose(f);
    /* the predictable temporary names of before: <session>.tmp<pid> */
    snprintf(link1, sizeof link1, "%s.tmp%ld", sess, (long)getpid());
    OK(symlink(victim, link1) == 0, "symlink planted at %s", strrchr(link1, '/') + 1);
    mtp_client_t *c = mk(sess, false, NULL);
    IS_INT(mtp_client_save(c), 0, "save");
    mtp_client_free(c);
    static uint8_t x[64];
    size_t n = read_file(victim, x, sizeof x);
    OK(n == 9 && !memcmp(x, "precious\n", 9), "the symlink's target is not overwritten");
    struct stat st;
    OK(lstat(link1, &st) == 0 && S_ISLNK(st.st_mode), "the planted symlink is left alone");
    OK(stat(sess, &st) == 0 && (st.st_mode & 0777) == 0600 && S_ISREG(st.st_mode),
       "the session file is a regular file, mode 0600");
    unlink(link1);
    /* a symlink at the session path itself: refused, its target untouched */
    snprintf(link2, sizeof link2, "%s/b.session", H.dir);
    OK(symlink(victim, link2) == 0, "symlink planted at the session path");
    int err = 0;
    c = mk(link2, false, &err);
    OK(!c && err == MTP_EIO, "a session path that is a symlink is refused (%d)", err);
    mtp_client_free(c);
    n = read_file(victim, x, sizeof x);
    OK(n == 9 && !memcmp(x, "precious\n", 9), "its target is not overwritten");
    unlink(link2);
    /* no temporary left beside the session file */
    char cmd[700], out[64] = "";
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '^a.session.[A-Za-z0-9]\\{6\\}$'", H.dir);
    FILE *pp = popen(cmd, "r");
    if (pp) {
        if (!fgets(out, sizeof out, pp))
            out[0] = 0;
        pclose(pp);
    }
    IS_INT(atoi(out), 0, "no temporary left beside the session file");
}

/* A second process opening the same session file is refused while the first lives. */
static void locked(const char *sess)
{
    mtp_client_t *c = mk(sess, false, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int err = 0;
        mtp_client_t *d = mk(sess, false, &err);
        mtp_client_free(d);
        _exit(err == MTP_EEXIST ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a second process on the session: MTP_EEXIST");
    int err = 0;
    mtp_client_t *d = mk(sess, false, &err);
    OK(!d && err == MTP_EEXIST, "a second client in the same process: MTP_EEXIST (%d)", err);
    mtp_client_free(d);
    mtp_client_free(c);
    pid = fork();
    if (pid == 0) {
        int e2 = 0;
        mtp_client_t *x = mk(sess, false, &e2);
        mtp_client_free(x);
        _exit(e2 == 0 ? 0 : 1);
    }
    waitpid(pid, &st, 0);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "once the first is freed, another process opens it");
}

/* ------------------------------------------------------------------ CLI download names */

/* Upload a small file and send it to self as a document named name (n bytes); its msg id. */
static int send_named(mtp_client_t *c, const char *path, const char *name, size_t n)
{
    mtp_upload_result_t up;
    mtp_call_error_t e;
    if (mtp_upload_file(c, path, NULL, NULL, &up, &e))
        return 0;
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_inputFile_t *f = MTP_NEW(a, inputFile);
    f->id = up.file_id;
    f->parts = up.parts;
    f->name = (mtp_bytes_t){ (const uint8_t *)"f.bin", 5 };
    f->md5_checksum = (mtp_bytes_t){ (const uint8_t *)up.md5, strlen(up.md5) };
    mtp_documentAttributeFilename_t *fa = MTP_NEW(a, documentAttributeFilename);
    fa->file_name = (mtp_bytes_t){ (const uint8_t *)name, n };
    mtp_inputMediaUploadedDocument_t *m = MTP_NEW(a, inputMediaUploadedDocument);
    m->file = &f->_;
    m->mime_type = (mtp_bytes_t){ (const uint8_t *)"application/octet-stream", 24 };
    m->attributes.n = 1;
    m->attributes.v = mtp_arena_alloc(a, sizeof(mtp_tl_object_t *));
    m->attributes.v[0] = &fa->_;
    mtp_messages_sendMedia_t *sm = MTP_NEW(a, messages_sendMedia);
    sm->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
    sm->media = &m->_;
    sm->random_id = (int64_t)up.file_id ^ 91;
    mtp_tl_object_t *o;
    int id = 0;
    if (!mtp_call_sync(c, &sm->_, a, &o, &e)) {
        mtp_messages_getHistory_t *g = MTP_NEW(a, messages_getHistory);
        g->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
        g->limit = 1;
        if (!mtp_call_sync(c, &g->_, a, &o, &e)) {
            const mtp_vec_obj_t *ms = o->tl->id == MTP_ID_messages_messages
                                          ? &((mtp_messages_messages_t *)o)->messages
                                          : &((mtp_messages_messagesSlice_t *)o)->messages;
            if (ms->n && ms->v[0]->tl->id == MTP_ID_message)
                id = ((const mtp_message_t *)ms->v[0])->id;
        }
    }
    mtp_arena_free(a);
    return id;
}

static int run_cli_in(const char *dir, const char *const *args)
{
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        dup2(nul, 2);
        if (chdir(dir))
            _exit(126);
        execv(args[0], (char *const *)args);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool has_content(const char *path, const char *want)
{
    static uint8_t x[256];
    size_t n = read_file(path, x, sizeof x);
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && n == strlen(want) &&
           !memcmp(x, want, n);
}

static void names_unit(void)
{
    char out[CLI_NAME_MAX + 1];
    struct {
        const char *in;
        size_t n;
        const char *want;
    } v[] = {
        { "report.pdf", 10, "report.pdf" },
        { ".bashrc", 7, "_bashrc" },
        { "..", 2, "_." },
        { "../../etc/passwd", 16, "_._.._etc_passwd" },
        { "a\0b.txt", 7, "a_b.txt" },
        { "x\n\x1b[1m\x7f", 7, "x__[1m_" },
        { "dir\\file", 8, "dir_file" },
        { "", 0, CLI_NAME_FALLBACK },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = cli_safe_name((const uint8_t *)v[i].in, v[i].n, out);
        OK(n == strlen(v[i].want) && !strcmp(out, v[i].want), "safe name %zu: \"%s\"", i, out);
    }
    uint8_t big[300];
    memset(big, 'a', sizeof big);
    IS_INT(cli_safe_name(big, sizeof big, out), CLI_NAME_MAX, "a long name is cut at %d bytes", CLI_NAME_MAX);
    for (size_t i = 0; i < sizeof big; i += 2) {
        big[i] = 0xc3;      /* é, two bytes: an odd cut would split one */
        big[i + 1] = 0xa9;
    }
    memmove(big + 1, big, sizeof big - 1);
    big[0] = 'x';
    size_t n = cli_safe_name(big, sizeof big, out);
    OK(n == CLI_NAME_MAX - 1 && (uint8_t)out[n - 1] == 0xa9, "... on a UTF-8 character boundary (%zu)", n);
}

static void cli_download(const char *cli)
{
    char sess[400], dir[400], src[400], p[600];
    snprintf(sess, sizeof sess, "%s/cli.session", H.dir);
    snprintf(dir, sizeof dir, "%s/dl", H.dir);
    snprintf(src, sizeof src, "%s/payload", H.dir);
    mkdir(dir, 0700);
    FILE *f = fopen(src, "w");
    fputs("payload\n", f);
    fclose(f);
    mtp_client_t *c = mk(sess, false, NULL);
    mtp_call_error_t e;
    OK(mtp_login_phone(c, "9996621234", "22222", NULL, NULL, &e) == 0, "CLI session logged in");
    static const struct { const char *name; size_t n; const char *local; } docs[] = {
        { ".bashrc", 7, "_bashrc" },
        { "../escape", 9, "_._escape" },
        { "x\n\x1b[1m.txt", 10, "x__[1m.txt" },
        { "plain.txt", 9, "plain.txt" },
    };
    int ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = send_named(c, src, docs[i].name, docs[i].n);
    mtp_client_free(c);
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", H.ports[0]);
    for (int i = 0; i < 4; i++) {
        char mid[24];
        snprintf(mid, sizeof mid, "%d", ids[i]);
        const char *a[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", sess,
                            "--api-id", "1", "--api-hash", "x", "download", "me", mid, NULL };
        int x = run_cli_in(dir, a);
        snprintf(p, sizeof p, "%s/%s", dir, docs[i].local);
        OK(ids[i] && x == 0 && has_content(p, "payload\n"), "cli download \"%s\" -> %s (%d)",
           i == 2 ? "x\\n\\e[1m.txt" : docs[i].name, docs[i].local, x);
    }
    snprintf(p, sizeof p, "%s/.bashrc", dir);
    OK(access(p, F_OK) != 0, "no dot-file created");
    snprintf(p, sizeof p, "%s/escape", H.dir);
    OK(access(p, F_OK) != 0, "nothing written outside the directory");
    /* (a NUL inside the name: the harness itself stores names as C strings, so it is
     * covered by names_unit above) */
    /* an existing file: refused, unless --force */
    char mid[24], target[600];
    snprintf(mid, sizeof mid, "%d", ids[3]);
    snprintf(p, sizeof p, "%s/plain.txt", dir);
    f = fopen(p, "w");
    fputs("mine\n", f);
    fclose(f);
    const char *a1[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", sess,
                         "--api-id", "1", "--api-hash", "x", "download", "me", mid, NULL };
    int x = run_cli_in(dir, a1);
    OK(x == 1 && has_content(p, "mine\n"), "an existing file is not overwritten (%d)", x);
    const char *a2[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", sess,
                         "--api-id", "1", "--api-hash", "x", "download", "me", mid, "--force",
                         NULL };
    x = run_cli_in(dir, a2);
    OK(x == 0 && has_content(p, "payload\n"), "--force overwrites it (%d)", x);
    /* a symlink at the name: never followed, not even with --force */
    snprintf(target, sizeof target, "%s/victim2", H.dir);
    f = fopen(target, "w");
    fputs("precious\n", f);
    fclose(f);
    unlink(p);
    OK(symlink(target, p) == 0, "symlink planted at plain.txt");
    x = run_cli_in(dir, a1);
    int y = run_cli_in(dir, a2);
    OK(x == 1 && y == 1 && has_content(target, "precious\n"),
       "a symlink is not followed, with or without --force (%d %d)", x, y);
}

/* One forged signal through the relay: the call still succeeds, the key in the file is
 * the one before, and straight to the harness the client is still logged in. */
static void forged(const char *sess, int mode, int fires, const char *what)
{
    uint8_t k0[256], k1[256];
    int have0 = file_key(sess, 2, k0);
    atomic_store(&relay_mode, mode);
    atomic_store(&relay_fires, fires);
    mtp_client_t *c = mk(sess, true, NULL);
    int rc = nearest(c);
    int rc2 = nearest(c);
    OK(rc == 0 && rc2 == 0 && atomic_load(&relay_fires) == (mode == R_QUICKACK ? fires : 0),
       "%s: the calls through the relay succeed (%d %d)", what, rc, rc2);
    IS_INT(mtp_client_user_id(c), 9996621234LL, "%s: still logged in", what);
    mtp_client_free(c);
    atomic_store(&relay_mode, R_PASS);
    OK(have0 == 0 && file_key(sess, 2, k1) == 0 && !memcmp(k0, k1, 256),
       "%s: the session file still holds the same key", what);
    c = mk(sess, false, NULL);
    IS_INT(self_id(c), 9996621234LL, "%s: straight to the harness, `me` works", what);
    mtp_client_free(c);
}

int main(int argc, char **argv)
{
    (void)argc;
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 3;
    if (tu_harness_start(&H, "test_client_hostile", &sc))
        tap_bail("harness did not start");
    if (relay_start(H.ports[1]))
        tap_bail("relay did not start");

    char sess[300];
    snprintf(sess, sizeof sess, "%s/a.session", H.dir);
    mtp_call_error_t e;
    mtp_client_t *c = mk(sess, false, NULL);
    int rc = mtp_login_phone(c, "9996621234", "22222", NULL, NULL, &e);
    IS_INT(rc, 0, "login (%s)", e.message);
    IS_INT(mtp_client_home_dc(c), 2, "home DC 2");
    mtp_client_free(c);

    rejected_imports(sess);     /* item 7 */
    planted(sess);              /* item 8 */
    locked(sess);               /* issue 14 */

    /* ---- 1: forged unauthenticated signals ---- */
    forged(sess, R_404_FIRST, 1, "-404 for the first encrypted answer");
    forged(sess, R_404_AFTER, 1, "-404 after an authenticated packet");
    forged(sess, R_429_FIRST, 1, "-429 for the first encrypted answer");
    forged(sess, R_QUICKACK, 1, "forged quick acks");
    forged(sess, R_CLOSE, 1, "the connection closed after an answer");
    /* the same under obfuscated2 (no proxy secret): the relay rewrites the stream too */
    atomic_store(&relay_obf, 1);
    forged(sess, R_PASS, 0, "obfuscated, untouched");
    forged(sess, R_404_FIRST, 1, "obfuscated: -404 for the first encrypted answer");
    forged(sess, R_404_AFTER, 1, "obfuscated: -404 after an authenticated packet");
    forged(sess, R_429_FIRST, 1, "obfuscated: -429 for the first encrypted answer");
    atomic_store(&relay_obf, 0);

    /* -404 confirmed by a second fresh connection: a new key, but the user is forgotten
     * only by the authenticated 401 AUTH_KEY_UNREGISTERED that follows */
    {
        uint8_t k0[256], k1[256];
        file_key(sess, 2, k0);
        atomic_store(&relay_mode, R_404_TWICE);
        atomic_store(&relay_fires, 2);
        c = mk(sess, true, NULL);
        rc = nearest(c);
        OK(rc == 0 && atomic_load(&relay_fires) == 0, "-404 twice in a row: the call succeeds on a new key (%d)", rc);
        OK(file_key(sess, 2, k1) == 0 && memcmp(k0, k1, 256) != 0, "... the new key is saved");
        OK(self_id(c) == 0 && mtp_client_user_id(c) == 0,
           "... on which the harness's authenticated 401 AUTH_KEY_UNREGISTERED logs out");
        mtp_client_free(c);
        atomic_store(&relay_mode, R_PASS);
    }

    names_unit();
    char cli[512];
    snprintf(cli, sizeof cli, "%s", argv[0]);
    char *slash = strrchr(cli, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(cli, '/');
    }
    if (slash)
        strcpy(slash, "/bin/mtproto-cli");
    char *abs = realpath(cli, NULL);      /* the CLI runs in another directory */
    if (abs) {
        snprintf(cli, sizeof cli, "%s", abs);
        free(abs);
    }
    if (access(cli, X_OK) != 0)
        tap_skip("mtproto-cli not built", 11);
    else
        cli_download(cli);

    relay_stop_all();
    tu_harness_stop(&H);
    return tap_done();
}
