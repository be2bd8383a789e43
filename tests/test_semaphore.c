/*
 * test_semaphore.c - corio_semaphore against asyncio.Semaphore and
 * asyncio.BoundedSemaphore (Python 3.13).
 *
 * Ports of CPython's test_locks.py SemaphoreTests, plus cancellation cases
 * whose outcomes (order, value, locked) were checked under asyncio 3.13.
 */
#include "test.h"

#include <limits.h>

static corio_semaphore sem;
static int result[32];
static int nresult;

static int no_waiters(const corio_semaphore *s) { return s->waiters.next == &s->waiters; }

static size_t nwaiters(const corio_semaphore *s) {
    size_t n = 0;
    for (const corio_list *it = s->waiters.next; it != &s->waiters; it = it->next) n++;
    return n;
}

/* CPython's c1..c4: acquire, record, keep the unit. */
static int take(void *arg) {
    int rc = corio_semaphore_acquire(&sem);
    if (rc == 0) result[nresult++] = (int)(intptr_t)arg;
    return rc;
}

/* ---- no task needed ----------------------------------------------------------- */

static void test_bad_input(void) {
    CHECK_EQ(corio_semaphore_init(NULL, 1), -EINVAL);
    CHECK_EQ(corio_semaphore_init_bounded(NULL, 1), -EINVAL);
    CHECK_EQ(corio_semaphore_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_semaphore_acquire(NULL), -EINVAL);
    CHECK_EQ(corio_semaphore_release(NULL), -EINVAL);
    CHECK_EQ(corio_semaphore_locked(NULL), 0);
    CHECK_EQ(corio_semaphore_value(NULL), -EINVAL);

    corio_semaphore s;
    /* test_semaphore_value: ValueError for a negative initial value. */
    CHECK_EQ(corio_semaphore_init(&s, -1), -EINVAL);
    CHECK_EQ(corio_semaphore_init_bounded(&s, -1), -EINVAL);

    /* test_initial_value_zero */
    CHECK_EQ(corio_semaphore_init(&s, 0), 0);
    CHECK_EQ(corio_semaphore_locked(&s), 1);
    CHECK_EQ(corio_semaphore_value(&s), 0);
    CHECK_EQ(corio_semaphore_acquire(&s), -EPERM); /* outside a task */
    CHECK_EQ(corio_semaphore_release(&s), 0);      /* release works anywhere */
    CHECK_EQ(corio_semaphore_locked(&s), 0);
    CHECK_EQ(corio_semaphore_value(&s), 1);
    CHECK_EQ(corio_semaphore_acquire(&s), -EPERM);
    CHECK_EQ(corio_semaphore_value(&s), 1);
    CHECK_EQ(corio_semaphore_destroy(&s), 0);

    /* An unbounded semaphore may not pass LONG_MAX. */
    CHECK_EQ(corio_semaphore_init(&s, LONG_MAX - 1), 0);
    CHECK_EQ(corio_semaphore_release(&s), 0);
    CHECK_EQ(corio_semaphore_value(&s), LONG_MAX);
    CHECK_EQ(corio_semaphore_release(&s), -EOVERFLOW);
    CHECK_EQ(corio_semaphore_value(&s), LONG_MAX);
    CHECK_EQ(corio_semaphore_destroy(&s), 0);
}

/* ---- test_release_not_acquired and friends: BoundedSemaphore -------------------- */

static void test_bounded(void) {
    corio_semaphore s;
    CHECK_EQ(corio_semaphore_init_bounded(&s, 1), 0);
    CHECK_EQ(corio_semaphore_release(&s), -EOVERFLOW);
    CHECK_EQ(corio_semaphore_value(&s), 1);
    CHECK_EQ(corio_semaphore_destroy(&s), 0);

    CHECK_EQ(corio_semaphore_init_bounded(&s, 0), 0);
    CHECK_EQ(corio_semaphore_locked(&s), 1);
    CHECK_EQ(corio_semaphore_release(&s), -EOVERFLOW);
    CHECK_EQ(corio_semaphore_destroy(&s), 0);

    /* A plain semaphore may grow past its initial value. */
    CHECK_EQ(corio_semaphore_init(&s, 1), 0);
    CHECK_EQ(corio_semaphore_release(&s), 0);
    CHECK_EQ(corio_semaphore_value(&s), 2);
    CHECK_EQ(corio_semaphore_destroy(&s), 0);
}

static int m_bounded(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init_bounded(&sem, 2), 0);
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    CHECK_EQ(corio_semaphore_locked(&sem), 1);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), -EOVERFLOW);
    CHECK_EQ(corio_semaphore_value(&sem), 2);
    /* Units taken for woken waiters are not free: releasing them back is
     * allowed while the waiters have not run yet. */
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    nresult = 0;
    corio_task *t1 = corio_spawn(take, (void *)1);
    corio_task *t2 = corio_spawn(take, (void *)2);
    yield_n(1);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), -EOVERFLOW);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_bounded_tasks(void) { CHECK_EQ(test_run(m_bounded, NULL, 1), 0); }

/* ---- test_semaphore / test_release_no_waiters ---------------------------------------- */

static int m_semaphore(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 1), 0);
    CHECK_EQ(corio_semaphore_value(&sem), 1);
    CHECK_EQ(corio_semaphore_locked(&sem), 0);
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    CHECK_EQ(corio_semaphore_locked(&sem), 1);
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_locked(&sem), 0);
    CHECK_EQ(corio_semaphore_value(&sem), 1);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_semaphore(void) { CHECK_EQ(test_run(m_semaphore, NULL, 1), 0); }

/* ---- test_acquire ---------------------------------------------------------------------- */

static int m_acquire(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 3), 0);
    nresult = 0;
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    CHECK_EQ(corio_semaphore_locked(&sem), 0);

    corio_task *t1 = corio_spawn(take, (void *)1);
    corio_task *t2 = corio_spawn(take, (void *)2);
    corio_task *t3 = corio_spawn(take, (void *)3);
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 1);
    CHECK_EQ(corio_semaphore_locked(&sem), 1);
    CHECK_EQ(nwaiters(&sem), 2);
    CHECK_EQ(corio_semaphore_value(&sem), 0);

    corio_task *t4 = corio_spawn(take, (void *)4);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_value(&sem), 0);

    yield_n(1);
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    CHECK_EQ(nresult, 3);
    CHECK_EQ(corio_semaphore_locked(&sem), 1);
    CHECK_EQ(nwaiters(&sem), 1);
    /* CPython only counts two of t2..t4 done; 3.13 finishes t2 and t3. */
    CHECK_EQ(corio_task_done(t1), 1);
    CHECK_EQ(corio_task_done(t2), 1);
    CHECK_EQ(corio_task_done(t3), 1);
    CHECK_EQ(corio_task_done(t4), 0);

    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_join(t3), 0);
    CHECK_EQ(corio_join(t4), 0);
    CHECK_EQ(nresult, 4);
    CHECK_EQ(result[1], 2);
    CHECK_EQ(result[2], 3);
    CHECK_EQ(result[3], 4);
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_acquire(void) { CHECK_EQ(test_run(m_acquire, NULL, 1), 0); }

/* ---- test_acquire_cancel ------------------------------------------------------------------ */

static int m_acquire_cancel(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 1), 0);
    nresult = 0;
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    corio_task *t = corio_spawn(take, (void *)1);
    yield_n(1);
    CHECK_EQ(corio_semaphore_destroy(&sem), -EBUSY);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(no_waiters(&sem));
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_value(&sem), 1);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_acquire_cancel(void) { CHECK_EQ(test_run(m_acquire_cancel, NULL, 1), 0); }

/* ---- test_acquire_cancel_before_awoken -------------------------------------------------------- */

static int m_acquire_cancel_before_awoken(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 0), 0);
    nresult = 0;
    corio_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = corio_spawn(take, (void *)(intptr_t)(i + 1));
    yield_n(1);
    CHECK_EQ(corio_cancel(t[0]), 1);
    CHECK_EQ(corio_cancel(t[1]), 1);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    yield_n(2);
    CHECK_EQ(corio_task_done(t[2]), 1);
    CHECK_EQ(corio_task_done(t[3]), 0);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 3);
    CHECK_EQ(corio_cancel(t[2]), 0); /* already done */
    CHECK_EQ(corio_cancel(t[3]), 1);
    yield_n(1);
    CHECK_EQ(corio_join(t[0]), -ECANCELED);
    CHECK_EQ(corio_join(t[1]), -ECANCELED);
    CHECK_EQ(corio_join(t[2]), 0);
    CHECK_EQ(corio_join(t[3]), -ECANCELED);
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_acquire_cancel_before_awoken(void) { CHECK_EQ(test_run(m_acquire_cancel_before_awoken, NULL, 1), 0); }

/* ---- test_acquire_hang ----------------------------------------------------------------------- */

static int m_acquire_hang(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 0), 0);
    nresult = 0;
    corio_task *t1 = corio_spawn(take, (void *)1);
    corio_task *t2 = corio_spawn(take, (void *)2);
    yield_n(1);
    CHECK_EQ(corio_cancel(t1), 1);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    yield_n(2);
    CHECK_EQ(corio_semaphore_locked(&sem), 1);
    CHECK_EQ(corio_task_done(t2), 1);
    CHECK_EQ(corio_join(t1), -ECANCELED);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_acquire_hang(void) { CHECK_EQ(test_run(m_acquire_hang, NULL, 1), 0); }

/* ---- test_acquire_no_hang ---------------------------------------------------------------------- */

static corio_task *nh_t2;

static int nh_c1(void *arg) {
    (void)arg;
    int rc = corio_semaphore_acquire(&sem);
    if (rc < 0) return rc;
    corio_yield();
    corio_semaphore_release(&sem);
    corio_cancel(nh_t2);
    return 0;
}

static int nh_c2(void *arg) {
    (void)arg;
    int rc = corio_semaphore_acquire(&sem);
    if (rc < 0) return rc;
    CHECK(0); /* never gets the unit */
    corio_semaphore_release(&sem);
    return 0;
}

static int m_acquire_no_hang(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 1), 0);
    corio_task *t1 = corio_spawn(nh_c1, NULL);
    nh_t2 = corio_spawn(nh_c2, NULL);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(nh_t2), -ECANCELED);
    /* The unit t2 was woken for came back: acquire does not suspend. */
    CHECK_EQ(corio_semaphore_locked(&sem), 0);
    CHECK_EQ(corio_semaphore_value(&sem), 1);
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_acquire_no_hang(void) { CHECK_EQ(test_run(m_acquire_no_hang, NULL, 1), 0); }

/* ---- a waiter woken and then cancelled before it ran passes its unit on ------------------------ */

static int m_woken_then_cancelled(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 0), 0);
    nresult = 0;
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(take, (void *)(intptr_t)(i + 1));
    yield_n(1);
    CHECK_EQ(corio_semaphore_release(&sem), 0); /* taken for t1 */
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    CHECK_EQ(corio_semaphore_locked(&sem), 1);
    CHECK_EQ(corio_cancel(t[0]), 1);
    yield_n(1);
    CHECK_EQ(corio_task_cancelled(t[0]), 1);
    CHECK_EQ(nresult, 0);
    CHECK_EQ(corio_semaphore_value(&sem), 0); /* given back, then to t2 */
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 2);
    CHECK_EQ(corio_task_done(t[2]), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_join(t[2]), 0);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[1], 3);
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    CHECK_EQ(corio_join(t[0]), -ECANCELED);
    CHECK_EQ(corio_join(t[1]), 0);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_woken_then_cancelled(void) { CHECK_EQ(test_run(m_woken_then_cancelled, NULL, 1), 0); }

/* A cancelled waiter does not make the semaphore count as locked. */
static int m_cancelled_not_locked(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 1), 0);
    nresult = 0;
    CHECK_EQ(corio_semaphore_acquire(&sem), 0);
    corio_task *t = corio_spawn(take, (void *)1);
    yield_n(1);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_locked(&sem), 0);
    CHECK_EQ(corio_semaphore_value(&sem), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_semaphore_locked(&sem), 0);
    CHECK_EQ(corio_semaphore_value(&sem), 1);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_cancelled_not_locked(void) { CHECK_EQ(test_run(m_cancelled_not_locked, NULL, 1), 0); }

/* ---- test_acquire_fifo_order ------------------------------------------------------------------- */

static const char *tags[] = {"c1", "c2", "c3"};

static int fifo_coro(void *arg) {
    int tag = (int)(intptr_t)arg;
    for (int round = 1; round <= 2; round++) {
        int rc = corio_semaphore_acquire(&sem);
        if (rc < 0) return rc;
        result[nresult++] = tag * 10 + round;
        corio_sleep(0.01);
        corio_semaphore_release(&sem);
    }
    return 0;
}

static int m_fifo_order(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 1), 0);
    nresult = 0;
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(fifo_coro, (void *)(intptr_t)(i + 1));
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_join(t[i]), 0);
    static const int want[] = {11, 21, 31, 12, 22, 32};
    CHECK_EQ(nresult, 6);
    for (int i = 0; i < 6; i++) {
        if (result[i] != want[i]) fprintf(stderr, "at %d: %s_%d\n", i, tags[result[i] / 10 - 1], result[i] % 10);
        CHECK_EQ(result[i], want[i]);
    }
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_fifo_order(void) { CHECK_EQ(test_run(m_fifo_order, NULL, 1), 0); }

/* ---- test_acquire_fifo_order_2 ------------------------------------------------------------------ */

static int f2_c2(void *arg) {
    (void)arg;
    int rc = corio_semaphore_acquire(&sem);
    if (rc < 0) return rc;
    result[nresult++] = 2;
    corio_semaphore_release(&sem);
    rc = corio_semaphore_acquire(&sem);
    if (rc < 0) return rc;
    result[nresult++] = 4;
    return 0;
}

static int m_fifo_order_2(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 1), 0);
    nresult = 0;
    corio_task *t1 = corio_spawn(take, (void *)1);
    corio_task *t2 = corio_spawn(f2_c2, NULL);
    corio_task *t3 = corio_spawn(take, (void *)3);
    yield_n(1);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_join(t3), 0);
    CHECK_EQ(nresult, 4);
    for (int i = 0; i < 4; i++) CHECK_EQ(result[i], i + 1);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_fifo_order_2(void) { CHECK_EQ(test_run(m_fifo_order_2, NULL, 1), 0); }

/* ---- test_acquire_fifo_order_3 ------------------------------------------------------------------- */

static int m_fifo_order_3(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 0), 0);
    nresult = 0;
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(take, (void *)(intptr_t)(i + 1));
    yield_n(1);
    CHECK_EQ(corio_cancel(t[0]), 1);
    yield_n(1);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_semaphore_release(&sem), 0);
    CHECK_EQ(corio_join(t[0]), -ECANCELED);
    CHECK_EQ(corio_join(t[1]), 0);
    CHECK_EQ(corio_join(t[2]), 0);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[0], 2);
    CHECK_EQ(result[1], 3);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_fifo_order_3(void) { CHECK_EQ(test_run(m_fifo_order_3, NULL, 1), 0); }

/* ---- test_acquire_fifo_order_4: a successful acquire wakes the others queued by FIFO ------------- */

static corio_task *f4_t4;

static int f4_c4(void *arg) {
    (void)arg;
    result[nresult++] = 4;
    return 0;
}

static int f4_c1(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    int rc = corio_semaphore_acquire(&sem);
    if (rc < 0) return rc;
    /* Every queued task has been woken now. */
    CHECK_EQ(corio_semaphore_value(&sem), 0);
    /* A fourth task: it runs after c3, not after c2. */
    f4_t4 = corio_spawn(f4_c4, NULL);
    result[nresult++] = 1;
    return 0;
}

static int f4_c2(void *arg) {
    (void)arg;
    corio_semaphore_release(&sem);
    corio_semaphore_release(&sem);
    corio_semaphore_release(&sem);
    CHECK_EQ(corio_semaphore_value(&sem), 2);
    /* Locked, because c1 has not woken up yet. */
    CHECK_EQ(corio_semaphore_locked(&sem), 1);
    int rc = corio_semaphore_acquire(&sem);
    if (rc < 0) return rc;
    result[nresult++] = 2;
    return 0;
}

static int f4_c3(void *arg) {
    (void)arg;
    int rc = corio_semaphore_acquire(&sem);
    if (rc < 0) return rc;
    CHECK_EQ(corio_semaphore_locked(&sem), 1);
    result[nresult++] = 3;
    return 0;
}

static int m_fifo_order_4(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init(&sem, 0), 0);
    nresult = 0;
    f4_t4 = NULL;
    corio_task *t1 = corio_spawn(f4_c1, NULL);
    corio_task *t2 = corio_spawn(f4_c2, NULL);
    corio_task *t3 = corio_spawn(f4_c3, NULL);
    yield_n(1);
    /* Three tasks are queued, the first has not woken up yet. */
    CHECK_EQ(corio_semaphore_value(&sem), 2);
    CHECK_EQ(nwaiters(&sem), 3);
    yield_n(1);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_join(t3), 0);
    CHECK(f4_t4 != NULL);
    if (f4_t4) CHECK_EQ(corio_join(f4_t4), 0);
    CHECK_EQ(nresult, 4);
    for (int i = 0; i < 4; i++) CHECK_EQ(result[i], i + 1);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_fifo_order_4(void) { CHECK_EQ(test_run(m_fifo_order_4, NULL, 1), 0); }

/* ---- at most `value` holders under contention ------------------------------------------------------ */

static int holders, max_holders, rounds_done;

static int worker(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 10; i++) {
        int rc = corio_semaphore_acquire(&sem);
        if (rc < 0) return rc;
        holders++;
        if (holders > max_holders) max_holders = holders;
        corio_sleep(0.001 * ((id + i) % 4));
        holders--;
        rounds_done++;
        CHECK_EQ(corio_semaphore_release(&sem), 0);
    }
    return 0;
}

static int m_contention(void *arg) {
    (void)arg;
    CHECK_EQ(corio_semaphore_init_bounded(&sem, 3), 0);
    holders = max_holders = rounds_done = 0;
    corio_task *t[8];
    for (int i = 0; i < 8; i++) t[i] = corio_spawn(worker, (void *)(intptr_t)i);
    for (int i = 0; i < 8; i++) CHECK_EQ(corio_join(t[i]), 0);
    CHECK_EQ(max_holders, 3);
    CHECK_EQ(rounds_done, 80);
    CHECK_EQ(corio_semaphore_value(&sem), 3);
    CHECK_EQ(corio_semaphore_destroy(&sem), 0);
    return 0;
}

static void test_contention(void) { CHECK_EQ(test_run(m_contention, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_bad_input);
    RUN_TEST(test_bounded);
    RUN_TEST(test_bounded_tasks);
    RUN_TEST(test_semaphore);
    RUN_TEST(test_acquire);
    RUN_TEST(test_acquire_cancel);
    RUN_TEST(test_acquire_cancel_before_awoken);
    RUN_TEST(test_acquire_hang);
    RUN_TEST(test_acquire_no_hang);
    RUN_TEST(test_woken_then_cancelled);
    RUN_TEST(test_cancelled_not_locked);
    RUN_TEST(test_fifo_order);
    RUN_TEST(test_fifo_order_2);
    RUN_TEST(test_fifo_order_3);
    RUN_TEST(test_fifo_order_4);
    RUN_TEST(test_contention);
    TEST_MAIN_END();
}
