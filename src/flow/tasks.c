/*
 * tasks.c - gather, wait and as_completed directly over tasks: the
 * common case of asyncio.gather(*tasks) without a parallel array of
 * futures.  Each call lends the tasks' futures to the future-based
 * combinator.
 */
#include "flow.h"

#include <stdlib.h>

/* The tasks' futures in `small` when they fit, else in a new array
 * (freed by the caller when != small); NULL with -EINVAL or -ENOMEM. */
#define SMALL 16
static corio_future **futures_of(corio_task *const *tasks, size_t n, corio_future **small, int *err) {
    corio_future **f = n <= SMALL ? small : corio__malloc(n * sizeof *f);
    if (!f) {
        *err = -ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i]) {
            if (f != small) corio__free(f);
            *err = corio__bad(-EINVAL, "NULL task at %zu", i);
            return NULL;
        }
        f[i] = corio_task_future(tasks[i]);
    }
    return f;
}

int corio_gather_tasks(corio_task *const *tasks, size_t n, int flags) {
    if (!tasks && n) return corio__bad(-EINVAL, "corio_gather_tasks: NULL tasks");
    if (n == 0) return corio_gather(NULL, 0, flags);
    corio_future *small[SMALL];
    int err = 0;
    corio_future **f = futures_of(tasks, n, small, &err);
    if (!f) return err;
    int rc = corio_gather(f, n, flags);
    if (f != small) corio__free(f);
    return rc;
}

int corio_wait_tasks(corio_task *const *tasks, size_t n, int return_when, double timeout, corio_task **done,
                     corio_task **pending) {
    if (!tasks || !n) return corio__bad(-EINVAL, "corio_wait_tasks: no tasks");
    corio_future *small[SMALL];
    int err = 0;
    corio_future **f = futures_of(tasks, n, small, &err);
    if (!f) return err;
    /* done comes back as futures: each converts back to its task.  pending
     * is every distinct task not done, in order of first appearance, as
     * corio_wait's own list is. */
    corio_future **fd = NULL;
    if (done && !(fd = corio__malloc(n * sizeof *fd))) {
        if (f != small) corio__free(f);
        return -ENOMEM;
    }
    int rc = corio_wait(f, n, return_when, timeout, fd, NULL);
    for (size_t i = 0; fd && rc > 0 && i < (size_t)rc; i++) done[i] = corio_future_task(fd[i]);
    if (rc >= 0 && pending) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (corio_task_done(tasks[i])) continue;
            bool seen = false;
            for (size_t j = 0; j < k && !seen; j++) seen = pending[j] == tasks[i];
            if (!seen) pending[k++] = tasks[i];
        }
    }
    corio__free(fd);
    if (f != small) corio__free(f);
    return rc;
}

int corio_as_completed_init_tasks(corio_as_completed *it, corio_task *const *tasks, size_t n, double timeout) {
    if (!it || (n && !tasks)) return corio__bad(-EINVAL, "corio_as_completed_init_tasks: bad arguments");
    if (n == 0) return corio_as_completed_init(it, NULL, 0, timeout);
    corio_future *small[SMALL];
    int err = 0;
    corio_future **f = futures_of(tasks, n, small, &err);
    if (!f) return err;
    /* the iteration keeps its own pointer to each future: the array goes */
    int rc = corio_as_completed_init(it, f, n, timeout);
    if (f != small) corio__free(f);
    return rc;
}

int corio_as_completed_next_task(corio_as_completed *it, corio_task **out) {
    if (!out) return corio__bad(-EINVAL, "corio_as_completed_next_task: NULL out");
    corio_future *f = NULL;
    int rc = corio_as_completed_next(it, &f);
    if (rc == 1) *out = corio_future_task(f);
    return rc;
}
