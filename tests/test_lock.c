/*
 * test_lock.c - corio_lock against asyncio.Lock (Python 3.13).
 *
 * Most cases are ports of CPython's Lib/test/test_asyncio/test_locks.py
 * (LockTests); corio_yield() plays `await asyncio.sleep(0)`.  The outcomes
 * of the cases that are not in CPython were checked by running the same
 * scenario under asyncio 3.13.
 */
#include "test.h"

static corio_lock lk;
static int result[16];
static int nresult;

/* asyncio's `not lock._waiters`: peeks at the private list. */
static int no_waiters(const corio_lock *l) { return l->waiters.next == &l->waiters; }

/* Append the id given as arg once the lock is ours; keeps the lock. */
static int take(void *arg) {
    int rc = corio_lock_acquire(&lk);
    if (rc == 0) result[nresult++] = (int)(intptr_t)arg;
    return rc;
}

/* ---- no task needed ---------------------------------------------------- */

static void test_bad_input(void) {
    CHECK_EQ(corio_lock_init(NULL), -EINVAL);
    CHECK_EQ(corio_lock_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_lock_acquire(NULL), -EINVAL);
    CHECK_EQ(corio_lock_try_acquire(NULL), -EINVAL);
    CHECK_EQ(corio_lock_release(NULL), -EINVAL);
    CHECK_EQ(corio_lock_locked(NULL), 0);

    corio_lock l;
    CHECK_EQ(corio_lock_init(&l), 0);
    CHECK_EQ(corio_lock_locked(&l), 0);
    /* asyncio: RuntimeError('Lock is not acquired.') */
    CHECK_EQ(corio_lock_release(&l), -EPERM);
    /* A suspending call outside a task. */
    CHECK_EQ(corio_lock_acquire(&l), -EPERM);
    CHECK_EQ(corio_lock_locked(&l), 0);
    CHECK_EQ(corio_lock_try_acquire(&l), 0);
    CHECK_EQ(corio_lock_locked(&l), 1);
    CHECK_EQ(corio_lock_try_acquire(&l), -EBUSY);
    CHECK_EQ(corio_lock_release(&l), 0);
    CHECK_EQ(corio_lock_locked(&l), 0);
    CHECK_EQ(corio_lock_release(&l), -EPERM);
    CHECK_EQ(corio_lock_destroy(&l), 0);
}

/* ---- test_lock / test_release_no_waiters --------------------------------- */

static int m_basic(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    CHECK_EQ(corio_lock_locked(&lk), 1);
    CHECK_EQ(corio_lock_try_acquire(&lk), -EBUSY);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_locked(&lk), 0);
    CHECK_EQ(corio_lock_release(&lk), -EPERM);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_lock(void) { CHECK_EQ(test_run(m_basic, NULL, 1), 0); }

/* ---- test_acquire: FIFO hand-over ------------------------------------------ */

static int m_acquire(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    nresult = 0;
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    corio_task *t1 = corio_spawn(take, (void *)1);
    corio_task *t2 = corio_spawn(take, (void *)2);
    yield_n(1);
    CHECK_EQ(nresult, 0);

    CHECK_EQ(corio_lock_release(&lk), 0);
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 1);
    yield_n(1);
    CHECK_EQ(nresult, 1);

    corio_task *t3 = corio_spawn(take, (void *)3);
    CHECK_EQ(corio_lock_release(&lk), 0);
    yield_n(1);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[1], 2);

    CHECK_EQ(corio_lock_release(&lk), 0);
    yield_n(1);
    CHECK_EQ(nresult, 3);
    CHECK_EQ(result[2], 3);

    CHECK_EQ(corio_task_done(t1) && corio_task_done(t2) && corio_task_done(t3), 1);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_join(t3), 0);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_acquire(void) { CHECK_EQ(test_run(m_acquire, NULL, 1), 0); }

/* ---- test_acquire_cancel (+ the lock stays usable) ------------------------ */

static int m_acquire_cancel(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    nresult = 0;
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    corio_task *t = corio_spawn(take, (void *)1);
    yield_n(1);
    /* While t waits, the lock cannot be retired. */
    CHECK_EQ(corio_lock_destroy(&lk), -EBUSY);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    /* The waiter is gone and the lock is still ours and works. */
    CHECK_EQ(corio_lock_locked(&lk), 1);
    CHECK(no_waiters(&lk));
    CHECK_EQ(corio_lock_release(&lk), 0);
    t = corio_spawn(take, (void *)2);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 2);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_acquire_cancel(void) { CHECK_EQ(test_run(m_acquire_cancel, NULL, 1), 0); }

/* ---- test_cancel_race ------------------------------------------------------ */

static int lockit(void *arg) {
    corio_future *blocker = arg;
    int rc = corio_lock_acquire(&lk);
    if (rc < 0) return rc;
    if (blocker) corio_await(blocker, NULL);
    CHECK_EQ(corio_lock_release(&lk), 0);
    return 0;
}

static int m_cancel_race(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    corio_future fa;
    CHECK_EQ(corio_future_init(&fa, NULL), 0);
    corio_task *ta = corio_spawn(lockit, &fa);
    yield_n(1);
    CHECK_EQ(corio_lock_locked(&lk), 1);
    corio_task *tb = corio_spawn(lockit, NULL);
    yield_n(1);
    corio_task *tc = corio_spawn(lockit, NULL);
    yield_n(1);

    /* B's waiter is cancelled, A releases before B ran: C must get it. */
    CHECK_EQ(corio_future_set_result(&fa, 0), 0);
    CHECK_EQ(corio_cancel(tb), 1);
    yield_n(1);
    CHECK_EQ(corio_lock_locked(&lk), 0);
    CHECK_EQ(corio_task_done(ta), 1);
    CHECK_EQ(corio_task_cancelled(tb), 1);
    CHECK_EQ(corio_join(tc), 0);
    CHECK_EQ(corio_join(ta), 0);
    CHECK_EQ(corio_join(tb), -ECANCELED);
    CHECK_EQ(corio_future_destroy(&fa), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_cancel_race(void) { CHECK_EQ(test_run(m_cancel_race, NULL, 1), 0); }

/* ---- test_cancel_release_race (bpo-32734) ---------------------------------- */

static int lock_count, call_count;
static corio_task *rt1;

static int lockit2(void *arg) {
    (void)arg;
    call_count++;
    int rc = corio_lock_acquire(&lk);
    if (rc < 0) return rc;
    lock_count++;
    return 0;
}

static void trigger(void *arg) {
    (void)arg;
    corio_cancel(rt1);
    corio_lock_release(&lk);
}

static int m_cancel_release_race(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    lock_count = call_count = 0;
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    rt1 = corio_spawn(lockit2, NULL);
    corio_task *t2 = corio_spawn(lockit2, NULL);
    corio_task *t3 = corio_spawn(lockit2, NULL);
    yield_n(1);
    CHECK_EQ(corio_call_soon(NULL, trigger, NULL), 0);
    CHECK_EQ(corio_join(rt1), -ECANCELED);
    CHECK_EQ(lock_count, 1);
    CHECK_EQ(call_count, 3);
    CHECK_EQ(corio_task_done(t2), 1);
    CHECK_EQ(corio_cancel(t3), 1);
    yield_n(1);
    CHECK_EQ(corio_task_cancelled(t3), 1);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_join(t3), -ECANCELED);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_cancel_release_race(void) { CHECK_EQ(test_run(m_cancel_release_race, NULL, 1), 0); }

/* ---- test_finished_waiter_cancelled: the "all waiters cancelled" path ------ */

static int m_finished_waiter_cancelled(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    nresult = 0;
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    corio_task *tb = corio_spawn(take, (void *)1);
    yield_n(1);
    /* A second waiter, not started yet; cancel the first, release. */
    corio_task *tc = corio_spawn(take, (void *)2);
    CHECK_EQ(corio_cancel(tb), 1);
    CHECK_EQ(corio_lock_release(&lk), 0);
    yield_n(1);
    /* C found only a cancelled waiter queued and took the lock at once. */
    CHECK_EQ(corio_lock_locked(&lk), 1);
    CHECK_EQ(corio_task_cancelled(tb), 1);
    CHECK_EQ(corio_task_done(tc), 1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 2);
    CHECK_EQ(corio_join(tb), -ECANCELED);
    CHECK_EQ(corio_join(tc), 0);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_finished_waiter_cancelled(void) { CHECK_EQ(test_run(m_finished_waiter_cancelled, NULL, 1), 0); }

/* ---- woken, then cancelled before it ran: the lock passes on ------------- */

static int m_woken_then_cancelled(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    nresult = 0;
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    corio_task *tb = corio_spawn(take, (void *)1);
    corio_task *tc = corio_spawn(take, (void *)2);
    corio_task *td = corio_spawn(take, (void *)3);
    yield_n(1);
    CHECK_EQ(corio_lock_release(&lk), 0); /* wakes B */
    /* The lock is free but promised to B: nobody may barge in. */
    CHECK_EQ(corio_lock_locked(&lk), 0);
    CHECK_EQ(corio_lock_try_acquire(&lk), -EBUSY);
    CHECK_EQ(corio_cancel(tb), 1);         /* B's wake-up is already delivered */
    yield_n(1);
    /* B gave up, handing the lock to C; C runs in the next iteration. */
    CHECK_EQ(corio_task_cancelled(tb), 1);
    CHECK_EQ(nresult, 0);
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 2);
    CHECK_EQ(corio_lock_locked(&lk), 1);
    CHECK_EQ(corio_task_done(td), 0);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_join(td), 0);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[1], 3);
    CHECK_EQ(corio_join(tb), -ECANCELED);
    CHECK_EQ(corio_join(tc), 0);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_woken_then_cancelled(void) { CHECK_EQ(test_run(m_woken_then_cancelled, NULL, 1), 0); }

/* ---- a cancelled head waiter lets a free lock be taken at once ------------- */

static int m_all_cancelled_fast_path(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    nresult = 0;
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    corio_task *tb = corio_spawn(take, (void *)1);
    corio_task *tc = corio_spawn(take, (void *)2);
    yield_n(1);
    CHECK_EQ(corio_cancel(tb), 1);
    CHECK_EQ(corio_cancel(tc), 1);
    CHECK_EQ(corio_lock_release(&lk), 0);
    /* Both waiters are cancelled but still queued: the lock is free to take. */
    CHECK_EQ(corio_lock_try_acquire(&lk), 0);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    CHECK_EQ(corio_join(tb), -ECANCELED);
    CHECK_EQ(corio_join(tc), -ECANCELED);
    CHECK_EQ(nresult, 0);
    CHECK_EQ(corio_lock_locked(&lk), 1);
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_all_cancelled_fast_path(void) { CHECK_EQ(test_run(m_all_cancelled_fast_path, NULL, 1), 0); }

/* ---- a cancellation requested before acquire is delivered by it ------------ */

static int m_cancel_before_wait(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    corio_task *me = corio_current_task();
    CHECK_EQ(corio_cancel(me), 1);
    /* Free lock: acquire does not suspend, so it takes the lock and the
     * cancellation stays pending for the next suspension. */
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_acquire(&lk), 0);
    CHECK_EQ(corio_lock_release(&lk), 0);
    corio_task *t = corio_spawn(take, (void *)1);
    CHECK_EQ(corio_yield(), -ECANCELED);
    CHECK_EQ(corio_task_uncancel(me), 0);
    CHECK_EQ(corio_join(t), 0);
    /* Held lock: acquire suspends and the cancellation hits there. */
    CHECK_EQ(corio_cancel(me), 1);
    CHECK_EQ(corio_lock_acquire(&lk), -ECANCELED);
    CHECK_EQ(corio_task_uncancel(me), 0);
    CHECK(no_waiters(&lk));
    CHECK_EQ(corio_lock_release(&lk), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_cancel_before_wait(void) { CHECK_EQ(test_run(m_cancel_before_wait, NULL, 1), 0); }

/* ---- mutual exclusion under contention -------------------------------------- */

static int inside, max_inside, rounds_done;

static int worker(void *arg) {
    (void)arg;
    for (int i = 0; i < 20; i++) {
        int rc = corio_lock_acquire(&lk);
        if (rc < 0) return rc;
        inside++;
        if (inside > max_inside) max_inside = inside;
        corio_sleep(0.001 * (i % 3));
        inside--;
        rounds_done++;
        corio_lock_release(&lk);
    }
    return 0;
}

static int m_contention(void *arg) {
    (void)arg;
    corio_lock_init(&lk);
    inside = max_inside = rounds_done = 0;
    corio_task *t[5];
    for (int i = 0; i < 5; i++) t[i] = corio_spawn(worker, NULL);
    for (int i = 0; i < 5; i++) CHECK_EQ(corio_join(t[i]), 0);
    CHECK_EQ(max_inside, 1);
    CHECK_EQ(rounds_done, 100);
    CHECK_EQ(corio_lock_locked(&lk), 0);
    CHECK_EQ(corio_lock_destroy(&lk), 0);
    return 0;
}

static void test_contention(void) { CHECK_EQ(test_run(m_contention, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_bad_input);
    RUN_TEST(test_lock);
    RUN_TEST(test_acquire);
    RUN_TEST(test_acquire_cancel);
    RUN_TEST(test_cancel_race);
    RUN_TEST(test_cancel_release_race);
    RUN_TEST(test_finished_waiter_cancelled);
    RUN_TEST(test_woken_then_cancelled);
    RUN_TEST(test_all_cancelled_fast_path);
    RUN_TEST(test_cancel_before_wait);
    RUN_TEST(test_contention);
    TEST_MAIN_END();
}
