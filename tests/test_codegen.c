/*
 * Code generator (codegen/): golden outputs for small schemas that hit every grammar corner,
 * malformed schemas (non-zero exit, "file:line:" diagnostics), CLI errors, unchanged files not
 * rewritten, generated code compiling with the project's warnings, the real schemas parsing
 * cleanly and quickly.
 *
 * The generator is <BUILD>/codegen/mtp-codegen, found from argv[0] (<BUILD>/tests/test_codegen)
 * or $MTP_CODEGEN. Run from the repository root. MTP_UPDATE_GOLDEN=1 rewrites the expected files
 * under tests/codegen/expected/ from the current generator.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define GOLDEN_DIR "tests/codegen/expected"
#define GOLDEN_ARGS "--service tests/codegen/service.tl --layer 100:tests/codegen/api.tl " \
                    "--layer 99:tests/codegen/api-old.tl"
#define CFLAGS_CHECK "-std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes " \
                     "-Wmissing-prototypes -Wno-missing-field-initializers -D_DEFAULT_SOURCE " \
                     "-D_POSIX_C_SOURCE=200809L -fsyntax-only"

static const char *const outputs[] = {
    "tl_mtproto.c", "tl_api100.c", "tl_api99.c", "tl_layers.c", "tl_l99.h",
    "include/mtproto/tl_schema.h", "include/mtproto/tl_mtproto.h", NULL
};

static char gen[1024];
static char tmp[256];

static void find_generator(const char *argv0)
{
    const char *env = getenv("MTP_CODEGEN");
    if (env && *env) {
        snprintf(gen, sizeof gen, "%s", env);
        return;
    }
    const char *slash = strrchr(argv0, '/');
    if (slash) {
        /* <BUILD>/tests/test_codegen -> <BUILD>/codegen/mtp-codegen */
        snprintf(gen, sizeof gen, "%.*s/../codegen/mtp-codegen", (int)(slash - argv0), argv0);
        if (access(gen, X_OK) == 0)
            return;
    }
    snprintf(gen, sizeof gen, "build/codegen/mtp-codegen");
}

/* Run the generator with args; stderr goes to errpath. Returns the exit status (-1 if killed). */
static int run_gen(const char *args, const char *errpath)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>'%s'", gen, args, errpath);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc))
        return -1;
    return WEXITSTATUS(rc);
}

static int run_cmd(const char *cmd)
{
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc))
        return -1;
    return WEXITSTATUS(rc);
}

static char *read_text(const char *path)
{
    size_t n;
    return (char *)tu_read_file(path, &n);
}

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(text, 1, strlen(text), f) == strlen(text);
    return (fclose(f) == 0) && ok;
}

/* stderr without the generator's summary line ("mtp-codegen: N files written, ...") */
static char *diagnostics(const char *errpath)
{
    char *s = read_text(errpath);
    if (!s)
        return NULL;
    char *w = s;
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (strncmp(line, "mtp-codegen: ", 13) != 0) {
            memmove(w, line, len);
            w += len;
        }
        line += len;
    }
    *w = '\0';
    return s;
}

static void diag_first_difference(const char *name, const char *got, const char *want)
{
    int line = 1;
    const char *g = got, *w = want;
    while (*g && *g == *w) {
        if (*g == '\n')
            line++;
        g++;
        w++;
    }
    const char *gl = g, *wl = w;
    while (gl > got && gl[-1] != '\n')
        gl--;
    while (wl > want && wl[-1] != '\n')
        wl--;
    tap_diag("%s differs at line %d:", name, line);
    tap_diag("  got:  %.*s", (int)strcspn(gl, "\n"), gl);
    tap_diag("  want: %.*s", (int)strcspn(wl, "\n"), wl);
}

static void compare_golden(const char *outdir, const char *name, const char *got, bool update)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, name);
    if (update) {
        char dir[1200];
        snprintf(dir, sizeof dir, "mkdir -p \"$(dirname '%s')\"", path);
        run_cmd(dir);
        OK(got && write_text(path, got), "golden %s updated", name);
        return;
    }
    char *want = read_text(path);
    bool same = got && want && strcmp(got, want) == 0;
    OK(same, "golden %s (generated in %s)", name, outdir);
    if (!same && got && want)
        diag_first_difference(name, got, want);
    if (!want)
        tap_diag("missing %s (MTP_UPDATE_GOLDEN=1 creates it)", path);
    free(want);
}

static void test_golden(void)
{
    bool update = getenv("MTP_UPDATE_GOLDEN") && *getenv("MTP_UPDATE_GOLDEN");
    char out[320], errp[320], args[2048];
    snprintf(out, sizeof out, "%s/golden", tmp);
    snprintf(errp, sizeof errp, "%s/golden.err", tmp);
    snprintf(args, sizeof args, "--out '%s' " GOLDEN_ARGS, out);
    IS_INT(run_gen(args, errp), 0, "golden schemas generate");

    for (int i = 0; outputs[i]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", out, outputs[i]);
        char *got = read_text(path);
        compare_golden(out, outputs[i], got, update);
        free(got);
    }
    char *err = diagnostics(errp);
    compare_golden(out, "stderr.txt", err, update);
    OK(err && strstr(err, "tests/codegen/api.tl:19: warning:") && strstr(err, "sample.wrongId"),
       "id mismatch warned with file:line");
    OK(err && !strstr(err, "msg_container"), "known id exception (msg_container) not warned");
    free(err);

    /* a second run rewrites nothing */
    struct stat before, after;
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/tl_api100.c", out);
    OK(stat(probe, &before) == 0, "stat generated file");
    sleep(1);
    IS_INT(run_gen(args, errp), 0, "second run");
    char *e2 = read_text(errp);
    char *summary = e2 ? strstr(e2, "mtp-codegen: ") : NULL;
    if (summary)
        summary[strcspn(summary, "\n")] = '\0';
    OK(summary && strstr(summary, "0 files written, 7 unchanged"), "second run writes nothing (%s)",
       summary ? summary : "?");
    free(e2);
    OK(stat(probe, &after) == 0 && after.st_mtime == before.st_mtime, "mtime unchanged");

    /* the generated code compiles cleanly with the project's warnings */
    const char *cc = getenv("CC");
    if (!cc || !*cc)
        cc = "cc";
    char cmd[4096], cwd[1024];
    if (!getcwd(cwd, sizeof cwd))
        tap_bail("getcwd: %s", strerror(errno));
    snprintf(cmd, sizeof cmd, "%s --version >/dev/null 2>&1", cc);
    if (run_cmd(cmd) != 0) {
        tap_skip("no C compiler", 2);
        return;
    }
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for f in *.c; do %s " CFLAGS_CHECK " -I'%s/include' -I'%s/include' "
             "-I'%s' -I'%s/src' $f || exit 1; done",
             out, cc, out, cwd, out, cwd);
    IS_INT(run_cmd(cmd), 0, "generated golden sources compile (-Wall -Wextra -Werror ...)");

    char out2[320];
    snprintf(out2, sizeof out2, "%s/all", tmp);
    snprintf(args, sizeof args, "--all-codecs --quiet --out '%s' " GOLDEN_ARGS, out2);
    int rc = run_gen(args, errp);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for f in *.c; do %s " CFLAGS_CHECK " -I'%s/include' -I'%s/include' "
             "-I'%s' -I'%s/src' $f || exit 1; done",
             out2, cc, out2, cwd, out2, cwd);
    OK(rc == 0 && run_cmd(cmd) == 0, "--all-codecs output compiles");
}

/* ---- malformed schemas ---- */

typedef struct bad_case {
    const char *what;
    const char *text;
    int line;                 /* expected line of the diagnostic */
    const char *msg;          /* expected substring */
    bool as_service;          /* the bad file is the service schema */
} bad_case;

static const bad_case bad_cases[] = {
    { "unknown boxed type", "// c\n\na#00000001 x:Foo = A;\n", 3, "unknown type 'Foo'", false },
    { "unknown bare type", "a#00000001 x:foo_bar = A;\n", 1, "unknown type 'foo_bar'", false },
    { "unknown type inside a vector", "a#00000001 x:Vector<Nope> = A;\n", 1, "unknown type 'Nope'", false },
    { "unknown result type of a method", "---functions---\nf#00000001 = Nope;\n", 2, "unknown type 'Nope'", false },
    { "flag word not declared", "a#00000001 x:flags.0?int = A;\n", 1, "not a '#' parameter declared before", false },
    { "flag word declared later", "a#00000001 x:flags.0?int flags:# = A;\n", 1, "not a '#' parameter declared before", false },
    { "flag word is not #", "a#00000001 n:int x:n.0?int = A;\n", 1, "not a '#' parameter", false },
    { "flag bit > 31", "a#00000001 flags:# x:flags.32?int = A;\n", 1, "out of range", false },
    { "flag bit not a number", "a#00000001 flags:# x:flags.x?int = A;\n", 1, "out of range", false },
    { "malformed condition", "a#00000001 flags:# x:flags?int = A;\n", 1, "malformed condition", false },
    { "bad id (not hex)", "a#xyz = A;\n", 1, "bad constructor id", false },
    { "bad id (too long)", "a#123456789 = A;\n", 1, "bad constructor id", false },
    { "empty id", "a# = A;\n", 1, "bad constructor id", false },
    { "unterminated declaration", "b#00000002 = B;\na#00000001 x:int = A\n", 2, "missing ';'", false },
    { "two declarations on a line", "a#00000001 = A; b#00000002 = B;\n", 1, "after ';'", false },
    { "missing '='", "a#00000001 x:int;\n", 1, "missing '='", false },
    { "missing result", "a#00000001 x:int =;\n", 1, "missing", false },
    { "duplicate name", "a#00000001 = A;\na#00000002 = A;\n", 2, "duplicate combinator 'a'", false },
    { "duplicate id", "a#00000001 = A;\nb#00000001 = A;\n", 2, "duplicate id", false },
    { "duplicate parameter", "a#00000001 x:int x:long = A;\n", 1, "duplicate parameter", false },
    { "unbalanced '<' ", "a#00000001 x:Vector<int = A;\n", 1, "unbalanced '<>'", false },
    { "unbalanced '>'", "a#00000001 x:Vector<int>> = A;\n", 1, "unbalanced '<>'", false },
    { "constructor result not a boxed type", "a#00000001 = a;\n", 1, "must be a boxed type", false },
    { "upper-case combinator name", "A#00000001 = A;\n", 1, "lower-case", false },
    { "! without a type variable", "---functions---\nf#00000001 q:!X = X;\n", 2, "type variable", false },
    { "malformed generic", "---functions---\nf#00000001 {X} q:!X = X;\n", 2, "malformed generic", false },
    { "bare type with two constructors", "a#00000001 = A;\nb#00000002 = A;\nc#00000003 x:%A = C;\n", 3, "exactly one constructor", false },
    { "a method is not a bare type", "---functions---\nf#00000001 = Bool;\n---types---\na#00000002 x:f = A;\n", 4, "unknown type 'f'", false },
    { "vector of true", "a#00000001 x:Vector<true> = A;\n", 1, "not supported", false },
    { "type argument on a non-vector", "a#00000001 x:User<int> = A;\n", 1, "type argument", false },
    { "vector without argument", "a#00000001 x:Vector = A;\n", 1, "needs a type argument", false },
    { "unknown section", "---methods---\n", 1, "unknown section", false },
    { "parameter without type", "a#00000001 x = A;\n", 1, "malformed parameter", false },
    { "conditional # word", "a#00000001 flags:# f2:flags.0?# = A;\n", 1, "cannot be conditional", false },
    { "error in the service schema", "ok#00000001 = Ok;\nbad#00000002 x:Missing = Bad;\n", 2, "unknown type 'Missing'", true },
};

static void test_malformed(void)
{
    char bad[320], errp[320], args[2048];
    snprintf(bad, sizeof bad, "%s/bad.tl", tmp);
    snprintf(errp, sizeof errp, "%s/bad.err", tmp);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        if (!write_text(bad, c->text))
            tap_bail("cannot write %s", bad);
        if (c->as_service)
            snprintf(args, sizeof args, "--check --service '%s' --layer 100:tests/codegen/api.tl", bad);
        else
            snprintf(args, sizeof args, "--check --service tests/codegen/service.tl --layer 7:'%s'", bad);
        int rc = run_gen(args, errp);
        char *err = read_text(errp);
        char where[400];
        snprintf(where, sizeof where, "%s:%d: ", bad, c->line);
        bool ok = rc == 1 && err && strstr(err, where) && strstr(err, c->msg);
        OK(ok, "malformed: %s -> exit 1, '%s...%s'", c->what, where, c->msg);
        if (!ok)
            tap_diag("exit %d, stderr: %s", rc, err ? err : "(none)");
        free(err);
    }
}

static void test_cli(void)
{
    char errp[320], args[1024];
    snprintf(errp, sizeof errp, "%s/cli.err", tmp);
    IS_INT(run_gen("--service tests/codegen/service.tl", errp), 2, "no --out: usage error");
    IS_INT(run_gen("--out /nonexistent --service tests/codegen/service.tl --layer x:y", errp), 2,
           "bad --layer: usage error");
    IS_INT(run_gen("--check --service tests/codegen/service.tl --layer 5:a --layer 5:b", errp), 2,
           "layer given twice: usage error");
    IS_INT(run_gen("--bogus", errp), 2, "unknown option: usage error");
    snprintf(args, sizeof args, "--check --service %s/does-not-exist.tl", tmp);
    int rc = run_gen(args, errp);
    char *err = read_text(errp);
    OK(rc == 1 && err && strstr(err, "does-not-exist.tl: error: cannot open"),
       "missing schema file: exit 1 with the file name");
    free(err);
    IS_INT(run_gen("--help", errp), 0, "--help");
}

static void test_real_schemas(void)
{
    char errp[320];
    snprintf(errp, sizeof errp, "%s/real.err", tmp);
    double t0 = tu_now();
    int rc = run_gen("--check --service tl/mtproto.tl --layer 228:tl/api.tl --layer 227:tl/api-227.tl "
                     "--layer 198:tl/api-198.tl", errp);
    double dt = tu_now() - t0;
    char *err = read_text(errp);
    OK(rc == 0 && err && !*err, "tl/*.tl parse and resolve with no diagnostics%s%s",
       err && *err ? ": " : "", err && *err ? err : "");
    free(err);
    OK(dt < 10.0, "checking the real schemas is fast (%.2f s)", dt);
}

int main(int argc, char **argv)
{
    (void)argc;
    find_generator(argv[0]);
    if (access(gen, X_OK) != 0)
        tap_bail("generator %s not found (build it, or set MTP_CODEGEN)", gen);
    snprintf(tmp, sizeof tmp, "/tmp/mtp-test-codegen-XXXXXX");
    if (!mkdtemp(tmp))
        tap_bail("mkdtemp: %s", strerror(errno));

    test_golden();
    test_malformed();
    test_cli();
    test_real_schemas();

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    run_cmd(cmd);
    return tap_done();
}
