/*
 * runner.c - corio_run, asyncio.run (3.11+'s asyncio.Runner.run): a loop
 * of its own for one main task, Ctrl-C turned into a cancellation of that
 * task, every task left cancelled and waited for, the loop closed.
 *
 * SIGINT, as asyncio.Runner does it: on the main thread, and only when
 * SIGINT still has its default disposition (the program has not taken it
 * over, nor has its shell set it to be ignored), the run installs a
 * handler (corio/signal.h: it runs as a loop callback).  The first SIGINT
 * cancels the main task, which may clean up; if the task then ends
 * cancelled and the interrupt's cancellation is not taken back by an
 * uncancel of its own, corio_run returns -EINTR (asyncio raises
 * KeyboardInterrupt).  A second SIGINT, or one after the main task has
 * finished, does what the default would: the process ends by it.  Closing
 * the loop removes the handler and brings the default back.  The
 * signal layer lives here, not in the core, which is why corio_run does.
 */
#include "os.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct runner {
    int (*fn)(void *);
    void *arg;
    corio_task *main;
    int interrupts;  /* SIGINTs seen */
} runner;

static void on_sigint(int signum, void *arg) {
    runner *ru = arg;
    if (++ru->interrupts == 1 && ru->main && !corio_task_done(ru->main)) {
        corio_cancel(ru->main);
        return;
    }
    /* As the default disposition would: end the process by the signal. */
    corio_remove_signal_handler(signum);
    signal(signum, SIG_DFL);
    raise(signum);
}

/* Take SIGINT for the run?  On the main thread, when nobody else has. */
static bool want_sigint(void) {
    if (getpid() != (pid_t)syscall(SYS_gettid)) return false;
    struct sigaction old;
    if (sigaction(SIGINT, NULL, &old) != 0) return false;
    return !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
}

static int run_main(void *arg) {
    runner *ru = arg;
    /* Installed from the task: a handler needs a running loop.  If it
     * cannot be installed, the run goes on without it (asyncio too). */
    if (want_sigint()) corio_add_signal_handler(SIGINT, on_sigint, ru);
    return ru->fn(ru->arg);
}

int corio_run(int (*main_fn)(void *), void *arg) {
    if (!main_fn) return corio__bad(-EINVAL, "corio_run: NULL main");
    if (corio__cur_loop) return corio__bad(-EBUSY, "corio_run: called while a loop is running on this thread");
    corio_loop *loop = corio_loop_new();
    if (!loop) return -errno;
    runner ru = {.fn = main_fn, .arg = arg};
    corio_task *t = corio_loop_spawn(loop, run_main, &ru, NULL); /* "Task-1" in a fresh process, as in asyncio */
    if (!t) {
        int e = -errno;
        corio_loop_close(loop);
        return e;
    }
    ru.main = t;
    corio_loop_run_until_complete(loop, corio_task_future(t));
    int rc = corio_task_result(t);
    /* Cancelled by the interrupt, and not by something else that is still
     * counted: asyncio's KeyboardInterrupt. */
    if (ru.interrupts > 0 && rc == -ECANCELED && corio_task_uncancel(t) == 0) rc = -EINTR;
    ru.main = NULL;
    corio_task_detach(t);
    /* Cancel what is left and let it finish, as asyncio.run does. */
    corio__loop_finish_tasks(loop);
    corio_loop_close(loop);
    return rc;
}
