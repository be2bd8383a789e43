/*
 * corio/protocol.h - transports and protocols: asyncio's callback API, for
 * code that wants no task per connection.
 *
 * A protocol is a table of callbacks; the loop calls them as things happen
 * on a connection (asyncio.Protocol):
 *
 *     connection_made -> data_received* -> eof_received? -> connection_lost
 *
 * A transport is the connection seen from the protocol: write to it, close
 * it, pause reading.  Writes never block: what the kernel does not take at
 * once is queued and written by the loop; above the high water mark
 * (64 KiB) pause_writing is called, and resume_writing once the queue is
 * down to the low one (16 KiB).  A protocol that writes as it reads pauses
 * reading from pause_writing: see "Flow control" below.
 *
 * Ownership.  The library owns each transport: it is valid from
 * connection_made until connection_lost returns, and freed then.  The
 * per-connection argument `arg` belongs to the caller: connection_lost is
 * the place to free it.  Every callback runs on the loop's thread, never
 * in a task (they must not call SUSPENDING functions).  A callback may
 * close or abort its own transport; connection_lost then follows in a
 * later loop iteration, never from inside the call that closed it.
 *
 * Errors are negative errno values.
 */
#ifndef CORIO_PROTOCOL_H
#define CORIO_PROTOCOL_H

#include "types.h"
#include "net.h"

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_transport corio_transport;   /* opaque */
typedef struct corio_proto_server corio_proto_server; /* opaque */

/* The callbacks of a stream protocol.  Any may be NULL except data_received. */
typedef struct corio_protocol {
    void (*connection_made)(corio_transport *t, void *arg);
    /* `data` is valid during the call only. */
    void (*data_received)(corio_transport *t, const void *data, size_t len, void *arg);
    /* The peer closed its writing side.  Return nonzero to keep the
     * transport open (to go on writing: a half-closed connection), 0 to
     * close it (asyncio's default).  NULL: close. */
    int (*eof_received)(corio_transport *t, void *arg);
    /* The connection is gone: err is 0 after an orderly close or EOF, else
     * why (-ECONNRESET, -EPIPE, ...).  The transport is freed when this
     * returns.  Called exactly once per connection_made. */
    void (*connection_lost)(corio_transport *t, int err, void *arg);
    /* The queue went above the high water mark / is back down to the low
     * one.  A protocol that writes as it reads (an echo, a proxy) calls
     * corio_transport_pause_reading / _resume_reading here: see "Flow
     * control" below.  NULL: the queue grows by whatever is written. */
    void (*pause_writing)(corio_transport *t, void *arg);
    void (*resume_writing)(corio_transport *t, void *arg);
} corio_protocol;

/*
 * asyncio.BufferedProtocol: a protocol that receives into buffers of its
 * own.  `base` holds the other callbacks (its data_received is not used
 * and may be NULL).  For each read, get_buffer returns a buffer and its
 * size in *len (smaller or larger than sizehint, the number of bytes
 * waiting, is fine); corio copies up to *len of them into it and calls
 * buffer_updated with the count; the two alternate until the read is
 * delivered.  The buffer stays the protocol's.  A NULL buffer or a zero
 * size is asyncio's fatal "get_buffer() returned an empty buffer": it is
 * reported to the loop's exception handler ("Fatal error:
 * protocol.get_buffer() call failed.", the transport in the context) and
 * the connection is lost with -ENOBUFS.  Everything one read brought is
 * delivered even if the protocol pauses reading in between (as one
 * data_received call would have had it); after a close nothing more is.
 * (asyncio receives into the buffer directly; corio has read already, so
 * this costs one copy.)  Open one with corio_transport_open_buffered,
 * corio_create_connection_buffered or corio_create_server_buffered; the
 * table must outlive the transports (and server) made with it.
 */
typedef struct corio_buffered_protocol {
    corio_protocol base;
    void *(*get_buffer)(corio_transport *t, size_t sizehint, size_t *len, void *arg);
    void (*buffer_updated)(corio_transport *t, size_t nbytes, void *arg);
} corio_buffered_protocol;

/*
 * Makes the per-connection argument of an accepted connection; called
 * before connection_made, with the server's `factory_arg`.  Returning NULL
 * is allowed (the callbacks then get NULL).
 */
typedef void *(*corio_protocol_factory)(void *factory_arg);

/* ---- transports ------------------------------------------------------------------ */

/*
 * Queue len bytes (asyncio transport.write): under epoll sent at once if
 * nothing is queued, the rest later by the loop; under io_uring copied to
 * the queue and sent with the iteration's other writes, in one ring send,
 * at the end of the loop iteration.  0, -ESHUTDOWN after close or
 * write_eof, the connection's error once it failed, -ENOMEM, -EINVAL.
 */
CORIO_API int corio_transport_write(corio_transport *t, const void *data, size_t len);

/* Shut down the writing side once the queue is written.  0, -ESHUTDOWN, -EOPNOTSUPP (not a socket). */
CORIO_API int corio_transport_write_eof(corio_transport *t);

/*
 * Close once the queue is written; connection_lost(0) follows.  Reading
 * stops at once.  Harmless when already closing.
 */
CORIO_API void corio_transport_close(corio_transport *t);

/* Close now, dropping the queue; connection_lost(0) follows. */
CORIO_API void corio_transport_abort(corio_transport *t);

/* 1 once close, abort or a failure began closing. */
CORIO_API int corio_transport_is_closing(const corio_transport *t);

/*
 * Stop and restart calling data_received (asyncio pause_reading /
 * resume_reading).  No data_received (nor eof_received) runs while paused:
 * under io_uring, data the kernel had already read is kept and delivered
 * after resume, before anything newer, 64 KiB per data_received at most.
 *
 * Flow control.  Writes never block, so nothing but the protocol stops a
 * peer that sends and does not read: when data_received writes back what
 * it gets (an echo, a proxy, a request answered with more than it asked),
 * the queue grows by all the peer sends (256 MiB for 256 MiB).  The
 * transport says when to stop; the protocol stops reading then, and reads
 * again once the queue is drained (asyncio's pattern):
 *
 *     static void pause_w(corio_transport *t, void *arg) {
 *         (void)arg;
 *         corio_transport_pause_reading(t);   // our queue is above high water
 *     }
 *     static void resume_w(corio_transport *t, void *arg) {
 *         (void)arg;
 *         corio_transport_resume_reading(t);  // down to low water
 *     }
 *     static const corio_protocol echo = {.data_received = echo_data,
 *         .pause_writing = pause_w, .resume_writing = resume_w};
 *
 * The peer then waits on its own full socket buffer, and the connection
 * queues at most the high water mark plus one read (64 KiB):
 * examples/echo_server_proto.c.  Under io_uring, what the kernel had
 * already read when reading paused is also kept until resume: with a fast
 * peer up to the loop's buffer ring, 2 MiB.
 *
 * The library does not do this by itself, as asyncio does not: a peer
 * that sends its whole request before it reads any of the answer would
 * then wait for us while we wait for it, once more than the socket buffers
 * and the high water mark are in flight; so would a protocol that must
 * read (an acknowledgement, a cancel) to make progress.  Only the protocol
 * knows whether its peer reads as it writes.
 */
CORIO_API void corio_transport_pause_reading(corio_transport *t);
CORIO_API void corio_transport_resume_reading(corio_transport *t);

/* Bytes queued and not yet taken by the kernel (under io_uring, including the rest of a send in flight). */
CORIO_API size_t corio_transport_get_write_buffer_size(const corio_transport *t);

/* Set the water marks (0: the defaults, 64 KiB and a quarter of high).  0 or -EINVAL (low > high). */
CORIO_API int corio_transport_set_write_buffer_limits(corio_transport *t, size_t high, size_t low);

/* The peer's / own address as corio_sockaddr_format writes it.  Length or -errno. */
CORIO_API int corio_transport_peername(const corio_transport *t, char *buf, size_t cap);
CORIO_API int corio_transport_sockname(const corio_transport *t, char *buf, size_t cap);

/* The descriptor (borrowed), -1 once closed. */
CORIO_API int corio_transport_fd(const corio_transport *t);

/* ---- making connections --------------------------------------------------------- */

/*
 * A transport over a connected descriptor (asyncio connect_accepted_socket),
 * which it then owns; connection_made is called in the next loop iteration.
 * 0 and *out (may be NULL), or -EBADF, -EINVAL, -ENOMEM, -EPERM (no loop);
 * on failure fd stays the caller's.  Does not suspend.
 */
CORIO_API int corio_transport_open(int fd, const corio_protocol *proto, void *arg, corio_transport **out);

/*
 * asyncio create_connection: corio_tcp_connect, then a transport over the
 * socket (connection_made in the next iteration).  0 and *out (may be
 * NULL), or corio_tcp_connect's errors.  SUSPENDS (while connecting).
 */
CORIO_API int corio_create_connection(const char *host, int port, const corio_protocol *proto, void *arg,
                                      corio_transport **out);

/* corio_transport_open / corio_create_connection for a BufferedProtocol:
 * the same results and ownership (the transport is the library's, fd is
 * the caller's again only on failure; proto must outlive the transport),
 * -EINVAL when get_buffer or buffer_updated is NULL.
 * corio_transport_open_buffered does not suspend;
 * corio_create_connection_buffered SUSPENDS while connecting. */
CORIO_API int corio_transport_open_buffered(int fd, const corio_buffered_protocol *proto, void *arg,
                                            corio_transport **out);
CORIO_API int corio_create_connection_buffered(const char *host, int port, const corio_buffered_protocol *proto,
                                               void *arg, corio_transport **out);

/* ---- servers ---------------------------------------------------------------------- */

/* Settings; zero-initialise, zero means default. */
typedef struct corio_proto_server_opts {
    corio_listen_opts listen;
    size_t max_connections; /* 0: no cap; beyond it a new client is accepted and closed at once */
} corio_proto_server_opts;

/*
 * asyncio create_server: listen on host:port and, for every client, make
 * arg = factory(factory_arg) and a transport calling proto with it.  No
 * task is involved.  Accept failures for lack of descriptors (EMFILE, ...)
 * are reported to the loop's exception handler (once until an accept
 * succeeds again) and pause accepting for 100 ms instead of spinning.  0 and *out, or
 * corio_tcp_listen's errors, -EINVAL, -ENOMEM, -EPERM (no loop).  SUSPENDS
 * only while a name is looked up.
 */
CORIO_API int corio_create_server(const char *host, int port, const corio_protocol *proto,
                                  corio_protocol_factory factory, void *factory_arg,
                                  const corio_proto_server_opts *opts, corio_proto_server **out);

/* corio_create_server whose transports call a BufferedProtocol; the same
 * results and ownership (proto must outlive the server and its
 * transports), -EINVAL when get_buffer or buffer_updated is NULL.
 * SUSPENDS only while a name is looked up, as corio_create_server. */
CORIO_API int corio_create_server_buffered(const char *host, int port, const corio_buffered_protocol *proto,
                                           corio_protocol_factory factory, void *factory_arg,
                                           const corio_proto_server_opts *opts, corio_proto_server **out);

/* The listening port, or -errno. */
CORIO_API int corio_proto_server_port(const corio_proto_server *s);

/* Open transports. */
CORIO_API size_t corio_proto_server_connections(const corio_proto_server *s);

/*
 * Stop accepting and free the server.  Open transports go on (close them
 * yourself, or pass abort_connections nonzero to abort each: their
 * connection_lost follows).  Does not suspend.
 */
CORIO_API void corio_proto_server_close(corio_proto_server *s, int abort_connections);

/* ---- datagrams ---------------------------------------------------------------------- */

typedef struct corio_dgram_transport corio_dgram_transport; /* opaque */

/* The callbacks of a datagram protocol (asyncio.DatagramProtocol).  datagram_received is required. */
typedef struct corio_dgram_protocol {
    void (*connection_made)(corio_dgram_transport *t, void *arg);
    void (*datagram_received)(corio_dgram_transport *t, const void *data, size_t len, const struct sockaddr *from,
                              socklen_t fromlen, void *arg);
    /* A send or receive failed (e.g. -ECONNREFUSED from an ICMP error); the transport stays open. */
    void (*error_received)(corio_dgram_transport *t, int err, void *arg);
    /* After close: err 0.  The transport is freed when this returns. */
    void (*connection_lost)(corio_dgram_transport *t, int err, void *arg);
} corio_dgram_protocol;

/*
 * asyncio create_datagram_endpoint over a UDP (or AF_UNIX datagram) socket
 * the transport then owns (corio_udp_bind / corio_udp_connect make one).
 * 0 and *out, or -EBADF, -EINVAL, -ENOMEM, -EPERM.  Does not suspend.
 */
CORIO_API int corio_dgram_open(int fd, const corio_dgram_protocol *proto, void *arg, corio_dgram_transport **out);

/*
 * Send one datagram (to the connected peer when addr is NULL).  0, or the
 * error: a datagram is never queued, so a full socket buffer is -EAGAIN
 * (the datagram is dropped, as UDP would).  -ESHUTDOWN after close.
 */
CORIO_API int corio_dgram_sendto(corio_dgram_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                                 socklen_t addrlen);

/* Close; connection_lost(0) follows in a later iteration. */
CORIO_API void corio_dgram_close(corio_dgram_transport *t);

/* The descriptor (borrowed), -1 once closed. */
CORIO_API int corio_dgram_fd(const corio_dgram_transport *t);

#ifdef __cplusplus
}
#endif
#endif
