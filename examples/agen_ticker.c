/*
 * agen_ticker.c - an async generator of ticks, consumed with a loop and
 * stopped early: close() makes the producer's pending yield return
 * CORIO_AGEN_CLOSED (Python's GeneratorExit), and it cleans up - awaiting,
 * here - before close() returns.
 *
 *     async def ticker(interval, count):
 *         i = -1
 *         try:
 *             for i in range(count):
 *                 await asyncio.sleep(interval)
 *                 yield i
 *         except GeneratorExit:
 *             print(f"ticker: closed after tick {i}, cleaning up")
 *             await asyncio.sleep(0.2)  # cleanup may await
 *             print("ticker: cleaned up")
 *             raise
 *
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         start = loop.time()
 *         ticks = ticker(0.5, 10)
 *         async for t in ticks:
 *             print(f"{loop.time() - start:.1f} s: tick {t}")
 *             if t == 3:
 *                 break
 *         await ticks.aclose()
 *         print(f"{loop.time() - start:.1f} s: done")
 *
 *     asyncio.run(main())
 */
#include <corio.h>
#include <stdio.h>

struct ticker_args {
    double interval;
    int count;
};

/* The producer: a task of its own, suspended at each yield until the
 * consumer asks for the next tick. */
static int ticker(corio_agen *g, void *arg) {
    const struct ticker_args *a = arg;
    int i = -1, rc = 0;
    for (i = 0; i < a->count; i++) {
        if ((rc = corio_sleep(a->interval)) < 0) return rc;
        if ((rc = corio_agen_yield(g, i, NULL)) < 0) break;
    }
    if (rc == CORIO_AGEN_CLOSED) {
        printf("ticker: closed after tick %d, cleaning up\n", i);
        corio_sleep(0.2); /* cleanup may await */
        printf("ticker: cleaned up\n");
    }
    return rc;
}

static int amain(void *unused) {
    (void)unused;
    double start = corio_time();
    struct ticker_args args = {0.5, 10};
    corio_agen *ticks = corio_agen_new(ticker, &args, NULL);
    if (!ticks) return -errno;
    intptr_t t;
    int rc;
    while ((rc = corio_agen_next(ticks, &t)) > 0) { /* async for t in ticks */
        printf("%.1f s: tick %ld\n", corio_time() - start, (long)t);
        if (t == 3) break;
    }
    if (rc >= 0) rc = corio_agen_close(ticks); /* await ticks.aclose() */
    corio_agen_release(ticks);
    if (rc < 0) return rc;
    printf("%.1f s: done\n", corio_time() - start);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "agen_ticker: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
