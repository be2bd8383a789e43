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
    corio__msg *msg;        /* the cancel message the outer future's -ECANCELED carries (one reference) */
    corio__msg *req_msg;    /* the message gather itself was cancelled with (one reference) */
};

/* The outer future ends in the CancelledError of child f (3.13: outer.
 * set_exception(fut._make_cancelled_error())): f's message, when f is a
 * task, goes to the gathering task. */
static void take_msg(gather *g, corio_future *f) {
    corio_task *t = corio_future_task(f);
    /* A plain future keeps no message (future.c): if gather cancelled it,
     * it was with gather's own. */
    const corio__msg *m = t ? t->cancel_msg : g->cancel_requested ? g->req_msg : NULL;
    corio__msg *held = corio__msg_ref(m);
    corio__msg_unref(g->msg);
    g->msg = held;
}

#define SMALL 8 /* gathers of up to this many futures allocate nothing */

static void child_done(corio__node *node) {
    gentry *e = corio__container_of(node, gentry, node);
    gather *g = e->g;
    corio_future *f = e->f;
    g->nfinished++;
    if (g->outer.state != CORIO__PENDING) return;
    if (!(g->flags & CORIO_GATHER_COLLECT)) {
        if (f->state == CORIO__CANCELLED) {
            take_msg(g, f);
            corio__future_complete(&g->outer, CORIO__DONE, -ECANCELED, 0);
            return;
        }
        if (f->err) {
            corio__future_complete(&g->outer, CORIO__DONE, f->err, 0);
            return;
        }
    }
    if (g->nfinished == g->n) {
        if (g->cancel_requested) take_msg(g, f);
        corio__future_complete(&g->outer, CORIO__DONE, g->cancel_requested ? -ECANCELED : 0, 0);
    }
}

int corio__gather_cancel(corio_future *f, const corio__msg *msg) {
    gather *g = (gather *)f;
    if (f->state != CORIO__PENDING) return 0;
    int ret = 0;
    for (size_t i = 0; i < g->n; i++)
        if (corio__future_cancel_msg(g->e[i].f, msg) > 0) ret = 1;
    if (ret) {
        g->cancel_requested = true;
        corio__msg *held = corio__msg_ref(msg);
        corio__msg_unref(g->req_msg);
        g->req_msg = held;
    }
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
    g.msg = g.req_msg = NULL;
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
    if (rc == -ECANCELED && g.outer.state != CORIO__PENDING && g.outer.err == -ECANCELED) corio__task_set_msg(t, g.msg);
    corio__msg_unref(g.msg);
    corio__msg_unref(g.req_msg);

    for (size_t i = 0; i < n; i++) corio__future_remove_node(g.e[i].f, &g.e[i].node);
    if (g.e != small) corio__free(g.e);
    return rc;
}
