/*
 * corio/timeout.h - timeout scopes (asyncio.timeout / asyncio.timeout_at).
 *
 *     corio_timeout to;
 *     corio_timeout_enter(&to, 1.5);
 *     int rc = do_work();                 // suspending calls inside fail with
 *                                         // -ECANCELED once the deadline passes
 *     rc = corio_timeout_exit(&to, rc);   // ... which becomes -ETIMEDOUT here
 *
 * Model: asyncio's (edge-triggered).  When the deadline passes the scope
 * cancels its task once; the suspending call in progress (or the next one)
 * returns -ECANCELED.  corio_timeout_exit() turns that -ECANCELED into
 * -ETIMEDOUT only if the scope expired and no other cancellation is
 * pending (cancel counting: corio_task_cancelling / corio_task_uncancel),
 * so nested scopes report only the one that expired and an outside
 * corio_cancel() is never mistaken for a timeout.  We keep asyncio's model
 * rather than Trio's level-triggered scopes so that code ported from
 * asyncio behaves the same; the price is that code which swallows
 * -ECANCELED inside an expired scope keeps running until it returns.
 *
 * The struct lives on the task's stack between enter and exit; every
 * enter must be paired with an exit on the same task.
 */
#ifndef CORIO_TIMEOUT_H
#define CORIO_TIMEOUT_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_timeout {
    corio_handle handle;  /* fires at the deadline (private) */
    corio_task *task;     /* the task the scope belongs to */
    double when;          /* deadline in loop seconds, INFINITY for none */
    int cancelling;       /* the task's cancel count at enter */
    int state;            /* created, entered, expiring, expired, exited */
} corio_timeout;

/*
 * Enter a scope that expires `delay` seconds from now (INFINITY: never; <= 0:
 * in the next loop iteration).  The struct need not be initialised; a scope
 * may be entered again after its exit.  Returns 0, -EPERM outside a task,
 * -EINVAL for a NULL scope or NaN, -EALREADY if the scope is still active.
 * Does not suspend.
 */
CORIO_API int corio_timeout_enter(corio_timeout *to, double delay);

/* Enter a scope that expires at loop time `when` (INFINITY: never; a time
 * already passed: in the next loop iteration).  Errors as corio_timeout_enter. */
CORIO_API int corio_timeout_enter_at(corio_timeout *to, double when);

/*
 * Move the deadline to loop time `when` (INFINITY removes it).  Returns 0,
 * -EINVAL if the scope is not active (never entered, already expired or
 * exited) or for NaN.
 */
CORIO_API int corio_timeout_reschedule(corio_timeout *to, double when);

/* The current deadline in loop seconds (INFINITY when none). */
CORIO_API double corio_timeout_when(const corio_timeout *to);

/* 1 once the deadline has passed and the scope cancelled its task. */
CORIO_API int corio_timeout_expired(const corio_timeout *to);

/*
 * Leave the scope.  `rc` is the outcome of the body; returns -ETIMEDOUT if
 * rc is -ECANCELED because this scope expired (and no other cancellation is
 * pending), otherwise rc unchanged.  Does not suspend.  -EINVAL if the scope
 * was not entered or was already left, -EPERM if called from another task.
 */
CORIO_API int corio_timeout_exit(corio_timeout *to, int rc);

#ifdef __cplusplus
}
#endif
#endif
