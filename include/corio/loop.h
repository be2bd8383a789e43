/*
 * corio/loop.h - the event loop: running it, callbacks, time.
 *
 * One loop runs on one thread at a time, and a thread runs at most one
 * loop at a time; a process may have many loops.  The loop that is running
 * on the calling thread is the "current" loop: calls without a loop
 * argument (corio_spawn, corio_call_soon, corio_sleep, ...) use it.
 *
 * Errors are negative errno values.  Functions returning a pointer return
 * NULL and set errno (positive) instead.
 */
#ifndef CORIO_LOOP_H
#define CORIO_LOOP_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * asyncio.run(): create a loop, run `main(arg)` as its first task until it
 * finishes, cancel and wait for every task still alive, close the loop.
 * Returns main's return value (>= 0) or its error (negative errno;
 * -ECANCELED if it was cancelled).  Returns -EBUSY when called while a loop
 * is running on this thread, -ENOMEM if the loop could not be made,
 * -EINVAL if main is NULL.  Blocks the calling thread; not for use in a task.
 *
 * Ctrl-C, as asyncio.run: called on the main thread while SIGINT has its
 * default disposition, the run takes SIGINT (corio_add_signal_handler)
 * until main's task has finished.  The first SIGINT cancels main's task,
 * which may clean up (its waits return -ECANCELED); if it then ends
 * cancelled, and the interrupt's cancellation was not withdrawn by
 * corio_task_uncancel, corio_run returns -EINTR (asyncio raises
 * KeyboardInterrupt).  A second SIGINT, or one once main has finished
 * (also while the leftover tasks unwind), ends the process as the default
 * disposition does.  A program that set its own SIGINT disposition (or
 * handler through corio_add_signal_handler, from main) keeps it.
 *
 * corio_run is a corio_runner (below) used for one run and closed: the
 * close also shuts down the default executor, waiting for its jobs.
 */
CORIO_API int corio_run(int (*main)(void *arg), void *arg);

/*
 * asyncio.Runner (3.11): a loop kept across several runs of main tasks,
 * for programs that call async code from synchronous code more than once
 * (a test runner, a console, a command-line tool).
 *
 *     corio_runner *ru;
 *     corio_runner_new(NULL, &ru);
 *     int v;
 *     rc = corio_runner_run(ru, step1, arg, &v);  // each runs to the end
 *     rc = corio_runner_run(ru, step2, arg, &v);  // on the same loop
 *     corio_runner_free(ru);                      // closes, then frees
 *
 * Not thread-safe: one thread at a time uses a runner, and its loop runs
 * on the thread that runs it.
 */
typedef struct corio_runner corio_runner;

/* How a runner makes its loop.  Zeros (or NULL opts) take the defaults. */
typedef struct corio_runner_opts {
    int debug;       /* > 0: debug mode on for the loop, < 0: off, 0: the default (CORIO_DEBUG) */
    int eager_tasks; /* > 0: corio_loop_set_eager_tasks on, < 0: off, 0: the default (CORIO_EAGER_TASKS) */
    /* asyncio's loop_factory: called once, when the loop is first needed,
     * instead of corio_loop_new; it returns a new loop, or NULL with errno
     * set.  The runner owns the loop from then on and closes it. */
    corio_loop *(*loop_factory)(void *arg);
    void *loop_factory_arg;
} corio_runner_opts;

/*
 * Make a runner (opts are copied; NULL for the defaults) into *out.  The
 * loop is made later, by the first corio_runner_run or corio_runner_loop.
 * Returns 0; -EINVAL for a NULL out, -ENOMEM.  The caller frees it with
 * corio_runner_free.  Does not suspend.
 */
CORIO_API int corio_runner_new(const corio_runner_opts *opts, corio_runner **out);

/*
 * Runner.run: run `fn(arg)` as a new main task on the runner's loop (made
 * now if need be) until it finishes, and return.  Every run's main task
 * runs in one context, copied from the thread's when the loop was made
 * (asyncio's Runner._context): a run sees the context variables the runs
 * before it set (corio/context.h).  Runner.run's own `context=` argument
 * has no counterpart.  Tasks it leaves behind
 * stay on the loop: they go on during the next run, and the close cancels
 * them.  SIGINT, per run, exactly as corio_run: taken for the run when on
 * the main thread with SIGINT at its default disposition, given back at
 * its end if still the run's own.
 *
 * Returns 0 and stores fn's return value (>= 0) in *result (when not
 * NULL), or a negative errno: fn's own error; -ECANCELED if the task was
 * cancelled; -EINTR if a SIGINT cancelled it and the cancellation was not
 * withdrawn (asyncio's KeyboardInterrupt); -EINPROGRESS when
 * corio_loop_stop stopped the loop before the task finished (it stays on
 * the loop); -EBUSY when a loop is running on this thread (asyncio's
 * "Runner.run() cannot be called from a running event loop": fn is not
 * run); -ESHUTDOWN after corio_runner_close ("Runner is closed"); -EINVAL
 * for NULL ru or fn; the loop's creation error (-ENOMEM, ...) or
 * corio_loop_spawn's.  Blocks the calling thread; not for use in a task.
 */
CORIO_API int corio_runner_run(corio_runner *ru, int (*fn)(void *arg), void *arg, int *result);

/*
 * Runner.get_loop: the runner's loop, made now if need be (so that
 * callbacks, futures and tasks can be set up on it before a run).  The
 * runner owns it: do not close it.  NULL with errno ESHUTDOWN after
 * corio_runner_close, EINVAL for NULL, or the loop's creation error.
 * Does not suspend.
 */
CORIO_API corio_loop *corio_runner_loop(corio_runner *ru);

/*
 * Runner.close: cancel every task still on the loop and run it until they
 * have all finished, shut down the default executor waiting up to 300
 * seconds for its threads (none on a virtual clock, where that limit
 * would pass at once; corio_shutdown_default_executor; past it
 * asyncio's warning is logged and the loop's close goes on waiting for
 * the jobs, which asyncio would leave running), then close the loop.
 * Afterwards corio_runner_run and corio_runner_loop fail with -ESHUTDOWN.
 * A second close, or the close of a runner that never made its loop, does
 * nothing and returns 0 (the latter may still run, as in asyncio).
 * Returns 0, corio_loop_close's -ENOTEMPTY (it reported what was left),
 * -EBUSY when a loop is running on this thread (nothing is done), -EINVAL
 * for NULL.  Blocks the calling thread.
 */
CORIO_API int corio_runner_close(corio_runner *ru);

/*
 * corio_runner_close if it was not closed, then free the runner.  Returns
 * as corio_runner_close; on -EBUSY nothing was done and the runner is
 * still the caller's.  NULL is accepted (0).  Blocks the calling thread
 * as corio_runner_close does.
 */
CORIO_API int corio_runner_free(corio_runner *ru);

/*
 * Eager tasks (asyncio 3.12: loop.set_task_factory(asyncio.eager_task_factory)).
 * With on != 0, a task spawned while this loop runs (corio_spawn and
 * friends, from a task or a callback) takes its first step at once, inside
 * the spawn: it runs until it first suspends, and the spawn then returns;
 * a task that finishes without suspending is done by then and was never
 * queued (corio_task_done is 1).  corio_current_task() is the new task
 * during that step.  Tasks spawned before the loop runs start as usual.
 * corio_task_opts.eager asks the same of one spawn; CORIO_EAGER_TASKS=1 in
 * the environment turns it on for every loop made after.  0, or -EINVAL
 * for NULL.  Does not suspend.
 */
CORIO_API int corio_loop_set_eager_tasks(corio_loop *loop, int on);

/* 1 if corio_loop_set_eager_tasks turned eager tasks on, else 0. */
CORIO_API int corio_loop_eager_tasks(const corio_loop *loop);

/*
 * Create a loop.  Returns NULL with errno set (ENOMEM, or an error from
 * epoll_create1/eventfd) on failure.  The caller owns it and must
 * corio_loop_close() it.
 */
CORIO_API corio_loop *corio_loop_new(void);

/*
 * The loop's I/O backend: "io_uring" or "epoll" (a static string; NULL for
 * a NULL loop).  A loop takes io_uring when the kernel has it and it works
 * (not disabled by the kernel.io_uring_disabled sysctl, not refused by a
 * seccomp filter, the operations corio needs present), else epoll; the
 * environment variable CORIO_BACKEND=epoll or CORIO_BACKEND=io_uring forces
 * the choice (io_uring that cannot work falls back to epoll with a
 * warning).  Both backends give the same API and the same errors.
 */
CORIO_API const char *corio_loop_backend(const corio_loop *loop);

/*
 * Why the loop does not use io_uring (a static string such as
 * "io_uring_setup: Operation not permitted" or "CORIO_BACKEND=epoll"), or
 * NULL when it does.  Debug mode also logs it when the loop is created.
 */
CORIO_API const char *corio_loop_backend_reason(const corio_loop *loop);

/*
 * Close a loop and free everything it owns: task records, stacks, timers,
 * library-allocated handles.  Tasks still unfinished are first cancelled
 * and given up to 1,000 loop iterations to unwind (as asyncio.run does at
 * its end), so that nothing the caller owns keeps pointers into their
 * stacks; a task that still refuses to finish is abandoned.  Returns 0 when
 * nothing was left; -ENOTEMPTY when tasks were still unfinished or
 * callbacks still scheduled (each is reported, then freed: the loop is
 * closed either way; unfinished tasks go to the loop's exception handler as
 * "Task was destroyed but it is pending!", callbacks to the logger);
 * -EBUSY when the loop is running (closing from inside itself: nothing is
 * done); -EINVAL for NULL.  Must be called from the thread that ran it.
 */
CORIO_API int corio_loop_close(corio_loop *loop);

/*
 * Run until `f` is done (asyncio.run_until_complete) and return f's
 * outcome as corio_future_result() would, without the value.  -EBUSY if a
 * loop is already running on this thread, -EXDEV if f belongs to another
 * loop, -EINVAL for NULL arguments, -EINTR if corio_loop_stop() stopped the
 * loop before f was done.  Blocks the calling thread.
 */
CORIO_API int corio_loop_run_until_complete(corio_loop *loop, corio_future *f);

/*
 * Run until corio_loop_stop() is called (asyncio.run_forever).  Returns 0,
 * -EBUSY if a loop is already running on this thread, -EINVAL for NULL.
 */
CORIO_API int corio_loop_run_forever(corio_loop *loop);

/*
 * Ask a running loop to stop after the callbacks of the current iteration
 * (asyncio.stop).  Called when the loop is not running, the next run
 * performs one iteration and returns.  Must be called on the loop's thread.
 */
CORIO_API void corio_loop_stop(corio_loop *loop);

/* 1 if the loop is running, else 0. */
CORIO_API int corio_loop_is_running(const corio_loop *loop);

/* The loop running on this thread, or NULL. */
CORIO_API corio_loop *corio_loop_current(void);

/*
 * Make the loop's clock virtual (Trio's MockClock with autojump): time
 * starts at 0 and, whenever nothing is ready to run, jumps straight to the
 * next timer's deadline instead of sleeping.  Timer-heavy tests then run
 * instantly and deterministically.  Only before the loop first runs;
 * returns 0, -EBUSY if it already ran, -EINVAL for NULL.  Setting the
 * environment variable CORIO_VIRTUAL_CLOCK=1 gives every new loop a virtual
 * clock (handy to run timing demos instantly in tests).
 *
 * The clock does not jump while work outside the loop is to come back to
 * it: executor jobs in flight (corio_run_in_executor, corio_to_thread,
 * file operations on the thread pool), a DNS lookup (corio_resolve: a
 * name server's answer over c-ares, or getaddrinfo on its thread), a
 * corio_shutdown_default_executor waiting for the threads, a process
 * pool's job (corio_procpool_run / _map), or holds taken with
 * corio_loop_hold_clock.  Other I/O does not hold it (a read that waits
 * for a peer with a timeout around it sees the timeout at once).  It
 * runs in real time meanwhile: the loop waits for the next timer as on a
 * real clock, so a timeout around a thread's job expires only if the job
 * really takes that long, and timers due while it runs fire on time.
 */
CORIO_API int corio_loop_use_virtual_clock(corio_loop *loop);

/*
 * Keep a virtual clock from jumping (hold != 0) until a matching release
 * (hold == 0), for work of your own in another thread that will post back
 * with corio_loop_call_soon_threadsafe: take the hold before starting the
 * work, release it in the posted callback.  Holds are counted.  No effect
 * on a real clock.  Loop thread only (or before the loop runs).  Returns
 * the number of holds now, or -EINVAL (NULL loop, a release without a
 * hold).  Does not suspend.
 */
CORIO_API int corio_loop_hold_clock(corio_loop *loop, int hold);

/* The loop's clock in seconds (monotonic; asyncio loop.time()). */
CORIO_API double corio_loop_time(corio_loop *loop);

/* The current loop's clock in seconds, or the monotonic clock if no loop runs. */
CORIO_API double corio_time(void);

/*
 * Schedule cb(arg) to run in the next iteration, after everything already
 * scheduled (asyncio call_soon; FIFO).  `h` is a handle the caller owns and
 * keeps valid until the callback has run or was cancelled; pass NULL when
 * you will never cancel it, and the loop allocates one and frees it after
 * the call.  Returns 0, -EINVAL (NULL cb, or h already scheduled), -EPERM
 * when no loop runs on this thread (use corio_loop_call_soon), -ENOMEM.
 */
CORIO_API int corio_call_soon(corio_handle *h, corio_callback cb, void *arg);

/*
 * Schedule cb(arg) after `delay` seconds (asyncio call_later).  Equal
 * deadlines run in the order they were scheduled.  A delay <= 0 runs in
 * the next iteration; INFINITY is refused (-EINVAL), as is NaN.  Huge
 * delays are clamped to about 292 years.  Same ownership and errors as
 * corio_call_soon.
 */
CORIO_API int corio_call_later(corio_handle *h, double delay, corio_callback cb, void *arg);

/* Schedule cb(arg) at loop time `when` (asyncio call_at).  As call_later. */
CORIO_API int corio_call_at(corio_handle *h, double when, corio_callback cb, void *arg);

/*
 * asyncio call_soon_threadsafe: schedule cb(arg) on `loop` from ANY thread
 * (the only corio function that may be called from a thread other than the
 * loop's, with corio_loop_wakeup).  Wakes the loop if it is blocked; cb
 * runs in one of its next iterations, posts from one thread in the order
 * they were made; from the loop's own thread while it runs, it is queued
 * as call_soon is, in order with it (asyncio has one ready queue for
 * both).  Returns 0, -EINVAL, -ENOMEM.  The loop must outlive the
 * call; posts still queued when the loop closes are reported and dropped.
 */
CORIO_API int corio_loop_call_soon_threadsafe(corio_loop *loop, corio_callback cb, void *arg);

/* The same three on an explicit loop (which need not be running).  A loop
 * that is running in another thread refuses them with -EPERM (asyncio's
 * "Non-thread-safe operation" error): use corio_loop_call_soon_threadsafe. */
CORIO_API int corio_loop_call_soon(corio_loop *loop, corio_handle *h, corio_callback cb, void *arg);
CORIO_API int corio_loop_call_later(corio_loop *loop, corio_handle *h, double delay, corio_callback cb,
                                    void *arg);
CORIO_API int corio_loop_call_at(corio_loop *loop, corio_handle *h, double when, corio_callback cb,
                                 void *arg);

/*
 * Cancel a scheduled handle: its callback will not run.  Returns 1 if it
 * was cancelled now, 0 if it had already run or been cancelled, -EINVAL for
 * NULL.  Safe to call from inside the callback itself (returns 0).
 */
CORIO_API int corio_handle_cancel(corio_handle *h);

/* 1 if the handle was cancelled, else 0. */
CORIO_API int corio_handle_cancelled(const corio_handle *h);

/* The loop time a call_later/call_at handle is due at, in seconds. */
CORIO_API double corio_handle_when(const corio_handle *h);

/* ---- the exception handler (asyncio loop.set_exception_handler) ----------------- */

struct corio_transport; /* protocol.h */

/*
 * One report of something that went wrong with nobody there to be told
 * (asyncio's context dict of call_exception_handler).  Every pointer is
 * valid during the handler's call only; fields that do not apply are NULL
 * or 0, so a program's own report may set just the ones it knows.
 *
 * The library reports, with their `source` and `message`:
 *   "task"        "Task exception was never retrieved": a task ended with
 *                 an error and its record was freed (its last reference
 *                 dropped, or the loop closed) without anyone reading it;
 *                 task and future (the task's) are set.  The record is
 *                 being freed: read it (name, result), but do not join,
 *                 detach or take a reference to it.
 *                 "Task was destroyed but it is pending!": corio_loop_close
 *                 found the task unfinished (detail: "loop closed with
 *                 task '...' still pending: cancelling it", or without
 *                 the tail when close cannot run it - another loop runs
 *                 on the thread); task and future are set, and the task
 *                 is cancelled after the call.  Once per task: one that
 *                 then refuses to finish is only logged as abandoned.
 *   "taskgroup"   "task '...' failed (...) but its group's parent task
 *                 '...' is already done": task is the failed child.
 *   "stream handler"  "Unhandled exception in client_connected_cb": a
 *                 corio_start_server handler returned an error other than
 *                 -ECANCELED; task is the handler's task.
 *   "server"      "server: accept failed": the process or system ran out
 *                 of descriptors or memory, and the server retries later
 *                 (said once until an accept succeeds again).
 * Warnings stay with the logger (corio_log_set_handler), as asyncio logs
 * them with logger.warning rather than through the handler: a slow
 * callback in debug mode, the callbacks and timers a closing loop finds
 * left over.
 */
typedef struct corio_exception_context {
    /* What happened, a short fixed text (asyncio's 'message'); NULL or ""
     * is logged as "Unhandled exception in event loop". */
    const char *message;
    /* The particulars, when the reporter formatted some ("task 'x' failed
     * with -5 (Input/output error)"): the default handler logs
     * "message: detail".  NULL when none. */
    const char *detail;
    /* The error (negative errno), in place of asyncio's 'exception'; 0 when none. */
    int error;
    /* What kind of thing reports (see above: "task", "stream handler",
     * "protocol", ...), or NULL. */
    const char *source;
    corio_task *task;                  /* the task concerned, or NULL */
    corio_future *future;              /* the future concerned, or NULL */
    corio_handle *handle;              /* the callback handle concerned, or NULL */
    struct corio_transport *transport; /* the transport concerned, or NULL */
} corio_exception_context;

/*
 * An exception handler.  It runs on the loop's thread, synchronously,
 * inside the code that found the problem (a task being freed, a server's
 * accept loop, a task that is finishing): it must not suspend (no
 * SUSPENDING call, even when it happens to run in a task), nor close the
 * loop.  It may log, count, keep copies of the fields, or call
 * corio_loop_default_exception_handler to log as the library would.
 */
typedef void (*corio_exception_handler)(corio_loop *loop, const corio_exception_context *ctx, void *arg);

/*
 * Install `handler` (called with `arg`) for every report of this loop
 * (asyncio loop.set_exception_handler); NULL restores the default, which
 * logs.  Call it on the loop's thread, or before the loop runs.  0, or
 * -EINVAL for a NULL loop.  Does not suspend.
 */
CORIO_API int corio_loop_set_exception_handler(corio_loop *loop, corio_exception_handler handler, void *arg);

/*
 * The handler installed by corio_loop_set_exception_handler, or NULL when
 * the default is in use (asyncio loop.get_exception_handler); when `arg`
 * is not NULL, *arg receives its argument (NULL with the default).  NULL
 * for a NULL loop.  Does not suspend.
 */
CORIO_API corio_exception_handler corio_loop_get_exception_handler(const corio_loop *loop, void **arg);

/*
 * The default handler (asyncio loop.default_exception_handler): log the
 * report at CORIO_LOG_ERROR through the logger (corio_log_set_handler).
 * The text is "message: detail" when there is a detail; otherwise the
 * message, then " (task 'name')" when a task is given, then
 * ": <error> (<strerror>)" when error is nonzero.  loop may be NULL.
 * Does not suspend.
 */
CORIO_API void corio_loop_default_exception_handler(corio_loop *loop, const corio_exception_context *ctx);

/*
 * Report ctx (asyncio loop.call_exception_handler): call the loop's
 * handler, or the default when none is installed or loop is NULL.  The
 * library's own reports all go through here; a program uses it for its
 * own (a protocol callback that failed, say, since callbacks cannot
 * return an error).  Returns when the handler has returned.  Does not
 * suspend (the handler must not).
 */
CORIO_API void corio_loop_call_exception_handler(corio_loop *loop, const corio_exception_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
