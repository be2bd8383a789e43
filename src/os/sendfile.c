/*
 * sendfile.c - a file's bytes to a socket or a stream writer: asyncio's
 * loop.sock_sendfile (corio_sock_sendfile) and loop.sendfile
 * (corio_writer_sendfile).  In the OS layer because its fallback reads
 * the file (file.c); the native parts are the I/O layer's.
 *
 * The native way is sendfile(2): the kernel copies from the page cache to
 * the socket, and the task waits for room as any send does
 * (corio__sendfile_native, io.c; for a stream, after its queue has gone:
 * corio__writer_sendfile_native, stream.c).  When the kernel cannot do that for this
 * pair (a file that cannot be mapped, a socket type without splice, a TLS
 * stream, a pipe writer) and the caller allows it, the fallback reads the
 * file in 256 KiB pieces (asyncio's SENDFILE_FALLBACK_READBUFFER_SIZE)
 * with corio_file_pread and sends each whole, as asyncio's fallback does.
 */
#include "os.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define FALLBACK_PIECE (256 * 1024)

/* One call's state. */
typedef struct job {
    int in;        /* the file */
    off_t *offset; /* the caller's offset, or NULL: the file's position */
    off_t pos;     /* the next byte to send */
    size_t count;  /* bytes to send at most (SIZE_MAX: to the end) */
    size_t sent;   /* bytes sent so far */
} job;

/* Set j up for count bytes (0: to the end) of fd from *offset, or from
 * fd's position when offset is NULL.  0, -EINVAL, or lseek's error. */
static int job_start(job *j, int fd, off_t *offset, size_t count) {
    j->in = fd;
    j->offset = offset;
    j->sent = 0;
    j->count = count ? count : SIZE_MAX;
    if (offset && *offset < 0) return corio__bad(-EINVAL, "sendfile: negative offset");
    /* A file with a position, as asyncio's file.seek/tell need (a pipe
     * has none: -ESPIPE, also with an offset, where a read in the ring
     * would wait for the pipe's data whatever the offset said). */
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at < 0) return -errno;
    j->pos = offset ? *offset : at;
    return 0;
}

/* The bytes sent, or rc when it is an error; *offset or the file's
 * position moved past what went. */
static ssize_t job_finish(job *j, int rc) {
    /* sendfile(2)'s rule: a given offset says where the next byte is, and
     * the file's own position is left alone; without one, the position
     * moves past what was sent. */
    if (j->offset) *j->offset = j->pos;
    else if (j->sent) lseek(j->in, j->pos, SEEK_SET);
    return rc < 0 ? rc : (ssize_t)j->sent;
}

/* Whether sendfile(2)'s error says "not for this pair". */
static bool can_fall_back(int err) {
    /* What sendfile(2) says when it cannot move this pair, as opposed to
     * a failure of the socket or the file, which the fallback would only
     * meet again. */
    return err == -EINVAL || err == -ENOSYS || err == -EOPNOTSUPP || err == -ESPIPE || err == -EOVERFLOW;
}

/* The rest of j read in pieces, each handed whole to put (0 or -errno); a
 * piece counts once put returned 0.  0 at the end or the count, else
 * -errno.  SUSPENDS. */
static int fallback(job *j, int (*put)(void *sink, const void *buf, size_t n), void *sink) {
    size_t cap = j->count - j->sent < FALLBACK_PIECE ? j->count - j->sent : FALLBACK_PIECE;
    if (!cap) return 0;
    char *buf = malloc(cap);
    if (!buf) return -ENOMEM;
    int rc = 0;
    while (j->sent < j->count) {
        size_t want = j->count - j->sent < cap ? j->count - j->sent : cap;
        ssize_t n = corio_file_pread(j->in, buf, want, j->pos);
        if (n <= 0) {
            rc = (int)n; /* 0: the file ended */
            break;
        }
        /* A piece counts once all of it went (asyncio's sock_sendall). */
        if ((rc = put(sink, buf, (size_t)n)) < 0) break;
        j->sent += (size_t)n;
        j->pos += n;
    }
    free(buf);
    return rc;
}

/* The fallback's sink for a socket: all of it, with send(2) (never SIGPIPE). */
static int sock_put(void *sink, const void *buf, size_t n) {
    int sock = *(int *)sink;
    for (size_t off = 0; off < n;) {
        ssize_t k = corio_send(sock, (const char *)buf + off, n - off, 0);
        if (k < 0) return (int)k;
        off += (size_t)k;
    }
    return 0;
}

ssize_t corio_sock_sendfile(int sock, int fd, off_t *offset, size_t count, int flags) {
    if (!corio__current()) return corio__bad(-EPERM, "corio_sock_sendfile: called outside a task");
    if (sock < 0 || fd < 0) return corio__bad(-EBADF, "corio_sock_sendfile: negative descriptor");
    if (flags & ~CORIO_SENDFILE_NO_FALLBACK) return corio__bad(-EINVAL, "corio_sock_sendfile: unknown flags");
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) return -errno; /* -ENOTSOCK */
    if (type != SOCK_STREAM) return corio__bad(-EINVAL, "corio_sock_sendfile: only SOCK_STREAM sockets are supported");
    job j;
    int rc = job_start(&j, fd, offset, count);
    if (rc < 0) return rc;
    /* A blocking socket would block the loop in sendfile(2) (asyncio's
     * debug mode refuses one too). */
    if (!corio__fd_nonblocking(sock)) return corio__bad(-EINVAL, "corio_sock_sendfile: the socket must be non-blocking");
    rc = corio__sendfile_native(sock, fd, &j.pos, j.count, &j.sent);
    if (rc < 0 && !j.sent && can_fall_back(rc))
        rc = flags & CORIO_SENDFILE_NO_FALLBACK ? -EOPNOTSUPP : fallback(&j, sock_put, &sock);
    return job_finish(&j, rc);
}

/* The fallback's sink for a writer: a piece, then its drain. */
static int writer_put(void *sink, const void *buf, size_t n) {
    corio_writer *w = sink;
    int rc = corio_writer_write(w, buf, n);
    return rc < 0 ? rc : corio_writer_drain(w);
}

ssize_t corio_writer_sendfile(corio_writer *w, int fd, off_t *offset, size_t count, int flags) {
    if (!w) return corio__bad(-EINVAL, "corio_writer_sendfile: NULL writer");
    if (flags & ~CORIO_SENDFILE_NO_FALLBACK) return corio__bad(-EINVAL, "corio_writer_sendfile: unknown flags");
    if (fd < 0) return corio__bad(-EBADF, "corio_writer_sendfile: negative fd");
    if (!corio__current()) return corio__bad(-EPERM, "corio_writer_sendfile: called outside a task");
    job j;
    int rc = job_start(&j, fd, offset, count);
    if (rc < 0) return rc;
    /* sendfile(2) on a plain socket stream; a TLS stream or a pipe (or a
     * file sendfile(2) refuses) reads and writes instead. */
    rc = corio__writer_sendfile_native(w, fd, &j.pos, j.count, &j.sent);
    if (rc == -ENOTSOCK || (rc < 0 && !j.sent && can_fall_back(rc)))
        rc = flags & CORIO_SENDFILE_NO_FALLBACK ? -EOPNOTSUPP : fallback(&j, writer_put, w);
    return job_finish(&j, rc);
}
