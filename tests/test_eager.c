/*
 * test_eager.c - eager tasks (corio_loop_set_eager_tasks, corio_task_opts.eager)
 * against asyncio 3.12+'s eager_task_factory: ports of CPython 3.13's
 * test_eager_task_factory.py, plus the order of a spawner's and its eager
 * children's steps (traced under asyncio 3.13), eager spawns from a
 * callback and nested ones, and a spawn before the loop runs.
 */
#include "test.h"

static char trace[512];
static void T(const char *s) {
    size_t len = strlen(trace);
    snprintf(trace + len, sizeof trace - len, "%s%s", len ? " " : "", s);
}

static int run_eager(int (*fn)(void *), void *arg) {
    corio_loop *loop = corio_loop_new();
    CHECK_EQ(corio_loop_set_eager_tasks(loop, 1), 0);
    CHECK_EQ(corio_loop_eager_tasks(loop), 1);
    corio_task *t = corio_loop_spawn(loop, fn, arg, NULL); /* before the loop runs: queued as usual */
    CHECK_EQ(corio_task_done(t), 0);
    corio_loop_run_until_complete(loop, corio_task_future(t));
    int rc = corio_task_result(t);
    corio_task_detach(t);
    CHECK_EQ(corio_loop_close(loop), 0);
    return rc;
}

/* test_await_future_during_eager_step */
static corio_future fut;
static int set_result(void *arg) {
    (void)arg;
    return corio_future_set_result(&fut, 42);
}

static int m_await_future(void *arg) {
    (void)arg;
    CHECK_EQ(corio_future_init(&fut, NULL), 0);
    corio_task *t = corio_spawn(set_result, NULL);
    CHECK_EQ(corio_task_done(t), 1); /* the eager step completed it */
    intptr_t v = 0;
    CHECK_EQ(corio_await(&fut, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(corio_join(t), 0);
    corio_future_destroy(&fut);
    return 0;
}

/* test_eager_completion, test_cancellation_after_eager_completion */
static int hello(void *arg) {
    (void)arg;
    return 7;
}

static int m_eager_completion(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(hello, NULL);
    CHECK_EQ(corio_task_done(t), 1);
    CHECK_EQ(corio_cancel(t), 0); /* a finished task cannot be cancelled */
    CHECK_EQ(corio_join(t), 7);
    CHECK_EQ(corio_task_cancelled(t), 0);
    return 0;
}

/* test_block_after_eager_step, test_current_task */
static corio_task *captured;
static int blocker(void *arg) {
    (void)arg;
    captured = corio_current_task();
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK(corio_current_task() == captured);
    return 9;
}

static int m_block_after(void *arg) {
    (void)arg;
    captured = NULL;
    corio_task *t = corio_spawn(blocker, NULL);
    CHECK(captured == t);
    CHECK(corio_current_task() != t);
    CHECK_EQ(corio_task_done(t), 0);
    CHECK_EQ(corio_join(t), 9);
    return 0;
}

/* test_cancellation_after_eager_step_blocks */
static int sleeper(void *arg) {
    (void)arg;
    int rc = corio_sleep(0.1);
    return rc < 0 ? rc : 9;
}

static int m_cancel_after_block(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(sleeper, NULL);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK(corio_task_cancelling(t) > 0);
    CHECK_EQ(corio_join(t), -ECANCELED);
    return 0;
}

/* test_all_tasks_with_eager_completion / _with_blocking */
static size_t seen_inside;
static int counter(void *arg) {
    (void)arg;
    corio_task *all[16];
    seen_inside = corio_all_tasks(all, 16);
    return 0;
}

static int m_all_tasks(void *arg) {
    (void)arg;
    corio_task *all[16];
    size_t before = corio_all_tasks(all, 16);
    corio_task *t = corio_spawn(counter, NULL);
    CHECK_EQ(seen_inside, before + 1); /* itself, while its step runs */
    CHECK_EQ(corio_all_tasks(all, 16), before); /* done: not listed any more */
    CHECK_EQ(corio_join(t), 0);
    return 0;
}

/* The order: a spawner, two eager children (one finishes, one blocks on an
 * event the spawner sets), a lazy one.  asyncio 3.13, eager_task_factory:
 *     async def child(name, ev):
 *         T(name + "0")
 *         if ev: await ev.wait()
 *         T(name + "1")
 *     async def main():
 *         ev = asyncio.Event()
 *         T("m0"); a = create_task(child("a", None)); T("m1")
 *         b = create_task(child("b", ev)); T("m2")
 *         ev.set(); T("m3"); await asyncio.sleep(0); T("m4")
 *         await a; await b; T("m5")
 * prints: m0 a0 a1 m1 b0 m2 m3 b1 m4 m5 */
static corio_event ev;
typedef struct child_arg {
    const char *name;
    int wait;
} child_arg;

static int child(void *arg) {
    child_arg *c = arg;
    char s[8];
    snprintf(s, sizeof s, "%s0", c->name);
    T(s);
    if (c->wait) CHECK_EQ(corio_event_wait(&ev), 0);
    snprintf(s, sizeof s, "%s1", c->name);
    T(s);
    return 0;
}

static int m_order(void *arg) {
    (void)arg;
    trace[0] = 0;
    CHECK_EQ(corio_event_init(&ev), 0);
    child_arg ca = {"a", 0}, cb = {"b", 1};
    T("m0");
    corio_task *a = corio_spawn(child, &ca);
    T("m1");
    corio_task *b = corio_spawn(child, &cb);
    T("m2");
    CHECK_EQ(corio_event_set(&ev), 0);
    T("m3");
    CHECK_EQ(corio_yield(), 0);
    T("m4");
    CHECK_EQ(corio_join(a), 0);
    CHECK_EQ(corio_join(b), 0);
    T("m5");
    CHECK_EQ(corio_event_destroy(&ev), 0);
    if (strcmp(trace, "m0 a0 a1 m1 b0 m2 m3 b1 m4 m5")) fprintf(stderr, "trace: %s\n", trace);
    CHECK(strcmp(trace, "m0 a0 a1 m1 b0 m2 m3 b1 m4 m5") == 0);
    return 0;
}

/* test_recursive_gather (width 3, depth 3): nested eager spawns, each
 * gathering its children; counts the tasks that ever had to be queued
 * for their first step (none: asyncio's expected_task_count 0). */
static int nodes;
static int rec(void *arg) {
    intptr_t depth = (intptr_t)arg;
    nodes++;
    if (depth == 0) return 0;
    corio_task *ts[3];
    for (int i = 0; i < 3; i++) ts[i] = corio_spawn(rec, (void *)(depth - 1));
    int rc = corio_gather_tasks(ts, 3, 0);
    for (int i = 0; i < 3; i++) corio_join(ts[i]);
    return rc;
}

static int m_recursive(void *arg) {
    (void)arg;
    nodes = 0;
    CHECK_EQ(rec((void *)(intptr_t)3), 0);
    CHECK_EQ(nodes, 1 + 3 + 9 + 27);
    return 0;
}

/* From a callback (the scheduler's stack): the step runs inside the call. */
static corio_task *from_cb;
static void spawn_cb(void *arg) {
    (void)arg;
    from_cb = corio_spawn(blocker, NULL);
    CHECK(from_cb != NULL && captured == from_cb);
    CHECK(corio_current_task() == NULL);
}

static int m_from_callback(void *arg) {
    (void)arg;
    captured = NULL;
    CHECK_EQ(corio_call_soon(NULL, spawn_cb, NULL), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK(from_cb != NULL);
    CHECK_EQ(corio_join(from_cb), 9);
    return 0;
}

/* A task group: a child that finishes in its eager step is counted at
 * once (asyncio's create_task calls _on_task_done right away); one that
 * fails there aborts the group before the next spawn, which is refused. */
static int fails(void *arg) {
    (void)arg;
    return -EIO;
}

static int m_taskgroup(void *arg) {
    (void)arg;
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK(corio_taskgroup_spawn(&g, hello, NULL, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);

    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    corio_task *f = corio_taskgroup_spawn(&g, fails, NULL, NULL);
    CHECK(f != NULL && corio_task_done(f));
    errno = 0;
    CHECK(corio_taskgroup_spawn(&g, hello, NULL, NULL) == NULL);
    CHECK_EQ(errno, ESHUTDOWN);
    /* The body's own wait is cancelled by the group's abort. */
    CHECK_EQ(corio_taskgroup_exit(&g, corio_yield()), -EIO);
    CHECK_EQ(corio_taskgroup_nerrors(&g), 1);
    return 0;
}

/* Off by default; corio_task_opts.eager asks it of one spawn. */
static int m_per_spawn(void *arg) {
    (void)arg;
    CHECK_EQ(corio_loop_eager_tasks(corio_loop_current()), 0);
    corio_task *lazy = corio_spawn(hello, NULL);
    CHECK_EQ(corio_task_done(lazy), 0);
    corio_task_opts o = {.eager = 1};
    corio_task *eager = corio_spawn_opts(hello, NULL, &o);
    CHECK_EQ(corio_task_done(eager), 1);
    CHECK_EQ(corio_join(lazy), 7);
    CHECK_EQ(corio_join(eager), 7);
    return 0;
}

#define CASE(name, fn) \
    static void name(void) { CHECK_EQ(run_eager(fn, NULL), 0); }
CASE(test_await_future_during_eager_step, m_await_future)
CASE(test_eager_completion, m_eager_completion)
CASE(test_block_after_eager_step, m_block_after)
CASE(test_cancellation_after_eager_step_blocks, m_cancel_after_block)
CASE(test_all_tasks, m_all_tasks)
CASE(test_order, m_order)
CASE(test_recursive_gather, m_recursive)
CASE(test_from_callback, m_from_callback)
CASE(test_taskgroup, m_taskgroup)

static void test_per_spawn(void) { CHECK_EQ(test_run(m_per_spawn, NULL, 0), 0); }

int main(void) {
    RUN_TEST(test_await_future_during_eager_step);
    RUN_TEST(test_eager_completion);
    RUN_TEST(test_block_after_eager_step);
    RUN_TEST(test_cancellation_after_eager_step_blocks);
    RUN_TEST(test_all_tasks);
    RUN_TEST(test_order);
    RUN_TEST(test_recursive_gather);
    RUN_TEST(test_from_callback);
    RUN_TEST(test_taskgroup);
    RUN_TEST(test_per_spawn);
    TEST_MAIN_END();
}
