/*
 * backend.c - which poller a loop runs, and the calls the loop makes to it.
 *
 * Each loop picks its backend when it is created: CORIO_BACKEND=epoll or
 * CORIO_BACKEND=io_uring forces one; otherwise io_uring when the kernel has
 * it and it works (not disabled by sysctl, not blocked by seccomp, the
 * operations we need present), else epoll.  The choice is fixed for the
 * loop's life; corio_loop_backend() tells it and, in debug mode, the loop
 * logs why io_uring was not taken.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ThreadSanitizer delivers a signal's handler only when the thread next
 * enters a function it intercepts; io_uring_enter (liburing's own system
 * call) is not one, so a loop waiting in the ring would hold a SIGCHLD or
 * SIGTERM handler back until something else woke it. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(UNDER_TSAN)
#define UNDER_TSAN 1
#endif

struct corio__backend {
    int kind; /* first member of both backends' records */
};

struct corio__backend *corio__backend_new(corio_loop *loop) {
    const char *e = getenv("CORIO_BACKEND");
    bool want_epoll = e && strcmp(e, "epoll") == 0;
    bool want_uring = e && strcmp(e, "io_uring") == 0;
    if (e && *e && !want_epoll && !want_uring)
        corio__log(CORIO_LOG_WARNING, "CORIO_BACKEND=%s: not a backend (epoll, io_uring); choosing one", e);
    loop->backend_why = "CORIO_BACKEND=epoll";
#ifdef UNDER_TSAN
    if (!want_uring && !want_epoll) {
        want_epoll = true;
        loop->backend_why = "built with ThreadSanitizer, which holds signal handlers back while the loop waits in "
                            "io_uring_enter (CORIO_BACKEND=io_uring forces the ring)";
    }
#endif
    if (!want_epoll) {
        struct corio__backend *b = corio__uring_new(&loop->backend_why);
        if (b) {
            loop->backend_kind = CORIO__BK_URING;
            loop->backend_why = NULL;
            return b;
        }
        if (want_uring)
            corio__log(CORIO_LOG_WARNING, "CORIO_BACKEND=io_uring: io_uring is not usable here (%s); using epoll",
                       loop->backend_why);
    }
    loop->backend_kind = CORIO__BK_EPOLL;
    return corio__epoll_new();
}

void corio__backend_free(struct corio__backend *b) {
    if (!b) return;
    if (b->kind == CORIO__BK_URING)
        corio__uring_free(b);
    else
        corio__epoll_free(b);
}

int corio__backend_poll(corio_loop *loop, struct corio__backend *b, int64_t timeout_ns) {
    return b->kind == CORIO__BK_URING ? corio__uring_poll(loop, b, timeout_ns) : corio__epoll_poll(loop, b, timeout_ns);
}

int corio__backend_ctl(corio_loop *loop, int op, int fd, uint32_t events, corio__fdstate *st) {
    if (loop->backend_kind == CORIO__BK_URING) return corio__uring_ctl(loop, op, fd, events, st);
    return corio__epoll_ctl(loop->backend, op, fd, events, st);
}

void corio__backend_wakeup(struct corio__backend *b) {
    if (b->kind == CORIO__BK_URING)
        corio__uring_wakeup(b);
    else
        corio__epoll_wakeup(b);
}

const char *corio_loop_backend(const corio_loop *loop) {
    if (!loop) return NULL;
    return loop->backend_kind == CORIO__BK_URING ? "io_uring" : "epoll";
}

const char *corio_loop_backend_reason(const corio_loop *loop) { return loop ? loop->backend_why : NULL; }
