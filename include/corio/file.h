/*
 * corio/file.h - files on disk from a task (Python's aiofiles): open,
 * read, write, sync, stat and close without blocking the loop.
 *
 * Regular files are always "ready" to the kernel's readiness interfaces
 * (epoll reports them readable at once, and a read that misses the page
 * cache still blocks), so they cannot go through corio_read.  Each call
 * here runs the operation somewhere that may block, and the task
 * SUSPENDS until it is done while the other tasks of its loop run:
 *
 *  - on a loop whose backend is io_uring (corio_loop_backend), the
 *    operation is submitted to the loop's ring (IORING_OP_OPENAT, READ,
 *    WRITE, FSYNC, STATX, CLOSE) and completed by the kernel;
 *  - on an epoll loop, the blocking system call runs on a thread of the
 *    loop's default executor (executor.h), as aiofiles does.
 *
 * The results and errors are those of the system calls (open(2), read(2),
 * pread(2), fsync(2), stat(2), close(2)), as a negative errno, on either
 * backend.  Descriptors are plain blocking descriptors; the calls also
 * work on block devices.  Pipes, FIFOs, sockets and terminals belong to
 * corio_read / corio_write (io.h): a read here that waits for a writer
 * keeps a worker thread (epoll loop) busy until data comes, and cannot be
 * cancelled before then (see below).  On them the two backends also
 * differ where the kernel's do: on io_uring, pread/pwrite ignore the
 * offset of a pipe or socket instead of failing with -ESPIPE, and opening
 * a FIFO does not wait for its other end.
 *
 * Cost.  On io_uring a read the page cache can serve is copied during the
 * loop's next submission, on the loop's thread (cheaper than a hand-over
 * for small blocks); reads and writes of 256 KiB or more go to the
 * kernel's worker threads instead, so that a big copy does not hold up the
 * other tasks.  On epoll every call is a round trip to a worker thread.
 *
 * Cancellation.  Cancelling a task inside one of these calls never lets
 * the operation touch the caller's buffer, path or struct stat after the
 * call returned:
 *  - an operation not started yet (a job still queued on the executor, a
 *    ring entry the kernel dropped) returns -ECANCELED and had no effect;
 *  - an operation already running is waited for (the kernel is asked to
 *    stop it on io_uring, which it does for reads that wait for data; a
 *    worker thread cannot be interrupted).  If it completed anyway, its
 *    result is returned - bytes read or written are not lost - and the
 *    cancellation is re-armed: the task's next suspension point (any call
 *    that SUSPENDS) returns -ECANCELED.
 * Exceptions: a cancelled corio_file_open always returns -ECANCELED, and
 * undoes an open that completed (closes the new descriptor), so it never
 * leaks one; corio_file_close always closes (see there).  A task that
 * is already cancelled when it calls one of these functions gets
 * -ECANCELED without the operation being started (except close).
 *
 * Every function must be called from a task (-EPERM otherwise).  Lengths
 * above 0x7ffff000 bytes are cut to that, as Linux does for read(2): the
 * call then transfers less than asked, as a short read or write would.
 */
#ifndef CORIO_FILE_H
#define CORIO_FILE_H

#include "types.h"

#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * open(2): open (or create, with O_CREAT and `mode`) the file at `path`
 * (relative to the working directory).  O_CLOEXEC is always added.
 * SUSPENDS.  Returns the new descriptor, which the caller owns and closes
 * with corio_file_close (or close(2)), or a negative errno: open's own
 * (-ENOENT, -EACCES, -EISDIR, -EEXIST, ...), -EINVAL for a NULL path,
 * -ECANCELED (no descriptor is left open), -EPERM outside a task,
 * -ENOMEM.  `path` must stay valid until the call returns.
 */
CORIO_API int corio_file_open(const char *path, int flags, mode_t mode);

/*
 * read(2) / write(2) at the descriptor's current position, which they
 * advance.  SUSPENDS.  Return the number of bytes transferred (0 at end of
 * file; a write may be short, like the system call) or a negative errno:
 * the call's own (-EBADF for a negative or closed fd, -EISDIR for a
 * directory, -EINVAL, -ENOSPC, ...), -EINVAL for a NULL buffer,
 * -ECANCELED, -EPERM outside a task, -ENOMEM.  len 0 returns 0 at once.
 * Two calls on the same descriptor at the same time from two tasks each
 * use and advance the position in an undefined order: use pread/pwrite
 * for concurrent access.
 */
CORIO_API ssize_t corio_file_read(int fd, void *buf, size_t len);
CORIO_API ssize_t corio_file_write(int fd, const void *buf, size_t len);

/*
 * pread(2) / pwrite(2): at offset `off`, without moving the position; any
 * number of tasks may read and write one descriptor at once this way.
 * SUSPENDS.  As corio_file_read; -EINVAL for a negative offset, -ESPIPE
 * for a pipe or socket.
 */
CORIO_API ssize_t corio_file_pread(int fd, void *buf, size_t len, off_t off);
CORIO_API ssize_t corio_file_pwrite(int fd, const void *buf, size_t len, off_t off);

/* Flags of corio_file_fsync(). */
enum {
    CORIO_FILE_DATASYNC = 1, /* fdatasync(2): the data and only the metadata needed to read it back */
};

/*
 * fsync(2), or fdatasync(2) with CORIO_FILE_DATASYNC: wait until what was
 * written to fd is on stable storage.  SUSPENDS.  0 or a negative errno
 * (-EBADF, -EIO, -EINVAL for unknown flags or a descriptor that cannot be
 * synced, -ECANCELED, -EPERM outside a task).
 */
CORIO_API int corio_file_fsync(int fd, int flags);

/*
 * close(2).  The descriptor is closed whatever happens, even when the
 * task is cancelled (before or during the call): the cancellation then
 * stays pending for the next suspension point, as the documentation at
 * the top says.  The loop first forgets fd (corio_forget_fd), in case it
 * was also used with io.h.  SUSPENDS (except when the task is already
 * cancelled: the descriptor is then closed on the loop's thread).  0 or a
 * negative errno: -EBADF (negative or not open), -EIO and the like from
 * the file system (the descriptor is closed all the same), -EPERM outside
 * a task.
 */
CORIO_API int corio_file_close(int fd);

/*
 * stat(2) of the file at `path` (symbolic links followed) / fstat(2) of
 * an open descriptor, into the caller's *st (statx on io_uring, converted
 * to a struct stat).  SUSPENDS.  0, or a negative errno: the call's own
 * (-ENOENT, -ENOTDIR, -EACCES, -EBADF, ...), -EINVAL for a NULL path or
 * st, -ECANCELED, -EPERM outside a task.
 */
CORIO_API int corio_file_stat(const char *path, struct stat *st);
CORIO_API int corio_file_fstat(int fd, struct stat *st);

/*
 * Read the whole file at `path` (aiofiles' `await f.read()`): open,
 * read until end of file (the size stat gives is only a first guess, so
 * files that grow and /proc files work), close.  SUSPENDS.  Returns 0 and
 * stores a malloc'd buffer in *out, which the caller releases with
 * free(), and its length in *len; the buffer has one more byte, a NUL, so
 * text can be used as a string.  On error (open's, read's, -EFBIG for a
 * file that does not fit in memory's address range, -ENOMEM, -EINVAL for
 * NULL arguments, -ECANCELED, -EPERM outside a task) nothing is allocated
 * and nothing stays open, and *out and *len are not changed.
 */
CORIO_API int corio_file_read_all(const char *path, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
