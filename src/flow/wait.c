/*
 * wait.c - asyncio.wait (3.13's _wait): a waiter future released by the
 * futures' done-callbacks or by a timer.  The futures are never cancelled.
 * asyncio works on set(fs), so a future passed twice counts once: it gets
 * one callback, one place in `done` or `pending`, and one in the count.
 */
#include "flow.h"

#include <float.h>

long corio__mark_duplicates(corio_future *const *futs, size_t n, unsigned char *dup); /* future.c */

typedef struct waitst waitst;

typedef struct wentry {
    corio__node node;
    waitst *w;
    corio_future *f;
} wentry;

struct waitst {
    corio_future waiter;
    corio_handle timer;
    size_t counter;
    int return_when;
    int has_timer;
};

#define SMALL 8

static void release(waitst *w) {
    if (w->has_timer) corio_handle_cancel(&w->timer);
    if (w->waiter.state == CORIO__PENDING) corio__future_complete(&w->waiter, CORIO__DONE, 0, 0);
}

static void on_completion(corio__node *node) {
    wentry *e = corio__container_of(node, wentry, node);
    waitst *w = e->w;
    w->counter--;
    if (w->counter == 0 || w->return_when == CORIO_FIRST_COMPLETED ||
        (w->return_when == CORIO_FIRST_EXCEPTION && e->f->state == CORIO__DONE && e->f->err != 0))
        release(w);
}

static void on_timeout(void *arg) {
    waitst *w = arg;
    w->has_timer = 0;
    if (w->waiter.state == CORIO__PENDING) corio__future_complete(&w->waiter, CORIO__DONE, 0, 0);
}

int corio_wait(corio_future *const *futs, size_t n, int return_when, double timeout, corio_future **done,
               corio_future **pending) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_wait: called outside a task");
    if (n == 0 || !futs) return corio__bad(-EINVAL, "corio_wait: no futures given");
    if (return_when != CORIO_FIRST_COMPLETED && return_when != CORIO_FIRST_EXCEPTION &&
        return_when != CORIO_ALL_COMPLETED)
        return corio__bad(-EINVAL, "corio_wait: bad return_when %d", return_when);
    if (isnan(timeout)) return corio__bad(-EINVAL, "corio_wait: NaN timeout");
    for (size_t i = 0; i < n; i++) {
        if (!corio__future_valid(futs[i])) return corio__bad(-EINVAL, "corio_wait: entry %zu is not a future", i);
        if (futs[i]->loop != t->loop) return corio__bad(-EXDEV, "corio_wait: entry %zu belongs to another loop", i);
    }
    wentry small[SMALL];
    unsigned char small_dup[SMALL];
    wentry *es = small;
    unsigned char *dup = small_dup;
    if (n > SMALL) {
        /* One block: the entries, then a byte per entry for dup. */
        es = n <= SIZE_MAX / (sizeof *es + 1) ? corio__malloc(n * (sizeof *es + 1)) : NULL;
        if (!es) return -ENOMEM;
        dup = (unsigned char *)(es + n);
    }
    long distinct = corio__mark_duplicates(futs, n, dup);
    int rc = 0;
    if (distinct < 0) {
        rc = (int)distinct;
        goto out;
    }
    waitst w = {.counter = (size_t)distinct, .return_when = return_when};
    corio__future_init(&w.waiter, t->loop);
    if (!(isinf(timeout) && timeout > 0)) {
        /* asyncio's call_later(-inf) fires in the next iteration, before
         * any timer due at a finite time; corio_loop_call_later refuses
         * infinities, and the most negative finite delay does the same. */
        if (isinf(timeout)) timeout = -DBL_MAX;
        rc = corio_loop_call_later(t->loop, &w.timer, timeout, on_timeout, &w);
        if (rc < 0) goto out;
        w.has_timer = 1;
    }
    for (size_t i = 0; i < n; i++) {
        es[i].w = &w;
        es[i].f = futs[i];
        es[i].node.run = on_completion;
        corio__list_init(&es[i].node.link);
        if (!dup[i]) corio__future_add_node(futs[i], &es[i].node);
    }
    rc = corio__await(t, &w.waiter);
    if (w.has_timer) corio_handle_cancel(&w.timer);
    for (size_t i = 0; i < n; i++) corio__future_remove_node(es[i].f, &es[i].node);
    if (rc == 0) {
        size_t nd = 0, np = 0;
        for (size_t i = 0; i < n; i++) {
            if (dup[i]) continue;
            if (futs[i]->state != CORIO__PENDING) {
                if (done) done[nd] = futs[i];
                nd++;
            } else {
                if (pending) pending[np] = futs[i];
                np++;
            }
        }
        rc = (int)nd;
    }
out:
    if (es != small) corio__free(es);
    return rc;
}
