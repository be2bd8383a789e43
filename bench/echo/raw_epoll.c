/*
 * raw_epoll.c - the floor of bench/echo: a hand-written echo server on
 * edge-triggered epoll, 127.0.0.1:PORT.
 *
 * Each connection is registered once (EPOLLIN | EPOLLOUT | EPOLLET, never
 * modified).  On an edge: read until EAGAIN or a short read (a short read
 * shows the socket buffer was emptied, so the EAGAIN read is saved), write
 * each piece straight back; what the kernel does not take is kept and sent
 * on the next EPOLLOUT edge (and reading stops until it is gone).  Per
 * message that is one read and one write, plus a share of epoll_wait.
 * With "fair" before PORT, each connection gets at most one read per round:
 * one whose read filled the buffer goes on a list that the next round
 * serves again (epoll_wait then does not sleep), so one busy peer cannot
 * hold the loop - the least a server must do to stay fair, and the floor
 * bench/overload measures corio's fairness against.
 * SIGTERM or SIGINT: exit 0.  PORT 0: a free port, announced as
 * "listening on 127.0.0.1:PORT" (bench/overload runs it as its floor).
 */
#define _GNU_SOURCE
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

#define BUF 65536

typedef struct conn {
    int fd;
    int more; /* fair: on the list of connections to read again next round */
    size_t pend_off, pend_len; /* bytes not yet written, in pend */
    char *pend;
    int read_blocked; /* stopped reading because of pend: resume after the flush */
} conn;

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static char buf[BUF];
static int fair;
static conn **again; /* fair: connections whose last read filled buf */
static int nagain, capagain;

static int read_again(conn *c) {
    if (c->more) return 0;
    if (nagain == capagain) {
        capagain = capagain ? 2 * capagain : 256;
        conn **n = realloc(again, (size_t)capagain * sizeof *again);
        if (!n) return -1;
        again = n;
    }
    c->more = 1;
    again[nagain++] = c;
    return 0;
}

static void drop(conn *c) {
    for (int i = 0; c->more && i < nagain; i++)
        if (again[i] == c) again[i] = NULL;
    close(c->fd);
    free(c->pend);
    free(c);
}

/* Write what is pending; 1 when nothing is left, 0 when the kernel is full, -1 on error. */
static int flush(conn *c) {
    while (c->pend_len) {
        ssize_t w = write(c->fd, c->pend + c->pend_off, c->pend_len);
        if (w < 0) return errno == EAGAIN ? 0 : -1;
        c->pend_off += (size_t)w;
        c->pend_len -= (size_t)w;
    }
    return 1;
}

/* 0: keep, -1: close. */
static int on_event(conn *c, uint32_t ev) {
    if (c->pend_len) {
        int f = flush(c);
        if (f < 0) return -1;
        if (f == 0) return 0;
    }
    if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !c->read_blocked) return 0;
    c->read_blocked = 0;
    for (;;) {
        ssize_t r = read(c->fd, buf, BUF);
        if (r < 0) return errno == EAGAIN ? 0 : -1;
        if (r == 0) return -1;
        ssize_t w = write(c->fd, buf, (size_t)r);
        if (w < 0) {
            if (errno != EAGAIN) return -1;
            w = 0;
        }
        if (w < r) { /* keep the rest for the next EPOLLOUT edge */
            size_t rest = (size_t)(r - w);
            c->pend = realloc(c->pend, rest);
            if (!c->pend) return -1;
            memcpy(c->pend, buf + w, rest);
            c->pend_off = 0;
            c->pend_len = rest;
            c->read_blocked = 1;
            return 0;
        }
        if (r < BUF) return 0; /* short read: emptied; wait for the next edge */
        if (fair) return read_again(c); /* maybe more: next round, after the others */
    }
}

int main(int argc, char **argv) {
    const char *port = argv[argc - 1]; /* raw_epoll [fair] PORT */
    fair = argc == 3 && strcmp(argv[1], "fair") == 0;
    if (argc != 2 && !fair) {
        fprintf(stderr, "usage: raw_epoll [fair] PORT\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_sig}; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1024) < 0) {
        perror("raw_epoll: listen");
        return 1;
    }
    if (a.sin_port == 0) {
        socklen_t al = sizeof a;
        getsockname(ls, (struct sockaddr *)&a, &al);
        printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
        fflush(stdout);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, nagain ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("raw_epoll: epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; k++) {
            conn *c = evs[k].data.ptr;
            if (!c) { /* the listener: accept until EAGAIN */
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break; /* EAGAIN, or EMFILE & co: the next edge retries */
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn *nc = calloc(1, sizeof *nc);
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = nc};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) drop(nc);
                }
                continue;
            }
            if (on_event(c, evs[k].events) < 0) drop(c);
        }
        /* fair: last round's full reads, once each (those added now wait for the next round) */
        int m = nagain;
        for (int i = 0; i < m; i++) {
            conn *c = again[i];
            if (!c) continue;
            c->more = 0;
            again[i] = NULL;
            if (on_event(c, EPOLLIN) < 0) drop(c);
        }
        int w = 0;
        for (int i = m; i < nagain; i++)
            if (again[i]) again[w++] = again[i];
        nagain = w;
    }
    return 0;
}
