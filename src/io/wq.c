/*
 * wq.c - the write engine under stream writers and protocol transports:
 * one queue of bytes for a descriptor, with the part the kernel is
 * reading (io_uring), the high and low water marks, and the flush on
 * either backend.
 *
 * Readiness (epoll, and pipes under io_uring).  A write with nothing
 * queued goes straight to the kernel; what it does not take is queued and
 * written by an add_writer callback (or, for an owner that holds the
 * descriptor's events through a hook, by the owner calling
 * corio__wq_send_now on the write edge).  An owner may ask for
 * coalescing: a queue written more than once in one loop iteration then
 * copies its writes and flushes them at the end of the iteration
 * (loop->ring_flush), so that they leave in one send, and goes back to
 * direct sends after an iteration that wrote to it once.  A big write
 * (CORIO__WQ_DIRECT_MIN) with nothing queued is always sent at once.
 *
 * Completion (io_uring, sockets).  A write appends to the queue and puts
 * the queue on loop->ring_flush; just before the loop's next submit the
 * queue's storage moves to `ip` (in flight: the kernel reads it and
 * nobody touches it until the completion) and goes in one send entry.
 * The completion sends the rest after a short send, or the next queue.  A
 * busy connection so costs no system call of its own per write.
 *
 * The owner hears of the queue through its callbacks, always as the last
 * thing the engine does: `resume` when the queue fell to low water after
 * it went above high water, `failed` when a send failed, `closed` when a
 * close asked for with corio__wq_close may proceed (everything sent), and
 * `released` when the kernel gave back an in-flight buffer after the
 * owner dropped the queue.  `failed` and `closed` may free the owner (and
 * the queue in it): the functions that can call them return false then,
 * so the caller knows not to touch either again.
 *
 * Memory.  Buffers come from malloc, or from a pool (the protocol layer's,
 * whose big buffers are mapped and cached per loop, see buf_grow).  An
 * empty queue keeps its storage up to CORIO__WQ_KEEP bytes, so an idle
 * connection holds one small buffer and a burst's memory goes back.
 */
#include "io.h"

#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#if CORIO_HAVE_URING
#include <liburing.h>
#endif

/* ---- buffers: malloc, or a pool's mapped and cached ones ----------------------------- */

/*
 * A pool's buffer of up to CORIO__WQ_BUF_SMALL bytes comes from malloc: an
 * idle connection keeps one, and they are too small to matter.  A bigger
 * one is mapped on its own, in a power-of-two size, so that freeing it
 * gives its pages back at once.  From malloc, the big buffers of a burst
 * of connections lay among the small records allocated between them, and
 * glibc kept the heap they freed: after an RST storm (4000 clients, 200 at
 * a time, each sending 64 KiB and resetting), echo_server_proto stayed at
 * 10-14 MiB resident under io_uring with 34 KiB of its heap in use (2.3
 * MiB under epoll, which sends at once and queues little); now 3.4 MiB,
 * the cache and all.  A freed mapped buffer of up to CORIO__WQ_KEEP bytes
 * waits in the pool's cache for the next use, up to WQ_CACHE bytes plus
 * WQ_CACHE_PER_OWNER for each owner that lives: busy connections do not
 * map and unmap at every pause, and what a loop keeps once they are gone
 * is bounded (corio__wq_pool_trim as each goes).
 */
#define WQ_MIN_SHIFT 14            /* the smallest mapped buffer: 16 KiB */
#define WQ_CACHE (1024 * 1024)     /* what an idle pool may keep cached */
/* ... and what each live owner adds to that: with 200 busy transports
 * under io_uring, a 1 MiB cache sent most buffers back to the kernel and
 * mapped them again (first touches at 10-50 us a page here), which halved
 * a saturated echo's throughput (212 -> 372 MB/s with room for them). */
#define WQ_CACHE_PER_OWNER (256 * 1024)

static unsigned buf_class(size_t cap) {
    unsigned c = 0;
    while (((size_t)1 << (WQ_MIN_SHIFT + c)) < cap) c++;
    return c;
}

/* A mapped buffer of cap bytes (a power of two above CORIO__WQ_BUF_SMALL), from the cache if it has one. */
static char *buf_map(corio__wq_pool *pl, size_t cap) {
    unsigned c = buf_class(cap);
    if (c < CORIO__WQ_CLASSES && pl->cache[c]) {
        char *p = pl->cache[c];
        memcpy(&pl->cache[c], p, sizeof(char *));
        pl->cached -= cap;
        return p;
    }
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    pl->mapped += cap;
    return p;
}

static size_t cache_cap(const corio__wq_pool *pl) { return WQ_CACHE + (size_t)pl->nowners * WQ_CACHE_PER_OWNER; }

void corio__wq_pool_trim(corio__wq_pool *pl) {
    for (unsigned c = CORIO__WQ_CLASSES; c-- > 0 && pl->cached > cache_cap(pl);) {
        size_t cap = (size_t)1 << (WQ_MIN_SHIFT + c);
        while (pl->cache[c] && pl->cached > cache_cap(pl)) {
            char *p = pl->cache[c];
            memcpy(&pl->cache[c], p, sizeof(char *));
            pl->cached -= cap;
            munmap(p, cap);
            pl->mapped -= cap;
        }
    }
}

void corio__wq_pool_free(corio__wq_pool *pl) {
    for (unsigned c = 0; c < CORIO__WQ_CLASSES; c++) {
        while (pl->cache[c]) {
            char *p = pl->cache[c];
            memcpy(&pl->cache[c], p, sizeof(char *));
            munmap(p, (size_t)1 << (WQ_MIN_SHIFT + c));
        }
    }
    pl->cached = 0;
}

void corio__wq_buf_free(corio__wq_pool *pl, char *p, size_t cap) {
    if (!p) return;
    if (!pl || cap <= CORIO__WQ_BUF_SMALL) {
        corio__free(p);
        return;
    }
    unsigned c = buf_class(cap);
    if (c < CORIO__WQ_CLASSES && pl->cached + cap <= cache_cap(pl)) {
        memcpy(p, &pl->cache[c], sizeof(char *));
        pl->cache[c] = p;
        pl->cached += cap;
        return;
    }
    munmap(p, cap);
    pl->mapped -= cap;
}

int corio__wq_buf_grow(corio__wq_pool *pl, char **p, size_t *cap, size_t keep, size_t need, size_t first) {
    if (need > SIZE_MAX / 4) return -ENOMEM;
    size_t ncap = *cap ? *cap : first;
    while (ncap < need) ncap *= 2;
    if (!pl || ncap <= CORIO__WQ_BUF_SMALL) {
        char *q = corio__realloc(*p, ncap);
        if (!q) return -ENOMEM;
        *p = q;
        *cap = ncap;
        return 0;
    }
    if (ncap < ((size_t)1 << WQ_MIN_SHIFT)) ncap = (size_t)1 << WQ_MIN_SHIFT; /* `first` need not be a power of two */
    while (ncap & (ncap - 1)) ncap += ncap & -ncap;
    if (*cap > CORIO__WQ_BUF_SMALL && buf_class(ncap) >= CORIO__WQ_CLASSES) {
        /* Too big for the cache: let the kernel move the pages rather than copy them. */
        void *m = mremap(*p, *cap, ncap, MREMAP_MAYMOVE);
        if (m == MAP_FAILED) return -ENOMEM;
        pl->mapped += ncap - *cap;
        *p = m;
        *cap = ncap;
        return 0;
    }
    char *q = buf_map(pl, ncap);
    if (!q) return -ENOMEM;
    if (keep) memcpy(q, *p, keep);
    corio__wq_buf_free(pl, *p, *cap);
    *p = q;
    *cap = ncap;
    return 0;
}

static void free_queue(corio__wq *q) {
    corio__wq_buf_free(q->pool, q->p, q->cap);
    q->p = NULL;
    q->start = q->end = q->cap = 0;
}

static void free_inflight(corio__wq *q) {
    corio__wq_buf_free(q->pool, q->ip, q->icap);
    q->ip = NULL;
    q->istart = q->iend = q->icap = 0;
}

/* ---- the queue ------------------------------------------------------------------------ */

void corio__wq_init(corio__wq *q, const corio__wq_owner *owner, corio__wq_pool *pool, size_t high, size_t low) {
    memset(q, 0, sizeof *q);
    q->fd = -1;
    q->owner = owner;
    q->pool = pool;
    q->high = high;
    q->low = low;
    q->indirect = true; /* until corio__wq_attach */
    corio__list_init(&q->flush.link);
}

void corio__wq_attach(corio__wq *q, int fd, bool is_sock, bool ring, bool coalesce_ok) {
    q->fd = fd;
    q->is_sock = is_sock;
    q->ring = ring;
    q->coalesce_ok = coalesce_ok;
    q->indirect = !is_sock || ring;
}

/* Room for `want` more bytes after end.  0 or -ENOMEM. */
static int reserve(corio__wq *q, size_t want) {
    if (q->cap - q->end >= want) return 0;
    if (q->start) { /* slide the live bytes down first */
        memmove(q->p, q->p + q->start, q->end - q->start);
        q->end -= q->start;
        q->start = 0;
        if (q->cap - q->end >= want) return 0;
    }
    /* 1 KiB first: small, as an idle connection keeps it. */
    return corio__wq_buf_grow(q->pool, &q->p, &q->cap, q->end, q->end + want, 1024);
}

/* Append iov's bytes after the first `skip` (of `total`) to the queue. */
static int queue_iov(corio__wq *q, const struct iovec *iov, int iovcnt, size_t skip, size_t total) {
    int rc = reserve(q, total - skip);
    if (rc < 0) return rc;
    for (int i = 0; i < iovcnt; i++) {
        size_t l = iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        memcpy(q->p + q->end, (const char *)iov[i].iov_base + skip, l - skip);
        q->end += l - skip;
        skip = 0;
    }
    return 0;
}

/* One send of what the kernel takes now: the bytes sent (0 when it takes
 * none) or -errno.  A pipe's write cannot raise SIGPIPE. */
static ssize_t send_iov(corio__wq *q, const struct iovec *iov, int iovcnt) {
    ssize_t r;
    if (iovcnt == 1) {
        r = q->is_sock ? send(q->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                       : corio__write_nosigpipe(q->fd, iov[0].iov_base, iov[0].iov_len);
    } else {
        if (!q->is_sock || iovcnt > IOV_MAX) return 0; /* all of it to the queue: the flush writes it */
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
        r = sendmsg(q->fd, &m, MSG_NOSIGNAL);
    }
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    return -errno;
}

/* Above high water: paused, and the owner hears of it. */
static void check_high(corio__wq *q) {
    if (!q->paused && corio__wq_pending(q) > q->high) {
        q->paused = true;
        if (q->owner->pause) q->owner->pause(q);
    }
}

static void on_writable(void *arg);

/* Watch for writability, to send what the kernel did not take. */
static int watch(corio__wq *q) {
    if (q->watching) return 0;
    if (!q->hooked) {
        int rc = corio__add_writer(q->fd, on_writable, q);
        if (rc < 0) return rc;
    }
    q->watching = true;
    return 0;
}

static void unwatch(corio__wq *q) {
    if (!q->watching) return;
    if (!q->hooked && q->fd >= 0 && corio__cur_loop) corio__remove_writer(q->fd);
    q->watching = false;
}

/* Give a burst's memory back once the queue is empty. */
static void trim(corio__wq *q) {
    if (q->cap > CORIO__WQ_KEEP) free_queue(q);
    if (q->icap > CORIO__WQ_KEEP) free_inflight(q);
}

/*
 * Everything is sent: a pending half-close, then a pending close.  Returns
 * false when the owner's `closed` ran (it may have freed q).
 */
static bool all_sent(corio__wq *q) {
    unwatch(q);
    trim(q);
    if (q->eof_pending && !q->eof_sent) {
        q->eof_sent = true;
        shutdown(q->fd, SHUT_WR);
    }
    if (q->closing) {
        q->owner->closed(q);
        return false;
    }
    return true;
}

/* The queue fell to low water: resume the owner.  False when the owner
 * dropped the queue from its callback (a protocol's abort). */
static bool check_low(corio__wq *q) {
    if (q->paused && corio__wq_pending(q) <= q->low) {
        q->paused = false;
        if (q->owner->resume) q->owner->resume(q);
        if (q->fd < 0) return false;
    }
    return true;
}

bool corio__wq_send_now(corio__wq *q) {
    while (q->end > q->start) {
        struct iovec iov = {q->p + q->start, q->end - q->start};
        ssize_t n = send_iov(q, &iov, 1);
        corio__budget_spend(CORIO__COST_SYSCALL + (n > 0 ? CORIO__COST_BYTES(n) : 0)); /* the turn's work (core.h) */
        if (n < 0) {
            q->owner->failed(q, (int)n);
            return false;
        }
        if (n == 0) break;
        q->start += (size_t)n;
    }
    if (!check_low(q)) return false;
    if (q->end > q->start) return true; /* the rest waits for room (or the owner's resume queued more) */
    q->start = q->end = 0;
    return all_sent(q);
}

/* The add_writer callback. */
static void on_writable(void *arg) { corio__wq_send_now(arg); }

/* The end of the iteration (readiness): send what it queued.  An
 * iteration that queued one write only goes back to direct sends. */
void corio__wq_flush_run(corio__node *n) {
    corio__wq *q = corio__container_of(n, corio__wq, flush);
    /* Not while a sendfile waits for the queue to go: a coalescing
     * queue's fast write path does not look at sendfiling, so the writes
     * it refuses (-EBUSY) must take the checked path. */
    q->coalesce = q->nqueued > 1 && !q->sendfiling;
    q->nqueued = 0;
    if (q->fd < 0 || q->watching) return;
    if (!corio__wq_send_now(q)) return; /* the owner ended it */
    if (q->end > q->start) {
        int rc = watch(q);
        if (rc < 0) q->owner->failed(q, rc); /* nothing could ever send the rest */
    }
}

/* ---- io_uring: sends through the ring ------------------------------------------------ */

#if CORIO_HAVE_URING
static void ring_sent(corio__op *op, int res, unsigned flags);

static void ring_submit(corio__wq *q) {
    size_t n = q->iend - q->istart;
    if (n > 0x7ffff000) n = 0x7ffff000; /* what one send takes at most (Linux's MAX_RW_COUNT) */
    q->sop.done = ring_sent;
    struct io_uring_sqe *sqe = corio__ring_sqe(corio__cur_loop, &q->sop);
    io_uring_prep_send(sqe, q->fd, q->ip + q->istart, (unsigned)n, MSG_NOSIGNAL); /* q->ring: a socket */
    q->sending = true;
}

/* Send everything queued in one entry, unless a send is in flight (its completion comes back here). */
static void ring_start(corio__wq *q) {
    if (q->sending || q->end == q->start || q->fd < 0) return;
    char *p = q->ip; /* empty: its storage takes the next queue */
    size_t cap = q->icap;
    q->ip = q->p;
    q->istart = q->start;
    q->iend = q->end;
    q->icap = q->cap;
    q->p = p;
    q->cap = cap;
    q->start = q->end = 0;
    ring_submit(q);
}

static void ring_sent(corio__op *op, int res, unsigned flags) {
    (void)flags;
    corio__wq *q = corio__container_of(op, corio__wq, sop);
    q->sending = false;
    if (q->fd < 0) { /* dropped meanwhile (the close cancelled the send): the memory can go now */
        free_inflight(q);
        if (q->owner->released) q->owner->released(q);
        return;
    }
    if (res < 0) {
        if (res == -EAGAIN || res == -EINTR) {
            ring_submit(q);
            return;
        }
        /* -ECANCELED with the descriptor still ours: someone closed it under us. */
        q->owner->failed(q, res == -ECANCELED ? -EBADF : res);
        return;
    }
    q->istart += (size_t)res;
    if (q->iend > q->istart) {
        ring_submit(q); /* a short send: the rest first, in order */
    } else {
        q->istart = q->iend = 0;
        ring_start(q);
    }
    if (!check_low(q)) return;
    if (q->sending || q->end > q->start) return;
    /* Everything is sent: an idle queue keeps one buffer, not two (the
     * queue takes the in-flight one's storage). */
    if (!q->p) {
        q->p = q->ip;
        q->cap = q->icap;
        q->ip = NULL;
        q->icap = 0;
    }
    all_sent(q);
}

static void ring_flush_run(corio__node *n) { ring_start(corio__container_of(n, corio__wq, flush)); }

/* The completion of a send that was in flight when its queue moved
 * (corio__wq_move): the kernel reports it on the old record, the new
 * queue takes it; the old one is idle from then on. */
static void ring_sent_moved(corio__op *op, int res, unsigned flags) {
    corio__wq *src = corio__container_of(op, corio__wq, sop);
    corio__wq *dst = src->moved;
    src->moved = NULL;
    src->sending = false;
    ring_sent(&dst->sop, res, flags);
    if (src->owner->released) src->owner->released(src);
}
#endif

/* Send what is queued at the end of this iteration (io_uring: at the
 * loop's next submit).  Nothing to do while a send is in flight or
 * writability is watched: that flush takes the new data too. */
static void flush_soon(corio__wq *q, corio_loop *loop) {
    if (q->sending || q->watching || q->flush.link.next != &q->flush.link) return;
#if CORIO_HAVE_URING
    if (q->ring) {
        q->flush.run = ring_flush_run;
        corio__loop_flush_add(loop, &q->flush);
        corio__loop_ring_queued(loop); /* the loop polls (and so flushes) at the end of this iteration */
        return;
    }
#endif
    q->flush.run = corio__wq_flush_run;
    corio__loop_flush_add(loop, &q->flush);
}

int corio__wq_write(corio__wq *q, const struct iovec *iov, int iovcnt, size_t total) {
    corio_loop *loop = corio__cur_loop;
    if (corio__unlikely(q->ring && !loop)) return corio__bad(-EPERM, "write: no loop runs to send through its ring");
    size_t done = 0;
    /* Straight to the kernel with nothing queued, unless the queue
     * coalesces or was sent to already in this iteration (then it starts
     * to); always when big, or when no loop runs that could flush. */
    bool direct = !q->ring && !corio__wq_pending(q);
    if (direct && loop && q->coalesce_ok && total < CORIO__WQ_DIRECT_MIN) {
        if (q->sent_iter == loop->iterations) q->coalesce = true;
        direct = !q->coalesce;
    }
    if (direct) {
        ssize_t n = send_iov(q, iov, iovcnt);
        if (n < 0) {
            q->owner->failed(q, (int)n);
            return (int)n;
        }
        corio__budget_spend(CORIO__COST_SYSCALL + CORIO__COST_BYTES(n));
        if (loop) q->sent_iter = loop->iterations;
        done = (size_t)n;
        if (done == total) return 0;
    } else {
        corio__budget_spend(1 + CORIO__COST_BYTES(total)); /* the copy */
        q->nqueued++;
    }
    int rc = queue_iov(q, iov, iovcnt, done, total);
    if (rc < 0) return rc;
    if (direct || !loop) {
        /* The kernel took what it could: send the rest when it has room. */
        if ((rc = watch(q)) < 0) return rc; /* queued, but nothing will flush it: tell the caller */
    } else {
        flush_soon(q, loop);
    }
    check_high(q);
    return 0;
}

int corio__wq_write_rest(corio__wq *q, const void *buf, size_t len, ssize_t n) {
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        int err = -errno;
        q->owner->failed(q, err);
        return err;
    }
    if (n < 0) n = 0;
    struct iovec iov = {(void *)buf, len};
    int rc = queue_iov(q, &iov, 1, (size_t)n, len);
    if (rc < 0) return rc;
    if ((rc = watch(q)) < 0) return rc; /* queued, but nothing will flush it: tell the caller */
    check_high(q);
    return 0;
}

void corio__wq_kick(corio__wq *q) {
    if (q->flush.link.next != &q->flush.link && q->flush.run == corio__wq_flush_run) {
        corio__list_remove(&q->flush.link);
        corio__wq_flush_run(&q->flush);
    }
}

void corio__wq_flush_now(corio__wq *q) {
#if CORIO_HAVE_URING
    if (q->ring) {
        /* Only bytes that wait for the next submit, with no send in flight
         * (order on the wire) and no close or half-close to finish (those
         * run from the ring's completions, as before). */
        if (q->sending || q->closing || q->eof_pending || q->fd < 0 || q->end == q->start ||
            q->flush.link.next == &q->flush.link || q->flush.run != ring_flush_run)
            return;
        ssize_t n = send(q->fd, q->p + q->start, q->end - q->start, MSG_DONTWAIT | MSG_NOSIGNAL);
        corio__budget_spend(CORIO__COST_SYSCALL + (n > 0 ? CORIO__COST_BYTES(n) : 0));
        if (n <= 0) return; /* no room, or failing: the ring's send goes on and reports it */
        q->start += (size_t)n;
        if (q->start < q->end) return; /* the rest through the ring, after this */
        q->start = q->end = 0;
        corio__list_remove(&q->flush.link);
        /* flush_soon counted an entry for the next submit; there is none now
         * (no poll ran since: the flush list runs just before it). */
        if (corio__cur_loop && corio__cur_loop->ring_unsubmitted) corio__cur_loop->ring_unsubmitted--;
        check_low(q);
        return;
    }
#endif
    corio__wq_kick(q);
}

int corio__wq_write_eof(corio__wq *q) {
    if (q->eof_pending || q->eof_sent) return 0;
    q->eof_pending = true;
    if (!corio__wq_pending(q)) {
        q->eof_sent = true;
        if (shutdown(q->fd, SHUT_WR) < 0) return -errno;
    }
    return 0;
}

bool corio__wq_close(corio__wq *q) {
    q->closing = true;
    /* Queued data is flushed first: by the writer callback, the ring's
     * send or the end of the iteration. */
    if (q->sending || q->flush.link.next != &q->flush.link) return false;
    return q->end == q->start || !q->watching;
}

void corio__wq_drop(corio__wq *q) {
    q->closing = true;
    corio__list_remove(&q->flush.link); /* the queue is dropped: nothing to send */
    unwatch(q);
    q->fd = -1;
    free_queue(q);
    if (!q->sending) free_inflight(q); /* else the kernel still reads it: freed at its completion */
    q->paused = false;
}

void corio__wq_free(corio__wq *q) {
    corio__list_remove(&q->flush.link);
    free_queue(q);
    free_inflight(q);
}

int corio__wq_move(corio__wq *dst, corio__wq *src) {
    if (src->watching && !src->hooked && src->fd >= 0) {
        /* add_writer replaces the callback's argument: the one step that can fail, first. */
        int rc = corio__add_writer(src->fd, on_writable, dst);
        if (rc < 0) return rc;
    }
    /* src may itself stand in for a queue moved earlier, its send still
     * in flight: that send stays src's business, not dst's. */
    corio__wq *forward = src->moved;
    bool sending = src->sending;
    corio__op sop = src->sop;
    corio_list dst_link = dst->flush.link;
    *dst = *src;
    dst->flush.link = dst_link;
    if (forward) {
        dst->sending = false;
        dst->moved = NULL;
    }
    memset(&dst->sop, 0, sizeof dst->sop); /* the kernel knows src's record only */
    if (src->flush.link.next != &src->flush.link) { /* dst takes src's place on the flush list */
        corio__list_push_front(&src->flush.link, &dst->flush.link);
        corio__list_remove(&src->flush.link);
    }
    corio__wq_init(src, src->owner, src->pool, src->high, src->low);
#if CORIO_HAVE_URING
    if (sending) {
        src->sending = true;
        src->sop = sop;
        src->sop.done = ring_sent_moved;
        src->moved = forward ? forward : dst;
    }
#else
    (void)sending, (void)sop, (void)forward;
#endif
    return 0;
}

void corio__wq_set_limits(corio__wq *q, size_t high, size_t low) {
    q->high = high;
    q->low = low;
    if (!q->paused && corio__wq_pending(q) > q->high) {
        check_high(q);
    } else {
        check_low(q);
    }
}
