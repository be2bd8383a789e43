/*
 * Flow control and memory of protocol servers (protocol.h):
 *
 *   - a server that follows the documented pattern (pause_writing ->
 *     pause_reading, resume_writing -> resume_reading) against a client
 *     that writes a lot and does not read: the server's queue stays within
 *     the high water mark plus one read, nothing is read while paused; then
 *     the client reads, and every byte comes back, in order;
 *   - examples/echo_server_proto against such a client: it stops reading
 *     (the client cannot write everything; the server stays small), and
 *     echoes everything once the client reads;
 *   - an RST storm (clients that connect, send 64 KiB and reset): once
 *     they are gone, the loop keeps at most its buffer cache, the buffer
 *     ring's pages are given back, and the heap holds no burst of free
 *     memory (glibc's mallinfo2).
 *
 * No check is about time: the waits are for events, with generous
 * deadlines that only end a hang.  The set runs once per backend (epoll,
 * then io_uring when this kernel has it), unless CORIO_BACKEND picks one.
 */
#include "test.h"
#include "net_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_MALLINFO2 1
#endif

#define HIGH (64 * 1024)     /* the transports' default high water mark */
#define ONE_READ (64 * 1024) /* the most one data_received delivers (protocol.c's READ_BUF) */
#define BUF_CACHE (1 << 20)  /* the most a loop keeps of freed transport buffers (protocol.c) */

/* protocol.c's test hook: mapped transport buffers (in use or cached), cached, resident ring pages. */
extern void corio__proto_test_mem(size_t *mapped, size_t *cached, size_t *ring_resident);


/* The pattern's bytes from stream offset `off`, n of them, into buf. */
static void pat_fill(unsigned char *buf, size_t off, size_t n) {
    for (size_t i = 0; i < n; i++) buf[i] = pat[(off + i) % PAT_LEN];
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- (a) the documented pattern, in process ------------------------------------------ */

typedef struct fc_conn {
    bool paused;            /* reading paused by our pause_writing */
    int pauses, resumes;
    int reads_while_paused; /* data_received while paused: must stay 0 */
    size_t max_queue;       /* the most get_write_buffer_size was after a write */
    size_t bytes;
    int lost, lost_err;
} fc_conn;

static fc_conn fc;
static int fc_sockbuf; /* nonzero: SO_RCVBUF and SO_SNDBUF of the server's side */

static void *fc_factory(void *arg) {
    (void)arg;
    memset(&fc, 0, sizeof fc);
    return &fc;
}
static void fc_made(corio_transport *t, void *arg) {
    (void)arg;
    if (fc_sockbuf) {
        setsockopt(corio_transport_fd(t), SOL_SOCKET, SO_RCVBUF, &fc_sockbuf, sizeof fc_sockbuf);
        setsockopt(corio_transport_fd(t), SOL_SOCKET, SO_SNDBUF, &fc_sockbuf, sizeof fc_sockbuf);
    }
}
static void fc_data(corio_transport *t, const void *d, size_t n, void *arg) {
    fc_conn *c = arg;
    if (c->paused) c->reads_while_paused++;
    c->bytes += n;
    corio_transport_write(t, d, n);
    size_t q = corio_transport_get_write_buffer_size(t);
    if (q > c->max_queue) c->max_queue = q;
}
/* The pattern of protocol.h. */
static void fc_pause(corio_transport *t, void *arg) {
    fc_conn *c = arg;
    c->paused = true;
    c->pauses++;
    corio_transport_pause_reading(t);
}
static void fc_resume(corio_transport *t, void *arg) {
    fc_conn *c = arg;
    c->paused = false;
    c->resumes++;
    corio_transport_resume_reading(t);
}
static void fc_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    fc_conn *c = arg;
    c->lost++;
    c->lost_err = err;
}
static const corio_protocol fc_proto = {
    .connection_made = fc_made,
    .data_received = fc_data,
    .connection_lost = fc_lost,
    .pause_writing = fc_pause,
    .resume_writing = fc_resume,
};

/* The client's two halves, as tasks on a plain descriptor. */
typedef struct fc_client {
    int fd;
    size_t total, sent, got;
    uint64_t h_sent, h_got;
    int write_rc, read_rc;
    bool wrote_all, read_eof;
} fc_client;

static int fc_writer(void *arg) {
    fc_client *c = arg;
    unsigned char buf[32768];
    while (c->sent < c->total) {
        size_t n = c->total - c->sent < sizeof buf ? c->total - c->sent : sizeof buf;
        pat_fill(buf, c->sent, n);
        ssize_t w = corio_write_all(c->fd, buf, n);
        if (w != (ssize_t)n) {
            c->write_rc = w < 0 ? (int)w : -EIO;
            return c->write_rc;
        }
        c->h_sent = fnv1a(c->h_sent, buf, n);
        c->sent += n;
    }
    shutdown(c->fd, SHUT_WR);
    c->wrote_all = true;
    return 0;
}

static int fc_reader(void *arg) {
    fc_client *c = arg;
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = corio_read(c->fd, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            c->read_rc = (int)n;
            return (int)n;
        }
        c->h_got = fnv1a(c->h_got, buf, (size_t)n);
        c->got += (size_t)n;
    }
    c->read_eof = true;
    return 0;
}

/* Sleep until *flag, for `secs` at most. */
static void wait_true(const bool *flag, double secs) {
    for (double t0 = now_s(); !*flag && now_s() - t0 < secs;) corio_sleep(0.005);
}

static int pattern_main(void *arg) {
    (void)arg;
    /* Small socket buffers on both sides: what can be in flight is then far
     * less than the client sends, so the client cannot finish without
     * reading (loopback buffers grow to tens of MiB by themselves). */
    fc_sockbuf = 128 * 1024;
    corio_proto_server *srv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &fc_proto, fc_factory, NULL, NULL, &srv), 0);
    fc_client c = {.total = (size_t)16 << 20, .h_sent = FNV_INIT, .h_got = FNV_INIT};
    c.fd = corio_tcp_connect("127.0.0.1", corio_proto_server_port(srv));
    CHECK(c.fd >= 0);
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &fc_sockbuf, sizeof fc_sockbuf);
    setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &fc_sockbuf, sizeof fc_sockbuf);
    corio_task *w = corio_spawn(fc_writer, &c);

    /* Phase 1: the client writes and does not read.  The server pauses. */
    wait_true(&fc.paused, 30);
    CHECK(fc.paused);
    /* Give a server that goes on reading the time to show it (no check on time). */
    for (int i = 0; i < 20; i++) corio_sleep(0.01);
    CHECK(fc.paused);
    CHECK(!c.wrote_all);
    CHECK_EQ(fc.reads_while_paused, 0);
    CHECK(fc.max_queue <= HIGH + ONE_READ);

    /* Phase 2: the client reads everything; all comes back, in order. */
    corio_task *r = corio_spawn(fc_reader, &c);
    corio_timeout to;
    corio_timeout_enter(&to, 40);
    int rc = corio_join(w);
    if (rc < 0) corio_cancel(r); /* the reader would wait for an EOF that does not come */
    int rrc = corio_join(r);
    CHECK_EQ(corio_timeout_exit(&to, rc < 0 ? rc : rrc), 0);
    CHECK(c.wrote_all && c.read_eof);
    CHECK_EQ(c.write_rc, 0);
    CHECK_EQ(c.read_rc, 0);
    CHECK_EQ(c.sent, c.total);
    CHECK_EQ(c.got, c.total);
    CHECK(c.h_got == c.h_sent);
    CHECK(fc.pauses >= 1);
    CHECK_EQ(fc.reads_while_paused, 0);
    if (fc.max_queue > HIGH + ONE_READ)
        fprintf(stderr, "the server queued %zu bytes (high water %d + one read %d)\n", fc.max_queue, HIGH, ONE_READ);
    CHECK(fc.max_queue <= HIGH + ONE_READ);
    corio_close(c.fd);
    for (double t0 = now_s(); !fc.lost && now_s() - t0 < 10;) corio_sleep(0.005);
    CHECK_EQ(fc.lost, 1);
    CHECK_EQ(fc.lost_err, 0);
    CHECK_EQ(fc.bytes, c.total);
    corio_proto_server_close(srv, 1);
    fc_sockbuf = 0;
    return 0;
}

static void test_pattern_bounded(void) { CHECK_EQ(test_run(pattern_main, NULL, 0), 0); }

/* ---- (a) examples/echo_server_proto, as a user runs it ------------------------------ */

static char example_path[PATH_MAX + 32];

static long rss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* A line of the server's log, or false after `secs`. */
static bool log_line(int fd, char *buf, size_t cap, double secs) {
    size_t n = 0;
    double t0 = now_s();
    while (n + 1 < cap && now_s() - t0 < secs) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0) break;
        if (buf[n++] == '\n') {
            buf[n] = 0;
            return true;
        }
    }
    buf[n] = 0;
    return false;
}

static void test_example_bounded(void) {
    int logp[2];
    CHECK_EQ(pipe2(logp, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t sp = fork();
    if (sp == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(logp[1], 1);
        execl(example_path, example_path, "0", (char *)NULL);
        _exit(127);
    }
    close(logp[1]);
    char line[256];
    int port = 0;
    CHECK(log_line(logp[0], line, sizeof line, 20) && sscanf(line, "listening on 127.0.0.1:%d", &port) == 1);
    long rss0 = rss_kib(sp);

    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    fcntl(s, F_SETFL, O_NONBLOCK);
    /* Write and never read, until the socket stays full for 3 s: a server
     * that reads everything takes all 64 MiB and holds it. */
    const size_t total = (size_t)64 << 20;
    size_t sent = 0;
    static unsigned char buf[65536];
    uint64_t h_sent = FNV_INIT, h_got = FNV_INIT;
    while (sent < total) {
        struct pollfd p = {s, POLLOUT, 0};
        if (poll(&p, 1, 3000) == 0) break;
        size_t n = total - sent < sizeof buf ? total - sent : sizeof buf;
        pat_fill(buf, sent, n);
        ssize_t w = send(s, buf, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (w <= 0) break;
        h_sent = fnv1a(h_sent, buf, (size_t)w);
        sent += (size_t)w;
    }
    long rss1 = rss_kib(sp);
    printf("  sent %.1f MiB before the server stopped reading; its RSS %.1f -> %.1f MiB\n", (double)sent / (1 << 20),
           (double)rss0 / 1024, (double)rss1 / 1024);
    CHECK(sent < total);
    /* What it holds: one connection's queue and held data, its buffer
     * cache and ring - a few MiB, never what the client sent. */
    CHECK(rss1 > 0 && rss1 - rss0 < 16 * 1024);

    /* The client reads: everything comes back, in order, then the close. */
    shutdown(s, SHUT_WR);
    size_t got = 0;
    bool eof = false;
    for (double t0 = now_s(); !eof && now_s() - t0 < 40;) {
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) continue;
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n == 0) eof = true;
        if (n <= 0) continue;
        h_got = fnv1a(h_got, buf, (size_t)n);
        got += (size_t)n;
    }
    CHECK(eof);
    CHECK_EQ(got, sent);
    CHECK(h_got == h_sent);
    close(s);
    /* Its log line for the connection says it paused reading. */
    size_t echoed = 0, pauses = 0;
    bool done = false;
    while (!done && log_line(logp[0], line, sizeof line, 20)) {
        char *p = strstr(line, " done: ");
        done = p && sscanf(p, " done: %zu bytes echoed (reading paused %zu times)", &echoed, &pauses) == 2;
    }
    CHECK(done);
    CHECK_EQ(echoed, sent);
    CHECK(pauses >= 1);
    kill(sp, SIGTERM);
    int st = -1;
    for (double t0 = now_s(); now_s() - t0 < 20;) {
        if (waitpid(sp, &st, WNOHANG) == sp) break;
        st = -1;
        usleep(10000);
    }
    if (st == -1) {
        kill(sp, SIGKILL);
        waitpid(sp, NULL, 0);
    }
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(logp[0]);
}

/* ---- (b) memory after an RST storm ------------------------------------------------- */

static size_t storm_bytes; /* received by the storm's server, all connections */

/* A small send buffer: the echo does not fit, the server queues most of
 * it, and the storm resets connections with full queues, on both backends. */
static void storm_made(corio_transport *t, void *arg) {
    (void)arg;
    int snd = 4096;
    setsockopt(corio_transport_fd(t), SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
}
static void storm_data(corio_transport *t, const void *d, size_t n, void *arg) {
    (void)arg;
    storm_bytes += n;
    corio_transport_write(t, d, n);
}
static void storm_pause(corio_transport *t, void *arg) {
    (void)arg;
    corio_transport_pause_reading(t);
}
static void storm_resume(corio_transport *t, void *arg) {
    (void)arg;
    corio_transport_resume_reading(t);
}
static const corio_protocol storm_proto = {
    .connection_made = storm_made, .data_received = storm_data, .pause_writing = storm_pause, .resume_writing = storm_resume};

#define STORM_ROUNDS 10
#define STORM_CLIENTS 100
#define STORM_SEND (64 * 1024)

static int storm_main(void *arg) {
    (void)arg;
    corio_proto_server *srv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &storm_proto, NULL, NULL, NULL, &srv), 0);
    int port = corio_proto_server_port(srv);
    static unsigned char payload[STORM_SEND];
    memset(payload, 'y', sizeof payload);
    storm_bytes = 0;
    size_t sent = 0;
    for (int round = 0; round < STORM_ROUNDS; round++) {
        int fds[STORM_CLIENTS];
        for (int i = 0; i < STORM_CLIENTS; i++) {
            /* Loopback: the connect completes in the listener's backlog, at once. */
            fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            /* Small as well, for the same reason. */
            int rcv = 4096;
            setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            CHECK_EQ(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
            fcntl(fds[i], F_SETFL, O_NONBLOCK);
            ssize_t n = send(fds[i], payload, sizeof payload, MSG_NOSIGNAL);
            if (n > 0) sent += (size_t)n;
        }
        /* The server has read it all (and queued or sent the echo), then every client resets. */
        for (double t0 = now_s(); storm_bytes < sent && now_s() - t0 < 30;) corio_sleep(0.001);
        CHECK_EQ(storm_bytes, sent);
        struct linger lg = {1, 0};
        for (int i = 0; i < STORM_CLIENTS; i++) {
            setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(fds[i]);
        }
        for (double t0 = now_s(); corio_proto_server_connections(srv) && now_s() - t0 < 30;) corio_sleep(0.001);
        CHECK_EQ(corio_proto_server_connections(srv), 0);
    }
    {
        /* connection_lost has run for all; a record whose recv or send the
         * close cancelled goes with that operation's last completion. */
        size_t mapped, cached, ring;
        corio__proto_test_mem(&mapped, &cached, &ring);
        for (double t0 = now_s(); (mapped != cached || ring) && now_s() - t0 < 10;) {
            corio_sleep(0.005);
            corio__proto_test_mem(&mapped, &cached, &ring);
        }
        printf("  after the storm: %zu KiB of transport buffers mapped (%zu cached), %zu KiB of the ring resident\n",
               mapped / 1024, cached / 1024, ring / 1024);
        CHECK_EQ(mapped, cached); /* every connection's buffers were given back */
        CHECK(cached <= BUF_CACHE);
        CHECK_EQ(ring, 0); /* no recv armed: the ring's pages went back */
    }
#ifdef HAVE_MALLINFO2
    /* Free memory inside malloc's heap, which glibc keeps: the storm's
     * buffers must not have left any there. */
    struct mallinfo2 mi = mallinfo2();
    printf("  heap: %zu KiB in use, %zu KiB free\n", mi.uordblks / 1024, mi.fordblks / 1024);
    CHECK(mi.fordblks < 1024 * 1024);
#endif
    corio_proto_server_close(srv, 1);
    return 0;
}

static void test_storm_memory(void) { CHECK_EQ(test_run(storm_main, NULL, 0), 0); }

/* ---- running ---------------------------------------------------------------------- */

static bool example_runs;

static void run_all(void) {
    RUN_NET_TEST(test_pattern_bounded);
    if (example_runs)
        RUN_NET_TEST(test_example_bounded);
    else
        printf("skip test_example_bounded: cannot run %s\n", example_path);
    RUN_NET_TEST(test_storm_memory);
}

int main(int argc, char **argv) {
    (void)argc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    pat_init();
    /* The examples are built beside the tests: <build>/examples. */
    example_path_of(example_path, sizeof example_path, argv[0], "echo_server_proto");
    example_runs = example_can_run(example_path);
    net_warm_up();
    run_on_each_backend(run_all);
    TEST_MAIN_END();
}
