/*
 * server.c - the SMTP server: one session per connection, run as the
 * connection's task.
 *
 * Byte path.  A session reads from the stream into its own input buffer
 * with corio_reader_read (one call takes whatever the kernel has, up to
 * the buffer's room) and cuts lines there with memchr, so a pipelined
 * batch is parsed from one read.  Replies go to an output buffer that is
 * written when the session runs out of complete lines, i.e. just before
 * it would wait for the client: a batch of MAIL, RCPT..., DATA is
 * answered with one write (RFC 2920's rule that the server may hold
 * replies until it would block), and a single command is answered at
 * once because the session is about to wait.
 *
 * Limits, as aiosmtpd: a command line (without CRLF) of at most 512 bytes
 * (MAIL 548 with SIZE and SMTPUTF8 advertised), any line of at most 1001
 * bytes with its CRLF, 33554432 bytes of content, 300 s idle.  Over-long
 * command lines are read to their end and answered 500; over-long DATA
 * lines or too much DATA are read to the end of the message and answered
 * 500 / 552, the connection kept (RFC 5321 4.2.5: answer after the end).
 * Memory per session is bounded: the input buffer never exceeds twice the
 * line limit plus one read, the content the data limit, the recipients
 * MAX_RCPTS.
 */
#include "smtp_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if CORIO_SMTP_HAVE_TLS
#include <corio/tls.h>
#endif

/* RFC 5321 4.5.3.1.8 asks for at least 100 recipients; more than this
 * many is refused with 452 so one transaction cannot grow without bound. */
#define MAX_RCPTS 1000

/* aiosmtpd's BOGUS_LIMIT: unknown commands tolerated before goodbye. */
#define BOGUS_LIMIT 5

/* The input buffer: big enough that one read usually takes a whole
 * pipelined batch or a few KiB of DATA. */
#define IN_BUF 32768

typedef struct cfg {
    char hostname[256];
    const char *ident;
    size_t data_limit;   /* SIZE_MAX: none */
    size_t line_limit;
    size_t cmd_limit;
    size_t mail_limit;   /* MAIL's command limit in an EHLO session */
    double timeout;
    int smtputf8;
    int auth_plaintext;
    int auth_required;
    corio_tls_ctx *tls_ctx;
    int require_starttls;
    int chunking;        /* offer CHUNKING and take BDAT */
} cfg;

enum { DATA_NOMINAL, DATA_TOO_LONG, DATA_TOO_MUCH };

typedef struct sess {
    corio_smtp_session pub;
    const corio_smtp_handler *h;
    const cfg *cfg;
    corio_reader *r;     /* the stream in use: the connection's, or TLS over it */
    corio_writer *w;
    corio_reader *tls_r; /* r and w once STARTTLS upgraded them in place (ours to close), else NULL */
    corio_writer *tls_w;
    char *in;            /* input buffer, in_cap bytes */
    size_t in_off;       /* first unconsumed byte */
    size_t in_len;       /* bytes in the buffer */
    size_t in_cap;
    smtp_buf out;        /* replies not yet written */
    smtp_buf content;    /* the message being received */
    corio_smtp_envelope env;
    char peer[96];
    char peer_ip[96];
    char *host_name;     /* malloc'd */
    char *login;         /* malloc'd */
    int bogus;           /* unknown commands left before goodbye */
    int bdat;            /* this transaction's content came by BDAT so far (DATA may not follow) */
    int done;            /* QUIT, goodbye or timeout: end the session */
    int failed;          /* the connection failed: nothing more can be written */
} sess;

/* ---- configuration ------------------------------------------------------------ */

static void cfg_init(cfg *c, const corio_smtp_server_opts *o) {
    static const corio_smtp_server_opts none = {0};
    if (!o) o = &none;
    if (o->hostname && *o->hostname)
        snprintf(c->hostname, sizeof c->hostname, "%s", o->hostname);
    else
        smtp_default_hostname(c->hostname, sizeof c->hostname);
    c->ident = o->ident && *o->ident ? o->ident : "corio SMTP";
    c->data_limit = o->data_size_limit ? o->data_size_limit : CORIO_SMTP_DATA_SIZE_LIMIT;
    c->line_limit = o->line_length_limit ? o->line_length_limit : CORIO_SMTP_LINE_LENGTH_LIMIT;
    c->cmd_limit = o->command_size_limit ? o->command_size_limit : CORIO_SMTP_COMMAND_SIZE_LIMIT;
    c->timeout = o->timeout > 0 ? o->timeout : CORIO_SMTP_TIMEOUT;
    c->smtputf8 = !o->disable_smtputf8;
    c->auth_plaintext = o->auth_allow_plaintext;
    c->auth_required = o->auth_required;
    c->tls_ctx = o->tls_ctx;
    c->require_starttls = o->require_starttls && o->tls_ctx;
    c->chunking = o->chunking;
    /* aiosmtpd lets MAIL grow by the room its parameters need:
     * " SIZE=<digits>" (26) and " SMTPUTF8" (10). */
    c->mail_limit = c->cmd_limit + (c->data_limit != SIZE_MAX ? 26 : 0) + (c->smtputf8 ? 10 : 0);
}

/* ---- envelope ----------------------------------------------------------------- */

/* Content buffers up to this size outlive their message (env_reset). */
#define KEEP_CONTENT 65536

static void env_reset(sess *s) {
    corio_smtp_envelope *e = &s->env;
    free(e->mail_from);
    free(e->mail_options);
    for (size_t i = 0; i < e->rcpt_count; i++) {
        free(e->rcpt_tos[i]);
        free(e->rcpt_options[i]);
    }
    free(e->rcpt_tos);
    free(e->rcpt_options);
    memset(e, 0, sizeof *e);
    /* A buffer of usual size is kept for the session's next message (one
     * malloc and free less per message); a big one goes. */
    if (s->content.cap <= KEEP_CONTENT) s->content.len = 0;
    else smtp_buf_free(&s->content);
    s->bdat = 0;
}

/* ---- output ------------------------------------------------------------------- */

static void push(sess *s, const char *text) {
    size_t n = strlen(text);
    if (smtp_buf_reserve(&s->out, n + 2) < 0) {
        s->failed = 1; /* out of memory: end the session rather than lose a reply */
        return;
    }
    memcpy(s->out.p + s->out.len, text, n);
    memcpy(s->out.p + s->out.len + n, "\r\n", 2);
    s->out.len += n + 2;
}

/* Write what is queued; wait (bounded by the idle timeout) while the
 * writer holds more than its high water mark, so a client that sends
 * commands without reading replies cannot make us buffer without end. */
static int flush(sess *s) {
    if (s->failed) return -EPIPE;
    if (s->out.len == 0) return 0;
    int rc = corio_writer_write(s->w, s->out.p, s->out.len);
    s->out.len = 0;
    if (rc == 0 && corio_writer_buffered(s->w) > 0) {
        corio_timeout to;
        if ((rc = corio_timeout_enter(&to, s->cfg->timeout)) == 0)
            rc = corio_timeout_exit(&to, corio_writer_drain(s->w));
    }
    if (rc < 0) s->failed = 1;
    return rc;
}

/* ---- input -------------------------------------------------------------------- */

/* Read more into the input buffer after writing the replies owed.
 * Returns the count, 0 at end of stream, or a negative errno; on idle
 * timeout sends 421 and returns -ETIMEDOUT. */
static int fill(sess *s) {
    int rc = flush(s);
    if (rc < 0) return rc;
    if (s->in_off > 0) {
        memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
        s->in_len -= s->in_off;
        s->in_off = 0;
    }
    size_t room = s->in_cap - s->in_len;
    if (room == 0) return -ENOBUFS; /* cannot happen: callers consume before the buffer fills */
    corio_timeout to;
    if ((rc = corio_timeout_enter(&to, s->cfg->timeout)) < 0) return rc;
    ssize_t n = corio_reader_read(s->r, s->in + s->in_len, room);
    rc = corio_timeout_exit(&to, n < 0 ? (int)n : 0);
    if (rc == -ETIMEDOUT) {
        char msg[300];
        snprintf(msg, sizeof msg, "421 4.4.2 %s Error: timeout exceeded", s->cfg->hostname);
        push(s, msg);
        flush(s);
        s->done = 1;
        return rc;
    }
    if (rc < 0) {
        s->failed = 1;
        return rc;
    }
    s->in_len += (size_t)n;
    return (int)n;
}

/*
 * The next command line, CR LF (or a bare LF) removed.  Returns 1 with
 * *line / *len (a view into the input buffer, valid until the next call;
 * the byte after it is overwritten with NUL), 2 for a line longer than
 * the line limit (read to its end and dropped), 0 at end of stream, or a
 * negative errno.
 */
static int next_line(sess *s, char **line, size_t *len) {
    int overlong = 0;
    for (;;) {
        char *b = s->in + s->in_off;
        size_t avail = s->in_len - s->in_off;
        char *nl = memchr(b, '\n', avail);
        if (nl) {
            size_t l = (size_t)(nl - b);
            s->in_off += l + 1;
            if (overlong) return 2;
            if (l + 1 > s->cfg->line_limit) return 2;
            if (l > 0 && b[l - 1] == '\r') l--;
            b[l] = 0;
            *line = b;
            *len = l;
            return 1;
        }
        if (avail > s->cfg->line_limit) {
            /* No end in sight: drop what we have (as aiosmtpd does) and
             * keep reading until the line's end. */
            overlong = 1;
            s->in_off = s->in_len;
        }
        int rc = fill(s);
        if (rc <= 0) return rc;
    }
}

/* ---- hooks -------------------------------------------------------------------- */

/* A fixed reply text (no formatting: most replies are constants). */
static void reply_str(corio_smtp_reply *reply, const char *text) {
    size_t n = strlen(text);
    memcpy(reply->text, text, n + 1);
}

/* Run a hook's outcome into the reply: a failure becomes 451, a reply
 * text without a valid code becomes 451 too (never send garbage).
 * Returns the reply's code. */
static int hook_done(sess *s, int rc, corio_smtp_reply *reply) {
    (void)s;
    if (rc < 0) {
        corio_smtp_reply_set(reply, "451 4.3.0 Error: %s", corio_strerror(rc));
        return 451;
    }
    /* A multi-line reply is "ddd-text\r\n...ddd text": every CR must start
     * a CRLF followed by a code, so that a handler's text can never
     * smuggle a line of its own making into the stream. */
    int code = corio_smtp_reply_code(reply->text);
    int ok = code >= 0;
    for (const char *p = reply->text; ok && (p = strpbrk(p, "\r\n")) != NULL; p += 2)
        if (p[0] != '\r' || p[1] != '\n' || corio_smtp_reply_code(p + 2) < 0) ok = 0;
    if (!ok) {
        reply_str(reply, "451 4.3.0 Error: bad reply from handler");
        return 451;
    }
    return code;
}

/* ---- commands ----------------------------------------------------------------- */

static int is_2xx(int code) { return code >= 200 && code < 300; }

static char *dup_str(const char *p) {
    size_t n = strlen(p) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, p, n);
    return d;
}

static void upcase(char *p) {
    for (; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
}

static int need_helo(sess *s, const char *which) {
    if (s->pub.host_name) return 0;
    char msg[64];
    snprintf(msg, sizeof msg, "503 Error: send %s first", which);
    push(s, msg);
    return 1;
}

static int need_auth(sess *s) {
    if (!s->cfg->auth_required || s->pub.authenticated) return 0;
    push(s, "530 5.7.0 Authentication required");
    return 1;
}

static void set_host(sess *s, const char *name) {
    char *d = dup_str(name);
    if (!d) {
        s->failed = 1;
        return;
    }
    free(s->host_name);
    s->host_name = d;
    s->pub.host_name = d;
}

static int auth_offered(sess *s) { return s->h->auth && (s->pub.tls || s->cfg->auth_plaintext); }

static int cmd_helo(sess *s, const char *arg) {
    if (!*arg) {
        push(s, "501 Syntax: HELO hostname");
        return 0;
    }
    env_reset(s);
    s->pub.extended_smtp = 0;
    corio_smtp_reply reply;
    corio_smtp_reply_set(&reply, "250 %s", s->cfg->hostname);
    int code = hook_done(s, s->h->helo ? s->h->helo(&s->pub, arg, &reply) : 0, &reply);
    if (is_2xx(code)) set_host(s, arg);
    push(s, reply.text);
    return 0;
}

static int cmd_ehlo(sess *s, const char *arg) {
    if (!*arg) {
        push(s, "501 Syntax: EHLO hostname");
        return 0;
    }
    env_reset(s);
    s->pub.extended_smtp = 1;
    corio_smtp_reply reply;
    char size[40] = "SIZE";
    if (s->cfg->data_limit != SIZE_MAX) snprintf(size, sizeof size, "SIZE %zu", s->cfg->data_limit);
    snprintf(reply.text, sizeof reply.text, "250-%s\r\n250-%s\r\n250-8BITMIME\r\n%s%s250-PIPELINING\r\n%s%s250 HELP",
             s->cfg->hostname, size, s->cfg->smtputf8 ? "250-SMTPUTF8\r\n" : "",
             s->cfg->tls_ctx && !s->pub.tls ? "250-STARTTLS\r\n" : "", s->cfg->chunking ? "250-CHUNKING\r\n" : "",
             auth_offered(s) ? "250-AUTH LOGIN PLAIN\r\n" : "");
    int code = hook_done(s, s->h->ehlo ? s->h->ehlo(&s->pub, arg, &reply) : 0, &reply);
    if (is_2xx(code)) set_host(s, arg);
    push(s, reply.text);
    return 0;
}

/* MAIL and RCPT parameters: "KEY[=VALUE]" words (RFC 5321 4.1.2's
 * esmtp-param, as aiosmtpd checks them: an alphanumeric key, a value
 * after '=' when there is one). */
typedef struct mail_params {
    int body8, smtputf8, has_size, bad_body, smtputf8_arg, unknown;
    size_t size;
} mail_params;

static int parse_params(char *params, mail_params *mp) {
    memset(mp, 0, sizeof *mp);
    char *save = NULL;
    for (char *tok = strtok_r(params, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        char *key_end = eq ? eq : tok + strlen(tok);
        if (key_end == tok) return -EINVAL;
        for (char *k = tok; k < key_end; k++)
            if (!((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9'))) return -EINVAL;
        if (eq && eq[1] == 0) return -EINVAL;
        size_t kl = (size_t)(key_end - tok);
        const char *val = eq ? eq + 1 : NULL;
        if (kl == 4 && memcmp(tok, "BODY", 4) == 0) {
            if (val && strcmp(val, "8BITMIME") == 0) mp->body8 = 1;
            else if (!val || strcmp(val, "7BIT") != 0) mp->bad_body = 1;
        } else if (kl == 8 && memcmp(tok, "SMTPUTF8", 8) == 0) {
            if (val) mp->smtputf8_arg = 1;
            mp->smtputf8 = 1;
        } else if (kl == 4 && memcmp(tok, "SIZE", 4) == 0) {
            if (!val) return -EINVAL;
            size_t v = 0;
            for (const char *d = val; *d; d++) {
                if (*d < '0' || *d > '9') return -EINVAL;
                v = v > (SIZE_MAX - 9) / 10 ? SIZE_MAX : v * 10 + (size_t)(*d - '0');
            }
            mp->has_size = 1;
            mp->size = v;
        } else {
            mp->unknown = 1;
        }
    }
    return 0;
}

/* The parameters after a MAIL FROM or RCPT TO path: *opts gets them
 * upper-cased (owned by the caller, for the envelope), *mp what they say;
 * *any (if not NULL) whether a parameter was left after parsing.  Returns
 * 0, 1 when they do not parse (*opts still set), or -ENOMEM (nothing set). */
static int take_params(const char *params, char **opts, mail_params *mp, int *any) {
    char *o = dup_str(params);
    if (!o) return -ENOMEM;
    upcase(o);
    char *work = dup_str(o);
    if (!work) {
        free(o);
        return -ENOMEM;
    }
    int rc = parse_params(work, mp);
    if (any) *any = work[0] != 0;
    free(work);
    *opts = o;
    return rc < 0 ? 1 : 0;
}

static int cmd_mail(sess *s, const char *arg) {
    if (need_helo(s, "HELO") || need_auth(s)) return 0;
    const char *syntaxerr =
        s->pub.extended_smtp ? "501 Syntax: MAIL FROM: <address> [SP <mail-parameters>]" : "501 Syntax: MAIL FROM: <address>";
    char addr[CORIO_SMTP_COMMAND_SIZE_LIMIT + 64];
    const char *params = NULL;
    int rc = corio_smtp_parse_path(arg, "FROM:", addr, sizeof addr, &params);
    if (rc == -EILSEQ || rc == -ENAMETOOLONG) {
        push(s, "553 5.1.3 Error: malformed address");
        return 0;
    }
    if (rc < 0) {
        push(s, syntaxerr);
        return 0;
    }
    if (!s->pub.extended_smtp && *params) {
        push(s, syntaxerr);
        return 0;
    }
    if (s->env.mail_from) {
        push(s, "503 Error: nested MAIL command");
        return 0;
    }
    char *opts;
    mail_params mp;
    if ((rc = take_params(params, &opts, &mp, NULL)) < 0) return rc;
    const char *err = NULL;
    if (rc > 0) err = syntaxerr;
    else if (mp.bad_body) err = "501 Error: BODY can only be one of 7BIT, 8BITMIME";
    else if (mp.smtputf8_arg) err = "501 Error: SMTPUTF8 takes no arguments";
    else if (mp.smtputf8 && !s->cfg->smtputf8) err = "501 Error: SMTPUTF8 disabled";
    else if (mp.has_size && s->cfg->data_limit != SIZE_MAX && mp.size > s->cfg->data_limit)
        err = "552 Error: message size exceeds fixed maximum message size";
    else if (mp.unknown) err = "555 MAIL FROM parameters not recognized or not implemented";
    if (err) {
        free(opts);
        push(s, err);
        return 0;
    }
    corio_smtp_reply reply;
    reply_str(&reply, "250 OK");
    int code = hook_done(s, s->h->mail ? s->h->mail(&s->pub, &s->env, addr, opts, &reply) : 0, &reply);
    if (is_2xx(code)) {
        s->env.mail_from = dup_str(addr);
        s->env.mail_options = opts;
        opts = NULL;
        s->env.smtputf8 = mp.smtputf8;
        s->env.body_8bitmime = mp.body8;
        s->env.declared_size = mp.has_size ? mp.size : 0;
        if (!s->env.mail_from) {
            free(opts);
            return -ENOMEM;
        }
    }
    free(opts);
    push(s, reply.text);
    return 0;
}

static int cmd_rcpt(sess *s, const char *arg) {
    if (need_helo(s, "HELO") || need_auth(s)) return 0;
    if (!s->env.mail_from) {
        push(s, "503 Error: need MAIL command");
        return 0;
    }
    if (s->bdat) {
        push(s, "503 5.5.1 Error: RCPT after BDAT");
        return 0;
    }
    const char *syntaxerr =
        s->pub.extended_smtp ? "501 Syntax: RCPT TO: <address> [SP <mail-parameters>]" : "501 Syntax: RCPT TO: <address>";
    char addr[CORIO_SMTP_COMMAND_SIZE_LIMIT + 64];
    const char *params = NULL;
    int rc = corio_smtp_parse_path(arg, "TO:", addr, sizeof addr, &params);
    if (rc == -EILSEQ || rc == -ENAMETOOLONG) {
        push(s, "553 5.1.3 Error: malformed address");
        return 0;
    }
    if (rc < 0 || !addr[0] || (!s->pub.extended_smtp && *params)) {
        push(s, syntaxerr);
        return 0;
    }
    char *opts;
    mail_params mp;
    int any;
    if ((rc = take_params(params, &opts, &mp, &any)) < 0) return rc;
    if (rc > 0) {
        free(opts);
        push(s, syntaxerr);
        return 0;
    }
    if (any) {
        free(opts);
        push(s, "555 RCPT TO parameters not recognized or not implemented");
        return 0;
    }
    if (s->env.rcpt_count >= MAX_RCPTS) {
        free(opts);
        push(s, "452 4.5.3 Error: too many recipients");
        return 0;
    }
    corio_smtp_reply reply;
    reply_str(&reply, "250 OK");
    int code = hook_done(s, s->h->rcpt ? s->h->rcpt(&s->pub, &s->env, addr, opts, &reply) : 0, &reply);
    if (is_2xx(code)) {
        corio_smtp_envelope *e = &s->env;
        char **t = realloc(e->rcpt_tos, (e->rcpt_count + 1) * sizeof *t);
        if (t) e->rcpt_tos = t;
        char **o = realloc(e->rcpt_options, (e->rcpt_count + 1) * sizeof *o);
        if (o) e->rcpt_options = o;
        char *a = dup_str(addr);
        if (!t || !o || !a) {
            free(a);
            free(opts);
            return -ENOMEM;
        }
        e->rcpt_tos[e->rcpt_count] = a;
        e->rcpt_options[e->rcpt_count] = opts;
        e->rcpt_count++;
        opts = NULL;
    }
    free(opts);
    push(s, reply.text);
    return 0;
}

/* The transaction's content is complete: hand it to the data hook and
 * queue its reply.  0, or -ENOMEM. */
static int deliver(sess *s) {
    /* A NUL after the content, not counted: handlers may use string
     * functions on it (the content itself may hold NULs). */
    if (smtp_buf_reserve(&s->content, 1) < 0) return -ENOMEM;
    s->content.p[s->content.len] = 0;
    s->env.content = (unsigned char *)s->content.p;
    s->env.content_len = s->content.len;
    corio_smtp_reply reply;
    reply_str(&reply, "250 OK");
    hook_done(s, s->h->data ? s->h->data(&s->pub, &s->env, &reply) : 0, &reply);
    push(s, reply.text);
    /* With nothing more from the client to answer in the same write, the
     * reply goes now: the next read would send it anyway, and the
     * envelope's freeing then comes after it, not between the message
     * and its reply. */
    if (s->in_off == s->in_len) flush(s);
    return 0;
}

/*
 * Receive the message after 354.  Lines end at LF; the message ends at a
 * line ".\r\n" that follows a CRLF (or starts the data): see the header
 * on SMTP smuggling.  A leading dot is removed from every line.  Returns
 * the DATA_* state, or a negative errno when the connection ended first.
 */
static int receive_data(sess *s) {
    const cfg *c = s->cfg;
    int state = DATA_NOMINAL;
    int prev_crlf = 1;     /* the previous line ended with CRLF */
    size_t cur = 0;        /* bytes of an over-long line already dropped */
    int last_cr = 0;       /* ... of which the last was CR */
    size_t total = 0;      /* content bytes so far */
    smtp_buf *out = &s->content;
    if (s->env.declared_size && s->env.declared_size <= c->data_limit) {
        /* Trust SIZE= for a first allocation, up to 1 MiB: a client that
         * lies costs us no more than that. */
        size_t want = s->env.declared_size + 16;
        if (smtp_buf_reserve(out, want < (1u << 20) ? want : (1u << 20)) < 0) return -ENOMEM;
    } else if (smtp_buf_reserve(out, 4096) < 0) { /* most mail fits: no regrowth */
        return -ENOMEM;
    }
    for (;;) {
        char *b = s->in + s->in_off;
        size_t avail = s->in_len - s->in_off;
        char *nl = memchr(b, '\n', avail);
        if (!nl) {
            if (avail > 0 && cur + avail > c->line_limit) {
                /* An over-long line: drop it as it comes, so the buffer
                 * never holds more than a line's worth. */
                if (state == DATA_NOMINAL) smtp_buf_free(out);
                state = state == DATA_NOMINAL ? DATA_TOO_LONG : state;
                cur += avail;
                last_cr = b[avail - 1] == '\r';
                s->in_off = s->in_len;
            }
            int rc = fill(s);
            if (rc < 0) return rc;
            if (rc == 0) return -ECONNRESET; /* the client left mid-DATA */
            continue;
        }
        size_t l = (size_t)(nl - b) + 1;
        s->in_off += l;
        if (cur == 0 && prev_crlf && l == 3 && b[0] == '.' && b[1] == '\r') return state;
        int crlf = l >= 2 ? b[l - 2] == '\r' : last_cr;
        if (cur) {
            /* The end of an over-long line. */
            cur = 0;
            last_cr = 0;
            prev_crlf = crlf;
            continue;
        }
        prev_crlf = crlf;
        if (state != DATA_NOMINAL) continue;
        if (l > c->line_limit) {
            state = DATA_TOO_LONG;
            smtp_buf_free(out);
            continue;
        }
        const char *src = b;
        size_t n = l;
        if (*src == '.') {
            src++;
            n--;
        }
        if (c->data_limit != SIZE_MAX && total + n > c->data_limit) {
            state = DATA_TOO_MUCH;
            smtp_buf_free(out);
            continue;
        }
        if (smtp_buf_append(out, src, n) < 0) {
            /* Out of memory for this message: answer as too much data
             * (452 would be better, but the limit reply is what clients
             * know) rather than dropping the connection. */
            state = DATA_TOO_MUCH;
            smtp_buf_free(out);
            continue;
        }
        total += n;
    }
}

static int cmd_data(sess *s, const char *arg) {
    if (need_helo(s, "HELO") || need_auth(s)) return 0;
    if (!s->env.rcpt_count) {
        push(s, "503 Error: need RCPT command");
        return 0;
    }
    if (*arg) {
        push(s, "501 Syntax: DATA");
        return 0;
    }
    if (s->bdat) {
        /* RFC 3030 2: DATA and BDAT are not mixed in one transaction. */
        push(s, "503 5.5.1 Error: DATA after BDAT");
        return 0;
    }
    push(s, "354 End data with <CR><LF>.<CR><LF>");
    int state = receive_data(s);
    if (state < 0) return state;
    if (state == DATA_TOO_LONG) push(s, "500 Line too long (see RFC5321 4.5.3.1.6)");
    else if (state == DATA_TOO_MUCH) push(s, "552 Error: Too much mail data");
    else if ((state = deliver(s)) < 0)
        return state;
    env_reset(s);
    return 0;
}

/* Read and drop n octets of input (a refused chunk).  0, or a negative
 * errno when the connection ended or went idle first. */
static int skip(sess *s, size_t n) {
    while (n > 0) {
        size_t avail = s->in_len - s->in_off;
        if (avail == 0) {
            int rc = fill(s);
            if (rc < 0) return rc;
            if (rc == 0) return -ECONNRESET;
            continue;
        }
        size_t k = avail < n ? avail : n;
        s->in_off += k;
        n -= k;
    }
    return 0;
}

/*
 * BDAT (RFC 3030): "BDAT <size> [LAST]" followed by exactly size octets,
 * taken as they are (no dot-stuffing, no line limit).  The octets are
 * always read, even when the command is refused, so that they are never
 * taken for commands; only a size that cannot be read as a number (where
 * the chunk ends is then unknown) ends the session.  A refused chunk ends
 * the transaction: the BDATs a pipelining client sent after it find no
 * MAIL and are refused (503) with their octets read and dropped, as RFC
 * 3030 2 asks.  After the last chunk the data hook gets the envelope with
 * the content, exactly as after DATA.
 *
 * p / n: the line after "BDAT", as the client sent it (the words may be
 * separated by spaces or tabs, as Postfix reads them; a NUL or anything
 * else is a syntax error).  Without opts.chunking BDAT is an unknown
 * command, as in aiosmtpd, but its chunk is still skipped: a client that
 * sends BDAT anyway (a misconfigured relay) must not have its message's
 * lines run as commands here - MAIL, RCPT and DATA lines in a message
 * would become mail of somebody else's making.
 */
static int cmd_bdat(sess *s, const char *p, size_t n) {
    const char *end = p + n;
    size_t size = 0, digits = 0;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
        if (size > (SIZE_MAX - 9) / 10) {
            digits = 0; /* more than we can count: where the chunk ends is unknown */
            break;
        }
        size = size * 10 + (size_t)(*p - '0');
    }
    int last = 0;
    const char *q = p;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (digits && p > q && end - p >= 4 && strncasecmp(p, "LAST", 4) == 0) {
        last = 1;
        p += 4;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
    }
    int bad = !digits || p != end;
    if (!s->cfg->chunking) {
        if (s->cfg->require_starttls && !s->pub.tls) {
            push(s, "530 Must issue a STARTTLS command first");
        } else if (--s->bogus < 1) {
            push(s, "502 5.5.1 Too many unrecognized commands, goodbye.");
            s->done = 1;
            return 0;
        } else {
            push(s, "500 Error: command \"BDAT\" not recognized");
        }
        if (bad || (s->cfg->data_limit != SIZE_MAX && size > s->cfg->data_limit)) {
            s->done = 1; /* where its chunk ends is unknown, or it is more than we read */
            return 0;
        }
        return skip(s, size);
    }
    if (bad) {
        push(s, "501 5.5.4 Syntax: BDAT count [LAST]");
        s->done = 1;
        return 0;
    }
    const char *err = NULL;
    char msg[64];
    if (s->cfg->require_starttls && !s->pub.tls) err = "530 Must issue a STARTTLS command first";
    else if (!s->pub.host_name) err = "503 Error: send HELO first";
    else if (s->cfg->auth_required && !s->pub.authenticated) err = "530 5.7.0 Authentication required";
    else if (!s->env.mail_from) err = "503 Error: need MAIL command";
    else if (!s->env.rcpt_count) err = "503 Error: need RCPT command";
    /* A chunk over the size limit (alone or with the chunks before it) is
     * read and dropped like any refused chunk, as Postfix does: RFC 3030
     * has the server read every chunk, and a pipelining client that sent
     * it behind a MAIL refused for its SIZE= must find the session still
     * there.  Reading it costs no memory, and holds the session no longer
     * than commands could, the idle timeout applying to every read. */
    int too_much = !err && s->cfg->data_limit != SIZE_MAX && size > s->cfg->data_limit - s->content.len;
    int keep = !err && !too_much;
    /* The chunk: from the input buffer, then from the stream.  The
     * content grows as octets come (a size announced is not allocated
     * ahead: a client that never sends them costs nothing). */
    size_t left = size;
    while (left > 0) {
        size_t avail = s->in_len - s->in_off;
        if (avail == 0) {
            int rc = fill(s);
            if (rc < 0) return rc;
            if (rc == 0) return -ECONNRESET; /* the client left mid-chunk */
            continue;
        }
        size_t k = avail < left ? avail : left;
        if (keep && smtp_buf_append(&s->content, s->in + s->in_off, k) < 0) {
            /* Out of memory for this message: as too much data, like DATA. */
            too_much = 1;
            keep = 0;
        }
        s->in_off += k;
        left -= k;
    }
    if (err) {
        push(s, err);
        return 0;
    }
    if (too_much) {
        env_reset(s);
        push(s, "552 5.3.4 Error: message size exceeds fixed maximum message size");
        return 0;
    }
    s->bdat = 1;
    if (!last) {
        snprintf(msg, sizeof msg, "250 2.0.0 OK: %zu octets received", size);
        push(s, msg);
        return 0;
    }
    int rc = deliver(s);
    env_reset(s);
    return rc < 0 ? rc : 0;
}

/* Read one AUTH response line (RFC 4954 4): base64, "=" for empty, "*"
 * to abort.  Returns the decoded length, or -1 after pushing the error
 * reply, or a negative errno (< -1) when the connection ended. */
static long auth_response(sess *s, const char *challenge, unsigned char *out, size_t cap) {
    push(s, challenge);
    char *line;
    size_t len;
    int rc = next_line(s, &line, &len);
    if (rc == 0) return -ECONNRESET;
    if (rc < 0) return rc < -1 ? rc : -EIO;
    if (rc == 2) {
        push(s, "501 5.5.2 Can't decode base64");
        return -1;
    }
    while (len && line[len - 1] == ' ') line[--len] = 0;
    if (len == 1 && line[0] == '*') {
        push(s, "501 5.7.0 Auth aborted");
        return -1;
    }
    if (len == 1 && line[0] == '=') return 0;
    long n = corio_smtp_base64_decode(line, len, out, cap);
    if (n < 0) {
        push(s, "501 5.5.2 Can't decode base64");
        return -1;
    }
    return n;
}

/* AUTH as aiosmtpd answers it, also when no auth hook is set (smtp_sink):
 * the command exists (HELP lists it), needs TLS unless plaintext is
 * allowed (538), and with no hook every login fails (535, aiosmtpd's
 * default authenticator) - rather than "500 not recognized". */
static int cmd_auth(sess *s, char *arg) {
    if (need_helo(s, "EHLO")) return 0;
    if (!s->pub.extended_smtp) {
        push(s, "500 Error: command 'AUTH' not recognized");
        return 0;
    }
    if (!s->pub.tls && !s->cfg->auth_plaintext) {
        push(s, "538 5.7.11 Encryption required for requested authentication mechanism");
        return 0;
    }
    if (s->pub.authenticated) {
        push(s, "503 Already authenticated");
        return 0;
    }
    char *save = NULL;
    char *mech = strtok_r(arg, " ", &save);
    char *initial = mech ? strtok_r(NULL, " ", &save) : NULL;
    if (!mech) {
        push(s, "501 Not enough value");
        return 0;
    }
    if (strtok_r(NULL, " ", &save)) {
        push(s, "501 Too many values");
        return 0;
    }
    upcase(mech);
    int plain = strcmp(mech, "PLAIN") == 0;
    if (!plain && strcmp(mech, "LOGIN") != 0) {
        push(s, "504 5.5.4 Unrecognized authentication type");
        return 0;
    }
    /* Decoded credentials fit in a command line's worth of base64. */
    unsigned char a[1024], p[1024];
    long alen = 0, plen = 0;
    const char *login, *password;
    if (plain) {
        if (initial) {
            alen = strcmp(initial, "=") == 0 ? 0 : corio_smtp_base64_decode(initial, strlen(initial), a, sizeof a - 1);
            if (alen < 0) {
                push(s, "501 5.5.2 Can't decode base64");
                return 0;
            }
        } else if ((alen = auth_response(s, "334 ", a, sizeof a - 1)) < 0) {
            return alen == -1 ? 0 : (int)alen;
        }
        /* authzid NUL authcid NUL passwd (RFC 4616); the authzid is ignored. */
        unsigned char *n1 = memchr(a, 0, (size_t)alen);
        unsigned char *n2 = n1 ? memchr(n1 + 1, 0, (size_t)(a + alen - n1 - 1)) : NULL;
        if (!n2 || memchr(n2 + 1, 0, (size_t)(a + alen - n2 - 1))) {
            push(s, "501 5.5.2 Can't split auth value");
            return 0;
        }
        a[alen] = 0;
        login = (const char *)n1 + 1;
        password = (const char *)n2 + 1;
        plen = (long)(a + alen - n2 - 1);
        alen = (long)(n2 - n1 - 1);
    } else {
        if (initial) {
            alen = corio_smtp_base64_decode(initial, strlen(initial), a, sizeof a - 1);
            if (alen < 0) {
                push(s, "501 5.5.2 Can't decode base64");
                return 0;
            }
        } else if ((alen = auth_response(s, "334 VXNlcm5hbWU6", a, sizeof a - 1)) < 0) { /* "Username:" */
            return alen == -1 ? 0 : (int)alen;
        }
        if ((plen = auth_response(s, "334 UGFzc3dvcmQ6", p, sizeof p - 1)) < 0) /* "Password:" */
            return plen == -1 ? 0 : (int)plen;
        a[alen] = 0;
        p[plen] = 0;
        login = (const char *)a;
        password = (const char *)p;
    }
    corio_smtp_reply reply;
    reply_str(&reply, "535 5.7.8 Authentication credentials invalid");
    int ok = s->h->auth ? s->h->auth(&s->pub, mech, login, (size_t)alen, password, (size_t)plen, &reply) : 0;
    if (ok > 0) {
        char *d = malloc((size_t)alen + 1);
        if (!d) return -ENOMEM;
        memcpy(d, login, (size_t)alen + 1);
        free(s->login);
        s->login = d;
        s->pub.login = d;
        s->pub.authenticated = 1;
        if (!is_2xx(corio_smtp_reply_code(reply.text)) || corio_smtp_reply_code(reply.text) != 235)
            reply_str(&reply, "235 2.7.0 Authentication successful");
    } else if (ok < 0) {
        hook_done(s, ok, &reply);
    } else if (hook_done(s, 0, &reply) == 235) {
        reply_str(&reply, "535 5.7.8 Authentication credentials invalid");
    }
    explicit_bzero(a, sizeof a);
    explicit_bzero(p, sizeof p);
    push(s, reply.text);
    return 0;
}

static const char *const help_syntax[][2] = {
    {"AUTH", "AUTH <mechanism>"},
    {"DATA", "DATA"},
    {"EHLO", "EHLO hostname"},
    {"HELO", "HELO hostname"},
    {"HELP", "HELP [command]"},
    {"MAIL", "MAIL FROM: <address>"},
    {"NOOP", "NOOP [ignored]"},
    {"QUIT", "QUIT"},
    {"RCPT", "RCPT TO: <address>"},
    {"RSET", "RSET"},
    {"VRFY", "VRFY <address>"},
    {"STARTTLS", "STARTTLS"},
    {"BDAT", "BDAT count [LAST]"},
};

static int cmd_help(sess *s, char *arg) {
    if (need_auth(s)) return 0;
    int code = 250;
    if (*arg) {
        upcase(arg);
        for (size_t i = 0; i < sizeof help_syntax / sizeof help_syntax[0]; i++) {
            if (i == 11 && !s->cfg->tls_ctx) continue; /* STARTTLS: only when offered */
            if (i == 12 && !s->cfg->chunking) continue; /* BDAT: likewise */
            if (strcmp(arg, help_syntax[i][0]) == 0) {
                char msg[128];
                int ext = s->pub.extended_smtp && (i == 5 || i == 8);
                snprintf(msg, sizeof msg, "250 Syntax: %s%s", help_syntax[i][1], ext ? " [SP <mail-parameters>]" : "");
                push(s, msg);
                return 0;
            }
        }
        code = 501;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "%d Supported commands: AUTH %sDATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET %sVRFY", code,
             s->cfg->chunking ? "BDAT " : "", s->cfg->tls_ctx ? "STARTTLS " : "");
    push(s, msg);
    return 0;
}

static int cmd_vrfy(sess *s, const char *arg) {
    if (need_auth(s)) return 0;
    if (!*arg) {
        push(s, "501 Syntax: VRFY <address>");
        return 0;
    }
    char addr[CORIO_SMTP_COMMAND_SIZE_LIMIT + 64];
    char with_kw[CORIO_SMTP_COMMAND_SIZE_LIMIT + 80];
    const char *params;
    snprintf(with_kw, sizeof with_kw, "X:%s", arg);
    if (corio_smtp_parse_path(with_kw, "X:", addr, sizeof addr, &params) < 0) {
        char msg[CORIO_SMTP_COMMAND_SIZE_LIMIT + 64];
        snprintf(msg, sizeof msg, "502 Could not VRFY %s", arg);
        push(s, msg);
        return 0;
    }
    corio_smtp_reply reply;
    reply_str(&reply, "252 Cannot VRFY user, but will accept message and attempt delivery");
    hook_done(s, s->h->vrfy ? s->h->vrfy(&s->pub, addr, &reply) : 0, &reply);
    push(s, reply.text);
    return 0;
}

/*
 * STARTTLS (RFC 3207).  Whatever the client sent after the command and
 * before the handshake is thrown away, from our buffer and the stream's
 * (CVE-2011-0411: a man in the middle appends commands to the plaintext
 * STARTTLS, and a server that reads them after the switch treats them as
 * sent over TLS).  After the handshake the session starts over: no HELO
 * name, no transaction, no AUTH.  A failed handshake ends the session.
 */
static int cmd_starttls(sess *s, const char *arg) {
    if (*arg) {
        push(s, "501 Syntax: STARTTLS");
        return 0;
    }
    if (!s->cfg->tls_ctx) {
        push(s, "454 TLS not available");
        return 0;
    }
    if (s->pub.tls) {
        push(s, "503 Error: TLS already active");
        return 0;
    }
#if CORIO_SMTP_HAVE_TLS
    push(s, "220 Ready to start TLS");
    int rc = flush(s);
    if (rc < 0) return rc;
    s->in_off = s->in_len = 0;
    corio_tls_start_opts o = {.buffered = CORIO_TLS_DISCARD_BUFFERED};
    corio_reader *tr;
    corio_writer *tw;
    rc = corio_start_tls(s->r, s->w, s->cfg->tls_ctx, NULL, &o, &tr, &tw);
    if (rc < 0) {
        s->failed = 1; /* mid-handshake: nothing sensible can be written */
        return rc;
    }
    s->r = s->tls_r = tr;
    s->w = s->tls_w = tw;
    s->pub.reader = tr;
    s->pub.writer = tw;
    s->pub.tls = 1;
    env_reset(s);
    free(s->host_name);
    s->host_name = NULL;
    s->pub.host_name = NULL;
    s->pub.extended_smtp = 0;
    s->pub.authenticated = 0;
    free(s->login);
    s->login = NULL;
    s->pub.login = NULL;
    return 0;
#else
    push(s, "454 TLS not available");
    return 0;
#endif
}

/* What may precede STARTTLS when it is required (aiosmtpd's list). */
static int allowed_before_tls(const char *verb) {
    return !strcmp(verb, "NOOP") || !strcmp(verb, "EHLO") || !strcmp(verb, "STARTTLS") || !strcmp(verb, "QUIT");
}

/* One command line.  Returns 0 to go on, a negative errno to end. */
static int dispatch(sess *s, char *line, size_t len) {
    if (len == 0) {
        push(s, "500 Error: bad syntax");
        return 0;
    }
    /* BDAT before any other check: whatever is refused (a NUL or 8-bit
     * byte in its line, CHUNKING not offered), its chunk must not be
     * taken for commands. */
    if (len >= 4 && strncasecmp(line, "BDAT", 4) == 0 && (len == 4 || line[4] == ' ' || line[4] == '\t'))
        return cmd_bdat(s, line + 4, len - 4);
    /* A NUL would cut the line short of what the client sent. */
    if (memchr(line, 0, len)) {
        push(s, "500 Error: bad syntax");
        return 0;
    }
    char *sp = memchr(line, ' ', len);
    size_t vlen = sp ? (size_t)(sp - line) : len;
    char verb[16];
    if (vlen == 0 || vlen >= sizeof verb) {
        for (size_t i = 0; i < vlen; i++)
            if ((unsigned char)line[i] >= 0x80) {
                push(s, "500 Error: bad syntax");
                return 0;
            }
        if (vlen == 0) {
            push(s, "500 Error: bad syntax");
            return 0;
        }
        vlen = 0; /* too long for any command: unknown */
    }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch >= 0x80) {
            push(s, "500 Error: bad syntax");
            return 0;
        }
        verb[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    verb[vlen] = 0;
    char *arg = sp ? sp + 1 : line + len;
    /* aiosmtpd strips the argument of whitespace on both sides. */
    while (*arg == ' ' || *arg == '\t') arg++;
    char *end = line + len;
    while (end > arg && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
    if (!s->cfg->smtputf8)
        for (char *p = arg; *p; p++)
            if ((unsigned char)*p >= 0x80) {
                push(s, "500 Error: strict ASCII mode");
                return 0;
            }
    size_t max = s->pub.extended_smtp && strcmp(verb, "MAIL") == 0 ? s->cfg->mail_limit : s->cfg->cmd_limit;
    if (len > max) {
        push(s, "500 Command line too long");
        return 0;
    }
    if (s->cfg->require_starttls && !s->pub.tls && !allowed_before_tls(verb)) {
        push(s, "530 Must issue a STARTTLS command first");
        return 0;
    }
    switch (vlen) {
    case 4:
        if (!memcmp(verb, "HELO", 4)) return cmd_helo(s, arg);
        if (!memcmp(verb, "EHLO", 4)) return cmd_ehlo(s, arg);
        if (!memcmp(verb, "MAIL", 4)) return cmd_mail(s, arg);
        if (!memcmp(verb, "RCPT", 4)) return cmd_rcpt(s, arg);
        if (!memcmp(verb, "DATA", 4)) return cmd_data(s, arg);
        if (!memcmp(verb, "RSET", 4)) {
            if (*arg) {
                push(s, "501 Syntax: RSET");
                return 0;
            }
            env_reset(s);
            corio_smtp_reply reply;
            reply_str(&reply, "250 OK");
            hook_done(s, s->h->rset ? s->h->rset(&s->pub, &reply) : 0, &reply);
            push(s, reply.text);
            return 0;
        }
        if (!memcmp(verb, "NOOP", 4)) {
            corio_smtp_reply reply;
            reply_str(&reply, "250 OK");
            hook_done(s, s->h->noop ? s->h->noop(&s->pub, arg, &reply) : 0, &reply);
            push(s, reply.text);
            return 0;
        }
        if (!memcmp(verb, "QUIT", 4)) {
            if (*arg) {
                push(s, "501 Syntax: QUIT");
                return 0;
            }
            corio_smtp_reply reply;
            reply_str(&reply, "221 Bye");
            hook_done(s, s->h->quit ? s->h->quit(&s->pub, &reply) : 0, &reply);
            push(s, reply.text);
            s->done = 1;
            return 0;
        }
        if (!memcmp(verb, "VRFY", 4)) return cmd_vrfy(s, arg);
        if (!memcmp(verb, "HELP", 4)) return cmd_help(s, arg);
        if (!memcmp(verb, "AUTH", 4)) return cmd_auth(s, arg);
        if (!memcmp(verb, "EXPN", 4)) {
            push(s, "502 EXPN not implemented");
            return 0;
        }
        break;
    case 8:
        if (!memcmp(verb, "STARTTLS", 8)) return cmd_starttls(s, arg);
        break;
    }
    if (--s->bogus < 1) {
        push(s, "502 5.5.1 Too many unrecognized commands, goodbye.");
        s->done = 1;
        return 0;
    }
    char msg[64];
    snprintf(msg, sizeof msg, "500 Error: command \"%s\" not recognized", vlen ? verb : "?");
    push(s, msg);
    return 0;
}

/* ---- a session ---------------------------------------------------------------- */

static int session_run(sess *s) {
    corio_smtp_reply reply;
    corio_smtp_reply_set(&reply, "220 %s %s", s->cfg->hostname, s->cfg->ident);
    int code = hook_done(s, s->h->connect ? s->h->connect(&s->pub, &reply) : 0, &reply);
    push(s, reply.text);
    if (!is_2xx(code)) return flush(s);
    int rc = 0;
    while (!s->done && !s->failed) {
        char *line;
        size_t len;
        rc = next_line(s, &line, &len);
        if (rc <= 0) break;
        if (rc == 2) {
            push(s, "500 Command line too long");
            continue;
        }
        rc = dispatch(s, line, len);
        if (rc < 0) break;
    }
    if (rc == -ETIMEDOUT) rc = 0; /* the 421 went out in fill() */
    if (rc == -ENOMEM && !s->failed) {
        push(s, "421 4.3.0 Error: out of memory, closing connection");
        rc = 0;
    }
    int frc = flush(s);
    if (rc == -ECONNRESET || rc == -EPIPE) rc = 0; /* a client leaving is not our error */
    return rc < 0 ? rc : (frc == -ECONNRESET || frc == -EPIPE ? 0 : frc);
}

static int serve(corio_reader *r, corio_writer *w, const char *peer, const corio_smtp_handler *handler, void *arg,
                 const cfg *cp) {
    const cfg *cfgp = cp;
    sess *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->h = handler;
    s->cfg = cfgp;
    s->r = r;
    s->w = w;
    s->bogus = BOGUS_LIMIT;
    /* Room for a whole over-long line's detection plus a read. */
    s->in_cap = cfgp->line_limit * 2 + 2 > IN_BUF ? cfgp->line_limit * 2 + 2 : IN_BUF;
    s->in = malloc(s->in_cap);
    if (!s->in) {
        free(s);
        return -ENOMEM;
    }
    if (peer) snprintf(s->peer, sizeof s->peer, "%s", peer);
    else if (corio_writer_peername(w, s->peer, sizeof s->peer) < 0) snprintf(s->peer, sizeof s->peer, "unknown");
    /* The address without its port: "1.2.3.4:5" and "[::1]:5" forms. */
    snprintf(s->peer_ip, sizeof s->peer_ip, "%s", s->peer);
    char *colon = strrchr(s->peer_ip, ':');
    if (colon && strchr(s->peer_ip, '.') == NULL && s->peer_ip[0] != '[') colon = NULL; /* a bare IPv6 or a path */
    if (colon) *colon = 0;
    if (s->peer_ip[0] == '[') {
        size_t n = strlen(s->peer_ip);
        if (n >= 2 && s->peer_ip[n - 1] == ']') {
            memmove(s->peer_ip, s->peer_ip + 1, n - 2);
            s->peer_ip[n - 2] = 0;
        }
    }
    s->pub.peer = s->peer;
    s->pub.peer_ip = s->peer_ip;
    s->pub.arg = arg;
    s->pub.reader = r;
    s->pub.writer = w;
    int rc = session_run(s);
    if (s->tls_r) {
        /* r and w speak TLS since STARTTLS (upgraded in place): close_notify,
         * then the connection under it (bounded by the TLS context's
         * shutdown timeout); the caller still frees r and w. */
        corio_writer_close(s->tls_w);
        corio_writer_wait_closed(s->tls_w);
    }
    if (handler->disconnect) handler->disconnect(&s->pub);
    env_reset(s);
    smtp_buf_free(&s->content);
    smtp_buf_free(&s->out);
    free(s->in);
    free(s->host_name);
    free(s->login);
    free(s);
    return rc;
}

int corio_smtp_serve_stream(corio_reader *r, corio_writer *w, const char *peer, const corio_smtp_handler *handler,
                            void *arg, const corio_smtp_server_opts *opts) {
    if (!r || !w || !handler) return -EINVAL;
    if (opts && opts->tls_ctx && !corio_smtp_has_tls()) return -ENOTSUP;
    cfg c;
    cfg_init(&c, opts);
    return serve(r, w, peer, handler, arg, &c);
}

/* ---- the listening server ----------------------------------------------------- */

struct corio_smtp_server {
    corio_server *srv;
    const corio_smtp_handler *h;
    void *arg;
    cfg cfg;  /* resolved once: the host name is asked for once, not per connection */
};

static int on_connection(corio_reader *r, corio_writer *w, void *arg) {
    corio_smtp_server *s = arg;
    /* A session's end - a client gone, a timeout, a refused handshake - is
     * the session's business (aiosmtpd logs it at info), not an unhandled
     * error for the stream server to log. */
    int rc = serve(r, w, NULL, s->h, s->arg, &s->cfg);
    return rc == -ECANCELED ? rc : 0;
}

int corio_smtp_server_start(const char *host, int port, const corio_smtp_handler *handler, void *arg,
                            const corio_smtp_server_opts *opts, corio_smtp_server **out) {
    if (!handler || !out) return -EINVAL;
    *out = NULL;
    if (opts && opts->tls_ctx && !corio_smtp_has_tls()) return -ENOTSUP;
    corio_smtp_server *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->h = handler;
    s->arg = arg;
    cfg_init(&s->cfg, opts);
    corio_server_opts so = {0};
    so.max_connections = opts ? opts->max_connections : 0;
    int rc = corio_start_server_opts(host, port, on_connection, s, &so, &s->srv);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int corio_smtp_has_tls(void) { return CORIO_SMTP_HAVE_TLS; }

int corio_smtp_server_port(const corio_smtp_server *s) { return s ? corio_server_port(s->srv) : -EINVAL; }

size_t corio_smtp_server_connections(const corio_smtp_server *s) { return s ? corio_server_connections(s->srv) : 0; }

int corio_smtp_server_close(corio_smtp_server *s, int abort_sessions) {
    return s ? corio_server_close(s->srv, abort_sessions) : -EINVAL;
}

int corio_smtp_server_wait_closed(corio_smtp_server *s) { return s ? corio_server_wait_closed(s->srv) : -EINVAL; }

int corio_smtp_server_free(corio_smtp_server *s) {
    if (!s) return 0;
    int rc = corio_server_free(s->srv);
    if (rc < 0) return rc;
    free(s);
    return 0;
}
