/*
 * protocol.c - transports and protocols (asyncio's callback API): stream
 * transports over TCP/Unix sockets, a server that accepts from a loop
 * callback, and datagram transports.  No task is involved anywhere.
 *
 * Under epoll, reading is an add_reader callback that reads once per
 * readiness report into a per-thread 64 KiB buffer and hands it to
 * data_received, so an idle connection holds no read buffer at all.
 * Writing is the write engine's (wq.c), as for stream writers: straight
 * to the kernel when nothing is queued, the rest queued and flushed on
 * the write edge, with water marks.
 *
 * Under io_uring a stream transport is completion-based, so a busy
 * connection costs no system call of its own:
 *   - reading is one multishot recv that picks its buffers from a ring of
 *     provided buffers the loop shares among all its transports
 *     (loop->ring_bufs: 128 x 16 KiB, mapped on first use and populated
 *     only where the kernel writes).  Each completion names the buffer;
 *     data_received reads it in place and the buffer goes straight back to
 *     the ring.  When the ring runs dry (-ENOBUFS: more data arrived at
 *     once than there are buffers) the transport reads once with recv()
 *     into the per-thread buffer and re-arms: slower, never lost.  A kernel
 *     that refuses multishot recv (-EINVAL) sends this and later transports
 *     of the loop back to add_reader.
 *   - pause_reading cancels the recv.  Completions already on their way
 *     carry data that must neither be lost nor delivered while paused:
 *     they are copied aside (`held`) and delivered by a loop callback after
 *     resume_reading, before the recv is re-armed.
 *   - writing is the write engine's ring path (wq.c): write() appends to
 *     the queue, which goes on loop->ring_flush, and just before the
 *     loop's next submit moves to an in-flight buffer sent in one entry;
 *     its completion sends the rest or the next queue.  Water marks count
 *     both.
 *   - the record outlives every operation on it: connection_lost may come
 *     while the recv or a send cancelled by the close is still in the ring,
 *     so on_lost only marks it dead and the last completion frees it.
 *   - once the loop's last such transport is freed, the pages of the
 *     buffer ring go back to the system (ring_release).
 * Other descriptors (pipes) read with add_reader, and write through the
 * ring as streams do.
 *
 * Memory.  Write queues, sends in flight and held data live in transport
 * buffers (the write engine's pool, wq.c): small ones from malloc, big ones mapped and, once
 * freed, kept in a small per-loop cache or unmapped, so that what a burst
 * of connections queued goes back to the system when they close.  With the flow-control pattern of protocol.h
 * (pause_reading from pause_writing) a connection queues at most the high
 * water mark plus one read; held data is delivered READ_BUF bytes at a
 * time for the same reason.
 *
 * connection_lost is always scheduled with call_soon, never called from
 * inside the function that closed the transport, so a protocol may close
 * its own transport from any callback; and it always comes after
 * connection_made, both being queued in order.
 */
#include "io.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#if CORIO_HAVE_URING
#include <liburing.h>
#endif

#define READ_BUF (64 * 1024)
#define ACCEPT_BATCH 64       /* accepts per readiness report: bounded work per loop turn */
#define DGRAM_BATCH 16        /* datagrams per readiness report */
/* The provided-buffer ring (io_uring).  128 x 16 KiB: a 16 KiB buffer holds
 * a typical message whole and a bulk transfer in few completions, and 128
 * of them cover 64 busy connections at two completions each per loop turn;
 * 2 MiB of address space per loop, populated only where the kernel writes. */
#define RING_NBUFS 128
#define RING_BUFSIZE (16 * 1024)
#define RING_BGID 0xc0 /* buffer group id: protocol.c's is the only group in the loop's ring */

static CORIO__TLS char read_buf[READ_BUF]; /* data_received's data lives here during the call */

/* Test hooks (tests/test_protocol.c): the buffer ring's shape for loops
 * that make theirs from now on (0: the default; a power of two, and bytes
 * per buffer), and a kernel without multishot recv (the recv is sent with
 * a flag the kernel refuses). */
extern unsigned corio__proto_test_nbufs, corio__proto_test_bufsize;
extern int corio__proto_test_no_multishot;
unsigned corio__proto_test_nbufs, corio__proto_test_bufsize;
int corio__proto_test_no_multishot;

/* loop->ring_bufs: protocol.c's state of a loop, made with its first
 * transport: the buffers multishot recvs pick from (io_uring), and the
 * cache of freed transport buffers (both backends). */
typedef struct proto_ring {
    struct io_uring_buf_ring *br; /* the ring of buffer descriptors (page-aligned, registered) */
    size_t br_size;               /* its mapping's length */
    char *mem;                    /* the buffers: nbufs * bufsize bytes, mapped */
    size_t mem_size;
    unsigned nbufs, bufsize;      /* nbufs is a power of two */
    bool tried;                   /* the buffer ring was set up (or failed to be): ring_bufs */
    bool registered;              /* br is registered with the ring as RING_BGID */
    bool legacy;                  /* no buffer ring here (setup failed, or no multishot recv): use add_reader */
    bool dry_logged;              /* the ring ran dry once: said so in debug mode */
    unsigned nreaders;            /* transport records reading from the ring (rread), freed or not */
    unsigned used;                /* buffers filled since mem's pages were last given back (at most nbufs count) */
    corio__op cancel;             /* what every cancel entry completes to (ignored); its `inflight` means nothing,
                                     as several cancels may share it: the backend counts them one by one */
    corio__wq_pool pool;          /* transport buffers (wq.c); its owners are the stream transports not yet freed */
} proto_ring;

struct corio_transport {
    int fd;                    /* -1 once closed */
    bool is_sock;
    bool made;                 /* connection_made has run */
    bool reading;              /* the reader callback is installed (add_reader path) */
    bool read_paused;          /* pause_reading */
    bool eof;                  /* EOF seen: no more reading */
    bool closing;              /* close/abort/failure began */
    bool lost_scheduled;
    bool leak;                 /* connection_lost runs from lost_h: the record cannot be freed */
    bool dead;                 /* connection_lost has run: free the record once nothing is in the ring */
    bool rread;                /* io_uring: reads are a multishot recv into the loop's buffer ring */
    bool recv_ok;              /* data has been received at least once (io_uring: so -EINVAL is not "unsupported";
                                  both: after it, reads wait their turn under load) */
    bool recv_cancelling;      /* a cancel of the recv is in the ring */
    bool hooked;               /* epoll: the fd's events come straight to on_edge (no add_reader/add_writer) */
    bool held_busy;            /* held_run's data_received reads `held`: free_held leaves it to held_run */
    int err;                   /* what connection_lost will report */
    int held_end;              /* held after the data: 1 EOF, -errno an error, 0 nothing */
    const corio_protocol *p;   /* the caller's table, or `buffered` */
    corio_protocol *buffered;  /* a BufferedProtocol's: a copy of its base, data_received ours */
    const corio_buffered_protocol *bp; /* ... and its table, for get_buffer and buffer_updated */
    void *arg;
    corio_loop *loop;
    proto_ring *pl;            /* the loop's protocol state (loop->ring_bufs) */
    corio__wq wq;              /* the write queue (wq.c): water marks, flush on either backend */
    char *held;                /* io_uring: data that completed after pause_reading, to deliver after resume:
                                  held[heldoff..nheld) */
    size_t heldoff, nheld, capheld;
    corio__op rop;             /* io_uring: the multishot recv */
    corio_handle made_h;       /* connection_made */
    corio_handle lost_h;       /* connection_lost, only when no library handle could be had */
    corio_handle held_h;       /* delivers `held` after resume_reading */
    corio_handle edge_h;       /* epoll hook: reading goes on in the next iteration (budget, resume) */
    struct corio_proto_server *srv; /* NULL when not accepted by a server (or it closed) */
    corio_list link;           /* in srv->conns */
};

struct corio_proto_server {
    int lfd;
    const corio_protocol *p;
    const corio_buffered_protocol *bp; /* a BufferedProtocol's table (p is its base), else NULL */
    corio_protocol_factory factory;
    void *factory_arg;
    size_t max_conns, nconns;
    corio_list conns;
    corio_handle resume_h;     /* re-enables accepting after a back-off */
    corio_handle more_h;       /* epoll hook: accepting goes on in the next iteration */
    bool hooked;               /* epoll: the listener's edges come to on_accept_edge */
    bool warned;               /* EMFILE logged once per episode */
    bool in_factory;           /* the user's factory runs: a close there frees late */
    bool close_late;           /* ... and it closed the server */
};

static void ignore_done(corio__op *op, int res, unsigned flags) { (void)op, (void)res, (void)flags; }

/* The loop's protocol state, made with its first transport; NULL when out of memory. */
static proto_ring *proto_state(corio_loop *loop) {
    proto_ring *pl = loop->ring_bufs;
    if (pl) return pl;
    pl = corio__calloc(1, sizeof *pl);
    if (!pl) return NULL;
    pl->cancel.done = ignore_done;
    loop->ring_bufs = pl;
    return pl;
}

/* ---- transport buffers: the write engine's pool (wq.c) ----------------------------- */

#if CORIO_HAVE_URING /* only the ring's held receives grow a buffer here */
static int buf_grow(proto_ring *pl, char **p, size_t *cap, size_t keep, size_t need, size_t first) {
    return corio__wq_buf_grow(&pl->pool, p, cap, keep, need, first);
}
#endif

static void buf_free(proto_ring *pl, char *p, size_t cap) { corio__wq_buf_free(&pl->pool, p, cap); }

static bool held_any(const corio_transport *t) { return t->nheld || t->held_end; }
/* Reading should go on (or be started). */
static bool want_read(const corio_transport *t) {
    return t->made && t->fd >= 0 && !t->read_paused && !t->eof && !t->closing;
}

static void free_held(corio_transport *t) {
    if (!t->held_busy) buf_free(t->pl, t->held, t->capheld); /* else held_run, whose data_received reads it, frees it */
    t->held = NULL;
    t->heldoff = t->nheld = t->capheld = 0;
}

static void ring_release(proto_ring *pr);

static void maybe_free(corio_transport *t) {
    if (!t->dead || t->leak || t->rop.inflight || corio__wq_busy(&t->wq)) return;
    proto_ring *pl = t->pl;
    bool reader = t->rread;
    corio__wq_free(&t->wq);
    free_held(t);
    corio__free(t->buffered);
    corio__free(t);
    pl->pool.nowners--;
    corio__wq_pool_trim(&pl->pool);
    if (reader) {
        pl->nreaders--;
        ring_release(pl);
    }
}

static void drop_held(corio_transport *t) {
    corio_handle_cancel(&t->held_h);
    free_held(t);
    t->held_end = 0;
}

/*
 * Schedule the callback that frees the record.  It must not run from a
 * handle inside the record (the loop reads a handle after its callback
 * returns), so it gets a library-owned one; only if that cannot be
 * allocated does it use the embedded one, and the record is then leaked
 * rather than freed under the loop's feet.
 */
static void schedule_lost(corio_handle *embedded, bool *leak, corio_callback cb, void *arg) {
    if (corio_call_soon(NULL, cb, arg) == 0) return;
    *leak = true;
    corio_call_soon(embedded, cb, arg);
}

static void on_lost(void *arg) {
    corio_transport *t = arg;
    if (t->srv) {
        corio__list_remove(&t->link);
        t->srv->nconns--;
    }
    if (t->p->connection_lost) t->p->connection_lost(t, t->err, t->arg);
    /* A recv or send cancelled by the close may still be in the ring: its
     * completion frees the record then. */
    t->dead = true;
    maybe_free(t);
}

/* Close the descriptor and schedule connection_lost (once). */
static void finish(corio_transport *t) {
    t->closing = true;
    corio__wq_drop(&t->wq); /* nothing more is sent; a send in flight keeps its buffer until it completes */
    if (t->fd >= 0) {
        corio_close(t->fd); /* removes both callbacks and cancels the ring's operations on it */
        t->fd = -1;
        t->reading = false;
    }
    t->hooked = t->wq.hooked = false; /* corio_close removed the hook */
    corio_handle_cancel(&t->edge_h);
    drop_held(t);
    if (!t->lost_scheduled) {
        t->lost_scheduled = true;
        schedule_lost(&t->lost_h, &t->leak, on_lost, t);
    }
}

static void fail(corio_transport *t, int err) {
    if (!t->err) t->err = err;
    finish(t);
}

/* ---- the write queue's owner callbacks (wq.c) ---------------------------------------- */

static corio_transport *wq_transport(corio__wq *q) { return corio__container_of(q, corio_transport, wq); }

static void wq_pause(corio__wq *q) {
    corio_transport *t = wq_transport(q);
    if (t->p->pause_writing) t->p->pause_writing(t, t->arg);
}

/* Closed by the callback, or it queued more: the queue sees to both. */
static void wq_resume(corio__wq *q) {
    corio_transport *t = wq_transport(q);
    if (t->p->resume_writing) t->p->resume_writing(t, t->arg);
}

static void wq_failed(corio__wq *q, int err) { fail(wq_transport(q), err); }
static void wq_closed(corio__wq *q) { finish(wq_transport(q)); }

/* A send cancelled by the close completed: the record may be freed now. */
static void wq_released(corio__wq *q) { maybe_free(wq_transport(q)); }

static const corio__wq_owner wq_owner = {
    .pause = wq_pause, .resume = wq_resume, .failed = wq_failed, .closed = wq_closed, .released = wq_released,
};

/* End of stream: eof_received, and close unless the protocol keeps the transport. */
static void got_eof(corio_transport *t) {
    t->eof = true;
    if (t->reading) {
        corio__remove_reader(t->fd);
        t->reading = false;
    }
    int keep = t->p->eof_received ? t->p->eof_received(t, t->arg) : 0;
    if (!keep && t->fd >= 0) corio_transport_close(t);
}

static void on_readable(void *arg) {
    corio_transport *t = arg;
    corio__budget_spend(CORIO__COST_SYSCALL);
    ssize_t n = t->is_sock ? recv(t->fd, read_buf, sizeof read_buf, 0) : read(t->fd, read_buf, sizeof read_buf);
    if (n > 0) {
        corio__budget_spend(CORIO__COST_BYTES(n));
        t->p->data_received(t, read_buf, (size_t)n, t->arg);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        fail(t, -errno);
        return;
    }
    got_eof(t);
}

static void start_reading(corio_transport *t, bool made);

/*
 * epoll, outside debug mode: the transport owns its descriptor's events
 * through an edge-triggered hook (io.c), called straight from the poll -
 * no handle to schedule and run per read, no level-triggered registration.
 * An edge means "read until a short read": up to EDGE_READS reads now, the
 * rest in the next iteration, so one busy peer starves nobody; and no
 * more once it has spent a task step's budget or the turn's is spent
 * (core.h), so that a poll that reports many busy transports still
 * ends in time and a round of them stays short.  Debug mode
 * keeps the add_reader path, whose callbacks it times.
 */
#define EDGE_READS 4

static void edge_read_cb(void *arg);

/* Inlined into on_edge: a call less on the path of every message. */
static inline __attribute__((always_inline)) void edge_read(corio_transport *t, bool hup) {
    corio_loop *loop = corio__cur_loop;
    int floor = loop->budget - CORIO__STEP_BUDGET; /* a hook spends no more than a task's step */
    if (floor < 0) floor = 0;
    for (int i = 0; i < EDGE_READS; i++) {
        /* A transport's first data is read at once whatever the turn has
         * spent, so that a new client's request does not wait behind the
         * busy connections (as its receives are not bulk under io_uring). */
        if (loop->budget <= floor && t->recv_ok) break;
        loop->budget -= CORIO__COST_SYSCALL;
        ssize_t n = recv(t->fd, read_buf, sizeof read_buf, 0);
        if (n > 0) {
            t->recv_ok = true;
            loop->budget -= CORIO__COST_BYTES(n);
            t->p->data_received(t, read_buf, (size_t)n, t->arg);
            if (!t->reading || t->fd < 0) return; /* paused or closed by the protocol */
            if ((size_t)n < sizeof read_buf && !hup) return; /* drained: the next edge says when */
            continue;
        }
        if (n == 0) {
            got_eof(t);
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) fail(t, -errno);
        return;
    }
    if (!corio__handle_pending(&t->edge_h) && corio_call_soon(&t->edge_h, edge_read_cb, t) == 0)
        corio__ready_defer(t->loop, &t->edge_h.node); /* it spent its share: behind fresh work */
}

static void edge_read_cb(void *arg) {
    corio_transport *t = arg;
    if (t->reading && t->fd >= 0) edge_read(t, true);
}

static void on_edge(void *arg, uint32_t events) {
    corio_transport *t = arg;
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && t->wq.watching) {
        corio__wq_send_now(&t->wq); /* the record outlives a close it finishes: connection_lost frees it, later */
        if (t->fd < 0) return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) && t->reading)
        edge_read(t, (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0);
}

/* ---- io_uring: reading from the buffer ring, writing through the ring --------------- */

#if CORIO_HAVE_URING

static void ring_unmap(proto_ring *pr) {
    if (pr->br) munmap(pr->br, pr->br_size);
    if (pr->mem) munmap(pr->mem, pr->mem_size);
    pr->br = NULL;
    pr->mem = NULL;
}

/* Set up the loop's buffer ring, on first use.  A ring that cannot be set
 * up is remembered as `legacy`. */
static void ring_bufs(corio_loop *loop, proto_ring *pr) {
    if (pr->tried) return;
    pr->tried = true;
    unsigned nbufs = corio__proto_test_nbufs ? corio__proto_test_nbufs : RING_NBUFS;
    unsigned bufsize = corio__proto_test_bufsize ? corio__proto_test_bufsize : RING_BUFSIZE;
    assert(nbufs && (nbufs & (nbufs - 1)) == 0 && nbufs <= 32768);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    pr->nbufs = nbufs;
    pr->bufsize = bufsize;
    pr->br_size = (nbufs * sizeof(struct io_uring_buf) + page - 1) / page * page;
    pr->mem_size = (size_t)nbufs * bufsize;
    /* mmap: the ring must be page-aligned; the buffers are only reserved
     * (NORESERVE), their pages appear where the kernel first writes. */
    void *br = mmap(NULL, pr->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *mem = mmap(NULL, pr->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    pr->br = br == MAP_FAILED ? NULL : br;
    pr->mem = mem == MAP_FAILED ? NULL : mem;
    int rc = -ENOMEM;
    if (pr->br && pr->mem) {
        struct io_uring_buf_reg reg;
        memset(&reg, 0, sizeof reg);
        reg.ring_addr = (uint64_t)(uintptr_t)pr->br;
        reg.ring_entries = nbufs;
        reg.bgid = RING_BGID;
        rc = io_uring_register_buf_ring(corio__ring_get(loop), &reg, 0);
    }
    if (rc < 0) {
        corio__log(CORIO_LOG_DEBUG, "io_uring: no provided-buffer ring (%s); transports read with add_reader",
                   strerror(-rc));
        ring_unmap(pr);
        pr->legacy = true;
        return;
    }
    pr->registered = true;
    io_uring_buf_ring_init(pr->br);
    int mask = io_uring_buf_ring_mask(nbufs);
    for (unsigned i = 0; i < nbufs; i++)
        io_uring_buf_ring_add(pr->br, pr->mem + (size_t)i * bufsize, bufsize, (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(pr->br, (int)nbufs);
}

/*
 * The loop's last transport reading from the ring is freed (after an RST
 * storm, say): give the pages of the buffers filled since last time back
 * to the system - 2 MiB once a storm has been through them all.  Safe:
 * a record is freed only after its recv's last completion, so no recv is
 * armed, and every buffer a completion named is back in the ring.  Not
 * while a transport lives, even paused (a bulk transfer pausing at every
 * high water mark would fault the pages in again each time), nor for a
 * few buffers (nor would a server with one client at a time).
 */
#define RING_KEEP_USED 16

static void ring_release(proto_ring *pr) {
    if (pr->nreaders || pr->used < RING_KEEP_USED || !pr->mem) return;
    madvise(pr->mem, pr->mem_size, MADV_DONTNEED);
    pr->used = 0;
}

static void ring_give_back(proto_ring *pr, unsigned bid) {
    io_uring_buf_ring_add(pr->br, pr->mem + (size_t)bid * pr->bufsize, pr->bufsize, (unsigned short)bid,
                          io_uring_buf_ring_mask(pr->nbufs), 0);
    io_uring_buf_ring_advance(pr->br, 1);
}

static void on_recv(corio__op *op, int res, unsigned flags);

static void recv_arm(corio_transport *t) {
    assert(!t->rop.inflight && t->fd >= 0);
    t->rop.done = on_recv;
    t->recv_cancelling = false;
    struct io_uring_sqe *sqe = corio__ring_sqe(t->loop, &t->rop);
    /* Under load a transport's receives wait behind accepts, signals and
     * fresh work (backend_uring.c, "Reaping") - once it has had data: a
     * new connection's first request is handled at once, not behind the
     * backlog of busy ones. */
    t->rop.bulk = t->recv_ok;
    io_uring_prep_recv_multishot(sqe, t->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RING_BGID;
    if (corio__unlikely(corio__proto_test_no_multishot)) sqe->ioprio |= 0x8000; /* an unknown flag: -EINVAL */
}

/* Withdraw the recv (pause_reading, close).  Its completions still come. */
static void recv_cancel(corio_transport *t) {
    if (!t->rop.inflight || t->recv_cancelling || t->fd < 0) return;
    struct io_uring_sqe *sqe = corio__ring_sqe(t->loop, &t->pl->cancel);
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&t->rop, 0); /* the backend's user_data of an operation */
    t->recv_cancelling = true;
}

static void held_run(void *arg);

/* Copy data aside while paused (or while earlier held data waits).  What
 * the recv had read when reading paused: with a fast sender, up to the
 * whole buffer ring (RING_NBUFS x RING_BUFSIZE). */
static void hold(corio_transport *t, const char *p, size_t n) {
    assert(!t->held_busy); /* nothing is read while data_received runs */
    if (t->capheld - t->nheld < n && t->heldoff) {
        memmove(t->held, t->held + t->heldoff, t->nheld - t->heldoff);
        t->nheld -= t->heldoff;
        t->heldoff = 0;
    }
    if (t->capheld - t->nheld < n && buf_grow(t->pl, &t->held, &t->capheld, t->nheld, t->nheld + n, 4096) < 0) {
        fail(t, -ENOMEM);
        return;
    }
    memcpy(t->held + t->nheld, p, n);
    t->nheld += n;
}

/* Data read from the kernel: to data_received now, or held. */
static void got_data(corio_transport *t, const char *p, size_t n) {
    corio__budget_spend(CORIO__COST_BYTES(n));
    if (t->closing || t->fd < 0) return; /* reading stopped at close: dropped as add_reader's would be */
    if (t->read_paused || held_any(t)) {
        hold(t, p, n);
        return;
    }
    t->p->data_received(t, p, n, t->arg);
}

/* The end of the stream (1: EOF, else -errno): now, or after what is held. */
static void got_end(corio_transport *t, int end) {
    if (t->closing || t->fd < 0) return;
    if (t->read_paused || held_any(t)) {
        t->held_end = end;
        return;
    }
    if (end > 0)
        got_eof(t);
    else
        fail(t, end);
}

/*
 * Deliver what was held while paused, then read on.  READ_BUF bytes per
 * data_received at most, as a read would give them: a protocol that
 * pauses reading from pause_writing then queues at most one such piece
 * above its high water mark, as under epoll, however much was held.
 */
static void held_run(void *arg) {
    corio_transport *t = arg;
    while (t->nheld) {
        if (t->closing || t->fd < 0 || t->read_paused) return; /* paused again: resume schedules this again */
        char *p = t->held;
        size_t cap = t->capheld, off = t->heldoff;
        size_t n = t->nheld - off < READ_BUF ? t->nheld - off : READ_BUF;
        /* The piece is taken; the rest stays held, so that a resume_reading
         * inside the call schedules this again rather than read newer data.
         * held_busy: a close inside the call leaves the buffer to us. */
        t->heldoff += n;
        t->held_busy = true;
        t->p->data_received(t, p + off, n, t->arg);
        t->held_busy = false;
        if (t->held != p) { /* dropped by a close */
            buf_free(t->pl, p, cap);
            return;
        }
        if (t->heldoff == t->nheld) free_held(t);
    }
    if (t->closing || t->fd < 0 || t->read_paused) return;
    if (t->held_end) {
        int end = t->held_end;
        t->held_end = 0;
        got_end(t, end);
        return;
    }
    start_reading(t, false);
}

static void schedule_held(corio_transport *t) {
    if (!corio__handle_pending(&t->held_h)) corio_loop_call_soon(t->loop, &t->held_h, held_run, t);
}

/* A completion of the multishot recv. */
static void on_recv(corio__op *op, int res, unsigned flags) {
    corio_transport *t = corio__container_of(op, corio_transport, rop);
    proto_ring *pr = t->pl;
    if (flags & IORING_CQE_F_BUFFER) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        if (pr->used < pr->nbufs) pr->used++;
        if (res > 0 && !t->dead) got_data(t, pr->mem + (size_t)bid * pr->bufsize, (size_t)res);
        ring_give_back(pr, bid); /* data_received is done with it */
    }
    if (t->dead) { /* connection_lost has run: the record waited for this */
        maybe_free(t);
        return;
    }
    if (res > 0) {
        t->recv_ok = true;
        t->rop.bulk = true; /* its next completions are bulk data (recv_arm) */
    } else if (res == 0) {
        got_end(t, 1);
    } else if (res == -ENOBUFS) {
        /* The ring ran dry: more completions were waiting than there are
         * buffers.  Read once the old way, so that this connection moves
         * on, and re-arm below. */
        if (!pr->dry_logged) {
            pr->dry_logged = true;
            corio__log(CORIO_LOG_DEBUG, "io_uring: the protocol buffer ring (%u x %u bytes) ran dry; reading with recv()",
                       pr->nbufs, pr->bufsize);
        }
        if (want_read(t) && !held_any(t)) {
            corio__budget_spend(CORIO__COST_SYSCALL);
            ssize_t n = recv(t->fd, read_buf, sizeof read_buf, 0);
            if (n > 0)
                got_data(t, read_buf, (size_t)n);
            else if (n == 0)
                got_end(t, 1);
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                got_end(t, -errno);
        }
    } else if (res == -EINVAL && !t->recv_ok && !t->rop.inflight) {
        /* No multishot recv in this kernel: this transport and the loop's
         * later ones read with add_reader. */
        corio__log(CORIO_LOG_DEBUG, "io_uring: multishot recv refused (EINVAL); transports read with add_reader");
        pr->legacy = true;
        t->rread = false;
        pr->nreaders--;
        start_reading(t, false);
        return;
    } else if (res != -ECANCELED) { /* -ECANCELED: our pause or close */
        got_end(t, res);
    }
    /* The recv has ended (an error, EOF, a cancel, the ring dry, or the
     * kernel stopping it): re-arm if reading should go on.  Held data
     * re-arms once it is delivered. */
    if (!t->rop.inflight && want_read(t) && !held_any(t)) recv_arm(t);
}

/* How a new transport reads and writes on this loop. */
static void ring_setup(corio_transport *t) {
    if (!corio__ring_on(t->loop)) return;
    /* Pipes keep the direct write (with SIGPIPE blocked), as stream writers do:
     * a write the ring makes to a pipe without a reader would raise SIGPIPE. */
    if (!t->is_sock) return;
    corio__wq_attach(&t->wq, t->fd, true, true, false);
    ring_bufs(t->loop, t->pl);
    t->rread = !t->pl->legacy;
    if (t->rread) t->pl->nreaders++; /* until the record is freed */
}

#else /* !CORIO_HAVE_URING: corio__ring_on is never true */

static void ring_setup(corio_transport *t) { (void)t; }
static void ring_release(proto_ring *pr) { (void)pr; }
static void recv_arm(corio_transport *t) { (void)t; }
static void recv_cancel(corio_transport *t) { (void)t; }
static void schedule_held(corio_transport *t) { (void)t; }

#endif

/* ---- transports ---------------------------------------------------------------- */

/* made: called by on_made, right after connection_made (nowhere else may a
 * read run data_received from inside a call of the protocol's). */
static void start_reading(corio_transport *t, bool made) {
    if (!want_read(t)) return;
    if (t->rread) {
        if (held_any(t))
            schedule_held(t); /* first what came while paused; it re-arms */
        else if (!t->rop.inflight)
            recv_arm(t); /* (still in flight after a cancel: its last completion re-arms) */
        return;
    }
    if (t->reading) return;
    if (t->is_sock && !t->loop->debug && !corio__ring_on(t->loop)) {
        if (!t->hooked) {
            /* A write queued before (in connection_made) installed a writer callback: the hook takes over. */
            if (t->wq.watching) corio__remove_writer(t->fd);
            int rc = corio__io_hook(t->loop, t->fd, on_edge, t);
            if (rc < 0) {
                fail(t, rc);
                return;
            }
            t->hooked = t->wq.hooked = true;
        }
        t->reading = true;
        if (made) {
            /* A new connection's first bytes have usually come with it (a
             * client sends as soon as it is connected): read them now, in
             * on_made right after connection_made, not in the next
             * iteration.  Under load an iteration is a round of the busy
             * connections, and a new client's request waited for one round
             * more.  (Were nothing there yet, the hook's edge reports it; a
             * socket drained here gives no stale edge: epoll re-checks.) */
            edge_read(t, false);
            return;
        }
        /* Whatever came during a pause gave its edge already: look once in
         * the next iteration. */
        if (!corio__handle_pending(&t->edge_h)) corio_call_soon(&t->edge_h, edge_read_cb, t);
        return;
    }
    if (corio__add_reader(t->fd, on_readable, t) == 0) t->reading = true;
    else fail(t, -ENOMEM);
}

/* ---- BufferedProtocol ---------------------------------------------------------------- */

/* A BufferedProtocol's data_received: the bytes read go into the buffers
 * get_buffer gives, each followed by buffer_updated, until all are taken.
 * asyncio reads straight into the buffer; here the read has happened
 * already (into the loop's buffer or the ring's), so this is one copy,
 * and all of one read is delivered even if the protocol pauses reading
 * in between - what it would have got in one data_received.  A protocol
 * that closes its transport midway gets no more.  An empty buffer is
 * asyncio's fatal "get_buffer() returned an empty buffer": the connection
 * fails with -ENOBUFS. */
static void buffered_data_received(corio_transport *t, const void *data, size_t len, void *arg) {
    const char *p = data;
    while (len) {
        size_t cap = 0;
        void *buf = t->bp->get_buffer(t, len, &cap, arg);
        if (!buf || !cap) {
            corio_exception_context ctx = {.message = "Fatal error: protocol.get_buffer() call failed.",
                                           .error = -ENOBUFS, .source = "protocol", .transport = t};
            corio__report(t->loop, &ctx, "get_buffer() returned an empty buffer");
            fail(t, -ENOBUFS);
            return;
        }
        size_t n = cap < len ? cap : len;
        memcpy(buf, p, n);
        t->bp->buffer_updated(t, n, arg);
        p += n;
        len -= n;
        if (t->closing || t->fd < 0) return;
    }
}

/* The table a transport calls: the caller's, or for a BufferedProtocol a
 * copy of its base whose data_received is the adapter above (so that the
 * read paths have one call to make, and a plain protocol pays nothing).
 * 0 or -ENOMEM. */
static int use_protocol(corio_transport *t, const corio_protocol *proto, const corio_buffered_protocol *bp) {
    t->p = proto;
    if (!bp) return 0;
    if (!(t->buffered = corio__malloc(sizeof *t->buffered))) return -ENOMEM;
    *t->buffered = bp->base;
    t->buffered->data_received = buffered_data_received;
    t->bp = bp;
    t->p = t->buffered;
    return 0;
}

static bool buffered_ok(const corio_buffered_protocol *bp) { return bp && bp->get_buffer && bp->buffer_updated; }

static void on_made(void *arg) {
    corio_transport *t = arg;
    t->made = true;
    if (t->p->connection_made) t->p->connection_made(t, t->arg);
    start_reading(t, true);
}

/* corio_transport_open's work, for a plain protocol (bp NULL) or a
 * buffered one (proto = &bp->base); arguments checked. */
static int transport_open(int fd, const corio_protocol *proto, const corio_buffered_protocol *bp, void *arg,
                          corio_transport **out) {
    if (!corio__cur_loop) return corio__bad(-EPERM, "corio_transport_open: no loop runs on this thread");
    proto_ring *pl = proto_state(corio__cur_loop);
    if (!pl) return -ENOMEM;
    corio_transport *t = corio__calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->pl = pl;
    pl->pool.nowners++;
    int type = 0;
    socklen_t tl = sizeof type;
    t->fd = fd;
    t->is_sock = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
    if (use_protocol(t, proto, bp) < 0) {
        pl->pool.nowners--;
        corio__free(t);
        return -ENOMEM;
    }
    t->arg = arg;
    t->loop = corio__cur_loop;
    corio__wq_init(&t->wq, &wq_owner, &pl->pool, CORIO_STREAM_HIGH_WATER, CORIO_STREAM_LOW_WATER);
    corio__wq_attach(&t->wq, fd, t->is_sock, false, false);
    corio__list_init(&t->link);
    if (corio_call_soon(&t->made_h, on_made, t) < 0) {
        pl->pool.nowners--;
        corio__free(t->buffered);
        corio__free(t);
        return -ENOMEM;
    }
    ring_setup(t);
    corio__fd_own(t->loop, fd);
    if (out) *out = t;
    return 0;
}

int corio_transport_open(int fd, const corio_protocol *proto, void *arg, corio_transport **out) {
    if (fd < 0) return corio__bad(-EBADF, "corio_transport_open: negative fd");
    if (!proto || !proto->data_received) return corio__bad(-EINVAL, "corio_transport_open: no data_received");
    return transport_open(fd, proto, NULL, arg, out);
}

int corio_transport_open_buffered(int fd, const corio_buffered_protocol *proto, void *arg, corio_transport **out) {
    if (fd < 0) return corio__bad(-EBADF, "corio_transport_open_buffered: negative fd");
    if (!buffered_ok(proto)) return corio__bad(-EINVAL, "corio_transport_open_buffered: no get_buffer or buffer_updated");
    return transport_open(fd, &proto->base, proto, arg, out);
}

static int create_connection(const char *host, int port, const corio_protocol *proto,
                             const corio_buffered_protocol *bp, void *arg, corio_transport **out) {
    int fd = corio_tcp_connect(host, port);
    if (fd < 0) return fd;
    int rc = transport_open(fd, proto, bp, arg, out);
    if (rc < 0) corio_close(fd);
    return rc;
}

int corio_create_connection(const char *host, int port, const corio_protocol *proto, void *arg,
                            corio_transport **out) {
    if (!proto || !proto->data_received) return corio__bad(-EINVAL, "corio_create_connection: no data_received");
    return create_connection(host, port, proto, NULL, arg, out);
}

int corio_create_connection_buffered(const char *host, int port, const corio_buffered_protocol *proto, void *arg,
                                     corio_transport **out) {
    if (!buffered_ok(proto))
        return corio__bad(-EINVAL, "corio_create_connection_buffered: no get_buffer or buffer_updated");
    return create_connection(host, port, &proto->base, proto, arg, out);
}

__attribute__((noinline)) static int transport_write_slow(corio_transport *t, const void *data, size_t len) {
    if (!t || (!data && len)) return corio__bad(-EINVAL, "corio_transport_write: NULL");
    if (t->err) return t->err;
    if (t->closing || t->wq.eof_pending) return corio__bad(-ESHUTDOWN, "corio_transport_write: the transport is closed");
    if (len == 0) return 0;
    struct iovec iov = {(void *)data, len};
    return corio__wq_write(&t->wq, &iov, 1, len);
}

int corio_transport_write(corio_transport *t, const void *data, size_t len) {
    /* The hot case (an echo's every answer): a socket on a readiness loop
     * with nothing queued, one send.  Open is implied by the queue's
     * no_direct: a close, a failure (which drops the queue) or a
     * half-close sets it.  Everything else takes the general path. */
    if (corio__likely(t && data && len && !t->wq.no_direct && t->wq.start == t->wq.end)) {
        ssize_t n = send(t->wq.fd, data, len, MSG_NOSIGNAL);
        if (corio__likely(n == (ssize_t)len)) {
            corio__budget_spend(CORIO__COST_SYSCALL + CORIO__COST_BYTES(len));
            return 0;
        }
        return corio__wq_write_rest(&t->wq, data, len, n);
    }
    return transport_write_slow(t, data, len);
}

int corio_transport_write_eof(corio_transport *t) {
    if (!t) return -EINVAL;
    if (t->err) return t->err;
    if (t->closing) return -ESHUTDOWN;
    if (!t->is_sock) return -EOPNOTSUPP;
    return corio__wq_write_eof(&t->wq);
}

void corio_transport_close(corio_transport *t) {
    if (!t || t->closing) return;
    t->closing = true;
    /* Reading stops at once; the queue is written first. */
    drop_held(t);
    if (t->rread) recv_cancel(t);
    if (t->reading) {
        corio__remove_reader(t->fd);
        t->reading = false;
    }
    if (corio__wq_close(&t->wq)) finish(t); /* else the queue's `closed` finishes, once it is sent */
}

void corio_transport_abort(corio_transport *t) {
    if (t && t->fd >= 0) finish(t);
}

int corio_transport_is_closing(const corio_transport *t) { return t && t->closing; }

void corio_transport_pause_reading(corio_transport *t) {
    if (!t || t->read_paused) return;
    t->read_paused = true;
    if (t->rread) recv_cancel(t); /* what is already on its way is held */
    if (t->reading) {
        corio__remove_reader(t->fd);
        t->reading = false;
    }
}

void corio_transport_resume_reading(corio_transport *t) {
    if (!t || !t->read_paused) return;
    t->read_paused = false;
    if (t->made) start_reading(t, false);
}

size_t corio_transport_get_write_buffer_size(const corio_transport *t) { return t ? corio__wq_pending(&t->wq) : 0; }

int corio_transport_set_write_buffer_limits(corio_transport *t, size_t high, size_t low) {
    if (!t) return -EINVAL;
    if (!high) high = CORIO_STREAM_HIGH_WATER;
    if (!low) low = high / 4;
    if (low > high) return -EINVAL;
    corio__wq_set_limits(&t->wq, high, low);
    return 0;
}

int corio_transport_peername(const corio_transport *t, char *buf, size_t cap) {
    if (!t) return -EINVAL;
    return t->fd < 0 ? -EBADF : corio_peername(t->fd, buf, cap);
}

int corio_transport_sockname(const corio_transport *t, char *buf, size_t cap) {
    if (!t) return -EINVAL;
    return t->fd < 0 ? -EBADF : corio_sockname(t->fd, buf, cap);
}

int corio_transport_fd(const corio_transport *t) { return t ? t->fd : -1; }

/* ---- server ---------------------------------------------------------------------- */

/*
 * Accepting.  On epoll (outside debug mode) the listener's edges come
 * straight from the poll to on_accept_edge, as a transport's do: the
 * connection_made it schedules then runs in the same iteration, and with it
 * the first read (start_reading) - a new client's request is answered in
 * the iteration its connection was reported in, not two later, which under
 * load is two rounds of the busy connections.  An edge is reported once, so
 * a backlog longer than a batch is taken up again in the next iteration.
 * Elsewhere (io_uring, debug mode) the listener has a reader callback, which
 * the loop calls as long as it stays readable.
 */
static void on_accept(void *arg);
static void on_accept_edge(void *arg, uint32_t events);

static void resume_accept(void *arg) {
    corio_proto_server *s = arg;
    if (s->lfd < 0) return;
    if (!s->hooked) {
        corio__add_reader(s->lfd, on_accept, s);
        return;
    }
    corio__io_hook(corio__cur_loop, s->lfd, on_accept_edge, s);
    on_accept_edge(s, 0); /* an edge that came while it was off is not reported again */
}

/* Up to ACCEPT_BATCH connections; false when there may be more waiting. */
static bool accept_batch(corio_proto_server *s) {
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) return true;
            if (corio__accept_exhausted(-e)) {
                /* The client waits in the backlog; stop listening for a
                 * while (io.h). */
                if (!s->warned) {
                    s->warned = true;
                    corio__accept_exhausted_report(-e);
                }
                if (s->hooked)
                    corio__io_hook(corio__cur_loop, s->lfd, NULL, NULL);
                else
                    corio__remove_reader(s->lfd);
                corio_call_later(&s->resume_h, CORIO__ACCEPT_BACKOFF, resume_accept, s);
                return true;
            }
            continue; /* ECONNABORTED, EPROTO, EPERM: that client only */
        }
        s->warned = false;
        if (s->max_conns && s->nconns >= s->max_conns) {
            close(fd); /* a clear refusal; the others go on */
            continue;
        }
        corio_set_nodelay(fd, 1);
        void *carg = s->factory_arg;
        if (s->factory) {
            s->in_factory = true;
            carg = s->factory(s->factory_arg);
            s->in_factory = false;
        }
        corio_transport *t;
        if (transport_open(fd, s->p, s->bp, carg, &t) < 0) {
            corio__log(CORIO_LOG_WARNING, "server: out of memory for a new connection; closed it");
            close(fd);
        } else if (!s->close_late) {
            t->srv = s;
            corio__list_push_back(&s->conns, &t->link);
            s->nconns++;
        }
        if (s->close_late) {
            /* The factory closed the server: this connection is served like
             * those already open (asyncio's close stops listening only),
             * and the server is freed now that nothing here reads it. */
            corio__free(s);
            return true;
        }
    }
    return false;
}

static void on_accept(void *arg) { accept_batch(arg); }

static void accept_more(void *arg) { on_accept_edge(arg, 0); }

static void on_accept_edge(void *arg, uint32_t events) {
    (void)events;
    corio_proto_server *s = arg;
    if (!accept_batch(s) && !corio__handle_pending(&s->more_h)) corio_call_soon(&s->more_h, accept_more, s);
}

/* corio_create_server's work, for a plain protocol (bp NULL) or a
 * buffered one (proto = &bp->base); arguments checked. */
static int create_server(const char *host, int port, const corio_protocol *proto, const corio_buffered_protocol *bp,
                         corio_protocol_factory factory, void *factory_arg, const corio_proto_server_opts *opts,
                         corio_proto_server **out) {
    if (!corio__cur_loop) return corio__bad(-EPERM, "corio_create_server: no loop runs on this thread");
    corio_proto_server *s = corio__calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    int fd = corio_tcp_listen_opts(host, port, opts ? &opts->listen : NULL);
    if (fd < 0) {
        corio__free(s);
        return fd;
    }
    s->lfd = fd;
    s->p = proto;
    s->bp = bp;
    s->factory = factory;
    s->factory_arg = factory_arg;
    s->max_conns = opts ? opts->max_connections : 0;
    corio__list_init(&s->conns);
    corio_loop *loop = corio__cur_loop;
    s->hooked = !loop->debug && !corio__ring_on(loop);
    int rc = s->hooked ? corio__io_hook(loop, fd, on_accept_edge, s) : corio__add_reader(fd, on_accept, s);
    if (rc < 0) {
        corio_close(fd);
        corio__free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int corio_create_server(const char *host, int port, const corio_protocol *proto, corio_protocol_factory factory,
                        void *factory_arg, const corio_proto_server_opts *opts, corio_proto_server **out) {
    if (!proto || !proto->data_received || !out) return corio__bad(-EINVAL, "corio_create_server: bad arguments");
    return create_server(host, port, proto, NULL, factory, factory_arg, opts, out);
}

int corio_create_server_buffered(const char *host, int port, const corio_buffered_protocol *proto,
                                 corio_protocol_factory factory, void *factory_arg,
                                 const corio_proto_server_opts *opts, corio_proto_server **out) {
    if (!buffered_ok(proto) || !out) return corio__bad(-EINVAL, "corio_create_server_buffered: bad arguments");
    return create_server(host, port, &proto->base, proto, factory, factory_arg, opts, out);
}

int corio_proto_server_port(const corio_proto_server *s) {
    if (!s) return -EINVAL;
    return s->lfd < 0 ? -EBADF : corio_local_port(s->lfd);
}

size_t corio_proto_server_connections(const corio_proto_server *s) { return s ? s->nconns : 0; }

void corio_proto_server_close(corio_proto_server *s, int abort_connections) {
    if (!s) return;
    corio_handle_cancel(&s->resume_h);
    corio_handle_cancel(&s->more_h);
    if (s->lfd >= 0) corio_close(s->lfd);
    s->lfd = -1;
    /* The transports outlive the server: unlink them. */
    while (!corio__list_empty(&s->conns)) {
        corio_transport *t = corio__container_of(s->conns.next, corio_transport, link);
        corio__list_remove(&t->link);
        t->srv = NULL;
        if (abort_connections) corio_transport_abort(t);
    }
    if (s->in_factory) {
        s->close_late = true; /* accept_batch frees it when the factory returns */
        return;
    }
    corio__free(s);
}

/* ---- datagrams ------------------------------------------------------------------------ */

struct corio_dgram_transport {
    int fd;
    bool closing, made;
    bool leak; /* as corio_transport.leak */
    const corio_dgram_protocol *p;
    void *arg;
    corio_handle made_h, lost_h;
};

static void dg_readable(void *arg) {
    corio_dgram_transport *t = arg;
    for (int i = 0; i < DGRAM_BATCH && t->fd >= 0; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(t->fd, read_buf, sizeof read_buf, 0, (struct sockaddr *)&from, &fl);
        if (n >= 0) {
            t->p->datagram_received(t, read_buf, (size_t)n, (struct sockaddr *)&from, fl, t->arg);
            continue;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (e != EINTR && t->p->error_received) t->p->error_received(t, -e, t->arg);
        return;
    }
}

static void dg_made(void *arg) {
    corio_dgram_transport *t = arg;
    t->made = true;
    if (t->p->connection_made) t->p->connection_made(t, t->arg);
    if (t->fd >= 0 && !t->closing && corio__add_reader(t->fd, dg_readable, t) < 0 && t->p->error_received)
        t->p->error_received(t, -ENOMEM, t->arg);
}

static void dg_lost(void *arg) {
    corio_dgram_transport *t = arg;
    if (t->p->connection_lost) t->p->connection_lost(t, 0, t->arg);
    if (!t->leak) corio__free(t);
}

int corio_dgram_open(int fd, const corio_dgram_protocol *proto, void *arg, corio_dgram_transport **out) {
    if (fd < 0) return corio__bad(-EBADF, "corio_dgram_open: negative fd");
    if (!proto || !proto->datagram_received) return corio__bad(-EINVAL, "corio_dgram_open: no datagram_received");
    if (!corio__cur_loop) return corio__bad(-EPERM, "corio_dgram_open: no loop runs on this thread");
    corio_dgram_transport *t = corio__calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->fd = fd;
    t->p = proto;
    t->arg = arg;
    if (corio_call_soon(&t->made_h, dg_made, t) < 0) {
        corio__free(t);
        return -ENOMEM;
    }
    corio__fd_own(corio__cur_loop, fd);
    if (out) *out = t;
    return 0;
}

int corio_dgram_sendto(corio_dgram_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                       socklen_t addrlen) {
    if (!t || (!data && len)) return -EINVAL;
    if (t->closing) return -ESHUTDOWN;
    ssize_t n = sendto(t->fd, data, len, MSG_NOSIGNAL, addr, addr ? addrlen : 0);
    return n < 0 ? -errno : 0;
}

void corio_dgram_close(corio_dgram_transport *t) {
    if (!t || t->closing) return;
    t->closing = true;
    corio_close(t->fd);
    t->fd = -1;
    schedule_lost(&t->lost_h, &t->leak, dg_lost, t); /* after made: both are queued in order */
}

int corio_dgram_fd(const corio_dgram_transport *t) { return t ? t->fd : -1; }

/* At loop close, after the ring's last completions were reaped: the
 * buffer ring goes (unregistered first, so the kernel lets go of it), and
 * the cached buffers. */
void corio__proto_ring_free(corio_loop *loop) {
    proto_ring *pr = loop->ring_bufs;
    if (!pr) return;
#if CORIO_HAVE_URING
    if (pr->registered) io_uring_unregister_buf_ring(corio__ring_get(loop), RING_BGID);
    ring_unmap(pr);
#endif
    corio__wq_pool_free(&pr->pool);
    corio__free(pr);
    loop->ring_bufs = NULL;
}

/* Test hook (tests/test_flow_control.c): what the current loop's transports
 * leave behind - bytes of mapped transport buffers (in use or cached), of
 * which cached, and bytes of the buffer ring's pages resident (mincore). */
extern void corio__proto_test_mem(size_t *mapped, size_t *cached, size_t *ring_resident);
void corio__proto_test_mem(size_t *mapped, size_t *cached, size_t *ring_resident) {
    proto_ring *pr = corio__cur_loop ? corio__cur_loop->ring_bufs : NULL;
    *mapped = pr ? pr->pool.mapped : 0;
    *cached = pr ? pr->pool.cached : 0;
    *ring_resident = 0;
    if (!pr || !pr->mem) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), npages = pr->mem_size / page;
    unsigned char *vec = malloc(npages);
    if (!vec) return;
    if (mincore(pr->mem, pr->mem_size, vec) == 0)
        for (size_t i = 0; i < npages; i++) *ring_resident += (vec[i] & 1) ? page : 0;
    free(vec);
}
