/*
 * wait_for.c - wait for a task with a time limit (asyncio.wait_for).
 * On timeout the task is cancelled, and wait_for returns -ETIMEDOUT once
 * it has finished.
 *
 *     async def eternity():
 *         # Sleep for one hour
 *         await asyncio.sleep(3600)
 *         print('yay!')
 *
 *     async def main():
 *         # Wait for at most 1 second
 *         try:
 *             await asyncio.wait_for(eternity(), timeout=1.0)
 *         except TimeoutError:
 *             print('timeout!')
 */
#include <corio.h>
#include <errno.h>
#include <stdio.h>

static int eternity(void *arg) {
    (void)arg;
    /* Sleep for one hour */
    int rc = corio_sleep(3600);
    if (rc < 0) return rc;
    puts("yay!");
    return 0;
}

static int amain(void *arg) {
    (void)arg;
    double start = corio_time();
    corio_task *task = corio_spawn(eternity, NULL);
    if (!task) return -errno;

    /* Wait for at most 1 second */
    int rc = corio_wait_for(corio_task_future(task), 1.0, NULL);
    corio_join(task);  /* finished by now: wait_for cancelled it and waited */
    if (rc == -ETIMEDOUT)
        puts("timeout!");
    else if (rc < 0)
        return rc;

    printf("finished at %.1f s\n", corio_time() - start);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "wait_for: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
