/*
 * pool.c - a connection pool (asyncpg's Pool): a semaphore of max_size
 * units guards the borrowing; idle connections wait in a LIFO list (the
 * most recently used one is the most likely to be warm and alive).
 */
#include "pg_internal.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

struct corio_pg_pool {
    char *dsn;                 /* copied */
    corio_pg_pool_opts opts;   /* with defaults filled in */
    corio_semaphore units;     /* one unit per connection that may be borrowed */
    corio_pg_conn *idle;       /* idle connections, LIFO through pool_next */
    int nidle;                 /* how many */
    int nopen;                 /* open connections, idle or borrowed */
    int closing;               /* 1 once close began: acquires fail */
};

static int pool_connect(corio_pg_pool *p, corio_pg_conn **out) {
    corio_pg_connect_opts o = {.timeout = p->opts.connect_timeout};
    int rc = corio_pg_connect_ex(p->dsn, &o, out);
    if (rc == 0) {
        (*out)->pool = p;
        p->nopen++;
    }
    return rc;
}

/*
 * Is an idle connection still alive?  Nothing should arrive on one: a
 * server that shuts down or kills the session sends FATAL (which libpq
 * files as a notice while idle) and closes, so a hang-up means dead, and
 * anything readable is read to let libpq notice an end of file.
 */
static int idle_alive(corio_pg_conn *c) {
    if (c->broken || !c->pg || PQstatus(c->pg) != CONNECTION_OK) return 0;
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN | POLLRDHUP};
    if (pfd.fd < 0) return 0;
    if (poll(&pfd, 1, 0) <= 0) return 1;
    if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return 0;
    return PQconsumeInput(c->pg) && PQstatus(c->pg) == CONNECTION_OK;
}

static void pool_discard(corio_pg_pool *p, corio_pg_conn *c) {
    p->nopen--;
    corio_pg_close(c);
}

int corio_pg_pool_new(const char *dsn, const corio_pg_pool_opts *opts, corio_pg_pool **out) {
    if (!out) return -EINVAL;
    *out = NULL;
    if (!dsn) return -EINVAL;
    corio_pg_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->dsn = strdup(dsn))) {
        free(p);
        return -ENOMEM;
    }
    if (opts) p->opts = *opts;
    if (p->opts.max_size <= 0) p->opts.max_size = 10;
    if (p->opts.min_size <= 0) p->opts.min_size = p->opts.min_size < 0 ? 0 : 1;
    if (p->opts.min_size > p->opts.max_size || p->opts.connect_timeout < 0 || isnan(p->opts.connect_timeout)) {
        free(p->dsn);
        free(p);
        return -EINVAL;
    }
    corio_semaphore_init(&p->units, p->opts.max_size);
    for (int i = 0; i < p->opts.min_size; i++) {
        corio_pg_conn *c;
        int rc = pool_connect(p, &c);
        if (rc < 0) {
            while (p->idle) {
                corio_pg_conn *n = p->idle->pool_next;
                pool_discard(p, p->idle);
                p->idle = n;
            }
            corio_semaphore_destroy(&p->units);
            free(p->dsn);
            free(p);
            return rc;
        }
        c->pool_next = p->idle;
        p->idle = c;
        p->nidle++;
    }
    *out = p;
    return 0;
}

int corio_pg_pool_acquire(corio_pg_pool *p, double timeout, corio_pg_conn **out) {
    if (!p || !out || isnan(timeout)) return -EINVAL;
    *out = NULL;
    if (p->closing) return -ESHUTDOWN;
    corio_timeout to;
    int rc = corio_timeout_enter(&to, timeout);
    if (rc < 0) return rc;
    rc = corio_semaphore_acquire(&p->units);
    if (rc == 0 && p->closing) {
        corio_semaphore_release(&p->units);
        rc = -ESHUTDOWN;
    }
    if (rc == 0) {
        corio_pg_conn *c = NULL;
        /* an idle connection the server dropped meanwhile (restart, killed
         * backend) shows as bad once its input is read: replace it */
        while (p->idle) {
            c = p->idle;
            p->idle = c->pool_next;
            p->nidle--;
            c->pool_next = NULL;
            if (idle_alive(c)) break;
            pool_discard(p, c);
            c = NULL;
        }
        if (!c) rc = pool_connect(p, &c);
        if (rc == 0) *out = c;
        else corio_semaphore_release(&p->units);
    }
    return corio_timeout_exit(&to, rc);
}

int corio_pg_pool_release(corio_pg_pool *p, corio_pg_conn *c) {
    if (!p || !c || c->pool != p) return -EINVAL;
    int ok = corio_pg_is_ok(c) && !c->busy;
    if (ok && c->mode == PG_STREAM) ok = corio_pg_stream_close(c) == 0;
    if (ok && c->mode == PG_PIPELINE) ok = 0; /* unread pipeline results: not worth saving */
    if (ok && !p->closing) {
        /* asyncpg's reset query; ROLLBACK first when a transaction is open */
        const char *reset = corio_pg_in_transaction(c)
                                ? "ROLLBACK; RESET ALL; UNLISTEN *; CLOSE ALL; SELECT pg_advisory_unlock_all()"
                                : "RESET ALL; UNLISTEN *; CLOSE ALL; SELECT pg_advisory_unlock_all()";
        c->tx_depth = 0;
        ok = corio_pg_execute(c, reset, NULL, 0) >= 0;
    }
    if (ok && !p->closing) {
        c->pool_next = p->idle;
        p->idle = c;
        p->nidle++;
    } else {
        pool_discard(p, c);
    }
    corio_semaphore_release(&p->units);
    return 0;
}

int corio_pg_pool_size(const corio_pg_pool *p) { return p ? p->nopen : -EINVAL; }
int corio_pg_pool_idle(const corio_pg_pool *p) { return p ? p->nidle : -EINVAL; }

int corio_pg_pool_close(corio_pg_pool *p) {
    if (!p) return -EINVAL;
    p->closing = 1;
    /* every unit back means every borrowed connection came back */
    int taken = 0, rc = 0;
    while (taken < p->opts.max_size) {
        if ((rc = corio_semaphore_acquire(&p->units)) < 0) break;
        taken++;
    }
    if (rc < 0) {
        while (taken-- > 0) corio_semaphore_release(&p->units);
        return rc;
    }
    while (p->idle) {
        corio_pg_conn *n = p->idle->pool_next;
        pool_discard(p, p->idle);
        p->idle = n;
    }
    while (taken-- > 0) corio_semaphore_release(&p->units);
    corio_semaphore_destroy(&p->units);
    free(p->dsn);
    free(p);
    return 0;
}
