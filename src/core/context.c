/*
 * context.c - context variables (corio/context.h): Python's contextvars,
 * with a task's context copied at spawn as asyncio's create_task does.
 *
 * A context is a list of bindings (corio__cnode, core.h), newest first; a
 * variable's value is its first node's.  Nodes are reference counted and
 * shared: copying a context - what every spawn does - is taking its head
 * and one more reference, a handful of instructions and no allocation.  A
 * set makes a new node in front of the setter's own head, except when the
 * variable's node lies in the part of the list no other context can see
 * (every node from the head to it has one reference): that node is then
 * rewritten in place, so a task that sets the same variables over and over
 * keeps one node each, and the list holds at most one node per variable
 * for each context it was copied through.  A get walks the list: a program
 * sets a few variables, so the walk is a few nodes (CPython uses a HAMT,
 * worth it only for many variables).
 *
 * Where the current context is: in a task, the task record's (its ctx
 * word: its own list, or a shared context object); outside a task, this thread's (entered,
 * if a corio_context_run is in progress here, else thread_head).  Nothing
 * is saved or restored when tasks switch: the current task already says
 * whose context it is.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

struct corio_contextvar {
    uint64_t id;          /* never reused: bindings name the variable by it */
    intptr_t def;         /* the default, when has_def */
    bool has_def;
    char name[];          /* copied */
};

/* Variables are numbered process-wide; atomic because threads may make them. */
static uint64_t var_counter;

/* core.h: the thread's own context (it lives as long as the thread), and
 * the one corio_context_run entered outside a task. */
CORIO__TLS corio__cnode *corio__thread_ctx;
CORIO__TLS corio_context *corio__thread_entered;

/* ---- lists -------------------------------------------------------------------- */

static void cnode_release(corio__cnode *n) {
    while (n && --n->refs == 0) {
        corio__cnode *next = n->next;
        corio__free(n);
        n = next;
    }
}

/* The first binding of var in the list n, or NULL. */
static corio__cnode *cnode_find(corio__cnode *n, uint64_t var) {
    for (; n; n = n->next)
        if (n->var == var) return n;
    return NULL;
}

/* Whether the list n gives var a value. */
static bool cnode_bound(corio__cnode *n, uint64_t var) {
    n = cnode_find(n, var);
    return n && !n->unset;
}

/* Bind var to value (or to "no value") in the list *head. */
static int cnode_bind(corio__cnode **head, uint64_t var, intptr_t value, bool unset) {
    /* In place if var's node is in the unshared front of the list; a
     * "no value" there unlinks the node when no older one binds var (a
     * set and its reset leave the list as it was). */
    for (corio__cnode **link = head, *n; (n = *link) != NULL && n->refs == 1; link = &n->next) {
        if (n->var != var) continue;
        if (unset && !cnode_bound(n->next, var)) {
            *link = n->next; /* n's reference to it moves to *link */
            corio__free(n);
        } else {
            n->value = value;
            n->unset = unset;
        }
        return 0;
    }
    if (unset && !cnode_bound(*head, var)) return 0; /* no value already */
    corio__cnode *n = corio__malloc(sizeof *n);
    if (!n) return -ENOMEM;
    n->next = *head; /* the head's reference moves to the new node */
    n->var = var;
    n->value = value;
    n->refs = 1;
    n->unset = unset;
    *head = n;
    return 0;
}

/* ---- the current context ------------------------------------------------------- */

/* A thread's own context is released when the thread exits: the first set
 * made outside a task registers this destructor for the thread. */
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static int thread_key_ok;

static void thread_exit(void *unused) {
    (void)unused;
    cnode_release(corio__thread_ctx);
    corio__thread_ctx = NULL;
}

static void thread_key_make(void) { thread_key_ok = pthread_key_create(&thread_key, thread_exit) == 0; }

/* About to bind in *slot: when that is the thread's own context, make sure
 * it is released at the thread's exit. */
static void thread_watch(corio__cnode **slot) {
    if (slot != &corio__thread_ctx || corio__thread_ctx != NULL) return;
    pthread_once(&thread_key_once, thread_key_make);
    if (thread_key_ok) pthread_setspecific(thread_key, (void *)1);
}

/*
 * Identities for tokens.  Where a context's head is (a task record's
 * field, a corio_context's) names it only while it lives: a freed task's
 * record goes back to the stack cache and the next spawn gets it, a freed
 * context's memory goes back to malloc.  So a token also carries a number
 * that is never given twice: a corio_context gets one when it is made, a
 * task's own context and a thread's when their first token is made.
 */
static uint64_t gen_counter;
static CORIO__TLS uint64_t thread_gen;
static uint64_t gen_next(void) { return __atomic_add_fetch(&gen_counter, 1, __ATOMIC_RELAXED); }

/* The identity of the current context (see cur_slot). */
static uint64_t cur_gen(void) {
    corio_task *t = corio__current();
    if (t) {
        if (corio__ctx_is_shared(t->ctx)) return corio__ctx_shared(t->ctx)->gen;
        if (!t->ctx_gen) t->ctx_gen = gen_next();
        return t->ctx_gen;
    }
    if (corio__thread_entered) return corio__thread_entered->gen;
    if (!thread_gen) thread_gen = gen_next();
    return thread_gen;
}

/* Where the current context's head is: also its identity, for tokens (with cur_gen). */
static corio__cnode **cur_slot(void) {
    corio_task *t = corio__current();
    if (t) return corio__ctx_is_shared(t->ctx) ? &corio__ctx_shared(t->ctx)->head : &t->ctx;
    return corio__thread_entered ? &corio__thread_entered->head : &corio__thread_ctx;
}

static void context_unref(corio_context *c) {
    if (--c->refs == 0) {
        cnode_release(c->head);
        corio__free(c);
    }
}

void corio__ctx_drop(corio_task *t) {
    if (corio__ctx_is_shared(t->ctx))
        context_unref(corio__ctx_shared(t->ctx));
    else
        cnode_release(t->ctx);
    t->ctx = NULL;
}

/* ---- variables ------------------------------------------------------------------- */

corio_contextvar *corio_contextvar_new(const char *name, int has_default, intptr_t default_value) {
    if (!name) {
        errno = EINVAL;
        corio__bad(0, "corio_contextvar_new: NULL name");
        return NULL;
    }
    size_t len = strlen(name);
    corio_contextvar *v = corio__malloc(sizeof *v + len + 1);
    if (!v) {
        errno = ENOMEM;
        return NULL;
    }
    v->id = __atomic_add_fetch(&var_counter, 1, __ATOMIC_RELAXED);
    v->has_def = has_default != 0;
    v->def = has_default ? default_value : 0;
    memcpy(v->name, name, len + 1);
    return v;
}

void corio_contextvar_free(corio_contextvar *v) { corio__free(v); }

const char *corio_contextvar_name(const corio_contextvar *v) { return v ? v->name : ""; }

int corio_contextvar_get(const corio_contextvar *v, intptr_t *out) {
    if (!v || !out) return corio__bad(-EINVAL, "corio_contextvar_get: NULL argument");
    corio__cnode *n = cnode_find(*cur_slot(), v->id);
    if (n && !n->unset) {
        *out = n->value;
        return 0;
    }
    if (v->has_def) {
        *out = v->def;
        return 0;
    }
    return -ENOENT;
}

intptr_t corio_contextvar_get_or(const corio_contextvar *v, intptr_t dflt) {
    if (!v) return dflt;
    corio__cnode *n = cnode_find(*cur_slot(), v->id);
    return n && !n->unset ? n->value : dflt;
}

int corio_contextvar_set(corio_contextvar *v, intptr_t value, corio_context_token *tok) {
    if (!v) return corio__bad(-EINVAL, "corio_contextvar_set: NULL variable");
    corio__cnode **slot = cur_slot();
    if (tok) {
        /* Read the old value before the bind may rewrite its node. */
        corio__cnode *old = cnode_find(*slot, v->id);
        tok->var = v;
        tok->var_id = v->id;
        tok->ctx = slot;
        tok->ctx_gen = cur_gen();
        tok->had_old = old && !old->unset;
        tok->old_value = tok->had_old ? old->value : 0;
        tok->used = 0;
    }
    thread_watch(slot);
    int rc = cnode_bind(slot, v->id, value, false);
    if (rc < 0 && tok) tok->used = 1; /* nothing to undo */
    return rc;
}

int corio_contextvar_reset(corio_contextvar *v, corio_context_token *tok) {
    if (!v || !tok) return corio__bad(-EINVAL, "corio_contextvar_reset: NULL argument");
    /* The checks in CPython's order (Python/context.c, contextvar_reset). */
    if (tok->used) return corio__bad(-EINVAL, "corio_contextvar_reset: the token has already been used once");
    if (tok->var != v || tok->var_id != v->id)
        return corio__bad(-EINVAL, "corio_contextvar_reset: the token was created by a different variable");
    corio__cnode **slot = cur_slot();
    if (tok->ctx != (const void *)slot || tok->ctx_gen != cur_gen())
        return corio__bad(-EINVAL, "corio_contextvar_reset: the token was created in a different context");
    int rc = cnode_bind(slot, v->id, tok->old_value, !tok->had_old);
    if (rc == 0) tok->used = 1;
    return rc;
}

/* ---- context objects ------------------------------------------------------------- */

corio_context *corio_context_copy(void) {
    corio_context *c = corio_context_new();
    if (c) c->head = corio__cnode_ref(*cur_slot());
    return c;
}

corio_context *corio_context_new(void) {
    corio_context *c = corio__malloc(sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->head = NULL;
    c->refs = 1;
    c->entered = 0;
    c->gen = gen_next();
    return c;
}

void corio_context_free(corio_context *c) {
    if (c) context_unref(c);
}

int corio_context_run(corio_context *c, int (*fn)(void *arg), void *arg) {
    if (!c || !fn) return corio__bad(-EINVAL, "corio_context_run: NULL argument");
    corio__cnode **slot = cur_slot();
    if (c->entered || slot == &c->head)
        return corio__bad(-EBUSY, "corio_context_run: the context is already entered");
    c->refs++; /* fn may free the caller's hold */
    c->entered++;
    corio_task *t = corio__current();
    int r;
    if (t) {
        /* The task stays in c until fn returns, across fn's suspensions:
         * the switch code never looks at contexts.  Its own context waits
         * in prev meanwhile, with its reference; c's is the one taken
         * above. */
        corio__cnode *prev = t->ctx;
        t->ctx = (corio__cnode *)((uintptr_t)c | CORIO__CTX_SHARED);
        r = fn(arg);
        t->ctx = prev;
    } else {
        corio_context *prev = corio__thread_entered;
        corio__thread_entered = c;
        r = fn(arg);
        corio__thread_entered = prev;
    }
    c->entered--;
    context_unref(c);
    return r;
}

int corio_context_get(const corio_context *c, const corio_contextvar *v, intptr_t *out) {
    if (!c || !v || !out) return corio__bad(-EINVAL, "corio_context_get: NULL argument");
    corio__cnode *n = cnode_find(c->head, v->id);
    if (!n || n->unset) return -ENOENT;
    *out = n->value;
    return 0;
}
