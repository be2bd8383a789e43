/*
 * uv_queue_work.c - libuv's peer of bench/corio_to_thread.c: uv_queue_work
 * with an empty work callback, the result coming back in after_work on
 * the loop thread.  Run with UV_THREADPOOL_SIZE=4 (bench/to_thread.sh sets
 * it; this program sets it too when missing, before the pool starts).
 *
 *  - latency: one request at a time; the next is submitted from the
 *    previous one's after_work callback.  Per round trip.
 *  - throughput: T requests in flight (default 64), each resubmitted from
 *    its after_work until N have completed.  Calls per second.
 *
 * usage: uv_queue_work [N] [latency|throughput|both] [T]   (default 200000 both 64)
 * build: cc -O2 -o uv_queue_work uv_queue_work.c -luv
 */
#include "../bench.h"

#include <uv.h>

static uv_loop_t *loop;
static long target;    /* calls to complete */
static long submitted; /* calls submitted so far */
static long completed;
static intptr_t sum;

typedef struct {
    uv_work_t req;
    intptr_t value;
    intptr_t result;
} call;

static void work_cb(uv_work_t *req) {
    call *c = (call *)req;
    c->result = c->value; /* empty: hand the argument back */
}

static void submit(call *c);

static void after_cb(uv_work_t *req, int status) {
    BENCH_CHECK(status == 0);
    call *c = (call *)req;
    BENCH_CHECK(c->result == c->value);
    sum += c->result;
    completed++;
    if (submitted < target) submit(c);
}

static void submit(call *c) {
    c->value = ++submitted;
    BENCH_CHECK(uv_queue_work(loop, &c->req, work_cb, after_cb) == 0);
}

/* Complete n calls with `inflight` requests in flight. */
static void run_calls(long n, int inflight) {
    target = n;
    submitted = completed = 0;
    sum = 0;
    call *cs = calloc((size_t)inflight, sizeof *cs);
    BENCH_CHECK(cs != NULL);
    for (int k = 0; k < inflight && submitted < target; k++) submit(&cs[k]);
    BENCH_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
    BENCH_CHECK(completed == n);
    BENCH_CHECK(sum == (intptr_t)n * (n + 1) / 2);
    free(cs);
}

static int threads(void) {
    const char *s = getenv("UV_THREADPOOL_SIZE");
    return s ? atoi(s) : 4;
}

static void print_line(const char *name, long n, int64_t dt, int64_t dc, int inflight) {
    bench_usage u = bench_usage_now();
    printf("name=%s impl=libuv n=%ld ns_per_op=%.2f wall_s=%.4f maxrss_kb=%ld minflt=%ld threads=%d", name, n,
           (double)dt / (double)n, (double)dt / 1e9, u.maxrss_kb, u.minflt, threads());
    if (inflight > 1) printf(" tasks=%d calls_per_s=%.0f", inflight, (double)n / ((double)dt / 1e9));
    printf(" cpu_ns_per_op=%.1f\n", (double)dc / (double)n);
}

int main(int argc, char **argv) {
    long n = bench_arg_n(argc, argv, 200000);
    const char *mode = argc > 2 ? argv[2] : "both";
    int ntasks = argc > 3 ? atoi(argv[3]) : 64;
    BENCH_CHECK(ntasks > 0);
    setenv("UV_THREADPOOL_SIZE", "4", 0);
    loop = uv_default_loop();
    int both = strcmp(mode, "both") == 0;
    BENCH_CHECK(both || strcmp(mode, "latency") == 0 || strcmp(mode, "throughput") == 0);
    if (both || strcmp(mode, "latency") == 0) {
        run_calls(1000, 1); /* warm up (starts the pool) */
        int64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
        run_calls(n, 1);
        int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
        print_line("to_thread_latency", n, t1 - t0, c1 - c0, 1);
    }
    if (both || strcmp(mode, "throughput") == 0) {
        run_calls(ntasks * 20L, ntasks);
        int64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
        run_calls(n, ntasks);
        int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
        print_line("to_thread_throughput", n, t1 - t0, c1 - c0, ntasks);
    }
    fflush(stdout);
    BENCH_CHECK(uv_loop_close(loop) == 0);
    return 0;
}
