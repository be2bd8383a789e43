/*
 * test_wait_for.c - corio_wait_for, ported from CPython's
 * Lib/test/test_asyncio/test_waitfor.py (3.13), plus the races asyncio
 * got wrong before (gh-86296).  Each expected outcome was checked against
 * asyncio 3.13 itself.  Everything timed runs on the virtual clock.
 */
#include "test.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-6)

static void set_result_cb(void *arg) { corio_future_set_result(arg, 7); }
static void cancel_cb(void *arg) { corio_cancel(arg); }

/* ---- a result arriving as the timeout fires ------------------------------------- */

/* The future's result is set by a timer due at the same instant as the
 * timeout, and queued before it: both run in one iteration.  asyncio 3.13
 * raises TimeoutError (the waiting task is cancelled before it resumes)
 * and the result stays in the future. */
static int same_iteration_main(void *arg) {
    (void)arg;
    corio_future fut;
    corio_handle h = {0};
    CHECK_EQ(corio_future_init(&fut, NULL), 0);
    CHECK_EQ(corio_call_later(&h, 0.25, set_result_cb, &fut), 0);
    intptr_t v = -1;
    int rc = corio_wait_for(&fut, 0.25, &v);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(v, -1);
    CHECK(corio_future_done(&fut));
    CHECK(!corio_future_cancelled(&fut));
    intptr_t got = 0;
    CHECK_EQ(corio_future_result(&fut, &got), 0);
    CHECK_EQ(got, 7);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(corio_sleep(0), 0); /* not left cancelled */
    return 0;
}
static void test_result_as_timeout_fires(void) { CHECK_EQ(test_run(same_iteration_main, NULL, 1), 0); }

/* The other order: the timeout is queued first; it cancels the future, so
 * the late set_result fails (asyncio: InvalidStateError in the callback). */
typedef struct late_ctx {
    corio_future *fut;
    double when;
    corio_handle h;
} late_ctx;

static int schedule_late(void *arg) {
    late_ctx *c = arg;
    CHECK_EQ(corio_call_at(&c->h, c->when, set_result_cb, c->fut), 0);
    return 0;
}
static int timeout_first_main(void *arg) {
    (void)arg;
    corio_future fut;
    late_ctx c = {.fut = &fut, .when = corio_time() + 0.25};
    CHECK_EQ(corio_future_init(&fut, NULL), 0);
    corio_task *t = corio_spawn(schedule_late, &c); /* runs once wait_for armed its timer */
    CHECK_EQ(corio_wait_for(&fut, 0.25, NULL), -ETIMEDOUT);
    CHECK(corio_future_cancelled(&fut));
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_sleep(0), 0); /* let the late callback run (and fail quietly) */
    CHECK(corio_future_cancelled(&fut));
    return 0;
}
static void test_timeout_before_result(void) { CHECK_EQ(test_run(timeout_first_main, NULL, 1), 0); }

/* test_wait_for_race_condition: a result set by call_soon is returned. */
static int race_call_soon_main(void *arg) {
    (void)arg;
    corio_future fut;
    corio_handle h = {0};
    CHECK_EQ(corio_future_init(&fut, NULL), 0);
    CHECK_EQ(corio_call_soon(&h, set_result_cb, &fut), 0);
    intptr_t v = 0;
    CHECK_EQ(corio_wait_for(&fut, 0.25, &v), 0);
    CHECK_EQ(v, 7);
    return 0;
}
static void test_wait_for_race_condition(void) { CHECK_EQ(test_run(race_call_soon_main, NULL, 1), 0); }

/* ---- inner tasks and the timeout ---------------------------------------------------- */

static int foo_running;

static int foo(void *arg) {
    (void)arg;
    foo_running = 1;
    int rc = corio_sleep(1000); /* support.LONG_TIMEOUT */
    foo_running = 0;            /* finally */
    return rc < 0 ? rc : 100;
}

/* test_wait_for: the task is cancelled and has finished when -ETIMEDOUT comes. */
static int wait_for_main(void *arg) {
    (void)arg;
    foo_running = -1;
    corio_task *t = corio_spawn(foo, NULL);
    double t0 = corio_time();
    CHECK_EQ(corio_wait_for(corio_task_future(t), 0.125, NULL), -ETIMEDOUT);
    CHECK(NEAR(corio_time(), t0 + 0.125));
    CHECK(corio_task_done(t));
    CHECK(corio_task_cancelled(t));
    CHECK_EQ(foo_running, 0);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(corio_join(t), -ECANCELED);
    return 0;
}
static void test_wait_for(void) { CHECK_EQ(test_run(wait_for_main, NULL, 1), 0); }

/* A plain future is cancelled on timeout. */
static int plain_timeout_main(void *arg) {
    (void)arg;
    corio_future fut;
    CHECK_EQ(corio_future_init(&fut, NULL), 0);
    CHECK_EQ(corio_wait_for(&fut, 0.125, NULL), -ETIMEDOUT);
    CHECK(corio_future_cancelled(&fut));
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    return 0;
}
static void test_plain_future_timeout(void) { CHECK_EQ(test_run(plain_timeout_main, NULL, 1), 0); }

/* test_wait_for_cancel_suppressed / test_wait_for_cancellation_race_condition:
 * the task absorbs the cancel and returns a value: that value, no timeout. */
static int return_42(void *arg) {
    (void)arg;
    if (corio_sleep(10) == -ECANCELED) return 42;
    return 0;
}
static int absorb_main(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(return_42, NULL);
    intptr_t v = 0;
    CHECK_EQ(corio_wait_for(corio_task_future(t), 0.125, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(corio_join(t), 42);
    CHECK_EQ(corio_sleep(0), 0);
    return 0;
}
static void test_wait_for_cancel_suppressed(void) { CHECK_EQ(test_run(absorb_main, NULL, 1), 0); }

/* test_wait_for_waits_for_task_cancellation: the timeout is reported only
 * after the task's cleanup (which waits itself) ran. */
static int log_[8];
static int nlog;

enum { L_CLEANUP_START = 1, L_CLEANUP_END, L_TIMEOUT };

static int slow_cleanup(void *arg) {
    (void)arg;
    int rc = corio_sleep(10);
    if (rc == -ECANCELED) {
        log_[nlog++] = L_CLEANUP_START;
        CHECK_EQ(corio_sleep(0.0001), 0);
        log_[nlog++] = L_CLEANUP_END;
    }
    return rc;
}
static int waits_for_cleanup_main(void *arg) {
    (void)arg;
    nlog = 0;
    corio_task *t = corio_spawn(slow_cleanup, NULL);
    double t0 = corio_time();
    int rc = corio_wait_for(corio_task_future(t), 0.0001, NULL);
    if (rc == -ETIMEDOUT) log_[nlog++] = L_TIMEOUT;
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(nlog, 3);
    CHECK_EQ(log_[0], L_CLEANUP_START);
    CHECK_EQ(log_[1], L_CLEANUP_END);
    CHECK_EQ(log_[2], L_TIMEOUT);
    CHECK(corio_time() >= t0 + 0.0002 - 1e-9);
    CHECK(corio_task_cancelled(t));
    CHECK_EQ(corio_join(t), -ECANCELED);
    return 0;
}
static void test_wait_for_waits_for_task_cancellation(void) {
    CHECK_EQ(test_run(waits_for_cleanup_main, NULL, 1), 0);
}

/* test_wait_for_reraises_exception_during_cancellation: an error from the
 * task's cleanup wins over the timeout. */
static int fails_in_cleanup(void *arg) {
    (void)arg;
    corio_sleep(0.25);
    return -EIO; /* finally: raise FooException */
}
static int reraise_main(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(fails_in_cleanup, NULL);
    CHECK_EQ(corio_wait_for(corio_task_future(t), 0.0001, NULL), -EIO);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(corio_join(t), -EIO);
    return 0;
}
static void test_wait_for_reraises_exception_during_cancellation(void) {
    CHECK_EQ(test_run(reraise_main, NULL, 1), 0);
}

/* SlowTask: ignores cancel requests until its time is up, then returns 3. */
typedef struct slow {
    double exit_at;
    int cancels, exited;
} slow;

static int slow_run(void *arg) {
    slow *s = arg;
    for (;;) {
        double left = s->exit_at - corio_time();
        if (left <= 0) break;
        if (corio_sleep(left) == -ECANCELED) s->cancels++;
    }
    s->exited = 1;
    return 3;
}

/* test_asyncio_wait_for_timeout: the task ignores the cancel and finishes
 * normally after the deadline: asyncio 3.13 returns its value (3). */
static int slow_timeout_main(void *arg) {
    (void)arg;
    slow s = {.exit_at = corio_time() + 0.25};
    corio_task *t = corio_spawn(slow_run, &s);
    intptr_t v = 0;
    CHECK_EQ(corio_wait_for(corio_task_future(t), 0.125, &v), 0);
    CHECK_EQ(v, 3);
    CHECK(s.exited);
    CHECK_EQ(s.cancels, 1);
    CHECK(NEAR(corio_time(), s.exit_at));
    CHECK_EQ(corio_join(t), 3);
    return 0;
}
static void test_asyncio_wait_for_timeout(void) { CHECK_EQ(test_run(slow_timeout_main, NULL, 1), 0); }

/* test_asyncio_wait_for_cancelled: the waiter is cancelled; it waits for the
 * (cancel-ignoring) task, which returns 3, and so does the waiter. */
typedef struct wf_args {
    corio_future *f;
    double timeout;
    intptr_t value;
} wf_args;

static int wait_for_task(void *arg) {
    wf_args *a = arg;
    int rc = corio_wait_for(a->f, a->timeout, &a->value);
    return rc < 0 ? rc : (int)a->value;
}
static int slow_cancelled_main(void *arg) {
    (void)arg;
    slow s = {.exit_at = corio_time() + 0.25};
    corio_task *inner = corio_spawn(slow_run, &s);
    wf_args a = {.f = corio_task_future(inner), .timeout = 0.5};
    corio_task *w = corio_spawn(wait_for_task, &a);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(w), 1);
    corio_future *fw = corio_task_future(w);
    CHECK(corio_wait(&fw, 1, CORIO_ALL_COMPLETED, INFINITY, NULL, NULL) == 1);
    CHECK(s.exited);
    CHECK_EQ(s.cancels, 1);
    CHECK(!corio_task_cancelled(w));
    CHECK_EQ(corio_join(w), 3);
    CHECK_EQ(corio_join(inner), 3);
    return 0;
}
static void test_asyncio_wait_for_cancelled(void) { CHECK_EQ(test_run(slow_cancelled_main, NULL, 1), 0); }

/* ---- cancelling the waiter ------------------------------------------------------------ */

static int blocking(void *arg) {
    (void)arg;
    corio_future never;
    corio_future_init(&never, NULL);
    return corio_await(&never, NULL);
}

/* _test_cancel_wait_for (issue #23219): cancelling the waiter cancels the task. */
static int cancel_wait_for_main(void *arg) {
    double timeout = *(double *)arg;
    corio_task *task = corio_spawn(blocking, NULL);
    CHECK_EQ(corio_task_ref(task), 0);
    wf_args a = {.f = corio_task_future(task), .timeout = timeout};
    corio_task *w = corio_spawn(wait_for_task, &a);
    corio_handle h = {0};
    CHECK_EQ(corio_call_soon(&h, cancel_cb, w), 0);
    CHECK_EQ(corio_join(w), -ECANCELED);
    CHECK(corio_task_cancelled(task));
    CHECK_EQ(corio_join(task), -ECANCELED);
    CHECK_EQ(corio_task_detach(task), 0);
    return 0;
}
static void test_cancel_blocking_wait_for(void) {
    double to = INFINITY;
    CHECK_EQ(test_run(cancel_wait_for_main, &to, 1), 0);
}
static void test_cancel_wait_for(void) {
    double to = 60.0;
    CHECK_EQ(test_run(cancel_wait_for_main, &to, 1), 0);
}

/* A cancellation racing with completion is reported, not hidden (gh-86296):
 * the future gets its result and the waiter is cancelled in the same
 * step, before it resumed.  asyncio 3.13: CancelledError; the result stays. */
static int race_main(void *arg) {
    (void)arg;
    corio_future fut;
    CHECK_EQ(corio_future_init(&fut, NULL), 0);
    wf_args a = {.f = &fut, .timeout = 100};
    corio_task *w = corio_spawn(wait_for_task, &a);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_set_result(&fut, 5), 0);
    CHECK_EQ(corio_cancel(w), 1);
    CHECK_EQ(corio_join(w), -ECANCELED);
    intptr_t v = 0;
    CHECK_EQ(corio_future_result(&fut, &v), 0);
    CHECK_EQ(v, 5);
    return 0;
}
static void test_cancel_races_completion(void) { CHECK_EQ(test_run(race_main, NULL, 1), 0); }

/* The same with a task that finishes in the iteration the waiter is cancelled. */
static int quick(void *arg) {
    (void)arg;
    corio_yield();
    return 11;
}
typedef struct race2 {
    corio_task *inner;
    int reached_end;
} race2;

static int wfc(void *arg) {
    race2 *r = arg;
    int rc = corio_wait_for(corio_task_future(r->inner), 100, NULL);
    if (rc < 0) return rc;
    rc = corio_sleep(1);
    if (rc < 0) return rc;
    r->reached_end = 1;
    return 0;
}
static int race_task_main(void *arg) {
    (void)arg;
    race2 r = {0};
    r.inner = corio_spawn(quick, NULL);
    corio_task *w = corio_spawn(wfc, &r);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK(corio_task_done(r.inner)); /* done, but the waiter has not resumed yet */
    CHECK_EQ(corio_cancel(w), 1);
    CHECK_EQ(corio_join(w), -ECANCELED);
    CHECK_EQ(corio_join(r.inner), 11);
    CHECK(!r.reached_end);
    return 0;
}
static void test_cancel_races_task_completion(void) { CHECK_EQ(test_run(race_task_main, NULL, 1), 0); }

/* test_wait_for_issue86296 exactly: the inner task completes in one cycle. */
static int done_at_once(void *arg) {
    (void)arg;
    return 12;
}
static int issue86296_main(void *arg) {
    (void)arg;
    race2 r = {0};
    r.inner = corio_spawn(done_at_once, NULL);
    corio_task *w = corio_spawn(wfc, &r);
    CHECK(!corio_task_done(w));
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(w), 1);
    CHECK_EQ(corio_join(w), -ECANCELED);
    CHECK(corio_task_done(r.inner));
    CHECK_EQ(corio_join(r.inner), 12);
    CHECK(!r.reached_end);
    return 0;
}
static void test_wait_for_issue86296(void) { CHECK_EQ(test_run(issue86296_main, NULL, 1), 0); }

/* The timeout fires and an outside cancel arrives in the same iteration:
 * the outside cancel is not turned into a timeout: -ECANCELED. */
static int sleep10(void *arg) {
    (void)arg;
    return corio_sleep(10);
}
static int timeout_and_cancel_main(void *arg) {
    (void)arg;
    corio_task *inner = corio_spawn(sleep10, NULL);
    CHECK_EQ(corio_task_ref(inner), 0);
    wf_args a = {.f = corio_task_future(inner), .timeout = 0.25};
    corio_task *w = corio_spawn(wait_for_task, &a);
    CHECK_EQ(corio_task_ref(w), 0);
    CHECK_EQ(corio_sleep(0), 0);
    corio_handle h = {0};
    CHECK_EQ(corio_call_at(&h, corio_time() + 0.25, cancel_cb, w), 0); /* queued after the timeout */
    CHECK_EQ(corio_join(w), -ECANCELED);
    CHECK(corio_task_cancelled(inner));
    CHECK_EQ(corio_task_cancelling(w), 1);
    CHECK_EQ(corio_join(inner), -ECANCELED);
    CHECK_EQ(corio_task_detach(inner), 0);
    CHECK_EQ(corio_task_detach(w), 0);
    return 0;
}
static void test_timeout_and_outside_cancel(void) { CHECK_EQ(test_run(timeout_and_cancel_main, NULL, 1), 0); }

/* ---- timeout <= 0 ------------------------------------------------------------------------- */

/* test_wait_for_timeout_less_then_0_or_0_future_done and friends, for
 * already-done plain futures: the outcome, never a timeout; a future
 * cancelled beforehand gives -ECANCELED (asyncio: CancelledError). */
static int zero_done_main(void *arg) {
    (void)arg;
    const double tos[] = {0, -1, -0.0};
    for (int i = 0; i < 3; i++) {
        corio_future f;
        intptr_t v = 0;
        CHECK_EQ(corio_future_init(&f, NULL), 0);
        CHECK_EQ(corio_future_set_result(&f, 99), 0);
        CHECK_EQ(corio_wait_for(&f, tos[i], &v), 0);
        CHECK_EQ(v, 99);
        CHECK_EQ(corio_future_init(&f, NULL), 0);
        CHECK_EQ(corio_future_set_error(&f, -EIO), 0);
        CHECK_EQ(corio_wait_for(&f, tos[i], NULL), -EIO);
        CHECK_EQ(corio_future_init(&f, NULL), 0);
        CHECK_EQ(corio_future_cancel(&f), 1);
        CHECK_EQ(corio_wait_for(&f, tos[i], NULL), -ECANCELED);
        /* Pending: cancelled, then -ETIMEDOUT. */
        CHECK_EQ(corio_future_init(&f, NULL), 0);
        CHECK_EQ(corio_wait_for(&f, tos[i], NULL), -ETIMEDOUT);
        CHECK(corio_future_cancelled(&f));
    }
    /* A positive timeout on a done future returns at once too. */
    corio_future f;
    intptr_t v = 0;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_future_set_result(&f, 3), 0);
    CHECK_EQ(corio_wait_for(&f, 10, &v), 0);
    CHECK_EQ(v, 3);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    return 0;
}
static void test_timeout_zero_done_futures(void) { CHECK_EQ(test_run(zero_done_main, NULL, 1), 0); }

/* test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started */
static int started;
static int mark_started(void *arg) {
    (void)arg;
    started = 1;
    return 1;
}
static int not_started_main(void *arg) {
    (void)arg;
    started = 0;
    corio_task *t = corio_spawn(mark_started, NULL);
    CHECK_EQ(corio_wait_for(corio_task_future(t), 0, NULL), -ETIMEDOUT);
    CHECK(!started);
    CHECK(corio_task_cancelled(t));
    CHECK_EQ(corio_join(t), -ECANCELED);
    return 0;
}
static void test_timeout_zero_task_not_started(void) { CHECK_EQ(test_run(not_started_main, NULL, 1), 0); }

/* test_wait_for_timeout_less_then_0_or_0: a running task is cancelled and
 * its cleanup has run when -ETIMEDOUT comes. */
typedef struct foo2 {
    corio_future started;
    int running;
} foo2;

static int foo2_run(void *arg) {
    foo2 *f = arg;
    f->running = 1;
    corio_future_set_result(&f->started, 0);
    int rc = corio_sleep(10);
    f->running = 0; /* finally */
    return rc < 0 ? rc : 1;
}
static int zero_running_main(void *arg) {
    (void)arg;
    const double tos[] = {0, -1};
    for (int i = 0; i < 2; i++) {
        foo2 f = {.running = -1};
        CHECK_EQ(corio_future_init(&f.started, NULL), 0);
        corio_task *t = corio_spawn(foo2_run, &f);
        CHECK_EQ(corio_await(&f.started, NULL), 0);
        CHECK_EQ(corio_wait_for(corio_task_future(t), tos[i], NULL), -ETIMEDOUT);
        CHECK(corio_task_done(t));
        CHECK(corio_task_cancelled(t));
        CHECK_EQ(f.running, 0);
        CHECK_EQ(corio_join(t), -ECANCELED);
    }
    return 0;
}
static void test_timeout_zero_task_running(void) { CHECK_EQ(test_run(zero_running_main, NULL, 1), 0); }

/* test_wait_for_waits_for_task_cancellation_w_timeout_0 */
static int zero_cleanup_main(void *arg) {
    (void)arg;
    nlog = 0;
    corio_task *t = corio_spawn(slow_cleanup, NULL);
    CHECK_EQ(corio_sleep(0.0001), 0);
    int rc = corio_wait_for(corio_task_future(t), 0, NULL);
    if (rc == -ETIMEDOUT) log_[nlog++] = L_TIMEOUT;
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(nlog, 3);
    CHECK_EQ(log_[1], L_CLEANUP_END);
    CHECK_EQ(log_[2], L_TIMEOUT);
    CHECK_EQ(corio_join(t), -ECANCELED);
    return 0;
}
static void test_timeout_zero_waits_for_cleanup(void) { CHECK_EQ(test_run(zero_cleanup_main, NULL, 1), 0); }

/* A task that absorbs the cancel under timeout <= 0 gives its value. */
static int absorb_zero_main(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(return_42, NULL);
    CHECK_EQ(corio_sleep(0), 0);
    intptr_t v = 0;
    CHECK_EQ(corio_wait_for(corio_task_future(t), -1, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(corio_join(t), 42);
    return 0;
}
static void test_timeout_zero_absorbed(void) { CHECK_EQ(test_run(absorb_zero_main, NULL, 1), 0); }

/* Cancelling the waiter while timeout 0 waits for the task's cleanup:
 * the waiter gets -ECANCELED (asyncio: _cancel_and_wait is cancellable). */
static int zero_cancel_waiter_main(void *arg) {
    (void)arg;
    slow s = {.exit_at = corio_time() + 1};
    corio_task *inner = corio_spawn(slow_run, &s);
    CHECK_EQ(corio_sleep(0), 0);
    wf_args a = {.f = corio_task_future(inner), .timeout = 0};
    corio_task *w = corio_spawn(wait_for_task, &a);
    CHECK_EQ(corio_sleep(0.25), 0);
    CHECK(!corio_task_done(w));
    CHECK_EQ(corio_cancel(w), 1);
    CHECK_EQ(corio_join(w), -ECANCELED);
    CHECK(!corio_task_done(inner));
    CHECK_EQ(corio_join(inner), 3);
    CHECK_EQ(s.cancels, 1);
    return 0;
}
static void test_timeout_zero_waiter_cancelled(void) { CHECK_EQ(test_run(zero_cancel_waiter_main, NULL, 1), 0); }

/* ---- shield (WaitForShieldTests) ------------------------------------------------------- */

static int coro_done(void *arg) {
    double d = *(double *)arg;
    int rc = corio_sleep(d);
    return rc < 0 ? rc : 77;
}
typedef struct shield_args {
    corio_future *f;
    intptr_t value;
} shield_args;

static int shield_task(void *arg) {
    shield_args *a = arg;
    int rc = corio_shield(a->f, &a->value);
    return rc < 0 ? rc : (int)a->value;
}

/* test_zero_timeout: the shield's task is cancelled at once; the inner
 * task runs on in the background. */
static int shield_zero_main(void *arg) {
    (void)arg;
    double d = 0.01;
    corio_task *task = corio_spawn(coro_done, &d);
    shield_args sa = {.f = corio_task_future(task)};
    corio_task *shielded = corio_spawn(shield_task, &sa);
    CHECK_EQ(corio_wait_for(corio_task_future(shielded), 0, NULL), -ETIMEDOUT);
    CHECK(!corio_task_done(task));
    CHECK(corio_task_cancelled(shielded));
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK(corio_task_done(task));
    CHECK_EQ(corio_join(task), 77);
    CHECK_EQ(corio_join(shielded), -ECANCELED);
    return 0;
}
static void test_shield_zero_timeout(void) { CHECK_EQ(test_run(shield_zero_main, NULL, 1), 0); }

/* test_none_timeout */
static int shield_none_main(void *arg) {
    (void)arg;
    double d = 0.1;
    corio_task *task = corio_spawn(coro_done, &d);
    shield_args sa = {.f = corio_task_future(task)};
    corio_task *shielded = corio_spawn(shield_task, &sa);
    intptr_t v = 0;
    CHECK_EQ(corio_wait_for(corio_task_future(shielded), INFINITY, &v), 0);
    CHECK_EQ(v, 77);
    CHECK(corio_task_done(task));
    CHECK_EQ(corio_join(task), 77);
    CHECK_EQ(corio_join(shielded), 77);
    return 0;
}
static void test_shield_none_timeout(void) { CHECK_EQ(test_run(shield_none_main, NULL, 1), 0); }

/* test_shielded_timeout */
static int shielded_timeout_main(void *arg) {
    (void)arg;
    double d = 0.1;
    corio_task *task = corio_spawn(coro_done, &d);
    shield_args sa = {.f = corio_task_future(task)};
    corio_task *shielded = corio_spawn(shield_task, &sa);
    CHECK_EQ(corio_wait_for(corio_task_future(shielded), 0.01, NULL), -ETIMEDOUT);
    CHECK(!corio_task_done(task));
    CHECK(!corio_task_cancelled(task));
    CHECK_EQ(corio_join(task), 77);
    CHECK_EQ(corio_join(shielded), -ECANCELED);
    return 0;
}
static void test_shielded_timeout(void) { CHECK_EQ(test_run(shielded_timeout_main, NULL, 1), 0); }

/* ---- arguments ----------------------------------------------------------------------------- */

static int args_main(void *arg) {
    (void)arg;
    corio_future f;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_wait_for(NULL, 1, NULL), -EINVAL);
    CHECK_EQ(corio_wait_for(&f, NAN, NULL), -EINVAL);
    CHECK_EQ(corio_wait_for(corio_task_future(corio_current_task()), 1, NULL), -EDEADLK);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(corio_future_cancel(&f), 1);
    return 0;
}
static void test_bad_arguments(void) {
    CHECK_EQ(test_run(args_main, NULL, 1), 0);
    corio_future f = {0};
    CHECK_EQ(corio_wait_for(&f, 1, NULL), -EPERM);
}

int main(void) {
    RUN_TEST(test_result_as_timeout_fires);
    RUN_TEST(test_timeout_before_result);
    RUN_TEST(test_wait_for_race_condition);
    RUN_TEST(test_wait_for);
    RUN_TEST(test_plain_future_timeout);
    RUN_TEST(test_wait_for_cancel_suppressed);
    RUN_TEST(test_wait_for_waits_for_task_cancellation);
    RUN_TEST(test_wait_for_reraises_exception_during_cancellation);
    RUN_TEST(test_asyncio_wait_for_timeout);
    RUN_TEST(test_asyncio_wait_for_cancelled);
    RUN_TEST(test_cancel_blocking_wait_for);
    RUN_TEST(test_cancel_wait_for);
    RUN_TEST(test_cancel_races_completion);
    RUN_TEST(test_cancel_races_task_completion);
    RUN_TEST(test_wait_for_issue86296);
    RUN_TEST(test_timeout_and_outside_cancel);
    RUN_TEST(test_timeout_zero_done_futures);
    RUN_TEST(test_timeout_zero_task_not_started);
    RUN_TEST(test_timeout_zero_task_running);
    RUN_TEST(test_timeout_zero_waits_for_cleanup);
    RUN_TEST(test_timeout_zero_absorbed);
    RUN_TEST(test_timeout_zero_waiter_cancelled);
    RUN_TEST(test_shield_zero_timeout);
    RUN_TEST(test_shield_none_timeout);
    RUN_TEST(test_shielded_timeout);
    RUN_TEST(test_bad_arguments);
    TEST_MAIN_END();
}
