/*
 * Differential test against an independent TL implementation: mtcute (npm @mtcute/core 0.31.0
 * for layer 228, 0.30.3 for layer 227) generates random valid objects covering every constructor
 * and method; `mtproto-tl decode --json --lines` must give mtcute's canonical JSON on every line
 * and `mtproto-tl encode --lines` must give back the exact bytes.
 *
 * Skipped loudly (TAP skip with the reason) when the npm packages cannot be installed.
 * MTP_DIFF_COUNT overrides the number of objects per layer (default 20000).
 */
#include <mtproto/tl.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char tool[1024];

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : 128);
}

/* Split a file of lines into an array (in place). */
static char **lines_of(char *text, size_t *count)
{
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof *v);
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    *count = n;
    return v;
}

static void diff_layer(int layer, int count, const char *dir)
{
    char cmd[4096], gen[512], hex[512], json[512], outj[512], outh[512];
    snprintf(gen, sizeof gen, "%s/gen%d.txt", dir, layer);
    snprintf(hex, sizeof hex, "%s/hex%d.txt", dir, layer);
    snprintf(json, sizeof json, "%s/json%d.txt", dir, layer);
    snprintf(outj, sizeof outj, "%s/out%d.json", dir, layer);
    snprintf(outh, sizeof outh, "%s/out%d.hex", dir, layer);

    double t0 = tu_now();
    snprintf(cmd, sizeof cmd, "node tests/interop/tl/gen.mjs --layer %d --count %d --seed %d --out %s",
             layer, count, layer, gen);
    if (!OK(run(cmd) == 0, "layer %d: mtcute generated %d objects (%.1f s)", layer, count, tu_now() - t0))
        return;
    snprintf(cmd, sizeof cmd, "cut -f1 %s > %s && cut -f2- %s > %s", gen, hex, gen, json);
    run(cmd);

    t0 = tu_now();
    snprintf(cmd, sizeof cmd, "%s decode --json --lines --layer %d %s > %s", tool, layer, hex, outj);
    int rc = run(cmd);
    double tdec = tu_now() - t0;
    t0 = tu_now();
    snprintf(cmd, sizeof cmd, "%s encode --lines --layer %d %s > %s", tool, layer, json, outh);
    int rc2 = run(cmd);
    double tenc = tu_now() - t0;
    OK(rc == 0, "layer %d: decode --json --lines exit status 0 (%.2f s)", layer, tdec);
    OK(rc2 == 0, "layer %d: encode --lines exit status 0 (%.2f s)", layer, tenc);

    size_t nh, nj, nd, ne;
    char *th = (char *)tu_read_file(hex, NULL), *tjs = (char *)tu_read_file(json, NULL);
    char *td = (char *)tu_read_file(outj, NULL), *te = (char *)tu_read_file(outh, NULL);
    if (!th || !tjs || !td || !te) {
        OK(0, "layer %d: outputs readable", layer);
        free(th); free(tjs); free(td); free(te);
        return;
    }
    char **H = lines_of(th, &nh), **J = lines_of(tjs, &nj), **D = lines_of(td, &nd), **E = lines_of(te, &ne);
    if (nh && !*H[nh - 1]) nh--;
    if (nj && !*J[nj - 1]) nj--;
    if (nd && !*D[nd - 1]) nd--;
    if (ne && !*E[ne - 1]) ne--;
    OK(nh == (size_t)count && nd == nh && ne == nj && nj == nh, "layer %d: line counts agree (%zu %zu %zu %zu)",
       layer, nh, nj, nd, ne);

    size_t bad_dec = 0, bad_enc = 0;
    for (size_t i = 0; i < nh && i < nd; i++)
        if (strcmp(D[i], J[i])) {
            if (bad_dec++ < 5)
                tap_diag("decode mismatch line %zu:\n#   hex:    %.300s\n#   mtcute: %.600s\n#   ours:   %.600s",
                         i + 1, H[i], J[i], D[i]);
        }
    for (size_t i = 0; i < nj && i < ne; i++)
        if (strcmp(E[i], H[i])) {
            if (bad_enc++ < 5)
                tap_diag("encode mismatch line %zu:\n#   json:   %.600s\n#   mtcute: %.300s\n#   ours:   %.300s",
                         i + 1, J[i], H[i], E[i]);
        }
    OK(bad_dec == 0, "layer %d: our JSON equals mtcute's on every line (%zu mismatches)", layer, bad_dec);
    OK(bad_enc == 0, "layer %d: re-encoding gives mtcute's bytes on every line (%zu mismatches)", layer, bad_enc);

    /* coverage: every constructor and method of the layer appears as a top-level object */
    const mtp_tl_layer_t *L = mtp_tl_layer(layer);
    char *seen = calloc(L->ncombs, 1);
    for (size_t i = 0; i < nj; i++) {
        const char *p = strstr(J[i], "{\"_\":\"");
        if (!p)
            continue;
        p += 6;
        const char *q = strchr(p, '"');
        if (!q)
            continue;
        const mtp_tl_comb_t *c = mtp_tl_find_name(L, p, (size_t)(q - p));
        for (uint32_t k = 0; c && k < L->ncombs; k++)
            if (L->by_name[k] == c)
                seen[k] = 1;
    }
    uint32_t missing = 0;
    for (uint32_t k = 0; k < L->ncombs; k++) {
        const char *nm = L->by_name[k]->name;
        if (!seen[k] && strcmp(nm, "true") && strcmp(nm, "vector")) {
            if (missing++ < 5)
                tap_diag("never generated: %s", nm);
        }
    }
    OK(missing == 0, "layer %d: all %u constructors and methods covered (%u missing)", layer, L->ncombs, missing);
    free(seen);
    free(H); free(J); free(D); free(E);
    free(th); free(tjs); free(td); free(te);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* the tool of the same build: <BUILD>/tests/test_x -> <BUILD>/bin/mtproto-tl */
    snprintf(tool, sizeof tool, "%s", argv[0]);
    char *slash = strrchr(tool, '/');
    if (!slash)
        tap_bail("run me by path");
    *slash = 0;
    slash = strrchr(tool, '/');
    if (slash)
        *slash = 0;
    else
        strcpy(tool, ".");
    strncat(tool, "/bin/mtproto-tl", sizeof tool - strlen(tool) - 1);
    if (access(tool, X_OK))
        tap_bail("%s not built", tool);

    char status[512] = "unavailable: build/interop/tl.status missing (run tests/interop/setup.sh)";
    FILE *f = fopen("build/interop/tl.status", "r");
    if (f) {
        if (fgets(status, sizeof status, f))
            status[strcspn(status, "\n")] = 0;
        fclose(f);
    }
    if (strcmp(status, "ok")) {
        tap_diag("SKIPPING the mtcute differential test: %s", status);
        tap_skip_group("interop", "mtcute TL differential", status, 14);
        return tap_done();
    }
    const char *cnt = getenv("MTP_DIFF_COUNT");
    int count = cnt ? atoi(cnt) : 20000;
    char dir[] = "/tmp/mtp-diff-XXXXXX";
    if (!mkdtemp(dir))
        tap_bail("mkdtemp");
    diff_layer(228, count, dir);
    diff_layer(227, count, dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run(cmd);
    return tap_done();
}
