/*
 * corio/procpool.h - a pool of worker processes for CPU-bound work
 * (multiprocessing.Pool.map, concurrent.futures.ProcessPoolExecutor).
 *
 * A job is `int fn(const void *in, size_t in_len, void **out, size_t *out_len)`
 * run in a worker process.  Its input travels to the worker as bytes and
 * its output comes back as bytes: fn stores a malloc'd buffer in *out (the
 * worker frees it once it has been sent) and its length in *out_len, and
 * returns 0 (any value >= 0 counts as success), or a negative errno that
 * becomes the item's error.  The caller receives a malloc'd copy of the
 * output (NULL for an empty one) and releases it with free().
 *
 * Workers.  corio_procpool_new() forks the workers at once, so create the
 * pool early: before the program starts threads, and before the buffers
 * and descriptors it does not want copied into the workers.  A worker is
 * the same program (fork without exec), so a function pointer means the
 * same function there - provided it was mapped when the worker was forked:
 * a function of the executable or of a library loaded before the pool was
 * created.  In the worker the library closes every descriptor except 0, 1,
 * 2 and its own end of the channel to the parent (the loop's epoll and
 * event descriptors are inherited by fork: the worker never touches them),
 * resets every signal disposition to the default and unblocks all
 * signals, then runs a plain blocking loop - read a job, run it, write the
 * result - and leaves with _exit().  fn must not call exit() (the parent's
 * atexit handlers would run in the worker) nor use the corio loop.
 * Standard output and error are flushed after each job.  fn runs on a
 * stack of at least 8 MiB (a worker forked from a task runs its jobs on a
 * thread of its own for that; ThreadSanitizer forbids threads in a forked
 * child, so under it such a worker uses the task's stack instead).
 *
 * Replacement workers are forked from the running program (see below); if
 * other threads run by then, only what is safe after fork in a threaded
 * program may be used in fn (glibc's malloc is; a lock another thread held
 * at the fork is not).
 *
 * Transport.  Each worker is connected to the parent by a Unix stream
 * socket pair.  The parent drives its end from the loop (corio_send /
 * corio_recv with MSG_NOSIGNAL: the loop never blocks, and a dead worker
 * gives an error, not SIGPIPE).  Every message is a header (a magic
 * number, a status, a length) followed by that many bytes; a header that
 * is not valid, or a length above CORIO_PROCPOOL_MAX_FRAME, fails the item
 * with -EPROTO, and the worker, whose stream can no longer be trusted, is
 * killed and replaced.
 *
 * Errors of an item (in corio_procpool_run's return value or errors[i]):
 *  - fn's own negative return value;
 *  - -ECHILD: the worker died during the job (it crashed, was killed,
 *    called exit or _exit, ...).  The pool reaps it, reports its exit
 *    status through the logger (warning level), forks a replacement and
 *    goes on with the other items.  A worker that died while idle is only
 *    noticed by the next job sent to it, which then fails the same way;
 *  - -EPROTO: a malformed message from the worker (see above);
 *  - -EMSGSIZE: the input or the output is larger than CORIO_PROCPOOL_MAX_FRAME;
 *  - -ESHUTDOWN: the pool was shut down before the item was started;
 *  - -ECANCELED: the calling task was cancelled (see below);
 *  - -ENOMEM, or fork's error (-EAGAIN) when a dead worker could not be
 *    replaced (the slot is retried by the next job).
 *
 * Cancellation.  Cancelling the task waiting in corio_procpool_map or
 * corio_procpool_run drops the items not yet started.  An item that is
 * running in a worker cannot be interrupted politely, so its worker is
 * killed (SIGKILL), reaped and replaced: nothing of the cancelled work
 * survives and no process is left behind.  Completed items keep their
 * outputs.
 *
 * Threads and loops.  A pool is not thread-safe: use it from the tasks of
 * one loop at a time (several tasks may submit to it at once; at most
 * `nworkers` items run at a time, the others wait their turn in FIFO
 * order).  Shut it down and free it from a task or callback of the loop
 * that used it, or after that loop was closed, so that the loop forgets
 * the pool's descriptors before they are closed.
 *
 * Reaping.  Retiring a worker waits for it with waitpid(); a worker killed
 * or told to stop exits within microseconds, so this does not hold up the
 * loop in practice.  If the program reaps children with waitpid(-1, ...)
 * elsewhere (a SIGCHLD handler), the pool copes (the worker is simply
 * gone) but cannot report its exit status.
 */
#ifndef CORIO_PROCPOOL_H
#define CORIO_PROCPOOL_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_procpool corio_procpool; /* a pool of worker processes (opaque) */

/*
 * A job, run in a worker process: reads in_len bytes at `in`, stores a
 * malloc'd result in *out and its length in *out_len (both start as
 * NULL / 0; leaving them so is an empty result), returns >= 0 on success
 * or a negative errno.
 */
typedef int (*corio_proc_fn)(const void *in, size_t in_len, void **out, size_t *out_len);

/* The largest input or output of one job: 1 GiB. */
#define CORIO_PROCPOOL_MAX_FRAME ((size_t)1 << 30)

/* The number of workers of a pool created with 0: the CPUs this process may
 * run on (Python's os.process_cpu_count()), at least 1. */
CORIO_API int corio_procpool_default_size(void);

/*
 * Fork `nworkers` worker processes (0: corio_procpool_default_size()).
 * Needs no loop.  Returns the pool, or NULL with errno EINVAL (nworkers <
 * 0 or > 1024), ENOMEM, or the error of socketpair or fork (EAGAIN,
 * EMFILE, ...; the workers already forked are then reaped).
 */
CORIO_API corio_procpool *corio_procpool_new(int nworkers);

/* The number of worker slots, or -EINVAL for NULL. */
CORIO_API int corio_procpool_size(const corio_procpool *pool);

/*
 * Run fn(in, in_len) in a worker and wait for it (ProcessPoolExecutor.submit
 * then await).  SUSPENDS.  On success returns 0 (or fn's non-negative
 * return value) and stores the malloc'd output in *out (NULL when empty)
 * and its length in *out_len; otherwise returns the item's error (see the
 * top of this file) and stores NULL / 0.  -EINVAL for a NULL pool, fn, out
 * or out_len, or a NULL `in` with in_len > 0; -EPERM outside a task;
 * -ESHUTDOWN after corio_procpool_shutdown.
 */
CORIO_API int corio_procpool_run(corio_procpool *pool, corio_proc_fn fn, const void *in, size_t in_len,
                                 void **out, size_t *out_len);

/*
 * Pool.map: run fn on each of the n inputs, up to the pool's size at
 * once, and wait for all of them.  SUSPENDS.  Results are in input order:
 * outputs[i] / output_lens[i] receive item i's malloc'd output (NULL / 0
 * when it failed), and errors[i] (when errors is not NULL) 0 or the item's
 * error.  A failing item does not stop the others.  Returns the number of
 * failed items (0: all succeeded); -ECANCELED when the calling task was
 * cancelled (unfinished items then have -ECANCELED, finished ones keep
 * their outputs, which the caller frees); -EINVAL for a NULL pool or fn,
 * NULL inputs / input_lens / outputs / output_lens with n > 0, or an input
 * NULL with a length > 0 (nothing is run); -EPERM outside a task;
 * -ESHUTDOWN after corio_procpool_shutdown (nothing is run); -ENOMEM.
 * n == 0 returns 0 at once, as map over an empty list returns nothing.
 */
CORIO_API int corio_procpool_map(corio_procpool *pool, corio_proc_fn fn, const void *const *inputs,
                                 const size_t *input_lens, size_t n, void **outputs, size_t *output_lens,
                                 int *errors);

/*
 * Stop accepting work (Executor.shutdown): later submissions, and items of
 * a running map that have not started yet, fail with -ESHUTDOWN.  Idle
 * workers are told to stop (their channel is closed) and reaped now; a
 * worker running a job finishes it, delivers the result, and is then
 * retired the same way.  Does not suspend.  0, or -EINVAL for NULL.  A
 * second call does nothing.
 */
CORIO_API int corio_procpool_shutdown(corio_procpool *pool);

/*
 * Shut the pool down (if not yet), reap every worker and free the pool.
 * Returns 0; -EINVAL for NULL; -EBUSY (and frees nothing) while a
 * corio_procpool_run or corio_procpool_map on it has not returned.
 */
CORIO_API int corio_procpool_free(corio_procpool *pool);

#ifdef __cplusplus
}
#endif
#endif
