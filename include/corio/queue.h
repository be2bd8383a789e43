/*
 * corio/queue.h - queues between tasks (asyncio.Queue, LifoQueue,
 * PriorityQueue, with Python 3.13's shutdown).
 *
 * Items are `void *`: the queue stores the pointers, the producer and the
 * consumer agree on who owns what they point to.  Not thread-safe: for
 * tasks of one loop: a call that would have to wait while tasks of
 * another loop wait in the same list returns -EXDEV.  Waiters wake in FIFO
 * order and a cancelled waiter never swallows a wake-up meant for another.
 */
#ifndef CORIO_QUEUE_H
#define CORIO_QUEUE_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

enum corio_queue_kind {
    CORIO_QUEUE_FIFO = 0,     /* asyncio.Queue */
    CORIO_QUEUE_LIFO = 1,     /* asyncio.LifoQueue */
    CORIO_QUEUE_PRIORITY = 2  /* asyncio.PriorityQueue: smallest first by cmp */
};

/* Orders two items for a priority queue: < 0 when a comes first. */
typedef int (*corio_queue_cmp)(const void *a, const void *b);

typedef struct corio_queue {
    void **items;          /* ring buffer (FIFO), stack (LIFO) or binary heap (PRIORITY) */
    size_t cap;            /* slots allocated */
    size_t head;           /* FIFO: index of the oldest item */
    size_t count;          /* items held */
    size_t maxsize;        /* 0 = unbounded */
    size_t unfinished;     /* items put and not yet task_done'd */
    corio_queue_cmp cmp;   /* PRIORITY only */
    corio_list getters;    /* tasks blocked in get, FIFO (private records on their stacks) */
    corio_list putters;    /* tasks blocked in put, FIFO (private records on their stacks) */
    corio_list joiners;    /* struct corio__waiter: tasks in corio_queue_join */
    int kind;              /* enum corio_queue_kind */
    int is_shutdown;       /* corio_queue_shutdown was called */
} corio_queue;

/*
 * Initialise an empty queue.  maxsize 0 means unbounded.  cmp is required
 * for CORIO_QUEUE_PRIORITY and ignored otherwise.  0 or -EINVAL.
 * Allocates nothing until the first put.
 */
CORIO_API int corio_queue_init(corio_queue *q, int kind, size_t maxsize, corio_queue_cmp cmp);

/*
 * Free the queue's storage (the items themselves are the caller's).  0;
 * -EBUSY while tasks wait in put, get or join; -EINVAL for a queue not
 * initialised.  A task already woken that has not run yet no longer counts
 * as waiting but still touches the queue when it resumes: destroy only
 * once no task is inside a queue call.  The storage keeps the largest size
 * it grew to until then.
 */
CORIO_API int corio_queue_destroy(corio_queue *q);

/*
 * Put an item, SUSPENDING while the queue is full.  0, -ECANCELED,
 * -ESHUTDOWN after corio_queue_shutdown (asyncio QueueShutDown), -ENOMEM
 * (the item is not taken), -EPERM outside a task (when it would have to
 * wait), -EINVAL for a queue not initialised.
 */
CORIO_API int corio_queue_put(corio_queue *q, void *item);

/* Put without waiting: 0, -EAGAIN when full (asyncio QueueFull), -ESHUTDOWN, -ENOMEM (the item is not taken). */
CORIO_API int corio_queue_put_nowait(corio_queue *q, void *item);

/*
 * Remove and return an item into *item, SUSPENDING while empty.  0,
 * -ECANCELED, -ESHUTDOWN once shut down and empty (or at once after an
 * immediate shutdown), -EPERM outside a task (when it would have to wait),
 * -EINVAL for a queue not initialised or a NULL item pointer.
 */
CORIO_API int corio_queue_get(corio_queue *q, void **item);

/* Get without waiting: 0, -EAGAIN when empty (asyncio QueueEmpty), -ESHUTDOWN (shut down and empty). */
CORIO_API int corio_queue_get_nowait(corio_queue *q, void **item);

/* Mark one got item as processed.  0, or -EINVAL when called more times than items were put. */
CORIO_API int corio_queue_task_done(corio_queue *q);

/*
 * Wait until every item put has been task_done'd.  SUSPENDS.  0,
 * -ECANCELED, -EPERM outside a task (when it would have to wait).  Like
 * asyncio, returns at once without suspending when nothing is unfinished,
 * and a joiner once woken returns 0 even if more items were put since.
 */
CORIO_API int corio_queue_join(corio_queue *q);

/*
 * Shut the queue down (Python 3.13): puts fail with -ESHUTDOWN, blocked
 * putters wake with -ESHUTDOWN, gets drain what is left then fail.  With
 * `immediate` the queue is emptied at once (each dropped item counts as
 * task_done'd) and blocked getters wake with -ESHUTDOWN.  0 or -EINVAL.
 */
CORIO_API int corio_queue_shutdown(corio_queue *q, int immediate);

CORIO_API size_t corio_queue_size(const corio_queue *q);   /* items held */
CORIO_API int corio_queue_empty(const corio_queue *q);     /* 1 when empty */
CORIO_API int corio_queue_full(const corio_queue *q);      /* 1 when at maxsize */
CORIO_API size_t corio_queue_maxsize(const corio_queue *q);

#ifdef __cplusplus
}
#endif
#endif
