/*
 * graceful_shutdown.c - a service that runs until SIGINT or SIGTERM, then
 * cancels its workers, lets them clean up, runs a shutdown step, closes
 * the loop and exits 0 (loop.add_signal_handler, as in the asyncio docs'
 * and tutorials' "graceful shutdown" pattern).
 *
 *     async def worker(name, period):
 *         rounds = 0
 *         try:
 *             while True:
 *                 await asyncio.sleep(period)
 *                 rounds += 1
 *         except asyncio.CancelledError:
 *             print(f"{name}: cancelled after {rounds} rounds, cleaning up")
 *             raise
 *
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         stop = asyncio.Event()
 *         got = []
 *         for sig in (signal.SIGINT, signal.SIGTERM):
 *             loop.add_signal_handler(sig, lambda s=sig: (got.append(s), stop.set()))
 *         workers = [asyncio.create_task(worker(f"worker-{i}", 0.1 * i)) for i in (1, 2)]
 *         print("service: started, waiting for SIGINT or SIGTERM")
 *         await stop.wait()
 *         print(f"service: got {signal.Signals(got[0]).name}, shutting down")
 *         for w in workers:
 *             w.cancel()
 *         await asyncio.gather(*workers, return_exceptions=True)
 *         await shutdown_step()        # flush state, close connections, ...
 *         print("service: shutdown complete")
 *
 *     asyncio.run(main())
 *
 * The log is line-buffered so that a supervisor reading it through a pipe
 * sees every line as it is written.  tests/test_signal.c runs this program,
 * sends SIGTERM (and SIGINT) and checks the exit status and the log; the
 * examples test skips it (it waits for a signal).
 */
#include <corio.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>

typedef struct service {
    corio_event stop;   /* set by the signal handler */
    int signum;         /* the first signal received */
} service;

typedef struct worker_args {
    const char *name;
    double period;
} worker_args;

static int worker(void *arg) {
    const worker_args *w = arg;
    int rounds = 0;
    for (;;) {
        int rc = corio_sleep(w->period);
        if (rc == -ECANCELED) {
            printf("%s: cancelled after %d rounds, cleaning up\n", w->name, rounds);
            return rc; /* let the cancellation propagate, like `raise` */
        }
        if (rc < 0) return rc;
        rounds++;
    }
}

/* Runs as a loop callback, never in signal context: anything goes here. */
static void on_signal(int signum, void *arg) {
    service *s = arg;
    if (!s->signum) s->signum = signum;
    corio_event_set(&s->stop);
}

/* Whatever the service must do before it goes: flush, close, say goodbye. */
static int shutdown_step(void) {
    puts("service: flushing state");
    return corio_sleep(0.05);
}

static int amain(void *arg) {
    (void)arg;
    service s = {0};
    corio_event_init(&s.stop);
    int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        int rc = corio_add_signal_handler(sigs[i], on_signal, &s);
        if (rc < 0) return rc;
    }
    static const worker_args args[] = {{"worker-1", 0.1}, {"worker-2", 0.2}};
    corio_task *workers[2];
    for (int i = 0; i < 2; i++)
        if (!(workers[i] = corio_spawn(worker, (void *)&args[i]))) return -errno;
    puts("service: started, waiting for SIGINT or SIGTERM");

    int rc = corio_event_wait(&s.stop);
    if (rc < 0) return rc;
    printf("service: got %s, shutting down\n", s.signum == SIGINT ? "SIGINT" : "SIGTERM");
    for (int i = 0; i < 2; i++) corio_cancel(workers[i]);
    for (int i = 0; i < 2; i++) corio_join(workers[i]); /* -ECANCELED: expected */
    if ((rc = shutdown_step()) < 0) return rc;
    for (int i = 0; i < 2; i++) corio_remove_signal_handler(sigs[i]);
    corio_event_destroy(&s.stop);
    puts("service: shutdown complete");
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    int rc = corio_run(amain, NULL);  /* closes the loop before it returns */
    if (rc < 0) {
        fprintf(stderr, "graceful_shutdown: %s\n", corio_strerror(rc));
        return 1;
    }
    puts("service: exited cleanly");
    return 0;
}
