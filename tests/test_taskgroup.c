/*
 * test_taskgroup.c - task groups, ported from CPython's
 * Lib/test/test_asyncio/test_taskgroups.py (3.13), with the cancellation
 * corner cases of gh-116720.  asyncio's ExceptionGroup is the first error
 * plus corio_taskgroup_error(); each expected outcome (errors, their
 * order, cancelling() counts, times) was checked against asyncio 3.13 on a
 * virtual-time loop.  Everything timed runs on corio's virtual clock.
 */
#include "test.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-6)

static corio_task *self(void) { return corio_current_task(); }

/* Sleep `d` seconds and return v (or the sleep's error). */
typedef struct job {
    double d;
    int v;
} job;

static int sleep_return(void *arg) {
    job *j = arg;
    int rc = corio_sleep(j->d);
    return rc < 0 ? rc : j->v;
}
/* Sleep `d` seconds, then fail with v (a negative errno). */
static int crash_after(void *arg) {
    job *j = arg;
    int rc = corio_sleep(j->d);
    return rc < 0 ? rc : j->v;
}

/* The group's borrowed child, kept alive past exit to read its outcome. */
static corio_task *keep(corio_task *t) {
    CHECK(t != NULL);
    if (t) CHECK_EQ(corio_task_ref(t), 0);
    return t;
}

/* ---- basics ------------------------------------------------------------------------- */

/* test_taskgroup_01 / _02 */
static int tg01_main(void *arg) {
    int late = *(int *)arg;
    corio_taskgroup g;
    job j1 = {0.125, 42}, j2 = {0.25, 11};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    corio_task *t1 = keep(corio_taskgroup_spawn(&g, sleep_return, &j1, NULL));
    if (late) CHECK_EQ(corio_sleep(0.15), 0);
    corio_task *t2 = keep(corio_taskgroup_spawn(&g, sleep_return, &j2, NULL));
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 0);
    CHECK_EQ(corio_task_result(t1), 42);
    CHECK_EQ(corio_task_result(t2), 11);
    CHECK(NEAR(corio_time(), late ? 0.4 : 0.25));
    CHECK_EQ(corio_join(t1), 42);
    CHECK_EQ(corio_join(t2), 11);
    return 0;
}
static void test_taskgroup_01(void) {
    int late = 0;
    CHECK_EQ(test_run(tg01_main, &late, 1), 0);
}
static void test_taskgroup_02(void) {
    int late = 1;
    CHECK_EQ(test_run(tg01_main, &late, 1), 0);
}

/* test_taskgroup_03: a child cancelled explicitly does not abort the group. */
static int tg03_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job j1 = {1, 42}, j2 = {0.25, 11};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    corio_task *t1 = keep(corio_taskgroup_spawn(&g, sleep_return, &j1, NULL));
    CHECK_EQ(corio_sleep(0.125), 0);
    CHECK_EQ(corio_cancel(t1), 1);
    corio_task *t2 = keep(corio_taskgroup_spawn(&g, sleep_return, &j2, NULL));
    CHECK(t2 != NULL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    CHECK(corio_task_cancelled(t1));
    CHECK_EQ(corio_task_result(t2), 11);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_join(t1), -ECANCELED);
    CHECK_EQ(corio_join(t2), 11);
    return 0;
}
static void test_taskgroup_03(void) { CHECK_EQ(test_run(tg03_main, NULL, 1), 0); }

/* ---- a failing child -------------------------------------------------------------------- */

typedef struct tg04 {
    int num, t2_cancel, runner_cancel;
    corio_task *t2;
} tg04;

static tg04 *g04;

static int foo2_04(void *arg) {
    (void)arg;
    int rc = corio_sleep(5);
    if (rc == -ECANCELED) {
        g04->t2_cancel = 1;
        return rc;
    }
    g04->num += 1;
    return 0;
}
static int runner_04(void *arg) {
    int nfoo1 = *(int *)arg;
    corio_taskgroup g;
    job crash = {0.125, -EDOM};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    for (int i = 0; i < nfoo1; i++) CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    g04->t2 = keep(corio_taskgroup_spawn(&g, foo2_04, NULL, NULL));
    int rc = corio_sleep(10);
    if (rc == -ECANCELED) g04->runner_cancel = 1;
    rc = corio_taskgroup_exit(&g, rc);
    /* asyncio: ExceptionGroup of one ZeroDivisionError per failed child. */
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g), (size_t)nfoo1);
    for (int i = 0; i < nfoo1; i++) CHECK_EQ(corio_taskgroup_error(&g, (size_t)i), -EDOM);
    CHECK_EQ(corio_taskgroup_error(&g, (size_t)nfoo1), 0);
    CHECK(NEAR(corio_time(), 0.125));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    if (rc < 0) return rc;
    g04->num += 10;
    return 0;
}
static int tg04_main(void *arg) {
    tg04 st = {0};
    g04 = &st;
    corio_task *r = corio_spawn(runner_04, arg);
    CHECK_EQ(corio_join(r), -EDOM);
    CHECK_EQ(st.num, 0);
    CHECK(st.t2_cancel);
    CHECK(st.runner_cancel);
    CHECK(corio_task_cancelled(st.t2));
    CHECK_EQ(corio_join(st.t2), -ECANCELED);
    return 0;
}
/* test_taskgroup_04: one failing child. */
static void test_taskgroup_04(void) {
    int n = 1;
    CHECK_EQ(test_run(tg04_main, &n, 1), 0);
}
/* test_cancel_children_on_child_error: three fail at the same instant; all
 * three errors are listed. */
static void test_cancel_children_on_child_error(void) {
    int n = 3;
    CHECK_EQ(test_run(tg04_main, &n, 1), 0);
}

/* A child that ignores the cancellation for a while (keeps sleeping after
 * -ECANCELED) is waited for; exit returns only when it has finished. */
typedef struct stubborn {
    double cancelled_at, done_at;
} stubborn;

static int stubborn_child(void *arg) {
    stubborn *s = arg;
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    s->cancelled_at = corio_time();
    CHECK_EQ(corio_sleep(1), 0);
    s->done_at = corio_time();
    return 7;
}
static int stubborn_main(void *arg) {
    (void)arg;
    stubborn s = {-1, -1};
    job crash = {0.125, -EIO};
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    corio_task *st = keep(corio_taskgroup_spawn(&g, stubborn_child, &s, NULL));
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    CHECK(NEAR(corio_time(), 0.125));
    rc = corio_taskgroup_exit(&g, rc);
    CHECK_EQ(rc, -EIO);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 1);
    CHECK(NEAR(s.cancelled_at, 0.125));
    CHECK(NEAR(s.done_at, 1.125));
    CHECK(NEAR(corio_time(), 1.125));
    CHECK_EQ(corio_task_result(st), 7);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_join(st), 7);
    return 0;
}
static void test_child_ignoring_cancel_is_waited_for(void) { CHECK_EQ(test_run(stubborn_main, NULL, 1), 0); }

/* test_taskgroup_no_create_task_after_failure: spawning while the group is
 * shutting down fails with ESHUTDOWN. */
typedef struct nospawn {
    corio_taskgroup *g;
    int spawn_errno;
    corio_task *spawned;
} nospawn;

static int nospawn_coro2(void *arg) {
    nospawn *n = arg;
    static job crash = {0.001, -EDOM};
    if (corio_sleep(1) == -ECANCELED) {
        errno = 0;
        n->spawned = corio_taskgroup_spawn(n->g, crash_after, &crash, NULL);
        n->spawn_errno = errno;
    }
    return 0;
}
static int nospawn_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job crash = {0.001, -EDOM};
    nospawn n = {.g = &g, .spawned = (corio_task *)&n};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    CHECK(corio_taskgroup_spawn(&g, nospawn_coro2, &n, NULL) != NULL);
    int rc = corio_taskgroup_exit(&g, 0);
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 1);
    CHECK(n.spawned == NULL);
    CHECK_EQ(n.spawn_errno, ESHUTDOWN);
    /* And the parent itself cannot spawn either once the group aborted. */
    return 0;
}
static void test_no_create_task_after_failure(void) { CHECK_EQ(test_run(nospawn_main, NULL, 1), 0); }

static int spawn_when_aborting_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job crash = {0.125, -EDOM};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    CHECK_EQ(corio_sleep(1), -ECANCELED);
    errno = 0;
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) == NULL);
    CHECK_EQ(errno, ESHUTDOWN);
    CHECK_EQ(corio_taskgroup_exit(&g, -ECANCELED), -EDOM);
    return 0;
}
static void test_body_cannot_spawn_after_failure(void) { CHECK_EQ(test_run(spawn_when_aborting_main, NULL, 1), 0); }

/* ---- the body's own outcome ------------------------------------------------------------- */

/* test_taskgroup_09 / _10: the body fails; the children are cancelled; the
 * body's error is the group's error. */
static int tg09_main(void *arg) {
    int sleep_first = *(int *)arg;
    corio_taskgroup g;
    job j1 = {1, 42}, j2 = {2, 11};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    corio_task *t1 = keep(corio_taskgroup_spawn(&g, sleep_return, &j1, NULL));
    corio_task *t2 = keep(corio_taskgroup_spawn(&g, sleep_return, &j2, NULL));
    if (sleep_first) CHECK_EQ(corio_sleep(0.125), 0);
    int rc = corio_taskgroup_exit(&g, -EDOM); /* 1 / 0 */
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 1);
    CHECK_EQ(corio_taskgroup_error(&g, 0), -EDOM);
    CHECK(corio_task_cancelled(t1));
    CHECK(corio_task_cancelled(t2));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_join(t1), -ECANCELED);
    CHECK_EQ(corio_join(t2), -ECANCELED);
    return 0;
}
static void test_taskgroup_09(void) {
    int s = 1;
    CHECK_EQ(test_run(tg09_main, &s, 1), 0);
}
static void test_taskgroup_10(void) {
    int s = 0;
    CHECK_EQ(test_run(tg09_main, &s, 1), 0);
}

/* test_taskgroup_19: the body fails in its cleanup after the group cancelled
 * it: both errors, the children's first, then the body's. */
static int tg19_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job crash = {0.125, -EDOM};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    rc = -EIO; /* nested(): finally: raise MyExc */
    rc = corio_taskgroup_exit(&g, rc);
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 2);
    CHECK_EQ(corio_taskgroup_error(&g, 0), -EDOM);
    CHECK_EQ(corio_taskgroup_error(&g, 1), -EIO);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_sleep(0), 0);
    return 0;
}
static void test_taskgroup_19(void) { CHECK_EQ(test_run(tg19_main, NULL, 1), 0); }

/* The body absorbs the group's cancellation and ends normally: the child's
 * error still comes out, and the parent is not left cancelled. */
static int body_absorbs_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job crash = {0.125, -EIO};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    CHECK_EQ(corio_sleep(10), -ECANCELED);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), -EIO);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK(NEAR(corio_time(), 0.125));
    return 0;
}
static void test_body_absorbs_group_cancel(void) { CHECK_EQ(test_run(body_absorbs_main, NULL, 1), 0); }

/* More errors than the group keeps: all are counted, the first 16 kept in
 * finishing order (children finishing at the same instant finish in
 * spawn order in corio). */
static int many_errors_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job jobs[20];
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    for (int i = 0; i < 20; i++) {
        jobs[i] = (job){0.125, -(i + 1)};
        CHECK(corio_taskgroup_spawn(&g, crash_after, &jobs[i], NULL) != NULL);
    }
    CHECK_EQ(corio_taskgroup_exit(&g, 0), -1);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 20);
    for (int i = 0; i < CORIO_TASKGROUP_MAX_ERRORS; i++) CHECK_EQ(corio_taskgroup_error(&g, (size_t)i), -(i + 1));
    CHECK_EQ(corio_taskgroup_error(&g, CORIO_TASKGROUP_MAX_ERRORS), 0);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_many_errors(void) { CHECK_EQ(test_run(many_errors_main, NULL, 1), 0); }

/* ---- cancellation of the parent from outside --------------------------------------------------- */

static int num;

static int counting_child(void *arg) {
    (void)arg;
    int rc = corio_sleep(5);
    if (rc == -ECANCELED) num += 1;
    return rc;
}
/* test_cancellation: cancelled while exit waits for the children. */
static int runner_cancellation(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    for (int i = 0; i < 5; i++) CHECK(corio_taskgroup_spawn(&g, counting_child, NULL, NULL) != NULL);
    return corio_taskgroup_exit(&g, 0);
}
/* test_taskgroup_07: cancelled in the body. */
static int runner_07(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    for (int i = 0; i < 5; i++) CHECK(corio_taskgroup_spawn(&g, counting_child, NULL, NULL) != NULL);
    int rc = corio_sleep(10);
    if (rc == -ECANCELED) num += 10;
    return corio_taskgroup_exit(&g, rc);
}
static int outer_cancel_main(void *arg) {
    corio_task_fn runner = (corio_task_fn)arg;
    num = 0;
    corio_task *r = corio_spawn(runner, NULL);
    CHECK_EQ(corio_task_ref(r), 0);
    CHECK_EQ(corio_sleep(0.125), 0);
    CHECK(!corio_task_done(r));
    CHECK_EQ(corio_cancel(r), 1);
    CHECK_EQ(corio_join(r), -ECANCELED);
    CHECK(corio_task_cancelled(r));
    CHECK_EQ(corio_task_cancelling(r), 1);
    CHECK_EQ(corio_task_detach(r), 0);
    return num;
}
static void test_cancellation(void) { CHECK_EQ(test_run(outer_cancel_main, (void *)runner_cancellation, 1), 5); }
static void test_taskgroup_07(void) { CHECK_EQ(test_run(outer_cancel_main, (void *)runner_07, 1), 15); }

/* test_taskgroup_17: no children at all; the body's -ECANCELED passes through. */
static int runner_17(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    int rc = corio_sleep(10);
    if (rc == -ECANCELED) num += 10;
    return corio_taskgroup_exit(&g, rc);
}
static void test_taskgroup_17(void) { CHECK_EQ(test_run(outer_cancel_main, (void *)runner_17, 1), 10); }

/* test_taskgroup_22: cancelled while the children sleep, none fails. */
static int runner_22(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job j1 = {1, 42}, j2 = {2, 11};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, sleep_return, &j1, NULL) != NULL);
    CHECK(corio_taskgroup_spawn(&g, sleep_return, &j2, NULL) != NULL);
    return corio_taskgroup_exit(&g, 0);
}
static void test_taskgroup_22(void) { CHECK_EQ(test_run(outer_cancel_main, (void *)runner_22, 1), 0); }

/* test_taskgroup_08: the parent is cancelled; every child fails in its
 * cleanup: the errors win over the cancellation, and the outside cancel
 * stays counted (cancelling() == 1). */
static int fail_in_cleanup(void *arg) {
    (void)arg;
    corio_sleep(10);
    return -EDOM; /* finally: 1 / 0 */
}
static int runner_08(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    for (int i = 0; i < 5; i++) CHECK(corio_taskgroup_spawn(&g, fail_in_cleanup, NULL, NULL) != NULL);
    int rc = corio_taskgroup_exit(&g, corio_sleep(10));
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 5);
    CHECK_EQ(corio_task_cancelling(self()), 1);
    return rc;
}
static int tg08_main(void *arg) {
    (void)arg;
    corio_task *r = corio_spawn(runner_08, NULL);
    CHECK_EQ(corio_sleep(0.125), 0);
    CHECK_EQ(corio_cancel(r), 1);
    CHECK_EQ(corio_join(r), -EDOM);
    return 0;
}
static void test_taskgroup_08(void) { CHECK_EQ(test_run(tg08_main, NULL, 1), 0); }

/* test_taskgroup_15: the body's cleanup after an outside cancel is cut short
 * by a failing child (at 0.3, not 0.6); the error wins. */
static int runner_15(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job crash = {0.3, -EDOM};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    if (rc == -ECANCELED) {
        int r2 = corio_sleep(0.5);
        CHECK_EQ(r2, -ECANCELED);
    }
    rc = corio_taskgroup_exit(&g, rc);
    CHECK_EQ(rc, -EDOM);
    CHECK(NEAR(corio_time(), 0.3));
    CHECK_EQ(corio_task_cancelling(self()), 1);
    return rc;
}
static int tg15_main(void *arg) {
    corio_task_fn runner = (corio_task_fn)arg;
    corio_task *r = corio_spawn(runner, NULL);
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK(!corio_task_done(r));
    CHECK_EQ(corio_cancel(r), 1);
    CHECK_EQ(corio_join(r), -EDOM);
    return 0;
}
static void test_taskgroup_15(void) { CHECK_EQ(test_run(tg15_main, (void *)runner_15, 1), 0); }

/* test_taskgroup_16: the same one task further down. */
static int runner_16(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(runner_15, NULL);
    return corio_join(t);
}
static void test_taskgroup_16(void) { CHECK_EQ(test_run(tg15_main, (void *)runner_16, 1), 0); }

/* test_taskgroup_18: the body turns the cancellation into an error. */
static int runner_18(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    int rc = corio_sleep(10);
    if (rc == -ECANCELED) {
        num += 10;
        rc = -EIO; /* raise MyExc */
    }
    rc = corio_taskgroup_exit(&g, rc);
    CHECK_EQ(rc, -EIO);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 1);
    CHECK_EQ(corio_task_cancelling(self()), 1);
    return rc;
}
static int tg18_main(void *arg) {
    (void)arg;
    num = 0;
    corio_task *r = corio_spawn(runner_18, NULL);
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK_EQ(corio_cancel(r), 1);
    CHECK_EQ(corio_join(r), -EIO);
    CHECK_EQ(num, 10);
    return 0;
}
static void test_taskgroup_18(void) { CHECK_EQ(test_run(tg18_main, NULL, 1), 0); }

/* ---- nested groups ------------------------------------------------------------------------------ */

/* test_taskgroup_11 / _12: cancelled while a nested group's children fail in
 * their cleanup: the inner group's error comes out of the outer group. */
static int forever(void *arg) {
    (void)arg;
    return corio_sleep(10);
}
static int runner_11(void *arg) {
    int with_outer_child = *(int *)arg;
    corio_taskgroup g1, g2;
    CHECK_EQ(corio_taskgroup_enter(&g1), 0);
    if (with_outer_child) CHECK(corio_taskgroup_spawn(&g1, forever, NULL, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_enter(&g2), 0);
    for (int i = 0; i < 5; i++) CHECK(corio_taskgroup_spawn(&g2, fail_in_cleanup, NULL, NULL) != NULL);
    int rc = corio_taskgroup_exit(&g2, corio_sleep(10));
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g2), 5);
    rc = corio_taskgroup_exit(&g1, rc);
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g1), 1); /* one ExceptionGroup */
    return rc;
}
static int tg11_main(void *arg) {
    corio_task *r = corio_spawn(runner_11, arg);
    CHECK_EQ(corio_sleep(0.125), 0);
    CHECK(!corio_task_done(r));
    CHECK_EQ(corio_cancel(r), 1);
    CHECK_EQ(corio_join(r), -EDOM);
    return 0;
}
static void test_taskgroup_11(void) {
    int w = 0;
    CHECK_EQ(test_run(tg11_main, &w, 1), 0);
}
static void test_taskgroup_12(void) {
    int w = 1;
    CHECK_EQ(test_run(tg11_main, &w, 1), 0);
}

/* test_taskgroup_13 / _14: a crash in the outer or in the inner group. */
static int runner_13(void *arg) {
    int inner_first = *(int *)arg;
    corio_taskgroup g1, g2;
    job early = {0.125, -EIO}, late = {10, -ENOENT};
    CHECK_EQ(corio_taskgroup_enter(&g1), 0);
    CHECK(corio_taskgroup_spawn(&g1, crash_after, inner_first ? &late : &early, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_enter(&g2), 0);
    CHECK(corio_taskgroup_spawn(&g2, crash_after, inner_first ? &early : &late, NULL) != NULL);
    int rc2 = corio_taskgroup_exit(&g2, 0);
    int rc = corio_taskgroup_exit(&g1, rc2);
    if (inner_first) {
        /* 14: ExceptionGroup[ExceptionGroup[ValueError]] */
        CHECK_EQ(rc2, -EIO);
        CHECK_EQ(corio_taskgroup_nerrors(&g2), 1);
        CHECK_EQ(corio_taskgroup_nerrors(&g1), 1);
    } else {
        /* 13: the inner group was only cancelled: ExceptionGroup[ValueError] */
        CHECK_EQ(rc2, -ECANCELED);
        CHECK_EQ(corio_taskgroup_nerrors(&g2), 0);
        CHECK_EQ(corio_taskgroup_nerrors(&g1), 1);
    }
    CHECK_EQ(rc, -EIO);
    CHECK(NEAR(corio_time(), 0.125));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return rc;
}
static void test_taskgroup_13(void) {
    int f = 0;
    CHECK_EQ(test_run(runner_13, &f, 1), -EIO);
}
static void test_taskgroup_14(void) {
    int f = 1;
    CHECK_EQ(test_run(runner_13, &f, 1), -EIO);
}

/* test_nested_groups_both_cancelled (gh-116720): children of both groups
 * fail at once.  The inner group reports its error and leaves the outer
 * group's cancellation pending (cancelling() == 1, and the next wait is
 * cancelled); the outer group reports its own error; the count ends at 0. */
static int nested_both_main(void *arg) {
    int await_after = *(int *)arg;
    corio_taskgroup outer, inner;
    job e1 = {0, -EIO}, e2 = {0, -ENOENT};
    CHECK_EQ(corio_taskgroup_enter(&outer), 0);
    CHECK_EQ(corio_taskgroup_enter(&inner), 0);
    CHECK(corio_taskgroup_spawn(&inner, crash_after, &e1, NULL) != NULL);
    CHECK(corio_taskgroup_spawn(&outer, crash_after, &e2, NULL) != NULL);
    int body = await_after ? corio_sleep(10) : 0;
    int rc = corio_taskgroup_exit(&inner, body);
    CHECK_EQ(rc, -EIO); /* except* RuntimeError: pass */
    CHECK_EQ(corio_taskgroup_nerrors(&inner), 1);
    CHECK_EQ(corio_task_cancelling(self()), 1);
    rc = 0;
    if (await_after) {
        rc = corio_sleep(1);
        CHECK_EQ(rc, -ECANCELED); /* the outer group's cancellation was not swallowed */
    }
    rc = corio_taskgroup_exit(&outer, rc);
    CHECK_EQ(rc, -ENOENT);
    CHECK_EQ(corio_taskgroup_nerrors(&outer), 1);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK(NEAR(corio_time(), 0));
    CHECK_EQ(corio_sleep(0), 0);
    return 0;
}
static void test_nested_groups_both_cancelled(void) {
    int a = 0;
    CHECK_EQ(test_run(nested_both_main, &a, 1), 0);
    a = 1;
    CHECK_EQ(test_run(nested_both_main, &a, 1), 0);
}

/* An outer group's child fails while the body is inside an inner group
 * whose children are fine: the inner group is cancelled and passes
 * -ECANCELED on (it must not swallow it); the outer group reports the error. */
static int inner_child_cancelled;

static int worker(void *arg) {
    (void)arg;
    int rc = corio_sleep(10);
    if (rc == -ECANCELED) inner_child_cancelled = 1;
    return rc;
}
static int outer_fails_main(void *arg) {
    (void)arg;
    corio_taskgroup outer, inner;
    job crash = {0.125, -EIO};
    inner_child_cancelled = 0;
    CHECK_EQ(corio_taskgroup_enter(&outer), 0);
    CHECK(corio_taskgroup_spawn(&outer, crash_after, &crash, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_enter(&inner), 0);
    CHECK(corio_taskgroup_spawn(&inner, worker, NULL, NULL) != NULL);
    int rc = corio_taskgroup_exit(&inner, corio_sleep(10));
    CHECK_EQ(rc, -ECANCELED);
    CHECK(inner_child_cancelled);
    CHECK_EQ(corio_task_cancelling(self()), 1);
    rc = corio_taskgroup_exit(&outer, rc);
    CHECK_EQ(rc, -EIO);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK(NEAR(corio_time(), 0.125));
    return 0;
}
static void test_nested_group_does_not_swallow_cancel(void) { CHECK_EQ(test_run(outer_fails_main, NULL, 1), 0); }

/* The parent is cancelled from outside at the moment a child fails: the
 * group reports the error, and the outside cancellation stays pending: the
 * next wait after the group is cancelled (gh-116720). */
typedef struct ext {
    int caught_cancelling, sleep_rc;
} ext;

static int ext_runner(void *arg) {
    ext *e = arg;
    corio_taskgroup g;
    job crash = {0.125, -EIO};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    int rc = corio_taskgroup_exit(&g, corio_sleep(10));
    CHECK_EQ(rc, -EIO);
    e->caught_cancelling = corio_task_cancelling(self());
    e->sleep_rc = corio_sleep(1);
    return e->sleep_rc;
}
static int ext_cancel_main(void *arg) {
    (void)arg;
    ext e = {-1, 1};
    corio_task *r = corio_spawn(ext_runner, &e);
    CHECK_EQ(corio_sleep(0.125), 0);
    CHECK_EQ(corio_cancel(r), 1);
    CHECK_EQ(corio_join(r), -ECANCELED);
    CHECK_EQ(e.caught_cancelling, 1);
    CHECK_EQ(e.sleep_rc, -ECANCELED);
    return 0;
}
static void test_outside_cancel_kept_past_error(void) { CHECK_EQ(test_run(ext_cancel_main, NULL, 1), 0); }

/* The same with a nested group: the cancellation still reaches the parent. */
static int ext_nested_runner(void *arg) {
    ext *e = arg;
    corio_taskgroup outer, inner;
    job crash = {0.125, -EIO};
    CHECK_EQ(corio_taskgroup_enter(&outer), 0);
    CHECK(corio_taskgroup_spawn(&outer, forever, NULL, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_enter(&inner), 0);
    CHECK(corio_taskgroup_spawn(&inner, crash_after, &crash, NULL) != NULL);
    int rc = corio_taskgroup_exit(&inner, corio_sleep(10));
    CHECK_EQ(rc, -EIO); /* except* OSError: pass */
    e->caught_cancelling = corio_task_cancelling(self());
    e->sleep_rc = corio_sleep(1);
    rc = corio_taskgroup_exit(&outer, e->sleep_rc);
    CHECK_EQ(rc, -ECANCELED);
    return rc;
}
static int ext_nested_main(void *arg) {
    (void)arg;
    ext e = {-1, 1};
    corio_task *r = corio_spawn(ext_nested_runner, &e);
    CHECK_EQ(corio_task_ref(r), 0);
    CHECK_EQ(corio_sleep(0.125), 0);
    CHECK_EQ(corio_cancel(r), 1);
    CHECK_EQ(corio_join(r), -ECANCELED);
    CHECK_EQ(e.caught_cancelling, 1);
    CHECK_EQ(e.sleep_rc, -ECANCELED);
    CHECK(corio_task_cancelled(r));
    CHECK_EQ(corio_task_cancelling(r), 1);
    CHECK_EQ(corio_task_detach(r), 0);
    return 0;
}
static void test_nested_outside_cancel_kept(void) { CHECK_EQ(test_run(ext_nested_main, NULL, 1), 0); }

/* test_error_and_cancel */
typedef struct eac {
    corio_event ev;
    int except_cancelling, after_cancelling, fail;
} eac;

static int raise_error(void *arg) {
    eac *s = arg;
    corio_event_set(&s->ev);
    corio_sleep(0);
    return -EPIPE;
}
static int eac_inner(void *arg) {
    eac *s = arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, raise_error, s, NULL) != NULL);
    int rc = corio_sleep(1);
    if (rc == 0) s->fail = 1; /* "Sleep in group should have been cancelled" */
    rc = corio_taskgroup_exit(&g, rc);
    CHECK_EQ(rc, -EPIPE);
    s->except_cancelling = corio_task_cancelling(self());
    s->after_cancelling = corio_task_cancelling(self());
    rc = corio_sleep(1);
    if (rc == 0) s->fail = 2; /* "Sleep after group should have been cancelled" */
    return rc;
}
static int eac_main(void *arg) {
    (void)arg;
    eac s = {.except_cancelling = -1};
    CHECK_EQ(corio_event_init(&s.ev), 0);
    corio_task *t = corio_spawn(eac_inner, &s);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_event_wait(&s.ev), 0);
    CHECK_EQ(corio_task_cancelling(t), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_task_cancelling(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(corio_task_cancelled(t));
    CHECK_EQ(s.fail, 0);
    CHECK_EQ(s.except_cancelling, 1);
    CHECK_EQ(s.after_cancelling, 1);
    CHECK_EQ(corio_task_detach(t), 0);
    return 0;
}
static void test_error_and_cancel(void) { CHECK_EQ(test_run(eac_main, NULL, 1), 0); }

/* test_cancelling_level_preserved */
static int level_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job crash = {0.0, -EPIPE};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), -EPIPE);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_sleep(0), 0);
    /* An outside count that was there before the group is kept too. */
    CHECK_EQ(corio_cancel(self()), 1);
    CHECK_EQ(corio_sleep(0), -ECANCELED);
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, crash_after, &crash, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), -EPIPE);
    CHECK_EQ(corio_task_cancelling(self()), 1);
    CHECK_EQ(corio_task_uncancel(self()), 0);
    return 0;
}
static void test_cancelling_level_preserved(void) { CHECK_EQ(test_run(level_main, NULL, 1), 0); }

/* test_taskgroup_context_manager_exit_raises: the body (an inner context
 * whose exit fails) and a child both fail; two errors, count back to 0. */
static int fail_now(void *arg) {
    (void)arg;
    return -EBADMSG;
}
static int exit_raises_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, fail_now, NULL, NULL) != NULL);
    int rc = corio_sleep(1);
    CHECK_EQ(rc, -ECANCELED);
    rc = -EBADMSG; /* database(): finally: raise CustomException */
    rc = corio_taskgroup_exit(&g, rc);
    CHECK_EQ(rc, -EBADMSG);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 2);
    CHECK_EQ(corio_task_cancelling(self()), 0);
    return 0;
}
static void test_context_manager_exit_raises(void) { CHECK_EQ(test_run(exit_raises_main, NULL, 1), 0); }

/* ---- children spawning children ------------------------------------------------------------------ */

/* test_taskgroup_23: the group empties as children finish. */
static int tg23_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    job j = {0.3, 0};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(corio_sleep(0.1), 0);
        CHECK(corio_taskgroup_spawn(&g, sleep_return, &j, NULL) != NULL);
        if (i == 5) CHECK(g.nchildren < 5);
    }
    CHECK_EQ(corio_sleep(1.35), 0);
    CHECK_EQ(g.nchildren, 0);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    return 0;
}
static void test_taskgroup_23(void) { CHECK_EQ(test_run(tg23_main, NULL, 1), 0); }

/* test_taskgroup_24: a child spawns into the group while exit waits. */
static int root24(void *arg) {
    corio_taskgroup *g = arg;
    static job j1 = {0.1, 1}, j2 = {0.2, 2};
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK(corio_taskgroup_spawn(g, sleep_return, &j1, NULL) != NULL);
    CHECK(corio_taskgroup_spawn(g, sleep_return, &j2, NULL) != NULL);
    return 0;
}
static int tg24_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, root24, &g, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    CHECK(NEAR(corio_time(), 0.3));
    return 0;
}
static void test_taskgroup_24(void) { CHECK_EQ(test_run(tg24_main, NULL, 1), 0); }

/* test_taskgroup_25: hydra and hercules. */
static int nhydras;

static int hydra(void *arg) {
    corio_taskgroup *g = arg;
    nhydras++;
    int rc = corio_sleep(0.01);
    if (rc < 0) return rc;
    if (!corio_taskgroup_spawn(g, hydra, g, NULL)) return -errno;
    if (!corio_taskgroup_spawn(g, hydra, g, NULL)) return -errno;
    return 0;
}
static int hercules(void *arg) {
    (void)arg;
    while (nhydras < 10) {
        int rc = corio_sleep(0.015);
        if (rc < 0) return rc;
    }
    return -EDOM;
}
static int tg25_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    nhydras = 0;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, hydra, &g, NULL) != NULL);
    CHECK(corio_taskgroup_spawn(&g, hercules, NULL, NULL) != NULL);
    int rc = corio_taskgroup_exit(&g, 0);
    CHECK_EQ(rc, -EDOM);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 1);
    CHECK(nhydras >= 10);
    return 0;
}
static void test_taskgroup_25(void) { CHECK_EQ(test_run(tg25_main, NULL, 1), 0); }

/* test_taskgroup_task_name */
static int nop(void *arg) {
    (void)arg;
    return corio_sleep(0);
}
static int name_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    corio_task_opts o = {.name = "yolo"};
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    corio_task *t = corio_taskgroup_spawn(&g, nop, NULL, &o);
    CHECK(t != NULL);
    CHECK(strcmp(corio_task_name(t), "yolo") == 0);
    /* Awaiting a child through its future is allowed (not joining it). */
    CHECK_EQ(corio_await(corio_task_future(t), NULL), 0);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    return 0;
}
static void test_taskgroup_task_name(void) { CHECK_EQ(test_run(name_main, NULL, 1), 0); }

/* ---- misuse ------------------------------------------------------------------------------------------ */

/* test_taskgroup_already_entered / _finished / _not_entered / _without_parent_task */
static int misuse_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    memset(&g, 0, sizeof g);
    errno = 0;
    CHECK(corio_taskgroup_spawn(&g, nop, NULL, NULL) == NULL); /* not entered */
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), -EINVAL);
    CHECK_EQ(corio_taskgroup_enter(NULL), -EINVAL);
    errno = 0;
    CHECK(corio_taskgroup_spawn(NULL, nop, NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);

    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK_EQ(corio_taskgroup_enter(&g), -EALREADY); /* already entered */
    CHECK(corio_taskgroup_spawn(&g, nop, NULL, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), -EINVAL); /* left twice */
    errno = 0;
    CHECK(corio_taskgroup_spawn(&g, nop, NULL, NULL) == NULL); /* finished */
    CHECK_EQ(errno, EINVAL);
    /* Entering the same struct after its exit starts a new group (a loop
     * body's `corio_taskgroup g;` is the same memory each time round):
     * asyncio raises RuntimeError for a TaskGroup object entered twice;
     * README "Differences from asyncio" says why corio does not. */
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, nop, NULL, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    return 0;
}
static void test_misuse(void) {
    CHECK_EQ(test_run(misuse_main, NULL, 1), 0);
    corio_taskgroup g;
    memset(&g, 0, sizeof g);
    CHECK_EQ(corio_taskgroup_enter(&g), -EPERM); /* no parent task */
    errno = 0;
    CHECK(corio_taskgroup_spawn(&g, nop, NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
}

/* exit from another task than the parent is refused. */
static int exit_other(void *arg) { return corio_taskgroup_exit(arg, 0); }
static int exit_other_main(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    corio_task *t = corio_spawn(exit_other, &g);
    CHECK_EQ(corio_join(t), -EPERM);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    return 0;
}
static void test_exit_from_other_task(void) { CHECK_EQ(test_run(exit_other_main, NULL, 1), 0); }

/* A group used in a loop, on the same stack slot each time. */
static int loop_main(void *arg) {
    (void)arg;
    job j = {0.125, 3};
    for (int i = 0; i < 3; i++) {
        corio_taskgroup g;
        CHECK_EQ(corio_taskgroup_enter(&g), 0);
        CHECK(corio_taskgroup_spawn(&g, sleep_return, &j, NULL) != NULL);
        CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    }
    return 0;
}
static void test_group_in_a_loop(void) { CHECK_EQ(test_run(loop_main, NULL, 1), 0); }

/* Under a timeout scope: the scope expires, the group cancels its children,
 * and the scope reports -ETIMEDOUT. */
static int under_timeout_main(void *arg) {
    (void)arg;
    corio_timeout to;
    corio_taskgroup g;
    job j = {10, 0};
    CHECK_EQ(corio_timeout_enter(&to, 0.25), 0);
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    corio_task *c = keep(corio_taskgroup_spawn(&g, sleep_return, &j, NULL));
    int rc = corio_taskgroup_exit(&g, 0);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    CHECK(corio_task_cancelled(c));
    CHECK(NEAR(corio_time(), 0.25));
    CHECK_EQ(corio_task_cancelling(self()), 0);
    CHECK_EQ(corio_join(c), -ECANCELED);
    return 0;
}
static void test_group_under_timeout(void) { CHECK_EQ(test_run(under_timeout_main, NULL, 1), 0); }

/* Another task entering a group that is active: asyncio raises
 * RuntimeError("TaskGroup ... has already been entered"); here -EALREADY,
 * with the group left as it was - while its body runs and while its exit
 * waits for the children.  Once the exit has returned, the other task may
 * enter it (asyncio's may not be entered twice at all). */
typedef struct shared_group {
    corio_taskgroup g;
    corio_event child_go, body_done, exited;
    int intruder_rc[2];
} shared_group;
static int tg_child(void *arg) {
    shared_group *s = arg;
    return corio_event_wait(&s->child_go) < 0 ? -1 : 7;
}
static int intruder(void *arg) {
    shared_group *s = arg;
    s->intruder_rc[0] = corio_taskgroup_enter(&s->g); /* the body runs */
    CHECK_EQ(corio_event_wait(&s->body_done), 0);
    s->intruder_rc[1] = corio_taskgroup_enter(&s->g); /* the exit waits for the child */
    corio_event_set(&s->child_go);
    /* After the owner's exit: free to enter. */
    CHECK_EQ(corio_event_wait(&s->exited), 0);
    CHECK_EQ(corio_taskgroup_enter(&s->g), 0);
    CHECK(s->g.parent == corio_current_task());
    CHECK_EQ(corio_taskgroup_exit(&s->g, 0), 0);
    return 0;
}
static int other_task_enter_main(void *arg) {
    (void)arg;
    shared_group s;
    corio_event_init(&s.child_go);
    corio_event_init(&s.body_done);
    corio_event_init(&s.exited);
    CHECK_EQ(corio_taskgroup_enter(&s.g), 0);
    corio_task *c = corio_taskgroup_spawn(&s.g, tg_child, &s, NULL);
    CHECK(c != NULL);
    CHECK_EQ(corio_task_ref(c), 0); /* read it after the exit */
    corio_task *in = corio_spawn(intruder, &s);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(s.intruder_rc[0], -EALREADY);
    CHECK(s.g.parent == corio_current_task());
    corio_event_set(&s.body_done);
    CHECK_EQ(corio_taskgroup_exit(&s.g, 0), 0);
    CHECK_EQ(s.intruder_rc[1], -EALREADY);
    CHECK_EQ(corio_join(c), 7);
    corio_event_set(&s.exited);
    CHECK_EQ(corio_join(in), 0);
    return 0;
}
static void test_enter_from_other_task(void) { CHECK_EQ(test_run(other_task_enter_main, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_taskgroup_01);
    RUN_TEST(test_taskgroup_02);
    RUN_TEST(test_taskgroup_03);
    RUN_TEST(test_taskgroup_04);
    RUN_TEST(test_cancel_children_on_child_error);
    RUN_TEST(test_child_ignoring_cancel_is_waited_for);
    RUN_TEST(test_no_create_task_after_failure);
    RUN_TEST(test_body_cannot_spawn_after_failure);
    RUN_TEST(test_taskgroup_09);
    RUN_TEST(test_taskgroup_10);
    RUN_TEST(test_taskgroup_19);
    RUN_TEST(test_body_absorbs_group_cancel);
    RUN_TEST(test_many_errors);
    RUN_TEST(test_cancellation);
    RUN_TEST(test_taskgroup_07);
    RUN_TEST(test_taskgroup_17);
    RUN_TEST(test_taskgroup_22);
    RUN_TEST(test_taskgroup_08);
    RUN_TEST(test_taskgroup_15);
    RUN_TEST(test_taskgroup_16);
    RUN_TEST(test_taskgroup_18);
    RUN_TEST(test_taskgroup_11);
    RUN_TEST(test_taskgroup_12);
    RUN_TEST(test_taskgroup_13);
    RUN_TEST(test_taskgroup_14);
    RUN_TEST(test_nested_groups_both_cancelled);
    RUN_TEST(test_nested_group_does_not_swallow_cancel);
    RUN_TEST(test_outside_cancel_kept_past_error);
    RUN_TEST(test_nested_outside_cancel_kept);
    RUN_TEST(test_error_and_cancel);
    RUN_TEST(test_cancelling_level_preserved);
    RUN_TEST(test_context_manager_exit_raises);
    RUN_TEST(test_taskgroup_23);
    RUN_TEST(test_taskgroup_24);
    RUN_TEST(test_taskgroup_25);
    RUN_TEST(test_taskgroup_task_name);
    RUN_TEST(test_misuse);
    RUN_TEST(test_exit_from_other_task);
    RUN_TEST(test_group_in_a_loop);
    RUN_TEST(test_group_under_timeout);
    RUN_TEST(test_enter_from_other_task);
    TEST_MAIN_END();
}
