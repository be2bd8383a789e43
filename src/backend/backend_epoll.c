/*
 * backend_epoll.c - the epoll poller behind the loop.
 *
 * It waits for descriptor events (registered by io.c, once per descriptor)
 * and timers, and owns an eventfd that other threads write to wake the
 * loop (call_soon_threadsafe).  Each event's data is the descriptor's
 * state in io.c; the eventfd's is a state of its own whose hook takes the
 * posts.
 *
 * It waits with epoll_pwait2 (nanosecond timeouts) where the kernel has
 * it, else epoll_wait - and always epoll_wait under Valgrind, which does
 * not know epoll_pwait2, and under ThreadSanitizer, which does not
 * intercept it: a signal that arrives while the thread blocks in a call
 * TSan does not know is held back until the next call it does know, so
 * the handler never writes the wake-up eventfd and the loop sleeps on (a
 * SIGCHLD lost that way hung test_process under load).
 */
#include "backend.h"

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORIO__VALGRIND 1
#endif
#endif

/* Events taken per poll: 100 busy connections fit in one call. */
#define MAX_EVENTS 256

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORIO__EPOLL_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CORIO__EPOLL_TSAN)
#define CORIO__EPOLL_TSAN 1
#endif

/* The kernel lacks epoll_pwait2 (before 5.11), or a tool cannot follow it. */
#ifdef CORIO__EPOLL_TSAN
static int no_pwait2 = 1;
#else
static int no_pwait2;
#endif

struct corio__backend {
    int kind;     /* CORIO__BK_EPOLL: backend.c dispatches on it */
    int epfd;     /* the epoll instance */
    int wakefd;   /* eventfd: written to wake a blocked poll */
    corio_loop *loop;          /* the loop polling now (for wake_hook) */
    corio__fdstate wake_state; /* the wakefd's registration: its hook takes the posts */
};

/* The wakefd became readable: consume it and take the threadsafe posts.
 * A hook like any internal owner's, so the dispatch loop has one case. */
static void wake_hook(void *arg, uint32_t events) {
    struct corio__backend *b = arg;
    (void)events;
    uint64_t v;
    ssize_t r = read(b->wakefd, &v, sizeof v);
    (void)r;
    corio__loop_take_posts(b->loop);
}

struct corio__backend *corio__epoll_new(void) {
    struct corio__backend *b = corio__calloc(1, sizeof *b);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
#ifdef CORIO__VALGRIND
    if (RUNNING_ON_VALGRIND) no_pwait2 = 1; /* valgrind 3.19 does not know epoll_pwait2 */
#endif
    b->kind = CORIO__BK_EPOLL;
    b->epfd = b->wakefd = -1;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) goto fail;
    b->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->wakefd < 0) goto fail;
    b->wake_state.fd = b->wakefd;
    b->wake_state.hook = wake_hook;
    b->wake_state.hook_arg = b;
    struct epoll_event ev = {.events = EPOLLIN, .data = {.ptr = &b->wake_state}};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->wakefd, &ev) < 0) goto fail;
    return b;
fail:;
    int e = errno;
    if (b->epfd >= 0) close(b->epfd);
    if (b->wakefd >= 0) close(b->wakefd);
    corio__free(b);
    errno = e;
    return NULL;
}

void corio__epoll_free(struct corio__backend *b) {
    close(b->epfd);
    close(b->wakefd);
    corio__free(b);
}

int corio__epoll_poll(corio_loop *loop, struct corio__backend *b, int64_t timeout_ns) {
    struct epoll_event evs[MAX_EVENTS];
    int n = -1;
    if (!no_pwait2) {
        /* epoll_pwait2 takes nanoseconds: timers are not rounded to milliseconds. */
        struct timespec ts = {timeout_ns / CORIO__NS_PER_S, timeout_ns % CORIO__NS_PER_S};
        n = epoll_pwait2(b->epfd, evs, MAX_EVENTS, timeout_ns < 0 ? NULL : &ts, NULL);
        if (n < 0 && errno == ENOSYS) no_pwait2 = 1;
    }
    if (no_pwait2) {
        int ms;
        if (timeout_ns < 0) {
            ms = -1;
        } else {
            /* Round up so that we never wake before the timer is due and spin. */
            int64_t m = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
            ms = m > 0x7fffffff ? 0x7fffffff : (int)m;
        }
        n = epoll_wait(b->epfd, evs, MAX_EVENTS, ms);
    }
    if (n < 0) return errno == EINTR ? 0 : -errno;
    b->loop = loop;
    for (int i = 0; i < n; i++) {
        corio__fdstate *st = evs[i].data.ptr;
        if (st->hook) /* an internal owner (protocol.c, the wakefd): straight to it */
            st->hook(st->hook_arg, evs[i].events);
        else
            corio__io_event(loop, st, evs[i].events);
    }
    return n;
}

int corio__epoll_ctl(struct corio__backend *b, int op, int fd, uint32_t events, corio__fdstate *st) {
    struct epoll_event ev = {.events = events, .data = {.ptr = st}};
    return epoll_ctl(b->epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

void corio__epoll_wakeup(struct corio__backend *b) {
    uint64_t one = 1;
    ssize_t r = write(b->wakefd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is already non-zero, the loop will wake */
}
