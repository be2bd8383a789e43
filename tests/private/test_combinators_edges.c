/*
 * test_combinators_edges.c - wait / as_completed corner cases found in
 * review, each checked against asyncio 3.13 (the expected values are what
 * the equivalent Python program printed, on a virtual-time loop here):
 *
 *  - asyncio.wait and as_completed work on set(fs): a future passed twice
 *    counts once (CPython test_wait_duplicate_coroutines,
 *    test_as_completed_duplicate_coroutines);
 *  - timeout=-inf is a timeout that expires in the next iteration (asyncio
 *    accepts it: call_later(-inf)), not a bad argument;
 *  - out-of-memory in wait/as_completed/gather with more futures than fit
 *    on the stack: -ENOMEM, nothing registered, nothing leaked.
 */
#include "test.h"
#include "core/core.h" /* corio__list_empty, to see that nothing stays registered */

/* From src/base/alloc.c: allow n more library allocations, then fail (-1: never). */
void corio__test_fail_alloc_after(long n);

static int ret_arg(void *arg) { return (int)(intptr_t)arg; }

typedef struct job {
    double d;
    int v;
} job;

static int sleep_then(void *arg) {
    job *j = arg;
    int rc = corio_sleep(j->d);
    return rc < 0 ? rc : j->v;
}

static void set_later(void *arg) { corio_future_set_result(arg, 5); }

/* asyncio: R1 2 0 [1, 2] / R2 1 1 1.0 */
static int m_wait_duplicates(void *arg) {
    (void)arg;
    corio_task *c = corio_spawn(ret_arg, (void *)1), *s = corio_spawn(ret_arg, (void *)2);
    corio_future *fs[3] = {corio_task_future(c), corio_task_future(c), corio_task_future(s)};
    corio_future *done[3] = {0}, *pending[3] = {0};
    CHECK_EQ(corio_wait(fs, 3, CORIO_ALL_COMPLETED, INFINITY, done, pending), 2);
    CHECK(done[0] == fs[0] && done[1] == fs[2]);
    CHECK_EQ(corio_join(c), 1);
    CHECK_EQ(corio_join(s), 2);

    /* FIRST_COMPLETED with a pending future listed twice. */
    corio_future f, g;
    corio_future_init(&f, NULL);
    corio_future_init(&g, NULL);
    corio_handle h = {0};
    CHECK_EQ(corio_call_later(&h, 1, set_later, &f), 0);
    corio_future *fg[3] = {&f, &g, &f};
    double t0 = corio_time();
    CHECK_EQ(corio_wait(fg, 3, CORIO_FIRST_COMPLETED, INFINITY, done, pending), 1);
    CHECK(done[0] == &f && pending[0] == &g);
    CHECK(fabs(corio_time() - t0 - 1) < 1e-9);
    CHECK_EQ(corio_future_cancel(&g), 1);
    CHECK_EQ(corio_future_destroy(&f), 0);
    CHECK_EQ(corio_future_destroy(&g), 0);
    return 0;
}
static void test_wait_duplicates(void) { CHECK_EQ(test_run(m_wait_duplicates, NULL, 1), 0); }

/* asyncio: R3 [2, 1] */
static int m_as_completed_duplicates(void *arg) {
    (void)arg;
    job j1 = {0.2, 1}, j2 = {0.1, 2};
    corio_task *c = corio_spawn(sleep_then, &j1), *s = corio_spawn(sleep_then, &j2);
    corio_future *fc = corio_task_future(c), *fs = corio_task_future(s);
    corio_future *arr[4] = {fc, fs, fc, fc};
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, arr, 4, INFINITY), 0);
    corio_future *out = NULL;
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == fs);
    CHECK_EQ(corio_as_completed_next(&it, &out), 1);
    CHECK(out == fc);
    CHECK_EQ(corio_as_completed_next(&it, &out), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_join(c), 1);
    CHECK_EQ(corio_join(s), 2);
    return 0;
}
static void test_as_completed_duplicates(void) { CHECK_EQ(test_run(m_as_completed_duplicates, NULL, 1), 0); }

/* asyncio: R4 0 1 / R5 timeout, both without time passing. */
static int m_minus_infinity(void *arg) {
    (void)arg;
    corio_future f;
    corio_future_init(&f, NULL);
    corio_future *ff[2] = {&f, &f}, *done[2] = {0}, *pending[2] = {0};
    double t0 = corio_time();
    CHECK_EQ(corio_wait(ff, 2, CORIO_ALL_COMPLETED, -INFINITY, done, pending), 0);
    CHECK(pending[0] == &f && pending[1] == NULL);
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, ff, 2, -INFINITY), 0);
    corio_future *out = NULL;
    CHECK_EQ(corio_as_completed_next(&it, &out), -ETIMEDOUT);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK(corio_time() == t0);
    CHECK_EQ(corio_future_cancel(&f), 1);
    CHECK_EQ(corio_future_destroy(&f), 0);
    return 0;
}
static void test_minus_infinity(void) { CHECK_EQ(test_run(m_minus_infinity, NULL, 1), 0); }

/* Many entries, few distinct futures (the sorting path): asyncio R6 3 2,
 * R7 3 then timeout. */
static int m_many_duplicates(void *arg) {
    (void)arg;
    corio_future fs[5];
    corio_future *argv[20], *done[20], *pending[20];
    for (int i = 0; i < 5; i++) corio_future_init(&fs[i], NULL);
    for (int i = 0; i < 3; i++) corio_future_set_result(&fs[i], i);
    for (int i = 0; i < 20; i++) argv[i] = &fs[i % 5];
    CHECK_EQ(corio_wait(argv, 20, CORIO_ALL_COMPLETED, 1, done, pending), 3);
    for (int i = 0; i < 3; i++) CHECK(done[i] == &fs[i]);
    CHECK(pending[0] == &fs[3] && pending[1] == &fs[4]);
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, argv, 20, 1), 0);
    corio_future *out;
    int n = 0, rc;
    while ((rc = corio_as_completed_next(&it, &out)) == 1) n++;
    CHECK_EQ(n, 3);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    for (int i = 3; i < 5; i++) corio_future_cancel(&fs[i]);
    for (int i = 0; i < 5; i++) CHECK_EQ(corio_future_destroy(&fs[i]), 0);
    return 0;
}
static void test_many_duplicates(void) { CHECK_EQ(test_run(m_many_duplicates, NULL, 1), 0); }

/* ---- out of memory ------------------------------------------------------------ */

#define NF 40 /* more than any on-stack array of the combinators */
#define MAX_STEPS 16

static int no_callbacks(corio_future *fs, int n) {
    for (int i = 0; i < n; i++)
        if (!corio__list_empty(&fs[i].callbacks)) return 0;
    return 1;
}

/* Allocation k fails for k = 0, 1, ... until the call succeeds; each
 * failure must be -ENOMEM and leave the futures as they were (no callback
 * registered) and the task usable.  Under ASan/valgrind: nothing leaks. */
static int m_oom(void *arg) {
    (void)arg;
    corio_future pend[NF], done_fs[NF];
    corio_future *pa[NF], *da[NF], *out[NF];
    for (int i = 0; i < NF; i++) {
        corio_future_init(&pend[i], NULL);
        corio_future_init(&done_fs[i], NULL);
        corio_future_set_result(&done_fs[i], i);
        pa[i] = &pend[i];
        da[i] = &done_fs[i];
    }
    /* Repeats too, so that the duplicate check's own allocation is hit. */
    pa[NF - 1] = &pend[0];

    int n, rc;
    for (n = 0; n < MAX_STEPS; n++) {
        corio__test_fail_alloc_after(n);
        rc = corio_wait(pa, NF, CORIO_ALL_COMPLETED, 0, NULL, out);
        corio__test_fail_alloc_after(-1);
        if (rc != -ENOMEM) break;
        CHECK(no_callbacks(pend, NF));
    }
    CHECK(n > 0 && n < MAX_STEPS);
    CHECK_EQ(rc, 0);
    CHECK(out[0] == &pend[0] && out[NF - 2] == &pend[NF - 2]);
    CHECK(no_callbacks(pend, NF));

    for (n = 0; n < MAX_STEPS; n++) {
        corio__test_fail_alloc_after(n);
        rc = corio_gather(da, NF, 0);
        corio__test_fail_alloc_after(-1);
        if (rc != -ENOMEM) break;
    }
    CHECK(n > 0 && n < MAX_STEPS);
    CHECK_EQ(rc, 0);

    corio_as_completed it;
    for (n = 0; n < MAX_STEPS; n++) {
        corio__test_fail_alloc_after(n);
        rc = corio_as_completed_init(&it, pa, NF, 0);
        corio__test_fail_alloc_after(-1);
        if (rc != -ENOMEM) break;
        CHECK(no_callbacks(pend, NF));
        CHECK_EQ(corio_as_completed_close(&it), 0);
    }
    CHECK(n > 0 && n < MAX_STEPS);
    CHECK_EQ(rc, 0);
    corio_future *f;
    CHECK_EQ(corio_as_completed_next(&it, &f), -ETIMEDOUT);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK(no_callbacks(pend, NF));

    for (int i = 0; i < NF; i++) {
        corio_future_cancel(&pend[i]);
        CHECK_EQ(corio_future_destroy(&pend[i]), 0);
        CHECK_EQ(corio_future_destroy(&done_fs[i]), 0);
    }
    return 0;
}
static void test_oom(void) { CHECK_EQ(test_run(m_oom, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_wait_duplicates);
    RUN_TEST(test_as_completed_duplicates);
    RUN_TEST(test_minus_infinity);
    RUN_TEST(test_many_duplicates);
    RUN_TEST(test_oom);
    TEST_MAIN_END();
}
