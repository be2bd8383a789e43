/*
 * switch_x86_64.S - context switch for x86-64 (System V ABI).
 *
 * Saves the registers the ABI says a callee must preserve: rbx, rbp,
 * r12-r15 and the stack pointer.  Everything else is caller-saved, so the
 * C compiler has already spilled what it needs.
 *
 * The floating-point control state (MXCSR's rounding and exception masks,
 * the x87 control word) is not switched: it belongs to the thread, as in
 * Go and Tokio, where no code of ours or of the C library changes it.
 * Saving and loading it cost 4 instructions and about 4 ns of the 7.5 ns a
 * switch took (ldmxcsr and fldcw wait for the pipeline), so a task that
 * changes the rounding mode must set it back before it suspends
 * (docs/design.md, "Tasks and the switch").
 *
 * The switch ends with `pop %rcx; jmp *%rcx` rather than `ret`: a `ret`
 * into another stack defeats the return-stack predictor and was measured
 * at 8.9 ns per switch against 3.1 ns for the indirect jump on this
 * machine class (see shared/DESIGN.md).
 *
 * Frame layout of a suspended context, from the saved stack pointer up:
 *   0: r15, 8: r14, 16: r13, 24: r12, 32: rbx, 40: rbp, 48: resume address
 * The .cfi directives describe exactly that, so debuggers and unwinders
 * can walk a suspended task's stack from inside this function.
 */

/*
 * The second half of a switch, shared by corio__ctx_switch and
 * corio__ctx_jump: with rsp at a saved frame (r15 r14 r13 r12 rbx rbp,
 * then the resume address), pop the six registers and jump to the address
 * (a `ret` into another stack mispredicts every time), with the CFI for
 * each pop.
 */
        .macro RESUME_SAVED_FRAME
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        popq    %rcx
        .cfi_adjust_cfa_offset -8
        .cfi_register %rip, %rcx
        jmpq    *%rcx
        .endm

        .text
        .globl  corio__ctx_switch
        .hidden corio__ctx_switch
        .type   corio__ctx_switch, @function
        .p2align 4
/* void corio__ctx_switch(void **save, void *load) : rdi = save, rsi = load */
corio__ctx_switch:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0
        movq    %rsp, (%rdi)
        /* From here on we are on the other context's stack, whose frame has
         * the same layout, so the CFI above stays true. */
        movq    %rsi, %rsp
        RESUME_SAVED_FRAME
        .cfi_endproc
        .size   corio__ctx_switch, .-corio__ctx_switch

/*
 * void corio__ctx_jump(void *load) : rdi = load.
 * The second half of corio__ctx_switch alone: resume `load` and save
 * nothing, for a task that has finished and is never resumed
 * (corio__switch_exit_to_task).  Its registers and stack pointer would be
 * written to a record nobody reads again: 7 instructions a spawn+join
 * (bench/corio_spawn, callgrind).  The frame popped is the one
 * corio__ctx_switch leaves, so the CFI is the same as its second half.
 */
        .globl  corio__ctx_jump
        .hidden corio__ctx_jump
        .type   corio__ctx_jump, @function
        .p2align 4
corio__ctx_jump:
        .cfi_startproc
        movq    %rdi, %rsp
        .cfi_def_cfa_offset 56
        .cfi_offset %r15, -56
        .cfi_offset %r14, -48
        .cfi_offset %r13, -40
        .cfi_offset %r12, -32
        .cfi_offset %rbx, -24
        .cfi_offset %rbp, -16
        .cfi_offset %rip, -8
        RESUME_SAVED_FRAME
        .cfi_endproc
        .size   corio__ctx_jump, .-corio__ctx_jump

/*
 * First code run on a new task stack: r12 = argument, r13 = entry.
 * rsp is 16-byte aligned here, so the call gives entry the ABI's alignment.
 * Marking rip undefined tells unwinders that the stack ends here.
 */
        .globl  corio__ctx_trampoline
        .hidden corio__ctx_trampoline
        .type   corio__ctx_trampoline, @function
        .p2align 4
corio__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined %rip
        movq    %r12, %rdi
        callq   *%r13
        ud2
        .cfi_endproc
        .size   corio__ctx_trampoline, .-corio__ctx_trampoline

/*
 * intptr_t corio__call_on_stack(void **slot, intptr_t (*fn)(void *), void *arg)
 *   rdi = slot (the loop's sched_sp), rsi = fn, rdx = arg.
 * Calls fn(arg) on the stack below *slot, the scheduler's saved frame,
 * and returns its result, back on the caller's stack
 * (corio_call_on_loop_stack, task.c).  *slot is NULL while fn runs, so
 * that a call from inside fn runs in place rather than over fn's frames,
 * and is put back after.  The room starts 128 bytes below the frame (the
 * x86-64 red zone's size), 16-byte aligned before the call.  rbp holds the
 * caller's stack pointer meanwhile and is the CFA's base, so debuggers and
 * unwinders walk from fn's frames back into the task's.
 */
        .globl  corio__call_on_stack
        .hidden corio__call_on_stack
        .type   corio__call_on_stack, @function
        .p2align 4
corio__call_on_stack:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        movq    (%rdi), %rax
        movq    $0, (%rdi)
        leaq    -128(%rax), %rsp
        andq    $-16, %rsp
        pushq   %rdi            /* slot and its value, for after the call: */
        pushq   %rax            /* two pushes keep the 16-byte alignment */
        movq    %rdx, %rdi
        callq   *%rsi
        popq    %rcx
        popq    %rdx
        movq    %rcx, (%rdx)
        movq    %rbp, %rsp
        .cfi_def_cfa_register %rsp
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore %rbp
        ret
        .cfi_endproc
        .size   corio__call_on_stack, .-corio__call_on_stack

        .section .note.GNU-stack,"",@progbits
