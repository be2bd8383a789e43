/*
 * to_thread.c - blocking and CPU-bound work on worker threads beside a
 * task that keeps ticking: both finish, and the loop never stalls
 * (asyncio.to_thread, after the example in the asyncio docs).
 *
 *     def blocking_io():
 *         time.sleep(1)                 # a blocking call: would freeze the loop
 *         return "blocking_io done"
 *
 *     def crunch(n):
 *         return sum(i * i for i in range(n))
 *
 *     async def ticker():
 *         for n in range(1, 4):
 *             await asyncio.sleep(0.25)
 *             print(f"tick {n}")
 *
 *     async def main():
 *         print("started main")
 *         io, total, _ = await asyncio.gather(
 *             asyncio.to_thread(blocking_io),
 *             asyncio.to_thread(crunch, 3_000_000),
 *             ticker())
 *         print(io)
 *         print(f"sum of squares below 3000000: {total}")
 *         print("finished main")
 *
 * What the output does not show is checked with the real clock and
 * reported as a sentence: the three ran side by side (about 1 s in all,
 * not 1 s + the crunch + 0.75 s), and no tick came late, which it would if
 * the blocking call ran on the loop's thread.  The job prints nothing
 * itself: a line printed from a worker would race with the ticks.
 */
#include <corio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double real_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A blocking call: runs on a worker thread, never on the loop. */
static intptr_t blocking_io(void *arg) {
    (void)arg;
    struct timespec one_second = {1, 0};
    nanosleep(&one_second, NULL);
    return 0;
}

/* CPU work: the result comes back through the loop as an intptr_t; here
 * the caller's memory holds the 64-bit sum. */
static intptr_t crunch(void *arg) {
    uint64_t *total = arg, sum = 0;
    for (uint64_t i = 0; i < 3000000; i++) sum += i * i;
    *total = sum;
    return 0;
}

static double worst_gap; /* the longest real time between two ticks, beyond the 0.25 s asked for */

static int ticker(void *arg) {
    (void)arg;
    double last = real_now();
    for (int n = 1; n <= 3; n++) {
        int rc = corio_sleep(0.25);
        if (rc < 0) return rc;
        double now = real_now(), late = now - last - 0.25;
        if (late > worst_gap) worst_gap = late;
        last = now;
        printf("tick %d\n", n);
    }
    return 0;
}

static int io_task(void *arg) {
    (void)arg;
    return corio_to_thread(blocking_io, NULL, NULL);
}

static int crunch_task(void *arg) { return corio_to_thread(crunch, arg, NULL); }

static int amain(void *arg) {
    (void)arg;
    double t0 = real_now();
    uint64_t total = 0;
    puts("started main");
    corio_task *io = corio_spawn(io_task, NULL);
    corio_task *cpu = corio_spawn(crunch_task, &total);
    corio_task *tick = corio_spawn(ticker, NULL);
    if (!io || !cpu || !tick) return -ENOMEM;
    int rio = corio_join(io), rcpu = corio_join(cpu), rtick = corio_join(tick);
    if (rio < 0) return rio;
    if (rcpu < 0) return rcpu;
    if (rtick < 0) return rtick;
    puts("blocking_io done");
    printf("sum of squares below 3000000: %" PRIu64 "\n", total);
    double elapsed = real_now() - t0;
    /* A tick late by half its period means the loop could not run. */
    printf("the loop never stalled: %s\n", worst_gap < 0.125 ? "yes" : "NO");
    printf("ran side by side: %s\n", elapsed < 1.6 ? "yes" : "NO");
    puts("finished main");
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "to_thread: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
