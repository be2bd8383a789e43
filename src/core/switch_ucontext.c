/*
 * switch_ucontext.c - the portable context switch: POSIX ucontext.
 *
 * Slower than the assembly switches (glibc's swapcontext also saves and
 * restores the signal mask, a system call each way) but works on any
 * architecture glibc supports.  A context is a pointer to a ucontext_t;
 * for a task it lives at the top of the task's own stack.
 */
#include "switch.h"

#include <stdlib.h>
#include <ucontext.h>

void corio__ctx_switch(void **save, void *load) {
    swapcontext((ucontext_t *)*save, (ucontext_t *)load);
}

/* makecontext passes int arguments only: split the pointers in two. */
static void ctx_start(unsigned elo, unsigned ehi, unsigned alo, unsigned ahi) {
    void (*entry)(void *) = (void (*)(void *))(((uintptr_t)ehi << 32) | elo);
    void *arg = (void *)(((uintptr_t)ahi << 32) | alo);
    entry(arg);
    abort(); /* entry never returns */
}

void *corio__ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)lo + size - sizeof(ucontext_t)) & ~(uintptr_t)63;
    ucontext_t *uc = (ucontext_t *)top;
    getcontext(uc);
    uc->uc_stack.ss_sp = lo;
    uc->uc_stack.ss_size = top - (uintptr_t)lo;
    uc->uc_link = NULL;
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    makecontext(uc, (void (*)(void))ctx_start, 4, (unsigned)e, (unsigned)(e >> 32), (unsigned)a,
                (unsigned)(a >> 32));
    return uc;
}

int corio__ctx_sched_init(corio_loop *loop) {
    loop->sched_ctx = corio__malloc(sizeof(ucontext_t));
    if (!loop->sched_ctx) return -ENOMEM;
    loop->sched_sp = loop->sched_ctx;
    return 0;
}

void corio__ctx_sched_free(corio_loop *loop) {
    corio__free(loop->sched_ctx);
    loop->sched_ctx = NULL;
}
