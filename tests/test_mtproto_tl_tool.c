/*
 * mtproto-tl: decode / encode / info, --lines error lines, exit codes. The tool under test
 * is <dir of this test>/../bin/mtproto-tl, so the ASan build tests the ASan tool.
 */
#include <mtproto/tl.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char tool[4096];
static char tmpdir[256];

typedef struct run {
    int status;        /* exit status, or -1 if it did not exit normally */
    char *out;         /* stdout (NUL-terminated; may hold NULs, see outlen) */
    size_t outlen;
    char *err;         /* stderr */
} run_t;

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n)
        tap_bail("cannot write %s", path);
    fclose(f);
}

/* Run the tool with args (a shell fragment) and stdin from `in` (n bytes). */
static run_t run(const char *args, const void *in, size_t n)
{
    run_t r = {0};
    char inp[512], outp[512], errp[512], cmd[8192];
    snprintf(inp, sizeof inp, "%s/in", tmpdir);
    snprintf(outp, sizeof outp, "%s/out", tmpdir);
    snprintf(errp, sizeof errp, "%s/err", tmpdir);
    write_file(inp, in ? in : "", in ? n : 0);
    snprintf(cmd, sizeof cmd, "'%s' %s <'%s' >'%s' 2>'%s'", tool, args, inp, outp, errp);
    int st = system(cmd);
    r.status = (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
    r.out = (char *)tu_read_file(outp, &r.outlen);
    size_t el;
    r.err = (char *)tu_read_file(errp, &el);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    return r;
}

static run_t runs(const char *args, const char *in)
{
    return run(args, in, in ? strlen(in) : 0);
}

static void expect(run_t r, int status, const char *out, const char *errsub, const char *what)
{
    bool ok = r.status == status;
    if (out && strcmp(r.out, out))
        ok = false;
    if (errsub && !strstr(r.err, errsub))
        ok = false;
    if (!tap_ok(ok, "%s", what)) {
        tap_diag("status %d (want %d)", r.status, status);
        tap_diag("stdout: %s", r.out);
        if (out)
            tap_diag("want:   %s", out);
        tap_diag("stderr: %s", r.err);
    }
    run_free(&r);
}

static void test_usage(void)
{
    run_t r = runs("--help", NULL);
    OK(r.status == 0 && strstr(r.out, "mtproto-tl decode") && strstr(r.out, "--lines") &&
       strstr(r.out, "info"), "--help documents the commands");
    run_free(&r);
    expect(runs("", NULL), 2, "", "missing command", "no command: exit 2");
    expect(runs("frobnicate", NULL), 2, "", "unknown command", "unknown command: exit 2");
    expect(runs("decode --bogus", NULL), 2, "", "unknown option '--bogus'", "unknown option: exit 2");
    expect(runs("decode --layer", NULL), 2, "", "--layer needs", "--layer without a value");
    expect(runs("decode --layer x", NULL), 2, "", "bad layer", "--layer x");
    expect(runs("decode --layer 5", NULL), 2, "", "unknown layer 5", "unknown layer: exit 2");
    expect(runs("decode a b", NULL), 2, "", "unexpected argument", "two files");
    expect(runs("info", NULL), 2, "", "NAME", "info without a name");
    expect(runs("encode --json", NULL), 2, "", "unknown option", "encode --json is not an option");
}

static void test_decode(void)
{
    expect(runs("decode --hex", "6b18f9c4\n"), 0, "help.getConfig\n", NULL, "decode --hex: text");
    expect(runs("decode --hex --json", " 6b 18\n f9\tC4 "), 0, "{\"_\":\"help.getConfig\"}\n", NULL,
           "decode --hex --json, whitespace and upper case ignored");
    expect(run("decode --json", "\x6b\x18\xf9\xc4", 4), 0, "{\"_\":\"help.getConfig\"}\n", NULL,
           "decode binary");
    expect(run("decode --json -", "\x6b\x18\xf9\xc4", 4), 0, "{\"_\":\"help.getConfig\"}\n", NULL,
           "decode binary from '-'");
    /* pong */
    expect(runs("decode --hex --json",
                "c57377340100000000000000feffffffffffffff"), 0,
           "{\"_\":\"pong\",\"msg_id\":\"1\",\"ping_id\":\"-2\"}\n", NULL, "decode pong");
    expect(runs("decode --hex",
                "c57377340100000000000000feffffffffffffff"), 0,
           "pong\n  msg_id: 1\n  ping_id: -2\n", NULL, "decode pong as text");
    expect(runs("decode --hex", "6b18f9c400000000"), 1, "", "malformed TL data at offset 4",
           "trailing bytes: exit 1");
    expect(runs("decode --hex", "78563412"), 1, "",
           "unknown constructor id 0x12345678 at offset 0", "unknown id: exit 1");
    expect(runs("decode --hex", "c5737734010000"), 1, "", "truncated", "truncated: exit 1");
    expect(runs("decode --hex", "6b18f9c"), 1, "", "odd number of hex digits", "odd hex: exit 1");
    expect(runs("decode --hex", "6b18f9cx"), 1, "", "invalid hex character at position 7",
           "bad hex: exit 1");
    expect(runs("decode --hex", ""), 1, "", "empty input", "empty input: exit 1");
    expect(runs("decode --hex --json --layer 0", "6b18f9c4"), 1, "",
           "unknown constructor id 0xc4f9186b", "--layer 0 is the service schema alone");
    /* rpc_result(req_msg_id=5, rpc_error(420, "X")) decodes with an API layer (fallback) */
    expect(runs("decode --hex --json",
                "016d5cf30500000000000000" "19ca4421a4010000" "01580000"), 0,
           "{\"_\":\"rpc_result\",\"req_msg_id\":\"5\",\"result\":{\"_\":\"rpc_error\","
           "\"error_code\":420,\"error_message\":\"X\"}}\n", NULL, "service objects in layer 228");
    /* userEmpty is the same everywhere; user differs: 198's id is unknown in 228 */
    expect(runs("decode --hex --json --layer 198",
                "7ec3464b" "00000000" "00000000" "0100000000000000"), 0,
           "{\"_\":\"user\",\"flags\":0,\"flags2\":0,\"id\":\"1\"}\n", NULL, "--layer 198 user");
    expect(runs("decode --hex --json",
                "7ec3464b" "00000000" "00000000" "0100000000000000"), 1, "",
           "unknown constructor id 0x4b46c37e", "198's user is unknown in 228");
    expect(runs("decode --hex --json --layer=227",
                "88437731" "00000000" "00000000" "0100000000000000"), 0,
           "{\"_\":\"user\",\"flags\":0,\"flags2\":0,\"id\":\"1\"}\n", NULL, "--layer=227 user");
    /* input from a file */
    char path[512];
    snprintf(path, sizeof path, "%s/obj.bin", tmpdir);
    write_file(path, "\x6b\x18\xf9\xc4", 4);
    char args[1024];
    snprintf(args, sizeof args, "decode --json '%s'", path);
    expect(runs(args, NULL), 0, "{\"_\":\"help.getConfig\"}\n", NULL, "decode FILE");
    snprintf(args, sizeof args, "decode '%s/does-not-exist'", tmpdir);
    expect(runs(args, NULL), 1, "", "cannot open", "missing FILE: exit 1");
}

static void test_lines(void)
{
    const char *in =
        "6b18f9c4\n"
        "0d0d9bdae400000078563412\n"          /* invokeWithLayer(228, <unknown id>) */
        "6b18f9cz\n"
        "\n"
        "c57377340100000000000000feffffffffffffff\r\n"
        "6b18f9c400000000\n"
        "6b18f9c4";                            /* no final newline */
    const char *want =
        "{\"_\":\"help.getConfig\"}\n"
        "{\"error\":\"unknown constructor id 0x12345678 at offset 8\"}\n"
        "{\"error\":\"invalid hex character at position 7\"}\n"
        "{\"error\":\"empty line\"}\n"
        "{\"_\":\"pong\",\"msg_id\":\"1\",\"ping_id\":\"-2\"}\n"
        "{\"error\":\"malformed TL data at offset 4\"}\n"
        "{\"_\":\"help.getConfig\"}\n";
    expect(runs("decode --json --lines", in), 1, want, NULL,
           "decode --lines: one output line per input line, errors in place, exit 1");
    expect(runs("decode --json --lines", "6b18f9c4\n6b18f9c4\n"), 0,
           "{\"_\":\"help.getConfig\"}\n{\"_\":\"help.getConfig\"}\n", NULL,
           "decode --lines: all good, exit 0");
    expect(runs("decode --lines", "6b18f9c4\n"), 0, "help.getConfig\n", NULL,
           "decode --lines without --json: text");

    const char *ein =
        "{\"_\":\"help.getConfig\"}\n"
        "{\"_\":\"peerUser\",\"user_id\":\"1\",\"bogus\":1}\n"
        "{\"_\":\"pong\",\"msg_id\":\"1\",\"ping_id\":\"-2\"}\n"
        "{\"_\":\"peerUser\",\"user_id\":\"1\"\n"
        "not json\n";
    const char *ewant =
        "6b18f9c4\n"
        "{\"error\":\"unknown field 'bogus' in 'peerUser'\"}\n"
        "c57377340100000000000000feffffffffffffff\n"
        "{\"error\":\"JSON syntax error at offset 30: expected ',' or '}'\"}\n"
        "{\"error\":\"expected a TL object, got an invalid token\"}\n";
    expect(runs("encode --lines", ein), 1, ewant, NULL, "encode --lines with errors");
}

static void test_encode(void)
{
    run_t r = runs("encode", "{\"_\":\"pong\",\"msg_id\":\"1\",\"ping_id\":\"-2\"}");
    OK(r.status == 0 && r.outlen == 20 &&
       !memcmp(r.out, "\xc5\x73\x77\x34\x01\0\0\0\0\0\0\0\xfe\xff\xff\xff\xff\xff\xff\xff", 20),
       "encode: raw bytes");
    run_free(&r);
    expect(runs("encode --hex", " {\"_\":\"help.getConfig\"}\n\n"), 0, "6b18f9c4\n", NULL,
           "encode --hex");
    expect(runs("encode --hex --layer 198", "{\"_\":\"user\",\"id\":\"1\"}"), 0,
           "7ec3464b00000000000000000100000000000000\n", NULL, "encode --layer 198");
    expect(runs("encode --hex", "{\"_\":\"peerUser\"}"), 1, "",
           "encode: missing field 'user_id' of 'peerUser'", "encode error: exit 1");
    expect(runs("encode --hex", "{\"_\":\"help.getConfig\"} x"), 1, "", "trailing garbage",
           "encode trailing garbage");
    expect(runs("encode --hex", ""), 1, "", "expected a TL object", "encode empty input");

    /* decode -> encode gives the bytes back */
    const char *hex = "016d5cf30500000000000000" "19ca4421a4010000" "01580000";
    r = runs("decode --hex --json", hex);
    run_t e = runs("encode --hex", r.out);
    char want[256];
    snprintf(want, sizeof want, "%s\n", hex);
    OK(r.status == 0 && e.status == 0 && !strcmp(e.out, want), "decode | encode is identity");
    run_free(&r);
    run_free(&e);
}

static void test_info(void)
{
    run_t r = runs("info user", NULL);
    OK(r.status == 0 && strstr(r.out, "user#b1b8cc83 flags:#") && strstr(r.out, "0xb1b8cc83") &&
       strstr(r.out, "constructor") && strstr(r.out, "User") &&
       strstr(r.out, "bot_verification_icon: flags2.14?long") &&
       strstr(r.out, "(optional, bit 14 = 0x4000)") && strstr(r.out, "flags: #"),
       "info user");
    if (r.status)
        tap_diag("%s%s", r.out, r.err);
    run_free(&r);
    r = runs("info '#c4f9186b'", NULL);
    OK(r.status == 0 && strstr(r.out, "help.getConfig#c4f9186b = Config") &&
       strstr(r.out, "method") && strstr(r.out, "result: Config"), "info #id (method)");
    run_free(&r);
    r = runs("info 0xC4F9186B", NULL);
    OK(r.status == 0 && strstr(r.out, "help.getConfig"), "info 0xID");
    run_free(&r);
    r = runs("info 3304659051", NULL);
    OK(r.status == 0 && strstr(r.out, "help.getConfig"), "info decimal id");
    run_free(&r);
    r = runs("info --layer 198 user", NULL);
    OK(r.status == 0 && strstr(r.out, "0x4b46c37e"), "info --layer 198");
    run_free(&r);
    r = runs("info msg_container", NULL);
    OK(r.status == 0 && strstr(r.out, "vector<%Message>"), "info of a service constructor");
    run_free(&r);
    r = runs("info User", NULL);
    OK(r.status == 0 && strstr(r.out, "type User") && strstr(r.out, "userEmpty#"), "info TYPE");
    run_free(&r);
    r = runs("info --json user", NULL);
    tj *j = tj_parse(r.out, r.outlen);
    OK(r.status == 0 && j && !strcmp(tj_str(tj_get(j, "id")), "b1b8cc83") &&
       !strcmp(tj_str(tj_get(j, "kind")), "constructor") &&
       !strcmp(tj_str(tj_path(j, "fields.0.name")), "flags"),
       "info --json parses");
    tj_free(j);
    run_free(&r);
    expect(runs("info nosuchthing", NULL), 1, "", "no constructor, method or type named",
           "info unknown name: exit 1");
    expect(runs("info '#12345678'", NULL), 1, "", "no constructor or method with id 0x12345678",
           "info unknown id: exit 1");
}

/* Many lines through decode and back through encode (and a rough timing). */
static void test_bulk(void)
{
    static const char *const objs[] = {
        "6b18f9c4",
        "c57377340100000000000000feffffffffffffff",
        "016d5cf30500000000000000" "19ca4421a4010000" "01580000",
        "7ec3464b00000000000000000100000000000000",
    };
    mtp_buf_t in;
    mtp_buf_init(&in);
    const int n = 20000;
    for (int i = 0; i < n; i++)
        mtp_buf_printf(&in, "%s\n", i % 3 == 2 ? "88437731" : objs[i % 3]);
    double t0 = tu_now();
    run_t r = run("decode --json --lines", in.data, in.len);
    double t1 = tu_now();
    size_t lines = 0;
    for (size_t i = 0; i < r.outlen; i++)
        lines += r.out[i] == '\n';
    OK(r.status == 1 && lines == (size_t)n, "decode --lines: %d lines in, %zu out", n, lines);
    tap_diag("decode --json --lines on %d lines: %.3f s", n, t1 - t0);
    run_free(&r);

    mtp_buf_clear(&in);
    for (int i = 0; i < n; i++)
        mtp_buf_printf(&in, "%s\n", objs[i % 3]);
    r = run("decode --json --lines", in.data, in.len);
    run_t e = run("encode --lines", r.out, r.outlen);
    OK(r.status == 0 && e.status == 0 && e.outlen == in.len && !memcmp(e.out, in.data, in.len),
       "decode --lines | encode --lines gives the input back (%d lines)", n);
    run_free(&r);
    run_free(&e);
    mtp_buf_free(&in);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* <BUILD>/tests/test_x -> <BUILD>/bin/mtproto-tl */
    const char *slash = strrchr(argv[0], '/');
    size_t dl = slash ? (size_t)(slash - argv[0]) : 1;
    snprintf(tool, sizeof tool, "%.*s/../bin/mtproto-tl", (int)dl, slash ? argv[0] : ".");
    if (access(tool, X_OK) != 0)
        tap_bail("tool not found: %s", tool);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mtp-tl-tool-test.XXXXXX");
    if (!mkdtemp(tmpdir))
        tap_bail("mkdtemp failed");
    test_usage();
    test_decode();
    test_lines();
    test_encode();
    test_info();
    test_bulk();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", tmpdir);
    return tap_done();
}
