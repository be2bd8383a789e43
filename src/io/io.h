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

/* corio_recv(st->fd, buf, len, 0) for task t - running, on st's loop
 * (epoll), st registered by corio__fd_watch - without the lookups: the
 * streams' hot path, inlined into corio_reader_read (an echo's message is
 * one park and one recv here).  The readiness rules are io.c's: read while
 * the socket is believed readable; a short read means it is empty (unless
 * the peer closed: no edge would come), so the next call waits first.
 * May suspend t; >= 0 or -errno. */
static inline ssize_t corio__recv_on(corio_task *t, corio__fdstate *st, void *buf, size_t len) {
    if (!st->ready[DIR_READ]) goto wait;
    for (;;) {
        /* A task that always finds data yields when the turn's budget is
         * spent, before the read, so a cancellation there loses nothing. */
        int err = corio__budget_charge(t, CORIO__COST_SYSCALL);
        if (corio__unlikely(err < 0)) return err;
    read:;
        ssize_t r = recv(st->fd, buf, len, 0);
        if (r > 0) {
            if ((size_t)r < len && !st->closed) st->ready[DIR_READ] = false;
            t->loop->budget -= CORIO__COST_BYTES(r);
            return r;
        }
        if (r == 0) return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
        st->ready[DIR_READ] = false;
        st->closed = false; /* EAGAIN: whatever closed, it was not this direction's stream */
    wait:;
        int rc;
        if (corio__likely(!st->waiter[DIR_READ] && (st->interest & EPOLLET))) { /* registered, edge-triggered */
            corio__fdwait w = {t, 0};
            st->waiter[DIR_READ] = &w;
            rc = corio__park(t);
            st->waiter[DIR_READ] = NULL;
            /* An add_writer meanwhile made the registration level-triggered
             * for the directions with a waiter: bring it back. */
            if (corio__unlikely(st->level)) corio__fd_resync(t->loop, st);
            if (rc == 0) rc = w.err;
            if (rc < 0) return rc;
            t->loop->budget -= CORIO__COST_SYSCALL;
            goto read; /* unparked by the edge: readable */
        }
        rc = corio__fd_wait(t, st, DIR_READ); /* the general case, errors included */
        if (rc < 0) return rc;
        if (!st->ready[DIR_READ]) goto wait;
    }
}

#endif
