/*
 * corio/io.h - file descriptors on the loop: readiness and I/O operations.
 *
 * Two ways to do I/O on a non-blocking descriptor:
 *
 *  - From a task, call the operations below (corio_read, corio_recv,
 *    corio_accept, ...).  Each one looks like the blocking call it replaces
 *    and SUSPENDS the task until the kernel can complete it.  Internally an
 *    operation is a request living on the task's stack: with the epoll
 *    backend it tries the system call first and waits for readiness only
 *    when the kernel says EAGAIN or a short read shows the buffer is empty,
 *    so a busy stream costs one system call per read or write; a completion
 *    backend (io_uring) can serve the same calls by submitting the request.
 *    Cancelling the task (-ECANCELED) abandons the operation: no byte of a
 *    later arrival is written into the caller's buffer afterwards.
 *
 *  - From callbacks, asyncio's add_reader / add_writer: cb(arg) runs in every
 *    loop iteration while the descriptor is readable (writable).
 *
 * The loop registers each descriptor with the kernel once, on first use.
 * Before closing a descriptor the loop has seen, call corio_close() (or
 * corio_forget_fd() then close()): the kernel drops a closed descriptor
 * silently, and a new one that reuses the number must not inherit its
 * state.  Descriptors must be non-blocking (O_NONBLOCK); the operations
 * set it if it is missing.
 *
 * Fairness: a task whose I/O is always ready yields to the loop after 128
 * operations that did not suspend (Tokio's budget), so it never starves the
 * others.
 */
#ifndef CORIO_IO_H
#define CORIO_IO_H

#include "types.h"

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Wait until fd is readable (writable).  SUSPENDS unless it is already.
 * Returns 0; -ECANCELED; -EPERM outside a task; -EBADF for a negative fd
 * or one forgotten while waiting; -EBUSY when another task already waits
 * for the same direction on this fd (asyncio refuses two readers too) -
 * but not when that task's wait was cancelled: as in asyncio, a cancelled
 * wait frees the fd at once, and this call waits behind it (it consumed
 * nothing) and is served; -EBUSY as well when fd belongs to a stream or a
 * transport (see corio_add_reader); -ENOMEM; or the error epoll_ctl gave
 * when registering (e.g. -EPERM for a regular file, which is always ready:
 * it is then reported ready).
 */
CORIO_API int corio_wait_readable(int fd);
CORIO_API int corio_wait_writable(int fd);

/*
 * read(2) / write(2) that suspend instead of blocking.  Return the number
 * of bytes (0 at end of file for read; write may be partial, like the
 * system call), or a negative errno: -ECANCELED, -EPERM outside a task,
 * -EBUSY (another task waits to read / write this fd; a task whose wait
 * was cancelled no longer counts: the call waits for it to leave, a loop
 * iteration on epoll, up to three on io_uring while the kernel confirms
 * the cancel, then goes ahead; or fd belongs to a stream or a transport,
 * as asyncio's sock_recv and sock_sendall refuse it: see
 * corio_add_reader), the call's own error.
 */
CORIO_API ssize_t corio_read(int fd, void *buf, size_t len);
CORIO_API ssize_t corio_write(int fd, const void *buf, size_t len);

/* write until all `len` bytes are written; returns len or a negative errno
 * (bytes already written are then lost to the caller's knowledge: use
 * corio_write when that matters). */
CORIO_API ssize_t corio_write_all(int fd, const void *buf, size_t len);

/* recv(2), send(2), recvfrom(2), sendto(2) that suspend.  As corio_read. */
CORIO_API ssize_t corio_recv(int fd, void *buf, size_t len, int flags);
CORIO_API ssize_t corio_send(int fd, const void *buf, size_t len, int flags);
CORIO_API ssize_t corio_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                                 socklen_t *addrlen);
CORIO_API ssize_t corio_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                               socklen_t addrlen);

/*
 * accept4(2) that suspends; the new descriptor is non-blocking and
 * close-on-exec.  Returns it, or a negative errno (-EMFILE and friends are
 * returned, not retried: the caller decides how to back off; -EBUSY for a
 * stream's or a transport's fd, as corio_read).
 */
CORIO_API int corio_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);

/*
 * connect(2) that suspends until the connection is established or fails.
 * Returns 0 or a negative errno (-ECONNREFUSED, -ETIMEDOUT, ...; -EBUSY
 * for a stream's or a transport's fd, as corio_read).
 */
CORIO_API int corio_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);

/*
 * asyncio add_reader / add_writer: call cb(arg) from the loop whenever fd is
 * readable (writable), every iteration until removed.  Replaces an earlier
 * callback for the same fd and direction.  0, -EBADF, -EINVAL (NULL cb),
 * -EPERM when no loop runs on this thread, -ENOMEM, or epoll_ctl's error;
 * -EBUSY when fd belongs to a stream (corio_stream_open and the calls
 * that make streams, on this loop's thread) or to a transport
 * (corio_transport_open, corio_dgram_open, ...) until it is closed or
 * forgotten (asyncio raises "File descriptor is used by transport").
 * Does not suspend.
 */
CORIO_API int corio_add_reader(int fd, corio_callback cb, void *arg);
CORIO_API int corio_add_writer(int fd, corio_callback cb, void *arg);

/* Remove the callback.  1 if one was registered, 0 if not, negative on
 * error (-EBUSY for a stream's or a transport's fd, as above).  Does not
 * suspend. */
CORIO_API int corio_remove_reader(int fd);
CORIO_API int corio_remove_writer(int fd);

/*
 * Make the loop forget fd: its registration goes, callbacks are removed,
 * and tasks waiting on it wake with -EBADF.  Does not close it.  0, or
 * -EBADF / -EPERM.
 */
CORIO_API int corio_forget_fd(int fd);

/* corio_forget_fd() then close(2).  0 or a negative errno. */
CORIO_API int corio_close(int fd);

/* corio_sock_sendfile / corio_writer_sendfile flag: fail with -EOPNOTSUPP
 * instead of reading and sending the file piece by piece when sendfile(2)
 * cannot be used (asyncio's fallback=False). */
#define CORIO_SENDFILE_NO_FALLBACK 1

/*
 * asyncio loop.sock_sendfile: send `count` bytes (0: up to the end of the
 * file) of the file fd to the connected SOCK_STREAM socket `sock`, with
 * sendfile(2), waiting for room as corio_send does.  Where sendfile(2)
 * cannot move this pair (a file that cannot be mapped, a pipe), the file
 * is read with corio_file_pread in 256 KiB pieces and each sent whole with
 * corio_send - unless flags has CORIO_SENDFILE_NO_FALLBACK.
 *
 * Position, as sendfile(2): with `offset`, sending starts at *offset, which
 * is moved past every byte sent (also when the call fails or is
 * cancelled), and fd's own position is left alone; with NULL, sending
 * starts at fd's position, which is moved past what was sent.  (asyncio
 * takes an offset and always moves the file's position.)  Sending stops
 * early at the end of the file, as asyncio's does.
 *
 * Returns the number of bytes sent (>= 0), or a negative errno: -EPERM
 * outside a task, -EBADF, -ENOTSOCK, -EINVAL (not SOCK_STREAM, a blocking
 * socket, a negative offset, unknown flags), -ESPIPE (no offset and fd has
 * no position), -EOPNOTSUPP (sendfile(2) refused and no fallback),
 * -ECANCELED, or the socket's or the file's error.  Bytes sent before a
 * failure are in *offset (or fd's position).  Ownership: neither
 * descriptor is closed.  SUSPENDS.
 */
CORIO_API ssize_t corio_sock_sendfile(int sock, int fd, off_t *offset, size_t count, int flags);

#ifdef __cplusplus
}
#endif
#endif
