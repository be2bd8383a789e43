/*
 * stream.c - asyncio streams: StreamReader, StreamWriter (with the write
 * half of a transport underneath) and a server with a task per client.
 *
 * One `conn` holds both halves and the descriptor.  The reader is driven
 * by the task that calls it: it reads into its own buffer with corio_read
 * only when a call needs more, and consumes bytes only when a call
 * succeeds, which is what makes every reader call cancel-safe (corio_read
 * itself never delivers bytes to a cancelled caller).
 *
 * The writer is the write engine's (wq.c), as a protocol transport's: a
 * write with nothing queued goes straight to the kernel, so a request's
 * answer costs one send; a connection written to more than once in one
 * loop iteration coalesces its writes into one send at the end of the
 * iteration; what the kernel does not take is written on the write edge,
 * whether or not anyone calls drain; under io_uring the queue goes to the
 * kernel in one ring send, with no system call of its own.  Flow control
 * is asyncio's: above high_water the writer is "paused" and drain waits
 * until the flush brings it down to low_water.  The two hot cases of
 * corio_writer_write (one send; a copy to a coalescing queue) are inlined
 * here over the engine's fields.
 */
#include "io.h"

#include <corio/transport.h>

#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#if CORIO_HAVE_URING
#include <liburing.h>
#endif

#define READ_CHUNK (64 * 1024) /* one read's room; also asyncio's default limit */
#define DIRECT_READ_MIN 4096   /* corio_reader_read of this much or more bypasses an empty buffer */

typedef struct bytebuf {
    char *p;
    size_t start, end, cap; /* live bytes are p[start..end) */
} bytebuf;

static size_t bb_len(const bytebuf *b) { return b->end - b->start; }

/* Make room for `want` more bytes after end.  0 or -ENOMEM. */
static int bb_reserve(bytebuf *b, size_t want) {
    if (b->cap - b->end >= want) return 0;
    if (b->start) { /* slide the live bytes down first */
        memmove(b->p, b->p + b->start, bb_len(b));
        b->end -= b->start;
        b->start = 0;
        if (b->cap - b->end >= want) return 0;
    }
    size_t n = b->cap ? b->cap : 1024; /* small first: an idle connection may keep it */
    while (n - b->end < want) n *= 2;
    char *p = corio__realloc(b->p, n);
    if (!p) return -ENOMEM;
    b->p = p;
    b->cap = n;
    return 0;
}

static void bb_consume(bytebuf *b, size_t n) {
    b->start += n;
    if (b->start == b->end) b->start = b->end = 0;
}

static void bb_free(bytebuf *b) {
    corio__free(b->p);
    memset(b, 0, sizeof *b);
}

struct corio_reader {
    struct conn *c;
    bytebuf buf;
    size_t pending;  /* bytes of the last view to consume at the next call */
    size_t limit;
    size_t chunk;    /* room to offer the next read: 4 KiB, doubling up to 64 KiB while reads fill it,
                        so an idle connection holds a small buffer and a busy one reads in big gulps */
    union {
        struct {
            int err;     /* sticky connection error, 0 if none */
            bool eof;    /* read returned 0, or the descriptor was closed */
            bool zero_[3]; /* always false: `ended` is err and eof */
        };
        uint64_t ended;  /* err or eof: the read fast path tests both at once */
    };
};
_Static_assert(sizeof(int) == 4 && sizeof(bool) == 1, "err and eof fill `ended`");

struct corio_writer {
    struct conn *c;
    corio__wq q;         /* the write queue (wq.c): water marks, closing, half-close, flush */
    int err;             /* the error that ended writing, 0 if none */
    corio_list drainers; /* corio__waiter: tasks in drain */
    corio_list closers;  /* corio__waiter: tasks in wait_closed */
};

typedef struct conn {
    int fd;            /* -1 once closed */
    bool is_sock;
    bool reader_held, writer_held; /* handles not yet released */
    bool tclosed;      /* a supplied transport: its close (or abort) has been called */
    bool taborted;     /* ... and its abort */
    bool treading;     /* a task is in the transport's read */
    bool tdraining;    /* ... in its drain */
    bool first_direct; /* io_uring, accepted: the first read tries recv() before the ring */
    const corio_transport_ops *tops; /* a supplied transport (corio_stream_open_transport), else NULL */
    void *tctx;        /* its context, released with the connection */
    struct conn *below; /* pushed with CORIO_TRANSPORT_WRITES_BELOW over a descriptor: the stream
                           below, whose writer holds what the transport wrote (the transport
                           owns its handles, so it outlives our use), else NULL */
    corio__fdstate *st; /* epoll, sockets: the fd's readiness state, once a read looked it up */
    uint64_t st_loop;   /* the serial of the loop st belongs to (0: none); not its address,
                           which a later loop may reuse after st was freed with the first */
    struct server_conn *sconn; /* a server's connection: its record while the handler runs (set
                                  when it starts, cleared when it returns, or when a detached
                                  connection is freed first), for corio_server_detach; else NULL */
    corio_reader r;
    corio_writer w;
} conn;

static void server_conn_gone(struct server_conn *sc);

static void conn_maybe_free(conn *c) {
    /* A send in the ring still reads the queue's memory: its completion
     * comes back here (the queue's `released`). */
    if (c->reader_held || c->writer_held || c->fd >= 0 || corio__wq_busy(&c->w.q)) return;
    if (c->sconn) server_conn_gone(c->sconn); /* detached, and freed while its handler still runs */
    if (c->tops) {
        if (!c->tclosed) {
            c->tclosed = true;
            c->tops->close(c->tctx);
        }
        c->tops->release(c->tctx);
    }
    bb_free(&c->r.buf);
    corio__wq_free(&c->w.q);
    corio__free(c);
}

static void wake_all(corio_list *l) {
    corio__list_foreach(it, l) {
        corio__waiter *wt = corio__container_of(it, corio__waiter, link);
        if (wt->fut.state == CORIO__PENDING) corio__future_complete(&wt->fut, CORIO__DONE, 0, 0);
    }
}

/* Close the descriptor now: whatever is queued is dropped. */
static void finish_close(conn *c) {
    corio_writer *w = &c->w;
    w->q.closing = true; /* before the transport's abort: nothing more is written from here */
    if (c->tops && !c->taborted) {
        c->taborted = true;
        if (c->tops->abort) c->tops->abort(c->tctx);
        else if (!c->tclosed) c->tops->close(c->tctx);
        c->tclosed = true;
    }
    corio__wq_drop(&w->q); /* queued data is dropped; a send in flight keeps its buffer until it completes */
    if (c->fd >= 0) {
        corio_close(c->fd); /* wakes a reader waiting on it with -EBADF: it then sees EOF */
        c->fd = -1;
    }
    c->r.eof = true;
    wake_all(&w->drainers);
    wake_all(&w->closers);
    conn_maybe_free(c);
}

static void writer_fail(conn *c, int err) {
    c->w.err = err;
    finish_close(c);
}

/* ---- the write queue's owner callbacks (wq.c) ------------------------------------- */

static conn *wq_conn(corio__wq *q) { return corio__container_of(q, corio_writer, q)->c; }
static void wq_resume(corio__wq *q) { wake_all(&wq_conn(q)->w.drainers); }
static void wq_failed(corio__wq *q, int err) { writer_fail(wq_conn(q), err); }
static void wq_closed(corio__wq *q) { finish_close(wq_conn(q)); }
/* A send cancelled by the close completed: the record may be freed now. */
static void wq_released(corio__wq *q) { conn_maybe_free(wq_conn(q)); }

static const corio__wq_owner wq_owner = {
    .resume = wq_resume, .failed = wq_failed, .closed = wq_closed, .released = wq_released,
};

static int check_handle(const void *h, const char *fn) {
    if (!h) return corio__bad(-EINVAL, "%s: NULL", fn);
    return 0;
}

/* ---- opening ------------------------------------------------------------------ */

/* A connection with its reader and writer set up from opts, nothing open yet.
 * A one-way stream (a pipe end) has only one handle; the other half is
 * initialised all the same but never handed out. */
static conn *conn_new(const corio_stream_opts *opts, bool reader, bool writer) {
    static const corio_stream_opts defaults = {0};
    const corio_stream_opts *o = opts ? opts : &defaults;
    conn *c = corio__calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    c->reader_held = reader;
    c->writer_held = writer;
    c->r.c = c;
    c->r.limit = o->limit ? o->limit : CORIO_STREAM_LIMIT;
    c->r.chunk = 4096;
    c->w.c = c;
    size_t high = o->high_water ? o->high_water : CORIO_STREAM_HIGH_WATER;
    size_t low = o->low_water ? o->low_water : high / 4;
    if (low > high) low = high;
    corio__wq_init(&c->w.q, &wq_owner, NULL, high, low);
    corio__list_init(&c->w.drainers);
    corio__list_init(&c->w.closers);
    return c;
}

/* corio_stream_open; is_sock 1 when the caller knows fd is a socket (the
 * server's accepted ones: no getsockopt per connection), -1 to find out. */
static int stream_open_fd(int fd, int is_sock, const corio_stream_opts *opts, corio_reader **r, corio_writer **w) {
    if (fd < 0) return corio__bad(-EBADF, "corio_stream_open: negative fd");
    if (!r && !w) return corio__bad(-EINVAL, "corio_stream_open: NULL reader and writer out pointers");
    conn *c = conn_new(opts, r != NULL, w != NULL);
    if (!c) return -ENOMEM;
    c->fd = fd;
    if (is_sock < 0) {
        int type = 0;
        socklen_t tl = sizeof type;
        is_sock = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
    }
    c->is_sock = is_sock;
    /* io_uring sends for sockets; a pipe keeps the direct write (with
     * SIGPIPE held back), which a ring write to a pipe without a reader
     * would raise. */
    corio__wq_attach(&c->w.q, fd, c->is_sock, c->is_sock && corio__cur_loop && corio__ring_on(corio__cur_loop), true);
    if (corio__cur_loop) corio__fd_own(corio__cur_loop, fd);
    if (r) *r = &c->r;
    if (w) *w = &c->w;
    return 0;
}

int corio_stream_open(int fd, const corio_stream_opts *opts, corio_reader **r, corio_writer **w) {
    return stream_open_fd(fd, -1, opts, r, w);
}

int corio_stream_open_transport(const corio_transport_ops *ops, void *ctx, const corio_stream_opts *opts,
                                corio_reader **r, corio_writer **w) {
    if (!ops || !ops->read || !ops->write || !ops->buffered || !ops->close || !ops->release)
        return corio__bad(-EINVAL, "corio_stream_open_transport: read, write, buffered, close and release are required");
    if (!r && !w) return corio__bad(-EINVAL, "corio_stream_open_transport: NULL reader and writer out pointers");
    conn *c = conn_new(opts, r != NULL, w != NULL);
    if (!c) return -ENOMEM;
    c->tops = ops;
    c->tctx = ctx;
    c->w.q.unused = true; /* the queue stays unattached: the writer's fast paths are for descriptors */
    if (r) *r = &c->r;
    if (w) *w = &c->w;
    return 0;
}

void *corio_writer_transport(const corio_writer *w) { return w ? w->c->tctx : NULL; }
void *corio_reader_transport(const corio_reader *r) { return r ? r->c->tctx : NULL; }

static void settle(corio_reader *r);

/* A task is suspended in a read on c's byte path: parked for readiness
 * (epoll), with a read in the ring (io_uring), or in the transport's read. */
static bool read_parked(const conn *c) {
    if (c->tops) return c->treading;
    corio_loop *loop = corio__cur_loop;
    if (c->fd < 0 || !loop || (size_t)c->fd >= loop->nfds || !loop->fds[c->fd]) return false;
    const corio__fdstate *st = loop->fds[c->fd];
    return st->waiter[DIR_READ] || st->ring_reading;
}

int corio_stream_push_transport(corio_reader *r, corio_writer *w, const corio_transport_ops *ops, void *ctx,
                                corio_reader **below_r, corio_writer **below_w) {
    if (!r || !w || r->c != w->c || !below_r || !below_w)
        return corio__bad(-EINVAL, "corio_stream_push_transport: not the two handles of one stream");
    if (!ops || !ops->read || !ops->write || !ops->buffered || !ops->close || !ops->release)
        return corio__bad(-EINVAL, "corio_stream_push_transport: read, write, buffered, close and release are required");
    conn *c = r->c;
    if (!c->reader_held || !c->writer_held)
        return corio__bad(-EINVAL, "corio_stream_push_transport: a handle was released");
    if (w->err || w->q.closing || w->q.eof_pending || w->q.eof_sent || c->tclosed || (c->fd < 0 && !c->tops))
        return corio__bad(-EBUSY, "corio_stream_push_transport: the writer is closing, closed or failed");
    if (read_parked(c) || c->tdraining || !corio__list_empty(&w->drainers) || !corio__list_empty(&w->closers))
        return corio__bad(-EBUSY, "corio_stream_push_transport: a task waits on the stream");
    settle(r); /* a view handed out earlier is done with, as at the next call on r */
    conn *b = conn_new(NULL, true, true);
    if (!b) return -ENOMEM;
    int rc = corio__wq_move(&b->w.q, &w->q);
    if (rc < 0) {
        corio__wq_free(&b->w.q);
        corio__free(b);
        return rc;
    }
    /* The byte path goes below: descriptor (and its readiness state) or transport, the bytes held. */
    b->fd = c->fd;
    b->is_sock = c->is_sock;
    b->tops = c->tops;
    b->tctx = c->tctx;
    b->below = c->below;
    b->st = c->st;
    b->st_loop = c->st_loop;
    b->first_direct = c->first_direct; /* a first read not yet made goes below with the descriptor */
    c->first_direct = false;
    b->r.buf = r->buf;
    b->r.limit = r->limit;
    b->r.chunk = r->chunk;
    b->r.ended = r->ended;
    /* r and w start again over ops/ctx, with their limits and marks. */
    c->fd = -1;
    c->is_sock = false;
    c->tops = ops;
    c->tctx = ctx;
    c->below = (ops->flags & CORIO_TRANSPORT_WRITES_BELOW) && !b->tops ? b : NULL;
    c->st = NULL;
    c->st_loop = 0;
    memset(&r->buf, 0, sizeof r->buf);
    r->ended = 0;
    r->chunk = 4096;
    w->q.unused = true; /* the queue stays unattached: the writer's fast paths are for descriptors */
    *below_r = &b->r;
    *below_w = &b->w;
    return 0;
}

int corio_open_connection_opts(const char *host, int port, const corio_connect_opts *copts,
                               const corio_stream_opts *sopts, corio_reader **r, corio_writer **w) {
    if (!r || !w) return corio__bad(-EINVAL, "corio_open_connection: NULL out pointer");
    int fd = corio_tcp_connect_opts(host, port, copts);
    if (fd < 0) return fd;
    int rc = corio_stream_open(fd, sopts, r, w);
    if (rc < 0) corio_close(fd);
    return rc;
}

int corio_open_connection(const char *host, int port, corio_reader **r, corio_writer **w) {
    return corio_open_connection_opts(host, port, NULL, NULL, r, w);
}

int corio_open_unix_connection(const char *path, corio_reader **r, corio_writer **w) {
    if (!r || !w) return corio__bad(-EINVAL, "corio_open_unix_connection: NULL out pointer");
    int fd = corio_unix_connect(path);
    if (fd < 0) return fd;
    int rc = corio_stream_open(fd, NULL, r, w);
    if (rc < 0) corio_close(fd);
    return rc;
}

/* ---- reader --------------------------------------------------------------------- */

/* Drop the last view's bytes: they were handed out by the previous call. */
static void settle(corio_reader *r) {
    if (r->pending) {
        bb_consume(&r->buf, r->pending);
        r->pending = 0;
    }
    /* A big readexactly or read_to_eof grew the buffer: once it is empty,
     * give the memory back rather than keep it for an idle connection. */
    if (!bb_len(&r->buf) && r->buf.cap > 4 * READ_CHUNK) bb_free(&r->buf);
}

/* A reader call is work for the turn even when the buffer serves it: a
 * task that finds lines waiting yields when the turn's budget is spent
 * (core.h), as one that finds its socket always ready does.  Before
 * anything is consumed, so a cancellation met there loses nothing. */
static int reader_charge(void) {
    corio_task *t = corio__current();
    return t ? corio__budget_charge(t, 1) : 0;
}

/* One read from the descriptor, which may suspend.  A socket on an epoll
 * loop goes straight to its readiness state (looked up once and kept: it
 * saves a third of a short read's instructions); everything else through
 * corio_recv / corio_read. */
static ssize_t conn_read(conn *c, void *buf, size_t n) {
    if (c->is_sock) {
        corio_task *t = corio__current();
        if (t && t->loop->serial == c->st_loop && c->st->interest) return corio__recv_on(t, c->st, buf, n);
        if (t && !corio__ring_on(t->loop)) {
            int err = 0;
            c->st_loop = 0;
            if ((c->st = corio__fd_watch(t->loop, c->fd, &err))) {
                c->st_loop = t->loop->serial;
                return corio__recv_on(t, c->st, buf, n);
            }
        }
        if (corio__unlikely(c->first_direct) && !(t && t->must_cancel)) {
            /* A client that just connected has usually sent its request
             * already: take it now rather than a ring receive submitted at
             * the next poll and reaped one later - two iterations, each
             * behind every busy connection's turn. */
            c->first_direct = false;
            ssize_t k = recv(c->fd, buf, n, MSG_DONTWAIT);
            if (k > 0 && t) t->loop->budget -= CORIO__COST_BYTES(k);
            if (k >= 0) return k;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -errno;
        }
        return corio__recv(c->fd, buf, n, 0);
    }
    if (c->tops) {
        c->treading = true;
        ssize_t k = c->tops->read(c->tctx, buf, n);
        c->treading = false;
        return k;
    }
    return corio__read(c->fd, buf, n);
}

/* Read once from the descriptor into the buffer.  >0 bytes, 0 at EOF, or -errno. */
static ssize_t fill(corio_reader *r) {
    if (r->err) return r->err;
    if (r->eof) return 0;
    conn *c = r->c;
    if (c->fd < 0 && !c->tops) {
        r->eof = true;
        return 0;
    }
    int rc = bb_reserve(&r->buf, r->chunk);
    if (rc < 0) return rc;
    size_t room = r->buf.cap - r->buf.end;
    ssize_t n = conn_read(c, r->buf.p + r->buf.end, room);
    if (n > 0) {
        r->buf.end += (size_t)n;
        /* A read that filled the room asks for a bigger one next time. */
        if ((size_t)n == room && r->chunk < READ_CHUNK) r->chunk *= 2;
        return n;
    }
    if (n == 0 || (n == -EBADF && c->fd < 0)) { /* end of stream, or our writer closed it */
        r->eof = true;
        return 0;
    }
    /* A connection error sticks (asyncio set_exception); a cancellation or
     * misuse does not. */
    if (n != -ECANCELED && n != -EBUSY && n != -EPERM && n != -ENOMEM && n != -EINTR) r->err = (int)n;
    return n;
}

/* What a direct read's result k means for the reader: EOF, a sticky error,
 * or data.  Returns k, or 0 at EOF. */
static ssize_t direct_read_end(corio_reader *r, ssize_t k) {
    if (k == 0 || (k == -EBADF && r->c->fd < 0)) { /* end of stream, or our writer closed it */
        r->eof = true;
        return 0;
    }
    if (k < 0 && k != -ECANCELED && k != -EBUSY && k != -EPERM && k != -EINTR) r->err = (int)k;
    return k;
}

__attribute__((noinline)) static ssize_t reader_read_slow(corio_reader *r, void *buf, size_t n) {
    if (check_handle(r, "corio_reader_read") || (!buf && n)) return -EINVAL;
    settle(r);
    if (n == 0) return 0;
    int crc = reader_charge();
    if (crc < 0) return crc;
    if (!bb_len(&r->buf)) {
        if (r->err) return r->err;
        if (r->eof || (r->c->fd < 0 && !r->c->tops)) return 0;
        if (n >= DIRECT_READ_MIN) {
            /* With nothing buffered, reads of a page or more go straight to
             * the caller: one read, which is cancel-safe by itself, and no
             * copy (a 1 KiB echo message cost 180 instructions copied). */
            ssize_t k = conn_read(r->c, buf, n);
            return k > 0 ? k : direct_read_end(r, k);
        }
        ssize_t k = fill(r);
        if (k <= 0) return k;
    }
    size_t m = bb_len(&r->buf) < n ? bb_len(&r->buf) : n;
    memcpy(buf, r->buf.p + r->buf.start, m);
    bb_consume(&r->buf, m);
    return (ssize_t)m;
}

ssize_t corio_reader_read(corio_reader *r, void *buf, size_t n) {
    /* The hot case (an echo's every message): nothing buffered, a read of a
     * page or more, a socket whose readiness state is known on this epoll
     * loop - one inlined read (corio__recv_on, io.h).  Everything
     * else, errors included, takes the general path. */
    corio_loop *loop = corio__cur_loop;
    if (corio__likely(r && n >= DIRECT_READ_MIN && buf && !(r->buf.end | r->ended) && loop)) {
        /* An empty buffer has end 0 (bb_consume, bb_free), so end alone
         * says "nothing buffered".  Implied, so not tested: nothing
         * pending (a view's bytes are still buffered), the fd open
         * (closing it sets eof), st registered (corio__recv_on
         * re-registers it if not).  The reader sits in its connection:
         * no load for c. */
        conn *c = corio__container_of(r, conn, r);
        corio_task *t;
        if (corio__likely(loop->serial == c->st_loop && (t = loop->current))) {
            ssize_t k = corio__recv_on(t, c->st, buf, n);
            return k > 0 ? k : direct_read_end(r, k);
        }
        /* A stream over a supplied transport (a TLS stream's every read):
         * the general path's work without its tests - a turn's charge
         * (before the read, so a cancellation there loses nothing), one
         * ops->read, what its result means.  (Split off into a function
         * reached by a jump, as writer_write_send, it saved this path 6
         * instructions and cost the socket path 2.) */
        if (c->tops && (t = loop->current)) {
            int crc = corio__budget_charge(t, 1);
            if (crc < 0) return crc;
            c->treading = true;
            ssize_t k = c->tops->read(c->tctx, buf, n);
            c->treading = false;
            return k > 0 ? k : direct_read_end(r, k);
        }
    }
    return reader_read_slow(r, buf, n);
}

ssize_t corio_reader_read_below(corio_reader *r, void *buf, size_t n) {
    /* corio_reader_read's socket case, without the checks that the
     * transport above has made (r and buf given); everything else through
     * corio_reader_read. */
    corio_loop *loop = corio__cur_loop;
    if (corio__likely(n >= DIRECT_READ_MIN && !(r->buf.end | r->ended) && loop)) {
        conn *c = corio__container_of(r, conn, r);
        corio_task *t;
        if (corio__likely(loop->serial == c->st_loop && (t = loop->current))) {
            ssize_t k = corio__recv_on(t, c->st, buf, n);
            return k > 0 ? k : direct_read_end(r, k);
        }
    }
    return corio_reader_read(r, buf, n);
}

/* Fill until EOF or more than `most` bytes are buffered.  0 at EOF, -ENOBUFS, -errno. */
static int fill_to_eof(corio_reader *r, size_t most) {
    for (;;) {
        if (bb_len(&r->buf) > most) return -ENOBUFS;
        ssize_t k = fill(r);
        if (k == 0) return 0;
        if (k < 0) return (int)k;
    }
}

ssize_t corio_reader_read_to_eof(corio_reader *r, void *buf, size_t cap) {
    if (check_handle(r, "corio_reader_read_to_eof") || (!buf && cap)) return -EINVAL;
    settle(r);
    int rc = fill_to_eof(r, cap);
    if (rc < 0) return rc;
    size_t m = bb_len(&r->buf);
    if (m) memcpy(buf, r->buf.p + r->buf.start, m);
    bb_consume(&r->buf, m);
    return (ssize_t)m;
}

int corio_reader_read_all(corio_reader *r, char **out, size_t *len) {
    if (check_handle(r, "corio_reader_read_all") || !out || !len) return -EINVAL;
    *out = NULL;
    *len = 0;
    settle(r);
    int rc = fill_to_eof(r, SIZE_MAX - 1);
    if (rc < 0) return rc;
    size_t m = bb_len(&r->buf);
    char *p = malloc(m + 1); /* the caller frees it with free(): not corio__malloc */
    if (!p) return -ENOMEM;
    if (m) memcpy(p, r->buf.p + r->buf.start, m);
    p[m] = 0;
    bb_consume(&r->buf, m);
    *out = p;
    *len = m;
    return 0;
}

/* Find sep in the buffer from `from`; the offset of its start, or SIZE_MAX. */
static size_t find_sep(const corio_reader *r, size_t from, const char *sep, size_t seplen) {
    size_t have = bb_len(&r->buf);
    if (have < seplen) return SIZE_MAX;
    const char *base = r->buf.p + r->buf.start;
    for (size_t i = from; i + seplen <= have; i++) {
        const char *hit = memchr(base + i, sep[0], have - seplen + 1 - i);
        if (!hit) return SIZE_MAX;
        i = (size_t)(hit - base);
        if (memcmp(hit, sep, seplen) == 0) return i;
    }
    return SIZE_MAX;
}

/*
 * The core of readuntil and readline.  Returns 0 with the separator's
 * offset in *at; CORIO_EINCOMPLETE at EOF; -ENOBUFS past the limit (with
 * *at = SIZE_MAX when the separator has not come); another -errno.  Never
 * consumes anything.
 */
static int scan_until(corio_reader *r, const char *sep, size_t seplen, size_t *at) {
    size_t from = 0;
    for (;;) {
        size_t i = find_sep(r, from, sep, seplen);
        if (i != SIZE_MAX) {
            *at = i;
            return i > r->limit ? -ENOBUFS : 0;
        }
        size_t have = bb_len(&r->buf);
        /* asyncio: "Separator is not found, and chunk exceed the limit"
         * once the bytes searched (have + 1 - seplen) pass the limit. */
        if (have + 1 > r->limit + seplen) {
            *at = SIZE_MAX;
            return -ENOBUFS;
        }
        from = have >= seplen ? have - seplen + 1 : 0;
        ssize_t k = fill(r);
        if (k == 0) return CORIO_EINCOMPLETE;
        if (k < 0) return (int)k;
    }
}

int corio_reader_readuntil(corio_reader *r, const void *sep, size_t seplen, const char **data, size_t *len) {
    if (check_handle(r, "corio_reader_readuntil") || !data || !len) return -EINVAL;
    if (!sep || seplen == 0) return corio__bad(-EINVAL, "corio_reader_readuntil: empty separator");
    settle(r);
    *data = r->buf.p ? r->buf.p + r->buf.start : "";
    *len = 0;
    int crc = reader_charge();
    if (crc < 0) return crc;
    size_t at = 0;
    int rc = scan_until(r, sep, seplen, &at);
    *data = r->buf.p ? r->buf.p + r->buf.start : "";
    if (rc == 0) {
        *len = r->pending = at + seplen;
    } else if (rc == CORIO_EINCOMPLETE) {
        *len = r->pending = bb_len(&r->buf); /* the partial data, consumed (asyncio) */
    }
    return rc;
}

/*
 * scan_until over several separators (asyncio 3.13's readuntil with a
 * tuple), asyncio's algorithm: search each separator from `offset`, the
 * first byte where none can have started yet, and take the match that
 * ends first; between matches that end together the shorter separator
 * wins (asyncio tries them shortest first, in the caller's order among
 * equals), and the limit is checked against where that one starts.
 * Returns 0 with the match's start in *at and the index of its separator
 * in *which; CORIO_EINCOMPLETE at EOF; -ENOBUFS past the limit; another
 * -errno.  Never consumes anything.
 */
static int scan_until_any(corio_reader *r, const struct iovec *seps, int nseps, size_t minlen, size_t maxlen,
                          size_t *at, int *which) {
    size_t offset = 0;
    for (;;) {
        size_t have = bb_len(&r->buf);
        if (have - offset >= minlen) {
            size_t best_end = SIZE_MAX, best_len = 0;
            for (int k = 0; k < nseps; k++) {
                size_t len = seps[k].iov_len;
                size_t i = find_sep(r, offset, seps[k].iov_base, len);
                if (i == SIZE_MAX) continue;
                if (i + len < best_end || (i + len == best_end && len < best_len)) {
                    best_end = i + len;
                    best_len = len;
                    *which = k;
                }
            }
            if (best_end != SIZE_MAX) {
                *at = best_end - best_len;
                return *at > r->limit ? -ENOBUFS : 0;
            }
            /* No separator can start before this any more: the longest
             * one starting here would still lack a byte. */
            offset = have + 1 > maxlen ? have + 1 - maxlen : 0;
            if (offset > r->limit) return -ENOBUFS;
        }
        ssize_t k = fill(r);
        if (k == 0) return CORIO_EINCOMPLETE;
        if (k < 0) return (int)k;
    }
}

int corio_reader_readuntil_any(corio_reader *r, const struct iovec *seps, int nseps, const char **data, size_t *len,
                               int *which) {
    if (which) *which = -1;
    if (check_handle(r, "corio_reader_readuntil_any") || !data || !len) return -EINVAL;
    if (!seps || nseps <= 0)
        return corio__bad(-EINVAL, "corio_reader_readuntil_any: no separator (asyncio: at least one element)");
    size_t minlen = SIZE_MAX, maxlen = 0;
    for (int k = 0; k < nseps; k++) {
        if (!seps[k].iov_base || !seps[k].iov_len)
            return corio__bad(-EINVAL, "corio_reader_readuntil_any: separator %d is NULL or empty", k);
        if (seps[k].iov_len < minlen) minlen = seps[k].iov_len;
        if (seps[k].iov_len > maxlen) maxlen = seps[k].iov_len;
    }
    settle(r);
    *data = r->buf.p ? r->buf.p + r->buf.start : "";
    *len = 0;
    int crc = reader_charge();
    if (crc < 0) return crc;
    size_t at = 0;
    int k = -1;
    int rc = scan_until_any(r, seps, nseps, minlen, maxlen, &at, &k);
    *data = r->buf.p ? r->buf.p + r->buf.start : "";
    if (rc == 0) {
        *len = r->pending = at + seps[k].iov_len;
        if (which) *which = k;
    } else if (rc == CORIO_EINCOMPLETE) {
        *len = r->pending = bb_len(&r->buf); /* the partial data, consumed (asyncio) */
    }
    return rc;
}

int corio_reader_readline(corio_reader *r, const char **line, size_t *len) {
    if (check_handle(r, "corio_reader_readline") || !line || !len) return -EINVAL;
    settle(r);
    *line = "";
    *len = 0;
    int crc = reader_charge();
    if (crc < 0) return crc;
    size_t at = 0;
    int rc = scan_until(r, "\n", 1, &at);
    const char *base = r->buf.p ? r->buf.p + r->buf.start : "";
    if (rc == 0) {
        *line = base;
        *len = r->pending = at + 1;
        return 0;
    }
    if (rc == CORIO_EINCOMPLETE) { /* asyncio readline: the last piece without '\n' */
        *line = base;
        *len = r->pending = bb_len(&r->buf);
        return 0;
    }
    if (rc == -ENOBUFS) {
        /* asyncio readline: drop the over-long line through its '\n' when
         * it is here, else what is buffered; what follows stays. */
        bb_consume(&r->buf, at != SIZE_MAX ? at + 1 : bb_len(&r->buf));
    }
    return rc;
}

int corio_reader_readexactly(corio_reader *r, void *buf, size_t n, size_t *got) {
    if (got) *got = 0;
    if (check_handle(r, "corio_reader_readexactly") || (!buf && n)) return -EINVAL;
    settle(r);
    int rc = reader_charge();
    if (rc < 0) return rc;
    while (bb_len(&r->buf) < n) {
        ssize_t k = fill(r);
        if (k == 0) {
            size_t m = bb_len(&r->buf);
            if (m) memcpy(buf, r->buf.p + r->buf.start, m);
            bb_consume(&r->buf, m);
            if (got) *got = m;
            return CORIO_EINCOMPLETE;
        }
        if (k < 0) return (int)k;
    }
    if (n) memcpy(buf, r->buf.p + r->buf.start, n);
    bb_consume(&r->buf, n);
    if (got) *got = n;
    return 0;
}

int corio_reader_at_eof(const corio_reader *r) {
    if (!r || bb_len(&r->buf) != r->pending) return 0; /* bytes left to read */
    if (r->eof) return 1;
    const conn *c = r->c;
    if (r->err) return 0;
    /* A supplied transport knows its own end, if it can tell at all. */
    if (c->tops) return c->tops->at_eof && c->tops->at_eof(c->tctx) == 1;
    if (c->fd < 0) return 0;
    /* The pull reader learns of the end only when it reads; asyncio's
     * at_eof is true as soon as the peer's EOF has arrived.  So ask the
     * kernel, consuming nothing: a socket's peek reads 0 at the end, a
     * pipe polls as hung up with nothing to read. */
    if (c->is_sock) {
        char b;
        return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) && !(p.revents & POLLIN);
}

size_t corio_reader_buffered(const corio_reader *r) {
    if (!r) return 0;
    size_t n = bb_len(&r->buf) - r->pending;
    /* A transport may hold received bytes the reader has not pulled yet
     * (a memory reader: all that was fed). */
    const conn *c = r->c;
    if (c->tops && c->tops->read_buffered) n += c->tops->read_buffered(c->tctx);
    return n;
}

size_t corio_reader_limit(const corio_reader *r) { return r ? r->limit : 0; }

int corio_reader_set_limit(corio_reader *r, size_t limit) {
    if (!r) return -EINVAL;
    r->limit = limit ? limit : CORIO_STREAM_LIMIT;
    return 0;
}

void corio_reader_free(corio_reader *r) {
    if (!r) return;
    conn *c = r->c;
    c->reader_held = false;
    /* A reader-only stream: no writer will ever close the descriptor, so
     * its release does.  (With a writer, the writer closes it: released
     * first, it is already closing; released later, it will.) */
    if (!c->writer_held && !c->w.q.closing) finish_close(c);
    else conn_maybe_free(c);
}

/* ---- writer --------------------------------------------------------------------- */

/* 0 if writing is allowed now, else the error to return. */
static int writer_check_open(corio_writer *w, const char *fn) {
    if (w->err) return w->err;
    if (w->q.closing || w->q.eof_pending || w->q.eof_sent) return corio__bad(-ESHUTDOWN, "%s: the writer is closed", fn);
    if (w->q.sendfiling) return corio__bad(-EBUSY, "%s: a sendfile is in progress on this writer", fn);
    return 0;
}

/* ---- a writer over a supplied transport: its operations do the work ---------------- */

/* A real failure sticks to the writer; a cancellation or misuse does not. */
static int transport_result(corio_writer *w, int rc) {
    if (rc < 0 && rc != -ECANCELED && rc != -EPERM && rc != -EINTR && rc != -EINVAL) w->err = rc;
    return rc;
}

static int transport_put(corio_writer *w, const struct iovec *iov, int iovcnt) {
    corio__budget_spend(1);
    return transport_result(w, w->c->tops->write(w->c->tctx, iov, iovcnt));
}

static int transport_drain(corio_writer *w) {
    conn *c = w->c;
    if (w->err) return w->err;
    if (w->q.closing) return -ESHUTDOWN;
    if (!c->tops->drain || c->tops->buffered(c->tctx) <= w->q.high) return 0;
    if (!corio__current()) return corio__bad(-EPERM, "corio_writer_drain: called outside a task");
    c->tdraining = true;
    int rc = c->tops->drain(c->tctx, w->q.low);
    c->tdraining = false;
    return transport_result(w, rc);
}

static int transport_write_eof(corio_writer *w) {
    conn *c = w->c;
    if (!c->tops->write_eof) return -EOPNOTSUPP;
    if (w->q.eof_sent) return 0;
    w->q.eof_sent = true;
    return transport_result(w, c->tops->write_eof(c->tctx));
}

static int transport_close(corio_writer *w) {
    conn *c = w->c;
    w->q.closing = true;
    c->r.eof = true; /* what the reader holds is still read; then the end */
    if (c->tclosed) return 0;
    c->tclosed = true;
    return transport_result(w, c->tops->close(c->tctx));
}

static int transport_wait_closed(corio_writer *w) {
    conn *c = w->c;
    if (!corio__current()) return corio__bad(-EPERM, "corio_writer_wait_closed: called outside a task");
    int rc = c->tops->wait_closed ? c->tops->wait_closed(c->tctx) : 0;
    if (rc == -ECANCELED) return rc;
    return w->err ? w->err : rc;
}

/* Write `total` bytes (> 0) from iov to an open writer: sent at once when
 * big and nothing is queued, else queued for the end of the iteration. */
static int writer_put(corio_writer *w, const struct iovec *iov, int iovcnt, size_t total) {
    if (w->c->tops) return transport_put(w, iov, iovcnt);
    return corio__wq_write(&w->q, iov, iovcnt, total);
}

__attribute__((noinline)) static int writer_write_slow(corio_writer *w, const void *buf, size_t len) {
    if (check_handle(w, "corio_writer_write") || (!buf && len)) return -EINVAL;
    int rc = writer_check_open(w, "corio_writer_write");
    if (rc < 0 || len == 0) return rc;
    struct iovec iov = {(void *)buf, len};
    return writer_put(w, &iov, 1, len);
}

/* writer_write_transport's piece for a transport without write1. */
__attribute__((noinline)) static int transport_put_iov(corio_writer *w, const void *buf, size_t len) {
    struct iovec iov = {(void *)buf, len};
    return transport_result(w, w->c->tops->write(w->c->tctx, &iov, 1));
}

/* A writer over a supplied transport, a piece of len > 0 bytes (a TLS
 * stream's every write): when open, the transport's write1 (or write with
 * one piece).  Closing and half-closing are the queue's flags here too;
 * an error the transport reported sticks in err. */
__attribute__((noinline)) static int writer_write_transport(corio_writer *w, const void *buf, size_t len,
                                                            corio_loop *loop) {
    if (corio__unlikely(w->err || (w->q.flags & CORIO__WQ_FLAGS(.closing = true, .eof_pending = true, .eof_sent = true))))
        return writer_write_slow(w, buf, len);
    loop->budget -= 1; /* corio__budget_spend(1) on the caller's loop */
    const corio_transport_ops *ops = w->c->tops;
    if (corio__unlikely(!ops->write1)) return transport_put_iov(w, buf, len);
    return transport_result(w, ops->write1(w->c->tctx, buf, len));
}

/* corio_writer_write's one send: an open socket writer on a readiness
 * loop, nothing queued, no send yet in this iteration, 0 < len < the
 * direct minimum.  A call of its own, reached by a jump:
 * corio_writer_write then saves no register, so that a stream over a
 * transport (a TLS stream's every write: 14 instructions) does not pay
 * for this path's (1 instruction more here, the jump). */
__attribute__((noinline)) static int writer_write_send(corio_writer *w, const void *buf, size_t len, corio_loop *loop) {
    corio__wq *q = &w->q;
    /* Noted and charged before the call, so that nothing but its check
     * follows it: a short send is a send of this iteration too (as
     * corio__wq_write counts it), and a failed one ends the writer. */
    q->sent_iter = loop->iterations;
    loop->budget -= CORIO__COST_SYSCALL + CORIO__COST_BYTES(len);
    ssize_t n = send(q->fd, buf, len, MSG_NOSIGNAL);
    if (corio__unlikely(n != (ssize_t)len)) return corio__wq_write_rest(q, buf, len, n);
    return 0;
}

/* corio_writer_write's copy to a coalescing queue with room (see there). */
__attribute__((noinline)) static int writer_write_queue(corio_writer *w, const void *buf, size_t len, corio_loop *loop) {
    corio__wq *q = &w->q;
    /* The bookkeeping first, the copy last: nothing is live across the
     * call but what its return needs. */
    char *to = q->p + q->end;
    q->end += len;
    q->nqueued++;
    loop->budget -= 1 + CORIO__COST_BYTES(len);
    if (!q->watching && q->flush.link.next == &q->flush.link) {
        q->flush.run = corio__wq_flush_run;
        corio__loop_flush_add(loop, &q->flush);
    }
    if (corio__unlikely(q->end - q->start > q->high)) q->paused = true; /* a stream's queue has no pause callback */
    memcpy(to, buf, len);
    return 0;
}

int corio_writer_write(corio_writer *w, const void *buf, size_t len) {
    /* The hot cases, for an open socket writer on a readiness loop and a
     * small write: with nothing queued, one send; on a coalescing
     * connection with room in the queue, a copy and the flush list; over
     * a supplied transport, its write.  Open means no error yet either:
     * closing is set before the fd goes.  Everything else takes the
     * general path.  Each case is a jump to a function of its own. */
    corio_loop *loop = corio__cur_loop;
    if (corio__likely(w && buf && len && len < CORIO__WQ_DIRECT_MIN && loop)) {
        corio__wq *q = &w->q;
        /* No flag at all: open, a socket on a readiness loop, not
         * coalescing, not paused, not a supplied transport's. */
        if (corio__likely(!q->flags && q->start == q->end && q->sent_iter != loop->iterations))
            return writer_write_send(w, buf, len, loop);
        if (q->coalesce && !q->no_direct && q->cap - q->end >= len) return writer_write_queue(w, buf, len, loop);
        if (q->unused) return writer_write_transport(w, buf, len, loop);
    }
    return writer_write_slow(w, buf, len);
}

int corio_writer_write_below(corio_writer *w, const void *buf, size_t len) {
    /* corio_writer_write's one send, without the checks that the
     * transport above has made (w, buf and len given); everything else,
     * errors included, through corio_writer_write. */
    corio_loop *loop = corio__cur_loop;
    corio__wq *q = &w->q;
    if (corio__likely(len < CORIO__WQ_DIRECT_MIN && loop && !q->flags && q->start == q->end &&
                      q->sent_iter != loop->iterations))
        return writer_write_send(w, buf, len, loop);
    return corio_writer_write(w, buf, len);
}

int corio_writer_writelines(corio_writer *w, const struct iovec *iov, int iovcnt) {
    if (check_handle(w, "corio_writer_writelines") || (!iov && iovcnt) || iovcnt < 0) return -EINVAL;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len) return corio__bad(-EINVAL, "corio_writer_writelines: NULL piece");
        if (__builtin_add_overflow(total, iov[i].iov_len, &total))
            return corio__bad(-EINVAL, "corio_writer_writelines: the pieces' lengths overflow");
    }
    int rc = writer_check_open(w, "corio_writer_writelines");
    if (rc < 0 || total == 0) return rc;
    return writer_put(w, iov, iovcnt, total);
}

/* A drain over a transport that is not below high water, or has no
 * writer below to look at: buffered() against the marks. */
__attribute__((noinline)) static int writer_drain_transport_slow(corio_writer *w) {
    if (!w->err && !w->q.closing && w->c->tops->buffered(w->c->tctx) <= w->q.high) return 0;
    return transport_drain(w);
}

/* Let what b's writer holds for the end of the iteration go now; 0. */
__attribute__((noinline)) static int drain_kick(conn *b) {
    corio__wq_kick(&b->w.q);
    return 0;
}

/* A drain over a supplied transport (a TLS stream's every drain).  With
 * the transport's bytes in the writer below (CORIO_TRANSPORT_WRITES_BELOW):
 * that writer's count without a call, and what it queued for the end of
 * the iteration leaves now, as its own drain lets it; no register is
 * saved on the way (the other paths are calls of their own), so it is
 * inlined into corio_writer_drain without a cost to the plain path. */
static inline __attribute__((always_inline)) int writer_drain_transport(corio_writer *w) {
    conn *b = w->c->below;
    if (corio__likely(b && !w->err)) { /* not closing: corio_writer_drain looked */
        corio__wq *q = &b->w.q;
        if (corio__likely(corio__wq_pending(q) <= w->q.high)) {
            if (corio__unlikely(q->flush.link.next != &q->flush.link)) return drain_kick(b);
            return 0;
        }
    }
    return writer_drain_transport_slow(w);
}

__attribute__((noinline)) static int writer_drain_slow(corio_writer *w) {
    if (check_handle(w, "corio_writer_drain")) return -EINVAL;
    if (w->c->tops) return transport_drain(w);
    /* A drain lets the data go now: what this iteration queued is offered
     * to the kernel before drain returns, as with asyncio, whose writes
     * never wait for the end of an iteration. */
    corio__wq_kick(&w->q);
    if (!w->q.paused && !w->err && w->c->fd >= 0) return 0; /* below high water: nothing to wait for */
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_writer_drain: called outside a task");
    while (w->q.paused && !w->err && w->c->fd >= 0) {
        corio__waiter wt;
        int rc = corio__waiter_wait(t, &w->drainers, &wt, NULL);
        if (rc < 0) return rc;
    }
    if (w->err) return w->err;
    if (w->c->fd < 0) return -ESHUTDOWN;
    return 0;
}

int corio_writer_drain(corio_writer *w) {
    /* The common case: below high water, nothing waiting for the end of
     * the iteration - nothing to do.  A queue not closing is open and has
     * no error: a failure or a close drops it (its fd goes to -1, as the
     * connection's does) and marks it closing first; a stream over a
     * supplied transport does not use it and takes the general path. */
    if (corio__likely(w)) {
        uint64_t f = w->q.flags & CORIO__WQ_FLAGS(.closing = true, .paused = true, .unused = true);
        if (corio__likely(!f && w->q.flush.link.next == &w->q.flush.link)) return 0;
        /* An open stream over a transport (closing is a flag of its
         * unused queue too; a closing one takes the general path). */
        if (f == CORIO__WQ_FLAGS(.unused = true)) return writer_drain_transport(w);
    }
    return writer_drain_slow(w);
}

int corio_writer_flush(corio_writer *w) {
    if (check_handle(w, "corio_writer_flush")) return -EINVAL;
    if (w->err || w->c->tops) return w->err;
    corio__wq_flush_now(&w->q);
    return w->err;
}

int corio_writer_can_write_eof(const corio_writer *w) {
    return w && (w->c->is_sock || (w->c->tops && w->c->tops->write_eof));
}

int corio_writer_write_eof(corio_writer *w) {
    if (check_handle(w, "corio_writer_write_eof")) return -EINVAL;
    if (w->err) return w->err;
    if (w->q.closing) return -ESHUTDOWN;
    if (w->q.sendfiling) return corio__bad(-EBUSY, "corio_writer_write_eof: a sendfile is in progress on this writer");
    if (w->c->tops) return transport_write_eof(w);
    if (!w->c->is_sock) return -EOPNOTSUPP;
    return corio__wq_write_eof(&w->q);
}

/* ---- sendfile (corio_writer_sendfile, os/sendfile.c) --------------------------------- */

/* The native way: wait until everything written before has gone, then
 * sendfile(2) on the socket, with the writer's other writes refused
 * meanwhile (asyncio: "unable to write; sendfile is in progress").  The
 * queue is emptied by lowering its water marks to 0 for the wait, so that
 * the drain's own wake-up says when. */
int corio__writer_sendfile_native(corio_writer *w, int in, off_t *pos, size_t count, size_t *sent) {
    corio_task *t = corio__current();
    if (!t) return -EPERM;
    int rc = writer_check_open(w, "corio_writer_sendfile");
    if (rc < 0) return rc;
    conn *c = w->c;
    if (c->tops || !c->is_sock || c->fd < 0 || !corio__fd_nonblocking(c->fd)) return -ENOTSOCK;
    corio__wq *q = &w->q;
    size_t high = q->high, low = q->low;
    q->sendfiling = true;
    q->coalesce = false; /* writes take the checked path, which refuses them */
    corio__wq_kick(q);
    corio__wq_set_limits(q, 0, 0);
    while (q->paused && !w->err && c->fd >= 0) {
        corio__waiter wt;
        if ((rc = corio__waiter_wait(t, &w->drainers, &wt, NULL)) < 0) break;
    }
    corio__wq_set_limits(q, high, low);
    if (!rc) rc = w->err ? w->err : c->fd < 0 || q->closing ? -ESHUTDOWN : 0;
    if (!rc) rc = corio__sendfile_native(c->fd, in, pos, count, sent);
    q->sendfiling = false;
    return rc;
}

int corio_writer_close(corio_writer *w) {
    if (check_handle(w, "corio_writer_close")) return -EINVAL;
    if (w->q.closing) return 0;
    if (w->c->tops) return transport_close(w);
    /* Queued data is flushed first: the queue's `closed` then finishes. */
    if (corio__wq_close(&w->q)) finish_close(w->c);
    return 0;
}

void corio_writer_abort(corio_writer *w) {
    if (!w) return;
    conn *c = w->c;
    if (c->fd >= 0 || c->tops) finish_close(c); /* a transport's close may be under way: abort ends it */
}

int corio_writer_is_closing(const corio_writer *w) { return w && w->q.closing; }

int corio_writer_wait_closed(corio_writer *w) {
    if (check_handle(w, "corio_writer_wait_closed")) return -EINVAL;
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_writer_wait_closed: called outside a task");
    if (w->c->tops) return transport_wait_closed(w);
    while (w->c->fd >= 0) {
        corio__waiter wt;
        int rc = corio__waiter_wait(t, &w->closers, &wt, NULL);
        if (rc < 0) return rc;
    }
    return w->err;
}

int corio_writer_set_write_buffer_limits(corio_writer *w, size_t high, size_t low) {
    if (!w) return -EINVAL;
    if (!high) high = CORIO_STREAM_HIGH_WATER;
    if (!low) low = high / 4;
    if (low > high) return corio__bad(-EINVAL, "corio_writer_set_write_buffer_limits: low above high");
    corio__wq_set_limits(&w->q, high, low); /* resumes the drainers if it falls to low water */
    return 0;
}

void corio_writer_get_write_buffer_limits(const corio_writer *w, size_t *high, size_t *low) {
    if (high) *high = w ? w->q.high : 0;
    if (low) *low = w ? w->q.low : 0;
}

size_t corio_writer_buffered(const corio_writer *w) {
    if (!w) return 0;
    return w->c->tops ? w->c->tops->buffered(w->c->tctx) : corio__wq_pending(&w->q);
}

int corio_writer_peername(const corio_writer *w, char *buf, size_t cap) {
    if (!w) return -EINVAL;
    if (w->c->tops) return w->c->tops->peername ? w->c->tops->peername(w->c->tctx, buf, cap) : -ENOTCONN;
    return w->c->fd < 0 ? -EBADF : corio_peername(w->c->fd, buf, cap);
}

int corio_writer_sockname(const corio_writer *w, char *buf, size_t cap) {
    if (!w) return -EINVAL;
    if (w->c->tops) return w->c->tops->sockname ? w->c->tops->sockname(w->c->tctx, buf, cap) : -ENOTCONN;
    return w->c->fd < 0 ? -EBADF : corio_sockname(w->c->fd, buf, cap);
}

int corio_writer_fd(const corio_writer *w) {
    if (!w) return -1;
    if (w->c->tops) return w->c->tops->fd ? w->c->tops->fd(w->c->tctx) : -1;
    return w->c->fd;
}

void corio_writer_free(corio_writer *w) {
    if (!w) return;
    conn *c = w->c;
    if (!w->q.closing) corio_writer_close(w);
    c->writer_held = false;
    conn_maybe_free(c);
}

int corio_stream_close(corio_reader *r, corio_writer *w) {
    int rc = 0;
    if (w) {
        corio_writer_close(w);
        rc = corio_writer_wait_closed(w);
        if (rc == -ECANCELED || rc == -EPERM) corio_writer_abort(w);
        corio_writer_free(w);
    }
    corio_reader_free(r);
    return rc;
}

/* ---- server --------------------------------------------------------------------- */


typedef struct server_conn {
    corio_list link;      /* in the server's conns */
    corio_server *srv;
    corio_task *task;     /* our reference, given up in conn_done */
    corio_reader *r;      /* NULL once the task released them (after closing the connection, so
                             that close_clients / abort_clients reach one still flushing), or once
                             a detached connection was freed */
    corio_writer *w;
    bool detached;        /* corio_server_detach: r and w are the caller's, not counted in nconns */
} server_conn;

/* A detached connection freed by its new owner while the handler still
 * runs: forget its handles, so that nothing reaches them afterwards. */
static void server_conn_gone(server_conn *sc) {
    sc->r = NULL;
    sc->w = NULL;
}

struct corio_server {
    int lfd;                      /* -1 once closed */
    corio_stream_handler handler;
    void *arg;
    corio_stream_opts sopts;
    size_t handler_stack;         /* stack size of each handler task (0: default) */
    size_t max_conns, nconns;
    corio_task *acceptor;         /* our reference, NULL once it has finished */
    corio_list conns;             /* server_conn */
    corio_list closed_waiters;    /* serve_forever: woken by close */
    corio_list idle_waiters;      /* wait_closed: woken when nothing runs any more */
    bool closed;
    /* A Unix socket bound to a path: removed at close if the path still
     * names the socket bound (asyncio compares st_ino; st_dev too here). */
    char *unix_path;
    dev_t unix_dev;
    ino_t unix_ino;
};

static void server_check_idle(corio_server *s) {
    if (s->closed && !s->acceptor && corio__list_empty(&s->conns)) wake_all(&s->idle_waiters);
}

static int conn_main(void *arg) {
    server_conn *sc = arg;
    corio_server *s = sc->srv;
    sc->r->c->sconn = sc; /* corio_server_detach finds the handler from its handles */
    int rc = s->handler(sc->r, sc->w, s->arg);
    /* asyncio reports a client_connected_cb that raised to the loop's
     * exception handler (whose default logs it at ERROR), and nothing for
     * one that was cancelled. */
    if (rc < 0 && rc != -ECANCELED) {
        corio_exception_context ctx = {.message = "Unhandled exception in client_connected_cb", .error = rc,
                                       .source = "stream handler", .task = corio_current_task()};
        corio__report(corio__cur_loop, &ctx, "the stream handler returned %d (%s)", rc, corio_strerror(rc));
    }
    if (sc->detached) {
        /* The connection is the caller's now, and may be gone already
         * (server_conn_gone cleared r then). */
        if (sc->r) sc->r->c->sconn = NULL;
        return 0;
    }
    corio_reader *r = sc->r;
    corio_writer *w = sc->w;
    r->c->sconn = NULL; /* the handler has returned: no longer detachable */
    if (rc == -ECANCELED) corio_writer_abort(w);
    corio_stream_close(r, w); /* r and w stay in sc while it waits, for abort_clients */
    sc->r = NULL;
    sc->w = NULL;
    return 0;
}

static void conn_done(corio_future *f, void *arg) {
    (void)f;
    server_conn *sc = arg;
    corio_server *s = sc->srv;
    if (sc->w && !sc->detached) { /* cancelled before it ran: the handler never saw them */
        corio_writer_abort(sc->w);
        corio_writer_free(sc->w);
        corio_reader_free(sc->r);
    }
    corio__list_remove(&sc->link);
    if (!sc->detached) s->nconns--;
    corio_task_detach(sc->task);
    corio__free(sc);
    server_check_idle(s);
}

static void start_conn(corio_server *s, int fd, bool ring) {
    server_conn *sc = corio__calloc(1, sizeof *sc);
    if (!sc) goto fail;
    sc->srv = s;
    if (stream_open_fd(fd, 1, &s->sopts, &sc->r, &sc->w) < 0) goto fail; /* accepted: a socket */
    fd = -1; /* the connection owns it now */
    sc->r->c->first_direct = ring;
    corio_task_opts to = {.stack_size = s->handler_stack};
    sc->task = corio_spawn_opts(conn_main, sc, &to);
    if (!sc->task) goto fail;
    if (corio_future_add_done_callback(corio_task_future(sc->task), conn_done, sc) < 0) {
        corio_cancel(sc->task);
        corio_task_detach(sc->task);
        sc->task = NULL;
        goto fail;
    }
    corio__list_push_back(&s->conns, &sc->link);
    s->nconns++;
    return;
fail:
    corio__log(CORIO_LOG_WARNING, "server: out of memory for a new connection; closed it");
    if (fd >= 0) close(fd);
    if (sc && sc->w && !sc->task) {
        corio_writer_abort(sc->w);
        corio_writer_free(sc->w);
        corio_reader_free(sc->r);
    }
    corio__free(sc);
}

/* A new client: refused at the connection limit, else given a handler task. */
static void serve_accepted(corio_server *s, int fd, bool ring) {
    if (s->max_conns && s->nconns >= s->max_conns) {
        /* A clear refusal: the client sees its connection closed at
         * once, and the clients already here are unaffected. */
        corio__log(CORIO_LOG_DEBUG, "server: connection limit %zu reached; refused a client", s->max_conns);
        close(fd);
        return;
    }
    corio_set_nodelay(fd, 1); /* fails harmlessly on a Unix socket */
    start_conn(s, fd, ring);
}

/*
 * io_uring: one multishot accept serves the whole life of the acceptor
 * task: each completion carries a new connection, served from the
 * completion itself (its handler runs in this iteration's batch, not two
 * iterations later behind the acceptor's own wake-up; asyncio's accept
 * callback creates the handler's task at once, too).  The acceptor only
 * re-arms the accept when it ends and backs off on EMFILE & co.  The
 * record lives on the acceptor's stack, so the task withdraws the accept
 * and waits for its last completion before leaving.
 */
typedef struct accept_multi {
    corio__op op;
    int err;              /* how the multishot ended, 0 while armed or not started */
    bool leaving;         /* the task is going: close what still arrives */
    corio_future *wake;   /* the task's wait, if it waits */
    corio_server *srv;    /* whose connections these are */
} accept_multi;

#if CORIO_HAVE_URING
static void accept_multi_done(corio__op *op, int res, unsigned flags) {
    (void)flags;
    accept_multi *am = corio__container_of(op, accept_multi, op);
    if (res >= 0) {
        if (am->leaving || am->srv->closed)
            close(res);
        else
            serve_accepted(am->srv, res, true);
        if (op->inflight) return; /* more to come: the acceptor sleeps on */
    } else if (!op->inflight) {
        am->err = res;
    }
    if (am->wake && am->wake->state == CORIO__PENDING) corio__future_complete(am->wake, CORIO__DONE, 0, 0);
}

/* Keep the multishot accept armed; returns -errno when it ended with an
 * error (or the task was cancelled).  Never returns a descriptor: each one
 * is served from its completion. */
static int accept_multi_next(corio_task *t, int lfd, accept_multi *am) {
    for (;;) {
        if (!am->op.inflight) {
            if (am->err) {
                int e = am->err == -ECANCELED ? -EBADF : am->err;
                am->err = 0;
                return e;
            }
            am->op.done = accept_multi_done;
            io_uring_prep_multishot_accept(corio__ring_sqe(t->loop, &am->op), lfd, NULL, NULL,
                                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        }
        corio_future f;
        corio__future_init(&f, t->loop);
        am->wake = &f;
        int rc = corio__await_tag(t, &f, CORIO__WAIT_FD_READ, lfd);
        am->wake = NULL;
        if (rc < 0) return rc;
    }
}

/* Withdraw the accept, wait for its last completion, close what was not taken. */
static void accept_multi_end(corio_task *t, accept_multi *am) {
    am->leaving = true;
    if (am->op.inflight) {
        corio__ring_cancel(t->loop, &am->op);
        bool cancelled = false;
        while (am->op.inflight) {
            /* Uncancellable: a cancel only sets must_cancel, consumed below. */
            corio_future f;
            corio__future_init(&f, t->loop);
            am->wake = &f;
            corio__list_push_back(&f.callbacks, &t->wake.link);
            if (corio__suspend(t) < 0) cancelled = true;
            if (t->wake.link.next != &t->wake.link) corio__list_remove(&t->wake.link);
            am->wake = NULL;
        }
        if (cancelled) t->must_cancel = true;
    }
}
#endif

static int accept_main(void *arg) {
    corio_server *s = arg;
    int logged = 0;
#if CORIO_HAVE_URING
    accept_multi am = {.srv = s};
    bool ring = corio__ring_on(corio__cur_loop);
#endif
    while (!s->closed) {
#if CORIO_HAVE_URING
        int fd = ring ? accept_multi_next(corio__current(), s->lfd, &am) : corio_accept(s->lfd, NULL, NULL);
#else
        int fd = corio_accept(s->lfd, NULL, NULL);
#endif
        if (fd >= 0) {
            logged = 0;
#if CORIO_HAVE_URING
            serve_accepted(s, fd, ring);
#else
            serve_accepted(s, fd, false);
#endif
            continue;
        }
        if (fd == -ECANCELED || fd == -EBADF || fd == -EINVAL || s->closed) break;
        if (corio__accept_exhausted(fd)) {
            /* The pending client stays in the backlog (io.h). */
            if (!logged++) corio__accept_exhausted_report(fd);
            if (corio_sleep(CORIO__ACCEPT_BACKOFF) < 0) break;
            continue;
        }
        /* ECONNABORTED, EPROTO, EPERM (firewall), ...: that client only. */
        corio__log(CORIO_LOG_DEBUG, "server: accept: %s", corio_strerror(fd));
    }
#if CORIO_HAVE_URING
    if (ring) accept_multi_end(corio__current(), &am);
#endif
    return 0;
}

static void acceptor_done(corio_future *f, void *arg) {
    (void)f;
    corio_server *s = arg;
    corio_task_detach(s->acceptor);
    s->acceptor = NULL;
    server_check_idle(s);
}

/* A listening Unix socket bound to a path (not abstract, not unnamed):
 * remember the path and the file it names, for server_remove_unix_path.
 * 0, or -ENOMEM. */
static int server_note_unix_path(corio_server *s) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(s->lfd, (struct sockaddr *)&ss, &len) < 0 || ss.ss_family != AF_UNIX) return 0;
    char name[CORIO_ADDRSTRLEN];
    if (corio_sockname(s->lfd, name, sizeof name) <= 0 || name[0] == '@') return 0;
    struct stat sb;
    if (stat(name, &sb) < 0 || !S_ISSOCK(sb.st_mode)) return 0;
    size_t n = strlen(name) + 1;
    if (!(s->unix_path = corio__malloc(n))) return -ENOMEM;
    memcpy(s->unix_path, name, n);
    s->unix_dev = sb.st_dev;
    s->unix_ino = sb.st_ino;
    return 0;
}

/* At close: remove the socket file, unless the path names another file
 * by now (a server that replaced it: that one stays). */
static void server_remove_unix_path(corio_server *s) {
    if (!s->unix_path) return;
    struct stat sb;
    if (stat(s->unix_path, &sb) == 0 && sb.st_dev == s->unix_dev && sb.st_ino == s->unix_ino &&
        unlink(s->unix_path) < 0 && errno != ENOENT)
        corio__log(CORIO_LOG_ERROR, "server: cannot remove the socket file %s: %s", s->unix_path, strerror(errno));
    corio__free(s->unix_path);
    s->unix_path = NULL;
}

int corio_server_open(int lfd, corio_stream_handler handler, void *arg, const corio_server_opts *opts,
                      corio_server **out) {
    if (lfd < 0 || !handler || !out) return corio__bad(-EINVAL, "corio_server_open: bad arguments");
    if (!corio__current()) return corio__bad(-EPERM, "corio_server_open: called outside a task");
    corio_server *s = corio__calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->lfd = lfd;
    s->handler = handler;
    s->arg = arg;
    if (opts) {
        s->sopts = opts->stream;
        s->max_conns = opts->max_connections;
        s->handler_stack = opts->handler_stack_size;
    }
    corio__list_init(&s->conns);
    corio__list_init(&s->closed_waiters);
    corio__list_init(&s->idle_waiters);
    if (server_note_unix_path(s) < 0) {
        corio__free(s);
        return -ENOMEM;
    }
    corio_task_opts to = {.name = "corio-accept", .eager = -1}; /* asyncio's accepting is no task: never eager */
    s->acceptor = corio_spawn_opts(accept_main, s, &to);
    if (!s->acceptor) {
        corio__free(s->unix_path);
        corio__free(s);
        return -ENOMEM;
    }
    if (corio_future_add_done_callback(corio_task_future(s->acceptor), acceptor_done, s) < 0) {
        corio_cancel(s->acceptor);
        corio_task_detach(s->acceptor);
        corio__free(s->unix_path);
        corio__free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

int corio_start_server_opts(const char *host, int port, corio_stream_handler handler, void *arg,
                            const corio_server_opts *opts, corio_server **out) {
    if (!handler || !out) return corio__bad(-EINVAL, "corio_start_server: NULL handler or out");
    if (!corio__current()) return corio__bad(-EPERM, "corio_start_server: called outside a task");
    int fd = corio_tcp_listen_opts(host, port, opts ? &opts->listen : NULL);
    if (fd < 0) return fd;
    int rc = corio_server_open(fd, handler, arg, opts, out);
    if (rc < 0) close(fd);
    return rc;
}

int corio_start_server(const char *host, int port, corio_stream_handler handler, void *arg, corio_server **out) {
    return corio_start_server_opts(host, port, handler, arg, NULL, out);
}

int corio_start_unix_server(const char *path, corio_stream_handler handler, void *arg,
                            const corio_server_opts *opts, corio_server **out) {
    if (!handler || !out) return corio__bad(-EINVAL, "corio_start_unix_server: NULL handler or out");
    if (!corio__current()) return corio__bad(-EPERM, "corio_start_unix_server: called outside a task");
    int fd = corio_unix_listen(path, opts ? opts->listen.backlog : 0);
    if (fd < 0) return fd;
    int rc = corio_server_open(fd, handler, arg, opts, out);
    if (rc < 0) close(fd);
    return rc;
}

int corio_server_port(const corio_server *s) {
    if (!s) return -EINVAL;
    return s->lfd < 0 ? -EBADF : corio_local_port(s->lfd);
}

int corio_server_fd(const corio_server *s) { return s ? s->lfd : -1; }

size_t corio_server_connections(const corio_server *s) { return s ? s->nconns : 0; }

/* The record of the running handler that was given r and w, through the
 * connection's back pointer (whichever task asks), or NULL: two handles of
 * different connections, a connection no server gave a handler, or one
 * whose handler has returned. */
static server_conn *handler_of(const corio_reader *r, const corio_writer *w) {
    if (r->c != w->c) return NULL;
    server_conn *sc = r->c->sconn;
    return sc && sc->r == r && sc->w == w ? sc : NULL;
}

int corio_server_detach(corio_reader *r, corio_writer *w) {
    corio_task *me = corio__current();
    if (!me) return corio__bad(-EPERM, "corio_server_detach: called outside a task");
    if (!r || !w) return corio__bad(-EINVAL, "corio_server_detach: NULL handle");
    server_conn *sc = handler_of(r, w);
    if (!sc) return corio__bad(-EINVAL, "corio_server_detach: not the handles of a running server handler");
    if (sc->detached) return -EALREADY;
    sc->detached = true;
    sc->srv->nconns--; /* no longer the server's: a new client may take its place under max_connections */
    return 0;
}

int corio_server_close(corio_server *s, int cancel_handlers) {
    if (!s) return -EINVAL;
    if (!s->closed) {
        s->closed = true;
        if (s->lfd >= 0) {
            corio_close(s->lfd); /* wakes the acceptor with -EBADF */
            s->lfd = -1;
        }
        server_remove_unix_path(s);
        if (s->acceptor) corio_cancel(s->acceptor);
        wake_all(&s->closed_waiters);
    }
    if (cancel_handlers) {
        corio__list_foreach(it, &s->conns) {
            server_conn *sc = corio__container_of(it, server_conn, link);
            corio_cancel(sc->task);
        }
    }
    server_check_idle(s);
    return 0;
}

/* close_clients and abort_clients: what to do to each connection that is
 * still the server's (not detached, not yet released). */
static void server_each_client(corio_server *s, void (*fn)(corio_writer *w)) {
    /* Safe to walk as it stands: closing or aborting a connection only
     * schedules its waiters, and a record leaves the list in conn_done, a
     * done callback of its task, which runs later. */
    corio__list_foreach(it, &s->conns) {
        server_conn *sc = corio__container_of(it, server_conn, link);
        if (!sc->detached && sc->w) fn(sc->w);
    }
}

static void client_close(corio_writer *w) { corio_writer_close(w); }

int corio_server_close_clients(corio_server *s) {
    if (!s) return corio__bad(-EINVAL, "corio_server_close_clients: NULL server");
    server_each_client(s, client_close);
    return 0;
}

int corio_server_abort_clients(corio_server *s) {
    if (!s) return corio__bad(-EINVAL, "corio_server_abort_clients: NULL server");
    server_each_client(s, corio_writer_abort);
    return 0;
}

int corio_server_wait_closed(corio_server *s) {
    if (!s) return -EINVAL;
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_server_wait_closed: called outside a task");
    while (!s->closed || s->acceptor || !corio__list_empty(&s->conns)) {
        corio__waiter wt;
        int rc = corio__waiter_wait(t, &s->idle_waiters, &wt, NULL);
        if (rc < 0) return rc;
    }
    return 0;
}

int corio_server_serve_forever(corio_server *s) {
    if (!s) return -EINVAL;
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_server_serve_forever: called outside a task");
    while (!s->closed) {
        corio__waiter wt;
        int rc = corio__waiter_wait(t, &s->closed_waiters, &wt, NULL);
        if (rc == -ECANCELED) {
            corio_server_close(s, 1);
            corio_server_wait_closed(s);
            return rc;
        }
        if (rc < 0) return rc;
    }
    return 0;
}

int corio_server_shutdown(corio_server *s, int cancel_handlers) {
    if (!s) return 0;
    if (!corio__current()) return corio__bad(-EPERM, "corio_server_shutdown: called outside a task");
    corio_server_close(s, cancel_handlers);
    int rc = corio_server_wait_closed(s);
    if (rc == -ECANCELED) {
        /* The cancellation was delivered once: this wait runs to the end,
         * with the handlers cancelled so that it is short. */
        corio_server_close(s, 1);
        while (corio_server_wait_closed(s) == -ECANCELED) {}
    }
    corio_server_free(s);
    return rc;
}

int corio_server_free(corio_server *s) {
    if (!s) return 0;
    if (!s->closed || s->acceptor || !corio__list_empty(&s->conns))
        return corio__bad(-EBUSY, "corio_server_free: the server is still running");
    corio__free(s->unix_path);
    corio__free(s);
    return 0;
}
