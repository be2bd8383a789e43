/*
 * wait.c - wait for the first of several tasks, then with a timeout,
 * then for the rest (asyncio.wait).  wait never cancels anything and a
 * timeout is not an error: it reports what is done and what is pending.
 *
 *     fast = asyncio.create_task(job("fast", 1))
 *     slow = asyncio.create_task(job("slow", 3))
 *     done, pending = await asyncio.wait({fast, slow}, return_when=asyncio.FIRST_COMPLETED)
 *     print(f"{loop.time() - start:.1f} s: {len(done)} done, {len(pending)} pending")
 *     done, pending = await asyncio.wait(pending, timeout=1)
 *     ...
 *     done, pending = await asyncio.wait(pending)
 */
#include <corio.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct job {
    const char *name;  /* printed when done */
    int delay;         /* seconds of work, also the result */
};

static int job(void *arg) {
    const struct job *j = arg;
    int rc = corio_sleep(j->delay);
    if (rc < 0) return rc;
    printf("%s done\n", j->name);
    return j->delay;
}

/*
 * Wait on futs[0..*n) as asyncio.wait does, print how many are done and
 * how many pending, and leave the pending ones in futs[0..*n).
 */
static int wait_and_report(corio_future **futs, size_t *n, int return_when, double timeout,
                           double start) {
    corio_future *pending[2];  /* room for both tasks of this example */
    int ndone = corio_wait(futs, *n, return_when, timeout, NULL, pending);
    if (ndone < 0) return ndone;
    *n -= (size_t)ndone;
    memcpy(futs, pending, *n * sizeof *futs);
    printf("%.1f s: %d done, %zu pending\n", corio_time() - start, ndone, *n);
    return 0;
}

static int amain(void *arg) {
    (void)arg;
    double start = corio_time();
    struct job fast_job = {"fast", 1}, slow_job = {"slow", 3};

    corio_task *fast = corio_spawn(job, &fast_job);
    if (!fast) return -errno;
    corio_task *slow = corio_spawn(job, &slow_job);
    if (!slow) {
        int err = -errno;
        corio_cancel(fast);
        corio_join(fast);
        return err;
    }

    corio_future *futs[2] = {corio_task_future(fast), corio_task_future(slow)};
    size_t n = 2;
    int rc = wait_and_report(futs, &n, CORIO_FIRST_COMPLETED, INFINITY, start);
    if (rc == 0) rc = wait_and_report(futs, &n, CORIO_ALL_COMPLETED, 1.0, start);
    if (rc == 0) rc = wait_and_report(futs, &n, CORIO_ALL_COMPLETED, INFINITY, start);

    if (rc < 0) {  /* we were cancelled: do not leave the tasks running */
        corio_cancel(fast);
        corio_cancel(slow);
    }
    int fast_result = corio_join(fast);
    int slow_result = corio_join(slow);
    if (rc < 0) return rc;
    printf("fast returned %d, slow returned %d\n", fast_result, slow_result);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "wait: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
