/*
 * semaphore.c - corio_semaphore, a port of asyncio.Semaphore and
 * asyncio.BoundedSemaphore (Python 3.13, locks.py).
 *
 * The bookkeeping follows 3.13 exactly: _wake_up_next() takes the unit on
 * behalf of the waiter it wakes (value--), so the woken waiter returns
 * without touching value, and gives it back if it is cancelled before it
 * runs.  A waiter stays on the list until it runs again, so `locked` sees
 * both waiters still pending and wake-ups in flight.
 */
#include "../core/core.h"

#include <limits.h>

/* Initialised: the waiter list is linked (zeroed or destroyed: NULL). */
static bool sem_ok(const corio_semaphore *s) { return s && s->waiters.next; }

int corio_semaphore_init(corio_semaphore *s, long value) {
    if (!s) return corio__bad(-EINVAL, "corio_semaphore_init: NULL semaphore");
    if (value < 0) return corio__bad(-EINVAL, "corio_semaphore_init: initial value %ld must be >= 0", value);
    corio__list_init(&s->waiters);
    s->value = value;
    s->bound = -1;
    return 0;
}

int corio_semaphore_init_bounded(corio_semaphore *s, long value) {
    int rc = corio_semaphore_init(s, value);
    if (rc == 0) s->bound = value;
    return rc;
}

int corio_semaphore_destroy(corio_semaphore *s) {
    if (!sem_ok(s)) return corio__bad(-EINVAL, "corio_semaphore_destroy: not an initialised semaphore");
    if (!corio__list_empty(&s->waiters))
        return corio__bad(-EBUSY, "corio_semaphore_destroy: tasks still wait on this semaphore");
    s->waiters.next = s->waiters.prev = NULL;
    return 0;
}

/* asyncio Semaphore.locked: no unit is free, or someone not cancelled is
 * queued ahead (FIFO: newcomers must let them run first). */
static bool sem_locked(const corio_semaphore *s) {
    if (s->value == 0) return true;
    corio__list_foreach(it, &s->waiters) {
        const corio__waiter *w = corio__container_of(it, corio__waiter, link);
        if (w->fut.state != CORIO__CANCELLED) return true;
    }
    return false;
}

/* asyncio Semaphore._wake_up_next: wake the first waiter not yet done,
 * taking a unit for it.  Returns whether anyone was woken. */
static bool wake_up_next(corio_semaphore *s) {
    corio__list_foreach(it, &s->waiters) {
        corio__waiter *w = corio__container_of(it, corio__waiter, link);
        if (w->fut.state == CORIO__PENDING) {
            s->value--;
            corio__future_complete(&w->fut, CORIO__DONE, 0, 1);
            return true;
        }
    }
    return false;
}

int corio_semaphore_acquire(corio_semaphore *s) {
    if (!sem_ok(s)) return corio__bad(-EINVAL, "corio_semaphore_acquire: not an initialised semaphore");
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_semaphore_acquire: called outside a task");
    if (!sem_locked(s)) {
        s->value--;
        return 0;
    }
    corio__waiter w;
    int rc = corio__waiter_wait(t, &s->waiters, &w, NULL);
    if (rc < 0 && w.fut.state == CORIO__DONE) {
        /* We were woken, and a unit taken for us, but are not going to
         * acquire after all: give the unit back (it goes on below). */
        s->value++;
    }
    /* Newcomers may have queued behind us because of FIFO even though
     * units were free: wake as many as the free units allow. */
    while (s->value > 0)
        if (!wake_up_next(s)) break;
    return rc;
}

int corio_semaphore_release(corio_semaphore *s) {
    if (!sem_ok(s)) return corio__bad(-EINVAL, "corio_semaphore_release: not an initialised semaphore");
    if (s->bound >= 0 && s->value >= s->bound)
        return corio__bad(-EOVERFLOW, "corio_semaphore_release: BoundedSemaphore released too many times");
    if (s->value == LONG_MAX) return corio__bad(-EOVERFLOW, "corio_semaphore_release: value would exceed LONG_MAX");
    s->value++;
    wake_up_next(s);
    return 0;
}

int corio_semaphore_locked(const corio_semaphore *s) { return sem_ok(s) && sem_locked(s); }

long corio_semaphore_value(const corio_semaphore *s) { return sem_ok(s) ? s->value : -EINVAL; }
