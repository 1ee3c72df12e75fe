/*
 * The layout rules of the code base (HACKING.md), checked on the sources themselves.
 * Run from the repository root.
 *
 *  1. No file in src/ over 1,200 lines (generated code lives in build/gen, not in src/).
 *  2. No function in src/ or tools/ over 150 lines. A function, in this code base's style,
 *     is a body that opens with a line starting with '{' and ends at the next line
 *     starting with '}'; its length counts both brace lines. Its name is the identifier
 *     before the first '(' of the nearest line above that starts in column 0.
 *  3. Every "§N" (a section number, e.g. §3.5) in src/ include/ tools/ tests/ names a
 *     heading of docs/PROTOCOL.md ("## §3.5 ..."), and every mention of PROTOCOL.md
 *     there points to docs/PROTOCOL.md.
 * Each offender is one failing test line with its file, line and size.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "testutil.h"

#define MAX_FILE_LINES 1200
#define MAX_FUNC_LINES 150

typedef struct files {
    char **path;
    size_t n, cap;
} files_t;

static bool source_name(const char *name)
{
    size_t n = strlen(name);
    return n > 2 && name[n - 2] == '.' && (name[n - 1] == 'c' || name[n - 1] == 'h');
}

static void walk(const char *dir, files_t *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(p, out);
        } else if (S_ISREG(st.st_mode) && source_name(e->d_name)) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 64;
                out->path = realloc(out->path, out->cap * sizeof *out->path);
                if (!out->path)
                    tap_bail("out of memory");
            }
            out->path[out->n++] = strdup(p);
        }
    }
    closedir(d);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void files_free(files_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->path[i]);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* The file split into lines (NUL-terminated in place); *n lines. */
static char **lines_of(const char *path, size_t *n, char **buf)
{
    size_t len;
    *buf = (char *)tu_read_file(path, &len);
    *n = 0;
    if (!*buf)
        return NULL;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += (*buf)[i] == '\n';
    char **l = malloc(cap * sizeof *l);
    char *p = *buf, *end = *buf + len;
    while (l && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        l[(*n)++] = p;
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    return l;
}

static void test_file_lengths(void)
{
    files_t f = { 0 };
    walk("src", &f);
    qsort(f.path, f.n, sizeof *f.path, by_str);
    OK(f.n > 20, "src/ has source files to check (%zu)", f.n);
    size_t bad = 0;
    for (size_t i = 0; i < f.n; i++) {
        char *buf;
        size_t n;
        char **l = lines_of(f.path[i], &n, &buf);
        if (n > MAX_FILE_LINES) {
            OK(0, "%s: %zu lines (limit %d)", f.path[i], n, MAX_FILE_LINES);
            bad++;
        }
        free(l);
        free(buf);
    }
    if (!bad)
        OK(1, "no file in src/ over %d lines", MAX_FILE_LINES);
    files_free(&f);
}

/* Name of the function whose body opens at line `open`: the identifier before '(' on the
 * nearest line above starting in column 0 (a signature may span several lines). */
static void func_name(char **l, size_t open, char *out, size_t cap)
{
    snprintf(out, cap, "?");
    for (size_t k = open; k-- > 0 && open - k <= 8;) {
        const char *s = l[k];
        if (!s[0] || s[0] == ' ' || s[0] == '\t' || s[0] == '#' || s[0] == '/' || s[0] == '*')
            continue;
        const char *par = strchr(s, '(');
        if (!par)
            continue;
        const char *e = par;
        while (e > s && e[-1] == ' ')
            e--;
        const char *b = e;
        while (b > s && (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') ||
                         (b[-1] >= 'A' && b[-1] <= 'Z') || (b[-1] >= '0' && b[-1] <= '9')))
            b--;
        snprintf(out, cap, "%.*s", (int)(e - b), b);
        return;
    }
}

static void test_function_lengths(void)
{
    files_t f = { 0 };
    walk("src", &f);
    walk("tools", &f);
    qsort(f.path, f.n, sizeof *f.path, by_str);
    size_t funcs = 0, bad = 0;
    bool saw_strerror = false;
    for (size_t i = 0; i < f.n; i++) {
        char *buf;
        size_t n;
        char **l = lines_of(f.path[i], &n, &buf);
        for (size_t a = 0; a < n; a++) {
            if (l[a][0] != '{')
                continue;
            size_t b = a + 1;
            while (b < n && l[b][0] != '}')
                b++;
            if (b == n)
                break;
            char name[128];
            func_name(l, a, name, sizeof name);
            funcs++;
            saw_strerror |= !strcmp(name, "mtp_strerror") && strstr(f.path[i], "src/tl/");
            size_t len = b - a + 1;
            if (len > MAX_FUNC_LINES) {
                OK(0, "%s:%zu: %s() is %zu lines (limit %d)", f.path[i], a + 1, name, len,
                   MAX_FUNC_LINES);
                bad++;
            }
            a = b;
        }
        free(l);
        free(buf);
    }
    OK(funcs > 500, "src/ and tools/ have functions to check (%zu)", funcs);
    OK(saw_strerror, "the rule finds a known function (mtp_strerror in src/tl)");
    if (!bad)
        OK(1, "no function in src/ or tools/ over %d lines", MAX_FUNC_LINES);
    files_free(&f);
}

/* "§N" at p (p points at the UTF-8 bytes of §, C2 A7): the section number into out. */
static bool section_at(const char *p, char *out, size_t cap)
{
    const char *q = p + 2, *s = q;
    while ((*q >= '0' && *q <= '9') || (*q == '.' && q[1] >= '0' && q[1] <= '9'))
        q++;
    if (q == s || (size_t)(q - s) >= cap)
        return false;
    snprintf(out, cap, "%.*s", (int)(q - s), s);
    return true;
}

/* The section numbers of the headings of docs/PROTOCOL.md ("#... §N title"). */
static size_t headings(char secs[][24], size_t max)
{
    char *buf;
    size_t n, k = 0;
    char **l = lines_of("docs/PROTOCOL.md", &n, &buf);
    for (size_t i = 0; l && i < n; i++) {
        if (l[i][0] != '#')
            continue;
        const char *p = strstr(l[i], "\xc2\xa7");
        if (p && k < max && section_at(p, secs[k], sizeof secs[k]))
            k++;
    }
    free(l);
    free(buf);
    return k;
}

static void test_references(void)
{
    static char secs[400][24];
    size_t nsec = headings(secs, 400);
    OK(nsec > 20, "docs/PROTOCOL.md has numbered headings (%zu)", nsec);
    files_t f = { 0 };
    walk("src", &f);
    walk("include", &f);
    walk("tools", &f);
    walk("tests", &f);
    qsort(f.path, f.n, sizeof *f.path, by_str);
    size_t refs = 0, bad = 0, mentions = 0;
    for (size_t i = 0; i < f.n; i++) {
        if (strstr(f.path[i], "test_layout.c"))
            continue;   /* this file's own comments show the notation */
        char *buf;
        size_t n;
        char **l = lines_of(f.path[i], &n, &buf);
        for (size_t a = 0; a < n; a++) {
            for (const char *p = l[a]; (p = strstr(p, "\xc2\xa7")); p += 2) {
                char sec[24];
                if (!section_at(p, sec, sizeof sec)) {
                    OK(0, "%s:%zu: a section sign without a number", f.path[i], a + 1);
                    bad++;
                    continue;
                }
                refs++;
                bool found = false;
                for (size_t k = 0; k < nsec && !found; k++)
                    found = !strcmp(secs[k], sec);
                if (!found) {
                    OK(0, "%s:%zu: §%s is no heading of docs/PROTOCOL.md", f.path[i], a + 1, sec);
                    bad++;
                }
            }
            for (const char *p = l[a]; (p = strstr(p, "PROTOCOL.md")); p += 11) {
                mentions++;
                if (p - l[a] < 5 || strncmp(p - 5, "docs/", 5) != 0) {
                    OK(0, "%s:%zu: PROTOCOL.md without docs/", f.path[i], a + 1);
                    bad++;
                }
            }
        }
        free(l);
        free(buf);
    }
    OK(refs > 30, "the sources cite sections (%zu references, %zu mentions of docs/PROTOCOL.md)",
       refs, mentions);
    if (!bad)
        OK(1, "every § reference resolves to a heading of docs/PROTOCOL.md");
    files_free(&f);
}

int main(void)
{
    TU_CASE(test_file_lengths);
    TU_CASE(test_function_lengths);
    TU_CASE(test_references);
    return tap_done();
}
