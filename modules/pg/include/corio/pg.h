/*
 * corio/pg.h - a PostgreSQL client for corio tasks (asyncpg's shape over
 * libpq 15's non-blocking API).
 *
 *     corio_pg_conn *c;
 *     if (corio_pg_connect("postgresql://postgres@localhost/postgres", &c) < 0) ...
 *     corio_pg_result *r;
 *     int n = corio_pg_fetchrow(c, "SELECT id, name FROM users WHERE name = $1",
 *                               CORIO_PG_ARGS(corio_pg_text("Bob")), &r);
 *     int32_t id; const char *name;
 *     if (n == 1 && corio_pg_get_int32(r, 0, 0, &id) == 0 && corio_pg_get_text(r, 0, 1, &name, NULL) == 0) ...
 *     corio_pg_result_free(r);
 *     corio_pg_close(c);
 *
 * How libpq is driven.  libpq reads and writes the socket itself, so the
 * module waits for readiness with corio_wait_readable / corio_wait_writable
 * (both backends) and lets libpq do the I/O; the loop never blocks:
 *  - a host name is resolved with corio_resolve and handed to libpq as
 *    `hostaddr` (libpq would call a blocking getaddrinfo); the name stays
 *    `host`, for TLS verification and .pgpass;
 *  - the connection is made with PQconnectStartParams + PQconnectPoll,
 *    re-reading PQsocket after every poll (libpq opens a new socket when it
 *    tries the next address or falls back from TLS);
 *  - the connection is non-blocking (PQsetnonblocking); sends are flushed
 *    with PQflush, reading input (PQconsumeInput) whenever the socket is
 *    readable so that a server blocked writing its results never deadlocks
 *    with us writing a long pipeline;
 *  - a cancel request goes out on a short-lived thread of its own (libpq
 *    15's PQcancel blocks), and the task waits for it without blocking the
 *    loop.
 * TLS: libpq's own `sslmode` works unchanged (libpq runs OpenSSL over the
 * socket; the loop only waits for readiness).
 *
 * Formats.  Parameters are sent in BINARY for bool, integers, floats,
 * bytea, date, time, timestamp(tz), interval, uuid and arrays (no
 * formatting, no parsing on either side; an array's text elements need no
 * quoting in binary), in TEXT for numeric, text and json/jsonb (their
 * binary forms are no faster to make).  Every parameter carries its type OID, so
 * the server never guesses.  Results are requested in BINARY for every
 * column (asyncpg does the same): the getters decode them, and
 * corio_pg_get_str formats any value as PostgreSQL's text would.
 *
 * Every statement run through the extended protocol (execute with
 * parameters, fetch, streams, pipelines, executemany) is prepared once per
 * connection and cached (100 statements, least recently used evicted, as
 * asyncpg's statement_cache_size): the server parses and plans it once.
 * The first use costs one extra round trip, except in a pipeline, where
 * the prepare travels in the pipeline ahead of its query.  When the server
 * says a cached plan is stale (a table changed under it, or DEALLOCATE /
 * DISCARD ALL) the entry is dropped and, outside a transaction and a
 * pipeline, the call is retried once.
 *
 * Errors are negative: an errno (-ECANCELED, -ETIMEDOUT, -ECONNRESET when
 * the server went away, -ENOMEM, -EINVAL, -EBUSY when another task is
 * using the connection) or one of the CORIO_PG_E* categories below for an
 * error the server reported; corio_pg_last_error() then has its SQLSTATE,
 * message, detail and hint.  corio_pg_strerror() names every code.
 *
 * Cancellation.  Cancelling a task inside a query (or a corio_timeout
 * scope expiring around it) sends a cancel request to the server, waits
 * until the server has aborted the query and the connection is ready
 * again, and returns -ECANCELED (-ETIMEDOUT from the scope's exit); the
 * connection stays usable.  A second cancellation during that wait gives
 * up: the connection is closed and marked broken (-ECONNRESET afterwards).
 * So does a server that has not answered within 5 seconds (a network cut
 * sends no FIN and no RST, so nothing else would end the wait): the call
 * still returns -ECANCELED / -ETIMEDOUT, about 5 s after the cancel, and
 * corio_pg_last_error says why the connection was closed.
 *
 * Functions marked SUSPENDS must be called from a task.  A connection is
 * used by one task at a time (-EBUSY otherwise); use a pool to share.
 */
#ifndef CORIO_PG_H
#define CORIO_PG_H

#include <corio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_pg_conn corio_pg_conn;     /* a connection (opaque) */
typedef struct corio_pg_result corio_pg_result; /* rows of a query (opaque) */
typedef struct corio_pg_pool corio_pg_pool;     /* a connection pool (opaque) */

/* Categories of errors the server reported (never collide with an errno). */
enum {
    CORIO_PG_ESERVER = -12000,        /* any other server error: see corio_pg_last_error */
    CORIO_PG_ESYNTAX = -12001,        /* class 42: syntax error, undefined table/column, access rule */
    CORIO_PG_EUNIQUE = -12002,        /* 23505 unique_violation */
    CORIO_PG_EINTEGRITY = -12003,     /* other class 23: not null, foreign key, check */
    CORIO_PG_EDATA = -12004,          /* class 22: bad value, division by zero, out of range */
    CORIO_PG_ESERIALIZATION = -12005, /* 40001 serialization failure, 40P01 deadlock: retry */
    CORIO_PG_EAUTH = -12006,          /* class 28: authentication failed */
    CORIO_PG_ETXSTATE = -12007,       /* class 25: e.g. commands ignored in a failed transaction */
    CORIO_PG_EQUERYCANCELED = -12008, /* 57014 canceled by the server (statement_timeout, another client) */
    CORIO_PG_EABORTED = -12009,       /* a pipelined query skipped because an earlier one failed */
    CORIO_PG_ETYPE = -12010,          /* a getter asked a column of another type */
    CORIO_PG_ENULL = -12011,          /* a getter met a NULL value */
    CORIO_PG_ECONNECT = -12012,       /* the connection could not be made (message in the error) */
};

/* A message for any code this module returns (falls back to corio_strerror). */
CORIO_API const char *corio_pg_strerror(int err);

/* ---- Connecting ------------------------------------------------------------ */

/* Options of corio_pg_connect_opts (zero-initialise; zero = default). */
typedef struct corio_pg_connect_opts {
    double timeout; /* seconds for the whole connect, name lookup included; 0: the DSN's
                       connect_timeout, else 60 (asyncpg's default) */
    char *errbuf;   /* when not NULL, a failed connect writes a one-line reason here */
    size_t errcap;  /* size of errbuf */
} corio_pg_connect_opts;

/*
 * Connect to the server a libpq connection string names: "host=db
 * user=app dbname=app" or a URI "postgresql://app@db:5432/app?sslmode=require".
 * Host names are resolved by corio (never blocking the loop); a host
 * starting with '/' is a Unix socket directory.  On success *out is a
 * connection the caller owns (release with corio_pg_close).  Returns 0,
 * -ETIMEDOUT, -ECANCELED, CORIO_PG_ECONNECT (refused, unreachable,
 * rejected: the reason is in opts->errbuf), CORIO_PG_EAUTH, a CORIO_EAI_*
 * code when the name does not resolve, -EINVAL for a malformed string,
 * -ENOMEM.  *out is NULL on failure.  SUSPENDS.
 */
CORIO_API int corio_pg_connect(const char *dsn, corio_pg_conn **out);
CORIO_API int corio_pg_connect_ex(const char *dsn, const corio_pg_connect_opts *opts, corio_pg_conn **out);

/* Close the connection (sends Terminate; never waits) and free it, with its
 * cached statements.  NULL is accepted.  Does not suspend. */
CORIO_API void corio_pg_close(corio_pg_conn *c);

/* 1 when the connection is usable; 0 once the server went away or a cancel
 * failed (the connection is then only good for corio_pg_close). */
CORIO_API int corio_pg_is_ok(const corio_pg_conn *c);

/* The server's process id for this session (pg_backend_pid()), or -EINVAL. */
CORIO_API int corio_pg_backend_pid(const corio_pg_conn *c);

/* 1 inside a transaction block (also a failed one), 0 outside. */
CORIO_API int corio_pg_in_transaction(const corio_pg_conn *c);

/* The libpq connection, for what this API does not cover.  Borrowed; do not
 * make blocking libpq calls with it (they block the loop). */
CORIO_API struct pg_conn *corio_pg_libpq(corio_pg_conn *c);

/* ---- Errors ----------------------------------------------------------------- */

/* What the server (or libpq) said about the last failed call on a connection. */
typedef struct corio_pg_error {
    char sqlstate[6]; /* five characters and a NUL ("23505"); "" when not from the server */
    const char *message;  /* primary message, one line; never NULL ("" when none) */
    const char *detail;   /* DETAIL, or "" */
    const char *hint;     /* HINT, or "" */
} corio_pg_error;

/* The last error on c; valid until the next call on c.  Never NULL for a
 * non-NULL c (fields are "" when the last call succeeded). */
CORIO_API const corio_pg_error *corio_pg_last_error(const corio_pg_conn *c);

/* ---- Parameters ------------------------------------------------------------- */

/* PostgreSQL's type OIDs this module knows by name. */
enum {
    CORIO_PG_BOOL = 16, CORIO_PG_BYTEA = 17, CORIO_PG_CHAR = 18, CORIO_PG_NAME = 19, CORIO_PG_INT8 = 20,
    CORIO_PG_INT2 = 21, CORIO_PG_INT4 = 23, CORIO_PG_TEXT = 25, CORIO_PG_OID = 26,
    CORIO_PG_JSON = 114, CORIO_PG_FLOAT4 = 700, CORIO_PG_FLOAT8 = 701, CORIO_PG_UNKNOWN = 705,
    CORIO_PG_BPCHAR = 1042, CORIO_PG_VARCHAR = 1043, CORIO_PG_DATE = 1082, CORIO_PG_TIME = 1083,
    CORIO_PG_TIMESTAMP = 1114, CORIO_PG_TIMESTAMPTZ = 1184, CORIO_PG_NUMERIC = 1700,
    CORIO_PG_UUID = 2950, CORIO_PG_JSONB = 3802, CORIO_PG_INTERVAL = 1186,
    /* one-dimensional arrays of the types above (their elements' OIDs are the ones above) */
    CORIO_PG_BOOL_ARRAY = 1000, CORIO_PG_INT2_ARRAY = 1005, CORIO_PG_INT4_ARRAY = 1007,
    CORIO_PG_TEXT_ARRAY = 1009, CORIO_PG_INT8_ARRAY = 1016, CORIO_PG_FLOAT8_ARRAY = 1022,
};

/* A calendar date (proleptic Gregorian, as PostgreSQL's). */
typedef struct corio_pg_date {
    int year;  /* 1984; years BC are 0, -1, ... (1 BC is 0) */
    int month; /* 1..12 */
    int day;   /* 1..31 */
} corio_pg_date;

/*
 * An interval as PostgreSQL keeps it: three parts that do not convert into
 * one another (a month has no fixed number of days, a day no fixed number
 * of microseconds across a daylight-saving change), each with its own
 * sign.  '1 year 2 mons 3 days 04:05:06.5' is {14, 3, 14706500000}.
 * (asyncpg folds months into 30 days and years into 365 for a timedelta;
 * corio keeps the three parts.)
 */
typedef struct corio_pg_interval {
    int32_t months; /* years * 12 + months */
    int32_t days;
    int64_t us;     /* microseconds: hours, minutes, seconds */
} corio_pg_interval;

/*
 * One query parameter.  Make it with the constructors below (never fill it
 * by hand): corio_pg_int4(42), corio_pg_text("Bob"), corio_pg_null(), ...
 * Pointers (text, bytea) are borrowed until the call that uses the
 * parameter returns.
 */
typedef struct corio_pg_param {
    uint32_t oid;     /* the type sent to the server */
    int is_null;      /* 1: SQL NULL */
    int format;       /* 0 text, 1 binary (private) */
    int len;          /* bytes at ptr (binary) or -1 for a NUL-terminated text */
    const void *ptr;  /* text or bytea; NULL when the value is inline */
    union {
        int64_t i;
        double f;
        corio_pg_date d;
        unsigned char uuid[16];
        corio_pg_interval iv;
        const bool *nulls; /* arrays: NULL elements (NULL pointer: none) */
    } v;              /* inline values */
} corio_pg_param;

/* Timestamps and times are microseconds: since 1970-01-01 00:00:00 (UTC for
 * timestamptz, "local" for timestamp), and since midnight for time. */
static inline corio_pg_param corio_pg_null(void) { corio_pg_param p = {0}; p.oid = 0; p.is_null = 1; p.len = -1; return p; }
static inline corio_pg_param corio_pg_bool(bool b) { corio_pg_param p = {0}; p.oid = CORIO_PG_BOOL; p.format = 1; p.len = 1; p.v.i = b; return p; }
static inline corio_pg_param corio_pg_int2(int16_t x) { corio_pg_param p = {0}; p.oid = CORIO_PG_INT2; p.format = 1; p.len = 2; p.v.i = x; return p; }
static inline corio_pg_param corio_pg_int4(int32_t x) { corio_pg_param p = {0}; p.oid = CORIO_PG_INT4; p.format = 1; p.len = 4; p.v.i = x; return p; }
static inline corio_pg_param corio_pg_int8(int64_t x) { corio_pg_param p = {0}; p.oid = CORIO_PG_INT8; p.format = 1; p.len = 8; p.v.i = x; return p; }
static inline corio_pg_param corio_pg_float4(float x) { corio_pg_param p = {0}; p.oid = CORIO_PG_FLOAT4; p.format = 1; p.len = 4; p.v.f = x; return p; }
static inline corio_pg_param corio_pg_float8(double x) { corio_pg_param p = {0}; p.oid = CORIO_PG_FLOAT8; p.format = 1; p.len = 8; p.v.f = x; return p; }
/* numeric as its text ("12.50", "-1e-30", "NaN"); NULL pointer = SQL NULL */
static inline corio_pg_param corio_pg_numeric(const char *s) { corio_pg_param p = {0}; p.oid = CORIO_PG_NUMERIC; p.len = -1; p.ptr = s; p.is_null = !s; return p; }
/* text (also fine for varchar / char columns); NULL pointer = SQL NULL */
static inline corio_pg_param corio_pg_text(const char *s) { corio_pg_param p = {0}; p.oid = CORIO_PG_TEXT; p.len = -1; p.ptr = s; p.is_null = !s; return p; }
static inline corio_pg_param corio_pg_json(const char *s) { corio_pg_param p = {0}; p.oid = CORIO_PG_JSON; p.len = -1; p.ptr = s; p.is_null = !s; return p; }
static inline corio_pg_param corio_pg_jsonb(const char *s) { corio_pg_param p = {0}; p.oid = CORIO_PG_JSONB; p.len = -1; p.ptr = s; p.is_null = !s; return p; }
/* bytea: len bytes at data (any bytes, NULs included); NULL data = SQL NULL */
static inline corio_pg_param corio_pg_bytea(const void *data, size_t len) { corio_pg_param p = {0}; p.oid = CORIO_PG_BYTEA; p.format = 1; p.len = (int)len; p.ptr = data; p.is_null = !data; return p; }
static inline corio_pg_param corio_pg_date_ymd(int y, int m, int d) { corio_pg_param p = {0}; p.oid = CORIO_PG_DATE; p.format = 1; p.len = 4; p.v.d.year = y; p.v.d.month = m; p.v.d.day = d; return p; }
static inline corio_pg_param corio_pg_time_us(int64_t us) { corio_pg_param p = {0}; p.oid = CORIO_PG_TIME; p.format = 1; p.len = 8; p.v.i = us; return p; }
static inline corio_pg_param corio_pg_timestamp_us(int64_t us) { corio_pg_param p = {0}; p.oid = CORIO_PG_TIMESTAMP; p.format = 1; p.len = 8; p.v.i = us; return p; }
static inline corio_pg_param corio_pg_timestamptz_us(int64_t us) { corio_pg_param p = {0}; p.oid = CORIO_PG_TIMESTAMPTZ; p.format = 1; p.len = 8; p.v.i = us; return p; }
static inline corio_pg_param corio_pg_uuid(const unsigned char u[16]) { corio_pg_param p = {0}; p.oid = CORIO_PG_UUID; p.format = 1; p.len = 16; for (int i = 0; i < 16; i++) p.v.uuid[i] = u[i]; return p; }
static inline corio_pg_param corio_pg_interval_of(int32_t months, int32_t days, int64_t us) { corio_pg_param p = {0}; p.oid = CORIO_PG_INTERVAL; p.format = 1; p.len = 16; p.v.iv.months = months; p.v.iv.days = days; p.v.iv.us = us; return p; }

/*
 * One-dimensional arrays (asyncpg: a list for `$1::int[]` or `= ANY($1)`):
 * n elements at v, sent in binary.  nulls, when not NULL, has n flags:
 * true makes that element NULL (its value in v is not read).  Text
 * elements are C strings, a NULL pointer being a NULL element.  The
 * caller's arrays are borrowed until the call that uses the parameter
 * returns (they are encoded when it sends).  A NULL v is an SQL NULL array
 * (as for text and bytea): for an empty array pass any non-NULL pointer
 * with n = 0.  corio_pg_int4_array(ids, 3, NULL) for
 * "SELECT * FROM t WHERE id = ANY($1)".  (C converts a `const char **`
 * to the text constructor's `const char *const *` silently, but a
 * `char **` only with a cast.)  Other element types: pass the array's
 * text with corio_pg_text and cast it in SQL ($1::numeric[]).
 */
static inline corio_pg_param corio_pg__array(uint32_t oid, const void *v, size_t n, const bool *nulls) { corio_pg_param p = {0}; p.oid = oid; p.format = 1; p.len = n > 0x7fffffff ? -2 : (int)n; p.ptr = v; p.is_null = !v; p.v.nulls = nulls; return p; }
static inline corio_pg_param corio_pg_bool_array(const bool *v, size_t n, const bool *nulls) { return corio_pg__array(CORIO_PG_BOOL_ARRAY, v, n, nulls); }
static inline corio_pg_param corio_pg_int2_array(const int16_t *v, size_t n, const bool *nulls) { return corio_pg__array(CORIO_PG_INT2_ARRAY, v, n, nulls); }
static inline corio_pg_param corio_pg_int4_array(const int32_t *v, size_t n, const bool *nulls) { return corio_pg__array(CORIO_PG_INT4_ARRAY, v, n, nulls); }
static inline corio_pg_param corio_pg_int8_array(const int64_t *v, size_t n, const bool *nulls) { return corio_pg__array(CORIO_PG_INT8_ARRAY, v, n, nulls); }
static inline corio_pg_param corio_pg_float8_array(const double *v, size_t n, const bool *nulls) { return corio_pg__array(CORIO_PG_FLOAT8_ARRAY, v, n, nulls); }
static inline corio_pg_param corio_pg_text_array(const char *const *v, size_t n) { return corio_pg__array(CORIO_PG_TEXT_ARRAY, v, n, NULL); }

/*
 * CORIO_PG_ARGS(a, b, ...) expands to "array, count" for the (params,
 * nparams) pair every query takes:
 *     corio_pg_execute(c, "INSERT INTO t VALUES ($1, $2)", CORIO_PG_ARGS(corio_pg_int4(1), corio_pg_text("x")));
 * Without parameters pass NULL, 0.
 */
#define CORIO_PG_ARGS(...) \
    ((const corio_pg_param[]){__VA_ARGS__}), \
    (int)(sizeof((const corio_pg_param[]){__VA_ARGS__}) / sizeof(corio_pg_param))

/* ---- Queries ---------------------------------------------------------------- */

/*
 * Run a command, discarding rows (asyncpg execute).  With no parameters the
 * simple protocol is used, so `sql` may hold several statements separated
 * by ';'.  Returns the number of rows the (last) command affected (0 when
 * it reports none), or a negative error.  corio_pg_command_status() then
 * says what the server said ("INSERT 0 1").  SUSPENDS.
 */
CORIO_API int corio_pg_execute(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams);

/* The command tag of the last successful command on c ("CREATE TABLE",
 * "INSERT 0 1", "SELECT 3"); valid until the next call on c. */
CORIO_API const char *corio_pg_command_status(const corio_pg_conn *c);

/*
 * Run a query and keep all its rows (asyncpg fetch).  *out receives a
 * result the caller frees with corio_pg_result_free (also when it has no
 * row).  Returns the number of rows, or a negative error (*out NULL).
 * SUSPENDS.
 *
 * Memory: once a statement's result took 64 KiB or more, the next fetches
 * of that statement on this connection read it row by row (libpq's
 * single-row mode) into buffers of corio-pg that the connection keeps for
 * its next big result (up to 4 MiB per connection), instead of one big
 * PGresult freed at once (glibc would give that memory back to the kernel
 * and fault it in again on the next query).  A result may outlive its
 * connection, and may be freed on another thread.
 */
CORIO_API int corio_pg_fetch(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                   corio_pg_result **out);

/* The first row only (asyncpg fetchrow): returns 1 and a result of one row
 * in *out, 0 and *out NULL when the query gave no row, or a negative error.
 * SUSPENDS. */
CORIO_API int corio_pg_fetchrow(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                      corio_pg_result **out);

/*
 * The first column of the first row (asyncpg fetchval), typed.  Return 0,
 * CORIO_PG_ENULL when there is no row or the value is NULL, CORIO_PG_ETYPE
 * when the column's type does not fit, or the query's error.  _text stores
 * a malloc'd NUL-terminated copy the caller frees (any type, formatted as
 * corio_pg_get_str does).  SUSPEND.
 */
CORIO_API int corio_pg_fetchval_int64(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                            int64_t *out);
CORIO_API int corio_pg_fetchval_double(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                             double *out);
CORIO_API int corio_pg_fetchval_text(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams,
                           char **out);

/* ---- Reading results ---------------------------------------------------------- */

CORIO_API void corio_pg_result_free(corio_pg_result *r); /* NULL accepted */
CORIO_API int corio_pg_nrows(const corio_pg_result *r);  /* rows, or -EINVAL */
CORIO_API int corio_pg_ncols(const corio_pg_result *r);  /* columns, or -EINVAL */
/* A column's name ("" for a bad index) and type OID (0 for a bad index). */
CORIO_API const char *corio_pg_colname(const corio_pg_result *r, int col);
CORIO_API uint32_t corio_pg_coltype(const corio_pg_result *r, int col);
/* The index of the column called `name`, or -ENOENT. */
CORIO_API int corio_pg_col(const corio_pg_result *r, const char *name);
/* 1 when the value is NULL, 0 when not, -EINVAL for a bad row or column. */
CORIO_API int corio_pg_is_null(const corio_pg_result *r, int row, int col);

/*
 * Typed getters.  Each returns 0 and stores the value; CORIO_PG_ENULL for a
 * NULL value (nothing stored); CORIO_PG_ETYPE when the column's type is not
 * one the getter reads (the message names both types: see
 * corio_pg_result_error); -EINVAL for a bad row or column.  Widening is
 * allowed (int2 -> int32 -> int64, float4 -> double), narrowing never.
 * Pointers stored (text, bytea) point into the result and live as long as it.
 *   bool: bool.  int32: int2, int4.  int64: int2, int4, int8, oid.
 *   double: float4, float8, numeric (through its text).  text: text,
 *   varchar, bpchar, name, "char", json, jsonb, unknown (len may be NULL).  bytea: bytea.  date: date.
 *   time_us: time.  timestamp_us: timestamp, timestamptz.  uuid: uuid.
 *   interval: interval.  Arrays: corio_pg_get_array below.
 * Infinite dates and timestamps come back as INT32/INT64 max and min.
 */
CORIO_API int corio_pg_get_bool(const corio_pg_result *r, int row, int col, bool *out);
CORIO_API int corio_pg_get_int32(const corio_pg_result *r, int row, int col, int32_t *out);
CORIO_API int corio_pg_get_int64(const corio_pg_result *r, int row, int col, int64_t *out);
CORIO_API int corio_pg_get_double(const corio_pg_result *r, int row, int col, double *out);
CORIO_API int corio_pg_get_text(const corio_pg_result *r, int row, int col, const char **out, size_t *len);
CORIO_API int corio_pg_get_bytea(const corio_pg_result *r, int row, int col, const void **out, size_t *len);
CORIO_API int corio_pg_get_date(const corio_pg_result *r, int row, int col, corio_pg_date *out);
CORIO_API int corio_pg_get_time_us(const corio_pg_result *r, int row, int col, int64_t *out);
CORIO_API int corio_pg_get_timestamp_us(const corio_pg_result *r, int row, int col, int64_t *out);
CORIO_API int corio_pg_get_uuid(const corio_pg_result *r, int row, int col, unsigned char out[16]);

/* An interval's three parts (see corio_pg_interval). */
CORIO_API int corio_pg_get_interval(const corio_pg_result *r, int row, int col, corio_pg_interval *out);

/*
 * Arrays (asyncpg gives a list): open the value, then walk its elements.
 *     corio_pg_array a;
 *     if (corio_pg_get_array(r, 0, 0, &a) == 0)
 *         while (corio_pg_array_next(&a) == 1) {
 *             int64_t v;
 *             if (corio_pg_array_int64(&a, &v) == 0) ...;  // CORIO_PG_ENULL for a NULL element
 *         }
 * corio_pg_get_array reads a column of any array type this module names
 * (bool, int2, int4, int8, oid, float4, float8, numeric, text, varchar,
 * bpchar, name, "char", json, jsonb, bytea, date, time, timestamp(tz),
 * interval, uuid); it checks the whole value once (every element's length
 * within the value), so walking it never reads out of bounds.  Returns 0,
 * CORIO_PG_ENULL (the array itself is NULL), CORIO_PG_ETYPE (not an array
 * column of those), -EDOM for an array of more than one dimension (read it
 * with unnest(), or ::text), -EPROTO for a malformed value, -EINVAL.  The
 * array's lower bound ('[0:2]={...}') is not kept, as asyncpg's list.
 * The view points into the result and lives as long as it; nothing is
 * allocated.
 */
typedef struct corio_pg_array {
    uint32_t elem_type; /* read-only: the elements' type OID (CORIO_PG_INT4, ...) */
    int n;              /* read-only: the number of elements (0: empty) */
    int index;          /* read-only: the element next() moved to, -1 before the first */
    /* private: the cursor */
    const char *next_, *end_, *cur_;
    int curlen_;        /* the current element's length, -1 for NULL */
    const corio_pg_result *r_;
    int col_;
} corio_pg_array;

CORIO_API int corio_pg_get_array(const corio_pg_result *r, int row, int col, corio_pg_array *out);
/* Move to the next element: 1, or 0 after the last one. */
CORIO_API int corio_pg_array_next(corio_pg_array *a);
/*
 * The current element: 1 when NULL, 0 when not, -EINVAL before the first
 * next() or after the end.  The typed readers follow the getters' rules
 * (the same widening, CORIO_PG_ENULL for a NULL element, CORIO_PG_ETYPE
 * for another element type, -EPROTO for a malformed element; the reason
 * goes to corio_pg_result_error).  _text gives a pointer into the result
 * and the length: the element is NOT NUL-terminated (the next element's
 * header follows it), print it with "%.*s".  _str formats any element as
 * corio_pg_get_str does.
 */
CORIO_API int corio_pg_array_is_null(const corio_pg_array *a);
CORIO_API int corio_pg_array_bool(const corio_pg_array *a, bool *out);
CORIO_API int corio_pg_array_int32(const corio_pg_array *a, int32_t *out);
CORIO_API int corio_pg_array_int64(const corio_pg_array *a, int64_t *out);
CORIO_API int corio_pg_array_double(const corio_pg_array *a, double *out);
CORIO_API int corio_pg_array_text(const corio_pg_array *a, const char **out, size_t *len);
CORIO_API int corio_pg_array_interval(const corio_pg_array *a, corio_pg_interval *out);
CORIO_API int corio_pg_array_str(const corio_pg_array *a, char *buf, size_t cap);

/*
 * Any value as PostgreSQL's text form ("1984-03-01", "t", "12.50",
 * "\\x0001", uuid with dashes, "1 year 2 mons 3 days 04:05:06.5" as the
 * default IntervalStyle, '{1,NULL,"a b"}' for a one-dimensional array of
 * the types above, quoted as array_out quotes), for printing: writes at
 * most cap bytes including the NUL and returns the full length (like
 * snprintf), or CORIO_PG_ENULL, -EINVAL, -EDOM for a multi-dimensional
 * array, CORIO_PG_ETYPE for a type it cannot format (ranges, composite
 * types: select them ::text).
 */
CORIO_API int corio_pg_get_str(const corio_pg_result *r, int row, int col, char *buf, size_t cap);

/* Why the last getter call on r failed (names the column and both types), or "". */
CORIO_API const char *corio_pg_result_error(const corio_pg_result *r);

/* ---- Streaming large results -------------------------------------------------- */

/*
 * Stream a query's rows one at a time (libpq's single-row mode), so that a
 * result of any size runs in flat memory:
 *     corio_pg_stream(c, "SELECT ...", NULL, 0);
 *     corio_pg_result *row;
 *     while ((rc = corio_pg_stream_next(c, &row)) == 1) { ...; corio_pg_result_free(row); }
 * stream starts the query (0 or a negative error); next gives 1 and a
 * one-row result, 0 at the end (the stream is over), or a negative error
 * (the stream is over too).  The connection is busy until next returned 0
 * or an error; corio_pg_stream_close() abandons a stream early (cancelling
 * the query).  All SUSPEND.  Server-side cursors (DECLARE / FETCH inside a
 * transaction) work through execute and fetch as well.
 */
CORIO_API int corio_pg_stream(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams);
CORIO_API int corio_pg_stream_next(corio_pg_conn *c, corio_pg_result **row);
CORIO_API int corio_pg_stream_close(corio_pg_conn *c);

/* ---- Prepared statements ------------------------------------------------------- */

typedef struct corio_pg_stmt corio_pg_stmt; /* a named prepared statement (opaque) */

/*
 * Prepare `sql` with parameter types `types` (OIDs; NULL or 0 entries let
 * the server infer them) under a name of the connection's.  *out is owned
 * by the caller: corio_pg_stmt_close() deallocates and frees it (the
 * connection frees what is left when it closes).  Queries run through a
 * statement use its types: pass parameters of those types.  0 or a
 * negative error.  SUSPENDS.
 */
CORIO_API int corio_pg_prepare(corio_pg_conn *c, const char *sql, const uint32_t *types, int ntypes, corio_pg_stmt **out);
/* Number of parameters and their types as the server resolved them. */
CORIO_API int corio_pg_stmt_nparams(const corio_pg_stmt *s);
CORIO_API uint32_t corio_pg_stmt_param_type(const corio_pg_stmt *s, int i);
/* Run a prepared statement: as corio_pg_execute / corio_pg_fetch.  SUSPEND. */
CORIO_API int corio_pg_stmt_execute(corio_pg_stmt *s, const corio_pg_param *params, int nparams);
CORIO_API int corio_pg_stmt_fetch(corio_pg_stmt *s, const corio_pg_param *params, int nparams, corio_pg_result **out);
/* DEALLOCATE it (when the connection is usable) and free it.  SUSPENDS. */
CORIO_API int corio_pg_stmt_close(corio_pg_stmt *s);

/* ---- Transactions -------------------------------------------------------------- */

enum corio_pg_isolation {
    CORIO_PG_DEFAULT = 0,        /* the server's default (read committed) */
    CORIO_PG_READ_COMMITTED = 1,
    CORIO_PG_REPEATABLE_READ = 2,
    CORIO_PG_SERIALIZABLE = 3,
};

/*
 * Start a transaction (BEGIN ISOLATION LEVEL ...), or inside one a
 * savepoint, so that transactions nest (asyncpg's transaction()).  commit
 * ends the innermost level (COMMIT or RELEASE SAVEPOINT), rollback undoes
 * it (ROLLBACK or ROLLBACK TO SAVEPOINT).  The isolation level applies to
 * the outermost level only.  0 or a negative error.  SUSPEND.
 */
CORIO_API int corio_pg_begin(corio_pg_conn *c, enum corio_pg_isolation iso);
CORIO_API int corio_pg_commit(corio_pg_conn *c);
CORIO_API int corio_pg_rollback(corio_pg_conn *c);

/*
 * async with conn.transaction(): begin, run body(c, arg), commit when it
 * returned >= 0, roll back when it failed (< 0) or was cancelled.  Returns
 * body's result, or the error of begin/commit.  A cancellation that arrives
 * during the body still rolls back before this returns -ECANCELED.
 * SUSPENDS.
 */
CORIO_API int corio_pg_transaction(corio_pg_conn *c, enum corio_pg_isolation iso, int (*body)(corio_pg_conn *c, void *arg),
                         void *arg);

/* ---- Pipelining (batches) ---------------------------------------------------------- */

/*
 * Send many queries before reading any answer (libpq pipeline mode): one
 * round trip for the batch instead of one per query.
 *     corio_pg_pipeline_begin(c);
 *     for (...) corio_pg_pipeline_send(c, sql, params, n);   // queued, not waited for
 *     corio_pg_pipeline_sync(c);                              // end of the batch
 *     for (...) rc = corio_pg_pipeline_next(c, &res);        // each query's outcome, in order
 *     corio_pg_pipeline_end(c);
 * send queues a query (SUSPENDS only while the socket is full; it keeps
 * reading answers meanwhile, so a long batch cannot deadlock).  sync marks
 * the end of a batch: when a query fails, the ones after it up to the sync
 * return CORIO_PG_EABORTED and nothing after the sync is affected.  next
 * returns the next query's row count (>= 0; *out, when not NULL, gets
 * its rows, which the caller frees) or that query's error; syncs are
 * consumed silently; -ENOMSG when every query sent has been answered.  end leaves pipeline mode (every result must
 * have been read: else -EBUSY).  0 or negative errors otherwise.
 */
CORIO_API int corio_pg_pipeline_begin(corio_pg_conn *c);
CORIO_API int corio_pg_pipeline_send(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams);
CORIO_API int corio_pg_pipeline_sync(corio_pg_conn *c);
CORIO_API int corio_pg_pipeline_next(corio_pg_conn *c, corio_pg_result **out);
CORIO_API int corio_pg_pipeline_end(corio_pg_conn *c);

/*
 * asyncpg executemany: run `sql` once per row of parameters (nrows rows of
 * nparams each, row-major in params), pipelined, in one implicit
 * transaction: all rows or none.  Returns the total rows affected or the
 * first error.  SUSPENDS.
 */
CORIO_API int corio_pg_executemany(corio_pg_conn *c, const char *sql, const corio_pg_param *params, int nparams, int nrows);

/* ---- COPY ---------------------------------------------------------------------- */

/*
 * COPY ... FROM STDIN: send `len` bytes of COPY data (text or csv, as the
 * statement says) from memory.  Returns the rows copied or a negative
 * error.  SUSPENDS.
 */
CORIO_API int64_t corio_pg_copy_from(corio_pg_conn *c, const char *sql, const void *data, size_t len);

/* COPY FROM with the data from read(arg, buf, cap), called until it returns
 * 0 (end) or a negative error (the COPY is then aborted and that error
 * returned).  read may suspend.  Returns the rows copied.  SUSPENDS. */
CORIO_API int64_t corio_pg_copy_from_cb(corio_pg_conn *c, const char *sql,
                              long (*read)(void *arg, char *buf, size_t cap), void *arg);

/* COPY ... TO STDOUT: write(arg, data, len) gets each chunk (one row in
 * text/csv formats); a negative return stops the COPY (the connection is
 * reset with a cancel) and is returned.  write may suspend.  Returns the
 * rows copied.  SUSPENDS. */
CORIO_API int64_t corio_pg_copy_to(corio_pg_conn *c, const char *sql, int (*write)(void *arg, const char *data, size_t len),
                         void *arg);

/* ---- LISTEN / NOTIFY ------------------------------------------------------------ */

/* A notification (LISTEN/NOTIFY).  Free with corio_pg_notify_free. */
typedef struct corio_pg_notify {
    char *channel;   /* the channel NOTIFY named */
    char *payload;   /* its payload ("" when none) */
    int pid;         /* the server process that sent it */
} corio_pg_notify;

/*
 * Wait up to `timeout` seconds (INFINITY: no limit) for a notification on
 * a channel this connection LISTENs to (run "LISTEN chan" with execute
 * first).  Notifications that arrived during earlier queries are returned
 * first.  0 and *out (caller frees with corio_pg_notify_free), -ETIMEDOUT,
 * -ECANCELED, -ECONNRESET.  SUSPENDS.
 */
CORIO_API int corio_pg_wait_notify(corio_pg_conn *c, double timeout, corio_pg_notify **out);
CORIO_API void corio_pg_notify_free(corio_pg_notify *n);

/* ---- Pool ---------------------------------------------------------------------- */

/* Options of corio_pg_pool_new (zero = default). */
typedef struct corio_pg_pool_opts {
    int min_size;          /* connections opened at start and kept; default 1 (asyncpg: 10) */
    int max_size;          /* most connections at once; default 10 */
    double connect_timeout; /* per connection, as corio_pg_connect_opts.timeout */
} corio_pg_pool_opts;

/*
 * A pool of connections to dsn.  Opens min_size connections first
 * (SUSPENDS); fails with their error.  *out is owned by the caller:
 * corio_pg_pool_close.  Must be used from one loop.
 */
CORIO_API int corio_pg_pool_new(const char *dsn, const corio_pg_pool_opts *opts, corio_pg_pool **out);

/*
 * Borrow a connection, waiting up to `timeout` seconds (INFINITY: no limit)
 * while max_size are out.  An idle connection that went bad is replaced by
 * a new one.  0 and *out; -ETIMEDOUT; -ECANCELED; -ESHUTDOWN when the pool
 * is closing; a connect error.  SUSPENDS.
 */
CORIO_API int corio_pg_pool_acquire(corio_pg_pool *p, double timeout, corio_pg_conn **out);

/*
 * Give a connection back.  An open transaction is rolled back and session
 * state reset (RESET ALL, UNLISTEN *, CLOSE ALL, advisory locks released,
 * as asyncpg); a broken connection, or one whose reset fails, is closed
 * and a later acquire opens a new one.  0 or -EINVAL (not from this pool).
 * SUSPENDS (the reset), but always takes the connection back.
 */
CORIO_API int corio_pg_pool_release(corio_pg_pool *p, corio_pg_conn *c);

/* Connections open now (idle + borrowed), and idle ones. */
CORIO_API int corio_pg_pool_size(const corio_pg_pool *p);
CORIO_API int corio_pg_pool_idle(const corio_pg_pool *p);

/*
 * Close the pool: new acquires fail with -ESHUTDOWN, waits for every
 * borrowed connection to come back, closes them all and frees the pool.
 * 0, or -ECANCELED when cancelled while waiting (the pool is then closed
 * for acquires but not freed: call again).  SUSPENDS.
 */
CORIO_API int corio_pg_pool_close(corio_pg_pool *p);

#ifdef __cplusplus
}
#endif
#endif
