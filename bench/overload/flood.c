/*
 * flood.c - the overload client of bench/overload: CONNS connections to
 * 127.0.0.1:PORT that each write as fast as the server takes it and read
 * everything the server sends back, so the server never runs out of work.
 * Single-threaded, non-blocking, epoll (level-triggered); one helper thread
 * only waits for the server's exit (-k) so that its time is exact.
 *
 *   flood -p PORT -m echo|chat -t SECS [-c CONNS] [-w WARM] [-s CHUNK] [-L LINE]
 *         [-r RATE] [-R] [-a GAP_MS [-A PROBE_TIMEOUT]] [-k PID [-K KILL_TIMEOUT]]
 *         [-i LABEL] [-T LIMIT]
 *
 *   -m echo: every connection writes CHUNK bytes (default 65536) whenever its
 *            socket takes them and reads (and drops) whatever comes back.
 *   -m chat: the same, but the bytes are lines of LINE bytes (default 50,
 *            "xxx...x\n"), for a line chat server that forwards every line
 *            to every other client.
 *   -r: chat only: at most RATE lines per second per connection (default:
 *            no limit).
 *   -R: a connection the server closes during the load is replaced by a
 *            new one at once (for the chat server, which drops clients that
 *            fall 1 MiB behind); closed= counts them either way.
 *   -c: connections (default 200), all connected before the load starts,
 *            64 at a time, each batch checked to be accepted and served
 *            (echo: one byte echoed on each; chat: a line from the batch's
 *            last connection reaches the first one).
 *   -w, -t: WARM s of load (default 0.5), then SECS s of load counted:
 *            throughput is what the load connections received inside that
 *            window (rx) and what they wrote (tx).
 *   -a: accept probes during the counted window, one at a time, GAP_MS
 *            apart: echo: a NEW client connects and sends one 63-byte
 *            message; latency from connect() to the first byte echoed back.
 *            chat: a new receiving client connects, then (once the kernel
 *            has connected it) a new sending client, which sends one line;
 *            latency from the first connect() until the receiver has that
 *            line.  Unanswered after PROBE_TIMEOUT s (default 5), refused or
 *            closed: a failure, counted as PROBE_TIMEOUT in the percentiles.
 *            A probe still open at the end of the window is waited for,
 *            under load.
 *   -k: after the window (and the last probe), kill(PID, SIGTERM) and keep
 *            the load on until the process has exited (pidfd) or
 *            KILL_TIMEOUT s (default 10) passed: sigterm_ms= is the time
 *            from kill() to the exit, or sigterm_ms=fail.  After a failure
 *            the load stops and the server gets 1 s more: after_unload=
 *            exited|alive says whether it then exited (it is left alive for
 *            the caller to SIGKILL).
 *   -T: hard limit on the whole run (default 60 s, SIGALRM).
 *
 * Prints one line:
 *   name=overload mode=... label=... conns=... secs=... rx_MBps=... tx_MBps=...
 *   [rx_lines_per_s= tx_lines_per_s=] closed=... [reopened=...] [probes=...
 *   probe_p50_ms=... probe_p99_ms=... probe_max_ms=... probe_timeouts=...
 *   probe_ms=a,b,...] [sigterm_ms=... after_unload=...]
 * (closed= counts what the server closed before the SIGTERM.)  Exit 1 on a
 * setup error (cannot connect, a batch not served within 10 s), else 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define RBUF (64 * 1024)
#define MAXPROBES 100000
#define TAG_PROBE 0xfffffff0u
#define TAG_RECV 0xfffffff1u

typedef struct conn {
    int fd;
    int open;
    uint64_t tx; /* bytes written, all time */
} conn;

static int port, nconns = 200, chat, line_len = 50, chunk = 65536;
static const char *label = "-";
static conn *cs;
static int ep;
static char *wbuf;     /* chunk bytes; for chat a whole number of lines plus one spare line */
static size_t wbuf_len; /* bytes of wbuf one write may take from an offset */
static char rbuf[RBUF];
static int counting;
static uint64_t rx_win, tx_win, rxl_win, closed, closed_at_kill;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "flood (%s): %s: %s\n", label, what, errno ? strerror(errno) : "error");
    exit(1);
}

static int sock_connect(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Read from fd (waiting up to `secs` in all) until `want` has been seen;
 * 0, or -1 on a timeout, end of stream or error. */
static int read_until(int fd, const char *want, double secs) {
    char buf[4096 + 64];
    size_t carry = 0, wl = strlen(want);
    double until = now() + secs;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        double left = until - now();
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0) return -1;
        ssize_t r = recv(fd, buf + carry, 4096, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (r <= 0) return -1;
        size_t n = carry + (size_t)r;
        if (memmem(buf, n, want, wl)) return 0;
        carry = n < 63 ? n : 63;
        memmove(buf, buf + n - carry, carry);
    }
}

/* Wait (up to `secs`) for a non-blocking connect to finish; 0 or -errno. */
static int connect_wait(int fd, double secs) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, (int)(secs * 1000));
    if (r <= 0) return r == 0 ? -ETIMEDOUT : -errno;
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
    return -err;
}

/* A connected socket; the first one retries for up to 10 s while the server starts. */
static int connect_blocking(int retry) {
    double until = now() + (retry ? 10.0 : 0.0);
    for (;;) {
        int fd = sock_connect();
        int rc = fd < 0 ? -errno : connect_wait(fd, 10.0);
        if (rc == 0) return fd;
        if (fd >= 0) close(fd);
        if (rc != -ECONNREFUSED || now() > until) {
            errno = -rc;
            die("connect");
        }
        usleep(20000);
    }
}

static int reopen, loading;
static uint64_t reopened;

/* The server closed connection i (or reset it): count it, and with -R
 * open a new one in its place while the load is on. */
static void conn_close(int i) {
    if (!cs[i].open) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, cs[i].fd, NULL);
    close(cs[i].fd);
    cs[i].open = 0;
    closed++;
    if (!reopen || !loading) return;
    if ((cs[i].fd = sock_connect()) < 0) return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0) die("epoll_ctl");
    cs[i].open = 1;
    cs[i].tx = 0;
    reopened++;
}

static void count_rx(const char *p, ssize_t n) {
    if (!counting) return;
    rx_win += (uint64_t)n;
    if (chat)
        for (const char *q = p, *e = p + n; (q = memchr(q, '\n', (size_t)(e - q))) != NULL; q++) rxl_win++;
}

static double rate, t_now, t_rate0; /* -r: lines per second per connection (chat), 0: no limit */

static void on_write(int i) {
    conn *c = &cs[i];
    size_t off = chat ? (size_t)(c->tx % (uint64_t)line_len) : 0, len = wbuf_len;
    if (rate > 0) {
        uint64_t allowed = (uint64_t)((t_now - t_rate0) * rate * line_len) + (uint64_t)line_len;
        if (c->tx >= allowed) return;
        if (allowed - c->tx < len) len = (size_t)(allowed - c->tx);
    }
    ssize_t w = send(c->fd, wbuf + off, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        conn_close(i);
        return;
    }
    c->tx += (uint64_t)w;
    if (counting) tx_win += (uint64_t)w;
}

static void on_read(int i) {
    ssize_t r = recv(cs[i].fd, rbuf, sizeof rbuf, MSG_DONTWAIT);
    if (r > 0) {
        count_rx(rbuf, r);
        return;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    conn_close(i); /* end of stream or an error */
}

/* ---- accept probes -------------------------------------------------------------- */

static double gap_ms = -1, probe_timeout = 5.0;
static int probe_active, probe_fd = -1, probe_sent, recv_fd = -1, recv_up;
static unsigned probe_no;
static double probe_t0, next_probe;
static double samples[MAXPROBES];
static int nsamples, ntimeouts;
static char marker[32];
static size_t marker_len;
static char carry[64];
static size_t carry_len;

static void drop_fd(int *fd) {
    if (*fd < 0) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, *fd, NULL);
    close(*fd);
    *fd = -1;
}

/* The probe is over: its latency in ms, or a failure (timeout, refused,
 * closed by the server), which counts as probe_timeout. */
static void probe_end(double ms, int failed) {
    if (failed) ms = probe_timeout * 1000;
    if (nsamples < MAXPROBES) samples[nsamples++] = ms;
    ntimeouts += failed;
    drop_fd(&probe_fd);
    drop_fd(&recv_fd);
    probe_active = 0;
    next_probe = now() + gap_ms / 1000.0;
}

static int probe_connect(uint32_t tag) {
    int fd = sock_connect();
    if (fd < 0) return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    return fd;
}

static void probe_start_sender(void) {
    if ((probe_fd = probe_connect(TAG_PROBE)) < 0) probe_end(0, 1);
}

/* echo: one new client.  chat: first the receiving client (it must be in
 * the room before the sender's line is read), then, once the kernel has
 * connected it, the sending client. */
static void probe_start(void) {
    probe_no++;
    probe_t0 = now();
    probe_active = 1;
    probe_sent = 0;
    recv_up = 0;
    carry_len = 0;
    marker_len = (size_t)snprintf(marker, sizeof marker, "~probe%u~", probe_no);
    if (!chat) {
        probe_start_sender();
        return;
    }
    if ((recv_fd = probe_connect(TAG_RECV)) < 0) probe_end(0, 1);
}

static int connect_error(int fd) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
    return err;
}

static void probe_event(uint32_t events) {
    if (!probe_sent) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        char msg[64];
        int n;
        if (chat)
            n = snprintf(msg, sizeof msg, "%s\n", marker);
        else
            n = snprintf(msg, sizeof msg, "%-63s", marker);
        if (connect_error(probe_fd) || send(probe_fd, msg, (size_t)n, MSG_NOSIGNAL) != n) {
            probe_end(0, 1);
            return;
        }
        probe_sent = 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_PROBE};
        epoll_ctl(ep, EPOLL_CTL_MOD, probe_fd, &ev);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    ssize_t r = recv(probe_fd, rbuf, sizeof rbuf, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
        probe_end(0, 1);
        return;
    }
    if (!chat) probe_end((now() - probe_t0) * 1000, 0); /* echo: the first byte back */
    /* chat: what the sending client receives (the others' lines) is dropped */
}

/* chat: the receiving probe client; looks for the current probe's line. */
static void recv_event(uint32_t events) {
    if (!recv_up) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        if (connect_error(recv_fd)) {
            probe_end(0, 1);
            return;
        }
        recv_up = 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_RECV};
        epoll_ctl(ep, EPOLL_CTL_MOD, recv_fd, &ev);
        probe_start_sender();
        return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    ssize_t r = recv(recv_fd, rbuf, sizeof rbuf, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) { /* kicked (too far behind) or closed */
        probe_end(0, 1);
        return;
    }
    if (probe_sent) {
        /* the marker may straddle two reads: look in (carry + head of this read), then in this read */
        char both[2 * sizeof carry];
        size_t h = (size_t)r < sizeof carry ? (size_t)r : sizeof carry;
        memcpy(both, carry, carry_len);
        memcpy(both + carry_len, rbuf, h);
        if (memmem(both, carry_len + h, marker, marker_len) || memmem(rbuf, (size_t)r, marker, marker_len)) {
            probe_end((now() - probe_t0) * 1000, 0);
            return;
        }
    }
    size_t keep = (size_t)r < sizeof carry - 1 ? (size_t)r : sizeof carry - 1;
    memcpy(carry, rbuf + r - keep, keep);
    carry_len = keep;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *s, int n, double q) {
    if (n == 0) return 0;
    int k = (int)(q * n);
    if (k >= n) k = n - 1;
    return s[k];
}

/* ---- waiting for the server's exit ------------------------------------------------ */

static int pidfd = -1;
static _Atomic double exit_time; /* 0 until the process exited */

static void *exit_waiter(void *arg) {
    (void)arg;
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    atomic_store(&exit_time, now());
    return NULL;
}

int main(int argc, char **argv) {
    double secs = 0, warm = 0.5, limit = 60, kill_timeout = 10;
    int kpid = 0, opt;
    const char *mode = "echo";
    while ((opt = getopt(argc, argv, "p:m:t:c:w:s:L:r:Ra:A:k:K:i:T:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'm': mode = optarg; break;
        case 't': secs = atof(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'w': warm = atof(optarg); break;
        case 's': chunk = atoi(optarg); break;
        case 'L': line_len = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'R': reopen = 1; break;
        case 'a': gap_ms = atof(optarg); break;
        case 'A': probe_timeout = atof(optarg); break;
        case 'k': kpid = atoi(optarg); break;
        case 'K': kill_timeout = atof(optarg); break;
        case 'i': label = optarg; break;
        case 'T': limit = atof(optarg); break;
        default: fprintf(stderr, "usage: see the comment at the top of bench/overload/flood.c\n"); return 2;
        }
    }
    chat = strcmp(mode, "chat") == 0;
    if (port <= 0 || nconns <= 0 || secs <= 0 || chunk < 64 || line_len < 2 || (!chat && strcmp(mode, "echo"))) {
        fprintf(stderr, "flood: need -p PORT -t SECS, -m echo|chat (see flood.c)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)limit);

    if (kpid > 0) {
        pidfd = (int)syscall(SYS_pidfd_open, kpid, 0);
        if (pidfd < 0) die("pidfd_open");
        pthread_t th;
        if (pthread_create(&th, NULL, exit_waiter, NULL) != 0) die("pthread_create");
        pthread_detach(th);
    }

    /* The bytes written: for chat, whole lines, and one line more so that a
     * write may start anywhere inside the first line and still end on a
     * line boundary. */
    if (chat) {
        size_t lines = (size_t)chunk / (size_t)line_len;
        if (lines == 0) lines = 1;
        wbuf_len = lines * (size_t)line_len;
        wbuf = malloc(wbuf_len + (size_t)line_len);
        if (!wbuf) die("malloc");
        for (size_t k = 0; k < lines + 1; k++) {
            memset(wbuf + k * (size_t)line_len, 'x', (size_t)line_len - 1);
            wbuf[(k + 1) * (size_t)line_len - 1] = '\n';
        }
    } else {
        wbuf_len = (size_t)chunk;
        wbuf = malloc(wbuf_len);
        if (!wbuf) die("malloc");
        for (size_t k = 0; k < wbuf_len; k++) wbuf[k] = (char)('a' + k % 26);
    }
    cs = calloc((size_t)nconns, sizeof *cs);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || ep < 0) die("setup");

    /* Connect everything before the load starts: BATCH at a time, each
     * batch accepted by the server before the next (the listen backlog is 128). */
    int first = 1;
    for (int b = 0; b < nconns; b += BATCH) {
        int e = b + BATCH < nconns ? b + BATCH : nconns;
        for (int i = b; i < e; i++) {
            if (first) {
                cs[i].fd = connect_blocking(1);
                first = 0;
            } else if ((cs[i].fd = sock_connect()) < 0)
                die("connect");
        }
        for (int i = b; i < e; i++) {
            int rc = connect_wait(cs[i].fd, 10.0);
            if (rc < 0) {
                errno = -rc;
                die("connect");
            }
            cs[i].open = 1;
        }
        /* Make sure the server has taken the batch before the next one (or
         * the load) comes: echo, one byte echoed on every connection; chat,
         * a line from the batch's last connection reaches the first one
         * (handlers join in the order of accept). */
        errno = 0;
        if (!chat) {
            for (int i = b; i < e; i++)
                if (send(cs[i].fd, "s", 1, MSG_NOSIGNAL) != 1) die("connect phase: send");
            for (int i = b; i < e; i++)
                if (read_until(cs[i].fd, "s", 10.0) < 0) die("connect phase: no echo within 10 s");
        } else if (e - 1 > 0) {
            char sync[32];
            int n = snprintf(sync, sizeof sync, "~sync%d~\n", b);
            if (send(cs[e - 1].fd, sync, (size_t)n, MSG_NOSIGNAL) != n) die("connect phase: send");
            sync[n - 1] = 0;
            if (read_until(cs[0].fd, sync, 10.0) < 0) die("connect phase: a line not forwarded within 10 s");
        }
    }
    for (int i = 0; i < nconns; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0) die("epoll_ctl");
    }

    /* The load. */
    double t0 = now(), t_warm = t0 + warm, t_end = t_warm + secs, t_kill = 0;
    t_now = t_rate0 = t0;
    loading = 1;
    next_probe = t_warm;
    enum { WARM, WINDOW, PROBE_TAIL, KILLING, DONE } phase = WARM;
    int sigterm_failed = 0;
    double sigterm_ms = -1;
    struct epoll_event evs[BATCH];
    while (phase != DONE) {
        int n = epoll_wait(ep, evs, BATCH, 10);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        double t = t_now = now();
        for (int k = 0; k < n; k++) {
            uint32_t tag = evs[k].data.u32, e = evs[k].events;
            if (tag == TAG_PROBE) {
                if (probe_fd >= 0) probe_event(e);
            } else if (tag == TAG_RECV) {
                if (recv_fd >= 0) recv_event(e);
            } else {
                if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_read((int)tag);
                if ((e & EPOLLOUT) && cs[tag].open) on_write((int)tag);
            }
        }
        t = now();
        if (pidfd >= 0 && phase < KILLING && atomic_load(&exit_time) != 0) {
            fprintf(stderr, "flood (%s): the server exited before it was signalled\n", label);
            sigterm_failed = 1;
            phase = DONE;
            break;
        }
        switch (phase) {
        case WARM:
            if (t >= t_warm) phase = WINDOW, counting = 1;
            break;
        case WINDOW:
            if (t >= t_end) {
                counting = 0;
                phase = PROBE_TAIL;
            }
            /* fall through */
        case PROBE_TAIL:
            if (gap_ms >= 0) {
                if (probe_active && t - probe_t0 > probe_timeout) probe_end(0, 1);
                if (!probe_active && phase == WINDOW && t >= next_probe) probe_start();
            }
            if (phase == PROBE_TAIL && !probe_active) {
                if (pidfd < 0) {
                    phase = DONE;
                } else {
                    closed_at_kill = closed;
                    loading = 0;
                    t_kill = now();
                    if (kill(kpid, SIGTERM) < 0) die("kill");
                    phase = KILLING;
                }
            }
            break;
        case KILLING: {
            double x = atomic_load(&exit_time);
            if (x != 0) {
                sigterm_ms = (x - t_kill) * 1000;
                phase = DONE;
            } else if (t - t_kill > kill_timeout) {
                sigterm_failed = 1;
                phase = DONE;
            }
            break;
        }
        case DONE: break;
        }
    }
    if (t_kill == 0) closed_at_kill = closed;
    for (int i = 0; i < nconns; i++)
        if (cs[i].open) {
            close(cs[i].fd);
            cs[i].open = 0;
        }
    if (probe_fd >= 0) close(probe_fd);
    if (recv_fd >= 0) close(recv_fd);

    const char *after = "-";
    if (sigterm_failed && t_kill > 0) { /* the load is off: does it exit now? */
        double until = now() + 1.0;
        while (atomic_load(&exit_time) == 0 && now() < until) usleep(10000);
        after = atomic_load(&exit_time) != 0 ? "exited" : "alive";
    }

    printf("name=overload mode=%s label=%s conns=%d secs=%.3f rx_MBps=%.2f tx_MBps=%.2f", mode, label, nconns, secs,
           (double)rx_win / secs / 1e6, (double)tx_win / secs / 1e6);
    if (chat)
        printf(" rx_lines_per_s=%.0f tx_lines_per_s=%.0f", (double)rxl_win / secs,
               (double)tx_win / (double)line_len / secs);
    /* closed during the load (before the SIGTERM): by the server, e.g. a chat kick */
    printf(" closed=%llu", (unsigned long long)closed_at_kill);
    if (reopen) printf(" reopened=%llu", (unsigned long long)reopened);
    if (gap_ms >= 0) {
        static double sorted[MAXPROBES];
        memcpy(sorted, samples, (size_t)nsamples * sizeof *samples);
        qsort(sorted, (size_t)nsamples, sizeof *sorted, cmp_d);
        printf(" probes=%d probe_p50_ms=%.2f probe_p99_ms=%.2f probe_max_ms=%.2f probe_timeouts=%d probe_ms=", nsamples,
               pct(sorted, nsamples, 0.5), pct(sorted, nsamples, 0.99), nsamples ? sorted[nsamples - 1] : 0.0,
               ntimeouts);
        for (int k = 0; k < nsamples; k++) printf("%s%.2f", k ? "," : "", samples[k]);
        if (!nsamples) printf("-");
    }
    if (pidfd >= 0) {
        if (t_kill == 0)
            printf(" sigterm_ms=early_exit");
        else if (sigterm_failed)
            printf(" sigterm_ms=fail after_unload=%s", after);
        else
            printf(" sigterm_ms=%.2f", sigterm_ms);
    }
    printf("\n");
    return 0;
}
