/*
 * corio/smtp.h - an SMTP server (aiosmtpd's model) and client (smtplib's)
 * over corio streams.
 *
 * Server.  corio_smtp_server_start() listens and runs one session per
 * connection as its own task; corio_smtp_serve_stream() runs one session
 * over any reader/writer pair.  The session speaks RFC 5321: greeting,
 * HELO/EHLO, MAIL FROM (SIZE=, BODY=7BIT|8BITMIME, SMTPUTF8), RCPT TO,
 * DATA (dot-unstuffing, the <CRLF>.<CRLF> end), RSET, NOOP, QUIT, VRFY
 * (252), HELP, EXPN (502), AUTH PLAIN/LOGIN, and BDAT (RFC 3030
 * CHUNKING) when opts.chunking asks for it.  EHLO advertises SIZE,
 * 8BITMIME, SMTPUTF8, PIPELINING, CHUNKING (when asked), AUTH (when
 * allowed) and HELP.  Replies and limits are aiosmtpd 1.4's unless said
 * otherwise below.
 *
 * PIPELINING (RFC 2920): the session answers every command of a batch in
 * order and writes the replies together, once it has consumed all the
 * complete lines the client sent (one write per batch, not per command).
 *
 * Differences from aiosmtpd, on purpose:
 *  - Within DATA the end of the message is only <CRLF>.<CRLF>: a "." line
 *    after a bare LF is data, not the end (SMTP smuggling: a relay that
 *    ends the message where the next hop does not can be made to carry a
 *    second, forged message).  Bare LF and NUL bytes are kept as data,
 *    byte for byte.  Dot-unstuffing applies at the start of every line
 *    (after any LF), as in aiosmtpd and smtplib's quoting.
 *  - A handler hook that fails (returns a negative errno) is answered
 *    "451 4.3.0 Error: <message>", a temporary failure the client retries,
 *    where aiosmtpd answers an exception with 500 (permanent): for a relay
 *    a lost mail is worse than a retried one.
 *  - An idle connection gets "421 4.4.2 <host> Error: timeout exceeded"
 *    before it is closed (aiosmtpd closes silently).
 *
 * Client.  corio_smtp_client_connect() connects, reads the greeting and
 * says EHLO (HELO when EHLO is refused); then corio_smtp_client_auth(),
 * corio_smtp_client_send() (dot-stuffing, PIPELINING and CHUNKING when
 * offered, per-recipient results) and corio_smtp_client_quit().  A refusal by the
 * server is CORIO_SMTP_EREPLY, with the server's code and text kept in
 * the client (corio_smtp_client_code / corio_smtp_client_text).
 *
 * STARTTLS (RFC 3207) runs over corio-tls (corio/tls.h) when the module
 * was built with it (corio_smtp_has_tls()): the server offers it when
 * given a server context, the client uses it when given a client context.
 * Plaintext the peer sent after STARTTLS and before the handshake is
 * discarded by the server (a client's pipelined commands would otherwise
 * be read as if they came over TLS: CVE-2011-0411) and refused by the
 * client; after the handshake both sides forget what was said before
 * (HELO name, EHLO extensions, AUTH).
 *
 * Errors are negative errno values plus the CORIO_SMTP_E* codes below.
 */
#ifndef CORIO_SMTP_H
#define CORIO_SMTP_H

#include <corio.h>

#include <stddef.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The server answered with a refusal (4xx/5xx) or an unexpected code:
 * see corio_smtp_client_code() and corio_smtp_client_text(). */
enum { CORIO_SMTP_EREPLY = -11300 };
/* Every recipient was refused (corio_smtp_client_send). */
enum { CORIO_SMTP_ERECIPIENTS = -11301 };
/* The server's reply did not follow RFC 5321 (bad code, line too long). */
enum { CORIO_SMTP_EPROTO = -11302 };

/* aiosmtpd's defaults. */
#define CORIO_SMTP_DATA_SIZE_LIMIT 33554432u /* 2**25: EHLO advertises SIZE 33554432 */
#define CORIO_SMTP_LINE_LENGTH_LIMIT 1001u   /* a DATA line with CRLF: 1000 + a stuffed dot */
#define CORIO_SMTP_COMMAND_SIZE_LIMIT 512u   /* a command line without CRLF (RFC 5321 4.5.3.1.4) */
#define CORIO_SMTP_TIMEOUT 300.0             /* seconds a connection may stay idle */

/* The longest reply a hook may set, multi-line replies included. */
#define CORIO_SMTP_REPLY_MAX 1024

/* A reply being built: hooks find the default in text and may replace it
 * (corio_smtp_reply_set).  Lines are separated by CRLF; the last line
 * gets its CRLF from the server. */
typedef struct corio_tls_ctx corio_tls_ctx; /* corio/tls.h */

typedef struct corio_smtp_reply {
    char text[CORIO_SMTP_REPLY_MAX]; /* NUL-terminated, without the final CRLF */
} corio_smtp_reply;

/* Replace a reply's text (printf-style), truncated to fit.  Returns the
 * reply's three-digit code, or -EINVAL when the text does not start with
 * one. */
CORIO_API int corio_smtp_reply_set(corio_smtp_reply *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The three-digit code at the start of a reply text, or -EINVAL. */
CORIO_API int corio_smtp_reply_code(const char *text);

/*
 * One transaction, as aiosmtpd's Envelope.  Owned by the session: valid
 * during the hook it is passed to; copy what you keep.  Strings are
 * NUL-terminated; addresses are as the client wrote them between < and >
 * (mail_from is "" for the null reverse-path <>).
 */
typedef struct corio_smtp_envelope {
    char *mail_from;          /* NULL until MAIL succeeded */
    char *mail_options;       /* MAIL's parameters upper-cased ("SIZE=123 BODY=8BITMIME"), "" if none */
    int smtputf8;             /* MAIL carried SMTPUTF8 */
    int body_8bitmime;        /* MAIL carried BODY=8BITMIME */
    size_t declared_size;     /* MAIL's SIZE=, 0 if absent */
    char **rcpt_tos;          /* rcpt_count accepted recipients, in order */
    char **rcpt_options;      /* each recipient's parameters, upper-cased, "" if none */
    size_t rcpt_count;
    unsigned char *content;   /* DATA after dot-unstuffing, without the final ".": bytes as received,
                                 followed by a NUL not counted in content_len */
    size_t content_len;
} corio_smtp_envelope;

/*
 * One connection, as aiosmtpd's Session.  Fields are read-only for the
 * handler, except `user`.
 */
typedef struct corio_smtp_session {
    const char *peer;       /* the client's address, "127.0.0.1:40312" */
    const char *peer_ip;    /* the same without the port, "127.0.0.1" */
    const char *host_name;  /* the name given in HELO/EHLO, NULL before */
    int extended_smtp;      /* the client said EHLO */
    int tls;                /* the connection runs over TLS */
    int authenticated;      /* AUTH succeeded */
    const char *login;      /* the authenticated login, NULL before */
    void *arg;              /* the handler's argument (given at start) */
    void *user;             /* free for the handler: per-connection state */
    corio_reader *reader;   /* the connection (borrowed; do not read or write during a session) */
    corio_writer *writer;
} corio_smtp_session;

/*
 * The handler: hooks called by the session, each optional (NULL: the
 * default behaviour).  Hooks run in the session's task and MAY SUSPEND
 * (the data hook may, for instance, forward the mail with the client
 * below).  Each gets the reply the session would send and may replace it
 * (corio_smtp_reply_set); a hook returns 0, or a negative errno, which is
 * answered 451 (see above).  A command hook whose reply is not 2xx
 * refuses the command: MAIL does not open a transaction, RCPT does not
 * add the recipient, HELO/EHLO do not record the name.
 */
typedef struct corio_smtp_handler {
    /* A client connected; the greeting ("220 <host> <ident>") is in reply:
     * a non-2xx reply is sent and the connection closed. */
    int (*connect)(corio_smtp_session *s, corio_smtp_reply *reply);
    int (*helo)(corio_smtp_session *s, const char *hostname, corio_smtp_reply *reply);
    /* reply holds the whole multi-line EHLO answer ("250-host\r\n250-SIZE ...\r\n250 HELP"). */
    int (*ehlo)(corio_smtp_session *s, const char *hostname, corio_smtp_reply *reply);
    /* address is "" for <>; params upper-cased, "" if none. */
    int (*mail)(corio_smtp_session *s, corio_smtp_envelope *env, const char *address, const char *params,
                corio_smtp_reply *reply);
    int (*rcpt)(corio_smtp_session *s, corio_smtp_envelope *env, const char *address, const char *params,
                corio_smtp_reply *reply);
    /* The complete envelope (aiosmtpd handle_DATA): default reply "250 OK". */
    int (*data)(corio_smtp_session *s, corio_smtp_envelope *env, corio_smtp_reply *reply);
    int (*rset)(corio_smtp_session *s, corio_smtp_reply *reply);
    int (*noop)(corio_smtp_session *s, const char *arg, corio_smtp_reply *reply);
    int (*vrfy)(corio_smtp_session *s, const char *address, corio_smtp_reply *reply);
    int (*quit)(corio_smtp_session *s, corio_smtp_reply *reply);
    /*
     * Check credentials of AUTH PLAIN or LOGIN (mechanism "PLAIN" or
     * "LOGIN"; login and password are the decoded bytes, NUL-terminated,
     * with their lengths: they may contain NUL).  Return 1 to accept, 0 to
     * refuse (reply: "535 5.7.8 Authentication credentials invalid"), or a
     * negative errno.  Without this hook AUTH is not offered.
     */
    int (*auth)(corio_smtp_session *s, const char *mechanism, const char *login, size_t login_len,
                const char *password, size_t password_len, corio_smtp_reply *reply);
    /* The connection ended (any way); called once, last.  Free `user` here. */
    void (*disconnect)(corio_smtp_session *s);
} corio_smtp_handler;

/* Server settings; zero-initialise, zero means default. */
typedef struct corio_smtp_server_opts {
    const char *hostname;      /* our name in the greeting and EHLO; default: gethostname() */
    const char *ident;         /* greeting text after the name; default "corio SMTP" */
    size_t data_size_limit;    /* SIZE; default 33554432; SIZE_MAX: no limit (advertises "SIZE") */
    size_t line_length_limit;  /* default 1001 */
    size_t command_size_limit; /* default 512 (MAIL gets +26 for SIZE= and +10 for SMTPUTF8, as aiosmtpd) */
    double timeout;            /* idle seconds before 421 and close; default 300 */
    int disable_smtputf8;      /* do not advertise or accept SMTPUTF8 */
    int auth_allow_plaintext;  /* offer AUTH without TLS (default: only after STARTTLS, RFC 4954 4) */
    int auth_required;         /* MAIL, RCPT, DATA, VRFY, HELP need AUTH first (530) */
    size_t max_connections;    /* 0: no cap (corio_server_opts.max_connections) */
    corio_tls_ctx *tls_ctx;    /* a server context: offer STARTTLS (borrowed; must outlive the server) */
    int require_starttls;      /* before TLS only NOOP, EHLO, STARTTLS, QUIT (530 for the rest) */
    /* 1: offer CHUNKING (RFC 3030) and take BDAT.  Off by default, as
     * aiosmtpd (whose replies this server keeps: EHLO's list stays theirs
     * unless asked); Postfix offers it.  A relay's next hop gains by it -
     * a pipelining client sends MAIL, RCPT..., BDAT and the content in one
     * write and has one round trip per message, where DATA costs two - so
     * examples/smtp_sink turns it on.  The data hook gets the same
     * envelope and content either way.  Without it BDAT is an unknown
     * command (500) whose chunk is still skipped, never run as commands. */
    int chunking;
} corio_smtp_server_opts;

/* 1 when the module was built with corio-tls (STARTTLS available), else 0. */
CORIO_API int corio_smtp_has_tls(void);

typedef struct corio_smtp_server corio_smtp_server; /* opaque */

/*
 * Listen on host:port and serve SMTP, one task per connection, calling
 * handler's hooks with arg as the session's `arg`.  handler and opts'
 * strings must outlive the server.  *out receives the server (release it
 * with corio_smtp_server_free after closing).  Returns 0 or a negative
 * code (as corio_start_server; -EINVAL for NULL handler or out).
 * SUSPENDS only while a name is looked up; call from a task.
 */
CORIO_API int corio_smtp_server_start(const char *host, int port, const corio_smtp_handler *handler, void *arg,
                                      const corio_smtp_server_opts *opts, corio_smtp_server **out);

/* The listening port, or a negative errno. */
CORIO_API int corio_smtp_server_port(const corio_smtp_server *s);

/* Sessions running now. */
CORIO_API size_t corio_smtp_server_connections(const corio_smtp_server *s);

/*
 * Stop accepting.  With abort_sessions zero, sessions in progress run to
 * their end (QUIT, the client leaving, or the idle timeout); otherwise
 * each is cancelled (its transaction dropped, the connection closed).
 * 0; again is harmless.  Does not suspend.
 */
CORIO_API int corio_smtp_server_close(corio_smtp_server *s, int abort_sessions);

/* Wait until the server is closed and every session has ended.  0 or
 * -ECANCELED.  SUSPENDS. */
CORIO_API int corio_smtp_server_wait_closed(corio_smtp_server *s);

/* Release a closed server whose sessions have ended: 0, or -EBUSY
 * (nothing done).  NULL: 0.  Does not suspend. */
CORIO_API int corio_smtp_server_free(corio_smtp_server *s);

/*
 * Run one SMTP session over an open stream (a test's socketpair, a
 * connection accepted elsewhere) until it ends.  The stream stays the
 * caller's: it is not closed or freed.  peer names the client in the
 * session (NULL: asked from the writer).  Returns 0 when the session ended
 * normally (QUIT, the client leaving, timeout), or a negative errno.
 * SUSPENDS.
 */
CORIO_API int corio_smtp_serve_stream(corio_reader *r, corio_writer *w, const char *peer,
                                      const corio_smtp_handler *handler, void *arg,
                                      const corio_smtp_server_opts *opts);

/* ---- client ------------------------------------------------------------------- */

/* Client settings; zero-initialise, zero means default. */
typedef struct corio_smtp_client_opts {
    double timeout;             /* seconds for the connection and each reply; default 60 (aiosmtplib's) */
    const char *local_hostname; /* the name we give in EHLO/HELO; default gethostname(), else "localhost" */
    int no_pipelining;          /* send one command at a time even when PIPELINING is offered */
    int no_chunking;            /* use DATA even when the server offers CHUNKING (BDAT) */
    int helo_only;              /* say HELO, never EHLO */
    corio_tls_ctx *tls_ctx;     /* a client context: say STARTTLS when the server offers it (borrowed) */
    int require_tls;            /* with tls_ctx: fail with -ENOTSUP when the server does not offer STARTTLS */
    const char *server_hostname;/* the name the certificate must have; default the host connected to */
    int body_8bitmime;          /* 1: say BODY=8BITMIME on every message when the server offers 8BITMIME
                                 * (as aiosmtplib's send_message); 0: only for content with 8-bit bytes */
} corio_smtp_client_opts;

typedef struct corio_smtp_client corio_smtp_client; /* opaque */

/* One recipient's outcome in corio_smtp_client_send. */
typedef struct corio_smtp_rcpt_result {
    int code;       /* the server's reply code to RCPT TO (250 accepted), or 0 if never answered */
    char text[256]; /* the reply's text, truncated */
} corio_smtp_rcpt_result;

/*
 * Connect to host:port, read the greeting, say EHLO (HELO if EHLO is
 * refused with 5xx), and with opts->tls_ctx STARTTLS and EHLO again.
 * Returns 0 with *out set, CORIO_SMTP_EREPLY when the greeting, HELO or
 * STARTTLS is a refusal (the client is still returned in *out, when out is
 * not NULL, so that its code and text can be read: free it), a connect
 * error, -ETIMEDOUT, CORIO_SMTP_EPROTO, -ENOTSUP (require_tls and no
 * STARTTLS offered, or a tls_ctx without corio-tls), a TLS error
 * (CORIO_ETLS*, see corio/tls.h; -EPROTO when the server sent data before
 * the handshake).  SUSPENDS.
 */
CORIO_API int corio_smtp_client_connect(const char *host, int port, const corio_smtp_client_opts *opts,
                                        corio_smtp_client **out);

/* As corio_smtp_client_connect over a stream the caller opened; the
 * client takes the stream (freeing the client closes it), also on
 * failure.  STARTTLS checks the certificate against
 * opts->server_hostname.  SUSPENDS. */
CORIO_API int corio_smtp_client_open(corio_reader *r, corio_writer *w, const corio_smtp_client_opts *opts,
                                     corio_smtp_client **out);

/* 1 when the server's EHLO offered the extension (case-insensitive:
 * "PIPELINING", "SIZE", "AUTH", "8BITMIME", "SMTPUTF8", "STARTTLS"). */
CORIO_API int corio_smtp_client_has_ext(const corio_smtp_client *c, const char *ext);

/* The parameters of an offered extension ("33554432" for SIZE, "LOGIN
 * PLAIN" for AUTH), "" when it has none, NULL when not offered.  Valid
 * until the client is freed. */
CORIO_API const char *corio_smtp_client_ext(const corio_smtp_client *c, const char *ext);

/*
 * AUTH with the first of PLAIN, LOGIN the server offers.  0 once
 * accepted; CORIO_SMTP_EREPLY (code and text kept) when refused; -ENOTSUP
 * when the server offers neither; a connection error.  SUSPENDS.
 */
CORIO_API int corio_smtp_client_auth(corio_smtp_client *c, const char *user, const char *password);

/*
 * Send one message: MAIL FROM:<from>, RCPT TO for each of the n
 * recipients, DATA, the content dot-stuffed and ended with <CRLF>.<CRLF>
 * (a CRLF is added when the content does not end with one).  With
 * PIPELINING, MAIL, the RCPTs and DATA go in one write.  When the server
 * offers CHUNKING (and opts.no_chunking is not set), "BDAT <size> LAST"
 * and the content as it is (not stuffed, the same CRLF added) take the
 * place of DATA and the stuffed content, so that the server gets the same
 * bytes; with PIPELINING too, MAIL, the RCPTs, BDAT and the content go in
 * one write and their replies are read together: one round trip per
 * message instead of two.  MAIL's
 * parameters (only after EHLO, only those the server offered):
 *   - SIZE=<content length> when SIZE is offered (as smtplib);
 *   - BODY=8BITMIME when 8BITMIME is offered and the content has a byte
 *     >= 0x80, or opts.body_8bitmime is set.  smtplib's sendmail declares
 *     it only when the caller passes it, aiosmtplib's send_message
 *     whenever it is offered; we look at the bytes, so a caller never
 *     has to, and 7-bit mail is declared as what it is (RFC 6152: the
 *     parameter says the content may hold 8-bit data).  8-bit content to
 *     a server that does not offer 8BITMIME is sent as it is, as
 *     smtplib's sendmail sends bytes (no conversion to 7 bit);
 *   - SMTPUTF8 when an address is not ASCII.  Such an address to a
 *     server that does not offer SMTPUTF8 (or answered HELO) is refused
 *     with -ENOTSUP before anything is sent, as smtplib and aiosmtplib
 *     raise SMTPNotSupportedError (the client's text says why; code 0).
 * results (may be NULL) receives each recipient's reply.  Returns 0 when
 * the message was accepted for at least one recipient (check results for
 * the others); CORIO_SMTP_ERECIPIENTS when all were refused;
 * CORIO_SMTP_EREPLY when MAIL, DATA, BDAT or the end of data was refused
 * (the transaction is reset with RSET; after a refused end of data, which
 * ends the transaction, only after BDAT, as RFC 3030 asks); -ENOTSUP (SMTPUTF8, above); -EINVAL
 * for bad arguments (n == 0, an address with CR, LF or '>'); a connection
 * error.  SUSPENDS.
 */
CORIO_API int corio_smtp_client_send(corio_smtp_client *c, const char *from, const char *const *rcpts, size_t n,
                                     const void *content, size_t len, corio_smtp_rcpt_result *results);

/*
 * corio_smtp_client_send with the content in iovcnt pieces (one message,
 * stuffed as a whole: a line may span pieces), so that a relay can add a
 * header without copying the message.  Same returns; -EINVAL also for a
 * NULL piece of non-zero length.  SUSPENDS.
 */
CORIO_API int corio_smtp_client_sendv(corio_smtp_client *c, const char *from, const char *const *rcpts, size_t n,
                                      const struct iovec *iov, int iovcnt, corio_smtp_rcpt_result *results);

/*
 * Send one command line (without CRLF, e.g. "NOOP", "VRFY <x>", "RSET")
 * and read its reply.  Returns the reply code (>= 200 and < 400 accepted
 * too, so the caller decides), or a negative errno.  SUSPENDS.
 */
CORIO_API int corio_smtp_client_command(corio_smtp_client *c, const char *line);

/* QUIT, read the 221, close.  0 or a negative errno (the connection is
 * closed either way).  SUSPENDS. */
CORIO_API int corio_smtp_client_quit(corio_smtp_client *c);

/* The last reply's code (0 before any) and text (all lines, joined by
 * "\n", without codes: as smtplib's SMTPResponseException). */
CORIO_API int corio_smtp_client_code(const corio_smtp_client *c);
CORIO_API const char *corio_smtp_client_text(const corio_smtp_client *c);

/* Close the connection (without QUIT) and release the client.  NULL is
 * ignored.  Does not suspend. */
CORIO_API void corio_smtp_client_free(corio_smtp_client *c);

/* ---- parsing, exposed for tests and the fuzz target --------------------------- */

/*
 * Parse the argument of MAIL ("FROM:<a@b> SIZE=1") or RCPT ("TO:<c@d>"):
 * keyword is "FROM:" or "TO:" (matched case-insensitively, spaces allowed
 * after the colon).  On success stores the address (without brackets;
 * may be empty for "<>") into addr (cap bytes) and a pointer to the
 * parameters (spaces skipped) into *params, and returns 0.  -EINVAL:
 * syntax error (501); -EILSEQ: malformed address (553); -ENAMETOOLONG:
 * the address does not fit.  Does not suspend.
 */
CORIO_API int corio_smtp_parse_path(const char *arg, const char *keyword, char *addr, size_t cap,
                                    const char **params);

/* Decode base64 (RFC 4648, padding required, no whitespace) into out (cap
 * bytes).  Returns the decoded length or -EINVAL. */
CORIO_API long corio_smtp_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

/* Encode len bytes as base64 into out (cap bytes, NUL-terminated).
 * Returns the encoded length or -ENOBUFS. */
CORIO_API long corio_smtp_base64_encode(const void *in, size_t len, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
