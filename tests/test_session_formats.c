/*
 * Sessions of other libraries (include/mtproto/session_formats.h):
 *  - GramJS and mtcute strings made by those libraries' own code (tests/interop/peers/
 *    session-strings.mjs over the pinned npm tree; skipped loudly when it is not installed),
 *    read by us, and ours read by them;
 *  - Telethon and Pyrogram strings built here from their documented struct layouts
 *    (Telethon: '1' + urlsafe_b64encode(pack('>B4sH256s')); Pyrogram:
 *    urlsafe_b64encode(pack('>BI?256sQ?')).rstrip('=') and the two older layouts) — the
 *    Python libraries are not installed, so these are built from the layout, not by them;
 *  - their SQLite .session files made by /usr/bin/sqlite3 with the CREATE TABLE statements
 *    of Telethon and Pyrogram (skipped when sqlite3 is missing), small and many-page ones;
 *  - hostile input: mutated and truncated strings and files fail cleanly;
 *  - end to end on the harness: a session logged in by us, converted to each format and
 *    imported by the CLI into a fresh session that then makes an authorized call.
 */
#define _GNU_SOURCE
#include "testharness.h"
#include "testutil.h"

#include <mtproto/session_formats.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpd[300];

static int run(const char *const *args, char *out, size_t cap)
{
    int pfd[2];
    if (pipe(pfd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2);
        close(pfd[0]);
        alarm(60);
        execv(args[0], (char *const *)args);
        _exit(127);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(pfd[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void b64(const uint8_t *p, size_t n, bool url, bool pad, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        size_t k = n - i >= 3 ? 4 : n - i + 1;
        for (size_t j = 0; j < 4; j++) {
            unsigned x = (v >> (18 - 6 * j)) & 63;
            char ch = x < 62 ? A[x] : x == 62 ? (url ? '-' : '+') : (url ? '_' : '/');
            if (j < k)
                out[o++] = ch;
            else if (pad)
                out[o++] = '=';
        }
    }
    out[o] = 0;
}

static void key_fill(uint8_t *k, uint8_t seed)
{
    for (int i = 0; i < 256; i++)
        k[i] = (uint8_t)(seed + i * 7);
}

/* ---- Telethon / Pyrogram from their documented layouts */
static void test_python_strings(void)
{
    uint8_t key[256], b[300];
    key_fill(key, 3);
    char s[600], want[600];
    mtp_session_info_t in;

    /* Telethon IPv4 */
    b[0] = 2;
    b[1] = 149; b[2] = 154; b[3] = 167; b[4] = 51;
    b[5] = 0x01; b[6] = 0xbb;
    memcpy(b + 7, key, 256);
    want[0] = '1';
    b64(b, 263, true, true, want + 1);
    IS_INT(strlen(want), 353, "telethon string: 353 characters");
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_TELETHON, want, &in), 0, "telethon string parses");
    OK(in.dc_id == 2 && !strcmp(in.host, "149.154.167.51") && in.port == 443 &&
       !memcmp(in.auth_key, key, 256) && in.user_id == 0, "telethon: dc, ip, port, key");
    int err = 1;
    char *out = mtp_session_info_format(MTP_SESSION_FMT_TELETHON, &in, &err);
    OK(out && !strcmp(out, want) && err == 0, "telethon: written back identically");
    free(out);
    /* GramJS reads the Telethon IPv4 layout too (352 characters after the '1') */
    want[353 - 0] = 0;
    mtp_session_info_t g;
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_GRAMJS, want, &g), 0, "gramjs reads a telethon string");
    OK(g.dc_id == 2 && g.port == 443 && !memcmp(g.auth_key, key, 256), "… with the same fields");

    /* Telethon IPv6 */
    static const uint8_t ip6[16] = { 0x20, 0x01, 0x06, 0x7c, 0x04, 0xe8, 0xf0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x0a };
    b[0] = 4;
    memcpy(b + 1, ip6, 16);
    b[17] = 0x00; b[18] = 0x50;
    memcpy(b + 19, key, 256);
    want[0] = '1';
    b64(b, 275, true, true, want + 1);
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_TELETHON, want, &in), 0, "telethon IPv6 string parses");
    OK(in.dc_id == 4 && !strcmp(in.host, "2001:67c:4e8:f002::a") && in.port == 80, "telethon IPv6: %s", in.host);
    out = mtp_session_info_format(MTP_SESSION_FMT_TELETHON, &in, &err);
    OK(out && !strcmp(out, want), "telethon IPv6: written back identically");
    free(out);

    /* Pyrogram >BI?256sQ? */
    b[0] = 5;
    b[1] = 0; b[2] = 0x01; b[3] = 0xe2; b[4] = 0x40;      /* api_id 123456 */
    b[5] = 1;                                               /* test_mode */
    memcpy(b + 6, key, 256);
    uint64_t uid = 5123456789ull;
    for (int i = 0; i < 8; i++)
        b[262 + i] = (uint8_t)(uid >> (56 - 8 * i));
    b[270] = 1;                                             /* is_bot */
    b64(b, 271, true, false, want);
    IS_INT(strlen(want), 362, "pyrogram string: 362 characters");
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_PYROGRAM, want, &in), 0, "pyrogram string parses");
    OK(in.dc_id == 5 && in.api_id == 123456 && in.test_mode && in.is_bot &&
       in.user_id == (int64_t)uid && !memcmp(in.auth_key, key, 256), "pyrogram: all fields");
    out = mtp_session_info_format(MTP_SESSION_FMT_PYROGRAM, &in, &err);
    OK(out && !strcmp(out, want), "pyrogram: written back identically");
    free(out);
    /* the older layouts: >B?256sI? and >B?256sQ? */
    b[0] = 1; b[1] = 0;
    memcpy(b + 2, key, 256);
    b[258] = 0; b[259] = 0x98; b[260] = 0x96; b[261] = 0x7f; b[262] = 0;   /* 9999999 */
    b64(b, 263, true, false, s);
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_PYROGRAM, s, &in), 0, "pyrogram old 32-bit layout");
    OK(in.dc_id == 1 && in.user_id == 9999999 && !in.is_bot && !in.test_mode, "… fields (%lld)", (long long)in.user_id);
    for (int i = 0; i < 8; i++)
        b[258 + i] = (uint8_t)(uid >> (56 - 8 * i));
    b[266] = 0;
    b64(b, 267, true, false, s);
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_PYROGRAM, s, &in), 0, "pyrogram old 64-bit layout");
    OK(in.user_id == (int64_t)uid, "… user id");

    /* wrong: bad bool, DC 0, zero key, wrong format, bad base64, non-canonical bits */
    b[266] = 2;
    b64(b, 267, true, false, s);
    OK(mtp_session_info_parse(MTP_SESSION_FMT_PYROGRAM, s, &in) < 0, "pyrogram: a bool of 2 is refused");
    b[266] = 0; b[0] = 0;
    b64(b, 267, true, false, s);
    OK(mtp_session_info_parse(MTP_SESSION_FMT_PYROGRAM, s, &in) < 0, "pyrogram: DC 0 is refused");
    OK(mtp_session_info_parse(MTP_SESSION_FMT_TELETHON, "2AAAA", &in) == MTP_EVERSION, "telethon: version 2 refused");
    OK(mtp_session_info_parse(MTP_SESSION_FMT_TELETHON, "1AB$C", &in) < 0, "telethon: bad base64 refused");
    OK(mtp_session_info_parse(MTP_SESSION_FMT_PYROGRAM, want, &in) == 0 &&
       mtp_session_info_parse(MTP_SESSION_FMT_MTCUTE, want, &in) < 0, "a pyrogram string is not mtcute");
    memset(b, 0, sizeof b);
    b[0] = 2; b[1] = 127; b[4] = 1; b[6] = 80;
    want[0] = '1';
    b64(b, 263, true, true, want + 1);
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_TELETHON, want, &in), MTP_EBADKEY, "an all-zero key is refused");
}

/* ---- GramJS and mtcute by their own code */
static int node_json(const char *const *args, char *out, size_t cap)
{
    return run(args, out, cap);
}

static bool json_str(const char *j, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = strstr(j, pat);
    if (!p)
        return false;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= cap)
        return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = 0;
    return true;
}

static long long json_num(const char *j, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = strstr(j, pat);
    return p ? atoll(p + strlen(pat)) : -1;
}

static void test_node_strings(const char *node)
{
    const char *script = "tests/interop/peers/session-strings.mjs";
    if (!node || access("tests/interop/peers/node_modules/telegram/package.json", R_OK) ||
        access("tests/interop/peers/node_modules/@mtcute/core/package.json", R_OK)) {
        tap_diag("SKIPPING the GramJS/mtcute session strings: the npm tree is not installed "
                 "(run bash tests/interop/peers/install.sh; npm unreachable?)");
        tap_skip("GramJS/mtcute not installed", 11);
        return;
    }
    uint8_t key[256];
    key_fill(key, 0x51);
    char *hex = tu_hex(key, 256);
    const char *mk[] = { node, script, "make", hex, "2", "127.0.0.1", "10443", "9996621234", NULL };
    static char out[8192], gs[1024], ms[1024];
    int x = node_json(mk, out, sizeof out);
    OK(x == 0 && json_str(out, "gramjs", gs, sizeof gs) && json_str(out, "mtcute", ms, sizeof ms),
       "node made a GramJS and an mtcute string (%d)", x);
    mtp_session_info_t in;
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_GRAMJS, gs, &in), 0, "GramJS StringSession.save() parses");
    OK(in.dc_id == 2 && !strcmp(in.host, "127.0.0.1") && in.port == 10443 && !memcmp(in.auth_key, key, 256),
       "GramJS: dc, address, port, key");
    char *ours = mtp_session_info_format(MTP_SESSION_FMT_GRAMJS, &in, NULL);
    OK(ours && !strcmp(ours, gs), "our GramJS string equals GramJS's");
    free(ours);
    IS_INT(mtp_session_info_parse(MTP_SESSION_FMT_MTCUTE, ms, &in), 0, "mtcute writeStringSession() parses");
    OK(in.dc_id == 2 && !strcmp(in.host, "127.0.0.1") && in.port == 10443 && in.user_id == 9996621234LL &&
       !in.is_bot && !memcmp(in.auth_key, key, 256), "mtcute: dc, address, port, self, key");
    ours = mtp_session_info_format(MTP_SESSION_FMT_MTCUTE, &in, NULL);
    OK(ours && !strcmp(ours, ms), "our mtcute string equals mtcute's");
    free(ours);

    /* theirs read ours (another key, DC, port, and no self for mtcute) */
    key_fill(key, 0xe0);
    mtp_session_info_t o;
    memset(&o, 0, sizeof o);
    o.dc_id = 4;
    snprintf(o.host, sizeof o.host, "10.1.2.3");
    o.port = 8443;
    memcpy(o.auth_key, key, 256);
    char *g = mtp_session_info_format(MTP_SESSION_FMT_GRAMJS, &o, NULL);
    char *m = mtp_session_info_format(MTP_SESSION_FMT_MTCUTE, &o, NULL);
    free(hex);
    hex = tu_hex(key, 256);
    const char *rg[] = { node, script, "read", "gramjs", g ? g : "", NULL };
    x = node_json(rg, out, sizeof out);
    char kh[600];
    OK(x == 0 && json_num(out, "dc") == 4 && json_num(out, "port") == 8443 && strstr(out, "\"10.1.2.3\"") &&
       json_str(out, "key", kh, sizeof kh) && !strcmp(kh, hex), "GramJS reads our GramJS string (%d)", x);
    const char *rm[] = { node, script, "read", "mtcute", m ? m : "", NULL };
    x = node_json(rm, out, sizeof out);
    OK(x == 0 && json_num(out, "dc") == 4 && json_num(out, "port") == 8443 && json_num(out, "user_id") == 0 &&
       json_str(out, "key", kh, sizeof kh) && !strcmp(kh, hex), "mtcute reads our mtcute string (%d)", x);
    o.user_id = 777000123;
    o.is_bot = true;
    free(m);
    m = mtp_session_info_format(MTP_SESSION_FMT_MTCUTE, &o, NULL);
    const char *rm2[] = { node, script, "read", "mtcute", m ? m : "", NULL };
    x = node_json(rm2, out, sizeof out);
    OK(x == 0 && json_num(out, "user_id") == 777000123, "mtcute reads our self user id");
    /* their strings mutated: every result is a clean refusal or a parse */
    size_t gl = strlen(gs), ml = strlen(ms);
    int bad = 0, okc = 0;
    tu_rng_t r;
    tu_rng_seed(&r, 77);
    for (int i = 0; i < 4000; i++) {
        char t[1024];
        const char *src = i & 1 ? gs : ms;
        size_t l = i & 1 ? gl : ml;
        memcpy(t, src, l + 1);
        t[tu_rng_below(&r, l)] = "AZaz09+/-_=!\0"[tu_rng_below(&r, 13)];
        if (i % 7 == 0)
            t[tu_rng_below(&r, l)] = 0;
        int rc = mtp_session_info_parse(i & 1 ? MTP_SESSION_FMT_GRAMJS : MTP_SESSION_FMT_MTCUTE, t, &in);
        if (rc < 0)
            bad++;
        else if (rc == 0 && in.dc_id >= 1 && in.dc_id <= MTP_CLIENT_MAX_DCS)
            okc++;
    }
    OK(bad + okc == 4000 && bad > 1000, "4000 mutated strings: %d refused, %d still valid", bad, okc);
    free(g);
    free(m);
    free(hex);
}

/* ---- SQLite files */
static bool sqlite_make(const char *path, const char *sql)
{
    unlink(path);
    char out[256];
    const char *a[] = { "/usr/bin/sqlite3", path, sql, NULL };
    return run(a, out, sizeof out) == 0;
}

static void test_sqlite(void)
{
    if (access("/usr/bin/sqlite3", X_OK)) {
        tap_diag("SKIPPING the SQLite .session files: /usr/bin/sqlite3 is not installed");
        tap_skip("sqlite3 missing", 9);
        return;
    }
    uint8_t key[256];
    key_fill(key, 0x99);
    char *hex = tu_hex(key, 256);
    static char sql[300000];
    char path[400];
    mtp_session_info_t in;
    size_t len;
    /* Telethon (sessions/entities/sent_files/update_state/version, version 7) */
    snprintf(path, sizeof path, "%s/telethon.session", tmpd);
    snprintf(sql, sizeof sql,
             "create table version (version integer primary key);"
             "insert into version values (7);"
             "create table sessions (dc_id integer primary key, server_address text, port integer, "
             "auth_key blob, takeout_id integer);"
             "create table entities (id integer primary key, hash integer not null, username text, "
             "phone integer, name text, date integer);"
             "insert into sessions values (2, '149.154.167.51', 443, X'%s', null);", hex);
    OK(sqlite_make(path, sql), "sqlite3 made a Telethon .session");
    uint8_t *f = tu_read_file(path, &len);
    IS_INT(mtp_session_info_parse_sqlite(MTP_SESSION_FMT_TELETHON, f, len, &in), 0, "Telethon .session parses");
    OK(in.dc_id == 2 && !strcmp(in.host, "149.154.167.51") && in.port == 443 && !memcmp(in.auth_key, key, 256),
       "Telethon .session: dc, address, port, key");
    OK(mtp_session_info_parse_sqlite(MTP_SESSION_FMT_PYROGRAM, f, len, &in) == MTP_EINVAL,
       "a Telethon file is not a Pyrogram one");
    free(f);
    /* Pyrogram (version 3 schema), many rows on 512-byte pages (interior pages), a long
     * column (overflow pages), the key row last */
    snprintf(path, sizeof path, "%s/pyrogram.session", tmpd);
    size_t n = (size_t)snprintf(sql, sizeof sql,
             "pragma page_size=512;"
             "create table sessions (dc_id integer primary key, api_id integer, test_mode integer, "
             "auth_key blob, date integer not null, user_id integer, is_bot integer, note text);"
             "create table peers (id integer primary key, access_hash integer, type integer not null, "
             "username text, phone_number text, last_update_on integer not null default (cast(strftime('%%s', 'now') as integer)));"
             "create table version (number integer primary key);"
             "insert into version values (3);"
             "insert into sessions (dc_id, date, note) values (1, 0, 'x');");
    n += (size_t)snprintf(sql + n, sizeof sql - n,
             "insert into sessions values (5, 2040, 0, X'%s', 0, 5123456789, 0, printf('%%.3000c', 'n'));", hex);
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "insert into peers (id, type, username) values (%d, 1, 'user%d');", i, i);
    OK(sqlite_make(path, sql), "sqlite3 made a Pyrogram .session (512-byte pages)");
    f = tu_read_file(path, &len);
    IS_INT(mtp_session_info_parse_sqlite(MTP_SESSION_FMT_PYROGRAM, f, len, &in), 0, "Pyrogram .session parses");
    OK(in.dc_id == 5 && in.api_id == 2040 && in.user_id == 5123456789LL && !in.is_bot && !in.test_mode &&
       !memcmp(in.auth_key, key, 256), "Pyrogram .session: all fields (row without a key skipped)");
    /* hostile: every byte flipped somewhere, truncations */
    tu_rng_t r;
    tu_rng_seed(&r, 5);
    int refused = 0, parsed = 0;
    uint8_t *m = malloc(len);
    for (int i = 0; i < 3000; i++) {
        memcpy(m, f, len);
        int k = 1 + (int)tu_rng_below(&r, 4);
        for (int j = 0; j < k; j++)
            m[tu_rng_below(&r, len)] ^= (uint8_t)(1 + tu_rng_below(&r, 255));
        size_t l = i % 5 == 0 ? tu_rng_below(&r, len + 1) : len;
        int rc = mtp_session_info_parse_sqlite(MTP_SESSION_FMT_PYROGRAM, m, l, &in);
        if (rc < 0)
            refused++;
        else if (rc == 0)
            parsed++;
    }
    OK(refused + parsed == 3000 && refused > 100, "3000 mutated files: %d refused, %d parsed", refused, parsed);
    IS_INT(mtp_session_info_parse_sqlite(MTP_SESSION_FMT_PYROGRAM, f, 99, &in), MTP_EINVAL, "a short file is refused");
    free(m);
    free(f);
    free(hex);
}

/* ---- end to end through the CLI on the harness */
static void test_e2e(const char *cli)
{
    tu_harness_t H;
    if (tu_harness_start(&H, "test_session_formats", NULL))
        tap_bail("harness did not start");
    char hp[64], s1[400], s2[400];
    static char out[65536];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", H.ports[0]);
    snprintf(s1, sizeof s1, "%s/a.session", H.dir);
    const char *lg[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", s1, "--api-id", "1",
                         "--api-hash", "x", "login", "--phone", "9996621234", "--code", "22222", NULL };
    IS_INT(run(lg, out, sizeof out), 0, "cli login on the harness");
    static const char *fmts[] = { "telethon", "pyrogram", "gramjs", "mtcute" };
    for (int i = 0; i < 4; i++) {
        const char *ex[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", s1, "--api-id", "1",
                             "--api-hash", "x", "session", "convert", "--from", "mtproto", "--to", fmts[i], NULL };
        int x = run(ex, out, sizeof out);
        out[strcspn(out, "\n")] = 0;
        static char str[4096];
        snprintf(str, sizeof str, "%.4000s", out);
        mtp_session_info_t in;
        OK(x == 0 && mtp_session_info_parse(mtp_session_format_from_name(fmts[i]), str, &in) == 0 &&
           in.dc_id == 2, "session convert --from mtproto --to %s (%d)", fmts[i], x);
        snprintf(s2, sizeof s2, "%s/%s.session", H.dir, fmts[i]);
        const char *im[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", s2, "--api-id", "1",
                             "--api-hash", "x", "session", "convert", "--from", fmts[i], str, NULL };
        x = run(im, out, sizeof out);
        out[strcspn(out, "\n")] = 0;
        OK(x == 0 && strstr(out, "user 9996621234"), "session convert --from %s imports, user known (%d: %.80s)",
           fmts[i], x, out);
        const char *cu[] = { cli, "--server", hp, "--rsa-key", H.pem_path, "--session", s2, "--api-id", "1",
                             "--api-hash", "x", "call", "users.getUsers", "{\"id\":[{\"_\":\"inputUserSelf\"}]}", NULL };
        x = run(cu, out, sizeof out);
        OK(x == 0 && strstr(out, "\"id\":\"9996621234\""), "the imported %s session makes authorized calls", fmts[i]);
    }
    const char *bad[] = { cli, "--session", s1, "session", "convert", "--from", "telethon", "1AAAA", NULL };
    OK(run(bad, out, sizeof out) == 1, "a malformed string: exit 1");
    const char *us[] = { cli, "--session", s1, "session", "convert", "--from", "zzz", "x", NULL };
    OK(run(us, out, sizeof out) == 2, "an unknown format: usage error");
    tu_harness_stop(&H);
}

int main(int argc, char **argv)
{
    (void)argc;
    snprintf(tmpd, sizeof tmpd, "/tmp/test_sessfmt.%d", (int)getpid());
    if (mkdir(tmpd, 0700))
        tap_bail("mkdir %s", tmpd);
    test_python_strings();
    const char *node = access("/usr/bin/node", X_OK) == 0 ? "/usr/bin/node" : NULL;
    test_node_strings(node);
    test_sqlite();
    char cli[512];
    snprintf(cli, sizeof cli, "%s", argv[0]);
    char *slash = strrchr(cli, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(cli, '/');
    }
    if (slash)
        strcpy(slash, "/bin/mtproto-cli");
    if (access(cli, X_OK))
        tap_skip("mtproto-cli not built", 15);
    else
        test_e2e(cli);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpd);
    if (system(cmd))
        tap_diag("could not remove %s", tmpd);
    return tap_done();
}
