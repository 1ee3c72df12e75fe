/* TL runtime: primitives, bounds, nesting, gzip, truncation at every offset. */
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>
#include <mtproto/tl_mtproto.h>

#include <stdlib.h>

#include "testutil.h"

static const mtp_tl_layer_t *L;

static int decode_hex(const char *hex, mtp_arena_t *a, mtp_tl_object_t **o, mtp_tl_reader_t *r)
{
    uint8_t *b;
    size_t n = tu_unhex(hex, &b);
    mtp_tl_reader_init(r, L, b, n, a);
    int rc = mtp_tl_decode_reader(r, o);
    /* strings were copied into the arena: the input can go */
    free(b);
    return rc;
}

static void test_primitives(void)
{
    mtp_arena_t *a = mtp_arena_new(0);
    uint8_t buf[64];
    mtp_tl_reader_t r;

    /* string header forms */
    static const uint8_t s1[] = { 3, 'a', 'b', 'c' };
    mtp_tl_reader_init(&r, L, s1, sizeof s1, a);
    mtp_bytes_t b = mtp_tl_read_bytes(&r);
    OK(!r.err && b.len == 3 && !memcmp(b.ptr, "abc", 3) && r.p == r.end, "short string");

    uint8_t long1[4 + 256];
    long1[0] = 254; long1[1] = 0; long1[2] = 1; long1[3] = 0;
    memset(long1 + 4, 'x', 256);
    mtp_tl_reader_init(&r, L, long1, sizeof long1, a);
    b = mtp_tl_read_bytes(&r);
    OK(!r.err && b.len == 256 && r.p == r.end, "long string (0xfe header)");

    static const uint8_t noncanon[] = { 254, 3, 0, 0, 'a', 'b', 'c', 0 };
    mtp_tl_reader_init(&r, L, noncanon, sizeof noncanon, a);
    mtp_tl_read_bytes(&r);
    IS_INT(r.err, MTP_EBADTL, "non-canonical long header for a short string is rejected");

    static const uint8_t ff[] = { 255, 0, 0, 0 };
    mtp_tl_reader_init(&r, L, ff, sizeof ff, a);
    mtp_tl_read_bytes(&r);
    IS_INT(r.err, MTP_EBADTL, "0xff string header is rejected");

    static const uint8_t badpad[] = { 1, 'a', 0, 7 };
    mtp_tl_reader_init(&r, L, badpad, sizeof badpad, a);
    mtp_tl_read_bytes(&r);
    IS_INT(r.err, MTP_EBADTL, "non-zero padding is rejected");

    static const uint8_t huge[] = { 254, 0xff, 0xff, 0xff, 1, 2, 3, 4 };
    size_t before = mtp_arena_used(a);
    mtp_tl_reader_init(&r, L, huge, sizeof huge, a);
    mtp_tl_read_bytes(&r);
    IS_INT(r.err, MTP_ETRUNC, "16 MiB string length with 4 bytes left is truncation");
    OK(mtp_arena_used(a) == before, "nothing allocated for it");

    /* sticky error: later reads return zero and keep the first error */
    mtp_tl_reader_init(&r, L, s1, 2, a);
    int32_t v = mtp_tl_read_int(&r);
    int64_t l = mtp_tl_read_long(&r);
    OK(r.err == MTP_ETRUNC && v == 0 && l == 0 && r.err_off == 0, "sticky truncation error");

    /* Bool */
    mtp_tl_write_int(buf, (int32_t)0x997275b5u);
    mtp_tl_write_int(buf + 4, (int32_t)0xbc799737u);
    mtp_tl_write_int(buf + 8, 0x12345678);
    mtp_tl_reader_init(&r, L, buf, 12, a);
    bool t = mtp_tl_read_bool(&r), f = mtp_tl_read_bool(&r);
    OK(t && !f && !r.err, "boolTrue / boolFalse");
    mtp_tl_read_bool(&r);
    OK(r.err == MTP_ETYPE && r.err_id == 0x12345678, "any other id where a Bool is expected is an error");

    /* writers */
    uint8_t *p = mtp_tl_write_bytes(buf, (const uint8_t *)"abcde", 5);
    OK(p - buf == 8 && buf[0] == 5 && buf[6] == 0 && buf[7] == 0, "string padding written as zeros");
    OK(mtp_tl_bytes_size(253) == 256 && mtp_tl_bytes_size(254) == 260 && mtp_tl_bytes_size(0) == 4,
       "bytes_size at the header boundary");
    mtp_arena_free(a);
}

static void test_objects(void)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_tl_reader_t r;
    mtp_tl_object_t *o;
    char err[128];

    /* msgs_ack with three ids, built through the generated struct */
    mtp_mt_msgs_ack_t *ack = MTP_NEW(a, mt_msgs_ack);
    int64_t ids[3] = { 1, -2, 0x7fffffffffffffffLL };
    ack->msg_ids.n = 3;
    ack->msg_ids.v = ids;
    mtp_buf_t out;
    mtp_buf_init(&out);
    int erc = mtp_tl_encode(&ack->_, &out);
    OK(erc == 0 && out.len == 4 + 8 + 24, "encode msgs_ack (%zu bytes)", out.len);
    char *hex = tu_hex(out.data, out.len);
    OK(!strncmp(hex, "59b4d662" "15c4b51c" "03000000", 24), "msgs_ack wire prefix %s", hex);
    OK(decode_hex(hex, a, &o, &r) == 0 && o && o->tl == &mtp_tlc_mt_msgs_ack, "decode msgs_ack");
    mtp_mt_msgs_ack_t *ack2 = (mtp_mt_msgs_ack_t *)o;
    OK(o && ack2->msg_ids.n == 3 && ack2->msg_ids.v[1] == -2 && ack2->msg_ids.v[2] == ids[2], "values kept");
    free(hex);

    /* truncated at every offset: always an error, never a crash */
    int bad = 0;
    for (size_t cut = 0; cut < out.len; cut++) {
        mtp_tl_reader_init(&r, L, out.data, cut, a);
        if (mtp_tl_decode_reader(&r, &o) == 0)
            bad++;
    }
    OK(bad == 0, "every truncation of msgs_ack fails (%d succeeded)", bad);

    /* trailing bytes */
    mtp_buf_append(&out, "\0\0\0\0", 4);
    mtp_tl_reader_init(&r, L, out.data, out.len, a);
    IS_INT(mtp_tl_decode_reader(&r, &o), MTP_EBADTL, "trailing bytes are an error");

    /* huge vector count: refused before allocating */
    size_t before = mtp_arena_used(a);
    OK(decode_hex("59b4d66215c4b51cffffff7f0100000000000000", a, &o, &r) == MTP_ERANGE,
       "vector count 2^31-1 with 8 bytes left -> range error");
    OK(mtp_arena_used(a) - before < 256, "no room allocated for the huge vector (%zu bytes used)",
       mtp_arena_used(a) - before);
    OK(decode_hex("59b4d66215c4b51cffffffff", a, &o, &r) == MTP_ERANGE, "negative vector count");
    OK(decode_hex("59b4d66278563412", a, &o, &r) == MTP_ETYPE && r.err_id == 0x12345678,
       "wrong vector id -> type error naming it");

    /* unknown constructor */
    OK(decode_hex("efbeadde", a, &o, &r) == MTP_EUNKNOWN_ID && r.err_id == 0xdeadbeef,
       "unknown id is an error");
    mtp_tl_reader_strerror(&r, err, sizeof err);
    OK(strstr(err, "0xdeadbeef") != NULL, "error text names the id: %s", err);

    /* deep nesting: textBold { textBold { ... textEmpty } } */
    mtp_buf_clear(&out);
    for (int i = 0; i < 100; i++) {
        uint8_t w[4];
        mtp_tl_write_int(w, (int32_t)MTP_ID_textBold);
        mtp_buf_append(&out, w, 4);
    }
    uint8_t w[4];
    mtp_tl_write_int(w, (int32_t)MTP_ID_textEmpty);
    mtp_buf_append(&out, w, 4);
    mtp_tl_reader_init(&r, L, out.data, out.len, a);
    IS_INT(mtp_tl_decode_reader(&r, &o), MTP_EDEPTH, "100 nested textBold exceed the depth limit");
    mtp_tl_reader_init(&r, L, out.data + 4 * 60, out.len - 4 * 60, a);
    OK(mtp_tl_decode_reader(&r, &o) == 0, "40 nested textBold decode");

    /* a method where a constructor is expected: a Bool field given help.getConfig */
    mtp_buf_clear(&out);
    mtp_tl_write_int(w, (int32_t)MTP_ID_textBold);
    mtp_buf_append(&out, w, 4);
    mtp_tl_write_int(w, (int32_t)MTP_ID_help_getConfig);
    mtp_buf_append(&out, w, 4);
    mtp_tl_reader_init(&r, L, out.data, out.len, a);
    IS_INT(mtp_tl_decode_reader(&r, &o), MTP_ETYPE, "a method inside a RichText field is a type error");

    /* a constructor of another type inside a field */
    mtp_buf_clear(&out);
    mtp_tl_write_int(w, (int32_t)MTP_ID_textBold);
    mtp_buf_append(&out, w, 4);
    mtp_tl_write_int(w, (int32_t)MTP_ID_inputPeerSelf);
    mtp_buf_append(&out, w, 4);
    mtp_tl_reader_init(&r, L, out.data, out.len, a);
    IS_INT(mtp_tl_decode_reader(&r, &o), MTP_ETYPE, "an InputPeer inside a RichText field is a type error");

    /* encoder validation: a required object left NULL, a wrong type */
    mtp_textBold_t *tb = MTP_NEW(a, textBold);
    size_t n;
    IS_INT(mtp_tl_size(&tb->_, &n), MTP_EINVAL, "size() refuses a NULL required field");
    tb->text = (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf);
    IS_INT(mtp_tl_size(&tb->_, &n), MTP_ETYPE, "size() refuses a constructor of the wrong type");
    mtp_textBold_t *cyc = MTP_NEW(a, textBold);
    cyc->text = &cyc->_;   /* a cycle */
    IS_INT(mtp_tl_size(&cyc->_, &n), MTP_EDEPTH, "size() refuses a cyclic graph");

    /* flags: presence derives the bits; unknown bits are kept */
    mtp_user_t *u = MTP_NEW(a, user);
    u->id = 42;
    u->self = true;                      /* flags.10?true */
    u->has_first_name = true;            /* flags.1?string */
    u->first_name.ptr = (const uint8_t *)"Ann";
    u->first_name.len = 3;
    mtp_buf_clear(&out);
    OK(mtp_tl_encode(&u->_, &out) == 0, "encode user");
    mtp_tl_reader_init(&r, L, out.data, out.len, a);
    OK(mtp_tl_decode_reader(&r, &o) == 0 && o->tl == &mtp_tlc_user, "decode user");
    mtp_user_t *u2 = (mtp_user_t *)o;
    OK(u2->flags == ((1u << 10) | (1u << 1)) && u2->self && u2->has_first_name && !u2->has_last_name &&
       u2->first_name.len == 3 && u2->id == 42, "flags word derived from the fields (0x%x)", u2->flags);

    mtp_buf_free(&out);
    mtp_arena_free(a);
}

static void test_gzip(void)
{
    mtp_buf_t z, back;
    mtp_buf_init(&z);
    mtp_buf_init(&back);
    uint8_t *data = malloc(100000);
    for (int i = 0; i < 100000; i++)
        data[i] = (uint8_t)(i * 7 / 13);
    int drc = mtp_gzip_deflate(data, 100000, 0, &z);
    OK(drc == 0 && z.len < 100000 && z.data[0] == 0x1f && z.data[1] == 0x8b,
       "deflate produces a gzip stream (%zu bytes)", z.len);
    OK(mtp_gzip_inflate(z.data, z.len, 1 << 20, &back) == 0 && back.len == 100000 &&
       !memcmp(back.data, data, 100000), "inflate gives the data back");
    mtp_buf_clear(&back);
    IS_INT(mtp_gzip_inflate(z.data, z.len, 50000, &back), MTP_EGZIP, "output cap enforced");
    mtp_buf_clear(&back);
    IS_INT(mtp_gzip_inflate(z.data, z.len / 2, 1 << 20, &back), MTP_EGZIP, "truncated stream");
    mtp_buf_clear(&back);
    z.data[z.len / 2] ^= 0x55;
    OK(mtp_gzip_inflate(z.data, z.len, 1 << 20, &back) != 0, "corrupted stream");

    /* zlib stream (what mtcute puts in gzip_packed) */
    static const uint8_t zl[] = { 0x78, 0x9c, 0x4b, 0x4c, 0x4a, 0x06, 0x00, 0x02, 0x4d, 0x01, 0x27 };
    mtp_buf_clear(&back);
    OK(mtp_gzip_inflate(zl, sizeof zl, 100, &back) == 0 && back.len == 3 && !memcmp(back.data, "abc", 3),
       "zlib stream accepted");

    /* bomb: 64 MiB of zeros -> capped at 16 MiB */
    uint8_t *zeros = calloc(1, 64u << 20);
    mtp_buf_clear(&z);
    mtp_gzip_deflate(zeros, 64u << 20, 9, &z);
    mtp_buf_clear(&back);
    IS_INT(mtp_gzip_inflate(z.data, z.len, MTP_TL_GZIP_CAP_DEFAULT, &back), MTP_EGZIP,
           "a %zu-byte gzip bomb stops at the 16 MiB cap", z.len);

    /* gzip_packed inside an object field is unpacked; gzip inside gzip is refused */
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_buf_t inner, pkt;
    mtp_buf_init(&inner);
    mtp_buf_init(&pkt);
    mtp_textPlain_t *tp = MTP_NEW(a, textPlain);
    tp->text.ptr = (const uint8_t *)"hello";
    tp->text.len = 5;
    mtp_tl_encode(&tp->_, &inner);
    mtp_buf_clear(&z);
    mtp_gzip_deflate(inner.data, inner.len, 0, &z);
    uint8_t w[4];
    mtp_tl_write_int(w, (int32_t)MTP_ID_textBold);
    mtp_buf_append(&pkt, w, 4);
    mtp_tl_write_int(w, (int32_t)0x3072cfa1u);
    mtp_buf_append(&pkt, w, 4);
    mtp_buf_reserve(&pkt, mtp_tl_bytes_size(z.len));
    pkt.len = (size_t)(mtp_tl_write_bytes(pkt.data + pkt.len, z.data, z.len) - pkt.data);
    mtp_tl_object_t *o;
    OK(mtp_tl_decode(L, pkt.data, pkt.len, a, &o) == 0 && o->tl == &mtp_tlc_textBold &&
       ((mtp_textBold_t *)o)->text->tl == &mtp_tlc_textPlain, "gzip_packed field content decoded in place");

    free(zeros);
    free(data);
    mtp_buf_free(&z);
    mtp_buf_free(&back);
    mtp_buf_free(&inner);
    mtp_buf_free(&pkt);
    mtp_arena_free(a);
}

static void test_tables(void)
{
    int layers[8];
    int n = mtp_tl_layers(layers, 8);
    OK(n >= 3, "%d layers compiled in", n);
    OK(mtp_tl_layer(228) && mtp_tl_layer(227) && mtp_tl_layer(198) && mtp_tl_layer(0) && !mtp_tl_layer(1),
       "layers 228, 227, 198 and the service schema");
    const mtp_tl_layer_t *l = mtp_tl_layer(228);
    int sorted = 1;
    for (uint32_t i = 1; i < l->ncombs; i++)
        if (l->by_id[i - 1]->id >= l->by_id[i]->id || strcmp(l->by_name[i - 1]->name, l->by_name[i]->name) >= 0)
            sorted = 0;
    OK(sorted, "layer 228 tables sorted by id and by name (%u entries)", l->ncombs);
    OK(l->ncombs >= 2440, "layer 228 has every constructor and method (%u)", l->ncombs);
    const mtp_tl_comb_t *c = mtp_tl_find_name(l, "rpc_result", 10);
    OK(c && c->id == 0xf35c6d01u, "service constructors reachable through the fallback");
    c = mtp_tl_find_id(mtp_tl_layer(227), 0x31774388u);
    OK(c && !strcmp(c->name, "user"), "layer 227 user id");
    c = mtp_tl_find_id(mtp_tl_layer(198), 0x4b46c37eu);
    OK(c && !strcmp(c->name, "user"), "layer 198 user id");
    const mtp_tl_tname_t *t = mtp_tl_find_type(l, "InputPeer", 9);
    OK(t && t->ncons >= 7, "type InputPeer with its constructors");
}

/* Results of methods declared Vector<T>: mtp_tl_decode_result() and the vector object. */
static int dres(const mtp_tl_object_t *m, const char *hex, mtp_arena_t *a, mtp_tl_object_t **o)
{
    char h[256];
    size_t k = 0;
    for (; *hex && k + 1 < sizeof h; hex++)
        if (*hex != ' ')
            h[k++] = *hex;
    h[k] = 0;
    uint8_t *b;
    size_t n = tu_unhex(h, &b);
    if (n == (size_t)-1)
        tap_bail("bad hex in a test");
    *o = (mtp_tl_object_t *)(uintptr_t)1;   /* must be reset on errors */
    int rc = mtp_tl_decode_result(L, m, b, n, a, o);
    free(b);
    return rc;
}

static void test_vector_results(void)
{
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_users_getUsers_t *gu = MTP_NEW(a, users_getUsers);
    const mtp_tl_type_t *t = mtp_tl_method_result(&gu->_);
    OK(t && t->kind == MTP_TL_VECTOR && t->elem && t->elem->kind == MTP_TL_OBJECT &&
           !strcmp(t->text, "Vector<User>"), "users.getUsers declares Vector<User>");
    mtp_invokeWithLayer_t *iw = MTP_NEW(a, invokeWithLayer);
    iw->layer = 228;
    iw->query = &gu->_;
    OK(mtp_tl_method_result(&iw->_) == t, "invokeWithLayer(users.getUsers): the wrapped result type");
    OK(!mtp_tl_method_result(NULL) && !mtp_tl_method_result((mtp_tl_object_t *)MTP_NEW(a, userEmpty)),
       "no result type for NULL or a constructor");

    /* [user(id 77, first_name "Ann", access_hash 5), userEmpty(78)] */
    mtp_user_t *u = MTP_NEW(a, user);
    u->id = 77;
    u->first_name = (mtp_bytes_t){ (const uint8_t *)"Ann", 3 };
    u->has_first_name = true;
    u->access_hash = 5;
    u->has_access_hash = true;
    mtp_userEmpty_t *ue = MTP_NEW(a, userEmpty);
    ue->id = 78;
    mtp_tl_object_t *items[2] = { &u->_, &ue->_ };
    mtp_vec_obj_t vin = { 2, items };
    mtp_buf_t wire;
    mtp_buf_init(&wire);
    int rc = mtp_tl_encode_value(t, &vin, &wire);
    OK(rc == 0 && wire.len > 12, "Vector<User> encoded (%zu bytes)", wire.len);
    mtp_tl_object_t *o = NULL;
    IS_INT(mtp_tl_decode(L, wire.data, wire.len, a, &o), MTP_EUNKNOWN_ID,
           "mtp_tl_decode: a bare vector is no object");
    rc = mtp_tl_decode_result(L, &gu->_, wire.data, wire.len, a, &o);
    const mtp_tl_vector_t *v = mtp_tl_as_vector(o);
    OK(rc == 0 && v && v->type == t && v->n == 2 && o->tl == &mtp_tl_vector_comb &&
           o->tl->id == MTP_TL_ID_VECTOR, "decode_result(users.getUsers): vector of 2 (%d)", rc);
    if (v && v->n == 2) {
        const mtp_user_t *u0 = (const mtp_user_t *)v->v.obj[0];
        OK(u0->_.tl->id == MTP_ID_user && u0->id == 77 && u0->has_access_hash &&
               u0->access_hash == 5 && u0->first_name.len == 3 && !memcmp(u0->first_name.ptr, "Ann", 3),
           "item 0: user 77 Ann");
        OK(v->v.obj[1]->tl->id == MTP_ID_userEmpty && ((const mtp_userEmpty_t *)v->v.obj[1])->id == 78,
           "item 1: userEmpty 78");
    } else {
        tap_skip("no vector", 2);
    }
    mtp_tl_object_t *o2 = NULL;
    rc = mtp_tl_decode_result(L, &iw->_, wire.data, wire.len, a, &o2);
    OK(rc == 0 && mtp_tl_as_vector(o2) && mtp_tl_as_vector(o2)->n == 2,
       "decode_result through invokeWithLayer");

    /* the generic functions on the vector object */
    mtp_buf_t js, js2, txt, enc;
    mtp_buf_init(&js);
    mtp_buf_init(&js2);
    mtp_buf_init(&txt);
    mtp_buf_init(&enc);
    OK(v && mtp_tl_to_json(o, &js) == 0 && mtp_tl_value_to_json(t, &vin, &js2) == 0 &&
           js.len == js2.len && !memcmp(js.data, js2.data, js.len) && js.data[0] == '[',
       "mtp_tl_to_json: the JSON array of the items");
    mtp_buf_append(&js, "", 1);
    OK(strstr((const char *)js.data, "{\"_\":\"user\",") && strstr((const char *)js.data, "\"id\":\"78\""),
       "JSON: %.80s", (const char *)js.data);
    OK(v && mtp_tl_print(o, &txt) == 0 && txt.len > 14 && !memcmp(txt.data, "Vector<User> [\n", 15),
       "mtp_tl_print: Vector<User> [ ... ]");
    size_t sz = 0;
    rc = v ? mtp_tl_size(o, &sz) : -1;
    OK(rc == 0 && sz == wire.len, "mtp_tl_size: the Vector encoding (%zu)", sz);
    OK(v && mtp_tl_encode(o, &enc) == 0 && enc.len == wire.len && !memcmp(enc.data, wire.data, wire.len),
       "mtp_tl_encode: round trip to the same bytes");
    mtp_tl_object_t *cv = NULL;
    IS_INT(mtp_tl_convert(o, mtp_tl_layer(198), a, &cv), MTP_ENOTFOUND, "convert: no vector in a layer");
    mtp_buf_free(&js);
    mtp_buf_free(&js2);
    mtp_buf_free(&txt);
    mtp_buf_free(&enc);

    /* Vector<int>, Vector<long>, empty */
    mtp_contacts_getContactIDs_t *gc = MTP_NEW(a, contacts_getContactIDs);
    rc = dres(&gc->_, "15c4b51c 03000000 01000000 feffffff 05000000", a, &o);
    v = mtp_tl_as_vector(o);
    OK(rc == 0 && v && v->type->elem->kind == MTP_TL_INT && v->n == 3 && v->v.i32[0] == 1 &&
           v->v.i32[1] == -2 && v->v.i32[2] == 5, "Vector<int> (contacts.getContactIDs)");
    mtp_buf_init(&js);
    OK(v && mtp_tl_to_json(o, &js) == 0 && js.len == 8 && !memcmp(js.data, "[1,-2,5]", 8), "as JSON [1,-2,5]");
    mtp_buf_free(&js);
    mtp_messages_receivedQueue_t *rq = MTP_NEW(a, messages_receivedQueue);
    rc = dres(&rq->_, "15c4b51c 01000000 0000000000000080", a, &o);
    v = mtp_tl_as_vector(o);
    OK(rc == 0 && v && v->n == 1 && v->v.i64[0] == INT64_MIN, "Vector<long> (messages.receivedQueue)");
    mtp_buf_init(&js);
    OK(v && mtp_tl_to_json(o, &js) == 0 && js.len == 24 &&
           !memcmp(js.data, "[\"-9223372036854775808\"]", 24), "long items as JSON strings");
    mtp_buf_free(&js);
    rc = dres(&gu->_, "15c4b51c 00000000", a, &o);
    v = mtp_tl_as_vector(o);
    OK(rc == 0 && v && v->n == 0 && v->v.any == NULL, "empty Vector<User>");

    /* malformed bytes: clean errors, nothing returned */
    size_t used0 = mtp_arena_used(a);
    IS_INT(dres(&gu->_, "", a, &o), MTP_ETRUNC, "empty input: MTP_ETRUNC");
    OK(o == NULL, "no object on error");
    IS_INT(dres(&gu->_, "15c4b51c", a, &o), MTP_ETRUNC, "id without count: MTP_ETRUNC");
    IS_INT(dres(&gu->_, "15c4b51c 010000", a, &o), MTP_ETRUNC, "short count: MTP_ETRUNC");
    IS_INT(dres(&gc->_, "15c4b51c 03000000 01000000 02000000", a, &o), MTP_ERANGE,
           "count above the bytes left: MTP_ERANGE");
    IS_INT(dres(&gc->_, "15c4b51c ffffff7f 01000000", a, &o), MTP_ERANGE, "count 2^31-1: MTP_ERANGE");
    IS_INT(dres(&gc->_, "15c4b51c ffffffff", a, &o), MTP_ERANGE, "negative count: MTP_ERANGE");
    OK(mtp_arena_used(a) - used0 < 4096, "no allocation sized by a bad count (%zu bytes)",
       mtp_arena_used(a) - used0);
    IS_INT(dres(&gu->_, "15c4b51c 01000000 7a4bbcd3 4e000000", a, &o), MTP_ETRUNC,
           "truncated item: MTP_ETRUNC");
    IS_INT(dres(&gu->_, "15c4b51c 01000000 65285629 4e00000000000000", a, &o), MTP_ETYPE,
           "item of another type (chatEmpty in Vector<User>): MTP_ETYPE");
    IS_INT(dres(&gu->_, "7a4bbcd3 4e00000000000000", a, &o), MTP_ETYPE,
           "an object where the vector is declared: MTP_ETYPE");
    IS_INT(dres(&gc->_, "15c4b51c 01000000 01000000 00000000", a, &o), MTP_EBADTL,
           "trailing bytes: MTP_EBADTL");
    OK(o == NULL, "still no object");
    mtp_tl_reader_t r;
    static const uint8_t bad_id[] = { 0x15, 0xc4, 0xb5, 0x1c, 0x01, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde };
    mtp_tl_reader_init(&r, L, bad_id, sizeof bad_id, a);
    OK(mtp_tl_decode_result_reader(&r, &gu->_, &o) == MTP_EUNKNOWN_ID && r.err_id == 0xdeadbeef &&
           r.err_off == 8, "unknown item id: MTP_EUNKNOWN_ID with id and offset");

    /* other result types decode as before */
    mtp_help_getNearestDc_t *nd = MTP_NEW(a, help_getNearestDc);
    rc = dres(&nd->_, "75171a8e 02555300 01000000 03000000", a, &o);
    OK(rc == 0 && o && o->tl->id == MTP_ID_nearestDc, "an object result decodes as with mtp_tl_decode");
    mtp_account_updateStatus_t *us = MTP_NEW(a, account_updateStatus);
    rc = dres(&us->_, "b5757299", a, &o);
    OK(rc == 0 && o && o->tl->id == MTP_ID_boolTrue, "Bool result: boolTrue object");
    rc = dres(NULL, "7a4bbcd3 4e00000000000000", a, &o);
    OK(rc == 0 && o && o->tl->id == MTP_ID_userEmpty, "no method: any boxed object");
    OK(!mtp_tl_as_vector(o) && !mtp_tl_as_vector(NULL), "mtp_tl_as_vector: NULL for others");
    OK(!mtp_tl_vector_new(a, t->elem) && !mtp_tl_vector_new(a, NULL), "vector_new rejects non-vector types");
    mtp_tl_vector_t *nv = mtp_tl_vector_new(a, t);
    size_t nsz = 0;
    OK(nv && nv->n == 0 && mtp_tl_size(&nv->_, &nsz) == 0 && nsz == 8, "a new vector is empty (8 bytes)");
    mtp_buf_free(&wire);
    mtp_arena_free(a);
}

int main(void)
{
    L = mtp_tl_layer(228);
    if (!L)
        tap_bail("layer 228 missing");
    test_primitives();
    test_objects();
    test_gzip();
    test_tables();
    test_vector_results();
    return tap_done();
}
