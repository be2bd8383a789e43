/*
 * mailmsg.c - the header surgery of the original (Python's email package
 * with EmailPolicy(utf8=True, linesep='\r\n')), done on the bytes: the
 * header block is split into fields, To and From are replaced at its end,
 * and everything else keeps its bytes except that every line ends in CRLF
 * and a field is written "Name: value" (what the Python generator does).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "m2a.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Room for n more bytes and the NUL: 0 or -ENOMEM. */
static int reserve(m2a_buf *b, size_t n) {
    if (b->len + n + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) {
        if (cap > SIZE_MAX / 2) return -ENOMEM;
        cap *= 2;
    }
    char *q = realloc(b->p, cap);
    if (!q) return -ENOMEM;
    b->p = q;
    b->cap = cap;
    return 0;
}

int m2a_buf_grow(m2a_buf *b, const void *p, size_t n) {
    if (reserve(b, n) < 0) return -ENOMEM;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* The line at p (end e): its length without the EOL in *body and with it
 * returned.  EOLs as Python's splitlines on bytes: \r\n, \r, \n. */
static size_t line_at(const char *p, const char *e, size_t *body) {
    /* Two memchr scans (vectorised in libc) instead of a byte loop: every
     * header walk and body copy of every mail goes through here. */
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    const char *lim = nl ? nl : e;
    const char *q = memchr(p, '\r', (size_t)(lim - p));
    if (!q) q = lim;
    *body = (size_t)(q - p);
    if (q < e && *q == '\r') q++, q = (q < e && *q == '\n') ? q + 1 : q;
    else if (q < e) q++;
    return (size_t)(q - p);
}

int m2a_insert_xpeer(const char *c, size_t len, const char *ip, m2a_buf *out) {
    out->len = 0;
    const char *p = c, *e = c + len;
    while (p < e) {
        size_t body, n = line_at(p, e, &body);
        if (body == 0) break; /* the first empty line */
        p += n;
    }
    const char *eol = "\r\n";
    size_t eol_len = 2;
    if (p < e) {
        size_t body;
        eol_len = line_at(p, e, &body);
        eol = p;
    }
    /* One allocation for the whole mail rather than a doubling series. */
    int rc = reserve(out, len + strlen(ip) + 16);
    if (rc == 0) rc = m2a_buf_add(out, c, (size_t)(p - c));
    if (rc == 0) rc = m2a_buf_adds(out, "X-Peer: ");
    if (rc == 0) rc = m2a_buf_adds(out, ip);
    if (rc == 0) rc = m2a_buf_add(out, eol, eol_len);
    if (rc == 0) rc = m2a_buf_add(out, p, (size_t)(e - p));
    return rc;
}

/* A field-name line per Python's feedparser headerRE: printable ASCII
 * but ':' up to a ':'. */
static int header_line(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == ':') return 1;
        if (ch < 33 || ch > 126) return 0;
    }
    return 0;
}

/* Walk the header block: calls fn for each field (name, the raw text
 * after the colon with its continuation lines, EOLs included).  Returns
 * the offset of the body and sets *sep when an empty separator line was
 * consumed. */
typedef int (*field_fn)(const char *name, size_t nlen, const char *val, size_t vlen, void *arg);

static int walk_headers(const char *c, size_t len, field_fn fn, void *arg, size_t *body_off, int *sep) {
    const char *p = c, *e = c + len;
    *sep = 0;
    int first = 1;
    while (p < e) {
        size_t body, n = line_at(p, e, &body);
        if (body == 0) {
            *sep = 1;
            p += n;
            break;
        }
        if (*p == ' ' || *p == '\t') { /* continuation without a field: dropped, as Python */
            p += n;
            continue;
        }
        if (first && body >= 5 && memcmp(p, "From ", 5) == 0) { /* the mbox line: not a header */
            p += n;
            first = 0;
            continue;
        }
        first = 0;
        if (!header_line(p, body)) break; /* body starts here, no separator */
        const char *colon = memchr(p, ':', body);
        const char *v = colon + 1, *fe = p + n;
        while (fe < e) { /* continuation lines */
            size_t b2, n2 = line_at(fe, e, &b2);
            if (b2 == 0 || (*fe != ' ' && *fe != '\t')) break;
            fe += n2;
        }
        if (colon > p) {
            int rc = fn(p, (size_t)(colon - p), v, (size_t)(fe - v), arg);
            if (rc) return rc;
        }
        p = fe;
    }
    *body_off = (size_t)(p - c);
    return 0;
}

/* Append text with every EOL made CRLF.  Lines that already end in CRLF
 * (nearly all, in mail that came over SMTP) are copied as one run. */
static int add_crlf(m2a_buf *o, const char *p, size_t n) {
    const char *e = p + n, *run = p;
    while (p < e) {
        size_t body, l = line_at(p, e, &body);
        if (l == body + 2) { /* line_at takes "\r\n" as one EOL, so this is CRLF */
            p += l;
            continue;
        }
        if (m2a_buf_add(o, run, (size_t)(p - run)) < 0 || m2a_buf_add(o, p, body) < 0) return -ENOMEM;
        if (l > body && m2a_buf_add(o, "\r\n", 2) < 0) return -ENOMEM;
        p += l;
        run = p;
    }
    return m2a_buf_add(o, run, (size_t)(p - run));
}

typedef struct upd {
    m2a_buf *out;
} upd;

/* Characters (UTF-8 code points) in n bytes: Python measures lines in str. */
static size_t chars(const char *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

/* Fields Python's header registry parses as structured (refolded by
 * their own grammar, which we do not reproduce: kept as they came). */
static int structured(const char *name, size_t n) {
    static const char *const names[] = {"to", "from", "cc", "bcc", "sender", "reply-to", "resent-to",
                                        "resent-from", "resent-cc", "resent-bcc", "resent-sender", "resent-date",
                                        "date", "orig-date", "message-id", "mime-version", "content-type",
                                        "content-disposition", "content-transfer-encoding"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0) return 1;
    return 0;
}

#define MAXLINE 78 /* EmailPolicy.max_line_length */

/*
 * Python rewrites an unstructured field (Subject, X-...) whose first line
 * ("Name: " included) or any continuation line is longer than 78
 * characters: unfolded, then split into words and whitespace runs, each
 * appended while the line stays within 78, else a new line starts with
 * the whitespace char taken from the end of the previous one.  Returns 1
 * when it wrote the field that way, 0 when the field is to be kept as it
 * came (short, structured, with encoded words, or a word that Python
 * would turn into encoded words to fit), or -ENOMEM.
 */
static int refold(m2a_buf *o, const char *name, size_t nlen, const char *val, size_t l) {
    int longline = 0;
    size_t first = 1;
    for (const char *p = val, *e = val + l; p < e;) {
        size_t body, n = line_at(p, e, &body);
        size_t lead = first ? nlen + 2 : 0; /* characters never outnumber bytes: count only when it matters */
        if (body + lead > MAXLINE && chars(p, body) + lead > MAXLINE) longline = 1;
        first = 0;
        p += n;
    }
    /* The structured names are looked up only for a long field: that
     * lookup per field was a tenth of the header surgery. */
    if (!longline || structured(name, nlen) || memmem(val, l, "=?", 2)) return 0;
    for (size_t i = 0; i < l; i++) /* Python would write 8-bit fields as unknown-8bit encoded words */
        if ((unsigned char)val[i] >= 0x80) return 0;
    /* the unfolded value */
    char *u = malloc(l + 1);
    if (!u) return -ENOMEM;
    size_t ul = 0;
    for (size_t i = 0; i < l; i++)
        if (val[i] != '\r' && val[i] != '\n') u[ul++] = val[i];
    for (size_t i = 0, w = 0; i < ul; i = w) { /* no word may need encoded words to fit */
        int ws = u[i] == ' ' || u[i] == '\t';
        for (w = i; w < ul && (u[w] == ' ' || u[w] == '\t') == ws; w++) {
        }
        if (chars(u + i, w - i) + 1 > MAXLINE) {
            free(u);
            return 0;
        }
    }
    /* The value as a whole first: on the first line if it fits there, else
     * alone on the next line if it fits there. */
    size_t whole = chars(u, ul);
    if (whole + 1 <= MAXLINE) {
        int r = 0;
        if (m2a_buf_add(o, name, nlen) < 0 || m2a_buf_add(o, whole + nlen + 2 <= MAXLINE ? ": " : ":\r\n ", whole + nlen + 2 <= MAXLINE ? 2 : 4) < 0 ||
            m2a_buf_add(o, u, ul) < 0 || m2a_buf_add(o, "\r\n", 2) < 0)
            r = -ENOMEM;
        free(u);
        return r < 0 ? r : 1;
    }
    m2a_buf line = {0};
    int rc = m2a_buf_add(&line, name, nlen) == 0 && m2a_buf_add(&line, ": ", 2) == 0 ? 0 : -ENOMEM;
    size_t col = nlen + 2;
    for (size_t i = 0, w = 0; i < ul && rc == 0; i = w) {
        int ws = u[i] == ' ' || u[i] == '\t';
        for (w = i; w < ul && (u[w] == ' ' || u[w] == '\t') == ws; w++) {
        }
        size_t tl = chars(u + i, w - i);
        if (tl <= MAXLINE - (col < MAXLINE ? col : MAXLINE) && col <= MAXLINE) {
            rc = m2a_buf_add(&line, u + i, w - i);
            col += tl;
            continue;
        }
        char steal = 0;
        if (line.len && (line.p[line.len - 1] == ' ' || line.p[line.len - 1] == '\t')) {
            steal = line.p[--line.len];
            line.p[line.len] = 0;
        }
        if (!steal && !ws) { /* nowhere to break: Python gives up and appends */
            rc = m2a_buf_add(&line, u + i, w - i);
            col += tl;
            continue;
        }
        if (rc == 0) rc = m2a_buf_add(o, line.p, line.len);
        if (rc == 0) rc = m2a_buf_add(o, "\r\n", 2);
        line.len = 0;
        col = 0;
        if (steal && rc == 0) rc = m2a_buf_add(&line, &steal, 1), col = 1;
        if (rc == 0) rc = m2a_buf_add(&line, u + i, w - i);
        col += tl;
    }
    if (rc == 0) rc = m2a_buf_add(o, line.p ? line.p : "", line.len);
    if (rc == 0) rc = m2a_buf_add(o, "\r\n", 2);
    free(line.p);
    free(u);
    return rc < 0 ? rc : 1;
}

static int keep_field(const char *name, size_t nlen, const char *val, size_t vlen, void *arg) {
    upd *u = arg;
    if ((nlen == 2 && strncasecmp(name, "To", 2) == 0) || (nlen == 4 && strncasecmp(name, "From", 4) == 0))
        return 0;
    while (vlen && (*val == ' ' || *val == '\t')) val++, vlen--;
    /* Python strips the value's final EOL and writes one CRLF. */
    size_t l = vlen;
    while (l && (val[l - 1] == '\r' || val[l - 1] == '\n')) l--;
    int r = refold(u->out, name, nlen, val, l);
    if (r != 0) return r < 0 ? r : 0;
    if (m2a_buf_add(u->out, name, nlen) < 0 || m2a_buf_add(u->out, ": ", 2) < 0) return -ENOMEM;
    if (add_crlf(u->out, val, l) < 0 || m2a_buf_add(u->out, "\r\n", 2) < 0) return -ENOMEM;
    return 0;
}

/* "To: a, b" folded as Python's header refolding does for a plain
 * address list: break after a comma when a line would pass 78. */
static int add_address_field(m2a_buf *o, const char *name, const char *const *v, size_t n) {
    size_t col = strlen(name) + 2;
    if (m2a_buf_adds(o, name) < 0 || m2a_buf_add(o, ": ", 2) < 0) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t w = strlen(v[i]) + (i + 1 < n ? 1 : 0);
        if (i > 0) {
            if (col + 1 + w > 78) {
                if (m2a_buf_add(o, "\r\n ", 3) < 0) return -ENOMEM;
                col = 1;
            } else {
                if (m2a_buf_add(o, " ", 1) < 0) return -ENOMEM;
                col++;
            }
        }
        if (m2a_buf_adds(o, v[i]) < 0) return -ENOMEM;
        if (i + 1 < n && m2a_buf_add(o, ",", 1) < 0) return -ENOMEM;
        col += w;
    }
    return m2a_buf_add(o, "\r\n", 2);
}

int m2a_update_to_from(const char *c, size_t len, const char *const *rcpts, size_t n, const char *from,
                       m2a_buf *out) {
    out->len = 0;
    /* The mail, its To and From and a little for line ends made CRLF. */
    size_t guess = len + 256;
    for (size_t i = 0; i < n; i++) guess += strlen(rcpts[i]) + 4;
    if (reserve(out, guess + strlen(from)) < 0 || m2a_buf_add(out, "", 0) < 0) return -ENOMEM;
    upd u = {out};
    size_t body_off;
    int sep;
    int rc = walk_headers(c, len, keep_field, &u, &body_off, &sep);
    if (rc) return rc;
    if (add_address_field(out, "To", rcpts, n) < 0) return -ENOMEM;
    if (add_address_field(out, "From", &from, 1) < 0) return -ENOMEM;
    if (m2a_buf_add(out, "\r\n", 2) < 0) return -ENOMEM;
    return add_crlf(out, c + body_off, len - body_off);
}

/* ---- reading a header ----------------------------------------------------------- */

typedef struct find {
    const char *name;
    char *value;
} find;

static int find_field(const char *name, size_t nlen, const char *val, size_t vlen, void *arg) {
    find *f = arg;
    if (strlen(f->name) != nlen || strncasecmp(name, f->name, nlen) != 0) return 0;
    while (vlen && (*val == ' ' || *val == '\t')) val++, vlen--;
    /* Unfold: the EOLs go, the whitespace after them stays (RFC 5322 2.2.3). */
    char *s = malloc(vlen + 1), *q = s;
    if (!s) return -ENOMEM;
    for (size_t i = 0; i < vlen; i++)
        if (val[i] != '\r' && val[i] != '\n') *q++ = val[i];
    *q = 0;
    f->value = s;
    return 1;
}

char *m2a_header(const char *c, size_t len, const char *name) {
    find f = {name, NULL};
    size_t body_off;
    int sep;
    if (walk_headers(c, len, find_field, &f, &body_off, &sep) < 0 || !f.value) return NULL;
    char *d = m2a_rfc2047_decode(f.value);
    free(f.value);
    return d;
}

/* ---- RFC 2047 ------------------------------------------------------------------- */

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static long b64_decode(const char *in, size_t n, unsigned char *out) {
    unsigned v = 0;
    int bits = 0;
    long o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)in[i], d;
        if (ch >= 'A' && ch <= 'Z') d = ch - 'A';
        else if (ch >= 'a' && ch <= 'z') d = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9') d = ch - '0' + 52;
        else if (ch == '+') d = 62;
        else if (ch == '/') d = 63;
        else if (ch == '=') break;
        else continue;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    return o;
}

/* Convert n bytes of charset to UTF-8, appended to o; unknown charsets
 * are kept as bytes (Python keeps them too, with a defect). */
static int to_utf8(m2a_buf *o, const char *charset, const char *p, size_t n) {
    char cs[64];
    size_t l = strcspn(charset, "*"); /* RFC 2231 language suffix */
    if (l >= sizeof cs) l = sizeof cs - 1;
    memcpy(cs, charset, l);
    cs[l] = 0;
    if (!strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8") || !strcasecmp(cs, "us-ascii"))
        return m2a_buf_add(o, p, n);
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1) return m2a_buf_add(o, p, n);
    char tmp[256];
    char *in = (char *)p;
    size_t left = n;
    int rc = 0;
    while (left > 0 && rc == 0) {
        char *op = tmp;
        size_t room = sizeof tmp;
        size_t r = iconv(cd, &in, &left, &op, &room);
        rc = m2a_buf_add(o, tmp, (size_t)(op - tmp));
        if (r == (size_t)-1 && errno != E2BIG) { /* a bad byte: U+FFFD, go on */
            if (rc == 0) rc = m2a_buf_add(o, "\xef\xbf\xbd", 3);
            in++, left--;
        }
    }
    iconv_close(cd);
    return rc;
}

/* Is [p, e) one encoded word "=?cs?Q?text?="?  Decodes it into o. */
static int encoded_word(const char *p, const char *e, m2a_buf *o) {
    if (e - p < 8 || p[0] != '=' || p[1] != '?' || e[-1] != '=' || e[-2] != '?') return 0;
    const char *cs = p + 2, *q1 = memchr(cs, '?', (size_t)(e - cs));
    if (!q1 || q1 == cs || q1 + 3 > e - 2 || q1[2] != '?') return 0;
    int enc = toupper((unsigned char)q1[1]);
    if (enc != 'Q' && enc != 'B') return 0;
    const char *t = q1 + 3, *te = e - 2;
    if (memchr(t, '?', (size_t)(te - t))) return 0;
    char charset[64];
    size_t cl = (size_t)(q1 - cs);
    if (cl >= sizeof charset) return 0;
    memcpy(charset, cs, cl);
    charset[cl] = 0;
    size_t n = (size_t)(te - t);
    unsigned char *raw = malloc(n + 1);
    if (!raw) return -ENOMEM;
    long rl = 0;
    if (enc == 'B') {
        rl = b64_decode(t, n, raw);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (t[i] == '_') raw[rl++] = ' ';
            else if (t[i] == '=' && i + 2 < n && hexval((unsigned char)t[i + 1]) >= 0 &&
                     hexval((unsigned char)t[i + 2]) >= 0) {
                raw[rl++] = (unsigned char)(hexval((unsigned char)t[i + 1]) * 16 + hexval((unsigned char)t[i + 2]));
                i += 2;
            } else raw[rl++] = (unsigned char)t[i];
        }
    }
    int rc = to_utf8(o, charset, (const char *)raw, (size_t)rl);
    free(raw);
    return rc < 0 ? rc : 1;
}

char *m2a_rfc2047_decode(const char *s) {
    m2a_buf o = {0};
    if (m2a_buf_add(&o, "", 0) < 0) return NULL;
    const char *p = s;
    int prev_ew = 0;
    size_t ws_start = 0; /* where the whitespace before the current word began in o */
    while (*p) {
        const char *w = p;
        while (*w == ' ' || *w == '\t') w++;
        ws_start = o.len;
        if (m2a_buf_add(&o, p, (size_t)(w - p)) < 0) goto fail;
        if (!*w) break;
        const char *we = w;
        while (*we && *we != ' ' && *we != '\t') we++;
        size_t before = o.len;
        int rc = encoded_word(w, we, &o);
        if (rc < 0) goto fail;
        if (rc == 1) {
            if (prev_ew) { /* whitespace between two encoded words is dropped */
                memmove(o.p + ws_start, o.p + before, o.len - before);
                o.len -= before - ws_start;
                o.p[o.len] = 0;
            }
            prev_ew = 1;
        } else {
            if (m2a_buf_add(&o, w, (size_t)(we - w)) < 0) goto fail;
            prev_ew = 0;
        }
        p = we;
    }
    return o.p;
fail:
    free(o.p);
    return NULL;
}

/* ---- the body as text ----------------------------------------------------------- */

static int noop_field(const char *name, size_t nlen, const char *val, size_t vlen, void *arg) {
    (void)name, (void)nlen, (void)val, (void)vlen, (void)arg;
    return 0;
}

char *m2a_body_text(const char *c, size_t len) {
    size_t off;
    int sep;
    if (walk_headers(c, len, noop_field, NULL, &off, &sep) < 0) return NULL;
    char *cte = m2a_header(c, len, "Content-Transfer-Encoding");
    const char *b = c + off;
    size_t n = len - off;
    m2a_buf o = {0};
    if (m2a_buf_add(&o, "", 0) < 0) goto fail;
    if (cte && strcasestr(cte, "quoted-printable")) {
        for (size_t i = 0; i < n; i++) {
            if (b[i] == '=' && i + 1 < n && (b[i + 1] == '\r' || b[i + 1] == '\n')) { /* soft break */
                i += (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n') ? 2 : 1;
            } else if (b[i] == '=' && i + 2 < n && hexval((unsigned char)b[i + 1]) >= 0 &&
                       hexval((unsigned char)b[i + 2]) >= 0) {
                char ch = (char)(hexval((unsigned char)b[i + 1]) * 16 + hexval((unsigned char)b[i + 2]));
                if (m2a_buf_add(&o, &ch, 1) < 0) goto fail;
                i += 2;
            } else if (b[i] != '\r' && m2a_buf_add(&o, b + i, 1) < 0) {
                goto fail;
            }
        }
    } else if (cte && strcasestr(cte, "base64")) {
        unsigned char *raw = malloc(n + 1);
        if (!raw) goto fail;
        long rl = b64_decode(b, n, raw);
        int rc = 0;
        for (long i = 0; i < rl && rc == 0; i++)
            if (raw[i] != '\r') rc = m2a_buf_add(&o, raw + i, 1);
        free(raw);
        if (rc < 0) goto fail;
    } else {
        /* Python's get_content gives text with universal newlines. */
        for (size_t i = 0; i < n; i++)
            if (b[i] != '\r' && m2a_buf_add(&o, b + i, 1) < 0) goto fail;
    }
    free(cte);
    return o.p;
fail:
    free(cte);
    free(o.p);
    return NULL;
}
