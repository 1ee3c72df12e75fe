/*
 * libmtproto — internals of the session layer: msg_id generator, the replay window of
 * received ids, an int64 -> pointer hash map, and little-endian helpers. Not installed.
 */
#ifndef MTP_SESSION_INT_H
#define MTP_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/tl.h>
#include "util/util.h"

/* ---- little-endian access ---- */
static inline uint32_t ses_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline int64_t ses_get64(const uint8_t *p)
{
    return (int64_t)((uint64_t)ses_get32(p) | (uint64_t)ses_get32(p + 4) << 32);
}
static inline void ses_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void ses_put64(uint8_t *p, int64_t v)
{
    ses_put32(p, (uint32_t)(uint64_t)v);
    ses_put32(p + 4, (uint32_t)((uint64_t)v >> 32));
}

/* Appenders on an mtp_buf_t (sticky b->err on failure). */
void ses_buf_u32(mtp_buf_t *b, uint32_t v);
void ses_buf_i64(mtp_buf_t *b, int64_t v);
void ses_buf_tlbytes(mtp_buf_t *b, const uint8_t *p, size_t n);   /* TL string/bytes */

/* ---- msg_id generator ---- */

/* Next id for server time `t` with low bits `mod` (0 client, 1 answer, 3 push): strictly
 * greater than *last, never with all-zero low 32 bits. Updates *last. */
int64_t msgid_next(int64_t *last, mtp_usec_t t, unsigned mod);

/* ---- replay window: the last `cap` received ids, sorted ---- */

#define IN_CONTENT    0x01u   /* odd seq_no */
#define IN_ACKED      0x02u   /* we sent an ack (or an rpc_result) for it */
#define IN_QUERY      0x04u   /* server: an RPC query handed to the application */
#define IN_ANSWERED   0x08u   /* server: a reply was generated */
#define IN_DROPPED    0x10u   /* server: the client asked to drop the answer */
#define IN_CONTAINER  0x20u

typedef struct in_rec {
    int64_t id;
    int32_t seq;
    uint32_t flags;
} in_rec_t;

typedef struct in_win {
    in_rec_t *v;
    uint32_t cap, head, n;
    int64_t max_id;           /* largest id ever inserted */
} in_win_t;

int  inwin_init(in_win_t *w, uint32_t cap);
void inwin_free(in_win_t *w);
void inwin_clear(in_win_t *w);
in_rec_t *inwin_at(const in_win_t *w, uint32_t i);          /* logical index, sorted */
uint32_t inwin_lower(const in_win_t *w, int64_t id);        /* first index with id >= id */
in_rec_t *inwin_find(const in_win_t *w, int64_t id);
bool inwin_full(const in_win_t *w);
/* Full and id below every stored id: "too old to tell". */
bool inwin_too_old(const in_win_t *w, int64_t id);
/* Insert (the id must not be present); evicts the smallest when full. Never fails. */
in_rec_t *inwin_insert(in_win_t *w, int64_t id, int32_t seq, uint32_t flags);

/* ---- int64 -> pointer map: the util layer's (src/util/util.h) ---- */

typedef mtp_i64map_t id_map_t;
static inline void idmap_free(id_map_t *m) { mtp_i64map_free(m); }
static inline void *idmap_get(const id_map_t *m, int64_t key) { return mtp_i64map_get(m, key); }
/* replaces; 0 or MTP_ENOMEM */
static inline int idmap_put(id_map_t *m, int64_t key, void *val) { return mtp_i64map_put(m, key, val); }
/* Make room for `extra` more keys so that the next puts cannot fail. */
static inline int idmap_reserve(id_map_t *m, uint32_t extra) { return mtp_i64map_reserve(m, extra); }
static inline void idmap_del(id_map_t *m, int64_t key) { (void)mtp_i64map_del(m, key); }

#endif
