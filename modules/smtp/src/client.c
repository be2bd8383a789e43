/*
 * client.c - the SMTP client (smtplib / aiosmtplib): connect, EHLO with
 * HELO fallback, AUTH PLAIN/LOGIN, one envelope at a time with
 * dot-stuffing, PIPELINING and CHUNKING (BDAT) when the server offers
 * them.
 *
 * Every wait for the server is bounded by the client's timeout; replies
 * are read line by line from the stream's reader (its 64 KiB line limit
 * bounds a hostile server's line).  A refusal keeps the server's code and
 * text in the client for the caller to report.
 */
#include "smtp_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if CORIO_SMTP_HAVE_TLS
#include <corio/tls.h>
#endif

/* Replies longer than this many lines are a misbehaving server. */
#define MAX_REPLY_LINES 200

/* Content is stuffed into a staging buffer of this size before writing:
 * one write per 64 KiB instead of one per stuffed dot. */
#define STAGE 65536

struct corio_smtp_client {
    corio_reader *r;
    corio_writer *w;
    double timeout;
    int pipelining_off;
    int chunking_off;  /* DATA even when CHUNKING is offered */
    int helo_only;
    int body_8bitmime; /* declare BODY=8BITMIME whenever offered, not only for 8-bit content */
    char local[256];   /* our name for EHLO/HELO */
    int code;          /* last reply's code */
    smtp_buf text;     /* last reply's text, NUL-terminated */
    smtp_buf ext;      /* EHLO keywords: "KEYWORD\0params\0" pairs */
    unsigned offers;   /* OFFERS_* of ext, looked up once per EHLO rather than per message */
    int esmtp;         /* EHLO was accepted */
    corio_tls_ctx *tls_ctx;  /* STARTTLS with this client context, NULL: never */
    int require_tls;
    int tls;           /* the connection runs over TLS */
    char server_name[256]; /* the name the certificate must carry ("" : none given) */
};

int corio_smtp_client_code(const corio_smtp_client *c) { return c ? c->code : 0; }

const char *corio_smtp_client_text(const corio_smtp_client *c) { return c && c->text.p ? c->text.p : ""; }

static int set_text(corio_smtp_client *c, const char *p, size_t n, int append) {
    if (!append) c->text.len = 0;
    if (append && c->text.len && smtp_buf_append(&c->text, "\n", 1) < 0) return -ENOMEM;
    if (smtp_buf_reserve(&c->text, n + 1) < 0) return -ENOMEM;
    memcpy(c->text.p + c->text.len, p, n);
    c->text.len += n;
    c->text.p[c->text.len] = 0;
    return 0;
}

/* Read one reply (all its lines).  Returns its code, or a negative errno:
 * -ETIMEDOUT, CORIO_SMTP_EPROTO, the connection's error, -ECONNRESET at
 * end of stream. */
static int read_reply(corio_smtp_client *c) {
    corio_timeout to;
    int rc = corio_timeout_enter(&to, c->timeout);
    if (rc < 0) return rc;
    int code = 0;
    for (int n = 0;; n++) {
        const char *line;
        size_t len;
        rc = corio_reader_readline(c->r, &line, &len);
        if (rc < 0) break;
        if (len == 0) {
            rc = -ECONNRESET;
            break;
        }
        if (line[len - 1] != '\n') {
            rc = -ECONNRESET; /* cut off by the end of stream */
            break;
        }
        len--;
        if (len && line[len - 1] == '\r') len--;
        int lc = -1;
        if (len >= 3) {
            char head[5] = {line[0], line[1], line[2], len > 3 ? line[3] : 0, 0};
            lc = corio_smtp_reply_code(head);
        }
        if (lc < 0 || (n > 0 && lc != code) || n >= MAX_REPLY_LINES) {
            rc = CORIO_SMTP_EPROTO;
            break;
        }
        code = lc;
        size_t skip = len > 3 ? 4 : 3;
        if ((rc = set_text(c, line + skip, len - skip, n > 0)) < 0) break;
        if (len == 3 || line[3] == ' ') {
            rc = code;
            break;
        }
    }
    rc = corio_timeout_exit(&to, rc);
    if (rc > 0) c->code = rc;
    return rc;
}

static int send_raw(corio_smtp_client *c, const void *p, size_t n) {
    int rc = corio_writer_write(c->w, p, n);
    if (rc < 0) return rc;
    if (corio_writer_buffered(c->w) == 0) return 0;
    corio_timeout to;
    if ((rc = corio_timeout_enter(&to, c->timeout)) < 0) return rc;
    return corio_timeout_exit(&to, corio_writer_drain(c->w));
}

/* head, then the content's pieces, then tail (tail_len may be 0).  The
 * head and the content's first STAGE bytes go in one write (a message of
 * usual size: one sendmsg); the rest follows STAGE bytes at a time, each
 * piece waited for with its own timeout, as DATA's staging: a big message
 * on a slow link is bounded per piece, not as a whole (60 s for 30 MiB
 * would fail where DATA succeeds), and the writer never holds a copy of
 * more than a piece beyond its high water mark. */
static int send_pieces(corio_smtp_client *c, const void *head, size_t head_len, const struct iovec *iov, int iovcnt,
                       const void *tail, size_t tail_len) {
    struct iovec small[8], *v = small;
    if (iovcnt > 6 && !(v = malloc(((size_t)iovcnt + 2) * sizeof *v))) return -ENOMEM;
    int k = 0, i = 0;
    size_t off = 0, budget = STAGE;
    v[k++] = (struct iovec){.iov_base = (void *)head, .iov_len = head_len};
    for (; i < iovcnt && budget > 0; i++) {
        size_t l = iov[i].iov_len;
        if (l == 0) continue;
        size_t take = l < budget ? l : budget;
        v[k++] = (struct iovec){.iov_base = iov[i].iov_base, .iov_len = take};
        budget -= take;
        if (take < l) {
            off = take; /* this piece goes on below */
            break;
        }
    }
    int all = i == iovcnt;
    if (all && tail_len) v[k++] = (struct iovec){.iov_base = (void *)tail, .iov_len = tail_len};
    int rc = corio_writer_writelines(c->w, v, k);
    if (v != small) free(v);
    if (rc == 0 && corio_writer_buffered(c->w) > 0) {
        corio_timeout to;
        if ((rc = corio_timeout_enter(&to, c->timeout)) == 0) rc = corio_timeout_exit(&to, corio_writer_drain(c->w));
    }
    if (rc < 0 || all) return rc;
    for (; i < iovcnt; i++, off = 0) {
        const char *p = iov[i].iov_base;
        for (size_t l = iov[i].iov_len; off < l;) {
            size_t n = l - off < STAGE ? l - off : STAGE;
            if ((rc = send_raw(c, p + off, n)) < 0) return rc;
            off += n;
        }
    }
    return tail_len ? send_raw(c, tail, tail_len) : 0;
}

static int send_line(corio_smtp_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_line(corio_smtp_client *c, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf - 2) return -EINVAL;
    memcpy(buf + n, "\r\n", 2);
    return send_raw(c, buf, (size_t)n + 2);
}

enum { OFFERS_SIZE = 1, OFFERS_8BITMIME = 2, OFFERS_SMTPUTF8 = 4, OFFERS_PIPELINING = 8, OFFERS_CHUNKING = 16 };

static void note_offers(corio_smtp_client *c) {
    static const char *const names[] = {"SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "CHUNKING"};
    c->offers = 0;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (corio_smtp_client_has_ext(c, names[i])) c->offers |= 1u << i;
}

/* Remember the EHLO reply's keywords (every line but the first). */
static int parse_ehlo(corio_smtp_client *c) {
    c->ext.len = 0;
    c->offers = 0;
    const char *p = c->text.p ? strchr(c->text.p, '\n') : NULL;
    while (p) {
        p++;
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        const char *sp = memchr(p, ' ', n);
        size_t kl = sp ? (size_t)(sp - p) : n;
        /* Some servers still say "AUTH=LOGIN" (pre-RFC 4954 form). */
        const char *eq = memchr(p, '=', kl);
        if (eq) kl = (size_t)(eq - p);
        if (smtp_buf_append(&c->ext, p, kl) < 0 || smtp_buf_append(&c->ext, "", 1) < 0) return -ENOMEM;
        size_t po = kl < n ? kl + 1 : n;
        if (smtp_buf_append(&c->ext, p + po, n - po) < 0 || smtp_buf_append(&c->ext, "", 1) < 0) return -ENOMEM;
        p = eol;
    }
    note_offers(c);
    return 0;
}

const char *corio_smtp_client_ext(const corio_smtp_client *c, const char *ext) {
    if (!c || !ext || !c->ext.p) return NULL;
    const char *p = c->ext.p, *end = c->ext.p + c->ext.len;
    while (p < end) {
        const char *val = p + strlen(p) + 1;
        if (strcasecmp(p, ext) == 0) return val;
        p = val + strlen(val) + 1;
    }
    return NULL;
}

int corio_smtp_client_has_ext(const corio_smtp_client *c, const char *ext) {
    return corio_smtp_client_ext(c, ext) != NULL;
}

/* ---- opening ------------------------------------------------------------------ */

static int hello(corio_smtp_client *c);

/*
 * STARTTLS, then EHLO again (RFC 3207 4.2: what the server said before
 * is forgotten).  The server must not have sent anything after its 220:
 * such bytes did not come over TLS, and the handshake refuses them.
 */
static int starttls(corio_smtp_client *c) {
#if CORIO_SMTP_HAVE_TLS
    int rc = send_line(c, "STARTTLS");
    if (rc < 0) return rc;
    int code = read_reply(c);
    if (code < 0) return code;
    if (code != 220) return CORIO_SMTP_EREPLY;
    corio_tls_start_opts o = {.buffered = CORIO_TLS_REJECT_BUFFERED};
    corio_reader *tr;
    corio_writer *tw;
    rc = corio_start_tls(c->r, c->w, c->tls_ctx, c->server_name[0] ? c->server_name : NULL, &o, &tr, &tw);
    if (rc < 0) return rc;
    c->r = tr;
    c->w = tw;
    c->tls = 1;
    c->esmtp = 0;
    c->ext.len = 0;
    c->offers = 0;
    return hello(c);
#else
    (void)c;
    return -ENOTSUP;
#endif
}

static int greet(corio_smtp_client *c) {
    int code = read_reply(c);
    if (code < 0) return code;
    if (code != 220) return CORIO_SMTP_EREPLY;
    int rc = hello(c);
    if (rc < 0 || !c->tls_ctx) return rc;
    if (corio_smtp_client_has_ext(c, "STARTTLS")) return starttls(c);
    return c->require_tls ? -ENOTSUP : 0;
}

/* EHLO, or HELO when EHLO is refused as unknown (5xx). */
static int hello(corio_smtp_client *c) {
    int code;
    if (!c->helo_only) {
        int rc = send_line(c, "EHLO %s", c->local);
        if (rc < 0) return rc;
        code = read_reply(c);
        if (code < 0) return code;
        if (code == 250) {
            c->esmtp = 1;
            return parse_ehlo(c);
        }
        if (code < 500) return CORIO_SMTP_EREPLY;
    }
    int rc = send_line(c, "HELO %s", c->local);
    if (rc < 0) return rc;
    code = read_reply(c);
    if (code < 0) return code;
    return code == 250 ? 0 : CORIO_SMTP_EREPLY;
}

int corio_smtp_client_open(corio_reader *r, corio_writer *w, const corio_smtp_client_opts *opts,
                           corio_smtp_client **out) {
    if (!r || !w) return -EINVAL;
    corio_smtp_client *c = calloc(1, sizeof *c);
    if (!c) {
        corio_reader_free(r);
        corio_writer_abort(w);
        corio_writer_free(w);
        return -ENOMEM;
    }
    c->r = r;
    c->w = w;
    c->timeout = opts && opts->timeout > 0 ? opts->timeout : 60.0;
    c->pipelining_off = opts && opts->no_pipelining;
    c->chunking_off = opts && opts->no_chunking;
    c->helo_only = opts && opts->helo_only;
    c->body_8bitmime = opts && opts->body_8bitmime;
    c->tls_ctx = opts ? opts->tls_ctx : NULL;
    c->require_tls = opts && opts->require_tls;
    if (opts && opts->server_hostname) snprintf(c->server_name, sizeof c->server_name, "%s", opts->server_hostname);
    if (c->tls_ctx && !CORIO_SMTP_HAVE_TLS) {
        corio_smtp_client_free(c);
        if (out) *out = NULL;
        return -ENOTSUP;
    }
    if (opts && opts->local_hostname && *opts->local_hostname)
        snprintf(c->local, sizeof c->local, "%s", opts->local_hostname);
    else
        smtp_default_hostname(c->local, sizeof c->local);
    int rc = greet(c);
    if (rc < 0 && (rc != CORIO_SMTP_EREPLY || !out)) {
        corio_smtp_client_free(c);
        c = NULL;
    }
    if (out) *out = c;
    return rc;
}

int corio_smtp_client_connect(const char *host, int port, const corio_smtp_client_opts *opts,
                              corio_smtp_client **out) {
    if (!host || !out) return -EINVAL;
    *out = NULL;
    corio_reader *r;
    corio_writer *w;
    corio_timeout to;
    double t = opts && opts->timeout > 0 ? opts->timeout : 60.0;
    int rc = corio_timeout_enter(&to, t);
    if (rc < 0) return rc;
    rc = corio_timeout_exit(&to, corio_open_connection(host, port, &r, &w));
    if (rc < 0) return rc;
    corio_smtp_client_opts o = {0};
    if (opts) o = *opts;
    if (!o.server_hostname) o.server_hostname = host; /* the certificate must name what we connected to */
    return corio_smtp_client_open(r, w, &o, out);
}

/* ---- commands ----------------------------------------------------------------- */

int corio_smtp_client_command(corio_smtp_client *c, const char *line) {
    if (!c || !line || strpbrk(line, "\r\n")) return -EINVAL;
    int rc = send_line(c, "%s", line);
    return rc < 0 ? rc : read_reply(c);
}

int corio_smtp_client_auth(corio_smtp_client *c, const char *user, const char *password) {
    if (!c || !user || !password) return -EINVAL;
    const char *mechs = corio_smtp_client_ext(c, "AUTH");
    if (!mechs) return -ENOTSUP;
    int plain = 0, login = 0;
    char m[256];
    snprintf(m, sizeof m, "%s", mechs);
    char *save = NULL;
    for (char *t = strtok_r(m, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (!strcasecmp(t, "PLAIN")) plain = 1;
        if (!strcasecmp(t, "LOGIN")) login = 1;
    }
    size_t ul = strlen(user), pl = strlen(password);
    if (ul > 255 || pl > 255) return -EINVAL;
    char b64[1400];
    int rc, code;
    if (plain) {
        unsigned char raw[520];
        raw[0] = 0;
        memcpy(raw + 1, user, ul);
        raw[1 + ul] = 0;
        memcpy(raw + 2 + ul, password, pl);
        corio_smtp_base64_encode(raw, ul + pl + 2, b64, sizeof b64);
        explicit_bzero(raw, sizeof raw);
        rc = send_line(c, "AUTH PLAIN %s", b64);
        explicit_bzero(b64, sizeof b64);
        if (rc < 0) return rc;
        code = read_reply(c);
    } else if (login) {
        if ((rc = send_line(c, "AUTH LOGIN")) < 0) return rc;
        if ((code = read_reply(c)) != 334) return code < 0 ? code : CORIO_SMTP_EREPLY;
        corio_smtp_base64_encode(user, ul, b64, sizeof b64);
        if ((rc = send_line(c, "%s", b64)) < 0) return rc;
        if ((code = read_reply(c)) != 334) return code < 0 ? code : CORIO_SMTP_EREPLY;
        corio_smtp_base64_encode(password, pl, b64, sizeof b64);
        rc = send_line(c, "%s", b64);
        explicit_bzero(b64, sizeof b64);
        if (rc < 0) return rc;
        code = read_reply(c);
    } else {
        return -ENOTSUP;
    }
    if (code < 0) return code;
    return code == 235 ? 0 : CORIO_SMTP_EREPLY;
}

/* An address we can put between < and > without changing the command. */
static int addr_ok(const char *a, int *nonascii) {
    for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>') return 0;
        if (*p >= 0x80) *nonascii = 1;
    }
    return strlen(a) < 1000;
}

/* Write the content (iovcnt pieces, one message) dot-stuffed: a '.'
 * doubled at the start of every line, after any LF, as smtplib quotes;
 * then CRLF when the content does not end with one, and the end ".".
 * Runs between line starts are copied whole into a staging buffer, which
 * is written each time it fills. */
static int send_content(corio_smtp_client *c, const struct iovec *iov, int iovcnt) {
    char *stage = malloc(STAGE + 8);
    if (!stage) return -ENOMEM;
    size_t n = 0, total = 0;
    int bol = 1, rc = 0;
    unsigned char last[2] = {0, 0}; /* the content's last two bytes */
    for (int k = 0; k < iovcnt && rc == 0; k++) {
        const unsigned char *p = iov[k].iov_base;
        size_t len = iov[k].iov_len, i = 0;
        while (i < len && rc == 0) {
            if (n >= STAGE) {
                rc = send_raw(c, stage, n);
                n = 0;
                continue;
            }
            if (bol && p[i] == '.') stage[n++] = '.';
            bol = 0; /* this line's start is dealt with, even if the copy waits for room */
            const unsigned char *nl = memchr(p + i, '\n', len - i);
            size_t run = nl ? (size_t)(nl - (p + i)) + 1 : len - i;
            if (run > STAGE - n) run = STAGE - n;
            if (run == 0) continue; /* the dot filled the stage: flush first */
            memcpy(stage + n, p + i, run);
            n += run;
            i += run;
            bol = p[i - 1] == '\n';
        }
        total += len;
        if (len >= 2) {
            last[0] = p[len - 2];
            last[1] = p[len - 1];
        } else if (len == 1) {
            last[0] = last[1];
            last[1] = p[0];
        }
    }
    if (rc == 0) {
        if (total > 0 && !(total >= 2 && last[0] == '\r' && last[1] == '\n')) {
            stage[n++] = '\r';
            stage[n++] = '\n';
        }
        stage[n++] = '.';
        stage[n++] = '\r';
        stage[n++] = '\n';
        rc = send_raw(c, stage, n);
    }
    free(stage);
    return rc;
}

/* RSET after a failed transaction, keeping the failure's reply. */
static void reset_keep(corio_smtp_client *c) {
    int code = c->code;
    char *saved = c->text.p ? strdup(c->text.p) : NULL;
    if (send_line(c, "RSET") == 0) read_reply(c);
    c->code = code;
    if (saved) {
        set_text(c, saved, strlen(saved), 0);
        free(saved);
    }
}

/* n in decimal at out (room for 20 digits); returns the digit count.
 * MAIL's line is built without printf: it is on every message's path. */
static size_t fmt_size(char *out, size_t n) {
    char tmp[24];
    size_t k = 0;
    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    for (size_t i = 0; i < k; i++) out[i] = tmp[k - 1 - i];
    return k;
}

/* 1 when a byte of p[0..n) is >= 0x80; eight bytes at a time, since
 * every message is scanned whole when it is 7-bit. */
static int has_8bit(const void *p, size_t n) {
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w & UINT64_C(0x8080808080808080)) return 1;
    }
    for (; i < n; i++)
        if (b[i] >= 0x80) return 1;
    return 0;
}

static void record(corio_smtp_rcpt_result *res, int code, const char *text) {
    if (!res) return;
    res->code = code > 0 ? code : 0;
    snprintf(res->text, sizeof res->text, "%s", code > 0 ? text : "");
}

int corio_smtp_client_send(corio_smtp_client *c, const char *from, const char *const *rcpts, size_t n,
                           const void *content, size_t len, corio_smtp_rcpt_result *results) {
    if (!content && len) return -EINVAL;
    struct iovec iov = {.iov_base = (void *)(content ? content : ""), .iov_len = len};
    return corio_smtp_client_sendv(c, from, rcpts, n, &iov, 1, results);
}

int corio_smtp_client_sendv(corio_smtp_client *c, const char *from, const char *const *rcpts, size_t n,
                            const struct iovec *iov, int iovcnt, corio_smtp_rcpt_result *results) {
    if (!c || !from || !rcpts || n == 0 || iovcnt < 0 || (!iov && iovcnt)) return -EINVAL;
    size_t len = 0;
    int eight = 0;
    for (int k = 0; k < iovcnt; k++) {
        if (!iov[k].iov_base && iov[k].iov_len) return -EINVAL;
        if (!eight) eight = has_8bit(iov[k].iov_base, iov[k].iov_len);
        len += iov[k].iov_len;
    }
    int nonascii = 0;
    if (!addr_ok(from, &nonascii)) return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!rcpts[i] || !addr_ok(rcpts[i], &nonascii)) return -EINVAL;
    /* A UTF-8 address cannot go to a server that did not offer SMTPUTF8:
     * refuse before sending anything, as smtplib's send_message and
     * aiosmtplib do (SMTPNotSupportedError). */
    int utf8_ok = c->esmtp && (c->offers & OFFERS_SMTPUTF8);
    if (nonascii && !utf8_ok) {
        c->code = 0;
        set_text(c, "an address is not ASCII and the server does not offer SMTPUTF8", 63, 0);
        return -ENOTSUP;
    }
    for (size_t i = 0; results && i < n; i++) record(&results[i], 0, "");

    /* BODY=8BITMIME only where the server offers it, and then for 8-bit
     * content (or always, when the caller asked); 8-bit content to a
     * server without 8BITMIME goes as it is, as smtplib's sendmail sends
     * its bytes (see corio_smtp_client_send). */
    char params[96] = "";
    size_t pl = 0;
    if (c->esmtp && (c->offers & OFFERS_SIZE)) {
        memcpy(params, " SIZE=", 6);
        pl = 6 + fmt_size(params + 6, len);
    }
    if (c->esmtp && (eight || c->body_8bitmime) && (c->offers & OFFERS_8BITMIME)) {
        memcpy(params + pl, " BODY=8BITMIME", 14);
        pl += 14;
    }
    if (nonascii) {
        memcpy(params + pl, " SMTPUTF8", 9);
        pl += 9;
    }
    params[pl] = 0;

    int pipe = c->esmtp && !c->pipelining_off && (c->offers & OFFERS_PIPELINING);
    /* BDAT sends the content as it is, with the CRLF that DATA's end would
     * add: the server gets the same bytes either way. */
    int chunk = c->esmtp && !c->chunking_off && (c->offers & OFFERS_CHUNKING);
    unsigned char last[2] = {0, 0};
    for (int k = 0; k < iovcnt; k++) {
        const unsigned char *p = iov[k].iov_base;
        size_t l = iov[k].iov_len;
        if (l >= 2) last[0] = p[l - 2], last[1] = p[l - 1];
        else if (l == 1) last[0] = last[1], last[1] = p[0];
    }
    size_t add_crlf = len > 0 && !(len >= 2 && last[0] == '\r' && last[1] == '\n') ? 2 : 0;
    char bdat[48] = "BDAT ";
    size_t bl = 5 + fmt_size(bdat + 5, len + add_crlf);
    memcpy(bdat + bl, " LAST\r\n", 8);
    bl += 7;
    int rc;
    if (pipe) {
        /* MAIL, every RCPT and DATA in one write (RFC 2920 3.1: DATA
         * ends the group), then their replies in order. */
        smtp_buf b = {0};
        rc = smtp_buf_append(&b, "MAIL FROM:<", 11);
        rc |= smtp_buf_append(&b, from, strlen(from));
        rc |= smtp_buf_append(&b, ">", 1);
        rc |= smtp_buf_append(&b, params, pl);
        rc |= smtp_buf_append(&b, "\r\n", 2);
        for (size_t i = 0; i < n; i++) {
            rc |= smtp_buf_append(&b, "RCPT TO:<", 9);
            rc |= smtp_buf_append(&b, rcpts[i], strlen(rcpts[i]));
            rc |= smtp_buf_append(&b, ">\r\n", 3);
        }
        if (chunk)
            rc |= smtp_buf_append(&b, bdat, bl);
        else
            rc |= smtp_buf_append(&b, "DATA\r\n", 6);
        if (rc < 0) {
            smtp_buf_free(&b);
            return -ENOMEM;
        }
        /* With BDAT the content goes in the same write: the whole message
         * is one round trip. */
        rc = chunk ? send_pieces(c, b.p, b.len, iov, iovcnt, "\r\n", add_crlf) : send_raw(c, b.p, b.len);
        smtp_buf_free(&b);
        if (rc < 0) return rc;
        int mail = read_reply(c);
        if (mail < 0) return mail;
        int mail_code = mail;
        char *mail_text = mail_code == 250 ? NULL : strdup(corio_smtp_client_text(c));
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            int code = read_reply(c);
            if (code < 0) {
                free(mail_text);
                return code;
            }
            record(results ? &results[i] : NULL, code, corio_smtp_client_text(c));
            if (code == 250 || code == 251) ok++;
        }
        int data = read_reply(c);
        if (data < 0) {
            free(mail_text);
            return data;
        }
        if (mail_code != 250) {
            c->code = mail_code;
            if (mail_text) set_text(c, mail_text, strlen(mail_text), 0);
            free(mail_text);
            if (!chunk && data == 354) send_raw(c, ".\r\n", 3), read_reply(c);
            reset_keep(c);
            return CORIO_SMTP_EREPLY;
        }
        free(mail_text);
        if (chunk) {
            /* data is BDAT's reply: the end of data's, or a refusal of a
             * transaction without recipients (its chunk dropped). */
            if (ok == 0) {
                reset_keep(c);
                return CORIO_SMTP_ERECIPIENTS;
            }
            if (data == 250) return 0;
            reset_keep(c);
            return CORIO_SMTP_EREPLY;
        }
        if (data == 354 && ok == 0) {
            /* Nothing to deliver to: end the (empty) message at once. */
            if ((rc = send_raw(c, ".\r\n", 3)) < 0) return rc;
            read_reply(c);
            reset_keep(c);
            return CORIO_SMTP_ERECIPIENTS;
        }
        if (ok == 0) {
            reset_keep(c);
            return CORIO_SMTP_ERECIPIENTS;
        }
        if (data != 354) {
            reset_keep(c);
            return CORIO_SMTP_EREPLY;
        }
    } else {
        if ((rc = send_line(c, "MAIL FROM:<%s>%s", from, params)) < 0) return rc;
        int code = read_reply(c);
        if (code < 0) return code;
        if (code != 250) {
            reset_keep(c);
            return CORIO_SMTP_EREPLY;
        }
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            if ((rc = send_line(c, "RCPT TO:<%s>", rcpts[i])) < 0) return rc;
            if ((code = read_reply(c)) < 0) return code;
            record(results ? &results[i] : NULL, code, corio_smtp_client_text(c));
            if (code == 250 || code == 251) ok++;
        }
        if (ok == 0) {
            reset_keep(c);
            return CORIO_SMTP_ERECIPIENTS;
        }
        if (chunk) {
            if ((rc = send_pieces(c, bdat, bl, iov, iovcnt, "\r\n", add_crlf)) < 0) return rc;
            if ((code = read_reply(c)) < 0) return code;
            if (code == 250) return 0;
            reset_keep(c); /* RFC 3030: a refused BDAT leaves the transaction for RSET to clear */
            return CORIO_SMTP_EREPLY;
        }
        if ((rc = send_line(c, "DATA")) < 0) return rc;
        if ((code = read_reply(c)) < 0) return code;
        if (code != 354) {
            reset_keep(c);
            return CORIO_SMTP_EREPLY;
        }
    }
    if ((rc = send_content(c, iov, iovcnt)) < 0) return rc;
    int code = read_reply(c);
    if (code < 0) return code;
    return code == 250 ? 0 : CORIO_SMTP_EREPLY;
}

int corio_smtp_client_quit(corio_smtp_client *c) {
    if (!c) return -EINVAL;
    int rc = send_line(c, "QUIT");
    if (rc == 0) {
        int code = read_reply(c);
        rc = code < 0 ? code : code == 221 ? 0 : CORIO_SMTP_EREPLY;
    }
    corio_timeout to;
    if (corio_timeout_enter(&to, c->timeout) == 0) {
        int crc = corio_timeout_exit(&to, corio_stream_close(c->r, c->w));
        if (rc == 0 && crc < 0 && crc != -ECONNRESET && crc != -EPIPE) rc = crc;
    } else {
        corio_writer_abort(c->w);
        corio_reader_free(c->r);
        corio_writer_free(c->w);
    }
    c->r = NULL;
    c->w = NULL;
    return rc;
}

void corio_smtp_client_free(corio_smtp_client *c) {
    if (!c) return;
    if (c->w) corio_writer_abort(c->w);
    corio_reader_free(c->r);
    corio_writer_free(c->w);
    smtp_buf_free(&c->text);
    smtp_buf_free(&c->ext);
    free(c);
}
