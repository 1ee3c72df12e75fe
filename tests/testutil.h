/*
 * Test support: TAP output, a small JSON DOM for the vector files, hex helpers.
 * Tests are run from the repository root (paths like "tests/vectors/aes_ige.json").
 */
#ifndef MTP_TESTUTIL_H
#define MTP_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"   /* little-endian access, hex (internal, static inline) */

/* ---- TAP ---- */
void tap_plan(int n);                 /* optional: "1..n" up front */
int  tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_skip(const char *reason, int count);   /* "ok N # skip reason" count times */
/* The same, naming the group of checks skipped; kind "interop" marks a peer that should have
 * run (under CI=true tests/skips.sh fails the run for such a skip unless the npm registry
 * cannot be reached); tap_skip() records kind "other" with the program as its group. */
void tap_skip_group(const char *kind, const char *group, const char *reason, int count);
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "1..N" (if no plan was given) and return the exit status (0 iff all passed). */
int  tap_done(void);
void tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define OK(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
/* Compare two byte strings; on mismatch prints both in hex as diagnostics. */
int tap_mem_eq(const void *got, const void *want, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define IS_INT(got, want, ...) tap_int_eq((long long)(got), (long long)(want), __VA_ARGS__)
int tap_int_eq(long long got, long long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- JSON DOM (for test vectors; strict enough for well-formed files) ---- */
typedef enum { TJ_NULL, TJ_BOOL, TJ_NUM, TJ_STR, TJ_ARR, TJ_OBJ } tj_kind;
typedef struct tj {
    tj_kind kind;
    bool b;
    double num;
    char *numtext;        /* TJ_NUM: the literal text (for exact 64-bit integers) */
    char *str;            /* TJ_STR: decoded UTF-8, NUL-terminated */
    size_t len;           /* TJ_STR: bytes; TJ_ARR/TJ_OBJ: members */
    struct tj **items;    /* TJ_ARR items, TJ_OBJ values */
    char **keys;          /* TJ_OBJ keys */
} tj;

tj *tj_parse(const char *text, size_t len);     /* NULL on syntax error */
tj *tj_load(const char *path);                   /* bails out (TAP) if unreadable/invalid */
void tj_free(tj *v);
const tj *tj_get(const tj *obj, const char *key);         /* NULL if absent / not object */
const tj *tj_path(const tj *v, const char *dotted);       /* "a.b.3.c" (numbers index arrays) */
const tj *tj_at(const tj *arr, size_t i);
size_t tj_len(const tj *v);
const char *tj_str(const tj *v);                           /* NULL if not a string */
long long tj_int(const tj *v);                             /* number or decimal string */
unsigned long long tj_uint(const tj *v);
/* Hex string value -> malloc'd bytes (caller frees); returns length or (size_t)-1. */
size_t tj_hex(const tj *v, uint8_t **out);

/* ---- seeded test generator (xorshift64*; deterministic, not cryptographic) ---- */
typedef struct tu_rng { uint64_t s; } tu_rng_t;
#define TU_RNG_SEED 0x9e3779b97f4a7c15ull                     /* the default generator's */
void     tu_rng_seed(tu_rng_t *r, uint64_t seed);  /* r NULL: the default generator; 0 -> 1 */
uint64_t tu_rng_next(tu_rng_t *r);                 /* r NULL: the default generator */
uint64_t tu_rng_below(tu_rng_t *r, uint64_t n);    /* uniform-ish in [0, n); 0 if n == 0 */
void     tu_rng_fill(tu_rng_t *r, void *p, size_t n);
/* An mtp_rng_t `fill` drawing from ctx (a tu_rng_t *, NULL = the default generator):
 *   mtp_rng_t rng = { tu_rng_mtp_fill, &my_gen }; */
int      tu_rng_mtp_fill(void *ctx, uint8_t *out, size_t n);

/* ---- misc ---- */
size_t tu_unhex(const char *hex, uint8_t **out);          /* malloc'd; (size_t)-1 on error */
char  *tu_hex(const uint8_t *p, size_t n);                 /* malloc'd lowercase hex */
uint8_t *tu_read_file(const char *path, size_t *len);      /* malloc'd, NUL-terminated */
double tu_now(void);                                       /* monotonic seconds */
int tu_count_fds(void);                                    /* open fds of this process, -1 if unknown */

#endif
