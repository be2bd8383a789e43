/*
 * test_event.c - corio_event against asyncio.Event (Python 3.13).
 *
 * Ports of CPython's test_locks.py EventTests, plus cancellation cases
 * whose outcomes were checked under asyncio 3.13.
 */
#include "test.h"

static corio_event ev;
static int result[16];
static int nresult;

static int no_waiters(const corio_event *e) { return e->waiters.next == &e->waiters; }

static int waiter(void *arg) {
    int rc = corio_event_wait(&ev);
    if (rc == 0) result[nresult++] = (int)(intptr_t)arg;
    return rc;
}

static void test_bad_input(void) {
    CHECK_EQ(corio_event_init(NULL), -EINVAL);
    CHECK_EQ(corio_event_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_event_set(NULL), -EINVAL);
    CHECK_EQ(corio_event_clear(NULL), -EINVAL);
    CHECK_EQ(corio_event_wait(NULL), -EINVAL);
    CHECK_EQ(corio_event_is_set(NULL), 0);

    corio_event e;
    CHECK_EQ(corio_event_init(&e), 0);
    CHECK_EQ(corio_event_wait(&e), -EPERM); /* outside a task */
    CHECK_EQ(corio_event_set(&e), 0);
    CHECK_EQ(corio_event_wait(&e), -EPERM);
    CHECK_EQ(corio_event_destroy(&e), 0);
}

/* test_clear */
static void test_clear(void) {
    corio_event e;
    CHECK_EQ(corio_event_init(&e), 0);
    CHECK_EQ(corio_event_is_set(&e), 0);
    CHECK_EQ(corio_event_set(&e), 0);
    CHECK_EQ(corio_event_is_set(&e), 1);
    CHECK_EQ(corio_event_set(&e), 0);
    CHECK_EQ(corio_event_is_set(&e), 1);
    CHECK_EQ(corio_event_clear(&e), 0);
    CHECK_EQ(corio_event_is_set(&e), 0);
    CHECK_EQ(corio_event_clear(&e), 0);
    CHECK_EQ(corio_event_is_set(&e), 0);
    CHECK_EQ(corio_event_destroy(&e), 0);
}

/* test_wait: waiters wake in FIFO order, after a task that never waited. */
static int m_wait(void *arg) {
    (void)arg;
    corio_event_init(&ev);
    nresult = 0;
    corio_task *t1 = corio_spawn(waiter, (void *)1);
    corio_task *t2 = corio_spawn(waiter, (void *)2);
    yield_n(1);
    CHECK_EQ(nresult, 0);
    corio_task *t3 = corio_spawn(waiter, (void *)3);
    CHECK_EQ(corio_event_set(&ev), 0);
    yield_n(1);
    CHECK_EQ(nresult, 3);
    CHECK_EQ(result[0], 3);
    CHECK_EQ(result[1], 1);
    CHECK_EQ(result[2], 2);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_join(t3), 0);
    CHECK(no_waiters(&ev));
    CHECK_EQ(corio_event_destroy(&ev), 0);
    return 0;
}

static void test_wait(void) { CHECK_EQ(test_run(m_wait, NULL, 1), 0); }

/* test_wait_on_set: returns at once, without suspending. */
static int m_wait_on_set(void *arg) {
    (void)arg;
    corio_event_init(&ev);
    nresult = 0;
    corio_event_set(&ev);
    corio_task *t = corio_spawn(waiter, (void *)9);
    CHECK_EQ(corio_event_wait(&ev), 0);
    CHECK_EQ(corio_task_done(t), 0); /* we never let t run */
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(corio_event_destroy(&ev), 0);
    return 0;
}

static void test_wait_on_set(void) { CHECK_EQ(test_run(m_wait_on_set, NULL, 1), 0); }

/* test_wait_cancel */
static int m_wait_cancel(void *arg) {
    (void)arg;
    corio_event_init(&ev);
    nresult = 0;
    corio_task *t = corio_spawn(waiter, (void *)1);
    yield_n(1);
    CHECK_EQ(corio_event_destroy(&ev), -EBUSY);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(no_waiters(&ev));
    CHECK_EQ(nresult, 0);
    CHECK_EQ(corio_event_destroy(&ev), 0);
    return 0;
}

static void test_wait_cancel(void) { CHECK_EQ(test_run(m_wait_cancel, NULL, 1), 0); }

/* test_clear_with_waiters: set then clear still wakes the waiter. */
static int m_clear_with_waiters(void *arg) {
    (void)arg;
    corio_event_init(&ev);
    nresult = 0;
    corio_task *t = corio_spawn(waiter, (void *)1);
    yield_n(1);
    CHECK_EQ(nresult, 0);
    corio_event_set(&ev);
    corio_event_clear(&ev);
    CHECK_EQ(corio_event_is_set(&ev), 0);
    corio_event_set(&ev);
    corio_event_set(&ev);
    CHECK(!no_waiters(&ev)); /* still queued until it runs */
    yield_n(1);
    CHECK_EQ(nresult, 1);
    CHECK(no_waiters(&ev));
    CHECK_EQ(corio_task_done(t), 1);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_event_destroy(&ev), 0);
    return 0;
}

static void test_clear_with_waiters(void) { CHECK_EQ(test_run(m_clear_with_waiters, NULL, 1), 0); }

/* Several waiters, one cancelled while waiting and one cancelled after
 * set() woke it but before it ran: the others are woken regardless. */
static int m_set_with_cancelled(void *arg) {
    (void)arg;
    corio_event_init(&ev);
    nresult = 0;
    corio_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = corio_spawn(waiter, (void *)(intptr_t)(i + 1));
    yield_n(1);
    CHECK_EQ(corio_cancel(t[1]), 1);
    CHECK_EQ(corio_event_set(&ev), 0);
    CHECK_EQ(corio_cancel(t[2]), 1); /* its wake-up is delivered already */
    yield_n(1);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[0], 1);
    CHECK_EQ(result[1], 4);
    CHECK_EQ(corio_join(t[0]), 0);
    CHECK_EQ(corio_join(t[1]), -ECANCELED);
    CHECK_EQ(corio_join(t[2]), -ECANCELED);
    CHECK_EQ(corio_join(t[3]), 0);
    CHECK(no_waiters(&ev));
    CHECK_EQ(corio_event_destroy(&ev), 0);
    return 0;
}

static void test_set_with_cancelled(void) { CHECK_EQ(test_run(m_set_with_cancelled, NULL, 1), 0); }

/* Set / clear cycles: waiters that come after a clear wait for the next set. */
static int m_cycles(void *arg) {
    (void)arg;
    corio_event_init(&ev);
    nresult = 0;
    corio_task *a = corio_spawn(waiter, (void *)1);
    yield_n(1);
    corio_event_set(&ev);
    corio_event_clear(&ev);
    corio_task *b = corio_spawn(waiter, (void *)2);
    yield_n(2);
    CHECK_EQ(nresult, 1);
    CHECK_EQ(result[0], 1);
    CHECK_EQ(corio_task_done(b), 0);
    CHECK_EQ(corio_sleep(1.0), 0);
    CHECK_EQ(corio_task_done(b), 0);
    corio_event_set(&ev);
    CHECK_EQ(corio_join(b), 0);
    CHECK_EQ(nresult, 2);
    CHECK_EQ(result[1], 2);
    CHECK_EQ(corio_join(a), 0);
    CHECK_EQ(corio_event_destroy(&ev), 0);
    return 0;
}

static void test_cycles(void) { CHECK_EQ(test_run(m_cycles, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_bad_input);
    RUN_TEST(test_clear);
    RUN_TEST(test_wait);
    RUN_TEST(test_wait_on_set);
    RUN_TEST(test_wait_cancel);
    RUN_TEST(test_clear_with_waiters);
    RUN_TEST(test_set_with_cancelled);
    RUN_TEST(test_cycles);
    TEST_MAIN_END();
}
