/*
 * libmtproto — TL runtime: descriptors, objects, bounded reader, encoder, JSON, printer.
 *
 * Object model
 * ------------
 * Every TL constructor and method has a generated C struct (see <mtproto/tl_schema.h> for
 * API layer 228 and <mtproto/tl_mtproto.h> for the service schema). Each struct starts with
 * an mtp_tl_object_t header whose `tl` member points at the combinator's descriptor, so any
 * object can be encoded, printed or converted to JSON without knowing its type statically.
 *
 * Field representation in generated structs:
 *   int -> int32_t        long -> int64_t        double -> double       # -> uint32_t
 *   int128 -> uint8_t[16] int256 -> uint8_t[32]  Bool -> bool
 *   string, bytes -> mtp_bytes_t (slice; strings are not NUL-terminated)
 *   flags.N?true -> bool (the flag bit is derived from it when encoding)
 *   boxed type (User, Object) / bare constructor (%Message) / !X -> pointer to the object
 *   Vector<T>, vector<T> -> mtp_vec_t-compatible {uint32_t n; T *v;} (items stored inline,
 *                         objects as pointers, nested vectors as mtp_vec_t)
 * Optional fields (flags.N?T):
 *   objects: the pointer, NULL when absent
 *   everything else: the value plus a `bool has_<name>` member
 * `#` fields (flags, flags2) hold the word as decoded. When encoding, the bits that belong to
 * fields are recomputed from the fields; bits no field uses are written as stored.
 *
 * Decoded objects live in an mtp_arena_t; free the arena once to free them all.
 */
#ifndef MTPROTO_TL_H
#define MTPROTO_TL_H

#include <mtproto/common.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)   /* the public API (-fvisibility=hidden) */

struct mtp_tl_comb;
struct mtp_tl_layer;
struct mtp_tl_reader;
struct mtp_tl_writer;

/* ---- object header and vectors ---- */

typedef struct mtp_tl_object {
    const struct mtp_tl_comb *tl;   /* the descriptor of this constructor/method */
} mtp_tl_object_t;

typedef struct mtp_vec        { uint32_t n; void *v; } mtp_vec_t;
typedef struct mtp_vec_int    { uint32_t n; int32_t *v; } mtp_vec_int_t;
typedef struct mtp_vec_long   { uint32_t n; int64_t *v; } mtp_vec_long_t;
typedef struct mtp_vec_double { uint32_t n; double *v; } mtp_vec_double_t;
typedef struct mtp_vec_bool   { uint32_t n; bool *v; } mtp_vec_bool_t;
typedef struct mtp_vec_bytes  { uint32_t n; mtp_bytes_t *v; } mtp_vec_bytes_t;
typedef struct mtp_vec_int128 { uint32_t n; uint8_t (*v)[16]; } mtp_vec_int128_t;
typedef struct mtp_vec_int256 { uint32_t n; uint8_t (*v)[32]; } mtp_vec_int256_t;
typedef struct mtp_vec_obj    { uint32_t n; mtp_tl_object_t **v; } mtp_vec_obj_t;
typedef struct mtp_vec_vec    { uint32_t n; mtp_vec_t *v; } mtp_vec_vec_t;

/* ---- descriptors (generated tables; walk them for generic code) ---- */

typedef enum mtp_tl_kind {
    MTP_TL_INT = 1,     /* int */
    MTP_TL_LONG,        /* long */
    MTP_TL_DOUBLE,      /* double */
    MTP_TL_INT128,      /* int128 */
    MTP_TL_INT256,      /* int256 */
    MTP_TL_STRING,      /* string */
    MTP_TL_BYTES,       /* bytes */
    MTP_TL_BOOL,        /* Bool (boxed: boolTrue / boolFalse) */
    MTP_TL_TRUE,        /* flags.N?true: no bytes on the wire */
    MTP_TL_NAT,         /* # (flags words) */
    MTP_TL_VECTOR,      /* Vector<T>: 0x1cb5c415, count, items */
    MTP_TL_BARE_VECTOR, /* vector<T>: count, items */
    MTP_TL_OBJECT,      /* a boxed value of a named type (tname), or of any type (Object) */
    MTP_TL_BARE_OBJECT, /* a bare constructor (%T or a lower-case constructor name) */
    MTP_TL_QUERY        /* !X: any boxed method call */
} mtp_tl_kind_t;

/* A boxed type ("User", "messages.Messages") and the constructors that build it. */
typedef struct mtp_tl_tname {
    const char *name;
    uint32_t ncons;
    const struct mtp_tl_comb *const *cons;
} mtp_tl_tname_t;

/* A type expression as used by a field or a method result. */
typedef struct mtp_tl_type {
    uint8_t kind;                       /* mtp_tl_kind_t */
    uint16_t size;                      /* bytes one value takes in a struct / vector item */
    const char *text;                   /* as written in the schema, e.g. "Vector<User>" */
    const struct mtp_tl_type *elem;     /* VECTOR / BARE_VECTOR: the item type */
    const mtp_tl_tname_t *tname;        /* OBJECT: the type; NULL means Object (anything) */
    const struct mtp_tl_comb *bare;     /* BARE_OBJECT: the constructor */
} mtp_tl_type_t;

#define MTP_TL_NO_OFFSET 0xffffu

typedef struct mtp_tl_param {
    const char *name;                   /* field name as in the schema */
    const mtp_tl_type_t *type;
    int8_t flag_param;                  /* index in params[] of the '#' word it depends on, or -1 */
    int8_t flag_bit;                    /* bit 0..31, or -1 */
    uint16_t offset;                    /* offsetof(struct, field) */
    uint16_t has_offset;                /* offsetof(struct, has_<name>) or MTP_TL_NO_OFFSET */
} mtp_tl_param_t;

typedef struct mtp_tl_comb {
    uint32_t id;
    uint8_t is_method;
    uint8_t id_mismatch;                /* explicit #id differs from the crc32 rule (known exception) */
    uint16_t nparams;
    uint32_t size;                      /* sizeof the generated struct */
    const char *name;                   /* "messages.getHistory" */
    const char *line;                   /* the schema line, without the trailing ';' */
    const char *cname;                  /* C-safe name, "messages_getHistory" */
    const mtp_tl_tname_t *tname;        /* constructors: the type built; methods: NULL */
    const mtp_tl_type_t *result;        /* methods: result type (NULL for generic X); else NULL */
    const mtp_tl_param_t *params;
    const struct mtp_tl_layer *layer;
    /* Generated codec for the fields (the 4-byte id is handled by the caller). */
    int (*decode)(struct mtp_tl_reader *r, void *obj);      /* obj zeroed, obj->tl set */
    int (*measure)(const void *obj, size_t *acc);            /* adds the field bytes to *acc */
    uint8_t *(*encode)(const void *obj, uint8_t *out);       /* after measure() succeeded */
    /* Single pass: validates like measure() while writing the fields into w, growing its
     * buffer as needed. 0 or a negative MTP_E* code (then w's output is to be discarded). */
    int (*write)(const void *obj, struct mtp_tl_writer *w);
} mtp_tl_comb_t;

typedef struct mtp_tl_layer {
    int layer;                          /* 228, 227, 198; 0 for the service schema */
    const char *name;                   /* "api228", "mtproto" */
    uint32_t ncombs;
    const mtp_tl_comb_t *const *by_id;  /* sorted by id */
    const mtp_tl_comb_t *const *by_name;/* sorted by strcmp(name) */
    uint32_t ntypes;
    const mtp_tl_tname_t *const *types; /* sorted by strcmp(name) */
    const struct mtp_tl_layer *fallback;/* searched after this one (the service schema) */
    /* id -> index in by_id, generated: open addressing, first slot
     * (id * 0x9e3779b1u) >> (32 - id_hash_bits), linear probing, 0xffff = empty slot.
     * NULL when absent (then by_id is binary-searched). */
    const uint16_t *id_hash;
    uint32_t id_hash_bits;
} mtp_tl_layer_t;

/* The layers compiled in. mtp_tl_layer(0) is the service schema alone. NULL if unknown. */
const mtp_tl_layer_t *mtp_tl_layer(int layer);
#define MTP_TL_DEFAULT_LAYER 228
/* Layers available, ascending; returns the count (writes at most max). */
int mtp_tl_layers(int *out, int max);

/* Lookup in a layer and then its fallback. NULL if not found. */
const mtp_tl_comb_t *mtp_tl_find_id(const mtp_tl_layer_t *l, uint32_t id);
const mtp_tl_comb_t *mtp_tl_find_name(const mtp_tl_layer_t *l, const char *name, size_t len);
const mtp_tl_tname_t *mtp_tl_find_type(const mtp_tl_layer_t *l, const char *name, size_t len);

/* crc32 id of a schema line by the normalisation rule (docs/PROTOCOL.md §1.5). */
uint32_t mtp_tl_line_crc(const char *line, size_t len);

/* ---- bounded reader (sticky error) ---- */

#define MTP_TL_MAX_DEPTH 64
#define MTP_TL_GZIP_CAP_DEFAULT (16u << 20)

typedef struct mtp_tl_reader {
    const uint8_t *start, *p, *end;
    int err;                            /* first error, 0 if none; later reads return zeros */
    uint32_t err_id;                    /* MTP_EUNKNOWN_ID / MTP_ETYPE: the offending id */
    size_t err_off;                     /* offset of the first error */
    int depth, max_depth;
    mtp_arena_t *arena;
    const mtp_tl_layer_t *layer;
    size_t gzip_cap;                    /* inflate cap for gzip_packed */
    bool unpack_gzip;                   /* replace nested gzip_packed by its content */
    bool in_gzip;                       /* internal: a gzip inside a gzip is rejected */
    bool borrow;                        /* strings/bytes point into the input (no copy): the
                                         * input must then outlive the decoded objects */
} mtp_tl_reader_t;

void mtp_tl_reader_init(mtp_tl_reader_t *r, const mtp_tl_layer_t *layer,
                        const uint8_t *p, size_t n, mtp_arena_t *arena);
int  mtp_tl_reader_fail(mtp_tl_reader_t *r, int err);   /* sets the sticky error once */
/* "unknown constructor id 0x1234abcd at offset 40" etc. */
const char *mtp_tl_reader_strerror(const mtp_tl_reader_t *r, char *buf, size_t n);

/* Primitive reads. On error they set the sticky error and return zeros / empty slices. */
static inline uint32_t mtp_tl_read_nat(mtp_tl_reader_t *r)
{
    if ((size_t)(r->end - r->p) < 4) {
        mtp_tl_reader_fail(r, MTP_ETRUNC);
        return 0;
    }
    const uint8_t *p = r->p;
    r->p += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline int32_t mtp_tl_read_int(mtp_tl_reader_t *r)
{
    return (int32_t)mtp_tl_read_nat(r);
}
static inline int64_t mtp_tl_read_long(mtp_tl_reader_t *r)
{
    if ((size_t)(r->end - r->p) < 8) {
        mtp_tl_reader_fail(r, MTP_ETRUNC);
        return 0;
    }
    const uint8_t *p = r->p;
    r->p += 8;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return (int64_t)v;
}
double   mtp_tl_read_double(mtp_tl_reader_t *r);
void     mtp_tl_read_raw(mtp_tl_reader_t *r, uint8_t *out, size_t n);   /* int128/int256 */
/* string/bytes: copied into the arena, or a slice of the input when r->borrow is set.
 * Rejects 0xff headers, non-canonical long headers and non-zero padding. */
mtp_bytes_t mtp_tl_read_bytes(mtp_tl_reader_t *r);
bool     mtp_tl_read_bool(mtp_tl_reader_t *r);   /* boolTrue / boolFalse, else MTP_ETYPE */
/* A value of any type into dst (dst has type->size bytes). */
int mtp_tl_read_value(mtp_tl_reader_t *r, const mtp_tl_type_t *t, void *dst);
/* A boxed object, checked against tname (NULL = any constructor; methods only with QUERY). */
mtp_tl_object_t *mtp_tl_read_object(mtp_tl_reader_t *r, const mtp_tl_tname_t *tname);
mtp_tl_object_t *mtp_tl_read_query(mtp_tl_reader_t *r);
mtp_tl_object_t *mtp_tl_read_bare(mtp_tl_reader_t *r, const mtp_tl_comb_t *c);
int mtp_tl_read_vector(mtp_tl_reader_t *r, const mtp_tl_type_t *vt, void *dst);

/* ---- encoding ---- */

/* Exact encoded size (boxed: 4-byte id + fields), validating the object graph. */
int mtp_tl_size(const mtp_tl_object_t *obj, size_t *out);
/* Append the boxed encoding of obj to b. */
int mtp_tl_encode(const mtp_tl_object_t *obj, mtp_buf_t *b);
/* Size / encode of a value of any type (used for non-object method results). */
int mtp_tl_size_value(const mtp_tl_type_t *t, const void *val, size_t *acc);
uint8_t *mtp_tl_write_value(const mtp_tl_type_t *t, const void *val, uint8_t *out);
int mtp_tl_encode_value(const mtp_tl_type_t *t, const void *val, mtp_buf_t *b);

/* Growable single-pass output used by mtp_tl_encode() and the generated write codecs:
 * bytes go to p; (uintptr_t)p + n <= lim means n more bytes fit. b is the buffer grown on
 * demand (its len is only advanced by mtp_tl_encode() once everything succeeded), or NULL
 * when the caller sized the output beforehand. depth counts the objects being written. */
typedef struct mtp_tl_writer {
    uint8_t *p;
    uintptr_t lim;
    mtp_buf_t *b;
    int depth;
} mtp_tl_writer_t;
/* Make room for n more bytes (may move the buffer); MTP_ENOMEM if it cannot. */
int mtp_tl_writer_grow(mtp_tl_writer_t *w, size_t n);
static inline int mtp_tl_writer_need(mtp_tl_writer_t *w, size_t n)
{
    return (uintptr_t)w->p + n <= w->lim ? 0 : mtp_tl_writer_grow(w, n);
}
/* A value of any type through w, validated like mtp_tl_size_value(). */
int mtp_tl_write_value_w(mtp_tl_writer_t *w, const mtp_tl_type_t *t, const void *val);

/* Primitive writers (no bounds check: callers sized the buffer first). */
uint8_t *mtp_tl_write_int(uint8_t *p, int32_t v);
uint8_t *mtp_tl_write_long(uint8_t *p, int64_t v);
uint8_t *mtp_tl_write_double(uint8_t *p, double v);
uint8_t *mtp_tl_write_bytes(uint8_t *p, const uint8_t *s, size_t n);   /* header + data + pad */
size_t   mtp_tl_bytes_size(size_t n);                                   /* encoded size */
#define MTP_TL_MAX_BYTES 0xffffffu

/* ---- decoding ---- */

/* Decode one boxed object that must fill exactly n bytes. */
int mtp_tl_decode(const mtp_tl_layer_t *layer, const uint8_t *p, size_t n,
                  mtp_arena_t *arena, mtp_tl_object_t **out);
/* Same with a caller-prepared reader (for options and error details). */
int mtp_tl_decode_reader(mtp_tl_reader_t *r, mtp_tl_object_t **out);

/* ---- method results; Vector<T> as an object ---- */

/* A method whose result type is Vector<T> (users.getUsers -> Vector<User>, Vector<int>,
 * Vector<long> ...) answers with 0x1cb5c415, count, items: no constructor of any layer, so
 * mtp_tl_decode() rejects it (MTP_EUNKNOWN_ID). Decoded by the method's declared result type
 * (mtp_tl_decode_result()) it becomes an mtp_tl_vector_t:
 *   - _.tl == &mtp_tl_vector_comb (id 0x1cb5c415, name "vector"; in no layer's tables, so
 *     mtp_tl_find_id() never returns it); test with mtp_tl_as_vector();
 *   - type is the method's result type (kind MTP_TL_VECTOR), type->elem the item type T;
 *   - n items in v, stored as in generated structs: v.obj for boxed/bare objects,
 *     v.i32 for int, v.i64 for long, v.f64 double, v.b Bool, v.bytes string/bytes,
 *     v.i128/v.i256, v.vec for nested vectors (v.any = the same pointer, untyped).
 * It works with the generic functions: mtp_tl_size()/mtp_tl_encode() give the Vector
 * encoding (id, count, items), mtp_tl_to_json() a JSON array ([{"_":"user",...}],
 * like mtp_result_format()), mtp_tl_print() "Vector<User> [ ... ]". mtp_tl_convert()
 * answers MTP_ENOTFOUND (no namesake in any layer); mtp_tl_from_json() never builds one
 * (an array does not say its item type). */
#define MTP_TL_ID_VECTOR 0x1cb5c415u

typedef struct mtp_tl_vector {
    mtp_tl_object_t _;
    const mtp_tl_type_t *type;          /* Vector<T>; must outlive the object (descriptors do) */
    uint32_t n;
    union {
        void *any;
        mtp_tl_object_t **obj;
        int32_t *i32;
        int64_t *i64;
        double *f64;
        bool *b;
        mtp_bytes_t *bytes;
        uint8_t (*i128)[16];
        uint8_t (*i256)[32];
        mtp_vec_t *vec;
    } v;
} mtp_tl_vector_t;

extern const mtp_tl_comb_t mtp_tl_vector_comb;
/* obj as a vector, or NULL if it is something else (or NULL). */
const mtp_tl_vector_t *mtp_tl_as_vector(const mtp_tl_object_t *obj);
/* An empty vector object of type (kind MTP_TL_VECTOR) in the arena; NULL on a bad type or
 * no memory. Fill n and v yourself (items in the arena too, for one owner). */
mtp_tl_vector_t *mtp_tl_vector_new(mtp_arena_t *a, const mtp_tl_type_t *type);

/* The declared result type of a method call: method->tl->result, or for a wrapper whose
 * result is the generic X (invokeWithLayer, initConnection, invokeAfterMsg ...) that of the
 * call in its !X field, followed down. NULL if method is no method call or has no query. */
const mtp_tl_type_t *mtp_tl_method_result(const mtp_tl_object_t *method);
/* Decode the answer to method (rpc_result.result, n bytes exactly) by its declared result
 * type: Vector<T> as an mtp_tl_vector_t (the vector id is required; the count is checked
 * against the bytes left before anything is allocated: MTP_ERANGE; short input MTP_ETRUNC;
 * another id MTP_ETYPE; trailing bytes MTP_EBADTL); everything else (objects, Bool) as
 * mtp_tl_decode() would, also when method is NULL or its result type cannot be told. */
int mtp_tl_decode_result(const mtp_tl_layer_t *layer, const mtp_tl_object_t *method,
                         const uint8_t *p, size_t n, mtp_arena_t *arena, mtp_tl_object_t **out);
int mtp_tl_decode_result_reader(mtp_tl_reader_t *r, const mtp_tl_object_t *method,
                                mtp_tl_object_t **out);

/* ---- construction ---- */

/* A zeroed object of combinator c in the arena with its header set. */
mtp_tl_object_t *mtp_tl_new(mtp_arena_t *a, const mtp_tl_comb_t *c);
/* Type-safe helpers for generated names: MTP_NEW(arena, help_getConfig) */
#define MTP_NEW(arena, cname) ((mtp_##cname##_t *)mtp_tl_new((arena), &mtp_tlc_##cname))
/* Initializer for a stack object: mtp_help_getConfig_t q = MTP_INIT(help_getConfig); */
#define MTP_INIT(cname) { ._ = { &mtp_tlc_##cname } }

/* Field access through descriptors. */
void *mtp_tl_field(const mtp_tl_object_t *obj, const mtp_tl_param_t *p);
bool mtp_tl_field_present(const mtp_tl_object_t *obj, const mtp_tl_param_t *p);

/* Re-express an object in another layer by constructor and field names (fields the target
 * lacks are dropped, fields it adds are left absent/zero). MTP_ENOTFOUND if a constructor
 * has no namesake in the target layer. */
int mtp_tl_convert(const mtp_tl_object_t *obj, const mtp_tl_layer_t *to,
                   mtp_arena_t *a, mtp_tl_object_t **out);

/* ---- gzip_packed ---- */

/* Inflate a gzip (RFC 1952) or zlib (RFC 1950) stream; output capped at cap bytes. */
int mtp_gzip_inflate(const uint8_t *in, size_t n, size_t cap, mtp_buf_t *out);
/* Deflate into a gzip stream (level 1..9, 0 = default). */
int mtp_gzip_deflate(const uint8_t *in, size_t n, int level, mtp_buf_t *out);

/* ---- text and canonical JSON ---- */

/* Indented TL text (one field a line). */
int mtp_tl_print(const mtp_tl_object_t *obj, mtp_buf_t *out);
int mtp_tl_print_value(const mtp_tl_type_t *t, const void *val, mtp_buf_t *out);
/* Canonical JSON, one line: {"_":"name",field:value,...} (see README "Canonical JSON"). */
int mtp_tl_to_json(const mtp_tl_object_t *obj, mtp_buf_t *out);
int mtp_tl_value_to_json(const mtp_tl_type_t *t, const void *val, mtp_buf_t *out);
/* Build an object from canonical JSON. On failure a message goes into err (if given). */
int mtp_tl_from_json(const mtp_tl_layer_t *layer, const char *json, size_t len,
                     mtp_arena_t *arena, mtp_tl_object_t **out, char *err, size_t errlen);
int mtp_tl_value_from_json(const mtp_tl_layer_t *layer, const mtp_tl_type_t *t,
                           const char *json, size_t len, mtp_arena_t *arena, void *dst,
                           char *err, size_t errlen);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
