/*
 * test_runner.c - corio_run's Ctrl-C, against asyncio.Runner (Python 3.13,
 * test_runners.py): the first SIGINT cancels the main task, which may
 * clean up, and corio_run returns -EINTR where asyncio raises
 * KeyboardInterrupt; a main task cancelled by something else stays
 * -ECANCELED; a second SIGINT ends the process; a SIGINT disposition the
 * program chose is left alone.
 */
#include "test.h"

#include <pthread.h>
#include <sys/wait.h>

static void interrupt_self(void *arg) {
    (void)arg;
    raise(SIGINT);
}

static int sigint_is_default(void) {
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    return sa.sa_handler == SIG_DFL;
}

/* test_interrupt_call_soon: a main task that never waits on anything but
 * sleep(0) is cancelled, re-raises, and the run says "interrupted". */
static int cleaned;
static int busy_main(void *arg) {
    (void)arg;
    CHECK(!sigint_is_default()); /* the run took it */
    CHECK_EQ(corio_call_later(NULL, 0.1, interrupt_self, NULL), 0);
    int rc;
    while ((rc = corio_yield()) == 0) {}
    CHECK_EQ(rc, -ECANCELED);
    cleaned = 1;
    return rc;
}

static void test_interrupt_call_soon(void) {
    cleaned = 0;
    CHECK_EQ(corio_run(busy_main, NULL), -EINTR);
    CHECK_EQ(cleaned, 1);
    CHECK(sigint_is_default()); /* given back at close */
}

/* test_interrupt_wait: the future the main task awaits is cancelled too. */
static corio_future fut;
static int wait_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_future_init(&fut, NULL), 0);
    CHECK_EQ(corio_call_later(NULL, 0.1, interrupt_self, NULL), 0);
    CHECK_EQ(corio_await(&fut, NULL), -ECANCELED);
    CHECK_EQ(corio_future_cancelled(&fut), 1);
    corio_future_destroy(&fut);
    return -ECANCELED;
}

static void test_interrupt_wait(void) { CHECK_EQ(corio_run(wait_main, NULL), -EINTR); }

/* test_interrupt_cancelled_task: a main task already cancelled by a
 * subtask is not "interrupted": its cancellation stays a cancellation. */
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

static void test_interrupt_cancelled_task(void) { CHECK_EQ(corio_run(cancelled_main, NULL), -ECANCELED); }

/* A main task that catches the interrupt and finishes normally returns
 * its value (asyncio returns the coroutine's result). */
static int catching_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_call_later(NULL, 0.05, interrupt_self, NULL), 0);
    CHECK_EQ(corio_sleep(10), -ECANCELED);
    return 5;
}

static void test_interrupt_caught(void) { CHECK_EQ(corio_run(catching_main, NULL), 5); }

/* A program that ignores SIGINT (as a shell does for background jobs)
 * keeps ignoring it: the run does not take it. */
static int ignored_main(void *arg) {
    (void)arg;
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    CHECK(sa.sa_handler == SIG_IGN);
    raise(SIGINT);
    CHECK_EQ(corio_sleep(0.05), 0);
    return 7;
}

static void test_ignored_kept(void) {
    signal(SIGINT, SIG_IGN);
    CHECK_EQ(corio_run(ignored_main, NULL), 7);
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    CHECK(sa.sa_handler == SIG_IGN);
    signal(SIGINT, SIG_DFL);
}

/* Not on the main thread: SIGINT is left as it is. */
static int thread_main(void *arg) {
    (void)arg;
    CHECK(sigint_is_default());
    return 3;
}

static void *run_in_thread(void *arg) {
    (void)arg;
    return (void *)(intptr_t)corio_run(thread_main, NULL);
}

static void test_other_thread(void) {
    pthread_t th;
    void *ret = NULL;
    CHECK_EQ(pthread_create(&th, NULL, run_in_thread, NULL), 0);
    CHECK_EQ(pthread_join(th, &ret), 0);
    CHECK_EQ((intptr_t)ret, 3);
}

/* A second SIGINT while the main task ignores the first ends the process
 * by the signal, as the default would (asyncio: KeyboardInterrupt at once). */
static int stubborn_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_call_later(NULL, 0.05, interrupt_self, NULL), 0);
    CHECK_EQ(corio_call_later(NULL, 0.1, interrupt_self, NULL), 0);
    for (int i = 0; i < 100; i++) corio_sleep(0.1); /* waits go on, cancelled or not */
    return 0;
}

static void test_second_interrupt_kills(void) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        corio_run(stubborn_main, NULL);
        _exit(0);
    }
    CHECK(pid > 0);
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st));
    if (WIFSIGNALED(st)) CHECK_EQ(WTERMSIG(st), SIGINT);
}

int main(void) {
    RUN_TEST(test_interrupt_call_soon);
    RUN_TEST(test_interrupt_wait);
    RUN_TEST(test_interrupt_cancelled_task);
    RUN_TEST(test_interrupt_caught);
    RUN_TEST(test_ignored_kept);
    RUN_TEST(test_other_thread);
    RUN_TEST(test_second_interrupt_kills);
    TEST_MAIN_END();
}
