/*
 * TDLib (Telegram's own client library, 1.8.67 from npm @prebuilt-tdlib/linux-x64-glibc
 * 0.1008067.0, installed by tests/interop/tdlib/install.sh) against the in-process harness.
 *
 * TDLib cannot be pointed at another server by configuration, so the test:
 *  - copies libtdjson.so into a temporary directory and replaces the RSA public keys embedded in
 *    it (PEM text) with the harness's key, written with the same byte length;
 *  - moves itself into a new network namespace with only loopback (unshare, root): whatever
 *    address TDLib dials, nothing but this process's sockets can answer;
 *  - gives TDLib a SOCKS5 proxy (addProxy) that reads the 64-byte obfuscated2 init of each
 *    connection, decrypts it, and forwards to the harness DC named by bytes 60-61.
 * It then drives TDLib through libtdjson's JSON interface: login with a phone on another DC
 * (PHONE_MIGRATE), getMe, sendMessage + getChatHistory, downloadFile of a 10 MiB document the
 * harness holds, and reads the harness's trace for its own view.
 * Skips loudly (counted in the skip summary) when TDLib is not installed or no namespace can be
 * made. MTP_TDLIB_KEEP=1 keeps the temporary directory (TDLib's log is td.log there).
 */
#define _GNU_SOURCE
#include "testharness.h"
#include "testutil.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <mtproto/client.h>
#include <mtproto/tl_schema.h>

#define N_CHECKS 29
#define TD_LIB "tests/interop/tdlib/node_modules/@prebuilt-tdlib/linux-x64-glibc/libtdjson.so"
#define PHONE "9996631234"   /* lives on DC 3; its code is 33333 */
#define CODE "33333"
#define FILE_MIB 12

static char g_dir[256];

/* ---------------------------------------------------------------- the key swap */

/* Rewrite pem (PKCS#1 PEM of a 2048-bit key) into exactly want bytes, by choosing where the
 * base64 body is broken into lines (OpenSSL's PEM reader accepts any line length up to 64+).
 * Returns 0, or -1 if no layout fits. */
static int pem_resize(const char *pem, size_t want, char *out)
{
    const char *hdr = "-----BEGIN RSA PUBLIC KEY-----", *ftr = "-----END RSA PUBLIC KEY-----";
    const char *b = strstr(pem, hdr), *e = strstr(pem, ftr);
    if (!b || !e)
        return -1;
    char body[1024];
    size_t n = 0;
    for (const char *p = b + strlen(hdr); p < e && n < sizeof body; p++)
        if (*p != '\n' && *p != '\r')
            body[n++] = *p;
    size_t fixed = strlen(hdr) + 1 + n + 1 + strlen(ftr);
    if (want < fixed)
        return -1;
    size_t breaks = want - fixed;             /* newlines inside the body */
    if (breaks == 0 || n / (breaks + 1) > 64)
        return -1;
    size_t line = (n + breaks) / (breaks + 1);
    size_t o = 0, lines = 0;
    o += (size_t)sprintf(out + o, "%s\n", hdr);
    for (size_t i = 0; i < n; i++) {
        out[o++] = body[i];
        if ((i + 1) % line == 0 && i + 1 < n && lines < breaks) {
            out[o++] = '\n';
            lines++;
        }
    }
    if (lines < breaks)
        return -1;
    o += (size_t)sprintf(out + o, "\n%s", ftr);
    return o == want ? 0 : -1;
}

/* Copy src to dst replacing every embedded "RSA PUBLIC KEY" PEM with pem. Returns the number
 * of keys replaced, -1 on error. */
static int patch_keys(const char *src, const char *dst, const char *pem)
{
    size_t len;
    uint8_t *d = tu_read_file(src, &len);
    if (!d)
        return -1;
    const char *hdr = "-----BEGIN RSA PUBLIC KEY-----", *ftr = "-----END RSA PUBLIC KEY-----";
    int replaced = 0;
    for (uint8_t *p = d; (p = memmem(p, len - (size_t)(p - d), hdr, strlen(hdr))) != NULL;) {
        uint8_t *q = memmem(p, len - (size_t)(p - d), ftr, strlen(ftr));
        if (!q || q - p > 800)
            break;
        size_t klen = (size_t)(q - p) + strlen(ftr);
        char out[900];
        if (pem_resize(pem, klen, out)) {
            tap_diag("cannot lay out our PEM in %zu bytes", klen);
            free(d);
            return -1;
        }
        memcpy(p, out, klen);
        replaced++;
        p += klen;
    }
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    bool ok = fd >= 0 && write(fd, d, len) == (ssize_t)len;
    if (fd >= 0 && close(fd))
        ok = false;
    free(d);
    return ok ? replaced : -1;
}

/* ---------------------------------------------------------------- the namespace */

static int enter_netns(char *why, size_t whylen)
{
    if (geteuid() != 0) {
        snprintf(why, whylen, "not root: cannot make a loopback-only network namespace (unshare -n)");
        return -1;
    }
    if (unshare(CLONE_NEWNET)) {
        snprintf(why, whylen, "unshare(CLONE_NEWNET) failed: %s", strerror(errno));
        return -1;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    int r = s < 0 ? -1 : ioctl(s, SIOCGIFFLAGS, &ifr);
    if (!r) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    if (s >= 0)
        close(s);
    if (r) {
        snprintf(why, whylen, "cannot bring up lo in the new namespace: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the SOCKS5 relay */

typedef struct relay {
    int lfd;
    uint16_t port;
    const tu_harness_t *h;
    atomic_int stop;
    atomic_int conns, by_dc[MTP_SERVER_MAX_DCS + 1], bad;
    pthread_t th;
} relay_t;

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 10000) <= 0)
            return -1;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* The DC id of an obfuscated2 init (bytes 60-61 after AES-256-CTR with key 8..39, iv 40..55). */
static int init_dc(const uint8_t init[64])
{
    uint8_t dec[64];
    int outl = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c || !EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, init + 8, init + 40) ||
        !EVP_EncryptUpdate(c, dec, &outl, init, 64)) {
        EVP_CIPHER_CTX_free(c);
        return 0;
    }
    EVP_CIPHER_CTX_free(c);
    int16_t dc = (int16_t)(dec[60] | dec[61] << 8);
    return dc;
}

typedef struct { relay_t *r; int fd; } link_arg_t;

static void *link_main(void *arg)
{
    link_arg_t a = *(link_arg_t *)arg;
    free(arg);
    int c = a.fd, s = -1;
    uint8_t b[65536];
    /* greeting: VER NMETHODS METHODS... -> VER 0 (no authentication) */
    if (read_full(c, b, 2) || b[0] != 5 || read_full(c, b + 2, b[1]) || write_full(c, "\x05\x00", 2))
        goto out;
    /* request: VER CMD RSV ATYP ADDR PORT */
    if (read_full(c, b, 4) || b[0] != 5 || b[1] != 1)
        goto out;
    size_t alen = b[3] == 1 ? 4 : b[3] == 4 ? 16 : 0;
    if (b[3] == 3) {
        if (read_full(c, b + 4, 1))
            goto out;
        alen = b[4];
    }
    if (!alen || read_full(c, b + 8, alen + 2))
        goto out;
    static const uint8_t ok_reply[10] = { 5, 0, 0, 1, 127, 0, 0, 1, 0, 0 };
    if (write_full(c, ok_reply, sizeof ok_reply))
        goto out;
    uint8_t init[64];
    if (read_full(c, init, 64))
        goto out;
    int dc = init_dc(init);
    int adc = dc < 0 ? -dc : dc;
    if (adc > 10000)
        adc -= 10000;
    if (adc < 1 || adc > a.r->h->n_dcs) {
        atomic_fetch_add(&a.r->bad, 1);
        tap_diag("relay: init names DC %d, not served", dc);
        goto out;
    }
    atomic_fetch_add(&a.r->by_dc[adc], 1);
    s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(a.r->h->ports[adc - 1]),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) || write_full(s, init, 64))
        goto out;
    while (!atomic_load(&a.r->stop)) {
        struct pollfd p[2] = { { c, POLLIN, 0 }, { s, POLLIN, 0 } };
        int n = poll(p, 2, 200);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        int from = (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? c : s;
        int to = from == c ? s : c;
        ssize_t r = read(from, b, sizeof b);
        if (r <= 0 || write_full(to, b, (size_t)r))
            break;
    }
out:
    close(c);
    if (s >= 0)
        close(s);
    return NULL;
}

static void *relay_main(void *arg)
{
    relay_t *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = { r->lfd, POLLIN, 0 };
        if (poll(&p, 1, 200) <= 0)
            continue;
        int c = accept(r->lfd, NULL, NULL);
        if (c < 0)
            continue;
        atomic_fetch_add(&r->conns, 1);
        link_arg_t *a = malloc(sizeof *a);
        pthread_t t;
        if (!a) {
            close(c);
            continue;
        }
        a->r = r;
        a->fd = c;
        if (pthread_create(&t, NULL, link_main, a)) {
            free(a);
            close(c);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static int relay_start(relay_t *r, const tu_harness_t *h)
{
    memset(r, 0, sizeof *r);
    r->h = h;
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(r->lfd, 64) ||
        getsockname(r->lfd, (struct sockaddr *)&sa, &sl))
        return -1;
    r->port = ntohs(sa.sin_port);
    return pthread_create(&r->th, NULL, relay_main, r) ? -1 : 0;
}

static void relay_stop(relay_t *r)
{
    atomic_store(&r->stop, 1);
    pthread_join(r->th, NULL);
    close(r->lfd);
}

/* ---------------------------------------------------------------- libtdjson */

static struct {
    void *(*create)(void);
    void (*send)(void *, const char *);
    const char *(*receive)(void *, double);
    const char *(*execute)(void *, const char *);
    void (*destroy)(void *);
    void *client;
    FILE *log;             /* every object received, one per line */
} td;

static int td_load(const char *path, char *why, size_t whylen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, whylen, "dlopen %s: %s", path, dlerror());
        return -1;
    }
    *(void **)&td.create = dlsym(h, "td_json_client_create");
    *(void **)&td.send = dlsym(h, "td_json_client_send");
    *(void **)&td.receive = dlsym(h, "td_json_client_receive");
    *(void **)&td.execute = dlsym(h, "td_json_client_execute");
    *(void **)&td.destroy = dlsym(h, "td_json_client_destroy");
    if (!td.create || !td.send || !td.receive || !td.execute || !td.destroy) {
        snprintf(why, whylen, "libtdjson.so lacks the td_json_client_* functions");
        return -1;
    }
    return 0;
}

static const char *jtype(const tj *v)
{
    return tj_str(tj_get(v, "@type"));
}

/* Receive until an object with @extra == extra arrives (extra NULL: until want_auth is the
 * authorization state), at most timeout seconds. Returns the object (caller frees) or NULL. */
static tj *td_wait(const char *extra, const char *want_auth, double timeout)
{
    double end = tu_now() + timeout;
    while (tu_now() < end) {
        const char *s = td.receive(td.client, 0.5);
        if (!s)
            continue;
        if (td.log)
            fprintf(td.log, "%s\n", s);
        tj *v = tj_parse(s, strlen(s));
        if (!v)
            continue;
        const char *t = jtype(v);
        if (t && !strcmp(t, "updateAuthorizationState")) {
            const tj *st = tj_get(v, "authorization_state");
            const char *stt = jtype(st);
            if (want_auth && stt && !strcmp(stt, want_auth))
                return v;
            if (stt && (!strcmp(stt, "authorizationStateClosed")))
                tap_diag("tdlib: %s", stt);
        }
        const char *ex = tj_str(tj_get(v, "@extra"));
        if (extra && ex && !strcmp(ex, extra))
            return v;
        tj_free(v);
    }
    return NULL;
}

/* Receive until an update of type want (or fail) arrives. */
static tj *td_wait_type(const char *want, const char *fail, double timeout)
{
    double end = tu_now() + timeout;
    while (tu_now() < end) {
        const char *s = td.receive(td.client, 0.5);
        if (!s)
            continue;
        if (td.log)
            fprintf(td.log, "%s\n", s);
        tj *v = tj_parse(s, strlen(s));
        const char *t = v ? jtype(v) : NULL;
        if (t && (!strcmp(t, want) || (fail && !strcmp(t, fail))))
            return v;
        tj_free(v);
    }
    return NULL;
}

/* Send a request (JSON with "@extra":"<tag>" appended by the caller) and wait for its answer. */
static tj *td_call(const char *json, const char *tag, double timeout)
{
    td.send(td.client, json);
    return td_wait(tag, NULL, timeout);
}

static bool is_type(const tj *v, const char *t)
{
    return v && jtype(v) && !strcmp(jtype(v), t);
}

static void diag_obj(const char *what, const tj *v)
{
    if (!v) {
        tap_diag("%s: no answer", what);
        return;
    }
    tap_diag("%s: %s %s", what, jtype(v) ? jtype(v) : "?",
             tj_str(tj_get(v, "message")) ? tj_str(tj_get(v, "message")) : "");
}

/* ---------------------------------------------------------------- the run */

typedef struct run {
    tu_harness_t h;
    relay_t relay;
    char trace[320], lib[320], tdlog[320], objlog[320], file[320], dbdir[320];
    uint8_t file_sha[32];
    int64_t me_id, chat_id;
} run_t;

static void sha256_file(const char *path, uint8_t out[32])
{
    size_t n;
    uint8_t *d = tu_read_file(path, &n);
    memset(out, 0, 32);
    if (d)
        SHA256(d, n, out);
    free(d);
}

/* The harness (5 DCs, traced), our key in TDLib's copy, the relay. */
static int setup(run_t *r)
{
    snprintf(r->trace, sizeof r->trace, "%s/trace.jsonl", g_dir);
    snprintf(r->lib, sizeof r->lib, "%s/libtdjson.so", g_dir);
    snprintf(r->tdlog, sizeof r->tdlog, "%s/td.log", g_dir);
    snprintf(r->objlog, sizeof r->objlog, "%s/objects.jsonl", g_dir);
    snprintf(r->file, sizeof r->file, "%s/big.bin", g_dir);
    snprintf(r->dbdir, sizeof r->dbdir, "%s/tddb", g_dir);
    mtp_server_config_t sc;
    mtp_server_config_init(&sc);
    sc.n_dcs = 5;
    sc.trace_path = r->trace;
    if (!OK(tu_harness_start(&r->h, "mtp-tdlib", &sc) == 0, "harness started (5 DCs)"))
        return -1;
    int n = patch_keys(TD_LIB, r->lib, mtp_server_public_pem(r->h.srv));
    if (!OK(n >= 1, "libtdjson.so copied with its %d embedded RSA keys replaced by the harness's", n))
        return -1;
    int rc = relay_start(&r->relay, &r->h);
    if (!OK(rc == 0, "SOCKS5 relay on 127.0.0.1:%u", r->relay.port))
        return -1;
    return 0;
}

/* A 10 MiB document in the phone's Saved Messages, uploaded by our own client. */
static int seed_file(run_t *r)
{
    FILE *f = fopen(r->file, "wb");
    if (!f)
        return -1;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < (size_t)FILE_MIB << 17; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fwrite(&x, 8, 1, f);
    }
    fclose(f);
    sha256_file(r->file, r->file_sha);
    mtp_client_config_t cfg;
    tu_harness_client_config(&r->h, &cfg);
    mtp_client_t *c = NULL;
    (void)mtp_client_new(&cfg, &c);
    mtp_call_error_t e;
    memset(&e, 0, sizeof e);
    int rc = c ? mtp_login_phone(c, PHONE, CODE, NULL, NULL, &e) : -1;
    mtp_upload_result_t up;
    if (!rc)
        rc = mtp_upload_file(c, r->file, NULL, NULL, &up, &e);
    mtp_arena_t *a = mtp_arena_new(0);
    if (!rc && !up.big)
        rc = MTP_EPROTO;
    if (!rc) {
        mtp_inputFileBig_t *fb = MTP_NEW(a, inputFileBig);
        fb->id = up.file_id;
        fb->parts = up.parts;
        fb->name = (mtp_bytes_t){ (const uint8_t *)"big.bin", 7 };
        mtp_inputMediaUploadedDocument_t *m = MTP_NEW(a, inputMediaUploadedDocument);
        m->file = &fb->_;
        m->mime_type = (mtp_bytes_t){ (const uint8_t *)"application/octet-stream", 24 };
        mtp_documentAttributeFilename_t *fn = MTP_NEW(a, documentAttributeFilename);
        fn->file_name = (mtp_bytes_t){ (const uint8_t *)"big.bin", 7 };
        mtp_tl_object_t **attrs = mtp_arena_alloc(a, sizeof *attrs);
        attrs[0] = &fn->_;
        m->attributes = (mtp_vec_obj_t){ 1, attrs };
        mtp_messages_sendMedia_t *sm = MTP_NEW(a, messages_sendMedia);
        sm->peer = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
        sm->media = &m->_;
        sm->random_id = 424242;
        mtp_tl_object_t *o;
        rc = mtp_call_sync(c, &sm->_, a, &o, &e);
    }
    if (rc)
        tap_diag("seeding: rc %d (%s), rpc error %d %s", rc, mtp_strerror(rc), e.code, e.message);
    mtp_arena_free(a);
    mtp_client_free(c);
    return rc;
}

/* setTdlibParameters, the proxy, then phone / code (/ registration) until Ready. */
static int td_login(run_t *r)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "{\"@type\":\"setLogStream\",\"log_stream\":{\"@type\":"
             "\"logStreamFile\",\"path\":\"%s\",\"max_file_size\":100000000}}", r->tdlog);
    td.execute(NULL, buf);
    td.execute(NULL, "{\"@type\":\"setLogVerbosityLevel\",\"new_verbosity_level\":4}");
    td.log = fopen(r->objlog, "w");
    td.client = td.create();
    snprintf(buf, sizeof buf, "{\"@type\":\"addProxy\",\"proxy\":{\"@type\":\"proxy\","
             "\"server\":\"127.0.0.1\",\"port\":%u,\"type\":{\"@type\":\"proxyTypeSocks5\","
             "\"username\":\"\",\"password\":\"\"}},\"enable\":true,\"@extra\":\"proxy\"}",
             r->relay.port);
    td.send(td.client, buf);
    tj *v = td_wait(NULL, "authorizationStateWaitTdlibParameters", 20);
    OK(v, "tdlib: authorizationStateWaitTdlibParameters");
    tj_free(v);
    snprintf(buf, sizeof buf, "{\"@type\":\"setTdlibParameters\",\"use_test_dc\":false,"
             "\"database_directory\":\"%s\",\"use_message_database\":true,"
             "\"use_secret_chats\":false,\"api_id\":94575,\"api_hash\":"
             "\"a3406de8d171bb422bb6ddf3bbd800e2\",\"system_language_code\":\"en\","
             "\"device_model\":\"libmtproto test\",\"application_version\":\"1.0\","
             "\"@extra\":\"params\"}", r->dbdir);
    td.send(td.client, buf);
    v = td_wait(NULL, "authorizationStateWaitPhoneNumber", 60);
    if (!OK(v, "tdlib: authorizationStateWaitPhoneNumber (connected, key made, config read)"))
        return -1;
    tj_free(v);
    td.send(td.client, "{\"@type\":\"setAuthenticationPhoneNumber\",\"phone_number\":\"" PHONE
             "\",\"@extra\":\"phone\"}");
    v = td_wait(NULL, "authorizationStateWaitCode", 60);
    if (!OK(v, "tdlib: authorizationStateWaitCode after setAuthenticationPhoneNumber"))
        return -1;
    tj_free(v);
    td.send(td.client, "{\"@type\":\"checkAuthenticationCode\",\"code\":\"" CODE
             "\",\"@extra\":\"code\"}");
    v = td_wait(NULL, "authorizationStateReady", 60);
    if (!OK(v, "tdlib: authorizationStateReady after checkAuthenticationCode"))
        return -1;
    tj_free(v);
    return 0;
}

/* getMe: the user of PHONE. */
static int td_me(run_t *r)
{
    tj *v = td_call("{\"@type\":\"getMe\",\"@extra\":\"me\"}", "me", 30);
    const char *phone = tj_str(tj_get(v, "phone_number"));
    r->me_id = tj_int(tj_get(v, "id"));
    int ok = OK(is_type(v, "user") && phone && !strcmp(phone, PHONE) && r->me_id > 0,
                "tdlib: getMe is the user of %s (id %lld)", PHONE, (long long)r->me_id);
    if (!ok)
        diag_obj("getMe", v);
    tj_free(v);
    return ok ? 0 : -1;
}

/* The text of a message object, or "". */
static const char *msg_text(const tj *m)
{
    const char *t = tj_str(tj_path(m, "content.text.text"));
    return t ? t : "";
}

/* sendMessage to Saved Messages, wait until the server confirmed it, read it back. */
static int td_send_and_history(run_t *r, const tj **doc_out, tj **hist_out)
{
    char buf[512];
    snprintf(buf, sizeof buf, "{\"@type\":\"createPrivateChat\",\"user_id\":%lld,\"force\":false,"
             "\"@extra\":\"chat\"}", (long long)r->me_id);
    tj *v = td_call(buf, "chat", 30);
    r->chat_id = tj_int(tj_get(v, "id"));
    OK(is_type(v, "chat") && r->chat_id, "tdlib: createPrivateChat with myself (Saved Messages)");
    tj_free(v);
    const char *text = "hello from TDLib to mtproto-harness";
    snprintf(buf, sizeof buf, "{\"@type\":\"sendMessage\",\"chat_id\":%lld,\"input_message_content\":"
             "{\"@type\":\"inputMessageText\",\"text\":{\"@type\":\"formattedText\",\"text\":\"%s\"}},"
             "\"@extra\":\"send\"}", (long long)r->chat_id, text);
    td.send(td.client, buf);
    /* the answer is the pending message; success is updateMessageSendSucceeded */
    v = td_wait_type("updateMessageSendSucceeded", "updateMessageSendFailed", 30);
    int ok = OK(is_type(v, "updateMessageSendSucceeded") &&
                !strcmp(msg_text(tj_get(v, "message")), text),
                "tdlib: sendMessage to Saved Messages confirmed by the server");
    if (!ok)
        diag_obj("send", v);
    tj_free(v);
    /* getChatHistory: TDLib may answer from its cache first; ask until the server's view
     * (our text and the seeded document) is there */
    tj *h = NULL;
    bool seen_text = false;
    *doc_out = NULL;
    for (int i = 0; i < 10 && !(seen_text && *doc_out); i++) {
        tj_free(h);
        snprintf(buf, sizeof buf, "{\"@type\":\"getChatHistory\",\"chat_id\":%lld,\"from_message_id\":0,"
                 "\"offset\":0,\"limit\":20,\"only_local\":false,\"@extra\":\"hist%d\"}",
                 (long long)r->chat_id, i);
        char tag[16];
        snprintf(tag, sizeof tag, "hist%d", i);
        h = td_call(buf, tag, 30);
        const tj *ms = tj_get(h, "messages");
        for (size_t k = 0; k < tj_len(ms); k++) {
            const tj *m = tj_at(ms, k);
            if (!strcmp(msg_text(m), text))
                seen_text = true;
            const char *ct = jtype(tj_get(m, "content"));
            if (ct && !strcmp(ct, "messageDocument"))
                *doc_out = tj_path(m, "content.document.document");
        }
        if (!(seen_text && *doc_out))
            usleep(300000);
    }
    OK(seen_text, "tdlib: getChatHistory has the message sent");
    OK(*doc_out, "tdlib: getChatHistory has the document our client sent before TDLib logged in");
    *hist_out = h;
    return seen_text ? 0 : -1;
}

/* downloadFile (synchronous) and compare the checksum with what our client uploaded. */
static void td_download(run_t *r, const tj *file)
{
    long long id = tj_int(tj_get(file, "id")), size = tj_int(tj_get(file, "size"));
    IS_INT(size, (long long)FILE_MIB << 20, "tdlib: the document's size is %d MiB", FILE_MIB);
    char buf[256];
    snprintf(buf, sizeof buf, "{\"@type\":\"downloadFile\",\"file_id\":%lld,\"priority\":1,"
             "\"offset\":0,\"limit\":0,\"synchronous\":true,\"@extra\":\"dl\"}", id);
    double t0 = tu_now();
    tj *v = td_call(buf, "dl", 120);
    double secs = tu_now() - t0;
    const char *path = tj_str(tj_path(v, "local.path"));
    const tj *done = tj_path(v, "local.is_downloading_completed");
    if (!OK(is_type(v, "file") && done && done->b && path && *path,
            "tdlib: downloadFile completed in %.2f s", secs))
        diag_obj("downloadFile", v);
    uint8_t sha[32] = { 0 };
    if (path)
        sha256_file(path, sha);
    tap_mem_eq(sha, r->file_sha, 32, "tdlib: the downloaded file's SHA-256 equals the uploaded one's");
    tj_free(v);
}

/* ---------------------------------------------------------------- the harness's view */

typedef struct tview {
    int obf_conns, obf_bad;             /* obfuscated transports; not intermediate / init_dc != dc */
    int obf_dc[MTP_SERVER_MAX_DCS + 1];
    int keys, keys_fp_bad, keys_dc_bad, temp_keys, binds_ok;
    int layer229, migrate_3, signin_3, get_file, sent_ok, errors, app_config, peer_dialogs,
        peer_dialogs_asked, input_errors;
    char conn_obf[4096];                /* conn id (< 4096) is one of TDLib's */
} tview_t;

static bool str_is(const tj *v, const char *s)
{
    return tj_str(v) && !strcmp(tj_str(v), s);
}

/* One trace line. Requests are remembered by msg_id (method name in *names) to judge answers. */
static void view_line(tview_t *tv, const tj *o, int64_t fp, char (*names)[48], int64_t *ids,
                      size_t *nids)
{
    int dc = (int)tj_int(tj_get(o, "dc")), conn = (int)tj_int(tj_get(o, "conn"));
    bool td_conn = conn > 0 && conn < 4096 && tv->conn_obf[conn];
    const char *ev = tj_str(tj_get(o, "event"));
    if (ev && !strcmp(ev, "transport") && tj_get(o, "obfuscated") && tj_get(o, "obfuscated")->b) {
        tv->obf_conns++;
        if (conn > 0 && conn < 4096)
            tv->conn_obf[conn] = 1;
        if (!str_is(tj_get(o, "transport"), "intermediate") || tj_int(tj_get(o, "init_dc")) != dc)
            tv->obf_bad++;
        else if (dc >= 1 && dc <= MTP_SERVER_MAX_DCS)
            tv->obf_dc[dc]++;
    } else if (ev && !strcmp(ev, "key") && td_conn) {
        tv->keys++;
        tv->keys_fp_bad += tj_int(tj_get(o, "rsa_fingerprint")) != fp;
        tv->keys_dc_bad += tj_int(tj_get(o, "inner_dc")) != dc;
        tv->temp_keys += tj_get(o, "temp") && tj_get(o, "temp")->b;
    } else if (ev && !strcmp(ev, "layer") && td_conn) {
        tv->layer229 += tj_int(tj_get(o, "layer")) == 229;
    } else if (ev && (!strcmp(ev, "transport_error") || !strcmp(ev, "violation"))) {
        tv->errors++;
    }
    if (!td_conn)
        return;
    const tj *body = tj_get(o, "body");
    const char *bt = tj_str(tj_get(body, "_"));
    if (!bt)
        return;
    if (str_is(tj_get(o, "dir"), "in") && *nids < 4096) {
        ids[*nids] = tj_int(tj_get(o, "msg_id"));
        snprintf(names[*nids], 48, "%d:%s", dc, bt);
        (*nids)++;
        tv->get_file += !strcmp(bt, "upload.getFile");
        tv->peer_dialogs_asked += !strcmp(bt, "messages.getPeerDialogs");
        return;
    }
    if (strcmp(bt, "rpc_result"))
        return;
    int64_t req = tj_int(tj_get(body, "req_msg_id"));
    const char *m = NULL;
    for (size_t i = *nids; i-- > 0;)
        if (ids[i] == req) {
            m = names[i];
            break;
        }
    const tj *res = tj_get(body, "result");
    const char *rt = tj_str(tj_get(res, "_"));
    const char *em = tj_str(tj_get(res, "error_message"));
    tv->input_errors += em && !strncmp(em, "INPUT_", 6);  /* a query the 228 schema cannot read */
    if (!m || !rt)
        return;
    if (!strcmp(m, "1:auth.sendCode") && str_is(tj_get(res, "error_message"), "PHONE_MIGRATE_3"))
        tv->migrate_3++;
    if (!strcmp(m, "3:auth.signIn") && !strcmp(rt, "auth.authorization"))
        tv->signin_3++;
    if (strstr(m, ":auth.bindTempAuthKey") && !strcmp(rt, "boolTrue"))
        tv->binds_ok++;
    if (strstr(m, ":messages.sendMessage") && strcmp(rt, "rpc_error"))
        tv->sent_ok++;
    if (strstr(m, ":help.getAppConfig") && strcmp(rt, "rpc_error"))
        tv->app_config++;
    if (strstr(m, ":messages.getPeerDialogs") && !strcmp(rt, "messages.peerDialogs"))
        tv->peer_dialogs++;
}

static void check_view(run_t *r, int64_t fp)
{
    static tview_t tv;
    static char names[4096][48];
    static int64_t ids[4096];
    size_t nids = 0;
    memset(&tv, 0, sizeof tv);
    FILE *f = fopen(r->trace, "r");
    if (!OK(f, "harness trace readable"))
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        tj *o = tj_parse(line, (size_t)n);
        if (o)
            view_line(&tv, o, fp, names, ids, &nids);
        tj_free(o);
    }
    free(line);
    fclose(f);
    OK(tv.obf_conns >= 2 && tv.obf_bad == 0 && tv.obf_dc[1] && tv.obf_dc[3],
       "trace: TDLib's %d connections are obfuscated intermediate with the DC id in the init "
       "(DC1 %d, DC3 %d), %d otherwise", tv.obf_conns, tv.obf_dc[1], tv.obf_dc[3], tv.obf_bad);
    OK(tv.keys >= 2 && !tv.keys_fp_bad && !tv.keys_dc_bad,
       "trace: TDLib made %d auth keys, all with our RSA key (%d other) and p_q_inner_data_dc "
       "naming the DC (%d not)", tv.keys, tv.keys_fp_bad, tv.keys_dc_bad);
    OK(tv.temp_keys == tv.binds_ok, "trace: temp keys %d, bound by auth.bindTempAuthKey %d",
       tv.temp_keys, tv.binds_ok);
    OK(tv.layer229 >= 2, "trace: TDLib's requests carry layer 229 (%d layer events; answered "
       "with the layer-228 schema)", tv.layer229);
    OK(tv.input_errors == 0, "trace: every layer-229 query decoded with the 228 schema "
       "(%d INPUT_METHOD_INVALID / INPUT_CONSTRUCTOR_INVALID / INPUT_FETCH_ERROR)", tv.input_errors);
    OK(tv.migrate_3 >= 1 && tv.signin_3 >= 1, "trace: auth.sendCode on DC 1 got PHONE_MIGRATE_3 "
       "(%d), auth.signIn on DC 3 succeeded (%d)", tv.migrate_3, tv.signin_3);
    OK(tv.sent_ok >= 1, "trace: messages.sendMessage answered (%d)", tv.sent_ok);
    OK(tv.app_config >= 1, "trace: help.getAppConfig answered (%d)", tv.app_config);
    /* TDLib asks getPeerDialogs only when getDialogs has not already shown it the chat */
    OK(tv.peer_dialogs == tv.peer_dialogs_asked, "trace: messages.getPeerDialogs asked %d times, "
       "answered with messages.peerDialogs %d times", tv.peer_dialogs_asked, tv.peer_dialogs);
    OK(tv.get_file >= FILE_MIB, "trace: upload.getFile called %d times for %d MiB", tv.get_file,
       FILE_MIB);
    OK(tv.errors == 0, "trace: no transport_error / violation events (%d)", tv.errors);
}

static int run_all(void)
{
    static run_t r;
    snprintf(g_dir, sizeof g_dir, "/tmp/mtp-tdlib-XXXXXX");
    if (!mkdtemp(g_dir))
        tap_bail("mkdtemp: %s", strerror(errno));
    char why[600] = "";
    if (setup(&r))
        goto done;
    OK(seed_file(&r) == 0, "our client put a %d MiB document in %s's Saved Messages", FILE_MIB, PHONE);
    if (!OK(td_load(r.lib, why, sizeof why) == 0, "libtdjson.so (our copy) loaded%s%s", *why ? ": " : "", why))
        goto done;
    if (td_login(&r) || td_me(&r))
        goto done;
    const tj *doc = NULL;
    tj *hist = NULL;
    if (!td_send_and_history(&r, &doc, &hist) && doc)
        td_download(&r, doc);
    tj_free(hist);
done:
    if (td.client)
        td.destroy(td.client);
    if (td.log)
        fclose(td.log);
    if (r.relay.th)
        relay_stop(&r.relay);
    int64_t fp = r.h.srv ? mtp_server_fingerprint(r.h.srv) : 0;
    if (r.h.srv)
        mtp_server_stop(r.h.srv);
    if (fp)
        check_view(&r, fp);
    tu_harness_stop(&r.h);
    tap_diag("relay: %d connections (DC1 %d, DC2 %d, DC3 %d, DC4 %d, DC5 %d), %d bad inits",
             atomic_load(&r.relay.conns), atomic_load(&r.relay.by_dc[1]),
             atomic_load(&r.relay.by_dc[2]), atomic_load(&r.relay.by_dc[3]),
             atomic_load(&r.relay.by_dc[4]), atomic_load(&r.relay.by_dc[5]),
             atomic_load(&r.relay.bad));
    int rc = tap_done();
    const char *keep = getenv("MTP_TDLIB_KEEP");
    if (rc || (keep && *keep == '1')) {
        tap_diag("files kept in %s (td.log: TDLib's log, objects.jsonl: what it sent us, "
                 "trace.jsonl: the harness's trace)", g_dir);
    } else {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd))
            tap_diag("could not remove %s", g_dir);
    }
    return rc;
}

/* ---------------------------------------------------------------- the run */

int main(int argc, char **argv)
{
    (void)argc;
    char why[600] = "";
    char status[512] = "unavailable: build/interop/tdlib.status missing (run tests/interop/setup.sh)";
    FILE *f = fopen("build/interop/tdlib.status", "r");
    if (f) {
        if (fgets(status, sizeof status, f))
            status[strcspn(status, "\n")] = 0;
        fclose(f);
    }
    if (!strcmp(status, "ok") && strstr(argv[0], "/asan/")) {
        tap_skip_group("asan-only", "TDLib interop", "runs in the plain suite only (TDLib is not "
                       "built with ASan; the plain harness serves it)", N_CHECKS);
        return tap_done();
    }
    if (strcmp(status, "ok")) {
        tap_diag("SKIPPING the TDLib interop test: %s", status);
        tap_skip_group("interop", "TDLib interop", status, N_CHECKS);
        return tap_done();
    }
    if (enter_netns(why, sizeof why)) {
        tap_diag("SKIPPING the TDLib interop test: %s", why);
        tap_skip_group("interop", "TDLib interop", why, N_CHECKS);
        return tap_done();
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(240);
    return run_all();
}
