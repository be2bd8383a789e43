/* The http_parser oracle (see oracle.h): Debian's libhttp-parser 2.9,
 * linked into the test only, in its default (strict) build. */
#include "oracle.h"
#include "oracle_record.h"

#include <http_parser.h>
#include <string.h>

static struct oracle_msg *cur(http_parser *p) { return p->data; }

static int on_url(http_parser *p, const char *at, size_t n) { return oracle_on_url(cur(p), at, n); }
static int on_field(http_parser *p, const char *at, size_t n) { return oracle_on_field(cur(p), at, n); }
static int on_value(http_parser *p, const char *at, size_t n) { return oracle_on_value(cur(p), at, n); }
static int on_body(http_parser *p, const char *at, size_t n) { return oracle_on_body(cur(p), at, n); }
static int on_headers_complete(http_parser *p) {
    struct oracle_msg *m = cur(p);
    m->nheaders_head = m->nheaders;
    m->major = p->http_major;
    m->minor = p->http_minor;
    strncpy(m->method, http_method_str((enum http_method)p->method), sizeof m->method - 1);
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
