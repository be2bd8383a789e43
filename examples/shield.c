/*
 * shield.c - stop waiting for a task without cancelling it
 * (asyncio.shield).  The timeout cancels main, not something().
 *
 *     task = asyncio.create_task(something())
 *     try:
 *         async with asyncio.timeout(1):
 *             res = await asyncio.shield(task)
 *     except TimeoutError:
 *         print(f"{loop.time() - start:.1f} s: timed out; something() carries on")
 *     res = await task
 *     print(f"{loop.time() - start:.1f} s: result {res}")
 */
#include <corio.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

static int something(void *arg) {
    (void)arg;
    int rc = corio_sleep(2.0);
    if (rc < 0) return rc;
    puts("something() finished");
    return 42;
}

static int amain(void *arg) {
    (void)arg;
    double start = corio_time();
    corio_task *task = corio_spawn(something, NULL);
    if (!task) return -errno;

    corio_timeout to;
    int rc = corio_timeout_enter(&to, 1.0);
    if (rc == 0) {
        intptr_t res;  /* the result, had it come within the second */
        rc = corio_shield(corio_task_future(task), &res);
        rc = corio_timeout_exit(&to, rc);
    }
    if (rc == -ETIMEDOUT) {
        printf("%.1f s: timed out; something() carries on\n", corio_time() - start);
    } else if (rc < 0) {  /* cancelled from outside: do not leave the task behind */
        corio_cancel(task);
        corio_join(task);
        return rc;
    }

    int res = corio_join(task);  /* res = await task */
    if (res < 0) return res;
    printf("%.1f s: result %d\n", corio_time() - start, res);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "shield: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
