/*
 * fork (libuv test-fork.c): a child process can tear down the loop it
 * inherited and build a new one; the parent's loop is unaffected.
 */
#include "test.h"

#include <sys/wait.h>
#include <unistd.h>

static int sleeper(void *arg) {
    (void)arg;
    return corio_sleep(0.01) == 0 ? 5 : 1;
}

static int spawner(void *arg) {
    (void)arg;
    corio_task *ts[64];
    for (int i = 0; i < 64; i++) ts[i] = corio_spawn(sleeper, NULL);
    int sum = 0;
    for (int i = 0; i < 64; i++) sum += corio_join(ts[i]);
    return sum == 64 * 5 ? 0 : 1;
}

static void test_child_rebuilds_loop(void) {
    corio_loop *loop = corio_loop_new();
    CHECK(loop != NULL);
    /* Give the parent's loop some state: stacks in its cache, a pending timer. */
    corio_task *t = corio_loop_spawn(loop, spawner, NULL, NULL);
    CHECK_EQ(corio_loop_run_until_complete(loop, corio_task_future(t)), 0);
    corio_task_detach(t);

    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        if (corio_loop_close(loop) != 0) bad |= 1;  /* the inherited copy */
        if (corio_run(spawner, NULL) != 0) bad |= 2; /* a fresh loop, fresh stacks */
        _exit(bad);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);

    /* The parent's loop still works after the child is gone. */
    t = corio_loop_spawn(loop, spawner, NULL, NULL);
    CHECK_EQ(corio_loop_run_until_complete(loop, corio_task_future(t)), 0);
    corio_task_detach(t);
    CHECK_EQ(corio_loop_close(loop), 0);
}

static int fork_in_task(void *arg) {
    (void)arg;
    pid_t pid = fork();
    if (pid == 0) {
        /* The child runs on the task's stack; it may not resume the loop,
         * but it can do plain work and leave. */
        _exit(7);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void test_fork_inside_a_task(void) { CHECK_EQ(corio_run(fork_in_task, NULL), 7); }

int main(void) {
    RUN_TEST(test_child_rebuilds_loop);
    RUN_TEST(test_fork_inside_a_task);
    TEST_MAIN_END();
}
