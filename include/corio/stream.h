/*
 * corio/stream.h - asyncio streams: a buffered reader and writer over a
 * connected socket (or pipe), and a server that runs a task per client.
 *
 *     corio_reader *r; corio_writer *w;
 *     int rc = corio_open_connection("127.0.0.1", 8888, &r, &w);
 *     if (rc < 0) return rc;
 *     corio_writer_write(w, "hello\n", 6);            // buffered, never suspends
 *     const char *line; size_t len;
 *     rc = corio_reader_readline(r, &line, &len);     // SUSPENDS
 *     corio_stream_close(r, w);                       // close + wait_closed + free
 *
 * Ownership.  A reader and its writer are two handles to one connection,
 * which owns the descriptor and closes it with corio_close().  Each handle
 * is released once: the reader with corio_reader_free(), the writer with
 * corio_writer_free() (which closes the connection if it is still open),
 * or both at once with corio_stream_close().  A one-way stream (a reader
 * only or a writer only, over one end of a pipe: see corio_stream_open)
 * has just that handle, and releasing it closes the descriptor.  Closing
 * happens in the background: data still buffered is written out by the
 * loop before the descriptor is closed (asyncio's transport.close());
 * corio_writer_wait_closed() waits for that.  Handles given to a
 * server's handler belong to the server: the handler must not free them.
 *
 * The reader is pull-based: it reads from the descriptor only when a call
 * needs more data, so its buffer never grows beyond what one call asks for
 * (at most the line limit plus one 64 KiB read for readline/readuntil).
 *
 * Cancel-safety.  Every reader call that is cancelled or times out (inside
 * a corio_timeout scope) loses nothing: bytes already received stay in the
 * reader's buffer and the next call sees them.  A cancelled drain leaves
 * the written data queued.
 *
 * Reader views.  readline and readuntil return a pointer into the reader's
 * buffer instead of copying: it stays valid until the next call on this
 * reader (or its release).  Copy what you want to keep.
 *
 * Errors are negative errno values, plus CORIO_EINCOMPLETE.
 */
#ifndef CORIO_STREAM_H
#define CORIO_STREAM_H

#include "types.h"
#include "net.h"

#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* End of stream came before a readexactly / readuntil was satisfied
 * (asyncio.IncompleteReadError).  The partial data is reported with it. */
enum { CORIO_EINCOMPLETE = -11100 };

#define CORIO_STREAM_LIMIT (64 * 1024)      /* default line limit (asyncio's) */
#define CORIO_STREAM_HIGH_WATER (64 * 1024) /* default: drain waits above this ... */
#define CORIO_STREAM_LOW_WATER (16 * 1024)  /* ... until the buffer is down to this */

typedef struct corio_reader corio_reader; /* opaque */
typedef struct corio_writer corio_writer; /* opaque */
typedef struct corio_server corio_server; /* opaque */

/* Stream settings; zero-initialise, zero means default. */
typedef struct corio_stream_opts {
    size_t limit;      /* longest line readline/readuntil accept, without separator; default 64 KiB */
    size_t high_water; /* writer: drain suspends when more than this is buffered; default 64 KiB */
    size_t low_water;  /* writer: ... until no more than this is; default high_water / 4 */
} corio_stream_opts;

/* ---- opening ---------------------------------------------------------------- */

/*
 * asyncio.open_connection: corio_tcp_connect(host, port) and a reader and
 * writer over the new socket.  Returns 0 and stores both handles, or a
 * negative code (as corio_tcp_connect, -ENOMEM, -EINVAL for NULL
 * arguments); nothing is left open on failure.  SUSPENDS.
 */
CORIO_API int corio_open_connection(const char *host, int port, corio_reader **r, corio_writer **w);
CORIO_API int corio_open_connection_opts(const char *host, int port, const corio_connect_opts *copts,
                                         const corio_stream_opts *sopts, corio_reader **r, corio_writer **w);

/* asyncio.open_unix_connection.  As corio_open_connection.  SUSPENDS. */
CORIO_API int corio_open_unix_connection(const char *path, corio_reader **r, corio_writer **w);

/*
 * A reader and writer over an existing connected descriptor (a socket, or
 * a socketpair end).  Either out-pointer may be NULL for a one-way stream
 * over a descriptor that only reads or only writes: r alone for the read
 * end of a pipe, w alone for the write end.  Returns 0 with the
 * handle(s) stored, and the connection then owns fd (see Ownership: a
 * one-way stream closes it when its one handle is released).  On
 * failure fd is left to the caller: -EBADF for a negative fd, -EINVAL
 * when r and w are both NULL, -ENOMEM.  Does not suspend.
 *
 * A writer over a pipe is not a socket (no MSG_NOSIGNAL): a write after
 * the reading end is gone may raise SIGPIPE, which kills the process
 * unless SIGPIPE is ignored or blocked; the writer then fails with -EPIPE.
 */
CORIO_API int corio_stream_open(int fd, const corio_stream_opts *opts, corio_reader **r, corio_writer **w);

/*
 * Close the connection, wait until buffered data is written and the
 * descriptor closed, and release both handles (either may be NULL if
 * already released).  If cancelled while waiting, the buffered data is
 * dropped (abort) and -ECANCELED returned; the handles are released
 * either way.  Returns 0 or the writer's error.  SUSPENDS.
 */
CORIO_API int corio_stream_close(corio_reader *r, corio_writer *w);

/* ---- reader ------------------------------------------------------------------- */

/*
 * Up to n bytes (asyncio read(n)): what is buffered, or else one read from
 * the descriptor.  Returns the count, 0 at end of stream (or n == 0), or a
 * negative errno (-ECONNRESET, -ECANCELED, ...).  SUSPENDS if nothing is
 * buffered.
 */
CORIO_API ssize_t corio_reader_read(corio_reader *r, void *buf, size_t n);

/*
 * Read to end of stream into buf (asyncio read(-1)).  Returns the total,
 * or -ENOBUFS when more than cap bytes arrive (nothing is consumed then:
 * the data stays buffered), or another negative errno.  SUSPENDS.
 */
CORIO_API ssize_t corio_reader_read_to_eof(corio_reader *r, void *buf, size_t cap);

/*
 * Read to end of stream into a malloc'd buffer stored in *out (the caller
 * frees it; NUL-terminated for convenience, the NUL not counted in *len).
 * 0 or a negative errno (*out NULL then, and the data stays buffered).
 * SUSPENDS.
 */
CORIO_API int corio_reader_read_all(corio_reader *r, char **out, size_t *len);

/*
 * The next line, '\n' included (asyncio readline): *line points into the
 * reader's buffer (see "Reader views") and *len is its length.  At end of
 * stream the last, unterminated piece is returned as it is, then
 * *len = 0.  Returns 0 or a negative errno.  A line longer than the limit
 * gives -ENOBUFS and, as in asyncio, that line is dropped (through its
 * '\n' when it has arrived; the buffered part otherwise): what follows it
 * stays readable.  SUSPENDS.
 */
CORIO_API int corio_reader_readline(corio_reader *r, const char **line, size_t *len);

/*
 * Data up to and including the separator `sep` (seplen >= 1 bytes),
 * asyncio readuntil.  Returns 0 with *data / *len (a view, see above);
 * CORIO_EINCOMPLETE at end of stream before the separator, with *data /
 * *len the partial data (consumed); -ENOBUFS when the separator is not
 * within the limit (nothing consumed: read it with corio_reader_read);
 * -EINVAL for a NULL or empty separator; another negative errno.  SUSPENDS.
 */
CORIO_API int corio_reader_readuntil(corio_reader *r, const void *sep, size_t seplen, const char **data,
                                     size_t *len);

/*
 * readuntil with several separators (asyncio 3.13's readuntil given a
 * tuple): the data up to and including the first place where any of the
 * nseps separators seps[0..nseps) ends - the shortest result that has one
 * of them as its suffix.  Where two end at the same byte the shorter one
 * is the match (between equal ones, the first in seps), and it is the
 * match's start that is held against the limit, as asyncio does.  Returns
 * 0 with *data / *len (a view, see above) and, when which is not NULL, the
 * index in seps of the separator that matched in *which (-1 on every
 * other outcome); the rest as corio_reader_readuntil: CORIO_EINCOMPLETE
 * at end of stream before any separator, with the partial data
 * (consumed); -ENOBUFS when no separator is within the limit (nothing
 * consumed); -EINVAL for no separators (seps NULL, nseps <= 0: asyncio's
 * "Separator should contain at least one element") or a NULL or empty
 * one; another negative errno.  The separators are the caller's and only
 * read during the call.  SUSPENDS.
 */
CORIO_API int corio_reader_readuntil_any(corio_reader *r, const struct iovec *seps, int nseps, const char **data,
                                         size_t *len, int *which);

/*
 * Exactly n bytes into buf (asyncio readexactly).  Returns 0;
 * CORIO_EINCOMPLETE when the stream ends first: the partial data is in buf
 * and its length in *got (may be NULL), and it is consumed; or another
 * negative errno (nothing consumed, *got = 0).  SUSPENDS.
 */
CORIO_API int corio_reader_readexactly(corio_reader *r, void *buf, size_t n, size_t *got);

/* 1 when nothing is left buffered and the peer's end of stream has
 * arrived (asyncio at_eof), whether or not a read has met it yet: asks the
 * kernel without consuming anything (one system call) while the end has
 * not been read (over a supplied transport, asks its at_eof operation,
 * corio/transport.h; without one, only a read meets the end).  0
 * otherwise, and after a connection error.  Does not suspend. */
CORIO_API int corio_reader_at_eof(const corio_reader *r);

/* Bytes received and not yet consumed (over a transport, those it holds
 * too: its read_buffered operation, corio/transport.h). */
CORIO_API size_t corio_reader_buffered(const corio_reader *r);

/* The line limit in force. */
CORIO_API size_t corio_reader_limit(const corio_reader *r);

/* Set the reader's limit (0: the default, CORIO_STREAM_LIMIT) for the
 * calls that follow.  0, or -EINVAL for NULL.  Does not suspend. */
CORIO_API int corio_reader_set_limit(corio_reader *r, size_t limit);

/* Release the reader handle (see Ownership).  NULL is ignored.  Does not suspend. */
CORIO_API void corio_reader_free(corio_reader *r);

/* ---- writer ------------------------------------------------------------------- */

/*
 * Queue len bytes (asyncio write): the caller's buffer is free again when
 * it returns.  With nothing queued the bytes are sent at once, as asyncio
 * does; a connection written to more than once in one loop iteration
 * coalesces instead - its writes are copied to the queue and leave
 * together, in one send, at the end of the iteration (a fan-out of many
 * small writes costs one system call per connection per iteration, not
 * one per write).  What the kernel does not take is sent by the loop when
 * the socket has room.  Never suspends.  Returns 0; -ESHUTDOWN after close
 * or write_eof; the connection's error (-EPIPE, -ECONNRESET) once writing
 * failed; -ENOMEM; -EINVAL for NULL.
 */
CORIO_API int corio_writer_write(corio_writer *w, const void *buf, size_t len);

/* write() of the pieces as one (asyncio writelines): with nothing queued,
 * one sendmsg; else queued together.  As write; -EINVAL also for a NULL
 * piece of non-zero length. */
CORIO_API int corio_writer_writelines(corio_writer *w, const struct iovec *iov, int iovcnt);

/*
 * Wait until the buffer is small again (asyncio drain): first offers
 * whatever this iteration queued to the kernel, then returns at once
 * unless more than high_water is buffered, and else waits until it is down
 * to low_water.  Returns 0, the connection's error, -ESHUTDOWN when the
 * connection was closed meanwhile, -ECANCELED, -EPERM when it would have
 * to wait outside a task (below the high water mark it returns 0 from
 * anywhere: there is nothing to wait for).  SUSPENDS when above the high
 * water mark.
 */
CORIO_API int corio_writer_drain(corio_writer *w);

/*
 * asyncio loop.sendfile(transport, file): send `count` bytes (0: up to
 * the end of the file) of the file fd through w, after everything written
 * to w before.  On a socket stream this is sendfile(2): the queue is sent
 * first, then the kernel copies the file to the socket, and other writes,
 * write_eof and another sendfile on w get -EBUSY from the call on until it
 * returns, also while the queue is still going (asyncio raises "sendfile
 * is in progress").  Over a transport (TLS) or a pipe, and
 * where sendfile(2) refuses the file, the file is read with
 * corio_file_pread in 256 KiB pieces and each written and drained -
 * unless flags has CORIO_SENDFILE_NO_FALLBACK (corio/io.h), which makes
 * that -EOPNOTSUPP.  Offset and the file's position as corio_sock_sendfile:
 * *offset (or fd's position, with NULL) ends past the last byte sent, also
 * after a failure or a cancellation.  Sending stops early at the end of
 * the file.
 *
 * Returns the number of bytes sent, or a negative errno: -EINVAL (NULL w,
 * unknown flags, negative offset), -EBADF, -EPERM outside a task,
 * -ESHUTDOWN (closed or half-closed), -EBUSY, -ESPIPE (no offset and fd
 * has no position), -EOPNOTSUPP, -ECANCELED, or the connection's or the
 * file's error.  Ownership: fd stays the caller's.  SUSPENDS.
 */
CORIO_API ssize_t corio_writer_sendfile(corio_writer *w, int fd, off_t *offset, size_t count, int flags);

/*
 * Send what the writer has queued now rather than at the end of the loop
 * iteration, for bytes the peer waits for before it answers (a handshake
 * flight).  On epoll that is the send a drain makes too; on io_uring,
 * where writes otherwise leave in one ring submission at the end of the
 * iteration, after every task of the iteration has run, it is a direct
 * non-blocking send when no ring send is in flight: one system call,
 * worth it where the peer would sit idle meanwhile, not for a stream of
 * messages (drain does not do it).  What the kernel does not take stays
 * queued and leaves as before, in order.  A writer over a supplied
 * transport has nothing of its own queued: 0.  Returns 0 or the
 * connection's error; -EINVAL for NULL.  Does not suspend.
 */
CORIO_API int corio_writer_flush(corio_writer *w);

/*
 * Shut down the write side once the buffer is written (half-close; the
 * reader keeps working).  0, -EOPNOTSUPP when the descriptor is not a
 * socket, -ESHUTDOWN after close, the connection's error.  Does not suspend.
 */
CORIO_API int corio_writer_write_eof(corio_writer *w);

/* 1 if write_eof is possible (a socket). */
CORIO_API int corio_writer_can_write_eof(const corio_writer *w);

/*
 * Begin closing (asyncio close): no more writes; buffered data is written
 * by the loop, then the descriptor is closed, and a reader waiting on it
 * sees end of stream.  0 (also when already closing).  Does not suspend.
 */
CORIO_API int corio_writer_close(corio_writer *w);

/* Close at once, dropping buffered data (asyncio transport.abort).  Does not suspend. */
CORIO_API void corio_writer_abort(corio_writer *w);

/* 1 once close, abort or a failure began closing the connection. */
CORIO_API int corio_writer_is_closing(const corio_writer *w);

/*
 * Wait until the descriptor is closed (asyncio wait_closed).  Returns 0,
 * the error that ended writing, or -ECANCELED (the close goes on).
 * SUSPENDS until closed.
 */
CORIO_API int corio_writer_wait_closed(corio_writer *w);

/*
 * asyncio transport.set_write_buffer_limits(high, low): new water marks
 * for drain (0: the default high, CORIO_STREAM_HIGH_WATER; low 0: high/4).
 * A drain waiting is resumed if the buffer is now at or below low.  0, or
 * -EINVAL (NULL, low above high).  Does not suspend.
 */
CORIO_API int corio_writer_set_write_buffer_limits(corio_writer *w, size_t high, size_t low);
/* asyncio transport.get_write_buffer_limits(): the writer's marks (0 for NULL). */
CORIO_API void corio_writer_get_write_buffer_limits(const corio_writer *w, size_t *high, size_t *low);

/* Bytes queued and not yet written (asyncio transport.get_write_buffer_size). */
CORIO_API size_t corio_writer_buffered(const corio_writer *w);

/* The peer's / our own address, formatted as corio_sockaddr_format.  Length or -errno. */
CORIO_API int corio_writer_peername(const corio_writer *w, char *buf, size_t cap);
CORIO_API int corio_writer_sockname(const corio_writer *w, char *buf, size_t cap);

/* The connection's descriptor (-1 once closed); borrowed, for socket options. */
CORIO_API int corio_writer_fd(const corio_writer *w);

/*
 * Release the writer handle (see Ownership): closes the connection first
 * if it is still open (buffered data is still written, by the loop, as
 * long as the loop runs).  NULL is ignored.  Does not suspend.
 */
CORIO_API void corio_writer_free(corio_writer *w);

/* ---- server ------------------------------------------------------------------- */

/*
 * A connection handler: runs as its own task, one per client.  r and w
 * belong to the server, which closes the connection (flushing what is
 * buffered) when the handler returns - unless the handler handed them
 * over with corio_server_detach().  A negative return other than
 * -ECANCELED is reported to the loop's exception handler
 * (corio_loop_set_exception_handler; the default logs it at
 * CORIO_LOG_ERROR: "Unhandled exception in client_connected_cb", as
 * asyncio reports a callback that raised); a cancelled handler
 * (-ECANCELED) is not reported.
 */
typedef int (*corio_stream_handler)(corio_reader *r, corio_writer *w, void *arg);

/*
 * Hand a connection over from its server: r and w must be the handles the
 * server gave a handler that is still running (the call may come from the
 * handler itself or from any task of the loop while the handler runs).
 * From then on the server no longer closes or frees them when the handler
 * returns (or is cancelled): the caller owns both and releases them with
 * corio_stream_close() (or corio_writer_free + corio_reader_free) before
 * the loop closes.  This is asyncio's handler that passes the streams to
 * another task and returns at once: the connection stays open until that
 * task closes the writer.  The server stops counting the connection
 * (corio_server_connections, max_connections).  corio_server_close with
 * cancel_handlers still cancels the handler task if it still runs, and
 * corio_server_wait_closed / corio_server_shutdown still wait for the
 * handler task to return - but neither closes nor waits for a detached
 * connection itself, and corio_server_close_clients / abort_clients leave
 * it alone.  Returns 0; -EINVAL if r and w are not the handles
 * of a running handler (NULL, from another connection, or the handler has
 * returned); -EALREADY if already detached; -EPERM outside a task.  r
 * and w must be live handles (not released): the connection itself says
 * which handler holds it, so the check costs no search.  Does not suspend.
 */
CORIO_API int corio_server_detach(corio_reader *r, corio_writer *w);

/* Server settings; zero-initialise, zero means default. */
typedef struct corio_server_opts {
    corio_listen_opts listen;  /* family, backlog, reuseport, ... */
    corio_stream_opts stream;  /* for every connection */
    size_t max_connections;    /* 0: no cap.  Beyond it a new client is accepted and closed at once */
    size_t handler_stack_size; /* stack of each handler task (corio_task_opts.stack_size); 0: default */
} corio_server_opts;

/*
 * asyncio.start_server: listen on host:port and start accepting, one task
 * running handler(r, w, arg) per connection.  *out receives the server,
 * which the caller releases with corio_server_free() after closing it.
 * Accept failures for lack of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM) are reported to the loop's exception handler (once
 * until an accept succeeds again) and retried after a pause of 100 ms, so the
 * server neither spins nor stops.  Returns 0 or a negative code (as
 * corio_tcp_listen; -EINVAL for NULL arguments).  SUSPENDS only while a
 * name is looked up; must be called from a task.
 */
CORIO_API int corio_start_server(const char *host, int port, corio_stream_handler handler, void *arg,
                                 corio_server **out);
CORIO_API int corio_start_server_opts(const char *host, int port, corio_stream_handler handler, void *arg,
                                      const corio_server_opts *opts, corio_server **out);

/* asyncio.start_unix_server: the same on a Unix socket path (opts may be
 * NULL).  A socket file already at the path is replaced, any other file
 * there is -EADDRINUSE (corio_unix_listen); the server removes its socket
 * file when it closes (corio_server_close). */
CORIO_API int corio_start_unix_server(const char *path, corio_stream_handler handler, void *arg,
                                      const corio_server_opts *opts, corio_server **out);

/*
 * A server on an already listening descriptor, which it then owns (on
 * failure the caller keeps it).  Must be called from a task.
 */
CORIO_API int corio_server_open(int listen_fd, corio_stream_handler handler, void *arg,
                                const corio_server_opts *opts, corio_server **out);

/* The listening port (TCP), or -errno. */
CORIO_API int corio_server_port(const corio_server *s);

/* The listening descriptor, -1 once closed; borrowed. */
CORIO_API int corio_server_fd(const corio_server *s);

/* Connections whose handlers are running (not counting detached ones). */
CORIO_API size_t corio_server_connections(const corio_server *s);

/*
 * Wait until the server is closed (asyncio serve_forever).  Returns 0
 * once someone called corio_server_close(); if the caller is cancelled,
 * closes the server (cancelling the handlers), waits for it to finish and
 * returns -ECANCELED.  SUSPENDS.
 */
CORIO_API int corio_server_serve_forever(corio_server *s);

/*
 * Stop accepting: close the listening socket, so new clients are refused.
 * Running handlers continue, unless cancel_handlers is nonzero: then each
 * is cancelled (its suspended call returns -ECANCELED) and its connection
 * aborted when it returns (a detached one is left to its owner).  A
 * server listening on a Unix socket path removes the socket file, if the
 * path still names the socket it bound (asyncio compares the inode: a
 * file that replaced it stays); an abstract name has no file.  0; again
 * is harmless.  Does not suspend.
 */
CORIO_API int corio_server_close(corio_server *s, int cancel_handlers);

/*
 * asyncio 3.13 Server.close_clients(): close every connection the server
 * still owns, as corio_writer_close does - what is buffered is written
 * first, then the descriptor is closed.  A handler waiting in a read
 * then sees end of stream (0 from corio_reader_read, CORIO_EINCOMPLETE
 * from readexactly / readuntil), as asyncio's handler reads b'' once the
 * transport is closed; its writes return -ESHUTDOWN (asyncio drops them
 * silently: see README, Differences).  The client reads what was buffered,
 * then end of stream.  The handler's read sees the end only once the
 * buffered data is written, as in asyncio, whose connection_lost comes
 * then.  Handlers are not cancelled: each returns in its own time, and
 * corio_server_wait_closed waits for that.  A connection handed over with
 * corio_server_detach is no longer the server's and is left alone.  Bytes
 * the client sent that the handler has not read yet are dropped (see
 * README, Differences).  The listening socket is untouched, as in asyncio:
 * call corio_server_close too to stop accepting (a client accepted
 * afterwards is served as usual).  0; -EINVAL for NULL.  Does not suspend.
 */
CORIO_API int corio_server_close_clients(corio_server *s);

/*
 * asyncio 3.13 Server.abort_clients(): as close_clients, but each
 * connection is aborted (corio_writer_abort): buffered data is dropped and
 * the descriptor closed at once, so a connection whose client does not
 * read is not waited for.  A handler waiting in a read sees end of stream,
 * as in asyncio (abort gives connection_lost(None) there too); the client
 * sees end of stream, or -ECONNRESET when it had sent bytes the handler
 * never read (the kernel resets a socket closed with unread data).
 * Detached connections are left alone.  0; -EINVAL for NULL.  Does not
 * suspend.
 */
CORIO_API int corio_server_abort_clients(corio_server *s);

/*
 * Wait until the server is closed and every handler has finished (asyncio
 * 3.12+ wait_closed, which waits for the connections to be dropped: here
 * for their handlers to return as well, since the server frees a
 * connection only then; after close_clients or abort_clients a handler
 * that reads sees the end and returns).  0, -ECANCELED.  SUSPENDS.
 */
CORIO_API int corio_server_wait_closed(corio_server *s);

/*
 * Release a server that is closed with every handler finished: 0, or
 * -EBUSY (nothing done) while it still runs.  NULL: 0.  Does not suspend.
 */
CORIO_API int corio_server_free(corio_server *s);

/*
 * Close, wait and release in one call (close + wait_closed + free): stop
 * accepting, cancel the running handlers if cancel_handlers is nonzero,
 * wait for every handler to finish, and free the server.  If the caller
 * is cancelled while waiting, the handlers are cancelled, waited for, the
 * server freed all the same, and -ECANCELED returned.  Returns 0 (NULL:
 * 0).  The server must not be used afterwards.  SUSPENDS.
 */
CORIO_API int corio_server_shutdown(corio_server *s, int cancel_handlers);

/* ---- a reader you feed yourself --------------------------------------------------- */

/*
 * asyncio's bare StreamReader(limit=...), driven by the program with
 * feed_data, feed_eof and set_exception (a protocol's data_received, a
 * parser's test, bytes that come from somewhere other than a descriptor).
 *
 *     corio_reader *r;
 *     corio_stream_opts o = {.limit = 3};
 *     corio_reader_new_memory(&o, &r);
 *     corio_reader_feed(r, "line1\nli", 8);    // never suspends
 *     corio_reader_feed_eof(r);
 *     rc = corio_reader_readline(r, &line, &len); // "line1\n"; a task waiting here is woken by a feed
 *     corio_reader_free(r);
 *
 * Every corio_reader_* call works on it as on any reader (it is a reader
 * over a transport, corio/transport.h, whose read takes the fed bytes):
 * limits, views, at_eof, and cancel-safety (a read cancelled while it
 * waits for a feed takes nothing; what is fed later is read by the next
 * call).  A read waits only while nothing is fed, the end has not been
 * fed and no error is set.  Like asyncio's reader it is not thread-safe:
 * feed it from the thread of the loop that reads it.  Two tasks reading at
 * once: the one that would wait second gets -EBUSY (asyncio's
 * RuntimeError).
 *
 * How it differs from asyncio's.  The reader pulls fed bytes into its own
 * buffer when a call needs more, as much as it has room for (4 KiB to
 * 64 KiB) rather than all that was fed.  So a line over the limit whose
 * '\n' has not come drops what the reader has pulled, where asyncio drops
 * everything fed: the same unless more than about 4 KiB is fed beyond the
 * limit before the line's end.  corio_reader_buffered counts every byte
 * fed and not consumed, as asyncio's len(reader._buffer).
 */

/*
 * A reader fed by the program.  opts may be NULL; only opts->limit
 * counts (0: the default, CORIO_STREAM_LIMIT; asyncio refuses a limit
 * <= 0, which cannot be spelled here).  Returns 0 with *r stored, the
 * caller's to release with corio_reader_free (bytes fed and not read are
 * dropped then); -EINVAL (r NULL), -ENOMEM.  Needs no loop and does not
 * suspend.
 */
CORIO_API int corio_reader_new_memory(const corio_stream_opts *opts, corio_reader **r);

/*
 * asyncio feed_data: append a copy of n bytes of data (the caller keeps
 * data) and wake a task waiting in a read on r.  n == 0 does nothing.
 * Returns 0; -EPIPE after corio_reader_feed_eof (asyncio's
 * AssertionError "feed_data after feed_eof"); -EINVAL for a reader not
 * made by corio_reader_new_memory, or NULL data with n > 0; -ENOMEM.
 * Accepted after corio_reader_set_error, as in asyncio (counted by
 * corio_reader_buffered, never read).  Does not suspend.
 */
CORIO_API int corio_reader_feed(corio_reader *r, const void *data, size_t n);

/*
 * asyncio feed_eof: no more data; reads return what was fed, then the
 * end (0, or CORIO_EINCOMPLETE from readexactly / readuntil).  Wakes a
 * waiting read.  Again is harmless.  0, or -EINVAL for a reader not made
 * by corio_reader_new_memory.  Does not suspend.
 */
CORIO_API int corio_reader_feed_eof(corio_reader *r);

/*
 * asyncio set_exception: a task waiting in a read on r returns err (< 0),
 * and so does every later read: as in asyncio the error comes before any
 * byte fed and not yet read (those stay counted by corio_reader_buffered).
 * It ends a view handed out earlier, as a call on r does.  A later call
 * replaces the error.  0; -EINVAL for a reader not made by
 * corio_reader_new_memory, err >= 0, or err == -EBADF (a reader takes
 * that from its transport as its own descriptor closed: end of stream).
 * Does not suspend - except that, called from a task whose turn is spent
 * while the reader holds pulled bytes, it may yield once to the loop (a
 * cancellation met there is kept for the task's next suspending call).
 */
CORIO_API int corio_reader_set_error(corio_reader *r, int err);

/* asyncio exception(): the error set with corio_reader_set_error, or 0
 * (also for NULL or a reader not made by corio_reader_new_memory).  Does
 * not suspend. */
CORIO_API int corio_reader_error(const corio_reader *r);

#ifdef __cplusplus
}
#endif
#endif
