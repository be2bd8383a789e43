/*
 * test_cancel_msg.c - cancel messages (asyncio Task.cancel(msg),
 * Future.cancel(msg), CancelledError's args).  The CPython cases are
 * ported from Lib/test/test_asyncio/test_tasks.py (3.13): test_cancel_
 * with_message_then_future_result / _exception, test_cancellation_
 * exception_context, test_cancel_with_message_before_starting_task.  The
 * rest are scenarios run on Python 3.13.0 first; each case names what
 * asyncio printed (an args tuple: () is no message).
 */
#include "test.h"

static int streq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }
#define CHECK_MSG(got, want)                                                                              \
    do {                                                                                                  \
        const char *g_ = (got), *w_ = (want);                                                             \
        if (!streq(g_, w_)) {                                                                             \
            fprintf(stderr, "%s:%d: message %s: \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got,         \
                    g_ ? g_ : "(none)", w_ ? w_ : "(none)");                                              \
            test_failures++;                                                                              \
        }                                                                                                 \
    } while (0)
static const char *my_msg(void) { return corio_task_cancel_message(corio_current_task()); }

static int sleeper(void *arg) {
    (void)arg;
    return corio_sleep(10);
}

/* ---- CPython's cases ------------------------------------------------------------ */

/* test_cancel_with_message_then_future_result / _exception: the cases
 * (), (None,) and ('my message',) (a C message is a string: the (5,) case
 * has no counterpart).  The outer task reads the inner task's result after
 * wait() and lets its CancelledError propagate: the outer task ends
 * cancelled with the inner's message. */
typedef struct { const char *msg; int use_msg; } then_result;
static int then_result_coro(void *arg) {
    then_result *c = arg;
    corio_task *t = corio_spawn(sleeper, NULL);
    CHECK_EQ(corio_sleep(0), 0);
    if (c->use_msg)
        CHECK_EQ(corio_cancel_msg(t, c->msg), 1);
    else
        CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_wait_tasks(&t, 1, CORIO_ALL_COMPLETED, INFINITY, NULL, NULL), 1);
    int rc = corio_task_result(t); /* task.result() raises here */
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(corio_task_cancel_message(t), c->msg);
    corio_task_detach(t);
    return rc;
}
static int then_result_main(void *arg) {
    corio_task *t = corio_spawn(then_result_coro, arg);
    corio_task_ref(t);
    CHECK_EQ(corio_join(t), -ECANCELED); /* run_until_complete raises CancelledError(*expected_args) */
    CHECK(corio_task_cancelled(t));
    CHECK_MSG(corio_task_cancel_message(t), ((then_result *)arg)->msg);
    CHECK_MSG(my_msg(), ((then_result *)arg)->msg); /* the joiner's CancelledError */
    corio_task_detach(t);
    return 0;
}
static void test_cancel_with_message_then_future_result(void) {
    then_result cases[] = {{NULL, 0}, {NULL, 1}, {"my message", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK_EQ(test_run(then_result_main, &cases[i], 1), 0);
}

/* test_cancellation_exception_context: the awaiting task catches the
 * inner task's CancelledError('msg') and fails with an error of its own;
 * the CancelledError it caught carried 'msg'. */
static void cancel_with_msg_cb(void *arg) { corio_cancel_msg(arg, "msg"); }
static int ctx_sleep(void *arg) {
    corio_future_set_result(arg, 0);
    return corio_sleep(10);
}
static int ctx_coro(void *arg) {
    corio_future *fut = arg;
    corio_task *inner = corio_spawn(ctx_sleep, fut);
    CHECK_EQ(corio_await(fut, NULL), 0);
    corio_handle h = {0};
    corio_call_soon(&h, cancel_with_msg_cb, inner);
    int rc = corio_join(inner);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), "msg");
    return -EINVAL; /* raise ValueError("cancelled") from ex */
}
static int ctx_main(void *arg) {
    (void)arg;
    corio_future fut;
    corio_future_init(&fut, NULL);
    CHECK_EQ(corio_join(corio_spawn(ctx_coro, &fut)), -EINVAL);
    return 0;
}
static void test_cancellation_exception_context(void) { CHECK_EQ(test_run(ctx_main, NULL, 1), 0); }

/* test_cancel_with_message_before_starting_task. */
static int before_start_coro(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(sleeper, NULL);
    CHECK_EQ(corio_cancel_msg(t, "my message"), 1);
    CHECK_EQ(corio_wait_tasks(&t, 1, CORIO_ALL_COMPLETED, INFINITY, NULL, NULL), 1);
    int rc = corio_task_result(t);
    corio_task_detach(t);
    return rc;
}
static int before_start_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_join(corio_spawn(before_start_coro, NULL)), -ECANCELED);
    CHECK_MSG(my_msg(), "my message");
    return 0;
}
static void test_cancel_with_message_before_starting_task(void) { CHECK_EQ(test_run(before_start_main, NULL, 1), 0); }

/* ---- scenarios run on 3.13 ------------------------------------------------------ */

/* The cancelled code itself sees the message; the joiner too ('m1'). */
static int sees_own(void *arg) {
    (void)arg;
    CHECK_EQ(corio_sleep(10), -ECANCELED);
    CHECK_MSG(my_msg(), "m1");
    return -ECANCELED;
}
/* Spawn fn(arg), let it start, cancel it with msg: it finishes cancelled
 * and joining it hands the message to the caller. */
static void cancel_joined(corio_task_fn fn, void *arg, const char *msg) {
    corio_task *t = corio_spawn(fn, arg);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel_msg(t, msg), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_MSG(my_msg(), msg);
}
static int join_main(void *arg) {
    (void)arg;
    cancel_joined(sees_own, NULL, "m1");
    return 0;
}
static void test_join_sees_message(void) { CHECK_EQ(test_run(join_main, NULL, 1), 0); }

/* A gathered child cancelled from elsewhere with 'm2': gather raises it. */
static void cancel_m2(void *arg) { corio_cancel_msg(arg, "m2"); }
static int gather_child_main(void *arg) {
    (void)arg;
    corio_task *ts[2] = {corio_spawn(sleeper, NULL), corio_spawn(sleeper, NULL)};
    CHECK_EQ(corio_sleep(0), 0);
    corio_handle h = {0};
    corio_call_soon(&h, cancel_m2, ts[0]);
    CHECK_EQ(corio_gather_tasks(ts, 2, 0), -ECANCELED);
    CHECK_MSG(my_msg(), "m2");
    corio_cancel(ts[1]);
    CHECK_EQ(corio_join(ts[0]), -ECANCELED);
    CHECK_EQ(corio_join(ts[1]), -ECANCELED);
    CHECK_MSG(my_msg(), NULL); /* ts[1] was cancelled with no message */
    return 0;
}
static void test_gather_child_message(void) { CHECK_EQ(test_run(gather_child_main, NULL, 1), 0); }

static int kept_m3(void *arg) {
    CHECK_MSG(my_msg(), NULL);
    CHECK_EQ(corio_future_result(arg, NULL), -ECANCELED);
    CHECK_MSG(my_msg(), "m3");
    return 1;
}
/* A task in gather() (tasks, and plain futures) cancelled with 'm3': the
 * body and the joiner see it. */
static int gather_body(void *arg) {
    int plain = *(int *)arg;
    int rc;
    if (plain) {
        corio_future fs[2];
        corio_future_init(&fs[0], NULL);
        corio_future_init(&fs[1], NULL);
        corio_future *p[2] = {&fs[0], &fs[1]};
        rc = corio_gather(p, 2, 0);
        CHECK(corio_future_cancelled(&fs[0]) && corio_future_cancelled(&fs[1]));
        /* Cancelled with the message, which each keeps until destroyed
         * (asyncio: child.cancel(msg=msg)); a fresh task reads it. */
        CHECK_EQ(corio_join(corio_spawn(kept_m3, &fs[1])), 1);
        CHECK_EQ(corio_future_destroy(&fs[0]), 0);
        CHECK_EQ(corio_future_destroy(&fs[1]), 0);
    } else {
        corio_task *ts[2] = {corio_spawn(sleeper, NULL), corio_spawn(sleeper, NULL)};
        rc = corio_gather_tasks(ts, 2, 0);
        CHECK_MSG(corio_task_cancel_message(ts[1]), "m3");
        corio_join(ts[0]);
        corio_join(ts[1]);
    }
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), "m3");
    return rc;
}
static int gather_outer_main(void *arg) {
    corio_task *t = corio_spawn(gather_body, arg);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel_msg(t, "m3"), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_MSG(my_msg(), "m3");
    return 0;
}
static void test_gather_outer_message(void) {
    int plain = 0;
    CHECK_EQ(test_run(gather_outer_main, &plain, 1), 0);
    plain = 1;
    CHECK_EQ(test_run(gather_outer_main, &plain, 1), 0);
}

/* wait_for(sleeper(), 5) in a task cancelled with 'm4'. */
static int wait_for_body(void *arg) {
    (void)arg;
    corio_task *in = corio_spawn(sleeper, NULL);
    int rc = corio_wait_for(corio_task_future(in), 5, NULL);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), "m4");
    CHECK_MSG(corio_task_cancel_message(in), "m4");
    corio_task_detach(in);
    return rc;
}
/* timeout(5) around a sleep, cancelled with 'm6': passes through. */
static int timeout_body(void *arg) {
    (void)arg;
    corio_timeout to;
    corio_timeout_enter(&to, 5);
    int rc = corio_timeout_exit(&to, corio_sleep(10));
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), "m6");
    return rc;
}
/* shield(sleeper()) in a task cancelled with 'm11'. */
static int shield_body(void *arg) {
    (void)arg;
    corio_task *in = corio_spawn(sleeper, NULL);
    int rc = corio_shield(corio_task_future(in), NULL);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), "m11");
    CHECK(!corio_task_done(in));
    corio_cancel(in);
    corio_task_detach(in);
    return rc;
}
/* await of a plain future, task cancelled with 'm13'. */
static int plain_body(void *arg) {
    (void)arg;
    corio_future f;
    corio_future_init(&f, NULL);
    int rc = corio_await(&f, NULL);
    CHECK_EQ(rc, -ECANCELED);
    CHECK(corio_future_cancelled(&f));
    CHECK_MSG(my_msg(), "m13");
    CHECK_EQ(corio_future_destroy(&f), 0); /* it keeps 'm13' until then */
    return rc;
}
/* A task group's parent cancelled with 'm5': the child gets no message,
 * the body and the joiner get 'm5'. */
static int tg_child(void *arg) {
    (void)arg;
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), NULL);
    return rc;
}
static int tg_body(void *arg) {
    (void)arg;
    corio_taskgroup g;
    corio_taskgroup_enter(&g);
    corio_taskgroup_spawn(&g, tg_child, NULL, NULL);
    int rc = corio_taskgroup_exit(&g, corio_sleep(10));
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), "m5");
    return rc;
}
typedef struct { corio_task_fn body; const char *msg; } outer_case;
static int outer_main(void *arg) {
    outer_case *c = arg;
    corio_task *t = corio_spawn(c->body, NULL);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel_msg(t, c->msg), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_MSG(my_msg(), c->msg);
    return 0;
}
static void test_message_through_combinators(void) {
    outer_case cases[] = {{wait_for_body, "m4"}, {tg_body, "m5"}, {timeout_body, "m6"},
                          {shield_body, "m11"}, {plain_body, "m13"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK_EQ(test_run(outer_main, &cases[i], 1), 0);
}

/* Two cancels: while the awaited future is cancelled already the first
 * message stays ('a'); before the task starts the last one wins ('b'). */
static int two_cancels_main(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(sleeper, NULL);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel_msg(t, "a"), 1);
    CHECK_EQ(corio_cancel_msg(t, "b"), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_MSG(my_msg(), "a");
    t = corio_spawn(sleeper, NULL);
    CHECK_EQ(corio_cancel_msg(t, "a"), 1);
    CHECK_EQ(corio_cancel_msg(t, "b"), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_MSG(my_msg(), "b");
    /* A finished task: 0, and its message does not change. */
    t = corio_spawn(sleeper, NULL);
    corio_task_ref(t);
    CHECK_EQ(corio_cancel_msg(t, "c"), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_cancel_msg(t, "d"), 0);
    CHECK_MSG(corio_task_cancel_message(t), "c");
    corio_task_detach(t);
    CHECK_EQ(corio_cancel_msg(NULL, "x"), -EINVAL);
    CHECK(corio_task_cancel_message(NULL) == NULL);
    return 0;
}
static void test_two_cancels(void) { CHECK_EQ(test_run(two_cancels_main, NULL, 1), 0); }

/* The awaiting task catches the awaited task's CancelledError('m10') and
 * returns normally: it is not cancelled, and saw the message. */
static int catch_body(void *arg) {
    int rc = corio_await(corio_task_future(arg), NULL);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), "m10");
    return 1;
}
static int catch_main(void *arg) {
    (void)arg;
    corio_task *inner = corio_spawn(sleeper, NULL);
    corio_task *t = corio_spawn(catch_body, inner);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_cancel_msg(inner, "m10"), 1);
    CHECK_EQ(corio_join(t), 1);
    CHECK_EQ(corio_join(inner), -ECANCELED);
    return 0;
}
static void test_awaiter_catches(void) { CHECK_EQ(test_run(catch_main, NULL, 1), 0); }

/* Future.cancel(msg) on a plain future a task awaits. */
static int fut_body(void *arg) {
    int rc = corio_await(arg, NULL);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_MSG(my_msg(), "fm");
    return rc;
}
static int fut_main(void *arg) {
    (void)arg;
    corio_future f;
    corio_future_init(&f, NULL);
    corio_task *t = corio_spawn(fut_body, &f);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_cancel_msg(&f, "fm"), 1);
    CHECK_EQ(corio_future_cancel_msg(&f, "again"), 0);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_MSG(my_msg(), "fm");
    CHECK_EQ(corio_future_destroy(&f), 0); /* frees the kept message (LeakSanitizer) */
    /* A task's future: corio_cancel_msg. */
    t = corio_spawn(sleeper, NULL);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(corio_future_cancel_msg(corio_task_future(t), "tm"), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_MSG(my_msg(), "tm");
    return 0;
}
static void test_future_cancel_msg(void) { CHECK_EQ(test_run(fut_main, NULL, 1), 0); }

static int fut_body_late(void *arg) { return corio_await(arg, NULL); }
static int fut_wait_any(void *arg) {
    int rc = corio_await(arg, NULL);
    CHECK_MSG(my_msg(), "tm");
    return rc;
}

/* A plain future keeps its message (asyncio's _cancel_message): a task
 * that awaits it after the cancel, or reads its result, gets it; a
 * message-less cancel leaves none.  Each read is a fresh task's, whose
 * message starts empty. */
typedef struct late_read {
    corio_future *f;
    const char *want;
    int by_result; /* corio_future_result rather than corio_await */
} late_read;
static int late_body(void *arg) {
    late_read *r = arg;
    CHECK_MSG(my_msg(), NULL);
    CHECK_EQ(r->by_result ? corio_future_result(r->f, NULL) : corio_await(r->f, NULL), -ECANCELED);
    CHECK_MSG(my_msg(), r->want);
    return 1;
}
static void late_check(corio_future *f, const char *want) {
    late_read a = {f, want, 0}, b = {f, want, 1};
    CHECK_EQ(corio_join(corio_spawn(late_body, &a)), 1);
    CHECK_EQ(corio_join(corio_spawn(late_body, &b)), 1);
}
static int self_cancel_body(void *arg) {
    CHECK_EQ(corio_cancel_msg(corio_current_task(), "self"), 1);
    CHECK_EQ(corio_await(arg, NULL), -ECANCELED);
    CHECK_MSG(my_msg(), "self");
    CHECK(corio_future_cancelled(arg));
    return 1;
}
static int late_main(void *arg) {
    (void)arg;
    corio_future f, g;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_future_cancel_msg(&f, "late"), 1);
    CHECK(corio_future_cancelled(&f));
    late_check(&f, "late");
    /* asyncio: a task whose await raised it is cancelled with it. */
    corio_task *t = corio_spawn(fut_body_late, &f);
    corio_task_ref(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(corio_future_cancelled(corio_task_future(t)));
    CHECK_MSG(corio_task_cancel_message(t), "late");
    corio_task_detach(t);
    CHECK_EQ(corio_future_destroy(&f), 0);
    /* Without a message: none, also for a task that held an older one. */
    CHECK_EQ(corio_future_init(&g, NULL), 0);
    CHECK_EQ(corio_future_cancel(&g), 1);
    late_check(&g, NULL);
    CHECK_MSG(my_msg(), "late"); /* from the join above */
    CHECK_EQ(corio_await(&g, NULL), -ECANCELED);
    CHECK_MSG(my_msg(), NULL);
    CHECK_EQ(corio_future_destroy(&g), 0);
    /* A task cancelled with a message while awaiting a plain future:
     * asyncio's Task.cancel(msg) cancels the future with it, which keeps
     * it (fut.result() later raises CancelledError('tm')). */
    CHECK_EQ(corio_future_init(&g, NULL), 0);
    cancel_joined(fut_wait_any, &g, "tm");
    CHECK(corio_future_cancelled(&g));
    late_check(&g, "tm");
    CHECK_EQ(corio_future_destroy(&g), 0);
    /* A task that cancelled itself, then awaits: the pending cancel
     * cancels the future with its message, which both keep. */
    CHECK_EQ(corio_future_init(&g, NULL), 0);
    CHECK_EQ(corio_join(corio_spawn(self_cancel_body, &g)), 1);
    late_check(&g, "self");
    CHECK_EQ(corio_future_destroy(&g), 0);
    /* The library's own futures keep nothing: a sleep cancelled with a
     * message leaves no copy behind (LeakSanitizer), and the message is
     * the task's. */
    cancel_joined(sleeper, NULL, "sm");
    return 0;
}
static void test_future_keeps_msg(void) { CHECK_EQ(test_run(late_main, NULL, 1), 0); }

/* wait_for's own timeout carries no message: TimeoutError(). */
static int wf_timeout_main(void *arg) {
    (void)arg;
    corio_task *in = corio_spawn(sleeper, NULL);
    corio_task_ref(in);
    CHECK_EQ(corio_wait_for(corio_task_future(in), 0.01, NULL), -ETIMEDOUT);
    CHECK_MSG(corio_task_cancel_message(in), NULL);
    corio_task_detach(in);
    corio_task_detach(in);
    return 0;
}
static void test_wait_for_timeout_no_message(void) { CHECK_EQ(test_run(wf_timeout_main, NULL, 1), 0); }

int main(void) {
    RUN_TEST(test_cancel_with_message_then_future_result);
    RUN_TEST(test_cancellation_exception_context);
    RUN_TEST(test_future_keeps_msg);
    RUN_TEST(test_cancel_with_message_before_starting_task);
    RUN_TEST(test_join_sees_message);
    RUN_TEST(test_gather_child_message);
    RUN_TEST(test_gather_outer_message);
    RUN_TEST(test_message_through_combinators);
    RUN_TEST(test_two_cancels);
    RUN_TEST(test_awaiter_catches);
    RUN_TEST(test_future_cancel_msg);
    RUN_TEST(test_wait_for_timeout_no_message);
    TEST_MAIN_END();
}
