/*
 * libmtproto — iterators: the pages of a list method, fetched by Telegram's paging rules,
 * yielded one decoded object at a time. Included by nothing else: #include <mtproto/iter.h>.
 *
 *   MTP_ITER_HISTORY       messages.getHistory of a peer: Message objects, newest first
 *                          (reverse: oldest first), between min_id/max_id, from a date
 *                          (since: newer than or at it), limit or to the end
 *   MTP_ITER_SEARCH        messages.search in a peer (query, filter, from): Message objects
 *   MTP_ITER_PARTICIPANTS  channels.getParticipants of a supergroup / channel (or, for a
 *                          basic group "-N", messages.getFullChat in one page): User objects
 *                          in the server's order (mtp_iter_participant() gives the
 *                          Channel/ChatParticipant of the last one)
 *   MTP_ITER_DIALOGS       messages.getDialogs: Dialog objects (folder: 1 = archived)
 *   MTP_ITER_GLOBAL        messages.searchGlobal (query, filter; next_rate / offset_peer /
 *                          offset_id): Message objects of every chat, newest first
 *   MTP_ITER_CONTACTS      contacts.getContacts: User objects
 *   MTP_ITER_REACTIONS     messages.getMessageReactionsList of peer's message msg_id
 *                          (next_offset): MessagePeerReaction objects (query: one emoji)
 *
 * Paging: pages of at most 100 messages / 200 participants; messages by offset_id (oldest
 * first with add_offset = -page), participants by offset. A page shorter than asked is not
 * the end (only an empty page, a complete messages.messages / messages.dialogs answer, a
 * …NotModified answer or the server's count reached is). Messages are yielded once even
 * when new ones arrive while paging (ids strictly decrease, or increase in reverse);
 * participants once by user id. The users/chats of every page go to the peer cache.
 *
 * FLOOD_WAIT_X (after the client's own retries: mtp_client_config_t.flood_threshold)
 * applies to the iterator only: with X <= max_flood_wait the sync calls wait X seconds and
 * ask for the same page again; the async fetch reports MTP_EFLOOD (err->number = X) and
 * the caller fetches again after X seconds. Other calls of the client go on meanwhile.
 *
 * Objects yielded stay valid until the next page is fetched (copy what you keep).
 * A position (mtp_iter_position) saved after any item resumes the iteration right after
 * that item with params.resume.
 */
#ifndef MTPROTO_ITER_H
#define MTPROTO_ITER_H

#include <mtproto/client.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mtp_iter mtp_iter_t;

typedef enum mtp_iter_kind {
    MTP_ITER_HISTORY = 1,
    MTP_ITER_SEARCH,
    MTP_ITER_PARTICIPANTS,
    MTP_ITER_DIALOGS,
    MTP_ITER_GLOBAL,
    MTP_ITER_CONTACTS,
    MTP_ITER_REACTIONS
} mtp_iter_kind_t;

/* messages.search filters */
typedef enum mtp_iter_msg_filter {
    MTP_ITER_MSG_ANY = 0,
    MTP_ITER_MSG_DOCUMENT,
    MTP_ITER_MSG_PHOTO_VIDEO,
    MTP_ITER_MSG_URL
} mtp_iter_msg_filter_t;

/* channels.getParticipants filters */
typedef enum mtp_iter_member_filter {
    MTP_ITER_MEMBERS_RECENT = 0,
    MTP_ITER_MEMBERS_ADMINS,
    MTP_ITER_MEMBERS_BOTS,
    MTP_ITER_MEMBERS_BANNED,
    MTP_ITER_MEMBERS_KICKED,
    MTP_ITER_MEMBERS_SEARCH         /* with query */
} mtp_iter_member_filter_t;

#define MTP_ITER_PARAMS_VERSION 1u
typedef struct mtp_iter_params {
    unsigned version;
    mtp_iter_kind_t kind;
    const char *peer;               /* PEER spec (client.h); resolved by mtp_iter_new */
    bool reverse;                   /* history: oldest first */
    int32_t min_id, max_id;         /* exclusive bounds, 0 = none */
    int32_t since;                  /* unix time: only messages at or after it (0 none) */
    int64_t limit;                  /* most items yielded (0 = to the end) */
    const char *query;              /* search text / participants search (copied) */
    int filter;                     /* mtp_iter_msg_filter_t or mtp_iter_member_filter_t */
    const char *from;               /* search: messages of this PEER only (NULL any) */
    int page_size;                  /* 0 = the cap (100 messages, 200 participants) */
    int max_flood_wait;             /* seconds (default 300); longer: MTP_EFLOOD */
    const char *resume;             /* a saved mtp_iter_position, or NULL */
    int32_t msg_id;                 /* reactions: the message */
    int folder;                     /* dialogs: 0 main list, 1 archived */
} mtp_iter_params_t;
int mtp_iter_params_init_versioned(unsigned version, mtp_iter_params_t *p);
#define mtp_iter_params_init(p) mtp_iter_params_init_versioned(MTP_ITER_PARAMS_VERSION, (p))

/* Make an iterator (resolving the peer may call the server: synchronous). 0, MTP_EINVAL,
 * MTP_EVERSION, MTP_ENOMEM, or the peer's resolution error (details in *err). */
int mtp_iter_new(mtp_client_t *c, const mtp_iter_params_t *p, mtp_iter_t **out,
                 mtp_call_error_t *err);
void mtp_iter_free(mtp_iter_t *it);

/* Sync: the next item in *out: 1, 0 at the end, or a negative error (details in *err;
 * the iterator can be asked again: the failed page is fetched again). */
int mtp_iter_next(mtp_iter_t *it, const mtp_tl_object_t **out, mtp_call_error_t *err);

/* Async: take a buffered item (1), 0 at the end, MTP_EAGAIN when the next page must be
 * fetched first with mtp_iter_fetch, whose cb runs on the client's loop once the page is
 * buffered (err->err 0), or with the error (MTP_EFLOOD: fetch again after err->number s).
 * MTP_ESTATE while a fetch runs. */
typedef void (*mtp_iter_cb)(mtp_iter_t *it, void *user, const mtp_call_error_t *err);
int mtp_iter_take(mtp_iter_t *it, const mtp_tl_object_t **out);
int mtp_iter_fetch(mtp_iter_t *it, mtp_iter_cb cb, void *user);

/* The server's count of the whole list (messagesSlice.count ...), -1 not known yet. */
int64_t mtp_iter_total(const mtp_iter_t *it);
/* Items yielded so far (a resumed iterator counts from its saved position). */
int64_t mtp_iter_count(const mtp_iter_t *it);
/* Pages fetched, FLOOD_WAITs waited out by the iterator. */
void mtp_iter_stats(const mtp_iter_t *it, int64_t *pages, int64_t *flood_waits);
/* The ChannelParticipant of the last user yielded by a participants iterator (else NULL). */
const mtp_tl_object_t *mtp_iter_participant(const mtp_iter_t *it);
/* The position after the last item yielded, as a short text for params.resume. 0 or
 * MTP_ERANGE (cap too small; 48 bytes are enough). */
int mtp_iter_position(const mtp_iter_t *it, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
