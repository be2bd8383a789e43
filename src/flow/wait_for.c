/*
 * wait_for.c - asyncio.wait_for (3.13): for a positive timeout, a timeout
 * scope around an await.  The await's cancellation semantics do the rest:
 * on timeout the awaited future is cancelled, and if it is a task the
 * caller stays suspended until the task has finished its cleanup.  A
 * timeout <= 0 cancels at once and waits for the cancellation to finish
 * (asyncio's _cancel_and_wait), so a task that has not started never runs.
 */
#include "flow.h"

typedef struct release_node {
    corio__node node;
    corio_future *waiter;
} release_node;

static void release_waiter(corio__node *n) {
    release_node *r = corio__container_of(n, release_node, node);
    if (r->waiter->state == CORIO__PENDING) corio__future_complete(r->waiter, CORIO__DONE, 0, 0);
}

static int cancel_and_wait(corio_task *t, corio_future *f) {
    corio_future waiter;
    release_node r = {.waiter = &waiter};
    corio__future_init(&waiter, t->loop);
    r.node.run = release_waiter;
    corio__list_init(&r.node.link);
    corio__future_add_node(f, &r.node);
    corio_future_cancel(f);
    int rc = corio__await(t, &waiter);
    corio__future_remove_node(f, &r.node);
    return rc;
}

int corio_wait_for(corio_future *f, double timeout, intptr_t *value) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_wait_for: called outside a task");
    if (!corio__future_valid(f) || isnan(timeout)) return corio__bad(-EINVAL, "corio_wait_for: bad arguments");
    if (f->loop != t->loop) return corio__bad(-EXDEV, "corio_wait_for: the future belongs to another loop");
    int rc;
    if (timeout <= 0) {
        /* Already done: its outcome as it is, even -ECANCELED (asyncio
         * returns fut.result() without turning anything into a timeout). */
        if (f->state != CORIO__PENDING) return corio_future_result(f, value);
        rc = cancel_and_wait(t, f);
        if (rc < 0) return rc;
        rc = corio_future_result(f, value);
        return rc == -ECANCELED ? -ETIMEDOUT : rc;
    }
    corio_timeout to;
    to.state = 0;
    rc = corio_timeout_enter(&to, timeout);
    if (rc < 0) return rc;
    rc = corio__await(t, f);
    rc = corio_timeout_exit(&to, rc);
    if (rc == 0 && value) *value = f->value;
    return rc;
}
