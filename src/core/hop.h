/*
 * hop.h - how a task that blocks hands the thread to the next one (task.c
 * and the waits that park a task without a future: queue.c, the
 * descriptor and ring waits of src/backend).
 *
 * Inline in every caller, so that the call that blocks is the only one
 * between the API function a program called and the switch.  Each call
 * level there costs a mispredicted return once the task resumes: the
 * processor's return-address stack was filled by the task that ran in
 * between (a spawn + join, whose wait went through three calls at -O2,
 * went from 50.7 to 34.9 ns when they were inlined; bench/corio_spawn).
 */
#ifndef CORIO_HOP_H
#define CORIO_HOP_H

#include "core.h"
#include "switch.h"

/* A task's wake-up node's run function (task.c): a ready node that runs it is a task's. */
void corio__task_wake(corio__node *n);

/* t's step starts: it may spend CORIO__STEP_BUDGET units before its I/O yields. */
static inline void corio__step_start(corio_loop *loop, corio_task *t) {
    loop->current = t;
    loop->step_floor = loop->budget - CORIO__STEP_BUDGET; /* corio__budget_charge also stops at 0 */
}

/*
 * Hops.  A task that blocks would switch to the scheduler, which would pop
 * the next ready node and, when that is a task's, switch to it.  The task
 * does it itself when it can: it takes the next node of the batch, charged
 * to the budget as run_batch charges it, and switches straight to that
 * task - one switch instead of two, and no return to the loop.  When the
 * batch is empty it may start the next iteration itself
 * (corio__loop_turn_inline: only when that iteration would just run the
 * ready nodes).  The order is the scheduler's exactly: the same nodes run in
 * the same order with the same budget; only the trips through run_batch
 * are gone.  On bench/ (callgrind, two run lengths differenced) a yield
 * between two tasks went from 156 instructions to 108, a spawn+join from
 * 692 to 537 and a queue message from 651 to 507.  A finishing task hops too, after
 * giving its stack back (task_main).  A new iteration started by a hop
 * whose ready queue holds just the task it hops to moves no list (spawn+join
 * 537 -> 515, queue message 507 -> 485; with the stack cache inline, spawn+join
 * 497).
 */

/* Take `first`, the batch's next node (a task's), charged to the budget;
 * `start`: its step starts now (step_start), while the loop is at hand. */
static inline corio_task *corio__hop_take(corio_loop *loop, corio_list *first, bool start) {
    loop->budget--;
    corio__list_remove(first);
    corio_task *next = corio__container_of(first, corio_task, wake.link);
    if (start) corio__step_start(loop, next);
    return next;
}

/* Start the next iteration in place: the ready queue becomes the batch,
 * and its first node, `first`, a task's, runs now. */
static inline corio_task *corio__hop_turn(corio_loop *loop, corio_list *first, bool start) {
    loop->iterations++;
    /* When it is the only one (a spawned child its parent joins, the task
     * a put woke) nothing needs to move. */
    corio_list *last = loop->ready.prev;
    if (last != first) {
        /* b read again rather than kept: kept, it takes a register
         * that every blocking task then saves and restores. */
        corio_list *b = __atomic_load_n(&loop->batch, __ATOMIC_RELAXED);
        first->prev = b; /* b is empty and ready is not: no list checks */
        last->next = b;
        b->next = first;
        b->prev = last;
        corio__list_init(&loop->ready);
    }
    return corio__hop_take(loop, first, start);
}

/* corio__hop_turn when timers are armed: only if none is due (task.c). */
corio_task *corio__hop_turn_timed(corio_loop *loop, corio_list *first, bool start);

/* The task to hop to, or NULL; `start`: its step starts (step_start). */
static inline corio_task *corio__hop_next(corio_loop *loop, bool start) {
    corio_list *b = loop->batch;
    if (!b || loop->budget <= 0) return NULL;
    assert(!loop->debug); /* debug mode times each step from run_batch: no batch to hop along */
    corio_list *first = b->next;
    if (first == b) {
        /* The batch is done.  The next iteration is started here only for
         * a task: what else it would run runs from run_once, where the
         * callers of run_once (corio_loop_close's drain, corio_run) look at
         * the loop between iterations. */
        first = loop->ready.next;
        if (first == &loop->ready || corio__container_of(first, corio__node, link)->run != corio__task_wake ||
            !corio__loop_turn_inline(loop))
            return NULL;
        if (corio__unlikely(loop->ntimers != 0)) return corio__hop_turn_timed(loop, first, start);
        return corio__hop_turn(loop, first, start);
    }
    if (corio__container_of(first, corio__node, link)->run != corio__task_wake) return NULL;
    return corio__hop_take(loop, first, start);
}

/* Suspend t: hop to the next task, or go back to the scheduler.  The loop
 * is read from t again after hop_next rather than kept: kept, it is one
 * more callee-saved register for every blocking function. */
static inline __attribute__((always_inline)) void corio__task_block_on(corio_loop *loop, corio_task *t) {
    corio_task *next = corio__hop_next(loop, true);
    if (!next) {
        corio__switch_to_sched(t->loop, t, false);
        return;
    }
    if (next != t) corio__switch_task_to_task(t->loop, t, next); /* else t was next itself: it runs on */
}

static inline __attribute__((always_inline)) void corio__task_block(corio_task *t) { corio__task_block_on(t->loop, t); }

/* corio__park's body (task.c), for the waits that park inline (queue.c). */
static inline __attribute__((always_inline)) int corio__park_inline(corio_task *t) {
    if (corio__unlikely(t->must_cancel)) {
        /* A cancellation is pending: the wait is cancelled at once (as an
         * await cancels its future) and the task resumes next iteration. */
        t->must_cancel = false;
        t->park_cancelled = true;
        corio__ready_push(t->loop, &t->wake);
    } else {
        t->parked = true;
    }
    corio__task_block(t);
    t->parked = false;
    if (corio__unlikely(t->park_cancelled | t->must_cancel)) {
        /* One -ECANCELED for the cancelled wait and any cancel that came
         * after it (asyncio: must_cancel is consumed by the step that
         * raises). */
        t->park_cancelled = false;
        t->must_cancel = false;
        return -ECANCELED;
    }
    return 0;
}

#endif
