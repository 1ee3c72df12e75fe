/*
 * libmtproto — internals of the session layer: msg_id generator, the replay window of
 * received ids, an int64 -> pointer hash map, little-endian helpers and the constructor
 * ids of the service schema the session speaks. Not installed.
 */
#ifndef MTP_SESSION_INT_H
#define MTP_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <mtproto/common.h>
#include <mtproto/tl.h>

/* ---- constructor ids (tl/mtproto.tl and tl/api.tl; docs/PROTOCOL.md §5, §7) ---- */
#define SID_VECTOR              0x1cb5c415u
#define SID_RPC_RESULT          0xf35c6d01u
#define SID_RPC_ERROR           0x2144ca19u
#define SID_MSG_CONTAINER       0x73f1f8dcu
#define SID_MSG_COPY            0xe06046b2u
#define SID_GZIP_PACKED         0x3072cfa1u
#define SID_MSGS_ACK            0x62d6b459u
#define SID_BAD_MSG             0xa7eff811u
#define SID_BAD_SALT            0xedab447bu
#define SID_NEW_SESSION         0x9ec20908u
#define SID_GET_FUTURE_SALTS    0xb921bd04u
#define SID_FUTURE_SALTS        0xae500895u
#define SID_PING                0x7abe77ecu
#define SID_PONG                0x347773c5u
#define SID_PING_DELAY          0xf3427b8cu
#define SID_STATE_REQ           0xda69fb52u
#define SID_STATE_INFO          0x04deb57du
#define SID_ALL_INFO            0x8cc0d131u
#define SID_DETAILED_INFO       0x276d3ec6u
#define SID_NEW_DETAILED_INFO   0x809db6dfu
#define SID_RESEND_REQ          0x7d861a08u
#define SID_DESTROY_SESSION     0xe7512126u
#define SID_DESTROY_SESSION_OK  0xe22045fcu
#define SID_DESTROY_SESSION_NONE 0x62d350c9u
#define SID_DESTROY_AUTH_KEY    0xd1435160u
#define SID_HTTP_WAIT           0x9299359fu
#define SID_DROP_ANSWER         0x58e4a740u
#define SID_ANSWER_UNKNOWN      0x5e2ad36eu
#define SID_ANSWER_DROPPED_RUNNING 0xcd78e586u
#define SID_ANSWER_DROPPED      0xa43ad8b7u

#define SID_INVOKE_WITH_LAYER   0xda9b0d0du
#define SID_INIT_CONNECTION     0xc1cd5ea9u
#define SID_INVOKE_AFTER_MSG    0xcb9f372du
#define SID_INVOKE_AFTER_MSGS   0x3dc4b4f0u
#define SID_INVOKE_WITHOUT_UPDATES 0xbf9459b7u
#define SID_INVOKE_MESSAGES_RANGE 0x365275f2u
#define SID_INVOKE_TAKEOUT      0xaca9fd2eu
#define SID_INVOKE_BUSINESS     0xdd289f8eu
#define SID_INVOKE_PLAY_INTEGRITY 0x1df92984u
#define SID_INVOKE_APNS_SECRET  0x0dae54f8u
#define SID_INVOKE_RECAPTCHA    0xadbb0f94u
#define SID_INPUT_CLIENT_PROXY  0x75588b3fu
#define SID_MESSAGE_RANGE       0x0ae30253u
#define SID_JSON_OBJECT_VALUE   0xc0de1bd9u
#define SID_JSON_NULL           0x3f6d7b68u
#define SID_JSON_BOOL           0xc7345e6au
#define SID_JSON_NUMBER         0x2be0dfa4u
#define SID_JSON_STRING         0xb71e767au
#define SID_JSON_ARRAY          0xf7444763u
#define SID_JSON_OBJECT         0x99c1d49du
#define SID_BOOL_TRUE           0x997275b5u
#define SID_BOOL_FALSE          0xbc799737u

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

/* ---- int64 -> pointer map (open addressing; key 0 is reserved) ---- */

typedef struct id_map {
    int64_t *keys;
    void **vals;
    uint32_t cap, n;
} id_map_t;

void  idmap_free(id_map_t *m);
void *idmap_get(const id_map_t *m, int64_t key);
int   idmap_put(id_map_t *m, int64_t key, void *val);      /* replaces; 0 or MTP_ENOMEM */
/* Make room for `extra` more keys so that the next puts cannot fail. */
int   idmap_reserve(id_map_t *m, uint32_t extra);
void  idmap_del(id_map_t *m, int64_t key);

#endif
