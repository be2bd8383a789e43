/*
 * test_fairness.c - the loop keeps turning under a saturating load.
 *
 * A server runs on the test's loop - a protocol echo, a stream echo (a task
 * per connection) or a line chat (every line to every other client) - and
 * a thread of plain sockets keeps it saturated: CONNS connections that
 * write as fast as the server takes data and read everything it sends.
 * Meanwhile, from outside the saturated work:
 *   - SIGTERM is sent to the process; its handler must run;
 *   - a new client connects and must get its first reply;
 *   - a task sleeping 10 ms at a time must wake.
 * Each within DEADLINE, which is generous against a loaded machine: the
 * starvation these tests were written against lasted as long as the load
 * (a poll that never ended on io_uring, turns of several seconds on epoll),
 * so the load runs LOAD_SECONDS and ends by itself, and a starved loop
 * shows as a latency of seconds, not as a hang.  Nothing here counts
 * events per unit of time.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS 200              /* the load: 64 did not starve the old io_uring poll */
#define LOAD_SECONDS 15.0      /* the load stops by itself after this */
#define SIGNAL_AFTER 1.0       /* seconds of saturation before SIGTERM */
#define DEADLINE_NS 5000000000LL /* a third of the load: starvation shows as the whole load */

enum { SRV_PROTO_ECHO, SRV_STREAM_ECHO, SRV_CHAT };

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the load: a thread of plain non-blocking sockets ------------------------------ */

typedef struct load {
    int port;
    bool lines;                 /* chat: whole lines; else any bytes */
    atomic_int flowing;         /* every connection made and data moving */
    atomic_int stop;
    _Atomic int64_t sig_sent;   /* when SIGTERM went (ns), 0 before */
    atomic_long received;       /* bytes the server sent back */
} load;

static void *load_main(void *arg) {
    load *L = arg;
    static char chunk[64 * 1024];
    if (L->lines) {
        for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (i % 64 == 63) ? '\n' : 'a' + (char)(i % 26);
    } else {
        memset(chunk, 'x', sizeof chunk);
    }
    struct pollfd pf[CONNS];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)L->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int open_conns = 0;
    for (int i = 0; i < CONNS; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            perror("load: connect");
            if (fd >= 0) close(fd);
            pf[i].fd = -1;
            continue;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        pf[i] = (struct pollfd){.fd = fd, .events = POLLIN | POLLOUT};
        open_conns++;
    }
    int64_t t0 = now_ns(), flowing_at = 0;
    static char sink[64 * 1024];
    while (!atomic_load(&L->stop) && now_ns() - t0 < (int64_t)(LOAD_SECONDS * 1e9) && open_conns) {
        if (poll(pf, CONNS, 100) < 0) break;
        for (int i = 0; i < CONNS; i++) {
            if (pf[i].fd < 0 || !pf[i].revents) continue;
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = recv(pf[i].fd, sink, sizeof sink, 0);
                if (n > 0) {
                    atomic_fetch_add(&L->received, n);
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    close(pf[i].fd); /* the chat kicked it, or the server went */
                    pf[i].fd = -1;
                    open_conns--;
                    continue;
                }
            }
            if (pf[i].revents & POLLOUT) {
                ssize_t n = send(pf[i].fd, chunk, sizeof chunk, MSG_NOSIGNAL);
                (void)n;
            }
        }
        if (!flowing_at && atomic_load(&L->received) > 0) {
            flowing_at = now_ns();
            atomic_store(&L->flowing, 1);
        }
        if (flowing_at && !atomic_load(&L->sig_sent) && now_ns() - flowing_at > (int64_t)(SIGNAL_AFTER * 1e9)) {
            atomic_store(&L->sig_sent, now_ns());
            kill(getpid(), SIGTERM);
        }
    }
    for (int i = 0; i < CONNS; i++)
        if (pf[i].fd >= 0) close(pf[i].fd);
    return NULL;
}

/* ---- the servers ----------------------------------------------------------------- */

static void proto_data(corio_transport *t, const void *d, size_t n, void *arg) {
    (void)arg;
    corio_transport_write(t, d, n);
}
static const corio_protocol echo_proto = {.data_received = proto_data};

static int stream_echo(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    char buf[64 * 1024]; /* one per connection: under io_uring the kernel fills it while the task waits */
    ssize_t n;
    while ((n = corio_reader_read(r, buf, sizeof buf)) > 0)
        if (corio_writer_write(w, buf, (size_t)n) < 0 || corio_writer_drain(w) < 0) break;
    return 0;
}

/* The chat: every line to every other member, never waiting (a member
 * more than 1 MiB behind is dropped), as examples/chat_server does. */
typedef struct member {
    corio_list link;
    corio_writer *w;
} member;
static corio_list room = {&room, &room};
static void unlink_member(member *m) {
    m->link.prev->next = m->link.next;
    m->link.next->prev = m->link.prev;
    m->link.next = m->link.prev = &m->link;
}

static int chat_member(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    member m = {.w = w};
    m.link.prev = room.prev;
    m.link.next = &room;
    room.prev->next = &m.link;
    room.prev = &m.link;
    const char *line;
    size_t len;
    while (corio_reader_readline(r, &line, &len) == 0 && len > 0) {
        corio_list *next;
        for (corio_list *l = room.next; l != &room; l = next) {
            next = l->next;
            member *o = (member *)l;
            if (o == &m) continue;
            struct iovec iov[2] = {{"> ", 2}, {(void *)line, len}};
            if (corio_writer_buffered(o->w) > 1024 * 1024 || corio_writer_writelines(o->w, iov, 2) < 0) {
                unlink_member(o);
                corio_writer_abort(o->w);
            }
        }
    }
    unlink_member(&m);
    return 0;
}

/* ---- the probes ----------------------------------------------------------------- */

static int64_t sig_handled;
static corio_event sig_ev;
static void on_term(int signum, void *arg) {
    (void)signum, (void)arg;
    sig_handled = now_ns();
    corio_event_set(&sig_ev);
}

static int64_t timer_worst;
static int ticker(void *arg) {
    (void)arg;
    for (;;) {
        int64_t t0 = now_ns();
        if (corio_sleep(0.010) < 0) return 0;
        int64_t late = now_ns() - t0 - 10000000;
        if (late > timer_worst) timer_worst = late;
    }
}

/* A new client: connect, send one line, wait for it to come back - or,
 * in the chat, connect and wait for the first line anyone sends (a line
 * of its own would queue behind a megabyte of others' lines: that
 * measures the room's backlog, not whether the server serves newcomers).
 * The time it took, in ns, or -errno. */
static int64_t probe_client(int port, int kind) {
    int64_t t0 = now_ns();
    corio_reader *r;
    corio_writer *w;
    int rc = corio_open_connection("127.0.0.1", port, &r, &w);
    if (rc < 0) return rc;
    static const char probe[] = "probe-7f3a\n";
    const char *line;
    size_t len;
    if (kind == SRV_CHAT) {
        rc = corio_reader_readline(r, &line, &len);
        if (rc == 0 && len == 0) rc = -ECONNRESET;
        goto out;
    }
    if ((rc = corio_writer_write(w, probe, sizeof probe - 1)) < 0 || (rc = corio_writer_drain(w)) < 0) goto out;
    for (;;) {
        if ((rc = corio_reader_readline(r, &line, &len)) < 0) goto out;
        if (len == 0) {
            rc = -ECONNRESET;
            goto out;
        }
        if (len >= sizeof probe - 1 && memcmp(line + len - (sizeof probe - 1), probe, sizeof probe - 1) == 0) break;
    }
    rc = 0;
out:
    corio_stream_close(r, w);
    return rc < 0 ? rc : now_ns() - t0;
}

/* ---- the scenario ---------------------------------------------------------------- */

static int scenario_main(void *arg) {
    int kind = *(int *)arg;
    corio_proto_server *ps = NULL;
    corio_server *ss = NULL;
    int port;
    if (kind == SRV_PROTO_ECHO) {
        CHECK_EQ(corio_create_server("127.0.0.1", 0, &echo_proto, NULL, NULL, NULL, &ps), 0);
        port = corio_proto_server_port(ps);
    } else {
        CHECK_EQ(corio_start_server("127.0.0.1", 0, kind == SRV_CHAT ? chat_member : stream_echo, NULL, &ss), 0);
        port = corio_server_port(ss);
    }
    corio_event_init(&sig_ev);
    sig_handled = 0;
    timer_worst = 0;
    CHECK_EQ(corio_add_signal_handler(SIGTERM, on_term, NULL), 0);

    load L = {.port = port, .lines = kind == SRV_CHAT};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, load_main, &L), 0);
    /* Wait (a deadline that only catches a hang) for the load to flow. */
    for (int i = 0; i < 1000 && !atomic_load(&L.flowing); i++) corio_sleep(0.01);
    CHECK(atomic_load(&L.flowing));
    corio_task *tick = corio_spawn(ticker, NULL);

    /* A new client while the server is saturated. */
    corio_sleep(0.2);
    int64_t first_reply = probe_client(port, kind);
    CHECK(first_reply >= 0);

    /* SIGTERM from outside, while saturated: the handler runs in time. */
    corio_timeout to;
    CHECK_EQ(corio_timeout_enter(&to, LOAD_SECONDS + 10), 0);
    CHECK_EQ(corio_timeout_exit(&to, corio_event_wait(&sig_ev)), 0);
    int64_t sig_latency = sig_handled && atomic_load(&L.sig_sent) ? sig_handled - atomic_load(&L.sig_sent) : -1;
    int64_t timer_late = timer_worst;
    bool load_was_on = !atomic_load(&L.stop) && sig_handled &&
                       sig_handled - atomic_load(&L.sig_sent) < (int64_t)(LOAD_SECONDS * 1e9);
    atomic_store(&L.stop, 1);
    pthread_join(th, NULL); /* blocks the loop briefly: the thread only closes its sockets */
    corio_cancel(tick);
    corio_join(tick);
    printf("  first reply %.1f ms, SIGTERM handled after %.1f ms, worst timer lateness %.1f ms (%ld bytes echoed)\n",
           (double)first_reply / 1e6, (double)sig_latency / 1e6, (double)timer_late / 1e6,
           (long)atomic_load(&L.received));
    CHECK(load_was_on);
    CHECK(first_reply >= 0 && first_reply < DEADLINE_NS);
    CHECK(sig_latency >= 0 && sig_latency < DEADLINE_NS);
    CHECK(timer_late < DEADLINE_NS);

    corio_remove_signal_handler(SIGTERM);
    if (ps) corio_proto_server_close(ps, 1);
    if (ss) {
        corio_server_close(ss, 1);
        corio_server_wait_closed(ss);
        corio_server_free(ss);
    }
    corio_sleep(0.01); /* connection_lost callbacks run */
    corio_event_destroy(&sig_ev);
    return 0;
}

/* ---- writes of one iteration leave together ------------------------------------ */

/* Records the peer gets: a SOCK_SEQPACKET pair keeps each send one record. */
static int next_record(int fd, char *buf, size_t cap) {
    ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    if (n < 0) return -1;
    buf[n] = 0;
    return (int)n;
}

static int coalesce_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_stream_open(sv[0], NULL, &r, &w), 0);
    char got[64];
    /* writelines: one send. */
    struct iovec iov[3] = {{"ab", 2}, {"cd", 2}, {"ef", 2}};
    CHECK_EQ(corio_writer_writelines(w, iov, 3), 0);
    CHECK_EQ(corio_sleep(0), 0); /* the iteration ends */
    CHECK_EQ(next_record(sv[1], got, sizeof got), 6);
    CHECK(strcmp(got, "abcdef") == 0);
    CHECK_EQ(next_record(sv[1], got, sizeof got), -1);
    /* Five writes in one iteration: at most two sends (the first may go at
     * once; the rest leave together at the end of the iteration). */
    for (int i = 0; i < 5; i++) CHECK_EQ(corio_writer_write(w, "x", 1), 0);
    CHECK_EQ(corio_sleep(0), 0);
    int records = 0, bytes = 0, n;
    while ((n = next_record(sv[1], got, sizeof got)) > 0) records++, bytes += n;
    CHECK(records >= 1 && records <= 2);
    CHECK_EQ(bytes, 5);
    /* The connection now coalesces: the next iteration's writes are one send. */
    for (int i = 0; i < 3; i++) CHECK_EQ(corio_writer_write(w, "y", 1), 0);
    CHECK_EQ(corio_sleep(0), 0);
    CHECK_EQ(next_record(sv[1], got, sizeof got), 3);
    CHECK(strcmp(got, "yyy") == 0);
    /* drain offers what is queued before it returns. */
    CHECK_EQ(corio_writer_write(w, "p", 1), 0);
    CHECK_EQ(corio_writer_write(w, "q", 1), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    bytes = 0;
    while ((n = next_record(sv[1], got, sizeof got)) > 0) bytes += n;
    if (strcmp(corio_loop_backend(corio_loop_current()), "epoll") == 0) CHECK_EQ(bytes, 2);
    CHECK_EQ(corio_sleep(0), 0);
    while ((n = next_record(sv[1], got, sizeof got)) > 0) bytes += n;
    CHECK_EQ(bytes, 2);
    CHECK_EQ(corio_stream_close(r, w), 0);
    close(sv[1]);
    return 0;
}

static void test_writes_coalesce(void) { CHECK_EQ(test_run(coalesce_main, NULL, 0), 0); }

/* ---- a task with lines waiting still yields ----------------------------------- */

static volatile int lines_ticks;
static int lines_ticker(void *arg) {
    (void)arg;
    for (;;) {
        if (corio_yield() < 0) return 0;
        lines_ticks++;
    }
}

static int buffered_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    static char lines[20000 * 2];
    for (size_t i = 0; i < sizeof lines; i += 2) lines[i] = 'a', lines[i + 1] = '\n';
    CHECK_EQ(write(sv[1], lines, sizeof lines), (ssize_t)sizeof lines);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_stream_open(sv[0], NULL, &r, &w), 0);
    lines_ticks = 0;
    corio_task *t = corio_spawn(lines_ticker, NULL);
    CHECK_EQ(corio_yield(), 0);
    int start = lines_ticks;
    const char *line;
    size_t len;
    /* 20,000 lines, nearly all served from the buffer: the turn's budget
     * (4096 units, one a line) makes the reader yield several times. */
    for (int i = 0; i < 20000; i++) {
        CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
        CHECK_EQ(len, 2);
    }
    CHECK(lines_ticks - start >= 20000 / 4096 - 1);
    corio_cancel(t);
    corio_join(t);
    CHECK_EQ(corio_stream_close(r, w), 0);
    close(sv[1]);
    return 0;
}

static void test_buffered_lines_yield(void) { CHECK_EQ(test_run(buffered_main, NULL, 0), 0); }

static void run_kind(int kind) { CHECK_EQ(test_run(scenario_main, &kind, 0), 0); }
static void test_proto_echo_saturated(void) { run_kind(SRV_PROTO_ECHO); }
static void test_stream_echo_saturated(void) { run_kind(SRV_STREAM_ECHO); }
static void test_chat_saturated(void) { run_kind(SRV_CHAT); }

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    const char *only = argc > 1 ? argv[1] : NULL; /* a case's name: run only that one */
    if (!only || strstr("test_writes_coalesce", only)) RUN_TEST(test_writes_coalesce);
    if (!only || strstr("test_buffered_lines_yield", only)) RUN_TEST(test_buffered_lines_yield);
    if (!only || strstr("test_proto_echo_saturated", only)) RUN_TEST(test_proto_echo_saturated);
    if (!only || strstr("test_stream_echo_saturated", only)) RUN_TEST(test_stream_echo_saturated);
    if (!only || strstr("test_chat_saturated", only)) RUN_TEST(test_chat_saturated);
    TEST_MAIN_END();
}
