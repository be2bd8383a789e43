/*
 * corio/signal.h - Unix signals delivered to the loop as callbacks
 * (asyncio loop.add_signal_handler / remove_signal_handler).
 *
 * The handler you register never runs in signal context: it is an
 * ordinary loop callback on the loop's thread, so it may call any corio
 * function (cancel tasks, stop the loop, print).  A process-wide
 * sigaction handler only records the signal in an atomic mask and writes
 * to a per-loop eventfd, which the loop watches.
 *
 * Coalescing: like the kernel's own pending-signal bit, signals of one
 * number that arrive before the loop gets to them are reported once.  A
 * storm of thousands costs a few loop wake-ups, never an overflow, and the
 * fact that at least one arrived is never lost.
 *
 * Several loops: each loop gets exactly the signals it registered for, in
 * whichever thread the kernel delivers them; when several loops register
 * the same signal, each of them is called.  The process's previous
 * disposition of a signal is saved when the first loop registers it and
 * restored when the last one removes it (or closes).
 *
 * Closing a loop removes its handlers, as asyncio's close() does.  Worker
 * threads of corio's executors block all signals.  The signal numbers are
 * process-wide: other code that installs its own sigaction for a number
 * registered here takes it over until the handler is removed.  After
 * fork() the child inherits the handlers and the eventfds (shared with the
 * parent): it should close the loops it inherited before it registers
 * handlers of its own.
 */
#ifndef CORIO_SIGNAL_H
#define CORIO_SIGNAL_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A signal handler: called from the loop with the signal number and your argument. */
typedef void (*corio_signal_cb)(int signum, void *arg);

/*
 * Call cb(signum, arg) from the current loop whenever signum arrives,
 * replacing this loop's earlier handler for it.  Returns 0; -EINVAL for a
 * number out of range, SIGKILL, SIGSTOP, a fault signal (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL: returning from their handler re-runs the faulting
 * instruction, so they cannot be deferred) or a NULL cb; -EPERM when no
 * loop runs on this thread; -ENOSPC when 64 loops already have handlers;
 * -ENOMEM; or sigaction's error (glibc's reserved real-time signals).
 */
CORIO_API int corio_add_signal_handler(int signum, corio_signal_cb cb, void *arg);

/*
 * Remove the current loop's handler for signum (the previous disposition
 * comes back once no loop handles it).  Returns 1 if a handler was
 * removed, 0 if there was none, -EINVAL for a number out of range, -EPERM
 * when no loop runs on this thread.  Safe to call from a signal handler
 * callback, for its own signal or another.
 */
CORIO_API int corio_remove_signal_handler(int signum);

#ifdef __cplusplus
}
#endif
#endif
