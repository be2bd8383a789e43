/*
 * fuzz_timer_heap - the loop's timers (src/core/timer.c: a wheel of near
 * deadlines, the slot being fired sorted, and a 4-ary heap; corio__timer_arm,
 * corio__timer_disarm, corio__timer_run_due, corio__timer_next) on a real
 * loop, against a reference model that scans an array linearly.
 *
 * The input is a sequence of operations: arm timer i at time t (re-arming
 * an armed one disarms it first), arm a run of timers at nearly equal
 * times (ties; growth of the heap array past its first 64 slots), disarm
 * i, run the due timers up to a new `now`, check the next deadline, and
 * make the next allocations fail.  A timer's fire callback may itself
 * re-arm, arm or disarm a timer (chosen when it was armed), as loop code
 * does from callbacks.
 *
 * Checked: timers fire in (deadline, arming order) order, each arming
 * fires at most once and every due one fires; nothing fires early;
 * corio__timer_next is the model's minimum; -ENOMEM leaves the timer
 * unarmed and the heap unchanged; and after every step the heap is
 * consistent: every heap entry's timer points back at its index, keys
 * match the timer's deadline, the heap order holds, an armed timer is in
 * the heap or marked as in the wheel or the run, the counts agree with the model,
 * every unarmed timer's index is SIZE_MAX.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CORIO_API void corio__test_fail_alloc_after(long n);

/* timer.c's mark for a timer in the wheel (a bit of its index, beside its
 * place in its slot's array); the wheel itself is private there. */
#define WHEEL_TAG ((size_t)1 << (sizeof(size_t) * 8 - 2))
/* ... and for one in the run (the slot being fired, sorted; its place in it). */
#define RUN_TAG ((size_t)1 << (sizeof(size_t) * 8 - 3))

#define NT 160 /* enough to push the heap array past its first 64 and 128 slots */

typedef struct ftimer {
    corio__timer t;
    int id;
    /* model */
    bool armed;
    int64_t when;
    uint64_t seq;
    /* what the fire callback does: 0 nothing, 1 re-arm itself, 2 disarm `other`, 3 arm `other` */
    int action, other;
    int64_t delta;
} ftimer;

static corio_loop *loop;
static ftimer timers[NT];
static uint64_t mseq;      /* model arming counter */
static int64_t now;        /* the `now` of the run in progress */
static bool in_run;
static unsigned fires_in_run;
static const uint8_t *in;  /* input cursor */
static size_t left;

#define FAIL(...) do { fprintf(stderr, "fuzz_timer_heap: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static unsigned get8(void) {
    if (!left) return 0;
    left--;
    return *in++;
}
static unsigned get16(void) { unsigned a = get8(); return a | get8() << 8; }

static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static bool mbefore(const ftimer *a, const ftimer *b) {
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

/* The model's earliest armed timer, or NULL. */
static ftimer *mmin(void) {
    ftimer *m = NULL;
    for (int i = 0; i < NT; i++)
        if (timers[i].armed && (!m || mbefore(&timers[i], m))) m = &timers[i];
    return m;
}

static void check_heap(void) {
    size_t armed = 0;
    for (size_t i = 0; i < loop->nheap; i++) {
        corio__timer_ent *e = &loop->heap[i];
        if (!e->t) FAIL("heap[%zu] has no timer", i);
        if (e->t->index != i) FAIL("heap[%zu]: its timer says index %zu", i, e->t->index);
        if (e->t->when != e->when) FAIL("heap[%zu]: key %lld, timer %lld", i, (long long)e->when, (long long)e->t->when);
        if (i) {
            corio__timer_ent *p = &loop->heap[(i - 1) / CORIO__TIMER_HEAP_ARITY];
            if (e->when < p->when || (e->when == p->when && e->t->seq < p->t->seq)) FAIL("heap order broken at %zu", i);
        }
    }
    if (loop->nheap > loop->ntimers) FAIL("nheap %zu > ntimers %zu", loop->nheap, loop->ntimers);
    if (loop->nheap > loop->capheap) FAIL("nheap %zu > capheap %zu", loop->nheap, loop->capheap);
    for (int i = 0; i < NT; i++) {
        ftimer *f = &timers[i];
        if (f->armed) {
            armed++;
            if (f->t.index & WHEEL_TAG) {
                if (loop->ntimers == loop->nheap) FAIL("armed timer %d is in the wheel, which the counts say is empty", i);
            } else if (f->t.index & RUN_TAG) {
                if (loop->ntimers == loop->nheap) FAIL("armed timer %d is in the run, which the counts say is empty", i);
            } else if (f->t.index >= loop->nheap || loop->heap[f->t.index].t != &f->t) {
                FAIL("armed timer %d: index %zu does not point back", i, f->t.index);
            }
            if (f->t.when != f->when) FAIL("timer %d: when %lld, model %lld", i, (long long)f->t.when, (long long)f->when);
        } else if (f->t.index != SIZE_MAX) {
            FAIL("unarmed timer %d has index %zu", i, f->t.index);
        }
    }
    if (armed != loop->ntimers) FAIL("%zu timers armed, model %zu", loop->ntimers, armed);
    int64_t next = corio__timer_next(loop);
    ftimer *m = mmin();
    if (next != (m ? m->when : INT64_MAX)) FAIL("next %lld, model %lld", (long long)next, (long long)(m ? m->when : INT64_MAX));
}

static void do_disarm(ftimer *f) {
    corio__timer_disarm(loop, &f->t);
    f->armed = false;
}

static void do_arm(ftimer *f, int64_t when) {
    if (f->armed) do_disarm(f);
    size_t n = loop->ntimers, nh = loop->nheap, cap = loop->capheap;
    int rc = corio__timer_arm(loop, &f->t, when);
    if (rc == -ENOMEM) {
        /* Only the heap allocates in a way that fails the arm (a wheel
         * without memory passes the timer to the heap). */
        if (nh != cap) FAIL("arm: -ENOMEM with room in the heap (%zu of %zu)", nh, cap);
        if (loop->ntimers != n || f->t.index != SIZE_MAX) FAIL("arm: -ENOMEM changed the timers");
        return;
    }
    if (rc != 0) FAIL("arm: %d", rc);
    f->armed = true;
    f->when = when;
    f->seq = mseq++;
}

static void on_fire(corio__timer *t) {
    ftimer *f = corio__container_of(t, ftimer, t);
    if (!in_run) FAIL("timer %d fired outside run_due", f->id);
    if (!f->armed) FAIL("timer %d fired but is not armed (a second firing?)", f->id);
    if (f->when > now) FAIL("timer %d fired early: when %lld, now %lld", f->id, (long long)f->when, (long long)now);
    ftimer *m = mmin();
    if (m != f) FAIL("timer %d fired (when %lld seq %llu), model expects %d (when %lld seq %llu)", f->id, (long long)f->when,
                     (unsigned long long)f->seq, m->id, (long long)m->when, (unsigned long long)m->seq);
    if (t->index != SIZE_MAX) FAIL("timer %d fired while still armed", f->id);
    f->armed = false;
    check_heap();
    /* An action may arm a timer due in this same run, which may do the same:
     * bound the chain so that an input cannot loop for ever. */
    if (++fires_in_run > 4 * NT) return;
    switch (f->action) {
    case 1: do_arm(f, sat_add(now, f->delta)); break;
    case 2: do_disarm(&timers[f->other]); break;
    case 3: do_arm(&timers[f->other], sat_add(now, f->delta)); break;
    default: break;
    }
    check_heap();
}

static void set_action(ftimer *f) {
    unsigned a = get8();
    f->action = a & 3;
    f->other = (int)((a >> 2) % NT);
    f->delta = (int64_t)(int8_t)get8(); /* <= 0 arms for this same run: it must fire again, after the others due */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!loop) {
        loop = corio_loop_new();
        if (!loop) abort();
    }
    in = data;
    left = size;
    now = 0;
    mseq = 0;
    for (int i = 0; i < NT; i++) {
        memset(&timers[i], 0, sizeof timers[i]);
        timers[i].t.index = SIZE_MAX;
        timers[i].t.fire = on_fire;
        timers[i].id = i;
    }
    /* A fresh heap array and wheel for each input, so growth and the
     * wheel's first use are exercised every time (every timer was disarmed
     * at the end of the last input). */
    corio__timer_free(loop);
    loop->timer_seq = 0;
    unsigned runs = 0;
    while (left) {
        unsigned op = get8() % 8;
        switch (op) {
        case 0:
        case 1: { /* arm i */
            ftimer *f = &timers[get8() % NT];
            unsigned mode = get8();
            int64_t when;
            switch (mode % 4) {
            case 0: when = sat_add(now, (int8_t)get8()); break;
            case 1: when = sat_add(now, get16()); break;
            case 2: when = get8() % 8; break; /* absolute, small: many equal deadlines */
            default: {
                static const int64_t ext[] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX};
                when = ext[(mode >> 2) % 6];
                break;
            }
            }
            set_action(f);
            do_arm(f, when);
            break;
        }
        case 2: { /* arm a run of timers at nearly equal deadlines */
            unsigned first = get8() % NT, k = get8() % 96, spread = get8() % 4 + 1;
            for (unsigned j = 0; j < k; j++) {
                ftimer *f = &timers[(first + j) % NT];
                f->action = 0;
                do_arm(f, sat_add(now, (int64_t)((j * 7) % spread)));
            }
            break;
        }
        case 3: /* disarm i (also an unarmed one: harmless) */
            do_disarm(&timers[get8() % NT]);
            break;
        case 4: { /* run due timers up to a new now */
            unsigned mode = get8();
            switch (mode % 4) {
            case 0: now = sat_add(now, get8()); break;
            case 1: now = sat_add(now, get16()); break;
            case 2: now = sat_add(now, -(int64_t)get8()); break; /* the heap does not care if time goes back */
            default: now = (mode & 4) ? INT64_MAX : INT64_MAX - 1; break;
            }
            if (++runs > 64) goto out; /* bound the work per input */
            in_run = true;
            fires_in_run = 0;
            corio__timer_run_due(loop, now);
            in_run = false;
            ftimer *m = mmin();
            if (m && m->when <= now) FAIL("timer %d (when %lld) still armed after run_due(%lld)", m->id, (long long)m->when, (long long)now);
            break;
        }
        case 5: { /* the next deadline, checked by check_heap; also timer_armed */
            ftimer *f = &timers[get8() % NT];
            if (corio__timer_armed(&f->t) != f->armed) FAIL("timer %d: armed %d, model %d", f->id, corio__timer_armed(&f->t), f->armed);
            break;
        }
        case 6: /* the next allocations fail */
            corio__test_fail_alloc_after((long)(get8() % 4));
            break;
        default: /* allocations work again */
            corio__test_fail_alloc_after(-1);
            break;
        }
        check_heap();
    }
out:
    corio__test_fail_alloc_after(-1);
    for (int i = 0; i < NT; i++) do_disarm(&timers[i]);
    check_heap();
    return 0;
}
