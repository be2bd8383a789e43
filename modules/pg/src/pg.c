/*
 * pg.c - connections, queries, cancellation, transactions, pipelines,
 * COPY and notifications over libpq's non-blocking API.
 *
 * The one rule: libpq does the socket I/O, we only wait for readiness.
 * Every call that talks to the server goes through send_flush() (push
 * libpq's output buffer out, reading input meanwhile) and next_result()
 * (wait until libpq has a whole result).  A wait that fails because the
 * task was cancelled turns into abort_query(): a cancel request from a
 * thread of its own, the rest of the results drained, and the -ECANCELED
 * returned with the connection ready for the next query.
 */
#include "pg_internal.h"
#include "pg_values.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* asyncpg's statement_cache_size */
#define STMT_CACHE_MAX 100
/* A pipeline pushes its queries out every this many sends: often enough
 * to keep libpq's buffer small, rare enough that a batch costs a fraction
 * of a system call per query. */
#define PIPELINE_FLUSH_EVERY 64

/* ---- errors ---------------------------------------------------------------------- */

const char *corio_pg_strerror(int err) {
    switch (err) {
    case CORIO_PG_ESERVER: return "PostgreSQL: server error";
    case CORIO_PG_ESYNTAX: return "PostgreSQL: syntax error or access rule violation";
    case CORIO_PG_EUNIQUE: return "PostgreSQL: unique violation";
    case CORIO_PG_EINTEGRITY: return "PostgreSQL: integrity constraint violation";
    case CORIO_PG_EDATA: return "PostgreSQL: data exception";
    case CORIO_PG_ESERIALIZATION: return "PostgreSQL: serialization failure or deadlock (retry)";
    case CORIO_PG_EAUTH: return "PostgreSQL: authentication failed";
    case CORIO_PG_ETXSTATE: return "PostgreSQL: invalid transaction state";
    case CORIO_PG_EQUERYCANCELED: return "PostgreSQL: query canceled by the server";
    case CORIO_PG_EABORTED: return "PostgreSQL: skipped, an earlier query of the pipeline failed";
    case CORIO_PG_ETYPE: return "PostgreSQL: the column is of another type";
    case CORIO_PG_ENULL: return "PostgreSQL: NULL value";
    case CORIO_PG_ECONNECT: return "PostgreSQL: could not connect";
    default: return corio_strerror(err);
    }
}

static char *dup_or_empty(const char *s) {
    char *d = strdup(s ? s : "");
    return d;
}

static void set_err(corio_pg_conn *c, const char *state, const char *msg, const char *detail, const char *hint) {
    free(c->err_msg);
    free(c->err_detail);
    free(c->err_hint);
    c->err_msg = dup_or_empty(msg);
    c->err_detail = dup_or_empty(detail);
    c->err_hint = dup_or_empty(hint);
    /* Keep the message to its first line: libpq's own messages go on with
     * hints on further lines, and callers print this one on one line. */
    if (c->err_msg) {
        char *nl = strchr(c->err_msg, '\n');
        if (nl) *nl = 0;
    }
    snprintf(c->err.sqlstate, sizeof c->err.sqlstate, "%s", state ? state : "");
    c->err.message = c->err_msg ? c->err_msg : "";
    c->err.detail = c->err_detail ? c->err_detail : "";
    c->err.hint = c->err_hint ? c->err_hint : "";
}

static void clear_err(corio_pg_conn *c) {
    if (c->err.message[0] || c->err.sqlstate[0]) set_err(c, "", "", "", "");
}

const corio_pg_error *corio_pg_last_error(const corio_pg_conn *c) {
    static const corio_pg_error none = {"", "", "", ""};
    return c ? &c->err : &none;
}

/* An error of our own (not the server's): record it, return code. */
static int local_err(corio_pg_conn *c, int code, const char *msg) {
    set_err(c, "", msg, "", "");
    return code;
}

/* The category of a SQLSTATE. */
static int classify(const char *st) {
    if (!st || strlen(st) != 5) return CORIO_PG_ESERVER;
    if (!strcmp(st, "23505")) return CORIO_PG_EUNIQUE;
    if (!strcmp(st, "40001") || !strcmp(st, "40P01")) return CORIO_PG_ESERIALIZATION;
    if (!strcmp(st, "57014")) return CORIO_PG_EQUERYCANCELED;
    /* admin_shutdown, crash_shutdown, cannot_connect_now, and class 08:
     * the session is gone */
    if (!strncmp(st, "57P", 3) || !strncmp(st, "08", 2)) return -ECONNRESET;
    if (!strncmp(st, "23", 2)) return CORIO_PG_EINTEGRITY;
    if (!strncmp(st, "22", 2)) return CORIO_PG_EDATA;
    if (!strncmp(st, "42", 2)) return CORIO_PG_ESYNTAX;
    if (!strncmp(st, "28", 2)) return CORIO_PG_EAUTH;
    if (!strncmp(st, "25", 2)) return CORIO_PG_ETXSTATE;
    return CORIO_PG_ESERVER;
}

/* The connection is gone: remember why, and make it unusable. */
static int conn_lost(corio_pg_conn *c) {
    if (!c->broken) {
        const char *m = PQerrorMessage(c->pg);
        set_err(c, "08006", m && *m ? m : "connection to the server lost", "", "");
        c->broken = 1;
        /* libpq may have closed the socket already; the loop must forget
         * the number before anything reuses it */
        if (c->fd >= 0) corio_forget_fd(c->fd);
        c->fd = -1;
    }
    return -ECONNRESET;
}

/* Record an error result; returns its code. */
static int result_err(corio_pg_conn *c, const PGresult *r) {
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (!msg) msg = PQresultErrorMessage(r);
    set_err(c, st, msg, PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL), PQresultErrorField(r, PG_DIAG_MESSAGE_HINT));
    int code = classify(st);
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        /* keep the server's words (e.g. "terminating connection due to administrator command") */
        c->broken = 1;
        if (c->fd >= 0) corio_forget_fd(c->fd);
        c->fd = -1;
        return -ECONNRESET;
    }
    if (code == -ECONNRESET) c->broken = 1;
    return code;
}

/* ---- the pipeline's ring of awaited results ---------------------------------------- */

static int pl_push(corio_pg_conn *c, uint32_t v) {
    if (c->pl_tail - c->pl_head == c->pl_cap) {
        unsigned cap = c->pl_cap ? c->pl_cap * 2 : 256;
        uint32_t *n = malloc(sizeof *n * cap);
        if (!n) return -ENOMEM;
        for (unsigned i = c->pl_head; i != c->pl_tail; i++) n[i & (cap - 1)] = c->pl_ring[i & (c->pl_cap - 1)];
        free(c->pl_ring);
        c->pl_ring = n;
        c->pl_cap = cap;
    }
    c->pl_ring[c->pl_tail++ & (c->pl_cap - 1)] = v;
    if (v == PL_QUERY) c->pl_pending++;
    return 0;
}

/* What the next result answers (PL_QUERY when the ring is empty). */
static uint32_t pl_pop(corio_pg_conn *c) {
    if (c->pl_head == c->pl_tail) return PL_QUERY;
    uint32_t v = c->pl_ring[c->pl_head++ & (c->pl_cap - 1)];
    if (v == PL_QUERY && c->pl_pending > 0) c->pl_pending--;
    return v;
}

static void pl_reset(corio_pg_conn *c) {
    c->pl_head = c->pl_tail = 0;
    c->pl_pending = c->pl_syncs = c->pl_unsynced = c->pl_unflushed = 0;
    c->pl_prep_err = 0;
}

/* ---- waiting for libpq ------------------------------------------------------------ */

/* While a task waits to write, input still has to be read, or a server
 * blocked writing its answers to us would never read what we write
 * (libpq_pipeline.c's rule).  A reader callback does it on the loop. */
static void consume_cb(void *arg) {
    corio_pg_conn *c = arg;
    PQconsumeInput(c->pg);
}

/* Push libpq's output buffer to the socket.  0, or a negative errno
 * (-ECANCELED with the output possibly half sent: the caller aborts). */
static int send_flush(corio_pg_conn *c) {
    for (;;) {
        int r = PQflush(c->pg);
        if (r == 0) return 0;
        if (r < 0) return conn_lost(c);
        int rc = corio_add_reader(c->fd, consume_cb, c);
        if (rc < 0) return rc;
        rc = corio_wait_writable(c->fd);
        corio_remove_reader(c->fd);
        if (rc < 0) return rc;
    }
}

/* Wait until there is input for PQconsumeInput: the socket is readable, or
 * OpenSSL holds a whole TLS record it read ahead (see tls_read_ahead), which
 * the socket's readiness would not show.  A partial record buffered there
 * needs the rest from the socket: SSL_peek says which (it decrypts a whole
 * record without taking it; on a partial one it finds the socket empty and
 * says "want read").  0 or a negative errno. */
static int wait_input(corio_pg_conn *c) {
    /* asked each time: libpq frees its SSL when the connection drops */
    SSL *ssl = c->tls && c->pg ? PQsslStruct(c->pg, "OpenSSL") : NULL;
    if (ssl && SSL_has_pending(ssl)) {
        char b;
        ERR_clear_error();
        int n = SSL_peek(ssl, &b, 1);
        int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);
        ERR_clear_error();
        /* a whole record, or a failure PQconsumeInput will report */
        if (e != SSL_ERROR_WANT_READ) return 0;
    }
    return corio_wait_readable(c->fd);
}

/* Wait until libpq has a whole result and take it (NULL: the end of the
 * current query's results).  0, or a negative errno (-ECANCELED,
 * -ECONNRESET). */
static int next_result(corio_pg_conn *c, PGresult **out) {
    while (PQisBusy(c->pg)) {
        int rc = wait_input(c);
        if (rc < 0) return rc;
        if (!PQconsumeInput(c->pg)) return conn_lost(c);
    }
    *out = PQgetResult(c->pg);
    return 0;
}

/* ---- cancellation --------------------------------------------------------------- */

/* Seconds the cleanup of a cancelled query waits for the server (pg.h,
 * "Cancellation"). */
#define PG_ABORT_GRACE 5.0
#define PG_ABORT_GRACE_TEXT "5"

/* A cancel request in flight.  Owned by its thread, which frees it. */
typedef struct cancel_job {
    PGcancel *cancel; /* libpq's copy of the address and the secret key */
    int fd;           /* our end of the socketpair: closed when done */
} cancel_job;

static void *cancel_thread(void *arg) {
    cancel_job *j = arg;
    char err[256];
    /* PQcancel connects, sends the 16-byte CancelRequest and waits until
     * the postmaster closes the connection, i.e. has passed the request
     * on: once this returns, a later query cannot be hit by it. */
    (void)PQcancel(j->cancel, err, sizeof err);
    PQfreeCancel(j->cancel);
    /* Closing our end is the signal: the waiter sees end-of-file only once
     * this descriptor is gone, so a caller that counts its descriptors
     * after the cancel never sees ours still open. */
    close(j->fd);
    free(j);
    return NULL;
}

/* Start a cancel request on a thread; *done_fd reads end-of-file when it was
 * delivered (the thread closed its end).  0 or a negative errno. */
static int start_cancel(corio_pg_conn *c, int *done_fd) {
    cancel_job *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    j->cancel = PQgetCancel(c->pg);
    int sv[2];
    if (!j->cancel || corio_socketpair(SOCK_STREAM, sv) < 0) {
        if (j->cancel) PQfreeCancel(j->cancel);
        free(j);
        return -ENOMEM;
    }
    j->fd = sv[1];
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    pthread_t th;
    int e = pthread_create(&th, &a, cancel_thread, j);
    pthread_attr_destroy(&a);
    if (e) {
        PQfreeCancel(j->cancel);
        close(sv[1]);
        free(j);
        corio_close(sv[0]);
        return -e;
    }
    *done_fd = sv[0];
    return 0;
}

/* Read and throw away everything up to the end of the current query (and,
 * in a pipeline, up to the last sync sent), answering COPY states on the
 * way.  0 or a negative errno. */
static int drain(corio_pg_conn *c) {
    for (;;) {
        PGresult *r;
        int rc;
        if (c->mode == PG_PIPELINE && (c->pl_pending > 0 || c->pl_syncs > 0)) {
            if ((rc = next_result(c, &r)) < 0) return rc;
            if (!r) continue;
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_PIPELINE_SYNC) c->pl_syncs--;
            else pl_pop(c);
            if (st == PGRES_FATAL_ERROR && PQstatus(c->pg) == CONNECTION_BAD) {
                PQclear(r);
                return conn_lost(c);
            }
            /* a pending query's trailing NULL comes next; the loop skips it */
            PQclear(r);
            continue;
        }
        if (c->mode == PG_PIPELINE) return 0;
        if ((rc = next_result(c, &r)) < 0) return rc;
        if (!r) return 0;
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_COPY_IN) {
            if (PQputCopyEnd(c->pg, "canceled by the client") < 0) return conn_lost(c);
            if ((rc = send_flush(c)) < 0) return rc;
        } else if (st == PGRES_COPY_OUT) {
            for (;;) {
                char *buf;
                int n = PQgetCopyData(c->pg, &buf, 1);
                if (n > 0) {
                    PQfreemem(buf);
                } else if (n == 0) {
                    if ((rc = wait_input(c)) < 0) return rc;
                    if (!PQconsumeInput(c->pg)) return conn_lost(c);
                } else {
                    break;
                }
            }
        } else if (PQstatus(c->pg) == CONNECTION_BAD) {
            return conn_lost(c);
        }
    }
}

/*
 * The task was cancelled (or timed out) in the middle of a query: ask the
 * server to cancel it, drain what is left, and wait until the cancel
 * request has been delivered, so that it cannot hit the next query.
 * Returns `why` (the -ECANCELED the caller got); if this cleanup itself is
 * cancelled again or fails, the connection is closed and marked broken.
 */
static int abort_query(corio_pg_conn *c, int why) {
    if (c->broken) return why;
    int done_fd = -1;
    int rc = start_cancel(c, &done_fd);
    if (rc == 0 && c->mode == PG_PIPELINE && (c->pl_pending > 0 || c->pl_unsynced > 0)) {
        /* results stop at a sync: make sure there is one after the last query */
        if (PQpipelineSync(c->pg) != 1) rc = conn_lost(c);
        else c->pl_syncs++, c->pl_unsynced = 0;
    }
    /* The server answers a cancel within milliseconds; when nothing comes
     * back for PG_ABORT_GRACE seconds the network is taken to be gone (a
     * cut: no FIN, no RST, so no error would ever come either) and the
     * connection is closed, rather than the caller's timeout turning into
     * a wait for ever. */
    corio_timeout grace;
    int grc = rc == 0 ? corio_timeout_enter(&grace, PG_ABORT_GRACE) : -1;
    if (rc == 0 && grc < 0) rc = grc;
    if (rc == 0) rc = send_flush(c);
    if (rc == 0) rc = drain(c);
    if (done_fd >= 0) {
        if (rc == 0) rc = corio_wait_readable(done_fd);
        corio_close(done_fd);
    }
    if (grc == 0) rc = corio_timeout_exit(&grace, rc);
    if (rc < 0 && !c->broken) {
        /* no answer, cancelled twice, or the server went away: nothing left to trust */
        set_err(c, "",
                grc == 0 && rc == -ETIMEDOUT ? "the server did not answer the cancel request within " PG_ABORT_GRACE_TEXT
                                               " s (network gone?); the connection is closed"
                                             : "the query was abandoned while being cancelled; the connection is closed",
                "", "");
        c->broken = 1;
        if (c->fd >= 0) corio_forget_fd(c->fd);
        PQfinish(c->pg);
        c->pg = NULL;
        c->fd = -1;
    }
    if (c->mode == PG_STREAM) c->mode = PG_IDLE;
    if (c->mode == PG_PIPELINE && !c->broken) {
        pl_reset(c);
    }
    if (!c->err.message[0] || strcmp(c->err.sqlstate, "57014") == 0)
        set_err(c, "57014", why == -ETIMEDOUT ? "query timed out" : "query cancelled by the client", "", "");
    return why;
}

/* ---- connecting ------------------------------------------------------------------ */

static int is_path(const char *h) { return h[0] == '/' || h[0] == '@'; }

static void put_errbuf(const corio_pg_connect_opts *o, const char *fmt, const char *a, const char *b) {
    if (!o || !o->errbuf || !o->errcap) return;
    snprintf(o->errbuf, o->errcap, fmt, a ? a : "", b ? b : "");
    char *nl = strchr(o->errbuf, '\n');
    if (nl) *nl = 0;
}

/*
 * Resolve each entry of a comma-separated host list with corio's resolver
 * into a hostaddr list of the same shape (paths stay empty entries).
 * Returns 0 with *hostaddr malloc'd (NULL when nothing needed resolving),
 * or a negative code.
 */
static int resolve_hosts(const char *hosts, char **hostaddr, const char **failed) {
    *hostaddr = NULL;
    size_t cap = strlen(hosts) * 4 + 64 * 8;
    char *out = malloc(cap), *tmp = strdup(hosts);
    if (!out || !tmp) {
        free(out), free(tmp);
        return -ENOMEM;
    }
    out[0] = 0;
    size_t n = 0;
    int any = 0;
    static __thread char failed_host[256];
    char *save = NULL;
    int first = 1;
    /* strtok_r would skip empty entries, which must keep their place */
    char *p = tmp;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        char addr[INET6_ADDRSTRLEN] = "";
        if (*p && !is_path(p)) {
            corio_sockaddr sa;
            int rc = corio_resolve(p, 5432, AF_UNSPEC, 0, &sa, 1);
            if (rc < 0) {
                snprintf(failed_host, sizeof failed_host, "%s", p);
                *failed = failed_host;
                free(out), free(tmp);
                return rc;
            }
            if (sa.u.sa.sa_family == AF_INET6) inet_ntop(AF_INET6, &sa.u.in6.sin6_addr, addr, sizeof addr);
            else inet_ntop(AF_INET, &sa.u.in.sin_addr, addr, sizeof addr);
            any = 1;
        }
        int w = snprintf(out + n, cap - n, "%s%s", first ? "" : ",", addr);
        if (w < 0 || (size_t)w >= cap - n) {
            free(out), free(tmp);
            return -EINVAL;
        }
        n += (size_t)w;
        first = 0;
        if (!comma) break;
        p = comma + 1;
    }
    (void)save;
    free(tmp);
    if (any) *hostaddr = out;
    else free(out);
    return 0;
}


static corio_pg_conn *conn_new(void) {
    corio_pg_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    c->lru.next = c->lru.prev = &c->lru;
    c->stmts.next = c->stmts.prev = &c->stmts;
    c->err.sqlstate[0] = 0;
    c->err.message = c->err.detail = c->err.hint = "";
    return c;
}

/* Over TLS, let OpenSSL read ahead: without it every record costs two
 * recv calls (its 5-byte header, then its body), and the server sends a big
 * result in records of 8 KB, so a 64 KB result took 16 recv calls and as
 * many trips through the loop; with it one recv takes what the socket has,
 * up to OpenSSL's buffer.  Records read ahead are invisible to the socket's
 * readiness: every wait for input goes through wait_input.  libpq only
 * reads through SSL_read, so this changes nothing else for it. */
static void tls_read_ahead(corio_pg_conn *c) {
    SSL *ssl = PQsslInUse(c->pg) ? PQsslStruct(c->pg, "OpenSSL") : NULL;
    c->tls = ssl != NULL;
    if (ssl) SSL_set_read_ahead(ssl, 1);
}

/* Drive PQconnectPoll until the connection is made or fails. */
static int connect_poll(corio_pg_conn *c) {
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        int fd = PQsocket(c->pg);
        if (st == PGRES_POLLING_OK) {
            c->fd = fd;
            tls_read_ahead(c);
            return 0;
        }
        if (st == PGRES_POLLING_FAILED || fd < 0) return CORIO_PG_ECONNECT;
        int rc = st == PGRES_POLLING_READING ? corio_wait_readable(fd) : corio_wait_writable(fd);
        /* libpq may close this socket and open another under the same
         * number (next address, TLS or GSS fallback): the loop must not
         * keep the old registration */
        corio_forget_fd(fd);
        if (rc < 0) return rc;
        st = PQconnectPoll(c->pg);
    }
}

static void ignore_notice(void *arg, const char *msg) { (void)arg, (void)msg; }

int corio_pg_connect_ex(const char *dsn, const corio_pg_connect_opts *opts, corio_pg_conn **out) {
    if (!out) return -EINVAL;
    *out = NULL;
    if (!dsn) {
        put_errbuf(opts, "no connection string%s%s", NULL, NULL);
        return -EINVAL;
    }
    char *perr = NULL;
    PQconninfoOption *info = PQconninfoParse(dsn, &perr);
    if (!info) {
        put_errbuf(opts, "bad connection string: %s%s", perr ? perr : "out of memory", NULL);
        PQfreemem(perr);
        return perr ? -EINVAL : -ENOMEM;
    }
    const char *host = NULL, *hostaddr = NULL, *ctimeout = NULL;
    int nopt = 0;
    for (PQconninfoOption *o = info; o->keyword; o++) {
        nopt++;
        if (!o->val) continue;
        if (!strcmp(o->keyword, "host")) host = o->val;
        else if (!strcmp(o->keyword, "hostaddr")) hostaddr = o->val;
        else if (!strcmp(o->keyword, "connect_timeout")) ctimeout = o->val;
    }
    /* libpq falls back to PGHOST; a name there would be looked up blocking too */
    if ((!host || !*host) && getenv("PGHOST") && *getenv("PGHOST")) host = getenv("PGHOST");
    double timeout = opts && opts->timeout > 0 ? opts->timeout : 0;
    if (timeout <= 0 && ctimeout && atoi(ctimeout) > 0) timeout = atoi(ctimeout);
    if (timeout <= 0) timeout = 60;

    corio_pg_conn *c = conn_new();
    const char **keys = calloc((size_t)nopt + 3, sizeof *keys), **vals = calloc((size_t)nopt + 3, sizeof *vals);
    char *resolved = NULL;
    int rc = 0;
    if (!c || !keys || !vals) {
        rc = -ENOMEM;
        goto out;
    }
    corio_timeout to;
    if ((rc = corio_timeout_enter(&to, timeout)) < 0) goto out;
    if ((!hostaddr || !*hostaddr) && host && *host) {
        const char *failed = NULL;
        rc = resolve_hosts(host, &resolved, &failed);
        if (rc < 0) {
            rc = corio_timeout_exit(&to, rc);
            if (rc == -ETIMEDOUT) put_errbuf(opts, "timed out resolving %s%s", failed, NULL);
            else if (rc != -ECANCELED) put_errbuf(opts, "could not resolve host \"%s\": %s", failed, corio_strerror(rc));
            goto out;
        }
    }
    int k = 0;
    for (PQconninfoOption *o = info; o->keyword; o++) {
        if (!o->val || !strcmp(o->keyword, "hostaddr") || !strcmp(o->keyword, "host")) continue;
        keys[k] = o->keyword, vals[k++] = o->val;
    }
    if (host && *host) keys[k] = "host", vals[k++] = host;
    if (resolved) keys[k] = "hostaddr", vals[k++] = resolved;
    else if (hostaddr && *hostaddr) keys[k] = "hostaddr", vals[k++] = hostaddr;
    keys[k] = NULL, vals[k] = NULL;
    c->pg = PQconnectStartParams(keys, vals, 0);
    if (!c->pg) {
        corio_timeout_exit(&to, 0);
        rc = -ENOMEM;
        goto out;
    }
    rc = PQstatus(c->pg) == CONNECTION_BAD ? CORIO_PG_ECONNECT : connect_poll(c);
    rc = corio_timeout_exit(&to, rc);
    if (rc == CORIO_PG_ECONNECT) {
        const char *m = PQerrorMessage(c->pg);
        if (strstr(m, "authentication failed")) rc = CORIO_PG_EAUTH;
        put_errbuf(opts, "%s%s", *m ? m : "connection failed", NULL);
    } else if (rc == -ETIMEDOUT) {
        put_errbuf(opts, "timed out connecting to %s%s", host && *host ? host : "the server", NULL);
    } else if (rc == -ECANCELED) {
        put_errbuf(opts, "connect cancelled%s%s", NULL, NULL);
    } else if (rc < 0) {
        put_errbuf(opts, "connect failed: %s%s", corio_strerror(rc), NULL);
    }
    if (rc == 0 && PQsetnonblocking(c->pg, 1) != 0) rc = -EIO;
    /* libpq prints NOTICEs on stderr by default; a library must not */
    if (rc == 0) PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
out:
    free(keys);
    free(vals);
    free(resolved);
    PQconninfoFree(info);
    if (rc < 0) {
        if (c && c->pg) {
            int fd = PQsocket(c->pg);
            if (fd >= 0) corio_forget_fd(fd);
        }
        corio_pg_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int corio_pg_connect(const char *dsn, corio_pg_conn **out) { return corio_pg_connect_ex(dsn, NULL, out); }

static void cache_drop(pg_cached *e) {
    e->prev->next = e->next;
    e->next->prev = e->prev;
    free(e->sql);
    free(e->oids);
    free(e);
}

void corio_pg_close(corio_pg_conn *c) {
    if (!c) return;
    while (c->lru.next != &c->lru) cache_drop(c->lru.next);
    for (struct corio_pg_stmt *s = c->stmts.next; s != &c->stmts;) {
        struct corio_pg_stmt *n = s->next;
        s->conn = NULL; /* the caller still owns it; stmt_close just frees it */
        s->prev = s->next = s;
        s = n;
    }
    if (c->pg) {
        if (c->fd >= 0) corio_forget_fd(c->fd);
        /* non-blocking: PQfinish sends Terminate if the socket takes it, never waits */
        PQfinish(c->pg);
    }
    if (c->home) {
        if (c->collect) pg__rows_free(c->collect);
        pg__rows_free(atomic_exchange(&c->home->spare, NULL));
        pg__home_unref(c->home); /* results still out keep it */
    }
    free(c->pl_ring);
    free(c->err_msg);
    free(c->err_detail);
    free(c->err_hint);
    free(c);
}

int corio_pg_is_ok(const corio_pg_conn *c) { return c && c->pg && !c->broken && PQstatus(c->pg) == CONNECTION_OK; }
int corio_pg_backend_pid(const corio_pg_conn *c) { return c && c->pg ? PQbackendPID(c->pg) : -EINVAL; }
int corio_pg_in_transaction(const corio_pg_conn *c) {
    if (!c || !c->pg) return 0;
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}
struct pg_conn *corio_pg_libpq(corio_pg_conn *c) { return c ? c->pg : NULL; }
const char *corio_pg_command_status(const corio_pg_conn *c) { return c ? c->status : ""; }

/* ---- parameters ------------------------------------------------------------------- */

/* libpq's parallel arrays for n parameters; small counts live on the stack.
 * The binary forms of array parameters, whose size has no bound, go to the
 * heap block after them (one malloc for all of a call's arrays). */
typedef struct pq_params {
    const char **values;
    int *lengths, *formats;
    Oid *oids;
    unsigned char (*bin)[16];
    void *heap;
    const char *s_values[16];
    int s_lengths[16], s_formats[16];
    Oid s_oids[16];
    unsigned char s_bin[16][16];
} pq_params;

static int params_build(corio_pg_conn *c, pq_params *pp, const corio_pg_param *p, int n) {
    pp->heap = NULL;
    if (n < 0 || (n > 0 && !p)) return local_err(c, -EINVAL, "bad parameter array (NULL with a count, or a negative count)");
    if (n > 65535) return local_err(c, -EINVAL, "more than 65535 parameters");
    size_t arrays = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].is_null || !pg__array_elem(p[i].oid)) continue;
        const char *why = "bad array";
        int64_t sz = pg__array_param_size(&p[i], &why);
        if (sz < 0) {
            char m[160];
            snprintf(m, sizeof m, "parameter $%d: %s", i + 1, why);
            return local_err(c, (int)sz, m);
        }
        arrays += (size_t)sz;
    }
    size_t fixed = 0;
    if (n <= 16) {
        pp->values = pp->s_values, pp->lengths = pp->s_lengths, pp->formats = pp->s_formats;
        pp->oids = pp->s_oids, pp->bin = pp->s_bin;
        if (arrays && !(pp->heap = malloc(arrays))) return local_err(c, -ENOMEM, "out of memory");
    } else {
        size_t each = sizeof(char *) + 2 * sizeof(int) + sizeof(Oid) + 16;
        fixed = each * (size_t)n;
        char *h = malloc(fixed + arrays);
        if (!h) return local_err(c, -ENOMEM, "out of memory");
        pp->heap = h;
        pp->values = (const char **)h;
        pp->bin = (unsigned char(*)[16])(h + sizeof(char *) * (size_t)n);
        pp->lengths = (int *)(h + (sizeof(char *) + 16) * (size_t)n);
        pp->formats = pp->lengths + n;
        pp->oids = (Oid *)(pp->formats + n);
    }
    /* where the next array's binary form goes (no heap when there is none) */
    unsigned char *ap = pp->heap ? (unsigned char *)pp->heap + fixed : NULL;
    for (int i = 0; i < n; i++) {
        pp->oids[i] = p[i].oid;
        pp->formats[i] = p[i].format;
        pp->lengths[i] = 0;
        if (p[i].is_null) {
            pp->values[i] = NULL;
        } else if (pg__array_elem(p[i].oid)) {
            int len = pg__array_param_encode(&p[i], ap);
            pp->values[i] = (const char *)ap;
            pp->lengths[i] = len;
            ap += len;
        } else if (p[i].ptr || p[i].oid == CORIO_PG_BYTEA) {
            if (p[i].len < -1) {
                free(pp->heap);
                return local_err(c, -EINVAL, "bad parameter length");
            }
            pp->values[i] = p[i].ptr ? p[i].ptr : "";
            pp->lengths[i] = p[i].len < 0 ? 0 : p[i].len;
        } else {
            const char *why = "bad parameter";
            int len = pg__encode_param(&p[i], pp->bin[i], &why);
            if (len < 0) {
                free(pp->heap);
                char m[160];
                snprintf(m, sizeof m, "parameter $%d: %s", i + 1, why);
                return local_err(c, len, m);
            }
            pp->values[i] = (const char *)pp->bin[i];
            pp->lengths[i] = len;
        }
    }
    return 0;
}

/* ---- the statement cache ------------------------------------------------------------ */

static uint64_t stmt_hash(const char *sql, const Oid *oids, int n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *s = (const unsigned char *)sql; *s; s++) h = (h ^ *s) * 1099511628211ULL;
    for (int i = 0; i < n; i++) h = (h ^ oids[i]) * 1099511628211ULL;
    return h;
}

static pg_cached *cache_find(corio_pg_conn *c, uint64_t h, const char *sql, const Oid *oids, int n) {
    for (pg_cached *e = c->lru.next; e != &c->lru; e = e->next) {
        if (e->hash != h || e->n != n || strcmp(e->sql, sql) != 0) continue;
        if (n && memcmp(e->oids, oids, sizeof(Oid) * (size_t)n) != 0) continue;
        if (c->lru.next != e) { /* move to the front */
            e->prev->next = e->next;
            e->next->prev = e->prev;
            e->next = c->lru.next;
            e->prev = &c->lru;
            c->lru.next->prev = e;
            c->lru.next = e;
        }
        return e;
    }
    return NULL;
}

/* ---- big results in buffers of our own (see pg_rows) ------------------------------- */

/* Buffers for the big result about to be fetched: the connection's spare
 * ones, emptied, or new.  NULL when out of memory. */
static pg_rows *rows_take(corio_pg_conn *c) {
    if (!c->home) {
        if (!(c->home = calloc(1, sizeof *c->home))) return NULL;
        atomic_init(&c->home->refs, 1);
        atomic_init(&c->home->spare, NULL);
    }
    pg_rows *w = atomic_exchange(&c->home->spare, NULL);
    if (!w) w = calloc(1, sizeof *w);
    if (w) w->ncells = w->len = 0, w->nrows = 0;
    return w;
}

/* Copy one row (a single-row PGresult) to the end of w.  0 or -ENOMEM.
 * Two passes over the columns: the lengths first (so the data buffer is
 * checked and grown once per row, not once per value), then the values,
 * each copied with libpq's terminating 0 (libpq ends every value with one,
 * binary ones too), so text values read as C strings. */
static int rows_add(pg_rows *w, const PGresult *r) {
    int nf = PQnfields(r);
    if (w->nrows == INT_MAX) return -ENOMEM;
    if (w->ncells + (size_t)nf > w->cellcap) {
        size_t cap = w->cellcap ? w->cellcap : 256;
        while (cap < w->ncells + (size_t)nf) cap *= 2;
        pg_cell *n = realloc(w->cells, cap * sizeof *n);
        if (!n) return -ENOMEM;
        w->cells = n, w->cellcap = cap;
    }
    pg_cell *cl = w->cells + w->ncells;
    size_t need = 0;
    for (int j = 0; j < nf; j++) {
        int len = PQgetlength(r, 0, j);
        if (len == 0 && PQgetisnull(r, 0, j)) len = -1; /* a NULL has length 0 */
        cl[j].len = len;
        need += (size_t)len + 1; /* a NULL adds 0 */
    }
    if (w->len + need > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + need) cap *= 2;
        char *n = realloc(w->data, cap);
        if (!n) return -ENOMEM;
        w->data = n, w->cap = cap;
    }
    size_t off = w->len;
    for (int j = 0; j < nf; j++) {
        int len = cl[j].len;
        if (len < 0) {
            cl[j].off = 0;
            continue;
        }
        memcpy(w->data + off, PQgetvalue(r, 0, j), (size_t)len + 1);
        cl[j].off = off;
        off += (size_t)len + 1;
    }
    w->len = off;
    w->ncells += (size_t)nf;
    w->nrows++;
    return 0;
}

/* Wait for the end of a query that gives one result; keep it in *out (may
 * be NULL to discard).  0 or the error. */
static int finish_one(corio_pg_conn *c, PGresult **out, int tuples_expected) {
    PGresult *keep = NULL, *r;
    int err = 0, rc;
    for (;;) {
        if ((rc = next_result(c, &r)) < 0) {
            PQclear(keep);
            return rc;
        }
        if (!r) break;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
            if (!err) err = result_err(c, r);
            PQclear(r);
            if (c->broken) break;
        } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            PQclear(r);
            /* a COPY through execute/fetch: refuse it and finish the query */
            if (!err) err = local_err(c, -EINVAL, "COPY needs corio_pg_copy_from / corio_pg_copy_to");
            if (st == PGRES_COPY_IN) {
                PQputCopyEnd(c->pg, "COPY needs corio_pg_copy_from");
                if ((rc = send_flush(c)) < 0) return rc;
            } else {
                char *b;
                int n;
                while ((n = PQgetCopyData(c->pg, &b, 1)) != -1) {
                    if (n > 0) PQfreemem(b);
                    else if (n == -2) break;
                    else if ((rc = wait_input(c)) < 0) return rc;
                    else if (!PQconsumeInput(c->pg)) return conn_lost(c);
                }
            }
        } else if (st == PGRES_SINGLE_TUPLE && c->collect) {
            if (!err && (rc = rows_add(c->collect, r)) < 0) err = local_err(c, rc, "out of memory for the rows");
            PQclear(r);
        } else {
            snprintf(c->status, sizeof c->status, "%s", PQcmdStatus(r));
            PQclear(keep);
            keep = r; /* the last statement's result, as asyncpg */
        }
    }
    (void)tuples_expected;
    if (err) {
        PQclear(keep);
        return err;
    }
    if (out) *out = keep;
    else PQclear(keep);
    return 0;
}

/* Is this error the server's word that a cached statement went stale? */
static int is_stale_plan(const corio_pg_conn *c) {
    return (!strcmp(c->err.sqlstate, "0A000") && strstr(c->err.message, "cached plan must not change result type")) ||
           !strcmp(c->err.sqlstate, "26000");
}

/* A new cache entry (not yet in the list, not yet prepared), or NULL. */
static pg_cached *cache_new(corio_pg_conn *c, const char *sql, const Oid *oids, int n, uint64_t h) {
    pg_cached *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->sql = strdup(sql);
    e->oids = n ? malloc(sizeof(Oid) * (size_t)n) : NULL;
    if (!e->sql || (n && !e->oids)) {
        free(e->sql), free(e->oids), free(e);
        return NULL;
    }
    if (n) memcpy(e->oids, oids, sizeof(Oid) * (size_t)n);
    e->n = n;
    e->hash = h;
    e->seq = ++c->stmt_seq;
    snprintf(e->name, sizeof e->name, "corio_c%u", e->seq);
    return e;
}

/* Free an entry never inserted. */
static void cache_drop_new(pg_cached *e) {
    free(e->sql);
    free(e->oids);
    free(e);
}

static void cache_insert(corio_pg_conn *c, pg_cached *e) {
    e->next = c->lru.next;
    e->prev = &c->lru;
    c->lru.next->prev = e;
    c->lru.next = e;
    c->ncached++;
}

/* Forget the entry with this number (its prepare failed in a pipeline). */
static void cache_forget_seq(corio_pg_conn *c, unsigned seq) {
    for (pg_cached *e = c->lru.next; e != &c->lru; e = e->next)
        if (e->seq == seq) {
            cache_drop(e);
            c->ncached--;
            return;
        }
}

/* Get a cached prepared statement for sql + types, preparing it (one round
 * trip) when missing.  0 with *e, or the error. */
static int cache_get(corio_pg_conn *c, const char *sql, const Oid *oids, int n, pg_cached **out) {
    uint64_t h = stmt_hash(sql, oids, n);
    pg_cached *e = cache_find(c, h, sql, oids, n);
    if (e) {
        *out = e;
        return 0;
    }
    if (c->ncached >= STMT_CACHE_MAX) {
        /* evict the least recently used: its server-side statement is closed
         * with the next prepare (one round trip for both) */
        pg_cached *old = c->lru.prev;
        char q[48];
        snprintf(q, sizeof q, "DEALLOCATE %s", old->name);
        cache_drop(old);
        c->ncached--;
        if (!PQsendQuery(c->pg, q)) return conn_lost(c);
        int rc = send_flush(c);
        if (rc == 0) rc = finish_one(c, NULL, 0);
        if (rc < 0 && (rc == -ECANCELED || rc == -ECONNRESET)) return rc;
    }
    if (!(e = cache_new(c, sql, oids, n, h))) return -ENOMEM;
    int rc = 0;
    if (!PQsendPrepare(c->pg, e->name, sql, n, oids)) rc = conn_lost(c);
    if (rc == 0) rc = send_flush(c);
    if (rc == 0) rc = finish_one(c, NULL, 0);
    if (rc < 0) {
        free(e->sql), free(e->oids), free(e);
        return rc;
    }
    cache_insert(c, e);
    *out = e;
    return 0;
}

/* ---- running a query ------------------------------------------------------------------ */

enum { Q_EXEC = 0, Q_FETCH = 1 };

static int enter(corio_pg_conn *c) {
    if (!c) return -EINVAL;
    if (c->broken || !c->pg) return local_err(c, -ECONNRESET, "the connection is closed");
    if (c->busy) return local_err(c, -EBUSY, "another task is using this connection");
    if (c->mode != PG_IDLE)
        return local_err(c, -EBUSY, c->mode == PG_STREAM ? "a stream is open on this connection"
                                                         : "the connection is in pipeline mode");
    c->busy = 1;
    clear_err(c);
    c->status[0] = 0;
    return 0;
}

static void leave(corio_pg_conn *c) { c->busy = 0; }

/* Send one query: the simple protocol for execute without parameters,
 * else a cached prepared statement. */
static int send_query(corio_pg_conn *c, const char *sql, const corio_pg_param *p, int n, int kind, int single_row) {
    if (!sql) return local_err(c, -EINVAL, "no SQL text");
    pq_params pp;
    int rc = params_build(c, &pp, p, n);
    if (rc < 0) return rc;
    int ok;
    if (n == 0 && kind == Q_EXEC && !single_row) {
        /* the simple protocol: several statements allowed, as asyncpg's execute() */
        ok = PQsendQuery(c->pg, sql);
    } else {
        /* fetches are prepared once and cached, with or without parameters
         * (as asyncpg): the server then skips parsing and planning */
        pg_cached *e;
        rc = cache_get(c, sql, pp.oids, n, &e);
        if (rc < 0) {
            free(pp.heap);
            return rc;
        }
        ok = PQsendQueryPrepared(c->pg, e->name, n, pp.values, pp.lengths, pp.formats, 1);
        c->fetch_seq = e->seq;
        if (ok && kind == Q_FETCH && !single_row && e->big) {
            /* its last result was big: row by row into buffers that stay (pg_rows) */
            if (!c->collect && !(c->collect = rows_take(c))) {
                free(pp.heap);
                return local_err(c, -ENOMEM, "out of memory");
            }
            c->collect->ncells = c->collect->len = 0, c->collect->nrows = 0;
            single_row = 1;
        }
    }
    free(pp.heap);
    if (!ok) return conn_lost(c);
    if (single_row && !PQsetSingleRowMode(c->pg)) return local_err(c, -EIO, "single-row mode refused");
    return send_flush(c);
}

/* send + finish, with the stale-statement retry and the cancel path. */
static int run(corio_pg_conn *c, const char *sql, const corio_pg_param *p, int n, int kind, PGresult **out) {
    for (int attempt = 0;; attempt++) {
        int rc = send_query(c, sql, p, n, kind, 0);
        if (rc == 0) rc = finish_one(c, out, kind);
        if (rc == -ECANCELED) return abort_query(c, rc);
        if (rc < 0 && (n > 0 || kind == Q_FETCH) && attempt == 0 && is_stale_plan(c)) {
            /* drop the stale entry; outside a transaction the retry is safe */
            Oid oids[16];
            if (n <= 16) {
                for (int i = 0; i < n; i++) oids[i] = p[i].oid;
                pg_cached *e = cache_find(c, stmt_hash(sql, oids, n), sql, oids, n);
                if (e) {
                    cache_drop(e);
                    c->ncached--;
                }
            } else {
                while (c->lru.next != &c->lru) cache_drop(c->lru.next), c->ncached--;
            }
            if (PQtransactionStatus(c->pg) == PQTRANS_IDLE) continue;
        }
        return rc;
    }
}

int corio_pg_execute(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams) {
    int rc = enter(c);
    if (rc < 0) return rc;
    PGresult *r = NULL;
    rc = run(c, sql, params, nparams, Q_EXEC, &r);
    if (rc == 0) {
        const char *t = r ? PQcmdTuples(r) : "";
        rc = *t ? atoi(t) : 0;
        PQclear(r);
    }
    leave(c);
    return rc;
}

static corio_pg_result *wrap(PGresult *r) {
    int ncols = PQnfields(r);
    corio_pg_result *w = malloc(sizeof *w + sizeof w->types[0] * (size_t)(ncols > 0 ? ncols : 0));
    if (!w) {
        PQclear(r);
        return NULL;
    }
    w->res = r;
    w->rows = NULL;
    w->home = NULL;
    w->nrows = PQntuples(r);
    w->ncols = ncols;
    w->err[0] = 0;
    for (int j = 0; j < ncols; j++) w->types[j] = PQftype(r, j);
    return w;
}

/* After a fetch: mark its cached statement big or not for the next time. */
static void note_size(corio_pg_conn *c, const PGresult *r, const pg_rows *w) {
    pg_cached *e = c->lru.next;
    if (e == &c->lru || e->seq != c->fetch_seq) return;
    if (w) {
        if (w->ncells * sizeof(pg_cell) + w->len < PG_BIG_RESULT / 2) e->big = 0;
    } else if (r && PQresultMemorySize(r) >= PG_BIG_RESULT) {
        e->big = 1;
    }
}

int corio_pg_fetch(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                   corio_pg_result **out) {
    if (out) *out = NULL;
    int rc = enter(c);
    if (rc < 0) return rc;
    PGresult *r = NULL;
    rc = run(c, sql, params, nparams, Q_FETCH, &r);
    pg_rows *w = c->collect;
    c->collect = NULL;
    if (rc == 0) {
        if (!r) r = PQmakeEmptyPGresult(c->pg, PGRES_TUPLES_OK);
        note_size(c, r, w);
        if (!r) {
            rc = -ENOMEM;
        } else if (w) {
            rc = w->nrows;
            corio_pg_result *res = out ? wrap(r) : NULL;
            if (res) {
                res->rows = w, res->home = c->home;
                res->nrows = w->nrows;
                atomic_fetch_add(&c->home->refs, 1);
                w = NULL;
                *out = res;
            } else if (out) {
                rc = -ENOMEM;
            } else {
                PQclear(r);
            }
        } else {
            rc = PQntuples(r);
            if (out) {
                if (!(*out = wrap(r))) rc = -ENOMEM;
            } else {
                PQclear(r);
            }
        }
    }
    if (w) pg__rows_release(c->home, w);
    leave(c);
    return rc;
}

int corio_pg_fetchrow(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                      corio_pg_result **out) {
    corio_pg_result *r = NULL;
    if (out) *out = NULL;
    int rc = corio_pg_fetch(c, sql, params, nparams, &r);
    if (rc < 0) return rc;
    if (rc == 0) {
        corio_pg_result_free(r);
        return 0;
    }
    /* asyncpg's fetchrow also runs the whole query and keeps one row;
     * rows after the first are simply not looked at */
    if (out) *out = r;
    else corio_pg_result_free(r);
    return 1;
}

static int fetchval(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                    corio_pg_result **r) {
    int rc = corio_pg_fetch(c, sql, params, nparams, r);
    if (rc < 0) return rc;
    if (rc == 0 || corio_pg_ncols(*r) < 1) {
        corio_pg_result_free(*r);
        *r = NULL;
        return local_err(c, CORIO_PG_ENULL, "the query returned no value");
    }
    return 0;
}

int corio_pg_fetchval_int64(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                            int64_t *out) {
    corio_pg_result *r;
    int rc = fetchval(c, sql, params, nparams, &r);
    if (rc < 0) return rc;
    rc = corio_pg_get_int64(r, 0, 0, out);
    if (rc < 0) local_err(c, rc, corio_pg_result_error(r));
    corio_pg_result_free(r);
    return rc;
}

int corio_pg_fetchval_double(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                             double *out) {
    corio_pg_result *r;
    int rc = fetchval(c, sql, params, nparams, &r);
    if (rc < 0) return rc;
    rc = corio_pg_get_double(r, 0, 0, out);
    if (rc < 0) local_err(c, rc, corio_pg_result_error(r));
    corio_pg_result_free(r);
    return rc;
}

int corio_pg_fetchval_text(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                           char **out) {
    if (!out) return -EINVAL;
    *out = NULL;
    corio_pg_result *r;
    int rc = fetchval(c, sql, params, nparams, &r);
    if (rc < 0) return rc;
    rc = corio_pg_get_str(r, 0, 0, NULL, 0);
    if (rc >= 0) {
        char *s = malloc((size_t)rc + 1);
        if (!s) rc = -ENOMEM;
        else {
            corio_pg_get_str(r, 0, 0, s, (size_t)rc + 1);
            *out = s;
            rc = 0;
        }
    } else {
        local_err(c, rc, corio_pg_result_error(r));
    }
    corio_pg_result_free(r);
    return rc;
}

/* ---- streaming -------------------------------------------------------------------------- */

int corio_pg_stream(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams) {
    int rc = enter(c);
    if (rc < 0) return rc;
    rc = send_query(c, sql, params, nparams, Q_FETCH, 1);
    if (rc == -ECANCELED) rc = abort_query(c, rc);
    else if (rc == 0) c->mode = PG_STREAM;
    leave(c);
    return rc;
}

int corio_pg_stream_next(corio_pg_conn *c, corio_pg_result **row) {
    if (!c || !row) return -EINVAL;
    *row = NULL;
    if (c->mode != PG_STREAM) return local_err(c, -EINVAL, "no stream is open on this connection");
    if (c->busy) return local_err(c, -EBUSY, "another task is using this connection");
    c->busy = 1;
    PGresult *r;
    int rc = next_result(c, &r);
    if (rc == -ECANCELED) {
        rc = abort_query(c, rc);
    } else if (rc == 0 && r && PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
        if (!(*row = wrap(r))) {
            rc = abort_query(c, -ENOMEM);
        } else {
            rc = 1;
        }
    } else if (rc == 0) {
        /* the end: the final (empty) result or an error, then NULL */
        int err = 0;
        while (r) {
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_FATAL_ERROR && !err) err = result_err(c, r);
            else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) snprintf(c->status, sizeof c->status, "%s", PQcmdStatus(r));
            PQclear(r);
            if (c->broken) break;
            if ((rc = next_result(c, &r)) < 0) break;
        }
        if (rc == -ECANCELED) rc = abort_query(c, rc);
        else if (rc == 0) rc = err;
        c->mode = PG_IDLE;
    } else {
        c->mode = PG_IDLE;
    }
    c->busy = 0;
    return rc;
}

int corio_pg_stream_close(corio_pg_conn *c) {
    if (!c) return -EINVAL;
    if (c->mode != PG_STREAM) return 0;
    if (c->busy) return -EBUSY;
    c->busy = 1;
    int rc = abort_query(c, 0);
    c->mode = PG_IDLE;
    c->busy = 0;
    clear_err(c);
    return c->broken ? -ECONNRESET : rc;
}

/* ---- prepared statements ------------------------------------------------------------------ */

int corio_pg_prepare(corio_pg_conn *c, const char *sql, const uint32_t *types, int ntypes, corio_pg_stmt **out) {
    if (!out) return -EINVAL;
    *out = NULL;
    if (ntypes < 0 || (ntypes && !types) || !sql) return c ? local_err(c, -EINVAL, "bad arguments to prepare") : -EINVAL;
    int rc = enter(c);
    if (rc < 0) return rc;
    struct corio_pg_stmt *s = calloc(1, sizeof *s);
    if (!s) {
        leave(c);
        return -ENOMEM;
    }
    snprintf(s->name, sizeof s->name, "corio_p%u", ++c->stmt_seq);
    PGresult *d = NULL;
    if (!PQsendPrepare(c->pg, s->name, sql, ntypes, (const Oid *)types)) rc = conn_lost(c);
    if (rc == 0) rc = send_flush(c);
    if (rc == 0) rc = finish_one(c, NULL, 0);
    /* ask what the server made of the parameters */
    if (rc == 0 && !PQsendDescribePrepared(c->pg, s->name)) rc = conn_lost(c);
    if (rc == 0) rc = send_flush(c);
    if (rc == 0) rc = finish_one(c, &d, 0);
    if (rc == 0 && d) {
        s->nparams = PQnparams(d);
        s->types = malloc(sizeof(uint32_t) * (size_t)(s->nparams ? s->nparams : 1));
        if (!s->types) rc = -ENOMEM;
        else for (int i = 0; i < s->nparams; i++) s->types[i] = PQparamtype(d, i);
    }
    PQclear(d);
    if (rc == -ECANCELED) rc = abort_query(c, rc);
    if (rc < 0) {
        free(s->types);
        free(s);
        leave(c);
        return rc;
    }
    s->conn = c;
    s->next = c->stmts.next;
    s->prev = &c->stmts;
    c->stmts.next->prev = s;
    c->stmts.next = s;
    leave(c);
    *out = s;
    return 0;
}

int corio_pg_stmt_nparams(const corio_pg_stmt *s) { return s ? s->nparams : -EINVAL; }
uint32_t corio_pg_stmt_param_type(const corio_pg_stmt *s, int i) {
    return s && i >= 0 && i < s->nparams ? s->types[i] : 0;
}

static int stmt_run(corio_pg_stmt *s, const corio_pg_param *p, int n, PGresult **out) {
    if (!s) return -EINVAL;
    corio_pg_conn *c = s->conn;
    if (!c) return -ECONNRESET;
    int rc = enter(c);
    if (rc < 0) return rc;
    if (n != s->nparams) {
        leave(c);
        char m[96];
        snprintf(m, sizeof m, "the statement takes %d parameters, %d given", s->nparams, n);
        return local_err(c, -EINVAL, m);
    }
    pq_params pp;
    if ((rc = params_build(c, &pp, p, n)) < 0) {
        leave(c);
        return rc;
    }
    if (!PQsendQueryPrepared(c->pg, s->name, n, pp.values, pp.lengths, pp.formats, 1)) rc = conn_lost(c);
    free(pp.heap);
    if (rc == 0) rc = send_flush(c);
    if (rc == 0) rc = finish_one(c, out, 1);
    if (rc == -ECANCELED) rc = abort_query(c, rc);
    leave(c);
    return rc;
}

int corio_pg_stmt_execute(corio_pg_stmt *s, const corio_pg_param *params, int nparams) {
    PGresult *r = NULL;
    int rc = stmt_run(s, params, nparams, &r);
    if (rc == 0) {
        const char *t = r ? PQcmdTuples(r) : "";
        rc = *t ? atoi(t) : 0;
    }
    PQclear(r);
    return rc;
}

int corio_pg_stmt_fetch(corio_pg_stmt *s, const corio_pg_param *params, int nparams, corio_pg_result **out) {
    if (out) *out = NULL;
    PGresult *r = NULL;
    int rc = stmt_run(s, params, nparams, &r);
    if (rc < 0) return rc;
    if (!r) r = PQmakeEmptyPGresult(s->conn->pg, PGRES_TUPLES_OK);
    rc = PQntuples(r);
    if (out) {
        if (!(*out = wrap(r))) rc = -ENOMEM;
    } else {
        PQclear(r);
    }
    return rc;
}

int corio_pg_stmt_close(corio_pg_stmt *s) {
    if (!s) return 0;
    int rc = 0;
    corio_pg_conn *c = s->conn;
    if (c) {
        s->prev->next = s->next;
        s->next->prev = s->prev;
        if (corio_pg_is_ok(c) && c->mode == PG_IDLE && !c->busy) {
            char q[48];
            snprintf(q, sizeof q, "DEALLOCATE %s", s->name);
            rc = corio_pg_execute(c, q, NULL, 0);
            if (rc > 0) rc = 0;
        }
    }
    free(s->types);
    free(s);
    return rc;
}

/* ---- transactions ----------------------------------------------------------------------- */

int corio_pg_begin(corio_pg_conn *c, enum corio_pg_isolation iso) {
    if (!c) return -EINVAL;
    if (c->pg && PQtransactionStatus(c->pg) == PQTRANS_IDLE) c->tx_depth = 0;
    char q[80];
    if (c->tx_depth == 0) {
        static const char *const lv[] = {"BEGIN", "BEGIN ISOLATION LEVEL READ COMMITTED",
                                         "BEGIN ISOLATION LEVEL REPEATABLE READ", "BEGIN ISOLATION LEVEL SERIALIZABLE"};
        if ((unsigned)iso > CORIO_PG_SERIALIZABLE) return local_err(c, -EINVAL, "bad isolation level");
        snprintf(q, sizeof q, "%s", lv[iso]);
    } else {
        snprintf(q, sizeof q, "SAVEPOINT corio_sp_%d", c->tx_depth + 1);
    }
    int rc = corio_pg_execute(c, q, NULL, 0);
    if (rc < 0) return rc;
    c->tx_depth++;
    return 0;
}

static int tx_end(corio_pg_conn *c, int commit) {
    if (!c) return -EINVAL;
    char q[128];
    int outer = c->tx_depth <= 1;
    if (outer) snprintf(q, sizeof q, "%s", commit ? "COMMIT" : "ROLLBACK");
    else if (commit) snprintf(q, sizeof q, "RELEASE SAVEPOINT corio_sp_%d", c->tx_depth);
    else snprintf(q, sizeof q, "ROLLBACK TO SAVEPOINT corio_sp_%d; RELEASE SAVEPOINT corio_sp_%d", c->tx_depth, c->tx_depth);
    int rc = corio_pg_execute(c, q, NULL, 0);
    if (rc < 0) {
        /* whatever happened, the server's own state decides where we are */
        if (c->pg && PQtransactionStatus(c->pg) == PQTRANS_IDLE) c->tx_depth = 0;
        return rc;
    }
    c->tx_depth = outer ? 0 : c->tx_depth - 1;
    /* COMMIT of a failed transaction succeeds with the tag ROLLBACK */
    if (outer && commit && strcmp(c->status, "ROLLBACK") == 0)
        return local_err(c, CORIO_PG_ETXSTATE, "the transaction had failed: COMMIT rolled it back");
    return 0;
}

int corio_pg_commit(corio_pg_conn *c) { return tx_end(c, 1); }
int corio_pg_rollback(corio_pg_conn *c) { return tx_end(c, 0); }

int corio_pg_transaction(corio_pg_conn *c, enum corio_pg_isolation iso, int (*body)(corio_pg_conn *c, void *arg),
                         void *arg) {
    if (!c || !body) return -EINVAL;
    int rc = corio_pg_begin(c, iso);
    if (rc < 0) return rc;
    int depth = c->tx_depth;
    rc = body(c, arg);
    if (c->broken) return rc < 0 ? rc : -ECONNRESET;
    if (c->tx_depth != depth) {
        /* the body left a nested level open: close it down to ours */
        while (c->tx_depth > depth) corio_pg_rollback(c);
    }
    if (rc < 0) {
        /* keep the body's error; the rollback's own error only if it had none to say */
        char st[6], *m = strdup(c->err.message), *d = strdup(c->err.detail), *h = strdup(c->err.hint);
        memcpy(st, c->err.sqlstate, sizeof st);
        corio_pg_rollback(c);
        set_err(c, st, m, d, h);
        free(m), free(d), free(h);
        return rc;
    }
    int crc = corio_pg_commit(c);
    return crc < 0 ? crc : rc;
}

/* ---- pipelines ------------------------------------------------------------------------- */

int corio_pg_pipeline_begin(corio_pg_conn *c) {
    int rc = enter(c);
    if (rc < 0) return rc;
    if (!PQenterPipelineMode(c->pg)) rc = local_err(c, -EIO, PQerrorMessage(c->pg));
    else c->mode = PG_PIPELINE, pl_reset(c);
    leave(c);
    return rc;
}

static int pl_enter(corio_pg_conn *c) {
    if (!c) return -EINVAL;
    if (c->mode != PG_PIPELINE) return local_err(c, -EINVAL, "the connection is not in pipeline mode");
    if (c->broken) return local_err(c, -ECONNRESET, "the connection is closed");
    if (c->busy) return local_err(c, -EBUSY, "another task is using this connection");
    c->busy = 1;
    return 0;
}

int corio_pg_pipeline_send(corio_pg_conn *c, const char *sql, const corio_pg_param *p, int n) {
    int rc = pl_enter(c);
    if (rc < 0) return rc;
    pq_params pp;
    if (!sql) rc = local_err(c, -EINVAL, "no SQL text");
    else rc = params_build(c, &pp, p, n);
    if (rc == 0) {
        /* A cached prepared statement: Bind + Execute only, no parsing and
         * planning on the server for each query.  A statement not cached
         * yet is prepared inside the pipeline, ahead of its query, so it
         * costs no round trip of its own.  With a full cache, an unnamed
         * statement (a cached one would need a DEALLOCATE in the pipeline). */
        uint64_t h = stmt_hash(sql, pp.oids, n);
        pg_cached *e = cache_find(c, h, sql, pp.oids, n);
        int ok = 1;
        if (!e && c->ncached < STMT_CACHE_MAX) {
            if (!(e = cache_new(c, sql, pp.oids, n, h))) rc = -ENOMEM;
            else if (!(ok = PQsendPrepare(c->pg, e->name, sql, n, pp.oids))) cache_drop_new(e);
            else if ((rc = pl_push(c, PL_PREP | e->seq)) < 0) cache_drop_new(e);
            else cache_insert(c, e);
        }
        if (rc == 0 && ok) {
            if (e) ok = PQsendQueryPrepared(c->pg, e->name, n, pp.values, pp.lengths, pp.formats, 1);
            else ok = PQsendQueryParams(c->pg, sql, n, pp.oids, pp.values, pp.lengths, pp.formats, 1);
        }
        free(pp.heap);
        if (rc == 0 && !ok) rc = conn_lost(c);
        if (rc == 0) rc = pl_push(c, PL_QUERY);
        if (rc == 0) c->pl_unsynced++;
        if (rc == 0 && ++c->pl_unflushed >= PIPELINE_FLUSH_EVERY) {
            c->pl_unflushed = 0;
            rc = send_flush(c);
            if (rc == -ECANCELED) rc = abort_query(c, rc);
        }
    }
    c->busy = 0;
    return rc;
}

int corio_pg_pipeline_sync(corio_pg_conn *c) {
    int rc = pl_enter(c);
    if (rc < 0) return rc;
    if (PQpipelineSync(c->pg) != 1) rc = conn_lost(c);
    else c->pl_syncs++, c->pl_unflushed = 0, c->pl_unsynced = 0;
    if (rc == 0) rc = send_flush(c);
    if (rc == -ECANCELED) rc = abort_query(c, rc);
    c->busy = 0;
    return rc;
}

int corio_pg_pipeline_next(corio_pg_conn *c, corio_pg_result **out) {
    if (out) *out = NULL;
    int rc = pl_enter(c);
    if (rc < 0) return rc;
    if (c->pl_pending == 0) {
        c->busy = 0;
        return -ENOMSG;
    }
    if (c->pl_unsynced > 0) {
        /* the server holds the answers to queries after the last sync until
         * asked: a flush request (not a sync, which would end the implicit
         * transaction) rather than waiting forever */
        if (PQsendFlushRequest(c->pg) != 1) rc = conn_lost(c);
        else c->pl_unsynced = 0;
        if (rc == 0) rc = send_flush(c);
    }
    PGresult *r = NULL;
    while (rc == 0) {
        if ((rc = next_result(c, &r)) < 0) break;
        if (!r) continue; /* the end of the previous query */
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            c->pl_syncs--;
            PQclear(r);
            continue;
        }
        uint32_t what = pl_pop(c);
        if (what & PL_PREP) {
            /* a statement prepared in the pipeline: its query comes next and
             * reports the prepare's error, if any, in place of "aborted" */
            if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
                c->pl_prep_err = result_err(c, r);
                cache_forget_seq(c, what & ~PL_PREP);
            }
            PQclear(r);
            if (c->broken) rc = -ECONNRESET;
            continue;
        }
        if (c->pl_prep_err && st == PGRES_PIPELINE_ABORTED) {
            rc = c->pl_prep_err; /* the error is still the one recorded */
            c->pl_prep_err = 0;
            PQclear(r);
        } else if (st == PGRES_PIPELINE_ABORTED) {
            c->pl_prep_err = 0;
            rc = local_err(c, CORIO_PG_EABORTED, "skipped: an earlier query of the pipeline failed");
            PQclear(r);
        } else if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
            c->pl_prep_err = 0;
            rc = result_err(c, r);
            if (is_stale_plan(c)) /* forget every cached statement: rare, and they re-prepare */
                while (c->lru.next != &c->lru) cache_drop(c->lru.next), c->ncached--;
            PQclear(r);
        } else {
            c->pl_prep_err = 0;
            const char *tag = PQcmdStatus(r);
            size_t tl = strlen(tag);
            if (tl >= sizeof c->status) tl = sizeof c->status - 1;
            memcpy(c->status, tag, tl);
            c->status[tl] = 0;
            const char *t = PQcmdTuples(r);
            rc = st == PGRES_TUPLES_OK ? PQntuples(r) : (*t ? atoi(t) : 0);
            if (out) {
                if (!(*out = wrap(r))) rc = -ENOMEM;
            } else {
                PQclear(r);
            }
        }
        break;
    }
    if (rc == -ECANCELED) rc = abort_query(c, rc);
    c->busy = 0;
    return rc;
}

int corio_pg_pipeline_end(corio_pg_conn *c) {
    int rc = pl_enter(c);
    if (rc < 0) return rc;
    /* read the markers of syncs whose queries were all read */
    while (rc == 0 && c->pl_pending == 0 && c->pl_syncs > 0) {
        PGresult *r;
        if ((rc = next_result(c, &r)) < 0) break;
        if (r && PQresultStatus(r) == PGRES_PIPELINE_SYNC) c->pl_syncs--;
        PQclear(r);
    }
    if (rc == -ECANCELED) rc = abort_query(c, rc);
    if (rc == 0 && c->pl_pending > 0) rc = local_err(c, -EBUSY, "results of the pipeline were not all read");
    if (rc == 0 || c->broken) {
        if (!c->broken && !PQexitPipelineMode(c->pg)) rc = local_err(c, -EIO, PQerrorMessage(c->pg));
        c->mode = PG_IDLE;
    }
    c->busy = 0;
    return rc;
}

int corio_pg_executemany(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams, int nrows) {
    if (!c) return -EINVAL;
    if (nrows < 0 || nparams < 0 || (nrows && nparams && !params)) return local_err(c, -EINVAL, "bad parameter array");
    if (nrows == 0) return 0;
    int rc = enter(c);
    if (rc < 0) return rc;
    /* Every row is checked before anything is sent: all rows or none. */
    pq_params pp;
    for (int i = 0; i < nrows && rc == 0; i++) {
        const corio_pg_param *row = params + (size_t)i * (size_t)nparams;
        for (int k = 0; k < nparams && rc == 0; k++)
            if (row[k].oid != params[k].oid && !row[k].is_null && !params[k].is_null)
                rc = local_err(c, -EINVAL, "executemany: a parameter's type differs between rows");
        if (rc == 0 && (rc = params_build(c, &pp, row, nparams)) == 0) free(pp.heap);
    }
    /* one named statement, prepared once, then a pipeline of executions */
    pg_cached *e = NULL;
    if (rc == 0 && (rc = params_build(c, &pp, params, nparams)) == 0) {
        rc = cache_get(c, sql, pp.oids, nparams, &e);
        free(pp.heap);
    }
    if (rc == -ECANCELED) rc = abort_query(c, rc);
    leave(c);
    if (rc < 0) return rc;
    char name[24];
    snprintf(name, sizeof name, "%s", e->name);
    if ((rc = corio_pg_pipeline_begin(c)) < 0) return rc;
    int err = 0;
    for (int i = 0; i < nrows && !err; i++) {
        const corio_pg_param *row = params + (size_t)i * (size_t)nparams;
        if ((err = params_build(c, &pp, row, nparams)) < 0) break;
        c->busy = 1;
        int ok = PQsendQueryPrepared(c->pg, name, nparams, pp.values, pp.lengths, pp.formats, 1);
        free(pp.heap);
        if (!ok) err = conn_lost(c);
        else if ((err = pl_push(c, PL_QUERY)) == 0) c->pl_unsynced++;
        if (!err && ++c->pl_unflushed >= PIPELINE_FLUSH_EVERY) {
            c->pl_unflushed = 0;
            err = send_flush(c);
            if (err == -ECANCELED) abort_query(c, err);
        }
        c->busy = 0;
    }
    int64_t total = 0;
    if (!err) err = corio_pg_pipeline_sync(c);
    /* read every answer; the first error is the one reported */
    char st[6] = "", *m = NULL, *d = NULL, *h = NULL;
    int first = 0;
    while (!err && c->pl_pending > 0) {
        int r = corio_pg_pipeline_next(c, NULL);
        if (r >= 0) {
            total += r;
            continue;
        }
        if (r == -ECANCELED || r == -ECONNRESET || r == -ENOMSG || r == -ENOMEM) {
            err = r;
            break;
        }
        if (!first) { /* the rest come back CORIO_PG_EABORTED: keep this one's words */
            first = r;
            memcpy(st, c->err.sqlstate, sizeof st);
            m = strdup(c->err.message), d = strdup(c->err.detail), h = strdup(c->err.hint);
        }
    }
    if (!err) err = first;
    int erc = corio_pg_pipeline_end(c);
    if (m) set_err(c, st, m, d, h);
    free(m), free(d), free(h);
    if (!err && erc < 0) err = erc;
    if (err) return err;
    return total > INT32_MAX ? INT32_MAX : (int)total;
}

/* ---- COPY --------------------------------------------------------------------------------- */

/* Start a COPY statement and wait for the server to enter the copy state. */
static int copy_start(corio_pg_conn *c, const char *sql, ExecStatusType want) {
    if (!sql) return local_err(c, -EINVAL, "no SQL text");
    if (!PQsendQuery(c->pg, sql)) return conn_lost(c);
    int rc = send_flush(c);
    PGresult *r = NULL;
    if (rc == 0) rc = next_result(c, &r);
    if (rc < 0) return rc;
    if (!r) return local_err(c, -EPROTO, "the server gave no answer to the COPY");
    ExecStatusType st = PQresultStatus(r);
    if (st == want) {
        PQclear(r);
        return 0;
    }
    if (st == PGRES_FATAL_ERROR) rc = result_err(c, r);
    else rc = local_err(c, -EINVAL, want == PGRES_COPY_IN ? "not a COPY ... FROM STDIN statement" : "not a COPY ... TO STDOUT statement");
    PQclear(r);
    /* finish whatever the statement was */
    int frc = finish_one(c, NULL, 0);
    if (frc == -ECANCELED) return frc;
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
        /* the wrong direction: leave it to drain */
        frc = drain(c);
        if (frc < 0) return frc;
    }
    return rc;
}

static int64_t copy_end(corio_pg_conn *c, const char *errmsg) {
    int r;
    while ((r = PQputCopyEnd(c->pg, errmsg)) == 0) {
        int rc = send_flush(c);
        if (rc < 0) return rc;
    }
    if (r < 0) return conn_lost(c);
    int rc = send_flush(c);
    PGresult *res = NULL;
    if (rc == 0) rc = finish_one(c, &res, 0);
    if (rc < 0) return rc;
    const char *t = res ? PQcmdTuples(res) : "";
    int64_t n = *t ? strtoll(t, NULL, 10) : 0;
    PQclear(res);
    return n;
}

static int copy_put(corio_pg_conn *c, const char *buf, size_t len) {
    while (len > 0) {
        int chunk = len > (1 << 20) ? (1 << 20) : (int)len;
        int r;
        while ((r = PQputCopyData(c->pg, buf, chunk)) == 0) {
            int rc = send_flush(c);
            if (rc < 0) return rc;
        }
        if (r < 0) return conn_lost(c);
        buf += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

int64_t corio_pg_copy_from(corio_pg_conn *c, const char *sql, const void *data, size_t len) {
    int rc = enter(c);
    if (rc < 0) return rc;
    int64_t n = copy_start(c, sql, PGRES_COPY_IN);
    if (n == 0 && (!data && len)) n = local_err(c, -EINVAL, "NULL data");
    if (n == 0) {
        rc = copy_put(c, data, len);
        if (rc == 0) rc = send_flush(c);
        n = rc < 0 ? rc : copy_end(c, NULL);
    }
    if (n == -ECANCELED) n = abort_query(c, -ECANCELED);
    leave(c);
    return n;
}

int64_t corio_pg_copy_from_cb(corio_pg_conn *c, const char *sql, long (*read)(void *arg, char *buf, size_t cap),
                              void *arg) {
    if (!read) return c ? local_err(c, -EINVAL, "NULL read callback") : -EINVAL;
    int rc = enter(c);
    if (rc < 0) return rc;
    int64_t n = copy_start(c, sql, PGRES_COPY_IN);
    char *buf = n == 0 ? malloc(65536) : NULL;
    if (n == 0 && !buf) n = -ENOMEM;
    while (n == 0) {
        long got = read(arg, buf, 65536);
        if (got < 0) {
            /* the source failed: the server rolls the COPY back */
            int64_t e = copy_end(c, "the data source failed");
            n = e == -ECANCELED ? e : got;
            break;
        }
        if (got == 0) {
            n = send_flush(c);
            if (n == 0) n = copy_end(c, NULL);
            break;
        }
        if ((rc = copy_put(c, buf, (size_t)got)) < 0) n = rc;
    }
    free(buf);
    if (n == -ECANCELED) n = abort_query(c, -ECANCELED);
    leave(c);
    return n;
}

int64_t corio_pg_copy_to(corio_pg_conn *c, const char *sql, int (*write)(void *arg, const char *data, size_t len),
                         void *arg) {
    if (!write) return c ? local_err(c, -EINVAL, "NULL write callback") : -EINVAL;
    int rc = enter(c);
    if (rc < 0) return rc;
    int64_t n = copy_start(c, sql, PGRES_COPY_OUT);
    while (n == 0) {
        char *buf;
        int got = PQgetCopyData(c->pg, &buf, 1);
        if (got > 0) {
            int w = write(arg, buf, (size_t)got);
            PQfreemem(buf);
            if (w < 0) {
                /* the sink failed: stop the server and drain what it sent */
                n = abort_query(c, w);
                if (!c->broken) clear_err(c);
                break;
            }
        } else if (got == 0) {
            if ((rc = wait_input(c)) < 0) n = rc;
            else if (!PQconsumeInput(c->pg)) n = conn_lost(c);
        } else {
            PGresult *res = NULL;
            n = finish_one(c, &res, 0);
            if (n == 0) {
                const char *t = res ? PQcmdTuples(res) : "";
                n = *t ? strtoll(t, NULL, 10) : 0;
            }
            PQclear(res);
            break;
        }
    }
    if (n == -ECANCELED) n = abort_query(c, -ECANCELED);
    leave(c);
    return n;
}

/* ---- LISTEN / NOTIFY ------------------------------------------------------------------------ */

int corio_pg_wait_notify(corio_pg_conn *c, double timeout, corio_pg_notify **out) {
    if (!out || isnan(timeout)) return -EINVAL;
    *out = NULL;
    int rc = enter(c);
    if (rc < 0) return rc;
    corio_timeout to;
    int scoped = 0;
    for (;;) {
        PGnotify *n = PQnotifies(c->pg);
        if (n) {
            corio_pg_notify *m = calloc(1, sizeof *m);
            if (m) {
                m->channel = strdup(n->relname);
                m->payload = strdup(n->extra ? n->extra : "");
                m->pid = n->be_pid;
            }
            PQfreemem(n);
            if (!m || !m->channel || !m->payload) {
                corio_pg_notify_free(m);
                rc = -ENOMEM;
            } else {
                *out = m;
            }
            break;
        }
        if (!scoped && isfinite(timeout)) {
            if ((rc = corio_timeout_enter(&to, timeout)) < 0) break;
            scoped = 1;
        }
        if ((rc = wait_input(c)) < 0) break;
        if (!PQconsumeInput(c->pg)) {
            rc = conn_lost(c);
            break;
        }
    }
    if (scoped) rc = corio_timeout_exit(&to, rc);
    leave(c);
    return rc;
}

void corio_pg_notify_free(corio_pg_notify *n) {
    if (!n) return;
    free(n->channel);
    free(n->payload);
    free(n);
}
