/*
 * pg_internal.h - what the files of corio-pg share (not installed).
 */
#ifndef CORIO_PG_INTERNAL_H
#define CORIO_PG_INTERNAL_H

#include "corio/pg.h"

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stddef.h>

/* An entry of the per-connection statement cache, kept in LRU order. */
typedef struct pg_cached {
    struct pg_cached *prev, *next; /* the connection's LRU list, most recent first */
    uint64_t hash;                 /* of sql and the parameter types */
    char *sql;                     /* the statement's text */
    uint32_t *oids;                /* its parameter types */
    int n;                         /* how many */
    unsigned seq;                  /* N */
    int big;                       /* its last result was big: fetch it row by row
                                      into the connection's own buffers (pg_rows) */
    char name[24];                 /* the server-side name ("corio_c<N>") */
} pg_cached;

/* A result fetched row by row (single-row mode) and copied into memory of
 * corio-pg's own, which the connection reuses from one result to the next.
 * Why: a big PGresult is many 2 KB mallocs freed all at once by PQclear;
 * with glibc's default heap the freed top of the heap is given back to the
 * kernel (trimmed) and the next result faults every page in again, a cost
 * that was larger than all the rest of the query on this VM.  Rows that go
 * through single-row mode are small PGresults freed one by one, whose chunks
 * the next row takes again; the copy lives in buffers that stay allocated. */
typedef struct pg_cell {
    size_t off; /* into data */
    int len;    /* -1: NULL */
} pg_cell;

typedef struct pg_rows {
    pg_cell *cells;      /* nrows * ncols, row by row */
    size_t ncells, cellcap;
    int nrows;
    char *data;          /* the values, back to back (each followed by a 0) */
    size_t len, cap;
} pg_rows;

/* Where a result's pg_rows go back to: shared by the connection and its
 * results, freed by whichever lets go last (a result may outlive its
 * connection, and may be freed on another thread). */
typedef struct pg_home {
    atomic_int refs;
    _Atomic(pg_rows *) spare; /* buffers kept for the next big result, or NULL */
} pg_home;

/* The most a connection keeps for the next big result (cells and data);
 * a result that needed more gives its buffers back to malloc. */
#define PG_SPARE_MAX ((size_t)4 << 20)
/* A result whose PGresult took at least this many bytes (PQresultMemorySize)
 * makes its statement use pg_rows next time; one under half of it goes back
 * to a plain PGresult.  glibc keeps 128 KiB free at the top of its heap
 * when it trims: results under this size do not make it trim. */
#define PG_BIG_RESULT ((size_t)64 << 10)

/* Free a pg_rows and its buffers (NULL: nothing). */
void pg__rows_free(pg_rows *rows);
/* Give a pg_rows back to its home (or free it), and let go of the home. */
void pg__rows_release(pg_home *h, pg_rows *rows);
void pg__home_unref(pg_home *h);

/* What the connection is in the middle of, between calls. */
enum { PG_IDLE = 0, PG_STREAM = 1, PG_PIPELINE = 2 };

/* Entries of the pipeline's ring. */
#define PL_QUERY 0u
#define PL_PREP 0x80000000u

struct corio_pg_stmt {
    corio_pg_conn *conn;              /* the connection it lives on (NULL once it closed) */
    struct corio_pg_stmt *prev, *next; /* the connection's list of open statements */
    char name[24];                    /* server-side name ("corio_p<N>") */
    int nparams;                      /* parameters as the server resolved them */
    uint32_t *types;                  /* their types */
};

struct corio_pg_conn {
    PGconn *pg;                /* libpq's connection */
    int fd;                    /* PQsocket as last read */
    int tls;                   /* 1: over TLS, OpenSSL reading ahead (see wait_input) */
    int broken;                /* 1 once the server went away or a cancel failed */
    int busy;                  /* 1 while a task is inside a call on it */
    int mode;                  /* PG_IDLE, PG_STREAM or PG_PIPELINE */
    int pl_pending;            /* pipeline: queries sent whose results were not read */
    int pl_syncs;              /* pipeline: syncs sent whose marker was not read */
    int pl_unflushed;          /* pipeline: queries queued since the last flush */
    int pl_unsynced;           /* pipeline: queries sent since the last sync or flush request */
    uint32_t *pl_ring;         /* pipeline: what each awaited result answers, in order:
                                  PL_QUERY, or PL_PREP | the cached statement's number */
    unsigned pl_head, pl_tail, pl_cap; /* ring indexes (free running) and size (a power of 2) */
    int pl_prep_err;           /* pipeline: the error of a failed prepare, for its query */
    int tx_depth;              /* begin() nesting: 1 = the transaction, more = savepoints */
    unsigned stmt_seq;         /* names of prepared statements */
    pg_cached lru;             /* sentinel of the statement cache */
    int ncached;               /* entries in it */
    struct corio_pg_stmt stmts; /* sentinel of the user's prepared statements */
    char status[64];           /* command tag of the last command */
    corio_pg_error err;        /* the last error (fields point into the three below) */
    char *err_msg, *err_detail, *err_hint;
    pg_home *home;             /* buffers for big results (pg_rows), or NULL until one came */
    pg_rows *collect;          /* single-row mode into these, for the query running now */
    unsigned fetch_seq;        /* the cached statement the last fetch ran */
    corio_pg_pool *pool;       /* the pool it belongs to, or NULL */
    struct corio_pg_conn *pool_next; /* the pool's idle list */
};

struct corio_pg_result {
    PGresult *res;  /* libpq's result, binary columns (with rows: no zero rows, the
                       columns' names and types only) */
    pg_rows *rows;  /* the rows, when they were fetched into pg_rows; else NULL */
    pg_home *home;  /* where rows go back to */
    int nrows, ncols;
    char err[200];  /* why the last getter failed */
    uint32_t types[]; /* the columns' types (ncols), read once: every getter checks one */
};

static inline int pg__isnull(const corio_pg_result *r, int row, int col) {
    if (r->rows) return r->rows->cells[(size_t)row * (size_t)r->ncols + (size_t)col].len < 0;
    return PQgetisnull(r->res, row, col);
}

/* The cell's value and length, or NULL for an SQL NULL (row and col checked
 * by the caller).  In a PGresult a NULL has length 0: PQgetisnull is asked
 * only then, one libpq call fewer for every other value. */
static inline const char *pg__cell(const corio_pg_result *r, int row, int col, int *len) {
    if (r->rows) {
        const pg_cell *c = &r->rows->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
        *len = c->len;
        return c->len < 0 ? NULL : r->rows->data + c->off;
    }
    *len = PQgetlength(r->res, row, col);
    if (*len == 0 && PQgetisnull(r->res, row, col)) return NULL;
    return PQgetvalue(r->res, row, col);
}

#endif
