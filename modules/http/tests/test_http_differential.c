/*
 * test_http_differential.c - our parser against Debian's two HTTP
 * parsers, compiled into this test only (tests/oracles/): the llhttp 8.1
 * sources of node-llhttp and libhttp-parser 2.9.
 *
 * 1. Valid requests - a fixed set and thousands generated from a seeded
 *    generator (methods, targets, fields, bodies by Content-Length and
 *    chunked with extensions and trailers, HTTP/1.0 and 1.1, keep-alive
 *    or close) - must be accepted by all three with the same method,
 *    target, version, fields, decoded body, keep-alive and length.
 * 2. Smuggling shapes: we reject every one; the table printed says which
 *    of the two oracles accept it (the cases where they do are the reason
 *    we do not serve with them).
 */
#include <corio/http_parser.h>

#include "oracles/oracle.h"
#include "test.h"

struct ours {
    int ok;
    size_t consumed;
    corio_http_request req;
    corio_http_header h[ORACLE_MAX_HEADERS];
    char *body;
    size_t body_len, body_cap;
};

static int parse_ours(const char *buf, size_t len, struct ours *o) {
    o->ok = 0;
    o->body_len = 0;
    int n = corio_http_parse_request(buf, len, &o->req, o->h, ORACLE_MAX_HEADERS);
    if (n <= 0) return 0;
    size_t pos = (size_t)n;
    if (o->req.body.kind == CORIO_HTTP_BODY_LENGTH) {
        if (o->req.body.content_length > len - pos || o->req.body.content_length > o->body_cap) return 0;
        memcpy(o->body, buf + pos, (size_t)o->req.body.content_length);
        o->body_len = (size_t)o->req.body.content_length;
        pos += o->body_len;
    } else if (o->req.body.kind == CORIO_HTTP_BODY_CHUNKED) {
        corio_http_chunked d;
        corio_http_chunked_init(&d);
        for (;;) {
            size_t used, dl;
            const char *data;
            int rc = corio_http_chunked_feed(&d, buf + pos, len - pos, &used, &data, &dl);
            if (rc < 0) return 0;
            if (o->body_len + dl > o->body_cap) return 0;
            memcpy(o->body + o->body_len, data ? data : "", dl);
            o->body_len += dl;
            pos += used;
            if (rc == 1) break;
            if (pos == len) return 0; /* incomplete */
        }
    }
    o->consumed = pos;
    o->ok = 1;
    return 1;
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    size_t k = 0;
    while (s[k] == ' ' || s[k] == '\t') k++;
    memmove(s, s + k, n - k + 1);
}

/* Compare an oracle's view of a valid message with ours; returns 1 if equal. */
static int same(const char *who, const char *in, const struct ours *o, struct oracle_msg *m) {
    char why[128] = "";
    if (!m->ok) snprintf(why, sizeof why, "rejected");
    else if (m->consumed != o->consumed) snprintf(why, sizeof why, "length %zu vs ours %zu", m->consumed, o->consumed);
    else if (strlen(m->method) != o->req.method_len || memcmp(m->method, o->req.method, o->req.method_len))
        snprintf(why, sizeof why, "method");
    else if (m->url_len != o->req.target_len || memcmp(m->url, o->req.target, m->url_len)) snprintf(why, sizeof why, "target");
    else if (m->major != 1 || m->minor != o->req.minor_version) snprintf(why, sizeof why, "version");
    else if ((size_t)m->nheaders_head != o->req.num_headers) snprintf(why, sizeof why, "%d fields vs %zu", m->nheaders_head, o->req.num_headers);
    else if (m->body_len != o->body_len || memcmp(m->body, o->body, o->body_len)) snprintf(why, sizeof why, "body");
    else if (!!m->keep_alive != !!o->req.body.keep_alive) snprintf(why, sizeof why, "keep-alive");
    else {
        for (int i = 0; i < m->nheaders_head; i++) {
            trim(m->values[i]);
            const corio_http_header *h = &o->h[i];
            if (strlen(m->names[i]) != h->name_len || memcmp(m->names[i], h->name, h->name_len) ||
                strlen(m->values[i]) != h->value_len || memcmp(m->values[i], h->value, h->value_len)) {
                snprintf(why, sizeof why, "field %d", i);
                break;
            }
        }
    }
    if (!*why) return 1;
    fprintf(stderr, "%s disagrees (%s) on: ", who, why);
    for (const char *p = in; *p && p < in + 300; p++) fputs(*p == '\r' ? "\\r" : *p == '\n' ? "\\n\n  " : (char[]){*p, 0}, stderr);
    fputc('\n', stderr);
    return 0;
}

static char body_a[1 << 20], body_b[1 << 20], body_c[1 << 20];
static struct oracle_msg ma, mb;
static struct ours ours_;

static void reset_oracles(void) {
    memset(&ma, 0, sizeof ma);
    memset(&mb, 0, sizeof mb);
    ma.body = body_a;
    ma.body_cap = sizeof body_a;
    mb.body = body_b;
    mb.body_cap = sizeof body_b;
    ours_.body = body_c;
    ours_.body_cap = sizeof body_c;
}

static int check_valid(const char *in, size_t len) {
    reset_oracles();
    if (!parse_ours(in, len, &ours_)) {
        fprintf(stderr, "we reject a valid message: %.*s\n", (int)(len < 300 ? len : 300), in);
        return 0;
    }
    int ok = 1;
    oracle_llhttp(in, len, &ma);
    ok &= same("llhttp", in, &ours_, &ma);
    oracle_http_parser(in, len, &mb);
    ok &= same("http_parser", in, &ours_, &mb);
    return ok;
}

static const char *valid[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ("GET /plaintext HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
     "Accept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\nUser-Agent: Mozilla/5.0\r\n\r\n"),
    "POST /echo?x=1&y=%20 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
    "PUT /a/b/c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=val\r\n!\r\n0\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "DELETE /x HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces:   a  b   \r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "PATCH /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
};

/* Smuggling shapes, each rejected by us; the oracles' verdicts printed. */
static const char *shapes[][2] = {
    {"CVE-2023-30589: bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n\r\n"},
    {"obs-fold continuation line", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"},
    {"obs-fold of Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n , identity\r\nContent-Length: 3\r\n\r\nabc"},
    {"bare LF ending a field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"},
    {"bare LF line endings throughout", "GET / HTTP/1.1\nHost: a\n\n"},
    {"space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"},
    {"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
    {"differing Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
    {"last coding not chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
    {"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
    {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
    {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n"},
    {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
    {"vertical tab before chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0b" "chunked\r\n\r\n0\r\n\r\n"},
    {"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"},
    {"Content-Length with a sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc"},
    {"chunk size with trailing space", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n"},
    {"chunk extension without name", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n0\r\n\r\n"},
    {"chunk data not followed by CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"},
    {"bare LF after chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"},
    {"chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n"},
    {"fragment in the target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"},
    {"control character in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n"},
    {"DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"},
    {"bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"},
    {"whitespace line before the fields", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
};

static void test_fixed(void) {
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
        if (!check_valid(valid[i], strlen(valid[i]))) test_failures++;
}

static void test_shapes(void) {
    printf("%-42s %-8s %-8s %-8s\n", "shape", "ours", "llhttp", "http_parser");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const char *in = shapes[i][1];
        size_t len = strlen(in);
        reset_oracles();
        int us = parse_ours(in, len, &ours_);
        int a = oracle_llhttp(in, len, &ma);
        int b = oracle_http_parser(in, len, &mb);
        printf("%-42s %-8s %-8s %-8s\n", shapes[i][0], us ? "ACCEPTS" : "rejects", a ? "ACCEPTS" : "rejects",
               b ? "ACCEPTS" : "rejects");
        if (us) {
            fprintf(stderr, "we accept a smuggling shape: %s\n", shapes[i][0]);
            test_failures++;
        }
    }
    /* The shape that started this: both oracles accept it (their versions
     * in Debian 12); if a newer package rejects it, the table says so. */
    const char *cve = shapes[0][1];
    reset_oracles();
    int a = oracle_llhttp(cve, strlen(cve), &ma), b = oracle_http_parser(cve, strlen(cve), &mb);
    printf("CVE-2023-30589 shape: llhttp %s, http_parser %s, corio rejects\n", a ? "accepts" : "rejects",
           b ? "accepts" : "rejects");
}

/* ---- generated valid messages ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}
static const char tchars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'+^`|#$%&";
static void rtoken(char *out, int n) {
    for (int i = 0; i < n; i++) out[i] = tchars[rnd(sizeof tchars - 1)];
    out[n] = 0;
}

static size_t generate(char *buf) {
    static const char *methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"};
    const char *m = methods[rnd(7)];
    int minor = rnd(5) ? 1 : 0;
    size_t n = (size_t)sprintf(buf, "%s /", m);
    int segs = (int)rnd(5);
    for (int i = 0; i < segs; i++) {
        char t[16];
        int l = 1 + (int)rnd(10);
        for (int k = 0; k < l; k++) t[k] = "abcxyz0129-._~%"[rnd(15)];
        t[l] = 0;
        n += (size_t)sprintf(buf + n, "%s%s", i ? "/" : "", t);
    }
    if (rnd(3) == 0) n += (size_t)sprintf(buf + n, "?q=%u&r=%u", rnd(1000), rnd(1000));
    n += (size_t)sprintf(buf + n, " HTTP/1.%d\r\n", minor);
    if (minor) n += (size_t)sprintf(buf + n, "Host: h%u.example\r\n", rnd(100));
    int nf = (int)rnd(12);
    for (int i = 0; i < nf; i++) {
        char name[24], val[64];
        rtoken(name, 1 + (int)rnd(20));
        if (!strcasecmp(name, "host") || !strcasecmp(name, "connection")) strcpy(name, "X-Other");
        int vl = 1 + (int)rnd(40); /* not empty: http_parser reports no value callback for an empty one */
        for (int k = 0; k < vl; k++) val[k] = (char)(0x21 + rnd(0x7e - 0x21 + 1));
        val[vl] = 0;
        if (vl > 2) val[vl / 2] = ' ';
        n += (size_t)sprintf(buf + n, "%s:%s%s\r\n", name, rnd(2) ? " " : "", val);
    }
    int conn = (int)rnd(3);
    if (conn == 1) n += (size_t)sprintf(buf + n, "Connection: close\r\n");
    if (conn == 2) n += (size_t)sprintf(buf + n, "Connection: keep-alive\r\n");
    int body = (int)rnd(3);
    if (body == 1 || (body == 2 && !minor)) {
        unsigned bl = rnd(300);
        n += (size_t)sprintf(buf + n, "Content-Length: %u\r\n\r\n", bl);
        for (unsigned i = 0; i < bl; i++) buf[n++] = (char)rnd(256);
    } else if (body == 2) {
        n += (size_t)sprintf(buf + n, "Transfer-Encoding: chunked\r\n\r\n");
        int chunks = (int)rnd(5);
        for (int c = 0; c < chunks; c++) {
            unsigned cl = 1 + rnd(100);
            n += (size_t)sprintf(buf + n, rnd(2) ? "%x" : "%X", cl);
            if (rnd(4) == 0) n += (size_t)sprintf(buf + n, ";e%u=v%u", rnd(9), rnd(9));
            n += (size_t)sprintf(buf + n, "\r\n");
            for (unsigned i = 0; i < cl; i++) buf[n++] = (char)rnd(256);
            n += (size_t)sprintf(buf + n, "\r\n");
        }
        n += (size_t)sprintf(buf + n, "0\r\n");
        if (rnd(4) == 0) n += (size_t)sprintf(buf + n, "X-T: %u\r\n", rnd(99));
        n += (size_t)sprintf(buf + n, "\r\n");
    } else {
        n += (size_t)sprintf(buf + n, "\r\n");
    }
    /* Another request after it: each parser must stop at the same place. */
    n += (size_t)sprintf(buf + n, "GET /next HTTP/1.1\r\nHost: n\r\n\r\n");
    buf[n] = 0;
    return n;
}

static void test_generated(void) {
    static char buf[1 << 16];
    int bad = 0;
    const char *e = getenv("CORIO_HTTP_DIFF_N");
    int count = e ? atoi(e) : 5000;
    for (int i = 0; i < count && bad < 5; i++) {
        size_t n = generate(buf);
        if (!check_valid(buf, n)) bad++;
    }
    if (bad) test_failures++;
}

int main(void) {
    RUN_TEST(test_fixed);
    RUN_TEST(test_shapes);
    RUN_TEST(test_generated);
    TEST_MAIN_END();
}
