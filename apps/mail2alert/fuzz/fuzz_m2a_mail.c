/*
 * fuzz_m2a_mail.c - the header surgery and subject decoding on any mail:
 * X-Peer insertion, To/From replacement (then done again on its own
 * output: the new fields end the header block both times), Subject unfolding and
 * RFC 2047 decoding, the GoCD subject parse with history, the body as
 * text, cctray and pipeline-groups parsing of the same bytes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "m2a.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        m2a_log_set_level(M2A_CRITICAL + 1);
        m2a_init();
        init = 1;
    }
    const char *c = (const char *)data;
    m2a_buf a = {0}, b = {0}, d = {0};
    const char *rcpts[] = {"cat@example.com", "dog@example.com"};
    static const char fields[] = "To: cat@example.com, dog@example.com\r\nFrom: go@example.com\r\n\r\n";
    if (m2a_insert_xpeer(c, size, "127.0.0.1", &a) == 0 &&
        m2a_update_to_from(a.p, a.len, rcpts, 2, "go@example.com", &b) == 0 &&
        m2a_update_to_from(b.p, b.len, rcpts, 2, "go@example.com", &d) == 0) {
        /* Whatever came in, the new fields end the header block, once.
         * (Not idempotent in general, as Python's rewrite is not: a field
         * refolded to "Name:" + CRLF comes back as "Name: " + CRLF.) */
        if (!memmem(b.p, b.len, fields, sizeof fields - 1) || !memmem(d.p, d.len, fields, sizeof fields - 1)) abort();
    }
    m2a_history h = {0};
    char *subject = m2a_header(c, size, "Subject");
    if (subject) {
        m2a_msg msg = {0};
        m2a_gocd_parse(subject, &h, &msg);
        m2a_msg_clear(&msg);
        m2a_gocd_parse(subject, &h, &msg); /* again, now with history */
        m2a_msg_clear(&msg);
        free(subject);
    }
    free(m2a_body_text(c, size));
    m2a_parse_cctray(c, size, &h);
    m2a_history_free(&h);
    m2a_groups *g = NULL;
    if (m2a_parse_groups(c, size, &g) == 0) m2a_groups_free(g);
    free(a.p);
    free(b.p);
    free(d.p);
    return 0;
}
