/*
 * gather.c - run three computations concurrently and collect their
 * results in argument order (the asyncio.gather example).
 *
 *     async def factorial(name, number):
 *         f = 1
 *         for i in range(2, number + 1):
 *             print(f"Task {name}: Compute factorial({number}), currently i={i}...")
 *             await asyncio.sleep(1)
 *             f *= i
 *         print(f"Task {name}: factorial({number}) = {f}")
 *         return f
 *
 *     async def main():
 *         # Schedule three calls *concurrently*:
 *         L = await asyncio.gather(
 *             factorial("A", 2),
 *             factorial("B", 3),
 *             factorial("C", 4),
 *         )
 *         print(L)
 */
#include <corio.h>
#include <errno.h>
#include <stdio.h>

struct job {
    const char *name;  /* printed in every line */
    int number;        /* compute number! */
};

static int factorial(void *arg) {
    const struct job *job = arg;
    int f = 1;
    for (int i = 2; i <= job->number; i++) {
        printf("Task %s: Compute factorial(%d), currently i=%d...\n", job->name, job->number, i);
        int rc = corio_sleep(1.0);
        if (rc < 0) return rc;
        f *= i;
    }
    printf("Task %s: factorial(%d) = %d\n", job->name, job->number, f);
    return f;
}

static int amain(void *arg) {
    (void)arg;
    static const struct job jobs[] = {{"A", 2}, {"B", 3}, {"C", 4}};
    enum { N = sizeof jobs / sizeof jobs[0] };
    corio_task *tasks[N];
    int L[N];
    int n = 0, rc = 0;

    /* Schedule three calls *concurrently*: */
    for (; n < N; n++) {
        tasks[n] = corio_spawn(factorial, (void *)&jobs[n]);
        if (!tasks[n]) {
            rc = -errno;
            break;
        }
    }
    if (rc == 0) rc = corio_gather_tasks(tasks, N, 0);

    /* Release the tasks; after a successful gather each join returns at once. */
    for (int i = 0; i < n; i++) {
        if (rc < 0) corio_cancel(tasks[i]);
        L[i] = corio_join(tasks[i]);
    }
    if (rc < 0) return rc;

    printf("[%d, %d, %d]\n", L[0], L[1], L[2]);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "gather: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
