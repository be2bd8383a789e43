/*
 * test_oom.c - out of memory in the loop, futures and tasks.
 *
 * In the style of libuv's test/test-loop-oom.c and Lua's ltests.c: the
 * library's allocator is told to fail after n allocations, for n = 0, 1, 2,
 * ... until the call succeeds.  Every failure must be reported as ENOMEM
 * (NULL + errno, or -ENOMEM), leave the loop usable and closable clean, and
 * leak nothing (run under ASan/LeakSanitizer or valgrind).
 */
#include "test.h"

/* From src/base/alloc.c: allow n more library allocations, then fail (-1: never). */
void corio__test_fail_alloc_after(long n);

#define MAX_STEPS 64 /* no call here needs more allocations than this */

static int t_ret(void *arg) { return (int)(intptr_t)arg; }
static void nop(void *arg) { (void)arg; }
static void stop_loop(void *arg) { corio_loop_stop(arg); }
static void fnop(corio_future *f, void *arg) {
    (void)f;
    (void)arg;
}

static corio_loop *new_loop(void) {
    corio_loop *l = corio_loop_new();
    if (!l) {
        fprintf(stderr, "corio_loop_new failed without injected failures\n");
        exit(1);
    }
    return l;
}

static void test_loop_new(void) {
    int n;
    for (n = 0; n < MAX_STEPS; n++) {
        corio__test_fail_alloc_after(n);
        errno = 0;
        corio_loop *l = corio_loop_new();
        int e = errno;
        corio__test_fail_alloc_after(-1);
        if (l) {
            CHECK_EQ(corio_loop_close(l), 0);
            break;
        }
        CHECK_EQ(e, ENOMEM);
    }
    CHECK(n > 0);        /* creating a loop allocates */
    CHECK(n < MAX_STEPS); /* and succeeds once allowed to */
}

/* corio_loop_spawn on a fresh loop (empty stack cache, no records), with
 * and without a long name that needs its own allocation. */
static void spawn_until_success(const corio_task_opts *opts) {
    int n;
    for (n = 0; n < MAX_STEPS; n++) {
        corio_loop *l = new_loop();
        corio__test_fail_alloc_after(n);
        errno = 0;
        corio_task *t = corio_loop_spawn(l, t_ret, (void *)7, opts);
        int e = errno;
        corio__test_fail_alloc_after(-1);
        if (t) {
            CHECK_EQ(corio_loop_run_until_complete(l, corio_task_future(t)), 0);
            CHECK_EQ(corio_task_result(t), 7);
            if (opts && opts->name) CHECK(strcmp(corio_task_name(t), opts->name) == 0);
            CHECK_EQ(corio_task_detach(t), 0);
            CHECK_EQ(corio_loop_close(l), 0);
            break;
        }
        CHECK_EQ(e, ENOMEM);
        CHECK_EQ(corio_loop_close(l), 0); /* a failed spawn leaves no task behind */
    }
    CHECK(n > 0);
    CHECK(n < MAX_STEPS);
}

static void test_spawn(void) {
    spawn_until_success(NULL);
    corio_task_opts o = {.name = "a task name longer than the inline buffer of a task"};
    spawn_until_success(&o);
    corio_task_opts big = {.stack_size = 3 * 1024 * 1024};
    spawn_until_success(&big);
}

/* Spawning from a running task, after the loop's caches are warm. */
static int m_spawn_warm(void *arg) {
    (void)arg;
    int failures = 0;
    for (int n = 0; n < MAX_STEPS; n++) {
        corio__test_fail_alloc_after(n);
        errno = 0;
        corio_task *t = corio_spawn(t_ret, (void *)(intptr_t)n);
        int e = errno;
        corio__test_fail_alloc_after(-1);
        if (t) {
            CHECK_EQ(corio_join(t), n);
            break;
        }
        CHECK_EQ(e, ENOMEM);
        failures++;
    }
    return failures;
}

static void test_spawn_from_task(void) { CHECK(test_run(m_spawn_warm, NULL, 0) >= 0); }

static void test_call_soon(void) {
    corio_loop *l = new_loop();
    int n, rc = 0;
    for (n = 0; n < MAX_STEPS; n++) {
        corio__test_fail_alloc_after(n);
        rc = corio_loop_call_soon(l, NULL, nop, NULL);
        corio__test_fail_alloc_after(-1);
        if (rc == 0) break;
        CHECK_EQ(rc, -ENOMEM);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 1); /* exactly one allocation: the handle */
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

/* call_later also grows the timer heap: both allocations can fail. */
static void test_call_later(void) {
    int n, rc = 0;
    for (n = 0; n < MAX_STEPS; n++) {
        corio_loop *l = new_loop();
        corio__test_fail_alloc_after(n);
        rc = corio_loop_call_later(l, NULL, 0.001, nop, NULL);
        corio__test_fail_alloc_after(-1);
        if (rc == 0) {
            CHECK_EQ(corio_loop_call_later(l, NULL, 0.002, stop_loop, l), 0);
            CHECK_EQ(corio_loop_run_forever(l), 0);
            CHECK_EQ(corio_loop_close(l), 0);
            break;
        }
        CHECK_EQ(rc, -ENOMEM);
        CHECK_EQ(corio_loop_close(l), 0); /* nothing left scheduled, nothing leaked */
    }
    CHECK_EQ(rc, 0);
    CHECK(n >= 1);

    /* A caller's handle whose timer cannot be armed stays unscheduled. */
    corio_loop *l = new_loop();
    corio_handle h = {0};
    corio__test_fail_alloc_after(0);
    CHECK_EQ(corio_loop_call_at(l, &h, 1, nop, NULL), -ENOMEM);
    corio__test_fail_alloc_after(-1);
    CHECK_EQ(corio_handle_cancel(&h), 0);
    CHECK_EQ(corio_loop_call_at(l, &h, 1, nop, NULL), 0);
    CHECK_EQ(corio_handle_cancel(&h), 1);
    CHECK_EQ(corio_loop_close(l), 0);
}

static void test_add_done_callback(void) {
    corio_loop *l = new_loop();
    corio_future f;
    CHECK_EQ(corio_future_init(&f, l), 0);
    int n, rc = 0;
    for (n = 0; n < MAX_STEPS; n++) {
        corio__test_fail_alloc_after(n);
        rc = corio_future_add_done_callback(&f, fnop, NULL);
        corio__test_fail_alloc_after(-1);
        if (rc == 0) break;
        CHECK_EQ(rc, -ENOMEM);
        CHECK_EQ(corio_future_destroy(&f), 0); /* nothing was registered */
        CHECK_EQ(corio_future_init(&f, l), 0);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(corio_future_set_result(&f, 1), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &f), 0);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_loop_close(l), 0);
}

/* Inside a task: a sleep whose timer cannot be armed, a rename. */
static int m_task_calls(void *arg) {
    (void)arg;
    corio__test_fail_alloc_after(0);
    int rc = corio_sleep(1);
    corio__test_fail_alloc_after(-1);
    CHECK_EQ(rc, -ENOMEM);
    CHECK_EQ(corio_sleep(1), 0);

    corio_task *me = corio_current_task();
    CHECK_EQ(corio_task_set_name(me, "short"), 0);
    corio__test_fail_alloc_after(0);
    rc = corio_task_set_name(me, "a name much longer than any inline buffer would hold");
    corio__test_fail_alloc_after(-1);
    CHECK_EQ(rc, -ENOMEM);
    CHECK(strcmp(corio_task_name(me), "short") == 0);
    return 0;
}
static void test_task_calls(void) { CHECK_EQ(test_run(m_task_calls, NULL, 1), 0); }

static int main_fn(void *arg) { return (int)(intptr_t)arg; }

static void test_corio_run(void) {
    int n, rc = 0;
    for (n = 0; n < MAX_STEPS; n++) {
        corio__test_fail_alloc_after(n);
        rc = corio_run(main_fn, (void *)5);
        corio__test_fail_alloc_after(-1);
        if (rc == 5) break;
        CHECK_EQ(rc, -ENOMEM);
    }
    CHECK_EQ(rc, 5);
}

int main(void) {
    RUN_TEST(test_loop_new);
    RUN_TEST(test_spawn);
    RUN_TEST(test_spawn_from_task);
    RUN_TEST(test_call_soon);
    RUN_TEST(test_call_later);
    RUN_TEST(test_add_done_callback);
    RUN_TEST(test_task_calls);
    RUN_TEST(test_corio_run);
    TEST_MAIN_END();
}
