/*
 * test_vclock_threads.c - a virtual clock and work in other threads.
 *
 * The virtual clock jumps to the next timer when nothing is ready; while a
 * thread works for the loop (an executor job, or a hold the program took
 * for a post it expects) it must not: a timeout around the thread's work
 * would expire at once.  The clock then runs in real time.  The jobs below
 * take 20 ms of real time so that a jump, if the loop made one, would
 * certainly come first; the timeouts are 1000 s, which no job takes, so
 * the outcome checked does not depend on how long the jobs really take.
 */
#include "test.h"

#include <corio/procpool.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static intptr_t slow_job(void *arg) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return (intptr_t)arg;
}

/* corio_to_thread as a task, so that wait_for and timeouts can take it. */
static int to_thread_task(void *arg) {
    intptr_t v = 0;
    int rc = corio_to_thread(slow_job, arg, &v);
    return rc < 0 ? rc : (int)v;
}

/* asyncio.wait_for(asyncio.to_thread(job), 1): the job's value, no timeout,
 * and no virtual time spent. */
static int wait_for_main(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(to_thread_task, (void *)(intptr_t)42);
    intptr_t v = 0;
    CHECK_EQ(corio_wait_for(corio_task_future(t), 1000.0, &v), 0);
    CHECK_EQ(v, 42);
    CHECK(corio_time() < 1000.0);
    corio_task_detach(t);
    return 0;
}
static void test_wait_for_to_thread(void) { CHECK_EQ(test_run(wait_for_main, NULL, 1), 0); }

/* async with timeout(1000): await to_thread(job), and run_in_executor on
 * an executor of our own; a task sleeping 2000 s meanwhile wakes after the
 * jobs, once the clock jumps again. */
static int order;
static int sleeper(void *arg) {
    (void)arg;
    CHECK_EQ(corio_sleep(2000), 0);
    CHECK_EQ(order, 2);
    order = 3;
    return 0;
}
static int timeout_main(void *arg) {
    (void)arg;
    corio_task *s = corio_spawn(sleeper, NULL);
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 1000), 0);
    intptr_t v = 0;
    int rc = corio_to_thread(slow_job, (void *)(intptr_t)7, &v);
    CHECK_EQ(corio_timeout_exit(&to, rc), 0);
    CHECK_EQ(v, 7);
    order = 1;
    corio_executor *ex = corio_executor_new(1);
    CHECK_EQ(corio_timeout_enter(&to, 1000), 0);
    rc = corio_run_in_executor(ex, slow_job, (void *)(intptr_t)8, &v);
    CHECK_EQ(corio_timeout_exit(&to, rc), 0);
    CHECK_EQ(v, 8);
    order = 2;
    CHECK(corio_time() < 1000.0);
    CHECK_EQ(corio_join(s), 0);
    CHECK_EQ(order, 3);
    CHECK(corio_time() >= 2000.0);
    CHECK_EQ(corio_executor_free(ex), 0);
    return 0;
}
static void test_timeout_around_jobs(void) { CHECK_EQ(test_run(timeout_main, NULL, 1), 0); }

/* While a job runs the clock runs in real time, so timers due meanwhile
 * fire as they would on a real clock (the to_thread example's ticker): a
 * job that waits until a ticker task has ticked three times, 1 ms apart,
 * returns. */
static volatile int ticks;
static intptr_t wait_ticks(void *arg) {
    (void)arg;
    while (__atomic_load_n(&ticks, __ATOMIC_ACQUIRE) < 3) sched_yield();
    return 1;
}
static int ticker(void *arg) {
    (void)arg;
    for (int i = 0; i < 3; i++) {
        if (corio_sleep(0.001) < 0) return -1;
        __atomic_store_n(&ticks, i + 1, __ATOMIC_RELEASE);
    }
    return 0;
}
static int ticking_main(void *arg) {
    (void)arg;
    ticks = 0;
    corio_task *t = corio_spawn(ticker, NULL);
    intptr_t v = 0;
    CHECK_EQ(corio_to_thread(wait_ticks, NULL, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(corio_join(t), 0);
    return 0;
}
static void test_timers_fire_meanwhile(void) { CHECK_EQ(test_run(ticking_main, NULL, 1), 0); }

/* A task cancelled while its job runs returns at once; the clock waits
 * until the abandoned job's result is back, then jumps as before. */
static int cancel_main(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(to_thread_task, (void *)(intptr_t)5);
    CHECK_EQ(corio_yield(), 0); /* the job is submitted */
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_sleep(10), 0); /* the clock jumps again once the job is back */
    CHECK(corio_time() >= 10.0);
    return 0;
}
static void test_cancelled_job(void) { CHECK_EQ(test_run(cancel_main, NULL, 1), 0); }

/* corio_loop_hold_clock: a thread of the program's own posts back. */
typedef struct posted {
    corio_loop *loop;
    corio_future fut;
} posted;
static void on_post(void *arg) {
    posted *p = arg;
    corio_future_set_result(&p->fut, 99);
    CHECK_EQ(corio_loop_hold_clock(p->loop, 0), 0);
}
static void *poster(void *arg) {
    posted *p = arg;
    slow_job(NULL);
    corio_loop_call_soon_threadsafe(p->loop, on_post, p);
    return NULL;
}
static int hold_main(void *arg) {
    (void)arg;
    posted p;
    p.loop = corio_loop_current();
    corio_future_init(&p.fut, NULL);
    CHECK_EQ(corio_loop_hold_clock(p.loop, 1), 1);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, poster, &p), 0);
    intptr_t v = 0;
    CHECK_EQ(corio_wait_for(&p.fut, 1000.0, &v), 0);
    CHECK_EQ(v, 99);
    CHECK(corio_time() < 1000.0);
    pthread_join(th, NULL);
    CHECK_EQ(corio_loop_hold_clock(p.loop, 0), -EINVAL); /* no hold left */
    CHECK_EQ(corio_loop_hold_clock(NULL, 1), -EINVAL);
    return 0;
}
static void test_hold_clock(void) { CHECK_EQ(test_run(hold_main, NULL, 1), 0); }

/* A process pool's job: the same as a thread's (wait_for(1000) around
 * a 20 ms job in a worker process gives its result, in real time). */
static int proc_job(const void *in, size_t in_len, void **out, size_t *out_len) {
    slow_job(NULL);
    if (!(*out = malloc(in_len))) return -ENOMEM;
    memcpy(*out, in, in_len);
    *out_len = in_len;
    return 0;
}
typedef struct proc_call {
    corio_procpool *pool;
    void *out;
    size_t out_len;
} proc_call;
static int proc_task(void *arg) {
    proc_call *c = arg;
    return corio_procpool_run(c->pool, proc_job, "abc", 3, &c->out, &c->out_len);
}
static int procpool_main(void *arg) {
    (void)arg;
    proc_call c = {.pool = corio_procpool_new(1)};
    CHECK(c.pool != NULL);
    corio_task *t = corio_spawn(proc_task, &c);
    CHECK_EQ(corio_wait_for(corio_task_future(t), 1000.0, NULL), 0);
    CHECK(corio_time() < 1000.0);
    CHECK_EQ(c.out_len, 3);
    CHECK(c.out && memcmp(c.out, "abc", 3) == 0);
    free(c.out);
    corio_task_detach(t);
    CHECK_EQ(corio_procpool_free(c.pool), 0);
    CHECK_EQ(corio_sleep(3600), 0); /* and jumps again after */
    CHECK(corio_time() >= 3600.0);
    return 0;
}
static void test_procpool_job(void) { CHECK_EQ(test_run(procpool_main, NULL, 1), 0); }

/* Without a hold the clock still jumps past a sleep at once (no thread). */
static int jump_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_sleep(3600), 0);
    CHECK(corio_time() >= 3600.0);
    return 0;
}
static void test_still_jumps(void) { CHECK_EQ(test_run(jump_main, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_wait_for_to_thread);
    RUN_TEST(test_timeout_around_jobs);
    RUN_TEST(test_timers_fire_meanwhile);
    RUN_TEST(test_cancelled_job);
    RUN_TEST(test_hold_clock);
    RUN_TEST(test_procpool_job);
    RUN_TEST(test_still_jumps);
    TEST_MAIN_END();
}
