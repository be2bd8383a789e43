/*
 * tasks_in_loop.c - creating tasks in a loop, then waiting for each.
 * They run concurrently: the slowest takes 0.5 s, and so does the whole.
 *
 *     async def some_coro(param):
 *         await asyncio.sleep(0.1 * (N - param))
 *         print(f"task {param} done")
 *         return param * param
 *
 *     async def main():
 *         tasks = []
 *         for i in range(N):
 *             tasks.append(asyncio.create_task(some_coro(param=i)))
 *         results = [await task for task in tasks]
 *         print("results:", *results)
 */
#include <corio.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#define N 5

static int some_coro(void *arg) {
    int param = (int)(intptr_t)arg;
    int rc = corio_sleep(0.1 * (N - param));
    if (rc < 0) return rc;
    printf("task %d done\n", param);
    return param * param;
}

static int amain(void *arg) {
    (void)arg;
    double start = corio_time();
    corio_task *tasks[N];
    int results[N];
    int n = 0, rc = 0;

    for (; n < N; n++) {
        tasks[n] = corio_spawn(some_coro, (void *)(intptr_t)n);
        if (!tasks[n]) {
            rc = -errno;
            break;
        }
    }
    /* Join every task we started, even after a failure, so none is left behind. */
    for (int i = 0; i < n; i++) {
        if (rc < 0) corio_cancel(tasks[i]);
        results[i] = corio_join(tasks[i]);
        if (results[i] < 0 && rc == 0) rc = results[i];
    }
    if (rc < 0) return rc;

    printf("results:");
    for (int i = 0; i < N; i++) printf(" %d", results[i]);
    printf("\n");
    printf("finished at %.1f s\n", corio_time() - start);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "tasks_in_loop: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
