/*
 * procpool_squares.c - CPU work in worker processes: five jobs of one
 * second each finish in about one second, not five (after Python's
 * ProcessPoolExecutor example).
 *
 *     def slow_square(n):
 *         time.sleep(1)                  # stands for a second of CPU work
 *         return n * n
 *
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         start = time.monotonic()
 *         with ProcessPoolExecutor(max_workers=5) as pool:
 *             results = await asyncio.gather(
 *                 *(loop.run_in_executor(pool, slow_square, n) for n in range(1, 6)))
 *         print(results)
 *         print(f"took {round(time.monotonic() - start)} s")
 *
 * The jobs sleep in real time in other processes, so this example cannot
 * use the virtual clock: tests/test_procpool.c runs it and checks it.
 */
#include <corio.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double real_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs in a worker process: input and output are a long's bytes. */
static int slow_square(const void *in, size_t in_len, void **out, size_t *out_len) {
    long n;
    if (in_len != sizeof n) return -EINVAL;
    memcpy(&n, in, sizeof n);
    sleep(1);
    long *r = malloc(sizeof *r);
    if (!r) return -ENOMEM;
    *r = n * n;
    *out = r;
    *out_len = sizeof *r;
    return 0;
}

static corio_procpool *pool;

static int amain(void *arg) {
    (void)arg;
    double start = real_now();
    long numbers[5] = {1, 2, 3, 4, 5};
    const void *inputs[5];
    size_t lens[5], out_lens[5];
    void *outputs[5];
    int errors[5];
    for (int i = 0; i < 5; i++) {
        inputs[i] = &numbers[i];
        lens[i] = sizeof numbers[i];
    }
    int rc = corio_procpool_map(pool, slow_square, inputs, lens, 5, outputs, out_lens, errors);
    if (rc < 0) return rc;
    printf("[");
    for (int i = 0; i < 5; i++) {
        long r = -1;
        if (errors[i] == 0 && out_lens[i] == sizeof r) memcpy(&r, outputs[i], sizeof r);
        printf(i ? ", %ld" : "%ld", r);
        free(outputs[i]);
    }
    printf("]\n");
    printf("took %.0f s\n", real_now() - start);
    return rc == 0 ? 0 : -EIO;
}

int main(void) {
    /* Fork the workers first, before the loop exists. */
    pool = corio_procpool_new(5);
    if (!pool) {
        fprintf(stderr, "procpool_squares: %s\n", strerror(errno));
        return 1;
    }
    int rc = corio_run(amain, NULL);
    corio_procpool_free(pool);
    if (rc < 0) {
        fprintf(stderr, "procpool_squares: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
