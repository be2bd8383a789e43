/*
 * taskgroup.c - asyncio.TaskGroup (3.13's taskgroups.py, line for line
 * where C allows).  Each child carries a done-callback node of its own
 * (group_node in the task record), so a group allocates nothing.
 */
#include "flow.h"

#include <stdio.h>

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

/* `entered` holds this magic from enter on (it stays after exit, with
 * `exiting` at TG_LEFT), so that entering a group that is still active is
 * caught even though enter does not require a zeroed struct, while a
 * struct that is reused after its exit (a group declared in a loop body)
 * may be entered again.  `exiting` is TG_EXITING while exit waits for the
 * children: the group is still active then. */
enum { TG_ENTERED = 0x7a5c1 };
enum { TG_EXITING = 1, TG_LEFT = 2 };

static void abort_group(corio_taskgroup *g) {
    g->aborting = 1;
    corio__list_foreach(it, &g->children) {
        corio_task *c = corio__container_of(it, corio_task, group_link);
        if (c->fut.state == CORIO__PENDING) corio__task_cancel(c);
    }
}

static void on_task_done(corio__node *n) {
    corio_task *t = corio__container_of(n, corio_task, group_node);
    corio_taskgroup *g = t->group;
    if (!g) return;
    g->nchildren--;
    if (g->on_completed && g->nchildren == 0 && g->on_completed->state == CORIO__PENDING)
        corio__future_complete(g->on_completed, CORIO__DONE, 0, 1);
    if (t->fut.state == CORIO__CANCELLED || t->fut.err == 0) return;
    if (g->nerrors < CORIO_TASKGROUP_MAX_ERRORS) g->errors[g->nerrors] = t->fut.err;
    g->nerrors++;
    if (g->parent->fut.state != CORIO__PENDING) {
        /* asyncio TaskGroup._on_task_done: through the loop's exception
         * handler, with the failed child as 'task'.  The message is the
         * whole sentence, as asyncio's names both tasks in it. */
        char msg[256];
        snprintf(msg, sizeof msg, "task '%s' failed (%s) but its group's parent task '%s' is already done",
                 corio_task_name(t), corio_strerror(t->fut.err), corio_task_name(g->parent));
        corio_exception_context ctx = {.message = msg, .error = t->fut.err, .source = "taskgroup", .task = t,
                                       .future = &t->fut};
        corio__report(t->loop, &ctx, NULL);
        return;
    }
    if (!g->aborting && !g->parent_cancel_requested) {
        /* Cancel the siblings and the body; exit() withdraws this cancel. */
        abort_group(g);
        g->parent_cancel_requested = 1;
        corio__task_cancel(g->parent);
    }
}

int corio_taskgroup_enter(corio_taskgroup *g) {
    if (!g) return corio__bad(-EINVAL, "corio_taskgroup_enter: NULL group");
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_taskgroup_enter: called outside a task");
    MAY_BE_UNINITIALISED(g->entered);
    MAY_BE_UNINITIALISED(g->exiting);
    MAY_BE_UNINITIALISED(g->parent);
    /* From any task (asyncio: "TaskGroup ... has already been entered"):
     * entered again from another task, the group would take that task's
     * reference and lose the first parent's, and its children's list
     * would start again under the first parent's exit. */
    if (g->entered == TG_ENTERED && g->exiting != TG_LEFT)
        return corio__bad(-EALREADY, "corio_taskgroup_enter: this group is active already (task '%s' entered it)",
                          corio_task_name(g->parent));
    /* The group keeps its parent's record until exit returns (asyncio's
     * TaskGroup holds _parent_task): a child that fails after a parent
     * which never left the group has finished reads the parent's state and
     * name, which must not be a freed record by then.  A group never left
     * keeps it until the loop closes. */
    t->refs++;
    g->parent = t;
    corio__list_init(&g->children);
    g->nchildren = 0;
    g->on_completed = NULL;
    g->nerrors = 0;
    g->entered = TG_ENTERED;
    g->exiting = g->aborting = g->parent_cancel_requested = 0;
    return 0;
}

corio_task *corio_taskgroup_spawn(corio_taskgroup *g, corio_task_fn fn, void *arg, const corio_task_opts *opts) {
    if (!g || g->entered != TG_ENTERED) {
        errno = EINVAL;
        corio__bad(0, "corio_taskgroup_spawn: the group has not been entered");
        return NULL;
    }
    if (g->exiting && g->nchildren == 0) {
        errno = EINVAL;
        corio__bad(0, "corio_taskgroup_spawn: the group is finished");
        return NULL;
    }
    if (g->aborting) {
        errno = ESHUTDOWN;
        corio__bad(0, "corio_taskgroup_spawn: the group is shutting down");
        return NULL;
    }
    corio_task *t = corio_loop_spawn(g->parent->loop, fn, arg, opts);
    if (!t) return NULL;
    /* The spawn reference becomes the group's own, which no join can claim. */
    t->crefs--;
    t->group = g;
    t->group_node.run = on_task_done;
    corio__list_push_back(&g->children, &t->group_link);
    g->nchildren++;
    if (t->fut.state != CORIO__PENDING) {
        /* It finished in its eager step (corio_loop_set_eager_tasks):
         * asyncio calls _on_task_done at once rather than later.  Its
         * error is the group's, so it counts as seen. */
        if (t->fut.err) t->flags |= CORIO__TF_RETRIEVED;
        on_task_done(&t->group_node);
    } else {
        corio__list_push_back(&t->fut.callbacks, &t->group_node.link);
    }
    return t;
}

int corio_taskgroup_exit(corio_taskgroup *g, int body_rc) {
    if (!g || g->entered != TG_ENTERED || g->exiting)
        return corio__bad(-EINVAL, "corio_taskgroup_exit: the group is not active");
    corio_task *parent = g->parent;
    if (corio__current() != parent) return corio__bad(-EPERM, "corio_taskgroup_exit: called from another task");
    g->exiting = TG_EXITING;
    int propagate_cancel = body_rc == -ECANCELED;
    if (body_rc < 0 && !g->aborting) abort_group(g);

    while (g->nchildren) {
        corio_future done;
        corio__future_init(&done, parent->loop);
        g->on_completed = &done;
        int rc = corio__await(parent, &done);
        g->on_completed = NULL;
        if (rc == -ECANCELED && !g->aborting) {
            propagate_cancel = 1;
            abort_group(g);
        }
    }

    if (g->parent_cancel_requested && corio_task_uncancel(parent) == 0) propagate_cancel = 0;

    int result = 0;
    if (propagate_cancel && g->nerrors == 0) {
        result = -ECANCELED;
    } else {
        if (body_rc < 0 && body_rc != -ECANCELED) {
            if (g->nerrors < CORIO_TASKGROUP_MAX_ERRORS) g->errors[g->nerrors] = body_rc;
            g->nerrors++;
        }
        if (g->nerrors) {
            if (parent->num_cancels > 0) {
                /* Keep an outside cancellation pending past the error (3.13). */
                corio_task_uncancel(parent);
                corio__task_cancel(parent);
            }
            result = g->errors[0];
        }
    }

    /* The group's references to its children end here. */
    while (!corio__list_empty(&g->children)) {
        corio_task *c = corio__container_of(g->children.next, corio_task, group_link);
        corio__list_remove(&c->group_link);
        c->group = NULL;
        corio__task_release(c);
    }
    g->exiting = TG_LEFT; /* may be entered again */
    corio__task_release(parent); /* enter's reference; the caller's keeps it alive past this */
    return result;
}

size_t corio_taskgroup_nerrors(const corio_taskgroup *g) { return g ? g->nerrors : 0; }

int corio_taskgroup_error(const corio_taskgroup *g, size_t i) {
    if (!g || i >= g->nerrors || i >= CORIO_TASKGROUP_MAX_ERRORS) return 0;
    return g->errors[i];
}
