/*
 * libmtproto client — the updates message box: the pts / qts / seq rules of Telegram's
 * updates stream as a pure state machine (internal).
 *
 * No I/O, no clock, no client: bodies (pushes and call results of type Updates) and the
 * answers to the box's own requests go in, together with the current time (any monotonic
 * microsecond clock: the box only compares and adds); out come the updates to deliver (in
 * order, at most once: mtp_msgbox_pop), the requests to make (getState, getDifference,
 * getChannelDifference: mtp_msgbox_next_request) and the next deadline. The owner (the
 * client glue in updates.c, or a test) issues the requests, feeds their answers back and
 * hands the popped updates to the application.
 *
 * Rules (the common box: pts, qts, date, seq; every channel its own pts):
 *  - an update with pts/pts_count: local + count == pts applied (delivered, pts moves);
 *    local + count > pts already applied (skipped); otherwise a gap: the whole container
 *    is held (nothing of it delivered). A held body is tried again whenever the state
 *    moves; a gap still open after params.hold_us asks for getDifference (or, in a
 *    channel's box, getChannelDifference for that channel). seq of updates /
 *    updatesCombined (seq_start..seq) is checked the same way when non-zero.
 *  - updatesTooLong, mtp_msgbox_lost (new session, lost connection) and a full pending
 *    list ask for getDifference at once; differenceSlice / final=false are followed to
 *    the end (at most 1000 rounds, and only while the state moves); differenceTooLong
 *    adopts the pts and delivers an updatesTooLong object; getDifference rejected (400)
 *    falls back to getState; a channel whose difference is rejected (or cannot be asked
 *    for) is forgotten and tracked anew from its next update.
 *  - bodies that arrive while a difference runs are held and replayed when it ends.
 *  - a failed request is asked again after params.retry_us.
 *
 * Values a bad server can send (negative or huge pts_count, pts going backwards, pts or
 * seq at INT32_MAX, undecodable bodies) never overflow: the arithmetic is 64-bit, negative
 * counts are refused (skipped), bodies that do not decode are skipped, answers that do not
 * decode count as a failure (asked again).
 *
 * At most two requests are in flight: one of the common box (getState / getDifference)
 * and one getChannelDifference. Tested on its own in tests/test_msgbox.c (fake clock) and
 * fuzz/fuzz_msgbox.c.
 *
 * Not thread-safe; not re-entered by its own callbacks (the observe callback may not call
 * the box). Updates popped are valid until the next pop, reset or free.
 */
#ifndef MTP_CLIENT_MSGBOX_H
#define MTP_CLIENT_MSGBOX_H

#include <mtproto/common.h>
#include <mtproto/tl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mtp_msgbox mtp_msgbox_t;

typedef struct mtp_msgbox_params {
    mtp_usec_t hold_us;         /* a gap may stay open this long (0: default 500 ms) */
    mtp_usec_t retry_us;        /* a failed request is asked again after this (0: 2 s) */
    int32_t pts_limit;          /* getDifference pts_limit (0: none) and getChannelDifference
                                 * limit (0: 100) */
} mtp_msgbox_params_t;

#define MTP_MSGBOX_HOLD_US (500 * 1000)
#define MTP_MSGBOX_RETRY_US (2 * MTP_USEC_PER_SEC)
#define MTP_MSGBOX_MAX_PENDING 256      /* held bodies; more: the oldest goes, getDifference */
#define MTP_MSGBOX_MAX_SLICES 1000      /* rounds of one difference run */
#define MTP_MSGBOX_MAX_CHANNELS 4096    /* channels whose pts is tracked (more: unchecked) */
#define MTP_MSGBOX_CHAN_LIMIT 100       /* default getChannelDifference limit */
#define MTP_MSGBOX_SECTION 20u          /* the common state in the session store */

/* Every decoded body and answer, before the rules run (the client feeds its peer cache). */
typedef void (*mtp_msgbox_observe_fn)(void *user, const mtp_tl_object_t *obj);

mtp_msgbox_t *mtp_msgbox_new(const mtp_msgbox_params_t *p);     /* NULL p: defaults */
void mtp_msgbox_free(mtp_msgbox_t *b);
/* New timings / limits; the deadlines already set keep their time. */
void mtp_msgbox_set_params(mtp_msgbox_t *b, const mtp_msgbox_params_t *p);
void mtp_msgbox_observe(mtp_msgbox_t *b, mtp_msgbox_observe_fn fn, void *user);
/* The logged-in user: from_id of the updateShortMessage we sent (out). */
void mtp_msgbox_set_self(mtp_msgbox_t *b, int64_t user_id);
/* Forget everything (another account): state, channels, held bodies, queued updates
 * (the one popped last stays valid until the next pop), the request in flight (its answer
 * will be ignored). Not started afterwards. */
void mtp_msgbox_reset(mtp_msgbox_t *b);

/* ---- the stream ---- */

/* Start: getDifference from the state (getState if none) is due at once. stop: nothing is
 * tracked or asked for (the state stays). */
void mtp_msgbox_start(mtp_msgbox_t *b, mtp_usec_t now);
void mtp_msgbox_stop(mtp_msgbox_t *b);

enum {
    MTP_MSGBOX_IGNORED = 0,     /* not started, no state, or not an Updates body */
    MTP_MSGBOX_APPLIED,         /* delivered (or nothing new in it but state) */
    MTP_MSGBOX_SKIPPED,         /* already applied */
    MTP_MSGBOX_HELD,            /* gap, or a difference runs: kept for later */
};
/* A pushed body or the result of a call (boxed Updates); the return says what became of
 * it. */
int mtp_msgbox_push(mtp_msgbox_t *b, mtp_usec_t now, const uint8_t *body, size_t len);
/* Pushes may have been lost (new_session_created, the connection dropped): getDifference. */
void mtp_msgbox_lost(mtp_msgbox_t *b, mtp_usec_t now);
/* Is body (boxed) of type Updates? */
bool mtp_msgbox_is_updates(const uint8_t *body, size_t len);

/* ---- requests ---- */

enum {
    MTP_MSGBOX_REQ_STATE = 1,   /* updates.getState */
    MTP_MSGBOX_REQ_DIFF,        /* updates.getDifference{pts, date, qts, pts_limit?} */
    MTP_MSGBOX_REQ_CHANNEL,     /* updates.getChannelDifference{channel, pts, limit} */
};
typedef struct mtp_msgbox_req {
    int kind;
    uint32_t token;             /* hand it back with the outcome (never 0) */
    int32_t pts, qts, date;     /* DIFF: the fields; CHANNEL: pts */
    int32_t limit;              /* DIFF: pts_limit (0: omit it); CHANNEL: limit */
    int64_t channel;            /* CHANNEL: the channel id */
} mtp_msgbox_req_t;

/* The next request due at `now`, marked running: true and *req filled, or false. Call it
 * until false after every push, outcome and deadline. */
bool mtp_msgbox_next_request(mtp_msgbox_t *b, mtp_usec_t now, mtp_msgbox_req_t *req);
/* The answer (boxed) to the request `token`. 0, MTP_EPROTO (undecodable: asked again
 * after retry_us) or 1 (stale: not a request in flight, ignored). */
int mtp_msgbox_result(mtp_msgbox_t *b, mtp_usec_t now, uint32_t token, const uint8_t *res,
                      size_t len);
enum {
    MTP_MSGBOX_FAIL_RETRY = 1,  /* transient error (timeout, 5xx, flood, connection) */
    MTP_MSGBOX_FAIL_NOT_SENT,   /* could not be issued: asked again after retry_us */
    MTP_MSGBOX_FAIL_REJECTED,   /* 400: DIFF -> getState; CHANNEL -> the channel forgotten */
    MTP_MSGBOX_FAIL_UNAVAILABLE,/* CHANNEL cannot be asked for (no access hash): forgotten */
    MTP_MSGBOX_FAIL_CLOSED,     /* the client is closing: nothing more */
};
/* The request `token` failed (how: MTP_MSGBOX_FAIL_*); stale tokens are ignored. */
void mtp_msgbox_failed(mtp_msgbox_t *b, mtp_usec_t now, uint32_t token, int how);
/* When next_request has something (MTP_TIME_NEVER: nothing until more input). */
mtp_usec_t mtp_msgbox_deadline(const mtp_msgbox_t *b);
/* getState or getDifference in flight (the chain of slices counts as one). */
bool mtp_msgbox_diff_running(const mtp_msgbox_t *b);
/* Nothing held, nothing in flight, nothing due, nothing queued: without more input the box
 * will deliver nothing. */
bool mtp_msgbox_idle(const mtp_msgbox_t *b);

/* ---- delivery ---- */

typedef struct mtp_msgbox_update {
    const mtp_tl_object_t *update;
    const mtp_vec_obj_t *users, *chats;     /* never NULL (empty vectors) */
} mtp_msgbox_update_t;
/* The next update to deliver, in order; valid until the next pop, reset or free. */
bool mtp_msgbox_pop(mtp_msgbox_t *b, mtp_msgbox_update_t *out);

/* ---- state ---- */

typedef struct mtp_msgbox_info {
    bool started, have_state;
    int32_t pts, qts, date, seq;
    uint64_t delivered, duplicates, gaps, differences, held, held_total;
    uint64_t channels, channels_seen, channel_differences;
} mtp_msgbox_info_t;
void mtp_msgbox_info(const mtp_msgbox_t *b, mtp_msgbox_info_t *out);
/* A channel's pts; 0 if it is not tracked. */
int32_t mtp_msgbox_channel_pts(const mtp_msgbox_t *b, int64_t channel_id);
/* The state changed since mtp_msgbox_clean. */
bool mtp_msgbox_dirty(const mtp_msgbox_t *b);
void mtp_msgbox_clean(mtp_msgbox_t *b);

/* Session store section, little endian: per tracked channel its id (8 bytes) and pts (4),
 * their count (4) (version >= 4 only); then have_state, pts, qts, date, seq (20 bytes).
 * section_size: of the section that ends at p + n, in a store of that version: 0 none
 * (version < 3), (size_t)-1 malformed. parse: a section of that size (resets first). */
void mtp_msgbox_serialize(const mtp_msgbox_t *b, mtp_buf_t *out);
size_t mtp_msgbox_section_size(const uint8_t *p, size_t n, uint32_t ver);
void mtp_msgbox_parse(mtp_msgbox_t *b, const uint8_t *p, size_t len);

#endif
