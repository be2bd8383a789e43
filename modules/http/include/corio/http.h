/*
 * corio/http.h - an HTTP/1.1 server over corio streams, in the spirit of
 * aiohttp.web: a router of (method, path pattern) to handlers, a request
 * view and a response writer per exchange.
 *
 *     static int hello(corio_http_exchange *x, void *arg) {
 *         return corio_http_respond(x, 200, "text/plain", "Hello, World!", 13);
 *     }
 *     ...
 *     corio_http_router *rt = corio_http_router_new();
 *     corio_http_route(rt, "GET", "/", hello, NULL);
 *     corio_http_route(rt, "GET", "/delay/{s}", delay, NULL);
 *     corio_http_server_opts o = {.router = rt};
 *     corio_http_server *srv;
 *     corio_http_serve("127.0.0.1", 8080, &o, &srv);   // from a task
 *     ...
 *     corio_http_server_shutdown(srv, 5.0);              // graceful
 *     corio_http_server_free(srv);
 *     corio_http_router_free(rt);
 *
 * Connections.  Each connection is a task of its own.  It reads request
 * heads into a buffer of its own (limit: header_limit, 16 KiB), parses
 * them in place with the strict parser of corio/http_parser.h, calls the
 * handler, and writes responses.  Requests pipelined in one read are
 * answered in order and their responses leave in one send: responses are
 * collected and flushed when the connection would wait for input, when a
 * handler suspends, or when 64 KiB are pending.  Keep-alive is the
 * default in HTTP/1.1; HTTP/1.0 closes unless it asked for keep-alive;
 * "Connection: close" from either side closes after the response.
 *
 * The server touches a connection only through corio_reader_* and
 * corio_writer_*, so it serves any stream pair: the wrap hook in the
 * options turns each accepted plain stream into another (TLS:
 * corio_start_tls), and corio_http_serve_stream() serves a pair the
 * caller opened.
 *
 * Threads.  A server lives on one loop.  corio_http_cluster_start() runs
 * N threads, each with its own loop and its own SO_REUSEPORT listener on
 * the same port (the kernel spreads connections), sharing no state.  Data
 * the handlers share must then be read-only once the cluster runs (set it
 * up before, pass it as the handler's arg) or guarded by the caller.
 *
 * Errors are negative errno values; "SUSPENDS" marks calls that may
 * suspend the calling task.
 */
#ifndef CORIO_HTTP_H
#define CORIO_HTTP_H

#include <corio/http_parser.h>
#include <corio/stream.h>
#include <corio/types.h>

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_http_exchange corio_http_exchange; /* one request and its response */
typedef struct corio_http_router corio_http_router;
typedef struct corio_http_server corio_http_server;
typedef struct corio_http_cluster corio_http_cluster;

/*
 * A request handler: runs in the connection's task (it may suspend: sleep,
 * read the body, write a long response).  It answers through x; if it
 * returns without having started a response, the server answers 500 (or,
 * when it returned a negative code and nothing was sent, 500 as well).  A
 * response started and left unfinished is finished by the server (a
 * chunked one ends; one short of its Content-Length closes the
 * connection).  x is valid only during the call.
 */
typedef int (*corio_http_handler)(corio_http_exchange *x, void *arg);

/*
 * Turn an accepted plain stream into the one to speak HTTP over (e.g. a
 * TLS handshake with corio_start_tls).  Returns 0 with *or / *ow, which
 * the server then closes and releases with corio_stream_close(); they
 * must own r and w (corio_start_tls without `borrow` does), since the
 * server releases only them.  Or a negative errno: the server closes r
 * and w.  SUSPENDS as the wrapper does.
 */
typedef int (*corio_http_wrap_fn)(corio_reader *r, corio_writer *w, void *arg, corio_reader **or_,
                                  corio_writer **ow);

/* Server settings.  Zero-initialise; zero means the default in brackets. */
typedef struct corio_http_server_opts {
    corio_http_router *router;  /* routes; or: */
    corio_http_handler handler; /* one handler for every request (when router is NULL) */
    void *handler_arg;
    const char *server_name;    /* the Server field ["corio"]; "" sends none */
    size_t header_limit;        /* request line + fields [16 KiB]: beyond, 431 */
    size_t max_headers;         /* number of fields [100]: beyond, 431 */
    uint64_t max_body;          /* request body [1 MiB]: beyond, 413 */
    double header_timeout;      /* a request head must arrive within this [10 s] once begun */
    double keepalive_timeout;   /* idle time between requests [75 s] */
    double io_timeout;          /* a body read or a write that waits longer fails [60 s] */
    size_t max_connections;     /* beyond, new clients wait in the listen backlog [0: no cap] */
    int backlog;                /* listen(2) backlog [1024] */
    int reuseport;              /* SO_REUSEPORT on the listener (set by the cluster) */
    int listen_fd;              /* > 0: serve this listening socket instead of host:port;
                                   the server then owns it (closes it at shutdown) */
    corio_http_wrap_fn wrap;    /* per accepted connection (TLS); NULL: plain */
    void *wrap_arg;
    size_t stack_size;          /* each connection task's stack [the loop's default] */
} corio_http_server_opts;

/* ---- router ------------------------------------------------------------------ */

/* A new, empty router; NULL on ENOMEM.  Does not suspend. */
CORIO_API corio_http_router *corio_http_router_new(void);

/*
 * Add a route: method ("GET", "POST", ..., or "*" for any) and a path
 * pattern of '/'-separated segments, each literal or "{name}", which
 * matches one non-empty segment (aiohttp.web's variable resource).
 * Matching is on the raw path (not percent-decoded), the query ignored.
 * A GET route also answers HEAD (without the body).  The first route
 * added wins.  No match: 404; a path matched with another method: 405
 * with Allow.  Returns 0, -EINVAL (bad pattern), -ENOMEM.  The strings
 * are copied.  Does not suspend.
 */
CORIO_API int corio_http_route(corio_http_router *rt, const char *method, const char *pattern,
                               corio_http_handler fn, void *arg);

/* Free a router (not while a server uses it).  NULL is ignored. */
CORIO_API void corio_http_router_free(corio_http_router *rt);

/* ---- server ------------------------------------------------------------------ */

/*
 * Listen on host:port (port 0: any free port, see corio_http_server_port)
 * and serve, each connection in a task of its own, until shutdown.
 * Returns 0 with *out, or a negative errno (-EADDRINUSE, -EINVAL: no
 * router and no handler, ...).  Must be called from a task; SUSPENDS only
 * while host is resolved.
 */
CORIO_API int corio_http_serve(const char *host, int port, const corio_http_server_opts *opts,
                               corio_http_server **out);

/* The listening port, or -errno. */
CORIO_API int corio_http_server_port(const corio_http_server *s);

/* Connections open now. */
CORIO_API size_t corio_http_server_connections(const corio_http_server *s);

/* Requests answered so far. */
CORIO_API uint64_t corio_http_server_requests(const corio_http_server *s);

/*
 * Serve HTTP on a stream pair the caller opened (a TLS stream, a
 * socketpair, a stdin/stdout pair), in the calling task, until the
 * connection ends; the caller keeps r and w and closes them afterwards.
 * The connection counts as the server's, so shutdown closes it when idle.
 * Returns 0 or a negative errno (the connection's error, -ECANCELED).
 * SUSPENDS.
 */
CORIO_API int corio_http_serve_stream(corio_http_server *s, corio_reader *r, corio_writer *w);

/*
 * Graceful shutdown: stop accepting (close the listener), close idle
 * keep-alive connections, let requests in flight finish for up to `grace`
 * seconds (their responses carry "Connection: close"), then cancel what is
 * left, and return when every connection is closed.  0 or -ECANCELED.
 * SUSPENDS.
 */
CORIO_API int corio_http_server_shutdown(corio_http_server *s, double grace);

/*
 * Wait until the server is shut down (by another task or a signal
 * handler calling shutdown).  0 or -ECANCELED.  SUSPENDS.
 */
CORIO_API int corio_http_server_wait(corio_http_server *s);

/* Release a server after shutdown: 0, or -EBUSY while it runs.  NULL: 0. */
CORIO_API int corio_http_server_free(corio_http_server *s);

/* ---- the request ---------------------------------------------------------------- */

/* The parsed head (method, target, path, query, version, fields): views
 * valid during the handler call. */
CORIO_API const corio_http_request *corio_http_req(const corio_http_exchange *x);

/* The first value of field `name` (case-insensitive); *len its length.
 * NULL when absent.  Views valid during the handler. */
CORIO_API const char *corio_http_get_header(const corio_http_exchange *x, const char *name, size_t *len);

/* The segment matched by "{name}" in the route, or NULL; *len its length. */
CORIO_API const char *corio_http_param(const corio_http_exchange *x, const char *name, size_t *len);

/* The peer's address (as corio_writer_peername), or -errno. */
CORIO_API int corio_http_peername(const corio_http_exchange *x, char *buf, size_t cap);

/*
 * Read up to n bytes of the request body (Content-Length or chunked,
 * decoded).  Sends "100 Continue" first if the client expects it.
 * Returns the count, 0 at the end of the body, CORIO_HTTP_ETOOBIG beyond
 * the server's max_body, CORIO_HTTP_EBADMSG for a malformed chunked body,
 * -ETIMEDOUT (io_timeout), or the connection's error.  SUSPENDS.
 */
CORIO_API ssize_t corio_http_body_read(corio_http_exchange *x, void *buf, size_t n);

/*
 * The whole body in a malloc'd buffer (*out, NUL-terminated, the caller
 * frees it; *len its length), refusing more than `limit` bytes (0: the
 * server's max_body) with CORIO_HTTP_ETOOBIG.  As corio_http_body_read
 * otherwise.  SUSPENDS.
 */
CORIO_API int corio_http_body_read_all(corio_http_exchange *x, size_t limit, char **out, size_t *len);

/* Read and drop the rest of the body.  0 or as corio_http_body_read.  SUSPENDS. */
CORIO_API int corio_http_body_discard(corio_http_exchange *x);

/* ---- the response --------------------------------------------------------------- */

/*
 * Add a response field before the response starts.  Content-Length,
 * Transfer-Encoding, Date, Server and Connection are the server's: adding
 * them is refused (-EINVAL), as is any CR, LF or NUL in name or value
 * (response splitting).  Returns 0, -EINVAL, -EALREADY (already started),
 * -ENOMEM.  Does not suspend.
 */
CORIO_API int corio_http_add_header(corio_http_exchange *x, const char *name, const char *value);

/* Make this the last response on the connection ("Connection: close"). */
CORIO_API void corio_http_close_after(corio_http_exchange *x);

/*
 * Start the response: status line and fields.  length >= 0: a body of
 * exactly that many bytes (Content-Length); CORIO_HTTP_CHUNKED: chunked
 * (HTTP/1.1) or delimited by closing the connection (HTTP/1.0).  For HEAD,
 * 1xx, 204 and 304 no body is sent whatever is written.  Returns 0,
 * -EALREADY, -EINVAL (status outside 100..999).  Does not suspend.
 */
#define CORIO_HTTP_CHUNKED (-1)
CORIO_API int corio_http_start(corio_http_exchange *x, int status, int64_t length);

/*
 * Body bytes (after corio_http_start).  Returns 0, -EMSGSIZE past the
 * declared length, -ETIMEDOUT when the client does not read for
 * io_timeout, the connection's error.  SUSPENDS while the client is
 * slower than the writer (the stream's water marks).
 */
CORIO_API int corio_http_write(corio_http_exchange *x, const void *buf, size_t len);

/*
 * len bytes of file fd from offset off as body.  With a declared length
 * they go through the stream's sendfile (corio_writer_sendfile): on a
 * plain socket the kernel copies them with sendfile(2), over TLS or
 * another transport the file is read in pieces and written; chunked, they
 * are read in 64 KiB pieces and written as chunks.  The file is read
 * without blocking the loop (corio_file_pread).  -EIO when the file is
 * shorter than len.  As corio_http_write otherwise.  SUSPENDS.
 */
CORIO_API int corio_http_write_file(corio_http_exchange *x, int fd, off_t off, size_t len);

/* End the response (the last chunk when chunked).  0, -EPIPE when a
 * declared length was not reached (the connection will close), or the
 * connection's error.  Does not suspend. */
CORIO_API int corio_http_finish(corio_http_exchange *x);

/*
 * The whole response at once: status, Content-Type (NULL: none), the body.
 * Returns 0 or as corio_http_write.  SUSPENDS only for a body larger than
 * the stream's high water mark.
 */
CORIO_API int corio_http_respond(corio_http_exchange *x, int status, const char *content_type, const void *body,
                                 size_t len);

/* 1 once the response has started. */
CORIO_API int corio_http_started(const corio_http_exchange *x);

/* ---- several cores ------------------------------------------------------------ */

/*
 * Start n threads (n >= 1), each running its own loop with a server on
 * host:port over its own SO_REUSEPORT listener (port 0: the first gets a
 * free port, the others join it).  opts as corio_http_serve (its router
 * and handler args shared read-only by all threads).  setup, if not NULL,
 * runs first in each thread's main task with the thread's index (e.g. to
 * build per-thread state); a negative return fails the start.  Returns 0
 * with *out once every thread listens, or a negative errno (threads already
 * started are stopped).  Does not need a loop; blocks the caller until the
 * threads listen.
 */
CORIO_API int corio_http_cluster_start(int n, const char *host, int port, const corio_http_server_opts *opts,
                                       int (*setup)(int index, void *arg), void *setup_arg,
                                       corio_http_cluster **out);

/* The shared port. */
CORIO_API int corio_http_cluster_port(const corio_http_cluster *c);

/*
 * Shut every thread's server down gracefully (grace seconds each), join
 * the threads and free the cluster.  Returns 0.  Blocks the calling thread;
 * may be called from any thread but not from a cluster thread.
 */
CORIO_API int corio_http_cluster_stop(corio_http_cluster *c, double grace);

#ifdef __cplusplus
}
#endif
#endif
