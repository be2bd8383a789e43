/*
 * readiness.c - the per-descriptor state a loop keeps (registration with
 * the poller, the last readiness seen, the task waiting per direction, the
 * add_reader/add_writer callbacks), and the wait for a readiness edge.
 * The pollers report events on it (corio__io_event, backend.h); the I/O
 * operations above (io/io.c, io/stream.c) read and wait through it.
 */
#include "backend.h"

#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>

/* States are allocated one by one and never move (handles and waiters point
 * into them); the table of pointers grows by doubling. */

corio__fdstate *corio__fd_state(corio_loop *loop, int fd, int *err) {
    if (fd < 0) {
        *err = -EBADF;
        return NULL;
    }
    if ((size_t)fd >= loop->nfds) {
        size_t n = loop->nfds ? loop->nfds : 64;
        while (n <= (size_t)fd) n *= 2;
        corio__fdstate **a = corio__realloc(loop->fds, n * sizeof *a);
        if (!a) {
            *err = -ENOMEM;
            return NULL;
        }
        memset(a + loop->nfds, 0, (n - loop->nfds) * sizeof *a);
        loop->fds = a;
        loop->nfds = n;
    }
    corio__fdstate *st = loop->fds[fd];
    if (!st) {
        if (!(st = corio__calloc(1, sizeof *st))) {
            *err = -ENOMEM;
            return NULL;
        }
        st->fd = fd;
        corio__list_init(&st->ring_rearm.link);
        loop->fds[fd] = st;
    }
    return st;
}

/* What to register: edge-triggered, or level-triggered for the directions
 * that have callbacks.  Edge-triggered interest leaves EPOLLOUT out until a
 * task first waits to write (want_out; a hook always has it): a socket is
 * writable nearly always, and with EPOLLOUT in the mask every read edge
 * also reports it - a wasted event per message.  Until then the fd is
 * taken as writable (ready[DIR_WRITE], set at registration); the first
 * EAGAIN or short write adds EPOLLOUT, one epoll_ctl per descriptor. */
static uint32_t wanted(const corio__fdstate *st) {
    if (st->hook) return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    if (!st->cb[DIR_READ] && !st->cb[DIR_WRITE])
        return EPOLLIN | EPOLLRDHUP | EPOLLET | (st->want_out || st->waiter[DIR_WRITE] ? EPOLLOUT : 0);
    uint32_t ev = EPOLLRDHUP;
    if (st->cb[DIR_READ] || st->waiter[DIR_READ]) ev |= EPOLLIN;
    if (st->cb[DIR_WRITE] || st->waiter[DIR_WRITE]) ev |= EPOLLOUT;
    return ev;
}

void corio__set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Bring the kernel's interest in line with the state.  0 or -errno. */
int corio__fd_sync(corio_loop *loop, int fd, corio__fdstate *st) {
    uint32_t ev = wanted(st);
    if (st->interest == ev) return 0;
    int rc;
    if (st->interest == 0) {
        corio__set_nonblock(fd);
        rc = corio__backend_ctl(loop, EPOLL_CTL_ADD, fd, ev, st);
        if (rc == -EEXIST) rc = corio__backend_ctl(loop, EPOLL_CTL_MOD, fd, ev, st);
        if (rc == 0) {
            /* Nothing is known yet: try the system call first. */
            st->ready[DIR_READ] = st->ready[DIR_WRITE] = true;
            st->closed = false;
            loop->nwatched++;
        }
    } else {
        rc = corio__backend_ctl(loop, EPOLL_CTL_MOD, fd, ev, st);
    }
    if (rc == 0) st->interest = ev;
    st->level = !(ev & EPOLLET);
    return rc;
}

static void run_read_cb(void *arg) {
    corio__fdstate *st = arg;
    if (st->cb[DIR_READ]) st->cb[DIR_READ](st->cb_arg[DIR_READ]);
}

static void run_write_cb(void *arg) {
    corio__fdstate *st = arg;
    if (st->cb[DIR_WRITE]) st->cb[DIR_WRITE](st->cb_arg[DIR_WRITE]);
}

/* The callback side of an event (corio__io_event, backend.h): queue
 * direction d's callback unless it is already queued. */
void corio__io_fire_cb(corio_loop *loop, corio__fdstate *st, int d) {
    /* Level-triggered: queued once in every iteration the fd is ready. */
    if (!corio__handle_pending(&st->cb_handle[d]))
        corio_loop_call_soon(loop, &st->cb_handle[d], d ? run_write_cb : run_read_cb, st);
}

void corio__fd_resync(corio_loop *loop, corio__fdstate *st) {
    if (corio__unlikely(st->interest && st->level)) corio__fd_sync(loop, st->fd, st);
}

/* Wait for the next readiness edge in direction d.  0 or -errno. */
int corio__fd_wait(corio_task *t, corio__fdstate *st, int d) {
    /* One waiter per direction.  A waiter whose wait was cancelled
     * (park_cancelled: it resumes with -ECANCELED whatever happens, having
     * consumed nothing) no longer counts, as asyncio's cancelled future
     * frees the descriptor for the next sock_recv: this task lets it run
     * first - it is already in the ready queue, so one yield puts this
     * task behind it - and it gives up the slot as it leaves. */
    while (st->waiter[d]) {
        if (!st->waiter[d]->task->park_cancelled)
            return corio__bad(-EBUSY, "fd %d: another task is already waiting to %s it", st->fd, d ? "write" : "read");
        corio__ready_push(t->loop, &t->wake);
        int rc = corio__suspend(t);
        if (rc < 0) return rc;
    }
    corio__fdwait w = {t, 0};
    st->waiter[d] = &w;
    int rc = 0;
    /* An edge-triggered registration covers reads, and writes once a
     * writer has waited: otherwise the interest needs updating. */
    if (d == DIR_WRITE) st->want_out = true;
    if (corio__unlikely(!st->interest || st->level || (d == DIR_WRITE && !(st->interest & EPOLLOUT)))) {
        corio_loop *loop = t->loop;
        if ((rc = corio__fd_sync(loop, st->fd, st)) < 0) {
            st->waiter[d] = NULL;
            return rc;
        }
        /* Level-triggered registration reports readiness itself; an edge
         * we cached may be stale, so wait for the kernel's word. */
        if (st->level) st->ready[d] = false;
    }
    if (!st->ready[d]) rc = corio__park(t); /* the task dump finds it as st->waiter[d] */
    st->waiter[d] = NULL;
    if (rc == 0) rc = w.err;
    corio__fd_resync(t->loop, st); /* a level-triggered registration drops this waiter's direction */
    return rc;
}

corio__fdstate *corio__fd_watch(corio_loop *loop, int fd, int *err) {
    corio__fdstate *st = corio__fd_state(loop, fd, err);
    if (st && !st->interest && (*err = corio__fd_sync(loop, fd, st)) < 0) return NULL;
    return st;
}

int corio__io_hook(corio_loop *loop, int fd, void (*hook)(void *arg, uint32_t events), void *arg) {
    int err = 0;
    corio__fdstate *st = corio__fd_state(loop, fd, &err);
    if (!st) return err;
    st->hook = hook;
    st->hook_arg = arg;
    return hook ? corio__fd_sync(loop, fd, st) : 0;
}

void corio__io_free(corio_loop *loop) {
    for (size_t fd = 0; fd < loop->nfds; fd++) {
        corio__fdstate *st = loop->fds[fd];
        if (!st) continue;
        if (st->interest && (st->cb[0] || st->cb[1]))
            corio__log(CORIO_LOG_WARNING, "loop closed with a reader/writer callback still on fd %zu", fd);
        else if (st->interest && corio__unlikely(loop->debug)) /* debug mode: resources left open */
            corio__log(CORIO_LOG_WARNING,
                       "loop closed with fd %zu still registered (close it with corio_close or corio_forget_fd)", fd);
        corio__list_remove(&st->ring_rearm.link);
        corio__free(st);
    }
    corio__free(loop->fds);
    loop->fds = NULL;
    loop->nfds = 0;
}
