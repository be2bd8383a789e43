/*
 * timer.c - the loop's timers: a wheel of near deadlines, the run (the
 * wheel slot being fired, sorted) and a 4-ary heap for the rest.
 *
 * Order is (deadline, sequence number): equal deadlines fire in the order
 * they were armed, as libuv's and asyncio's do.  A deadline up to 2.1 s
 * ahead goes into its wheel slot's unsorted array.  When a slot's timers
 * are the earliest, the whole slot is sorted at once and becomes the run,
 * fired from its front; cancelling a timer in the run leaves a hole.  The
 * heap takes what the wheel cannot: deadlines before the slot being fired
 * (armed while it is), far ones, "never".  The earliest timer is the run's
 * front or the heap's top, whichever comes first.
 *
 * Why sort a slot rather than move it into the heap (as this file did
 * until 2026-12-07): a timer then cost a push and a pop, 162 of its 417
 * instructions; sorted, the slot costs 60 per timer (bench/corio_timers,
 * callgrind, 20,000 vs 40,000 timers differenced: 416.6 -> 322.2).
 *
 * The heap: its array holds the keys next to the pointer so that sifting
 * compares without chasing pointers; the only pointer followed is the
 * moved timer's, to update its index.  Why 4-ary: a pop costs about as
 * many comparisons in a 4-ary heap as in a binary one (3 per level, half
 * the levels), but half the moves, and each move stores the moved timer's
 * index through its pointer.  A removal moves the hole down to a leaf
 * along the smaller children without comparing with the entry that fills
 * it (Floyd's bottom-up), then sifts that entry up: the entry comes from
 * the end of the array, so it nearly always belongs near the bottom.
 */
#include "core.h"

#include <stdint.h>
#include <string.h>

/* The order of timers: a (due at aw) before b (due at bw).  The deadlines
 * are passed in, so that the heap compares its own keys. */
static inline bool timer_before(int64_t aw, const corio__timer *a, int64_t bw, const corio__timer *b) {
    return aw < bw || (corio__unlikely(aw == bw) && a->seq < b->seq);
}

static inline bool before(const corio__timer_ent *a, const corio__timer_ent *b) {
    return timer_before(a->when, a->t, b->when, b->t);
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
        /* With 16-byte entries an index from a pointer difference is a
         * shift, so the winner is tracked as a pointer. */
        const corio__timer_ent *k = &h[4 * i + 1];
        const corio__timer_ent *x = before(&k[1], &k[0]) ? &k[1] : &k[0];
        const corio__timer_ent *y = before(&k[3], &k[2]) ? &k[3] : &k[2];
        const corio__timer_ent *z = before(y, x) ? y : x;
        size_t m = (size_t)(z - h);
        place(h, i, *z);
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

/* Heaps this big (4 MiB, 262,144 entries) are huge-page mappings. */
#define HEAP_HUGE_BYTES (2 * CORIO__HUGE_PAGE)

/* Room for twice the entries (or more), heap[1] on a 64-byte boundary.
 * Small heaps are realloc'd: large blocks move by remapping pages, and
 * their offset in the page, hence the alignment, mostly stays; when it
 * does not, the entries are moved to the new boundary.  Big ones are
 * mappings of huge pages (corio__huge_alloc) into which only the entries
 * in use are copied (realloc copying all of a 16 MiB array faulted 4,600
 * small pages, bench/corio_timers 1000000, perf).  The capacity follows
 * the heap's own timers, not all armed ones: the wheel's never move in. */
static int grow(corio_loop *loop, size_t need) {
    size_t cap = loop->capheap ? loop->capheap * 2 : 64;
    while (cap < need) cap *= 2;
    size_t bytes = cap * sizeof(corio__timer_ent) + 64 + 63;
    char *mem;
    corio__timer_ent *h;
    if (bytes >= HEAP_HUGE_BYTES) {
        if (!(mem = corio__huge_alloc(bytes))) return -ENOMEM;
        h = (corio__timer_ent *)(void *)(mem + 64 - sizeof(corio__timer_ent)); /* mem is 2 MiB-aligned */
        if (loop->nheap) memcpy(h, loop->heap, loop->nheap * sizeof *h);
        corio__block_free(loop->heap_mem, loop->heap_huge_len);
        loop->heap_huge_len = bytes;
    } else {
        size_t old_off = loop->heap_mem ? (size_t)((char *)loop->heap - (char *)loop->heap_mem) : 0;
        if (!(mem = corio__realloc(loop->heap_mem, bytes))) return -ENOMEM;
        uintptr_t line = ((uintptr_t)mem + 63) & ~(uintptr_t)63;
        h = (corio__timer_ent *)(line + 64 - sizeof(corio__timer_ent));
        size_t off = (size_t)((char *)h - mem);
        if (loop->nheap && off != old_off) memmove(h, mem + old_off, loop->nheap * sizeof *h);
    }
    loop->heap_mem = mem;
    loop->heap = h;
    loop->capheap = cap;
    return 0;
}

static void heap_push(corio_loop *loop, corio__timer *t) {
    sift_up(loop->heap, loop->nheap++, (corio__timer_ent){t->when, t});
}

/* ---- the wheel ---------------------------------------------------------------- */

/* 2^17 ns (131 us) slots, 16,384 of them: 2.1 s ahead.  A slot's timers
 * are sorted together, so its width is a trade: narrower slots make
 * shorter sorts but more slot changes when timers are sparse.
 * The wheel is allocated when first used: 386 KiB, touched as the cursor
 * goes round.
 *
 * A slot is an array of timer pointers, not a list through the timers:
 * taking a slot then reads the timers' deadlines at addresses it already
 * knows, so their cache misses overlap, where a list made each one wait
 * for the one before (bench/corio_timers 1000000: 92% of
 * corio__timer_run_due's samples were that one load, perf).  A timer in
 * the wheel keeps its position in the array in its index (with
 * WHEEL_TAG), so a cancel is a swap with the slot's last timer.  The
 * arrays keep their sizes until the loop closes, passed between the slots
 * and the run. */
#define WHEEL_SHIFT 17
#define WHEEL_NS ((int64_t)1 << WHEEL_SHIFT)
#define WHEEL_SLOTS 16384u
#define WHEEL_SPAN ((uint64_t)WHEEL_SLOTS << WHEEL_SHIFT)
#define WHEEL_WORDS (WHEEL_SLOTS / 64)
/* corio__timer.index of a timer in the wheel: this bit and its place in its slot. */
#define WHEEL_TAG ((size_t)1 << (sizeof(size_t) * 8 - 2))
/* corio__timer.index of a timer in the run: this bit and its place in the run. */
#define RUN_TAG ((size_t)1 << (sizeof(size_t) * 8 - 3))
/* Runs this long or shorter are sorted by insertion alone. */
#define RUN_INSERTION_MAX 16
#define WHEEL_SLOT_MIN 8 /* entries of a slot's first array */
/* How far ahead of the timer it looks at the slot sort asks for one. */
#define WHEEL_PREFETCH 8

typedef struct wheel_slot {
    corio__timer **v;  /* the slot's timers, in no order */
    uint32_t n, cap;   /* cap: 0, or WHEEL_SLOT_MIN << class */
} wheel_slot;

/* The slot arrays come from blocks of the wheel's own, by size class (a
 * class's arrays hold WHEEL_SLOT_MIN << class pointers), kept until the
 * loop closes: a million timers' arrays from malloc were 3,300 more page
 * faults than the whole rest of bench/corio_timers.  Past ARENA_HUGE_AFTER
 * bytes the blocks are 2 MiB huge-page mappings, as the handles' are
 * (loop.c). */
#define ARENA_CLASSES 24                      /* up to 2^26 timers in one slot (more go to the heap) */
#define ARENA_BLOCK ((size_t)64 * 1024)        /* a block before ARENA_HUGE_AFTER */
#define ARENA_HUGE_AFTER ((size_t)1 << 20)
#define ARENA_HDR ((size_t)64)                 /* a block's header, rounded to a line */

typedef struct arena_block {
    struct arena_block *next;
    size_t huge_len;   /* corio__huge_alloc's length, 0: corio__malloc */
} arena_block;

struct corio__wheel {
    int64_t cursor;                     /* start of the earliest slot not taken */
    uint64_t summary[WHEEL_WORDS / 64]; /* bit w: bits[w] is not 0 */
    uint64_t bits[WHEEL_WORDS];         /* bit s: slot s holds timers */
    wheel_slot slot[WHEEL_SLOTS];
    /* The run: the timers of the last slot taken, sorted by (when, seq),
     * fired from `head` on; a cancelled one leaves NULL.  All are earlier
     * than `cursor`.  Its array goes back to the next slot taken, so the
     * arrays keep their sizes as they circulate. */
    corio__timer **run;
    uint32_t head;                      /* the first not yet fired */
    uint32_t run_cap;                   /* the array's capacity (a class's) */
    uint32_t live;                      /* armed timers from run[head] on */
    corio__timer **free[ARENA_CLASSES]; /* freed arrays by class, linked through their first entry */
    char *cur;                          /* the rest of the newest block */
    size_t left;
    size_t arena_bytes;                 /* in all blocks */
    arena_block *blocks;
};

static inline size_t class_bytes(unsigned k) { return (WHEEL_SLOT_MIN * sizeof(corio__timer *)) << k; }

static void arena_put(struct corio__wheel *w, corio__timer **v, unsigned k) {
    *(corio__timer ***)(void *)v = w->free[k];
    w->free[k] = v;
}

/* An array of class k: NULL when there is no memory. */
static corio__timer **arena_get(struct corio__wheel *w, unsigned k) {
    corio__timer **v = w->free[k];
    if (v) {
        w->free[k] = *(corio__timer ***)(void *)v;
        return v;
    }
    size_t bytes = class_bytes(k);
    if (w->left < bytes) {
        bool huge = w->arena_bytes >= ARENA_HUGE_AFTER;
        size_t len = huge ? CORIO__HUGE_PAGE : ARENA_BLOCK;
        if (len < ARENA_HDR + bytes) len = ARENA_HDR + bytes;
        arena_block *b = huge ? corio__huge_alloc(len) : corio__malloc(len);
        if (!b) return NULL;
        b->huge_len = huge ? len : 0;
        b->next = w->blocks;
        w->blocks = b;
        w->arena_bytes += len;
        /* What is left of the block before goes to the free lists. */
        for (unsigned c = ARENA_CLASSES; c-- > 0;)
            while (w->left >= class_bytes(c)) {
                arena_put(w, (corio__timer **)(void *)w->cur, c);
                w->cur += class_bytes(c);
                w->left -= class_bytes(c);
            }
        w->cur = (char *)b + ARENA_HDR;
        w->left = len - ARENA_HDR;
    }
    v = (corio__timer **)(void *)w->cur;
    w->cur += bytes;
    w->left -= bytes;
    return v;
}

static void arena_free(struct corio__wheel *w) {
    for (arena_block *b = w->blocks, *next; b; b = next) {
        next = b->next;
        corio__block_free(b, b->huge_len);
    }
}

static inline unsigned slot_of(int64_t when) { return (unsigned)((uint64_t)when >> WHEEL_SHIFT) & (WHEEL_SLOTS - 1); }

static inline void bit_set(struct corio__wheel *w, unsigned s) {
    w->bits[s / 64] |= (uint64_t)1 << (s % 64);
    w->summary[s / 4096] |= (uint64_t)1 << (s / 64 % 64);
}

static inline void bit_clear(struct corio__wheel *w, unsigned s) {
    if (!(w->bits[s / 64] &= ~((uint64_t)1 << (s % 64)))) w->summary[s / 4096] &= ~((uint64_t)1 << (s / 64 % 64));
}

/* The first slot holding timers at or after s, going round (the wheel is not empty). */
static unsigned next_slot(const struct corio__wheel *w, unsigned s) {
    uint64_t word = w->bits[s / 64] & (~(uint64_t)0 << (s % 64));
    if (word) return s / 64 * 64 + (unsigned)__builtin_ctzll(word);
    /* Then the words after s's, by the summary, going round. */
    unsigned wi = s / 64 + 1;
    for (unsigned k = 0; k <= WHEEL_WORDS / 64; k++) {
        wi %= WHEEL_WORDS;
        uint64_t sum = w->summary[wi / 64] & (~(uint64_t)0 << (wi % 64));
        if (sum) {
            wi = wi / 64 * 64 + (unsigned)__builtin_ctzll(sum);
            return wi * 64 + (unsigned)__builtin_ctzll(w->bits[wi]);
        }
        wi = (wi / 64 + 1) * 64;
    }
    assert(0 && "timer wheel bits out of step with the timer counts");
    return s;
}

/* Room for one more timer in slot ws: false when there is none to be had. */
static bool slot_grow(struct corio__wheel *w, wheel_slot *ws) {
    unsigned k = ws->cap ? (unsigned)__builtin_ctz(ws->cap / WHEEL_SLOT_MIN) + 1 : 0;
    if (k >= ARENA_CLASSES) return false;
    corio__timer **v = arena_get(w, k);
    if (!v) return false;
    if (ws->cap) {
        memcpy(v, ws->v, ws->n * sizeof *v);
        arena_put(w, ws->v, k - 1);
    }
    ws->v = v;
    ws->cap = (uint32_t)WHEEL_SLOT_MIN << k;
    return true;
}

/* Put t in the wheel if its deadline is within reach: true if it went there. */
static bool wheel_add(corio_loop *loop, corio__timer *t) {
    struct corio__wheel *w = loop->wheel;
    if (corio__unlikely(!w)) {
        w = corio__calloc(1, sizeof *w);
        if (!w) return false; /* the heap takes it */
        loop->wheel = w;
    }
    int64_t when = t->when;
    /* "Never" and other deadlines near the clock's end stay in the heap,
     * so the cursor never runs past INT64_MAX. */
    if (when > INT64_MAX - (int64_t)WHEEL_SPAN) return false;
    /* An empty wheel (every armed timer is in the heap) starts at the new
     * deadline's slot. */
    if (loop->ntimers == loop->nheap) w->cursor = (int64_t)((uint64_t)when & ~(uint64_t)(WHEEL_NS - 1));
    if (when < w->cursor || (uint64_t)when - (uint64_t)w->cursor >= WHEEL_SPAN) return false;
    unsigned s = slot_of(when);
    wheel_slot *ws = &w->slot[s];
    if (corio__unlikely(ws->n == ws->cap) && !slot_grow(w, ws)) return false; /* the heap takes it */
    if (!ws->n) bit_set(w, s);
    t->index = WHEEL_TAG | ws->n;
    ws->v[ws->n++] = t;
    return true;
}

/* Take t out of the wheel; index is what t->index was. */
static void wheel_remove(corio_loop *loop, corio__timer *t, size_t index) {
    struct corio__wheel *w = loop->wheel;
    unsigned s = slot_of(t->when);
    wheel_slot *ws = &w->slot[s];
    size_t at = index & ~WHEEL_TAG;
    assert(at < ws->n && ws->v[at] == t);
    corio__timer *last = ws->v[--ws->n];
    if (last != t) { /* t's place goes to the slot's last timer */
        ws->v[at] = last;
        last->index = WHEEL_TAG | at;
    }
    if (!ws->n) bit_clear(w, s);
}

/* ---- the run: a taken slot, sorted ------------------------------------------------ */

static inline bool run_before(const corio__timer *a, const corio__timer *b) {
    return timer_before(a->when, a, b->when, b);
}

static void sort_insertion(corio__timer **v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        corio__timer *x = v[i];
        size_t j = i;
        for (; j > 0 && run_before(x, v[j - 1]); j--) v[j] = v[j - 1];
        v[j] = x;
    }
}

static void sift_down_run(corio__timer **v, size_t top, size_t n) {
    corio__timer *x = v[top];
    for (size_t c; (c = 2 * top + 1) < n; top = c) {
        if (c + 1 < n && run_before(v[c], v[c + 1])) c++;
        if (!run_before(x, v[c])) break;
        v[top] = v[c];
    }
    v[top] = x;
}

/* The fallback when quicksort's partitions keep coming out lopsided. */
static void sort_heap(corio__timer **v, size_t n) {
    for (size_t k = n / 2; k-- > 0;) sift_down_run(v, k, n);
    while (n > 1) {
        corio__timer *x = v[0];
        v[0] = v[--n];
        v[n] = x;
        sift_down_run(v, 0, n);
    }
}

/* Sort v[0, n) by (when, seq): quicksort (median of three) down to
 * RUN_INSERTION_MAX, the smaller side first so that the recursion stays
 * O(log n) deep; past `depth` levels the rest is heap-sorted, so crafted
 * deadlines cannot make it quadratic.  Not static for tests/test_loop.c,
 * which sorts with depth 0 as well. */
void corio__timer_sort(corio__timer **v, size_t n, unsigned depth) {
    while (n > RUN_INSERTION_MAX) {
        if (!depth--) {
            sort_heap(v, n);
            return;
        }
        corio__timer **a = &v[0], **m = &v[n / 2], **z = &v[n - 1], *t;
        if (run_before(*m, *a)) t = *m, *m = *a, *a = t;
        if (run_before(*z, *m)) {
            t = *z, *z = *m, *m = t;
            if (run_before(*m, *a)) t = *m, *m = *a, *a = t;
        }
        corio__timer *pivot = *m;
        size_t i = 0, j = n - 1;
        for (;;) { /* Hoare's: v[0] <= pivot <= v[n - 1] bound both scans */
            while (run_before(v[++i], pivot)) {}
            while (run_before(pivot, v[--j])) {}
            if (i >= j) break;
            t = v[i], v[i] = v[j], v[j] = t;
        }
        /* v[0, j] <= pivot <= v[j + 1, n) */
        size_t left = j + 1;
        if (left < n - left) {
            corio__timer_sort(v, left, depth);
            v += left;
            n -= left;
        } else {
            corio__timer_sort(v + left, n - left, depth);
            n = left;
        }
    }
    sort_insertion(v, n);
}

/* Sort v[0, n) by (when, seq).  Timers are often armed in deadline order
 * (equal delays from successive iterations), so a sorted array costs one
 * pass; the pass also asks for the timers ahead, whose deadlines the sort
 * reads next. */
static void sort_run(corio__timer **v, size_t n) {
    size_t i = 1;
    for (; i < n; i++) {
        if (i + WHEEL_PREFETCH < n) __builtin_prefetch(v[i + WHEEL_PREFETCH], 1);
        if (run_before(v[i], v[i - 1])) break;
    }
    if (i >= n) return;
    for (; i + WHEEL_PREFETCH < n; i++) __builtin_prefetch(v[i + WHEEL_PREFETCH], 1);
    corio__timer_sort(v, n, 2 * (unsigned)(63 - __builtin_clzll(n)));
}

/* Make the earliest slot the run (the run is empty).  Its array becomes
 * the run's and the run's old one the slot's, so neither allocates. */
static void wheel_take(corio_loop *loop) {
    struct corio__wheel *w = loop->wheel;
    unsigned s0 = slot_of(w->cursor), s = next_slot(w, s0);
    int64_t start = w->cursor + (int64_t)((s - s0) & (WHEEL_SLOTS - 1)) * WHEEL_NS;
    wheel_slot *ws = &w->slot[s];
    corio__timer **v = ws->v;
    uint32_t n = ws->n, cap = ws->cap;
    ws->v = w->run;
    ws->cap = w->run_cap;
    ws->n = 0;
    bit_clear(w, s);
    sort_run(v, n);
    for (uint32_t i = 0; i < n; i++) v[i]->index = RUN_TAG | i;
    w->run = v;
    w->run_cap = cap;
    w->head = 0;
    w->live = n;
    w->cursor = start + WHEEL_NS;
}

/* Returns 0 or -ENOMEM (then t stays unarmed). */
int corio__timer_arm(corio_loop *loop, corio__timer *t, int64_t when) {
    assert(!corio__timer_armed(t));
    t->when = when;
    t->seq = loop->timer_seq++;
    if (!wheel_add(loop, t)) {
        if (corio__unlikely(loop->nheap == loop->capheap)) {
            int rc = grow(loop, loop->nheap + 1);
            if (rc < 0) return rc;
        }
        heap_push(loop, t);
    }
    loop->ntimers++;
    return 0;
}

/* Make the earliest timer heap[0] or the run's head (run[head] is then
 * armed): take the earliest slot while the run is empty and the wheel may
 * hold timers earlier than the heap's.  Wheel timers are at or after the
 * cursor, the run's before it, so with a timer in the run no slot is due. */
static inline void settle(corio_loop *loop) {
    struct corio__wheel *w = loop->wheel;
    if (!w) return; /* every armed timer is in the heap */
    if (w->live) {
        while (!w->run[w->head]) w->head++;
        return;
    }
    /* The wheel holds the armed timers that the heap does not. */
    if (loop->ntimers != loop->nheap && (!loop->nheap || loop->heap[0].when >= w->cursor)) wheel_take(loop);
}

/* The earliest armed timer's run entry, or NULL when it is heap[0]
 * (settled, some timer armed). */
static inline corio__timer *run_first(corio_loop *loop) {
    struct corio__wheel *w = loop->wheel;
    if (!w || !w->live) return NULL;
    corio__timer *r = w->run[w->head];
    if (loop->nheap) {
        const corio__timer_ent *h = &loop->heap[0];
        if (timer_before(h->when, h->t, r->when, r)) return NULL;
    }
    return r;
}

corio__timer *corio__timer_any(corio_loop *loop) {
    if (!loop->ntimers) return NULL;
    if (loop->nheap) return loop->heap[loop->nheap - 1].t;
    settle(loop); /* with the heap empty, the run's front is armed */
    return loop->wheel->run[loop->wheel->head];
}

void corio__timer_free(corio_loop *loop) {
    assert(!loop->ntimers);
    if (loop->wheel) arena_free(loop->wheel);
    corio__free(loop->wheel);
    corio__block_free(loop->heap_mem, loop->heap_huge_len);
    loop->heap_huge_len = 0;
    loop->wheel = NULL;
    loop->heap_mem = NULL;
    loop->heap = NULL;
    loop->nheap = loop->capheap = 0;
}

void corio__timer_disarm(corio_loop *loop, corio__timer *t) {
    size_t i = t->index;
    if (i == SIZE_MAX) return;
    t->index = SIZE_MAX;
    loop->ntimers--;
    if (i & WHEEL_TAG) {
        wheel_remove(loop, t, i);
        return;
    }
    if (i & RUN_TAG) {
        struct corio__wheel *w = loop->wheel;
        assert(w->run[i & ~RUN_TAG] == t);
        w->run[i & ~RUN_TAG] = NULL;
        w->live--;
        return;
    }
    assert(i < loop->nheap && loop->heap[i].t == t);
    remove_at(loop, i);
}

/* The earliest deadline, or INT64_MAX when no timer is armed. */
int64_t corio__timer_next(corio_loop *loop) {
    if (!loop->ntimers) return INT64_MAX;
    settle(loop);
    corio__timer *r = run_first(loop);
    return r ? r->when : loop->heap[0].when;
}

/* Fire every timer due at `now`, earliest first. */
void corio__timer_run_due(corio_loop *loop, int64_t now) {
    /* ntimers first: with none armed the next deadline is INT64_MAX, which
     * a `now` of INT64_MAX would take for a due timer. */
    while (loop->ntimers) {
        settle(loop);
        corio__timer *t = run_first(loop);
        if (t) {
            if (t->when > now) break;
            struct corio__wheel *w = loop->wheel;
            w->head++;
            w->live--;
        } else {
            if (loop->heap[0].when > now) break;
            t = loop->heap[0].t;
            remove_at(loop, 0);
        }
        t->index = SIZE_MAX;
        loop->ntimers--;
        t->fire(t);
    }
}
