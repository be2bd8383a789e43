/*
 * test_smtp_tls.c - STARTTLS (RFC 3207) over corio-tls: our client and
 * our server, Python's smtplib against our server, AUTH only after TLS,
 * require_starttls, certificate checks, and the CVE-2011-0411 injection
 * (commands pipelined after STARTTLS must not be read as sent over TLS).
 * Exits 77 when the module was built without corio-tls or openssl(1) is
 * missing to make a certificate.
 */
#include "smtp_test_util.h"

#if CORIO_SMTP_HAVE_TLS
#include <corio/tls.h>

#ifndef SMTP_TEST_SRC
#define SMTP_TEST_SRC "."
#endif

static char dir[64], cert[128], key[128];

typedef struct tls_fx {
    rec rec;
    corio_smtp_server *srv;
    int port;
    corio_smtp_server_opts opts;
    corio_tls_ctx *sctx;
} tls_fx;

static int tls_fx_start(tls_fx *f) {
    f->sctx = corio_tls_ctx_new_server();
    CHECK(f->sctx != NULL);
    CHECK_EQ(corio_tls_ctx_load_cert_chain(f->sctx, cert, key), 0);
    f->opts.hostname = "mx.test";
    f->opts.tls_ctx = f->sctx;
    int rc = corio_smtp_server_start("127.0.0.1", 0, &rec_handler, &f->rec, &f->opts, &f->srv);
    CHECK_EQ(rc, 0);
    if (rc == 0) f->port = corio_smtp_server_port(f->srv);
    return rc;
}

static void tls_fx_stop(tls_fx *f) {
    corio_smtp_server_close(f->srv, 0);
    CHECK_EQ(corio_smtp_server_wait_closed(f->srv), 0);
    CHECK_EQ(corio_smtp_server_free(f->srv), 0);
    corio_tls_ctx_free(f->sctx);
    rec_free(&f->rec);
}

static corio_tls_ctx *client_ctx(void) {
    corio_tls_ctx *c = corio_tls_ctx_new_client();
    CHECK(c != NULL);
    CHECK_EQ(corio_tls_ctx_load_verify_locations(c, cert, NULL), 0);
    return c;
}

static int client_server_main(void *arg) {
    (void)arg;
    tls_fx f = {0};
    if (tls_fx_start(&f) < 0) return 1;
    corio_tls_ctx *cc = client_ctx();
    corio_smtp_client_opts o = {.tls_ctx = cc, .require_tls = 1, .server_hostname = "localhost"};
    corio_smtp_client *c;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", f.port, &o, &c), 0);
    CHECK(!corio_smtp_client_has_ext(c, "STARTTLS")); /* the EHLO after TLS */
    CHECK(strcmp(corio_smtp_client_ext(c, "AUTH"), "LOGIN PLAIN") == 0);
    CHECK_EQ(corio_smtp_client_auth(c, "user", "secret"), 0);
    static const char m[] = "Subject: tls\r\n\r\n.dot\r\n";
    CHECK_EQ(corio_smtp_client_send(c, "a@b", (const char *[]){"x@y"}, 1, m, sizeof m - 1, NULL), 0);
    CHECK_EQ(f.rec.messages, 1);
    CHECK(strcmp(f.rec.content, m) == 0);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);

    /* The certificate must name the host: "mx.wrong" does not match. */
    o.server_hostname = "mx.wrong";
    c = NULL;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", f.port, &o, &c), CORIO_ETLS_VERIFY);
    CHECK(c == NULL);
    corio_tls_ctx_free(cc);
    WAIT_UNTIL(corio_smtp_server_connections(f.srv) == 0, 20);
    tls_fx_stop(&f);
    return 0;
}
static void test_client_server(void) { test_run(client_server_main, NULL, 0); }

/* A man in the middle appends "NOOP" to the plaintext STARTTLS: after the
 * handshake, the first reply must be the one to our EHLO. */
static int injection_main(void *arg) {
    (void)arg;
    tls_fx f = {0};
    if (tls_fx_start(&f) < 0) return 1;
    raw c;
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\n");
    EXPECT(&c, "250-mx.test\n250-SIZE 33554432\n250-8BITMIME\n250-SMTPUTF8\n250-STARTTLS\n250-PIPELINING\n250 HELP");
    raw_sends(&c, "STARTTLS\r\nNOOP\r\nMAIL FROM:<evil@x>\r\n");
    EXPECT(&c, "220 Ready to start TLS");
    corio_tls_ctx *cc = client_ctx();
    raw t;
    CHECK_EQ(corio_start_tls(c.r, c.w, cc, "localhost", NULL, &t.r, &t.w), 0);
    raw_sends(&t, "MAIL FROM:<a@b>\r\n");
    EXPECT(&t, "503 Error: send HELO first"); /* the name given before TLS is forgotten */
    raw_sends(&t, "EHLO c\r\n");
    EXPECT(&t, "250-mx.test\n250-SIZE 33554432\n250-8BITMIME\n250-SMTPUTF8\n250-PIPELINING\n250-AUTH LOGIN PLAIN\n250 HELP");
    raw_sends(&t, "STARTTLS\r\n");
    EXPECT(&t, "503 Error: TLS already active");
    raw_sends(&t, "QUIT\r\n");
    EXPECT(&t, "221 Bye");
    raw_close(&t);
    corio_tls_ctx_free(cc);
    tls_fx_stop(&f);
    return 0;
}
static void test_injection(void) { test_run(injection_main, NULL, 0); }

/* STARTTLS in the middle of a BDAT transaction: the chunks before it are
 * forgotten with the rest of the transaction, and the plaintext pipelined
 * behind STARTTLS (a BDAT with its chunk) is discarded, not delivered. */
static int bdat_starttls_main(void *arg) {
    (void)arg;
    tls_fx f = {0};
    f.opts.chunking = 1;
    if (tls_fx_start(&f) < 0) return 1;
    raw c;
    char got[2048];
    CHECK_EQ(raw_open(&c, f.port), 0);
    EXPECT(&c, "220 mx.test corio SMTP");
    raw_sends(&c, "EHLO c\r\n");
    raw_reply(&c, got, sizeof got);
    raw_sends(&c, "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 3\r\nabcSTARTTLS\r\nBDAT 4 LAST\r\nevil");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 OK");
    EXPECT(&c, "250 2.0.0 OK: 3 octets received");
    EXPECT(&c, "220 Ready to start TLS");
    corio_tls_ctx *cc = client_ctx();
    raw t;
    CHECK_EQ(corio_start_tls(c.r, c.w, cc, "localhost", NULL, &t.r, &t.w), 0);
    raw_sends(&t, "EHLO c\r\nBDAT 2 LAST\r\nxyMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 2 LAST\r\nxyQUIT\r\n");
    raw_reply(&t, got, sizeof got);
    EXPECT(&t, "503 Error: need MAIL command");
    EXPECT(&t, "250 OK");
    EXPECT(&t, "250 OK");
    EXPECT(&t, "250 OK");
    EXPECT(&t, "221 Bye");
    CHECK_EQ(f.rec.messages, 1);
    CHECK(f.rec.content_len == 2 && memcmp(f.rec.content, "xy", 2) == 0);
    raw_close(&t);
    corio_tls_ctx_free(cc);
    tls_fx_stop(&f);
    return 0;
}
static void test_bdat_starttls(void) { test_run(bdat_starttls_main, NULL, 0); }

static int require_main(void *arg) {
    (void)arg;
    tls_fx f = {0};
    f.opts.require_starttls = 1;
    if (tls_fx_start(&f) < 0) return 1;
    corio_smtp_client *c;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", f.port, NULL, &c), 0);
    CHECK(corio_smtp_client_has_ext(c, "STARTTLS"));
    CHECK_EQ(corio_smtp_client_command(c, "NOOP"), 250);
    CHECK_EQ(corio_smtp_client_send(c, "a@b", (const char *[]){"x@y"}, 1, "m", 1, NULL), CORIO_SMTP_EREPLY);
    CHECK_EQ(corio_smtp_client_code(c), 530);
    CHECK(strcmp(corio_smtp_client_text(c), "Must issue a STARTTLS command first") == 0);
    CHECK_EQ(corio_smtp_client_quit(c), 0);
    corio_smtp_client_free(c);
    CHECK_EQ(f.rec.messages, 0);
    tls_fx_stop(&f);

    /* A client that requires TLS from a server that has none. */
    corio_smtp_server *plain;
    rec r = {0};
    CHECK_EQ(corio_smtp_server_start("127.0.0.1", 0, &rec_handler, &r, NULL, &plain), 0);
    corio_tls_ctx *cc = client_ctx();
    corio_smtp_client_opts o = {.tls_ctx = cc, .require_tls = 1};
    c = NULL;
    CHECK_EQ(corio_smtp_client_connect("127.0.0.1", corio_smtp_server_port(plain), &o, &c), -ENOTSUP);
    corio_smtp_client_free(c);
    corio_tls_ctx_free(cc);
    corio_smtp_server_close(plain, 0);
    CHECK_EQ(corio_smtp_server_wait_closed(plain), 0);
    corio_smtp_server_free(plain);
    return 0;
}
static void test_require(void) { test_run(require_main, NULL, 0); }

static int smtplib_main(void *arg) {
    int *skipped = arg;
    tls_fx f = {0};
    if (tls_fx_start(&f) < 0) return 1;
    char port[16];
    snprintf(port, sizeof port, "%d", f.port);
    char *const argv[] = {"python3", SMTP_TEST_SRC "/starttls_smtplib.py", port, cert, NULL};
    corio_process *p;
    if (corio_process_exec("/usr/bin/python3", argv, NULL, &p) < 0) {
        *skipped = 1;
    } else {
        int code = -1;
        corio_timeout to;
        corio_timeout_enter(&to, 40);
        CHECK_EQ(corio_timeout_exit(&to, corio_process_wait(p, &code)), 0);
        CHECK_EQ(code, 0);
        corio_process_free(p);
        CHECK_EQ(f.rec.messages, 1);
        CHECK(f.rec.content && strcmp(f.rec.content, "Subject: over TLS\r\n\r\n.dot\r\n") == 0);
    }
    tls_fx_stop(&f);
    return 0;
}
static void test_smtplib(void) {
    int skipped = 0;
    test_run(smtplib_main, &skipped, 0);
    if (skipped) printf("SKIP test_smtplib: no /usr/bin/python3\n");
}

/* Our client's STARTTLS against aiosmtpd's (Python's ssl). */
static int aiosmtpd_main(void *arg) {
    int *skipped = arg;
    char *const argv[] = {"python3", SMTP_TEST_SRC "/aiosmtpd_peer.py", dir, cert, key, NULL};
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
    if (port > 0) {
        corio_tls_ctx *cc = client_ctx();
        corio_smtp_client *c;
        /* Without TLS aiosmtpd offers no AUTH ... */
        CHECK_EQ(corio_smtp_client_connect("127.0.0.1", port, NULL, &c), 0);
        CHECK(corio_smtp_client_has_ext(c, "STARTTLS"));
        CHECK_EQ(corio_smtp_client_auth(c, "user", "secret"), -ENOTSUP);
        CHECK_EQ(corio_smtp_client_quit(c), 0);
        corio_smtp_client_free(c);
        /* ... and after STARTTLS it does. */
        corio_smtp_client_opts o = {.tls_ctx = cc, .require_tls = 1, .server_hostname = "localhost"};
        CHECK_EQ(corio_smtp_client_connect("127.0.0.1", port, &o, &c), 0);
        CHECK(!corio_smtp_client_has_ext(c, "STARTTLS"));
        CHECK_EQ(corio_smtp_client_auth(c, "user", "secret"), 0);
        static const char m[] = "Subject: via aiosmtpd over TLS\r\n\r\n.dot\r\n";
        CHECK_EQ(corio_smtp_client_send(c, "a@b", (const char *[]){"x@y"}, 1, m, sizeof m - 1, NULL), 0);
        CHECK_EQ(corio_smtp_client_quit(c), 0);
        corio_smtp_client_free(c);
        corio_tls_ctx_free(cc);
        char path[128], buf[256];
        snprintf(path, sizeof path, "%s/1.eml", dir);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (f) {
            len = fread(buf, 1, sizeof buf, f);
            fclose(f);
            CHECK_EQ(len, sizeof m - 1);
            CHECK(memcmp(buf, m, sizeof m - 1) == 0);
        }
    } else {
        *skipped = 1;
    }
    corio_process_close_stdin(p);
    int code;
    corio_timeout_enter(&to, 20);
    corio_timeout_exit(&to, corio_process_wait(p, &code));
    corio_process_free(p);
    return 0;
}
static void test_aiosmtpd(void) {
    int skipped = 0;
    test_run(aiosmtpd_main, &skipped, 0);
    if (skipped) printf("SKIP test_aiosmtpd: /usr/bin/python3 with aiosmtpd did not start\n");
}

static void run_all(void) {
    RUN_NET_TEST(test_client_server);
    RUN_NET_TEST(test_injection);
    RUN_NET_TEST(test_bdat_starttls);
    RUN_NET_TEST(test_require);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/corio-smtp-tls-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout %s -out %s "
             "-days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    int made = system(cmd) == 0;
    int rc = 77;
    if (!made) {
        printf("SKIP: openssl(1) could not make a test certificate\n");
    } else {
        net_warm_up();
        run_on_each_backend(run_all);
        RUN_NET_TEST(test_smtplib);
        RUN_NET_TEST(test_aiosmtpd);
        printf("%d cases, %d failed checks\n", test_cases, test_failures);
        rc = test_failures ? 1 : 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}

#else
int main(void) {
    (void)test_cases;
    (void)test_failures;
    printf("SKIP: corio-smtp was built without corio-tls (no STARTTLS)\n");
    return 77;
}
#endif
