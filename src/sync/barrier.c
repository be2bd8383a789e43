/*
 * barrier.c - corio_barrier, a port of asyncio.Barrier (Python 3.13,
 * locks.py).
 *
 * Built as asyncio builds it, on a Condition: every call holds the
 * condition's lock while it looks at the state, and every state change
 * wakes all waiters, which re-check it.  So who runs when, what a
 * cancelled waiter leaves behind and which index each task gets are
 * asyncio's, step for step, because the condition and the lock under it
 * are already asyncio's (tests/diff proves their order).
 *
 * A trip: tasks arrive while the barrier is FILLING, each taking the next
 * index; the one that completes the party turns it to DRAINING and wakes
 * the others; the last to leave turns it back to FILLING and wakes those
 * that arrived meanwhile (they waited in `block` for the drain to end).
 * reset() while tasks are inside turns it to RESETTING: they leave with
 * CORIO_EBROKEN_BARRIER, and the last to leave refills it.  abort() turns
 * it to BROKEN, which only a reset undoes.
 */
#include "../core/core.h"

#include <limits.h>

/* Initialised: the condition is (zeroed or destroyed: parties is 0). */
static bool barrier_ok(const corio_barrier *b) { return b && b->parties > 0; }

int corio_barrier_init(corio_barrier *b, size_t parties) {
    if (!b) return corio__bad(-EINVAL, "corio_barrier_init: NULL barrier");
    if (parties < 1 || parties > INT_MAX)
        return corio__bad(-EINVAL, "corio_barrier_init: parties must be between 1 and INT_MAX, not %zu", parties);
    corio_condition_init(&b->cond, NULL);
    b->parties = parties;
    b->count = 0;
    b->state = CORIO_BARRIER_FILLING;
    return 0;
}

int corio_barrier_destroy(corio_barrier *b) {
    if (!barrier_ok(b)) return corio__bad(-EINVAL, "corio_barrier_destroy: not an initialised barrier");
    if (b->count > 0) return corio__bad(-EBUSY, "corio_barrier_destroy: tasks are still inside wait()");
    int rc = corio_condition_destroy(&b->cond);
    if (rc < 0) return rc;
    b->parties = 0;
    return 0;
}

/* _block's predicate: the barrier is not draining or resetting. */
static int may_enter(void *arg) {
    const corio_barrier *b = arg;
    return b->state != CORIO_BARRIER_DRAINING && b->state != CORIO_BARRIER_RESETTING;
}

/* _wait's predicate: filling is over (tripped, reset or broken). */
static int filled(void *arg) { return ((const corio_barrier *)arg)->state != CORIO_BARRIER_FILLING; }

/* asyncio's _exit: the last task out ends a drain or a reset, and wakes
 * those blocked until then. */
static void leave(corio_barrier *b) {
    if (b->count == 0) {
        if (b->state == CORIO_BARRIER_RESETTING || b->state == CORIO_BARRIER_DRAINING) b->state = CORIO_BARRIER_FILLING;
        corio_condition_notify_all(&b->cond);
    }
}

int corio_barrier_wait(corio_barrier *b) {
    if (!barrier_ok(b)) return corio__bad(-EINVAL, "corio_barrier_wait: not an initialised barrier");
    if (!corio__current()) return corio__bad(-EPERM, "corio_barrier_wait: called outside a task");
    int rc = corio_condition_acquire(&b->cond); /* async with self._cond */
    if (rc < 0) return rc;
    /* _block: wait while it drains or resets; a broken one refuses. */
    rc = corio_condition_wait_for(&b->cond, may_enter, b);
    if (rc == 0 && b->state == CORIO_BARRIER_BROKEN) rc = CORIO_EBROKEN_BARRIER;
    if (rc < 0) {
        corio_condition_release(&b->cond);
        return rc;
    }
    size_t index = b->count++;
    if (index + 1 == b->parties) {
        /* _release: the party is complete. */
        b->state = CORIO_BARRIER_DRAINING;
        corio_condition_notify_all(&b->cond);
    } else {
        /* _wait: until the party completes, or a reset or an abort. */
        rc = corio_condition_wait_for(&b->cond, filled, b);
        if (rc == 0 && (b->state == CORIO_BARRIER_BROKEN || b->state == CORIO_BARRIER_RESETTING))
            rc = CORIO_EBROKEN_BARRIER;
    }
    /* The `finally`: out of the count, whatever happened (a cancelled
     * waiter too: the condition holds the lock again when it returns). */
    b->count--;
    leave(b);
    corio_condition_release(&b->cond);
    return rc < 0 ? rc : (int)index;
}

int corio_barrier_reset(corio_barrier *b) {
    if (!barrier_ok(b)) return corio__bad(-EINVAL, "corio_barrier_reset: not an initialised barrier");
    int rc = corio_condition_acquire(&b->cond);
    if (rc < 0) return rc;
    /* Tasks inside leave broken and the last one refills it; with none
     * inside it is filling at once (a broken barrier too). */
    b->state = b->count > 0 ? CORIO_BARRIER_RESETTING : CORIO_BARRIER_FILLING;
    corio_condition_notify_all(&b->cond);
    corio_condition_release(&b->cond);
    return 0;
}

int corio_barrier_abort(corio_barrier *b) {
    if (!barrier_ok(b)) return corio__bad(-EINVAL, "corio_barrier_abort: not an initialised barrier");
    int rc = corio_condition_acquire(&b->cond);
    if (rc < 0) return rc;
    b->state = CORIO_BARRIER_BROKEN;
    corio_condition_notify_all(&b->cond);
    corio_condition_release(&b->cond);
    return 0;
}

size_t corio_barrier_parties(const corio_barrier *b) { return b ? b->parties : 0; }

size_t corio_barrier_n_waiting(const corio_barrier *b) {
    return b && b->state == CORIO_BARRIER_FILLING ? b->count : 0;
}

int corio_barrier_broken(const corio_barrier *b) { return b && b->state == CORIO_BARRIER_BROKEN; }

int corio_barrier_state(const corio_barrier *b) {
    return barrier_ok(b) ? b->state : corio__bad(-EINVAL, "corio_barrier_state: not an initialised barrier");
}
