/*
 * test_queue.c - corio_queue against asyncio.Queue / LifoQueue /
 * PriorityQueue of Python 3.13.
 *
 * Most cases are ports of CPython's Lib/test/test_asyncio/test_queues.py;
 * the interleavings that are not obvious (who is woken, what a task woken
 * and then cancelled does, shutdown racing a wake-up, heap order of equal
 * items) were run against real asyncio 3.13 and the outcome it gave is the
 * expected string here.
 */
#include "test.h"

#include <stdarg.h>

/* From alloc.c: allow n more allocations, then fail (-1: never fail). */
void corio__test_fail_alloc_after(long n);

#define I(n) ((void *)(intptr_t)(n))
#define N(p) ((int)(intptr_t)(p))

/* ---- a log of what the tasks saw, compared as one string ------------------------- */

static char logbuf[1024];

static void logf_(const char *fmt, ...) {
    size_t len = strlen(logbuf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(logbuf + len, sizeof logbuf - len, fmt, ap);
    va_end(ap);
}

static const char *errname(int rc) {
    switch (rc) {
    case -ECANCELED: return "C";
    case -ESHUTDOWN: return "SD";
    case -EAGAIN: return "AGAIN";
    case -EPERM: return "PERM";
    case -ENOMEM: return "NOMEM";
    case -EINVAL: return "INVAL";
    default: return "?";
    }
}

#define CHECK_LOG(expect)                                                                     \
    do {                                                                                      \
        if (strcmp(logbuf, expect) != 0) {                                                    \
            fprintf(stderr, "%s:%d: log is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, logbuf, \
                    expect);                                                                  \
            test_failures++;                                                                  \
        }                                                                                     \
    } while (0)

/* ---- task bodies shared by the cases ----------------------------------------------- */

/* One get or put done by a task; items are strings so the log reads well. */
typedef struct op {
    corio_queue *q;
    const char *name;
    void *item;
    int rc;
    int done;
} op;

static int getter(void *arg) {
    op *o = arg;
    o->rc = corio_queue_get(o->q, &o->item);
    o->done = 1;
    if (o->rc == 0)
        logf_("%s=%s ", o->name, (const char *)o->item);
    else
        logf_("%s:%s ", o->name, errname(o->rc));
    return 0;
}

static int putter(void *arg) {
    op *o = arg;
    o->rc = corio_queue_put(o->q, o->item);
    o->done = 1;
    if (o->rc == 0)
        logf_("%s+%s ", o->name, (const char *)o->item);
    else
        logf_("%s:%s ", o->name, errname(o->rc));
    return 0;
}

static int joiner(void *arg) {
    op *o = arg;
    o->rc = corio_queue_join(o->q);
    o->done = 1;
    logf_("%s:%s ", o->name, o->rc == 0 ? "joined" : errname(o->rc));
    return 0;
}

static int cmp_int(const void *a, const void *b) { return (N(a) > N(b)) - (N(a) < N(b)); }

/* Run `body` as the main task on a fresh loop with a virtual clock. */
static void run(int (*body)(void *), void *arg) {
    logbuf[0] = 0;
    CHECK_EQ(test_run(body, arg, 1), 0);
}

/* ---- init, destroy, bad input, calls outside a task ---------------------------------- */

static void test_init_and_bad_input(void) {
    corio_queue q;
    void *item = NULL;
    CHECK_EQ(corio_queue_init(NULL, CORIO_QUEUE_FIFO, 0, NULL), -EINVAL);
    CHECK_EQ(corio_queue_init(&q, 3, 0, NULL), -EINVAL);
    CHECK_EQ(corio_queue_init(&q, -1, 0, NULL), -EINVAL);
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_PRIORITY, 0, NULL), -EINVAL);

    CHECK_EQ(corio_queue_put(NULL, I(1)), -EINVAL);
    CHECK_EQ(corio_queue_put_nowait(NULL, I(1)), -EINVAL);
    CHECK_EQ(corio_queue_get(NULL, &item), -EINVAL);
    CHECK_EQ(corio_queue_get_nowait(NULL, &item), -EINVAL);
    CHECK_EQ(corio_queue_task_done(NULL), -EINVAL);
    CHECK_EQ(corio_queue_join(NULL), -EINVAL);
    CHECK_EQ(corio_queue_shutdown(NULL, 0), -EINVAL);
    CHECK_EQ(corio_queue_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_queue_size(NULL), 0);
    CHECK_EQ(corio_queue_empty(NULL), 1);
    CHECK_EQ(corio_queue_full(NULL), 0);
    CHECK_EQ(corio_queue_maxsize(NULL), 0);

    /* A zeroed struct was never initialised. */
    corio_queue z;
    memset(&z, 0, sizeof z);
    CHECK_EQ(corio_queue_put_nowait(&z, I(1)), -EINVAL);

    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_FIFO, 3, cmp_int), 0);
    CHECK(q.items == NULL); /* nothing allocated before the first put */
    CHECK_EQ(q.cap, 0);
    CHECK(q.cmp == NULL);   /* ignored for FIFO */
    CHECK_EQ(corio_queue_maxsize(&q), 3);
    CHECK_EQ(corio_queue_size(&q), 0);
    CHECK_EQ(corio_queue_empty(&q), 1);
    CHECK_EQ(corio_queue_full(&q), 0);
    CHECK_EQ(corio_queue_get(&q, NULL), -EINVAL);
    CHECK_EQ(corio_queue_get_nowait(&q, NULL), -EINVAL);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    /* After destroy the queue is unusable until initialised again. */
    CHECK_EQ(corio_queue_put_nowait(&q, I(1)), -EINVAL);
    CHECK_EQ(corio_queue_destroy(&q), -EINVAL);
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_PRIORITY, 0, cmp_int), 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);
}

/* The calls that need not wait work outside any task (and any loop). */
static void test_outside_a_task(void) {
    corio_queue q;
    void *item = NULL;
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_FIFO, 2, NULL), 0);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), -EAGAIN);       /* QueueEmpty */
    CHECK_EQ(corio_queue_get(&q, &item), -EPERM);               /* would wait */
    CHECK_EQ(corio_queue_join(&q), 0);                          /* nothing unfinished: no wait */
    CHECK_EQ(corio_queue_task_done(&q), -EINVAL);               /* ValueError */
    CHECK_EQ(corio_queue_put(&q, I(1)), 0);                     /* room: no wait */
    CHECK_EQ(corio_queue_put_nowait(&q, I(2)), 0);
    CHECK(q.items != NULL);
    CHECK_EQ(corio_queue_full(&q), 1);
    CHECK_EQ(corio_queue_empty(&q), 0);
    CHECK_EQ(corio_queue_size(&q), 2);
    CHECK_EQ(corio_queue_put_nowait(&q, I(3)), -EAGAIN);        /* QueueFull */
    CHECK_EQ(corio_queue_put(&q, I(3)), -EPERM);                /* would wait */
    CHECK_EQ(corio_queue_size(&q), 2);
    CHECK_EQ(corio_queue_join(&q), -EPERM);                     /* would wait */
    CHECK_EQ(corio_queue_get(&q, &item), 0);                    /* an item: no wait */
    CHECK_EQ(N(item), 1);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    CHECK_EQ(N(item), 2);
    item = I(99);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), -EAGAIN);
    CHECK_EQ(N(item), 99); /* untouched on failure */
    CHECK_EQ(corio_queue_task_done(&q), 0);
    CHECK_EQ(corio_queue_task_done(&q), 0);
    CHECK_EQ(corio_queue_task_done(&q), -EINVAL);
    CHECK_EQ(corio_queue_join(&q), 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);
}

/* ---- order ------------------------------------------------------------------------ */

static void order_case(int kind, const int *expect) {
    corio_queue q;
    void *item;
    CHECK_EQ(corio_queue_init(&q, kind, 0, cmp_int), 0);
    static const int in[] = {1, 3, 2};
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_queue_put_nowait(&q, I(in[i])), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
        CHECK_EQ(N(item), expect[i]);
    }
    CHECK_EQ(corio_queue_get_nowait(&q, &item), -EAGAIN);
    CHECK_EQ(corio_queue_destroy(&q), 0);
}

static void test_order(void) {
    order_case(CORIO_QUEUE_FIFO, (const int[]){1, 3, 2});
    order_case(CORIO_QUEUE_LIFO, (const int[]){2, 3, 1});
    order_case(CORIO_QUEUE_PRIORITY, (const int[]){1, 2, 3});
}

/* The ring buffer against a model, across wrap-arounds and growth while wrapped. */
static void test_fifo_ring(void) {
    corio_queue q;
    void *item;
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL), 0);
    int next_in = 0, next_out = 0;
    unsigned seed = 12345;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        int puts = (seed >> 16) % 4, gets = (seed >> 20) % 4;
        for (int i = 0; i < puts; i++) CHECK_EQ(corio_queue_put_nowait(&q, I(next_in++)), 0);
        for (int i = 0; i < gets && next_out < next_in; i++) {
            CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
            CHECK_EQ(N(item), next_out);
            next_out++;
        }
        CHECK_EQ(corio_queue_size(&q), (size_t)(next_in - next_out));
    }
    /* Wrap, then grow while wrapped: 8 slots, head at 5. */
    while (next_out < next_in) {
        CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
        CHECK_EQ(N(item), next_out++);
    }
    CHECK_EQ(corio_queue_destroy(&q), 0);
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL), 0);
    for (int i = 0; i < 8; i++) CHECK_EQ(corio_queue_put_nowait(&q, I(i)), 0);
    for (int i = 0; i < 5; i++) CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    for (int i = 8; i < 13; i++) CHECK_EQ(corio_queue_put_nowait(&q, I(i)), 0);
    CHECK_EQ(q.cap, 8);
    CHECK_EQ(corio_queue_put_nowait(&q, I(13)), 0); /* grows with head at 5 */
    CHECK_EQ(q.cap, 16);
    for (int i = 5; i < 14; i++) {
        CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
        CHECK_EQ(N(item), i);
    }
    CHECK_EQ(corio_queue_destroy(&q), 0);
    /* A bounded queue never allocates more than maxsize slots. */
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_FIFO, 5, NULL), 0);
    for (int round = 0; round < 7; round++) {
        for (int i = 0; i < 5; i++) CHECK_EQ(corio_queue_put_nowait(&q, I(round * 10 + i)), 0);
        CHECK_EQ(corio_queue_put_nowait(&q, I(0)), -EAGAIN);
        CHECK_EQ(q.cap, 5);
        for (int i = 0; i < 3; i++) {
            CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
            CHECK_EQ(N(item), round * 10 + i);
        }
        CHECK_EQ(corio_queue_put_nowait(&q, I(round * 10 + 5)), 0);
        for (int i = 3; i < 6; i++) {
            CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
            CHECK_EQ(N(item), round * 10 + i);
        }
    }
    CHECK_EQ(corio_queue_destroy(&q), 0);
}

/* Heap against sorting, and equal items in the very order heapq gives them. */
typedef struct prio_item {
    int prio, id;
} prio_item;

static int cmp_prio(const void *a, const void *b) {
    const prio_item *x = a, *y = b;
    return (x->prio > y->prio) - (x->prio < y->prio);
}

static void test_priority_heap(void) {
    corio_queue q;
    void *item;
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_PRIORITY, 0, cmp_int), 0);
    unsigned seed = 777;
    int last = -1;
    for (int i = 0; i < 1000; i++) {
        seed = seed * 1103515245u + 12345u;
        CHECK_EQ(corio_queue_put_nowait(&q, I((seed >> 8) % 100000)), 0);
    }
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
        CHECK(N(item) >= last);
        last = N(item);
    }
    CHECK_EQ(corio_queue_destroy(&q), 0);

    /* asyncio.PriorityQueue with items comparing equal by priority only:
     * put (i*7)%5 for i in 0..19, with a get after every third put. */
    static const int expect[20] = {0, 5, 3, 10, 8, 15, 13, 18, 1, 16, 6, 11, 9, 19, 4, 14, 7, 17, 2, 12};
    prio_item items[20];
    int got[20], ngot = 0;
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_PRIORITY, 0, cmp_prio), 0);
    for (int i = 0; i < 20; i++) {
        items[i] = (prio_item){(i * 7) % 5, i};
        CHECK_EQ(corio_queue_put_nowait(&q, &items[i]), 0);
        if (i % 3 == 2 && corio_queue_get_nowait(&q, &item) == 0) got[ngot++] = ((prio_item *)item)->id;
    }
    while (corio_queue_get_nowait(&q, &item) == 0) got[ngot++] = ((prio_item *)item)->id;
    CHECK_EQ(ngot, 20);
    for (int i = 0; i < 20; i++) CHECK_EQ(got[i], expect[i]);
    CHECK_EQ(corio_queue_destroy(&q), 0);
}

/* ---- suspending put and get ---------------------------------------------------------- */

/* test_maxsize: a putter of 0, 1, 2 blocks after two items. */
static int have_been_put[3], nput;

static int put_three(void *arg) {
    corio_queue *q = arg;
    for (int i = 0; i < 3; i++) {
        int rc = corio_queue_put(q, I(i));
        if (rc) return rc;
        have_been_put[nput++] = i;
    }
    return 1;
}

static int maxsize_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 2, NULL);
    nput = 0;
    corio_task *t = corio_spawn(put_three, &q);
    corio_yield();
    corio_yield();
    CHECK_EQ(nput, 2); /* blocked on the third */
    CHECK_EQ(corio_queue_destroy(&q), -EBUSY);
    CHECK_EQ(corio_queue_get(&q, &item), 0);
    CHECK_EQ(N(item), 0);
    corio_yield();
    CHECK_EQ(nput, 3);
    CHECK_EQ(corio_queue_get(&q, &item), 0);
    CHECK_EQ(N(item), 1);
    CHECK_EQ(corio_queue_get(&q, &item), 0);
    CHECK_EQ(N(item), 2);
    CHECK(corio_task_done(t));
    CHECK_EQ(corio_join(t), 1);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_maxsize(void) { run(maxsize_main, NULL); }

/* Getters wait in line and are served in order; test_put_with_waiting_getters. */
static int getters_in_line_main(void *arg) {
    (void)arg;
    corio_queue q;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    op g[3] = {{&q, "G1", 0, 0, 0}, {&q, "G2", 0, 0, 0}, {&q, "G3", 0, 0, 0}};
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(getter, &g[i]);
    corio_yield();
    CHECK_EQ(corio_queue_destroy(&q), -EBUSY);
    CHECK_EQ(corio_queue_put(&q, "a"), 0);
    CHECK_EQ(corio_queue_put(&q, "b"), 0);
    CHECK_EQ(corio_queue_put(&q, "c"), 0);
    for (int i = 0; i < 3; i++) corio_join(t[i]);
    CHECK_LOG("G1=a G2=b G3=c ");
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_getters_in_line(void) { run(getters_in_line_main, NULL); }

/* test_blocking_get_wait / test_blocking_put_wait, across virtual time. */
static int late_put(void *arg) {
    corio_sleep(0.01);
    return corio_queue_put_nowait(arg, "late");
}

static int late_get(void *arg) {
    void *item;
    corio_sleep(0.01);
    return corio_queue_get_nowait(arg, &item);
}

static int blocking_wait_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item = NULL;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL);
    corio_task *t = corio_spawn(late_put, &q);
    CHECK_EQ(corio_queue_get(&q, &item), 0);
    CHECK(strcmp(item, "late") == 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_queue_put(&q, "x"), 0);
    t = corio_spawn(late_get, &q);
    CHECK_EQ(corio_queue_put(&q, "y"), 0); /* waits until late_get made room */
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    CHECK(strcmp(item, "y") == 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_blocking_wait(void) { run(blocking_wait_main, NULL); }

/* test_get_with_waiting_putters, test_why_are_getters_waiting. */
static int put_b(void *arg) { return corio_queue_put(arg, "b"); }
static int put_a(void *arg) { return corio_queue_put(arg, "a"); }

static int producer(void *arg) {
    for (int i = 0; i < 5; i++)
        if (corio_queue_put(arg, I(i))) return -1;
    return 0;
}

static int consumer(void *arg) {
    void *item;
    for (int i = 0; i < 5; i++) {
        if (corio_queue_get(arg, &item)) return -1;
        if (N(item) != i) return -2;
    }
    return 0;
}

static int waiting_putters_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL);
    corio_task *a = corio_spawn(put_a, &q), *b = corio_spawn(put_b, &q);
    CHECK_EQ(corio_queue_get(&q, &item), 0);
    CHECK(strcmp(item, "a") == 0);
    CHECK_EQ(corio_queue_get(&q, &item), 0);
    CHECK(strcmp(item, "b") == 0);
    CHECK_EQ(corio_join(a), 0);
    CHECK_EQ(corio_join(b), 0);

    corio_task *p = corio_spawn(producer, &q), *c = corio_spawn(consumer, &q);
    CHECK_EQ(corio_join(p), 0);
    CHECK_EQ(corio_join(c), 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_waiting_putters(void) { run(waiting_putters_main, NULL); }

/* test_why_are_putters_waiting: four putters on a queue of two, a getter draining. */
static int drain_once(void *arg) {
    void *item;
    corio_yield();
    size_t n = corio_queue_size(arg);
    for (size_t i = 0; i < n; i++) corio_queue_get_nowait(arg, &item);
    return (int)n;
}

static int putters_waiting_main(void *arg) {
    (void)arg;
    corio_queue q;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 2, NULL);
    op p[4] = {{&q, "P0", "0", 0, 0}, {&q, "P1", "1", 0, 0}, {&q, "P2", "2", 0, 0}, {&q, "P3", "3", 0, 0}};
    corio_task *g = corio_spawn(drain_once, &q);
    corio_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = corio_spawn(putter, &p[i]);
    CHECK_EQ(corio_join(g), 2);
    for (int i = 0; i < 4; i++) corio_join(t[i]);
    CHECK_LOG("P0+0 P1+1 P2+2 P3+3 ");
    CHECK_EQ(corio_queue_size(&q), 2);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_putters_waiting(void) { run(putters_waiting_main, NULL); }

/* A getter woken by a put whose item is taken before it runs goes to the
 * back of the line (asyncio: G1 takes y, G2 waits again for z). */
static int requeue_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    op g1 = {&q, "G1", 0, 0, 0}, g2 = {&q, "G2", 0, 0, 0};
    corio_task *t1 = corio_spawn(getter, &g1), *t2 = corio_spawn(getter, &g2);
    corio_yield();
    corio_queue_put_nowait(&q, "x");
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    logf_("main=%s ", (const char *)item);
    corio_queue_put_nowait(&q, "y");
    corio_yield();
    CHECK(g1.done && !g2.done);
    corio_queue_put_nowait(&q, "z");
    corio_yield();
    CHECK(g2.done);
    corio_join(t1);
    corio_join(t2);
    CHECK_LOG("main=x G1=y G2=z ");
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_woken_getter_requeues(void) { run(requeue_main, NULL); }

/* ---- cancellation ------------------------------------------------------------------- */

/* test_get_cancelled_race and test_cancelled_getters_not_being_held_in_self_getters. */
static int get_cancelled_race_main(void *arg) {
    (void)arg;
    corio_queue q;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    op g1 = {&q, "G1", 0, 0, 0}, g2 = {&q, "G2", 0, 0, 0};
    corio_task *t1 = corio_spawn(getter, &g1), *t2 = corio_spawn(getter, &g2);
    corio_yield();
    corio_cancel(t1);
    corio_yield();
    CHECK(g1.done);
    CHECK_EQ(g1.rc, -ECANCELED);
    CHECK_EQ(corio_queue_put(&q, "a"), 0);
    corio_yield();
    corio_join(t1);
    corio_join(t2);
    CHECK_LOG("G1:C G2=a ");

    /* A cancelled getter leaves the line at once. */
    op g3 = {&q, "G3", 0, 0, 0};
    corio_task *t3 = corio_spawn(getter, &g3);
    corio_yield();
    CHECK_EQ(corio_queue_destroy(&q), -EBUSY);
    corio_cancel(t3);
    corio_join(t3);
    CHECK_EQ(g3.rc, -ECANCELED);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_get_cancelled_race(void) { run(get_cancelled_race_main, NULL); }

/* test_get_cancel_drop_one_pending_reader: woken, then cancelled: the item stays. */
static int drop_one_reader_main(void *arg) {
    (void)arg;
    corio_queue q;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    op r = {&q, "R", 0, 0, 0};
    corio_task *t = corio_spawn(getter, &r);
    corio_yield();
    corio_queue_put_nowait(&q, "1");
    corio_queue_put_nowait(&q, "2");
    corio_cancel(t);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(r.rc, -ECANCELED);
    op r2 = {&q, "R2", 0, 0, 0};
    t = corio_spawn(getter, &r2);
    corio_join(t);
    CHECK_LOG("R:C R2=1 "); /* 2 would mean 1 was dropped */
    CHECK_EQ(corio_queue_size(&q), 1);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_get_cancel_drop_one_reader(void) { run(drop_one_reader_main, NULL); }

/* test_get_cancel_drop_many_pending_readers: the cancelled reader's wake-up
 * passes to reader 3, so both items are taken and nobody is left waiting. */
static int drop_many_readers_main(void *arg) {
    (void)arg;
    corio_queue q;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    op r[3] = {{&q, "R1", 0, 0, 0}, {&q, "R2", 0, 0, 0}, {&q, "R3", 0, 0, 0}};
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(getter, &r[i]);
    corio_yield();
    corio_queue_put_nowait(&q, "1");
    corio_queue_put_nowait(&q, "2");
    corio_cancel(t[0]);
    corio_yield();
    corio_yield();
    CHECK(r[0].done && r[1].done && r[2].done);
    for (int i = 0; i < 3; i++) corio_join(t[i]);
    CHECK_LOG("R1:C R2=1 R3=2 ");
    CHECK_EQ(corio_queue_size(&q), 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_get_cancel_drop_many_readers(void) { run(drop_many_readers_main, NULL); }

/* test_put_cancel_drop: a putter woken then cancelled did not put; retrying puts. */
static int put_cancel_drop_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL);
    corio_queue_put_nowait(&q, "1");
    op w = {&q, "W", "2", 0, 0};
    corio_task *t = corio_spawn(putter, &w);
    corio_yield();
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    CHECK(strcmp(item, "1") == 0);
    corio_cancel(t);
    corio_join(t);
    CHECK_EQ(w.rc, -ECANCELED);
    CHECK_EQ(corio_queue_size(&q), 0);
    op w2 = {&q, "W2", "2", 0, 0};
    t = corio_spawn(putter, &w2);
    corio_join(t);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    CHECK(strcmp(item, "2") == 0);
    CHECK_EQ(corio_queue_size(&q), 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_put_cancel_drop(void) { run(put_cancel_drop_main, NULL); }

/* test_put_cancelled_race: a putter cancelled while waiting is skipped. */
static int put_cancelled_race_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL);
    op a = {&q, "A", "a", 0, 0}, b = {&q, "B", "b", 0, 0}, c = {&q, "C", "X", 0, 0};
    corio_task *ta = corio_spawn(putter, &a), *tb = corio_spawn(putter, &b), *tc = corio_spawn(putter, &c);
    corio_yield();
    CHECK(a.done && !b.done);
    corio_cancel(tc);
    corio_yield();
    CHECK(c.done);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    CHECK(strcmp(item, "a") == 0);
    corio_yield();
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    CHECK(strcmp(item, "b") == 0);
    corio_join(ta);
    corio_join(tb);
    corio_join(tc);
    CHECK_LOG("A+a C:C B+b ");
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_put_cancelled_race(void) { run(put_cancelled_race_main, NULL); }

/* A putter woken by a get and cancelled before it ran hands the slot to the
 * next putter (test_cancelled_put_silence_value_error_exception, extended). */
static int put_pass_on_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL);
    corio_queue_put_nowait(&q, "a");
    op a = {&q, "A", "A", 0, 0}, b = {&q, "B", "B", 0, 0};
    corio_task *ta = corio_spawn(putter, &a), *tb = corio_spawn(putter, &b);
    corio_yield();
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    corio_cancel(ta);
    corio_yield();
    corio_yield();
    CHECK(a.done && b.done);
    corio_join(ta);
    corio_join(tb);
    CHECK_LOG("A:C B+B ");
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    CHECK(strcmp(item, "B") == 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);

    /* test_cancelled_puts_not_being_held_in_self_putters. */
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL);
    corio_queue_put_nowait(&q, "a");
    op c = {&q, "C", "C", 0, 0};
    corio_task *tc = corio_spawn(putter, &c);
    corio_yield();
    CHECK_EQ(corio_queue_destroy(&q), -EBUSY);
    corio_cancel(tc);
    corio_join(tc);
    CHECK_EQ(c.rc, -ECANCELED);
    CHECK_EQ(corio_queue_size(&q), 1);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_put_pass_on(void) { run(put_pass_on_main, NULL); }

/* A task with a cancellation pending does not lose it to a put or get that
 * need not wait (asyncio: no suspension, no CancelledError), and gets it at
 * once from one that must wait. */
static int cancel_self_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL);
    corio_cancel(corio_current_task());
    CHECK_EQ(corio_queue_put(&q, "a"), 0);
    CHECK_EQ(corio_queue_put(&q, "b"), -ECANCELED);
    CHECK_EQ(corio_queue_size(&q), 1);
    corio_task_uncancel(corio_current_task());
    corio_cancel(corio_current_task());
    CHECK_EQ(corio_queue_get(&q, &item), 0);
    CHECK_EQ(corio_queue_get(&q, &item), -ECANCELED);
    corio_task_uncancel(corio_current_task());
    CHECK_EQ(corio_queue_task_done(&q), 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_cancel_pending(void) { run(cancel_self_main, NULL); }

/* ---- task_done and join --------------------------------------------------------------- */

typedef struct work {
    corio_queue *q;
    long sum;
} work;

static int worker(void *arg) {
    work *w = arg;
    void *item;
    for (;;) {
        int rc = corio_queue_get(w->q, &item);
        if (rc) return rc;
        if (N(item) < 0) {
            corio_queue_task_done(w->q);
            return 0;
        }
        w->sum += N(item);
        corio_yield();
        corio_queue_task_done(w->q);
    }
}

static int task_done_main(void *arg) {
    int kind = (int)(intptr_t)arg;
    corio_queue q;
    corio_queue_init(&q, kind, 0, cmp_int);
    CHECK_EQ(corio_queue_join(&q), 0); /* test_join_empty_queue, twice */
    CHECK_EQ(corio_queue_join(&q), 0);
    for (int i = 0; i < 100; i++) corio_queue_put_nowait(&q, I(i));
    work w = {&q, 0};
    corio_task *t1 = corio_spawn(worker, &w), *t2 = corio_spawn(worker, &w);
    CHECK_EQ(corio_queue_join(&q), 0);
    CHECK_EQ(w.sum, 4950);
    corio_queue_put_nowait(&q, I(-1));
    corio_queue_put_nowait(&q, I(-1));
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(corio_queue_join(&q), 0);
    CHECK_EQ(corio_queue_task_done(&q), -EINVAL); /* test_task_done_underflow */
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_task_done_join(void) {
    for (int kind = 0; kind < 3; kind++) run(task_done_main, (void *)(intptr_t)kind);
}

/* Every joiner wakes; one cancelled while waiting or after being woken
 * returns -ECANCELED; a joiner woken returns even if a put came since. */
static int join_cancel_main(void *arg) {
    (void)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    corio_queue_put_nowait(&q, "1");
    op j[3] = {{&q, "J1", 0, 0, 0}, {&q, "J2", 0, 0, 0}, {&q, "J3", 0, 0, 0}};
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(joiner, &j[i]);
    corio_yield();
    CHECK_EQ(corio_queue_destroy(&q), -EBUSY);
    corio_cancel(t[2]);
    corio_queue_get_nowait(&q, &item);
    CHECK_EQ(corio_queue_task_done(&q), 0);
    corio_cancel(t[0]);
    corio_queue_put_nowait(&q, "2");
    corio_yield();
    corio_yield();
    for (int i = 0; i < 3; i++) corio_join(t[i]);
    CHECK_LOG("J3:C J1:C J2:joined ");
    CHECK_EQ(q.unfinished, 1);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_join_cancel(void) { run(join_cancel_main, NULL); }

/* ---- shutdown (test_queues.py _QueueShutdownTestMixin, for each kind) ------------------- */

static int shutdown_empty_main(void *arg) {
    int kind = (int)(intptr_t)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, kind, 0, cmp_int);
    op g = {&q, "G", 0, 0, 0};
    corio_task *t = corio_spawn(getter, &g);
    corio_yield();
    CHECK_EQ(corio_queue_shutdown(&q, 0), 0);
    CHECK_EQ(corio_queue_size(&q), 0);
    CHECK_EQ(corio_queue_join(&q), 0);
    corio_yield();
    CHECK(g.done);
    CHECK_EQ(g.rc, -ESHUTDOWN);
    corio_join(t);
    CHECK_EQ(corio_queue_put(&q, I(1)), -ESHUTDOWN);
    CHECK_EQ(corio_queue_put_nowait(&q, I(1)), -ESHUTDOWN);
    CHECK_EQ(corio_queue_get(&q, &item), -ESHUTDOWN);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), -ESHUTDOWN);
    CHECK(q.items == NULL); /* a refused put allocates nothing */
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static int shutdown_nonempty_main(void *arg) {
    int kind = (int)(intptr_t)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, kind, 1, cmp_int);
    corio_queue_put_nowait(&q, I(7));
    op j = {&q, "J", 0, 0, 0}, p = {&q, "P", I(8), 0, 0};
    corio_task *tj = corio_spawn(joiner, &j), *tp = corio_spawn(putter, &p);
    corio_yield();
    CHECK(!p.done);
    CHECK_EQ(corio_queue_shutdown(&q, 0), 0);
    CHECK_EQ(corio_queue_size(&q), 1);
    corio_yield();
    CHECK(p.done);
    CHECK_EQ(p.rc, -ESHUTDOWN);
    CHECK_EQ(corio_queue_get(&q, &item), 0); /* drains what is left */
    CHECK_EQ(N(item), 7);
    corio_yield();
    CHECK(!j.done);
    CHECK_EQ(corio_queue_put(&q, I(1)), -ESHUTDOWN);
    CHECK_EQ(corio_queue_put_nowait(&q, I(1)), -ESHUTDOWN);
    CHECK_EQ(corio_queue_get(&q, &item), -ESHUTDOWN);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), -ESHUTDOWN);
    CHECK_EQ(corio_queue_task_done(&q), 0);
    corio_yield();
    CHECK(j.done);
    CHECK_EQ(j.rc, 0);
    CHECK_EQ(corio_queue_task_done(&q), -EINVAL);
    corio_join(tj);
    corio_join(tp);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static int shutdown_immediate_main(void *arg) {
    int kind = (int)(intptr_t)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, kind, 0, cmp_int);
    corio_queue_put_nowait(&q, I(1));
    op j = {&q, "J", 0, 0, 0};
    corio_task *tj = corio_spawn(joiner, &j);
    CHECK_EQ(corio_queue_shutdown(&q, 1), 0);
    CHECK_EQ(corio_queue_size(&q), 0);
    corio_yield();
    CHECK(j.done);
    CHECK_EQ(j.rc, 0);
    corio_join(tj);
    CHECK_EQ(corio_queue_put(&q, I(1)), -ESHUTDOWN);
    CHECK_EQ(corio_queue_put_nowait(&q, I(1)), -ESHUTDOWN);
    CHECK_EQ(corio_queue_get(&q, &item), -ESHUTDOWN);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), -ESHUTDOWN);
    CHECK_EQ(corio_queue_task_done(&q), -EINVAL);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static int shutdown_immediate_unfinished_main(void *arg) {
    int kind = (int)(intptr_t)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, kind, 0, cmp_int);
    corio_queue_put_nowait(&q, I(1));
    corio_queue_put_nowait(&q, I(1));
    op j = {&q, "J", 0, 0, 0};
    corio_task *tj = corio_spawn(joiner, &j);
    CHECK_EQ(corio_queue_get(&q, &item), 0);
    CHECK_EQ(corio_queue_shutdown(&q, 1), 0); /* unfinished 2 -> 1 */
    CHECK_EQ(corio_queue_size(&q), 0);
    corio_yield();
    CHECK(!j.done);
    CHECK_EQ(corio_queue_put(&q, I(1)), -ESHUTDOWN);
    CHECK_EQ(corio_queue_put_nowait(&q, I(1)), -ESHUTDOWN);
    CHECK_EQ(corio_queue_get(&q, &item), -ESHUTDOWN);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), -ESHUTDOWN);
    CHECK_EQ(corio_queue_task_done(&q), 0);
    CHECK_EQ(corio_queue_task_done(&q), -EINVAL);
    corio_yield();
    CHECK(j.done);
    CHECK_EQ(j.rc, 0);
    corio_join(tj);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_shutdown(void) {
    for (int kind = 0; kind < 3; kind++) {
        run(shutdown_empty_main, (void *)(intptr_t)kind);
        run(shutdown_nonempty_main, (void *)(intptr_t)kind);
        run(shutdown_immediate_main, (void *)(intptr_t)kind);
        run(shutdown_immediate_unfinished_main, (void *)(intptr_t)kind);
    }
}

/* Many getters, then many putters, all released by one shutdown. */
static int shutdown_wakes_all_main(void *arg) {
    int immediate = (int)(intptr_t)arg;
    corio_queue q;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 2, NULL);
    op g[3] = {{&q, "G1", 0, 0, 0}, {&q, "G2", 0, 0, 0}, {&q, "G3", 0, 0, 0}};
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(getter, &g[i]);
    corio_yield();
    corio_queue_shutdown(&q, immediate);
    for (int i = 0; i < 3; i++) corio_join(t[i]);
    CHECK_LOG("G1:SD G2:SD G3:SD ");

    /* Putters blocked on a full queue. */
    logbuf[0] = 0;
    corio_queue_destroy(&q);
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 2, NULL);
    corio_queue_put_nowait(&q, "a");
    corio_queue_put_nowait(&q, "b");
    op p[3] = {{&q, "P1", "1", 0, 0}, {&q, "P2", "2", 0, 0}, {&q, "P3", "3", 0, 0}};
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(putter, &p[i]);
    corio_yield();
    corio_queue_shutdown(&q, immediate);
    for (int i = 0; i < 3; i++) corio_join(t[i]);
    CHECK_LOG("P1:SD P2:SD P3:SD ");
    CHECK_EQ(corio_queue_size(&q), immediate ? 0 : 2);
    CHECK_EQ(q.unfinished, immediate ? 0 : 2);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_shutdown_wakes_all(void) {
    run(shutdown_wakes_all_main, (void *)0);
    run(shutdown_wakes_all_main, (void *)1);
}

/* Shutdown right after a wake-up, before the woken task ran (checked
 * against asyncio): a normal shutdown lets the woken getter take its item,
 * an immediate one drops it; a woken putter finds the queue shut either way. */
static int shutdown_race_main(void *arg) {
    int immediate = (int)(intptr_t)arg;
    corio_queue q;
    void *item;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    op g1 = {&q, "G1", 0, 0, 0}, g2 = {&q, "G2", 0, 0, 0};
    corio_task *t1 = corio_spawn(getter, &g1), *t2 = corio_spawn(getter, &g2);
    corio_yield();
    corio_queue_put_nowait(&q, "a");
    corio_queue_shutdown(&q, immediate);
    corio_yield();
    corio_yield();
    corio_join(t1);
    corio_join(t2);
    CHECK_LOG(immediate ? "G1:SD G2:SD " : "G1=a G2:SD ");
    CHECK_EQ(corio_queue_size(&q), 0);
    CHECK_EQ(corio_queue_destroy(&q), 0);

    logbuf[0] = 0;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL);
    corio_queue_put_nowait(&q, "a");
    op p1 = {&q, "P1", "b", 0, 0}, p2 = {&q, "P2", "c", 0, 0};
    t1 = corio_spawn(putter, &p1);
    t2 = corio_spawn(putter, &p2);
    corio_yield();
    CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    corio_queue_shutdown(&q, immediate);
    corio_yield();
    corio_yield();
    corio_join(t1);
    corio_join(t2);
    CHECK_LOG("P1:SD P2:SD ");
    CHECK_EQ(corio_queue_size(&q), 0);
    CHECK_EQ(q.unfinished, 1);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_shutdown_race(void) {
    run(shutdown_race_main, (void *)0);
    run(shutdown_race_main, (void *)1);
}

/* A getter woken by shutdown and cancelled before it ran: nothing to pass on. */
static int shutdown_then_cancel_main(void *arg) {
    (void)arg;
    corio_queue q;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    op g = {&q, "G", 0, 0, 0};
    corio_task *t = corio_spawn(getter, &g);
    corio_yield();
    corio_queue_shutdown(&q, 0);
    corio_cancel(t);
    corio_join(t);
    CHECK_LOG("G:C ");
    CHECK_EQ(corio_queue_shutdown(&q, 1), 0); /* a second shutdown is harmless */
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_shutdown_then_cancel(void) { run(shutdown_then_cancel_main, NULL); }

/* ---- allocation failure ----------------------------------------------------------------- */

static void nomem_case(int kind) {
    corio_queue q;
    void *item;
    CHECK_EQ(corio_queue_init(&q, kind, 0, cmp_int), 0);
    /* The first put allocates; when that fails nothing is taken. */
    corio__test_fail_alloc_after(0);
    CHECK_EQ(corio_queue_put_nowait(&q, I(100)), -ENOMEM);
    CHECK_EQ(corio_queue_put(&q, I(100)), -ENOMEM);
    corio__test_fail_alloc_after(-1);
    CHECK_EQ(corio_queue_size(&q), 0);
    CHECK_EQ(corio_queue_task_done(&q), -EINVAL); /* not counted as put */
    CHECK(q.items == NULL);
    /* Growing: 8 slots full (FIFO wrapped at head 3; LIFO lost 7, 6, 5), the 9th put fails. */
    for (int i = 0; i < 8; i++) CHECK_EQ(corio_queue_put_nowait(&q, I(i)), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
    for (int i = 8; i < 11; i++) CHECK_EQ(corio_queue_put_nowait(&q, I(i)), 0);
    CHECK_EQ(q.cap, 8);
    corio__test_fail_alloc_after(0);
    CHECK_EQ(corio_queue_put_nowait(&q, I(100)), -ENOMEM);
    corio__test_fail_alloc_after(-1);
    CHECK_EQ(corio_queue_size(&q), 8);
    CHECK_EQ(q.unfinished, 11);
    CHECK_EQ(corio_queue_put_nowait(&q, I(11)), 0);
    CHECK_EQ(corio_queue_size(&q), 9);
    int fifo[9] = {3, 4, 5, 6, 7, 8, 9, 10, 11}, lifo[9] = {11, 10, 9, 8, 4, 3, 2, 1, 0};
    for (int i = 0; i < 9; i++) {
        CHECK_EQ(corio_queue_get_nowait(&q, &item), 0);
        CHECK_EQ(N(item), kind == CORIO_QUEUE_LIFO ? lifo[i] : fifo[i]);
    }
    CHECK_EQ(corio_queue_destroy(&q), 0);
}

/* A failed put wakes no getter; the getter gets the next item that fits. */
static int nomem_getter_main(void *arg) {
    (void)arg;
    corio_queue q;
    corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL);
    op g = {&q, "G", 0, 0, 0};
    corio_task *t = corio_spawn(getter, &g);
    corio_yield();
    corio__test_fail_alloc_after(0);
    CHECK_EQ(corio_queue_put(&q, "lost"), -ENOMEM);
    corio__test_fail_alloc_after(-1);
    corio_yield();
    CHECK(!g.done);
    CHECK_EQ(corio_queue_put(&q, "kept"), 0);
    corio_join(t);
    CHECK_LOG("G=kept ");
    CHECK_EQ(corio_queue_destroy(&q), 0);
    return 0;
}

static void test_nomem(void) {
    for (int kind = 0; kind < 3; kind++) nomem_case(kind);
    run(nomem_getter_main, NULL);
}

int main(void) {
    RUN_TEST(test_init_and_bad_input);
    RUN_TEST(test_outside_a_task);
    RUN_TEST(test_order);
    RUN_TEST(test_fifo_ring);
    RUN_TEST(test_priority_heap);
    RUN_TEST(test_maxsize);
    RUN_TEST(test_getters_in_line);
    RUN_TEST(test_blocking_wait);
    RUN_TEST(test_waiting_putters);
    RUN_TEST(test_putters_waiting);
    RUN_TEST(test_woken_getter_requeues);
    RUN_TEST(test_get_cancelled_race);
    RUN_TEST(test_get_cancel_drop_one_reader);
    RUN_TEST(test_get_cancel_drop_many_readers);
    RUN_TEST(test_put_cancel_drop);
    RUN_TEST(test_put_cancelled_race);
    RUN_TEST(test_put_pass_on);
    RUN_TEST(test_cancel_pending);
    RUN_TEST(test_task_done_join);
    RUN_TEST(test_join_cancel);
    RUN_TEST(test_shutdown);
    RUN_TEST(test_shutdown_wakes_all);
    RUN_TEST(test_shutdown_race);
    RUN_TEST(test_shutdown_then_cancel);
    RUN_TEST(test_nomem);
    TEST_MAIN_END();
}
