/*
 * client.c - corio-http's client: the session's connection pool, sending
 * requests, reading responses with the strict parser, redirects,
 * timeouts, content decoding.  Built on the core's public API (streams,
 * timeouts, events) and, for https://, the TLS module's.
 *
 * One byte path: a request is written with corio_writer_write(v) (head and
 * an in-memory body leave in one send when the socket takes them), the
 * response head is read with corio_reader_readuntil("\r\n\r\n") - a view
 * into the reader's buffer, copied once into the response so that header
 * views outlive the next read - and body bytes go from the reader straight
 * into the caller's buffer (chunked framing is removed in place there).
 */
#include "client_internal.h"

#include <corio.h>
#ifdef CORIO_HTTP_CLIENT_TLS
#include <corio/tls.h>
#endif
#ifdef CORIO_HTTP_CLIENT_ZLIB
#include <zlib.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HC_MAX_HEADERS 128       /* header fields of one response (aiohttp has no count limit; 128 is nginx's order) */
#define HC_DEFAULT_LIMIT 100     /* aiohttp's TCPConnector(limit=100) */
#define HC_DEFAULT_KEEPALIVE 15.0 /* aiohttp's keepalive_timeout */
#define HC_DEFAULT_TOTAL 300.0   /* aiohttp's ClientTimeout(total=5 min) */
#define HC_DEFAULT_REDIRECTS 10  /* aiohttp's max_redirects */
#define HC_EXPECT_WAIT 1.0       /* how long to wait for "100 Continue" before sending anyway (curl's 1 s) */
#define HC_HAPPY_EYEBALLS 0.25   /* RFC 8305's recommended Connection Attempt Delay */
#define HC_ZIN 16384             /* compressed bytes read per inflate step */
#define HC_REDIRECT_DRAIN (1 << 20) /* a redirect's body larger than this closes the connection instead */

/* ---- errors -------------------------------------------------------------------- */

static _Thread_local char hc_errmsg[256];

static int fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int rc, const char *fmt, ...) {
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(hc_errmsg, sizeof hc_errmsg, "%s: %s", what, corio_http_client_strerror(rc));
    return rc;
}

const char *corio_http_client_errmsg(void) { return hc_errmsg; }

const char *corio_http_client_strerror(int err) {
    switch (err) {
    case CORIO_HTTP_EREDIRECTS: return "too many redirects";
    case CORIO_HTTP_EURL: return "bad URL (http:// or https://, a host, an optional port 1-65535)";
    case CORIO_HTTP_EDISCONNECTED: return "server disconnected before the response was complete";
    case CORIO_HTTP_EDECODE: return "malformed response: the gzip/deflate body does not decode";
    case CORIO_HTTP_ETLS: return "TLS failure";
    case CORIO_HTTP_ETLS_VERIFY: return "TLS certificate verification failed";
    case CORIO_HTTP_ENOTLS: return "https is not available (built without the TLS module)";
    case CORIO_HTTP_EBADMSG: return "malformed response";
    case CORIO_HTTP_ETOOMANY: return "malformed response: too many header fields";
    case CORIO_HTTP_EVERSION: return "malformed response: not HTTP/1.x";
    case CORIO_HTTP_ECODING: return "malformed response: unknown transfer coding";
    case CORIO_HTTP_ETOOBIG: return "response over the size limit";
    case CORIO_EAI_NONAME: return "DNS: name not found";
    case CORIO_EAI_AGAIN: return "DNS: temporary failure (no answer)";
    case CORIO_EAI_FAIL: return "DNS: failure";
    case CORIO_EAI_NODATA: return "DNS: no address for the name";
    case -ECONNREFUSED: return "connection refused";
    case -ECONNRESET: return "connection reset by peer";
    case -ETIMEDOUT: return "timeout";
    case -ESHUTDOWN: return "session closed";
    default: return corio_strerror(err);
    }
}

/* ---- the pool ------------------------------------------------------------------ */

typedef struct hc_host hc_host;

/* One connection of the pool. */
typedef struct hc_conn {
    struct hc_conn *prev, *next; /* the host's idle list, most recently used first */
    hc_host *host;
    corio_reader *r;
    corio_writer *w;
    double idle_since;   /* loop time it became idle */
    unsigned long nreq;  /* responses completed on it: > 0 means "reused" */
} hc_conn;

/* A pool key: scheme, host, port. */
struct hc_host {
    struct hc_host *next;
    int tls;
    int port;
    char *name;
    hc_conn *idle;  /* idle connections, head most recent */
    size_t nidle;
    size_t nopen;   /* open connections of this key, idle or not */
};

/* A request waiting for a connection: lives on the waiting task's stack. */
typedef struct hc_waiter {
    struct hc_waiter *prev, *next;
    hc_host *host;
    corio_event ev;
    int woken; /* taken off the queue and set by pool_wake */
} hc_waiter;

struct corio_http_session {
    corio_http_session_opts o;
    char *ua;               /* User-Agent value */
    corio_http_field *hdrs; /* default headers, copied: names and values in one block each */
    size_t nhdrs;
    char *cafile;
    hc_host *hosts;
    hc_waiter *wq_head, *wq_tail;
    size_t nopen, nidle;
    unsigned long opened;
    int refs;               /* the owner's, one per request in flight, one per response */
    int closed;
    corio_handle idle_timer;
    int idle_timer_armed;
    corio_tls_ctx *tls;     /* in use for https */
    int own_tls;            /* made by us: freed with the session */
};

static double now(void) { return corio_time(); }

static int room(const corio_http_session *s, const hc_host *h) {
    return s->nopen < s->o.limit && (!s->o.limit_per_host || h->nopen < s->o.limit_per_host);
}

/* Whether a waiter for h could go on now. */
static int can_proceed(const corio_http_session *s, const hc_host *h) {
    if (s->closed || h->nidle || room(s, h)) return 1;
    /* At the total limit with idle connections of other keys: one of those is evicted. */
    return (!s->o.limit_per_host || h->nopen < s->o.limit_per_host) && s->nidle > 0;
}

static void wq_remove(corio_http_session *s, hc_waiter *w) {
    if (w->prev) w->prev->next = w->next;
    else s->wq_head = w->next;
    if (w->next) w->next->prev = w->prev;
    else s->wq_tail = w->prev;
    w->prev = w->next = NULL;
}

/* Wake the first waiter that can go on (it calls pool_wake again once it
 * has taken what it needed, so wake-ups chain without a herd). */
static void pool_wake(corio_http_session *s) {
    for (hc_waiter *w = s->wq_head; w; w = w->next) {
        if (can_proceed(s, w->host)) {
            wq_remove(s, w);
            w->woken = 1;
            corio_event_set(&w->ev);
            if (!s->closed) return;
        }
    }
}

static void idle_remove(corio_http_session *s, hc_conn *c) {
    hc_host *h = c->host;
    if (c->prev) c->prev->next = c->next;
    else h->idle = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    h->nidle--;
    s->nidle--;
}

/* Close a connection that is not idle (any more) and give its slot back.
 * abort: drop whatever is buffered (a connection in an unknown state). */
static void conn_close(corio_http_session *s, hc_conn *c, int abort) {
    c->host->nopen--;
    s->nopen--;
    if (abort) corio_writer_abort(c->w);
    corio_reader_free(c->r);
    corio_writer_free(c->w);
    free(c);
    pool_wake(s);
}

static void idle_timer_cb(void *arg);

static void arm_idle_timer(corio_http_session *s, double delay) {
    if (s->idle_timer_armed || s->closed) return;
    if (corio_call_later(&s->idle_timer, delay, idle_timer_cb, s) == 0) s->idle_timer_armed = 1;
}

/* Close the connections idle for longer than keepalive_timeout. */
static void idle_timer_cb(void *arg) {
    corio_http_session *s = arg;
    s->idle_timer_armed = 0;
    double t = now(), next = INFINITY;
    for (hc_host *h = s->hosts; h; h = h->next) {
        hc_conn *c = h->idle;
        while (c) {
            hc_conn *nx = c->next;
            double due = c->idle_since + s->o.keepalive_timeout;
            if (due <= t + 1e-3) {
                idle_remove(s, c);
                conn_close(s, c, 0);
            } else if (due < next) {
                next = due;
            }
            c = nx;
        }
    }
    if (s->nidle) arm_idle_timer(s, next - t);
}

/* A connection whose response ended: back to the pool, or closed. */
static void pool_put(corio_http_session *s, hc_conn *c, int reusable) {
    c->nreq++;
    /* Bytes after the end of a response we did not ask for (we never
     * pipeline) mean the connection is out of step: close it. */
    if (!reusable || s->closed || corio_reader_buffered(c->r) > 0 || corio_writer_is_closing(c->w)) {
        conn_close(s, c, 1);
        return;
    }
    hc_host *h = c->host;
    c->idle_since = now();
    c->prev = NULL;
    c->next = h->idle;
    if (h->idle) h->idle->prev = c;
    h->idle = c;
    h->nidle++;
    s->nidle++;
    arm_idle_timer(s, s->o.keepalive_timeout);
    pool_wake(s);
}

static hc_host *host_get(corio_http_session *s, const hc_url *u) {
    for (hc_host *h = s->hosts; h; h = h->next)
        if (h->tls == u->tls && h->port == u->port && !strcmp(h->name, u->host)) return h;
    hc_host *h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(u->host))) {
        free(h);
        return NULL;
    }
    h->tls = u->tls;
    h->port = u->port;
    h->next = s->hosts;
    s->hosts = h;
    return h;
}

/* Close the least recently used idle connection of any key (to make
 * room under the total limit). */
static void evict_one(corio_http_session *s) {
    hc_conn *oldest = NULL;
    for (hc_host *h = s->hosts; h; h = h->next)
        for (hc_conn *c = h->idle; c; c = c->next)
            if (!oldest || c->idle_since < oldest->idle_since) oldest = c;
    if (oldest) {
        idle_remove(s, oldest);
        conn_close(s, oldest, 0);
    }
}

#ifdef CORIO_HTTP_CLIENT_TLS
static int tls_ctx_get(corio_http_session *s) {
    if (s->tls) return 0;
    corio_tls_ctx *ctx = corio_tls_ctx_new_client();
    if (!ctx) return fail(-ENOMEM, "TLS context");
    static const char *const alpn[] = {"http/1.1"};
    int rc = corio_tls_ctx_set_alpn(ctx, alpn, 1);
    /* HTTP frames its own bodies (Content-Length, chunked), so a close
     * without close_notify after a complete body is no truncation; a body
     * cut short is still caught by its framing. */
    if (!rc) rc = corio_tls_ctx_set_ragged_eof_ok(ctx, 1);
    if (!rc && s->cafile) {
        rc = corio_tls_ctx_load_verify_locations(ctx, s->cafile, NULL);
        if (rc < 0) {
            corio_tls_ctx_free(ctx);
            return fail(CORIO_HTTP_ETLS, "loading CA file %s (%s)", s->cafile, corio_tls_last_error(NULL));
        }
    }
    if (!rc && s->o.insecure) rc = corio_tls_ctx_disable_verification(ctx);
    if (rc < 0) {
        corio_tls_ctx_free(ctx);
        return fail(CORIO_HTTP_ETLS, "TLS context");
    }
    s->tls = ctx;
    s->own_tls = 1;
    return 0;
}

/* The TLS module's codes overlap the parser's: give them the client's. */
static int tls_err(int rc) {
    if (rc == CORIO_ETLS_VERIFY) return CORIO_HTTP_ETLS_VERIFY;
    if (rc == CORIO_ETLS) return CORIO_HTTP_ETLS;
    if (rc == CORIO_ETLS_EOF) return CORIO_HTTP_EDISCONNECTED;
    return rc;
}
#endif

/* Enter a timeout scope ending at `deadline` unless it is infinite. */
static int scope_enter(corio_timeout *to, double deadline) {
    if (isinf(deadline)) return 0;
    return corio_timeout_enter_at(to, deadline) == 0;
}
static int scope_exit(corio_timeout *to, int scoped, int rc) { return scoped ? corio_timeout_exit(to, rc) : rc; }

/* Open a new connection for h.  The slot is already counted. */
static int conn_open(corio_http_session *s, hc_host *h, double deadline, hc_conn **out) {
    hc_conn *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->host = h;
    corio_connect_opts co = {.happy_eyeballs_delay = HC_HAPPY_EYEBALLS};
    corio_timeout to;
    int scoped = scope_enter(&to, deadline);
    int rc;
    if (h->tls) {
#ifdef CORIO_HTTP_CLIENT_TLS
        rc = tls_ctx_get(s);
        if (!rc) {
            rc = corio_open_tls_connection_opts(h->name, h->port, s->tls, NULL, &co, NULL, &c->r, &c->w);
            rc = scope_exit(&to, scoped, rc);
            scoped = 0;
            if (rc < 0) {
                const char *why = corio_tls_last_error(NULL);
                rc = tls_err(rc);
                if (rc == CORIO_HTTP_ETLS || rc == CORIO_HTTP_ETLS_VERIFY)
                    rc = fail(rc, "TLS with %s:%d (%s)", h->name, h->port, why);
                else
                    rc = fail(rc, "connect to %s:%d", h->name, h->port);
            }
        }
#else
        rc = fail(CORIO_HTTP_ENOTLS, "https://%s:%d", h->name, h->port);
#endif
    } else {
        rc = corio_open_connection_opts(h->name, h->port, &co, NULL, &c->r, &c->w);
        rc = scope_exit(&to, scoped, rc);
        scoped = 0;
        if (rc < 0) rc = fail(rc, "connect to %s:%d", h->name, h->port);
    }
    scope_exit(&to, scoped, 0);
    if (rc < 0) {
        free(c);
        return rc;
    }
    s->opened++;
    *out = c;
    return 0;
}

/*
 * A connection for key u: an idle one (unless fresh), else a new one when
 * the limits allow, else wait for one.  SUSPENDS.
 */
static int pool_get(corio_http_session *s, const hc_url *u, int fresh, int check_alive, double deadline,
                    hc_conn **out) {
    hc_host *h = host_get(s, u);
    if (!h) return -ENOMEM;
    corio_timeout to;
    int scoped = scope_enter(&to, deadline);
    int rc = 0;
    for (;;) {
        if (s->closed) {
            rc = -ESHUTDOWN;
            break;
        }
        if (!fresh && h->idle) {
            hc_conn *c = h->idle;
            idle_remove(s, c);
            /* Past its keep-alive (the timer may not have run yet), or the
             * server already sent something (its close or garbage): drop it. */
            /* A request that cannot be sent twice costs one more system
             * call here: a server's close that already arrived is seen
             * before the request goes out (idempotent ones are retried
             * instead, and save the call). */
            if (now() - c->idle_since >= s->o.keepalive_timeout || corio_reader_buffered(c->r) > 0 ||
                (check_alive && corio_reader_at_eof(c->r))) {
                conn_close(s, c, 1);
                continue;
            }
            *out = c;
            pool_wake(s);
            return scope_exit(&to, scoped, 0);
        }
        if (room(s, h)) break;
        if (s->nidle > 0 && (!s->o.limit_per_host || h->nopen < s->o.limit_per_host)) {
            evict_one(s);
            continue;
        }
        hc_waiter w = {.host = h};
        corio_event_init(&w.ev);
        w.prev = s->wq_tail;
        if (s->wq_tail) s->wq_tail->next = &w;
        else s->wq_head = &w;
        s->wq_tail = &w;
        rc = corio_event_wait(&w.ev);
        if (!w.woken) wq_remove(s, &w);
        corio_event_destroy(&w.ev);
        if (rc < 0) {
            if (w.woken) pool_wake(s); /* pass the wake-up on */
            break;
        }
    }
    rc = scope_exit(&to, scoped, rc);
    if (rc < 0) {
        if (rc == -ETIMEDOUT) return fail(rc, "waiting for a connection to %s:%d", h->name, h->port);
        return fail(rc, "getting a connection to %s:%d", h->name, h->port);
    }
    h->nopen++;
    s->nopen++;
    hc_conn *c = NULL;
    rc = conn_open(s, h, deadline, &c);
    if (rc < 0) {
        h->nopen--;
        s->nopen--;
        pool_wake(s);
        return rc;
    }
    pool_wake(s);
    *out = c;
    return 0;
}

/* ---- sessions ------------------------------------------------------------------ */

static int is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int token_ok(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s)) return 0;
    return 1;
}

/* A field value must not smuggle a line break or a NUL into the head. */
static int value_ok(const char *s) {
    if (!s) return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
    }
    return 1;
}

static void session_free_fields(corio_http_session *s) {
    free(s->ua);
    free(s->cafile);
    free(s->hdrs);
    free(s);
}


corio_http_session *corio_http_session_new(const corio_http_session_opts *opts) {
    corio_http_session *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    if (opts) s->o = *opts;
    if (!s->o.limit) s->o.limit = HC_DEFAULT_LIMIT;
    if (!(s->o.keepalive_timeout > 0)) s->o.keepalive_timeout = HC_DEFAULT_KEEPALIVE;
    if (s->o.max_redirects == 0) s->o.max_redirects = HC_DEFAULT_REDIRECTS;
    if (!(s->o.timeout.total > 0)) s->o.timeout.total = HC_DEFAULT_TOTAL;
    if (!(s->o.timeout.connect > 0)) s->o.timeout.connect = INFINITY;
    if (!(s->o.timeout.sock_read > 0)) s->o.timeout.sock_read = INFINITY;
    s->ua = strdup(s->o.user_agent ? s->o.user_agent : "corio-http/0.1");
    s->cafile = s->o.cafile ? strdup(s->o.cafile) : NULL;
    if (!s->ua || (s->o.cafile && !s->cafile)) {
        session_free_fields(s);
        errno = ENOMEM;
        return NULL;
    }
    if (!value_ok(s->ua)) {
        session_free_fields(s);
        errno = EINVAL;
        return NULL;
    }
    if (s->o.num_headers) {
        size_t total = 0;
        for (size_t i = 0; i < s->o.num_headers; i++) {
            const corio_http_field *f = &s->o.headers[i];
            if (!s->o.headers || !token_ok(f->name) || !value_ok(f->value) ||
                corio_http_name_eq(f->name, strlen(f->name), "content-length") ||
                corio_http_name_eq(f->name, strlen(f->name), "transfer-encoding")) {
                session_free_fields(s);
                errno = EINVAL;
                return NULL;
            }
            total += strlen(f->name) + strlen(f->value) + 2;
        }
        /* one allocation: the array, then the strings */
        s->hdrs = malloc(s->o.num_headers * sizeof *s->hdrs + total);
        if (!s->hdrs) {
            session_free_fields(s);
            errno = ENOMEM;
            return NULL;
        }
        char *p = (char *)(s->hdrs + s->o.num_headers);
        for (size_t i = 0; i < s->o.num_headers; i++) {
            size_t nl = strlen(s->o.headers[i].name) + 1, vl = strlen(s->o.headers[i].value) + 1;
            s->hdrs[i].name = memcpy(p, s->o.headers[i].name, nl);
            p += nl;
            s->hdrs[i].value = memcpy(p, s->o.headers[i].value, vl);
            p += vl;
        }
        s->nhdrs = s->o.num_headers;
    }
    s->o.headers = NULL;
    s->o.num_headers = 0;
    s->o.user_agent = NULL;
    s->o.cafile = NULL;
    s->tls = s->o.tls;
    s->refs = 1;
    return s;
}

static void session_unref(corio_http_session *s) {
    if (--s->refs > 0) return;
    for (hc_host *h = s->hosts, *nx; h; h = nx) {
        nx = h->next;
        free(h->name);
        free(h);
    }
#ifdef CORIO_HTTP_CLIENT_TLS
    if (s->own_tls) corio_tls_ctx_free(s->tls);
#endif
    free(s->ua);
    free(s->cafile);
    free(s->hdrs);
    free(s);
}

int corio_http_session_close(corio_http_session *s) {
    if (!s) return 0;
    if (s->closed) return 0;
    s->closed = 1;
    if (s->idle_timer_armed) corio_handle_cancel(&s->idle_timer);
    s->idle_timer_armed = 0;
    pool_wake(s); /* with closed set, every waiter: they return -ESHUTDOWN */
    /* Take every idle connection off the pool first, then close them. */
    hc_conn *list = NULL;
    for (hc_host *h = s->hosts; h; h = h->next) {
        while (h->idle) {
            hc_conn *c = h->idle;
            idle_remove(s, c);
            c->next = list;
            list = c;
        }
    }
    int rc = 0;
    while (list) {
        hc_conn *c = list;
        list = c->next;
        c->host->nopen--;
        s->nopen--;
        if (rc == 0) {
            rc = corio_stream_close(c->r, c->w);
            if (rc != -ECANCELED) rc = 0;
        } else {
            corio_writer_abort(c->w);
            corio_reader_free(c->r);
            corio_writer_free(c->w);
        }
        free(c);
    }
    session_unref(s);
    return rc;
}

size_t corio_http_session_connections(const corio_http_session *s) { return s ? s->nopen : 0; }
size_t corio_http_session_idle(const corio_http_session *s) { return s ? s->nidle : 0; }
unsigned long corio_http_session_opened(const corio_http_session *s) { return s ? s->opened : 0; }

/* ---- responses ----------------------------------------------------------------- */

enum { ENC_NONE, ENC_GZIP, ENC_DEFLATE };

typedef struct hc_hist {
    int status;
    char *url;
} hc_hist;

struct corio_http_resp {
    corio_http_session *s; /* holds a reference */
    hc_conn *conn;         /* until the body ended (pooled) or failed (closed) */
    int tls;
    char method[32];
    char *head;            /* the header block, copied */
    size_t head_len;
    corio_http_response p; /* views into head */
    char *reason;
    char *url;
    /* body framing */
    corio_http_body_kind kind;
    uint64_t remaining;    /* LENGTH: bytes still to come */
    corio_http_chunked ch;
    int body_done;         /* the (transfer-decoded) body ended */
    int err;               /* sticky error */
    int keep_alive;        /* the connection may be reused after the body */
    int64_t clen;
    double deadline;       /* total timeout, loop time */
    double read_to;        /* sock_read, seconds */
    /* content decoding */
    int enc;
#ifdef CORIO_HTTP_CLIENT_ZLIB
    z_stream *z;
    unsigned char *zin;
#endif
    int z_init, z_end, raw_eof;
    hc_hist *hist;
    size_t nhist;
    /* Last, and not zeroed at allocation: 4 KiB whose zeroing was a
     * quarter of a small request's instructions (callgrind); the parser
     * fills the entries it reports. */
    corio_http_header hdrs[HC_MAX_HEADERS];
};

/* The end of the body: give the connection back. */
static void body_finish(corio_http_resp *r) {
    r->body_done = 1;
    if (r->conn) {
        pool_put(r->s, r->conn, r->keep_alive);
        r->conn = NULL;
    }
}

/* A failure while reading: the connection is in an unknown state. */
static int body_fail(corio_http_resp *r, int rc) {
    if (!r->err) r->err = rc;
    if (r->conn) {
        conn_close(r->s, r->conn, 1);
        r->conn = NULL;
    }
    return r->err;
}

static double read_deadline(const corio_http_resp *r) {
    double d = r->deadline;
    if (!isinf(r->read_to) && now() + r->read_to < d) d = now() + r->read_to;
    return d;
}

/* One read from the connection, under the timeouts. */
static ssize_t conn_read(corio_http_resp *r, void *buf, size_t n) {
    if (n > (1u << 30)) n = 1u << 30;
    corio_timeout to;
    int scoped = scope_enter(&to, read_deadline(r));
    ssize_t rc = corio_reader_read(r->conn->r, buf, n);
    rc = scope_exit(&to, scoped, (int)rc);
#ifdef CORIO_HTTP_CLIENT_TLS
    if (rc < 0 && r->tls) rc = tls_err((int)rc);
#endif
    return rc;
}

/* Body bytes with the transfer coding removed.  0 at the end. */
static ssize_t raw_read(corio_http_resp *r, void *buf, size_t n) {
    if (r->err) return r->err;
    if (r->body_done) return 0;
    if (n == 0) return 0;
    if (!r->conn) return body_fail(r, -EBADF);
    switch (r->kind) {
    case CORIO_HTTP_BODY_NONE:
        body_finish(r);
        return 0;
    case CORIO_HTTP_BODY_LENGTH: {
        if (r->remaining == 0) {
            body_finish(r);
            return 0;
        }
        size_t k = r->remaining < n ? (size_t)r->remaining : n;
        ssize_t rc = conn_read(r, buf, k);
        if (rc == 0) return body_fail(r, fail(CORIO_HTTP_EDISCONNECTED, "body: %llu bytes missing", (unsigned long long)r->remaining));
        if (rc < 0) return body_fail(r, fail((int)rc, "reading the body"));
        r->remaining -= (uint64_t)rc;
        if (r->remaining == 0) body_finish(r);
        return rc;
    }
    case CORIO_HTTP_BODY_CHUNKED:
        for (;;) {
            ssize_t rc = conn_read(r, buf, n);
            if (rc == 0) return body_fail(r, fail(CORIO_HTTP_EDISCONNECTED, "chunked body cut short"));
            if (rc < 0) return body_fail(r, fail((int)rc, "reading the body"));
            size_t off = 0, out = 0;
            char *b = buf;
            while (off < (size_t)rc) {
                size_t used;
                const char *data;
                size_t dl;
                int st = corio_http_chunked_feed(&r->ch, b + off, (size_t)rc - off, &used, &data, &dl);
                if (st < 0) return body_fail(r, fail(CORIO_HTTP_EBADMSG, "chunked framing"));
                if (dl) {
                    memmove(b + out, data, dl);
                    out += dl;
                }
                off += used;
                if (st == 1) {
                    if (off < (size_t)rc) r->keep_alive = 0; /* bytes beyond the response */
                    body_finish(r);
                    return (ssize_t)out;
                }
            }
            if (out) return (ssize_t)out;
        }
    case CORIO_HTTP_BODY_UNTIL_CLOSE: {
        ssize_t rc = conn_read(r, buf, n);
        if (rc == 0) {
            r->keep_alive = 0;
            body_finish(r);
        } else if (rc < 0) {
            return body_fail(r, fail((int)rc, "reading the body"));
        }
        return rc;
    }
    }
    return body_fail(r, -EINVAL);
}

ssize_t corio_http_resp_read(corio_http_resp *r, void *buf, size_t n) {
    if (!r || (!buf && n)) return -EINVAL;
    if (r->enc == ENC_NONE) return raw_read(r, buf, n);
#ifdef CORIO_HTTP_CLIENT_ZLIB
    if (n == 0) return 0;
    if (n > UINT_MAX) n = UINT_MAX;
    for (;;) {
        if (r->err) return r->err;
        if (r->z_end) {
            /* The stream ended: whatever follows in the body is dropped, but
             * the body is still read to its end so the connection is reused. */
            while (!r->body_done) {
                ssize_t k = raw_read(r, r->zin, HC_ZIN);
                if (k < 0) return k;
                if (k == 0) break;
            }
            return 0;
        }
        z_stream *z = r->z;
        if (z->avail_in == 0 && !r->raw_eof) {
            ssize_t k = raw_read(r, r->zin, HC_ZIN);
            if (k < 0) return k;
            if (k == 0) r->raw_eof = 1;
            z->next_in = r->zin;
            z->avail_in = (uInt)k;
        }
        if (!r->z_init) {
            if (r->raw_eof && z->avail_in == 0) return 0; /* an empty body, whatever its coding */
            int wbits = 15 + 16;                          /* gzip */
            if (r->enc == ENC_DEFLATE) {
                /* "deflate" is meant to be zlib-wrapped (RFC 9110 8.4.1.2), but
                 * some servers send raw deflate: the zlib header tells. */
                unsigned b0 = z->next_in[0], b1 = z->avail_in > 1 ? z->next_in[1] : 0;
                int zlib_hdr = (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 == 0;
                wbits = zlib_hdr ? 15 : -15;
            }
            if (inflateInit2(z, wbits) != Z_OK) return body_fail(r, -ENOMEM);
            r->z_init = 1;
        }
        if (r->raw_eof && z->avail_in == 0) return body_fail(r, fail(CORIO_HTTP_EDECODE, "compressed body cut short"));
        z->next_out = buf;
        z->avail_out = (uInt)n;
        int zr = inflate(z, Z_NO_FLUSH);
        size_t produced = n - z->avail_out;
        if (zr == Z_STREAM_END) {
            r->z_end = 1;
            if (produced) return (ssize_t)produced;
            continue;
        }
        if (zr == Z_OK || zr == Z_BUF_ERROR) {
            if (produced) return (ssize_t)produced;
            continue;
        }
        if (zr == Z_MEM_ERROR) return body_fail(r, -ENOMEM);
        return body_fail(r, fail(CORIO_HTTP_EDECODE, "inflate: %s", z->msg ? z->msg : "data error"));
    }
#else
    return raw_read(r, buf, n);
#endif
}

int corio_http_resp_read_all(corio_http_resp *r, size_t max, char **out, size_t *len) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!r || !out || !len) return -EINVAL;
    size_t cap = 0, n = 0;
    char *b = NULL;
    if (r->kind == CORIO_HTTP_BODY_LENGTH && r->enc == ENC_NONE && r->remaining <= max) cap = (size_t)r->remaining + 1;
    if (cap < 256) cap = 256;
    b = malloc(cap);
    if (!b) return body_fail(r, -ENOMEM);
    for (;;) {
        if (n + 1 >= cap) {
            size_t nc = cap * 2;
            if (nc > max + 1 && cap < max + 1) nc = max + 1;
            if (nc <= cap) nc = cap + 4096; /* over max: one more piece shows it */
            char *q = realloc(b, nc);
            if (!q) {
                free(b);
                return body_fail(r, -ENOMEM);
            }
            b = q;
            cap = nc;
        }
        ssize_t k = corio_http_resp_read(r, b + n, cap - 1 - n);
        if (k < 0) {
            free(b);
            return (int)k;
        }
        if (k == 0) break;
        n += (size_t)k;
        if (n > max) {
            free(b);
            return body_fail(r, fail(CORIO_HTTP_ETOOBIG, "body over %zu bytes", max));
        }
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

int corio_http_resp_discard(corio_http_resp *r) {
    if (!r) return -EINVAL;
    char buf[16384];
    for (;;) {
        ssize_t k = corio_http_resp_read(r, buf, sizeof buf);
        if (k <= 0) return (int)k;
    }
}

int corio_http_resp_status(const corio_http_resp *r) { return r ? r->p.status : -EINVAL; }
const char *corio_http_resp_reason(const corio_http_resp *r) { return r && r->reason ? r->reason : ""; }
int corio_http_resp_version(const corio_http_resp *r) { return r ? r->p.minor_version : -EINVAL; }
const char *corio_http_resp_url(const corio_http_resp *r) { return r && r->url ? r->url : ""; }
int64_t corio_http_resp_content_length(const corio_http_resp *r) { return r ? r->clen : -1; }

const char *corio_http_resp_header(const corio_http_resp *r, const char *name, size_t *len) {
    if (len) *len = 0;
    if (!r || !name) return NULL;
    for (size_t i = 0; i < r->p.num_headers; i++) {
        const corio_http_header *h = &r->hdrs[i];
        if (h->name_len == strlen(name) && !strncasecmp(h->name, name, h->name_len)) {
            if (len) *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

const corio_http_header *corio_http_resp_headers(const corio_http_resp *r, size_t *n) {
    if (n) *n = r ? r->p.num_headers : 0;
    return r ? r->hdrs : NULL;
}

const char *corio_http_resp_head(const corio_http_resp *r, size_t *len) {
    if (len) *len = r ? r->head_len : 0;
    return r ? r->head : NULL;
}

size_t corio_http_resp_history_len(const corio_http_resp *r) { return r ? r->nhist : 0; }
const char *corio_http_resp_history(const corio_http_resp *r, size_t i, int *status) {
    if (!r || i >= r->nhist) return NULL;
    if (status) *status = r->hist[i].status;
    return r->hist[i].url;
}

/* Forget the current hop (head, body state, decoder); keep the history. */
static void resp_reset(corio_http_resp *r) {
    if (r->conn) {
        conn_close(r->s, r->conn, 1);
        r->conn = NULL;
    }
#ifdef CORIO_HTTP_CLIENT_ZLIB
    if (r->z) {
        if (r->z_init) inflateEnd(r->z);
        free(r->z);
        r->z = NULL;
    }
    free(r->zin);
    r->zin = NULL;
#endif
    free(r->head);
    free(r->reason);
    free(r->url);
    r->head = r->reason = r->url = NULL;
    r->head_len = 0;
    memset(&r->p, 0, sizeof r->p);
    r->kind = CORIO_HTTP_BODY_NONE;
    r->remaining = 0;
    corio_http_chunked_init(&r->ch);
    r->body_done = r->err = r->keep_alive = 0;
    r->enc = ENC_NONE;
    r->z_init = r->z_end = r->raw_eof = 0;
    r->clen = -1;
}

void corio_http_resp_free(corio_http_resp *r) {
    if (!r) return;
    resp_reset(r);
    for (size_t i = 0; i < r->nhist; i++) free(r->hist[i].url);
    free(r->hist);
    corio_http_session *s = r->s;
    free(r);
    if (s) session_unref(s);
}

/* ---- requests ------------------------------------------------------------------ */

/* What one request carries through its redirects. */
typedef struct hc_req {
    corio_http_session *s;
    const corio_http_request_opts *o;
    char method[32];
    hc_url url;
    int orig_tls, orig_port;
    char *orig_host;
    int send_body;  /* the body still goes with the request (a 303 drops it) */
    int keep_auth;  /* still on the original origin */
    int file_fd;    /* body_file, opened once */
    int64_t file_len;
    int stream_used; /* body_stream was sent once already */
    double deadline, connect_to, read_to;
    int max_redirects;
} hc_req;

/* Whether the request's own fields include `name` (any case). */
static int request_has(const hc_req *q, const char *name) {
    for (size_t i = 0; i < q->o->num_headers; i++)
        if (!strcasecmp(q->o->headers[i].name, name)) return 1;
    return 0;
}

/* Whether the request or the session gives `name`: then the client's own
 * default for it is not sent. */
static int user_header(const hc_req *q, const char *name) {
    if (request_has(q, name)) return 1;
    for (size_t i = 0; i < q->s->nhdrs; i++)
        if (!strcasecmp(q->s->hdrs[i].name, name)) return 1;
    return 0;
}

static int has_body(const hc_req *q) {
    return q->send_body && (q->o->body || q->o->body_stream || q->o->body_file || q->o->body_len);
}

static int method_is(const hc_req *q, const char *m) { return !strcmp(q->method, m); }

/* The request head. */
static int build_head(const hc_req *q, hc_buf *b) {
    const hc_url *u = &q->url;
    int rc = hc_buf_str(b, q->method);
    if (!rc) rc = hc_buf_str(b, " ");
    if (!rc) rc = hc_buf_str(b, u->target);
    if (!rc) rc = hc_buf_str(b, " HTTP/1.1\r\n");
    if (!rc && !user_header(q, "host")) {
        char port[16] = "";
        if (u->port != (u->tls ? 443 : 80)) snprintf(port, sizeof port, ":%d", u->port);
        rc = hc_buf_str(b, u->ipv6 ? "Host: [" : "Host: ");
        if (!rc) rc = hc_buf_str(b, u->host);
        if (!rc && u->ipv6) rc = hc_buf_str(b, "]");
        if (!rc) rc = hc_buf_str(b, port);
        if (!rc) rc = hc_buf_str(b, "\r\n");
    }
    if (!rc && !user_header(q, "user-agent")) {
        rc = hc_buf_str(b, "User-Agent: ");
        if (!rc) rc = hc_buf_str(b, q->s->ua);
        if (!rc) rc = hc_buf_str(b, "\r\n");
    }
    if (!rc && !user_header(q, "accept")) rc = hc_buf_str(b, "Accept: */*\r\n");
#ifdef CORIO_HTTP_CLIENT_ZLIB
    if (!rc && !q->o->raw && !user_header(q, "accept-encoding")) rc = hc_buf_str(b, "Accept-Encoding: gzip, deflate\r\n");
#endif
    if (!rc && q->keep_auth && !user_header(q, "authorization")) {
        if (q->o->auth_user) rc = hc_basic_auth(b, q->o->auth_user, q->o->auth_pass ? q->o->auth_pass : "");
        else if (q->url.user) rc = hc_basic_auth(b, q->url.user, q->url.pass ? q->url.pass : "");
    }
    for (size_t i = 0; !rc && i < q->s->nhdrs; i++) {
        const corio_http_field *f = &q->s->hdrs[i];
        if (request_has(q, f->name)) continue; /* the request's own replaces it */
        if (!q->send_body && !strcasecmp(f->name, "content-type")) continue;
        if (!q->keep_auth && corio_http_name_eq(f->name, strlen(f->name), "authorization")) continue;
        rc = hc_buf_str(b, f->name);
        if (!rc) rc = hc_buf_str(b, ": ");
        if (!rc) rc = hc_buf_str(b, f->value);
        if (!rc) rc = hc_buf_str(b, "\r\n");
    }
    for (size_t i = 0; !rc && i < q->o->num_headers; i++) {
        const corio_http_field *f = &q->o->headers[i];
        if (!q->keep_auth && corio_http_name_eq(f->name, strlen(f->name), "authorization")) continue;
        if (!q->send_body && corio_http_name_eq(f->name, strlen(f->name), "content-type")) continue;
        rc = hc_buf_str(b, f->name);
        if (!rc) rc = hc_buf_str(b, ": ");
        if (!rc) rc = hc_buf_str(b, f->value);
        if (!rc) rc = hc_buf_str(b, "\r\n");
    }
    if (!rc) {
        char cl[64] = "";
        if (has_body(q)) {
            if (q->o->body_stream && !(q->o->body_stream_len > 0))
                strcpy(cl, "Transfer-Encoding: chunked\r\n");
            else if (q->o->body_stream)
                snprintf(cl, sizeof cl, "Content-Length: %lld\r\n", (long long)q->o->body_stream_len);
            else if (q->o->body_file)
                snprintf(cl, sizeof cl, "Content-Length: %lld\r\n", (long long)q->file_len);
            else
                snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", q->o->body_len);
        } else if (method_is(q, "POST") || method_is(q, "PUT") || method_is(q, "PATCH")) {
            /* RFC 9110 8.6: a user agent should send Content-Length when a
             * method defines a meaning for a body, even an empty one. */
            strcpy(cl, "Content-Length: 0\r\n");
        }
        rc = hc_buf_str(b, cl);
    }
    if (!rc && q->o->expect_continue && has_body(q)) rc = hc_buf_str(b, "Expect: 100-continue\r\n");
    if (!rc) rc = hc_buf_str(b, "\r\n");
    return rc;
}

/* Wait until the writer's buffer is low, under the total deadline. */
static int drain(hc_conn *c, double deadline) {
    corio_timeout to;
    int scoped = scope_enter(&to, deadline);
    int rc = corio_writer_drain(c->w);
    return scope_exit(&to, scoped, rc);
}

/* Send the body of a request whose head is written. */
static int send_body(hc_req *q, hc_conn *c) {
    const corio_http_request_opts *o = q->o;
    if (!has_body(q)) return 0;
    if (o->body || o->body_len) {
        int rc = corio_writer_write(c->w, o->body, o->body_len);
        return rc < 0 ? rc : drain(c, q->deadline);
    }
    char *buf = malloc(65536 + 32);
    if (!buf) return -ENOMEM;
    int rc = 0;
    if (o->body_file) {
        int64_t off = 0;
        while (!rc && off < q->file_len) {
            size_t want = q->file_len - off < 65536 ? (size_t)(q->file_len - off) : 65536;
            ssize_t k = corio_file_pread(q->file_fd, buf, want, (off_t)off);
            if (k < 0) rc = (int)k;
            else if (k == 0) rc = fail(-EIO, "body file %s shrank while sent", o->body_file);
            else {
                rc = corio_writer_write(c->w, buf, (size_t)k);
                off += k;
                if (!rc) rc = drain(c, q->deadline);
            }
        }
    } else {
        int chunked = !(o->body_stream_len > 0);
        int64_t left = o->body_stream_len;
        q->stream_used = 1;
        for (;;) {
            size_t want = 65536;
            if (!chunked && (int64_t)want > left) want = (size_t)left;
            if (!chunked && want == 0) break;
            corio_timeout to;
            int scoped = scope_enter(&to, q->deadline);
            ssize_t k = corio_reader_read(o->body_stream, buf + 16, want);
            k = scope_exit(&to, scoped, (int)k);
            if (k < 0) {
                rc = (int)k;
                break;
            }
            if (k == 0) {
                if (!chunked) rc = fail(-EIO, "body stream ended %lld bytes short", (long long)left);
                else rc = corio_writer_write(c->w, "0\r\n\r\n", 5);
                break;
            }
            if (chunked) {
                char hdr[16];
                int hl = snprintf(hdr, sizeof hdr, "%zx\r\n", (size_t)k);
                memcpy(buf + 16 - hl, hdr, (size_t)hl);
                memcpy(buf + 16 + k, "\r\n", 2);
                rc = corio_writer_write(c->w, buf + 16 - hl, (size_t)hl + (size_t)k + 2);
            } else {
                rc = corio_writer_write(c->w, buf + 16, (size_t)k);
                left -= k;
            }
            if (!rc) rc = drain(c, q->deadline);
            if (rc) break;
        }
    }
    free(buf);
    return rc;
}

/* A request can be sent again on a new connection when the server closed
 * a reused one under it: idempotent methods (RFC 9110 9.2.2) whose body
 * is not a stream already consumed. */
static int retryable(const hc_req *q) {
    static const char *const idem[] = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"};
    if (q->o->body_stream && has_body(q)) return 0;
    for (size_t i = 0; i < sizeof idem / sizeof *idem; i++)
        if (method_is(q, idem[i])) return 1;
    return 0;
}

/*
 * Read one response head into r (skipping 1xx unless stop_at_100).
 * *nothing is set when the connection ended before any byte of it.
 * Returns 0 or an error; the head is parsed.
 */
static int read_head(corio_http_resp *r, hc_conn *c, double deadline, int stop_at_100, int *nothing) {
    *nothing = 0;
    for (;;) {
        const char *data;
        size_t len = 0;
        corio_timeout to;
        int scoped = scope_enter(&to, deadline);
        size_t before = corio_reader_buffered(c->r);
        int rc = corio_reader_readuntil(c->r, "\r\n\r\n", 4, &data, &len);
        rc = scope_exit(&to, scoped, rc);
#ifdef CORIO_HTTP_CLIENT_TLS
        if (rc < 0 && r->tls) rc = tls_err(rc);
#endif
        if (rc == CORIO_EINCOMPLETE || (rc == CORIO_HTTP_EDISCONNECTED)) {
            if (len == 0) {
                *nothing = 1;
                return CORIO_HTTP_EDISCONNECTED;
            }
            /* What came may already be malformed (a bare LF never ends the
             * head as CRLF CRLF): say so rather than "disconnected". */
            corio_http_response p;
            corio_http_header h[HC_MAX_HEADERS];
            int n = corio_http_parse_response(data, len, &p, h, HC_MAX_HEADERS);
            if (n < 0 && n != CORIO_HTTP_EPARTIAL) return fail(n, "response head (%s)", p.error ? p.error : "invalid");
            return fail(CORIO_HTTP_EDISCONNECTED, "connection closed inside the response head");
        }
        if (rc == -ENOBUFS) return CORIO_HTTP_ETOOBIG;
        if (rc < 0) {
            if ((rc == -ECONNRESET || rc == -EPIPE) && before == 0 && corio_reader_buffered(c->r) == 0) *nothing = 1;
            return rc;
        }
        free(r->head);
        r->head = malloc(len + 1);
        if (!r->head) return -ENOMEM;
        memcpy(r->head, data, len);
        r->head[len] = 0;
        r->head_len = len;
        int n = corio_http_parse_response(r->head, len, &r->p, r->hdrs, HC_MAX_HEADERS);
        if (n == CORIO_HTTP_EPARTIAL) n = CORIO_HTTP_EBADMSG;
        if (n < 0) return fail(n, "response head (%s)", r->p.error ? r->p.error : "invalid");
        if (r->p.status >= 100 && r->p.status < 200 && r->p.status != 101) {
            if (stop_at_100) return 0;
            continue; /* interim: the final response follows */
        }
        return 0;
    }
}

/* Set up the body state of the response just read. */
static int setup_body(corio_http_resp *r, const hc_req *q) {
    r->reason = malloc(r->p.reason_len + 1);
    if (!r->reason) return -ENOMEM;
    memcpy(r->reason, r->p.reason, r->p.reason_len);
    r->reason[r->p.reason_len] = 0;
    hc_buf ub = {0};
    if (hc_url_format(&q->url, &ub)) return -ENOMEM;
    r->url = ub.p;
    r->kind = corio_http_response_framing(&r->p, q->method, strlen(q->method));
    r->keep_alive = r->p.body.keep_alive && r->kind != CORIO_HTTP_BODY_UNTIL_CLOSE && r->p.status != 101;
    r->clen = (r->p.body.flags & CORIO_HTTP_HAS_CONTENT_LENGTH) && r->kind == CORIO_HTTP_BODY_LENGTH ? (int64_t)r->p.body.content_length : -1;
    if (r->kind == CORIO_HTTP_BODY_LENGTH) r->remaining = r->p.body.content_length;
    corio_http_chunked_init(&r->ch);
#ifdef CORIO_HTTP_CLIENT_ZLIB
    size_t el;
    const char *e = corio_http_resp_header(r, "content-encoding", &el);
    if (e && !q->o->raw && r->kind != CORIO_HTTP_BODY_NONE) {
        if ((el == 4 && !strncasecmp(e, "gzip", 4)) || (el == 6 && !strncasecmp(e, "x-gzip", 6))) r->enc = ENC_GZIP;
        else if (el == 7 && !strncasecmp(e, "deflate", 7)) r->enc = ENC_DEFLATE;
        if (r->enc) {
            r->z = calloc(1, sizeof *r->z);
            r->zin = malloc(HC_ZIN);
            if (!r->z || !r->zin) return -ENOMEM;
            r->clen = -1;
        }
    }
#endif
    return 0;
}

/*
 * One exchange: a connection, the request, the final response's head.
 * On success r holds the connection.  A reused connection that the
 * server closed before answering is replaced once when that is safe.
 */
static int exchange(hc_req *q, corio_http_resp *r) {
    hc_buf head = {0};
    int rc = build_head(q, &head);
    if (rc < 0) return rc;
    for (int attempt = 0;; attempt++) {
        hc_conn *c = NULL;
        double cdl = q->deadline;
        if (!isinf(q->connect_to) && now() + q->connect_to < cdl) cdl = now() + q->connect_to;
        rc = pool_get(q->s, &q->url, attempt > 0, !retryable(q), cdl, &c);
        if (rc < 0) break;
        r->conn = c;
        r->tls = q->url.tls;
        int reused = c->nreq > 0, nothing = 0;
        int expect = q->o->expect_continue && has_body(q);
        rc = corio_writer_write(c->w, head.p, head.len);
        int body_sent = !expect;
        if (!rc && !expect) rc = send_body(q, c);
        if (rc < 0 && (rc == -EPIPE || rc == -ECONNRESET)) nothing = corio_reader_buffered(c->r) == 0;
        if (!rc && expect) {
            /* Wait a little for "100 Continue" (or a final answer that makes
             * the body unnecessary); without either, send the body anyway. */
            double dl = now() + HC_EXPECT_WAIT;
            if (q->deadline < dl) dl = q->deadline;
            rc = read_head(r, c, dl, 1, &nothing);
            if (rc == -ETIMEDOUT && now() < q->deadline) rc = 0, r->p.status = 100;
            if (!rc && r->p.status == 100) {
                rc = send_body(q, c);
                body_sent = 1;
                if (!rc) rc = read_head(r, c, read_deadline(r), 0, &nothing);
            }
        } else if (!rc) {
            rc = read_head(r, c, read_deadline(r), 0, &nothing);
        }
        if (rc == 0) {
            if (!body_sent) r->p.body.keep_alive = 0; /* the server may still expect the body */
            break;
        }
        /* The connection is in an unknown state: never back to the pool. */
        conn_close(q->s, c, 1);
        r->conn = NULL;
        if (nothing && reused && attempt == 0 && retryable(q) && !q->stream_used) continue;
        if (rc == CORIO_HTTP_EDISCONNECTED && nothing) rc = fail(rc, "%s %s", q->method, q->url.target);
        else if (rc == -ETIMEDOUT || rc == -ECANCELED || rc == -ECONNRESET || rc == -EPIPE || rc == CORIO_HTTP_ETOOBIG)
            rc = fail(rc, "waiting for the response to %s %s", q->method, q->url.target);
        else if (rc == CORIO_HTTP_ETLS)
            rc = fail(rc, "TLS connection");
        break;
    }
    hc_buf_free(&head);
    return rc;
}

static int is_redirect(int st) { return st == 301 || st == 302 || st == 303 || st == 307 || st == 308; }

int corio_http_session_request(corio_http_session *s, const char *method, const char *url, const corio_http_request_opts *opts,
                       corio_http_resp **out) {
    static const corio_http_request_opts none;
    if (out) *out = NULL;
    if (!s || !method || !url || !out) return fail(-EINVAL, "corio_http_session_request: NULL argument");
    if (!token_ok(method) || strlen(method) >= 32) return fail(-EINVAL, "method \"%.40s\" is not a token", method);
    if (s->closed) return fail(-ESHUTDOWN, "request");
    const corio_http_request_opts *o = opts ? opts : &none;
    if ((o->body || o->body_len) + !!o->body_stream + !!o->body_file > 1)
        return fail(-EINVAL, "more than one body given");
    if (o->body_len && !o->body) return fail(-EINVAL, "body_len without body");
    if ((o->num_headers && !o->headers) || (o->num_params && !o->params)) return fail(-EINVAL, "NULL headers or params");
    for (size_t i = 0; i < o->num_headers; i++) {
        const corio_http_field *f = &o->headers[i];
        if (!token_ok(f->name) || !value_ok(f->value)) return fail(-EINVAL, "header field %zu is not a valid field", i);
        if (corio_http_name_eq(f->name, strlen(f->name), "content-length") ||
            corio_http_name_eq(f->name, strlen(f->name), "transfer-encoding"))
            return fail(-EINVAL, "%s is set by the client from the body", f->name);
    }
    if ((o->auth_user && !value_ok(o->auth_user)) || (o->auth_pass && !value_ok(o->auth_pass)))
        return fail(-EINVAL, "auth credentials");

    hc_req q = {.s = s, .o = o, .send_body = 1, .keep_auth = 1, .file_fd = -1};
    strcpy(q.method, method);
    q.connect_to = o->timeout.connect > 0 ? o->timeout.connect : s->o.timeout.connect;
    q.read_to = o->timeout.sock_read > 0 ? o->timeout.sock_read : s->o.timeout.sock_read;
    double total = o->timeout.total > 0 ? o->timeout.total : s->o.timeout.total;
    q.deadline = isinf(total) ? INFINITY : now() + total;
    q.max_redirects = o->max_redirects ? o->max_redirects : s->o.max_redirects;
    if (q.max_redirects < 0) q.max_redirects = 0;
    int rc = hc_url_parse(url, o->params, o->num_params, &q.url);
    if (rc < 0) return fail(rc, "URL \"%.100s\"", url);
    q.orig_tls = q.url.tls;
    q.orig_port = q.url.port;
    q.orig_host = strdup(q.url.host);
    corio_http_resp *r = malloc(sizeof *r);
    if (r) memset(r, 0, offsetof(corio_http_resp, hdrs));
    if (!q.orig_host || !r) {
        free(r);
        free(q.orig_host);
        hc_url_free(&q.url);
        return -ENOMEM;
    }
    r->s = s;
    s->refs++;
    r->clen = -1;
    r->deadline = q.deadline;
    r->read_to = q.read_to;
    if (o->body_file) {
        rc = corio_file_open(o->body_file, O_RDONLY, 0);
        if (rc < 0) {
            rc = fail(rc, "body file %s", o->body_file);
            goto out;
        }
        q.file_fd = rc;
        struct stat st;
        rc = corio_file_fstat(q.file_fd, &st);
        if (rc < 0 || !S_ISREG(st.st_mode)) {
            rc = fail(rc < 0 ? rc : -EINVAL, "body file %s is not a regular file", o->body_file);
            goto out;
        }
        q.file_len = st.st_size;
    }
    for (int hops = 0;; hops++) {
        rc = exchange(&q, r);
        if (rc < 0) break;
        rc = setup_body(r, &q);
        if (rc < 0) break;
        size_t ll;
        const char *loc = corio_http_resp_header(r, "location", &ll);
        if (!is_redirect(r->p.status) || !loc || o->no_redirects) break;
        int st = r->p.status;
        /* 307/308 must resend the body: impossible for a stream already sent. */
        if ((st == 307 || st == 308) && o->body_stream && has_body(&q)) break;
        if (hops >= q.max_redirects) {
            rc = fail(CORIO_HTTP_EREDIRECTS, "after %d redirects, at %s", hops, r->url);
            break;
        }
        hc_url next;
        rc = hc_url_resolve(&q.url, loc, ll, &next);
        if (rc < 0) {
            rc = fail(rc, "redirect to \"%.*s\"", (int)(ll > 100 ? 100 : ll), loc);
            break;
        }
        hc_hist *nh = realloc(r->hist, (r->nhist + 1) * sizeof *nh);
        if (!nh) {
            hc_url_free(&next);
            rc = -ENOMEM;
            break;
        }
        r->hist = nh;
        r->hist[r->nhist].status = st;
        r->hist[r->nhist].url = r->url;
        r->url = NULL;
        r->nhist++;
        /* The redirect's own body: read it so the connection can be reused,
         * unless it is large (then closing is cheaper). */
        if (r->kind == CORIO_HTTP_BODY_NONE || (r->kind == CORIO_HTTP_BODY_LENGTH && r->remaining <= HC_REDIRECT_DRAIN))
            corio_http_resp_discard(r);
        resp_reset(r);
        /* RFC 9110 15.4: 303 makes any method but HEAD a GET; 301/302 turn
         * POST into GET as every browser (and aiohttp) does; 307/308 keep both. */
        if ((st == 303 && !method_is(&q, "HEAD")) || ((st == 301 || st == 302) && method_is(&q, "POST"))) {
            strcpy(q.method, "GET");
            q.send_body = 0;
        }
        if (!next.user && q.url.user && next.tls == q.url.tls && next.port == q.url.port && !strcmp(next.host, q.url.host)) {
            /* userinfo of the first URL stays with its origin */
            next.user = strdup(q.url.user);
            next.pass = strdup(q.url.pass ? q.url.pass : "");
        }
        hc_url_free(&q.url);
        q.url = next;
        if (next.tls != q.orig_tls || next.port != q.orig_port || strcmp(next.host, q.orig_host)) q.keep_auth = 0;
    }
out:
    if (q.file_fd >= 0) corio_file_close(q.file_fd);
    hc_url_free(&q.url);
    free(q.orig_host);
    if (rc < 0) {
        corio_http_resp_free(r);
        return rc;
    }
    if (r->kind == CORIO_HTTP_BODY_NONE || (r->kind == CORIO_HTTP_BODY_LENGTH && r->remaining == 0)) body_finish(r);
    *out = r;
    return 0;
}
