/*
 * gather_errors.c - gather with and without collecting errors.
 *
 * Without CORIO_GATHER_COLLECT (return_exceptions=False) gather returns
 * the first error as soon as it happens and leaves the other tasks
 * running; with it (return_exceptions=True) it waits for every task and
 * each outcome, value or error, is read from its task.
 *
 *     a = asyncio.create_task(work("A", 1))
 *     b = asyncio.create_task(fail("B", 2))
 *     c = asyncio.create_task(work("C", 3))
 *     try:
 *         await asyncio.gather(a, b, c)
 *     except OSError as e:
 *         print(f"{loop.time() - start:.1f} s: gather failed: {e.strerror}")
 *     results = await asyncio.gather(a, b, c, return_exceptions=True)
 */
#include <corio.h>
#include <errno.h>
#include <stdio.h>

struct job {
    const char *name;  /* printed when done */
    int delay;         /* seconds of work, also the result */
    int fail;          /* fail with -EIO instead */
};

static int work(void *arg) {
    const struct job *job = arg;
    int rc = corio_sleep(job->delay);
    if (rc < 0) return rc;
    if (job->fail) {
        printf("%s fails\n", job->name);
        return -EIO;
    }
    printf("%s done\n", job->name);
    return job->delay;
}

static int amain(void *arg) {
    (void)arg;
    static const struct job jobs[] = {{"A", 1, 0}, {"B", 2, 1}, {"C", 3, 0}};
    enum { N = sizeof jobs / sizeof jobs[0] };
    double start = corio_time();
    corio_task *tasks[N];
    int n = 0, rc = 0;

    for (; n < N; n++) {
        tasks[n] = corio_spawn(work, (void *)&jobs[n]);
        if (!tasks[n]) {
            rc = -errno;
            break;
        }
    }

    if (rc == 0) {
        /* Without collecting, the first error comes back at once... */
        rc = corio_gather_tasks(tasks, N, 0);
        if (rc < 0 && rc != -ECANCELED)
            printf("%.1f s: gather failed: %s\n", corio_time() - start, corio_strerror(rc));
        /* ...and the other tasks keep running.  Collecting waits for all. */
        if (rc != -ECANCELED) rc = corio_gather_tasks(tasks, N, CORIO_GATHER_COLLECT);
        if (rc == 0) printf("%.1f s: gather collected:\n", corio_time() - start);
    }

    for (int i = 0; i < n; i++) {
        if (rc < 0) corio_cancel(tasks[i]);
        int r = corio_join(tasks[i]);  /* done already: returns its outcome */
        if (rc < 0) continue;
        if (r < 0)
            printf("  %s: error: %s\n", jobs[i].name, corio_strerror(r));
        else
            printf("  %s: %d\n", jobs[i].name, r);
    }
    return rc;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "gather_errors: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
