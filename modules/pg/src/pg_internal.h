/*
 * pg_internal.h - what the files of corio-pg share (not installed).
 */
#ifndef CORIO_PG_INTERNAL_H
#define CORIO_PG_INTERNAL_H

#include "corio/pg.h"

#include <libpq-fe.h>

/* An entry of the per-connection statement cache, kept in LRU order. */
typedef struct pg_cached {
    struct pg_cached *prev, *next; /* the connection's LRU list, most recent first */
    uint64_t hash;                 /* of sql and the parameter types */
    char *sql;                     /* the statement's text */
    uint32_t *oids;                /* its parameter types */
    int n;                         /* how many */
    unsigned seq;                  /* N */
    char name[24];                 /* the server-side name ("corio_c<N>") */
} pg_cached;

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
    corio_pg_pool *pool;       /* the pool it belongs to, or NULL */
    struct corio_pg_conn *pool_next; /* the pool's idle list */
};

struct corio_pg_result {
    PGresult *res;  /* libpq's result, binary columns */
    char err[200];  /* why the last getter failed */
};

#endif
