/*
 * core.h - the loop, tasks, futures and timers: what every layer above
 * schedules and awaits through.  The core reaches the layers above it only
 * through what they registered: the poller's operations (loop->poller),
 * the subsystems' loop hooks and the future kinds' cancel operations
 * (src/subsystems.c assembles both tables).  docs/design.md, "Layers".
 */
#ifndef CORIO_SRC_CORE_H
#define CORIO_SRC_CORE_H

#include "../base/base.h"

#include <stdatomic.h>

/* ---- stacks and context switch (stack.c, switch_*.S / switch_ucontext.c) ---- */

/* A stack's descriptor sits in the top CORIO__STACK_DESC_ROOM bytes of
 * the stack itself (stack.c), and a task's record just below it (task.c):
 * the stack's top page, touched by the task's first frames anyway, holds
 * both, so an idle task costs one page fault rather than one and a bit. */
typedef struct corio__stack {
    void *lo;        /* lowest usable byte (just above the guard page) */
    size_t size;     /* bytes from lo to the slot's end, the descriptor included */
    struct corio__stack *next_free; /* cache link */
    struct corio__stack_pool *pool;
    unsigned valgrind_id;
} corio__stack;

typedef struct corio__stack_pool corio__stack_pool;
corio__stack_pool *corio__stack_pool_new(void);
void corio__stack_pool_free(corio__stack_pool *p);
corio__stack *corio__stack_get(corio__stack_pool *p, size_t size);
void corio__stack_put(corio__stack_pool *p, corio__stack *s);
/* The pool's first member (stack.c): its cached stacks of the default
 * size, which nearly every spawn takes and every retiring task gives back -
 * inline, without a call (bench/corio_spawn: 20 + 10 instructions). */
typedef struct corio__stack_cache {
    corio__stack *free;
    size_t size; /* the default size, usable bytes */
} corio__stack_cache;
/* corio__stack_get: size 0 is the default. */
static inline corio__stack *corio__stack_take(corio__stack_pool *p, size_t size) {
    corio__stack_cache *c = (corio__stack_cache *)(void *)p;
    corio__stack *st = c->free;
    if (corio__likely(size == 0 && st != NULL)) {
        c->free = st->next_free;
        return st;
    }
    return corio__stack_get(p, size);
}
static inline void corio__stack_give(corio__stack_pool *p, corio__stack *st) {
    corio__stack_cache *c = (corio__stack_cache *)(void *)p;
    if (corio__likely(st->size == c->size)) {
        st->next_free = c->free;
        c->free = st;
        return;
    }
    corio__stack_put(p, st);
}
size_t corio__stack_default_size(void);
#define CORIO__STACK_DESC_ROOM 64 /* >= sizeof(corio__stack), a cache line */
/* Install the guard-page SIGSEGV reporter and this thread's alternate signal stack. */
void corio__stack_overflow_handler_install(void);

/* ---- the loop ---------------------------------------------------------------- */

/* A timer heap entry: the deadline beside the timer, so that sifting
 * compares without chasing pointers (ties, rare, compare t->seq). */
typedef struct corio__timer_ent { int64_t when; corio__timer *t; } corio__timer_ent;
typedef struct corio__fdstate corio__fdstate; /* io.c */
typedef struct corio__tsnode corio__tsnode;   /* loop.c: a call_soon_threadsafe post */

struct corio_loop {
    corio_list ready;          /* corio__node FIFO: what runs in the next iterations */
    corio_list later;          /* nodes that spent their step's budget: run after `ready` (loop.c) */
    uint64_t serial;           /* unique in the process, never reused (a freed loop's address may be) */
    corio__timer_ent *heap;    /* min-heap by (when, t->seq); inside heap_mem (timer.c) */
    void *heap_mem;            /* its allocation */
    size_t heap_huge_len;      /* heap_mem's length when a huge-page mapping (corio__huge_alloc), else 0 */
    size_t nheap, capheap;     /* its entries, its room */
    size_t ntimers;            /* armed timers: the heap's, the wheel's and the run's */
    struct corio__wheel *wheel;/* near deadlines, by slot, and the slot being fired (timer.c); NULL until used */
    uint64_t timer_seq;        /* FIFO order among equal deadlines */
    int64_t now;               /* clock at the start of this iteration (ns) */
    int64_t vnow;              /* virtual clock (ns) when `virtual_clock` */
    struct corio_task *current;/* the task running now, or NULL */
    /* The batch run_once is running (NULL between batches, in its `later`
     * batch and in debug mode): a task that blocks takes the next node
     * from it itself when that is a task's, and switches to that task
     * without going through the scheduler (task.c, "hops"). */
    corio_list *batch;
    /* Nonzero when this iteration must end in run_once, not by a task that
     * starts the next one itself (corio__loop_turn_inline): a stop, `later`
     * nodes, a node on ring_flush, io_uring entries not submitted.  run_once
     * sets it before the batch from what is there, and whatever adds one of
     * these during the batch sets it (corio__loop_flush_add, ...), so that
     * a hop tests one word instead of five. */
    unsigned hold;
    bool hopped;               /* ASan: the task resuming now was switched to by another task, not the scheduler */
    bool eager_tasks;          /* spawns take their first step at once (corio_loop_set_eager_tasks) */
    void *sched_sp;            /* the scheduler's saved stack pointer while a task runs */
    void *sched_ctx;           /* ucontext of the scheduler (portable switch only) */
    corio_list tasks;          /* every task record this loop owns */
    size_t ntasks_live;        /* tasks not finished */
    corio__stack_pool *stacks; /* stack cache */
    struct corio__backend *backend; /* poller: epoll or io_uring (backend.c chooses) */
    const struct corio__poller *poller; /* ... and how the loop waits in it (set by the backend's init hook) */
    int backend_kind;          /* CORIO__BK_EPOLL or CORIO__BK_URING */
    const char *backend_why;   /* why io_uring is not used, when it is not (static string) */
    unsigned ring_unsubmitted; /* io_uring: entries queued since the last submit (poll soon) */
    corio_list ring_flush;     /* corio__nodes run at the end of the iteration, before the next poll:
                                  stream writers' queued data, io_uring re-arms (corio__loop_flush) */
    void *ring_bufs;           /* io_uring: protocol.c's provided-buffer ring, made on first use */
    uint64_t iterations;       /* loop turns so far */
    int budget;                /* work units left in this turn (CORIO__TURN_BUDGET at each poll) */
    int step_floor;            /* the running task yields when budget falls to this or to 0: the budget at
                                  its step's start less CORIO__STEP_BUDGET, negative when that was below it */
    corio_handle *free_handles;/* library handles ready for reuse, linked through arg (loop.c) */
    struct corio__handle_slab *handle_slabs; /* where they live: freed by corio_loop_close */
    size_t nslab_handles;      /* handles in all the slabs */
    corio__fdstate **fds;      /* per-descriptor state, indexed by fd (io.c) */
    size_t nfds;               /* slots in fds */
    size_t nwatched;           /* descriptors registered with the backend */
    pthread_mutex_t ts_lock;   /* guards ts_head/ts_tail: posts from other threads */
    corio__tsnode *ts_head, *ts_tail;
    _Atomic int ts_pending;    /* posts waiting: checked every iteration */
    int running, stopping, virtual_clock, ran_once;
    /* Posts expected from other threads: executor jobs in flight, a wait
     * for the executor's threads, corio_loop_hold_clock.  A virtual clock
     * does not jump while there are any: the loop waits for them in real
     * time, as their work takes real time.  Loop thread only. */
    int clock_holds;
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
    corio_exception_handler exc_handler; /* corio_loop_set_exception_handler's, NULL: the default (exception.c) */
    void *exc_arg;             /* ... and its argument */
};

extern CORIO__TLS corio_loop *corio__cur_loop;

static inline void corio__ready_push(corio_loop *loop, corio__node *n) {
    corio__list_push_back(&loop->ready, &n->link);
}
/* Time as the loop sees it now (virtual or monotonic), in ns. */
int64_t corio__loop_now(corio_loop *loop);
/* Arm t for `when` (ns); 0 or -ENOMEM.  t->fire must be set and t unarmed. */
int corio__timer_arm(corio_loop *loop, corio__timer *t, int64_t when);
/* The timer heap's arity (timer.c; its sift-down is unrolled for 4): the
 * parent of heap[i] is heap[(i - 1) / CORIO__TIMER_HEAP_ARITY]. */
#define CORIO__TIMER_HEAP_ARITY 4
int64_t corio__timer_next(corio_loop *loop);
void corio__timer_run_due(corio_loop *loop, int64_t now);
void corio__timer_disarm(corio_loop *loop, corio__timer *t);
/* Some armed timer (NULL when none): for closing a loop. */
corio__timer *corio__timer_any(corio_loop *loop);
/* Sort timers by (when, seq), heap-sorting below `depth` levels (timer.c). */
void corio__timer_sort(corio__timer **v, size_t n, unsigned depth);
/* Free the timer structures (the loop's close; no timer armed). */
void corio__timer_free(corio_loop *loop);
static inline bool corio__timer_armed(const corio__timer *t) { return t->index != SIZE_MAX; }
/* Unlink a node that may sit in the ready queue. */
static inline void corio__ready_remove(corio_loop *loop, corio__node *n) {
    (void)loop;
    if (n->link.next != &n->link) corio__list_remove(&n->link);
}

bool corio__loop_no_timer_due(corio_loop *loop); /* loop.c */
/*
 * Called by a task that blocks when loop->batch is empty (task.c, hops):
 * the end of run_once and the start of the next one, done in place when
 * nothing but the ready nodes would happen there: no poll due (budget
 * left, nothing unsubmitted), no posts from other threads, no timer due,
 * nothing to flush, nothing in `later`, no stop.  run_once would then do
 * exactly this: count the iteration and take the ready queue (not empty:
 * the caller checks) as the batch.  True if it may, as far as all but the
 * timers go: with timers armed (loop->ntimers) the caller must also see
 * corio__loop_no_timer_due, out of line so that the common path makes no
 * call.  The caller then counts the iteration and takes the ready queue as
 * its batch (task.c, hop_next).
 */
static inline bool corio__loop_turn_inline(corio_loop *loop) {
    return !loop->hold && loop->budget > 0 && !atomic_load_explicit(&loop->ts_pending, memory_order_relaxed);
}
/* Queue n to run at the end of this iteration, before the next poll
 * (stream writers' sends, io_uring re-arms): the iteration ends in run_once. */
static inline void corio__loop_flush_add(corio_loop *loop, corio__node *n) {
    corio__list_push_back(&loop->ring_flush, &n->link);
    loop->hold = 1;
}
/* An io_uring entry was queued: submitted at the next poll, which comes
 * before the next iteration's nodes run. */
static inline void corio__loop_ring_queued(corio_loop *loop) {
    loop->ring_unsubmitted++;
    loop->hold = 1;
}
/* loop.c: run the posts other threads made (called by the backend on a wake-up). */
void corio__loop_take_posts(corio_loop *loop);
/* Run the loop's flush list (loop->ring_flush) until it is empty: the end
 * of every iteration, and the io_uring backend before it submits. */
void corio__loop_flush(corio_loop *loop);
/* A handle scheduled and not yet run or cancelled. */
static inline bool corio__handle_pending(const corio_handle *h) { return (h->state & 3u) != 0; }
/* ---- futures ---------------------------------------------------------------- */

struct corio__msg; /* a cancel message (below) */

enum { CORIO__PENDING = 0, CORIO__DONE = 1, CORIO__CANCELLED = 2 };
enum { CORIO__FK_PLAIN = 0, CORIO__FK_TASK = 1, CORIO__FK_GATHER = 2 };
#define CORIO__FUTURE_MAGIC 0xF07E

static inline void corio__future_init(corio_future *f, corio_loop *loop) {
    f->loop = loop;
    corio__list_init(&f->callbacks);
    f->value = 0;
    f->err = 0;
    f->state = CORIO__PENDING;
    f->kind = CORIO__FK_PLAIN;
    f->magic = CORIO__FUTURE_MAGIC;
}
/* Complete f and move its callbacks to the ready queue. */
void corio__future_complete(corio_future *f, unsigned state, int err, intptr_t value);
/* The same, inline, for the one hot caller (a finishing task, task.c):
 * out of line the call cost a spawn+join 8 instructions
 * (bench/corio_spawn, callgrind). */
static inline void corio__future_complete_inline(corio_future *f, unsigned state, int err, intptr_t value) {
    assert(f->state == CORIO__PENDING);
    f->state = (unsigned char)state;
    f->err = err;
    f->value = value;
    if (!corio__list_empty(&f->callbacks)) corio__list_splice_back(&f->loop->ready, &f->callbacks);
}
/* The magic of a future the program initialised (corio_future_init): one
 * it owns and destroys, which may therefore keep a cancel message
 * (corio__future_kept_msg).  The library's own have CORIO__FUTURE_MAGIC. */
#define CORIO__FUTURE_MAGIC_OWNED (CORIO__FUTURE_MAGIC | 1)
static inline bool corio__future_valid(const corio_future *f) { return f && (f->magic | 1) == CORIO__FUTURE_MAGIC_OWNED; }
/* Register a node to be scheduled when f is done (at once if it is). */
void corio__future_add_node(corio_future *f, corio__node *n);
/* Undo corio__future_add_node wherever the node is now: still on f's list,
 * or already moved to the ready queue but not run.  Harmless if it ran. */
void corio__future_remove_node(corio_future *f, corio__node *n);
/* The plain cancel (asyncio Future.cancel), used by the overrides too. */
int corio__future_cancel_plain(corio_future *f, const struct corio__msg *msg);

/* ---- tasks ------------------------------------------------------------------ */

enum {
    CORIO__TF_STARTED = 2,   /* fn has been entered */
    CORIO__TF_FINISHED = 4,  /* fn returned; stack released */
    CORIO__TF_RETRIEVED = 8, /* someone saw the outcome (debug.c: "never retrieved" report) */
    CORIO__TF_AGE_EXACT = 16,/* created_ns read live at the first step (debug mode), not the iteration's clock */
    CORIO__TF_VALUE = 32,    /* corio_task_set_value was called: the future carries that value, not fn's return */
    CORIO__TF_SHUTDOWN = 64, /* cancelled by a runner's close (corio__loop_finish_tasks): an error it ends
                                with is "unhandled exception during asyncio.run() shutdown" (debug.c) */
};

struct corio_task {
    corio_future fut;          /* first: the task's outcome (kind TASK) */
    corio__node wake;          /* scheduled to resume the task */
    void *sp;                  /* saved stack pointer while suspended */
    corio__stack *stack;       /* NULL once finished */
    corio_loop *loop;
    corio_task_fn fn;
    void *arg;
    corio_list link;           /* loop->tasks */
    corio_list group_link;     /* in its task group's children */
    corio__node group_node;    /* done-callback for the group */
    /* From here to park_cancelled: zero at spawn, cleared in one go (spawn_on, task.c). */
    corio_future *waiting_on;  /* asyncio's _fut_waiter */
    struct corio_taskgroup *group;
    char *name_heap;           /* a long name, malloc'd */
    struct corio__msg *cancel_msg; /* the message of its last cancellation (corio_task_cancel_message); one reference */
    uint64_t ctx_gen;          /* its own context's identity for tokens, never reused (context.c); 0 until a token needs one */
    void *tsan_fiber;          /* TSan's fiber for this task */
    void *asan_fake_stack;     /* ASan bookkeeping */
    int num_cancels;           /* asyncio _num_cancels_requested */
    unsigned flags;            /* CORIO__TF_* */
    bool must_cancel;          /* deliver -ECANCELED at the next suspension */
    bool parked;               /* suspended in corio__park: woken by corio__unpark or a cancel */
    bool park_cancelled;       /* the park was cancelled (asyncio: the awaited future was): uncancel cannot undo it */
    int refs;                  /* everything that keeps the record: caller refs, group, +1 while unfinished */
    int crefs;                 /* caller references not yet claimed by a join or detach */
    uint64_t id;               /* for the default name "Task-<id>" */
    int64_t created_ns;
    /* The task's context (context.c): the head of its own list of
     * bindings (NULL: nothing set), or a shared context (corio_task_opts.
     * context, or one entered by corio_context_run) with bit 0 set; one
     * reference held, dropped when the task retires.  One word, so that a
     * spawn copies it with one load and one test (CORIO__CTX_SHARED). */
    struct corio__cnode *ctx;
    char name[24];             /* a short name, or the formatted default */
    /* What the task waits on, for corio_dump_tasks (debug.c): a short tag
     * stored next to waiting_on by corio__await_tag, meaningful only while
     * waiting_on is set, and its argument (a sleep's deadline in ns, an fd,
     * a waiter's return address).  NULL tag: described from waiting_on. */
    const char *wait_tag;
    int64_t wait_arg;
    uint64_t created_iter;     /* loop->iterations at spawn: an age that costs no clock read */
    intptr_t value;            /* corio_task_set_value's value (CORIO__TF_VALUE) */
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
    /* Two tests here rather than the floor's max with 0 at every step's
     * start: a step starts at every hop, and most steps charge nothing. */
    int left = loop->budget -= cost;
    if (corio__likely(left > loop->step_floor && left > 0)) return 0;
    return corio__yield_later(t);
}
/* Move a node just made ready (call_soon) to the loop's `later` queue: work
 * that goes on after spending a step's budget (a transport's deferred
 * reads) waits behind what became ready meanwhile, as a task's does. */
static inline void corio__ready_defer(corio_loop *loop, corio__node *n) {
    corio__list_remove(&n->link);
    corio__list_push_back(&loop->later, &n->link);
    loop->hold = 1;
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
/* ---- contexts (context.c) ------------------------------------------------------ */

/* One binding of a context: immutable once another context shares it
 * (refs > 1, or reachable through a shared node), so that a copy of a
 * context is its head pointer and one more reference. */
typedef struct corio__cnode {
    struct corio__cnode *next; /* older bindings (one reference held) */
    uint64_t var;              /* the variable's id (corio_contextvar.id) */
    intptr_t value;            /* its value, unless `unset` */
    unsigned refs;             /* contexts and nodes pointing here */
    bool unset;                /* a reset to "no value" (Token.MISSING) */
} corio__cnode;

struct corio_context {
    corio__cnode *head;        /* its bindings (one reference held) */
    unsigned refs;             /* the user's hold, tasks running in it, runs in progress */
    unsigned entered;          /* corio_context_run calls not yet returned */
    uint64_t gen;              /* its identity for tokens, never reused (a freed context's address may be) */
};

/* Outside a task: the thread's own context, and the one corio_context_run
 * entered (NULL: none; context.c). */
extern CORIO__TLS corio__cnode *corio__thread_ctx;
extern CORIO__TLS corio_context *corio__thread_entered;
/* The current context's bindings outside a task: what a spawn from a
 * callback copies.  Inline: a call there, even on that cold path, made
 * the spawn keep two more values in callee-saved registers. */
static inline corio__cnode *corio__ctx_thread_head(void) {
    return corio__thread_entered ? corio__thread_entered->head : corio__thread_ctx;
}
/* Drop t's context (the task retires, or its loop is freed unfinished). */
void corio__ctx_drop(corio_task *t);
#define CORIO__CTX_SHARED ((uintptr_t)1) /* corio_task.ctx: a corio_context *, not a list */
static inline bool corio__ctx_is_shared(const struct corio__cnode *ctx) { return (uintptr_t)ctx & CORIO__CTX_SHARED; }
static inline corio_context *corio__ctx_shared(const struct corio__cnode *ctx) {
    return (corio_context *)((uintptr_t)ctx & ~CORIO__CTX_SHARED);
}
/* Take one more reference to the list n (a spawn copying a context). */
static inline corio__cnode *corio__cnode_ref(corio__cnode *n) {
    if (n) n->refs++;
    return n;
}
/* A copy of the bindings of a task's context ctx (not NULL): a spawn's. */
static inline corio__cnode *corio__ctx_inherit(corio__cnode *ctx) {
    return corio__cnode_ref(corio__ctx_is_shared(ctx) ? corio__ctx_shared(ctx)->head : ctx);
}

/* Cancel every task of loop still alive and run it until all have
 * finished (asyncio.run's end; loop.c, for runner.c).  Not in a task. */
void corio__loop_finish_tasks(corio_loop *loop);
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

/* Someone has seen the outcome of f, if f is a task's future: no "Task
 * exception was never retrieved" report for it (debug.c).  Out of line
 * (task.c): only error paths call it, and inlined where f is known not to
 * be a task, the cast would draw -Warray-bounds. */
void corio__future_seen(const corio_future *f);
int corio__task_cancel(corio_task *t);
/* corio__task_cancel with a message (NULL: none), which t's cancellation
 * carries to the code it interrupts and to those who await t. */
int corio__task_cancel_msg(corio_task *t, const struct corio__msg *msg);
/* Replace t's cancel message with msg (one more reference taken). */
void corio__task_set_msg(corio_task *t, const struct corio__msg *msg);
/* t met the cancellation of f: when f is another task's future, t takes
 * that task's message (where asyncio raises its CancelledError in t). */
void corio__task_msg_from(corio_task *t, const corio_future *f);
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
/* "name+0x1f" for a code address when dladdr knows it, else "module+0x1234", else the address. */
void corio__sym_name(const void *addr, char *buf, size_t n);
corio_callback corio__node_handle_cb(corio__node *n);
void *corio__node_future_cb(corio__node *n);

/* ---- the exception handler (exception.c) --------------------------------------- */

/*
 * Report an error nobody is there to be told (asyncio's
 * call_exception_handler): every layer's reports come here, so that the
 * loop's handler sees them all.  detail_fmt (NULL: no detail) is formatted
 * into ctx->detail for the handler's call, which happens here, on the
 * loop's thread.  loop NULL (not known): the default log.
 */
void corio__report(corio_loop *loop, corio_exception_context *ctx, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- sync helpers ------------------------------------------------------------ */

/* A task waiting in a lock/event/queue list; lives on the waiter's stack. */
typedef struct corio__waiter {
    corio_list link;
    corio_future fut;
} corio__waiter;

/* Initialise w, append it to `list`, await it, unlink it.  Returns as corio__await,
 * or -EXDEV when tasks of another loop already wait in the list. */
int corio__waiter_wait(corio_task *t, corio_list *list, corio__waiter *w, intptr_t *value);

/* ---- what the layers above register (src/subsystems.c) ------------------------ */

/* The poller a loop waits in (the backend layer installs it at loop
 * creation, through its subsystem hook). */
typedef struct corio__poller {
    /* Wait for events up to timeout_ns (-1: no limit, 0: just check) and
     * report them; 0 or -errno. */
    int (*poll)(corio_loop *loop, int64_t timeout_ns);
    /* Wake the loop blocked in poll, from any thread. */
    void (*wakeup)(corio_loop *loop);
} corio__poller;

/* A part of the library with per-loop state: corio_loop_new calls each
 * init in table order, corio_loop_close each unwound (once the loop's
 * tasks have unwound: stop handing work to the loop) in table order, then
 * after freeing the tasks each release in reverse order.  Any may be NULL. */
typedef struct corio__subsystem {
    const char *name;
    int (*init)(corio_loop *loop);     /* 0 or -errno: the loop is not made */
    int (*unwound)(corio_loop *loop);  /* 1 if it reported something left over (close returns -ENOTEMPTY) */
    void (*release)(corio_loop *loop);
} corio__subsystem;
extern const corio__subsystem corio__subsystems[];
extern const size_t corio__nsubsystems;

/* A cancel message (asyncio's CancelledError args[0]): immutable once
 * made, shared by reference between the cancelled task, the futures it
 * passes through and those who await it, so that handing it on cannot
 * fail.  Counted without atomics: every holder belongs to one loop. */
typedef struct corio__msg {
    unsigned refs;
    char text[];
} corio__msg;
static inline corio__msg *corio__msg_ref(const corio__msg *m) {
    corio__msg *w = (corio__msg *)(uintptr_t)m; /* the count changes, the text never */
    if (w) w->refs++;
    return w;
}
void corio__msg_unref(corio__msg *m);
/* A message holding a copy of text (one reference), or NULL for a NULL text or no memory. */
corio__msg *corio__msg_new(const char *text);
/* The message a future the program owns (a plain one: corio_future_init)
 * keeps from its cancellation (its `value` once cancelled; future.c), or NULL. */
static inline corio__msg *corio__future_kept_msg(const corio_future *f) {
    return f->magic == CORIO__FUTURE_MAGIC_OWNED && f->state == CORIO__CANCELLED ? (corio__msg *)f->value : NULL;
}

/* What corio_future_cancel does for each kind of future (CORIO__FK_*),
 * with the message the cancellation carries (NULL: none). */
typedef struct corio__future_kind {
    int (*cancel)(corio_future *f, const corio__msg *msg);
} corio__future_kind;
/* corio_future_cancel with a message. */
int corio__future_cancel_msg(corio_future *f, const corio__msg *msg);
extern const corio__future_kind corio__future_kinds[];

/* call_soon_threadsafe for the library's own posts: one still queued when
 * the loop closes was dealt with by its subsystem's unwound hook, so close
 * frees it without a report. */
int corio__loop_post_quiet(corio_loop *loop, corio_callback cb, void *arg);

/* future.c: mark the futures that appear earlier in futs (dup[i] = 1);
 * returns the number of distinct ones, or -ENOMEM. */
long corio__mark_duplicates(corio_future *const *futs, size_t n, unsigned char *dup);

#endif
