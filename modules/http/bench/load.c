/*
 * load.c - a light HTTP load client: C keep-alive connections, each keeping
 * DEPTH requests "GET / HTTP/1.1" in flight.  Two modes:
 *
 *     load PORT CONNS TOTAL [DEPTH]         until TOTAL responses arrived
 *                                           (the counts: strace, callgrind)
 *     load -d SECONDS PORT CONNS [DEPTH]    for SECONDS, then prints
 *         "requests N seconds S req/s R client-cpu-us/request U+S"
 *
 * The timed mode is the lighter load generator for requests/s: one epoll
 * loop with no latency histogram and no script hooks, so it spends less
 * CPU per request than wrk and the server's core, not the client's, is
 * the limit for longer.  Responses are framed by corio's own parser
 * (Content-Length); exits 1 on any error or a non-200.
 */
#include <corio/http_parser.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char REQ[] = "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: load\r\nAccept: */*\r\n\r\n";

struct c {
    int fd;
    size_t len;
    long inflight;
    char buf[65536];
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv(struct timeval t) { return (double)t.tv_sec * 1e6 + (double)t.tv_usec; }

int main(int argc, char **argv) {
    double secs = 0;
    if (argc > 2 && strcmp(argv[1], "-d") == 0) {
        secs = atof(argv[2]);
        argv += 2;
        argc -= 2;
        if (argc < 3 || secs <= 0) return 2;
    } else if (argc < 4) {
        fprintf(stderr, "usage: load PORT CONNS TOTAL [DEPTH] | load -d SECONDS PORT CONNS [DEPTH]\n");
        return 2;
    }
    int port = atoi(argv[1]), nc = atoi(argv[2]);
    int di = secs > 0 ? 3 : 4;
    long total = secs > 0 ? -1 : atol(argv[3]), depth = argc > di ? atol(argv[di]) : 1, sent = 0, done = 0;
    if (nc <= 0 || depth <= 0) return 2;
    struct c *cs = calloc((size_t)nc, sizeof *cs);
    char *batch = malloc((sizeof REQ - 1) * (size_t)depth);
    if (!cs || !batch) return 1;
    for (long i = 0; i < depth; i++) memcpy(batch + i * (long)(sizeof REQ - 1), REQ, sizeof REQ - 1);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ep = epoll_create1(0);
    for (int i = 0; i < nc; i++) {
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(cs[i].fd, (struct sockaddr *)&a, sizeof a)) {
            perror("connect");
            return 1;
        }
        /* Level-triggered: one read per ready connection and round. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    /* The timed mode counts only what completes after every connection is up. */
    double t0 = now(), deadline = t0 + secs;
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    for (int i = 0; i < nc && (total < 0 || sent < total); i++) {
        long k = total < 0 || depth < total - sent ? depth : total - sent;
        if (write(cs[i].fd, batch, (size_t)k * (sizeof REQ - 1)) < 0) return 1;
        cs[i].inflight = k;
        sent += k;
    }
    struct epoll_event evs[256];
    while (total < 0 || done < total) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n <= 0) {
            fprintf(stderr, "load: stalled at %ld responses\n", done);
            return 1;
        }
        if (secs > 0 && now() >= deadline) break;
        for (int e = 0; e < n; e++) {
            struct c *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (r <= 0) {
                fprintf(stderr, "load: connection closed\n");
                return 1;
            }
            c->len += (size_t)r;
            size_t pos = 0;
            for (;;) {
                corio_http_header h[32];
                corio_http_response resp;
                int m = corio_http_parse_response(c->buf + pos, c->len - pos, &resp, h, 32);
                if (m == CORIO_HTTP_EPARTIAL) break;
                if (m < 0 || resp.status != 200 || resp.body.kind != CORIO_HTTP_BODY_LENGTH) {
                    fprintf(stderr, "load: bad response\n");
                    return 1;
                }
                if (c->len - pos - (size_t)m < resp.body.content_length) break;
                pos += (size_t)m + resp.body.content_length;
                c->inflight--;
                done++;
            }
            if (pos) {
                memmove(c->buf, c->buf + pos, c->len - pos);
                c->len -= pos;
            }
            if (c->inflight == 0 && (total < 0 || sent < total)) {
                long k = total < 0 || depth < total - sent ? depth : total - sent;
                if (write(c->fd, batch, (size_t)k * (sizeof REQ - 1)) < 0) return 1;
                c->inflight = k;
                sent += k;
            }
        }
    }
    if (secs > 0) {
        double t = now() - t0;
        struct rusage ru1;
        getrusage(RUSAGE_SELF, &ru1);
        double d = done ? (double)done : 1;
        printf("requests %ld seconds %.3f req/s %.0f client-cpu-us/request %.2f+%.2f\n", done, t, (double)done / t,
               (tv(ru1.ru_utime) - tv(ru0.ru_utime)) / d, (tv(ru1.ru_stime) - tv(ru0.ru_stime)) / d);
    }
    for (int i = 0; i < nc; i++) close(cs[i].fd);
    close(ep);
    free(cs);
    free(batch);
    return 0;
}
