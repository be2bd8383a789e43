/*
 * backend.h - the poll layer: the two pollers (epoll, io_uring) behind one
 * interface, the per-descriptor readiness state they report events on,
 * and io_uring's completion operations.  Above the core (it wakes tasks
 * and queues callbacks), below everything that does I/O.
 * docs/design.md, "Layers".
 */
#ifndef CORIO_SRC_BACKEND_H
#define CORIO_SRC_BACKEND_H

#include "../core/core.h"
#include "../core/hop.h"

#include <sys/epoll.h>

/* Backends: backend.c picks one per loop (CORIO_BACKEND=epoll|io_uring, else
 * io_uring when it works) and dispatches to backend_epoll.c or backend_uring.c. */
enum { CORIO__BK_EPOLL = 0, CORIO__BK_URING = 1 };
struct corio__backend;
/* epoll_ctl: op is EPOLL_CTL_ADD/MOD/DEL; events are reported to corio__io_event(st).  0 or -errno. */
int corio__backend_ctl(corio_loop *loop, int op, int fd, uint32_t events, corio__fdstate *st);
/* Per-descriptor state (io.c owns it; the backends report events on it). */
enum { DIR_READ = 0, DIR_WRITE = 1 };
struct corio__fdstate {
    int fd;                   /* which descriptor this is */
    uint32_t interest;        /* events registered with epoll; 0 = not registered */
    bool ready[2];            /* last readiness seen, per direction */
    bool level;               /* registered level-triggered (callbacks present) */
    bool closed;              /* the kernel reported RDHUP/HUP/ERR: reads finish at once from now on */
    bool want_out;            /* a task has waited to write: EPOLLOUT is in the edge-triggered interest */
    bool owned;               /* a stream or a transport reads and writes fd: the public add/remove
                                 reader/writer refuse it (corio__fd_own, io.c); cleared by forget */
    struct corio__fdwait *waiter[2]; /* the task waiting per direction, on its stack (io.c) */
    corio_callback cb[2];     /* add_reader / add_writer */
    void *cb_arg[2];
    corio_handle cb_handle[2];/* schedules cb when ready */
    /* An internal edge-triggered hook (protocol.c under epoll): called
     * straight from the backend with the events, no handle in between. */
    void (*hook)(void *arg, uint32_t events);
    void *hook_arg;
    /* io_uring (backend_uring.c): the poll standing in for the epoll
     * registration; its completions carry ring_gen, and a poll of an
     * older generation (replaced or removed) is ignored. */
    uint16_t ring_gen;
    bool ring_armed;          /* a poll is in the ring for this fd */
    /* The task whose read, recv or accept is in the ring for this fd (io.c's
     * do_io: one reader at a time), NULL when none.  A task, not a flag, so
     * that a second reader learns in O(1) whether it is still a live wait
     * (io.c's ring_reader_live) instead of walking the loop's tasks.  Set
     * and cleared around the operation by the reader itself, which cannot
     * finish while it is set, so the pointer never dangles. */
    corio_task *ring_reading;
    bool ring_drained;        /* the last recv was short: the socket is empty, the next one polls first */
    corio__node ring_rearm;   /* in loop->ring_flush: re-arm a level-triggered poll at the next submit */
};

/* io.c: set (or, with hook NULL, clear) fd's edge-triggered hook: every
 * event on fd then goes to hook(arg, events) at once, from the backend's
 * poll, and to nothing else.  Registers fd if needed.  0 or -errno. */
int corio__io_hook(corio_loop *loop, int fd, void (*hook)(void *arg, uint32_t events), void *arg);
/* A task waiting for readiness in one direction (st->waiter[d]); it lives
 * on the task's stack and the task is parked (corio__park), so an event
 * costs a ready-queue push, not a future. */
typedef struct corio__fdwait {
    corio_task *task;
    int err; /* -EBADF if the descriptor was forgotten or closed meanwhile */
} corio__fdwait;
/* io.c: wait from task t for the next readiness edge of st in direction d
 * (registering st if needed); 0 or -errno (-EBUSY: another task waits). */
int corio__fd_wait(corio_task *t, corio__fdstate *st, int d);
/* io.c: re-register st as its callbacks and waiters now want (after a
 * waiter left a level-triggered registration). */
void corio__fd_resync(corio_loop *loop, corio__fdstate *st);
/* io.c, the streams' fast path under epoll: fd's state on loop, registered
 * with the backend (edge-triggered) if it was not; NULL and *err on
 * failure.  The state lives until the loop closes, across close and
 * reuse of the fd number. */
corio__fdstate *corio__fd_watch(corio_loop *loop, int fd, int *err);

/* readiness.c: fd's state on loop, made on first use (NULL and *err:
 * -EBADF, -ENOMEM).  States never move: waiters and handles point in. */
corio__fdstate *corio__fd_state(corio_loop *loop, int fd, int *err);
/* readiness.c: bring the poller's interest in fd in line with st (its
 * callbacks, waiters and hook).  0 or -errno. */
int corio__fd_sync(corio_loop *loop, int fd, corio__fdstate *st);
/* readiness.c: free every descriptor state of the loop (at close). */
void corio__io_free(corio_loop *loop);
/* readiness.c: set O_NONBLOCK on fd if it is not. */
void corio__set_nonblock(int fd);
/* The two backends, behind backend.c's poller tables (core.h's corio__poller). */
struct corio__backend *corio__epoll_new(void);
void corio__epoll_free(struct corio__backend *b);
int corio__epoll_poll(corio_loop *loop, struct corio__backend *b, int64_t timeout_ns);
int corio__epoll_ctl(struct corio__backend *b, int op, int fd, uint32_t events, corio__fdstate *st);
void corio__epoll_wakeup(struct corio__backend *b);
/* io_uring: NULL with *why set (a static string) when the ring is not usable. */
struct corio__backend *corio__uring_new(const char **why);
void corio__uring_free(struct corio__backend *b);
int corio__uring_poll(corio_loop *loop, struct corio__backend *b, int64_t timeout_ns);
int corio__uring_ctl(corio_loop *loop, int op, int fd, uint32_t events, corio__fdstate *st);
void corio__uring_wakeup(struct corio__backend *b);
/* io_uring: cancel every operation on fd now (before it is closed). */
void corio__uring_cancel_fd(corio_loop *loop, int fd);
/* io_uring, at loop close: reap the completions of operations still in
 * flight (bounded wait), so that their owners are told and freed. */
void corio__uring_drain(corio_loop *loop);
/* io_uring: the loop's ring, for files that prepare entries themselves. */
struct io_uring;
struct io_uring *corio__ring_get(corio_loop *loop);

/* ---- completion operations (backend_uring.c) ------------------------ */

/* An operation submitted to the ring: lives on the waiting task's stack (or
 * in a stream/transport record) until its completion has been reaped. */
typedef struct corio__op corio__op;
typedef void (*corio__op_done)(corio__op *op, int res, unsigned cqe_flags);
struct corio__op {
    corio_task *task;     /* when done == NULL: the task parked on it, unparked by the completion */
    corio__op_done done;  /* else called by the backend with the completion */
    int res;              /* the completion's result once !inflight */
    bool inflight;        /* the kernel may still touch the operation's memory */
    bool bulk;            /* its completions carry bulk data (a transport's multishot recv): under
                             load they wait behind the others (backend_uring.c, "Reaping"); reset
                             by corio__ring_sqe, set by the owner after it */
};
struct io_uring_sqe;
typedef void (*corio__ring_prep_fn)(struct io_uring_sqe *sqe, void *ctx);
static inline bool corio__ring_on(const corio_loop *loop) { return loop->backend_kind == CORIO__BK_URING; }
/* A free submission entry of loop's ring (submits what is queued when the
 * queue is full), with user_data set to op.  The caller fills it in. */
struct io_uring_sqe *corio__ring_sqe(corio_loop *loop, corio__op *op);
/* Run one operation from task t: prep fills the entry, the task waits for
 * the completion.  Returns the completion's result (>= 0 or -errno).  If t
 * is cancelled meanwhile, the operation is cancelled through the ring and
 * waited for, so the kernel no longer touches its memory when this
 * returns: -ECANCELED if the kernel dropped it; if it completed anyway,
 * its result, with the cancellation re-armed for t's next suspension (no
 * data is lost).  An operation cancelled because its fd was closed
 * (corio_close) returns -EBADF.  tag/arg: for the task dump. */
ssize_t corio__ring_op(corio_task *t, corio__ring_prep_fn prep, void *ctx, const char *tag, int64_t arg);
/* Ask the ring to cancel op (its completion still comes: wait for !op->inflight). */
void corio__ring_cancel(corio_loop *loop, corio__op *op);

/* io.c: queue direction d's add_reader/add_writer callback. */
void corio__io_fire_cb(corio_loop *loop, corio__fdstate *st, int d);
/* Direction d of st became ready: note it, wake its waiter, queue its
 * callback. */
static inline void corio__io_fire(corio_loop *loop, corio__fdstate *st, int d) {
    st->ready[d] = true;
    corio__fdwait *w = st->waiter[d];
    if (w) corio__unpark(loop, w->task);
    if (corio__unlikely(st->cb[d] != NULL)) corio__io_fire_cb(loop, st, d);
}
/* An event (EPOLL* bits) on a watched descriptor without a hook: the
 * backends call the hook themselves when there is one.  Inlined into the
 * backends' dispatch loops: it runs once per event. */
static inline void corio__io_event(corio_loop *loop, corio__fdstate *st, uint32_t events) {
    if (!st->interest) return; /* forgotten since the poll returned */
    if (corio__unlikely(events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))) {
        /* After the peer's FIN no further read edge will come, so a short
         * read must no longer be taken to mean "wait": remember it.  An
         * error or hang-up wakes both directions. */
        st->closed = true;
        if (events & (EPOLLERR | EPOLLHUP)) events |= EPOLLIN | EPOLLOUT;
    }
    if (events & (EPOLLIN | EPOLLRDHUP)) corio__io_fire(loop, st, DIR_READ);
    if (events & EPOLLOUT) corio__io_fire(loop, st, DIR_WRITE);
}


/*
 * The readiness rules, once, for every operation on a descriptor under
 * epoll (corio_read/recv/send/accept through io.c's do_io, the streams'
 * inlined read through corio__recv_on): try the system call while the
 * descriptor is believed ready in direction d; a short transfer (op sets
 * *drained) means the kernel's buffer was emptied (or filled), so the next
 * call waits for an edge first - unless the peer has closed (st->closed),
 * when no edge would come; EAGAIN means wait for the next edge, then try
 * again.  A descriptor that could not be registered (a regular file:
 * st->interest 0) is tried once and never waited on.  Each attempt is
 * charged to the turn's budget before it is made, so a task that always
 * finds its descriptor ready yields there, losing nothing if cancelled.
 * op returns >= 0 or -errno (-EAGAIN: not ready).  May suspend t.
 */
static inline __attribute__((always_inline)) ssize_t
corio__ready_io(corio_task *t, corio__fdstate *st, int d, ssize_t (*op)(int fd, void *ctx, bool *drained), void *ctx) {
    int rc;
    if (corio__unlikely(!st->ready[d] && st->interest)) goto wait;
    if (corio__unlikely((rc = corio__budget_charge(t, CORIO__COST_SYSCALL)) < 0)) return rc;
    for (;;) {
        bool drained = false;
        ssize_t r = op(st->fd, ctx, &drained);
        if (corio__likely(r > 0)) {
            t->loop->budget -= CORIO__COST_BYTES(r);
            /* (ready[] is not consulted for an unregistered descriptor) */
            if (drained && !(d == DIR_READ && st->closed)) st->ready[d] = false;
            return r;
        }
        if (r != -EAGAIN) return r; /* EOF, an error; nothing learnt about readiness */
        if (!st->interest) return -EAGAIN; /* not pollable and not ready: nothing to wait on */
        st->ready[d] = false;
        st->closed = false; /* EAGAIN: whatever closed, it was not this direction's stream */
    wait:
        if (corio__likely(!st->waiter[d] && (st->interest & EPOLLET) && (d == DIR_READ || (st->interest & EPOLLOUT)))) {
            /* Registered edge-triggered for d, nobody else waiting: park
             * here, the edge unparks (the common case, inlined). */
            corio__fdwait w = {t, 0};
            st->waiter[d] = &w;
            rc = corio__park_inline(t); /* inline down to the switch: core/hop.h */
            st->waiter[d] = NULL;
            /* An add_reader/add_writer meanwhile made the registration
             * level-triggered for the directions with a waiter: bring it back. */
            if (corio__unlikely(st->level)) corio__fd_resync(t->loop, st);
            if (rc == 0) rc = w.err;
            if (rc < 0) return rc;
        } else {
            rc = corio__fd_wait(t, st, d); /* registration changes, errors, another waiter */
            if (rc < 0) return rc;
            if (!st->ready[d] && st->interest) goto wait;
        }
        t->loop->budget -= CORIO__COST_SYSCALL; /* unparked by the edge: ready; no yield before the call */
    }
}

/* The backend's subsystem hooks (src/subsystems.c): make the loop's
 * poller; at close reap what is still in the ring; free the descriptor
 * states and the poller. */
int corio__backend_loop_init(corio_loop *loop);
int corio__backend_loop_unwound(corio_loop *loop);
void corio__backend_loop_release(corio_loop *loop);

#endif
