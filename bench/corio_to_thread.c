/*
 * corio_to_thread.c - executor round trips (issue 4, item 8): a job that
 * does nothing, handed to a worker thread with corio_to_thread and its
 * result brought back to the awaiting task.  Compare libuv's
 * uv_queue_work (bench/peers/uv_queue_work.c) and Python's
 * run_in_executor (bench/peers/asyncio_to_thread.py).
 *
 *  - latency: ONE task makes N sequential corio_to_thread calls; reported
 *    per round trip (submit -> worker runs fn -> loop wakes -> task resumes).
 *  - throughput: T tasks (default 64) make N/T calls each, concurrently;
 *    reported as calls per second (and ns_per_op = wall / N).
 *
 * The loop's default executor is replaced by corio_executor_new(4): four
 * worker threads, as UV_THREADPOOL_SIZE=4 and ThreadPoolExecutor(4).
 *
 * usage: corio_to_thread [N] [latency|throughput|both] [T]   (default 200000 both 64)
 */
#include "bench.h"

#include <corio.h>
#include <stdbool.h>

#define NTHREADS 4

static intptr_t empty_job(void *arg) { return (intptr_t)arg; }

typedef struct {
    long calls;
} tput_arg;

static int tput_task(void *arg) {
    tput_arg *a = arg;
    for (long i = 0; i < a->calls; i++) {
        intptr_t r = 0;
        BENCH_CHECK(corio_to_thread(empty_job, (void *)(intptr_t)1, &r) == 0);
        BENCH_CHECK(r == 1);
    }
    return 0;
}

static void latency(long n) {
    for (long i = 0; i < 1000; i++) BENCH_CHECK(corio_to_thread(empty_job, NULL, NULL) == 0); /* warm up */
    int64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        intptr_t r = 0;
        BENCH_CHECK(corio_to_thread(empty_job, (void *)(intptr_t)(i + 1), &r) == 0);
        BENCH_CHECK(r == i + 1);
    }
    int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
    bench_print_head("to_thread_latency", n, (double)(t1 - t0) / (double)n, (double)(t1 - t0) / 1e9);
    printf(" threads=%d cpu_ns_per_op=%.1f\n", NTHREADS, (double)(c1 - c0) / (double)n);
}

static void run_tasks(long n, int ntasks) {
    corio_task **ts = calloc((size_t)ntasks, sizeof *ts);
    tput_arg *as = calloc((size_t)ntasks, sizeof *as);
    BENCH_CHECK(ts && as);
    for (int k = 0; k < ntasks; k++) {
        as[k].calls = n / ntasks + (k < n % ntasks ? 1 : 0);
        BENCH_CHECK((ts[k] = corio_spawn(tput_task, &as[k])) != NULL);
    }
    for (int k = 0; k < ntasks; k++) BENCH_CHECK(corio_join(ts[k]) == 0);
    free(ts);
    free(as);
}

static void throughput(long n, int ntasks) {
    run_tasks(ntasks * 20L, ntasks); /* warm up */
    int64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
    run_tasks(n, ntasks);
    int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
    double wall = (double)(t1 - t0) / 1e9;
    bench_print_head("to_thread_throughput", n, (double)(t1 - t0) / (double)n, wall);
    printf(" threads=%d tasks=%d calls_per_s=%.0f cpu_ns_per_op=%.1f\n", NTHREADS, ntasks, (double)n / wall,
           (double)(c1 - c0) / (double)n);
}

typedef struct {
    long n;
    const char *mode;
    int ntasks;
} cfg;

static int bench_main(void *arg) {
    cfg *c = arg;
    corio_executor *ex = corio_executor_new(NTHREADS);
    BENCH_CHECK(ex != NULL);
    BENCH_CHECK(corio_set_default_executor(ex) == 0);
    bool both = strcmp(c->mode, "both") == 0;
    if (both || strcmp(c->mode, "latency") == 0) latency(c->n);
    if (both || strcmp(c->mode, "throughput") == 0) throughput(c->n, c->ntasks);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    cfg c = {bench_arg_n(argc, argv, 200000), argc > 2 ? argv[2] : "both", argc > 3 ? atoi(argv[3]) : 64};
    BENCH_CHECK(c.ntasks > 0);
    BENCH_CHECK(strcmp(c.mode, "both") == 0 || strcmp(c.mode, "latency") == 0 ||
                strcmp(c.mode, "throughput") == 0);
    BENCH_CHECK(corio_run(bench_main, &c) == 0);
    return 0;
}
