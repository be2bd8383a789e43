/* Tasks that return pointer-sized values (corio_task_set_value,
 * corio_join_value, corio_task_value), and gather / wait / as_completed directly over
 * tasks (corio_gather_tasks, corio_wait_tasks, corio_as_completed_init_tasks). */
#include "test.h"

static int give_string(void *arg) {
    CHECK_EQ(corio_sleep(0.001 * (double)(intptr_t)arg), 0);
    static const char *names[] = {"zero", "one", "two"};
    return corio_task_set_value((intptr_t)names[(intptr_t)arg]);
}

static int give_int(void *arg) { return (int)(intptr_t)arg; }

static int fail_after(void *arg) {
    corio_sleep((double)(intptr_t)arg / 1000.0);
    corio_task_set_value(99); /* an error wins over a value */
    return -EIO;
}

static int sleeper(void *arg) {
    (void)arg;
    return corio_sleep(10);
}

static int values_main(void *arg) {
    (void)arg;
    /* join_value: the set value; join alone: 0 */
    corio_task *t = corio_spawn(give_string, (void *)(intptr_t)1);
    intptr_t v = 0;
    CHECK_EQ(corio_join_value(t, &v), 0);
    CHECK(v && strcmp((const char *)v, "one") == 0);
    t = corio_spawn(give_string, (void *)(intptr_t)2);
    CHECK_EQ(corio_join(t), 0);
    /* without set_value the value is fn's return */
    t = corio_spawn(give_int, (void *)(intptr_t)42);
    CHECK_EQ(corio_join_value(t, &v), 42);
    CHECK_EQ(v, 42);
    /* task_value without waiting: in progress, then the value; the reference stays */
    t = corio_spawn(give_string, (void *)(intptr_t)0);
    CHECK_EQ(corio_task_value(t, &v), -EINPROGRESS);
    CHECK_EQ(corio_await(corio_task_future(t), NULL), 0);
    CHECK_EQ(corio_task_value(t, &v), 0);
    CHECK(strcmp((const char *)v, "zero") == 0);
    CHECK_EQ(corio_task_result(t), 0);
    CHECK_EQ(corio_task_detach(t), 0);
    /* an error wins */
    t = corio_spawn(fail_after, (void *)(intptr_t)0);
    v = 7;
    CHECK_EQ(corio_join_value(t, &v), -EIO);
    CHECK_EQ(v, 7); /* untouched */
    /* cancelled */
    t = corio_spawn(sleeper, NULL);
    CHECK_EQ(corio_yield(), 0);
    corio_cancel(t);
    CHECK_EQ(corio_await(corio_task_future(t), NULL), -ECANCELED);
    CHECK_EQ(corio_task_value(t, &v), -ECANCELED);
    CHECK_EQ(corio_task_detach(t), 0);
    CHECK_EQ(corio_task_value(NULL, &v), -EINVAL);
    return 0;
}

static void test_values(void) { test_run(values_main, NULL, 1); }

static int outside_main(void *arg) {
    (void)arg;
    return 0;
}

static void test_set_value_outside_a_task(void) {
    CHECK_EQ(corio_task_set_value(1), -EPERM);
    test_run(outside_main, NULL, 1);
}

/* gather over tasks: results in argument order, read from the tasks */
static int gather_main(void *arg) {
    (void)arg;
    corio_task *ts[3];
    for (intptr_t i = 0; i < 3; i++) ts[i] = corio_spawn(give_string, (void *)(2 - i)); /* finish in reverse */
    CHECK_EQ(corio_gather_tasks(ts, 3, 0), 0);
    const char *want[] = {"two", "one", "zero"};
    for (int i = 0; i < 3; i++) {
        intptr_t v = 0;
        CHECK_EQ(corio_task_value(ts[i], &v), 0);
        CHECK(strcmp((const char *)v, want[i]) == 0);
        CHECK_EQ(corio_join(ts[i]), 0);
    }
    /* the first failure comes back at once; the others keep running */
    corio_task *f[2] = {corio_spawn(fail_after, (void *)(intptr_t)1), corio_spawn(sleeper, NULL)};
    CHECK_EQ(corio_gather_tasks(f, 2, 0), -EIO);
    CHECK(!corio_task_done(f[1]));
    corio_cancel(f[1]);
    CHECK_EQ(corio_join(f[1]), -ECANCELED);
    CHECK_EQ(corio_join(f[0]), -EIO);
    /* more than fit on the stack */
    enum { N = 40 };
    corio_task *many[N];
    for (intptr_t i = 0; i < N; i++) many[i] = corio_spawn(give_int, (void *)i);
    CHECK_EQ(corio_gather_tasks(many, N, CORIO_GATHER_COLLECT), 0);
    long sum = 0;
    for (int i = 0; i < N; i++) sum += corio_join(many[i]);
    CHECK_EQ(sum, N * (N - 1) / 2);
    CHECK_EQ(corio_gather_tasks(NULL, 0, 0), 0);
    corio_task *nul[1] = {NULL};
    CHECK_EQ(corio_gather_tasks(nul, 1, 0), -EINVAL);
    return 0;
}

static void test_gather_tasks(void) { test_run(gather_main, NULL, 1); }

/* wait over tasks: done and pending as tasks */
static int wait_main(void *arg) {
    (void)arg;
    corio_task *ts[3] = {corio_spawn(sleeper, NULL), corio_spawn(give_int, (void *)(intptr_t)5), NULL};
    ts[2] = ts[0]; /* listed twice: counts once */
    corio_task *done[3] = {0}, *pending[3] = {0};
    CHECK_EQ(corio_wait_tasks(ts, 3, CORIO_FIRST_COMPLETED, INFINITY, done, pending), 1);
    CHECK(done[0] == ts[1]);
    CHECK(pending[0] == ts[0]);
    CHECK(pending[1] == NULL);
    CHECK_EQ(corio_wait_tasks(ts, 2, CORIO_ALL_COMPLETED, 0.5, NULL, NULL), 1); /* the timeout: not an error */
    corio_cancel(ts[0]);
    CHECK_EQ(corio_join(ts[0]), -ECANCELED);
    CHECK_EQ(corio_join(ts[1]), 5);
    CHECK_EQ(corio_wait_tasks(NULL, 0, CORIO_ALL_COMPLETED, 1, NULL, NULL), -EINVAL);
    return 0;
}

static void test_wait_tasks(void) { test_run(wait_main, NULL, 1); }

/* as_completed over tasks: tasks in finishing order, a deadline for the rest */
static int ac_main(void *arg) {
    (void)arg;
    corio_task *ts[4];
    for (intptr_t i = 0; i < 3; i++) ts[i] = corio_spawn(give_string, (void *)(2 - i)); /* finish in reverse */
    ts[3] = corio_spawn(sleeper, NULL);
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init_tasks(&it, ts, 4, 0.5), 0);
    const char *want[] = {"zero", "one", "two"};
    for (int i = 0; i < 3; i++) {
        corio_task *t = NULL;
        CHECK_EQ(corio_as_completed_next_task(&it, &t), 1);
        CHECK(t == ts[2 - i]);
        intptr_t v = 0;
        CHECK_EQ(corio_task_value(t, &v), 0);
        CHECK(strcmp((const char *)v, want[i]) == 0);
    }
    corio_task *t = NULL;
    CHECK_EQ(corio_as_completed_next_task(&it, &t), -ETIMEDOUT); /* the sleeper runs on */
    CHECK(!corio_task_done(ts[3]));
    CHECK_EQ(corio_as_completed_close(&it), 0);
    corio_cancel(ts[3]);
    CHECK_EQ(corio_join(ts[3]), -ECANCELED);
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_join(ts[i]), 0);
    /* none, a NULL task, a NULL out */
    CHECK_EQ(corio_as_completed_init_tasks(&it, NULL, 0, INFINITY), 0);
    CHECK_EQ(corio_as_completed_next_task(&it, &t), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    corio_task *nul[1] = {NULL};
    CHECK_EQ(corio_as_completed_init_tasks(&it, nul, 1, INFINITY), -EINVAL);
    CHECK_EQ(corio_as_completed_next_task(&it, NULL), -EINVAL);
    return 0;
}

static void test_as_completed_tasks(void) { test_run(ac_main, NULL, 1); }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN_TEST(test_values);
    RUN_TEST(test_set_value_outside_a_task);
    RUN_TEST(test_gather_tasks);
    RUN_TEST(test_wait_tasks);
    RUN_TEST(test_as_completed_tasks);
    TEST_MAIN_END();
}
