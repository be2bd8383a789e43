/*
 * cpu_yield.c - a long computation that yields to the loop after each
 * chunk of work (asyncio.sleep(0)), so that another task keeps making
 * progress.  Without the yield the heartbeat would not run until the
 * computation had finished: a task only gives up the CPU when it waits.
 *
 *     async def heartbeat():
 *         beats = 0
 *         while True:
 *             beats += 1
 *             print(f"heartbeat {beats}")
 *             await asyncio.sleep(0)
 *
 *     async def crunch(chunks):
 *         total = 0
 *         for chunk in range(chunks):
 *             for i in range(chunk * CHUNK, (chunk + 1) * CHUNK):
 *                 total += i * i
 *             print(f"crunch: chunk {chunk} done")
 *             await asyncio.sleep(0)  # let the other tasks run
 *         return total
 */
#include <corio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#define CHUNK 250000

static int heartbeat(void *arg) {
    (void)arg;
    for (int beats = 1;; beats++) {
        printf("heartbeat %d\n", beats);
        int rc = corio_sleep(0);  /* corio_yield() does the same */
        if (rc < 0) return rc;    /* -ECANCELED: we were told to stop */
    }
}

/* Called directly, as `await crunch(4)`: it suspends the calling task. */
static int crunch(int chunks, uint64_t *total) {
    uint64_t sum = 0;
    for (int chunk = 0; chunk < chunks; chunk++) {
        for (uint64_t i = (uint64_t)chunk * CHUNK; i < (uint64_t)(chunk + 1) * CHUNK; i++)
            sum += i * i;
        printf("crunch: chunk %d done\n", chunk);
        int rc = corio_sleep(0);  /* let the other tasks run */
        if (rc < 0) return rc;
    }
    *total = sum;
    return 0;
}

static int amain(void *arg) {
    (void)arg;
    corio_task *hb = corio_spawn(heartbeat, NULL);
    if (!hb) return -errno;

    uint64_t total;
    int rc = crunch(4, &total);
    if (rc == 0) printf("sum of squares below %d: %" PRIu64 "\n", 4 * CHUNK, total);

    corio_cancel(hb);
    if (corio_join(hb) == -ECANCELED) puts("heartbeat stopped");
    return rc;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "cpu_yield: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
