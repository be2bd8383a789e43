/*
 * test_condition.c - corio_condition against asyncio.Condition (Python 3.13).
 *
 * Ports of CPython's test_locks.py ConditionTests, plus cases whose
 * outcomes (order of wake-ups, spurious wake-ups after a cancel) were
 * checked by running the same scenario under asyncio 3.13.
 */
#include "test.h"

static corio_condition cond;
static int result[32];
static int nresult;

static int no_waiters(const corio_condition *c) { return c->waiters.next == &c->waiters; }

static void push(int v) { result[nresult++] = v; }

/* CPython's c1/c2/c3 of test_wait: acquire, wait, record, keep the lock. */
static int wait_keep(void *arg) {
    int rc = corio_condition_acquire(&cond);
    if (rc < 0) return rc;
    rc = corio_condition_wait(&cond);
    CHECK_EQ(corio_condition_locked(&cond), 1);
    if (rc == 0) push((int)(intptr_t)arg);
    return rc;
}

/* The same, but release afterwards (test_notify's c1/c2/c3). */
static int wait_release(void *arg) {
    int rc = wait_keep(arg);
    CHECK_EQ(corio_condition_release(&cond), 0);
    return rc;
}

/* `async with cond: await cond.wait()`, recording -id when cancelled. */
static int wait_record(void *arg) {
    int id = (int)(intptr_t)arg;
    int rc = corio_condition_acquire(&cond);
    if (rc < 0) return rc;
    rc = corio_condition_wait(&cond);
    CHECK_EQ(corio_condition_locked(&cond), 1);
    push(rc == 0 ? id : -id);
    CHECK_EQ(corio_condition_release(&cond), 0);
    return rc;
}

/* ---- no task needed --------------------------------------------------------- */

static int pred_true(void *arg) {
    (void)arg;
    return 1;
}

static int pred_false(void *arg) {
    (void)arg;
    return 0;
}

static void test_bad_input(void) {
    CHECK_EQ(corio_condition_init(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_condition_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_condition_acquire(NULL), -EINVAL);
    CHECK_EQ(corio_condition_release(NULL), -EINVAL);
    CHECK_EQ(corio_condition_locked(NULL), 0);
    CHECK_EQ(corio_condition_wait(NULL), -EINVAL);
    CHECK_EQ(corio_condition_wait_for(NULL, pred_true, NULL), -EINVAL);
    CHECK_EQ(corio_condition_notify(NULL, 1), -EINVAL);
    CHECK_EQ(corio_condition_notify_all(NULL), -EINVAL);

    corio_condition c;
    CHECK_EQ(corio_condition_init(&c, NULL), 0);
    CHECK_EQ(corio_condition_wait_for(&c, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_condition_locked(&c), 0);
    /* test_notify_unacquired / test_notify_all_unacquired */
    CHECK_EQ(corio_condition_notify(&c, 1), -EPERM);
    CHECK_EQ(corio_condition_notify_all(&c), -EPERM);
    CHECK_EQ(corio_condition_release(&c), -EPERM);
    /* Suspending calls outside a task. */
    CHECK_EQ(corio_condition_acquire(&c), -EPERM);
    CHECK_EQ(corio_condition_wait(&c), -EPERM);
    CHECK_EQ(corio_condition_wait_for(&c, pred_true, NULL), -EPERM);
    CHECK_EQ(corio_condition_destroy(&c), 0);
}

/* ---- test_wait ---------------------------------------------------------------- */

static int m_wait(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    nresult = 0;
    corio_task *t1 = corio_spawn(wait_keep, (void *)1);
    corio_task *t2 = corio_spawn(wait_keep, (void *)2);
    corio_task *t3 = corio_spawn(wait_keep, (void *)3);
    yield_n(1);
    CHECK_EQ(nresult, 0);
    CHECK_EQ(corio_condition_locked(&cond), 0);

    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    yield_n(1);
    CHECK_EQ(nresult, 0);
    CHECK_EQ(corio_condition_locked(&cond), 1);

    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 1);
    CHECK_EQ(corio_condition_locked(&cond), 1);

    /* t1 holds the lock now and keeps it; notify under it (the lock is
     * not owned by a task, as in asyncio). */
    CHECK_EQ(corio_condition_notify(&cond, 2), 0);
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(corio_condition_locked(&cond), 1);

    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[1], 2);
    CHECK_EQ(corio_condition_locked(&cond), 1);

    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 3);
    CHECK_EQ(result[2], 3);
    CHECK_EQ(corio_condition_locked(&cond), 1);

    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_join(t3), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_wait(void) { CHECK_EQ(test_run(m_wait, NULL, 1), 0); }

/* ---- test_wait_cancel: the lock is held again after a cancelled wait ------- */

static int bare_wait(void *arg) {
    (void)arg;
    return corio_condition_wait(&cond);
}

static int m_wait_cancel(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    corio_task *w = corio_spawn(bare_wait, NULL);
    yield_n(1);
    CHECK_EQ(corio_condition_locked(&cond), 0); /* wait released it */
    CHECK_EQ(corio_condition_destroy(&cond), -EBUSY);
    CHECK_EQ(corio_cancel(w), 1);
    CHECK_EQ(corio_join(w), -ECANCELED);
    CHECK(no_waiters(&cond));
    CHECK_EQ(corio_condition_locked(&cond), 1);
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_wait_cancel(void) { CHECK_EQ(test_run(m_wait_cancel, NULL, 1), 0); }

/* ---- test_wait_cancel_contested ------------------------------------------------ */

static corio_task *contested;

static void cancel_cb(void *arg) { corio_cancel(arg); }
static void release_cb(void *arg) { corio_condition_release(arg); }

static int m_wait_cancel_contested(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    contested = corio_spawn(bare_wait, NULL);
    yield_n(1);
    CHECK_EQ(corio_condition_locked(&cond), 0);
    /* Notify, but contest the lock before cancelling. */
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    CHECK_EQ(corio_call_soon(NULL, cancel_cb, contested), 0);
    CHECK_EQ(corio_call_soon(NULL, release_cb, &cond), 0);
    int rc = corio_join(contested);
    /* CPython's test tolerates either outcome; 3.13 gives CancelledError
     * (the cancel lands after the notify, before the task ran). */
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(corio_condition_locked(&cond), 1);
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_wait_cancel_contested(void) { CHECK_EQ(test_run(m_wait_cancel_contested, NULL, 1), 0); }

/* ---- test_wait_cancel_after_notify (bpo-32841) ----------------------------------- */

static int waited;

static int wait_on_cond(void *arg) {
    (void)arg;
    int rc = corio_condition_acquire(&cond);
    if (rc < 0) return rc;
    waited = 1;
    rc = corio_condition_wait(&cond);
    CHECK_EQ(corio_condition_locked(&cond), 1);
    CHECK_EQ(corio_condition_release(&cond), 0);
    return rc;
}

static int m_wait_cancel_after_notify(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    waited = 0;
    corio_task *w = corio_spawn(wait_on_cond, NULL);
    yield_n(1);                          /* start waiting */
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    yield_n(1);                          /* it gets to acquire() */
    CHECK_EQ(corio_cancel(w), 1);
    yield_n(1);                          /* the cancel lands in acquire */
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);                          /* it re-takes the lock, then fails */
    CHECK_EQ(corio_task_cancelled(w), 1);
    CHECK_EQ(waited, 1);
    CHECK_EQ(corio_join(w), -ECANCELED);
    CHECK_EQ(corio_condition_locked(&cond), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_wait_cancel_after_notify(void) { CHECK_EQ(test_run(m_wait_cancel_after_notify, NULL, 1), 0); }

/* ---- test_wait_unacquired / test_wait_for_unacquired ------------------------------- */

static int m_unacquired(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    CHECK_EQ(corio_condition_wait(&cond), -EPERM);
    /* The predicate can be true at once: no lock needed then. */
    CHECK_EQ(corio_condition_wait_for(&cond, pred_true, NULL), 0);
    CHECK_EQ(corio_condition_wait_for(&cond, pred_false, NULL), -EPERM);
    CHECK_EQ(corio_condition_locked(&cond), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_unacquired(void) { CHECK_EQ(test_run(m_unacquired, NULL, 1), 0); }

/* ---- test_wait_for ------------------------------------------------------------------ */

static int presult, pcalls;

static int predicate(void *arg) {
    (void)arg;
    pcalls++;
    return presult;
}

static int wait_for_task(void *arg) {
    (void)arg;
    int rc = corio_condition_acquire(&cond);
    if (rc < 0) return rc;
    rc = corio_condition_wait_for(&cond, predicate, NULL);
    CHECK_EQ(corio_condition_locked(&cond), 1);
    if (rc == 0) push(1);
    CHECK_EQ(corio_condition_release(&cond), 0);
    return rc;
}

static int m_wait_for(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    nresult = 0;
    presult = 0;
    pcalls = 0;
    corio_task *t = corio_spawn(wait_for_task, NULL);
    yield_n(1);
    CHECK_EQ(nresult, 0);
    CHECK_EQ(pcalls, 1); /* checked once before the first wait */

    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 0);
    CHECK_EQ(pcalls, 2); /* and again after the wake-up */

    presult = 1;
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(pcalls, 3);
    CHECK_EQ(corio_task_done(t), 1);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_wait_for(void) { CHECK_EQ(test_run(m_wait_for, NULL, 1), 0); }

/* wait_for reports a cancellation, with the lock held. */
static int m_wait_for_cancel(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    nresult = 0;
    presult = 0;
    pcalls = 0;
    corio_task *t = corio_spawn(wait_for_task, NULL);
    yield_n(1);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED); /* wait_for_task checked the lock */
    CHECK_EQ(nresult, 0);
    CHECK_EQ(pcalls, 1); /* not re-checked after the failed wait */
    CHECK_EQ(corio_condition_locked(&cond), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_wait_for_cancel(void) { CHECK_EQ(test_run(m_wait_for_cancel, NULL, 1), 0); }

/* ---- test_notify: notify(1), then notify(1) + notify(2048) ---------------------------- */

static int m_notify(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    nresult = 0;
    corio_task *t1 = corio_spawn(wait_release, (void *)1);
    corio_task *t2 = corio_spawn(wait_release, (void *)2);
    corio_task *t3 = corio_spawn(wait_release, (void *)3);
    yield_n(1);
    CHECK_EQ(nresult, 0);

    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 1);

    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    CHECK_EQ(corio_condition_notify(&cond, 2048), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 3);
    CHECK_EQ(result[1], 2);
    CHECK_EQ(result[2], 3);

    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_join(t3), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_notify(void) { CHECK_EQ(test_run(m_notify, NULL, 1), 0); }

/* ---- notify(n) wakes exactly n, oldest first ------------------------------------------ */

static int m_notify_n(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    nresult = 0;
    corio_task *t[5];
    for (int i = 0; i < 5; i++) t[i] = corio_spawn(wait_record, (void *)(intptr_t)(i + 1));
    yield_n(1);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 2), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(2);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[0], 1);
    CHECK_EQ(result[1], 2);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 2), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(3);
    CHECK_EQ(nresult, 4);
    CHECK_EQ(result[2], 3);
    CHECK_EQ(result[3], 4);
    CHECK_EQ(corio_task_done(t[4]), 0);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 0), 0); /* wakes nobody */
    CHECK_EQ(corio_condition_notify_all(&cond), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    for (int i = 0; i < 5; i++) CHECK_EQ(corio_join(t[i]), 0);
    CHECK_EQ(nresult, 5);
    CHECK_EQ(result[4], 5);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_notify_n(void) { CHECK_EQ(test_run(m_notify_n, NULL, 1), 0); }

/* ---- test_notify_all ---------------------------------------------------------------------- */

static int m_notify_all(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    nresult = 0;
    corio_task *t1 = corio_spawn(wait_release, (void *)1);
    corio_task *t2 = corio_spawn(wait_release, (void *)2);
    yield_n(1);
    CHECK_EQ(nresult, 0);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify_all(&cond), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[0], 1);
    CHECK_EQ(result[1], 2);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_notify_all(void) { CHECK_EQ(test_run(m_notify_all, NULL, 1), 0); }

/* ---- a waiter notified, then cancelled before it ran, passes the notify on -------------- */

static int m_notified_then_cancelled(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    nresult = 0;
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(wait_record, (void *)(intptr_t)(i + 1));
    yield_n(1);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    CHECK_EQ(corio_cancel(t[0]), 1);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], -1);
    yield_n(1);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[1], 2); /* the notification went to the next waiter */
    yield_n(2);
    CHECK_EQ(nresult, 2);   /* and only to it */
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_condition_notify_all(&cond), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_join(t[0]), -ECANCELED);
    CHECK_EQ(corio_join(t[1]), 0);
    CHECK_EQ(corio_join(t[2]), 0);
    CHECK_EQ(nresult, 3);
    CHECK_EQ(result[2], 3);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_notified_then_cancelled(void) { CHECK_EQ(test_run(m_notified_then_cancelled, NULL, 1), 0); }

/* A waiter cancelled (not notified) is skipped by notify(1), yet its
 * failing wait still notifies one more: a spurious wake-up asyncio has too. */
static int m_cancelled_then_notified(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    nresult = 0;
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(wait_record, (void *)(intptr_t)(i + 1));
    yield_n(1);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(corio_cancel(t[0]), 1);
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    yield_n(1);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[0], -1);
    CHECK_EQ(result[1], 2);
    yield_n(1);
    CHECK_EQ(nresult, 3);
    CHECK_EQ(result[2], 3);
    CHECK_EQ(corio_join(t[0]), -ECANCELED);
    CHECK_EQ(corio_join(t[1]), 0);
    CHECK_EQ(corio_join(t[2]), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_cancelled_then_notified(void) { CHECK_EQ(test_run(m_cancelled_then_notified, NULL, 1), 0); }

/* ---- test_explicit_lock ---------------------------------------------------------------------- */

static void explicit_lock_case(corio_lock *lock, corio_condition *c) {
    CHECK_EQ(corio_lock_locked(lock), 0);
    CHECK_EQ(corio_condition_locked(c), 0);
    CHECK_EQ(corio_condition_acquire(c), 0);
    CHECK_EQ(corio_lock_locked(lock), 1);
    CHECK_EQ(corio_condition_locked(c), 1);
    CHECK_EQ(corio_condition_release(c), 0);
    CHECK_EQ(corio_lock_locked(lock), 0);
    CHECK_EQ(corio_condition_locked(c), 0);
    CHECK_EQ(corio_lock_acquire(lock), 0);
    CHECK_EQ(corio_lock_locked(lock), 1);
    CHECK_EQ(corio_condition_locked(c), 1);
    CHECK_EQ(corio_lock_release(lock), 0);
    CHECK_EQ(corio_lock_locked(lock), 0);
    CHECK_EQ(corio_condition_locked(c), 0);
}

/* Two conditions on one lock: notify through either needs that lock. */
static int m_explicit_lock(void *arg) {
    (void)arg;
    corio_lock lock;
    corio_condition c1, c2;
    CHECK_EQ(corio_lock_init(&lock), 0);
    CHECK_EQ(corio_condition_init(&c1, &lock), 0);
    CHECK_EQ(corio_condition_init(&c2, &lock), 0);
    explicit_lock_case(&lock, &c1);
    explicit_lock_case(&lock, &c2);
    CHECK_EQ(corio_lock_acquire(&lock), 0);
    CHECK_EQ(corio_condition_locked(&c2), 1);
    CHECK_EQ(corio_condition_notify(&c2, 1), 0);
    CHECK_EQ(corio_condition_release(&c1), 0);
    CHECK_EQ(corio_condition_notify(&c2, 1), -EPERM);
    CHECK_EQ(corio_condition_destroy(&c1), 0);
    CHECK_EQ(corio_condition_destroy(&c2), 0);
    CHECK_EQ(corio_lock_destroy(&lock), 0);
    return 0;
}

static void test_explicit_lock(void) { CHECK_EQ(test_run(m_explicit_lock, NULL, 1), 0); }

/* ---- test_timeout_in_block, with a timer cancelling instead of wait_for ---------------------- */

static void cancel_later(void *arg) { corio_cancel(arg); }

static int m_timeout_in_block(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    corio_handle h = {0}; /* handles must be zeroed before first use (corio/types.h) */
    CHECK_EQ(corio_call_later(&h, 0.5, cancel_later, corio_current_task()), 0);
    CHECK_EQ(corio_condition_wait(&cond), -ECANCELED);
    CHECK_EQ(corio_task_uncancel(corio_current_task()), 0);
    CHECK_EQ(corio_condition_locked(&cond), 1);
    CHECK(no_waiters(&cond));
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_timeout_in_block(void) { CHECK_EQ(test_run(m_timeout_in_block, NULL, 1), 0); }

/* ---- test_cancelled_error_wakeup / test_cancelled_error_re_aquire ---------------------------- */

static int wake;

static int pred_wake(void *arg) {
    (void)arg;
    return wake;
}

static int func_wait_for(void *arg) {
    (void)arg;
    int rc = corio_condition_acquire(&cond);
    if (rc < 0) return rc;
    rc = corio_condition_wait_for(&cond, pred_wake, NULL);
    CHECK_EQ(corio_condition_locked(&cond), 1);
    CHECK_EQ(corio_condition_release(&cond), 0);
    return rc;
}

static int m_cancelled_error_wakeup(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    wake = 0;
    corio_task *t = corio_spawn(func_wait_for, NULL);
    yield_n(1);
    CHECK_EQ(corio_cancel(t), 1); /* cancelled while waiting for the wake-up */
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_cancelled_error_wakeup(void) { CHECK_EQ(test_run(m_cancelled_error_wakeup, NULL, 1), 0); }

static int m_cancelled_error_re_acquire(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    wake = 0;
    corio_task *t = corio_spawn(func_wait_for, NULL);
    yield_n(1);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    wake = 1;
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    yield_n(1);
    /* t now waits to re-take the lock: cancel it there. */
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_condition_locked(&cond), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_cancelled_error_re_acquire(void) { CHECK_EQ(test_run(m_cancelled_error_re_acquire, NULL, 1), 0); }

/* ---- test_cancelled_wakeup / test_cancelled_wakeup_relock: no lost notify -------------------- */

static int state;

static int state_nonzero(void *arg) {
    (void)arg;
    return state != 0;
}

static int consumer(void *arg) {
    (void)arg;
    int rc = corio_condition_acquire(&cond);
    if (rc < 0) return rc;
    for (;;) {
        rc = corio_condition_wait_for(&cond, state_nonzero, NULL);
        if (rc < 0 || state < 0) break;
        state--;
    }
    CHECK_EQ(corio_condition_locked(&cond), 1);
    CHECK_EQ(corio_condition_release(&cond), 0);
    return rc;
}

static int cancelled_wakeup(int relock) {
    corio_condition_init(&cond, NULL);
    state = 0;
    corio_task *c0 = corio_spawn(consumer, NULL);
    corio_task *c1 = corio_spawn(consumer, NULL);
    yield_n(1);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    state++;
    CHECK_EQ(corio_condition_notify(&cond, 1), 0);
    /* relock: let c0 wake and queue for the lock, cancel it there. */
    if (relock) yield_n(1);
    CHECK_EQ(corio_cancel(c0), 1);
    /* CPython waits here on the condition with a 0.01 s timeout; giving
     * the lock up for that long is what matters. */
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_sleep(0.01), 0);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(state, 0); /* the item was consumed: the notify was not lost */
    state = -1;
    CHECK_EQ(corio_condition_notify_all(&cond), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_join(c1), 0);
    CHECK_EQ(corio_join(c0), -ECANCELED);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static int m_cancelled_wakeup(void *arg) { return cancelled_wakeup((int)(intptr_t)arg); }

static void test_cancelled_wakeup(void) { CHECK_EQ(test_run(m_cancelled_wakeup, (void *)0, 1), 0); }
static void test_cancelled_wakeup_relock(void) { CHECK_EQ(test_run(m_cancelled_wakeup, (void *)1, 1), 0); }

/* ---- producer / consumer through wait_for under load ------------------------------------------ */

static int items, consumed, produced;

static int has_item(void *arg) {
    (void)arg;
    return items > 0 || state < 0;
}

static int pc_consumer(void *arg) {
    (void)arg;
    for (;;) {
        int rc = corio_condition_acquire(&cond);
        if (rc < 0) return rc;
        rc = corio_condition_wait_for(&cond, has_item, NULL);
        if (rc == 0 && items > 0) {
            items--;
            consumed++;
            corio_condition_release(&cond);
            corio_sleep(0.001);
            continue;
        }
        corio_condition_release(&cond);
        return rc;
    }
}

static int m_producer_consumer(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    items = consumed = produced = state = 0;
    corio_task *c[4];
    for (int i = 0; i < 4; i++) c[i] = corio_spawn(pc_consumer, NULL);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(corio_condition_acquire(&cond), 0);
        items += 1 + i % 3;
        produced += 1 + i % 3;
        CHECK_EQ(corio_condition_notify(&cond, (size_t)(1 + i % 3)), 0);
        CHECK_EQ(corio_condition_release(&cond), 0);
        corio_sleep(0.0005 * (i % 4));
    }
    corio_sleep(1.0);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    CHECK_EQ(items, 0);
    state = -1;
    CHECK_EQ(corio_condition_notify_all(&cond), 0);
    CHECK_EQ(corio_condition_release(&cond), 0);
    for (int i = 0; i < 4; i++) CHECK_EQ(corio_join(c[i]), 0);
    CHECK_EQ(produced, 99);
    CHECK_EQ(consumed, produced);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_producer_consumer(void) { CHECK_EQ(test_run(m_producer_consumer, NULL, 1), 0); }

/* ---- destroy refuses while tasks queue for the embedded lock ---------------------------------- */

static int just_acquire(void *arg) {
    (void)arg;
    int rc = corio_condition_acquire(&cond);
    if (rc == 0) corio_condition_release(&cond);
    return rc;
}

static int m_destroy_busy(void *arg) {
    (void)arg;
    corio_condition_init(&cond, NULL);
    CHECK_EQ(corio_condition_acquire(&cond), 0);
    corio_task *t = corio_spawn(just_acquire, NULL);
    yield_n(1);
    CHECK_EQ(corio_condition_destroy(&cond), -EBUSY);
    CHECK_EQ(corio_condition_release(&cond), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_condition_destroy(&cond), 0);
    return 0;
}

static void test_destroy_busy(void) { CHECK_EQ(test_run(m_destroy_busy, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_bad_input);
    RUN_TEST(test_wait);
    RUN_TEST(test_wait_cancel);
    RUN_TEST(test_wait_cancel_contested);
    RUN_TEST(test_wait_cancel_after_notify);
    RUN_TEST(test_unacquired);
    RUN_TEST(test_wait_for);
    RUN_TEST(test_wait_for_cancel);
    RUN_TEST(test_notify);
    RUN_TEST(test_notify_n);
    RUN_TEST(test_notify_all);
    RUN_TEST(test_notified_then_cancelled);
    RUN_TEST(test_cancelled_then_notified);
    RUN_TEST(test_explicit_lock);
    RUN_TEST(test_timeout_in_block);
    RUN_TEST(test_cancelled_error_wakeup);
    RUN_TEST(test_cancelled_error_re_acquire);
    RUN_TEST(test_cancelled_wakeup);
    RUN_TEST(test_cancelled_wakeup_relock);
    RUN_TEST(test_producer_consumer);
    RUN_TEST(test_destroy_busy);
    TEST_MAIN_END();
}
