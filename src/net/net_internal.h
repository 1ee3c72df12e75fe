/* Internal to src/net/: what the stream and listener code needs from the loop. */
#ifndef MTP_NET_INTERNAL_H
#define MTP_NET_INTERNAL_H

#include <mtproto/net.h>

/* Work run by the loop at the end of an iteration (or of the next one if none is running).
 * Intrusive: embed it, set fn, queue it. Queued twice = queued once. */
typedef struct mtp_net_defer {
    struct mtp_net_defer *next;
    void (*fn)(struct mtp_net_defer *d);
    bool queued;
} mtp_net_defer_t;

void mtp_net_defer(mtp_loop_t *loop, mtp_net_defer_t *d);

/* True while the loop is dispatching (memory that callers up the stack may still hold must
 * then be released through mtp_net_defer()). */
bool mtp_net_loop_busy(const mtp_loop_t *loop);
/* True while mtp_loop_free() runs: nothing new may be attached. */
bool mtp_net_loop_freeing(const mtp_loop_t *loop);

/* Called by mtp_loop_free() for a watcher still registered: the owner must release itself
 * (and remove the watcher). Plain watchers have none and are just freed. */
void mtp_net_io_set_destroy(mtp_io_t *io, void (*destroy)(mtp_io_t *io, void *user));

/* A scratch buffer owned by the loop, for reads (valid until the next call). */
uint8_t *mtp_net_read_buf(mtp_loop_t *loop, size_t *size);

/* Socket helpers (sock.c). Return 0 or a negative MTP_E* code; *sys_errno gets errno. */
int mtp_net_set_nonblock_cloexec(int fd);
void mtp_net_tune_tcp(int fd, int sndbuf, int rcvbuf);

/* fd -> watcher, for mtp_loop_process(); NULL if not watched. */
mtp_io_t *mtp_net_io_by_fd(mtp_loop_t *loop, int fd);

#endif
