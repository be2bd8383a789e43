/*
 * task.c - tasks: spawn, run, suspend, cancel, join, sleep.
 *
 * The scheduler runs on the thread's own stack (inside corio_loop_run_*);
 * a task runs on its own stack from the pool and switches back to the
 * scheduler whenever it waits.  A task suspended in an await has its wake
 * node on the awaited future's callback list; completing the future moves
 * the node to the ready queue and the loop switches back into the task.
 *
 * Cancellation follows asyncio's Task exactly (tasks.py, 3.13): cancel()
 * cancels the future the task waits on (`waiting_on`, asyncio's
 * _fut_waiter) if it can, else sets `must_cancel`, which the next resume
 * turns into -ECANCELED.  A task parked on a descriptor or a ring
 * operation (corio__park: no future, for speed) has its wait cancelled the
 * same way: `park_cancelled` stands for the cancelled future, which uncancel
 * does not undo.  Cancel requests are counted for timeout scopes
 * and task groups (cancelling / uncancel).
 */
#include "core.h"
#include "hop.h"
#include "switch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Default names Task-1, Task-2, ...: asyncio's process-wide counter, which
 * only unnamed tasks advance.  Atomic because loops may run in several
 * threads at once. */
static uint64_t task_counter;
/* Default-name numbers are taken from the process-wide counter in blocks, so
 * a spawn costs no atomic instruction: one thread's unnamed tasks are still
 * numbered 1, 2, 3, ... in spawn order; with several threads the numbers
 * stay unique but interleave by blocks. */
#define ID_BLOCK 256
static CORIO__TLS uint64_t id_next, id_end;

static uint64_t next_task_id(void) {
    if (corio__unlikely(id_next == id_end)) {
        id_next = __atomic_fetch_add(&task_counter, ID_BLOCK, __ATOMIC_RELAXED) + 1;
        id_end = id_next + ID_BLOCK;
    }
    return id_next++;
}

int64_t corio__loop_deadline(corio_loop *loop, double delay); /* loop.c */

/* ---- records -------------------------------------------------------------------- */

/*
 * A task's record lives at the top of its own stack, just below the
 * stack's descriptor (core.h): no allocation of its own, and the page the
 * task's first frames touch holds it, so a million idle tasks fault a
 * million pages, not 1.09 million.  The price: the stack stays with the
 * record, so a finished task that is still referenced (not yet joined or
 * detached) keeps its stack - the pages it touched, typically one or two -
 * until its last reference goes; then stack and record go back to the
 * loop's cache together.
 */
#define TASK_ROOM ((sizeof(corio_task) + 63) / 64 * 64)
_Static_assert(sizeof(corio__stack) <= CORIO__STACK_DESC_ROOM, "stack descriptor room");

static inline corio__stack *task_home(corio_task *t) { return (corio__stack *)(void *)((char *)t + TASK_ROOM); }

/* task_free_record's rare parts: a name on the heap, a cancel message. */
__attribute__((noinline, cold)) static void task_free_extras(corio_task *t) {
    corio__free(t->name_heap);
    t->name_heap = NULL;
    corio__msg_unref(t->cancel_msg);
    t->cancel_msg = NULL;
}

static inline __attribute__((always_inline)) void task_free_record(corio_task *t) {
    corio_loop *loop = t->loop;
    /* An error nobody read is reported here (asyncio's "Task
     * exception was never retrieved"); one predictable branch per record. */
    if (corio__unlikely(t->fut.err) && !(t->flags & CORIO__TF_RETRIEVED)) corio__debug_task_freed(t, false);
    corio__list_remove(&t->link);
    /* One test for both, and their calls out of line, so that this stays
     * small enough to be inlined where a task retires (14 instructions a
     * spawn+join when the message's test made it a call). */
    if (corio__unlikely(((uintptr_t)t->name_heap | (uintptr_t)t->cancel_msg) != 0)) task_free_extras(t);
    t->fut.magic = 0; /* a stale pointer now fails corio__future_valid */
    corio__stack_give(loop->stacks, task_home(t));
}

/* Inlined where a task retires (task_main's hop, the scheduler): out of
 * line there, its call cost 3 instructions a spawn+join. */
static inline __attribute__((always_inline)) void task_release(corio_task *t) {
    assert(t->refs > 0);
    if (--t->refs == 0) task_free_record(t);
}

void corio__task_release(corio_task *t) { task_release(t); }

void corio__loop_free_tasks(corio_loop *loop) {
    while (!corio__list_empty(&loop->tasks)) {
        corio_task *t = corio__container_of(loop->tasks.next, corio_task, link);
        corio__debug_task_freed(t, true); /* debug mode: unretrieved errors, unjoined tasks */
#ifdef CORIO__TSAN
        if (t->tsan_fiber) __tsan_destroy_fiber(t->tsan_fiber);
#endif
        corio__list_remove(&t->link);
        corio__free(t->name_heap);
        corio__msg_unref(t->cancel_msg);
        corio__ctx_drop(t); /* a task that never finished still holds its context */
        /* The record is in its stack, unmapped with the loop's stacks. */
    }
}

/* ---- running ---------------------------------------------------------------------- */

/* Bookkeeping once a task's function has returned and it left its stack for good. */
static inline __attribute__((always_inline)) void task_retire(corio_task *t) {
    t->stack = NULL; /* given back with the record (task_free_record) */
    /* Its context goes now, not with the record: a finished task that is
     * never joined must not keep the values it saw alive. */
    if (corio__unlikely(t->ctx != NULL)) corio__ctx_drop(t);
#ifdef CORIO__TSAN
    __tsan_destroy_fiber(t->tsan_fiber);
    t->tsan_fiber = NULL;
#endif
    task_release(t); /* the running reference */
}

void corio__task_wake(corio__node *n) {
    corio_task *t = corio__container_of(n, corio_task, wake);
    corio_loop *loop = t->loop;
    corio__step_start(loop, t);
    corio__switch_to_task(loop, t);
    /* Back from t, or from a task it hopped to (below), or one after that. */
    corio_task *last = loop->current;
    loop->current = NULL;
    if (last->flags & CORIO__TF_FINISHED) task_retire(last);
}

/* corio__hop_turn when timers are armed: only if none is due.  Out of
 * line, so that the hop's common path makes no call: a call there made
 * every task that blocks keep the loop and the node in callee-saved
 * registers, saved and restored at each wait. */
__attribute__((noinline)) corio_task *corio__hop_turn_timed(corio_loop *loop, corio_list *first, bool start) {
    if (!corio__loop_no_timer_due(loop)) return NULL;
    return corio__hop_turn(loop, first, start);
}

static void task_main(void *arg) {
    corio_task *t = arg;
    corio_loop *loop = t->loop;
    corio__switch_first_entry(loop);
    t->flags |= CORIO__TF_STARTED;
    int r;
    if (t->must_cancel) {
        /* Cancelled before it started: the body never runs (asyncio). */
        t->must_cancel = false;
        r = -ECANCELED;
    } else {
        r = t->fn(t->arg);
    }
    if (r >= 0 && t->must_cancel) {
        /* Cancelled right before it returned: asyncio counts it cancelled. */
        t->must_cancel = false;
        r = -ECANCELED;
    }
    t->flags |= CORIO__TF_FINISHED;
    loop->ntasks_live--;
    /* An error is retrieved by whoever listens now (a joiner, a
     * gather/wait/as_completed entry, a task group, a done-callback). */
    if (r < 0 && !corio__list_empty(&t->fut.callbacks)) t->flags |= CORIO__TF_RETRIEVED;
    /* Cancelled: state CANCELLED with err -ECANCELED, which is r. */
    corio__future_complete_inline(&t->fut, r == -ECANCELED ? CORIO__CANCELLED : CORIO__DONE, r < 0 ? r : 0,
                                  r < 0 ? 0 : (t->flags & CORIO__TF_VALUE) ? t->value : r);
#ifndef CORIO__TSAN /* TSan cannot destroy the fiber it runs on: there the scheduler retires the task */
    corio_task *next = corio__hop_next(loop, false);
    if (next) {
        assert(next != t);
        /* The task retires itself and hops: giving its stack back to the
         * pool is bookkeeping only, and nothing takes a stack before the
         * switch has left this one. */
        task_retire(t);
        corio__step_start(loop, next);
        corio__switch_exit_to_task(loop, t, next);
    }
#endif
    corio__switch_to_sched(loop, t, true);
    abort(); /* a finished task is never resumed */
}

/*
 * Eager tasks (asyncio 3.12's eager_task_factory): a spawn made while the
 * loop runs takes the new task's first step at once, before the spawn
 * returns, instead of queueing it.  The spawner - a task, or a callback on
 * the scheduler's stack - stands in for the scheduler meanwhile: hops are
 * off (no batch), so when the new task blocks, or finishes without
 * blocking, its switch to the scheduler comes back here, and the spawner
 * goes on as it was (current task, step floor, batch).  A task that
 * finished in its eager step was never queued: it is done when the spawn
 * returns.  Only the spawn's order changes; everything after the first
 * step is scheduled as usual.
 */
static __attribute__((noinline, cold)) void eager_step(corio_loop *loop, corio_task *t) {
    corio_task *prev = loop->current;
    int floor = loop->step_floor;
    corio_list *batch = loop->batch;
    loop->batch = NULL;
    /* Never queued: its wake node is unlinked, as after a pop. */
    corio__list_init(&t->wake.link);
    corio__step_start(loop, t);
    if (prev)
        corio__switch_eager(loop, prev, t);
    else
        corio__switch_to_task(loop, t);
    loop->batch = batch;
    loop->current = prev;
    loop->step_floor = floor;
    if (t->flags & CORIO__TF_FINISHED) task_retire(t);
}

static inline bool eager_wanted(const corio_loop *loop, const corio_task_opts *opts) {
    int want = opts && opts->eager ? opts->eager > 0 : loop->eager_tasks;
    return want && loop->running && corio__cur_loop == loop;
}

int corio_loop_set_eager_tasks(corio_loop *loop, int on) {
    if (!loop) return corio__bad(-EINVAL, "corio_loop_set_eager_tasks: NULL loop");
    loop->eager_tasks = on != 0;
    return 0;
}

int corio_loop_eager_tasks(const corio_loop *loop) { return loop && loop->eager_tasks; }

/* The spawn itself, inlined into each entry point (a spawn+join is a few
 * hundred instructions: a call between the entry points was 9 of them).
 * `from` is the loop running on this thread (NULL: none): the new task
 * copies the context of its current task, or the thread's when no task
 * runs (a callback, code outside the loop). */
static inline __attribute__((always_inline)) corio_task *spawn_task(corio_loop *loop, corio_task_fn fn, void *arg,
                                                                     const corio_task_opts *opts, const corio_loop *from,
                                                                     bool eager) {
    corio__stack *st = corio__stack_take(loop->stacks, opts ? opts->stack_size : 0);
    if (!st) {
        errno = ENOMEM;
        return NULL;
    }
    corio_task *t = (corio_task *)(void *)((char *)st - TASK_ROOM);
    t->stack = st;
    memset(&t->waiting_on, 0, offsetof(corio_task, park_cancelled) + sizeof t->park_cancelled - offsetof(corio_task, waiting_on));
    t->name[0] = 0;
    t->id = 0;
    if (opts && opts->name) {
        /* An empty name goes to the heap too: name[0] == 0 means "the default". */
        size_t len = strlen(opts->name);
        if (len > 0 && len < sizeof t->name) {
            memcpy(t->name, opts->name, len + 1);
        } else if (!(t->name_heap = corio__malloc(len + 1))) {
            corio__stack_give(loop->stacks, st);
            errno = ENOMEM;
            return NULL;
        } else {
            memcpy(t->name_heap, opts->name, len + 1);
        }
    }
    corio__future_init(&t->fut, loop);
    t->fut.kind = CORIO__FK_TASK;
    t->loop = loop;
    t->fn = fn;
    t->arg = arg;
    /* The context (context.c): a copy of the spawner's is its list's head
     * and one reference - one load and one test when it has set nothing
     * (bench/corio_spawn, callgrind: a spawn+join 408.1 -> 417.1
     * instructions, 7 here and 2 at retire).  No path here may make a
     * call: one made the spawn keep st and t in callee-saved registers, 4
     * instructions more.  After the name: its failure returns with
     * nothing to undo. */
    if (corio__unlikely(opts && opts->context)) {
        opts->context->refs++;
        t->ctx = (corio__cnode *)((uintptr_t)opts->context | CORIO__CTX_SHARED);
    } else if (corio__likely(from != NULL && from->current != NULL)) {
        corio__cnode *c = from->current->ctx;
        if (corio__unlikely(c != NULL)) c = corio__ctx_inherit(c);
        t->ctx = c;
    } else {
        t->ctx = corio__cnode_ref(corio__ctx_thread_head());
    }
    corio__list_init(&t->group_link);
    if (!(opts && opts->name)) t->id = next_task_id();
    t->created_ns = loop->now;
    t->created_iter = loop->iterations; /* the task dump's age */
    t->refs = 2; /* the caller's and the running one */
    t->crefs = 1;
#ifdef CORIO__TSAN
    t->tsan_fiber = __tsan_create_fiber(0);
#endif
    t->sp = corio__ctx_make(st->lo, (size_t)((char *)t - (char *)st->lo), task_main, t);
    t->wake.run = corio__task_wake;
    corio__list_push_back(&loop->tasks, &t->link);
    loop->ntasks_live++;
    if (corio__unlikely(eager))
        eager_step(loop, t);
    else
        corio__ready_push(loop, &t->wake);
    return t;
}

/* Every spawn the fast path below does not take: options, an eager step,
 * an empty stack cache. */
static __attribute__((noinline)) corio_task *spawn_slow(corio_loop *loop, corio_task_fn fn, void *arg,
                                                        const corio_task_opts *opts, const corio_loop *from) {
    return spawn_task(loop, fn, arg, opts, from, eager_wanted(loop, opts));
}

/* The common spawn (no options, not eager, a stack in the cache) makes no
 * call, so it needs none of the callee-saved registers the calls of the
 * others would make it save and restore: everything else goes to
 * spawn_slow, tested for before anything is written (bench/corio_spawn,
 * callgrind: a spawn+join 403.1 -> 393.1 instructions). */
static inline __attribute__((always_inline)) corio_task *spawn_on(corio_loop *loop, corio_task_fn fn, void *arg,
                                                                 const corio_task_opts *opts, const corio_loop *from) {
    const corio__stack_cache *c = (const corio__stack_cache *)(const void *)loop->stacks;
    if (corio__unlikely(opts != NULL || c->free == NULL || eager_wanted(loop, NULL)))
        return spawn_slow(loop, fn, arg, opts, from);
    return spawn_task(loop, fn, arg, NULL, from, false);
}

static corio_task *spawn_refused(const corio_loop *loop, bool current) {
    if (!loop && current) {
        errno = EPERM;
        corio__bad(0, "corio_spawn: no loop runs on this thread (use corio_loop_spawn)");
    } else {
        errno = EINVAL;
        corio__bad(0, "corio_spawn: NULL %s", loop ? "function" : "loop");
    }
    return NULL;
}

corio_task *corio_loop_spawn(corio_loop *loop, corio_task_fn fn, void *arg, const corio_task_opts *opts) {
    if (corio__unlikely(!loop || !fn)) return spawn_refused(loop, false);
    return spawn_on(loop, fn, arg, opts, corio__cur_loop);
}

corio_task *corio_spawn_opts(corio_task_fn fn, void *arg, const corio_task_opts *opts) {
    corio_loop *loop = corio__cur_loop;
    if (corio__unlikely(!loop || !fn)) return spawn_refused(loop, true);
    return spawn_on(loop, fn, arg, opts, loop);
}

corio_task *corio_spawn(corio_task_fn fn, void *arg) {
    corio_loop *loop = corio__cur_loop;
    if (corio__unlikely(!loop || !fn)) return spawn_refused(loop, true);
    return spawn_on(loop, fn, arg, NULL, loop);
}

intptr_t corio_call_on_loop_stack(intptr_t (*fn)(void *arg), void *arg) {
#if defined(CORIO__SWITCH_UCONTEXT) || defined(CORIO__ASAN) || defined(CORIO__TSAN)
    /* ucontext: sched_sp is a ucontext, not a stack pointer.  The
     * sanitizers would need every stack change announced. */
    return fn(arg);
#else
    corio_loop *loop = corio__cur_loop;
    /* A task runs: the scheduler is suspended in its switch, its frame at
     * sched_sp, and everything below that is free until the task
     * suspends, which fn does not do.  (During an eager step the frame is
     * the spawning task's, suspended in corio__switch_eager: the room
     * below it is as free.)  sched_sp is NULL while a call is there
     * already: a nested one runs in place. */
    if (!loop || !loop->current || !loop->sched_sp) return fn(arg);
    return corio__call_on_stack(&loop->sched_sp, fn, arg);
#endif
}

/* ---- suspending ------------------------------------------------------------------- */

/* task_suspend and await_tag are inlined into this file's joins whatever
 * the optimisation level (as are corio__task_block_on, spawn_on and
 * task_free_record): at -O2, the default build (RelWithDebInfo), gcc
 * called corio__await_tag from corio_join_value, corio__suspend and the
 * block from it, and task_free_record, each call saving and restoring
 * registers, and each return after the switch mispredicted (hop.h).  bench/corio_spawn, callgrind, -O2: a spawn + join
 * 418.1 -> 386.1 instructions, what -O3 gave already (386.1 -> 387.1).
 * corio_sleep keeps its call: inlined there, the sleeper cost 24 more. */
static inline __attribute__((always_inline)) int task_suspend(corio_task *t) {
    corio__task_block(t);
    if (corio__unlikely(t->must_cancel)) {
        t->must_cancel = false;
        return -ECANCELED;
    }
    return 0;
}

int corio__suspend(corio_task *t) { return task_suspend(t); }

int corio__park(corio_task *t) { return corio__park_inline(t); }

static inline __attribute__((always_inline)) int await_tag(corio_task *t, corio_future *f, const char *tag, int64_t arg) {
    if (corio__unlikely(f->loop != t->loop))
        return corio__bad(-EXDEV, "await: the future belongs to another loop");
    if (corio__unlikely(f == &t->fut)) return corio__bad(-EDEADLK, "await: a task cannot await itself");
    if (f->state != CORIO__PENDING) {
        /* An await of a finished task reads its outcome (one that
         * waits is told by task_main, as every listener is). */
        if (corio__unlikely(f->err)) corio__future_seen(f);
    } else {
        corio__list_push_back(&f->callbacks, &t->wake.link);
        t->waiting_on = f;
        t->wait_tag = tag; /* for the task dump */
        t->wait_arg = arg;
        /* A pending cancel cancels f with its message (asyncio's
         * __step: fut_waiter.cancel(msg=self._cancel_message)). */
        if (t->must_cancel && corio__future_cancel_msg(f, t->cancel_msg) > 0) t->must_cancel = false;
        int rc = task_suspend(t);
        t->waiting_on = NULL;
        if (rc < 0) {
            /* Resumed with a cancellation pending: if we were woken some other
             * way than by f completing, stop listening to f. */
            if (t->wake.link.next != &t->wake.link) corio__list_remove(&t->wake.link);
            return rc;
        }
    }
    if (corio__unlikely(f->state == CORIO__CANCELLED)) {
        /* Awaiting a cancelled task raises its CancelledError here: its
         * message becomes the awaiting task's (asyncio). */
        corio__task_msg_from(t, f);
        return -ECANCELED;
    }
    return f->err;
}

int corio__await_tag(corio_task *t, corio_future *f, const char *tag, int64_t arg) { return await_tag(t, f, tag, arg); }

int corio_yield(void) {
    /* The loop as found, not read again from t: a load fewer per yield
     * (bench/corio_switch yield, callgrind: 86.0 -> 84.0 instructions). */
    corio_loop *loop = corio__cur_loop;
    corio_task *t = loop ? loop->current : NULL;
    if (!t) return corio__bad(-EPERM, "corio_yield: called outside a task");
    corio__ready_push(loop, &t->wake);
    corio__task_block_on(loop, t);
    if (corio__unlikely(t->must_cancel)) {
        t->must_cancel = false;
        return -ECANCELED;
    }
    return 0;
}

/* A yield forced by the budget (core.h): the task goes to the loop's
 * `later` queue, behind whatever becomes ready before the next turn. */
int corio__yield_later(corio_task *t) {
    corio_loop *loop = t->loop;
    corio__list_push_back(&loop->later, &t->wake.link);
    loop->hold = 1; /* the iteration ends in run_once, which runs `later` */
    return corio__suspend(t);
}

/* asyncio.sleep: a future completed by a timer, all on the task's stack. */
typedef struct sleeper {
    corio_future fut;
    corio__timer timer;  /* due: puts `due` in the ready queue */
    corio__node due;     /* runs in the ready batch: completes fut */
    corio_loop *loop;
} sleeper;

static void sleep_due(corio__node *n) {
    sleeper *s = corio__container_of(n, sleeper, due);
    if (s->fut.state == CORIO__PENDING) corio__future_complete(&s->fut, CORIO__DONE, 0, 0);
}

static void sleep_fire(corio__timer *tm) {
    sleeper *s = corio__container_of(tm, sleeper, timer);
    corio__ready_push(s->loop, &s->due);
}

int corio_sleep(double seconds) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_sleep: called outside a task");
    if (isnan(seconds)) return corio__bad(-EINVAL, "corio_sleep: NaN seconds");
    if (seconds <= 0) return corio_yield();
    corio_loop *loop = t->loop;
    sleeper s;
    corio__future_init(&s.fut, loop);
    s.loop = loop;
    s.timer.index = SIZE_MAX;
    s.timer.fire = sleep_fire;
    s.due.run = sleep_due;
    corio__list_init(&s.due.link);
    /* An infinite sleep arms no timer: only a cancellation ends it.  (A
     * timer at the end of time would fire on a virtual clock, which jumps
     * to the next deadline whatever it is.) */
    if (!isinf(seconds)) {
        int rc = corio__timer_arm(loop, &s.timer, corio__loop_deadline(loop, seconds));
        if (rc < 0) return rc;
    }
    int rc = corio__await_tag(t, &s.fut, CORIO__WAIT_SLEEP, isinf(seconds) ? INT64_MAX : s.timer.when);
    corio__timer_disarm(loop, &s.timer);
    corio__ready_remove(loop, &s.due);
    return rc;
}

/* ---- cancellation --------------------------------------------------------------------- */

/* Out of line, as corio__future_seen: inlined where f is known to be a
 * plain future (a sleep's), the cast draws -Warray-bounds at -O3. */
__attribute__((noinline, cold)) void corio__task_msg_from(corio_task *t, const corio_future *f) {
    if (f->kind == CORIO__FK_TASK && f != &t->fut)
        corio__task_set_msg(t, ((const corio_task *)f)->cancel_msg);
    else if (f->magic == CORIO__FUTURE_MAGIC_OWNED)
        corio__task_set_msg(t, corio__future_kept_msg(f)); /* NULL: cancelled without one */
}

void corio__task_set_msg(corio_task *t, const corio__msg *msg) {
    if (t->cancel_msg == msg) return;
    corio__msg_unref(t->cancel_msg);
    t->cancel_msg = corio__msg_ref(msg);
}

int corio__task_cancel(corio_task *t) { return corio__task_cancel_msg(t, NULL); }

/*
 * The message follows asyncio's Task.cancel(msg): it goes with the
 * cancellation of the awaited future, and it is the task's own
 * _cancel_message only when no such future could be cancelled.  A second
 * cancel while the awaited future is already cancelled (or the park is)
 * leaves the first message, which is the one the task will see; before
 * the task starts, or while it is ready to run, the last cancel's message
 * wins.
 */
int corio__task_cancel_msg(corio_task *t, const corio__msg *msg) {
    if (t->fut.state != CORIO__PENDING) return 0;
    t->num_cancels++;
    if (t->waiting_on && corio__future_cancel_msg(t->waiting_on, msg) > 0) {
        corio__task_set_msg(t, msg);
        return 1;
    }
    if (!(t->waiting_on && t->waiting_on->state == CORIO__CANCELLED) && !t->park_cancelled)
        corio__task_set_msg(t, msg);
    if (t->parked && !t->park_cancelled && t->wake.link.next == &t->wake.link) {
        /* Not woken yet: cancel the wait itself, as asyncio cancels a
         * pending _fut_waiter - a later uncancel does not undo it.  The
         * task resumes with -ECANCELED.  (Woken already, it is like a done
         * future: must_cancel below.) */
        t->park_cancelled = true;
        corio__unpark(t->loop, t);
        return 1;
    }
    t->must_cancel = true;
    return 1;
}

static bool task_ok(const corio_task *t) { return t && t->fut.magic == CORIO__FUTURE_MAGIC && t->fut.kind == CORIO__FK_TASK; }

int corio_cancel(corio_task *t) {
    if (!task_ok(t)) return corio__bad(-EINVAL, "corio_cancel: not a task");
    return corio__task_cancel(t);
}

int corio_cancel_msg(corio_task *t, const char *msg) {
    if (!task_ok(t)) return corio__bad(-EINVAL, "corio_cancel_msg: not a task");
    if (t->fut.state != CORIO__PENDING) return 0;
    corio__msg *m = corio__msg_new(msg);
    if (msg && !m) return -ENOMEM;
    int rc = corio__task_cancel_msg(t, m);
    corio__msg_unref(m);
    return rc;
}

const char *corio_task_cancel_message(const corio_task *t) {
    return task_ok(t) && t->cancel_msg ? t->cancel_msg->text : NULL;
}

int corio_task_cancelling(const corio_task *t) { return task_ok(t) ? t->num_cancels : -EINVAL; }

int corio_task_uncancel(corio_task *t) {
    if (!task_ok(t)) return -EINVAL;
    if (t->num_cancels > 0) {
        t->num_cancels--;
        if (t->num_cancels == 0) t->must_cancel = false;
    }
    return t->num_cancels;
}

/* ---- joining and references -------------------------------------------------------------- */

int corio_join_value(corio_task *t, intptr_t *value) {
    corio_task *me = corio__current();
    if (!task_ok(t)) return corio__bad(-EINVAL, "corio_join: not a task (already joined and freed?)");
    /* Self first: a task joining itself is a deadlock whoever holds the
     * references (asyncio: "Task cannot await on itself"). */
    if (me == t) return corio__bad(-EDEADLK, "corio_join: a task cannot join itself");
    if (t->crefs <= 0) return corio__bad(-EINVAL, "corio_join: task '%s' joined twice", corio_task_name(t));
    if (!me) return corio__bad(-EPERM, "corio_join: called outside a task");
    if (t->loop != me->loop) return corio__bad(-EXDEV, "corio_join: the task belongs to another loop");
    t->crefs--; /* claimed now, so that a second joiner is refused while we wait */
    int rc = await_tag(me, &t->fut, CORIO__WAIT_JOIN, 0);
    if (rc == 0 && value) *value = t->fut.value;
    if (rc == 0) rc = (t->flags & CORIO__TF_VALUE) ? 0 : (int)t->fut.value;
    task_release(t);
    return rc;
}

int corio_join(corio_task *t) { return corio_join_value(t, NULL); }

int corio_task_detach(corio_task *t) {
    if (!task_ok(t)) return corio__bad(-EINVAL, "corio_task_detach: not a task");
    if (t->crefs <= 0) return corio__bad(-EINVAL, "corio_task_detach: no reference left to give up");
    t->crefs--;
    corio__task_release(t);
    return 0;
}

int corio_task_ref(corio_task *t) {
    if (!task_ok(t)) return corio__bad(-EINVAL, "corio_task_ref: not a task");
    t->refs++;
    t->crefs++;
    return 0;
}

/* ---- queries ------------------------------------------------------------------------------ */

int corio_task_done(const corio_task *t) { return task_ok(t) && t->fut.state != CORIO__PENDING; }

int corio_task_cancelled(const corio_task *t) { return task_ok(t) && t->fut.state == CORIO__CANCELLED; }

int corio_task_result(const corio_task *t) {
    if (!task_ok(t)) return -EINVAL;
    intptr_t v = 0;
    int rc = corio_future_result(&t->fut, &v);
    return rc < 0 ? rc : (t->flags & CORIO__TF_VALUE) ? 0 : (int)v;
}

int corio_task_value(const corio_task *t, intptr_t *value) {
    if (!task_ok(t) || !value) return corio__bad(-EINVAL, "corio_task_value: not a task, or NULL value");
    return corio_future_result(&t->fut, value);
}

int corio_task_set_value(intptr_t value) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_task_set_value: called outside a task");
    t->value = value;
    t->flags |= CORIO__TF_VALUE;
    return 0;
}

corio_future *corio_task_future(corio_task *t) { return t ? &t->fut : NULL; }

corio_task *corio_future_task(corio_future *f) {
    return f && f->magic == CORIO__FUTURE_MAGIC && f->kind == CORIO__FK_TASK ? (corio_task *)f : NULL;
}

const char *corio_task_name(corio_task *t) {
    if (!task_ok(t)) return "";
    if (t->name_heap) return t->name_heap;
    if (!t->name[0]) snprintf(t->name, sizeof t->name, "Task-%llu", (unsigned long long)t->id);
    return t->name;
}

int corio_task_set_name(corio_task *t, const char *name) {
    if (!task_ok(t) || !name) return corio__bad(-EINVAL, "corio_task_set_name: bad arguments");
    size_t len = strlen(name);
    if (len > 0 && len < sizeof t->name) { /* "" goes to the heap: see corio_loop_spawn */
        corio__free(t->name_heap);
        t->name_heap = NULL;
        memcpy(t->name, name, len + 1);
        return 0;
    }
    char *p = corio__malloc(len + 1);
    if (!p) return -ENOMEM;
    memcpy(p, name, len + 1);
    corio__free(t->name_heap);
    t->name_heap = p;
    return 0;
}

corio_task *corio_current_task(void) { return corio__current(); }

__attribute__((noinline)) void corio__future_seen(const corio_future *f) { /* debug mode: "exception was never retrieved" */
    /* f is never really const: task records are the library's. */
    if (f->kind == CORIO__FK_TASK) ((corio_task *)(uintptr_t)f)->flags |= CORIO__TF_RETRIEVED;
}

corio_task *corio__node_task(corio__node *n) { /* debug.c's slow-step report */
    return n->run == corio__task_wake ? corio__container_of(n, corio_task, wake) : NULL;
}

size_t corio_all_tasks(corio_task **out, size_t cap) {
    corio_loop *loop = corio__cur_loop;
    if (!loop) return 0;
    size_t n = 0;
    corio__list_foreach(it, &loop->tasks) {
        corio_task *t = corio__container_of(it, corio_task, link);
        if (t->flags & CORIO__TF_FINISHED) continue;
        if (out && n < cap) out[n] = t;
        n++;
    }
    return n;
}
