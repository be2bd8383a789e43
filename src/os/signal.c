/*
 * signal.c - Unix signals as loop callbacks (asyncio add_signal_handler).
 *
 * A signal handler may only do async-signal-safe things: no malloc, no
 * mutex, so corio_loop_call_soon_threadsafe is out.  Each loop with
 * handlers owns a SLOT in a static table that the process-wide handler
 * reads without locks:
 *
 *   mask     the signals the loop registered (bit signum - 1);
 *   pending  the signals that arrived and the loop has not seen yet;
 *   wfd      the loop's eventfd + 1 (0: none), written to wake the loop;
 *   busy     how many handler invocations are looking at the slot now.
 *
 * The handler sets the pending bit and writes the eventfd (non-blocking:
 * a full counter only means the loop is already due to wake), keeping
 * errno as it found it.  The loop watches the eventfd with
 * corio_add_reader; its callback reads the eventfd FIRST and then takes
 * the pending mask, so a signal that arrives in between writes again and
 * is seen in the next round: nothing is lost, repeats coalesce.
 *
 * Giving a slot back: clear mask and wfd, then wait until `busy` is 0
 * before closing the eventfd - otherwise a handler that had already read
 * wfd could write into a descriptor number that a new open() reused.
 * Slots are static and never freed, so the handler never touches freed
 * memory.  Everything else (which loop has which slot, the saved
 * dispositions, the per-signal user counts) is under `sig_mu` and only
 * touched outside signal context.
 *
 * Under ThreadSanitizer (clang) the handler is given to the kernel past
 * TSan's sigaction interceptor, and is not instrumented.  TSan's own
 * handler runs the user's at once only if the thread waits in a call TSan
 * intercepts; otherwise it records the signal in the state of the TSan
 * fiber that runs (a loop thread switches between one per task all the
 * time) and runs the handler when that fiber next leaves an intercepted
 * call.  A signal recorded that way could wait for ever: under load,
 * test_two_loops_two_threads lost a process-directed SIGUSR1 about once
 * in 100 runs - the kernel had delivered it (nothing pending, both loop
 * threads taking it) and 5 s later the handler still had not run, though
 * both loops kept polling in epoll_wait and their tasks made intercepted
 * calls.  The handler needs none of TSan's care: it only touches atomics
 * and writes an eventfd with a raw system call, so it now runs where the
 * kernel delivers it, as in a build without TSan (which then does not see
 * its accesses: all of them are atomic).
 */
#include "os.h"

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIG_UNDER_TSAN 1
#endif
#endif
#if defined(SIG_UNDER_TSAN) && defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define SIG_PAST_TSAN 1 /* see above; gcc's TSan keeps the intercepted path */
#endif
#endif
#ifdef SIG_PAST_TSAN
#include <dlfcn.h>
#include <string.h>
#include <sys/syscall.h>
/* No TSan code in the handler: no shadow accesses, atomics as plain
 * instructions, no calls into instrumented functions (it calls none but
 * __errno_location and syscall, which TSan leaves alone). */
#define SIG_HANDLER_ATTR __attribute__((disable_sanitizer_instrumentation))
#define sig_raw_write(fd, p, n) syscall(SYS_write, (fd), (p), (n))
#else
#define SIG_HANDLER_ATTR
#define sig_raw_write(fd, p, n) write((fd), (p), (n))
#endif

#define MAX_SLOTS 64
#define MAX_SIG 64 /* numbers 1..64 fit the 64-bit masks; Linux's _NSIG is 65 */

typedef struct slot {
    atomic_int busy;
    atomic_int wfd;
    atomic_uint_least64_t mask;
    atomic_uint_least64_t pending;
} slot;

static slot slots[MAX_SLOTS];
static atomic_int nslots_hw;          /* slots [0, nslots_hw) may be in use */
static bool slot_used[MAX_SLOTS];     /* sig_mu */
static int sig_users[MAX_SIG + 1];    /* loops handling each signal (sig_mu) */
static struct sigaction sig_old[MAX_SIG + 1]; /* the disposition before the first (sig_mu) */
static pthread_mutex_t sig_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct sigloop {
    int slot;                      /* index into slots */
    int efd;                       /* the eventfd the handler writes */
    uint64_t mask;                 /* this loop's registered signals (mirror of the slot's) */
    int dispatching;               /* > 0 while callbacks run: teardown waits */
    corio_signal_cb cb[MAX_SIG + 1];
    void *arg[MAX_SIG + 1];
} sigloop;

static inline uint64_t sig_bit(int signum) { return (uint64_t)1 << (signum - 1); }

/* Sets or reads a disposition: libc's sigaction, past TSan's interceptor
 * under TSan (sig_mu).  The dispositions saved and restored are then the
 * kernel's, which is what the interceptor itself installed for an earlier
 * handler (and it still knows that handler when it is put back). */
static int set_action(int signum, const struct sigaction *sa, struct sigaction *old) {
#ifdef SIG_PAST_TSAN
    static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
    if (!real_sigaction) {
        void *f = dlsym(RTLD_NEXT, "sigaction");
        if (f) memcpy(&real_sigaction, &f, sizeof f);
        else real_sigaction = sigaction;
    }
    return real_sigaction(signum, sa, old);
#else
    return sigaction(signum, sa, old);
#endif
}

SIG_HANDLER_ATTR static void on_signal(int signum) {
    int saved = errno;
    uint64_t bit = (uint64_t)1 << (signum - 1); /* not sig_bit: no call out of here under TSan */
    int hw = atomic_load(&nslots_hw);
    for (int i = 0; i < hw; i++) {
        slot *s = &slots[i];
        atomic_fetch_add(&s->busy, 1);
        if (atomic_load(&s->mask) & bit) {
            atomic_fetch_or(&s->pending, bit);
            int fd = atomic_load(&s->wfd) - 1;
            if (fd >= 0) {
                uint64_t one = 1;
                ssize_t r = sig_raw_write(fd, &one, sizeof one);
                (void)r; /* EAGAIN: the counter is full and the loop will wake anyway */
            }
        }
        atomic_fetch_sub(&s->busy, 1);
    }
    errno = saved;
}

static void teardown(corio_loop *loop, sigloop *sl) {
    slot *s = &slots[sl->slot];
    atomic_store(&s->mask, 0);
    atomic_store(&s->wfd, 0);
    /* A handler that saw the old wfd finishes before the descriptor goes. */
    while (atomic_load(&s->busy) > 0) sched_yield();
    atomic_store(&s->pending, 0);
    corio_close(sl->efd);
    pthread_mutex_lock(&sig_mu);
    slot_used[sl->slot] = false;
    pthread_mutex_unlock(&sig_mu);
    corio__free(sl);
    loop->sig_state = NULL;
}

/* The eventfd is readable: run the handlers of what arrived.  Loop thread. */
static void on_readable(void *arg) {
    sigloop *sl = arg;
    corio_loop *loop = corio__cur_loop;
    uint64_t v;
    ssize_t r = read(sl->efd, &v, sizeof v);
    (void)r;
    uint64_t p = atomic_exchange(&slots[sl->slot].pending, 0);
    sl->dispatching++;
    for (int sig = 1; p && sig <= MAX_SIG; sig++) {
        if (!(p & sig_bit(sig))) continue;
        p &= ~sig_bit(sig);
        if (sl->cb[sig]) sl->cb[sig](sig, sl->arg[sig]);
    }
    sl->dispatching--;
    if (!sl->dispatching && !sl->mask) teardown(loop, sl);
}

static int check_signum(int signum, const char *who) {
    if (signum < 1 || signum > MAX_SIG || signum >= NSIG)
        return corio__bad(-EINVAL, "%s: signal number %d out of range", who, signum);
    if (signum == SIGKILL || signum == SIGSTOP)
        return corio__bad(-EINVAL, "%s: SIGKILL and SIGSTOP cannot be caught", who);
    if (signum == SIGSEGV || signum == SIGBUS || signum == SIGFPE || signum == SIGILL)
        return corio__bad(-EINVAL, "%s: a fault signal (%d) cannot be deferred to the loop", who, signum);
    return 0;
}

static sigloop *sigloop_new(corio_loop *loop, int *err) {
    sigloop *sl = corio__calloc(1, sizeof *sl);
    if (!sl) {
        *err = -ENOMEM;
        return NULL;
    }
    sl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sl->efd < 0) {
        *err = -errno;
        corio__free(sl);
        return NULL;
    }
    pthread_mutex_lock(&sig_mu);
    int i = 0;
    while (i < MAX_SLOTS && slot_used[i]) i++;
    if (i < MAX_SLOTS) {
        slot_used[i] = true;
        if (i >= atomic_load(&nslots_hw)) atomic_store(&nslots_hw, i + 1);
    }
    pthread_mutex_unlock(&sig_mu);
    if (i == MAX_SLOTS) {
        close(sl->efd);
        corio__free(sl);
        *err = corio__bad(-ENOSPC, "corio_add_signal_handler: %d loops already handle signals", MAX_SLOTS);
        return NULL;
    }
    sl->slot = i;
    atomic_store(&slots[i].pending, 0);
    atomic_store(&slots[i].wfd, sl->efd + 1);
    int rc = corio_add_reader(sl->efd, on_readable, sl);
    if (rc < 0) {
        loop->sig_state = sl;
        teardown(loop, sl);
        *err = rc;
        return NULL;
    }
    loop->sig_state = sl;
    return sl;
}

int corio_add_signal_handler(int signum, corio_signal_cb cb, void *arg) {
    corio_loop *loop = corio__cur_loop;
    int rc = check_signum(signum, "corio_add_signal_handler");
    if (rc < 0) return rc;
    if (!cb) return corio__bad(-EINVAL, "corio_add_signal_handler: NULL callback");
    if (!loop) return corio__bad(-EPERM, "corio_add_signal_handler: no loop runs on this thread");
    sigloop *sl = loop->sig_state;
    if (!sl && !(sl = sigloop_new(loop, &rc))) return rc;
    uint64_t bit = sig_bit(signum);
    if (!(sl->mask & bit)) {
        pthread_mutex_lock(&sig_mu);
        /* The slot listens before the handler is installed, so that a signal
         * arriving right after is not missed. */
        atomic_fetch_or(&slots[sl->slot].mask, bit);
        if (sig_users[signum] == 0) {
            struct sigaction sa = {0};
            sa.sa_handler = on_signal;
            sigemptyset(&sa.sa_mask);
            /* SA_RESTART: other threads' blocking calls are not broken by a
             * signal meant for a loop (asyncio: siginterrupt(sig, False)). */
            sa.sa_flags = SA_RESTART | SA_ONSTACK;
            if (set_action(signum, &sa, &sig_old[signum]) < 0) {
                rc = -errno;
                atomic_fetch_and(&slots[sl->slot].mask, ~bit);
                pthread_mutex_unlock(&sig_mu);
                if (!sl->mask && !sl->dispatching) teardown(loop, sl);
                return rc;
            }
        }
        sig_users[signum]++;
        pthread_mutex_unlock(&sig_mu);
        sl->mask |= bit;
    }
    sl->cb[signum] = cb;
    sl->arg[signum] = arg;
    return 0;
}

/* Remove the loop's handler for signum, which it has (the loop is the
 * current one).  True when a signal had arrived for it and was not yet
 * dispatched: it is dropped. */
static bool remove_handler(corio_loop *loop, sigloop *sl, int signum) {
    uint64_t bit = sig_bit(signum);
    pthread_mutex_lock(&sig_mu);
    atomic_fetch_and(&slots[sl->slot].mask, ~bit);
    if (--sig_users[signum] == 0) set_action(signum, &sig_old[signum], NULL);
    pthread_mutex_unlock(&sig_mu);
    uint64_t was = atomic_fetch_and(&slots[sl->slot].pending, ~bit);
    sl->mask &= ~bit;
    sl->cb[signum] = NULL;
    sl->arg[signum] = NULL;
    if (!sl->mask && !sl->dispatching) teardown(loop, sl);
    return was & bit;
}

int corio_remove_signal_handler(int signum) {
    corio_loop *loop = corio__cur_loop;
    if (signum < 1 || signum > MAX_SIG || signum >= NSIG)
        return corio__bad(-EINVAL, "corio_remove_signal_handler: signal number %d out of range", signum);
    if (!loop) return corio__bad(-EPERM, "corio_remove_signal_handler: no loop runs on this thread");
    sigloop *sl = loop->sig_state;
    if (!sl || !(sl->mask & sig_bit(signum))) return 0;
    remove_handler(loop, sl, signum);
    return 1;
}

int corio__signal_take_back(corio_loop *loop, int signum, corio_signal_cb cb, void *arg) {
    sigloop *sl = loop->sig_state;
    if (!sl || !(sl->mask & sig_bit(signum)) || sl->cb[signum] != cb || sl->arg[signum] != arg) return -ENOENT;
    /* The removal works on the current loop (teardown closes through it). */
    corio_loop *prev = corio__cur_loop;
    corio__cur_loop = loop;
    bool pending = remove_handler(loop, sl, signum);
    corio__cur_loop = prev;
    return pending ? 1 : 0;
}

void corio__signal_loop_close(corio_loop *loop) {
    sigloop *sl = loop->sig_state;
    if (!sl) return;
    /* The removal calls work on the current loop: be it for a moment. */
    corio_loop *prev = corio__cur_loop;
    corio__cur_loop = loop;
    sl->dispatching = 0;
    for (int sig = 1; sig <= MAX_SIG && loop->sig_state; sig++)
        if (sl->mask & sig_bit(sig)) corio_remove_signal_handler(sig);
    if (loop->sig_state) teardown(loop, sl); /* no handler was left: only the slot */
    corio__cur_loop = prev;
}
