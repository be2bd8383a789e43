/*
 * say_after_tasks.c - the same two calls run concurrently as tasks
 * (asyncio.create_task): about 2 s in all instead of 3.
 *
 *     async def main():
 *         task1 = asyncio.create_task(say_after(1, 'hello'))
 *         task2 = asyncio.create_task(say_after(2, 'world'))
 *         print(f"started at {loop.time() - start:.1f} s")
 *         # Wait until both tasks are completed (should take
 *         # around 2 seconds.)
 *         await task1
 *         await task2
 *         print(f"finished at {loop.time() - start:.1f} s")
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

static int amain(void *arg) {
    (void)arg;
    double start = corio_time();
    /* The greetings live in amain's frame, which outlives both tasks. */
    struct greeting hello = {1.0, "hello"}, world = {2.0, "world"};

    corio_task *task1 = corio_spawn(say_after, &hello);
    if (!task1) return -errno;
    corio_task *task2 = corio_spawn(say_after, &world);
    if (!task2) {
        int err = -errno;
        corio_cancel(task1);
        corio_join(task1);
        return err;
    }
    printf("started at %.1f s\n", corio_time() - start);

    /* Wait until both tasks are completed (should take around 2 seconds). */
    int rc1 = corio_join(task1);
    int rc2 = corio_join(task2);
    if (rc1 < 0) return rc1;
    if (rc2 < 0) return rc2;

    printf("finished at %.1f s\n", corio_time() - start);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "say_after_tasks: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
