/*
 * test_http_server.c - the server in process, driven by raw clients on
 * 127.0.0.1 (corio streams), on each backend: keep-alive, pipelining in
 * one send, HTTP/1.0, HEAD, chunked request bodies, Expect: 100-continue,
 * malformed requests (400 and close), the limits (431, 413), the header
 * and keep-alive timeouts, the connection cap (excess clients wait),
 * graceful shutdown with a request in flight, and serve_stream over a
 * counting transport.
 */
#include <corio/http.h>
#include <corio/transport.h>

#include "test.h"
#include "net_util.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

/* ---- the application under test ---- */

static int h_hello(corio_http_exchange *x, void *arg) {
    (void)arg;
    return corio_http_respond(x, 200, "text/plain", "Hello, World!", 13);
}

static int h_sleep(corio_http_exchange *x, void *arg) {
    (void)arg;
    size_t n;
    const char *ms = corio_http_param(x, "ms", &n);
    int rc = corio_sleep(atoi(ms) / 1000.0);
    if (rc < 0) return rc;
    return corio_http_respond(x, 200, "text/plain", "slept", 5);
}

static int h_echo(corio_http_exchange *x, void *arg) {
    (void)arg;
    char *b;
    size_t len;
    int rc = corio_http_body_read_all(x, 0, &b, &len);
    if (rc < 0) return rc;
    rc = corio_http_respond(x, 200, NULL, b, len);
    free(b);
    return rc;
}

static int h_pieces(corio_http_exchange *x, void *arg) {
    (void)arg;
    /* Body read in 3-byte pieces, answered chunked. */
    int rc = corio_http_start(x, 200, CORIO_HTTP_CHUNKED);
    char b[3];
    ssize_t g;
    while (rc == 0 && (g = corio_http_body_read(x, b, sizeof b)) > 0) rc = corio_http_write(x, b, (size_t)g);
    if (rc == 0 && g < 0) rc = (int)g;
    return rc ? rc : corio_http_finish(x);
}

static int h_item(corio_http_exchange *x, void *arg) {
    (void)arg;
    size_t n;
    const char *id = corio_http_param(x, "id", &n);
    return corio_http_respond(x, 200, "text/plain", id, n);
}

static int h_noresp(corio_http_exchange *x, void *arg) {
    (void)x;
    (void)arg;
    return 0; /* the server answers 500 */
}

static char file_path[64];
static size_t file_size;
static int h_file(corio_http_exchange *x, void *arg) {
    (void)arg;
    int fd = open(file_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    /* "?chunked": the copy path (sendfile needs a declared length). */
    int rc = corio_http_start(x, 200, corio_http_req(x)->query ? CORIO_HTTP_CHUNKED : (int64_t)file_size - 10);
    if (!rc) rc = corio_http_write_file(x, fd, 10, file_size - 10);
    close(fd);
    return rc ? rc : corio_http_finish(x);
}

static int h_204(corio_http_exchange *x, void *arg) {
    (void)arg;
    return corio_http_respond(x, 204, NULL, NULL, 0);
}

static corio_http_router *router(void) {
    corio_http_router *rt = corio_http_router_new();
    CHECK_EQ(corio_http_route(rt, "GET", "/", h_hello, NULL), 0);
    CHECK_EQ(corio_http_route(rt, "GET", "/sleep/{ms}", h_sleep, NULL), 0);
    CHECK_EQ(corio_http_route(rt, "POST", "/echo", h_echo, NULL), 0);
    CHECK_EQ(corio_http_route(rt, "POST", "/pieces", h_pieces, NULL), 0);
    CHECK_EQ(corio_http_route(rt, "GET", "/items/{id}/x", h_item, NULL), 0);
    CHECK_EQ(corio_http_route(rt, "GET", "/noresp", h_noresp, NULL), 0);
    CHECK_EQ(corio_http_route(rt, "GET", "/file", h_file, NULL), 0);
    CHECK_EQ(corio_http_route(rt, "GET", "/status/204", h_204, NULL), 0);
    CHECK_EQ(corio_http_route(rt, "GET", "bad", h_noresp, NULL), -EINVAL);
    CHECK_EQ(corio_http_route(rt, "GET", "/{x", h_noresp, NULL), -EINVAL);
    return rt;
}

/* ---- a raw client ---- */

struct resp {
    int status;
    char head[2048];
    char body[70000];
    size_t body_len;
    int closed; /* the server closed after it */
};

/* Read one response (Content-Length, chunked or until close) from r. */
static int read_response(corio_reader *r, struct resp *out, int head_request) {
    char buf[80000];
    size_t len = 0;
    corio_http_header h[64];
    corio_http_response resp;
    int n;
    memset(out, 0, sizeof *out);
    for (;;) {
        n = corio_http_parse_response(buf, len, &resp, h, 64);
        if (n != CORIO_HTTP_EPARTIAL) break;
        size_t got;
        int rc = corio_reader_readexactly(r, buf + len, 1, &got); /* byte by byte: no over-read */
        if (rc < 0) return rc;
        len++;
    }
    if (n < 0) return n;
    out->status = resp.status;
    memcpy(out->head, buf, (size_t)n < sizeof out->head ? (size_t)n : sizeof out->head - 1);
    corio_http_body_kind k = corio_http_response_framing(&resp, head_request ? "HEAD" : "GET", head_request ? 4 : 3);
    if (k == CORIO_HTTP_BODY_LENGTH) {
        out->body_len = (size_t)resp.body.content_length;
        if (out->body_len && corio_reader_readexactly(r, out->body, out->body_len, NULL) < 0) return -EIO;
    } else if (k == CORIO_HTTP_BODY_CHUNKED) {
        corio_http_chunked d;
        corio_http_chunked_init(&d);
        for (;;) {
            char c;
            if (corio_reader_readexactly(r, &c, 1, NULL) < 0) return -EIO;
            size_t used, dl;
            const char *data;
            int rc = corio_http_chunked_feed(&d, &c, 1, &used, &data, &dl);
            if (dl) out->body[out->body_len++] = *data;
            if (rc == 1) break;
            if (rc < 0) return rc;
        }
    } else if (k == CORIO_HTTP_BODY_UNTIL_CLOSE) {
        ssize_t g = corio_reader_read_to_eof(r, out->body, sizeof out->body);
        if (g < 0) return (int)g;
        out->body_len = (size_t)g;
    }
    out->closed = strstr(out->head, "Connection: close") != NULL;
    return 0;
}

static int port_;
static corio_http_server *srv_;

static int connect_(corio_reader **r, corio_writer **w) { return corio_open_connection("127.0.0.1", port_, r, w); }

/* Send a request on a new connection and read one response. */
static int exchange1(const char *req, size_t len, struct resp *out) {
    corio_reader *r;
    corio_writer *w;
    int rc = connect_(&r, &w);
    if (rc < 0) return rc;
    corio_writer_write(w, req, len ? len : strlen(req));
    rc = read_response(r, out, !strncmp(req, "HEAD", 4));
    if (rc == 0 && out->closed) {
        char c;
        CHECK_EQ(corio_reader_read(r, &c, 1), 0); /* and it did close */
    }
    corio_stream_close(r, w);
    return rc;
}

typedef void (*case_fn)(void);
static corio_http_server_opts opts_;

static int case_main(void *arg) {
    case_fn fn = (case_fn)arg;
    int rc = corio_http_serve("127.0.0.1", 0, &opts_, &srv_);
    CHECK_EQ(rc, 0);
    if (rc < 0) return rc;
    port_ = corio_http_server_port(srv_);
    fn();
    CHECK_EQ(corio_http_server_shutdown(srv_, 2.0), 0);
    CHECK_EQ(corio_http_server_free(srv_), 0);
    srv_ = NULL;
    return 0;
}

static void run_case(case_fn fn, const corio_http_server_opts *o) {
    corio_http_router *rt = router();
    memset(&opts_, 0, sizeof opts_);
    if (o) opts_ = *o;
    opts_.router = rt;
    test_run(case_main, (void *)fn, 0);
    corio_http_router_free(rt);
}

/* ---- cases ---- */

static void c_basic(void) {
    struct resp *p = malloc(sizeof *p);
    CHECK_EQ(exchange1("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 200);
    CHECK(p->body_len == 13 && !memcmp(p->body, "Hello, World!", 13));
    CHECK(strstr(p->head, "Server: corio\r\n") && strstr(p->head, "Date: "));
    CHECK(p->closed);
    CHECK_EQ(exchange1("HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK(p->status == 200 && p->body_len == 0 && strstr(p->head, "Content-Length: 13"));
    CHECK_EQ(exchange1("GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 404);
    CHECK_EQ(exchange1("DELETE /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 405);
    CHECK(strstr(p->head, "Allow: POST\r\n") != NULL);
    CHECK_EQ(exchange1("POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 405);
    CHECK(strstr(p->head, "Allow: GET, HEAD\r\n") != NULL);
    CHECK_EQ(exchange1("GET /items/42/x?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK(p->status == 200 && p->body_len == 2 && !memcmp(p->body, "42", 2));
    CHECK_EQ(exchange1("GET /items//x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 404);
    CHECK_EQ(exchange1("GET /noresp HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 500);
    /* HTTP/1.0: closes unless asked; with keep-alive it says so. */
    CHECK_EQ(exchange1("GET / HTTP/1.0\r\n\r\n", 0, p), 0);
    CHECK(p->status == 200 && p->closed);
    free(p);
}

static void c_keepalive_pipeline(void) {
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(connect_(&r, &w), 0);
    struct resp *p = malloc(sizeof *p);
    for (int i = 0; i < 3; i++) {
        corio_writer_write(w, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        CHECK_EQ(read_response(r, p, 0), 0);
        CHECK(p->status == 200 && !p->closed);
    }
    /* 16 pipelined requests of mixed kinds, in one write; answered in order. */
    char req[8192];
    size_t len = 0;
    for (int i = 0; i < 16; i++) {
        if (i % 4 == 1) len += (size_t)sprintf(req + len, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n%03d", i);
        else if (i % 4 == 2) len += (size_t)sprintf(req + len, "GET /items/%d/x HTTP/1.1\r\nHost: a\r\n\r\n", i);
        else if (i % 4 == 3) len += (size_t)sprintf(req + len, "POST /pieces HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n%02d\r\n0\r\n\r\n", i);
        else len += (size_t)sprintf(req + len, "GET /sleep/%d HTTP/1.1\r\nHost: a\r\n\r\n", i == 4 ? 100 : 0);
    }
    corio_writer_write(w, req, len);
    for (int i = 0; i < 16; i++) {
        CHECK_EQ(read_response(r, p, 0), 0);
        CHECK_EQ(p->status, 200);
        char want[16];
        if (i % 4 == 1) sprintf(want, "%03d", i);
        else if (i % 4 == 2) sprintf(want, "%d", i);
        else if (i % 4 == 3) sprintf(want, "%02d", i);
        else strcpy(want, "slept");
        if (p->body_len != strlen(want) || memcmp(p->body, want, p->body_len)) {
            fprintf(stderr, "pipelined response %d: %.*s\n", i, (int)p->body_len, p->body);
            test_failures++;
        }
    }
    /* The connection persists; Connection: close ends it. */
    corio_writer_write(w, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", strlen("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    CHECK_EQ(read_response(r, p, 0), 0);
    CHECK(p->closed);
    free(p);
    corio_stream_close(r, w);
}

static void c_bad(void) {
    struct resp *p = malloc(sizeof *p);
    const char *bad[] = {
        "GET / HTTP/1.1\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ(exchange1(bad[i], 0, p), 0);
        CHECK_EQ(p->status, 400);
        CHECK(p->closed);
    }
    CHECK_EQ(exchange1("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 505);
    CHECK_EQ(exchange1("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 501);
    /* A malformed chunked body: 400 from the handler's read. */
    CHECK_EQ(exchange1("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, p), 0);
    CHECK_EQ(p->status, 400);
    CHECK(p->closed);
    /* Limits: a head over 16 KiB is 431; a body over max_body 413. */
    char *big = malloc(20000);
    int n = sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(big + n, 'a', 17000);
    n += 17000;
    n += sprintf(big + n, "\r\n\r\n");
    CHECK_EQ(exchange1(big, (size_t)n, p), 0);
    CHECK_EQ(p->status, 431);
    n = sprintf(big, "GET /");
    memset(big + n, 'a', 17000);
    n += 17000;
    n += sprintf(big + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK_EQ(exchange1(big, (size_t)n, p), 0);
    CHECK_EQ(p->status, 414);
    n = sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 101; i++) n += sprintf(big + n, "X-%d: 1\r\n", i);
    n += sprintf(big + n, "\r\n");
    CHECK_EQ(exchange1(big, (size_t)n, p), 0);
    CHECK_EQ(p->status, 431);
    free(big);
    CHECK_EQ(exchange1("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 413);
    CHECK(p->closed);
    free(p);
}

/* A client that pipelines 20,000 requests and reads nothing for a while:
 * the server stops reading when its writer is full instead of buffering
 * every response; then everything arrives. */
static void c_flood(void) {
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(connect_(&r, &w), 0);
    static const char one[] = "GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n";
    enum { N = 20000 };
    char *all = malloc(N * (sizeof one - 1));
    for (int i = 0; i < N; i++) memcpy(all + (size_t)i * (sizeof one - 1), one, sizeof one - 1);
    corio_writer_write(w, all, N * (sizeof one - 1));
    free(all);
    corio_sleep(0.3);
    /* The responses not yet read sit in kernel buffers and at most about
     * the writer's high water mark plus one flush on the server. */
    static char buf[1 << 16];
    size_t want = 0;
    /* Count "HTTP/1.1 204" heads. */
    int heads = 0;
    char prev = 0;
    while (heads < N) {
        ssize_t n = corio_reader_read(r, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' && prev == '\r') want++;
            prev = buf[i];
        }
        heads = (int)(want / 4); /* status line, Server, Date, empty line */
    }
    CHECK_EQ(heads, N);
    corio_stream_close(r, w);
}

static void c_expect_continue(void) {
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(connect_(&r, &w), 0);
    corio_writer_write(w, "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", strlen("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    struct resp *p = malloc(sizeof *p);
    CHECK_EQ(read_response(r, p, 0), 0);
    CHECK_EQ(p->status, 100);
    corio_writer_write(w, "hello", strlen("hello"));
    CHECK_EQ(read_response(r, p, 0), 0);
    CHECK(p->status == 200 && p->body_len == 5 && !memcmp(p->body, "hello", 5));
    if (p->status != 200 || p->body_len != 5 || memcmp(p->body, "hello", 5)) fprintf(stderr, "got %d %s [%.*s]\n", p->status, p->head, (int)p->body_len, p->body);
    /* A handler that does not read the body: no 100, and the connection closes. */
    corio_writer_write(w, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", strlen("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    CHECK_EQ(read_response(r, p, 0), 0);
    CHECK_EQ(p->status, 405);
    CHECK(p->closed);
    free(p);
    corio_stream_close(r, w);
}

static void c_timeouts(void) {
    /* A client that trickles its head is cut off header_timeout (0.3 s)
     * after it began, however often a byte comes: 408, then close. */
    int fd = corio_tcp_connect("127.0.0.1", port_);
    CHECK(fd >= 0);
    double t0 = corio_time();
    CHECK_EQ(send(fd, "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL), 16);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int i;
    for (i = 0; i < 40; i++) {
        corio_sleep(0.05);
        if (poll(&pfd, 1, 0) == 1) break;
        send(fd, "X", 1, MSG_NOSIGNAL);
    }
    CHECK(i < 40);
    CHECK(corio_time() - t0 < 1.9);
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    CHECK(n > 12 && !memcmp(buf, "HTTP/1.1 408 ", 13));
    corio_close(fd);
    corio_reader *r;
    corio_writer *w;
    struct resp *p = malloc(sizeof *p);
    /* An idle keep-alive connection is closed after keepalive_timeout (0.3 s). */
    CHECK_EQ(connect_(&r, &w), 0);
    corio_writer_write(w, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK_EQ(read_response(r, p, 0), 0);
    t0 = corio_time();
    char c;
    CHECK_EQ(corio_reader_read(r, &c, 1), 0);
    CHECK(corio_time() - t0 < 1.9);
    corio_stream_close(r, w);
    free(p);
}

static void c_cap(void) {
    /* max_connections 1: the second client waits in the backlog until the first is gone. */
    corio_reader *r1, *r2;
    corio_writer *w1, *w2;
    CHECK_EQ(connect_(&r1, &w1), 0);
    struct resp *p = malloc(sizeof *p);
    corio_writer_write(w1, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK_EQ(read_response(r1, p, 0), 0);
    CHECK_EQ(connect_(&r2, &w2), 0); /* the kernel completes the handshake */
    corio_writer_write(w2, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    corio_sleep(0.2);
    CHECK_EQ(corio_reader_buffered(r2), 0);
    CHECK_EQ(corio_http_server_connections(srv_), 1);
    corio_stream_close(r1, w1);
    CHECK_EQ(read_response(r2, p, 0), 0);
    CHECK_EQ(p->status, 200);
    corio_stream_close(r2, w2);
    free(p);
}

struct inflight {
    struct resp p;
    int rc;
};
static int inflight_main(void *arg) {
    struct inflight *f = arg;
    corio_reader *r;
    corio_writer *w;
    f->rc = connect_(&r, &w);
    if (f->rc < 0) return 0;
    corio_writer_write(w, "GET /sleep/300 HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /sleep/300 HTTP/1.1\r\nHost: a\r\n\r\n"));
    f->rc = read_response(r, &f->p, 0);
    corio_stream_close(r, w);
    return 0;
}

static void c_shutdown(void) {
    /* An idle keep-alive connection and a request in flight: shutdown
     * closes the first, lets the second finish with Connection: close. */
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(connect_(&r, &w), 0);
    struct resp *p = malloc(sizeof *p);
    corio_writer_write(w, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK_EQ(read_response(r, p, 0), 0);
    struct inflight *f = calloc(1, sizeof *f);
    corio_task *t = corio_spawn(inflight_main, f);
    WAIT_UNTIL(corio_http_server_connections(srv_) == 2, 5);
    corio_sleep(0.05);
    CHECK_EQ(corio_http_server_shutdown(srv_, 5.0), 0);
    CHECK_EQ(corio_http_server_connections(srv_), 0);
    char c;
    CHECK_EQ(corio_reader_read(r, &c, 1), 0);
    corio_join(t);
    CHECK_EQ(f->rc, 0);
    CHECK_EQ(f->p.status, 200);
    CHECK(f->p.closed);
    /* Nobody listens any more. */
    corio_reader *r2;
    corio_writer *w2;
    CHECK(connect_(&r2, &w2) < 0);
    corio_stream_close(r, w);
    free(f);
    free(p);
}

/* ---- serve_stream over a transport that counts writes ---- */

struct counting {
    int fd;
    int writes;
    int closed;
};
static ssize_t ct_read(void *ctx, void *buf, size_t n) { return corio_read(((struct counting *)ctx)->fd, buf, n); }
static int ct_write(void *ctx, const struct iovec *iov, int n) {
    struct counting *c = ctx;
    c->writes++;
    for (int i = 0; i < n; i++)
        if (send(c->fd, iov[i].iov_base, iov[i].iov_len, MSG_DONTWAIT) != (ssize_t)iov[i].iov_len) return -EIO;
    return 0;
}
static size_t ct_buffered(void *ctx) {
    (void)ctx;
    return 0;
}
static int ct_close(void *ctx) {
    struct counting *c = ctx;
    if (!c->closed) corio_close(c->fd);
    c->closed = 1;
    return 0;
}
static void ct_release(void *ctx) { (void)ctx; }
static const corio_transport_ops ct_ops = {
    .read = ct_read, .write = ct_write, .buffered = ct_buffered, .close = ct_close, .release = ct_release};

struct serve_arg {
    corio_reader *r;
    corio_writer *w;
};
static int serve_main(void *arg) {
    struct serve_arg *a = arg;
    return corio_http_serve_stream(srv_, a->r, a->w);
}

static void c_serve_stream(void) {
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    struct counting ct = {.fd = sv[0]};
    struct serve_arg a;
    CHECK_EQ(corio_stream_open_transport(&ct_ops, &ct, NULL, &a.r, &a.w), 0);
    corio_task *t = corio_spawn(serve_main, &a);
    corio_reader *cr;
    corio_writer *cw;
    CHECK_EQ(corio_stream_open(sv[1], NULL, &cr, &cw), 0);
    /* 16 requests in one write: their 16 responses in one write. */
    char req[2048];
    size_t len = 0;
    for (int i = 0; i < 16; i++) len += (size_t)sprintf(req + len, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    corio_writer_write(cw, req, len);
    struct resp *p = malloc(sizeof *p);
    for (int i = 0; i < 16; i++) {
        CHECK_EQ(read_response(cr, p, 0), 0);
        CHECK_EQ(p->status, 200);
    }
    CHECK_EQ(ct.writes, 1);
    /* A file body over the transport: no descriptor to sendfile(2) to,
     * so the stream's sendfile reads the file and writes it. */
    size_t keep = file_size;
    file_size = 60010;
    corio_writer_write(cw, "GET /file HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /file HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK_EQ(read_response(cr, p, 0), 0);
    file_size = keep;
    CHECK_EQ(p->status, 200);
    CHECK_EQ(p->body_len, (size_t)60000);
    int same = 1;
    for (size_t i = 10; i < 60010; i++) same &= (unsigned char)p->body[i - 10] == (unsigned char)(i * 7 + i / 251);
    CHECK(same);
    corio_writer_write(cw, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", strlen("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    CHECK_EQ(read_response(cr, p, 0), 0);
    CHECK_EQ(corio_join(t), 0);
    corio_stream_close(a.r, a.w);
    corio_stream_close(cr, cw);
    free(p);
}

/* Garbage and broken clients: mutated requests in random pieces, clients
 * that vanish mid-request or mid-body.  Afterwards the server still
 * answers, and (checked by the harness) shuts down clean with nothing left. */
static uint32_t grng = 12345;
static uint32_t grand(uint32_t n) {
    grng = grng * 1103515245u + 12345u;
    return (grng >> 8) % n;
}
static int garbage_client(void *arg) {
    (void)arg;
    static const char *base[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
        "POST /pieces HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
        "GET /sleep/5 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    };
    char msg[512];
    const char *b = base[grand(4)];
    size_t len = strlen(b);
    memcpy(msg, b, len);
    int muts = (int)grand(4);
    for (int i = 0; i < muts; i++) msg[grand((uint32_t)len)] = (char)grand(256);
    corio_reader *r;
    corio_writer *w;
    if (connect_(&r, &w) < 0) return 0;
    size_t pos = 0, cut = grand(3) == 0 ? grand((uint32_t)len) : len;
    while (pos < cut) {
        size_t piece = 1 + grand(40);
        if (piece > cut - pos) piece = cut - pos;
        corio_writer_write(w, msg + pos, piece);
        pos += piece;
        if (grand(3) == 0) corio_sleep(0.001);
    }
    if (grand(2)) {
        char buf[4096];
        corio_timeout to;
        corio_timeout_enter(&to, 0.5);
        ssize_t n = corio_reader_read(r, buf, sizeof buf);
        corio_timeout_exit(&to, n < 0 ? (int)n : 0);
    }
    if (grand(2)) corio_writer_abort(w);
    corio_stream_close(r, w);
    return 0;
}

static void c_garbage(void) {
    corio_task *t[64];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 64; i++) t[i] = corio_spawn(garbage_client, NULL);
        for (int i = 0; i < 64; i++) corio_join(t[i]);
    }
    struct resp *p = malloc(sizeof *p);
    CHECK_EQ(exchange1("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 200);
    free(p);
}

/* A file body: sendfile on the plain socket (big enough to need several
 * rounds of waiting for room), the stream's path through serve_stream. */
static void c_file(void) {
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(connect_(&r, &w), 0);
    corio_writer_write(w, "GET /file HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /file HTTP/1.1\r\nHost: a\r\n\r\n"));
    char head[1024];
    size_t hl = 0;
    while (hl < 4 || memcmp(head + hl - 4, "\r\n\r\n", 4)) CHECK_EQ(corio_reader_readexactly(r, head + hl++, 1, NULL), 0);
    CHECK(!memcmp(head, "HTTP/1.1 200 OK", 15));
    uint64_t h = FNV_INIT;
    size_t got = 0;
    char buf[65536];
    corio_sleep(0.2); /* let the socket fill: sendfile meets EAGAIN */
    while (got < file_size - 10) {
        size_t want = file_size - 10 - got < sizeof buf ? file_size - 10 - got : sizeof buf;
        ssize_t n = corio_reader_read(r, buf, want);
        if (n <= 0) break;
        h = fnv1a(h, buf, (size_t)n);
        got += (size_t)n;
    }
    CHECK_EQ(got, file_size - 10);
    uint64_t want_h = FNV_INIT;
    for (size_t i = 10; i < file_size; i++) {
        unsigned char c = (unsigned char)(i * 7 + i / 251);
        want_h = fnv1a(want_h, &c, 1);
    }
    CHECK(h == want_h);
    /* The same file chunked: pread through the stream. */
    corio_writer_write(w, "GET /file?chunked HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /file?chunked HTTP/1.1\r\nHost: a\r\n\r\n"));
    hl = 0;
    while (hl < 4 || memcmp(head + hl - 4, "\r\n\r\n", 4)) CHECK_EQ(corio_reader_readexactly(r, head + hl++, 1, NULL), 0);
    CHECK(strstr(head, "Transfer-Encoding: chunked") != NULL);
    corio_http_chunked d;
    corio_http_chunked_init(&d);
    h = FNV_INIT;
    got = 0;
    /* Nothing follows the body until we ask again: read in big pieces. */
    for (int done = 0; !done;) {
        ssize_t n = corio_reader_read(r, buf, sizeof buf);
        if (n <= 0) break;
        for (size_t off = 0; off < (size_t)n && !done;) {
            size_t used, dl;
            const char *data;
            int rc = corio_http_chunked_feed(&d, buf + off, (size_t)n - off, &used, &data, &dl);
            if (dl) {
                h = fnv1a(h, data, dl);
                got += dl;
            }
            off += used;
            if (rc != 0) done = 1;
        }
    }
    CHECK_EQ(got, file_size - 10);
    CHECK(h == want_h);
    /* the connection goes on */
    corio_writer_write(w, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", strlen("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    struct resp *p = malloc(sizeof *p);
    CHECK_EQ(read_response(r, p, 0), 0);
    CHECK_EQ(p->status, 200);
    free(p);
    corio_stream_close(r, w);
}

/* A client that leaves in the middle of a file body: the sendfile meets
 * a closed socket (EPIPE / ECONNRESET), which must end that exchange and
 * not the process (sendfile(2) raises SIGPIPE unless held back), and the
 * server goes on serving. */
static void c_file_client_leaves(void) {
    /* Longer than loopback's buffers take at once: 64 MiB, the rest a hole. */
    size_t keep = file_size;
    file_size = 64u << 20;
    CHECK_EQ(truncate(file_path, (off_t)file_size), 0);
    for (int i = 0; i < 3; i++) {
        corio_reader *r;
        corio_writer *w;
        CHECK_EQ(connect_(&r, &w), 0);
        corio_writer_write(w, "GET /file HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /file HTTP/1.1\r\nHost: a\r\n\r\n"));
        char buf[4096];
        CHECK(corio_reader_read(r, buf, sizeof buf) > 0);
        /* First our FIN (the server's socket goes to CLOSE_WAIT), then
         * the close with unread bytes, a reset: the server's next send is
         * EPIPE, which is where sendfile(2) raises SIGPIPE. */
        if (i % 2 == 0) {
            corio_writer_write_eof(w);
            corio_sleep(0.05);
        }
        corio_writer_abort(w);
        corio_stream_close(r, w);
        corio_sleep(0.05);
    }
    file_size = keep;
    CHECK_EQ(truncate(file_path, (off_t)file_size), 0);
    struct resp *p = malloc(sizeof *p);
    CHECK_EQ(exchange1("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, p), 0);
    CHECK_EQ(p->status, 200);
    free(p);
}

static void make_file(void) {
    strcpy(file_path, "/tmp/corio-http-test-XXXXXX");
    int fd = mkstemp(file_path);
    file_size = 3 * 1024 * 1024 + 17;
    unsigned char *b = malloc(file_size);
    for (size_t i = 0; i < file_size; i++) b[i] = (unsigned char)(i * 7 + i / 251);
    CHECK_EQ(write(fd, b, file_size), (ssize_t)file_size);
    close(fd);
    free(b);
}

static void run_all(void) {
    corio_http_server_opts o = {0};
    run_case(c_basic, NULL);
    run_case(c_keepalive_pipeline, NULL);
    run_case(c_bad, NULL);
    run_case(c_expect_continue, NULL);
    run_case(c_flood, NULL);
    o.header_timeout = 0.3;
    o.keepalive_timeout = 0.3;
    run_case(c_timeouts, &o);
    memset(&o, 0, sizeof o);
    o.max_connections = 1;
    o.backlog = 8;
    run_case(c_cap, &o);
    run_case(c_shutdown, NULL);
    run_case(c_serve_stream, NULL);
    run_case(c_file, NULL);
    run_case(c_file_client_leaves, NULL);
    memset(&o, 0, sizeof o);
    o.header_timeout = 1.0;
    o.keepalive_timeout = 1.0;
    run_case(c_garbage, &o);
}

static void test_server(void) { run_on_each_backend(run_all); }

/* N loops on SO_REUSEPORT: each thread answers; one call stops them all. */
static int setup_calls;
static int count_setup(int index, void *arg) {
    (void)index;
    (void)arg;
    __atomic_add_fetch(&setup_calls, 1, __ATOMIC_RELAXED);
    return 0;
}

static void test_cluster(void) {
    corio_http_router *rt = router();
    corio_http_server_opts o = {.router = rt};
    corio_http_cluster *cl;
    setup_calls = 0;
    CHECK_EQ(corio_http_cluster_start(3, "127.0.0.1", 0, &o, count_setup, NULL, &cl), 0);
    CHECK_EQ(__atomic_load_n(&setup_calls, __ATOMIC_RELAXED), 3);
    int port = corio_http_cluster_port(cl);
    CHECK(port > 0);
    for (int i = 0; i < 30; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        CHECK_EQ(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
        char buf[1024];
        size_t len = 0;
        ssize_t n;
        while ((n = recv(fd, buf + len, sizeof buf - 1 - len, 0)) > 0) len += (size_t)n;
        buf[len] = 0;
        CHECK(strstr(buf, "HTTP/1.1 200 OK") == buf && strstr(buf, "Hello, World!"));
        close(fd);
    }
    CHECK_EQ(corio_http_cluster_stop(cl, 1.0), 0);
    corio_http_router_free(rt);
}

int main(void) {
    make_file();
    net_warm_up();
    RUN_NET_TEST(test_server);
    RUN_NET_TEST(test_cluster);
    unlink(file_path);
    TEST_MAIN_END();
}
