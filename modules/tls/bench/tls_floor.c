/*
 * tls_floor.c - the floor of the TLS echo benchmark: a hand-written echo
 * server on level-triggered epoll with OpenSSL 3 on the socket itself
 * (the same library as corio-tls, no runtime), 127.0.0.1:PORT.
 *
 *   tls_floor PORT CERT KEY
 *
 * Each connection: non-blocking socket, SSL_set_fd, read-ahead on (one
 * read() takes what the kernel has, not a record header and then its
 * body).  On readable: finish the handshake, then SSL_read until it wants
 * more and SSL_write each piece straight back; what cannot be written
 * (SSL_ERROR_WANT_WRITE) is kept and retried on writable.  A close_notify
 * or an error ends the connection (close_notify sent back when possible).
 * Session tickets and the server session cache are OpenSSL's defaults,
 * as in corio's server context.  SIGTERM or SIGINT: exit 0.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define BUF 16384

typedef struct conn {
    int fd;
    SSL *ssl;
    int handshaken;
    char *pend; /* plaintext SSL_write could not take yet */
    int pend_len;
    int want_out; /* registered for EPOLLOUT */
} conn;

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }
static char buf[BUF];
static int ep;

static void drop(conn *c) {
    if (c->handshaken) SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    close(c->fd);
    free(c->pend);
    free(c);
}

static void want_out(conn *c, int on) {
    if (c->want_out == on) return;
    c->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* 1: all written; 0: kept for later; -1: failed. */
static int put(conn *c, const char *p, int n) {
    int k = SSL_write(c->ssl, p, n);
    if (k == n) return 1;
    if (k <= 0 && SSL_get_error(c->ssl, k) == SSL_ERROR_WANT_WRITE) {
        /* SSL_write must be retried with the same bytes. */
        c->pend = malloc((size_t)n);
        memcpy(c->pend, p, (size_t)n);
        c->pend_len = n;
        want_out(c, 1);
        return 0;
    }
    return -1;
}

/* 0 to keep the connection, -1 to drop it. */
static int serve(conn *c) {
    if (c->pend) {
        int rc = SSL_write(c->ssl, c->pend, c->pend_len);
        if (rc <= 0) return SSL_get_error(c->ssl, rc) == SSL_ERROR_WANT_WRITE ? 0 : -1;
        free(c->pend);
        c->pend = NULL;
        want_out(c, 0);
    }
    if (!c->handshaken) {
        int rc = SSL_do_handshake(c->ssl);
        if (rc != 1) {
            int e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ) return 0;
            if (e == SSL_ERROR_WANT_WRITE) {
                want_out(c, 1);
                return 0;
            }
            return -1;
        }
        c->handshaken = 1;
    }
    for (;;) {
        int n = SSL_read(c->ssl, buf, BUF);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            return e == SSL_ERROR_WANT_READ ? 0 : -1;
        }
        int rc = put(c, buf, n);
        if (rc < 0) return -1;
        if (rc == 0) return 0; /* stop reading until the pending write is out */
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: tls_floor PORT CERT KEY\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"floor", 5);
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        perror("tls_floor: listen");
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    printf("listening on 127.0.0.1:%d (TLS floor)\n", ntohs(a.sin_port));
    fflush(stdout);
    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    c->ssl = SSL_new(ctx);
                    SSL_set_fd(c->ssl, fd);
                    SSL_set_accept_state(c->ssl);
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (serve(c) < 0) {
                ERR_clear_error();
                drop(c);
            }
        }
    }
    SSL_CTX_free(ctx);
    return 0;
}
