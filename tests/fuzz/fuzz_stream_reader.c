/*
 * fuzz_stream_reader - the stream reader (corio/stream.h) fed arbitrary
 * bytes in arbitrary chunks through a socketpair or a pipe.
 *
 * Input layout:
 *   byte 0   flags: bit 0 pipe instead of socketpair; bit 1 a small line
 *            limit (byte 1 % 64 + 1) instead of the default
 *   byte 1   limit
 *   byte 2   number of reader operations (% 48 + 1), then 3 bytes each:
 *            readline / readuntil(sep) / readexactly(n) / read(n) /
 *            read_to_eof(cap) / a yield and state check / one of the first
 *            four inside a timeout scope that expires at once (cancel-safety)
 *   then     number of chunks (% 64), one byte each: chunk sizes
 *   rest     the payload written to the descriptor
 *
 * Each input runs twice on one loop: the payload written in one go, then
 * in the chunks given, a writer task yielding (corio_yield or
 * corio_sleep(0)) between chunks, then closing its end.  A reader task
 * runs the operations and finally reads to end of stream.  Checked against
 * the contract in stream.h, as a function of the payload and the position
 * of the stream consumed so far:
 *
 *  - readline: the next line through '\n'; the last piece without '\n' at
 *    end of stream, then length 0; a line longer than the limit gives
 *    -ENOBUFS and is dropped through its '\n' if it has arrived, else the
 *    part buffered (then more than `limit` bytes, none of them '\n').
 *  - readuntil: data through the separator; CORIO_EINCOMPLETE at end of
 *    stream with the rest (consumed); -ENOBUFS when the separator is not
 *    within the limit, consuming nothing.
 *  - readexactly: n bytes, or CORIO_EINCOMPLETE with the rest in buf,
 *    *got its length.
 *  - read(n): 1..n of the next bytes (0 only at end of stream or n == 0).
 *  - read_to_eof(cap): the rest, or -ENOBUFS (nothing consumed) when the
 *    rest is longer than cap.
 *
 * The position consumed is also measured independently after every call:
 * bytes the writer got into the kernel, minus those still in the kernel
 * (FIONREAD), minus corio_reader_buffered(); it must equal the model's.
 * This is what pins down how much an over-long readline dropped.  The
 * concatenation of everything returned plus what readline dropped is the
 * payload; operations whose outcome the contract fixes (all but read(n)
 * and readline's drop before the '\n' arrived) give the same results in
 * both runs.  LeakSanitizer checks nothing leaks; libFuzzer's -timeout
 * catches hangs (the work per input is bounded).
 */
#include "corio.h"
#include "corio/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "fuzz_stream_reader: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

#define MAXOPS 48
#define MAXCHUNKS 64

typedef struct op {
    int kind;          /* 0 readline, 1 readuntil, 2 readexactly, 3 read, 4 read_to_eof, 5 yield+check */
    size_t n;          /* readexactly/read size, read_to_eof cap */
    unsigned char sep[3];
    size_t seplen;
    bool timed;        /* inside a corio_timeout scope of 0 s: -ECANCELED possible, nothing may be lost */
} op;

typedef struct result {
    int rc;
    size_t len;
    uint64_t hash;
    bool fixed;        /* the contract fixes this outcome (comparable between runs) */
} result;

typedef struct input {
    bool use_pipe;
    size_t limit;      /* 0: default */
    op ops[MAXOPS];
    int nops;
    size_t chunks[MAXCHUNKS + 1];
    int nchunks;
    const unsigned char *payload;
    size_t len;
} input;

typedef struct run {
    const input *in;
    int rfd, wfd;
    size_t written;    /* bytes the writer has got into the kernel */
    size_t pos;        /* model: payload bytes consumed by the reader */
    result res[MAXOPS];
    int nres;
    bool oneshot;
} run;

static int verbose = -1; /* FUZZ_VERBOSE=1: print each outcome (to look at what an input does) */

static uint64_t fnv(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static const unsigned char *memfind(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m) {
    if (m > n) return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

static int writer_main(void *arg) {
    run *R = arg;
    const input *in = R->in;
    size_t off = 0;
    int nch = R->oneshot ? 0 : in->nchunks;
    for (int c = 0; c <= nch && off < in->len; c++) {
        size_t n = (c == nch) ? in->len - off : in->chunks[c];
        if (n > in->len - off) n = in->len - off;
        size_t done = 0;
        while (done < n) {
            /* A plain write: the bytes are in the socket when `written` counts
             * them (a write through io_uring lands before its task resumes). */
            ssize_t k = write(R->wfd, in->payload + off + done, n - done);
            if (k < 0 && errno == EAGAIN) {
                if (corio_wait_writable(R->wfd) != 0) FAIL("writer: wait_writable");
                continue;
            }
            if (k <= 0) FAIL("writer: write %zd", k);
            done += (size_t)k;
            R->written += (size_t)k; /* no other task runs between the write and this */
        }
        off += n;
        if (c & 1) corio_sleep(0); else corio_yield();
    }
    if (corio_close(R->wfd) != 0) FAIL("writer: close");
    R->wfd = -1;
    return 0;
}

/* The stream position consumed, measured without the model. */
static size_t measured_pos(run *R, corio_reader *r) {
    int unread = 0;
    if (ioctl(R->rfd, FIONREAD, &unread) != 0) FAIL("FIONREAD: %s", strerror(errno));
    size_t buffered = corio_reader_buffered(r);
    if ((size_t)unread + buffered > R->written) FAIL("more unread (%d) and buffered (%zu) than written (%zu)", unread, buffered, R->written);
    return R->written - (size_t)unread - buffered;
}

static void expect_bytes(run *R, const char *what, const void *got, size_t n) {
    const input *in = R->in;
    if (n > in->len - R->pos) FAIL("%s: %zu bytes at %zu, but only %zu remain", what, n, R->pos, in->len - R->pos);
    if (n && memcmp(got, in->payload + R->pos, n) != 0) FAIL("%s: %zu bytes at %zu differ from the payload", what, n, R->pos);
}

static void record(run *R, int rc, const void *p, size_t n, bool fixed) {
    result *res = &R->res[R->nres++];
    res->rc = rc;
    res->len = n;
    res->hash = fnv(p, n);
    res->fixed = fixed;
    if (verbose)
        fprintf(stderr, "%s op %d kind %d: rc %d, %zu bytes '%.*s'%s\n", R->oneshot ? "one-shot" : "fragmented", R->nres - 1,
                R->in->ops[R->nres - 1].kind, rc, n, (int)(n > 40 ? 40 : n), p ? (const char *)p : "", fixed ? "" : " (not fixed)");
}

static int reader_main(void *arg) {
    run *R = arg;
    const input *in = R->in;
    corio_stream_opts so = {0};
    so.limit = in->limit;
    corio_reader *r;
    corio_writer *w;
    if (corio_stream_open(R->rfd, &so, &r, &w) != 0) FAIL("stream_open");
    size_t limit = corio_reader_limit(r);
    if (limit != (in->limit ? in->limit : CORIO_STREAM_LIMIT)) FAIL("limit %zu", limit);
    corio_task *wt = corio_spawn(writer_main, R);
    if (!wt) FAIL("spawn writer");
    const unsigned char *P = in->payload;
    size_t L = in->len;
    for (int i = 0; i < in->nops; i++) {
        const op *o = &in->ops[i];
        const unsigned char *rest = P + R->pos;
        size_t nrest = L - R->pos;
        corio_timeout to;
        bool cancelled = false;
        if (o->timed && corio_timeout_enter(&to, 0) != 0) FAIL("timeout_enter");
#define CANCELLED(rc) if (o->timed && (rc) == -ECANCELED) { cancelled = true; record(R, -ECANCELED, NULL, 0, false); break; }
        switch (o->kind) {
        case 0: { /* readline */
            const char *line = NULL;
            size_t len = 99;
            int rc = corio_reader_readline(r, &line, &len);
            CANCELLED(rc)
            const unsigned char *nl = memchr(rest, '\n', nrest);
            size_t i_nl = nl ? (size_t)(nl - rest) : SIZE_MAX;
            if (rc == 0) {
                size_t want = nl ? i_nl + 1 : nrest;
                if (len != want || (nl ? i_nl : nrest) > limit)
                    FAIL("readline at %zu: 0 with %zu bytes; model: %zu bytes (limit %zu, '\\n' at %zd)", R->pos, len, want, limit, nl ? (ssize_t)i_nl : (ssize_t)-1);
                expect_bytes(R, "readline", line, len);
                record(R, rc, line, len, true);
                R->pos += len;
            } else if (rc == -ENOBUFS) {
                size_t linelen = nl ? i_nl : nrest;
                if (linelen <= limit) FAIL("readline at %zu: -ENOBUFS for a line of %zu bytes (limit %zu)", R->pos, linelen, limit);
                size_t now = measured_pos(R, r);
                if (now < R->pos) FAIL("readline: -ENOBUFS went backwards");
                size_t dropped = now - R->pos;
                bool through_nl = nl && dropped == i_nl + 1;
                bool part = dropped > limit && dropped <= linelen; /* before the '\n' arrived: the buffered part */
                if (!through_nl && !part)
                    FAIL("readline at %zu: -ENOBUFS dropped %zu bytes; contract: through the '\\n' (%zd) or a part of more than %zu bytes without '\\n'",
                         R->pos, dropped, nl ? (ssize_t)(i_nl + 1) : (ssize_t)-1, limit);
                record(R, rc, rest, dropped, through_nl);
                R->pos = now;
            } else {
                FAIL("readline at %zu: %d", R->pos, rc);
            }
            break;
        }
        case 1: { /* readuntil */
            const char *data = NULL;
            size_t len = 99;
            int rc = corio_reader_readuntil(r, o->sep, o->seplen, &data, &len);
            CANCELLED(rc)
            const unsigned char *s = memfind(rest, nrest, o->sep, o->seplen);
            int want;
            size_t wlen = 0;
            if (s && (size_t)(s - rest) <= limit) want = 0, wlen = (size_t)(s - rest) + o->seplen;
            else if (s || nrest >= limit + o->seplen) want = -ENOBUFS;
            else want = CORIO_EINCOMPLETE, wlen = nrest;
            if (rc != want || (rc != -ENOBUFS && len != wlen))
                FAIL("readuntil(sep %zu bytes) at %zu: %d with %zu bytes; model %d with %zu (limit %zu, %zu remain)", o->seplen, R->pos, rc, len, want, wlen, limit, nrest);
            if (rc != -ENOBUFS) {
                expect_bytes(R, "readuntil", data, len);
                record(R, rc, data, len, true);
                R->pos += len;
            } else {
                record(R, rc, NULL, 0, true);
            }
            break;
        }
        case 2: { /* readexactly */
            unsigned char *buf = malloc(o->n);
            size_t got = 99;
            int rc = corio_reader_readexactly(r, buf, o->n, &got);
            if (o->timed && rc == -ECANCELED) {
                if (got != 0) FAIL("readexactly: -ECANCELED with got %zu", got);
                free(buf);
            }
            CANCELLED(rc)
            int want = nrest >= o->n ? 0 : CORIO_EINCOMPLETE;
            size_t wgot = nrest >= o->n ? o->n : nrest;
            if (rc != want || got != wgot) FAIL("readexactly(%zu) at %zu: %d, got %zu; model %d, %zu", o->n, R->pos, rc, got, want, wgot);
            expect_bytes(R, "readexactly", buf, got);
            record(R, rc, buf, got, true);
            R->pos += got;
            free(buf);
            break;
        }
        case 3: { /* read */
            unsigned char *buf = malloc(o->n);
            ssize_t k = corio_reader_read(r, buf, o->n);
            if (o->timed && k == -ECANCELED) free(buf);
            CANCELLED(k)
            if (k < 0) FAIL("read(%zu) at %zu: %zd", o->n, R->pos, k);
            if (k == 0 && o->n && nrest) FAIL("read(%zu) at %zu: 0 with %zu bytes to come", o->n, R->pos, nrest);
            if ((size_t)k > o->n) FAIL("read(%zu): %zd", o->n, k);
            expect_bytes(R, "read", buf, (size_t)k);
            record(R, 0, buf, (size_t)k, false);
            R->pos += (size_t)k;
            free(buf);
            break;
        }
        case 4: { /* read_to_eof */
            unsigned char *buf = malloc(o->n);
            ssize_t k = corio_reader_read_to_eof(r, buf, o->n);
            if (nrest > o->n) {
                if (k != -ENOBUFS) FAIL("read_to_eof(cap %zu) at %zu: %zd, model -ENOBUFS (%zu remain)", o->n, R->pos, k, nrest);
                record(R, (int)k, NULL, 0, true);
            } else {
                if (k < 0 || (size_t)k != nrest) FAIL("read_to_eof(cap %zu) at %zu: %zd, model %zu", o->n, R->pos, k, nrest);
                expect_bytes(R, "read_to_eof", buf, (size_t)k);
                record(R, 0, buf, (size_t)k, true);
                R->pos += (size_t)k;
            }
            free(buf);
            break;
        }
        default: /* let the writer go on; at_eof only once everything was consumed */
            if (o->n & 1) corio_yield();
            if (corio_reader_at_eof(r) && R->pos != L) FAIL("at_eof at %zu of %zu", R->pos, L);
            record(R, 0, NULL, 0, true);
            break;
        }
        if (o->timed) {
            int rc = corio_timeout_exit(&to, cancelled ? -ECANCELED : 0);
            if (rc != (cancelled ? -ETIMEDOUT : 0)) FAIL("op %d: timeout_exit %d (cancelled %d)", i, rc, cancelled);
        }
        size_t m = measured_pos(R, r); /* after a cancellation: unchanged, nothing lost */
        if (m != R->pos) FAIL("after op %d (kind %d) the reader consumed %zu bytes, the model %zu", i, o->kind, m, R->pos);
    }
    /* The rest, to end of stream: with the above, the concatenation is the payload. */
    unsigned char tmp[1000];
    for (;;) {
        ssize_t k = corio_reader_read(r, tmp, sizeof tmp);
        if (k < 0) FAIL("final read: %zd", k);
        if (k == 0) break;
        expect_bytes(R, "final read", tmp, (size_t)k);
        R->pos += (size_t)k;
    }
    if (R->pos != L) FAIL("end of stream at %zu of %zu", R->pos, L);
    if (!corio_reader_at_eof(r)) FAIL("not at_eof after end of stream");
    if (corio_reader_buffered(r) != 0) FAIL("buffered %zu at end of stream", corio_reader_buffered(r));
    int rc = corio_join(wt);
    if (rc != 0) FAIL("writer: %d", rc);
    rc = corio_stream_close(r, w);
    if (rc != 0) FAIL("stream_close: %d", rc);
    return 0;
}

static corio_loop *loop;

static void run_once(run *R) {
    int fds[2];
    if (R->in->use_pipe) {
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) FAIL("pipe2: %s", strerror(errno));
    } else if (corio_socketpair(SOCK_STREAM, fds) != 0) {
        FAIL("socketpair");
    }
    R->rfd = fds[0];
    R->wfd = fds[1];
    corio_task *t = corio_loop_spawn(loop, reader_main, R, NULL);
    if (!t) FAIL("spawn");
    int rc = corio_loop_run_until_complete(loop, corio_task_future(t));
    if (rc != 0) FAIL("run: %d", rc);
    corio_task_detach(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!loop && !(loop = corio_loop_new())) abort();
    if (verbose < 0) verbose = getenv("FUZZ_VERBOSE") != NULL;
    static input in;
    memset(&in, 0, sizeof in);
    size_t p = 0;
#define GET() (p < size ? data[p++] : 0)
    unsigned flags = GET(), lim = GET();
    in.use_pipe = flags & 1;
    in.limit = (flags & 2) ? lim % 64 + 1 : 0;
    unsigned nops = GET() % MAXOPS + 1;
    for (unsigned i = 0; i < nops && p < size; i++) {
        unsigned k = GET(), a = GET(), b = GET();
        op *o = &in.ops[in.nops++];
        o->kind = (int)(k % 7);
        if (o->kind == 6) { /* one of the first four under a timeout that expires in the next iteration */
            o->timed = true;
            o->kind = (int)(k / 7 % 4);
        }
        switch (o->kind) {
        case 1: {
            static const char *seps[] = {"\n", "\r\n", "ab", "a", "\0", "xyz", "aa", "aba"};
            o->seplen = a % 3 + 1;
            if (b < 8) { /* a fixed separator */
                o->seplen = b == 4 ? 1 : strlen(seps[b]);
                memcpy(o->sep, seps[b], o->seplen);
            } else {
                o->sep[0] = (unsigned char)b;
                o->sep[1] = (unsigned char)(k >> 3);
                o->sep[2] = (unsigned char)a;
            }
            break;
        }
        case 2: o->n = a | (b & 7) << 8; break;
        case 3: o->n = (b & 0x80) ? 65536 + a : a; break; /* >= 64 KiB goes straight to the descriptor when nothing is buffered */
        case 4: o->n = (size_t)a * 16; break;
        default: o->n = a; break;
        }
    }
    unsigned nch = GET() % (MAXCHUNKS + 1);
    for (unsigned i = 0; i < nch && p < size; i++) in.chunks[in.nchunks++] = (size_t)GET() + 1;
    in.payload = data + p;
    in.len = size - p;

    static run one, frag;
    memset(&one, 0, sizeof one);
    memset(&frag, 0, sizeof frag);
    one.in = frag.in = &in;
    one.oneshot = true;
    run_once(&one);
    run_once(&frag);
    /* The outcomes the contract fixes agree, up to the first one it does not. */
    for (int i = 0; i < one.nres && i < frag.nres; i++) {
        result *a = &one.res[i], *b = &frag.res[i];
        if (!a->fixed || !b->fixed) break;
        if (a->rc != b->rc || a->len != b->len || a->hash != b->hash)
            FAIL("op %d (kind %d): one-shot gave %d/%zu bytes, fragmented %d/%zu", i, in.ops[i].kind, a->rc, a->len, b->rc, b->len);
    }
    return 0;
}
