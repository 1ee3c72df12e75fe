/*
 * libmtproto — key exchange: pieces shared by the client and the server role
 * (msg_ids, TL decode/encode of the service constructors).
 */
#include <string.h>

#include "proto/handshake_int.h"
#include "util/util.h"


void mtp_hs_result_wipe(mtp_hs_result_t *r)
{
    if (r)
        mtp_secure_zero(r, sizeof *r);
}

int64_t mtp_hs_msg_id_(mtp_usec_t now, mtp_usec_t offset, int parity, int64_t *last)
{
    mtp_usec_t t = now + offset;
    if (t < 0)
        t = 0;
    uint64_t sec = (uint64_t)(t / MTP_USEC_PER_SEC);
    uint64_t usec = (uint64_t)(t % MTP_USEC_PER_SEC);
    uint64_t frac = (usec << 32) / (uint64_t)MTP_USEC_PER_SEC;
    uint64_t id = (sec << 32 | frac) & ~(uint64_t)3;
    if ((id & 0xffffffffu) == 0)
        id |= 4;                     /* the fraction must not be all zero */
    id |= (uint64_t)parity & 3;
    if ((int64_t)id <= *last)
        id = ((uint64_t)*last & ~(uint64_t)3) + 4 + ((uint64_t)parity & 3);
    *last = (int64_t)id;
    return (int64_t)id;
}

void *mtp_hs_decode_(mtp_arena_t *arena, const uint8_t *p, size_t n,
                     const mtp_tl_comb_t *const *allowed, size_t nallowed, size_t pad_max,
                     size_t *consumed, int *err)
{
    *err = MTP_EPROTO;
    if (consumed)
        *consumed = 0;
    const mtp_tl_layer_t *layer = mtp_tl_layer(0);
    if (!layer)
        return NULL;
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, layer, p, n, arena);
    r.borrow = true;
    r.unpack_gzip = false;
    uint32_t id = mtp_tl_read_nat(&r);
    if (r.err)
        return NULL;
    const mtp_tl_comb_t *c = NULL;
    for (size_t i = 0; i < nallowed; i++)
        if (allowed[i]->id == id)
            c = allowed[i];
    if (!c)
        return NULL;
    mtp_tl_object_t *o = mtp_tl_read_bare(&r, c);
    if (!o || r.err) {
        if (r.err == MTP_ENOMEM)
            *err = MTP_ENOMEM;
        return NULL;
    }
    if ((size_t)(r.end - r.p) > pad_max)
        return NULL;
    if (consumed)
        *consumed = (size_t)(r.p - r.start);
    *err = 0;
    return o;
}

int mtp_hs_encode_(const mtp_tl_object_t *obj, mtp_buf_t *b)
{
    mtp_buf_clear(b);
    int rc = mtp_tl_encode(obj, b);
    return rc ? rc : b->err;
}

int mtp_hs_repack_(const mtp_buf_t *body, int64_t msg_id, mtp_buf_t *out)
{
    return mtp_plain_pack(msg_id, body->data, body->len, out);
}

int mtp_hs_pack_(const mtp_tl_object_t *obj, int64_t msg_id, mtp_buf_t *out,
                 mtp_buf_t *body_copy)
{
    mtp_buf_t tmp;
    mtp_buf_init(&tmp);
    mtp_buf_t *b = body_copy ? body_copy : &tmp;
    int rc = mtp_hs_encode_(obj, b);
    if (!rc)
        rc = mtp_hs_repack_(b, msg_id, out);
    if (rc && body_copy)
        mtp_buf_clear(body_copy);
    mtp_buf_free(&tmp);
    return rc;
}

int mtp_hs_be_u64_(const uint8_t *p, size_t n, uint64_t *v)
{
    *v = 0;
    if (n == 0 || n > 8)
        return MTP_EPROTO;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x << 8 | p[i];
    *v = x;
    return 0;
}

size_t mtp_hs_u64_be_(uint64_t v, uint8_t out[8])
{
    size_t n = 0;
    for (uint64_t t = v; t; t >>= 8)
        n++;
    if (n == 0)
        n = 1;
    for (size_t i = 0; i < n; i++)
        out[n - 1 - i] = (uint8_t)(v >> (8 * i));
    return n;
}

int mtp_hs_set_key_(mtp_hs_result_t *r, const uint8_t auth_key[256])
{
    return mtp_auth_key_init(&r->key, auth_key);
}
