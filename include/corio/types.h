/*
 * corio/types.h - the plain data types shared by every part of the API.
 *
 * corio follows libuv here: objects that live inside one await or one
 * scope (futures, handles, locks, timeout scopes, task groups) are
 * caller-allocated structs whose layout is visible, so that they can sit
 * on a task's stack or inside the caller's own structures without a
 * malloc.  Their fields are PRIVATE unless marked otherwise: read and
 * change them only through the functions of the header that owns them.
 *
 * Tasks and loops are opaque and library-allocated.
 */
#ifndef CORIO_TYPES_H
#define CORIO_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(CORIO_STATIC)
#define CORIO_API __attribute__((visibility("default")))
#else
#define CORIO_API
#endif

typedef struct corio_loop corio_loop; /* an event loop (opaque) */
typedef struct corio_task corio_task; /* a task: a future plus a stack (opaque) */
typedef struct corio_context corio_context;       /* a context of variables' values (opaque; corio/context.h) */
typedef struct corio_contextvar corio_contextvar; /* a context variable (opaque; corio/context.h) */

/* An intrusive doubly linked circular list node (private). */
typedef struct corio_list {
    struct corio_list *next;
    struct corio_list *prev;
} corio_list;

/*
 * Something that can sit in a loop's ready queue (private).  `run` is
 * called once when the node reaches the head of the queue.
 */
typedef struct corio__node {
    corio_list link;                     /* ready queue or a future's callback list */
    void (*run)(struct corio__node *n);  /* what to do when it is this node's turn */
} corio__node;

/* A loop's timer (private; its size is part of corio_handle's, so a change
 * here is an ABI change: 32 bytes on 64-bit targets since the timer
 * wheel's slots became arrays, 48 before). */
typedef struct corio__timer {
    int64_t when;                          /* deadline, loop clock, nanoseconds */
    size_t index;                          /* position in the heap, or a tag bit and the place in a wheel slot; SIZE_MAX when not armed */
    uint64_t seq;                          /* when it was armed: FIFO among equal deadlines */
    void (*fire)(struct corio__timer *t);  /* called when the deadline has passed */
} corio__timer;

/* The plain callback type of call_soon / call_later / call_at. */
typedef void (*corio_callback)(void *arg);

/*
 * A scheduled callback (asyncio.Handle / TimerHandle).  Caller-allocated;
 * see corio/loop.h.  Zero-initialise it before its first use (`= {0}`);
 * afterwards it may be scheduled again once it has run or been cancelled.
 */
typedef struct corio_handle {
    corio__node node;      /* in the ready queue while due */
    corio__timer timer;    /* in the timer heap while waiting for its time */
    corio_callback cb;     /* the user's function */
    void *arg;             /* its argument */
    corio_loop *loop;      /* the loop it was scheduled on */
    unsigned state;        /* CORIO__H_* bits (private) */
} corio_handle;

/*
 * A future (asyncio.Future): pending, then done with a result or an error,
 * or cancelled.  Caller-allocated; see corio/future.h.
 */
typedef struct corio_future {
    corio_loop *loop;       /* the loop it belongs to */
    corio_list callbacks;   /* corio__node entries to schedule when it is done */
    intptr_t value;         /* the result, valid when state is DONE and err is 0 (private once cancelled: a kept message) */
    int err;                /* 0 or a negative errno, valid when DONE */
    unsigned char state;    /* 0 pending, 1 done, 2 cancelled */
    unsigned char kind;     /* 0 plain, 1 task, 2 gather (private: selects cancel()) */
    uint16_t magic;         /* set by init, cleared by destroy: catches stray pointers */
} corio_future;

#ifdef __cplusplus
}
#endif
#endif
