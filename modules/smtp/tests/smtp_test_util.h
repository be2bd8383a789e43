/*
 * smtp_test_util.h - a raw SMTP client for the tests (bytes in, replies
 * out, no cleverness) and a recording handler for the server side.
 */
#ifndef SMTP_TEST_UTIL_H
#define SMTP_TEST_UTIL_H

#include "test.h"
#include "net_util.h"

#include <corio/smtp.h>

/* ---- a recording handler ------------------------------------------------------ */

typedef struct rec {
    int messages;           /* data hook calls */
    char *content;          /* last message's content (malloc'd) */
    size_t content_len;
    char from[256];
    char rcpts[8][256];
    size_t nrcpt;
    char mail_options[256];
    int disconnects;
    int reject_rcpt;        /* RCPT of an address starting "bad" is refused 550 */
    int fail_data;          /* the data hook fails with -EIO */
    double data_delay;      /* the data hook sleeps this long first */
} rec;

static inline int rec_data(corio_smtp_session *s, corio_smtp_envelope *env, corio_smtp_reply *reply) {
    rec *r = s->arg;
    (void)reply;
    if (r->data_delay > 0) {
        int rc = corio_sleep(r->data_delay);
        if (rc < 0) return rc;
    }
    if (r->fail_data) return -EIO;
    r->messages++;
    free(r->content);
    r->content = malloc(env->content_len + 1);
    if (!r->content) return -ENOMEM;
    memcpy(r->content, env->content, env->content_len);
    r->content[env->content_len] = 0;
    r->content_len = env->content_len;
    snprintf(r->from, sizeof r->from, "%s", env->mail_from);
    snprintf(r->mail_options, sizeof r->mail_options, "%s", env->mail_options);
    r->nrcpt = env->rcpt_count;
    for (size_t i = 0; i < env->rcpt_count && i < 8; i++) snprintf(r->rcpts[i], sizeof r->rcpts[i], "%s", env->rcpt_tos[i]);
    return 0;
}

static inline int rec_rcpt(corio_smtp_session *s, corio_smtp_envelope *env, const char *address, const char *params,
                    corio_smtp_reply *reply) {
    rec *r = s->arg;
    (void)env;
    (void)params;
    if (r->reject_rcpt && strncmp(address, "bad", 3) == 0) corio_smtp_reply_set(reply, "550 5.1.1 No such user: %s", address);
    return 0;
}

static inline int rec_auth(corio_smtp_session *s, const char *mech, const char *login, size_t ll, const char *password,
                    size_t pl, corio_smtp_reply *reply) {
    (void)s;
    (void)mech;
    (void)reply;
    return ll == 4 && pl == 6 && memcmp(login, "user", 4) == 0 && memcmp(password, "secret", 6) == 0;
}

static inline void rec_disconnect(corio_smtp_session *s) { ((rec *)s->arg)->disconnects++; }

static inline void rec_free(rec *r) {
    free(r->content);
    r->content = NULL;
}

static const corio_smtp_handler rec_handler = {
    .data = rec_data, .rcpt = rec_rcpt, .auth = rec_auth, .disconnect = rec_disconnect};

/* ---- a raw client ------------------------------------------------------------- */

typedef struct raw {
    corio_reader *r;
    corio_writer *w;
} raw;

static inline int raw_open(raw *c, int port) { return corio_open_connection("127.0.0.1", port, &c->r, &c->w); }

static inline void raw_close(raw *c) {
    corio_stream_close(c->r, c->w);
    c->r = NULL;
    c->w = NULL;
}

static inline int raw_send(raw *c, const void *p, size_t n) { return corio_writer_write(c->w, p, n); }
static inline int raw_sends(raw *c, const char *s) { return raw_send(c, s, strlen(s)); }

/* One whole reply, lines joined by "\n" without CRLF, codes kept.
 * Returns the code, 0 at end of stream, or a negative errno. */
static inline int raw_reply(raw *c, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    corio_timeout to;
    corio_timeout_enter(&to, 20);
    int rc;
    for (;;) {
        const char *line;
        size_t len;
        rc = corio_reader_readline(c->r, &line, &len);
        if (rc < 0) break;
        if (len == 0) break;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (used) buf[used++ < cap - 1 ? used - 1 : cap - 2] = '\n';
        size_t take = len < cap - 1 - used ? len : cap - 1 - used;
        memcpy(buf + used, line, take);
        used += take;
        buf[used] = 0;
        if (len < 4 || line[3] == ' ') {
            rc = atoi(buf + (used - take));
            break;
        }
    }
    return corio_timeout_exit(&to, rc);
}

/* Read a reply and check its exact text. */
#define EXPECT(c, text)                                                                   \
    do {                                                                                  \
        char got_[2048];                                                                  \
        raw_reply((c), got_, sizeof got_);                                                \
        if (strcmp(got_, (text)) != 0) {                                                  \
            fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, \
                    (text), got_);                                                        \
            test_failures++;                                                              \
        }                                                                                 \
    } while (0)

/* A server on a free port of 127.0.0.1 recording what it receives (the
 * rec handler unless the case sets its own), stopped and checked by fx_stop. */
typedef struct fx {
    rec rec;
    corio_smtp_server *srv;
    int port;
    corio_smtp_server_opts opts;
    corio_smtp_handler handler;
} fx;

static inline int fx_start(fx *f) {
    if (!f->opts.hostname) f->opts.hostname = "mx.test";
    if (!f->handler.data) f->handler = rec_handler;
    int rc = corio_smtp_server_start("127.0.0.1", 0, &f->handler, &f->rec, &f->opts, &f->srv);
    CHECK_EQ(rc, 0);
    if (rc < 0) return rc;
    f->port = corio_smtp_server_port(f->srv);
    return 0;
}

static inline void fx_stop(fx *f) {
    CHECK_EQ(corio_smtp_server_close(f->srv, 0), 0);
    CHECK_EQ(corio_smtp_server_wait_closed(f->srv), 0);
    CHECK_EQ(corio_smtp_server_free(f->srv), 0);
    rec_free(&f->rec);
}

#endif
