/*
 * condition.c - corio_condition, a port of asyncio.Condition (Python 3.13,
 * locks.py).
 *
 * The condition borrows a lock (or uses the one it embeds) and keeps its
 * own FIFO of waiters.  A notified waiter must still re-acquire the lock
 * before its wait returns, so notify() only marks waiters; the lock
 * decides who runs first.
 */
#include "../core/core.h"

/* Initialised: a lock and a linked waiter list (zeroed or destroyed: NULL). */
static bool cond_ok(const corio_condition *c) { return c && c->lock && c->waiters.next; }

int corio_condition_init(corio_condition *c, corio_lock *lock) {
    if (!c) return corio__bad(-EINVAL, "corio_condition_init: NULL condition");
    if (!lock) {
        corio_lock_init(&c->own_lock);
        lock = &c->own_lock;
    }
    c->lock = lock;
    corio__list_init(&c->waiters);
    return 0;
}

int corio_condition_destroy(corio_condition *c) {
    if (!cond_ok(c)) return corio__bad(-EINVAL, "corio_condition_destroy: not an initialised condition");
    if (!corio__list_empty(&c->waiters))
        return corio__bad(-EBUSY, "corio_condition_destroy: tasks still wait on this condition");
    /* Tasks queued for the embedded lock would be left dangling too; a
     * borrowed lock is the caller's to destroy. */
    if (c->lock == &c->own_lock) {
        if (!corio__list_empty(&c->own_lock.waiters))
            return corio__bad(-EBUSY, "corio_condition_destroy: tasks still wait on the condition's lock");
        corio_lock_destroy(&c->own_lock);
    }
    c->lock = NULL;
    c->waiters.next = c->waiters.prev = NULL;
    return 0;
}

int corio_condition_acquire(corio_condition *c) {
    if (!cond_ok(c)) return corio__bad(-EINVAL, "corio_condition_acquire: not an initialised condition");
    return corio_lock_acquire(c->lock);
}

int corio_condition_release(corio_condition *c) {
    if (!cond_ok(c)) return corio__bad(-EINVAL, "corio_condition_release: not an initialised condition");
    return corio_lock_release(c->lock);
}

int corio_condition_locked(const corio_condition *c) { return cond_ok(c) && corio_lock_locked(c->lock); }

/* asyncio Condition._notify: wake up to n waiters not woken yet, oldest
 * first.  Waiters already done (woken, or cancelled) are skipped and not
 * counted, so a cancelled waiter never swallows a notification. */
static void notify(corio_condition *c, size_t n) {
    size_t idx = 0;
    corio__list_foreach(it, &c->waiters) {
        if (idx >= n) break;
        corio__waiter *w = corio__container_of(it, corio__waiter, link);
        if (w->fut.state == CORIO__PENDING) {
            idx++;
            corio__future_complete(&w->fut, CORIO__DONE, 0, 0);
        }
    }
}

int corio_condition_wait(corio_condition *c) {
    if (!cond_ok(c)) return corio__bad(-EINVAL, "corio_condition_wait: not an initialised condition");
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_condition_wait: called outside a task");
    if (!corio_lock_locked(c->lock)) return corio__bad(-EPERM, "corio_condition_wait: cannot wait on un-acquired lock");

    corio_lock_release(c->lock);
    corio__waiter w;
    int rc = corio__waiter_wait(t, &c->waiters, &w, NULL);

    /* The lock must be held again when we return, even if the wait was
     * cancelled; a cancellation that hits the re-acquire is remembered and
     * reported after the lock is ours, and we try again.  Only a
     * cancellation can make acquire fail here. */
    for (;;) {
        int arc = corio_lock_acquire(c->lock);
        if (arc == 0) break;
        rc = arc;
        /* -EINVAL: the borrowed lock was destroyed meanwhile; retrying
         * would spin for ever. */
        if (arc != -ECANCELED) return rc;
    }

    if (rc < 0) {
        /* We may have been notified before the error hit us: hand that
         * notification to another waiter rather than lose it.  This may
         * cause a spurious wake-up, which the protocol allows. */
        notify(c, 1);
    }
    return rc;
}

int corio_condition_wait_for(corio_condition *c, int (*pred)(void *arg), void *arg) {
    if (!cond_ok(c) || !pred) return corio__bad(-EINVAL, "corio_condition_wait_for: not an initialised condition, or NULL predicate");
    if (!corio__current()) return corio__bad(-EPERM, "corio_condition_wait_for: called outside a task");
    while (!pred(arg)) {
        int rc = corio_condition_wait(c);
        if (rc < 0) return rc;
    }
    return 0;
}

int corio_condition_notify(corio_condition *c, size_t n) {
    if (!cond_ok(c)) return corio__bad(-EINVAL, "corio_condition_notify: not an initialised condition");
    if (!corio_lock_locked(c->lock)) return corio__bad(-EPERM, "corio_condition_notify: cannot notify on un-acquired lock");
    notify(c, n);
    return 0;
}

int corio_condition_notify_all(corio_condition *c) {
    if (!cond_ok(c)) return corio__bad(-EINVAL, "corio_condition_notify_all: not an initialised condition");
    /* asyncio passes len(_waiters); no count can exceed SIZE_MAX. */
    return corio_condition_notify(c, SIZE_MAX);
}
