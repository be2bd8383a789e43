/*
 * corio/task.h - tasks: C functions running on their own stacks.
 *
 * A task runs `int fn(void *arg)` on a stack of its own and suspends
 * wherever it waits (corio_sleep, corio_await, corio_join, a lock, ...),
 * letting other tasks run.  Its return value is its outcome: >= 0 is a
 * result, < 0 an error (a negative errno).  A task that returns -ECANCELED
 * counts as cancelled, like a coroutine letting CancelledError propagate.
 *
 * Cancellation (asyncio semantics, edge-triggered): corio_cancel() makes
 * the call the task is suspended in, or the next one it makes, return
 * -ECANCELED once.  The task may clean up, even wait again, and finish as
 * it likes.  corio_task_cancelling()/corio_task_uncancel() count pending
 * requests so that timeout scopes and task groups can tell their own
 * cancellations from outside ones.
 *
 * Ownership: corio_spawn() returns a task with one reference held by the
 * caller.  Give it up with corio_join() (wait and take the result) or
 * corio_task_detach() (let it run on unobserved).  The task record is freed
 * once it has finished and no reference is left; the loop keeps a running
 * task alive by itself, so fire-and-forget tasks are never collected early.
 */
#ifndef CORIO_TASK_H
#define CORIO_TASK_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Optional settings for a new task; zero means "default". */
typedef struct corio_task_opts {
    const char *name;   /* copied; default "Task-<n>" as in asyncio */
    size_t stack_size;  /* usable bytes, rounded up to pages; default 256 KiB, minimum 16 KiB */
    int eager;          /* > 0: take the first step at once (corio_loop_set_eager_tasks); < 0: never; 0: as the loop says */
    corio_context *context; /* run in this context, shared with its other users and held until the task
                               finishes (create_task(context=...)); NULL: a copy of the spawner's (corio/context.h) */
} corio_task_opts;

/* The entry point of a task. */
typedef int (*corio_task_fn)(void *arg);

/*
 * Start fn(arg) as a new task of the current loop (asyncio.create_task).
 * It first runs in the next loop iteration - or at once, until it first
 * suspends, when eager tasks are on (corio_loop_set_eager_tasks,
 * corio_task_opts.eager): the caller does not suspend, but other code
 * runs before the spawn returns.  Returns the task (the caller holds one
 * reference), or NULL with errno EINVAL (NULL fn), EPERM (no loop runs on
 * this thread) or ENOMEM.
 */
CORIO_API corio_task *corio_spawn(corio_task_fn fn, void *arg);

/* corio_spawn with options (opts may be NULL). */
CORIO_API corio_task *corio_spawn_opts(corio_task_fn fn, void *arg, const corio_task_opts *opts);

/* corio_spawn on an explicit loop, which need not be running. */
CORIO_API corio_task *corio_loop_spawn(corio_loop *loop, corio_task_fn fn, void *arg,
                                       const corio_task_opts *opts);

/*
 * Wait for t to finish and return its outcome: fn's return value, or
 * -ECANCELED if it was cancelled.  SUSPENDS.  Gives up the caller's
 * reference: t must not be used afterwards, whatever is returned.  If the
 * caller is cancelled while waiting, t is cancelled too (as `await task`
 * does in asyncio) and join goes on waiting until t has finished, then
 * returns t's outcome (-ECANCELED, or a value if t absorbed the cancel).  Errors: -EINVAL for NULL or
 * a task already joined or detached (a second join), -EPERM outside a task,
 * -EDEADLK when a task joins itself, -EXDEV for a task of another loop (in
 * each case the reference is kept).
 */
CORIO_API int corio_join(corio_task *t);

/*
 * corio_join that also stores t's value in *value (may be NULL) when t
 * succeeded: what it gave corio_task_set_value, or else fn's return value.
 * Returns as corio_join, except that a task that set a value returns 0.
 * SUSPENDS; gives up the caller's reference as corio_join.
 */
CORIO_API int corio_join_value(corio_task *t, intptr_t *value);

/*
 * From inside a task: the pointer-sized result its future will carry
 * (asyncio's return value of any type), instead of fn's return value, when
 * fn returns >= 0.  fn's return then says only success (>= 0) or error
 * (< 0, which wins: the value is dropped).  Call it again to replace the
 * value.  Returns 0, or -EPERM outside a task.  Does not suspend.
 *
 *     static int fetch(void *arg) { ...; return corio_task_set_value((intptr_t)body); }
 *     intptr_t v; if (corio_join_value(t, &v) == 0) use((char *)v);
 */
CORIO_API int corio_task_set_value(intptr_t value);

/* Give up the caller's reference without waiting.  0, or -EINVAL if already given up. */
CORIO_API int corio_task_detach(corio_task *t);

/* Take one more reference (give it up with corio_join or corio_task_detach).  0 or -EINVAL. */
CORIO_API int corio_task_ref(corio_task *t);

/*
 * Request cancellation of t (asyncio Task.cancel).  If t waits on a future
 * that future is cancelled; otherwise t's next suspending call returns
 * -ECANCELED.  A task cancelled before it started never runs.  Returns 1
 * if requested, 0 if t is already done, -EINVAL for NULL.  Does not suspend.
 */
CORIO_API int corio_cancel(corio_task *t);

/*
 * corio_cancel with a message (asyncio Task.cancel(msg)): msg is copied
 * (NULL: no message) and travels with the cancellation - to the code
 * that gets the -ECANCELED, and on to whoever awaits or joins t once it
 * finishes cancelled - readable with corio_task_cancel_message.  As in
 * asyncio, a cancel while the future t waits on is cancelled already
 * keeps the first message (that is the one t will see); before t starts,
 * the last one wins.  Returns 1 if requested, 0 if t is already done (its
 * message unchanged), -EINVAL for NULL or a non-task, -ENOMEM (nothing
 * requested).  Does not suspend.
 */
CORIO_API int corio_cancel_msg(corio_task *t, const char *msg);

/*
 * The message of t's cancellation (asyncio: the CancelledError's args),
 * or NULL when it carries none.  For the running task,
 * corio_task_cancel_message(corio_current_task()) after a call returned
 * -ECANCELED is the message that cancellation came with: the one given
 * to corio_cancel_msg / corio_future_cancel_msg, or, when the call awaited
 * or joined a task that was cancelled (corio_join, corio_await,
 * corio_gather, corio_wait_for, reading its result with
 * corio_task_result / corio_future_result), that task's message.  When
 * a task returns -ECANCELED the message it holds then is the one it
 * finishes with, so a joiner reads it after its corio_join returned
 * -ECANCELED from corio_task_cancel_message(corio_current_task()), or
 * from t itself while it holds a reference.  A message is kept until
 * the next cancellation delivered to the task replaces it (one the task
 * absorbed included).  Valid until then, or until t is freed.  Does not
 * suspend.
 */
CORIO_API const char *corio_task_cancel_message(const corio_task *t);

/* Number of pending cancellation requests (asyncio Task.cancelling): each
 * corio_cancel of an unfinished task adds one, each corio_task_uncancel
 * takes one away; delivering the cancellation does not change it.  -EINVAL
 * for NULL or a non-task. */
CORIO_API int corio_task_cancelling(const corio_task *t);

/*
 * Withdraw one cancellation request (asyncio 3.13 Task.uncancel); when the
 * count reaches zero a not yet delivered cancellation is dropped.  Returns
 * the remaining count, or -EINVAL.
 */
CORIO_API int corio_task_uncancel(corio_task *t);

/* 1 when t has finished (returned, failed or was cancelled). */
CORIO_API int corio_task_done(const corio_task *t);

/* 1 when t was cancelled. */
CORIO_API int corio_task_cancelled(const corio_task *t);

/*
 * t's outcome without waiting: its return value (>= 0; 0 if it set a
 * value with corio_task_set_value), its error, or -ECANCELED; -EINPROGRESS
 * while it runs; -EINVAL for NULL.
 */
CORIO_API int corio_task_result(const corio_task *t);

/*
 * t's outcome without waiting, with its value: 0 and *value (what it gave
 * corio_task_set_value, or fn's return value) when it succeeded; its error,
 * or -ECANCELED; -EINPROGRESS while it runs; -EINVAL for NULL arguments.
 */
CORIO_API int corio_task_value(const corio_task *t, intptr_t *value);

/* t's future, for the combinators (gather, wait, ...) and done-callbacks.  Borrowed. */
CORIO_API corio_future *corio_task_future(corio_task *t);

/* The task whose future f is, or NULL when f is a plain future. */
CORIO_API corio_task *corio_future_task(corio_future *f);

/* t's name; valid until the name changes or t is freed.  "" for NULL. */
CORIO_API const char *corio_task_name(corio_task *t);

/* Rename t (the string is copied).  0, -EINVAL, -ENOMEM. */
CORIO_API int corio_task_set_name(corio_task *t, const char *name);

/* The task running now on this thread, or NULL (in a callback or outside a loop). */
CORIO_API corio_task *corio_current_task(void);

/*
 * The unfinished tasks of the current loop (asyncio.all_tasks): stores up
 * to `cap` borrowed pointers in out and returns how many tasks there are,
 * which may exceed cap.  0 when no loop runs.
 */
CORIO_API size_t corio_all_tasks(corio_task **out, size_t cap);

/*
 * Suspend the calling task for `seconds` (asyncio.sleep).  0 or less (and
 * -0.0) just yields: other ready work runs first.  INFINITY sleeps until
 * the task is cancelled (no timer is armed).  SUSPENDS.  Returns 0,
 * -ECANCELED if cancelled, -EPERM outside a task, -EINVAL for NaN,
 * -ENOMEM if the timer could not be armed.
 */
CORIO_API int corio_sleep(double seconds);

/* Let every other ready task and callback run once (asyncio.sleep(0)).
 * SUSPENDS.  0, -ECANCELED if cancelled, -EPERM outside a task. */
CORIO_API int corio_yield(void);

/*
 * Call fn(arg) on the loop thread's own stack (where the scheduler runs)
 * instead of the calling task's, and return what fn returns (Go's
 * systemstack).  Two uses:
 *   - Deep calls from tasks with small stacks: a million tasks fit in
 *     far less memory with 16 KiB stacks (corio_task_opts.stack_size),
 *     and a library call that needs more (a compressor's tables, a
 *     recursive parser) runs here, on the thread's megabytes.
 *   - Cache warmth: a task's stack is its own memory, so a deep call that
 *     every task makes finds its frames cold on each task in turn; on the
 *     loop's stack they stay warm.  Measured with corio-tls's SSL_write
 *     (modules/tls/bench/cache.sh, 100 connections): 53 fewer misses of a
 *     simulated 512 KiB cache per echoed message (190.7 -> 137.6), but
 *     only 1-2% more messages/s on this machine, within its noise, for
 *     ~40 more instructions - so corio-tls does not use it.
 *
 * fn MUST NOT suspend: no call that SUSPENDS, no corio_yield, nothing
 * that waits for I/O (the loop's stack is the scheduler's, which resumes
 * when the task suspends; a debug build asserts when such a task switches
 * back to the scheduler).  fn may call corio's
 * functions that do not suspend (a stream write, a future's completion,
 * a spawn), and may call corio_call_on_loop_stack again, which then runs
 * in place.  While an eager task's first step runs, its spawner stands in
 * for the scheduler, and fn runs on the spawner's stack below its
 * suspended frames.  Outside a task, with the portable ucontext switch and
 * under ASan or TSan, fn is simply called on the current stack.  Does not
 * suspend.
 */
CORIO_API intptr_t corio_call_on_loop_stack(intptr_t (*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
