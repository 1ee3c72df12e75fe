/*
 * libFuzzer target: method results decoded by the method's declared result type
 * (mtp_tl_decode_result). The first byte picks the method: Vector<User>, Vector<int>,
 * Vector<long>, a Bool method, an object method, none. Whatever decodes must re-encode to
 * exactly the input bytes (a vector object encodes as id, count, items), print as TL text
 * and as JSON; a vector result must hold the declared type.
 */
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mtp_tl_comb_t *const methods[] = {
        &mtp_tlc_users_getUsers, &mtp_tlc_contacts_getContactIDs,
        &mtp_tlc_messages_receivedQueue, &mtp_tlc_account_updateStatus,
        &mtp_tlc_help_getNearestDc, NULL,
    };
    if (size < 1)
        return 0;
    const mtp_tl_comb_t *mc = methods[data[0] % (sizeof methods / sizeof methods[0])];
    data++;
    size--;
    mtp_arena_t *a = mtp_arena_new(64u << 20);
    if (!a)
        abort();
    mtp_tl_object_t *m = mc ? mtp_tl_new(a, mc) : NULL;
    if (mc && !m)
        abort();
    mtp_tl_reader_t r;
    mtp_tl_reader_init(&r, mtp_tl_layer(MTP_TL_DEFAULT_LAYER), data, size, a);
    r.unpack_gzip = false;
    mtp_tl_object_t *o = NULL;
    if (mtp_tl_decode_result_reader(&r, m, &o) == 0) {
        const mtp_tl_vector_t *v = mtp_tl_as_vector(o);
        if (v && (!mc || v->type != mc->result || (v->n && !v->v.any)))
            abort();   /* a vector only for a method declared Vector<T>, with its type */
        mtp_buf_t b;
        mtp_buf_init(&b);
        if (mtp_tl_encode(o, &b) || b.len != size || memcmp(b.data, data, size))
            abort();   /* decoded but does not re-encode to the same bytes */
        mtp_buf_clear(&b);
        if (mtp_tl_print(o, &b))
            abort();
        mtp_buf_clear(&b);
        if (mtp_tl_to_json(o, &b))
            abort();
        mtp_buf_free(&b);
    } else if (o) {
        abort();   /* nothing is returned on an error */
    }
    mtp_arena_free(a);
    return 0;
}
