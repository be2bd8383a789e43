/*
 * corio/http_parser.h - a strict HTTP/1.1 message parser (RFC 9112) in the
 * picohttpparser style: stateless over the header block, zero-copy, no
 * allocation.  It does not depend on the loop: it is plain C over bytes,
 * used by corio-http's server and client, and usable alone.
 *
 *     corio_http_header hdrs[64];
 *     corio_http_request req;
 *     int n = corio_http_parse_request(buf, len, &req, hdrs, 64);
 *     if (n == CORIO_HTTP_EPARTIAL) { read more, call again on the whole buffer }
 *     else if (n < 0)  { reject: corio_http_error_status(n) is the status to answer }
 *     else { the header block is buf[0..n); the body follows, framed by req.body }
 *
 * Header block.  The caller reads until it has a whole header block (or a
 * limit, e.g. 16 KiB, then answers 431) and calls the parse function on
 * everything received so far.  It returns the block's length when the
 * block is complete, CORIO_HTTP_EPARTIAL when more bytes are needed (call
 * again with the same buffer grown), or an error as soon as the bytes
 * seen already make the message invalid: a malformed request is rejected
 * without waiting for its end.  Every pointer stored (method, target,
 * header names and values, reason phrase) points into the caller's buffer
 * and is valid as long as the buffer is; nothing is NUL-terminated.
 *
 * Strictness (RFC 9112; each of these is an error, never repaired):
 *   - a bare CR or a bare LF where CRLF is required, and CR or LF
 *     anywhere else; NUL and other control characters (HTAB only inside a
 *     field value's whitespace) anywhere in the header block;
 *   - obs-fold (a line starting with SP or HTAB);
 *   - whitespace between a field name and its colon, an empty field name,
 *     a character outside tchar in a method or field name;
 *   - a request line or status line that is not exactly
 *     "METHOD SP target SP HTTP/1.d" / "HTTP/1.d SP 3DIGIT SP reason";
 *     an HTTP version other than 1.x gives CORIO_HTTP_EVERSION;
 *   - Content-Length together with Transfer-Encoding; Content-Length that
 *     is not 1*DIGIT, overflows, or differs between copies (identical
 *     copies, also as a list "5, 5", are one value, as RFC 9110 8.6 allows);
 *   - a Transfer-Encoding whose last coding is not chunked (a request), a
 *     coding other than chunked anywhere (CORIO_HTTP_ECODING: we decode no
 *     other transfer coding), chunked twice, or Transfer-Encoding in an
 *     HTTP/1.0 message;
 *   - in a request: no Host, or more than one Host, in HTTP/1.1;
 *   - chunk sizes that are not 1*HEXDIG or overflow 2^60, malformed chunk
 *     extensions, a chunk's data not followed by CRLF, malformed trailer
 *     fields (the same rules as header fields).
 * One or more empty lines (CRLF) before a request line are skipped, as
 * RFC 9112 2.2 allows.
 *
 * Body framing.  A parsed message carries its framing: no body, a length,
 * chunked, or (responses only) until the connection closes.  For a
 * response the framing depends on the request too (HEAD, CONNECT) and on
 * the status (1xx, 204, 304): corio_http_response_framing() applies those
 * rules.  A chunked body is decoded with corio_http_chunked_feed(), a
 * state machine that takes the bytes in any pieces.
 *
 * Errors are the negative values of enum corio_http_error; none of these
 * functions allocates, blocks or suspends.
 */
#ifndef CORIO_HTTP_PARSER_H
#define CORIO_HTTP_PARSER_H

#include <corio/types.h> /* CORIO_API only: the parser needs no loop */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Outcomes other than success.  Each maps to a status a server answers
 * with (corio_http_error_status). */
enum corio_http_error {
    CORIO_HTTP_EPARTIAL = -11500, /* not an error: the message is incomplete, read more */
    CORIO_HTTP_EBADMSG = -11501,  /* malformed: 400 and close */
    CORIO_HTTP_ETOOMANY = -11502, /* more header fields than the caller's array: 431 */
    CORIO_HTTP_EVERSION = -11503, /* not HTTP/1.x: 505 */
    CORIO_HTTP_ECODING = -11504,  /* a transfer coding we do not decode: 501 */
    CORIO_HTTP_ETOOBIG = -11505,  /* a length beyond what the caller allows: 413 (set by callers) */
};

/* One header (or trailer) field: views into the parsed buffer.  value has
 * leading and trailing whitespace removed. */
typedef struct corio_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} corio_http_header;

/* How the body of a message is delimited. */
typedef enum corio_http_body_kind {
    CORIO_HTTP_BODY_NONE = 0,    /* no body (length 0) */
    CORIO_HTTP_BODY_LENGTH = 1,  /* exactly content_length bytes (may be 0) */
    CORIO_HTTP_BODY_CHUNKED = 2, /* chunked transfer coding: use corio_http_chunked_feed */
    CORIO_HTTP_BODY_UNTIL_CLOSE = 3, /* responses only: everything up to end of stream */
} corio_http_body_kind;

/* Connection-level facts found among the fields (flags). */
enum {
    CORIO_HTTP_CONN_CLOSE = 1,      /* Connection: close */
    CORIO_HTTP_CONN_KEEP_ALIVE = 2, /* Connection: keep-alive */
    CORIO_HTTP_CONN_UPGRADE = 4,    /* Connection: upgrade (and an Upgrade field) */
    CORIO_HTTP_EXPECT_CONTINUE = 8, /* Expect: 100-continue (requests) */
    CORIO_HTTP_HAS_CONTENT_LENGTH = 16,
    CORIO_HTTP_HAS_TRANSFER_ENCODING = 32,
};

/* What the header block says about the body (filled by both parsers). */
typedef struct corio_http_framing {
    corio_http_body_kind kind; /* for a response: before the HEAD/1xx/204/304 rules, see below */
    uint64_t content_length;   /* the value when CORIO_HTTP_HAS_CONTENT_LENGTH, else 0 */
    unsigned flags;            /* CORIO_HTTP_CONN_* / CORIO_HTTP_EXPECT_CONTINUE / HAS_* */
    int keep_alive;            /* 1 when the connection persists after this message:
                                  HTTP/1.1 without "close", HTTP/1.0 with "keep-alive" */
} corio_http_framing;

/* A parsed request head.  Views into the buffer. */
typedef struct corio_http_request {
    const char *method;
    size_t method_len;
    const char *target; /* request-target as sent: origin form "/path?query", "*", absolute... */
    size_t target_len;
    const char *path; /* target up to '?' (not decoded) */
    size_t path_len;
    const char *query; /* after '?', without it; NULL when there is no '?' */
    size_t query_len;
    int minor_version; /* 0 or 1 */
    corio_http_header *headers; /* the caller's array given to the parser */
    size_t num_headers;
    corio_http_framing body;
    const char *error; /* on an error: a short constant phrase saying what was wrong */
} corio_http_request;

/* A parsed response head.  Views into the buffer. */
typedef struct corio_http_response {
    int minor_version;
    int status; /* 100..999 */
    const char *reason;
    size_t reason_len;
    corio_http_header *headers;
    size_t num_headers;
    corio_http_framing body; /* kind as the fields say; apply corio_http_response_framing */
    const char *error;
} corio_http_response;

/*
 * Parse a request head from buf[0..len).  headers is the caller's array of
 * max_headers entries, which req->headers then refers to.  Returns the
 * length of the header block (request line through the empty line, plus
 * any empty lines skipped before the request line), CORIO_HTTP_EPARTIAL,
 * or an error (CORIO_HTTP_EBADMSG, ETOOMANY, EVERSION, ECODING) with
 * req->error saying why.  On success req->body holds the framing: NONE,
 * LENGTH or CHUNKED (a request without Content-Length or chunked has no
 * body).  Does not allocate or suspend.
 */
CORIO_API int corio_http_parse_request(const char *buf, size_t len, corio_http_request *req,
                                       corio_http_header *headers, size_t max_headers);

/*
 * Parse a response head (status line, fields, empty line).  As
 * corio_http_parse_request.  resp->body.kind is LENGTH, CHUNKED or, with
 * neither field, UNTIL_CLOSE; then call corio_http_response_framing() to
 * apply the rules that depend on the request and the status.
 */
CORIO_API int corio_http_parse_response(const char *buf, size_t len, corio_http_response *resp,
                                        corio_http_header *headers, size_t max_headers);

/*
 * The body kind of a response per RFC 9112 6.3, given the request's
 * method: NONE for a response to HEAD, for 1xx, 204 and 304, and for a
 * 2xx to CONNECT; otherwise resp->body.kind.  A 1xx response (other than
 * 101) is interim: the client reads another response after it.
 */
CORIO_API corio_http_body_kind corio_http_response_framing(const corio_http_response *resp,
                                                           const char *method, size_t method_len);

/* 1 if a response with this status has no body whatever its fields
 * say (1xx, 204, 304). */
CORIO_API int corio_http_status_bodiless(int status);

/*
 * Decoder of the chunked transfer coding.  Zero-initialise (or call
 * corio_http_chunked_init) before the first byte of the body.
 */
typedef struct corio_http_chunked {
    uint64_t remaining;   /* data bytes left in the current chunk */
    unsigned state;       /* private */
    unsigned line_len;    /* private: bytes of the current size or trailer line */
    unsigned trailer_len; /* private: bytes of trailer section so far */
    unsigned ndigits;     /* private */
} corio_http_chunked;

/* Longest chunk-size line (size and extensions) and trailer section
 * accepted: beyond them the body is rejected (EBADMSG). */
#define CORIO_HTTP_CHUNK_LINE_MAX 4096
#define CORIO_HTTP_TRAILER_MAX (16 * 1024)

CORIO_API void corio_http_chunked_init(corio_http_chunked *d);

/*
 * Feed body bytes buf[0..len) to the decoder.  It consumes framing and
 * stops after at most one span of chunk data: *consumed is how many bytes
 * of buf it used, and *data / *data_len (*data_len may be 0) is the data
 * found among them (a view into buf).  Returns 1 when the body ended
 * (last chunk and trailer section consumed; *consumed stops right after
 * it, so what follows is the next message), 0 when it wants more (call
 * again with the rest of buf, or with new bytes once buf is used up), or
 * CORIO_HTTP_EBADMSG (d->state then stays in error).  Trailer fields are
 * checked and skipped.  Never allocates.
 */
CORIO_API int corio_http_chunked_feed(corio_http_chunked *d, const char *buf, size_t len, size_t *consumed,
                                      const char **data, size_t *data_len);

/* The status a server answers an error with: EBADMSG 400, ETOOMANY 431,
 * EVERSION 505, ECODING 501, ETOOBIG 413; 500 for anything else. */
CORIO_API int corio_http_error_status(int err);

/* A constant string naming the error (or "ok" for >= 0). */
CORIO_API const char *corio_http_strerror(int err);

/* The standard reason phrase of a status ("Not Found"), "" if unknown. */
CORIO_API const char *corio_http_reason(int status);

/* Case-insensitive ASCII comparison of a field name (or token) with a
 * NUL-terminated lower-case name: 1 if equal. */
CORIO_API int corio_http_name_eq(const char *name, size_t len, const char *lower);

/* The first field named `lower` (case-insensitive), or NULL. */
CORIO_API const corio_http_header *corio_http_find_header(const corio_http_header *h, size_t n,
                                                          const char *lower);

#ifdef __cplusplus
}
#endif
#endif
