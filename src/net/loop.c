/*
 * Event loop: fd watchers (epoll, or poll()), a timer heap on the monotonic clock, deferred
 * work, a wakeup fd, and the pollfd/timeout/process interface for foreign loops.
 *
 * Dispatch safety: every iteration first collects (watcher, events) pairs, then calls back.
 * A watcher removed by an earlier callback is marked dead and skipped; its memory is released
 * only at the end of the iteration. The kernel never holds a pointer: an epoll registration
 * carries (generation, fd) and is looked up in the fd table, so a stale event, or a new
 * watcher that got the same fd number, can never reach the wrong owner.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !defined(MTP_NET_NO_EPOLL)
#define MTP_HAVE_EPOLL 1
#include <sys/epoll.h>
#endif
#if defined(__linux__) && !defined(MTP_NET_NO_EVENTFD)
#define MTP_HAVE_EVENTFD 1
#include <sys/eventfd.h>
#endif

#define NOT_IN SIZE_MAX
#define READ_BUF_SIZE (64u * 1024u)

struct mtp_io {
    mtp_loop_t *loop;
    int fd;
    unsigned interest;
    mtp_io_cb cb;
    void *user;
    void (*destroy)(mtp_io_t *io, void *user);
    size_t pidx;                /* index in loop->pfds, NOT_IN while interest == 0 */
    uint32_t gen;               /* epoll key = gen:fd, so no kernel event holds a pointer */
    bool dead;
    bool in_epoll;
    mtp_io_t *next_garbage;
};

struct mtp_timer {
    mtp_loop_t *loop;
    mtp_timer_cb cb;
    void *user;
    mtp_usec_t deadline;        /* monotonic */
    uint64_t seq;               /* arming order (tie-break, and "not in this pass") */
    size_t hidx;                /* heap index, NOT_IN when not armed */
    mtp_timer_t *prev, *next;   /* every timer of the loop */
};

typedef struct ready {
    mtp_io_t *io;
    unsigned ev;
} ready_t;

struct mtp_loop {
    bool use_epoll;
    int epfd;

    mtp_io_t **byfd;            /* fd -> watcher */
    size_t byfd_cap;
    size_t nio;

    struct pollfd *pfds;        /* watchers with interest != 0 (also the poll() set) */
    mtp_io_t **pios;
    size_t npfd, pfd_cap;

    ready_t *ready;
    size_t ready_cap;
#ifdef MTP_HAVE_EPOLL
    struct epoll_event *evs;
    int evs_cap;
#endif

    mtp_timer_t **heap;
    size_t nheap, heap_cap;
    uint64_t seq;
    mtp_timer_t *timers;
    uint32_t io_gen;

    mtp_net_defer_t *dq_head, **dq_tail;
    mtp_io_t *garbage;
    int depth;
    bool freeing;

    int wake_rfd, wake_wfd;
    mtp_io_t *wake_io;
    atomic_int wake_pending;
    atomic_int stop;
    void (*wake_cb)(mtp_loop_t *loop, void *user);
    void *wake_user;

    uint8_t *rbuf;
};

/* ------------------------------------------------------------------------------------------ */
/* clocks                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static mtp_usec_t clock_usec(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (mtp_usec_t)ts.tv_sec * MTP_USEC_PER_SEC + ts.tv_nsec / 1000;
}

mtp_usec_t mtp_now_usec(void)
{
    return clock_usec(CLOCK_REALTIME);
}

mtp_usec_t mtp_mono_usec(void)
{
    return clock_usec(CLOCK_MONOTONIC);
}

static mtp_usec_t sat_add(mtp_usec_t a, mtp_usec_t b)
{
    if (b > 0 && a > MTP_TIME_NEVER - b)
        return MTP_TIME_NEVER;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : first;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            return MTP_ENOMEM;
        c *= 2;
    }
    void *n = realloc(*p, c * elem);
    if (!n)
        return MTP_ENOMEM;
    *p = n;
    *cap = c;
    return 0;
}

static short to_poll(unsigned interest)
{
    short e = 0;
    if (interest & MTP_IO_READ)
        e |= POLLIN;
    if (interest & MTP_IO_WRITE)
        e |= POLLOUT;
    return e;
}

#ifdef MTP_HAVE_EPOLL
static uint64_t epoll_key(const mtp_io_t *io)
{
    return ((uint64_t)io->gen << 32) | (uint32_t)io->fd;
}

static uint32_t to_epoll(unsigned interest)
{
    uint32_t e = 0;
    if (interest & MTP_IO_READ)
        e |= EPOLLIN;
    if (interest & MTP_IO_WRITE)
        e |= EPOLLOUT;
    return e;
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* deferred work and garbage                                                                   */
/* ------------------------------------------------------------------------------------------ */

void mtp_net_defer(mtp_loop_t *loop, mtp_net_defer_t *d)
{
    if (d->queued)
        return;
    d->queued = true;
    d->next = NULL;
    *loop->dq_tail = d;
    loop->dq_tail = &d->next;
}

bool mtp_net_loop_busy(const mtp_loop_t *loop)
{
    return loop->depth > 0;
}

bool mtp_net_loop_freeing(const mtp_loop_t *loop)
{
    return loop->freeing;
}

static int run_deferred(mtp_loop_t *loop)
{
    int n = 0;
    while (loop->dq_head) {
        mtp_net_defer_t *d = loop->dq_head;
        loop->dq_head = d->next;
        if (!loop->dq_head)
            loop->dq_tail = &loop->dq_head;
        d->queued = false;
        d->fn(d);       /* may free d, may queue more */
        n++;
    }
    return n;
}

static void free_garbage(mtp_loop_t *loop)
{
    while (loop->garbage) {
        mtp_io_t *io = loop->garbage;
        loop->garbage = io->next_garbage;
        free(io);
    }
}

uint8_t *mtp_net_read_buf(mtp_loop_t *loop, size_t *size)
{
    if (!loop->rbuf) {
        loop->rbuf = malloc(READ_BUF_SIZE);
        if (!loop->rbuf)
            return NULL;
    }
    *size = READ_BUF_SIZE;
    return loop->rbuf;
}

/* ------------------------------------------------------------------------------------------ */
/* fd watchers                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int pfd_insert(mtp_loop_t *loop, mtp_io_t *io)
{
    /* both arrays always have room for pfd_cap entries */
    size_t c1 = loop->pfd_cap, c2 = loop->pfd_cap;
    if (grow((void **)&loop->pfds, &c1, loop->npfd + 1, sizeof *loop->pfds, 16) ||
        grow((void **)&loop->pios, &c2, loop->npfd + 1, sizeof *loop->pios, 16))
        return MTP_ENOMEM;      /* a grown pfds is merely bigger than pfd_cap says */
    loop->pfd_cap = c1;
    io->pidx = loop->npfd++;
    loop->pfds[io->pidx] = (struct pollfd){ .fd = io->fd, .events = to_poll(io->interest) };
    loop->pios[io->pidx] = io;
    return 0;
}

static void pfd_erase(mtp_loop_t *loop, mtp_io_t *io)
{
    size_t i = io->pidx;
    if (i == NOT_IN)
        return;
    size_t last = --loop->npfd;
    if (i != last) {
        loop->pfds[i] = loop->pfds[last];
        loop->pios[i] = loop->pios[last];
        loop->pios[i]->pidx = i;
    }
    io->pidx = NOT_IN;
}

/* Bring the kernel registration and the pollfd mirror in line with `interest`. */
static int io_apply(mtp_io_t *io, unsigned interest)
{
    mtp_loop_t *loop = io->loop;
    unsigned old = io->interest;
#ifdef MTP_HAVE_EPOLL
    if (loop->use_epoll) {
        struct epoll_event ev = { .events = to_epoll(interest), .data.u64 = epoll_key(io) };
        int rc = 0;
        if (!interest && io->in_epoll) {
            epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, &ev);
            io->in_epoll = false;
        } else if (interest && !io->in_epoll) {
            rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev);
            if (rc == 0)
                io->in_epoll = true;
        } else if (interest && interest != old) {
            rc = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev);
        }
        if (rc != 0)
            return errno == ENOMEM ? MTP_ENOMEM : (errno == EBADF || errno == EPERM) ? MTP_EINVAL
                                                                                       : MTP_EIO;
    }
#endif
    if (interest && io->pidx == NOT_IN) {
        io->interest = interest;
        if (pfd_insert(loop, io)) {
            io->interest = old;
#ifdef MTP_HAVE_EPOLL
            if (loop->use_epoll && io->in_epoll && !old) {
                epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
                io->in_epoll = false;
            }
#endif
            return MTP_ENOMEM;
        }
    } else if (!interest) {
        pfd_erase(loop, io);
    } else {
        loop->pfds[io->pidx].events = to_poll(interest);
    }
    io->interest = interest;
    return 0;
}

int mtp_io_add(mtp_loop_t *loop, int fd, unsigned interest, mtp_io_cb cb, void *user,
               mtp_io_t **out)
{
    if (!loop || fd < 0 || !cb || !out || (interest & ~(unsigned)(MTP_IO_READ | MTP_IO_WRITE)))
        return MTP_EINVAL;
    if (loop->freeing)
        return MTP_ESTATE;
    size_t c = loop->byfd_cap;
    if ((size_t)fd >= c) {
        if (grow((void **)&loop->byfd, &c, (size_t)fd + 1, sizeof *loop->byfd, 64))
            return MTP_ENOMEM;
        memset(loop->byfd + loop->byfd_cap, 0, (c - loop->byfd_cap) * sizeof *loop->byfd);
        loop->byfd_cap = c;
    }
    if (loop->byfd[fd])
        return MTP_EINVAL;          /* already watched */
    mtp_io_t *io = calloc(1, sizeof *io);
    if (!io)
        return MTP_ENOMEM;
    io->loop = loop;
    io->fd = fd;
    io->cb = cb;
    io->user = user;
    io->pidx = NOT_IN;
    io->gen = ++loop->io_gen;
    int rc = io_apply(io, interest);
    if (rc) {
        free(io);
        return rc;
    }
    loop->byfd[fd] = io;
    loop->nio++;
    *out = io;
    return 0;
}

int mtp_io_modify(mtp_io_t *io, unsigned interest)
{
    if (!io || io->dead || (interest & ~(unsigned)(MTP_IO_READ | MTP_IO_WRITE)))
        return MTP_EINVAL;
    if (interest == io->interest)
        return 0;
    return io_apply(io, interest);
}

unsigned mtp_io_interest(const mtp_io_t *io)
{
    return io ? io->interest : 0;
}

int mtp_io_fd(const mtp_io_t *io)
{
    return io ? io->fd : -1;
}

void mtp_io_remove(mtp_io_t *io)
{
    if (!io || io->dead)
        return;
    mtp_loop_t *loop = io->loop;
#ifdef MTP_HAVE_EPOLL
    if (loop->use_epoll && io->in_epoll) {
        struct epoll_event ev = { 0 };
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, &ev);   /* EBADF if already closed: fine */
        io->in_epoll = false;
    }
#endif
    pfd_erase(loop, io);
    if (loop->byfd[io->fd] == io)
        loop->byfd[io->fd] = NULL;
    loop->nio--;
    io->dead = true;
    io->interest = 0;
    if (loop->depth > 0) {
        io->next_garbage = loop->garbage;
        loop->garbage = io;
    } else {
        free(io);
    }
}

void mtp_net_io_set_destroy(mtp_io_t *io, void (*destroy)(mtp_io_t *io, void *user))
{
    io->destroy = destroy;
}

mtp_io_t *mtp_net_io_by_fd(mtp_loop_t *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->byfd_cap)
        return NULL;
    return loop->byfd[fd];
}

/* ------------------------------------------------------------------------------------------ */
/* timers                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static bool t_before(const mtp_timer_t *a, const mtp_timer_t *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(mtp_loop_t *loop, size_t i, mtp_timer_t *t)
{
    loop->heap[i] = t;
    t->hidx = i;
}

static void sift_up(mtp_loop_t *loop, size_t i)
{
    mtp_timer_t *t = loop->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!t_before(t, loop->heap[p]))
            break;
        heap_set(loop, i, loop->heap[p]);
        i = p;
    }
    heap_set(loop, i, t);
}

static void sift_down(mtp_loop_t *loop, size_t i)
{
    mtp_timer_t *t = loop->heap[i];
    size_t n = loop->nheap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const mtp_timer_t *best = t;
        if (l < n && t_before(loop->heap[l], best)) {
            m = l;
            best = loop->heap[l];
        }
        if (l + 1 < n && t_before(loop->heap[l + 1], best))
            m = l + 1;
        if (m == i)
            break;
        heap_set(loop, i, loop->heap[m]);
        i = m;
    }
    heap_set(loop, i, t);
}

static void heap_remove(mtp_loop_t *loop, mtp_timer_t *t)
{
    size_t i = t->hidx;
    if (i == NOT_IN)
        return;
    t->hidx = NOT_IN;
    size_t last = --loop->nheap;
    if (i == last)
        return;
    heap_set(loop, i, loop->heap[last]);
    if (i > 0 && t_before(loop->heap[i], loop->heap[(i - 1) / 2]))
        sift_up(loop, i);
    else
        sift_down(loop, i);
}

mtp_timer_t *mtp_timer_new(mtp_loop_t *loop, mtp_timer_cb cb, void *user)
{
    if (!loop || !cb || loop->freeing)
        return NULL;
    mtp_timer_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->loop = loop;
    t->cb = cb;
    t->user = user;
    t->hidx = NOT_IN;
    t->deadline = MTP_TIME_NEVER;
    t->next = loop->timers;
    if (loop->timers)
        loop->timers->prev = t;
    loop->timers = t;
    return t;
}

void mtp_timer_free(mtp_timer_t *t)
{
    if (!t)
        return;
    mtp_loop_t *loop = t->loop;
    heap_remove(loop, t);
    if (t->prev)
        t->prev->next = t->next;
    else
        loop->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    free(t);
}

int mtp_timer_start_mono(mtp_timer_t *t, mtp_usec_t mono_deadline)
{
    if (!t)
        return MTP_EINVAL;
    mtp_loop_t *loop = t->loop;
    if (t->hidx == NOT_IN) {
        size_t c = loop->heap_cap;
        if (grow((void **)&loop->heap, &c, loop->nheap + 1, sizeof *loop->heap, 16))
            return MTP_ENOMEM;
        loop->heap_cap = c;
        t->deadline = mono_deadline;
        t->seq = loop->seq++;
        size_t i = loop->nheap++;
        heap_set(loop, i, t);
        sift_up(loop, i);
    } else {
        t->deadline = mono_deadline;
        t->seq = loop->seq++;
        size_t i = t->hidx;
        if (i > 0 && t_before(t, loop->heap[(i - 1) / 2]))
            sift_up(loop, i);
        else
            sift_down(loop, i);
    }
    return 0;
}

int mtp_timer_start(mtp_timer_t *t, mtp_usec_t delay_usec)
{
    if (!t)
        return MTP_EINVAL;
    if (delay_usec < 0)
        delay_usec = 0;
    return mtp_timer_start_mono(t, sat_add(mtp_mono_usec(), delay_usec));
}

int mtp_timer_start_wall(mtp_timer_t *t, mtp_usec_t wall_deadline)
{
    if (!t)
        return MTP_EINVAL;
    if (wall_deadline == MTP_TIME_NEVER) {
        mtp_timer_stop(t);
        return 0;
    }
    mtp_usec_t wall = mtp_now_usec(), mono = mtp_mono_usec();
    mtp_usec_t delta = sat_add(wall_deadline, -wall);    /* wall > 0: -wall cannot overflow */
    if (delta < 0)
        delta = 0;
    return mtp_timer_start_mono(t, sat_add(mono, delta));
}

void mtp_timer_stop(mtp_timer_t *t)
{
    if (t) {
        heap_remove(t->loop, t);
        t->deadline = MTP_TIME_NEVER;
    }
}

bool mtp_timer_active(const mtp_timer_t *t)
{
    return t && t->hidx != NOT_IN;
}

mtp_usec_t mtp_timer_deadline(const mtp_timer_t *t)
{
    return t && t->hidx != NOT_IN ? t->deadline : MTP_TIME_NEVER;
}

void mtp_timer_set_user(mtp_timer_t *t, void *user)
{
    if (t)
        t->user = user;
}

void *mtp_timer_user(const mtp_timer_t *t)
{
    return t ? t->user : NULL;
}

static int run_timers(mtp_loop_t *loop)
{
    if (!loop->nheap)
        return 0;
    uint64_t limit = loop->seq;     /* timers armed from now on wait for the next pass */
    mtp_usec_t now = mtp_mono_usec();
    int n = 0;
    while (loop->nheap) {
        mtp_timer_t *t = loop->heap[0];
        if (t->deadline > now || t->seq >= limit)
            break;
        heap_remove(loop, t);
        t->deadline = MTP_TIME_NEVER;
        t->cb(t, t->user);  /* may free or re-arm t */
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* wakeup                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void wake_read(mtp_io_t *io, int fd, unsigned events, void *user)
{
    (void)io;
    (void)events;
    mtp_loop_t *loop = user;
    atomic_store(&loop->wake_pending, 0);
    uint8_t buf[64];
    for (int i = 0; i < 64; i++) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < (ssize_t)sizeof buf && !(r < 0 && errno == EINTR))
            break;
    }
    if (loop->wake_cb)
        loop->wake_cb(loop, loop->wake_user);
}

void mtp_loop_wakeup(mtp_loop_t *loop)
{
    if (!loop || atomic_exchange(&loop->wake_pending, 1))
        return;
    int saved = errno;
    uint64_t one = 1;
    ssize_t r;
    do {
#ifdef MTP_HAVE_EVENTFD
        r = write(loop->wake_wfd, &one, sizeof one);
#else
        r = write(loop->wake_wfd, &one, 1);
#endif
    } while (r < 0 && errno == EINTR);
    errno = saved;
}

void mtp_loop_stop(mtp_loop_t *loop)
{
    if (!loop)
        return;
    atomic_store(&loop->stop, 1);
    mtp_loop_wakeup(loop);
}

void mtp_loop_set_wakeup_cb(mtp_loop_t *loop, void (*cb)(mtp_loop_t *loop, void *user), void *user)
{
    if (!loop)
        return;
    loop->wake_cb = cb;
    loop->wake_user = user;
}

static int wake_open(mtp_loop_t *loop)
{
#ifdef MTP_HAVE_EVENTFD
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return MTP_EIO;
    loop->wake_rfd = loop->wake_wfd = fd;
#else
    int p[2];
    if (pipe(p) != 0)
        return MTP_EIO;
    loop->wake_rfd = p[0];
    loop->wake_wfd = p[1];
    if (mtp_net_set_nonblock_cloexec(p[0]) || mtp_net_set_nonblock_cloexec(p[1]))
        return MTP_EIO;
#endif
    return mtp_io_add(loop, loop->wake_rfd, MTP_IO_READ, wake_read, loop, &loop->wake_io);
}

/* ------------------------------------------------------------------------------------------ */
/* loop                                                                                        */
/* ------------------------------------------------------------------------------------------ */

mtp_loop_t *mtp_loop_new(unsigned flags)
{
    mtp_loop_t *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->epfd = loop->wake_rfd = loop->wake_wfd = -1;
    loop->dq_tail = &loop->dq_head;
    atomic_init(&loop->wake_pending, 0);
    atomic_init(&loop->stop, 0);
#ifdef MTP_HAVE_EPOLL
    if (!(flags & MTP_LOOP_POLL)) {
        loop->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (loop->epfd < 0)
            goto fail;
        loop->use_epoll = true;
    }
#else
    (void)flags;
#endif
    if (wake_open(loop))
        goto fail;
    return loop;
fail:
    mtp_loop_free(loop);
    return NULL;
}

const char *mtp_loop_backend(const mtp_loop_t *loop)
{
    return loop && loop->use_epoll ? "epoll" : "poll";
}

int mtp_loop_backend_fd(const mtp_loop_t *loop)
{
    return loop && loop->use_epoll ? loop->epfd : -1;
}

void mtp_loop_free(mtp_loop_t *loop)
{
    if (!loop)
        return;
    loop->freeing = true;
    loop->depth++;          /* everything freed below is deferred to the end */
    /* Owners (streams, listeners) release themselves; their on_close goes to the queue. */
    for (int round = 0; round < 4; round++) {
        bool any = false;
        for (size_t fd = 0; fd < loop->byfd_cap; fd++) {
            mtp_io_t *io = loop->byfd[fd];
            if (!io || io == loop->wake_io)
                continue;
            any = true;
            if (io->destroy)
                io->destroy(io, io->user);
            if (loop->byfd[fd] == io)
                mtp_io_remove(io);
        }
        any |= run_deferred(loop) > 0;
        if (!any)
            break;
    }
    if (loop->wake_io)
        mtp_io_remove(loop->wake_io);
    while (loop->timers)
        mtp_timer_free(loop->timers);
    loop->depth--;
    free_garbage(loop);
    if (loop->wake_rfd >= 0)
        close(loop->wake_rfd);
    if (loop->wake_wfd >= 0 && loop->wake_wfd != loop->wake_rfd)
        close(loop->wake_wfd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop->byfd);
    free(loop->pfds);
    free(loop->pios);
    free(loop->ready);
#ifdef MTP_HAVE_EPOLL
    free(loop->evs);
#endif
    free(loop->heap);
    free(loop->rbuf);
    free(loop);
}

mtp_usec_t mtp_loop_timeout_usec(const mtp_loop_t *loop)
{
    if (!loop)
        return -1;
    if (loop->dq_head)
        return 0;
    if (!loop->nheap)
        return -1;
    mtp_usec_t d = loop->heap[0]->deadline;
    if (d == MTP_TIME_NEVER)
        return -1;
    mtp_usec_t left = sat_add(d, -mtp_mono_usec());
    return left < 0 ? 0 : left;
}

static int usec_to_ms(mtp_usec_t us)
{
    if (us < 0)
        return -1;
    if (us >= (mtp_usec_t)INT_MAX * 1000)
        return INT_MAX;
    return (int)((us + 999) / 1000);
}

int mtp_loop_timeout_ms(const mtp_loop_t *loop)
{
    return usec_to_ms(mtp_loop_timeout_usec(loop));
}

size_t mtp_loop_fds(const mtp_loop_t *loop, struct pollfd *out, size_t max)
{
    if (!loop)
        return 0;
    size_t n = loop->npfd < max ? loop->npfd : max;
    for (size_t i = 0; i < n; i++) {
        out[i].fd = loop->pfds[i].fd;
        out[i].events = loop->pfds[i].events;
        out[i].revents = 0;
    }
    return loop->npfd;
}

static int ready_reserve(mtp_loop_t *loop, size_t n)
{
    return grow((void **)&loop->ready, &loop->ready_cap, n, sizeof *loop->ready, 64);
}

static unsigned from_poll(short re, unsigned interest)
{
    unsigned ev = 0;
    if (re & POLLIN)
        ev |= MTP_IO_READ;
    if (re & POLLOUT)
        ev |= MTP_IO_WRITE;
    if (re & (POLLERR | POLLHUP | POLLNVAL))
        ev |= MTP_IO_ERROR | (interest & (MTP_IO_READ | MTP_IO_WRITE));
    return ev;
}

/* Call back the collected watchers, skipping any removed (or quietened) meanwhile. */
static int dispatch(mtp_loop_t *loop, size_t nready)
{
    int n = 0;
    for (size_t i = 0; i < nready; i++) {
        mtp_io_t *io = loop->ready[i].io;
        if (io->dead || !io->interest)
            continue;
        unsigned ev = loop->ready[i].ev & (io->interest | MTP_IO_ERROR);
        if (!ev)
            continue;
        io->cb(io, io->fd, ev, io->user);
        n++;
    }
    return n;
}

static int finish_iteration(mtp_loop_t *loop, int n)
{
    n += run_timers(loop);
    n += run_deferred(loop);
    free_garbage(loop);
    loop->depth--;
    return n;
}

static size_t collect_pollfds(mtp_loop_t *loop, const struct pollfd *fds, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fds[i].revents)
            continue;
        mtp_io_t *io = mtp_net_io_by_fd(loop, fds[i].fd);
        if (!io || !io->interest)
            continue;
        loop->ready[k].io = io;
        loop->ready[k].ev = from_poll(fds[i].revents, io->interest);
        k++;
    }
    return k;
}

int mtp_loop_process(mtp_loop_t *loop, const struct pollfd *fds, size_t n)
{
    if (!loop || (n && !fds))
        return MTP_EINVAL;
    if (loop->depth)
        return MTP_ESTATE;
    if (ready_reserve(loop, n))
        return MTP_ENOMEM;
    loop->depth++;
    size_t k = collect_pollfds(loop, fds, n);
    return finish_iteration(loop, dispatch(loop, k));
}

int mtp_loop_run_once(mtp_loop_t *loop, mtp_usec_t max_wait_usec)
{
    if (!loop)
        return MTP_EINVAL;
    if (loop->depth)
        return MTP_ESTATE;
    mtp_usec_t wait = mtp_loop_timeout_usec(loop);
    if (max_wait_usec >= 0 && (wait < 0 || max_wait_usec < wait))
        wait = max_wait_usec;
    int ms = usec_to_ms(wait);
    size_t k = 0;
    loop->depth++;
#ifdef MTP_HAVE_EPOLL
    if (loop->use_epoll) {
        if (!loop->evs) {
            loop->evs = malloc(64 * sizeof *loop->evs);
            if (!loop->evs) {
                loop->depth--;
                return MTP_ENOMEM;
            }
            loop->evs_cap = 64;
        }
        int r = epoll_wait(loop->epfd, loop->evs, loop->evs_cap, ms);
        if (r < 0) {
            if (errno != EINTR) {
                loop->depth--;
                return MTP_EIO;
            }
            r = 0;
        }
        if (ready_reserve(loop, (size_t)r)) {
            loop->depth--;
            return MTP_ENOMEM;
        }
        for (int i = 0; i < r; i++) {
            uint64_t key = loop->evs[i].data.u64;
            mtp_io_t *io = mtp_net_io_by_fd(loop, (int)(uint32_t)key);
            if (!io || io->gen != (uint32_t)(key >> 32))
                continue;       /* a watcher that no longer exists */
            uint32_t e = loop->evs[i].events;
            unsigned ev = 0;
            if (e & EPOLLIN)
                ev |= MTP_IO_READ;
            if (e & EPOLLOUT)
                ev |= MTP_IO_WRITE;
            if (e & (EPOLLERR | EPOLLHUP))
                ev |= MTP_IO_ERROR | (io->interest & (MTP_IO_READ | MTP_IO_WRITE));
            loop->ready[k].io = io;
            loop->ready[k].ev = ev;
            k++;
        }
        if (r == loop->evs_cap && loop->evs_cap < 4096) {   /* a full batch: take more next time */
            struct epoll_event *ne = realloc(loop->evs, 2 * (size_t)loop->evs_cap * sizeof *ne);
            if (ne) {
                loop->evs = ne;
                loop->evs_cap *= 2;
            }
        }
    } else
#endif
    {
        if (ready_reserve(loop, loop->npfd)) {
            loop->depth--;
            return MTP_ENOMEM;
        }
        int r = poll(loop->pfds, (nfds_t)loop->npfd, ms);
        if (r < 0) {
            if (errno != EINTR) {
                loop->depth--;
                return MTP_EIO;
            }
            r = 0;
        }
        for (size_t i = 0; i < loop->npfd && r > 0; i++) {
            short re = loop->pfds[i].revents;
            if (!re)
                continue;
            r--;
            mtp_io_t *io = loop->pios[i];
            loop->ready[k].io = io;
            loop->ready[k].ev = from_poll(re, io->interest);
            k++;
        }
    }
    return finish_iteration(loop, dispatch(loop, k));
}

static bool loop_alive(const mtp_loop_t *loop)
{
    size_t user_fds = loop->npfd - (loop->wake_io && loop->wake_io->pidx != NOT_IN ? 1 : 0);
    return user_fds > 0 || loop->nheap > 0 || loop->dq_head || loop->wake_cb;
}

int mtp_loop_run(mtp_loop_t *loop)
{
    if (!loop)
        return MTP_EINVAL;
    if (loop->depth)
        return MTP_ESTATE;
    for (;;) {
        if (atomic_exchange(&loop->stop, 0))
            return 0;
        if (!loop_alive(loop))
            return 0;
        int rc = mtp_loop_run_once(loop, -1);
        if (rc < 0)
            return rc;
    }
}
