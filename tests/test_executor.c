/*
 * test_executor.c - thread pools (run_in_executor, to_thread) and
 * run_task_threadsafe: results, concurrency limits, cancellation of queued
 * and of running jobs, shutdown, bad input, loops closing with work in
 * flight.  Meant to be clean under ASan (no leak, no use-after-free of a
 * cancelled job's request) and TSan.
 */
#include "test.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static pthread_t loop_thread;
static atomic_int running_now, running_max, ran;

static void track_start(void) {
    int n = atomic_fetch_add(&running_now, 1) + 1;
    int m = atomic_load(&running_max);
    while (n > m && !atomic_compare_exchange_weak(&running_max, &m, n)) {
    }
}

static intptr_t square(void *arg) {
    track_start();
    intptr_t v = (intptr_t)arg;
    if (pthread_equal(pthread_self(), loop_thread)) v = -1; /* must not run on the loop */
    atomic_fetch_add(&ran, 1);
    atomic_fetch_sub(&running_now, 1);
    return v * v;
}

/* ---- results come back ------------------------------------------------------- */

static int basic_main(void *arg) {
    (void)arg;
    intptr_t r = 0;
    CHECK_EQ(corio_to_thread(square, (void *)(intptr_t)12, &r), 0);
    CHECK_EQ(r, 144);
    CHECK_EQ(corio_run_in_executor(NULL, square, (void *)(intptr_t)-3, &r), 0);
    CHECK_EQ(r, 9);
    CHECK_EQ(corio_to_thread(square, (void *)(intptr_t)2, NULL), 0);
    return 0;
}

static void test_basic(void) {
    loop_thread = pthread_self();
    CHECK_EQ(test_run(basic_main, NULL, 0), 0);
    CHECK(corio_executor_default_size() >= 5 && corio_executor_default_size() <= 32);
}

/* ---- 1,000 jobs on 4 threads ---------------------------------------------------- */

static corio_executor *ex4;

static int one_job(void *arg) {
    intptr_t r = 0;
    int rc = corio_run_in_executor(ex4, square, arg, &r);
    if (rc < 0) return rc;
    return r == (intptr_t)arg * (intptr_t)arg ? 1 : -EIO;
}

static intptr_t slow_square(void *arg) {
    track_start();
    msleep(1);
    atomic_fetch_sub(&running_now, 1);
    intptr_t v = (intptr_t)arg;
    return v * v;
}

static int many_main(void *arg) {
    (void)arg;
    enum { N = 1000 };
    static corio_task *t[N];
    for (intptr_t i = 0; i < N; i++) t[i] = corio_spawn(one_job, (void *)i);
    int ok = 0;
    for (int i = 0; i < N; i++) ok += corio_join(t[i]) == 1;
    CHECK_EQ(ok, N);
    return 0;
}

/* Like slow_square, but the first jobs wait (10 s at most: a pool that runs
 * one job at a time then fails the check, after a delay) until two run at
 * once: that the pool runs jobs side by side is then certain, however the
 * threads are scheduled, not the luck of 1 ms sleeps overlapping. */
static intptr_t overlapping_square(void *arg) {
    track_start();
    for (int i = 0; i < 10000 && atomic_load(&running_max) < 2; i++) msleep(1);
    msleep(1);
    atomic_fetch_sub(&running_now, 1);
    intptr_t v = (intptr_t)arg;
    return v * v;
}

static int slow_job(void *arg) {
    intptr_t r = 0;
    int rc = corio_run_in_executor(ex4, overlapping_square, arg, &r);
    return rc < 0 ? rc : (r == (intptr_t)arg * (intptr_t)arg);
}

static int many_slow_main(void *arg) {
    (void)arg;
    enum { N = 100 };
    corio_task *t[N];
    for (intptr_t i = 0; i < N; i++) t[i] = corio_spawn(slow_job, (void *)i);
    int ok = 0;
    for (int i = 0; i < N; i++) ok += corio_join(t[i]) == 1;
    CHECK_EQ(ok, N);
    return 0;
}

static void test_thousand_jobs_four_threads(void) {
    ex4 = corio_executor_new(4);
    CHECK(ex4 != NULL);
    atomic_store(&running_max, 0);
    atomic_store(&ran, 0);
    CHECK_EQ(test_run(many_main, NULL, 0), 0);
    CHECK_EQ(atomic_load(&ran), 1000);
    /* Jobs that take a moment: the pool really runs 4 at a time, never more. */
    atomic_store(&running_max, 0);
    CHECK_EQ(test_run(many_slow_main, NULL, 0), 0);
    CHECK(atomic_load(&running_max) <= 4);
    CHECK(atomic_load(&running_max) >= 2);
    CHECK_EQ(corio_executor_free(ex4), 0);
}

/* ---- cancellation ----------------------------------------------------------------- */

static atomic_int gate, started, finished, queued_ran;

/* Blocks until the gate opens; its argument is heap memory it frees. */
static intptr_t gated(void *arg) {
    atomic_store(&started, 1);
    while (!atomic_load(&gate)) msleep(1);
    intptr_t v = *(intptr_t *)arg;
    free(arg);
    atomic_fetch_add(&finished, 1);
    return v;
}

static intptr_t must_not_run(void *arg) {
    (void)arg;
    atomic_store(&queued_ran, 1);
    return 0;
}

static corio_executor *ex1;

static int run_gated(void *arg) {
    intptr_t *p = malloc(sizeof *p);
    *p = (intptr_t)arg;
    intptr_t r = 0;
    int rc = corio_run_in_executor(ex1, gated, p, &r);
    return rc < 0 ? rc : (int)r;
}

static int run_queued(void *arg) {
    (void)arg;
    return corio_run_in_executor(ex1, must_not_run, NULL, NULL);
}

static int cancel_main(void *arg) {
    (void)arg;
    atomic_store(&gate, 0);
    atomic_store(&started, 0);
    atomic_store(&finished, 0);
    atomic_store(&queued_ran, 0);
    corio_task *a = corio_spawn(run_gated, (void *)(intptr_t)7);
    while (!atomic_load(&started)) corio_sleep(0.001);
    /* The single worker is busy: this job waits in the queue. */
    corio_task *b = corio_spawn(run_queued, NULL);
    corio_sleep(0.005);
    CHECK(!corio_task_done(b));
    corio_cancel(b);
    CHECK_EQ(corio_join(b), -ECANCELED);
    /* The running one: the task ends at once, the worker goes on. */
    double t0 = corio_time();
    corio_cancel(a);
    CHECK_EQ(corio_join(a), -ECANCELED);
    CHECK(corio_time() - t0 < 10); /* (only a hang: the gate is closed, so the job cannot have ended) */
    CHECK_EQ(atomic_load(&finished), 0);
    /* Open the gate; the job finishes and its result is thrown away. */
    atomic_store(&gate, 1);
    while (atomic_load(&finished) == 0) corio_sleep(0.001);
    /* The worker is free again: if the queued job were still there, it runs now. */
    intptr_t r = 0;
    CHECK_EQ(corio_run_in_executor(ex1, square, (void *)(intptr_t)5, &r), 0);
    CHECK_EQ(r, 25);
    CHECK_EQ(atomic_load(&queued_ran), 0);
    return 0;
}

static void test_cancel_queued_and_running(void) {
    ex1 = corio_executor_new(1);
    CHECK_EQ(test_run(cancel_main, NULL, 0), 0);
    CHECK_EQ(corio_executor_free(ex1), 0);
    CHECK_EQ(atomic_load(&queued_ran), 0);
}

/* A task cancelled before its job could start never submits it. */
static int precancel_main(void *arg) {
    (void)arg;
    corio_cancel(corio_current_task());
    CHECK_EQ(corio_to_thread(must_not_run, NULL, NULL), -ECANCELED);
    return 0;
}

static void test_cancel_before_submit(void) {
    atomic_store(&queued_ran, 0);
    test_run(precancel_main, NULL, 0);
    CHECK_EQ(atomic_load(&queued_ran), 0);
}

/* The loop closes while the job of a cancelled task still runs on a custom
 * executor: the close is clean, the job frees its request when it ends. */
static int abandon_main(void *arg) {
    (void)arg;
    atomic_store(&gate, 0);
    atomic_store(&started, 0);
    atomic_store(&finished, 0);
    corio_task *a = corio_spawn(run_gated, (void *)(intptr_t)1);
    while (!atomic_load(&started)) corio_sleep(0.001);
    corio_cancel(a);
    CHECK_EQ(corio_join(a), -ECANCELED);
    return 0;
}

static void test_loop_closes_while_job_runs(void) {
    ex1 = corio_executor_new(1);
    CHECK_EQ(test_run(abandon_main, NULL, 0), 0); /* test_run checks the close returned 0 */
    CHECK_EQ(atomic_load(&finished), 0);
    atomic_store(&gate, 1);
    CHECK_EQ(corio_executor_free(ex1), 0); /* waits for the job */
    CHECK_EQ(atomic_load(&finished), 1);
}

/* asyncio.run waits for the default executor: corio_run's close does too. */
static intptr_t gated_default(void *arg) { return gated(arg); }

static int run_gated_default(void *arg) {
    intptr_t *p = malloc(sizeof *p);
    *p = (intptr_t)arg;
    return corio_to_thread(gated_default, p, NULL);
}

static int default_close_main(void *arg) {
    (void)arg;
    corio_task *a = corio_spawn(run_gated_default, NULL);
    corio_task_detach(a);
    while (!atomic_load(&started)) corio_sleep(0.001);
    return 4;
}

static void *open_gate_later(void *arg) {
    (void)arg;
    msleep(30);
    atomic_store(&gate, 1);
    return NULL;
}

static void test_close_waits_for_default_executor(void) {
    atomic_store(&gate, 0);
    atomic_store(&started, 0);
    atomic_store(&finished, 0);
    pthread_t th;
    pthread_create(&th, NULL, open_gate_later, NULL);
    CHECK_EQ(corio_run(default_close_main, NULL), 4);
    CHECK_EQ(atomic_load(&finished), 1); /* the close waited for the running job */
    pthread_join(th, NULL);
}

/* The executor is freed (its job done and delivered, not yet drained), then
 * the waiting task is cancelled: it must not look at the freed executor. */
static intptr_t nap(void *arg) {
    (void)arg;
    msleep(20);
    return 1;
}

static int run_nap(void *arg) {
    (void)arg;
    return corio_run_in_executor(ex1, nap, NULL, NULL);
}

static int free_while_awaited_main(void *arg) {
    (void)arg;
    ex1 = corio_executor_new(1);
    corio_task *a = corio_spawn(run_nap, NULL);
    corio_sleep(0); /* a submits its job */
    CHECK_EQ(corio_executor_free(ex1), 0); /* blocks the loop until the job is delivered */
    corio_cancel(a);
    CHECK_EQ(corio_join(a), -ECANCELED);
    return 0;
}

static void test_executor_freed_then_cancel(void) { CHECK_EQ(test_run(free_while_awaited_main, NULL, 0), 0); }

/* ---- shutdown ------------------------------------------------------------------------ */

static atomic_int done_flags[3];

static intptr_t sleepy(void *arg) {
    msleep(30);
    atomic_store(&done_flags[(intptr_t)arg], 1);
    return (intptr_t)arg + 100;
}

static corio_executor *ex2;

static int run_sleepy(void *arg) {
    intptr_t r = 0;
    int rc = corio_run_in_executor(ex2, sleepy, arg, &r);
    return rc < 0 ? rc : (int)r;
}

static int shutdown_main(void *arg) {
    (void)arg;
    corio_task *t[3];
    for (intptr_t i = 0; i < 3; i++) t[i] = corio_spawn(run_sleepy, (void *)i);
    corio_sleep(0); /* they submit their jobs (2 run, 1 queued) */
    CHECK_EQ(corio_executor_shutdown(ex2, CORIO_EXECUTOR_WAIT), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(atomic_load(&done_flags[i]), 1);
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_join(t[i]), 100 + i);
    CHECK_EQ(corio_run_in_executor(ex2, square, NULL, NULL), -ESHUTDOWN);
    CHECK_EQ(corio_executor_shutdown(ex2, CORIO_EXECUTOR_WAIT), 0); /* twice is fine */
    return 0;
}

static void test_shutdown_waits(void) {
    ex2 = corio_executor_new(2);
    CHECK_EQ(test_run(shutdown_main, NULL, 0), 0);
    CHECK_EQ(corio_executor_free(ex2), 0);
}

static int cancel_queued_main(void *arg) {
    (void)arg;
    atomic_store(&gate, 0);
    atomic_store(&started, 0);
    atomic_store(&finished, 0);
    atomic_store(&queued_ran, 0);
    corio_task *a = corio_spawn(run_gated, (void *)(intptr_t)9);
    while (!atomic_load(&started)) corio_sleep(0.001);
    corio_task *b = corio_spawn(run_queued, NULL), *c = corio_spawn(run_queued, NULL);
    corio_sleep(0);
    CHECK_EQ(corio_executor_shutdown(ex1, CORIO_EXECUTOR_CANCEL_QUEUED), 0);
    CHECK_EQ(corio_join(b), -ECANCELED);
    CHECK_EQ(corio_join(c), -ECANCELED);
    atomic_store(&gate, 1);
    CHECK_EQ(corio_join(a), 9); /* the running job still delivers */
    return 0;
}

static void test_shutdown_cancel_queued(void) {
    ex1 = corio_executor_new(1);
    CHECK_EQ(test_run(cancel_queued_main, NULL, 0), 0);
    CHECK_EQ(corio_executor_free(ex1), 0);
    CHECK_EQ(atomic_load(&queued_ran), 0);
}

/* ---- to_thread from many tasks; set_default_executor ---------------------------------------- */

static int to_thread_task(void *arg) {
    intptr_t r = 0;
    int rc = corio_to_thread(slow_square, arg, &r);
    return rc < 0 ? rc : r == (intptr_t)arg * (intptr_t)arg;
}

static int to_thread_many_main(void *arg) {
    int n = (int)(intptr_t)arg;
    corio_task **t = calloc((size_t)n, sizeof *t);
    for (intptr_t i = 0; i < n; i++) t[i] = corio_spawn(to_thread_task, (void *)i);
    int ok = 0;
    for (int i = 0; i < n; i++) ok += corio_join(t[i]) == 1;
    free(t);
    CHECK_EQ(ok, n);
    return 0;
}

static void test_to_thread_many_tasks(void) {
    atomic_store(&running_max, 0);
    CHECK_EQ(test_run(to_thread_many_main, (void *)(intptr_t)300, 0), 0);
    CHECK(atomic_load(&running_max) <= corio_executor_default_size());
}

static int set_default_main(void *arg) {
    (void)arg;
    intptr_t r = 0;
    CHECK_EQ(corio_to_thread(square, (void *)(intptr_t)3, &r), 0); /* the lazy default first */
    corio_executor *ex = corio_executor_new(2);
    CHECK_EQ(corio_set_default_executor(ex), 0);
    CHECK_EQ(corio_set_default_executor(ex), -EINVAL); /* already one */
    CHECK_EQ(corio_executor_free(ex), -EINVAL);        /* the loop owns it */
    atomic_store(&running_max, 0);
    to_thread_many_main((void *)(intptr_t)40);
    CHECK(atomic_load(&running_max) <= 2);
    return 0;
}

static void test_set_default_executor(void) { CHECK_EQ(test_run(set_default_main, NULL, 0), 0); }

/* ---- run_task_threadsafe from 4 threads ----------------------------------------------------- */

static corio_loop *rt_loop;
static atomic_int rt_ok;

static int rt_task(void *arg) {
    intptr_t v = (intptr_t)arg;
    if (corio_loop_current() != rt_loop) return -EIO;
    if (corio_sleep(v % 3 ? 0 : 0.0001) < 0) return -EIO;
    return (int)(v * 2);
}

static int rt_fail(void *arg) {
    (void)arg;
    return -ENOENT;
}

static void *rt_thread(void *arg) {
    intptr_t base = (intptr_t)arg * 1000;
    for (intptr_t i = 0; i < 100; i++) {
        int r = -1;
        int rc = corio_loop_run_task_threadsafe(rt_loop, rt_task, (void *)(base + i), &r);
        if (rc == 0 && r == (int)(2 * (base + i))) atomic_fetch_add(&rt_ok, 1);
    }
    int r = 5;
    if (corio_loop_run_task_threadsafe(rt_loop, rt_fail, NULL, &r) == -ENOENT && r == 5) atomic_fetch_add(&rt_ok, 1);
    return NULL;
}

static void stop_loop(void *arg) { corio_loop_stop(arg); }

static void *rt_driver(void *arg) {
    (void)arg;
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++) pthread_create(&th[i], NULL, rt_thread, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    corio_loop_call_soon_threadsafe(rt_loop, stop_loop, rt_loop);
    return NULL;
}

static int rt_self(void *arg) {
    (void)arg;
    int r;
    CHECK_EQ(corio_loop_run_task_threadsafe(corio_loop_current(), rt_task, NULL, &r), -EDEADLK);
    return 0;
}

static void test_run_task_threadsafe(void) {
    rt_loop = corio_loop_new();
    atomic_store(&rt_ok, 0);
    pthread_t d;
    pthread_create(&d, NULL, rt_driver, NULL);
    corio_loop_run_forever(rt_loop);
    pthread_join(d, NULL);
    CHECK_EQ(atomic_load(&rt_ok), 4 * 101);
    corio_task *t = corio_loop_spawn(rt_loop, rt_self, NULL, NULL);
    corio_loop_run_until_complete(rt_loop, corio_task_future(t));
    corio_task_detach(t);
    CHECK_EQ(corio_loop_run_task_threadsafe(NULL, rt_task, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_loop_run_task_threadsafe(rt_loop, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_loop_close(rt_loop), 0);
}

/* The loop closes while a thread waits for a task that never finished. */
static atomic_int forever_started;
static int forever_task(void *arg) {
    (void)arg;
    atomic_store(&forever_started, 1);
    return corio_sleep(INFINITY);
}

static atomic_int orphan_rc;
static void *orphan_thread(void *arg) {
    (void)arg;
    atomic_store(&orphan_rc, corio_loop_run_task_threadsafe(rt_loop, forever_task, NULL, NULL));
    return NULL;
}

static int orphan_main(void *arg) {
    (void)arg;
    while (!atomic_load(&forever_started)) corio_sleep(0.001);
    return 0;
}

static void quiet_log(int level, const char *msg, void *arg) {
    (void)level, (void)msg, (void)arg;
}

static void test_loop_closes_under_waiting_thread(void) {
    rt_loop = corio_loop_new();
    atomic_store(&orphan_rc, 1);
    pthread_t th;
    pthread_create(&th, NULL, orphan_thread, NULL);
    corio_task *t = corio_loop_spawn(rt_loop, orphan_main, NULL, NULL);
    corio_loop_run_until_complete(rt_loop, corio_task_future(t));
    corio_task_detach(t);
    corio_log_set_handler(quiet_log, NULL); /* the pending task is reported */
    CHECK_EQ(corio_loop_close(rt_loop), -ENOTEMPTY);
    corio_log_set_handler(NULL, NULL);
    pthread_join(th, NULL);
    CHECK_EQ(atomic_load(&orphan_rc), -ECANCELED);
}

/* ---- run_task_threadsafe with a timeout: the task is cancelled and waited for ----------------- */

static atomic_int to_unwound, to_rc_slow, to_rc_fast, to_fast_result, to_done;

static int slow_task(void *arg) {
    (void)arg;
    int rc = corio_sleep(10);
    corio_sleep(0.01); /* unwinding takes a while: the caller must wait for it (re-armed cancel ends it too) */
    atomic_store(&to_unwound, 1);
    return rc;
}

static int fast_task(void *arg) {
    (void)arg;
    corio_sleep(0.001);
    return 42;
}

static void stop_rt_loop(void *arg) { corio_loop_stop(arg); }

static void *timeout_thread(void *arg) {
    (void)arg;
    atomic_store(&to_rc_slow, corio_loop_run_task_threadsafe_timeout(rt_loop, slow_task, NULL, 0.05, NULL));
    /* The task has finished unwinding before the call returns. */
    if (!atomic_load(&to_unwound)) atomic_store(&to_rc_slow, 1);
    int r = 0;
    atomic_store(&to_rc_fast, corio_loop_run_task_threadsafe_timeout(rt_loop, fast_task, NULL, 5, &r));
    atomic_store(&to_fast_result, r);
    atomic_store(&to_done, 1);
    corio_loop_call_soon_threadsafe(rt_loop, stop_rt_loop, rt_loop);
    return NULL;
}

static void test_run_task_threadsafe_timeout(void) {
    rt_loop = corio_loop_new();
    pthread_t th;
    pthread_create(&th, NULL, timeout_thread, NULL);
    corio_loop_run_forever(rt_loop);
    pthread_join(th, NULL);
    CHECK_EQ(atomic_load(&to_done), 1);
    CHECK_EQ(atomic_load(&to_rc_slow), -ETIMEDOUT);
    CHECK_EQ(atomic_load(&to_rc_fast), 0);
    CHECK_EQ(atomic_load(&to_fast_result), 42);
    CHECK_EQ(corio_loop_run_task_threadsafe_timeout(rt_loop, fast_task, NULL, NAN, NULL), -EINVAL);
    CHECK_EQ(corio_loop_close(rt_loop), 0);
}

/* ---- bad input ------------------------------------------------------------------------------- */

static int bad_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_run_in_executor(NULL, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_set_default_executor(NULL), -EINVAL);
    return 0;
}

static void test_bad_input(void) {
    CHECK_EQ(corio_to_thread(square, NULL, NULL), -EPERM);
    CHECK_EQ(corio_set_default_executor(NULL), -EINVAL);
    corio_executor *ex = corio_executor_new(1);
    CHECK_EQ(corio_set_default_executor(ex), -EPERM);
    CHECK_EQ(corio_executor_free(ex), 0);
    errno = 0;
    CHECK(corio_executor_new(-1) == NULL && errno == EINVAL);
    CHECK(corio_executor_new(100000) == NULL && errno == EINVAL);
    CHECK_EQ(corio_executor_shutdown(NULL, 0), -EINVAL);
    CHECK_EQ(corio_executor_free(NULL), -EINVAL);
    CHECK_EQ(test_run(bad_main, NULL, 0), 0);
}

/* ---- nothing left behind ----------------------------------------------------------------------- */

static int count_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static int threads_at_start, fds_at_start;

/* Every executor was freed and every loop closed: each worker thread has
 * been joined, no descriptor is left open. */
static void test_nothing_left(void) {
    /* A joined thread may linger in /proc for a moment under qemu-user,
     * whose own helper threads also come and go there: what must not be
     * is a thread more than at the start. */
    for (int i = 0; i < 1000 && count_dir("/proc/self/task") > threads_at_start; i++) usleep(10000);
    CHECK(count_dir("/proc/self/task") <= threads_at_start);
    CHECK_EQ(count_dir("/proc/self/fd"), fds_at_start);
}

static int nothing(void *arg) {
    (void)arg;
    return 0;
}

static void *nothing_thread(void *arg) { return arg; }

int main(void) {
    test_run(nothing, NULL, 0); /* the first loop opens what the library keeps for good */
    pthread_t th;                /* and TSan starts its background thread with the first thread */
    pthread_create(&th, NULL, nothing_thread, NULL);
    pthread_join(th, NULL);
    threads_at_start = count_dir("/proc/self/task");
    fds_at_start = count_dir("/proc/self/fd");
    RUN_TEST(test_basic);
    RUN_TEST(test_thousand_jobs_four_threads);
    RUN_TEST(test_cancel_queued_and_running);
    RUN_TEST(test_cancel_before_submit);
    RUN_TEST(test_loop_closes_while_job_runs);
    RUN_TEST(test_close_waits_for_default_executor);
    RUN_TEST(test_executor_freed_then_cancel);
    RUN_TEST(test_shutdown_waits);
    RUN_TEST(test_shutdown_cancel_queued);
    RUN_TEST(test_to_thread_many_tasks);
    RUN_TEST(test_set_default_executor);
    RUN_TEST(test_run_task_threadsafe);
    RUN_TEST(test_loop_closes_under_waiting_thread);
    RUN_TEST(test_run_task_threadsafe_timeout);
    RUN_TEST(test_bad_input);
    RUN_TEST(test_nothing_left);
    TEST_MAIN_END();
}
