/*
 * test_wait.c - corio_wait, ported from the wait parts of CPython's
 * Lib/test/test_asyncio/test_tasks.py (3.13).  Each expected outcome was
 * checked against asyncio 3.13 on a virtual-time loop.
 */
#include "test.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-6)

typedef struct job {
    double d;
    int v;
} job;

static int sleep_then(void *arg) {
    job *j = arg;
    int rc = corio_sleep(j->d);
    return rc < 0 ? rc : j->v;
}

/* test_wait: ALL_COMPLETED; done lists both in argument order; doing it
 * again over done futures takes no time. */
static int wait_main(void *arg) {
    (void)arg;
    job ja = {0.1, 1}, jb = {0.15, 2};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(sleep_then, &jb);
    corio_future *fs[2] = {corio_task_future(b), corio_task_future(a)};
    corio_future *done[2] = {0}, *pending[2] = {0};
    CHECK_EQ(corio_wait(fs, 2, CORIO_ALL_COMPLETED, INFINITY, done, pending), 2);
    CHECK(done[0] == fs[0] && done[1] == fs[1]); /* argument order */
    CHECK(NEAR(corio_time(), 0.15));
    CHECK_EQ(corio_wait(fs, 2, CORIO_ALL_COMPLETED, INFINITY, done, pending), 2);
    CHECK(NEAR(corio_time(), 0.15));
    CHECK_EQ(corio_join(a), 1);
    CHECK_EQ(corio_join(b), 2);
    return 0;
}
static void test_wait(void) { CHECK_EQ(test_run(wait_main, NULL, 1), 0); }

/* test_wait_first_completed */
static int first_completed_main(void *arg) {
    (void)arg;
    job ja = {10, 1}, jb = {0.1, 2};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(sleep_then, &jb);
    corio_future *fs[2] = {corio_task_future(b), corio_task_future(a)};
    corio_future *done[2] = {0}, *pending[2] = {0};
    CHECK_EQ(corio_wait(fs, 2, CORIO_FIRST_COMPLETED, INFINITY, done, pending), 1);
    CHECK(done[0] == fs[0]);
    CHECK(pending[0] == fs[1]);
    CHECK(!corio_task_done(a));
    CHECK(corio_task_done(b));
    CHECK(NEAR(corio_time(), 0.1));
    CHECK_EQ(corio_join(a), 1); /* never cancelled by wait */
    CHECK_EQ(corio_join(b), 2);
    return 0;
}
static void test_wait_first_completed(void) { CHECK_EQ(test_run(first_completed_main, NULL, 1), 0); }

/* test_wait_really_done: both finish before the waiter resumes. */
static int coro1(void *arg) {
    (void)arg;
    return corio_sleep(0);
}
static int coro2(void *arg) {
    (void)arg;
    corio_sleep(0);
    return corio_sleep(0);
}
static int really_done_main(void *arg) {
    (void)arg;
    corio_task *a = corio_spawn(coro1, NULL), *b = corio_spawn(coro2, NULL);
    corio_future *fs[2] = {corio_task_future(b), corio_task_future(a)};
    corio_future *done[2] = {0}, *pending[2] = {0};
    CHECK_EQ(corio_wait(fs, 2, CORIO_FIRST_COMPLETED, INFINITY, done, pending), 2);
    CHECK(done[0] == fs[0] && done[1] == fs[1]);
    CHECK_EQ(corio_join(a), 0);
    CHECK_EQ(corio_join(b), 0);
    return 0;
}
static void test_wait_really_done(void) { CHECK_EQ(test_run(really_done_main, NULL, 1), 0); }

/* test_wait_first_exception: one task fails at once. */
static int fail_now(void *arg) {
    (void)arg;
    return -EDOM;
}
static int first_exception_main(void *arg) {
    (void)arg;
    job ja = {10, 1};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(fail_now, NULL);
    corio_future *fs[2] = {corio_task_future(b), corio_task_future(a)};
    corio_future *done[2] = {0}, *pending[2] = {0};
    CHECK_EQ(corio_wait(fs, 2, CORIO_FIRST_EXCEPTION, INFINITY, done, pending), 1);
    CHECK(done[0] == fs[0]);
    CHECK(pending[0] == fs[1]);
    CHECK(NEAR(corio_time(), 0));
    CHECK_EQ(corio_cancel(a), 1);
    CHECK_EQ(corio_join(a), -ECANCELED);
    CHECK_EQ(corio_join(b), -EDOM);
    return 0;
}
static void test_wait_first_exception(void) { CHECK_EQ(test_run(first_exception_main, NULL, 1), 0); }

/* test_wait_first_exception_in_wait */
static int first_exception_in_wait_main(void *arg) {
    (void)arg;
    job ja = {10, 1}, jb = {0.01, -EDOM};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(sleep_then, &jb);
    corio_future *fs[2] = {corio_task_future(b), corio_task_future(a)};
    corio_future *done[2] = {0}, *pending[2] = {0};
    CHECK_EQ(corio_wait(fs, 2, CORIO_FIRST_EXCEPTION, INFINITY, done, pending), 1);
    CHECK(done[0] == fs[0]);
    CHECK(pending[0] == fs[1]);
    CHECK(NEAR(corio_time(), 0.01));
    CHECK_EQ(corio_cancel(a), 1);
    CHECK_EQ(corio_join(a), -ECANCELED);
    CHECK_EQ(corio_join(b), -EDOM);
    return 0;
}
static void test_wait_first_exception_in_wait(void) { CHECK_EQ(test_run(first_exception_in_wait_main, NULL, 1), 0); }

/* FIRST_EXCEPTION: a cancelled future does not count; it returns at the
 * first real error; and when none fails, once all are done. */
static void cancel_fut_cb(void *arg) { corio_future_cancel(arg); }
static void set_err_cb(void *arg) { corio_future_set_error(arg, -EIO); }
static void set_res_cb(void *arg) { corio_future_set_result(arg, 1); }

static int first_exception_cancelled_main(void *arg) {
    (void)arg;
    corio_future f1, f2, f3;
    corio_handle h1 = {0}, h2 = {0};
    CHECK_EQ(corio_future_init(&f1, NULL), 0);
    CHECK_EQ(corio_future_init(&f2, NULL), 0);
    CHECK_EQ(corio_future_init(&f3, NULL), 0);
    CHECK_EQ(corio_call_later(&h1, 0.1, cancel_fut_cb, &f1), 0);
    CHECK_EQ(corio_call_later(&h2, 0.2, set_err_cb, &f2), 0);
    corio_future *fs[3] = {&f1, &f2, &f3};
    corio_future *done[3] = {0}, *pending[3] = {0};
    CHECK_EQ(corio_wait(fs, 3, CORIO_FIRST_EXCEPTION, INFINITY, done, pending), 2);
    CHECK(done[0] == &f1 && done[1] == &f2);
    CHECK(pending[0] == &f3);
    CHECK(NEAR(corio_time(), 0.2));

    CHECK_EQ(corio_future_init(&f1, NULL), 0);
    CHECK_EQ(corio_future_init(&f2, NULL), 0);
    CHECK_EQ(corio_call_later(&h1, 0.1, cancel_fut_cb, &f1), 0);
    CHECK_EQ(corio_call_later(&h2, 0.2, set_res_cb, &f2), 0);
    CHECK_EQ(corio_wait(fs, 2, CORIO_FIRST_EXCEPTION, INFINITY, done, pending), 2);
    CHECK(NEAR(corio_time(), 0.4));
    CHECK_EQ(corio_future_cancel(&f3), 1);
    return 0;
}
static void test_wait_first_exception_cancelled_does_not_count(void) {
    CHECK_EQ(test_run(first_exception_cancelled_main, NULL, 1), 0);
}

/* test_wait_with_exception: ALL_COMPLETED with one failure; wait itself succeeds. */
static int with_exception_main(void *arg) {
    (void)arg;
    job ja = {0.1, 1}, jb = {0.15, -EDOM};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(sleep_then, &jb);
    corio_future *fs[2] = {corio_task_future(b), corio_task_future(a)};
    corio_future *done[2] = {0};
    CHECK_EQ(corio_wait(fs, 2, CORIO_ALL_COMPLETED, INFINITY, done, NULL), 2);
    int errors = 0;
    for (int i = 0; i < 2; i++)
        if (corio_future_result(done[i], NULL) < 0) errors++;
    CHECK_EQ(errors, 1);
    CHECK(NEAR(corio_time(), 0.15));
    CHECK_EQ(corio_join(a), 1);
    CHECK_EQ(corio_join(b), -EDOM);
    return 0;
}
static void test_wait_with_exception(void) { CHECK_EQ(test_run(with_exception_main, NULL, 1), 0); }

/* test_wait_with_timeout: the timeout returns what is done; nothing is cancelled. */
static int with_timeout_main(void *arg) {
    (void)arg;
    job ja = {0.1, 1}, jb = {0.15, 2};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(sleep_then, &jb);
    corio_future *fs[2] = {corio_task_future(b), corio_task_future(a)};
    corio_future *done[2] = {0}, *pending[2] = {0};
    CHECK_EQ(corio_wait(fs, 2, CORIO_ALL_COMPLETED, 0.11, done, pending), 1);
    CHECK(done[0] == fs[1]);
    CHECK(pending[0] == fs[0]);
    CHECK(NEAR(corio_time(), 0.11));
    CHECK(!corio_task_cancelled(b));
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(corio_join(a), 1);
    CHECK_EQ(corio_join(b), 2);
    return 0;
}
static void test_wait_with_timeout(void) { CHECK_EQ(test_run(with_timeout_main, NULL, 1), 0); }

/* test_wait_concurrent_complete: a's deadline equals the timeout.  When the
 * tasks have started (their timers are older than wait's), a is done;
 * when wait arms its timer first, a has not resumed yet: nothing is done. */
static int concurrent_main(void *arg) {
    int started = *(int *)arg;
    job ja = {0.1, 1}, jb = {0.15, 2};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(sleep_then, &jb);
    if (started) CHECK_EQ(corio_sleep(0), 0);
    corio_future *fs[2] = {corio_task_future(b), corio_task_future(a)};
    corio_future *done[2] = {0}, *pending[2] = {0};
    int nd = corio_wait(fs, 2, CORIO_ALL_COMPLETED, 0.1, done, pending);
    if (started) {
        CHECK_EQ(nd, 1);
        CHECK(done[0] == fs[1]);
        CHECK(pending[0] == fs[0]);
    } else {
        CHECK_EQ(nd, 0);
        CHECK(pending[0] == fs[0] && pending[1] == fs[1]);
    }
    CHECK(NEAR(corio_time(), 0.1));
    CHECK_EQ(corio_join(a), 1);
    CHECK_EQ(corio_join(b), 2);
    return 0;
}
static void test_wait_concurrent_complete(void) {
    int s = 1;
    CHECK_EQ(test_run(concurrent_main, &s, 1), 0);
    s = 0;
    CHECK_EQ(test_run(concurrent_main, &s, 1), 0);
}

/* A plain future completed by a timer due with the timeout, queued first: done. */
static int same_instant_main(void *arg) {
    (void)arg;
    corio_future f;
    corio_handle h = {0};
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_call_later(&h, 0.1, set_res_cb, &f), 0);
    corio_future *fs[1] = {&f};
    CHECK_EQ(corio_wait(fs, 1, CORIO_ALL_COMPLETED, 0.1, NULL, NULL), 1);
    return 0;
}
static void test_wait_timeout_same_instant(void) { CHECK_EQ(test_run(same_instant_main, NULL, 1), 0); }

/* Like asyncio, wait always suspends once, even when everything is done. */
static int other_ran;
static int mark_other(void *arg) {
    (void)arg;
    other_ran = 1;
    return 0;
}
static int suspends_main(void *arg) {
    (void)arg;
    corio_future f, g;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_future_init(&g, NULL), 0);
    CHECK_EQ(corio_future_set_result(&f, 1), 0);
    other_ran = 0;
    corio_task *o = corio_spawn(mark_other, NULL);
    corio_future *fs[2] = {&f, &g};
    corio_future *done[2] = {0}, *pending[2] = {0};
    CHECK_EQ(corio_wait(fs, 2, CORIO_FIRST_COMPLETED, INFINITY, done, pending), 1);
    CHECK(other_ran);
    CHECK(done[0] == &f && pending[0] == &g);
    CHECK_EQ(corio_join(o), 0);
    CHECK_EQ(corio_future_cancel(&g), 1);
    return 0;
}
static void test_wait_always_suspends(void) { CHECK_EQ(test_run(suspends_main, NULL, 1), 0); }

/* timeout 0: nothing pending gets a chance; nothing is cancelled. */
static int timeout_zero_main(void *arg) {
    (void)arg;
    corio_future f;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    corio_future *fs[1] = {&f};
    corio_future *pending[1] = {0};
    CHECK_EQ(corio_wait(fs, 1, CORIO_ALL_COMPLETED, 0, NULL, pending), 0);
    CHECK(pending[0] == &f);
    CHECK(!corio_future_cancelled(&f));
    CHECK_EQ(corio_wait(fs, 1, CORIO_ALL_COMPLETED, -1, NULL, NULL), 0);
    CHECK_EQ(corio_future_cancel(&f), 1);
    return 0;
}
static void test_wait_timeout_zero(void) { CHECK_EQ(test_run(timeout_zero_main, NULL, 1), 0); }

/* test_yield_wait_does_not_shield_cancel: cancelling the waiting task makes
 * wait return -ECANCELED at once; the futures are left alone. */
typedef struct ywait {
    corio_future waiter;
    int proof;
} ywait;

static int yw_inner(void *arg) {
    ywait *s = arg;
    int rc = corio_await(&s->waiter, NULL);
    if (rc < 0) return rc;
    s->proof += 1;
    return 0;
}
static int yw_outer(void *arg) {
    ywait *s = arg;
    corio_task *in = corio_spawn(yw_inner, s);
    corio_future *f = corio_task_future(in);
    int rc = corio_wait(&f, 1, CORIO_ALL_COMPLETED, INFINITY, NULL, NULL);
    corio_task_detach(in);
    if (rc < 0) return rc;
    s->proof += 100;
    return 0;
}
static int yield_wait_main(void *arg) {
    (void)arg;
    ywait s = {.proof = 0};
    CHECK_EQ(corio_future_init(&s.waiter, NULL), 0);
    corio_task *f = corio_spawn(yw_outer, &s);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(f), 1);
    CHECK_EQ(corio_join(f), -ECANCELED);
    CHECK(!corio_future_done(&s.waiter));
    CHECK_EQ(corio_future_set_result(&s.waiter, 0), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(s.proof, 1);
    return 0;
}
static void test_yield_wait_does_not_shield_cancel(void) { CHECK_EQ(test_run(yield_wait_main, NULL, 1), 0); }

/* Many futures (more than the on-stack array), with pending ones listed in order. */
static int many_main(void *arg) {
    (void)arg;
    enum { N = 40 };
    corio_future fs_[N];
    corio_future *fs[N], *done[N], *pending[N];
    for (int i = 0; i < N; i++) {
        fs[i] = &fs_[i];
        CHECK_EQ(corio_future_init(fs[i], NULL), 0);
        if (i % 3 == 0) CHECK_EQ(corio_future_set_result(fs[i], i), 0);
    }
    int nd = corio_wait(fs, N, CORIO_ALL_COMPLETED, 0.5, done, pending);
    CHECK_EQ(nd, 14);
    for (int i = 0; i < nd; i++) CHECK(done[i] == fs[3 * i]);
    int k = 0;
    for (int i = 0; i < N; i++)
        if (i % 3) CHECK(pending[k++] == fs[i]);
    for (int i = 0; i < N; i++)
        if (i % 3) CHECK_EQ(corio_future_cancel(fs[i]), 1);
    return 0;
}
static void test_wait_many(void) { CHECK_EQ(test_run(many_main, NULL, 1), 0); }

/* test_wait_errors / test_wait_invalid_args */
static int args_main(void *arg) {
    (void)arg;
    corio_future f;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    corio_future *fs[2] = {&f, NULL};
    CHECK_EQ(corio_wait(fs, 0, CORIO_ALL_COMPLETED, INFINITY, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(NULL, 1, CORIO_ALL_COMPLETED, INFINITY, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(fs, 1, -1, INFINITY, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(fs, 1, 0, INFINITY, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(fs, 1, CORIO_ALL_COMPLETED, NAN, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(fs, 2, CORIO_ALL_COMPLETED, INFINITY, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_future_cancel(&f), 1);
    return 0;
}
static void test_wait_errors(void) {
    CHECK_EQ(test_run(args_main, NULL, 1), 0);
    corio_future *fs[1] = {NULL};
    CHECK_EQ(corio_wait(fs, 1, CORIO_ALL_COMPLETED, INFINITY, NULL, NULL), -EPERM);
}

int main(void) {
    RUN_TEST(test_wait);
    RUN_TEST(test_wait_first_completed);
    RUN_TEST(test_wait_really_done);
    RUN_TEST(test_wait_first_exception);
    RUN_TEST(test_wait_first_exception_in_wait);
    RUN_TEST(test_wait_first_exception_cancelled_does_not_count);
    RUN_TEST(test_wait_with_exception);
    RUN_TEST(test_wait_with_timeout);
    RUN_TEST(test_wait_concurrent_complete);
    RUN_TEST(test_wait_timeout_same_instant);
    RUN_TEST(test_wait_always_suspends);
    RUN_TEST(test_wait_timeout_zero);
    RUN_TEST(test_yield_wait_does_not_shield_cancel);
    RUN_TEST(test_wait_many);
    RUN_TEST(test_wait_errors);
    TEST_MAIN_END();
}
