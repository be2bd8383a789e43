/* The llhttp oracle (see oracle.h): Debian's node-llhttp sources, built
 * into the test only, in their default (strict) mode. */
#include "oracle.h"

#include <llhttp.h>
#include <string.h>

static struct oracle_msg *cur(llhttp_t *p) { return p->data; }

static void app(char *dst, size_t cap, const char *at, size_t n) {
    size_t l = strlen(dst);
    if (l + n >= cap) n = cap - 1 - l;
    memcpy(dst + l, at, n);
    dst[l + n] = 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
    struct oracle_msg *m = cur(p);
    if (m->light) return 0;
    if (m->url_len + n < sizeof m->url) {
        memcpy(m->url + m->url_len, at, n);
        m->url_len += n;
    }
    return 0;
}
static int on_field(llhttp_t *p, const char *at, size_t n) {
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
static int on_value(llhttp_t *p, const char *at, size_t n) {
    struct oracle_msg *m = cur(p);
    if (m->light) return 0;
    m->field_state = 2;
    app(m->values[m->nheaders - 1], 1024, at, n);
    return 0;
}
static int on_headers_complete(llhttp_t *p) {
    struct oracle_msg *m = cur(p);
    m->nheaders_head = m->nheaders;
    m->major = p->http_major;
    m->minor = p->http_minor;
    const char *name = llhttp_method_name((llhttp_method_t)p->method);
    strncpy(m->method, name, sizeof m->method - 1);
    return 0;
}
static int on_body(llhttp_t *p, const char *at, size_t n) {
    struct oracle_msg *m = cur(p);
    if (m->light) return 0;
    if (m->body_len + n > m->body_cap) return -1;
    memcpy(m->body + m->body_len, at, n);
    m->body_len += n;
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
