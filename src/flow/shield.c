/*
 * shield.c - asyncio.shield: wait for a future through an outer future of
 * our own, so that cancelling the waiter cancels only the outer one.  The
 * inner future is told nothing and carries on.
 */
#include "flow.h"

typedef struct shield {
    corio_future outer;  /* what the caller awaits */
    corio__node on_inner;/* runs when the inner future is done */
    corio_future *inner;
} shield;

static void inner_done(corio__node *n) {
    shield *s = corio__container_of(n, shield, on_inner);
    if (s->outer.state != CORIO__PENDING) return;
    corio_future *in = s->inner;
    if (in->state == CORIO__CANCELLED)
        corio__future_complete(&s->outer, CORIO__CANCELLED, -ECANCELED, 0);
    else
        corio__future_complete(&s->outer, CORIO__DONE, in->err, in->value);
}

int corio_shield(corio_future *f, intptr_t *value) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_shield: called outside a task");
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_shield: not a future");
    if (f->loop != t->loop) return corio__bad(-EXDEV, "corio_shield: the future belongs to another loop");
    if (f->state != CORIO__PENDING) {
        int rc = corio__await(t, f); /* done: returns at once, no suspension */
        if (rc == 0 && value) *value = f->value;
        return rc;
    }
    shield s;
    corio__future_init(&s.outer, t->loop);
    s.inner = f;
    s.on_inner.run = inner_done;
    corio__future_add_node(f, &s.on_inner);
    int rc = corio__await(t, &s.outer);
    /* Leaving: stop listening to the inner future wherever our node is. */
    corio__future_remove_node(f, &s.on_inner);
    if (rc == 0 && value) *value = s.outer.value;
    return rc;
}
