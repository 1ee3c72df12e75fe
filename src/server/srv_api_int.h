/*
 * libmtproto harness — internals of the API layer (src/server/srv_*.c). Not a public header.
 *
 *   srv_api.c    dispatch: decode, faults, login checks, the method tables, the "in" trace
 *   srv_reply.c  replies, layer-228 objects, input resolution, push contexts (shared)
 *   srv_auth.c   help.*, auth.* (codes, sign in/up, 2FA, bots, export/import, bind temp key)
 *   srv_users.c  users.*, contacts.resolveUsername, account.updateStatus
 *   srv_msgs.c   private messages, history, dialogs, updates.getState/getDifference, pushes
 *   srv_chan.c   channels (supergroups) and their pushes
 *   srv_files.c  upload.saveFilePart / saveBigFilePart / getFile
 *
 * The shared helpers keep the short names the handlers have always used (reply_err,
 * user_obj ...); the macros below give their symbols the srv_ prefix.
 */
#ifndef MTP_SRV_API_INT_H
#define MTP_SRV_API_INT_H

#include "server_int.h"

#include <mtproto/tl_schema.h>

/* limits of what the harness accepts */
#define MIB             1048576
#define MAX_PART        524288          /* upload.saveFilePart bytes */
#define MAX_PARTS       8000            /* parts of one upload */
#define MSG_MAX         4096            /* message length */
#define HISTORY_MAX     100             /* messages.getHistory limit */

/* ------------------------------------------------------------------------------------ */
/* method tables                                                                        */
/* ------------------------------------------------------------------------------------ */

/* Who may call a method (flags of srv_method_t). */
enum {
    A_NONE = 0,                 /* no login needed */
    A_AUTH = 1,                 /* login needed (401 AUTH_KEY_UNREGISTERED otherwise) */
    A_TEMP_OK = 2,              /* allowed on a temporary key not bound yet */
    A_2FA = 4                   /* allowed while a login waits for its 2FA password */
};

/* One served method: the layer-228 combinator (queries of other layers are converted to
 * 228 first), its handler (q is the decoded layer-228 query, e.g. const
 * mtp_auth_sendCode_t *; the handler answers exactly once with reply_*), who may call it. */
typedef struct handler {
    const mtp_tl_comb_t *c;
    void (*fn)(srv_req_t *r, const void *q);
    unsigned flags;
} handler_t;

/* The table of each area (in its file), ended by a row with c == NULL. To serve a new
 * method, write its handler (static) in the file of its area and add one row to that
 * file's table: nothing else changes (srv_api.c searches the tables listed in its
 * method_tables[]; only a new area file is added there, and declared below). */
extern const handler_t srv_methods_auth[];
extern const handler_t srv_methods_users[];
extern const handler_t srv_methods_msgs[];
extern const handler_t srv_methods_chan[];
extern const handler_t srv_methods_files[];

/* ------------------------------------------------------------------------------------ */
/* srv_reply.c                                                                          */
/* ------------------------------------------------------------------------------------ */

#define cs(...) srv_cs(__VA_ARGS__)
#define vec_new(...) srv_vec_new(__VA_ARGS__)
#define vec_push(...) srv_vec_push(__VA_ARGS__)
#define bytes_eq(...) srv_bytes_eq(__VA_ARGS__)
#define reply_err(...) srv_reply_err(__VA_ARGS__)
#define reply_errf(...) srv_reply_errf(__VA_ARGS__)
#define reply_raw(...) srv_reply_raw(__VA_ARGS__)
#define to_client(...) srv_to_client(__VA_ARGS__)
#define reply_obj(...) srv_reply_obj(__VA_ARGS__)
#define reply_bool(...) srv_reply_bool(__VA_ARGS__)
#define reply_vec(...) srv_reply_vec(__VA_ARGS__)
#define me_id(...) srv_me_id(__VA_ARGS__)
#define user_obj(...) srv_user_obj(__VA_ARGS__)
#define user_empty(...) srv_user_empty(__VA_ARGS__)
#define peer_user(...) srv_peer_user(__VA_ARGS__)
#define doc_obj(...) srv_doc_obj(__VA_ARGS__)
#define msg_obj(...) srv_msg_obj(__VA_ARGS__)
#define auth_obj(...) srv_auth_obj(__VA_ARGS__)
#define notify_settings(...) srv_notify_settings(__VA_ARGS__)
#define visible_user(...) srv_visible_user(__VA_ARGS__)
#define input_user(...) srv_input_user(__VA_ARGS__)
#define input_peer(...) srv_input_peer(__VA_ARGS__)
#define push_begin(...) srv_push_begin(__VA_ARGS__)
#define push_end(...) srv_push_end(__VA_ARGS__)
#define trace_upd_fault(...) srv_trace_upd_fault(__VA_ARGS__)
#define add_user_once(...) srv_add_user_once(__VA_ARGS__)
#define check_upload(...) srv_check_upload(__VA_ARGS__)
#define send_channel(...) srv_send_channel(__VA_ARGS__)

/* small builders */
mtp_bytes_t cs(const char *s);                                   /* a C string as bytes */
bool vec_new(mtp_arena_t *a, mtp_vec_obj_t *v, size_t n);       /* room for n items */
void vec_push(mtp_vec_obj_t *v, void *o);                        /* NULL is skipped */
bool bytes_eq(mtp_bytes_t b, const char *s);

/* Replies: each request is answered once (later calls are ignored); r->delay defers it. */
void reply_err(srv_req_t *r, int32_t code, const char *msg);
void reply_errf(srv_req_t *r, int32_t code, const char *fmt, long long v);
void reply_raw(srv_req_t *r, const uint8_t *body, size_t len, const char *json, size_t jlen);
/* A layer-228 object in the client's layer (NULL if it has no equivalent). */
mtp_tl_object_t *to_client(srv_req_t *r, mtp_tl_object_t *o);
void reply_obj(srv_req_t *r, mtp_tl_object_t *o228);             /* NULL: 500 */
void reply_bool(srv_req_t *r, bool v);
void reply_vec(srv_req_t *r, const mtp_vec_obj_t *v);            /* a bare Vector<T> */

/* layer-228 objects, in r->arena */
int64_t me_id(srv_req_t *r);                                     /* 0: not logged in */
mtp_tl_object_t *user_obj(srv_req_t *r, const srv_user_t *u);
mtp_tl_object_t *user_empty(srv_req_t *r, int64_t id);
mtp_tl_object_t *peer_user(srv_req_t *r, int64_t id);
mtp_tl_object_t *doc_obj(srv_req_t *r, const srv_doc_t *d);
mtp_tl_object_t *msg_obj(srv_req_t *r, const srv_msg_t *m);
mtp_tl_object_t *auth_obj(srv_req_t *r, const srv_user_t *u);
mtp_tl_object_t *notify_settings(srv_req_t *r);
/* Add user id to v unless already in seen[0..*ns). */
void add_user_once(srv_req_t *r, mtp_vec_obj_t *v, int64_t *seen, size_t *ns, int64_t id);

/* input resolution: the user, or NULL (not answered) */
srv_user_t *visible_user(srv_req_t *r, int64_t id);
srv_user_t *input_user(srv_req_t *r, const mtp_tl_object_t *o);
srv_user_t *input_peer(srv_req_t *r, const mtp_tl_object_t *o);

/* pushes: a request-like context in the recipient's layer (push_begin), encoded and
 * released by push_end */
int push_begin(srv_req_t *r, srv_t *srv, int layer);
int push_end(srv_req_t *r, mtp_tl_object_t *o, mtp_buf_t *out);
void trace_upd_fault(srv_req_t *r, const char *what, int64_t user);

/* ------------------------------------------------------------------------------------ */
/* between areas                                                                        */
/* ------------------------------------------------------------------------------------ */

/* srv_files.c: an uploaded file, the upload if complete and consistent, else NULL
 * (answered). */
srv_upload_t *check_upload(srv_req_t *r, const mtp_tl_object_t *f, uint32_t *np,
                           mtp_bytes_t *name);
#define channel_obj(...) srv_channel_obj(__VA_ARGS__)
#define chan_msg_obj(...) srv_chan_msg_obj(__VA_ARGS__)
#define input_channel(...) srv_input_channel(__VA_ARGS__)
#define chan_updates(...) srv_chan_updates(__VA_ARGS__)
#define upd_channel(...) srv_upd_channel(__VA_ARGS__)
/* srv_chan.c: a channel / its message as layer-228 objects; the channel of an InputChannel
 * or InputPeerChannel (member: the caller must be a member, unless the channel is public),
 * else NULL (answered); updates{[u0, u1], users: [user], chats: [ch]}; updateChannel. */
mtp_tl_object_t *channel_obj(srv_req_t *r, const srv_channel_t *ch);
mtp_tl_object_t *chan_msg_obj(srv_req_t *r, const srv_msg_t *m, int64_t viewer);
srv_channel_t *input_channel(srv_req_t *r, const mtp_tl_object_t *o, bool member);
mtp_tl_object_t *chan_updates(srv_req_t *r, const srv_channel_t *ch, mtp_tl_object_t *u0,
                              mtp_tl_object_t *u1, int64_t user);
mtp_tl_object_t *upd_channel(srv_req_t *r, const srv_channel_t *ch);
/* srv_hist.c: media and reactions of a channel message; messages.getHistory of a channel;
 * a channel by username for contacts.resolveUsername (false: none, not answered). */
void srv_chan_msg_extras(srv_req_t *r, const srv_msg_t *m, mtp_message_t *o);
void srv_chan_history(srv_req_t *r, const mtp_messages_getHistory_t *q);
bool srv_chan_resolve(srv_req_t *r, mtp_bytes_t username);
extern const handler_t srv_methods_hist[];
/* srv_act.c: the fwd_from of a message (NULL: not forwarded); 0, or FLOOD_WAIT answered
 * when the caller pages faster than srv->page_rate (true: answered). */
mtp_tl_object_t *srv_fwd_header(srv_req_t *r, const srv_msg_t *m);
bool srv_page_flood(srv_req_t *r);
extern const handler_t srv_methods_act[];
extern const handler_t srv_methods_group[];
/* srv_hist.c: a stored or seeded user; srv_act.c: the reactions of a channel message. */
mtp_tl_object_t *srv_any_user_obj(srv_req_t *r, int64_t id);
void srv_act_reactions(srv_req_t *r, const srv_channel_t *ch, const srv_msg_t *m,
                       mtp_message_t *o);
int srv_act_seed_invite(srv_t *srv, int64_t chan, const char *hash, bool expired);

/* srv_chan.c: messages.sendMessage to an inputPeerChannel. */
void send_channel(srv_req_t *r, const mtp_messages_sendMessage_t *q);

#endif
