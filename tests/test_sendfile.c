/* corio_sock_sendfile and corio_writer_sendfile: asyncio's loop.sock_sendfile
 * and loop.sendfile.  The cases follow CPython 3.13's
 * test_asyncio/test_sendfile.py (SendfileMixin: the data arrives whole and in
 * order around regular writes, a write during a sendfile is refused, the
 * peer closing midway is an error and not a crash, a forced fallback, a
 * fallback refused) and test_unix_events.py's SelectorEventLoopUnixSockSendfileTests
 * (offset and count, the file's position afterwards, a cancellation, a
 * non-stream or blocking socket, a negative offset), with asyncio's outcomes
 * as errno values (ValueError -> -EINVAL, SendfileNotAvailableError ->
 * -EOPNOTSUPP, RuntimeError "sendfile is in progress" -> -EBUSY).  One
 * difference is checked on purpose: with an explicit offset the file's own
 * position stays put (sendfile(2)'s rule), where asyncio moves it. */
#include "test.h"

#include "net_util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sys/socket.h>

#define BIG (6 * 1024 * 1024 + 777) /* well past a socket's buffer: the sender waits for room */

static char *data;      /* the file's bytes */
static size_t data_len; /* and their count */

/* A temporary file holding data[0..len), its position at 0. */
static int make_file(size_t len) {
    char path[] = "/tmp/corio-sendfile-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    for (size_t off = 0; off < len;) {
        ssize_t k = write(fd, data + off, len - off);
        CHECK(k > 0);
        if (k <= 0) break;
        off += (size_t)k;
    }
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* A connected stream pair over TCP on 127.0.0.1 (as CPython's tests use). */
static void tcp_pair(int *a, int *b) {
    int lfd = corio_tcp_listen("127.0.0.1", 0, 8);
    CHECK(lfd >= 0);
    int port = corio_local_port(lfd);
    *a = corio_tcp_connect("127.0.0.1", port);
    CHECK(*a >= 0);
    *b = corio_accept(lfd, NULL, NULL);
    CHECK(*b >= 0);
    corio_close(lfd);
}

/* The receiving side: read everything up to the end of stream (or `stop`
 * bytes, then close) and remember it. */
typedef struct sink {
    int fd;
    size_t stop;        /* close after this many bytes (0: read to the end) */
    corio_event *go;    /* wait for this before reading (NULL: read at once) */
    char *got;
    size_t len;
} sink;

static int sink_main(void *arg) {
    sink *s = arg;
    if (s->go) CHECK_EQ(corio_event_wait(s->go), 0);
    size_t cap = BIG * 2 + 4096;
    s->got = malloc(cap);
    for (;;) {
        size_t want = cap - s->len;
        if (s->stop && s->stop - s->len < want) want = s->stop - s->len;
        if (!want) break;
        ssize_t k = corio_read(s->fd, s->got + s->len, want);
        if (k <= 0) break;
        s->len += (size_t)k;
    }
    corio_close(s->fd);
    return 0;
}

static void sink_check(const sink *s, const void *want, size_t len) {
    CHECK_EQ(s->len, len);
    CHECK(s->len == len && memcmp(s->got, want, len) == 0);
}

/* ---- loop.sock_sendfile --------------------------------------------------------- */

static int sock_whole_main(void *arg) {
    (void)arg;
    int a, b, fd = make_file(BIG);
    tcp_pair(&a, &b);
    sink s = {.fd = b};
    corio_task *t = corio_spawn(sink_main, &s);
    CHECK_EQ(corio_sock_sendfile(a, fd, NULL, 0, 0), BIG);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), BIG); /* the position moved past what went */
    corio_close(a);
    CHECK_EQ(corio_join(t), 0);
    sink_check(&s, data, BIG);
    free(s.got);
    close(fd);
    return 0;
}

static void sock_whole(void) { test_run(sock_whole_main, NULL, 0); }

static int sock_offset_count_main(void *arg) {
    (void)arg;
    int a, b, fd = make_file(BIG);
    tcp_pair(&a, &b);
    sink s = {.fd = b};
    corio_task *t = corio_spawn(sink_main, &s);
    off_t off = 1000;
    CHECK_EQ(corio_sock_sendfile(a, fd, &off, 2000, 0), 2000);
    CHECK_EQ(off, 3000);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0); /* sendfile(2)'s rule: an offset leaves the position alone */
    /* Past the end: stops at the end of the file. */
    off = BIG - 10;
    CHECK_EQ(corio_sock_sendfile(a, fd, &off, 100, 0), 10);
    CHECK_EQ(off, BIG);
    /* From the end: nothing. */
    CHECK_EQ(corio_sock_sendfile(a, fd, &off, 0, 0), 0);
    /* From the position, which moves. */
    CHECK_EQ(lseek(fd, 5, SEEK_SET), 5);
    CHECK_EQ(corio_sock_sendfile(a, fd, NULL, 3, 0), 3);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 8);
    corio_close(a);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(s.len, 2000 + 10 + 3);
    if (s.len == 2013) {
        CHECK(memcmp(s.got, data + 1000, 2000) == 0);
        CHECK(memcmp(s.got + 2000, data + BIG - 10, 10) == 0);
        CHECK(memcmp(s.got + 2010, data + 5, 3) == 0);
    }
    free(s.got);
    close(fd);
    return 0;
}

static void sock_offset_count(void) { test_run(sock_offset_count_main, NULL, 0); }

static int sock_empty_file_main(void *arg) {
    (void)arg;
    int a, b, fd = make_file(0);
    tcp_pair(&a, &b);
    CHECK_EQ(corio_sock_sendfile(a, fd, NULL, 0, 0), 0);
    corio_close(a);
    corio_close(b);
    close(fd);
    return 0;
}

static void sock_empty_file(void) { test_run(sock_empty_file_main, NULL, 0); }

static int sock_bad_args_main(void *arg) {
    (void)arg;
    int fd = make_file(100);
    int dg[2];
    CHECK_EQ(corio_socketpair(SOCK_DGRAM, dg), 0);
    CHECK_EQ(corio_sock_sendfile(dg[0], fd, NULL, 0, 0), -EINVAL); /* only SOCK_STREAM */
    int a, b;
    tcp_pair(&a, &b);
    off_t neg = -1;
    CHECK_EQ(corio_sock_sendfile(a, fd, &neg, 0, 0), -EINVAL);
    CHECK_EQ(corio_sock_sendfile(a, fd, NULL, 0, 0x100), -EINVAL);
    CHECK_EQ(corio_sock_sendfile(-1, fd, NULL, 0, 0), -EBADF);
    CHECK_EQ(corio_sock_sendfile(a, -1, NULL, 0, 0), -EBADF);
    CHECK_EQ(corio_sock_sendfile(fd, fd, NULL, 0, 0), -ENOTSOCK);
    /* A blocking socket would block the loop. */
    int fl = fcntl(a, F_GETFL);
    CHECK_EQ(fcntl(a, F_SETFL, fl & ~O_NONBLOCK), 0);
    CHECK_EQ(corio_sock_sendfile(a, fd, NULL, 0, 0), -EINVAL);
    CHECK_EQ(fcntl(a, F_SETFL, fl), 0);
    /* A pipe has no position to send from (asyncio's file.tell fails). */
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(corio_sock_sendfile(a, p[0], NULL, 0, 0), -ESPIPE);
    off_t zero = 0;
    CHECK_EQ(corio_sock_sendfile(a, p[0], &zero, 0, 0), -ESPIPE);
    CHECK_EQ(zero, 0);
    /* A directory has a position, but sendfile(2) refuses it (EINVAL):
     * without the fallback that is "not available", with it the read's
     * own error. */
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dir >= 0);
    CHECK_EQ(corio_sock_sendfile(a, dir, NULL, 0, CORIO_SENDFILE_NO_FALLBACK), -EOPNOTSUPP);
    CHECK_EQ(corio_sock_sendfile(a, dir, NULL, 0, 0), -EISDIR);
    close(dir);
    close(p[0]);
    close(p[1]);
    corio_close(dg[0]);
    corio_close(dg[1]);
    corio_close(a);
    corio_close(b);
    close(fd);
    return 0;
}

static void sock_bad_args(void) {
    test_run(sock_bad_args_main, NULL, 0);
    int fd = make_file(1);
    CHECK_EQ(corio_sock_sendfile(0, fd, NULL, 0, 0), -EPERM); /* outside a task */
    close(fd);
}

/* Cancelled while waiting for room: what went is in *offset, and a second
 * call from there completes the file with nothing lost or doubled. */
typedef struct sender {
    int sock;
    corio_writer *w;
    int fd;
    off_t off;
    ssize_t rc;
} sender;

static int sock_sender_main(void *arg) {
    sender *x = arg;
    x->rc = corio_sock_sendfile(x->sock, x->fd, &x->off, 0, 0);
    return 0;
}


/* The peer reads a little and closes: an error, not a SIGPIPE. */
static int sock_peer_closes_main(void *arg) {
    (void)arg;
    int a, b, fd = make_file(BIG);
    tcp_pair(&a, &b);
    sink s = {.fd = b, .stop = 100000};
    corio_task *rt = corio_spawn(sink_main, &s);
    off_t off = 0;
    ssize_t rc = corio_sock_sendfile(a, fd, &off, 0, 0);
    CHECK(rc == -EPIPE || rc == -ECONNRESET);
    CHECK(off >= 100000 && off < BIG);
    CHECK_EQ(corio_join(rt), 0);
    sink_check(&s, data, 100000);
    free(s.got);
    corio_close(a);
    close(fd);
    return 0;
}

static void sock_peer_closes(void) { test_run(sock_peer_closes_main, NULL, 0); }

/* ---- loop.sendfile through a stream writer -------------------------------------- */

/* test_sendfile_mix_with_regular_send: writes before and after arrive in order. */
static int writer_mix_main(void *arg) {
    (void)arg;
    int a, b, fd = make_file(BIG);
    tcp_pair(&a, &b);
    corio_writer *w = NULL;
    CHECK_EQ(corio_stream_open(a, NULL, NULL, &w), 0);
    sink s = {.fd = b};
    corio_task *rt = corio_spawn(sink_main, &s);
    /* Enough before it that the queue holds some when sendfile starts. */
    size_t head = BIG / 2;
    CHECK_EQ(corio_writer_write(w, data + BIG - head, head), 0);
    CHECK_EQ(corio_writer_write(w, "|", 1), 0);
    CHECK_EQ(corio_writer_sendfile(w, fd, NULL, 0, 0), BIG);
    CHECK_EQ(corio_writer_write(w, "end", 3), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    CHECK_EQ(corio_writer_close(w), 0);
    CHECK_EQ(corio_writer_wait_closed(w), 0);
    corio_writer_free(w);
    CHECK_EQ(corio_join(rt), 0);
    CHECK_EQ(s.len, head + 1 + BIG + 3);
    if (s.len == head + 1 + BIG + 3) {
        CHECK(memcmp(s.got, data + BIG - head, head) == 0);
        CHECK(s.got[head] == '|');
        CHECK(memcmp(s.got + head + 1, data, BIG) == 0);
        CHECK(memcmp(s.got + head + 1 + BIG, "end", 3) == 0);
    }
    free(s.got);
    close(fd);
    return 0;
}

static void writer_mix(void) { test_run(writer_mix_main, NULL, 0); }

static int writer_sender_main(void *arg) {
    sender *x = arg;
    x->rc = corio_writer_sendfile(x->w, x->fd, &x->off, 0, 0);
    return 0;
}

/* Two writes, then the file, in one step. */
static int writer_sender_bars_main(void *arg) {
    sender *x = arg;
    CHECK_EQ(corio_writer_write(x->w, "|", 1), 0);
    CHECK_EQ(corio_writer_write(x->w, "|", 1), 0);
    x->rc = corio_writer_sendfile(x->w, x->fd, &x->off, 0, 0);
    return 0;
}

/* test_sendfile_prevents_bare_write: while the file goes, other writes
 * (and write_eof, and a second sendfile) are refused; afterwards they work.
 *
 * With arg "queued": refused from the call on, also while what was
 * queued before still goes.  The sender wrote twice in the step that
 * called sendfile, so the flush that sendfile runs first would, as at the
 * end of any such iteration, turn coalescing on, whose fast path appends
 * without the checks; the flush leaves it off while a sendfile is in
 * progress (without that, and without the reset after the queue's wait,
 * the write below was accepted and went before the file).  The peer gets
 * the queue, the two bars, the file, the tail. */
static int writer_busy_main(void *arg) {
    bool queued = arg != NULL;
    int a, b, fd = make_file(BIG);
    tcp_pair(&a, &b);
    corio_writer *w = NULL;
    CHECK_EQ(corio_stream_open(a, NULL, NULL, &w), 0);
    corio_event go;
    corio_event_init(&go);
    sink s = {.fd = b, .go = &go};
    corio_task *rt = corio_spawn(sink_main, &s);
    size_t head = queued ? BIG / 2 : 0, bars = queued ? 2 : 0;
    /* More than the socket takes, in pieces small enough to be copied
     * into the queue (a big write would be held by reference, which
     * turns the queue's fast path off by itself). */
    for (size_t at = 0; at < head; at += 8192)
        CHECK_EQ(corio_writer_write(w, data + BIG - head + at, head - at < 8192 ? head - at : 8192), 0);
    if (queued) CHECK_EQ(corio_yield(), 0);
    sender x = {.w = w, .fd = fd};
    corio_task *st = corio_spawn(queued ? writer_sender_bars_main : writer_sender_main, &x);
    yield_n(3); /* the sender waits (for the queue, or for room); end-of-iteration flushes have run */
    CHECK_EQ(corio_writer_write(w, "data", 4), -EBUSY);
    struct iovec iov = {"data", 4};
    CHECK_EQ(corio_writer_writelines(w, &iov, 1), -EBUSY);
    CHECK_EQ(corio_writer_write_eof(w), -EBUSY);
    CHECK_EQ(corio_writer_sendfile(w, fd, NULL, 0, 0), -EBUSY);
    corio_event_set(&go);
    CHECK_EQ(corio_join(st), 0);
    CHECK_EQ(x.rc, BIG);
    CHECK_EQ(x.off, BIG);
    CHECK_EQ(corio_writer_write(w, "tail", 4), 0);
    CHECK_EQ(corio_writer_close(w), 0);
    CHECK_EQ(corio_writer_wait_closed(w), 0);
    corio_writer_free(w);
    CHECK_EQ(corio_join(rt), 0);
    CHECK_EQ(s.len, head + bars + BIG + 4);
    if (s.len == head + bars + BIG + 4) {
        CHECK(memcmp(s.got, data + BIG - head, head) == 0);
        CHECK(memcmp(s.got + head, "||", bars) == 0);
        CHECK(memcmp(s.got + head + bars, data, BIG) == 0);
        CHECK(memcmp(s.got + head + bars + BIG, "tail", 4) == 0);
    }
    free(s.got);
    close(fd);
    corio_event_destroy(&go);
    return 0;
}

static void writer_busy(void) { test_run(writer_busy_main, NULL, 0); }

static void writer_busy_queued(void) { test_run(writer_busy_main, "queued", 0); }

/* Cancelled while waiting for room, on a socket (arg NULL) or through a
 * stream writer: what went is in *offset, the writer is usable again, and
 * a second call from there completes the file with nothing lost or
 * doubled. */
static int cancel_main(void *arg) {
    bool via_writer = arg != NULL;
    int a, b, fd = make_file(BIG);
    tcp_pair(&a, &b);
    corio_writer *w = NULL;
    if (via_writer) CHECK_EQ(corio_stream_open(a, NULL, NULL, &w), 0);
    corio_event go;
    corio_event_init(&go);
    sink s = {.fd = b, .go = &go};
    corio_task *rt = corio_spawn(sink_main, &s);
    sender x = {.sock = a, .w = w, .fd = fd};
    corio_task *st = corio_spawn(via_writer ? writer_sender_main : sock_sender_main, &x);
    yield_n(3); /* the sender fills the socket and waits for room */
    CHECK_EQ(corio_cancel(st), 1);
    CHECK_EQ(corio_join(st), 0);
    CHECK_EQ(x.rc, -ECANCELED);
    CHECK(x.off > 0 && x.off < BIG);
    corio_event_set(&go);
    off_t done = x.off;
    if (via_writer) {
        CHECK_EQ(corio_writer_sendfile(w, fd, &x.off, 0, 0), BIG - done);
        CHECK_EQ(corio_writer_close(w), 0);
        CHECK_EQ(corio_writer_wait_closed(w), 0);
        corio_writer_free(w);
    } else {
        CHECK_EQ(corio_sock_sendfile(a, fd, &x.off, 0, 0), BIG - done);
        corio_close(a);
    }
    CHECK_EQ(x.off, BIG);
    CHECK_EQ(corio_join(rt), 0);
    sink_check(&s, data, BIG);
    free(s.got);
    close(fd);
    corio_event_destroy(&go);
    return 0;
}

static void sock_cancel(void) { test_run(cancel_main, NULL, 0); }
static void writer_cancel(void) { test_run(cancel_main, "writer", 0); }

/* test_sendfile_force_fallback / ..._not_supported: a pipe's writer has no
 * sendfile(2) path here (asyncio's pipe transports have none either): the
 * file is read and written; with CORIO_SENDFILE_NO_FALLBACK it is refused. */
static int writer_fallback_main(void *arg) {
    (void)arg;
    int fd = make_file(BIG);
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    corio_writer *w = NULL;
    CHECK_EQ(corio_stream_open(p[1], NULL, NULL, &w), 0);
    sink s = {.fd = p[0]};
    corio_task *rt = corio_spawn(sink_main, &s);
    CHECK_EQ(corio_writer_sendfile(w, fd, NULL, 0, CORIO_SENDFILE_NO_FALLBACK), -EOPNOTSUPP);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
    CHECK_EQ(corio_writer_write(w, "<", 1), 0);
    off_t off = 10;
    CHECK_EQ(corio_writer_sendfile(w, fd, &off, 0, 0), BIG - 10);
    CHECK_EQ(off, BIG);
    CHECK_EQ(corio_writer_write(w, ">", 1), 0);
    CHECK_EQ(corio_writer_close(w), 0);
    CHECK_EQ(corio_writer_wait_closed(w), 0);
    corio_writer_free(w);
    CHECK_EQ(corio_join(rt), 0);
    CHECK_EQ(s.len, BIG - 10 + 2);
    if (s.len == BIG - 10 + 2) {
        CHECK(s.got[0] == '<' && s.got[s.len - 1] == '>');
        CHECK(memcmp(s.got + 1, data + 10, BIG - 10) == 0);
    }
    free(s.got);
    close(fd);
    return 0;
}

static void writer_fallback(void) { test_run(writer_fallback_main, NULL, 0); }

/* test_sendfile_for_closing_transp: a closing writer is refused. */
static int writer_closed_main(void *arg) {
    (void)arg;
    int a, b, fd = make_file(10);
    tcp_pair(&a, &b);
    corio_writer *w = NULL;
    CHECK_EQ(corio_stream_open(a, NULL, NULL, &w), 0);
    CHECK_EQ(corio_writer_close(w), 0);
    CHECK_EQ(corio_writer_sendfile(w, fd, NULL, 0, 0), -ESHUTDOWN);
    CHECK_EQ(corio_writer_wait_closed(w), 0);
    corio_writer_free(w);
    CHECK_EQ(corio_writer_sendfile(NULL, fd, NULL, 0, 0), -EINVAL);
    corio_close(b);
    close(fd);
    return 0;
}

static void writer_closed(void) { test_run(writer_closed_main, NULL, 0); }

int main(void) {
    data_len = BIG;
    data = malloc(data_len);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < data_len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (char)(x >> 24);
    }
    net_warm_up();
    RUN_NET_TEST(sock_whole);
    RUN_NET_TEST(sock_offset_count);
    RUN_NET_TEST(sock_empty_file);
    RUN_NET_TEST(sock_bad_args);
    RUN_NET_TEST(sock_cancel);
    RUN_NET_TEST(sock_peer_closes);
    RUN_NET_TEST(writer_mix);
    RUN_NET_TEST(writer_busy);
    RUN_NET_TEST(writer_busy_queued);
    RUN_NET_TEST(writer_cancel);
    RUN_NET_TEST(writer_fallback);
    RUN_NET_TEST(writer_closed);
    free(data);
    TEST_MAIN_END();
}
