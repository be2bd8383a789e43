/*
 * The chat_server example, run as a process on a free port and driven by
 * plain non-blocking sockets with poll (every wait has a deadline): lines
 * reach every other client exactly once, in order, with the sender's
 * prefix, and the sender gets nothing; a partial line left by a client
 * that disconnects is not forwarded; a client that never reads is
 * disconnected while the others receive everything; SIGTERM exits 0.
 * Every case checks that it leaves no descriptor open.
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

static char chat_path[PATH_MAX + 32];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the server process and its log ------------------------------------------------ */

typedef struct server {
    pid_t pid;
    int port;
    int log_fd;       /* read end of its stdout */
    char log[65536];  /* everything it logged so far */
    size_t log_len;
} server;

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    return ntohs(a.sin_port);
}

/* Read what the server logged, waiting at most `seconds` for more. */
static void pump_log(server *s, double seconds) {
    struct pollfd p = {s->log_fd, POLLIN, 0};
    if (poll(&p, 1, (int)(seconds * 1000)) <= 0) return;
    ssize_t n = read(s->log_fd, s->log + s->log_len, sizeof s->log - 1 - s->log_len);
    if (n > 0) s->log_len += (size_t)n;
    s->log[s->log_len] = 0;
}

/* Wait until the log holds `needle` (at most `seconds`). */
static bool wait_log(server *s, const char *needle, double seconds) {
    double end = now() + seconds;
    while (!strstr(s->log, needle)) {
        if (now() > end || s->log_len == sizeof s->log - 1) {
            fprintf(stderr, "no \"%s\" in the server's log:\n%s", needle, s->log);
            return false;
        }
        pump_log(s, 0.05);
    }
    return true;
}

static bool start_server(server *s) {
    memset(s, 0, sizeof *s);
    s->port = free_port();
    int p[2];
    if (pipe(p) < 0) return false;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    s->pid = fork();
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* no leftover if the test dies */
        dup2(p[1], 1);
        execl(chat_path, chat_path, port, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    s->log_fd = p[0];
    char want[64];
    snprintf(want, sizeof want, "listening on 127.0.0.1:%d\n", s->port);
    return wait_log(s, want, 10);
}

/* SIGTERM, then its exit status within 10 s (-1: it had to be killed). */
static int stop_server(server *s) {
    int rc = -1;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        for (int i = 0; i < 1000 && rc == -1; i++) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid)
                rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            else
                usleep(10000);
        }
        if (rc == -1) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        s->pid = 0;
    }
    pump_log(s, 0.1);
    close(s->log_fd);
    return rc;
}

/* ---- clients -------------------------------------------------------------------------- */

typedef struct client {
    int fd;
    char prefix[64]; /* "127.0.0.1:PORT: ", as the others see it */
} client;

/* Connect (non-blocking afterwards) and wait until the server logged the join. */
static bool join(server *s, client *c, int rcvbuf) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) return false;
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    socklen_t al = sizeof a;
    getsockname(c->fd, (struct sockaddr *)&a, &al);
    snprintf(c->prefix, sizeof c->prefix, "127.0.0.1:%u: ", ntohs(a.sin_port));
    char want[96];
    snprintf(want, sizeof want, "127.0.0.1:%u joined", ntohs(a.sin_port));
    return wait_log(s, want, 10);
}

static void send_all(client *c, const char *data) {
    size_t len = strlen(data), off = 0;
    double end = now() + 10;
    while (off < len && now() < end) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else {
            struct pollfd p = {c->fd, POLLOUT, 0};
            poll(&p, 1, 100);
        }
    }
    CHECK_EQ(off, len);
}

/* Receive exactly strlen(want) bytes within 10 s and compare them. */
static void expect(client *c, const char *want) {
    size_t len = strlen(want), got = 0;
    char buf[4096];
    CHECK(len < sizeof buf);
    double end = now() + 10;
    while (got < len && now() < end) {
        ssize_t n = recv(c->fd, buf + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n == 0 || errno != EAGAIN) {
            break;
        } else {
            struct pollfd p = {c->fd, POLLIN, 0};
            poll(&p, 1, 100);
        }
    }
    buf[got] = 0;
    if (got != len || memcmp(buf, want, len) != 0) {
        fprintf(stderr, "expected \"%s\", received \"%s\"\n", want, buf);
        test_failures++;
    }
}

/* Nothing arrives for 200 ms. */
static void expect_nothing(client *c) {
    struct pollfd p = {c->fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 200), 0);
}

/* Line from `c`, as a receiver sees it. */
static const char *from(const client *c, const char *line) {
    static char buf[4][256];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, sizeof buf[0], "%s%s", c->prefix, line);
    return b;
}

/* ---- cases ---------------------------------------------------------------------------- */

static void test_lines(void) {
    server s;
    if (!start_server(&s)) {
        test_failures++;
        stop_server(&s);
        return;
    }
    client a, b, c;
    CHECK(join(&s, &a, 0));
    CHECK(join(&s, &b, 0));
    CHECK(join(&s, &c, 0));

    /* One line from each, in turn: the two others get it. */
    send_all(&a, "hello from a\n");
    expect(&b, from(&a, "hello from a\n"));
    expect(&c, from(&a, "hello from a\n"));
    send_all(&b, "b here\n");
    expect(&a, from(&b, "b here\n"));
    expect(&c, from(&b, "b here\n"));
    /* Several lines in one write, a line split over writes, an empty line.
     * The rest of the split line goes only once the complete lines before
     * it came through (not after a sleep): "thr" came in the same write as
     * them, so the server has read it by then and must hold it until "ee\n". */
    send_all(&c, "one\ntwo\n\nthr");
    char want[512];
    snprintf(want, sizeof want, "%sone\n%stwo\n%s\n", c.prefix, c.prefix, c.prefix);
    expect(&a, want);
    expect(&b, want);
    send_all(&c, "ee\n");
    expect(&a, from(&c, "three\n"));
    expect(&b, from(&c, "three\n"));
    /* Senders get nothing back, and nothing else arrives. */
    expect_nothing(&a);
    expect_nothing(&b);
    expect_nothing(&c);

    /* C leaves a partial line behind as it goes: it is not forwarded. */
    send_all(&c, "complete\nno newline");
    close(c.fd);
    char left[96];
    snprintf(left, sizeof left, "%.*s left", (int)strlen(c.prefix) - 2, c.prefix);
    CHECK(wait_log(&s, left, 10));
    expect(&a, from(&c, "complete\n"));
    expect(&b, from(&c, "complete\n"));
    send_all(&a, "after c\n");
    expect(&b, from(&a, "after c\n")); /* next in B's stream: no "no newline" before it */
    expect_nothing(&a);
    expect_nothing(&b);

    /* B vanishes (reset); A still talks to the room without trouble. */
    struct linger lg = {1, 0};
    setsockopt(b.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(b.fd);
    snprintf(left, sizeof left, "%.*s left", (int)strlen(b.prefix) - 2, b.prefix);
    CHECK(wait_log(&s, left, 10));
    send_all(&a, "alone\n");
    expect_nothing(&a);
    close(a.fd);
    CHECK_EQ(stop_server(&s), 0);
    CHECK(strstr(s.log, "closed\n") != NULL);
}

/* Traffic for the flood: line i, 1000 bytes with its newline. */
static void flood_line(char *buf, size_t i) {
    int n = snprintf(buf, 32, "line %08zu ", i);
    memset(buf + n, 'a' + (int)(i % 26), 999 - (size_t)n);
    buf[999] = '\n';
}

/* A receiver of the flood: checks every line against flood_line. */
typedef struct receiver {
    client *c;
    char buf[4096];
    size_t have;   /* bytes in buf */
    size_t lines;  /* lines received and checked */
    bool bad;      /* a line differed */
} receiver;

static void receive(receiver *r) {
    for (;;) {
        ssize_t n = recv(r->c->fd, r->buf + r->have, sizeof r->buf - r->have, 0);
        if (n <= 0) return;
        r->have += (size_t)n;
        size_t plen = strlen(r->c->prefix); /* (the receiver knows the sender's prefix here) */
        char *nl;
        while ((nl = memchr(r->buf, '\n', r->have)) != NULL) {
            size_t len = (size_t)(nl - r->buf) + 1;
            char want[1000];
            flood_line(want, r->lines);
            if (len != plen + 1000 || memcmp(r->buf, r->c->prefix, plen) != 0 || memcmp(r->buf + plen, want, 1000) != 0)
                r->bad = true;
            r->lines++;
            memmove(r->buf, r->buf + len, r->have - len);
            r->have -= len;
        }
    }
}

static void test_slow_reader(void) {
    server s;
    if (!start_server(&s)) {
        test_failures++;
        stop_server(&s);
        return;
    }
    client a, b, c, slow;
    CHECK(join(&s, &a, 0));
    CHECK(join(&s, &b, 0));
    CHECK(join(&s, &c, 0));
    CHECK(join(&s, &slow, 4096)); /* a small window, so the server's queue fills sooner */
    char slow_kicked[96];
    snprintf(slow_kicked, sizeof slow_kicked, "%.*s disconnected", (int)strlen(slow.prefix) - 2, slow.prefix);

    /* The receivers check A's lines; give them A's prefix to expect. */
    client rb = {b.fd, ""}, rc_ = {c.fd, ""};
    strcpy(rb.prefix, a.prefix);
    strcpy(rc_.prefix, a.prefix);
    static receiver r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    r1.c = &rb;
    r2.c = &rc_;

    /* A sends until the slow client is disconnected, then 200 lines more
     * (64 MiB at most); B and C read all along. */
    size_t sent = 0, limit = 64 * 1024, stop_at = limit;
    char line[1000];
    size_t off = 1000; /* of the line being sent; 1000: none */
    double end = now() + 30;
    bool kicked = false;
    while ((sent < stop_at || r1.lines < sent || r2.lines < sent) && now() < end) {
        if (!kicked && strstr(s.log, slow_kicked)) {
            kicked = true;
            stop_at = sent + 200;
        }
        /* Keep B and C within 256 lines of A: readers that keep up are never
         * more than that behind, however fast A can send. */
        size_t slowest = r1.lines < r2.lines ? r1.lines : r2.lines;
        bool may_send = sent < stop_at && sent < slowest + 256;
        struct pollfd p[4] = {{a.fd, may_send ? POLLOUT : 0, 0}, {b.fd, POLLIN, 0}, {c.fd, POLLIN, 0},
                              {s.log_fd, POLLIN, 0}};
        poll(p, 4, 100);
        if (p[3].revents) pump_log(&s, 0);
        receive(&r1);
        receive(&r2);
        slowest = r1.lines < r2.lines ? r1.lines : r2.lines;
        while (sent < stop_at && sent < slowest + 256) {
            if (off == 1000) {
                flood_line(line, sent);
                off = 0;
            }
            ssize_t n = send(a.fd, line + off, 1000 - off, MSG_NOSIGNAL);
            if (n <= 0) break;
            off += (size_t)n;
            if (off == 1000) sent++;
        }
    }
    CHECK(kicked);
    CHECK(sent < limit);
    CHECK_EQ(r1.lines, sent);
    CHECK_EQ(r2.lines, sent);
    CHECK(!r1.bad && !r2.bad);
    /* The slow client finds its queue cut short and the connection closed. */
    fcntl(slow.fd, F_SETFL, 0);
    struct timeval tv = {10, 0};
    setsockopt(slow.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t drained = 0;
    ssize_t n;
    char buf[65536];
    while ((n = recv(slow.fd, buf, sizeof buf, 0)) > 0) drained += (size_t)n;
    CHECK(n == 0 || errno == ECONNRESET);
    CHECK(drained < sent * 1017);
    printf("  %zu lines sent; the slow client got %zu bytes before it was cut off\n", sent, drained);
    expect_nothing(&a);
    close(a.fd);
    close(b.fd);
    close(c.fd);
    close(slow.fd);
    CHECK_EQ(stop_server(&s), 0);
}

/* SIGTERM with clients still connected: the server closes them and exits 0. */
static void test_sigterm_with_clients(void) {
    server s;
    if (!start_server(&s)) {
        test_failures++;
        stop_server(&s);
        return;
    }
    client a, b;
    CHECK(join(&s, &a, 0));
    CHECK(join(&s, &b, 0));
    CHECK_EQ(stop_server(&s), 0);
    char buf[16];
    struct pollfd p = {a.fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK(recv(a.fd, buf, sizeof buf, 0) <= 0); /* end of stream (or reset): nothing else */
    close(a.fd);
    close(b.fd);
}

int main(int argc, char **argv) {
    (void)argc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    /* The examples are built beside the tests: <build>/examples. */
    example_path_of(chat_path, sizeof chat_path, argv[0], "chat_server");
    if (!example_can_run(chat_path)) {
        printf("skip: cannot run %s\n", chat_path);
        return 77;
    }
    RUN_NET_TEST(test_lines);
    RUN_NET_TEST(test_slow_reader);
    RUN_NET_TEST(test_sigterm_with_clients);
    TEST_MAIN_END();
}
