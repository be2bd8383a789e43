/*
 * test_tasks_cpython.c - task cases found in review: CPython test_tasks.py
 * cases not ported elsewhere, an infinite sleep, and out-of-memory in
 * corio_taskgroup_spawn and corio_queue_put.  Expected outcomes are those
 * of asyncio 3.13.
 */
#include "test.h"
#include "core/core.h" /* loop->nheap: an infinite sleep arms no timer */

/* From src/base/alloc.c: allow n more library allocations, then fail (-1: never). */
void corio__test_fail_alloc_after(long n);

static int await_then_42(void *arg) {
    int rc = corio_await(arg, NULL);
    return rc < 0 ? rc : 42;
}

/* test_uncancel_resets_must_cancel: the task is ready (its future is done)
 * when it is cancelled; uncancel withdraws the cancellation before it is
 * delivered, and the task returns 42. */
static int m_uncancel_resets_must_cancel(void *arg) {
    (void)arg;
    corio_future fut;
    corio_future_init(&fut, NULL);
    corio_task *t = corio_spawn(await_then_42, &fut);
    CHECK_EQ(corio_yield(), 0);       /* t waits for fut */
    CHECK_EQ(corio_future_set_result(&fut, 0), 0); /* t is ready */
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_task_cancelling(t), 1);
    CHECK_EQ(corio_task_uncancel(t), 0);
    CHECK_EQ(corio_task_cancelling(t), 0);
    CHECK_EQ(corio_join(t), 42);
    CHECK_EQ(corio_future_destroy(&fut), 0);
    return 0;
}
static void test_uncancel_resets_must_cancel(void) { CHECK_EQ(test_run(m_uncancel_resets_must_cancel, NULL, 1), 0); }

/* The same without uncancel: the result of fut is lost and the task is
 * cancelled (asyncio: CancelledError at `await fut`). */
static int m_cancel_ready_task(void *arg) {
    (void)arg;
    corio_future fut;
    corio_future_init(&fut, NULL);
    corio_task *t = corio_spawn(await_then_42, &fut);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_future_set_result(&fut, 0), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_cancel(t), 1); /* twice: still delivered once */
    CHECK_EQ(corio_task_cancelling(t), 2);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_future_destroy(&fut), 0);
    return 0;
}
static void test_cancel_ready_task(void) { CHECK_EQ(test_run(m_cancel_ready_task, NULL, 1), 0); }

/* test_cancel_awaited_task (bpo-34872): a task that cancels itself, then
 * waits for a subtask, cancels the subtask and the future it waits on. */
typedef struct awaited {
    corio_future fut;
    corio_task *nested;
} awaited;

static int nested_fn(void *arg) { return corio_await(arg, NULL); }
static int self_cancel_then_join(void *arg) {
    awaited *a = arg;
    a->nested = corio_spawn(nested_fn, &a->fut);
    corio_task_ref(a->nested);
    int rc = corio_sleep(0);
    if (rc < 0) return rc;
    corio_cancel(corio_current_task());
    return corio_join(a->nested);
}
static int m_cancel_awaited_task(void *arg) {
    (void)arg;
    awaited a;
    corio_future_init(&a.fut, NULL);
    corio_task *t = corio_spawn(self_cancel_then_join, &a);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_task_cancelled(t), 1);
    CHECK_EQ(corio_task_cancelled(a.nested), 1);
    CHECK_EQ(corio_future_cancelled(&a.fut), 1);
    corio_task_detach(t);
    corio_task_detach(a.nested);
    CHECK_EQ(corio_future_destroy(&a.fut), 0);
    return 0;
}
static void test_cancel_awaited_task(void) { CHECK_EQ(test_run(m_cancel_awaited_task, NULL, 1), 0); }

/* corio_sleep(INFINITY) never ends by itself: no timer is armed, so the
 * virtual clock has no deadline to jump to (it used to arm one at the end
 * of time, which the virtual clock reached at once when nothing else was
 * pending, and the sleep returned 0). */
static int sleep_forever(void *arg) {
    (void)arg;
    return corio_sleep(INFINITY);
}
static int m_sleep_infinity(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(sleep_forever, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_loop_current()->nheap, 0);
    CHECK_EQ(corio_sleep(5), 0);
    CHECK(corio_time() == 5);
    CHECK_EQ(corio_task_done(t), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(corio_time() == 5);
    return 0;
}
static void test_sleep_infinity(void) { CHECK_EQ(test_run(m_sleep_infinity, NULL, 1), 0); }

/* ---- out of memory ---------------------------------------------------------------- */

static int ret_arg(void *arg) { return (int)(intptr_t)arg; }

#define NCHILD 12
#define MAX_STEPS 64

/* Spawning into a group fails cleanly: NULL + ENOMEM, nothing added to the
 * group, which still exits normally with the children that did start. */
static int m_taskgroup_spawn_oom(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    int started = 0, failures = 0;
    for (int k = 0; k < NCHILD; k++) {
        int n;
        for (n = 0; n < MAX_STEPS; n++) {
            corio_task_opts o = {.name = k % 2 ? "a child with a name too long to be stored inline" : NULL};
            corio__test_fail_alloc_after(n);
            errno = 0;
            corio_task *t = corio_taskgroup_spawn(&g, ret_arg, (void *)(intptr_t)k, &o);
            int e = errno;
            corio__test_fail_alloc_after(-1);
            if (t) {
                started++;
                break;
            }
            CHECK_EQ(e, ENOMEM);
            CHECK_EQ(g.nchildren, (size_t)started);
            failures++;
        }
        CHECK(n < MAX_STEPS);
    }
    CHECK(failures > 0);
    CHECK_EQ(started, NCHILD);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 0);
    return 0;
}
static void test_taskgroup_spawn_oom(void) { CHECK_EQ(test_run(m_taskgroup_spawn_oom, NULL, 1), 0); }

static int getter(void *arg) {
    void *item = NULL;
    int rc = corio_queue_get(arg, &item);
    return rc < 0 ? rc : (int)(intptr_t)item;
}

/* A put that cannot grow the storage: -ENOMEM, the item is not taken, the
 * counts are unchanged and a waiting getter is not woken for nothing. */
static int m_queue_put_oom(void *arg) {
    (void)arg;
    corio_queue q;
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL), 0);
    corio_task *g = corio_spawn(getter, &q);
    CHECK_EQ(corio_yield(), 0); /* g waits */
    corio__test_fail_alloc_after(0);
    CHECK_EQ(corio_queue_put(&q, (void *)1), -ENOMEM);
    CHECK_EQ(corio_queue_put_nowait(&q, (void *)1), -ENOMEM);
    corio__test_fail_alloc_after(-1);
    CHECK_EQ(corio_queue_size(&q), 0);
    CHECK_EQ(corio_queue_join(&q), 0); /* nothing unfinished */
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_task_done(g), 0);
    CHECK_EQ(corio_queue_put(&q, (void *)7), 0);
    CHECK_EQ(corio_join(g), 7);
    CHECK_EQ(corio_queue_task_done(&q), 0);

    /* Growing past the first allocation, in every kind of queue. */
    for (int kind = CORIO_QUEUE_FIFO; kind <= CORIO_QUEUE_LIFO; kind++) {
        corio_queue r;
        CHECK_EQ(corio_queue_init(&r, kind, 0, NULL), 0);
        int i = 0, fails = 0;
        while (i < 100) {
            corio__test_fail_alloc_after(0);
            int rc = corio_queue_put(&r, (void *)(intptr_t)i);
            corio__test_fail_alloc_after(-1);
            if (rc == -ENOMEM) {
                fails++;
                CHECK_EQ(corio_queue_size(&r), (size_t)i);
                CHECK_EQ(corio_queue_put(&r, (void *)(intptr_t)i), 0);
            } else {
                CHECK_EQ(rc, 0);
            }
            i++;
        }
        CHECK(fails >= 4); /* 0 -> 8 -> 16 -> 32 -> 64 -> 128 */
        for (int k = 0; k < 100; k++) {
            void *item;
            CHECK_EQ(corio_queue_get_nowait(&r, &item), 0);
            CHECK_EQ((intptr_t)item, kind == CORIO_QUEUE_FIFO ? k : 99 - k);
            CHECK_EQ(corio_queue_task_done(&r), 0);
        }
        CHECK_EQ(corio_queue_destroy(&r), 0);
    }
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}
static void test_queue_put_oom(void) { CHECK_EQ(test_run(m_queue_put_oom, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_uncancel_resets_must_cancel);
    RUN_TEST(test_cancel_ready_task);
    RUN_TEST(test_cancel_awaited_task);
    RUN_TEST(test_sleep_infinity);
    RUN_TEST(test_taskgroup_spawn_oom);
    RUN_TEST(test_queue_put_oom);
    TEST_MAIN_END();
}
