/*
 * libmtproto — the I/O layer: event loop, timers, non-blocking TCP, buffered streams, backoff.
 *
 * Nothing here knows about MTProto. The sans-IO core (mtproto/proto.h) is driven by the
 * client and the harness; this layer moves their bytes and wakes them at their deadlines.
 *
 * Threads: a loop and every object attached to it belong to one thread. The only calls that
 * are safe from another thread or from a signal handler are mtp_loop_wakeup() and
 * mtp_loop_stop().
 *
 * Clocks — two of them, on purpose:
 *   mtp_now_usec()   CLOCK_REALTIME, microseconds since the Unix epoch. This is *protocol time*:
 *                    what the sans-IO core is given for msg_ids and what its deadlines are
 *                    expressed in. It may jump (NTP, the user changing the clock).
 *   mtp_mono_usec()  CLOCK_MONOTONIC, microseconds since an arbitrary point. Every timer of the
 *                    loop is stored on this clock, so wall-clock jumps never make a timer fire
 *                    early or hang. A wall-clock deadline handed to mtp_timer_start_wall() is
 *                    converted once, when the timer is armed (deadline - now_wall + now_mono).
 *
 * Ownership and callbacks: handles (mtp_io_t, mtp_timer_t, mtp_stream_t, mtp_listener_t) may
 * be removed, freed or closed from inside any callback of the same loop, including their own;
 * memory is released only once nothing on the loop's stack can still refer to it.
 * The loop is not re-entrant: mtp_loop_run*() / mtp_loop_process() from inside a callback of
 * the same loop fail with MTP_ESTATE.
 *
 * SIGPIPE: every socket send uses MSG_NOSIGNAL, so no signal disposition needs changing.
 */
#ifndef MTPROTO_NET_H
#define MTPROTO_NET_H

#include <mtproto/common.h>

#include <poll.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Clocks                                                                                      */
/* ------------------------------------------------------------------------------------------ */

mtp_usec_t mtp_now_usec(void);      /* CLOCK_REALTIME: protocol / wall time */
mtp_usec_t mtp_mono_usec(void);     /* CLOCK_MONOTONIC: timer time */

/* ------------------------------------------------------------------------------------------ */
/* Loop                                                                                        */
/* ------------------------------------------------------------------------------------------ */

typedef struct mtp_loop mtp_loop_t;
typedef struct mtp_io mtp_io_t;
typedef struct mtp_timer mtp_timer_t;

/* mtp_loop_new() flags. */
enum {
    /* Use the poll() backend even where epoll is available. Builds without epoll (not Linux, or
     * compiled with -DMTP_NET_NO_EPOLL) always use poll(). */
    MTP_LOOP_POLL = 1u << 0
};

mtp_loop_t *mtp_loop_new(unsigned flags);       /* NULL on failure */
/*
 * Frees the loop and everything still attached to it: open streams are closed with
 * on_close(MTP_ECANCELED) (called from here), listeners closed, io watchers and timers freed
 * (the fds of plain io watchers belong to the caller and are not closed). Every handle of the
 * loop is invalid afterwards. Not from inside a callback.
 */
void mtp_loop_free(mtp_loop_t *loop);
/* "epoll" or "poll". */
const char *mtp_loop_backend(const mtp_loop_t *loop);

/*
 * One iteration: wait for I/O up to max_wait_usec (< 0: no limit but the next timer; 0: do not
 * block), dispatch ready fds, fire expired timers, deliver deferred work (stream on_close).
 * Returns the number of callbacks dispatched (>= 0) or a negative MTP_E* code.
 */
int mtp_loop_run_once(mtp_loop_t *loop, mtp_usec_t max_wait_usec);
/*
 * Iterates until mtp_loop_stop() or until there is nothing left that could ever produce an
 * event (no fd with interest, no armed timer, no pending work, no wakeup callback).
 * Returns 0, or a negative MTP_E* code if an iteration failed.
 */
int mtp_loop_run(mtp_loop_t *loop);
/* Make mtp_loop_run() return after its current iteration (if it is not running, the next
 * mtp_loop_run() returns at once). Async-signal-safe, thread-safe. */
void mtp_loop_stop(mtp_loop_t *loop);
/*
 * Interrupt a blocking wait (eventfd, or a self-pipe without eventfd). Async-signal-safe and
 * thread-safe; coalesced (many wakeups before the loop runs make one). If a wakeup callback is
 * set, the loop thread calls it once per coalesced wakeup — the place to drain a queue filled
 * by other threads.
 */
void mtp_loop_wakeup(mtp_loop_t *loop);
void mtp_loop_set_wakeup_cb(mtp_loop_t *loop, void (*cb)(mtp_loop_t *loop, void *user), void *user);

/* ---- fd watchers ---- */

enum {
    MTP_IO_READ = 1u << 0,      /* interest / readiness: readable (or peer closed) */
    MTP_IO_WRITE = 1u << 1,     /* interest / readiness: writable */
    MTP_IO_ERROR = 1u << 2      /* readiness only: error or hang-up (POLLERR / POLLHUP / POLLNVAL) */
};

typedef void (*mtp_io_cb)(mtp_io_t *io, int fd, unsigned events, void *user);

/*
 * Watch fd (which the caller keeps owning; make it non-blocking). One watcher per fd.
 * An fd with interest 0 stays registered but produces no callbacks at all (not even for
 * errors) until interest is set again. Remove the watcher before closing the fd.
 */
int mtp_io_add(mtp_loop_t *loop, int fd, unsigned interest, mtp_io_cb cb, void *user,
               mtp_io_t **out);
int mtp_io_modify(mtp_io_t *io, unsigned interest);
unsigned mtp_io_interest(const mtp_io_t *io);
int mtp_io_fd(const mtp_io_t *io);
/* Unregister and free (deferred while callbacks run; no callback is made after this call). */
void mtp_io_remove(mtp_io_t *io);

/* ---- timers (binary heap on the monotonic clock; O(log n) arm / cancel) ---- */

typedef void (*mtp_timer_cb)(mtp_timer_t *t, void *user);

mtp_timer_t *mtp_timer_new(mtp_loop_t *loop, mtp_timer_cb cb, void *user);
/* Cancels and frees. Safe inside the timer's own callback. NULL is ignored. */
void mtp_timer_free(mtp_timer_t *t);
/* (Re)arm `delay_usec` from now (negative = 0). */
int mtp_timer_start(mtp_timer_t *t, mtp_usec_t delay_usec);
/* (Re)arm at an absolute CLOCK_MONOTONIC time (mtp_mono_usec() domain). */
int mtp_timer_start_mono(mtp_timer_t *t, mtp_usec_t mono_deadline);
/* (Re)arm at an absolute wall-clock time (mtp_now_usec() domain, e.g. a deadline returned by
 * the sans-IO core); converted to the monotonic clock now. MTP_TIME_NEVER = cancel. */
int mtp_timer_start_wall(mtp_timer_t *t, mtp_usec_t wall_deadline);
void mtp_timer_stop(mtp_timer_t *t);
bool mtp_timer_active(const mtp_timer_t *t);
/* Monotonic deadline, or MTP_TIME_NEVER when not armed. */
mtp_usec_t mtp_timer_deadline(const mtp_timer_t *t);
void mtp_timer_set_user(mtp_timer_t *t, void *user);
void *mtp_timer_user(const mtp_timer_t *t);
/* Timers that expire in the same iteration fire in (deadline, arming order) order. A timer
 * armed from inside a timer callback never fires in the same pass, even with delay 0. */

/* ---- driving the loop from another event loop (libcurl-multi / c-ares style) ---- */
/*
 * Each time round the application's loop:
 *     n  = mtp_loop_fds(loop, pfds, cap);         (grow pfds and call again if n > cap)
 *     ms = mtp_loop_timeout_ms(loop);              (-1 = no deadline)
 *     poll(pfds, n, min(ms, app_timeout));         (or the app's own multiplexer)
 *     mtp_loop_process(loop, pfds, n);             (also when poll() timed out)
 * The set of fds and their events changes after any callback, so ask again every time.
 * The wakeup fd is part of the set, so mtp_loop_wakeup() interrupts the application's poll().
 * Alternative on Linux: mtp_loop_backend_fd() is one fd that is readable when anything is
 * ready; poll it and call mtp_loop_run_once(loop, 0).
 */
/* Fill up to `max` entries (events = POLLIN/POLLOUT, revents = 0); returns how many are needed. */
size_t mtp_loop_fds(const mtp_loop_t *loop, struct pollfd *out, size_t max);
/* Microseconds until something needs processing: 0 = now, -1 = nothing scheduled. */
mtp_usec_t mtp_loop_timeout_usec(const mtp_loop_t *loop);
/* The same rounded *up* to milliseconds (so poll() never wakes before the deadline and spins);
 * -1 = nothing scheduled. */
int mtp_loop_timeout_ms(const mtp_loop_t *loop);
/* Dispatch the revents of `fds` (entries for fds the loop does not watch, or whose revents are
 * 0, are ignored), then expired timers and deferred work. Returns callbacks dispatched or < 0. */
int mtp_loop_process(mtp_loop_t *loop, const struct pollfd *fds, size_t n);
/* epoll fd of the loop, or -1 with the poll backend. */
int mtp_loop_backend_fd(const mtp_loop_t *loop);

/* ------------------------------------------------------------------------------------------ */
/* Addresses and sockets                                                                       */
/* ------------------------------------------------------------------------------------------ */

/*
 * Name resolution uses getaddrinfo() and BLOCKS the calling thread while a name (not a
 * literal) is looked up (mtp_resolve_start below does it without blocking the loop).
 * IPv4 and IPv6 literals ("127.0.0.1", "::1", "[::1]") never block.
 * Resolve up to `max` addresses of host:port into `out`; returns the count or MTP_ENOTFOUND.
 */
int mtp_net_resolve(const char *host, uint16_t port, bool passive,
                    struct sockaddr_storage *out, socklen_t *lens, int max);
/* A literal IPv4 / IPv6 address ("1.2.3.4", "::1", "[::1]") into *out; never blocks, never
 * looks a name up. 0, or MTP_EINVAL when host is not a literal. */
int mtp_net_parse_literal(const char *host, uint16_t port, struct sockaddr_storage *out,
                          socklen_t *len);

/*
 * Asynchronous lookup of a host name: the loop's thread never blocks. The lookup runs on a
 * short-lived thread of its own and its answer is delivered by the loop (cb on the loop's
 * thread, exactly once unless cancelled): err < 0 (MTP_ENOTFOUND ...) or the n >= 1
 * addresses (valid during the call). mtp_resolve_cancel() (not from another thread) makes
 * sure cb is not called; the request is freed by the loop once the thread has finished.
 * The handle is invalid after cb or cancel.
 */
typedef struct mtp_resolve mtp_resolve_t;
typedef void (*mtp_resolve_cb)(mtp_resolve_t *r, int err, const struct sockaddr_storage *addrs,
                               const socklen_t *lens, int n, void *user);
int mtp_resolve_start(mtp_loop_t *loop, const char *host, uint16_t port, mtp_resolve_cb cb,
                      void *user, mtp_resolve_t **out);
void mtp_resolve_cancel(mtp_resolve_t *r);

/* "1.2.3.4:443" or "[::1]:443" into buf (always NUL-terminated); returns buf. */
char *mtp_net_addr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);
enum { MTP_NET_ADDRSTRLEN = 64 };

/* ------------------------------------------------------------------------------------------ */
/* Buffered stream connection                                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef struct mtp_stream mtp_stream_t;

/*
 * on_close err values:
 *   0              closed by mtp_stream_close(), or both directions finished in order
 *                  (mtp_stream_end() and the peer's EOF)
 *   MTP_ECLOSED    the peer closed its side and no on_eof callback was set
 *   MTP_EIO        socket error: connect failed, reset, … (mtp_stream_errno() has the errno)
 *   MTP_ETIMEDOUT  connect timeout or idle timeout
 *   MTP_EFULL      queued output went over max_output (a peer that does not read)
 *   MTP_ENOMEM     malloc failed
 *   MTP_ECANCELED  the loop was freed
 */
typedef struct mtp_stream_cbs {
    /* Bytes received. `data` is only valid during the call (a buffer shared by the loop). */
    void (*on_data)(mtp_stream_t *s, const uint8_t *data, size_t n);
    /* Exactly once per stream, always from the loop (never from inside an mtp_stream_* call
     * the application made), after which the stream is freed. Required. */
    void (*on_close)(mtp_stream_t *s, int err);
    /* Optional: an outgoing connection was established. */
    void (*on_connect)(mtp_stream_t *s);
    /* Optional: the peer half-closed (EOF). Without it, EOF closes the stream with
     * MTP_ECLOSED. With it, the stream stays writable; finish with mtp_stream_end() or
     * mtp_stream_close(). */
    void (*on_eof)(mtp_stream_t *s);
    /* Optional: the output queue became empty (after having had bytes in it); called from the
     * loop only. Bytes the kernel took straight from mtp_stream_write() never queue. */
    void (*on_drain)(mtp_stream_t *s);
    /* Optional (zero-copy reads, as libuv's alloc_cb): room for the next read. `suggested`
     * is what the socket has ready (at least 64 KiB). Set *buf / *cap to the caller's own
     * memory; the bytes are read straight into it and on_data gets that pointer. *cap 0
     * ends this round of reading (the fd stays readable: the loop comes back). */
    void (*on_alloc)(mtp_stream_t *s, size_t suggested, uint8_t **buf, size_t *cap);
} mtp_stream_cbs_t;

/* Zero-initialise; 0 means the default for every field. */
typedef struct mtp_stream_opts {
    size_t max_output;          /* cap on bytes queued in user space; default 8 MiB */
    mtp_usec_t connect_timeout; /* outgoing: total time to connect; default none */
    mtp_usec_t idle_timeout;    /* close with MTP_ETIMEDOUT after this long without receiving
                                   a byte (and, while connecting, without connecting); none */
    int sndbuf, rcvbuf;         /* SO_SNDBUF / SO_RCVBUF; default: the kernel's autotuning */
} mtp_stream_opts_t;

/*
 * Outgoing TCP connection to host:port (see mtp_net_resolve about blocking). Every resolved
 * address is tried in turn until one connects. Returns 0 and the stream, whose outcome is
 * reported by on_connect or on_close; or a negative code (nothing to close then).
 */
int mtp_stream_connect(mtp_loop_t *loop, const char *host, uint16_t port,
                       const mtp_stream_opts_t *opts, const mtp_stream_cbs_t *cbs, void *user,
                       mtp_stream_t **out);
int mtp_stream_connect_addr(mtp_loop_t *loop, const struct sockaddr *sa, socklen_t len,
                            const mtp_stream_opts_t *opts, const mtp_stream_cbs_t *cbs,
                            void *user, mtp_stream_t **out);
/*
 * Wrap a connected socket (made non-blocking and close-on-exec here). The stream owns fd from
 * now on, even if this fails (then fd is closed).
 */
int mtp_stream_new(mtp_loop_t *loop, int fd, const mtp_stream_opts_t *opts,
                   const mtp_stream_cbs_t *cbs, void *user, mtp_stream_t **out);

/*
 * Queue bytes (sent right away if possible; while connecting, they wait). Errors: MTP_ESTATE
 * after mtp_stream_end(), MTP_ECLOSED once closing; MTP_EFULL when the cap is exceeded and
 * MTP_EIO when the socket failed (e.g. EPIPE, see mtp_stream_errno()) — in both cases the
 * stream is then closing and on_close with the same code follows from the loop.
 */
int mtp_stream_write(mtp_stream_t *s, const void *data, size_t n);
/* Gather write: the parts are sent with one sendmsg() when nothing is queued. */
int mtp_stream_writev(mtp_stream_t *s, const mtp_bytes_t *parts, size_t nparts);
/* Flush the queue, then shut down the sending side (the peer sees EOF); keep receiving until
 * the peer's EOF, then on_close(0). */
int mtp_stream_end(mtp_stream_t *s);
/* Close now; queued output is dropped. on_close(s, 0) follows from the loop. Idempotent. */
void mtp_stream_close(mtp_stream_t *s);
/* Stop / resume reading (backpressure). */
int mtp_stream_pause_read(mtp_stream_t *s, bool paused);
/* Change the idle timeout (0 = none). */
int mtp_stream_set_idle_timeout(mtp_stream_t *s, mtp_usec_t usec);

size_t mtp_stream_pending(const mtp_stream_t *s);   /* queued output bytes */
bool mtp_stream_connected(const mtp_stream_t *s);
bool mtp_stream_closing(const mtp_stream_t *s);     /* closed; on_close pending or running */
int mtp_stream_errno(const mtp_stream_t *s);        /* system errno behind MTP_EIO, else 0 */
int mtp_stream_fd(const mtp_stream_t *s);           /* -1 once closed */
mtp_loop_t *mtp_stream_loop(const mtp_stream_t *s);
void *mtp_stream_user(const mtp_stream_t *s);
void mtp_stream_set_user(mtp_stream_t *s, void *user);
void mtp_stream_set_cbs(mtp_stream_t *s, const mtp_stream_cbs_t *cbs);
/* Counters. */
uint64_t mtp_stream_bytes_in(const mtp_stream_t *s);
uint64_t mtp_stream_bytes_out(const mtp_stream_t *s);

/* ------------------------------------------------------------------------------------------ */
/* Listener                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct mtp_listener mtp_listener_t;

/*
 * A new connection: `fd` is non-blocking, close-on-exec, TCP_NODELAY, and now belongs to the
 * callback (wrap it with mtp_stream_new() or close it).
 */
typedef void (*mtp_accept_cb)(mtp_listener_t *l, int fd, const struct sockaddr *peer,
                              socklen_t peer_len, void *user);

typedef struct mtp_listen_opts {
    int backlog;            /* default SOMAXCONN */
    int sndbuf, rcvbuf;     /* applied to the listening socket, inherited by accepted ones */
    bool reuseport;         /* SO_REUSEPORT */
    bool v6only;            /* IPV6_V6ONLY on an IPv6 socket (default: dual stack) */
} mtp_listen_opts_t;

/*
 * Listen on host:port (host NULL or "" = every address; port 0 = a free port, see
 * mtp_listener_port()). SO_REUSEADDR is set. Running out of fds (EMFILE/ENFILE) never makes the
 * loop spin: the pending connection is accepted into a reserved fd and closed at once, and if
 * even that is impossible, accepting pauses for 100 ms.
 */
int mtp_listener_new(mtp_loop_t *loop, const char *host, uint16_t port,
                     const mtp_listen_opts_t *opts, mtp_accept_cb cb, void *user,
                     mtp_listener_t **out);
uint16_t mtp_listener_port(const mtp_listener_t *l);
int mtp_listener_fd(const mtp_listener_t *l);
/* Stop accepting (the socket stays bound) / resume. */
int mtp_listener_pause(mtp_listener_t *l, bool paused);
/* Connections dropped because the process was out of fds. */
uint64_t mtp_listener_dropped(const mtp_listener_t *l);
uint64_t mtp_listener_accepted(const mtp_listener_t *l);
/* Closes the listening socket; safe from callbacks. */
void mtp_listener_free(mtp_listener_t *l);

/* ------------------------------------------------------------------------------------------ */
/* Backoff: exponential with full jitter                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Randomness comes from an mtp_rng_t (mtproto/crypto.h), the one injection type of the
 * library; the jitter takes 8 bytes per draw. */
typedef struct mtp_rng mtp_rng_t;
typedef struct mtp_backoff {
    mtp_usec_t base;        /* ceiling of attempt 0 */
    mtp_usec_t cap;         /* ceilings never exceed this */
    unsigned attempt;       /* next attempt number */
    const mtp_rng_t *rng;   /* NULL = built-in generator seeded from getrandom(); borrowed */
    uint64_t state;         /* built-in generator state */
} mtp_backoff_t;

/* min(cap, base * 2^attempt), without overflow; 0 if base <= 0. */
mtp_usec_t mtp_backoff_ceiling(mtp_usec_t base, mtp_usec_t cap, unsigned attempt);
/* Full jitter: uniform in [0, ceiling]. rng NULL (or a failing rng): no jitter, the ceiling. */
mtp_usec_t mtp_backoff_delay(mtp_usec_t base, mtp_usec_t cap, unsigned attempt,
                             const mtp_rng_t *rng);
void mtp_backoff_init(mtp_backoff_t *b, mtp_usec_t base, mtp_usec_t cap, const mtp_rng_t *rng);
/* Delay before the next attempt; advances the attempt counter. */
mtp_usec_t mtp_backoff_next(mtp_backoff_t *b);
/* After a success: start again from attempt 0. */
void mtp_backoff_reset(mtp_backoff_t *b);

#ifdef __cplusplus
}
#endif
#endif
