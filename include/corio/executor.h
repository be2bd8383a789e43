/*
 * corio/executor.h - thread pools for blocking calls and CPU work
 * (asyncio's run_in_executor / to_thread), and running a task on a loop
 * from another thread (asyncio.run_coroutine_threadsafe).
 *
 * A job is `intptr_t fn(void *arg)`, run on a worker thread.  The task
 * that submitted it waits (SUSPENDS) while other tasks of its loop keep
 * running; the result comes back to the loop through
 * corio_loop_call_soon_threadsafe, which completes a future the task
 * awaits.  A job must not call corio functions except
 * corio_loop_call_soon_threadsafe, corio_loop_run_task_threadsafe and the
 * executor functions of this header: it runs outside every loop.
 *
 * Cancellation.  Cancelling a task whose job is still queued removes the
 * job: it never runs.  Once the job runs it cannot be stopped (a thread
 * cannot be interrupted safely), so the task gets -ECANCELED at once and
 * the job's result is discarded when it finishes.  The job's arguments
 * therefore must stay valid until the job has finished, not merely until
 * the task returned: pass heap memory (or static) to a job whose task may
 * be cancelled.  The library's own request record is on the heap for the
 * same reason.
 *
 * Default executor.  Each loop has one, created on first use, as in
 * asyncio: corio_executor_default_size() threads at most (Python's
 * ThreadPoolExecutor: min(32, cores + 4)), started lazily when work
 * arrives.  corio_set_default_executor() replaces it;
 * corio_shutdown_default_executor() shuts it down and waits for its
 * threads from a task, with a time limit.
 *
 * Closing a loop (corio_loop_close) while executor work for it is in
 * flight: the close first cancels the tasks still pending and lets them
 * unwind, so a task waiting for a job lets go of it as on any
 * cancellation (a queued job is dropped, a running one finishes on its
 * thread and its result is discarded).  Then the loop's default executor
 * is shut down and its running jobs are WAITED for, as asyncio.run() waits
 * in shutdown_default_executor() (a job that never returns makes the close
 * hang: asyncio.Runner gives up after 300 seconds and lets the threads
 * run on, which corio cannot, since a job may point into a task's stack;
 * corio_runner_close logs asyncio's warning at that point); jobs running on other executors finish on their threads and free
 * their own records.  A job whose task could not be unwound (closing while
 * another loop runs on the thread, or a task that refuses to finish) is
 * reported through the logger and makes the close return -ENOTEMPTY; the
 * jobs of cancelled tasks are not reported, since their owner let go of
 * them on purpose.
 */
#ifndef CORIO_EXECUTOR_H
#define CORIO_EXECUTOR_H

#include "types.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_executor corio_executor; /* a thread pool (opaque) */

/* A job: runs on a worker thread, returns a value handed to the awaiting task. */
typedef intptr_t (*corio_work_fn)(void *arg);

/*
 * The number of threads a default executor may start: min(32, online cores
 * + 4), as Python's ThreadPoolExecutor.
 */
CORIO_API int corio_executor_default_size(void);

/*
 * A pool of at most `nthreads` worker threads (0: the default size),
 * started lazily as jobs arrive and kept until shutdown.  Not bound to a
 * loop: tasks of several loops may share it.  Returns NULL with errno
 * EINVAL (nthreads < 0 or > 4096) or ENOMEM.  Release it with
 * corio_executor_free().  May be called from any thread.
 */
CORIO_API corio_executor *corio_executor_new(int nthreads);

/* Flags of corio_executor_shutdown(). */
enum {
    CORIO_EXECUTOR_WAIT = 1,          /* block until every queued and running job has finished */
    CORIO_EXECUTOR_CANCEL_QUEUED = 2, /* drop the jobs not started yet: their tasks get -ECANCELED */
};

/*
 * Stop accepting work (Executor.shutdown(wait, cancel_futures)): later
 * submissions fail with -ESHUTDOWN.  Queued jobs still run unless
 * CORIO_EXECUTOR_CANCEL_QUEUED; with CORIO_EXECUTOR_WAIT the call blocks
 * until the workers are idle and have exited and every thread is joined,
 * even when another shutdown(WAIT) is joining them at the same time (each
 * call returns only after the joins, so either caller may then free the
 * executor).  Called twice, the second call only adds what its flags ask
 * for.  Returns 0, -EINVAL for NULL,
 * -EDEADLK when a job of this executor asks to wait for it.  Any thread;
 * waiting on a loop's thread blocks that loop (results are delivered once
 * it runs again).
 */
CORIO_API int corio_executor_shutdown(corio_executor *ex, int flags);

/*
 * Shut down with CORIO_EXECUTOR_WAIT, join every thread and free the
 * executor.  Must not be the default executor of a loop (the loop owns
 * it) nor be called from one of its own jobs (-EDEADLK).  0 or -EINVAL.
 */
CORIO_API int corio_executor_free(corio_executor *ex);

/*
 * Replace the current loop's default executor (asyncio
 * loop.set_default_executor).  The loop takes ownership of `ex` and frees
 * it when it closes; the previous default executor is shut down and freed
 * (waiting for its running jobs).  Returns 0, -EINVAL for NULL, -EPERM
 * when no loop runs on this thread, -ENOMEM.
 */
CORIO_API int corio_set_default_executor(corio_executor *ex);

/*
 * asyncio loop.shutdown_default_executor(timeout) (3.12): shut down the
 * current loop's default executor and wait, up to `timeout` seconds
 * (negative: no limit), for its threads to finish their jobs and exit.
 * SUSPENDS; the loop runs meanwhile.  Jobs already queued still run.  From
 * the call on, the loop's default executor takes no more work, even one
 * set later: corio_to_thread and corio_run_in_executor(NULL, ...) fail
 * with -ESHUTDOWN (asyncio: "Executor shutdown has been called").
 *
 * Returns 0 once every thread has exited and been joined (at once when
 * the loop has no default executor or it never started a thread);
 * -ETIMEDOUT when the time ran out first, after logging asyncio's warning
 * "The executor did not finish joining its threads within N seconds." at
 * WARNING (asyncio warns and returns normally); -ECANCELED when the task
 * was cancelled while it waited; either way the executor stays shut down
 * and its threads finish their jobs, and the loop's close still waits for
 * them (see the top of this file).  -EPERM outside a task, -EINVAL for a
 * NaN timeout, -ENOMEM.  The timeout is in loop time: on a virtual clock
 * (corio_loop_use_virtual_clock) it passes as soon as the loop has nothing
 * else to do, however busy the threads are.  corio_runner_close
 * (corio/loop.h) calls it with asyncio's limit of 300 seconds (none on a
 * virtual clock).
 */
CORIO_API int corio_shutdown_default_executor(double timeout);

/*
 * Run fn(arg) on `ex` (NULL: the current loop's default executor) and wait
 * for it (asyncio loop.run_in_executor).  SUSPENDS.  Returns 0 and stores
 * fn's return value in *result (when result is not NULL); -ECANCELED if
 * the task was cancelled (see the top of this file) or the executor
 * dropped the job (CORIO_EXECUTOR_CANCEL_QUEUED); -ESHUTDOWN when the
 * executor was shut down; -EPERM outside a task; -EINVAL for a NULL fn;
 * -ENOMEM; -EAGAIN when no worker thread could be started and none runs.
 */
CORIO_API int corio_run_in_executor(corio_executor *ex, corio_work_fn fn, void *arg, intptr_t *result);

/* asyncio.to_thread: corio_run_in_executor on the default executor.  SUSPENDS. */
CORIO_API int corio_to_thread(corio_work_fn fn, void *arg, intptr_t *result);

/*
 * asyncio.run_coroutine_threadsafe(...).result(): from a thread that is
 * not `loop`'s, start fn(arg) as a task of `loop` and block the calling
 * thread (on a condition variable) until the task has finished.  The loop
 * must be running or run later, and must not be closed before this call
 * was made.  Returns 0 and stores the task's return value (>= 0) in
 * *result (when not NULL), or a negative errno: the task's error,
 * -ECANCELED if it was cancelled (closing the loop cancels the tasks still
 * pending) or the loop closed before it could start,
 * -EDEADLK when called on the loop's own thread (it would wait for
 * itself), -ESHUTDOWN when the loop is closing, -EINVAL for NULL
 * arguments, -ENOMEM, or corio_loop_spawn's error.  Blocking a thread that
 * runs another loop blocks that whole loop.
 */
CORIO_API int corio_loop_run_task_threadsafe(corio_loop *loop, corio_task_fn fn, void *arg, int *result);

/*
 * corio_loop_run_task_threadsafe with a limit on the wait
 * (run_coroutine_threadsafe(...).result(timeout), then cancel): after
 * `timeout` seconds (negative: no limit) the task is cancelled and the
 * calling thread waits until it has finished unwinding, so fn and arg may
 * be released as soon as this returns.  Returns as
 * corio_loop_run_task_threadsafe, or -ETIMEDOUT when the task ended
 * cancelled after the limit (a task that finished anyway in the meantime
 * gives its own result); -EINVAL for a NaN timeout.  Blocks the calling
 * thread.
 */
CORIO_API int corio_loop_run_task_threadsafe_timeout(corio_loop *loop, corio_task_fn fn, void *arg, double timeout,
                                                     int *result);

#ifdef __cplusplus
}
#endif
#endif
