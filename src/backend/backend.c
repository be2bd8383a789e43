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
#include "backend.h"

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

static struct corio__backend *backend_new(corio_loop *loop) {
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

/* The loop waits through these (core.h, loop->poller): it names no backend. */
static int epoll_poll(corio_loop *loop, int64_t timeout_ns) { return corio__epoll_poll(loop, loop->backend, timeout_ns); }
static void epoll_wakeup(corio_loop *loop) { corio__epoll_wakeup(loop->backend); }
static const corio__poller epoll_poller = {epoll_poll, epoll_wakeup};
#if CORIO_HAVE_URING
static int uring_poll(corio_loop *loop, int64_t timeout_ns) { return corio__uring_poll(loop, loop->backend, timeout_ns); }
static void uring_wakeup(corio_loop *loop) { corio__uring_wakeup(loop->backend); }
static const corio__poller uring_poller = {uring_poll, uring_wakeup};
#endif

int corio__backend_loop_init(corio_loop *loop) {
    loop->backend = backend_new(loop);
    if (!loop->backend) return errno ? -errno : -ENOMEM;
#if CORIO_HAVE_URING
    loop->poller = loop->backend_kind == CORIO__BK_URING ? &uring_poller : &epoll_poller;
#else
    loop->poller = &epoll_poller;
#endif
    if (corio__unlikely(corio__debug_on)) /* which backend, and why not io_uring */
        corio__log(CORIO_LOG_DEBUG, "loop %p: %s backend%s%s%s", (void *)loop, corio_loop_backend(loop),
                   loop->backend_why ? " (io_uring not used: " : "", loop->backend_why ? loop->backend_why : "",
                   loop->backend_why ? ")" : "");
    return 0;
}

/* io_uring: operations still in the ring (a last send of a finished
 * stream, those of the tasks just unwound) are reaped, so their owners are
 * told and freed. */
int corio__backend_loop_unwound(corio_loop *loop) {
    if (corio__ring_on(loop) && !corio__cur_loop) {
        corio__cur_loop = loop;
        corio__uring_drain(loop);
        corio__cur_loop = NULL;
    }
    return 0;
}

void corio__backend_loop_release(corio_loop *loop) {
    corio__io_free(loop);
    struct corio__backend *b = loop->backend;
    loop->backend = NULL;
    if (!b) return;
    if (b->kind == CORIO__BK_URING)
        corio__uring_free(b);
    else
        corio__epoll_free(b);
}

int corio__backend_ctl(corio_loop *loop, int op, int fd, uint32_t events, corio__fdstate *st) {
    if (loop->backend_kind == CORIO__BK_URING) return corio__uring_ctl(loop, op, fd, events, st);
    return corio__epoll_ctl(loop->backend, op, fd, events, st);
}


const char *corio_loop_backend(const corio_loop *loop) {
    if (!loop) return NULL;
    return loop->backend_kind == CORIO__BK_URING ? "io_uring" : "epoll";
}

const char *corio_loop_backend_reason(const corio_loop *loop) { return loop ? loop->backend_why : NULL; }
