/*
 * BufferedProtocol (protocol.h: corio_buffered_protocol): CPython 3.13's
 * test_asyncio/test_buffered_proto.py (a client receiving 9 KiB into
 * 100-byte buffers, answering once all came, then the server's close is
 * connection_lost without an error), and the rest of asyncio's contract:
 * an empty buffer is fatal (connection_lost with an error, asyncio's
 * "get_buffer() returned an empty buffer"), a buffered server echoing a
 * bulk transfer through buffers of awkward sizes with pause/resume
 * reading from the water marks, a close inside buffer_updated stops the
 * delivery, and the argument checks.  Runs on each backend.
 */
#include "test.h"
#include "net_util.h"

#include <stdbool.h>
#include <sys/socket.h>

/* ---- test_buffered_proto_create_connection ------------------------------------------- */

#define NOISE_REPS 1024
static char noise[9 * NOISE_REPS]; /* b'12345678+' * 1024 */

typedef struct recv_stuff {
    char buffer[100];       /* get_buffer's bytearray(100) */
    char data[sizeof noise];
    size_t ndata;
    int lost, lost_err;
    size_t sizehint_min;    /* the smallest sizehint seen (> 0: a count of bytes waiting) */
    corio_event done;
} recv_stuff;

static void *rs_get_buffer(corio_transport *t, size_t sizehint, size_t *len, void *arg) {
    (void)t;
    recv_stuff *r = arg;
    if (!r->sizehint_min || sizehint < r->sizehint_min) r->sizehint_min = sizehint;
    *len = sizeof r->buffer;
    return r->buffer;
}

static void rs_buffer_updated(corio_transport *t, size_t n, void *arg) {
    recv_stuff *r = arg;
    CHECK(n > 0 && n <= sizeof r->buffer);
    if (r->ndata + n <= sizeof r->data) memcpy(r->data + r->ndata, r->buffer, n);
    r->ndata += n;
    if (r->ndata == sizeof noise && memcmp(r->data, noise, sizeof noise) == 0) corio_transport_write(t, "1", 1);
}

static void rs_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    recv_stuff *r = arg;
    r->lost++;
    r->lost_err = err;
    corio_event_set(&r->done);
}

static const corio_buffered_protocol recv_stuff_proto = {
    .base = {.connection_lost = rs_lost},
    .get_buffer = rs_get_buffer,
    .buffer_updated = rs_buffer_updated,
};

/* The plain-socket server of the CPython case: sendall(NOISE), expect b'1', close. */
typedef struct noise_server {
    int lfd;
    int ok;
} noise_server;

static int noise_server_main(void *arg) {
    noise_server *s = arg;
    int fd = corio_accept(s->lfd, NULL, NULL);
    CHECK(fd >= 0);
    if (fd < 0) return fd;
    CHECK_EQ(corio_write_all(fd, noise, sizeof noise), (ssize_t)sizeof noise);
    char one = 0;
    CHECK_EQ(corio_read(fd, &one, 1), 1);
    s->ok = one == '1';
    corio_close(fd);
    return 0;
}

static int create_connection_main(void *arg) {
    (void)arg;
    noise_server s = {corio_tcp_listen("127.0.0.1", 0, 8), 0};
    CHECK(s.lfd >= 0);
    corio_task *st = corio_spawn(noise_server_main, &s);
    recv_stuff *r = calloc(1, sizeof *r);
    corio_event_init(&r->done);
    corio_transport *t = NULL;
    CHECK_EQ(corio_create_connection_buffered("127.0.0.1", corio_local_port(s.lfd), &recv_stuff_proto, r, &t), 0);
    CHECK_EQ(corio_event_wait(&r->done), 0);
    CHECK_EQ(corio_join(st), 0);
    CHECK(s.ok);
    CHECK_EQ(r->ndata, sizeof noise);
    CHECK_EQ(r->lost, 1);
    CHECK_EQ(r->lost_err, 0);
    CHECK(r->sizehint_min > 0);
    corio_close(s.lfd);
    free(r);
    return 0;
}

static void buffered_create_connection(void) { test_run(create_connection_main, NULL, 0); }

/* ---- an empty buffer is fatal ----------------------------------------------------------- */

static void *empty_get_buffer(corio_transport *t, size_t sizehint, size_t *len, void *arg) {
    (void)t, (void)sizehint;
    *len = 0;
    return arg;
}
static void never_updated(corio_transport *t, size_t n, void *arg) {
    (void)t, (void)n, (void)arg;
    CHECK(!"buffer_updated after an empty buffer");
}

static const corio_buffered_protocol empty_proto = {
    .base = {.connection_lost = rs_lost},
    .get_buffer = empty_get_buffer,
    .buffer_updated = never_updated,
};

static int empty_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
    recv_stuff *r = calloc(1, sizeof *r);
    corio_event_init(&r->done);
    /* empty_get_buffer hands back arg, which is r: non-NULL, size 0. */
    CHECK_EQ(corio_transport_open_buffered(sv[0], &empty_proto, r, NULL), 0);
    CHECK_EQ(corio_write_all(sv[1], "data", 4), 4);
    CHECK_EQ(corio_event_wait(&r->done), 0);
    CHECK_EQ(r->lost, 1);
    CHECK_EQ(r->lost_err, -ENOBUFS);
    char c;
    CHECK_EQ(corio_read(sv[1], &c, 1), 0); /* the transport closed its end */
    corio_close(sv[1]);
    free(r);
    return 0;
}

static void buffered_empty_buffer(void) { test_run(empty_main, NULL, 0); }

/* ---- a buffered echo server: odd buffer sizes, flow control --------------------------- */

typedef struct echo_conn {
    char buf[777];          /* an awkward size: reads split across buffers */
    size_t got;
    int lost, lost_err;
} echo_conn;

static echo_conn echo_conns[4];
static int necho;

static void *echo_factory(void *arg) {
    (void)arg;
    echo_conn *e = &echo_conns[necho++ % 4];
    memset(e, 0, sizeof *e);
    return e;
}
static void *echo_get_buffer(corio_transport *t, size_t sizehint, size_t *len, void *arg) {
    (void)t, (void)sizehint;
    echo_conn *e = arg;
    *len = sizeof e->buf;
    return e->buf;
}
static void echo_updated(corio_transport *t, size_t n, void *arg) {
    echo_conn *e = arg;
    e->got += n;
    CHECK_EQ(corio_transport_write(t, e->buf, n), 0);
}
static void echo_pause(corio_transport *t, void *arg) {
    (void)arg;
    corio_transport_pause_reading(t);
}
static void echo_resume(corio_transport *t, void *arg) {
    (void)arg;
    corio_transport_resume_reading(t);
}
static void echo_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    echo_conn *e = arg;
    e->lost++;
    e->lost_err = err;
}

static const corio_buffered_protocol echo_buffered = {
    .base = {.connection_lost = echo_lost, .pause_writing = echo_pause, .resume_writing = echo_resume},
    .get_buffer = echo_get_buffer,
    .buffer_updated = echo_updated,
};

#define BULK (8u << 20)

typedef struct bulk_writer {
    corio_writer *w;
    uint64_t hash;
} bulk_writer;

static int bulk_write_main(void *arg) {
    bulk_writer *b = arg;
    char piece[65536];
    uint64_t x = 12345;
    for (size_t sent = 0; sent < BULK; sent += sizeof piece) {
        for (size_t i = 0; i < sizeof piece; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            piece[i] = (char)(x >> 56);
        }
        b->hash = fnv1a(b->hash, piece, sizeof piece);
        int rc = corio_writer_write(b->w, piece, sizeof piece);
        if (rc == 0) rc = corio_writer_drain(b->w);
        if (rc < 0) return rc;
    }
    return corio_writer_write_eof(b->w);
}

static int echo_main(void *arg) {
    (void)arg;
    necho = 0;
    corio_proto_server *srv = NULL;
    CHECK_EQ(corio_create_server_buffered("127.0.0.1", 0, &echo_buffered, echo_factory, NULL, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_proto_server_port(srv), &r, &w), 0);
    bulk_writer b = {w, FNV_INIT};
    corio_task *t = corio_spawn(bulk_write_main, &b);
    uint64_t h = FNV_INIT;
    size_t total = 0;
    char *buf = malloc(65536);
    ssize_t n;
    while ((n = corio_reader_read(r, buf, 65536)) > 0) {
        h = fnv1a(h, buf, (size_t)n);
        total += (size_t)n;
    }
    free(buf);
    CHECK_EQ(n, 0); /* the server closed after our EOF (eof_received NULL: close) */
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(total, BULK);
    CHECK(h == b.hash);
    CHECK_EQ(echo_conns[0].got, BULK);
    CHECK_EQ(corio_stream_close(r, w), 0);
    corio_proto_server_close(srv, 0);
    for (int i = 0; i < 100 && !echo_conns[0].lost; i++) corio_yield();
    CHECK_EQ(echo_conns[0].lost, 1);
    CHECK_EQ(echo_conns[0].lost_err, 0);
    return 0;
}

static void buffered_echo_server(void) { test_run(echo_main, NULL, 0); }

/* ---- close inside buffer_updated --------------------------------------------------------- */

typedef struct closer {
    char buf[10];
    int updates, lost;
    corio_event done;
} closer;

static void *closer_get_buffer(corio_transport *t, size_t sizehint, size_t *len, void *arg) {
    (void)t, (void)sizehint;
    closer *c = arg;
    *len = sizeof c->buf;
    return c->buf;
}
static void closer_updated(corio_transport *t, size_t n, void *arg) {
    (void)n;
    closer *c = arg;
    c->updates++;
    corio_transport_close(t);
}
static void closer_lost(corio_transport *t, int err, void *arg) {
    (void)t, (void)err;
    closer *c = arg;
    c->lost++;
    corio_event_set(&c->done);
}

static const corio_buffered_protocol closer_proto = {
    .base = {.connection_lost = closer_lost},
    .get_buffer = closer_get_buffer,
    .buffer_updated = closer_updated,
};

static int closer_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
    closer c = {.updates = 0};
    corio_event_init(&c.done);
    /* 100 bytes in one read, 10-byte buffers: one update, then the close ends it. */
    char data[100];
    memset(data, 'x', sizeof data);
    CHECK_EQ(corio_write_all(sv[1], data, sizeof data), 100);
    CHECK_EQ(corio_transport_open_buffered(sv[0], &closer_proto, &c, NULL), 0);
    CHECK_EQ(corio_event_wait(&c.done), 0);
    CHECK_EQ(c.updates, 1);
    CHECK_EQ(c.lost, 1);
    corio_close(sv[1]);
    return 0;
}

static void buffered_close_inside(void) { test_run(closer_main, NULL, 0); }

/* ---- argument checks -------------------------------------------------------------------- */

static int args_main(void *arg) {
    (void)arg;
    corio_buffered_protocol no_updated = {.get_buffer = rs_get_buffer};
    corio_buffered_protocol no_get = {.buffer_updated = rs_buffer_updated};
    int sv[2];
    CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
    CHECK_EQ(corio_transport_open_buffered(sv[0], &no_updated, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_transport_open_buffered(sv[0], &no_get, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_transport_open_buffered(sv[0], NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_transport_open_buffered(-1, &recv_stuff_proto, NULL, NULL), -EBADF);
    CHECK_EQ(corio_create_connection_buffered("127.0.0.1", 1, &no_get, NULL, NULL), -EINVAL);
    corio_proto_server *s = NULL;
    CHECK_EQ(corio_create_server_buffered("127.0.0.1", 0, &no_updated, NULL, NULL, NULL, &s), -EINVAL);
    CHECK_EQ(corio_create_server_buffered("127.0.0.1", 0, &recv_stuff_proto, NULL, NULL, NULL, NULL), -EINVAL);
    corio_close(sv[0]);
    corio_close(sv[1]);
    return 0;
}

static void buffered_args(void) { test_run(args_main, NULL, 0); }

static void run_all(void) {
    RUN_NET_TEST(buffered_create_connection);
    RUN_NET_TEST(buffered_empty_buffer);
    RUN_NET_TEST(buffered_echo_server);
    RUN_NET_TEST(buffered_close_inside);
    RUN_NET_TEST(buffered_args);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < NOISE_REPS; i++) memcpy(noise + 9 * i, "12345678+", 9);
    net_warm_up();
    run_on_each_backend(run_all);
    TEST_MAIN_END();
}
