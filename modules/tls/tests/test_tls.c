/*
 * test_tls.c - corio-tls against real peers (openssl s_server / s_client,
 * Python's ssl) and against itself, on each backend: TLS 1.2 and 1.3,
 * ALPN both ways, resumption, SNI, client certificates, bad input and
 * verification failures (each a clear error, the server serving on), a
 * bulk transfer hashed on both sides, cancel-safety of a read in the
 * middle of a record, start_tls over a plain exchange.
 *
 * Certificates come from scripts/make-test-certs.sh, run into a temporary
 * directory.  A peer that cannot start (no openssl or python3) skips its
 * part with a SKIP line.  CORIO_TEST_BULK_MIB sets the bulk size (256).
 */
#include "test.h"
#include "net_util.h"

#include <corio/tls.h>

#include <ftw.h>
#include <poll.h>
#include <sys/stat.h>

static char certs[64];  /* the temporary directory of the certificates */
static char path_buf[16][256];
static int path_next;

/* certs/<name>, in one of a ring of buffers (a case uses a few at once). */
static const char *cert(const char *name) {
    char *p = path_buf[path_next++ % 16];
    snprintf(p, 256, "%s/%s", certs, name);
    return p;
}

static int have_openssl, have_python;

/* ---- helpers --------------------------------------------------------------- */

static corio_tls_ctx *client_ctx(const char *cafile) {
    corio_tls_ctx *c = corio_tls_ctx_new_client();
    CHECK(c != NULL);
    if (cafile) CHECK_EQ(corio_tls_ctx_load_verify_locations(c, cert(cafile), NULL), 0);
    return c;
}

static corio_tls_ctx *server_ctx(const char *name) {
    corio_tls_ctx *c = corio_tls_ctx_new_server();
    CHECK(c != NULL);
    char crt[64], key[64];
    snprintf(crt, sizeof crt, "%s.pem", name);
    snprintf(key, sizeof key, "%s.key", name);
    CHECK_EQ(corio_tls_ctx_load_cert_chain(c, cert(crt), cert(key)), 0);
    return c;
}

/* What the echo handler saw of its connection. */
typedef struct seen {
    int resumed;
    char alpn[32];
    char version[16];
    char subject[128];
    char sni[64];
    int served;
} seen;
static seen last_seen;

/* Line echo, recording the connection's parameters. */
static int echo_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    corio_tls_conn *c = corio_tls_writer_conn(w);
    CHECK(c != NULL);
    CHECK(corio_tls_reader_conn(r) == c);
    memset(&last_seen, 0, sizeof last_seen);
    last_seen.resumed = corio_tls_session_resumed(c);
    snprintf(last_seen.alpn, sizeof last_seen.alpn, "%s", corio_tls_alpn(c) ? corio_tls_alpn(c) : "");
    snprintf(last_seen.version, sizeof last_seen.version, "%s", corio_tls_version(c));
    const char *sni = corio_tls_server_name(c);
    snprintf(last_seen.sni, sizeof last_seen.sni, "%s", sni ? sni : "");
    if (corio_tls_peer_subject(c, last_seen.subject, sizeof last_seen.subject) < 0) last_seen.subject[0] = 0;
    last_seen.served++;
    for (;;) {
        const char *line;
        size_t len;
        int rc = corio_reader_readline(r, &line, &len);
        if (rc < 0) return rc;
        if (len == 0) return 0;
        if ((rc = corio_writer_write(w, line, len)) < 0 || (rc = corio_writer_drain(w)) < 0) return rc;
    }
}

/* A client round trip: "ping\n" echoed.  0 or the error. */
static int ping(corio_reader *r, corio_writer *w, const char *expect) {
    const char *line;
    size_t len;
    int rc = corio_writer_write(w, "ping\n", 5);
    if (rc == 0) rc = corio_reader_readline(r, &line, &len);
    if (rc == 0 && (len != strlen(expect) || memcmp(line, expect, len) != 0)) rc = -EPROTO;
    return rc;
}

/* A peer process with its stdout as a stream; the first line with
 * `marker` gives the port after its last ':' or ' '. */
static corio_process *peer_start(char *const argv[], int with_stdin, const char *marker, int *port) {
    corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE, .stderr_mode = CORIO_STDIO_DEVNULL,
                            .stdin_mode = with_stdin ? CORIO_STDIO_PIPE : CORIO_STDIO_DEVNULL};
    corio_process *p;
    if (corio_process_exec(argv[0], argv, &o, &p) < 0) return NULL;
    if (!marker) return p;
    corio_reader *out = corio_process_stdout(p);
    corio_timeout to;
    corio_timeout_enter(&to, 20);
    int rc;
    for (;;) {
        const char *line;
        size_t len;
        rc = corio_reader_readline(out, &line, &len);
        if (rc < 0 || len == 0) {
            rc = rc < 0 ? rc : -EPIPE;
            break;
        }
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        if (strstr(buf, marker)) {
            char *sep = strrchr(buf, ':');
            if (!sep) sep = strrchr(buf, ' ');
            *port = sep ? atoi(sep + 1) : 0;
            break;
        }
    }
    rc = corio_timeout_exit(&to, rc);
    if (rc < 0 || *port <= 0) {
        fprintf(stderr, "peer %s did not start: %s\n", argv[0], corio_strerror(rc));
        corio_process_free(p);
        return NULL;
    }
    return p;
}

/* Read the peer's stdout lines into buf (appending) until one contains
 * `want` or it ends.  1 if found. */
static int peer_expect(corio_process *p, const char *want, char *buf, size_t cap) {
    corio_reader *out = corio_process_stdout(p);
    corio_timeout to;
    corio_timeout_enter(&to, 20);
    int found = 0;
    for (;;) {
        const char *line;
        size_t len;
        if (corio_reader_readline(out, &line, &len) < 0 || len == 0) break;
        size_t at = strlen(buf);
        snprintf(buf + at, cap - at, "%.*s", (int)len, line);
        if (strstr(buf + at, want)) {
            found = 1;
            break;
        }
    }
    corio_timeout_exit(&to, 0);
    return found;
}

/* ---- corio client against openssl s_server and Python's ssl server ------------ */

static int client_vs_s_server_main(void *arg) {
    const char *version = arg; /* "-tls1_2" or "-tls1_3" */
    char *const argv[] = {"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", (char *)cert("server.pem"),
                          "-key", (char *)cert("server.key"), "-rev", "-alpn", "h2,http/1.1", (char *)version,
                          NULL};
    int port = 0;
    corio_process *p = peer_start(argv, 0, "ACCEPT", &port);
    if (!p) {
        printf("SKIP: openssl s_server did not start\n");
        return 0;
    }
    corio_tls_ctx *ctx = client_ctx("ca.pem");
    const char *alpn[] = {"spdy/1", "http/1.1"};
    CHECK_EQ(corio_tls_ctx_set_alpn(ctx, alpn, 2), 0);
    for (int i = 0; i < 2; i++) {
        corio_reader *r;
        corio_writer *w;
        int rc = corio_open_tls_connection("127.0.0.1", port, ctx, "localhost", &r, &w);
        CHECK_EQ(rc, 0);
        if (rc < 0) {
            fprintf(stderr, "open: %s\n", corio_tls_last_error(NULL));
            break;
        }
        corio_tls_conn *c = corio_tls_writer_conn(w);
        CHECK_EQ(ping(r, w, "gnip\n"), 0); /* -rev: each line comes back reversed */
        CHECK(strcmp(corio_tls_version(c), strcmp(version, "-tls1_2") == 0 ? "TLSv1.2" : "TLSv1.3") == 0);
        CHECK(corio_tls_alpn(c) && strcmp(corio_tls_alpn(c), "http/1.1") == 0);
        CHECK_EQ(corio_tls_session_resumed(c), i); /* the second connection resumes the first's session */
        char buf[256];
        CHECK(corio_tls_peer_subject(c, buf, sizeof buf) > 0 && strstr(buf, "CN=localhost"));
        CHECK(corio_tls_peer_san(c, buf, sizeof buf) > 0 && strcmp(buf, "DNS:localhost, IP:127.0.0.1") == 0);
        CHECK_EQ(corio_tls_peer_fingerprint(c, buf, sizeof buf), 64);
        CHECK_EQ(corio_tls_peer_fingerprint(c, buf, 10), -ENOBUFS);
        CHECK(strcmp(corio_tls_server_name(c), "localhost") == 0);
        CHECK_EQ(corio_stream_close(r, w), 0);
    }
    corio_tls_ctx_free(ctx);
    corio_process_free(p);
    return 0;
}

static void test_client_vs_openssl_server(void) {
    if (!have_openssl) return;
    test_run(client_vs_s_server_main, "-tls1_2", 0);
    test_run(client_vs_s_server_main, "-tls1_3", 0);
}

static int client_vs_python_main(void *arg) {
    const char *version = arg;
    char *const argv[] = {"python3", CORIO_TLS_PEER_PY, "server", (char *)cert("server.pem"),
                          (char *)cert("server.key"), "h2,http/1.1", (char *)version, NULL};
    int port = 0;
    corio_process *p = peer_start(argv, 0, "port", &port);
    if (!p) {
        printf("SKIP: the Python ssl server did not start\n");
        return 0;
    }
    corio_tls_ctx *ctx = client_ctx("ca.pem");
    const char *alpn[] = {"h2"};
    CHECK_EQ(corio_tls_ctx_set_alpn(ctx, alpn, 1), 0);
    for (int i = 0; i < 2; i++) {
        corio_reader *r;
        corio_writer *w;
        int rc = corio_open_tls_connection("localhost", port, ctx, NULL, &r, &w);
        CHECK_EQ(rc, 0);
        if (rc < 0) {
            fprintf(stderr, "open: %s\n", corio_tls_last_error(NULL));
            break;
        }
        corio_tls_conn *c = corio_tls_writer_conn(w);
        CHECK_EQ(ping(r, w, "ping\n"), 0);
        CHECK(strcmp(corio_tls_version(c), strcmp(version, "tls12") == 0 ? "TLSv1.2" : "TLSv1.3") == 0);
        CHECK(corio_tls_alpn(c) && strcmp(corio_tls_alpn(c), "h2") == 0);
        CHECK_EQ(corio_tls_session_resumed(c), i);
        /* Half-close: close_notify; Python answers with its own, then EOF. */
        CHECK_EQ(corio_writer_write_eof(w), 0);
        char rest[16];
        CHECK_EQ(corio_reader_read(r, rest, sizeof rest), 0);
        CHECK_EQ(corio_stream_close(r, w), 0);
    }
    char out[1024] = "";
    CHECK(peer_expect(p, "alpn h2", out, sizeof out));
    corio_tls_ctx_free(ctx);
    corio_process_free(p);
    return 0;
}

static void test_client_vs_python_server(void) {
    if (!have_python) return;
    test_run(client_vs_python_main, "tls12", 0);
    test_run(client_vs_python_main, "tls13", 0);
}

/* ---- corio server against openssl s_client and Python's ssl client ------------- */

typedef struct server_fixture {
    corio_tls_server tls;
    corio_server *srv;
    int port;
} server_fixture;

static int fixture_start(server_fixture *f, corio_tls_ctx *ctx, corio_stream_handler h) {
    memset(f, 0, sizeof *f);
    f->tls.ctx = ctx;
    f->tls.handler = h;
    int rc = corio_start_tls_server("127.0.0.1", 0, &f->tls, NULL, &f->srv);
    CHECK_EQ(rc, 0);
    f->port = rc == 0 ? corio_server_port(f->srv) : 0;
    return rc;
}

static void fixture_stop(server_fixture *f) {
    corio_server_close(f->srv, 1);
    CHECK_EQ(corio_server_wait_closed(f->srv), 0);
    CHECK_EQ(corio_server_free(f->srv), 0);
    corio_tls_ctx_free(f->tls.ctx);
}

/* One s_client run: sends "ping\n", waits for the echo, then closes its
 * stdin; returns s_client's output (malloc'd) or NULL. */
static char *s_client_run(int port, const char *version, const char *sess_flag, const char *sess_file) {
    char portarg[32];
    snprintf(portarg, sizeof portarg, "127.0.0.1:%d", port);
    char *const argv[] = {"openssl", "s_client", "-connect", portarg, "-servername", "localhost", "-CAfile",
                          (char *)cert("ca.pem"), "-verify_return_error", "-alpn", "x-none,http/1.1",
                          (char *)version, (char *)sess_flag, (char *)sess_file, NULL};
    corio_process *p = peer_start(argv, 1, NULL, NULL);
    if (!p) return NULL;
    CHECK_EQ(corio_writer_write(corio_process_stdin(p), "ping\n", 5), 0);
    char *out = calloc(1, 16384);
    CHECK(peer_expect(p, "ping", out, 16384)); /* the echo */
    corio_process_close_stdin(p);              /* s_client then closes (close_notify) */
    char *rest = NULL;
    size_t n;
    corio_process_communicate(p, NULL, 0, &rest, &n, NULL, NULL);
    if (rest) {
        size_t at = strlen(out);
        snprintf(out + at, 16384 - at, "%s", rest);
        free(rest);
    }
    corio_process_free(p);
    return out;
}

static int server_vs_s_client_main(void *arg) {
    const char *version = arg;
    server_fixture f;
    corio_tls_ctx *ctx = server_ctx("server");
    const char *alpn[] = {"h2", "http/1.1"};
    CHECK_EQ(corio_tls_ctx_set_alpn(ctx, alpn, 2), 0);
    if (fixture_start(&f, ctx, echo_handler) < 0) return 0;
    char sess[128];
    snprintf(sess, sizeof sess, "%s/session.pem", certs);
    for (int i = 0; i < 2; i++) {
        char *out = s_client_run(f.port, version, i == 0 ? "-sess_out" : "-sess_in", sess);
        CHECK(out != NULL);
        if (!out) break;
        CHECK(strstr(out, i == 0 ? "New, TLSv1." : "Reused, TLSv1.") != NULL);
        CHECK(strstr(out, "ALPN protocol: http/1.1") != NULL);
        CHECK(strstr(out, "Verify return code: 0 (ok)") != NULL);
        if (test_failures) fprintf(stderr, "s_client said:\n%s\n", out);
        free(out);
        WAIT_UNTIL(last_seen.served && corio_server_connections(f.srv) == 0, 10);
        CHECK_EQ(last_seen.resumed, i);
        CHECK(strcmp(last_seen.alpn, "http/1.1") == 0);
        CHECK(strcmp(last_seen.sni, "localhost") == 0);
        CHECK(strcmp(last_seen.version, strcmp(version, "-tls1_2") == 0 ? "TLSv1.2" : "TLSv1.3") == 0);
    }
    CHECK_EQ(f.tls.handshakes, 2);
    CHECK_EQ(f.tls.handshake_failures, 0);
    unlink(sess);
    fixture_stop(&f);
    return 0;
}

static void test_server_vs_openssl_client(void) {
    if (!have_openssl) return;
    test_run(server_vs_s_client_main, "-tls1_2", 0);
    test_run(server_vs_s_client_main, "-tls1_3", 0);
}

static int server_vs_python_main(void *arg) {
    const char *version = arg;
    server_fixture f;
    corio_tls_ctx *ctx = server_ctx("server");
    const char *alpn[] = {"h2", "http/1.1"};
    CHECK_EQ(corio_tls_ctx_set_alpn(ctx, alpn, 2), 0);
    if (fixture_start(&f, ctx, echo_handler) < 0) return 0;
    char portarg[16];
    snprintf(portarg, sizeof portarg, "%d", f.port);
    char *const argv[] = {"python3", CORIO_TLS_PEER_PY, "client", portarg, (char *)cert("ca.pem"),
                          "http/1.1,h2", (char *)version, NULL};
    corio_process *p = peer_start(argv, 0, NULL, NULL);
    CHECK(p != NULL);
    char *out = NULL;
    size_t n;
    int code = -1;
    if (p) {
        CHECK_EQ(corio_process_communicate(p, NULL, 0, &out, &n, NULL, NULL), 0);
        corio_process_poll(p, &code);
        corio_process_free(p);
    }
    CHECK_EQ(code, 0);
    const char *v = strcmp(version, "tls12") == 0 ? "TLSv1.2" : "TLSv1.3";
    char want[64];
    snprintf(want, sizeof want, "version %s alpn h2 reused 1", v);
    CHECK(out && strstr(out, "echo ping") && strstr(out, want));
    if (out && !strstr(out, want)) fprintf(stderr, "python said:\n%s\n", out);
    free(out);
    CHECK_EQ(f.tls.handshakes, 2);
    fixture_stop(&f);
    return 0;
}

static void test_server_vs_python_client(void) {
    if (!have_python) return;
    test_run(server_vs_python_main, "tls12", 0);
    test_run(server_vs_python_main, "tls13", 0);
}

/* ---- verification failures: each a clear error ------------------------------------ */

typedef struct verify_case {
    const char *server_cert; /* what the server presents */
    const char *trust;       /* the client's CA file */
    const char *name;        /* server_hostname */
    int want;                /* 0 or the error */
    const char *reason;      /* in corio_tls_last_error(NULL) */
} verify_case;

static int verify_main(void *arg) {
    (void)arg;
    static const verify_case cases[] = {
        {"server", "ca.pem", "localhost", 0, ""},
        {"server", "ca.pem", "127.0.0.1", 0, ""},
        {"server", "self.pem", "localhost", CORIO_ETLS_VERIFY, "unable to get local issuer certificate"},
        {"expired", "ca.pem", "localhost", CORIO_ETLS_VERIFY, "certificate has expired"},
        {"other", "ca.pem", "localhost", CORIO_ETLS_VERIFY, "hostname mismatch"},
        {"server", "ca.pem", "127.0.0.2", CORIO_ETLS_VERIFY, "IP address mismatch"},
        {"self", "ca.pem", "localhost", CORIO_ETLS_VERIFY, "self-signed certificate"},
        {"self", "self.pem", "localhost", 0, ""}, /* trusted explicitly */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const verify_case *vc = &cases[i];
        server_fixture f;
        if (fixture_start(&f, server_ctx(vc->server_cert), echo_handler) < 0) continue;
        corio_tls_ctx *ctx = client_ctx(vc->trust);
        corio_reader *r;
        corio_writer *w;
        int rc = corio_open_tls_connection("127.0.0.1", f.port, ctx, vc->name, &r, &w);
        if (rc != vc->want || !strstr(corio_tls_last_error(NULL), vc->reason))
            fprintf(stderr, "case %zu: %d (%s), want %d (%s)\n", i, rc, corio_tls_last_error(NULL), vc->want,
                    vc->reason);
        CHECK_EQ(rc, vc->want);
        CHECK(strstr(corio_tls_last_error(NULL), vc->reason) != NULL);
        if (rc == 0) {
            CHECK_EQ(ping(r, w, "ping\n"), 0);
            CHECK_EQ(corio_stream_close(r, w), 0);
        } else {
            /* The server saw the client's alert; it fails that handshake only. */
            WAIT_UNTIL(f.tls.handshake_failures == 1, 10);
            CHECK_EQ(f.tls.handshake_failures, 1);
            CHECK(strstr(f.tls.last_error, "alert") != NULL);
            corio_tls_ctx *ok = corio_tls_ctx_new_client();
            CHECK_EQ(corio_tls_ctx_disable_verification(ok), 0);
            CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ok, NULL, &r, &w), 0);
            CHECK_EQ(ping(r, w, "ping\n"), 0);
            CHECK_EQ(corio_stream_close(r, w), 0);
            corio_tls_ctx_free(ok);
        }
        corio_tls_ctx_free(ctx);
        fixture_stop(&f);
    }
    /* NULL arguments: refused, nothing opened. */
    corio_tls_ctx *ctx = client_ctx("ca.pem");
    corio_reader *r;
    corio_writer *w;
    int fds = count_fds();
    CHECK_EQ(corio_start_tls(NULL, NULL, ctx, NULL, NULL, &r, &w), -EINVAL);
    CHECK_EQ(count_fds(), fds);
    corio_tls_ctx_free(ctx);
    return 0;
}

static void test_verification_failures(void) { test_run(verify_main, NULL, 0); }

/* ---- bad input at the server: plain text, an early close, silence ----------------- */

static int raw_send(int port, const void *data, size_t len, int linger, char *reply, size_t cap) {
    corio_reader *r;
    corio_writer *w;
    int rc = corio_open_connection("127.0.0.1", port, &r, &w);
    if (rc < 0) return rc;
    if (len) corio_writer_write(w, data, len);
    if (linger) corio_sleep(0.05);
    ssize_t n = 0;
    if (reply) {
        n = corio_reader_read(r, reply, cap - 1);
        reply[n > 0 ? n : 0] = 0;
    }
    corio_stream_close(r, w);
    return (int)n;
}

/* corio_tls_server's per-failure hook: called once per failed handshake. */
static int hs_failed_calls;
static char hs_failed_reason[CORIO_TLS_ERRLEN];
static void on_hs_failed(corio_writer *w, const char *reason, void *arg) {
    (void)arg;
    char peer[CORIO_ADDRSTRLEN] = "";
    CHECK(corio_writer_peername(w, peer, sizeof peer) > 0); /* the plain writer: its peer is known */
    CHECK(strncmp(peer, "127.0.0.1", 9) == 0);
    hs_failed_calls++;
    snprintf(hs_failed_reason, sizeof hs_failed_reason, "%s", reason);
}

static int bad_input_main(void *arg) {
    (void)arg;
    server_fixture f;
    corio_tls_ctx *ctx = server_ctx("server");
    CHECK_EQ(corio_tls_ctx_set_timeouts(ctx, 0.3, 1), 0);
    if (fixture_start(&f, ctx, echo_handler) < 0) return 0;
    hs_failed_calls = 0;
    f.tls.on_handshake_failed = on_hs_failed;
    corio_tls_ctx *cctx = client_ctx("ca.pem");
    char reply[512];

    /* Plain text at the TLS port: the connection closed (OpenSSL sends no
     * alert to what is not TLS), the handshake failed with the reason. */
    static const char http[] = "GET / HTTP/1.0\r\n\r\n";
    int n = raw_send(f.port, http, sizeof http - 1, 0, reply, sizeof reply);
    CHECK(n == 0 || (n > 0 && (unsigned char)reply[0] == 0x15)); /* EOF, or an alert record */
    WAIT_UNTIL(f.tls.handshake_failures == 1, 10);
    CHECK_EQ(f.tls.handshake_failures, 1);
    CHECK(strstr(f.tls.last_error, "wrong version number") || strstr(f.tls.last_error, "http request"));
    if (!strstr(f.tls.last_error, "http request")) fprintf(stderr, "plain text: %s\n", f.tls.last_error);

    /* A peer that closes in the middle of its ClientHello. */
    static const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01};
    raw_send(f.port, partial, sizeof partial, 1, NULL, 0);
    WAIT_UNTIL(f.tls.handshake_failures == 2, 10);
    CHECK_EQ(f.tls.handshake_failures, 2);
    CHECK(strstr(f.tls.last_error, "closed the connection during the handshake") != NULL);

    /* A handshake that never finishes: silence, then the timeout. */
    CHECK_EQ(raw_send(f.port, "", 0, 0, reply, sizeof reply), 0);
    CHECK_EQ(f.tls.handshake_failures, 3);
    CHECK(strstr(f.tls.last_error, "timed out") != NULL);

    /* Garbage after a valid-looking record header. */
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 37 + 11);
    junk[0] = 0x16, junk[1] = 0x03, junk[2] = 0x01, junk[3] = 0x01, junk[4] = 0x00;
    raw_send(f.port, junk, sizeof junk, 1, reply, sizeof reply);
    WAIT_UNTIL(f.tls.handshake_failures == 4, 10);
    CHECK_EQ(f.tls.handshake_failures, 4);
    CHECK_EQ(hs_failed_calls, 4); /* one call per failure */
    CHECK(strcmp(hs_failed_reason, f.tls.last_error) == 0);

    /* And the server still serves. */
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, cctx, "localhost", &r, &w), 0);
    CHECK_EQ(ping(r, w, "ping\n"), 0);
    CHECK_EQ(corio_stream_close(r, w), 0);
    CHECK_EQ(f.tls.handshakes, 1);
    corio_tls_ctx_free(cctx);
    fixture_stop(&f);
    return 0;
}

static void test_server_bad_input(void) { test_run(bad_input_main, NULL, 0); }

/* ---- bad servers, seen by the client -------------------------------------------- */

static int closing_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r;
    if (arg) { /* wait for the ClientHello, then close */
        char buf[16];
        corio_reader_read(r, buf, sizeof buf);
    }
    corio_writer_abort(w);
    return 0;
}

static int silent_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)w, (void)arg;
    char buf[4096];
    while (corio_reader_read(r, buf, sizeof buf) > 0) {
    }
    return 0;
}

static int plain_server(corio_stream_handler h, void *arg, corio_server **s) {
    CHECK_EQ(corio_start_server("127.0.0.1", 0, h, arg, s), 0);
    return corio_server_port(*s);
}

static void plain_stop(corio_server *s) {
    corio_server_close(s, 1);
    corio_server_wait_closed(s);
    corio_server_free(s);
}

static int bad_server_main(void *arg) {
    (void)arg;
    corio_tls_ctx *ctx = client_ctx("ca.pem");
    CHECK_EQ(corio_tls_ctx_set_timeouts(ctx, 0.3, 1), 0);
    corio_reader *r;
    corio_writer *w;
    corio_server *s;
    int port = plain_server(closing_handler, (void *)1, &s);
    int rc = corio_open_tls_connection("127.0.0.1", port, ctx, "localhost", &r, &w);
    CHECK(rc == CORIO_ETLS_EOF || rc == -ECONNRESET);
    CHECK(strstr(corio_tls_last_error(NULL), "during the handshake") || rc == -ECONNRESET);
    plain_stop(s);
    port = plain_server(silent_handler, NULL, &s);
    CHECK_EQ(corio_open_tls_connection("127.0.0.1", port, ctx, "localhost", &r, &w), -ETIMEDOUT);
    CHECK(strstr(corio_tls_last_error(NULL), "timed out") != NULL);
    plain_stop(s);
    /* Cancelled from outside (not a timeout): -ECANCELED. */
    port = plain_server(silent_handler, NULL, &s);
    CHECK_EQ(corio_tls_ctx_set_timeouts(ctx, INFINITY, 1), 0);
    corio_timeout to;
    corio_timeout_enter(&to, 0.2);
    rc = corio_open_tls_connection("127.0.0.1", port, ctx, "localhost", &r, &w);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    plain_stop(s);
    corio_tls_ctx_free(ctx);
    return 0;
}

static void test_client_bad_server(void) { test_run(bad_server_main, NULL, 0); }

/* ---- ragged EOF, half-close, SNI, client certificates ---------------------------- */

static int ragged_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r, (void)arg;
    corio_writer_write(w, "x", 1);
    corio_writer_drain(w);
    corio_sleep(0.05);
    corio_writer_abort(w); /* no close_notify */
    return 0;
}

static int features_main(void *arg) {
    (void)arg;
    corio_reader *r;
    corio_writer *w;
    char buf[256];

    /* A close without close_notify: an error, unless the context allows it. */
    server_fixture f;
    if (fixture_start(&f, server_ctx("server"), ragged_handler) == 0) {
        for (int ok = 0; ok < 2; ok++) {
            corio_tls_ctx *ctx = client_ctx("ca.pem");
            CHECK_EQ(corio_tls_ctx_set_ragged_eof_ok(ctx, ok), 0);
            CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w), 0);
            CHECK_EQ(corio_reader_read(r, buf, sizeof buf), 1);
            ssize_t n = corio_reader_read(r, buf, sizeof buf);
            CHECK_EQ(n, ok ? 0 : CORIO_ETLS_EOF);
            if (!ok) CHECK(strstr(corio_tls_reader_last_error(r), "close_notify") != NULL);
            corio_stream_close(r, w);
            corio_tls_ctx_free(ctx);
        }
        fixture_stop(&f);
    }

    /* Half-close: write, write_eof, read the echo to the end. */
    if (fixture_start(&f, server_ctx("server"), echo_handler) == 0) {
        corio_tls_ctx *ctx = client_ctx("ca.pem");
        CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w), 0);
        CHECK(corio_writer_can_write_eof(w));
        CHECK_EQ(corio_writer_write(w, "one\ntwo\n", 8), 0);
        CHECK_EQ(corio_writer_write_eof(w), 0);
        CHECK_EQ(corio_writer_write(w, "x", 1), -ESHUTDOWN);
        CHECK_EQ(corio_reader_read_to_eof(r, buf, sizeof buf), 8);
        CHECK(memcmp(buf, "one\ntwo\n", 8) == 0);
        CHECK_EQ(corio_stream_close(r, w), 0);
        corio_tls_ctx_free(ctx);
        fixture_stop(&f);
    }

    /* SNI: other.example gets its own certificate; the default otherwise. */
    corio_tls_ctx *sctx = server_ctx("server");
    CHECK_EQ(corio_tls_ctx_add_sni_cert(sctx, "other.example", cert("other.pem"), cert("other.key")), 0);
    CHECK_EQ(corio_tls_ctx_add_sni_cert(sctx, "x", cert("nonexistent.pem"), NULL), CORIO_ETLS);
    if (fixture_start(&f, sctx, echo_handler) == 0) {
        corio_tls_ctx *ctx = client_ctx("ca.pem");
        const char *names[] = {"other.example", "localhost"};
        for (int i = 0; i < 2; i++) {
            CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, names[i], &r, &w), 0);
            CHECK_EQ(ping(r, w, "ping\n"), 0);
            CHECK(corio_tls_peer_san(corio_tls_writer_conn(w), buf, sizeof buf) > 0);
            CHECK(strstr(buf, names[i]) != NULL);
            CHECK(strcmp(last_seen.sni, names[i]) == 0);
            CHECK_EQ(corio_stream_close(r, w), 0);
        }
        corio_tls_ctx_free(ctx);
        fixture_stop(&f);
    }

    /* Client certificates: required, verified against the CA. */
    sctx = server_ctx("server");
    CHECK_EQ(corio_tls_ctx_load_verify_locations(sctx, cert("ca.pem"), NULL), 0);
    CHECK_EQ(corio_tls_ctx_request_client_cert(sctx, 1), 0);
    if (fixture_start(&f, sctx, echo_handler) == 0) {
        corio_tls_ctx *ctx = client_ctx("ca.pem");
        int rc = corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w);
        if (rc == 0) { /* TLS 1.3: the client learns of the refusal at its first read */
            CHECK_EQ(corio_writer_write(w, "ping\n", 5), 0);
            rc = (int)corio_reader_read(r, buf, sizeof buf);
            CHECK(strstr(corio_tls_reader_last_error(r), "certificate required") != NULL);
            corio_stream_close(r, w);
        }
        CHECK_EQ(rc, CORIO_ETLS);
        WAIT_UNTIL(f.tls.handshake_failures == 1, 10);
        CHECK(strstr(f.tls.last_error, "did not return a certificate") || strstr(f.tls.last_error, "certificate"));
        CHECK_EQ(corio_tls_ctx_load_cert_chain(ctx, cert("client.pem"), cert("client.key")), 0);
        CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w), 0);
        CHECK_EQ(ping(r, w, "ping\n"), 0);
        CHECK(strstr(last_seen.subject, "CN=corio test client") != NULL);
        CHECK_EQ(corio_stream_close(r, w), 0);
        corio_tls_ctx_free(ctx);
        fixture_stop(&f);
    }

    /* Context argument checks. */
    corio_tls_ctx *ctx = corio_tls_ctx_new_client();
    const char *bad[] = {""};
    CHECK_EQ(corio_tls_ctx_set_alpn(ctx, bad, 1), -EINVAL);
    CHECK_EQ(corio_tls_ctx_set_versions(ctx, CORIO_TLS_V1_3, CORIO_TLS_V1_2), -EINVAL);
    CHECK_EQ(corio_tls_ctx_set_versions(ctx, 0x0301, 0), -EINVAL);
    CHECK_EQ(corio_tls_ctx_set_timeouts(ctx, -1, 1), -EINVAL);
    CHECK_EQ(corio_tls_ctx_request_client_cert(ctx, 1), -EINVAL);
    CHECK_EQ(corio_tls_ctx_load_verify_locations(ctx, cert("missing.pem"), NULL), CORIO_ETLS);
    CHECK(strstr(corio_tls_last_error(NULL), "cannot load the CA file") != NULL);
    CHECK(strstr(corio_tls_last_error(NULL), "missing.pem: No such file or directory") != NULL);
    CHECK_EQ(corio_tls_ctx_load_cert_chain(ctx, cert("missing.pem"), cert("server.key")), CORIO_ETLS);
    CHECK(strstr(corio_tls_last_error(NULL), "cannot load the certificate chain") != NULL);
    CHECK(strstr(corio_tls_last_error(NULL), "missing.pem: No such file or directory") != NULL);
    CHECK_EQ(corio_tls_ctx_load_cert_chain(ctx, cert("server.pem"), cert("client.key")), CORIO_ETLS);
    CHECK(strstr(corio_tls_last_error(NULL), "does not match") || strstr(corio_tls_last_error(NULL), "mismatch"));
    CHECK(strcmp(corio_tls_strerror(CORIO_ETLS_VERIFY), "TLS certificate verification failed") == 0);
    CHECK(strcmp(corio_tls_strerror(-ETIMEDOUT), corio_strerror(-ETIMEDOUT)) == 0);
    CHECK(corio_tls_writer_conn(NULL) == NULL);
    corio_tls_ctx_free(ctx);
    corio_tls_ctx_free(NULL);
    return 0;
}

static void test_features(void) { test_run(features_main, NULL, 0); }

/* ---- at_eof: the end seen without another read ------------------------------------- */

/* One line, then close_notify and the socket's close (the server closes
 * the TLS stream when the handler returns). */
static int line_then_close_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r, (void)arg;
    corio_writer_write(w, "hello\n", 6);
    return corio_writer_drain(w);
}

/* 1 once the peer's FIN is in the socket below w: everything it sent
 * before (the records, close_notify) has arrived. */
static int peer_fin_arrived(corio_writer *w) {
    struct pollfd p = {.fd = corio_writer_fd(w), .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP));
}

static int at_eof_main(void *arg) {
    (void)arg;
    corio_reader *r;
    corio_writer *w;
    char buf[64];
    const char *line;
    size_t len;
    server_fixture f;

    /* close_notify: at_eof is 0 while the line is unread, 1 once it is,
     * with the close_notify read (it arrived with the line) but not yet
     * returned as the end; the read then returns 0 and at_eof stays 1. */
    if (fixture_start(&f, server_ctx("server"), line_then_close_handler) == 0) {
        corio_tls_ctx *ctx = client_ctx("ca.pem");
        CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w), 0);
        CHECK_EQ(corio_reader_at_eof(r), 0);
        WAIT_UNTIL(peer_fin_arrived(w), 10); /* the line, close_notify, then the FIN */
        CHECK(peer_fin_arrived(w));
        CHECK_EQ(corio_reader_at_eof(r), 0);
        CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
        CHECK(len == 6 && memcmp(line, "hello\n", 6) == 0);
        CHECK_EQ(corio_reader_at_eof(r), 1);
        CHECK_EQ(corio_reader_read(r, buf, sizeof buf), 0);
        CHECK_EQ(corio_reader_at_eof(r), 1);
        CHECK_EQ(corio_stream_close(r, w), 0);
        corio_tls_ctx_free(ctx);
        fixture_stop(&f);
    }

    /* A close without close_notify: at the end when ragged EOFs are
     * allowed (the plain stream below is at its end), never otherwise
     * (the next read is an error, not the end). */
    if (fixture_start(&f, server_ctx("server"), ragged_handler) == 0) {
        for (int ok = 0; ok < 2; ok++) {
            corio_tls_ctx *ctx = client_ctx("ca.pem");
            CHECK_EQ(corio_tls_ctx_set_ragged_eof_ok(ctx, ok), 0);
            CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w), 0);
            WAIT_UNTIL(peer_fin_arrived(w), 10); /* "x", then the FIN */
            CHECK(peer_fin_arrived(w));
            CHECK_EQ(corio_reader_at_eof(r), 0);
            CHECK_EQ(corio_reader_read(r, buf, sizeof buf), 1);
            CHECK_EQ(corio_reader_at_eof(r), ok);
            CHECK_EQ(corio_reader_read(r, buf, sizeof buf), ok ? 0 : CORIO_ETLS_EOF);
            CHECK_EQ(corio_reader_at_eof(r), ok);
            corio_stream_close(r, w);
            corio_tls_ctx_free(ctx);
        }
        fixture_stop(&f);
    }

    /* A live connection, idle or with a line pending: 0, ragged EOFs
     * allowed or not; the line is still read whole afterwards. */
    if (fixture_start(&f, server_ctx("server"), echo_handler) == 0) {
        corio_tls_ctx *ctx = client_ctx("ca.pem");
        CHECK_EQ(corio_tls_ctx_set_ragged_eof_ok(ctx, 1), 0);
        CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w), 0);
        CHECK_EQ(ping(r, w, "ping\n"), 0);
        CHECK_EQ(corio_reader_at_eof(r), 0);
        CHECK_EQ(corio_writer_write(w, "two\n", 4), 0);
        corio_sleep(0.1);
        CHECK_EQ(corio_reader_at_eof(r), 0);
        CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
        CHECK(len == 4 && memcmp(line, "two\n", 4) == 0);
        CHECK_EQ(corio_reader_at_eof(r), 0);
        CHECK_EQ(corio_stream_close(r, w), 0);
        corio_tls_ctx_free(ctx);
        fixture_stop(&f);
    }
    return 0;
}

static void test_at_eof(void) { test_run(at_eof_main, NULL, 0); }

/* ---- bulk: hashed on both sides ---------------------------------------------------- */

static int bulk_echo_handler(corio_reader *r, corio_writer *w, void *arg) {
    uint64_t *hash = arg;
    char buf[65536];
    ssize_t n;
    while ((n = corio_reader_read(r, buf, sizeof buf)) > 0) {
        *hash = fnv1a(*hash, buf, (size_t)n);
        if (corio_writer_write(w, buf, (size_t)n) < 0 || corio_writer_drain(w) < 0) return -EIO;
    }
    return (int)n;
}

typedef struct bulk_writer {
    corio_writer *w;
    size_t total;
    uint64_t hash;
} bulk_writer;

static int bulk_write_task(void *arg) {
    bulk_writer *b = arg;
    size_t sent = 0, off = 0;
    while (sent < b->total) {
        size_t k = PAT_LEN - off;
        if (k > b->total - sent) k = b->total - sent;
        b->hash = fnv1a(b->hash, pat + off, k);
        int rc = corio_writer_write(b->w, pat + off, k);
        if (rc == 0) rc = corio_writer_drain(b->w);
        if (rc < 0) return rc;
        sent += k;
        off = (off + k) % PAT_LEN;
    }
    return corio_writer_write_eof(b->w);
}

static int bulk_main(void *arg) {
    (void)arg;
    const char *e = getenv("CORIO_TEST_BULK_MIB");
    size_t mib = e && *e ? strtoul(e, NULL, 10) : 256;
    uint64_t server_hash = FNV_INIT;
    server_fixture f;
    if (fixture_start(&f, server_ctx("server"), bulk_echo_handler) < 0) return 0;
    f.tls.arg = &server_hash;
    corio_tls_ctx *ctx = client_ctx("ca.pem");
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w), 0);
    bulk_writer b = {w, mib << 20, FNV_INIT};
    corio_task *t = corio_spawn(bulk_write_task, &b);
    uint64_t got = FNV_INIT;
    size_t total = 0;
    char *buf = malloc(65536);
    ssize_t n;
    while ((n = corio_reader_read(r, buf, 65536)) > 0) {
        got = fnv1a(got, buf, (size_t)n);
        total += (size_t)n;
    }
    free(buf);
    CHECK_EQ(n, 0);
    CHECK_EQ(corio_await(corio_task_future(t), NULL), 0);
    corio_task_detach(t);
    CHECK_EQ(total, b.total);
    CHECK(got == b.hash);
    CHECK(server_hash == b.hash);
    CHECK_EQ(corio_stream_close(r, w), 0);
    corio_tls_ctx_free(ctx);
    fixture_stop(&f);
    return 0;
}

static void test_bulk_hashed(void) { test_run(bulk_main, NULL, 0); }

/* ---- sendfile over TLS: the fallback (asyncio's loop.sendfile on an SSL transport) ---- */

#define SF_LEN (3 * 1024 * 1024 + 5)

/* The handler sends the file given as arg (an fd) after a line, then a
 * line after it; sendfile(2) cannot encrypt, so without the fallback it
 * is refused. */
static int sendfile_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r;
    int fd = (int)(intptr_t)arg;
    CHECK_EQ(corio_writer_sendfile(w, fd, NULL, 0, CORIO_SENDFILE_NO_FALLBACK), -EOPNOTSUPP);
    CHECK_EQ(corio_writer_write(w, "head\n", 5), 0);
    off_t off = 0;
    CHECK_EQ(corio_writer_sendfile(w, fd, &off, 0, 0), SF_LEN);
    CHECK_EQ(off, SF_LEN);
    CHECK_EQ(corio_writer_write(w, "tail\n", 5), 0);
    return corio_writer_drain(w);
}

static int sendfile_main(void *arg) {
    (void)arg;
    char path[] = "/tmp/corio-tls-sendfile-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    uint64_t want = FNV_INIT;
    for (size_t done = 0; done < SF_LEN;) {
        size_t k = SF_LEN - done < PAT_LEN ? SF_LEN - done : PAT_LEN;
        CHECK_EQ(write(fd, pat, k), (ssize_t)k);
        want = fnv1a(want, pat, k);
        done += k;
    }
    server_fixture f;
    if (fixture_start(&f, server_ctx("server"), sendfile_handler) < 0) return 0;
    f.tls.arg = (void *)(intptr_t)fd;
    corio_tls_ctx *ctx = client_ctx("ca.pem");
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_tls_connection("127.0.0.1", f.port, ctx, "localhost", &r, &w), 0);
    char line[16];
    CHECK_EQ(corio_reader_readexactly(r, line, 5, NULL), 0);
    CHECK(memcmp(line, "head\n", 5) == 0);
    char *buf = malloc(65536);
    uint64_t got = FNV_INIT;
    size_t total = 0;
    while (total < SF_LEN) {
        size_t want_n = SF_LEN - total < 65536 ? SF_LEN - total : 65536;
        ssize_t n = corio_reader_read(r, buf, want_n);
        if (n <= 0) break;
        got = fnv1a(got, buf, (size_t)n);
        total += (size_t)n;
    }
    free(buf);
    CHECK_EQ(total, SF_LEN);
    CHECK(got == want);
    CHECK_EQ(corio_reader_readexactly(r, line, 5, NULL), 0);
    CHECK(memcmp(line, "tail\n", 5) == 0);
    CHECK_EQ(corio_stream_close(r, w), 0);
    corio_tls_ctx_free(ctx);
    fixture_stop(&f);
    close(fd);
    return 0;
}

static void test_sendfile_fallback(void) { test_run(sendfile_main, NULL, 0); }

/* ---- cancel a readline in the middle of a record ---------------------------------- */

/* The server writes lines in two records each, a pause between; a relay
 * in front of it passes the ciphertext on 7 bytes at a time, so reads end
 * in the middle of records. */
#define CANCEL_LINES 20
static int lines_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r, (void)arg;
    for (int i = 0; i < CANCEL_LINES; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "line %d ", i);
        snprintf(b, sizeof b, "ends here %d\n", i);
        corio_writer_write(w, a, strlen(a));
        corio_writer_drain(w);
        corio_sleep(0.003);
        corio_writer_write(w, b, strlen(b));
        corio_writer_drain(w);
    }
    return 0;
}

typedef struct pipe_args {
    corio_reader *r;
    corio_writer *w;
    size_t chunk;
} pipe_args;

static int pump(void *arg) {
    pipe_args *p = arg;
    char buf[4096];
    ssize_t n;
    while ((n = corio_reader_read(p->r, buf, p->chunk)) > 0) {
        if (corio_writer_write(p->w, buf, (size_t)n) < 0 || corio_writer_drain(p->w) < 0) break;
        if (p->chunk < sizeof buf) corio_sleep(0.0005);
    }
    corio_writer_write_eof(p->w);
    return 0;
}

static int relay_to;
static int relay_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    corio_reader *ur;
    corio_writer *uw;
    if (corio_open_connection("127.0.0.1", relay_to, &ur, &uw) < 0) return -1;
    pipe_args up = {r, uw, 4096}, down = {ur, w, 7};
    corio_task *t = corio_spawn(pump, &up);
    pump(&down);
    corio_cancel(t);
    corio_await(corio_task_future(t), NULL);
    corio_task_detach(t);
    corio_stream_close(ur, uw);
    return 0;
}

static int cancel_main(void *arg) {
    (void)arg;
    server_fixture f;
    if (fixture_start(&f, server_ctx("server"), lines_handler) < 0) return 0;
    corio_server *relay;
    relay_to = f.port;
    int port = plain_server(relay_handler, NULL, &relay);
    corio_tls_ctx *ctx = client_ctx("ca.pem");
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_tls_connection("127.0.0.1", port, ctx, "localhost", &r, &w), 0);
    int cancelled = 0;
    for (int i = 0; i < CANCEL_LINES; i++) {
        const char *line;
        size_t len;
        int rc;
        do { /* a deadline far shorter than a line takes to arrive */
            corio_timeout to;
            corio_timeout_enter(&to, 0.0007);
            rc = corio_timeout_exit(&to, corio_reader_readline(r, &line, &len));
            cancelled += rc == -ETIMEDOUT;
        } while (rc == -ETIMEDOUT);
        CHECK_EQ(rc, 0);
        char want[64];
        snprintf(want, sizeof want, "line %d ends here %d\n", i, i);
        CHECK(rc == 0 && len == strlen(want) && memcmp(line, want, len) == 0);
        if (rc < 0) break;
    }
    CHECK(cancelled > CANCEL_LINES); /* most lines were waited for in several tries */
    corio_stream_close(r, w);
    corio_tls_ctx_free(ctx);
    plain_stop(relay);
    fixture_stop(&f);
    return 0;
}

static void test_cancel_mid_record(void) { test_run(cancel_main, NULL, 0); }

/* ---- start_tls after a plain exchange ------------------------------------------------ */

/* 0: ClientHello buffered with the command; 1: discard injected; 2: reject;
 * 3: as 0, but the client checks a name the certificate does not have */
static int starttls_mode;
static int starttls_result;

static int starttls_server(corio_reader *r, corio_writer *w, void *arg) {
    corio_tls_ctx *ctx = arg;
    corio_sleep(0.05); /* let the command and what follows it arrive together */
    const char *line;
    size_t len;
    if (corio_reader_readline(r, &line, &len) < 0 || len != 9 || memcmp(line, "STARTTLS\n", 9) != 0) return -1;
    CHECK(corio_reader_buffered(r) > 0); /* the ClientHello (mode 0) or the injected bytes */
    bool injected = starttls_mode == 1 || starttls_mode == 2;
    if (injected) corio_writer_write(w, "GO\n", 3);
    corio_tls_start_opts o = {0};
    o.buffered = starttls_mode == 1 ? CORIO_TLS_DISCARD_BUFFERED : starttls_mode == 2 ? CORIO_TLS_REJECT_BUFFERED : 0;
    starttls_result = corio_start_tls(r, w, ctx, NULL, &o, NULL, NULL);
    if (starttls_result < 0) return starttls_result;
    CHECK(corio_tls_writer_conn(w) != NULL); /* in place: r and w speak TLS; the server closes them */
    return echo_handler(r, w, NULL);
}

static int starttls_main(void *arg) {
    (void)arg;
    corio_tls_ctx *sctx = server_ctx("server");
    corio_tls_ctx *ctx = client_ctx("ca.pem");
    for (starttls_mode = 0; starttls_mode < 4; starttls_mode++) {
        corio_server *s;
        int port = plain_server(starttls_server, sctx, &s);
        corio_reader *r, *tr;
        corio_writer *w, *tw;
        starttls_result = 1;
        bool injected = starttls_mode == 1 || starttls_mode == 2;
        CHECK_EQ(corio_open_connection("127.0.0.1", port, &r, &w), 0);
        /* no drain: the command may still be queued (io_uring) when the
         * upgrade moves the queue under TLS; it leaves first, plain */
        CHECK_EQ(corio_writer_write(w, injected ? "STARTTLS\nINJECTED" : "STARTTLS\n", injected ? 17 : 9), 0);
        if (injected) {
            const char *line;
            size_t len;
            CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
            CHECK(len == 3 && memcmp(line, "GO\n", 3) == 0);
        }
        tr = NULL;
        tw = NULL;
        int rc = corio_start_tls(r, w, ctx, starttls_mode == 3 ? "wrong.example" : "localhost", NULL, &tr, &tw);
        if (starttls_mode == 3) {
            /* the handshake failed after the upgrade: r and w report it */
            CHECK_EQ(rc, CORIO_ETLS_VERIFY);
            CHECK(strstr(corio_tls_last_error(w), "certificate verify failed") != NULL);
            char b[4];
            CHECK_EQ(corio_reader_read(r, b, sizeof b), CORIO_ETLS_VERIFY);
            CHECK(corio_writer_write(w, "x", 1) < 0);
            corio_stream_close(r, w);
            WAIT_UNTIL(starttls_result != 1, 5);
            CHECK(starttls_result < 0); /* the server saw the alert */
        } else if (starttls_mode < 2) {
            CHECK_EQ(rc, 0);
            CHECK(tr == r && tw == w); /* in place: the same handles */
            if (rc == 0) {
                CHECK_EQ(ping(tr, tw, "ping\n"), 0);
                CHECK_EQ(corio_stream_close(tr, tw), 0); /* r and w: close_notify, then the connection */
            }
            CHECK_EQ(starttls_result, 0);
        } else {
            CHECK(rc < 0); /* the server refused to go on */
            CHECK_EQ(starttls_result, -EPROTO);
            corio_stream_close(r, w);
        }
        if (rc < 0 && starttls_mode < 2) corio_stream_close(r, w);
        plain_stop(s);
    }
    corio_tls_ctx_free(ctx);
    corio_tls_ctx_free(sctx);
    return 0;
}

static void test_start_tls(void) { test_run(starttls_main, NULL, 0); }

/* ---- main ----------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void run_all(void) {
    net_warm_up();
    RUN_NET_TEST(test_client_vs_openssl_server);
    RUN_NET_TEST(test_client_vs_python_server);
    RUN_NET_TEST(test_server_vs_openssl_client);
    RUN_NET_TEST(test_server_vs_python_client);
    RUN_NET_TEST(test_verification_failures);
    RUN_NET_TEST(test_server_bad_input);
    RUN_NET_TEST(test_client_bad_server);
    RUN_NET_TEST(test_features);
    RUN_NET_TEST(test_at_eof);
    RUN_NET_TEST(test_bulk_hashed);
    RUN_NET_TEST(test_sendfile_fallback);
    RUN_NET_TEST(test_cancel_mid_record);
    RUN_NET_TEST(test_start_tls);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    pat_init();
    snprintf(certs, sizeof certs, "/tmp/corio-tls-test-XXXXXX");
    if (!mkdtemp(certs)) {
        perror("mkdtemp");
        return 1;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh '%s' '%s' >/dev/null 2>&1", CORIO_TLS_CERT_SCRIPT, certs);
    if (system(cmd) != 0) {
        printf("SKIP: make-test-certs.sh failed (no openssl command?)\n");
        nftw(certs, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 77;
    }
    have_openssl = system("openssl version >/dev/null 2>&1") == 0;
    have_python = system("python3 -c 'import ssl' >/dev/null 2>&1") == 0;
    if (!have_openssl) printf("SKIP: no openssl command: the s_server / s_client parts\n");
    if (!have_python) printf("SKIP: no python3 with ssl: the Python parts\n");
    run_on_each_backend(run_all);
    nftw(certs, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    TEST_MAIN_END();
}
