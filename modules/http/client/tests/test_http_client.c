/*
 * test_http_client - corio-http's client against real servers on
 * 127.0.0.1: examples/httpbin (corio's own server) and odd_server.py (raw
 * responses no server library sends: 1xx, close-delimited, lies about
 * Content-Length, bare LF, bytewise chunked, raw deflate, silence, a
 * kept-alive connection closed under the client).  Both backends; every
 * case ends with a clean loop close and no descriptor left open.
 */
#define _GNU_SOURCE 1 /* pipe2 */
#include "test.h"
#include "net_util.h"
#include "client_test_util.h"

#include <corio/http_client.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int hb_port, odd_port;
static pid_t hb_pid, odd_pid, tls_pid;
/* Used only when the TLS module is built (HAVE_TLS). */
static __attribute__((unused)) int tls_port;
static __attribute__((unused)) char certdir[64];

/* Start argv as a server, read its "listening on 127.0.0.1:PORT" line. */
static int start_server(char *const argv[], pid_t *pid) {
    int p[2];
    if (pipe(p) < 0) return -1;
    pid_t c = fork();
    if (c < 0) return -1;
    if (c == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test killed by its alarm leaves no server behind */
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[256];
    int port = -1;
    if (f && fgets(line, sizeof line, f)) {
        const char *colon = strrchr(line, ':');
        if (strstr(line, "listening on") && colon) port = atoi(colon + 1);
    }
    if (f) fclose(f);
    if (port <= 0) {
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
        return -1;
    }
    *pid = c;
    return port;
}

static void stop_server(pid_t *pid) {
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

/* A URL on one of the servers (rotating buffers: several may be live). */
static const char *U(int port, const char *path) {
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 512, "http://127.0.0.1:%d%s", port, path);
    return b;
}

/* ---- basics ---------------------------------------------------------------------- */

CASE(t_get_and_reuse) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    corio_http_resp *r;
    CHECK_EQ(corio_http_session_request(s, "GET", U(hb_port, "/"), NULL, &r), 0);
    CHECK_EQ(corio_http_resp_status(r), 200);
    CHECK(!strcmp(corio_http_resp_reason(r), "OK"));
    CHECK_EQ(corio_http_resp_version(r), 1);
    size_t l;
    const char *ct = corio_http_resp_header(r, "CONTENT-type", &l);
    CHECK(ct && l == 10 && !memcmp(ct, "text/plain", 10));
    CHECK_EQ(corio_http_resp_content_length(r), 13);
    char buf[4];
    CHECK_EQ(corio_http_resp_read(r, buf, 4), 4); /* in pieces */
    char *rest;
    size_t n;
    CHECK_EQ(corio_http_resp_read_all(r, 100, &rest, &n), 0);
    CHECK(n == 9 && !memcmp(buf, "Hell", 4) && !strcmp(rest, "o, World!"));
    free(rest);
    CHECK_EQ(corio_http_session_idle(s), 1); /* back in the pool as soon as the body ended */
    corio_http_resp_free(r);
    for (int i = 0; i < 5; i++) CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), NULL, NULL, NULL), 200);
    CHECK_EQ(corio_http_session_opened(s), 1);
    CHECK_EQ(corio_http_session_connections(s), 1);
    CHECK_EQ(corio_http_session_close(s), 0);
    return 0;
}

/* Session headers go with every request unless the request gives the
 * same name; either replaces the client's own default. */
CASE(t_session_headers) {
    (void)arg;
    corio_http_field sh[] = {{"X-Session", "1"}, {"Accept", "text/plain"}, {"X-Keep", "k"}};
    corio_http_session_opts so = {.headers = sh, .num_headers = 3};
    corio_http_session *s = corio_http_session_new(&so);
    corio_http_field rh[] = {{"x-session", "2"}, {"X-Dup", "a"}, {"X-Dup", "b"}};
    corio_http_request_opts o = {.headers = rh, .num_headers = 3};
    char *b;
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/headers"), &o, &b, NULL), 200);
    CHECK(b && strstr(b, "x-session: 2\n") && !strstr(b, "x-session: 1\n"));
    CHECK(b && strstr(b, "accept: text/plain\n") && !strstr(b, "accept: */*"));
    CHECK(b && strstr(b, "x-keep: k\n") && strstr(b, "x-dup: a\nx-dup: b\n"));
    free(b);
    corio_http_session_close(s);
    corio_http_field bad[] = {{"Bad Name", "x"}};
    corio_http_session_opts bo = {.headers = bad, .num_headers = 1};
    errno = 0;
    CHECK(corio_http_session_new(&bo) == NULL && errno == EINVAL);
    return 0;
}

/* The server sees one connection for sequential requests. */
CASE(t_reuse_server_side) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    char *b = NULL;
    int before = fetch(s, "GET", U(odd_port, "/conns"), NULL, &b, NULL) == 200 ? atoi(b) : -1;
    free(b);
    for (int i = 0; i < 4; i++) CHECK_EQ(fetch(s, "GET", U(odd_port, "/info"), NULL, NULL, NULL), 200);
    b = NULL;
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/conns"), NULL, &b, NULL), 200);
    CHECK(b && atoi(b) == before);
    free(b);
    corio_http_session_close(s);
    return 0;
}

CASE(t_head_and_bodiless) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    corio_http_resp *r;
    CHECK_EQ(corio_http_session_request(s, "HEAD", U(hb_port, "/bytes/1000"), NULL, &r), 0);
    CHECK_EQ(corio_http_resp_status(r), 200);
    CHECK_EQ(corio_http_resp_content_length(r), -1); /* no body follows, whatever the field says */
    char c;
    CHECK_EQ(corio_http_resp_read(r, &c, 1), 0);
    corio_http_resp_free(r);
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/status/204"), NULL, NULL, NULL), 204);
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/status/404"), NULL, NULL, NULL), 404);
    char *b;
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), NULL, &b, NULL), 200);
    CHECK(b && !strcmp(b, "Hello, World!"));
    free(b);
    CHECK_EQ(corio_http_session_opened(s), 1);
    corio_http_session_close(s);
    return 0;
}

struct pipe_writer {
    corio_writer *w;
    size_t n;
};
static int pipe_writer_task(void *arg) {
    struct pipe_writer *p = arg;
    char buf[1000];
    for (size_t i = 0; i < p->n; i += sizeof buf) {
        for (size_t k = 0; k < sizeof buf; k++) buf[k] = (char)('a' + (i / 1000 + k) % 26);
        corio_writer_write(p->w, buf, sizeof buf);
        corio_writer_drain(p->w);
    }
    corio_writer_free(p->w);
    return 0;
}

CASE(t_request_bodies) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    corio_http_field ct = {"Content-Type", "text/x-test"};
    corio_http_request_opts o = {.body = "hello body", .body_len = 10, .headers = &ct, .num_headers = 1};
    char *b;
    size_t n;
    CHECK_EQ(fetch(s, "POST", U(hb_port, "/echo"), &o, &b, &n), 200);
    CHECK(n == 10 && !memcmp(b, "hello body", 10));
    free(b);
    CHECK_EQ(fetch(s, "PUT", U(hb_port, "/echo"), &o, &b, &n), 200);
    CHECK(n == 10);
    free(b);
    /* from a stream, chunked */
    for (int known = 0; known < 2; known++) {
        int p[2];
        CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0); /* streams want non-blocking descriptors */
        corio_reader *pr;
        corio_writer *pw;
        corio_stream_open(p[0], NULL, &pr, NULL);
        corio_stream_open(p[1], NULL, NULL, &pw);
        struct pipe_writer pwj = {pw, 100000};
        corio_task *t = corio_spawn(pipe_writer_task, &pwj);
        corio_http_request_opts so = {.body_stream = pr, .body_stream_len = known ? 100000 : -1};
        CHECK_EQ(fetch(s, "POST", U(odd_port, "/info"), &so, &b, &n), 200);
        CHECK(n == strlen("POST\n\n-\n") + 100000);
        CHECK(b && b[n - 1] == (char)('a' + (99 + 999) % 26));
        free(b);
        corio_join(t);
        corio_reader_free(pr);
    }
    /* from a file */
    char path[] = "/tmp/corio_hc_XXXXXX";
    int fd = mkstemp(path);
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i % 251);
    CHECK_EQ(write(fd, big, sizeof big), (ssize_t)sizeof big);
    close(fd);
    corio_http_request_opts fo = {.body_file = path};
    CHECK_EQ(fetch(s, "POST", U(hb_port, "/echo"), &fo, &b, &n), 200);
    CHECK(n == sizeof big && !memcmp(b, big, n));
    free(b);
    unlink(path);
    corio_http_request_opts missing = {.body_file = "/nonexistent/file"};
    CHECK_EQ(fetch(s, "POST", U(hb_port, "/echo"), &missing, NULL, NULL), -ENOENT);
    /* Expect: 100-continue */
    corio_http_request_opts eo = {.body = "expected", .body_len = 8, .expect_continue = 1};
    CHECK_EQ(fetch(s, "POST", U(hb_port, "/echo"), &eo, &b, &n), 200);
    CHECK(n == 8 && !memcmp(b, "expected", 8));
    free(b);
    corio_http_session_close(s);
    return 0;
}

CASE(t_chunked) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    char *b;
    size_t n;
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/stream/1000"), NULL, &b, &n), 200);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += b[i] == '\n';
    CHECK_EQ(lines, 1000);
    CHECK(b && !strncmp(b, "line 0\nline 1\n", 14));
    free(b);
    /* every byte of head, framing, extension and trailer in its own segment */
    corio_http_resp *r;
    CHECK_EQ(corio_http_session_request(s, "GET", U(odd_port, "/bytewise"), NULL, &r), 0);
    char got[64];
    size_t k = 0;
    for (;;) {
        ssize_t m = corio_http_resp_read(r, got + k, 1);
        if (m <= 0) {
            CHECK_EQ(m, 0);
            break;
        }
        k += (size_t)m;
    }
    CHECK(k == 12 && !memcmp(got, "hello, world", 12));
    corio_http_resp_free(r);
    CHECK_EQ(corio_http_session_idle(s), 2);
    corio_http_session_close(s);
    return 0;
}

/* ---- redirects, auth, query ------------------------------------------------------- */

CASE(t_redirects) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    corio_http_resp *r;
    CHECK_EQ(corio_http_session_request(s, "GET", U(hb_port, "/redirect/3"), NULL, &r), 0);
    CHECK_EQ(corio_http_resp_status(r), 200);
    CHECK_EQ(corio_http_resp_history_len(r), 3);
    int st = 0;
    const char *h0 = corio_http_resp_history(r, 0, &st);
    CHECK(h0 && strstr(h0, "/redirect/3") && st == 302);
    CHECK(corio_http_resp_history(r, 2, &st) && strstr(corio_http_resp_history(r, 2, &st), "/redirect/1"));
    CHECK(corio_http_resp_history(r, 3, &st) == NULL);
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/", hb_port);
    CHECK(!strcmp(corio_http_resp_url(r), want));
    corio_http_resp_free(r);
    CHECK_EQ(corio_http_session_opened(s), 1); /* redirects ride the same connection */
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/redirect/11"), NULL, NULL, NULL), CORIO_HTTP_EREDIRECTS);
    CHECK(strstr(corio_http_client_errmsg(), "too many redirects"));
    corio_http_request_opts o = {.max_redirects = 2};
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/redirect/3"), &o, NULL, NULL), CORIO_HTTP_EREDIRECTS);
    o.max_redirects = 3;
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/redirect/3"), &o, NULL, NULL), 200);
    o.max_redirects = -1;
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/redirect/1"), &o, NULL, NULL), CORIO_HTTP_EREDIRECTS);
    corio_http_request_opts nf = {.no_redirects = 1};
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/redirect/1"), &nf, NULL, NULL), 302);

    /* method rules */
    struct {
        int status;
        const char *method, *want_method;
        int body_kept;
    } rules[] = {
        {301, "POST", "GET", 0}, {302, "POST", "GET", 0}, {303, "POST", "GET", 0}, {303, "PUT", "GET", 0},
        {302, "PUT", "PUT", 1},  {307, "POST", "POST", 1}, {308, "PUT", "PUT", 1}, {303, "HEAD", "HEAD", 0},
    };
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        char path[64];
        snprintf(path, sizeof path, "/redir/%d?to=/info", rules[i].status);
        corio_http_request_opts bo = {.body = "BODY", .body_len = 4};
        char *b = NULL;
        size_t n = 0;
        int rc = fetch(s, rules[i].method, U(odd_port, path), &bo, &b, &n);
        CHECK_EQ(rc, 200);
        if (strcmp(rules[i].method, "HEAD") && b) {
            size_t ml = strlen(rules[i].want_method);
            if (strncmp(b, rules[i].want_method, ml) || b[ml] != '\n') {
                fprintf(stderr, "%d %s: got %s\n", rules[i].status, rules[i].method, b);
                CHECK(0);
            }
            CHECK_EQ(n >= 4 && !memcmp(b + n - 4, "BODY", 4), rules[i].body_kept);
        }
        free(b);
    }
    /* relative references and a bad Location */
    char *b;
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/redir/302?to=../info?x=1"), NULL, &b, NULL), 200);
    CHECK(b && !strncmp(b, "GET\nx=1\n", 8));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/redir/302?to=ftp://x/"), NULL, NULL, NULL), CORIO_HTTP_EURL);
    corio_http_session_close(s);
    return 0;
}

CASE(t_auth_and_query) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    char url[256], *b;
    snprintf(url, sizeof url, "http://user:pa%%3Ass@127.0.0.1:%d/info", odd_port);
    CHECK_EQ(fetch(s, "GET", url, NULL, &b, NULL), 200);
    CHECK(b && strstr(b, "Basic dXNlcjpwYTpzcw=="));
    free(b);
    corio_http_request_opts o = {.auth_user = "Aladdin", .auth_pass = "open sesame"};
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/info"), &o, &b, NULL), 200);
    CHECK(b && strstr(b, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    free(b);
    /* kept on a same-origin redirect, dropped across hosts (127.0.0.1 -> localhost) */
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/redir/302?to=/info"), &o, &b, NULL), 200);
    CHECK(b && strstr(b, "Basic "));
    free(b);
    char path[128];
    snprintf(path, sizeof path, "/redir/302?to=http://localhost:%d/info", odd_port);
    CHECK_EQ(fetch(s, "GET", U(odd_port, path), &o, &b, NULL), 200);
    CHECK(b && strstr(b, "\n-\n") && !strstr(b, "Basic"));
    free(b);
    corio_http_field params[] = {{"q", "a b&c"}, {"\xc3\xa9", "1/2"}};
    corio_http_request_opts qo = {.params = params, .num_params = 2};
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/info?x=1"), &qo, &b, NULL), 200);
    CHECK(b && !strncmp(b, "GET\nx=1&q=a%20b%26c&%C3%A9=1%2F2\n", 33));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/info?sp ace#frag"), NULL, &b, NULL), 200);
    CHECK(b && !strncmp(b, "GET\nsp%20ace\n", 13));
    free(b);
    corio_http_session_close(s);
    return 0;
}

/* ---- content coding --------------------------------------------------------------- */

CASE(t_gzip) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    char *b;
    size_t n;
#ifdef HAVE_ZLIB
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/gzip"), NULL, &b, &n), 200);
    CHECK(n == 8000 && !memcmp(b, "gzipped gzipped ", 16));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/deflate"), NULL, &b, &n), 200);
    CHECK(n == 1300 && !memcmp(b, "zlib deflate ", 13));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/deflate-raw"), NULL, &b, &n), 200);
    CHECK(n == 1200 && !memcmp(b, "raw deflate ", 12));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/bad-gzip"), NULL, NULL, NULL), CORIO_HTTP_EDECODE);
    /* a bomb stops at the limit on decoded bytes */
    corio_http_resp *r;
    CHECK_EQ(corio_http_session_request(s, "GET", U(odd_port, "/gzip-bomb"), NULL, &r), 0);
    CHECK_EQ(corio_http_resp_read_all(r, 1 << 20, &b, &n), CORIO_HTTP_ETOOBIG);
    corio_http_resp_free(r);
    CHECK_EQ(corio_http_session_connections(s), corio_http_session_idle(s));
#endif
    corio_http_request_opts raw = {.raw = 1};
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/gzip"), &raw, &b, &n), 200);
    CHECK(n > 2 && (unsigned char)b[0] == 0x1f && (unsigned char)b[1] == 0x8b);
    free(b);
    corio_http_session_close(s);
    return 0;
}

/* ---- odd and malformed responses ---------------------------------------------------- */

CASE(t_odd_responses) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    char *b;
    size_t n;
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/1xx"), NULL, &b, &n), 200);
    CHECK(n == 5 && !memcmp(b, "final", 5));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/close-delimited"), NULL, &b, &n), 200);
    CHECK(n == 13 && !memcmp(b, "until the end", 13));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/http10"), NULL, &b, &n), 200);
    CHECK(n == 9 && !memcmp(b, "old style", 9));
    free(b);
    /* the 1xx one was reused for close-delimited, then closed; HTTP/1.0 without keep-alive too */
    CHECK_EQ(corio_http_session_opened(s), 2);
    CHECK_EQ(corio_http_session_idle(s), 0);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/short"), NULL, NULL, NULL), CORIO_HTTP_EDISCONNECTED);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/long"), NULL, &b, &n), 200);
    CHECK(n == 5 && !memcmp(b, "hello", 5));
    free(b);
    /* whatever followed the lie is not taken for the next response */
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/info"), NULL, &b, &n), 200);
    CHECK(b && !strncmp(b, "GET\n", 4));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/bare-lf"), NULL, NULL, NULL), CORIO_HTTP_EBADMSG);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/garbage"), NULL, NULL, NULL), CORIO_HTTP_EBADMSG);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/both-lengths"), NULL, NULL, NULL), CORIO_HTTP_EBADMSG);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/bad-chunk"), NULL, NULL, NULL), CORIO_HTTP_EBADMSG);
    CHECK(strstr(corio_http_client_errmsg(), "malformed"));
    CHECK_EQ(corio_http_session_connections(s), corio_http_session_idle(s));
    corio_http_session_close(s);
    return 0;
}

/* ---- timeouts, cancellation, limits --------------------------------------------------- */

CASE(t_timeouts) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    corio_http_request_opts o = {.timeout.total = 0.3};
    double t0 = corio_time();
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/never"), &o, NULL, NULL), -ETIMEDOUT);
    CHECK(corio_time() - t0 < 5);
    CHECK(strstr(corio_http_client_errmsg(), "timeout"));
    CHECK_EQ(corio_http_session_connections(s), 0);
    /* sock_read: the head comes, the body stalls */
    corio_http_request_opts ro = {.timeout.sock_read = 0.3};
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/slow-body"), &ro, NULL, NULL), -ETIMEDOUT);
    CHECK_EQ(corio_http_session_connections(s), 0);
    /* total covers the body too */
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/slow-body"), &o, NULL, NULL), -ETIMEDOUT);
    CHECK_EQ(corio_http_session_connections(s), 0);
    /* the session still works */
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), NULL, NULL, NULL), 200);
    corio_http_session_close(s);

    /* connect covers the wait for the pool */
    corio_http_session_opts so = {.limit = 1};
    s = corio_http_session_new(&so);
    corio_http_resp *held;
    CHECK_EQ(corio_http_session_request(s, "GET", U(hb_port, "/bytes/10"), NULL, &held), 0);
    corio_http_request_opts co = {.timeout.connect = 0.2};
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), &co, NULL, NULL), -ETIMEDOUT);
    CHECK(strstr(corio_http_client_errmsg(), "waiting for a connection"));
    CHECK_EQ(corio_http_resp_discard(held), 0);
    corio_http_resp_free(held);
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), &co, NULL, NULL), 200);
    corio_http_session_close(s);
    return 0;
}

struct reader_job {
    corio_http_session *s;
    size_t got;
    corio_event started;
};
static int big_reader(void *arg) {
    struct reader_job *j = arg;
    corio_http_resp *r;
    int rc = corio_http_session_request(j->s, "GET", U(hb_port, "/bytes/100000000"), NULL, &r);
    if (rc < 0) return rc;
    char buf[4096];
    for (;;) {
        ssize_t k = corio_http_resp_read(r, buf, sizeof buf);
        if (k <= 0) {
            rc = (int)k;
            break;
        }
        j->got += (size_t)k;
        corio_event_set(&j->started);
    }
    corio_http_resp_free(r);
    return rc;
}

CASE(t_cancel_mid_body) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    struct reader_job j = {.s = s};
    corio_event_init(&j.started);
    corio_task *t = corio_spawn(big_reader, &j);
    WAIT_UNTIL(j.got > 0 || corio_task_done(t), 20.0); /* bounded: a failed request must not hang the case */
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(j.got > 0 && j.got < 100000000);
    CHECK_EQ(corio_http_session_connections(s), 0); /* closed, not pooled dirty */
    char *b;
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), NULL, &b, NULL), 200);
    CHECK(b && !strcmp(b, "Hello, World!"));
    free(b);
    corio_event_destroy(&j.started);
    corio_http_session_close(s);
    return 0;
}

struct many {
    corio_http_session *s;
    size_t max_open;
    int ok;
};
static int one_of_many(void *arg) {
    struct many *m = arg;
    int rc = fetch(m->s, "GET", U(hb_port, "/"), NULL, NULL, NULL);
    size_t open = corio_http_session_connections(m->s);
    if (open > m->max_open) m->max_open = open;
    if (rc == 200) m->ok++;
    return rc < 0 ? rc : 0;
}

CASE(t_limit_per_host) {
    (void)arg;
    enum { N = 1000 };
    corio_http_session_opts so = {.limit_per_host = 8};
    corio_http_session *s = corio_http_session_new(&so);
    struct many m = {.s = s};
    static corio_task *t[N];
    static corio_future *f[N];
    for (int i = 0; i < N; i++) {
        t[i] = corio_spawn(one_of_many, &m);
        f[i] = corio_task_future(t[i]);
    }
    CHECK_EQ(corio_gather(f, N, CORIO_GATHER_COLLECT), 0);
    for (int i = 0; i < N; i++) corio_join(t[i]);
    CHECK_EQ(m.ok, N);
    CHECK(m.max_open <= 8);
    CHECK(corio_http_session_opened(s) <= 8);
    corio_http_session_close(s);
    return 0;
}

/* A kept-alive connection closed by the server before reuse: a GET is
 * sent on it and, when the close comes back, again on a new connection;
 * a POST checks the connection first. */
CASE(t_stale_connection) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/keepalive-then-close"), NULL, NULL, NULL), 200);
    corio_sleep(0.3);
    char *b;
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/info"), NULL, &b, NULL), 200);
    CHECK(b && !strncmp(b, "GET\n", 4));
    free(b);
    CHECK_EQ(corio_http_session_opened(s), 2);
    CHECK_EQ(fetch(s, "GET", U(odd_port, "/keepalive-then-close"), NULL, NULL, NULL), 200);
    corio_sleep(0.3);
    /* A POST is never sent on a connection whose close already arrived:
     * that one is checked first and replaced. */
    corio_http_request_opts po = {.body = "x", .body_len = 1};
    CHECK_EQ(fetch(s, "POST", U(odd_port, "/info"), &po, &b, NULL), 200);
    CHECK(b && !strncmp(b, "POST\n", 5));
    free(b);
    CHECK_EQ(corio_http_session_opened(s), 3);
    corio_http_session_close(s);
    return 0;
}

CASE(t_errors) {
    (void)arg;
    corio_http_session *s = corio_http_session_new(NULL);
    CHECK_EQ(fetch(s, "GET", "http://127.0.0.1:1/", NULL, NULL, NULL), -ECONNREFUSED);
    CHECK(strstr(corio_http_client_errmsg(), "connection refused"));
    CHECK_EQ(fetch(s, "GET", "http://no-such-host.invalid/", NULL, NULL, NULL), CORIO_EAI_NONAME);
    CHECK(strstr(corio_http_client_errmsg(), "DNS"));
    const char *bad[] = {"ftp://x/", "http://", "http:///x", "http://h:99999/", "http://h:0/", "http://a b/",
                         "http://[::1/", "http://h:8x/", "localhost:80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ(fetch(s, "GET", bad[i], NULL, NULL, NULL), CORIO_HTTP_EURL);
    CHECK_EQ(fetch(s, "GE T", U(hb_port, "/"), NULL, NULL, NULL), -EINVAL);
    corio_http_field inj = {"X-A", "a\r\nX-B: b"};
    corio_http_request_opts o = {.headers = &inj, .num_headers = 1};
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), &o, NULL, NULL), -EINVAL);
    corio_http_field cl = {"content-length", "5"};
    o.headers = &cl;
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), &o, NULL, NULL), -EINVAL);
    corio_http_request_opts two = {.body = "a", .body_len = 1, .body_file = "/etc/hostname"};
    CHECK_EQ(fetch(s, "POST", U(hb_port, "/"), &two, NULL, NULL), -EINVAL);
    /* a response held across the session's close stays readable */
    corio_http_resp *r;
    CHECK_EQ(corio_http_session_request(s, "GET", U(hb_port, "/"), NULL, &r), 0);
    corio_http_session_close(s);
    char *b;
    size_t n;
    CHECK_EQ(corio_http_resp_read_all(r, 100, &b, &n), 0);
    CHECK(n == 13);
    free(b);
    CHECK_EQ(corio_http_resp_read_all(r, 100, &b, &n), 0); /* at the end: empty */
    free(b);
    corio_http_resp_free(r);
    CHECK_EQ(corio_http_resp_read_all(NULL, 1, &b, &n), -EINVAL);
    return 0;
}

/* Idle connections close after keepalive_timeout; waiters for a closed
 * session fail with -ESHUTDOWN. */
struct waiter_job {
    corio_http_session *s;
    int rc;
};
static int waiting_request(void *arg) {
    struct waiter_job *j = arg;
    j->rc = fetch(j->s, "GET", U(hb_port, "/"), NULL, NULL, NULL);
    return 0;
}

CASE(t_idle_and_close) {
    (void)arg;
    corio_http_session_opts so = {.keepalive_timeout = 0.2};
    corio_http_session *s = corio_http_session_new(&so);
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), NULL, NULL, NULL), 200);
    CHECK_EQ(corio_http_session_idle(s), 1);
    WAIT_UNTIL(corio_http_session_connections(s) == 0, 5.0);
    CHECK_EQ(corio_http_session_connections(s), 0);
    CHECK_EQ(fetch(s, "GET", U(hb_port, "/"), NULL, NULL, NULL), 200);
    CHECK_EQ(corio_http_session_opened(s), 2);
    corio_http_session_close(s);

    corio_http_session_opts one = {.limit = 1};
    s = corio_http_session_new(&one);
    corio_http_resp *held;
    CHECK_EQ(corio_http_session_request(s, "GET", U(hb_port, "/"), NULL, &held), 0);
    struct waiter_job j = {.s = s, .rc = 1};
    corio_task *t = corio_spawn(waiting_request, &j);
    yield_n(3); /* it is now queued for the one connection */
    CHECK_EQ(j.rc, 1);
    CHECK_EQ(corio_http_session_close(s), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(j.rc, -ESHUTDOWN);
    corio_http_resp *x; /* the held response keeps the closed session's memory */
    CHECK_EQ(corio_http_session_request(s, "GET", U(hb_port, "/"), NULL, &x), -ESHUTDOWN);
    CHECK(x == NULL);
    corio_http_resp_free(held);
    return 0;
}

#ifdef HAVE_TLS
CASE(t_https) {
    (void)arg;
    if (!tls_port) {
        printf("SKIP t_https: no certificates or no TLS httpbin\n");
        return 0;
    }
    char url[128], ca[128];
    snprintf(url, sizeof url, "https://localhost:%d/", tls_port);
    snprintf(ca, sizeof ca, "%s/ca.pem", certdir);
    corio_http_session_opts so = {.cafile = ca};
    corio_http_session *s = corio_http_session_new(&so);
    char *b;
    CHECK_EQ(fetch(s, "GET", url, NULL, &b, NULL), 200);
    CHECK(b && !strcmp(b, "Hello, World!"));
    free(b);
    CHECK_EQ(fetch(s, "GET", url, NULL, NULL, NULL), 200);
    /* POSTs check the pooled TLS connection for a close before using it */
    char echo[128];
    snprintf(echo, sizeof echo, "https://localhost:%d/echo", tls_port);
    corio_http_request_opts po = {.body = "tls body", .body_len = 8};
    for (int i = 0; i < 2; i++) {
        size_t n = 0;
        CHECK_EQ(fetch(s, "POST", echo, &po, &b, &n), 200);
        CHECK(n == 8 && !memcmp(b, "tls body", 8));
        free(b);
    }
    CHECK_EQ(corio_http_session_opened(s), 1);
    corio_http_session_close(s);
    /* the system store does not know the test CA */
    s = corio_http_session_new(NULL);
    CHECK_EQ(fetch(s, "GET", url, NULL, NULL, NULL), CORIO_HTTP_ETLS_VERIFY);
    CHECK(strstr(corio_http_client_errmsg(), "verif"));
    CHECK_EQ(corio_http_session_connections(s), 0);
    corio_http_session_close(s);
    corio_http_session_opts io = {.insecure = 1};
    s = corio_http_session_new(&io);
    CHECK_EQ(fetch(s, "GET", url, NULL, NULL, NULL), 200);
    corio_http_session_close(s);
    return 0;
}
#endif

/* ---- the examples, from outside -------------------------------------------------------- */

static int run_cmd(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void t_examples(void) {
    char cmd[512], out[4096];
    const char *ex = EXAMPLES_DIR;
    snprintf(cmd, sizeof cmd, "%s/http_get -i %s", ex, U(hb_port, "/redirect/2"));
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    CHECK(!strncmp(out, "HTTP/1.1 200 OK\r\n", 17) && strstr(out, "\r\n\r\nHello, World!"));
    snprintf(cmd, sizeof cmd, "%s/http_get -X PUT -d abc -H 'Content-Type: text/x' %s", ex, U(hb_port, "/echo"));
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    CHECK(!strcmp(out, "abc"));
    snprintf(cmd, sizeof cmd, "%s/http_get %s 2>&1", ex, U(hb_port, "/status/503"));
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 1);
    CHECK(strstr(out, "503"));
    snprintf(cmd, sizeof cmd, "%s/http_get http://127.0.0.1:1/ 2>&1", ex);
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 2);
    CHECK(strstr(out, "refused"));
    snprintf(cmd, sizeof cmd, "%s/http_get -t 0.3 %s 2>&1", ex, U(odd_port, "/never"));
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 2);
    CHECK(strstr(out, "timeout"));
    snprintf(cmd, sizeof cmd, "%s/http_get --max-redirects 1 %s 2>&1", ex, U(hb_port, "/redirect/2"));
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 2);
    CHECK(strstr(out, "too many redirects"));
    snprintf(cmd, sizeof cmd, "%s/http_get %s 2>&1", ex, U(odd_port, "/garbage"));
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 2);
    CHECK(strstr(out, "malformed"));
    snprintf(cmd, sizeof cmd, "%s/http_get http://x.invalid/ 2>&1", ex);
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 2);
    CHECK(strstr(out, "DNS"));
    char file[] = "/tmp/corio_hc_out_XXXXXX";
    close(mkstemp(file));
    snprintf(cmd, sizeof cmd, "%s/http_get -o %s %s", ex, file, U(hb_port, "/bytes/100000"));
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    struct stat st;
    CHECK(stat(file, &st) == 0 && st.st_size == 100000);
    unlink(file);
#ifdef HAVE_TLS
    if (tls_port) {
        snprintf(cmd, sizeof cmd, "%s/http_get https://localhost:%d/ 2>&1", ex, tls_port);
        CHECK_EQ(run_cmd(cmd, out, sizeof out), 2);
        CHECK(strstr(out, "verification"));
        snprintf(cmd, sizeof cmd, "%s/http_get --cafile %s/ca.pem https://localhost:%d/", ex, certdir, tls_port);
        CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
        CHECK(!strcmp(out, "Hello, World!"));
        snprintf(cmd, sizeof cmd, "%s/http_get --insecure https://localhost:%d/", ex, tls_port);
        CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    }
#endif
    /* the A/B demo, with a short delay so the test stays quick */
    snprintf(cmd, sizeof cmd, "%s/fetch_ab -n 4 %s", ex, U(hb_port, "/delay/0.5"));
    CHECK_EQ(run_cmd(cmd, out, sizeof out), 0);
    double t1 = 0, t2 = 0;
    const char *p = strstr(out, "Sync requests\n[0, 1, 2, 3]\nexecution time: ");
    const char *q = strstr(out, "Asyncio requests\n[0, 1, 2, 3]\nexecution time: ");
    CHECK(p && q && p < q);
    if (p && q) {
        t1 = atof(p + strlen("Sync requests\n[0, 1, 2, 3]\nexecution time: "));
        t2 = atof(q + strlen("Asyncio requests\n[0, 1, 2, 3]\nexecution time: "));
        CHECK(t1 >= 1.9 && t2 >= 0.45 && t2 < t1);
    } else {
        fprintf(stderr, "fetch_ab printed:\n%s", out);
    }
}

static void run_all(void) {
    RUN_NET_TEST(t_get_and_reuse);
    RUN_NET_TEST(t_reuse_server_side);
    RUN_NET_TEST(t_session_headers);
    RUN_NET_TEST(t_head_and_bodiless);
    RUN_NET_TEST(t_request_bodies);
    RUN_NET_TEST(t_chunked);
    RUN_NET_TEST(t_redirects);
    RUN_NET_TEST(t_auth_and_query);
    RUN_NET_TEST(t_gzip);
    RUN_NET_TEST(t_odd_responses);
    RUN_NET_TEST(t_timeouts);
    RUN_NET_TEST(t_cancel_mid_body);
    RUN_NET_TEST(t_limit_per_host);
    RUN_NET_TEST(t_stale_connection);
    RUN_NET_TEST(t_errors);
    RUN_NET_TEST(t_idle_and_close);
#ifdef HAVE_TLS
    RUN_NET_TEST(t_https);
#endif
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    char hb[512], py[512];
    snprintf(hb, sizeof hb, "%s/httpbin", EXAMPLES_DIR);
    snprintf(py, sizeof py, "%s/modules/http/client/tests/odd_server.py", SOURCE_DIR);
    char *hb_argv[] = {hb, "0", NULL};
    char *py_argv[] = {"python3", py, NULL};
    hb_port = start_server(hb_argv, &hb_pid);
    odd_port = start_server(py_argv, &odd_pid);
    if (hb_port <= 0 || odd_port <= 0) {
        printf("SKIP: cannot start %s (%d) or %s (%d)\n", hb, hb_port, py, odd_port);
        stop_server(&hb_pid);
        stop_server(&odd_pid);
        return 77;
    }
#ifdef HAVE_TLS
    snprintf(certdir, sizeof certdir, "/tmp/corio_hc_certs_%d", (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh %s/scripts/make-test-certs.sh %s >/dev/null 2>&1", SOURCE_DIR, certdir);
    if (system(cmd) == 0) {
        char cert[128], key[128];
        snprintf(cert, sizeof cert, "%s/server.pem", certdir);
        snprintf(key, sizeof key, "%s/server.key", certdir);
        char *tls_argv[] = {hb, "--cert", cert, "--key", key, "0", NULL};
        tls_port = start_server(tls_argv, &tls_pid);
        if (tls_port < 0) tls_port = 0;
    }
#endif
    net_warm_up();
    run_on_each_backend(run_all);
    if (!getenv("CORIO_HC_SKIP_EXAMPLES")) RUN_TEST(t_examples);
    stop_server(&hb_pid);
    stop_server(&odd_pid);
    stop_server(&tls_pid);
#ifdef HAVE_TLS
    snprintf(cmd, sizeof cmd, "rm -rf %s", certdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", certdir);
#endif
    TEST_MAIN_END();
}
