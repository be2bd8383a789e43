/*
 * tls_load.c - the load client of the TLS benchmark: TLS connections to
 * 127.0.0.1:PORT driven from one thread on epoll, OpenSSL 3 on the
 * sockets, no certificate verification (the server is ours).
 *
 *   tls_load -p PORT -c CONNS -i IMPL [-s BYTES] (-t SECONDS [-w WARMUP] | -n MSGS)
 *   tls_load -p PORT -c CONNS -i IMPL -H full|resumed (-t SECONDS [-w WARMUP] | -n COUNT)
 *
 * Echo mode: each connection, once its handshake is done, sends a message
 * of BYTES (default 1024), waits for the whole echo, checks it, sends the
 * next.  The client is kept as cheap as the floor server (read-ahead on,
 * no read after a whole echo that could only fail): both cores do the
 * same TLS work per message, so a dearer client, not the server, would
 * set the messages/s.  Handshake mode (-H): each connection connects, does the
 * handshake (a full one, or resuming the latest session the client got),
 * sends one byte and waits for its echo (so the server has finished its
 * side and the client has read its session tickets), closes (with
 * close_notify) and starts over; a handshake counts when its echo is back.
 *
 * -t counts what completes in SECONDS after WARMUP (default 0.5); -n
 * stops after exactly N messages / handshakes (for instruction and system
 * call counts).  Prints one line: name=tls_echo|tls_handshake impl=IMPL
 * conns=C count=N per_s=...  Exit 1 on any error; the whole run is bounded
 * by 300 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum { CONNECTING, HANDSHAKE, RUNNING };

typedef struct conn {
    int fd;
    SSL *ssl;
    int state;
    uint32_t seq;
    int sent, got; /* bytes of the current message */
    int out;       /* registered for EPOLLOUT */
    uint32_t id;   /* its index: varies the content between connections */
} conn;

static SSL_CTX *ctx;
static SSL_SESSION *latest; /* handshake mode, resumed: the session to offer */
static int port, nconns, msg = 1024, hs_mode, resumed_mode;
static int ep;
static unsigned char pattern[1 << 16];
static uint64_t counted, done_total, limit_n, resumed_seen;
static double t_start, t_end;
static int counting;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "tls_load: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static int new_session(SSL *ssl, SSL_SESSION *s) {
    (void)ssl;
    if (latest) SSL_SESSION_free(latest);
    latest = s;
    return 1;
}

static void watch(conn *c, int out, int op) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    c->out = out;
    epoll_ctl(ep, op, c->fd, &ev);
}

static void start(conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_connect_state(c->ssl);
    if (hs_mode && resumed_mode && latest) SSL_set_session(c->ssl, latest);
    c->state = CONNECTING;
    c->seq = c->sent = c->got = 0;
    watch(c, 1, EPOLL_CTL_ADD);
}

static void finish(conn *c) {
    SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    close(c->fd); /* also leaves the epoll set */
}

static void count_one(conn *c) {
    done_total++;
    if (counting) counted++;
    if (hs_mode && resumed_mode && SSL_session_reused(c->ssl)) resumed_seen++;
}

/* Send the current message (or the rest of it). */
static void send_msg(conn *c) {
    int len = hs_mode ? 1 : msg;
    const unsigned char *p = pattern + (c->seq * 7u + c->id * 13u) % 4096;
    while (c->sent < len) {
        int k = SSL_write(c->ssl, p + c->sent, len - c->sent);
        if (k <= 0) {
            if (SSL_get_error(c->ssl, k) == SSL_ERROR_WANT_WRITE) {
                if (!c->out) watch(c, 1, EPOLL_CTL_MOD);
                return;
            }
            die("SSL_write");
        }
        c->sent += k;
    }
    if (c->out) watch(c, 0, EPOLL_CTL_MOD);
}

static void step(conn *c) {
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) die("connect failed");
        c->state = HANDSHAKE;
    }
    if (c->state == HANDSHAKE) {
        int rc = SSL_do_handshake(c->ssl);
        if (rc != 1) {
            int e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ) {
                if (c->out) watch(c, 0, EPOLL_CTL_MOD);
                return;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                if (!c->out) watch(c, 1, EPOLL_CTL_MOD);
                return;
            }
            die("handshake");
        }
        c->state = RUNNING;
        send_msg(c);
    }
    if (c->sent < (hs_mode ? 1 : msg)) {
        send_msg(c);
        return;
    }
    unsigned char buf[16384];
    for (;;) {
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ) return;
            die("SSL_read: the server closed or failed");
        }
        int len = hs_mode ? 1 : msg;
        const unsigned char *p = pattern + (c->seq * 7u + c->id * 13u) % 4096;
        if (c->got + n > len || memcmp(buf, p + c->got, (size_t)n) != 0) die("wrong bytes echoed");
        c->got += n;
        if (c->got < len) continue;
        count_one(c);
        if (limit_n && done_total >= limit_n) return;
        if (hs_mode) {
            finish(c);
            start(c);
            return;
        }
        c->seq++;
        c->sent = c->got = 0;
        send_msg(c);
        /* The echo is whole and the server sends nothing else: unless
         * OpenSSL already holds more (read ahead), the next bytes come
         * with the next readable event, so no read that would fail. */
        if (!SSL_has_pending(c->ssl)) return;
    }
}

int main(int argc, char **argv) {
    const char *impl = "?";
    double secs = 0, warm = 0.5;
    int opt;
    while ((opt = getopt(argc, argv, "p:c:i:s:t:w:n:H:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'i': impl = optarg; break;
        case 's': msg = atoi(optarg); break;
        case 't': secs = atof(optarg); break;
        case 'w': warm = atof(optarg); break;
        case 'n': limit_n = strtoull(optarg, NULL, 10); break;
        case 'H':
            hs_mode = 1;
            resumed_mode = strcmp(optarg, "resumed") == 0;
            break;
        default: fprintf(stderr, "usage: see the comment at the top of tls_load.c\n"); return 2;
        }
    }
    if (!port || nconns < 1 || (!secs && !limit_n) || msg < 1 || msg > 4096) {
        fprintf(stderr, "usage: see the comment at the top of tls_load.c\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(300);
    for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)(i * 131 + (i >> 8));
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* As the floor: one read() takes what the kernel has, not a record's
     * header and then its body. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);
    ep = epoll_create1(0);
    conn *cs = calloc((size_t)nconns, sizeof *cs);
    for (int i = 0; i < nconns; i++) {
        cs[i].id = (uint32_t)i;
        start(&cs[i]);
    }
    t_start = now();
    double t_count = t_start + warm;
    t_end = t_count + secs;
    if (!secs) counting = 1;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 10);
        for (int i = 0; i < n; i++) step(evs[i].data.ptr);
        if (limit_n && done_total >= limit_n) break;
        if (secs) {
            double t = now();
            if (!counting && t >= t_count) {
                counting = 1;
                t_count = t;
            }
            if (t >= t_end) break;
        }
    }
    double span = secs ? now() - t_count : now() - t_start;
    uint64_t c = secs ? counted : done_total;
    printf("name=%s impl=%s conns=%d count=%llu per_s=%.0f", hs_mode ? "tls_handshake" : "tls_echo", impl, nconns,
           (unsigned long long)c, c / span);
    if (hs_mode) printf(" mode=%s resumed=%llu", resumed_mode ? "resumed" : "full", (unsigned long long)resumed_seen);
    printf("\n");
    for (int i = 0; i < nconns; i++) finish(&cs[i]);
    free(cs);
    SSL_CTX_free(ctx);
    return 0;
}
