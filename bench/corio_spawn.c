/*
 * corio_spawn.c - spawn + join of an empty task, one at a time, from a main
 * task: corio_spawn(), then corio_join() (compare asyncio create_task +
 * await, Go `go func` + WaitGroup).  Each round trip is: record and stack
 * from the caches, the child's first switch in, its return, the parent's
 * wake-up: four switches and two loop iterations.
 *
 * usage: corio_spawn [N]     (default 2M)
 */
#include "bench.h"

#include <corio.h>

static int empty(void *arg) {
    (void)arg;
    return 0;
}

static int spawn_main(void *arg) {
    long n = *(long *)arg;
    for (long i = 0; i < 10000; i++) { /* warm up: the stack and record caches */
        corio_task *t = corio_spawn(empty, NULL);
        BENCH_CHECK(t && corio_join(t) == 0);
    }
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        corio_task *t = corio_spawn(empty, NULL);
        BENCH_CHECK(t != NULL);
        corio_join(t);
    }
    int64_t t1 = bench_now_ns();
    bench_print_head("spawn_join", n, (double)(t1 - t0) / (double)n, (double)(t1 - t0) / 1e9);
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    long n = bench_arg_n(argc, argv, 2000000);
    BENCH_CHECK(corio_run(spawn_main, &n) == 0);
    return 0;
}
