/*
 * Buffered stream connections: non-blocking connect (every resolved address in turn), reads
 * into the loop's shared buffer, an output queue with a cap, half-close, connect and idle
 * timeouts. on_close is delivered exactly once, from the loop's deferred phase, and the stream
 * is freed right after it — so closing from any callback (or any API call) is safe.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define DEFAULT_MAX_OUTPUT ((size_t)8 << 20)
#define KEEP_OUTPUT_CAP ((size_t)64 << 10)     /* a drained queue bigger than this is freed */
#define READS_PER_EVENT 4                       /* fairness between connections */
#define MAX_IOV 64
#define MAX_ADDRS 8

enum st { ST_CONNECTING, ST_OPEN, ST_CLOSED };

struct mtp_stream {
    mtp_loop_t *loop;
    int fd;
    enum st state;
    mtp_io_t *io;
    mtp_timer_t *timer;         /* connect deadline / idle timeout; created when needed */
    mtp_stream_cbs_t cbs;
    void *user;

    mtp_buf_t out;
    size_t out_head;            /* bytes of `out` already sent */
    size_t max_output;

    bool read_paused;
    bool read_eof;              /* peer sent FIN */
    bool ending;                /* mtp_stream_end() called */
    bool wr_shut;               /* our FIN sent */
    bool queued_since_drain;

    int close_err;
    int sys_errno;

    mtp_usec_t idle;            /* 0 = none */
    mtp_usec_t last_rx;         /* monotonic */
    mtp_usec_t connect_deadline;

    struct sockaddr_storage *addrs;
    socklen_t *lens;
    int naddr, next_addr;
    int sndbuf, rcvbuf;

    uint64_t bytes_in, bytes_out;
    mtp_net_defer_t closer;
};

static void stream_io(mtp_io_t *io, int fd, unsigned events, void *user);
static void flush(mtp_stream_t *s, bool from_loop);

/* ------------------------------------------------------------------------------------------ */
/* closing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void deliver_close(mtp_net_defer_t *d)
{
    mtp_stream_t *s = (mtp_stream_t *)((char *)d - offsetof(mtp_stream_t, closer));
    if (s->cbs.on_close)
        s->cbs.on_close(s, s->close_err);
    free(s);
}

static void drop_socket(mtp_stream_t *s)
{
    if (s->io) {
        mtp_io_remove(s->io);
        s->io = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

/* Close now; on_close(err) follows from the loop. First error wins. */
static void stream_fail(mtp_stream_t *s, int err, int sys_errno)
{
    if (s->state == ST_CLOSED)
        return;
    s->state = ST_CLOSED;
    s->close_err = err;
    s->sys_errno = sys_errno;
    drop_socket(s);
    mtp_timer_free(s->timer);
    s->timer = NULL;
    mtp_buf_free(&s->out);
    s->out_head = 0;
    free(s->addrs);
    free(s->lens);
    s->addrs = NULL;
    s->lens = NULL;
    s->closer.fn = deliver_close;
    mtp_net_defer(s->loop, &s->closer);
}

static void stream_destroy(mtp_io_t *io, void *user)
{
    (void)io;
    stream_fail(user, MTP_ECANCELED, 0);
}

static size_t pending(const mtp_stream_t *s)
{
    return s->out.len - s->out_head;
}

static void update_interest(mtp_stream_t *s)
{
    if (s->state == ST_CLOSED || !s->io)
        return;
    unsigned want;
    if (s->state == ST_CONNECTING) {
        want = MTP_IO_WRITE;
    } else {
        want = 0;
        if (!s->read_paused && !s->read_eof)
            want |= MTP_IO_READ;
        if (pending(s))
            want |= MTP_IO_WRITE;
    }
    int rc = mtp_io_modify(s->io, want);
    if (rc)
        stream_fail(s, rc, 0);
}

static int sys_to_mtp(int e)
{
    return (e == ENOMEM || e == ENOBUFS) ? MTP_ENOMEM : MTP_EIO;
}

/* ------------------------------------------------------------------------------------------ */
/* timers                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void stream_timer(mtp_timer_t *t, void *user)
{
    mtp_stream_t *s = user;
    mtp_usec_t now = mtp_mono_usec();
    if (s->state == ST_CONNECTING) {
        if (now >= s->connect_deadline)
            stream_fail(s, MTP_ETIMEDOUT, ETIMEDOUT);
        else
            mtp_timer_start_mono(t, s->connect_deadline);
    } else if (s->state == ST_OPEN && s->idle > 0) {
        mtp_usec_t due = s->last_rx + s->idle;    /* reads only store last_rx: re-arm lazily */
        if (now >= due)
            stream_fail(s, MTP_ETIMEDOUT, ETIMEDOUT);
        else
            mtp_timer_start_mono(t, due);
    }
}

static int ensure_timer(mtp_stream_t *s)
{
    if (!s->timer)
        s->timer = mtp_timer_new(s->loop, stream_timer, s);
    return s->timer ? 0 : MTP_ENOMEM;
}

static void arm_idle(mtp_stream_t *s)
{
    if (s->idle > 0) {
        if (ensure_timer(s)) {
            stream_fail(s, MTP_ENOMEM, 0);
            return;
        }
        s->last_rx = mtp_mono_usec();
        mtp_timer_start_mono(s->timer, s->last_rx + s->idle);
    } else if (s->timer) {
        mtp_timer_stop(s->timer);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* connecting                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Start connecting to the next address; on immediate failure try the one after. */
static void connect_next(mtp_stream_t *s, int last_err)
{
    drop_socket(s);
    while (s->next_addr < s->naddr) {
        int i = s->next_addr++;
        int fd = socket(s->addrs[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        IPPROTO_TCP);
        if (fd < 0) {
            last_err = errno;
            if (errno == EMFILE || errno == ENFILE) {
                stream_fail(s, MTP_EIO, last_err);
                return;
            }
            continue;
        }
        mtp_net_tune_tcp(fd, s->sndbuf, s->rcvbuf);
        int rc;
        do {
            rc = connect(fd, (struct sockaddr *)&s->addrs[i], s->lens[i]);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0 || errno == EINPROGRESS) {
            /* Even an immediate success is reported from the loop (writable -> SO_ERROR 0). */
            s->fd = fd;
            int arc = mtp_io_add(s->loop, fd, MTP_IO_WRITE, stream_io, s, &s->io);
            if (arc) {
                stream_fail(s, arc, 0);
                return;
            }
            mtp_net_io_set_destroy(s->io, stream_destroy);
            return;
        }
        last_err = errno;
        close(fd);
    }
    stream_fail(s, MTP_EIO, last_err);
}

static void connected(mtp_stream_t *s)
{
    s->state = ST_OPEN;
    free(s->addrs);
    free(s->lens);
    s->addrs = NULL;
    s->lens = NULL;
    arm_idle(s);
    if (s->state != ST_OPEN)
        return;
    if (s->cbs.on_connect) {
        s->cbs.on_connect(s);
        if (s->state != ST_OPEN)
            return;
    }
    if (pending(s) || (s->ending && !s->wr_shut))
        flush(s, true);
    update_interest(s);
}

static void check_connect(mtp_stream_t *s)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0) {
        connected(s);
        return;
    }
    connect_next(s, err);       /* the next address, or on_close(MTP_EIO) with this errno */
}

/* ------------------------------------------------------------------------------------------ */
/* I/O                                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Our output is done and so is theirs: orderly close. */
static void maybe_finish(mtp_stream_t *s)
{
    if (s->state == ST_OPEN && s->read_eof && s->wr_shut)
        stream_fail(s, 0, 0);
}

static void got_eof(mtp_stream_t *s)
{
    s->read_eof = true;
    if (s->ending) {
        maybe_finish(s);        /* else: finishes once the queue is flushed */
    } else if (s->cbs.on_eof) {
        s->cbs.on_eof(s);
    } else {
        stream_fail(s, MTP_ECLOSED, 0);
        return;
    }
    update_interest(s);
}

#define ALLOC_READS_PER_EVENT 16
#define ALLOC_MIN ((size_t)64 << 10)
#define ALLOC_MAX ((size_t)8 << 20)

/* Reads into the caller's memory (on_alloc): everything the socket has, up to a bound. */
static void do_read_alloc(mtp_stream_t *s)
{
    for (int i = 0; i < ALLOC_READS_PER_EVENT; i++) {
        int avail = 0;
        if (ioctl(s->fd, FIONREAD, &avail) < 0 || avail < 0)
            avail = 0;
        size_t want = (size_t)avail < ALLOC_MIN ? ALLOC_MIN
                      : (size_t)avail > ALLOC_MAX ? ALLOC_MAX : (size_t)avail;
        uint8_t *p = NULL;
        size_t cap = 0, got = 0;
        s->cbs.on_alloc(s, want, &p, &cap);
        if (s->state != ST_OPEN || !p || !cap)
            return;
        bool eof = false;
        int err = 0;
        while (got < cap) {
            ssize_t r = recv(s->fd, p + got, cap - got, 0);
            if (r > 0) {
                got += (size_t)r;
                continue;
            }
            if (r == 0)
                eof = true;
            else if (errno == EINTR)
                continue;
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                err = errno;
            break;
        }
        if (got) {
            s->bytes_in += (uint64_t)got;
            if (s->idle > 0)
                s->last_rx = mtp_mono_usec();
            if (s->cbs.on_data)
                s->cbs.on_data(s, p, got);
            if (s->state != ST_OPEN || s->read_paused || s->read_eof)
                return;
        }
        if (err) {
            stream_fail(s, sys_to_mtp(err), err);
            return;
        }
        if (eof) {
            got_eof(s);
            return;
        }
        if (got < cap)
            return;             /* drained */
    }
}

static void do_read(mtp_stream_t *s)
{
    if (s->cbs.on_alloc) {
        do_read_alloc(s);
        return;
    }
    size_t size;
    uint8_t *buf = mtp_net_read_buf(s->loop, &size);
    if (!buf) {
        stream_fail(s, MTP_ENOMEM, 0);
        return;
    }
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t r = recv(s->fd, buf, size, 0);
        if (r > 0) {
            s->bytes_in += (uint64_t)r;
            if (s->idle > 0)
                s->last_rx = mtp_mono_usec();
            if (s->cbs.on_data)
                s->cbs.on_data(s, buf, (size_t)r);
            if (s->state != ST_OPEN || s->read_paused || s->read_eof || (size_t)r < size)
                return;
            continue;
        }
        if (r == 0) {
            got_eof(s);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            stream_fail(s, sys_to_mtp(errno), errno);
        return;
    }
}

/* Send from the queue until it is empty or the kernel is full. on_drain only from the loop
 * (never from inside an application's call). */
static void flush(mtp_stream_t *s, bool from_loop)
{
    while (pending(s)) {
        size_t want = pending(s);
        ssize_t n = send(s->fd, s->out.data + s->out_head, want, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            stream_fail(s, sys_to_mtp(errno), errno);
            return;
        }
        s->out_head += (size_t)n;
        s->bytes_out += (uint64_t)n;
        if ((size_t)n < want)
            break;              /* short write: the socket buffer is full */
    }
    if (!pending(s)) {
        s->out.len = s->out_head = 0;
        if (s->out.cap > KEEP_OUTPUT_CAP)
            mtp_buf_free(&s->out);
        if (s->ending && !s->wr_shut) {
            s->wr_shut = true;
            if (shutdown(s->fd, SHUT_WR) != 0 && errno != ENOTCONN) {
                stream_fail(s, MTP_EIO, errno);
                return;
            }
            maybe_finish(s);
            if (s->state != ST_OPEN)
                return;
        }
        if (s->queued_since_drain) {
            s->queued_since_drain = false;
            if (from_loop && s->cbs.on_drain) {
                s->cbs.on_drain(s);
                if (s->state != ST_OPEN)
                    return;
            }
        }
    }
    update_interest(s);
}

static void stream_io(mtp_io_t *io, int fd, unsigned events, void *user)
{
    (void)io;
    (void)fd;
    mtp_stream_t *s = user;
    if (s->state == ST_CONNECTING) {
        check_connect(s);
        return;
    }
    if (s->state != ST_OPEN)
        return;
    bool acted = false;
    if ((events & MTP_IO_READ) && !s->read_paused && !s->read_eof) {
        do_read(s);     /* first: a reset is reported as such, not as EPIPE on send */
        acted = true;
    }
    if (s->state == ST_OPEN && (events & MTP_IO_WRITE) && pending(s)) {
        flush(s, true);
        acted = true;
    }
    if (s->state == ST_OPEN && (events & MTP_IO_ERROR) && !acted) {
        /* an error or hang-up nobody read or wrote through (reading paused): do not spin */
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        stream_fail(s, err ? sys_to_mtp(err) : MTP_ECLOSED, err);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* creation                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static mtp_stream_t *stream_alloc(mtp_loop_t *loop, const mtp_stream_opts_t *opts,
                                  const mtp_stream_cbs_t *cbs, void *user)
{
    mtp_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->fd = -1;
    s->cbs = *cbs;
    s->user = user;
    mtp_buf_init(&s->out);
    mtp_stream_opts_t o = { 0 };
    if (opts)
        o = *opts;
    s->max_output = o.max_output ? o.max_output : DEFAULT_MAX_OUTPUT;
    s->idle = o.idle_timeout > 0 ? o.idle_timeout : 0;
    s->sndbuf = o.sndbuf;
    s->rcvbuf = o.rcvbuf;
    s->connect_deadline = MTP_TIME_NEVER;
    if (o.connect_timeout > 0)
        s->connect_deadline = mtp_mono_usec() + o.connect_timeout;
    else if (s->idle > 0)
        s->connect_deadline = mtp_mono_usec() + s->idle;
    return s;
}

static int connect_addrs(mtp_loop_t *loop, const struct sockaddr_storage *addrs,
                         const socklen_t *lens, int n, const mtp_stream_opts_t *opts,
                         const mtp_stream_cbs_t *cbs, void *user, mtp_stream_t **out)
{
    mtp_stream_t *s = stream_alloc(loop, opts, cbs, user);
    if (!s)
        return MTP_ENOMEM;
    s->state = ST_CONNECTING;
    s->addrs = malloc((size_t)n * sizeof *s->addrs);
    s->lens = malloc((size_t)n * sizeof *s->lens);
    if (!s->addrs || !s->lens) {
        free(s->addrs);
        free(s->lens);
        free(s);
        return MTP_ENOMEM;
    }
    memcpy(s->addrs, addrs, (size_t)n * sizeof *addrs);
    memcpy(s->lens, lens, (size_t)n * sizeof *lens);
    s->naddr = n;
    if (s->connect_deadline != MTP_TIME_NEVER) {
        if (ensure_timer(s)) {
            free(s->addrs);
            free(s->lens);
            free(s);
            return MTP_ENOMEM;
        }
        mtp_timer_start_mono(s->timer, s->connect_deadline);
    }
    *out = s;
    connect_next(s, ECONNREFUSED);        /* failures from here on arrive through on_close */
    return 0;
}

int mtp_stream_connect(mtp_loop_t *loop, const char *host, uint16_t port,
                       const mtp_stream_opts_t *opts, const mtp_stream_cbs_t *cbs, void *user,
                       mtp_stream_t **out)
{
    if (!loop || !host || !cbs || !cbs->on_close || !out)
        return MTP_EINVAL;
    if (mtp_net_loop_freeing(loop))
        return MTP_ESTATE;
    struct sockaddr_storage addrs[MAX_ADDRS];
    socklen_t lens[MAX_ADDRS];
    int n = mtp_net_resolve(host, port, false, addrs, lens, MAX_ADDRS);
    if (n < 0)
        return n;
    return connect_addrs(loop, addrs, lens, n, opts, cbs, user, out);
}

int mtp_stream_connect_addr(mtp_loop_t *loop, const struct sockaddr *sa, socklen_t len,
                            const mtp_stream_opts_t *opts, const mtp_stream_cbs_t *cbs,
                            void *user, mtp_stream_t **out)
{
    if (!loop || !sa || !cbs || !cbs->on_close || !out || len <= 0 ||
        (size_t)len > sizeof(struct sockaddr_storage) ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return MTP_EINVAL;
    if (mtp_net_loop_freeing(loop))
        return MTP_ESTATE;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, sa, (size_t)len);
    return connect_addrs(loop, &ss, &len, 1, opts, cbs, user, out);
}

int mtp_stream_new(mtp_loop_t *loop, int fd, const mtp_stream_opts_t *opts,
                   const mtp_stream_cbs_t *cbs, void *user, mtp_stream_t **out)
{
    if (fd < 0)
        return MTP_EINVAL;
    if (!loop || !cbs || !cbs->on_close || !out) {
        close(fd);
        return MTP_EINVAL;
    }
    int rc = mtp_net_loop_freeing(loop) ? MTP_ESTATE : mtp_net_set_nonblock_cloexec(fd);
    if (rc) {
        close(fd);
        return rc;
    }
    mtp_stream_t *s = stream_alloc(loop, opts, cbs, user);
    if (!s) {
        close(fd);
        return MTP_ENOMEM;
    }
    mtp_net_tune_tcp(fd, s->sndbuf, s->rcvbuf);
    s->fd = fd;
    s->state = ST_OPEN;
    rc = mtp_io_add(loop, fd, MTP_IO_READ, stream_io, s, &s->io);
    if (rc) {
        close(fd);
        free(s);
        return rc;
    }
    mtp_net_io_set_destroy(s->io, stream_destroy);
    if (s->idle > 0) {
        if (ensure_timer(s)) {
            mtp_io_remove(s->io);
            close(fd);
            free(s);
            return MTP_ENOMEM;
        }
        s->last_rx = mtp_mono_usec();
        mtp_timer_start_mono(s->timer, s->last_rx + s->idle);
    }
    *out = s;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* writing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static int write_check(mtp_stream_t *s)
{
    if (!s)
        return MTP_EINVAL;
    if (s->state == ST_CLOSED)
        return MTP_ECLOSED;
    if (s->ending)
        return MTP_ESTATE;
    return 0;
}

/* Queue what the kernel did not take. */
static int enqueue(mtp_stream_t *s, const mtp_bytes_t *parts, size_t nparts, size_t skip,
                   size_t total)
{
    size_t rest = total - skip;
    if (!rest)
        return 0;
    if (rest > s->max_output || pending(s) > s->max_output - rest) {
        stream_fail(s, MTP_EFULL, 0);
        return MTP_EFULL;
    }
    if (s->out_head && s->out.cap - s->out.len < rest) {      /* reuse the sent prefix */
        memmove(s->out.data, s->out.data + s->out_head, pending(s));
        s->out.len -= s->out_head;
        s->out_head = 0;
    }
    if (mtp_buf_reserve(&s->out, rest)) {
        stream_fail(s, MTP_ENOMEM, 0);
        return MTP_ENOMEM;
    }
    for (size_t i = 0; i < nparts; i++) {
        size_t len = parts[i].len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        mtp_buf_append(&s->out, parts[i].ptr + skip, len - skip);
        skip = 0;
    }
    s->queued_since_drain = true;
    update_interest(s);
    return s->state == ST_CLOSED ? s->close_err : 0;
}

int mtp_stream_writev(mtp_stream_t *s, const mtp_bytes_t *parts, size_t nparts)
{
    int rc = write_check(s);
    if (rc)
        return rc;
    if (nparts && !parts)
        return MTP_EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].len && !parts[i].ptr)
            return MTP_EINVAL;
        if (parts[i].len > SIZE_MAX - total)
            return MTP_ERANGE;
        total += parts[i].len;
    }
    if (!total)
        return 0;
    size_t sent = 0;
    if (s->state == ST_OPEN && !pending(s)) {
        /* nothing queued: straight to the kernel */
        struct iovec iov[MAX_IOV];
        size_t k = 0;
        for (size_t i = 0; i < nparts && k < MAX_IOV; i++)
            if (parts[i].len)
                iov[k++] = (struct iovec){ (void *)parts[i].ptr, parts[i].len };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = k };
        ssize_t n;
        do {
            n = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            int e = errno;
            stream_fail(s, sys_to_mtp(e), e);
            return s->close_err;
        }
        if (n > 0) {
            sent = (size_t)n;
            s->bytes_out += (uint64_t)n;
        }
    }
    return enqueue(s, parts, nparts, sent, total);
}

int mtp_stream_write(mtp_stream_t *s, const void *data, size_t n)
{
    if (n && !data)
        return MTP_EINVAL;
    mtp_bytes_t part = { data, n };
    return mtp_stream_writev(s, &part, 1);
}

int mtp_stream_end(mtp_stream_t *s)
{
    if (!s)
        return MTP_EINVAL;
    if (s->state == ST_CLOSED)
        return MTP_ECLOSED;
    if (s->ending)
        return 0;
    s->ending = true;
    if (s->state == ST_OPEN)
        flush(s, false);    /* with an empty queue: sends FIN now (and may finish) */
    return 0;
}

void mtp_stream_close(mtp_stream_t *s)
{
    if (s)
        stream_fail(s, 0, 0);
}

int mtp_stream_pause_read(mtp_stream_t *s, bool paused)
{
    if (!s)
        return MTP_EINVAL;
    if (s->state == ST_CLOSED)
        return MTP_ECLOSED;
    s->read_paused = paused;
    update_interest(s);
    return 0;
}

int mtp_stream_set_idle_timeout(mtp_stream_t *s, mtp_usec_t usec)
{
    if (!s)
        return MTP_EINVAL;
    if (s->state == ST_CLOSED)
        return MTP_ECLOSED;
    s->idle = usec > 0 ? usec : 0;
    if (s->state == ST_OPEN)
        arm_idle(s);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* accessors                                                                                   */
/* ------------------------------------------------------------------------------------------ */

size_t mtp_stream_pending(const mtp_stream_t *s)
{
    return s ? pending(s) : 0;
}

bool mtp_stream_connected(const mtp_stream_t *s)
{
    return s && s->state == ST_OPEN;
}

bool mtp_stream_closing(const mtp_stream_t *s)
{
    return s && s->state == ST_CLOSED;
}

int mtp_stream_errno(const mtp_stream_t *s)
{
    return s ? s->sys_errno : 0;
}

int mtp_stream_fd(const mtp_stream_t *s)
{
    return s ? s->fd : -1;
}

mtp_loop_t *mtp_stream_loop(const mtp_stream_t *s)
{
    return s ? s->loop : NULL;
}

void *mtp_stream_user(const mtp_stream_t *s)
{
    return s ? s->user : NULL;
}

void mtp_stream_set_user(mtp_stream_t *s, void *user)
{
    if (s)
        s->user = user;
}

void mtp_stream_set_cbs(mtp_stream_t *s, const mtp_stream_cbs_t *cbs)
{
    if (s && cbs && cbs->on_close)
        s->cbs = *cbs;
}

uint64_t mtp_stream_bytes_in(const mtp_stream_t *s)
{
    return s ? s->bytes_in : 0;
}

uint64_t mtp_stream_bytes_out(const mtp_stream_t *s)
{
    return s ? s->bytes_out : 0;
}
