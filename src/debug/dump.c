/*
 * dump.c - the task dump (corio_dump_tasks, corio_loop_dump_on_signal):
 * every task of a loop, what it waits on and where it is suspended.  It
 * reads every layer (tasks, descriptors' waiters, signals), so it sits
 * above them all.
 *
 * The backtrace of a suspended task starts from the frame its context
 * switch saved (x86-64: rbp at saved_sp+40 and the resume address at
 * saved_sp+48, switch_x86_64.S; AArch64: the frame record x29/x30 at
 * saved_sp+0/+8, switch_aarch64.S; ucontext: the saved registers) and
 * follows the frame-pointer chain, every step checked against the task's
 * stack bounds, so a chain broken by code without frame pointers ends the
 * walk instead of faulting.
 */
#include "../os/os.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#ifdef CORIO__SWITCH_UCONTEXT
#include <ucontext.h>
#endif

#define MAX_FRAMES 32

/* ---- the task dump ---------------------------------------------------------------- */

typedef struct dumper {
    corio_dump_fn fn;
    void *arg;
} dumper;

static void emit(dumper *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(dumper *d, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->fn(line, d->arg);
}

/*
 * Follow the frame-pointer chain from (pc, fp) within [lo, hi).  Each
 * frame record is {previous fp, return address} on both architectures.
 * The reads may land on any word of a stack ASan poisons, hence no
 * instrumentation.
 */
__attribute__((no_sanitize("address"))) static size_t walk(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi,
                                                           uintptr_t *out, size_t max) {
    size_t n = 0;
    if (pc) out[n++] = pc;
    while (n < max && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
        const uintptr_t *rec = (const uintptr_t *)fp;
        uintptr_t next = rec[0], ret = rec[1];
        if (!ret) break;
        out[n++] = ret;
        if (next <= fp) break; /* the chain must climb the stack: anything else is garbage */
        fp = next;
    }
    return n;
}

/* The frames of a task switched out (suspended or scheduled). */
static size_t task_frames(const corio_task *t, uintptr_t *out, size_t max) {
    uintptr_t lo = (uintptr_t)t->stack->lo, hi = lo + t->stack->size;
    uintptr_t pc, fp;
#if defined(CORIO__SWITCH_UCONTEXT)
    const ucontext_t *uc = t->sp;
#if defined(__x86_64__)
    pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
#elif defined(__aarch64__)
    pc = (uintptr_t)uc->uc_mcontext.regs[30];
    fp = (uintptr_t)uc->uc_mcontext.regs[29];
#else
    (void)uc;
    return 0;
#endif
#elif defined(__x86_64__)
    const uintptr_t *sp = t->sp; /* switch_x86_64.S: rbp at +40, resume address at +48 */
    fp = sp[5];
    pc = sp[6];
#elif defined(__aarch64__)
    const uintptr_t *sp = t->sp; /* switch_aarch64.S: x29 at +0, x30 at +8 */
    fp = sp[0];
    pc = sp[1];
#else
    return 0;
#endif
    return walk(pc, fp, lo, hi, out, max);
}

/* The frames of the task running this very code. */
__attribute__((noinline)) static size_t current_frames(const corio_task *t, uintptr_t *out, size_t max) {
    uintptr_t lo = (uintptr_t)t->stack->lo, hi = lo + t->stack->size;
    /* Our own record holds the return address into our caller first. */
    return walk(0, (uintptr_t)__builtin_frame_address(0), lo, hi, out, max);
}

/* A task parked on a descriptor (io.c) stores nothing about it, to keep
 * the wait cheap: tag it now from the descriptors' waiters, in one pass. */
static void tag_parked(corio_loop *loop) {
    for (size_t fd = 0; fd < loop->nfds; fd++) {
        const corio__fdstate *st = loop->fds[fd];
        for (int d = 0; st && d < 2; d++) {
            if (!st->waiter[d]) continue;
            corio_task *t = st->waiter[d]->task;
            t->wait_tag = d ? CORIO__WAIT_FD_WRITE : CORIO__WAIT_FD_READ;
            t->wait_arg = (int64_t)fd;
        }
    }
}

static void describe_wait(corio_loop *loop, corio_task *t, char *buf, size_t n) {
    const corio_future *f = t->waiting_on;
    const char *tag = t->wait_tag;
    if (t->parked) { /* corio__park: a descriptor wait or a ring operation, no future (tagged by tag_parked) */
        if (tag && (!strcmp(tag, CORIO__WAIT_FD_READ) || !strcmp(tag, CORIO__WAIT_FD_WRITE)))
            snprintf(buf, n, "%s (fd %lld)", tag, (long long)t->wait_arg);
        else
            snprintf(buf, n, "%s", tag ? tag : "an I/O operation");
    } else if (!f) {
        snprintf(buf, n, "nothing (yielded)");
    } else if (tag && !strcmp(tag, CORIO__WAIT_SLEEP)) {
        if (t->wait_arg == INT64_MAX) {
            snprintf(buf, n, "sleep (for ever)");
        } else {
            int64_t left = t->wait_arg - corio__loop_now(loop);
            snprintf(buf, n, "sleep (%.3f s left)", left > 0 ? (double)left / 1e9 : 0.0);
        }
    } else if (f->kind == CORIO__FK_TASK) {
        snprintf(buf, n, "%s task '%s'", tag && !strcmp(tag, CORIO__WAIT_JOIN) ? "join" : "await",
                 corio_task_name((corio_task *)(uintptr_t)f));
    } else if (tag && (!strcmp(tag, CORIO__WAIT_FD_READ) || !strcmp(tag, CORIO__WAIT_FD_WRITE))) {
        snprintf(buf, n, "%s (fd %lld)", tag, (long long)t->wait_arg);
    } else if (tag && !strcmp(tag, CORIO__WAIT_WAITER)) {
        char sym[128];
        corio__sym_name((const void *)(uintptr_t)t->wait_arg, sym, sizeof sym);
        snprintf(buf, n, "%s (lock/event/condition/semaphore/queue; in %s)", tag, sym);
    } else if (f->kind == CORIO__FK_GATHER) {
        snprintf(buf, n, "gather");
    } else {
        snprintf(buf, n, "%s %p", tag ? tag : "future", (const void *)f);
    }
}

static void dump_task(dumper *d, corio_loop *loop, corio_task *t) {
    char state[160], wait[224] = "", age[96];
    bool frames = false;
    if (t->fut.state != CORIO__PENDING) {
        if (t->fut.state == CORIO__CANCELLED)
            snprintf(state, sizeof state, "cancelled");
        else if (t->fut.err)
            snprintf(state, sizeof state, "failed: %d (%s)%s", t->fut.err, corio_strerror(t->fut.err),
                     t->flags & CORIO__TF_RETRIEVED ? "" : ", not retrieved yet");
        else
            snprintf(state, sizeof state, "done: result %lld", (long long)t->fut.value);
    } else if (!(t->flags & CORIO__TF_STARTED)) {
        snprintf(state, sizeof state, "not started");
    } else if (loop->current == t) {
        snprintf(state, sizeof state, "running");
        frames = true;
    } else {
        char w[192];
        describe_wait(loop, t, w, sizeof w);
        bool woken = t->parked ? t->wake.link.next != &t->wake.link
                               : !t->waiting_on || t->waiting_on->state != CORIO__PENDING;
        snprintf(state, sizeof state, "%s", woken ? "ready" : "suspended");
        snprintf(wait, sizeof wait, ", %s %s", woken ? "woken from" : "waiting on", w);
        frames = true;
    }
    uint64_t iters = loop->iterations - t->created_iter;
    if (t->flags & CORIO__TF_AGE_EXACT)
        snprintf(age, sizeof age, "age %.3f s (%llu iterations)", (double)(corio__loop_now(loop) - t->created_ns) / 1e9,
                 (unsigned long long)iters);
    else
        snprintf(age, sizeof age, "age %llu iterations", (unsigned long long)iters);
    if (t->id)
        emit(d, "Task '%s' #%llu: %s%s, %s", corio_task_name(t), (unsigned long long)t->id, state, wait, age);
    else
        emit(d, "Task '%s': %s%s, %s", corio_task_name(t), state, wait, age);
    if (!frames || !t->stack) return;
    uintptr_t pcs[MAX_FRAMES];
    size_t n = loop->current == t ? current_frames(t, pcs, MAX_FRAMES) : task_frames(t, pcs, MAX_FRAMES);
    for (size_t i = 0; i < n; i++) {
        char sym[160];
        corio__sym_name((const void *)pcs[i], sym, sizeof sym);
        emit(d, "    #%zu 0x%lx %s", i, (unsigned long)pcs[i], sym);
    }
}

size_t corio_loop_dump_tasks_fn(corio_loop *loop, corio_dump_fn fn, void *arg) {
    if (!loop || !fn) return 0;
    dumper d = {fn, arg};
    size_t n = 0;
    corio__list_foreach(it, &loop->tasks) n++;
    emit(&d, "corio task dump: %zu task%s on loop %p, time %.3f s, iteration %llu", n, n == 1 ? "" : "s",
         (void *)loop, (double)corio__loop_now(loop) / 1e9, (unsigned long long)loop->iterations);
    tag_parked(loop);
    corio__list_foreach(it, &loop->tasks) dump_task(&d, loop, corio__container_of(it, corio_task, link));
    return n;
}

static void to_file(const char *line, void *arg) {
    fputs(line, arg);
    fputc('\n', arg);
}

size_t corio_loop_dump_tasks(corio_loop *loop, FILE *out) {
    if (!out) return 0;
    size_t n = corio_loop_dump_tasks_fn(loop, to_file, out);
    fflush(out);
    return n;
}

size_t corio_dump_tasks(FILE *out) { return corio_loop_dump_tasks(corio__cur_loop, out); }

/* ---- the signal hook ---------------------------------------------------------------- */

static void to_log(const char *line, void *arg) {
    (void)arg;
    corio__log(CORIO_LOG_WARNING, "%s", line);
}

static void on_dump_signal(int signum, void *arg) {
    corio_loop *loop = arg;
    (void)signum;
    if (loop->dump_out)
        corio_loop_dump_tasks(loop, loop->dump_out);
    else
        corio_loop_dump_tasks_fn(loop, to_log, NULL);
}

int corio_loop_dump_on_signal(corio_loop *loop, int signum, FILE *out) {
    if (!loop) return corio__bad(-EINVAL, "corio_loop_dump_on_signal: NULL loop");
    corio_loop *prev = corio__cur_loop;
    if (prev && prev != loop) return corio__bad(-EBUSY, "corio_loop_dump_on_signal: another loop runs on this thread");
    /* The signal functions work on the current loop: be it for a moment
     * (as corio__signal_loop_close does). */
    corio__cur_loop = loop;
    int rc = 0, old = loop->dump_signum;
    if (signum != 0) {
        rc = corio_add_signal_handler(signum, on_dump_signal, loop);
        if (rc == 0) {
            loop->dump_signum = signum;
            loop->dump_out = out;
        }
    }
    if (rc == 0 && old && old != signum) {
        corio_remove_signal_handler(old);
        if (signum == 0) loop->dump_signum = 0;
    }
    corio__cur_loop = prev;
    return rc;
}
