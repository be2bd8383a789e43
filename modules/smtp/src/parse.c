/*
 * parse.c - the pieces of SMTP syntax the server and client share: the
 * path of MAIL and RCPT, reply codes, base64 (AUTH).  Pure functions over
 * bounded input, so that the fuzz target can drive them directly.
 */
#include "smtp_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int corio_smtp_reply_code(const char *text) {
    if (!text) return -EINVAL;
    for (int i = 0; i < 3; i++)
        if (text[i] < '0' || text[i] > '9') return -EINVAL;
    if (text[0] < '2' || text[0] > '5') return -EINVAL;
    if (text[3] != 0 && text[3] != ' ' && text[3] != '-' && text[3] != '\r') return -EINVAL;
    return (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
}

int corio_smtp_reply_set(corio_smtp_reply *reply, const char *fmt, ...) {
    if (!reply || !fmt) return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reply->text, sizeof reply->text, fmt, ap);
    va_end(ap);
    return corio_smtp_reply_code(reply->text);
}

/* Bytes that may not appear in an address: controls (CR, LF, NUL among
 * them) would let an address inject lines into a forwarded envelope. */
static int bad_addr_byte(unsigned char c) { return c < 0x20 || c == 0x7f; }

int corio_smtp_parse_path(const char *arg, const char *keyword, char *addr, size_t cap, const char **params) {
    if (!arg || !keyword || !addr || cap == 0 || !params) return -EINVAL;
    size_t kl = strlen(keyword);
    if (strncasecmp(arg, keyword, kl) != 0) return -EINVAL;
    const char *p = arg + kl;
    while (*p == ' ') p++;
    if (*p == 0) return -EINVAL;
    const char *start, *end;
    if (*p == '<') {
        /* Up to the matching '>', quoted strings respected ("a>b"@c is one
         * local part), as Python's email get_angle_addr does. */
        start = ++p;
        int quoted = 0;
        for (;; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == 0) return -EILSEQ;
            if (bad_addr_byte(c)) return -EILSEQ;
            if (quoted && c == '\\' && p[1]) {
                p++;
                continue;
            }
            if (c == '"') quoted = !quoted;
            else if (!quoted && c == '>') break;
            else if (!quoted && c == '<') return -EILSEQ;
        }
        end = p++;
        /* A source route (<@a,@b:user@c>, RFC 5321 4.1.2) is obsolete and
         * ignored: the address is what follows the colon. */
        if (start < end && *start == '@') {
            const char *colon = memchr(start, ':', (size_t)(end - start));
            if (!colon) return -EILSEQ;
            start = colon + 1;
        }
        if (*p != 0 && *p != ' ') return -EINVAL;
    } else {
        start = p;
        while (*p && *p != ' ') {
            if (bad_addr_byte((unsigned char)*p) || *p == '<' || *p == '>') return -EILSEQ;
            p++;
        }
        end = p;
        if (start == end) return -EINVAL;
    }
    size_t n = (size_t)(end - start);
    if (n > 0 && (start[0] == '@' || start[n - 1] == '@')) return -EILSEQ;
    if (n + 1 > cap) return -ENAMETOOLONG;
    memcpy(addr, start, n);
    addr[n] = 0;
    while (*p == ' ') p++;
    *params = p;
    return 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long corio_smtp_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap) {
    if ((!in && len) || (!out && cap)) return -EINVAL;
    if (len % 4 != 0) return -EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=') {
                /* Padding only at the very end, at most two. */
                if (i + 4 != len || k < 2) return -EINVAL;
                pad++;
                v[k] = 0;
            } else {
                if (pad) return -EINVAL;
                if ((v[k] = b64val(c)) < 0) return -EINVAL;
            }
        }
        unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) | ((unsigned long)v[2] << 6) |
                          (unsigned long)v[3];
        size_t nout = 3 - (size_t)pad;
        if (o + nout > cap) return -EINVAL;
        out[o++] = (unsigned char)(w >> 16);
        if (nout > 1) out[o++] = (unsigned char)(w >> 8);
        if (nout > 2) out[o++] = (unsigned char)w;
    }
    return (long)o;
}

long corio_smtp_base64_encode(const void *in, size_t len, char *out, size_t cap) {
    const unsigned char *b = in;
    size_t need = (len + 2) / 3 * 4;
    if (!out || need + 1 > cap || (!in && len)) return -ENOBUFS;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long w = (unsigned long)b[i] << 16;
        if (i + 1 < len) w |= (unsigned long)b[i + 1] << 8;
        if (i + 2 < len) w |= b[i + 2];
        out[o++] = b64chars[(w >> 18) & 63];
        out[o++] = b64chars[(w >> 12) & 63];
        out[o++] = i + 1 < len ? b64chars[(w >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64chars[w & 63] : '=';
    }
    out[o] = 0;
    return (long)o;
}

int smtp_buf_reserve(smtp_buf *b, size_t more) {
    if (b->cap - b->len >= more) return 0;
    size_t want = b->cap ? b->cap : 256;
    while (want - b->len < more) {
        if (want > SIZE_MAX / 2) return -ENOMEM;
        want *= 2;
    }
    char *p = realloc(b->p, want);
    if (!p) return -ENOMEM;
    b->p = p;
    b->cap = want;
    return 0;
}

int smtp_buf_append(smtp_buf *b, const void *p, size_t n) {
    int rc = smtp_buf_reserve(b, n);
    if (rc < 0) return rc;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void smtp_buf_free(smtp_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void smtp_default_hostname(char *buf, size_t cap) {
    if (gethostname(buf, cap) != 0 || buf[0] == 0) snprintf(buf, cap, "localhost");
    buf[cap - 1] = 0;
}
