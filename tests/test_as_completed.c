/*
 * test_as_completed.c - corio_as_completed_*, ported from the as_completed
 * parts of CPython's Lib/test/test_asyncio/test_tasks.py (3.13).  Each
 * expected outcome was checked against asyncio 3.13 on a virtual-time loop.
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

static intptr_t value_of(corio_future *f) {
    intptr_t v = -999;
    int rc = corio_future_result(f, &v);
    return rc < 0 ? rc : v;
}

/* test_as_completed: in the order they finish. */
static int order_main(void *arg) {
    (void)arg;
    job jobs[3] = {{0.3, 3}, {0.1, 1}, {0.2, 2}};
    corio_task *t[3];
    corio_future *f[3];
    for (int i = 0; i < 3; i++) {
        t[i] = corio_spawn(sleep_then, &jobs[i]);
        f[i] = corio_task_future(t[i]);
    }
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, f, 3, INFINITY), 0);
    corio_future *out = NULL;
    for (int k = 1; k <= 3; k++) {
        CHECK_EQ(corio_as_completed_next(&it, &out), 1);
        CHECK_EQ(value_of(out), k);
        CHECK(NEAR(corio_time(), 0.1 * k));
    }
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    for (int i = 0; i < 3; i++) corio_join(t[i]);
    return 0;
}
static void test_as_completed(void) { CHECK_EQ(test_run(order_main, NULL, 1), 0); }

/* test_as_completed_same_tasks_in_as_out: the futures handed out are the
 * ones passed in. */
static int ret_arg(void *arg) { return (int)(intptr_t)arg; }
static int same_main(void *arg) {
    (void)arg;
    corio_task *t[4];
    corio_future *f[4];
    for (int i = 0; i < 4; i++) {
        t[i] = corio_spawn(ret_arg, (void *)(intptr_t)i);
        f[i] = corio_task_future(t[i]);
    }
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, f, 4, INFINITY), 0);
    int seen = 0;
    corio_future *out;
    while (corio_as_completed_next(&it, &out) == 1) {
        int i = (int)value_of(out);
        CHECK(i >= 0 && i < 4 && out == f[i]);
        seen |= 1 << i;
    }
    CHECK_EQ(seen, 15);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    for (int i = 0; i < 4; i++) CHECK_EQ(corio_join(t[i]), i);
    return 0;
}
static void test_as_completed_same_futures_in_as_out(void) { CHECK_EQ(test_run(same_main, NULL, 1), 0); }

/* test_as_completed_with_timeout: the finished one is handed out, then
 * -ETIMEDOUT at the deadline; the unfinished one keeps running. */
static int with_timeout_main(void *arg) {
    (void)arg;
    job ja = {0.1, 1}, jb = {0.15, 2};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(sleep_then, &jb);
    corio_future *f[2] = {corio_task_future(a), corio_task_future(b)};
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, f, 2, 0.12), 0);
    corio_future *out = NULL;
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == f[0]);
    CHECK_EQ(corio_as_completed_next(&it, &out), -ETIMEDOUT);
    CHECK(NEAR(corio_time(), 0.12));
    CHECK(!corio_task_done(b));
    CHECK(!corio_task_cancelled(b));
    /* One TimeoutError per unfinished future (b), then the end, as
     * asyncio 3.13: [a, Timeout] and StopAsyncIteration. */
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_join(a), 1);
    CHECK_EQ(corio_join(b), 2);
    return 0;
}
static void test_as_completed_with_timeout(void) { CHECK_EQ(test_run(with_timeout_main, NULL, 1), 0); }

/* Futures that finished before the deadline are handed out even when the
 * consumer asks only after it; then -ETIMEDOUT. */
static int slow_consumer_main(void *arg) {
    (void)arg;
    job ja = {0.1, 1}, jb = {0.2, 2}, jc = {1, 3};
    corio_task *a = corio_spawn(sleep_then, &ja), *b = corio_spawn(sleep_then, &jb),
               *c = corio_spawn(sleep_then, &jc);
    corio_future *f[3] = {corio_task_future(a), corio_task_future(b), corio_task_future(c)};
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, f, 3, 0.5), 0);
    CHECK_EQ(corio_sleep(0.6), 0);
    corio_future *out = NULL;
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == f[0]);
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == f[1]);
    CHECK_EQ(corio_as_completed_next(&it, &out), -ETIMEDOUT);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_join(a), 1);
    CHECK_EQ(corio_join(b), 2);
    CHECK_EQ(corio_join(c), 3);
    return 0;
}
static void test_as_completed_timeout_after_finished_ones(void) { CHECK_EQ(test_run(slow_consumer_main, NULL, 1), 0); }

/* test_as_completed_with_unused_timeout: the deadline goes away with the
 * last future; the loop closes clean. */
static int unused_timeout_main(void *arg) {
    (void)arg;
    job ja = {0.01, 7};
    corio_task *a = corio_spawn(sleep_then, &ja);
    corio_future *f = corio_task_future(a);
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, &f, 1, 1), 0);
    corio_future *out = NULL;
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK_EQ(value_of(out), 7);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_sleep(2), 0);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_join(a), 7);
    return 0;
}
static void test_as_completed_with_unused_timeout(void) { CHECK_EQ(test_run(unused_timeout_main, NULL, 1), 0); }

/* test_as_completed_resume_iterator: stopping after two and going on later. */
static int resume_main(void *arg) {
    (void)arg;
    corio_task *t[4];
    corio_future *f[4];
    for (int i = 0; i < 4; i++) {
        t[i] = corio_spawn(ret_arg, (void *)(intptr_t)i);
        f[i] = corio_task_future(t[i]);
    }
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, f, 4, INFINITY), 0);
    corio_future *out;
    int seen = 0, n = 0;
    while (n < 2 && corio_as_completed_next(&it, &out) == 1) {
        seen |= 1 << value_of(out);
        n++;
    }
    CHECK_EQ(corio_sleep(0.5), 0);
    while (corio_as_completed_next(&it, &out) == 1) {
        seen |= 1 << value_of(out);
        n++;
    }
    CHECK_EQ(n, 4);
    CHECK_EQ(seen, 15);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    for (int i = 0; i < 4; i++) corio_join(t[i]);
    return 0;
}
static void test_as_completed_resume_iterator(void) { CHECK_EQ(test_run(resume_main, NULL, 1), 0); }

/* Done, failed and cancelled futures are all handed out (in the order
 * their completions were seen: argument order for already-done ones). */
static int outcomes_main(void *arg) {
    (void)arg;
    corio_future f1, f2, f3;
    CHECK_EQ(corio_future_init(&f1, NULL), 0);
    CHECK_EQ(corio_future_init(&f2, NULL), 0);
    CHECK_EQ(corio_future_init(&f3, NULL), 0);
    CHECK_EQ(corio_future_set_result(&f1, 1), 0);
    CHECK_EQ(corio_future_set_error(&f2, -EIO), 0);
    CHECK_EQ(corio_future_cancel(&f3), 1);
    corio_future *f[3] = {&f3, &f1, &f2};
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, f, 3, INFINITY), 0);
    corio_future *out;
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == &f3);
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == &f1);
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == &f2);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    return 0;
}
static void test_as_completed_outcomes(void) { CHECK_EQ(test_run(outcomes_main, NULL, 1), 0); }

/* A timeout of 0 over done futures: their completions are seen before the
 * deadline (asyncio: the done-callbacks run before the timer). */
static int zero_timeout_done_main(void *arg) {
    (void)arg;
    corio_future f1;
    CHECK_EQ(corio_future_init(&f1, NULL), 0);
    CHECK_EQ(corio_future_set_result(&f1, 1), 0);
    corio_future *f = &f1;
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, &f, 1, 0), 0);
    corio_future *out;
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    return 0;
}
static void test_as_completed_zero_timeout_done(void) { CHECK_EQ(test_run(zero_timeout_done_main, NULL, 1), 0); }

/* Close mid-way: what is still running is left alone; nothing fires later. */
static int close_midway_main(void *arg) {
    (void)arg;
    job jobs[3] = {{0.1, 1}, {0.2, 2}, {0.3, 3}};
    corio_task *t[3];
    corio_future *f[3];
    for (int i = 0; i < 3; i++) {
        t[i] = corio_spawn(sleep_then, &jobs[i]);
        f[i] = corio_task_future(t[i]);
    }
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, f, 3, 0.25), 0);
    corio_future *out;
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == f[0]);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    /* Everything finishes (and the deadline passes) after the close. */
    CHECK_EQ(corio_sleep(1), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_join(t[i]), i + 1);
    CHECK_EQ(corio_as_completed_close(&it), 0); /* a second close is harmless */
    return 0;
}
static void test_as_completed_close_midway(void) { CHECK_EQ(test_run(close_midway_main, NULL, 1), 0); }

/* Close while a finished future's callback is still queued (completed in
 * this iteration, not yet seen). */
static int close_queued_main(void *arg) {
    (void)arg;
    corio_future f1, f2;
    CHECK_EQ(corio_future_init(&f1, NULL), 0);
    CHECK_EQ(corio_future_init(&f2, NULL), 0);
    corio_future *f[2] = {&f1, &f2};
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, f, 2, INFINITY), 0);
    CHECK_EQ(corio_future_set_result(&f1, 1), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_set_result(&f2, 2), 0);
    CHECK_EQ(corio_sleep(0), 0);
    /* Also right after the iteration ends, with nothing taken. */
    CHECK_EQ(corio_as_completed_init(&it, f, 2, 0.5), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_sleep(1), 0);
    return 0;
}
static void test_as_completed_close_with_queued(void) { CHECK_EQ(test_run(close_queued_main, NULL, 1), 0); }

/* The consumer is cancelled while waiting: -ECANCELED, the futures are left
 * alone, and the iteration can go on afterwards. */
typedef struct consumer {
    corio_as_completed *it;
    corio_future *out;
} consumer;

static int consume(void *arg) {
    consumer *c = arg;
    return corio_as_completed_next(c->it, &c->out);
}
static int cancel_consumer_main(void *arg) {
    (void)arg;
    corio_future f1;
    CHECK_EQ(corio_future_init(&f1, NULL), 0);
    corio_future *f = &f1;
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, &f, 1, INFINITY), 0);
    consumer c = {&it, NULL};
    corio_task *t = corio_spawn(consume, &c);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(!corio_future_done(&f1));
    CHECK_EQ(corio_future_set_result(&f1, 4), 0);
    corio_future *out = NULL;
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == &f1);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    return 0;
}
static void test_as_completed_cancel_consumer(void) { CHECK_EQ(test_run(cancel_consumer_main, NULL, 1), 0); }

/* An empty set: 0 at once, with or without a timeout. */
static int empty_main(void *arg) {
    (void)arg;
    corio_as_completed it;
    corio_future *out;
    CHECK_EQ(corio_as_completed_init(&it, NULL, 0, 0.1), 0);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    return 0;
}
static void test_as_completed_empty(void) { CHECK_EQ(test_run(empty_main, NULL, 1), 0); }

/* test_as_completed_invalid_args */
static int args_main(void *arg) {
    (void)arg;
    corio_as_completed it;
    corio_future f1;
    CHECK_EQ(corio_future_init(&f1, NULL), 0);
    corio_future *f[2] = {&f1, NULL};
    CHECK_EQ(corio_as_completed_init(NULL, f, 1, INFINITY), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, NULL, 1, INFINITY), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, f, 1, NAN), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, f, 2, INFINITY), -EINVAL);
    CHECK_EQ(corio_as_completed_close(NULL), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, f, 1, INFINITY), 0);
    CHECK_EQ(corio_as_completed_next(&it, NULL), -EINVAL);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_future_cancel(&f1), 1);
    return 0;
}
static void test_as_completed_invalid_args(void) {
    CHECK_EQ(test_run(args_main, NULL, 1), 0);
    corio_as_completed it;
    corio_future *f[1] = {NULL};
    CHECK_EQ(corio_as_completed_init(&it, f, 0, INFINITY), -EPERM); /* no loop */
}

int main(void) {
    RUN_TEST(test_as_completed);
    RUN_TEST(test_as_completed_same_futures_in_as_out);
    RUN_TEST(test_as_completed_with_timeout);
    RUN_TEST(test_as_completed_timeout_after_finished_ones);
    RUN_TEST(test_as_completed_with_unused_timeout);
    RUN_TEST(test_as_completed_resume_iterator);
    RUN_TEST(test_as_completed_outcomes);
    RUN_TEST(test_as_completed_zero_timeout_done);
    RUN_TEST(test_as_completed_close_midway);
    RUN_TEST(test_as_completed_close_with_queued);
    RUN_TEST(test_as_completed_cancel_consumer);
    RUN_TEST(test_as_completed_empty);
    RUN_TEST(test_as_completed_invalid_args);
    TEST_MAIN_END();
}
