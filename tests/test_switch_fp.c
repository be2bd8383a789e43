/*
 * The context switch must keep each task's callee-saved registers to
 * itself: live locals (integer and double) survive yields, and, checked
 * directly with inline assembly on x86-64 and AArch64, every callee-saved
 * register holds its value across a corio_yield() while another task loads
 * different values into the same registers.
 *
 * Built at the project's default -O2 so locals really live in registers;
 * the two tasks interleave at every yield.
 */
#include "test.h"

/* Opaque to the optimizer: no constant folding across the switches. */
static volatile double vseed = 0.1;
static volatile int vint_seed = 7;

/* ---- many live locals across yields -------------------------------------- */

#define STEPS 200

/* Mix 16 doubles and 8 integers; `yield` says whether to yield between steps.
 * Enough live values that the compiler must keep many in callee-saved
 * registers (or spill them) across the call to corio_yield(). */
static double mix(double s, int k, int yield, uint64_t *isum) {
    double a = s, b = s * 2, c = s * 3, d = s * 4, e = s * 5, f = s * 6, g = s * 7, h = s * 8;
    double i = s + 1, j = s + 2, l = s + 3, m = s + 4, n = s + 5, o = s + 6, p = s + 7, q = s + 8;
    uint64_t ia = (uint64_t)k, ib = ia * 2, ic = ia * 3, id = ia * 5;
    uint64_t ie = ia * 7, ig = ia * 11, ih = ia * 13, ii = ia * 17;
    for (int step = 0; step < STEPS; step++) {
        a = a * 1.0000001 + b * 1e-9;
        b = b * 0.9999999 + c * 1e-9;
        c = c + d * 1e-8 - e * 1e-8;
        d = d * 1.0000003 - f * 1e-9;
        e = e + g * 1e-9;
        f = f * 0.9999997 + h * 1e-9;
        g = g + i * 1e-10 - a * 1e-10;
        h = h * 1.0000002;
        i = i + j * 1e-9;
        j = j * 0.9999998 + l * 1e-9;
        l = l + m * 1e-9 - n * 1e-9;
        m = m * 1.0000001;
        n = n + o * 1e-9;
        o = o * 0.9999999 + p * 1e-9;
        p = p + q * 1e-9;
        q = q * 1.0000004 - a * 1e-10;
        ia = ia * 3 + ib;
        ib = ib ^ (ic << 1);
        ic = ic + id * 5;
        id = id - ie;
        ie = ie * 7 + ig;
        ig = ig ^ (ih >> 3);
        ih = ih + ii;
        ii = ii * 5 + ia;
        if (yield) CHECK_EQ(corio_yield(), 0);
    }
    *isum = ia ^ ib ^ ic ^ id ^ ie ^ ig ^ ih ^ ii;
    return a + b + c + d + e + f + g + h + i + j + l + m + n + o + p + q;
}

typedef struct {
    double seed;
    int k;
    double got, want;
    uint64_t igot, iwant;
} mix_job;

static int mix_task(void *arg) {
    mix_job *job = arg;
    job->want = mix(job->seed, job->k, 0, &job->iwant); /* no switches */
    job->got = mix(job->seed, job->k, 1, &job->igot);   /* a switch every step */
    return 0;
}

static int locals_main(void *arg) {
    (void)arg;
    mix_job jobs[3] = {{vseed, vint_seed, 0, 0, 0, 0},
                       {vseed * 7, vint_seed * 3, 0, 0, 0, 0},
                       {-vseed * 13, -vint_seed, 0, 0, 0, 0}};
    corio_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = corio_spawn(mix_task, &jobs[i]);
    /* ... and the main task itself keeps locals live across its joins. */
    uint64_t iwant, igot;
    double want = mix(vseed * 3, 5, 0, &iwant);
    double got = mix(vseed * 3, 5, 1, &igot);
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_join(t[i]), 0);
    CHECK(got == want);
    CHECK_EQ(igot, iwant);
    for (int i = 0; i < 3; i++) {
        CHECK(jobs[i].got == jobs[i].want);
        CHECK_EQ(jobs[i].igot, jobs[i].iwant);
    }
    return 0;
}

static void test_locals_survive_yields(void) { CHECK_EQ(test_run(locals_main, NULL, 0), 0); }

/* ---- the stack is 16-byte aligned in every task ---------------------------- */

/* The compiler assumes the ABI's 16-byte alignment on entry and places a
 * 16-aligned local at a fixed offset from it, so a misaligned stack from
 * the switch (or the first entry through the trampoline) shows up as a
 * misaligned local.  QEMU does not fault on a misaligned sp as AArch64
 * hardware does, so this must be checked explicitly. */
static __attribute__((noinline)) int stack_misaligned(void) {
    _Alignas(16) char buf[16];
    char *volatile p = buf; /* read back through volatile: not folded away */
    buf[0] = 0;
    return (int)((uintptr_t)p & 15);
}

static int align_task(void *arg) {
    int *bad = arg;
    _Alignas(16) volatile char here[16];
    char *volatile p = (char *)here;
    *bad += (int)((uintptr_t)p & 15) != 0; /* first entry, via the trampoline */
    for (int i = 0; i < 3; i++) {
        *bad += stack_misaligned() != 0;
        CHECK_EQ(corio_yield(), 0);
    }
    return 0;
}

static int align_main(void *arg) {
    (void)arg;
    int bad = 0;
    corio_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = corio_spawn(align_task, &bad);
    for (int i = 0; i < 4; i++) CHECK_EQ(corio_join(t[i]), 0);
    CHECK_EQ(stack_misaligned(), 0);
    CHECK_EQ(bad, 0);
    return 0;
}

static void test_stack_aligned(void) { CHECK_EQ(test_run(align_main, NULL, 0), 0); }

/* ---- every callee-saved register, checked directly ----------------------- */

#if defined(__aarch64__) || defined(__x86_64__)
#define HAVE_REG_PROBE 1

/* The inline assembly below fills every callee-saved register with values
 * derived from `seed`, calls fn (which yields), then stores the registers
 * into out[] as they came back. */
typedef struct {
    void (*fn)(void);
    uint64_t seed;
    uint64_t out[18];
} reg_probe;

#if defined(__aarch64__)
#define NREGS 18 /* x19-x28, d8-d15 */
static void probe(reg_probe *p) {
    register reg_probe *x0 __asm__("x0") = p;
    __asm__ volatile(
        "str    x0, [sp, #-16]!\n\t"
        "ldr    x9, [x0, #8]\n\t"
        "add    x19, x9, #1\n\t"
        "add    x20, x9, #2\n\t"
        "add    x21, x9, #3\n\t"
        "add    x22, x9, #4\n\t"
        "add    x23, x9, #5\n\t"
        "add    x24, x9, #6\n\t"
        "add    x25, x9, #7\n\t"
        "add    x26, x9, #8\n\t"
        "add    x27, x9, #9\n\t"
        "add    x28, x9, #10\n\t"
        "add    x10, x9, #11\n\t"
        "fmov   d8, x10\n\t"
        "add    x10, x9, #12\n\t"
        "fmov   d9, x10\n\t"
        "add    x10, x9, #13\n\t"
        "fmov   d10, x10\n\t"
        "add    x10, x9, #14\n\t"
        "fmov   d11, x10\n\t"
        "add    x10, x9, #15\n\t"
        "fmov   d12, x10\n\t"
        "add    x10, x9, #16\n\t"
        "fmov   d13, x10\n\t"
        "add    x10, x9, #17\n\t"
        "fmov   d14, x10\n\t"
        "add    x10, x9, #18\n\t"
        "fmov   d15, x10\n\t"
        /* Fill the upper halves of v8-v15 too: only the low 64 bits are
         * preserved by the ABI, so these must not confuse the check. */
        "mov    v8.d[1], x9\n\t"
        "mov    v15.d[1], x9\n\t"
        "ldr    x16, [x0]\n\t"
        "blr    x16\n\t"
        "ldr    x0, [sp], #16\n\t"
        "stp    x19, x20, [x0, #16]\n\t"
        "stp    x21, x22, [x0, #32]\n\t"
        "stp    x23, x24, [x0, #48]\n\t"
        "stp    x25, x26, [x0, #64]\n\t"
        "stp    x27, x28, [x0, #80]\n\t"
        "stp    d8, d9, [x0, #96]\n\t"
        "stp    d10, d11, [x0, #112]\n\t"
        "stp    d12, d13, [x0, #128]\n\t"
        "stp    d14, d15, [x0, #144]\n\t"
        : "+r"(x0)
        :
        : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
          "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
          "x28", "x30", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11",
          "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24",
          "v25", "v26", "v27", "v28", "v29", "v30", "v31", "memory", "cc");
}
#else
#define NREGS 6 /* rbx, rbp, r12-r15 */
static void probe(reg_probe *p) {
    register reg_probe *rdi __asm__("rdi") = p;
    __asm__ volatile(
        /* Step over the red zone and align the stack for the call; rbp may
         * be the frame pointer, so it is saved here rather than clobbered. */
        "movq   %%rsp, %%rax\n\t"
        "subq   $128, %%rsp\n\t"
        "andq   $-16, %%rsp\n\t"
        "pushq  %%rax\n\t"
        "pushq  %%rdi\n\t"
        "pushq  %%rbp\n\t"
        "subq   $8, %%rsp\n\t"
        "movq   8(%%rdi), %%rax\n\t"
        "leaq   1(%%rax), %%rbx\n\t"
        "leaq   2(%%rax), %%rbp\n\t"
        "leaq   3(%%rax), %%r12\n\t"
        "leaq   4(%%rax), %%r13\n\t"
        "leaq   5(%%rax), %%r14\n\t"
        "leaq   6(%%rax), %%r15\n\t"
        "callq  *(%%rdi)\n\t"
        "movq   16(%%rsp), %%rdi\n\t"
        "movq   %%rbx, 16(%%rdi)\n\t"
        "movq   %%rbp, 24(%%rdi)\n\t"
        "movq   %%r12, 32(%%rdi)\n\t"
        "movq   %%r13, 40(%%rdi)\n\t"
        "movq   %%r14, 48(%%rdi)\n\t"
        "movq   %%r15, 56(%%rdi)\n\t"
        "addq   $8, %%rsp\n\t"
        "popq   %%rbp\n\t"
        "popq   %%rdi\n\t"
        "popq   %%rsp\n\t"
        : "+r"(rdi)
        :
        : "rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
          "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
}
#endif

static void probe_yield(void) {
    /* Several switches, with the other probing task running in between. */
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_yield(), 0);
}

static int probe_task(void *arg) {
    reg_probe *p = arg;
    p->fn = probe_yield;
    probe(p);
    return 0;
}

static int probe_main(void *arg) {
    (void)arg;
    reg_probe a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.seed = 0x1111111100000000u;
    b.seed = 0x2222222200000000u;
    corio_task *ta = corio_spawn(probe_task, &a);
    corio_task *tb = corio_spawn(probe_task, &b);
    CHECK_EQ(corio_join(ta), 0);
    CHECK_EQ(corio_join(tb), 0);
    for (int i = 0; i < NREGS; i++) {
        if (a.out[i] != a.seed + (uint64_t)i + 1 || b.out[i] != b.seed + (uint64_t)i + 1) {
            fprintf(stderr, "callee-saved register #%d not preserved: %#llx %#llx\n", i,
                    (unsigned long long)a.out[i], (unsigned long long)b.out[i]);
            test_failures++;
        }
    }
    return 0;
}

static void test_callee_saved_registers(void) { CHECK_EQ(test_run(probe_main, NULL, 0), 0); }
#endif

int main(void) {
    RUN_TEST(test_locals_survive_yields);
    RUN_TEST(test_stack_aligned);
#ifdef HAVE_REG_PROBE
    RUN_TEST(test_callee_saved_registers);
#endif
    TEST_MAIN_END();
}
