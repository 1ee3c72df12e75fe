/* Addresses, socket options, and the listener (accept loop with EMFILE handling). */
#define _GNU_SOURCE
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                     */
/* ------------------------------------------------------------------------------------------ */

int mtp_net_set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return MTP_EIO;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || (!(fdfl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0))
        return MTP_EIO;
    return 0;
}

void mtp_net_tune_tcp(int fd, int sndbuf, int rcvbuf)
{
    int one = 1;
    /* fails harmlessly on non-TCP sockets (socketpairs in tests) */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (sndbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (rcvbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
}

int mtp_net_resolve(const char *host, uint16_t port, bool passive,
                    struct sockaddr_storage *out, socklen_t *lens, int max)
{
    if (!out || !lens || max <= 0)
        return MTP_EINVAL;
    char hostbuf[256];
    const char *h = (host && *host) ? host : NULL;
    if (h && h[0] == '[') {         /* "[::1]" */
        size_t n = strlen(h);
        if (n < 3 || h[n - 1] != ']' || n - 2 >= sizeof hostbuf)
            return MTP_EINVAL;
        memcpy(hostbuf, h + 1, n - 2);
        hostbuf[n - 2] = 0;
        h = hostbuf;
    }
    if (!h && !passive)
        return MTP_EINVAL;
    char serv[8];
    snprintf(serv, sizeof serv, "%u", (unsigned)port);
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int rc = getaddrinfo(h, serv, &hints, &res);
    if (rc != 0 || !res)
        return rc == EAI_MEMORY ? MTP_ENOMEM : MTP_ENOTFOUND;
    int n = 0;
    /* passive with no host: prefer the IPv6 wildcard (dual stack) */
    for (int pass = 0; pass < 2 && n < max; pass++) {
        for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
            if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                ai->ai_addrlen > sizeof *out)
                continue;
            bool first = !h && passive ? ai->ai_family == AF_INET6 : true;
            if ((pass == 0) != first)
                continue;
            memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
            lens[n] = ai->ai_addrlen;
            n++;
        }
    }
    freeaddrinfo(res);
    return n ? n : MTP_ENOTFOUND;
}

char *mtp_net_addr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
    if (!buf || !size)
        return buf;
    buf[0] = 0;
    char ip[INET6_ADDRSTRLEN];
    if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip))
            snprintf(buf, size, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip))
            snprintf(buf, size, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* listener                                                                                    */
/* ------------------------------------------------------------------------------------------ */

#define ACCEPT_BATCH 64
#define EMFILE_PAUSE_USEC 100000

struct mtp_listener {
    mtp_loop_t *loop;
    int fd;
    int spare_fd;           /* reserved so a connection can be accepted and dropped on EMFILE */
    uint16_t port;
    mtp_io_t *io;
    mtp_timer_t *resume;    /* accepting paused after an fd shortage */
    mtp_accept_cb cb;
    void *user;
    bool paused;            /* by the application */
    bool closed;
    uint64_t accepted, dropped;
    mtp_net_defer_t release;
};

static int open_spare(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void listener_update(mtp_listener_t *l)
{
    bool on = !l->paused && !mtp_timer_active(l->resume);
    mtp_io_modify(l->io, on ? MTP_IO_READ : 0);
}

static void resume_cb(mtp_timer_t *t, void *user)
{
    (void)t;
    mtp_listener_t *l = user;
    if (l->spare_fd < 0)
        l->spare_fd = open_spare();
    listener_update(l);
}

/* Out of fds: accept the head of the backlog into the spare slot and close it, so the peer is
 * told at once instead of the readiness staying on (and the loop spinning). */
static bool drop_one(mtp_listener_t *l)
{
    if (l->spare_fd < 0)
        return false;
    close(l->spare_fd);
    l->spare_fd = -1;
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        l->dropped++;
    }
    l->spare_fd = open_spare();
    return fd >= 0 && l->spare_fd >= 0;
}

static void accept_ready(mtp_io_t *io, int lfd, unsigned events, void *user)
{
    (void)io;
    (void)events;
    mtp_listener_t *l = user;
    for (int i = 0; i < ACCEPT_BATCH && !l->closed && !l->paused; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
#if EWOULDBLOCK != EAGAIN
            case EWOULDBLOCK:
#endif
                return;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                if (drop_one(l))
                    continue;
                /* cannot even drop one: stop accepting for a moment */
                mtp_timer_start(l->resume, EMFILE_PAUSE_USEC);
                listener_update(l);
                return;
            case EBADF:
            case EFAULT:
            case EINVAL:
            case ENOTSOCK:
            case EOPNOTSUPP:
                /* not a listening socket any more: stop, rather than spin on it */
                mtp_io_modify(l->io, 0);
                return;
            default:
                /* ECONNABORTED, EINTR, EPROTO, EPERM and the network errors Linux passes
                 * through from the new connection: that one is gone; try the next */
                continue;
            }
        }
        l->accepted++;
        mtp_net_tune_tcp(fd, 0, 0);
        l->cb(l, fd, (struct sockaddr *)&ss, len, l->user);     /* owns fd; may free l */
    }
}

static void listener_release(mtp_net_defer_t *d)
{
    free((mtp_listener_t *)((char *)d - offsetof(mtp_listener_t, release)));
}

void mtp_listener_free(mtp_listener_t *l)
{
    if (!l || l->closed)
        return;
    l->closed = true;
    mtp_io_remove(l->io);
    l->io = NULL;
    mtp_timer_free(l->resume);
    l->resume = NULL;
    close(l->fd);
    l->fd = -1;
    if (l->spare_fd >= 0)
        close(l->spare_fd);
    l->spare_fd = -1;
    if (mtp_net_loop_busy(l->loop)) {
        l->release.fn = listener_release;
        mtp_net_defer(l->loop, &l->release);
    } else {
        free(l);
    }
}

static void listener_destroy(mtp_io_t *io, void *user)
{
    (void)io;
    mtp_listener_free(user);
}

int mtp_listener_new(mtp_loop_t *loop, const char *host, uint16_t port,
                     const mtp_listen_opts_t *opts, mtp_accept_cb cb, void *user,
                     mtp_listener_t **out)
{
    if (!loop || !cb || !out)
        return MTP_EINVAL;
    mtp_listen_opts_t o = { 0 };
    if (opts)
        o = *opts;
    struct sockaddr_storage addrs[8];
    socklen_t lens[8];
    int na = mtp_net_resolve(host, port, true, addrs, lens, 8);
    if (na < 0)
        return na;
    int fd = -1, err = MTP_EIO;
    for (int i = 0; i < na && fd < 0; i++) {
        int fam = addrs[i].ss_family;
        fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0) {
            err = (errno == EMFILE || errno == ENFILE || errno == ENOMEM) ? MTP_ENOMEM : MTP_EIO;
            continue;
        }
        int one = 1, v6only = o.v6only ? 1 : 0;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (o.reuseport)
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (fam == AF_INET6)
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
        mtp_net_tune_tcp(fd, o.sndbuf, o.rcvbuf);
        if (bind(fd, (struct sockaddr *)&addrs[i], lens[i]) != 0 ||
            listen(fd, o.backlog > 0 ? o.backlog : SOMAXCONN) != 0) {
            err = errno == EADDRINUSE || errno == EACCES ? MTP_ESTATE : MTP_EIO;
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        return err;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    uint16_t bport = port;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0) {
        if (bound.ss_family == AF_INET)
            bport = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        else if (bound.ss_family == AF_INET6)
            bport = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    mtp_listener_t *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return MTP_ENOMEM;
    }
    l->loop = loop;
    l->fd = fd;
    l->port = bport;
    l->cb = cb;
    l->user = user;
    l->spare_fd = open_spare();
    l->resume = mtp_timer_new(loop, resume_cb, l);
    int rc = l->resume ? mtp_io_add(loop, fd, MTP_IO_READ, accept_ready, l, &l->io) : MTP_ENOMEM;
    if (rc) {
        mtp_timer_free(l->resume);
        if (l->spare_fd >= 0)
            close(l->spare_fd);
        close(fd);
        free(l);
        return rc;
    }
    mtp_net_io_set_destroy(l->io, listener_destroy);
    *out = l;
    return 0;
}

uint16_t mtp_listener_port(const mtp_listener_t *l)
{
    return l ? l->port : 0;
}

int mtp_listener_fd(const mtp_listener_t *l)
{
    return l ? l->fd : -1;
}

int mtp_listener_pause(mtp_listener_t *l, bool paused)
{
    if (!l || l->closed)
        return MTP_EINVAL;
    l->paused = paused;
    listener_update(l);
    return 0;
}

uint64_t mtp_listener_dropped(const mtp_listener_t *l)
{
    return l ? l->dropped : 0;
}

uint64_t mtp_listener_accepted(const mtp_listener_t *l)
{
    return l ? l->accepted : 0;
}
