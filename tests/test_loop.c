/*
 * test_loop.c - the event loop against asyncio's BaseEventLoop (Python 3.13).
 *
 * Ports of CPython's Lib/test/test_asyncio/test_base_events.py and
 * test_events.py (call_soon / call_later / call_at ordering, stop,
 * run_until_complete, nested runs), plus libuv's test/test-timer.c (equal
 * deadlines fire in FIFO order, huge timeouts do not overflow) and
 * test/task.h (a loop closes clean, a close that finds leftovers says so).
 * Every ordering asserted here was checked by running the same scenario
 * under asyncio 3.13.  Time is asserted only on the virtual clock.
 */
#include "test.h"

#include <float.h>
#include <pthread.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------- */

static int lg[4096];
static int nlg;
static double lg_time[4096];

static void reset(void) { nlg = 0; }

/* Append arg to the log, with the loop time it ran at. */
static void push(void *arg) {
    lg_time[nlg] = corio_time();
    lg[nlg++] = (int)(intptr_t)arg;
}

static void stop_loop(void *arg) { corio_loop_stop(arg); }

/* The library's messages: counted, not printed (close warnings are expected). */
static int nwarn;
static void count_log(int level, const char *msg, void *arg) {
    (void)msg;
    (void)arg;
    if (level >= CORIO_LOG_WARNING) nwarn++;
}

static corio_loop *new_loop(int virtual_clock) {
    corio_loop *l = corio_loop_new();
    if (!l) {
        fprintf(stderr, "corio_loop_new: %s\n", strerror(errno));
        exit(1);
    }
    if (virtual_clock) CHECK_EQ(corio_loop_use_virtual_clock(l), 0);
    return l;
}

static void close_clean(corio_loop *l) { CHECK_EQ(corio_loop_close(l), 0); }

/* Run the loop until every scheduled callback has run (one stop handle at the end). */
static void run_until_stop_at(corio_loop *l, double when) {
    CHECK_EQ(corio_loop_call_at(l, NULL, when, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
}

/* ---- create / close ------------------------------------------------------ */

static void test_new_close(void) {
    CHECK(corio_loop_current() == NULL);
    corio_loop *l = new_loop(0);
    CHECK_EQ(corio_loop_is_running(l), 0);
    CHECK_EQ(corio_loop_is_running(NULL), 0);
    CHECK(corio_loop_current() == NULL);
    close_clean(l);
    CHECK_EQ(corio_loop_close(NULL), -EINVAL);

    /* A loop that ran and has nothing left closes clean too. */
    l = new_loop(0);
    reset();
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)1), 0);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 1);
    close_clean(l);
}

static int t_forever_waiter_done;
static corio_future never; /* a future nobody completes */
static void on_task_done(corio_future *f, void *arg) {
    (void)f;
    (void)arg;
    t_forever_waiter_done++;
}

static int t_await_never(void *arg) {
    (void)arg;
    corio_await(&never, NULL);
    return 0;
}

static int t_sleep_long(void *arg) {
    (void)arg;
    corio_sleep(1000);
    return 0;
}

static int t_yield_twice(void *arg) {
    (void)arg;
    corio_yield();
    corio_yield();
    return 0;
}

static int t_never_runs(void *arg) {
    *(int *)arg = 1;
    return 0;
}

/* libuv test/task.h: a close that finds live handles or tasks says so, and
 * frees everything anyway (run under valgrind / LeakSanitizer). */
static void test_close_not_empty(void) {
    corio_log_set_handler(count_log, NULL);

    /* Pending callbacks: library-owned and caller-owned, soon and timed. */
    corio_loop *l = new_loop(0);
    corio_handle h1 = {0}, h2 = {0};
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)1), 0);
    CHECK_EQ(corio_loop_call_soon(l, &h1, push, (void *)2), 0);
    CHECK_EQ(corio_loop_call_later(l, NULL, 10, push, (void *)3), 0);
    CHECK_EQ(corio_loop_call_later(l, &h2, 10, push, (void *)4), 0);
    nwarn = 0;
    CHECK_EQ(corio_loop_close(l), -ENOTEMPTY);
    CHECK(nwarn >= 1);
    /* The caller's handles are no longer scheduled: cancelling is a no-op. */
    CHECK_EQ(corio_handle_cancel(&h1), 0);
    CHECK_EQ(corio_handle_cancel(&h2), 0);

    /* Only a timer left. */
    l = new_loop(0);
    CHECK_EQ(corio_loop_call_at(l, NULL, 1e6, push, (void *)5), 0);
    CHECK_EQ(corio_loop_close(l), -ENOTEMPTY);

    /* A task that never started: its body never runs. */
    l = new_loop(0);
    int ran = 0;
    corio_task *t = corio_loop_spawn(l, t_never_runs, &ran, NULL);
    CHECK(t != NULL);
    CHECK_EQ(corio_loop_close(l), -ENOTEMPTY);
    CHECK_EQ(ran, 0);

    /* Tasks suspended in an await on a caller's future, in a sleep, with a
     * done-callback on one of them and a caller reference still held. */
    l = new_loop(0);
    CHECK_EQ(corio_future_init(&never, l), 0);
    corio_task *a = corio_loop_spawn(l, t_await_never, NULL, NULL);
    corio_task *b = corio_loop_spawn(l, t_sleep_long, NULL, NULL);
    corio_task *c = corio_loop_spawn(l, t_yield_twice, NULL, NULL);
    CHECK(a && b && c);
    t_forever_waiter_done = 0;
    CHECK_EQ(corio_future_add_done_callback(corio_task_future(a), on_task_done, NULL), 0);
    CHECK_EQ(corio_task_detach(b), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, corio_task_future(c)), 0);
    CHECK_EQ(corio_task_detach(c), 0);
    CHECK_EQ(corio_task_done(a), 0);
    nwarn = 0;
    CHECK_EQ(corio_loop_close(l), -ENOTEMPTY);
    CHECK(nwarn >= 2);
    CHECK_EQ(t_forever_waiter_done, 0);
    /* Nothing of the closed loop is still linked to the caller's future. */
    CHECK_EQ(corio_future_destroy(&never), 0);

    corio_log_set_handler(NULL, NULL);
}

static int close_rc_in_cb;
static void close_from_cb(void *arg) { close_rc_in_cb = corio_loop_close(arg); }

static int t_close_inside(void *arg) {
    CHECK_EQ(corio_loop_close(arg), -EBUSY);
    CHECK_EQ(corio_loop_close(corio_loop_current()), -EBUSY);
    return 3;
}

static void test_close_inside(void) {
    corio_loop *l = new_loop(0);
    close_rc_in_cb = 0;
    CHECK_EQ(corio_loop_call_soon(l, NULL, close_from_cb, l), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(close_rc_in_cb, -EBUSY);
    /* The loop is intact and runs again. */
    corio_task *t = corio_loop_spawn(l, t_close_inside, l, NULL);
    CHECK_EQ(corio_loop_run_until_complete(l, corio_task_future(t)), 0);
    CHECK_EQ(corio_task_result(t), 3);
    CHECK_EQ(corio_task_detach(t), 0);
    close_clean(l);
}

/* ---- run_until_complete -------------------------------------------------- */

static corio_future fut;
static void set_fut(void *arg) { CHECK_EQ(corio_future_set_result(&fut, (intptr_t)arg), 0); }
static void fail_fut(void *arg) { CHECK_EQ(corio_future_set_error(&fut, (int)(intptr_t)arg), 0); }
static void cancel_fut(void *arg) {
    (void)arg;
    CHECK_EQ(corio_future_cancel(&fut), 1);
}

/* Complete the future and stop the loop in the same callback. */
static void set_and_stop(void *arg) {
    CHECK_EQ(corio_future_set_result(&fut, 11), 0);
    corio_loop_stop(arg);
}

/* Schedule `push 2` for the next iteration, from inside the loop. */
static void push_then_schedule(void *arg) {
    push(arg);
    CHECK_EQ(corio_call_soon(NULL, push, (void *)((intptr_t)arg + 1)), 0);
}

static void test_run_until_complete(void) {
    corio_loop *l = new_loop(1);
    intptr_t v = 0;

    CHECK_EQ(corio_future_init(&fut, l), 0);
    CHECK_EQ(corio_loop_call_later(l, NULL, 0.5, set_fut, (void *)42), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &fut), 0);
    CHECK_EQ(corio_future_result(&fut, &v), 0);
    CHECK_EQ(v, 42);
    CHECK(corio_loop_time(l) == 0.5);
    CHECK_EQ(corio_loop_is_running(l), 0);
    CHECK_EQ(corio_future_destroy(&fut), 0);

    CHECK_EQ(corio_future_init(&fut, l), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, fail_fut, (void *)(intptr_t)-EIO), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &fut), -EIO);
    CHECK_EQ(corio_future_destroy(&fut), 0);

    CHECK_EQ(corio_future_init(&fut, l), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, cancel_fut, NULL), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &fut), -ECANCELED);
    CHECK_EQ(corio_future_destroy(&fut), 0);

    /* asyncio runs one iteration even for a future that is already done:
     * what was scheduled before runs, what that schedules does not. */
    reset();
    CHECK_EQ(corio_future_init(&fut, l), 0);
    CHECK_EQ(corio_future_set_result(&fut, 5), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, push_then_schedule, (void *)1), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &fut), 0);
    CHECK_EQ(nlg, 1);
    CHECK_EQ(lg[0], 1);
    CHECK_EQ(corio_future_destroy(&fut), 0);
    /* The next run picks up the rest. */
    CHECK_EQ(corio_future_init(&fut, l), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, set_fut, (void *)1), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &fut), 0);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(lg[1], 2);
    CHECK_EQ(corio_future_destroy(&fut), 0);

    /* Stopped before the future is done: asyncio's RuntimeError('Event loop
     * stopped before Future completed.'). */
    CHECK_EQ(corio_future_init(&fut, l), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &fut), -EINTR);
    CHECK_EQ(corio_future_done(&fut), 0);
    /* Our internal registration is gone: nothing waits on the future. */
    CHECK_EQ(corio_future_destroy(&fut), 0);

    /* Done and stopped in the same callback: the result is returned, and the
     * loop's bookkeeping stays right for the runs that follow. */
    CHECK_EQ(corio_future_init(&fut, l), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, set_and_stop, l), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &fut), 0);
    CHECK_EQ(corio_future_destroy(&fut), 0);
    reset();
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)(intptr_t)i), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 3);

    /* Bad arguments. */
    CHECK_EQ(corio_loop_run_until_complete(NULL, &fut), -EINVAL);
    CHECK_EQ(corio_loop_run_until_complete(l, NULL), -EINVAL);
    corio_future zero;
    memset(&zero, 0, sizeof zero);
    CHECK_EQ(corio_loop_run_until_complete(l, &zero), -EINVAL);
    CHECK_EQ(corio_loop_run_forever(NULL), -EINVAL);

    /* A future of another loop. */
    corio_loop *other = new_loop(0);
    CHECK_EQ(corio_future_init(&fut, other), 0);
    CHECK_EQ(corio_loop_run_until_complete(l, &fut), -EXDEV);
    CHECK_EQ(corio_future_destroy(&fut), 0);
    close_clean(other);
    close_clean(l);
}

/* ---- run_forever / stop -------------------------------------------------- */

static void stop_and_schedule(void *arg) {
    push((void *)1);
    corio_loop_stop(arg);
    CHECK_EQ(corio_call_soon(NULL, push, (void *)3), 0);
}

static void test_run_forever_stop(void) {
    corio_loop *l = new_loop(0);

    /* Stop before run: the next run performs one iteration (asyncio
     * test_run_once / stop before run_forever). */
    reset();
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)1), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, push_then_schedule, (void *)2), 0);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(lg[0], 1);
    CHECK_EQ(lg[1], 2);
    CHECK_EQ(corio_loop_is_running(l), 0);
    /* The stop was consumed: this run goes on until its own stop. */
    CHECK_EQ(corio_loop_call_soon(l, NULL, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 3);
    CHECK_EQ(lg[2], 3);

    /* Stop from a callback: the rest of that iteration's batch still runs,
     * what it scheduled waits for the next run. */
    reset();
    CHECK_EQ(corio_loop_call_soon(l, NULL, stop_and_schedule, l), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)2), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(lg[0], 1);
    CHECK_EQ(lg[1], 2);
    CHECK_EQ(corio_loop_call_soon(l, NULL, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 3);
    CHECK_EQ(lg[2], 3);

    corio_loop_stop(NULL); /* harmless */
    close_clean(l);
}

static int running_seen;
static corio_loop *current_seen;
static corio_task *task_seen;
static void observe(void *arg) {
    running_seen = corio_loop_is_running(arg);
    current_seen = corio_loop_current();
    task_seen = corio_current_task();
}

static void test_current_loop(void) {
    corio_loop *l = new_loop(0);
    task_seen = (corio_task *)&task_seen;
    CHECK_EQ(corio_loop_call_soon(l, NULL, observe, l), 0);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(running_seen, 1);
    CHECK(current_seen == l);
    CHECK(task_seen == NULL); /* a callback is not a task */
    CHECK(corio_loop_current() == NULL);
    close_clean(l);
}

/* ---- call_soon ------------------------------------------------------------- */

static void test_call_soon_fifo(void) {
    corio_loop *l = new_loop(0);
    reset();
    /* 1000 callbacks, then each of the first 10 schedules another: those
     * run after all 1000 (the next iteration), in the order scheduled. */
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(corio_loop_call_soon(l, NULL, i < 10 ? push_then_schedule : push, (void *)(intptr_t)(i * 10)), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 1000);
    for (int i = 0; i < 1000; i++) CHECK_EQ(lg[i], i * 10);
    CHECK_EQ(corio_loop_call_soon(l, NULL, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 1010);
    for (int i = 0; i < 10; i++) CHECK_EQ(lg[1000 + i], i * 10 + 1);

    /* Errors. */
    CHECK_EQ(corio_call_soon(NULL, push, NULL), -EPERM); /* no loop runs here */
    CHECK_EQ(corio_call_later(NULL, 1, push, NULL), -EPERM);
    CHECK_EQ(corio_call_at(NULL, 1, push, NULL), -EPERM);
    CHECK_EQ(corio_loop_call_soon(l, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_soon(NULL, NULL, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_later(NULL, NULL, 1, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_at(NULL, NULL, 1, push, NULL), -EINVAL);
    corio_handle h = {0};
    CHECK_EQ(corio_loop_call_later(l, &h, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_soon(l, &h, push, NULL), 0);
    /* Already scheduled, in either queue. */
    CHECK_EQ(corio_loop_call_soon(l, &h, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_later(l, &h, 1, push, NULL), -EINVAL);
    CHECK_EQ(corio_handle_cancel(&h), 1);
    CHECK_EQ(corio_loop_call_later(l, &h, 1, push, NULL), 0);
    CHECK_EQ(corio_loop_call_soon(l, &h, push, NULL), -EINVAL);
    CHECK_EQ(corio_handle_cancel(&h), 1);
    close_clean(l);
}

/* ---- call_later / call_at ------------------------------------------------ */

static void test_call_later_order(void) {
    /* asyncio: call_later(d) for d in 0.3, 0.1, 0.2, 0.1, 0, -1, 0.1 and a
     * call_soon: ['soon', (5,-1), (4,0), (1,.1), (3,.1), (6,.1), (2,.2), (0,.3)] */
    corio_loop *l = new_loop(1);
    reset();
    static const double d[] = {0.3, 0.1, 0.2, 0.1, 0, -1, 0.1};
    for (int i = 0; i < 7; i++) CHECK_EQ(corio_loop_call_later(l, NULL, d[i], push, (void *)(intptr_t)i), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)100), 0);
    run_until_stop_at(l, 0.4);
    static const int want[] = {100, 5, 4, 1, 3, 6, 2, 0};
    CHECK_EQ(nlg, 8);
    for (int i = 0; i < 8 && i < nlg; i++) CHECK_EQ(lg[i], want[i]);
    /* The virtual clock stands exactly at each deadline. */
    CHECK(lg_time[0] == 0 && lg_time[1] == 0 && lg_time[2] == 0);
    CHECK(lg_time[3] == 0.1 && lg_time[4] == 0.1 && lg_time[5] == 0.1);
    CHECK(lg_time[6] == 0.2 && lg_time[7] == 0.3);
    CHECK(corio_loop_time(l) == 0.4);

    /* call_at in absolute loop time, and handle_when. */
    reset();
    corio_handle h = {0};
    CHECK_EQ(corio_loop_call_at(l, &h, 2.5, push, (void *)1), 0);
    CHECK(corio_handle_when(&h) == 2.5);
    CHECK_EQ(corio_loop_call_at(l, NULL, 1.5, push, (void *)2), 0);
    CHECK_EQ(corio_loop_call_later(l, NULL, 0.6, push, (void *)3), 0); /* at 1.0 */
    run_until_stop_at(l, 3);
    CHECK_EQ(nlg, 3);
    CHECK_EQ(lg[0], 3);
    CHECK_EQ(lg[1], 2);
    CHECK_EQ(lg[2], 1);
    CHECK(lg_time[0] == 1.0 && lg_time[1] == 1.5 && lg_time[2] == 2.5);
    CHECK(corio_handle_when(&h) == 2.5);
    /* A time in the past runs in the next iteration, after call_soon's. */
    reset();
    CHECK_EQ(corio_loop_call_at(l, NULL, 0, push, (void *)1), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, push, (void *)2), 0);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(lg[0], 2);
    CHECK_EQ(lg[1], 1);
    close_clean(l);
}

/* libuv test-timer.c timer_order: equal deadlines fire in the order set,
 * also with the heap reshuffled by cancellations and other deadlines. */
static void test_equal_deadlines_fifo(void) {
    corio_loop *l = new_loop(1);
    reset();
    enum { N = 600 };
    static corio_handle hs[N];
    memset(hs, 0, sizeof hs);
    for (int i = 0; i < N; i++) {
        double when = 1.0 + (double)((i * 7) % 5); /* five deadlines, interleaved */
        CHECK_EQ(corio_loop_call_at(l, &hs[i], when, push, (void *)(intptr_t)i), 0);
    }
    for (int i = 0; i < N; i += 3) CHECK_EQ(corio_handle_cancel(&hs[i]), 1);
    run_until_stop_at(l, 10);
    CHECK_EQ(nlg, N - N / 3);
    int k = 0;
    for (int dl = 0; dl < 5; dl++)
        for (int i = 0; i < N; i++) {
            if (i % 3 == 0 || (i * 7) % 5 != dl) continue;
            if (k < nlg) {
                CHECK_EQ(lg[k], i);
                CHECK(lg_time[k] == 1.0 + dl);
            }
            k++;
        }
    CHECK_EQ(k, nlg);

    /* call_later with the same delay from the same instant: FIFO as well. */
    reset();
    for (int i = 0; i < 100; i++) CHECK_EQ(corio_loop_call_later(l, NULL, 0.25, push, (void *)(intptr_t)i), 0);
    corio_loop_stop(l); /* the loop's clock does not move before the first run */
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 0);
    run_until_stop_at(l, 20);
    CHECK_EQ(nlg, 100);
    for (int i = 0; i < 100; i++) CHECK_EQ(lg[i], i);
    close_clean(l);
}

/* Many timers with deadlines that repeat, near and beyond a few seconds
 * (the loop keeps near deadlines in a wheel in front of its heap), some
 * cancelled before the run and some by an earlier callback: they fire in
 * (deadline, order armed) order, each not before its deadline. */
#define MODEL_N 3000
static corio_handle model_h[MODEL_N];
static int model_k[MODEL_N], model_victim[MODEL_N];
static int model_by_order(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return model_k[x] != model_k[y] ? (model_k[x] > model_k[y]) - (model_k[x] < model_k[y]) : (x > y) - (x < y);
}
static void model_fire(void *arg) {
    int i = (int)(intptr_t)arg;
    push(arg);
    if (model_victim[i] >= 0) corio_handle_cancel(&model_h[model_victim[i]]);
}

/* q: the deadlines' quantum (s); 4,000 quanta. */
static void timer_model(double q) {
    corio_loop *l = new_loop(1);
    reset();
    double t0 = corio_loop_time(l);
    uint32_t r = 12345;
    static int cancelled[MODEL_N], order[MODEL_N];
    for (int i = 0; i < MODEL_N; i++) {
        r = r * 1103515245u + 12345u;
        model_k[i] = (int)((r >> 8) % 4000u); /* up to 5 s ahead */
        if (i % 7 == 3) model_k[i] = model_k[i - 1]; /* equal deadlines */
        model_victim[i] = -1;
        cancelled[i] = 0;
        order[i] = i;
        CHECK_EQ(corio_loop_call_at(l, &model_h[i], t0 + q * model_k[i], model_fire, (void *)(intptr_t)i), 0);
    }
    for (int i = 0; i < MODEL_N; i += 4) {
        CHECK_EQ(corio_handle_cancel(&model_h[i]), 1);
        cancelled[i] = 1;
    }
    qsort(order, MODEL_N, sizeof order[0], model_by_order);
    /* Every 5th timer that will fire cancels one that fires after it. */
    for (int p = 0; p + 9 < MODEL_N; p += 5)
        if (!cancelled[order[p]]) model_victim[order[p]] = order[p + 9];
    int expect[MODEL_N], nexp = 0;
    for (int p = 0; p < MODEL_N; p++) {
        int i = order[p];
        if (cancelled[i]) continue;
        expect[nexp++] = i;
        if (model_victim[i] >= 0) cancelled[model_victim[i]] = 1;
    }
    run_until_stop_at(l, t0 + 10);
    CHECK_EQ(nlg, nexp);
    for (int j = 0; j < nlg && j < nexp; j++) {
        CHECK_EQ(lg[j], expect[j]);
        CHECK(lg_time[j] >= t0 + q * model_k[lg[j]] - 1e-6);
        if (j) CHECK(lg_time[j] >= lg_time[j - 1]);
    }
    close_clean(l);
}

/* Spread over 5 s: a few timers in each of the wheel's slots. */
static void test_timer_model(void) { timer_model(0.00125); }

/* Within 80 us: all in one or two slots, so a slot's timers are sorted by
 * quicksort, not only by insertion, and cancels hit a sorted slot. */
static void test_timer_model_dense(void) { timer_model(2e-8); }

/* A callback that arms timers in the slot being fired (they go to the
 * heap, the slot's timers are sorted apart): the two merge in (deadline,
 * order armed). */
static double dense_t0;
static void arm_into_slot(void *arg) {
    push(arg);
    CHECK_EQ(corio_loop_call_at(corio_loop_current(), NULL, dense_t0 + 60e-9, push, (void *)(intptr_t)4), 0);
    CHECK_EQ(corio_loop_call_at(corio_loop_current(), NULL, dense_t0 + 40e-9, push, (void *)(intptr_t)3), 0);
}

static void test_timer_slot_and_heap_merge(void) {
    corio_loop *l = new_loop(1);
    reset();
    dense_t0 = corio_loop_time(l) + 1.0;
    CHECK_EQ(corio_loop_call_at(l, NULL, dense_t0 + 80e-9, push, (void *)(intptr_t)5), 0);
    CHECK_EQ(corio_loop_call_at(l, NULL, dense_t0 + 40e-9, push, (void *)(intptr_t)2), 0);
    CHECK_EQ(corio_loop_call_at(l, NULL, dense_t0, arm_into_slot, (void *)(intptr_t)1), 0);
    run_until_stop_at(l, dense_t0 + 1);
    CHECK_EQ(nlg, 5);
    for (int i = 0; i < nlg; i++) CHECK_EQ(lg[i], i + 1);
    close_clean(l);
}

/* The slot sort itself (timer.c), on the shapes that break quicksorts:
 * sorted, reversed, organ pipe, all deadlines equal, random with
 * repeats; and with depth 0, its heap-sort fallback. */
void corio__timer_sort(corio__timer **v, size_t n, unsigned depth);

static void test_timer_sort(void) {
    enum { N = 700 };
    static corio__timer t[N];
    static corio__timer *v[N];
    uint32_t r = 777;
    for (int shape = 0; shape < 5; shape++)
        for (size_t n = 0; n <= N; n += (n < 40 ? 1 : 97))
            for (unsigned depth = 0; depth <= 40; depth += 40) {
                for (size_t i = 0; i < n; i++) {
                    r = r * 1103515245u + 12345u;
                    int64_t w = shape == 0 ? (int64_t)i : shape == 1 ? (int64_t)(n - i) : shape == 2 ? (int64_t)(i < n / 2 ? i : n - i) : shape == 3 ? 5 : (int64_t)((r >> 8) % 50u);
                    t[i] = (corio__timer){.when = w, .seq = (uint64_t)(i * 7919 % N)};
                    v[i] = &t[i];
                }
                corio__timer_sort(v, n, depth);
                for (size_t i = 1; i < n; i++)
                    CHECK(v[i - 1]->when < v[i]->when || (v[i - 1]->when == v[i]->when && v[i - 1]->seq < v[i]->seq));
                /* A permutation: every timer once. */
                uint8_t seen[N] = {0};
                for (size_t i = 0; i < n; i++) seen[v[i] - t]++;
                for (size_t i = 0; i < n; i++) CHECK_EQ(seen[i], 1);
            }
}

/* ---- cancelling handles ---------------------------------------------------- */

static corio_handle ch[4];
static int cancel_rc[4];
static void cancel_other(void *arg) {
    push(arg);
    cancel_rc[(intptr_t)arg] = corio_handle_cancel(&ch[(intptr_t)arg + 1]);
}
static void cancel_self(void *arg) {
    push(arg);
    cancel_rc[(intptr_t)arg] = corio_handle_cancel(&ch[(intptr_t)arg]);
}

static void test_cancel_handles(void) {
    corio_loop *l = new_loop(1);
    memset(ch, 0, sizeof ch);

    /* Before it runs. */
    reset();
    CHECK_EQ(corio_handle_cancelled(&ch[0]), 0);
    CHECK_EQ(corio_loop_call_soon(l, &ch[0], push, (void *)0), 0);
    CHECK_EQ(corio_handle_cancel(&ch[0]), 1);
    CHECK_EQ(corio_handle_cancelled(&ch[0]), 1);
    CHECK_EQ(corio_handle_cancel(&ch[0]), 0);
    CHECK_EQ(corio_loop_call_later(l, &ch[1], 1, push, (void *)1), 0);
    CHECK_EQ(corio_handle_cancel(&ch[1]), 1);
    CHECK_EQ(corio_handle_cancelled(&ch[1]), 1);
    run_until_stop_at(l, 2);
    CHECK_EQ(nlg, 0);
    CHECK_EQ(corio_handle_cancel(NULL), -EINVAL);
    CHECK_EQ(corio_handle_cancelled(NULL), 0);

    /* From inside another callback of the same batch: 0 cancels 1 (soon),
     * 2 cancels 3 (a timer due in the same iteration). */
    reset();
    memset(ch, 0, sizeof ch);
    CHECK_EQ(corio_loop_call_soon(l, &ch[0], cancel_other, (void *)0), 0);
    CHECK_EQ(corio_loop_call_soon(l, &ch[1], push, (void *)1), 0);
    CHECK_EQ(corio_loop_call_later(l, &ch[2], 1, cancel_other, (void *)2), 0);
    CHECK_EQ(corio_loop_call_later(l, &ch[3], 1, push, (void *)3), 0);
    run_until_stop_at(l, 5);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(lg[0], 0);
    CHECK_EQ(lg[1], 2);
    CHECK_EQ(cancel_rc[0], 1);
    CHECK_EQ(cancel_rc[2], 1);
    CHECK_EQ(corio_handle_cancelled(&ch[1]), 1);
    CHECK_EQ(corio_handle_cancelled(&ch[3]), 1);
    CHECK_EQ(corio_handle_cancelled(&ch[0]), 0);

    /* From inside itself: it is running, so there is nothing to cancel. */
    reset();
    memset(ch, 0, sizeof ch);
    CHECK_EQ(corio_loop_call_soon(l, &ch[0], cancel_self, (void *)0), 0);
    CHECK_EQ(corio_loop_call_later(l, &ch[1], 1, cancel_self, (void *)1), 0);
    run_until_stop_at(l, 7);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(cancel_rc[0], 0);
    CHECK_EQ(cancel_rc[1], 0);

    /* After it ran: 0, not cancelled; the handle can be scheduled again. */
    CHECK_EQ(corio_handle_cancel(&ch[0]), 0);
    CHECK_EQ(corio_handle_cancelled(&ch[0]), 0);
    CHECK_EQ(corio_loop_call_soon(l, &ch[0], push, (void *)9), 0);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 3);
    CHECK_EQ(lg[2], 9);
    /* A cancelled handle can be scheduled again too, and is no longer cancelled. */
    CHECK_EQ(corio_loop_call_soon(l, &ch[0], push, (void *)10), 0);
    CHECK_EQ(corio_handle_cancel(&ch[0]), 1);
    CHECK_EQ(corio_loop_call_soon(l, &ch[0], push, (void *)11), 0);
    CHECK_EQ(corio_handle_cancelled(&ch[0]), 0);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 4);
    CHECK_EQ(lg[3], 11);
    close_clean(l);
}

/* A handle cancelled by an earlier one of the same iteration must not let a
 * callback of the next iteration run early.  asyncio: ['A', 'C'] then ['D']. */
static corio_handle hb_;
static void cb_a(void *arg) {
    push((void *)1);
    CHECK_EQ(corio_call_soon(NULL, push, (void *)4), 0);
    CHECK_EQ(corio_handle_cancel(&hb_), 1);
    (void)arg;
}
static void cb_c(void *arg) {
    push((void *)3);
    corio_loop_stop(arg);
}

static void test_cancel_keeps_iteration(void) {
    corio_loop *l = new_loop(1);
    reset();
    memset(&hb_, 0, sizeof hb_);
    CHECK_EQ(corio_loop_call_soon(l, NULL, cb_a, NULL), 0);
    CHECK_EQ(corio_loop_call_soon(l, &hb_, push, (void *)2), 0);
    CHECK_EQ(corio_loop_call_soon(l, NULL, cb_c, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 2);
    CHECK_EQ(lg[0], 1);
    CHECK_EQ(lg[1], 3);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 3);
    CHECK_EQ(lg[2], 4);
    close_clean(l);
}

/* ---- huge, negative and invalid times -------------------------------------- */

static void test_huge_and_negative_delays(void) {
    corio_loop *l = new_loop(1);
    corio_handle h1 = {0}, h2 = {0}, h3 = {0};
    reset();
    /* Huge: clamped to a far but finite deadline, no overflow into the past. */
    CHECK_EQ(corio_loop_call_later(l, &h1, 1e300, push, (void *)1), 0);
    CHECK_EQ(corio_loop_call_later(l, &h2, DBL_MAX, push, (void *)2), 0);
    CHECK_EQ(corio_loop_call_at(l, &h3, 1e300, push, (void *)3), 0);
    const double century = 100.0 * 365 * 86400;
    CHECK(corio_handle_when(&h1) > century);
    CHECK(corio_handle_when(&h2) > century);
    CHECK(corio_handle_when(&h3) > century);
    CHECK(isfinite(corio_handle_when(&h1)));
    /* Negative and hugely negative: due at once, in deadline order. */
    CHECK_EQ(corio_loop_call_later(l, NULL, -1e300, push, (void *)4), 0);
    CHECK_EQ(corio_loop_call_later(l, NULL, -5, push, (void *)5), 0);
    CHECK_EQ(corio_loop_call_at(l, NULL, -DBL_MAX, push, (void *)6), 0);
    CHECK_EQ(corio_loop_call_later(l, NULL, -0.0, push, (void *)7), 0);
    run_until_stop_at(l, 1);
    CHECK_EQ(nlg, 4);
    CHECK_EQ(lg[0], 4); /* -1e300 and -DBL_MAX clamp to the same instant: FIFO */
    CHECK_EQ(lg[1], 6);
    CHECK_EQ(lg[2], 5);
    CHECK_EQ(lg[3], 7);
    CHECK(lg_time[0] == 0);

    CHECK_EQ(corio_handle_cancel(&h1), 1);
    CHECK_EQ(corio_handle_cancel(&h2), 1);
    CHECK_EQ(corio_handle_cancel(&h3), 1);
    close_clean(l);
}

/* The virtual clock can jump all the way to a huge deadline: the huge
 * timers fire in the order they were set, and jumping again and again never
 * wraps the clock or a deadline into the past (libuv timer_huge_timeout). */
static void test_huge_timers_fire(void) {
    corio_loop *l = new_loop(1);
    reset();
    CHECK_EQ(corio_loop_call_later(l, NULL, 1e300, push, (void *)1), 0);
    CHECK_EQ(corio_loop_call_later(l, NULL, DBL_MAX, push, (void *)2), 0);
    CHECK_EQ(corio_loop_call_later(l, NULL, 1e20, push, (void *)3), 0);
    CHECK_EQ(corio_loop_call_later(l, NULL, 1e300, stop_loop, l), 0);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK_EQ(nlg, 3);
    CHECK_EQ(lg[0], 1);
    CHECK_EQ(lg[1], 2);
    CHECK_EQ(lg[2], 3);
    CHECK(lg_time[0] > 100.0 * 365 * 86400);
    CHECK(corio_loop_time(l) > 0);
    /* Jump again, and again: deadlines saturate instead of wrapping. */
    for (int round = 0; round < 4; round++) {
        double now = corio_loop_time(l);
        corio_handle h = {0};
        CHECK_EQ(corio_loop_call_later(l, &h, 1e300, push, (void *)(intptr_t)(10 + round)), 0);
        CHECK(corio_handle_when(&h) >= now);
        CHECK_EQ(corio_loop_call_later(l, NULL, 1e300, stop_loop, l), 0);
        CHECK_EQ(corio_loop_run_forever(l), 0);
        CHECK_EQ(nlg, 4 + round);
        CHECK_EQ(lg[3 + round], 10 + round);
        CHECK(corio_loop_time(l) >= now);
    }
    close_clean(l);
}

static void test_nan_infinity(void) {
    corio_loop *l = new_loop(0);
    corio_handle h = {0};
    CHECK_EQ(corio_loop_call_later(l, &h, NAN, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_later(l, &h, INFINITY, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_later(l, &h, -INFINITY, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_at(l, &h, NAN, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_at(l, &h, INFINITY, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_at(l, &h, -INFINITY, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_later(l, NULL, NAN, push, NULL), -EINVAL);
    CHECK_EQ(corio_loop_call_at(l, NULL, INFINITY, push, NULL), -EINVAL);
    /* Refused calls left the handle unscheduled. */
    CHECK_EQ(corio_handle_cancel(&h), 0);
    CHECK_EQ(corio_loop_call_later(l, &h, 1, push, NULL), 0);
    CHECK_EQ(corio_handle_cancel(&h), 1);
    close_clean(l); /* and nothing library-owned was left behind */
}

/* ---- time --------------------------------------------------------------------- */

static double times_in_cb[2];
static void read_times(void *arg) {
    times_in_cb[0] = corio_time();
    times_in_cb[1] = corio_loop_time(arg);
}

static void test_time_monotonic(void) {
    double prev = corio_time();
    for (int i = 0; i < 10000; i++) {
        double t = corio_time();
        CHECK(t >= prev);
        prev = t;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double mono = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    CHECK(fabs(corio_time() - mono) < 1.0); /* no loop runs: the monotonic clock */
    CHECK(fabs(corio_loop_time(NULL) - mono) < 1.0);

    corio_loop *l = new_loop(0);
    CHECK(corio_loop_time(l) >= prev);
    CHECK_EQ(corio_loop_call_soon(l, NULL, read_times, l), 0);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    CHECK(times_in_cb[0] >= prev);
    CHECK(times_in_cb[1] >= times_in_cb[0]);
    close_clean(l);
}

static int t_sleep_hour(void *arg) {
    (void)arg;
    CHECK(corio_time() == 0);
    CHECK_EQ(corio_sleep(3600), 0);
    CHECK(corio_time() == 3600);
    CHECK_EQ(corio_sleep(0.001), 0);
    CHECK(fabs(corio_time() - 3600.001) < 1e-9);
    return 0;
}

static void test_virtual_clock(void) {
    CHECK_EQ(corio_loop_use_virtual_clock(NULL), -EINVAL);
    corio_loop *l = new_loop(1);
    CHECK(corio_loop_time(l) == 0);
    /* Idle time does not pass on a virtual clock. */
    corio_handle h = {0};
    CHECK_EQ(corio_loop_call_later(l, &h, 2, push, NULL), 0);
    CHECK(corio_handle_when(&h) == 2);
    CHECK_EQ(corio_handle_cancel(&h), 1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    corio_task *t = corio_loop_spawn(l, t_sleep_hour, NULL, NULL);
    CHECK_EQ(corio_loop_run_until_complete(l, corio_task_future(t)), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK(b.tv_sec - a.tv_sec < 30); /* an hour of virtual time takes no real hour */
    CHECK_EQ(corio_task_detach(t), 0);
    /* Too late once the loop ran. */
    CHECK_EQ(corio_loop_use_virtual_clock(l), -EBUSY);
    close_clean(l);
}

/* ---- several loops ------------------------------------------------------------- */

static int t_count(void *arg) {
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) corio_yield();
    return n;
}

static void test_two_loops_one_thread(void) {
    corio_loop *a = new_loop(0), *b = new_loop(0);
    for (int round = 0; round < 3; round++) {
        corio_loop *l = round == 1 ? b : a;
        corio_task *t = corio_loop_spawn(l, t_count, (void *)(intptr_t)(10 + round), NULL);
        CHECK_EQ(corio_loop_run_until_complete(l, corio_task_future(t)), 0);
        CHECK_EQ(corio_task_result(t), 10 + round);
        CHECK_EQ(corio_task_detach(t), 0);
        CHECK(corio_loop_current() == NULL);
    }
    /* A task of one loop cannot be run by the other. */
    corio_task *t = corio_loop_spawn(a, t_count, (void *)1, NULL);
    CHECK_EQ(corio_loop_run_until_complete(b, corio_task_future(t)), -EXDEV);
    CHECK_EQ(corio_loop_run_until_complete(a, corio_task_future(t)), 0);
    CHECK_EQ(corio_task_detach(t), 0);
    close_clean(a);
    close_clean(b);
}

static corio_loop *nest_other;
static int nest_rc[5];
static int nest_main(void *arg) { return (int)(intptr_t)arg; }
static void try_nested(void *arg) {
    corio_loop *self = arg;
    CHECK_EQ(corio_future_init(&fut, nest_other), 0);
    nest_rc[0] = corio_loop_run_forever(self);
    nest_rc[1] = corio_loop_run_until_complete(self, &fut);
    nest_rc[2] = corio_loop_run_forever(nest_other);
    nest_rc[3] = corio_loop_run_until_complete(nest_other, &fut);
    nest_rc[4] = corio_run(nest_main, (void *)1);
    CHECK_EQ(corio_future_destroy(&fut), 0);
}

static int t_try_nested(void *arg) {
    try_nested(arg);
    return 0;
}

static void test_nested_run(void) {
    corio_loop *l = new_loop(0);
    nest_other = new_loop(0);
    memset(nest_rc, 0, sizeof nest_rc);
    CHECK_EQ(corio_loop_call_soon(l, NULL, try_nested, l), 0);
    corio_loop_stop(l);
    CHECK_EQ(corio_loop_run_forever(l), 0);
    for (int i = 0; i < 5; i++) CHECK_EQ(nest_rc[i], -EBUSY);
    /* Same from a task. */
    memset(nest_rc, 0, sizeof nest_rc);
    corio_task *t = corio_loop_spawn(l, t_try_nested, l, NULL);
    CHECK_EQ(corio_loop_run_until_complete(l, corio_task_future(t)), 0);
    CHECK_EQ(corio_task_detach(t), 0);
    for (int i = 0; i < 5; i++) CHECK_EQ(nest_rc[i], -EBUSY);
    CHECK(corio_loop_current() == NULL);
    close_clean(nest_other);
    close_clean(l);
}

/* Loops in two threads at the same time, each with its own tasks, timers
 * (on its virtual clock) and callbacks. */
typedef struct thr_arg {
    pthread_barrier_t *bar;
    int id;
    long sum;
    int ok;
} thr_arg;

static int t_thr_child(void *arg) {
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 50; i++) {
        if (corio_yield() != 0) return -1;
        if (i % 10 == 0 && corio_sleep(0.001 * (id % 7 + 1)) != 0) return -1;
    }
    return id;
}

static int t_thr_main(void *arg) {
    thr_arg *ta = arg;
    corio_task *ts[100];
    for (int i = 0; i < 100; i++) {
        ts[i] = corio_spawn(t_thr_child, (void *)(intptr_t)(ta->id * 1000 + i));
        if (!ts[i]) return -1;
    }
    long sum = 0;
    for (int i = 0; i < 100; i++) sum += corio_join(ts[i]);
    ta->sum = sum;
    return 0;
}

static void *thr_body(void *p) {
    thr_arg *ta = p;
    corio_loop *l = corio_loop_new();
    if (!l) return NULL;
    corio_loop_use_virtual_clock(l);
    pthread_barrier_wait(ta->bar);
    corio_task *t = corio_loop_spawn(l, t_thr_main, ta, NULL);
    int rc = t ? corio_loop_run_until_complete(l, corio_task_future(t)) : -1;
    if (t) corio_task_detach(t);
    ta->ok = rc == 0 && corio_loop_current() == NULL && corio_loop_close(l) == 0;
    return NULL;
}

static void test_loops_in_two_threads(void) {
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    thr_arg a[2] = {{&bar, 1, 0, 0}, {&bar, 2, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&th[i], NULL, thr_body, &a[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(a[i].ok, 1);
        CHECK_EQ(a[i].sum, 100L * a[i].id * 1000 + 4950);
    }
    CHECK(corio_loop_current() == NULL);
}

/* call_soon_threadsafe from the loop's own thread keeps its place among
 * call_soon's (Python 3.13 prints [1, 2, 3, 4]). */
static int order_out[8], order_n;
static void order_push(void *arg) { order_out[order_n++] = (int)(intptr_t)arg; }
static int threadsafe_order_main(void *arg) {
    (void)arg;
    corio_loop *loop = corio_loop_current();
    order_n = 0;
    CHECK_EQ(corio_loop_call_soon_threadsafe(loop, order_push, (void *)1), 0);
    CHECK_EQ(corio_call_soon(NULL, order_push, (void *)2), 0);
    CHECK_EQ(corio_loop_call_soon_threadsafe(loop, order_push, (void *)3), 0);
    CHECK_EQ(corio_call_soon(NULL, order_push, (void *)4), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(order_n, 4);
    for (int i = 0; i < order_n; i++) CHECK_EQ(order_out[i], i + 1);
    return 0;
}
static void test_threadsafe_order_on_own_thread(void) { CHECK_EQ(test_run(threadsafe_order_main, NULL, 0), 0); }

/* Tasks that only yield must not keep the loop from polling: two of them
 * spin while a third waits for a pipe that a fourth writes after 10 ms.
 * (The loop once restored a quarter turn's budget every iteration instead
 * of after a poll, and two yielding tasks then starved every descriptor
 * for good.) */
static volatile int spin_done;
static long spin_count;
static int spin_pipe[2];
static int spin_yielder(void *a) {
    (void)a;
    while (!spin_done) {
        if (corio_yield() < 0) break;
        spin_count++;
    }
    return 0;
}
static int spin_reader(void *a) {
    (void)a;
    int rc = corio_wait_readable(spin_pipe[0]);
    spin_done = 1;
    return rc;
}
static int spin_writer(void *a) {
    (void)a;
    CHECK_EQ(corio_sleep(0.01), 0);
    CHECK_EQ(write(spin_pipe[1], "x", 1), 1);
    return 0;
}
static int yielders_main(void *arg) {
    (void)arg;
    spin_done = 0;
    spin_count = 0;
    CHECK_EQ(pipe(spin_pipe), 0);
    double t0 = corio_time();
    corio_task *r = corio_spawn(spin_reader, NULL), *w = corio_spawn(spin_writer, NULL);
    corio_task *y1 = corio_spawn(spin_yielder, NULL), *y2 = corio_spawn(spin_yielder, NULL);
    CHECK_EQ(corio_join(r), 0);
    CHECK_EQ(corio_join(w), 0);
    CHECK_EQ(corio_join(y1), 0);
    CHECK_EQ(corio_join(y2), 0);
    CHECK(corio_time() - t0 < 2.0);
    CHECK(spin_count > 0);
    corio_forget_fd(spin_pipe[0]);
    close(spin_pipe[0]);
    close(spin_pipe[1]);
    return 0;
}
static void test_yielders_do_not_starve_io(void) { CHECK_EQ(test_run(yielders_main, NULL, 0), 0); }

/* test_check_thread (asyncio test_base_events): call_soon / call_later on a
 * loop running in another thread are refused (-EPERM), call_soon_threadsafe
 * is the way in; on a loop that does not run, from any thread, they work. */
static corio_loop *other_loop;
static int other_rc[3];
static void nop_cb(void *arg) { (void)arg; }
static void *call_from_other(void *arg) {
    (void)arg;
    other_rc[0] = corio_loop_call_soon(other_loop, NULL, nop_cb, NULL);
    other_rc[1] = corio_loop_call_later(other_loop, NULL, 0.5, nop_cb, NULL);
    other_rc[2] = corio_loop_call_soon_threadsafe(other_loop, nop_cb, NULL);
    return NULL;
}

static int check_thread_main(void *arg) {
    (void)arg;
    other_loop = corio_loop_current();
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, call_from_other, NULL), 0);
    CHECK_EQ(pthread_join(th, NULL), 0); /* blocks the loop a moment: fine here */
    CHECK_EQ(other_rc[0], -EPERM);
    CHECK_EQ(other_rc[1], -EPERM);
    CHECK_EQ(other_rc[2], 0);
    CHECK_EQ(corio_yield(), 0); /* the threadsafe post runs */
    return 0;
}

static void *schedule_idle(void *arg) {
    corio_handle *h = arg;
    other_rc[0] = corio_loop_call_soon(other_loop, h, nop_cb, NULL);
    return NULL;
}

static void test_check_thread(void) {
    CHECK_EQ(test_run(check_thread_main, NULL, 0), 0);
    /* A loop that is not running may be scheduled on from any thread. */
    other_loop = corio_loop_new();
    corio_handle h = {0};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, schedule_idle, &h), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(other_rc[0], 0);
    CHECK_EQ(corio_handle_cancel(&h), 1);
    CHECK_EQ(corio_loop_close(other_loop), 0);
}

int main(void) {
    RUN_TEST(test_new_close);
    RUN_TEST(test_close_not_empty);
    RUN_TEST(test_close_inside);
    RUN_TEST(test_run_until_complete);
    RUN_TEST(test_run_forever_stop);
    RUN_TEST(test_current_loop);
    RUN_TEST(test_call_soon_fifo);
    RUN_TEST(test_call_later_order);
    RUN_TEST(test_equal_deadlines_fifo);
    RUN_TEST(test_timer_model);
    RUN_TEST(test_timer_model_dense);
    RUN_TEST(test_timer_slot_and_heap_merge);
    RUN_TEST(test_timer_sort);
    RUN_TEST(test_cancel_handles);
    RUN_TEST(test_cancel_keeps_iteration);
    RUN_TEST(test_huge_and_negative_delays);
    RUN_TEST(test_huge_timers_fire);
    RUN_TEST(test_nan_infinity);
    RUN_TEST(test_time_monotonic);
    RUN_TEST(test_virtual_clock);
    RUN_TEST(test_two_loops_one_thread);
    RUN_TEST(test_nested_run);
    RUN_TEST(test_loops_in_two_threads);
    RUN_TEST(test_threadsafe_order_on_own_thread);
    RUN_TEST(test_yielders_do_not_starve_io);
    RUN_TEST(test_check_thread);
    TEST_MAIN_END();
}
