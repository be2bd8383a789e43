/* A reader the program feeds itself (corio_reader_new_memory, feed, feed_eof,
 * set_error): the cases of CPython 3.13's test_asyncio/test_streams.py that
 * drive a bare asyncio.StreamReader, each named after the case it ports,
 * with asyncio's outcomes (ValueError from a line over the limit and
 * LimitOverrunError -> -ENOBUFS, IncompleteReadError -> CORIO_EINCOMPLETE
 * with the partial data, an exception set -> the error code set), and
 * corio's own cases after them.
 *
 * asyncio's `stream._buffer` is checked as corio_reader_buffered (its length)
 * and, at the end of a case, by reading what is left to the end. */
#include "test.h"

#include <corio/transport.h>

static const char DATA[] = "line1\nline2\nline3\n"; /* test_streams' self.DATA */
#define DATALEN (sizeof DATA - 1)

#define CASE(name)                                              \
    static int name##_main(void *arg);                          \
    static void name(void) { test_run(name##_main, NULL, 0); } \
    static int name##_main(void *arg)

static corio_reader *mk(size_t limit) {
    corio_stream_opts o = {.limit = limit};
    corio_reader *r = NULL;
    CHECK_EQ(corio_reader_new_memory(&o, &r), 0);
    CHECK(r != NULL);
    return r;
}

static void feed(corio_reader *r, const char *s) { CHECK_EQ(corio_reader_feed(r, s, strlen(s)), 0); }

/* A view or buffer equals the string s. */
static int same(const void *p, size_t len, const char *s) { return len == strlen(s) && memcmp(p, s, len) == 0; }

/* asyncio's `self.assertEqual(want, stream._buffer)`, at the end of a case:
 * the count, then the bytes themselves (read to the end, which the case
 * does not use afterwards).  Frees r. */
static void check_rest_and_free(corio_reader *r, const char *want) {
    CHECK_EQ(corio_reader_buffered(r), strlen(want));
    corio_reader_feed_eof(r);
    char *all = NULL;
    size_t n = 0;
    CHECK_EQ(corio_reader_read_all(r, &all, &n), 0);
    CHECK(all && same(all, n, want));
    free(all);
    corio_reader_free(r);
}

static void check_line(corio_reader *r, const char *want) {
    const char *line = NULL;
    size_t len = 0;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(same(line, len, want));
}

static void check_until(corio_reader *r, const char *sep, const char *want) {
    const char *d = NULL;
    size_t len = 0;
    CHECK_EQ(corio_reader_readuntil(r, sep, strlen(sep), &d, &len), 0);
    CHECK(same(d, len, want));
}

/* ---- loop callbacks and tasks standing in for asyncio's call_soon(cb) and create_task ---- */

/* Feeds its chunks (NULL-terminated), then the end or an error if asked. */
typedef struct feeder {
    corio_reader *r;
    const char *chunks[6];
    int eof;
    int err;
} feeder;

static void feed_cb(void *arg) {
    feeder *f = arg;
    for (int i = 0; f->chunks[i]; i++) feed(f->r, f->chunks[i]);
    if (f->eof) CHECK_EQ(corio_reader_feed_eof(f->r), 0);
    if (f->err) CHECK_EQ(corio_reader_set_error(f->r, f->err), 0);
}

/* What a task's read gave. */
typedef struct reading {
    corio_reader *r;
    size_t n;          /* read / readexactly: how much to ask */
    char buf[256];
    size_t len;        /* bytes in buf */
    int rc;
} reading;

static int read_task(void *arg) {
    reading *g = arg;
    ssize_t k = corio_reader_read(g->r, g->buf, g->n);
    g->len = k > 0 ? (size_t)k : 0;
    g->rc = k < 0 ? (int)k : 0;
    return 0;
}

static int read_all_task(void *arg) {
    reading *g = arg;
    char *all = NULL;
    size_t n = 0;
    g->rc = corio_reader_read_all(g->r, &all, &n);
    if (all && n <= sizeof g->buf) memcpy(g->buf, all, n), g->len = n;
    free(all);
    return 0;
}

static int readline_task(void *arg) {
    reading *g = arg;
    const char *line = NULL;
    size_t len = 0;
    g->rc = corio_reader_readline(g->r, &line, &len);
    if (g->rc == 0 && len <= sizeof g->buf) memcpy(g->buf, line, len), g->len = len;
    return 0;
}

static int readexactly_task(void *arg) {
    reading *g = arg;
    size_t got = 0;
    g->rc = corio_reader_readexactly(g->r, g->buf, g->n, &got);
    g->len = got;
    return 0;
}

/* Run fn(g) as a task and wait for it. */
static void run_task(int (*fn)(void *), reading *g) {
    corio_task *t = corio_spawn(fn, g);
    CHECK(t != NULL);
    CHECK_EQ(corio_join(t), 0);
}

/* create_task(fn), then call_soon(feed_cb, f), run until the task is done. */
static void read_while_fed(int (*fn)(void *), reading *g, feeder *f) {
    corio_task *t = corio_spawn(fn, g);
    CHECK(t != NULL);
    CHECK_EQ(corio_call_soon(NULL, feed_cb, f), 0);
    CHECK_EQ(corio_join(t), 0);
}

/* ---- CPython 3.13 test_streams.StreamTests ------------------------------------------ */

CASE(test_feed_empty_data) {
    (void)arg;
    corio_reader *r = mk(0);
    CHECK_EQ(corio_reader_feed(r, "", 0), 0);
    CHECK_EQ(corio_reader_feed(r, NULL, 0), 0);
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_feed_nonempty_data) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, DATA);
    check_rest_and_free(r, DATA);
    return 0;
}

CASE(test_read_zero) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, DATA);
    char b[8];
    CHECK_EQ(corio_reader_read(r, b, 0), 0);
    check_rest_and_free(r, DATA);
    return 0;
}

CASE(test_read) {
    (void)arg;
    corio_reader *r = mk(0);
    reading g = {.r = r, .n = 30};
    feeder f = {.r = r, .chunks = {DATA}};
    read_while_fed(read_task, &g, &f);
    CHECK_EQ(g.rc, 0);
    CHECK(same(g.buf, g.len, DATA));
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_read_line_breaks) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "line1");
    feed(r, "line2");
    char b[16];
    ssize_t k = corio_reader_read(r, b, 5);
    CHECK(k == 5 && same(b, 5, "line1"));
    check_rest_and_free(r, "line2");
    return 0;
}

CASE(test_read_eof) {
    (void)arg;
    corio_reader *r = mk(0);
    reading g = {.r = r, .n = 1024};
    feeder f = {.r = r, .eof = 1};
    read_while_fed(read_task, &g, &f);
    CHECK_EQ(g.rc, 0);
    CHECK_EQ(g.len, 0);
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_read_until_eof) {
    (void)arg;
    corio_reader *r = mk(0);
    reading g = {.r = r};
    feeder f = {.r = r, .chunks = {"chunk1\n", "chunk2"}, .eof = 1};
    read_while_fed(read_all_task, &g, &f); /* read(-1) */
    CHECK_EQ(g.rc, 0);
    CHECK(same(g.buf, g.len, "chunk1\nchunk2"));
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_read_exception) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "line\n");
    char b[8];
    CHECK_EQ(corio_reader_read(r, b, 2), 2);
    CHECK(same(b, 2, "li"));
    CHECK_EQ(corio_reader_set_error(r, -EIO), 0);
    /* asyncio raises before what is buffered: "ne\n" is never read. */
    CHECK_EQ(corio_reader_read(r, b, 2), -EIO);
    CHECK_EQ(corio_reader_read(r, b, 2), -EIO);
    CHECK_EQ(corio_reader_buffered(r), 3);
    corio_reader_free(r);
    return 0;
}

CASE(test_read_limit) {
    (void)arg;
    corio_reader *r = mk(3);
    feed(r, "chunk");
    char b[8];
    CHECK_EQ(corio_reader_read(r, b, 5), 5);
    CHECK(same(b, 5, "chunk"));
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_readline) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "chunk1 ");
    reading g = {.r = r};
    feeder f = {.r = r, .chunks = {"chunk2 ", "chunk3 ", "\n chunk4"}};
    read_while_fed(readline_task, &g, &f);
    CHECK_EQ(g.rc, 0);
    CHECK(same(g.buf, g.len, "chunk1 chunk2 chunk3 \n"));
    check_rest_and_free(r, " chunk4");
    return 0;
}

CASE(test_readline_limit_with_existing_data) {
    (void)arg;
    const char *line;
    size_t len;
    corio_reader *r = mk(3);
    feed(r, "li");
    feed(r, "ne1\nline2\n");
    CHECK_EQ(corio_reader_readline(r, &line, &len), -ENOBUFS);
    check_rest_and_free(r, "line2\n"); /* the over-long line is dropped through its '\n' */

    r = mk(3);
    feed(r, "li");
    feed(r, "ne1");
    feed(r, "li");
    CHECK_EQ(corio_reader_readline(r, &line, &len), -ENOBUFS);
    check_rest_and_free(r, ""); /* no '\n': everything buffered is dropped */
    return 0;
}

CASE(test_at_eof) {
    (void)arg;
    corio_reader *r = mk(0);
    CHECK_EQ(corio_reader_at_eof(r), 0);
    feed(r, "some data\n");
    CHECK_EQ(corio_reader_at_eof(r), 0);
    check_line(r, "some data\n");
    CHECK_EQ(corio_reader_at_eof(r), 0);
    feed(r, "some data\n");
    CHECK_EQ(corio_reader_feed_eof(r), 0);
    check_line(r, "some data\n");
    CHECK_EQ(corio_reader_at_eof(r), 1);
    corio_reader_free(r);
    return 0;
}

CASE(test_readline_limit) {
    (void)arg;
    /* Fed after readline began to wait. */
    corio_reader *r = mk(7);
    reading g = {.r = r};
    feeder f = {.r = r, .chunks = {"chunk1", "chunk2", "chunk3\n"}, .eof = 1};
    read_while_fed(readline_task, &g, &f);
    CHECK_EQ(g.rc, -ENOBUFS);
    CHECK_EQ(corio_reader_buffered(r), 0);
    corio_reader_free(r);

    r = mk(7);
    g = (reading){.r = r};
    f = (feeder){.r = r, .chunks = {"chunk1", "chunk2\n", "chunk3\n"}, .eof = 1};
    read_while_fed(readline_task, &g, &f);
    CHECK_EQ(g.rc, -ENOBUFS);
    CHECK_EQ(corio_reader_buffered(r), 7);
    check_line(r, "chunk3\n"); /* stream._buffer == b'chunk3\n' */
    corio_reader_free(r);

    /* The strictness of the limit. */
    r = mk(7);
    const char *line;
    size_t len;
    feed(r, "1234567\n");
    check_line(r, "1234567\n");
    CHECK_EQ(corio_reader_buffered(r), 0);
    feed(r, "12345678\n");
    CHECK_EQ(corio_reader_readline(r, &line, &len), -ENOBUFS);
    CHECK_EQ(corio_reader_buffered(r), 0);
    feed(r, "12345678");
    CHECK_EQ(corio_reader_readline(r, &line, &len), -ENOBUFS);
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_readline_nolimit_nowait) {
    (void)arg;
    corio_reader *r = mk(0);
    CHECK_EQ(corio_reader_feed(r, DATA, 6), 0);
    CHECK_EQ(corio_reader_feed(r, DATA + 6, DATALEN - 6), 0);
    check_line(r, "line1\n");
    check_rest_and_free(r, "line2\nline3\n");
    return 0;
}

CASE(test_readline_eof) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "some data");
    CHECK_EQ(corio_reader_feed_eof(r), 0);
    check_line(r, "some data");
    corio_reader_free(r);
    return 0;
}

CASE(test_readline_empty_eof) {
    (void)arg;
    corio_reader *r = mk(0);
    CHECK_EQ(corio_reader_feed_eof(r), 0);
    check_line(r, "");
    corio_reader_free(r);
    return 0;
}

CASE(test_readline_read_byte_count) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, DATA);
    check_line(r, "line1\n");
    char b[8];
    CHECK_EQ(corio_reader_read(r, b, 7), 7);
    CHECK(same(b, 7, "line2\nl"));
    check_rest_and_free(r, "ine3\n");
    return 0;
}

CASE(test_readline_exception) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "line\n");
    check_line(r, "line\n");
    CHECK_EQ(corio_reader_set_error(r, -EIO), 0);
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), -EIO);
    CHECK_EQ(corio_reader_buffered(r), 0);
    corio_reader_free(r);
    return 0;
}

CASE(test_readuntil_separator) {
    (void)arg;
    /* The one-separator part; the tuple forms (b'',) and () are
     * corio_reader_readuntil_any's, in tests/test_readuntil_any.c. */
    corio_reader *r = mk(0);
    const char *d;
    size_t len;
    CHECK_EQ(corio_reader_readuntil(r, "", 0, &d, &len), -EINVAL);
    CHECK_EQ(corio_reader_readuntil(r, NULL, 1, &d, &len), -EINVAL);
    corio_reader_free(r);
    return 0;
}

CASE(test_readuntil_multi_chunks) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "lineAAA");
    check_until(r, "AAA", "lineAAA");
    CHECK_EQ(corio_reader_buffered(r), 0);
    feed(r, "lineAAA");
    check_until(r, "AAA", "lineAAA");
    CHECK_EQ(corio_reader_buffered(r), 0);
    feed(r, "lineAAAxxx");
    check_until(r, "AAA", "lineAAA");
    check_rest_and_free(r, "xxx");
    return 0;
}

CASE(test_readuntil_multi_chunks_1) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "QWEaa");
    feed(r, "XYaa");
    feed(r, "a");
    check_until(r, "aaa", "QWEaaXYaaa");
    CHECK_EQ(corio_reader_buffered(r), 0);

    feed(r, "QWEaa");
    feed(r, "XYa");
    feed(r, "aa");
    check_until(r, "aaa", "QWEaaXYaaa");
    CHECK_EQ(corio_reader_buffered(r), 0);

    feed(r, "aaa");
    check_until(r, "aaa", "aaa");
    CHECK_EQ(corio_reader_buffered(r), 0);

    feed(r, "Xaaa");
    check_until(r, "aaa", "Xaaa");
    CHECK_EQ(corio_reader_buffered(r), 0);

    feed(r, "XXX");
    feed(r, "a");
    feed(r, "a");
    feed(r, "a");
    check_until(r, "aaa", "XXXaaa");
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_readuntil_eof) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "some dataAA");
    CHECK_EQ(corio_reader_feed_eof(r), 0);
    const char *d;
    size_t len;
    CHECK_EQ(corio_reader_readuntil(r, "AAA", 3, &d, &len), CORIO_EINCOMPLETE);
    CHECK(same(d, len, "some dataAA")); /* the partial data, consumed */
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_readuntil_limit_found_sep) {
    (void)arg;
    corio_reader *r = mk(3);
    const char *d;
    size_t len;
    feed(r, "some dataAA");
    CHECK_EQ(corio_reader_readuntil(r, "AAA", 3, &d, &len), -ENOBUFS); /* not found */
    CHECK_EQ(corio_reader_buffered(r), 11);
    feed(r, "A");
    CHECK_EQ(corio_reader_readuntil(r, "AAA", 3, &d, &len), -ENOBUFS); /* is found */
    check_rest_and_free(r, "some dataAAA");
    return 0;
}

CASE(test_readuntil_bytearray) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "some data\r\n");
    check_until(r, "\r\n", "some data\r\n");
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_readexactly_zero_or_less) {
    (void)arg;
    /* Zero only: a size_t count cannot be negative. */
    corio_reader *r = mk(0);
    feed(r, DATA);
    char b[4];
    size_t got = 99;
    CHECK_EQ(corio_reader_readexactly(r, b, 0, &got), 0);
    CHECK_EQ(got, 0);
    check_rest_and_free(r, DATA);
    return 0;
}

CASE(test_readexactly) {
    (void)arg;
    corio_reader *r = mk(0);
    reading g = {.r = r, .n = 2 * DATALEN};
    feeder f = {.r = r, .chunks = {DATA, DATA, DATA}};
    read_while_fed(readexactly_task, &g, &f);
    CHECK_EQ(g.rc, 0);
    CHECK(same(g.buf, g.len, "line1\nline2\nline3\nline1\nline2\nline3\n"));
    check_rest_and_free(r, DATA);
    return 0;
}

CASE(test_readexactly_limit) {
    (void)arg;
    corio_reader *r = mk(3);
    feed(r, "chunk");
    char b[8];
    CHECK_EQ(corio_reader_readexactly(r, b, 5, NULL), 0);
    CHECK(same(b, 5, "chunk"));
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_readexactly_eof) {
    (void)arg;
    corio_reader *r = mk(0);
    reading g = {.r = r, .n = 2 * DATALEN};
    feeder f = {.r = r, .chunks = {DATA}, .eof = 1};
    read_while_fed(readexactly_task, &g, &f);
    CHECK_EQ(g.rc, CORIO_EINCOMPLETE); /* "18 bytes read on a total of 36 expected bytes" */
    CHECK_EQ(g.len, 18);
    CHECK(same(g.buf, g.len, DATA));
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_readexactly_exception) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "line\n");
    char b[8];
    CHECK_EQ(corio_reader_readexactly(r, b, 2, NULL), 0);
    CHECK(same(b, 2, "li"));
    CHECK_EQ(corio_reader_set_error(r, -EIO), 0);
    size_t got = 99;
    CHECK_EQ(corio_reader_readexactly(r, b, 2, &got), -EIO);
    CHECK_EQ(got, 0);
    corio_reader_free(r);
    return 0;
}

CASE(test_exception) {
    (void)arg;
    corio_reader *r = mk(0);
    CHECK_EQ(corio_reader_error(r), 0);
    CHECK_EQ(corio_reader_set_error(r, -EPROTO), 0);
    CHECK_EQ(corio_reader_error(r), -EPROTO);
    corio_reader_free(r);
    return 0;
}

static int set_err_task(void *arg) {
    CHECK_EQ(corio_reader_set_error(arg, -EPROTO), 0);
    return 0;
}

CASE(test_exception_waiter) {
    (void)arg;
    corio_reader *r = mk(0);
    reading g = {.r = r};
    corio_task *t1 = corio_spawn(readline_task, &g);
    corio_task *t2 = corio_spawn(set_err_task, r);
    CHECK(t1 && t2);
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(g.rc, -EPROTO);
    corio_reader_free(r);
    return 0;
}

CASE(test_exception_cancel) {
    (void)arg;
    corio_reader *r = mk(0);
    reading g = {.r = r};
    corio_task *t = corio_spawn(readline_task, &g);
    CHECK(t != NULL);
    yield_n(1); /* run_briefly */
    CHECK(!corio_task_done(t));
    corio_cancel(t);
    yield_n(1);
    CHECK(corio_task_done(t));
    CHECK_EQ(g.rc, -ECANCELED);
    /* The following line fails if set_exception() isn't careful. */
    CHECK_EQ(corio_reader_set_error(r, -EPROTO), 0);
    yield_n(1);
    CHECK_EQ(corio_join(t), 0);
    corio_reader_free(r); /* no waiter left: the loop closes clean */
    return 0;
}

/* A reader of limit 1 over the read end of a pipe (asyncio builds the
 * StreamReader by hand and connects it with connect_read_pipe; here the
 * program writes what the child process wrote), read to the end. */
CASE(test_read_all_from_pipe_reader) {
    (void)arg;
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], "data", 4), 4);
    close(p[1]);
    corio_stream_opts o = {.limit = 1};
    corio_reader *r = NULL;
    CHECK_EQ(corio_stream_open(p[0], &o, &r, NULL), 0);
    char *all = NULL;
    size_t n = 0;
    CHECK_EQ(corio_reader_read_all(r, &all, &n), 0);
    CHECK(all && same(all, n, "data"));
    free(all);
    corio_reader_free(r);
    return 0;
}

/* ---- corio's own ------------------------------------------------------------------ */

/* A read cancelled while it waits takes nothing, whether it waited with
 * part of a line pulled or with nothing: what is fed after the cancel is
 * read by the next call, after what came before. */
CASE(test_cancelled_read_loses_nothing) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "par");
    reading g = {.r = r};
    corio_task *t = corio_spawn(readline_task, &g);
    yield_n(2);
    CHECK(!corio_task_done(t));
    corio_cancel(t);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(g.rc, -ECANCELED);
    feed(r, "tial\n");
    check_line(r, "partial\n");

    g = (reading){.r = r, .n = 4};
    t = corio_spawn(readexactly_task, &g);
    yield_n(2);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(g.rc, -ECANCELED);
    feed(r, "ab");
    g = (reading){.r = r, .n = 4};
    corio_task *t2 = corio_spawn(readexactly_task, &g);
    yield_n(2);
    feed(r, "cdef");
    CHECK_EQ(corio_join(t2), 0);
    CHECK_EQ(g.rc, 0);
    CHECK(same(g.buf, g.len, "abcd"));

    /* Inside a timeout scope: -ETIMEDOUT, nothing taken. */
    corio_timeout to;
    const char *d;
    size_t len;
    CHECK_EQ(corio_timeout_enter(&to, 0.01), 0);
    int rc = corio_reader_readuntil(r, "||", 2, &d, &len);
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    feed(r, "g||");
    check_until(r, "||", "efg||");
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_feed_after_eof) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "x");
    CHECK_EQ(corio_reader_feed_eof(r), 0);
    CHECK_EQ(corio_reader_feed_eof(r), 0); /* again: harmless */
    CHECK_EQ(corio_reader_feed(r, "y", 1), -EPIPE);
    CHECK_EQ(corio_reader_feed(r, "", 0), -EPIPE); /* asyncio asserts before looking at the data */
    CHECK_EQ(corio_reader_at_eof(r), 0);
    char b[4];
    CHECK_EQ(corio_reader_read(r, b, sizeof b), 1);
    CHECK_EQ(corio_reader_at_eof(r), 1);
    CHECK_EQ(corio_reader_read(r, b, sizeof b), 0);
    corio_reader_free(r);
    return 0;
}

/* Calls on readers that were not made by new_memory, and bad arguments. */
CASE(test_not_a_memory_reader) {
    (void)arg;
    int p[2];
    CHECK_EQ(pipe(p), 0);
    corio_reader *pr = NULL;
    CHECK_EQ(corio_stream_open(p[0], NULL, &pr, NULL), 0);
    CHECK_EQ(corio_reader_feed(pr, "x", 1), -EINVAL);
    CHECK_EQ(corio_reader_feed_eof(pr), -EINVAL);
    CHECK_EQ(corio_reader_set_error(pr, -EIO), -EINVAL);
    CHECK_EQ(corio_reader_error(pr), 0);
    CHECK_EQ(write(p[1], "abc", 3), 3);
    char b[1];
    CHECK_EQ(corio_reader_read(pr, b, 1), 1);
    CHECK_EQ(corio_reader_buffered(pr), 2); /* a descriptor reader counts its own buffer */
    corio_reader_free(pr);
    close(p[1]);

    CHECK_EQ(corio_reader_feed(NULL, "x", 1), -EINVAL);
    CHECK_EQ(corio_reader_feed_eof(NULL), -EINVAL);
    CHECK_EQ(corio_reader_set_error(NULL, -EIO), -EINVAL);
    CHECK_EQ(corio_reader_error(NULL), 0);
    CHECK_EQ(corio_reader_buffered(NULL), 0);
    CHECK_EQ(corio_reader_new_memory(NULL, NULL), -EINVAL);

    corio_reader *r = mk(0);
    CHECK_EQ(corio_reader_limit(r), CORIO_STREAM_LIMIT);
    CHECK_EQ(corio_reader_feed(r, NULL, 1), -EINVAL);
    CHECK_EQ(corio_reader_set_error(r, 0), -EINVAL);
    CHECK_EQ(corio_reader_set_error(r, EIO), -EINVAL);
    CHECK_EQ(corio_reader_set_error(r, -EBADF), -EINVAL);
    CHECK_EQ(corio_reader_error(r), 0);
    CHECK(corio_reader_transport(r) != NULL);
    corio_reader_free(r);
    return 0;
}

/* asyncio's RuntimeError "readline() called while another coroutine is
 * already waiting for incoming data": the second waiter gets -EBUSY and
 * the first still gets the data. */
CASE(test_two_waiters) {
    (void)arg;
    corio_reader *r = mk(0);
    reading g1 = {.r = r, .n = 8}, g2 = {.r = r, .n = 8};
    corio_task *t1 = corio_spawn(read_task, &g1);
    yield_n(1);
    run_task(read_task, &g2);
    CHECK_EQ(g2.rc, -EBUSY);
    feed(r, "hello");
    CHECK_EQ(corio_join(t1), 0);
    CHECK_EQ(g1.rc, 0);
    CHECK(same(g1.buf, g1.len, "hello"));
    corio_reader_free(r);
    return 0;
}

/* Bulk: 300 KiB fed in uneven pieces while a task reads records with
 * readexactly and lines with readuntil / readline across the feeds; the
 * reader's limit applies to lines only. */
typedef struct bulk {
    corio_reader *r;
    int records;
    int bad;
} bulk;

static int bulk_reader(void *arg) {
    bulk *b = arg;
    char rec[3000];
    for (int i = 0;; i++) {
        const char *line;
        size_t len;
        int rc = corio_reader_readline(b->r, &line, &len);
        if (rc < 0 || len == 0) break;
        size_t n = strtoul(line, NULL, 10);
        if (n > sizeof rec || corio_reader_readexactly(b->r, rec, n, NULL) != 0) {
            b->bad++;
            break;
        }
        for (size_t j = 0; j < n; j++)
            if (rec[j] != (char)('a' + (i + j) % 26)) b->bad++;
        const char *d;
        if (corio_reader_readuntil(b->r, "END", 3, &d, &len) != 0 || len != 3) b->bad++;
        b->records++;
    }
    return 0;
}

CASE(test_bulk_across_feeds) {
    (void)arg;
    corio_reader *r = mk(16);
    bulk b = {.r = r};
    corio_task *t = corio_spawn(bulk_reader, &b);
    char rec[3100];
    int sent = 0;
    size_t total = 0;
    for (int i = 0; total < 300 * 1024; i++) {
        size_t n = (size_t)(i * 37 % 2900) + 1;
        int h = snprintf(rec, sizeof rec, "%zu\n", n);
        for (size_t j = 0; j < n; j++) rec[h + j] = (char)('a' + (i + j) % 26);
        memcpy(rec + h + n, "END", 3);
        size_t len = (size_t)h + n + 3;
        /* In pieces of 1..700 bytes, a yield now and then so the reader
         * waits mid-record. */
        for (size_t off = 0; off < len;) {
            size_t k = (size_t)(i * 131 + off) % 700 + 1;
            if (k > len - off) k = len - off;
            CHECK_EQ(corio_reader_feed(r, rec + off, k), 0);
            off += k;
            if ((i + off) % 3 == 0) CHECK_EQ(corio_yield(), 0);
        }
        total += len;
        sent++;
    }
    CHECK_EQ(corio_reader_feed_eof(r), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(b.bad, 0);
    CHECK_EQ(b.records, sent);
    CHECK_EQ(corio_reader_at_eof(r), 1);
    corio_reader_free(r);
    return 0;
}

/* An error set while the reader holds bytes it pulled and a task waits
 * for more: the waiter and every later call get the error. */
CASE(test_error_while_waiting_with_pulled_bytes) {
    (void)arg;
    corio_reader *r = mk(0);
    feed(r, "abc");
    reading g = {.r = r, .n = 8};
    corio_task *t = corio_spawn(readexactly_task, &g);
    yield_n(2);
    CHECK(!corio_task_done(t));
    CHECK_EQ(corio_reader_buffered(r), 3);
    CHECK_EQ(corio_reader_set_error(r, -ECONNRESET), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(g.rc, -ECONNRESET);
    char b[4];
    CHECK_EQ(corio_reader_read(r, b, 1), -ECONNRESET);
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), -ECONNRESET);
    CHECK_EQ(corio_reader_feed(r, "more", 4), 0); /* accepted, as asyncio's feed_data, never read */
    CHECK_EQ(corio_reader_read(r, b, 1), -ECONNRESET);
    CHECK_EQ(corio_reader_buffered(r), 7);
    CHECK_EQ(corio_reader_error(r), -ECONNRESET);
    corio_reader_free(r);
    return 0;
}

/* One feed of 1 MiB read with one readexactly, then a feed after the
 * buffers were given back. */
CASE(test_big_feed) {
    (void)arg;
    enum { BIG = 1 << 20 };
    char *in = malloc(BIG), *out = malloc(BIG);
    CHECK(in && out);
    if (!in || !out) return free(in), free(out), 0;
    for (size_t i = 0; i < BIG; i++) in[i] = (char)(i * 7 + i / 4096);
    corio_reader *r = mk(0);
    CHECK_EQ(corio_reader_feed(r, in, BIG), 0);
    CHECK_EQ(corio_reader_buffered(r), BIG);
    CHECK_EQ(corio_reader_readexactly(r, out, BIG, NULL), 0);
    CHECK(memcmp(in, out, BIG) == 0);
    CHECK_EQ(corio_reader_buffered(r), 0);
    feed(r, "x\n");
    check_line(r, "x\n");
    CHECK_EQ(corio_reader_feed(r, in, BIG), 0);
    CHECK_EQ(corio_reader_read(r, out, BIG), BIG); /* nothing buffered: a direct read takes it all */
    check_rest_and_free(r, "");
    free(in);
    free(out);
    return 0;
}

/* Many readers at once (the registry that tells memory readers from
 * others grows, then empties): each is fed and read on its own. */
CASE(test_many_readers) {
    (void)arg;
    enum { N = 3000 };
    corio_reader **rs = calloc(N, sizeof *rs);
    CHECK(rs != NULL);
    if (!rs) return 0;
    for (int i = 0; i < N; i++) {
        rs[i] = mk((size_t)i % 7 + 4); /* lines of up to 4 digits fit */
        char s[32];
        int n = snprintf(s, sizeof s, "%d\n", i);
        CHECK_EQ(corio_reader_feed(rs[i], s, (size_t)n), 0);
    }
    for (int i = 0; i < N; i += 2) corio_reader_free(rs[i]); /* every other one first */
    for (int i = 1; i < N; i += 2) {
        const char *line;
        size_t len;
        CHECK_EQ(corio_reader_readline(rs[i], &line, &len), 0);
        CHECK_EQ(strtol(line, NULL, 10), i);
        CHECK_EQ(corio_reader_feed_eof(rs[i]), 0);
        corio_reader_free(rs[i]);
    }
    free(rs);
    return 0;
}

/* set_error from a task whose step is spent: the drop of the pulled bytes
 * yields once (a reader call's charge), and a cancellation pending then is
 * delivered to that yield; set_error must still drop the bytes and keep
 * the cancellation for the task's next suspending call.  The step's
 * length is learnt from a callback that runs only when the task yields. */
static void set_flag(void *arg) { *(int *)arg = 1; }

CASE(test_set_error_keeps_a_cancellation) {
    (void)arg;
    corio_reader *r = mk(0);
    static char big[8000];
    memset(big, 'x', sizeof big);
    CHECK_EQ(corio_reader_feed(r, big, sizeof big), 0);
    corio_handle h = {0}; /* caller-allocated: zeroed before its first scheduling */
    int flag = 0, reads = 0, yields = 0, period = 0, since = 0;
    char b[1];
    CHECK_EQ(corio_call_soon(&h, set_flag, &flag), 0);
    /* One byte a read until two yields have been seen: the reads between
     * them are a step's worth. */
    while (yields < 2 && reads < 4000) {
        CHECK_EQ(corio_reader_read(r, b, 1), 1);
        reads++;
        since++;
        if (flag) {
            if (yields++) period = since;
            since = 0;
            flag = 0;
            CHECK_EQ(corio_call_soon(&h, set_flag, &flag), 0);
        }
    }
    CHECK(period > 1);
    for (int i = 0; i < period - 1; i++) CHECK_EQ(corio_reader_read(r, b, 1), 1);
    CHECK_EQ(flag, 0);
    corio_task *self = corio_current_task();
    CHECK_EQ(corio_cancel(self), 1);
    size_t unread = corio_reader_buffered(r);
    CHECK_EQ(unread, sizeof big - (size_t)(reads + period - 1));
    CHECK_EQ(corio_reader_set_error(r, -EIO), 0);
    CHECK_EQ(flag, 1);                        /* it did yield */
    CHECK_EQ(corio_reader_read(r, b, 1), -EIO); /* the pulled bytes were dropped all the same */
    CHECK_EQ(corio_reader_buffered(r), unread);  /* and still counted, as asyncio's buffer keeps them */
    CHECK_EQ(corio_task_cancelling(self), 1);
    CHECK_EQ(corio_yield(), -ECANCELED);      /* the cancellation, kept */
    CHECK_EQ(corio_task_uncancel(self), 0);
    CHECK_EQ(corio_yield(), 0);
    corio_reader_free(r);
    return 0;
}

/* Without a loop: feeding and reading what is there work anywhere; a read
 * that would have to wait outside a task gets -EPERM and takes nothing. */
static void test_without_loop(void) {
    corio_reader *r = mk(0);
    feed(r, "one\ntw");
    check_line(r, "one\n");
    const char *line;
    size_t len;
    CHECK_EQ(corio_reader_readline(r, &line, &len), -EPERM);
    feed(r, "o\n");
    check_line(r, "two\n");
    corio_reader_free(r);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN_TEST(test_feed_empty_data);
    RUN_TEST(test_feed_nonempty_data);
    RUN_TEST(test_read_zero);
    RUN_TEST(test_read);
    RUN_TEST(test_read_line_breaks);
    RUN_TEST(test_read_eof);
    RUN_TEST(test_read_until_eof);
    RUN_TEST(test_read_exception);
    RUN_TEST(test_read_limit);
    RUN_TEST(test_readline);
    RUN_TEST(test_readline_limit_with_existing_data);
    RUN_TEST(test_at_eof);
    RUN_TEST(test_readline_limit);
    RUN_TEST(test_readline_nolimit_nowait);
    RUN_TEST(test_readline_eof);
    RUN_TEST(test_readline_empty_eof);
    RUN_TEST(test_readline_read_byte_count);
    RUN_TEST(test_readline_exception);
    RUN_TEST(test_readuntil_separator);
    RUN_TEST(test_readuntil_multi_chunks);
    RUN_TEST(test_readuntil_multi_chunks_1);
    RUN_TEST(test_readuntil_eof);
    RUN_TEST(test_readuntil_limit_found_sep);
    RUN_TEST(test_readuntil_bytearray);
    RUN_TEST(test_readexactly_zero_or_less);
    RUN_TEST(test_readexactly);
    RUN_TEST(test_readexactly_limit);
    RUN_TEST(test_readexactly_eof);
    RUN_TEST(test_readexactly_exception);
    RUN_TEST(test_exception);
    RUN_TEST(test_exception_waiter);
    RUN_TEST(test_exception_cancel);
    RUN_TEST(test_read_all_from_pipe_reader);
    RUN_TEST(test_cancelled_read_loses_nothing);
    RUN_TEST(test_feed_after_eof);
    RUN_TEST(test_not_a_memory_reader);
    RUN_TEST(test_two_waiters);
    RUN_TEST(test_bulk_across_feeds);
    RUN_TEST(test_error_while_waiting_with_pulled_bytes);
    RUN_TEST(test_big_feed);
    RUN_TEST(test_many_readers);
    RUN_TEST(test_set_error_keeps_a_cancellation);
    RUN_TEST(test_without_loop);
    TEST_MAIN_END();
}
