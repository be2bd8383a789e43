/*
 * test_barrier.c - corio_barrier against asyncio.Barrier (Python 3.13).
 *
 * Ports of CPython's test_locks.py BarrierTests (each case names the one it
 * ports), and four traces whose expected text is what the same programs
 * print under asyncio 3.13 (the Python is quoted above each): the order in
 * which tasks pass, the index each gets, and what a reset, an abort or a
 * cancel does to whom.
 */
#include "test.h"

#define N 5

static corio_barrier bar, bar2;
static char trace[1024];

/* Append one trace entry ("3a4": task 3, event a, index 4). */
static void T(int k, char ev, int i) {
    size_t len = strlen(trace);
    if (i < 0)
        snprintf(trace + len, sizeof trace - len, "%s%d%c", len ? " " : "", k, ev);
    else
        snprintf(trace + len, sizeof trace - len, "%s%d%c%d", len ? " " : "", k, ev, i);
}

static void T_state(const corio_barrier *b) {
    static const char st[] = "fdrb";
    size_t len = strlen(trace);
    snprintf(trace + len, sizeof trace - len, " n%zus%c", corio_barrier_n_waiting(b), st[corio_barrier_state(b)]);
}

/* Spawn n tasks running fn(k) and gather them (CPython's gather_tasks);
 * returns the gather's result, the tasks' own results in res[]. */
static int gather_n(int n, corio_task_fn fn, int *res) {
    corio_task *ts[16];
    for (int k = 0; k < n; k++) ts[k] = corio_spawn(fn, (void *)(intptr_t)k);
    int rc = corio_gather_tasks(ts, (size_t)n, CORIO_GATHER_COLLECT);
    for (int k = 0; k < n; k++) {
        if (res) res[k] = corio_task_result(ts[k]);
        corio_join(ts[k]);
    }
    return rc;
}

static int sorted_indexes_ok(const int *res, int n) {
    int seen[16] = {0};
    for (int k = 0; k < n; k++) {
        if (res[k] < 0 || res[k] >= n || seen[res[k]]) return 0;
        seen[res[k]] = 1;
    }
    return 1;
}

/* ---- no task needed ---------------------------------------------------------------------- */

static void test_bad_input(void) {
    corio_barrier b;
    /* test_barrier_parties */
    CHECK_EQ(corio_barrier_init(&b, 0), -EINVAL);
    CHECK_EQ(corio_barrier_init(&b, (size_t)-4), -EINVAL);
    CHECK_EQ(corio_barrier_init(NULL, 1), -EINVAL);
    CHECK_EQ(corio_barrier_wait(NULL), -EINVAL);
    CHECK_EQ(corio_barrier_reset(NULL), -EINVAL);
    CHECK_EQ(corio_barrier_abort(NULL), -EINVAL);
    CHECK_EQ(corio_barrier_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_barrier_state(NULL), -EINVAL);
    CHECK_EQ(corio_barrier_parties(NULL), 0);
    CHECK_EQ(corio_barrier_n_waiting(NULL), 0);
    CHECK_EQ(corio_barrier_broken(NULL), 0);
    memset(&b, 0, sizeof b); /* never initialised */
    CHECK_EQ(corio_barrier_wait(&b), -EINVAL);
    CHECK_EQ(corio_barrier_state(&b), -EINVAL);

    CHECK_EQ(corio_barrier_init(&b, N), 0);
    CHECK_EQ(corio_barrier_parties(&b), N);
    CHECK_EQ(corio_barrier_n_waiting(&b), 0);
    CHECK_EQ(corio_barrier_broken(&b), 0);
    CHECK_EQ(corio_barrier_state(&b), CORIO_BARRIER_FILLING);
    CHECK_EQ(corio_barrier_wait(&b), -EPERM); /* outside a task */
    CHECK_EQ(corio_barrier_destroy(&b), 0);
    CHECK_EQ(corio_barrier_wait(&b), -EINVAL); /* destroyed */
    CHECK_EQ(corio_barrier_destroy(&b), -EINVAL);
    CHECK(strstr(corio_strerror(CORIO_EBROKEN_BARRIER), "Barrier broken") != NULL);
}

/* ---- filling --------------------------------------------------------------------------- */

static int w_plain(void *arg) {
    (void)arg;
    return corio_barrier_wait(&bar);
}

/* test_context_manager (N = 3) */
static int m_context_manager(void *arg) {
    (void)arg;
    int res[3];
    CHECK_EQ(corio_barrier_init(&bar, 3), 0);
    CHECK_EQ(gather_n(3, w_plain, res), 0);
    CHECK(sorted_indexes_ok(res, 3));
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_filling_one_task, test_filling_one_task_twice */
static int m_one_task(void *arg) {
    (void)arg;
    CHECK_EQ(corio_barrier_init(&bar, 1), 0);
    CHECK_EQ(corio_barrier_wait(&bar), 0); /* the party is complete: no suspension */
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    corio_task *t1 = corio_spawn(w_plain, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    corio_task *t2 = corio_spawn(w_plain, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_task_done(t1), 1);
    CHECK_EQ(corio_task_done(t2), 1);
    CHECK_EQ(corio_task_result(t1), 0);
    CHECK_EQ(corio_task_result(t2), 0);
    corio_join(t1);
    corio_join(t2);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_filling_task_by_task (N = 3) */
static int m_task_by_task(void *arg) {
    (void)arg;
    CHECK_EQ(corio_barrier_init(&bar, 3), 0);
    corio_task *t[3];
    for (int k = 0; k < 3; k++) {
        t[k] = corio_spawn(w_plain, NULL);
        CHECK_EQ(corio_yield(), 0);
        if (k < 2) {
            CHECK_EQ(corio_barrier_n_waiting(&bar), (size_t)k + 1);
            CHECK_EQ(corio_barrier_state(&bar), CORIO_BARRIER_FILLING);
        }
    }
    for (int k = 0; k < 3; k++) CHECK_EQ(corio_join(t[k]), k);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

static int results1, results2, results3;

/* test_filling_tasks_wait_twice and test_filling_tasks_check_return_value */
static int w_twice(void *arg) {
    (void)arg;
    int rc = corio_barrier_wait(&bar);
    if (rc < 0) return rc;
    results1++;
    rc = corio_barrier_wait(&bar);
    if (rc >= 0) results2++;
    return rc;
}

static int m_wait_twice(void *arg) {
    (void)arg;
    int res[N];
    results1 = results2 = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(gather_n(N, w_twice, res), 0);
    CHECK_EQ(results1, N);
    CHECK_EQ(results2, N);
    CHECK(sorted_indexes_ok(res, N));
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_draining_state: inside, every task but the last out sees it draining. */
static int drained[N], ndrained;
static int w_draining(void *arg) {
    (void)arg;
    int rc = corio_barrier_wait(&bar);
    drained[ndrained++] = corio_barrier_state(&bar) == CORIO_BARRIER_DRAINING;
    return rc;
}

static int m_draining_state(void *arg) {
    (void)arg;
    ndrained = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(gather_n(N, w_draining, NULL), 0);
    CHECK_EQ(ndrained, N);
    for (int k = 0; k < N - 1; k++) CHECK_EQ(drained[k], 1);
    CHECK_EQ(drained[N - 1], 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* ---- traces against asyncio 3.13 --------------------------------------------------------- */

/* test_blocking_tasks_while_draining, traced:
 *     i = await b.wait(); T(f"{k}a{i}")
 *     if rewait_n > 0:
 *         rewait_n -= 1; i = await b.wait(); T(f"{k}b{i}")
 *     else:
 *         i = await b2.wait(); T(f"{k}c{i}")
 *         i = await b.wait(); T(f"{k}d{i}")
 * with b = Barrier(5), b2 = Barrier(3), rewait_n = 2. */
static int rewait_n;
static int w_blocking(void *arg) {
    int k = (int)(intptr_t)arg, i;
    T(k, 'a', i = corio_barrier_wait(&bar));
    if (i < 0) return i;
    if (rewait_n > 0) {
        rewait_n--;
        T(k, 'b', i = corio_barrier_wait(&bar));
    } else {
        T(k, 'c', i = corio_barrier_wait(&bar2));
        T(k, 'd', i = corio_barrier_wait(&bar));
    }
    return i < 0 ? i : 0;
}

static int m_blocking_while_draining(void *arg) {
    (void)arg;
    trace[0] = 0;
    rewait_n = 2;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(corio_barrier_init(&bar2, N - 2), 0);
    CHECK_EQ(gather_n(N, w_blocking, NULL), 0);
    const char *want = "4a4 0a0 1a1 2a2 3a3 3c2 1c0 2c1 2d4 3d0 4b1 0b2 1d3";
    if (strcmp(trace, want)) fprintf(stderr, "trace: %s\n want: %s\n", trace, want);
    CHECK(strcmp(trace, want) == 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar2), 0);
    return 0;
}

/* test_reset_barrier_when_tasks_half_draining_half_blocking, traced:
 *     try:
 *         i = await b.wait(); T(f"{k}w{i}")
 *     except BrokenBarrierError:
 *         T(f"{k}B"); i = await b.wait(); T(f"{k}x{i}")
 *     else:
 *         count += 1
 *         if count > blocking:
 *             await b.reset(); T(f"{k}R"); i = await b.wait(); T(f"{k}y{i}")
 *         else:
 *             try: i = await b.wait(); T(f"{k}z{i}")
 *             except BrokenBarrierError: T(f"{k}Z")
 * then T(f"n{b.n_waiting}s{state[0]}"). */
static int count;
static int w_reset_half(void *arg) {
    int k = (int)(intptr_t)arg, i = corio_barrier_wait(&bar);
    if (i == CORIO_EBROKEN_BARRIER) {
        T(k, 'B', -1);
        T(k, 'x', i = corio_barrier_wait(&bar));
        return i < 0 ? i : 0;
    }
    T(k, 'w', i);
    if (++count > N / 2) {
        CHECK_EQ(corio_barrier_reset(&bar), 0);
        T(k, 'R', -1);
        T(k, 'y', i = corio_barrier_wait(&bar));
    } else {
        i = corio_barrier_wait(&bar);
        if (i == CORIO_EBROKEN_BARRIER)
            T(k, 'Z', -1);
        else
            T(k, 'z', i);
    }
    return i < 0 && i != CORIO_EBROKEN_BARRIER ? i : 0;
}

static int m_reset_half_draining_half_blocking(void *arg) {
    (void)arg;
    trace[0] = 0;
    count = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(gather_n(N, w_reset_half, NULL), 0);
    T_state(&bar);
    const char *want = "4w4 0w0 1w1 1R 2B 3B 2x4 3x0 4z1 0z2 1y3 n0sf";
    if (strcmp(trace, want)) fprintf(stderr, "trace: %s\n want: %s\n", trace, want);
    CHECK(strcmp(trace, want) == 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_abort_barrier_when_exception_then_resetting, traced:
 *     try:
 *         i = await b1.wait(); T(f"{k}a{i}")
 *         if i == N // 2: raise RuntimeError
 *         i = await b1.wait(); T(f"{k}b{i}")
 *     except BrokenBarrierError: T(f"{k}B")
 *     except RuntimeError: await b1.abort(); T(f"{k}A")
 *     i = await b2.wait(); T(f"{k}c{i}")
 *     if i == N // 2: await b1.reset(); T(f"{k}R")
 *     i = await b2.wait(); T(f"{k}d{i}")
 *     i = await b1.wait(); T(f"{k}e{i}") */
static int w_abort_reset(void *arg) {
    int k = (int)(intptr_t)arg, i = corio_barrier_wait(&bar);
    if (i == CORIO_EBROKEN_BARRIER) {
        T(k, 'B', -1);
    } else {
        T(k, 'a', i);
        if (i == N / 2) {
            CHECK_EQ(corio_barrier_abort(&bar), 0);
            T(k, 'A', -1);
        } else {
            i = corio_barrier_wait(&bar);
            if (i == CORIO_EBROKEN_BARRIER)
                T(k, 'B', -1);
            else
                T(k, 'b', i);
        }
    }
    T(k, 'c', i = corio_barrier_wait(&bar2));
    if (i == N / 2) {
        CHECK_EQ(corio_barrier_reset(&bar), 0);
        T(k, 'R', -1);
    }
    T(k, 'd', corio_barrier_wait(&bar2));
    T(k, 'e', i = corio_barrier_wait(&bar));
    return i < 0 ? i : 0;
}

static int m_abort_then_reset(void *arg) {
    (void)arg;
    trace[0] = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(corio_barrier_init(&bar2, N), 0);
    CHECK_EQ(gather_n(N, w_abort_reset, NULL), 0);
    T_state(&bar);
    const char *want = "4a4 0a0 1a1 2a2 2A 3B 4B 0B 1B 1c4 2c0 3c1 4c2 4R 0c3 4d4 0d0 1d1 2d2 3d3 3e4 4e0 0e1 1e2 "
                       "2e3 n0sf";
    if (strcmp(trace, want)) fprintf(stderr, "trace: %s\n want: %s\n", trace, want);
    CHECK(strcmp(trace, want) == 0);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar2), 0);
    return 0;
}

/* Cancels: one waiter cancelled while filling, one while blocked behind a drain.
 *     b = Barrier(3)
 *     async def coro(k):
 *         try: i = await b.wait(); T(f"{k}w{i}")
 *         except CancelledError: T(f"{k}C"); raise
 *     ts = [create_task(coro(k)) for k in range(2)]
 *     await sleep(0); T(f"n{b.n_waiting}")
 *     ts[0].cancel(); await sleep(0); T(f"n{b.n_waiting}")
 *     ts += [create_task(coro(k)) for k in range(2, 5)]
 *     await sleep(0); T(f"n{b.n_waiting}s{state[0]}")
 *     ts[4].cancel()
 *     ts += [create_task(coro(k)) for k in range(5, 8)]
 *     for _ in range(6): await sleep(0); T(f"n{b.n_waiting}s{state[0]}")
 *     r = await gather(*ts, return_exceptions=True); T("r" + C or . per task) */
static int w_cancel(void *arg) {
    int k = (int)(intptr_t)arg, i = corio_barrier_wait(&bar);
    if (i == -ECANCELED)
        T(k, 'C', -1);
    else
        T(k, 'w', i);
    return i < 0 ? i : 0;
}

static void T_n(void) {
    size_t len = strlen(trace);
    snprintf(trace + len, sizeof trace - len, "%sn%zu", len ? " " : "", corio_barrier_n_waiting(&bar));
}

static int m_cancel(void *arg) {
    (void)arg;
    trace[0] = 0;
    CHECK_EQ(corio_barrier_init(&bar, 3), 0);
    corio_task *ts[8];
    for (int k = 0; k < 2; k++) ts[k] = corio_spawn(w_cancel, (void *)(intptr_t)k);
    CHECK_EQ(corio_yield(), 0);
    T_n();
    corio_cancel(ts[0]);
    CHECK_EQ(corio_yield(), 0);
    T_n();
    for (int k = 2; k < 5; k++) ts[k] = corio_spawn(w_cancel, (void *)(intptr_t)k);
    CHECK_EQ(corio_yield(), 0);
    T_state(&bar);
    corio_cancel(ts[4]);
    for (int k = 5; k < 8; k++) ts[k] = corio_spawn(w_cancel, (void *)(intptr_t)k);
    for (int r = 0; r < 6; r++) {
        CHECK_EQ(corio_yield(), 0);
        T_state(&bar);
    }
    CHECK_EQ(corio_gather_tasks(ts, 8, CORIO_GATHER_COLLECT), 0);
    size_t len = strlen(trace);
    snprintf(trace + len, sizeof trace - len, " r");
    for (int k = 0; k < 8; k++) {
        len = strlen(trace);
        snprintf(trace + len, sizeof trace - len, "%c", corio_task_cancelled(ts[k]) ? 'C' : '.');
        corio_join(ts[k]);
    }
    const char *want = "n2 0C n1 3w2 n0sd 1w1 2w1 4C 7w2 n0sd 5w0 6w1 n0sf n0sf n0sf n0sf n0sf rC...C...";
    if (strcmp(trace, want)) fprintf(stderr, "trace: %s\n want: %s\n", trace, want);
    CHECK(strcmp(trace, want) == 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* ---- reset and abort (CPython's cases, by outcome) ------------------------------------------ */

/* test_reset_barrier, test_abort_barrier: parties 1, from a task of their own. */
static int do_reset(void *arg) { return corio_barrier_reset(arg); }
static int do_abort(void *arg) { return corio_barrier_abort(arg); }

static int m_reset_abort_alone(void *arg) {
    (void)arg;
    CHECK_EQ(corio_barrier_init(&bar, 1), 0);
    corio_task *t = corio_spawn(do_reset, &bar);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(corio_join(t), 0);
    t = corio_spawn(do_abort, &bar);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 1);
    CHECK_EQ(corio_join(t), 0);
    /* Broken: every wait fails until a reset, which repairs it. */
    CHECK_EQ(corio_barrier_wait(&bar), CORIO_EBROKEN_BARRIER);
    CHECK_EQ(corio_barrier_reset(&bar), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(corio_barrier_wait(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* Wait at bar: 1 when it tripped, 0 when it was broken (counted in
 * results1), or the error. */
static int pass_or_broken(void) {
    int rc = corio_barrier_wait(&bar);
    if (rc == CORIO_EBROKEN_BARRIER) {
        results1++;
        return 0;
    }
    return rc < 0 ? rc : 1;
}

/* test_reset_barrier_while_tasks_waiting */
static int w_broken_ok(void *arg) {
    (void)arg;
    int rc = pass_or_broken();
    return rc < 0 ? rc : 0;
}

static int m_reset_while_waiting(void *arg) {
    (void)arg;
    results1 = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    corio_task *ts[N - 1];
    for (int k = 0; k < N - 1; k++) ts[k] = corio_spawn(w_broken_ok, NULL);
    CHECK_EQ(corio_yield(), 0);
    corio_task *r = corio_spawn(do_reset, &bar);
    CHECK_EQ(corio_gather_tasks(ts, N - 1, 0), 0);
    CHECK_EQ(results1, N - 1);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK(corio_barrier_state(&bar) != CORIO_BARRIER_RESETTING);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    for (int k = 0; k < N - 1; k++) corio_join(ts[k]);
    CHECK_EQ(corio_join(r), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_reset_barrier_when_tasks_half_draining: the first task out while
 * N/2 are still inside resets it; those N/2 leave broken. */
static int w_half_draining(void *arg) {
    (void)arg;
    int rc = pass_or_broken();
    if (rc <= 0) return rc;
    if (bar.count == N / 2) return corio_barrier_reset(&bar);
    return 0;
}

static int m_reset_half_draining(void *arg) {
    (void)arg;
    results1 = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(gather_n(N, w_half_draining, NULL), 0);
    CHECK_EQ(results1, N / 2);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK(corio_barrier_state(&bar) != CORIO_BARRIER_RESETTING);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_reset_barrier_while_tasks_waiting_and_waiting_again */
static int w_again1(void *arg) {
    (void)arg;
    if (corio_barrier_wait(&bar) == CORIO_EBROKEN_BARRIER) results1++;
    int rc = corio_barrier_wait(&bar); /* the `finally` */
    if (rc >= 0) results2++;
    return rc < 0 ? rc : 0;
}

static int w_again2(void *arg) {
    (void)arg;
    int rc = corio_barrier_wait(&bar);
    if (rc >= 0) results2++;
    return rc < 0 ? rc : 0;
}

static int m_reset_waiting_again(void *arg) {
    (void)arg;
    results1 = results2 = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    corio_task *ts[N - 1];
    for (int k = 0; k < N - 1; k++) ts[k] = corio_spawn(w_again1, NULL);
    corio_task *r = corio_spawn(do_reset, &bar);
    CHECK_EQ(corio_yield(), 0);
    corio_task *c2 = corio_spawn(w_again2, NULL);
    CHECK_EQ(corio_gather_tasks(ts, N - 1, 0), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(results1, N - 1);
    CHECK_EQ(results2, N);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    for (int k = 0; k < N - 1; k++) corio_join(ts[k]);
    CHECK_EQ(corio_join(r), 0);
    CHECK_EQ(corio_join(c2), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_reset_barrier_while_tasks_draining */
static int w_draining_reset(void *arg) {
    (void)arg;
    int rc = corio_barrier_wait(&bar);
    if (rc < 0) return rc;
    if (++count == N) {
        CHECK_EQ(corio_barrier_reset(&bar), 0);
        rc = corio_barrier_wait(&bar);
    } else {
        rc = corio_barrier_wait(&bar);
        if (rc >= 0)
            results1++;
        else
            results2++;
    }
    rc = corio_barrier_wait(&bar);
    if (rc >= 0) results3++;
    return rc < 0 ? rc : 0;
}

static int m_reset_while_draining(void *arg) {
    (void)arg;
    count = results1 = results2 = results3 = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(gather_n(N, w_draining_reset, NULL), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 0);
    CHECK_EQ(results1, N - 1);
    CHECK_EQ(results2, 0);
    CHECK_EQ(results3, N);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_abort_barrier_when_tasks_half_draining_half_blocking */
static int w_abort_half(void *arg) {
    (void)arg;
    int rc = pass_or_broken();
    if (rc <= 0) return rc;
    if (++count > N / 2) return corio_barrier_abort(&bar);
    if (corio_barrier_wait(&bar) == CORIO_EBROKEN_BARRIER) results2++;
    return 0;
}

static int m_abort_half(void *arg) {
    (void)arg;
    count = results1 = results2 = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(gather_n(N, w_abort_half, NULL), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 1);
    CHECK_EQ(results1, N / 2);
    CHECK_EQ(results2, N - N / 2 - 1);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK(corio_barrier_state(&bar) != CORIO_BARRIER_RESETTING);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_abort_barrier_when_exception: the task with index N/2 "raises" and aborts. */
static int w_abort_exc(void *arg) {
    (void)arg;
    int i = corio_barrier_wait(&bar);
    if (i == CORIO_EBROKEN_BARRIER) {
        results2++;
        return 0;
    }
    if (i == N / 2) return corio_barrier_abort(&bar);
    i = corio_barrier_wait(&bar);
    if (i == CORIO_EBROKEN_BARRIER)
        results2++;
    else if (i >= 0)
        results1++;
    return i < 0 && i != CORIO_EBROKEN_BARRIER ? i : 0;
}

static int m_abort_exception(void *arg) {
    (void)arg;
    results1 = results2 = 0;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    CHECK_EQ(gather_n(N, w_abort_exc, NULL), 0);
    CHECK_EQ(corio_barrier_broken(&bar), 1);
    CHECK_EQ(results1, 0);
    CHECK_EQ(results2, N - 1);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 0);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

/* test_repr's states, and destroy refused while tasks are inside. */
static int m_states(void *arg) {
    (void)arg;
    CHECK_EQ(corio_barrier_init(&bar, N), 0);
    corio_task *ts[N + 4];
    int nt = 0;
    for (int k = 0; k < 2; k++) ts[nt++] = corio_spawn(w_plain, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_barrier_state(&bar), CORIO_BARRIER_FILLING);
    CHECK_EQ(corio_barrier_n_waiting(&bar), 2);
    CHECK_EQ(corio_barrier_destroy(&bar), -EBUSY);
    for (size_t k = 0; k < corio_barrier_parties(&bar) - 2; k++) ts[nt++] = corio_spawn(w_plain, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_barrier_state(&bar), CORIO_BARRIER_DRAINING);
    for (int k = 0; k < 2; k++) ts[nt++] = corio_spawn(w_plain, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_barrier_reset(&bar), 0);
    CHECK_EQ(corio_barrier_state(&bar), CORIO_BARRIER_RESETTING);
    for (int k = 0; k < 2; k++) ts[nt++] = corio_spawn(w_plain, NULL);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_barrier_abort(&bar), 0);
    CHECK_EQ(corio_barrier_state(&bar), CORIO_BARRIER_BROKEN);
    CHECK_EQ(corio_barrier_broken(&bar), 1);
    CHECK_EQ(corio_gather_tasks(ts, (size_t)nt, CORIO_GATHER_COLLECT), 0);
    for (int k = 0; k < nt; k++) corio_join(ts[k]);
    CHECK_EQ(corio_barrier_destroy(&bar), 0);
    return 0;
}

#define CASE(name, fn) \
    static void name(void) { CHECK_EQ(test_run(fn, NULL, 1), 0); }
CASE(test_context_manager, m_context_manager)
CASE(test_filling_one_task, m_one_task)
CASE(test_filling_task_by_task, m_task_by_task)
CASE(test_filling_tasks_wait_twice, m_wait_twice)
CASE(test_draining_state, m_draining_state)
CASE(test_blocking_tasks_while_draining, m_blocking_while_draining)
CASE(test_reset_half_draining_half_blocking, m_reset_half_draining_half_blocking)
CASE(test_abort_then_reset, m_abort_then_reset)
CASE(test_cancel, m_cancel)
CASE(test_reset_abort_alone, m_reset_abort_alone)
CASE(test_reset_while_waiting, m_reset_while_waiting)
CASE(test_reset_half_draining, m_reset_half_draining)
CASE(test_reset_waiting_again, m_reset_waiting_again)
CASE(test_reset_while_draining, m_reset_while_draining)
CASE(test_abort_half, m_abort_half)
CASE(test_abort_exception, m_abort_exception)
CASE(test_states, m_states)

int main(void) {
    RUN_TEST(test_bad_input);
    RUN_TEST(test_context_manager);
    RUN_TEST(test_filling_one_task);
    RUN_TEST(test_filling_task_by_task);
    RUN_TEST(test_filling_tasks_wait_twice);
    RUN_TEST(test_draining_state);
    RUN_TEST(test_blocking_tasks_while_draining);
    RUN_TEST(test_reset_half_draining_half_blocking);
    RUN_TEST(test_abort_then_reset);
    RUN_TEST(test_cancel);
    RUN_TEST(test_reset_abort_alone);
    RUN_TEST(test_reset_while_waiting);
    RUN_TEST(test_reset_half_draining);
    RUN_TEST(test_reset_waiting_again);
    RUN_TEST(test_reset_while_draining);
    RUN_TEST(test_abort_half);
    RUN_TEST(test_abort_exception);
    RUN_TEST(test_states);
    TEST_MAIN_END();
}
