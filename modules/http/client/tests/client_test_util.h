/*
 * client_test_util.h - what the HTTP client's two test programs share: a
 * request read to the end in one call, and the CASE macro that runs a case
 * body as the main task of a fresh loop.
 */
#ifndef CORIO_HTTP_CLIENT_TEST_UTIL_H
#define CORIO_HTTP_CLIENT_TEST_UTIL_H

#include "test.h"

#include <corio/http_client.h>

#include <stdlib.h>

/* A request read to the end: the status, or a negative code.  The body
 * goes to *out (malloc'd, the caller frees it) when out is not NULL; a
 * failed fetch leaves NULL and 0, so checks on them short-circuit.
 * SUSPENDS. */
static inline int fetch(corio_http_session *s, const char *method, const char *url,
                        const corio_http_request_opts *o, char **out, size_t *len) {
    if (out) *out = NULL;
    if (len) *len = 0;
    corio_http_resp *r;
    int rc = corio_http_session_request(s, method, url, o, &r);
    if (rc < 0) return rc;
    char *b;
    size_t n;
    rc = corio_http_resp_read_all(r, 64u << 20, &b, &n);
    if (rc == 0) {
        rc = corio_http_resp_status(r);
        if (out) {
            *out = b;
            if (len) *len = n;
        } else {
            free(b);
        }
    }
    corio_http_resp_free(r);
    return rc;
}

/* CASE(t_name) { body }: t_name() runs the body as a loop's main task. */
#define CASE(name)                                             \
    static int name##_main(void *arg);                        \
    static void name(void) { test_run(name##_main, NULL, 0); } \
    static int name##_main(void *arg)

#endif
