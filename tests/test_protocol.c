/*
 * Transports and protocols (protocol.h) on real sockets: the callback
 * order, echo, half-close, reset, water marks, pause/resume reading, a
 * server's connection cap, close with abort, EMFILE, datagrams.  Every case
 * checks that it leaves no descriptor open.
 */
#include "test.h"
#include "net_util.h"

#include <stdbool.h>
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
    corio_sleep(0.05); /* the server sees our close */
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
    corio_sleep(0.05);
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
    corio_sleep(0.01);
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
    corio_timeout_enter(&to, 2.0);
    ssize_t n = corio_read(c, buf, sizeof buf);
    CHECK_EQ(corio_timeout_exit(&to, (int)n), 4);
    corio_close(c);
    corio_sleep(0.02);
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

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    net_warm_up();
    RUN_NET_TEST(test_echo);
    RUN_NET_TEST(test_reset);
    RUN_NET_TEST(test_flow_control);
    RUN_NET_TEST(test_server);
    RUN_NET_TEST(test_emfile);
    RUN_NET_TEST(test_dgram);
    CHECK_EQ(corio_transport_open(-1, &echo_proto, NULL, NULL), -EBADF);
    CHECK_EQ(corio_transport_write(NULL, "x", 1), -EINVAL);
    TEST_MAIN_END();
}
