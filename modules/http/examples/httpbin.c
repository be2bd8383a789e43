/*
 * httpbin - a small httpbin-style server on corio-http.
 *
 *     httpbin [-t THREADS] [--cert CERT --key KEY] PORT
 *
 * Listens on 127.0.0.1:PORT (0: a free port) and prints
 * "listening on 127.0.0.1:PORT" once ready.  SIGINT / SIGTERM: graceful
 * shutdown, exit 0.  Routes:
 *   GET /              "Hello, World!" (text/plain)
 *   GET /delay/S       "ok\n" after S seconds (0..10, decimal)
 *   GET /bytes/N       N bytes (0..100,000,000), byte i = i mod 251
 *   GET /stream/N      N chunks "line I\n" (0..100,000)
 *   POST|PUT /echo     the request body (up to 100 MiB), its Content-Type
 *   GET /status/N      status N (200..599), empty body
 *   GET /redirect/N    302 to /redirect/N-1 (1..20), /redirect/1 to /
 *   GET /headers       "name: value\n" per request field, names lower-cased
 * HEAD works on every GET route; other paths 404; other methods 405.
 */
#include <corio.h>
#include <corio/http.h>
#ifdef HTTPBIN_TLS
#include <corio/tls.h>
#endif

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_MAX (100u * 1024 * 1024)
#define BYTES_MAX 100000000ull
#define STREAM_MAX 100000ull

/* A decimal integer in [lo, hi] from a route segment: 1 ok, 0 not a
 * number (404: the route does not match), -1 out of range (400). */
static int seg_uint(const char *s, size_t n, unsigned long long lo, unsigned long long hi, unsigned long long *out) {
    if (!s || !n || n > 12) return 0;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 1;
}

static int not_found(corio_http_exchange *x) { return corio_http_respond(x, 404, "text/plain; charset=utf-8", "404: Not Found", 14); }
static int bad_request(corio_http_exchange *x) {
    return corio_http_respond(x, 400, "text/plain; charset=utf-8", "400: Bad Request", 16);
}

static int h_root(corio_http_exchange *x, void *arg) {
    (void)arg;
    return corio_http_respond(x, 200, "text/plain", "Hello, World!", 13);
}

static int h_delay(corio_http_exchange *x, void *arg) {
    (void)arg;
    size_t n;
    const char *s = corio_http_param(x, "s", &n);
    char tmp[32];
    if (!s || n == 0 || n >= sizeof tmp) return not_found(x);
    /* digits, at most one '.', and digits */
    int dots = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') dots++;
        else if (s[i] >= '0' && s[i] <= '9') digits++;
        else return not_found(x);
    }
    if (dots > 1 || !digits) return not_found(x);
    memcpy(tmp, s, n);
    tmp[n] = 0;
    double secs = strtod(tmp, NULL);
    if (!(secs >= 0 && secs <= 10)) return bad_request(x);
    int rc = corio_sleep(secs);
    if (rc < 0) return rc;
    return corio_http_respond(x, 200, "text/plain", "ok\n", 3);
}

/* 261 periods of 251 bytes: pieces of this size keep byte i = i mod 251. */
static unsigned char pattern[251 * 261];

static int h_bytes(corio_http_exchange *x, void *arg) {
    (void)arg;
    size_t n;
    const char *s = corio_http_param(x, "n", &n);
    unsigned long long len;
    int ok = seg_uint(s, n, 0, BYTES_MAX, &len);
    if (ok == 0) return not_found(x);
    if (ok < 0) return bad_request(x);
    int rc = corio_http_add_header(x, "Content-Type", "application/octet-stream");
    if (!rc) rc = corio_http_start(x, 200, (int64_t)len);
    while (!rc && len) {
        size_t piece = len < sizeof pattern ? (size_t)len : sizeof pattern;
        rc = corio_http_write(x, pattern, piece);
        len -= piece;
    }
    return rc ? rc : corio_http_finish(x);
}

static int h_stream(corio_http_exchange *x, void *arg) {
    (void)arg;
    size_t n;
    const char *s = corio_http_param(x, "n", &n);
    unsigned long long count;
    int ok = seg_uint(s, n, 0, STREAM_MAX, &count);
    if (ok == 0) return not_found(x);
    if (ok < 0) return bad_request(x);
    int rc = corio_http_add_header(x, "Content-Type", "text/plain");
    if (!rc) rc = corio_http_start(x, 200, CORIO_HTTP_CHUNKED);
    for (unsigned long long i = 0; !rc && i < count; i++) {
        char line[32];
        int l = snprintf(line, sizeof line, "line %llu\n", i);
        rc = corio_http_write(x, line, (size_t)l);
    }
    return rc ? rc : corio_http_finish(x);
}

static int h_echo(corio_http_exchange *x, void *arg) {
    (void)arg;
    /* The whole body first: a client that sends all before reading
     * (python's http.client) would otherwise deadlock with us. */
    char *body;
    size_t len;
    int rc = corio_http_body_read_all(x, ECHO_MAX, &body, &len);
    if (rc < 0) return rc; /* the server answers 413 / 400 */
    size_t ctl;
    const char *ct = corio_http_get_header(x, "content-type", &ctl);
    char ctype[512];
    if (ct && ctl < sizeof ctype) {
        memcpy(ctype, ct, ctl);
        ctype[ctl] = 0;
    } else {
        strcpy(ctype, "application/octet-stream");
    }
    rc = corio_http_add_header(x, "Content-Type", ctype);
    if (rc < 0) rc = corio_http_add_header(x, "Content-Type", "application/octet-stream");
    if (!rc) rc = corio_http_start(x, 200, (int64_t)len);
    if (!rc) rc = corio_http_write(x, body, len);
    free(body);
    return rc ? rc : corio_http_finish(x);
}

static int h_status(corio_http_exchange *x, void *arg) {
    (void)arg;
    size_t n;
    const char *s = corio_http_param(x, "n", &n);
    unsigned long long st;
    int ok = seg_uint(s, n, 200, 599, &st);
    if (ok == 0) return not_found(x);
    if (ok < 0) return bad_request(x);
    return corio_http_respond(x, (int)st, NULL, NULL, 0);
}

static int h_redirect(corio_http_exchange *x, void *arg) {
    (void)arg;
    size_t n;
    const char *s = corio_http_param(x, "n", &n);
    unsigned long long k;
    int ok = seg_uint(s, n, 1, 20, &k);
    if (ok == 0) return not_found(x);
    if (ok < 0) return bad_request(x);
    char loc[32];
    if (k == 1) strcpy(loc, "/");
    else snprintf(loc, sizeof loc, "/redirect/%llu", k - 1);
    int rc = corio_http_add_header(x, "Location", loc);
    return rc ? rc : corio_http_respond(x, 302, NULL, NULL, 0);
}

static int h_headers(corio_http_exchange *x, void *arg) {
    (void)arg;
    const corio_http_request *q = corio_http_req(x);
    size_t total = 0;
    for (size_t i = 0; i < q->num_headers; i++) total += q->headers[i].name_len + q->headers[i].value_len + 3;
    char *b = malloc(total + 1);
    if (!b) return -ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < q->num_headers; i++) {
        const corio_http_header *h = &q->headers[i];
        for (size_t k = 0; k < h->name_len; k++) {
            char c = h->name[k];
            b[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        b[o++] = ':';
        b[o++] = ' ';
        memcpy(b + o, h->value, h->value_len);
        o += h->value_len;
        b[o++] = '\n';
    }
    int rc = corio_http_respond(x, 200, "text/plain", b, o);
    free(b);
    return rc;
}

static corio_http_router *make_router(void) {
    corio_http_router *rt = corio_http_router_new();
    if (!rt) return NULL;
    int rc = 0;
    rc |= corio_http_route(rt, "GET", "/", h_root, NULL);
    rc |= corio_http_route(rt, "GET", "/delay/{s}", h_delay, NULL);
    rc |= corio_http_route(rt, "GET", "/bytes/{n}", h_bytes, NULL);
    rc |= corio_http_route(rt, "GET", "/stream/{n}", h_stream, NULL);
    rc |= corio_http_route(rt, "POST", "/echo", h_echo, NULL);
    rc |= corio_http_route(rt, "PUT", "/echo", h_echo, NULL);
    rc |= corio_http_route(rt, "GET", "/status/{n}", h_status, NULL);
    rc |= corio_http_route(rt, "GET", "/redirect/{n}", h_redirect, NULL);
    rc |= corio_http_route(rt, "GET", "/headers", h_headers, NULL);
    if (rc) {
        corio_http_router_free(rt);
        return NULL;
    }
    return rt;
}

/* ---- TLS ---- */

#ifdef HTTPBIN_TLS
static int tls_wrap(corio_reader *r, corio_writer *w, void *arg, corio_reader **tr, corio_writer **tw) {
    corio_tls_start_opts so = {0};
    return corio_start_tls(r, w, (corio_tls_ctx *)arg, NULL, &so, tr, tw);
}
#endif

/* ---- main ---- */

struct app {
    int port;
    corio_http_server_opts opts;
    corio_event stop;
};

static void on_signal(int sig, void *arg) {
    (void)sig;
    corio_event_set(&((struct app *)arg)->stop);
}

static int amain(void *arg) {
    struct app *a = arg;
    corio_http_server *srv;
    int rc = corio_http_serve("127.0.0.1", a->port, &a->opts, &srv);
    if (rc < 0) {
        fprintf(stderr, "httpbin: cannot listen on 127.0.0.1:%d: %s\n", a->port, corio_strerror(rc));
        return rc;
    }
    corio_event_init(&a->stop);
    corio_add_signal_handler(SIGINT, on_signal, a);
    corio_add_signal_handler(SIGTERM, on_signal, a);
    printf("listening on 127.0.0.1:%d\n", corio_http_server_port(srv));
    fflush(stdout);
    corio_event_wait(&a->stop);
    corio_http_server_shutdown(srv, 5.0);
    corio_remove_signal_handler(SIGINT);
    corio_remove_signal_handler(SIGTERM);
    corio_http_server_free(srv);
    corio_event_destroy(&a->stop);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: httpbin [-t THREADS] [--cert CERT --key KEY] PORT\n");
    exit(2);
}

int main(int argc, char **argv) {
    int threads = 1;
    const char *cert = NULL, *key = NULL, *port_s = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cert") && i + 1 < argc) cert = argv[++i];
        else if (!strcmp(argv[i], "--key") && i + 1 < argc) key = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) usage();
        else if (!port_s) port_s = argv[i];
        else usage();
    }
    if (!port_s || threads < 1 || threads > 1024 || (!cert != !key)) usage();
    char *end;
    long port = strtol(port_s, &end, 10);
    if (*end || port < 0 || port > 65535) usage();
    for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)(i % 251);

    struct app a = {.port = (int)port};
    a.opts.router = make_router();
    if (!a.opts.router) return 1;
    a.opts.max_body = ECHO_MAX;
    if (cert) {
#ifdef HTTPBIN_TLS
        corio_tls_ctx *ctx = corio_tls_ctx_new_server();
        static const char *const alpn[] = {"http/1.1"};
        int rc = ctx ? corio_tls_ctx_load_cert_chain(ctx, cert, key) : -ENOMEM;
        if (!rc) rc = corio_tls_ctx_set_alpn(ctx, alpn, 1);
        if (rc < 0) {
            fprintf(stderr, "httpbin: cannot load %s / %s: %s\n", cert, key, corio_tls_strerror(rc));
            return 1;
        }
        a.opts.wrap = tls_wrap;
        a.opts.wrap_arg = ctx;
#else
        fprintf(stderr, "httpbin: --cert/--key need the TLS module (modules/tls), which this build lacks\n");
        return 2;
#endif
    }
    int rc = 0;
    if (threads == 1) {
        rc = corio_run(amain, &a);
    } else {
        /* Every thread's loop serves; this one only waits for a signal. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        corio_http_cluster *cl;
        rc = corio_http_cluster_start(threads, "127.0.0.1", a.port, &a.opts, NULL, NULL, &cl);
        if (rc < 0) {
            fprintf(stderr, "httpbin: cannot listen on 127.0.0.1:%d: %s\n", a.port, corio_strerror(rc));
        } else {
            printf("listening on 127.0.0.1:%d\n", corio_http_cluster_port(cl));
            fflush(stdout);
            int sig;
            sigwait(&set, &sig);
            corio_http_cluster_stop(cl, 5.0);
        }
    }
#ifdef HTTPBIN_TLS
    if (a.opts.wrap_arg) corio_tls_ctx_free(a.opts.wrap_arg);
#endif
    corio_http_router_free(a.opts.router);
    return rc < 0 ? 1 : 0;
}
