/*
 * libmtproto client — the updates message box, internals shared by msgbox.c (the rules on
 * incoming bodies, holding, replay, the delivery queue, the stored state) and
 * msgbox_diff.c (requests, their answers and failures).
 */
#ifndef MTP_CLIENT_MSGBOX_INT_H
#define MTP_CLIENT_MSGBOX_INT_H

#include "msgbox.h"

enum { APPLY = 0, SKIP = 1, GAP = 2 };

typedef struct pend {
    uint8_t *body;
    size_t len;
    int rounds;                         /* difference runs it survived */
    int64_t chan;                       /* the gap is in this channel's box (0: common) */
} pend_t;

/* A channel's own message box. */
typedef struct chan {
    int64_t id;
    int32_t pts;
    mtp_usec_t diff_at;                 /* ask getChannelDifference at (NEVER: no) */
    mtp_usec_t hold_at;                 /* ... because of a held gap (closing it cancels) */
} chan_t;

/* Updates to deliver and the arena they live in. */
typedef struct item {
    const mtp_tl_object_t *o;
    const mtp_vec_obj_t *users, *chats;
} item_t;

typedef struct batch {
    struct batch *next;
    mtp_arena_t *a;
    item_t *v;
    uint32_t n, cap, pos;
} batch_t;

struct mtp_msgbox {
    mtp_msgbox_params_t prm;
    mtp_msgbox_observe_fn observe;
    void *observe_user;
    int64_t self_id;
    bool started, have_state, want_state, dirty;
    int32_t pts, qts, date, seq;
    bool diff_running;                  /* getState / getDifference in flight */
    int diff_kind;                      /* which of them */
    uint32_t diff_token;
    int slices;
    mtp_usec_t diff_at;                 /* ask getDifference at (NEVER: no) */
    mtp_usec_t hold_at;                 /* ... because of a held gap (closing it cancels) */
    pend_t pend[MTP_MSGBOX_MAX_PENDING];
    int npend;
    chan_t *chans;                      /* sorted by id */
    int nchans, capchans;
    int64_t cdiff_id;                   /* getChannelDifference in flight for it (0: none) */
    uint32_t cdiff_token;
    int cslices;
    int64_t gap_chan;                   /* process(): where the last GAP was (0: common) */
    uint32_t tokens;
    batch_t *qhead, *qtail, *cur;       /* delivery queue; cur: being popped */
    mtp_msgbox_info_t st;
};

typedef struct out {
    mtp_msgbox_t *b;
    mtp_arena_t *a;                     /* of the body or answer being handled */
    batch_t *q;                         /* its batch, made at the first update */
} out_t;

/* t + d without overflow (d >= 0) */
static inline mtp_usec_t later(mtp_usec_t t, mtp_usec_t d)
{
    return t > MTP_TIME_NEVER - d ? MTP_TIME_NEVER : t + d;
}

static inline int chan_pos(const mtp_msgbox_t *b, int64_t id, bool *found)
{
    int lo = 0, hi = b->nchans;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (b->chans[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < b->nchans && b->chans[lo].id == id;
    return lo;
}

static inline chan_t *chan_find(const mtp_msgbox_t *b, int64_t id)
{
    bool found;
    int i = chan_pos(b, id, &found);
    return found ? &b->chans[i] : NULL;
}

static inline void touch(mtp_msgbox_t *b)
{
    b->dirty = true;
}

static inline void want_diff(mtp_msgbox_t *b, mtp_usec_t at)
{
    if (at < b->diff_at)
        b->diff_at = at;
}

static inline void chan_want(mtp_msgbox_t *b, int64_t id, mtp_usec_t at)
{
    chan_t *ch = chan_find(b, id);
    if (ch && at < ch->diff_at)
        ch->diff_at = at;
}


/* msgbox.c */
/* Queue o (with users / chats, NULL: none) for delivery with x's arena. */
void mtp_msgbox__deliver(out_t *x, const mtp_tl_object_t *o, const mtp_vec_obj_t *users,
                         const mtp_vec_obj_t *chats);
/* x is done: its updates (if any) join the queue, with the arena; else the arena goes. */
void mtp_msgbox__out_end(out_t *x);
void mtp_msgbox__pend_clear(mtp_msgbox_t *b);
void mtp_msgbox__chan_forget(mtp_msgbox_t *b, int64_t id);
/* updateChannelTooLong of a tracked channel: its difference asked at once; true if so. */
bool mtp_msgbox__chan_too_long(mtp_msgbox_t *b, const mtp_tl_object_t *o);
/* A channel update against its box: APPLY (a channel seen first is tracked from here),
 * SKIP or GAP. */
int mtp_msgbox__chan_apply(mtp_msgbox_t *b, int64_t id, int32_t pts, int32_t cnt);
/* The channel, pts and pts_count of a channel update: true if it has them. */
bool mtp_msgbox__chan_update_pts(const mtp_tl_object_t *o, int64_t *chan, int32_t *pts,
                                 int32_t *count);
/* Try the held bodies again; final: a difference of box `chan` (0: common) ended. */
void mtp_msgbox__replay(mtp_msgbox_t *b, mtp_usec_t now, bool final, int64_t chan);

#endif
