/*
 * corio_sleepers.c - N tasks sleeping at the same time: a main task spawns
 * N tasks that each corio_sleep(S), then joins them all (compare N
 * goroutines in time.Sleep, N asyncio tasks in asyncio.sleep).
 *
 * What it measures is memory and first-touch cost per live task: peak RSS
 * and minor faults above the process's own baseline, divided by N, and the
 * wall time of the whole thing (which includes the S seconds of sleep;
 * overhead_s is wall minus S).  It also splits the wall time into the
 * spawn phase (main spawning N tasks, none has run yet) and the rest, and
 * reports the page-table memory (VmPTE), which RSS does not count.
 *
 * usage: corio_sleepers [N] [S] [STACK_KIB]   (default N = 1M, S = 1 s, the
 *        default stack; a smaller stack, corio_task_opts.stack_size, packs
 *        the stacks closer: fewer page-table pages per task)
 */
#include "bench.h"

#include <corio.h>

static double sleep_s = 1.0;
static corio_task_opts opts; /* stack_size 0: the default */

static int sleeper(void *arg) {
    (void)arg;
    return corio_sleep(sleep_s);
}

static int sleepers_main(void *arg) {
    long n = *(long *)arg;
    /* The array of task pointers is the benchmark's, not the tasks': it is
     * touched before the baseline so that its pages (8 MB for a million)
     * are not counted per task.  Not with zeros: gcc turns malloc + memset
     * 0 into calloc, whose fresh pages are left untouched, and the array
     * was then faulted in inside the measured loop (1,953 of a million
     * tasks' 1,002,498 faults). */
    corio_task **tasks = malloc((size_t)n * sizeof *tasks);
    BENCH_CHECK(tasks != NULL);
    memset(tasks, 0xff, (size_t)n * sizeof *tasks);
    bench_usage u0 = bench_usage_now();
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        tasks[i] = corio_spawn_opts(sleeper, NULL, &opts);
        BENCH_CHECK(tasks[i] != NULL);
    }
    int64_t t1 = bench_now_ns();
    long bad = 0;
    for (long i = 0; i < n; i++) bad += corio_join(tasks[i]) != 0;
    int64_t t2 = bench_now_ns();
    BENCH_CHECK(bad == 0);
    bench_usage u = bench_usage_now();
    long pte = bench_status_kb("VmPTE");
    double wall = (double)(t2 - t0) / 1e9;
    double rss_task = (double)(u.maxrss_kb - u0.maxrss_kb) * 1024.0 / (double)n;
    double flt_task = (double)(u.minflt - u0.minflt) / (double)n;
    bench_print_head("sleepers", n, (double)(t2 - t0) / (double)n, wall);
    printf(" stack_kib=%zu sleep_s=%.3f overhead_s=%.4f spawn_s=%.4f rss_per_task_b=%.0f minflt_per_task=%.3f vmpte_kb=%ld\n",
           opts.stack_size / 1024, sleep_s, wall - sleep_s, (double)(t1 - t0) / 1e9, rss_task, flt_task, pte);
    free(tasks);
    return 0;
}

int main(int argc, char **argv) {
    long n = bench_arg_n(argc, argv, 1000000);
    if (argc > 2) sleep_s = strtod(argv[2], NULL);
    if (argc > 3) opts.stack_size = (size_t)strtoul(argv[3], NULL, 10) * 1024;
    BENCH_CHECK(corio_run(sleepers_main, &n) == 0);
    return 0;
}
