/*
 * test_future.c - corio_future against asyncio.Future (Python 3.13).
 *
 * Ports of CPython's Lib/test/test_asyncio/test_futures.py (states, result,
 * InvalidStateError, cancel, callbacks and their order, remove) and the
 * await-related parts of test_tasks.py.  InvalidStateError is -EINVAL when
 * setting and -EINPROGRESS when reading a pending result.  Every ordering
 * asserted here was checked by running the same scenario under asyncio 3.13.
 */
#include "test.h"

static int lg[256];
static int nlg;
static void reset(void) { nlg = 0; }
static void push(void *arg) { lg[nlg++] = (int)(intptr_t)arg; }

static corio_future *cb_seen_f;
static void fpush(corio_future *f, void *arg) {
    cb_seen_f = f;
    lg[nlg++] = (int)(intptr_t)arg;
}

static corio_loop *new_loop(void) {
    corio_loop *l = corio_loop_new();
    if (!l) exit(1);
    CHECK_EQ(corio_loop_use_virtual_clock(l), 0);
    return l;
}

/* Run the loop for exactly one iteration. */
static void run_once(corio_loop *l) {
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
}

/* ---- states ------------------------------------------------------------------ */

static void test_initial_state(void) {
    corio_future f;
    CHECK_EQ(corio_future_init(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_future_init(&f, NULL), -EPERM); /* no loop runs */
    corio_loop *l = new_loop();
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_done(&f), 0);
    CHECK_EQ(corio_future_cancelled(&f), 0);
    intptr_t v = 99;
    CHECK_EQ(corio_future_result(&f, &v), -EINPROGRESS);
    CHECK_EQ(v, 99);
    CHECK(corio_future_task(&f) == NULL);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

static void test_result(void) {
    corio_loop *l = new_loop();
    corio_future f;
    intptr_t v = 0;
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_set_result(&f, 42), 0);
    CHECK_EQ(corio_future_done(&f), 1);
    CHECK_EQ(corio_future_cancelled(&f), 0);
    CHECK_EQ(corio_future_result(&f, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(corio_future_result(&f, NULL), 0);
    /* InvalidStateError: set twice, set_error or cancel after done. */
    CHECK_EQ(corio_future_set_result(&f, 43), -EINVAL);
    CHECK_EQ(corio_future_set_error(&f, -EIO), -EINVAL);
    CHECK_EQ(corio_future_cancel(&f), 0);
    CHECK_EQ(corio_future_cancelled(&f), 0);
    CHECK_EQ(corio_future_result(&f, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(corio_future_destroy(&f), 0);

    /* A pointer result. */
    static int obj;
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_set_result(&f, (intptr_t)&obj), 0);
    CHECK_EQ(corio_future_result(&f, &v), 0);
    CHECK(v == (intptr_t)&obj);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

static void test_error(void) {
    corio_loop *l = new_loop();
    corio_future f;
    CHECK_EQ(corio_future_init(&f, l), 0);
    /* Not a negative errno, or -ECANCELED (asyncio: TypeError for
     * StopIteration / a class that is not an exception). */
    CHECK_EQ(corio_future_set_error(&f, 0), -EINVAL);
    CHECK_EQ(corio_future_set_error(&f, EIO), -EINVAL);
    CHECK_EQ(corio_future_set_error(&f, -ECANCELED), -EINVAL);
    CHECK_EQ(corio_future_done(&f), 0);
    CHECK_EQ(corio_future_set_error(&f, -EIO), 0);
    CHECK_EQ(corio_future_done(&f), 1);
    CHECK_EQ(corio_future_cancelled(&f), 0);
    intptr_t v = 7;
    CHECK_EQ(corio_future_result(&f, &v), -EIO);
    CHECK_EQ(v, 7);
    CHECK_EQ(corio_future_set_error(&f, -EPIPE), -EINVAL);
    CHECK_EQ(corio_future_set_result(&f, 1), -EINVAL);
    CHECK_EQ(corio_future_result(&f, NULL), -EIO);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

static void test_cancel(void) {
    corio_loop *l = new_loop();
    corio_future f;
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_cancel(&f), 1);
    CHECK_EQ(corio_future_cancelled(&f), 1);
    CHECK_EQ(corio_future_done(&f), 1);
    CHECK_EQ(corio_future_result(&f, NULL), -ECANCELED);
    CHECK_EQ(corio_future_cancel(&f), 0);
    CHECK_EQ(corio_future_set_result(&f, 1), -EINVAL);
    CHECK_EQ(corio_future_set_error(&f, -EIO), -EINVAL);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

static void test_not_a_future(void) {
    corio_future z;
    memset(&z, 0, sizeof z);
    CHECK_EQ(corio_future_set_result(&z, 1), -EINVAL);
    CHECK_EQ(corio_future_set_error(&z, -EIO), -EINVAL);
    CHECK_EQ(corio_future_cancel(&z), -EINVAL);
    CHECK_EQ(corio_future_result(&z, NULL), -EINVAL);
    CHECK_EQ(corio_future_destroy(&z), -EINVAL);
    CHECK_EQ(corio_future_add_done_callback(&z, fpush, NULL), -EINVAL);
    CHECK_EQ(corio_future_remove_done_callback(&z, fpush, NULL), -EINVAL);
    CHECK_EQ(corio_future_set_result(NULL, 1), -EINVAL);
    CHECK_EQ(corio_future_result(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_future_done(NULL), 0);
    CHECK_EQ(corio_future_cancelled(NULL), 0);
    CHECK(corio_future_task(NULL) == NULL);
    /* A destroyed future is no longer one. */
    corio_loop *l = new_loop();
    corio_future f;
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_future_destroy(&f), -EINVAL);
    CHECK_EQ(corio_future_set_result(&f, 1), -EINVAL);
    CHECK_EQ(corio_loop_close(l), 0);
    /* NULL callback. */
    l = new_loop();
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

/* ---- done-callbacks ----------------------------------------------------------- */

static corio_future gf;
static void set_gf(void *arg) {
    push((void *)100);
    CHECK_EQ(corio_future_set_result(&gf, 5), 0);
    push((void *)101);
    CHECK_EQ(corio_call_soon(NULL, push, arg), 0);
}

/* asyncio: ['set', 'after-set', 'x', 'd1', 'd2', 'soon-after-set'] */
static void test_callbacks_order(void) {
    corio_loop *l = new_loop();
    reset();
    CHECK_EQ(corio_future_init(&gf, l), 0);
    CHECK_EQ(corio_future_add_done_callback(&gf, fpush, (void *)1), 0);
    CHECK_EQ(corio_future_add_done_callback(&gf, fpush, (void *)2), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, set_gf, (void *)102), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)103), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &gf), 0);
    CHECK_EQ(corio_future_destroy(&gf), 0);
    static const int want[] = {100, 101, 103, 1, 2, 102};
    CHECK_EQ(nlg, 6);
    for (int i = 0; i < 6 && i < nlg; i++) CHECK_EQ(lg[i], want[i]);
    CHECK(cb_seen_f == &gf);
    CHECK_EQ(corio_loop_close(l), 0);
}

/* A callback added to a done future runs in the next iteration, after what
 * was scheduled before it (asyncio: ['pre', 'late']), never inside add. */
static void test_add_on_done_future(void) {
    corio_loop *l = new_loop();
    corio_future f;
    reset();
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_set_result(&f, 1), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)1), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, fpush, (void *)2), 0);
    CHECK_EQ(nlg, 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)3), 0);
    run_once(l);
    CHECK_EQ(nlg, 3);
    CHECK_EQ(lg[0], 1);
    CHECK_EQ(lg[1], 2);
    CHECK_EQ(lg[2], 3);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

/* A callback that adds callbacks: asyncio ['cbA', 'cbB', 'cbC', 'soonB']. */
static corio_future hf;
static void cb_adds(corio_future *f, void *arg) {
    (void)arg;
    push((void *)1);
    CHECK_EQ(corio_future_add_done_callback(f, fpush, (void *)3), 0);
    CHECK_EQ(corio_call_soon(NULL, push, (void *)4), 0);
}

static void test_callback_adds_callback(void) {
    corio_loop *l = new_loop();
    reset();
    CHECK_EQ(corio_future_init(&hf, l), 0);
    CHECK_EQ(corio_future_add_done_callback(&hf, cb_adds, NULL), 0);
    CHECK_EQ(corio_future_add_done_callback(&hf, fpush, (void *)2), 0);
    CHECK_EQ(corio_future_set_result(&hf, 0), 0);
    CHECK_EQ(nlg, 0); /* callbacks never run inside set_result */
    run_once(l);
    CHECK_EQ(nlg, 2);
    run_once(l);
    CHECK_EQ(nlg, 4);
    static const int want[] = {1, 2, 3, 4};
    for (int i = 0; i < 4 && i < nlg; i++) CHECK_EQ(lg[i], want[i]);
    CHECK_EQ(corio_future_destroy(&hf), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

/* test_futures.py test_remove_done_callback: every registration of (cb, arg)
 * goes, others stay; after completion nothing can be removed any more. */
static void test_remove_done_callback(void) {
    corio_loop *l = new_loop();
    corio_future f;
    reset();
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, fpush, (void *)1), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, fpush, (void *)2), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, fpush, (void *)1), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, fpush, (void *)3), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, fpush, (void *)1), 0);
    CHECK_EQ(corio_future_remove_done_callback(&f, fpush, (void *)1), 3);
    CHECK_EQ(corio_future_remove_done_callback(&f, fpush, (void *)1), 0);
    CHECK_EQ(corio_future_remove_done_callback(&f, fpush, (void *)9), 0);
    CHECK_EQ(corio_future_cancel(&f), 1);
    /* Scheduled already: remove finds nothing and the callbacks still run. */
    CHECK_EQ(corio_future_remove_done_callback(&f, fpush, (void *)2), 0);
    run_once(l);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(lg[0], 2);
    CHECK_EQ(lg[1], 3);
    CHECK_EQ(corio_future_destroy(&f), 0);

    /* Removing all leaves a future that can be destroyed while pending. */
    CHECK_EQ(corio_future_init(&f, l), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, fpush, NULL), 0);
    CHECK_EQ(corio_future_destroy(&f), -EBUSY);
    CHECK_EQ(corio_future_remove_done_callback(&f, fpush, NULL), 1);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

/* ---- await ----------------------------------------------------------------------- */

static corio_future af;
static int aw_rc[8];
static intptr_t aw_val[8];

static int t_waiter(void *arg) {
    int i = (int)(intptr_t)arg;
    push((void *)(intptr_t)(10 + i));
    aw_rc[i] = corio_await(&af, &aw_val[i]);
    push((void *)(intptr_t)(20 + i));
    return 0;
}

static void set_af(void *arg) {
    push((void *)99);
    CHECK_EQ(corio_future_set_result(&af, (intptr_t)arg), 0);
}

static int m_waiters(void *arg) {
    corio_loop *l = arg;
    CHECK_EQ(corio_future_init(&af, NULL), 0);
    CHECK_EQ(corio_future_add_done_callback(&af, fpush, (void *)1), 0);
    corio_task *ts[3];
    for (int i = 0; i < 3; i++) ts[i] = corio_spawn(t_waiter, (void *)(intptr_t)i);
    CHECK_EQ(corio_yield(), 0);
    /* All three wait: the future cannot be destroyed. */
    CHECK_EQ(corio_future_destroy(&af), -EBUSY);
    CHECK_EQ(corio_future_add_done_callback(&af, fpush, (void *)2), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, set_af, (void *)7), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_join(ts[i]), 0);
    CHECK_EQ(corio_future_destroy(&af), 0);
    return 0;
}

/* asyncio: [w0, w1, w2, 'setter', 'cb0', woke0, woke1, woke2, 'cb1'] */
static void test_await_order(void) {
    reset();
    corio_loop *l = new_loop();
    corio_task *t = corio_loop_spawn(l, m_waiters, l, NULL);
    CHECK_EQ(corio_loop_run_until_complete(l, corio_task_future(t)), 0);
    CHECK_EQ(corio_task_detach(t), 0);
    CHECK_EQ(corio_loop_close(l), 0);
    static const int want[] = {10, 11, 12, 99, 1, 20, 21, 22, 2};
    CHECK_EQ(nlg, 9);
    for (int i = 0; i < 9 && i < nlg; i++) CHECK_EQ(lg[i], want[i]);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(aw_rc[i], 0);
        CHECK_EQ(aw_val[i], 7);
    }
}

static corio_loop *other_loop;
static void fail_later(void *arg) { CHECK_EQ(corio_future_set_error(arg, -ECONNRESET), 0); }
static void cancel_later(void *arg) { CHECK_EQ(corio_future_cancel(arg), 1); }

static int m_await(void *arg) {
    (void)arg;
    corio_future f;
    intptr_t v = 0;

    /* A done future: no suspension, nothing else runs in between (asyncio:
     * ['after-await', 'soon']). */
    reset();
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_future_set_result(&f, 3), 0);
    CHECK_EQ(corio_call_soon(NULL, push, (void *)1), 0);
    CHECK_EQ(corio_await(&f, &v), 0);
    CHECK_EQ(v, 3);
    push((void *)2);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(lg[0], 2);
    CHECK_EQ(lg[1], 1);
    CHECK_EQ(corio_future_destroy(&f), 0);

    /* Completed later with an error / cancelled: the outcome is returned. */
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_call_later(NULL, 1, fail_later, &f), 0);
    v = 55;
    CHECK_EQ(corio_await(&f, &v), -ECONNRESET);
    CHECK_EQ(v, 55);
    CHECK(corio_time() == 1);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_call_soon(NULL, cancel_later, &f), 0);
    CHECK_EQ(corio_await(&f, NULL), -ECANCELED);
    CHECK_EQ(corio_future_destroy(&f), 0);

    /* Another loop's future, a non-future. */
    CHECK_EQ(corio_future_init(&f, other_loop), 0);
    CHECK_EQ(corio_await(&f, NULL), -EXDEV);
    CHECK_EQ(corio_future_done(&f), 0);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_await(NULL, NULL), -EINVAL);
    corio_future z;
    memset(&z, 0, sizeof z);
    CHECK_EQ(corio_await(&z, NULL), -EINVAL);

    /* A task's own future. */
    corio_future *mine = corio_task_future(corio_current_task());
    CHECK(corio_future_task(mine) == corio_current_task());
    CHECK_EQ(corio_await(mine, NULL), -EDEADLK);
    CHECK_EQ(corio_future_set_result(mine, 1), -EINVAL); /* a task sets its own result */
    CHECK_EQ(corio_future_set_error(mine, -EIO), -EINVAL);
    return 0;
}

static void test_await(void) {
    corio_future f;
    other_loop = new_loop();
    CHECK_EQ(corio_future_init(&f, other_loop), 0);
    CHECK_EQ(corio_await(&f, NULL), -EPERM); /* outside a task */
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(test_run(m_await, NULL, 1), 0);
    CHECK_EQ(corio_loop_close(other_loop), 0);
}

/* corio_future_cancel on a task's future is Task.cancel. */
static int t_sleeper(void *arg) {
    (void)arg;
    int rc = corio_sleep(10);
    return rc == -ECANCELED ? -ECANCELED : 1;
}
static int m_cancel_task_future(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(t_sleeper, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_future_cancel(corio_task_future(t)), 1);
    CHECK_EQ(corio_task_cancelling(t), 1);
    CHECK_EQ(corio_task_done(t), 0); /* the task finishes later */
    CHECK_EQ(corio_join(t), -ECANCELED);
    return 0;
}
static void test_cancel_task_future(void) { CHECK_EQ(test_run(m_cancel_task_future, NULL, 1), 0); }

/* The future given to a done-callback can be awaited by a task it wakes... and
 * a callback runs with no current task. */
static corio_task *task_in_cb = (corio_task *)1;
static void note_task(corio_future *f, void *arg) {
    (void)f;
    (void)arg;
    task_in_cb = corio_current_task();
}
static int m_cb_context(void *arg) {
    (void)arg;
    corio_future f;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, note_task, NULL), 0);
    CHECK_EQ(corio_future_set_result(&f, 0), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK(task_in_cb == NULL);
    CHECK_EQ(corio_future_destroy(&f), 0);
    return 0;
}
static void test_callback_context(void) { CHECK_EQ(test_run(m_cb_context, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_initial_state);
    RUN_TEST(test_result);
    RUN_TEST(test_error);
    RUN_TEST(test_cancel);
    RUN_TEST(test_not_a_future);
    RUN_TEST(test_callbacks_order);
    RUN_TEST(test_add_on_done_future);
    RUN_TEST(test_callback_adds_callback);
    RUN_TEST(test_remove_done_callback);
    RUN_TEST(test_await_order);
    RUN_TEST(test_await);
    RUN_TEST(test_cancel_task_future);
    RUN_TEST(test_callback_context);
    TEST_MAIN_END();
}
