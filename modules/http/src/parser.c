/*
 * parser.c - the strict HTTP/1.1 parser of corio/http_parser.h.
 *
 * Shape: picohttpparser's.  The header block is parsed from its first byte
 * every time it is offered (stateless), which keeps the parser small and
 * lets a caller hand it the reader's buffer directly; a request head
 * usually arrives in one read, and the caller's limit (16 KiB) bounds the
 * cost of re-parsing a trickled one.  Every byte of the head is checked
 * against a class table, so the rejection rules (bare CR/LF, NUL, CTLs,
 * obs-fold, space before colon, non-token names) all fall out of one
 * lookup per byte rather than special cases.
 *
 * Semantic checks (framing fields) run once the block is complete, over
 * the collected fields.
 */
#include <corio/http_parser.h>

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Character classes, one bit each. */
enum {
    C_TCHAR = 1,  /* token character (RFC 9110 5.6.2) */
    C_VALUE = 2,  /* allowed inside a field value: VCHAR, obs-text, SP, HTAB */
    C_TARGET = 4, /* allowed in a request-target: VCHAR but '#', and obs-text (raw UTF-8
                     paths are common; no SP, no CTL) */
    C_HEX = 8,
    C_WS = 16, /* SP, HTAB */
};

static unsigned char cls[256];
static int cls_ready;

static void cls_init(void) {
    /* Built once; idempotent, so a race between threads writes the same values. */
    for (int c = 0; c < 256; c++) {
        unsigned char v = 0;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c && strchr("!#$%&'*+-.^_`|~", c)))
            v |= C_TCHAR;
        if ((c >= 0x21 && c <= 0x7e) || c >= 0x80) v |= C_VALUE | C_TARGET;
        if (c == '#') v &= (unsigned char)~C_TARGET; /* a fragment is never sent (RFC 9112 3.2) */
        if (c == ' ' || c == '\t') v |= C_VALUE | C_WS;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= C_HEX;
        cls[c] = v;
    }
    __atomic_store_n(&cls_ready, 1, __ATOMIC_RELEASE);
}

static inline void ensure_cls(void) {
    if (__builtin_expect(!__atomic_load_n(&cls_ready, __ATOMIC_ACQUIRE), 0)) cls_init();
}

#define IS(c, k) (cls[(unsigned char)(c)] & (k))

static inline int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/*
 * name (len bytes) equal, ignoring ASCII case, to lc (lcn bytes, lower
 * case letters, digits and '-')?  Eight bytes at a time: OR-ing 0x20
 * lowers a letter and leaves digits and '-' alone; the only other bytes
 * it could turn into a letter, digit or '-' are control characters,
 * which the parser never lets into a name or a value.  (The byte loop
 * this replaced cost the benchmark request 385 instructions, 1,678 ->
 * 1,293 in all.)
 */
static inline int eq_lower(const char *name, size_t len, const char *lc, size_t lcn) {
    if (len != lcn) return 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t a, b;
        memcpy(&a, name + i, 8);
        memcpy(&b, lc + i, 8);
        if ((a | UINT64_C(0x2020202020202020)) != b) return 0;
    }
    for (; i < len; i++)
        if (((unsigned char)name[i] | 0x20) != (unsigned char)lc[i]) return 0;
    return 1;
}

int corio_http_name_eq(const char *name, size_t len, const char *lc) {
    size_t n = strlen(lc);
    if (len != n) return 0;
    /* The public form accepts any bytes: check exactly. */
    for (size_t i = 0; i < len; i++)
        if (lower((unsigned char)name[i]) != lc[i]) return 0;
    return 1;
}

#define EQ(s, n, lit) eq_lower((s), (n), (lit), sizeof(lit) - 1)

const corio_http_header *corio_http_find_header(const corio_http_header *h, size_t n, const char *lc) {
    for (size_t i = 0; i < n; i++)
        if (corio_http_name_eq(h[i].name, h[i].name_len, lc)) return &h[i];
    return NULL;
}

/* ---- scanning ------------------------------------------------------------ */

/*
 * The first byte at or after p that is not a field-value byte (normally
 * the CR ending the line).  With SSE2 (every x86-64) 16 bytes are checked
 * at a time for a control character or DEL; HTAB, the one control
 * character a value may hold, stops the vector loop and the byte loop
 * takes it.  On the TechEmpower-style request of bench/parser_bench.c
 * this took the parser from 2,057 to 1,678 instructions per request
 * (callgrind, gcc 12 -O3); elsewhere the portable loop runs.
 */
static inline const char *scan_value(const char *p, const char *end) {
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)p);
        /* b >= 0x20 (unsigned) is max(b, 0x20) == b */
        __m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(b, space), b);
        __m128i bad = _mm_or_si128(_mm_andnot_si128(ok, _mm_set1_epi8(-1)), _mm_cmpeq_epi8(b, del));
        int m = _mm_movemask_epi8(bad);
        if (m) {
            p += __builtin_ctz((unsigned)m);
            break;
        }
        p += 16;
    }
#endif
    while (p < end && IS(*p, C_VALUE)) p++;
    return p;
}

/* ---- the header block ---------------------------------------------------- */

#define FAIL(why)                  \
    do {                           \
        *err = (why);              \
        return CORIO_HTTP_EBADMSG; \
    } while (0)

/* Expect CRLF at *pp.  0 on success (advanced), EPARTIAL, or EBADMSG. */
static inline int expect_crlf(const char **pp, const char *end, const char **err, const char *what) {
    const char *p = *pp;
    if (p == end) return CORIO_HTTP_EPARTIAL;
    if (*p != '\r') {
        *err = what;
        return CORIO_HTTP_EBADMSG;
    }
    if (++p == end) return CORIO_HTTP_EPARTIAL;
    if (*p != '\n') {
        *err = "bare CR";
        return CORIO_HTTP_EBADMSG;
    }
    *pp = p + 1;
    return 0;
}

/*
 * The fields after the start line, through the empty line.  Returns the
 * position after the block in *pp and 0, or an error.
 */
static int parse_fields(const char **pp, const char *end, corio_http_header *h, size_t max, size_t *n,
                        const char **err) {
    const char *p = *pp;
    size_t k = 0;
    for (;;) {
        if (p == end) return CORIO_HTTP_EPARTIAL;
        if (*p == '\r') {
            int rc = expect_crlf(&p, end, err, "bare CR");
            if (rc) return rc;
            *pp = p;
            *n = k;
            return 0;
        }
        if (*p == ' ' || *p == '\t') FAIL("obs-fold (line starting with whitespace)");
        if (*p == '\n') FAIL("bare LF");
        const char *name = p;
        while (p < end && IS(*p, C_TCHAR)) p++;
        if (p == end) return CORIO_HTTP_EPARTIAL;
        if (*p != ':') {
            if (p == name) FAIL("invalid character in field name");
            if (*p == ' ' || *p == '\t') FAIL("whitespace before colon");
            FAIL("invalid character in field name");
        }
        if (p == name) FAIL("empty field name");
        size_t name_len = (size_t)(p - name);
        p++;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *value = p;
        p = scan_value(p, end);
        if (p == end) return CORIO_HTTP_EPARTIAL;
        const char *vend = p;
        if (*p == '\n') FAIL("bare LF");
        if (*p != '\r') FAIL(*p == 0 ? "NUL in field value" : "control character in field value");
        int rc = expect_crlf(&p, end, err, "bare CR");
        if (rc) return rc;
        while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t')) vend--;
        if (k == max) {
            *err = "too many header fields";
            return CORIO_HTTP_ETOOMANY;
        }
        h[k].name = name;
        h[k].name_len = name_len;
        h[k].value = value;
        h[k].value_len = (size_t)(vend - value);
        k++;
    }
}

/* "HTTP/1.d" at p; 0 with *minor, EPARTIAL, EBADMSG or EVERSION. */
static int parse_version(const char **pp, const char *end, int *minor, const char **err) {
    static const char pat[] = "HTTP/";
    const char *p = *pp;
    for (int i = 0; i < 5; i++, p++) {
        if (p == end) return CORIO_HTTP_EPARTIAL;
        if (*p != pat[i]) FAIL("malformed HTTP version");
    }
    if (p == end) return CORIO_HTTP_EPARTIAL;
    if (*p < '0' || *p > '9') FAIL("malformed HTTP version");
    int major = *p++ - '0';
    if (p == end) return CORIO_HTTP_EPARTIAL;
    if (*p != '.') FAIL("malformed HTTP version");
    if (++p == end) return CORIO_HTTP_EPARTIAL;
    if (*p < '0' || *p > '9') FAIL("malformed HTTP version");
    int mn = *p++ - '0';
    if (major != 1) {
        *err = "HTTP version not supported";
        return CORIO_HTTP_EVERSION;
    }
    *minor = mn;
    *pp = p;
    return 0;
}

/* ---- framing fields ------------------------------------------------------ */

/* Next element of a comma-separated list in [*pp, end): trims OWS; returns
 * 0 at the end, 1 with the element (possibly empty) in *s / *len. */
static int list_next(const char **pp, const char *end, const char **s, size_t *len) {
    const char *p = *pp;
    if (p > end) return 0;
    const char *e = p;
    while (e < end && *e != ',') e++;
    const char *a = p, *b = e;
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    *s = a;
    *len = (size_t)(b - a);
    *pp = e + 1; /* past the comma; past end when there was none */
    return 1;
}

static int all_tchar(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!IS(s[i], C_TCHAR)) return 0;
    return 1;
}

/* Content-Length values must all be 1*DIGIT and equal; 2^62 is far beyond
 * any body and keeps sums and comparisons clear of overflow. */
#define CL_MAX (UINT64_C(1) << 62)

static int parse_content_length(const corio_http_header *f, uint64_t *out, int *seen, const char **err) {
    const char *p = f->value, *end = f->value + f->value_len, *s;
    size_t n;
    int any = 0;
    while (list_next(&p, end, &s, &n)) {
        if (!n) FAIL("empty Content-Length");
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') FAIL("Content-Length is not a number");
            v = v * 10 + (uint64_t)(s[i] - '0');
            if (v > CL_MAX) FAIL("Content-Length overflows");
        }
        if (*seen && v != *out) FAIL("differing Content-Length values");
        *out = v;
        *seen = 1;
        any = 1;
    }
    if (!any) FAIL("empty Content-Length");
    return 0;
}

/* One Transfer-Encoding field, its codings in order.  *chunked_last says
 * whether the last coding so far is chunked. */
static int parse_transfer_encoding(const corio_http_header *f, int *chunked_seen, int *chunked_last,
                                   int *other, const char **err) {
    const char *p = f->value, *end = f->value + f->value_len, *s;
    size_t n;
    while (list_next(&p, end, &s, &n)) {
        if (!n) FAIL("empty transfer coding");
        if (!all_tchar(s, n)) FAIL("malformed transfer coding");
        if (EQ(s, n, "chunked")) {
            if (*chunked_seen) FAIL("chunked applied twice");
            *chunked_seen = 1;
            *chunked_last = 1;
        } else {
            /* A coding after chunked (or any coding besides it) we cannot
             * decode; one after chunked also hides where the body ends. */
            *other = 1;
            *chunked_last = 0;
        }
    }
    return 0;
}

static void parse_connection(const corio_http_header *f, unsigned *flags) {
    const char *p = f->value, *end = f->value + f->value_len, *s;
    size_t n;
    while (list_next(&p, end, &s, &n)) {
        if (EQ(s, n, "close")) *flags |= CORIO_HTTP_CONN_CLOSE;
        else if (EQ(s, n, "keep-alive")) *flags |= CORIO_HTTP_CONN_KEEP_ALIVE;
        else if (EQ(s, n, "upgrade")) *flags |= CORIO_HTTP_CONN_UPGRADE;
    }
}

/*
 * The framing of a message from its fields.  is_request selects the
 * request rules (no TE in 1.0, Host, last coding chunked).
 */
static int framing(const corio_http_header *h, size_t n, int minor, int is_request, corio_http_framing *fr,
                   const char **err) {
    int cl_seen = 0, te_chunked = 0, te_last = 0, te_other = 0, te = 0, hosts = 0;
    uint64_t cl = 0;
    unsigned flags = 0;
    for (size_t i = 0; i < n; i++) {
        const corio_http_header *f = &h[i];
        /* Dispatch on length first: most fields are none of these. */
        switch (f->name_len) {
        case 4:
            if (EQ(f->name, 4, "host")) hosts++;
            break;
        case 6:
            if (EQ(f->name, 6, "expect") && EQ(f->value, f->value_len, "100-continue"))
                flags |= CORIO_HTTP_EXPECT_CONTINUE;
            break;
        case 10:
            if (EQ(f->name, 10, "connection")) parse_connection(f, &flags);
            break;
        case 14:
            if (EQ(f->name, 14, "content-length")) {
                int rc = parse_content_length(f, &cl, &cl_seen, err);
                if (rc) return rc;
            }
            break;
        case 17:
            if (EQ(f->name, 17, "transfer-encoding")) {
                te = 1;
                int rc = parse_transfer_encoding(f, &te_chunked, &te_last, &te_other, err);
                if (rc) return rc;
            }
            break;
        default:
            break;
        }
    }
    fr->flags = flags;
    fr->content_length = 0;
    if (te && cl_seen) FAIL("both Content-Length and Transfer-Encoding");
    if (te) {
        if (minor == 0) FAIL("Transfer-Encoding in HTTP/1.0");
        if (!te_last) FAIL("last transfer coding is not chunked");
        if (te_other) {
            *err = "transfer coding not implemented";
            return CORIO_HTTP_ECODING;
        }
        fr->flags |= CORIO_HTTP_HAS_TRANSFER_ENCODING;
        fr->kind = CORIO_HTTP_BODY_CHUNKED;
    } else if (cl_seen) {
        fr->flags |= CORIO_HTTP_HAS_CONTENT_LENGTH;
        fr->content_length = cl;
        fr->kind = CORIO_HTTP_BODY_LENGTH;
    } else {
        fr->kind = is_request ? CORIO_HTTP_BODY_NONE : CORIO_HTTP_BODY_UNTIL_CLOSE;
    }
    if (is_request && minor >= 1 && hosts != 1) FAIL(hosts ? "more than one Host" : "no Host in HTTP/1.1");
    if (flags & CORIO_HTTP_CONN_CLOSE) fr->keep_alive = 0;
    else fr->keep_alive = minor >= 1 || (flags & CORIO_HTTP_CONN_KEEP_ALIVE);
    return 0;
}

/* ---- requests and responses ---------------------------------------------- */

static int parse_request(const char *buf, size_t len, corio_http_request *req, corio_http_header *headers,
                         size_t max_headers, const char **err) {
    const char *p = buf, *end = buf + len;
    /* Empty lines before the request line are skipped (RFC 9112 2.2). */
    for (;;) {
        if (p == end) return CORIO_HTTP_EPARTIAL;
        if (*p != '\r') break;
        int rc = expect_crlf(&p, end, err, "bare CR");
        if (rc) return rc;
    }
    req->method = p;
    while (p < end && IS(*p, C_TCHAR)) p++;
    if (p == end) return CORIO_HTTP_EPARTIAL;
    if (*p != ' ' || p == req->method) FAIL("malformed method");
    req->method_len = (size_t)(p - req->method);
    req->target = ++p;
    const char *q = NULL;
    while (p < end && IS(*p, C_TARGET)) {
        if (*p == '?' && !q) q = p;
        p++;
    }
    if (p == end) return CORIO_HTTP_EPARTIAL;
    if (*p != ' ' || p == req->target) FAIL("malformed request target");
    req->target_len = (size_t)(p - req->target);
    req->path = req->target;
    req->path_len = q ? (size_t)(q - req->target) : req->target_len;
    req->query = q ? q + 1 : NULL;
    req->query_len = q ? (size_t)(p - q - 1) : 0;
    p++;
    int rc = parse_version(&p, end, &req->minor_version, err);
    if (rc) return rc;
    rc = expect_crlf(&p, end, err, "malformed request line");
    if (rc) return rc;
    req->headers = headers;
    rc = parse_fields(&p, end, headers, max_headers, &req->num_headers, err);
    if (rc) return rc;
    rc = framing(headers, req->num_headers, req->minor_version, 1, &req->body, err);
    if (rc) return rc;
    return (int)(p - buf);
}

int corio_http_parse_request(const char *buf, size_t len, corio_http_request *req, corio_http_header *headers,
                             size_t max_headers) {
    ensure_cls();
    if (len > (size_t)0x7fffffff) len = 0x7fffffff; /* the result is an int; heads are far smaller */
    req->num_headers = 0;
    req->headers = headers;
    req->error = NULL;
    int rc = parse_request(buf, len, req, headers, max_headers, &req->error);
    if (rc == CORIO_HTTP_EPARTIAL) req->error = NULL;
    return rc;
}

static int parse_response(const char *buf, size_t len, corio_http_response *resp, corio_http_header *headers,
                          size_t max_headers, const char **err) {
    const char *p = buf, *end = buf + len;
    int rc = parse_version(&p, end, &resp->minor_version, err);
    if (rc) return rc;
    if (p == end) return CORIO_HTTP_EPARTIAL;
    if (*p++ != ' ') FAIL("malformed status line");
    int st = 0;
    for (int i = 0; i < 3; i++, p++) {
        if (p == end) return CORIO_HTTP_EPARTIAL;
        if (*p < '0' || *p > '9') FAIL("malformed status code");
        st = st * 10 + (*p - '0');
    }
    if (st < 100) FAIL("malformed status code");
    resp->status = st;
    if (p == end) return CORIO_HTTP_EPARTIAL;
    /* "HTTP/1.1 200\r\n" (no SP, no reason) is common enough among servers
     * to accept; it cannot change where the message ends. */
    if (*p == ' ') {
        p++;
        resp->reason = p;
        while (p < end && IS(*p, C_VALUE)) p++;
        if (p == end) return CORIO_HTTP_EPARTIAL;
        resp->reason_len = (size_t)(p - resp->reason);
    } else {
        resp->reason = p;
        resp->reason_len = 0;
    }
    rc = expect_crlf(&p, end, err, "malformed status line");
    if (rc) return rc;
    resp->headers = headers;
    rc = parse_fields(&p, end, headers, max_headers, &resp->num_headers, err);
    if (rc) return rc;
    rc = framing(headers, resp->num_headers, resp->minor_version, 0, &resp->body, err);
    if (rc) return rc;
    return (int)(p - buf);
}

int corio_http_parse_response(const char *buf, size_t len, corio_http_response *resp, corio_http_header *headers,
                              size_t max_headers) {
    ensure_cls();
    if (len > (size_t)0x7fffffff) len = 0x7fffffff;
    resp->num_headers = 0;
    resp->headers = headers;
    resp->error = NULL;
    resp->reason = NULL;
    resp->reason_len = 0;
    int rc = parse_response(buf, len, resp, headers, max_headers, &resp->error);
    if (rc == CORIO_HTTP_EPARTIAL) resp->error = NULL;
    return rc;
}

int corio_http_status_bodiless(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

corio_http_body_kind corio_http_response_framing(const corio_http_response *resp, const char *method,
                                                 size_t method_len) {
    if (corio_http_status_bodiless(resp->status)) return CORIO_HTTP_BODY_NONE;
    if (method && method_len == 4 && memcmp(method, "HEAD", 4) == 0) return CORIO_HTTP_BODY_NONE;
    if (method && method_len == 7 && memcmp(method, "CONNECT", 7) == 0 && resp->status / 100 == 2)
        return CORIO_HTTP_BODY_NONE;
    return resp->body.kind;
}

/* ---- chunked ------------------------------------------------------------- */

enum {
    K_SIZE0,        /* first hex digit of a chunk size */
    K_SIZE,         /* more hex digits, BWS, ';' or CR */
    K_BWS_SEMI,     /* whitespace after the size: only more of it or ';' */
    K_EXT_NAME0,    /* after ';': BWS then a token */
    K_EXT_NAME,     /* in the name */
    K_EXT_NAME_WS,  /* BWS after the name: '=', ';' or CR */
    K_EXT_VAL0,     /* after '=': BWS then a token or a quoted string */
    K_EXT_TOKEN,    /* in a token value */
    K_EXT_QUOTED,   /* in a quoted value */
    K_EXT_QP,       /* after a backslash in a quoted value */
    K_EXT_AFTER,    /* after a value: BWS, ';' or CR */
    K_SIZE_LF,      /* LF ending the size line */
    K_DATA,         /* chunk data */
    K_DATA_CR,      /* CR after the data */
    K_DATA_LF,      /* LF after the data */
    K_TR_START,     /* start of a trailer line, or CR of the empty line */
    K_TR_NAME,      /* trailer field name */
    K_TR_VALUE,     /* trailer field value */
    K_TR_LF,        /* LF ending a trailer line */
    K_END_LF,       /* LF of the final empty line */
    K_DONE,
    K_ERROR,
};

void corio_http_chunked_init(corio_http_chunked *d) { memset(d, 0, sizeof *d); }

static inline int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    return lower(c) - 'a' + 10;
}

int corio_http_chunked_feed(corio_http_chunked *d, const char *buf, size_t len, size_t *consumed, const char **data,
                            size_t *data_len) {
    ensure_cls();
    size_t i = 0;
    *data = NULL;
    *data_len = 0;
    if (d->state == K_DONE) {
        *consumed = 0;
        return 1;
    }
    if (d->state == K_ERROR) goto bad;
    while (i < len) {
        unsigned char c = (unsigned char)buf[i];
        unsigned st = d->state;
        if (st == K_DATA) {
            size_t take = len - i;
            if ((uint64_t)take > d->remaining) take = (size_t)d->remaining;
            *data = buf + i;
            *data_len = take;
            d->remaining -= take;
            i += take;
            if (!d->remaining) d->state = K_DATA_CR;
            *consumed = i;
            return 0;
        }
        if (st <= K_SIZE_LF && ++d->line_len > CORIO_HTTP_CHUNK_LINE_MAX) goto bad;
        if (st >= K_TR_START && st <= K_END_LF && ++d->trailer_len > CORIO_HTTP_TRAILER_MAX) goto bad;
        i++;
        switch (st) {
        case K_SIZE0:
            if (!IS(c, C_HEX)) goto bad;
            d->remaining = (uint64_t)hexval(c);
            d->ndigits = 1;
            d->state = K_SIZE;
            break;
        case K_SIZE:
            if (IS(c, C_HEX)) {
                /* 2^60: no chunk is that large, and the shift cannot overflow. */
                if (d->remaining >> 56) goto bad;
                d->remaining = d->remaining << 4 | (uint64_t)hexval(c);
                d->ndigits++;
            } else if (c == ';') d->state = K_EXT_NAME0;
            else if (c == ' ' || c == '\t') d->state = K_BWS_SEMI;
            else if (c == '\r') d->state = K_SIZE_LF;
            else goto bad;
            break;
        case K_BWS_SEMI:
            if (c == ';') d->state = K_EXT_NAME0;
            else if (c != ' ' && c != '\t') goto bad;
            break;
        case K_EXT_NAME0:
            if (IS(c, C_TCHAR)) d->state = K_EXT_NAME;
            else if (c != ' ' && c != '\t') goto bad;
            break;
        case K_EXT_NAME:
            if (IS(c, C_TCHAR)) break;
            if (c == '=') d->state = K_EXT_VAL0;
            else if (c == ';') d->state = K_EXT_NAME0;
            else if (c == ' ' || c == '\t') d->state = K_EXT_NAME_WS;
            else if (c == '\r') d->state = K_SIZE_LF;
            else goto bad;
            break;
        case K_EXT_NAME_WS:
            if (c == '=') d->state = K_EXT_VAL0;
            else if (c == ';') d->state = K_EXT_NAME0;
            else if (c != ' ' && c != '\t') goto bad;
            break;
        case K_EXT_VAL0:
            if (IS(c, C_TCHAR)) d->state = K_EXT_TOKEN;
            else if (c == '"') d->state = K_EXT_QUOTED;
            else if (c != ' ' && c != '\t') goto bad;
            break;
        case K_EXT_TOKEN:
            if (IS(c, C_TCHAR)) break;
            if (c == ';') d->state = K_EXT_NAME0;
            else if (c == ' ' || c == '\t') d->state = K_EXT_AFTER;
            else if (c == '\r') d->state = K_SIZE_LF;
            else goto bad;
            break;
        case K_EXT_QUOTED:
            if (c == '"') d->state = K_EXT_AFTER;
            else if (c == '\\') d->state = K_EXT_QP;
            else if (!IS(c, C_VALUE)) goto bad; /* qdtext: HTAB, SP, VCHAR but '"' '\\', obs-text */
            break;
        case K_EXT_QP:
            if (!IS(c, C_VALUE)) goto bad;
            d->state = K_EXT_QUOTED;
            break;
        case K_EXT_AFTER:
            if (c == ';') d->state = K_EXT_NAME0;
            else if (c == '\r') d->state = K_SIZE_LF;
            else if (c != ' ' && c != '\t') goto bad;
            break;
        case K_SIZE_LF:
            if (c != '\n') goto bad;
            d->line_len = 0;
            d->state = d->remaining ? K_DATA : K_TR_START;
            break;
        case K_DATA_CR:
            if (c != '\r') goto bad;
            d->state = K_DATA_LF;
            break;
        case K_DATA_LF:
            if (c != '\n') goto bad;
            d->state = K_SIZE0;
            break;
        case K_TR_START:
            if (c == '\r') d->state = K_END_LF;
            else if (IS(c, C_TCHAR)) d->state = K_TR_NAME;
            else goto bad; /* obs-fold, bare LF, anything else */
            break;
        case K_TR_NAME:
            if (c == ':') d->state = K_TR_VALUE;
            else if (!IS(c, C_TCHAR)) goto bad;
            break;
        case K_TR_VALUE:
            if (c == '\r') d->state = K_TR_LF;
            else if (!IS(c, C_VALUE)) goto bad;
            break;
        case K_TR_LF:
            if (c != '\n') goto bad;
            d->state = K_TR_START;
            break;
        case K_END_LF:
            if (c != '\n') goto bad;
            d->state = K_DONE;
            *consumed = i;
            return 1;
        default:
            goto bad;
        }
    }
    *consumed = i;
    return 0;
bad:
    d->state = K_ERROR;
    *consumed = i;
    return CORIO_HTTP_EBADMSG;
}

/* ---- names --------------------------------------------------------------- */

int corio_http_error_status(int err) {
    switch (err) {
    case CORIO_HTTP_EBADMSG: return 400;
    case CORIO_HTTP_ETOOMANY: return 431;
    case CORIO_HTTP_EVERSION: return 505;
    case CORIO_HTTP_ECODING: return 501;
    case CORIO_HTTP_ETOOBIG: return 413;
    default: return 500;
    }
}

const char *corio_http_strerror(int err) {
    if (err >= 0) return "ok";
    switch (err) {
    case CORIO_HTTP_EPARTIAL: return "incomplete message";
    case CORIO_HTTP_EBADMSG: return "malformed message";
    case CORIO_HTTP_ETOOMANY: return "too many header fields";
    case CORIO_HTTP_EVERSION: return "HTTP version not supported";
    case CORIO_HTTP_ECODING: return "transfer coding not implemented";
    case CORIO_HTTP_ETOOBIG: return "message too large";
    default: return "unknown error";
    }
}

const char *corio_http_reason(int s) {
    switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "";
    }
}
