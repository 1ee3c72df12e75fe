/* libmtproto client — internal declarations. */
#ifndef MTP_CLIENT_INT_H
#define MTP_CLIENT_INT_H

#include <mtproto/client.h>

extern const char mtp_client_pem_production[];
extern const char mtp_client_pem_test[];

/* ---- peer cache (peers.c); the client owns one ---- */
typedef struct mtp_peers mtp_peers_t;

/* max: entries kept (0 = default 100000, < 0 = disabled: nothing is recorded). */
mtp_peers_t *mtp_peers__new(int max);
void mtp_peers__free(mtp_peers_t *p);
void mtp_peers__clear(mtp_peers_t *p);
/* Walk a decoded object; returns the entries added or changed. */
int mtp_peers__feed(mtp_peers_t *p, const mtp_tl_object_t *obj);
/* A raw answer to the serialized query q: decoded by the query's result type, then fed. */
void mtp_peers__feed_raw(mtp_peers_t *p, const uint8_t *q, size_t qlen, const uint8_t *res,
                         size_t len);
/* Session store section (appended / parsed by client.c; see peers.c for the layout). */
void mtp_peers__serialize(const mtp_peers_t *p, mtp_buf_t *b);
/* Parse a section into a new cache sized like `like` (*out; NULL-safe to free). */
int mtp_peers__parse(const mtp_peers_t *like, const uint8_t *d, size_t n, mtp_peers_t **out);
/* Unsaved changes, and whether to save them now (at most once a second). */
bool mtp_peers__dirty(const mtp_peers_t *p);
bool mtp_peers__want_save(const mtp_peers_t *p, mtp_usec_t now);
void mtp_peers__saved(mtp_peers_t *p, mtp_usec_t now);

/* ---- updates state (updates.c, over the message box of msgbox.h); the client owns one ---- */
typedef struct mtp_upd mtp_upd_t;

mtp_upd_t *mtp_upd__new(void);
void mtp_upd__free(mtp_upd_t *u);
/* Forget the state (another account); the callback stays. */
void mtp_upd__reset(mtp_upd_t *u);
/* Is body (boxed) of type Updates? */
bool mtp_upd__is_updates(const uint8_t *body, size_t len);
/* A pushed body (pushed) or the result of a call; ignored unless it is Updates. */
void mtp_upd__feed(mtp_client_t *c, const uint8_t *body, size_t len, bool pushed);
/* new_session_created: updates may have been lost. */
void mtp_upd__new_session(mtp_client_t *c);
/* The main connection to the home DC failed: pushes sent meanwhile are lost. */
void mtp_upd__conn_lost(mtp_client_t *c);
/* Timers (hold expiry, getDifference retries, periodic save) and their next deadline. */
void mtp_upd__tick(mtp_client_t *c);
mtp_usec_t mtp_upd__deadline(mtp_client_t *c);
/* Session store section, at the end of the file (before its CRC): version 3 the common
 * state (MTP_UPD_SECTION bytes), version 4 the channels' pts before it. section_size: of
 * the section ending at p + n, for that file version; 0 none (version < 3), (size_t)-1
 * malformed. */
#define MTP_UPD_SECTION 20u
void mtp_upd__serialize(const mtp_upd_t *u, mtp_buf_t *b);
size_t mtp_upd__section_size(const uint8_t *p, size_t n, uint32_t ver);
void mtp_upd__parse(mtp_upd_t *u, const uint8_t *p, size_t len);
bool mtp_upd__dirty(const mtp_upd_t *u);
void mtp_upd__saved(mtp_upd_t *u, mtp_usec_t now);

/* client.c */
mtp_peers_t *mtp_client__peers(mtp_client_t *c);
/* op.c: the client's running operations; ended with MTP_ECLOSED by mtp_client_free */
mtp_op_t **mtp_client__ops(mtp_client_t *c);
void mtp_ops__client_closing(mtp_client_t *c);
/* End the calls made with callback cb whose user pointer satisfies match(user, ctx): the
 * ones not sent yet at once, the sent ones through mtp_session_cancel (rpc_drop_answer);
 * each callback then runs once with MTP_ECANCELED (an operation abandoning its calls). */
void mtp_client__cancel_calls(mtp_client_t *c, mtp_call_cb cb,
                              bool (*match)(void *user, void *ctx), void *ctx);
mtp_upd_t *mtp_client__upd(mtp_client_t *c);
/* The clock of the client's timers: the domain of the deadlines it compares. */
mtp_usec_t mtp_client__now(const mtp_client_t *c);
/* Test hook: drop the next n pushed bodies (a lost push). */
void mtp_client__updates_drop_pushes(mtp_client_t *c, int n);
/* Test hook: ask getDifference for at most n pts per answer (differenceSlice) and
 * getChannelDifference for at most n messages (final=false). */
void mtp_client__updates_pts_limit(mtp_client_t *c, int n);
/* Test hook: how long a gap is held before a difference, and how soon a failed one is
 * asked again (0: the defaults, 500 ms and 2 s). */
void mtp_client__updates_timing(mtp_client_t *c, mtp_usec_t hold_us, mtp_usec_t retry_us);
/* Test hook: the updates box will deliver nothing more without new input (nothing held,
 * in flight or due). */
bool mtp_client__updates_idle(mtp_client_t *c);
/* Test hook: handle body as if the server had pushed it. */
void mtp_client__updates_inject(mtp_client_t *c, const uint8_t *body, size_t len);

/* mtp_call_ex flag of the client's own calls whose results are fed (or need not be) by
 * their callbacks: mtp_client__deliver leaves them alone. */
#define MTP_CALL__FED 0x40000000u

#endif
