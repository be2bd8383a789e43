/* corio_reader_readuntil_any: asyncio 3.13's readuntil given a tuple of
 * separators.  First the cases of CPython 3.13's test_asyncio/test_streams.py
 * that pass a tuple (on a memory reader, as they use a bare StreamReader),
 * with asyncio's outcomes (LimitOverrunError -> -ENOBUFS,
 * IncompleteReadError -> CORIO_EINCOMPLETE, ValueError -> -EINVAL); then
 * cases whose outcomes were taken from Python 3.13 (noted at each); the same
 * over a socket, whose bytes arrive in pieces; and a comparison with a
 * plain reference on random inputs, over both kinds of reader. */
#include "test.h"

#include <sys/socket.h>

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

static int same(const void *p, size_t len, const char *s) { return len == strlen(s) && memcmp(p, s, len) == 0; }

/* Up to three separators, each a C string without its NUL. */
typedef struct seplist {
    struct iovec v[3];
    int n;
} seplist;

static seplist seps_of(const char *a, const char *b, const char *c) {
    seplist s = {.n = 0};
    const char *all[3] = {a, b, c};
    for (int i = 0; i < 3 && all[i]; i++) s.v[s.n++] = (struct iovec){(void *)all[i], strlen(all[i])};
    return s;
}

/* readuntil_any succeeds with `want`, the separator at index `which`. */
static void check_any(corio_reader *r, seplist s, const char *want, int which) {
    const char *d = NULL;
    size_t len = 0;
    int k = -2;
    CHECK_EQ(corio_reader_readuntil_any(r, s.v, s.n, &d, &len, &k), 0);
    CHECK(d && same(d, len, want));
    CHECK_EQ(k, which);
}

/* asyncio's `assertEqual(want, stream._buffer)` at the end of a case: the
 * count, then the bytes (read to the end).  Frees r. */
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

/* ---- CPython 3.13 test_streams.StreamTests, the tuple cases ---------------------------- */

CASE(test_readuntil_separator) {
    (void)arg;
    /* readuntil(separator=(b'',)) and readuntil(separator=()): ValueError. */
    corio_reader *r = mk(0);
    const char *d;
    size_t len;
    int k = 7;
    seplist empty = seps_of("", NULL, NULL);
    CHECK_EQ(corio_reader_readuntil_any(r, empty.v, 1, &d, &len, &k), -EINVAL);
    CHECK_EQ(k, -1);
    seplist one = seps_of("\n", NULL, NULL);
    CHECK_EQ(corio_reader_readuntil_any(r, one.v, 0, &d, &len, NULL), -EINVAL);
    CHECK_EQ(corio_reader_readuntil_any(r, NULL, 1, &d, &len, NULL), -EINVAL);
    /* One of several empty is as bad as one alone; so is a NULL one. */
    seplist mixed = seps_of("\n", "", NULL);
    CHECK_EQ(corio_reader_readuntil_any(r, mixed.v, 2, &d, &len, NULL), -EINVAL);
    struct iovec null_sep[2] = {{(void *)"\n", 1}, {NULL, 1}};
    CHECK_EQ(corio_reader_readuntil_any(r, null_sep, 2, &d, &len, NULL), -EINVAL);
    CHECK_EQ(corio_reader_readuntil_any(NULL, one.v, 1, &d, &len, NULL), -EINVAL);
    CHECK_EQ(corio_reader_readuntil_any(r, one.v, 1, NULL, &len, NULL), -EINVAL);
    corio_reader_free(r);
    return 0;
}

CASE(test_readuntil_multi_separator) {
    (void)arg;
    corio_reader *r = mk(0);
    /* Simple case */
    feed(r, "line 1\nline 2\r");
    check_any(r, seps_of("\r", "\n", NULL), "line 1\n", 1);
    check_any(r, seps_of("\r", "\n", NULL), "line 2\r", 0);
    CHECK_EQ(corio_reader_buffered(r), 0);
    /* First end position matches, even if that's a longer match */
    feed(r, "ABCDEFG");
    check_any(r, seps_of("DEF", "BCDE", NULL), "ABCDE", 1);
    check_rest_and_free(r, "FG");
    return 0;
}

CASE(test_readuntil_multi_separator_limit) {
    (void)arg;
    /* b'A' and b'ome dataA' both end at the last byte: the shorter one is
     * the match, and its start (9) is past the limit: "is found". */
    corio_reader *r = mk(3);
    feed(r, "some dataA");
    seplist s = seps_of("A", "ome dataA", NULL);
    const char *d;
    size_t len;
    int k = 7;
    CHECK_EQ(corio_reader_readuntil_any(r, s.v, s.n, &d, &len, &k), -ENOBUFS);
    CHECK_EQ(k, -1);
    check_rest_and_free(r, "some dataA");
    return 0;
}

/* A task in readuntil_any; what it got. */
typedef struct until_job {
    corio_reader *r;
    seplist s;
    char buf[64];
    size_t len;
    int rc, which;
} until_job;

static int until_task(void *arg) {
    until_job *j = arg;
    const char *d = NULL;
    size_t len = 0;
    j->rc = corio_reader_readuntil_any(j->r, j->s.v, j->s.n, &d, &len, &j->which);
    if (len <= sizeof j->buf) memcpy(j->buf, d, len), j->len = len;
    return 0;
}

static void feed_z(void *arg) { feed(arg, "Z"); }
static void feed_aaaa(void *arg) { feed(arg, "Aaaa"); }

CASE(test_readuntil_multi_separator_negative_offset) {
    (void)arg;
    /* The buffer holds enough for the shortest separator but not the
     * longest: the place searched from must not go below 0. */
    corio_reader *r = mk(0);
    feed(r, "data");
    until_job j = {.r = r, .s = seps_of("A", "long sep", NULL)};
    corio_task *t = corio_spawn(until_task, &j);
    CHECK(t != NULL);
    CHECK_EQ(corio_call_soon(NULL, feed_z, r), 0);
    CHECK_EQ(corio_call_soon(NULL, feed_aaaa, r), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(j.rc, 0);
    CHECK(same(j.buf, j.len, "dataZA"));
    CHECK_EQ(j.which, 0);
    check_rest_and_free(r, "aaa");
    return 0;
}

/* ---- more cases, outcomes from Python 3.13's asyncio.StreamReader ---------------------- */

CASE(test_multi_eof) {
    (void)arg;
    /* IncompleteReadError(partial=b'some dataAA'), buffer emptied. */
    corio_reader *r = mk(0);
    feed(r, "some dataAA");
    corio_reader_feed_eof(r);
    seplist s = seps_of("AAA", "XYZ", NULL);
    const char *d;
    size_t len;
    int k = 7;
    CHECK_EQ(corio_reader_readuntil_any(r, s.v, s.n, &d, &len, &k), CORIO_EINCOMPLETE);
    CHECK(same(d, len, "some dataAA"));
    CHECK_EQ(k, -1);
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_multi_limit_not_found) {
    (void)arg;
    /* LimitOverrunError 'Separator is not found' with consumed 9: the
     * longest separator (3) sets how far back a match could still start. */
    corio_reader *r = mk(3);
    feed(r, "some dataAA");
    seplist s = seps_of("AAA", "B", NULL);
    const char *d;
    size_t len;
    CHECK_EQ(corio_reader_readuntil_any(r, s.v, s.n, &d, &len, NULL), -ENOBUFS);
    check_rest_and_free(r, "some dataAA");
    return 0;
}

static void feed_8(void *arg) { feed(arg, "8"); }

CASE(test_multi_long_separator_keeps_limit_open) {
    (void)arg;
    /* limit 3, b'1234567' buffered: alone, b'9' would be over the limit
     * already, but b'45678' may still start at 3, so asyncio waits; b'8'
     * then completes it: b'12345678'. */
    corio_reader *r = mk(3);
    feed(r, "1234567");
    until_job j = {.r = r, .s = seps_of("9", "45678", NULL)};
    corio_task *t = corio_spawn(until_task, &j);
    CHECK(t != NULL);
    CHECK_EQ(corio_call_soon(NULL, feed_8, r), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(j.rc, 0);
    CHECK(same(j.buf, j.len, "12345678"));
    CHECK_EQ(j.which, 1);
    check_rest_and_free(r, "");
    return 0;
}

CASE(test_multi_ties) {
    (void)arg;
    /* b'xab' for (b'ab', b'ab'), (b'ab', b'b') and (b'b', b'ab'): the
     * whole of it each time; the shorter separator (or the first of equal
     * ones) is the match. */
    corio_reader *r = mk(0);
    feed(r, "xab");
    check_any(r, seps_of("ab", "ab", NULL), "xab", 0);
    feed(r, "xab");
    check_any(r, seps_of("ab", "b", NULL), "xab", 1);
    feed(r, "xab");
    check_any(r, seps_of("b", "ab", NULL), "xab", 0);
    /* One separator: readuntil's answer. */
    feed(r, "xab");
    check_any(r, seps_of("a", NULL, NULL), "xa", 0);
    check_rest_and_free(r, "b");
    return 0;
}

CASE(test_multi_several_then_eof) {
    (void)arg;
    /* b'a\r\nb\n\nc' with (b'\r\n', b'\n\n') then EOF: b'a\r\n', b'b\n\n',
     * IncompleteReadError(b'c'). */
    corio_reader *r = mk(0);
    feed(r, "a\r\nb\n\nc");
    corio_reader_feed_eof(r);
    seplist s = seps_of("\r\n", "\n\n", NULL);
    check_any(r, s, "a\r\n", 0);
    check_any(r, s, "b\n\n", 1);
    const char *d;
    size_t len;
    CHECK_EQ(corio_reader_readuntil_any(r, s.v, s.n, &d, &len, NULL), CORIO_EINCOMPLETE);
    CHECK(same(d, len, "c"));
    check_rest_and_free(r, "");
    return 0;
}

static void set_reset(void *arg) { CHECK_EQ(corio_reader_set_error(arg, -ECONNRESET), 0); }

CASE(test_multi_cancel_and_error) {
    (void)arg;
    /* A cancelled readuntil_any takes nothing: the next call sees every
     * byte; an error set while one waits is what it returns. */
    corio_reader *r = mk(0);
    feed(r, "abc\r");
    until_job j = {.r = r, .s = seps_of("\r\n", "\n\n", NULL)};
    corio_task *t = corio_spawn(until_task, &j);
    CHECK(t != NULL);
    CHECK_EQ(corio_yield(), 0); /* it waits for more */
    corio_cancel(t);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(j.rc, -ECANCELED);
    CHECK_EQ(j.which, -1);
    CHECK_EQ(corio_reader_buffered(r), 4);
    feed(r, "\n");
    check_any(r, j.s, "abc\r\n", 0);

    until_job e = {.r = r, .s = j.s};
    t = corio_spawn(until_task, &e);
    CHECK(t != NULL);
    CHECK_EQ(corio_call_soon(NULL, set_reset, r), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(e.rc, -ECONNRESET);
    corio_reader_free(r);
    return 0;
}

/* ---- over a socket: the same reader code, bytes arriving in pieces ---------------------- */

typedef struct pieces {
    corio_writer *w;
    const char *const *chunks; /* NULL-terminated; each written, then a yield */
} pieces;

static int write_pieces(void *arg) {
    pieces *p = arg;
    for (int i = 0; p->chunks[i]; i++) {
        CHECK_EQ(corio_writer_write(p->w, p->chunks[i], strlen(p->chunks[i])), 0);
        CHECK_EQ(corio_writer_drain(p->w), 0);
        CHECK_EQ(corio_yield(), 0);
    }
    CHECK_EQ(corio_writer_write_eof(p->w), 0);
    return 0;
}

CASE(test_socket_pieces) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    corio_reader *r, *r2;
    corio_writer *w, *w2;
    corio_stream_opts o = {.limit = 8};
    CHECK_EQ(corio_stream_open(sv[0], &o, &r, &w), 0);
    CHECK_EQ(corio_stream_open(sv[1], NULL, &r2, &w2), 0);
    static const char *const chunks[] = {"line 1\r", "\nline", " 2\n\r", "\nABCD", "EFG", "1234567", "8", "tail", NULL};
    pieces p = {.w = w2, .chunks = chunks};
    corio_task *t = corio_spawn(write_pieces, &p);
    CHECK(t != NULL);
    /* b'\r\n' and b'\n' end together: the shorter is the match. */
    check_any(r, seps_of("\r\n", "\n", NULL), "line 1\r\n", 1);
    check_any(r, seps_of("\r\n", "\n", NULL), "line 2\n", 1);
    check_any(r, seps_of("\r\n", "\n", NULL), "\r\n", 1);
    check_any(r, seps_of("DEF", "BCDE", NULL), "ABCDE", 1);
    /* "FG" is left before "1234567": with limit 5, b'9' alone would be
     * over it at the ninth byte, but b'45678' may still start at 5. */
    CHECK_EQ(corio_reader_set_limit(r, 5), 0);
    check_any(r, seps_of("9", "45678", NULL), "FG12345678", 1);
    const char *d;
    size_t len;
    seplist s = seps_of("X", "YZ", NULL);
    CHECK_EQ(corio_reader_readuntil_any(r, s.v, s.n, &d, &len, NULL), CORIO_EINCOMPLETE);
    CHECK(same(d, len, "tail"));
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_stream_close(r, w), 0);
    CHECK_EQ(corio_stream_close(r2, w2), 0);
    return 0;
}

/* ---- against a plain reference, random inputs ---------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* The reference: the smallest end at which some separator ends, the
 * shorter (then the earlier) separator at that end; the limit against its
 * start; with no match, the limit against the bytes searched (all of them
 * are here at once: the reader is fed everything, then the end).  Returns
 * 0 (*end, *which), -ENOBUFS or CORIO_EINCOMPLETE.  The same function in
 * Python gave asyncio 3.13's readuntil result (data, LimitOverrunError or
 * IncompleteReadError) on 20,000 random inputs of this shape. */
static int reference(const char *buf, size_t have, const seplist *s, size_t limit, size_t *end, int *which) {
    size_t maxlen = 0, minlen = SIZE_MAX;
    for (int k = 0; k < s->n; k++) {
        if (s->v[k].iov_len > maxlen) maxlen = s->v[k].iov_len;
        if (s->v[k].iov_len < minlen) minlen = s->v[k].iov_len;
    }
    for (size_t e = 1; e <= have; e++) {
        int best = -1;
        for (int k = 0; k < s->n; k++) {
            size_t l = s->v[k].iov_len;
            if (l <= e && memcmp(buf + e - l, s->v[k].iov_base, l) == 0 && (best < 0 || l < s->v[best].iov_len))
                best = k;
        }
        if (best >= 0) {
            *end = e;
            *which = best;
            return e - s->v[best].iov_len > limit ? -ENOBUFS : 0;
        }
    }
    if (have >= minlen && have + 1 > maxlen && have + 1 - maxlen > limit) return -ENOBUFS;
    return CORIO_EINCOMPLETE;
}

/* Read buf (fed / sent whole, then the end) with random separator sets
 * until the reader and the reference stop; they must agree throughout. */
static void compare_on(corio_reader *r, const char *buf, size_t have, size_t limit) {
    static char sepmem[3][4];
    size_t at = 0;
    for (int round = 0; round < 64; round++) {
        seplist s = {.n = 1 + (int)rnd(3)};
        for (int k = 0; k < s.n; k++) {
            size_t l = 1 + rnd(4);
            for (size_t i = 0; i < l; i++) sepmem[k][i] = "ab"[rnd(2)];
            s.v[k] = (struct iovec){sepmem[k], l};
        }
        size_t end = 0;
        int which = -1;
        int want = reference(buf + at, have - at, &s, limit, &end, &which);
        const char *d = NULL;
        size_t len = 0;
        int k = -2;
        int rc = corio_reader_readuntil_any(r, s.v, s.n, &d, &len, &k);
        CHECK_EQ(rc, want);
        if (rc != want) return;
        if (rc == 0) {
            CHECK_EQ(len, end);
            CHECK_EQ(k, which);
            CHECK(memcmp(d, buf + at, len) == 0);
            at += len;
            continue;
        }
        CHECK_EQ(k, -1);
        if (rc == CORIO_EINCOMPLETE) CHECK_EQ(len, have - at);
        return;
    }
}

CASE(test_random_against_reference) {
    (void)arg;
    char buf[200];
    for (int iter = 0; iter < 400; iter++) {
        size_t have = rnd(sizeof buf);
        for (size_t i = 0; i < have; i++) buf[i] = "abc"[rnd(3)];
        size_t limit = 1 + rnd(12);
        if (iter & 1) {
            corio_reader *r = mk(limit);
            CHECK_EQ(corio_reader_feed(r, buf, have), 0);
            CHECK_EQ(corio_reader_feed_eof(r), 0);
            compare_on(r, buf, have, limit);
            corio_reader_free(r);
        } else {
            /* A socket, written whole and half-closed: the reader reads it
             * in as many pieces as the kernel gives. */
            int sv[2];
            CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
            CHECK_EQ(write(sv[1], buf, have), (ssize_t)have);
            CHECK_EQ(shutdown(sv[1], SHUT_WR), 0);
            corio_reader *r;
            corio_stream_opts o = {.limit = limit};
            CHECK_EQ(corio_stream_open(sv[0], &o, &r, NULL), 0);
            compare_on(r, buf, have, limit);
            corio_reader_free(r);
            close(sv[1]);
        }
    }
    return 0;
}

int main(void) {
    RUN_TEST(test_readuntil_separator);
    RUN_TEST(test_readuntil_multi_separator);
    RUN_TEST(test_readuntil_multi_separator_limit);
    RUN_TEST(test_readuntil_multi_separator_negative_offset);
    RUN_TEST(test_multi_eof);
    RUN_TEST(test_multi_limit_not_found);
    RUN_TEST(test_multi_long_separator_keeps_limit_open);
    RUN_TEST(test_multi_ties);
    RUN_TEST(test_multi_several_then_eof);
    RUN_TEST(test_multi_cancel_and_error);
    RUN_TEST(test_socket_pieces);
    RUN_TEST(test_random_against_reference);
    TEST_MAIN_END();
}
