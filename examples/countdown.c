/*
 * countdown.c - a task that wakes up once a second for five seconds
 * (the display_date example of asyncio.sleep), printing the loop clock
 * instead of the date so that the output can be compared.
 *
 *     async def countdown():
 *         loop = asyncio.get_running_loop()
 *         start = loop.time()
 *         end_time = start + 5.0
 *         while True:
 *             print(f"{loop.time() - start:.1f} s: T-{end_time - loop.time():.0f}")
 *             if (loop.time() + 1.0) >= end_time:
 *                 break
 *             await asyncio.sleep(1)
 *
 *     asyncio.run(countdown())
 */
#include <corio.h>
#include <stdio.h>

static int countdown(void *arg) {
    (void)arg;
    double start = corio_time();
    double end_time = start + 5.0;
    for (;;) {
        printf("%.1f s: T-%.0f\n", corio_time() - start, end_time - corio_time());
        if (corio_time() + 1.0 >= end_time) break;
        int rc = corio_sleep(1.0);
        if (rc < 0) return rc;
    }
    return 0;
}

int main(void) {
    int rc = corio_run(countdown, NULL);
    if (rc < 0) {
        fprintf(stderr, "countdown: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
