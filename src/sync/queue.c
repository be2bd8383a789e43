/*
 * queue.c - asyncio.Queue, LifoQueue and PriorityQueue (Python 3.13,
 * Lib/asyncio/queues.py), including shutdown().
 *
 * The logic mirrors queues.py line by line so that every ordering question
 * (who wakes, in what order, what a cancelled waiter does) has the answer
 * asyncio gives:
 *
 *  - `getters` / `putters` are asyncio's _getters / _putters deques of
 *    waiters.  Each waiter lives on its task's stack for the length
 *    of one wait (queue_wait links it, parks the task, unlinks it).  The
 *    waiter is not a future: only a put, a get or a shutdown completes it,
 *    so it holds its task and a flag, and a wake-up makes the task ready
 *    directly (corio__unpark) - the same single ready-queue entry that
 *    asyncio's set_result schedules, without a future's callback list.
 *    On bench/corio_queue (maxsize 1, two tasks; callgrind, 100,000 vs
 *    200,000 messages differenced) a message went from 912 to 677
 *    instructions, and to 507 once a blocking task could hop straight to the
 *    task it woke (task.c, "hops"): two context switches per message and no
 *    trip through the loop's scheduler.  A cancel reaches
 *    the parked task as it reaches a future's awaiter (corio__task_cancel):
 *    a waiter not woken yet is cancelled itself, one already woken
 *    resumes with the pending cancellation.
 *  - wakeup_next() is _wakeup_next: pop waiters from the front and wake the
 *    first one still pending.  Cancelled waiters whose task has not run yet
 *    are popped and skipped on the way.
 *  - A task woken and then cancelled before it ran (its waiter was woken,
 *    not cancelled) passes the wake-up on to the next waiter, as asyncio's
 *    `except:` clause does, so no item and no free slot is ever stranded.
 *  - join() waits on asyncio's `_finished` Event.  That event is set
 *    exactly when `unfinished` is 0, so the flag itself need not be stored:
 *    `joiners` is the event's waiter list, and every joiner is woken when
 *    the count reaches 0.
 *
 * Storage is one growable array of item pointers, used as a ring buffer
 * (FIFO), a stack (LIFO) or a binary heap (PRIORITY).  The heap runs
 * exactly Python's heapq algorithm (heappush's _siftdown, heappop's
 * bottom-up _siftup), so items that compare equal come out in the same
 * order as from asyncio.PriorityQueue.  Nothing is allocated before the
 * first put; the array grows by doubling (never beyond maxsize) and keeps
 * its size until corio_queue_destroy.
 */
#include "../core/core.h"
#include "../core/hop.h"

#include <string.h>

/* Slots of the first allocation: small, since many queues stay short. */
#define QUEUE_MIN_CAP 8

/* Initialised and not destroyed: corio_queue_init sets a valid kind (a
 * priority queue only with its cmp) and all three lists at once, and
 * destroy sets kind to -1; a zeroed struct has no list pointers.  Every
 * call checks it, so it is two tests (a message was 25 instructions of
 * checks with every field tested). */
static inline bool queue_ok(const corio_queue *q) {
    return q && (unsigned)(q->kind - CORIO_QUEUE_FIFO) <= (unsigned)(CORIO_QUEUE_PRIORITY - CORIO_QUEUE_FIFO) &&
           q->getters.next;
}

/* ---- storage -------------------------------------------------------------------- */

/* Make room for one more item: 0 or -ENOMEM, leaving the queue unchanged on failure. */
static int queue_grow_slow(corio_queue *q) {
    size_t cap = q->cap ? q->cap * 2 : QUEUE_MIN_CAP;
    if (cap < q->cap) cap = SIZE_MAX / sizeof(void *); /* doubling overflowed */
    if (q->maxsize && cap > q->maxsize) cap = q->maxsize;
    if (cap <= q->cap || cap > SIZE_MAX / sizeof(void *)) return -ENOMEM;
    void **items = corio__realloc(q->items, cap * sizeof(void *));
    if (!items) return -ENOMEM;
    if (q->kind == CORIO_QUEUE_FIFO && q->head) {
        /* The ring was full and wrapped: slide its older part, [head, old
         * cap), to the end of the larger array so the ring stays contiguous
         * modulo the new size.  memmove: the ranges may overlap. */
        size_t n = q->cap - q->head;
        memmove(items + cap - n, items + q->head, n * sizeof(void *));
        q->head = cap - n;
    }
    q->items = items;
    q->cap = cap;
    return 0;
}

static bool less(const corio_queue *q, const void *a, const void *b) { return q->cmp(a, b) < 0; }

static inline int queue_grow(corio_queue *q) { return corio__likely(q->count < q->cap) ? 0 : queue_grow_slow(q); }

/* heapq._siftdown: move the item at pos up towards startpos while it is
 * smaller than its parent.  Not inlined (nor heap_siftup): inlined into
 * the put, its loop of calls to cmp made every put of every kind keep six
 * values in callee-saved registers (bench/corio_queue, FIFO, callgrind: a
 * message 416.1 -> 410.1 instructions). */
static __attribute__((noinline)) void heap_siftdown(corio_queue *q, size_t startpos, size_t pos) {
    void **h = q->items;
    void *newitem = h[pos];
    while (pos > startpos) {
        size_t parentpos = (pos - 1) >> 1;
        void *parent = h[parentpos];
        if (!less(q, newitem, parent)) break;
        h[pos] = parent;
        pos = parentpos;
    }
    h[pos] = newitem;
}

/* heapq._siftup: bubble the smaller child up to a leaf, then sift the item at pos into place. */
static __attribute__((noinline)) void heap_siftup(corio_queue *q, size_t pos) {
    void **h = q->items;
    size_t endpos = q->count, startpos = pos;
    void *newitem = h[pos];
    size_t childpos = 2 * pos + 1;
    while (childpos < endpos) {
        size_t rightpos = childpos + 1;
        if (rightpos < endpos && !less(q, h[childpos], h[rightpos])) childpos = rightpos;
        h[pos] = h[childpos];
        pos = childpos;
        childpos = 2 * pos + 1;
    }
    h[pos] = newitem;
    heap_siftdown(q, startpos, pos);
}

/* asyncio's _put.  Room must have been made. */
static inline void queue_store(corio_queue *q, void *item) {
    assert(q->count < q->cap);
    switch (q->kind) {
    case CORIO_QUEUE_FIFO: {
        size_t tail = q->head + q->count;
        if (tail >= q->cap) tail -= q->cap;
        q->items[tail] = item;
        q->count++;
        break;
    }
    case CORIO_QUEUE_LIFO:
        q->items[q->count++] = item;
        break;
    default:
        q->items[q->count++] = item;
        heap_siftdown(q, 0, q->count - 1);
        break;
    }
}

/* asyncio's _get.  The queue must not be empty. */
static inline void *queue_take(corio_queue *q) {
    assert(q->count > 0);
    void *item;
    switch (q->kind) {
    case CORIO_QUEUE_FIFO:
        item = q->items[q->head];
        q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
        if (--q->count == 0) q->head = 0;
        break;
    case CORIO_QUEUE_LIFO:
        item = q->items[--q->count];
        break;
    default: {
        /* heappop: the last item replaces the root and sifts into place. */
        void *last = q->items[--q->count];
        if (q->count == 0) return last;
        item = q->items[0];
        q->items[0] = last;
        heap_siftup(q, 0);
        break;
    }
    }
    return item;
}

/* ---- waiters -------------------------------------------------------------------- */

/* A getter or putter: asyncio's waiter future, reduced to what it is used for. */
typedef struct qwaiter {
    corio_list link;   /* in getters / putters until woken, or until its task unlinks it */
    corio_task *task;  /* the parked task */
    bool woken;        /* popped by a wake-up: asyncio's waiter future is done */
} qwaiter;

/* asyncio's `fut = loop.create_future(); waiters.append(fut); await fut`, then
 * the removal from the deque in the `except:` clause (and the pop in
 * _wakeup_next when it completed).  0 when woken, -ECANCELED (w->woken tells
 * whether a wake-up came first), or -EXDEV when tasks of another loop
 * already wait in the list (as corio__waiter_wait refuses them).  `where`
 * is the API function that waits, for the task dump.  Inline: a call of its
 * own (it used to record its return address, in corio_queue_get/put) cost
 * each wait the call and a saved register (bench/corio_queue, callgrind:
 * a message 406.1 -> 400.1 instructions). */
static inline __attribute__((always_inline)) int queue_wait(corio_task *t, corio_list *list, qwaiter *w, const void *where) {
    if (!corio__list_empty(list)) {
        const qwaiter *first = corio__container_of(list->next, qwaiter, link);
        if (corio__unlikely(first->task->loop != t->loop))
            return corio__bad(-EXDEV, "wait: tasks of another loop already wait on this queue");
    }
    w->task = t;
    w->woken = false;
    corio__list_push_back(list, &w->link);
    /* The task dump names a parked task's wait by its tag (it also prints
     * the frames, corio_queue_get/put among them). */
    t->wait_tag = CORIO__WAIT_WAITER;
    t->wait_arg = (int64_t)(intptr_t)where;
    int rc = corio__park_inline(t);
    /* Unlinked, not left self-linked: w dies with the caller's frame, and
     * the stores that relinked it kept w, t and rc in callee-saved
     * registers across the park, saved and restored on every wait
     * (bench/corio_queue, callgrind: a message 436.1 -> 422.1
     * instructions).  Self-linked once popped: the unlink is harmless. */
    w->link.prev->next = w->link.next;
    w->link.next->prev = w->link.prev;
    return rc;
}

/* Still waiting: not woken, and its wait not cancelled (a cancelled task
 * stays in the list until it runs and unlinks itself; asyncio's
 * `not waiter.done()`). */
static inline bool waiter_pending(const qwaiter *w) { return !w->task->park_cancelled; }

/* Pop the first waiter of a non-empty list and wake it if it is pending. */
static inline bool pop_wake(corio_list *waiters) {
    qwaiter *w = corio__container_of(waiters->next, qwaiter, link);
    corio__list_remove(&w->link);
    if (!waiter_pending(w)) return false;
    w->woken = true;
    corio__unpark(w->task->loop, w->task);
    return true;
}

/* asyncio's _wakeup_next: pop waiters until one that is still pending, and wake it. */
static inline void wakeup_next(corio_list *waiters) {
    while (!corio__list_empty(waiters))
        if (pop_wake(waiters)) break;
}

/* Pop and wake every getter or putter (shutdown). */
static void wakeup_all(corio_list *waiters) {
    while (!corio__list_empty(waiters)) pop_wake(waiters);
}

/* asyncio's `self._unfinished_tasks == 0: self._finished.set()`: wake every
 * joiner (corio__waiter futures: join is no hot path). */
static void finished_set(corio_queue *q) {
    while (!corio__list_empty(&q->joiners)) {
        corio__waiter *w = corio__container_of(q->joiners.next, corio__waiter, link);
        corio__list_remove(&w->link);
        if (w->fut.state == CORIO__PENDING) corio__future_complete(&w->fut, CORIO__DONE, 0, 0);
    }
}

/* ---- the API -------------------------------------------------------------------- */

int corio_queue_init(corio_queue *q, int kind, size_t maxsize, corio_queue_cmp cmp) {
    if (!q) return corio__bad(-EINVAL, "corio_queue_init: NULL queue");
    if (kind < CORIO_QUEUE_FIFO || kind > CORIO_QUEUE_PRIORITY)
        return corio__bad(-EINVAL, "corio_queue_init: unknown kind %d", kind);
    if (kind == CORIO_QUEUE_PRIORITY && !cmp)
        return corio__bad(-EINVAL, "corio_queue_init: a priority queue needs a cmp function");
    q->items = NULL;
    q->cap = 0;
    q->head = 0;
    q->count = 0;
    q->maxsize = maxsize;
    q->unfinished = 0;
    q->cmp = kind == CORIO_QUEUE_PRIORITY ? cmp : NULL;
    corio__list_init(&q->getters);
    corio__list_init(&q->putters);
    corio__list_init(&q->joiners);
    q->kind = kind;
    q->is_shutdown = 0;
    return 0;
}

int corio_queue_destroy(corio_queue *q) {
    if (!queue_ok(q)) return corio__bad(-EINVAL, "corio_queue_destroy: not an initialised queue");
    if (!corio__list_empty(&q->getters) || !corio__list_empty(&q->putters) || !corio__list_empty(&q->joiners))
        return corio__bad(-EBUSY, "corio_queue_destroy: tasks still wait on the queue");
    corio__free(q->items);
    q->items = NULL;
    q->cap = q->head = q->count = 0;
    q->kind = -1; /* a later use fails queue_ok */
    return 0;
}

size_t corio_queue_size(const corio_queue *q) { return q ? q->count : 0; }

int corio_queue_empty(const corio_queue *q) { return !q || q->count == 0; }

static inline bool is_full(const corio_queue *q) { return q->maxsize > 0 && q->count >= q->maxsize; }

int corio_queue_full(const corio_queue *q) { return q && is_full(q); }

size_t corio_queue_maxsize(const corio_queue *q) { return q ? q->maxsize : 0; }

/* put_nowait once the queue is known to be valid. */
static inline int put_nowait(corio_queue *q, void *item) {
    if (q->is_shutdown) return -ESHUTDOWN;
    if (is_full(q)) return -EAGAIN;
    int rc = queue_grow(q);
    if (rc < 0) return rc;
    queue_store(q, item);
    q->unfinished++; /* and _finished.clear(): implied by unfinished > 0 */
    wakeup_next(&q->getters);
    return 0;
}

int corio_queue_put_nowait(corio_queue *q, void *item) {
    if (!queue_ok(q)) return corio__bad(-EINVAL, "corio_queue_put_nowait: not an initialised queue");
    return put_nowait(q, item);
}

int corio_queue_put(corio_queue *q, void *item) {
    if (!queue_ok(q)) return corio__bad(-EINVAL, "corio_queue_put: not an initialised queue");
    while (is_full(q)) {
        if (q->is_shutdown) return -ESHUTDOWN;
        corio_task *t = corio__current();
        if (!t) return corio__bad(-EPERM, "corio_queue_put: the queue is full and this is not a task");
        qwaiter w;
        int rc = queue_wait(t, &q->putters, &w, (const void *)corio_queue_put);
        if (rc < 0) {
            /* queue_wait already unlinked w (asyncio's putters.remove).
             * Woken by a get (asyncio's `not putter.cancelled()` after
             * putter.cancel()) but cancelled before we could use the slot:
             * hand the slot to the next putter. */
            if (!is_full(q) && w.woken) wakeup_next(&q->putters);
            return rc;
        }
    }
    /* After a wait this cannot fail with -ENOMEM, so no wake-up is lost:
     * a putter only waits while count == maxsize, and the storage never
     * shrinks, so cap >= maxsize > count once it has been woken. */
    return put_nowait(q, item);
}

/* get_nowait of a valid, non-empty queue. */
static inline void *get_nowait(corio_queue *q) {
    void *item = queue_take(q);
    wakeup_next(&q->putters);
    return item;
}

int corio_queue_get_nowait(corio_queue *q, void **item) {
    if (!queue_ok(q) || !item) return corio__bad(-EINVAL, "corio_queue_get_nowait: %s", item ? "not an initialised queue" : "NULL item pointer");
    if (q->count == 0) return q->is_shutdown ? -ESHUTDOWN : -EAGAIN;
    *item = get_nowait(q);
    return 0;
}

int corio_queue_get(corio_queue *q, void **item) {
    if (!queue_ok(q) || !item) return corio__bad(-EINVAL, "corio_queue_get: %s", item ? "not an initialised queue" : "NULL item pointer");
    while (q->count == 0) {
        if (q->is_shutdown) return -ESHUTDOWN;
        corio_task *t = corio__current();
        if (!t) return corio__bad(-EPERM, "corio_queue_get: the queue is empty and this is not a task");
        qwaiter w;
        int rc = queue_wait(t, &q->getters, &w, (const void *)corio_queue_get);
        if (rc < 0) {
            /* Woken by a put but cancelled before taking the item: wake the
             * next getter in line so the item is not left unclaimed. */
            if (q->count != 0 && w.woken) wakeup_next(&q->getters);
            return rc;
        }
    }
    *item = get_nowait(q);
    return 0;
}

int corio_queue_task_done(corio_queue *q) {
    if (!queue_ok(q)) return corio__bad(-EINVAL, "corio_queue_task_done: not an initialised queue");
    if (q->unfinished == 0) return corio__bad(-EINVAL, "corio_queue_task_done: called too many times");
    if (--q->unfinished == 0) finished_set(q);
    return 0;
}

int corio_queue_join(corio_queue *q) {
    if (!queue_ok(q)) return corio__bad(-EINVAL, "corio_queue_join: not an initialised queue");
    if (q->unfinished == 0) return 0; /* the event is set: asyncio returns without suspending */
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_queue_join: items are unfinished and this is not a task");
    /* Event.wait: once woken it returns, even if more items were put since. */
    corio__waiter w;
    return corio__waiter_wait(t, &q->joiners, &w, NULL);
}

int corio_queue_shutdown(corio_queue *q, int immediate) {
    if (!queue_ok(q)) return corio__bad(-EINVAL, "corio_queue_shutdown: not an initialised queue");
    q->is_shutdown = 1;
    if (immediate) {
        /* Drop every item, each counting as one task_done (while any is unfinished). */
        size_t n = q->count;
        q->count = 0;
        q->head = 0;
        q->unfinished = q->unfinished > n ? q->unfinished - n : 0;
        if (q->unfinished == 0) finished_set(q);
    }
    /* Every blocked getter and putter re-checks and sees the shutdown. */
    wakeup_all(&q->getters);
    wakeup_all(&q->putters);
    return 0;
}
