/*
 * Every constructor and method of layer 228 and of the service schema: a random but valid
 * object is built generically from the descriptors, then
 *   to_json (J1) -> from_json -> encode (B) -> decode -> to_json (J2) == J1,
 *   re-encoding the decoded object gives B again, print works, and the JSON of the first
 *   object also equals the JSON of a from_json of J1 (canonical form is a fixed point).
 * Several rounds with different seeds (MTP_TEST_ROUNDS overrides the count).
 */
#include <mtproto/tl.h>

#include <math.h>
#include <stdlib.h>

#include "testutil.h"

static const mtp_tl_layer_t *L;
static mtp_arena_t *A;
static const mtp_tl_comb_t **all_cons;   /* constructors of L and its fallback (for Object) */
static size_t nall_cons;

#define MAX_DEPTH 6

/* A constructor of t that recurses least: the fewest required object fields. */
static int required_objects(const mtp_tl_comb_t *c)
{
    int n = 0;
    for (uint16_t i = 0; i < c->nparams; i++) {
        uint8_t k = c->params[i].type->kind;
        if (c->params[i].flag_param < 0 &&
            (k == MTP_TL_OBJECT || k == MTP_TL_QUERY || k == MTP_TL_BARE_OBJECT))
            n++;
    }
    return n;
}

static const mtp_tl_comb_t *pick_cons(const mtp_tl_comb_t *const *cons, size_t n, int depth)
{
    if (!n)
        return NULL;
    if (depth < 3)
        return cons[(unsigned)tu_rng_below(NULL, (unsigned)n)];
    const mtp_tl_comb_t *best = NULL;
    int bestn = 1 << 30;
    size_t start = (unsigned)tu_rng_below(NULL, (unsigned)n);
    for (size_t k = 0; k < n; k++) {
        const mtp_tl_comb_t *c = cons[(start + k) % n];
        int r = required_objects(c);
        if (r < bestn) {
            best = c;
            bestn = r;
        }
    }
    return best;
}

static int64_t rnd_long(void)
{
    switch ((unsigned)tu_rng_below(NULL, 6)) {
    case 0: return INT64_MIN;
    case 1: return INT64_MAX;
    case 2: return (int64_t)(unsigned)tu_rng_below(NULL, 1000) - 500;
    case 3: return -1;
    default: return (int64_t)tu_rng_next(NULL);
    }
}

static int32_t rnd_int(void)
{
    switch ((unsigned)tu_rng_below(NULL, 6)) {
    case 0: return INT32_MIN;
    case 1: return INT32_MAX;
    case 2: return (int32_t)(unsigned)tu_rng_below(NULL, 1000) - 500;
    default: return (int32_t)(uint32_t)tu_rng_next(NULL);
    }
}

static double rnd_double(void)
{
    static const double edge[] = {0, 1.5, -0.25, 1e-7, 1e21, 1e20, 123456.789, 5e-324,
                                  1.7976931348623157e308, 0.1, 3.141592653589793, -1e-300};
    if ((unsigned)tu_rng_below(NULL, 2))
        return edge[(unsigned)tu_rng_below(NULL, sizeof edge / sizeof *edge)];
    for (;;) {
        uint64_t u = tu_rng_next(NULL);
        double d;
        memcpy(&d, &u, sizeof d);
        if (isfinite(d) && !(d == 0 && signbit(d)))
            return d;
    }
}

static void rnd_string(mtp_bytes_t *s)
{
    size_t n;
    switch ((unsigned)tu_rng_below(NULL, 8)) {
    case 0: n = 0; break;
    case 1: n = 254 + (unsigned)tu_rng_below(NULL, 100); break;
    default: n = (unsigned)tu_rng_below(NULL, 24);
    }
    uint8_t *p = mtp_arena_alloc(A, n + 4);
    size_t i = 0;
    static const char *const pieces[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\n",
                                         "\"", "\\", "\x01", "\x7f", "\xe2\x80\xa8", "/"};
    while (i < n) {
        if ((unsigned)tu_rng_below(NULL, 4) == 0) {
            const char *pc = pieces[(unsigned)tu_rng_below(NULL, sizeof pieces / sizeof *pieces)];
            size_t k = strlen(pc);
            if (i + k > n)
                break;
            memcpy(p + i, pc, k);
            i += k;
        } else {
            p[i++] = (uint8_t)(' ' + (unsigned)tu_rng_below(NULL, 95));
        }
    }
    s->ptr = p;
    s->len = i;
}

static void rnd_bytes(mtp_bytes_t *s)
{
    size_t n = (unsigned)tu_rng_below(NULL, 5) == 0 ? 254 + (unsigned)tu_rng_below(NULL, 300) : (unsigned)tu_rng_below(NULL, 40);
    uint8_t *p = mtp_arena_alloc(A, n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)tu_rng_next(NULL);
    s->ptr = p;
    s->len = n;
}

static mtp_tl_object_t *build(const mtp_tl_comb_t *c, int depth);

static void build_value(const mtp_tl_type_t *t, void *dst, int depth)
{
    switch (t->kind) {
    case MTP_TL_INT: *(int32_t *)dst = rnd_int(); break;
    case MTP_TL_NAT: *(uint32_t *)dst = (uint32_t)tu_rng_next(NULL); break;
    case MTP_TL_LONG: *(int64_t *)dst = rnd_long(); break;
    case MTP_TL_DOUBLE: *(double *)dst = rnd_double(); break;
    case MTP_TL_INT128:
    case MTP_TL_INT256:
        for (int i = 0; i < (t->kind == MTP_TL_INT128 ? 16 : 32); i++)
            ((uint8_t *)dst)[i] = (uint8_t)tu_rng_next(NULL);
        break;
    case MTP_TL_STRING: rnd_string(dst); break;
    case MTP_TL_BYTES: rnd_bytes(dst); break;
    case MTP_TL_BOOL: *(bool *)dst = (unsigned)tu_rng_below(NULL, 2); break;
    case MTP_TL_TRUE: *(bool *)dst = true; break;
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: {
        mtp_vec_t *v = dst;
        unsigned n = depth >= MAX_DEPTH - 1 ? 0 : (unsigned)tu_rng_below(NULL, depth < 2 ? 4 : 2);
        v->n = n;
        v->v = n ? mtp_arena_alloc(A, (size_t)n * t->elem->size) : NULL;
        for (unsigned i = 0; i < n; i++)
            build_value(t->elem, (uint8_t *)v->v + (size_t)i * t->elem->size, depth + 1);
        break;
    }
    case MTP_TL_OBJECT: {
        const mtp_tl_comb_t *c;
        if (t->tname)
            c = pick_cons(t->tname->cons, t->tname->ncons, depth);
        else
            c = pick_cons(all_cons, nall_cons, depth + 3);
        *(mtp_tl_object_t **)dst = c ? build(c, depth + 1) : NULL;
        break;
    }
    case MTP_TL_BARE_OBJECT:
        *(mtp_tl_object_t **)dst = build(t->bare, depth + 1);
        break;
    case MTP_TL_QUERY: {
        const char *name = (unsigned)tu_rng_below(NULL, 2) ? "help.getConfig" : "ping";
        const mtp_tl_comb_t *q = mtp_tl_find_name(L, name, strlen(name));
        if (!q)
            q = mtp_tl_find_name(L, "ping", 4);
        *(mtp_tl_object_t **)dst = build(q, depth + 1);
        break;
    }
    }
}

static mtp_tl_object_t *build(const mtp_tl_comb_t *c, int depth)
{
    if (!c)
        return NULL;
    mtp_tl_object_t *o = mtp_tl_new(A, c);
    uint8_t *base = (uint8_t *)o;
    /* one decision per (flags word, bit): fields sharing a bit are present together */
    int8_t decided[8][32];
    memset(decided, -1, sizeof decided);
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        if (p->type->kind == MTP_TL_NAT)
            continue;
        if (p->flag_param >= 0) {
            int8_t *d = &decided[p->flag_param & 7][p->flag_bit & 31];
            if (*d < 0)
                *d = depth < MAX_DEPTH - 1 ? (int8_t)(unsigned)tu_rng_below(NULL, 2) : 0;
            if (!*d)
                continue;
            if (p->has_offset != MTP_TL_NO_OFFSET)
                *(bool *)(base + p->has_offset) = true;
        }
        build_value(p->type, base + p->offset, depth);
    }
    /* flags words: sometimes with bits that no field uses */
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *p = &c->params[i];
        if (p->type->kind != MTP_TL_NAT)
            continue;
        uint32_t used = 0, set = 0;
        for (uint16_t k = 0; k < c->nparams; k++) {
            const mtp_tl_param_t *f = &c->params[k];
            if (f->flag_param != (int)i)
                continue;
            used |= 1u << f->flag_bit;
            if (decided[i & 7][f->flag_bit & 31] == 1)
                set |= 1u << f->flag_bit;
        }
        uint32_t extra = (unsigned)tu_rng_below(NULL, 4) == 0 ? (uint32_t)tu_rng_next(NULL) & ~used : 0;
        *(uint32_t *)(base + p->offset) = set | extra;
    }
    return o;
}

static int failures_shown;

static bool check_one(const mtp_tl_comb_t *c, unsigned round)
{
    mtp_arena_reset(A);
    mtp_tl_object_t *o = build(c, 0);
    mtp_buf_t j1, j2, j3, b1, b2, b0, txt;
    mtp_buf_init(&j1);
    mtp_buf_init(&j2);
    mtp_buf_init(&j3);
    mtp_buf_init(&b0);
    mtp_buf_init(&b1);
    mtp_buf_init(&b2);
    mtp_buf_init(&txt);
    char err[256] = "";
    const char *stage = "";
    bool ok = false;
    mtp_tl_object_t *p = NULL, *d = NULL;
    int rc;
    if ((rc = mtp_tl_to_json(o, &j1))) { stage = "to_json"; goto out; }
    if ((rc = mtp_tl_encode(o, &b0))) { stage = "encode (built)"; goto out; }
    if ((rc = mtp_tl_from_json(L, (const char *)j1.data, j1.len, A, &p, err, sizeof err))) {
        stage = "from_json";
        goto out;
    }
    if ((rc = mtp_tl_to_json(p, &j3))) { stage = "to_json (parsed)"; goto out; }
    if (j3.len != j1.len || memcmp(j1.data, j3.data, j1.len)) {
        stage = "canonical fixed point";
        rc = -100;
        goto out;
    }
    if ((rc = mtp_tl_encode(p, &b1))) { stage = "encode (parsed)"; goto out; }
    if (b1.len != b0.len || memcmp(b0.data, b1.data, b0.len)) {
        stage = "bytes of built vs parsed";
        rc = -100;
        goto out;
    }
    {
        /* gzip_packed stays as it is (its random payload is not a gzip stream) */
        mtp_tl_reader_t r;
        mtp_tl_reader_init(&r, L, b1.data, b1.len, A);
        r.unpack_gzip = false;
        if ((rc = mtp_tl_decode_reader(&r, &d))) {
            mtp_tl_reader_strerror(&r, err, sizeof err);
            stage = "decode";
            goto out;
        }
    }
    if ((rc = mtp_tl_to_json(d, &j2))) { stage = "to_json (decoded)"; goto out; }
    if (j2.len != j1.len || memcmp(j1.data, j2.data, j1.len)) {
        stage = "JSON after decode";
        rc = -100;
        goto out;
    }
    if ((rc = mtp_tl_encode(d, &b2))) { stage = "re-encode"; goto out; }
    if (b2.len != b1.len || memcmp(b1.data, b2.data, b1.len)) {
        stage = "re-encoded bytes";
        rc = -100;
        goto out;
    }
    if ((rc = mtp_tl_print(d, &txt)) || txt.len == 0) { stage = "print"; goto out; }
    ok = true;
out:
    if (!ok && failures_shown++ < 15) {
        tap_diag("%s (round %u): %s failed (%d %s) %s", c->name, round, stage, rc,
                 rc == -100 ? "mismatch" : mtp_strerror(rc), err);
        if (j1.len)
            tap_diag("  J1: %.*s", (int)(j1.len > 600 ? 600 : j1.len), (const char *)j1.data);
        if (j2.len)
            tap_diag("  J2: %.*s", (int)(j2.len > 600 ? 600 : j2.len), (const char *)j2.data);
        if (j3.len && rc == -100)
            tap_diag("  J3: %.*s", (int)(j3.len > 600 ? 600 : j3.len), (const char *)j3.data);
    }
    mtp_buf_free(&j1);
    mtp_buf_free(&j2);
    mtp_buf_free(&j3);
    mtp_buf_free(&b0);
    mtp_buf_free(&b1);
    mtp_buf_free(&b2);
    mtp_buf_free(&txt);
    return ok;
}

static void run_layer(const mtp_tl_layer_t *l, unsigned rounds, const char *label)
{
    size_t ncons = 0, nmeth = 0, bad = 0;
    for (unsigned r = 0; r < rounds; r++) {
        for (uint32_t i = 0; i < l->ncombs; i++) {
            const mtp_tl_comb_t *c = l->by_id[i];
            if (r == 0)
                *(c->is_method ? &nmeth : &ncons) += 1;
            /* at the top level a name means the layer's constructor: a service bare
             * constructor shadowed by an API namesake ("message") is only reachable
             * through the fields that hold it (msg_container, msg_copy) */
            if (mtp_tl_find_name(L, c->name, strlen(c->name)) != c)
                continue;
            if (!check_one(c, r))
                bad++;
        }
    }
    OK(bad == 0, "%s: %zu constructors + %zu methods x %u rounds round-trip (%zu failures)",
       label, ncons, nmeth, rounds, bad);
    OK(ncons + nmeth == l->ncombs && l->ncombs > 0, "%s: walked all %u combinators", label,
       l->ncombs);
}

int main(void)
{
    const char *env = getenv("MTP_TEST_ROUNDS");
    unsigned rounds = env ? (unsigned)atoi(env) : 4;
    if (!rounds)
        rounds = 1;
    const mtp_tl_layer_t *api = mtp_tl_layer(MTP_TL_DEFAULT_LAYER);
    const mtp_tl_layer_t *svc = mtp_tl_layer(0);
    if (!api || !svc)
        tap_bail("layers missing");
    A = mtp_arena_new(0);

    /* constructors for Object fields: service ones (so results stay small) and API ones */
    all_cons = malloc(sizeof *all_cons * (api->ncombs + svc->ncombs));
    for (const mtp_tl_layer_t *l = api; l; l = l->fallback)
        for (uint32_t i = 0; i < l->ncombs; i++)
            if (!l->by_id[i]->is_method)
                all_cons[nall_cons++] = l->by_id[i];

    L = api;
    run_layer(api, rounds, "api228");
    /* the service schema through the API layer (fallback lookups) and on its own */
    run_layer(svc, rounds, "mtproto via api228");
    L = svc;
    nall_cons = 0;
    for (uint32_t i = 0; i < svc->ncombs; i++)
        if (!svc->by_id[i]->is_method)
            all_cons[nall_cons++] = svc->by_id[i];
    run_layer(svc, rounds, "mtproto alone");

    /* the older layers too (they share the runtime; cheap to check) */
    int older[] = {227, 198};
    for (int k = 0; k < 2; k++) {
        const mtp_tl_layer_t *l = mtp_tl_layer(older[k]);
        if (!l) {
            tap_skip("layer not compiled in", 2);
            continue;
        }
        L = l;
        nall_cons = 0;
        for (const mtp_tl_layer_t *x = l; x; x = x->fallback)
            for (uint32_t i = 0; i < x->ncombs; i++)
                if (!x->by_id[i]->is_method)
                    all_cons[nall_cons++] = x->by_id[i];
        char label[32];
        snprintf(label, sizeof label, "api%d", older[k]);
        run_layer(l, 1, label);
    }
    free(all_cons);
    mtp_arena_free(A);
    return tap_done();
}
