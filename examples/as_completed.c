/*
 * as_completed.c - handle tasks in the order they finish
 * (asyncio.as_completed).  As with `async for` in Python 3.13, each step
 * gives back one of the original tasks' futures, already done.
 *
 *     async def job(delay):
 *         await asyncio.sleep(delay)
 *         return delay
 *
 *     async def main():
 *         tasks = [asyncio.create_task(job(d)) for d in (3, 1, 2)]
 *         async for task in asyncio.as_completed(tasks):
 *             print(f"{loop.time() - start:.1f} s: job({await task}) finished")
 */
#include <corio.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

static int job(void *arg) {
    int delay = (int)(intptr_t)arg;
    int rc = corio_sleep(delay);
    if (rc < 0) return rc;
    return delay;
}

static int amain(void *arg) {
    (void)arg;
    static const int delays[] = {3, 1, 2};
    enum { N = sizeof delays / sizeof delays[0] };
    double start = corio_time();
    corio_task *tasks[N];
    corio_future *futs[N];
    int n = 0, rc = 0;

    for (; n < N; n++) {
        tasks[n] = corio_spawn(job, (void *)(intptr_t)delays[n]);
        if (!tasks[n]) {
            rc = -errno;
            break;
        }
        futs[n] = corio_task_future(tasks[n]);
    }

    corio_as_completed it;
    if (rc == 0) rc = corio_as_completed_init(&it, futs, N, INFINITY);
    if (rc == 0) {
        corio_future *f;
        while ((rc = corio_as_completed_next(&it, &f)) == 1) {
            intptr_t value;
            rc = corio_future_result(f, &value);
            if (rc < 0) break;
            printf("%.1f s: job(%d) finished\n", corio_time() - start, (int)value);
        }
        corio_as_completed_close(&it);
    }

    for (int i = 0; i < n; i++) {
        if (rc < 0) corio_cancel(tasks[i]);
        corio_join(tasks[i]);
    }
    return rc;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "as_completed: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
