/*
 * io.h - the I/O layer's shared parts: sockets, streams, protocols and
 * names, over the poll layer.  docs/design.md, "Layers".
 */
#ifndef CORIO_SRC_IO_H
#define CORIO_SRC_IO_H

#include "../backend/backend.h"

ssize_t corio__write_nosigpipe(int fd, const void *buf, size_t n);
/* Send up to count - *sent more bytes of file `in`, from *pos, to the
 * non-blocking socket `sock` with sendfile(2), from the current task,
 * waiting for room as the loop's backend does (epoll: the socket's
 * readiness; io_uring: a poll in the ring).  Each call is charged to the
 * turn's budget.  *sent and *pos grow with every byte that went, whatever
 * the result.  0 when count bytes went or the file ended; else -errno
 * (sendfile's own, -ECANCELED, -EPERM outside a task).  SUSPENDS. */
int corio__sendfile_native(int sock, int in, off_t *pos, size_t count, size_t *sent);

/* Whether fd has O_NONBLOCK (io.c). */
bool corio__fd_nonblocking(int fd);

/* io.c: fd is a stream's or a transport's from now until it is forgotten
 * (corio_forget_fd, corio_close): corio_add_reader / _writer,
 * corio_remove_reader / _writer and the public reads, writes, waits,
 * accept and connect refuse it with -EBUSY (asyncio's "File descriptor is
 * used by transport").  The layers that own a descriptor use the
 * unchecked corio__add_reader & co below on it. */
void corio__fd_own(corio_loop *loop, int fd);
int corio__add_reader(int fd, corio_callback cb, void *arg);
int corio__add_writer(int fd, corio_callback cb, void *arg);
int corio__remove_reader(int fd);
int corio__remove_writer(int fd);
/* corio_read and corio_recv without that check, for the owner (stream.c's
 * reads).  As the public calls.  SUSPEND. */
ssize_t corio__read(int fd, void *buf, size_t len);
ssize_t corio__recv(int fd, void *buf, size_t len, int flags);
/* stream.c, for corio_writer_sendfile (os/sendfile.c): send the file
 * natively through w, as corio__sendfile_native, after everything
 * written to w before, with w's other writes refused meanwhile.  The
 * writer's error, -ESHUTDOWN or -EBUSY (another sendfile) when w is not
 * open for it; -ENOTSOCK when w is not a plain non-blocking socket stream
 * (a transport's, a pipe's: the caller falls back); else as
 * corio__sendfile_native.  SUSPENDS. */
int corio__writer_sendfile_native(corio_writer *w, int in, off_t *pos, size_t count, size_t *sent);
/* protocol.c: free loop->ring_bufs (called by corio_loop_close before the ring goes). */
void corio__proto_ring_free(corio_loop *loop);

/* ---- wq.c: the write engine under stream writers and protocol transports ---- */

#define CORIO__WQ_BUF_SMALL (8 * 1024)    /* a pool's buffers up to this come from malloc */
#define CORIO__WQ_CLASSES 5               /* a pool caches mapped buffers of 16..256 KiB */
#define CORIO__WQ_KEEP (256 * 1024)       /* an empty queue keeps storage up to this */
/* A write of this much or more with nothing queued is sent at once rather
 * than copied to a coalescing queue: a copy of 16 KiB costs about as much
 * as the system call that coalescing could save. */
#define CORIO__WQ_DIRECT_MIN (16 * 1024)

/* A loop's cache of freed mapped buffers (the protocol layer's: its write
 * queues, sends in flight and held data).  Zeroed to start. */
typedef struct corio__wq_pool {
    char *cache[CORIO__WQ_CLASSES]; /* freed mapped buffers by size class, linked through their first bytes */
    size_t cached;                  /* bytes in cache */
    unsigned nowners;               /* owners alive: the cache's cap grows with them */
    size_t mapped;                  /* bytes of mapped buffers: in use plus cached */
} corio__wq_pool;

/* realloc for queue buffers: make *p (*cap bytes, the first `keep` in
 * use) hold at least `need`, doubling from `first` bytes; pool NULL:
 * malloc.  0, or -ENOMEM with *p unchanged. */
int corio__wq_buf_grow(corio__wq_pool *pool, char **p, size_t *cap, size_t keep, size_t need, size_t first);
/* Free a buffer of cap bytes as corio__wq_buf_grow made it (NULL: nothing). */
void corio__wq_buf_free(corio__wq_pool *pool, char *p, size_t cap);
/* Unmap cached buffers, the biggest first, until the cache fits its cap. */
void corio__wq_pool_trim(corio__wq_pool *pool);
/* Unmap every cached buffer (the loop closes). */
void corio__wq_pool_free(corio__wq_pool *pool);

typedef struct corio__wq corio__wq;
/* What a queue tells its owner, each as the last thing it does. */
typedef struct corio__wq_owner {
    void (*pause)(corio__wq *q);  /* optional: the queue went above high water */
    void (*resume)(corio__wq *q); /* optional: it fell to low water again; may drop the queue */
    void (*failed)(corio__wq *q, int err); /* a send failed: drop the queue and close; may free q */
    void (*closed)(corio__wq *q); /* closing, and everything is sent: close now; may free q */
    void (*released)(corio__wq *q); /* optional: a send in flight at the drop completed, q is idle */
} corio__wq_owner;

struct corio__wq {
    char *p;                   /* the queue: p[start..end) */
    size_t start, end, cap;
    size_t high, low;
    int fd;                    /* -1 until attached, and once dropped */
    union {
        struct {
            bool closing;      /* close asked for (or dropped): nothing more may be written */
            bool eof_pending;  /* shutdown(SHUT_WR) once the queue is sent */
            bool eof_sent;
            bool indirect;     /* not a socket, or sends go through the ring: no direct send */
            bool coalesce;     /* written more than once in an iteration lately: queue, flush at its end */
            bool paused;       /* above high water, not yet back to low water */
            bool unused;       /* the owner writes elsewhere (a stream over a supplied transport) */
            bool sendfiling;   /* a corio_writer_sendfile owns the descriptor: writes wait their turn (-EBUSY) */
        };
        uint32_t no_direct;    /* any of the first four: an owner's inline direct send is off */
        uint64_t flags;        /* all eight at once: the streams' fast paths test several in one load */
    };
    bool is_sock;
    bool ring;                 /* sends go through the io_uring ring */
    bool coalesce_ok;          /* the owner allows coalescing (see wq.c) */
    bool watching;             /* waiting for writability (add_writer, or the owner's hook) */
    bool hooked;               /* the owner holds the fd's events: it calls corio__wq_send_now on the write edge */
    bool sending;              /* io_uring: a send of ip is in the ring */
    unsigned nqueued;          /* writes queued since the last end-of-iteration flush */
    uint64_t sent_iter;        /* loop->iterations of the last direct send */
    char *ip;                  /* io_uring: what the send in flight reads, ip[istart..iend); untouched until it completes */
    size_t istart, iend, icap;
    corio__op sop;             /* io_uring: the send */
    corio__node flush;         /* in loop->ring_flush while queued data waits for the end of the iteration */
    const corio__wq_owner *owner;
    corio__wq_pool *pool;      /* NULL: malloc */
    corio__wq *moved;          /* io_uring: the queue a send in flight here was moved to (corio__wq_move) */
};
_Static_assert(sizeof(bool) == 1, "four bools in no_direct, eight in flags");

/* The `flags` word with only the named flags set, for masks: a constant
 * at -O1 and up, whatever the byte order. */
#define CORIO__WQ_FLAGS(...) (((union { \
    struct { bool closing, eof_pending, eof_sent, indirect, coalesce, paused, unused, sendfiling; }; \
    uint64_t flags; }){{__VA_ARGS__}}).flags)

/* Bytes the kernel has not taken yet: queued plus the rest of a send in flight. */
static inline size_t corio__wq_pending(const corio__wq *q) { return q->end - q->start + q->iend - q->istart; }
/* Set up an empty queue, not attached to a descriptor yet. */
void corio__wq_init(corio__wq *q, const corio__wq_owner *owner, corio__wq_pool *pool, size_t high, size_t low);
/* Write to fd from now on: a socket or not, through the ring or not, coalescing allowed or not. */
void corio__wq_attach(corio__wq *q, int fd, bool is_sock, bool ring, bool coalesce_ok);
/* Take `total` (> 0) bytes of iov: sent at once, or queued and flushed.  0
 * or -errno (a send error: the owner's `failed` has run, as a last thing;
 * -ENOMEM or a failed watch: nothing failed, the caller is told). */
int corio__wq_write(corio__wq *q, const struct iovec *iov, int iovcnt, size_t total);
/* An owner's inline send took n of len bytes (n < len; -1 with errno set):
 * fail on an error, else queue the rest and watch for room. */
int corio__wq_write_rest(corio__wq *q, const void *buf, size_t len, ssize_t n);
/* What corio__wq_write queues for the end of the iteration is sent then by this. */
void corio__wq_flush_run(corio__node *n);
/* Send now what waits for the end of the iteration (a drain lets the data go). */
void corio__wq_kick(corio__wq *q);
/* Send now what waits for the end of the iteration, on io_uring too (a
 * direct non-blocking send when no ring send is in flight). */
void corio__wq_flush_now(corio__wq *q);
/* Send what the kernel takes now (the owner's write edge, or a flush).
 * False when the owner's `failed` or `closed` ran: q may be gone. */
bool corio__wq_send_now(corio__wq *q);
/* Half-close after the queue.  0 or -errno from shutdown. */
int corio__wq_write_eof(corio__wq *q);
/* Close after the queue: true if the owner may close at once (nothing to
 * send, or nothing will send it); else `closed` (or `failed`) comes later. */
bool corio__wq_close(corio__wq *q);
/* Drop the queue now (abort, failure, the close itself): nothing more is
 * sent; a send in flight keeps its buffer until it completes (`released`). */
void corio__wq_drop(corio__wq *q);
/* A send is in the ring: the kernel reads the queue's memory. */
static inline bool corio__wq_busy(const corio__wq *q) { return q->sending; }
/* Free the buffers (not busy). */
void corio__wq_free(corio__wq *q);
/* Move src's whole state - queued bytes, a send in flight, the flush
 * list entry, the write watch, flags and water marks - to dst (set up by
 * corio__wq_init, never attached), and leave src empty and unattached
 * with its owner, pool and water marks.  A send in flight stays in src's
 * record (the kernel reports it there): its completion goes on to dst,
 * and src stays busy (corio__wq_busy) until then, when its owner's
 * `released` runs.  The queue must not be hooked.  0, or -errno from
 * moving the write watch, nothing changed. */
int corio__wq_move(corio__wq *dst, corio__wq *src);
/* New water marks, with pause or resume as they imply. */
void corio__wq_set_limits(corio__wq *q, size_t high, size_t low);

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

/* ---- accept out of resources (both servers: stream.c, protocol.c) ---------------- */

/* How long a server stops accepting after accept failed for lack of
 * descriptors or memory: the client stays in the backlog, and a listener
 * that stays readable is not spun on.  Long enough that other work can
 * free some, short enough that a client barely notices. */
#define CORIO__ACCEPT_BACKOFF 0.1

/* Whether accept's error err (< 0) is that kind: EMFILE, ENFILE, ENOBUFS,
 * ENOMEM - pause, then retry - rather than one client's failure. */
static inline bool corio__accept_exhausted(int err) {
    return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

/* Report such a failure to the current loop's exception handler (asyncio's
 * "socket.accept() out of system resource"); a server says it once until
 * an accept succeeds again (io.c). */
void corio__accept_exhausted_report(int err);

#endif
