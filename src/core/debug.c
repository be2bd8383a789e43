/*
 * debug.c - debug mode of a loop (asyncio's set_debug and
 * slow_callback_duration) and the "never retrieved" report.  The task
 * dump, which reads every layer, is src/debug/dump.c.
 *
 * Hooks elsewhere, each one branch when debug mode is off:
 *  - loop.c run_once: a node runs through corio__debug_run when loop->debug;
 *  - task.c: corio__await_tag stores a "waiting on" tag next to waiting_on;
 *    a freed record whose error nobody saw calls corio__debug_task_freed;
 *  - task.c / future.c mark a task's outcome as seen (corio__future_seen)
 *    wherever it is read or handed to a listener.
 */
#include "core.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>


/* ---- switches ----------------------------------------------------------------- */

int corio_loop_set_debug(corio_loop *loop, int on) {
    if (!loop) return corio__bad(-EINVAL, "corio_loop_set_debug: NULL loop");
    loop->debug = on != 0;
    /* The rest of this batch runs through run_batch, timed, not by hops (task.c). */
    if (on) loop->batch = NULL;
    return 0;
}

int corio_loop_get_debug(const corio_loop *loop) { return loop && loop->debug; }

int corio_loop_set_slow_callback_duration(corio_loop *loop, double seconds) {
    if (!loop) return corio__bad(-EINVAL, "corio_loop_set_slow_callback_duration: NULL loop");
    if (isnan(seconds) || seconds < 0)
        return corio__bad(-EINVAL, "corio_loop_set_slow_callback_duration: the duration must be >= 0");
    loop->slow_ns = corio__sec_to_ns(seconds);
    return 0;
}

double corio_loop_get_slow_callback_duration(const corio_loop *loop) {
    return loop ? (double)loop->slow_ns / 1e9 : 0.0;
}

/* ---- naming code addresses ------------------------------------------------------ */

/* "name+0x1f" when dladdr knows the symbol, else "module+0x1234" (the
 * offset addr2line wants), else the bare address. */
void corio__sym_name(const void *addr, char *buf, size_t n) {
    Dl_info di;
    if (addr && dladdr(addr, &di)) {
        if (di.dli_sname && di.dli_saddr) {
            snprintf(buf, n, "%s+0x%lx", di.dli_sname, (unsigned long)((uintptr_t)addr - (uintptr_t)di.dli_saddr));
            return;
        }
        if (di.dli_fname && di.dli_fbase) {
            const char *base = strrchr(di.dli_fname, '/');
            snprintf(buf, n, "%s+0x%lx", base ? base + 1 : di.dli_fname,
                     (unsigned long)((uintptr_t)addr - (uintptr_t)di.dli_fbase));
            return;
        }
    }
    snprintf(buf, n, "%p", addr);
}

/* ---- slow callbacks and task steps ---------------------------------------------- */

void corio__debug_run(corio_loop *loop, corio__node *node) {
    /* What the node is must be known before it runs: a library handle goes
     * back to its cache, a done-callback is freed, a task may finish. */
    corio_task *t = corio__node_task(node);
    const void *cb = NULL;
    const char *kind = "callback";
    int64_t t0 = corio__mono_ns();
    if (t) {
        t->refs++; /* keep the record (and its name) past a step that ends it */
        if (!(t->flags & CORIO__TF_STARTED) && !(t->flags & CORIO__TF_AGE_EXACT)) {
            /* The task dump's age in seconds: from the first step, which is
             * where debug mode reads the clock anyway; spawn does not pay
             * for a clock read. */
            t->created_ns = corio__loop_now(loop);
            t->flags |= CORIO__TF_AGE_EXACT;
        }
    } else if ((cb = (const void *)(uintptr_t)corio__node_handle_cb(node))) {
        kind = "Handle";
    } else if ((cb = corio__node_future_cb(node))) {
        kind = "done-callback";
    } else {
        cb = (const void *)(uintptr_t)node->run; /* a node of the library's own */
    }
    node->run(node);
    int64_t dt = corio__mono_ns() - t0;
    if (dt >= loop->slow_ns) {
        if (t) {
            corio__log(CORIO_LOG_WARNING, "Executing <Task '%s'> took %.3f seconds", corio_task_name(t),
                       (double)dt / 1e9);
        } else {
            char name[128];
            corio__sym_name(cb, name, sizeof name);
            corio__log(CORIO_LOG_WARNING, "Executing <%s %s> took %.3f seconds", kind, name, (double)dt / 1e9);
        }
    }
    if (t) corio__task_release(t);
}

/* ---- errors nobody retrieved, tasks nobody joined --------------------------------- */

void corio__debug_task_freed(corio_task *t, bool at_close) {
    if (t->fut.state == CORIO__DONE && t->fut.err && !(t->flags & CORIO__TF_RETRIEVED)) {
        t->flags |= CORIO__TF_RETRIEVED; /* reported once */
        /* asyncio's Future.__del__: 'future' is the task itself; or, for
         * a task a runner's close cancelled, asyncio.run()'s own report
         * (_cancel_all_tasks: it gathers them, then reports each error). */
        corio_exception_context ctx = {.message = (t->flags & CORIO__TF_SHUTDOWN)
                                                      ? "unhandled exception during asyncio.run() shutdown"
                                                      : "Task exception was never retrieved",
                                       .error = t->fut.err,
                                       .source = "task",
                                       .task = t,
                                       .future = &t->fut};
        corio__report(t->loop, &ctx, "task '%s' failed with %d (%s)", corio_task_name(t), t->fut.err,
                      corio_strerror(t->fut.err));
    }
    /* Pending tasks were reported by corio_loop_close already; a finished
     * one still holding a caller's reference was never joined or detached. */
    if (at_close && t->loop->debug && (t->flags & CORIO__TF_FINISHED) && t->crefs > 0)
        corio__log(CORIO_LOG_WARNING, "loop closed with task '%s' never joined or detached", corio_task_name(t));
}

