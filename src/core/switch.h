/*
 * switch.h - the context switch between the loop's scheduler and tasks.
 *
 * Two implementations sit behind one interface, chosen by the build
 * (CORIO_SWITCH): hand-written assembly (switch_x86_64.S,
 * switch_aarch64.S) that saves only the callee-saved registers and the
 * floating-point control words, and a portable ucontext fallback
 * (switch_ucontext.c).  With the assembly version a "context" is the saved
 * stack pointer; with ucontext it points at a ucontext_t.
 *
 * The wrappers below also tell the sanitizers and Valgrind about every
 * switch: ASan must see __sanitizer_start_switch_fiber before and
 * __sanitizer_finish_switch_fiber right after each switch (the first entry
 * into a task included), TSan one fiber per task.
 */
#ifndef CORIO_SWITCH_H
#define CORIO_SWITCH_H

#include "core.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORIO__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CORIO__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CORIO__ASAN)
#define CORIO__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CORIO__TSAN)
#define CORIO__TSAN 1
#endif

#ifdef CORIO__ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif
#ifdef CORIO__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* Save the running context into *save, resume `load`.  Returns when something switches back. */
void corio__ctx_switch(void **save, void *load);
#if defined(__x86_64__) && !defined(CORIO__SWITCH_UCONTEXT)
/* Resume `load`, saving nothing: the running context is never resumed
 * (switch_x86_64.S).  Elsewhere corio__ctx_switch stands in for it. */
__attribute__((noreturn)) void corio__ctx_jump(void *load);
#define CORIO__HAVE_CTX_JUMP 1
#endif
#ifndef CORIO__SWITCH_UCONTEXT
/* Call fn(arg) on the stack below *slot (the scheduler's saved frame),
 * *slot NULL meanwhile; back on the caller's stack after it
 * (switch_x86_64.S, switch_aarch64.S). */
intptr_t corio__call_on_stack(void **slot, intptr_t (*fn)(void *), void *arg);
#endif

/*
 * Prepare a fresh context on [lo, lo+size) that calls entry(arg) when
 * first switched to; entry must never return.  Returns the context.
 * Inline for the x86-64 switch (every spawn calls it: 27 instructions as
 * a call, 16 inline); switch_asm.c / switch_ucontext.c otherwise.
 */
#if defined(__x86_64__) && !defined(CORIO__SWITCH_UCONTEXT)
void corio__ctx_trampoline(void);
static inline void *corio__ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    /* The 7 slots switch_x86_64.S restores, then 16 bytes of zeros that end
     * the frame chain; after the switch pops everything rsp == top - 16,
     * which is 16-byte aligned as the trampoline's call needs. */
    uint64_t *sp = (uint64_t *)(top - 16 - 56);
    sp[0] = 0;                           /* r15 */
    sp[1] = 0;                           /* r14 */
    sp[2] = (uint64_t)(uintptr_t)entry;  /* r13 */
    sp[3] = (uint64_t)(uintptr_t)arg;    /* r12 */
    sp[4] = 0;                           /* rbx */
    sp[5] = 0;                           /* rbp: ends the frame-pointer chain */
    sp[6] = (uint64_t)(uintptr_t)corio__ctx_trampoline;
    sp[7] = sp[8] = 0;                   /* the 16 bytes of zeros */
    return sp;
}
#else
void *corio__ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg);
#endif

/* Prepare the scheduler's own context holder (ucontext needs storage); 0 or -ENOMEM. */
int corio__ctx_sched_init(corio_loop *loop);
void corio__ctx_sched_free(corio_loop *loop);

/* Scheduler -> task. */
static inline void corio__switch_to_task(corio_loop *loop, corio_task *t) {
#ifdef CORIO__ASAN
    __sanitizer_start_switch_fiber(&loop->asan_fake_stack, t->stack->lo, t->stack->size);
#endif
#ifdef CORIO__TSAN
    __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
    corio__ctx_switch(&loop->sched_sp, t->sp);
#ifdef CORIO__ASAN
    __sanitizer_finish_switch_fiber(loop->asan_fake_stack, NULL, NULL);
#endif
}

#ifdef CORIO__ASAN
/* A task resumes: ASan learns the bounds of the stack it came from, which
 * are the scheduler's unless another task hopped to it (task.c). */
static inline void corio__asan_resumed(corio_loop *loop, void *fake_stack) {
    if (loop->hopped) {
        loop->hopped = false;
        __sanitizer_finish_switch_fiber(fake_stack, NULL, NULL);
    } else {
        __sanitizer_finish_switch_fiber(fake_stack, &loop->sched_stack_lo, &loop->sched_stack_size);
    }
}
#endif

/* Task -> scheduler.  `exiting`: the task will never run again. */
static inline void corio__switch_to_sched(corio_loop *loop, corio_task *t, bool exiting) {
#ifdef CORIO__ASAN
    __sanitizer_start_switch_fiber(exiting ? NULL : &t->asan_fake_stack, loop->sched_stack_lo,
                                   loop->sched_stack_size);
#else
    (void)exiting;
#endif
#ifdef CORIO__TSAN
    __tsan_switch_to_fiber(loop->tsan_fiber, 0);
#endif
    assert(loop->sched_sp); /* NULL: t suspended inside corio_call_on_loop_stack's fn */
    corio__ctx_switch(&t->sp, loop->sched_sp);
#ifdef CORIO__ASAN
    corio__asan_resumed(loop, t->asan_fake_stack);
#endif
}

/* Task -> task, the scheduler skipped (a hop, task.c). */
static inline void corio__switch_task_to_task(corio_loop *loop, corio_task *t, corio_task *next) {
#ifdef CORIO__ASAN
    loop->hopped = true;
    __sanitizer_start_switch_fiber(&t->asan_fake_stack, next->stack->lo, next->stack->size);
#endif
#ifdef CORIO__TSAN
    __tsan_switch_to_fiber(next->tsan_fiber, 0);
#endif
    corio__ctx_switch(&t->sp, next->sp);
#ifdef CORIO__ASAN
    corio__asan_resumed(loop, t->asan_fake_stack);
#else
    (void)loop;
#endif
}

/*
 * Task p -> task t, p standing in for the scheduler while t runs: t's
 * next switch to the scheduler (it blocks or finishes) resumes p here.
 * An eager step (task.c): p spawned t and waits for its first step; the
 * hops are off meanwhile (loop->batch is NULL), so t can only go back.
 */
static inline void corio__switch_eager(corio_loop *loop, corio_task *p, corio_task *t) {
#ifdef CORIO__ASAN
    const void *lo = loop->sched_stack_lo;
    size_t size = loop->sched_stack_size;
    loop->sched_stack_lo = p->stack->lo;
    loop->sched_stack_size = p->stack->size;
    loop->hopped = false;
    __sanitizer_start_switch_fiber(&p->asan_fake_stack, t->stack->lo, t->stack->size);
#endif
#ifdef CORIO__TSAN
    void *fiber = loop->tsan_fiber;
    loop->tsan_fiber = p->tsan_fiber;
    __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
    /* p saves itself where the scheduler's context is loaded from (with
     * ucontext that is storage, so p's own, not the scheduler's). */
    void *sched = loop->sched_sp;
    loop->sched_sp = p->sp;
    corio__ctx_switch(&loop->sched_sp, t->sp);
    loop->sched_sp = sched;
#ifdef CORIO__TSAN
    loop->tsan_fiber = fiber;
#endif
#ifdef CORIO__ASAN
    __sanitizer_finish_switch_fiber(p->asan_fake_stack, NULL, NULL);
    loop->sched_stack_lo = lo;
    loop->sched_stack_size = size;
#endif
}

/* A finished task t -> task: t is never resumed.  On x86-64 nothing of t
 * is saved (corio__ctx_jump); elsewhere what the switch saves still goes
 * to t's record and stack, which stay mapped: ucontext needs the room. */
__attribute__((noreturn)) static inline void corio__switch_exit_to_task(corio_loop *loop, corio_task *t,
                                                                        corio_task *next) {
#ifdef CORIO__ASAN
    loop->hopped = true;
    __sanitizer_start_switch_fiber(NULL, next->stack->lo, next->stack->size);
#else
    (void)loop;
#endif
#ifdef CORIO__HAVE_CTX_JUMP
    (void)t;
    corio__ctx_jump(next->sp);
#else
    corio__ctx_switch(&t->sp, next->sp);
    __builtin_unreachable();
#endif
}

/* First thing a task does on its new stack. */
static inline void corio__switch_first_entry(corio_loop *loop) {
#ifdef CORIO__ASAN
    corio__asan_resumed(loop, NULL);
#else
    (void)loop;
#endif
}

#endif
