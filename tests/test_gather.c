/*
 * test_gather.c - corio_gather, ported from the gather parts of CPython's
 * Lib/test/test_asyncio/test_tasks.py (GatherTestsBase, FutureGatherTests,
 * CoroutineGatherTests, test_cancel_gather_*) (3.13).  Each expected
 * outcome was checked against asyncio 3.13 on a virtual-time loop.
 */
#include "test.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-6)

typedef struct job {
    double d;
    int v; /* >= 0: the result; < 0: fail with it */
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

/* A helper task calling gather; returns gather's return value. */
typedef struct gargs {
    corio_future **futs;
    size_t n;
    int flags;
    int rc;
    int done;
} gargs;

static int gather_task(void *arg) {
    gargs *a = arg;
    a->rc = corio_gather(a->futs, a->n, a->flags);
    a->done = 1;
    return a->rc;
}

/* ---- results -------------------------------------------------------------------------- */

/* Results in argument order, whatever the finishing order. */
static int order_main(void *arg) {
    (void)arg;
    job jobs[3] = {{0.3, 1}, {0.1, 2}, {0.2, 3}};
    corio_task *t[3];
    corio_future *f[3];
    for (int i = 0; i < 3; i++) {
        t[i] = corio_spawn(sleep_then, &jobs[i]);
        f[i] = corio_task_future(t[i]);
    }
    CHECK_EQ(corio_gather(f, 3, 0), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(value_of(f[i]), i + 1);
    CHECK(NEAR(corio_time(), 0.3));
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_join(t[i]), i + 1);
    return 0;
}
static void test_results_in_argument_order(void) { CHECK_EQ(test_run(order_main, NULL, 1), 0); }

/* _check_success: plain futures, completed b, a then c; gather is done only
 * after c.  With and without CORIO_GATHER_COLLECT. */
static int success_main(void *arg) {
    int flags = *(int *)arg;
    corio_future a, b, c;
    corio_future *fs[3] = {&a, &b, &c};
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_future_init(fs[i], NULL), 0);
    gargs ga = {fs, 3, flags, 1, 0};
    corio_task *t = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_set_result(&b, 1), 0);
    CHECK_EQ(corio_future_set_result(&a, 2), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_sleep(0), 0);
    CHECK(!ga.done);
    CHECK_EQ(corio_future_set_result(&c, 3), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(value_of(&a), 2);
    CHECK_EQ(value_of(&b), 1);
    CHECK_EQ(value_of(&c), 3);
    return 0;
}
static void test_success(void) {
    int flags = 0;
    CHECK_EQ(test_run(success_main, &flags, 1), 0);
    flags = CORIO_GATHER_COLLECT;
    CHECK_EQ(test_run(success_main, &flags, 1), 0);
}

/* test_duplicate_coroutines: the same future several times. */
static int dup_c(void *arg) {
    (void)arg;
    return 5;
}
static int dup_d(void *arg) {
    (void)arg;
    return 6;
}
static int duplicates_main(void *arg) {
    (void)arg;
    corio_task *c = corio_spawn(dup_c, NULL), *d = corio_spawn(dup_d, NULL);
    corio_future *fs[4] = {corio_task_future(c), corio_task_future(c), corio_task_future(d), corio_task_future(c)};
    CHECK_EQ(corio_gather(fs, 4, 0), 0);
    CHECK_EQ(value_of(fs[0]), 5);
    CHECK_EQ(value_of(fs[2]), 6);
    CHECK_EQ(corio_join(c), 5);
    CHECK_EQ(corio_join(d), 6);
    return 0;
}
static void test_duplicate_futures(void) { CHECK_EQ(test_run(duplicates_main, NULL, 1), 0); }

/* ---- first-error mode -------------------------------------------------------------------------- */

/* The first error is returned at once; the other children keep running. */
static int first_error_main(void *arg) {
    (void)arg;
    job jobs[3] = {{0.3, 1}, {0.1, -EIO}, {0.2, 3}};
    corio_task *t[3];
    corio_future *f[3];
    for (int i = 0; i < 3; i++) {
        t[i] = corio_spawn(sleep_then, &jobs[i]);
        f[i] = corio_task_future(t[i]);
    }
    CHECK_EQ(corio_gather(f, 3, 0), -EIO);
    CHECK(NEAR(corio_time(), 0.1));
    CHECK(!corio_task_done(t[0]));
    CHECK(!corio_task_done(t[2]));
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(corio_sleep(1), 0);
    CHECK_EQ(corio_join(t[0]), 1); /* not cancelled */
    CHECK_EQ(corio_join(t[1]), -EIO);
    CHECK_EQ(corio_join(t[2]), 3);
    return 0;
}
static void test_first_error_others_keep_running(void) { CHECK_EQ(test_run(first_error_main, NULL, 1), 0); }

/* test_one_exception: later outcomes of the other futures change nothing. */
static int one_exception_main(void *arg) {
    (void)arg;
    corio_future fs_[5];
    corio_future *fs[5];
    for (int i = 0; i < 5; i++) {
        fs[i] = &fs_[i];
        CHECK_EQ(corio_future_init(fs[i], NULL), 0);
    }
    gargs ga = {fs, 5, 0, 1, 0};
    corio_task *t = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_set_result(fs[0], 1), 0);
    CHECK_EQ(corio_future_set_error(fs[1], -EDOM), 0);
    CHECK_EQ(corio_join(t), -EDOM);
    /* Does nothing */
    CHECK_EQ(corio_future_set_result(fs[2], 3), 0);
    CHECK_EQ(corio_future_cancel(fs[3]), 1);
    CHECK_EQ(corio_future_set_error(fs[4], -EPIPE), 0);
    CHECK_EQ(corio_sleep(0), 0);
    return 0;
}
static void test_one_exception(void) { CHECK_EQ(test_run(one_exception_main, NULL, 1), 0); }

/* Two errors in the same iteration: the one that completed first wins. */
static int two_errors_main(void *arg) {
    (void)arg;
    corio_future fs_[3];
    corio_future *fs[3];
    for (int i = 0; i < 3; i++) {
        fs[i] = &fs_[i];
        CHECK_EQ(corio_future_init(fs[i], NULL), 0);
    }
    gargs ga = {fs, 3, 0, 1, 0};
    corio_task *t = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_set_error(fs[2], -EIO), 0);
    CHECK_EQ(corio_future_set_error(fs[0], -EPERM), 0);
    CHECK_EQ(corio_join(t), -EIO);
    CHECK_EQ(corio_future_cancel(fs[1]), 1);
    return 0;
}
static void test_two_errors_same_iteration(void) { CHECK_EQ(test_run(two_errors_main, NULL, 1), 0); }

/* test_one_cancellation: a cancelled child in first-error mode gives
 * -ECANCELED, though the caller is not cancelled. */
static int one_cancellation_main(void *arg) {
    (void)arg;
    corio_future fs_[5];
    corio_future *fs[5];
    for (int i = 0; i < 5; i++) {
        fs[i] = &fs_[i];
        CHECK_EQ(corio_future_init(fs[i], NULL), 0);
    }
    gargs ga = {fs, 5, 0, 1, 0};
    corio_task *t = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_set_result(fs[0], 1), 0);
    CHECK_EQ(corio_future_cancel(fs[1]), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_task_cancelling(t), 0); /* the caller was never cancelled */
    CHECK_EQ(corio_task_detach(t), 0);
    CHECK_EQ(corio_future_set_result(fs[2], 3), 0);
    CHECK_EQ(corio_future_cancel(fs[3]), 1);
    CHECK_EQ(corio_future_set_error(fs[4], -EPIPE), 0);
    return 0;
}
static void test_one_cancellation(void) { CHECK_EQ(test_run(one_cancellation_main, NULL, 1), 0); }

/* A child task cancelled: first-error mode gives -ECANCELED at once; the
 * sibling keeps running; the caller is not cancelled. */
static void cancel_cb(void *arg) { corio_cancel(arg); }

static int cancel_child_main(void *arg) {
    int flags = *(int *)arg;
    job j = {0.5, 1}, k = {0.5, 2};
    corio_task *c1 = corio_spawn(sleep_then, &j), *c2 = corio_spawn(sleep_then, &k);
    corio_future *fs[2] = {corio_task_future(c1), corio_task_future(c2)};
    corio_handle h = {0};
    CHECK_EQ(corio_call_later(&h, 0.1, cancel_cb, c1), 0);
    int rc = corio_gather(fs, 2, flags);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    if (flags & CORIO_GATHER_COLLECT) {
        CHECK_EQ(rc, 0);
        CHECK(NEAR(corio_time(), 0.5));
        CHECK_EQ(value_of(fs[0]), -ECANCELED); /* that child's slot */
        CHECK_EQ(value_of(fs[1]), 2);
    } else {
        CHECK_EQ(rc, -ECANCELED);
        CHECK(NEAR(corio_time(), 0.1));
        CHECK(!corio_task_done(c2));
    }
    CHECK_EQ(corio_join(c1), -ECANCELED);
    CHECK_EQ(corio_join(c2), 2);
    return 0;
}
static void test_cancel_child_first_error(void) {
    int flags = 0;
    CHECK_EQ(test_run(cancel_child_main, &flags, 1), 0);
}
static void test_cancel_child_collect(void) {
    int flags = CORIO_GATHER_COLLECT;
    CHECK_EQ(test_run(cancel_child_main, &flags, 1), 0);
}

/* ---- collect mode ------------------------------------------------------------------------------- */

/* test_return_exceptions / test_result_exception_one_cancellation */
static void set_err_cb(void *arg) { corio_future_set_error(arg, -EIO); }
static void set_res_cb(void *arg) { corio_future_set_result(arg, 10); }
static void cancel_fut_cb(void *arg) { corio_future_cancel(arg); }

static int collect_main(void *arg) {
    (void)arg;
    corio_future fs_[4];
    corio_future *fs[4];
    corio_handle h[4];
    memset(h, 0, sizeof h);
    for (int i = 0; i < 4; i++) {
        fs[i] = &fs_[i];
        CHECK_EQ(corio_future_init(fs[i], NULL), 0);
    }
    CHECK_EQ(corio_call_later(&h[0], 0.1, set_err_cb, fs[1]), 0);
    CHECK_EQ(corio_call_later(&h[1], 0.2, cancel_fut_cb, fs[2]), 0);
    CHECK_EQ(corio_call_later(&h[2], 0.3, set_res_cb, fs[0]), 0);
    CHECK_EQ(corio_call_later(&h[3], 0.4, set_res_cb, fs[3]), 0);
    CHECK_EQ(corio_gather(fs, 4, CORIO_GATHER_COLLECT), 0);
    CHECK(NEAR(corio_time(), 0.4));
    CHECK_EQ(value_of(fs[0]), 10);
    CHECK_EQ(value_of(fs[1]), -EIO);
    CHECK_EQ(value_of(fs[2]), -ECANCELED);
    CHECK_EQ(value_of(fs[3]), 10);
    return 0;
}
static void test_return_exceptions(void) { CHECK_EQ(test_run(collect_main, NULL, 1), 0); }

/* ---- cancelling the caller ----------------------------------------------------------------------- */

/* test_cancellation_broadcast: cancelling the gather's caller cancels every
 * child; gather returns -ECANCELED; a second gather is not involved. */
typedef struct bc {
    corio_future waiter;
    int proof;
} bc;

static int bc_inner(void *arg) {
    bc *s = arg;
    int rc = corio_await(&s->waiter, NULL);
    if (rc < 0) return rc;
    s->proof += 1;
    return 0;
}
typedef struct bc_outer_args {
    bc *s;
    corio_future *fs[2];
    int flags;
} bc_outer_args;

static int bc_outer(void *arg) {
    bc_outer_args *a = arg;
    int rc = corio_gather(a->fs, 2, a->flags);
    if (rc < 0) return rc;
    a->s->proof += 100;
    return 0;
}
static int broadcast_main(void *arg) {
    int flags = *(int *)arg;
    bc s = {.proof = 0};
    CHECK_EQ(corio_future_init(&s.waiter, NULL), 0);
    corio_task *c1 = corio_spawn(bc_inner, &s), *c2 = corio_spawn(bc_inner, &s);
    bc_outer_args a = {&s, {corio_task_future(c1), corio_task_future(c2)}, flags};
    corio_task *f = corio_spawn(bc_outer, &a);
    CHECK_EQ(corio_task_ref(f), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(f), 1);
    CHECK_EQ(corio_join(f), -ECANCELED);
    CHECK(corio_task_cancelled(f));
    CHECK(corio_future_cancelled(&s.waiter));
    CHECK(corio_task_cancelled(c1));
    CHECK(corio_task_cancelled(c2));
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(s.proof, 0);
    CHECK_EQ(corio_task_detach(f), 0);
    CHECK_EQ(corio_join(c1), -ECANCELED);
    CHECK_EQ(corio_join(c2), -ECANCELED);
    return 0;
}
static void test_cancellation_broadcast(void) {
    int flags = 0;
    CHECK_EQ(test_run(broadcast_main, &flags, 1), 0);
}
/* Issue 32684: the caller's cancellation is reported in collect mode too. */
static void test_cancellation_broadcast_collect(void) {
    int flags = CORIO_GATHER_COLLECT;
    CHECK_EQ(test_run(broadcast_main, &flags, 1), 0);
}

/* The children absorb the cancellation and return values: gather still
 * returns -ECANCELED (asyncio: CancelledError), once all have finished. */
static int absorb(void *arg) {
    int v = (int)(intptr_t)arg;
    int rc = corio_sleep(10);
    if (rc == -ECANCELED) {
        corio_sleep(0.25); /* some cleanup */
        return v;
    }
    return rc;
}
static int absorb_main(void *arg) {
    int flags = *(int *)arg;
    corio_task *c1 = corio_spawn(absorb, (void *)1), *c2 = corio_spawn(absorb, (void *)2);
    corio_future *fs[2] = {corio_task_future(c1), corio_task_future(c2)};
    gargs ga = {fs, 2, flags, 1, 0};
    corio_task *g = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(g), 1);
    CHECK_EQ(corio_sleep(0.125), 0);
    CHECK(!ga.done); /* waits for the children's cleanup */
    CHECK_EQ(corio_join(g), -ECANCELED);
    CHECK(NEAR(corio_time(), 0.25));
    CHECK_EQ(corio_join(c1), 1);
    CHECK_EQ(corio_join(c2), 2);
    return 0;
}
static void test_cancel_caller_children_absorb(void) {
    int flags = 0;
    CHECK_EQ(test_run(absorb_main, &flags, 1), 0);
    flags = CORIO_GATHER_COLLECT;
    CHECK_EQ(test_run(absorb_main, &flags, 1), 0);
}

/* The caller is cancelled while a plain future is pending and another is
 * done: the pending one is cancelled, gather returns -ECANCELED. */
static int plain_cancel_main(void *arg) {
    int flags = *(int *)arg;
    corio_future a, b;
    CHECK_EQ(corio_future_init(&a, NULL), 0);
    CHECK_EQ(corio_future_init(&b, NULL), 0);
    CHECK_EQ(corio_future_set_result(&a, 1), 0);
    corio_future *fs[2] = {&a, &b};
    gargs ga = {fs, 2, flags, 1, 0};
    corio_task *g = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(g), 1);
    CHECK_EQ(corio_join(g), -ECANCELED);
    CHECK(corio_future_cancelled(&b));
    CHECK_EQ(value_of(&a), 1);
    return 0;
}
static void test_cancel_caller_plain_futures(void) {
    int flags = 0;
    CHECK_EQ(test_run(plain_cancel_main, &flags, 1), 0);
    flags = CORIO_GATHER_COLLECT;
    CHECK_EQ(test_run(plain_cancel_main, &flags, 1), 0);
}

/* test_cancel_gather_1, as far as C can say it: the caller is cancelled in
 * the very callback of the last child's completion, once every child is
 * done.  asyncio: the task's cancel() finds nothing to cancel, so the task
 * itself gets CancelledError; the children's results are kept. */
typedef struct g1 {
    corio_future fut;
    corio_task *g;
} g1;

static int child_coro(void *arg) {
    g1 *s = arg;
    intptr_t v = 0;
    int rc = corio_await(&s->fut, &v);
    return rc < 0 ? rc : (int)v;
}
static void cancelling_callback(corio_future *f, void *arg) {
    (void)f;
    g1 *s = arg;
    corio_cancel(s->g);
}
static int gather1_main(void *arg) {
    (void)arg;
    g1 s;
    CHECK_EQ(corio_future_init(&s.fut, NULL), 0);
    corio_task *c = corio_spawn(child_coro, &s);
    corio_future *fs[1] = {corio_task_future(c)};
    gargs ga = {fs, 1, 0, 1, 0};
    s.g = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_add_done_callback(&s.fut, cancelling_callback, &s), 0);
    CHECK_EQ(corio_future_set_result(&s.fut, 42), 0);
    CHECK_EQ(corio_join(s.g), -ECANCELED);
    CHECK_EQ(corio_join(c), 42);
    return 0;
}
static void test_cancel_as_last_child_completes(void) { CHECK_EQ(test_run(gather1_main, NULL, 1), 0); }

/* In collect mode, a child done before the caller is cancelled keeps its
 * result; the pending one is cancelled; gather returns -ECANCELED. */
static int collect_partial_main(void *arg) {
    (void)arg;
    corio_future a, b;
    CHECK_EQ(corio_future_init(&a, NULL), 0);
    CHECK_EQ(corio_future_init(&b, NULL), 0);
    corio_future *fs[2] = {&a, &b};
    gargs ga = {fs, 2, CORIO_GATHER_COLLECT, 1, 0};
    corio_task *g = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_set_result(&a, 1), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(g), 1);
    CHECK_EQ(corio_join(g), -ECANCELED);
    CHECK_EQ(value_of(&a), 1);
    CHECK(corio_future_cancelled(&b));
    return 0;
}
static void test_cancel_caller_collect_partial(void) { CHECK_EQ(test_run(collect_partial_main, NULL, 1), 0); }

/* test_cancel_gather_2: a task gathering in a loop, cancelled from outside,
 * sees -ECANCELED from gather (collect mode too). */
static int gather_loop(void *arg) {
    (void)arg;
    double time = 0;
    for (;;) {
        time += 0.05;
        job j = {0.05, 0};
        corio_task *t = corio_spawn(sleep_then, &j);
        corio_future *f = corio_task_future(t);
        int rc = corio_gather(&f, 1, CORIO_GATHER_COLLECT);
        corio_join(t);
        if (rc < 0) return rc;
        if (time > 1) return 0;
    }
}
static int gather2_main(void *arg) {
    (void)arg;
    corio_task *q = corio_spawn(gather_loop, NULL);
    CHECK_EQ(corio_sleep(0.2), 0);
    CHECK_EQ(corio_cancel(q), 1);
    CHECK_EQ(corio_join(q), -ECANCELED);
    return 0;
}
static void test_cancel_gather_2(void) { CHECK_EQ(test_run(gather2_main, NULL, 1), 0); }

/* ---- already-done futures ------------------------------------------------------------------------------- */

/* All done: gather returns at once, without letting other tasks run first. */
static int other_ran;
static int mark_other(void *arg) {
    (void)arg;
    other_ran = 1;
    return 0;
}
static int already_done_main(void *arg) {
    (void)arg;
    corio_future a, b;
    CHECK_EQ(corio_future_init(&a, NULL), 0);
    CHECK_EQ(corio_future_init(&b, NULL), 0);
    CHECK_EQ(corio_future_set_result(&a, 1), 0);
    CHECK_EQ(corio_future_set_result(&b, 2), 0);
    corio_future *fs[2] = {&a, &b};
    other_ran = 0;
    corio_task *o = corio_spawn(mark_other, NULL);
    CHECK_EQ(corio_gather(fs, 2, 0), 0);
    CHECK(!other_ran);
    CHECK_EQ(value_of(&a), 1);
    CHECK_EQ(value_of(&b), 2);
    CHECK_EQ(corio_join(o), 0);
    return 0;
}
static void test_already_done(void) { CHECK_EQ(test_run(already_done_main, NULL, 1), 0); }

/* A done error in first-error mode: returned at once, the pending future
 * untouched; a done cancelled future listed first gives -ECANCELED. */
static int already_done_error_main(void *arg) {
    (void)arg;
    corio_future a, b, c;
    CHECK_EQ(corio_future_init(&a, NULL), 0);
    CHECK_EQ(corio_future_init(&b, NULL), 0);
    CHECK_EQ(corio_future_init(&c, NULL), 0);
    CHECK_EQ(corio_future_set_result(&a, 1), 0);
    CHECK_EQ(corio_future_set_error(&b, -EIO), 0);
    corio_future *fs[3] = {&a, &b, &c};
    CHECK_EQ(corio_gather(fs, 3, 0), -EIO);
    CHECK(!corio_future_done(&c));
    CHECK_EQ(corio_future_cancel(&c), 1);

    corio_future x, y;
    CHECK_EQ(corio_future_init(&x, NULL), 0);
    CHECK_EQ(corio_future_init(&y, NULL), 0);
    CHECK_EQ(corio_future_cancel(&x), 1);
    CHECK_EQ(corio_future_set_error(&y, -EIO), 0);
    corio_future *gs[2] = {&x, &y};
    CHECK_EQ(corio_gather(gs, 2, 0), -ECANCELED);
    /* Collect mode over done futures: 0, the outcomes stay in the futures. */
    CHECK_EQ(corio_gather(gs, 2, CORIO_GATHER_COLLECT), 0);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    return 0;
}
static void test_already_done_errors(void) { CHECK_EQ(test_run(already_done_error_main, NULL, 1), 0); }

/* ---- sizes and arguments ---------------------------------------------------------------------------------- */

/* More futures than fit the on-stack array. */
static int many_main(void *arg) {
    (void)arg;
    enum { N = 50 };
    job jobs[N];
    corio_task *t[N];
    corio_future *f[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){(double)((N - i) % 7) / 8, i};
        t[i] = corio_spawn(sleep_then, &jobs[i]);
        f[i] = corio_task_future(t[i]);
    }
    CHECK_EQ(corio_gather(f, N, 0), 0);
    for (int i = 0; i < N; i++) CHECK_EQ(value_of(f[i]), i);
    for (int i = 0; i < N; i++) CHECK_EQ(corio_join(t[i]), i);
    /* ... and cancelled from outside with that many. */
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){10, i};
        t[i] = corio_spawn(sleep_then, &jobs[i]);
        f[i] = corio_task_future(t[i]);
    }
    gargs ga = {f, N, 0, 1, 0};
    corio_task *g = corio_spawn(gather_task, &ga);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel(g), 1);
    CHECK_EQ(corio_join(g), -ECANCELED);
    for (int i = 0; i < N; i++) CHECK_EQ(corio_join(t[i]), -ECANCELED);
    return 0;
}
static void test_many(void) { CHECK_EQ(test_run(many_main, NULL, 1), 0); }

static int args_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_gather(NULL, 0, 0), 0); /* n == 0: at once */
    corio_future a;
    CHECK_EQ(corio_future_init(&a, NULL), 0);
    corio_future *fs[2] = {&a, NULL};
    CHECK_EQ(corio_gather(fs, 2, 0), -EINVAL);
    CHECK_EQ(corio_gather(NULL, 2, 0), -EINVAL);
    corio_loop *other = corio_loop_new();
    corio_future b;
    CHECK_EQ(corio_future_init(&b, other), 0);
    fs[1] = &b;
    CHECK_EQ(corio_gather(fs, 2, 0), -EXDEV);
    CHECK_EQ(corio_loop_close(other), 0);
    CHECK(!corio_future_done(&a));
    CHECK_EQ(corio_future_cancel(&a), 1);
    return 0;
}
static void test_bad_arguments(void) {
    CHECK_EQ(test_run(args_main, NULL, 1), 0);
    corio_future *fs[1] = {NULL};
    CHECK_EQ(corio_gather(fs, 1, 0), -EPERM);
}

int main(void) {
    RUN_TEST(test_results_in_argument_order);
    RUN_TEST(test_success);
    RUN_TEST(test_duplicate_futures);
    RUN_TEST(test_first_error_others_keep_running);
    RUN_TEST(test_one_exception);
    RUN_TEST(test_two_errors_same_iteration);
    RUN_TEST(test_one_cancellation);
    RUN_TEST(test_cancel_child_first_error);
    RUN_TEST(test_cancel_child_collect);
    RUN_TEST(test_return_exceptions);
    RUN_TEST(test_cancellation_broadcast);
    RUN_TEST(test_cancellation_broadcast_collect);
    RUN_TEST(test_cancel_caller_children_absorb);
    RUN_TEST(test_cancel_caller_plain_futures);
    RUN_TEST(test_cancel_as_last_child_completes);
    RUN_TEST(test_cancel_caller_collect_partial);
    RUN_TEST(test_cancel_gather_2);
    RUN_TEST(test_already_done);
    RUN_TEST(test_already_done_errors);
    RUN_TEST(test_many);
    RUN_TEST(test_bad_arguments);
    TEST_MAIN_END();
}
