/*
 * internal.h - what the library's files share and users never see.
 * Names: corio_ public, corio__ shared between files, static otherwise.
 */
#ifndef CORIO_INTERNAL_H
#define CORIO_INTERNAL_H

#include "corio.h"

#include <assert.h>
#include <pthread.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define corio__container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define corio__likely(x) __builtin_expect(!!(x), 1)
#define corio__unlikely(x) __builtin_expect(!!(x), 0)
#define CORIO__TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- intrusive lists (circular, with a head node) -------------------------- */

static inline void corio__list_init(corio_list *h) { h->next = h->prev = h; }
static inline bool corio__list_empty(const corio_list *h) { return h->next == h; }
static inline void corio__list_push_back(corio_list *h, corio_list *n) {
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void corio__list_push_front(corio_list *h, corio_list *n) {
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
}
/* Unlink n and leave it pointing at itself, so a second remove is harmless. */
static inline void corio__list_remove(corio_list *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}
/* Put every node of `from` before the first of `to`, in order; `from` ends empty. */
static inline void corio__list_splice_front(corio_list *to, corio_list *from) {
    if (corio__list_empty(from)) return;
    corio_list *first = from->next, *last = from->prev;
    last->next = to->next;
    to->next->prev = last;
    first->prev = to;
    to->next = first;
    corio__list_init(from);
}
/* Append every node of `from` to the end of `to`, in order; `from` ends empty. */
static inline void corio__list_splice_back(corio_list *to, corio_list *from) {
    if (corio__list_empty(from)) return;
    corio_list *first = from->next, *last = from->prev;
    first->prev = to->prev;
    to->prev->next = first;
    last->next = to;
    to->prev = last;
    corio__list_init(from);
}
#define corio__list_foreach(it, head) for (corio_list *it = (head)->next; it != (head); it = it->next)

/* ---- logging ---------------------------------------------------------------- */

extern int corio__debug_on;
void corio__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report bad input in debug mode and return err, for `return corio__bad(-EINVAL, "...")`. */
#define corio__bad(err, ...) (corio__unlikely(corio__debug_on) ? (corio__log(CORIO_LOG_WARNING, __VA_ARGS__), (err)) : (err))
void corio__debug_init(void);

/* ---- allocation (one place, so tests can inject failures) ------------------- */

void *corio__malloc(size_t n);
void *corio__calloc(size_t n, size_t size);
void *corio__realloc(void *p, size_t n);
void corio__free(void *p);

/* ---- time ------------------------------------------------------------------- */

#define CORIO__NS_PER_S 1000000000LL
int64_t corio__mono_ns(void);
/* Seconds as a double to a nanosecond delta, clamped to +-2^62 ns; caller rejects NaN. */
int64_t corio__sec_to_ns(double s);

/* ---- stacks and context switch (stack.c, switch_*.S / switch_ucontext.c) ---- */

typedef struct corio__stack {
    void *lo;        /* lowest usable byte (just above the guard page) */
    size_t size;     /* usable bytes */
    struct corio__stack *next_free; /* cache link */
    struct corio__stack_pool *pool;
    unsigned valgrind_id;
} corio__stack;

typedef struct corio__stack_pool corio__stack_pool;
corio__stack_pool *corio__stack_pool_new(void);
void corio__stack_pool_free(corio__stack_pool *p);
corio__stack *corio__stack_get(corio__stack_pool *p, size_t size);
void corio__stack_put(corio__stack_pool *p, corio__stack *s);
size_t corio__stack_default_size(void);
/* Install the guard-page SIGSEGV reporter and this thread's alternate signal stack. */
void corio__stack_overflow_handler_install(void);

/* ---- the loop ---------------------------------------------------------------- */

typedef struct corio__timer_ent { int64_t when; uint64_t seq; corio__timer *t; } corio__timer_ent;
typedef struct corio__fdstate corio__fdstate; /* io.c */
typedef struct corio__tsnode corio__tsnode;   /* loop.c: a call_soon_threadsafe post */

struct corio_loop {
    corio_list ready;          /* corio__node FIFO: what runs in the next iterations */
    corio_list later;          /* nodes that spent their step's budget: run after `ready` (loop.c) */
    uint64_t serial;           /* unique in the process, never reused (a freed loop's address may be) */
    size_t nready;             /* nodes in `ready` */
    corio__timer_ent *heap;    /* min-heap by (when, seq) */
    size_t nheap, capheap;
    uint64_t timer_seq;        /* FIFO order among equal deadlines */
    int64_t now;               /* clock at the start of this iteration (ns) */
    int64_t vnow;              /* virtual clock (ns) when `virtual_clock` */
    struct corio_task *current;/* the task running now, or NULL */
    void *sched_sp;            /* the scheduler's saved stack pointer while a task runs */
    void *sched_ctx;           /* ucontext of the scheduler (portable switch only) */
    corio_list tasks;          /* every task record this loop owns */
    size_t ntasks_live;        /* tasks not finished */
    struct corio_task *free_tasks; /* recycled task records */
    corio__stack_pool *stacks; /* stack cache */
    struct corio__backend *backend; /* poller: epoll or io_uring (backend.c chooses) */
    int backend_kind;          /* CORIO__BK_EPOLL or CORIO__BK_URING */
    const char *backend_why;   /* why io_uring is not used, when it is not (static string) */
    unsigned ring_unsubmitted; /* io_uring: entries queued since the last submit (poll soon) */
    corio_list ring_flush;     /* corio__nodes run at the end of the iteration, before the next poll:
                                  stream writers' queued data, io_uring re-arms (corio__loop_flush) */
    void *ring_bufs;           /* io_uring: protocol.c's provided-buffer ring, made on first use */
    uint64_t iterations;       /* loop turns so far */
    int budget;                /* work units left in this turn (CORIO__TURN_BUDGET at each poll) */
    int step_floor;            /* the running task yields when budget falls to this (CORIO__STEP_BUDGET) */
    corio_handle *free_handles;/* recycled library handles, linked through arg */
    size_t nfree_handles;
    corio__fdstate **fds;      /* per-descriptor state, indexed by fd (io.c) */
    size_t nfds;               /* slots in fds */
    size_t nwatched;           /* descriptors registered with the backend */
    pthread_mutex_t ts_lock;   /* guards ts_head/ts_tail: posts from other threads */
    corio__tsnode *ts_head, *ts_tail;
    _Atomic int ts_pending;    /* posts waiting: checked every iteration */
    int running, stopping, virtual_clock, ran_once;
    void *tsan_fiber;          /* the thread's own TSan fiber, when under TSan */
    void *asan_fake_stack;     /* ASan bookkeeping for the scheduler stack */
    const void *sched_stack_lo;/* bounds of the scheduler (thread) stack for ASan */
    size_t sched_stack_size;
    void *exec_state;          /* executor.c: per-loop executor state, made on first use (atomic pointer) */
    void *sig_state;           /* signal.c: per-loop signal state while handlers exist (loop thread) */
    /* debug.c: debug mode of this loop, set from CORIO_DEBUG at
     * creation; run_once times each node only when it is set. */
    int debug;
    int64_t slow_ns;           /* a callback or task step this long (ns) is reported in debug mode */
    int dump_signum;           /* corio_loop_dump_on_signal's signal, 0 if none */
    void *dump_out;            /* ... and where it writes (FILE *, NULL: the logger) */
};

extern CORIO__TLS corio_loop *corio__cur_loop;

static inline void corio__ready_push(corio_loop *loop, corio__node *n) {
    corio__list_push_back(&loop->ready, &n->link);
    loop->nready++;
}
/* Time as the loop sees it now (virtual or monotonic), in ns. */
int64_t corio__loop_now(corio_loop *loop);
/* Arm t for `when` (ns); 0 or -ENOMEM.  t->fire must be set and t unarmed. */
int corio__timer_arm(corio_loop *loop, corio__timer *t, int64_t when);
int64_t corio__timer_next(corio_loop *loop);
void corio__timer_run_due(corio_loop *loop, int64_t now);
void corio__timer_disarm(corio_loop *loop, corio__timer *t);
static inline bool corio__timer_armed(const corio__timer *t) { return t->index != SIZE_MAX; }
/* Unlink a node that may sit in the ready queue. */
static inline void corio__ready_remove(corio_loop *loop, corio__node *n) {
    if (n->link.next != &n->link) {
        corio__list_remove(&n->link);
        loop->nready--;
    }
}

/* Backends: backend.c picks one per loop (CORIO_BACKEND=epoll|io_uring, else
 * io_uring when it works) and dispatches to backend_epoll.c or backend_uring.c. */
enum { CORIO__BK_EPOLL = 0, CORIO__BK_URING = 1 };
struct corio__backend;
struct corio__backend *corio__backend_new(corio_loop *loop);
void corio__backend_free(struct corio__backend *b);
/* epoll_ctl: op is EPOLL_CTL_ADD/MOD/DEL; events are reported to corio__io_event(st).  0 or -errno. */
int corio__backend_ctl(corio_loop *loop, int op, int fd, uint32_t events, corio__fdstate *st);
/* Wake a loop blocked in poll, from any thread. */
void corio__backend_wakeup(struct corio__backend *b);
/* Per-descriptor state (io.c owns it; the backends report events on it). */
enum { DIR_READ = 0, DIR_WRITE = 1 };
struct corio__fdstate {
    int fd;                   /* which descriptor this is */
    uint32_t interest;        /* events registered with epoll; 0 = not registered */
    bool ready[2];            /* last readiness seen, per direction */
    bool level;               /* registered level-triggered (callbacks present) */
    bool closed;              /* the kernel reported RDHUP/HUP/ERR: reads finish at once from now on */
    bool want_out;            /* a task has waited to write: EPOLLOUT is in the edge-triggered interest */
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
    bool ring_reading;        /* a task's read/recv/accept is in the ring */
    bool ring_drained;        /* the last recv was short: the socket is empty, the next one polls first */
    corio__node ring_rearm;   /* in loop->ring_flush: re-arm a level-triggered poll at the next submit */
};

/* io.c: set (or, with hook NULL, clear) fd's edge-triggered hook: every
 * event on fd then goes to hook(arg, events) at once, from the backend's
 * poll, and to nothing else.  Registers fd if needed.  0 or -errno. */
int corio__io_hook(corio_loop *loop, int fd, void (*hook)(void *arg, uint32_t events), void *arg);
ssize_t corio__write_nosigpipe(int fd, const void *buf, size_t n);
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

void corio__io_free(corio_loop *loop);
/* loop.c: run the posts other threads made (called by the backend on a wake-up). */
void corio__loop_take_posts(corio_loop *loop);
/* Run the loop's flush list (loop->ring_flush) until it is empty: the end
 * of every iteration, and the io_uring backend before it submits. */
void corio__loop_flush(corio_loop *loop);
/* executor.c / signal.c: called at the start of corio_loop_close.  The
 * executor's returns 1 when it reported something left over (-ENOTEMPTY). */
int corio__executor_loop_close(corio_loop *loop);
void corio__signal_loop_close(corio_loop *loop);
/* executor.c: the post that hands finished jobs to the loop; the close hook
 * has already dealt with its results, so close drops it silently. */
void corio__executor_drain(void *arg);
/* A handle scheduled and not yet run or cancelled. */
static inline bool corio__handle_pending(const corio_handle *h) { return (h->state & 3u) != 0; }
/* Wait for events up to timeout_ns (-1: no limit, 0: just check). */
int corio__backend_poll(corio_loop *loop, struct corio__backend *b, int64_t timeout_ns);
/* The two backends, behind the four calls above (backend.c). */
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
/* protocol.c: free loop->ring_bufs (called by corio_loop_close before the ring goes). */
void corio__proto_ring_free(corio_loop *loop);

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

/* ---- futures ---------------------------------------------------------------- */

enum { CORIO__PENDING = 0, CORIO__DONE = 1, CORIO__CANCELLED = 2 };
enum { CORIO__FK_PLAIN = 0, CORIO__FK_TASK = 1, CORIO__FK_GATHER = 2 };
#define CORIO__FUTURE_MAGIC 0xF07E

void corio__future_init(corio_future *f, corio_loop *loop);
/* Complete f and move its callbacks to the ready queue. */
void corio__future_complete(corio_future *f, unsigned state, int err, intptr_t value);
static inline bool corio__future_valid(const corio_future *f) { return f && f->magic == CORIO__FUTURE_MAGIC; }
/* Register a node to be scheduled when f is done (at once if it is). */
void corio__future_add_node(corio_future *f, corio__node *n);
/* Undo corio__future_add_node wherever the node is now: still on f's list,
 * or already moved to the ready queue but not run.  Harmless if it ran. */
void corio__future_remove_node(corio_future *f, corio__node *n);
/* The plain cancel (asyncio Future.cancel), used by the overrides too. */
int corio__future_cancel_plain(corio_future *f);

/* ---- tasks ------------------------------------------------------------------ */

enum {
    CORIO__TF_STARTED = 2,   /* fn has been entered */
    CORIO__TF_FINISHED = 4,  /* fn returned; stack released */
    CORIO__TF_RETRIEVED = 8, /* someone saw the outcome (debug.c: "never retrieved" report) */
    CORIO__TF_AGE_EXACT = 16,/* created_ns read live at the first step (debug mode), not the iteration's clock */
};

struct corio_task {
    corio_future fut;          /* first: the task's outcome (kind TASK) */
    corio__node wake;          /* scheduled to resume the task */
    void *sp;                  /* saved stack pointer while suspended */
    corio__stack *stack;       /* NULL once finished */
    corio_loop *loop;
    corio_task_fn fn;
    void *arg;
    corio_future *waiting_on;  /* asyncio's _fut_waiter */
    corio_list link;           /* loop->tasks */
    struct corio_task *next_free;
    corio_list group_link;     /* in its task group's children */
    corio__node group_node;    /* done-callback for the group */
    struct corio_taskgroup *group;
    char *name_heap;           /* a long name, malloc'd */
    uint64_t id;               /* for the default name "Task-<id>" */
    int64_t created_ns;
    int refs;                  /* everything that keeps the record: caller refs, group, +1 while unfinished */
    int crefs;                 /* caller references not yet claimed by a join or detach */
    int num_cancels;           /* asyncio _num_cancels_requested */
    unsigned flags;            /* CORIO__TF_* */
    bool must_cancel;          /* deliver -ECANCELED at the next suspension */
    bool parked;               /* suspended in corio__park: woken by corio__unpark or a cancel */
    bool park_cancelled;       /* the park was cancelled (asyncio: the awaited future was): uncancel cannot undo it */
    char name[24];             /* a short name, or the formatted default */
    void *tsan_fiber;          /* TSan's fiber for this task */
    void *asan_fake_stack;     /* ASan bookkeeping */
    /* What the task waits on, for corio_dump_tasks (debug.c): a short tag
     * stored next to waiting_on by corio__await_tag, meaningful only while
     * waiting_on is set, and its argument (a sleep's deadline in ns, an fd,
     * a waiter's return address).  NULL tag: described from waiting_on. */
    const char *wait_tag;
    int64_t wait_arg;
    uint64_t created_iter;     /* loop->iterations at spawn: an age that costs no clock read */
};

/*
 * The turn's budget (docs/design.md, "A bounded turn").  Work is counted in
 * units of about 100 ns: running a ready node costs 1, a stream call served
 * from a buffer or queued (a buffered readline, a small write) costs 1, and
 * an operation that makes a system call costs CORIO__COST_SYSCALL (a system
 * call costs about 1 us here), and every KiB it moves two more.  A turn may spend
 * CORIO__TURN_BUDGET units (about 0.4-1 ms of work):
 * then the loop stops running the batch, polls for I/O and runs the due
 * timers, and what is left of the batch runs first in the next turn.  A
 * task that finds the budget spent in an I/O call yields before the call
 * (Tokio's cooperative budget, loop-wide), so one always-ready descriptor
 * starves nobody, and the poll every turn keeps signals, accepts and
 * timers within a turn of their time.  4096: at that size the zero-timeout
 * poll (about 1 us) is under 1% of a busy turn, and a busy turn stays far
 * below the 10 ms a timer may be late.
 */
#define CORIO__TURN_BUDGET 4096
#define CORIO__COST_SYSCALL 16
/* Data moved costs two units per KiB on top (through a loopback socket a
 * KiB costs about 200 ns: the kernel's copies and the protocol, the user's
 * copy), so that a turn of 64 KiB messages is about as long as one of small
 * ones: one 64 KiB echo (a read and a write) is 288 units, a step's worth. */
#define CORIO__COST_BYTES(n) ((int)((size_t)(n) >> 9))
/*
 * A task's step (from its resumption to its next suspension) may spend
 * CORIO__STEP_BUDGET units before its next I/O call yields.  The turn's
 * budget bounds a turn, but a timer, a signal or a newcomer queued behind
 * the ready tasks waits for a whole round of them: 200 busy connections at
 * a turn's worth each is hundreds of milliseconds.  256 units (16 system
 * calls, or a chat line sent to 200 others) keeps a round of 200 tasks at
 * a few milliseconds, and is far above one request's work (an echo message
 * is 33), so only the greedy yield.
 */
#define CORIO__STEP_BUDGET 256

/* Charge `cost` units to t's loop; when the turn's budget or the step's
 * is spent, yield (before the operation the units stand for, so that a
 * cancellation met there loses no data).  0, or -ECANCELED from the yield. */
int corio__yield_later(corio_task *t);
static inline int corio__budget_charge(corio_task *t, int cost) {
    corio_loop *loop = t->loop;
    if (corio__likely((loop->budget -= cost) > loop->step_floor)) return 0;
    return corio__yield_later(t);
}
/* Move a node just made ready (call_soon) to the loop's `later` queue: work
 * that goes on after spending a step's budget (a transport's deferred
 * reads) waits behind what became ready meanwhile, as a task's does. */
static inline void corio__ready_defer(corio_loop *loop, corio__node *n) {
    corio__list_remove(&n->link);
    corio__list_push_back(&loop->later, &n->link);
}
/* Charge work that cannot suspend (a write) to the running loop, if any. */
static inline void corio__budget_spend(int cost) {
    corio_loop *loop = corio__cur_loop;
    if (loop) loop->budget -= cost;
}

/* The running task or NULL; cheap. */
static inline corio_task *corio__current(void) {
    corio_loop *l = corio__cur_loop;
    return l ? l->current : NULL;
}
/* Suspend the current task until something schedules t->wake.  Returns
 * -ECANCELED if a cancellation was pending on resume (it is consumed). */
int corio__suspend(corio_task *t);
/* Wait for f from the current task: the shared core of every await.  `tag`
 * (a string literal, CORIO__WAIT_*) and `arg` say what is awaited, for the
 * task dump; they cost two stores, made only when the task suspends. */
int corio__await_tag(corio_task *t, corio_future *f, const char *tag, int64_t arg);
static inline int corio__await(corio_task *t, corio_future *f) { return corio__await_tag(t, f, NULL, 0); }
/* Suspend the current task t until corio__unpark(t) or a cancellation,
 * with no future in between: the waits on a descriptor use it (io.c; the
 * task dump finds what a parked task waits on from the descriptors'
 * waiters, so parking stores nothing for it).  Returns 0 when unparked,
 * -ECANCELED when cancelled (a cancellation already pending resumes it in
 * the next iteration, as an await does). */
int corio__park(corio_task *t);
/* Schedule a parked task to resume; harmless if it is already scheduled. */
static inline void corio__unpark(corio_loop *loop, corio_task *t) {
    if (t->wake.link.next == &t->wake.link) corio__ready_push(loop, &t->wake);
}
#define CORIO__WAIT_SLEEP "sleep"        /* arg: deadline (ns, loop clock), INT64_MAX for ever */
#define CORIO__WAIT_JOIN "join"          /* waiting_on is the joined task's future */
#define CORIO__WAIT_FD_READ "fd read"    /* arg: the descriptor */
#define CORIO__WAIT_FD_WRITE "fd write"  /* arg: the descriptor */
#define CORIO__WAIT_WAITER "waiter list" /* lock/event/condition/semaphore/queue; arg: caller's return address */

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
/* Someone has seen the outcome of f, if f is a task's future: no "Task
 * exception was never retrieved" report for it (debug.c).  Out of line
 * (task.c): only error paths call it, and inlined where f is known not to
 * be a task, the cast would draw -Warray-bounds. */
void corio__future_seen(const corio_future *f);
int corio__task_cancel(corio_task *t);
void corio__task_release(corio_task *t);
void corio__loop_free_tasks(corio_loop *loop);

/* ---- debug mode (debug.c) ------------------------------------------------------ */

/* run_once's timed path: run one node and report it if it took longer than
 * loop->slow_ns. */
void corio__debug_run(corio_loop *loop, corio__node *node);
/* A task record is being freed (at_close: by corio_loop_close): report an
 * error nobody retrieved, and in debug mode a task never joined/detached. */
void corio__debug_task_freed(corio_task *t, bool at_close);
/* What a ready node is, for the slow-callback report: its task (task.c),
 * its callback (loop.c: handles and threadsafe posts; future.c:
 * done-callbacks), or NULL. */
corio_task *corio__node_task(corio__node *n);
corio_callback corio__node_handle_cb(corio__node *n);
void *corio__node_future_cb(corio__node *n);

/* ---- sync helpers ------------------------------------------------------------ */

/* A task waiting in a lock/event/queue list; lives on the waiter's stack. */
typedef struct corio__waiter {
    corio_list link;
    corio_future fut;
} corio__waiter;

/* Initialise w, append it to `list`, await it, unlink it.  Returns as corio__await,
 * or -EXDEV when tasks of another loop already wait in the list. */
int corio__waiter_wait(corio_task *t, corio_list *list, corio__waiter *w, intptr_t *value);
/* Gather's cancel override (gather.c). */
int corio__gather_cancel(corio_future *f);

/* ---- executor jobs on the caller's memory (executor.c, for file.c) ----------- */

/* corio_run_in_executor, except that a job that started is waited for even
 * when the task is cancelled: its result is returned (0, *result) and the
 * cancellation re-armed for the next suspension point.  A queued job is
 * removed (-ECANCELED).  So the job may use the task's stack and buffers. */
int corio__run_in_executor_pinned(corio_executor *ex, corio_work_fn fn, void *arg, intptr_t *result);

#endif
