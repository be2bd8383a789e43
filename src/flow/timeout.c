/*
 * timeout.c - timeout scopes, after asyncio.timeouts (3.13).
 *
 * The scope arms a handle for its deadline; when it fires it cancels the
 * scope's task once (state EXPIRING).  At exit, the task's cancel count is
 * decremented (uncancel); only if that brings it back to what it was at
 * enter, and the body ended in -ECANCELED, does the scope report
 * -ETIMEDOUT.  A cancellation from elsewhere leaves the count higher and
 * passes through as -ECANCELED.  See corio/timeout.h for the model.
 */
#include "flow.h"

/* enter() reads a struct that need not be initialised, to catch a second
 * enter of a scope that is still active.  The value read is only compared
 * with a magic number, but memcheck reports the branch on uninitialised
 * memory; tell it that these fields are meant to be read as they are. */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MAY_BE_UNINITIALISED(field) VALGRIND_MAKE_MEM_DEFINED(&(field), sizeof(field))
#else
#define MAY_BE_UNINITIALISED(field) ((void)0)
#endif

/* Active states carry a magic value so that entering a scope that is still
 * active is caught even though enter does not require a zeroed struct. */
enum { ST_CREATED = 0, ST_ENTERED = 0x7e0a1, ST_EXPIRING = 0x7e0a2, ST_EXPIRED = 3, ST_EXITED = 4 };

static void on_timeout(void *arg) {
    corio_timeout *to = arg;
    assert(to->state == ST_ENTERED);
    corio__task_cancel(to->task);
    to->state = ST_EXPIRING;
}

static int arm(corio_timeout *to, double when) {
    corio_loop *loop = to->task->loop;
    corio_handle_cancel(&to->handle);
    to->when = when;
    if (isinf(when) && when > 0) return 0;
    if (when <= corio_loop_time(loop)) return corio_loop_call_soon(loop, &to->handle, on_timeout, to);
    return corio_loop_call_at(loop, &to->handle, when, on_timeout, to);
}

int corio_timeout_enter_at(corio_timeout *to, double when) {
    if (!to || isnan(when)) return corio__bad(-EINVAL, "corio_timeout_enter: NULL scope or NaN time");
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_timeout_enter: called outside a task");
    MAY_BE_UNINITIALISED(to->state);
    MAY_BE_UNINITIALISED(to->task);
    if ((to->state == ST_ENTERED || to->state == ST_EXPIRING) && to->task == t)
        return corio__bad(-EALREADY, "corio_timeout_enter: this scope is active already");
    to->handle = (corio_handle){0};
    to->task = t;
    to->state = ST_ENTERED;
    to->cancelling = t->num_cancels;
    int rc = arm(to, when);
    if (rc < 0) to->state = ST_EXITED;
    return rc;
}

int corio_timeout_enter(corio_timeout *to, double delay) {
    if (!to || isnan(delay)) return corio__bad(-EINVAL, "corio_timeout_enter: NULL scope or NaN delay");
    double when = isinf(delay) && delay > 0 ? INFINITY : corio_time() + delay;
    return corio_timeout_enter_at(to, when);
}

int corio_timeout_reschedule(corio_timeout *to, double when) {
    if (!to || isnan(when)) return corio__bad(-EINVAL, "corio_timeout_reschedule: NULL scope or NaN time");
    if (to->state != ST_ENTERED || !to->task)
        return corio__bad(-EINVAL, "corio_timeout_reschedule: the scope is not active");
    return arm(to, when);
}

double corio_timeout_when(const corio_timeout *to) { return to ? to->when : INFINITY; }

int corio_timeout_expired(const corio_timeout *to) {
    return to && (to->state == ST_EXPIRING || to->state == ST_EXPIRED);
}

int corio_timeout_exit(corio_timeout *to, int rc) {
    if (!to || !to->task || (to->state != ST_ENTERED && to->state != ST_EXPIRING))
        return corio__bad(-EINVAL, "corio_timeout_exit: the scope is not active");
    if (corio__current() != to->task) return corio__bad(-EPERM, "corio_timeout_exit: called from another task");
    corio_handle_cancel(&to->handle);
    if (to->state == ST_EXPIRING) {
        to->state = ST_EXPIRED;
        if (corio_task_uncancel(to->task) <= to->cancelling && rc == -ECANCELED) return -ETIMEDOUT;
    } else {
        to->state = ST_EXITED;
    }
    return rc;
}
