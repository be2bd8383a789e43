/*
 * corio/transport.h - the byte transport under a stream: the seam where a
 * module (TLS, a test double, a compressed channel) puts its own byte path
 * beneath corio's reader and writer.
 *
 * A stream's reader and writer (corio/stream.h) do the buffering and
 * framing: read, readline, readuntil, readexactly, limits, views,
 * cancel-safety, write, writelines, drain and the high/low water marks,
 * close and wait_closed.  Underneath, a transport moves bytes.  A stream
 * opened with corio_stream_open() or corio_open_connection() runs over
 * the built-in descriptor transport (sockets and pipes, epoll or
 * io_uring).  corio_stream_open_transport() opens the same reader and
 * writer over a transport you supply as a table of operations, so every
 * corio_reader_* and corio_writer_* call works over it unchanged.
 *
 * A TLS transport, for example, implements `read` by decrypting what it
 * reads from a plain stream below it, and `write` by encrypting into that
 * stream's writer: a transport over a transport.
 *
 * Contract of the operations (ctx is the pointer given at open):
 *   read        Read up to n (> 0) bytes into buf.  Returns the count
 *               (> 0), 0 at end of stream, or a negative errno.  MAY
 *               SUSPEND the calling task.  If the task is cancelled while
 *               suspended, return -ECANCELED having consumed nothing that
 *               was not returned (what was read below stays buffered in
 *               the transport for the next call): the reader's
 *               cancel-safety rests on this.  Called by one task at a time.
 *   write       Take all of iov for sending.  NEVER suspends: queue what
 *               cannot go now.  Returns 0 or a negative errno (the writer
 *               then fails with it, sticky).
 *   write1      Optional.  As write, with one piece of len (> 0) bytes:
 *               corio_writer_write's, handed over without an iovec.
 *               NULL: write gets the piece as a one-element iovec.
 *   buffered    Bytes taken by write and not yet handed to the layer below
 *               (or the kernel).  Drain compares this with the writer's
 *               high and low water marks.  Never suspends.
 *   drain       Optional.  Wait until buffered() is at most `low`, or the
 *               transport failed.  Returns 0 or a negative errno
 *               (-ECANCELED if cancelled: the data stays queued).  MAY
 *               SUSPEND.  NULL: the writer considers buffered() only.
 *   write_eof   Optional (NULL: corio_writer_can_write_eof() is false).
 *               Send end-of-stream after what is queued.  Never suspends.
 *   close       Start closing: send what is queued, then close the layer
 *               below.  Never suspends; called once.
 *   abort       Optional (NULL: close).  Close now, dropping what is queued.
 *               Never suspends; called at most once, possibly after close.
 *   wait_closed Optional.  Wait until closing has finished.  Returns 0 or
 *               the error that ended the transport.  MAY SUSPEND.
 *   fd          Optional.  The descriptor underneath, or -1.
 *   peername, sockname
 *               Optional.  As corio_writer_peername(); NULL: -ENOTCONN.
 *   release     Called once, when both handles of the stream have been
 *               released (after close): free ctx.  Never suspends.
 *   at_eof      Optional.  1 if the transport already knows that the next
 *               read would return 0 (the peer's end has arrived and
 *               nothing is buffered inside the transport), else 0.  Never
 *               suspends and consumes nothing.  corio_reader_at_eof() asks
 *               it when the reader's own buffer is empty, so a reader over
 *               the transport sees the end without another read.  NULL:
 *               unknown, and at_eof becomes true only once a read has met
 *               the end.
 *   read_buffered
 *               Optional.  Bytes the transport has received and not yet
 *               handed to the reader.  corio_reader_buffered() adds them
 *               to the reader's own count, so that it says what asyncio's
 *               len(reader._buffer) says for a reader whose bytes come
 *               all at once (the memory reader's fed bytes).  Never
 *               suspends and consumes nothing.  NULL: 0.
 *
 * Ownership: the stream owns ctx from a successful open until it calls
 * release.  On failure the caller keeps it.
 */
#ifndef CORIO_TRANSPORT_H
#define CORIO_TRANSPORT_H

#include "types.h"
#include "stream.h"

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_transport_ops {
    ssize_t (*read)(void *ctx, void *buf, size_t n);
    int (*write)(void *ctx, const struct iovec *iov, int iovcnt);
    size_t (*buffered)(void *ctx);
    int (*drain)(void *ctx, size_t low);
    int (*write_eof)(void *ctx);
    int (*close)(void *ctx);
    void (*abort)(void *ctx);
    int (*wait_closed)(void *ctx);
    int (*fd)(void *ctx);
    int (*peername)(void *ctx, char *buf, size_t cap);
    int (*sockname)(void *ctx, char *buf, size_t cap);
    void (*release)(void *ctx);
    int (*at_eof)(void *ctx); /* tables that predate it leave it NULL */
    unsigned flags;           /* CORIO_TRANSPORT_*; 0 in tables that predate it */
    int (*write1)(void *ctx, const void *buf, size_t len); /* tables that predate it leave it NULL */
    size_t (*read_buffered)(void *ctx);                    /* tables that predate it leave it NULL */
} corio_transport_ops;

/*
 * ops->flags: write hands everything it takes to the writer below at once
 * (corio_stream_push_transport's below_w, over a descriptor), so that
 * buffered() is that writer's corio_writer_buffered().  A drain of the
 * stream then looks at that writer itself instead of calling buffered(),
 * and lets what that writer queued for the end of the iteration go now,
 * as a drain of it would (a TLS record answered by the peer leaves at
 * once).  Only used by corio_stream_push_transport; ignored elsewhere.
 */
#define CORIO_TRANSPORT_WRITES_BELOW 1u

/*
 * A reader and writer over a transport.  ops must outlive the stream
 * (a static table); read, write, buffered, close and release are
 * required.  Either out-pointer may be NULL for a one-way stream, as
 * corio_stream_open().  opts as there (the writer's high and low water
 * marks apply to ops->buffered()).  Returns 0 with the handles stored and
 * ctx owned by the stream; -EINVAL (a required operation missing, both
 * out-pointers NULL) or -ENOMEM, ctx then left to the caller.  Does not
 * suspend.
 */
CORIO_API int corio_stream_open_transport(const corio_transport_ops *ops, void *ctx,
                                          const corio_stream_opts *opts, corio_reader **r, corio_writer **w);

/*
 * Layer a transport onto an open stream in place (what asyncio's
 * StreamWriter.start_tls does under the same reader and writer).  The
 * stream's current byte path - its descriptor with its readiness or ring
 * state (or the transport it ran over), the bytes r holds and has not
 * handed out, the bytes w has queued, a ring send in flight - moves to a
 * new reader and writer stored in *below_r / *below_w, which read those
 * held bytes first and send the queued ones first.  r and w then run over
 * ops/ctx (as corio_stream_open_transport), keeping their limits and
 * water marks, with empty buffers; a view r returned earlier is released
 * as by the next call on r.  The moved writer keeps the marks w had
 * (corio_writer_set_write_buffer_limits changes them).
 *
 * Ownership: the stream owns ctx from then on (ops->release when r and w
 * are both released, after ops->close), and ctx owns *below_r / *below_w:
 * it releases them from its release (and closes them from its close and
 * abort).  Handles a server gave its handler stay the server's: it closes
 * and releases r and w when the handler returns, which closes the
 * transport, which closes the stream below.
 *
 * Returns 0; -EINVAL (NULL, not the two held handles of one stream, a
 * required operation missing), -EBUSY (a task is suspended in a read on
 * r, a drain or wait_closed on w, or in the transport's read or drain; w
 * is closing, half-closed, closed or failed), -ENOMEM, or an error from
 * moving the write watch; on failure nothing has changed and ctx stays
 * the caller's.  Never suspends and calls no operation.
 */
CORIO_API int corio_stream_push_transport(corio_reader *r, corio_writer *w, const corio_transport_ops *ops, void *ctx,
                                          corio_reader **below_r, corio_writer **below_w);

/*
 * corio_reader_read(r, buf, n) for a transport's own read from the stream
 * below it (the below_r of corio_stream_push_transport, or any reader it
 * holds): the same result, cancel-safety included, without the checks of
 * the caller's arguments that a transport has no use for.  r must be a
 * held reader and buf non-NULL (else the behaviour is undefined).  MAY
 * SUSPEND the calling task, as corio_reader_read.
 */
CORIO_API ssize_t corio_reader_read_below(corio_reader *r, void *buf, size_t n);

/*
 * corio_writer_write(w, buf, len) for a transport's own write to the
 * stream below it (the below_w of corio_stream_push_transport, or any
 * writer it holds): the same result, without the checks of the caller's
 * arguments that a transport has no use for.  w must be a held writer,
 * buf non-NULL and len > 0 (else the behaviour is undefined).  Never
 * suspends.  Returns 0 or a negative errno, as corio_writer_write.
 */
CORIO_API int corio_writer_write_below(corio_writer *w, const void *buf, size_t len);

/* The ctx a stream was opened over with corio_stream_open_transport() or
 * pushed onto it with corio_stream_push_transport(), or NULL for a stream
 * over the descriptor transport. */
CORIO_API void *corio_writer_transport(const corio_writer *w);
CORIO_API void *corio_reader_transport(const corio_reader *r);

#ifdef __cplusplus
}
#endif

#endif
