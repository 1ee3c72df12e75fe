/*
 * libmtproto — common definitions: error codes, byte slices, arenas.
 *
 * Every function that can fail returns 0 (or a non-negative count) on success and a
 * negative MTP_E* code on failure; mtp_strerror() names the code.
 */
#ifndef MTPROTO_COMMON_H
#define MTPROTO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of these headers; mtp_version() / mtp_version_num() give the library's at run time. */
#define MTP_VERSION_MAJOR 0
#define MTP_VERSION_MINOR 2
#define MTP_VERSION_PATCH 0
#define MTP_VERSION_STRING "0.2.0"
#define MTP_VERSION_NUM ((MTP_VERSION_MAJOR << 16) | (MTP_VERSION_MINOR << 8) | MTP_VERSION_PATCH)

/* Error codes (always negative when returned). */
enum {
    MTP_OK = 0,
    MTP_EINVAL = -1,        /* invalid argument from the caller */
    MTP_ENOMEM = -2,        /* allocation failed or a configured cap was hit */
    MTP_ETRUNC = -3,        /* input ended before the object did */
    MTP_EUNKNOWN_ID = -4,   /* unknown constructor id */
    MTP_ETYPE = -5,         /* constructor of the wrong type where another was expected */
    MTP_EDEPTH = -6,        /* nesting deeper than the limit */
    MTP_ERANGE = -7,        /* a count or length is out of range */
    MTP_EBADTL = -8,        /* malformed TL (bad string header, bad Bool, trailing bytes …) */
    MTP_EGZIP = -9,         /* gzip/zlib stream invalid or over the output cap */
    MTP_EJSON = -10,        /* malformed or non-canonical JSON / JSON not matching the schema */
    MTP_ECRYPTO = -11,      /* a cryptographic operation failed (OpenSSL error) */
    MTP_EBADKEY = -12,      /* malformed or unusable key (RSA PEM, auth key) */
    MTP_ESECURITY = -13,    /* a protocol security check failed (msg_key, nonce, DH params …) */
    MTP_EPROTO = -14,       /* protocol violation by the peer */
    MTP_ETRANSPORT = -15,   /* transport framing error (bad length, CRC, seqno, tag) */
    MTP_ESTATE = -16,       /* call not valid in the object's current state */
    MTP_EIO = -17,          /* I/O error (socket, file) */
    MTP_ETIMEDOUT = -18,    /* an operation did not finish in time */
    MTP_ECLOSED = -19,      /* the connection or object was closed */
    MTP_ERPC = -20,         /* the server answered with rpc_error (details in the result) */
    MTP_ENOTFOUND = -21,    /* no such name / id / entry */
    MTP_EAGAIN = -22,       /* nothing to do now; try again later */
    MTP_EFLOOD = -23,       /* FLOOD_WAIT above the configured threshold */
    MTP_EAUTH = -24,        /* not authorized / authorization lost */
    MTP_ECANCELED = -25,    /* the call was cancelled */
    MTP_EFULL = -26,        /* a table, queue or budget is full */
    MTP_EDISABLED = -27,    /* the feature is turned off in the configuration */
    MTP_EVERSION = -28,     /* a struct or file of a version this library does not know */
    MTP_EEXIST = -29,       /* already exists / already in use (a locked session file …) */
    MTP_ELAST = -30
};

/* Human-readable name of an MTP_E* code (never NULL). */
const char *mtp_strerror(int err);

/* The library's version at run time (may differ from the headers' MTP_VERSION_*). */
const char *mtp_version(void);
unsigned mtp_version_num(void);

/*
 * Logging: configs that take a log callback call it with a level and one line of text
 * (no newline). Secrets (auth keys, api_hash, passwords, login codes) are never passed.
 */
typedef enum mtp_log_level {
    MTP_LOG_ERROR = 0,
    MTP_LOG_WARN = 1,
    MTP_LOG_INFO = 2,
    MTP_LOG_DEBUG = 3
} mtp_log_level_t;
typedef void (*mtp_log_fn)(void *user, mtp_log_level_t level, const char *line);

/*
 * Which side of a connection an object plays: one enum for every layer of the core
 * (transport and obfuscation, handshake, envelope, session, connection).
 */
typedef enum mtp_role {
    MTP_ROLE_CLIENT = 0,   /* envelope: sends with x = 0, receives with x = 8 */
    MTP_ROLE_SERVER = 1    /* envelope: sends with x = 8, receives with x = 0 */
} mtp_role_t;

/*
 * Time as the sans-IO core sees it: microseconds since the Unix epoch, supplied by the caller
 * (the core never reads a clock). Deadlines use the same unit; MTP_TIME_NEVER = no deadline.
 */
typedef int64_t mtp_usec_t;
#define MTP_TIME_NEVER INT64_MAX
#define MTP_USEC_PER_SEC 1000000LL

/* A length-delimited byte slice. Never assumed NUL-terminated. */
typedef struct mtp_bytes {
    const uint8_t *ptr;
    size_t len;
} mtp_bytes_t;

/*
 * Arena: a bump allocator that owns every object decoded into it. Freed once.
 * Allocation is 16-byte aligned. A cap (bytes) may be set; 0 = default (256 MiB).
 */
typedef struct mtp_arena mtp_arena_t;

mtp_arena_t *mtp_arena_new(size_t cap);
void  mtp_arena_free(mtp_arena_t *a);
/* Forget everything allocated but keep the first block for reuse. */
void  mtp_arena_reset(mtp_arena_t *a);
void *mtp_arena_alloc(mtp_arena_t *a, size_t size);          /* zeroed; NULL on failure */
void *mtp_arena_memdup(mtp_arena_t *a, const void *p, size_t size);
size_t mtp_arena_used(const mtp_arena_t *a);

/*
 * A growable byte buffer. Appending never fails silently: on allocation failure
 * `err` becomes MTP_ENOMEM and further appends are ignored.
 */
typedef struct mtp_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int err;
} mtp_buf_t;

void mtp_buf_init(mtp_buf_t *b);
void mtp_buf_free(mtp_buf_t *b);            /* frees data, leaves b empty */
void mtp_buf_clear(mtp_buf_t *b);           /* len = 0, err = 0, keeps memory */
int  mtp_buf_reserve(mtp_buf_t *b, size_t extra);   /* ensure len + extra fits */
int  mtp_buf_append(mtp_buf_t *b, const void *p, size_t n);
int  mtp_buf_putc(mtp_buf_t *b, int c);
int  mtp_buf_printf(mtp_buf_t *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
