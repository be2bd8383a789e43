/*
 * test_executor_double_shutdown.c - two corio_executor_shutdown(WAIT)
 * calls at once, from two threads: each may return only once every worker
 * thread has been joined, since its caller may free the executor next
 * (asyncio's ThreadPoolExecutor.shutdown(wait=True) joins every thread in
 * each call).
 *
 * The worker's exit is held back after it has left its loop: a
 * thread-specific value's destructor, which runs as the thread exits,
 * waits on a gate.  A shutdown that returns while the gate is closed
 * returned before its join could be done.  The gate opens when a shutdown
 * returns or after 0.3 s: that bound only limits how long a wrong early
 * return is waited for, and the correct outcome (no return before the
 * gate opens) does not depend on it.
 */
#include "test.h"

#include <pthread.h>
#include <semaphore.h>
#include <time.h>

static pthread_key_t key;
static sem_t exiting, gate, returned;
static volatile int exited;

static void at_thread_exit(void *value) {
    (void)value;
    sem_post(&exiting);
    sem_wait(&gate);
    __atomic_store_n(&exited, 1, __ATOMIC_RELEASE);
}

static intptr_t mark_thread(void *arg) {
    (void)arg;
    pthread_setspecific(key, (void *)1);
    return 3;
}

typedef struct caller {
    corio_executor *ex;
    int rc;
    int saw_exited; /* what the caller found when its shutdown returned */
} caller;

static void *shut(void *arg) {
    caller *c = arg;
    c->rc = corio_executor_shutdown(c->ex, CORIO_EXECUTOR_WAIT);
    c->saw_exited = __atomic_load_n(&exited, __ATOMIC_ACQUIRE);
    sem_post(&returned);
    return NULL;
}

static int use_executor(void *arg) {
    intptr_t v = 0;
    CHECK_EQ(corio_run_in_executor(arg, mark_thread, NULL, &v), 0);
    CHECK_EQ(v, 3);
    return 0;
}

static void test_two_waiting_shutdowns(void) {
    CHECK_EQ(pthread_key_create(&key, at_thread_exit), 0);
    sem_init(&exiting, 0, 0);
    sem_init(&gate, 0, 0);
    sem_init(&returned, 0, 0);
    exited = 0;
    corio_executor *ex = corio_executor_new(1);
    CHECK(ex != NULL);
    CHECK_EQ(test_run(use_executor, ex, 0), 0); /* one worker, idle now */

    caller a = {.ex = ex, .rc = 1}, b = {.ex = ex, .rc = 1};
    pthread_t ta, tb;
    CHECK_EQ(pthread_create(&ta, NULL, shut, &a), 0);
    CHECK_EQ(pthread_create(&tb, NULL, shut, &b), 0);
    sem_wait(&exiting); /* the worker left its loop; its exit waits on the gate */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 300 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    int early = 0;
    while (sem_timedwait(&returned, &until) == 0) early++;
    CHECK_EQ(early, 0);
    sem_post(&gate);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ(a.rc, 0);
    CHECK_EQ(b.rc, 0);
    CHECK_EQ(a.saw_exited, 1);
    CHECK_EQ(b.saw_exited, 1);
    /* Either caller may free it now; a third shutdown returns at once. */
    CHECK_EQ(corio_executor_shutdown(ex, CORIO_EXECUTOR_WAIT), 0);
    CHECK_EQ(corio_executor_free(ex), 0);
    sem_destroy(&exiting);
    sem_destroy(&gate);
    sem_destroy(&returned);
    pthread_key_delete(key);
}

int main(void) {
    RUN_TEST(test_two_waiting_shutdowns);
    TEST_MAIN_END();
}
