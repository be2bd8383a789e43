/*
 * test_http_parser.c - the strict parser, table-driven: valid messages
 * and their framing, every prefix of a valid message is "partial", each
 * rejection rule, the smuggling shapes published in CVEs against Node
 * (llhttp), nginx, HAProxy and h2o, and the chunked decoder fed byte by
 * byte.  Each input is also parsed flush against a PROT_NONE page, so a
 * read past its end faults (picohttpparser's test.c does the same).
 */
#include <corio/http_parser.h>

#include "test.h"

#include <sys/mman.h>

enum { OK = 0, PARTIAL = 1, BAD = 2, TOOMANY = 3, VERSION = 4, CODING = 5 };

static int classify(int rc) {
    if (rc > 0) return OK;
    switch (rc) {
    case CORIO_HTTP_EPARTIAL: return PARTIAL;
    case CORIO_HTTP_EBADMSG: return BAD;
    case CORIO_HTTP_ETOOMANY: return TOOMANY;
    case CORIO_HTTP_EVERSION: return VERSION;
    case CORIO_HTTP_ECODING: return CODING;
    default: return -1;
    }
}

/* A copy of s that ends flush against an inaccessible page. */
static char *guard_base;
static size_t guard_size;
static char *guarded(const char *s, size_t n) {
    long pg = sysconf(_SC_PAGESIZE);
    size_t pages = (n + (size_t)pg - 1) / (size_t)pg + 1;
    if (guard_base) munmap(guard_base, guard_size);
    guard_size = (pages + 1) * (size_t)pg;
    guard_base = mmap(NULL, guard_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_base == MAP_FAILED) abort();
    mprotect(guard_base + pages * (size_t)pg, (size_t)pg, PROT_NONE);
    char *p = guard_base + pages * (size_t)pg - n;
    memcpy(p, s, n);
    return p;
}

static int parse_req(const char *s, size_t n, corio_http_request *req, corio_http_header *h, size_t max) {
    return corio_http_parse_request(guarded(s, n), n, req, h, max);
}

struct req_case {
    const char *in;
    int expect;
    int kind;           /* body kind when OK */
    unsigned long long cl;
    int keep_alive;
};

#define CASE(in, e, k, cl, ka) {in, e, k, cl, ka}
#define H "Host: a\r\n"

static const struct req_case req_cases[] = {
    CASE("GET / HTTP/1.1\r\n" H "\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 1),
    CASE("\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 1),
    CASE("GET / HTTP/1.0\r\n\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 0),
    CASE("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 1),
    CASE("GET / HTTP/1.1\r\n" H "Connection: Keep-Alive, CLOSE\r\n\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 0),
    CASE("POST /x?y=1 HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\n", OK, CORIO_HTTP_BODY_LENGTH, 5, 1),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", OK, CORIO_HTTP_BODY_LENGTH, 5, 1),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n", OK, CORIO_HTTP_BODY_LENGTH, 5, 1),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n", OK, CORIO_HTTP_BODY_LENGTH, 0, 1),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n", OK, CORIO_HTTP_BODY_CHUNKED, 0, 1),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: CHUNKED\r\n\r\n", OK, CORIO_HTTP_BODY_CHUNKED, 0, 1),
    CASE("GET / HTTP/1.1\r\n" H "X-Empty:\r\nX-Sp:   a b  \r\n\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 1),
    CASE("GET / HTTP/1.1\r\n" H "X-Utf8: \xc3\xa9t\xc3\xa9\r\n\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 1),
    CASE("GET / HTTP/1.1\r\n" H "X-Tab:\ta\tb\r\n\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 1),
    CASE("OPTIONS * HTTP/1.1\r\n" H "\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 1),
    CASE("GET / HTTP/1.1\r\n" H "Expect: 100-Continue\r\n\r\n", OK, CORIO_HTTP_BODY_NONE, 0, 1),
    /* rejections */
    CASE("GET / HTTP/1.1\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H "\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\nHost: a\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H "X: a\r\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n Host: a\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\nHost : a\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H ": a\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H "X(y): a\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H "X: a\x01" "b\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET /\x01 HTTP/1.1\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GET /a#b HTTP/1.1\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GET  / HTTP/1.1\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1 \r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GET / http/1.1\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1x\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/11\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GE(T / HTTP/1.1\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE(" GET / HTTP/1.1\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("\nGET / HTTP/1.1\r\n" H "\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/2.0\r\n" H "\r\n", VERSION, 0, 0, 0),
    CASE("GET / HTTP/0.9\r\n" H "\r\n", VERSION, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n\r\n", BAD, 0, 0, 0),
    CASE("GET / HTTP/1.1\r\n" H H "\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 5 5\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 0x5\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999999\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", CODING, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked,\r\n\r\n", BAD, 0, 0, 0),
    CASE("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", BAD, 0, 0, 0),
};

/* Request-smuggling shapes from published advisories.  Every one must be
 * rejected (or, where the shape is a valid message, framed the safe way,
 * which the comment says). */
struct cve_case {
    const char *id;
    const char *in;
    size_t len; /* 0: strlen */
};
static const struct cve_case cve_cases[] = {
    /* Node.js / llhttp */
    {"CVE-2023-30589 (Node): bare CR inside a value hides a field",
     "GET / HTTP/1.1\r\n" H "X-Abc: \rxTransfer-Encoding: chunked\r\n\r\n", 0},
    {"CVE-2022-32214 (Node): bare LF ends a field line",
     "POST / HTTP/1.1\r\n" H "X: a\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 0},
    {"CVE-2022-32215 (Node): multi-line Transfer-Encoding (obs-fold)",
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n , identity\r\nContent-Length: 3\r\n\r\n", 0},
    {"CVE-2022-35256 (Node): field line not terminated by CRLF",
     "POST / HTTP/1.1\r\n" H "Content-Length: 3\rX: y\r\n\r\n", 0},
    {"CVE-2022-32213 (Node): Transfer-Encoding not exactly chunked",
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunkedx\r\nContent-Length: 3\r\n\r\n", 0},
    {"CVE-2020-8287 (Node): a second Transfer-Encoding field",
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: eee\r\n\r\n", 0},
    {"CVE-2019-15605 (Node): malformed Transfer-Encoding with Content-Length",
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked , identity\r\nContent-Length: 3\r\n\r\n", 0},
    {"CVE-2020-8201 (Node): CR inside a field name",
     "POST / HTTP/1.1\r\n" H "Transfer\rEncoding: chunked\r\n\r\n", 0},
    {"CVE-2024-27982 (Node): whitespace before a Content-Length line",
     "POST / HTTP/1.1\r\n" H " Content-Length: 3\r\n\r\n", 0},
    {"CVE-2022-32215 (Node): Transfer-Encoding in an HTTP/1.0 request",
     "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
    /* HAProxy */
    {"CVE-2019-18277 (HAProxy): vertical tab before chunked",
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \x0b" "chunked\r\nContent-Length: 3\r\n\r\n", 0},
    {"CVE-2023-25725 (HAProxy): empty field name", "GET / HTTP/1.1\r\n" H ":\r\nContent-Length: 3\r\n\r\n", 0},
    {"CVE-2023-40225 (HAProxy): empty Content-Length", "POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 0},
    {"CVE-2023-45539 (HAProxy): '#' in the request target", "GET /index.html#.png HTTP/1.1\r\n" H "\r\n", 0},
    /* RFC 9112 6.3 shapes every proxy advisory builds on */
    {"CL.TE: Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\n" H "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
    {"CL.CL: differing Content-Length", "POST / HTTP/1.1\r\n" H "Content-Length: 6\r\nContent-Length: 5\r\n\r\n", 0},
    {"TE.TE: space before the colon", "POST / HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n", 0},
    {"NUL inside a field value", "GET / HTTP/1.1\r\n" H "X: a\0\r\n\r\n", sizeof("GET / HTTP/1.1\r\n" H "X: a\0\r\n\r\n") - 1},
};

/* Chunked bodies: the input, whether it is valid, the decoded data. */
struct chunk_case {
    const char *in;
    int ok;
    const char *data;
};
static const struct chunk_case chunk_cases[] = {
    {"5\r\nhello\r\n0\r\n\r\n", 1, "hello"},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 1, "hello world"},
    {"A\r\n0123456789\r\n0\r\n\r\n", 1, "0123456789"},
    {"005\r\nhello\r\n000\r\n\r\n", 1, "hello"},
    {"5;ext=1\r\nhello\r\n0\r\n\r\n", 1, "hello"},
    {"5 ; a = \"q\\\"x\" ; b\r\nhello\r\n0\r\n\r\n", 1, "hello"},
    {"0\r\nX-Trailer: yes\r\n\r\n", 1, ""},
    {"0\r\n\r\n", 1, ""},
    {"\r\n0\r\n\r\n", 0, NULL},
    {"5\nhello\r\n0\r\n\r\n", 0, NULL},
    {"5\r\nhello\n0\r\n\r\n", 0, NULL},
    {"5\r\nhelloX\r\n0\r\n\r\n", 0, NULL},
    {"5 \r\nhello\r\n0\r\n\r\n", 0, NULL},
    {"-5\r\nhello\r\n0\r\n\r\n", 0, NULL},
    {"0x5\r\nhello\r\n0\r\n\r\n", 0, NULL},
    {"g\r\n", 0, NULL},
    /* CVE-2013-2028 (nginx): a chunk size that overflows */
    {"fffffffffffffffff0\r\n", 0, NULL},
    {"10000000000000000\r\n", 0, NULL},
    {"5;\r\nhello\r\n0\r\n\r\n", 0, NULL},
    {"5;a=\r\nhello\r\n0\r\n\r\n", 0, NULL},
    {"5;a=\"x\r\nhello\r\n0\r\n\r\n", 0, NULL},
    {"5;a\x01\r\nhello\r\n0\r\n\r\n", 0, NULL},
    {"5\r\nhello\r\n0\r\n X: y\r\n\r\n", 0, NULL},
    {"5\r\nhello\r\n0\r\nX : y\r\n\r\n", 0, NULL},
    {"5\r\nhello\r\n0\r\nX: \ry\r\n\r\n", 0, NULL},
    {"5\r\nhello\r\n0\r\n\n", 0, NULL},
    {"5\r\nhello\r\n0\r\n\r\r", 0, NULL},
};

static void test_requests(void) {
    corio_http_header h[16];
    for (size_t i = 0; i < sizeof req_cases / sizeof *req_cases; i++) {
        const struct req_case *c = &req_cases[i];
        size_t n = strlen(c->in);
        corio_http_request req;
        int rc = parse_req(c->in, n, &req, h, 16);
        if (classify(rc) != c->expect) {
            fprintf(stderr, "request case %zu: got %d (%s) want class %d: %s\n", i, rc,
                    req.error ? req.error : "-", c->expect, c->in);
            test_failures++;
            continue;
        }
        if (c->expect != OK) {
            CHECK(req.error != NULL);
            continue;
        }
        CHECK_EQ(rc, (int)n);
        CHECK_EQ(req.body.kind, c->kind);
        CHECK_EQ(req.body.content_length, c->cl);
        CHECK_EQ(req.body.keep_alive, c->keep_alive);
        /* Every strict prefix is incomplete, never an error. */
        for (size_t k = 0; k < n; k++) {
            int prc = parse_req(c->in, k, &req, h, 16);
            if (prc != CORIO_HTTP_EPARTIAL) {
                fprintf(stderr, "request case %zu prefix %zu: %d (%s)\n", i, k, prc, req.error ? req.error : "-");
                test_failures++;
                break;
            }
        }
    }
}

static void test_nul(void) {
    static const char m[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    corio_http_header h[8];
    corio_http_request req;
    CHECK_EQ(parse_req(m, sizeof m - 1, &req, h, 8), CORIO_HTTP_EBADMSG);
    static const char m2[] = "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_EQ(parse_req(m2, sizeof m2 - 1, &req, h, 8), CORIO_HTTP_EBADMSG);
    static const char m3[] = "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n";
    CHECK_EQ(parse_req(m3, sizeof m3 - 1, &req, h, 8), CORIO_HTTP_EBADMSG);
}

static void test_views(void) {
    const char *m = "POST /echo/x?a=1&b HTTP/1.1\r\nHost: example.com\r\nX-Multi: 1\r\nx-multi:  2 \r\n"
                    "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc";
    corio_http_header h[8];
    corio_http_request req;
    size_t n = strlen(m);
    int rc = parse_req(m, n, &req, h, 8);
    CHECK_EQ(rc, (int)n - 3);
    CHECK(req.method_len == 4 && !memcmp(req.method, "POST", 4));
    CHECK(req.target_len == 13 && !memcmp(req.target, "/echo/x?a=1&b", 13));
    CHECK(req.path_len == 7 && !memcmp(req.path, "/echo/x", 7));
    CHECK(req.query_len == 5 && !memcmp(req.query, "a=1&b", 5));
    CHECK_EQ(req.minor_version, 1);
    CHECK_EQ(req.num_headers, 5);
    CHECK(h[2].value_len == 1 && h[2].value[0] == '2');
    CHECK(corio_http_find_header(h, req.num_headers, "content-type") == &h[3]);
    CHECK(corio_http_find_header(h, req.num_headers, "x-multi") == &h[1]);
    CHECK(corio_http_find_header(h, req.num_headers, "nope") == NULL);
    /* too many fields */
    CHECK_EQ(parse_req(m, n, &req, h, 4), CORIO_HTTP_ETOOMANY);
    /* no query */
    const char *m2 = "GET /p HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(parse_req(m2, strlen(m2), &req, h, 8) > 0);
    CHECK(req.query == NULL && req.path_len == 2);
}

static void test_cves(void) {
    corio_http_header h[16];
    for (size_t i = 0; i < sizeof cve_cases / sizeof *cve_cases; i++) {
        const struct cve_case *c = &cve_cases[i];
        size_t n = c->len ? c->len : strlen(c->in);
        corio_http_request req;
        int rc = parse_req(c->in, n, &req, h, 16);
        if (rc >= 0 || rc == CORIO_HTTP_EPARTIAL) {
            fprintf(stderr, "smuggling shape accepted: %s\n", c->id);
            test_failures++;
        }
    }
    /* CVE-2021-40346 (HAProxy): a field name longer than 255 bytes must
     * not wrap around into Content-Length. */
    char big[1024];
    int k = snprintf(big, sizeof big, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length0");
    memset(big + k, 'a', 300);
    k += 300;
    k += snprintf(big + k, sizeof big - (size_t)k, ":\r\nContent-Length: 60\r\n\r\n");
    corio_http_request req;
    CHECK_EQ(parse_req(big, (size_t)k, &req, h, 16), k);
    CHECK_EQ(req.body.content_length, 60);
    CHECK_EQ(h[1].name_len, 315);
}

static void test_responses(void) {
    corio_http_header h[8];
    corio_http_response r;
    const char *m = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    CHECK_EQ(corio_http_parse_response(guarded(m, strlen(m)), strlen(m), &r, h, 8), (int)strlen(m) - 5);
    CHECK_EQ(r.status, 200);
    CHECK(r.reason_len == 2 && !memcmp(r.reason, "OK", 2));
    CHECK_EQ(corio_http_response_framing(&r, "GET", 3), CORIO_HTTP_BODY_LENGTH);
    CHECK_EQ(corio_http_response_framing(&r, "HEAD", 4), CORIO_HTTP_BODY_NONE);
    m = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
    CHECK(corio_http_parse_response(m, strlen(m), &r, h, 8) > 0);
    CHECK_EQ(corio_http_response_framing(&r, "GET", 3), CORIO_HTTP_BODY_NONE);
    m = "HTTP/1.1 304 Not Modified\r\n\r\n";
    CHECK(corio_http_parse_response(m, strlen(m), &r, h, 8) > 0);
    CHECK_EQ(corio_http_response_framing(&r, "GET", 3), CORIO_HTTP_BODY_NONE);
    m = "HTTP/1.1 100 Continue\r\n\r\n";
    CHECK(corio_http_parse_response(m, strlen(m), &r, h, 8) > 0);
    CHECK_EQ(corio_http_response_framing(&r, "POST", 4), CORIO_HTTP_BODY_NONE);
    m = "HTTP/1.1 200 OK\r\n\r\n";
    CHECK(corio_http_parse_response(m, strlen(m), &r, h, 8) > 0);
    CHECK_EQ(corio_http_response_framing(&r, "GET", 3), CORIO_HTTP_BODY_UNTIL_CLOSE);
    CHECK_EQ(corio_http_response_framing(&r, "CONNECT", 7), CORIO_HTTP_BODY_NONE);
    m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(corio_http_parse_response(m, strlen(m), &r, h, 8) > 0);
    CHECK_EQ(corio_http_response_framing(&r, "GET", 3), CORIO_HTTP_BODY_CHUNKED);
    m = "HTTP/1.0 200 OK\r\n\r\n";
    CHECK(corio_http_parse_response(m, strlen(m), &r, h, 8) > 0);
    CHECK_EQ(r.body.keep_alive, 0);
    m = "HTTP/1.1 200\r\n\r\n";
    CHECK(corio_http_parse_response(m, strlen(m), &r, h, 8) > 0);
    CHECK_EQ(r.reason_len, 0);
    /* rejections */
    const char *bad[] = {
        "HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/1.1 200 O\rK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = corio_http_parse_response(guarded(bad[i], strlen(bad[i])), strlen(bad[i]), &r, h, 8);
        if (rc >= 0 || rc == CORIO_HTTP_EPARTIAL) {
            fprintf(stderr, "response accepted: %s\n", bad[i]);
            test_failures++;
        }
    }
    CHECK_EQ(corio_http_parse_response("HTTP/2 200 OK\r\n\r\n", 17, &r, h, 8), CORIO_HTTP_EBADMSG);
    CHECK_EQ(corio_http_parse_response("HTTP/2.0 200 OK\r\n\r\n", 19, &r, h, 8), CORIO_HTTP_EVERSION);
    /* prefixes */
    m = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    for (size_t k = 0; k < strlen(m); k++)
        CHECK_EQ(corio_http_parse_response(guarded(m, k), k, &r, h, 8), CORIO_HTTP_EPARTIAL);
}

/* Feed a chunked body in pieces of `step` bytes; returns 1 done, 0 more, <0 error. */
static int feed_all(const char *in, size_t n, size_t step, char *out, size_t *outlen, size_t *used) {
    corio_http_chunked d;
    corio_http_chunked_init(&d);
    size_t pos = 0, o = 0;
    while (pos < n) {
        size_t piece = n - pos < step ? n - pos : step;
        const char *p = guarded(in + pos, piece);
        size_t off = 0;
        while (off < piece) {
            size_t used1;
            const char *data;
            size_t dl;
            int rc = corio_http_chunked_feed(&d, p + off, piece - off, &used1, &data, &dl);
            memcpy(out + o, data ? data : "", dl);
            o += dl;
            off += used1;
            if (rc != 0) {
                *outlen = o;
                *used = pos + off;
                return rc;
            }
            if (used1 == 0) break;
        }
        pos += piece;
    }
    *outlen = o;
    *used = pos;
    return 0;
}

static void test_chunked(void) {
    char out[256];
    for (size_t i = 0; i < sizeof chunk_cases / sizeof *chunk_cases; i++) {
        const struct chunk_case *c = &chunk_cases[i];
        size_t n = strlen(c->in);
        for (size_t step = 1; step <= n; step = step < 4 ? step + 1 : step * 2) {
            size_t ol = 0, used = 0;
            int rc = feed_all(c->in, n, step, out, &ol, &used);
            if (c->ok) {
                if (rc != 1 || used != n || ol != strlen(c->data) || memcmp(out, c->data, ol)) {
                    fprintf(stderr, "chunk case %zu step %zu: rc %d used %zu/%zu\n", i, step, rc, used, n);
                    test_failures++;
                    break;
                }
                /* Strict prefixes never finish. */
            } else if (rc != CORIO_HTTP_EBADMSG) {
                fprintf(stderr, "chunk case %zu step %zu accepted (rc %d): %s\n", i, step, rc, c->in);
                test_failures++;
                break;
            }
        }
    }
    /* The decoder stops right after the body: the next message follows. */
    const char *two = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    size_t ol, used;
    CHECK_EQ(feed_all(two, strlen(two), strlen(two), out, &ol, &used), 1);
    CHECK_EQ(used, 13);
    CHECK_EQ(ol, 3);
    /* An endless size line or trailer is cut off at the limits. */
    static char longline[CORIO_HTTP_CHUNK_LINE_MAX + 16];
    memset(longline, '0', sizeof longline);
    CHECK_EQ(feed_all(longline, sizeof longline, sizeof longline, out, &ol, &used), CORIO_HTTP_EBADMSG);
}

static void test_names(void) {
    CHECK_EQ(corio_http_error_status(CORIO_HTTP_EBADMSG), 400);
    CHECK_EQ(corio_http_error_status(CORIO_HTTP_ETOOMANY), 431);
    CHECK_EQ(corio_http_error_status(CORIO_HTTP_EVERSION), 505);
    CHECK_EQ(corio_http_error_status(CORIO_HTTP_ECODING), 501);
    CHECK(!strcmp(corio_http_reason(404), "Not Found"));
    CHECK(!strcmp(corio_http_reason(999), ""));
    CHECK(corio_http_status_bodiless(101) && corio_http_status_bodiless(304) && !corio_http_status_bodiless(200));
    CHECK(corio_http_name_eq("Content-LENGTH", 14, "content-length"));
    CHECK(!corio_http_name_eq("Content-LENGT", 13, "content-length"));
}

int main(void) {
    RUN_TEST(test_requests);
    RUN_TEST(test_nul);
    RUN_TEST(test_views);
    RUN_TEST(test_cves);
    RUN_TEST(test_responses);
    RUN_TEST(test_chunked);
    RUN_TEST(test_names);
    if (guard_base) munmap(guard_base, guard_size);
    TEST_MAIN_END();
}
