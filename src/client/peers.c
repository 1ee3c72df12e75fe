/*
 * libmtproto client — the peer cache.
 *
 * Every user / chat / channel object in a decoded result is remembered: kind, id,
 * access_hash, username. The objects are found by walking the result generically over the
 * TL descriptors (any field of any constructor, vectors included), so no list of result
 * types is kept here. PEER specs ("me", "@name", "123", "-123", "-100123") resolve through
 * the cache, and through contacts.resolveUsername / users.getUsers when it has no answer.
 *
 * Storage: entries in one array; two chained hash indexes over it (kind+id, and the
 * lower-cased username, unique: a username seen on a newer entry is taken off the older
 * one); a doubly linked list in the order entries were last seen, whose oldest end is
 * evicted when the cache is full.
 *
 * Session section (little-endian), oldest entry first:
 *   u32 count
 *   count x { u8 kind, u8 flags, u8 username_len, u8 0, i64 id, i64 access_hash,
 *             username bytes }
 */
#define _GNU_SOURCE
#include "client_int.h"
#include "util/util.h"

#include <mtproto/tl_schema.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define DEFAULT_MAX 100000u
#define HARD_MAX 1000000u         /* x 84 bytes at most: fits SESS_MAX_BYTES in client.c */
#define WALK_DEPTH (4 * MTP_TL_MAX_DEPTH)
#define USER_ID_LIMIT (1LL << 52)           /* ids have at most 52 significant bits */
#define GROUP_ID_MAX 999999999999LL         /* basic groups and channels (marked form) */

enum { F_HASH = 1, F_MIN = 2, F_BOT = 4, F_BROADCAST = 8, F_MEGAGROUP = 16, F_ALL = 31 };

typedef struct pent {
    int64_t id, hash;
    uint8_t kind, flags, ulen;
    char uname[MTP_PEER_USERNAME_MAX];
    uint32_t older, newer;          /* last-seen order */
    uint32_t next_id, next_name;    /* hash chains; next_id also links the free list */
} pent_t;

struct mtp_peers {
    pent_t *e;
    uint32_t cap, used;             /* slots allocated / handed out at least once */
    uint32_t free_list;
    uint32_t count, max;
    uint32_t *b_id, *b_name, nb;    /* nb: a power of two */
    uint32_t oldest, newest;
    bool dirty;
    mtp_usec_t saved_at;
};

/* What one object says about a peer. */
typedef struct rec {
    uint8_t kind, flags;
    int64_t id, hash;
    bool uname_known;               /* the constructor has a username (present or not) */
    const uint8_t *uname;
    size_t ulen;
} rec_t;

/* ------------------------------------------------------------------ storage */

static uint8_t lc(uint8_t ch)
{
    return ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch + 32) : ch;
}

static bool uname_ok(const uint8_t *s, size_t n)
{
    if (n < 1 || n > MTP_PEER_USERNAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

static uint32_t h_id(const mtp_peers_t *p, uint8_t kind, int64_t id)
{
    uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ull + kind * 0x632be59bd9b4e019ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint32_t)x & (p->nb - 1);
}

static uint32_t h_name(const mtp_peers_t *p, const uint8_t *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ lc(s[i])) * 16777619u;
    h ^= h >> 15;
    return h & (p->nb - 1);
}

static bool name_eq(const pent_t *e, const uint8_t *s, size_t n)
{
    if (e->ulen != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lc((uint8_t)e->uname[i]) != lc(s[i]))
            return false;
    return true;
}

static uint32_t find_id(const mtp_peers_t *p, uint8_t kind, int64_t id)
{
    if (!p->nb)
        return NIL;
    for (uint32_t i = p->b_id[h_id(p, kind, id)]; i != NIL; i = p->e[i].next_id)
        if (p->e[i].id == id && p->e[i].kind == kind)
            return i;
    return NIL;
}

static uint32_t find_name(const mtp_peers_t *p, const uint8_t *s, size_t n)
{
    if (!p->nb || !n)
        return NIL;
    for (uint32_t i = p->b_name[h_name(p, s, n)]; i != NIL; i = p->e[i].next_name)
        if (name_eq(&p->e[i], s, n))
            return i;
    return NIL;
}

static void link_id(mtp_peers_t *p, uint32_t i)
{
    uint32_t *b = &p->b_id[h_id(p, p->e[i].kind, p->e[i].id)];
    p->e[i].next_id = *b;
    *b = i;
}

static void link_name(mtp_peers_t *p, uint32_t i)
{
    if (!p->e[i].ulen)
        return;
    uint32_t *b = &p->b_name[h_name(p, (const uint8_t *)p->e[i].uname, p->e[i].ulen)];
    p->e[i].next_name = *b;
    *b = i;
}

static void unlink_id(mtp_peers_t *p, uint32_t i)
{
    uint32_t *pp = &p->b_id[h_id(p, p->e[i].kind, p->e[i].id)];
    while (*pp != NIL && *pp != i)
        pp = &p->e[*pp].next_id;
    if (*pp == i)
        *pp = p->e[i].next_id;
}

static void unlink_name(mtp_peers_t *p, uint32_t i)
{
    if (!p->e[i].ulen)
        return;
    uint32_t *pp = &p->b_name[h_name(p, (const uint8_t *)p->e[i].uname, p->e[i].ulen)];
    while (*pp != NIL && *pp != i)
        pp = &p->e[*pp].next_name;
    if (*pp == i)
        *pp = p->e[i].next_name;
}

static void lru_remove(mtp_peers_t *p, uint32_t i)
{
    pent_t *e = &p->e[i];
    if (e->older != NIL)
        p->e[e->older].newer = e->newer;
    else
        p->oldest = e->newer;
    if (e->newer != NIL)
        p->e[e->newer].older = e->older;
    else
        p->newest = e->older;
    e->older = e->newer = NIL;
}

static void lru_push(mtp_peers_t *p, uint32_t i)
{
    pent_t *e = &p->e[i];
    e->newer = NIL;
    e->older = p->newest;
    if (p->newest != NIL)
        p->e[p->newest].newer = i;
    else
        p->oldest = i;
    p->newest = i;
}

static void evict(mtp_peers_t *p, uint32_t i)
{
    unlink_id(p, i);
    unlink_name(p, i);
    lru_remove(p, i);
    p->e[i].ulen = 0;
    p->e[i].kind = 0;
    p->e[i].next_id = p->free_list;
    p->free_list = i;
    p->count--;
}

/* Room for one more entry: buckets grown (load <= 1), a free slot, the oldest evicted at
 * the limit. NIL on allocation failure. */
static uint32_t new_slot(mtp_peers_t *p)
{
    if (p->count >= p->max && p->oldest != NIL)
        evict(p, p->oldest);
    if (p->count + 1 > p->nb) {
        uint32_t nb = p->nb ? p->nb * 2 : 256;
        uint32_t *bi = malloc((size_t)nb * sizeof *bi), *bn = malloc((size_t)nb * sizeof *bn);
        if (!bi || !bn) {
            free(bi);
            free(bn);
            if (!p->nb)
                return NIL;
        } else {
            free(p->b_id);
            free(p->b_name);
            p->b_id = bi;
            p->b_name = bn;
            p->nb = nb;
            memset(bi, 0xff, (size_t)nb * sizeof *bi);
            memset(bn, 0xff, (size_t)nb * sizeof *bn);
            for (uint32_t i = p->oldest; i != NIL; i = p->e[i].newer) {
                link_id(p, i);
                link_name(p, i);
            }
        }
    }
    if (p->free_list != NIL) {
        uint32_t i = p->free_list;
        p->free_list = p->e[i].next_id;
        return i;
    }
    if (p->used == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 256;
        if (cap > p->max)
            cap = p->max;
        if (cap <= p->cap)
            return NIL;
        pent_t *e = realloc(p->e, (size_t)cap * sizeof *e);
        if (!e)
            return NIL;
        p->e = e;
        p->cap = cap;
    }
    return p->used++;
}

/* Set entry i's username (n = 0: none). Another entry holding it loses it. */
static bool set_username(mtp_peers_t *p, uint32_t i, const uint8_t *s, size_t n)
{
    pent_t *e = &p->e[i];
    if (e->ulen == n && (!n || memcmp(e->uname, s, n) == 0))
        return false;
    unlink_name(p, i);
    e->ulen = 0;
    uint32_t o = find_name(p, s, n);
    if (o != NIL) {
        unlink_name(p, o);
        p->e[o].ulen = 0;
    }
    if (n) {
        memcpy(e->uname, s, n);
        e->ulen = (uint8_t)n;
        link_name(p, i);
    }
    return true;
}

static int upsert(mtp_peers_t *p, const rec_t *r)
{
    if (!p || !p->max || r->id <= 0 || r->kind < MTP_PEER_USER || r->kind > MTP_PEER_CHANNEL)
        return 0;
    bool uknown = r->uname_known && (r->ulen == 0 || uname_ok(r->uname, r->ulen));
    uint8_t flags = r->flags & F_ALL;
    int64_t hash = flags & F_HASH ? r->hash : 0;
    bool changed = false;
    uint32_t i = find_id(p, r->kind, r->id);
    if (i == NIL) {
        i = new_slot(p);
        if (i == NIL)
            return 0;
        pent_t *e = &p->e[i];
        memset(e, 0, sizeof *e);
        e->id = r->id;
        e->kind = r->kind;
        e->flags = flags;
        e->hash = hash;
        e->older = e->newer = e->next_name = NIL;
        link_id(p, i);
        lru_push(p, i);
        p->count++;
        if (uknown && r->ulen)
            set_username(p, i, r->uname, r->ulen);
        changed = true;
    } else {
        pent_t *e = &p->e[i];
        if ((flags & F_MIN) && !(e->flags & F_MIN)) {
            /* a min object never overwrites what a full one said; a username it shows is
             * current */
            if (uknown && r->ulen)
                changed = set_username(p, i, r->uname, r->ulen);
        } else {
            if (!(flags & F_HASH) && (e->flags & F_HASH)) {
                flags |= F_HASH | (e->flags & F_MIN);
                hash = e->hash;
            }
            if (flags != e->flags || hash != e->hash) {
                e->flags = flags;
                e->hash = hash;
                changed = true;
            }
            if (uknown)
                changed |= set_username(p, i, r->uname, r->ulen);
        }
        if (p->newest != i) {
            lru_remove(p, i);
            lru_push(p, i);
        }
    }
    if (changed)
        p->dirty = true;
    return changed;
}

mtp_peers_t *mtp_peers__new(int max)
{
    mtp_peers_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->max = max < 0 ? 0 : max == 0 ? DEFAULT_MAX : (uint32_t)max > HARD_MAX ? HARD_MAX
                                                                           : (uint32_t)max;
    p->free_list = p->oldest = p->newest = NIL;
    return p;
}

void mtp_peers__free(mtp_peers_t *p)
{
    if (!p)
        return;
    free(p->e);
    free(p->b_id);
    free(p->b_name);
    free(p);
}

void mtp_peers__clear(mtp_peers_t *p)
{
    if (!p)
        return;
    if (p->count)
        p->dirty = true;
    free(p->e);
    free(p->b_id);
    free(p->b_name);
    p->e = NULL;
    p->b_id = p->b_name = NULL;
    p->cap = p->used = p->count = p->nb = 0;
    p->free_list = p->oldest = p->newest = NIL;
}

bool mtp_peers__dirty(const mtp_peers_t *p)
{
    return p && p->dirty;
}

bool mtp_peers__want_save(const mtp_peers_t *p, mtp_usec_t now)
{
    return p && p->dirty && (now - p->saved_at >= MTP_USEC_PER_SEC || now < p->saved_at);
}

void mtp_peers__saved(mtp_peers_t *p, mtp_usec_t now)
{
    if (p) {
        p->dirty = false;
        p->saved_at = now;
    }
}

/* ------------------------------------------------------------------ session section */

static void put32(mtp_buf_t *b, uint32_t v)
{
    uint8_t x[4];
    mtp_put_le32(x, v);
    mtp_buf_append(b, x, 4);
}

static void put64(mtp_buf_t *b, uint64_t v)
{
    uint8_t x[8];
    mtp_put_le64(x, v);
    mtp_buf_append(b, x, 8);
}

#define get32 mtp_get_le32
#define get64 mtp_get_le64

void mtp_peers__serialize(const mtp_peers_t *p, mtp_buf_t *b)
{
    uint32_t n = p ? p->count : 0;
    put32(b, n);
    if (!n)
        return;
    mtp_buf_reserve(b, (size_t)n * 20 + 64);
    for (uint32_t i = p->oldest; i != NIL; i = p->e[i].newer) {
        const pent_t *e = &p->e[i];
        uint8_t h[4] = { e->kind, e->flags, e->ulen, 0 };
        mtp_buf_append(b, h, 4);
        put64(b, (uint64_t)e->id);
        put64(b, (uint64_t)e->hash);
        mtp_buf_append(b, e->uname, e->ulen);
    }
}

int mtp_peers__parse(const mtp_peers_t *like, const uint8_t *d, size_t n, mtp_peers_t **out)
{
    *out = NULL;
    if (n < 4)
        return MTP_EINVAL;
    uint32_t cnt = get32(d);
    if (cnt > (n - 4) / 20)
        return MTP_EINVAL;
    mtp_peers_t *p = mtp_peers__new(like ? (like->max ? (int)like->max : -1) : 0);
    if (!p)
        return MTP_ENOMEM;
    size_t off = 4;
    for (uint32_t k = 0; k < cnt; k++) {
        if (n - off < 20)
            goto bad;
        const uint8_t *x = d + off;
        rec_t r = { .kind = x[0], .flags = x[1], .id = (int64_t)get64(x + 4),
                    .hash = (int64_t)get64(x + 12), .uname_known = true, .ulen = x[2] };
        off += 20;
        if (r.kind < MTP_PEER_USER || r.kind > MTP_PEER_CHANNEL || (r.flags & ~F_ALL) || x[3] ||
            r.id <= 0 || r.ulen > MTP_PEER_USERNAME_MAX || n - off < r.ulen ||
            (!(r.flags & F_HASH) && r.hash))
            goto bad;
        r.uname = d + off;
        if (r.ulen && !uname_ok(r.uname, r.ulen))
            goto bad;
        off += r.ulen;
        upsert(p, &r);
    }
    if (off != n)
        goto bad;
    p->dirty = false;
    *out = p;
    return 0;
bad:
    mtp_peers__free(p);
    return MTP_EINVAL;
}

/* ------------------------------------------------------------------ feeding */

/* The peer kind a constructor describes (0: none). */
static int comb_kind(const mtp_tl_comb_t *c)
{
    const mtp_tl_tname_t *t = c->tname;
    if (c->is_method || !t || !t->name || !c->name)
        return 0;
    const char *n = c->name;
    if (t->name[0] == 'U' && strcmp(t->name, "User") == 0)
        return strcmp(n, "user") == 0 ? MTP_PEER_USER : 0;
    if (t->name[0] == 'C' && strcmp(t->name, "Chat") == 0) {
        if (strcmp(n, "chat") == 0 || strcmp(n, "chatForbidden") == 0)
            return MTP_PEER_CHAT;
        if (strcmp(n, "channel") == 0 || strcmp(n, "channelForbidden") == 0)
            return MTP_PEER_CHANNEL;
    }
    return 0;
}

/* Can a value of type t contain objects? */
static bool may_hold(const mtp_tl_type_t *t)
{
    while (t && (t->kind == MTP_TL_VECTOR || t->kind == MTP_TL_BARE_VECTOR))
        t = t->elem;
    return t && (t->kind == MTP_TL_OBJECT || t->kind == MTP_TL_BARE_OBJECT ||
                 t->kind == MTP_TL_QUERY);
}

/* The first active name of a Vector<Username> (collectible usernames). */
static bool active_username(const mtp_vec_obj_t *v, mtp_bytes_t *out)
{
    for (uint32_t k = 0; k < v->n; k++) {
        const mtp_tl_object_t *u = v->v[k];
        if (!u || !u->tl)
            continue;
        bool active = false, got = false;
        mtp_bytes_t s = { NULL, 0 };
        for (uint16_t i = 0; i < u->tl->nparams; i++) {
            const mtp_tl_param_t *pp = &u->tl->params[i];
            if (pp->type->kind == MTP_TL_TRUE && strcmp(pp->name, "active") == 0)
                active = mtp_tl_field_present(u, pp);
            else if (pp->type->kind == MTP_TL_STRING && strcmp(pp->name, "username") == 0 &&
                     mtp_tl_field_present(u, pp)) {
                s = *(const mtp_bytes_t *)mtp_tl_field(u, pp);
                got = true;
            }
        }
        if (active && got && s.len) {
            *out = s;
            return true;
        }
    }
    return false;
}

static int record(mtp_peers_t *p, const mtp_tl_object_t *o, int kind)
{
    rec_t r = { .kind = (uint8_t)kind };
    const mtp_tl_comb_t *c = o->tl;
    mtp_bytes_t alt = { NULL, 0 };
    bool has_alt = false;
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *pp = &c->params[i];
        const char *nm = pp->name;
        uint8_t k = pp->type->kind;
        if (!nm)
            continue;
        bool present = mtp_tl_field_present(o, pp);
        const void *f = mtp_tl_field(o, pp);
        if (k == MTP_TL_TRUE) {
            if (!present)
                continue;
            if (strcmp(nm, "min") == 0)
                r.flags |= F_MIN;
            else if (strcmp(nm, "bot") == 0)
                r.flags |= F_BOT;
            else if (strcmp(nm, "broadcast") == 0)
                r.flags |= F_BROADCAST;
            else if (strcmp(nm, "megagroup") == 0)
                r.flags |= F_MEGAGROUP;
        } else if (strcmp(nm, "id") == 0) {
            if (k == MTP_TL_LONG)
                r.id = *(const int64_t *)f;
            else if (k == MTP_TL_INT)
                r.id = *(const int32_t *)f;
        } else if (strcmp(nm, "access_hash") == 0 && k == MTP_TL_LONG) {
            if (present) {
                r.hash = *(const int64_t *)f;
                r.flags |= F_HASH;
            }
        } else if (strcmp(nm, "username") == 0 && k == MTP_TL_STRING) {
            r.uname_known = true;
            if (present) {
                r.uname = ((const mtp_bytes_t *)f)->ptr;
                r.ulen = ((const mtp_bytes_t *)f)->len;
            }
        } else if (strcmp(nm, "usernames") == 0 && k == MTP_TL_VECTOR && present &&
                   pp->type->elem && pp->type->elem->kind == MTP_TL_OBJECT) {
            has_alt = active_username((const mtp_vec_obj_t *)f, &alt);
        }
    }
    if (kind == MTP_PEER_CHAT)
        r.flags &= (uint8_t)~(F_HASH | F_MIN);
    if (r.uname_known && !r.ulen && has_alt) {
        r.uname = alt.ptr;
        r.ulen = alt.len;
    }
    return upsert(p, &r);
}

static int walk_obj(mtp_peers_t *p, const mtp_tl_object_t *o, int depth);

static int walk_value(mtp_peers_t *p, const mtp_tl_type_t *t, const void *val, int depth)
{
    if (!t || !val || depth > WALK_DEPTH)
        return 0;
    switch (t->kind) {
    case MTP_TL_OBJECT:
    case MTP_TL_BARE_OBJECT:
    case MTP_TL_QUERY:
        return walk_obj(p, *(mtp_tl_object_t *const *)val, depth + 1);
    case MTP_TL_VECTOR:
    case MTP_TL_BARE_VECTOR: {
        const mtp_vec_t *v = val;
        if (!v->n || !v->v || !may_hold(t->elem) || !t->elem->size)
            return 0;
        int n = 0;
        const uint8_t *item = v->v;
        for (uint32_t i = 0; i < v->n; i++, item += t->elem->size)
            n += walk_value(p, t->elem, item, depth + 1);
        return n;
    }
    default:
        return 0;
    }
}

static int walk_obj(mtp_peers_t *p, const mtp_tl_object_t *o, int depth)
{
    if (!o || !o->tl || depth > WALK_DEPTH)
        return 0;
    const mtp_tl_vector_t *vec = mtp_tl_as_vector(o);
    if (vec) {   /* a Vector<T> result (users.getUsers ...) */
        if (!vec->type || vec->type->kind != MTP_TL_VECTOR)
            return 0;
        mtp_vec_t items = { vec->n, vec->v.any };
        return walk_value(p, vec->type, &items, depth);
    }
    const mtp_tl_comb_t *c = o->tl;
    int n = 0, kind = comb_kind(c);
    if (kind)
        n += record(p, o, kind);
    for (uint16_t i = 0; i < c->nparams; i++) {
        const mtp_tl_param_t *pp = &c->params[i];
        if (may_hold(pp->type) && mtp_tl_field_present(o, pp))
            n += walk_value(p, pp->type, mtp_tl_field(o, pp), depth);
    }
    return n;
}

int mtp_peers__feed(mtp_peers_t *p, const mtp_tl_object_t *obj)
{
    if (!p || !p->max || !obj)
        return 0;
    return walk_obj(p, obj, 0);
}

void mtp_peers__feed_raw(mtp_peers_t *p, const uint8_t *q, size_t qlen, const uint8_t *res,
                         size_t len)
{
    if (!p || !p->max || !res || len < 4)
        return;
    const mtp_tl_layer_t *L = mtp_tl_layer(MTP_TL_DEFAULT_LAYER);
    const mtp_tl_comb_t *m = q && qlen >= 4 ? mtp_tl_find_id(L, get32(q)) : NULL;
    const mtp_tl_type_t *t = m && m->is_method ? m->result : NULL;
    if (t && !may_hold(t))
        return;                     /* Bool, int, Vector<long> ...: nothing to find */
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a)
        return;
    if (t) {
        void *dst = mtp_arena_alloc(a, t->size ? t->size : 16);
        mtp_tl_reader_t r;
        mtp_tl_reader_init(&r, L, res, len, a);
        if (dst && !mtp_tl_read_value(&r, t, dst) && !r.err && r.p == r.end)
            walk_value(p, t, dst, 0);
    } else {
        mtp_tl_object_t *o = NULL;
        if (!mtp_tl_decode(L, res, len, a, &o))
            walk_obj(p, o, 0);
    }
    mtp_arena_free(a);
}

/* ------------------------------------------------------------------ public: cache */

static void to_peer(const pent_t *e, mtp_peer_t *out)
{
    memset(out, 0, sizeof *out);
    out->kind = (mtp_peer_kind_t)e->kind;
    out->id = e->id;
    out->has_access_hash = (e->flags & F_HASH) != 0;
    out->access_hash = out->has_access_hash ? e->hash : 0;
    out->min = (e->flags & F_MIN) != 0;
    out->bot = (e->flags & F_BOT) != 0;
    out->broadcast = (e->flags & F_BROADCAST) != 0;
    out->megagroup = (e->flags & F_MEGAGROUP) != 0;
    memcpy(out->username, e->uname, e->ulen);
    out->username[e->ulen] = 0;
}

static int cache_get(const mtp_peers_t *p, int kind, int64_t id, mtp_peer_t *out)
{
    uint32_t i = p ? find_id(p, (uint8_t)kind, id) : NIL;
    if (i == NIL)
        return MTP_ENOTFOUND;
    if (out)
        to_peer(&p->e[i], out);
    return 0;
}

static int cache_name(const mtp_peers_t *p, const char *name, mtp_peer_t *out)
{
    if (!p || !name)
        return MTP_ENOTFOUND;
    if (name[0] == '@')
        name++;
    uint32_t i = find_name(p, (const uint8_t *)name, strlen(name));
    if (i == NIL)
        return MTP_ENOTFOUND;
    if (out)
        to_peer(&p->e[i], out);
    return 0;
}

int mtp_client_peer_get(mtp_client_t *c, mtp_peer_kind_t kind, int64_t id, mtp_peer_t *out)
{
    return c ? cache_get(mtp_client__peers(c), (int)kind, id, out) : MTP_EINVAL;
}

int mtp_client_peer_find_username(mtp_client_t *c, const char *username, mtp_peer_t *out)
{
    return c ? cache_name(mtp_client__peers(c), username, out) : MTP_EINVAL;
}

int mtp_client_peer_put(mtp_client_t *c, const mtp_peer_t *in)
{
    if (!c || !in || in->kind < MTP_PEER_USER || in->kind > MTP_PEER_CHANNEL || in->id <= 0)
        return MTP_EINVAL;
    size_t ul = strnlen(in->username, sizeof in->username);
    if (ul == sizeof in->username || (ul && !uname_ok((const uint8_t *)in->username, ul)))
        return MTP_EINVAL;
    mtp_peers_t *p = mtp_client__peers(c);
    if (!p || !p->max)
        return MTP_EDISABLED;       /* peer_cache_max < 0 */
    rec_t r = { .kind = (uint8_t)in->kind, .id = in->id, .uname_known = true,
                .uname = (const uint8_t *)in->username, .ulen = ul };
    if (in->has_access_hash && in->kind != MTP_PEER_CHAT) {
        r.flags |= F_HASH;
        r.hash = in->access_hash;
    }
    r.flags |= (in->min ? F_MIN : 0) | (in->bot ? F_BOT : 0) |
               (in->broadcast ? F_BROADCAST : 0) | (in->megagroup ? F_MEGAGROUP : 0);
    upsert(p, &r);
    return find_id(p, r.kind, r.id) != NIL ? 0 : MTP_ENOMEM;
}

int mtp_client_peers_feed(mtp_client_t *c, const mtp_tl_object_t *obj)
{
    return c ? mtp_peers__feed(mtp_client__peers(c), obj) : 0;
}

size_t mtp_client_peers_count(const mtp_client_t *c)
{
    const mtp_peers_t *p = c ? mtp_client__peers((mtp_client_t *)c) : NULL;
    return p ? p->count : 0;
}

void mtp_client_peers_clear(mtp_client_t *c)
{
    if (c)
        mtp_peers__clear(mtp_client__peers(c));
}

/* ------------------------------------------------------------------ public: specs */

int64_t mtp_peer_marked_id(mtp_peer_kind_t kind, int64_t id)
{
    if (id <= 0 || id > INT64_MAX - MTP_PEER_CHANNEL_MARK)
        return 0;
    switch (kind) {
    case MTP_PEER_CHAT: return -id;
    case MTP_PEER_CHANNEL: return -(MTP_PEER_CHANNEL_MARK + id);
    default: return id;
    }
}

int mtp_peer_spec_parse(const char *s, mtp_peer_spec_t *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return MTP_EINVAL;
    if (strcmp(s, "me") == 0 || strcmp(s, "self") == 0) {
        out->type = MTP_PEER_SPEC_SELF;
        return 0;
    }
    if (s[0] == '@') {
        size_t n = strlen(s + 1);
        if (!uname_ok((const uint8_t *)s + 1, n))
            return MTP_EINVAL;
        memcpy(out->username, s + 1, n);
        out->type = MTP_PEER_SPEC_USERNAME;
        return 0;
    }
    bool neg = s[0] == '-';
    const char *d = s + neg;
    size_t nd = strlen(d);
    if (nd == 0 || nd > 19)
        return MTP_EINVAL;
    for (size_t i = 0; i < nd; i++)
        if (d[i] < '0' || d[i] > '9')
            return MTP_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(d, NULL, 10);
    if (errno || v > (unsigned long long)INT64_MAX)
        return MTP_EINVAL;
    int64_t x = (int64_t)v;
    if (!neg) {
        if (x < 1 || x >= USER_ID_LIMIT)
            return MTP_EINVAL;
        out->kind = MTP_PEER_USER;
        out->id = x;
    } else if (x >= 1 && x <= GROUP_ID_MAX) {
        out->kind = MTP_PEER_CHAT;
        out->id = x;
    } else if (x > MTP_PEER_CHANNEL_MARK && x - MTP_PEER_CHANNEL_MARK <= GROUP_ID_MAX) {
        out->kind = MTP_PEER_CHANNEL;
        out->id = x - MTP_PEER_CHANNEL_MARK;
    } else {
        return MTP_EINVAL;
    }
    out->type = MTP_PEER_SPEC_ID;
    return 0;
}

int mtp_peer_input_peer(const mtp_peer_t *p, mtp_arena_t *a, mtp_tl_object_t **out)
{
    mtp_tl_object_t *o = NULL;
    if (!p || !a || !out || p->id <= 0)
        return MTP_EINVAL;
    switch (p->kind) {
    case MTP_PEER_USER: {
        mtp_inputPeerUser_t *x = MTP_NEW(a, inputPeerUser);
        if (x) {
            x->user_id = p->id;
            x->access_hash = p->has_access_hash ? p->access_hash : 0;
            o = &x->_;
        }
        break;
    }
    case MTP_PEER_CHAT: {
        mtp_inputPeerChat_t *x = MTP_NEW(a, inputPeerChat);
        if (x) {
            x->chat_id = p->id;
            o = &x->_;
        }
        break;
    }
    case MTP_PEER_CHANNEL: {
        mtp_inputPeerChannel_t *x = MTP_NEW(a, inputPeerChannel);
        if (x) {
            x->channel_id = p->id;
            x->access_hash = p->has_access_hash ? p->access_hash : 0;
            o = &x->_;
        }
        break;
    }
    default:
        return MTP_EINVAL;
    }
    if (!o)
        return MTP_ENOMEM;
    *out = o;
    return 0;
}

int mtp_peer_input_user(const mtp_peer_t *p, mtp_arena_t *a, mtp_tl_object_t **out)
{
    if (!p || !a || !out || p->kind != MTP_PEER_USER || p->id <= 0)
        return MTP_EINVAL;
    mtp_inputUser_t *x = MTP_NEW(a, inputUser);
    if (!x)
        return MTP_ENOMEM;
    x->user_id = p->id;
    x->access_hash = p->has_access_hash ? p->access_hash : 0;
    *out = &x->_;
    return 0;
}

int mtp_peer_input_channel(const mtp_peer_t *p, mtp_arena_t *a, mtp_tl_object_t **out)
{
    if (!p || !a || !out || p->kind != MTP_PEER_CHANNEL || p->id <= 0)
        return MTP_EINVAL;
    mtp_inputChannel_t *x = MTP_NEW(a, inputChannel);
    if (!x)
        return MTP_ENOMEM;
    x->channel_id = p->id;
    x->access_hash = p->has_access_hash ? p->access_hash : 0;
    *out = &x->_;
    return 0;
}

/* ------------------------------------------------------------------ public: resolving */

static void seterr(mtp_call_error_t *e, int err, int64_t number, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void seterr(mtp_call_error_t *e, int err, int64_t number, const char *fmt, ...)
{
    memset(e, 0, sizeof *e);
    e->err = err;
    e->number = number;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
    }
}

static const char bad_spec[] =
    "BAD_PEER: expected me, @username, a user id, -N (basic group) or -100N (channel)";

/* The entry for (kind, id) as the objects of a raw result (answer to query q) show it. */
static int from_raw(const uint8_t *q, size_t ql, const uint8_t *res, size_t len, int kind,
                    int64_t id, mtp_peer_t *out)
{
    mtp_peers_t *t = mtp_peers__new(1024);
    if (!t)
        return MTP_ENOMEM;
    mtp_peers__feed_raw(t, q, ql, res, len);
    int rc = cache_get(t, kind, id, out);
    mtp_peers__free(t);
    return rc;
}

static int from_obj(const mtp_tl_object_t *o, int kind, int64_t id, mtp_peer_t *out)
{
    mtp_peers_t *t = mtp_peers__new(1024);
    if (!t)
        return MTP_ENOMEM;
    mtp_peers__feed(t, o);
    int rc = cache_get(t, kind, id, out);
    mtp_peers__free(t);
    return rc;
}

/* users.getUsers([inputUser(id, 0)]): bots (and the own account) may get the user. */
static int probe_user(mtp_client_t *c, int64_t id, mtp_peer_t *out, mtp_call_error_t *e)
{
    mtp_arena_t *a = mtp_arena_new(0);
    if (!a) {
        seterr(e, MTP_ENOMEM, -1, NULL);
        return MTP_ENOMEM;
    }
    mtp_users_getUsers_t *g = MTP_NEW(a, users_getUsers);
    mtp_inputUser_t *iu = MTP_NEW(a, inputUser);
    mtp_tl_object_t **v = mtp_arena_alloc(a, sizeof *v);
    mtp_buf_t body, res;
    mtp_buf_init(&body);
    mtp_buf_init(&res);
    int rc = g && iu && v ? 0 : MTP_ENOMEM;
    if (!rc) {
        iu->user_id = id;
        v[0] = &iu->_;
        g->id.n = 1;
        g->id.v = v;
        rc = mtp_tl_encode(&g->_, &body);
    }
    if (!rc)
        rc = mtp_call_sync_raw(c, 0, 0, body.data, body.len, &res, e);
    else
        seterr(e, rc, -1, NULL);
    if (!rc)
        rc = from_raw(body.data, body.len, res.data, res.len, MTP_PEER_USER, id, out);
    mtp_buf_free(&body);
    mtp_buf_free(&res);
    mtp_arena_free(a);
    return rc;
}

static int resolve_username(mtp_client_t *c, const char *name, mtp_peer_t *out,
                            mtp_call_error_t *e)
{
    mtp_peer_t cached;
    bool have = cache_name(mtp_client__peers(c), name, &cached) == 0;
    if (have && (cached.kind == MTP_PEER_CHAT || (cached.has_access_hash && !cached.min))) {
        *out = cached;
        return 0;
    }
    mtp_arena_t *a = mtp_arena_new(0);
    mtp_contacts_resolveUsername_t *q = a ? MTP_NEW(a, contacts_resolveUsername) : NULL;
    if (!q) {
        mtp_arena_free(a);
        seterr(e, MTP_ENOMEM, -1, NULL);
        return MTP_ENOMEM;
    }
    q->username = (mtp_bytes_t){ (const uint8_t *)name, strlen(name) };
    mtp_tl_object_t *o = NULL;
    int rc = mtp_call_sync(c, &q->_, a, &o, e);   /* feeds the cache */
    if (!rc) {
        const mtp_contacts_resolvedPeer_t *rp = (const mtp_contacts_resolvedPeer_t *)o;
        const mtp_tl_object_t *pr = o->tl->id == MTP_ID_contacts_resolvedPeer ? rp->peer : NULL;
        int kind = 0;
        int64_t id = 0;
        if (pr && pr->tl->id == MTP_ID_peerUser) {
            kind = MTP_PEER_USER;
            id = ((const mtp_peerUser_t *)pr)->user_id;
        } else if (pr && pr->tl->id == MTP_ID_peerChat) {
            kind = MTP_PEER_CHAT;
            id = ((const mtp_peerChat_t *)pr)->chat_id;
        } else if (pr && pr->tl->id == MTP_ID_peerChannel) {
            kind = MTP_PEER_CHANNEL;
            id = ((const mtp_peerChannel_t *)pr)->channel_id;
        }
        rc = kind ? from_obj(o, kind, id, out) : MTP_EPROTO;
        if (rc == MTP_ENOTFOUND && kind == MTP_PEER_CHAT) {
            memset(out, 0, sizeof *out);
            out->kind = MTP_PEER_CHAT;
            out->id = id;
            rc = 0;
        }
        if (rc)
            seterr(e, rc, kind ? mtp_peer_marked_id((mtp_peer_kind_t)kind, id) : -1,
                   "PEER_ID_INVALID: @%s resolved without the peer's object", name);
    } else if (have && e->err != MTP_ERPC) {
        *out = cached;      /* offline: the min entry is better than nothing */
        seterr(e, 0, -1, NULL);
        rc = 0;
    }
    mtp_arena_free(a);
    return rc;
}

static int resolve_spec(mtp_client_t *c, const mtp_peer_spec_t *sp, mtp_peer_t *out,
                        mtp_call_error_t *e)
{
    mtp_peers_t *p = mtp_client__peers(c);
    seterr(e, 0, -1, NULL);
    switch (sp->type) {
    case MTP_PEER_SPEC_SELF: {
        int64_t me = mtp_client_user_id(c);
        if (!me) {
            seterr(e, MTP_EAUTH, -1, "AUTH_KEY_UNREGISTERED: not logged in, \"me\" unknown");
            return MTP_EAUTH;
        }
        if (cache_get(p, MTP_PEER_USER, me, out)) {
            memset(out, 0, sizeof *out);
            out->kind = MTP_PEER_USER;
            out->id = me;
        }
        return 0;
    }
    case MTP_PEER_SPEC_USERNAME:
        return resolve_username(c, sp->username, out, e);
    case MTP_PEER_SPEC_ID:
        break;
    default:
        seterr(e, MTP_EINVAL, -1, "%s", bad_spec);
        return MTP_EINVAL;
    }
    if (!cache_get(p, sp->kind, sp->id, out))
        return 0;
    if (sp->kind == MTP_PEER_CHAT) {
        memset(out, 0, sizeof *out);
        out->kind = MTP_PEER_CHAT;
        out->id = sp->id;
        return 0;
    }
    if (sp->kind == MTP_PEER_USER) {
        int rc = probe_user(c, sp->id, out, e);
        if (!rc)
            return 0;
        if (rc != MTP_ENOTFOUND && e->err && e->err != MTP_ERPC)
            return rc;      /* the network failed: say so, not "unknown" */
    }
    int64_t marked = mtp_peer_marked_id(sp->kind, sp->id);
    seterr(e, MTP_ENOTFOUND, marked,
           "PEER_ID_INVALID: id %lld not in the peer cache; resolve it by @username or fetch "
           "dialogs first", (long long)marked);
    return MTP_ENOTFOUND;
}

static int parse_or_fail(const char *spec, mtp_peer_spec_t *sp, mtp_call_error_t *e)
{
    int rc = mtp_peer_spec_parse(spec, sp);
    if (rc)
        seterr(e, MTP_EINVAL, -1, "%s", bad_spec);
    return rc;
}

int mtp_client_resolve_peer(mtp_client_t *c, const char *spec, mtp_peer_t *out,
                            mtp_call_error_t *err)
{
    mtp_call_error_t e;
    mtp_peer_spec_t sp;
    mtp_peer_t tmp;
    int rc = !c ? MTP_EINVAL : parse_or_fail(spec, &sp, &e);
    if (!c)
        seterr(&e, rc, -1, NULL);
    else if (!rc)
        rc = resolve_spec(c, &sp, out ? out : &tmp, &e);
    if (err)
        *err = e;
    return rc;
}

/* which: 0 InputPeer, 1 InputUser, 2 InputChannel */
static int input_common(mtp_client_t *c, const char *spec, mtp_arena_t *a,
                        mtp_tl_object_t **out, mtp_call_error_t *err, int which)
{
    mtp_call_error_t e;
    mtp_peer_spec_t sp;
    int rc = !c || !a || !out ? MTP_EINVAL : parse_or_fail(spec, &sp, &e);
    if (!c || !a || !out) {
        seterr(&e, rc, -1, NULL);
    } else if (!rc && sp.type == MTP_PEER_SPEC_SELF && which != 2) {
        seterr(&e, 0, -1, NULL);
        mtp_tl_object_t *o = which == 0 ? (mtp_tl_object_t *)MTP_NEW(a, inputPeerSelf)
                                        : (mtp_tl_object_t *)MTP_NEW(a, inputUserSelf);
        if (!o)
            seterr(&e, rc = MTP_ENOMEM, -1, NULL);
        else
            *out = o;
    } else if (!rc) {
        mtp_peer_t p;
        rc = resolve_spec(c, &sp, &p, &e);
        if (!rc) {
            static const mtp_peer_kind_t need[3] = { 0, MTP_PEER_USER, MTP_PEER_CHANNEL };
            if (which && p.kind != need[which]) {
                rc = MTP_EINVAL;
                seterr(&e, rc, mtp_peer_marked_id(p.kind, p.id),
                       "PEER_TYPE_INVALID: %s is not a %s", spec,
                       which == 1 ? "user" : "channel");
            } else {
                rc = which == 0 ? mtp_peer_input_peer(&p, a, out)
                   : which == 1 ? mtp_peer_input_user(&p, a, out)
                                : mtp_peer_input_channel(&p, a, out);
                if (rc)
                    seterr(&e, rc, -1, NULL);
            }
        }
    }
    if (err)
        *err = e;
    return rc;
}

int mtp_client_input_peer(mtp_client_t *c, const char *spec, mtp_arena_t *a,
                          mtp_tl_object_t **out, mtp_call_error_t *err)
{
    return input_common(c, spec, a, out, err, 0);
}

int mtp_client_input_user(mtp_client_t *c, const char *spec, mtp_arena_t *a,
                          mtp_tl_object_t **out, mtp_call_error_t *err)
{
    return input_common(c, spec, a, out, err, 1);
}

int mtp_client_input_channel(mtp_client_t *c, const char *spec, mtp_arena_t *a,
                             mtp_tl_object_t **out, mtp_call_error_t *err)
{
    return input_common(c, spec, a, out, err, 2);
}
