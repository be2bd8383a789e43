/*
 * corio/http_client.h - an HTTP/1.1 client (aiohttp's ClientSession in C),
 * part of the corio-http module.
 *
 *     corio_http_session *s = corio_http_session_new(NULL);     // pool, defaults as aiohttp
 *     corio_http_resp *resp;
 *     int rc = corio_http_session_request(s, "GET", "http://127.0.0.1:8080/delay/1", NULL, &resp);  // SUSPENDS
 *     if (rc < 0) fprintf(stderr, "%s: %s\n", corio_http_client_strerror(rc), corio_http_client_errmsg());
 *     char *body; size_t len;
 *     rc = corio_http_resp_read_all(resp, 1 << 20, &body, &len);   // SUSPENDS; then the connection is pooled
 *     printf("%d %s\n", corio_http_resp_status(resp), body);
 *     free(body);
 *     corio_http_resp_free(resp);
 *     corio_http_session_close(s);                               // SUSPENDS: idle connections closed
 *
 * The session.  A pool of connections keyed by scheme, host and port.  A
 * connection whose response was read to its end (and which the server
 * did not ask to close) goes back to the pool and is reused, most
 * recently used first; idle connections are closed after
 * keepalive_timeout.  At most `limit` connections are open in all and
 * `limit_per_host` per key: a request beyond the limit waits (in FIFO
 * order, cancellably) for a connection to come back or close.  Names are
 * resolved by corio's resolver and connected as corio_tcp_connect_opts
 * does, with happy eyeballs (250 ms, RFC 8305's value).  A request sent
 * on a reused connection that the server closed meanwhile (end of stream
 * or reset before any byte of the response) is sent again once on a new
 * connection when that is safe: an idempotent method (GET, HEAD, OPTIONS,
 * PUT, DELETE, TRACE) with a body that can be sent again (none, memory,
 * a file).  Otherwise the error is returned.
 *
 * The response.  corio_http_session_request returns once the final response's
 * head is in: status, reason, headers.  The body is then read in pieces
 * (corio_http_resp_read), whole with a limit (read_all) or discarded.
 * Bodies framed by Content-Length, chunked or by the end of the
 * connection are handled; 1xx interim responses are skipped; responses
 * to HEAD, 204 and 304 have no body.  Content-Encoding gzip and deflate
 * are decoded (zlib) unless the request asked for raw bytes.  Once the
 * body is read to its end, the connection goes back to the pool at once;
 * releasing a response whose body was not read to its end (or whose
 * reading failed or was cancelled) closes its connection instead, so a
 * connection is never reused in an unknown state.
 *
 * Redirects.  301, 302, 303, 307 and 308 with a Location are followed (up
 * to max_redirects, 10 by default, then CORIO_HTTP_EREDIRECTS): 303 turns
 * any method but HEAD into GET without a body; 301 and 302 turn POST into
 * GET (as browsers and aiohttp do); 307 and 308 keep the method and the
 * body (a body from a stream cannot be sent twice: then the 307/308 is
 * returned as the response).  Authorization (option, URL or header) is
 * dropped when the redirect leaves the original scheme, host and port.
 * The responses followed are kept as the history.
 *
 * Timeouts (aiohttp's ClientTimeout): total bounds the whole request,
 * body reading included; connect bounds getting a connection (waiting
 * for the pool included); sock_read bounds each wait for data.  Each ends
 * the request (or the read) with -ETIMEDOUT and closes the connection
 * involved; the pool stays clean.  Cancelling the calling task does the
 * same with -ECANCELED.
 *
 * Errors are negative: errno values (-ECONNREFUSED, -ECONNRESET,
 * -ETIMEDOUT, -ECANCELED, -ENOMEM, -EINVAL), corio's name-resolution
 * codes (CORIO_EAI_*), the parser's (CORIO_HTTP_EBADMSG for a malformed
 * response, CORIO_HTTP_ETOOBIG for a body or head over a limit, ...) and
 * the CORIO_HTTP_E* codes below.  corio_http_client_strerror() names
 * each; corio_http_client_errmsg() says what failed, in a sentence.
 *
 * Threads: a session belongs to the loop that first used it; responses
 * belong to their session's loop.
 *
 * This header is not included by corio.h; link with corio_http
 * (pkg-config corio-http).
 */
#ifndef CORIO_HTTP_CLIENT_H
#define CORIO_HTTP_CLIENT_H

#include <corio/types.h>
#include <corio/stream.h>
#include <corio/http_parser.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The client's own errors.  The TLS module's codes overlap the parser's
 * numerically, so TLS failures are reported with the two codes here
 * instead. */
enum {
    CORIO_HTTP_EREDIRECTS = -11400,   /* more redirects than max_redirects */
    CORIO_HTTP_EURL = -11401,         /* a URL (or Location) that is not http(s)://host[:port]/... */
    CORIO_HTTP_EDISCONNECTED = -11402, /* the server closed the connection before the response ended */
    CORIO_HTTP_EDECODE = -11403,      /* a gzip / deflate body that does not decode */
    CORIO_HTTP_ETLS = -11404,         /* TLS failed (handshake, alert, bad record) */
    CORIO_HTTP_ETLS_VERIFY = -11405,  /* the server's certificate failed verification */
    CORIO_HTTP_ENOTLS = -11406,       /* https:// in a build without the TLS module */
};

typedef struct corio_http_session corio_http_session; /* opaque */
typedef struct corio_http_resp corio_http_resp;       /* opaque */
typedef struct corio_tls_ctx corio_tls_ctx;           /* corio/tls.h */

/* A header field or query parameter given to a request: NUL-terminated strings. */
typedef struct corio_http_field {
    const char *name;
    const char *value;
} corio_http_field;

/* aiohttp's ClientTimeout, in seconds.  0 means the default; INFINITY none. */
typedef struct corio_http_timeouts {
    double total;     /* the whole request, body included; default 300 (aiohttp's) */
    double connect;   /* getting a connection, pool wait included; default none */
    double sock_read; /* each wait for response bytes; default none */
} corio_http_timeouts;

/* Session settings; zero-initialise, zero means default. */
typedef struct corio_http_session_opts {
    size_t limit;            /* connections open in all; default 100 (aiohttp's) */
    size_t limit_per_host;   /* per scheme/host/port; default 0 = no limit of its own */
    double keepalive_timeout; /* idle connections are closed after this; default 15 s (aiohttp's) */
    corio_http_timeouts timeout; /* the default of every request */
    int max_redirects;       /* default 10; < 0: none (the first redirect gives CORIO_HTTP_EREDIRECTS) */
    const char *user_agent;  /* default "corio-http/0.1" */
    const corio_http_field *headers; /* sent with every request (copied), unless the request
                                        gives a field of the same name (aiohttp's headers=) */
    size_t num_headers;
    /* HTTPS.  tls: a client context of the caller (borrowed: it must
     * outlive the session); NULL: the session makes one when first needed,
     * verifying against the system store, or against cafile when set.
     * insecure != 0 turns verification off (that context only). */
    corio_tls_ctx *tls;
    const char *cafile;
    int insecure;
} corio_http_session_opts;

/* Per-request settings; zero-initialise (or pass NULL) for the defaults. */
typedef struct corio_http_request_opts {
    const corio_http_field *headers; /* sent in order, repeated names kept; names case-insensitive.
                                        Host, User-Agent, Accept, Accept-Encoding, Authorization
                                        given here replace the client's own; Content-Length and
                                        Transfer-Encoding are the client's (-EINVAL) */
    size_t num_headers;
    const corio_http_field *params;  /* query parameters, percent-encoded and appended to the URL */
    size_t num_params;
    /* The body: at most one of these (else -EINVAL). */
    const void *body;                /* from memory (borrowed until the request returns) */
    size_t body_len;
    corio_reader *body_stream;       /* read to its end (borrowed): chunked, or Content-Length
                                        when body_stream_len > 0.  Not sent twice */
    int64_t body_stream_len;         /* > 0: exactly this many bytes (the stream ending sooner
                                        fails the request); 0 or -1: unknown, sent chunked */
    const char *body_file;           /* a file's contents, with Content-Length */
    int expect_continue;             /* send "Expect: 100-continue" and wait up to 1 s for the 100 */
    const char *auth_user;           /* Basic auth (replaces user:pass of the URL) */
    const char *auth_pass;
    int max_redirects;               /* 0: the session's; > 0: up to this many; < 0: none allowed
                                        (a redirect gives CORIO_HTTP_EREDIRECTS, as aiohttp's 0) */
    int no_redirects;                /* nonzero: do not follow; a 3xx is the response */
    int raw;                         /* nonzero: no Accept-Encoding, body bytes as sent */
    corio_http_timeouts timeout;     /* 0 fields: the session's */
} corio_http_request_opts;

/* ---- sessions ------------------------------------------------------------------ */

/*
 * A new session with its own (empty) pool.  opts may be NULL; its strings
 * and headers are copied.  Returns the session (the caller owns it:
 * corio_http_session_close) or NULL with errno ENOMEM, or EINVAL (a
 * header that is not a valid field, a control character in user_agent).
 * Does not suspend.
 */
CORIO_API corio_http_session *corio_http_session_new(const corio_http_session_opts *opts);

/*
 * Close the session: idle connections are closed (and waited for),
 * requests waiting for a connection fail with -ESHUTDOWN, new requests
 * are refused with -ESHUTDOWN.  Responses still held stay readable; the
 * session's memory is released with the last of them.  Returns 0 (also
 * for NULL) or -ECANCELED (the connections are then aborted).  SUSPENDS.
 */
CORIO_API int corio_http_session_close(corio_http_session *s);

/* Connections open now (idle and in use), and idle ones. */
CORIO_API size_t corio_http_session_connections(const corio_http_session *s);
CORIO_API size_t corio_http_session_idle(const corio_http_session *s);
/* Connections opened since the session began (reuse shows as few opens). */
CORIO_API unsigned long corio_http_session_opened(const corio_http_session *s);

/* ---- requests ------------------------------------------------------------------ */

/*
 * Send `method` (any token: GET, HEAD, POST, PUT, PATCH, DELETE, ...) to
 * `url` ("http://" or "https://", optional user:pass@, host name, IPv4 or
 * [IPv6], port, path and query; the fragment is dropped; spaces and other
 * bytes not allowed in a URL are percent-encoded), follow redirects, and
 * return once the final response's head has arrived.  *out receives the
 * response, which the caller owns and releases with corio_http_resp_free.
 * Returns 0, or a negative code (see the top of this header; nothing is
 * left for the caller to free then, and corio_http_client_errmsg() says
 * what failed).  A final status of 400 or more is not an error.  SUSPENDS.
 */
CORIO_API int corio_http_session_request(corio_http_session *s, const char *method, const char *url,
                                 const corio_http_request_opts *opts, corio_http_resp **out);

/* ---- responses ----------------------------------------------------------------- */

/* The status code (200) and reason phrase (NUL-terminated, may be ""). */
CORIO_API int corio_http_resp_status(const corio_http_resp *r);
CORIO_API const char *corio_http_resp_reason(const corio_http_resp *r);
/* 0 or 1: the minor HTTP version of the response. */
CORIO_API int corio_http_resp_version(const corio_http_resp *r);
/* The URL of the final response (after redirects), NUL-terminated. */
CORIO_API const char *corio_http_resp_url(const corio_http_resp *r);

/*
 * The first header field named `name` (case-insensitive): its value (not
 * NUL-terminated) and its length in *len (may be NULL), or NULL.  Views
 * into the response: valid until corio_http_resp_free.
 */
CORIO_API const char *corio_http_resp_header(const corio_http_resp *r, const char *name, size_t *len);
/* Every header field, in order, repeated names kept (views as above). */
CORIO_API const corio_http_header *corio_http_resp_headers(const corio_http_resp *r, size_t *n);
/* The header block as received (status line to the empty line). */
CORIO_API const char *corio_http_resp_head(const corio_http_resp *r, size_t *len);
/* The Content-Length the server announced, or -1 (none, chunked, or a decoded body). */
CORIO_API int64_t corio_http_resp_content_length(const corio_http_resp *r);

/*
 * Read up to n bytes of the body (decoded when gzip/deflate).  Returns
 * the count (> 0), 0 at the end of the body (the connection is then back
 * in the pool), or an error: CORIO_HTTP_EDISCONNECTED (the connection
 * ended early: a Content-Length or chunked body cut short),
 * CORIO_HTTP_EBADMSG (bad chunked framing), CORIO_HTTP_EDECODE,
 * -ETIMEDOUT, -ECANCELED, -ECONNRESET...  After an error the connection
 * is closed and every later read returns the same error.  SUSPENDS when
 * nothing is buffered.
 */
CORIO_API ssize_t corio_http_resp_read(corio_http_resp *r, void *buf, size_t n);

/*
 * Read the rest of the body into a malloc'd buffer (*out, NUL-terminated,
 * the NUL not counted in *len; the caller frees it).  More than max bytes
 * (after decoding) gives CORIO_HTTP_ETOOBIG and closes the connection.
 * 0 or an error as corio_http_resp_read (*out NULL then).  SUSPENDS.
 */
CORIO_API int corio_http_resp_read_all(corio_http_resp *r, size_t max, char **out, size_t *len);

/* Read the rest of the body and drop it, so the connection can be
 * reused.  0 or an error as corio_http_resp_read.  SUSPENDS. */
CORIO_API int corio_http_resp_discard(corio_http_resp *r);

/* Redirects followed before this response: how many, and the i-th
 * (oldest first): its status, and its URL (returned).  NULL when i is out
 * of range. */
CORIO_API size_t corio_http_resp_history_len(const corio_http_resp *r);
CORIO_API const char *corio_http_resp_history(const corio_http_resp *r, size_t i, int *status);

/*
 * Release the response: a connection whose body was read to its end is
 * already back in the pool; any other is closed.  NULL is ignored.  Does
 * not suspend.
 */
CORIO_API void corio_http_resp_free(corio_http_resp *r);

/* ---- errors -------------------------------------------------------------------- */

/* A short name for err: the client's and the parser's codes, TLS, DNS
 * ("DNS: name not found"), else corio_strerror(err).  Static string. */
CORIO_API const char *corio_http_client_strerror(int err);

/* What the latest failing call of this thread was doing, as a sentence
 * ("connect to 127.0.0.1:1: connection refused"); "" when none.  Valid
 * until the next failure on this thread. */
CORIO_API const char *corio_http_client_errmsg(void);

#ifdef __cplusplus
}
#endif
#endif
