/*
 * fuzz_http_parser - the header-block parser alone.  The input is parsed
 * as a request and as a response; every prefix of an accepted head must
 * be incomplete (the parser never accepts a head it would reject with
 * more bytes, nor errors on a prefix of a valid one), and every view must
 * lie inside the input.
 */
#include <corio/http_parser.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static void inside(const char *base, size_t len, const char *p, size_t n) {
    if (!n) return;
    assert(p >= base && p + n <= base + len);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    corio_http_header h[32];
    corio_http_request req;
    int rc = corio_http_parse_request(buf, size, &req, h, 32);
    if (rc > 0) {
        assert((size_t)rc <= size);
        inside(buf, size, req.method, req.method_len);
        inside(buf, size, req.target, req.target_len);
        for (size_t i = 0; i < req.num_headers; i++) {
            inside(buf, size, h[i].name, h[i].name_len);
            inside(buf, size, h[i].value, h[i].value_len);
            assert(memchr(h[i].value, '\r', h[i].value_len) == NULL);
            assert(memchr(h[i].value, '\n', h[i].value_len) == NULL);
            assert(memchr(h[i].value, 0, h[i].value_len) == NULL);
        }
        assert(!(req.body.flags & CORIO_HTTP_HAS_CONTENT_LENGTH && req.body.flags & CORIO_HTTP_HAS_TRANSFER_ENCODING));
        corio_http_request r2;
        for (size_t k = (size_t)rc > 64 ? (size_t)rc - 64 : 0; k < (size_t)rc; k++)
            assert(corio_http_parse_request(buf, k, &r2, h, 32) == CORIO_HTTP_EPARTIAL);
        /* The same head with more bytes after it parses the same. */
        assert(corio_http_parse_request(buf, size, &r2, h, 32) == rc);
    } else {
        assert(rc == CORIO_HTTP_EPARTIAL || req.error != NULL);
    }
    corio_http_response resp;
    rc = corio_http_parse_response(buf, size, &resp, h, 32);
    if (rc > 0) {
        assert(resp.status >= 100 && resp.status <= 999);
        inside(buf, size, resp.reason, resp.reason_len);
        (void)corio_http_response_framing(&resp, "GET", 3);
    }
    free(buf);
    return 0;
}
