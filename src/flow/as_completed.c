/*
 * as_completed.c - asyncio.as_completed (3.13's _AsCompletedIterator):
 * done-callbacks move each finished future's entry to a FIFO; next() takes
 * from it, waiting on a future that the first arrival (or the deadline)
 * completes.
 */
#include "flow.h"

#include <float.h>

long corio__mark_duplicates(corio_future *const *futs, size_t n, unsigned char *dup); /* future.c */

struct corio__ac_entry {
    corio__node node;        /* done-callback on the future, then link in `finished` */
    corio_as_completed *it;
    corio_future *f;
    int state;               /* 0 registered, 1 finished (queued), 2 handed out */
};

static void ac_wake(corio_as_completed *it) {
    if (it->wake.state == CORIO__PENDING) corio__future_complete(&it->wake, CORIO__DONE, 0, 0);
}

static void on_done(corio__node *node) {
    struct corio__ac_entry *e = corio__container_of(node, struct corio__ac_entry, node);
    corio_as_completed *it = e->it;
    if (it->timed_out) return;
    e->state = 1;
    corio__list_push_back(&it->finished, &e->node.link);
    ac_wake(it);
    /* Every future has finished: the deadline no longer matters. */
    if (++it->nfinished == it->n && it->has_timer) {
        corio_handle_cancel(&it->timer);
        it->has_timer = 0;
    }
}

static void detach_entries(corio_as_completed *it) {
    for (size_t i = 0; i < it->n; i++) {
        struct corio__ac_entry *e = &it->entries[i];
        if (e->state == 0) corio__future_remove_node(e->f, &e->node);
    }
}

static void on_timeout(void *arg) {
    corio_as_completed *it = arg;
    it->has_timer = 0;
    it->timed_out = 1;
    detach_entries(it);
    ac_wake(it);
}

int corio_as_completed_init(corio_as_completed *it, corio_future *const *futs, size_t n, double timeout) {
    if (!it || (n && !futs) || isnan(timeout)) return corio__bad(-EINVAL, "corio_as_completed_init: bad arguments");
    corio_loop *loop = corio__cur_loop;
    if (!loop) return corio__bad(-EPERM, "corio_as_completed_init: no loop runs on this thread");
    for (size_t i = 0; i < n; i++) {
        if (!corio__future_valid(futs[i]))
            return corio__bad(-EINVAL, "corio_as_completed_init: entry %zu is not a future", i);
        if (futs[i]->loop != loop)
            return corio__bad(-EXDEV, "corio_as_completed_init: entry %zu belongs to another loop", i);
    }
    it->entries = NULL;
    it->n = 0;
    it->yielded = 0;
    it->nfinished = 0;
    it->timed_out = 0;
    it->has_timer = 0;
    it->timer = (corio_handle){0};
    corio__list_init(&it->finished);
    corio__future_init(&it->wake, loop);
    if (!n) return 0;
    /* asyncio iterates over set(fs): a future passed twice is handed out
     * once.  One block holds the entries, then a scratch byte per future
     * saying whether it is a repeat; only distinct futures get an entry. */
    size_t esz = sizeof *it->entries + 1;
    it->entries = n <= SIZE_MAX / esz ? corio__calloc(n, esz) : NULL;
    if (!it->entries) return -ENOMEM;
    unsigned char *dup = (unsigned char *)(it->entries + n);
    long distinct = corio__mark_duplicates(futs, n, dup);
    if (distinct < 0) {
        corio__free(it->entries);
        it->entries = NULL;
        return (int)distinct;
    }
    if (!(isinf(timeout) && timeout > 0)) {
        /* As in wait.c: -INFINITY, like asyncio's call_later(-inf), expires
         * in the next iteration. */
        if (isinf(timeout)) timeout = -DBL_MAX;
        int rc = corio_loop_call_later(loop, &it->timer, timeout, on_timeout, it);
        if (rc < 0) {
            corio__free(it->entries);
            it->entries = NULL;
            return rc;
        }
        it->has_timer = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (dup[i]) continue;
        struct corio__ac_entry *e = &it->entries[it->n++];
        e->it = it;
        e->f = futs[i];
        e->node.run = on_done;
        corio__list_init(&e->node.link);
        corio__future_add_node(futs[i], &e->node);
    }
    return 0;
}

int corio_as_completed_next(corio_as_completed *it, corio_future **out) {
    if (!it || !out) return corio__bad(-EINVAL, "corio_as_completed_next: bad arguments");
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_as_completed_next: called outside a task");
    if (it->yielded == it->n) return 0;
    while (corio__list_empty(&it->finished)) {
        if (it->timed_out) {
            /* One TimeoutError for each future unfinished at the deadline
             * (asyncio queues a sentinel per future left), then the end. */
            it->yielded++;
            return -ETIMEDOUT;
        }
        if (it->wake.state != CORIO__PENDING) corio__future_init(&it->wake, t->loop);
        int rc = corio__await(t, &it->wake);
        if (rc < 0) {
            /* Our wake future was cancelled with us: make a fresh one next time. */
            return rc;
        }
    }
    struct corio__ac_entry *e = corio__container_of(it->finished.next, struct corio__ac_entry, node.link);
    corio__list_remove(&e->node.link);
    e->state = 2;
    it->yielded++;
    *out = e->f;
    return 1;
}

int corio_as_completed_close(corio_as_completed *it) {
    if (!it) return -EINVAL;
    if (it->has_timer) corio_handle_cancel(&it->timer);
    it->has_timer = 0;
    if (it->entries) {
        detach_entries(it);
        /* Entries queued in `finished` need no unlinking: the array goes. */
        corio__free(it->entries);
        it->entries = NULL;
    }
    corio__list_init(&it->finished);
    it->n = it->yielded = 0;
    return 0;
}
