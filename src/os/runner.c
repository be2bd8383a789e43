/*
 * runner.c - corio_runner (asyncio.Runner, 3.11) and corio_run
 * (asyncio.run) on top of it: a loop of the runner's own, made on first
 * use and kept between runs; each run drives one main task to its end,
 * with Ctrl-C turned into a cancellation of that task; the close cancels
 * and waits for every task left, shuts the default executor down and
 * closes the loop.
 *
 * SIGINT, as asyncio.Runner.run does it, for the length of one run: on the
 * main thread, and only when SIGINT still has its default disposition (the
 * program has not taken it over, nor has its shell set it to be ignored),
 * the run installs a handler (corio/signal.h: it runs as a loop callback).
 * The first SIGINT cancels the main task, which may clean up; if the task
 * then ends cancelled and the interrupt's cancellation is not taken back by
 * an uncancel of its own, the run returns -EINTR (asyncio raises
 * KeyboardInterrupt).  A second SIGINT, or one after the main task has
 * finished, does what the default would: the process ends by it.  When the
 * run ends the handler is removed, if it is still the run's own (main may
 * have put its own in its place), so the default is back between runs and
 * during the close, as asyncio puts default_int_handler back.  The signal
 * layer lives here, not in the core, which is why the runner does.
 */
#include "os.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* asyncio's constants.THREAD_JOIN_TIMEOUT: how long Runner.close waits for
 * the default executor's threads before it warns. */
#define THREAD_JOIN_TIMEOUT 300.0

enum { RUNNER_CREATED, RUNNER_READY, RUNNER_CLOSED };

struct corio_runner {
    corio_runner_opts opts; /* as given to corio_runner_new (zeros for corio_run) */
    int state;              /* RUNNER_*: no loop yet, a loop, closed */
    corio_loop *loop;       /* the loop, while RUNNER_READY */
    int (*fn)(void *);      /* the current run's main function and argument */
    void *arg;
    corio_task *main;       /* the current run's main task; NULL between runs */
    int interrupts;         /* SIGINTs seen during the current run */
    corio_context *ctx;     /* every run's main task runs in it: asyncio's Runner._context, copied
                               from the thread's with the loop (so a run sees what the runs before set) */
    bool one_run;           /* corio_run's: no ctx, as nothing runs after; the main task then copies
                               the thread's context, and its spawns copy a list, not a shared context
                               (a few instructions less each: bench/corio_spawn runs under corio_run) */
};

static void on_sigint(int signum, void *arg) {
    corio_runner *ru = arg;
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
    corio_runner *ru = arg;
    /* Installed from the task: a handler needs a running loop.  If it
     * cannot be installed, the run goes on without it (asyncio too). */
    if (want_sigint()) corio_add_signal_handler(SIGINT, on_sigint, ru);
    return ru->fn(ru->arg);
}

/* asyncio's Runner._lazy_init: the loop, made once. */
static int runner_loop(corio_runner *ru) {
    if (ru->state == RUNNER_CLOSED) return corio__bad(-ESHUTDOWN, "corio_runner: the runner is closed");
    if (ru->state == RUNNER_READY) return 0;
    errno = 0;
    corio_loop *loop = ru->opts.loop_factory ? ru->opts.loop_factory(ru->opts.loop_factory_arg) : corio_loop_new();
    if (!loop) return errno > 0 ? -errno : corio__bad(-ENOMEM, "corio_runner: the loop factory returned NULL");
    if (ru->opts.debug) corio_loop_set_debug(loop, ru->opts.debug > 0);
    if (ru->opts.eager_tasks) corio_loop_set_eager_tasks(loop, ru->opts.eager_tasks > 0);
    if (!ru->one_run && !(ru->ctx = corio_context_copy())) {
        corio_loop_close(loop);
        return -ENOMEM;
    }
    ru->loop = loop;
    ru->state = RUNNER_READY;
    return 0;
}

int corio_runner_new(const corio_runner_opts *opts, corio_runner **out) {
    if (!out) return corio__bad(-EINVAL, "corio_runner_new: NULL out");
    *out = NULL;
    corio_runner *ru = corio__calloc(1, sizeof *ru);
    if (!ru) return -ENOMEM;
    if (opts) ru->opts = *opts;
    *out = ru;
    return 0;
}

corio_loop *corio_runner_loop(corio_runner *ru) {
    if (!ru) {
        errno = EINVAL;
        corio__bad(0, "corio_runner_loop: NULL runner");
        return NULL;
    }
    int rc = runner_loop(ru);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    return ru->loop;
}

int corio_runner_run(corio_runner *ru, int (*fn)(void *), void *arg, int *result) {
    if (!ru || !fn) return corio__bad(-EINVAL, "corio_runner_run: NULL %s", ru ? "function" : "runner");
    /* Before anything else, as asyncio fails fast: a run from inside a
     * loop would block it, and a loop cannot run inside another. */
    if (corio__cur_loop)
        return corio__bad(-EBUSY, "corio_runner_run: called while a loop is running on this thread");
    int rc = runner_loop(ru);
    if (rc < 0) return rc;
    corio_loop *loop = ru->loop;
    ru->fn = fn;
    ru->arg = arg;
    ru->interrupts = 0;
    corio_task_opts o = {.context = ru->ctx};
    corio_task *t = corio_loop_spawn(loop, run_main, ru, &o); /* "Task-1" in a fresh process, as in asyncio */
    if (!t) return -errno;
    ru->main = t;
    corio_loop_run_until_complete(loop, corio_task_future(t));
    /* asyncio's finally: the default disposition back if the handler is
     * still ours. */
    int late = corio__signal_take_back(loop, SIGINT, on_sigint, ru);
    ru->main = NULL;
    /* A SIGINT that arrived while the loop ran but was not dispatched
     * before it stopped: asyncio's handler runs at once, so it would have
     * seen it - during main's last step, the one that ended the run.  A
     * second one ends the process, as the default (now back) does. */
    if (late == 1 && ru->interrupts > 0) raise(SIGINT);
    if (!corio_task_done(t)) {
        /* corio_loop_stop stopped the loop first (asyncio: "Event loop
         * stopped before Future completed.").  The task stays on the loop,
         * to go on in the next run or be cancelled by the close. */
        corio_task_detach(t);
        return corio__bad(-EINPROGRESS, "corio_runner_run: the loop was stopped before the main task finished");
    }
    rc = corio_task_result(t);
    if (late == 1) {
        /* That first SIGINT cancelled main in its last step: a task that
         * returns then is "cancelled before it could finish" in asyncio,
         * and a cancellation nobody else asked for is the interrupt's.
         * An error main returned stands. */
        if (rc >= 0 || (rc == -ECANCELED && corio_task_cancelling(t) == 0)) rc = -EINTR;
    } else if (ru->interrupts > 0 && rc == -ECANCELED && corio_task_uncancel(t) == 0) {
        /* Cancelled by the interrupt, and not by something else that is
         * still counted: asyncio's KeyboardInterrupt. */
        rc = -EINTR;
    }
    corio_task_detach(t);
    if (rc < 0) return rc;
    if (result) *result = rc;
    return 0;
}

static int shutdown_executor_main(void *arg) {
    (void)arg;
    /* On a virtual clock the limit would pass at once: the clock jumps to
     * the next timer whenever the loop has nothing to run, and worker
     * threads are not the loop's to count.  The close waits for the jobs
     * anyway, so there the limit would only give a false warning. */
    corio_loop *loop = corio_loop_current();
    return corio_shutdown_default_executor(loop->virtual_clock ? -1 : THREAD_JOIN_TIMEOUT);
}

int corio_runner_close(corio_runner *ru) {
    if (!ru) return corio__bad(-EINVAL, "corio_runner_close: NULL runner");
    /* Never used, or closed already: nothing to do (a runner that never
     * made its loop can still run afterwards, as in asyncio). */
    if (ru->state != RUNNER_READY) return 0;
    if (corio__cur_loop)
        return corio__bad(-EBUSY, "corio_runner_close: called while a loop is running on this thread");
    corio_loop *loop = ru->loop;
    /* asyncio's _cancel_all_tasks: cancel what is left and let it finish. */
    corio__loop_finish_tasks(loop);
    /* shutdown_asyncgens has no counterpart: a generator's producer is a
     * task (corio/agen.h), cancelled above with the others. */
    corio_task *t = corio_loop_spawn(loop, shutdown_executor_main, NULL, NULL);
    if (t) {
        corio_loop_run_until_complete(loop, corio_task_future(t));
        corio_task_detach(t);
    }
    int rc = corio_loop_close(loop);
    corio_context_free(ru->ctx);
    ru->ctx = NULL;
    ru->loop = NULL;
    ru->state = RUNNER_CLOSED;
    return rc;
}

int corio_runner_free(corio_runner *ru) {
    if (!ru) return 0;
    int rc = corio_runner_close(ru);
    if (rc == -EBUSY) return rc;
    corio__free(ru);
    return rc;
}

int corio_run(int (*main_fn)(void *), void *arg) {
    if (!main_fn) return corio__bad(-EINVAL, "corio_run: NULL main");
    if (corio__cur_loop) return corio__bad(-EBUSY, "corio_run: called while a loop is running on this thread");
    corio_runner ru = {.state = RUNNER_CREATED, .one_run = true};
    int result = 0;
    int rc = corio_runner_run(&ru, main_fn, arg, &result);
    corio_runner_close(&ru);
    return rc < 0 ? rc : result;
}
