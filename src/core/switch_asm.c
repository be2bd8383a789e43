/*
 * switch_asm.c - building a fresh context for the assembly switches
 * (switch_x86_64.S, switch_aarch64.S): lay out a frame on the new stack
 * that corio__ctx_switch will "restore", whose resume address is the
 * trampoline that calls the task's entry.
 */
#include "switch.h"

#include <string.h>

void corio__ctx_trampoline(void);

void *corio__ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* 7 slots restored by the switch, then 16 bytes of zeros that end the
     * frame chain; after the switch pops everything rsp == top - 16, which is
     * 16-byte aligned as the trampoline's call needs. */
    uint64_t *sp = (uint64_t *)(top - 16 - 56);
    sp[7] = sp[8] = 0;                   /* the 16 bytes of zeros */
    sp[0] = 0;                           /* r15 */
    sp[1] = 0;                           /* r14 */
    sp[2] = (uint64_t)(uintptr_t)entry;  /* r13 */
    sp[3] = (uint64_t)(uintptr_t)arg;    /* r12 */
    sp[4] = 0;                           /* rbx */
    sp[5] = 0;                           /* rbp: ends the frame-pointer chain */
    sp[6] = (uint64_t)(uintptr_t)corio__ctx_trampoline;
    return sp;
#elif defined(__aarch64__)
    /* The 176-byte frame switch_aarch64.S restores (x29 x30, x19-x28,
     * d8-d15, padding); after it pops everything sp == top, 16-byte
     * aligned as the trampoline's call needs. */
    uint64_t *sp = (uint64_t *)(top - 176);
    memset(sp, 0, 176);
    sp[0] = 0;                           /* x29: ends the frame-pointer chain */
    sp[1] = (uint64_t)(uintptr_t)corio__ctx_trampoline; /* x30: resume address */
    sp[2] = (uint64_t)(uintptr_t)arg;    /* x19 */
    sp[3] = (uint64_t)(uintptr_t)entry;  /* x20 */
    return sp;
#else
#error "no assembly switch for this architecture: build with -DCORIO_SWITCH=ucontext"
#endif
}

int corio__ctx_sched_init(corio_loop *loop) {
    loop->sched_sp = NULL;
    return 0;
}

void corio__ctx_sched_free(corio_loop *loop) { (void)loop; }
