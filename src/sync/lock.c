/*
 * lock.c - corio_lock, a port of asyncio.Lock (Python 3.13, locks.py).
 *
 * The lock is not owned by a task: any task may release it.  Waiters queue
 * in FIFO order, each as a corio__waiter on its own stack.  A waiter stays
 * on the list until it runs again, whether it was woken or cancelled, just
 * as asyncio keeps the future in _waiters until the `finally` removes it;
 * the checks below rely on that to see wake-ups still in flight.
 */
#include "../core/core.h"

/* An initialised lock has a linked waiter list; a zeroed struct, or one
 * that corio_lock_destroy retired, has NULL links and is refused. */
static bool lock_ok(const corio_lock *l) { return l && l->waiters.next; }

int corio_lock_init(corio_lock *l) {
    if (!l) return corio__bad(-EINVAL, "corio_lock_init: NULL lock");
    corio__list_init(&l->waiters);
    l->locked = 0;
    return 0;
}

int corio_lock_destroy(corio_lock *l) {
    if (!lock_ok(l)) return corio__bad(-EINVAL, "corio_lock_destroy: not an initialised lock");
    if (!corio__list_empty(&l->waiters)) return corio__bad(-EBUSY, "corio_lock_destroy: tasks still wait on this lock");
    l->waiters.next = l->waiters.prev = NULL;
    l->locked = 0;
    return 0;
}

/* True when every queued waiter has been cancelled (or none is queued): then
 * nobody is owed the lock and a newcomer may take it without queueing.  A
 * waiter that was woken (DONE) is about to take the lock, so it counts. */
static bool all_waiters_cancelled(const corio_lock *l) {
    corio__list_foreach(it, &l->waiters) {
        const corio__waiter *w = corio__container_of(it, corio__waiter, link);
        if (w->fut.state != CORIO__CANCELLED) return false;
    }
    return true;
}

/* asyncio Lock._wake_up_first: make sure the head of the queue will run.
 * Only the head is looked at; if its future is already done it is either
 * about to take the lock or, when cancelled, will call this again itself. */
static void wake_up_first(corio_lock *l) {
    if (corio__list_empty(&l->waiters)) return;
    corio__waiter *w = corio__container_of(l->waiters.next, corio__waiter, link);
    if (w->fut.state == CORIO__PENDING) corio__future_complete(&w->fut, CORIO__DONE, 0, 1);
}

int corio_lock_acquire(corio_lock *l) {
    if (!lock_ok(l)) return corio__bad(-EINVAL, "corio_lock_acquire: not an initialised lock");
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_lock_acquire: called outside a task");
    /* Fair scheduling: queue behind anyone still waiting.  Jumping the queue
     * when every waiter was cancelled is an optimisation asyncio makes too. */
    if (!l->locked && all_waiters_cancelled(l)) {
        l->locked = 1;
        return 0;
    }
    corio__waiter w;
    int rc = corio__waiter_wait(t, &l->waiters, &w, NULL);
    if (rc < 0) {
        /* Keep the invariant: if the lock is not claimed (or about to be
         * claimed by a woken waiter) and someone waits, the head will run.
         * This is what passes on a wake-up we received but cannot use. */
        if (!l->locked) wake_up_first(l);
        return rc;
    }
    assert(!l->locked);
    l->locked = 1;
    return 0;
}

int corio_lock_try_acquire(corio_lock *l) {
    if (!lock_ok(l)) return corio__bad(-EINVAL, "corio_lock_try_acquire: not an initialised lock");
    /* The same test as acquire's fast path: a free lock whose wake-up is
     * already on its way to a waiter belongs to that waiter. */
    if (!l->locked && all_waiters_cancelled(l)) {
        l->locked = 1;
        return 0;
    }
    return -EBUSY;
}

int corio_lock_release(corio_lock *l) {
    if (!lock_ok(l)) return corio__bad(-EINVAL, "corio_lock_release: not an initialised lock");
    if (!l->locked) return corio__bad(-EPERM, "corio_lock_release: lock is not acquired");
    l->locked = 0;
    wake_up_first(l);
    return 0;
}

int corio_lock_locked(const corio_lock *l) { return l && l->locked; }
