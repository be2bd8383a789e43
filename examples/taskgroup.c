/*
 * taskgroup.c - structured concurrency with a task group
 * (asyncio.TaskGroup): exit waits for every child; when one fails, the
 * others are cancelled and exit reports the errors.
 *
 *     async with asyncio.TaskGroup() as tg:
 *         task1 = tg.create_task(say_after(1, 'hello'))
 *         task2 = tg.create_task(say_after(2, 'world'))
 *         print(f"started at {loop.time() - start:.1f} s")
 *     # The await is implicit when the context manager exits.
 *     print(f"finished at {loop.time() - start:.1f} s")
 *
 *     try:
 *         async with asyncio.TaskGroup() as tg:
 *             tg.create_task(fail_after(1))
 *             tg.create_task(slow())
 *     except* OSError as eg:
 *         for e in eg.exceptions:
 *             print(f"{loop.time() - start:.1f} s: group failed: {e.strerror}")
 */
#include <corio.h>
#include <errno.h>
#include <stdio.h>

struct greeting {
    double delay;      /* seconds to wait */
    const char *what;  /* what to print then */
};

static int say_after(void *arg) {
    const struct greeting *g = arg;
    int rc = corio_sleep(g->delay);
    if (rc < 0) return rc;
    puts(g->what);
    return 0;
}

static int fail_after(void *arg) {
    (void)arg;
    int rc = corio_sleep(1.0);
    if (rc < 0) return rc;
    return -EIO;
}

static int slow(void *arg) {
    (void)arg;
    int rc = corio_sleep(3.0);
    if (rc == -ECANCELED) puts("slow() cancelled");
    if (rc < 0) return rc;
    puts("slow() finished");
    return 0;
}

static int amain(void *arg) {
    (void)arg;
    double start = corio_time();
    struct greeting hello = {1.0, "hello"}, world = {2.0, "world"};

    corio_taskgroup tg;
    int rc = corio_taskgroup_enter(&tg);
    if (rc < 0) return rc;
    if (!corio_taskgroup_spawn(&tg, say_after, &hello, NULL) ||
        !corio_taskgroup_spawn(&tg, say_after, &world, NULL))
        rc = -errno;  /* exit cancels whatever was started */
    else
        printf("started at %.1f s\n", corio_time() - start);
    /* The wait is explicit here: exit returns when both children have finished. */
    rc = corio_taskgroup_exit(&tg, rc);
    if (rc < 0) return rc;
    printf("finished at %.1f s\n", corio_time() - start);

    /* One child fails: the group cancels the other and reports the error. */
    rc = corio_taskgroup_enter(&tg);
    if (rc < 0) return rc;
    if (!corio_taskgroup_spawn(&tg, fail_after, NULL, NULL) ||
        !corio_taskgroup_spawn(&tg, slow, NULL, NULL))
        rc = -errno;
    rc = corio_taskgroup_exit(&tg, rc);
    if (rc == -ECANCELED) return rc;
    size_t nerrors = corio_taskgroup_nerrors(&tg);
    for (size_t i = 0; i < nerrors && i < CORIO_TASKGROUP_MAX_ERRORS; i++)
        printf("%.1f s: group failed: %s\n", corio_time() - start,
               corio_strerror(corio_taskgroup_error(&tg, i)));
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "taskgroup: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
