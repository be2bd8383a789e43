/*
 * corio/agen.h - async generators (asyncio's `async for x in agen()`,
 * `anext`, `asend`, `athrow`, `aclose`; PEP 525).
 *
 *     static int ticks(corio_agen *g, void *arg) {        // the producer
 *         for (intptr_t i = 0;; i++) {
 *             int rc = corio_sleep(1.0);
 *             if (rc == 0) rc = corio_agen_yield(g, i, NULL);
 *             if (rc < 0) return rc;   // closed (CORIO_AGEN_CLOSED) or cancelled
 *         }
 *     }
 *
 *     corio_agen *g = corio_agen_new(ticks, NULL, NULL);  // the consumer
 *     intptr_t v;
 *     int rc;
 *     while ((rc = corio_agen_next(g, &v)) > 0)           // async for v in g:
 *         if (v == 3) break;
 *     corio_agen_close(g);                                // aclose(): runs its cleanup
 *     corio_agen_release(g);
 *
 * The producer is a function run as a task of its own (a stackful
 * coroutine), started by the consumer's first request.  It hands values
 * over one at a time: corio_agen_yield() gives a value to the consumer
 * waiting in corio_agen_next() and suspends the producer until the
 * consumer asks for the next one, so the producer never runs ahead (as a
 * Python async generator, whose body runs only inside `anext`).  A value
 * is an intptr_t (a number, or a pointer whose ownership the producer and
 * the consumer agree on); handing one over allocates nothing.
 *
 * How the two sides end:
 *  - The producer returns: 0 (or any value >= 0) ends the iteration
 *    (corio_agen_next returns 0, asyncio's StopAsyncIteration); a negative
 *    errno is an error, returned once by the consumer's pending or next
 *    request, after which the generator is finished.
 *  - The consumer closes (corio_agen_close, or corio_agen_release without
 *    closing): the producer's pending corio_agen_yield returns
 *    CORIO_AGEN_CLOSED (asyncio's GeneratorExit).  The producer runs its
 *    cleanup - it may suspend and await as it likes - and returns; it must
 *    not yield again (a yield after the close is refused as asyncio refuses
 *    it: corio_agen_close returns -EPROTO).
 *  - The consumer is cancelled while it waits for a value: the producer
 *    task is cancelled too (the call it is suspended in returns -ECANCELED,
 *    as the CancelledError asyncio raises inside a generator that runs in
 *    the cancelled task), and the consumer's request goes on waiting until
 *    the producer yields (the cancel was absorbed: the value is returned)
 *    or returns (its outcome is returned, -ECANCELED usually).
 *  - The producer task is cancelled (corio_cancel(corio_agen_task(g)), or
 *    the loop closing): its pending yield returns -ECANCELED; what it
 *    returns reaches the consumer as above.
 *
 * Differences from asyncio, because the producer is a task of its own
 * rather than a frame run inside the consumer's task: each value crosses
 * two loop iterations (the consumer wakes the producer, the producer wakes
 * the consumer), so other tasks interleave where Python would run the
 * generator's body straight through; and nothing finalises a generator
 * when it becomes unreachable: corio_agen_release() is that moment.  A
 * generator left suspended when its loop closes is cancelled with its
 * task (its yield returns -ECANCELED), where asyncio.run's
 * shutdown_asyncgens would aclose() it.
 *
 * One consumer at a time: a request made while another is in progress
 * fails with -EBUSY (asyncio: "asynchronous generator is already
 * running").  Not thread-safe; a generator belongs to the loop its
 * producer was started on.
 */
#ifndef CORIO_AGEN_H
#define CORIO_AGEN_H

#include <errno.h>

#include "types.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An async generator (opaque, library-allocated). */
typedef struct corio_agen corio_agen;

/*
 * The producer: runs as a task; yields with corio_agen_yield(g, ...).
 * Returns >= 0 to end the iteration, or a negative errno for the consumer.
 */
typedef int (*corio_agen_fn)(corio_agen *g, void *arg);

/*
 * What corio_agen_yield returns when the consumer has closed the generator
 * (asyncio's GeneratorExit): the producer should clean up and return.
 * Returning it (or 0) is a clean close.  A negative errno, so that the
 * usual `if (rc < 0) return rc;` does the right thing.
 */
#define CORIO_AGEN_CLOSED (-ESHUTDOWN)

/*
 * Make a generator that will run fn(g, arg) as its producer.  Nothing runs
 * yet: the producer task is started by the first corio_agen_next /
 * corio_agen_send, on the loop that request is made on (a generator closed
 * before that never runs fn, as in Python).  opts (may be NULL) is copied,
 * its name too.  Returns the generator, owned by the caller until
 * corio_agen_release(); or NULL with errno EINVAL (NULL fn) or ENOMEM.
 * Does not suspend, and needs no loop.
 */
CORIO_API corio_agen *corio_agen_new(corio_agen_fn fn, void *arg, const corio_task_opts *opts);

/*
 * From the producer: hand `value` to the consumer and SUSPEND until the
 * consumer's next request.  Returns:
 *   0                   the consumer asked for the next value; *sent (when
 *                       not NULL) gets what corio_agen_send passed (0 for
 *                       corio_agen_next);
 *   CORIO_AGEN_CLOSED   the consumer closed the generator: clean up and
 *                       return;
 *   -ECANCELED          the producer task was cancelled;
 *   err                 the error the consumer threw in (corio_agen_throw);
 *   -EPERM              the caller is not g's producer task.
 * On every negative return the value was not taken.  Yielding again after
 * CORIO_AGEN_CLOSED is refused: the value is dropped, the consumer's close
 * returns -EPROTO, and this call suspends as usual until the next request.
 */
CORIO_API int corio_agen_yield(corio_agen *g, intptr_t value, intptr_t *sent);

/*
 * The next value (asyncio `await anext(g)`): starts or resumes the
 * producer and SUSPENDS until it yields or returns.  Returns 1 with the
 * value in *value (which may be NULL to drop it); 0 when the generator is
 * finished (asyncio StopAsyncIteration; every call after the end returns
 * 0 again); the producer's error (negative, returned once); -ECANCELED
 * when the caller was cancelled and the producer ended on it (see the top
 * of this file: the producer is cancelled too, and this call waits for it);
 * -EBUSY while another request on g is in progress; -EDEADLK from the
 * producer itself; -EPERM outside a task; -EXDEV from another loop than
 * the producer's; -EINVAL for NULL; -ENOMEM when the producer task could
 * not be started (the generator is then unchanged).  A value that had
 * already been handed over when the caller was cancelled is returned (1)
 * and the cancellation is kept for the caller's next suspending call: no
 * value is lost.
 */
CORIO_API int corio_agen_next(corio_agen *g, intptr_t *value);

/*
 * asyncio `await g.asend(in)`: as corio_agen_next, and the producer's
 * pending corio_agen_yield receives `in` in *sent.  SUSPENDS.  Extra
 * errors: -EINVAL when `in` is not 0 and the producer has not started yet
 * (asyncio: "can't send non-None value to a just-started async
 * generator"); -EBUSY when the producer is not waiting at a yield (it was
 * cancelled and is still running).
 */
CORIO_API int corio_agen_send(corio_agen *g, intptr_t in, intptr_t *value);

/*
 * asyncio `await g.athrow(exc)`: make the producer's pending
 * corio_agen_yield return `err` (a negative errno) and SUSPEND until it
 * yields or returns.  Returns 1 with a value (the producer handled err and
 * yielded), 0 (it returned >= 0), or its error (err itself if it passed
 * it on).  On a generator not started yet, fn never runs: it is finished
 * and err is returned at once; on a finished one, 0 (asyncio 3.13 returns
 * None).  -EINVAL when err >= 0; -EBUSY when the producer is not waiting
 * at a yield; other errors as corio_agen_next.
 */
CORIO_API int corio_agen_throw(corio_agen *g, int err, intptr_t *value);

/*
 * asyncio `await g.aclose()`: make the producer's pending corio_agen_yield
 * return CORIO_AGEN_CLOSED and SUSPEND until the producer has returned.
 * Returns 0 when it returned 0 or CORIO_AGEN_CLOSED (or was never started,
 * or had finished already: an error it finished with that no request
 * returned yet is dropped); the error it returned otherwise; -EPROTO when
 * it yielded again instead of returning (asyncio: "async generator ignored
 * GeneratorExit"; it stays suspended there, and may be closed again).  A
 * producer busy elsewhere (cancelled, still running) gets the close at its
 * next yield.  If the caller is cancelled while waiting, the producer task
 * is cancelled too and close goes on waiting for it to return, then
 * returns -ECANCELED (or its outcome), so that when close returns the
 * producer has always finished or yielded.  Errors as corio_agen_next.
 */
CORIO_API int corio_agen_close(corio_agen *g);

/*
 * Give up the generator.  Does not suspend and works outside a task.  A
 * generator not started or finished is freed at once.  One suspended at a
 * yield is closed in the background, as asyncio's finaliser does for an
 * async generator nobody holds any more: its yield returns
 * CORIO_AGEN_CLOSED, it cleans up on its own task, and the memory is freed
 * when it returns (its loop must run, or be closed, for that).  Returns 0,
 * -EBUSY (nothing done) while a request on g is in progress, -EINVAL for
 * NULL.  g must not be used afterwards.  Release every generator before
 * closing its loop, or once its producer has finished.
 */
CORIO_API int corio_agen_release(corio_agen *g);

/*
 * The producer task from the moment it starts running until it returns,
 * else NULL.  Borrowed: take a reference (corio_task_ref) to keep it.
 * Cancelling it is how a third party stops the producer.
 */
CORIO_API corio_task *corio_agen_task(const corio_agen *g);

/* 1 when the generator is finished: the producer returned, or the
 * generator was closed or thrown into before it started; else 0. */
CORIO_API int corio_agen_finished(const corio_agen *g);

#ifdef __cplusplus
}
#endif
#endif
