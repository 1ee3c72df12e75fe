/*
 * Generated codecs with the runtime: exact bytes, flags words derived from the fields, shared
 * flag bits, unknown flag bits preserved, optional Bool, bare vectors of bare objects, nested
 * vectors, !X queries, size() errors, truncated input, and the descriptor-driven codecs of the
 * non-default layers and of methods.
 */
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>
#include <mtproto/tl_mtproto.h>

#include <stdlib.h>

#include "tl/tl_gen_rt.h"
#include "tl_l227.h"
#include "testutil.h"

static mtp_arena_t *A;

#define BYTES(s) ((mtp_bytes_t){ (const uint8_t *)(s), sizeof(s) - 1 })

static int encode(const void *obj, mtp_buf_t *b)
{
    mtp_buf_clear(b);
    return mtp_tl_encode((const mtp_tl_object_t *)obj, b);
}

static size_t size_of(const void *obj, int *rc)
{
    size_t n = 0;
    *rc = mtp_tl_size((const mtp_tl_object_t *)obj, &n);
    return n;
}

/* decode b in layer l; then re-encode and compare */
static mtp_tl_object_t *roundtrip(const mtp_tl_layer_t *l, const mtp_buf_t *b, const char *what)
{
    mtp_tl_object_t *o = NULL;
    int rc = mtp_tl_decode(l, b->data, b->len, A, &o);
    IS_INT(rc, 0, "%s: decodes", what);
    if (rc)
        return NULL;
    mtp_buf_t again;
    mtp_buf_init(&again);
    OK(encode(o, &again) == 0 && tap_mem_eq(again.data, b->data, b->len, "%s: re-encodes to the same bytes", what)
       && again.len == b->len, "%s: round trip", what);
    mtp_buf_free(&again);
    return o;
}

static void test_user(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    mtp_user_t *u = MTP_NEW(A, user);
    u->id = 0x1122334455667788;
    u->self = true;                 /* flags.10 */
    u->has_access_hash = true;      /* flags.0 */
    u->access_hash = -5;
    u->has_first_name = true;       /* flags.1 */
    u->first_name = BYTES("Ada");
    u->close_friend = true;         /* flags2.2 */
    u->has_usernames = true;        /* flags2.0, an optional vector */
    u->usernames.n = 0;
    u->flags = 0x80000000u | 0x2u;  /* bit 31 unknown: kept; bit 1 (first_name) recomputed */
    u->flags2 = 0x40000000u;        /* unknown bit kept */
    mtp_peerColor_t *pc = MTP_NEW(A, peerColor);
    u->color = (mtp_tl_object_t *)pc;   /* flags2.8, optional object */
    IS_INT(encode(u, &b), 0, "user encodes");
    OK(b.len >= 12 && mtp_get_le32(b.data) == MTP_ID_user, "boxed id first");
    uint32_t f = mtp_get_le32(b.data + 4);
    OK(f == (0x80000000u | 0x400u | 0x1u | 0x2u), "flags word derived from fields, unknown bit kept (%08x)", f);
    mtp_user_t *d = (mtp_user_t *)roundtrip(mtp_tl_layer(228), &b, "user");
    if (d) {
        OK(d->self && !d->contact && d->has_access_hash && d->access_hash == -5 && d->id == u->id &&
           d->has_first_name && d->first_name.len == 3 && !memcmp(d->first_name.ptr, "Ada", 3) &&
           !d->has_last_name && d->close_friend && d->has_usernames && d->usernames.n == 0 &&
           d->color && d->color->tl == &mtp_tlc_peerColor && !d->photo && d->flags2 == (0x40000000u | 0x4u | 0x1u | 0x100u),
           "user fields decoded");
    }

    /* a true field sharing its bit with a non-true field: bot (flags.14) / bot_info_version */
    u->bot = true;
    int rc;
    size_of(u, &rc);
    IS_INT(rc, MTP_EINVAL, "shared bit set by a true field but the int sharing it is absent -> EINVAL");
    u->has_bot_info_version = true;
    u->bot_info_version = 7;
    size_of(u, &rc);
    IS_INT(rc, 0, "with both fields present it sizes");
    IS_INT(encode(u, &b), 0, "and encodes");
    d = (mtp_user_t *)roundtrip(mtp_tl_layer(228), &b, "bot user");
    OK(d && d->bot && d->has_bot_info_version && d->bot_info_version == 7, "bot + bot_info_version decoded");

    /* size errors */
    u->first_name.len = MTP_TL_MAX_BYTES + 1;
    size_of(u, &rc);
    IS_INT(rc, MTP_ERANGE, "string over 2^24-1 bytes -> ERANGE");
    u->first_name = (mtp_bytes_t){ NULL, 3 };
    size_of(u, &rc);
    IS_INT(rc, MTP_EINVAL, "string with NULL pointer -> EINVAL");
    u->first_name = BYTES("Ada");
    u->color = (mtp_tl_object_t *)MTP_NEW(A, inputPeerSelf);
    size_of(u, &rc);
    IS_INT(rc, MTP_ETYPE, "object of the wrong type -> ETYPE");
    u->color = NULL;
    size_of(u, &rc);
    IS_INT(rc, 0, "absent optional object is fine");

    /* every truncation fails */
    IS_INT(encode(u, &b), 0, "encode for truncation test");
    int ok_cuts = 0;
    for (size_t cut = 0; cut < b.len; cut++) {
        mtp_tl_object_t *o;
        if (mtp_tl_decode(mtp_tl_layer(228), b.data, cut, A, &o) == 0)
            ok_cuts++;
    }
    IS_INT(ok_cuts, 0, "every truncation of a user fails to decode");
    mtp_buf_free(&b);
}

static void test_shared_bits(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    /* message: views and forwards share flags.10 */
    mtp_message_t *m = MTP_NEW(A, message);
    mtp_peerUser_t *p = MTP_NEW(A, peerUser);
    p->user_id = 42;
    m->peer_id = (mtp_tl_object_t *)p;
    m->id = 1;
    m->date = 1700000000;
    m->message = BYTES("hi");
    m->has_views = true;
    m->views = 10;
    int rc;
    size_of(m, &rc);
    IS_INT(rc, MTP_EINVAL, "message: views without forwards (shared flags.10) -> EINVAL");
    m->has_forwards = true;
    m->forwards = 3;
    size_of(m, &rc);
    IS_INT(rc, 0, "message: views + forwards size");
    m->has_via_business_bot_id = true;   /* flags2.0 */
    m->via_business_bot_id = 99;
    m->offline = true;                   /* flags2.1 */
    IS_INT(encode(m, &b), 0, "message encodes");
    mtp_message_t *d = (mtp_message_t *)roundtrip(mtp_tl_layer(228), &b, "message");
    OK(d && d->has_views && d->views == 10 && d->has_forwards && d->forwards == 3 &&
       (d->flags & 0x400u) && d->flags2 == 0x3u && d->offline && d->via_business_bot_id == 99 &&
       d->peer_id && ((mtp_peerUser_t *)d->peer_id)->user_id == 42, "message fields decoded");

    mtp_message_t *m2 = MTP_NEW(A, message);
    m2->message = BYTES("x");
    size_of(m2, &rc);
    IS_INT(rc, MTP_EINVAL, "required object (peer_id) NULL -> EINVAL");

    /* account.password: has_password (true) shares flags.2 with three fields */
    mtp_account_password_t *pw = MTP_NEW(A, account_password);
    pw->new_algo = (mtp_tl_object_t *)MTP_NEW(A, passwordKdfAlgoUnknown);
    pw->new_secure_algo = (mtp_tl_object_t *)MTP_NEW(A, securePasswordKdfAlgoUnknown);
    pw->secure_random = BYTES("rnd");
    size_of(pw, &rc);
    IS_INT(rc, 0, "account.password without the flags.2 group");
    pw->has_password = true;
    size_of(pw, &rc);
    IS_INT(rc, MTP_EINVAL, "has_password set but current_algo/srp_B/srp_id absent -> EINVAL");
    pw->current_algo = (mtp_tl_object_t *)MTP_NEW(A, passwordKdfAlgoUnknown);
    pw->has_srp_B = true;
    pw->srp_B = BYTES("B");
    size_of(pw, &rc);
    IS_INT(rc, MTP_EINVAL, "... srp_id still absent -> EINVAL");
    pw->has_srp_id = true;
    pw->srp_id = 5;
    IS_INT(encode(pw, &b), 0, "complete flags.2 group encodes");
    mtp_account_password_t *dp = (mtp_account_password_t *)roundtrip(mtp_tl_layer(228), &b, "account.password");
    OK(dp && dp->has_password && dp->current_algo && dp->has_srp_id && dp->srp_id == 5, "account.password decoded");
    mtp_buf_free(&b);
}

static void test_bool_and_keywords(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    mtp_peerNotifySettings_t *s = MTP_NEW(A, peerNotifySettings);
    s->has_silent = true;
    s->silent = false;
    s->has_show_previews = true;
    s->show_previews = true;
    IS_INT(encode(s, &b), 0, "peerNotifySettings encodes");
    static const uint8_t want[] = { 0x0c, 0x2c, 0x62, 0x99, 0x03, 0, 0, 0,
                                    0xb5, 0x75, 0x72, 0x99, 0x37, 0x97, 0x79, 0xbc };
    OK(b.len == sizeof want && tap_mem_eq(b.data, want, sizeof want, "flags.N?Bool bytes"),
       "optional Bool fields as boolTrue/boolFalse");
    mtp_peerNotifySettings_t *d = (mtp_peerNotifySettings_t *)roundtrip(mtp_tl_layer(228), &b, "peerNotifySettings");
    OK(d && d->has_silent && !d->silent && d->has_show_previews && d->show_previews && !d->has_mute_until,
       "optional Bool decoded");
    b.data[8] = 0;   /* not a Bool id */
    mtp_tl_object_t *o;
    OK(mtp_tl_decode(mtp_tl_layer(228), b.data, b.len, A, &o) != 0, "a bad Bool id is an error");

    mtp_dcOption_t *dc = MTP_NEW(A, dcOption);
    dc->static_ = true;
    dc->id = 2;
    dc->ip_address = BYTES("127.0.0.1");
    dc->port = 443;
    IS_INT(encode(dc, &b), 0, "dcOption encodes");
    OK(mtp_get_le32(b.data + 4) == 0x10u, "static_ -> flags.4");
    mtp_dcOption_t *dd = (mtp_dcOption_t *)roundtrip(mtp_tl_layer(228), &b, "dcOption");
    OK(dd && dd->static_ && !dd->ipv6 && dd->port == 443 && !dd->has_secret, "dcOption decoded");
    mtp_buf_free(&b);
}

static void test_service(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    const mtp_tl_layer_t *L0 = mtp_tl_layer(0);

    /* future_salts: bare vector of bare future_salt (no ids, no vector id) */
    mtp_mt_future_salts_t *fs = MTP_NEW(A, mt_future_salts);
    fs->req_msg_id = 1;
    fs->now = 2;
    mtp_tl_object_t *items[2];
    for (int i = 0; i < 2; i++) {
        mtp_mt_future_salt_t *s = MTP_NEW(A, mt_future_salt);
        s->valid_since = 10 * i;
        s->valid_until = 10 * i + 5;
        s->salt = 0x0102030405060708 + i;
        items[i] = (mtp_tl_object_t *)s;
    }
    fs->salts.n = 2;
    fs->salts.v = items;
    IS_INT(encode(fs, &b), 0, "future_salts encodes");
    IS_INT(b.len, 4 + 8 + 4 + 4 + 2 * 16, "future_salts: bare vector of bare 16-byte items");
    OK(mtp_get_le32(b.data + 16) == 2, "count right after 'now' (no vector id)");
    mtp_mt_future_salts_t *dfs = (mtp_mt_future_salts_t *)roundtrip(L0, &b, "future_salts");
    OK(dfs && dfs->salts.n == 2 && ((mtp_mt_future_salt_t *)dfs->salts.v[1])->salt == 0x0102030405060709,
       "future_salts decoded");

    /* a bare item of the wrong constructor is refused */
    items[1] = (mtp_tl_object_t *)MTP_NEW(A, mt_pong);
    int rc;
    size_of(fs, &rc);
    IS_INT(rc, MTP_ETYPE, "bare vector item of another constructor -> ETYPE");

    /* msg_container of bare messages with Object bodies */
    mtp_mt_pong_t *pong = MTP_NEW(A, mt_pong);
    pong->msg_id = 7;
    pong->ping_id = 8;
    mtp_mt_message_t *msg = MTP_NEW(A, mt_message);
    msg->msg_id = 0x5000000000000004;
    msg->seqno = 1;
    msg->bytes = 20;
    msg->body = (mtp_tl_object_t *)pong;
    mtp_tl_object_t *mv[1] = { (mtp_tl_object_t *)msg };
    mtp_mt_msg_container_t *mc = MTP_NEW(A, mt_msg_container);
    mc->messages.n = 1;
    mc->messages.v = mv;
    IS_INT(encode(mc, &b), 0, "msg_container encodes");
    IS_INT(b.len, 4 + 4 + 8 + 4 + 4 + 20, "msg_container: bare messages");
    mtp_mt_msg_container_t *dmc = (mtp_mt_msg_container_t *)roundtrip(L0, &b, "msg_container");
    OK(dmc && dmc->messages.n == 1 &&
       ((mtp_mt_message_t *)dmc->messages.v[0])->body->tl == &mtp_tlc_mt_pong, "container body decoded as pong");

    /* Vector<Vector<TlsBlock>> */
    mtp_mt_tlsBlockString_t *s1 = MTP_NEW(A, mt_tlsBlockString);
    s1->data = BYTES("abc");
    mtp_tl_object_t *row0[2] = { (mtp_tl_object_t *)s1, (mtp_tl_object_t *)MTP_NEW(A, mt_tlsBlockDomain) };
    mtp_vec_t rows[2] = { { 2, row0 }, { 0, NULL } };
    mtp_mt_tlsBlockPermutation_t *perm = MTP_NEW(A, mt_tlsBlockPermutation);
    perm->entries.n = 2;
    perm->entries.v = rows;
    IS_INT(encode(perm, &b), 0, "tlsBlockPermutation encodes");
    mtp_mt_tlsBlockPermutation_t *dperm = (mtp_mt_tlsBlockPermutation_t *)roundtrip(L0, &b, "tlsBlockPermutation");
    OK(dperm && dperm->entries.n == 2 && dperm->entries.v[0].n == 2 && dperm->entries.v[1].n == 0 &&
       ((mtp_tl_object_t **)dperm->entries.v[0].v)[1]->tl == &mtp_tlc_mt_tlsBlockDomain,
       "nested vectors decoded");
    OK(MTP_ID_mt_tlsBlockString == mtp_tl_line_crc("tlsBlockString data:string = TlsBlock", 37),
       "id computed for a line without #id");
    mtp_buf_free(&b);
}

static void test_methods_and_layers(void)
{
    mtp_buf_t b;
    mtp_buf_init(&b);
    /* methods use the descriptor-driven codecs */
    mtp_messages_getHistory_t *gh = MTP_NEW(A, messages_getHistory);
    gh->peer = (mtp_tl_object_t *)MTP_NEW(A, inputPeerSelf);
    gh->limit = 100;
    gh->hash = -1;
    IS_INT(encode(gh, &b), 0, "messages.getHistory encodes");
    IS_INT(b.len, 4 + 4 + 4 * 6 + 8, "messages.getHistory size");
    mtp_messages_getHistory_t *dgh = (mtp_messages_getHistory_t *)roundtrip(mtp_tl_layer(228), &b, "messages.getHistory");
    OK(dgh && dgh->limit == 100 && dgh->hash == -1 && dgh->peer->tl == &mtp_tlc_inputPeerSelf,
       "messages.getHistory decoded");

    /* !X: invokeWithLayer(initConnection(help.getConfig)) */
    mtp_initConnection_t *ic = MTP_NEW(A, initConnection);
    ic->api_id = 1;
    ic->device_model = BYTES("pc");
    ic->query = (mtp_tl_object_t *)MTP_NEW(A, help_getConfig);
    mtp_invokeWithLayer_t *iw = MTP_NEW(A, invokeWithLayer);
    iw->layer = 228;
    iw->query = (mtp_tl_object_t *)ic;
    IS_INT(encode(iw, &b), 0, "invokeWithLayer(initConnection(help.getConfig)) encodes");
    mtp_invokeWithLayer_t *diw = (mtp_invokeWithLayer_t *)roundtrip(mtp_tl_layer(228), &b, "invokeWithLayer");
    OK(diw && diw->layer == 228 && diw->query->tl == &mtp_tlc_initConnection &&
       ((mtp_initConnection_t *)diw->query)->query->tl == &mtp_tlc_help_getConfig, "nested queries decoded");
    ic->query = (mtp_tl_object_t *)MTP_NEW(A, inputPeerSelf);
    int rc;
    size_of(iw, &rc);
    IS_INT(rc, MTP_ETYPE, "!X holding a constructor -> ETYPE");
    ic->query = NULL;
    size_of(iw, &rc);
    IS_INT(rc, MTP_EINVAL, "!X NULL -> EINVAL");

    /* a non-default layer (descriptor-driven codecs) */
    mtp_l227_user_t *u = (mtp_l227_user_t *)mtp_tl_new(A, &mtp_tlc_l227_user);
    u->id = 5;
    u->bot = true;
    u->has_bot_info_version = true;
    u->bot_info_version = 3;
    u->has_username = true;
    u->username = BYTES("robot");
    u->flags = 0x80000000u;
    IS_INT(encode(u, &b), 0, "layer 227 user encodes");
    OK(mtp_get_le32(b.data) == MTP_ID_l227_user && mtp_get_le32(b.data + 4) == (0x80000000u | 0x4000u | 0x8u),
       "layer 227 flags derived the same way");
    mtp_l227_user_t *du = (mtp_l227_user_t *)roundtrip(mtp_tl_layer(227), &b, "layer 227 user");
    OK(du && du->bot && du->bot_info_version == 3 && du->has_username && du->username.len == 5 &&
       !du->has_first_name && du->flags == (0x80000000u | 0x4000u | 0x8u), "layer 227 user decoded");
    u->has_bot_info_version = false;
    size_of(u, &rc);
    IS_INT(rc, MTP_EINVAL, "descriptor-driven size: shared bit rule too");
    mtp_buf_free(&b);
}

/* ---- differential: generated codecs against the descriptor-driven ones, every combinator ---- */

static mtp_tl_object_t *build(const mtp_tl_comb_t *c, int depth);

/* The constructor of t needing the fewest required objects (to end the recursion). */
static const mtp_tl_comb_t *pick(const mtp_tl_tname_t *t, int depth)
{
    const mtp_tl_comb_t *best = NULL;
    int best_n = 1 << 30;
    for (uint32_t i = 0; i < t->ncons; i++) {
        const mtp_tl_comb_t *c = t->cons[(i + (uint32_t)depth) % t->ncons];
        int n = 0;
        for (uint32_t k = 0; k < c->nparams; k++) {
            int kind = c->params[k].type->kind;
            n += c->params[k].flag_param < 0 &&
                 (kind == MTP_TL_OBJECT || kind == MTP_TL_BARE_OBJECT || kind == MTP_TL_QUERY);
        }
        if (depth < 2 && n > 0 && t->ncons > 1)
            n = 0;   /* shallow: prefer variety */
        if (n < best_n) {
            best_n = n;
            best = c;
        }
    }
    return best;
}

static bool fill_value(const mtp_tl_type_t *t, void *dst, int depth, int seed)
{
    switch (t->kind) {
    case MTP_TL_INT: *(int32_t *)dst = seed * 7 + 1; return true;
    case MTP_TL_NAT: *(uint32_t *)dst = 0; return true;
    case MTP_TL_LONG: *(int64_t *)dst = (int64_t)seed * 0x100000001 - 3; return true;
    case MTP_TL_DOUBLE: *(double *)dst = seed + 0.5; return true;
    case MTP_TL_INT128: memset(dst, seed + 1, 16); return true;
    case MTP_TL_INT256: memset(dst, seed + 2, 32); return true;
    case MTP_TL_STRING:
    case MTP_TL_BYTES:
        *(mtp_bytes_t *)dst = seed % 2 ? BYTES("abc") : BYTES("");
        return true;
    case MTP_TL_BOOL: *(bool *)dst = seed % 2; return true;
    case MTP_TL_TRUE: *(bool *)dst = true; return true;
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: {
        mtp_vec_t *v = dst;
        v->n = depth < 3 ? 2 : 0;
        if (!v->n)
            return true;
        v->v = mtp_arena_alloc(A, v->n * t->elem->size);
        for (uint32_t i = 0; i < v->n; i++)
            if (!fill_value(t->elem, (uint8_t *)v->v + i * t->elem->size, depth + 1, seed + (int)i))
                return false;
        return true;
    }
    case MTP_TL_OBJECT: {
        const mtp_tl_comb_t *c = t->tname ? pick(t->tname, depth) : &mtp_tlc_mt_pong;
        return c && (*(mtp_tl_object_t **)dst = build(c, depth + 1)) != NULL;
    }
    case MTP_TL_BARE_OBJECT:
        return (*(mtp_tl_object_t **)dst = build(t->bare, depth + 1)) != NULL;
    case MTP_TL_QUERY:
        return (*(mtp_tl_object_t **)dst = build(&mtp_tlc_help_getConfig, depth + 1)) != NULL;
    default:
        return false;
    }
}

static mtp_tl_object_t *build(const mtp_tl_comb_t *c, int depth)
{
    if (depth > 12)
        return NULL;
    mtp_tl_object_t *o = mtp_tl_new(A, c);
    uint8_t *base = (uint8_t *)o;
    for (uint32_t k = 0; k < c->nparams; k++) {
        const mtp_tl_param_t *p = &c->params[k];
        if (p->flag_param >= 0) {
            /* a whole flag group is present or absent (shared bits) */
            bool present = depth < 4 && ((p->flag_bit * 5 + p->flag_param + depth) % 3 != 0);
            if (!present)
                continue;
            if (p->has_offset != MTP_TL_NO_OFFSET)
                *(bool *)(base + p->has_offset) = true;
        }
        if (p->type->kind == MTP_TL_NAT) {
            *(uint32_t *)(base + p->offset) = 0x80000000u;   /* kept unless a field uses bit 31 */
            continue;
        }
        if (!fill_value(p->type, base + p->offset, depth, (int)k))
            return NULL;
    }
    return o;
}

static void differential(const mtp_tl_layer_t *l)
{
    int tested = 0, skipped = 0, bad = 0;
    for (uint32_t i = 0; i < l->ncombs; i++) {
        const mtp_tl_comb_t *c = l->by_id[i];
        mtp_arena_reset(A);
        mtp_tl_object_t *o = build(c, 0);
        if (!o) {
            skipped++;
            continue;
        }
        size_t n1 = 0, n2 = 0;
        int r1 = c->measure(o, &n1), r2 = mtp_gen_size_fields(o, &n2);
        if (r1 || r2) {
            if (r1 != r2) {
                bad++;
                tap_diag("%s: measure %d vs walker %d", c->name, r1, r2);
            } else {
                skipped++;
            }
            continue;
        }
        tested++;
        uint8_t *e1 = malloc(n1 + 1), *e2 = malloc(n2 + 1);
        size_t l1 = (size_t)(c->encode(o, e1) - e1), l2 = (size_t)(mtp_gen_encode_fields(o, e2) - e2);
        if (n1 != n2 || l1 != n1 || l2 != n2 || memcmp(e1, e2, n1) != 0) {
            bad++;
            tap_diag("%s: generated %zu/%zu bytes, walker %zu/%zu, or contents differ", c->name, n1, l1, n2, l2);
            free(e1);
            free(e2);
            continue;
        }
        /* decode with both, re-encode both */
        mtp_tl_reader_t r;
        mtp_tl_object_t *d1 = mtp_arena_alloc(A, c->size), *d2 = mtp_arena_alloc(A, c->size);
        d1->tl = d2->tl = c;
        mtp_tl_reader_init(&r, l, e1, n1, A);
        int dr1 = c->decode(&r, d1);
        bool end1 = r.p == r.end;
        mtp_tl_reader_init(&r, l, e1, n1, A);
        int dr2 = mtp_gen_decode_fields(&r, d2);
        bool end2 = r.p == r.end;
        size_t m1 = 0, m2 = 0;
        if (dr1 || dr2 || !end1 || !end2 || c->measure(d1, &m1) || c->measure(d2, &m2) || m1 != n1 || m2 != n1) {
            bad++;
            tap_diag("%s: decode %d/%d end %d/%d size %zu/%zu (want %zu)", c->name, dr1, dr2, end1, end2, m1, m2, n1);
        } else {
            uint8_t *f1 = malloc(n1 + 1), *f2 = malloc(n1 + 1);
            c->encode(d1, f1);
            mtp_gen_encode_fields(d2, f2);
            if (memcmp(f1, e1, n1) || memcmp(f2, e1, n1)) {
                bad++;
                tap_diag("%s: decoded objects re-encode differently", c->name);
            }
            free(f1);
            free(f2);
        }
        free(e1);
        free(e2);
    }
    IS_INT(bad, 0, "%s: generated codecs == descriptor-driven codecs (%d combinators, %d skipped)",
           l->name, tested, skipped);
    OK(tested > (int)l->ncombs * 8 / 10, "%s: most combinators exercised", l->name);
}

int main(void)
{
    A = mtp_arena_new(0);
    test_user();
    test_shared_bits();
    test_bool_and_keywords();
    test_service();
    test_methods_and_layers();
    differential(mtp_tl_layer(228));
    differential(mtp_tl_layer(0));
    differential(mtp_tl_layer(198));
    mtp_arena_free(A);
    return tap_done();
}
