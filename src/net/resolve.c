/*
 * Name resolution that never blocks the loop: literal addresses are parsed on the spot;
 * host names are looked up by a short-lived thread (getaddrinfo has no non-blocking form)
 * that reports back through a pipe watched by the loop, so the answer is delivered on the
 * loop's thread like any other event. One thread per lookup: lookups are rare (a client
 * resolves each DC host once per address change) and this needs no shared queue, no
 * wakeup callback (which a loop shared by several users has only one of) and no state
 * outside the request.
 */
#define _GNU_SOURCE
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mtp_net_parse_literal(const char *host, uint16_t port, struct sockaddr_storage *out,
                          socklen_t *len)
{
    if (!host || !out || !len)
        return MTP_EINVAL;
    char buf[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof buf)
            return MTP_EINVAL;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = 0;
        host = buf;
    }
    memset(out, 0, sizeof *out);
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *len = sizeof *a6;
        return 0;
    }
    return MTP_EINVAL;
}

#define RESOLVE_MAX 8

struct mtp_resolve {
    mtp_loop_t *loop;
    mtp_io_t *io;
    int pipefd[2];
    pthread_t thread;
    char *host;
    uint16_t port;
    mtp_resolve_cb cb;          /* NULL once cancelled */
    void *user;
    int result;                 /* count or MTP_E*, written by the thread */
    struct sockaddr_storage addrs[RESOLVE_MAX];
    socklen_t lens[RESOLVE_MAX];
};

static void *resolve_thread(void *arg)
{
    mtp_resolve_t *r = arg;
    r->result = mtp_net_resolve(r->host, r->port, false, r->addrs, r->lens, RESOLVE_MAX);
    char one = 1;
    ssize_t w;
    do {
        w = write(r->pipefd[1], &one, 1);     /* publishes result (the join orders it) */
    } while (w < 0 && errno == EINTR);
    return NULL;
}

/* The thread has finished or is about to: join it, drop the watcher and the pipe. */
static void resolve_release(mtp_resolve_t *r)
{
    pthread_join(r->thread, NULL);
    mtp_io_remove(r->io);
    close(r->pipefd[0]);
    close(r->pipefd[1]);
    free(r->host);
}

static void resolve_done(mtp_io_t *io, int fd, unsigned events, void *user)
{
    (void)io;
    (void)fd;
    (void)events;
    mtp_resolve_t *r = user;
    resolve_release(r);
    if (r->cb)
        r->cb(r, r->result, r->addrs, r->lens, r->result > 0 ? r->result : 0, r->user);
    free(r);
}

/* The loop is being freed with the lookup still running: wait for the thread, no callback. */
static void resolve_destroy(mtp_io_t *io, void *user)
{
    (void)io;
    resolve_release(user);
    free(user);
}

int mtp_resolve_start(mtp_loop_t *loop, const char *host, uint16_t port, mtp_resolve_cb cb,
                      void *user, mtp_resolve_t **out)
{
    if (!loop || !host || !*host || !cb || !out)
        return MTP_EINVAL;
    if (mtp_net_loop_freeing(loop))
        return MTP_ESTATE;
    mtp_resolve_t *r = calloc(1, sizeof *r);
    if (!r)
        return MTP_ENOMEM;
    r->loop = loop;
    r->port = port;
    r->cb = cb;
    r->user = user;
    r->host = strdup(host);
    if (!r->host || pipe2(r->pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(r->host);
        free(r);
        return MTP_ENOMEM;
    }
    int rc = mtp_io_add(loop, r->pipefd[0], MTP_IO_READ, resolve_done, r, &r->io);
    if (!rc && pthread_create(&r->thread, NULL, resolve_thread, r) != 0) {
        mtp_io_remove(r->io);
        rc = MTP_ENOMEM;
    }
    if (rc) {
        close(r->pipefd[0]);
        close(r->pipefd[1]);
        free(r->host);
        free(r);
        return rc;
    }
    mtp_net_io_set_destroy(r->io, resolve_destroy);
    *out = r;
    return 0;
}

void mtp_resolve_cancel(mtp_resolve_t *r)
{
    if (r)
        r->cb = NULL;       /* freed when the thread reports back (or with the loop) */
}
