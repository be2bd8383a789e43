/*
 * file.c - files on disk from a task (aiofiles): one request record per
 * call, on the calling task's stack, run either on the loop's io_uring
 * ring (corio__ring_op) or as a blocking system call on the default
 * executor (corio__run_in_executor_pinned).
 *
 * Both ways keep the caller's memory safe from a cancellation: the ring
 * cancels the operation and waits until the kernel has let go of it, and
 * the pinned executor call waits for a job that has started.  Either way
 * an operation that completed despite the cancellation returns its result
 * with the cancellation re-armed (t->must_cancel), so no byte read or
 * written goes unreported; open undoes its descriptor instead, and close
 * always closes.
 */
#include "os.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#if CORIO_HAVE_URING
#include <liburing.h>
#endif

/* Linux's MAX_RW_COUNT: what read(2) transfers at most in one call.  The
 * ring's length field is 32 bits, so both paths cut lengths to this. */
#define MAX_RW ((size_t)0x7ffff000)

/* Reads and writes of this many bytes or more skip the ring's inline
 * attempt (IOSQE_ASYNC).  A buffered read the page cache can serve is
 * otherwise copied during io_uring_enter, on the loop's thread: 64 KiB is
 * a few microseconds of copying, 8 MiB a millisecond or more, during which
 * no task runs.  Below this the inline copy is cheaper than the hand-over
 * to a kernel worker thread. */
#define RING_ASYNC_MIN ((size_t)256 * 1024)

enum { OP_OPEN, OP_READ, OP_WRITE, OP_FSYNC, OP_CLOSE, OP_STAT, OP_FSTAT };

/* One operation: what the executor's job or the ring's prep function needs. */
typedef struct fop {
    int kind;            /* OP_* */
    int fd;              /* the descriptor (not OP_OPEN / OP_STAT) */
    int flags;           /* open flags; CORIO_FILE_DATASYNC for fsync */
    mode_t mode;         /* open's mode */
    const char *path;    /* OP_OPEN, OP_STAT */
    void *buf;           /* OP_READ / OP_WRITE */
    size_t len;          /* at most MAX_RW */
    off_t off;           /* -1: the current position */
    struct stat *st;     /* OP_STAT / OP_FSTAT (executor path) */
#if CORIO_HAVE_URING
    struct statx stx;    /* OP_STAT / OP_FSTAT on the ring, converted afterwards */
#endif
} fop;

/* ---- the executor's job: the blocking system call ------------------------------- */

static intptr_t fop_run(void *arg) {
    fop *op = arg;
    ssize_t r;
    switch (op->kind) {
    case OP_OPEN: r = open(op->path, op->flags, op->mode); break;
    case OP_READ: r = op->off < 0 ? read(op->fd, op->buf, op->len) : pread(op->fd, op->buf, op->len, op->off); break;
    case OP_WRITE: r = op->off < 0 ? write(op->fd, op->buf, op->len) : pwrite(op->fd, op->buf, op->len, op->off); break;
    case OP_FSYNC: r = (op->flags & CORIO_FILE_DATASYNC) ? fdatasync(op->fd) : fsync(op->fd); break;
    case OP_CLOSE: r = close(op->fd); break;
    case OP_STAT: r = stat(op->path, op->st); break;
    case OP_FSTAT: r = fstat(op->fd, op->st); break;
    default: r = -1; errno = EINVAL; break;
    }
    return r < 0 ? -errno : (intptr_t)r;
}

/* ---- the ring: the same operation as a submission entry ------------------------- */

#if CORIO_HAVE_URING
/* What a task waits on, for the task dump (debug.c), per OP_*. */
static const char *const op_tag[] = {"file open", "file read", "file write", "file fsync",
                                     "file close", "file stat", "file fstat"};

static void fop_prep(struct io_uring_sqe *sqe, void *ctx) {
    fop *op = ctx;
    /* -1 as the offset: the file's current position (IORING_FEAT_RW_CUR_POS). */
    uint64_t off = op->off < 0 ? (uint64_t)-1 : (uint64_t)op->off;
    switch (op->kind) {
    case OP_OPEN: io_uring_prep_openat(sqe, AT_FDCWD, op->path, op->flags, op->mode); break;
    case OP_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->len, off);
        if (op->len >= RING_ASYNC_MIN) io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
        break;
    case OP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len, off);
        if (op->len >= RING_ASYNC_MIN) io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
        break;
    case OP_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, (op->flags & CORIO_FILE_DATASYNC) ? IORING_FSYNC_DATASYNC : 0);
        break;
    case OP_CLOSE: io_uring_prep_close(sqe, op->fd); break;
    case OP_STAT: io_uring_prep_statx(sqe, AT_FDCWD, op->path, 0, STATX_BASIC_STATS, &op->stx); break;
    case OP_FSTAT: io_uring_prep_statx(sqe, op->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &op->stx); break;
    default: io_uring_prep_nop(sqe); break;
    }
}

static struct timespec ts_of(const struct statx_timestamp *t) {
    struct timespec ts = {.tv_sec = t->tv_sec, .tv_nsec = t->tv_nsec};
    return ts;
}

/* What fstat(2) would have said, from statx's answer. */
static void stat_from_statx(struct stat *st, const struct statx *x) {
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = (blksize_t)x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim = ts_of(&x->stx_atime);
    st->st_mtim = ts_of(&x->stx_mtime);
    st->st_ctim = ts_of(&x->stx_ctime);
}
#endif

/*
 * Run op from task t on the ring or the executor.  The result (>= 0) or a
 * negative errno; after a cancellation that came too late, the result with
 * t->must_cancel set.  A task already cancelled starts nothing.
 */
static ssize_t fop_do(corio_task *t, fop *op) {
    if (t->must_cancel) {
        t->must_cancel = false;
        return -ECANCELED;
    }
#if CORIO_HAVE_URING
    if (corio__ring_on(t->loop)) {
        ssize_t r = corio__ring_op(t, fop_prep, op, op_tag[op->kind], op->fd);
        if (r >= 0 && (op->kind == OP_STAT || op->kind == OP_FSTAT)) stat_from_statx(op->st, &op->stx);
        return r;
    }
#endif
    intptr_t r = 0;
    int rc = corio__run_in_executor_pinned(NULL, fop_run, op, &r);
    return rc < 0 ? rc : (ssize_t)r;
}

/* ---- the API ------------------------------------------------------------------------ */

int corio_file_open(const char *path, int flags, mode_t mode) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_file_open: called outside a task");
    if (!path) return corio__bad(-EINVAL, "corio_file_open: NULL path");
    fop op = {.kind = OP_OPEN, .fd = -1, .flags = flags | O_CLOEXEC, .mode = mode, .path = path, .off = -1};
    ssize_t fd = fop_do(t, &op);
    if (t->must_cancel) {
        /* The open completed although the task was cancelled meanwhile:
         * undo it and deliver the cancellation now, so that no descriptor
         * leaks and a cancelled open always says -ECANCELED. */
        if (fd >= 0) close((int)fd);
        t->must_cancel = false;
        return -ECANCELED;
    }
    return (int)fd;
}

static ssize_t rw(const char *who, int kind, int fd, void *buf, size_t len, off_t off, bool positioned) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "%s: called outside a task", who);
    if (fd < 0) return corio__bad(-EBADF, "%s: negative descriptor %d", who, fd);
    if (positioned && off < 0) return corio__bad(-EINVAL, "%s: negative offset %lld", who, (long long)off);
    if (len == 0) return 0;
    if (!buf) return corio__bad(-EINVAL, "%s: NULL buffer", who);
    fop op = {.kind = kind, .fd = fd, .buf = buf, .len = len < MAX_RW ? len : MAX_RW, .off = positioned ? off : -1};
    return fop_do(t, &op);
}

ssize_t corio_file_read(int fd, void *buf, size_t len) {
    return rw("corio_file_read", OP_READ, fd, buf, len, -1, false);
}

ssize_t corio_file_write(int fd, const void *buf, size_t len) {
    return rw("corio_file_write", OP_WRITE, fd, (void *)buf, len, -1, false);
}

ssize_t corio_file_pread(int fd, void *buf, size_t len, off_t off) {
    return rw("corio_file_pread", OP_READ, fd, buf, len, off, true);
}

ssize_t corio_file_pwrite(int fd, const void *buf, size_t len, off_t off) {
    return rw("corio_file_pwrite", OP_WRITE, fd, (void *)buf, len, off, true);
}

int corio_file_fsync(int fd, int flags) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_file_fsync: called outside a task");
    if (fd < 0) return corio__bad(-EBADF, "corio_file_fsync: negative descriptor %d", fd);
    if (flags & ~CORIO_FILE_DATASYNC) return corio__bad(-EINVAL, "corio_file_fsync: unknown flags %#x", flags);
    fop op = {.kind = OP_FSYNC, .fd = fd, .flags = flags, .off = -1};
    return (int)fop_do(t, &op);
}

int corio_file_close(int fd) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_file_close: called outside a task");
    if (fd < 0) return corio__bad(-EBADF, "corio_file_close: negative descriptor %d", fd);
    corio_forget_fd(fd);
    if (t->must_cancel) {
        /* Cancelled already: close here rather than leak the descriptor,
         * and leave the cancellation for the next suspension point. */
        return close(fd) < 0 ? -errno : 0;
    }
    fop op = {.kind = OP_CLOSE, .fd = fd, .off = -1};
    ssize_t r = fop_do(t, &op);
    if (r == -ECANCELED) {
        /* The close never ran (a queued job taken back, a ring entry the
         * kernel dropped): do it now, and re-arm the cancellation. */
        r = close(fd) < 0 ? -errno : 0;
        t->must_cancel = true;
    }
    return (int)r;
}

static int do_stat(const char *who, int kind, int fd, const char *path, struct stat *st) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "%s: called outside a task", who);
    if (kind == OP_FSTAT && fd < 0) return corio__bad(-EBADF, "%s: negative descriptor %d", who, fd);
    if (kind == OP_STAT && !path) return corio__bad(-EINVAL, "%s: NULL path", who);
    if (!st) return corio__bad(-EINVAL, "%s: NULL struct stat", who);
    fop op = {.kind = kind, .fd = fd, .path = path, .st = st, .off = -1};
    return (int)fop_do(t, &op);
}

int corio_file_stat(const char *path, struct stat *st) { return do_stat("corio_file_stat", OP_STAT, -1, path, st); }

int corio_file_fstat(int fd, struct stat *st) { return do_stat("corio_file_fstat", OP_FSTAT, fd, NULL, st); }

int corio_file_read_all(const char *path, char **out, size_t *len) {
    corio_task *t = corio__current();
    if (!t) return corio__bad(-EPERM, "corio_file_read_all: called outside a task");
    if (!path || !out || !len) return corio__bad(-EINVAL, "corio_file_read_all: NULL %s", !path ? "path" : "result");
    int fd = corio_file_open(path, O_RDONLY, 0);
    if (fd < 0) return fd;
    struct stat st;
    ssize_t r = corio_file_fstat(fd, &st);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (r == 0) {
        /* The size is a guess (it may change, /proc says 0): one byte more
         * than it, so that reaching end of file costs one read returning 0
         * rather than a reallocation. */
        if (st.st_size < 0 || (uint64_t)st.st_size >= SIZE_MAX / 2) r = -EFBIG;
        cap = (size_t)(st.st_size > 0 ? st.st_size : 0) + 1;
        if (cap < 4096) cap = 4096;
        if (r == 0 && !(buf = corio__malloc(cap))) r = -ENOMEM;
    }
    while (r == 0) {
        if (n + 1 >= cap) {
            /* Keep room for the NUL; grow by half. */
            if (cap >= SIZE_MAX / 3) {
                r = -EFBIG;
                break;
            }
            char *nb = corio__realloc(buf, cap + cap / 2);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            buf = nb;
            cap += cap / 2;
        }
        ssize_t got = corio_file_pread(fd, buf + n, cap - 1 - n, (off_t)n);
        if (got < 0) {
            r = got;
        } else if (got == 0) {
            break;
        } else {
            n += (size_t)got;
        }
    }
    /* Closes whatever happened, even on a cancellation (which it leaves pending). */
    int crc = corio_file_close(fd);
    if (r == 0 && crc < 0) r = crc;
    if (r == 0 && t->must_cancel) {
        /* A read completed after a cancellation: deliver it now rather than
         * hand out a file that may be cut short. */
        t->must_cancel = false;
        r = -ECANCELED;
    }
    if (r < 0) {
        corio__free(buf);
        return (int)r;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}
