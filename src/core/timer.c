/*
 * timer.c - the loop's timer heap.
 *
 * A binary min-heap ordered by (deadline, sequence number): O(log n) insert
 * and cancel (each timer knows its index), and equal deadlines fire in the
 * order they were armed, as libuv's and asyncio's do.  The heap array holds
 * the keys next to the pointer so that sifting compares without chasing
 * pointers.
 */
#include "core.h"

#include <stdint.h>

static inline bool before(const corio__timer_ent *a, const corio__timer_ent *b) {
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void place(corio_loop *loop, size_t i, corio__timer_ent e) {
    loop->heap[i] = e;
    e.t->index = i;
}

static void sift_up(corio_loop *loop, size_t i) {
    corio__timer_ent e = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &loop->heap[parent])) break;
        place(loop, i, loop->heap[parent]);
        i = parent;
    }
    place(loop, i, e);
}

static void sift_down(corio_loop *loop, size_t i) {
    corio__timer_ent e = loop->heap[i];
    size_t n = loop->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&loop->heap[c + 1], &loop->heap[c])) c++;
        if (!before(&loop->heap[c], &e)) break;
        place(loop, i, loop->heap[c]);
        i = c;
    }
    place(loop, i, e);
}

/* Returns 0 or -ENOMEM (then t stays unarmed). */
int corio__timer_arm(corio_loop *loop, corio__timer *t, int64_t when) {
    assert(!corio__timer_armed(t));
    if (loop->nheap == loop->capheap) {
        size_t cap = loop->capheap ? loop->capheap * 2 : 64;
        corio__timer_ent *h = corio__realloc(loop->heap, cap * sizeof *h);
        if (!h) return -ENOMEM;
        loop->heap = h;
        loop->capheap = cap;
    }
    t->when = when;
    corio__timer_ent e = {when, loop->timer_seq++, t};
    loop->heap[loop->nheap] = e;
    t->index = loop->nheap++;
    sift_up(loop, t->index);
    return 0;
}

void corio__timer_disarm(corio_loop *loop, corio__timer *t) {
    size_t i = t->index;
    if (i == SIZE_MAX) return;
    assert(i < loop->nheap && loop->heap[i].t == t);
    t->index = SIZE_MAX;
    size_t last = --loop->nheap;
    if (i == last) return;
    corio__timer_ent moved = loop->heap[last];
    place(loop, i, moved);
    if (i > 0 && before(&moved, &loop->heap[(i - 1) / 2]))
        sift_up(loop, i);
    else
        sift_down(loop, i);
}

/* The earliest deadline, or INT64_MAX when no timer is armed. */
int64_t corio__timer_next(corio_loop *loop) { return loop->nheap ? loop->heap[0].when : INT64_MAX; }

/* Fire every timer due at `now`, earliest first. */
void corio__timer_run_due(corio_loop *loop, int64_t now) {
    while (loop->nheap && loop->heap[0].when <= now) {
        corio__timer *t = loop->heap[0].t;
        corio__timer_disarm(loop, t);
        t->fire(t);
    }
}
