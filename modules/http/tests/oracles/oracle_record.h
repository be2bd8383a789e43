/* oracle_record.h - what the two oracles' callbacks record (see
 * oracle.h): the same for both parsers, which differ only in their types
 * and entry points.  Inline, so that the parser benchmark charges the
 * oracles no extra call per callback.  Each returns 0, or -1 when m is
 * full. */
#ifndef HTTP_ORACLE_RECORD_H
#define HTTP_ORACLE_RECORD_H
#include "oracle.h"

#include <string.h>

static inline void app(char *dst, size_t cap, const char *at, size_t n) {
    size_t l = strlen(dst);
    if (l + n >= cap) n = cap - 1 - l;
    memcpy(dst + l, at, n);
    dst[l + n] = 0;
}

static inline int oracle_on_url(struct oracle_msg *m, const char *at, size_t n) {
    if (m->light) return 0;
    if (m->url_len + n < sizeof m->url) {
        memcpy(m->url + m->url_len, at, n);
        m->url_len += n;
    }
    return 0;
}

static inline int oracle_on_field(struct oracle_msg *m, const char *at, size_t n) {
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

static inline int oracle_on_value(struct oracle_msg *m, const char *at, size_t n) {
    if (m->light) return 0;
    m->field_state = 2;
    app(m->values[m->nheaders - 1], 1024, at, n);
    return 0;
}

static inline int oracle_on_body(struct oracle_msg *m, const char *at, size_t n) {
    if (m->light) return 0;
    if (m->body_len + n > m->body_cap) return -1;
    memcpy(m->body + m->body_len, at, n);
    m->body_len += n;
    return 0;
}
#endif
