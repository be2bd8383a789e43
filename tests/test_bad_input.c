/*
 * test_bad_input.c - every public call of the futures, tasks,
 * combinators, scopes, groups, sync primitives and queues given bad input:
 * NULL pointers, zeroed (never initialised) or destroyed objects, calls
 * outside a task, objects of another loop, double joins.  Each must return
 * its documented negative errno (or NULL + errno), never crash, hang or
 * leak, and leave the loop closable clean.
 */
#include "test.h"

static int ret_arg(void *arg) { return (int)(intptr_t)arg; }
static int sleep_ret(void *arg) {
    int rc = corio_sleep(1);
    return rc < 0 ? rc : (int)(intptr_t)arg;
}
static int joiner(void *arg) { return corio_join(arg); }
static void fcb(corio_future *f, void *arg) {
    (void)f;
    (void)arg;
}

/* ---- outside any loop / task --------------------------------------------------- */

static void test_outside_a_loop(void) {
    corio_future f;
    CHECK_EQ(corio_future_init(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_future_init(&f, NULL), -EPERM);
    errno = 0;
    CHECK(corio_spawn(ret_arg, NULL) == NULL && errno == EPERM);
    errno = 0;
    CHECK(corio_spawn_opts(ret_arg, NULL, NULL) == NULL && errno == EPERM);
    errno = 0;
    CHECK(corio_loop_spawn(NULL, ret_arg, NULL, NULL) == NULL && errno == EINVAL);
    CHECK(corio_current_task() == NULL);
    CHECK_EQ(corio_all_tasks(NULL, 0), 0);
    CHECK_EQ(corio_sleep(1), -EPERM);
    CHECK_EQ(corio_yield(), -EPERM);
    CHECK_EQ(corio_join(NULL), -EINVAL);
    CHECK_EQ(corio_gather(NULL, 0, 0), -EPERM);
    CHECK_EQ(corio_wait(NULL, 0, CORIO_ALL_COMPLETED, 1, NULL, NULL), -EPERM);
    CHECK_EQ(corio_wait_for(NULL, 1, NULL), -EPERM);
    CHECK_EQ(corio_shield(NULL, NULL), -EPERM);
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, NULL, 0, 1), -EPERM);
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, 1), -EPERM);
    CHECK_EQ(corio_timeout_enter_at(&to, 1), -EPERM);
    corio_taskgroup g;
    CHECK_EQ(corio_taskgroup_enter(&g), -EPERM);
}

/* ---- futures ---------------------------------------------------------------------- */

static int m_futures(void *arg) {
    (void)arg;
    corio_future z = {0}; /* never initialised */
    CHECK_EQ(corio_future_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_future_destroy(&z), -EINVAL);
    CHECK_EQ(corio_future_set_result(NULL, 1), -EINVAL);
    CHECK_EQ(corio_future_set_result(&z, 1), -EINVAL);
    CHECK_EQ(corio_future_set_error(&z, -EIO), -EINVAL);
    CHECK_EQ(corio_future_cancel(NULL), -EINVAL);
    CHECK_EQ(corio_future_cancel(&z), -EINVAL);
    CHECK_EQ(corio_future_done(NULL), 0);
    CHECK_EQ(corio_future_cancelled(NULL), 0);
    CHECK_EQ(corio_future_result(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_future_result(&z, NULL), -EINVAL);
    CHECK_EQ(corio_await(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_await(&z, NULL), -EINVAL);
    CHECK_EQ(corio_future_add_done_callback(NULL, fcb, NULL), -EINVAL);
    CHECK_EQ(corio_future_add_done_callback(&z, fcb, NULL), -EINVAL);
    CHECK_EQ(corio_future_remove_done_callback(NULL, fcb, NULL), -EINVAL);
    CHECK_EQ(corio_future_remove_done_callback(&z, fcb, NULL), -EINVAL);

    corio_future f;
    CHECK_EQ(corio_future_init(&f, NULL), 0);
    CHECK_EQ(corio_future_add_done_callback(&f, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_future_set_error(&f, 0), -EINVAL);
    CHECK_EQ(corio_future_set_error(&f, EIO), -EINVAL);
    CHECK_EQ(corio_future_set_error(&f, -ECANCELED), -EINVAL);
    CHECK_EQ(corio_future_result(&f, NULL), -EINPROGRESS);
    CHECK_EQ(corio_future_add_done_callback(&f, fcb, NULL), 0);
    CHECK_EQ(corio_future_destroy(&f), -EBUSY);
    CHECK_EQ(corio_future_remove_done_callback(&f, fcb, NULL), 1);
    CHECK_EQ(corio_future_set_result(&f, 3), 0);
    CHECK_EQ(corio_future_set_result(&f, 4), -EINVAL);
    CHECK_EQ(corio_future_set_error(&f, -EIO), -EINVAL);
    CHECK_EQ(corio_future_cancel(&f), 0);
    CHECK_EQ(corio_future_destroy(&f), 0);
    /* Destroyed: every call refuses it. */
    CHECK_EQ(corio_future_destroy(&f), -EINVAL);
    CHECK_EQ(corio_future_result(&f, NULL), -EINVAL);
    CHECK_EQ(corio_await(&f, NULL), -EINVAL);
    CHECK_EQ(corio_future_cancel(&f), -EINVAL);
    CHECK_EQ(corio_future_add_done_callback(&f, fcb, NULL), -EINVAL);

    /* A task's own future: not settable from outside; awaiting it from the
     * task itself is a deadlock. */
    corio_task *me = corio_current_task();
    CHECK_EQ(corio_future_set_result(corio_task_future(me), 1), -EINVAL);
    CHECK_EQ(corio_future_set_error(corio_task_future(me), -EIO), -EINVAL);
    CHECK_EQ(corio_await(corio_task_future(me), NULL), -EDEADLK);
    CHECK_EQ(corio_wait_for(corio_task_future(me), 1, NULL), -EDEADLK);
    CHECK_EQ(corio_wait_for(corio_task_future(me), INFINITY, NULL), -EDEADLK);
    CHECK(corio_future_task(corio_task_future(me)) == me);
    CHECK(corio_future_task(&z) == NULL);
    CHECK(corio_future_task(NULL) == NULL);
    CHECK(corio_task_future(NULL) == NULL);
    return 0;
}
static void test_futures(void) { CHECK_EQ(test_run(m_futures, NULL, 1), 0); }

/* ---- tasks ------------------------------------------------------------------------ */

static int m_tasks(void *arg) {
    (void)arg;
    errno = 0;
    CHECK(corio_spawn(NULL, NULL) == NULL && errno == EINVAL);
    CHECK_EQ(corio_join(NULL), -EINVAL);
    CHECK_EQ(corio_task_detach(NULL), -EINVAL);
    CHECK_EQ(corio_task_ref(NULL), -EINVAL);
    CHECK_EQ(corio_cancel(NULL), -EINVAL);
    CHECK_EQ(corio_task_cancelling(NULL), -EINVAL);
    CHECK_EQ(corio_task_uncancel(NULL), -EINVAL);
    CHECK_EQ(corio_task_done(NULL), 0);
    CHECK_EQ(corio_task_cancelled(NULL), 0);
    CHECK_EQ(corio_task_result(NULL), -EINVAL);
    CHECK(strcmp(corio_task_name(NULL), "") == 0);
    CHECK_EQ(corio_task_set_name(NULL, "x"), -EINVAL);
    CHECK_EQ(corio_sleep(NAN), -EINVAL);

    /* A plain future is not a task. */
    corio_future f;
    corio_future_init(&f, NULL);
    CHECK_EQ(corio_join((corio_task *)&f), -EINVAL);
    CHECK_EQ(corio_cancel((corio_task *)&f), -EINVAL);
    CHECK_EQ(corio_future_destroy(&f), 0);

    corio_task *me = corio_current_task();
    CHECK_EQ(corio_task_set_name(me, NULL), -EINVAL);
    CHECK_EQ(corio_join(me), -EDEADLK);

    /* Join twice: the second join, while the first waits, is refused (the
     * reference was claimed) and the first still gets the outcome. */
    corio_task *t = corio_spawn(sleep_ret, (void *)7);
    corio_task *j = corio_spawn(joiner, t);
    CHECK_EQ(corio_yield(), 0); /* j is waiting in corio_join(t) */
    CHECK_EQ(corio_join(t), -EINVAL);
    CHECK_EQ(corio_join(j), 7);
    /* With a second reference, two joins are fine, each gets the outcome. */
    t = corio_spawn(ret_arg, (void *)6);
    CHECK_EQ(corio_task_ref(t), 0);
    CHECK_EQ(corio_join(t), 6);
    CHECK_EQ(corio_join(t), 6);
    t = corio_spawn(ret_arg, (void *)8);
    CHECK_EQ(corio_task_detach(t), 0);
    CHECK_EQ(corio_task_detach(t), -EINVAL);
    CHECK_EQ(corio_yield(), 0);
    return 0;
}
static void test_tasks(void) { CHECK_EQ(test_run(m_tasks, NULL, 1), 0); }

/* ---- another loop's objects ------------------------------------------------------- */

typedef struct other {
    corio_loop *loop;   /* the other loop */
    corio_future f;     /* of the other loop */
    corio_task *t;      /* of the other loop, never run */
} other;

static int m_other_loop(void *arg) {
    other *o = arg;
    corio_future *fp = &o->f, *tf = corio_task_future(o->t);
    CHECK_EQ(corio_await(fp, NULL), -EXDEV);
    CHECK_EQ(corio_await(tf, NULL), -EXDEV);
    CHECK_EQ(corio_join(o->t), -EXDEV);
    CHECK_EQ(corio_wait_for(fp, 1, NULL), -EXDEV);
    CHECK_EQ(corio_wait_for(fp, 0, NULL), -EXDEV);
    CHECK_EQ(corio_shield(fp, NULL), -EXDEV);
    CHECK_EQ(corio_gather(&fp, 1, 0), -EXDEV);
    CHECK_EQ(corio_wait(&fp, 1, CORIO_ALL_COMPLETED, 1, NULL, NULL), -EXDEV);
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, &fp, 1, 1), -EXDEV);
    /* Nothing of ours is left on the other loop's future. */
    CHECK_EQ(corio_future_destroy(fp), 0);
    CHECK_EQ(corio_future_init(fp, o->loop), 0);
    return 0;
}
static void test_other_loop(void) {
    corio_loop *b = corio_loop_new();
    other o = {.loop = b};
    CHECK_EQ(corio_future_init(&o.f, b), 0);
    o.t = corio_loop_spawn(b, ret_arg, (void *)5, NULL);
    CHECK_EQ(test_run(m_other_loop, &o, 1), 0);
    CHECK_EQ(corio_loop_run_until_complete(b, corio_task_future(o.t)), 0);
    CHECK_EQ(corio_task_result(o.t), 5);
    CHECK_EQ(corio_task_detach(o.t), 0);
    CHECK_EQ(corio_future_destroy(&o.f), 0);
    CHECK_EQ(corio_loop_close(b), 0);
}

/* ---- combinators ------------------------------------------------------------------ */

static int m_combinators(void *arg) {
    (void)arg;
    corio_future z = {0}, f;
    corio_future_init(&f, NULL);
    corio_future *zs[2] = {&f, &z}, *nul[1] = {NULL}, *fp = &f;
    CHECK_EQ(corio_gather(NULL, 1, 0), -EINVAL);
    CHECK_EQ(corio_gather(nul, 1, 0), -EINVAL);
    CHECK_EQ(corio_gather(zs, 2, 0), -EINVAL);
    CHECK_EQ(corio_gather(NULL, 0, 0), 0);
    CHECK_EQ(corio_wait(NULL, 1, CORIO_ALL_COMPLETED, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(&fp, 0, CORIO_ALL_COMPLETED, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(nul, 1, CORIO_ALL_COMPLETED, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(zs, 2, CORIO_ALL_COMPLETED, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(&fp, 1, 0, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(&fp, 1, 4, 1, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait(&fp, 1, CORIO_ALL_COMPLETED, NAN, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_wait_for(NULL, 1, NULL), -EINVAL);
    CHECK_EQ(corio_wait_for(&z, 1, NULL), -EINVAL);
    CHECK_EQ(corio_wait_for(&f, NAN, NULL), -EINVAL);
    CHECK_EQ(corio_shield(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_shield(&z, NULL), -EINVAL);
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(NULL, &fp, 1, 1), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, NULL, 1, 1), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, nul, 1, 1), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, zs, 2, 1), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, &fp, 1, NAN), -EINVAL);
    CHECK_EQ(corio_as_completed_next(NULL, &fp), -EINVAL);
    CHECK_EQ(corio_as_completed_close(NULL), -EINVAL);
    CHECK_EQ(corio_as_completed_init(&it, &fp, 1, INFINITY), 0);
    CHECK_EQ(corio_as_completed_next(&it, NULL), -EINVAL);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_future_destroy(&f), 0); /* nothing left registered */
    return 0;
}
static void test_combinators(void) { CHECK_EQ(test_run(m_combinators, NULL, 1), 0); }

/* as_completed_next from a callback: -EPERM. */
static void next_from_callback(void *arg) {
    corio_as_completed *it = arg;
    corio_future *out;
    CHECK_EQ(corio_as_completed_next(it, &out), -EPERM);
}
static int m_ac_callback(void *arg) {
    (void)arg;
    corio_future f;
    corio_future_init(&f, NULL);
    corio_future *fp = &f;
    corio_as_completed it;
    CHECK_EQ(corio_as_completed_init(&it, &fp, 1, INFINITY), 0);
    CHECK_EQ(corio_call_soon(NULL, next_from_callback, &it), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_as_completed_close(&it), 0);
    CHECK_EQ(corio_future_destroy(&f), 0);
    return 0;
}
static void test_as_completed_from_callback(void) { CHECK_EQ(test_run(m_ac_callback, NULL, 1), 0); }

/* ---- timeout scopes and task groups ----------------------------------------------- */

static int m_scopes(void *arg) {
    (void)arg;
    corio_timeout to = {0};
    CHECK_EQ(corio_timeout_enter(NULL, 1), -EINVAL);
    CHECK_EQ(corio_timeout_enter(&to, NAN), -EINVAL);
    CHECK_EQ(corio_timeout_enter_at(&to, NAN), -EINVAL);
    CHECK_EQ(corio_timeout_exit(NULL, 0), -EINVAL);
    CHECK_EQ(corio_timeout_exit(&to, 0), -EINVAL); /* never entered */
    CHECK_EQ(corio_timeout_reschedule(NULL, 1), -EINVAL);
    CHECK_EQ(corio_timeout_reschedule(&to, 1), -EINVAL);
    CHECK(isinf(corio_timeout_when(NULL)));
    CHECK_EQ(corio_timeout_expired(NULL), 0);
    CHECK_EQ(corio_timeout_enter(&to, 10), 0);
    CHECK_EQ(corio_timeout_enter(&to, 10), -EALREADY);
    CHECK_EQ(corio_timeout_reschedule(&to, NAN), -EINVAL);
    CHECK_EQ(corio_timeout_exit(&to, 5), 5);
    CHECK_EQ(corio_timeout_exit(&to, 5), -EINVAL); /* left twice */
    CHECK_EQ(corio_timeout_reschedule(&to, 1), -EINVAL);

    corio_taskgroup g = {0};
    CHECK_EQ(corio_taskgroup_enter(NULL), -EINVAL);
    errno = 0;
    CHECK(corio_taskgroup_spawn(NULL, ret_arg, NULL, NULL) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(corio_taskgroup_spawn(&g, ret_arg, NULL, NULL) == NULL && errno == EINVAL);
    CHECK_EQ(corio_taskgroup_exit(NULL, 0), -EINVAL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), -EINVAL);
    CHECK_EQ(corio_taskgroup_nerrors(NULL), 0);
    CHECK_EQ(corio_taskgroup_error(NULL, 0), 0);
    CHECK_EQ(corio_taskgroup_enter(&g), 0);
    CHECK_EQ(corio_taskgroup_enter(&g), -EALREADY);
    errno = 0;
    CHECK(corio_taskgroup_spawn(&g, NULL, NULL, NULL) == NULL && errno == EINVAL);
    CHECK(corio_taskgroup_spawn(&g, ret_arg, (void *)1, NULL) != NULL);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), 0);
    CHECK_EQ(corio_taskgroup_exit(&g, 0), -EINVAL);
    errno = 0;
    CHECK(corio_taskgroup_spawn(&g, ret_arg, NULL, NULL) == NULL && errno == EINVAL);
    CHECK_EQ(corio_taskgroup_error(&g, 0), 0);
    return 0;
}
static void test_scopes(void) { CHECK_EQ(test_run(m_scopes, NULL, 1), 0); }

/* ---- sync primitives: NULL, zeroed, destroyed, outside a task ----------------------- */

static void test_sync_outside_a_task(void) {
    corio_lock l;
    corio_event e;
    corio_condition c;
    corio_semaphore s;
    corio_queue q;
    void *item;
    CHECK_EQ(corio_lock_init(&l), 0);
    CHECK_EQ(corio_lock_acquire(&l), -EPERM);
    CHECK_EQ(corio_lock_try_acquire(&l), 0);
    CHECK_EQ(corio_lock_release(&l), 0);
    CHECK_EQ(corio_lock_destroy(&l), 0);
    CHECK_EQ(corio_event_init(&e), 0);
    CHECK_EQ(corio_event_wait(&e), -EPERM);
    CHECK_EQ(corio_event_destroy(&e), 0);
    CHECK_EQ(corio_condition_init(&c, NULL), 0);
    CHECK_EQ(corio_condition_acquire(&c), -EPERM);
    CHECK_EQ(corio_condition_wait(&c), -EPERM);
    CHECK_EQ(corio_condition_destroy(&c), 0);
    CHECK_EQ(corio_semaphore_init(&s, 0), 0);
    CHECK_EQ(corio_semaphore_acquire(&s), -EPERM);
    CHECK_EQ(corio_semaphore_destroy(&s), 0);
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_FIFO, 1, NULL), 0);
    CHECK_EQ(corio_queue_get(&q, &item), -EPERM);
    CHECK_EQ(corio_queue_put(&q, NULL), 0);
    CHECK_EQ(corio_queue_put(&q, NULL), -EPERM);
    CHECK_EQ(corio_queue_join(&q), -EPERM);
    CHECK_EQ(corio_queue_destroy(&q), 0);
}

static int m_sync_bad(void *arg) {
    (void)arg;
    corio_lock lz = {0}, l;
    CHECK_EQ(corio_lock_init(NULL), -EINVAL);
    CHECK_EQ(corio_lock_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_lock_acquire(NULL), -EINVAL);
    CHECK_EQ(corio_lock_try_acquire(NULL), -EINVAL);
    CHECK_EQ(corio_lock_release(NULL), -EINVAL);
    CHECK_EQ(corio_lock_locked(NULL), 0);
    CHECK_EQ(corio_lock_acquire(&lz), -EINVAL);
    CHECK_EQ(corio_lock_try_acquire(&lz), -EINVAL);
    CHECK_EQ(corio_lock_release(&lz), -EINVAL);
    CHECK_EQ(corio_lock_destroy(&lz), -EINVAL);
    CHECK_EQ(corio_lock_init(&l), 0);
    CHECK_EQ(corio_lock_release(&l), -EPERM);
    CHECK_EQ(corio_lock_acquire(&l), 0);
    CHECK_EQ(corio_lock_try_acquire(&l), -EBUSY);
    CHECK_EQ(corio_lock_release(&l), 0);
    CHECK_EQ(corio_lock_destroy(&l), 0);
    CHECK_EQ(corio_lock_destroy(&l), -EINVAL);
    CHECK_EQ(corio_lock_acquire(&l), -EINVAL);
    CHECK_EQ(corio_lock_locked(&l), 0);

    corio_event ez = {0}, e;
    CHECK_EQ(corio_event_init(NULL), -EINVAL);
    CHECK_EQ(corio_event_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_event_set(NULL), -EINVAL);
    CHECK_EQ(corio_event_clear(NULL), -EINVAL);
    CHECK_EQ(corio_event_wait(NULL), -EINVAL);
    CHECK_EQ(corio_event_is_set(NULL), 0);
    CHECK_EQ(corio_event_set(&ez), -EINVAL);
    CHECK_EQ(corio_event_wait(&ez), -EINVAL);
    CHECK_EQ(corio_event_init(&e), 0);
    CHECK_EQ(corio_event_destroy(&e), 0);
    CHECK_EQ(corio_event_destroy(&e), -EINVAL);
    CHECK_EQ(corio_event_wait(&e), -EINVAL);
    CHECK_EQ(corio_event_set(&e), -EINVAL);

    corio_condition cz = {0}, c;
    CHECK_EQ(corio_condition_init(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_condition_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_condition_acquire(NULL), -EINVAL);
    CHECK_EQ(corio_condition_release(NULL), -EINVAL);
    CHECK_EQ(corio_condition_locked(NULL), 0);
    CHECK_EQ(corio_condition_wait(NULL), -EINVAL);
    CHECK_EQ(corio_condition_wait_for(NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_condition_notify(NULL, 1), -EINVAL);
    CHECK_EQ(corio_condition_notify_all(NULL), -EINVAL);
    CHECK_EQ(corio_condition_acquire(&cz), -EINVAL);
    CHECK_EQ(corio_condition_wait(&cz), -EINVAL);
    CHECK_EQ(corio_condition_notify(&cz, 1), -EINVAL);
    CHECK_EQ(corio_condition_init(&c, NULL), 0);
    CHECK_EQ(corio_condition_wait_for(&c, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_condition_wait(&c), -EPERM);   /* lock not held */
    CHECK_EQ(corio_condition_notify(&c, 1), -EPERM);
    CHECK_EQ(corio_condition_notify_all(&c), -EPERM);
    CHECK_EQ(corio_condition_release(&c), -EPERM);
    CHECK_EQ(corio_condition_destroy(&c), 0);
    CHECK_EQ(corio_condition_destroy(&c), -EINVAL);
    CHECK_EQ(corio_condition_acquire(&c), -EINVAL);
    CHECK_EQ(corio_condition_locked(&c), 0);

    corio_semaphore sz = {0}, s;
    CHECK_EQ(corio_semaphore_init(NULL, 1), -EINVAL);
    CHECK_EQ(corio_semaphore_init(&s, -1), -EINVAL);
    CHECK_EQ(corio_semaphore_init_bounded(NULL, 1), -EINVAL);
    CHECK_EQ(corio_semaphore_init_bounded(&s, -1), -EINVAL);
    CHECK_EQ(corio_semaphore_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_semaphore_acquire(NULL), -EINVAL);
    CHECK_EQ(corio_semaphore_release(NULL), -EINVAL);
    CHECK_EQ(corio_semaphore_locked(NULL), 0);
    CHECK_EQ(corio_semaphore_value(NULL), -EINVAL);
    CHECK_EQ(corio_semaphore_acquire(&sz), -EINVAL);
    CHECK_EQ(corio_semaphore_release(&sz), -EINVAL);
    CHECK_EQ(corio_semaphore_init_bounded(&s, 1), 0);
    CHECK_EQ(corio_semaphore_release(&s), -EOVERFLOW);
    CHECK_EQ(corio_semaphore_destroy(&s), 0);
    CHECK_EQ(corio_semaphore_destroy(&s), -EINVAL);
    CHECK_EQ(corio_semaphore_acquire(&s), -EINVAL);
    CHECK_EQ(corio_semaphore_locked(&s), 0);
    CHECK_EQ(corio_semaphore_value(&s), -EINVAL);

    corio_queue qz = {0}, q;
    void *item = NULL;
    CHECK_EQ(corio_queue_init(NULL, CORIO_QUEUE_FIFO, 0, NULL), -EINVAL);
    CHECK_EQ(corio_queue_init(&q, 3, 0, NULL), -EINVAL);
    CHECK_EQ(corio_queue_init(&q, -1, 0, NULL), -EINVAL);
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_PRIORITY, 0, NULL), -EINVAL);
    CHECK_EQ(corio_queue_destroy(NULL), -EINVAL);
    CHECK_EQ(corio_queue_put(&qz, NULL), -EINVAL);
    CHECK_EQ(corio_queue_put_nowait(&qz, NULL), -EINVAL);
    CHECK_EQ(corio_queue_get(&qz, &item), -EINVAL);
    CHECK_EQ(corio_queue_get_nowait(&qz, &item), -EINVAL);
    CHECK_EQ(corio_queue_task_done(&qz), -EINVAL);
    CHECK_EQ(corio_queue_join(&qz), -EINVAL);
    CHECK_EQ(corio_queue_shutdown(&qz, 0), -EINVAL);
    CHECK_EQ(corio_queue_destroy(&qz), -EINVAL);
    CHECK_EQ(corio_queue_init(&q, CORIO_QUEUE_FIFO, 0, NULL), 0);
    CHECK_EQ(corio_queue_get(&q, NULL), -EINVAL);
    CHECK_EQ(corio_queue_get_nowait(&q, NULL), -EINVAL);
    CHECK_EQ(corio_queue_get_nowait(&q, &item), -EAGAIN);
    CHECK_EQ(corio_queue_task_done(&q), -EINVAL);
    CHECK_EQ(corio_queue_destroy(&q), 0);
    CHECK_EQ(corio_queue_destroy(&q), -EINVAL);
    CHECK_EQ(corio_queue_put(&q, NULL), -EINVAL);
    return 0;
}
static void test_sync_bad(void) { CHECK_EQ(test_run(m_sync_bad, NULL, 1), 0); }

/* ---- a sync object in use by another loop's tasks ---------------------------------- */

typedef struct shared {
    corio_lock lock;
    corio_event event;
    corio_semaphore sem;
    corio_queue queue;
} shared;

static int hold_lock(void *arg) {
    shared *s = arg;
    return corio_lock_acquire(&s->lock);
}
static int wait_all(void *arg) {
    shared *s = arg;
    void *item;
    int rc = corio_lock_acquire(&s->lock);
    if (rc == 0) rc = corio_event_wait(&s->event);
    if (rc == 0) rc = corio_semaphore_acquire(&s->sem);
    if (rc == 0) rc = corio_queue_get(&s->queue, &item);
    if (rc == 0) rc = corio_lock_release(&s->lock);
    return rc;
}
static int other_loop_waits(void *arg) {
    shared *s = arg;
    /* The lock is held by a task of loop A and another task of loop A
     * waits for it: waiting too, from loop B, is refused. */
    CHECK_EQ(corio_lock_acquire(&s->lock), -EXDEV);
    CHECK_EQ(corio_lock_try_acquire(&s->lock), -EBUSY);
    return 0;
}
static int other_loop_waits_2(void *arg) {
    shared *s = arg;
    CHECK_EQ(corio_event_wait(&s->event), -EXDEV);
    CHECK_EQ(corio_semaphore_release(&s->sem), 0); /* never waits: fine */
    CHECK_EQ(corio_semaphore_acquire(&s->sem), 0); /* a unit is free: no wait */
    return 0;
}

static void test_sync_other_loop(void) {
    shared s;
    corio_lock_init(&s.lock);
    corio_event_init(&s.event);
    corio_semaphore_init(&s.sem, 0);
    corio_queue_init(&s.queue, CORIO_QUEUE_FIFO, 0, NULL);
    corio_loop *a = corio_loop_new(), *b = corio_loop_new();
    corio_task *h = corio_loop_spawn(a, hold_lock, &s, NULL);
    corio_task *w = corio_loop_spawn(a, wait_all, &s, NULL);
    CHECK_EQ(corio_loop_run_until_complete(a, corio_task_future(h)), 0);
    CHECK_EQ(corio_task_done(w), 0); /* waits for the lock */

    corio_task *x = corio_loop_spawn(b, other_loop_waits, &s, NULL);
    CHECK_EQ(corio_loop_run_until_complete(b, corio_task_future(x)), 0);
    corio_task_detach(x);

    /* Let w take the lock and wait on the event. */
    CHECK_EQ(corio_lock_release(&s.lock), 0);
    corio_loop_stop(a);
    CHECK_EQ(corio_loop_run_forever(a), 0);
    corio_loop_stop(a);
    CHECK_EQ(corio_loop_run_forever(a), 0);
    CHECK_EQ(corio_task_done(w), 0);
    x = corio_loop_spawn(b, other_loop_waits_2, &s, NULL);
    CHECK_EQ(corio_loop_run_until_complete(b, corio_task_future(x)), 0);
    corio_task_detach(x);

    /* Let w through everything. */
    CHECK_EQ(corio_event_set(&s.event), 0);
    CHECK_EQ(corio_semaphore_release(&s.sem), 0);
    CHECK_EQ(corio_queue_put_nowait(&s.queue, NULL), 0);
    CHECK_EQ(corio_loop_run_until_complete(a, corio_task_future(w)), 0);
    corio_task_detach(h);
    corio_task_detach(w);
    CHECK_EQ(corio_loop_close(a), 0);
    CHECK_EQ(corio_loop_close(b), 0);
    CHECK_EQ(corio_lock_destroy(&s.lock), 0);
    CHECK_EQ(corio_event_destroy(&s.event), 0);
    CHECK_EQ(corio_semaphore_destroy(&s.sem), 0);
    CHECK_EQ(corio_queue_destroy(&s.queue), 0);
}

int main(void) {
    RUN_TEST(test_outside_a_loop);
    RUN_TEST(test_futures);
    RUN_TEST(test_tasks);
    RUN_TEST(test_other_loop);
    RUN_TEST(test_combinators);
    RUN_TEST(test_as_completed_from_callback);
    RUN_TEST(test_scopes);
    RUN_TEST(test_sync_outside_a_task);
    RUN_TEST(test_sync_bad);
    RUN_TEST(test_sync_other_loop);
    TEST_MAIN_END();
}
