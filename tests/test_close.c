/*
 * Closing a loop with tasks still pending: they are cancelled and unwind,
 * so nothing the caller owns is left pointing into freed task stacks.
 */
#include "test.h"

static corio_future fut;
static corio_lock lock;
static int cleaned;

static int shielded(void *arg) {
    (void)arg;
    int rc = corio_shield(&fut, NULL);
    cleaned++;
    return rc;
}

static int locker(void *arg) {
    (void)arg;
    int rc = corio_lock_acquire(&lock); /* held by main: waits */
    cleaned++;
    return rc;
}

static int stubborn(void *arg) {
    (void)arg;
    /* Swallows cancellation once, then finishes. */
    if (corio_sleep(100) == -ECANCELED) corio_sleep(0.001);
    cleaned++;
    return 0;
}

static void test_close_unwinds_pending_tasks(void) {
    corio_loop *loop = corio_loop_new();
    CHECK_EQ(corio_future_init(&fut, loop), 0);
    CHECK_EQ(corio_lock_init(&lock), 0);
    lock.locked = 1; /* as if some task held it */
    corio_task *a = corio_loop_spawn(loop, shielded, NULL, NULL);
    corio_task *b = corio_loop_spawn(loop, locker, NULL, NULL);
    corio_task *c = corio_loop_spawn(loop, stubborn, NULL, NULL);
    corio_task_detach(a);
    corio_task_detach(b);
    corio_task_detach(c);
    corio_loop_stop(loop);
    corio_loop_run_forever(loop); /* one iteration: all three are now suspended */
    cleaned = 0;
    CHECK_EQ(corio_loop_close(loop), -ENOTEMPTY);
    CHECK_EQ(cleaned, 3);
    /* Nothing points into the freed stacks any more. */
    CHECK_EQ(corio_future_destroy(&fut), 0);
    lock.locked = 0;
    CHECK_EQ(corio_lock_destroy(&lock), 0);
}

int main(void) {
    corio_log_set_handler(NULL, NULL);
    RUN_TEST(test_close_unwinds_pending_tasks);
    TEST_MAIN_END();
}
