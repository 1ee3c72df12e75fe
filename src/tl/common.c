/* Error names, growable buffers, arenas. */
#include <mtproto/common.h>

#include "tl/tl_arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mtp_strerror(int err)
{
    switch (err) {
    case MTP_OK: return "success";
    case MTP_EINVAL: return "invalid argument";
    case MTP_ENOMEM: return "out of memory or over a size cap";
    case MTP_ETRUNC: return "input truncated";
    case MTP_EUNKNOWN_ID: return "unknown constructor id";
    case MTP_ETYPE: return "constructor of an unexpected type";
    case MTP_EDEPTH: return "nesting too deep";
    case MTP_ERANGE: return "count or length out of range";
    case MTP_EBADTL: return "malformed TL data";
    case MTP_EGZIP: return "invalid or oversized gzip data";
    case MTP_EJSON: return "invalid JSON for this schema";
    case MTP_ECRYPTO: return "cryptographic operation failed";
    case MTP_EBADKEY: return "invalid or unusable key";
    case MTP_ESECURITY: return "security check failed";
    case MTP_EPROTO: return "protocol violation";
    case MTP_ETRANSPORT: return "transport framing error";
    case MTP_ESTATE: return "invalid in the current state";
    case MTP_EIO: return "I/O error";
    case MTP_ETIMEDOUT: return "timed out";
    case MTP_ECLOSED: return "connection closed";
    case MTP_ERPC: return "RPC error from the server";
    case MTP_ENOTFOUND: return "not found";
    case MTP_EAGAIN: return "try again later";
    case MTP_EFLOOD: return "flood wait above the threshold";
    case MTP_EAUTH: return "not authorized";
    case MTP_ECANCELED: return "cancelled";
    case MTP_EFULL: return "table, queue or budget full";
    case MTP_EDISABLED: return "disabled in the configuration";
    case MTP_EVERSION: return "unknown struct or file version";
    case MTP_EEXIST: return "already exists or in use";
    default: return "unknown error";
    }
}

const char *mtp_version(void) { return MTP_VERSION_STRING; }
unsigned mtp_version_num(void) { return MTP_VERSION_NUM; }

/* ---------------- buffers ---------------- */

void mtp_buf_init(mtp_buf_t *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
}

void mtp_buf_free(mtp_buf_t *b)
{
    free(b->data);
    mtp_buf_init(b);
}

void mtp_buf_clear(mtp_buf_t *b)
{
    b->len = 0;
    b->err = 0;
}

int mtp_buf_reserve(mtp_buf_t *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (extra > SIZE_MAX / 2 - b->len)
        return b->err = MTP_ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return b->err = MTP_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int mtp_buf_append(mtp_buf_t *b, const void *p, size_t n)
{
    if (mtp_buf_reserve(b, n))
        return b->err;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int mtp_buf_putc(mtp_buf_t *b, int c)
{
    if (b->len < b->cap && !b->err) {
        b->data[b->len++] = (uint8_t)c;
        return 0;
    }
    uint8_t ch = (uint8_t)c;
    return mtp_buf_append(b, &ch, 1);
}

int mtp_buf_printf(mtp_buf_t *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return b->err = MTP_EINVAL;
    if ((size_t)n < sizeof small)
        return mtp_buf_append(b, small, (size_t)n);
    if (mtp_buf_reserve(b, (size_t)n + 1))
        return b->err;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* ---------------- arenas ---------------- */

#define ARENA_FIRST 4096u
#define ARENA_DEFAULT_CAP ((size_t)256 << 20)

mtp_arena_t *mtp_arena_new(size_t cap)
{
    mtp_arena_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cap = cap ? cap : ARENA_DEFAULT_CAP;
    return a;
}

void mtp_arena_free(mtp_arena_t *a)
{
    if (!a)
        return;
    mtp_arena_block_t *b = a->head;
    while (b) {
        mtp_arena_block_t *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

void mtp_arena_reset(mtp_arena_t *a)
{
    if (!a || !a->head)
        return;
    /* Keep one block for reuse: the largest, or, when the content spilled over several
     * blocks, a single block as large as all of them (up to the block size limit), so a
     * workload that is repeated after each reset settles on one block. */
    mtp_arena_block_t *keep = a->head;
    size_t sum = 0;
    for (mtp_arena_block_t *b = a->head; b; b = b->next) {
        sum += b->size;
        if (b->size > keep->size)
            keep = b;
    }
    mtp_arena_block_t *merged = NULL;
    if (keep != a->head || keep->next) {
        if (sum > ((size_t)16 << 20))
            sum = (size_t)16 << 20;
        if (sum > keep->size && (merged = malloc(sizeof *merged + sum)) != NULL)
            merged->size = sum;
    }
    for (mtp_arena_block_t *b = a->head; b;) {
        mtp_arena_block_t *n = b->next;
        if (b != keep || merged)
            free(b);
        b = n;
    }
    if (merged)
        keep = merged;
    keep->next = NULL;
    keep->used = 0;
    a->head = keep;
    a->total = keep->size;
    a->used = 0;
}

/* A new block for need bytes (the caller checked the current one has no room). */
static void *arena_grow(mtp_arena_t *a, size_t need)
{
    mtp_arena_block_t *b = a->head;
    if (need > a->cap || a->used + need > a->cap)
        return NULL;
    size_t bs = b ? b->size * 2 : ARENA_FIRST;
    if (bs > ((size_t)16 << 20))
        bs = (size_t)16 << 20;
    if (bs < need)
        bs = need;
    mtp_arena_block_t *nb = malloc(sizeof *nb + bs);
    if (!nb)
        return NULL;
    nb->size = bs;
    nb->used = need;
    a->total += bs;
    a->used += need;
    if (b && b->size - b->used >= 256) {
        /* current block still has room for small objects: put the new one behind it */
        nb->next = b->next;
        b->next = nb;
    } else {
        nb->next = b;
        a->head = nb;
    }
    return nb->data;
}

void *mtp_arena_bump_slow(mtp_arena_t *a, size_t size, size_t align)
{
    if (!a || size > SIZE_MAX - 16)
        return NULL;
    mtp_arena_block_t *b = a->head;
    if (b) {
        size_t off = (b->used + (align - 1)) & ~(align - 1);
        if (off <= b->size && size <= b->size - off) {
            b->used = off + size;
            a->used += size;
            return b->data + off;
        }
    }
    return arena_grow(a, size ? size : 1);
}

void *mtp_arena_alloc(mtp_arena_t *a, size_t size)
{
    if (!a)
        return NULL;
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size)
        return NULL;
    void *p = NULL;
    mtp_arena_block_t *b = a->head;
    if (b) {
        size_t off = (b->used + 15) & ~(size_t)15;
        if (off <= b->size && need <= b->size - off) {
            b->used = off + need;
            a->used += need;
            p = b->data + off;
        }
    }
    if (!p && !(p = arena_grow(a, need)))
        return NULL;
    memset(p, 0, need);
    return p;
}

void *mtp_arena_memdup(mtp_arena_t *a, const void *p, size_t size)
{
    void *d = mtp_arena_alloc(a, size ? size : 1);
    if (d && size)
        memcpy(d, p, size);
    return d;
}

size_t mtp_arena_used(const mtp_arena_t *a)
{
    return a ? a->used : 0;
}
