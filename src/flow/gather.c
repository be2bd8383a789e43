/*
 * gather.c - asyncio.gather (3.13's _GatheringFuture and _done_callback).
 *
 * The caller awaits an outer future on its own stack.  Each child gets a
 * done-callback node; the first failure completes the outer future at once
 * unless CORIO_GATHER_COLLECT, else the last child to finish does.  The
 * outer future's cancel() is overridden to cancel the children, so that
 * cancelling the waiting task cancels them (through the ordinary await
 * machinery) and gather then reports -ECANCELED.
 */
#include "flow.h"

#include <stdbool.h>

typedef struct gather gather;

typedef struct gentry {
    corio__node node;  /* registered on the child */
    gather *g;
    corio_future *f;
} gentry;

struct gather {
    corio_future outer;     /* kind GATHER; first, so the cancel override finds us */
    gentry *e;
    size_t n, nfinished;
    int flags;
    bool cancel_requested;
};

#define SMALL 8 /* gathers of up to this many futures allocate nothing */

static void child_done(corio__node *node) {
    gentry *e = corio__container_of(node, gentry, node);
    gather *g = e->g;
    corio_future *f = e->f;
    g->nfinished++;
    if (g->outer.state != CORIO__PENDING) return;
    if (!(g->flags & CORIO_GATHER_COLLECT)) {
        if (f->state == CORIO__CANCELLED) {
            corio__future_complete(&g->outer, CORIO__DONE, -ECANCELED, 0);
            return;
        }
        if (f->err) {
            corio__future_complete(&g->outer, CORIO__DONE, f->err, 0);
            return;
        }
    }
    if (g->nfinished == g->n)
        corio__future_complete(&g->outer, CORIO__DONE, g->cancel_requested ? -ECANCELED : 0, 0);
}

int corio__gather_cancel(corio_future *f) {
    gather *g = (gather *)f;
    if (f->state != CORIO__PENDING) return 0;
    int ret = 0;
    for (size_t i = 0; i < g->n; i++)
        if (corio_future_cancel(g->e[i].f) > 0) ret = 1;
    if (ret) g->cancel_requested = true;
    return ret;
}

int corio_gather(corio_future *const *futs, size_t n, int flags) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_gather: called outside a task");
    if (n == 0) return 0;
    if (!futs) return corio__bad(-EINVAL, "corio_gather: NULL array");
    for (size_t i = 0; i < n; i++) {
        if (!corio__future_valid(futs[i])) return corio__bad(-EINVAL, "corio_gather: entry %zu is not a future", i);
        if (futs[i]->loop != t->loop) return corio__bad(-EXDEV, "corio_gather: entry %zu belongs to another loop", i);
    }
    gentry small[SMALL];
    gather g;
    g.e = n <= SMALL ? small : corio__malloc(n * sizeof *g.e);
    if (!g.e) return -ENOMEM;
    corio__future_init(&g.outer, t->loop);
    g.outer.kind = CORIO__FK_GATHER;
    g.n = n;
    g.nfinished = 0;
    g.flags = flags;
    g.cancel_requested = false;
    for (size_t i = 0; i < n; i++) {
        gentry *e = &g.e[i];
        e->g = &g;
        e->f = futs[i];
        e->node.run = child_done;
        corio__list_init(&e->node.link);
        if (futs[i]->state == CORIO__PENDING) corio__list_push_back(&futs[i]->callbacks, &e->node.link);
    }
    /* asyncio calls the callback of already-done children at once, in order. */
    for (size_t i = 0; i < n; i++)
        if (futs[i]->state != CORIO__PENDING) child_done(&g.e[i].node);

    int rc = corio__await(t, &g.outer);

    for (size_t i = 0; i < n; i++) corio__future_remove_node(g.e[i].f, &g.e[i].node);
    if (g.e != small) corio__free(g.e);
    return rc;
}
