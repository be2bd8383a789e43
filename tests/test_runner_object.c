/*
 * test_runner_object.c - corio_runner, against asyncio.Runner (Python
 * 3.13, test_runners.py's RunnerTests, and scenarios run on 3.13 for what
 * the tests leave open): options (debug, eager tasks, loop factory), runs
 * on one loop that is kept between them, tasks left by one run going on in
 * the next and cancelled by the close, close twice, run after close, run
 * from a running loop, the loop stopped under a run, and SIGINT taken per
 * run and given back at its end.
 */
#include "test.h"

static void interrupt_self(void *arg) {
    (void)arg;
    raise(SIGINT);
}

static int sigint_is_default(void) {
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    return sa.sa_handler == SIG_DFL;
}

static int return_arg(void *arg) { return (int)(intptr_t)arg; }

/* ---- options ------------------------------------------------------------------ */

/* test_non_debug, test_debug */
static void test_debug(void) {
    corio_runner *ru;
    CHECK_EQ(corio_runner_new(&(corio_runner_opts){.debug = -1}, &ru), 0);
    CHECK_EQ(corio_loop_get_debug(corio_runner_loop(ru)), 0);
    CHECK_EQ(corio_runner_free(ru), 0);
    CHECK_EQ(corio_runner_new(&(corio_runner_opts){.debug = 1}, &ru), 0);
    CHECK_EQ(corio_loop_get_debug(corio_runner_loop(ru)), 1);
    CHECK_EQ(corio_runner_free(ru), 0);
}

static int eager_seen;
static int eager_child(void *arg) {
    (void)arg;
    eager_seen = 1; /* runs inside the spawn when eager */
    return 0;
}

static int eager_main(void *arg) {
    (void)arg;
    eager_seen = 0;
    corio_task *t = corio_spawn(eager_child, NULL);
    int seen = eager_seen;
    corio_join(t);
    return seen;
}

static void test_eager_tasks(void) {
    corio_runner *ru;
    int v = -1;
    CHECK_EQ(corio_runner_new(&(corio_runner_opts){.eager_tasks = 1}, &ru), 0);
    CHECK_EQ(corio_loop_eager_tasks(corio_runner_loop(ru)), 1);
    CHECK_EQ(corio_runner_run(ru, eager_main, NULL, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(corio_runner_free(ru), 0);
    CHECK_EQ(corio_runner_new(&(corio_runner_opts){.eager_tasks = -1}, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, eager_main, NULL, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* test_custom_factory: the factory's loop is the runner's, made when first
 * needed and once; the runner closes it. */
static int factory_calls;
static corio_loop *factory(void *arg) {
    factory_calls++;
    CHECK_EQ((intptr_t)arg, 99);
    return corio_loop_new();
}

static corio_loop *seen_loop;
static int note_loop(void *arg) {
    (void)arg;
    seen_loop = corio_loop_current();
    return corio_yield();
}

static void test_custom_factory(void) {
    corio_runner *ru;
    factory_calls = 0;
    CHECK_EQ(corio_runner_new(&(corio_runner_opts){.loop_factory = factory, .loop_factory_arg = (void *)99}, &ru), 0);
    CHECK_EQ(factory_calls, 0); /* lazily */
    corio_loop *loop = corio_runner_loop(ru);
    CHECK(loop != NULL);
    CHECK_EQ(corio_runner_run(ru, note_loop, NULL, NULL), 0);
    CHECK(seen_loop == loop);
    CHECK(corio_runner_loop(ru) == loop);
    CHECK_EQ(factory_calls, 1);
    CHECK_EQ(corio_runner_free(ru), 0);
}

static corio_loop *null_factory(void *arg) {
    (void)arg;
    errno = EMFILE;
    return NULL;
}

static void test_factory_fails(void) {
    corio_runner *ru;
    CHECK_EQ(corio_runner_new(&(corio_runner_opts){.loop_factory = null_factory}, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, return_arg, NULL, NULL), -EMFILE);
    errno = 0;
    CHECK(corio_runner_loop(ru) == NULL);
    CHECK_EQ(errno, EMFILE);
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* ---- runs and close --------------------------------------------------------------- */

/* test_run: the result comes back; after the close the runner is closed. */
static int done_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_sleep(0), 0);
    return 42;
}

static void test_run_result(void) {
    corio_runner *ru;
    int v = 0;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, done_main, NULL, &v), 0);
    CHECK_EQ(v, 42);
    CHECK(corio_runner_loop(ru) != NULL);
    CHECK_EQ(corio_runner_close(ru), 0);
    errno = 0;
    CHECK(corio_runner_loop(ru) == NULL);
    CHECK_EQ(errno, ESHUTDOWN); /* "Runner is closed" */
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* test_asyncio_run_raises: main's error is the run's, and the runner
 * goes on working. */
static int failing_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_sleep(0), 0);
    return -EPROTO;
}

static void test_run_error(void) {
    corio_runner *ru;
    int v = -1;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, failing_main, NULL, &v), -EPROTO);
    CHECK_EQ(v, -1); /* untouched */
    CHECK_EQ(corio_runner_run(ru, return_arg, (void *)3, &v), 0);
    CHECK_EQ(v, 3);
    CHECK_EQ(corio_runner_run(ru, return_arg, (void *)4, NULL), 0);
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* test_explicit_close, test_double_close, test_second_with_block_raises. */
static int ran;
static int count_run(void *arg) {
    (void)arg;
    return ++ran;
}

static void test_close_twice_and_run_after(void) {
    corio_runner *ru;
    ran = 0;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, count_run, NULL, NULL), 0);
    CHECK_EQ(corio_runner_close(ru), 0);
    CHECK_EQ(corio_runner_close(ru), 0); /* a no-op */
    CHECK_EQ(corio_runner_run(ru, count_run, NULL, NULL), -ESHUTDOWN);
    CHECK_EQ(ran, 1);
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* asyncio: close() of a runner that never made its loop does nothing; it
 * can run afterwards. */
static void test_close_unused(void) {
    corio_runner *ru;
    int v = 0;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK_EQ(corio_runner_close(ru), 0);
    CHECK_EQ(corio_runner_run(ru, return_arg, (void *)5, &v), 0);
    CHECK_EQ(v, 5);
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* test_recursive_run: a run from inside the runner's own running loop is
 * refused, and its function never runs. */
static corio_runner *shared;
static int recursive_main(void *arg) {
    (void)arg;
    ran = 0;
    CHECK_EQ(corio_runner_run(shared, count_run, NULL, NULL), -EBUSY);
    CHECK_EQ(corio_runner_close(shared), -EBUSY);
    CHECK_EQ(corio_runner_free(shared), -EBUSY);
    CHECK_EQ(ran, 0);
    return 1;
}

static void test_recursive_run(void) {
    CHECK_EQ(corio_runner_new(NULL, &shared), 0);
    int v = 0;
    CHECK_EQ(corio_runner_run(shared, recursive_main, NULL, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(corio_runner_free(shared), 0);
}

/* The loop is kept between runs: a task the first run left goes on during
 * the second, and the close cancels it and waits for it. */
static int ticks, left_cancelled;
static int leftover(void *arg) {
    (void)arg;
    int rc;
    while ((rc = corio_sleep(0)) == 0) ticks++;
    left_cancelled = rc == -ECANCELED;
    return rc;
}

static corio_task *left;
static int first_run(void *arg) {
    (void)arg;
    left = corio_spawn(leftover, NULL); /* the test keeps its reference */
    CHECK_EQ(corio_sleep(0), 0);
    return 1;
}

static int second_run(void *arg) {
    (void)arg;
    CHECK_EQ(corio_task_done(left), 0);
    int before = ticks;
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK(ticks > before); /* it runs again */
    return 2;
}

static void test_loop_kept(void) {
    corio_runner *ru;
    int v = 0;
    ticks = left_cancelled = 0;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, first_run, NULL, &v), 0);
    CHECK_EQ(v, 1);
    int between = ticks;
    CHECK_EQ(corio_runner_run(ru, second_run, NULL, &v), 0);
    CHECK_EQ(v, 2);
    CHECK(ticks > between);
    CHECK_EQ(corio_task_done(left), 0);
    corio_task_detach(left);
    CHECK_EQ(corio_runner_close(ru), 0);
    CHECK_EQ(left_cancelled, 1);
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* The loop stopped under a run: asyncio's "Event loop stopped before Future
 * completed." is -EINPROGRESS, and the main task goes on in the next run. */
static int resumed;
static int stopper(void *arg) {
    (void)arg;
    corio_loop_stop(corio_loop_current());
    if (corio_sleep(0.01) == 0) resumed = 1;
    return 5;
}

static int later_run(void *arg) {
    (void)arg;
    CHECK_EQ(corio_sleep(0.05), 0);
    return 2;
}

static void test_stopped_run(void) {
    corio_runner *ru;
    int v = 0;
    resumed = 0;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    corio_loop_use_virtual_clock(corio_runner_loop(ru));
    CHECK_EQ(corio_runner_run(ru, stopper, NULL, &v), -EINPROGRESS);
    CHECK_EQ(resumed, 0);
    CHECK_EQ(corio_runner_run(ru, later_run, NULL, &v), 0);
    CHECK_EQ(v, 2);
    CHECK_EQ(resumed, 1);
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* ---- SIGINT, per run --------------------------------------------------------------- */

/* test_interrupt_call_soon, through the runner: a callback scheduled on
 * the runner's loop before the run interrupts it; the run says so, SIGINT
 * is the default again, and the next run takes it again. */
static int busy_main(void *arg) {
    (void)arg;
    CHECK(!sigint_is_default());
    int rc;
    while ((rc = corio_yield()) == 0) {}
    CHECK_EQ(rc, -ECANCELED);
    return rc;
}

static int sigint_taken(void *arg) {
    (void)arg;
    return !sigint_is_default();
}

static void test_interrupt_call_soon(void) {
    corio_runner *ru;
    int v = 0;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    corio_loop *loop = corio_runner_loop(ru);
    CHECK_EQ(corio_loop_call_later(loop, NULL, 0.1, interrupt_self, NULL), 0);
    CHECK(sigint_is_default()); /* not taken before the run */
    CHECK_EQ(corio_runner_run(ru, busy_main, NULL, &v), -EINTR);
    CHECK(sigint_is_default()); /* given back at the run's end, not at the close */
    CHECK_EQ(corio_runner_run(ru, sigint_taken, NULL, &v), 0);
    CHECK_EQ(v, 1);
    CHECK(sigint_is_default());
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* test_interrupt_wait: the future main awaits, made on the runner's loop
 * before the run, is cancelled too. */
static corio_future fut;
static int wait_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_await(&fut, NULL), -ECANCELED);
    return -ECANCELED;
}

static void test_interrupt_wait(void) {
    corio_runner *ru;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    corio_loop *loop = corio_runner_loop(ru);
    CHECK_EQ(corio_future_init(&fut, loop), 0);
    CHECK_EQ(corio_loop_call_later(loop, NULL, 0.1, interrupt_self, NULL), 0);
    CHECK_EQ(corio_runner_run(ru, wait_main, NULL, NULL), -EINTR);
    CHECK_EQ(corio_future_cancelled(&fut), 1);
    corio_future_destroy(&fut);
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* test_interrupt_cancelled_task: a main task cancelled by a subtask is not
 * "interrupted" by a SIGINT that follows. */
static int subtask(void *arg) {
    CHECK_EQ(corio_yield(), 0);
    corio_cancel(arg);
    raise(SIGINT);
    return 0;
}

static int cancelled_main(void *arg) {
    (void)arg;
    corio_task_detach(corio_spawn(subtask, corio_current_task()));
    return corio_sleep(10);
}

static void test_interrupt_cancelled_task(void) {
    corio_runner *ru;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, cancelled_main, NULL, NULL), -ECANCELED);
    CHECK(sigint_is_default());
    CHECK_EQ(corio_runner_free(ru), 0);
}

/* A main task that installs its own SIGINT handler keeps it after the run
 * (asyncio restores the default only if its handler is still there); the
 * next run then leaves SIGINT alone, and the close removes the handler. */
static int own_hits;
static void own_handler(int signum, void *arg) {
    (void)signum, (void)arg;
    own_hits++;
}

static int own_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_add_signal_handler(SIGINT, own_handler, NULL), 0);
    return 1;
}

static int own_second(void *arg) {
    (void)arg;
    raise(SIGINT);
    CHECK_EQ(corio_sleep(0.05), 0); /* not cancelled: the handler is the program's */
    return 2;
}

static void test_own_handler_kept(void) {
    corio_runner *ru;
    int v = 0;
    own_hits = 0;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, own_main, NULL, &v), 0);
    CHECK(!sigint_is_default());
    CHECK_EQ(corio_runner_run(ru, own_second, NULL, &v), 0);
    CHECK_EQ(v, 2);
    CHECK_EQ(own_hits, 1);
    CHECK_EQ(corio_runner_free(ru), 0);
    CHECK(sigint_is_default()); /* the loop's close removed it */
}

/* A task left running that the close cancels and that then fails: the
 * exception handler hears "unhandled exception during asyncio.run()
 * shutdown" with its error (Python 3.13: a task catching CancelledError
 * and raising OSError(5) gives exactly that, once).  One that ends
 * cancelled is not reported. */
static int shutdown_reports;
static int shutdown_error;
static const char *shutdown_message;
static void shutdown_handler(corio_loop *loop, const corio_exception_context *ctx, void *arg) {
    (void)loop, (void)arg;
    shutdown_reports++;
    shutdown_error = ctx->error;
    shutdown_message = ctx->message;
}

static int stubborn_task(void *arg) {
    (void)arg;
    int rc = corio_sleep(10);
    return rc == -ECANCELED ? -EIO : 0;
}

static int obedient_task(void *arg) {
    (void)arg;
    return corio_sleep(10);
}

static int leave_tasks_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_loop_set_exception_handler(corio_loop_current(), shutdown_handler, NULL), 0);
    corio_task_detach(corio_spawn(stubborn_task, NULL));
    corio_task_detach(corio_spawn(obedient_task, NULL));
    CHECK_EQ(corio_yield(), 0);
    return 3;
}

static void test_shutdown_error_reported(void) {
    shutdown_reports = 0;
    corio_runner *ru;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    int v = 0;
    CHECK_EQ(corio_runner_run(ru, leave_tasks_main, NULL, &v), 0);
    CHECK_EQ(v, 3);
    CHECK_EQ(shutdown_reports, 0);
    CHECK_EQ(corio_runner_free(ru), 0);
    CHECK_EQ(shutdown_reports, 1);
    CHECK_EQ(shutdown_error, -EIO);
    CHECK(shutdown_message && strcmp(shutdown_message, "unhandled exception during asyncio.run() shutdown") == 0);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void test_bad_input(void) {
    corio_runner *ru;
    CHECK_EQ(corio_runner_new(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_runner_run(NULL, return_arg, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK_EQ(corio_runner_run(ru, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_runner_close(NULL), -EINVAL);
    errno = 0;
    CHECK(corio_runner_loop(NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(corio_runner_free(ru), 0);
    CHECK_EQ(corio_runner_free(NULL), 0);
}

int main(void) {
    RUN_TEST(test_debug);
    RUN_TEST(test_eager_tasks);
    RUN_TEST(test_custom_factory);
    RUN_TEST(test_factory_fails);
    RUN_TEST(test_run_result);
    RUN_TEST(test_run_error);
    RUN_TEST(test_close_twice_and_run_after);
    RUN_TEST(test_close_unused);
    RUN_TEST(test_recursive_run);
    RUN_TEST(test_loop_kept);
    RUN_TEST(test_stopped_run);
    RUN_TEST(test_interrupt_call_soon);
    RUN_TEST(test_interrupt_wait);
    RUN_TEST(test_interrupt_cancelled_task);
    RUN_TEST(test_own_handler_kept);
    RUN_TEST(test_shutdown_error_reported);
    RUN_TEST(test_bad_input);
    TEST_MAIN_END();
}
