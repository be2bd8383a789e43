/*
 * corio/context.h - context variables (Python's contextvars, as asyncio
 * uses them).
 *
 * A context maps variables to values.  Every task runs in a context of
 * its own: a copy of the context current where it was spawned (asyncio's
 * create_task), or one given in corio_task_opts.context.  A
 * corio_contextvar_set inside a task is therefore invisible to its parent
 * and its siblings, and a child sees its parent's values as they were
 * when it was spawned.  Outside any task (a callback, code before or after
 * the loop runs) the calls act on the thread's own context.
 *
 * Values are intptr_t: a C program stores an integer or a pointer.  corio
 * never frees, copies or looks at a value; what a pointer points to stays
 * the program's, and must live as long as some context may still hold it
 * (a task keeps its context until it finishes).
 *
 * Copying a context costs O(1): a context is an immutable list of
 * bindings shared by its copies, and a set puts one node in front of the
 * setter's own list (or rewrites that node in place when no other context
 * shares it yet).  A get walks the list, which holds one node for each
 * variable set along the chain of spawns; programs set a few variables,
 * so the walk is short.
 *
 * Not thread-safe: a context, and the values spawned tasks inherit from
 * it, are used by one thread at a time (each loop's tasks on its thread).
 * No call here suspends.
 */
#ifndef CORIO_CONTEXT_H
#define CORIO_CONTEXT_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What corio_contextvar_set returns so that corio_contextvar_reset can
 * undo the set (contextvars.Token).  Caller-allocated, may live anywhere.
 * `had_old` and `old_value` are public and read-only: the value the
 * variable had before the set (had_old 0: none, Token.MISSING).  The other
 * fields are private.
 */
typedef struct corio_context_token {
    const corio_contextvar *var; /* the variable set */
    uint64_t var_id;             /* ... and its identity (addresses are reused after a free) */
    const void *ctx;             /* the context the set was made in */
    uint64_t ctx_gen;            /* ... and its identity (task records and contexts are reused after a free) */
    intptr_t old_value;          /* public: the value before the set, when had_old */
    unsigned char had_old;       /* public: 1 if the variable had a value before the set */
    unsigned char used;          /* reset already done */
} corio_context_token;

/*
 * A new variable (contextvars.ContextVar(name, default=...)).  The name
 * is copied.  has_default 0: no default, a get of an unset variable
 * fails.  Returns NULL with errno ENOMEM, or EINVAL for a NULL name.
 */
CORIO_API corio_contextvar *corio_contextvar_new(const char *name, int has_default, intptr_t default_value);

/*
 * Free v.  Contexts that still bind it keep harmless dead entries until
 * they go (bindings name a variable by a number never reused, not by its
 * address).  Tokens of v must not be passed to reset afterwards.  NULL is
 * ignored.
 */
CORIO_API void corio_contextvar_free(corio_contextvar *v);

/* v's name ("" for NULL). */
CORIO_API const char *corio_contextvar_name(const corio_contextvar *v);

/*
 * v's value in the current context (ContextVar.get()): 0 and *out, or its
 * default when it has no value (0 too), or -ENOENT when it has neither
 * (LookupError).  -EINVAL for NULL arguments.
 */
CORIO_API int corio_contextvar_get(const corio_contextvar *v, intptr_t *out);

/*
 * v's value in the current context, else `dflt` (ContextVar.get(default):
 * the argument wins over the variable's own default).  dflt for NULL v.
 */
CORIO_API intptr_t corio_contextvar_get_or(const corio_contextvar *v, intptr_t dflt);

/*
 * Give v the value `value` in the current context (ContextVar.set).  When
 * tok is not NULL it receives what corio_contextvar_reset needs to undo
 * the set.  Returns 0, -ENOMEM (nothing changed) or -EINVAL for NULL v.
 */
CORIO_API int corio_contextvar_set(corio_contextvar *v, intptr_t value, corio_context_token *tok);

/*
 * Undo the set that made tok (ContextVar.reset): v gets back the value it
 * had before, or none.  Returns 0; -EINVAL when tok was already used
 * (asyncio: RuntimeError), was made by another variable, or in another
 * context (ValueError: a set in a task is reset in that task, a set inside
 * corio_context_run inside that run) - a task or context that has been
 * freed since counts as another, even when a new one took its memory;
 * -ENOMEM (tok stays usable).  Does not suspend.
 */
CORIO_API int corio_contextvar_reset(corio_contextvar *v, corio_context_token *tok);

/*
 * A copy of the current context (contextvars.copy_context()), O(1): the
 * caller owns it and gives it up with corio_context_free.  NULL with
 * errno ENOMEM.
 */
CORIO_API corio_context *corio_context_copy(void);

/* A new empty context (contextvars.Context()): NULL with errno ENOMEM. */
CORIO_API corio_context *corio_context_new(void);

/* Give up the caller's hold on c; it is freed once no task runs in it
 * either.  NULL is ignored. */
CORIO_API void corio_context_free(corio_context *c);

/*
 * Call fn(arg) with c as the current context (Context.run) and return what
 * fn returns: sets made by fn stay in c, and tasks fn spawns copy c.  fn
 * may suspend when called from a task; c stays the task's context until fn
 * returns.  -EBUSY (fn not called) when c is the current context already
 * or another corio_context_run of it has not returned (RuntimeError),
 * -EINVAL for NULL arguments.
 */
CORIO_API int corio_context_run(corio_context *c, int (*fn)(void *arg), void *arg);

/*
 * v's value in c (Context[var] / Context.get(var)): 0 and *out, or
 * -ENOENT when c has no value for v (the default is not consulted, as in
 * Python).  -EINVAL for NULL arguments.
 */
CORIO_API int corio_context_get(const corio_context *c, const corio_contextvar *v, intptr_t *out);

#ifdef __cplusplus
}
#endif
#endif
