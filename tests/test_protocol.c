/*
 * Transports and protocols (protocol.h) on real sockets: the callback
 * order, echo, half-close, reset, water marks, pause/resume reading, a
 * server's connection cap, close with abort, EMFILE, datagrams; bulk
 * transfers, data in flight across pause_reading, the io_uring buffer ring
 * running dry, close from inside data_received, a reset while writing.
 * Every case checks that it leaves no descriptor open.
 *
 * The whole set runs once per backend (epoll, then io_uring when this
 * kernel has it), unless CORIO_BACKEND picks one.
 */
#include "test.h"
#include "net_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a server-side echo protocol, counting its callbacks --------------------------- */

typedef struct conn_state {
    int made, eofs, lost, lost_err;
    size_t bytes;
    bool keep_open_on_eof; /* half-close: answer "bye" after the peer's EOF */
} conn_state;

static conn_state server_states[8];
static int nserver_states;
static bool srv_half_close;

static void *make_state(void *arg) {
    (void)arg;
    conn_state *s = &server_states[nserver_states++ % 8];
    memset(s, 0, sizeof *s);
    s->keep_open_on_eof = srv_half_close;
    return s;
}

static void srv_made(corio_transport *t, void *arg) {
    (void)t;
    ((conn_state *)arg)->made++;
}
static void srv_data(corio_transport *t, const void *d, size_t n, void *arg) {
    ((conn_state *)arg)->bytes += n;
    corio_transport_write(t, d, n);
}
static int srv_eof(corio_transport *t, void *arg) {
    conn_state *s = arg;
    s->eofs++;
    if (!s->keep_open_on_eof) return 0;
    corio_transport_write(t, "bye", 3);
    corio_transport_close(t);
    return 1;
}
static void srv_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    conn_state *s = arg;
    s->lost++;
    s->lost_err = err;
}
static const corio_protocol echo_proto = {srv_made, srv_data, srv_eof, srv_lost, NULL, NULL};

/* ---- a client protocol: sends a message, collects what comes back ------------------- */

typedef struct client {
    const char *send;
    bool write_eof;          /* half-close after sending */
    size_t expect;           /* close once this many bytes came back (0: wait for EOF) */
    char got[256];
    size_t ngot;
    int made, eofs, lost, lost_err;
    corio_event done;
} client;

static void cl_made(corio_transport *t, void *arg) {
    client *c = arg;
    c->made++;
    corio_transport_write(t, c->send, strlen(c->send));
    if (c->write_eof) corio_transport_write_eof(t);
}
static void cl_data(corio_transport *t, const void *d, size_t n, void *arg) {
    client *c = arg;
    if (c->ngot + n <= sizeof c->got) memcpy(c->got + c->ngot, d, n);
    c->ngot += n;
    if (c->expect && c->ngot >= c->expect) corio_transport_close(t);
}
static int cl_eof(corio_transport *t, void *arg) {
    (void)t;
    ((client *)arg)->eofs++;
    return 0;
}
static void cl_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    client *c = arg;
    c->lost++;
    c->lost_err = err;
    corio_event_set(&c->done);
}
static const corio_protocol client_proto = {cl_made, cl_data, cl_eof, cl_lost, NULL, NULL};

static int echo_main(void *arg) {
    (void)arg;
    nserver_states = 0;
    srv_half_close = false;
    corio_proto_server *srv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &echo_proto, make_state, NULL, NULL, &srv), 0);
    client c = {.send = "hello protocol", .expect = 14};
    corio_event_init(&c.done);
    corio_transport *t;
    CHECK_EQ(corio_create_connection("127.0.0.1", corio_proto_server_port(srv), &client_proto, &c, &t), 0);
    CHECK_EQ(corio_event_wait(&c.done), 0);
    CHECK_EQ(c.made, 1);
    CHECK_EQ(c.lost, 1);
    CHECK_EQ(c.lost_err, 0);
    CHECK(c.ngot == 14 && memcmp(c.got, "hello protocol", 14) == 0);
    WAIT_UNTIL(server_states[0].lost, 10); /* the server sees our close */
    CHECK_EQ(server_states[0].made, 1);
    CHECK_EQ(server_states[0].eofs, 1);
    CHECK_EQ(server_states[0].lost, 1);
    CHECK_EQ(server_states[0].lost_err, 0);
    CHECK_EQ(corio_proto_server_connections(srv), 0);

    /* Half-close: the server answers after our EOF, then closes. */
    srv_half_close = true;
    client h = {.send = "abc", .write_eof = true};
    corio_event_init(&h.done);
    CHECK_EQ(corio_create_connection("127.0.0.1", corio_proto_server_port(srv), &client_proto, &h, NULL), 0);
    CHECK_EQ(corio_event_wait(&h.done), 0);
    CHECK(h.ngot == 6 && memcmp(h.got, "abcbye", 6) == 0);
    CHECK_EQ(h.eofs, 1);
    CHECK_EQ(h.lost_err, 0);
    corio_proto_server_close(srv, 0);
    corio_event_destroy(&c.done);
    corio_event_destroy(&h.done);
    CHECK_EQ(corio_create_connection("127.0.0.1", 1, &client_proto, &c, NULL), -ECONNREFUSED);
    CHECK_EQ(corio_create_connection("127.0.0.1", 80, NULL, &c, NULL), -EINVAL);
    return 0;
}

static void test_echo(void) { CHECK_EQ(test_run(echo_main, NULL, 0), 0); }

/* ---- reset, writing after close ------------------------------------------------------ */

static int reset_main(void *arg) {
    (void)arg;
    nserver_states = 0;
    srv_half_close = false;
    corio_proto_server *srv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &echo_proto, make_state, NULL, NULL, &srv), 0);
    int fd = corio_tcp_connect("127.0.0.1", corio_proto_server_port(srv));
    CHECK_EQ(corio_write_all(fd, "x", 1), 1);
    char b;
    CHECK_EQ(corio_read(fd, &b, 1), 1);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    corio_close(fd);
    WAIT_UNTIL(server_states[0].lost, 10);
    CHECK_EQ(server_states[0].lost, 1);
    CHECK_EQ(server_states[0].lost_err, -ECONNRESET);
    corio_proto_server_close(srv, 0);
    return 0;
}

static void test_reset(void) { CHECK_EQ(test_run(reset_main, NULL, 0), 0); }

/* ---- water marks and pause_reading ---------------------------------------------------- */

typedef struct flow {
    int pauses, resumes, lost;
    size_t received;
} flow;

static void fl_data(corio_transport *t, const void *d, size_t n, void *arg) {
    (void)t;
    (void)d;
    ((flow *)arg)->received += n;
}
static void fl_pause(corio_transport *t, void *arg) {
    (void)t;
    ((flow *)arg)->pauses++;
}
static void fl_resume(corio_transport *t, void *arg) {
    (void)t;
    ((flow *)arg)->resumes++;
}
static void fl_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    (void)err;
    ((flow *)arg)->lost++;
}
static const corio_protocol flow_proto = {NULL, fl_data, NULL, fl_lost, fl_pause, fl_resume};

static int flow_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
    flow f = {0};
    corio_transport *t;
    CHECK_EQ(corio_transport_open(sv[0], &flow_proto, &f, &t), 0);
    corio_transport_pause_reading(t);
    corio_yield(); /* connection_made */
    static char big[1 << 20];
    memset(big, 'z', sizeof big);
    CHECK_EQ(corio_transport_write(t, big, sizeof big), 0);
    CHECK(corio_transport_get_write_buffer_size(t) > 0);
    CHECK_EQ(f.pauses, 1);
    /* The peer writes to us while reading is paused: nothing is delivered. */
    CHECK_EQ(corio_write_all(sv[1], "data", 4), 4);
    corio_sleep(0.05);
    CHECK_EQ(f.received, 0);
    corio_transport_resume_reading(t);
    /* Drain the peer's side: the queue empties, resume_writing comes. */
    size_t total = 0;
    char buf[65536];
    while (total < sizeof big) {
        ssize_t n = corio_read(sv[1], buf, sizeof buf);
        if (n <= 0) break;
        total += (size_t)n;
    }
    CHECK_EQ(total, sizeof big);
    WAIT_UNTIL(f.resumes >= 1 && f.received >= 4, 10);
    CHECK_EQ(f.resumes, 1);
    CHECK_EQ(f.received, 4);
    CHECK_EQ(corio_transport_set_write_buffer_limits(t, 10, 20), -EINVAL);
    CHECK_EQ(corio_transport_set_write_buffer_limits(t, 0, 0), 0);
    corio_transport_close(t);
    CHECK(corio_transport_is_closing(t));
    CHECK_EQ(corio_transport_write(t, "x", 1), -ESHUTDOWN);
    CHECK_EQ(corio_read(sv[1], buf, sizeof buf), 0);
    corio_yield();
    CHECK_EQ(f.lost, 1);
    corio_close(sv[1]);
    return 0;
}

static void test_flow_control(void) { CHECK_EQ(test_run(flow_main, NULL, 0), 0); }

/* ---- server: cap, close with abort, EMFILE --------------------------------------------- */

static int server_main(void *arg) {
    (void)arg;
    nserver_states = 0;
    srv_half_close = false;
    corio_proto_server *srv;
    corio_proto_server_opts o = {.max_connections = 1};
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &echo_proto, make_state, NULL, &o, &srv), 0);
    int port = corio_proto_server_port(srv);
    int a = corio_tcp_connect("127.0.0.1", port);
    char buf[8];
    CHECK_EQ(corio_write_all(a, "1", 1), 1);
    CHECK_EQ(corio_read(a, buf, sizeof buf), 1);
    int b = corio_tcp_connect("127.0.0.1", port); /* over the cap: closed at once */
    ssize_t n = corio_read(b, buf, sizeof buf);
    CHECK(n == 0 || n == -ECONNRESET);
    corio_close(b);
    CHECK_EQ(corio_proto_server_connections(srv), 1);
    corio_proto_server_close(srv, 1); /* aborts the connection */
    CHECK_EQ(corio_read(a, buf, sizeof buf), 0);
    corio_close(a);
    corio_yield();
    CHECK_EQ(server_states[0].lost, 1);
    return 0;
}

static void test_server(void) { CHECK_EQ(test_run(server_main, NULL, 0), 0); }

/* More clients in the backlog than one batch of accepts (64) takes: on
 * epoll the listener's edge is reported once, so the rest must be taken up
 * without another edge; every one is served. */
#define BACKLOG_CLIENTS 150
static int backlog_main(void *arg) {
    (void)arg;
    nserver_states = 0;
    srv_half_close = false;
    corio_proto_server *srv;
    corio_proto_server_opts o = {.listen = {.backlog = 512}};
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &echo_proto, make_state, NULL, &o, &srv), 0);
    corio_sockaddr addr;
    CHECK_EQ(corio_resolve("127.0.0.1", corio_proto_server_port(srv), AF_INET, 0, &addr, 1), 1);
    int c[BACKLOG_CLIENTS];
    for (int i = 0; i < BACKLOG_CLIENTS; i++) { /* no yield: all wait in the backlog before the first accept */
        c[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(c[i] >= 0);
        CHECK(connect(c[i], &addr.u.sa, addr.len) == 0 || errno == EINPROGRESS);
    }
    WAIT_UNTIL(corio_proto_server_connections(srv) == BACKLOG_CLIENTS, 10);
    CHECK_EQ(corio_proto_server_connections(srv), BACKLOG_CLIENTS);
    char buf[8];
    for (int i = 0; i < BACKLOG_CLIENTS; i++) {
        CHECK_EQ(corio_write_all(c[i], "x", 1), 1);
        CHECK_EQ(corio_read(c[i], buf, sizeof buf), 1);
        corio_close(c[i]);
    }
    WAIT_UNTIL(corio_proto_server_connections(srv) == 0, 10);
    corio_proto_server_close(srv, 0);
    return 0;
}

static void test_accept_backlog(void) { CHECK_EQ(test_run(backlog_main, NULL, 0), 0); }

/* The factory closes the server (on its first client): listening stops,
 * but that client is served like one that was already connected (asyncio's
 * Server.close), and the server is freed only once the accept is done with
 * it (AddressSanitizer and valgrind check that). */
static corio_proto_server *closing_srv;
static void *closing_factory(void *arg) {
    if (closing_srv) {
        corio_proto_server_close(closing_srv, 0);
        closing_srv = NULL;
    }
    return make_state(arg);
}

static int factory_close_main(void *arg) {
    (void)arg;
    nserver_states = 0;
    srv_half_close = false;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &echo_proto, closing_factory, NULL, NULL, &closing_srv), 0);
    int port = corio_proto_server_port(closing_srv);
    int fd = corio_tcp_connect("127.0.0.1", port);
    CHECK(fd >= 0);
    CHECK_EQ(corio_write_all(fd, "hi", 2), 2);
    char buf[8];
    CHECK_EQ(corio_read(fd, buf, sizeof buf), 2);
    CHECK(closing_srv == NULL);
    CHECK_EQ(corio_tcp_connect("127.0.0.1", port), -ECONNREFUSED);
    corio_close(fd);
    WAIT_UNTIL(server_states[0].lost, 10);
    CHECK_EQ(server_states[0].made, 1);
    return 0;
}

static void test_factory_closes_server(void) { CHECK_EQ(test_run(factory_close_main, NULL, 0), 0); }

static bool under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

static int emfile_main(void *arg) {
    (void)arg;
    nserver_states = 0;
    srv_half_close = false;
    corio_proto_server *srv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &echo_proto, make_state, NULL, NULL, &srv), 0);
    corio_sockaddr addr;
    CHECK_EQ(corio_resolve("127.0.0.1", corio_proto_server_port(srv), AF_INET, 0, &addr, 1), 1);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    int lowest = dup(0);
    close(lowest);
    low = old;
    low.rlim_cur = (rlim_t)lowest;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    CHECK_EQ(corio_connect(c, &addr.u.sa, addr.len), 0);
    CHECK_EQ(corio_write_all(c, "ping", 4), 4);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    corio_sleep(0.3);
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    CHECK(cpu < 0.15); /* it backs off instead of spinning */
    CHECK_EQ(corio_proto_server_connections(srv), 0);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    char buf[8];
    corio_timeout to;
    corio_timeout_enter(&to, 10.0);
    ssize_t n = corio_read(c, buf, sizeof buf);
    CHECK_EQ(corio_timeout_exit(&to, (int)n), 4);
    corio_close(c);
    WAIT_UNTIL(corio_proto_server_connections(srv) == 0, 10); /* it sees our close and closes its side */
    CHECK_EQ(corio_proto_server_connections(srv), 0);
    corio_proto_server_close(srv, 0);
    return 0;
}

static void quiet(int level, const char *msg, void *arg) {
    (void)level;
    (void)msg;
    (void)arg;
}

static void test_emfile(void) {
    if (under_valgrind()) {
        printf("skip EMFILE under valgrind\n");
        return;
    }
    corio_log_set_handler(quiet, NULL);
    CHECK_EQ(test_run(emfile_main, NULL, 0), 0);
    corio_log_set_handler(NULL, NULL);
}

/* ---- datagrams ------------------------------------------------------------------------- */

typedef struct dg {
    int made, lost, errors, last_err;
    char got[64];
    size_t ngot;
    bool echo;
    corio_event ev;
} dg;

static void dg_made(corio_dgram_transport *t, void *arg) {
    (void)t;
    ((dg *)arg)->made++;
}
static void dg_data(corio_dgram_transport *t, const void *d, size_t n, const struct sockaddr *from, socklen_t fl,
                    void *arg) {
    dg *s = arg;
    if (n <= sizeof s->got) memcpy(s->got, d, n);
    s->ngot = n;
    if (s->echo) corio_dgram_sendto(t, d, n, from, fl);
    corio_event_set(&s->ev);
}
static void dg_error(corio_dgram_transport *t, int err, void *arg) {
    (void)t;
    dg *s = arg;
    s->errors++;
    s->last_err = err;
    corio_event_set(&s->ev);
}
static void dg_lost(corio_dgram_transport *t, int err, void *arg) {
    (void)t;
    (void)err;
    ((dg *)arg)->lost++;
}
static const corio_dgram_protocol dg_proto = {dg_made, dg_data, dg_error, dg_lost};

static int dgram_main(void *arg) {
    (void)arg;
    dg server = {.echo = true}, cl = {0};
    corio_event_init(&server.ev);
    corio_event_init(&cl.ev);
    int sfd = corio_udp_bind("127.0.0.1", 0);
    corio_dgram_transport *st, *ct;
    CHECK_EQ(corio_dgram_open(sfd, &dg_proto, &server, &st), 0);
    int cfd = corio_udp_connect("127.0.0.1", corio_local_port(sfd));
    CHECK_EQ(corio_dgram_open(cfd, &dg_proto, &cl, &ct), 0);
    corio_yield();
    CHECK_EQ(corio_dgram_sendto(ct, "ping", 4, NULL, 0), 0);
    CHECK_EQ(corio_event_wait(&cl.ev), 0);
    CHECK(cl.ngot == 4 && memcmp(cl.got, "ping", 4) == 0);
    CHECK(server.ngot == 4);
    /* The server goes away: the connected client hears ECONNREFUSED. */
    corio_dgram_close(st);
    CHECK_EQ(corio_dgram_sendto(st, "x", 1, NULL, 0), -ESHUTDOWN);
    corio_event_clear(&cl.ev);
    int rc = corio_dgram_sendto(ct, "again", 5, NULL, 0);
    if (rc == 0) {
        corio_timeout to;
        corio_timeout_enter(&to, 1.0);
        rc = corio_timeout_exit(&to, corio_event_wait(&cl.ev));
        if (rc == 0) CHECK_EQ(cl.last_err, -ECONNREFUSED);
    } else {
        CHECK_EQ(rc, -ECONNREFUSED);
    }
    corio_dgram_close(ct);
    corio_yield();
    CHECK_EQ(server.made + cl.made, 2);
    CHECK_EQ(server.lost + cl.lost, 2);
    corio_event_destroy(&server.ev);
    corio_event_destroy(&cl.ev);
    CHECK_EQ(corio_dgram_open(-1, &dg_proto, NULL, NULL), -EBADF);
    CHECK_EQ(corio_dgram_open(0, NULL, NULL, NULL), -EINVAL);
    return 0;
}

static void test_dgram(void) { CHECK_EQ(test_run(dgram_main, NULL, 0), 0); }

/* ---- helpers for the bulk cases --------------------------------------------------------- */

/* The io_uring test hooks of protocol.c (see there). */
extern unsigned corio__proto_test_nbufs, corio__proto_test_bufsize;
extern int corio__proto_test_no_multishot;

static bool on_uring(void) { return strcmp(corio_loop_backend(corio_loop_current()), "io_uring") == 0; }


/* Log messages containing `log_want` are counted; warnings and errors are printed. */
static const char *log_want;
static int log_hits;
static void counting_log(int level, const char *msg, void *arg) {
    (void)arg;
    if (log_want && strstr(msg, log_want)) log_hits++;
    if (level >= CORIO_LOG_WARNING) fprintf(stderr, "corio: %s\n", msg);
}
static void log_watch(const char *want) {
    log_want = want;
    log_hits = 0;
    corio_log_set_handler(counting_log, NULL);
}
static void log_unwatch(void) {
    corio_log_set_handler(NULL, NULL);
    log_want = NULL;
}

/* Wait (sleeping) until *flag is nonzero, for up to `secs`. */
static void wait_flag(const int *flag, double secs) {
    for (int i = 0; i < (int)(secs * 200) && !*flag; i++) corio_sleep(0.005);
}

/* ---- bulk: a big transfer through an echo with flow control, hash-checked ------------------ */

/* The server: echoes, and stops reading while its own queue is above high water. */
static void fe_data(corio_transport *t, const void *d, size_t n, void *arg) {
    ((conn_state *)arg)->bytes += n;
    corio_transport_write(t, d, n);
}
static void fe_pause(corio_transport *t, void *arg) {
    (void)arg;
    corio_transport_pause_reading(t);
}
static void fe_resume(corio_transport *t, void *arg) {
    (void)arg;
    corio_transport_resume_reading(t);
}

/*
 * Whether the client's writer crosses its high-water mark must not depend
 * on how fast the echo keeps up: the server does not read until the
 * writer has paused.  Its connection_made pauses its reading (unless the
 * pause came first), and the client's first pause_writing resumes it.  The
 * kernel's buffers are capped on both sides (the client's send buffer, the
 * server's receive buffer: 1 MiB each as the kernel counts them), so that
 * what the kernel takes without a reader is well below any transfer here
 * (4 MiB and more), whatever the tcp_wmem / tcp_rmem settings: the rest
 * queues in the transport, and the writer must pause.
 */
static corio_transport *held_server; /* the server's transport, not reading until the client paused */
static bool hold_released;           /* the client paused: no holding any more */
static const int bulk_sockbuf = 512 * 1024;

static void fe_made(corio_transport *t, void *arg) {
    srv_made(t, arg);
    setsockopt(corio_transport_fd(t), SOL_SOCKET, SO_RCVBUF, &bulk_sockbuf, sizeof bulk_sockbuf);
    if (!hold_released) {
        corio_transport_pause_reading(t);
        held_server = t;
    }
}
static void release_held_server(void) {
    hold_released = true;
    if (held_server) corio_transport_resume_reading(held_server);
    held_server = NULL;
}
static const corio_protocol flow_echo_proto = {fe_made, fe_data, NULL, srv_lost, fe_pause, fe_resume};

/* The client: writes `total` bytes of the pattern in pieces of varying size
 * as fast as the water marks let it, then half-closes; hashes both ways. */
typedef struct bulk {
    size_t total, sent, got;
    uint64_t h_sent, h_got;
    bool paused_w;
    int pauses, eofs, lost, lost_err, write_errs;
    corio_event done;
} bulk;

static void bulk_pump(corio_transport *t, bulk *b) {
    while (!b->paused_w && b->sent < b->total) {
        size_t off = b->sent % PAT_LEN;
        size_t n = 1 + (b->sent * 7919) % 50000;
        if (n > PAT_LEN - off) n = PAT_LEN - off;
        if (n > b->total - b->sent) n = b->total - b->sent;
        b->h_sent = fnv1a(b->h_sent, pat + off, n);
        if (corio_transport_write(t, pat + off, n) < 0) b->write_errs++;
        b->sent += n;
        if (b->sent == b->total && corio_transport_write_eof(t) < 0) b->write_errs++;
    }
}
static void bk_made(corio_transport *t, void *arg) {
    setsockopt(corio_transport_fd(t), SOL_SOCKET, SO_SNDBUF, &bulk_sockbuf, sizeof bulk_sockbuf);
    bulk_pump(t, arg);
}
static void bk_data(corio_transport *t, const void *d, size_t n, void *arg) {
    (void)t;
    bulk *b = arg;
    b->h_got = fnv1a(b->h_got, d, n);
    b->got += n;
}
static int bk_eof(corio_transport *t, void *arg) {
    (void)t;
    ((bulk *)arg)->eofs++;
    return 0;
}
static void bk_pause(corio_transport *t, void *arg) {
    (void)t;
    bulk *b = arg;
    b->paused_w = true;
    b->pauses++;
    if (!hold_released) release_held_server(); /* the water marks were used: the echo may read now */
}
static void bk_resume(corio_transport *t, void *arg) {
    bulk *b = arg;
    b->paused_w = false;
    bulk_pump(t, b);
}
static void bk_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    bulk *b = arg;
    b->lost++;
    b->lost_err = err;
    corio_event_set(&b->done);
}
static const corio_protocol bulk_proto = {bk_made, bk_data, bk_eof, bk_lost, bk_pause, bk_resume};

static int bulk_main(void *arg) {
    size_t total = *(size_t *)arg;
    nserver_states = 0;
    held_server = NULL;
    hold_released = false;
    corio_proto_server *srv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &flow_echo_proto, make_state, NULL, NULL, &srv), 0);
    bulk b = {.total = total, .h_sent = FNV_INIT, .h_got = FNV_INIT};
    corio_event_init(&b.done);
    CHECK_EQ(corio_create_connection("127.0.0.1", corio_proto_server_port(srv), &bulk_proto, &b, NULL), 0);
    corio_timeout to;
    corio_timeout_enter(&to, 40.0);
    CHECK_EQ(corio_timeout_exit(&to, corio_event_wait(&b.done)), 0);
    CHECK_EQ(b.sent, total);
    CHECK_EQ(b.got, total);
    CHECK(b.h_got == b.h_sent);
    CHECK(b.pauses > 0); /* the water marks were used (certain: the server did not read until then) */
    CHECK(hold_released && !held_server);
    CHECK_EQ(b.write_errs, 0);
    CHECK_EQ(b.eofs, 1);
    CHECK_EQ(b.lost, 1);
    CHECK_EQ(b.lost_err, 0);
    wait_flag(&server_states[0].lost, 10.0);
    CHECK_EQ(server_states[0].bytes, total);
    CHECK_EQ(server_states[0].lost, 1);
    CHECK_EQ(server_states[0].lost_err, 0);
    corio_proto_server_close(srv, 0);
    corio_event_destroy(&b.done);
    return 0;
}

static void test_bulk(void) {
    size_t total = (size_t)64 << 20;
    CHECK_EQ(test_run(bulk_main, &total, 0), 0);
}

/* The same through a buffer ring of two 1 KiB buffers, which runs dry all
 * the time: every recv that finds it empty reads with recv() instead. */
static int tiny_main(void *arg) {
    int rc = bulk_main(arg);
    if (on_uring()) CHECK(log_hits > 0);
    return rc;
}

static void test_bulk_tiny_ring(void) {
    size_t total = (size_t)4 << 20;
    corio__proto_test_nbufs = 2;
    corio__proto_test_bufsize = 1024;
    log_watch("ran dry");
    CHECK_EQ(test_run(tiny_main, &total, 0), 0);
    log_unwatch();
    corio__proto_test_nbufs = corio__proto_test_bufsize = 0;
}

/* ---- pause_reading with data on its way ------------------------------------------------- */

/* Pauses in every data_received and resumes from a later callback: no data
 * (nor EOF) may arrive while paused, and none may be lost. */
typedef struct pz {
    bool paused;
    bool later;            /* resume after 2 ms rather than in the next iteration */
    int violations;        /* data_received or eof_received while paused */
    int calls, eofs, lost, lost_err;
    size_t got, got_at_eof;
    uint64_t h;
    corio_transport *t;
    corio_handle resume_h;
    corio_event done;
} pz;

static void pz_resume(void *arg) {
    pz *z = arg;
    z->paused = false;
    corio_transport_resume_reading(z->t);
}
static void pz_made(corio_transport *t, void *arg) { ((pz *)arg)->t = t; }
static void pz_data(corio_transport *t, const void *d, size_t n, void *arg) {
    pz *z = arg;
    if (z->paused) z->violations++;
    z->calls++;
    z->got += n;
    z->h = fnv1a(z->h, d, n);
    z->paused = true;
    corio_transport_pause_reading(t);
    if (z->later)
        corio_call_later(&z->resume_h, 0.002, pz_resume, z);
    else
        corio_call_soon(&z->resume_h, pz_resume, z);
}
static int pz_eof(corio_transport *t, void *arg) {
    (void)t;
    pz *z = arg;
    if (z->paused) z->violations++;
    z->eofs++;
    z->got_at_eof = z->got;
    return 0;
}
static void pz_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    pz *z = arg;
    z->lost++;
    z->lost_err = err;
    corio_event_set(&z->done);
}
static const corio_protocol pz_proto = {pz_made, pz_data, pz_eof, pz_lost, NULL, NULL};

/* Write `n` bytes of the pattern to fd, hashing them into *h. */
static void write_pattern(int fd, size_t n, uint64_t *h) {
    size_t done = 0;
    while (done < n) {
        size_t off = done % PAT_LEN, k = PAT_LEN - off;
        if (k > n - done) k = n - done;
        CHECK_EQ(corio_write_all(fd, pat + off, k), (long long)k);
        *h = fnv1a(*h, pat + off, k);
        done += k;
    }
}

/* 256 KiB and EOF are in the socket before the transport reads: one recv
 * brings many completions at once, and the first callback pauses. */
static int pause_in_flight_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    uint64_t h = FNV_INIT;
    write_pattern(sv[1], 256 * 1024, &h);
    shutdown(sv[1], SHUT_WR);
    pz z = {.later = true, .h = FNV_INIT};
    corio_event_init(&z.done);
    CHECK_EQ(corio_transport_open(sv[0], &pz_proto, &z, NULL), 0);
    CHECK_EQ(corio_event_wait(&z.done), 0);
    CHECK_EQ(z.violations, 0);
    CHECK_EQ(z.got, 256 * 1024);
    CHECK(z.h == h);
    CHECK_EQ(z.eofs, 1);
    CHECK_EQ(z.got_at_eof, 256 * 1024);
    CHECK_EQ(z.lost, 1);
    CHECK_EQ(z.lost_err, 0);
    corio_close(sv[1]);
    corio_event_destroy(&z.done);
    return 0;
}

static void test_pause_in_flight(void) { CHECK_EQ(test_run(pause_in_flight_main, NULL, 0), 0); }

/* 8 MiB written while the transport pauses in every callback and resumes
 * in the next iteration: a cancel and a re-arm per read. */
static int pause_every_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
    pz z = {.h = FNV_INIT};
    corio_event_init(&z.done);
    CHECK_EQ(corio_transport_open(sv[0], &pz_proto, &z, NULL), 0);
    uint64_t h = FNV_INIT;
    write_pattern(sv[1], (size_t)8 << 20, &h);
    shutdown(sv[1], SHUT_WR);
    CHECK_EQ(corio_event_wait(&z.done), 0);
    CHECK_EQ(z.violations, 0);
    CHECK_EQ(z.got, (size_t)8 << 20);
    CHECK(z.h == h);
    CHECK_EQ(z.eofs, 1);
    CHECK_EQ(z.lost, 1);
    corio_close(sv[1]);
    corio_event_destroy(&z.done);
    return 0;
}

static void test_pause_every_read(void) { CHECK_EQ(test_run(pause_every_main, NULL, 0), 0); }

/* ---- the buffer ring runs dry: 200 connections with 32 KiB waiting each -------------------- */

#define DRY_CONNS 200
#define DRY_BYTES (32 * 1024)

typedef struct dry {
    int idx;
    size_t got;
    int bad, lost, lost_err;
    int *ndone;
    corio_event *all;
} dry;

static const unsigned char *dry_byte(int idx, size_t off) { return &pat[((size_t)idx * 131 + off) % PAT_LEN]; }

static void dry_data(corio_transport *t, const void *d, size_t n, void *arg) {
    dry *c = arg;
    const unsigned char *p = d;
    for (size_t i = 0; i < n; i++)
        if (p[i] != *dry_byte(c->idx, c->got + i)) c->bad++;
    c->got += n;
    if (c->got >= DRY_BYTES) corio_transport_close(t);
}
static void dry_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    dry *c = arg;
    c->lost++;
    c->lost_err = err;
    if (++*c->ndone == DRY_CONNS) corio_event_set(c->all);
}
static const corio_protocol dry_proto = {NULL, dry_data, NULL, dry_lost, NULL, NULL};

static int ring_dry_main(void *arg) {
    static dry cs[DRY_CONNS];
    static int peer[DRY_CONNS];
    int ndone = 0;
    corio_event all;
    corio_event_init(&all);
    unsigned char buf[DRY_BYTES];
    for (int i = 0; i < DRY_CONNS; i++) {
        int sv[2];
        CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
        for (size_t o = 0; o < DRY_BYTES; o++) buf[o] = *dry_byte(i, o);
        CHECK_EQ(corio_write_all(sv[1], buf, DRY_BYTES), DRY_BYTES);
        cs[i] = (dry){.idx = i, .ndone = &ndone, .all = &all};
        peer[i] = sv[1];
        CHECK_EQ(corio_transport_open(sv[0], &dry_proto, &cs[i], NULL), 0);
    }
    /* All 200 start reading in one iteration: 400 buffers' worth for 128. */
    corio_timeout to;
    corio_timeout_enter(&to, 20.0);
    CHECK_EQ(corio_timeout_exit(&to, corio_event_wait(&all)), 0);
    int bad = 0, short_ = 0, lost = 0;
    for (int i = 0; i < DRY_CONNS; i++) {
        bad += cs[i].bad;
        short_ += cs[i].got != DRY_BYTES;
        lost += cs[i].lost == 1 && cs[i].lost_err == 0;
        corio_close(peer[i]);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(short_, 0);
    CHECK_EQ(lost, DRY_CONNS);
    if (on_uring() && *(bool *)arg) CHECK(log_hits > 0);
    corio_event_destroy(&all);
    return 0;
}

/* Nothing may be lost either way.  Whether the default ring runs dry
 * depends on how many completions the kernel posts before the loop reaps
 * them and gives the buffers back (on Linux 6.18 neither 128 nor 16
 * buffers ran dry here); with 4 x 4 KiB it must, 200 times. */
static void test_ring_dry(void) {
    log_watch("ran dry");
    bool must = false;
    CHECK_EQ(test_run(ring_dry_main, &must, 0), 0);
    corio__proto_test_nbufs = 4;
    corio__proto_test_bufsize = 4096;
    must = true;
    log_hits = 0;
    CHECK_EQ(test_run(ring_dry_main, &must, 0), 0);
    corio__proto_test_nbufs = corio__proto_test_bufsize = 0;
    log_unwatch();
}

/* ---- close / abort from inside data_received, with more data on its way ---------------------- */

typedef struct cid {
    bool abort;
    int calls, lost, lost_err;
    corio_event done;
} cid;

static unsigned char reply[1 << 20];

static void cid_data(corio_transport *t, const void *d, size_t n, void *arg) {
    (void)d;
    (void)n;
    cid *c = arg;
    c->calls++;
    CHECK_EQ(corio_transport_write(t, reply, sizeof reply), 0); /* a big reply: still being sent at close */
    if (c->abort)
        corio_transport_abort(t);
    else
        corio_transport_close(t);
    CHECK_EQ(corio_transport_write(t, "x", 1), -ESHUTDOWN);
}
static void cid_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    cid *c = arg;
    c->lost++;
    c->lost_err = err;
    corio_event_set(&c->done);
}
static const corio_protocol cid_proto = {NULL, cid_data, NULL, cid_lost, NULL, NULL};

static int close_in_data_main(void *arg) {
    bool abort_ = *(bool *)arg;
    int sv[2];
    CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
    uint64_t h = FNV_INIT;
    /* Several completions' worth, but what one read takes under epoll: a
     * Unix socket closed with unread data resets its peer. */
    write_pattern(sv[1], 48 * 1024, &h);
    cid c = {.abort = abort_};
    corio_event_init(&c.done);
    CHECK_EQ(corio_transport_open(sv[0], &cid_proto, &c, NULL), 0);
    /* The peer reads: the whole reply then EOF after close; after abort, what got through, then EOF or a reset. */
    size_t total = 0;
    static char buf[65536];
    ssize_t n;
    while ((n = corio_read(sv[1], buf, sizeof buf)) > 0) {
        if (!abort_ && memcmp(buf, reply + total, (size_t)n) != 0) CHECK(0);
        total += (size_t)n;
    }
    if (abort_)
        CHECK(n == 0 || n == -ECONNRESET);
    else {
        CHECK_EQ(n, 0);
        CHECK_EQ(total, sizeof reply);
    }
    CHECK_EQ(corio_event_wait(&c.done), 0);
    corio_sleep(0.02); /* anything late would show here */
    CHECK_EQ(c.calls, 1);
    CHECK_EQ(c.lost, 1);
    CHECK_EQ(c.lost_err, 0);
    corio_close(sv[1]);
    corio_event_destroy(&c.done);
    return 0;
}

static void test_close_in_data(void) {
    for (size_t i = 0; i < sizeof reply; i++) reply[i] = (unsigned char)(i * 31 + (i >> 9));
    bool abort_ = false;
    CHECK_EQ(test_run(close_in_data_main, &abort_, 0), 0);
    abort_ = true;
    CHECK_EQ(test_run(close_in_data_main, &abort_, 0), 0);
}

/* ---- the peer resets while the server is writing ------------------------------------------ */

static void spew_made(corio_transport *t, void *arg) {
    ((conn_state *)arg)->made++;
    for (int i = 0; i < 8; i++) corio_transport_write(t, reply, sizeof reply); /* 8 MiB: far more than the socket takes */
}
static void spew_data(corio_transport *t, const void *d, size_t n, void *arg) {
    (void)t;
    (void)d;
    ((conn_state *)arg)->bytes += n;
}
static const corio_protocol spew_proto = {spew_made, spew_data, NULL, srv_lost, NULL, NULL};

static int reset_writing_main(void *arg) {
    (void)arg;
    nserver_states = 0;
    corio_proto_server *srv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &spew_proto, make_state, NULL, NULL, &srv), 0);
    int fd = corio_tcp_connect("127.0.0.1", corio_proto_server_port(srv));
    CHECK(fd >= 0);
    static char buf[65536];
    size_t total = 0;
    while (total < 256 * 1024) {
        ssize_t n = corio_read(fd, buf, sizeof buf);
        if (n <= 0) break;
        total += (size_t)n;
    }
    CHECK(total >= 256 * 1024);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    corio_close(fd); /* a reset, with the server's send in flight */
    wait_flag(&server_states[0].lost, 10.0);
    CHECK_EQ(server_states[0].lost, 1);
    CHECK(server_states[0].lost_err == -ECONNRESET || server_states[0].lost_err == -EPIPE);
    CHECK_EQ(corio_proto_server_connections(srv), 0);
    corio_proto_server_close(srv, 0);
    return 0;
}

static void test_reset_while_writing(void) {
    for (size_t i = 0; i < sizeof reply; i++) reply[i] = (unsigned char)(i * 31 + (i >> 9));
    CHECK_EQ(test_run(reset_writing_main, NULL, 0), 0);
}

/* ---- a kernel without multishot recv: transports fall back to add_reader ------------------- */

static int no_multishot_main(void *arg) {
    int rc = echo_main(arg);
    if (on_uring()) CHECK(log_hits > 0);
    return rc;
}

static void test_no_multishot(void) {
    corio__proto_test_no_multishot = 1;
    log_watch("multishot recv refused");
    CHECK_EQ(test_run(no_multishot_main, NULL, 0), 0);
    log_unwatch();
    corio__proto_test_no_multishot = 0;
}

/* ---- a transport over a pipe whose reader is gone: -EPIPE, never SIGPIPE ------------- */

static int pw_lost, pw_err, pw_write_rc;

static void pw_made(corio_transport *t, void *arg) {
    (void)arg;
    pw_write_rc = corio_transport_write(t, "x", 1);
}
static void pw_data(corio_transport *t, const void *d, size_t n, void *arg) { (void)t, (void)d, (void)n, (void)arg; }
static void pw_lost_cb(corio_transport *t, int err, void *arg) {
    (void)t, (void)arg;
    pw_lost++;
    pw_err = err;
}
static const corio_protocol pipe_writer_proto = {pw_made, pw_data, NULL, pw_lost_cb, NULL, NULL};

static int pipe_writer_main(void *arg) {
    (void)arg;
    pw_lost = pw_err = pw_write_rc = 0;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    close(p[0]);
    CHECK_EQ(corio_transport_open(p[1], &pipe_writer_proto, NULL, NULL), 0);
    WAIT_UNTIL(pw_lost, 10);
    CHECK_EQ(pw_lost, 1);
    CHECK_EQ(pw_err, -EPIPE);
    CHECK(pw_write_rc == 0 || pw_write_rc == -EPIPE);
    return 0;
}

static void test_pipe_writer_no_sigpipe(void) {
    void (*old)(int) = signal(SIGPIPE, SIG_DFL); /* a C program's default: the signal would kill us */
    CHECK_EQ(test_run(pipe_writer_main, NULL, 0), 0);
    signal(SIGPIPE, old);
}

static void run_all(void) {
    RUN_NET_TEST(test_echo);
    RUN_NET_TEST(test_reset);
    RUN_NET_TEST(test_flow_control);
    RUN_NET_TEST(test_server);
    RUN_NET_TEST(test_emfile);
    RUN_NET_TEST(test_accept_backlog);
    RUN_NET_TEST(test_factory_closes_server);
    RUN_NET_TEST(test_dgram);
    RUN_NET_TEST(test_bulk);
    RUN_NET_TEST(test_bulk_tiny_ring);
    RUN_NET_TEST(test_pause_in_flight);
    RUN_NET_TEST(test_pause_every_read);
    RUN_NET_TEST(test_ring_dry);
    RUN_NET_TEST(test_close_in_data);
    RUN_NET_TEST(test_reset_while_writing);
    RUN_NET_TEST(test_no_multishot);
    RUN_NET_TEST(test_pipe_writer_no_sigpipe);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pat_init();
    net_warm_up();
    run_on_each_backend(run_all);
    CHECK_EQ(corio_transport_open(-1, &echo_proto, NULL, NULL), -EBADF);
    CHECK_EQ(corio_transport_write(NULL, "x", 1), -EINVAL);
    TEST_MAIN_END();
}
