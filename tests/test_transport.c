/* Streams over a supplied transport (corio/transport.h): the reader's and
 * writer's calls work unchanged over a transport that is itself a stream,
 * as a TLS transport will be.  The transport here xors every byte with a
 * key on the way out and back, so a byte that skipped it would show. */
#include "test.h"
#include "net_util.h"

#include <corio/transport.h>
#include <sys/socket.h>

#define KEY 0x5a

typedef struct xor_tr {
    corio_reader *r; /* the plain stream below */
    corio_writer *w;
    int releases;    /* counted by the test: must end at 1 */
    int *released;
} xor_tr;

static ssize_t xor_read(void *ctx, void *buf, size_t n) {
    xor_tr *x = ctx;
    ssize_t k = corio_reader_read_below(x->r, buf, n); /* as corio_reader_read: every test here runs it */
    for (ssize_t i = 0; i < k; i++) ((unsigned char *)buf)[i] ^= KEY;
    return k;
}

static int xor_write(void *ctx, const struct iovec *iov, int iovcnt) {
    xor_tr *x = ctx;
    for (int i = 0; i < iovcnt; i++) {
        unsigned char tmp[512];
        const unsigned char *p = iov[i].iov_base;
        for (size_t off = 0; off < iov[i].iov_len;) {
            size_t m = iov[i].iov_len - off < sizeof tmp ? iov[i].iov_len - off : sizeof tmp;
            for (size_t j = 0; j < m; j++) tmp[j] = p[off + j] ^ KEY;
            int rc = corio_writer_write_below(x->w, tmp, m); /* as corio_writer_write */
            if (rc < 0) return rc;
            off += m;
        }
    }
    return 0;
}

static size_t xor_buffered(void *ctx) { return corio_writer_buffered(((xor_tr *)ctx)->w); }
static int xor_drain(void *ctx, size_t low) {
    (void)low;
    return corio_writer_drain(((xor_tr *)ctx)->w);
}
static int xor_write_eof(void *ctx) { return corio_writer_write_eof(((xor_tr *)ctx)->w); }
static int xor_close(void *ctx) { return corio_writer_close(((xor_tr *)ctx)->w); }
static void xor_abort(void *ctx) { corio_writer_abort(((xor_tr *)ctx)->w); }
static int xor_wait_closed(void *ctx) { return corio_writer_wait_closed(((xor_tr *)ctx)->w); }
static int xor_fd(void *ctx) { return corio_writer_fd(((xor_tr *)ctx)->w); }
static void xor_release(void *ctx) {
    xor_tr *x = ctx;
    (*x->released)++;
    corio_reader_free(x->r);
    corio_writer_free(x->w);
    free(x);
}

/* Nothing is buffered inside this transport: its end is the stream's below. */
static int xor_at_eof(void *ctx) { return corio_reader_at_eof(((xor_tr *)ctx)->r); }

static const corio_transport_ops xor_ops = {
    .read = xor_read, .write = xor_write, .buffered = xor_buffered, .drain = xor_drain,
    .write_eof = xor_write_eof, .close = xor_close, .abort = xor_abort, .wait_closed = xor_wait_closed,
    .fd = xor_fd, .release = xor_release, .at_eof = xor_at_eof,
};

/* The same transport without at_eof: the end is known only once read. */
static const corio_transport_ops xor_ops_no_at_eof = {
    .read = xor_read, .write = xor_write, .buffered = xor_buffered, .drain = xor_drain,
    .write_eof = xor_write_eof, .close = xor_close, .abort = xor_abort, .wait_closed = xor_wait_closed,
    .fd = xor_fd, .release = xor_release,
};

/* Open a xor stream over fd with the given operations. */
static int xor_open_ops(const corio_transport_ops *ops, int fd, int *released, const corio_stream_opts *o,
                        corio_reader **r, corio_writer **w) {
    xor_tr *x = calloc(1, sizeof *x);
    if (!x) return -ENOMEM;
    x->released = released;
    int rc = corio_stream_open(fd, NULL, &x->r, &x->w);
    if (rc < 0) {
        free(x);
        return rc;
    }
    rc = corio_stream_open_transport(ops, x, o, r, w);
    if (rc < 0) xor_release(x);
    return rc;
}

static int xor_open(int fd, int *released, const corio_stream_opts *o, corio_reader **r, corio_writer **w) {
    return xor_open_ops(&xor_ops, fd, released, o, r, w);
}

/* ---- the peer: a xor stream too, echoing lines until EOF, then "bye" ---- */

static int peer_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    int released = 0;
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(xor_open(fd, &released, NULL, &r, &w), 0);
    for (;;) {
        const char *line;
        size_t len;
        int rc = corio_reader_readline(r, &line, &len);
        if (rc < 0 || len == 0) break;
        CHECK_EQ(corio_writer_write(w, line, len), 0);
        CHECK_EQ(corio_writer_drain(w), 0);
    }
    CHECK(corio_reader_at_eof(r));
    CHECK_EQ(corio_writer_write(w, "bye", 3), 0);
    CHECK_EQ(corio_stream_close(r, w), 0);
    CHECK_EQ(released, 1);
    return 0;
}

static int lines_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    corio_task *peer = corio_spawn(peer_main, (void *)(intptr_t)sv[1]);
    int released = 0;
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(xor_open(sv[0], &released, NULL, &r, &w), 0);
    CHECK(corio_writer_transport(w) != NULL);
    CHECK(corio_reader_transport(r) == corio_writer_transport(w));
    CHECK_EQ(corio_writer_fd(w), sv[0]);
    CHECK(corio_writer_can_write_eof(w));
    /* write, writelines, readline, readuntil, readexactly through it */
    CHECK_EQ(corio_writer_write(w, "hello\n", 6), 0);
    struct iovec iov[3] = {{"wor", 3}, {"ld\nab", 5}, {"c|xyz\n", 6}};
    CHECK_EQ(corio_writer_writelines(w, iov, 3), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 6 && memcmp(line, "hello\n", 6) == 0);
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 6 && memcmp(line, "world\n", 6) == 0);
    CHECK_EQ(corio_reader_readuntil(r, "|", 1, &line, &len), 0);
    CHECK(len == 4 && memcmp(line, "abc|", 4) == 0);
    char buf[8];
    size_t got = 0;
    CHECK_EQ(corio_reader_readexactly(r, buf, 4, &got), 0);
    CHECK(got == 4 && memcmp(buf, "xyz\n", 4) == 0);
    /* half-close: the peer sees EOF, says bye and closes; we read to the end */
    CHECK_EQ(corio_writer_write_eof(w), 0);
    CHECK(corio_writer_write(w, "x", 1) < 0); /* nothing after EOF */
    char all[16];
    ssize_t k = corio_reader_read_to_eof(r, all, sizeof all);
    CHECK(k == 3 && memcmp(all, "bye", 3) == 0);
    CHECK(corio_reader_at_eof(r));
    CHECK_EQ(corio_join(peer), 0);
    CHECK_EQ(corio_stream_close(r, w), 0);
    CHECK_EQ(released, 1);
    return 0;
}

static void test_lines_over_transport(void) { test_run(lines_main, NULL, 0); }

/* A transport with write1: corio_writer_write's piece comes there, without
 * an iovec; writelines still goes to write; write1's failure sticks as
 * write's does. */
static int write1_calls, write1_fail;

static int xor_write1(void *ctx, const void *buf, size_t len) {
    write1_calls++;
    if (write1_fail) return write1_fail;
    struct iovec iov = {(void *)buf, len};
    return xor_write(ctx, &iov, 1);
}

static const corio_transport_ops xor_ops_write1 = {
    .read = xor_read, .write = xor_write, .buffered = xor_buffered, .drain = xor_drain,
    .write_eof = xor_write_eof, .close = xor_close, .abort = xor_abort, .wait_closed = xor_wait_closed,
    .fd = xor_fd, .release = xor_release, .at_eof = xor_at_eof, .write1 = xor_write1,
};

static int write1_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    corio_task *peer = corio_spawn(peer_main, (void *)(intptr_t)sv[1]);
    int released = 0;
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(xor_open_ops(&xor_ops_write1, sv[0], &released, NULL, &r, &w), 0);
    write1_calls = write1_fail = 0;
    CHECK_EQ(corio_writer_write(w, "one\n", 4), 0);
    CHECK_EQ(write1_calls, 1);
    struct iovec iov[2] = {{"tw", 2}, {"o\n", 2}};
    CHECK_EQ(corio_writer_writelines(w, iov, 2), 0);
    CHECK_EQ(write1_calls, 1);
    CHECK_EQ(corio_writer_drain(w), 0);
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 4 && memcmp(line, "one\n", 4) == 0);
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 4 && memcmp(line, "two\n", 4) == 0);
    CHECK_EQ(corio_writer_write_eof(w), 0);
    char all[16];
    ssize_t k = corio_reader_read_to_eof(r, all, sizeof all);
    CHECK(k == 3 && memcmp(all, "bye", 3) == 0);
    CHECK_EQ(corio_join(peer), 0);
    CHECK_EQ(corio_stream_close(r, w), 0);
    CHECK_EQ(released, 1);

    /* A failure of write1 ends the writer: the next write fails without it. */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    released = 0;
    CHECK_EQ(xor_open_ops(&xor_ops_write1, sv[0], &released, NULL, &r, &w), 0);
    write1_calls = 0;
    write1_fail = -EIO;
    CHECK_EQ(corio_writer_write(w, "x", 1), -EIO);
    CHECK_EQ(corio_writer_write(w, "y", 1), -EIO);
    CHECK_EQ(write1_calls, 1);
    CHECK_EQ(corio_writer_drain(w), -EIO);
    write1_fail = 0;
    corio_writer_abort(w);
    corio_writer_free(w);
    corio_reader_free(r);
    CHECK_EQ(released, 1);
    close(sv[1]);
    return 0;
}

static void test_write1_over_transport(void) { test_run(write1_main, NULL, 0); }

/* A read cancelled while the transport is suspended below loses nothing:
 * the bytes that arrive later are read by the next call. */
static int reader_task(void *arg) {
    const char *line;
    size_t len;
    return corio_reader_readline(arg, &line, &len);
}

static int cancel_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    int rel_a = 0, rel_b = 0;
    corio_reader *ra, *rb;
    corio_writer *wa, *wb;
    CHECK_EQ(xor_open(sv[0], &rel_a, NULL, &ra, &wa), 0);
    CHECK_EQ(xor_open(sv[1], &rel_b, NULL, &rb, &wb), 0);
    CHECK_EQ(corio_writer_write(wb, "par", 3), 0);
    corio_task *t = corio_spawn(reader_task, ra);
    yield_n(5);
    CHECK(!corio_task_done(t));
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_writer_write(wb, "tial\n", 5), 0);
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(ra, &line, &len), 0);
    CHECK(len == 8 && memcmp(line, "partial\n", 8) == 0);
    /* a timeout inside corio_timeout is a cancellation too */
    corio_timeout ts;
    corio_timeout_enter(&ts, 0.02);
    int rc = corio_reader_readline(ra, &line, &len);
    CHECK_EQ(corio_timeout_exit(&ts, rc), -ETIMEDOUT);
    CHECK_EQ(corio_stream_close(ra, wa), 0);
    CHECK_EQ(corio_stream_close(rb, wb), 0);
    CHECK_EQ(rel_a, 1);
    CHECK_EQ(rel_b, 1);
    return 0;
}

static void test_cancelled_read_loses_nothing(void) { test_run(cancel_main, NULL, 0); }

/* Bulk both ways with small water marks: drain waits through the
 * transport, every byte arrives in order. */
#define BULK (4u << 20)
static int bulk_writer(void *arg) {
    corio_writer *w = arg;
    for (size_t off = 0; off < BULK;) {
        size_t m = BULK - off < 3000 ? BULK - off : 3000;
        size_t at = off % PAT_LEN;
        if (m > PAT_LEN - at) m = PAT_LEN - at;
        CHECK_EQ(corio_writer_write(w, pat + at, m), 0);
        CHECK_EQ(corio_writer_drain(w), 0);
        off += m;
    }
    CHECK_EQ(corio_writer_write_eof(w), 0);
    return 0;
}

static int bulk_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    int rel_a = 0, rel_b = 0;
    corio_stream_opts o = {.high_water = 8192, .low_water = 1024};
    corio_reader *ra, *rb;
    corio_writer *wa, *wb;
    CHECK_EQ(xor_open(sv[0], &rel_a, &o, &ra, &wa), 0);
    CHECK_EQ(xor_open(sv[1], &rel_b, &o, &rb, &wb), 0);
    corio_task *t = corio_spawn(bulk_writer, wa);
    size_t total = 0;
    bool same = true;
    char buf[7000];
    for (;;) {
        ssize_t k = corio_reader_read(rb, buf, sizeof buf);
        CHECK(k >= 0);
        if (k <= 0) break;
        for (ssize_t i = 0; i < k; i++) same &= (unsigned char)buf[i] == pat[(total + (size_t)i) % PAT_LEN];
        total += (size_t)k;
    }
    CHECK_EQ(total, BULK);
    CHECK(same);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_stream_close(ra, wa), 0);
    CHECK_EQ(corio_stream_close(rb, wb), 0);
    CHECK_EQ(rel_a + rel_b, 2);
    return 0;
}

static void test_bulk_with_drain(void) { test_run(bulk_main, NULL, 0); }

/* Release without close, abort, and misuse: release runs once, after both
 * handles are gone; a missing required operation is refused. */
static int release_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    int rel = 0;
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(xor_open(sv[0], &rel, NULL, &r, &w), 0);
    CHECK_EQ(corio_writer_write(w, "data", 4), 0);
    corio_writer_abort(w);
    CHECK(corio_writer_is_closing(w));
    CHECK(corio_writer_write(w, "x", 1) < 0);
    corio_writer_free(w);
    CHECK_EQ(rel, 0); /* the reader still holds it */
    corio_reader_free(r);
    CHECK_EQ(rel, 1);
    /* a reader-only stream over a transport: its release closes it */
    int rel2 = 0;
    CHECK_EQ(xor_open(sv[1], &rel2, NULL, &r, NULL), 0);
    char b[8];
    /* the other end was closed; what abort dropped never left (io_uring),
     * what a direct send gave the kernel before it did (epoll) arrives */
    ssize_t k = corio_reader_read_to_eof(r, b, sizeof b);
    CHECK(k == 0 || (k == 4 && memcmp(b, "data", 4) == 0));
    corio_reader_free(r);
    CHECK_EQ(rel2, 1);
    corio_transport_ops bad = xor_ops;
    bad.release = NULL;
    CHECK_EQ(corio_stream_open_transport(&bad, NULL, NULL, &r, &w), -EINVAL);
    CHECK_EQ(corio_stream_open_transport(&xor_ops, NULL, NULL, NULL, NULL), -EINVAL);
    return 0;
}

static void test_release_and_abort(void) { test_run(release_main, NULL, 0); }

/* at_eof over a transport: true once the peer's end has arrived and the
 * reader's buffer is empty, with no read after the last byte; without the
 * operation, only a read that meets the end makes it true. */
static int at_eof_main(void *arg) {
    (void)arg;
    for (int with = 1; with >= 0; with--) {
        int sv[2];
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        int rel_a = 0, rel_b = 0;
        corio_reader *ra, *rb;
        corio_writer *wa, *wb;
        CHECK_EQ(xor_open_ops(with ? &xor_ops : &xor_ops_no_at_eof, sv[0], &rel_a, NULL, &ra, &wa), 0);
        CHECK_EQ(xor_open(sv[1], &rel_b, NULL, &rb, &wb), 0);
        CHECK_EQ(corio_writer_write(wb, "end", 3), 0);
        CHECK_EQ(corio_writer_drain(wb), 0);
        char b[3];
        CHECK_EQ(corio_reader_readexactly(ra, b, 3, NULL), 0);
        CHECK(memcmp(b, "end", 3) == 0);
        CHECK(!corio_reader_at_eof(ra)); /* the peer has not ended yet */
        CHECK_EQ(corio_writer_write_eof(wb), 0);
        yield_n(5);
        if (with) {
            WAIT_UNTIL(corio_reader_at_eof(ra), 5);
            CHECK(corio_reader_at_eof(ra));
            CHECK(corio_reader_at_eof(ra)); /* asking consumed nothing */
        } else {
            CHECK(!corio_reader_at_eof(ra));
        }
        char all[4];
        CHECK_EQ(corio_reader_read_to_eof(ra, all, sizeof all), 0);
        CHECK(corio_reader_at_eof(ra));
        CHECK_EQ(corio_stream_close(ra, wa), 0);
        CHECK_EQ(corio_stream_close(rb, wb), 0);
        CHECK_EQ(rel_a + rel_b, 2);
    }
    return 0;
}

static void test_at_eof_over_transport(void) { test_run(at_eof_main, NULL, 0); }


/* ---- corio_stream_push_transport: a transport layered onto an open stream ---- */

/* Push a xor transport onto r / w; its release counts in *released. */
static int xor_push(corio_reader *r, corio_writer *w, int *released) {
    xor_tr *x = calloc(1, sizeof *x);
    if (!x) return -ENOMEM;
    x->released = released;
    int rc = corio_stream_push_transport(r, w, &xor_ops, x, &x->r, &x->w);
    if (rc < 0) free(x);
    return rc;
}

static void xor_bytes(char *out, const char *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (char)(in[i] ^ KEY);
}

/* The bytes our side queued before the push: PUSH_BULK of the pattern
 * (more than the socket takes, so a send is in flight under io_uring and
 * the write watch is on under epoll), then "q2". */
#define PUSH_BULK (2u << 20)

/* The peer, plain: reads the queued bytes (plain), then "up\n" (xor),
 * answers "bye\n" (xor) and closes. */
static int push_peer(void *arg) {
    int fd = (int)(intptr_t)arg;
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_stream_open(fd, NULL, &r, &w), 0);
    char x[8];
    xor_bytes(x, "held\n", 5);
    /* a plain line and, in the same write, the first transport bytes: the
     * reader above holds them when the transport is pushed */
    CHECK_EQ(corio_writer_write(w, "PLAIN\n", 6), 0);
    CHECK_EQ(corio_writer_write(w, x, 5), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    corio_sleep(0.05); /* the other side queues its bulk, which waits for us */
    static char buf[64 * 1024];
    size_t total = 0;
    bool same = true;
    while (total < PUSH_BULK) {
        size_t want = PUSH_BULK - total < sizeof buf ? PUSH_BULK - total : sizeof buf;
        ssize_t k = corio_reader_read(r, buf, want);
        CHECK(k > 0);
        if (k <= 0) break;
        for (ssize_t i = 0; i < k; i++) same &= (unsigned char)buf[i] == pat[(total + (size_t)i) % PAT_LEN];
        total += (size_t)k;
    }
    CHECK(same);
    CHECK_EQ(corio_reader_readexactly(r, buf, 5, NULL), 0);
    CHECK(memcmp(buf, "q2", 2) == 0); /* queued last before the push: still plain */
    xor_bytes(x, "up\n", 3);
    CHECK(memcmp(buf + 2, x, 3) == 0); /* written after it: through the transport */
    xor_bytes(x, "bye\n", 4);
    CHECK_EQ(corio_writer_write(w, x, 4), 0);
    char rest[8];
    CHECK_EQ(corio_reader_read_to_eof(r, rest, sizeof rest), 0); /* our close arrives, nothing more */
    CHECK_EQ(corio_stream_close(r, w), 0);
    return 0;
}

static int push_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    corio_task *peer = corio_spawn(push_peer, (void *)(intptr_t)sv[1]);
    corio_stream_opts o = {.limit = 1000, .high_water = 4096, .low_water = 100};
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_stream_open(sv[0], &o, &r, &w), 0);
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 6 && memcmp(line, "PLAIN\n", 6) == 0);
    WAIT_UNTIL(corio_reader_buffered(r) == 5, 5);
    CHECK_EQ(corio_reader_buffered(r), 5);
    /* queued: the bulk (in flight or watched), then a piece behind it */
    for (size_t off = 0; off < PUSH_BULK;) {
        size_t at = off % PAT_LEN, m = PUSH_BULK - off < PAT_LEN - at ? PUSH_BULK - off : PAT_LEN - at;
        CHECK_EQ(corio_writer_write(w, pat + at, m), 0);
        off += m;
    }
    yield_n(3); /* io_uring: the queue goes into the ring */
    CHECK_EQ(corio_writer_write(w, "q2", 2), 0);
    CHECK(corio_writer_buffered(w) > 0);
    int rel = 0;
    CHECK_EQ(xor_push(r, w, &rel), 0);
    CHECK(corio_writer_transport(w) != NULL);
    CHECK(corio_reader_transport(r) == corio_writer_transport(w));
    CHECK_EQ(corio_writer_fd(w), sv[0]); /* through the transport's fd */
    CHECK_EQ(corio_reader_limit(r), 1000); /* limits and marks kept */
    size_t high = 0, low = 0;
    corio_writer_get_write_buffer_limits(w, &high, &low);
    CHECK(high == 4096 && low == 100);
    CHECK_EQ(corio_reader_buffered(r), 0); /* what r held went below */
    CHECK(corio_writer_buffered(w) > 0);  /* ... as did the queue: the transport's buffered is below's */
    /* the held bytes are read first, through the transport */
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 5 && memcmp(line, "held\n", 5) == 0);
    CHECK_EQ(corio_writer_write(w, "up\n", 3), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 4 && memcmp(line, "bye\n", 4) == 0);
    CHECK_EQ(rel, 0);
    CHECK_EQ(corio_stream_close(r, w), 0); /* ops->close, which closes below; then release */
    CHECK_EQ(rel, 1);
    CHECK_EQ(corio_join(peer), 0);
    return 0;
}

static void test_push_keeps_bytes(void) { test_run(push_main, NULL, 0); }

static int drain_task(void *arg) { return corio_writer_drain(arg); }
static int wait_closed_task(void *arg) { return corio_writer_wait_closed(arg); }

/* Refusals: nothing changes, and the stream works on. */
static int push_busy_main(void *arg) {
    (void)arg;
    int sv[2], sv2[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv2), 0);
    corio_stream_opts o = {.high_water = 1024};
    corio_reader *r, *pr, *r2;
    corio_writer *w, *pw, *w2;
    CHECK_EQ(corio_stream_open(sv[0], &o, &r, &w), 0);
    CHECK_EQ(corio_stream_open(sv[1], NULL, &pr, &pw), 0);
    CHECK_EQ(corio_stream_open(sv2[0], NULL, &r2, &w2), 0);
    int rel = 0;
    corio_reader *br;
    corio_writer *bw;
    /* misuse */
    CHECK_EQ(corio_stream_push_transport(r, w2, &xor_ops, NULL, &br, &bw), -EINVAL);
    CHECK_EQ(corio_stream_push_transport(NULL, w, &xor_ops, NULL, &br, &bw), -EINVAL);
    CHECK_EQ(corio_stream_push_transport(r, w, NULL, NULL, &br, &bw), -EINVAL);
    CHECK_EQ(corio_stream_push_transport(r, w, &xor_ops, NULL, NULL, &bw), -EINVAL);
    corio_transport_ops bad = xor_ops;
    bad.read = NULL;
    CHECK_EQ(corio_stream_push_transport(r, w, &bad, NULL, &br, &bw), -EINVAL);
    /* a read suspended on r */
    corio_task *t = corio_spawn(reader_task, r);
    yield_n(5);
    CHECK(!corio_task_done(t));
    CHECK_EQ(xor_push(r, w, &rel), -EBUSY);
    CHECK_EQ(corio_writer_write(pw, "line\n", 5), 0);
    CHECK_EQ(corio_join(t), 0);
    /* a drain waiting (above high water: the peer does not read) */
    static char big[1 << 20];
    CHECK_EQ(corio_writer_write(w, big, sizeof big), 0);
    t = corio_spawn(drain_task, w);
    yield_n(5);
    CHECK(!corio_task_done(t));
    CHECK_EQ(xor_push(r, w, &rel), -EBUSY);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    /* a wait_closed waiting */
    t = corio_spawn(wait_closed_task, w);
    yield_n(2);
    CHECK(!corio_task_done(t));
    CHECK_EQ(xor_push(r, w, &rel), -EBUSY);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    /* nothing waits: the push is taken, the bytes queued before it go first */
    CHECK_EQ(xor_push(r, w, &rel), 0);
    CHECK_EQ(corio_writer_write(w, "x", 1), 0);
    static char got[(1 << 20) + 1];
    CHECK_EQ(corio_reader_readexactly(pr, got, sizeof got, NULL), 0);
    CHECK(got[sizeof got - 1] == ('x' ^ KEY));
    /* a writer closing, half-closed or failed: refused */
    CHECK_EQ(corio_writer_write_eof(w2), 0);
    CHECK_EQ(xor_push(r2, w2, &rel), -EBUSY);
    corio_writer_close(w2);
    CHECK_EQ(xor_push(r2, w2, &rel), -EBUSY);
    CHECK_EQ(corio_stream_close(r2, w2), 0);
    close(sv2[1]);
    CHECK_EQ(corio_stream_close(r, w), 0);
    CHECK_EQ(rel, 1);
    CHECK_EQ(corio_stream_close(pr, pw), 0);
    return 0;
}

static void test_push_busy(void) { test_run(push_busy_main, NULL, 0); }

/* A transport pushed onto a stream over a transport (xor over xor: the
 * bytes leave plain), and released without a close: both releases run,
 * the upper first. */
static int push_stack_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    int rel_low = 0, rel_up = 0;
    corio_reader *r, *pr;
    corio_writer *w, *pw;
    CHECK_EQ(xor_open(sv[0], &rel_low, NULL, &r, &w), 0);
    CHECK_EQ(corio_stream_open(sv[1], NULL, &pr, &pw), 0);
    char x[8];
    xor_bytes(x, "one\n", 4);
    CHECK_EQ(corio_writer_write(pw, x, 4), 0);
    CHECK_EQ(corio_writer_write(pw, "two\n", 4), 0); /* xor twice: plain */
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 4 && memcmp(line, "one\n", 4) == 0);
    WAIT_UNTIL(corio_reader_buffered(r) == 4, 5);
    CHECK_EQ(xor_push(r, w, &rel_up), 0);
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 4 && memcmp(line, "two\n", 4) == 0);
    CHECK_EQ(corio_writer_write(w, "three\n", 6), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    CHECK_EQ(corio_reader_readline(pr, &line, &len), 0);
    CHECK(len == 6 && memcmp(line, "three\n", 6) == 0);
    corio_reader_free(r);
    CHECK_EQ(rel_up + rel_low, 0);
    corio_writer_free(w); /* closes (ops->close), then releases each layer */
    CHECK_EQ(rel_up, 1);
    CHECK_EQ(rel_low, 1);
    char rest[4];
    CHECK_EQ(corio_reader_read_to_eof(pr, rest, sizeof rest), 0);
    CHECK_EQ(corio_stream_close(pr, pw), 0);
    return 0;
}

static void test_push_onto_transport(void) { test_run(push_stack_main, NULL, 0); }

/* A server's handler pushes a transport onto the handles it was given and
 * returns: the server closes and releases them, which closes the
 * transport and the stream below. */
static int push_server_released;

static int push_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 6 && memcmp(line, "START\n", 6) == 0);
    CHECK_EQ(xor_push(r, w, &push_server_released), 0);
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK_EQ(corio_writer_write(w, line, len), 0);
    return 0;
}

static int push_server_main(void *arg) {
    (void)arg;
    push_server_released = 0;
    corio_server *s;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, push_handler, NULL, &s), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(s), &r, &w), 0);
    char msg[16] = "START\n";
    xor_bytes(msg + 6, "hi\n", 3);
    CHECK_EQ(corio_writer_write(w, msg, 9), 0);
    char back[3], x[3];
    CHECK_EQ(corio_reader_readexactly(r, back, 3, NULL), 0);
    xor_bytes(x, "hi\n", 3);
    CHECK(memcmp(back, x, 3) == 0);
    char rest[4];
    CHECK_EQ(corio_reader_read_to_eof(r, rest, sizeof rest), 0); /* the server closed */
    CHECK_EQ(corio_stream_close(r, w), 0);
    CHECK_EQ(corio_server_shutdown(s, 0), 0);
    CHECK_EQ(push_server_released, 1);
    return 0;
}

static void test_push_in_server_handler(void) { test_run(push_server_main, NULL, 0); }

/* ---- corio_reader_read_below / corio_writer_write_below on a plain stream ---- */

static int below_cancel_task(void *arg) {
    char buf[8192];
    return (int)corio_reader_read_below(arg, buf, sizeof buf);
}

static int below_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    corio_reader *r, *pr;
    corio_writer *w, *pw;
    CHECK_EQ(corio_stream_open(sv[0], NULL, &r, &w), 0);
    CHECK_EQ(corio_stream_open(sv[1], NULL, &pr, &pw), 0);
    char big[8192], small[4];
    /* A read of a page or more with nothing buffered (the direct case). */
    CHECK_EQ(corio_writer_write_below(pw, "hello\nworld", 11), 0);
    CHECK_EQ(corio_writer_drain(pw), 0);
    ssize_t k = corio_reader_read_below(r, big, sizeof big);
    CHECK_EQ(k, 11);
    CHECK(memcmp(big, "hello\nworld", 11) == 0);
    /* Bytes buffered by a readline are read first, and a short read takes
     * the general path: both as corio_reader_read. */
    CHECK_EQ(corio_writer_write_below(pw, "ab\ncdefg", 8), 0);
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK_EQ(len, 3u);
    CHECK_EQ(corio_reader_read_below(r, small, sizeof small), 4);
    CHECK(memcmp(small, "cdef", 4) == 0);
    CHECK_EQ(corio_reader_read_below(r, big, sizeof big), 1);
    CHECK_EQ(big[0], 'g');
    /* A cancelled read consumes nothing. */
    corio_task *t = corio_spawn(below_cancel_task, r);
    CHECK(t != NULL);
    yield_n(5);
    CHECK(!corio_task_done(t));
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_writer_write_below(pw, "x", 1), 0);
    CHECK_EQ(corio_reader_read_below(r, big, sizeof big), 1);
    CHECK_EQ(big[0], 'x');
    /* The end of stream, and a write after a close: as the plain calls. */
    CHECK_EQ(corio_writer_write_eof(pw), 0);
    CHECK_EQ(corio_reader_read_below(r, big, sizeof big), 0);
    CHECK_EQ(corio_writer_close(w), 0);
    CHECK_EQ(corio_writer_write_below(w, "y", 1), -ESHUTDOWN);
    CHECK_EQ(corio_stream_close(r, w), 0);
    CHECK_EQ(corio_stream_close(pr, pw), 0);
    return 0;
}
static void test_below_calls(void) { test_run(below_main, NULL, 0); }

static void run_all(void) {
    RUN_NET_TEST(test_below_calls);
    RUN_NET_TEST(test_lines_over_transport);
    RUN_NET_TEST(test_write1_over_transport);
    RUN_NET_TEST(test_cancelled_read_loses_nothing);
    RUN_NET_TEST(test_bulk_with_drain);
    RUN_NET_TEST(test_release_and_abort);
    RUN_NET_TEST(test_at_eof_over_transport);
    RUN_NET_TEST(test_push_keeps_bytes);
    RUN_NET_TEST(test_push_busy);
    RUN_NET_TEST(test_push_onto_transport);
    RUN_NET_TEST(test_push_in_server_handler);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    pat_init();
    net_warm_up();
    run_on_each_backend(run_all);
    TEST_MAIN_END();
}
