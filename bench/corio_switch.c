/*
 * corio_switch.c - the cost of a context switch, two ways.
 *
 *  switch_raw:   corio__ctx_switch between two contexts, nothing else: the
 *                floor the assembly gives (compare Boost.Context's
 *                jump_fcontext).  Reported per switch (one direction).
 *  yield:        two tasks ping-ponging with corio_yield(): the switch plus
 *                the scheduler (ready queue, loop iteration, clock read,
 *                an occasional poll).  Reported per yield, i.e. per hand-over
 *                from one task to the other (compare Go's runtime.Gosched
 *                and asyncio.sleep(0) between two coroutines).
 *
 * usage: corio_switch [N] [raw|yield|both]     (N iterations per task; default 10M)
 */
#include "bench.h"

#include <corio.h>
#include <sys/mman.h>

#include "core/switch.h" /* internal: corio__ctx_switch / corio__ctx_make (hidden symbols of libcorio.a) */

static void *main_ctx, *co_ctx;

static void co_entry(void *arg) {
    (void)arg;
    for (;;) corio__ctx_switch(&co_ctx, main_ctx);
}

static void bench_raw(long n) {
#ifdef CORIO__SWITCH_UCONTEXT
    /* A ucontext "context" is a ucontext_t the caller provides storage for
     * (the loop's own); the raw pair below is built for the assembly switch. */
    (void)n;
    fprintf(stderr, "switch_raw: measured with the assembly switch only\n");
    return;
#endif
    size_t sz = 64 * 1024;
    void *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    BENCH_CHECK(stk != MAP_FAILED);
    co_ctx = corio__ctx_make(stk, sz, co_entry, NULL);
    for (long i = 0; i < 100000; i++) corio__ctx_switch(&main_ctx, co_ctx); /* warm up */
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) corio__ctx_switch(&main_ctx, co_ctx);
    int64_t t1 = bench_now_ns();
    double wall = (double)(t1 - t0) / 1e9;
    bench_print_head("switch_raw", n, (double)(t1 - t0) / (2.0 * (double)n), wall);
    printf(" switches=%ld\n", 2 * n);
    munmap(stk, sz);
}

static long yields_per_task;

static int yielder(void *arg) {
    (void)arg;
    for (long i = 0; i < yields_per_task; i++) corio_yield();
    return 0;
}

static int yield_main(void *arg) {
    long n = *(long *)arg;
    /* Warm up: both stacks touched, caches filled. */
    yields_per_task = 10000;
    corio_task *a = corio_spawn(yielder, NULL), *b = corio_spawn(yielder, NULL);
    BENCH_CHECK(a && b);
    corio_join(a);
    corio_join(b);

    yields_per_task = n;
    a = corio_spawn(yielder, NULL);
    b = corio_spawn(yielder, NULL);
    BENCH_CHECK(a && b);
    int64_t t0 = bench_now_ns();
    corio_join(a);
    corio_join(b);
    int64_t t1 = bench_now_ns();
    double wall = (double)(t1 - t0) / 1e9;
    /* 2n yields in all, each handing the CPU from one task to the other. */
    bench_print_head("yield", n, (double)(t1 - t0) / (2.0 * (double)n), wall);
    printf(" yields=%ld\n", 2 * n);
    return 0;
}

int main(int argc, char **argv) {
    long n = bench_arg_n(argc, argv, 10000000);
    const char *which = argc > 2 ? argv[2] : "both";
    if (!strcmp(which, "raw") || !strcmp(which, "both")) bench_raw(n);
    if (!strcmp(which, "yield") || !strcmp(which, "both")) BENCH_CHECK(corio_run(yield_main, &n) == 0);
    return 0;
}
