/*
 * test_agen.c - async generators (corio/agen.h) against asyncio 3.13's:
 * iteration to the end, break and close, cleanup that awaits, a consumer
 * cancelled while it waits (the producer sees the cancel, may absorb it),
 * a cancel racing a hand-off, the producer cancelled, its error reaching
 * the consumer, close / throw / send at every stage, a close ignored, the
 * background close of a released generator, bad calls, and a producer
 * reading a pipe on each backend.  The expected orders were taken from
 * the same scenarios run on Python 3.13 (quoted beside each case).
 *
 *   test_agen                 the cases
 *   test_agen --bench N       N values through one generator, nothing else:
 *                             callgrind at two N gives instructions per value
 */
#include "test.h"
#include "net_util.h"

#include <fcntl.h>

/* ---- a log of what happened, in order ----------------------------------------- */

static char logbuf[2048];
static void logf_(const char *s) {
    size_t n = strlen(logbuf);
    snprintf(logbuf + n, sizeof logbuf - n, "%s%s", n ? "," : "", s);
}
static void log_reset(void) { logbuf[0] = 0; }
#define CHECK_LOG(want)                                                                  \
    do {                                                                                 \
        if (strcmp(logbuf, (want)) != 0) {                                               \
            fprintf(stderr, "%s:%d: log\n  got  %s\n  want %s\n", __FILE__, __LINE__, logbuf, \
                    (want));                                                             \
            test_failures++;                                                             \
        }                                                                                \
    } while (0)

/* ---- producers ----------------------------------------------------------------- */

/* Yields 0 .. n-1, logging; on close it cleans up with an await. */
struct count_args {
    int n;
    double delay;      /* sleep before each value */
    int ran;           /* fn began */
    int cleaned;       /* cleanup finished */
    int last_rc;       /* the yield's or the sleep's return that ended the loop */
};

static int count_gen(corio_agen *g, void *arg) {
    struct count_args *a = arg;
    a->ran = 1;
    logf_("start");
    int rc = 0;
    for (int i = 0; i < a->n; i++) {
        if (a->delay > 0 && (rc = corio_sleep(a->delay)) < 0) break;
        if ((rc = corio_agen_yield(g, i, NULL)) < 0) break;
    }
    a->last_rc = rc;
    if (rc == CORIO_AGEN_CLOSED) logf_("closed");
    if (rc == -ECANCELED) logf_("cancelled");
    if (rc < 0) {
        CHECK_EQ(corio_sleep(0.01), 0); /* cleanup that awaits: the cancel was delivered once */
        logf_("cleanup awaited");
    }
    logf_("finally");
    a->cleaned = 1;
    return rc;
}

/* ---- cases ----------------------------------------------------------------- */

/* async for v in gen(): ...; then anext raises StopAsyncIteration again. */
static int to_end_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 3};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL);
    CHECK(g != NULL);
    CHECK(corio_agen_task(g) == NULL);
    intptr_t v, sum = 0;
    int rc, n = 0;
    while ((rc = corio_agen_next(g, &v)) > 0) {
        CHECK_EQ(v, n);
        CHECK(corio_agen_task(g) != NULL);
        sum += v;
        n++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(sum, 3);
    CHECK_EQ(corio_agen_next(g, &v), 0);
    CHECK_EQ(corio_agen_next(g, NULL), 0);
    CHECK(corio_agen_finished(g));
    CHECK(corio_agen_task(g) == NULL);
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    CHECK_LOG("start,finally");
    return 0;
}
static void test_iterate_to_end(void) {
    log_reset();
    test_run(to_end_main, NULL, 1);
}

/* Python: ['start', 'yield 0', 'GeneratorExit', 'cleanup awaited', 'finally'],
 * aclose() -> None, aclose() again -> None, anext -> StopAsyncIteration. */
static int break_close_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 10};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL);
    intptr_t v;
    int rc;
    while ((rc = corio_agen_next(g, &v)) > 0)
        if (v == 2) break;
    CHECK_EQ(rc, 1);
    CHECK(!corio_agen_finished(g));
    double t0 = corio_time();
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK(corio_time() - t0 >= 0.01); /* close waited for the cleanup's await */
    CHECK(a.cleaned);
    CHECK_EQ(a.last_rc, CORIO_AGEN_CLOSED);
    CHECK(corio_agen_finished(g));
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK_EQ(corio_agen_next(g, &v), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    CHECK_LOG("start,closed,cleanup awaited,finally");
    return 0;
}
static void test_break_and_close(void) {
    log_reset();
    test_run(break_close_main, NULL, 1);
}

/* A consumer task iterating a slow generator, cancelled after the first
 * value.  Python: ['consumer got 0', 'gen: CancelledError at its await',
 * 'gen: cleanup awaited', 'gen: finally', 'consumer: CancelledError'],
 * then anext -> StopAsyncIteration. */
struct consumer_args {
    corio_agen *g;
    int got;
    int rc;
};
static int consumer(void *arg) {
    struct consumer_args *c = arg;
    intptr_t v;
    int rc;
    while ((rc = corio_agen_next(c->g, &v)) > 0) {
        c->got++;
        logf_("consumer got");
    }
    c->rc = rc;
    if (rc == -ECANCELED) logf_("consumer cancelled");
    return rc;
}
static int consumer_cancelled_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 100, .delay = 1.0};
    struct consumer_args c = {.g = corio_agen_new(count_gen, &a, NULL)};
    corio_task *t = corio_spawn(consumer, &c);
    CHECK_EQ(corio_sleep(1.5), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(c.got, 1);
    CHECK_EQ(a.last_rc, -ECANCELED); /* seen at the producer's await, a sleep */
    CHECK(a.cleaned);
    CHECK(corio_agen_finished(c.g));
    intptr_t v;
    CHECK_EQ(corio_agen_next(c.g, &v), 0);
    CHECK_EQ(corio_agen_close(c.g), 0);
    CHECK_EQ(corio_agen_release(c.g), 0);
    CHECK_LOG("start,consumer got,cancelled,cleanup awaited,finally,consumer cancelled");
    return 0;
}
static void test_consumer_cancelled_while_waiting(void) {
    log_reset();
    test_run(consumer_cancelled_main, NULL, 1);
}

/* Cancelled with a message (Python 3.13: t.cancel("stop") while t waits
 * in `async for v in g`; the generator's await, the consumer and the
 * joiner all see CancelledError('stop')). */
static const char *gen_saw;
static int msg_gen(corio_agen *g, void *arg) {
    (void)arg;
    int rc = corio_agen_yield(g, 1, NULL);
    if (rc < 0) return rc;
    rc = corio_sleep(10);
    const char *m = corio_task_cancel_message(corio_current_task());
    gen_saw = m ? strdup(m) : NULL;
    return rc;
}
static const char *consumer_saw;
static int msg_consumer(void *arg) {
    corio_agen *g = arg;
    intptr_t v;
    int rc;
    while ((rc = corio_agen_next(g, &v)) > 0) {
    }
    const char *m = corio_task_cancel_message(corio_current_task());
    consumer_saw = m ? strdup(m) : NULL;
    return rc;
}
static int consumer_cancel_msg_main(void *arg) {
    (void)arg;
    gen_saw = consumer_saw = NULL;
    corio_agen *g = corio_agen_new(msg_gen, NULL, NULL);
    corio_task *t = corio_spawn(msg_consumer, g);
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK_EQ(corio_cancel_msg(t, "stop"), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    const char *m = corio_task_cancel_message(corio_current_task());
    CHECK(m && strcmp(m, "stop") == 0);
    CHECK(gen_saw && strcmp(gen_saw, "stop") == 0);
    CHECK(consumer_saw && strcmp(consumer_saw, "stop") == 0);
    free((void *)gen_saw);
    free((void *)consumer_saw);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_consumer_cancel_message(void) { test_run(consumer_cancel_msg_main, NULL, 1); }

/* The generator absorbs the cancel and yields.  Python: c2 got absorbed
 * (cancelling() == 1), c2 got more, c2 result 5. */
static int absorbing_gen(corio_agen *g, void *arg) {
    (void)arg;
    int rc = corio_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    if ((rc = corio_agen_yield(g, 111, NULL)) < 0) return rc;
    if ((rc = corio_agen_yield(g, 222, NULL)) < 0) return rc;
    return 0;
}
static int absorbing_consumer(void *arg) {
    corio_agen *g = arg;
    intptr_t v = 0;
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 111);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 1);
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 222);
    CHECK_EQ(corio_agen_next(g, &v), 0);
    return 5;
}
static int absorbed_main(void *arg) {
    (void)arg;
    corio_agen *g = corio_agen_new(absorbing_gen, NULL, NULL);
    corio_task *t = corio_spawn(absorbing_consumer, g);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_yield(), 0);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), 5);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_consumer_cancel_absorbed(void) { test_run(absorbed_main, NULL, 1); }

/* The consumer is cancelled in the iteration the producer hands it a
 * value: the value is returned, and the cancel comes at the consumer's
 * next suspending call, with the count of requests unchanged. */
static corio_task *race_consumer_task;
static int race_gen(corio_agen *g, void *arg) {
    (void)arg;
    corio_cancel(race_consumer_task); /* before the hand-off: the consumer's wait is cancelled */
    int rc = corio_agen_yield(g, 7, NULL);
    if (rc < 0) return rc;
    rc = corio_agen_yield(g, 8, NULL);
    return rc < 0 ? rc : 0;
}
static int race_consumer(void *arg) {
    corio_agen *g = arg;
    intptr_t v = 0;
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 7);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 1);
    CHECK_EQ(corio_yield(), -ECANCELED); /* re-armed, delivered once */
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 8);
    CHECK_EQ(corio_agen_close(g), 0);
    return 0;
}
/* The same race with the cancel from a third task after the hand-off. */
static int race_gen2(corio_agen *g, void *arg) {
    (void)arg;
    int rc = corio_agen_yield(g, 9, NULL);
    return rc == CORIO_AGEN_CLOSED ? 0 : rc;
}
static int race_consumer2(void *arg) {
    corio_agen *g = arg;
    intptr_t v = 0;
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 9);
    CHECK_EQ(corio_sleep(1), -ECANCELED);
    CHECK_EQ(corio_agen_close(g), 0);
    return 0;
}
static int race_main(void *arg) {
    (void)arg;
    corio_agen *g = corio_agen_new(race_gen, NULL, NULL);
    race_consumer_task = corio_spawn(race_consumer, g);
    CHECK_EQ(corio_join(race_consumer_task), 0);
    CHECK_EQ(corio_agen_release(g), 0);

    g = corio_agen_new(race_gen2, NULL, NULL);
    corio_task *t = corio_spawn(race_consumer2, g);
    /* consumer asks (iteration 1), producer yields and wakes it (2): cancel in between */
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_yield(), 0);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_cancel_races_handoff(void) { test_run(race_main, NULL, 1); }

/* The producer task is cancelled before it ever ran (a task cancelled
 * before its first step never runs): fn never runs, and the consumer's
 * request returns -ECANCELED. */
static int first_next_consumer(void *arg) {
    corio_agen *g = arg;
    return corio_agen_next(g, NULL);
}
static int before_start_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 3};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL);
    corio_task *c = corio_spawn(first_next_consumer, g);
    CHECK_EQ(corio_yield(), 0); /* the consumer asked: the producer is spawned, not started */
    corio_task *all[8];
    size_t n = corio_all_tasks(all, 8);
    CHECK_EQ(n, 3);
    for (size_t i = 0; i < n && i < 8; i++)
        if (all[i] != c && all[i] != corio_current_task()) CHECK_EQ(corio_cancel(all[i]), 1);
    CHECK(corio_agen_task(g) == NULL); /* not started */
    CHECK_EQ(corio_join(c), -ECANCELED);
    CHECK(!a.ran);
    CHECK(corio_agen_finished(g));
    CHECK_EQ(corio_agen_next(g, NULL), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_producer_cancelled_before_start(void) { test_run(before_start_main, NULL, 1); }

/* The producer task is cancelled: at its yield, and while it computes. */
static int producer_cancelled_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 10};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL);
    intptr_t v;
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(corio_cancel(corio_agen_task(g)), 1); /* suspended at its yield */
    WAIT_UNTIL(a.cleaned, 5);
    CHECK_EQ(a.last_rc, -ECANCELED);
    CHECK(corio_agen_finished(g));
    CHECK_EQ(corio_agen_next(g, &v), -ECANCELED); /* its outcome, once */
    CHECK_EQ(corio_agen_next(g, &v), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    CHECK_LOG("start,cancelled,cleanup awaited,finally");

    log_reset();
    struct count_args b = {.n = 10, .delay = 1.0};
    struct consumer_args c = {.g = corio_agen_new(count_gen, &b, NULL)};
    corio_task *t = corio_spawn(consumer, &c);
    CHECK_EQ(corio_sleep(1.5), 0); /* the producer sleeps before its second value */
    CHECK_EQ(corio_cancel(corio_agen_task(c.g)), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(c.got, 1);
    CHECK_EQ(c.rc, -ECANCELED);
    CHECK_EQ(corio_agen_release(c.g), 0);
    CHECK_LOG("start,consumer got,cancelled,cleanup awaited,finally,consumer cancelled");
    return 0;
}
static void test_producer_cancelled(void) {
    log_reset();
    test_run(producer_cancelled_main, NULL, 1);
}

/* Python: yield 1; raise KeyError -> anext raises KeyError, then StopAsyncIteration. */
static int failing_gen(corio_agen *g, void *arg) {
    (void)arg;
    int rc = corio_agen_yield(g, 1, NULL);
    if (rc < 0) return rc;
    CHECK_EQ(corio_sleep(0.01), 0);
    return -EIO;
}
static int producer_error_main(void *arg) {
    (void)arg;
    corio_agen *g = corio_agen_new(failing_gen, NULL, NULL);
    intptr_t v = 0;
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(corio_agen_next(g, &v), -EIO);
    CHECK_EQ(corio_agen_next(g, &v), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    /* The error waits for the consumer if it happens with no request in progress. */
    g = corio_agen_new(failing_gen, NULL, NULL);
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(corio_cancel(corio_agen_task(g)), 1);
    WAIT_UNTIL(corio_agen_finished(g), 5);
    CHECK_EQ(corio_agen_close(g), 0); /* close drops an outcome nobody took */
    CHECK_EQ(corio_agen_next(g, &v), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_producer_error(void) { test_run(producer_error_main, NULL, 1); }

/* Python: aclose() of a never-started generator runs nothing; anext ->
 * StopAsyncIteration.  athrow() of one raises at once, body never runs.
 * aclose()/athrow() of an exhausted one -> None. */
static int never_started_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 3};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL);
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK(!a.ran);
    CHECK(corio_agen_finished(g));
    CHECK_EQ(corio_agen_next(g, NULL), 0);
    CHECK_EQ(corio_agen_release(g), 0);

    g = corio_agen_new(count_gen, &a, NULL);
    CHECK_EQ(corio_agen_throw(g, -EINVAL, NULL), -EINVAL);
    CHECK(!a.ran);
    CHECK_EQ(corio_agen_next(g, NULL), 0);
    CHECK_EQ(corio_agen_release(g), 0);

    g = corio_agen_new(count_gen, &a, NULL); /* released without a request */
    CHECK_EQ(corio_agen_release(g), 0);
    CHECK(!a.ran);

    g = corio_agen_new(count_gen, &a, NULL); /* finished, then closed and thrown into */
    while (corio_agen_next(g, NULL) > 0) {}
    CHECK(a.ran);
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK_EQ(corio_agen_throw(g, -EIO, NULL), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_close_never_started_and_finished(void) { test_run(never_started_main, NULL, 1); }

/* athrow handled: Python ['start', 'yield 0', 'ValueError z'], athrow -> 100,
 * then anext -> StopAsyncIteration after 'after 100', 'finally'.  asend:
 * a non-None value first is a TypeError; asend(None) -> 0, asend("hi") -> 1
 * with the yield receiving "hi". */
static int throw_send_gen(corio_agen *g, void *arg) {
    (void)arg;
    logf_("start");
    for (int i = 0; i < 3; i++) {
        intptr_t got = -1;
        int rc = corio_agen_yield(g, i, &got);
        if (rc == -EDOM) {
            logf_("EDOM");
            rc = corio_agen_yield(g, 100, NULL);
            if (rc < 0) return rc;
            logf_("after 100");
            break;
        }
        if (rc < 0) return rc;
        char s[32];
        snprintf(s, sizeof s, "got %ld", (long)got);
        logf_(s);
    }
    logf_("finally");
    return 0;
}
static int throw_send_main(void *arg) {
    (void)arg;
    intptr_t v = -1;
    corio_agen *g = corio_agen_new(throw_send_gen, NULL, NULL);
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(corio_agen_throw(g, -EDOM, &v), 1);
    CHECK_EQ(v, 100);
    CHECK_EQ(corio_agen_next(g, &v), 0);
    CHECK_LOG("start,EDOM,after 100,finally");
    CHECK_EQ(corio_agen_release(g), 0);

    /* an error thrown and not handled comes back */
    g = corio_agen_new(throw_send_gen, NULL, NULL);
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(corio_agen_throw(g, -EIO, &v), -EIO);
    CHECK_EQ(corio_agen_next(g, &v), 0);
    CHECK_EQ(corio_agen_throw(g, 5, &v), -EINVAL);
    CHECK_EQ(corio_agen_release(g), 0);

    log_reset();
    g = corio_agen_new(throw_send_gen, NULL, NULL);
    CHECK_EQ(corio_agen_send(g, 5, &v), -EINVAL);
    CHECK_EQ(corio_agen_send(g, 0, &v), 1);
    CHECK_EQ(v, 0);
    CHECK_EQ(corio_agen_send(g, 42, &v), 1);
    CHECK_EQ(v, 1);
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 2);
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK_LOG("start,got 42,got 0");
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_throw_and_send(void) {
    log_reset();
    test_run(throw_send_main, NULL, 1);
}

/* An error thrown in, beaten to the yield by a cancel of the producer in
 * the same iteration: the cancel comes first, the error at the next yield. */
static int throw_race_gen(corio_agen *g, void *arg) {
    (void)arg;
    for (int i = 0;; i++) {
        int rc = corio_agen_yield(g, i, NULL);
        if (rc == -ECANCELED) {
            logf_("cancelled");
            continue;
        }
        if (rc == -EDOM) {
            logf_("EDOM");
            rc = corio_agen_yield(g, 100, NULL);
        }
        if (rc < 0) return rc == CORIO_AGEN_CLOSED ? 0 : rc;
    }
}
static int thrower(void *arg) {
    intptr_t v = 0;
    int rc = corio_agen_throw(arg, -EDOM, &v);
    return rc == 1 ? (int)v : rc;
}
static int throw_race_main(void *arg) {
    (void)arg;
    corio_agen *g = corio_agen_new(throw_race_gen, NULL, NULL);
    CHECK_EQ(corio_agen_next(g, NULL), 1);
    corio_task *t = corio_spawn(thrower, g);
    CHECK_EQ(corio_yield(), 0); /* the thrower wrote its request and woke the producer */
    CHECK_EQ(corio_cancel(corio_agen_task(g)), 1);
    CHECK_EQ(corio_join(t), 100);
    CHECK_LOG("cancelled,EDOM");
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_throw_beaten_by_cancel(void) {
    log_reset();
    test_run(throw_race_main, NULL, 1);
}

/* Python: aclose() -> RuntimeError "async generator ignored GeneratorExit",
 * ['exit ignored'], the generator stays at its yield: anext -> 1. */
static int stubborn_gen(corio_agen *g, void *arg) {
    int *ignored = arg;
    for (;;) {
        int rc = corio_agen_yield(g, 1, NULL);
        if (rc == CORIO_AGEN_CLOSED && (*ignored)++ == 0) continue; /* ignores the first close */
        if (rc < 0) return rc;
    }
}
static int ignored_close_main(void *arg) {
    (void)arg;
    int ignored = 0;
    corio_agen *g = corio_agen_new(stubborn_gen, &ignored, NULL);
    intptr_t v = 0;
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(corio_agen_close(g), -EPROTO);
    CHECK_EQ(ignored, 1);
    CHECK(!corio_agen_finished(g));
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 1);
    CHECK_EQ(corio_agen_close(g), 0); /* the second close is obeyed */
    CHECK(corio_agen_finished(g));
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_close_ignored(void) { test_run(ignored_close_main, NULL, 1); }

/* Released at a yield without a close: closed in the background, as
 * asyncio's finaliser does.  Python: ['consumer after break', 'main after c3',
 * 'tick1', 'fin: finally', 'tick2', 'fin: after await']. */
struct absorb_args {
    int absorbed;
    int last_rc;
};
static int absorb_gen(corio_agen *g, void *arg) {
    struct absorb_args *a = arg;
    for (int i = 0;; i++) {
        int rc = corio_agen_yield(g, i, NULL);
        if (rc == -ECANCELED) {
            a->absorbed++;
            CHECK_EQ(corio_sleep(0.01), 0);
            continue;
        }
        if (rc < 0) {
            a->last_rc = rc;
            return rc;
        }
    }
}
static int release_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 10};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL);
    intptr_t v;
    while (corio_agen_next(g, &v) > 0)
        if (v == 2) break;
    logf_("consumer after break");
    CHECK_EQ(corio_agen_release(g), 0);
    logf_("main after release");
    CHECK_EQ(corio_yield(), 0);
    logf_("tick1");
    WAIT_UNTIL(a.cleaned, 5);
    CHECK(a.cleaned);
    CHECK_EQ(a.last_rc, CORIO_AGEN_CLOSED);
    CHECK_LOG("start,consumer after break,main after release,closed,tick1,cleanup awaited,finally");

    /* released while the producer, cancelled at its yield, is still
     * running its reaction: the close comes at its next yield */
    log_reset();
    struct absorb_args b = {0};
    g = corio_agen_new(absorb_gen, &b, NULL);
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(corio_cancel(corio_agen_task(g)), 1);
    CHECK_EQ(corio_yield(), 0); /* it resumed and sleeps */
    CHECK_EQ(b.absorbed, 1);
    CHECK_EQ(corio_agen_release(g), 0);
    WAIT_UNTIL(b.last_rc != 0, 5);
    CHECK_EQ(b.last_rc, CORIO_AGEN_CLOSED);
    return 0;
}
static void test_release_closes_in_background(void) {
    log_reset();
    test_run(release_main, NULL, 1);
}

/* A close that must wait: the closer is cancelled during the producer's
 * cleanup (the producer's await gets the cancel, close returns it once
 * the producer has returned), and a close reaching a producer that is
 * busy elsewhere (cancelled at its yield, absorbing it) at its next yield. */
static int slow_cleanup_gen(corio_agen *g, void *arg) {
    int *cleanup_rc = arg;
    int rc;
    for (int i = 0; (rc = corio_agen_yield(g, i, NULL)) == 0; i++) {}
    *cleanup_rc = corio_sleep(10);
    return *cleanup_rc < 0 ? *cleanup_rc : rc;
}
static int closer(void *arg) { return corio_agen_close(arg); }
static int close_waits_main(void *arg) {
    (void)arg;
    int cleanup_rc = 1;
    corio_agen *g = corio_agen_new(slow_cleanup_gen, &cleanup_rc, NULL);
    CHECK_EQ(corio_agen_next(g, NULL), 1);
    corio_task *t = corio_spawn(closer, g);
    CHECK_EQ(corio_sleep(1), 0);
    CHECK_EQ(cleanup_rc, 1); /* still cleaning up */
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(cleanup_rc, -ECANCELED);
    CHECK(corio_agen_finished(g));
    CHECK_EQ(corio_agen_release(g), 0);

    struct absorb_args b = {0};
    g = corio_agen_new(absorb_gen, &b, NULL);
    CHECK_EQ(corio_agen_next(g, NULL), 1);
    CHECK_EQ(corio_cancel(corio_agen_task(g)), 1);
    CHECK_EQ(corio_yield(), 0); /* it resumed and sleeps */
    CHECK_EQ(b.absorbed, 1);
    CHECK_EQ(corio_agen_send(g, 5, NULL), -EBUSY);   /* no yield to send to */
    CHECK_EQ(corio_agen_throw(g, -EIO, NULL), -EBUSY);
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK_EQ(b.last_rc, CORIO_AGEN_CLOSED);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_close_waits_for_cleanup(void) { test_run(close_waits_main, NULL, 1); }

/* An error the producer returns after its consumer released it reaches
 * nobody: it is logged as a task's error never retrieved (asyncio logs "an
 * error occurred during closing of asynchronous generator"). */
static int logged_errors;
static void count_log(int level, const char *msg, void *arg) {
    (void)arg;
    if (level >= CORIO_LOG_ERROR && strstr(msg, "never retrieved")) logged_errors++;
}
static int fail_on_close_gen(corio_agen *g, void *arg) {
    (void)arg;
    int rc = corio_agen_yield(g, 1, NULL);
    return rc == CORIO_AGEN_CLOSED ? -EIO : rc;
}
static int released_error_main(void *arg) {
    (void)arg;
    corio_agen *g = corio_agen_new(fail_on_close_gen, NULL, NULL);
    CHECK_EQ(corio_agen_next(g, NULL), 1);
    corio_task *p = corio_agen_task(g);
    CHECK_EQ(corio_task_ref(p), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    WAIT_UNTIL(corio_task_done(p), 5);
    CHECK_EQ(corio_task_detach(p), 0);
    return 0;
}
static void test_error_after_release_is_logged(void) {
    logged_errors = 0;
    corio_log_set_handler(count_log, NULL);
    test_run(released_error_main, NULL, 1);
    corio_log_set_handler(NULL, NULL);
    CHECK_EQ(logged_errors, 1);
}

/* A producer released just before corio_run's main returns: the end of
 * corio_run cancels what is left (asyncio.run too cancels the tasks, its
 * finalisers' aclose included), so its yield or its cleanup's await gets
 * -ECANCELED; it still cleans up, and the record is freed (valgrind and
 * ASan check that). */
static int run_end_yield_rc, run_end_cleanup_rc = 1, run_end_cleaned;
static int run_end_gen(corio_agen *g, void *arg) {
    (void)arg;
    int rc;
    for (int i = 0; (rc = corio_agen_yield(g, i, NULL)) == 0; i++) {}
    run_end_yield_rc = rc;
    run_end_cleanup_rc = corio_sleep(0.01);
    run_end_cleaned = 1;
    return rc;
}
static int run_end_main(void *arg) {
    (void)arg;
    corio_agen *g = corio_agen_new(run_end_gen, NULL, NULL);
    CHECK_EQ(corio_agen_next(g, NULL), 1);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_released_at_run_end(void) {
    CHECK_EQ(corio_run(run_end_main, NULL), 0);
    CHECK(run_end_cleaned);
    CHECK(run_end_yield_rc == -ECANCELED || run_end_yield_rc == CORIO_AGEN_CLOSED);
    CHECK(run_end_cleanup_rc == 0 || run_end_cleanup_rc == -ECANCELED);
}

/* A timeout around a request: the producer is cancelled by it, and the
 * timeout scope still recognises its own cancellation. */
static int timeout_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 10, .delay = 1.0};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL);
    intptr_t v;
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 2.5), 0);
    int rc;
    while ((rc = corio_agen_next(g, &v)) > 0) {}
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    CHECK_EQ(corio_task_cancelling(corio_current_task()), 0);
    CHECK_EQ(a.last_rc, -ECANCELED);
    CHECK(a.cleaned);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_timeout_around_next(void) {
    log_reset();
    test_run(timeout_main, NULL, 1);
}

/* Bad calls: each gets its error and changes nothing. */
static corio_agen *bad_g;
static int bad_gen(corio_agen *g, void *arg) {
    (void)arg;
    CHECK_EQ(corio_agen_next(g, NULL), -EDEADLK);
    CHECK_EQ(corio_agen_close(g), -EDEADLK);
    int rc;
    while ((rc = corio_agen_yield(g, 1, NULL)) == 0) {}
    return rc;
}
static int second_consumer(void *arg) {
    corio_agen *g = arg;
    CHECK_EQ(corio_agen_next(g, NULL), -EBUSY);
    CHECK_EQ(corio_agen_close(g), -EBUSY);
    CHECK_EQ(corio_agen_release(g), -EBUSY);
    CHECK_EQ(corio_agen_yield(g, 1, NULL), -EPERM); /* not the producer */
    return 0;
}
static int slow_gen(corio_agen *g, void *arg) {
    (void)arg;
    int rc = corio_sleep(0.5);
    if (rc == 0) rc = corio_agen_yield(g, 1, NULL);
    return rc == CORIO_AGEN_CLOSED ? 0 : rc;
}
static int bad_main(void *arg) {
    (void)arg;
    errno = 0;
    CHECK(corio_agen_new(NULL, NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(corio_agen_next(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_agen_close(NULL), -EINVAL);
    CHECK_EQ(corio_agen_release(NULL), -EINVAL);
    CHECK_EQ(corio_agen_yield(NULL, 0, NULL), -EPERM);
    CHECK(corio_agen_task(NULL) == NULL);
    CHECK_EQ(corio_agen_finished(NULL), 0);

    bad_g = corio_agen_new(bad_gen, NULL, &(corio_task_opts){.name = "producer"});
    CHECK_EQ(corio_agen_yield(bad_g, 1, NULL), -EPERM); /* not started: no producer */
    CHECK_EQ(corio_agen_next(bad_g, NULL), 1);
    CHECK(strcmp(corio_task_name(corio_agen_task(bad_g)), "producer") == 0);
    CHECK_EQ(corio_agen_close(bad_g), 0);
    CHECK_EQ(corio_agen_release(bad_g), 0);

    /* a second consumer while a request waits */
    corio_agen *g = corio_agen_new(slow_gen, NULL, NULL);
    corio_task *t = corio_spawn(first_next_consumer, g);
    CHECK_EQ(corio_sleep(0.1), 0); /* t waits in next */
    corio_task *second = corio_spawn(second_consumer, g);
    CHECK_EQ(corio_join(second), 0);
    CHECK_EQ(corio_join(t), 1);
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_bad_calls(void) {
    CHECK_EQ(corio_agen_next(NULL, NULL), -EINVAL);
    struct count_args a = {.n = 1};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL); /* no loop needed to make one */
    CHECK(g != NULL);
    CHECK_EQ(corio_agen_next(g, NULL), -EPERM); /* outside a task */
    CHECK_EQ(corio_agen_close(g), -EPERM);
    CHECK_EQ(corio_agen_release(g), 0);
    test_run(bad_main, NULL, 1);
}

/* Out of memory when the first request starts the producer (its task
 * record, stack, or the callback watching it): -ENOMEM, the generator
 * unchanged and usable, nothing leaked; the request succeeds once the
 * allocations are allowed. */
void corio__test_fail_alloc_after(long n); /* src/base/alloc.c: n more library allocations, then fail */
static int oom_main(void *arg) {
    (void)arg;
    struct count_args a = {.n = 2};
    corio_agen *g = corio_agen_new(count_gen, &a, NULL);
    int n, rc = -ENOMEM;
    for (n = 0; n < 64; n++) {
        corio__test_fail_alloc_after(n);
        rc = corio_agen_next(g, NULL);
        corio__test_fail_alloc_after(-1);
        if (rc != -ENOMEM) break;
        CHECK(!corio_agen_finished(g));
        CHECK(corio_agen_task(g) == NULL);
    }
    CHECK(n > 0);
    CHECK_EQ(rc, 1);
    CHECK_EQ(corio_agen_close(g), 0);
    CHECK_EQ(corio_agen_release(g), 0);
    return 0;
}
static void test_out_of_memory_at_start(void) {
    log_reset();
    test_run(oom_main, NULL, 1);
}

/* A generator of lines read from a pipe, on each backend: iterated to the
 * end (EOF), and a consumer cancelled while the producer waits in read. */
struct pipe_args {
    int fd;
    int last_rc;
    int cleaned;
};
static int lines_gen(corio_agen *g, void *arg) {
    struct pipe_args *p = arg;
    char buf[64];
    ssize_t n;
    int rc = 0;
    while ((n = corio_read(p->fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            if ((rc = corio_agen_yield(g, (unsigned char)buf[i], NULL)) < 0) goto out;
    rc = n < 0 ? (int)n : 0;
out:
    p->last_rc = rc;
    CHECK_EQ(corio_sleep(0), 0); /* cleanup that awaits */
    p->cleaned = 1;
    return rc;
}
static int pipe_main(void *arg) {
    (void)arg;
    int pfd[2];
    CHECK_EQ(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    struct pipe_args p = {.fd = pfd[0]};
    corio_agen *g = corio_agen_new(lines_gen, &p, NULL);
    CHECK_EQ(corio_write_all(pfd[1], "ab", 2), 2);
    intptr_t v = 0;
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 'a');
    CHECK_EQ(corio_agen_next(g, &v), 1);
    CHECK_EQ(v, 'b');
    /* now the producer waits in read: cancel a consumer waiting for it */
    struct consumer_args c = {.g = g};
    corio_task *t = corio_spawn(consumer, &c);
    CHECK_EQ(corio_sleep(0.05), 0);
    CHECK(!p.cleaned);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(p.last_rc, -ECANCELED);
    CHECK(p.cleaned);
    CHECK_EQ(corio_agen_release(g), 0);

    /* to the end: EOF ends the iteration */
    p = (struct pipe_args){.fd = pfd[0]};
    g = corio_agen_new(lines_gen, &p, NULL);
    CHECK_EQ(corio_write_all(pfd[1], "xyz", 3), 3);
    CHECK_EQ(corio_close(pfd[1]), 0);
    int n = 0, rc;
    while ((rc = corio_agen_next(g, &v)) > 0) CHECK_EQ(v, "xyz"[n++]);
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(corio_agen_release(g), 0);
    CHECK_EQ(corio_close(pfd[0]), 0);
    return 0;
}
static void test_pipe_producer(void) { test_run(pipe_main, NULL, 0); }
static void pipe_on_backend(void) { RUN_NET_TEST(test_pipe_producer); }

/* ---- random schedules ------------------------------------------------------------ */

/* Many generators, consumers and cancellers acting in random order; each
 * producer behaves in one of several ways.  Checks only what must always
 * hold: every call returns one of its documented codes, nothing hangs, the
 * loop closes clean, nothing leaks (ASan, valgrind). */
static uint32_t rnd_state;
static uint32_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}
static int fuzz_gen(corio_agen *g, void *arg) {
    uintptr_t mode = (uintptr_t)arg;
    int rc = 0;
    for (int i = 0; i < 20; i++) {
        if (mode & 1) {
            int s = corio_sleep((double)(rnd() % 3) * 0.001);
            if (s < 0 && (mode & 2)) continue; /* absorbs cancels */
            if (s < 0) return s;
        }
        rc = corio_agen_yield(g, i, NULL);
        if (rc == CORIO_AGEN_CLOSED && (mode & 4) && (rnd() & 1)) continue; /* ignores a close */
        if (rc == -ECANCELED && (mode & 2)) continue;
        if (rc < 0) break;
    }
    if (mode & 8) (void)corio_sleep(0.001); /* cleanup that awaits */
    if (mode & 16) return -EIO;
    return rc;
}
struct fuzz_slot {
    corio_agen *g;
    corio_task *consumer;
};
static struct fuzz_slot slots[6];
static int fuzz_consumer(void *arg) {
    struct fuzz_slot *s = arg;
    for (int k = 0; k < 30; k++) {
        intptr_t v;
        int rc;
        switch (rnd() % 6) {
        case 0: rc = corio_agen_close(s->g); break;
        case 1: rc = corio_agen_throw(s->g, -EDOM, &v); break;
        case 2: rc = corio_agen_send(s->g, (intptr_t)(rnd() % 2), &v); break;
        default: rc = corio_agen_next(s->g, &v); break;
        }
        CHECK(rc >= -133 && rc <= 1);
        if (rc == -ECANCELED && (rnd() & 1)) return rc;
        if (corio_yield() < 0 && (rnd() & 1)) return -ECANCELED;
    }
    return 0;
}
static int fuzz_main(void *arg) {
    (void)arg;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 6; i++) {
            slots[i].g = corio_agen_new(fuzz_gen, (void *)(uintptr_t)(rnd() % 32), NULL);
            slots[i].consumer = corio_spawn(fuzz_consumer, &slots[i]);
        }
        for (int step = 0; step < 40; step++) {
            struct fuzz_slot *s = &slots[rnd() % 6];
            switch (rnd() % 4) {
            case 0: corio_cancel(s->consumer); break;
            case 1: {
                corio_task *p = corio_agen_task(s->g);
                if (p) corio_cancel(p);
                break;
            }
            default: break;
            }
            if (corio_sleep((double)(rnd() % 2) * 0.001) < 0) return -ECANCELED;
        }
        for (int i = 0; i < 6; i++) {
            corio_join(slots[i].consumer);
            /* close it for certain (a producer may ignore one close), then give it up */
            int rc;
            while ((rc = corio_agen_close(slots[i].g)) == -EPROTO) {}
            CHECK(rc != -EBUSY);
            CHECK(corio_agen_finished(slots[i].g));
            CHECK_EQ(corio_agen_release(slots[i].g), 0);
        }
    }
    return 0;
}
static void test_random_schedules(void) {
    /* CORIO_TEST_SEED=n replays another schedule (a stress loop can try many). */
    const char *seed = getenv("CORIO_TEST_SEED");
    rnd_state = seed && *seed ? (uint32_t)strtoul(seed, NULL, 10) | 1u : 2463534242u;
    test_run(fuzz_main, NULL, 1);
}

/* ---- the hand-off's cost ---------------------------------------------------------- */

static int bench_gen(corio_agen *g, void *arg) {
    long n = *(long *)arg;
    for (long i = 0; i < n; i++) {
        int rc = corio_agen_yield(g, i, NULL);
        if (rc < 0) return rc;
    }
    return 0;
}
static int bench_main(void *arg) {
    corio_agen *g = corio_agen_new(bench_gen, arg, NULL);
    intptr_t v, sum = 0;
    while (corio_agen_next(g, &v) > 0) sum += v;
    corio_agen_release(g);
    return sum > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--bench") == 0) {
        long n = strtol(argv[2], NULL, 10);
        return corio_run(bench_main, &n) == 0 ? 0 : 1;
    }
    RUN_TEST(test_iterate_to_end);
    RUN_TEST(test_break_and_close);
    RUN_TEST(test_consumer_cancelled_while_waiting);
    RUN_TEST(test_consumer_cancel_message);
    RUN_TEST(test_consumer_cancel_absorbed);
    RUN_TEST(test_cancel_races_handoff);
    RUN_TEST(test_producer_cancelled_before_start);
    RUN_TEST(test_producer_cancelled);
    RUN_TEST(test_producer_error);
    RUN_TEST(test_close_never_started_and_finished);
    RUN_TEST(test_throw_and_send);
    RUN_TEST(test_throw_beaten_by_cancel);
    RUN_TEST(test_close_ignored);
    RUN_TEST(test_release_closes_in_background);
    RUN_TEST(test_close_waits_for_cleanup);
    RUN_TEST(test_error_after_release_is_logged);
    RUN_TEST(test_released_at_run_end);
    RUN_TEST(test_timeout_around_next);
    RUN_TEST(test_bad_calls);
    RUN_TEST(test_out_of_memory_at_start);
    RUN_TEST(test_random_schedules);
    net_warm_up();
    run_on_each_backend(pipe_on_backend);
    TEST_MAIN_END();
}
