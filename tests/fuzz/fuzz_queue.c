/*
 * fuzz_queue - corio_queue (FIFO, LIFO, PRIORITY) driven by the
 * non-suspending calls against a model, with allocation failures injected
 * at an input-chosen point.
 *
 * Input: byte 0 chooses the kind, byte 1 the maxsize (0: unbounded), then
 * operations: put_nowait, get_nowait, task_done, shutdown (immediate or
 * not), size/empty/full/join checks, "the next allocations fail" and
 * "allocations work again".
 *
 * Items are integers stored in the pointers: a priority (0..7, compared by
 * the priority queue's cmp, so ties are frequent) and a unique serial.
 * The model is an array: FIFO pops its front, LIFO its back; PRIORITY
 * pops an item of the smallest priority present (which one among equals
 * is the heap's business: the multiset is what is checked).  -ENOMEM must
 * lose nothing: the item is not taken, the queue is unchanged.  At the
 * end the queue is drained and must hold exactly the model's items.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CORIO_API void corio__test_fail_alloc_after(long n);

#define MAXITEMS 4096

#define FAIL(...) do { fprintf(stderr, "fuzz_queue: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static uintptr_t model[MAXITEMS];
static size_t mlen, munfinished;
static bool mshutdown;
static int kind;
static size_t maxsize;

static unsigned prio(uintptr_t v) { return (unsigned)(v & 7); }
static int cmp(const void *a, const void *b) {
    unsigned x = prio((uintptr_t)a), y = prio((uintptr_t)b);
    return x < y ? -1 : x > y;
}

static void check_sizes(const corio_queue *q) {
    if (corio_queue_size(q) != mlen) FAIL("size %zu, model %zu", corio_queue_size(q), mlen);
    if (corio_queue_empty(q) != (mlen == 0)) FAIL("empty %d, model size %zu", corio_queue_empty(q), mlen);
    if (corio_queue_full(q) != (maxsize && mlen >= maxsize)) FAIL("full %d, model size %zu of %zu", corio_queue_full(q), mlen, maxsize);
    if (q->unfinished != munfinished) FAIL("unfinished %zu, model %zu", q->unfinished, munfinished);
    if (q->count > q->cap) FAIL("count %zu > cap %zu", q->count, q->cap);
    if (maxsize && q->cap > maxsize) FAIL("cap %zu > maxsize %zu", q->cap, maxsize);
    if (kind == CORIO_QUEUE_PRIORITY) /* the heap property, by priority */
        for (size_t i = 1; i < q->count; i++)
            if (prio((uintptr_t)q->items[i]) < prio((uintptr_t)q->items[(i - 1) / 2])) FAIL("heap order broken at %zu", i);
}

/* Remove the model's item that a get must return, checking `got` against it. */
static void model_get(uintptr_t got) {
    size_t at = SIZE_MAX;
    switch (kind) {
    case CORIO_QUEUE_FIFO: at = 0; break;
    case CORIO_QUEUE_LIFO: at = mlen - 1; break;
    default: {
        unsigned best = 8;
        for (size_t i = 0; i < mlen; i++)
            if (prio(model[i]) < best) best = prio(model[i]);
        if (prio(got) != best) FAIL("priority get returned priority %u, the smallest present is %u", prio(got), best);
        for (size_t i = 0; i < mlen; i++)
            if (model[i] == got) at = i;
        if (at == SIZE_MAX) FAIL("priority get returned %#lx, which is not in the queue", (unsigned long)got);
        break;
    }
    }
    if (model[at] != got) FAIL("get returned %#lx, model %#lx", (unsigned long)got, (unsigned long)model[at]);
    memmove(&model[at], &model[at + 1], (mlen - at - 1) * sizeof model[0]);
    mlen--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    kind = data[0] % 3;
    maxsize = data[1] < 128 ? 0 : (size_t)(data[1] % 24) + 1;
    corio_queue q;
    if (corio_queue_init(&q, kind, maxsize, cmp) != 0) FAIL("init");
    mlen = munfinished = 0;
    mshutdown = false;
    uintptr_t serial = 0;
    bool failing = false;
    for (size_t p = 2; p + 2 <= size; p += 2) {
        unsigned op = data[p] % 10, arg = data[p + 1];
        switch (op) {
        case 0:
        case 1:
        case 2: { /* put_nowait */
            uintptr_t item = (++serial << 3) | (arg & 7);
            size_t cap = q.cap;
            int rc = corio_queue_put_nowait(&q, (void *)item);
            int want = mshutdown ? -ESHUTDOWN : (maxsize && mlen >= maxsize) ? -EAGAIN : 0;
            if (rc == -ENOMEM && want == 0 && failing && mlen == cap) break; /* not taken: the model is unchanged */
            if (rc != want) FAIL("put_nowait: %d, model %d (size %zu, cap %zu, failing %d)", rc, want, mlen, cap, failing);
            if (rc == 0) {
                if (mlen >= MAXITEMS) FAIL("model full");
                model[mlen++] = item;
                munfinished++;
            }
            break;
        }
        case 3:
        case 4:
        case 5: { /* get_nowait */
            void *item = (void *)(uintptr_t)0xdead;
            int rc = corio_queue_get_nowait(&q, &item);
            int want = mlen ? 0 : mshutdown ? -ESHUTDOWN : -EAGAIN;
            if (rc != want) FAIL("get_nowait: %d, model %d", rc, want);
            if (rc == 0) model_get((uintptr_t)item);
            else if (item != (void *)(uintptr_t)0xdead) FAIL("get_nowait failed but wrote the item");
            break;
        }
        case 6: { /* task_done */
            int rc = corio_queue_task_done(&q);
            if (rc != (munfinished ? 0 : -EINVAL)) FAIL("task_done: %d, unfinished %zu", rc, munfinished);
            if (rc == 0) munfinished--;
            break;
        }
        case 7: /* shutdown, rarely: it ends every put */
            if ((arg & 0xf0) != 0xf0) break;
            if (corio_queue_shutdown(&q, arg & 1) != 0) FAIL("shutdown");
            mshutdown = true;
            if (arg & 1) { /* immediate: drop every item, each counting as task_done */
                munfinished = munfinished > mlen ? munfinished - mlen : 0;
                mlen = 0;
            }
            break;
        case 8: { /* join outside a task: 0 when nothing is unfinished, else -EPERM */
            int rc = corio_queue_join(&q);
            if (rc != (munfinished ? -EPERM : 0)) FAIL("join: %d, unfinished %zu", rc, munfinished);
            break;
        }
        default: /* allocation failures on or off */
            failing = arg & 1;
            corio__test_fail_alloc_after(failing ? (long)(arg >> 1) % 3 : -1);
            break;
        }
        check_sizes(&q);
    }
    corio__test_fail_alloc_after(-1);
    /* Drain: the queue holds exactly the model's items, in order. */
    while (mlen) {
        void *item = NULL;
        int rc = corio_queue_get_nowait(&q, &item);
        if (rc != 0) FAIL("drain: get_nowait %d with %zu items in the model", rc, mlen);
        model_get((uintptr_t)item);
    }
    void *item;
    int rc = corio_queue_get_nowait(&q, &item);
    if (rc != (mshutdown ? -ESHUTDOWN : -EAGAIN)) FAIL("drained queue: get_nowait %d", rc);
    if (corio_queue_destroy(&q) != 0) FAIL("destroy");
    return 0;
}
