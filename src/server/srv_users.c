/*
 * libmtproto harness — users.*, contacts.resolveUsername, account.updateStatus.
 */
#include "srv_api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* users, contacts, account                                                             */
/* ------------------------------------------------------------------------------------ */

static void h_getUsers(srv_req_t *r, const void *qv)
{
    const mtp_users_getUsers_t *q = qv;
    mtp_vec_obj_t v;
    if (q->id.n > 200) {
        reply_err(r, 400, "LIMIT_INVALID");
        return;
    }
    if (!vec_new(r->arena, &v, q->id.n)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    for (uint32_t i = 0; i < q->id.n; i++) {
        const mtp_tl_object_t *in = q->id.v[i];
        srv_user_t *u = input_user(r, in);
        if (u)
            vec_push(&v, user_obj(r, u));
        else if (in && in->tl == &mtp_tlc_inputUser)
            vec_push(&v, user_empty(r, ((const mtp_inputUser_t *)in)->user_id));
    }
    reply_vec(r, &v);
}

static void h_getFullUser(srv_req_t *r, const void *qv)
{
    const mtp_users_getFullUser_t *q = qv;
    srv_user_t *u = input_user(r, q->id);
    if (!u) {
        reply_err(r, 400, "USER_ID_INVALID");
        return;
    }
    mtp_users_userFull_t *o = MTP_NEW(r->arena, users_userFull);
    mtp_userFull_t *f = MTP_NEW(r->arena, userFull);
    mtp_peerSettings_t *ps = MTP_NEW(r->arena, peerSettings);
    if (!o || !f || !ps || !vec_new(r->arena, &o->users, 1)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    f->id = u->id;
    f->settings = &ps->_;
    f->notify_settings = notify_settings(r);
    f->has_about = true;
    f->about = cs(u->bot ? "A harness bot." : "A harness user.");
    o->full_user = &f->_;
    vec_push(&o->users, user_obj(r, u));
    reply_obj(r, &o->_);
}

static void h_resolveUsername(srv_req_t *r, const void *qv)
{
    const mtp_contacts_resolveUsername_t *q = qv;
    srv_user_t *u = srv_user_by_username(r->srv, q->username.ptr, q->username.len);
    if (!u && srv_chan_resolve(r, q->username))
        return;
    if (!u) {
        reply_err(r, 400, "USERNAME_NOT_OCCUPIED");
        return;
    }
    mtp_contacts_resolvedPeer_t *o = MTP_NEW(r->arena, contacts_resolvedPeer);
    if (!o || !vec_new(r->arena, &o->users, 1)) {
        reply_err(r, 500, "INTERNAL");
        return;
    }
    o->peer = peer_user(r, u->id);
    vec_push(&o->users, user_obj(r, u));
    reply_obj(r, &o->_);
}

static void h_updateStatus(srv_req_t *r, const void *q)
{
    (void)q;
    reply_bool(r, true);
}

/* methods of this area (see srv_api_int.h: one row per method) */
const handler_t srv_methods_users[] = {
    { &mtp_tlc_users_getUsers, h_getUsers, A_AUTH },
    { &mtp_tlc_users_getFullUser, h_getFullUser, A_AUTH },
    { &mtp_tlc_contacts_resolveUsername, h_resolveUsername, A_AUTH },
    { &mtp_tlc_account_updateStatus, h_updateStatus, A_AUTH },
    { NULL, NULL, 0 }
};
