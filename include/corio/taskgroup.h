/*
 * corio/taskgroup.h - task groups (asyncio.TaskGroup, structured concurrency).
 *
 *     corio_taskgroup g;
 *     corio_taskgroup_enter(&g);
 *     corio_taskgroup_spawn(&g, child, arg, NULL);
 *     int rc = body();                     // may suspend
 *     rc = corio_taskgroup_exit(&g, rc);   // SUSPENDS until every child is done
 *
 * The first child that fails cancels its siblings and the body (the parent
 * task's current or next suspending call returns -ECANCELED); exit waits
 * for every child and returns the first error, with all errors readable
 * through corio_taskgroup_nerrors / corio_taskgroup_error.  The group's own
 * cancellation of the parent is counted and withdrawn at exit (uncancel),
 * so an outer corio_cancel or timeout scope still sees its own.
 *
 * The struct lives on the parent's stack between enter and exit.  The
 * group owns its children's records until exit returns; take a reference
 * with corio_task_ref() to use a child afterwards.
 */
#ifndef CORIO_TASKGROUP_H
#define CORIO_TASKGROUP_H

#include "types.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How many errors a group keeps (all are counted). */
#define CORIO_TASKGROUP_MAX_ERRORS 16

typedef struct corio_taskgroup {
    corio_task *parent;        /* the task that entered the group */
    corio_list children;       /* unfinished children, linked through the tasks (private) */
    size_t nchildren;          /* children not yet finished */
    corio_future *on_completed;/* set while exit waits for the last child */
    int errors[CORIO_TASKGROUP_MAX_ERRORS]; /* the first errors, in finishing order */
    size_t nerrors;            /* errors seen in all */
    int entered, exiting, aborting, parent_cancel_requested;
} corio_taskgroup;

/*
 * Enter a group.  Returns 0, -EPERM outside a task, -EINVAL for NULL,
 * -EALREADY if the group is active - entered and its exit not yet
 * returned - whichever task asks (asyncio's RuntimeError "TaskGroup has
 * already been entered"; the group is left as it was); a group may be
 * entered again after its exit has returned (asyncio's may not).  Does not
 * suspend.
 */
CORIO_API int corio_taskgroup_enter(corio_taskgroup *g);

/*
 * Start fn(arg) as a child of the group (asyncio TaskGroup.create_task).
 * Returns the task (borrowed: the group holds it until exit; wait for it
 * with corio_await(corio_task_future(t), ...), not corio_join, unless you
 * took a reference with corio_task_ref), or NULL with
 * errno EINVAL (group not entered, or already finished), ESHUTDOWN (the
 * group is aborting after a failure), ENOMEM.  Does not suspend.
 */
CORIO_API corio_task *corio_taskgroup_spawn(corio_taskgroup *g, corio_task_fn fn, void *arg,
                                            const corio_task_opts *opts);

/*
 * Leave the group: SUSPENDS until every child has finished.  `body_rc` is
 * the outcome of the code between enter and exit (a negative value aborts
 * the group: children are cancelled).  Returns 0 when everything succeeded;
 * the first error (the body's error counts too, after the children's) when
 * something failed; -ECANCELED when the parent was cancelled from outside
 * and no child failed.  -EINVAL if not entered or already left, -EPERM
 * when called from another task than the one that entered.
 */
CORIO_API int corio_taskgroup_exit(corio_taskgroup *g, int body_rc);

/* Number of errors collected (children's, then the body's). */
CORIO_API size_t corio_taskgroup_nerrors(const corio_taskgroup *g);

/* Error i (0-based, i < min(nerrors, CORIO_TASKGROUP_MAX_ERRORS)), or 0 when out of range. */
CORIO_API int corio_taskgroup_error(const corio_taskgroup *g, size_t i);

#ifdef __cplusplus
}
#endif
#endif
