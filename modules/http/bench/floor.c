/*
 * floor.c - the floor of the HTTP benchmark: a hand-written single-thread
 * epoll server that parses nothing.  Per read it counts the request ends
 * ("\r\n\r\n") and answers each with the same fixed 200 response, all in
 * one write, so pipelining costs it one read and one write per batch.
 *
 *     floor PORT          (prints "listening on 127.0.0.1:PORT"; SIGTERM exits 0)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESP[] = "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
                           "Hello, World!";
static volatile sig_atomic_t stop;
static void on_term(int s) {
    (void)s;
    stop = 1;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096)) return 1;
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static char in[65536];
    static char out[64 * sizeof RESP];
    /* The state of a "\r\n\r\n" match across reads, per descriptor. */
    static unsigned char match[65536];
    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    if (c < 65536) match[c] = 0;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r = read(fd, in, sizeof in);
            if (r <= 0) {
                close(fd);
                continue;
            }
            int m = match[fd], reqs = 0;
            static const char end[] = "\r\n\r\n";
            for (ssize_t k = 0; k < r; k++) {
                if (in[k] == end[m]) m++;
                else m = in[k] == '\r';
                if (m == 4) {
                    reqs++;
                    m = 0;
                }
            }
            match[fd] = (unsigned char)m;
            while (reqs > 0) {
                int batch = reqs < 64 ? reqs : 64;
                for (int b = 0; b < batch; b++) memcpy(out + b * (sizeof RESP - 1), RESP, sizeof RESP - 1);
                if (write(fd, out, (size_t)batch * (sizeof RESP - 1)) < 0) break;
                reqs -= batch;
            }
        }
    }
    return 0;
}
