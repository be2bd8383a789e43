/*
 * url.c - the client's URL handling: parsing http(s) URLs, resolving a
 * Location against the request's URL (RFC 3986 5.2), percent-encoding of
 * the bytes a URL cannot carry and of query parameters, Basic auth.
 */
#include "client_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/* Bytes that may stand as they are in a path or query as sent: printable
 * ASCII except those RFC 3986 excludes outright.  '%' passes (an existing
 * escape is kept, as yarl does). */
static int url_ok(unsigned char c) {
    if (c <= 0x20 || c >= 0x7f) return 0;
    return !strchr("\"<>\\^`{|}", c);
}

static const char hexdig[] = "0123456789ABCDEF";

void hc_buf_free(hc_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int hc_buf_add(hc_buf *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return -ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int hc_buf_str(hc_buf *b, const char *s) { return hc_buf_add(b, s, strlen(s)); }

/* Append s[0..n), escaping what a URL cannot carry; runs of bytes that
 * need no escape are appended whole (a URL is almost always one run). */
static int add_requoted(hc_buf *b, const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && url_ok((unsigned char)s[run])) run++;
        if (run > i && hc_buf_add(b, s + i, run - i)) return -ENOMEM;
        if (run == n) break;
        unsigned char c = (unsigned char)s[run];
        char e[3] = {'%', hexdig[c >> 4], hexdig[c & 15]};
        if (hc_buf_add(b, e, 3)) return -ENOMEM;
        i = run + 1;
    }
    return 0;
}

/* Append a query parameter's name or value: everything but unreserved escaped. */
static int add_param(hc_buf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (is_unreserved(c)) {
            if (hc_buf_add(b, s, 1)) return -ENOMEM;
        } else {
            char e[3] = {'%', hexdig[c >> 4], hexdig[c & 15]};
            if (hc_buf_add(b, e, 3)) return -ENOMEM;
        }
    }
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A malloc'd, percent-decoded copy of s[0..n). */
static char *pct_decode(const char *s, size_t n) {
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            o[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = 0;
    return o;
}

void hc_url_free(hc_url *u) {
    free(u->host);
    free(u->target);
    free(u->user);
    free(u->pass);
    memset(u, 0, sizeof *u);
}

int hc_url_parse(const char *s, const corio_http_field *params, size_t nparams, hc_url *u) {
    memset(u, 0, sizeof *u);
    size_t slen = strlen(s);
    /* Leading and trailing blanks are dropped, as browsers and yarl do. */
    while (slen && (*s == ' ' || *s == '\t')) s++, slen--;
    while (slen && (s[slen - 1] == ' ' || s[slen - 1] == '\t')) slen--;
    if (slen >= 7 && !strncasecmp(s, "http://", 7)) {
        u->tls = 0;
        u->port = 80;
        s += 7, slen -= 7;
    } else if (slen >= 8 && !strncasecmp(s, "https://", 8)) {
        u->tls = 1;
        u->port = 443;
        s += 8, slen -= 8;
    } else {
        return CORIO_HTTP_EURL;
    }
    size_t alen = strcspn(s, "/?#");
    if (alen > slen) alen = slen;
    const char *auth = s, *rest = s + alen;
    size_t rlen = slen - alen;
    /* userinfo: up to the last '@' of the authority */
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@') at = auth + i;
    const char *hp = auth;
    size_t hplen = alen;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        size_t ulen = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
        u->user = pct_decode(auth, ulen);
        u->pass = colon ? pct_decode(colon + 1, (size_t)(at - colon - 1)) : pct_decode("", 0);
        if (!u->user || !u->pass) goto nomem;
        hp = at + 1;
        hplen = alen - (size_t)(hp - auth);
    }
    const char *h = hp, *portp = NULL;
    size_t hlen;
    if (hplen && hp[0] == '[') {
        const char *close = memchr(hp, ']', hplen);
        if (!close) goto bad;
        h = hp + 1;
        hlen = (size_t)(close - h);
        u->ipv6 = 1;
        if ((size_t)(close + 1 - hp) < hplen) {
            if (close[1] != ':') goto bad;
            portp = close + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', hplen);
        hlen = colon ? (size_t)(colon - hp) : hplen;
        if (colon) portp = colon + 1;
    }
    if (hlen == 0 || hlen > 255) goto bad;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c >= 0x7f || strchr("/?#@[]\\\"<>^`{|}", c) || (!u->ipv6 && c == ':')) goto bad;
    }
    if (portp) {
        size_t plen = (size_t)(hp + hplen - portp);
        if (plen) { /* "host:" with no digits keeps the default, as RFC 3986 allows */
            if (plen > 5) goto bad;
            long port = 0;
            for (size_t i = 0; i < plen; i++) {
                if (portp[i] < '0' || portp[i] > '9') goto bad;
                port = port * 10 + (portp[i] - '0');
            }
            if (port < 1 || port > 65535) goto bad;
            u->port = (int)port;
        }
    }
    u->host = malloc(hlen + 1);
    if (!u->host) goto nomem;
    for (size_t i = 0; i < hlen; i++) {
        char c = h[i];
        u->host[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    u->host[hlen] = 0;
    /* path and query, without the fragment */
    const char *hash = memchr(rest, '#', rlen);
    if (hash) rlen = (size_t)(hash - rest);
    hc_buf t = {0};
    if (rlen == 0 || rest[0] != '/') {
        if (hc_buf_add(&t, "/", 1)) goto nomem;
    }
    if (add_requoted(&t, rest, rlen)) goto nomem_t;
    for (size_t i = 0; i < nparams; i++) {
        if (!params[i].name || !params[i].value) {
            hc_buf_free(&t);
            hc_url_free(u);
            return -EINVAL;
        }
        int first = i == 0 && !memchr(t.p, '?', t.len);
        if (hc_buf_add(&t, first ? "?" : "&", 1) || add_param(&t, params[i].name) || hc_buf_add(&t, "=", 1) ||
            add_param(&t, params[i].value))
            goto nomem_t;
    }
    u->target = t.p;
    return 0;
nomem_t:
    hc_buf_free(&t);
nomem:
    hc_url_free(u);
    return -ENOMEM;
bad:
    hc_url_free(u);
    return CORIO_HTTP_EURL;
}

int hc_url_format(const hc_url *u, hc_buf *b) {
    char port[16] = "";
    if (u->port != (u->tls ? 443 : 80)) snprintf(port, sizeof port, ":%d", u->port);
    int rc = hc_buf_str(b, u->tls ? "https://" : "http://");
    if (!rc && u->ipv6) rc = hc_buf_str(b, "[");
    if (!rc) rc = hc_buf_str(b, u->host);
    if (!rc && u->ipv6) rc = hc_buf_str(b, "]");
    if (!rc) rc = hc_buf_str(b, port);
    if (!rc) rc = hc_buf_str(b, u->target);
    return rc;
}

/* RFC 3986 5.2.4, in place on a path that starts with '/'. */
static void remove_dots(char *p) {
    char *in = p, *out = p;
    while (*in) {
        if (!strncmp(in, "/./", 3)) {
            in += 2;
        } else if (!strcmp(in, "/.")) {
            in[1] = 0;
        } else if (!strncmp(in, "/../", 4) || !strcmp(in, "/..")) {
            in += 3;
            if (*in == 0) {
                in--;
                *in = '/';
            }
            while (out > p && *--out != '/') {
            }
        } else {
            do *out++ = *in++;
            while (*in && *in != '/');
        }
    }
    *out = 0;
    if (out == p) strcpy(p, "/");
}

int hc_url_resolve(const hc_url *base, const char *loc, size_t loclen, hc_url *out) {
    hc_buf b = {0};
    int rc = 0;
    /* Is there a scheme?  "letter *(letter / digit / + - .) ':'" before any '/', '?', '#'. */
    size_t i = 0;
    while (i < loclen && loc[i] != ':' && loc[i] != '/' && loc[i] != '?' && loc[i] != '#') i++;
    int has_scheme = i > 0 && i < loclen && loc[i] == ':';
    if (has_scheme) {
        rc = hc_buf_add(&b, loc, loclen);
    } else if (loclen >= 2 && loc[0] == '/' && loc[1] == '/') {
        rc = hc_buf_str(&b, base->tls ? "https:" : "http:");
        if (!rc) rc = hc_buf_add(&b, loc, loclen);
    } else {
        hc_url o = *base;
        o.target = (char *)"";
        rc = hc_url_format(&o, &b); /* origin only */
        size_t origin = b.len;
        if (!rc) {
            if (loclen && loc[0] == '/') {
                rc = hc_buf_add(&b, loc, loclen);
            } else {
                /* base path: through its last '/' (or whole, for a query-only reference) */
                const char *t = base->target;
                size_t plen = strcspn(t, "?");
                if (loclen && loc[0] == '?') {
                    rc = hc_buf_add(&b, t, plen);
                } else if (loclen == 0 || loc[0] == '#') {
                    rc = hc_buf_str(&b, t);
                } else {
                    size_t dir = plen;
                    while (dir > 0 && t[dir - 1] != '/') dir--;
                    rc = hc_buf_add(&b, t, dir);
                }
                if (!rc) rc = hc_buf_add(&b, loc, loclen);
            }
        }
        if (!rc) {
            /* dots are removed from the path part only */
            char *q = strpbrk(b.p + origin, "?#");
            char save = 0;
            size_t qoff = 0;
            if (q) {
                qoff = (size_t)(q - b.p);
                save = *q;
                *q = 0;
            }
            char *tail = q ? strdup(q + 1) : NULL;
            if (q && !tail) rc = -ENOMEM;
            if (!rc) {
                remove_dots(b.p + origin);
                b.len = strlen(b.p);
                if (q) {
                    char c = save;
                    rc = hc_buf_add(&b, &c, 1);
                    if (!rc) rc = hc_buf_str(&b, tail);
                }
            }
            free(tail);
            (void)qoff;
        }
    }
    if (!rc) rc = hc_url_parse(b.p, NULL, 0, out);
    hc_buf_free(&b);
    return rc;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hc_basic_auth(hc_buf *b, const char *user, const char *pass) {
    size_t ul = strlen(user), pl = strlen(pass), n = ul + 1 + pl;
    unsigned char *raw = malloc(n);
    if (!raw) return -ENOMEM;
    memcpy(raw, user, ul);
    raw[ul] = ':';
    memcpy(raw + ul + 1, pass, pl);
    int rc = hc_buf_str(b, "Authorization: Basic ");
    for (size_t i = 0; !rc && i < n; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (i + 1 < n ? (unsigned)raw[i + 1] << 8 : 0) | (i + 2 < n ? raw[i + 2] : 0);
        char o[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=', i + 2 < n ? b64[v & 63] : '='};
        rc = hc_buf_add(b, o, 4);
    }
    if (!rc) rc = hc_buf_str(b, "\r\n");
    free(raw);
    return rc;
}
