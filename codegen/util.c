/* mtp-codegen — memory, text buffers, a string map and diagnostics. */
#include "cg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- memory: a chain of blocks, all freed at exit ---- */

typedef struct blk {
    struct blk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} blk;

static blk *blocks;

static void oom(void)
{
    fprintf(stderr, "mtp-codegen: out of memory\n");
    exit(2);
}

void *cg_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!blocks || blocks->cap - blocks->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        blk *b = malloc(sizeof(blk) + cap);
        if (!b)
            oom();
        b->next = blocks;
        b->used = 0;
        b->cap = cap;
        blocks = b;
    }
    void *p = blocks->data + blocks->used;
    blocks->used += n;
    memset(p, 0, n);
    return p;
}

char *cg_strndup(const char *s, size_t n)
{
    char *p = cg_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cg_strdup(const char *s)
{
    return cg_strndup(s, strlen(s));
}

void cg_free_all(void)
{
    while (blocks) {
        blk *n = blocks->next;
        free(blocks);
        blocks = n;
    }
}

/* ---- buffers ---- */

static void buf_grow(cg_buf *b, size_t extra)
{
    if (b->cap - b->len > extra)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len <= extra)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s)
        oom();
    b->s = s;
    b->cap = cap;
}

void buf_put(cg_buf *b, const char *s, size_t n)
{
    buf_grow(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void buf_puts(cg_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_printf(cg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        buf_put(b, tmp, (size_t)n);
        return;
    }
    buf_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_free(cg_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* ---- map (open hashing; entries in the arena) ---- */

struct cg_map_ent {
    struct cg_map_ent *next;
    const char *key;
    void *val;
};

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void *map_get(const cg_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    for (struct cg_map_ent *e = m->tab[hash_str(key) & (m->cap - 1)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->val;
    return NULL;
}

void map_put(cg_map *m, const char *key, void *val)
{
    if (m->n * 2 >= m->cap) {
        size_t cap = m->cap ? m->cap * 4 : 256;
        struct cg_map_ent **tab = cg_alloc(cap * sizeof *tab);
        for (size_t i = 0; i < m->cap; i++)
            for (struct cg_map_ent *e = m->tab[i], *next; e; e = next) {
                next = e->next;
                size_t h = hash_str(e->key) & (cap - 1);
                e->next = tab[h];
                tab[h] = e;
            }
        m->tab = tab;
        m->cap = cap;
    }
    size_t h = hash_str(key) & (m->cap - 1);
    for (struct cg_map_ent *e = m->tab[h]; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            e->val = val;
            return;
        }
    struct cg_map_ent *e = cg_alloc(sizeof *e);
    e->key = key;
    e->val = val;
    e->next = m->tab[h];
    m->tab[h] = e;
    m->n++;
}

/* ---- diagnostics ---- */

int cg_nerrors;
bool cg_quiet;

void cg_error(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (line > 0)
        fprintf(stderr, "%s:%d: error: ", file, line);
    else
        fprintf(stderr, "%s: error: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cg_nerrors++;
}

void cg_warn(const char *file, int line, const char *fmt, ...)
{
    if (cg_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (line > 0)
        fprintf(stderr, "%s:%d: warning: ", file, line);
    else
        fprintf(stderr, "%s: warning: ", file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
