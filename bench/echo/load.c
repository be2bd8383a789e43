/*
 * load.c - the one load client of bench/echo: echo ping-pong over many TCP
 * connections to 127.0.0.1, single-threaded, epoll (level-triggered).
 *
 *   load -p PORT -c CONNS -i IMPL [-s BYTES] (-t SECONDS [-w WARMUP] | -n MSGS)
 *   load -p PORT -c CONNS -i IMPL -H HOLD_SECONDS -r READYFILE     (idle mode)
 *
 * Every connection sends one message of BYTES (default 1024), waits for the
 * whole echo, checks every byte, and sends the next.  The content of each
 * message depends on the connection and its sequence number, so a byte
 * echoed to the wrong connection or out of order is caught.
 *
 *   -t: run for SECONDS after WARMUP seconds (default 0.5); messages that
 *       complete inside the window are counted; then stop sending and wait
 *       for the outstanding echoes.
 *   -n: exactly MSGS messages in all (for strace/callgrind counts), then
 *       close every connection.
 *   -H: idle mode: connect CONNS connections (64 at a time, one echo each so
 *       the server has accepted and served each), create READYFILE, hold
 *       them open and idle for HOLD_SECONDS, close.
 *
 * Prints one line: name=echo impl=IMPL conns=C msgs=N msgs_per_s=... p99_us=...
 * (and p50_us, secs).  Connections are made 64 at a time with a blocking
 * connect() (no listen backlog overflow); the first one retries for up to
 * 10 s while the server starts.  Exit 1 on any error (a wrong byte, a
 * closed connection, a timeout: the whole run is bounded by -T, default 300 s).
 */
#define _GNU_SOURCE
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

#define BATCH 64
#define HIST_US 100000 /* latency histogram: 1 us buckets up to 100 ms, then one overflow bucket */

typedef struct conn {
    int fd;
    uint32_t seq;     /* message number on this connection */
    size_t sent, got; /* bytes of the current message written / received */
    double t0;        /* when the current message was sent */
    int active;       /* a message is outstanding */
    int want_out;     /* registered for EPOLLOUT (short write) */
} conn;

static const char *impl = "?";
static int port, nconns, msg = 1024;
static conn *cs;
static int ep;
static unsigned char pattern[1 << 17];
static unsigned char *rbuf;
static uint64_t *hist;
static uint64_t hist_over;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "load (impl=%s): %s: %s\n", impl, what, errno ? strerror(errno) : "error");
    exit(1);
}

static const unsigned char *expect(int i, uint32_t seq) { return pattern + ((uint32_t)i * 7u + seq * 13u) % 4096u; }

static int connect_one(int first) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double until = now() + (first ? 10.0 : 0.0);
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        int e = errno;
        close(fd);
        errno = e;
        if (e != ECONNREFUSED || now() > until) die("connect");
        usleep(20000);
    }
}

static void set_nonblock(int fd) {
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
}

/* Start message seq on connection i: write it (all of it, or register for EPOLLOUT). */
static void send_msg(int i, double t) {
    conn *c = &cs[i];
    c->sent = c->got = 0;
    c->t0 = t;
    c->active = 1;
    const unsigned char *p = expect(i, c->seq);
    ssize_t w = write(c->fd, p, (size_t)msg);
    if (w < 0) {
        if (errno != EAGAIN) die("write");
        w = 0;
    }
    c->sent = (size_t)w;
    if (c->sent < (size_t)msg && !c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
        c->want_out = 1;
    }
}

static void flush_out(int i) {
    conn *c = &cs[i];
    const unsigned char *p = expect(i, c->seq);
    while (c->sent < (size_t)msg) {
        ssize_t w = write(c->fd, p + c->sent, (size_t)msg - c->sent);
        if (w < 0) {
            if (errno == EAGAIN) return;
            die("write");
        }
        c->sent += (size_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = 0;
}

/* Read what is there; returns 1 when the whole echo arrived and was checked. */
static int on_readable(int i) {
    conn *c = &cs[i];
    ssize_t r = read(c->fd, rbuf, (size_t)msg - c->got);
    if (r < 0) {
        if (errno == EAGAIN) return 0;
        die("read");
    }
    if (r == 0) {
        errno = 0;
        die("server closed a connection mid-run");
    }
    if (c->got + (size_t)r > c->sent) {
        errno = 0;
        die("more bytes echoed than sent");
    }
    if (memcmp(rbuf, expect(i, c->seq) + c->got, (size_t)r) != 0) {
        errno = 0;
        fprintf(stderr, "load (impl=%s): conn %d msg %u: wrong bytes echoed\n", impl, i, c->seq);
        exit(1);
    }
    c->got += (size_t)r;
    if (c->got < (size_t)msg) return 0;
    c->active = 0;
    c->seq++;
    return 1;
}

static void record(double us) {
    if (us < 0) us = 0;
    if (us < HIST_US)
        hist[(size_t)us]++;
    else
        hist_over++;
}

static double percentile(double q) {
    uint64_t total = hist_over;
    for (size_t k = 0; k < HIST_US; k++) total += hist[k];
    if (!total) return 0;
    uint64_t want = (uint64_t)(q * (double)total), acc = 0;
    for (size_t k = 0; k < HIST_US; k++) {
        acc += hist[k];
        if (acc > want) return (double)k + 0.5;
    }
    return HIST_US;
}

int main(int argc, char **argv) {
    double secs = 0, warm = 0.5, hold = -1, limit = 300;
    long long nmsgs = 0;
    const char *ready = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "p:c:i:s:t:w:n:H:r:T:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'i': impl = optarg; break;
        case 's': msg = atoi(optarg); break;
        case 't': secs = atof(optarg); break;
        case 'w': warm = atof(optarg); break;
        case 'n': nmsgs = atoll(optarg); break;
        case 'H': hold = atof(optarg); break;
        case 'r': ready = optarg; break;
        case 'T': limit = atof(optarg); break;
        default: fprintf(stderr, "usage: see the comment at the top of bench/echo/load.c\n"); return 2;
        }
    }
    if (port <= 0 || nconns <= 0 || msg <= 0 || msg > 65536 || (hold < 0 && secs <= 0 && nmsgs <= 0)) {
        fprintf(stderr, "load: need -p PORT -c CONNS and one of -t SECONDS, -n MSGS, -H HOLD\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)limit); /* SIGALRM's default action ends a stuck run */
    for (size_t k = 0; k < sizeof pattern; k++) pattern[k] = (unsigned char)((k * 2654435761u) >> 13);
    rbuf = malloc((size_t)msg);
    hist = calloc(HIST_US, sizeof *hist);
    cs = calloc((size_t)nconns, sizeof *cs);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!rbuf || !hist || !cs || ep < 0) die("setup");
    struct epoll_event evs[256];

    /* Connect BATCH at a time, one echo each (so every connection has been accepted and served). */
    for (int b = 0; b < nconns; b += BATCH) {
        int e = b + BATCH < nconns ? b + BATCH : nconns;
        for (int i = b; i < e; i++) {
            cs[i].fd = connect_one(i == 0);
            set_nonblock(cs[i].fd);
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0) die("epoll_ctl");
            send_msg(i, now());
        }
        int left = e - b;
        while (left > 0) {
            int n = epoll_wait(ep, evs, 256, 10000);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) die("connect phase: no echo within 10 s");
            for (int k = 0; k < n; k++) {
                int i = (int)evs[k].data.u32;
                if (evs[k].events & EPOLLOUT) flush_out(i);
                if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) left -= on_readable(i);
            }
        }
    }

    if (hold >= 0) { /* idle mode */
        if (ready) {
            FILE *f = fopen(ready, "w");
            if (!f) die("ready file");
            fclose(f);
        }
        struct timespec ts = {(time_t)hold, (long)((hold - (double)(time_t)hold) * 1e9)};
        nanosleep(&ts, NULL);
        for (int i = 0; i < nconns; i++) close(cs[i].fd);
        printf("name=echo_idle impl=%s conns=%d\n", impl, nconns);
        return 0;
    }

    /* The measured run. */
    long long started = 0, done = 0, counted = 0;
    double t_start = now(), t_warm = t_start + warm, t_end = t_warm + secs;
    int stopping = 0, outstanding = 0;
    if (nmsgs > 0) t_warm = t_start, t_end = 1e300; /* count mode: everything counts */
    for (int i = 0; i < nconns; i++) {
        if (nmsgs > 0 && started >= nmsgs) break;
        send_msg(i, t_start);
        started++;
        outstanding++;
    }
    while (outstanding > 0) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("no echo within 10 s");
        double t = now();
        if (nmsgs <= 0 && !stopping && t >= t_end) stopping = 1;
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            if (evs[k].events & EPOLLOUT) flush_out(i);
            if (!(evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            if (!on_readable(i)) continue;
            outstanding--;
            done++;
            if (cs[i].t0 >= t_warm && t <= t_end) {
                counted++;
                record((t - cs[i].t0) * 1e6);
            }
            if (nmsgs > 0 ? started < nmsgs : !stopping) {
                send_msg(i, t);
                started++;
                outstanding++;
            }
        }
    }
    double t_fin = now();
    for (int i = 0; i < nconns; i++) close(cs[i].fd);
    double window = nmsgs > 0 ? t_fin - t_start : secs;
    long long m = nmsgs > 0 ? done : counted;
    printf("name=echo impl=%s conns=%d msgs=%lld msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f secs=%.3f\n", impl, nconns, m,
           (double)m / window, percentile(0.50), percentile(0.99), window);
    return 0;
}
