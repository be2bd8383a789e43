/*
 * load.c - a fixed-count HTTP load client for the instruction and
 * system-call counts (wrk runs for a time, not a count): C connections,
 * each keeping DEPTH requests "GET / HTTP/1.1" in flight, until TOTAL
 * responses arrived.  Responses are framed by corio's own parser
 * (Content-Length or chunked).  Exits 1 on any error or a non-200.
 *
 *     load PORT CONNS TOTAL [DEPTH]
 */
#include <corio/http_parser.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char REQ[] = "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: load\r\nAccept: */*\r\n\r\n";

struct c {
    int fd;
    char buf[65536];
    size_t len;
    long inflight;
};

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int port = atoi(argv[1]), nc = atoi(argv[2]);
    long total = atol(argv[3]), depth = argc > 4 ? atol(argv[4]) : 1, sent = 0, done = 0;
    struct c *cs = calloc((size_t)nc, sizeof *cs);
    struct pollfd *pf = calloc((size_t)nc, sizeof *pf);
    char *batch = malloc(sizeof REQ * (size_t)depth);
    for (long i = 0; i < depth; i++) memcpy(batch + i * (long)(sizeof REQ - 1), REQ, sizeof REQ - 1);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nc; i++) {
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(cs[i].fd, (struct sockaddr *)&a, sizeof a)) {
            perror("connect");
            return 1;
        }
        pf[i].fd = cs[i].fd;
        pf[i].events = POLLIN;
    }
    for (int i = 0; i < nc && sent < total; i++) {
        long k = depth < total - sent ? depth : total - sent;
        if (write(cs[i].fd, batch, (size_t)k * (sizeof REQ - 1)) < 0) return 1;
        cs[i].inflight = k;
        sent += k;
    }
    while (done < total) {
        if (poll(pf, (nfds_t)nc, 10000) <= 0) {
            fprintf(stderr, "load: stalled at %ld/%ld\n", done, total);
            return 1;
        }
        for (int i = 0; i < nc; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            struct c *c = &cs[i];
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
                int n = corio_http_parse_response(c->buf + pos, c->len - pos, &resp, h, 32);
                if (n == CORIO_HTTP_EPARTIAL) break;
                if (n < 0 || resp.status != 200 || resp.body.kind != CORIO_HTTP_BODY_LENGTH) {
                    fprintf(stderr, "load: bad response\n");
                    return 1;
                }
                if (c->len - pos - (size_t)n < resp.body.content_length) break;
                pos += (size_t)n + resp.body.content_length;
                c->inflight--;
                done++;
            }
            memmove(c->buf, c->buf + pos, c->len - pos);
            c->len -= pos;
            if (c->inflight == 0 && sent < total) {
                long k = depth < total - sent ? depth : total - sent;
                if (write(c->fd, batch, (size_t)k * (sizeof REQ - 1)) < 0) return 1;
                c->inflight = k;
                sent += k;
            }
        }
    }
    for (int i = 0; i < nc; i++) close(cs[i].fd);
    return 0;
}
