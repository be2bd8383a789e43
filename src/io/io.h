/*
 * io.h - the I/O layer's shared parts: sockets, streams, protocols and
 * names, over the poll layer.  docs/design.md, "Layers".
 */
#ifndef CORIO_SRC_IO_H
#define CORIO_SRC_IO_H

#include "../backend/backend.h"

ssize_t corio__write_nosigpipe(int fd, const void *buf, size_t n);
/* protocol.c: free loop->ring_bufs (called by corio_loop_close before the ring goes). */
void corio__proto_ring_free(corio_loop *loop);

/* recv for corio__ready_io: a stream socket's read, which is short when
 * the socket has been emptied. */
typedef struct corio__recv_ctx {
    void *buf;
    size_t len;
} corio__recv_ctx;
static inline ssize_t corio__recv_op(int fd, void *c, bool *drained) {
    corio__recv_ctx *x = c;
    ssize_t r = recv(fd, x->buf, x->len, 0);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    *drained = r > 0 && (size_t)r < x->len;
    return r;
}

/* corio_recv(st->fd, buf, len, 0) for task t - running, on st's loop
 * (epoll), st registered by corio__fd_watch - without the lookups: the
 * streams' hot path, inlined into corio_reader_read (an echo's message is
 * one park and one recv here), with the readiness rules of
 * corio__ready_io, which corio_recv and the other operations use too.
 * May suspend t; >= 0 or -errno. */
static inline ssize_t corio__recv_on(corio_task *t, corio__fdstate *st, void *buf, size_t len) {
    corio__recv_ctx x = {buf, len};
    return corio__ready_io(t, st, DIR_READ, corio__recv_op, &x);
}

#endif
