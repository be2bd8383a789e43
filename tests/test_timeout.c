/*
 * test_timeout.c - timeout scopes, ported from CPython's
 * Lib/test/test_asyncio/test_timeouts.py (3.13).  Each expected outcome
 * was checked against asyncio 3.13 itself.  Everything timed runs on the
 * virtual clock, so no case depends on the machine's speed.
 */
#include "test.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-6)

static corio_task *self(void) { return corio_current_task(); }

/* test_timeout_basic: the sleep is cut short; the scope reports -ETIMEDOUT. */
static int basic_main(void *arg) {
    (void)arg;
    corio_timeout to;
    double t0 = corio_time();
    CHECK_EQ(corio_timeout_enter(&to, 0.25), 0);
    CHECK(NEAR(corio_timeout_when(&to), t0 + 0.25));
    CHECK(!corio_timeout_expired(&to));
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    CHECK(corio_timeout_expired(&to));
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    CHECK(corio_timeout_expired(&to));
    CHECK(NEAR(corio_time(), t0 + 0.25));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    /* The task is not left cancelled: it can wait again. */
    CHECK_EQ(corio_sleep(1), 0);
    return 0;
}
static void test_timeout_basic(void) { CHECK_EQ(test_run(basic_main, NULL, 1), 0); }

/* test_timeout_at_basic */
static int at_basic_main(void *arg) {
    (void)arg;
    corio_timeout to;
    double deadline = corio_time() + 0.5;
    CHECK_EQ(corio_timeout_enter_at(&to, deadline), 0);
    int rc = corio_timeout_exit(&to, corio_sleep(10));
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(corio_timeout_expired(&to));
    CHECK(corio_timeout_when(&to) == deadline);
    return 0;
}
static void test_timeout_at_basic(void) { CHECK_EQ(test_run(at_basic_main, NULL, 1), 0); }

/* test_nested_timeouts: two scopes with the same deadline; only the
 * outermost reports -ETIMEDOUT, the inner one passes -ECANCELED on. */
static int nested_same_main(void *arg) {
    (void)arg;
    corio_timeout to1, to2;
    double deadline = corio_time() + 0.25;
    CHECK_EQ(corio_timeout_enter_at(&to1, deadline), 0);
    CHECK_EQ(corio_timeout_enter_at(&to2, deadline), 0);
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(corio_task_cancelling(self()), 2);
    rc = corio_timeout_exit(&to2, rc);
    CHECK_EQ(rc, -ECANCELED); /* the inner one: cancelled = True, raise */
    rc = corio_timeout_exit(&to1, rc);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(corio_timeout_expired(&to1));
    CHECK(corio_timeout_expired(&to2));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_nested_timeouts(void) { CHECK_EQ(test_run(nested_same_main, NULL, 1), 0); }

/* The inner scope expires first: it reports -ETIMEDOUT, the outer one is
 * untouched and still fires later (test_nested_timeouts_loop_busy). */
static int nested_inner_main(void *arg) {
    (void)arg;
    corio_timeout outer, inner;
    double t0 = corio_time();
    CHECK_EQ(corio_timeout_enter(&outer, 1), 0);
    CHECK_EQ(corio_timeout_enter(&inner, 0.125), 0);
    int rc = corio_timeout_exit(&inner, corio_sleep(10));
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(corio_timeout_expired(&inner));
    CHECK(!corio_timeout_expired(&outer));
    CHECK(NEAR(corio_time(), t0 + 0.125));
    rc = corio_sleep(10); /* interrupted by the outer scope */
    CHECK_EQ(rc, -ECANCELED);
    CHECK(NEAR(corio_time(), t0 + 1));
    CHECK_EQ(corio_timeout_exit(&outer, rc), -ETIMEDOUT);
    CHECK(corio_timeout_expired(&outer));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_nested_inner_expires(void) { CHECK_EQ(test_run(nested_inner_main, NULL, 1), 0); }

/* The outer scope expires first: the inner scope (not expired) passes
 * -ECANCELED on; the outer reports -ETIMEDOUT (test_nested_timeouts_concurrent). */
static int nested_outer_main(void *arg) {
    (void)arg;
    corio_timeout outer, inner;
    CHECK_EQ(corio_timeout_enter(&outer, 0.125), 0);
    CHECK_EQ(corio_timeout_enter(&inner, 1), 0);
    int rc = corio_timeout_exit(&inner, corio_sleep(10));
    CHECK_EQ(rc, -ECANCELED);
    CHECK(!corio_timeout_expired(&inner));
    CHECK_EQ(corio_timeout_exit(&outer, rc), -ETIMEDOUT);
    CHECK(corio_timeout_expired(&outer));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_nested_outer_expires(void) { CHECK_EQ(test_run(nested_outer_main, NULL, 1), 0); }

/* test_timeout_not_called / test_timeout_disabled / test_timeout_at_disabled */
static int not_called_main(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 10), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(0.25)), 0);
    CHECK(!corio_timeout_expired(&to));
    CHECK(corio_timeout_when(&to) > corio_time());

    CHECK_EQ(corio_timeout_enter(&to, INFINITY), 0); /* entered again after exit */
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(0.25)), 0);
    CHECK(!corio_timeout_expired(&to));
    CHECK(isinf(corio_timeout_when(&to)));

    corio_timeout at;
    CHECK_EQ(corio_timeout_enter_at(&at, INFINITY), 0);
    CHECK_EQ(corio_timeout_exit(&at, corio_sleep(0.25)), 0);
    CHECK(!corio_timeout_expired(&at));
    CHECK(isinf(corio_timeout_when(&at)));
    /* A disabled scope never fires, even much later. */
    CHECK_EQ(corio_timeout_enter(&at, INFINITY), 0);
    CHECK_EQ(corio_sleep(1e6), 0);
    CHECK_EQ(corio_timeout_exit(&at, 0), 0);
    return 0;
}
static void test_timeout_not_called(void) { CHECK_EQ(test_run(not_called_main, NULL, 1), 0); }

/* test_timeout_zero, _zero_sleep_zero, _in_the_past_sleep_zero */
static int zero_main(void *arg) {
    (void)arg;
    const double delays[] = {0, -0.0, -11};
    for (int i = 0; i < 3; i++) {
        for (int sleep_zero = 0; sleep_zero < 2; sleep_zero++) {
            corio_timeout to;
            double t0 = corio_time();
            CHECK_EQ(corio_timeout_enter(&to, delays[i]), 0);
            int rc = corio_timeout_exit(&to, corio_sleep(sleep_zero ? 0 : 10));
            CHECK_EQ(rc, -ETIMEDOUT);
            CHECK(corio_timeout_expired(&to));
            CHECK(corio_timeout_when(&to) <= corio_time());
            CHECK(corio_timeout_when(&to) <= t0);
            CHECK(NEAR(corio_time(), t0)); /* fired in the next iteration, no time passed */
        }
    }
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_timeout_zero(void) { CHECK_EQ(test_run(zero_main, NULL, 1), 0); }

/* test_waiter_cancelled: the body sees -ECANCELED and passes it on. */
static int waiter_cancelled_main(void *arg) {
    (void)arg;
    corio_timeout to;
    int cancelled = 0;
    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    int rc = corio_sleep(10);
    if (rc == -ECANCELED) cancelled = 1;
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    CHECK(cancelled);
    return 0;
}
static void test_waiter_cancelled(void) { CHECK_EQ(test_run(waiter_cancelled_main, NULL, 1), 0); }

/* test_foreign_exception_passed: an error from the body passes unchanged. */
static int foreign_error_main(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    CHECK_EQ(corio_timeout_exit(&to, -ENOENT), -ENOENT);
    CHECK(!corio_timeout_expired(&to));
    /* ... and a plain result too. */
    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    CHECK_EQ(corio_timeout_exit(&to, 17), 17);
    return 0;
}
static void test_foreign_exception_passed(void) { CHECK_EQ(test_run(foreign_error_main, NULL, 1), 0); }

/* test_timeout_exception_context: an error, then a cleanup wait cut by the
 * deadline: the cancellation replaces the error and becomes -ETIMEDOUT. */
static int exc_context_main(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    int rc = -EDOM;                 /* 1/0 */
    int r2 = corio_sleep(1);        /* finally: await sleep(1) */
    CHECK_EQ(r2, -ECANCELED);
    if (r2 < 0) rc = r2;
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    return 0;
}
static void test_timeout_exception_context(void) { CHECK_EQ(test_run(exc_context_main, NULL, 1), 0); }

/* test_foreign_exception_on_timeout: the cleanup fails after the deadline:
 * that error wins, the scope still counts as expired, the count is restored. */
static int crash(void *arg) {
    (void)arg;
    int rc = corio_sleep(1);
    CHECK_EQ(rc, -ECANCELED);
    return -EDOM; /* finally: 1/0 */
}
static int foreign_on_timeout_main(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    CHECK_EQ(corio_timeout_exit(&to, crash(NULL)), -EDOM);
    CHECK(corio_timeout_expired(&to));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_sleep(0), 0);
    return 0;
}
static void test_foreign_exception_on_timeout(void) { CHECK_EQ(test_run(foreign_on_timeout_main, NULL, 1), 0); }

/* The body swallows the cancellation and finishes normally: no error, but
 * the scope knows it expired and the cancel count is back to zero. */
static int absorb_main(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    CHECK_EQ(corio_sleep(1), -ECANCELED);
    CHECK_EQ(corio_sleep(0.5), 0); /* edge-triggered: only one -ECANCELED */
    CHECK_EQ(corio_timeout_exit(&to, 0), 0);
    CHECK(corio_timeout_expired(&to));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_absorbed_cancel(void) { CHECK_EQ(test_run(absorb_main, NULL, 1), 0); }

/* test_foreign_cancel_doesnt_timeout_if_not_expired */
static int foreign_cancel_main(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 10), 0);
    CHECK_EQ(corio_cancel(self()), 1);
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(corio_timeout_exit(&to, rc), -ECANCELED);
    CHECK(!corio_timeout_expired(&to));
    CHECK_EQ(corio_task_cancelling(self()), 1);
    return rc;
}
static void test_foreign_cancel_not_a_timeout(void) {
    CHECK_EQ(test_run(foreign_cancel_main, NULL, 1), -ECANCELED);
}

/* A foreign cancel arrives first, then the scope expires while the body
 * cleans up: still -ECANCELED, because another request is pending. */
static void cancel_cb(void *arg) { corio_cancel(arg); }

static int foreign_then_expiry_main(void *arg) {
    (void)arg;
    corio_handle h = {0};
    CHECK_EQ(corio_call_later(&h, 0.125, cancel_cb, self()), 0);
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.25), 0);
    int rc = corio_sleep(1);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(corio_sleep(0.5), -ECANCELED); /* the scope expires during the cleanup */
    rc = corio_timeout_exit(&to, rc);
    CHECK_EQ(rc, -ECANCELED);
    CHECK(corio_timeout_expired(&to));
    CHECK_EQ(corio_task_cancelling(self()), 1);
    return rc;
}
static void test_foreign_cancel_then_expiry(void) {
    CHECK_EQ(test_run(foreign_then_expiry_main, NULL, 1), -ECANCELED);
}

/* The scope expires first, then a foreign cancel comes during the cleanup:
 * -ECANCELED, not -ETIMEDOUT. */
static int expiry_then_foreign_main(void *arg) {
    (void)arg;
    corio_handle h = {0};
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    int rc = corio_sleep(1);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(corio_call_later(&h, 0.125, cancel_cb, self()), 0);
    CHECK_EQ(corio_sleep(0.5), -ECANCELED);
    rc = corio_timeout_exit(&to, rc);
    CHECK_EQ(rc, -ECANCELED);
    CHECK(corio_timeout_expired(&to));
    CHECK_EQ(corio_task_cancelling(self()), 1);
    return rc;
}
static void test_expiry_then_foreign_cancel(void) {
    CHECK_EQ(test_run(expiry_then_foreign_main, NULL, 1), -ECANCELED);
}

/* test_outer_task_is_not_cancelled */
static int outer_task(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.001), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(10)), -ETIMEDOUT);
    return 5;
}
static int outer_not_cancelled_main(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(outer_task, NULL);
    CHECK(t != NULL);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_join(t), 5);
    CHECK(corio_task_done(t));
    CHECK(!corio_task_cancelled(t));
    CHECK_EQ(corio_task_detach(t), 0);
    return 0;
}
static void test_outer_task_is_not_cancelled(void) { CHECK_EQ(test_run(outer_not_cancelled_main, NULL, 1), 0); }

/* test_reschedule: moved from another task; INFINITY removes the deadline;
 * a cancel then is not a timeout. */
typedef struct resched_ctx {
    corio_future ready;
    corio_timeout *to;
    double deadline1;
} resched_ctx;

static int resched_task(void *arg) {
    resched_ctx *c = arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter_at(&to, c->deadline1), 0);
    c->to = &to;
    corio_future_set_result(&c->ready, 0);
    int rc = corio_timeout_exit(&to, corio_sleep(50));
    CHECK(!corio_timeout_expired(&to));
    CHECK(isinf(corio_timeout_when(&to)));
    c->to = NULL;
    return rc;
}
static int reschedule_main(void *arg) {
    (void)arg;
    resched_ctx c;
    CHECK_EQ(corio_future_init(&c.ready, NULL), 0);
    c.deadline1 = corio_time() + 10;
    double deadline2 = c.deadline1 + 20;
    corio_task *t = corio_spawn(resched_task, &c);
    CHECK_EQ(corio_await(&c.ready, NULL), 0);
    CHECK(corio_timeout_when(c.to) == c.deadline1);
    CHECK_EQ(corio_timeout_reschedule(c.to, deadline2), 0);
    CHECK(corio_timeout_when(c.to) == deadline2);
    CHECK_EQ(corio_timeout_reschedule(c.to, INFINITY), 0);
    CHECK(isinf(corio_timeout_when(c.to)));
    CHECK_EQ(corio_sleep(40), 0); /* past both deadlines, before the task's own 50 s: nothing fires */
    CHECK(!corio_task_done(t));
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    return 0;
}
static void test_reschedule(void) { CHECK_EQ(test_run(reschedule_main, NULL, 1), 0); }

/* Rescheduling earlier, later, and into the past (fires in the next iteration). */
static int reschedule_moves_main(void *arg) {
    (void)arg;
    corio_timeout to;
    double t0 = corio_time();
    CHECK_EQ(corio_timeout_enter(&to, 10), 0);
    CHECK_EQ(corio_timeout_reschedule(&to, corio_time() + 0.25), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(1)), -ETIMEDOUT);
    CHECK(NEAR(corio_time(), t0 + 0.25));

    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    CHECK_EQ(corio_timeout_reschedule(&to, corio_time() + 0.5), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(0.25)), 0);
    CHECK(!corio_timeout_expired(&to));

    /* From "next iteration" to later: it does not fire at once. */
    t0 = corio_time();
    CHECK_EQ(corio_timeout_enter(&to, 0), 0);
    CHECK_EQ(corio_timeout_reschedule(&to, corio_time() + 1), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(5)), -ETIMEDOUT);
    CHECK(NEAR(corio_time(), t0 + 1));

    t0 = corio_time();
    CHECK_EQ(corio_timeout_enter(&to, 10), 0);
    CHECK_EQ(corio_timeout_reschedule(&to, corio_time() - 1), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(1)), -ETIMEDOUT);
    CHECK(NEAR(corio_time(), t0));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_reschedule_moves(void) { CHECK_EQ(test_run(reschedule_moves_main, NULL, 1), 0); }

/* The scope is left while its expiry is already queued for this very
 * iteration (rescheduled to "now" from another task, behind the owner's
 * wake-up): the expiry must not run any more. */
typedef struct queued_ctx {
    corio_timeout *to;
    int expired;
    int later_sleep;
} queued_ctx;

static int queued_owner(void *arg) {
    queued_ctx *c = arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 10), 0);
    c->to = &to;
    int rc = corio_sleep(0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(corio_timeout_exit(&to, rc), 0);
    c->to = NULL;
    c->expired = corio_timeout_expired(&to);
    c->later_sleep = corio_sleep(0.5);
    return corio_task_cancelling(self());
}
static int exit_before_queued_main(void *arg) {
    (void)arg;
    queued_ctx c = {NULL, -1, 1};
    corio_task *t = corio_spawn(queued_owner, &c);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK(c.to != NULL);
    if (c.to) CHECK_EQ(corio_timeout_reschedule(c.to, corio_time()), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(c.expired, 0);
    CHECK_EQ(c.later_sleep, 0);
    return 0;
}
static void test_exit_before_queued_expiry(void) { CHECK_EQ(test_run(exit_before_queued_main, NULL, 1), 0); }

/* timeout(0) left without waiting: nothing happens (the expiry is dropped). */
static int zero_no_wait_main(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0), 0);
    CHECK_EQ(corio_timeout_exit(&to, 0), 0);
    CHECK(!corio_timeout_expired(&to));
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_sleep(1), 0);
    return 0;
}
static void test_zero_left_without_waiting(void) { CHECK_EQ(test_run(zero_no_wait_main, NULL, 1), 0); }

/* test_nested_timeout_in_finally / test_timeout_after_cancellation: a
 * timeout still works inside cleanup after a cancellation. */
static int timeout_in_finally_main(void *arg) {
    (void)arg;
    corio_timeout to1, to2;
    CHECK_EQ(corio_timeout_enter(&to1, 0.125), 0);
    int rc = corio_sleep(1);
    CHECK_EQ(rc, -ECANCELED);
    /* finally: */
    CHECK_EQ(corio_timeout_enter(&to2, 0.125), 0);
    CHECK_EQ(corio_timeout_exit(&to2, corio_sleep(10)), -ETIMEDOUT);
    CHECK_EQ(corio_timeout_exit(&to1, rc), -ETIMEDOUT);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_nested_timeout_in_finally(void) { CHECK_EQ(test_run(timeout_in_finally_main, NULL, 1), 0); }

static int after_cancellation_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_cancel(self()), 1);
    CHECK_EQ(corio_sleep(1), -ECANCELED); /* work which will be cancelled; caught */
    /* finally: some cleanup under a timeout of 0 */
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.0), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(1)), -ETIMEDOUT);
    CHECK_EQ(corio_task_cancelling(self()), 1); /* the first cancel was never withdrawn */
    return 0;
}
static void test_timeout_after_cancellation(void) { CHECK_EQ(test_run(after_cancellation_main, NULL, 1), 0); }

static int cancel_in_timeout_after_cancellation_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_cancel(self()), 1);
    CHECK_EQ(corio_sleep(1), -ECANCELED);
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 1.0), 0);
    CHECK_EQ(corio_cancel(self()), 1);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(2)), -ECANCELED);
    CHECK(!corio_timeout_expired(&to));
    return 0;
}
static void test_cancel_in_timeout_after_cancellation(void) {
    CHECK_EQ(test_run(cancel_in_timeout_after_cancellation_main, NULL, 1), 0);
}

/* test_timeout_already_entered, _finished, _expired, _expiring, _not_entered,
 * _without_task: the misuse errors. */
static int misuse_main(void *arg) {
    (void)arg;
    corio_timeout to;
    memset(&to, 0, sizeof to);
    CHECK_EQ(corio_timeout_reschedule(&to, 1), -EINVAL); /* not entered */
    CHECK_EQ(corio_timeout_exit(&to, 0), -EINVAL);
    CHECK_EQ(corio_timeout_enter(NULL, 1), -EINVAL);
    CHECK_EQ(corio_timeout_enter(&to, NAN), -EINVAL);
    CHECK_EQ(corio_timeout_enter_at(&to, NAN), -EINVAL);

    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    CHECK_EQ(corio_timeout_enter(&to, 0.125), -EALREADY); /* already entered */
    CHECK_EQ(corio_timeout_reschedule(&to, NAN), -EINVAL);
    CHECK_EQ(corio_timeout_exit(&to, 0), 0);
    CHECK_EQ(corio_timeout_reschedule(&to, corio_time() + 1), -EINVAL); /* finished */
    CHECK_EQ(corio_timeout_exit(&to, 0), -EINVAL);                    /* left twice */

    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    CHECK_EQ(corio_sleep(1), -ECANCELED);
    CHECK_EQ(corio_timeout_reschedule(&to, corio_time() + 1), -EINVAL); /* expiring */
    CHECK_EQ(corio_timeout_exit(&to, 0), 0);
    CHECK_EQ(corio_timeout_reschedule(&to, corio_time() + 1), -EINVAL); /* expired */
    return 0;
}
static void test_misuse(void) {
    CHECK_EQ(test_run(misuse_main, NULL, 1), 0);
    /* Outside a task. */
    corio_timeout to;
    memset(&to, 0, sizeof to);
    CHECK_EQ(corio_timeout_enter(&to, 1), -EPERM);
    CHECK_EQ(corio_timeout_reschedule(&to, 1), -EINVAL);
}

/* exit from another task than the one that entered is refused. */
static int exit_other(void *arg) { return corio_timeout_exit(arg, 0); }
static int other_task_exit_main(void *arg) {
    (void)arg;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 10), 0);
    corio_task *t = corio_spawn(exit_other, &to);
    CHECK_EQ(corio_join(t), -EPERM);
    CHECK_EQ(corio_timeout_exit(&to, 0), 0);
    return 0;
}
static void test_exit_from_other_task(void) { CHECK_EQ(test_run(other_task_exit_main, NULL, 1), 0); }

/* test_timeout_taskgroup: a child fails in its cleanup; the body had an
 * error whose cleanup the deadline interrupted.  asyncio: ExceptionGroup
 * with only the child's error; the scope expired; cancelling() is 0 and
 * the task is not left cancelled. */
static int tg_child(void *arg) {
    (void)arg;
    corio_sleep(2);
    return -EDOM; /* finally: 1/0 */
}
static int timeout_taskgroup_main(void *arg) {
    (void)arg;
    corio_timeout to;
    corio_taskgroup g;
    CHECK_EQ(corio_timeout_enter(&to, 0.125), 0);
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, tg_child, NULL, NULL) != NULL);
    int rc = -EINVAL;         /* raise ValueError */
    int r2 = corio_sleep(1);  /* finally: await sleep(1) */
    CHECK_EQ(r2, -ECANCELED);
    if (r2 < 0) rc = r2;
    rc = corio_taskgroup_exit(&g, rc);
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 1);
    CHECK_EQ(corio_taskgroup_error(&g, 0), -EDOM);
    rc = corio_timeout_exit(&to, rc);
    CHECK_EQ(rc, -EDOM);
    CHECK(corio_timeout_expired(&to));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_sleep(0), 0); /* 'sleep ok' */
    return 0;
}
static void test_timeout_taskgroup(void) { CHECK_EQ(test_run(timeout_taskgroup_main, NULL, 1), 0); }

/* A scope entered in one task does not disturb another task. */
static int sleeper(void *arg) {
    (void)arg;
    return corio_sleep(1) == 0 ? 7 : -1;
}
static int other_task_untouched_main(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(sleeper, NULL);
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 0.25), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_sleep(10)), -ETIMEDOUT);
    CHECK_EQ(corio_join(t), 7);
    return 0;
}
static void test_other_task_untouched(void) { CHECK_EQ(test_run(other_task_untouched_main, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_timeout_basic);
    RUN_TEST(test_timeout_at_basic);
    RUN_TEST(test_nested_timeouts);
    RUN_TEST(test_nested_inner_expires);
    RUN_TEST(test_nested_outer_expires);
    RUN_TEST(test_timeout_not_called);
    RUN_TEST(test_timeout_zero);
    RUN_TEST(test_waiter_cancelled);
    RUN_TEST(test_foreign_exception_passed);
    RUN_TEST(test_timeout_exception_context);
    RUN_TEST(test_foreign_exception_on_timeout);
    RUN_TEST(test_absorbed_cancel);
    RUN_TEST(test_foreign_cancel_not_a_timeout);
    RUN_TEST(test_foreign_cancel_then_expiry);
    RUN_TEST(test_expiry_then_foreign_cancel);
    RUN_TEST(test_outer_task_is_not_cancelled);
    RUN_TEST(test_reschedule);
    RUN_TEST(test_reschedule_moves);
    RUN_TEST(test_exit_before_queued_expiry);
    RUN_TEST(test_zero_left_without_waiting);
    RUN_TEST(test_nested_timeout_in_finally);
    RUN_TEST(test_timeout_after_cancellation);
    RUN_TEST(test_cancel_in_timeout_after_cancellation);
    RUN_TEST(test_misuse);
    RUN_TEST(test_exit_from_other_task);
    RUN_TEST(test_timeout_taskgroup);
    RUN_TEST(test_other_task_untouched);
    TEST_MAIN_END();
}
