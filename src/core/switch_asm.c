/*
 * switch_asm.c - building a fresh context for the assembly switches
 * (switch_x86_64.S, switch_aarch64.S): lay out a frame on the new stack
 * that corio__ctx_switch will "restore", whose resume address is the
 * trampoline that calls the task's entry.  The x86-64 one is inline, in
 * switch.h.
 */
#include "switch.h"

#include <string.h>

#if defined(__aarch64__)
void corio__ctx_trampoline(void);

void *corio__ctx_make(void *lo, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
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
}
#elif !defined(__x86_64__)
#error "no assembly switch for this architecture: build with -DCORIO_SWITCH=ucontext"
#endif

int corio__ctx_sched_init(corio_loop *loop) {
    loop->sched_sp = NULL;
    return 0;
}

void corio__ctx_sched_free(corio_loop *loop) { (void)loop; }
