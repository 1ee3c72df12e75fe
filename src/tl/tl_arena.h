/*
 * libmtproto — arena internals shared by src/tl/common.c and the generated codecs. Internal.
 *
 * The public mtp_arena_alloc() hands out zeroed, 16-byte aligned memory. The codecs use the
 * bump allocators below instead: no zeroing (the caller writes every byte it needs) and a
 * smaller alignment, with the block walk and the size cap left to the out-of-line slow path.
 */
#ifndef MTP_TL_ARENA_H
#define MTP_TL_ARENA_H

#include <mtproto/common.h>

#include <stdint.h>

typedef struct mtp_arena_block {
    struct mtp_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} mtp_arena_block_t;

struct mtp_arena {
    mtp_arena_block_t *head;   /* current block (others chained behind it) */
    size_t cap, total;         /* byte cap; bytes reserved in blocks */
    size_t used;               /* bytes handed out */
};

/* size bytes aligned to align (a power of two <= 16), not zeroed; NULL on failure. */
void *mtp_arena_bump_slow(mtp_arena_t *a, size_t size, size_t align);

static inline void *mtp_arena_bump(mtp_arena_t *a, size_t size, size_t align)
{
    mtp_arena_block_t *b = a->head;
    if (b) {
        size_t off = (b->used + (align - 1)) & ~(align - 1);
        if (off <= b->size && size <= b->size - off) {
            b->used = off + size;
            a->used += size;
            return b->data + off;
        }
    }
    return mtp_arena_bump_slow(a, size, align);
}

#endif
