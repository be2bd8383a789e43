/*
 * corio/debug.h - debug mode of a loop, slow-callback reports and the task
 * dump (asyncio's loop.set_debug / slow_callback_duration, aiomonitor's
 * task list).
 *
 * Debug mode never changes results, only adds reports, all through the
 * logger hook (corio_log_set_handler).  With it off, its cost on the loop's
 * hot path is one predictable branch per callback.
 *
 * In debug mode a loop reports, at level WARNING:
 *  - every callback and every task step (one run of a task between two
 *    suspensions) that took longer than the slow-callback duration:
 *      Executing <Task 'worker'> took 0.153 seconds
 *      Executing <Handle on_timer+0x0> took 0.120 seconds
 *  - at corio_loop_close: tasks never joined or detached, descriptors still
 *    registered with the loop (besides what is reported always: pending
 *    tasks, scheduled callbacks, add_reader/add_writer callbacks).
 *
 * Always, debug mode or not, through the loop's exception handler (whose
 * default logs at level ERROR; corio_loop_set_exception_handler), asyncio's
 * "Task exception was never retrieved": a task that finished with an error (not a
 * cancellation) whose outcome nobody saw, when its record is freed or the
 * loop closes.  The outcome counts as seen when it was read by corio_join,
 * corio_task_result, corio_await / corio_future_result on its future, or
 * when the task finished while something listened to it (a joiner, gather,
 * wait, as_completed, wait_for, shield, a task group, a done-callback) or
 * such a combinator took it when it had already finished.
 */
#ifndef CORIO_DEBUG_H
#define CORIO_DEBUG_H

#include <stdio.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Debug mode of one loop.  A new loop starts in debug mode when the
 * process-wide switch is on (CORIO_DEBUG=1 in the environment, or
 * corio_set_debug(1) before the loop was created).  May be switched at any
 * time, also from inside the loop.  set: 0, or -EINVAL for a NULL loop;
 * get: 1 or 0.
 */
CORIO_API int corio_loop_set_debug(corio_loop *loop, int on);
CORIO_API int corio_loop_get_debug(const corio_loop *loop);

/*
 * The duration above which a callback or task step is reported in debug
 * mode (asyncio's slow_callback_duration), in seconds; default 0.1.
 * Returns 0, or -EINVAL for a NULL loop or a negative or NaN duration.
 * The duration is real (monotonic) time, also under the virtual clock.
 */
CORIO_API int corio_loop_set_slow_callback_duration(corio_loop *loop, double seconds);
CORIO_API double corio_loop_get_slow_callback_duration(const corio_loop *loop);

/* Receives the task dump one line at a time (no trailing newline); `line`
 * is valid during the call only. */
typedef void (*corio_dump_fn)(const char *line, void *arg);

/*
 * List every task of a loop (records still held are included: finished
 * tasks nobody joined yet), one block per task:
 *
 *   Task 'worker' #3: suspended, waiting on sleep (0.250 s left), age 1.234 s (17 iterations)
 *       #0 0x5581e2a1c2f3 corio__await_tag+0x93
 *       #1 0x5581e2a1c5a8 corio_sleep+0xc8
 *       #2 0x5581e2a1b3a0 worker+0x20
 *
 * State: not started, running, ready (scheduled to resume), suspended,
 * done, cancelled, failed (with the error).  Waiting on: sleep (time
 * left), join/await of a task (its name), gather, fd read / fd write (the
 * descriptor), waiter list (a lock, event, condition, semaphore or queue;
 * with the function that waits), or a future (its address).  Age: loop
 * iterations since spawn, and, when the task's first step ran in debug
 * mode, loop time since that step (spawn itself reads no clock: it would
 * cost a third of a spawn).  The backtrace of a suspended (or the running) task follows the
 * frame-pointer chain within the task's stack; return addresses are named
 * with dladdr, so functions appear by name when they are in the dynamic
 * symbol table (a shared library, or a program linked with -rdynamic),
 * else as addresses for addr2line.  The library is built with frame
 * pointers (CMake option CORIO_FRAME_POINTERS); code compiled without them
 * makes the chain stop early or skip frames, never crash: every step is
 * checked against the stack's bounds.
 *
 * Must be called on the loop's thread, from a task, a callback, or while
 * the loop does not run.  Returns the number of tasks listed.
 */
CORIO_API size_t corio_loop_dump_tasks_fn(corio_loop *loop, corio_dump_fn fn, void *arg);
/* The same to a stdio stream, one line each. */
CORIO_API size_t corio_loop_dump_tasks(corio_loop *loop, FILE *out);
/* The current loop's tasks to out (0 when no loop runs on this thread). */
CORIO_API size_t corio_dump_tasks(FILE *out);

/*
 * Dump the loop's tasks whenever signal signum arrives (e.g. SIGUSR1, as
 * with aiomonitor), to `out`, or through the logger at level WARNING when
 * out is NULL.  The dump runs as an ordinary loop callback (corio/signal.h),
 * never in signal context, so it sees the tasks between two steps.  signum
 * 0 removes the hook.  Must be called on the loop's thread while it runs or
 * while no loop runs on this thread.  Returns 0 or the error of
 * corio_add_signal_handler (-EINVAL, -ENOSPC, ...); -EBUSY when another
 * loop runs on this thread.
 */
CORIO_API int corio_loop_dump_on_signal(corio_loop *loop, int signum, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
