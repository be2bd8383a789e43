/*
 * flood.c - the overload client of bench/overload: CONNS connections to
 * 127.0.0.1:PORT that each write as fast as the server takes it and read
 * everything the server sends back, so the server never runs out of work.
 * One non-blocking epoll loop (level-triggered) for the load; the accept
 * probes (-a) run in a thread of their own, as a new client is a program of
 * its own; one more thread only waits for the server's exit (-k) so that
 * its time is exact.
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
 *   probe_ms=a,b,...] [loop_p50_ms=... loop_max_ms=...] [sigterm_ms=... after_unload=...]
 * (loop_*: the load loop's own iterations in the window, how long an event
 * waits in the load client itself.)
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

/* The probes run in their own thread, with blocking waits (poll), apart from
 * the load's loop: a new client is its own program, and what is measured is
 * how long the SERVER takes to answer it.  Handled inside the load's loop, a
 * probe would also wait for that loop's iterations (two of them: connected,
 * then echoed).  Those are short in practice (loop_p50_ms ~0.03 ms in the
 * runs of 2026-12-06) but reach 10-20 ms when the load's process is
 * preempted (loop_max_ms), and that is not the server's latency.  The thread
 * shares the load's CPU (the process is pinned); it sleeps between probes,
 * so the scheduler runs it as soon as its socket wakes it. */

static double gap_ms = -1, probe_timeout = 5.0;
static double samples[MAXPROBES];
static int nsamples, ntimeouts;
static _Atomic int probe_window;   /* 1 while probes may start (the counted window) */
static _Atomic int probe_finished; /* the probe thread has ended its last probe */

/* Wait (until `until`) for fd to report `ev`; 0, or -1 on a timeout. */
static int wait_for(int fd, short ev, double until) {
    for (;;) {
        double left = until - now();
        if (left <= 0) return -1;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -1;
    }
}

/* One probe: its latency in ms, or -1 for a failure (timeout, refused,
 * closed by the server), which counts as probe_timeout. */
static double probe_once(unsigned no) {
    char marker[32], msg[64];
    snprintf(marker, sizeof marker, "~probe%u~", no);
    double t0 = now(), until = t0 + probe_timeout, ms = -1;
    int rfd = -1, sfd = -1;
    if (chat) { /* the receiver first: it must be in the room before the line is read */
        if ((rfd = sock_connect()) < 0 || wait_for(rfd, POLLOUT, until) < 0 || connect_wait(rfd, 0) < 0) goto out;
    }
    if ((sfd = sock_connect()) < 0 || wait_for(sfd, POLLOUT, until) < 0 || connect_wait(sfd, 0) < 0) goto out;
    int n = chat ? snprintf(msg, sizeof msg, "%s\n", marker) : snprintf(msg, sizeof msg, "%-63s", marker);
    if (send(sfd, msg, (size_t)n, MSG_NOSIGNAL) != n) goto out;
    if (chat) {
        if (read_until(rfd, marker, until - now()) == 0) ms = (now() - t0) * 1000;
    } else {
        char b[256];
        if (wait_for(sfd, POLLIN, until) == 0 && recv(sfd, b, sizeof b, MSG_DONTWAIT) > 0)
            ms = (now() - t0) * 1000; /* the first byte back */
    }
out:
    if (sfd >= 0) close(sfd);
    if (rfd >= 0) close(rfd);
    return ms;
}

static void *probe_thread(void *arg) {
    (void)arg;
    unsigned no = 0;
    while (!atomic_load(&probe_window) && !atomic_load(&probe_finished)) usleep(1000);
    while (atomic_load(&probe_window)) {
        double ms = probe_once(++no);
        int failed = ms < 0;
        if (failed) ms = probe_timeout * 1000;
        if (nsamples < MAXPROBES) samples[nsamples++] = ms;
        ntimeouts += failed;
        usleep((useconds_t)(gap_ms * 1000));
    }
    atomic_store(&probe_finished, 1);
    return NULL;
}

/* The load loop's iterations in the counted window (s): how long an event
 * waits in the load client itself. */
#define MAXLOOPS 1000000
static double *loop_gaps;
static int nloop;

static void loop_note(double dt) { /* the load loop's thread only */
    if (!loop_gaps) loop_gaps = malloc(MAXLOOPS * sizeof *loop_gaps);
    if (loop_gaps && nloop < MAXLOOPS) loop_gaps[nloop++] = dt;
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
    pthread_t prober;
    if (gap_ms >= 0 && pthread_create(&prober, NULL, probe_thread, NULL) != 0) die("pthread_create");
    enum { WARM, WINDOW, PROBE_TAIL, KILLING, DONE } phase = WARM;
    int sigterm_failed = 0;
    double sigterm_ms = -1, t_prev = t0;
    struct epoll_event evs[BATCH];
    while (phase != DONE) {
        int n = epoll_wait(ep, evs, BATCH, 10);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        t_now = now();
        for (int k = 0; k < n; k++) {
            uint32_t tag = evs[k].data.u32, e = evs[k].events;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_read((int)tag);
            if ((e & EPOLLOUT) && cs[tag].open) on_write((int)tag);
        }
        double t = now();
        if (phase == WINDOW) loop_note(t - t_prev);
        t_prev = t;
        if (pidfd >= 0 && phase < KILLING && atomic_load(&exit_time) != 0) {
            fprintf(stderr, "flood (%s): the server exited before it was signalled\n", label);
            sigterm_failed = 1;
            phase = DONE;
            break;
        }
        switch (phase) {
        case WARM:
            if (t >= t_warm) {
                phase = WINDOW, counting = 1;
                atomic_store(&probe_window, 1);
            }
            break;
        case WINDOW:
            if (t >= t_end) {
                counting = 0;
                phase = PROBE_TAIL;
                atomic_store(&probe_window, 0);
            }
            /* fall through */
        case PROBE_TAIL:
            if (phase == PROBE_TAIL && (gap_ms < 0 || atomic_load(&probe_finished))) {
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
    if (gap_ms >= 0) {
        atomic_store(&probe_window, 0);
        atomic_store(&probe_finished, 1);
        pthread_join(prober, NULL);
    }
    if (t_kill == 0) closed_at_kill = closed;
    for (int i = 0; i < nconns; i++)
        if (cs[i].open) {
            close(cs[i].fd);
            cs[i].open = 0;
        }

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
    if (nloop) {
        qsort(loop_gaps, (size_t)nloop, sizeof *loop_gaps, cmp_d);
        printf(" loop_p50_ms=%.2f loop_max_ms=%.2f", pct(loop_gaps, nloop, 0.5) * 1000, loop_gaps[nloop - 1] * 1000);
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
