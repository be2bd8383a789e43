/*
 * test_shield.c - corio_shield, ported from the shield parts of CPython's
 * Lib/test/test_asyncio/test_tasks.py (3.13).  Each expected outcome was
 * checked against asyncio 3.13 on a virtual-time loop.
 */
#include "test.h"

typedef struct sargs {
    corio_future *f;
    intptr_t value;
    int rc;
} sargs;

static int shield_task(void *arg) {
    sargs *a = arg;
    a->rc = corio_shield(a->f, &a->value);
    return a->rc < 0 ? a->rc : (int)a->value;
}

static void set_res_cb(void *arg) { corio_future_set_result(arg, 42); }

/* test_shield_result */
static int result_main(void *arg) {
    (void)arg;
    corio_future inner;
    corio_handle h = {0};
    CHECK_EQ(corio_future_init(&inner, NULL), 0);
    CHECK_EQ(corio_call_soon(&h, set_res_cb, &inner), 0);
    intptr_t v = 0;
    CHECK_EQ(corio_shield(&inner, &v), 0);
    CHECK_EQ(v, 42);
    return 0;
}
static void test_shield_result(void) { CHECK_EQ(test_run(result_main, NULL, 1), 0); }

/* test_shield_exception */
static void set_err_cb(void *arg) { corio_future_set_error(arg, -EIO); }
static int exception_main(void *arg) {
    (void)arg;
    corio_future inner;
    corio_handle h = {0};
    CHECK_EQ(corio_future_init(&inner, NULL), 0);
    CHECK_EQ(corio_call_later(&h, 0.1, set_err_cb, &inner), 0);
    intptr_t v = 99;
    CHECK_EQ(corio_shield(&inner, &v), -EIO);
    CHECK_EQ(v, 99);
    return 0;
}
static void test_shield_exception(void) { CHECK_EQ(test_run(exception_main, NULL, 1), 0); }

/* test_shield_cancel_inner: the inner future cancelled -> -ECANCELED; the
 * waiting task itself is not cancelled. */
static int cancel_inner_main(void *arg) {
    (void)arg;
    corio_future inner;
    CHECK_EQ(corio_future_init(&inner, NULL), 0);
    sargs a = {.f = &inner, .rc = 1};
    corio_task *t = corio_spawn(shield_task, &a);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_cancel(&inner), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(corio_task_cancelled(t));
    CHECK_EQ(corio_task_cancelling(t), 0);
    CHECK_EQ(corio_task_detach(t), 0);
    return 0;
}
static void test_shield_cancel_inner(void) { CHECK_EQ(test_run(cancel_inner_main, NULL, 1), 0); }

/* An inner task cancelled by someone else: -ECANCELED too. */
static int sleeper(void *arg) {
    double d = *(double *)arg;
    int rc = corio_sleep(d);
    return rc < 0 ? rc : 5;
}
static int inner_task_cancelled_main(void *arg) {
    (void)arg;
    double d = 10;
    corio_task *it = corio_spawn(sleeper, &d);
    sargs a = {.f = corio_task_future(it), .rc = 1};
    corio_task *t = corio_spawn(shield_task, &a);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(it), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_join(it), -ECANCELED);
    return 0;
}
static void test_shield_inner_task_cancelled(void) { CHECK_EQ(test_run(inner_task_cancelled_main, NULL, 1), 0); }

/* test_shield_cancel_outer / test_shield_effect: cancelling the waiting task
 * returns -ECANCELED at once; the inner task keeps running and completes. */
typedef struct effect {
    corio_future waiter;
    int proof;
} effect;

static int effect_inner(void *arg) {
    effect *s = arg;
    int rc = corio_await(&s->waiter, NULL);
    if (rc < 0) return rc;
    s->proof += 1;
    return 5;
}
typedef struct effect_outer_args {
    effect *s;
    corio_task *inner;
} effect_outer_args;

static int effect_outer(void *arg) {
    effect_outer_args *a = arg;
    int rc = corio_shield(corio_task_future(a->inner), NULL);
    if (rc < 0) return rc;
    a->s->proof += 100;
    return 0;
}
static int effect_main(void *arg) {
    (void)arg;
    effect s = {.proof = 0};
    CHECK_EQ(corio_future_init(&s.waiter, NULL), 0);
    corio_task *inner = corio_spawn(effect_inner, &s);
    effect_outer_args a = {&s, inner};
    corio_task *f = corio_spawn(effect_outer, &a);
    CHECK_EQ(corio_task_ref(f), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(f), 1);
    CHECK_EQ(corio_join(f), -ECANCELED);
    CHECK(corio_task_cancelled(f));
    CHECK(!corio_task_done(inner));
    CHECK_EQ(corio_future_set_result(&s.waiter, 0), 0);
    CHECK_EQ(corio_join(inner), 5);
    CHECK_EQ(s.proof, 1);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(corio_task_detach(f), 0);
    return 0;
}
static void test_shield_effect(void) { CHECK_EQ(test_run(effect_main, NULL, 1), 0); }

/* The same over time: the inner task sleeps on after the shield's task is
 * cancelled, and completes with its value. */
static int over_time_main(void *arg) {
    (void)arg;
    double d = 1;
    corio_task *inner = corio_spawn(sleeper, &d);
    sargs a = {.f = corio_task_future(inner), .rc = 1};
    corio_task *t = corio_spawn(shield_task, &a);
    CHECK_EQ(corio_sleep(0.25), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(fabs(corio_time() - 0.25) < 1e-9); /* at once */
    CHECK(!corio_task_done(inner));
    CHECK_EQ(corio_join(inner), 5);
    CHECK(fabs(corio_time() - 1) < 1e-9);
    return 0;
}
static void test_shield_outer_cancelled_inner_completes(void) { CHECK_EQ(test_run(over_time_main, NULL, 1), 0); }

/* test_shield_shortcut: a done future returns at once, without suspending. */
static int other_ran;
static int mark_other(void *arg) {
    (void)arg;
    other_ran = 1;
    return 0;
}
static int shortcut_main(void *arg) {
    (void)arg;
    corio_future f;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_future_set_result(&f, 42), 0);
    other_ran = 0;
    corio_task *o = corio_spawn(mark_other, NULL);
    intptr_t v = 0;
    CHECK_EQ(corio_shield(&f, &v), 0);
    CHECK_EQ(v, 42);
    CHECK(!other_ran);
    corio_future e, c;
    CHECK_EQ(corio_future_init(&e, NULL), 0);
    CHECK_EQ(corio_future_set_error(&e, -EIO), 0);
    CHECK_EQ(corio_shield(&e, NULL), -EIO);
    CHECK_EQ(corio_future_init(&c, NULL), 0);
    CHECK_EQ(corio_future_cancel(&c), 1);
    CHECK_EQ(corio_shield(&c, NULL), -ECANCELED);
    CHECK_EQ(corio_join(o), 0);
    return 0;
}
static void test_shield_shortcut(void) { CHECK_EQ(test_run(shortcut_main, NULL, 1), 0); }

/* The inner future completes and the shield's task is cancelled in the same
 * step: -ECANCELED (the cancellation is not hidden); the result stays. */
static int race_main(void *arg) {
    (void)arg;
    corio_future inner;
    CHECK_EQ(corio_future_init(&inner, NULL), 0);
    sargs a = {.f = &inner, .rc = 1};
    corio_task *t = corio_spawn(shield_task, &a);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_set_result(&inner, 3), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    intptr_t v = 0;
    CHECK_EQ(corio_future_result(&inner, &v), 0);
    CHECK_EQ(v, 3);
    CHECK_EQ(corio_sleep(0), 0);
    return 0;
}
static void test_shield_cancel_races_completion(void) { CHECK_EQ(test_run(race_main, NULL, 1), 0); }

/* test_gather_shield: gathering shields; cancelling the gathering task
 * cancels the shields' waits but not the futures behind them.  Two tasks
 * each shield one child; a third gathers the two tasks. */
typedef struct gs {
    corio_future child1, child2;
    sargs a1, a2;
    corio_task *s1, *s2;
} gs;

static int gather_two(void *arg) {
    gs *s = arg;
    corio_future *fs[2] = {corio_task_future(s->s1), corio_task_future(s->s2)};
    return corio_gather(fs, 2, 0);
}
static int gather_shield_main(void *arg) {
    (void)arg;
    gs s;
    CHECK_EQ(corio_future_init(&s.child1, NULL), 0);
    CHECK_EQ(corio_future_init(&s.child2, NULL), 0);
    s.a1 = (sargs){.f = &s.child1, .rc = 1};
    s.a2 = (sargs){.f = &s.child2, .rc = 1};
    s.s1 = corio_spawn(shield_task, &s.a1);
    s.s2 = corio_spawn(shield_task, &s.a2);
    corio_task *parent = corio_spawn(gather_two, &s);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(parent), 1);
    CHECK_EQ(corio_join(parent), -ECANCELED);
    CHECK_EQ(corio_join(s.s1), -ECANCELED);
    CHECK_EQ(corio_join(s.s2), -ECANCELED);
    CHECK(!corio_future_done(&s.child1));
    CHECK(!corio_future_done(&s.child2));
    CHECK_EQ(corio_future_set_result(&s.child1, 1), 0);
    CHECK_EQ(corio_future_set_result(&s.child2, 2), 0);
    CHECK_EQ(corio_sleep(0), 0);
    return 0;
}
static void test_gather_shield(void) { CHECK_EQ(test_run(gather_shield_main, NULL, 1), 0); }

/* Shielding the same future from two tasks; one is cancelled, the other
 * still gets the result. */
static int two_waiters_main(void *arg) {
    (void)arg;
    corio_future inner;
    CHECK_EQ(corio_future_init(&inner, NULL), 0);
    sargs a = {.f = &inner, .rc = 1}, b = {.f = &inner, .rc = 1};
    corio_task *ta = corio_spawn(shield_task, &a), *tb = corio_spawn(shield_task, &b);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(ta), 1);
    CHECK_EQ(corio_join(ta), -ECANCELED);
    CHECK_EQ(corio_future_set_result(&inner, 9), 0);
    CHECK_EQ(corio_join(tb), 9);
    return 0;
}
static void test_shield_two_waiters(void) { CHECK_EQ(test_run(two_waiters_main, NULL, 1), 0); }

static int args_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_shield(NULL, NULL), -EINVAL);
    corio_loop *other = corio_loop_new();
    corio_future b;
    CHECK_EQ(corio_future_init(&b, other), 0);
    CHECK_EQ(corio_shield(&b, NULL), -EXDEV);
    CHECK_EQ(corio_loop_close(other), 0);
    return 0;
}
static void test_shield_bad_arguments(void) {
    CHECK_EQ(test_run(args_main, NULL, 1), 0);
    corio_future f = {0};
    CHECK_EQ(corio_shield(&f, NULL), -EPERM);
}

int main(void) {
    RUN_TEST(test_shield_result);
    RUN_TEST(test_shield_exception);
    RUN_TEST(test_shield_cancel_inner);
    RUN_TEST(test_shield_inner_task_cancelled);
    RUN_TEST(test_shield_effect);
    RUN_TEST(test_shield_outer_cancelled_inner_completes);
    RUN_TEST(test_shield_shortcut);
    RUN_TEST(test_shield_cancel_races_completion);
    RUN_TEST(test_gather_shield);
    RUN_TEST(test_shield_two_waiters);
    RUN_TEST(test_shield_bad_arguments);
    TEST_MAIN_END();
}
