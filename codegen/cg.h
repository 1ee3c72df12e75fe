/*
 * mtp-codegen — internal definitions shared by the parser, the resolver and the emitter.
 *
 * The generator reads TL schema files (one service schema, any number of API layers),
 * resolves every type expression and writes C sources and headers that match the contract
 * in include/mtproto/tl.h.
 */
#ifndef CG_H
#define CG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Type kinds: same values and order as mtp_tl_kind_t in include/mtproto/tl.h. */
enum {
    K_INT = 1, K_LONG, K_DOUBLE, K_INT128, K_INT256, K_STRING, K_BYTES, K_BOOL, K_TRUE,
    K_NAT, K_VECTOR, K_BARE_VECTOR, K_OBJECT, K_BARE_OBJECT, K_QUERY
};

/* ---- memory: everything lives until cg_free_all() ---- */
void *cg_alloc(size_t n);                 /* zeroed; exits on failure */
char *cg_strndup(const char *s, size_t n);
char *cg_strdup(const char *s);
void cg_free_all(void);

/* ---- growable text buffer ---- */
typedef struct cg_buf {
    char *s;
    size_t len, cap;
} cg_buf;

void buf_put(cg_buf *b, const char *s, size_t n);
void buf_puts(cg_buf *b, const char *s);
void buf_printf(cg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(cg_buf *b);

/* ---- string -> pointer map ---- */
typedef struct cg_map {
    struct cg_map_ent **tab;
    size_t n, cap;
} cg_map;

void *map_get(const cg_map *m, const char *key);
void map_put(cg_map *m, const char *key, void *val);   /* key is not copied */

/* ---- diagnostics ---- */
extern int cg_nerrors;
extern bool cg_quiet;
void cg_error(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cg_warn(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- schema model ---- */

/* A type expression as written: [!][%]name[<arg>] */
typedef struct cg_texpr {
    bool bang, pct;
    char *name;
    struct cg_texpr *arg;
    char *text;                  /* the whole expression as written */
} cg_texpr;

struct cg_comb;
struct cg_tname;
struct cg_schema;

/* A resolved, interned type expression (one per distinct expression per schema file). */
typedef struct cg_type {
    int kind;
    char *text;                  /* as written, e.g. "Vector<User>" */
    char *key;                   /* interning key */
    struct cg_type *elem;
    struct cg_tname *tname;      /* OBJECT: NULL = Object (anything) */
    struct cg_comb *bare;        /* BARE_OBJECT */
    char *cvar;                  /* static variable name in the generated file */
} cg_type;

typedef struct cg_param {
    char *name;                  /* schema name */
    char *cfield;                /* C member name */
    char *chas;                  /* C has_ member name, or NULL */
    cg_texpr *tx;
    cg_type *type;
    int flag_param;              /* index of the '#' param, or -1 */
    int flag_bit;                /* 0..31, or -1 */
} cg_param;

typedef struct cg_comb {
    char *name;
    char *cname;                 /* prefixed C name */
    uint32_t id;
    bool explicit_id;
    bool id_mismatch;
    bool is_method;
    char *line;                  /* the declaration without ';' and comments */
    int lineno;
    cg_texpr *result_tx;
    cg_type *result;             /* methods: NULL for a generic result */
    struct cg_tname *tname;      /* constructors */
    cg_param *params;
    int nparams;
    char **generics;
    int ngenerics;
    struct cg_schema *schema;
} cg_comb;

typedef struct cg_tname {
    char *name;
    char *cvar;                  /* mtp_tlt_... */
    cg_comb **cons;
    int ncons, capcons;
    struct cg_schema *schema;
    bool rd_used;                /* emit: a generated reader rd_<T> is used */
} cg_tname;

typedef struct cg_schema {
    const char *path;
    int layer;                   /* 0 = service schema */
    bool service;
    bool primary;                /* the public API layer (no prefix) */
    bool straight;               /* generated codecs for constructors (else descriptor-driven) */
    bool straight_methods;       /* ... and for methods */
    const char *prefix;          /* "", "mt_", "l227_" */
    char *layer_var;             /* mtp_tl_layer_228 / mtp_tl_layer_mtproto */
    char *layer_name;            /* "api228" / "mtproto" */
    cg_comb **combs;
    int ncombs, capcombs;
    cg_tname **tnames;
    int ntnames, captnames;
    cg_type **types;
    int ntypes, captypes;
    cg_map comb_by_name, tname_by_name, type_by_key, cvar_used;
    struct cg_schema *fallback;  /* where names not defined here are looked up */
} cg_schema;

/* parse.c */
int cg_parse_file(cg_schema *s);        /* returns the number of errors */
void cg_resolve(cg_schema *s);          /* after all files are parsed */
const char *cg_kind_name(int kind);

/* emit.c */
/* every schema being generated (to find constructor ids shared between schemas) */
extern cg_schema **cg_all_schemas;
extern int cg_nall_schemas;
void cg_emit_schema_header(cg_schema *s, cg_buf *out, const char *guard);
void cg_emit_schema_source(cg_schema *s, cg_buf *out, const char *header);
void cg_emit_layers(cg_schema **all, int n, cg_buf *out);

/* crc (src/tl/tl_crc.c compiled into the generator) */
uint32_t mtp_tl_line_crc(const char *line, size_t len);

#endif
