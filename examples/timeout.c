/*
 * timeout.c - a timeout scope around a block of code (asyncio.timeout).
 * When the deadline passes, the call in progress returns -ECANCELED; the
 * scope's exit turns that into -ETIMEDOUT.
 *
 *     try:
 *         async with asyncio.timeout(1):
 *             await long_running_task()
 *     except TimeoutError:
 *         print("The long operation timed out, but we've handled it.")
 *     print("This statement will run regardless.")
 *
 *     try:
 *         # We do not know the timeout when starting, so we pass ``None``.
 *         async with asyncio.timeout(None) as cm:
 *             # We know the timeout now, so we reschedule it.
 *             new_deadline = loop.time() + 1
 *             cm.reschedule(new_deadline)
 *             await long_running_task()
 *     except TimeoutError:
 *         pass
 *     if cm.expired():
 *         print("Looks like we haven't finished on time.")
 */
#include <corio.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>

static int long_running_task(void) { return corio_sleep(3600); }

static int amain(void *arg) {
    (void)arg;
    double start = corio_time();

    corio_timeout to;
    int rc = corio_timeout_enter(&to, 1.0);
    if (rc < 0) return rc;
    rc = long_running_task();
    rc = corio_timeout_exit(&to, rc);
    if (rc == -ETIMEDOUT)
        puts("The long operation timed out, but we've handled it.");
    else if (rc < 0)
        return rc;

    puts("This statement will run regardless.");
    printf("%.1f s\n", corio_time() - start);

    /* We do not know the timeout when starting, so we pass INFINITY. */
    corio_timeout cm;
    rc = corio_timeout_enter(&cm, INFINITY);
    if (rc < 0) return rc;
    /* We know the timeout now, so we reschedule it. */
    double new_deadline = corio_time() + 1.0;
    rc = corio_timeout_reschedule(&cm, new_deadline);
    if (rc == 0) rc = long_running_task();
    rc = corio_timeout_exit(&cm, rc);
    if (rc < 0 && rc != -ETIMEDOUT) return rc;

    if (corio_timeout_expired(&cm)) puts("Looks like we haven't finished on time.");
    printf("%.1f s\n", corio_time() - start);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "timeout: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
