/*
 * switch_aarch64.S - context switch for AArch64 (AAPCS64).
 *
 * Saves only what the procedure call standard says a callee must preserve:
 * x19-x28, the frame pointer x29, the link register x30, the low halves
 * d8-d15 of v8-v15 and the stack pointer.  Everything else is caller-saved,
 * so the C compiler has already spilled what it needs.  FPCR (rounding mode,
 * flush-to-zero) is the thread's, not the task's, as on x86-64
 * (switch_x86_64.S says why).
 *
 * Frame layout of a suspended context, from the saved stack pointer up:
 *     0: x29 x30    (a proper frame record: frame-pointer walkers can follow it)
 *    16: x19 x20,  32: x21 x22,  48: x23 x24,  64: x25 x26,  80: x27 x28
 *    96: d8 d9,   112: d10 d11, 128: d12 d13, 144: d14 d15
 *   160: padding  (176 bytes in all, so sp stays 16-aligned)
 * corio__ctx_make (switch_asm.c) builds the same frame for a new task.
 *
 * The .cfi directives describe every saved register at every instruction
 * (the frame on the other context's stack has the same layout, so they stay
 * true across the stack swap), so debuggers and unwinders can walk a
 * suspended task's stack from inside this function.
 *
 * The switch returns with `ret`, not `br x30`: with BTI enforced a `br`
 * would need a landing pad at every return site.
 */

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define BTI_C hint #34 /* bti c */
#define FEATURE_BTI 1
#else
#define BTI_C
#define FEATURE_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define FEATURE_PAC 2
#else
#define FEATURE_PAC 0
#endif

        .text
        .globl  corio__ctx_switch
        .hidden corio__ctx_switch
        .type   corio__ctx_switch, %function
        .p2align 4
/* void corio__ctx_switch(void **save, void *load) : x0 = save, x1 = load */
corio__ctx_switch:
        .cfi_startproc
        BTI_C
        stp     x29, x30, [sp, #-176]!
        .cfi_def_cfa_offset 176
        .cfi_offset x29, -176
        .cfi_offset x30, -168
        stp     x19, x20, [sp, #16]
        .cfi_offset x19, -160
        .cfi_offset x20, -152
        stp     x21, x22, [sp, #32]
        .cfi_offset x21, -144
        .cfi_offset x22, -136
        stp     x23, x24, [sp, #48]
        .cfi_offset x23, -128
        .cfi_offset x24, -120
        stp     x25, x26, [sp, #64]
        .cfi_offset x25, -112
        .cfi_offset x26, -104
        stp     x27, x28, [sp, #80]
        .cfi_offset x27, -96
        .cfi_offset x28, -88
        stp     d8, d9, [sp, #96]
        .cfi_offset d8, -80
        .cfi_offset d9, -72
        stp     d10, d11, [sp, #112]
        .cfi_offset d10, -64
        .cfi_offset d11, -56
        stp     d12, d13, [sp, #128]
        .cfi_offset d12, -48
        .cfi_offset d13, -40
        stp     d14, d15, [sp, #144]
        .cfi_offset d14, -32
        .cfi_offset d15, -24
        mov     x10, sp
        str     x10, [x0]
        /* From here on we are on the other context's stack, whose frame has
         * the same layout, so the CFI above stays true. */
        mov     sp, x1
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
        ldp     x27, x28, [sp, #80]
        ldp     x29, x30, [sp], #176
        /* Everything is back in its register: say so, since a signal may
         * now overwrite the popped frame below sp. */
        .cfi_def_cfa_offset 0
        .cfi_restore x19
        .cfi_restore x20
        .cfi_restore x21
        .cfi_restore x22
        .cfi_restore x23
        .cfi_restore x24
        .cfi_restore x25
        .cfi_restore x26
        .cfi_restore x27
        .cfi_restore x28
        .cfi_restore x29
        .cfi_restore x30
        .cfi_restore d8
        .cfi_restore d9
        .cfi_restore d10
        .cfi_restore d11
        .cfi_restore d12
        .cfi_restore d13
        .cfi_restore d14
        .cfi_restore d15
        ret
        .cfi_endproc
        .size   corio__ctx_switch, .-corio__ctx_switch

/*
 * First code run on a new task stack: x19 = argument, x20 = entry, x29 = 0
 * (ends the frame-pointer chain), sp 16-byte aligned (the top of the stack),
 * as entry's call needs.  Reached by the switch's `ret`, which BTI does not
 * check, so it needs no landing pad.  Marking x30 (the return address)
 * undefined tells unwinders that the stack ends here.
 */
        .globl  corio__ctx_trampoline
        .hidden corio__ctx_trampoline
        .type   corio__ctx_trampoline, %function
        .p2align 4
corio__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        mov     x0, x19
        blr     x20
        brk     #0              /* entry never returns */
        .cfi_endproc
        .size   corio__ctx_trampoline, .-corio__ctx_trampoline

/*
 * intptr_t corio__call_on_stack(void **slot, intptr_t (*fn)(void *), void *arg)
 *   x0 = slot (the loop's sched_sp), x1 = fn, x2 = arg.
 * Calls fn(arg) on the stack below *slot, the scheduler's saved frame,
 * and returns its result, back on the caller's stack
 * (corio_call_on_loop_stack, task.c).  *slot is NULL while fn runs, so
 * that a call from inside fn runs in place rather than over fn's frames,
 * and is put back after.  The frame record (x29, x30) stays on the
 * caller's stack and x29 points at it while fn runs, so frame-pointer
 * walkers and the CFI (CFA = x29 + 16) lead from fn's frames back into
 * the task's.
 */
        .globl  corio__call_on_stack
        .hidden corio__call_on_stack
        .type   corio__call_on_stack, %function
        .p2align 4
corio__call_on_stack:
        .cfi_startproc
        BTI_C
        stp     x29, x30, [sp, #-16]!
        .cfi_def_cfa_offset 16
        .cfi_offset x29, -16
        .cfi_offset x30, -8
        mov     x29, sp
        .cfi_def_cfa x29, 16
        ldr     x9, [x0]
        str     xzr, [x0]
        sub     x10, x9, #128
        and     x10, x10, #~15
        mov     sp, x10
        stp     x0, x9, [sp, #-16]!     /* slot and its value, for after the call */
        mov     x0, x2
        blr     x1
        ldp     x1, x9, [sp], #16
        str     x9, [x1]
        mov     sp, x29
        .cfi_def_cfa sp, 16
        ldp     x29, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_restore x29
        .cfi_restore x30
        ret
        .cfi_endproc
        .size   corio__call_on_stack, .-corio__call_on_stack

#if FEATURE_BTI || FEATURE_PAC
/* Tell the linker this object is BTI/PAC-compatible, or it drops the
 * property from the whole program (-mbranch-protection=standard builds). */
        .pushsection .note.gnu.property, "a"
        .balign 8
        .long   4                       /* name size */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4
        .long   FEATURE_BTI | FEATURE_PAC
        .long   0
        .popsection
#endif

        .section .note.GNU-stack,"",%progbits
