/* The llhttp oracle (see oracle.h): Debian's node-llhttp sources, built
 * into the test only, in their default (strict) mode. */
#include "oracle.h"
#include "oracle_record.h"

#include <llhttp.h>
#include <string.h>

static struct oracle_msg *cur(llhttp_t *p) { return p->data; }

static int on_url(llhttp_t *p, const char *at, size_t n) { return oracle_on_url(cur(p), at, n); }
static int on_field(llhttp_t *p, const char *at, size_t n) { return oracle_on_field(cur(p), at, n); }
static int on_value(llhttp_t *p, const char *at, size_t n) { return oracle_on_value(cur(p), at, n); }
static int on_body(llhttp_t *p, const char *at, size_t n) { return oracle_on_body(cur(p), at, n); }
static int on_headers_complete(llhttp_t *p) {
    struct oracle_msg *m = cur(p);
    m->nheaders_head = m->nheaders;
    m->major = p->http_major;
    m->minor = p->http_minor;
    const char *name = llhttp_method_name((llhttp_method_t)p->method);
    strncpy(m->method, name, sizeof m->method - 1);
    return 0;
}
static int on_complete(llhttp_t *p) {
    struct oracle_msg *m = cur(p);
    m->ok = 1;
    m->keep_alive = llhttp_should_keep_alive(p);
    return HPE_PAUSED;
}

int oracle_llhttp(const char *buf, size_t len, struct oracle_msg *m) {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_url = on_url;
    s.on_header_field = on_field;
    s.on_header_value = on_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_complete;
    llhttp_t p;
    llhttp_init(&p, HTTP_REQUEST, &s);
    p.data = m;
    m->ok = 0;
    llhttp_errno_t e = llhttp_execute(&p, buf, len);
    if (e == HPE_PAUSED && m->ok) {
        m->consumed = (size_t)(llhttp_get_error_pos(&p) - buf);
        return 1;
    }
    m->ok = 0;
    return 0;
}
