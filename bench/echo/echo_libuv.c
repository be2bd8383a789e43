/*
 * echo_libuv.c - libuv echo server written for speed, for bench/echo.
 * uv_read_start with a preallocated per-connection buffer (alloc_cb hands
 * out the same 64 KiB each time), uv_try_write first and uv_write (with a
 * copy) only for what the kernel did not take.  SIGTERM/SIGINT: exit 0.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BUF 65536

typedef struct conn {
    uv_tcp_t tcp;
    char buf[BUF];
} conn;

typedef struct wreq {
    uv_write_t req;
    char data[];
} wreq;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigterm, sigint;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
    (void)hint;
    conn *c = (conn *)h;
    *b = uv_buf_init(c->buf, BUF);
}

static void on_close(uv_handle_t *h) { free(h); }

static void on_written(uv_write_t *req, int status) {
    (void)status;
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n == 0) return;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    int w = uv_try_write(s, &out, 1);
    if (w == n) return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (w < 0) w = 0;
    size_t rest = (size_t)(n - w);
    wreq *r = malloc(sizeof *r + rest);
    memcpy(r->data, b->base + w, rest);
    uv_buf_t rb = uv_buf_init(r->data, (unsigned)rest);
    uv_write(&r->req, s, &rb, 1, on_written);
}

static void on_conn(uv_stream_t *srv, int status) {
    if (status < 0) return;
    conn *c = malloc(sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int sig) {
    (void)h;
    (void)sig;
    exit(0);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: echo_libuv PORT\n");
        return 2;
    }
    loop = uv_default_loop();
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &a);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&a, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&server, 1024, on_conn);
    if (rc) {
        fprintf(stderr, "echo_libuv: %s\n", uv_strerror(rc));
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    return uv_run(loop, UV_RUN_DEFAULT);
}
