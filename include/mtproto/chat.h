/*
 * libmtproto — helpers for the chat actions whose raw calls are error-prone (synchronous;
 * the answers' users/chats go to the peer cache). PEER arguments are specs as in client.h
 * ("@name", "me", ids). Each returns 0 or a negative MTP_E* (MTP_ERPC: err->message).
 */
#ifndef MTPROTO_CHAT_H
#define MTPROTO_CHAT_H

#include <mtproto/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* messages.forwardMessages of n (1..100) message ids from one chat to another, a fresh
 * random_id each (so a retried call is not forwarded twice). */
int mtp_forward(mtp_client_t *c, const char *from, const int32_t *ids, size_t n,
                const char *to, mtp_call_error_t *err);

/* Join by a public name ("@name", "name", "t.me/name") through channels.joinChannel, or by
 * an invite link ("t.me/+HASH", "https://t.me/joinchat/HASH", "tg://join?invite=HASH",
 * "+HASH") through messages.checkChatInvite then importChatInvite. MTP_EEXIST when already
 * a member (USER_ALREADY_PARTICIPANT / chatInviteAlready). *out (optional): the chat. */
int mtp_join(mtp_client_t *c, const char *link, mtp_peer_t *out, mtp_call_error_t *err);
/* The invite hash of a link (or MTP_EINVAL: not an invite link); hash gets cap bytes. */
int mtp_invite_hash(const char *link, char *hash, size_t cap);

/* Leave a channel / supergroup (channels.leaveChannel) or basic group
 * (messages.deleteChatUser of oneself). */
int mtp_leave(mtp_client_t *c, const char *peer, mtp_call_error_t *err);

typedef enum mtp_chat_kind {
    MTP_CHAT_GROUP = 1,             /* messages.createChat (needs one user at least) */
    MTP_CHAT_SUPERGROUP,            /* channels.createChannel megagroup */
    MTP_CHAT_CHANNEL                /* channels.createChannel broadcast */
} mtp_chat_kind_t;
/* Create a chat titled title and invite users (PEER specs, may be 0 for channels). *out
 * (optional): the new chat. */
int mtp_create_chat(mtp_client_t *c, mtp_chat_kind_t kind, const char *title,
                    const char *const *users, size_t n_users, mtp_peer_t *out,
                    mtp_call_error_t *err);

/* folders.editPeerFolders: archived true moves the dialog to folder 1, false back to 0. */
int mtp_archive(mtp_client_t *c, const char *peer, bool archived, mtp_call_error_t *err);

/* users.getFullUser (a users.userFull in arena a). */
int mtp_profile(mtp_client_t *c, const char *user, mtp_arena_t *a, mtp_tl_object_t **out,
                mtp_call_error_t *err);

/* Mark read up to max_id (0: everything): channels.readHistory or messages.readHistory. */
int mtp_mark_read(mtp_client_t *c, const char *peer, int32_t max_id, mtp_call_error_t *err);

/* Delete n messages of a chat (channels.deleteMessages, or messages.deleteMessages with
 * revoke for both sides). *deleted (optional): how many the server deleted. */
int mtp_delete_messages(mtp_client_t *c, const char *peer, const int32_t *ids, size_t n,
                        bool revoke, int32_t *deleted, mtp_call_error_t *err);

/* messages.sendReaction: emoticon (UTF-8) on msg_id, NULL or "" removes one's reaction. */
int mtp_send_reaction(mtp_client_t *c, const char *peer, int32_t msg_id, const char *emoticon,
                      mtp_call_error_t *err);

#ifdef __cplusplus
}
#endif

#endif
