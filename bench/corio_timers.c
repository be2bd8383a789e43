/*
 * corio_timers.c - N timers scheduled with corio_call_later (NULL handle:
 * the loop allocates and frees one) and all fired (compare Go
 * time.AfterFunc, asyncio loop.call_later).
 *
 * Delays are spread over [0, S) seconds in a fixed pseudo-random order
 * (Knuth's multiplicative hash of the index), the same in every
 * implementation, so the heap sees a realistic insertion order.  The wall
 * time therefore includes waiting for the last deadline; ns_per_op is the
 * CPU time (user + system) per timer, which does not, and is what is
 * compared.
 *
 * usage: corio_timers [N] [S]     (default N = 1M, S = 1 s)
 */
#include "bench.h"

#include <corio.h>

static long fired, target;
static corio_future all_done;

static void on_timer(void *arg) {
    (void)arg;
    if (++fired == target) corio_future_set_result(&all_done, 0);
}

static double spread_s = 1.0;

static int timers_main(void *arg) {
    long n = *(long *)arg;
    target = n;
    BENCH_CHECK(corio_future_init(&all_done, NULL) == 0);
    int64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        double d = (double)(((uint64_t)i * 2654435761u) & 0xffffffffu) / 4294967296.0 * spread_s;
        BENCH_CHECK(corio_call_later(NULL, d, on_timer, NULL) == 0);
    }
    int64_t t1 = bench_now_ns();
    BENCH_CHECK(corio_await(&all_done, NULL) == 0);
    int64_t c1 = bench_cpu_ns(), t2 = bench_now_ns();
    BENCH_CHECK(fired == n);
    bench_print_head("timers", n, (double)(c1 - c0) / (double)n, (double)(t2 - t0) / 1e9);
    printf(" spread_s=%.3f schedule_s=%.4f cpu_s=%.4f\n", spread_s, (double)(t1 - t0) / 1e9, (double)(c1 - c0) / 1e9);
    corio_future_destroy(&all_done);
    return 0;
}

int main(int argc, char **argv) {
    long n = bench_arg_n(argc, argv, 1000000);
    if (argc > 2) spread_s = strtod(argv[2], NULL);
    BENCH_CHECK(corio_run(timers_main, &n) == 0);
    return 0;
}
