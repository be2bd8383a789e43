/*
 * parser_bench.c - the parser alone: N parses of a TechEmpower-style
 * request (the plaintext test's head, 170 bytes) by corio's parser,
 * llhttp or http_parser.  Counted under callgrind at two N and
 * differenced (bench/run.sh), so start-up cancels out.
 *
 *     parser_bench corio|llhttp|http_parser N
 */
#include <corio/http_parser.h>

#include "../tests/oracles/oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char REQ[] = "GET /plaintext HTTP/1.1\r\nHost: localhost\r\n"
                          "Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
                          "Connection: keep-alive\r\nUser-Agent: wrk\r\n\r\n";

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    long n = atol(argv[2]);
    size_t len = sizeof REQ - 1;
    long ok = 0;
    static struct oracle_msg m;
    static char body[16];
    if (!strcmp(argv[1], "corio")) {
        corio_http_header h[32];
        corio_http_request req;
        for (long i = 0; i < n; i++) ok += corio_http_parse_request(REQ, len, &req, h, 32) == (int)len;
    } else if (!strcmp(argv[1], "llhttp")) {
        for (long i = 0; i < n; i++) {
            m.nheaders = 0;
            m.url_len = 0;
            m.body = body;
            m.body_cap = sizeof body;
            m.light = 1;
            ok += oracle_llhttp(REQ, len, &m);
        }
    } else if (!strcmp(argv[1], "http_parser")) {
        for (long i = 0; i < n; i++) {
            m.nheaders = 0;
            m.url_len = 0;
            m.body = body;
            m.body_cap = sizeof body;
            m.light = 1;
            ok += oracle_http_parser(REQ, len, &m);
        }
    } else {
        return 2;
    }
    printf("%ld of %ld parsed (%zu bytes each)\n", ok, n, len);
    return ok == n ? 0 : 1;
}
