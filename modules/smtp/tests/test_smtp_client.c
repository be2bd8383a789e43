/*
 * test_smtp_client.c - the SMTP client against our server (dot-stuffing
 * round trips, per-recipient results with and without PIPELINING,
 * refusals with the server's code and text, HELO fallback, AUTH, a 10 MiB
 * message, 50 concurrent senders), against misbehaving servers (silent,
 * garbage) and against aiosmtpd (python3-aiosmtpd) as the real peer.
 */
#include "smtp_test_util.h"

#include <sys/socket.h>
#include <sys/stat.h>

#ifndef SMTP_TEST_SRC
#define SMTP_TEST_SRC "."
#endif

static const char *ONE[] = {"x@y"};

/* ---- round trips -------------------------------------------------------------- */

typedef struct rt_case {
    const char *in;
    size_t in_len;
    const char *want; /* what the server's handler must see */
    size_t want_len;
} rt_case;
#define S(x) x, sizeof(x) - 1

static const rt_case rt_cases[] = {
    {S("Subject: a\r\n\r\nbody\r\n"), S("Subject: a\r\n\r\nbody\r\n")},
    {S(".starts with a dot\r\n..two\r\n.\r\nend\r\n"), S(".starts with a dot\r\n..two\r\n.\r\nend\r\n")},
    {S("no final line end"), S("no final line end\r\n")},
    {S("bare\nLF\n.dot after bare LF\r\n"), S("bare\nLF\n.dot after bare LF\r\n")},
    {S("8 bit: k\xc3\xa4se \xff\r\n"), S("8 bit: k\xc3\xa4se \xff\r\n")},
    {S("nul \0 inside\r\n"), S("nul \0 inside\r\n")},
    {S(""), S("")},
    {S("."), S(".\r\n")},
    {S("\r\n.\r\n"), S("\r\n.\r\n")},
};

/* The round trip and refusal cases run four ways: bit 0 of the mode
 * turns PIPELINING off in the client, bit 1 has the server offer CHUNKING
 * (so that the client sends BDAT). */
enum { MODE_NO_PIPE = 1, MODE_CHUNKING = 2 };

static int roundtrip_main(void *arg) {
    int mode = *(int *)arg, no_pipe = mode & MODE_NO_PIPE;
    fx f = {0};
    f.opts.chunking = (mode & MODE_CHUNKING) != 0;
    if (fx_start(&f) < 0) return 1;
    corio_smtp_client_opts o = {.no_pipelining = no_pipe, .local_hostname = "client.test"};
    corio_smtp_client *c;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", f.port, &o, &c), 0);
    CHECK(corio_smtp_client_has_ext(c, "pipelining"));
    CHECK(strcmp(corio_smtp_client_ext(c, "SIZE"), "33554432") == 0);
    CHECK(corio_smtp_client_ext(c, "STARTTLS") == NULL);
    for (size_t i = 0; i < sizeof rt_cases / sizeof rt_cases[0]; i++) {
        const rt_case *t = &rt_cases[i];
        corio_smtp_rcpt_result res[1];
        CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, t->in, t->in_len, res), 0);
        CHECK_EQ(res[0].code, 250);
        CHECK_EQ(f.rec.messages, (int)i + 1);
        CHECK_EQ(f.rec.content_len, t->want_len);
        if (f.rec.content_len != t->want_len || memcmp(f.rec.content, t->want, t->want_len) != 0)
            fprintf(stderr, "round trip case %zu differs\n", i);
        char opts[64];
        snprintf(opts, sizeof opts, "SIZE=%zu%s", t->in_len, i == 4 ? " BODY=8BITMIME" : "");
        CHECK(strcmp(f.rec.mail_options, opts) == 0);
    }
    /* The same message in pieces that split lines, line starts and CRLFs. */
    static const char whole[] = "X-Peer: 127.0.0.1\r\nSubject: v\r\n\r\n.a\r\nb\n.c\r\n..d";
    struct iovec iov[] = {{(void *)whole, 19}, {(void *)(whole + 19), 14}, {(void *)(whole + 33), 1},
                          {(void *)(whole + 34), 3}, {(void *)(whole + 37), 1}, {(void *)(whole + 38), 0},
                          {(void *)(whole + 38), sizeof whole - 1 - 38}};
    CHECK_EQ(corio_smtp_client_sendv(c, "a@b", ONE, 1, iov, 7, NULL), 0);
    CHECK_EQ(f.rec.content_len, sizeof whole - 1 + 2);
    CHECK(memcmp(f.rec.content, whole, sizeof whole - 1) == 0 && memcmp(f.rec.content + sizeof whole - 1, "\r\n", 2) == 0);
    struct iovec crlf[] = {{(void *)"x\r", 2}, {(void *)"\n", 1}};
    CHECK_EQ(corio_smtp_client_sendv(c, "a@b", ONE, 1, crlf, 2, NULL), 0);
    CHECK(f.rec.content_len == 3 && memcmp(f.rec.content, "x\r\n", 3) == 0);
    /* A UTF-8 address: SMTPUTF8 goes with it. */
    const char *u[] = {"\xc3\xa5sa@example.test"};
    CHECK_EQ(corio_smtp_client_send(c, "a@b", u, 1, "hi\r\n", 4, NULL), 0);
    CHECK(strcmp(f.rec.mail_options, "SIZE=4 SMTPUTF8") == 0);
    /* A 5000-byte line: too long for DATA (500, RFC 5321's limit), taken
     * as it is by BDAT - which tells which of the two the client used. */
    size_t ll = 5002;
    char *longl = malloc(ll);
    CHECK(longl != NULL);
    if (!longl) return 1;
    memset(longl, 'a', ll - 2);
    memcpy(longl + ll - 2, "\r\n", 2);
    int was = f.rec.messages;
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, longl, ll, NULL), f.opts.chunking ? 0 : CORIO_SMTP_EREPLY);
    CHECK_EQ(f.rec.messages, was + (f.opts.chunking ? 1 : 0));
    if (f.opts.chunking) {
        CHECK(f.rec.content_len == ll && memcmp(f.rec.content, longl, ll) == 0);
        /* opts.no_chunking: DATA although CHUNKING is offered. */
        corio_smtp_client_opts o2 = o;
        o2.no_chunking = 1;
        corio_smtp_client *d;
        CHECK_EQ(corio_smtp_client_connect("127.0.0.1", f.port, &o2, &d), 0);
        CHECK(corio_smtp_client_has_ext(d, "CHUNKING"));
        CHECK_EQ(corio_smtp_client_send(d, "a@b", ONE, 1, longl, ll, NULL), CORIO_SMTP_EREPLY);
        CHECK_EQ(corio_smtp_client_code(d), 500);
        CHECK_EQ(corio_smtp_client_send(d, "a@b", ONE, 1, ".x", 2, NULL), 0);
        CHECK(f.rec.content_len == 4 && memcmp(f.rec.content, ".x\r\n", 4) == 0);
        CHECK_EQ(corio_smtp_client_quit(d), 0);
        corio_smtp_client_free(d);
    } else {
        CHECK_EQ(corio_smtp_client_code(c), 500);
    }
    free(longl);
    CHECK_EQ(corio_smtp_client_command(c, "NOOP"), 250);
    CHECK_EQ(corio_smtp_client_command(c, "VRFY <a@b>"), 252);
    CHECK_EQ(corio_smtp_client_command(c, "BAD\r\nQUIT"), -EINVAL);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    CHECK_EQ(corio_smtp_client_code(c), 221);
    corio_smtp_client_free(c);
    fx_stop(&f);
    return 0;
}
static void test_roundtrip(void) {
    int mode = 0;
    test_run(roundtrip_main, &mode, 0);
}
static void test_roundtrip_no_pipelining(void) {
    int mode = MODE_NO_PIPE;
    test_run(roundtrip_main, &mode, 0);
}
static void test_roundtrip_bdat(void) {
    int mode = MODE_CHUNKING;
    test_run(roundtrip_main, &mode, 0);
}
static void test_roundtrip_bdat_no_pipelining(void) {
    int mode = MODE_CHUNKING | MODE_NO_PIPE;
    test_run(roundtrip_main, &mode, 0);
}

/* ---- refusals ----------------------------------------------------------------- */

static int refuse_mail(corio_smtp_session *s, corio_smtp_envelope *env, const char *address, const char *params,
                       corio_smtp_reply *reply) {
    (void)s;
    (void)env;
    (void)params;
    if (strcmp(address, "spam@x") == 0) corio_smtp_reply_set(reply, "550 5.7.1 Go away");
    return 0;
}

static int refusals_main(void *arg) {
    int mode = *(int *)arg, no_pipe = mode & MODE_NO_PIPE;
    fx f = {0};
    f.opts.chunking = (mode & MODE_CHUNKING) != 0;
    f.handler = rec_handler;
    f.handler.mail = refuse_mail;
    f.rec.reject_rcpt = 1;
    if (fx_start(&f) < 0) return 1;
    corio_smtp_client_opts o = {.no_pipelining = no_pipe};
    corio_smtp_client *c;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", f.port, &o, &c), 0);
    const char *mixed[] = {"ok1@y", "bad1@y", "ok2@y", "bad2@y"};
    corio_smtp_rcpt_result res[4];
    CHECK_EQ(corio_smtp_client_send(c, "a@b", mixed, 4, "m\r\n", 3, res), 0);
    CHECK_EQ(res[0].code, 250);
    CHECK_EQ(res[1].code, 550);
    CHECK(strcmp(res[1].text, "5.1.1 No such user: bad1@y") == 0);
    CHECK_EQ(res[2].code, 250);
    CHECK_EQ(res[3].code, 550);
    CHECK_EQ(f.rec.nrcpt, 2);
    CHECK(strcmp(f.rec.rcpts[1], "ok2@y") == 0);
    const char *bad[] = {"bad1@y", "bad2@y"};
    CHECK_EQ(corio_smtp_client_send(c, "a@b", bad, 2, "m\r\n", 3, res), CORIO_SMTP_ERECIPIENTS);
    CHECK_EQ(res[1].code, 550);
    CHECK_EQ(corio_smtp_client_send(c, "spam@x", ONE, 1, "m\r\n", 3, res), CORIO_SMTP_EREPLY);
    CHECK_EQ(corio_smtp_client_code(c), 550);
    CHECK(strcmp(corio_smtp_client_text(c), "5.7.1 Go away") == 0);
    /* The transaction was reset: the next one goes through. */
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "again\r\n", 7, res), 0);
    CHECK_EQ(f.rec.messages, 2);
    f.rec.fail_data = 1;
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "m\r\n", 3, res), CORIO_SMTP_EREPLY);
    CHECK_EQ(corio_smtp_client_code(c), 451);
    f.rec.fail_data = 0;
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "m\r\n", 3, res), 0);
    /* Addresses that would change the command are refused before sending. */
    const char *inj[] = {"x@y>\r\nRCPT TO:<evil@z"};
    CHECK_EQ(corio_smtp_client_send(c, "a@b", inj, 1, "m", 1, res), -EINVAL);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 0, "m", 1, res), -EINVAL);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);
    fx_stop(&f);
    return 0;
}
static void test_refusals(void) {
    int mode = 0;
    test_run(refusals_main, &mode, 0);
}
static void test_refusals_no_pipelining(void) {
    int mode = MODE_NO_PIPE;
    test_run(refusals_main, &mode, 0);
}
static void test_refusals_bdat(void) {
    int mode = MODE_CHUNKING;
    test_run(refusals_main, &mode, 0);
}
static void test_refusals_bdat_no_pipelining(void) {
    int mode = MODE_CHUNKING | MODE_NO_PIPE;
    test_run(refusals_main, &mode, 0);
}

static int refuse_ehlo(corio_smtp_session *s, const char *hostname, corio_smtp_reply *reply) {
    (void)s;
    (void)hostname;
    corio_smtp_reply_set(reply, "502 5.5.1 EHLO not here");
    return 0;
}

static int helo_auth_main(void *arg) {
    (void)arg;
    fx f = {0};
    f.handler = rec_handler;
    f.handler.ehlo = refuse_ehlo;
    if (fx_start(&f) < 0) return 1;
    corio_smtp_client *c;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", f.port, NULL, &c), 0);
    CHECK(!corio_smtp_client_has_ext(c, "SIZE"));
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "via HELO\r\n", 10, NULL), 0);
    CHECK(strcmp(f.rec.mail_options, "") == 0);
    /* No 8BITMIME offered: 8-bit content goes as it is (smtplib's sendmail
     * does the same), without BODY=; a UTF-8 address is refused before
     * anything is sent (smtplib's SMTPNotSupportedError). */
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "k\xc3\xa4se\r\n", 7, NULL), 0);
    CHECK(strcmp(f.rec.mail_options, "") == 0);
    CHECK(f.rec.content_len == 7 && memcmp(f.rec.content, "k\xc3\xa4se\r\n", 7) == 0);
    const char *u8[] = {"\xc3\xa5sa@example.test"};
    CHECK_EQ(corio_smtp_client_send(c, "a@b", u8, 1, "hi\r\n", 4, NULL), -ENOTSUP);
    CHECK(strstr(corio_smtp_client_text(c), "SMTPUTF8") != NULL);
    CHECK_EQ(f.rec.messages, 2);
    CHECK_EQ(corio_smtp_client_command(c, "NOOP"), 250); /* the connection is still in step */
    CHECK_EQ(corio_smtp_client_auth(c, "user", "secret"), -ENOTSUP);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);
    fx_stop(&f);

    /* EHLO without SMTPUTF8: a UTF-8 sender is refused the same way; with
     * body_8bitmime, 7-bit content is declared 8BITMIME too. */
    fx h = {0};
    h.opts.disable_smtputf8 = 1;
    if (fx_start(&h) < 0) return 1;
    corio_smtp_client_opts ho = {.body_8bitmime = 1};
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", h.port, &ho, &c), 0);
    CHECK(corio_smtp_client_has_ext(c, "8BITMIME") && !corio_smtp_client_has_ext(c, "SMTPUTF8"));
    CHECK_EQ(corio_smtp_client_send(c, "\xc3\xa5sa@example.test", ONE, 1, "hi\r\n", 4, NULL), -ENOTSUP);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "hi\r\n", 4, NULL), 0);
    CHECK(strcmp(h.rec.mail_options, "SIZE=4 BODY=8BITMIME") == 0);
    CHECK_EQ(h.rec.messages, 1);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);
    fx_stop(&h);

    fx g = {0};
    g.opts.auth_allow_plaintext = 1;
    g.opts.auth_required = 1;
    if (fx_start(&g) < 0) return 1;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", g.port, NULL, &c), 0);
    CHECK(strcmp(corio_smtp_client_ext(c, "AUTH"), "LOGIN PLAIN") == 0);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "m\r\n", 3, NULL), CORIO_SMTP_EREPLY);
    CHECK_EQ(corio_smtp_client_code(c), 530);
    CHECK_EQ(corio_smtp_client_auth(c, "user", "wrong"), CORIO_SMTP_EREPLY);
    CHECK_EQ(corio_smtp_client_code(c), 535);
    CHECK_EQ(corio_smtp_client_auth(c, "user", "secret"), 0);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "m\r\n", 3, NULL), 0);
    CHECK_EQ(g.rec.messages, 1);
    corio_smtp_client_free(c); /* without QUIT: the server copes */
    fx_stop(&g);
    return 0;
}
static void test_helo_auth(void) { test_run(helo_auth_main, NULL, 0); }

/* ---- size and concurrency ----------------------------------------------------- */

static int big_main(void *arg) {
    fx f = {0};
    f.opts.chunking = arg != NULL; /* the same by BDAT: one chunk of 10 MiB */
    if (fx_start(&f) < 0) return 1;
    const char *e = getenv("CORIO_TEST_BULK_MIB");
    size_t mib = e && *e ? (size_t)atoi(e) : 10;
    if (mib > 10) mib = 10;
    if (mib == 0) mib = 1;
    size_t n = mib << 20;
    char *m = malloc(n);
    CHECK(m != NULL);
    if (!m) return 1;
    /* Lines of varying length from the pattern, dots at line starts. */
    size_t i = 0, k = 0;
    while (i < n) {
        size_t len = 1 + pat[k % PAT_LEN] % 120;
        for (size_t j = 0; j < len && i < n; j++, k++) {
            unsigned char b = pat[k % PAT_LEN];
            m[i++] = j == 0 && (b & 3) == 0 ? '.' : (char)(' ' + b % 90);
        }
        if (i + 2 <= n) {
            m[i++] = '\r';
            m[i++] = '\n';
        }
    }
    memcpy(m + n - 2, "\r\n", 2);
    corio_smtp_client *c;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", f.port, NULL, &c), 0);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, m, n, NULL), 0);
    CHECK_EQ(f.rec.content_len, n);
    CHECK(f.rec.content && memcmp(f.rec.content, m, n) == 0);
    /* Every line a dot: the stuffing doubles it, across staging buffers. */
    for (size_t j = 0; j < 300000; j += 3) memcpy(m + j, ".\r\n", 3);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, m, 300000, NULL), 0);
    CHECK_EQ(f.rec.content_len, 300000);
    CHECK(f.rec.content && memcmp(f.rec.content, m, 300000) == 0);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);
    free(m);
    fx_stop(&f);
    return 0;
}
static void test_big(void) { test_run(big_main, NULL, 0); }
static void test_big_bdat(void) { test_run(big_main, (void *)1, 0); }

#define SENDERS 50
#define PER_SENDER 4

typedef struct sender {
    int port;
    int id;
    int rc;
} sender;

static int sender_main(void *arg) {
    sender *s = arg;
    corio_smtp_client *c;
    s->rc = corio_smtp_client_connect("127.0.0.1", s->port, NULL, &c);
    if (s->rc < 0) return s->rc;
    for (int i = 0; i < PER_SENDER && s->rc == 0; i++) {
        char msg[64], to[32];
        snprintf(msg, sizeof msg, "Subject: %d/%d\r\n\r\nbody\r\n", s->id, i);
        snprintf(to, sizeof to, "r%d@y", s->id);
        const char *rc[] = {to};
        s->rc = corio_smtp_client_send(c, "a@b", rc, 1, msg, strlen(msg), NULL);
    }
    if (s->rc == 0) s->rc = corio_smtp_client_quit(c);
    corio_smtp_client_free(c);
    return s->rc;
}

typedef struct counter {
    int seen[SENDERS][PER_SENDER];
} counter;

static int count_data(corio_smtp_session *s, corio_smtp_envelope *env, corio_smtp_reply *reply) {
    counter *k = s->arg;
    (void)reply;
    int a = -1, b = -1;
    if (sscanf((const char *)env->content, "Subject: %d/%d", &a, &b) == 2 && a >= 0 && a < SENDERS && b >= 0 &&
        b < PER_SENDER)
        k->seen[a][b]++;
    return corio_yield(); /* let the others interleave */
}

static int concurrent_main(void *arg) {
    (void)arg;
    static counter k;
    memset(&k, 0, sizeof k);
    static const corio_smtp_handler h = {.data = count_data};
    corio_smtp_server *srv;
    CHECK_EQ(corio_smtp_server_start("127.0.0.1", 0, &h, &k, NULL, &srv), 0);
    sender s[SENDERS];
    corio_task *t[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        s[i] = (sender){.port = corio_smtp_server_port(srv), .id = i};
        t[i] = corio_spawn(sender_main, &s[i]);
    }
    for (int i = 0; i < SENDERS; i++) {
        corio_join(t[i]);
        CHECK_EQ(s[i].rc, 0);
    }
    int exact = 1;
    for (int i = 0; i < SENDERS; i++)
        for (int j = 0; j < PER_SENDER; j++) exact &= k.seen[i][j] == 1;
    CHECK(exact);
    corio_smtp_server_close(srv, 0);
    CHECK_EQ(corio_smtp_server_wait_closed(srv), 0);
    CHECK_EQ(corio_smtp_server_free(srv), 0);
    return 0;
}
static void test_concurrent(void) { test_run(concurrent_main, NULL, 0); }

/* ---- misbehaving servers ------------------------------------------------------ */

static int garbage_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r;
    const char *what = arg;
    corio_writer_write(w, what, strlen(what));
    corio_sleep(30); /* then say nothing more */
    return 0;
}

static int bad_servers_main(void *arg) {
    (void)arg;
    static const char *const cases[] = {"hello there\r\n", "220-first\r\n221 second\r\n", "554 go away\r\n", ""};
    static const int want[] = {CORIO_SMTP_EPROTO, CORIO_SMTP_EPROTO, CORIO_SMTP_EREPLY, -ETIMEDOUT};
    for (size_t i = 0; i < 4; i++) {
        corio_server *srv;
        CHECK_EQ(corio_start_server("127.0.0.1", 0, garbage_handler, (void *)cases[i], &srv), 0);
        corio_smtp_client_opts o = {.timeout = 0.3};
        corio_smtp_client *c = NULL;
        int rc = corio_smtp_client_connect("127.0.0.1", corio_server_port(srv), &o, &c);
        CHECK_EQ(rc, want[i]);
        if (rc == CORIO_SMTP_EREPLY) {
            CHECK(c != NULL);
            CHECK_EQ(corio_smtp_client_code(c), 554);
            CHECK(strcmp(corio_smtp_client_text(c), "go away") == 0);
        } else {
            CHECK(c == NULL);
        }
        corio_smtp_client_free(c);
        corio_server_close(srv, 1);
        corio_server_wait_closed(srv);
        corio_server_free(srv);
    }
    /* Nobody listening. */
    corio_smtp_client *c = NULL;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", 1, NULL, &c), -ECONNREFUSED);
    return 0;
}
static void test_bad_servers(void) { test_run(bad_servers_main, NULL, 0); }

/* A server that offers PIPELINING and CHUNKING and then reads slowly
 * (64 KiB every 20 ms): arg is the byte count of the batch to read. */
static int slow_reader(corio_reader *r, corio_writer *w, void *arg) {
    size_t want = *(size_t *)arg;
    const char *line;
    size_t len;
    /* Small socket buffers on both sides: the kernel cannot soak up the
     * message, so the client's writes wait on this reader's pace. */
    corio_setsockopt_int(corio_writer_fd(w), SOL_SOCKET, SO_RCVBUF, 65536);
    corio_writer_write(w, "220 slow\r\n", 10);
    if (corio_reader_readline(r, &line, &len) < 0 || len == 0) return 0;
    corio_writer_write(w, "250-slow\r\n250-PIPELINING\r\n250 CHUNKING\r\n", 40);
    char *buf = malloc(65536);
    if (!buf) return -ENOMEM;
    while (want > 0) {
        ssize_t n = corio_reader_read(r, buf, want < 65536 ? want : 65536);
        if (n <= 0) break;
        want -= (size_t)n;
        corio_sleep(0.02);
    }
    free(buf);
    if (want == 0) corio_writer_write(w, "250 OK\r\n250 OK\r\n250 OK\r\n", 24);
    if (corio_reader_readline(r, &line, &len) == 0 && len > 0) corio_writer_write(w, "221 Bye\r\n", 9);
    corio_writer_drain(w);
    return 0;
}

/* A big message over a slow link: the client's timeout bounds each
 * piece, as with DATA, not the whole chunk (8 MiB at 3.2 MiB/s takes
 * seconds; the timeout is 1 s). */
static int slow_bdat_main(void *arg) {
    (void)arg;
    const char *e = getenv("CORIO_TEST_BULK_MIB");
    size_t n = (e && *e && atoi(e) > 0 && atoi(e) < 8 ? (size_t)atoi(e) : 8) << 20;
    char *m = malloc(n);
    CHECK(m != NULL);
    if (!m) return 1;
    memset(m, 'a', n);
    memcpy(m + n - 2, "\r\n", 2);
    char head[96];
    size_t want = (size_t)snprintf(head, sizeof head, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT %zu LAST\r\n", n) + n;
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, slow_reader, &want, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    CHECK_EQ(corio_setsockopt_int(corio_writer_fd(w), SOL_SOCKET, SO_SNDBUF, 65536), 0);
    corio_smtp_client_opts o = {.timeout = 1};
    corio_smtp_client *c = NULL;
    CHECK_EQ(corio_smtp_client_open(r, w, &o, &c), 0);
    double t0 = corio_time();
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, m, n, NULL), 0);
    if (n >= (8u << 20)) CHECK(corio_time() - t0 > 1); /* the case is what it says: longer than the timeout */
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);
    free(m);
    corio_server_close(srv, 1);
    corio_server_wait_closed(srv);
    corio_server_free(srv);
    return 0;
}
static void test_slow_bdat(void) { test_run(slow_bdat_main, NULL, 0); }

/* A server that offers PIPELINING and CHUNKING, takes MAIL, answers the
 * first RCPT 421 and closes, with the rest of the batch unanswered. */
static int closer(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    const char *line;
    size_t len;
    corio_writer_write(w, "220 closer\r\n", 12);
    if (corio_reader_readline(r, &line, &len) < 0 || len == 0) return 0;
    corio_writer_write(w, "250-closer\r\n250-PIPELINING\r\n250 CHUNKING\r\n", 42);
    if (corio_reader_readline(r, &line, &len) < 0 || len == 0) return 0;
    corio_writer_write(w, "250 OK\r\n421 4.3.0 going away\r\n", 30);
    corio_writer_drain(w);
    return 0;
}

/* The server leaves mid-batch: the client returns the connection's error
 * at once (no hang), the recipient's 421 recorded, the 421 kept as the
 * client's last reply. */
static int closer_main(void *arg) {
    (void)arg;
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, closer, NULL, &srv), 0);
    corio_smtp_client_opts o = {.timeout = 5};
    corio_smtp_client *c = NULL;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", corio_server_port(srv), &o, &c), 0);
    const char *two[] = {"x@y", "z@y"};
    corio_smtp_rcpt_result res[2];
    double t0 = corio_time();
    int rc = corio_smtp_client_send(c, "a@b", two, 2, "m\r\n", 3, res);
    CHECK(rc < 0 && rc != -ETIMEDOUT);
    CHECK(corio_time() - t0 < 4);
    CHECK_EQ(res[0].code, 421);
    CHECK_EQ(res[1].code, 0);
    CHECK_EQ(corio_smtp_client_code(c), 421);
    corio_smtp_client_free(c);
    corio_server_close(srv, 1);
    corio_server_wait_closed(srv);
    corio_server_free(srv);
    return 0;
}
static void test_closer(void) { test_run(closer_main, NULL, 0); }

/* ---- aiosmtpd ----------------------------------------------------------------- */

static char peer_dir[64];

static int read_file(const char *path, char *buf, size_t cap, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -errno;
    *len = fread(buf, 1, cap, f);
    fclose(f);
    return 0;
}

static int aiosmtpd_main(void *arg) {
    int *skipped = arg;
    char *const argv[] = {"python3", SMTP_TEST_SRC "/aiosmtpd_peer.py", peer_dir, NULL};
    corio_process_opts po = {.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE};
    corio_process *p;
    if (corio_process_exec("/usr/bin/python3", argv, &po, &p) < 0) {
        *skipped = 1;
        return 0;
    }
    const char *line;
    size_t len;
    int port = 0;
    corio_timeout to;
    corio_timeout_enter(&to, 30);
    int rc = corio_reader_readline(corio_process_stdout(p), &line, &len);
    corio_timeout_exit(&to, rc);
    if (rc == 0 && len > 5 && strncmp(line, "port ", 5) == 0) port = atoi(line + 5);
    if (port <= 0) {
        *skipped = 1; /* no aiosmtpd here (python3-aiosmtpd missing) */
        corio_process_free(p);
        return 0;
    }
    corio_smtp_client *c;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", port, NULL, &c), 0);
    CHECK(corio_smtp_client_has_ext(c, "SIZE"));
    CHECK(!corio_smtp_client_has_ext(c, "PIPELINING")); /* aiosmtpd has none: one command at a time */
    CHECK(!corio_smtp_client_has_ext(c, "CHUNKING"));   /* nor CHUNKING: the client says DATA */
    CHECK_EQ(corio_smtp_client_auth(c, "user", "wrong"), CORIO_SMTP_EREPLY);
    CHECK_EQ(corio_smtp_client_code(c), 535);
    CHECK_EQ(corio_smtp_client_auth(c, "user", "secret"), 0);
    static const char m1[] = "Subject: one\r\n\r\n.dot\r\n..two\r\nk\xc3\xa4se\r\n";
    const char *two[] = {"x@y", "z@y"};
    corio_smtp_rcpt_result res[2];
    CHECK_EQ(corio_smtp_client_send(c, "a@b", two, 2, m1, sizeof m1 - 1, res), 0);
    CHECK_EQ(res[1].code, 250);
    /* Refusals carry aiosmtpd's code and text. */
    CHECK_EQ(corio_smtp_client_send(c, "spam@x", ONE, 1, "m\r\n", 3, NULL), CORIO_SMTP_EREPLY);
    CHECK_EQ(corio_smtp_client_code(c), 550);
    CHECK(strcmp(corio_smtp_client_text(c), "5.7.1 Go away") == 0);
    const char *bad[] = {"bad1@y", "bad2@y"};
    CHECK_EQ(corio_smtp_client_send(c, "a@b", bad, 2, "m\r\n", 3, res), CORIO_SMTP_ERECIPIENTS);
    CHECK_EQ(res[1].code, 550);
    CHECK(strcmp(res[1].text, "5.1.1 No such user: bad2@y") == 0);
    CHECK_EQ(corio_smtp_client_command(c, "MAIL FROM:<a@b> FOO=1"), 555);
    CHECK(strcmp(corio_smtp_client_text(c), "MAIL FROM parameters not recognized or not implemented") == 0);
    CHECK_EQ(corio_smtp_client_command(c, "RSET"), 250);
    /* 7-bit content: no BODY=; a UTF-8 recipient: SMTPUTF8 (aiosmtpd's
     * handler sees both in mail_options). */
    const char *u8[] = {"\xc3\xa5sa@example.test"};
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "seven\r\n", 7, NULL), 0);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", u8, 1, "k\xc3\xa4se\r\n", 7, NULL), 0);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);
    /* Asked for: BODY=8BITMIME on 7-bit content too. */
    corio_smtp_client_opts bo = {.body_8bitmime = 1};
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", port, &bo, &c), 0);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", ONE, 1, "seven\r\n", 7, NULL), 0);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);

    char path[128], buf[512];
    static const char *const want_env[] = {
        "MAIL FROM:<a@b> SIZE=7\nRCPT TO:<x@y>\n",
        "MAIL FROM:<a@b> SIZE=7 BODY=8BITMIME SMTPUTF8\nRCPT TO:<\xc3\xa5sa@example.test>\n",
        "MAIL FROM:<a@b> SIZE=7 BODY=8BITMIME\nRCPT TO:<x@y>\n",
    };
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%d.env", peer_dir, i + 2);
        CHECK_EQ(read_file(path, buf, sizeof buf - 1, &len), 0);
        buf[len] = 0;
        if (strcmp(buf, want_env[i]) != 0) fprintf(stderr, "aiosmtpd envelope %d: %s", i + 2, buf);
        CHECK(strcmp(buf, want_env[i]) == 0);
    }
    snprintf(path, sizeof path, "%s/1.eml", peer_dir);
    CHECK_EQ(read_file(path, buf, sizeof buf, &len), 0);
    CHECK_EQ(len, sizeof m1 - 1);
    CHECK(memcmp(buf, m1, sizeof m1 - 1) == 0);
    snprintf(path, sizeof path, "%s/1.env", peer_dir);
    CHECK_EQ(read_file(path, buf, sizeof buf - 1, &len), 0);
    buf[len] = 0;
    CHECK(strcmp(buf, "MAIL FROM:<a@b> SIZE=36 BODY=8BITMIME\nRCPT TO:<x@y>\nRCPT TO:<z@y>\n") == 0);
    corio_process_close_stdin(p);
    int code;
    corio_timeout_enter(&to, 20);
    corio_timeout_exit(&to, corio_process_wait(p, &code));
    corio_process_free(p);
    return 0;
}

static void test_aiosmtpd(void) {
    snprintf(peer_dir, sizeof peer_dir, "/tmp/corio-smtp-peer-XXXXXX");
    if (!mkdtemp(peer_dir)) {
        CHECK(0);
        return;
    }
    int skipped = 0;
    test_run(aiosmtpd_main, &skipped, 0);
    if (skipped) printf("SKIP test_aiosmtpd: /usr/bin/python3 with aiosmtpd did not start\n");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", peer_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", peer_dir);
}

static void run_all(void) {
    RUN_NET_TEST(test_roundtrip);
    RUN_NET_TEST(test_roundtrip_no_pipelining);
    RUN_NET_TEST(test_refusals);
    RUN_NET_TEST(test_refusals_no_pipelining);
    RUN_NET_TEST(test_roundtrip_bdat);
    RUN_NET_TEST(test_roundtrip_bdat_no_pipelining);
    RUN_NET_TEST(test_refusals_bdat);
    RUN_NET_TEST(test_refusals_bdat_no_pipelining);
    RUN_NET_TEST(test_helo_auth);
    RUN_NET_TEST(test_big);
    RUN_NET_TEST(test_big_bdat);
    RUN_NET_TEST(test_concurrent);
    RUN_NET_TEST(test_bad_servers);
    RUN_NET_TEST(test_slow_bdat);
    RUN_NET_TEST(test_closer);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    pat_init();
    net_warm_up();
    run_on_each_backend(run_all);
    RUN_NET_TEST(test_aiosmtpd);
    TEST_MAIN_END();
}
