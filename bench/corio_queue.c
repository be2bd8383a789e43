/*
 * corio_queue.c - a message ping-pong through a corio_queue of maxsize 1:
 * a producer task puts N items, a consumer task gets them (compare Go's
 * unbuffered channel, asyncio.Queue(1)).  Reported per message.
 *
 * usage: corio_queue [N]     (default 2M)
 */
#include "bench.h"

#include <corio.h>

static corio_queue q;
static long n_msgs;

static int producer(void *arg) {
    (void)arg;
    for (long i = 0; i < n_msgs; i++) BENCH_CHECK(corio_queue_put(&q, (void *)(intptr_t)(i + 1)) == 0);
    return 0;
}

static int consumer(void *arg) {
    (void)arg;
    intptr_t sum = 0;
    for (long i = 0; i < n_msgs; i++) {
        void *item;
        BENCH_CHECK(corio_queue_get(&q, &item) == 0);
        sum += (intptr_t)item;
    }
    BENCH_CHECK(sum == (intptr_t)n_msgs * (n_msgs + 1) / 2);
    return 0;
}

static void round_trip(long n) {
    n_msgs = n;
    corio_task *c = corio_spawn(consumer, NULL), *p = corio_spawn(producer, NULL);
    BENCH_CHECK(c && p);
    BENCH_CHECK(corio_join(p) == 0);
    BENCH_CHECK(corio_join(c) == 0);
}

static int queue_main(void *arg) {
    long n = *(long *)arg;
    BENCH_CHECK(corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL) == 0);
    round_trip(10000); /* warm up */
    int64_t t0 = bench_now_ns();
    round_trip(n);
    int64_t t1 = bench_now_ns();
    BENCH_CHECK(corio_queue_destroy(&q) == 0);
    bench_print_head("queue", n, (double)(t1 - t0) / (double)n, (double)(t1 - t0) / 1e9);
    printf(" maxsize=1\n");
    return 0;
}

int main(int argc, char **argv) {
    long n = bench_arg_n(argc, argv, 2000000);
    BENCH_CHECK(corio_run(queue_main, &n) == 0);
    return 0;
}
