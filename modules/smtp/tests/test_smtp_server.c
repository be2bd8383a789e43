/*
 * test_smtp_server.c - the SMTP server against a raw client: every
 * command's replies (aiosmtpd's texts), PIPELINING, dot-unstuffing, the
 * limits, bad input (over-long lines, bare LF, NUL, too much data, a
 * client vanishing mid-DATA), the idle timeout, AUTH, failing hooks and a
 * graceful close.  Each case runs its own loop, which must close clean,
 * and must leave no descriptor open.
 */
#include "smtp_test_util.h"

static const char *EHLO_REPLY = "250-mx.test\n250-SIZE 33554432\n250-8BITMIME\n250-SMTPUTF8\n250-PIPELINING\n250 HELP";

/* Expect the end of the stream (the server closed). */
static void expect_eof(raw *c) {
    char buf[256];
    CHECK_EQ(raw_reply(c, buf, sizeof buf), 0);
}

/* ---- the commands, one by one ------------------------------------------------- */

static int transcript_main(void *arg) {
    (void)arg;
    fx f = {0};
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "MAIL FROM:<a@b>\r\n");
    EXPECT(&c, "503 Error: send HELO first");
    raw_sends(&c, "HELO\r\n");
    EXPECT(&c, "501 Syntax: HELO hostname");
    raw_sends(&c, "HELO client.test\r\n");
    EXPECT(&c, "250 mx.test");
    raw_sends(&c, "EHLO client.test\r\n");
    EXPECT(&c, EHLO_REPLY);
    raw_sends(&c, "NOOP\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "noop anything\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "VRFY <someone@example.com>\r\n");
    EXPECT(&c, "252 Cannot VRFY user, but will accept message and attempt delivery");
    raw_sends(&c, "VRFY\r\n");
    EXPECT(&c, "501 Syntax: VRFY <address>");
    raw_sends(&c, "EXPN list\r\n");
    EXPECT(&c, "502 EXPN not implemented");
    raw_sends(&c, "HELP\r\n");
    EXPECT(&c, "250 Supported commands: AUTH DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET VRFY");
    raw_sends(&c, "HELP mail\r\n");
    EXPECT(&c, "250 Syntax: MAIL FROM: <address> [SP <mail-parameters>]");
    raw_sends(&c, "HELP BOGUS\r\n");
    EXPECT(&c, "501 Supported commands: AUTH DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET VRFY");
    raw_sends(&c, "STARTTLS\r\n");
    EXPECT(&c, "454 TLS not available");
    raw_sends(&c, "RCPT TO:<x@y>\r\n");
    EXPECT(&c, "503 Error: need MAIL command");
    raw_sends(&c, "MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "DATA\r\n");
    EXPECT(&c, "503 Error: need RCPT command");
    raw_sends(&c, "RCPT TO:<x@y>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "rcpt to: <z@y>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "DATA now\r\n");
    EXPECT(&c, "501 Syntax: DATA");
    raw_sends(&c, "DATA\r\n");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    raw_sends(&c, "Subject: t\r\n\r\n..leading dot\r\n.\r\n");
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.messages, 1);
    CHECK(strcmp(f.rec.content, "Subject: t\r\n\r\n.leading dot\r\n") == 0);
    CHECK(strcmp(f.rec.from, "a@b") == 0);
    CHECK(strcmp(f.rec.mail_options, "SIZE=100 BODY=8BITMIME") == 0);
    CHECK_EQ(f.rec.nrcpt, 2);
    CHECK(strcmp(f.rec.rcpts[1], "z@y") == 0);
    /* The transaction is over: a new one starts clean. */
    raw_sends(&c, "RCPT TO:<x@y>\r\n");
    EXPECT(&c, "503 Error: need MAIL command");
    raw_sends(&c, "MAIL FROM:<a@b>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "RSET\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "RSET x\r\n");
    EXPECT(&c, "501 Syntax: RSET");
    raw_sends(&c, "RCPT TO:<x@y>\r\n");
    EXPECT(&c, "503 Error: need MAIL command");
    raw_sends(&c, "QUIT now\r\n");
    EXPECT(&c, "501 Syntax: QUIT");
    raw_sends(&c, "QUIT\r\n");
    EXPECT(&c, "221 Bye");
    expect_eof(&c);
    raw_close(&c);
    fx_stop(&f);
    CHECK_EQ(f.rec.disconnects, 1);
    return 0;
}
static void test_transcript(void) { test_run(transcript_main, NULL, 0); }

static int mail_errors_main(void *arg) {
    (void)arg;
    fx f = {0};
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "HELO c\r\n");
    EXPECT(&c, "250 mx.test");
    raw_sends(&c, "MAIL FROM:<a@b> SIZE=10\r\n");
    EXPECT(&c, "501 Syntax: MAIL FROM: <address>"); /* no parameters without EHLO */
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, EHLO_REPLY);
    raw_sends(&c, "MAIL\r\n");
    EXPECT(&c, "501 Syntax: MAIL FROM: <address> [SP <mail-parameters>]");
    raw_sends(&c, "MAIL TO:<a@b>\r\n");
    EXPECT(&c, "501 Syntax: MAIL FROM: <address> [SP <mail-parameters>]");
    raw_sends(&c, "MAIL FROM:<a@b\r\n");
    EXPECT(&c, "553 5.1.3 Error: malformed address");
    raw_sends(&c, "MAIL FROM:<a@b> SIZE=99999999999\r\n");
    EXPECT(&c, "552 Error: message size exceeds fixed maximum message size");
    raw_sends(&c, "MAIL FROM:<a@b> SIZE=abc\r\n");
    EXPECT(&c, "501 Syntax: MAIL FROM: <address> [SP <mail-parameters>]");
    raw_sends(&c, "MAIL FROM:<a@b> BODY=9BIT\r\n");
    EXPECT(&c, "501 Error: BODY can only be one of 7BIT, 8BITMIME");
    raw_sends(&c, "MAIL FROM:<a@b> SMTPUTF8=yes\r\n");
    EXPECT(&c, "501 Error: SMTPUTF8 takes no arguments");
    raw_sends(&c, "MAIL FROM:<a@b> FOO=1\r\n");
    EXPECT(&c, "555 MAIL FROM parameters not recognized or not implemented");
    raw_sends(&c, "MAIL FROM:<a@b> =1\r\n");
    EXPECT(&c, "501 Syntax: MAIL FROM: <address> [SP <mail-parameters>]");
    /* The null reverse-path of bounces (RFC 5321 4.5.5). */
    raw_sends(&c, "MAIL FROM:<>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "MAIL FROM:<a@b>\r\n");
    EXPECT(&c, "503 Error: nested MAIL command");
    raw_sends(&c, "RCPT TO:<>\r\n");
    EXPECT(&c, "501 Syntax: RCPT TO: <address> [SP <mail-parameters>]");
    raw_sends(&c, "RCPT TO:<x@y> NOTIFY=NEVER\r\n");
    EXPECT(&c, "555 RCPT TO parameters not recognized or not implemented");
    raw_sends(&c, "RCPT TO:<x\001@y>\r\n");
    EXPECT(&c, "553 5.1.3 Error: malformed address");
    raw_sends(&c, "RCPT TO:<\"quoted >\"@y>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "RCPT TO:<@relay.test:r@y>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "RCPT TO:unbracketed@y\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "RSET\r\n");
    EXPECT(&c, "250 OK");
    /* UTF-8 addresses with SMTPUTF8 (RFC 6531). */
    raw_sends(&c, "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc.test> SMTPUTF8\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "RCPT TO:<\xc3\xa5sa@example.test>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "DATA\r\n");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    raw_sends(&c, "Subject: h\xc3\xa9\r\n\r\nk\xc3\xa4se\r\n.\r\n");
    EXPECT(&c, "250 OK");
    CHECK(strcmp(f.rec.from, "j\xc3\xb6rg@b\xc3\xbc.test") == 0);
    CHECK(strcmp(f.rec.content, "Subject: h\xc3\xa9\r\n\r\nk\xc3\xa4se\r\n") == 0);
    raw_close(&c);
    fx_stop(&f);
    return 0;
}
static void test_mail_errors(void) { test_run(mail_errors_main, NULL, 0); }

/* ---- PIPELINING --------------------------------------------------------------- */

static int pipelining_main(void *arg) {
    (void)arg;
    fx f = {0};
    f.rec.reject_rcpt = 1;
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    /* One write: EHLO and a whole transaction up to DATA. */
    raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<bad@y>\r\nRCPT TO:<z@y>\r\nDATA\r\n");
    EXPECT(&c, EHLO_REPLY);
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "550 5.1.1 No such user: bad@y");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    /* The message, a second whole transaction and QUIT in one write. */
    raw_sends(&c, "first\r\n.\r\nMAIL FROM:<q@r>\r\nRCPT TO:<bad@t>\r\nRCPT TO:<s@t>\r\nDATA\r\nsecond\r\n.\r\nNOOP\r\nQUIT\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "550 5.1.1 No such user: bad@t");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "221 Bye");
    expect_eof(&c);
    CHECK_EQ(f.rec.messages, 2);
    CHECK(strcmp(f.rec.content, "second\r\n") == 0);
    CHECK_EQ(f.rec.nrcpt, 1);
    CHECK(strcmp(f.rec.rcpts[0], "s@t") == 0);
    /* A batch of 200 NOOPs byte by byte arrives, and is answered, whole. */
    raw d;
    CHECK_EQ(raw_open(&d, f.port), 0);
    EXPECT(&d, "220 mx.test corio SMTP");
    for (int i = 0; i < 200; i++) raw_sends(&d, "NOOP\r\n");
    for (int i = 0; i < 200; i++) EXPECT(&d, "250 OK");
    raw_close(&d);
    raw_close(&c);
    fx_stop(&f);
    return 0;
}
static void test_pipelining(void) { test_run(pipelining_main, NULL, 0); }

/* ---- bad input ---------------------------------------------------------------- */

static int bad_lines_main(void *arg) {
    (void)arg;
    fx f = {0};
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "\r\n");
    EXPECT(&c, "500 Error: bad syntax");
    raw_send(&c, "NO\0OP\r\n", 7);
    EXPECT(&c, "500 Error: bad syntax");
    raw_sends(&c, "N\xc3\x96OP\r\n");
    EXPECT(&c, "500 Error: bad syntax");
    raw_sends(&c, "NOOP\n"); /* a bare LF ends a command, as in aiosmtpd and Postfix */
    EXPECT(&c, "250 OK");
    /* 600 bytes: within the line limit, over the command limit. */
    char big[4096];
    memset(big, 'A', sizeof big);
    memcpy(big, "NOOP ", 5);
    memcpy(big + 598, "\r\n", 2);
    raw_send(&c, big, 600);
    EXPECT(&c, "500 Command line too long");
    /* 100 KB without a line end, then its end: one reply, then on. */
    memset(big, 'B', sizeof big);
    for (int i = 0; i < 25; i++) raw_send(&c, big, sizeof big);
    raw_sends(&c, "tail\r\nNOOP\r\n");
    EXPECT(&c, "500 Command line too long");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, EHLO_REPLY);
    raw_sends(&c, "FOO\r\n");
    EXPECT(&c, "500 Error: command \"FOO\" not recognized");
    raw_sends(&c, "BAR x\r\nBAZ\r\nQUUX\r\n");
    EXPECT(&c, "500 Error: command \"BAR\" not recognized");
    EXPECT(&c, "500 Error: command \"BAZ\" not recognized");
    EXPECT(&c, "500 Error: command \"QUUX\" not recognized");
    raw_sends(&c, "ZAP\r\n");
    EXPECT(&c, "502 5.5.1 Too many unrecognized commands, goodbye.");
    expect_eof(&c);
    raw_close(&c);
    fx_stop(&f);
    return 0;
}
static void test_bad_lines(void) { test_run(bad_lines_main, NULL, 0); }

static int data_limits_main(void *arg) {
    (void)arg;
    fx f = {0};
    f.opts.data_size_limit = 3000;
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, "250-mx.test\n250-SIZE 3000\n250-8BITMIME\n250-SMTPUTF8\n250-PIPELINING\n250 HELP");
    raw_sends(&c, "MAIL FROM:<a@b> SIZE=3001\r\n");
    EXPECT(&c, "552 Error: message size exceeds fixed maximum message size");
    char line[1100];
    /* A line of exactly 1001 bytes with its CRLF (1000 + a stuffed dot) passes. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    memset(line, '.', 999);
    memcpy(line + 999, "\r\n", 2);
    raw_send(&c, line, 1001);
    raw_sends(&c, ".\r\n");
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.content_len, 1000);
    /* 1002 bytes: 500 after the end of the message; the session goes on. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    memset(line, 'x', 1000);
    memcpy(line + 1000, "\r\n", 2);
    raw_send(&c, line, 1002);
    raw_sends(&c, "more\r\n.\r\n");
    EXPECT(&c, "500 Line too long (see RFC5321 4.5.3.1.6)");
    /* A 200 KB line: the same, read through without holding it. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    memset(line, 'y', sizeof line);
    for (int i = 0; i < 200; i++) raw_send(&c, line, 1000);
    raw_sends(&c, "\r\n.\r\n");
    EXPECT(&c, "500 Line too long (see RFC5321 4.5.3.1.6)");
    /* More than SIZE: 552 after the end. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    memset(line, 'z', 98);
    memcpy(line + 98, "\r\n", 2);
    for (int i = 0; i < 40; i++) raw_send(&c, line, 100);
    raw_sends(&c, ".\r\n");
    EXPECT(&c, "552 Error: Too much mail data");
    CHECK_EQ(f.rec.messages, 1);
    raw_sends(&c, "NOOP\r\n");
    EXPECT(&c, "250 OK");
    raw_close(&c);
    fx_stop(&f);
    return 0;
}
static void test_data_limits(void) { test_run(data_limits_main, NULL, 0); }

/* The end of DATA is <CRLF>.<CRLF> only: a "." after a bare LF, or
 * followed by a bare LF, is data (SMTP smuggling).  NUL bytes are data. */
static int smuggling_main(void *arg) {
    (void)arg;
    fx f = {0};
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
    EXPECT(&c, EHLO_REPLY);
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    raw_sends(&c, "foo\n.\r\nMAIL FROM:<evil@x>\r\nbar\r\n.\nbaz\r\n");
    raw_send(&c, "n\0l\r\n.\r\n", 8);
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.messages, 1);
    static const char want[] = "foo\n\r\nMAIL FROM:<evil@x>\r\nbar\r\n\nbaz\r\nn\0l\r\n";
    CHECK_EQ(f.rec.content_len, sizeof want - 1);
    CHECK(memcmp(f.rec.content, want, sizeof want - 1) == 0);
    raw_sends(&c, "QUIT\r\n");
    EXPECT(&c, "221 Bye");
    raw_close(&c);
    fx_stop(&f);
    return 0;
}
static void test_smuggling(void) { test_run(smuggling_main, NULL, 0); }

/* A client that goes away in the middle of DATA: no message, no leak,
 * the session ends. */
static int vanish_main(void *arg) {
    (void)arg;
    fx f = {0};
    if (fx_start(&f) < 0) return 1;
    for (int round = 0; round < 2; round++) {
        raw c;
        CHECK_EQ(raw_open(&c, f.port), 0);
        EXPECT(&c, "220 mx.test corio SMTP");
        raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
        EXPECT(&c, EHLO_REPLY);
        EXPECT(&c, "250 OK");
        EXPECT(&c, "250 OK");
        EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
        raw_sends(&c, "Subject: half\r\n\r\nhalf a mess");
        if (round == 1) {
            /* A reset instead of a close. */
            struct linger lg = {1, 0};
            setsockopt(corio_writer_fd(c.w), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            corio_writer_abort(c.w);
            corio_reader_free(c.r);
            corio_writer_free(c.w);
        } else {
            raw_close(&c);
        }
        WAIT_UNTIL(f.rec.disconnects == round + 1, 20);
        CHECK_EQ(f.rec.disconnects, round + 1);
    }
    CHECK_EQ(f.rec.messages, 0);
    WAIT_UNTIL(corio_smtp_server_connections(f.srv) == 0, 20);
    CHECK_EQ(corio_smtp_server_connections(f.srv), 0);
    fx_stop(&f);
    return 0;
}
static void test_vanish(void) { test_run(vanish_main, NULL, 0); }

static int timeout_main(void *arg) {
    (void)arg;
    fx f = {0};
    f.opts.timeout = 0.2;
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\npart");
    EXPECT(&c, EHLO_REPLY);
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    EXPECT(&c, "421 4.4.2 mx.test Error: timeout exceeded");
    expect_eof(&c);
    raw_close(&c);
    CHECK_EQ(f.rec.messages, 0);
    fx_stop(&f);
    return 0;
}
static void test_timeout(void) { test_run(timeout_main, NULL, 0); }

/* ---- AUTH --------------------------------------------------------------------- */

static void b64(const char *raw_, size_t n, char *out) { corio_smtp_base64_encode(raw_, n, out, 256); }

static int auth_main(void *arg) {
    (void)arg;
    char line[512], enc[256];
    /* Without TLS, AUTH is neither offered nor accepted by default. */
    fx f = {0};
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "AUTH PLAIN\r\n");
    EXPECT(&c, "503 Error: send EHLO first");
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, EHLO_REPLY);
    raw_sends(&c, "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
    EXPECT(&c, "538 5.7.11 Encryption required for requested authentication mechanism");
    raw_close(&c);
    fx_stop(&f);

    /* No auth hook (smtp_sink): aiosmtpd's answers, not "not recognized":
     * 538 without TLS, and every login fails where plaintext is allowed. */
    for (int plaintext = 0; plaintext < 2; plaintext++) {
        fx n = {0};
        n.handler = rec_handler;
        n.handler.auth = NULL;
        n.opts.auth_allow_plaintext = plaintext;
        if (fx_start(&n) < 0) return 1;
        CHECK_EQ(raw_open(&c, n.port), 0);
        EXPECT(&c, "220 mx.test corio SMTP");
        raw_sends(&c, "EHLO c\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\nNOOP\r\n");
        EXPECT(&c, EHLO_REPLY);
        EXPECT(&c, plaintext ? "535 5.7.8 Authentication credentials invalid"
                             : "538 5.7.11 Encryption required for requested authentication mechanism");
        EXPECT(&c, "250 OK");
        raw_close(&c);
        fx_stop(&n);
    }

    fx g = {0};
    g.opts.auth_allow_plaintext = 1;
    g.opts.auth_required = 1;
    if (fx_start(&g) < 0) return 1;
    CHECK_EQ(raw_open(&c, g.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "HELO c\r\nAUTH PLAIN\r\n");
    EXPECT(&c, "250 mx.test");
    EXPECT(&c, "500 Error: command 'AUTH' not recognized");
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, "250-mx.test\n250-SIZE 33554432\n250-8BITMIME\n250-SMTPUTF8\n250-PIPELINING\n250-AUTH LOGIN PLAIN\n250 HELP");
    raw_sends(&c, "MAIL FROM:<a@b>\r\n");
    EXPECT(&c, "530 5.7.0 Authentication required");
    raw_sends(&c, "AUTH\r\n");
    EXPECT(&c, "501 Not enough value");
    raw_sends(&c, "AUTH PLAIN a b\r\n");
    EXPECT(&c, "501 Too many values");
    raw_sends(&c, "AUTH CRAM-MD5\r\n");
    EXPECT(&c, "504 5.5.4 Unrecognized authentication type");
    raw_sends(&c, "AUTH PLAIN !!!!\r\n");
    EXPECT(&c, "501 5.5.2 Can't decode base64");
    b64("user\0secret", 11, enc);
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", enc);
    raw_sends(&c, line);
    EXPECT(&c, "501 5.5.2 Can't split auth value");
    b64("\0user\0wrong!", 12, enc);
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", enc);
    raw_sends(&c, line);
    EXPECT(&c, "535 5.7.8 Authentication credentials invalid");
    raw_sends(&c, "AUTH PLAIN\r\n");
    EXPECT(&c, "334 ");
    raw_sends(&c, "*\r\n");
    EXPECT(&c, "501 5.7.0 Auth aborted");
    raw_sends(&c, "auth plain\r\n");
    EXPECT(&c, "334 ");
    b64("\0user\0secret", 12, enc);
    snprintf(line, sizeof line, "%s\r\n", enc);
    raw_sends(&c, line);
    EXPECT(&c, "235 2.7.0 Authentication successful");
    raw_sends(&c, "AUTH PLAIN\r\n");
    EXPECT(&c, "503 Already authenticated");
    raw_sends(&c, "MAIL FROM:<a@b>\r\n");
    EXPECT(&c, "250 OK");
    raw_close(&c);
    /* LOGIN, with its two challenges. */
    CHECK_EQ(raw_open(&c, g.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\nAUTH LOGIN\r\n");
    EXPECT(&c, "250-mx.test\n250-SIZE 33554432\n250-8BITMIME\n250-SMTPUTF8\n250-PIPELINING\n250-AUTH LOGIN PLAIN\n250 HELP");
    EXPECT(&c, "334 VXNlcm5hbWU6");
    b64("user", 4, enc);
    snprintf(line, sizeof line, "%s\r\n", enc);
    raw_sends(&c, line);
    EXPECT(&c, "334 UGFzc3dvcmQ6");
    raw_sends(&c, "not base64\r\n");
    EXPECT(&c, "501 5.5.2 Can't decode base64");
    b64("user", 4, enc);
    snprintf(line, sizeof line, "AUTH LOGIN %s\r\n", enc);
    raw_sends(&c, line);
    EXPECT(&c, "334 UGFzc3dvcmQ6");
    b64("secret", 6, enc);
    snprintf(line, sizeof line, "%s\r\n", enc);
    raw_sends(&c, line);
    EXPECT(&c, "235 2.7.0 Authentication successful");
    raw_close(&c);
    fx_stop(&g);
    return 0;
}
static void test_auth(void) { test_run(auth_main, NULL, 0); }

/* ---- hooks -------------------------------------------------------------------- */

static int refuse_mail(corio_smtp_session *s, corio_smtp_envelope *env, const char *address, const char *params,
                       corio_smtp_reply *reply) {
    (void)s;
    (void)env;
    (void)params;
    if (strcmp(address, "spam@x") == 0) corio_smtp_reply_set(reply, "550 5.7.1 Go away");
    if (strcmp(address, "broken@x") == 0) corio_smtp_reply_set(reply, "25 not a code");
    if (strcmp(address, "lf@x") == 0) corio_smtp_reply_set(reply, "250 ok\n250 injected");
    if (strcmp(address, "cr@x") == 0) corio_smtp_reply_set(reply, "250 ok\r250 injected");
    if (strcmp(address, "multi@x") == 0) corio_smtp_reply_set(reply, "550-5.7.1 first\r\n550 5.7.1 second");
    return strcmp(address, "fail@x") == 0 ? -EIO : 0;
}

static int hooks_main(void *arg) {
    (void)arg;
    fx f = {0};
    f.handler = rec_handler;
    f.handler.mail = refuse_mail;
    f.rec.fail_data = 1;
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\nMAIL FROM:<spam@x>\r\nMAIL FROM:<fail@x>\r\nMAIL FROM:<broken@x>\r\n");
    EXPECT(&c, EHLO_REPLY);
    EXPECT(&c, "550 5.7.1 Go away");
    char got[512];
    CHECK_EQ(raw_reply(&c, got, sizeof got), 451);
    EXPECT(&c, "451 4.3.0 Error: bad reply from handler");
    raw_sends(&c, "MAIL FROM:<lf@x>\r\nMAIL FROM:<cr@x>\r\nMAIL FROM:<multi@x>\r\nMAIL FROM:<ok@x>\r\n");
    EXPECT(&c, "451 4.3.0 Error: bad reply from handler");
    EXPECT(&c, "451 4.3.0 Error: bad reply from handler");
    EXPECT(&c, "550-5.7.1 first\n550 5.7.1 second");
    EXPECT(&c, "250 OK"); /* the refusals opened no transaction */
    raw_sends(&c, "RCPT TO:<x@y>\r\nDATA\r\nhi\r\n.\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    CHECK_EQ(raw_reply(&c, got, sizeof got), 451);
    CHECK(strncmp(got, "451 4.3.0 Error: ", 17) == 0);
    raw_close(&c);
    fx_stop(&f);
    return 0;
}
static void test_hooks(void) { test_run(hooks_main, NULL, 0); }

/* Closing the server lets a session in progress finish its mail. */
static int graceful_main(void *arg) {
    (void)arg;
    fx f = {0};
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b>\r\n");
    EXPECT(&c, EHLO_REPLY);
    EXPECT(&c, "250 OK");
    CHECK_EQ(corio_smtp_server_close(f.srv, 0), 0);
    raw d;
    CHECK(raw_open(&d, f.port) < 0); /* no new clients */
    raw_sends(&c, "RCPT TO:<x@y>\r\nDATA\r\nlast\r\n.\r\nQUIT\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "221 Bye");
    CHECK_EQ(corio_smtp_server_wait_closed(f.srv), 0);
    CHECK_EQ(f.rec.messages, 1);
    raw_close(&c);
    CHECK_EQ(corio_smtp_server_free(f.srv), 0);
    rec_free(&f.rec);

    /* Closing with abort_sessions: an idle session and one mid-DATA end
     * at once, their transactions dropped. */
    fx g = {0};
    if (fx_start(&g) < 0) return 1;
    raw a, b;
    CHECK_EQ(raw_open(&a, g.port), 0);
    CHECK_EQ(raw_open(&b, g.port), 0);
    EXPECT(&a, "220 mx.test corio SMTP");
    EXPECT(&b, "220 mx.test corio SMTP");
    raw_sends(&b, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\nhalf");
    EXPECT(&b, EHLO_REPLY);
    EXPECT(&b, "250 OK");
    EXPECT(&b, "250 OK");
    EXPECT(&b, "354 End data with <CR><LF>.<CR><LF>");
    CHECK_EQ(corio_smtp_server_close(g.srv, 1), 0);
    CHECK_EQ(corio_smtp_server_wait_closed(g.srv), 0);
    CHECK_EQ(g.rec.disconnects, 2);
    CHECK_EQ(g.rec.messages, 0);
    expect_eof(&a);
    raw_close(&a);
    raw_close(&b);
    CHECK_EQ(corio_smtp_server_free(g.srv), 0);
    rec_free(&g.rec);
    return 0;
}
static void test_graceful(void) { test_run(graceful_main, NULL, 0); }

/* ---- parsing ------------------------------------------------------------------ */

static void test_parse(void) {
    char a[64];
    const char *p;
    CHECK_EQ(corio_smtp_parse_path("FROM:<a@b> SIZE=1", "FROM:", a, sizeof a, &p), 0);
    CHECK(strcmp(a, "a@b") == 0 && strcmp(p, "SIZE=1") == 0);
    CHECK_EQ(corio_smtp_parse_path("from: <>", "FROM:", a, sizeof a, &p), 0);
    CHECK(a[0] == 0);
    CHECK_EQ(corio_smtp_parse_path("FROM:", "FROM:", a, sizeof a, &p), -EINVAL);
    CHECK_EQ(corio_smtp_parse_path("FROM:<a@b>x", "FROM:", a, sizeof a, &p), -EINVAL);
    CHECK_EQ(corio_smtp_parse_path("FROM:<a<b>", "FROM:", a, sizeof a, &p), -EILSEQ);
    CHECK_EQ(corio_smtp_parse_path("FROM:<a@>", "FROM:", a, sizeof a, &p), -EILSEQ);
    CHECK_EQ(corio_smtp_parse_path("FROM:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b>", "FROM:", a,
                                   sizeof a, &p),
             -ENAMETOOLONG);
    unsigned char out[16];
    CHECK_EQ(corio_smtp_base64_decode("AGEAYg==", 8, out, sizeof out), 4);
    CHECK(memcmp(out, "\0a\0b", 4) == 0);
    CHECK_EQ(corio_smtp_base64_decode("AGEAYg=", 7, out, sizeof out), -EINVAL);
    CHECK_EQ(corio_smtp_base64_decode("A=EAYg==", 8, out, sizeof out), -EINVAL);
    CHECK_EQ(corio_smtp_base64_decode("", 0, out, sizeof out), 0);
    char enc[16];
    CHECK_EQ(corio_smtp_base64_encode("ab", 2, enc, sizeof enc), 4);
    CHECK(strcmp(enc, "YWI=") == 0);
    CHECK_EQ(corio_smtp_reply_code("250 OK"), 250);
    CHECK_EQ(corio_smtp_reply_code("250"), 250);
    CHECK_EQ(corio_smtp_reply_code("2x0 OK"), -EINVAL);
    CHECK_EQ(corio_smtp_reply_code("650 OK"), -EINVAL);
}

/* ---- CHUNKING (RFC 3030) ------------------------------------------------------ */

static const char *EHLO_CHUNKING =
    "250-mx.test\n250-SIZE 33554432\n250-8BITMIME\n250-SMTPUTF8\n250-PIPELINING\n250-CHUNKING\n250 HELP";

static int bdat_main(void *arg) {
    (void)arg;
    fx f = {0};
    f.opts.chunking = 1;
    f.rec.reject_rcpt = 1;
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, EHLO_CHUNKING);
    raw_sends(&c, "HELP\r\n");
    EXPECT(&c, "250 Supported commands: AUTH BDAT DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET VRFY");
    raw_sends(&c, "HELP bdat\r\n");
    EXPECT(&c, "250 Syntax: BDAT count [LAST]");
    /* Chunks in separate writes: exact octets, no dot-unstuffing, CRLF
     * and bare LF and "." lines are data, a chunk may end mid-line. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "RCPT TO:<x@y>\r\n");
    EXPECT(&c, "250 OK");
    raw_sends(&c, "BDAT 9\r\n..dot\r\n.\r");
    EXPECT(&c, "250 2.0.0 OK: 9 octets received");
    raw_sends(&c, "bdat 0\r\n");
    EXPECT(&c, "250 2.0.0 OK: 0 octets received");
    raw_sends(&c, "BDAT 6 last\r\n\nx\ny\r\n");
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.messages, 1);
    CHECK_EQ(f.rec.content_len, 15);
    CHECK(memcmp(f.rec.content, "..dot\r\n.\r\nx\ny\r\n", 15) == 0);
    CHECK(strcmp(f.rec.from, "a@b") == 0);
    /* Pipelined: two transactions, BDAT and DATA, a refused recipient,
     * and QUIT in one write; one write of replies. */
    raw_sends(&c, "MAIL FROM:<q@r> SIZE=5\r\nRCPT TO:<bad@t>\r\nRCPT TO:<s@t>\r\nBDAT 5 LAST\r\nhi\r\n."
                  "MAIL FROM:<u@v>\r\nRCPT TO:<w@x>\r\nDATA\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "550 5.1.1 No such user: bad@t");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.messages, 2);
    CHECK(memcmp(f.rec.content, "hi\r\n.", 5) == 0 && f.rec.content_len == 5);
    CHECK_EQ(f.rec.nrcpt, 1);
    CHECK(strcmp(f.rec.mail_options, "SIZE=5") == 0);
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "354 End data with <CR><LF>.<CR><LF>");
    raw_sends(&c, "..same bytes\r\n.\r\n");
    EXPECT(&c, "250 OK");
    CHECK(strcmp(f.rec.content, ".same bytes\r\n") == 0);
    /* The same message by DATA and by BDAT reaches the handler alike. */
    raw_sends(&c, "MAIL FROM:<u@v>\r\nRCPT TO:<w@x>\r\nBDAT 13 LAST\r\n.same bytes\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.messages, 4);
    CHECK(strcmp(f.rec.content, ".same bytes\r\n") == 0);
    raw_sends(&c, "QUIT\r\n");
    EXPECT(&c, "221 Bye");
    expect_eof(&c);
    raw_close(&c);
    fx_stop(&f);
    return 0;
}
static void test_bdat(void) { test_run(bdat_main, NULL, 0); }

/* Bad BDAT input: the right codes, the chunk always read (never taken
 * for commands), nothing delivered that should not be, nothing lost. */
static int bdat_errors_main(void *arg) {
    (void)arg;
    fx f = {0};
    f.opts.chunking = 1;
    f.opts.data_size_limit = 100;
    if (fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    /* Before HELO, before MAIL, before RCPT: 503, the chunk dropped (its
     * "QUIT" is data, not a command). */
    raw_sends(&c, "BDAT 6\r\nQUIT\r\n");
    EXPECT(&c, "503 Error: send HELO first");
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, "250-mx.test\n250-SIZE 100\n250-8BITMIME\n250-SMTPUTF8\n250-PIPELINING\n250-CHUNKING\n250 HELP");
    raw_sends(&c, "BDAT 6 LAST\r\nQUIT\r\n");
    EXPECT(&c, "503 Error: need MAIL command");
    raw_sends(&c, "MAIL FROM:<a@b>\r\nBDAT 6 LAST\r\nQUIT\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "503 Error: need RCPT command");
    /* Over the size limit (across chunks): 552, the transaction ended; a
     * pipelined BDAT after it is refused with its chunk dropped. */
    raw_sends(&c, "RCPT TO:<x@y>\r\nBDAT 60\r\n");
    char big[200];
    memset(big, 'z', sizeof big);
    raw_send(&c, big, 60);
    raw_sends(&c, "BDAT 60\r\n");
    raw_send(&c, big, 60);
    raw_sends(&c, "BDAT 4 LAST\r\nQUIT");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 2.0.0 OK: 60 octets received");
    EXPECT(&c, "552 5.3.4 Error: message size exceeds fixed maximum message size");
    EXPECT(&c, "503 Error: need MAIL command");
    CHECK_EQ(f.rec.messages, 0);
    /* A chunk that looks like a command is data. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 5 LAST\r\nRSET\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.messages, 1);
    CHECK(strcmp(f.rec.content, "RSET\r") == 0);
    EXPECT(&c, "500 Error: bad syntax"); /* the LF after the 5 octets: an empty command line */
    /* DATA after BDAT in one transaction: 503; RCPT after BDAT too; RSET clears. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 2\r\nabDATA\r\nRCPT TO:<z@y>\r\nRSET\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 2.0.0 OK: 2 octets received");
    EXPECT(&c, "503 5.5.1 Error: DATA after BDAT");
    EXPECT(&c, "503 5.5.1 Error: RCPT after BDAT");
    EXPECT(&c, "250 OK");
    /* Missing LAST: nothing delivered until it comes; QUIT drops it. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 3\r\nabcQUIT\r\n");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 2.0.0 OK: 3 octets received");
    EXPECT(&c, "221 Bye");
    expect_eof(&c);
    raw_close(&c);
    CHECK_EQ(f.rec.messages, 1);
    /* A count that is not a number (or too big to be one): 501 and the
     * connection closed, since where the chunk ends is unknown. */
    int sessions = 1;
    const char *bad[] = {"BDAT\r\n", "BDAT x\r\n", "BDAT 5 FIRST\r\n", "BDAT -1\r\n",
                         "BDAT 99999999999999999999999 LAST\r\n", "BDAT 5 LAST x\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(raw_open(&c, f.port), 0);
        sessions++;
        EXPECT(&c, "220 mx.test corio SMTP");
        raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n");
        char got[2048];
        raw_reply(&c, got, sizeof got);
        EXPECT(&c, "250 OK");
        EXPECT(&c, "250 OK");
        raw_sends(&c, bad[i]);
        EXPECT(&c, "501 5.5.4 Syntax: BDAT count [LAST]");
        expect_eof(&c);
        raw_close(&c);
    }
    /* A count over the size limit: refused, its chunk read and dropped
     * (RFC 3030), the session kept - also for a pipelining client whose
     * MAIL was refused for its SIZE=. */
    CHECK_EQ(raw_open(&c, f.port), 0);
    sessions++;
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b> SIZE=101\r\nRCPT TO:<x@y>\r\nBDAT 101 LAST\r\n");
    memset(big, 'z', sizeof big);
    raw_send(&c, big, 101);
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 101 LAST\r\n");
    raw_send(&c, big, 101);
    raw_sends(&c, "NOOP\r\n");
    char ehlo[2048];
    raw_reply(&c, ehlo, sizeof ehlo);
    EXPECT(&c, "552 Error: message size exceeds fixed maximum message size");
    EXPECT(&c, "503 Error: need MAIL command");
    EXPECT(&c, "503 Error: need MAIL command");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "552 5.3.4 Error: message size exceeds fixed maximum message size");
    EXPECT(&c, "250 OK");
    /* A count beyond any size: read until the client leaves. */
    raw_sends(&c, "BDAT 99999999999 LAST\r\nQUIT\r\n");
    raw_close(&c);
    /* A count beyond what comes, then the client leaves: nothing
     * delivered, the session ends cleanly. */
    CHECK_EQ(raw_open(&c, f.port), 0);
    sessions++;
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 50 LAST\r\nonly this");
    char got[2048];
    raw_reply(&c, got, sizeof got);
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    raw_close(&c);
    WAIT_UNTIL(f.rec.disconnects == sessions, 5);
    CHECK_EQ(f.rec.disconnects, sessions);
    CHECK_EQ(f.rec.messages, 1);
    /* Without opts.chunking BDAT is an unknown command, as in aiosmtpd. */
    fx g = {0};
    if (fx_start(&g) < 0) return 1;
    CHECK_EQ(raw_open(&c, g.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "BDAT 1 LAST\r\n");
    EXPECT(&c, "500 Error: command \"BDAT\" not recognized");
    raw_close(&c);
    fx_stop(&g);
    fx_stop(&f);
    return 0;
}
static void test_bdat_errors(void) { test_run(bdat_errors_main, NULL, 0); }

/* Hostile BDAT lines and chunks: words split by tabs, a NUL in the line,
 * a count with a sign or glued to LAST, BDAT where CHUNKING is not
 * offered (its chunk must not run as commands), a chunk in many small
 * writes across the input buffer's end with commands behind it, and a
 * client that goes quiet mid-chunk (the idle timeout still ends it). */
static int bdat_hostile_main(void *arg) {
    (void)arg;
    fx f = {0};
    f.opts.chunking = 1;
    f.opts.timeout = 0.5;
    if (fx_start(&f) < 0) return 1;
    raw c;
    char got[2048];
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\n");
    raw_reply(&c, got, sizeof got);
    /* Tabs between the words, lower case, spaces at the end. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nbdat\t4\tlast \t\r\nQUIT");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.messages, 1);
    CHECK(f.rec.content_len == 4 && memcmp(f.rec.content, "QUIT", 4) == 0);
    /* A chunk of 100000 octets (three times the input buffer) in writes
     * of 1000, the last with two commands behind it. */
    size_t big = 100000;
    char *chunk = malloc(big + 32);
    CHECK(chunk != NULL);
    if (!chunk) return 1;
    static const char pattern[] = "MAIL FROM:<e@v>\r\n.\r\n";
    for (size_t i = 0; i < big; i++) chunk[i] = pattern[i % (sizeof pattern - 1)];
    memcpy(chunk + big, "NOOP\r\nRSET\r\n", 12);
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 000100000 LAST\r\n");
    for (size_t off = 0; off < big + 12; off += 1000) {
        raw_send(&c, chunk + off, big + 12 - off < 1000 ? big + 12 - off : 1000);
        corio_writer_drain(c.w);
    }
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    CHECK_EQ(f.rec.messages, 2);
    CHECK(f.rec.content_len == big && memcmp(f.rec.content, chunk, big) == 0);
    free(chunk);
    /* Gone quiet mid-chunk: 421 after the idle timeout, nothing delivered. */
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 50 LAST\r\nonly this");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "421 4.4.2 mx.test Error: timeout exceeded");
    expect_eof(&c);
    raw_close(&c);
    CHECK_EQ(f.rec.messages, 2);
    /* Lines that are no BDAT command: 501 and the connection closed (a NUL
     * or an 8-bit byte in the line too, never "bad syntax" with the chunk
     * then read as commands). */
    static const struct {
        const char *line;
        size_t len;
    } bad[] = {
#define BAD(s) {s, sizeof s - 1}
        BAD("BDAT +5 LAST\r\n"), BAD("BDAT 5LAST\r\n"), BAD("BDAT 0x5 LAST\r\n"), BAD("BDAT 5 LAST\tx\r\n"),
        BAD("BDAT 5 LAST\0\r\n"), BAD("BDAT 5\0 LAST\r\n"), BAD("BDAT 5 L\xc3\x84ST\r\n"),
        BAD("BDAT 18446744073709551616 LAST\r\n"),
#undef BAD
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(raw_open(&c, f.port), 0);
        EXPECT(&c, "220 mx.test corio SMTP");
        raw_sends(&c, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n");
        raw_reply(&c, got, sizeof got);
        EXPECT(&c, "250 OK");
        EXPECT(&c, "250 OK");
        raw_send(&c, bad[i].line, bad[i].len);
        raw_sends(&c, "NOOP\r\n");
        EXPECT(&c, "501 5.5.4 Syntax: BDAT count [LAST]");
        expect_eof(&c);
        raw_close(&c);
    }
    CHECK_EQ(f.rec.messages, 2);
    fx_stop(&f);
    /* CHUNKING not offered: BDAT is unknown (500, as aiosmtpd), but its
     * chunk - here a whole transaction's commands - is skipped, not run. */
    fx g = {0};
    if (fx_start(&g) < 0) return 1;
    CHECK_EQ(raw_open(&c, g.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, EHLO_REPLY);
    const char *smuggled = "MAIL FROM:<e@v>\r\nRCPT TO:<x@y>\r\nDATA\r\nevil\r\n.\r\n";
    char cmd[64];
    snprintf(cmd, sizeof cmd, "BDAT %zu LAST\r\n", strlen(smuggled));
    raw_sends(&c, cmd);
    raw_sends(&c, smuggled);
    raw_sends(&c, "NOOP\r\n");
    EXPECT(&c, "500 Error: command \"BDAT\" not recognized");
    EXPECT(&c, "250 OK");
    CHECK_EQ(g.rec.messages, 0);
    /* One whose count cannot be read: the session ends. */
    raw_sends(&c, "BDAT\tx\r\nNOOP\r\n");
    EXPECT(&c, "500 Error: command \"BDAT\" not recognized");
    expect_eof(&c);
    raw_close(&c);
    /* Still counted as an unknown command: the fifth one says goodbye. */
    CHECK_EQ(raw_open(&c, g.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "XX\r\nXX\r\nXX\r\nXX\r\nBDAT 4\r\nNOOP\r\n");
    for (int i = 0; i < 4; i++) EXPECT(&c, "500 Error: command \"XX\" not recognized");
    EXPECT(&c, "502 5.5.1 Too many unrecognized commands, goodbye.");
    expect_eof(&c);
    raw_close(&c);
    CHECK_EQ(g.rec.messages, 0);
    fx_stop(&g);
    return 0;
}
static void test_bdat_hostile(void) { test_run(bdat_hostile_main, NULL, 0); }

static void run_all(void) {
    RUN_NET_TEST(test_transcript);
    RUN_NET_TEST(test_mail_errors);
    RUN_NET_TEST(test_pipelining);
    RUN_NET_TEST(test_bad_lines);
    RUN_NET_TEST(test_data_limits);
    RUN_NET_TEST(test_smuggling);
    RUN_NET_TEST(test_vanish);
    RUN_NET_TEST(test_timeout);
    RUN_NET_TEST(test_auth);
    RUN_NET_TEST(test_hooks);
    RUN_NET_TEST(test_graceful);
    RUN_NET_TEST(test_bdat);
    RUN_NET_TEST(test_bdat_errors);
    RUN_NET_TEST(test_bdat_hostile);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    net_warm_up();
    RUN_TEST(test_parse);
    run_on_each_backend(run_all);
    TEST_MAIN_END();
}
