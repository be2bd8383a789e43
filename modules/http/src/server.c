/*
 * server.c - corio-http's server (corio/http.h).
 *
 * One task per connection.  The task owns an input buffer into which it
 * reads with corio_reader_read() and in which the strict parser parses
 * request heads in place (the stream API has no peek, so the bytes are
 * copied once from the stream's buffer; the parser's views then point
 * into ours).  Responses are appended to an output buffer and handed to
 * the writer in one corio_writer_write() when the task would wait for
 * input, so the responses to all the requests parsed from one read leave
 * in one send.  A handler that suspends with responses pending (a slow
 * route after a fast one in a pipeline) must not hold them back: the
 * first append schedules a call_soon flush, which runs only if the task
 * suspends before flushing itself.
 *
 * The accept loop is ours (corio_accept, then corio_stream_open), not
 * corio_start_server's: with a connection cap, excess clients must wait
 * in the listen backlog, not be accepted and closed, so the loop waits on
 * a semaphore before accepting.
 */
#include <corio.h>
#include <corio/http.h>
#include <corio/transport.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEF_HEADER_LIMIT (16 * 1024)
#define DEF_MAX_HEADERS 100
#define DEF_MAX_BODY (1024 * 1024)
#define DEF_HEADER_TIMEOUT 10.0
#define DEF_KEEPALIVE_TIMEOUT 75.0
#define DEF_IO_TIMEOUT 60.0
#define OUT_FLUSH_AT (64 * 1024) /* pending response bytes that are flushed at once */
#define IN_INITIAL 4096          /* an idle connection's input buffer; grows to the limit */
/* Unread request body the server reads and drops to keep the connection;
 * beyond it, closing is cheaper than reading. */
#define DISCARD_MAX (256 * 1024)
#define MAX_PARAMS 8
#define LINGER_SECONDS 2.0       /* a closing connection waits this long for the client's end ... */
#define LINGER_MAX (1024 * 1024) /* ... reading and dropping at most this much */

/* ---- the Date field, formatted once a second per thread ----------------- */

static _Thread_local time_t date_sec = -1;
static _Thread_local char date_line[48]; /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
static _Thread_local size_t date_len;

static void date_refresh(void) {
    time_t now = time(NULL); /* the vDSO: no system call */
    if (now == date_sec) return;
    struct tm tm;
    gmtime_r(&now, &tm);
    date_len = strftime(date_line, sizeof date_line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    date_sec = now;
}

/* ---- router ----------------------------------------------------------------- */

typedef struct route {
    struct route *next;
    char *method; /* "*" for any */
    char **segs;  /* literal segments, or "{name}" */
    int nseg;
    corio_http_handler fn;
    void *arg;
} route;

struct corio_http_router {
    route *first, *last;
};

corio_http_router *corio_http_router_new(void) { return calloc(1, sizeof(corio_http_router)); }

static void route_free(route *r) {
    if (!r) return;
    for (int i = 0; i < r->nseg; i++) free(r->segs[i]);
    free(r->segs);
    free(r->method);
    free(r);
}

void corio_http_router_free(corio_http_router *rt) {
    if (!rt) return;
    for (route *r = rt->first, *n; r; r = n) {
        n = r->next;
        route_free(r);
    }
    free(rt);
}

int corio_http_route(corio_http_router *rt, const char *method, const char *pattern, corio_http_handler fn,
                     void *arg) {
    if (!rt || !method || !*method || !pattern || pattern[0] != '/' || !fn) return -EINVAL;
    route *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->method = strdup(method);
    r->fn = fn;
    r->arg = arg;
    if (!r->method) goto nomem;
    /* "/" has no segment; "/a/b" has two; "/a/" has "a" and "". */
    if (pattern[1]) {
        for (const char *p = pattern; *p; p++)
            if (*p == '/') r->nseg++;
        r->segs = calloc((size_t)r->nseg, sizeof *r->segs);
        if (!r->segs) goto nomem;
        const char *p = pattern + 1;
        for (int i = 0; i < r->nseg; i++) {
            const char *e = strchr(p, '/');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            r->segs[i] = strndup(p, n);
            if (!r->segs[i]) goto nomem;
            if (n && p[0] == '{' && (n < 3 || p[n - 1] != '}')) {
                route_free(r);
                return -EINVAL;
            }
            p += n + 1;
        }
    }
    if (rt->last) rt->last->next = r;
    else rt->first = r;
    rt->last = r;
    return 0;
nomem:
    route_free(r);
    return -ENOMEM;
}

/* ---- server and connection state ------------------------------------------------ */

typedef struct conn conn;

struct corio_http_server {
    corio_http_server_opts o;
    int lfd;
    int port;
    corio_task *acceptor;
    corio_semaphore slots; /* max_connections */
    conn *conns;           /* every open connection (doubly linked) */
    size_t nconns;
    uint64_t requests;
    int shutting_down;
    int shut_down;    /* shutdown finished */
    int forced;       /* the grace period ended: connections are being cancelled */
    char server_line[128]; /* "Server: corio\r\n", or empty */
    size_t server_line_len;
    corio_event done; /* set when shutting down and the last connection closed */
    corio_event stopped; /* set when shutdown completed */
};

struct conn {
    conn *prev, *next;
    corio_http_server *srv;
    corio_reader *r;
    corio_writer *w;
    corio_task *task; /* the task serving it (to cancel at the end of the grace period) */
    int fd;           /* accepted descriptor (our connections), -1 for serve_stream */
    char *in;         /* request heads and the start of bodies */
    size_t in_start, in_len, in_cap;
    char *out; /* responses not yet handed to the writer */
    size_t out_len, out_cap;
    corio_handle flush_h;
    int flush_sched;
    int idle;  /* waiting for the first byte of a request */
    int peer_eof; /* the client closed its side */
    corio_handle wd_h; /* the read deadline's timer (see watchdog_cb) */
    int wd_armed;
    double wd_when;    /* when it is armed for */
    double deadline;   /* the current read's deadline */
    int waiting;       /* in a read under the deadline */
    int head_begun;    /* ... with part of a request head received */
    int timed_out;
    int started; /* its task has begun (a task cancelled before it starts never runs) */
    int err;   /* the connection's first error: stop */
    corio_http_header *hdrs;
    /* The handler's added fields, kept from one exchange to the next so
     * that a response with a Content-Type costs no malloc and free. */
    char *extra;
    size_t extra_cap;
};

typedef struct {
    const char *name; /* in the route (without braces) */
    size_t name_len;
    const char *val;
    size_t len;
} param;

struct corio_http_exchange {
    conn *c;
    corio_http_request req;
    int nparams;
    /* request body */
    corio_http_body_kind bkind;
    uint64_t bremaining; /* LENGTH: bytes left */
    uint64_t bread;      /* decoded bytes so far */
    corio_http_chunked dec;
    int bdone;  /* the body has been read to its end */
    int berr;   /* the body failed (malformed or too big): close after */
    size_t pend; /* decoded chunk data at c->in + c->in_start not yet returned */
    int continue_pending; /* Expect: 100-continue, not answered yet */
    /* response */
    int started, finished, head, chunked, until_close, bodiless;
    int64_t length; /* declared, or -1 */
    uint64_t written;
    int keep;        /* the connection persists after this exchange */
    char *extra;     /* fields added by the handler */
    size_t extra_len, extra_cap;
    /* Last: only params[0..nparams) is ever read, so a new exchange
     * clears the fields before it and not these 256 bytes (the task's
     * stack is cold with many connections: every line written costs). */
    param params[MAX_PARAMS];
};
#define EXCHANGE_CLEAR(x) memset((x), 0, offsetof(corio_http_exchange, params))

static int buf_reserve(char **b, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *p = realloc(*b, n);
    if (!p) return -ENOMEM;
    *b = p;
    *cap = n;
    return 0;
}

static int out_append(conn *c, const void *p, size_t n);
static void watchdog_arm(conn *c, double when);

/* Decimal digits of v at o; returns their count. */
static size_t u64_dec(char *o, uint64_t v) {
    char t[24];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) o[i] = t[n - 1 - i];
    return n;
}

static void flush_now(conn *c) {
    if (c->flush_sched) {
        corio_handle_cancel(&c->flush_h);
        c->flush_sched = 0;
    }
    if (!c->out_len) return;
    int rc = corio_writer_write(c->w, c->out, c->out_len);
    c->out_len = 0;
    if (rc < 0 && !c->err) c->err = rc;
    /* A burst (a long pipelined batch) grew the buffer: give it back. */
    if (c->out_cap > 4 * OUT_FLUSH_AT) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
}

static void flush_cb(void *arg) {
    conn *c = arg;
    c->flush_sched = 0;
    flush_now(c);
}

/* Append n bytes from p; p NULL: the bytes are already in place at the
 * end of c->out (the caller reserved and wrote them). */
static int out_append(conn *c, const void *p, size_t n) {
    if (p) {
        if (buf_reserve(&c->out, &c->out_cap, c->out_len + n) < 0) return -ENOMEM;
        memcpy(c->out + c->out_len, p, n);
    }
    c->out_len += n;
    if (!c->flush_sched) {
        /* If the task suspends before flushing, the loop flushes for it. */
        if (corio_call_soon(&c->flush_h, flush_cb, c) == 0) c->flush_sched = 1;
    }
    return 0;
}

/* Wait for the writer to go below its high water mark, within io_timeout. */
static int drain(conn *c) {
    if (corio_writer_buffered(c->w) <= CORIO_STREAM_HIGH_WATER) return 0;
    corio_timeout to;
    int rc = corio_timeout_enter(&to, c->srv->o.io_timeout);
    if (rc < 0) return rc;
    rc = corio_writer_drain(c->w);
    return corio_timeout_exit(&to, rc);
}

/* ---- the request side ------------------------------------------------------------ */

const corio_http_request *corio_http_req(const corio_http_exchange *x) { return x ? &x->req : NULL; }

const char *corio_http_get_header(const corio_http_exchange *x, const char *name, size_t *len) {
    if (!x || !name) return NULL;
    const corio_http_header *h = corio_http_find_header(x->req.headers, x->req.num_headers, name);
    if (!h) {
        /* The name given may not be lower case. */
        char lc[64];
        size_t n = strlen(name);
        if (n >= sizeof lc) return NULL;
        for (size_t i = 0; i <= n; i++) lc[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
        h = corio_http_find_header(x->req.headers, x->req.num_headers, lc);
        if (!h) return NULL;
    }
    if (len) *len = h->value_len;
    return h->value;
}

const char *corio_http_param(const corio_http_exchange *x, const char *name, size_t *len) {
    if (!x || !name) return NULL;
    size_t n = strlen(name);
    for (int i = 0; i < x->nparams; i++)
        if (x->params[i].name_len == n && !memcmp(x->params[i].name, name, n)) {
            if (len) *len = x->params[i].len;
            return x->params[i].val;
        }
    return NULL;
}

int corio_http_peername(const corio_http_exchange *x, char *buf, size_t cap) {
    if (!x) return -EINVAL;
    return corio_writer_peername(x->c->w, buf, cap);
}

/*
 * The read deadline of a connection is kept by one lazy timer (nginx's
 * and HAProxy's way) rather than a timeout scope around every read: a
 * scope arms and disarms a timer per request, which was a tenth of a
 * plaintext request's instructions (callgrind).  The timer is armed for
 * the current deadline and, when it fires, re-arms itself if the deadline
 * has moved on meanwhile; if the connection is still waiting past its
 * deadline, it answers 408 when a request had begun, and closes the
 * connection: the waiting read then sees end of stream.
 */
static void reject(conn *c, int status);

static void watchdog_cb(void *arg) {
    conn *c = arg;
    c->wd_armed = 0;
    if (!c->waiting) return; /* the next read arms it again */
    if (corio_time() < c->deadline) {
        watchdog_arm(c, c->deadline);
        return;
    }
    c->timed_out = 1;
    if (c->head_begun) reject(c, 408);
    flush_now(c);
    corio_writer_close(c->w);
}

static void watchdog_arm(conn *c, double when) {
    if (c->wd_armed) corio_handle_cancel(&c->wd_h);
    c->wd_armed = corio_call_at(&c->wd_h, when, watchdog_cb, c) == 0;
    c->wd_when = when;
}

/* Read more input into c->in (after what is there), within `deadline`
 * (loop time).  Returns bytes read, 0 at EOF, or -errno (-ETIMEDOUT). */
static ssize_t fill(conn *c, double deadline) {
    if (c->in_start == c->in_len) c->in_start = c->in_len = 0;
    if (c->in_len == c->in_cap) {
        if (c->in_start) {
            memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
            c->in_len -= c->in_start;
            c->in_start = 0;
        } else {
            size_t ncap = c->in_cap * 2;
            size_t lim = c->srv->o.header_limit + IN_INITIAL;
            if (ncap > lim) ncap = lim;
            if (ncap <= c->in_cap) return -ENOBUFS;
            char *p = realloc(c->in, ncap);
            if (!p) return -ENOMEM;
            c->in = p;
            c->in_cap = ncap;
        }
    }
    flush_now(c);
    if (c->err) return c->err;
    if (c->timed_out) return -ETIMEDOUT;
    c->deadline = deadline;
    if (!c->wd_armed || c->wd_when > deadline) watchdog_arm(c, deadline);
    c->waiting = 1;
    ssize_t n = corio_reader_read(c->r, c->in + c->in_len, c->in_cap - c->in_len);
    c->waiting = 0;
    if (c->timed_out && n >= 0) n = -ETIMEDOUT;
    if (n > 0) c->in_len += (size_t)n;
    return n;
}

static int send_continue(corio_http_exchange *x) {
    x->continue_pending = 0;
    if (x->started) return 0;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    int rc = out_append(x->c, cont, sizeof cont - 1);
    if (rc == 0) flush_now(x->c);
    return rc < 0 ? rc : x->c->err;
}

ssize_t corio_http_body_read(corio_http_exchange *x, void *buf, size_t n) {
    if (!x || (!buf && n)) return -EINVAL;
    conn *c = x->c;
    if (x->berr) return x->berr;
    if (x->bdone || n == 0) return 0;
    if (x->continue_pending) {
        int rc = send_continue(x);
        if (rc < 0) return rc;
    }
    double deadline = corio_time() + c->srv->o.io_timeout;
    if (x->bkind == CORIO_HTTP_BODY_LENGTH) {
        if ((uint64_t)n > x->bremaining) n = (size_t)x->bremaining;
        size_t avail = c->in_len - c->in_start;
        ssize_t got;
        if (avail) {
            got = (ssize_t)(avail < n ? avail : n);
            memcpy(buf, c->in + c->in_start, (size_t)got);
            c->in_start += (size_t)got;
        } else {
            /* Straight into the caller's buffer: large bodies are not
             * copied through ours. */
            flush_now(c);
            corio_timeout to;
            int rc = corio_timeout_enter_at(&to, deadline);
            if (rc < 0) return rc;
            got = corio_reader_read(c->r, buf, n);
            int erc = corio_timeout_exit(&to, got < 0 ? (int)got : 0);
            if (erc < 0) got = erc;
            if (got == 0) got = -ECONNRESET; /* the client closed before the end of its body */
            if (got < 0) {
                x->berr = (int)got;
                return got;
            }
        }
        x->bremaining -= (uint64_t)got;
        x->bread += (uint64_t)got;
        if (!x->bremaining) x->bdone = 1;
        return got;
    }
    /* chunked */
    for (;;) {
        if (x->pend) {
            /* The rest of a data span that did not fit the caller's buffer last time. */
            size_t take = x->pend < n ? x->pend : n;
            memcpy(buf, c->in + c->in_start, take);
            c->in_start += take;
            x->pend -= take;
            return (ssize_t)take;
        }
        if (c->in_start < c->in_len) {
            size_t used;
            const char *data;
            size_t dl;
            size_t avail = c->in_len - c->in_start;
            int rc = corio_http_chunked_feed(&x->dec, c->in + c->in_start, avail, &used, &data, &dl);
            if (rc < 0) {
                x->berr = rc;
                return rc;
            }
            size_t take = dl < n ? dl : n;
            if (take) memcpy(buf, data, take);
            /* A data span ends where the decoder stopped; what did not fit
             * in buf stays in ours, counted in x->pend. */
            size_t back = dl - take;
            c->in_start += used - back;
            x->pend = back;
            if (rc == 1) x->bdone = 1;
            x->bread += dl;
            if (x->bread > c->srv->o.max_body) {
                x->berr = CORIO_HTTP_ETOOBIG;
                return x->berr;
            }
            if (take || (x->bdone && !x->pend)) return (ssize_t)take;
            continue;
        }
        ssize_t got = fill(c, deadline);
        if (got == 0) got = -ECONNRESET;
        if (got < 0) {
            x->berr = (int)got;
            return got;
        }
    }
}

int corio_http_body_read_all(corio_http_exchange *x, size_t limit, char **out, size_t *len) {
    if (!x || !out || !len) return -EINVAL;
    *out = NULL;
    *len = 0;
    if (!limit || limit > x->c->srv->o.max_body) limit = (size_t)x->c->srv->o.max_body;
    if (x->bkind == CORIO_HTTP_BODY_LENGTH && x->bremaining > limit) return CORIO_HTTP_ETOOBIG;
    size_t cap = x->bkind == CORIO_HTTP_BODY_LENGTH ? (size_t)x->bremaining + 1 : 4096;
    char *b = malloc(cap);
    if (!b) return -ENOMEM;
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap) {
            size_t nc = cap * 2;
            if (nc > limit + 1) nc = limit + 1;
            if (nc <= cap) {
                /* Full at the limit: one more byte means too big. */
                char probe;
                ssize_t g = corio_http_body_read(x, &probe, 1);
                if (g == 0) break;
                free(b);
                return g < 0 ? (int)g : CORIO_HTTP_ETOOBIG;
            }
            char *p = realloc(b, nc);
            if (!p) {
                free(b);
                return -ENOMEM;
            }
            b = p;
            cap = nc;
        }
        ssize_t g = corio_http_body_read(x, b + n, cap - 1 - n);
        if (g < 0) {
            free(b);
            return (int)g;
        }
        if (g == 0) break;
        n += (size_t)g;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

int corio_http_body_discard(corio_http_exchange *x) {
    char tmp[4096];
    ssize_t g;
    while ((g = corio_http_body_read(x, tmp, sizeof tmp)) > 0) {
    }
    return (int)g;
}

/* ---- the response side ------------------------------------------------------------ */

static int valid_field_text(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t') return 0; /* CR, LF and other controls */
    return 1;
}

/* Append "name: value\r\n" to x's fields, name already checked: the
 * value's length, or -EINVAL for a control character in it (CR, LF...). */
static int add_field(corio_http_exchange *x, const char *name, size_t nl, const char *value) {
    size_t vl = 0;
    /* Length and check in one pass: this runs for every Content-Type. */
    for (unsigned char ch; (ch = (unsigned char)value[vl]) != 0; vl++)
        if (ch < 0x20 && ch != '\t') return -EINVAL;
    if (buf_reserve(&x->extra, &x->extra_cap, x->extra_len + nl + vl + 4) < 0) return -ENOMEM;
    char *o = x->extra + x->extra_len;
    memcpy(o, name, nl);
    o += nl;
    *o++ = ':';
    *o++ = ' ';
    memcpy(o, value, vl);
    o += vl;
    *o++ = '\r';
    *o++ = '\n';
    x->extra_len = (size_t)(o - x->extra);
    return 0;
}

int corio_http_add_header(corio_http_exchange *x, const char *name, const char *value) {
    if (!x || !name || !value || !*name) return -EINVAL;
    if (x->started) return -EALREADY;
    size_t nl = strlen(name);
    for (size_t i = 0; i < nl; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch <= ' ' || ch == ':' || ch >= 0x7f) return -EINVAL;
    }
    /* The framing and connection fields are the server's (by length first:
     * this runs for every field a handler adds). */
    switch (nl) {
    case 4:
        if (corio_http_name_eq(name, nl, "date")) return -EINVAL;
        break;
    case 6:
        if (corio_http_name_eq(name, nl, "server")) return -EINVAL;
        break;
    case 10:
        if (corio_http_name_eq(name, nl, "connection")) return -EINVAL;
        break;
    case 14:
        if (corio_http_name_eq(name, nl, "content-length")) return -EINVAL;
        break;
    case 17:
        if (corio_http_name_eq(name, nl, "transfer-encoding")) return -EINVAL;
        break;
    default:
        break;
    }
    return add_field(x, name, nl, value);
}

void corio_http_close_after(corio_http_exchange *x) {
    if (x) x->keep = 0;
}

int corio_http_started(const corio_http_exchange *x) { return x && x->started; }

/* Whether the request body left unread can be skipped cheaply enough to
 * keep the connection. */
static int body_can_be_skipped(const corio_http_exchange *x) {
    if (x->bdone) return 1;
    if (x->continue_pending) return 0; /* the client may or may not send it */
    if (x->bkind == CORIO_HTTP_BODY_LENGTH) return x->bremaining <= DISCARD_MAX;
    return 0; /* chunked: unknown length */
}

int corio_http_start(corio_http_exchange *x, int status, int64_t length) {
    if (!x) return -EINVAL;
    if (x->started) return -EALREADY;
    if (status < 100 || status > 999 || length < CORIO_HTTP_CHUNKED) return -EINVAL;
    conn *c = x->c;
    x->started = 1;
    x->length = length;
    x->bodiless = corio_http_status_bodiless(status);
    /* A body still unread is skipped after the handler if it is small
     * and known; otherwise the connection closes then (a client waiting
     * for 100 Continue may never send it: close now). */
    if (x->continue_pending || c->srv->shutting_down) x->keep = 0;
    if (length == CORIO_HTTP_CHUNKED && !x->bodiless) {
        if (x->req.minor_version >= 1) x->chunked = 1;
        else {
            x->until_close = 1;
            x->keep = 0;
        }
    }
    date_refresh();
    /* The head in one reservation, without printf: this runs per response
     * and snprintf was a third of a plaintext response's instructions. */
    const char *reason = corio_http_reason(status);
    if (!*reason) reason = "Unknown";
    size_t rl = strlen(reason);
    corio_http_server *s = c->srv;
    size_t need = 9 + 4 + rl + 2 + s->server_line_len + date_len + x->extra_len + 48 + 28;
    if (buf_reserve(&c->out, &c->out_cap, c->out_len + need) < 0) {
        if (!c->err) c->err = -ENOMEM;
        return -ENOMEM;
    }
    char *o = c->out + c->out_len;
    memcpy(o, "HTTP/1.1 ", 9);
    o += 9;
    *o++ = (char)('0' + status / 100);
    *o++ = (char)('0' + status / 10 % 10);
    *o++ = (char)('0' + status % 10);
    *o++ = ' ';
    memcpy(o, reason, rl);
    o += rl;
    *o++ = '\r';
    *o++ = '\n';
    memcpy(o, s->server_line, s->server_line_len);
    o += s->server_line_len;
    memcpy(o, date_line, date_len);
    o += date_len;
    if (x->extra_len) {
        memcpy(o, x->extra, x->extra_len);
        o += x->extra_len;
    }
    if (!x->bodiless) {
        if (x->chunked) {
            memcpy(o, "Transfer-Encoding: chunked\r\n", 28);
            o += 28;
        } else if (length >= 0) {
            memcpy(o, "Content-Length: ", 16);
            o += 16;
            o += u64_dec(o, (uint64_t)length);
            *o++ = '\r';
            *o++ = '\n';
        }
    }
    if (!x->keep) {
        memcpy(o, "Connection: close\r\n", 19);
        o += 19;
    } else if (x->req.minor_version == 0) {
        memcpy(o, "Connection: keep-alive\r\n", 24);
        o += 24;
    }
    *o++ = '\r';
    *o++ = '\n';
    int rc = out_append(c, NULL, (size_t)(o - (c->out + c->out_len)));
    if (rc < 0 && !c->err) c->err = rc;
    return rc;
}

/* Body bytes through the output buffer (small) or the writer (large). */
static int body_out(conn *c, const void *buf, size_t len) {
    if (len >= 16 * 1024) {
        flush_now(c);
        if (c->err) return c->err;
        int rc = corio_writer_write(c->w, buf, len);
        if (rc < 0) return c->err = rc;
        return 0;
    }
    return out_append(c, buf, len);
}

int corio_http_write(corio_http_exchange *x, const void *buf, size_t len) {
    if (!x || (!buf && len)) return -EINVAL;
    if (!x->started) return -EINVAL;
    if (x->finished) return -EALREADY;
    conn *c = x->c;
    if (c->err) return c->err;
    if (x->length >= 0 && x->written + len > (uint64_t)x->length) return -EMSGSIZE;
    x->written += len;
    if (!len || x->head || x->bodiless) return 0;
    int rc;
    if (x->chunked) {
        char hex[24];
        size_t n = 0;
        for (int sh = 60; sh >= 0; sh -= 4)
            if ((len >> sh) & 15 || n || sh == 0) hex[n++] = "0123456789abcdef"[(len >> sh) & 15];
        hex[n++] = '\r';
        hex[n++] = '\n';
        rc = out_append(c, hex, n);
        if (!rc) rc = body_out(c, buf, len);
        if (!rc) rc = out_append(c, "\r\n", 2);
    } else {
        rc = body_out(c, buf, len);
    }
    if (rc < 0) return rc;
    if (c->out_len >= OUT_FLUSH_AT) flush_now(c);
    if (c->err) return c->err;
    rc = drain(c);
    if (rc < 0 && !c->err) c->err = rc;
    return rc;
}

/*
 * A body of declared length from a file through the stream's own
 * sendfile (corio_writer_sendfile: what is queued goes first, then
 * sendfile(2) on a plain socket, or the file read in pieces and written
 * over TLS or a transport).  A megabyte at a time, so that io_timeout
 * bounds each megabyte's progress as it bounds each wait of a write.
 * 0 or -errno.
 */
static int send_file_whole(corio_http_exchange *x, int fd, off_t off, size_t len) {
    conn *c = x->c;
    flush_now(c);
    if (c->err) return c->err;
    int any = 0;
    while (len) {
        size_t piece = len < (1u << 20) ? len : (1u << 20);
        off_t before = off;
        corio_timeout to;
        int rc = corio_timeout_enter(&to, c->srv->o.io_timeout);
        if (rc < 0) return rc;
        ssize_t n = corio_writer_sendfile(c->w, fd, &off, piece, 0);
        rc = corio_timeout_exit(&to, n < 0 ? (int)n : 0);
        size_t sent = (size_t)(off - before);
        len -= sent;
        x->written += (uint64_t)sent;
        any |= sent > 0;
        /* Once part of the body went, the response cannot be told apart
         * from a short one: the connection closes. */
        if (rc < 0) return any ? (c->err = rc) : rc;
        if (sent < piece) return -EIO; /* the file is shorter than promised */
    }
    return 0;
}

int corio_http_write_file(corio_http_exchange *x, int fd, off_t off, size_t len) {
    if (!x || fd < 0) return -EINVAL;
    if (!x->started) return -EINVAL;
    if (x->finished) return -EALREADY;
    if (x->length >= 0 && x->written + len > (uint64_t)x->length) return -EMSGSIZE;
    if (x->head || x->bodiless) {
        x->written += len; /* HEAD: nothing to read or send */
        return 0;
    }
    if (!x->chunked && x->length >= 0) return send_file_whole(x, fd, off, len);
    /* Chunked: each piece framed by corio_http_write. */
    char *b = malloc(64 * 1024);
    if (!b) return -ENOMEM;
    int rc = 0;
    while (len) {
        size_t want = len < 64 * 1024 ? len : 64 * 1024;
        ssize_t n = corio_file_pread(fd, b, want, off);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0) {
            rc = -EIO; /* the file is shorter than promised */
            break;
        }
        rc = corio_http_write(x, b, (size_t)n);
        if (rc < 0) break;
        off += n;
        len -= (size_t)n;
    }
    free(b);
    return rc;
}

int corio_http_finish(corio_http_exchange *x) {
    if (!x || !x->started) return -EINVAL;
    if (x->finished) return 0;
    x->finished = 1;
    conn *c = x->c;
    if (x->chunked && !x->head) {
        int rc = out_append(c, "0\r\n\r\n", 5);
        if (rc < 0) return rc;
    }
    if (x->length >= 0 && x->written < (uint64_t)x->length && !x->head && !x->bodiless) {
        x->keep = 0;
        if (!c->err) c->err = -EPIPE; /* the client cannot find the end: close */
        return -EPIPE;
    }
    if (x->until_close) x->keep = 0;
    return c->err;
}

int corio_http_respond(corio_http_exchange *x, int status, const char *content_type, const void *body, size_t len) {
    if (!x || (!body && len)) return -EINVAL;
    if (content_type) {
        if (x->started) return -EALREADY;
        int rc = add_field(x, "Content-Type", 12, content_type); /* a name known to be valid */
        if (rc < 0) return rc;
    }
    int rc = corio_http_start(x, status, (int64_t)len);
    if (rc < 0) return rc;
    if (len) rc = corio_http_write(x, body, len);
    if (rc < 0) return rc;
    return corio_http_finish(x);
}

/* A plain-text error response (404, 405, 413, ...): "404: Not Found". */
static int respond_error(corio_http_exchange *x, int status, const char *allow) {
    char body[96];
    int n = snprintf(body, sizeof body, "%d: %s", status, corio_http_reason(status));
    if (allow) corio_http_add_header(x, "Allow", allow);
    return corio_http_respond(x, status, "text/plain; charset=utf-8", body, (size_t)n);
}

/* ---- routing ------------------------------------------------------------------------ */

/* Match path against r's segments, filling params.  1 on a match. */
static int route_match(const route *r, const char *path, size_t len, corio_http_exchange *x) {
    if (len == 0 || path[0] != '/') return 0;
    if (len == 1) return r->nseg == 0;
    if (r->nseg == 0) return 0;
    const char *p = path + 1, *end = path + len;
    int np = 0;
    for (int i = 0; i < r->nseg; i++) {
        if (p > end) return 0;
        const char *e = memchr(p, '/', (size_t)(end - p));
        if (!e) e = end;
        size_t n = (size_t)(e - p);
        const char *s = r->segs[i];
        size_t sl = strlen(s);
        if (sl >= 3 && s[0] == '{' && s[sl - 1] == '}') {
            if (!n || np >= MAX_PARAMS) return 0;
            x->params[np].name = s + 1;
            x->params[np].name_len = sl - 2;
            x->params[np].val = p;
            x->params[np].len = n;
            np++;
        } else if (n != sl || memcmp(p, s, n)) {
            return 0;
        }
        p = e + 1;
        if (i == r->nseg - 1 && e != end) return 0; /* more segments in the path */
    }
    x->nparams = np;
    return 1;
}

static int method_is(const corio_http_request *q, const char *m) {
    size_t n = strlen(m);
    return q->method_len == n && !memcmp(q->method, m, n);
}

static int dispatch(corio_http_exchange *x) {
    corio_http_server *s = x->c->srv;
    if (!s->o.router) return s->o.handler(x, s->o.handler_arg);
    const corio_http_request *q = &x->req;
    int is_head = method_is(q, "HEAD");
    int path_found = 0;
    char allow[128];
    size_t al = 0;
    allow[0] = 0;
    /* First pass: a route whose method fits (HEAD fits GET routes). */
    for (route *r = s->o.router->first; r; r = r->next) {
        if (!route_match(r, q->path, q->path_len, x)) continue;
        path_found = 1;
        if (!strcmp(r->method, "*") || method_is(q, r->method) || (is_head && !strcmp(r->method, "GET")))
            return r->fn(x, r->arg);
        /* Collect the methods that would have matched, for Allow. */
        const char *ms[2] = {r->method, !strcmp(r->method, "GET") ? "HEAD" : NULL};
        for (int k = 0; k < 2 && ms[k]; k++) {
            size_t ml = strlen(ms[k]);
            int dup = 0;
            for (const char *p = allow; (p = strstr(p, ms[k])) != NULL; p += ml)
                if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == 0)) dup = 1;
            if (!dup && al + ml + 3 < sizeof allow) {
                al += (size_t)snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "", ms[k]);
            }
        }
    }
    x->nparams = 0;
    if (path_found) return respond_error(x, 405, allow);
    return respond_error(x, 404, NULL);
}

/* ---- one connection -------------------------------------------------------------------- */

/* Answer a request we could not parse, and close. */
static void reject(conn *c, int status) {
    corio_http_exchange x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.req.minor_version = 1;
    x.bdone = 1;
    x.keep = 0;
    respond_error(&x, status, NULL);
    free(x.extra);
}

/* Serve requests on c until it ends.  Returns 0 or the error that ended it. */
static int serve_conn(conn *c) {
    corio_http_server *s = c->srv;
    double head_begun = 0;
    int rc = 0;
    for (;;) {
        int n = CORIO_HTTP_EPARTIAL;
        size_t have = c->in_len - c->in_start;
        corio_http_exchange x;
        EXCHANGE_CLEAR(&x);
        n = have ? corio_http_parse_request(c->in + c->in_start, have, &x.req, c->hdrs, s->o.max_headers)
                 : CORIO_HTTP_EPARTIAL;
        if (n == CORIO_HTTP_EPARTIAL) {
            if (have >= s->o.header_limit) {
                /* No end of the request line within the limit: the target is too long. */
                reject(c, memchr(c->in + c->in_start, '\n', have) ? 431 : 414);
                break;
            }
            if (s->shutting_down && !have) break;
            double deadline;
            if (!have) {
                /* A connection's first request is under the header
                 * timeout from the start (an idle client is a slowloris
                 * too); later ones may idle for the keep-alive timeout. */
                deadline = corio_time() + (head_begun < 0 ? s->o.keepalive_timeout : s->o.header_timeout);
                c->idle = 1;
            } else {
                if (head_begun <= 0) head_begun = corio_time();
                deadline = head_begun + s->o.header_timeout;
            }
            c->head_begun = have > 0;
            ssize_t got = fill(c, deadline);
            c->idle = 0;
            c->head_begun = 0;
            if (got == 0) c->peer_eof = 1;
            if (got > 0) {
                if (head_begun <= 0) head_begun = corio_time();
                continue;
            }
            if (got < 0 && got != -ETIMEDOUT && got != -ECANCELED) rc = (int)got;
            break;
        }
        if (n < 0) {
            int st = corio_http_error_status(n);
            reject(c, st);
            break;
        }
        head_begun = -1; /* the next wait is a keep-alive one */
        c->in_start += (size_t)n;
        x.c = c;
        x.extra = c->extra;
        x.extra_cap = c->extra_cap;
        x.keep = x.req.body.keep_alive;
        x.head = method_is(&x.req, "HEAD");
        x.bkind = x.req.body.kind;
        x.bremaining = x.req.body.content_length;
        x.bdone = x.bkind == CORIO_HTTP_BODY_NONE || (x.bkind == CORIO_HTTP_BODY_LENGTH && x.bremaining == 0);
        x.continue_pending = !x.bdone && (x.req.body.flags & CORIO_HTTP_EXPECT_CONTINUE) && x.req.minor_version >= 1;
        s->requests++;
        if (x.bkind == CORIO_HTTP_BODY_LENGTH && x.bremaining > s->o.max_body) {
            x.keep = 0;
            respond_error(&x, 413, NULL);
        } else {
            int hr = dispatch(&x);
            if (!x.started) {
                int st = 500;
                if (hr == CORIO_HTTP_ETOOBIG || x.berr == CORIO_HTTP_ETOOBIG) st = 413;
                else if (x.berr == CORIO_HTTP_EBADMSG) st = 400;
                if (x.berr) x.keep = 0;
                respond_error(&x, st, NULL);
            } else if (!x.finished) {
                corio_http_finish(&x);
            }
        }
        c->extra = x.extra;
        c->extra_cap = x.extra_cap;
        if (c->extra_cap > 4096) { /* a handler's long fields: not kept while idle */
            free(c->extra);
            c->extra = NULL;
            c->extra_cap = 0;
        }
        if (x.berr) x.keep = 0;
        if (x.keep && !x.bdone) {
            /* Drop what is left of the body when that is cheap; else close. */
            if (!body_can_be_skipped(&x) || corio_http_body_discard(&x) < 0) x.keep = 0;
        }
        if (c->err) {
            rc = c->err;
            break;
        }
        if (!x.keep || s->shutting_down) break;
        /* A client that pipelines without reading must not make us buffer
         * without bound (bodiless responses never pass through drain). */
        if (c->out_len >= OUT_FLUSH_AT) flush_now(c);
        if (corio_writer_buffered(c->w) > CORIO_STREAM_HIGH_WATER && drain(c) < 0) break;
    }
    flush_now(c);
    return rc ? rc : c->err;
}

static int conn_init(conn *c, corio_http_server *s) {
    memset(c, 0, sizeof *c);
    c->srv = s;
    c->fd = -1;
    c->in = malloc(IN_INITIAL);
    c->hdrs = malloc(sizeof(corio_http_header) * s->o.max_headers);
    if (!c->in || !c->hdrs) {
        free(c->in);
        free(c->hdrs);
        return -ENOMEM;
    }
    c->in_cap = IN_INITIAL;
    return 0;
}

static void conn_link(conn *c) {
    corio_http_server *s = c->srv;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
}

static void conn_unlink(conn *c) {
    corio_http_server *s = c->srv;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    if (s->shutting_down && !s->nconns) corio_event_set(&s->done);
}

static void conn_fini(conn *c) {
    if (c->wd_armed) corio_handle_cancel(&c->wd_h);
    c->wd_armed = 0;
    if (c->flush_sched) corio_handle_cancel(&c->flush_h);
    c->flush_sched = 0;
    free(c->in);
    free(c->out);
    free(c->hdrs);
    free(c->extra);
}

int corio_http_serve_stream(corio_http_server *s, corio_reader *r, corio_writer *w) {
    if (!s || !r || !w) return -EINVAL;
    if (s->shutting_down) return -ESHUTDOWN;
    conn c;
    int rc = conn_init(&c, s);
    if (rc < 0) return rc;
    c.r = r;
    c.w = w;
    c.task = corio_current_task();
    c.started = 1;
    conn_link(&c);
    rc = serve_conn(&c);
    conn_unlink(&c);
    conn_fini(&c);
    return rc;
}

/* The task of an accepted connection. */
static int conn_main(void *arg) {
    conn *c = arg;
    c->started = 1;
    corio_http_server *s = c->srv;
    corio_reader *pr = NULL, *r = NULL;
    corio_writer *pw = NULL, *w = NULL;
    int rc = corio_stream_open(c->fd, NULL, &pr, &pw);
    if (rc < 0) {
        corio_close(c->fd);
        goto out;
    }
    r = pr;
    w = pw;
    if (s->o.wrap) {
        rc = s->o.wrap(pr, pw, s->o.wrap_arg, &r, &w);
        if (rc < 0) {
            r = pr;
            w = pw;
        }
    }
    if (rc >= 0) {
        c->r = r;
        c->w = w;
        serve_conn(c);
    }
    /* Lingering close (nginx's lingering_close): when we end the
     * connection while the client may still be sending (an error
     * response, a body we did not read), closing with unread bytes would
     * make the kernel send a reset, and the client could lose the response
     * we just wrote.  So half-close, and read and drop what comes for a
     * while, until the client closes too. */
    corio_timeout to;
    if (rc >= 0 && !c->peer_eof && !s->forced && corio_writer_can_write_eof(w) && corio_writer_write_eof(w) == 0 &&
        corio_timeout_enter(&to, LINGER_SECONDS) == 0) {
        size_t dropped = 0;
        ssize_t g = 0;
        while (dropped < LINGER_MAX && (g = corio_reader_read(r, c->in, c->in_cap)) > 0) dropped += (size_t)g;
        corio_timeout_exit(&to, g < 0 ? (int)g : 0);
    }
    /* Close: what is buffered is written, within io_timeout (a client
     * that never reads must not keep the task). */
    if (corio_timeout_enter(&to, s->o.io_timeout) == 0) {
        int crc = corio_stream_close(r, w);
        corio_timeout_exit(&to, crc);
    } else {
        corio_writer_abort(w);
        corio_reader_free(r);
        corio_writer_free(w);
    }
out:
    conn_unlink(c);
    conn_fini(c);
    free(c);
    if (s->o.max_connections) corio_semaphore_release(&s->slots);
    return 0;
}

static int acceptor_main(void *arg) {
    corio_http_server *s = arg;
    for (;;) {
        if (s->o.max_connections) {
            int rc = corio_semaphore_acquire(&s->slots);
            if (rc < 0) return rc;
        }
        int fd = corio_accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            if (s->o.max_connections) corio_semaphore_release(&s->slots);
            if (fd == -ECANCELED || s->shutting_down) return 0;
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                /* Out of descriptors: back off instead of spinning. */
                if (corio_sleep(0.1) < 0) return 0;
            }
            continue;
        }
        corio_set_nodelay(fd, 1);
        conn *c = malloc(sizeof *c);
        if (!c || conn_init(c, s) < 0) {
            free(c);
            corio_close(fd);
            if (s->o.max_connections) corio_semaphore_release(&s->slots);
            continue;
        }
        c->fd = fd;
        conn_link(c);
        corio_task_opts to = {.name = "http-conn", .stack_size = s->o.stack_size};
        corio_task *t = corio_spawn_opts(conn_main, c, &to);
        if (!t) {
            conn_unlink(c);
            conn_fini(c);
            free(c);
            corio_close(fd);
            if (s->o.max_connections) corio_semaphore_release(&s->slots);
            continue;
        }
        c->task = t;
        corio_task_detach(t);
    }
}

int corio_http_serve(const char *host, int port, const corio_http_server_opts *opts, corio_http_server **out) {
    if (!opts || !out || (!opts->router && !opts->handler)) return -EINVAL;
    *out = NULL;
    corio_http_server *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->o = *opts;
    if (!s->o.server_name) s->o.server_name = "corio";
    if (*s->o.server_name) {
        if (!valid_field_text(s->o.server_name) || strlen(s->o.server_name) > 100) {
            free(s);
            return -EINVAL;
        }
        s->server_line_len = (size_t)snprintf(s->server_line, sizeof s->server_line, "Server: %s\r\n", s->o.server_name);
    }
    if (!s->o.header_limit) s->o.header_limit = DEF_HEADER_LIMIT;
    if (!s->o.max_headers) s->o.max_headers = DEF_MAX_HEADERS;
    if (!s->o.max_body) s->o.max_body = DEF_MAX_BODY;
    if (!(s->o.header_timeout > 0)) s->o.header_timeout = DEF_HEADER_TIMEOUT;
    if (!(s->o.keepalive_timeout > 0)) s->o.keepalive_timeout = DEF_KEEPALIVE_TIMEOUT;
    if (!(s->o.io_timeout > 0)) s->o.io_timeout = DEF_IO_TIMEOUT;
    if (!s->o.backlog) s->o.backlog = 1024;
    corio_event_init(&s->done);
    corio_event_init(&s->stopped);
    corio_semaphore_init(&s->slots, (long)s->o.max_connections);
    if (opts->listen_fd > 0) {
        s->lfd = opts->listen_fd;
    } else {
        corio_listen_opts lo = {.backlog = s->o.backlog, .reuseport = s->o.reuseport};
        int fd = corio_tcp_listen_opts(host, port, &lo);
        if (fd < 0) {
            free(s);
            return fd;
        }
        s->lfd = fd;
    }
    s->port = corio_local_port(s->lfd);
    corio_task_opts to = {.name = "http-accept"};
    s->acceptor = corio_spawn_opts(acceptor_main, s, &to);
    if (!s->acceptor) {
        if (opts->listen_fd <= 0) corio_close(s->lfd);
        free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

int corio_http_server_port(const corio_http_server *s) { return s ? s->port : -EINVAL; }
size_t corio_http_server_connections(const corio_http_server *s) { return s ? s->nconns : 0; }
uint64_t corio_http_server_requests(const corio_http_server *s) { return s ? s->requests : 0; }

int corio_http_server_shutdown(corio_http_server *s, double grace) {
    if (!s) return -EINVAL;
    if (s->shutting_down) return corio_event_wait(&s->stopped);
    s->shutting_down = 1;
    /* Stop accepting. */
    if (s->acceptor) {
        corio_cancel(s->acceptor);
        corio_join(s->acceptor);
        s->acceptor = NULL;
    }
    if (s->lfd >= 0) corio_close(s->lfd);
    s->lfd = -1;
    /* Idle keep-alive connections: their reader sees end of stream. */
    for (conn *c = s->conns; c; c = c->next)
        if (c->idle) corio_writer_close(c->w);
    int rc = 0;
    if (s->nconns) {
        corio_timeout to;
        rc = corio_timeout_enter(&to, grace > 0 ? grace : 0);
        if (rc == 0) {
            rc = corio_event_wait(&s->done);
            rc = corio_timeout_exit(&to, rc);
        }
        if (rc == -ETIMEDOUT) {
            /* Grace is over: cancel what is left and wait for it to close. */
            s->forced = 1;
            for (conn *c = s->conns; c; c = c->next)
                if (c->task && c->started) corio_cancel(c->task);
            rc = s->nconns ? corio_event_wait(&s->done) : 0;
        }
    }
    s->shut_down = 1;
    corio_event_set(&s->stopped);
    return rc;
}

int corio_http_server_wait(corio_http_server *s) {
    if (!s) return -EINVAL;
    return corio_event_wait(&s->stopped);
}

int corio_http_server_free(corio_http_server *s) {
    if (!s) return 0;
    if (!s->shut_down || s->nconns) return -EBUSY;
    corio_event_destroy(&s->done);
    corio_event_destroy(&s->stopped);
    corio_semaphore_destroy(&s->slots);
    free(s);
    return 0;
}

/* ---- several cores ----------------------------------------------------------------------- */

typedef struct worker {
    struct corio_http_cluster *cl;
    int index;
    pthread_t th;
    int started;
    corio_loop *loop;
    corio_event stop;
    int rc;    /* start result */
    int ready; /* 1 listening, -1 failed */
} worker;

struct corio_http_cluster {
    int n;
    const char *host;
    int port;
    corio_http_server_opts opts;
    int (*setup)(int, void *);
    void *setup_arg;
    double grace;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    worker *w;
};

static void worker_stop_cb(void *arg) {
    worker *wk = arg;
    corio_event_set(&wk->stop);
}

static int worker_main(void *arg) {
    worker *wk = arg;
    struct corio_http_cluster *cl = wk->cl;
    int rc = 0;
    corio_http_server *s = NULL;
    if (cl->setup) rc = cl->setup(wk->index, cl->setup_arg);
    if (rc >= 0) {
        corio_http_server_opts o = cl->opts;
        o.reuseport = 1;
        rc = corio_http_serve(cl->host, cl->port, &o, &s);
    }
    pthread_mutex_lock(&cl->mu);
    wk->rc = rc;
    wk->ready = rc < 0 ? -1 : 1;
    if (rc >= 0 && wk->index == 0) cl->port = corio_http_server_port(s);
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    if (rc < 0) return rc;
    corio_event_wait(&wk->stop);
    corio_http_server_shutdown(s, cl->grace);
    corio_http_server_free(s);
    return 0;
}

static void *worker_thread(void *arg) {
    worker *wk = arg;
    corio_task *t = corio_loop_spawn(wk->loop, worker_main, wk, NULL);
    if (t) {
        corio_loop_run_until_complete(wk->loop, corio_task_future(t));
        corio_task_detach(t);
    } else {
        pthread_mutex_lock(&wk->cl->mu);
        wk->rc = -ENOMEM;
        wk->ready = -1;
        pthread_cond_broadcast(&wk->cl->cv);
        pthread_mutex_unlock(&wk->cl->mu);
    }
    corio_event_destroy(&wk->stop);
    corio_loop_close(wk->loop);
    return NULL;
}

static int worker_start(struct corio_http_cluster *cl, int i) {
    worker *wk = &cl->w[i];
    wk->cl = cl;
    wk->index = i;
    corio_event_init(&wk->stop);
    wk->loop = corio_loop_new();
    if (!wk->loop) return -ENOMEM;
    int e = pthread_create(&wk->th, NULL, worker_thread, wk);
    if (e) {
        corio_loop_close(wk->loop);
        return -e;
    }
    wk->started = 1;
    pthread_mutex_lock(&cl->mu);
    while (!wk->ready) pthread_cond_wait(&cl->cv, &cl->mu);
    pthread_mutex_unlock(&cl->mu);
    return wk->ready < 0 ? wk->rc : 0;
}

int corio_http_cluster_stop(corio_http_cluster *cl, double grace) {
    if (!cl) return -EINVAL;
    cl->grace = grace;
    for (int i = 0; i < cl->n; i++) {
        worker *wk = &cl->w[i];
        if (!wk->started) continue;
        if (wk->ready > 0) corio_loop_call_soon_threadsafe(wk->loop, worker_stop_cb, wk);
    }
    for (int i = 0; i < cl->n; i++)
        if (cl->w[i].started) pthread_join(cl->w[i].th, NULL);
    pthread_mutex_destroy(&cl->mu);
    pthread_cond_destroy(&cl->cv);
    free(cl->w);
    free(cl);
    return 0;
}

int corio_http_cluster_start(int n, const char *host, int port, const corio_http_server_opts *opts,
                             int (*setup)(int, void *), void *setup_arg, corio_http_cluster **out) {
    if (n < 1 || !opts || !out || (!opts->router && !opts->handler) || opts->listen_fd > 0) return -EINVAL;
    *out = NULL;
    struct corio_http_cluster *cl = calloc(1, sizeof *cl);
    if (!cl) return -ENOMEM;
    cl->w = calloc((size_t)n, sizeof *cl->w);
    if (!cl->w) {
        free(cl);
        return -ENOMEM;
    }
    cl->n = n;
    cl->host = host;
    cl->port = port;
    cl->opts = *opts;
    cl->setup = setup;
    cl->setup_arg = setup_arg;
    pthread_mutex_init(&cl->mu, NULL);
    pthread_cond_init(&cl->cv, NULL);
    /* The first thread binds (port 0 gets a free port); the others join
     * its port with SO_REUSEPORT. */
    for (int i = 0; i < n; i++) {
        int rc = worker_start(cl, i);
        if (rc < 0) {
            corio_http_cluster_stop(cl, 0);
            return rc;
        }
    }
    *out = cl;
    return 0;
}

int corio_http_cluster_port(const corio_http_cluster *cl) { return cl ? cl->port : -EINVAL; }
