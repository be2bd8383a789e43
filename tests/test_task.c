/*
 * test_task.c - tasks against asyncio.Task (Python 3.13).
 *
 * Ports of CPython's Lib/test/test_asyncio/test_tasks.py: names
 * (test_task_set_name / default "Task-N"), current_task / all_tasks,
 * cancellation before the first step (test_cancel_task_before_start),
 * while sleeping (test_cancel_sleeping_task), while awaiting a future
 * (test_cancel_inner_future), while awaiting another task
 * (test_cancel_both_task_and_inner_future), a task that absorbs the cancel
 * (test_cancel_task_catching), a cancel right before returning
 * (test_cancel_at_end), cancelling()/uncancel() (test_uncancel_*,
 * 3.13's "uncancel to 0 drops a pending cancel"), and sleep(0) fairness.
 * corio_join plays `await task`; corio_yield plays `await asyncio.sleep(0)`.
 * Every ordering asserted here was checked by running the same scenario
 * under asyncio 3.13; time is asserted only on the virtual clock.
 */
#include "test.h"

static int lg[256];
static int nlg;
static void reset(void) { nlg = 0; }
static void push(int v) {
    if (nlg < 256) lg[nlg++] = v;
}
static void check_log(const int *want, int n) {
    CHECK_EQ(nlg, n);
    for (int i = 0; i < n && i < nlg; i++) {
        if (lg[i] != want[i]) {
            fprintf(stderr, "  log[%d] = %d, want %d\n", i, lg[i], want[i]);
            test_failures++;
        }
    }
}

static int t_ret(void *arg) { return (int)(intptr_t)arg; }
static int t_yield_ret(void *arg) {
    CHECK_EQ(corio_yield(), 0);
    return (int)(intptr_t)arg;
}

/* ---- spawn / join / result ------------------------------------------------- */

static int m_spawn_join(void *arg) {
    (void)arg;
    corio_task *a = corio_spawn(t_yield_ret, (void *)5);
    corio_task *b = corio_spawn(t_ret, (void *)(intptr_t)-EIO);
    CHECK(a && b);
    CHECK_EQ(corio_task_done(a), 0);
    CHECK_EQ(corio_task_result(a), -EINPROGRESS);
    CHECK_EQ(corio_task_cancelled(a), 0);
    CHECK_EQ(corio_join(a), 5);
    /* An error outcome: done, not cancelled. */
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_task_done(b), 1);
    CHECK_EQ(corio_task_cancelled(b), 0);
    CHECK_EQ(corio_task_result(b), -EIO);
    intptr_t v;
    CHECK_EQ(corio_future_result(corio_task_future(b), &v), -EIO);
    CHECK_EQ(corio_join(b), -EIO);
    return 17;
}

static void test_spawn_join(void) {
    CHECK_EQ(test_run(m_spawn_join, NULL, 1), 17);
    /* Outside a loop, and bad input. */
    errno = 0;
    CHECK(corio_spawn(t_ret, NULL) == NULL);
    CHECK_EQ(errno, EPERM);
    corio_loop *l = corio_loop_new();
    errno = 0;
    CHECK(corio_loop_spawn(l, NULL, NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK(corio_loop_spawn(NULL, t_ret, NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    /* A task runs first in the next iteration, never inside spawn. */
    corio_task *t = corio_loop_spawn(l, t_ret, (void *)3, NULL);
    CHECK_EQ(corio_task_done(t), 0);
    CHECK_EQ(corio_join(t), -EPERM); /* outside a task: the reference is kept */
    CHECK_EQ(corio_loop_run_until_complete(l, corio_task_future(t)), 0);
    CHECK_EQ(corio_task_result(t), 3);
    CHECK_EQ(corio_task_detach(t), 0);
    CHECK_EQ(corio_loop_close(l), 0);
    CHECK_EQ(corio_join(NULL), -EINVAL);
    CHECK_EQ(corio_task_detach(NULL), -EINVAL);
    CHECK_EQ(corio_task_ref(NULL), -EINVAL);
    CHECK_EQ(corio_cancel(NULL), -EINVAL);
    CHECK_EQ(corio_task_result(NULL), -EINVAL);
    CHECK_EQ(corio_task_done(NULL), 0);
    CHECK_EQ(corio_task_cancelling(NULL), -EINVAL);
    CHECK_EQ(corio_task_uncancel(NULL), -EINVAL);
    CHECK(strcmp(corio_task_name(NULL), "") == 0);
}

/* ---- names ------------------------------------------------------------------ */

static int m_names(void *arg) {
    (void)arg;
    corio_task *a = corio_spawn(t_ret, NULL);
    corio_task_opts o = {.name = "x"};
    corio_task *b = corio_spawn_opts(t_ret, NULL, &o);
    corio_task *c = corio_spawn(t_ret, NULL);
    unsigned long na = 0, nc = 0;
    CHECK_EQ(sscanf(corio_task_name(a), "Task-%lu", &na), 1);
    CHECK_EQ(sscanf(corio_task_name(c), "Task-%lu", &nc), 1);
    /* asyncio: Task-4 x Task-5 -- a named task does not use up a number. */
    CHECK_EQ(nc, na + 1);
    CHECK(strcmp(corio_task_name(b), "x") == 0);

    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_EQ(corio_task_set_name(a, longname), 0);
    CHECK(strcmp(corio_task_name(a), longname) == 0);
    CHECK_EQ(corio_task_set_name(a, "short"), 0);
    CHECK(strcmp(corio_task_name(a), "short") == 0);
    CHECK_EQ(corio_task_set_name(a, longname + 100), 0);
    CHECK(strcmp(corio_task_name(a), longname + 100) == 0);
    /* asyncio: set_name('') gives '' */
    CHECK_EQ(corio_task_set_name(c, ""), 0);
    CHECK(strcmp(corio_task_name(c), "") == 0);
    CHECK_EQ(corio_task_set_name(c, NULL), -EINVAL);
    CHECK_EQ(corio_task_set_name(NULL, "x"), -EINVAL);
    /* The name given at spawn is copied; long ones too. */
    char buf[64];
    snprintf(buf, sizeof buf, "%s", "a-rather-long-task-name-over-24-bytes");
    o.name = buf;
    corio_task *d = corio_spawn_opts(t_ret, NULL, &o);
    buf[0] = 'X';
    CHECK(strcmp(corio_task_name(d), "a-rather-long-task-name-over-24-bytes") == 0);
    o.name = "";
    corio_task *e = corio_spawn_opts(t_ret, NULL, &o);
    CHECK(strcmp(corio_task_name(e), "") == 0);
    /* The current task's name. */
    CHECK(strcmp(corio_task_name(corio_current_task()), "main-task") == 0);
    corio_join(a);
    corio_join(b);
    corio_join(c);
    corio_join(d);
    corio_join(e);
    return 0;
}

static int m_named(void *arg) {
    corio_task_opts o = {.name = "main-task"};
    corio_task *t = corio_spawn_opts(m_names, arg, &o);
    return corio_join(t);
}

static void test_names(void) { CHECK_EQ(test_run(m_named, NULL, 1), 0); }

/* ---- current_task / all_tasks -------------------------------------------- */

static corio_task *seen_current;
static int t_record_current(void *arg) {
    (void)arg;
    seen_current = corio_current_task();
    CHECK_EQ(corio_yield(), 0);
    CHECK(corio_current_task() == seen_current);
    return 0;
}

static int m_current_all(void *arg) {
    (void)arg;
    corio_task *me = corio_current_task();
    CHECK(me != NULL);
    corio_task *a = corio_spawn(t_record_current, NULL);
    corio_task *b = corio_spawn(t_yield_ret, NULL);
    corio_task *out[8];
    CHECK_EQ(corio_all_tasks(out, 8), 3);
    int found = 0;
    for (int i = 0; i < 3; i++) found += out[i] == me || out[i] == a || out[i] == b;
    CHECK_EQ(found, 3);
    CHECK_EQ(corio_all_tasks(out, 1), 3); /* the count even when cap is smaller */
    CHECK_EQ(corio_all_tasks(NULL, 0), 3);
    CHECK_EQ(corio_join(a), 0);
    CHECK(seen_current == a);
    CHECK(corio_current_task() == me);
    CHECK_EQ(corio_join(b), 0);
    /* Finished tasks are not listed. */
    CHECK_EQ(corio_all_tasks(out, 8), 1);
    CHECK(out[0] == me);
    return 0;
}

static void test_current_and_all_tasks(void) {
    CHECK(corio_current_task() == NULL);
    CHECK_EQ(corio_all_tasks(NULL, 0), 0);
    CHECK_EQ(test_run(m_current_all, NULL, 1), 0);
}

/* ---- join errors, detach, ref ------------------------------------------------- */

static corio_task *joiner_target;
static int second_join_rc;
static int t_join_target(void *arg) {
    (void)arg;
    second_join_rc = corio_join(joiner_target);
    return 0;
}

static int t_join_self(void *arg) {
    (void)arg;
    return corio_join(corio_current_task());
}

static corio_loop *other_loop;

static int m_join_errors(void *arg) {
    (void)arg;
    /* Joining oneself. */
    corio_task *s = corio_spawn(t_join_self, NULL);
    CHECK_EQ(corio_join(s), -EDEADLK);
    CHECK_EQ(corio_join(corio_current_task()), -EDEADLK);

    /* A second join while the first waits: j2 joins the target with our
     * reference, so ours is gone and joining again is refused. */
    joiner_target = corio_spawn(t_yield_ret, (void *)8);
    second_join_rc = 0;
    corio_task *j2 = corio_spawn(t_join_target, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_task_done(joiner_target), 0);
    CHECK_EQ(corio_join(joiner_target), -EINVAL);
    CHECK_EQ(corio_join(j2), 0);
    CHECK_EQ(second_join_rc, 8);

    /* join after detach / detach twice: the record lives on while it runs. */
    corio_task *t = corio_spawn(t_yield_ret, (void *)1);
    CHECK_EQ(corio_task_detach(t), 0);
    CHECK_EQ(corio_join(t), -EINVAL);
    CHECK_EQ(corio_task_detach(t), -EINVAL);
    CHECK_EQ(corio_yield(), 0); /* t finishes and goes */

    /* Two references: two joins, both get the outcome. */
    t = corio_spawn(t_yield_ret, (void *)6);
    CHECK_EQ(corio_task_ref(t), 0);
    corio_task *t2 = t;
    joiner_target = t;
    corio_task *j = corio_spawn(t_join_target, NULL);
    CHECK_EQ(corio_join(t2), 6);
    CHECK_EQ(corio_join(j), 0);
    CHECK_EQ(second_join_rc, 6);

    /* ref + detach keeps a finished task's outcome readable. */
    t = corio_spawn(t_ret, (void *)4);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_task_detach(t), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_task_done(t), 1);
    CHECK_EQ(corio_task_result(t), 4);
    CHECK_EQ(corio_join(t), 4); /* already done: no wait */
    return 0;
}

/* "join twice" with the first join over and the record held by a ref. */
static int m_join_twice(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(t_ret, (void *)2);
    CHECK_EQ(corio_join(t), 2);
    /* The same task from the point of view of a task of another loop. */
    corio_task *x = corio_loop_spawn(other_loop, t_ret, NULL, NULL);
    CHECK_EQ(corio_join(x), -EXDEV);
    CHECK_EQ(corio_task_detach(x), 0);
    return 0;
}

static int second_join_same;
static int t_joins_twice(void *arg) {
    corio_task *t = arg;
    int a = corio_join(t);
    second_join_same = corio_join(t); /* t was kept alive by another reference */
    return a;
}

static int m_join_twice2(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(t_yield_ret, (void *)3);
    CHECK_EQ(corio_task_ref(t), 0);
    corio_task *j = corio_spawn(t_joins_twice, t);
    CHECK_EQ(corio_join(j), 3);
    CHECK_EQ(second_join_same, 3); /* the second reference */
    CHECK_EQ(corio_join(t), -EINVAL); /* no third */
    return 0;
}

static void test_join_errors(void) {
    other_loop = corio_loop_new();
    CHECK_EQ(test_run(m_join_errors, NULL, 1), 0);
    CHECK_EQ(test_run(m_join_twice, NULL, 1), 0);
    CHECK_EQ(test_run(m_join_twice2, NULL, 1), 0);
    corio_task *x = corio_loop_spawn(other_loop, t_ret, NULL, NULL);
    CHECK_EQ(corio_loop_run_until_complete(other_loop, corio_task_future(x)), 0);
    CHECK_EQ(corio_task_detach(x), 0);
    CHECK_EQ(corio_loop_close(other_loop), 0);
}

/* Fire and forget: a detached task runs to the end. */
static int detached_ran;
static int t_detached(void *arg) {
    (void)arg;
    corio_sleep(1);
    detached_ran = 1;
    return 0;
}
static int m_detach(void *arg) {
    (void)arg;
    CHECK_EQ(corio_task_detach(corio_spawn(t_detached, NULL)), 0);
    CHECK_EQ(corio_sleep(2), 0);
    CHECK_EQ(detached_ran, 1);
    return 0;
}
static void test_detach(void) { CHECK_EQ(test_run(m_detach, NULL, 1), 0); }

/* ---- cancellation ----------------------------------------------------------- */

static int body_ran;
static int t_body(void *arg) {
    (void)arg;
    body_ran = 1;
    return 1;
}

/* test_cancel_task_before_start: the body never runs. */
static int m_cancel_before_start(void *arg) {
    (void)arg;
    body_ran = 0;
    corio_task *t = corio_spawn(t_body, NULL);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_task_cancelling(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(body_ran, 0);

    /* 3.13: cancel then uncancel before it starts: it runs after all. */
    t = corio_spawn(t_body, NULL);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_task_uncancel(t), 0);
    CHECK_EQ(corio_join(t), 1);
    CHECK_EQ(body_ran, 1);

    /* A done task cannot be cancelled. */
    t = corio_spawn(t_ret, (void *)2);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_join(t), 2);
    CHECK_EQ(corio_cancel(t), 0);
    CHECK_EQ(corio_task_cancelling(t), 0);
    CHECK_EQ(corio_task_cancelled(t), 0);
    CHECK_EQ(corio_task_detach(t), 0);
    return 0;
}
static void test_cancel_before_start(void) { CHECK_EQ(test_run(m_cancel_before_start, NULL, 1), 0); }

static double cancelled_at;
static int t_sleep_rc(void *arg) {
    double secs = *(double *)arg;
    int rc = corio_sleep(secs);
    cancelled_at = corio_time();
    return rc;
}

static int m_cancel_sleeping(void *arg) {
    (void)arg;
    static double ten = 10, inf = INFINITY;
    corio_task *t = corio_spawn(t_sleep_rc, &ten);
    CHECK_EQ(corio_sleep(1), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_task_done(t), 0);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(cancelled_at == 1); /* at once, not after the 10 s */
    CHECK(corio_time() == 1);

    t = corio_spawn(t_sleep_rc, &inf);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    return 0;
}
static void test_cancel_sleeping(void) { CHECK_EQ(test_run(m_cancel_sleeping, NULL, 1), 0); }

/* Cancelled twice while sleeping: one -ECANCELED, the count says 2 and the
 * next sleep is not interrupted (asyncio: True True 2, ['c1', 'slept'], 3). */
static int t_catch_twice(void *arg) {
    (void)arg;
    if (corio_sleep(10) == -ECANCELED) push(1);
    int rc = corio_sleep(1);
    push(rc == 0 ? 2 : rc == -ECANCELED ? 3 : 4);
    return 3;
}
static int m_cancel_twice(void *arg) {
    (void)arg;
    reset();
    corio_task *t = corio_spawn(t_catch_twice, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_task_cancelling(t), 2);
    CHECK_EQ(corio_join(t), 3);
    static const int want[] = {1, 2};
    check_log(want, 2);
    CHECK(corio_time() == 1);
    return 0;
}
static void test_cancel_twice(void) { CHECK_EQ(test_run(m_cancel_twice, NULL, 1), 0); }

/* test_cancel_inner_future: the future the task waits on is cancelled. */
static corio_future inner_f;
static int t_await_inner(void *arg) {
    (void)arg;
    return corio_await(&inner_f, NULL);
}
static int m_cancel_awaiting(void *arg) {
    (void)arg;
    CHECK_EQ(corio_future_init(&inner_f, NULL), 0);
    corio_task *t = corio_spawn(t_await_inner, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_future_cancelled(&inner_f), 1); /* at once */
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_future_destroy(&inner_f), 0);

    /* The future completed, then the task is cancelled before it resumed:
     * the await reports the cancellation (asyncio E9: -1). */
    CHECK_EQ(corio_future_init(&inner_f, NULL), 0);
    t = corio_spawn(t_await_inner, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_future_set_result(&inner_f, 3), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_future_destroy(&inner_f), 0);
    return 0;
}
static void test_cancel_awaiting_future(void) { CHECK_EQ(test_run(m_cancel_awaiting, NULL, 1), 0); }

/* Cancel while joining: the joined task is cancelled too and the join waits
 * for it.  asyncio E7: an inner task that absorbs the cancel gives its value
 * (9) to the outer, which is then not cancelled, cancelling() == 1. */
static int t_inner_absorbs(void *arg) {
    (void)arg;
    if (corio_sleep(10) == -ECANCELED) {
        push(1);
        CHECK_EQ(corio_yield(), 0);
        push(2);
        return 9;
    }
    return 0;
}
static int t_outer_join(void *arg) {
    int r = corio_join(arg);
    push(r == 9 ? 3 : r == -ECANCELED ? 4 : 5);
    return r;
}
static int m_cancel_joining(void *arg) {
    (void)arg;
    reset();
    corio_task *in = corio_spawn(t_inner_absorbs, NULL);
    CHECK_EQ(corio_task_ref(in), 0);
    corio_task *out = corio_spawn(t_outer_join, in);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_cancel(out), 1);
    CHECK_EQ(corio_task_cancelling(in), 1); /* passed on at once */
    CHECK_EQ(corio_task_ref(out), 0);
    CHECK_EQ(corio_join(out), 9);
    static const int want[] = {1, 2, 3};
    check_log(want, 3);
    CHECK_EQ(corio_task_cancelled(in), 0);
    CHECK_EQ(corio_task_cancelled(out), 0);
    CHECK_EQ(corio_task_cancelling(out), 1);
    CHECK_EQ(corio_task_detach(in), 0);
    CHECK_EQ(corio_task_detach(out), 0);
    return 0;
}
static void test_cancel_while_joining(void) { CHECK_EQ(test_run(m_cancel_joining, NULL, 1), 0); }

/* asyncio E8: the inner lets the cancellation through: both cancelled, the
 * inner's cleanup before the outer's. */
static int t_inner_propagates(void *arg) {
    (void)arg;
    int rc = corio_sleep(10);
    push(1);
    return rc;
}
static int t_outer_join2(void *arg) {
    int r = corio_join(arg);
    if (r == -ECANCELED) push(2);
    return r;
}
static int m_cancel_joining2(void *arg) {
    (void)arg;
    reset();
    corio_task *in = corio_spawn(t_inner_propagates, NULL);
    CHECK_EQ(corio_task_ref(in), 0);
    corio_task *out = corio_spawn(t_outer_join2, in);
    CHECK_EQ(corio_task_ref(out), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_cancel(out), 1);
    CHECK_EQ(corio_join(out), -ECANCELED);
    static const int want[] = {1, 2};
    check_log(want, 2);
    CHECK_EQ(corio_task_cancelled(in), 1);
    CHECK_EQ(corio_task_cancelled(out), 1);
    CHECK_EQ(corio_task_detach(in), 0);
    CHECK_EQ(corio_task_detach(out), 0);
    return 0;
}
static void test_cancel_while_joining_propagates(void) { CHECK_EQ(test_run(m_cancel_joining2, NULL, 1), 0); }

/* test_cancel_task_catching: swallow -ECANCELED and return a value
 * (asyncio E3: 42, not cancelled, cancelling() == 1). */
static int t_swallow(void *arg) {
    (void)arg;
    if (corio_sleep(10) == -ECANCELED) return 42;
    return 0;
}
static int m_swallow(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(t_swallow, NULL);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), 42);
    CHECK_EQ(corio_task_cancelled(t), 0);
    CHECK_EQ(corio_task_result(t), 42);
    CHECK_EQ(corio_task_cancelling(t), 1);
    CHECK_EQ(corio_task_detach(t), 0);
    return 0;
}
static void test_swallow_cancel(void) { CHECK_EQ(test_run(m_swallow, NULL, 1), 0); }

/* test_cancel_at_end: a cancel requested right before the body returns makes
 * the task cancelled (asyncio's _must_cancel at StopIteration). */
static int t_cancel_self_return(void *arg) {
    (void)arg;
    CHECK_EQ(corio_cancel(corio_current_task()), 1);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 1);
    return 7;
}
static int t_cancel_self_error(void *arg) {
    (void)arg;
    CHECK_EQ(corio_cancel(corio_current_task()), 1);
    return -EIO; /* an exception wins over the pending cancel */
}
static int m_cancel_at_end(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(t_cancel_self_return, NULL);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_task_cancelled(t), 1);
    CHECK_EQ(corio_task_detach(t), 0);
    t = corio_spawn(t_cancel_self_error, NULL);
    CHECK_EQ(corio_join(t), -EIO);
    return 0;
}
static void test_cancel_at_end(void) { CHECK_EQ(test_run(m_cancel_at_end, NULL, 1), 0); }

/* A cancel requested while running is delivered at the next suspension,
 * even a yield. */
static int t_cancel_self_yield(void *arg) {
    (void)arg;
    corio_cancel(corio_current_task());
    int rc = corio_yield();
    CHECK_EQ(rc, -ECANCELED);
    rc = corio_yield(); /* delivered once */
    CHECK_EQ(rc, 0);
    return 5;
}
static int m_cancel_self_yield(void *arg) {
    (void)arg;
    return corio_join(corio_spawn(t_cancel_self_yield, NULL));
}
static void test_cancel_delivered_once(void) { CHECK_EQ(test_run(m_cancel_self_yield, NULL, 1), 5); }

/* cancelling()/uncancel(): asyncio E4 (counts 1, 2, 1, 0, 0 and the pending
 * cancel dropped: 5), E5 (uncancel to 1 keeps it: 6), s2 ([1, 0], 4, 0). */
static int t_uncancel_to_zero(void *arg) {
    (void)arg;
    corio_task *me = corio_current_task();
    CHECK_EQ(corio_cancel(me), 1);
    CHECK_EQ(corio_task_cancelling(me), 1);
    CHECK_EQ(corio_cancel(me), 1);
    CHECK_EQ(corio_task_cancelling(me), 2);
    CHECK_EQ(corio_task_uncancel(me), 1);
    CHECK_EQ(corio_task_uncancel(me), 0);
    CHECK_EQ(corio_task_uncancel(me), 0);
    return corio_yield() == 0 ? 5 : 6;
}
static int t_uncancel_to_one(void *arg) {
    (void)arg;
    corio_task *me = corio_current_task();
    corio_cancel(me);
    corio_cancel(me);
    CHECK_EQ(corio_task_uncancel(me), 1);
    return corio_yield() == 0 ? 5 : 6;
}
static int t_uncancel_in_handler(void *arg) {
    (void)arg;
    corio_task *me = corio_current_task();
    if (corio_sleep(10) == -ECANCELED) {
        push(corio_task_cancelling(me));
        push(corio_task_uncancel(me));
    }
    CHECK_EQ(corio_yield(), 0);
    return 4;
}
static int m_uncancel(void *arg) {
    (void)arg;
    CHECK_EQ(corio_join(corio_spawn(t_uncancel_to_zero, NULL)), 5);
    CHECK_EQ(corio_join(corio_spawn(t_uncancel_to_one, NULL)), 6);
    reset();
    corio_task *t = corio_spawn(t_uncancel_in_handler, NULL);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), 4);
    static const int want[] = {1, 0};
    check_log(want, 2);
    CHECK_EQ(corio_task_cancelling(t), 0);
    CHECK_EQ(corio_task_detach(t), 0);
    return 0;
}
static void test_cancelling_uncancel(void) { CHECK_EQ(test_run(m_uncancel, NULL, 1), 0); }

/* ---- yielding --------------------------------------------------------------------- */

/* asyncio F: ['spawned', a0, b0, c0, 'main-1', a1, b1, c1, a2, b2, c2] */
static int t_steps(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 3; i++) {
        push(id * 10 + i);
        CHECK_EQ(corio_sleep(0), 0);
    }
    return 0;
}
static int m_sleep0(void *arg) {
    (void)arg;
    reset();
    corio_task *ts[3];
    for (int i = 0; i < 3; i++) ts[i] = corio_spawn(t_steps, (void *)(intptr_t)(i + 1));
    push(0);
    CHECK_EQ(corio_sleep(0), 0);
    push(99);
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_join(ts[i]), 0);
    static const int want[] = {0, 10, 20, 30, 99, 11, 21, 31, 12, 22, 32};
    check_log(want, 11);
    /* Negative and -0.0 sleep yield as well; NaN is refused. */
    CHECK_EQ(corio_sleep(-1), 0);
    CHECK_EQ(corio_sleep(-0.0), 0);
    CHECK_EQ(corio_sleep(NAN), -EINVAL);
    CHECK(corio_time() == 0);
    return 0;
}
static void test_sleep0_fifo(void) {
    CHECK_EQ(test_run(m_sleep0, NULL, 1), 0);
    CHECK_EQ(corio_sleep(0), -EPERM);
    CHECK_EQ(corio_sleep(1), -EPERM);
    CHECK_EQ(corio_yield(), -EPERM);
}

/* A CPU-bound loop that yields interleaves with another (asyncio 'cpu'). */
static int t_cpu(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 3; i++) {
        volatile unsigned long x = 0;
        for (int k = 0; k < 100000; k++) x += (unsigned long)k;
        (void)x;
        push(id * 10 + i);
        CHECK_EQ(corio_yield(), 0);
    }
    return 0;
}
static int m_cpu(void *arg) {
    (void)arg;
    reset();
    corio_task *a = corio_spawn(t_cpu, (void *)1), *b = corio_spawn(t_cpu, (void *)2);
    CHECK_EQ(corio_join(a), 0);
    CHECK_EQ(corio_join(b), 0);
    static const int want[] = {10, 20, 11, 21, 12, 22};
    check_log(want, 6);
    return 0;
}
static void test_cpu_yield_interleave(void) { CHECK_EQ(test_run(m_cpu, NULL, 1), 0); }

/* ---- stacks ------------------------------------------------------------------------ */

/* Uses about `depth` KiB of stack: 1 KiB frames the compiler cannot fold. */
static __attribute__((noinline)) unsigned long recurse(int depth) {
    volatile unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i += 64) buf[i] = (unsigned char)(depth + (int)i);
    if (depth == 0) return buf[0];
    unsigned long r = recurse(depth - 1);
    return r + buf[64];
}

/* ASan's redzones and an unoptimised build make each frame about twice as
 * large: recurse half as deep there, so the test still measures the stack
 * size option and not the sanitizer's overhead. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEPTH_DIV 2
#endif
#endif
#if !defined(DEPTH_DIV) && defined(__SANITIZE_ADDRESS__)
#define DEPTH_DIV 2
#endif
#ifndef DEPTH_DIV
#define DEPTH_DIV 1
#endif

static int t_recurse(void *arg) {
    int kib = (int)(intptr_t)arg / DEPTH_DIV;
    unsigned long r = recurse(kib);
    CHECK_EQ(corio_yield(), 0); /* and the stack survives a switch */
    return r > 0 ? 1 : 1;
}

static int m_stacks(void *arg) {
    (void)arg;
    /* ~100 KiB on the default stack. */
    CHECK_EQ(corio_join(corio_spawn(t_recurse, (void *)100)), 1);
    /* A task with a 1 MiB stack recursing through ~700 KiB. */
    corio_task_opts o = {.stack_size = 1024 * 1024};
    CHECK_EQ(corio_join(corio_spawn_opts(t_recurse, (void *)700, &o)), 1);
    /* A tiny request is rounded up to the minimum, which still works. */
    o.stack_size = 1;
    CHECK_EQ(corio_join(corio_spawn_opts(t_recurse, (void *)4, &o)), 1);
    o.stack_size = 100 * 1024 + 1; /* rounded up to pages */
    CHECK_EQ(corio_join(corio_spawn_opts(t_recurse, (void *)60, &o)), 1);
    return 0;
}
static void test_stacks(void) { CHECK_EQ(test_run(m_stacks, NULL, 1), 0); }

/* 10,000 tasks alive at once, spawned and joined.  ThreadSanitizer counts
 * each task's fiber as a thread and dies past 8128 of them, so a TSan build
 * runs fewer. */
#if defined(__SANITIZE_THREAD__)
#define CORIO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORIO_TEST_TSAN 1
#endif
#endif
#ifdef CORIO_TEST_TSAN
enum { MANY = 4000 };
#else
enum { MANY = 10000 };
#endif
static corio_task *many[MANY];
static int m_many(void *arg) {
    (void)arg;
    for (int i = 0; i < MANY; i++) {
        many[i] = corio_spawn(t_yield_ret, (void *)(intptr_t)i);
        if (!many[i]) {
            fprintf(stderr, "spawn %d failed: %s\n", i, strerror(errno));
            test_failures++;
            return -1;
        }
    }
    CHECK_EQ(corio_all_tasks(NULL, 0), MANY + 1);
    long sum = 0;
    for (int i = 0; i < MANY; i++) sum += corio_join(many[i]);
    CHECK_EQ(sum, (long)MANY * (MANY - 1) / 2);
    /* Records and stacks are reused: a second wave works the same. */
    for (int i = 0; i < MANY; i++) many[i] = corio_spawn(t_ret, (void *)1);
    sum = 0;
    for (int i = 0; i < MANY; i++) sum += corio_join(many[i]);
    CHECK_EQ(sum, MANY);
    return 0;
}
static void test_many_tasks(void) { CHECK_EQ(test_run(m_many, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_spawn_join);
    RUN_TEST(test_names);
    RUN_TEST(test_current_and_all_tasks);
    RUN_TEST(test_join_errors);
    RUN_TEST(test_detach);
    RUN_TEST(test_cancel_before_start);
    RUN_TEST(test_cancel_sleeping);
    RUN_TEST(test_cancel_twice);
    RUN_TEST(test_cancel_awaiting_future);
    RUN_TEST(test_cancel_while_joining);
    RUN_TEST(test_cancel_while_joining_propagates);
    RUN_TEST(test_swallow_cancel);
    RUN_TEST(test_cancel_at_end);
    RUN_TEST(test_cancel_delivered_once);
    RUN_TEST(test_cancelling_uncancel);
    RUN_TEST(test_sleep0_fifo);
    RUN_TEST(test_cpu_yield_interleave);
    RUN_TEST(test_stacks);
    RUN_TEST(test_many_tasks);
    TEST_MAIN_END();
}
