/*
 * loop.c - the event loop: one iteration at a time, callbacks, time, run.
 *
 * One iteration (asyncio's _run_once, reordered only where it saves work,
 * and bounded):
 *   1. Poll the backend for I/O.  It blocks until the next timer when
 *      nothing is ready; while work is ready it polls with a zero timeout
 *      only once the turn's budget is spent (core.h,
 *      CORIO__TURN_BUDGET), because a system call costs about 1 us here
 *      and asyncio's poll-per-iteration dominates a yield.  Every poll
 *      starts a turn with a fresh budget, which the poll's own work
 *      (transports' hooks, io_uring completions) draws on first; the
 *      batch gets at least a quarter of a turn whatever the poll ran.
 *   2. Move every timer that is due to the ready queue (FIFO for equal
 *      deadlines).
 *   3. Run the nodes that were ready when the batch started, each charged
 *      to the budget; whatever they schedule runs in the next iteration.
 *      This is asyncio's ordering, so programs ported from it print in the
 *      same order.  When the budget runs out mid-batch, the rest of the
 *      batch goes back to the head of the ready queue and runs first in
 *      the next turn, after a poll and the due timers: under any load the
 *      loop turns, so signals, accepts and timers keep their place.
 *   4. Run the flush list: writers send what this iteration queued (one
 *      send per connection per turn however many writes queued it).
 */
#include "core.h"
#include "switch.h"

#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

/* Iterations corio_loop_close gives cancelled tasks to finish. */
#define CLOSE_DRAIN_ITERATIONS 1000

CORIO__TLS corio_loop *corio__cur_loop;

enum { H_READY = 1, H_TIMER = 2, H_CANCELLED = 4, H_OWNED = 8 };

int64_t corio__mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CORIO__NS_PER_S + ts.tv_nsec;
}

int64_t corio__sec_to_ns(double s) {
    const double lim = 4.6e18; /* about 146 years either way: no overflow when added to a clock */
    double ns = s * 1e9;
    if (ns > lim) return (int64_t)lim;
    if (ns < -lim) return -(int64_t)lim;
    return (int64_t)ns;
}

int64_t corio__loop_now(corio_loop *loop) { return loop->virtual_clock ? loop->vnow : corio__mono_ns(); }

/*
 * The loop time `delay` seconds from now, in ns (delay not NaN).  The sum
 * saturates rather than wrapping: a virtual clock that jumped to a huge
 * deadline can be near the top of the range.  It stops one short of
 * INT64_MAX, which stands for "never" (corio__timer_next, corio_sleep(INFINITY)),
 * so that a clamped huge deadline still fires on a virtual clock.
 */
int64_t corio__loop_deadline(corio_loop *loop, double delay) {
    int64_t now = corio__loop_now(loop), d = corio__sec_to_ns(delay), when;
    if (__builtin_add_overflow(now, d, &when)) when = d > 0 ? INT64_MAX - 1 : INT64_MIN;
    if (when == INT64_MAX) when = INT64_MAX - 1;
    return when;
}

double corio_loop_time(corio_loop *loop) {
    if (!loop) return (double)corio__mono_ns() / 1e9;
    return (double)corio__loop_now(loop) / 1e9;
}

double corio_time(void) { return corio_loop_time(corio__cur_loop); }

corio_loop *corio_loop_current(void) { return corio__cur_loop; }

int corio_loop_is_running(const corio_loop *loop) { return loop && loop->running; }

corio_loop *corio_loop_new(void) {
    corio__debug_init();
    corio_loop *loop = corio__calloc(1, sizeof *loop);
    if (!loop) goto nomem;
    static uint64_t serials;
    loop->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
    corio__list_init(&loop->ready);
    corio__list_init(&loop->later);
    corio__list_init(&loop->tasks);
    corio__list_init(&loop->ring_flush);
    loop->budget = CORIO__TURN_BUDGET;
    pthread_mutex_init(&loop->ts_lock, NULL);
    loop->stacks = corio__stack_pool_new();
    if (!loop->stacks) goto nomem;
    if (corio__ctx_sched_init(loop) < 0) goto nomem;
    for (size_t i = 0; i < corio__nsubsystems; i++) {
        int (*init)(corio_loop *) = corio__subsystems[i].init;
        int rc = init ? init(loop) : 0;
        if (rc == 0) continue;
        while (i-- > 0)
            if (corio__subsystems[i].release) corio__subsystems[i].release(loop);
        int e = -rc;
        corio__ctx_sched_free(loop);
        corio__stack_pool_free(loop->stacks);
        corio__free(loop);
        errno = e;
        return NULL;
    }
    corio__stack_overflow_handler_install();
    const char *vc = getenv("CORIO_VIRTUAL_CLOCK");
    if (vc && *vc && strcmp(vc, "0") != 0) loop->virtual_clock = 1;
    const char *eager = getenv("CORIO_EAGER_TASKS"); /* every loop's spawns eager, as corio_loop_set_eager_tasks */
    if (eager && *eager && strcmp(eager, "0") != 0) loop->eager_tasks = 1;
    loop->debug = corio__debug_on;          /* debug mode, per loop (debug.c) */
    loop->slow_ns = CORIO__NS_PER_S / 10;   /* asyncio's slow_callback_duration, 0.1 s */
    return loop;
nomem:
    if (loop) {
        corio__ctx_sched_free(loop);
        corio__stack_pool_free(loop->stacks);
        corio__free(loop);
    }
    errno = ENOMEM;
    return NULL;
}

/* ---- handles ------------------------------------------------------------------ */

/* Library-owned handles (call_* with a NULL handle) come from slabs the
 * loop keeps until it closes, and go back to its free list once run or
 * cancelled.  A malloc and a free per timer were 355 of its 909
 * instructions (bench/corio_timers, callgrind): the earlier cache of 1,024
 * freed handles did not help a program with more timers than that pending
 * at once.  Each slab holds as many handles as all the earlier ones
 * together, from 64 up; once they hold a MiB, each new one is a 2 MiB huge
 * page of its own (corio__huge_alloc: 20,164 handles), so that a burst of
 * a million timers costs about 60 allocations and faults about 50 huge
 * pages rather than 26,000 small ones (bench/corio_timers 1000000: 25,975
 * minor faults and 1.07-1.46 us of CPU per timer before, on the shared
 * machine).  The loop keeps its peak's worth of handles (88 bytes each)
 * until it closes, as it keeps its stacks. */
#define HANDLE_SLAB_MIN 64
#define HANDLE_SLAB_HUGE_AFTER ((size_t)1 << 20) /* bytes of handles before slabs are huge pages */

typedef struct corio__handle_slab {
    struct corio__handle_slab *next;
    size_t huge_len; /* corio__huge_alloc's length, 0: corio__malloc */
    corio_handle h[];
} corio__handle_slab;

static void handle_run(corio__node *n);
static void handle_fire(corio__timer *t);

/* The fields a handle keeps through every reuse: its node's run, its
 * timer's fire, its loop; unlinked and unarmed. */
static inline void handle_init_fixed(corio_handle *h, corio_loop *loop) {
    corio__list_init(&h->node.link);
    h->node.run = handle_run;
    h->timer.index = SIZE_MAX;
    h->timer.fire = handle_fire;
    h->timer.when = 0;
    h->loop = loop;
}

/* Add a slab's handles to the free list: 0 or -ENOMEM. */
static __attribute__((noinline)) int handle_slab_new(corio_loop *loop) {
    size_t n = loop->nslab_handles < HANDLE_SLAB_MIN ? HANDLE_SLAB_MIN : loop->nslab_handles;
    corio__handle_slab *s;
    if (n * sizeof(corio_handle) >= HANDLE_SLAB_HUGE_AFTER) {
        n = (CORIO__HUGE_PAGE - sizeof *s) / sizeof(corio_handle);
        if (!(s = corio__huge_alloc(CORIO__HUGE_PAGE))) return -ENOMEM;
        s->huge_len = CORIO__HUGE_PAGE;
    } else {
        if (!(s = corio__malloc(sizeof *s + n * sizeof(corio_handle)))) return -ENOMEM;
        s->huge_len = 0;
    }
    s->next = loop->handle_slabs;
    loop->handle_slabs = s;
    loop->nslab_handles += n;
    /* What stays the same through every reuse is set once here. */
    for (size_t i = n; i-- > 0;) {
        corio_handle *h = &s->h[i];
        handle_init_fixed(h, loop);
        h->state = 0;
        h->cb = NULL;
        h->arg = loop->free_handles;
        loop->free_handles = h;
    }
    return 0;
}

static void handle_slabs_free(corio_loop *loop) {
    for (corio__handle_slab *s = loop->handle_slabs, *next; s; s = next) {
        next = s->next;
        corio__block_free(s, s->huge_len);
    }
    loop->handle_slabs = NULL;
    loop->free_handles = NULL;
    loop->nslab_handles = 0;
}

/* An owned handle goes back to the free list; its run, fire and loop fields stay set. */
static inline void handle_release(corio_loop *loop, corio_handle *h) {
    h->arg = loop->free_handles;
    loop->free_handles = h;
}

static void handle_run(corio__node *n) {
    corio_handle *h = corio__container_of(n, corio_handle, node);
    corio_loop *loop = h->loop;
    h->state &= ~(unsigned)H_READY;
    /* Read everything before the call: the callback may free or reuse a
     * handle its caller owns. */
    bool owned = h->state & H_OWNED;
    h->cb(h->arg);
    if (owned) handle_release(loop, h);
}

static void handle_fire(corio__timer *t) {
    corio_handle *h = corio__container_of(t, corio_handle, timer);
    h->state = (h->state & ~(unsigned)H_TIMER) | H_READY;
    corio__ready_push(h->loop, &h->node);
}

static corio_handle *handle_prepare(corio_loop *loop, corio_handle *h, corio_callback cb, void *arg,
                                    int *err) {
    if (!cb) {
        *err = corio__bad(-EINVAL, "call_soon/call_later/call_at: NULL callback");
        return NULL;
    }
    if (corio__unlikely(corio__cur_loop != loop) && loop->running) {
        /* asyncio's "Non-thread-safe operation invoked on an event loop
         * other than the current one" (it checks in debug mode; here it
         * would be a data race on the loop's queues, so always). */
        *err = corio__bad(-EPERM, "call_soon/call_later/call_at: the loop runs in another thread "
                                  "(use corio_loop_call_soon_threadsafe)");
        return NULL;
    }
    if (h) {
        if (h->state & (H_READY | H_TIMER)) {
            *err = corio__bad(-EINVAL, "call_soon/call_later/call_at: handle already scheduled");
            return NULL;
        }
        h->state = 0;
        handle_init_fixed(h, loop);
    } else {
        if (corio__unlikely(!loop->free_handles) && handle_slab_new(loop) < 0) {
            *err = -ENOMEM;
            return NULL;
        }
        /* A free handle is unlinked and unarmed, its fixed fields set (handle_slab_new). */
        h = loop->free_handles;
        loop->free_handles = h->arg;
        assert(h->node.link.next == &h->node.link && h->timer.index == SIZE_MAX && h->loop == loop);
        h->state = H_OWNED;
    }
    h->cb = cb;
    h->arg = arg;
    return h;
}

static void handle_discard(corio_handle *h) {
    if (h->state & H_OWNED) handle_release(h->loop, h);
}

int corio_loop_call_soon(corio_loop *loop, corio_handle *h, corio_callback cb, void *arg) {
    int err = 0;
    if (!loop) return corio__bad(-EINVAL, "call_soon: NULL loop");
    if (!(h = handle_prepare(loop, h, cb, arg, &err))) return err;
    h->state |= H_READY;
    corio__ready_push(loop, &h->node);
    return 0;
}

int corio_loop_call_at(corio_loop *loop, corio_handle *h, double when, corio_callback cb, void *arg) {
    int err = 0;
    if (!loop) return corio__bad(-EINVAL, "call_at: NULL loop");
    if (isnan(when) || isinf(when)) return corio__bad(-EINVAL, "call_at: the time must be finite");
    if (!(h = handle_prepare(loop, h, cb, arg, &err))) return err;
    if ((err = corio__timer_arm(loop, &h->timer, corio__sec_to_ns(when))) < 0) {
        handle_discard(h);
        return err;
    }
    h->state |= H_TIMER;
    return 0;
}

int corio_loop_call_later(corio_loop *loop, corio_handle *h, double delay, corio_callback cb, void *arg) {
    if (!loop) return corio__bad(-EINVAL, "call_later: NULL loop");
    if (isnan(delay) || isinf(delay)) return corio__bad(-EINVAL, "call_later: the delay must be finite");
    int err = 0;
    if (!(h = handle_prepare(loop, h, cb, arg, &err))) return err;
    if ((err = corio__timer_arm(loop, &h->timer, corio__loop_deadline(loop, delay))) < 0) {
        handle_discard(h);
        return err;
    }
    h->state |= H_TIMER;
    return 0;
}

static corio_loop *need_loop(void) { return corio__cur_loop; }

int corio_call_soon(corio_handle *h, corio_callback cb, void *arg) {
    corio_loop *loop = need_loop();
    if (!loop) return corio__bad(-EPERM, "corio_call_soon: no loop runs on this thread");
    return corio_loop_call_soon(loop, h, cb, arg);
}

int corio_call_later(corio_handle *h, double delay, corio_callback cb, void *arg) {
    corio_loop *loop = need_loop();
    if (!loop) return corio__bad(-EPERM, "corio_call_later: no loop runs on this thread");
    return corio_loop_call_later(loop, h, delay, cb, arg);
}

int corio_call_at(corio_handle *h, double when, corio_callback cb, void *arg) {
    corio_loop *loop = need_loop();
    if (!loop) return corio__bad(-EPERM, "corio_call_at: no loop runs on this thread");
    return corio_loop_call_at(loop, h, when, cb, arg);
}

int corio_handle_cancel(corio_handle *h) {
    if (!h) return -EINVAL;
    if (h->state & H_READY) {
        corio__ready_remove(h->loop, &h->node);
    } else if (h->state & H_TIMER) {
        corio__timer_disarm(h->loop, &h->timer);
    } else {
        return 0;
    }
    h->state = (h->state & ~(unsigned)(H_READY | H_TIMER)) | H_CANCELLED;
    handle_discard(h); /* owned handles are never given out, but stay tidy */
    return 1;
}

int corio_handle_cancelled(const corio_handle *h) { return h && (h->state & H_CANCELLED) ? 1 : 0; }

double corio_handle_when(const corio_handle *h) { return h ? (double)h->timer.when / 1e9 : 0.0; }

/* ---- posts from other threads ------------------------------------------------ */

struct corio__tsnode {
    corio__tsnode *next;
    corio_callback cb;
    void *arg;
    bool quiet; /* the library's own: close frees it without a report */
};

static int post(corio_loop *loop, corio_callback cb, void *arg, bool quiet) {
    if (!loop || !cb) return -EINVAL;
    if (loop == corio__cur_loop) {
        /* From the loop's own thread: straight to the ready queue, after
         * whatever other threads posted before, so that it keeps its place
         * among call_soon's as in asyncio (one ready queue for both). */
        if (corio__unlikely(atomic_load_explicit(&loop->ts_pending, memory_order_relaxed))) corio__loop_take_posts(loop);
        return corio_loop_call_soon(loop, NULL, cb, arg);
    }
    corio__tsnode *n = corio__malloc(sizeof *n);
    if (!n) return -ENOMEM;
    n->next = NULL;
    n->cb = cb;
    n->arg = arg;
    n->quiet = quiet;
    pthread_mutex_lock(&loop->ts_lock);
    bool first = loop->ts_head == NULL;
    if (loop->ts_tail)
        loop->ts_tail->next = n;
    else
        loop->ts_head = n;
    loop->ts_tail = n;
    atomic_store_explicit(&loop->ts_pending, 1, memory_order_relaxed);
    /* One wake-up per batch: later posts find the loop already woken.
     * Made before the lock goes: until then the loop cannot take this
     * post, so it cannot run it, stop, close and release its wake-up
     * descriptor while this thread still writes to it (TSan saw that race
     * in corio_http_cluster_stop, whose post stops the worker loop). */
    if (first) loop->poller->wakeup(loop);
    pthread_mutex_unlock(&loop->ts_lock);
    return 0;
}

int corio_loop_call_soon_threadsafe(corio_loop *loop, corio_callback cb, void *arg) { return post(loop, cb, arg, false); }

int corio__loop_post_quiet(corio_loop *loop, corio_callback cb, void *arg) { return post(loop, cb, arg, true); }

static void post_run(void *arg) {
    corio__tsnode *n = arg;
    corio_callback cb = n->cb;
    void *a = n->arg;
    corio__free(n);
    cb(a);
}

void corio__loop_take_posts(corio_loop *loop) {
    pthread_mutex_lock(&loop->ts_lock);
    corio__tsnode *n = loop->ts_head;
    loop->ts_head = loop->ts_tail = NULL;
    atomic_store_explicit(&loop->ts_pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&loop->ts_lock);
    while (n) {
        corio__tsnode *next = n->next;
        if (corio_loop_call_soon(loop, NULL, post_run, n) < 0) {
            /* No memory for a handle: run it now rather than lose it. */
            post_run(n);
        }
        n = next;
    }
}

/* The user's callback behind a ready node, for debug.c's report. */
corio_callback corio__node_handle_cb(corio__node *n) {
    if (n->run != handle_run) return NULL;
    corio_handle *h = corio__container_of(n, corio_handle, node);
    if (h->cb == post_run) return ((corio__tsnode *)h->arg)->cb;
    return h->cb;
}

/* ---- running -------------------------------------------------------------------- */

/* Run the nodes of `batch` in order, each charged to the turn's budget,
 * while it lasts (and at least `min` of them); when it is spent, what is
 * left goes back to the head of `back`, to run first in the next turn,
 * after a look at I/O and the timers. */
static void run_batch(corio_loop *loop, corio_list *batch, corio_list *back, int min) {
    while (!corio__list_empty(batch)) {
        if (corio__unlikely(loop->budget <= 0) && min-- <= 0) {
            corio__list_splice_front(back, batch);
            return;
        }
        loop->budget--;
        corio_list *first = batch->next;
        /* Ask for the next node while this one runs: a batch of many due
         * timers' handles (or woken tasks' records) outgrows the cache
         * between their firing and their turn here, and each was a miss
         * on reaching it (bench/corio_timers 1000000, perf: half of
         * run_once's samples). */
        __builtin_prefetch(first->next, 1);
        corio__list_remove(first);
        corio__node *node = corio__container_of(first, corio__node, link);
        /* Debug mode times every callback and task step; off, it
         * costs this one predictable branch. */
        if (corio__unlikely(loop->debug))
            corio__debug_run(loop, node);
        else
            node->run(node);
    }
}

/* However much the poll ran, the ready batch gets a quarter turn.  Only
 * after a poll: raised in every iteration, a budget below a quarter turn
 * never ran out while a few tasks kept yielding, and the loop never
 * polled again (two tasks yielding in a loop starved every descriptor). */
static inline void poll_floor(corio_loop *loop) {
    if (corio__unlikely(loop->budget < CORIO__TURN_BUDGET / 4)) loop->budget = CORIO__TURN_BUDGET / 4;
}

/*
 * A virtual clock with nothing to do for `wait` ns, until the next timer:
 * autojump, be there now.  But while other threads work for the loop
 * (clock_holds: executor jobs in flight, ...) their work takes real time,
 * so the clock runs in real time instead: the loop waits in the poll up to
 * the timer's deadline, and the clock moves on by the real time that
 * passed.  A timeout around a thread's job then expires only if the job
 * really takes that long, and timers due meanwhile fire as they would on
 * a real clock.  Returns the timeout for run_once's own poll (0).
 */
static __attribute__((noinline)) int64_t virtual_wait(corio_loop *loop, int64_t wait) {
    if (!loop->clock_holds) {
        loop->vnow += wait;
        return 0;
    }
    int64_t t0 = corio__mono_ns();
    loop->budget = CORIO__TURN_BUDGET;
    loop->poller->poll(loop, wait);
    int64_t spent = corio__mono_ns() - t0;
    loop->vnow += spent < wait ? spent : wait;
    return 0;
}

/* One iteration; see the top of the file. */
static void run_once(corio_loop *loop) {
    /* (Between iterations the batch is empty: what is ready is in these two.) */
    if (corio__list_empty(&loop->ready) && corio__list_empty(&loop->later) && !loop->stopping) {
        /* Nothing to run: block until I/O or the next timer. */
        int64_t timeout = -1;
        if (loop->ntimers && corio__timer_next(loop) != INT64_MAX) { /* INT64_MAX: "never" */
            int64_t next = corio__timer_next(loop), now = corio__loop_now(loop);
            timeout = next > now ? next - now : 0;
            if (loop->virtual_clock && timeout > 0) timeout = virtual_wait(loop, next - now);
        }
        loop->budget = CORIO__TURN_BUDGET;
        loop->poller->poll(loop, timeout);
        poll_floor(loop);
    } else if (loop->ring_unsubmitted || loop->budget <= 0) {
        /* Work is always ready: still look at I/O once a turn's worth of
         * it has run - and under io_uring, hand what this iteration queued
         * to the kernel.  The new turn's budget is given before the poll:
         * what the poll runs itself (transports' hooks, completions) is
         * the turn's work too. */
        loop->budget = CORIO__TURN_BUDGET;
        loop->poller->poll(loop, 0);
        poll_floor(loop);
    }
    loop->iterations++;
    /* Posts from other threads also come in while the loop is busy. */
    if (corio__unlikely(atomic_load_explicit(&loop->ts_pending, memory_order_relaxed))) corio__loop_take_posts(loop);

    /* The clock is read only when there are timers to compare it with. */
    if (loop->ntimers) {
        loop->now = corio__loop_now(loop);
        corio__timer_run_due(loop, loop->now);
    }

    /* The batch is moved to a list of its own, so that whatever runs in it
     * schedules into the next iteration, and a node of the batch cancelled
     * by an earlier one (corio__ready_remove unlinks it from the batch) lets
     * nothing of the next iteration slip in ahead of time.
     * asyncio counts ntodo instead and skips cancelled handles; the order
     * is the same.  What spent its step's budget last turn (`later`) runs
     * after what became ready since - timers, I/O, signals, newcomers - so
     * these wait for one turn, not for a round of every busy task; and at
     * least one of them runs each turn, so fresh work cannot starve them. */
    corio_list batch, greedy;
    corio__list_init(&batch);
    corio__list_init(&greedy);
    corio__list_splice_back(&batch, &loop->ready);
    corio__list_splice_back(&greedy, &loop->later);
    /* Tasks may hop along the batch (task.c); debug mode times every step
     * from here, so there they do not. */
    loop->batch = loop->debug ? NULL : &batch;
    loop->hold = !corio__list_empty(&greedy) || loop->stopping || loop->ring_unsubmitted ||
                 !corio__list_empty(&loop->ring_flush);
    run_batch(loop, &batch, &loop->ready, 0);
    loop->batch = NULL;
    if (corio__unlikely(!corio__list_empty(&greedy))) run_batch(loop, &greedy, &loop->later, 1);
    corio__loop_flush(loop);
}

/* corio__loop_turn_inline's look at the timers: none due at the
 * iteration's clock (read as run_once reads it). */
bool corio__loop_no_timer_due(corio_loop *loop) {
    loop->now = corio__loop_now(loop);
    return corio__timer_next(loop) > loop->now;
}

void corio__loop_flush(corio_loop *loop) {
    while (!corio__list_empty(&loop->ring_flush)) {
        corio__node *n = corio__container_of(loop->ring_flush.next, corio__node, link);
        corio__list_remove(&n->link);
        n->run(n);
    }
}

static void run_loop(corio_loop *loop) {
    corio_loop *prev = corio__cur_loop;
    corio__cur_loop = loop;
    loop->running = 1;
    loop->ran_once = 1;
#ifdef CORIO__TSAN
    loop->tsan_fiber = __tsan_get_current_fiber();
#endif
    for (;;) {
        run_once(loop);
        if (loop->stopping) break;
    }
    loop->stopping = 0;
    loop->running = 0;
    corio__cur_loop = prev;
}

static int enter_check(corio_loop *loop) {
    if (!loop) return corio__bad(-EINVAL, "run: NULL loop");
    if (loop->running) return corio__bad(-EBUSY, "run: this loop is already running");
    if (corio__cur_loop) return corio__bad(-EBUSY, "run: another loop is running on this thread");
    return 0;
}

int corio_loop_run_forever(corio_loop *loop) {
    int rc = enter_check(loop);
    if (rc < 0) return rc;
    run_loop(loop);
    return 0;
}

void corio_loop_stop(corio_loop *loop) {
    if (loop) loop->stopping = loop->hold = 1;
}

typedef struct until_node {
    corio__node node;
    corio_loop *loop;
} until_node;

static void until_done(corio__node *n) {
    until_node *u = corio__container_of(n, until_node, node);
    u->loop->stopping = u->loop->hold = 1;
}

int corio_loop_run_until_complete(corio_loop *loop, corio_future *f) {
    int rc = enter_check(loop);
    if (rc < 0) return rc;
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "run_until_complete: not a future");
    if (f->loop != loop) return corio__bad(-EXDEV, "run_until_complete: the future belongs to another loop");
    until_node u = {.loop = loop};
    u.node.run = until_done;
    corio__list_init(&u.node.link);
    /* Even a future that is already done gets one iteration, as in asyncio:
     * its stop node is then queued behind what was already scheduled. */
    corio__future_add_node(f, &u.node);
    run_loop(loop);
    /* Stopped early (corio_loop_stop): the node may still be registered on
     * f, or, if f completed in the last iteration, wait in the ready queue,
     * where it must be unlinked with the queue's count kept right. */
    if (corio_future_done(f))
        corio__ready_remove(loop, &u.node);
    else
        corio__list_remove(&u.node.link);
    if (!corio_future_done(f)) return -EINTR;
    return corio_future_result(f, NULL);
}

int corio_loop_hold_clock(corio_loop *loop, int hold) {
    if (!loop) return corio__bad(-EINVAL, "corio_loop_hold_clock: NULL loop");
    if (hold) {
        loop->clock_holds++;
    } else {
        if (loop->clock_holds == 0) return corio__bad(-EINVAL, "corio_loop_hold_clock: no hold to release");
        loop->clock_holds--;
    }
    return loop->clock_holds;
}

int corio_loop_use_virtual_clock(corio_loop *loop) {
    if (!loop) return -EINVAL;
    if (loop->ran_once || loop->running) return -EBUSY;
    loop->virtual_clock = 1;
    loop->vnow = 0;
    return 0;
}

/* ---- close -------------------------------------------------------------------- */

void corio__future_cb_free_node(corio__node *n); /* future.c */
bool corio__future_cb_is_node(corio__node *n);

/* asyncio's Task.__del__ of a task still pending: through the loop's
 * exception handler, with the task; the default handler's line keeps the
 * text close always logged. */
static void report_pending(corio_loop *loop, corio_task *t, const char *then) {
    corio_exception_context ctx = {.message = "Task was destroyed but it is pending!", .source = "task", .task = t,
                                   .future = &t->fut};
    corio__report(loop, &ctx, "loop closed with task '%s' still pending%s", corio_task_name(t), then);
}

int corio_loop_close(corio_loop *loop) {
    if (!loop) return -EINVAL;
    if (loop->running) return corio__bad(-EBUSY, "corio_loop_close: the loop is running (closing from inside)");
    int dirty = 0;
    bool drained = false; /* the pending tasks were reported (and cancelled) */
    /* Tasks still pending have nodes on their stacks linked into lists the
     * caller owns (a future's callbacks, a lock's waiters): freeing those
     * stacks as they are would leave the caller dangling pointers.  So, as
     * asyncio.run does at its end, cancel them and let them unwind, for a
     * bounded number of iterations; whatever still refuses to finish is
     * reported and abandoned below.  Not possible while another loop runs
     * on this thread. */
    if (loop->ntasks_live && !corio__cur_loop) {
        dirty = 1;
        corio__list_foreach(it, &loop->tasks) {
            corio_task *t = corio__container_of(it, corio_task, link);
            if (t->flags & CORIO__TF_FINISHED) continue;
            report_pending(loop, t, ": cancelling it");
            corio__task_cancel(t);
        }
        drained = true;
        corio__cur_loop = loop;
        loop->running = 1;
#ifdef CORIO__TSAN
        /* As run_loop: tasks switch back to this thread's fiber (NULL if the loop never ran). */
        loop->tsan_fiber = __tsan_get_current_fiber();
#endif
        /* Counted in iterations, not calls: tasks may start iterations
         * themselves (corio__loop_turn_inline), within a turn's budget. */
        uint64_t end = loop->iterations + CLOSE_DRAIN_ITERATIONS;
        while (loop->iterations < end && loop->ntasks_live) run_once(loop);
        loop->running = 0;
        loop->stopping = 0;
        corio__cur_loop = NULL;
    }
    /* Once the tasks have unwound, each subsystem stops handing work to
     * the loop, in the table's order (src/subsystems.c): operations still
     * in the io_uring ring are reaped, signal handlers removed (asyncio's
     * close does it), executor work for this loop dropped or waited for -
     * all before anything their results could reach is freed. */
    for (size_t i = 0; i < corio__nsubsystems; i++)
        if (corio__subsystems[i].unwound && corio__subsystems[i].unwound(loop)) dirty = 1;
    /* Scheduled callbacks: free the library's own, report the caller's.  Nodes
     * of tasks live on task stacks and go with them below. */
    corio__list_splice_back(&loop->ready, &loop->later);
    while (!corio__list_empty(&loop->ready)) {
        corio__node *n = corio__container_of(loop->ready.next, corio__node, link);
        corio__list_remove(&n->link);
        if (n->run == handle_run) {
            corio_handle *h = corio__container_of(n, corio_handle, node);
            h->state &= ~(unsigned)H_READY;
            dirty = 1;
            corio__log(CORIO_LOG_WARNING, "loop closed with a callback still scheduled");
            handle_discard(h);
        } else if (corio__future_cb_is_node(n)) {
            corio__future_cb_free_node(n);
        }
    }
    for (corio__timer *t; (t = corio__timer_any(loop));) {
        corio__timer_disarm(loop, t);
        if (t->fire == handle_fire) {
            corio_handle *h = corio__container_of(t, corio_handle, timer);
            h->state &= ~(unsigned)H_TIMER;
            dirty = 1;
            corio__log(CORIO_LOG_WARNING, "loop closed with a timer callback still scheduled (due in %.3f s)",
                       (double)(h->timer.when - corio__loop_now(loop)) / 1e9);
            handle_discard(h);
        }
    }
    if (loop->ntasks_live) {
        dirty = 1;
        corio__list_foreach(it, &loop->tasks) {
            corio_task *t = corio__container_of(it, corio_task, link);
            if (t->flags & CORIO__TF_FINISHED) continue;
            /* Reported once: a task cancelled above that would not finish
             * only has its abandonment logged. */
            if (drained)
                corio__log(CORIO_LOG_WARNING, "loop closed: task '%s' did not finish when cancelled; abandoned",
                           corio_task_name(t));
            else
                report_pending(loop, t, "");
            /* A suspended task's wake node sits on the callback list of the
             * future it awaits, which may be the caller's: unlink it, so that
             * nothing the caller keeps points into the record freed below.
             * (The ready queue was emptied above, so the node is either on
             * such a list or unlinked.) */
            corio__list_remove(&t->wake.link);
            /* Done-callbacks on the task itself will never run: free the
             * library's, unlink the rest. */
            while (!corio__list_empty(&t->fut.callbacks)) {
                corio__node *n = corio__container_of(t->fut.callbacks.next, corio__node, link);
                corio__list_remove(&n->link);
                if (corio__future_cb_is_node(n)) corio__future_cb_free_node(n);
            }
        }
    }
    corio__loop_free_tasks(loop);
    for (corio__tsnode *n = loop->ts_head, *next; n; n = next) {
        next = n->next;
        if (n->quiet) {
            corio__free(n);
            continue;
        }
        corio__log(CORIO_LOG_WARNING, "loop closed with a call_soon_threadsafe callback not run");
        dirty = 1;
        corio__free(n);
    }
    pthread_mutex_destroy(&loop->ts_lock);
    /* In reverse order; the poller goes last of them and before the stacks:
     * ring operations may still point into stacks. */
    for (size_t i = corio__nsubsystems; i-- > 0;)
        if (corio__subsystems[i].release) corio__subsystems[i].release(loop);
    handle_slabs_free(loop);
    corio__stack_pool_free(loop->stacks);
    corio__ctx_sched_free(loop);
    corio__timer_free(loop);
    corio__free(loop);
    return dirty ? -ENOTEMPTY : 0;
}

/* ---- asyncio.run -------------------------------------------------------------- */

/* asyncio.run's end (runner.c): cancel every task still alive and run
 * the loop until they have all finished. */
void corio__loop_finish_tasks(corio_loop *loop) {
    if (!loop->ntasks_live) return;
    corio__list_foreach(it, &loop->tasks) {
        corio_task *o2 = corio__container_of(it, corio_task, link);
        if (!(o2->flags & CORIO__TF_FINISHED)) {
            o2->flags |= CORIO__TF_SHUTDOWN;
            corio_cancel(o2);
        }
    }
    corio__cur_loop = loop;
    loop->running = 1;
    while (loop->ntasks_live) run_once(loop);
    loop->running = 0;
    corio__cur_loop = NULL;
}
