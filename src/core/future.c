/*
 * future.c - futures: state, result, done-callbacks.
 *
 * A future's callbacks are ready-queue nodes kept on a list; completing the
 * future moves them all to the end of the loop's ready queue in order, so
 * they run in the next iteration in the order they were added, as asyncio
 * schedules them with call_soon.  A task awaiting a future registers its
 * own wake-up node this way: no allocation per await.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

int corio_future_init(corio_future *f, corio_loop *loop) {
    if (!f) return corio__bad(-EINVAL, "corio_future_init: NULL future");
    if (!loop) loop = corio__cur_loop;
    if (!loop) return corio__bad(-EPERM, "corio_future_init: no loop given and none runs on this thread");
    corio__future_init(f, loop);
    f->magic = CORIO__FUTURE_MAGIC_OWNED;
    return 0;
}

int corio_future_destroy(corio_future *f) {
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_future_destroy: not a future");
    if (!corio__list_empty(&f->callbacks))
        return corio__bad(-EBUSY, "corio_future_destroy: tasks or callbacks still wait on this future");
    corio__msg_unref(corio__future_kept_msg(f));
    f->value = 0;
    f->magic = 0;
    return 0;
}

void corio__future_complete(corio_future *f, unsigned state, int err, intptr_t value) {
    corio__future_complete_inline(f, state, err, value);
}

int corio_future_set_result(corio_future *f, intptr_t value) {
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_future_set_result: not a future");
    if (f->state != CORIO__PENDING) return corio__bad(-EINVAL, "corio_future_set_result: future already done");
    if (f->kind == CORIO__FK_TASK) return corio__bad(-EINVAL, "corio_future_set_result: a task sets its own result");
    corio__future_complete(f, CORIO__DONE, 0, value);
    return 0;
}

int corio_future_set_error(corio_future *f, int err) {
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_future_set_error: not a future");
    if (f->state != CORIO__PENDING) return corio__bad(-EINVAL, "corio_future_set_error: future already done");
    if (f->kind == CORIO__FK_TASK) return corio__bad(-EINVAL, "corio_future_set_error: a task sets its own result");
    if (err >= 0 || err == -ECANCELED)
        return corio__bad(-EINVAL, "corio_future_set_error: %d is not a negative errno other than -ECANCELED", err);
    corio__future_complete(f, CORIO__DONE, err, 0);
    return 0;
}

void corio__msg_unref(corio__msg *m) {
    if (m && --m->refs == 0) corio__free(m);
}

int corio__future_cancel_plain(corio_future *f, const corio__msg *msg) {
    if (f->state != CORIO__PENDING) return 0;
    /* The tasks awaiting f get the message now. */
    corio__list_foreach(it, &f->callbacks) {
        corio_task *w = corio__node_task(corio__container_of(it, corio__node, link));
        if (w) corio__task_set_msg(w, msg);
    }
    corio__future_complete(f, CORIO__CANCELLED, -ECANCELED, 0);
    /* A future the program owns keeps the message too, as asyncio's
     * _cancel_message, for those who await it or read its result later:
     * in `value`, which a cancelled future has no other use for, until
     * corio_future_destroy frees it.  The library's own futures (a wait's,
     * reached by a cancel of its task) are never destroyed: they keep
     * none, their message goes to the task. */
    if (msg && f->magic == CORIO__FUTURE_MAGIC_OWNED) f->value = (intptr_t)corio__msg_ref(msg);
    return 1;
}

int corio__future_cancel_msg(corio_future *f, const corio__msg *msg) {
    /* Tasks and gathers override cancel; the table (src/subsystems.c)
     * keeps this layer from naming the ones above it. */
    return corio__future_kinds[f->kind].cancel(f, msg);
}

int corio_future_cancel(corio_future *f) {
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_future_cancel: not a future");
    return corio__future_cancel_msg(f, NULL);
}

corio__msg *corio__msg_new(const char *text) {
    if (!text) return NULL;
    size_t len = strlen(text);
    corio__msg *m = corio__malloc(sizeof *m + len + 1);
    if (!m) return NULL;
    m->refs = 1;
    memcpy(m->text, text, len + 1);
    return m;
}

int corio_future_cancel_msg(corio_future *f, const char *msg) {
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_future_cancel_msg: not a future");
    if (f->state != CORIO__PENDING) return 0; /* nothing to copy for */
    corio__msg *m = corio__msg_new(msg);
    if (msg && !m) return -ENOMEM;
    int rc = corio__future_cancel_msg(f, m);
    corio__msg_unref(m);
    return rc;
}

int corio_future_done(const corio_future *f) { return f && f->state != CORIO__PENDING; }

int corio_future_cancelled(const corio_future *f) { return f && f->state == CORIO__CANCELLED; }

int corio_future_result(const corio_future *f, intptr_t *value) {
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_future_result: not a future");
    if (f->state == CORIO__PENDING) return -EINPROGRESS;
    if (f->state == CORIO__CANCELLED) {
        /* A cancelled task's result raises its CancelledError in the
         * caller (asyncio), message and all: a task that passes the
         * -ECANCELED on is cancelled with that message. */
        corio_task *me = corio__current();
        if (me) corio__task_msg_from(me, f);
        return -ECANCELED;
    }
    if (f->err) {
        corio__future_seen(f); /* debug mode: the error is retrieved */
        return f->err;
    }
    if (value) *value = f->value;
    return 0;
}

void corio__future_add_node(corio_future *f, corio__node *n) {
    if (f->state != CORIO__PENDING) {
        /* Whoever listens to a finished task (wait, as_completed)
         * is told its outcome, as those listening when it finished are. */
        corio__future_seen(f);
        corio__ready_push(f->loop, n);
    } else
        corio__list_push_back(&f->callbacks, &n->link);
}

void corio__future_remove_node(corio_future *f, corio__node *n) {
    /* A combinator that stops listening to a finished task has seen
     * its outcome (gather calls its callback at once for finished children). */
    if (f->state != CORIO__PENDING) corio__future_seen(f);
    if (n->link.next == &n->link) return; /* ran already, or never added */
    if (f->state == CORIO__PENDING)
        corio__list_remove(&n->link);
    else
        corio__ready_remove(f->loop, n);
}

int corio_await(corio_future *f, intptr_t *value) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_await: called outside a task");
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_await: not a future");
    int rc = corio__await(t, f);
    if (rc == 0 && value) *value = f->value;
    return rc;
}

/* ---- user done-callbacks ------------------------------------------------------ */

typedef struct fcb {
    corio__node node;
    corio_future *f;
    corio_future_cb cb;
    void *arg;
} fcb;

static void fcb_run(corio__node *n) {
    fcb *c = corio__container_of(n, fcb, node);
    corio_future *f = c->f;
    corio_future_cb cb = c->cb;
    void *arg = c->arg;
    corio__free(c);
    cb(f, arg);
}

bool corio__future_cb_is_node(corio__node *n) { return n->run == fcb_run; }

void *corio__node_future_cb(corio__node *n) { /* debug.c's slow-callback report */
    return n->run == fcb_run ? (void *)(uintptr_t)corio__container_of(n, fcb, node)->cb : NULL;
}

void corio__future_cb_free_node(corio__node *n) { corio__free(corio__container_of(n, fcb, node)); }

int corio_future_add_done_callback(corio_future *f, corio_future_cb cb, void *arg) {
    if (!corio__future_valid(f) || !cb) return corio__bad(-EINVAL, "corio_future_add_done_callback: bad arguments");
    fcb *c = corio__malloc(sizeof *c);
    if (!c) return -ENOMEM;
    c->node.run = fcb_run;
    corio__list_init(&c->node.link);
    c->f = f;
    c->cb = cb;
    c->arg = arg;
    corio__future_add_node(f, &c->node);
    return 0;
}

int corio_future_remove_done_callback(corio_future *f, corio_future_cb cb, void *arg) {
    if (!corio__future_valid(f)) return corio__bad(-EINVAL, "corio_future_remove_done_callback: not a future");
    int removed = 0;
    for (corio_list *it = f->callbacks.next, *next; it != &f->callbacks; it = next) {
        next = it->next;
        corio__node *n = corio__container_of(it, corio__node, link);
        if (n->run != fcb_run) continue;
        fcb *c = corio__container_of(n, fcb, node);
        if (c->cb == cb && c->arg == arg) {
            corio__list_remove(it);
            corio__free(c);
            removed++;
        }
    }
    return removed;
}

/* ---- repeated futures (asyncio.wait and as_completed take set(fs)) ------------- */

typedef struct dedup_ent {
    uintptr_t p;  /* the future's address */
    size_t i;     /* its index in the caller's array */
} dedup_ent;

static int dedup_cmp(const void *a, const void *b) {
    const dedup_ent *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Set dup[i] to 1 when futs[i] already appears at a smaller index, else 0,
 * and return how many distinct futures there are (or -ENOMEM).  Up to 16
 * futures are compared pairwise; more are sorted by address in a temporary
 * array, so a large wait() stays O(n log n).
 */
long corio__mark_duplicates(corio_future *const *futs, size_t n, unsigned char *dup) {
    long distinct = 0;
    if (n <= 16) {
        for (size_t i = 0; i < n; i++) {
            dup[i] = 0;
            for (size_t j = 0; j < i; j++)
                if (futs[j] == futs[i]) {
                    dup[i] = 1;
                    break;
                }
            distinct += !dup[i];
        }
        return distinct;
    }
    dedup_ent *v = n <= SIZE_MAX / sizeof *v ? corio__malloc(n * sizeof *v) : NULL;
    if (!v) return -ENOMEM;
    for (size_t i = 0; i < n; i++) v[i] = (dedup_ent){(uintptr_t)futs[i], i};
    qsort(v, n, sizeof *v, dedup_cmp);
    for (size_t k = 0; k < n; k++) {
        /* Sorted by (address, index): the first of a run is the earliest. */
        dup[v[k].i] = k > 0 && v[k].p == v[k - 1].p;
        distinct += !dup[v[k].i];
    }
    corio__free(v);
    return distinct;
}

/* ---- waiter lists (locks, events, queues) -------------------------------------- */

int corio__waiter_wait(corio_task *t, corio_list *list, corio__waiter *w, intptr_t *value) {
    corio__future_init(&w->fut, t->loop);
    corio__list_init(&w->link);
    /* asyncio binds a lock (queue, ...) to the loop that first waits on it
     * and refuses the others ("bound to a different event loop").  The
     * structs here have no loop field, but while tasks wait the first
     * waiter's loop is the one in use: a task of another loop waiting too
     * would be woken from the wrong loop. */
    if (!corio__list_empty(list)) {
        const corio__waiter *first = corio__container_of(list->next, corio__waiter, link);
        if (first->fut.loop != t->loop)
            return corio__bad(-EXDEV, "wait: tasks of another loop already wait on this object");
    }
    corio__list_push_back(list, &w->link);
    /* The task dump shows the caller (corio_lock_acquire, ...). */
    int rc = corio__await_tag(t, &w->fut, CORIO__WAIT_WAITER, (int64_t)(intptr_t)__builtin_return_address(0));
    corio__list_remove(&w->link);
    if (rc == 0 && value) *value = w->fut.value;
    return rc;
}
