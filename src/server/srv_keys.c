/*
 * libmtproto harness — auth keys: lookup, creation, destruction (freed at once, or with the
 * last session that still points at one), the authorization a key carries, and expiry
 * (temporary keys at their end, permanent ones never authorized nor used for
 * limits.key_unused_ttl). Persistence is in srv_store.c.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* keys                                                                                 */
/* ------------------------------------------------------------------------------------ */

srv_key_t *srv_key_find(srv_t *srv, int64_t id)
{
    return srv_map_get(&srv->keys, id);
}

srv_key_t *srv_key_add(srv_t *srv, const mtp_auth_key_t *k, int dc, bool temp,
                       int32_t expires_at, int64_t salt)
{
    srv_key_t *o = srv_map_get(&srv->keys, k->id64);
    if (o)
        return o;   /* cannot happen: the exchange retries on collisions */
    srv_key_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->id = k->id64;
    n->key = *k;
    n->dc = dc;
    n->temp = temp;
    n->expires_at = expires_at;
    n->salt = salt;
    n->last_used = srv_now();
    if (srv_map_put(&srv->keys, n->id, n)) {
        mtp_secure_zero(n, sizeof *n);
        free(n);
        return NULL;
    }
    if (!temp)
        srv->dirty_keys = true;
    return n;
}

/* A destroyed key is no longer found by id; it stays allocated only while sessions (held
 * by connections or delayed answers) point at it, and goes with the last (sess_free). */
void srv_key_destroy(srv_t *srv, srv_key_t *k)
{
    if (k->destroyed)
        return;
    k->destroyed = true;
    srv_map_del(&srv->keys, k->id);
    mtp_secure_zero(&k->key, sizeof k->key);
    if (!k->temp)
        srv->dirty_keys = true;
    /* sessions nothing holds go now */
    srv_sess_t *ss = k->sessions, *next;
    for (; ss; ss = next) {
        next = ss->next_in_key;
        if (!ss->refs) {
            if (!next && k->sessions == ss) {   /* the last one: frees the key too */
                srv_sess_free(srv, ss);
                return;
            }
            srv_sess_free(srv, ss);
        }
    }
    if (!k->sessions) {
        srv_key_release(srv, k);
        return;
    }
    if (srv->n_grave == srv->cap_grave) {
        size_t cap = srv->cap_grave ? srv->cap_grave * 2 : 16;
        srv_key_t **g = realloc(srv->graveyard, cap * sizeof *g);
        if (!g)
            return;   /* leak rather than dangle */
        srv->graveyard = g;
        srv->cap_grave = cap;
    }
    srv->graveyard[srv->n_grave++] = k;
}

void srv_key_release(srv_t *srv, srv_key_t *k)
{
    for (size_t g = 0; g < srv->n_grave; g++)
        if (srv->graveyard[g] == k) {
            srv->graveyard[g] = srv->graveyard[--srv->n_grave];
            break;
        }
    mtp_secure_zero(k, sizeof *k);
    free(k);
}

srv_key_t *srv_key_perm(srv_t *srv, srv_key_t *k)
{
    if (!k || k->destroyed)
        return NULL;
    if (!k->temp)
        return k;
    if (!k->perm_id)
        return NULL;
    srv_key_t *p = srv_key_find(srv, k->perm_id);
    return p && !p->temp ? p : NULL;
}

int64_t srv_key_user(srv_t *srv, const srv_key_t *k)
{
    srv_key_t *p = srv_key_perm(srv, (srv_key_t *)k);
    return p ? p->user_id : 0;
}

/* Temporary keys past their end, unused permanent ones (see the top): at most 64 a call. */
void srv_keys_expire(srv_t *srv, mtp_usec_t now)
{
    int32_t t = (int32_t)(now / MTP_USEC_PER_SEC);
    size_t i = 0;
    srv_key_t *k;
    int64_t expired[64];
    size_t ne = 0;
    size_t nunused = 0;
    while (srv_map_next(&srv->keys, &i, NULL, (void **)&k) && ne < 64) {
        if (k->temp && k->expires_at && k->expires_at < t) {
            expired[ne++] = k->id;
            continue;
        }
        /* a permanent key never authorized and unused for key_unused_ttl, with no
         * session that a connection holds */
        if (k->temp || k->user_id || k->last_used + srv->cfg.limits.key_unused_ttl >= now)
            continue;
        bool held = false;
        for (srv_sess_t *ss = k->sessions; ss && !held; ss = ss->next_in_key)
            held = ss->refs > 0;
        if (!held) {
            expired[ne++] = k->id;
            nunused++;
        }
    }
    if (nunused)
        SRV_STAT(srv, keys_expired, nunused);
    for (size_t e = 0; e < ne; e++) {
        k = srv_key_find(srv, expired[e]);
        if (k) {
            srv_close_key_conns(srv, k->id);
            srv_key_destroy(srv, k);
        }
    }
}
