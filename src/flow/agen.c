/*
 * agen.c - async generators: a producer task handing values one at a time
 * to a consumer that iterates (corio/agen.h).
 *
 * Built on the public API only.  The two sides take turns, so at most one
 * of them waits on the other at any moment, and each wait is a future on
 * the waiting task's own stack: the consumer's request parks on
 * `cons_wait`, the producer's yield on `prod_wait`.  A hand-off writes the
 * message into the generator record (`cmd` and `in_*` towards the
 * producer, `out` and `out_value` towards the consumer) and completes the
 * other side's future; nothing is allocated per value.  Messages stay in
 * the record rather than in the futures' results because a cancellation
 * can race a hand-off (the waiting task is cancelled after the message was
 * written, before it ran): the record still says what was handed over,
 * and no value is lost.
 *
 * The record lives while someone can reach it: the consumer's handle (until
 * corio_agen_release), the producer task (from its spawn to its return),
 * and the callback that watches for a producer cancelled before it ran.
 * `refs` counts them.
 */
#include <corio.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { AG_NEW, AG_RUNNING, AG_SUSPENDED, AG_FINISHED };       /* state: the producer's */
enum { CMD_NONE, CMD_NEXT, CMD_THROW, CMD_CLOSE };           /* cmd: request for the producer */
enum { OUT_NONE, OUT_VALUE, OUT_DONE, OUT_IGNORED };         /* out: answer for the consumer */

#define AGEN_MAGIC 0x6167u /* "ag": set by new, cleared by free, catches stray pointers */

struct corio_agen {
    corio_agen_fn fn;          /* the producer's body */
    void *arg;                 /* its argument */
    corio_task_opts opts;      /* for the producer task; name points at name_copy */
    char *name_copy;           /* the caller's task name, copied (NULL for the default) */
    corio_task *task;          /* the producer task from its spawn to its return (our reference) */
    corio_loop *loop;          /* the loop the producer runs on (NULL before it starts) */
    corio_future *cons_wait;   /* the consumer's future while a request waits (its stack) */
    corio_future *prod_wait;   /* the producer's future while it waits at a yield (its stack) */
    intptr_t out_value;        /* the value handed to the consumer (out == OUT_VALUE) */
    intptr_t in_value;         /* what corio_agen_send passes to the yield (cmd == CMD_NEXT) */
    int in_err;                /* what corio_agen_throw raises at the yield (cmd == CMD_THROW) */
    int result;                /* the producer's outcome once finished (out == OUT_DONE) */
    unsigned char state;       /* AG_*: where the producer is */
    unsigned char cmd;         /* CMD_*: a request written for the producer, not yet taken */
    unsigned char out;         /* OUT_*: an answer written for the consumer, not yet taken */
    unsigned char in_request;  /* a consumer's request is in progress (one at a time) */
    unsigned char closing;     /* a close was asked for and not yet answered */
    unsigned char close_seen;  /* ... and a yield has returned CORIO_AGEN_CLOSED for it */
    unsigned char started;     /* the producer's body has begun to run */
    unsigned char released;    /* the consumer gave up its handle */
    unsigned char refs;        /* the handle, the producer, unstarted_done */
    uint16_t magic;            /* AGEN_MAGIC while the record is valid */
};

static bool agen_ok(const corio_agen *g) { return g && g->magic == AGEN_MAGIC; }

static void agen_unref(corio_agen *g) {
    if (--g->refs) return;
    g->magic = 0;
    free(g->name_copy);
    free(g);
}

/* Write the consumer's answer and wake the request waiting for it, if any.
 * Its future may be done already: it was cancelled, and the request will
 * find the answer in the record when it runs. */
static void answer(corio_agen *g, unsigned char kind, intptr_t value) {
    g->out = kind;
    g->out_value = value;
    if (g->cons_wait && !corio_future_done(g->cons_wait)) corio_future_set_result(g->cons_wait, 0);
}

/* Write a request for a producer waiting at a yield and wake it.  Its
 * future is done already when the producer task was cancelled in this
 * iteration: the cancel wins at that yield, and the request stays written
 * for the next one (corio_agen_yield). */
static void request(corio_agen *g, unsigned char cmd) {
    g->cmd = cmd;
    g->state = AG_RUNNING;
    if (g->prod_wait && !corio_future_done(g->prod_wait)) corio_future_set_result(g->prod_wait, 0);
}

/*
 * A task cancelled before its first step never runs (asyncio), so fn, and
 * the end of agen_main that answers the request waiting for the producer,
 * would never come: a done-callback on the producer task, registered at
 * its spawn and removed when it starts, answers instead.  It holds a
 * reference of its own until it runs or is removed.
 */
static void unstarted_done(corio_future *f, void *arg) {
    (void)f;
    corio_agen *g = arg;
    if (!g->started) {
        corio_task_detach(g->task);
        g->task = NULL;
        g->refs--; /* the producer's share: it never ran */
        g->state = AG_FINISHED;
        g->result = -ECANCELED;
        answer(g, OUT_DONE, 0);
    }
    agen_unref(g);
}

/* The producer task's body around fn. */
static int agen_main(void *arg) {
    corio_agen *g = arg;
    g->started = 1;
    if (corio_future_remove_done_callback(corio_task_future(g->task), unstarted_done, g) > 0) g->refs--;
    int rc = g->fn(g, g->arg);
    g->state = AG_FINISHED;
    g->result = rc > 0 ? 0 : rc;
    answer(g, OUT_DONE, 0);
    /* The task's own outcome: cancelled if fn ended on a cancellation;
     * an error only when no consumer is left to be told it, so that debug
     * mode reports it as never retrieved (asyncio logs an exception raised
     * while a finaliser closes a generator). */
    int task_rc = rc == -ECANCELED || (g->released && rc < 0 && rc != CORIO_AGEN_CLOSED) ? rc : 0;
    corio_task *self = g->task;
    g->task = NULL;
    corio_task_detach(self); /* the loop keeps this task alive until it returns */
    agen_unref(g);
    return task_rc;
}

corio_agen *corio_agen_new(corio_agen_fn fn, void *arg, const corio_task_opts *opts) {
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    corio_agen *g = calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    if (opts) {
        g->opts = *opts;
        if (opts->name) {
            g->name_copy = strdup(opts->name);
            if (!g->name_copy) {
                free(g);
                errno = ENOMEM;
                return NULL;
            }
            g->opts.name = g->name_copy;
        }
    }
    /* The producer is how corio runs a generator, not a task the user made
     * (asyncio's async generators are no tasks): never eager. */
    g->opts.eager = -1;
    g->fn = fn;
    g->arg = arg;
    g->state = AG_NEW;
    g->refs = 1;
    g->magic = AGEN_MAGIC;
    return g;
}

/* Re-arm a cancellation this task received but did not pass on (the
 * producer had answered before the task resumed): its next suspending call
 * returns -ECANCELED.  Cancelling and uncancelling leaves the count of
 * requests as it was, and drops the cancel if its sender has withdrawn it
 * meanwhile (count zero), as corio_task_uncancel does. */
static void rearm_cancel(corio_task *me) {
    corio_cancel(me);
    corio_task_uncancel(me);
}

/*
 * The consumer's side of every request: after the request was written (or
 * the producer spawned), wait for the answer.  If the caller is cancelled
 * before the producer answered, the cancel is passed on to the producer
 * task and the wait goes on, as `await task` does.
 */
static void wait_answer(corio_agen *g, corio_task *me) {
    int rc;
    for (;;) {
        corio_future f;
        corio_future_init(&f, g->loop);
        g->cons_wait = &f;
        rc = corio_await(&f, NULL);
        g->cons_wait = NULL;
        /* No corio_future_destroy unless cancelled: it would only mark the
         * struct retired, and f's frame ends here (3% of a hand-off,
         * callgrind).  Cancelled, f may keep a message (a task's cancel
         * passes it on to the future its task awaits), which it frees. */
        if (corio_future_cancelled(&f)) corio_future_destroy(&f);
        if (g->out != OUT_NONE) break;
        /* Woken without an answer: only a cancellation does that.  (A
         * producer cancelled before it started is answered for by
         * unstarted_done.)  Its message goes on with it: in Python the
         * generator runs in the consumer's task and sees the consumer's
         * CancelledError itself. */
        if (corio_cancel_msg(g->task, corio_task_cancel_message(me)) < 0) corio_cancel(g->task);
    }
    if (rc == -ECANCELED) rearm_cancel(me);
}

/* Take the answer: 1 and a value, 0 at the end, or the producer's error once. */
static int take_answer(corio_agen *g, intptr_t *value) {
    unsigned char out = g->out;
    g->out = OUT_NONE;
    if (out == OUT_VALUE) {
        if (value) *value = g->out_value;
        return 1;
    }
    int r = g->result;
    g->result = 0; /* an error is returned once; then the end */
    return r;
}

static int agen_request(corio_agen *g, unsigned char cmd, intptr_t in, int err, intptr_t *value) {
    if (!agen_ok(g)) return -EINVAL;
    corio_task *me = corio_current_task();
    if (!me) return -EPERM;
    if (g->task && me == g->task) return -EDEADLK;
    if (g->in_request) return -EBUSY;
    if (g->loop && corio_loop_current() != g->loop) return -EXDEV;

    if (g->out == OUT_VALUE) {
        /* The producer yielded with no request waiting (it was cancelled
         * at a yield, absorbed it and yielded again): that value answers
         * the next request. */
        if (cmd == CMD_NEXT && in == 0) return take_answer(g, value);
        if (cmd != CMD_CLOSE) return -EBUSY;
        g->out = OUT_NONE; /* a close drops it */
    }
    switch (g->state) {
    case AG_FINISHED:
        if (cmd == CMD_CLOSE) {
            g->out = OUT_NONE; /* an error nobody took is dropped */
            g->result = 0;
            return 0;
        }
        return g->out == OUT_DONE ? take_answer(g, value) : 0;
    case AG_NEW:
        if (cmd == CMD_CLOSE || cmd == CMD_THROW) {
            /* Closed or thrown into before it started: fn never runs. */
            g->state = AG_FINISHED;
            return cmd == CMD_THROW ? err : 0;
        }
        if (in != 0) return -EINVAL;
        g->task = corio_spawn_opts(agen_main, g, &g->opts);
        if (!g->task) return -errno;
        if (corio_future_add_done_callback(corio_task_future(g->task), unstarted_done, g) < 0) {
            corio_cancel(g->task); /* it never runs */
            corio_task_detach(g->task);
            g->task = NULL;
            return -ENOMEM;
        }
        g->loop = corio_loop_current();
        g->refs += 2; /* the producer's and unstarted_done's */
        g->state = AG_RUNNING;
        break;
    case AG_SUSPENDED:
        g->in_value = in;
        g->in_err = err;
        if (cmd == CMD_CLOSE) {
            g->closing = 1;
            g->close_seen = 0;
        }
        request(g, cmd);
        break;
    case AG_RUNNING:
        /* Cancelled and still running with nobody asking: it will yield or
         * return.  Only a plain next or a close can wait for that; a value
         * sent or an error thrown would have no yield to go to. */
        if (cmd == CMD_THROW || in != 0) return -EBUSY;
        if (cmd == CMD_CLOSE) {
            g->closing = 1;
            g->close_seen = 0;
            g->cmd = CMD_CLOSE;
        }
        break;
    }
    g->in_request = 1;
    wait_answer(g, me);
    g->in_request = 0;

    if (cmd != CMD_CLOSE) return take_answer(g, value);
    g->closing = 0;
    if (g->out == OUT_IGNORED) {
        g->out = OUT_NONE;
        return -EPROTO;
    }
    int r = take_answer(g, NULL);
    return r == CORIO_AGEN_CLOSED || r > 0 ? 0 : r;
}

int corio_agen_next(corio_agen *g, intptr_t *value) { return agen_request(g, CMD_NEXT, 0, 0, value); }

int corio_agen_send(corio_agen *g, intptr_t in, intptr_t *value) { return agen_request(g, CMD_NEXT, in, 0, value); }

int corio_agen_throw(corio_agen *g, int err, intptr_t *value) {
    if (err >= 0) return -EINVAL;
    return agen_request(g, CMD_THROW, 0, err, value);
}

int corio_agen_close(corio_agen *g) { return agen_request(g, CMD_CLOSE, 0, 0, NULL); }

int corio_agen_yield(corio_agen *g, intptr_t value, intptr_t *sent) {
    if (!agen_ok(g) || !g->task || corio_current_task() != g->task) return -EPERM;
    /* A request that a cancellation beat to the previous yield is answered
     * here, before the value is offered: a close or a throw at once. */
    if (g->closing && !g->close_seen) {
        g->close_seen = 1;
        g->cmd = CMD_NONE;
        return CORIO_AGEN_CLOSED;
    }
    if (g->cmd == CMD_THROW) {
        g->cmd = CMD_NONE;
        return g->in_err;
    }
    g->cmd = CMD_NONE;
    if (g->closing)
        answer(g, OUT_IGNORED, 0); /* yielded after the close: refused, the value dropped */
    else
        answer(g, OUT_VALUE, value);
    g->state = AG_SUSPENDED;
    corio_future f;
    corio_future_init(&f, g->loop);
    g->prod_wait = &f;
    int rc = corio_await(&f, NULL);
    g->prod_wait = NULL; /* f retires with this frame (see wait_answer) */
    if (corio_future_cancelled(&f)) corio_future_destroy(&f);
    g->state = AG_RUNNING;
    if (rc < 0) return rc; /* the producer task was cancelled; a request written stays for the next yield */
    unsigned char cmd = g->cmd;
    g->cmd = CMD_NONE;
    switch (cmd) {
    case CMD_THROW:
        return g->in_err;
    case CMD_CLOSE:
        g->close_seen = 1;
        return CORIO_AGEN_CLOSED;
    default:
        if (sent) *sent = g->in_value;
        return 0;
    }
}

int corio_agen_release(corio_agen *g) {
    if (!agen_ok(g)) return -EINVAL;
    if (g->in_request || g->released) return g->released ? -EINVAL : -EBUSY;
    g->released = 1;
    if (g->state == AG_SUSPENDED || g->state == AG_RUNNING) {
        /* Close it in the background: the producer cleans up on its own
         * task and drops the last reference when it returns. */
        g->out = OUT_NONE;
        if (!g->closing) {
            g->closing = 1;
            g->close_seen = 0;
            if (g->state == AG_SUSPENDED)
                request(g, CMD_CLOSE);
            else
                g->cmd = CMD_CLOSE;
        }
    }
    agen_unref(g);
    return 0;
}

corio_task *corio_agen_task(const corio_agen *g) { return agen_ok(g) && g->started ? g->task : NULL; }

int corio_agen_finished(const corio_agen *g) { return agen_ok(g) && g->state == AG_FINISHED; }
