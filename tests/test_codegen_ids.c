/*
 * Generated tables: constructor ids against tests/vectors/tl_constructor_ids.json (the crc32
 * rule, the normalised text, the known exceptions), and the invariants of every compiled layer
 * (sorted by_id / by_name / types, the id hash, descriptors consistent with their structs).
 */
#include <mtproto/tl.h>
#include <mtproto/tl_schema.h>
#include <mtproto/tl_mtproto.h>

#include <stdlib.h>

#include "tl/tl_crc.h"
#include "tl_l227.h"   /* internal header of layer 227 (build/gen) */
#include "testutil.h"

static uint32_t hex32(const char *s)
{
    return (uint32_t)strtoul(s, NULL, 16);
}

static const char *const exceptions[] = {
    "inputPeerPhotoFileLocationLegacy", "inputStickerSetThumbLegacy", "ipPortSecret",
    "accessPointRule", "help.configSimple", "msg_container", NULL
};

static bool is_exception(const char *name)
{
    for (int i = 0; exceptions[i]; i++)
        if (strcmp(exceptions[i], name) == 0)
            return true;
    return false;
}

static void test_vectors(void)
{
    tj *v = tj_load("tests/vectors/tl_constructor_ids.json");
    const tj *lines = tj_get(v, "schema_lines");
    int found = 0, bad_crc = 0, bad_norm = 0, bad_id = 0;
    for (size_t i = 0; i < tj_len(lines); i++) {
        const tj *e = tj_at(lines, i);
        const char *line = tj_str(tj_get(e, "schema_line"));
        const char *norm = tj_str(tj_get(e, "normalized"));
        uint32_t want = hex32(tj_str(tj_get(e, "crc32_id")));
        if (mtp_tl_line_crc(line, strlen(line)) != want) {
            bad_crc++;
            tap_diag("crc of '%s' != %08x", line, want);
        }
        char buf[4096];
        mtp_tl_line_normalize(line, strlen(line), buf, sizeof buf);
        if (strcmp(buf, norm) != 0) {
            bad_norm++;
            tap_diag("normalised '%s'\n  got  '%s'\n  want '%s'", line, buf, norm);
        }
        /* the generated tables carry the same id */
        size_t nl = strcspn(line, "# ");
        bool service = strstr(tj_str(tj_get(e, "schema_file")), "mtproto") != NULL;
        const mtp_tl_layer_t *l = mtp_tl_layer(service ? 0 : 228);
        const mtp_tl_comb_t *c = mtp_tl_find_name(l, line, nl);
        if (c) {
            found++;
            if (c->id != want || c->id_mismatch) {
                bad_id++;
                tap_diag("%s: table id %08x, want %08x", c->name, c->id, want);
            }
        } else if (strncmp(line, "vector#", 7) != 0) {
            bad_id++;
            tap_diag("%.*s not in the layer %d tables", (int)nl, line, service ? 0 : 228);
        }
    }
    IS_INT(bad_crc, 0, "schema_lines: crc of every line matches (%zu lines)", tj_len(lines));
    IS_INT(bad_norm, 0, "schema_lines: normalised text matches");
    IS_INT(bad_id, 0, "schema_lines: generated ids match (%d found in the tables)", found);
    OK(found >= 55, "most vector lines are in the tables (%d)", found);

    const tj *docs = tj_get(v, "doc_examples");
    int bad = 0;
    for (size_t i = 0; i < tj_len(docs); i++) {
        const tj *e = tj_at(docs, i);
        const char *line = tj_str(tj_get(e, "line"));
        char buf[1024];
        mtp_tl_line_normalize(line, strlen(line), buf, sizeof buf);
        if (mtp_tl_line_crc(line, strlen(line)) != hex32(tj_str(tj_get(e, "crc32_id"))) ||
            strcmp(buf, tj_str(tj_get(e, "normalized"))) != 0) {
            bad++;
            tap_diag("doc example '%s' -> '%s'", line, buf);
        }
    }
    IS_INT(bad, 0, "doc_examples: normalisation and crc (%zu)", tj_len(docs));

    const tj *ex = tj_get(tj_get(v, "known_exceptions"), "items");
    bad = 0;
    for (size_t i = 0; i < tj_len(ex); i++) {
        const tj *e = tj_at(ex, i);
        const char *name = tj_str(tj_get(e, "name"));
        const mtp_tl_comb_t *c = mtp_tl_find_name(mtp_tl_layer(228), name, strlen(name));
        if (!c || c->id != hex32(tj_str(tj_get(e, "schema_id"))) || !c->id_mismatch ||
            mtp_tl_line_crc(c->line, strlen(c->line)) !=
                hex32(tj_str(tj_get(e, "crc_of_normalized_line")))) {
            bad++;
            tap_diag("exception %s: %s", name, c ? "id/flag/crc differ" : "not found");
        }
    }
    IS_INT(bad, 0, "known exceptions keep the schema id, id_mismatch set (%zu)", tj_len(ex));
    const mtp_tl_comb_t *mc = mtp_tl_find_name(mtp_tl_layer(0), "msg_container", 13);
    OK(mc && mc->id == 0x73f1f8dcu && mc->id_mismatch, "msg_container: schema id, id_mismatch set");
    const mtp_tl_comb_t *m = mtp_tl_find_name(mtp_tl_layer(0), "message", 7);
    OK(m && m->id == 0x5bb8e511u && !m->id_mismatch, "service 'message' (no #id in the schema): computed id 5bb8e511");

    /* a few normalisation corners */
    static const struct { const char *in, *out; } corners[] = {
        { "a#1 x:bytes = A;", "a x:string = A" },
        { "a#1 flags:# x:flags.0?bytes y:Vector<bytes> = A; // c", "a flags:# x:flags.0?string y:Vector bytes = A" },
        { "  a   x:int\t=  A ;", "a x:int = A" },
        { "a flags2:# t:flags2.3?true u:flags2.4?True = A", "a flags2:# u:flags2.4?True = A" },
        { "f {X:Type} q:!X = X", "f X:Type q:!X = X" },
        { "", "" },
    };
    bad = 0;
    for (size_t i = 0; i < sizeof corners / sizeof corners[0]; i++) {
        char buf[256];
        size_t n = mtp_tl_line_normalize(corners[i].in, strlen(corners[i].in), buf, sizeof buf);
        if (strcmp(buf, corners[i].out) != 0 || n != strlen(corners[i].out)) {
            bad++;
            tap_diag("normalise '%s' -> '%s'", corners[i].in, buf);
        }
    }
    IS_INT(bad, 0, "normalisation corners");
    char small[8];
    size_t need = mtp_tl_line_normalize("abc#1 x:int = A", 15, small, sizeof small);
    OK(need == 13 && strcmp(small, "abc x:i") == 0, "normalise truncates and returns the full length");
    tj_free(v);
}

static bool in_layer_types(const mtp_tl_layer_t *l, const mtp_tl_tname_t *t)
{
    for (; l; l = l->fallback)
        for (uint32_t i = 0; i < l->ntypes; i++)
            if (l->types[i] == t)
                return true;
    return false;
}

static const mtp_tl_comb_t *hash_lookup(const mtp_tl_layer_t *l, uint32_t id)
{
    uint32_t mask = (1u << l->id_hash_bits) - 1;
    for (uint32_t h = (id * 0x9e3779b1u) >> (32 - l->id_hash_bits);; h = (h + 1) & mask) {
        uint16_t k = l->id_hash[h];
        if (k == 0xffff)
            return NULL;
        if (l->by_id[k]->id == id)
            return l->by_id[k];
    }
}

static int check_type(const mtp_tl_layer_t *l, const mtp_tl_type_t *t, int depth)
{
    if (!t || t->kind < MTP_TL_INT || t->kind > MTP_TL_QUERY || !t->text || depth > 8)
        return 1;
    switch (t->kind) {
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR:
        return t->size != sizeof(mtp_vec_t) || check_type(l, t->elem, depth + 1);
    case MTP_TL_OBJECT:
        return t->size != sizeof(void *) || (t->tname && !in_layer_types(l, t->tname) &&
                                             !in_layer_types(mtp_tl_layer(228), t->tname));
    case MTP_TL_BARE_OBJECT:
        return t->size != sizeof(void *) || !t->bare || t->bare->is_method;
    case MTP_TL_QUERY:
        return t->size != sizeof(void *);
    case MTP_TL_INT: case MTP_TL_NAT: return t->size != 4;
    case MTP_TL_LONG: case MTP_TL_DOUBLE: return t->size != 8;
    case MTP_TL_INT128: return t->size != 16;
    case MTP_TL_INT256: return t->size != 32;
    case MTP_TL_STRING: case MTP_TL_BYTES: return t->size != sizeof(mtp_bytes_t);
    case MTP_TL_BOOL: case MTP_TL_TRUE: return t->size != sizeof(bool);
    default: return 1;
    }
}

static void test_layer(const mtp_tl_layer_t *l)
{
    int bad_sort = 0, bad_comb = 0, bad_param = 0, bad_crc = 0, bad_find = 0, bad_types = 0;
    for (uint32_t i = 1; i < l->ncombs; i++) {
        bad_sort += l->by_id[i - 1]->id >= l->by_id[i]->id;
        bad_sort += strcmp(l->by_name[i - 1]->name, l->by_name[i]->name) >= 0;
    }
    for (uint32_t i = 1; i < l->ntypes; i++)
        bad_sort += strcmp(l->types[i - 1]->name, l->types[i]->name) >= 0;

    for (uint32_t i = 0; i < l->ncombs; i++) {
        const mtp_tl_comb_t *c = l->by_id[i];
        if (c->layer != l || !c->name || !c->line || !c->cname || !c->decode || !c->measure ||
            !c->encode || (c->is_method ? c->tname != NULL : (c->tname == NULL || c->result)) ||
            (c->nparams && !c->params) || c->size < sizeof(mtp_tl_object_t)) {
            bad_comb++;
            tap_diag("%s: bad descriptor", c->name);
        }
        if (c->is_method && c->result && check_type(l, c->result, 0)) {
            bad_comb++;
            tap_diag("%s: bad result type", c->name);
        }
        bool exc = is_exception(c->name);
        uint32_t crc = mtp_tl_line_crc(c->line, strlen(c->line));
        if ((crc != c->id) != c->id_mismatch || (c->id_mismatch && !exc)) {
            bad_crc++;
            tap_diag("%s: id %08x crc %08x mismatch flag %d", c->name, c->id, crc, c->id_mismatch);
        }
        if (mtp_tl_find_id(l, c->id) != c || hash_lookup(l, c->id) != c ||
            mtp_tl_find_name(l, c->name, strlen(c->name)) != c)
            bad_find++;
        for (uint32_t k = 0; k < c->nparams; k++) {
            const mtp_tl_param_t *p = &c->params[k];
            bool ok = p->name && check_type(l, p->type, 0) == 0 &&
                      p->offset + p->type->size <= c->size &&
                      p->offset >= sizeof(mtp_tl_object_t);
            if (p->flag_param >= 0) {
                ok = ok && (uint32_t)p->flag_param < k &&
                     c->params[p->flag_param].type->kind == MTP_TL_NAT &&
                     p->flag_bit >= 0 && p->flag_bit <= 31;
                bool needs_has = p->type->kind != MTP_TL_TRUE && p->type->kind != MTP_TL_OBJECT &&
                                 p->type->kind != MTP_TL_BARE_OBJECT &&
                                 p->type->kind != MTP_TL_QUERY;
                ok = ok && (needs_has ? p->has_offset < c->size : p->has_offset == MTP_TL_NO_OFFSET);
            } else {
                ok = ok && p->flag_bit == -1 && p->has_offset == MTP_TL_NO_OFFSET;
            }
            if (!ok) {
                bad_param++;
                tap_diag("%s.%s: bad param descriptor", c->name, p->name);
            }
        }
    }
    for (uint32_t i = 0; i < l->ntypes; i++) {
        const mtp_tl_tname_t *t = l->types[i];
        if (!t->ncons || mtp_tl_find_type(l, t->name, strlen(t->name)) != t)
            bad_types++;
        for (uint32_t k = 0; k < t->ncons; k++)
            if (t->cons[k]->tname != t || t->cons[k]->is_method || t->cons[k]->layer != l)
                bad_types++;
    }
    IS_INT(bad_sort, 0, "%s: by_id, by_name and types sorted", l->name);
    IS_INT(bad_comb, 0, "%s: %u combinator descriptors consistent", l->name, l->ncombs);
    IS_INT(bad_crc, 0, "%s: ids follow the crc rule except the known exceptions", l->name);
    IS_INT(bad_find, 0, "%s: every combinator found by id (binary search and hash) and by name", l->name);
    IS_INT(bad_param, 0, "%s: parameter descriptors consistent with the structs", l->name);
    IS_INT(bad_types, 0, "%s: %u types list their constructors", l->name, l->ntypes);
    OK(l->id_hash && l->id_hash_bits >= 4 && (1u << l->id_hash_bits) >= 2 * l->ncombs,
       "%s: id hash present", l->name);
    OK(!mtp_tl_find_id(l, 0x1cb5c415u), "%s: vector is not a combinator", l->name);
}

static void test_layers(void)
{
    int v[8];
    int n = mtp_tl_layers(v, 8);
    OK(n == 3 && v[0] == 198 && v[1] == 227 && v[2] == 228, "mtp_tl_layers: 198 227 228");
    IS_INT(mtp_tl_layers(NULL, 0), 3, "mtp_tl_layers(NULL, 0) counts");
    OK(mtp_tl_layer(0) == &mtp_tl_layer_mtproto && mtp_tl_layer(228) == &mtp_tl_layer_228,
       "mtp_tl_layer(0) / (228)");
    OK(mtp_tl_layer(1) == NULL && mtp_tl_layer(-1) == NULL, "unknown layers are NULL");
    OK(mtp_tl_layer(0)->fallback == NULL && mtp_tl_layer(0)->layer == 0 &&
       strcmp(mtp_tl_layer(0)->name, "mtproto") == 0, "service layer: 0, \"mtproto\", no fallback");
    OK(MTP_TL_SCHEMA_LAYER == 228 && MTP_TL_DEFAULT_LAYER == MTP_TL_SCHEMA_LAYER,
       "tl_schema.h is layer 228");
    int cnt[3] = { 198, 227, 228 };
    for (int i = 0; i < 3; i++) {
        const mtp_tl_layer_t *l = mtp_tl_layer(cnt[i]);
        char name[16];
        snprintf(name, sizeof name, "api%d", cnt[i]);
        OK(l && l->layer == cnt[i] && l->fallback == mtp_tl_layer(0) && !strcmp(l->name, name),
           "layer %d: number, name, service fallback", cnt[i]);
        if (l)
            test_layer(l);
    }
    test_layer(mtp_tl_layer(0));

    /* names, ids and C names as documented */
    OK(mtp_tlc_messages_getHistory.is_method && MTP_ID_messages_getHistory == 0x4423e6c5u &&
       !strcmp(mtp_tlc_messages_getHistory.cname, "messages_getHistory") &&
       mtp_tlc_messages_getHistory.result && mtp_tlc_messages_getHistory.result->tname == &mtp_tlt_messages_Messages,
       "messages.getHistory: id, cname, result type");
    OK(MTP_ID_mt_msgs_ack == 0x62d6b459u && mtp_tlc_mt_msgs_ack.tname == &mtp_tlt_mt_MsgsAck &&
       !strcmp(mtp_tlc_mt_msgs_ack.cname, "mt_msgs_ack"), "service names carry mt_");
    OK(mtp_tlc_invokeWithLayer.result == NULL && mtp_tlc_invokeWithLayer.nparams == 2 &&
       mtp_tlc_invokeWithLayer.params[1].type->kind == MTP_TL_QUERY,
       "invokeWithLayer: generic result NULL, {X:Type} omitted, query is !X");
    OK(mtp_tlc_boolTrue.tname == &mtp_tlt_Bool && mtp_tl_find_id(mtp_tl_layer(228), 0x997275b5u) == &mtp_tlc_boolTrue,
       "boolTrue is a combinator of type Bool");
    const mtp_tl_comb_t *rr = &mtp_tlc_mt_rpc_result;
    OK(rr->params[1].type->kind == MTP_TL_OBJECT && rr->params[1].type->tname == NULL,
       "rpc_result.result: Object (tname NULL)");
    const mtp_tl_comb_t *fs = &mtp_tlc_mt_future_salts;
    OK(fs->params[2].type->kind == MTP_TL_BARE_VECTOR &&
       fs->params[2].type->elem->kind == MTP_TL_BARE_OBJECT &&
       fs->params[2].type->elem->bare == &mtp_tlc_mt_future_salt, "future_salts.salts: vector<future_salt>");
    const mtp_tl_comb_t *mc = &mtp_tlc_mt_msg_container;
    OK(mc->params[0].type->kind == MTP_TL_BARE_VECTOR &&
       mc->params[0].type->elem->bare == &mtp_tlc_mt_message, "msg_container: vector<%%Message> of bare message");
    const mtp_tl_comb_t *tp = &mtp_tlc_mt_tlsBlockPermutation;
    OK(tp->params[0].type->kind == MTP_TL_VECTOR && tp->params[0].type->elem->kind == MTP_TL_VECTOR &&
       tp->params[0].type->elem->elem->tname == &mtp_tlt_mt_TlsBlock, "Vector<Vector<TlsBlock>>");
    const mtp_tl_comb_t *dc = &mtp_tlc_dcOption;
    bool stat_ok = false;
    for (uint32_t i = 0; i < dc->nparams; i++)
        if (!strcmp(dc->params[i].name, "static"))
            stat_ok = dc->params[i].offset == offsetof(mtp_dcOption_t, static_);
    OK(stat_ok, "keyword field: dcOption.static -> static_ (descriptor keeps the schema name)");
    OK(mtp_tlc_l227_user.layer == mtp_tl_layer(227) && mtp_tl_find_name(mtp_tl_layer(227), "user", 4) == &mtp_tlc_l227_user,
       "layer 227 combinators carry l227_");
}

int main(void)
{
    test_vectors();
    test_layers();
    return tap_done();
}
