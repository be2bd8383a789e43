/*
 * io.c - the I/O operations on descriptors (read, recv, send, accept,
 * connect, add_reader, forget, close), over the per-descriptor readiness
 * state of the poll layer (backend/readiness.c).
 *
 * Each descriptor is registered with epoll once, edge-triggered for
 * IN | RDHUP, the first time the loop sees it; OUT joins the first time a
 * task waits to write (see wanted()).  The loop then keeps
 * the last readiness the kernel reported (`readable`, `writable`); an
 * operation tries its system call while the fd is believed ready and
 * waits for the next edge only after EAGAIN - or after a short read,
 * which shows the socket buffer was emptied and saves the EAGAIN call.
 * A waiting task is parked (corio__park): st->waiter[d] names it, and the
 * event unparks it with no future in between.  The streams' read path is
 * corio__recv_on (io.h), the same rules inlined into the reader.  The
 * per-descriptor state itself is the poll layer's (backend/readiness.c).
 *
 * Under the io_uring backend the operations are completion-based instead
 * (ring_io below): each is one ring entry, prepared on the task's stack and
 * waited for (parked), with no readiness step and no system call of its own; the
 * per-fd registration then only serves callbacks and readiness waits, as
 * polls in the ring (backend_uring.c).
 *
 * add_reader / add_writer callbacks need asyncio's level-triggered
 * behaviour (called every iteration while readable), so an fd with
 * callbacks is switched to level-triggered interest for just the
 * directions that have one, and back when they are removed.
 */
#include "io.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#if CORIO_HAVE_URING
#include <liburing.h>
#endif
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <unistd.h>




/* ---- the io_uring path: one ring entry per operation ---------------------------- */

enum { OP_READ, OP_WRITE, OP_RECV, OP_SEND, OP_RECVMSG, OP_SENDMSG, OP_ACCEPT, OP_CONNECT, OP_POLL };

typedef struct rw_ctx {
    void *buf;
    size_t len;
    int flags;
    struct sockaddr *addr;
    socklen_t *addrlen;
    const struct sockaddr *caddr;
    socklen_t caddrlen;
} rw_ctx;

#if CORIO_HAVE_URING
typedef struct ring_ctx {
    int fd, kind;
    bool poll_first; /* recv: the socket was just emptied, wait for data before trying */
    rw_ctx *x;
    struct msghdr msg; /* recvfrom / sendto */
    struct iovec iov;
} ring_ctx;

static void prep_io(struct io_uring_sqe *sqe, void *c) {
    ring_ctx *r = c;
    rw_ctx *x = r->x;
    unsigned len = x->len > 0x7ffff000 ? 0x7ffff000 : (unsigned)x->len; /* what read(2) caps a call at */
    switch (r->kind) {
    case OP_READ: io_uring_prep_read(sqe, r->fd, x->buf, len, (uint64_t)-1); break;
    case OP_WRITE: io_uring_prep_write(sqe, r->fd, x->buf, len, (uint64_t)-1); break;
    case OP_RECV:
        io_uring_prep_recv(sqe, r->fd, x->buf, len, x->flags);
        if (r->poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST; /* saves the kernel a failed attempt */
        break;
    case OP_SEND: io_uring_prep_send(sqe, r->fd, x->buf, len, x->flags | MSG_NOSIGNAL); break;
    case OP_RECVMSG:
    case OP_SENDMSG:
        r->iov.iov_base = x->buf;
        r->iov.iov_len = len;
        memset(&r->msg, 0, sizeof r->msg);
        r->msg.msg_iov = &r->iov;
        r->msg.msg_iovlen = 1;
        if (r->kind == OP_RECVMSG) {
            r->msg.msg_name = x->addr;
            r->msg.msg_namelen = x->addrlen ? *x->addrlen : 0;
            io_uring_prep_recvmsg(sqe, r->fd, &r->msg, (unsigned)x->flags);
        } else {
            r->msg.msg_name = (void *)x->caddr;
            r->msg.msg_namelen = x->caddrlen;
            io_uring_prep_sendmsg(sqe, r->fd, &r->msg, (unsigned)x->flags | MSG_NOSIGNAL);
        }
        break;
    case OP_ACCEPT: io_uring_prep_accept(sqe, r->fd, x->addr, x->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC); break;
    case OP_CONNECT: io_uring_prep_connect(sqe, r->fd, x->caddr, x->caddrlen); break;
    case OP_POLL: io_uring_prep_poll_add(sqe, r->fd, (unsigned)x->flags); break;
    }
}

/* Wait until fd is ready in direction d (a one-shot poll in the ring). */
static int ring_poll_tag(corio_task *t, int fd, int d, const char *tag) {
    rw_ctx x = {.flags = d ? POLLOUT : POLLIN};
    ring_ctx r = {.fd = fd, .kind = OP_POLL, .x = &x};
    ssize_t rc = corio__ring_op(t, prep_io, &r, tag, fd);
    return rc < 0 ? (int)rc : 0;
}

static int ring_poll(corio_task *t, int fd, int d) {
    return ring_poll_tag(t, fd, d, d ? CORIO__WAIT_FD_WRITE : CORIO__WAIT_FD_READ);
}

/* The task-dump tag of a read, recv or accept in the ring (do_io's one
 * reader per descriptor): the text of CORIO__WAIT_FD_READ, which the dump
 * compares, at an address of its own, which ring_reader_live looks for. */
static const char ring_read_tag[] = CORIO__WAIT_FD_READ;

/* Whether fd's reader in the ring (st->ring_reading, its task) is a live
 * wait: the task is parked in the read operation (or in the readiness poll
 * ring_io falls back to, which carries the same tag) and not cancelled.  A
 * reader whose cancel was requested (park_cancelled), or which waits for
 * the kernel to confirm it (tagged "ring cancel"), is leaving.  O(1): the
 * state names its reader, so only that task is looked at. */
static bool ring_reader_live(const corio__fdstate *st) {
    const corio_task *o = st->ring_reading;
    return o && o->wait_tag == ring_read_tag && o->wait_arg == st->fd && o->parked && !o->park_cancelled;
}

static ssize_t ring_io(corio_task *t, int fd, int d, int kind, rw_ctx *x, bool poll_first) {
    ring_ctx r = {.fd = fd, .kind = kind, .x = x, .poll_first = poll_first};
    for (;;) {
        ssize_t rc = corio__ring_op(t, prep_io, &r, d ? CORIO__WAIT_FD_WRITE : ring_read_tag, fd);
        if (kind == OP_RECVMSG && rc >= 0 && x->addrlen) *x->addrlen = r.msg.msg_namelen;
        /* A descriptor that cannot wait inside io_uring (O_NONBLOCK set on
         * a file without non-blocking support) answers EAGAIN: wait for
         * readiness, then try again - unless the caller asked not to wait. */
        if (rc != -EAGAIN || (x->flags & MSG_DONTWAIT)) return rc;
        if ((rc = ring_poll_tag(t, fd, d, d ? CORIO__WAIT_FD_WRITE : ring_read_tag)) < 0) return rc;
    }
}
#else
static bool ring_reader_live(const corio__fdstate *st) {
    (void)st;
    return true;
}
static int ring_poll(corio_task *t, int fd, int d) {
    (void)t, (void)fd, (void)d;
    return -ENOSYS;
}
static ssize_t ring_io(corio_task *t, int fd, int d, int kind, rw_ctx *x, bool poll_first) {
    (void)t, (void)fd, (void)d, (void)kind, (void)x, (void)poll_first;
    return -ENOSYS;
}
#endif

/* A stream or a transport owns fd: the public calls on a descriptor
 * (corio_add_reader and the other three, the reads, writes, accept,
 * connect and waits) refuse it, as asyncio's _ensure_fd_no_transport does
 * for add_reader and the sock_* calls ("File descriptor is used by
 * transport"): they would take the data, the readiness or the edge the
 * stream or transport waits for.  The layers that own the descriptor use
 * the unchecked calls (io.h). */
static int fd_check_free(corio_loop *loop, int fd, const char *fn) {
    if (fd >= 0 && (size_t)fd < loop->nfds && loop->fds[fd] && loop->fds[fd]->owned)
        return corio__bad(-EBUSY, "%s: fd %d is used by a stream or a transport", fn, fd);
    return 0;
}

/* A wait that first asks the kernel whether a cached edge still holds. */
static int wait_public(int fd, int d) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_wait_%s: called outside a task", d ? "writable" : "readable");
    if (fd < 0) return corio__bad(-EBADF, "corio_wait_%s: negative fd", d ? "writable" : "readable");
    int rc = fd_check_free(t->loop, fd, d ? "corio_wait_writable" : "corio_wait_readable");
    if (rc < 0) return rc;
    if (corio__ring_on(t->loop)) return ring_poll(t, fd, d);
    int err = 0;
    corio__fdstate *st = corio__fd_state(t->loop, fd, &err);
    if (!st) return err;
    if (!st->interest) {
        err = corio__fd_sync(t->loop, fd, st);
        if (err == -EPERM) return 0; /* a regular file: epoll refuses it, and it is always ready */
        if (err < 0) return err;
    }
    /* The caller may have drained it without telling us: ask the kernel. */
    st->ready[d] = false;
    struct pollfd p = {.fd = fd, .events = d ? POLLOUT : POLLIN};
    if (poll(&p, 1, 0) == 1 && p.revents) return 0;
    return corio__fd_wait(t, st, d);
}

int corio_wait_readable(int fd) { return wait_public(fd, DIR_READ); }
int corio_wait_writable(int fd) { return wait_public(fd, DIR_WRITE); }

/*
 * The shape every readiness operation shares: try `op` while the fd is
 * believed ready in direction d; on EAGAIN forget the readiness and wait
 * for the next edge.  op returns >= 0 or -errno; *drained tells whether the
 * result showed the buffer empty (a short read) or full (a short write).
 * Each operation is charged to the turn's budget (core.h): a task that
 * keeps finding its fd ready yields when the budget is spent, before the
 * system call, so that a cancellation met there loses no data.
 */
typedef ssize_t (*io_op)(int fd, void *ctx, bool *drained);
struct rw_ctx;

/* `owner`: the caller is the stream that owns fd (corio__read, corio__recv);
 * the public calls refuse an owned fd (fd_check_free). */
static ssize_t do_io(int fd, int d, io_op op, int kind, rw_ctx *ctx, const char *name, bool owner) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "%s: called outside a task", name);
    if (fd < 0) return corio__bad(-EBADF, "%s: negative fd", name);
    int err = owner ? 0 : fd_check_free(t->loop, fd, name);
    if (err < 0) return err;
    if (corio__ring_on(t->loop)) {
        if (d == DIR_WRITE) return ring_io(t, fd, d, kind, ctx, false);
        /* One reader at a time, as under epoll (where the second finds the
         * first waiting): a read in the ring is that wait. */
        corio__fdstate *st = corio__fd_state(t->loop, fd, &err);
        if (!st) return err;
        /* A reader whose wait was cancelled gives up its claim when the
         * kernel confirms the cancel (its operation is in the kernel's
         * hands until then, and may still complete with data, which it
         * keeps): this task waits for that, a loop iteration at a time,
         * instead of failing as it would behind a live reader. */
        while (st->ring_reading) {
            if (ring_reader_live(st))
                return corio__bad(-EBUSY, "%s: fd %d: another task is already waiting to read it", name, fd);
            int rc = corio_yield();
            if (rc < 0) return rc;
        }
        st->ring_reading = t;
        /* As under epoll, a short read says the socket is empty: the next
         * recv waits for data before it tries (IORING_RECVSEND_POLL_FIRST). */
        ssize_t r = ring_io(t, fd, d, kind, ctx, kind == OP_RECV && st->ring_drained);
        st->ring_reading = NULL;
        if (r > 0) t->loop->budget -= CORIO__COST_BYTES(r);
        st->ring_drained = r > 0 && (size_t)r < ctx->len;
        return r;
    }
    corio__fdstate *st = corio__fd_state(t->loop, fd, &err);
    if (!st) return err;
    if (!st->interest && (err = corio__fd_sync(t->loop, fd, st)) < 0 && err != -EPERM) return err;
    return corio__ready_io(t, st, d, op, ctx);
}

/* A call that cannot raise SIGPIPE (a pipe or socket whose reader is gone
 * gives EPIPE, nothing else): the signal is blocked around the call and a
 * SIGPIPE it caused is consumed before the mask comes back - unless one
 * was pending already, which stays for its owner. */
typedef struct nosigpipe {
    sigset_t pipe_set, old;
    bool was_pending;
} nosigpipe;

static void nosigpipe_begin(nosigpipe *g) {
    sigset_t pending;
    sigemptyset(&g->pipe_set);
    sigaddset(&g->pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &g->pipe_set, &g->old);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
}

/* After the call: r its result, e its errno (kept for the caller). */
static void nosigpipe_end(nosigpipe *g, ssize_t r, int e) {
    if (r < 0 && e == EPIPE && !g->was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&g->pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    errno = e;
}

ssize_t corio__write_nosigpipe(int fd, const void *buf, size_t n) {
    nosigpipe g;
    nosigpipe_begin(&g);
    ssize_t r = write(fd, buf, n);
    nosigpipe_end(&g, r, errno);
    return r;
}

/* sendfile(2) (which has no MSG_NOSIGNAL) under the same guard. */
static ssize_t sendfile_nosigpipe(int out, int in, off_t *pos, size_t n) {
    nosigpipe g;
    nosigpipe_begin(&g);
    ssize_t r = sendfile(out, in, pos, n);
    nosigpipe_end(&g, r, errno);
    return r;
}

/* ---- the operations ---------------------------------------------------------- */

static ssize_t op_read(int fd, void *c, bool *drained) {
    rw_ctx *x = c;
    ssize_t r = read(fd, x->buf, x->len);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    *drained = r > 0 && (size_t)r < x->len;
    return r;
}

static ssize_t op_write(int fd, void *c, bool *drained) {
    rw_ctx *x = c;
    ssize_t r = write(fd, x->buf, x->len);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    *drained = (size_t)r < x->len; /* the send buffer is full */
    return r;
}

static ssize_t op_recv(int fd, void *c, bool *drained) {
    rw_ctx *x = c;
    ssize_t r = recvfrom(fd, x->buf, x->len, x->flags, x->addr, x->addrlen);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    *drained = !x->addr && r > 0 && (size_t)r < x->len; /* stream sockets only */
    return r;
}

static ssize_t op_send(int fd, void *c, bool *drained) {
    rw_ctx *x = c;
    ssize_t r = sendto(fd, x->buf, x->len, x->flags | MSG_NOSIGNAL, x->caddr, x->caddrlen);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    *drained = !x->caddr && (size_t)r < x->len;
    return r;
}

/* sendfile for corio__ready_io.  A short transfer says nothing about the
 * socket (the file may have ended), so readiness is only given up on
 * EAGAIN. */
typedef struct sf_ctx {
    int in;
    off_t *pos;
    size_t len;
} sf_ctx;

static ssize_t op_sendfile(int fd, void *c, bool *drained) {
    sf_ctx *x = c;
    (void)drained;
    ssize_t r = sendfile_nosigpipe(fd, x->in, x->pos, x->len);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return r;
}

bool corio__fd_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK);
}

int corio__sendfile_native(int sock, int in, off_t *pos, size_t count, size_t *sent) {
    corio_task *t = corio__current();
    if (!t) return -EPERM;
    corio__fdstate *st = NULL;
    int err = 0;
    bool ring = corio__ring_on(t->loop);
    if (!ring) {
        if (!(st = corio__fd_state(t->loop, sock, &err))) return err;
        if (!st->interest && (err = corio__fd_sync(t->loop, sock, st)) < 0) return err;
    }
    while (*sent < count) {
        /* sendfile(2) moves at most 0x7ffff000 bytes a call. */
        sf_ctx x = {in, pos, count - *sent < 0x7ffff000 ? count - *sent : 0x7ffff000};
        ssize_t r;
        if (ring) {
            /* The ring has no sendfile: the call itself, non-blocking, and
             * a poll in the ring for room when the socket is full. */
            if ((err = corio__budget_charge(t, CORIO__COST_SYSCALL)) < 0) return err;
            r = op_sendfile(sock, &x, NULL);
            if (r == -EAGAIN) {
                if ((err = ring_poll(t, sock, DIR_WRITE)) < 0) return err;
                continue;
            }
            if (r > 0) t->loop->budget -= CORIO__COST_BYTES(r);
        } else {
            r = corio__ready_io(t, st, DIR_WRITE, op_sendfile, &x);
        }
        if (r <= 0) return (int)r; /* 0: the file ended */
        *sent += (size_t)r;
    }
    return 0;
}

static ssize_t op_accept(int fd, void *c, bool *drained) {
    rw_ctx *x = c;
    (void)drained;
    int r = accept4(fd, x->addr, x->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return r;
}

ssize_t corio_read(int fd, void *buf, size_t len) {
    rw_ctx x = {.buf = buf, .len = len};
    return do_io(fd, DIR_READ, op_read, OP_READ, &x, "corio_read", false);
}

ssize_t corio__read(int fd, void *buf, size_t len) {
    rw_ctx x = {.buf = buf, .len = len};
    return do_io(fd, DIR_READ, op_read, OP_READ, &x, "corio_read", true);
}

ssize_t corio_write(int fd, const void *buf, size_t len) {
    rw_ctx x = {.buf = (void *)buf, .len = len};
    return do_io(fd, DIR_WRITE, op_write, OP_WRITE, &x, "corio_write", false);
}

ssize_t corio_write_all(int fd, const void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t r = corio_write(fd, (const char *)buf + done, len - done);
        if (r < 0) return r;
        done += (size_t)r;
    }
    return (ssize_t)len;
}

ssize_t corio_recv(int fd, void *buf, size_t len, int flags) {
    rw_ctx x = {.buf = buf, .len = len, .flags = flags};
    return do_io(fd, DIR_READ, op_recv, OP_RECV, &x, "corio_recv", false);
}

ssize_t corio__recv(int fd, void *buf, size_t len, int flags) {
    rw_ctx x = {.buf = buf, .len = len, .flags = flags};
    return do_io(fd, DIR_READ, op_recv, OP_RECV, &x, "corio_recv", true);
}

ssize_t corio_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *addrlen) {
    rw_ctx x = {.buf = buf, .len = len, .flags = flags, .addr = addr, .addrlen = addrlen};
    return do_io(fd, DIR_READ, op_recv, OP_RECVMSG, &x, "corio_recvfrom", false);
}

ssize_t corio_send(int fd, const void *buf, size_t len, int flags) {
    rw_ctx x = {.buf = (void *)buf, .len = len, .flags = flags};
    return do_io(fd, DIR_WRITE, op_send, OP_SEND, &x, "corio_send", false);
}

ssize_t corio_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                     socklen_t addrlen) {
    rw_ctx x = {.buf = (void *)buf, .len = len, .flags = flags, .caddr = addr, .caddrlen = addrlen};
    return do_io(fd, DIR_WRITE, op_send, OP_SENDMSG, &x, "corio_sendto", false);
}

void corio__accept_exhausted_report(int err) {
    corio_exception_context ctx = {.message = "server: accept failed", .error = err, .source = "server"};
    corio__report(corio__cur_loop, &ctx, "%s; retrying every %.0f ms", corio_strerror(err),
                  CORIO__ACCEPT_BACKOFF * 1000);
}

int corio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen) {
    rw_ctx x = {.addr = addr, .addrlen = addrlen};
    return (int)do_io(fd, DIR_READ, op_accept, OP_ACCEPT, &x, "corio_accept", false);
}

int corio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_connect: called outside a task");
    if (fd < 0 || !addr) return corio__bad(fd < 0 ? -EBADF : -EINVAL, "corio_connect: bad arguments");
    int busy = fd_check_free(t->loop, fd, "corio_connect");
    if (busy < 0) return busy;
    corio__set_nonblock(fd);
    if (corio__ring_on(t->loop)) {
        rw_ctx x = {.caddr = addr, .caddrlen = addrlen};
        ssize_t rc = ring_io(t, fd, DIR_WRITE, OP_CONNECT, &x, false);
        /* In progress after all: the readiness path below finishes it. */
        if (rc != -EINPROGRESS && rc != -EALREADY) return (int)rc;
    } else {
        if (connect(fd, addr, addrlen) == 0) return 0;
        if (errno != EINPROGRESS && errno != EINTR) return -errno;
    }
    int err = 0;
    corio__fdstate *st = corio__fd_state(t->loop, fd, &err);
    if (!st) return err;
    /* Registration reports the connection's outcome as the first write edge. */
    if (!st->interest && (err = corio__fd_sync(t->loop, fd, st)) < 0) return err;
    st->ready[DIR_WRITE] = false;
    for (;;) {
        int rc = corio__fd_wait(t, st, DIR_WRITE);
        if (rc < 0) return rc;
        int so = 0;
        socklen_t sl = sizeof so;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) < 0) return -errno;
        if (so) return -so;
        /* A spurious edge (e.g. EPOLLHUP before the outcome)?  Check the peer. */
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) return 0;
        if (errno != ENOTCONN) return -errno;
        st->ready[DIR_WRITE] = false;
    }
}

/* ---- callbacks --------------------------------------------------------------- */

void corio__fd_own(corio_loop *loop, int fd) {
    int err = 0;
    corio__fdstate *st = corio__fd_state(loop, fd, &err);
    if (st) st->owned = true; /* out of memory: the guard is lost, nothing else */
}

static int set_cb(int fd, int d, corio_callback cb, void *arg, bool checked) {
    corio_loop *loop = corio__cur_loop;
    if (!loop) return corio__bad(-EPERM, "corio_add_%s: no loop runs on this thread", d ? "writer" : "reader");
    if (!cb) return corio__bad(-EINVAL, "corio_add_%s: NULL callback", d ? "writer" : "reader");
    int err = checked ? fd_check_free(loop, fd, d ? "corio_add_writer" : "corio_add_reader") : 0;
    if (err < 0) return err;
    corio__fdstate *st = corio__fd_state(loop, fd, &err);
    if (!st) return err;
    corio_callback old = st->cb[d];
    void *old_arg = st->cb_arg[d];
    st->cb[d] = cb;
    st->cb_arg[d] = arg;
    err = corio__fd_sync(loop, fd, st);
    if (err < 0) {
        st->cb[d] = old;
        st->cb_arg[d] = old_arg;
    }
    return err;
}

static int clear_cb(int fd, int d, bool checked) {
    corio_loop *loop = corio__cur_loop;
    if (!loop) return -EPERM;
    if (fd < 0) return -EBADF;
    int err = checked ? fd_check_free(loop, fd, d ? "corio_remove_writer" : "corio_remove_reader") : 0;
    if (err < 0) return err;
    if ((size_t)fd >= loop->nfds || !loop->fds[fd] || !loop->fds[fd]->cb[d]) return 0;
    corio__fdstate *st = loop->fds[fd];
    st->cb[d] = NULL;
    corio_handle_cancel(&st->cb_handle[d]);
    int rc = corio__fd_sync(loop, fd, st);
    return rc < 0 ? rc : 1;
}

int corio_add_reader(int fd, corio_callback cb, void *arg) { return set_cb(fd, DIR_READ, cb, arg, true); }
int corio_add_writer(int fd, corio_callback cb, void *arg) { return set_cb(fd, DIR_WRITE, cb, arg, true); }
int corio_remove_reader(int fd) { return clear_cb(fd, DIR_READ, true); }
int corio_remove_writer(int fd) { return clear_cb(fd, DIR_WRITE, true); }
int corio__add_reader(int fd, corio_callback cb, void *arg) { return set_cb(fd, DIR_READ, cb, arg, false); }
int corio__add_writer(int fd, corio_callback cb, void *arg) { return set_cb(fd, DIR_WRITE, cb, arg, false); }
int corio__remove_reader(int fd) { return clear_cb(fd, DIR_READ, false); }
int corio__remove_writer(int fd) { return clear_cb(fd, DIR_WRITE, false); }

/* ---- forgetting ------------------------------------------------------------- */

int corio_forget_fd(int fd) {
    corio_loop *loop = corio__cur_loop;
    if (!loop) return corio__bad(-EPERM, "corio_forget_fd: no loop runs on this thread");
    if (fd < 0) return -EBADF;
    /* io_uring: operations in flight hold the file open and would go on
     * after a close; end them now (they complete with -EBADF). */
    if (corio__ring_on(loop)) corio__uring_cancel_fd(loop, fd);
    if ((size_t)fd >= loop->nfds || !loop->fds[fd]) return 0;
    corio__fdstate *st = loop->fds[fd];
    if (st->interest) {
        corio__backend_ctl(loop, EPOLL_CTL_DEL, fd, 0, st);
        loop->nwatched--;
    }
    st->interest = 0;
    st->level = false;
    st->closed = false;
    st->owned = false;
    st->want_out = false;
    st->hook = NULL;
    st->ring_drained = false;
    for (int d = 0; d < 2; d++) {
        st->ready[d] = false;
        st->cb[d] = NULL;
        corio_handle_cancel(&st->cb_handle[d]);
        /* Waiters wake with -EBADF and unregister themselves when they run. */
        corio__fdwait *w = st->waiter[d];
        if (w) {
            w->err = -EBADF;
            corio__unpark(loop, w->task);
        }
    }
    return 0;
}

int corio_close(int fd) {
    if (fd < 0) return -EBADF;
    if (corio__cur_loop) corio_forget_fd(fd);
    return close(fd) == 0 ? 0 : -errno;
}
