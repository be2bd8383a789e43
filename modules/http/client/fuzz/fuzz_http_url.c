/*
 * fuzz_http_url - the client's URL handling on arbitrary bytes: the input
 * is "BASE\nLOCATION".  BASE is parsed (with two query parameters taken
 * from its tail); when it parses, LOCATION is resolved against it.  Every
 * URL that parses must format to a string that parses again to the same
 * parts (the form the client sends and stores in the history).
 */
#include "../src/client_internal.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const hc_url *u) {
    hc_buf b = {0};
    if (hc_url_format(u, &b) != 0) return;
    hc_url v;
    int rc = hc_url_parse(b.p, NULL, 0, &v);
    assert(rc == 0);
    assert(v.tls == u->tls && v.port == u->port && v.ipv6 == u->ipv6);
    assert(!strcmp(v.host, u->host));
    assert(!strcmp(v.target, u->target));
    hc_url_free(&v);
    hc_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    size_t blen = strlen(s); /* an embedded NUL ends the base */
    char *nl = memchr(s, '\n', blen);
    const char *loc = "";
    size_t loclen = 0;
    if (nl) {
        *nl = 0;
        loc = nl + 1;
        loclen = size - (size_t)(loc - s);
    }
    corio_http_field params[2] = {{"k", s + strlen(s) / 2}, {s + strlen(s) * 3 / 4, "v"}};
    hc_url u;
    if (hc_url_parse(s, params, 2, &u) == 0) {
        roundtrip(&u);
        hc_url r;
        if (hc_url_resolve(&u, loc, loclen, &r) == 0) {
            roundtrip(&r);
            hc_url_free(&r);
        }
        hc_url_free(&u);
    }
    free(s);
    return 0;
}
