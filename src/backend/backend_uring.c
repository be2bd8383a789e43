/*
 * backend_uring.c - the io_uring backend: a completion ring in place of
 * epoll.
 *
 * Three kinds of entries travel through the ring, told apart by the low
 * two bits of their user_data:
 *   - operations (corio__op, tag 0): a recv, send, accept, connect, read,
 *     write, file operation... submitted by a task or a stream, completed
 *     by the kernel; the completion wakes the task (or calls op->done);
 *   - descriptor polls (tag 1): what stands in for an epoll registration
 *     of io.c's per-fd state, for add_reader/add_writer and readiness
 *     waits.  Edge-triggered interest is one multishot poll; level-
 *     triggered interest is a one-shot poll re-armed after each report,
 *     which re-checks the descriptor as epoll's level mode does.  Each fd
 *     state counts generations (ring_gen, in the top 16 bits of user_data)
 *     so that a poll replaced or removed and still completing is ignored;
 *   - the wake-up eventfd's poll (tag 2) and entries whose completion
 *     nobody needs (cancels, poll removals: tag 3).
 *
 * Submission is batched: entries accumulate in the submission queue while
 * the loop runs tasks and go to the kernel in the loop's next poll, one
 * io_uring_enter that also waits for completions (with the timer's
 * timeout).  The loop polls after every iteration that queued entries
 * (loop->ring_unsubmitted).
 *
 * Safety under cancellation: an operation's memory (buffer, sockaddr,
 * the corio__op itself) lives on the waiting task's stack; a cancelled
 * task asks the ring to cancel and then waits, uncancellably, for the
 * operation's own completion before it returns, so the kernel never
 * touches that memory afterwards.
 */
#include "backend.h"

#if CORIO_HAVE_URING

#include <liburing.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORIO__VALGRIND 1
#endif
#endif

#define SQ_ENTRIES 256
#define CQ_ENTRIES 4096 /* completions can outnumber submissions (multishot): room before overflow */

enum { UD_OP = 0, UD_POLL = 1, UD_WAKE = 2, UD_IGNORE = 3 };
#define UD_TAGS 3ull
#define UD_PTR_MASK 0x0000fffffffffffcull
#define UD_GEN_SHIFT 48

struct corio__backend {
    int kind;              /* CORIO__BK_URING: backend.c dispatches on it */
    int wakefd;            /* eventfd other threads write to wake the loop */
    bool wake_armed;       /* its multishot poll is in the ring */
    size_t ops_inflight;   /* corio__op entries not yet completed for good */
    struct io_uring ring;
    struct deferred *dq;   /* bulk completions reaped but not yet handled: dq[dq_head..dq_len) */
    size_t dq_head, dq_len, dq_cap;
};

/* A completion taken off the ring and kept for a later turn (Reaping, below). */
struct deferred {
    uint64_t ud;
    int res;
    unsigned flags;
};

static inline uint64_t ud_make(const void *p, unsigned tag, uint16_t gen) {
    return ((uint64_t)gen << UD_GEN_SHIFT) | (uint64_t)(uintptr_t)p | tag;
}

/* The opcodes the backend relies on; a kernel without one of them runs epoll. */
static const struct {
    int op;
    const char *name;
} needed_ops[] = {
    {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_POLL_REMOVE, "POLL_REMOVE"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}, {IORING_OP_READ, "READ"}, {IORING_OP_WRITE, "WRITE"},
    {IORING_OP_RECV, "RECV"}, {IORING_OP_SEND, "SEND"}, {IORING_OP_RECVMSG, "RECVMSG"},
    {IORING_OP_SENDMSG, "SENDMSG"}, {IORING_OP_ACCEPT, "ACCEPT"}, {IORING_OP_CONNECT, "CONNECT"},
};

/* Tests: an opcode to treat as missing from the kernel (-1: none). */
int corio__uring_test_hide_op = -1;

struct corio__backend *corio__uring_new(const char **why) {
#ifdef CORIO__VALGRIND
    /* Valgrind cannot see what the kernel writes through the ring. */
    if (RUNNING_ON_VALGRIND) {
        *why = "running under valgrind, which cannot follow the ring";
        return NULL;
    }
#endif
    struct corio__backend *b = corio__calloc(1, sizeof *b);
    if (!b) {
        *why = "out of memory";
        return NULL;
    }
    b->kind = CORIO__BK_URING;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* COOP_TASKRUN (5.19): completions are not pushed by interrupting the
     * thread; TASKRUN_FLAG tells liburing when to collect them.  Kernels
     * older than 5.19 also lack the cancel-by-fd the backend needs. */
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    p.cq_entries = CQ_ENTRIES;
    int rc = io_uring_queue_init_params(SQ_ENTRIES, &b->ring, &p);
    if (rc < 0) {
        switch (-rc) {
        case ENOSYS: *why = "io_uring_setup: not implemented (ENOSYS: no io_uring, or a seccomp filter)"; break;
        case EPERM: *why = "io_uring_setup: not permitted (EPERM: kernel.io_uring_disabled or a seccomp filter)"; break;
        case EINVAL: *why = "io_uring_setup: EINVAL (kernel older than 5.19)"; break;
        case ENOMEM: *why = "io_uring_setup: ENOMEM (locked-memory limit?)"; break;
        default: *why = "io_uring_setup failed"; break;
        }
        corio__free(b);
        return NULL;
    }
    const char *missing = NULL;
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_EXT_ARG)) missing = "NODROP/EXT_ARG features";
    struct io_uring_probe *probe = missing ? NULL : io_uring_get_probe_ring(&b->ring);
    if (!missing && !probe) missing = "the opcode probe";
    for (size_t i = 0; probe && !missing && i < sizeof needed_ops / sizeof needed_ops[0]; i++)
        if (!io_uring_opcode_supported(probe, needed_ops[i].op) || needed_ops[i].op == corio__uring_test_hide_op)
            missing = needed_ops[i].name;
    if (probe) io_uring_free_probe(probe);
    if (missing) {
        /* The strings are static, so say which part is missing in general terms. */
        *why = "the kernel's io_uring lacks an operation or feature corio needs";
        if (corio__debug_on) corio__log(CORIO_LOG_DEBUG, "io_uring: missing %s", missing);
        io_uring_queue_exit(&b->ring);
        corio__free(b);
        return NULL;
    }
    b->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->wakefd < 0) {
        *why = "eventfd failed";
        io_uring_queue_exit(&b->ring);
        corio__free(b);
        return NULL;
    }
    return b;
}

void corio__uring_free(struct corio__backend *b) {
    corio__free(b->dq);
    io_uring_queue_exit(&b->ring);
    close(b->wakefd);
    corio__free(b);
}

static struct corio__backend *ring_of(corio_loop *loop) { return loop->backend; }

/* A free entry; when the queue is full, hand what is queued to the kernel. */
static struct io_uring_sqe *get_sqe(corio_loop *loop, struct corio__backend *b) {
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&b->ring))) {
        int rc = io_uring_submit(&b->ring);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            corio__log(CORIO_LOG_ERROR, "io_uring_submit: %s", strerror(-rc));
        }
        if (rc <= 0) io_uring_get_events(&b->ring); /* -EBUSY: completions must be reaped first */
    }
    corio__loop_ring_queued(loop);
    return sqe;
}

struct io_uring *corio__ring_get(corio_loop *loop) { return &ring_of(loop)->ring; }

struct io_uring_sqe *corio__ring_sqe(corio_loop *loop, corio__op *op) {
    struct io_uring_sqe *sqe = get_sqe(loop, ring_of(loop));
    io_uring_sqe_set_data64(sqe, ud_make(op, UD_OP, 0));
    op->inflight = true;
    op->bulk = false; /* the caller marks a bulk receive after this (ops live on stacks: set every field) */
    ring_of(loop)->ops_inflight++;
    return sqe;
}

void corio__ring_cancel(corio_loop *loop, corio__op *op) {
    struct io_uring_sqe *sqe = get_sqe(loop, ring_of(loop));
    io_uring_prep_cancel64(sqe, ud_make(op, UD_OP, 0), 0);
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
}

/* ---- descriptor polls (io.c's registrations) ---------------------------------- */

static void poll_arm(corio_loop *loop, corio__fdstate *st, uint32_t events) {
    struct io_uring_sqe *sqe = get_sqe(loop, ring_of(loop));
    unsigned mask = events & ~(uint32_t)EPOLLET;
    if (events & EPOLLET)
        io_uring_prep_poll_multishot(sqe, st->fd, mask);
    else
        io_uring_prep_poll_add(sqe, st->fd, mask);
    io_uring_sqe_set_data64(sqe, ud_make(st, UD_POLL, st->ring_gen));
    st->ring_armed = true;
}

static void poll_rearm(corio__node *n) {
    corio__fdstate *st = corio__container_of(n, corio__fdstate, ring_rearm);
    if (!st->ring_armed && st->interest) poll_arm(corio__cur_loop, st, st->interest);
}

static void poll_disarm(corio_loop *loop, corio__fdstate *st) {
    if (!st->ring_armed) return;
    struct io_uring_sqe *sqe = get_sqe(loop, ring_of(loop));
    io_uring_prep_poll_remove(sqe, ud_make(st, UD_POLL, st->ring_gen));
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
    st->ring_gen++; /* whatever the old poll still reports is stale */
    st->ring_armed = false;
}

int corio__uring_ctl(corio_loop *loop, int op, int fd, uint32_t events, corio__fdstate *st) {
    (void)fd;
    if (!st) return 0;
    poll_disarm(loop, st);
    if (op != EPOLL_CTL_DEL) poll_arm(loop, st, events);
    return 0;
}

void corio__uring_cancel_fd(corio_loop *loop, int fd) {
    struct corio__backend *b = ring_of(loop);
    struct io_uring_sqe *sqe = get_sqe(loop, b);
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
    /* Now, while fd still names the file: the caller closes it next. */
    io_uring_submit(&b->ring);
    loop->ring_unsubmitted = 0;
}

/* ---- the wake-up eventfd ---------------------------------------------------- */

static void wake_arm(corio_loop *loop, struct corio__backend *b) {
    struct io_uring_sqe *sqe = get_sqe(loop, b);
    io_uring_prep_poll_multishot(sqe, b->wakefd, POLLIN);
    io_uring_sqe_set_data64(sqe, UD_WAKE);
    b->wake_armed = true;
}

void corio__uring_wakeup(struct corio__backend *b) {
    uint64_t one = 1;
    ssize_t r = write(b->wakefd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

/* ---- completions ------------------------------------------------------------ */

static void complete(corio_loop *loop, struct corio__backend *b, uint64_t ud, int res, unsigned flags) {
    switch (ud & UD_TAGS) {
    case UD_OP: {
        corio__op *op = (corio__op *)(uintptr_t)ud;
        op->inflight = (flags & IORING_CQE_F_MORE) != 0;
        if (!op->inflight) b->ops_inflight--;
        op->res = res;
        if (op->done)
            op->done(op, res, flags);
        else if (op->task)
            corio__unpark(loop, op->task);
        break;
    }
    case UD_POLL: {
        corio__fdstate *st = (corio__fdstate *)(uintptr_t)(ud & UD_PTR_MASK);
        if ((uint16_t)(ud >> UD_GEN_SHIFT) != st->ring_gen) break; /* replaced or removed */
        if (!(flags & IORING_CQE_F_MORE)) st->ring_armed = false;
        if (res < 0) {
            /* The poll failed (a closed or unpollable fd): wake whoever
             * waits, so that its next system call reports the error. */
            if (res != -ECANCELED) {
                if (st->hook)
                    st->hook(st->hook_arg, EPOLLERR);
                else
                    corio__io_event(loop, st, EPOLLERR);
            }
            break;
        }
        if (st->hook) /* an internal owner: straight to it, as under epoll */
            st->hook(st->hook_arg, (uint32_t)res);
        else
            corio__io_event(loop, st, (uint32_t)res);
        /* Level-triggered interest is a one-shot poll, re-armed (which
         * re-checks the fd) at the next submit: after the callbacks this
         * report queued have run, as epoll's level mode reports again at
         * the next poll.  Re-arming here would find the fd still ready and
         * complete at once, for ever. */
        if (!st->ring_armed && st->interest && st->ring_rearm.link.next == &st->ring_rearm.link) {
            st->ring_rearm.run = poll_rearm;
            corio__loop_flush_add(loop, &st->ring_rearm);
        }
        break;
    }
    case UD_WAKE: {
        if (!(flags & IORING_CQE_F_MORE)) b->wake_armed = false;
        uint64_t v;
        ssize_t r = read(b->wakefd, &v, sizeof v);
        (void)r;
        corio__loop_take_posts(loop);
        break;
    }
    default:
        break;
    }
}

#define URING_TIMER_SLACK_NS 50000 /* the kernel's default timer_slack_ns */

/*
 * Reaping.  A poll takes every completion that is in the queue when it
 * starts (those that handlers cause meanwhile wait for the next poll: a
 * handler may enter the kernel, which posts new ones at once, so reaping
 * until the queue is empty could last for ever under load).  Completions
 * of bulk data (a transport's multishot recv: op->bulk) are handled while
 * the turn's budget lasts; once it is spent they are kept, in order, in
 * the backend's deferred queue, and handled first in the next turns.
 * Everything else - accepts, signals' and wake-ups' polls, a task's
 * operation, a send's completion - is handled at once: cheap (most wake a
 * task, whose work the task's own budget bounds), and never stuck behind
 * a flood of data in the completion queue's FIFO.  With 200 clients
 * saturating a protocol echo that queue held a whole turn's worth of
 * receives ahead of a new client's accept and of SIGTERM's wake-up.
 * Deferred completions hold their provided buffers, so there are never
 * more of them than the buffer ring has buffers, plus the recvs' last
 * completions.
 */
static bool is_bulk(uint64_t ud) {
    return (ud & UD_TAGS) == UD_OP && ((const corio__op *)(uintptr_t)ud)->bulk;
}

static bool defer_cqe(struct corio__backend *b, uint64_t ud, int res, unsigned flags) {
    if (b->dq_len == b->dq_cap) {
        if (b->dq_head) { /* slide the live part down first */
            memmove(b->dq, b->dq + b->dq_head, (b->dq_len - b->dq_head) * sizeof *b->dq);
            b->dq_len -= b->dq_head;
            b->dq_head = 0;
        }
        if (b->dq_len == b->dq_cap) {
            size_t cap = b->dq_cap ? 2 * b->dq_cap : 64;
            struct deferred *d = corio__realloc(b->dq, cap * sizeof *d);
            if (!d) return false; /* handled now instead: late, never lost */
            b->dq = d;
            b->dq_cap = cap;
        }
    }
    b->dq[b->dq_len++] = (struct deferred){ud, res, flags};
    return true;
}

/* Handle deferred completions, oldest first, while the turn's budget lasts. */
static unsigned run_deferred(corio_loop *loop, struct corio__backend *b) {
    unsigned k = 0;
    while (b->dq_head < b->dq_len && loop->budget > 0) {
        struct deferred d = b->dq[b->dq_head++];
        loop->budget--;
        k++;
        complete(loop, b, d.ud, d.res, d.flags);
    }
    if (b->dq_head == b->dq_len) b->dq_head = b->dq_len = 0;
    return k;
}

int corio__uring_poll(corio_loop *loop, struct corio__backend *b, int64_t timeout_ns) {
    if (corio__unlikely(!b->wake_armed)) wake_arm(loop, b);
    /* Writers that queued data since the last flush send it now, all of it in one entry each. */
    corio__loop_flush(loop);
    int rc = 0;
    struct io_uring_cqe *cqe;
    /* Completions waiting as kernel work (COOP_TASKRUN) or in the overflow
     * list show up only through an io_uring_enter. */
    bool kernel_has_more = IO_URING_READ_ONCE(*b->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
    if (timeout_ns == 0) {
        /* A busy loop's look at I/O: submit what is queued and collect
         * what the kernel holds, in one call - or none, when neither. */
        if (loop->ring_unsubmitted || kernel_has_more) rc = io_uring_submit_and_get_events(&b->ring);
    } else if (io_uring_cq_ready(&b->ring) == 0 && b->dq_head == b->dq_len) {
        /* The ring's wait arms an exact timer, where epoll's allows the
         * thread's timer slack (50 us by default): with a timer due every
         * few microseconds, every wait then costs a timer interrupt.  Give
         * it the same slack, so a timer fires late by as much as under
         * epoll, never early. */
        if (timeout_ns > 0) timeout_ns += URING_TIMER_SLACK_NS;
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / CORIO__NS_PER_S, .tv_nsec = timeout_ns % CORIO__NS_PER_S};
        rc = io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, timeout_ns < 0 ? NULL : &ts, NULL);
    } else if (loop->ring_unsubmitted || kernel_has_more) {
        rc = io_uring_submit_and_get_events(&b->ring);
    }
    loop->ring_unsubmitted = 0;
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        corio__log(CORIO_LOG_ERROR, "io_uring_enter: %s", strerror(-rc));
    /* Reap what is in the queue now (Reaping, above). */
    unsigned n = io_uring_cq_ready(&b->ring);
    unsigned head, k = 0, seen = 0;
    io_uring_for_each_cqe(&b->ring, head, cqe) {
        if (seen == n) break; /* what handlers caused meanwhile waits for the next poll */
        seen++;
        uint64_t ud = cqe->user_data;
        int res = cqe->res;
        unsigned flags = cqe->flags;
        /* Handlers may take submission entries (re-arms), never reap: the
         * entry is released before it is handled. */
        io_uring_cq_advance(&b->ring, 1);
        /* Bulk data waits once the budget is spent, or behind bulk data
         * already waiting (its order on the connection is kept). */
        if (is_bulk(ud) && (loop->budget <= 0 || b->dq_head < b->dq_len) && defer_cqe(b, ud, res, flags)) continue;
        k++;
        loop->budget--;
        complete(loop, b, ud, res, flags);
    }
    k += run_deferred(loop, b);
    return (int)k;
}

void corio__uring_drain(corio_loop *loop) {
    struct corio__backend *b = ring_of(loop);
    for (int i = 0; i < 100 && b->ops_inflight; i++) {
        loop->budget = CORIO__TURN_BUDGET;
        corio__uring_poll(loop, b, 10 * 1000000);
    }
    if (b->ops_inflight)
        corio__log(CORIO_LOG_WARNING, "loop closed with %zu io_uring operations still in flight", b->ops_inflight);
}

/* ---- an operation awaited by a task ------------------------------------------ */

ssize_t corio__ring_op(corio_task *t, corio__ring_prep_fn prep, void *ctx, const char *tag, int64_t arg) {
    corio_loop *loop = t->loop;
    if (corio__unlikely(t->must_cancel)) {
        /* A cancellation is pending: raise it before the operation is even
         * submitted (asyncio cancels the awaited future at once and raises
         * in the next iteration), so no data is taken for a task that is
         * going away.  corio__park does exactly that. */
        return corio__park(t);
    }
    corio__op op;
    op.done = NULL;
    op.task = t;
    op.res = 0;
    prep(corio__ring_sqe(loop, &op), ctx);
    t->wait_tag = tag; /* for the task dump */
    t->wait_arg = arg;
    /* Parked, not awaiting a future: the completion unparks the task.
     * The park is inlined down to the switch (core/hop.h). */
    int rc = corio__park_inline(t);
    if (corio__likely(rc == 0 && !op.inflight)) {
        /* -ECANCELED here is not ours: the fd was closed under the operation. */
        return op.res == -ECANCELED ? -EBADF : op.res;
    }
    /* Cancelled: withdraw the operation and wait for its completion,
     * whatever else happens (a further cancel unparks the task early and
     * is merged with this one: it parks again until the completion). */
    corio__ring_cancel(loop, &op);
    while (op.inflight) {
        t->wait_tag = "ring cancel";
        corio__park(t);
    }
    if (op.res == -ECANCELED) return -ECANCELED;
    /* It completed before the cancel reached it: keep its result (no data
     * is lost) and deliver the cancellation at the next suspension. */
    t->must_cancel = true;
    return op.res;
}

#else /* !CORIO_HAVE_URING */

int corio__uring_test_hide_op = -1; /* tests: see above */

struct corio__backend *corio__uring_new(const char **why) {
    *why = "corio was built without liburing";
    return NULL;
}
void corio__uring_free(struct corio__backend *b) { (void)b; }
#define URING_TIMER_SLACK_NS 50000 /* the kernel's default timer_slack_ns */

int corio__uring_poll(corio_loop *loop, struct corio__backend *b, int64_t timeout_ns) {
    (void)loop, (void)b, (void)timeout_ns;
    return -ENOSYS;
}
int corio__uring_ctl(corio_loop *loop, int op, int fd, uint32_t events, corio__fdstate *st) {
    (void)loop, (void)op, (void)fd, (void)events, (void)st;
    return -ENOSYS;
}
void corio__uring_wakeup(struct corio__backend *b) { (void)b; }
void corio__uring_cancel_fd(corio_loop *loop, int fd) { (void)loop, (void)fd; }
void corio__uring_drain(corio_loop *loop) { (void)loop; }
struct io_uring *corio__ring_get(corio_loop *loop) {
    (void)loop;
    return NULL;
}
void corio__ring_cancel(corio_loop *loop, corio__op *op) { (void)loop, (void)op; }
struct io_uring_sqe *corio__ring_sqe(corio_loop *loop, corio__op *op) {
    (void)loop, (void)op;
    return NULL;
}
ssize_t corio__ring_op(corio_task *t, corio__ring_prep_fn prep, void *ctx, const char *tag, int64_t arg) {
    (void)t, (void)prep, (void)ctx, (void)tag, (void)arg;
    return -ENOSYS;
}

#endif
