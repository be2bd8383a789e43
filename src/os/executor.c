/*
 * executor.c - thread pools (run_in_executor, to_thread) and
 * run_task_threadsafe.
 *
 * Three kinds of memory, three owners:
 *  - the executor (struct corio_executor): a queue under `mu`, worker
 *    threads started lazily up to `max_threads`;
 *  - one request per job (struct job), on the heap, because a cancelled
 *    task returns at once while its job may still be running: the task
 *    owns it while it is queued (it can take it back), the worker while it
 *    runs, the loop once it is delivered (the drain frees it);
 *  - per loop, an `exloop` that collects finished jobs under its own mutex
 *    and posts ONE corio_loop_call_soon_threadsafe per batch to hand them
 *    to the loop.  It outlives the loop when jobs of cancelled tasks still
 *    run on other executors: it is reference-counted (the loop + each job).
 *
 * The awaiting task keeps a small `waitctx` on its stack (the future it
 * awaits and a pointer back to the job).  The drain, on the loop thread,
 * completes that future and clears waitctx.req, which tells the task that
 * the job is gone; a task that returns early clears job->ctx instead, and
 * the drain then only frees the job.  Both pointers are touched only on
 * the loop's thread, so they need no lock.
 *
 * Lock order: exloop.mu before executor.mu.  A worker never holds its
 * executor's mutex while it delivers (which takes exloop.mu).  Holding
 * exloop.mu also keeps alive the executor of every job of that loop not
 * yet delivered: the executor's shutdown(WAIT) waits for the job's worker,
 * which must take exloop.mu to deliver.
 */
#include "os.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 4096

enum { JOB_QUEUED = 0, JOB_RUNNING = 1, JOB_DROPPED = 2 };

typedef struct waitctx waitctx;
typedef struct exloop exloop;

typedef struct job {
    corio_list qlink;         /* in ex->queue while JOB_QUEUED (ex->mu) */
    corio_list llink;         /* in xl->inflight until delivered (loop thread) */
    struct job *next_done;    /* in xl->done once finished (xl->mu) */
    corio_executor *ex;       /* where it was submitted */
    exloop *xl;               /* the loop that waits for it (holds a reference) */
    corio_work_fn fn;
    void *arg;
    intptr_t result;          /* fn's return value (written by the worker) */
    int err;                  /* 0, or -ECANCELED when dropped by a shutdown */
    int state;                /* JOB_* (ex->mu) */
    bool delivered;           /* on xl->done or drained: ex may be gone (xl->mu) */
    waitctx *ctx;             /* the waiting task's stack record; NULL once it let go (loop thread) */
} job;

struct waitctx {
    corio_future fut;  /* completed by the drain */
    job *req;          /* NULL once the drain took the job (and freed it) */
};

struct corio_executor {
    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* workers wait here for jobs */
    pthread_cond_t idle_cv;  /* shutdown(WAIT) waits here for the last worker to exit, and for other joiners */
    corio_list queue;        /* jobs not started, FIFO */
    size_t nqueued;
    pthread_t *threads;      /* every thread started, in order (max_threads slots) */
    int max_threads;
    int nstarted;            /* threads created so far (they live until shutdown) */
    int njoined;             /* of those, joined or being joined (claimed by a shutdown(WAIT)) */
    int njoining;            /* shutdown(WAIT) calls joining threads now: another one waits for them */
    int nalive;              /* threads not exited yet */
    int nidle;               /* threads waiting in work_cv */
    bool shutdown;           /* no more submissions; workers exit when the queue is empty */
    bool owned;              /* a loop's default executor: the loop frees it */
    /* Set by corio_shutdown_default_executor on its loop's default
     * executor: the last worker to exit tells that loop, whose task waits
     * for it (idle_notify).  NULL otherwise. */
    exloop *idle_xl;
};

struct exloop {
    pthread_mutex_t mu;
    corio_loop *loop;
    job *done_head, *done_tail; /* finished jobs not yet handed to the loop (mu) */
    bool posted;                /* a drain is posted and has not run yet (mu) */
    bool closed;                /* the loop closed: workers free their jobs themselves (mu) */
    int refs;                   /* the loop's + one per job submitted and not freed (mu) */
    corio_list remote;          /* run_task_threadsafe requests not finished (mu) */
    corio_list inflight;        /* jobs submitted from this loop, not yet drained (loop thread) */
    corio_executor *def;        /* the default executor, or NULL (loop thread) */
    unsigned def_gen;           /* bumped when set_default_executor replaces def (loop thread) */
    bool def_shut;              /* corio_shutdown_default_executor was called: no more default work (loop thread) */
    corio_list idle_waiters;    /* idle_wait records of tasks in corio_shutdown_default_executor (loop thread) */
};

/* The executor whose job this thread runs, for shutdown's -EDEADLK. */
static CORIO__TLS corio_executor *cur_worker;

int corio_executor_default_size(void) {
    long n = 0;
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    return (int)(n + 4 < 32 ? n + 4 : 32);
}

/* ---- the per-loop state ---------------------------------------------------- */

static void exloop_unref(exloop *xl) {
    pthread_mutex_lock(&xl->mu);
    bool last = --xl->refs == 0;
    pthread_mutex_unlock(&xl->mu);
    if (last) {
        pthread_mutex_destroy(&xl->mu);
        corio__free(xl);
    }
}

/* The loop's state, made on first use.  Any thread (run_task_threadsafe
 * calls it from outside the loop), so it is published with a CAS. */
static exloop *exloop_get(corio_loop *loop) {
    void *cur = __atomic_load_n(&loop->exec_state, __ATOMIC_ACQUIRE);
    if (cur) return cur;
    exloop *n = corio__calloc(1, sizeof *n);
    if (!n) return NULL;
    pthread_mutex_init(&n->mu, NULL);
    n->loop = loop;
    n->refs = 1;
    corio__list_init(&n->remote);
    corio__list_init(&n->inflight);
    corio__list_init(&n->idle_waiters);
    void *expected = NULL;
    if (__atomic_compare_exchange_n(&loop->exec_state, &expected, (void *)n, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return n;
    pthread_mutex_destroy(&n->mu);
    corio__free(n);
    return expected;
}

/* ---- the executor ------------------------------------------------------------ */

static void idle_notify(exloop *xl);

corio_executor *corio_executor_new(int nthreads) {
    if (nthreads < 0 || nthreads > MAX_THREADS) {
        errno = EINVAL;
        corio__bad(0, "corio_executor_new: %d threads (0 to %d)", nthreads, MAX_THREADS);
        return NULL;
    }
    if (nthreads == 0) nthreads = corio_executor_default_size();
    corio_executor *ex = corio__calloc(1, sizeof *ex);
    pthread_t *th = corio__calloc((size_t)nthreads, sizeof *th);
    if (!ex || !th) {
        corio__free(ex);
        corio__free(th);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->work_cv, NULL);
    pthread_cond_init(&ex->idle_cv, NULL);
    corio__list_init(&ex->queue);
    ex->threads = th;
    ex->max_threads = nthreads;
    return ex;
}

/* Hands finished jobs to the loop (below); posted quietly: the close hook
 * has already dealt with the results of a post left at close. */
static void corio__executor_drain(void *arg);

/* Hand a finished (or dropped) job to its loop.  Worker or shutdown thread. */
static void deliver(job *j) {
    exloop *xl = j->xl;
    pthread_mutex_lock(&xl->mu);
    if (xl->closed) {
        /* Nobody will ever look at the result. */
        bool last = --xl->refs == 0;
        pthread_mutex_unlock(&xl->mu);
        corio__free(j);
        if (last) {
            pthread_mutex_destroy(&xl->mu);
            corio__free(xl);
        }
        return;
    }
    j->next_done = NULL;
    j->delivered = true;
    if (xl->done_tail)
        xl->done_tail->next_done = j;
    else
        xl->done_head = j;
    xl->done_tail = j;
    if (!xl->posted) {
        /* Posted under xl->mu: the close hook takes it too, so the loop is
         * still alive here.  Without memory for the post the result would be
         * lost and its task would hang, so a worker waits for memory. */
        while (corio__loop_post_quiet(xl->loop, corio__executor_drain, xl) < 0) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
        xl->posted = true;
    }
    pthread_mutex_unlock(&xl->mu);
}

static void *worker_main(void *arg) {
    corio_executor *ex = arg;
    cur_worker = ex;
    pthread_mutex_lock(&ex->mu);
    for (;;) {
        while (corio__list_empty(&ex->queue) && !ex->shutdown) {
            ex->nidle++;
            pthread_cond_wait(&ex->work_cv, &ex->mu);
            ex->nidle--;
        }
        if (corio__list_empty(&ex->queue)) break; /* shut down and nothing left */
        job *j = corio__container_of(ex->queue.next, job, qlink);
        corio__list_remove(&j->qlink);
        ex->nqueued--;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&ex->mu);
        j->result = j->fn(j->arg);
        j->err = 0;
        deliver(j);
        pthread_mutex_lock(&ex->mu);
    }
    bool last = --ex->nalive == 0;
    exloop *tell = last ? ex->idle_xl : NULL;
    if (last) pthread_cond_broadcast(&ex->idle_cv);
    pthread_mutex_unlock(&ex->mu);
    /* Outside ex->mu (the lock order).  The loop is still alive: whoever
     * frees this executor first joins this thread, and the loop frees it
     * before it frees its own state. */
    if (tell) idle_notify(tell);
    return NULL;
}

/* Start one more worker; ex->mu held.  0 or -EAGAIN.  Workers block every
 * signal, so that process signals go to loop threads (signal.c) and a
 * blocking call in a job is never interrupted by EINTR. */
static int start_worker(corio_executor *ex) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&ex->threads[ex->nstarted], NULL, worker_main, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) return -EAGAIN;
    ex->nstarted++;
    ex->nalive++;
    return 0;
}

static int submit(corio_executor *ex, job *j) {
    pthread_mutex_lock(&ex->mu);
    if (ex->shutdown) {
        pthread_mutex_unlock(&ex->mu);
        return corio__bad(-ESHUTDOWN, "run_in_executor: the executor was shut down");
    }
    j->state = JOB_QUEUED;
    corio__list_push_back(&ex->queue, &j->qlink);
    ex->nqueued++;
    /* Python's rule: a new thread only when no idle one can take the job. */
    if (ex->nqueued > (size_t)ex->nidle && ex->nstarted < ex->max_threads && start_worker(ex) < 0 &&
        ex->nstarted == 0) {
        corio__list_remove(&j->qlink);
        ex->nqueued--;
        pthread_mutex_unlock(&ex->mu);
        return -EAGAIN;
    }
    /* Signalled every time and under the lock.  Waking only when a worker
     * sleeps, after the unlock, saved futex calls but cut throughput by 3x
     * (bench/to_thread.sh, 64 in flight: 1.0M -> 0.3M calls/s): a burst of
     * submissions then found the workers "busy" between two jobs and left
     * the queue to fewer of them. */
    pthread_cond_signal(&ex->work_cv);
    pthread_mutex_unlock(&ex->mu);
    return 0;
}

int corio_executor_shutdown(corio_executor *ex, int flags) {
    if (!ex) return corio__bad(-EINVAL, "corio_executor_shutdown: NULL executor");
    if ((flags & CORIO_EXECUTOR_WAIT) && cur_worker == ex)
        return corio__bad(-EDEADLK, "corio_executor_shutdown: a job cannot wait for its own executor");
    corio_list dropped;
    corio__list_init(&dropped);
    pthread_mutex_lock(&ex->mu);
    ex->shutdown = true;
    if (flags & CORIO_EXECUTOR_CANCEL_QUEUED) {
        corio__list_splice_back(&dropped, &ex->queue);
        ex->nqueued = 0;
        corio__list_foreach(it, &dropped) corio__container_of(it, job, qlink)->state = JOB_DROPPED;
    }
    pthread_cond_broadcast(&ex->work_cv);
    pthread_mutex_unlock(&ex->mu);
    /* Outside ex->mu: delivering takes the loop's lock (see the lock order). */
    while (!corio__list_empty(&dropped)) {
        job *j = corio__container_of(dropped.next, job, qlink);
        corio__list_remove(&j->qlink);
        j->err = -ECANCELED;
        deliver(j);
    }
    if (!(flags & CORIO_EXECUTOR_WAIT)) return 0;
    /* Two shutdown(WAIT) calls at once: one claims the threads to join,
     * and the other must not return before they are joined (its caller
     * may free the executor next, under the first one's joins). */
    pthread_mutex_lock(&ex->mu);
    while (ex->nalive > 0 || ex->njoining > 0) pthread_cond_wait(&ex->idle_cv, &ex->mu);
    int from = ex->njoined, to = ex->nstarted;
    ex->njoined = to;
    if (from < to) ex->njoining++;
    pthread_mutex_unlock(&ex->mu);
    if (from == to) return 0;
    for (int i = from; i < to; i++) pthread_join(ex->threads[i], NULL);
    pthread_mutex_lock(&ex->mu);
    if (--ex->njoining == 0) pthread_cond_broadcast(&ex->idle_cv);
    pthread_mutex_unlock(&ex->mu);
    return 0;
}

static void executor_free(corio_executor *ex) {
    corio_executor_shutdown(ex, CORIO_EXECUTOR_WAIT);
    pthread_cond_destroy(&ex->work_cv);
    pthread_cond_destroy(&ex->idle_cv);
    pthread_mutex_destroy(&ex->mu);
    corio__free(ex->threads);
    corio__free(ex);
}

int corio_executor_free(corio_executor *ex) {
    if (!ex) return corio__bad(-EINVAL, "corio_executor_free: NULL executor");
    if (ex->owned) return corio__bad(-EINVAL, "corio_executor_free: a loop's default executor (the loop frees it)");
    if (cur_worker == ex) return corio__bad(-EDEADLK, "corio_executor_free: called from one of its own jobs");
    executor_free(ex);
    return 0;
}

int corio_set_default_executor(corio_executor *ex) {
    corio_loop *loop = corio__cur_loop;
    if (!ex) return corio__bad(-EINVAL, "corio_set_default_executor: NULL executor");
    if (!loop) return corio__bad(-EPERM, "corio_set_default_executor: no loop runs on this thread");
    if (ex->owned) return corio__bad(-EINVAL, "corio_set_default_executor: already a loop's default executor");
    exloop *xl = exloop_get(loop);
    if (!xl) return -ENOMEM;
    corio_executor *old = xl->def;
    ex->owned = true;
    xl->def = ex;
    xl->def_gen++;
    if (old) executor_free(old);
    return 0;
}

/* ---- from a task ------------------------------------------------------------- */

/* The loop's side: hand every finished job to its task.  Loop thread. */
static void corio__executor_drain(void *arg) {
    exloop *xl = arg;
    pthread_mutex_lock(&xl->mu);
    job *j = xl->done_head;
    xl->done_head = xl->done_tail = NULL;
    xl->posted = false;
    pthread_mutex_unlock(&xl->mu);
    int n = 0;
    while (j) {
        job *next = j->next_done;
        corio__list_remove(&j->llink);
        xl->loop->clock_holds--; /* the job's result is back (job_start) */
        waitctx *w = j->ctx;
        if (w) {
            w->req = NULL;
            if (w->fut.state == CORIO__PENDING) {
                if (j->err)
                    corio__future_cancel_plain(&w->fut, NULL);
                else
                    corio__future_complete(&w->fut, CORIO__DONE, 0, j->result);
            }
        }
        corio__free(j);
        n++;
        j = next;
    }
    pthread_mutex_lock(&xl->mu);
    xl->refs -= n; /* the loop's own reference keeps it above zero */
    pthread_mutex_unlock(&xl->mu);
}

/*
 * What both ways of running a job share: fn(arg) on `ex` (NULL: the loop's
 * default executor, made on first use) for task t, which waits through w.
 * Returns the job, queued, or NULL with *rc set (a cancellation already
 * pending: -ECANCELED, as there is no point starting work to abandon it).
 */
static job *job_start(corio_task *t, corio_executor *ex, corio_work_fn fn, void *arg, waitctx *w, int *rc) {
    *rc = -ECANCELED;
    if (t->must_cancel) {
        t->must_cancel = false;
        return NULL;
    }
    *rc = -ENOMEM;
    exloop *xl = exloop_get(t->loop);
    if (!xl) return NULL;
    if (!ex) {
        /* asyncio: "Executor shutdown has been called" (RuntimeError). */
        if (xl->def_shut) {
            *rc = corio__bad(-ESHUTDOWN, "run_in_executor: the loop's default executor was shut down "
                                         "(corio_shutdown_default_executor)");
            return NULL;
        }
        if (!xl->def) {
            corio_executor *d = corio_executor_new(0);
            if (!d) return NULL;
            d->owned = true;
            xl->def = d;
        }
        ex = xl->def;
    }
    job *j = corio__malloc(sizeof *j);
    if (!j) return NULL;
    corio__future_init(&w->fut, t->loop);
    w->req = j;
    *j = (job){.ex = ex, .xl = xl, .fn = fn, .arg = arg, .ctx = w};
    corio__list_init(&j->qlink);
    pthread_mutex_lock(&xl->mu);
    xl->refs++;
    pthread_mutex_unlock(&xl->mu);
    if ((*rc = submit(ex, j)) < 0) {
        corio__free(j);
        exloop_unref(xl);
        return NULL;
    }
    corio__list_push_back(&xl->inflight, &j->llink);
    /* A virtual clock runs in real time until the result is back, rather
     * than jump past the job's timeouts while a thread runs it
     * (corio_loop_use_virtual_clock). */
    t->loop->clock_holds++;
    return j;
}

/* A job whose task was cancelled before its result was drained: if it is
 * still queued, take it back and free it (true).  Called, and returns, with
 * xl->mu held.  Once delivered, the job no longer needs its executor (which
 * may have been freed since): look at the executor only before that. */
static bool job_take_back(exloop *xl, job *j) {
    if (j->delivered) return false;
    corio_executor *ex = j->ex;
    pthread_mutex_lock(&ex->mu);
    bool queued = j->state == JOB_QUEUED;
    if (queued) {
        corio__list_remove(&j->qlink);
        ex->nqueued--;
    }
    pthread_mutex_unlock(&ex->mu);
    if (!queued) return false;
    xl->refs--; /* the loop's reference keeps it above zero */
    corio__list_remove(&j->llink);
    xl->loop->clock_holds--;
    corio__free(j);
    return true;
}

int corio_run_in_executor(corio_executor *ex, corio_work_fn fn, void *arg, intptr_t *result) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_run_in_executor: called outside a task");
    if (!fn) return corio__bad(-EINVAL, "corio_run_in_executor: NULL function");
    waitctx w;
    int rc;
    job *j = job_start(t, ex, fn, arg, &w, &rc);
    if (!j) return rc;
    exloop *xl = j->xl;

    rc = corio__await(t, &w.fut);
    if (!w.req) {
        /* Delivered: the drain freed the job.  A cancellation that came
         * after the result still wins, as in asyncio. */
        if (rc == 0 && result) *result = w.fut.value;
        return rc;
    }
    /* Cancelled while the job was queued or running.  xl->mu first: see the top. */
    pthread_mutex_lock(&xl->mu);
    /* Running, dropped by a shutdown, or finished and not yet drained: the
     * drain frees it. */
    if (!job_take_back(xl, j)) j->ctx = NULL;
    pthread_mutex_unlock(&xl->mu);
    return rc < 0 ? rc : -ECANCELED;
}

int corio_to_thread(corio_work_fn fn, void *arg, intptr_t *result) {
    return corio_run_in_executor(NULL, fn, arg, result);
}

/* ---- shutdown_default_executor --------------------------------------------------- */

/* A task in corio_shutdown_default_executor, on its stack. */
typedef struct idle_wait {
    corio_list link;   /* in xl->idle_waiters while it waits */
    corio_future fut;  /* completed when the default executor's last worker has exited */
} idle_wait;

/* Posted by the last worker of a default executor being shut down: wake
 * the tasks waiting for that.  Loop thread. */
static void idle_wake(void *arg) {
    exloop *xl = arg;
    corio__list_foreach(it, &xl->idle_waiters) {
        idle_wait *w = corio__container_of(it, idle_wait, link);
        if (w->fut.state == CORIO__PENDING) corio__future_complete(&w->fut, CORIO__DONE, 0, 0);
    }
}

/* The last worker's side: post idle_wake to the loop.  Posted under xl->mu,
 * as deliver() does, so that the close hook cannot free the loop between
 * the check and the post; a post left when the loop closes is dropped
 * quietly.  Without memory for it the waiting task would sleep until its
 * timeout, so the worker waits for memory. */
static void idle_notify(exloop *xl) {
    pthread_mutex_lock(&xl->mu);
    if (!xl->closed)
        while (corio__loop_post_quiet(xl->loop, idle_wake, xl) < 0) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    pthread_mutex_unlock(&xl->mu);
}

int corio_shutdown_default_executor(double timeout) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_shutdown_default_executor: called outside a task");
    if (isnan(timeout)) return corio__bad(-EINVAL, "corio_shutdown_default_executor: NaN timeout");
    exloop *xl = exloop_get(t->loop);
    if (!xl) return -ENOMEM;
    xl->def_shut = true;
    corio_executor *ex = xl->def;
    if (!ex) return 0;
    unsigned gen = xl->def_gen;
    /* No more work; the workers exit once the queue is empty.  Then wait,
     * without blocking the loop, for the last one to say it has gone. */
    corio_executor_shutdown(ex, 0);
    pthread_mutex_lock(&ex->mu);
    bool idle = ex->nalive == 0;
    if (!idle) ex->idle_xl = xl;
    pthread_mutex_unlock(&ex->mu);
    if (!idle) {
        idle_wait w;
        corio__future_init(&w.fut, t->loop);
        corio__list_push_back(&xl->idle_waiters, &w.link);
        corio_timeout to;
        corio_timeout_enter(&to, timeout < 0 ? INFINITY : timeout);
        /* The last worker will post: a virtual clock runs in real time meanwhile. */
        t->loop->clock_holds++;
        int rc = corio__await(t, &w.fut);
        t->loop->clock_holds--;
        rc = corio_timeout_exit(&to, rc);
        corio__list_remove(&w.link);
        if (rc == -ETIMEDOUT) {
            /* asyncio's RuntimeWarning (its text has "finishing").  The
             * executor stays shut down; the loop's close still waits for
             * its jobs, since they may point into task stacks. */
            corio__log(CORIO_LOG_WARNING, "The executor did not finish joining its threads within %g seconds.",
                       timeout);
            return rc;
        }
        if (rc < 0) return rc;
    }
    /* Every worker has left its loop: join them (at once), unless a
     * set_default_executor replaced the executor meanwhile and freed it. */
    if (xl->def == ex && xl->def_gen == gen) corio_executor_shutdown(ex, CORIO_EXECUTOR_WAIT);
    return 0;
}

/* ---- run_task_threadsafe ------------------------------------------------------- */

typedef struct remote_req {
    corio_list link;        /* xl->remote until finished (xl->mu) */
    corio__node done_node;  /* on the task's future */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    corio_task_fn fn;
    void *arg;
    exloop *xl;
    corio_task *task;       /* once started (loop thread) */
    int rc;                 /* the outcome (mu) */
    bool done;              /* rc is final; the caller may go (mu) */
    bool cancel;            /* the caller gave up waiting: cancel the task (xl->mu) */
} remote_req;

/* Wake the caller.  The request lives on its stack: not touched afterwards.
 * The caller must already be off xl->remote. */
static void remote_wake(remote_req *r, int rc) {
    pthread_mutex_lock(&r->mu);
    r->rc = rc;
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void remote_finish(remote_req *r, int rc) {
    pthread_mutex_lock(&r->xl->mu);
    corio__list_remove(&r->link);
    pthread_mutex_unlock(&r->xl->mu);
    remote_wake(r, rc);
}

static void remote_task_done(corio__node *n) {
    remote_req *r = corio__container_of(n, remote_req, done_node);
    int rc = corio_task_result(r->task);
    corio_task_detach(r->task);
    r->task = NULL;
    remote_finish(r, rc);
}

/* Posted (with the loop's executor state as argument, which outlives any
 * request) when a caller timed out: cancel the tasks of the requests that
 * asked for it.  A request not started yet starts and is cancelled at once. */
static void remote_cancel_marked(void *arg) {
    exloop *xl = arg;
    corio_task *cancel[16];
    int n = 0;
    pthread_mutex_lock(&xl->mu);
    corio__list_foreach(it, &xl->remote) {
        remote_req *r = corio__container_of(it, remote_req, link);
        if (r->cancel && r->task && n < 16) {
            r->cancel = false;
            cancel[n++] = r->task;
        }
    }
    bool more = false;
    corio__list_foreach(it, &xl->remote) more |= corio__container_of(it, remote_req, link)->cancel;
    pthread_mutex_unlock(&xl->mu);
    /* Outside the lock: a cancelled task finishing at once takes it again. */
    for (int i = 0; i < n; i++) corio_cancel(cancel[i]);
    if (more) corio_call_soon(NULL, remote_cancel_marked, xl);
}

static void remote_start(void *arg) {
    remote_req *r = arg;
    corio_task *t = corio_loop_spawn(r->xl->loop, r->fn, r->arg, NULL);
    if (!t) {
        remote_finish(r, -errno);
        return;
    }
    r->task = t;
    r->done_node.run = remote_task_done;
    corio__list_init(&r->done_node.link);
    corio__future_add_node(&t->fut, &r->done_node);
    pthread_mutex_lock(&r->xl->mu);
    bool cancel = r->cancel;
    r->cancel = false;
    pthread_mutex_unlock(&r->xl->mu);
    if (cancel) corio_cancel(t); /* the caller timed out before the task started */
}

int corio_loop_run_task_threadsafe(corio_loop *loop, corio_task_fn fn, void *arg, int *result) {
    return corio_loop_run_task_threadsafe_timeout(loop, fn, arg, -1, result);
}

int corio_loop_run_task_threadsafe_timeout(corio_loop *loop, corio_task_fn fn, void *arg, double timeout,
                                           int *result) {
    if (!loop || !fn) return corio__bad(-EINVAL, "corio_loop_run_task_threadsafe: NULL %s", loop ? "function" : "loop");
    if (isnan(timeout)) return corio__bad(-EINVAL, "corio_loop_run_task_threadsafe_timeout: NaN timeout");
    if (corio__cur_loop == loop)
        return corio__bad(-EDEADLK, "corio_loop_run_task_threadsafe: called on the loop's own thread");
    exloop *xl = exloop_get(loop);
    if (!xl) return -ENOMEM;
    remote_req r = {.fn = fn, .arg = arg, .xl = xl};
    pthread_mutex_init(&r.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&xl->mu);
    int rc = xl->closed ? -ESHUTDOWN : corio_loop_call_soon_threadsafe(loop, remote_start, &r);
    if (rc == 0) corio__list_push_back(&xl->remote, &r.link);
    pthread_mutex_unlock(&xl->mu);
    if (rc == 0) {
        bool timed_out = false;
        struct timespec dl;
        if (timeout >= 0) {
            int64_t ns = corio__mono_ns() + corio__sec_to_ns(timeout);
            dl.tv_sec = ns / CORIO__NS_PER_S;
            dl.tv_nsec = ns % CORIO__NS_PER_S;
        }
        pthread_mutex_lock(&r.mu);
        while (!r.done) {
            if (timeout < 0 || timed_out) {
                pthread_cond_wait(&r.cv, &r.mu);
            } else if (pthread_cond_timedwait(&r.cv, &r.mu, &dl) == ETIMEDOUT && !r.done) {
                /* Give up: cancel the task, and wait for it to finish (fn and
                 * arg belong to the caller: the task must be gone first). */
                timed_out = true;
                pthread_mutex_unlock(&r.mu);
                pthread_mutex_lock(&xl->mu);
                bool pending = r.link.next != &r.link && !xl->closed;
                if (pending) {
                    r.cancel = true;
                    corio_loop_call_soon_threadsafe(loop, remote_cancel_marked, xl);
                }
                pthread_mutex_unlock(&xl->mu);
                pthread_mutex_lock(&r.mu);
            }
        }
        rc = r.rc;
        pthread_mutex_unlock(&r.mu);
        if (timed_out && rc == -ECANCELED) rc = -ETIMEDOUT;
    }
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    if (rc < 0) return rc;
    if (result) *result = rc;
    return 0;
}

/* ---- the loop closes ----------------------------------------------------------- */

int corio__executor_loop_close(corio_loop *loop) {
    exloop *xl = loop->exec_state;
    if (!xl) return 0;
    int waited_for = 0;
    pthread_mutex_lock(&xl->mu);
    xl->closed = true;
    /* Results delivered and never drained: their post is dropped by the close. */
    job *d = xl->done_head;
    xl->done_head = xl->done_tail = NULL;
    xl->posted = false;
    int nfreed = 0;
    for (job *next; d; d = next) {
        next = d->next_done;
        if (d->ctx) waited_for++;
        corio__list_remove(&d->llink);
        corio__free(d);
        nfreed++;
    }
    /* Jobs still queued are dropped; running ones free themselves when they
     * finish (deliver() sees `closed`).  xl->mu is held throughout, so no
     * worker can free a job under us, and no executor with a job of ours
     * can finish shutting down. */
    while (!corio__list_empty(&xl->inflight)) {
        job *j = corio__container_of(xl->inflight.next, job, llink);
        corio__list_remove(&j->llink);
        if (j->ctx) waited_for++;
        pthread_mutex_lock(&j->ex->mu);
        if (j->state == JOB_QUEUED) {
            corio__list_remove(&j->qlink);
            j->ex->nqueued--;
            pthread_mutex_unlock(&j->ex->mu);
            corio__free(j);
            nfreed++;
        } else {
            pthread_mutex_unlock(&j->ex->mu);
        }
    }
    xl->refs -= nfreed;
    /* run_task_threadsafe callers: their task will never finish now. */
    corio_list remote;
    corio__list_init(&remote);
    corio__list_splice_back(&remote, &xl->remote);
    pthread_mutex_unlock(&xl->mu);
    while (!corio__list_empty(&remote)) {
        remote_req *r = corio__container_of(remote.next, remote_req, link);
        corio__list_remove(&r->link);
        int rc = -ECANCELED;
        if (r->task) {
            corio__future_remove_node(&r->task->fut, &r->done_node);
            if (corio_task_done(r->task)) rc = corio_task_result(r->task);
            corio_task_detach(r->task);
        }
        remote_wake(r, rc);
    }
    if (waited_for)
        corio__log(CORIO_LOG_WARNING,
                   "loop closed while %d executor job(s) were still awaited: queued ones dropped, "
                   "running ones finish on their threads and their results are discarded",
                   waited_for);
    /* asyncio.run's shutdown_default_executor: wait for what still runs. */
    if (xl->def) executor_free(xl->def);
    xl->def = NULL;
    loop->exec_state = NULL;
    exloop_unref(xl);
    return waited_for ? 1 : 0;
}

/* ---- jobs that must not outlive their task (file.c) ----------------------------- */

/* The job as the worker runs it: fn's outcome is kept here, on the waiting
 * task's stack, because the drain drops a result whose future was
 * cancelled.  Written by the worker, read by the task after the drain: the
 * hand-over through xl->mu orders the two. */
typedef struct pinned_job {
    corio_work_fn fn;
    void *arg;
    intptr_t result;
    bool ran;
} pinned_job;

static intptr_t pinned_run(void *arg) {
    pinned_job *p = arg;
    p->result = p->fn(p->arg);
    p->ran = true;
    return 0;
}

/*
 * corio_run_in_executor for jobs that work on the caller's memory (file.c
 * reads into the caller's buffer).  A cancellation while the job is queued
 * removes it (-ECANCELED).  Once it runs, the task waits for it to finish
 * whatever cancellations arrive, returns its result (0, *result set) and
 * re-arms the cancellation (must_cancel) for its next suspension point, so
 * nothing the job touches is used after this returns.  A job a shutdown
 * dropped returns -ECANCELED.  The task's stack holds the job's outcome,
 * which is safe for the same reason; a loop that closes meanwhile waits for
 * its default executor's running jobs before it frees task stacks.
 */
int corio__run_in_executor_pinned(corio_executor *ex, corio_work_fn fn, void *arg, intptr_t *result) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "run_in_executor: called outside a task");
    assert(fn);
    pinned_job p = {.fn = fn, .arg = arg};
    waitctx w;
    int rc;
    job *j = job_start(t, ex, pinned_run, &p, &w, &rc);
    if (!j) return rc;
    exloop *xl = j->xl;

    bool cancelled = false;
    rc = corio__await(t, &w.fut);
    while (w.req) {
        /* Cancelled before the drain took the job.  Queued: take it back.
         * Otherwise (running, finished and not drained, dropped by a
         * shutdown) wait for the drain with a fresh future, as often as
         * cancellations interrupt the wait. */
        cancelled = true;
        pthread_mutex_lock(&xl->mu);
        bool taken = job_take_back(xl, j);
        pthread_mutex_unlock(&xl->mu);
        if (taken) return -ECANCELED;
        corio__future_init(&w.fut, t->loop);
        (void)corio__await(t, &w.fut);
    }
    /* Drained.  rc < 0 here: cancelled after the result came (or the job
     * was dropped, which p.ran tells). */
    if (!p.ran) return -ECANCELED;
    if (cancelled || rc < 0) t->must_cancel = true;
    if (result) *result = p.result;
    return 0;
}
