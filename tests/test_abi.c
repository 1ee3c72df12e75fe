/*
 * The ABI of the shared libraries: only the public mtp_ API is exported.
 *
 * Runs nm -D --defined-only on <BUILD>/lib/libmtproto.so and libmtproto-harness.so and
 * fails on any exported name that does not start with mtp_ (the linker's own _init /
 * _fini excepted); checks that the internal functions and test hooks that the static
 * archives define (srv_*, msgid_next, inwin_*, names ending in '_') are not exported;
 * that the harness lives in libmtproto-harness.so and not in libmtproto.so; the sonames
 * and the versioned file names; and that the version the library reports at run time
 * (linked statically, and the .so loaded with dlopen) equals the headers' MTP_VERSION_*.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mtproto/common.h>

#include "testutil.h"

#define MAXSYMS 20000

typedef struct symlist {
    char **name;
    size_t n;
} symlist_t;

static char build[512];

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Defined global names from `cmd` (nm output: "addr type name" or "type name"). With
 * globals_only, only upper-case (global) types are kept. */
static symlist_t nm_list(const char *cmd, bool globals_only)
{
    symlist_t l = { calloc(MAXSYMS, sizeof(char *)), 0 };
    FILE *f = popen(cmd, "r");
    char line[1024];
    if (!f || !l.name)
        tap_bail("cannot run %s", cmd);
    while (fgets(line, sizeof line, f) && l.n < MAXSYMS) {
        char a[256], b[256], c[512];
        int k = sscanf(line, "%255s %255s %511s", a, b, c);
        const char *type = k == 3 ? b : k == 2 ? a : NULL, *name = k == 3 ? c : k == 2 ? b : NULL;
        if (!type || strlen(type) != 1 || !name)
            continue;
        if (globals_only && !(type[0] >= 'A' && type[0] <= 'Z' && type[0] != 'U'))
            continue;
        char *at = strchr(name, '@');   /* versioned names: name@@VER */
        if (at)
            *at = 0;
        l.name[l.n++] = strdup(name);
    }
    pclose(f);
    qsort(l.name, l.n, sizeof *l.name, by_name);
    return l;
}

static bool has(const symlist_t *l, const char *name)
{
    return bsearch(&name, l->name, l->n, sizeof *l->name, by_name) != NULL;
}

static void list_free(symlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->name[i]);
    free(l->name);
}

static bool linker_own(const char *s)
{
    return !strcmp(s, "_init") || !strcmp(s, "_fini");
}

/* Every exported name starts with mtp_; offenders are printed. */
static void check_prefix(const char *lib, const symlist_t *dyn)
{
    size_t bad = 0;
    for (size_t i = 0; i < dyn->n; i++)
        if (strncmp(dyn->name[i], "mtp_", 4) != 0 && !linker_own(dyn->name[i])) {
            if (bad++ < 50)
                tap_diag("%s exports %s", lib, dyn->name[i]);
        }
    IS_INT(bad, 0, "%s: every exported name starts with mtp_ (%zu exported)", lib, dyn->n);
}

/* The archive's own globals that are internal by convention (no mtp_ prefix, or a
 * trailing '_': the test hooks and cross-file helpers) are not exported by the .so. */
static void check_internal_hidden(const char *lib, const symlist_t *arch, const symlist_t *dyn)
{
    size_t internal = 0, leaked = 0;
    for (size_t i = 0; i < arch->n; i++) {
        const char *s = arch->name[i];
        size_t n = strlen(s);
        if (strncmp(s, "mtp_", 4) == 0 && s[n - 1] != '_')
            continue;
        internal++;
        if (has(dyn, s) && leaked++ < 50)
            tap_diag("%s exports the internal %s", lib, s);
    }
    OK(internal > 0, "%s: the archive has internal globals to check (%zu)", lib, internal);
    IS_INT(leaked, 0, "%s: none of the archive's %zu internal globals is exported", lib, internal);
}

/* Named internal functions: defined in the archive, absent from the .so. A name the
 * archive no longer defines (renamed by a refactoring) is skipped, not passed. */
static void check_named_absent(const char *lib, const symlist_t *arch, const symlist_t *dyn,
                               const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!has(arch, names[i])) {
            tap_skip(names[i], 1);
            continue;
        }
        OK(!has(dyn, names[i]), "%s: internal %s is defined in the archive but not exported", lib,
           names[i]);
    }
}

static void check_named_present(const char *lib, const symlist_t *dyn, const char *const *names,
                                size_t n)
{
    for (size_t i = 0; i < n; i++)
        OK(has(dyn, names[i]), "%s exports %s", lib, names[i]);
}

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : 128);
}

static void test_libmtproto(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/lib/libmtproto.so", build);
    symlist_t dyn = nm_list(cmd, false);
    snprintf(cmd, sizeof cmd, "nm --defined-only %s/lib/libmtproto.a 2>/dev/null", build);
    symlist_t arch = nm_list(cmd, true);
    OK(dyn.n > 100, "libmtproto.so exports the API (%zu names)", dyn.n);
    check_prefix("libmtproto.so", &dyn);
    check_internal_hidden("libmtproto.so", &arch, &dyn);
    static const char *const internal[] = { "msgid_next", "inwin_init", "inwin_insert",
                                            "idmap_put", "mtp_aes_ctr_init_evp_",
                                            "mtp_aes_ctr_init_", "mtp_transport_init_client_",
                                            "mtp_transport_clear_" };
    check_named_absent("libmtproto.so", &arch, &dyn, internal, sizeof internal / sizeof *internal);
    static const char *const api[] = { "mtp_version", "mtp_version_num", "mtp_strerror",
                                       "mtp_tl_encode", "mtp_transport_new_client",
                                       "mtp_transport_free", "mtp_aes_ctr_new",
                                       "mtp_aes_ctr_free", "mtp_client_new",
                                       "mtp_tl_layer_mtproto" };
    check_named_present("libmtproto.so", &dyn, api, sizeof api / sizeof *api);
    size_t server = 0;
    for (size_t i = 0; i < dyn.n; i++)
        if (!strncmp(dyn.name[i], "mtp_server_", 11) || !strncmp(dyn.name[i], "srv_", 4))
            server++;
    IS_INT(server, 0, "libmtproto.so carries no harness (mtp_server_*)");
    snprintf(cmd, sizeof cmd, "objdump -p %s/lib/libmtproto.so | grep -q 'SONAME *libmtproto.so.0$'",
             build);
    OK(sh(cmd) == 0, "libmtproto.so has soname libmtproto.so.0");
    struct stat st;
    snprintf(cmd, sizeof cmd, "%s/lib/libmtproto.so.%s", build, MTP_VERSION_STRING);
    OK(lstat(cmd, &st) == 0 && S_ISREG(st.st_mode), "libmtproto.so.%s is the file", MTP_VERSION_STRING);
    snprintf(cmd, sizeof cmd, "test \"$(readlink %s/lib/libmtproto.so.0)\" = libmtproto.so.%s",
             build, MTP_VERSION_STRING);
    OK(sh(cmd) == 0, "libmtproto.so.0 links to libmtproto.so.%s", MTP_VERSION_STRING);
    list_free(&dyn);
    list_free(&arch);
}

static void test_harness_lib(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/lib/libmtproto-harness.so", build);
    symlist_t dyn = nm_list(cmd, false);
    snprintf(cmd, sizeof cmd, "nm --defined-only %s/lib/libmtproto-harness.a 2>/dev/null", build);
    symlist_t arch = nm_list(cmd, true);
    check_prefix("libmtproto-harness.so", &dyn);
    check_internal_hidden("libmtproto-harness.so", &arch, &dyn);
    static const char *const internal[] = { "srv_accept", "srv_handle_query", "srv_key_find" };
    check_named_absent("libmtproto-harness.so", &arch, &dyn, internal,
                       sizeof internal / sizeof *internal);
    static const char *const api[] = { "mtp_server_new", "mtp_server_start", "mtp_server_free",
                                       "mtp_server_ports" };
    check_named_present("libmtproto-harness.so", &dyn, api, sizeof api / sizeof *api);
    size_t core = 0;
    for (size_t i = 0; i < dyn.n; i++)
        if (strncmp(dyn.name[i], "mtp_server_", 11) != 0)
            core++;
    IS_INT(core, 0, "libmtproto-harness.so exports only mtp_server_* (the core stays in libmtproto)");
    snprintf(cmd, sizeof cmd, "objdump -p %s/lib/libmtproto-harness.so | grep -q 'NEEDED *libmtproto.so.0$'",
             build);
    OK(sh(cmd) == 0, "libmtproto-harness.so is linked against libmtproto.so.0");
    /* the core is used from libmtproto.so, not copied: no function the core exports is
     * defined in the harness library (its full symbol table, local names included) */
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/lib/libmtproto.so", build);
    symlist_t core_api = nm_list(cmd, false);
    snprintf(cmd, sizeof cmd, "nm --defined-only %s/lib/libmtproto-harness.so 2>/dev/null", build);
    symlist_t all = nm_list(cmd, false);
    size_t copied = 0;
    for (size_t i = 0; i < all.n; i++)
        if (has(&core_api, all.name[i]) && copied++ < 20)
            tap_diag("libmtproto-harness.so carries a copy of %s", all.name[i]);
    OK(all.n > dyn.n, "libmtproto-harness.so has a symbol table (%zu names)", all.n);
    IS_INT(copied, 0, "libmtproto-harness.so copies none of libmtproto's %zu exported names",
           core_api.n);
    list_free(&core_api);
    list_free(&all);
    list_free(&dyn);
    list_free(&arch);
}

static void test_version(void)
{
    IS_INT(mtp_version_num(), MTP_VERSION_NUM, "mtp_version_num() == MTP_VERSION_NUM (static)");
    OK(strcmp(mtp_version(), MTP_VERSION_STRING) == 0, "mtp_version() == \"%s\"", MTP_VERSION_STRING);
    char v[64];
    snprintf(v, sizeof v, "%d.%d.%d", MTP_VERSION_MAJOR, MTP_VERSION_MINOR, MTP_VERSION_PATCH);
    OK(strcmp(v, MTP_VERSION_STRING) == 0, "MTP_VERSION_STRING agrees with MAJOR.MINOR.PATCH");
    IS_INT(MTP_VERSION_NUM, (MTP_VERSION_MAJOR << 16) | (MTP_VERSION_MINOR << 8) | MTP_VERSION_PATCH,
           "MTP_VERSION_NUM packs MAJOR.MINOR.PATCH");

    char path[700];
    snprintf(path, sizeof path, "%s/lib/libmtproto.so.0", build);
    if (strstr(build, "asan") || strstr(build, "fuzz")) {
        tap_skip("dlopen of an instrumented .so", 2);
        return;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!OK(h != NULL, "dlopen %s", path)) {
        tap_diag("%s", dlerror());
        tap_skip("no .so", 1);
        return;
    }
    unsigned (*num)(void) = NULL;
    *(void **)&num = dlsym(h, "mtp_version_num");
    OK(num && num() == MTP_VERSION_NUM, "the shared library's mtp_version_num() == MTP_VERSION_NUM");
    dlclose(h);
}

int main(int argc, char **argv)
{
    (void)argc;
    snprintf(build, sizeof build, "%s", argv[0]);   /* <BUILD>/tests/test_abi */
    char *s = strrchr(build, '/');
    if (!s)
        tap_bail("run me by path");
    *s = 0;
    s = strrchr(build, '/');
    if (!s)
        tap_bail("unexpected path %s", argv[0]);
    *s = 0;
    TU_CASE(test_libmtproto);
    TU_CASE(test_harness_lib);
    TU_CASE(test_version);
    return tap_done();
}
