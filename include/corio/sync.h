/*
 * corio/sync.h - Lock, Event, Condition, Semaphore, BoundedSemaphore,
 * Barrier (asyncio.Lock and friends, with Python 3.13's semantics).
 *
 * These synchronise tasks of one loop; they are not thread-safe.  Waiters
 * wake in FIFO order, and a waiter cancelled after being woken passes the
 * wake-up on, so a cancellation never swallows a wake-up meant for another.
 * Every suspending call returns -ECANCELED if the calling task is
 * cancelled while waiting, -EPERM when called outside a task, and -EXDEV
 * when it would have to wait while tasks of another loop wait on the same
 * object (asyncio: "bound to a different event loop").
 *
 * All structs are caller-allocated; init them before use and destroy them
 * when no task waits on them any more.  Their fields are private.  A
 * zero-filled struct (never initialised) or one already destroyed is
 * refused with -EINVAL by every call that changes it or waits on it (the
 * queries then report "not locked" / "not set"); init makes it usable
 * again.
 */
#ifndef CORIO_SYNC_H
#define CORIO_SYNC_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Lock ---------------------------------------------------------------- */

typedef struct corio_lock {
    corio_list waiters;  /* struct corio__waiter, FIFO */
    int locked;          /* 1 while held */
} corio_lock;

/* Initialise an unlocked lock.  0 or -EINVAL. */
CORIO_API int corio_lock_init(corio_lock *l);

/* Retire a lock.  0; -EBUSY while tasks wait on it; -EINVAL (NULL, not
 * initialised, destroyed already). */
CORIO_API int corio_lock_destroy(corio_lock *l);

/* Acquire (asyncio Lock.acquire).  SUSPENDS while held by another.  0, -ECANCELED, -EPERM, -EINVAL. */
CORIO_API int corio_lock_acquire(corio_lock *l);

/* Acquire only if acquire would not suspend: 0; -EBUSY when held, or when
 * free but queued tasks not cancelled are owed it first; -EINVAL.  Never
 * suspends, and works outside a task. */
CORIO_API int corio_lock_try_acquire(corio_lock *l);

/* Release and wake the first waiter.  0, or -EPERM when not locked (asyncio
 * RuntimeError), -EINVAL.  Any task (or code outside a task) may release. */
CORIO_API int corio_lock_release(corio_lock *l);

/* 1 when held (0 for NULL). */
CORIO_API int corio_lock_locked(const corio_lock *l);

/* ---- Event --------------------------------------------------------------- */

typedef struct corio_event {
    corio_list waiters;  /* struct corio__waiter */
    int value;           /* 1 when set */
} corio_event;

/* Initialise a clear event.  0 or -EINVAL. */
CORIO_API int corio_event_init(corio_event *e);

/* Retire.  0, -EBUSY while tasks wait, -EINVAL. */
CORIO_API int corio_event_destroy(corio_event *e);

/* Set the event and wake every waiter.  0 or -EINVAL.  Does not suspend. */
CORIO_API int corio_event_set(corio_event *e);

/* Clear it.  0 or -EINVAL.  Does not suspend. */
CORIO_API int corio_event_clear(corio_event *e);

/* 1 when set (0 for NULL). */
CORIO_API int corio_event_is_set(const corio_event *e);

/* Wait until set (returns at once if set).  SUSPENDS.  0, -ECANCELED, -EPERM, -EINVAL. */
CORIO_API int corio_event_wait(corio_event *e);

/* ---- Condition ----------------------------------------------------------- */

typedef struct corio_condition {
    corio_lock own_lock;  /* used when no lock is given at init */
    corio_lock *lock;     /* the lock in use */
    corio_list waiters;   /* struct corio__waiter, FIFO */
} corio_condition;

/* Initialise with `lock`, or with a lock of its own when lock is NULL.  0 or -EINVAL. */
CORIO_API int corio_condition_init(corio_condition *c, corio_lock *lock);

/* Retire.  0, -EBUSY while tasks wait, -EINVAL. */
CORIO_API int corio_condition_destroy(corio_condition *c);

/* Acquire / release / test the underlying lock (as corio_lock_*: acquire
 * SUSPENDS while the lock is held by another). */
CORIO_API int corio_condition_acquire(corio_condition *c);
CORIO_API int corio_condition_release(corio_condition *c);
CORIO_API int corio_condition_locked(const corio_condition *c);

/*
 * Release the lock, wait for a notify, re-acquire the lock (asyncio
 * Condition.wait).  SUSPENDS.  The lock is held again when this returns,
 * whatever it returns (even -ECANCELED).  -EPERM if the lock is not held.
 */
CORIO_API int corio_condition_wait(corio_condition *c);

/*
 * Wait until pred(arg) returns non-zero (asyncio Condition.wait_for); pred
 * is checked first and after every wake-up, with the lock held.  Returns 0,
 * or the error of corio_condition_wait.  SUSPENDS.
 */
CORIO_API int corio_condition_wait_for(corio_condition *c, int (*pred)(void *arg), void *arg);

/* Wake up to n waiters (FIFO), skipping any already woken or cancelled.
 * The lock must be held: else -EPERM.  Does not suspend. */
CORIO_API int corio_condition_notify(corio_condition *c, size_t n);

/* Wake every waiter.  The lock must be held: else -EPERM. */
CORIO_API int corio_condition_notify_all(corio_condition *c);

/* ---- Semaphore and BoundedSemaphore -------------------------------------- */

typedef struct corio_semaphore {
    corio_list waiters;  /* struct corio__waiter, FIFO */
    long value;          /* free units */
    long bound;          /* initial value for a bounded semaphore, else -1 */
} corio_semaphore;

/* A semaphore with `value` units (>= 0).  0 or -EINVAL. */
CORIO_API int corio_semaphore_init(corio_semaphore *s, long value);

/* A BoundedSemaphore: releasing above `value` is an error.  0 or -EINVAL. */
CORIO_API int corio_semaphore_init_bounded(corio_semaphore *s, long value);

/* Retire.  0, -EBUSY while tasks wait, -EINVAL. */
CORIO_API int corio_semaphore_destroy(corio_semaphore *s);

/* Take one unit; SUSPENDS while none is free.  0, -ECANCELED, -EPERM, -EINVAL. */
CORIO_API int corio_semaphore_acquire(corio_semaphore *s);

/* Return one unit and wake the first waiter.  0; -EOVERFLOW for a bounded one
 * released too often (asyncio ValueError), or when the value would pass
 * LONG_MAX; -EINVAL.  Does not suspend. */
CORIO_API int corio_semaphore_release(corio_semaphore *s);

/* 1 when acquire would suspend (asyncio Semaphore.locked): no unit is free,
 * or tasks not cancelled are queued.  0 for NULL. */
CORIO_API int corio_semaphore_locked(const corio_semaphore *s);

/* Free units now (units taken for woken waiters not counted); -EINVAL for NULL. */
CORIO_API long corio_semaphore_value(const corio_semaphore *s);

/* ---- Barrier ------------------------------------------------------------- */

/* Returned by corio_barrier_wait when the barrier is broken (aborted) or
 * reset while the task waits (asyncio.BrokenBarrierError); beyond any
 * errno, named by corio_strerror(). */
enum { CORIO_EBROKEN_BARRIER = -11200 };

/* A barrier's state (asyncio's _BarrierState), from corio_barrier_state. */
enum {
    CORIO_BARRIER_FILLING = 0,   /* tasks are arriving */
    CORIO_BARRIER_DRAINING = 1,  /* the last party arrived: the waiters are leaving */
    CORIO_BARRIER_RESETTING = 2, /* reset while tasks were inside: they leave with CORIO_EBROKEN_BARRIER */
    CORIO_BARRIER_BROKEN = 3     /* aborted: every wait fails until a reset */
};

typedef struct corio_barrier {
    corio_condition cond;  /* every state change notifies all (asyncio's _cond) */
    size_t parties;        /* tasks needed to trip it */
    size_t count;          /* tasks inside wait() */
    int state;             /* CORIO_BARRIER_* */
} corio_barrier;

/* Initialise a barrier for `parties` tasks (1 to INT_MAX; asyncio:
 * ValueError when < 1).  0 or -EINVAL. */
CORIO_API int corio_barrier_init(corio_barrier *b, size_t parties);

/* Retire.  0; -EBUSY while tasks are inside wait() or queued for its lock;
 * -EINVAL. */
CORIO_API int corio_barrier_destroy(corio_barrier *b);

/*
 * Wait until `parties` tasks have called this (asyncio Barrier.wait, and
 * `async with barrier as i`).  SUSPENDS, except for the task that
 * completes the party, which returns at once and lets the others go.
 * Returns the task's index, 0 to parties - 1 in order of arrival (as in
 * asyncio, a waiter cancelled before the trip frees its place, so two
 * tasks of one trip may then share an index); CORIO_EBROKEN_BARRIER if the barrier is broken, or is
 * reset or aborted while the task waits; -ECANCELED (a cancelled waiter
 * leaves the party: the barrier keeps filling without it), -EPERM outside
 * a task, -EINVAL.  While the barrier drains or resets, newcomers wait for
 * it to fill again before they count.
 */
CORIO_API int corio_barrier_wait(corio_barrier *b);

/*
 * Put the barrier back to filling (asyncio Barrier.reset): tasks waiting
 * in it now return CORIO_EBROKEN_BARRIER, and it fills again once they
 * have left; a broken barrier is repaired.  SUSPENDS while another task
 * holds the barrier's lock (briefly, as it goes in or out).  0,
 * -ECANCELED, -EPERM outside a task, -EINVAL.
 */
CORIO_API int corio_barrier_reset(corio_barrier *b);

/*
 * Break the barrier (asyncio Barrier.abort): every task waiting in it, and
 * every later wait until a reset, returns CORIO_EBROKEN_BARRIER.  SUSPENDS
 * as corio_barrier_reset.  0, -ECANCELED, -EPERM outside a task, -EINVAL.
 */
CORIO_API int corio_barrier_abort(corio_barrier *b);

/* The number of tasks needed to trip it (0 for NULL). */
CORIO_API size_t corio_barrier_parties(const corio_barrier *b);

/* Tasks waiting for the party to fill (asyncio n_waiting: 0 unless filling; 0 for NULL). */
CORIO_API size_t corio_barrier_n_waiting(const corio_barrier *b);

/* 1 when broken (asyncio Barrier.broken), else 0. */
CORIO_API int corio_barrier_broken(const corio_barrier *b);

/* CORIO_BARRIER_FILLING, _DRAINING, _RESETTING or _BROKEN; -EINVAL for
 * NULL or a barrier not initialised. */
CORIO_API int corio_barrier_state(const corio_barrier *b);

#ifdef __cplusplus
}
#endif
#endif
