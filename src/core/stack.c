/*
 * stack.c - task stacks: carved from large mappings, guarded, cached, and
 * a SIGSEGV reporter that names the task whose stack overflowed.
 *
 * Why carve many stacks out of one mapping: a separate mmap per stack costs
 * about 20 us on this class of VM (3,000 context switches), and an
 * mprotect'ed guard page splits a mapping in three, so with the default
 * vm.max_map_count of 65,530 a process stops at about 32K tasks (libdill
 * #130).  Linux 6.13+ has MADV_GUARD_INSTALL, which makes guard pages
 * without splitting the mapping; we use it where the kernel has it and fall
 * back to mprotect (and, if even that runs out of mappings, to an unguarded
 * stack, reported once) elsewhere.
 *
 * Layout of a chunk:  [guard][stack 0][guard][stack 1] ... [guard][stack n-1]
 * Stacks grow down, so each guard sits just below the stack it protects.
 * Pages are committed by the kernel on first touch; an idle task touches
 * one or two.  Freed stacks go to a per-loop cache by size and keep their
 * touched pages, because a first touch costs 10-50 us here: reuse is what
 * makes spawn cheap.  Memory goes back to the system when the loop closes.
 */
#include "core.h"
#include "switch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORIO__VALGRIND 1
#endif
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

#ifdef CORIO__ASAN
#define DEFAULT_STACK (512 * 1024) /* ASan's redzones roughly double frame sizes */
#else
#define DEFAULT_STACK (256 * 1024)
#endif
#define MIN_STACK (16 * 1024)
#define GUARD_PAGES 4        /* 16 KiB: a frame up to that size still lands in the guard */
#define FIRST_CHUNK 8        /* stacks in the first chunk of a size; doubles after */
#define MAX_CHUNK 1024       /* ... up to this many */
#define MAX_CLASSES 8        /* distinct stack sizes cached */

typedef struct chunk {
    struct chunk *next;
    bool guarded;            /* every slot's guard was installed at creation */
    char *base;              /* the mapping */
    size_t len;
    size_t nslots, used;     /* slots carved so far */
    size_t populated;        /* slots whose top page is already committed (populate_tops) */
    size_t stack_size;       /* usable bytes per slot */
} chunk;

typedef struct size_class {
    size_t size;             /* usable bytes */
    corio__stack *free;      /* cached stacks */
    chunk *current;          /* chunk still being carved */
    size_t next_chunk;       /* slots for the next chunk */
} size_class;

struct corio__stack_pool {
    corio__stack_cache dflt;   /* first: the default size's cache, used inline (core.h) */
    size_class classes[MAX_CLASSES];
    size_t nclasses;
    chunk *chunks;           /* every mapping, for munmap at the end */
    corio__stack *odd_free;  /* stacks of sizes beyond MAX_CLASSES: one mapping each */
};

/* Process-wide facts, shared by loops in any thread: atomics, relaxed is
 * enough because every value written is a correct answer on its own. */
static _Atomic size_t page_size;
static _Atomic int guard_mode;  /* 0 unknown, 1 madvise, 2 mprotect */
static _Atomic int warned_unguarded;

size_t corio__stack_default_size(void) { return DEFAULT_STACK; }

static size_t page(void) {
    if (!page_size) page_size = (size_t)sysconf(_SC_PAGESIZE);
    return page_size;
}

/*
 * Does touching p fault?  Asked once, the first time MADV_GUARD_INSTALL
 * succeeds: the kernel copying a byte from p into a pipe must fail with
 * EFAULT.  Never assume a guard works: a stack without one is silent
 * corruption waiting to happen.
 */
static bool guard_effective(const char *p) {
    int fds[2];
    if (pipe(fds) != 0) return true; /* cannot tell: trust the kernel */
    ssize_t w = write(fds[1], p, 1);
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return w < 0 && e == EFAULT;
}

/* Make [p, p+len) a guard region; returns 0, or -1 if it stays unguarded. */
static int guard(char *p, size_t len) {
    if (guard_mode != 2) {
        if (madvise(p, len, MADV_GUARD_INSTALL) == 0) {
            if (guard_mode == 0 && !guard_effective(p)) {
                /* Accepted but not enforced (qemu-user does this): use mprotect. */
                madvise(p, len, MADV_GUARD_REMOVE);
                guard_mode = 2;
            } else {
                guard_mode = 1;
                return 0;
            }
        }
        if (guard_mode == 1) return -1; /* it worked before: a real error */
        guard_mode = 2;                 /* this kernel lacks it */
    }
    if (mprotect(p, len, PROT_NONE) == 0) return 0;
    if (!atomic_exchange(&warned_unguarded, 1)) {
        corio__log(CORIO_LOG_WARNING,
                   "corio: cannot add stack guard pages (%s; raise vm.max_map_count); "
                   "further task stacks are unguarded",
                   strerror(errno));
    }
    return -1;
}

/*
 * Install the guards of a whole chunk with one process_madvise() call per
 * GUARD_BATCH slots instead of one madvise() per stack: on this VM a system
 * call costs 1-2 us, which for a million tasks was a second and a half.
 * process_madvise needs a pidfd for ourselves; it is reopened after a fork
 * (the inherited one names the parent).  Returns false when the kernel
 * cannot do it, and the caller guards each slot as it is carved.
 */
#define GUARD_BATCH 256
static pthread_mutex_t pidfd_lock = PTHREAD_MUTEX_INITIALIZER;
static int self_pidfd = -1;
static pid_t self_pidfd_owner;
static _Atomic int batch_broken;

static int get_self_pidfd(void) {
#ifdef SYS_pidfd_open
    pthread_mutex_lock(&pidfd_lock);
    pid_t me = getpid();
    if (self_pidfd >= 0 && self_pidfd_owner != me) {
        close(self_pidfd); /* our copy of the parent's */
        self_pidfd = -1;
    }
    if (self_pidfd < 0) {
        self_pidfd = (int)syscall(SYS_pidfd_open, me, 0);
        self_pidfd_owner = me;
    }
    int fd = self_pidfd;
    pthread_mutex_unlock(&pidfd_lock);
    return fd;
#else
    return -1;
#endif
}

static bool guard_chunk(chunk *c, size_t g, size_t slot) {
#ifdef SYS_process_madvise
    if (guard_mode == 2 || batch_broken) return false;
#ifdef CORIO__VALGRIND
    if (RUNNING_ON_VALGRIND) { /* valgrind 3.19 knows neither pidfd_open nor process_madvise */
        batch_broken = 1;
        return false;
    }
#endif
    int pidfd = get_self_pidfd();
    if (pidfd < 0) {
        batch_broken = 1;
        return false;
    }
    struct iovec iov[GUARD_BATCH];
    for (size_t i = 0; i < c->nslots;) {
        size_t k = 0;
        for (; k < GUARD_BATCH && i < c->nslots; k++, i++) {
            iov[k].iov_base = c->base + i * slot;
            iov[k].iov_len = g;
        }
        long r = syscall(SYS_process_madvise, pidfd, iov, k, MADV_GUARD_INSTALL, 0);
        if (r != (long)(k * g)) {
            batch_broken = 1;
            return false;
        }
    }
    if (guard_mode == 0) {
        if (!guard_effective(c->base)) {
            madvise(c->base, c->len, MADV_GUARD_REMOVE);
            guard_mode = 2;
            return false;
        }
        guard_mode = 1;
    }
    return true;
#else
    (void)c, (void)g, (void)slot;
    return false;
#endif
}

/*
 * Commit the top page of the next slots of c in one system call, before
 * they are carved.  A new task's record, its stack's descriptor and its
 * first frames are in that page, so each new task takes one page fault
 * when it is carved; on this VM a fault costs 12-18 us, of which the
 * kernel committing pages it is asked for in a batch spends about half
 * (the rest is the trap in and out, per page).  bench/corio_sleepers with
 * a million tasks: the spawn phase went from 16.6 s to about 9.  Only
 * chunks of POPULATE_MIN_SLOTS and more, which a program gets once it has
 * made about that many stacks: a small program commits no page it does not
 * use, a large one at most POPULATE_BATCH - 1 ahead of use.  Where the
 * kernel refuses (process_madvise takes MADV_POPULATE_WRITE for the
 * calling process since Linux 6.13; valgrind knows neither call) pages are
 * committed by the first touch as before.
 */
#define POPULATE_MIN_SLOTS 64
#define POPULATE_BATCH 64
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static _Atomic int populate_broken;

static void populate_tops(chunk *c, size_t slot) {
    c->populated = c->used + POPULATE_BATCH < c->nslots ? c->used + POPULATE_BATCH : c->nslots;
#ifdef SYS_process_madvise
    if (populate_broken) return;
    int pidfd = get_self_pidfd();
    if (pidfd < 0) {
        populate_broken = 1;
        return;
    }
    size_t pg = page();
    struct iovec iov[POPULATE_BATCH];
    size_t k = 0;
    for (size_t i = c->used; i < c->populated; i++, k++) {
        iov[k].iov_base = c->base + (i + 1) * slot - pg;
        iov[k].iov_len = pg;
    }
    if (syscall(SYS_process_madvise, pidfd, iov, k, MADV_POPULATE_WRITE, 0) != (long)(k * pg)) populate_broken = 1;
#else
    (void)slot;
    populate_broken = 1;
#endif
}

corio__stack_pool *corio__stack_pool_new(void) {
    corio__stack_pool *p = corio__calloc(1, sizeof *p);
    if (p) p->dflt.size = DEFAULT_STACK;
    return p;
}

static chunk *chunk_new(corio__stack_pool *p, size_t size, size_t nslots) {
    size_t g = GUARD_PAGES * page(), slot = g + size;
    chunk *c = corio__calloc(1, sizeof *c);
    if (!c) return NULL;
    c->len = slot * nslots;
    c->base = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    if (c->base == MAP_FAILED) goto fail;
    c->nslots = nslots;
    c->stack_size = size;
    c->guarded = guard_chunk(c, g, slot);
#ifdef CORIO__VALGRIND
    if (RUNNING_ON_VALGRIND) c->populated = nslots; /* valgrind 3.19 knows neither pidfd_open nor process_madvise */
#endif
    c->next = p->chunks;
    p->chunks = c;
    return c;
fail:
    corio__free(c);
    return NULL;
}

static corio__stack *carve(corio__stack_pool *p, chunk *c) {
    size_t g = GUARD_PAGES * page(), slot = g + c->stack_size;
    if (c->used == c->populated && c->nslots >= POPULATE_MIN_SLOTS) populate_tops(c, slot);
    char *s = c->base + slot * c->used;
    c->used++;
    if (!c->guarded) guard(s, g);
    /* The descriptor goes in the stack's top bytes (core.h). */
    corio__stack *st = (corio__stack *)(s + slot - CORIO__STACK_DESC_ROOM);
    st->lo = s + g;
    st->size = c->stack_size;
    st->pool = p;
#ifdef CORIO__VALGRIND
    st->valgrind_id = VALGRIND_STACK_REGISTER(st->lo, (char *)st->lo + st->size);
#endif
    return st;
}

corio__stack *corio__stack_get(corio__stack_pool *p, size_t size) {
    /* Cached stacks of the default size are all in p->dflt (core.h's
     * corio__stack_take looks there first; this is for a size asked for
     * explicitly). */
    if ((size == 0 || size == p->dflt.size) && p->dflt.free) {
        corio__stack *st = p->dflt.free;
        p->dflt.free = st->next_free;
        return st;
    }
    size_t pg = page();
    if (size == 0) size = DEFAULT_STACK;
    if (size < MIN_STACK) size = MIN_STACK;
    if (size > ((size_t)1 << 40)) return NULL;
    size = (size + pg - 1) & ~(pg - 1);

    size_class *sc = NULL;
    for (size_t i = 0; i < p->nclasses; i++)
        if (p->classes[i].size == size) sc = &p->classes[i];
    if (!sc && p->nclasses < MAX_CLASSES) {
        sc = &p->classes[p->nclasses++];
        sc->size = size;
        sc->next_chunk = FIRST_CHUNK;
    }
    if (!sc) {
        /* A rare size: one mapping of its own, cached on a list checked by size. */
        for (corio__stack **pp = &p->odd_free; *pp; pp = &(*pp)->next_free)
            if ((*pp)->size == size) {
                corio__stack *st = *pp;
                *pp = st->next_free;
                return st;
            }
        chunk *c = chunk_new(p, size, 1);
        return c ? carve(p, c) : NULL;
    }
    if (sc->free) {
        corio__stack *st = sc->free;
        sc->free = st->next_free;
        return st;
    }
    if (!sc->current || sc->current->used == sc->current->nslots) {
        chunk *c = chunk_new(p, size, sc->next_chunk);
        if (!c) return NULL;
        sc->current = c;
        if (sc->next_chunk < MAX_CHUNK) sc->next_chunk *= 2;
    }
    return carve(p, sc->current);
}

void corio__stack_put(corio__stack_pool *p, corio__stack *st) {
    if (st->size == p->dflt.size) {
        st->next_free = p->dflt.free;
        p->dflt.free = st;
        return;
    }
    for (size_t i = 0; i < p->nclasses; i++)
        if (p->classes[i].size == st->size) {
            st->next_free = p->classes[i].free;
            p->classes[i].free = st;
            return;
        }
    st->next_free = p->odd_free;
    p->odd_free = st;
}

void corio__stack_pool_free(corio__stack_pool *p) {
    if (!p) return;
    for (chunk *c = p->chunks, *n; c; c = n) {
        n = c->next;
#ifdef CORIO__VALGRIND
        size_t slot = GUARD_PAGES * page() + c->stack_size;
        /* Only under valgrind: the loop reads every stack's top page, a
         * TLB miss each (a million tasks: a second). */
        for (size_t i = 0; RUNNING_ON_VALGRIND && i < c->used; i++)
            VALGRIND_STACK_DEREGISTER(((corio__stack *)(c->base + (i + 1) * slot - CORIO__STACK_DESC_ROOM))->valgrind_id);
#endif
        munmap(c->base, c->len);
        corio__free(c);
    }
    corio__free(p);
}

/* ---- overflow reporting --------------------------------------------------------
 * A handler on an alternate signal stack (the faulting stack is unusable)
 * looks at the faulting address: if it lies in the guard region below the
 * running task's stack, it writes "stack overflow in task '<name>' (stack
 * <size>)" with async-signal-safe calls and aborts.  Any other fault goes
 * to whatever handler was there before us.
 */

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction old_segv, old_bus;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static CORIO__TLS void *thread_altstack;

static size_t fmt_u(char *out, unsigned long long v) {
    char tmp[24];
    size_t n = 0, i = 0;
    do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (n) out[i++] = tmp[--n];
    return i;
}

static void put(const char *s, size_t n) {
    while (n) {
        ssize_t w = write(2, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
    corio_task *t = corio__current();
    if (t && t->stack) {
        uintptr_t a = (uintptr_t)si->si_addr, lo = (uintptr_t)t->stack->lo;
        if (a < lo && a >= lo - GUARD_PAGES * page()) {
            char buf[64];
            put("stack overflow in task '", 24);
            if (t->name_heap) {
                put(t->name_heap, strlen(t->name_heap));
            } else if (t->name[0]) {
                put(t->name, strlen(t->name));
            } else {
                put("Task-", 5);
                put(buf, fmt_u(buf, t->id));
            }
            put("' (stack ", 9);
            put(buf, fmt_u(buf, t->stack->size));
            put(")\n", 2);
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    /* Not ours: hand over to the previous disposition. */
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: reinstate it; returning re-runs the faulting access. */
    sigaction(sig, old, NULL);
}

static void install_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

void corio__stack_overflow_handler_install(void) {
    pthread_once(&handler_once, install_handler);
    if (thread_altstack) return;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return; /* the thread has one */
    void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(p, ALTSTACK_SIZE);
        return;
    }
    /* Kept for the thread's life: a loop created later on it needs it again,
     * and freeing it at thread exit would need a destructor for 64 KiB. */
    thread_altstack = p;
}
