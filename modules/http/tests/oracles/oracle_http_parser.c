/* The http_parser oracle (see oracle.h): Debian's libhttp-parser 2.9,
 * linked into the test only, in its default (strict) build. */
#include "oracle.h"

#include <http_parser.h>
#include <string.h>

static struct oracle_msg *cur(http_parser *p) { return p->data; }

static void app(char *dst, size_t cap, const char *at, size_t n) {
    size_t l = strlen(dst);
    if (l + n >= cap) n = cap - 1 - l;
    memcpy(dst + l, at, n);
    dst[l + n] = 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
    struct oracle_msg *m = cur(p);
    if (m->light) return 0;
    if (m->url_len + n < sizeof m->url) {
        memcpy(m->url + m->url_len, at, n);
        m->url_len += n;
    }
    return 0;
}
static int on_field(http_parser *p, const char *at, size_t n) {
    struct oracle_msg *m = cur(p);
    if (m->light) return 0;
    if (m->field_state != 1) {
        if (m->nheaders == ORACLE_MAX_HEADERS) return -1;
        m->nheaders++;
        m->names[m->nheaders - 1][0] = 0;
        m->values[m->nheaders - 1][0] = 0;
        m->field_state = 1;
    }
    app(m->names[m->nheaders - 1], 256, at, n);
    return 0;
}
static int on_value(http_parser *p, const char *at, size_t n) {
    struct oracle_msg *m = cur(p);
    if (m->light) return 0;
    m->field_state = 2;
    app(m->values[m->nheaders - 1], 1024, at, n);
    return 0;
}
static int on_headers_complete(http_parser *p) {
    struct oracle_msg *m = cur(p);
    m->nheaders_head = m->nheaders;
    m->major = p->http_major;
    m->minor = p->http_minor;
    strncpy(m->method, http_method_str((enum http_method)p->method), sizeof m->method - 1);
    return 0;
}
static int on_body(http_parser *p, const char *at, size_t n) {
    struct oracle_msg *m = cur(p);
    if (m->light) return 0;
    if (m->body_len + n > m->body_cap) return -1;
    memcpy(m->body + m->body_len, at, n);
    m->body_len += n;
    return 0;
}
static int on_complete(http_parser *p) {
    struct oracle_msg *m = cur(p);
    m->ok = 1;
    m->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

int oracle_http_parser(const char *buf, size_t len, struct oracle_msg *m) {
    http_parser_settings s;
    memset(&s, 0, sizeof s);
    s.on_url = on_url;
    s.on_header_field = on_field;
    s.on_header_value = on_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_complete;
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = m;
    m->ok = 0;
    size_t n = http_parser_execute(&p, &s, buf, len);
    if (m->ok && (HTTP_PARSER_ERRNO(&p) == HPE_OK || HTTP_PARSER_ERRNO(&p) == HPE_PAUSED)) {
        m->consumed = n;
        return 1;
    }
    m->ok = 0;
    return 0;
}
