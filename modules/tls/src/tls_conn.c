/*
 * tls_conn.c - a TLS connection as a corio transport over a plain stream.
 *
 * OpenSSL is given a BIO of ours (bio_methods below) and never sees a
 * descriptor:
 *   - ciphertext that OpenSSL produces (handshake flights, records,
 *     alerts) goes from OpenSSL's own record buffer straight into the
 *     plain writer, one corio_writer_write per BIO write (a whole record,
 *     or a whole flight: OpenSSL buffers a handshake flight itself); the
 *     plain writer sends it at once or queues it, and never suspends, so
 *     the BIO never asks OpenSSL to retry a write;
 *   - ciphertext comes in, in a TLS read (tls_read's SSL_read), from the
 *     plain reader straight into OpenSSL's record buffer: our BIO's read
 *     is a plain read (one read from the kernel: the plain reader's reads
 *     of a page or more bypass its own buffer), which waits there, inside
 *     SSL_read, when nothing has come (read-ahead on: a whole record, or
 *     more, in one BIO read).  The handshake reads into `in` instead
 *     (feed_in), and the BIO gives OpenSSL what `in` holds first.  The
 *     plain read is the only place a TLS operation suspends, and it is
 *     cancel-safe, so a cancelled TLS read consumes nothing: the BIO then
 *     says "retry" to OpenSSL, as a non-blocking BIO does, and tls_read
 *     returns the plain read's -ECANCELED.
 * The plain stream runs over the descriptor transport of the loop's
 * backend (epoll readiness or io_uring completions); TLS does not care
 * which.
 */
#include "tls_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* Ciphertext read from the plain reader at a time (into `in` during the
 * handshake, into OpenSSL's record buffer after): two full records, so
 * that a bulk transfer takes 32 KiB per system call and one record always
 * fits. */
#define IN_BUF (32 * 1024)
#define SCRATCH (16 * 1024) /* one record's worth of plaintext */

/* OpenSSL's error queue must be empty before an SSL call for
 * SSL_get_error to be right.  Ours is emptied after every failure, but
 * other code on this thread may leave entries: clear them then, and only
 * then (clearing an empty queue costs more than the rest of a 1 KiB
 * record's bookkeeping).  Not before SSL_write: with our BIO, which takes
 * everything, an SSL_write that does not take the whole piece has failed
 * whatever SSL_get_error says, and write_result reads the newest entry
 * for the reason, the one this SSL_write left (a look at the queue costs
 * about a hundred instructions in libcrypto). */
static inline void clear_errors(void) {
    if (ERR_peek_error()) ERR_clear_error();
}

/* Record why c failed (first failure wins) and return code. */
static int conn_fail(corio_tls_conn *c, int code, const char *text) {
    if (!c->err) {
        c->err = code;
        snprintf(c->errtext, sizeof c->errtext, "%s", text);
    }
    corio__tls_set_last("%s", text);
    return code;
}

/* The failure of an SSL call that returned SSL_get_error() == e, in
 * words: the reason of the oldest entry on the error queue, or of the
 * newest when the queue was not cleared before the call (newest != 0). */
static int ssl_call_failed_at(corio_tls_conn *c, int e, int newest) {
    char text[CORIO__TLS_ERRLEN];
    int code = CORIO_ETLS;
    unsigned long err = newest ? ERR_peek_last_error() : ERR_peek_error();
    if (e == SSL_ERROR_SSL && ERR_GET_REASON(err) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long vr = SSL_get_verify_result(c->ssl);
        snprintf(text, sizeof text, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
        code = CORIO_ETLS_VERIFY;
    } else if (err) {
        const char *why = ERR_reason_error_string(err);
        snprintf(text, sizeof text, "%s", why ? why : "TLS error");
    } else {
        snprintf(text, sizeof text, "TLS error (SSL_get_error %d)", e);
    }
    ERR_clear_error();
    return conn_fail(c, code, text);
}

static int ssl_call_failed(corio_tls_conn *c, int e) { return ssl_call_failed_at(c, e, 0); }

/* ---- our BIO: OpenSSL's only way in and out ----------------------------------- */

/* The connection of the last TLS read on this thread (set by tls_read
 * before its SSL_read; `none` when it is freed): our BIO's read and write
 * find it here.  Asking the BIO (BIO_get_data, a call into libcrypto)
 * would make them save their four arguments around that call first - a
 * third of their instructions per record.  A callback checks that the
 * connection is its BIO's, and asks the BIO otherwise (the handshake,
 * close_notify, a write after another connection's read, a TLS stream
 * under another).  An echo's write follows its read: no need to set it
 * for SSL_write too.  A connection is used and freed on its loop's
 * thread, so the pointer is never left to a freed one. */
static corio_tls_conn none; /* no BIO: never a callback's */
static __thread __attribute__((tls_model("initial-exec"))) corio_tls_conn *tls_cur = &none;

/* OpenSSL writes ciphertext: hand it to the plain writer (never suspends).
 * Always taken whole: after the plain writer failed, the bytes are dropped
 * and the failure kept in wr_err, which a TLS write or the handshake
 * reports; a read that produced output (a ticket acknowledgement, a
 * KeyUpdate answer) after our close is no reason to fail the read. */
static inline __attribute__((always_inline)) int bio_write_to(corio_tls_conn *c, const char *data, size_t len,
                                                                size_t *done) {
    *done = len; /* first: only c is needed after the write */
    if (corio__tls_likely(len && !c->wr_err)) {
        int rc = corio_writer_write_below(c->pw, data, len);
        if (corio__tls_unlikely(rc < 0)) c->wr_err = rc;
    }
    return 1;
}

__attribute__((noinline)) static int bio_write_other(BIO *b, const char *data, size_t len, size_t *done) {
    return bio_write_to(BIO_get_data(b), data, len, done);
}

static int bio_write_ex(BIO *b, const char *data, size_t len, size_t *done) {
    corio_tls_conn *c = tls_cur;
    if (corio__tls_unlikely(c->bio != b)) return bio_write_other(b, data, len, done);
    return bio_write_to(c, data, len, done);
}

/* OpenSSL reads ciphertext outside tls_read's SSL_read (the handshake,
 * SSL_peek, a read after `in` was refilled): what `in` holds, else
 * "retry" (WANT_READ).  The retry flags are only set, never cleared:
 * OpenSSL looks at them only after a read that returned nothing, which
 * sets them, and our writes never ask for a retry. */
__attribute__((noinline)) static int bio_read_none(BIO *b, size_t *got) {
    BIO_set_retry_read(b);
    *got = 0;
    return 0;
}

static inline __attribute__((always_inline)) int bio_read_from(corio_tls_conn *c, BIO *b, char *out, size_t n,
                                                                size_t *got) {
    size_t have = c->in_end - c->in_start;
    if (corio__tls_unlikely(!have)) return bio_read_none(b, got);
    if (n > have) n = have;
    *got = n;
    const unsigned char *from = c->in + c->in_start;
    c->in_start += n;
    memcpy(out, from, n); /* last: nothing is live across it */
    return 1;
}

/* A read from the plain reader inside our BIO returned m <= 0 (its end,
 * an error, a cancellation - nothing consumed): keep it for tls_read,
 * and tell OpenSSL to retry, which leaves its state as any WANT_READ. */
__attribute__((noinline)) static int bio_read_below_end(corio_tls_conn *c, ssize_t m, size_t *got) {
    c->below_rc = m;
    c->below_ended = 1;
    return bio_read_none(c->bio, got);
}

/* Inside tls_read's SSL_read with `in` empty: read the ciphertext from
 * the plain reader straight into OpenSSL's record buffer (a read of a
 * page or more with nothing buffered goes from the kernel there: no copy
 * through `in`).  SUSPENDS, inside SSL_read: see tls_read.  `reading` is
 * off while the task waits, so that another task's SSL call on this
 * connection (a write, a close) never reads from the plain reader, nor
 * waits, in our BIO. */
static inline __attribute__((always_inline)) int bio_read_below(corio_tls_conn *c, char *out, size_t n,
                                                                 size_t *got) {
    c->reading = 0;
    ssize_t m = corio_reader_read_below(c->pr, out, n);
    tls_cur = c; /* another task may have run meanwhile */
    if (corio__tls_unlikely(m <= 0)) return bio_read_below_end(c, m, got);
    c->reading = 1;
    *got = (size_t)m;
    return 1;
}

/* bio_read_ex's other cases: another connection's BIO (the handshake, a
 * TLS stream under another), or what `in` holds, or nothing to read. */
__attribute__((noinline)) static int bio_read_other(BIO *b, char *out, size_t n, size_t *got) {
    corio_tls_conn *c = tls_cur;
    if (c->bio != b) c = BIO_get_data(b);
    if (c->reading && c->in_start == c->in_end) return bio_read_below(c, out, n, got);
    return bio_read_from(c, b, out, n, got);
}

/* OpenSSL reads ciphertext.  The common case (an echo's every record):
 * in tls_read's SSL_read, with `in` empty - from the plain reader. */
static int bio_read_ex(BIO *b, char *out, size_t n, size_t *got) {
    corio_tls_conn *c = tls_cur;
    if (corio__tls_unlikely(c->bio != b || !c->reading || c->in_start != c->in_end))
        return bio_read_other(b, out, n, got);
    return bio_read_below(c, out, n, got);
}

/* Called a dozen times per echoed message (OpenSSL 3.0 asks whether
 * kernel TLS is on about ten times per record it writes, twice per record
 * it reads): the only answer that is not "no" is that a flush succeeded,
 * everything having been written already.  EOF is not reported here:
 * feed_in and bio_read_below see it. */
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH;
}

static BIO_METHOD *bio_methods;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_methods_make(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "corio plain stream");
    if (m && (BIO_meth_set_write_ex(m, bio_write_ex) != 1 || BIO_meth_set_read_ex(m, bio_read_ex) != 1 ||
              BIO_meth_set_ctrl(m, bio_ctrl) != 1)) {
        BIO_meth_free(m);
        m = NULL;
    }
    bio_methods = m;
}

/* The table lives as long as the process; freed at exit so that leak
 * checkers see nothing of ours. */
__attribute__((destructor)) static void bio_methods_free(void) {
    if (bio_methods) BIO_meth_free(bio_methods);
    bio_methods = NULL;
}

/* A BIO that reads from c->in and writes to c->pw, or NULL (no memory). */
static BIO *bio_new(corio_tls_conn *c) {
    pthread_once(&bio_once, bio_methods_make);
    BIO *b = bio_methods ? BIO_new(bio_methods) : NULL;
    if (b) {
        BIO_set_data(b, c);
        BIO_set_init(b, 1);
    }
    return b;
}

__attribute__((noinline, cold)) static ssize_t in_full(corio_tls_conn *c) {
    return conn_fail(c, CORIO_ETLS, "TLS input buffer full without a complete record");
}

/* Read ciphertext from the plain reader into `in`.  SUSPENDS.  The count,
 * 0 at the peer's end of stream, or a negative errno (nothing consumed
 * when cancelled). */
static inline __attribute__((always_inline)) ssize_t feed_in(corio_tls_conn *c) {
    if (corio__tls_unlikely(!c->in) && !(c->in = malloc(IN_BUF))) return -ENOMEM; /* freed after the handshake */
    if (c->in_start == c->in_end) {
        c->in_start = c->in_end = 0;
    } else if (c->in_start) { /* OpenSSL took part (it takes all it has room for): keep the rest first */
        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
    size_t room = IN_BUF - c->in_end;
    if (corio__tls_unlikely(!room)) return in_full(c);
    ssize_t m = corio_reader_read(c->pr, c->in + c->in_end, room);
    if (m > 0) c->in_end += (size_t)m;
    return m;
}

/* ---- the transport operations -------------------------------------------- */

/* What a plain read that returned m <= 0 means for a TLS read: the end
 * (with ragged EOFs allowed) or why it failed.  Out of line: tls_read's
 * common case then saves fewer registers. */
__attribute__((noinline)) static ssize_t read_ended(corio_tls_conn *c, ssize_t m) {
    if (m < 0) {
        if (m != -ECANCELED && m != -ETIMEDOUT) conn_fail(c, (int)m, corio_strerror((int)m));
        return m;
    }
    if (c->ctx->ragged_eof_ok) {
        c->shut_received = 1;
        return 0;
    }
    return conn_fail(c, CORIO_ETLS_EOF, "unexpected eof: the peer closed the connection without close_notify");
}

/* An SSL_read that returned k <= 0 with SSL_get_error e: 0 at close_notify,
 * 1 when it wants more input, else why it failed (< 0). */
__attribute__((noinline)) static ssize_t read_failed(corio_tls_conn *c, int e) {
    if (e == SSL_ERROR_ZERO_RETURN) {
        c->shut_received = 1;
        return 0;
    }
    if (e != SSL_ERROR_WANT_READ) return ssl_call_failed(c, e);
    return 1;
}

/* tls_read after an SSL_read that returned k <= 0: what it means, and
 * while OpenSSL wants more, more ciphertext and another SSL_read.  Out of
 * line: tls_read's common case then saves fewer registers. */
__attribute__((noinline)) static ssize_t tls_read_more(corio_tls_conn *c, void *buf, int cap, int k) {
    if (c->below_ended) { /* the plain read in our BIO ended: why (OpenSSL only saw a retry) */
        c->below_ended = 0;
        return read_ended(c, c->below_rc);
    }
    for (;;) {
        ssize_t rc = read_failed(c, SSL_get_error(c->ssl, k));
        if (rc != 1) return rc;
        ssize_t m = feed_in(c);
        if (corio__tls_unlikely(m <= 0)) return read_ended(c, m);
        tls_cur = c;
        clear_errors();
        k = SSL_read(c->ssl, buf, cap);
        if (k > 0) return k;
    }
}

static ssize_t tls_read(void *vc, void *buf, size_t n) {
    corio_tls_conn *c = vc;
    if (corio__tls_unlikely(c->shut_received | c->err)) return c->shut_received ? 0 : c->err;
    int cap = n > INT_MAX ? INT_MAX : (int)n;
    /* One SSL_read.  When it needs ciphertext and `in` is empty, our BIO
     * reads it from the plain reader into OpenSSL's buffer, waiting there
     * if none has come (bio_read_below): this task then waits inside
     * SSL_read, at OpenSSL's read from its BIO, where a non-blocking
     * BIO's WANT_READ returns from - no record is half-decrypted, and
     * nothing of the SSL's but its input buffer is in use.  A plain read
     * that ends (a cancellation, the end, an error: nothing consumed) is
     * a WANT_READ for OpenSSL and its reason for us (tls_read_more).  The
     * error queue is cleared before the wait, not after it: code in
     * another task that leaves entries on this thread's queue while we
     * wait (corio-tls never does) can make a failing SSL_read report that
     * entry's reason - looking again after every wait would cost as much
     * in libcrypto as the rest of this read. */
    tls_cur = c;
    c->reading = 1;
    clear_errors();
    int k = SSL_read(c->ssl, buf, cap);
    c->reading = 0;
    if (corio__tls_likely(k > 0)) return k;
    return tls_read_more(c, buf, cap, k);
}

/* After SSL_write returned k for a piece: 0, or why it failed. */
static int write_result(corio_tls_conn *c, int k) {
    if (c->wr_err) return conn_fail(c, c->wr_err, corio_strerror(c->wr_err));
    if (k <= 0) return ssl_call_failed_at(c, SSL_get_error(c->ssl, k), 1); /* never WANT_WRITE: our BIO takes all */
    return 0;
}

static int write_piece(corio_tls_conn *c, const void *p, size_t len) {
    size_t off = 0;
    while (off < len) {
        size_t chunk = len - off > INT_MAX ? INT_MAX : len - off;
        int k = SSL_write(c->ssl, (const char *)p + off, (int)chunk); /* no clear_errors: see there */
        int rc = write_result(c, k);
        if (rc < 0) return rc;
        off += (size_t)k;
    }
    return 0;
}

/* Several pieces (writelines), or one too big for one SSL_write. */
__attribute__((noinline)) static int write_pieces(corio_tls_conn *c, const struct iovec *iov, int iovcnt) {
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
    /* Several small pieces become one record, not one each: 22 bytes of
     * framing per record and one encryption call. */
    if (iovcnt > 1 && total <= SCRATCH) {
        if (!c->scratch && !(c->scratch = malloc(SCRATCH))) return -ENOMEM;
        size_t at = 0;
        for (int i = 0; i < iovcnt; i++) {
            if (iov[i].iov_len) memcpy(c->scratch + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        return write_piece(c, c->scratch, total);
    }
    for (int i = 0; i < iovcnt; i++) {
        int rc = write_piece(c, iov[i].iov_base, iov[i].iov_len);
        if (rc < 0) return rc;
    }
    return 0;
}

/* tls_write's other cases, out of line so that its common case saves no
 * more registers than it uses: an error or a close before, several pieces
 * or a huge one (k == INT_MIN), a failure or a partial write after (k:
 * what SSL_write returned for the one piece). */
__attribute__((noinline)) static int tls_write_other(corio_tls_conn *c, const struct iovec *iov, int iovcnt, int k) {
    if (k == INT_MIN) {
        if (c->err) return c->err;
        if (c->shut_sent) return -ESHUTDOWN;
        return write_pieces(c, iov, iovcnt);
    }
    int rc = write_result(c, k);
    if (rc < 0) return rc;
    /* Only part taken (OpenSSL returned early, which our contexts do not ask for): the rest. */
    return write_piece(c, (const char *)iov[0].iov_base + k, iov[0].iov_len - (size_t)k);
}

/* tls_write1's other cases, as tls_write_other's. */
__attribute__((noinline)) static int tls_write1_other(corio_tls_conn *c, const void *buf, size_t len, int k) {
    struct iovec iov = {(void *)buf, len};
    return tls_write_other(c, &iov, 1, k);
}

/* After an SSL_write of a whole piece that returned k: why it failed. */
__attribute__((noinline)) static int tls_write_failed(corio_tls_conn *c, int k) { return write_result(c, k); }

/* corio_writer_write's one piece (len > 0): as tls_write's common case. */
static int tls_write1(void *vc, const void *buf, size_t len) {
    corio_tls_conn *c = vc;
    if (corio__tls_unlikely((c->err | c->shut_sent) || len - 1 >= INT_MAX)) return tls_write1_other(c, buf, len, INT_MIN);
    /* SSL_write takes the whole piece or fails (partial writes are off:
     * no SSL_MODE_ENABLE_PARTIAL_WRITE), so only c is needed after it,
     * and no other register is saved around it. */
    int k = SSL_write(c->ssl, buf, (int)len); /* no clear_errors: see there */
    if (corio__tls_likely(k > 0 && !c->wr_err)) return 0;
    return tls_write_failed(c, k);
}

static int tls_write(void *vc, const struct iovec *iov, int iovcnt) {
    corio_tls_conn *c = vc;
    /* The common case, an open connection and one piece of 1 to INT_MAX
     * bytes: one SSL_write, which takes it all (our BIO never refuses). */
    if (corio__tls_unlikely((c->err | c->shut_sent) || iovcnt != 1 || iov[0].iov_len - 1 >= INT_MAX))
        return tls_write_other(c, iov, iovcnt, INT_MIN);
    int k = SSL_write(c->ssl, iov[0].iov_base, (int)iov[0].iov_len); /* no clear_errors: see there */
    if (corio__tls_likely(k == (int)iov[0].iov_len && !c->wr_err)) return 0;
    return tls_write_other(c, iov, iovcnt, k);
}

/* Nothing waits in this module: OpenSSL's output is in the plain writer. */
static size_t tls_buffered(void *vc) { return corio_writer_buffered(((corio_tls_conn *)vc)->pw); }

static int tls_drain(void *vc, size_t low) {
    corio_tls_conn *c = vc;
    for (;;) {
        if (c->err) return c->err;
        if (corio_writer_buffered(c->pw) <= low) return 0;
        int rc = corio_writer_drain(c->pw);
        if (rc < 0) return rc;
        /* The plain writer waits only above its own high water mark.  The
         * streams this module opens have theirs at our low mark, so this
         * loop ends at once; a stream handed to corio_start_tls with other
         * marks is polled (the core has no "drain down to n" call). */
        if (corio_writer_buffered(c->pw) > low && (rc = corio_sleep(0.001)) < 0) return rc;
    }
}

/* close_notify after everything written so far (once, after a complete
 * handshake, and not after a fatal error, when OpenSSL must not send). */
static void send_close_notify(corio_tls_conn *c) {
    if (c->shut_sent || c->err || !c->handshaken) return;
    c->shut_sent = 1;
    ERR_clear_error();
    SSL_shutdown(c->ssl); /* returns 0: sent (through our BIO), the peer's not seen yet; we do not wait for it */
    ERR_clear_error();
}

static int tls_write_eof(void *vc) {
    corio_tls_conn *c = vc;
    if (c->err) return c->err;
    send_close_notify(c);
    return corio_writer_write_eof(c->pw);
}

static int tls_close(void *vc) {
    corio_tls_conn *c = vc;
    send_close_notify(c);
    return corio_writer_close(c->pw);
}

static void tls_abort(void *vc) {
    corio_tls_conn *c = vc;
    corio_writer_abort(c->pw);
}

static int tls_wait_closed(void *vc) {
    corio_tls_conn *c = vc;
    corio_timeout to;
    if (isinf(c->ctx->shutdown_timeout) || corio_timeout_enter(&to, c->ctx->shutdown_timeout) < 0)
        return corio_writer_wait_closed(c->pw);
    int rc = corio_timeout_exit(&to, corio_writer_wait_closed(c->pw));
    if (rc == -ETIMEDOUT) { /* the peer does not take close_notify: give up on it */
        conn_fail(c, rc, "shutdown timed out");
        corio_writer_abort(c->pw);
        corio_writer_wait_closed(c->pw);
    }
    return rc;
}

/* 1 when the next read would return 0 without reading: the peer's
 * close_notify has been read (records that arrived with the last data
 * are decrypted here with SSL_peek, which returns plaintext without
 * consuming it and never suspends), or, where ragged EOFs are allowed,
 * the plain stream below is at its end with no ciphertext left.  0
 * otherwise, and when the next read would be an error. */
static int tls_at_eof(void *vc) {
    corio_tls_conn *c = vc;
    if (c->shut_received) return 1;
    if (c->err) return 0;
    if (c->in_start != c->in_end || SSL_has_pending(c->ssl)) {
        char b;
        clear_errors();
        int k = SSL_peek(c->ssl, &b, 1);
        if (k > 0) return 0; /* plaintext to read */
        int e = SSL_get_error(c->ssl, k);
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->shut_received = 1;
            return 1;
        }
        if (e != SSL_ERROR_WANT_READ) { /* a bad record: the next read reports it */
            ssl_call_failed(c, e);
            return 0;
        }
        if (SSL_has_pending(c->ssl)) return 0; /* part of a record: more is coming, or the end is an error */
    }
    return c->ctx->ragged_eof_ok && corio_reader_at_eof(c->pr);
}

static int tls_fd(void *vc) { return corio_writer_fd(((corio_tls_conn *)vc)->pw); }

static int tls_peername(void *vc, char *buf, size_t cap) {
    return corio_writer_peername(((corio_tls_conn *)vc)->pw, buf, cap);
}

static int tls_sockname(void *vc, char *buf, size_t cap) {
    return corio_writer_sockname(((corio_tls_conn *)vc)->pw, buf, cap);
}

static void conn_free(corio_tls_conn *c) {
    c->magic = 0;
    if (tls_cur == c) tls_cur = &none;
    if (c->ssl) SSL_free(c->ssl); /* frees our BIO too (the SSL holds its one reference) */
    free(c->in);
    corio_tls_ctx_free(c->ctx);
    free(c->sess_key);
    free(c->server_name);
    free(c->alpn);
    free(c->scratch);
    free(c);
}

/* The stream above was released: the plain handles under it are ours,
 * unless borrowed (start_borrowed). */
static void tls_release(void *vc) {
    corio_tls_conn *c = vc;
    if (!c->borrow) {
        corio_reader_free(c->pr);
        corio_writer_free(c->pw);
    }
    conn_free(c);
}

static const corio_transport_ops tls_ops = {
    .read = tls_read,
    .write = tls_write,
    .buffered = tls_buffered,
    .drain = tls_drain,
    .write_eof = tls_write_eof,
    .close = tls_close,
    .abort = tls_abort,
    .wait_closed = tls_wait_closed,
    .fd = tls_fd,
    .peername = tls_peername,
    .sockname = tls_sockname,
    .release = tls_release,
    .at_eof = tls_at_eof,
    .flags = CORIO_TRANSPORT_WRITES_BELOW, /* the BIO writes every record to pw at once */
    .write1 = tls_write1,
};

/* ---- the handshake ------------------------------------------------------------ */

static int handshake(corio_tls_conn *c) {
    corio_timeout to;
    int rc = corio_timeout_enter(&to, c->ctx->handshake_timeout);
    if (rc < 0) return conn_fail(c, rc, "the handshake must run in a task");
    for (;;) {
        clear_errors();
        int k = SSL_do_handshake(c->ssl);
        int e = k == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, k);
        int frc = c->wr_err; /* our flight, or the alert that says why we stop, left through our BIO */
        if (k == 1) {
            rc = 0;
            break;
        }
        if (e != SSL_ERROR_WANT_READ) {
            rc = ssl_call_failed(c, e);
            break;
        }
        if (frc < 0) {
            rc = conn_fail(c, frc, corio_strerror(frc));
            break;
        }
        /* The peer answers our flight: it leaves now, not after the other
         * tasks of this iteration (on io_uring, a full handshake's flight
         * otherwise waited for every other handshake's key exchange and
         * signature in the same iteration, while the peer sat idle). */
        if ((frc = corio_writer_flush(c->pw)) < 0) {
            rc = conn_fail(c, frc, corio_strerror(frc));
            break;
        }
        ssize_t m = feed_in(c);
        if (m > 0) continue;
        if (m == 0) {
            rc = conn_fail(c, CORIO_ETLS_EOF, "the peer closed the connection during the handshake");
        } else {
            rc = (int)m;
        }
        break;
    }
    rc = corio_timeout_exit(&to, rc);
    if (rc == -ETIMEDOUT) {
        char text[80];
        snprintf(text, sizeof text, "the handshake timed out after %g s", c->ctx->handshake_timeout);
        conn_fail(c, rc, text);
    } else if (rc == -ECANCELED) {
        conn_fail(c, rc, "the handshake was cancelled");
    } else if (rc < 0 && !c->err) {
        conn_fail(c, rc, corio_strerror(rc));
    }
    if (rc == 0) {
        const unsigned char *p;
        unsigned len;
        SSL_get0_alpn_selected(c->ssl, &p, &len);
        if (len && (c->alpn = malloc(len + 1))) {
            memcpy(c->alpn, p, len);
            c->alpn[len] = 0;
        }
        c->handshaken = 1;
        /* From now on ciphertext goes into OpenSSL's buffer directly
         * (bio_read_below): `in` is needed again only for a record that
         * came in pieces outside tls_read's SSL_read (feed_in makes it). */
        if (c->in_start == c->in_end) {
            free(c->in);
            c->in = NULL;
            c->in_start = c->in_end = 0;
        }
    }
    return rc;
}

static int is_ip_literal(const char *s) {
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* A connection over pr/pw with its SSL object set up for the handshake. */
static int conn_new(corio_tls_ctx *ctx, corio_reader *pr, corio_writer *pw, const char *server_hostname,
                    corio_tls_conn **out) {
    int rc = corio__tls_ctx_prepare(ctx);
    if (rc < 0) return rc;
    corio_tls_conn *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->magic = CORIO__TLS_MAGIC;
    corio__tls_ctx_ref(ctx);
    c->ctx = ctx;
    c->pr = pr;
    c->pw = pw;
    BIO *bio = NULL;
    if (!(c->in = malloc(IN_BUF)) || !(c->ssl = SSL_new(ctx->ssl)) || !(bio = bio_new(c))) {
        conn_free(c);
        corio__tls_set_last("%s", "cannot create the TLS connection");
        return -ENOMEM;
    }
    SSL_set_bio(c->ssl, bio, bio); /* one reference, now the SSL's */
    c->bio = bio;
    SSL_set_read_ahead(c->ssl, 1);  /* a whole record (or more) per BIO read, not its header and then its body */
    /* OpenSSL's record buffer, which a TLS read reads into from the
     * kernel: two full records, so that a bulk transfer takes 32 KiB per
     * system call, as `in` did (the default holds one). */
    SSL_set_default_read_buffer_len(c->ssl, IN_BUF);
    SSL_set_app_data(c->ssl, c);
    if (ctx->server) {
        SSL_set_accept_state(c->ssl);
        *out = c;
        return 0;
    }
    SSL_set_connect_state(c->ssl);
    if (server_hostname && *server_hostname) {
        if (!(c->server_name = strdup(server_hostname))) {
            conn_free(c);
            return -ENOMEM;
        }
        int ok;
        if (is_ip_literal(server_hostname)) { /* no SNI for addresses (RFC 6066); check the IP SAN */
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), server_hostname) == 1;
        } else {
            SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = SSL_set_tlsext_host_name(c->ssl, server_hostname) == 1 &&
                 (!ctx->verify || SSL_set1_host(c->ssl, server_hostname) == 1);
        }
        if (!ok) {
            conn_free(c);
            corio__tls_set_last("invalid server name: %s", server_hostname);
            return -EINVAL;
        }
    } else if (ctx->verify) {
        conn_free(c);
        corio__tls_set_last("%s", "a server name is needed to verify the certificate");
        return -EINVAL;
    }
    if (ctx->session_cache) {
        char peer[64] = "";
        corio_writer_peername(pw, peer, sizeof peer);
        char key[sizeof ((sess_entry *)0)->key];
        snprintf(key, sizeof key, "%s|%s", server_hostname ? server_hostname : "", peer);
        if (!(c->sess_key = strdup(key))) {
            conn_free(c);
            return -ENOMEM;
        }
        SSL_SESSION *s = corio__tls_ctx_find_session(ctx, key);
        if (s) {
            SSL_set_session(c->ssl, s);
            SSL_SESSION_free(s);
        }
    }
    *out = c;
    return 0;
}

/* The older form (opts->borrow): new handles *tr / *tw over a TLS
 * connection that borrows the plain r / w, which stay the caller's and
 * plain; on failure nothing is left but r / w, mid-handshake. */
static int start_borrowed(corio_tls_conn *c, const corio_tls_start_opts *opts, corio_reader **tr, corio_writer **tw) {
    c->borrow = 1;
    int rc = handshake(c);
    if (rc < 0) {
        conn_free(c);
        return rc;
    }
    if ((rc = corio_stream_open_transport(&tls_ops, c, &opts->stream, tr, tw)) < 0) {
        corio__tls_set_last("%s", "cannot open the TLS stream");
        conn_free(c);
    }
    return rc;
}

int corio_start_tls(corio_reader *r, corio_writer *w, corio_tls_ctx *ctx, const char *server_hostname,
                    const corio_tls_start_opts *opts, corio_reader **tr, corio_writer **tw) {
    corio__tls_set_last("%s", "");
    if (!r || !w || !ctx) {
        corio__tls_set_last("%s", "corio_start_tls: a NULL argument");
        return -EINVAL;
    }
    corio_tls_start_opts none = {0};
    if (!opts) opts = &none;
    size_t pending = corio_reader_buffered(r);
    if (pending && opts->buffered == CORIO_TLS_REJECT_BUFFERED) {
        corio__tls_set_last("%s", "plaintext arrived before the TLS handshake");
        return -EPROTO;
    }
    if (pending && opts->buffered == CORIO_TLS_DISCARD_BUFFERED) {
        char sink[512];
        while (pending) { /* all buffered: these reads return at once */
            ssize_t m = corio_reader_read(r, sink, pending < sizeof sink ? pending : sizeof sink);
            if (m <= 0) break;
            pending -= (size_t)m;
        }
    }
    corio_tls_conn *c;
    int rc = conn_new(ctx, r, w, server_hostname, &c);
    if (rc < 0) return rc;
    if (opts->borrow && tr && tw) return start_borrowed(c, opts, tr, tw);
    /* r/w's byte path (with what r holds: the peer's first flight may
     * have come with the command) goes under the TLS connection. */
    if ((rc = corio_stream_push_transport(r, w, &tls_ops, c, &c->pr, &c->pw)) < 0) {
        corio__tls_set_last("%s", rc == -EBUSY ? "corio_start_tls: a task waits on the stream, or it is closing"
                                                : "corio_start_tls: cannot layer TLS onto the stream");
        conn_free(c);
        return rc;
    }
    /* The TLS stream's settings, where given.  The plain writer's marks
     * both at the TLS low mark, so that its drain waits exactly until the
     * TLS writer's low mark is reached (see tls_drain). */
    if (opts->stream.limit) corio_reader_set_limit(r, opts->stream.limit);
    if (opts->stream.high_water || opts->stream.low_water)
        corio_writer_set_write_buffer_limits(w, opts->stream.high_water, opts->stream.low_water);
    size_t high, low;
    corio_writer_get_write_buffer_limits(w, &high, &low);
    corio_writer_set_write_buffer_limits(c->pw, low ? low : 1, low ? low : 1);
    if (tr) *tr = r;
    if (tw) *tw = w;
    /* On failure r/w now report it (c->err), as asyncio closes the transport. */
    return handshake(c);
}

/* After a failed handshake: let the alert that says why leave, then close
 * (bounded by the shutdown timeout).  We wait for the close rather than
 * release the handles at once: a writer released while its last bytes sit
 * on the loop's flush list was freed under the flush (seen by TSan in
 * the core's flush_run), and waiting costs one socket close. */
static void close_after_failure(corio_tls_ctx *ctx, corio_reader *r, corio_writer *w, int release) {
    corio_writer_close(w);
    corio_timeout to;
    if (corio_timeout_enter(&to, ctx->shutdown_timeout) == 0 &&
        corio_timeout_exit(&to, corio_writer_wait_closed(w)) == -ETIMEDOUT) {
        corio_writer_abort(w);
        corio_writer_wait_closed(w);
    }
    if (release) {
        corio_reader_free(r);
        corio_writer_free(w);
    }
}

int corio_open_tls_connection_opts(const char *host, int port, corio_tls_ctx *ctx, const char *server_hostname,
                                   const corio_connect_opts *copts, const corio_stream_opts *sopts,
                                   corio_reader **r, corio_writer **w) {
    corio__tls_set_last("%s", "");
    if (!host || !ctx || !r || !w || ctx->server) {
        corio__tls_set_last("%s", "corio_open_tls_connection: a NULL argument or a server context");
        return -EINVAL;
    }
    corio_reader *pr;
    corio_writer *pw;
    int rc = corio_open_connection_opts(host, port, copts, sopts, &pr, &pw); /* the TLS stream's settings: kept */
    if (rc < 0) {
        char text[CORIO__TLS_ERRLEN];
        snprintf(text, sizeof text, "cannot connect to %s:%d: %s", host, port, corio_strerror(rc));
        corio__tls_set_last("%s", text);
        return rc;
    }
    if ((rc = corio_start_tls(pr, pw, ctx, server_hostname ? server_hostname : host, NULL, NULL, NULL)) < 0) {
        close_after_failure(ctx, pr, pw, 1);
        return rc;
    }
    *r = pr;
    *w = pw;
    return 0;
}

int corio_open_tls_connection(const char *host, int port, corio_tls_ctx *ctx, const char *server_hostname,
                              corio_reader **r, corio_writer **w) {
    return corio_open_tls_connection_opts(host, port, ctx, server_hostname, NULL, NULL, r, w);
}

/* ---- servers ---------------------------------------------------------------- */

int corio_tls_serve(corio_reader *r, corio_writer *w, void *arg) {
    corio_tls_server *s = arg;
    corio_tls_start_opts o = {.stream = s->stream};
    int rc = corio_start_tls(r, w, s->ctx, NULL, &o, NULL, NULL);
    if (rc < 0) {
        s->handshake_failures++;
        snprintf(s->last_error, sizeof s->last_error, "%s", corio__tls_last);
        if (s->on_handshake_failed) s->on_handshake_failed(w, s->last_error, s->arg);
        close_after_failure(s->ctx, r, w, 0); /* the server releases the handles */
        return 0; /* counted and reported: not the server's "unhandled" error */
    }
    s->handshakes++;
    rc = s->handler(r, w, s->arg);
    /* close_notify after what the handler wrote; the server releases r and w. */
    corio_writer_close(w);
    int crc = corio_writer_wait_closed(w);
    return rc < 0 ? rc : crc;
}

int corio_start_tls_server(const char *host, int port, corio_tls_server *s, const corio_server_opts *opts,
                           corio_server **out) {
    if (!s || !s->ctx || !s->handler || !s->ctx->server) return -EINVAL;
    corio_server_opts o = {0};
    if (opts) o = *opts;
    /* The streams become the TLS ones in place: they take the TLS settings. */
    o.stream = s->stream;
    return corio_start_server_opts(host, port, corio_tls_serve, s, &o, out);
}

/* ---- queries ------------------------------------------------------------------ */

static corio_tls_conn *as_conn(void *t) {
    corio_tls_conn *c = t;
    return c && c->magic == CORIO__TLS_MAGIC ? c : NULL;
}

corio_tls_conn *corio_tls_writer_conn(const corio_writer *w) { return w ? as_conn(corio_writer_transport(w)) : NULL; }
corio_tls_conn *corio_tls_reader_conn(const corio_reader *r) { return r ? as_conn(corio_reader_transport(r)) : NULL; }

const char *corio_tls_last_error(const corio_writer *w) {
    if (!w) return corio__tls_last;
    corio_tls_conn *c = corio_tls_writer_conn(w);
    return c ? c->errtext : "";
}

const char *corio_tls_reader_last_error(const corio_reader *r) {
    if (!r) return corio__tls_last;
    corio_tls_conn *c = corio_tls_reader_conn(r);
    return c ? c->errtext : "";
}

const char *corio_tls_version(const corio_tls_conn *c) { return c ? SSL_get_version(c->ssl) : NULL; }

const char *corio_tls_cipher(const corio_tls_conn *c) {
    return c ? SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)) : NULL;
}

const char *corio_tls_alpn(const corio_tls_conn *c) { return c ? c->alpn : NULL; }

int corio_tls_session_resumed(const corio_tls_conn *c) { return c && SSL_session_reused(c->ssl) == 1; }

const char *corio_tls_server_name(const corio_tls_conn *c) {
    if (!c) return NULL;
    return c->ctx->server ? SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name) : c->server_name;
}

static int put(char *buf, size_t cap, const char *s, size_t len) {
    if (!buf || len + 1 > cap) return -ENOBUFS;
    memcpy(buf, s, len);
    buf[len] = 0;
    return (int)len;
}

int corio_tls_peer_subject(const corio_tls_conn *c, char *buf, size_t cap) {
    X509 *x = c ? SSL_get0_peer_certificate(c->ssl) : NULL;
    if (!x) return -ENOENT;
    BIO *m = BIO_new(BIO_s_mem());
    if (!m) return -ENOMEM;
    X509_NAME_print_ex(m, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
    char *p;
    long n = BIO_get_mem_data(m, &p);
    int rc = put(buf, cap, p, n > 0 ? (size_t)n : 0);
    BIO_free(m);
    return rc;
}

int corio_tls_peer_san(const corio_tls_conn *c, char *buf, size_t cap) {
    X509 *x = c ? SSL_get0_peer_certificate(c->ssl) : NULL;
    if (!x) return -ENOENT;
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    char out[1024];
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char one[300] = "";
        if (g->type == GEN_DNS) {
            snprintf(one, sizeof one, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            int n = ASN1_STRING_length(g->d.iPAddress);
            char ip[INET6_ADDRSTRLEN] = "?";
            inet_ntop(n == 16 ? AF_INET6 : AF_INET, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip);
            if (n == 4 || n == 16) snprintf(one, sizeof one, "IP:%s", ip);
        } else if (g->type == GEN_EMAIL) {
            snprintf(one, sizeof one, "email:%.*s", ASN1_STRING_length(g->d.rfc822Name),
                     (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
        }
        if (!one[0]) continue;
        int k = snprintf(out + len, sizeof out - len, "%s%s", len ? ", " : "", one);
        if (k < 0 || (size_t)k >= sizeof out - len) break;
        len += (size_t)k;
    }
    GENERAL_NAMES_free(names);
    return put(buf, cap, out, len);
}

int corio_tls_peer_fingerprint(const corio_tls_conn *c, char *buf, size_t cap) {
    X509 *x = c ? SSL_get0_peer_certificate(c->ssl) : NULL;
    if (!x) return -ENOENT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (X509_digest(x, EVP_sha256(), md, &n) != 1) return CORIO_ETLS;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return put(buf, cap, hex, 2 * n);
}
