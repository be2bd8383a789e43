/*
 * corio/combinators.h - gather, wait, wait_for, as_completed, shield
 * (gather, wait and as_completed also directly over tasks).
 *
 * Each takes futures; pass a task with corio_task_future(t).  The
 * combinators borrow the futures: the caller keeps them (and the tasks
 * behind them) alive until the call returns, or until
 * corio_as_completed_close() for the iterator.
 */
#ifndef CORIO_COMBINATORS_H
#define CORIO_COMBINATORS_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* corio_gather flags. */
#define CORIO_GATHER_COLLECT 1 /* asyncio return_exceptions=True: wait for all, never fail early */

/*
 * asyncio.gather.  SUSPENDS until every future is done, then returns 0;
 * each result is read with corio_future_result() (in argument order).
 * Without CORIO_GATHER_COLLECT the first failure (an error, or a child
 * cancelled: -ECANCELED) is returned at once and the other futures keep
 * running, as in asyncio.  With it, gather waits for all and returns 0.
 * Cancelling the calling task cancels every child; gather then returns
 * -ECANCELED.  n == 0 returns 0 at once.  -EINVAL for NULL entries,
 * -EPERM outside a task, -EXDEV for a future of another loop, -ENOMEM.
 */
CORIO_API int corio_gather(corio_future *const *futs, size_t n, int flags);

/*
 * asyncio.gather(*tasks): corio_gather over the tasks' futures, without a
 * parallel array.  Same flags, returns and errors; -EINVAL for a NULL
 * task.  Read each outcome with corio_task_result / corio_task_value (the
 * caller's references are untouched: join or detach the tasks after).
 * SUSPENDS.
 */
CORIO_API int corio_gather_tasks(corio_task *const *tasks, size_t n, int flags);

/* corio_wait return_when values. */
enum { CORIO_FIRST_COMPLETED = 1, CORIO_FIRST_EXCEPTION = 2, CORIO_ALL_COMPLETED = 3 };

/*
 * asyncio.wait.  SUSPENDS until the condition `return_when` holds or
 * `timeout` seconds pass (INFINITY: no timeout; <= 0, even -INFINITY: one
 * loop iteration).  FIRST_EXCEPTION returns
 * when a future fails with an error (a cancelled one does not count, as in
 * asyncio) or when all are done.  Like asyncio it always suspends at least
 * once, even when futures are already done.  Never cancels the futures.
 * As asyncio works on set(fs), a future listed more than once counts once.
 * Returns the number of distinct done futures (>= 0); when `done` /
 * `pending` are not NULL (each with room for n) they receive the done and
 * the pending futures, each once, in order of first appearance.  A
 * timeout is not an error: it returns what is done so far.  Errors:
 * -ECANCELED when the calling task is cancelled, -EINVAL (n == 0, NULL
 * entries, bad return_when, NaN), -EPERM outside a task, -EXDEV, -ENOMEM
 * (then nothing was registered on the futures).
 */
CORIO_API int corio_wait(corio_future *const *futs, size_t n, int return_when, double timeout,
                         corio_future **done, corio_future **pending);

/*
 * asyncio.wait over tasks: corio_wait over their futures, with done and
 * pending (each NULL or with room for n) filled with tasks.  Same returns
 * and errors as corio_wait.  References are untouched.  SUSPENDS.
 */
CORIO_API int corio_wait_tasks(corio_task *const *tasks, size_t n, int return_when, double timeout,
                               corio_task **done, corio_task **pending);

/*
 * asyncio.wait_for.  SUSPENDS until f is done or `timeout` seconds pass
 * (INFINITY: none; <= 0: an already-done f gives its outcome at once, a
 * pending one is cancelled and awaited, so only a task that absorbs the
 * cancellation and returns a value succeeds).  On timeout f
 * is cancelled and, if it is a task, awaited until it has finished its
 * cleanup; then -ETIMEDOUT is returned, unless the task absorbed the
 * cancellation and returned a value, which is then returned as if in time.
 * As in Python 3.13, a plain future completed in the very iteration the
 * timeout fires gives -ETIMEDOUT; its result is not lost, though: it stays
 * readable with corio_future_result(f).  Returns as corio_await otherwise;
 * cancelling the caller cancels f (and a cancellation racing with f's
 * completion is reported, never hidden: gh-86296).
 */
CORIO_API int corio_wait_for(corio_future *f, double timeout, intptr_t *value);

/*
 * asyncio.shield.  SUSPENDS until f is done (unless it is done already)
 * and returns as corio_await, except that cancelling the calling task does
 * not cancel f: shield returns -ECANCELED at once and f carries on.  If f
 * itself is cancelled, -ECANCELED is returned too.  -EINVAL for a
 * non-future, -EPERM outside a task, -EXDEV for a future of another loop.
 */
CORIO_API int corio_shield(corio_future *f, intptr_t *value);

/* The state of an as_completed iteration (private fields). */
typedef struct corio_as_completed {
    struct corio__ac_entry *entries;  /* one per future, malloc'd */
    size_t n;                         /* how many distinct futures */
    size_t yielded;                   /* how many were returned so far */
    size_t nfinished;                 /* how many have finished */
    corio_list finished;              /* entries whose future is done, in finishing order */
    corio_future wake;                /* set when the first entry finishes */
    corio_handle timer;               /* the overall deadline */
    int timed_out;                    /* deadline passed */
    int has_timer;                    /* timer is armed */
} corio_as_completed;

/*
 * asyncio.as_completed: start iterating over futs in the order they
 * finish; `timeout` (INFINITY: none; <= 0, even -INFINITY: expires in the
 * next loop iteration) bounds the whole iteration.  As asyncio iterates
 * over set(fs), a future listed more than once is handed out once.
 * Returns 0, -EINVAL (NULL `it`, NULL array with n > 0, a non-future
 * entry, NaN), -EPERM outside a loop, -EXDEV for a future of another loop,
 * -ENOMEM.  Does not suspend.  Every successful init must be paired with
 * corio_as_completed_close(), which unregisters from the futures.
 */
CORIO_API int corio_as_completed_init(corio_as_completed *it, corio_future *const *futs, size_t n,
                                      double timeout);

/*
 * The next future to finish.  SUSPENDS until one is done (not when one
 * finished already and was not yet returned).  Returns 1 and stores it in
 * *out; 0 when all were returned; -ETIMEDOUT when the deadline passed
 * first: once for each future not finished by then, after those that
 * finished before it (asyncio raises TimeoutError for each), then 0 (the
 * unfinished futures keep running);
 * -ECANCELED when the calling task is cancelled (the iteration may go on
 * afterwards: nothing was taken); -EINVAL for NULL arguments; -EPERM
 * outside a task.
 */
CORIO_API int corio_as_completed_next(corio_as_completed *it, corio_future **out);

/*
 * asyncio.as_completed over tasks: corio_as_completed_init over the tasks'
 * futures, without a parallel array; -EINVAL for a NULL task.  The
 * caller's references are untouched (join or detach the tasks after).
 * Does not suspend; pair with corio_as_completed_close().
 */
CORIO_API int corio_as_completed_init_tasks(corio_as_completed *it, corio_task *const *tasks, size_t n,
                                            double timeout);

/*
 * corio_as_completed_next for an iteration over tasks: the next task to
 * finish in *out (read its outcome with corio_task_result or
 * corio_task_value).  Same returns as corio_as_completed_next.  SUSPENDS.
 */
CORIO_API int corio_as_completed_next_task(corio_as_completed *it, corio_task **out);

/* End the iteration (at any point) and free its memory.  0 or -EINVAL. */
CORIO_API int corio_as_completed_close(corio_as_completed *it);

#ifdef __cplusplus
}
#endif
#endif
