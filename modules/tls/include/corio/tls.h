/*
 * corio/tls.h - TLS streams over OpenSSL 3 (the corio-tls module): asyncio's
 * ssl= argument of open_connection / start_server, and start_tls.
 *
 *     corio_tls_ctx *ctx = corio_tls_ctx_new_client();   // system CAs, host name checked
 *     corio_reader *r; corio_writer *w;
 *     int rc = corio_open_tls_connection("example.org", 443, ctx, NULL, &r, &w);
 *     if (rc < 0) fprintf(stderr, "%s\n", corio_tls_last_error(NULL));
 *     corio_writer_write(w, "GET / HTTP/1.0\r\n\r\n", 18);
 *     rc = corio_reader_readline(r, &line, &len);         // SUSPENDS, as on a plain stream
 *     corio_stream_close(r, w);                            // close_notify, then close
 *     corio_tls_ctx_free(ctx);
 *
 * A TLS connection is read and written with the same corio_reader_* and
 * corio_writer_* calls as a plain one (readline, readuntil, readexactly,
 * limits, cancel-safety, drain, write_eof, close, wait_closed, at_eof):
 * the module is a transport (corio/transport.h) over a plain corio stream.
 * OpenSSL never touches the descriptor: it reads and writes through the
 * module's own BIO, and the bytes move through the plain stream's reader
 * and writer, so TLS behaves the same on the epoll and io_uring backends.
 * corio_reader_at_eof() on a TLS reader is 1 once the peer's close_notify
 * has been read and every byte before it consumed (or, with ragged EOFs
 * allowed, once the plain stream below has ended with no ciphertext
 * left); a close_notify still in the kernel's buffer is seen by the next
 * read.
 *
 * Errors: negative errno values as everywhere in corio, plus the
 * CORIO_ETLS* codes below; corio_tls_strerror() names every code, and
 * corio_tls_last_error() gives OpenSSL's reason as text
 * ("certificate verify failed: self-signed certificate",
 * "hostname mismatch", ...).
 *
 * Thread-safety: a context may be shared by loops on several threads once
 * it is configured (configure it before the first connection); a
 * connection belongs to the loop it was opened on.
 *
 * This header is not included by corio.h; link with corio_tls
 * (pkg-config corio-tls), which needs OpenSSL 3.
 */
#ifndef CORIO_TLS_H
#define CORIO_TLS_H

#include <corio/types.h>
#include <corio/stream.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (below the core's, which stop at -11100). */
enum {
    CORIO_ETLS = -11200,        /* a TLS protocol failure (alert, bad record, no shared cipher, ...) */
    CORIO_ETLS_VERIFY = -11201, /* the peer's certificate failed verification (incl. host name) */
    CORIO_ETLS_EOF = -11202,    /* the peer closed the connection without close_notify (truncation) */
};

/* Protocol versions for corio_tls_ctx_set_versions (the TLS wire values). */
enum { CORIO_TLS_V1_2 = 0x0303, CORIO_TLS_V1_3 = 0x0304 };

#define CORIO_TLS_HANDSHAKE_TIMEOUT 60.0 /* seconds, asyncio's ssl_handshake_timeout */
#define CORIO_TLS_SHUTDOWN_TIMEOUT 30.0  /* seconds, asyncio's ssl_shutdown_timeout */
#define CORIO_TLS_ERRLEN 200             /* room for an error text, NUL included */

typedef struct corio_tls_ctx corio_tls_ctx;   /* configuration (asyncio's SSLContext); opaque */
typedef struct corio_tls_conn corio_tls_conn; /* one TLS connection's state; opaque */

/* A message for err: the CORIO_ETLS* codes, else corio_strerror(err). */
CORIO_API const char *corio_tls_strerror(int err);

/* ---- contexts ----------------------------------------------------------------- */

/*
 * A context for clients: the peer's certificate is verified against the
 * system's CA store (unless corio_tls_ctx_load_verify_locations gives CAs
 * instead), the host name is checked against it, TLS 1.2 is the minimum,
 * and sessions are cached per server for resumption.  NULL with errno
 * ENOMEM (or EPROTO when OpenSSL cannot make one).  Does not suspend.
 */
CORIO_API corio_tls_ctx *corio_tls_ctx_new_client(void);

/*
 * A context for servers: TLS 1.2 minimum, no client certificate asked for,
 * session tickets and a session cache on.  Load a certificate chain and
 * key before use.  NULL with errno set as above.
 */
CORIO_API corio_tls_ctx *corio_tls_ctx_new_server(void);

/* Release the caller's reference; connections still open keep the context
 * alive until they are released.  NULL is ignored. */
CORIO_API void corio_tls_ctx_free(corio_tls_ctx *ctx);

/* 1 for a server context, 0 for a client one. */
CORIO_API int corio_tls_ctx_is_server(const corio_tls_ctx *ctx);

/*
 * Trust the CAs in cafile (PEM, may hold several) and/or the hashed
 * directory capath (either may be NULL, not both).  For a client this
 * replaces the system store (call corio_tls_ctx_load_default_verify to
 * have both); for a server it is what client certificates are checked
 * against.  0, -EINVAL, or CORIO_ETLS (unreadable file: see
 * corio_tls_last_error(NULL)).
 */
CORIO_API int corio_tls_ctx_load_verify_locations(corio_tls_ctx *ctx, const char *cafile, const char *capath);

/* Trust the system's CA store too (a client's default when nothing else is
 * loaded).  0 or CORIO_ETLS. */
CORIO_API int corio_tls_ctx_load_default_verify(corio_tls_ctx *ctx);

/*
 * The certificate chain (PEM: the leaf first, then intermediates) and its
 * private key (PEM; NULL: in certfile).  For a server, or a client that
 * presents a certificate.  0, -EINVAL, or CORIO_ETLS (unreadable, or the
 * key does not match the certificate).
 */
CORIO_API int corio_tls_ctx_load_cert_chain(corio_tls_ctx *ctx, const char *certfile, const char *keyfile);

/*
 * Turn certificate verification and the host name check OFF (a client
 * then accepts any certificate: anyone on the path can read and change
 * the traffic).  The only way to do so: named so that it shows in review.
 * 0 or -EINVAL.
 */
CORIO_API int corio_tls_ctx_disable_verification(corio_tls_ctx *ctx);

/*
 * Server: ask clients for a certificate, verified against the CAs of
 * corio_tls_ctx_load_verify_locations; required != 0 fails the handshake
 * of a client that sends none.  0 or -EINVAL (a client context).
 */
CORIO_API int corio_tls_ctx_request_client_cert(corio_tls_ctx *ctx, int required);

/* Lowest and highest protocol version (CORIO_TLS_V1_2 / _V1_3; 0 keeps the
 * default: 1.2 and the highest OpenSSL has).  0, -EINVAL. */
CORIO_API int corio_tls_ctx_set_versions(corio_tls_ctx *ctx, int min_version, int max_version);

/* OpenSSL cipher lists: TLS 1.2 ciphers and TLS 1.3 suites (either may be
 * NULL: unchanged).  0, -EINVAL, CORIO_ETLS (nothing usable in a list). */
CORIO_API int corio_tls_ctx_set_ciphers(corio_tls_ctx *ctx, const char *tls12, const char *tls13);

/*
 * ALPN protocols, most preferred first (e.g. {"h2", "http/1.1"}).  A
 * client offers them; a server picks the first of its own list that the
 * client offers (none in common: the handshake goes on without ALPN, as
 * Python's ssl).  n = 0 clears.  0, -EINVAL (a name empty or longer than
 * 255 bytes), -ENOMEM.  The negotiated one: corio_tls_alpn().
 */
CORIO_API int corio_tls_ctx_set_alpn(corio_tls_ctx *ctx, const char *const *protos, size_t n);

/*
 * Server: present certfile/keyfile to clients that ask for server name
 * `name` by SNI (exact match, case-insensitive; "*.example.org" matches
 * one label).  Others get the context's own certificate.  0, -EINVAL,
 * -ENOMEM, CORIO_ETLS (unreadable files).
 */
CORIO_API int corio_tls_ctx_add_sni_cert(corio_tls_ctx *ctx, const char *name, const char *certfile,
                                         const char *keyfile);

/*
 * Server: a function called during the handshake with the name the client
 * asked for (NULL when it sent none).  It returns the server context whose
 * certificate to present (borrowed: it must outlive the connection), or
 * NULL for the default (the SNI certificates above, then ctx's own).
 * Runs inside the handshake: it must not suspend.  0 or -EINVAL.
 */
typedef corio_tls_ctx *(*corio_tls_sni_fn)(const char *server_name, void *arg);
CORIO_API int corio_tls_ctx_set_sni_callback(corio_tls_ctx *ctx, corio_tls_sni_fn fn, void *arg);

/*
 * Session resumption.  Client: on (default) caches the last session per
 * server name and address and offers it on the next connection; off
 * forgets them.  Server: on (default) issues session tickets and keeps a
 * session cache; off does neither (every handshake is full).  0, -EINVAL.
 */
CORIO_API int corio_tls_ctx_set_session_cache(corio_tls_ctx *ctx, int on);

/*
 * Whether a close of the connection without close_notify reads as a plain
 * end of stream (ok != 0) or as the error CORIO_ETLS_EOF (0, the default).
 * The default is Python's ssl (OpenSSL 3 reports "unexpected eof") and
 * protects against truncation: a protocol that frames its own data (HTTP
 * with Content-Length) may accept ragged EOFs.  0, -EINVAL.
 */
CORIO_API int corio_tls_ctx_set_ragged_eof_ok(corio_tls_ctx *ctx, int ok);

/*
 * Handshake and shutdown timeouts in seconds (INFINITY: none; defaults
 * CORIO_TLS_HANDSHAKE_TIMEOUT and CORIO_TLS_SHUTDOWN_TIMEOUT).  The
 * shutdown timeout bounds corio_writer_wait_closed (and so
 * corio_stream_close): when close_notify and the data before it have not
 * left in time, the connection is aborted and -ETIMEDOUT returned.
 * 0, -EINVAL (negative or NaN).
 */
CORIO_API int corio_tls_ctx_set_timeouts(corio_tls_ctx *ctx, double handshake, double shutdown);

/* ---- connections ------------------------------------------------------------ */

/* Options of corio_start_tls; zero-initialise, zero means default. */
typedef struct corio_tls_start_opts {
    /* The TLS reader's limit and writer's water marks; a field left 0
     * keeps what r / w had. */
    corio_stream_opts stream;
    /* Plaintext already buffered in the plain reader when the handshake
     * starts: 0 (default) takes it as the first TLS bytes (nothing lost);
     * CORIO_TLS_DISCARD_BUFFERED drops it; CORIO_TLS_REJECT_BUFFERED fails
     * with -EPROTO.  STARTTLS servers and clients should drop or reject:
     * bytes that arrived before the upgrade are not protected by TLS and
     * must not be read as if they were (the CVE-2011-0411 injection). */
    int buffered;
    /* 0 (default): the upgrade is in place, see corio_start_tls.
     * Nonzero, with tr and tw given: the older form - *tr / *tw are new
     * handles over the TLS session that borrow r and w (closing them
     * closes r and w, releasing them does not free r and w, which stay
     * plain and the caller's; on a failed handshake r and w are left
     * mid-handshake, to close).  Kept for code written before the
     * in-place upgrade; new code should not set it. */
    int borrow;
} corio_tls_start_opts;

enum { CORIO_TLS_DISCARD_BUFFERED = 1, CORIO_TLS_REJECT_BUFFERED = 2 };

/*
 * Upgrade a plain connection in place (asyncio StreamWriter.start_tls): r
 * and w, the reader and writer of one stream, speak TLS from then on,
 * the handshake run as a client (a client context: server_hostname is
 * sent by SNI and checked against the certificate; NULL only with
 * verification disabled) or as a server (a server context;
 * server_hostname ignored).  The plain byte path moves under the TLS
 * connection (corio_stream_push_transport): bytes r held and had not
 * handed out are the first ciphertext read (unless opts->buffered says
 * otherwise), bytes w had queued are sent before the first flight.  tr /
 * tw may be NULL; when given they are set to r / w (callers written for
 * separate TLS handles keep working: they are the same handles; but see
 * opts->borrow).  Whoever
 * owned r and w still does, and closes them as before: the close sends
 * close_notify, then closes the connection.
 *
 * Returns 0; before anything changed (r and w still plain and usable):
 * -EINVAL, -EPROTO (REJECT_BUFFERED), -EBUSY (another task waits on r or
 * w, or w is closing or failed), -ENOMEM; after the upgrade, when the
 * handshake failed: -ETIMEDOUT (the handshake timeout), -ECANCELED,
 * CORIO_ETLS_VERIFY, CORIO_ETLS, -ECONNRESET / CORIO_ETLS_EOF (the peer
 * closed during the handshake) - then r and w report that error on every
 * call (as asyncio closes the transport) and corio_tls_last_error(w)
 * says why; close or release them as usual.  corio_tls_last_error(NULL)
 * says why in every case.  SUSPENDS until the handshake is done.
 */
CORIO_API int corio_start_tls(corio_reader *r, corio_writer *w, corio_tls_ctx *ctx, const char *server_hostname,
                              const corio_tls_start_opts *opts, corio_reader **tr, corio_writer **tw);

/*
 * asyncio.open_connection(host, port, ssl=ctx, server_hostname=...): a TCP
 * connection, then the client handshake.  server_hostname NULL: host.
 * Returns 0 with *r / *w, or an error as corio_open_connection or
 * corio_start_tls (nothing is left open).  SUSPENDS.
 */
CORIO_API int corio_open_tls_connection(const char *host, int port, corio_tls_ctx *ctx, const char *server_hostname,
                                        corio_reader **r, corio_writer **w);
CORIO_API int corio_open_tls_connection_opts(const char *host, int port, corio_tls_ctx *ctx,
                                             const char *server_hostname, const corio_connect_opts *copts,
                                             const corio_stream_opts *sopts, corio_reader **r, corio_writer **w);

/*
 * A TLS server: a caller-allocated description that must outlive the
 * server.  Fill ctx (a server context), handler and arg; the counters are
 * read-only, kept by the module.
 */
typedef struct corio_tls_server {
    corio_tls_ctx *ctx;           /* server context */
    corio_stream_handler handler; /* runs per connection with the TLS reader and writer */
    void *arg;                    /* handler's argument */
    corio_stream_opts stream;     /* the TLS streams' settings (0: defaults) */
    /* Optional: called once per failed handshake, in the connection's
     * handler task, after the counters below are updated and before the
     * connection is closed; `reason` is the failure's text (as last_error),
     * valid during the call; w is the plain writer (its peername works).
     * Must not suspend or release w.  NULL: count only. */
    void (*on_handshake_failed)(corio_writer *w, const char *reason, void *arg);
    /* read-only: */
    unsigned long handshakes;        /* completed */
    unsigned long handshake_failures; /* failed, timed out or cancelled */
    char last_error[CORIO_TLS_ERRLEN]; /* the reason of the latest failure */
} corio_tls_server;

/*
 * A stream handler (corio_stream_handler) that does the server handshake
 * on the plain connection (corio_start_tls: r and w become TLS in place),
 * runs s->handler(r, w, s->arg), then closes the TLS stream
 * (close_notify) and waits for the close; the caller (the server)
 * releases r and w.  A
 * failed handshake is counted in s->handshake_failures with its reason in
 * s->last_error, and the connection closed (after the alert that says
 * why); other clients are unaffected.  Pass it to corio_start_server with
 * arg = s.  Returns the handler's result; 0 after a failed handshake,
 * which was counted and reported already (the server logs a handler's
 * error as unhandled; asyncio logs a failed handshake only in debug
 * mode).  SUSPENDS (it is a handler).
 */
CORIO_API int corio_tls_serve(corio_reader *r, corio_writer *w, void *s);

/*
 * asyncio.start_server(..., ssl=ctx): corio_start_server_opts with
 * corio_tls_serve as the handler (opts may be NULL).  As that function;
 * -EINVAL also when s has no server context or no handler.  The TLS
 * streams take s->stream (opts->stream is replaced by it).
 * The handshake runs on the handler's stack: keep handler_stack_size at
 * 64 KiB or more (the default is 256 KiB).
 */
CORIO_API int corio_start_tls_server(const char *host, int port, corio_tls_server *s,
                                     const corio_server_opts *opts, corio_server **out);

/* ---- queries ------------------------------------------------------------------ */

/* The TLS connection under a TLS writer or reader, NULL for any other
 * stream.  Borrowed: valid while the stream is. */
CORIO_API corio_tls_conn *corio_tls_writer_conn(const corio_writer *w);
CORIO_API corio_tls_conn *corio_tls_reader_conn(const corio_reader *r);

/*
 * Why the latest TLS call failed, as text: for a TLS writer, its
 * connection's first error; w NULL: the latest failure of a handshake,
 * corio_start_tls or context call made by this thread.  "" when none.
 * Valid until the next failure of the same kind (copy to keep).
 */
CORIO_API const char *corio_tls_last_error(const corio_writer *w);
/* The same for a TLS reader's connection. */
CORIO_API const char *corio_tls_reader_last_error(const corio_reader *r);

/* The negotiated version, "TLSv1.2" / "TLSv1.3". */
CORIO_API const char *corio_tls_version(const corio_tls_conn *c);
/* The cipher suite, OpenSSL's name ("TLS_AES_256_GCM_SHA384"). */
CORIO_API const char *corio_tls_cipher(const corio_tls_conn *c);
/* The protocol chosen by ALPN, or NULL when none was. */
CORIO_API const char *corio_tls_alpn(const corio_tls_conn *c);
/* 1 when the handshake resumed an earlier session, else 0. */
CORIO_API int corio_tls_session_resumed(const corio_tls_conn *c);
/* The server name: the one sent by SNI (client), or received (server; NULL if none). */
CORIO_API const char *corio_tls_server_name(const corio_tls_conn *c);

/*
 * The peer certificate's subject (RFC 2253, "CN=localhost,O=corio"), its
 * subject alternative names ("DNS:localhost, IP:127.0.0.1") and its
 * SHA-256 fingerprint (64 hex digits, lower case).  Each writes a
 * NUL-terminated string into buf and returns its length, -ENOENT when the
 * peer sent no certificate, -ENOBUFS when cap is too small.
 */
CORIO_API int corio_tls_peer_subject(const corio_tls_conn *c, char *buf, size_t cap);
CORIO_API int corio_tls_peer_san(const corio_tls_conn *c, char *buf, size_t cap);
CORIO_API int corio_tls_peer_fingerprint(const corio_tls_conn *c, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
