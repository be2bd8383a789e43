/*
 * timer.c - the loop's timer heap.
 *
 * A 4-ary min-heap ordered by (deadline, sequence number): O(log n) insert
 * and cancel (each timer knows its index), and equal deadlines fire in the
 * order they were armed, as libuv's and asyncio's do.  The heap array holds
 * the keys next to the pointer so that sifting compares without chasing
 * pointers; the only pointer followed is the moved timer's, to update its
 * index.
 *
 * Why 4-ary: a pop costs about as many comparisons in a 4-ary heap as in a
 * binary one (3 per level, half the levels), but half the moves, and each
 * move stores the moved timer's index through its pointer.  A removal moves
 * the hole down to a leaf along the smaller children without comparing with
 * the entry that fills it (Floyd's bottom-up), then sifts that entry up: the
 * entry comes from the end of the array, so it nearly always belongs near
 * the bottom, and the comparison with it at every level would be wasted.
 * On bench/corio_timers (callgrind, 20,000 vs 40,000 timers differenced) a
 * timer went from 1,096 to 944 instructions, the heap's share of it (arm,
 * pop) from about 500 to 370.  (Later, with the handle slabs: 535, of which
 * the pop 309; the winner kept as an offset rather than a pointer, 304.)
 */
#include "core.h"

#include <stdint.h>

static inline bool before(const corio__timer_ent *a, const corio__timer_ent *b) {
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void place(corio__timer_ent *h, size_t i, corio__timer_ent e) {
    h[i] = e;
    e.t->index = i;
}

/* Move e up from the hole at i to where it belongs and put it there. */
static void sift_up(corio__timer_ent *h, size_t i, corio__timer_ent e) {
    while (i > 0) {
        size_t parent = (i - 1) / CORIO__TIMER_HEAP_ARITY;
        if (!before(&e, &h[parent])) break;
        place(h, i, h[parent]);
        i = parent;
    }
    place(h, i, e);
}

/* Take the entry at i out of the heap (its timer's index is the caller's). */
static void remove_at(corio_loop *loop, size_t i) {
    corio__timer_ent *h = loop->heap;
    size_t n = --loop->nheap;
    if (i == n) return;
    corio__timer_ent last = h[n];
    /* The hole goes down along the smallest child until it is a leaf:
     * first through the levels where all four children exist. */
    while (4 * i + 4 < n) {
        /* The winner is kept as its offset among the children: an index
         * from a pointer difference is a division by the entry's size. */
        size_t c = 4 * i + 1;
        const corio__timer_ent *k = &h[c];
        size_t a = before(&k[1], &k[0]), b = 2 + (size_t)before(&k[3], &k[2]);
        size_t m = c + (before(&k[b], &k[a]) ? b : a);
        place(h, i, h[m]);
        i = m;
    }
    /* Then at most one node with one to three children, whose children are leaves. */
    size_t c = 4 * i + 1;
    if (c < n) {
        size_t m = c;
        for (size_t k = c + 1; k < n; k++)
            if (before(&h[k], &h[m])) m = k;
        place(h, i, h[m]);
        i = m;
    }
    sift_up(h, i, last);
}

/* Returns 0 or -ENOMEM (then t stays unarmed). */
int corio__timer_arm(corio_loop *loop, corio__timer *t, int64_t when) {
    assert(!corio__timer_armed(t));
    if (corio__unlikely(loop->nheap == loop->capheap)) {
        size_t cap = loop->capheap ? loop->capheap * 2 : 64;
        corio__timer_ent *h = corio__realloc(loop->heap, cap * sizeof *h);
        if (!h) return -ENOMEM;
        loop->heap = h;
        loop->capheap = cap;
    }
    t->when = when;
    corio__timer_ent e = {when, loop->timer_seq++, t};
    sift_up(loop->heap, loop->nheap++, e);
    return 0;
}

void corio__timer_disarm(corio_loop *loop, corio__timer *t) {
    size_t i = t->index;
    if (i == SIZE_MAX) return;
    assert(i < loop->nheap && loop->heap[i].t == t);
    t->index = SIZE_MAX;
    remove_at(loop, i);
}

/* The earliest deadline, or INT64_MAX when no timer is armed. */
int64_t corio__timer_next(corio_loop *loop) { return loop->nheap ? loop->heap[0].when : INT64_MAX; }

/* Fire every timer due at `now`, earliest first. */
void corio__timer_run_due(corio_loop *loop, int64_t now) {
    while (loop->nheap && loop->heap[0].when <= now) {
        corio__timer *t = loop->heap[0].t;
        t->index = SIZE_MAX;
        remove_at(loop, 0);
        t->fire(t);
    }
}
