/* Test support: TAP, a small JSON DOM, hex helpers. See testutil.h. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

static int tap_n, tap_failed, tap_planned;

void tap_plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

static int tap_vok(int cond, const char *fmt, va_list ap)
{
    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    vprintf(fmt, ap);
    printf("\n");
    if (!cond)
        tap_failed++;
    fflush(stdout);
    return cond;
}

int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = tap_vok(cond, fmt, ap);
    va_end(ap);
    return r;
}

/* With MTP_SKIP_LOG set (make test sets it), every skip also appends one record
 * "kind<TAB>program<TAB>group<TAB>count<TAB>reason" to that file, which tests/skips.sh
 * summarises after prove's own summary. */
static void skip_record(const char *kind, const char *group, const char *reason, int count)
{
    const char *log = getenv("MTP_SKIP_LOG");
    if (!log || !*log || count <= 0)
        return;
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    if (n <= 0)
        snprintf(exe, sizeof exe, "?");
    char line[1024];
    int len = snprintf(line, sizeof line, "%s\t%s\t%s\t%d\t", kind, exe, group, count);
    if (len < 0 || (size_t)len >= sizeof line)
        return;
    for (const char *r = reason; *r && (size_t)len < sizeof line - 2; r++)
        line[len++] = (*r == '\t' || *r == '\n') ? ' ' : *r;
    line[len++] = '\n';
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)len) != (ssize_t)len)
        fprintf(stderr, "skip log %s: short write\n", log);
    close(fd);
}

void tap_skip_group(const char *kind, const char *group, const char *reason, int count)
{
    skip_record(kind, group, reason, count);
    for (int i = 0; i < count; i++) {
        tap_n++;
        printf("ok %d # skip %s\n", tap_n, reason);
    }
    fflush(stdout);
}

void tap_skip(const char *reason, int count)
{
    tap_skip_group("other", "", reason, count);
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    fputs("\n", stdout);
    va_end(ap);
    fflush(stdout);
}

int tap_done(void)
{
    if (!tap_planned)
        printf("1..%d\n", tap_n);
    else if (tap_planned != tap_n)
        printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
    fflush(stdout);
    return (tap_failed || (tap_planned && tap_planned != tap_n)) ? 1 : 0;
}

void tap_bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("Bail out! ", stdout);
    vprintf(fmt, ap);
    fputs("\n", stdout);
    va_end(ap);
    fflush(stdout);
    exit(255);
}

int tap_mem_eq(const void *got, const void *want, size_t n, const char *fmt, ...)
{
    int eq = (n == 0) || (got && want && memcmp(got, want, n) == 0);
    va_list ap;
    va_start(ap, fmt);
    tap_vok(eq, fmt, ap);
    va_end(ap);
    if (!eq) {
        char *g = got ? tu_hex(got, n) : NULL, *w = want ? tu_hex(want, n) : NULL;
        tap_diag("     got: %s", g ? g : "(null)");
        tap_diag("expected: %s", w ? w : "(null)");
        free(g);
        free(w);
    }
    return eq;
}

int tap_int_eq(long long got, long long want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vok(got == want, fmt, ap);
    va_end(ap);
    if (got != want)
        tap_diag("got %lld, expected %lld", got, want);
    return got == want;
}

/* ---------------- JSON DOM ---------------- */

typedef struct {
    const char *p, *end;
    int depth;
    int err;
} jp;

static void jws(jp *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static tj *jnew(tj_kind k)
{
    tj *v = calloc(1, sizeof *v);
    if (!v)
        abort();
    v->kind = k;
    return v;
}

static void jput_utf8(char **buf, size_t *len, size_t *cap, unsigned cp)
{
    char tmp[4];
    size_t n;
    if (cp < 0x80) { tmp[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { tmp[0] = (char)(0xc0 | (cp >> 6)); tmp[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }
    else if (cp < 0x10000) {
        tmp[0] = (char)(0xe0 | (cp >> 12)); tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
    } else {
        tmp[0] = (char)(0xf0 | (cp >> 18)); tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); tmp[3] = (char)(0x80 | (cp & 0x3f)); n = 4;
    }
    if (*len + n + 1 > *cap) {
        *cap = (*cap + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            abort();
    }
    memcpy(*buf + *len, tmp, n);
    *len += n;
}

static int jhex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static char *jstring(jp *s, size_t *outlen)
{
    if (s->p >= s->end || *s->p != '"') { s->err = 1; return NULL; }
    s->p++;
    size_t len = 0, cap = 16;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    while (s->p < s->end && *s->p != '"') {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '\\') {
            if (s->p >= s->end) break;
            char e = *s->p++;
            unsigned cp;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = 8; break;
            case 'f': cp = 12; break;
            case 'n': cp = 10; break;
            case 'r': cp = 13; break;
            case 't': cp = 9; break;
            case 'u':
                if (s->end - s->p < 4 || jhex4(s->p, &cp)) { s->err = 1; free(buf); return NULL; }
                s->p += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
                    unsigned lo;
                    if (!jhex4(s->p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        s->p += 6;
                    }
                }
                break;
            default: s->err = 1; free(buf); return NULL;
            }
            jput_utf8(&buf, &len, &cap, cp);
        } else {
            if (len + 2 > cap) {
                cap *= 2;
                buf = realloc(buf, cap);
                if (!buf)
                    abort();
            }
            buf[len++] = (char)c;
        }
    }
    if (s->p >= s->end) { s->err = 1; free(buf); return NULL; }
    s->p++;
    buf[len] = 0;
    *outlen = len;
    return buf;
}

static tj *jvalue(jp *s);

static tj *jcontainer(jp *s, int obj)
{
    tj *v = jnew(obj ? TJ_OBJ : TJ_ARR);
    size_t cap = 0;
    s->p++;
    if (++s->depth > 200) { s->err = 1; return v; }
    jws(s);
    if (s->p < s->end && *s->p == (obj ? '}' : ']')) { s->p++; s->depth--; return v; }
    for (;;) {
        char *key = NULL;
        jws(s);
        if (obj) {
            size_t kl;
            key = jstring(s, &kl);
            if (!key) { s->err = 1; return v; }
            jws(s);
            if (s->p >= s->end || *s->p != ':') { free(key); s->err = 1; return v; }
            s->p++;
        }
        tj *item = jvalue(s);
        if (v->len == cap) {
            cap = cap ? cap * 2 : 8;
            v->items = realloc(v->items, cap * sizeof *v->items);
            if (obj)
                v->keys = realloc(v->keys, cap * sizeof *v->keys);
            if (!v->items || (obj && !v->keys))
                abort();
        }
        v->items[v->len] = item;
        if (obj)
            v->keys[v->len] = key;
        v->len++;
        if (s->err) return v;
        jws(s);
        if (s->p < s->end && *s->p == ',') { s->p++; continue; }
        if (s->p < s->end && *s->p == (obj ? '}' : ']')) { s->p++; break; }
        s->err = 1;
        return v;
    }
    s->depth--;
    return v;
}

static tj *jvalue(jp *s)
{
    jws(s);
    if (s->p >= s->end) { s->err = 1; return jnew(TJ_NULL); }
    char c = *s->p;
    if (c == '{' || c == '[')
        return jcontainer(s, c == '{');
    if (c == '"') {
        tj *v = jnew(TJ_STR);
        v->str = jstring(s, &v->len);
        if (!v->str) { v->str = calloc(1, 1); s->err = 1; }
        return v;
    }
    if (s->end - s->p >= 4 && !memcmp(s->p, "true", 4)) { s->p += 4; tj *v = jnew(TJ_BOOL); v->b = true; return v; }
    if (s->end - s->p >= 5 && !memcmp(s->p, "false", 5)) { s->p += 5; return jnew(TJ_BOOL); }
    if (s->end - s->p >= 4 && !memcmp(s->p, "null", 4)) { s->p += 4; return jnew(TJ_NULL); }
    const char *st = s->p;
    while (s->p < s->end && strchr("+-0123456789.eE", *s->p))
        s->p++;
    if (s->p == st) { s->err = 1; return jnew(TJ_NULL); }
    tj *v = jnew(TJ_NUM);
    size_t n = (size_t)(s->p - st);
    v->numtext = malloc(n + 1);
    if (!v->numtext)
        abort();
    memcpy(v->numtext, st, n);
    v->numtext[n] = 0;
    v->num = strtod(v->numtext, NULL);
    return v;
}

tj *tj_parse(const char *text, size_t len)
{
    jp s = { text, text + len, 0, 0 };
    tj *v = jvalue(&s);
    jws(&s);
    if (s.err || s.p != s.end) {
        tj_free(v);
        return NULL;
    }
    return v;
}

tj *tj_load(const char *path)
{
    size_t n;
    uint8_t *data = tu_read_file(path, &n);
    if (!data)
        tap_bail("cannot read %s: %s", path, strerror(errno));
    tj *v = tj_parse((const char *)data, n);
    free(data);
    if (!v)
        tap_bail("invalid JSON in %s", path);
    return v;
}

void tj_free(tj *v)
{
    if (!v)
        return;
    for (size_t i = 0; (v->kind == TJ_ARR || v->kind == TJ_OBJ) && i < v->len; i++) {
        tj_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v->numtext);
    free(v);
}

const tj *tj_get(const tj *obj, const char *key)
{
    if (!obj || obj->kind != TJ_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (!strcmp(obj->keys[i], key))
            return obj->items[i];
    return NULL;
}

const tj *tj_at(const tj *arr, size_t i)
{
    if (!arr || (arr->kind != TJ_ARR && arr->kind != TJ_OBJ) || i >= arr->len)
        return NULL;
    return arr->items[i];
}

const tj *tj_path(const tj *v, const char *dotted)
{
    char part[256];
    while (v && *dotted) {
        const char *dot = strchr(dotted, '.');
        size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, dotted, n);
        part[n] = 0;
        if (v->kind == TJ_ARR) {
            char *e;
            unsigned long idx = strtoul(part, &e, 10);
            v = (*e || e == part) ? NULL : tj_at(v, idx);
        } else {
            v = tj_get(v, part);
        }
        dotted += n + (dot ? 1 : 0);
    }
    return v;
}

size_t tj_len(const tj *v)
{
    return v ? v->len : 0;
}

const char *tj_str(const tj *v)
{
    return (v && v->kind == TJ_STR) ? v->str : NULL;
}

long long tj_int(const tj *v)
{
    if (!v)
        return 0;
    if (v->kind == TJ_NUM)
        return strpbrk(v->numtext, ".eE") ? (long long)v->num : strtoll(v->numtext, NULL, 10);
    if (v->kind == TJ_STR)
        return strtoll(v->str, NULL, 0);
    if (v->kind == TJ_BOOL)
        return v->b;
    return 0;
}

unsigned long long tj_uint(const tj *v)
{
    if (!v)
        return 0;
    if (v->kind == TJ_NUM)
        return strtoull(v->numtext, NULL, 10);
    if (v->kind == TJ_STR)
        return strtoull(v->str, NULL, 0);
    return 0;
}

size_t tj_hex(const tj *v, uint8_t **out)
{
    *out = NULL;
    if (!v || v->kind != TJ_STR)
        return (size_t)-1;
    return tu_unhex(v->str, out);
}

/* ---------------- seeded generator ---------------- */

static tu_rng_t tu_default_rng = { TU_RNG_SEED };

void tu_rng_seed(tu_rng_t *r, uint64_t seed)
{
    (r ? r : &tu_default_rng)->s = seed ? seed : 1;
}

uint64_t tu_rng_next(tu_rng_t *r)
{
    uint64_t *s = &(r ? r : &tu_default_rng)->s;
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

uint64_t tu_rng_below(tu_rng_t *r, uint64_t n)
{
    return n ? tu_rng_next(r) % n : 0;
}

void tu_rng_fill(tu_rng_t *r, void *out, size_t n)
{
    uint8_t *p = out;
    while (n >= 8) {
        uint64_t v = tu_rng_next(r);
        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)tu_rng_next(r);
}

int tu_rng_mtp_fill(void *ctx, uint8_t *out, size_t n)
{
    tu_rng_fill(ctx, out, n);
    return 0;
}

/* ---------------- misc ---------------- */

size_t tu_unhex(const char *hex, uint8_t **out)
{
    size_t n = strlen(hex);
    if (n >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
        hex += 2;
        n -= 2;
    }
    *out = NULL;
    if (n % 2)
        return (size_t)-1;
    uint8_t *b = malloc(n / 2 + 1);
    if (!b)
        abort();
    if (mtp_hex_decode(hex, n / 2, b) != 0) {
        free(b);
        return (size_t)-1;
    }
    *out = b;
    return n / 2;
}

char *tu_hex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (!s)
        abort();
    mtp_hex_encode(p, n, s);
    s[2 * n] = 0;
    return s;
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap + 1);
    if (!b)
        abort();
    for (;;) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        cap *= 2;
        b = realloc(b, cap + 1);
        if (!b)
            abort();
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return NULL;
    }
    b[n] = 0;
    if (len)
        *len = n;
    return b;
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tu_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;   /* the directory stream's own fd */
}
