/*
 * Context variables (corio/context.h): the cases of CPython's
 * Lib/test/test_context.py that apply to C (get/set/reset, tokens, copies,
 * Context.run) and the context cases of test_asyncio/test_tasks.py
 * (test_context_1, 3, 4, 5: a task runs in a copy of its spawner's
 * context, or in the one it is given).  The expected outcomes are what
 * Python 3.13 gives for the same scenarios.
 */
#include "test.h"

#include <pthread.h>

/* From src/base/alloc.c: allow n more library allocations, then fail (-1: never). */
void corio__test_fail_alloc_after(long n);

static intptr_t get_or(corio_contextvar *v, intptr_t d) { return corio_contextvar_get_or(v, d); }

/* test_context.py test_context_getset_1, in a fresh context (the test's
 * @isolated_context is a Context().run). */
static int getset_1(void *arg) {
    (void)arg;
    corio_contextvar *c = corio_contextvar_new("c", 0, 0);
    CHECK(c != NULL);
    CHECK(strcmp(corio_contextvar_name(c), "c") == 0);
    intptr_t v = 7;
    CHECK_EQ(corio_contextvar_get(c, &v), -ENOENT); /* LookupError */
    CHECK_EQ(v, 7);
    CHECK_EQ(get_or(c, -1), -1);
    corio_context_token t0, t;
    CHECK_EQ(corio_contextvar_set(c, 42, &t0), 0);
    CHECK_EQ(corio_contextvar_get(c, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(t0.had_old, 0); /* Token.MISSING */
    CHECK(t0.var == c);
    CHECK_EQ(corio_contextvar_set(c, 1000, &t), 0);
    CHECK_EQ(get_or(c, -1), 1000);
    CHECK_EQ(t.had_old, 1);
    CHECK_EQ(t.old_value, 42);
    CHECK_EQ(corio_contextvar_reset(c, &t), 0);
    CHECK_EQ(get_or(c, -1), 42);
    CHECK_EQ(corio_contextvar_set(c, 2000, NULL), 0);
    CHECK_EQ(corio_contextvar_reset(c, &t), -EINVAL); /* RuntimeError: used once */
    CHECK_EQ(get_or(c, -1), 2000);
    corio_context *ctx1 = corio_context_copy();
    CHECK(ctx1 != NULL);
    CHECK_EQ(corio_contextvar_reset(c, &t0), 0);
    CHECK_EQ(corio_contextvar_reset(c, &t0), -EINVAL);
    CHECK_EQ(get_or(c, -1), -1);
    CHECK_EQ(corio_contextvar_get(c, &v), -ENOENT);
    CHECK_EQ(corio_context_get(ctx1, c, &v), 0); /* the copy kept its value */
    CHECK_EQ(v, 2000);
    corio_context *ctx2 = corio_context_copy();
    CHECK_EQ(corio_context_get(ctx2, c, &v), -ENOENT);
    corio_context_free(ctx1);
    corio_context_free(ctx2);
    corio_contextvar_free(c);
    return 0;
}

static void test_getset_1(void) {
    corio_context *ctx = corio_context_new();
    CHECK_EQ(corio_context_run(ctx, getset_1, NULL), 0);
    corio_context_free(ctx);
}

/* test_context_getset_2: a token of another variable (ValueError). */
static int getset_2(void *arg) {
    (void)arg;
    corio_contextvar *v1 = corio_contextvar_new("v1", 0, 0), *v2 = corio_contextvar_new("v2", 0, 0);
    corio_context_token t1;
    CHECK_EQ(corio_contextvar_set(v1, 42, &t1), 0);
    CHECK_EQ(corio_contextvar_reset(v2, &t1), -EINVAL);
    CHECK_EQ(get_or(v1, -1), 42); /* nothing changed */
    CHECK_EQ(corio_contextvar_reset(v1, &t1), 0);
    corio_contextvar_free(v1);
    corio_contextvar_free(v2);
    return 0;
}

static void test_getset_2(void) {
    corio_context *ctx = corio_context_new();
    CHECK_EQ(corio_context_run(ctx, getset_2, NULL), 0);
    corio_context_free(ctx);
}

/* test_context_getset_3: the default, and a reset to "no value" removes
 * the variable from the context. */
struct g3 {
    corio_contextvar *c;
    corio_context *ctx;
};

static int getset_3(void *arg) {
    struct g3 *g = arg;
    intptr_t v = 0;
    CHECK_EQ(corio_contextvar_get(g->c, &v), 0);
    CHECK_EQ(v, 42); /* the default */
    CHECK_EQ(corio_context_get(g->ctx, g->c, &v), -ENOENT); /* KeyError: defaults are not in the mapping */
    corio_context_token t;
    CHECK_EQ(corio_contextvar_set(g->c, 1, &t), 0);
    CHECK_EQ(corio_context_get(g->ctx, g->c, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(corio_contextvar_reset(g->c, &t), 0);
    CHECK_EQ(corio_context_get(g->ctx, g->c, &v), -ENOENT);
    CHECK_EQ(corio_contextvar_get(g->c, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(get_or(g->c, 5), 5); /* get(default): the argument wins */
    return 0;
}

static void test_getset_3(void) {
    struct g3 g = {corio_contextvar_new("c", 1, 42), corio_context_new()};
    CHECK_EQ(corio_context_run(g.ctx, getset_3, &g), 0);
    corio_context_free(g.ctx);
    corio_contextvar_free(g.c);
}

/* test_context_getset_4: a token made inside ctx.run, reset outside (ValueError). */
struct g4 {
    corio_contextvar *c;
    corio_context_token tok;
};

static int set_1(void *arg) {
    struct g4 *g = arg;
    return corio_contextvar_set(g->c, 1, &g->tok);
}

static void test_getset_4(void) {
    struct g4 g = {corio_contextvar_new("c", 1, 42), {0}};
    corio_context *ctx = corio_context_new();
    CHECK_EQ(corio_context_run(ctx, set_1, &g), 0);
    CHECK_EQ(corio_contextvar_reset(g.c, &g.tok), -EINVAL);
    CHECK_EQ(get_or(g.c, -1), -1); /* the thread's context never had it */
    intptr_t v = 0;
    CHECK_EQ(corio_context_get(ctx, g.c, &v), 0);
    CHECK_EQ(v, 1);
    corio_context_free(ctx);
    corio_contextvar_free(g.c);
}

/* test_context_copy_1: a copy taken inside a run is independent; running
 * the copy changes the copy only. */
struct cp {
    corio_contextvar *c;
    corio_context *ctx1;
};

static int ctx2_fun(void *arg) {
    struct cp *s = arg;
    CHECK_EQ(get_or(s->c, -1), 10);
    CHECK_EQ(corio_contextvar_set(s->c, 30, NULL), 0);
    CHECK_EQ(get_or(s->c, -1), 30);
    return 0;
}

static int ctx1_fun(void *arg) {
    struct cp *s = arg;
    intptr_t v = 0;
    CHECK_EQ(corio_contextvar_set(s->c, 10, NULL), 0);
    corio_context *ctx2 = corio_context_copy();
    CHECK_EQ(corio_context_get(ctx2, s->c, &v), 0);
    CHECK_EQ(v, 10);
    CHECK_EQ(corio_contextvar_set(s->c, 20, NULL), 0);
    CHECK_EQ(corio_context_get(s->ctx1, s->c, &v), 0);
    CHECK_EQ(v, 20);
    CHECK_EQ(corio_context_get(ctx2, s->c, &v), 0);
    CHECK_EQ(v, 10);
    CHECK_EQ(corio_context_run(ctx2, ctx2_fun, s), 0);
    CHECK_EQ(corio_context_get(s->ctx1, s->c, &v), 0);
    CHECK_EQ(v, 20);
    CHECK_EQ(corio_context_get(ctx2, s->c, &v), 0);
    CHECK_EQ(v, 30);
    corio_context_free(ctx2);
    return 0;
}

static void test_copy_1(void) {
    struct cp s = {corio_contextvar_new("c", 1, 42), corio_context_new()};
    CHECK_EQ(corio_context_run(s.ctx1, ctx1_fun, &s), 0);
    corio_context_free(s.ctx1);
    corio_contextvar_free(s.c);
}

/* test_context_run_7 (entering an entered context: RuntimeError) and
 * run_5 (sets made in a run stay in its context, not the caller's). */
struct r7 {
    corio_context *ctx;
    corio_contextvar *var;
    int inner;
};

static int reenter(void *arg) {
    struct r7 *s = arg;
    s->inner = corio_context_run(s->ctx, reenter, s);
    corio_contextvar_set(s->var, 1, NULL);
    return -EIO; /* an error from fn is simply returned (run_5's exception) */
}

static void test_run_7_and_5(void) {
    struct r7 s = {corio_context_new(), corio_contextvar_new("var", 0, 0), 0};
    CHECK_EQ(corio_context_run(s.ctx, reenter, &s), -EIO);
    CHECK_EQ(s.inner, -EBUSY);
    CHECK_EQ(get_or(s.var, -1), -1);
    intptr_t v = 0;
    CHECK_EQ(corio_context_get(s.ctx, s.var, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(corio_context_run(NULL, reenter, &s), -EINVAL);
    CHECK_EQ(corio_context_run(s.ctx, NULL, &s), -EINVAL);
    corio_context_free(s.ctx);
    corio_contextvar_free(s.var);
}

/* test_context_threads_1: another thread starts with a context of its own. */
static void *other_thread(void *arg) {
    intptr_t *seen = arg;
    corio_contextvar *v = (corio_contextvar *)seen[0];
    seen[1] = get_or(v, -1);
    corio_context_token t;
    corio_contextvar_set(v, 2, &t);
    seen[2] = get_or(v, -1);
    corio_contextvar_reset(v, &t);
    corio_contextvar_set(v, 3, NULL); /* left set: freed at the thread's exit (LeakSanitizer, valgrind) */
    return NULL;
}

static void test_threads(void) {
    corio_contextvar *v = corio_contextvar_new("tv", 0, 0);
    corio_context_token t;
    CHECK_EQ(corio_contextvar_set(v, 1, &t), 0);
    intptr_t seen[3] = {(intptr_t)v, 0, 0};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, other_thread, seen), 0);
    pthread_join(th, NULL);
    CHECK_EQ(seen[1], -1);
    CHECK_EQ(seen[2], 2);
    CHECK_EQ(get_or(v, -1), 1);
    CHECK_EQ(corio_contextvar_reset(v, &t), 0);
    corio_contextvar_free(v);
}

/* ---- tasks ------------------------------------------------------------------------ */

static corio_contextvar *cvar;

/* test_tasks.py test_context_1: the child sees the value its parent had
 * when it spawned it; its set is invisible to the parent. */
static int t1_sub(void *arg) {
    (void)arg;
    CHECK_EQ(corio_yield(), 0);
    intptr_t v = 0;
    CHECK_EQ(corio_contextvar_get(cvar, &v), 0);
    CHECK_EQ(v, 'n');
    CHECK_EQ(corio_contextvar_set(cvar, 's', NULL), 0);
    CHECK_EQ(get_or(cvar, -1), 's');
    return 0;
}

static int t1_main(void *arg) {
    (void)arg;
    intptr_t v = 0;
    CHECK_EQ(corio_contextvar_get(cvar, &v), 0);
    CHECK_EQ(v, 'n'); /* the default 'nope' */
    corio_task *sub = corio_spawn(t1_sub, NULL);
    CHECK_EQ(corio_contextvar_set(cvar, 'y', NULL), 0);
    CHECK_EQ(get_or(cvar, -1), 'y');
    CHECK_EQ(corio_join(sub), 0);
    CHECK_EQ(get_or(cvar, -1), 'y');
    return 0;
}

static void test_task_context_1(void) {
    cvar = corio_contextvar_new("cvar", 1, 'n');
    CHECK_EQ(test_run(t1_main, NULL, 1), 0);
    /* The loop's tasks never touched the thread's context. */
    CHECK_EQ(get_or(cvar, -1), -1);
    corio_contextvar_free(cvar);
}

/* test_context_3: a hundred tasks set and yield; each keeps its own value. */
static int bad3;

static int t3_sub(void *arg) {
    intptr_t num = (intptr_t)arg;
    for (intptr_t i = 0; i < 10; i++) {
        CHECK_EQ(corio_contextvar_set(cvar, num + i, NULL), 0);
        CHECK_EQ(corio_yield(), 0);
        if (get_or(cvar, -2) != num + i) bad3++;
    }
    return 0;
}

static int t3_main(void *arg) {
    (void)arg;
    corio_task *ts[100];
    for (int i = 0; i < 100; i++) ts[i] = corio_spawn(t3_sub, (void *)(intptr_t)(i * 100));
    CHECK_EQ(corio_gather_tasks(ts, 100, 0), 0);
    for (int i = 0; i < 100; i++) CHECK_EQ(corio_join(ts[i]), 0);
    CHECK_EQ(bad3, 0);
    intptr_t v = 0;
    CHECK_EQ(corio_contextvar_get(cvar, &v), 0);
    CHECK_EQ(v, -1); /* the default */
    return 0;
}

static void test_task_context_3(void) {
    cvar = corio_contextvar_new("cvar", 1, -1);
    CHECK_EQ(test_run(t3_main, NULL, 1), 0);
    corio_contextvar_free(cvar);
}

/* test_context_4: create_task(context=ctx) runs the task in ctx itself,
 * so ctx keeps what it set ([None, 1, 2]); test_context_5:
 * ctx.run(create_task) copies ctx, which keeps nothing ([None, None, None]). */
static int t4_coro(void *arg) {
    CHECK_EQ(corio_yield(), 0);
    return corio_contextvar_set(cvar, (intptr_t)arg, NULL);
}

struct t5 {
    corio_task *t;
    intptr_t val;
};

static int t5_spawn(void *arg) {
    struct t5 *s = arg;
    s->t = corio_spawn(t4_coro, (void *)s->val);
    return s->t ? 0 : -errno;
}

static int t4_main(void *arg) {
    (void)arg;
    intptr_t v = 0;
    corio_context *ctx = corio_context_copy();
    CHECK_EQ(corio_context_get(ctx, cvar, &v), -ENOENT);
    corio_task_opts o = {.context = ctx};
    CHECK_EQ(corio_join(corio_spawn_opts(t4_coro, (void *)1, &o)), 0);
    CHECK_EQ(corio_context_get(ctx, cvar, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(corio_join(corio_spawn_opts(t4_coro, (void *)2, &o)), 0);
    CHECK_EQ(corio_context_get(ctx, cvar, &v), 0);
    CHECK_EQ(v, 2);
    CHECK_EQ(corio_contextvar_get(cvar, &v), -ENOENT); /* the spawner's own context is untouched */
    corio_context_free(ctx);

    ctx = corio_context_copy();
    struct t5 s = {NULL, 1};
    CHECK_EQ(corio_context_run(ctx, t5_spawn, &s), 0);
    CHECK_EQ(corio_join(s.t), 0);
    CHECK_EQ(corio_context_get(ctx, cvar, &v), -ENOENT);
    s.val = 2;
    CHECK_EQ(corio_context_run(ctx, t5_spawn, &s), 0);
    CHECK_EQ(corio_join(s.t), 0);
    CHECK_EQ(corio_context_get(ctx, cvar, &v), -ENOENT);
    corio_context_free(ctx);
    return 0;
}

static void test_task_context_4_5(void) {
    cvar = corio_contextvar_new("cvar", 0, 0);
    CHECK_EQ(test_run(t4_main, NULL, 1), 0);
    corio_contextvar_free(cvar);
}

/* Two tasks given the same context share it: the getter sees the setter's
 * value (asyncio: 6).  The context is freed by the caller while the tasks
 * still run in it: they hold it. */
static corio_event *ev;

static int shared_setter(void *arg) {
    (void)arg;
    CHECK_EQ(corio_contextvar_set(cvar, 6, NULL), 0);
    corio_event_set(ev);
    return 0;
}

static int shared_getter(void *arg) {
    (void)arg;
    CHECK_EQ(corio_event_wait(ev), 0);
    return (int)get_or(cvar, -1);
}

static int shared_main(void *arg) {
    (void)arg;
    corio_event e;
    corio_event_init(&e);
    ev = &e;
    corio_context *ctx = corio_context_new();
    corio_task_opts o = {.context = ctx};
    corio_task *a = corio_spawn_opts(shared_getter, NULL, &o);
    corio_task *b = corio_spawn_opts(shared_setter, NULL, &o);
    corio_context_free(ctx);
    CHECK_EQ(corio_join(a), 6);
    CHECK_EQ(corio_join(b), 0);
    CHECK_EQ(get_or(cvar, -1), -1); /* not set here */
    corio_event_destroy(&e);
    return 0;
}

static void test_shared_context(void) {
    cvar = corio_contextvar_new("cvar", 1, 0);
    CHECK_EQ(test_run(shared_main, NULL, 1), 0);
    corio_contextvar_free(cvar);
}

/* A token made in the parent cannot reset the variable in a child
 * (asyncio: ValueError, "created in a different Context"); reset in the
 * task that set it works, across suspensions. */
static corio_context_token parent_tok;

static int child_reset(void *arg) {
    (void)arg;
    CHECK_EQ(get_or(cvar, -1), 5);
    CHECK_EQ(corio_contextvar_reset(cvar, &parent_tok), -EINVAL);
    CHECK_EQ(get_or(cvar, -1), 5);
    return 0;
}

static int reset_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_contextvar_set(cvar, 5, &parent_tok), 0);
    CHECK_EQ(corio_join(corio_spawn(child_reset, NULL)), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(corio_contextvar_reset(cvar, &parent_tok), 0);
    CHECK_EQ(get_or(cvar, -1), -1);
    return 0;
}

static void test_reset_in_child(void) {
    cvar = corio_contextvar_new("cvar", 0, 0);
    CHECK_EQ(test_run(reset_main, NULL, 1), 0);
    corio_contextvar_free(cvar);
}

/* The main task copies the thread's context at spawn (asyncio.run copies
 * the context current when it starts); a callback runs in the thread's
 * context (asyncio: a copy of the context current at call_soon - corio
 * callbacks have no context of their own), and a task it spawns copies
 * that; an eager task copies its spawner's too. */
static intptr_t cb_seen, cb_child_seen;

static int cb_child(void *arg) {
    (void)arg;
    cb_child_seen = get_or(cvar, -1);
    return 0;
}

static void from_callback(void *arg) {
    cb_seen = get_or(cvar, -1);
    corio_task_detach(corio_spawn(cb_child, NULL));
    corio_event_set(arg);
}

static int eager_child(void *arg) {
    (void)arg;
    CHECK_EQ(get_or(cvar, -1), 'm');
    CHECK_EQ(corio_contextvar_set(cvar, 'e', NULL), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(get_or(cvar, -1), 'e');
    return 0;
}

static int thread_main(void *arg) {
    (void)arg;
    CHECK_EQ(get_or(cvar, -1), 't'); /* set on the thread before the loop ran */
    CHECK_EQ(corio_contextvar_set(cvar, 'm', NULL), 0);
    corio_event e;
    corio_event_init(&e);
    corio_handle h = {0};
    CHECK_EQ(corio_call_soon(&h, from_callback, &e), 0);
    CHECK_EQ(corio_event_wait(&e), 0);
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(cb_seen, 't');
    CHECK_EQ(cb_child_seen, 't');
    corio_task_opts o = {.eager = 1};
    corio_task *t = corio_spawn_opts(eager_child, NULL, &o);
    CHECK_EQ(get_or(cvar, -1), 'm');
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(get_or(cvar, -1), 'm');
    corio_event_destroy(&e);
    return 0;
}

static void test_thread_context_and_callbacks(void) {
    cvar = corio_contextvar_new("cvar", 0, 0);
    corio_context_token t;
    CHECK_EQ(corio_contextvar_set(cvar, 't', &t), 0);
    CHECK_EQ(test_run(thread_main, NULL, 1), 0);
    CHECK_EQ(get_or(cvar, -1), 't');
    CHECK_EQ(corio_contextvar_reset(cvar, &t), 0);
    corio_contextvar_free(cvar);
}

/* corio_context_run inside a task, across a suspension; a task spawned
 * there copies the entered context; a context freed by its owner during
 * the run lives until the run returns. */
struct inrun {
    corio_context *ctx;
    int child;
};

static int inrun_child(void *arg) {
    (void)arg;
    return (int)get_or(cvar, -1);
}

static int inrun_fn(void *arg) {
    struct inrun *s = arg;
    CHECK_EQ(get_or(cvar, -1), -1);
    CHECK_EQ(corio_contextvar_set(cvar, 8, NULL), 0);
    corio_context_free(s->ctx); /* the run holds it */
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(get_or(cvar, -1), 8);
    s->child = corio_join(corio_spawn(inrun_child, NULL));
    return 0;
}

static int inrun_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_contextvar_set(cvar, 1, NULL), 0);
    struct inrun s = {corio_context_new(), 0};
    CHECK_EQ(corio_context_run(s.ctx, inrun_fn, &s), 0);
    CHECK_EQ(s.child, 8);
    CHECK_EQ(get_or(cvar, -1), 1);
    return 0;
}

static void test_run_in_task(void) {
    cvar = corio_contextvar_new("cvar", 0, 0);
    CHECK_EQ(test_run(inrun_main, NULL, 1), 0);
    corio_contextvar_free(cvar);
}

/* Many sets of a few variables in one task keep one node each (they are
 * rewritten in place), and a child keeps the values it was given even
 * when the parent sets again afterwards. */
static int snap_child(void *arg) {
    corio_contextvar **vs = arg;
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(get_or(vs[0], -1), 999);
    CHECK_EQ(get_or(vs[1], -1), 1999);
    return 0;
}

static int many_main(void *arg) {
    corio_contextvar **vs = arg;
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(corio_contextvar_set(vs[0], i, NULL), 0);
        CHECK_EQ(corio_contextvar_set(vs[1], 1000 + i, NULL), 0);
    }
    corio_task *c = corio_spawn(snap_child, vs);
    for (int i = 0; i < 1000; i++) CHECK_EQ(corio_contextvar_set(vs[0], -i, NULL), 0);
    CHECK_EQ(corio_join(c), 0);
    CHECK_EQ(get_or(vs[0], 0), -999);
    return 0;
}

static void test_many_sets(void) {
    corio_contextvar *vs[2] = {corio_contextvar_new("a", 0, 0), corio_contextvar_new("b", 0, 0)};
    CHECK_EQ(test_run(many_main, vs, 1), 0);
    corio_contextvar_free(vs[0]);
    corio_contextvar_free(vs[1]);
}

/* A freed variable's bindings are dead: a new variable, even at the same
 * address, does not see them.  Tasks still holding contexts when their
 * loop closes give them back (close reports them: -ENOTEMPTY). */
static int never_runs(void *arg) {
    (void)arg;
    return 0;
}

static void test_free_and_close(void) {
    corio_contextvar *a = corio_contextvar_new("a", 0, 0);
    corio_context *ctx = corio_context_new();
    corio_context_token t;
    struct g4 g = {a, {0}};
    CHECK_EQ(corio_context_run(ctx, set_1, &g), 0);
    corio_contextvar_free(a);
    corio_contextvar *b = corio_contextvar_new("b", 0, 0);
    intptr_t v = 0;
    CHECK_EQ(corio_context_get(ctx, b, &v), -ENOENT);
    CHECK_EQ(corio_contextvar_set(b, 3, &t), 0);
    corio_loop *loop = corio_loop_new();
    corio_task_opts o = {.context = ctx};
    corio_task *t1 = corio_loop_spawn(loop, never_runs, NULL, &o);
    corio_task *t2 = corio_loop_spawn(loop, never_runs, NULL, NULL); /* copies the thread's: b = 3 */
    corio_context_free(ctx);
    corio_task_detach(t1);
    corio_task_detach(t2);
    fprintf(stderr, "(two \"Task was destroyed but it is pending!\" reports expected)\n");
    CHECK_EQ(corio_loop_close(loop), -ENOTEMPTY);
    CHECK_EQ(corio_contextvar_reset(b, &t), 0);
    corio_contextvar_free(b);
}

/* asyncio.Runner: every run's main task runs in the runner's one context,
 * copied from the thread's when the loop is made (Python 3.13: run 1 sees
 * 1, run 2 sees 2, the thread keeps 3); corio_run's main copies the
 * thread's context and leaves it as it was. */
static int runner_a(void *arg) {
    intptr_t *seen = arg;
    seen[0] = get_or(cvar, -1);
    return corio_contextvar_set(cvar, 2, NULL);
}

static int runner_b(void *arg) {
    intptr_t *seen = arg;
    seen[1] = get_or(cvar, -1);
    return 0;
}

static void test_runner(void) {
    cvar = corio_contextvar_new("v", 1, 0);
    corio_context_token t;
    CHECK_EQ(corio_contextvar_set(cvar, 1, &t), 0);
    corio_runner *ru = NULL;
    CHECK_EQ(corio_runner_new(NULL, &ru), 0);
    CHECK(corio_runner_loop(ru) != NULL); /* asyncio's __enter__: the context is copied now */
    CHECK_EQ(corio_contextvar_set(cvar, 3, NULL), 0);
    intptr_t seen[2] = {0, 0};
    CHECK_EQ(corio_runner_run(ru, runner_a, seen, NULL), 0);
    CHECK_EQ(corio_runner_run(ru, runner_b, seen, NULL), 0);
    CHECK_EQ(seen[0], 1);
    CHECK_EQ(seen[1], 2);
    CHECK_EQ(get_or(cvar, -1), 3);
    CHECK_EQ(corio_runner_free(ru), 0);
    CHECK_EQ(corio_run(runner_a, seen), 0);
    CHECK_EQ(seen[0], 3);
    CHECK_EQ(get_or(cvar, -1), 3);
    CHECK_EQ(corio_contextvar_reset(cvar, &t), 0);
    corio_contextvar_free(cvar);
}

/* Bad arguments, and out of memory: a failed set changes nothing. */
static void test_errors(void) {
    intptr_t v = 0;
    corio_context_token t;
    CHECK_EQ(corio_contextvar_get(NULL, &v), -EINVAL);
    CHECK_EQ(corio_contextvar_set(NULL, 1, NULL), -EINVAL);
    CHECK_EQ(corio_contextvar_reset(NULL, &t), -EINVAL);
    CHECK_EQ(corio_contextvar_get_or(NULL, 9), 9);
    CHECK(strcmp(corio_contextvar_name(NULL), "") == 0);
    errno = 0;
    CHECK(corio_contextvar_new(NULL, 0, 0) == NULL && errno == EINVAL);
    corio_contextvar_free(NULL);
    corio_context_free(NULL);
    corio_contextvar *c = corio_contextvar_new("c", 0, 0);
    CHECK_EQ(corio_contextvar_get(c, NULL), -EINVAL);
    CHECK_EQ(corio_contextvar_reset(c, NULL), -EINVAL);
    CHECK_EQ(corio_context_get(NULL, c, &v), -EINVAL);
    corio__test_fail_alloc_after(0);
    CHECK_EQ(corio_contextvar_set(c, 1, &t), -ENOMEM);
    errno = 0;
    CHECK(corio_context_new() == NULL && errno == ENOMEM);
    corio__test_fail_alloc_after(-1);
    CHECK_EQ(corio_contextvar_get(c, &v), -ENOENT);
    CHECK_EQ(corio_contextvar_reset(c, &t), -EINVAL); /* nothing to undo */
    CHECK_EQ(corio_contextvar_set(c, 1, &t), 0);
    corio_context *keep = corio_context_copy(); /* shares the node: the reset must allocate */
    corio__test_fail_alloc_after(0);
    CHECK_EQ(corio_contextvar_reset(c, &t), -ENOMEM);
    corio__test_fail_alloc_after(-1);
    CHECK_EQ(get_or(c, -1), 1);
    CHECK_EQ(corio_contextvar_reset(c, &t), 0); /* the token is still good */
    CHECK_EQ(corio_contextvar_get(c, &v), -ENOENT);
    corio_context_free(keep);
    corio_contextvar_free(c);
}

/* A token outlives the task it was made in: a new task that takes the
 * freed task's record (the stack cache hands out the last record freed)
 * must not pass as the same context (ValueError: "created in a different
 * Context").  The same for a context object freed and a new one made
 * where it was. */
static corio_context_token stale_tok;
static corio_contextvar *stale_var;
static corio_task *stale_self;
static int set_and_leave(void *arg) {
    (void)arg;
    stale_self = corio_current_task();
    CHECK_EQ(corio_contextvar_set(stale_var, 1, &stale_tok), 0);
    return 0;
}
static int reset_stale(void *arg) {
    (void)arg;
    CHECK(corio_current_task() == stale_self); /* the same record, reused */
    CHECK_EQ(corio_contextvar_reset(stale_var, &stale_tok), -EINVAL);
    CHECK_EQ(get_or(stale_var, -1), -1);
    /* A token of its own still works. */
    corio_context_token t;
    CHECK_EQ(corio_contextvar_set(stale_var, 2, &t), 0);
    CHECK_EQ(corio_contextvar_reset(stale_var, &t), 0);
    return 0;
}
static int set_in_context(void *arg) {
    (void)arg;
    return corio_contextvar_set(stale_var, 3, &stale_tok);
}
static int reset_in_context(void *arg) {
    (void)arg;
    return corio_contextvar_reset(stale_var, &stale_tok);
}
static int stale_main(void *arg) {
    (void)arg;
    stale_var = corio_contextvar_new("stale", 0, 0);
    CHECK_EQ(corio_join(corio_spawn(set_and_leave, NULL)), 0);
    CHECK_EQ(corio_join(corio_spawn(reset_stale, NULL)), 0);
    corio_context *c1 = corio_context_new();
    CHECK_EQ(corio_context_run(c1, set_in_context, NULL), 0);
    CHECK_EQ(corio_context_run(c1, reset_in_context, NULL), 0); /* the same context: fine */
    CHECK_EQ(corio_context_run(c1, set_in_context, NULL), 0);
    corio_context_free(c1);
    /* malloc often gives the freed block back; either way the token is not c2's. */
    corio_context *c2 = corio_context_new();
    CHECK_EQ(corio_context_run(c2, reset_in_context, NULL), -EINVAL);
    corio_context_free(c2);
    corio_contextvar_free(stale_var);
    return 0;
}
static void test_stale_token(void) { CHECK_EQ(test_run(stale_main, NULL, 1), 0); }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN_TEST(test_getset_1);
    RUN_TEST(test_getset_2);
    RUN_TEST(test_getset_3);
    RUN_TEST(test_getset_4);
    RUN_TEST(test_copy_1);
    RUN_TEST(test_run_7_and_5);
    RUN_TEST(test_threads);
    RUN_TEST(test_task_context_1);
    RUN_TEST(test_task_context_3);
    RUN_TEST(test_task_context_4_5);
    RUN_TEST(test_shared_context);
    RUN_TEST(test_reset_in_child);
    RUN_TEST(test_thread_context_and_callbacks);
    RUN_TEST(test_run_in_task);
    RUN_TEST(test_many_sets);
    RUN_TEST(test_free_and_close);
    RUN_TEST(test_runner);
    RUN_TEST(test_errors);
    RUN_TEST(test_stale_token);
    TEST_MAIN_END();
}
