/*
 * corio/future.h - futures (asyncio.Future).
 *
 * A future is pending until it gets a result (an intptr_t: a number or a
 * pointer whose ownership the producer and consumer agree on), an error (a
 * negative errno), or is cancelled.  Done-callbacks run from the loop, in
 * the order they were added, in the iteration after the future completes,
 * as in asyncio.
 *
 * The struct is caller-allocated (see corio/types.h) and must stay valid
 * while any task awaits it or any callback is registered on it.
 */
#ifndef CORIO_FUTURE_H
#define CORIO_FUTURE_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Initialise a pending future bound to `loop`, or to the current loop when
 * loop is NULL.  Returns 0, -EINVAL for a NULL f, -EPERM when loop is NULL
 * and no loop runs on this thread.  A future cancelled with a message
 * keeps a copy until corio_future_destroy: initialising it again without
 * destroying it first leaks that copy.
 */
CORIO_API int corio_future_init(corio_future *f, corio_loop *loop);

/*
 * Retire a future, freeing the cancel message it keeps (corio_future_cancel_msg;
 * a future cancelled with a message keeps it until then).  Returns 0;
 * -EBUSY (and changes nothing) while callbacks
 * or awaiting tasks are still registered on it; -EINVAL if f is not an
 * initialised future (never initialised, or destroyed already).  Once f is
 * done its callbacks and waiting tasks are no longer registered but only
 * scheduled: they still read f when they run, in the next iteration, so
 * keep its memory valid until then.
 */
CORIO_API int corio_future_destroy(corio_future *f);

/*
 * Complete f with a result.  Schedules its callbacks and wakes the tasks
 * awaiting it.  Returns 0, -EINVAL if f is already done or cancelled
 * (asyncio's InvalidStateError) or not a future.
 */
CORIO_API int corio_future_set_result(corio_future *f, intptr_t value);

/*
 * Complete f with an error, a negative errno other than -ECANCELED (use
 * corio_future_cancel for that).  Returns 0 or -EINVAL (not pending, or err
 * not a negative errno, or err == -ECANCELED).
 */
CORIO_API int corio_future_set_error(corio_future *f, int err);

/*
 * Cancel f (asyncio Future.cancel / Task.cancel).  For a plain future:
 * marks it cancelled and schedules its callbacks.  For a task's future this
 * is corio_cancel(): it requests cancellation, and the task finishes later.
 * Returns 1 if cancelled or requested, 0 if f was already done, -EINVAL for
 * a non-future.
 */
CORIO_API int corio_future_cancel(corio_future *f);

/*
 * corio_future_cancel with a message (asyncio Future.cancel(msg); msg
 * copied, NULL: none).  For a task's future this is corio_cancel_msg.
 * For a plain future, the tasks awaiting it get the message
 * (corio_task_cancel_message of each, once its await returns
 * -ECANCELED), and so, as in asyncio, does a task that awaits it later or
 * reads its result with corio_future_result: the future keeps its copy
 * until corio_future_destroy, which frees it.  A future also keeps the
 * message of a corio_cancel_msg of a task awaiting it, and a gather that
 * cancels its children passes its message on to them.  Returns as
 * corio_future_cancel, or -ENOMEM (nothing cancelled).  Does not suspend.
 */
CORIO_API int corio_future_cancel_msg(corio_future *f, const char *msg);

/* 1 when f is done (with a result, an error, or cancelled), else 0. */
CORIO_API int corio_future_done(const corio_future *f);

/* 1 when f was cancelled, else 0. */
CORIO_API int corio_future_cancelled(const corio_future *f);

/*
 * Read a done future's outcome without waiting: returns 0 and stores the
 * result in *value (when value is not NULL); returns the error (negative)
 * for a failed future, -ECANCELED for a cancelled one, -EINPROGRESS while
 * still pending (asyncio's InvalidStateError), -EINVAL for a non-future.
 */
CORIO_API int corio_future_result(const corio_future *f, intptr_t *value);

/*
 * Wait for f from a task (asyncio `await fut`).  SUSPENDS the calling task
 * unless f is already done.  Returns as corio_future_result.  If the
 * calling task is cancelled while waiting, f itself is cancelled (as in
 * asyncio; use corio_shield to prevent that) and -ECANCELED is returned;
 * if f was already done by then (the task was about to resume), its
 * outcome is dropped and -ECANCELED is returned all the same.  -EPERM
 * outside a task, -EINVAL for a non-future, -EXDEV when f belongs to
 * another loop, -EDEADLK when f is the calling task's own future.
 */
CORIO_API int corio_await(corio_future *f, intptr_t *value);

/* A done-callback: called from the loop with the future and your argument. */
typedef void (*corio_future_cb)(corio_future *f, void *arg);

/*
 * Add a done-callback.  It runs once, from the loop, after f is done (if f
 * is already done, in the next iteration).  Returns 0, -ENOMEM, -EINVAL.
 */
CORIO_API int corio_future_add_done_callback(corio_future *f, corio_future_cb cb, void *arg);

/*
 * Remove every registration of (cb, arg) not yet scheduled.  Returns how
 * many were removed (>= 0), or -EINVAL.
 */
CORIO_API int corio_future_remove_done_callback(corio_future *f, corio_future_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
