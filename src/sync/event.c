/*
 * event.c - corio_event, a port of asyncio.Event (Python 3.13, locks.py).
 */
#include "../core/core.h"

/* Initialised: the waiter list is linked (zeroed or destroyed: NULL). */
static bool event_ok(const corio_event *e) { return e && e->waiters.next; }

int corio_event_init(corio_event *e) {
    if (!e) return corio__bad(-EINVAL, "corio_event_init: NULL event");
    corio__list_init(&e->waiters);
    e->value = 0;
    return 0;
}

int corio_event_destroy(corio_event *e) {
    if (!event_ok(e)) return corio__bad(-EINVAL, "corio_event_destroy: not an initialised event");
    if (!corio__list_empty(&e->waiters)) return corio__bad(-EBUSY, "corio_event_destroy: tasks still wait on this event");
    e->waiters.next = e->waiters.prev = NULL;
    e->value = 0;
    return 0;
}

int corio_event_set(corio_event *e) {
    if (!event_ok(e)) return corio__bad(-EINVAL, "corio_event_set: not an initialised event");
    if (!e->value) {
        e->value = 1;
        /* Wake every waiter, in the order they came.  A waiter that was
         * cancelled already is done and left alone. */
        corio__list_foreach(it, &e->waiters) {
            corio__waiter *w = corio__container_of(it, corio__waiter, link);
            if (w->fut.state == CORIO__PENDING) corio__future_complete(&w->fut, CORIO__DONE, 0, 1);
        }
    }
    return 0;
}

int corio_event_clear(corio_event *e) {
    if (!event_ok(e)) return corio__bad(-EINVAL, "corio_event_clear: not an initialised event");
    e->value = 0;
    return 0;
}

int corio_event_is_set(const corio_event *e) { return e && e->value; }

int corio_event_wait(corio_event *e) {
    if (!event_ok(e)) return corio__bad(-EINVAL, "corio_event_wait: not an initialised event");
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_event_wait: called outside a task");
    if (e->value) return 0;
    /* A waiter woken by set() returns 0 even if the event was cleared again
     * before it ran, as in asyncio. */
    corio__waiter w;
    return corio__waiter_wait(t, &e->waiters, &w, NULL);
}
