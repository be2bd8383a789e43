/*
 * client_internal.h - what the client's two files share: a growable
 * byte buffer and the parsed form of a URL.
 */
#ifndef CORIO_HTTP_CLIENT_INTERNAL_H
#define CORIO_HTTP_CLIENT_INTERNAL_H

#include <corio/http_client.h>

#include <stddef.h>
#include <strings.h>

/* A growable buffer, always NUL-terminated once something was added. */
typedef struct hc_buf {
    char *p;
    size_t len;
    size_t cap;
} hc_buf;

int hc_buf_add(hc_buf *b, const void *p, size_t n);
int hc_buf_str(hc_buf *b, const char *s);
void hc_buf_free(hc_buf *b);

/* An http(s) URL taken apart; every string malloc'd. */
typedef struct hc_url {
    int tls;      /* https */
    char *host;   /* lower-case, without the brackets of an IPv6 literal */
    int ipv6;     /* host was [bracketed] */
    int port;
    char *target; /* origin-form "/path?query", percent-encoded */
    char *user;   /* decoded userinfo, NULL when absent */
    char *pass;
} hc_url;

/* Parse url (appending params to the query).  0, CORIO_HTTP_EURL, -EINVAL, -ENOMEM. */
int hc_url_parse(const char *url, const corio_http_field *params, size_t nparams, hc_url *u);
/* Resolve a Location value against base (RFC 3986 5.2). */
int hc_url_resolve(const hc_url *base, const char *loc, size_t loclen, hc_url *out);
/* Append "scheme://host[:port]target" (no userinfo) to b. */
int hc_url_format(const hc_url *u, hc_buf *b);
void hc_url_free(hc_url *u);
/* Append "Authorization: Basic ...\r\n". */
int hc_basic_auth(hc_buf *b, const char *user, const char *pass);

#endif
