/*
 * test_executor_shutdown.c - corio_shutdown_default_executor, against
 * asyncio 3.13's loop.shutdown_default_executor(timeout) (each outcome
 * below is what a Python 3.13 version of the scenario gives):
 *  - no default executor: returns at once, and the default executor takes
 *    no work afterwards ("Executor shutdown has been called" ->
 *    -ESHUTDOWN), even one set later;
 *  - jobs queued and running still finish, and the call returns once the
 *    threads are gone;
 *  - a job that outlasts the timeout: the warning, -ETIMEDOUT (asyncio
 *    returns None after warning), the job still delivers its result;
 *  - cancelled while it waits: -ECANCELED, the executor stays shut down.
 * Jobs block on a gate the loop opens, so no test depends on timing; the
 * timeout case runs on the virtual clock.
 */
#include "test.h"

#include <pthread.h>
#include <time.h>

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int entered; /* jobs that reached the gate */
} gate;

static gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void gate_reset(void) {
    pthread_mutex_lock(&g.mu);
    g.open = 0;
    g.entered = 0;
    pthread_mutex_unlock(&g.mu);
}

static void gate_open(void) {
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

static int gate_entered(void) {
    pthread_mutex_lock(&g.mu);
    int n = g.entered;
    pthread_mutex_unlock(&g.mu);
    return n;
}

/* A job that waits at the gate and returns its argument. */
static intptr_t gated_job(void *arg) {
    pthread_mutex_lock(&g.mu);
    g.entered++;
    while (!g.open) pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    return (intptr_t)arg;
}

static intptr_t plain_job(void *arg) { return (intptr_t)arg + 1; }

/* A task that runs one gated job on the default executor. */
static int gated_task(void *arg) {
    intptr_t r = -1;
    int rc = corio_to_thread(gated_job, arg, &r);
    return rc < 0 ? rc : (int)r;
}

/* Yield until `n` jobs wait at the gate (a worker thread gets there on its
 * own time).  Real time bounds it, to catch a hang: the loop's clock may be
 * the virtual one, which a sleep would jump forward. */
static double real_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wait_entered(int n) {
    double end = real_now() + 30;
    while (gate_entered() < n && real_now() < end) corio_yield();
    CHECK(gate_entered() >= n);
}

/* ---- no default executor ---------------------------------------------------------- */

static int none_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_shutdown_default_executor(-1), 0);
    CHECK_EQ(corio_to_thread(plain_job, (void *)1, NULL), -ESHUTDOWN);
    CHECK_EQ(corio_run_in_executor(NULL, plain_job, (void *)1, NULL), -ESHUTDOWN);
    /* An executor of its own still works; a default set afterwards does not
     * serve default work (asyncio checks the flag before the executor). */
    corio_executor *ex = corio_executor_new(1);
    intptr_t r = 0;
    CHECK_EQ(corio_run_in_executor(ex, plain_job, (void *)1, &r), 0);
    CHECK_EQ(r, 2);
    CHECK_EQ(corio_executor_free(ex), 0);
    CHECK_EQ(corio_set_default_executor(corio_executor_new(1)), 0);
    CHECK_EQ(corio_to_thread(plain_job, (void *)1, NULL), -ESHUTDOWN);
    /* A second call is harmless. */
    CHECK_EQ(corio_shutdown_default_executor(-1), 0);
    return 0;
}

static void test_no_default_executor(void) { CHECK_EQ(test_run(none_main, NULL, 0), 0); }

/* ---- idle threads, then running and queued jobs finish first ----------------------- */

static int idle_main(void *arg) {
    (void)arg;
    intptr_t r = 0;
    CHECK_EQ(corio_to_thread(plain_job, (void *)41, &r), 0);
    CHECK_EQ(r, 42);
    /* Its thread waits for work: the shutdown wakes it and joins it. */
    CHECK_EQ(corio_shutdown_default_executor(-1), 0);
    CHECK_EQ(corio_to_thread(plain_job, (void *)1, NULL), -ESHUTDOWN);
    return 0;
}

static void test_idle_threads(void) { CHECK_EQ(test_run(idle_main, NULL, 0), 0); }

static int shutdown_task(void *arg) { return corio_shutdown_default_executor(*(double *)arg); }

static int busy_main(void *arg) {
    (void)arg;
    gate_reset();
    /* One thread: the second job waits in the queue behind the first. */
    CHECK_EQ(corio_set_default_executor(corio_executor_new(1)), 0);
    corio_task *j1 = corio_spawn(gated_task, (void *)7);
    corio_task *j2 = corio_spawn(gated_task, (void *)8);
    wait_entered(1);
    static double forever = -1;
    corio_task *sd = corio_spawn(shutdown_task, &forever);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_task_done(sd), 0); /* waits for the jobs */
    gate_open();
    CHECK_EQ(corio_join(j1), 7);
    CHECK_EQ(corio_join(j2), 8); /* the queued job still ran */
    CHECK_EQ(corio_join(sd), 0);
    return 0;
}

static void test_jobs_finish_first(void) { CHECK_EQ(test_run(busy_main, NULL, 0), 0); }

/* ---- the timeout ------------------------------------------------------------------ */

static int warnings;
static char last_warning[256];

static void capture_log(int level, const char *msg, void *arg) {
    (void)arg;
    if (level < CORIO_LOG_WARNING) return;
    warnings++;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
}

static int timeout_main(void *arg) {
    (void)arg;
    gate_reset();
    corio_task *j = corio_spawn(gated_task, (void *)5);
    wait_entered(1);
    warnings = 0;
    corio_log_set_handler(capture_log, NULL);
    double t0 = corio_time();
    CHECK_EQ(corio_shutdown_default_executor(0.5), -ETIMEDOUT);
    corio_log_set_handler(NULL, NULL);
    CHECK(corio_time() - t0 >= 0.5); /* the virtual clock jumped to the deadline */
    CHECK_EQ(warnings, 1);
    CHECK(strstr(last_warning, "did not finish joining its threads within 0.5 seconds") != NULL);
    CHECK_EQ(corio_to_thread(plain_job, (void *)1, NULL), -ESHUTDOWN);
    /* The job was not abandoned: it delivers once it returns. */
    gate_open();
    CHECK_EQ(corio_join(j), 5);
    /* All threads are gone now: a new call joins them and returns 0. */
    CHECK_EQ(corio_shutdown_default_executor(0.5), 0);
    return 0;
}

static void test_timeout(void) { CHECK_EQ(test_run(timeout_main, NULL, 1), 0); }

/* A timeout of 0 expires in the next iteration, as asyncio.timeout(0). */
static int zero_main(void *arg) {
    (void)arg;
    gate_reset();
    corio_task *j = corio_spawn(gated_task, (void *)3);
    wait_entered(1);
    corio_log_set_handler(capture_log, NULL);
    CHECK_EQ(corio_shutdown_default_executor(0), -ETIMEDOUT);
    corio_log_set_handler(NULL, NULL);
    gate_open();
    CHECK_EQ(corio_join(j), 3);
    return 0;
}

static void test_zero_timeout(void) { CHECK_EQ(test_run(zero_main, NULL, 0), 0); }

/* ---- cancelled while it waits ------------------------------------------------------ */

static int cancel_main(void *arg) {
    (void)arg;
    gate_reset();
    corio_task *j = corio_spawn(gated_task, (void *)9);
    wait_entered(1);
    static double forever = -1;
    corio_task *sd = corio_spawn(shutdown_task, &forever);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_cancel(sd), 1);
    CHECK_EQ(corio_join(sd), -ECANCELED);
    CHECK_EQ(corio_to_thread(plain_job, (void *)1, NULL), -ESHUTDOWN);
    gate_open();
    CHECK_EQ(corio_join(j), 9);
    return 0;
}

static void test_cancelled(void) { CHECK_EQ(test_run(cancel_main, NULL, 0), 0); }

/* A cancellation already pending when it is called: the executor is shut
 * down all the same (asyncio's coroutine runs up to its first await), and
 * the wait returns -ECANCELED. */
static int precancel_task(void *arg) {
    (void)arg;
    corio_cancel(corio_current_task());
    return corio_shutdown_default_executor(-1);
}

static int precancel_main(void *arg) {
    (void)arg;
    gate_reset();
    corio_task *j = corio_spawn(gated_task, (void *)4);
    wait_entered(1);
    CHECK_EQ(corio_join(corio_spawn(precancel_task, NULL)), -ECANCELED);
    CHECK_EQ(corio_to_thread(plain_job, (void *)1, NULL), -ESHUTDOWN);
    gate_open();
    CHECK_EQ(corio_join(j), 4);
    return 0;
}

static void test_cancel_pending(void) { CHECK_EQ(test_run(precancel_main, NULL, 0), 0); }

/* ---- bad input ---------------------------------------------------------------------- */

static int nan_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_shutdown_default_executor(NAN), -EINVAL);
    CHECK_EQ(corio_to_thread(plain_job, (void *)1, NULL), 0); /* nothing was shut down */
    return 0;
}

static void test_bad_input(void) {
    CHECK_EQ(corio_shutdown_default_executor(1), -EPERM); /* outside a task */
    CHECK_EQ(test_run(nan_main, NULL, 0), 0);
}

/* ---- the runner's close -------------------------------------------------------------- */

/* corio_run's close shuts the default executor down: a job still running
 * when main returns is waited for, and its (cancelled) task unwinds. */
static int leftover_main(void *arg) {
    (void)arg;
    gate_reset();
    corio_task_detach(corio_spawn(gated_task, (void *)1));
    wait_entered(1);
    gate_open();
    return 11;
}

static void test_run_closes_executor(void) { CHECK_EQ(corio_run(leftover_main, NULL), 11); }

int main(void) {
    RUN_TEST(test_no_default_executor);
    RUN_TEST(test_idle_threads);
    RUN_TEST(test_jobs_finish_first);
    RUN_TEST(test_timeout);
    RUN_TEST(test_zero_timeout);
    RUN_TEST(test_cancelled);
    RUN_TEST(test_cancel_pending);
    RUN_TEST(test_bad_input);
    RUN_TEST(test_run_closes_executor);
    TEST_MAIN_END();
}
