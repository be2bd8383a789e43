/*
 * test_loop_stack.c - corio_call_on_loop_stack: fn's result comes back,
 * fn runs on another stack than the task's (not under the sanitizers or
 * ucontext, where it runs in place), a call nested inside fn runs in place
 * and leaves the outer call's frames alone, deep frames there (a 64 KiB
 * array, more than the smallest task stack) do not touch the task's stack,
 * and the calls from a callback, from an eager step and from many tasks
 * in turn all work.
 */
#include "test.h"

#include <stdint.h>
#include <string.h>

static uintptr_t here(void) { return (uintptr_t)__builtin_frame_address(0); }

typedef struct probe {
    uintptr_t sp;   /* fn's frame address */
    int depth;      /* nest this many calls */
    uintptr_t inner_sp;
    char mark[64];  /* the outer call's local state, checked after the nested one */
} probe;

static intptr_t probe_fn(void *arg) {
    probe *p = arg;
    char local[64];
    memset(local, 0x5a, sizeof local);
    p->sp = here();
    if (p->depth > 0) {
        probe inner = {.depth = p->depth - 1};
        intptr_t r = corio_call_on_loop_stack(probe_fn, &inner);
        CHECK_EQ(r, 1000 + p->depth - 1);
        p->inner_sp = inner.sp;
    }
    for (size_t i = 0; i < sizeof local; i++) CHECK_EQ(local[i], 0x5a); /* nothing ran over our frame */
    return 1000 + p->depth;
}

static int on_loop_stack_supported(void) {
#if defined(CORIO_TEST_UCONTEXT) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 0;
#else
    return 1;
#endif
#else
    return 1;
#endif
}

static int far(uintptr_t a, uintptr_t b) { return (a > b ? a - b : b - a) > 1024 * 1024; }

static int m_basic(void *arg) {
    (void)arg;
    probe p = {.depth = 0};
    CHECK_EQ(corio_call_on_loop_stack(probe_fn, &p), 1000);
    /* Task stacks are mappings of their own: the loop's stack is elsewhere. */
    if (on_loop_stack_supported()) CHECK(far(p.sp, here()));
    /* Nested: the inner call runs where the outer one is, below it. */
    probe q = {.depth = 2};
    CHECK_EQ(corio_call_on_loop_stack(probe_fn, &q), 1002);
    CHECK(q.inner_sp < q.sp);
    CHECK(!far(q.inner_sp, q.sp));
    return 0;
}

/* A 64 KiB frame: more than a 16 KiB task's whole stack. */
static intptr_t big_frame(void *arg) {
    volatile char buf[64 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 512) buf[i] = (char)i;
    intptr_t sum = 0;
    for (size_t i = 0; i < sizeof buf; i += 512) sum += buf[i];
    return sum + (intptr_t)(uintptr_t)arg;
}

static int m_small_stack_child(void *arg) {
    (void)arg;
    intptr_t want = 0;
    for (size_t i = 0; i < 64 * 1024; i += 512) want += (char)i;
    CHECK_EQ(corio_call_on_loop_stack(big_frame, (void *)7), want + 7);
    return 0;
}

static int m_small_stack(void *arg) {
    (void)arg;
    if (!on_loop_stack_supported()) return 0; /* in place there: 64 KiB would overflow the 16 KiB stack */
    corio_task_opts o = {.stack_size = 16 * 1024};
    corio_task *t = corio_spawn_opts(m_small_stack_child, NULL, &o);
    CHECK(t != NULL);
    CHECK_EQ(corio_join(t), 0);
    return 0;
}

/* Many tasks taking turns: each call's frames are where the last one's were. */
static uintptr_t seen_sp[8];
static intptr_t record_sp(void *arg) {
    seen_sp[(intptr_t)arg] = here();
    return 0;
}
static int turn_child(void *arg) {
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(corio_call_on_loop_stack(record_sp, arg), 0);
        CHECK_EQ(corio_yield(), 0);
    }
    return 0;
}
static int m_turns(void *arg) {
    (void)arg;
    corio_task *t[8];
    for (intptr_t i = 0; i < 8; i++) t[i] = corio_spawn(turn_child, (void *)i);
    for (int i = 0; i < 8; i++) CHECK_EQ(corio_join(t[i]), 0);
    if (on_loop_stack_supported())
        for (int i = 1; i < 8; i++) CHECK_EQ(seen_sp[i], seen_sp[0]);
    return 0;
}

/* From a callback (no task): in place. */
static uintptr_t cb_sp, cb_frame;
static intptr_t cb_fn(void *arg) {
    (void)arg;
    cb_sp = here();
    return 5;
}
static void callback(void *arg) {
    cb_frame = here();
    CHECK_EQ(corio_call_on_loop_stack(cb_fn, arg), 5);
    corio_future_set_result((corio_future *)arg, 1);
}
static int m_callback(void *arg) {
    (void)arg;
    corio_future f;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    corio_handle h;
    CHECK_EQ(corio_call_soon(&h, callback, &f), 0);
    intptr_t v = 0;
    CHECK_EQ(corio_await(&f, &v), 0);
    CHECK_EQ(v, 1);
    CHECK(cb_sp < cb_frame && !far(cb_sp, cb_frame));
    return 0;
}

/* From an eager step (its spawner stands in for the scheduler). */
static int eager_child(void *arg) {
    probe p = {.depth = 1};
    CHECK_EQ(corio_call_on_loop_stack(probe_fn, &p), 1001);
    *(int *)arg = 1;
    CHECK_EQ(corio_yield(), 0);
    probe q = {.depth = 0};
    CHECK_EQ(corio_call_on_loop_stack(probe_fn, &q), 1000);
    return 0;
}
static int m_eager(void *arg) {
    (void)arg;
    int ran = 0;
    corio_task_opts o = {.eager = 1};
    corio_task *t = corio_spawn_opts(eager_child, &ran, &o);
    CHECK_EQ(ran, 1); /* its first step ran before the spawn returned */
    CHECK_EQ(corio_join(t), 0);
    return 0;
}

static void test_basic(void) { CHECK_EQ(test_run(m_basic, NULL, 0), 0); }
static void test_small_stack(void) { CHECK_EQ(test_run(m_small_stack, NULL, 0), 0); }
static void test_turns(void) { CHECK_EQ(test_run(m_turns, NULL, 0), 0); }
static void test_callback(void) { CHECK_EQ(test_run(m_callback, NULL, 0), 0); }
static void test_eager(void) { CHECK_EQ(test_run(m_eager, NULL, 0), 0); }

static void test_outside_loop(void) {
    probe p = {.depth = 1};
    CHECK_EQ(corio_call_on_loop_stack(probe_fn, &p), 1001); /* no loop: in place */
}

int main(void) {
    RUN_TEST(test_basic);
    RUN_TEST(test_small_stack);
    RUN_TEST(test_turns);
    RUN_TEST(test_callback);
    RUN_TEST(test_eager);
    RUN_TEST(test_outside_loop);
    TEST_MAIN_END();
}
