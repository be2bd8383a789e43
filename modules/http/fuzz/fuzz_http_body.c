/*
 * fuzz_http_body - parser + body framing: the input is a stream of
 * pipelined requests, parsed the way the server does (head, then the body
 * by Content-Length or chunked, then the next head).  The chunked decoder
 * is fed in pieces whose sizes come from the first byte of the input, and
 * must decode the same data whatever the split.
 */
#include <corio/http_parser.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Decode a chunked body at buf[0..len) in pieces of `step`; returns the
 * bytes consumed when it ended, -1 when it needs more, -2 on error. */
static long decode(const char *buf, size_t len, size_t step, unsigned long long *sum, size_t *total) {
    corio_http_chunked d;
    corio_http_chunked_init(&d);
    size_t pos = 0;
    *sum = 0;
    *total = 0;
    while (pos < len) {
        size_t lim = pos + step < len ? pos + step : len;
        while (pos < lim) {
            size_t used;
            const char *data;
            size_t dl;
            int rc = corio_http_chunked_feed(&d, buf + pos, lim - pos, &used, &data, &dl);
            if (dl) {
                assert(data >= buf + pos && data + dl <= buf + pos + used);
                for (size_t i = 0; i < dl; i++) *sum = *sum * 31 + (unsigned char)data[i];
                *total += dl;
            }
            pos += used;
            if (rc == 1) return (long)pos;
            if (rc < 0) return -2;
            if (!used) break;
        }
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    size_t step = (size_t)(data[0] % 17) + 1;
    char *buf = malloc(size - 1 ? size - 1 : 1);
    memcpy(buf, data + 1, size - 1);
    size_t len = size - 1, pos = 0;
    corio_http_header h[32];
    for (int n = 0; n < 64 && pos < len; n++) {
        corio_http_request req;
        int rc = corio_http_parse_request(buf + pos, len - pos, &req, h, 32);
        if (rc <= 0) break;
        pos += (size_t)rc;
        if (req.body.kind == CORIO_HTTP_BODY_LENGTH) {
            if (req.body.content_length > len - pos) break;
            pos += (size_t)req.body.content_length;
        } else if (req.body.kind == CORIO_HTTP_BODY_CHUNKED) {
            unsigned long long s1, s2;
            size_t t1, t2;
            long a = decode(buf + pos, len - pos, len - pos, &s1, &t1);
            long b = decode(buf + pos, len - pos, step, &s2, &t2);
            assert(a == b);
            if (a >= 0) assert(s1 == s2 && t1 == t2);
            if (a < 0) break;
            pos += (size_t)a;
        }
    }
    free(buf);
    return 0;
}
