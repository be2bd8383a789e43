/*
 * values.c - parameters to PostgreSQL's binary forms and results back:
 * the typed getters and the text formatting of corio_pg_get_str.
 *
 * The binary forms are PostgreSQL's send/recv functions: integers and
 * floats big-endian, dates as days and timestamps as microseconds since
 * 2000-01-01, numeric as base-10000 digits.  Every length is checked
 * before a byte is read, since the bytes come from the network.
 */
#include "pg_internal.h"
#include "pg_values.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
#define PG_EPOCH_DAYS 10957
#define PG_EPOCH_US (INT64_C(946684800) * 1000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil, exact for every int year). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

int pg__encode_param(const corio_pg_param *p, unsigned char out[16], const char **why) {
    uint32_t u32;
    uint64_t u64;
    switch (p->oid) {
    case CORIO_PG_BOOL: out[0] = p->v.i != 0; return 1;
    case CORIO_PG_INT2: {
        uint16_t v = htobe16((uint16_t)p->v.i);
        memcpy(out, &v, 2);
        return 2;
    }
    case CORIO_PG_INT4: u32 = htobe32((uint32_t)p->v.i); memcpy(out, &u32, 4); return 4;
    case CORIO_PG_INT8:
    case CORIO_PG_TIME: u64 = htobe64((uint64_t)p->v.i); memcpy(out, &u64, 8); return 8;
    case CORIO_PG_TIMESTAMP:
    case CORIO_PG_TIMESTAMPTZ: {
        int64_t us = p->v.i;
        /* infinity stays infinity; anything else moves to PostgreSQL's epoch */
        if (us != INT64_MAX && us != INT64_MIN) {
            if (us < INT64_MIN + PG_EPOCH_US) {
                *why = "timestamp out of range";
                return -EINVAL;
            }
            us -= PG_EPOCH_US;
        }
        u64 = htobe64((uint64_t)us);
        memcpy(out, &u64, 8);
        return 8;
    }
    case CORIO_PG_FLOAT4: {
        float f = (float)p->v.f;
        memcpy(&u32, &f, 4);
        u32 = htobe32(u32);
        memcpy(out, &u32, 4);
        return 4;
    }
    case CORIO_PG_FLOAT8: memcpy(&u64, &p->v.f, 8); u64 = htobe64(u64); memcpy(out, &u64, 8); return 8;
    case CORIO_PG_DATE: {
        const corio_pg_date *d = &p->v.d;
        int32_t days;
        if (d->year == INT32_MAX || d->year == INT32_MIN) {
            days = d->year; /* 'infinity' / '-infinity' */
        } else {
            /* PostgreSQL's range: 4713 BC to 5874897 AD. */
            if (d->month < 1 || d->month > 12 || d->day < 1 || d->day > days_in_month(d->year, d->month)) {
                *why = "date: no such day (month 1..12, day within the month)";
                return -EINVAL;
            }
            if (d->year < -4712 || d->year > 5874897) {
                *why = "date out of range (4713 BC to 5874897 AD)";
                return -EINVAL;
            }
            days = (int32_t)(days_from_civil(d->year, (unsigned)d->month, (unsigned)d->day) - PG_EPOCH_DAYS);
        }
        u32 = htobe32((uint32_t)days);
        memcpy(out, &u32, 4);
        return 4;
    }
    case CORIO_PG_UUID: memcpy(out, p->v.uuid, 16); return 16;
    case CORIO_PG_INTERVAL: {
        /* interval_send: microseconds, days, months */
        u64 = htobe64((uint64_t)p->v.iv.us);
        memcpy(out, &u64, 8);
        u32 = htobe32((uint32_t)p->v.iv.days);
        memcpy(out + 8, &u32, 4);
        u32 = htobe32((uint32_t)p->v.iv.months);
        memcpy(out + 12, &u32, 4);
        return 16;
    }
    default: *why = "parameter of an unknown kind (make it with a corio_pg_* constructor)"; return -EINVAL;
    }
}

const char *pg__type_name(uint32_t oid) {
    switch (oid) {
    case CORIO_PG_BOOL: return "boolean";
    case CORIO_PG_BYTEA: return "bytea";
    case CORIO_PG_NAME: return "name";
    case CORIO_PG_CHAR: return "\"char\"";
    case CORIO_PG_INT8: return "bigint";
    case CORIO_PG_INT2: return "smallint";
    case CORIO_PG_INT4: return "integer";
    case CORIO_PG_TEXT: return "text";
    case CORIO_PG_OID: return "oid";
    case CORIO_PG_JSON: return "json";
    case CORIO_PG_FLOAT4: return "real";
    case CORIO_PG_FLOAT8: return "double precision";
    case CORIO_PG_UNKNOWN: return "unknown";
    case CORIO_PG_BPCHAR: return "character";
    case CORIO_PG_VARCHAR: return "character varying";
    case CORIO_PG_DATE: return "date";
    case CORIO_PG_TIME: return "time";
    case CORIO_PG_TIMESTAMP: return "timestamp";
    case CORIO_PG_TIMESTAMPTZ: return "timestamptz";
    case CORIO_PG_NUMERIC: return "numeric";
    case CORIO_PG_UUID: return "uuid";
    case CORIO_PG_JSONB: return "jsonb";
    case CORIO_PG_INTERVAL: return "interval";
    case CORIO_PG_BOOL_ARRAY: return "boolean[]";
    case CORIO_PG_INT2_ARRAY: return "smallint[]";
    case CORIO_PG_INT4_ARRAY: return "integer[]";
    case CORIO_PG_INT8_ARRAY: return "bigint[]";
    case CORIO_PG_TEXT_ARRAY: return "text[]";
    case CORIO_PG_FLOAT8_ARRAY: return "double precision[]";
    default: return NULL;
    }
}

/* ---- arrays: PostgreSQL's binary form (array_send / array_recv) ----------------------
 *
 *   int32 ndim (0 for an empty array), int32 flags (1: has NULLs), uint32 element type,
 *   ndim x (int32 length, int32 lower bound), then each element as int32 length
 *   (-1: NULL) and that many bytes of the element's own binary form.
 */

/* PostgreSQL's limit on dimensions (MAXDIM): a header claiming more is malformed. */
#define PG_MAXDIM 6

uint32_t pg__array_elem(uint32_t array_oid) {
    switch (array_oid) {
    case CORIO_PG_BOOL_ARRAY: return CORIO_PG_BOOL;
    case 1001: return CORIO_PG_BYTEA;
    case 1002: return CORIO_PG_CHAR;
    case 1003: return CORIO_PG_NAME;
    case CORIO_PG_INT2_ARRAY: return CORIO_PG_INT2;
    case CORIO_PG_INT4_ARRAY: return CORIO_PG_INT4;
    case CORIO_PG_TEXT_ARRAY: return CORIO_PG_TEXT;
    case 1014: return CORIO_PG_BPCHAR;
    case 1015: return CORIO_PG_VARCHAR;
    case CORIO_PG_INT8_ARRAY: return CORIO_PG_INT8;
    case 1021: return CORIO_PG_FLOAT4;
    case CORIO_PG_FLOAT8_ARRAY: return CORIO_PG_FLOAT8;
    case 1028: return CORIO_PG_OID;
    case 199: return CORIO_PG_JSON;
    case 3807: return CORIO_PG_JSONB;
    case 1182: return CORIO_PG_DATE;
    case 1183: return CORIO_PG_TIME;
    case 1115: return CORIO_PG_TIMESTAMP;
    case 1185: return CORIO_PG_TIMESTAMPTZ;
    case 1187: return CORIO_PG_INTERVAL;
    case 1231: return CORIO_PG_NUMERIC;
    case 2951: return CORIO_PG_UUID;
    default: return 0;
    }
}

/* The binary size of one element of an array parameter (the constructors
 * send only these five fixed sizes and text). */
static size_t param_elem_size(uint32_t elem) {
    switch (elem) {
    case CORIO_PG_BOOL: return 1;
    case CORIO_PG_INT2: return 2;
    case CORIO_PG_INT4: return 4;
    default: return 8; /* int8, float8 */
    }
}

static int param_elem_null(const corio_pg_param *p, int i) {
    if (p->oid == CORIO_PG_TEXT_ARRAY) return ((const char *const *)p->ptr)[i] == NULL;
    return p->v.nulls && p->v.nulls[i];
}

int64_t pg__array_param_size(const corio_pg_param *p, const char **why) {
    uint32_t elem = pg__array_elem(p->oid);
    if (p->len < 0) {
        *why = "array of more than INT_MAX elements";
        return -EINVAL;
    }
    int n = p->len;
    uint64_t size = 12 + (n ? 8 : 0) + 4 * (uint64_t)n;
    for (int i = 0; i < n; i++) {
        if (param_elem_null(p, i)) continue;
        size += elem == CORIO_PG_TEXT ? strlen(((const char *const *)p->ptr)[i]) : param_elem_size(elem);
        /* libpq takes a parameter's length as an int */
        if (size > INT32_MAX) {
            *why = "array parameter larger than 2 GiB";
            return -EINVAL;
        }
    }
    return (int64_t)size;
}

static unsigned char *put32(unsigned char *o, uint32_t v) {
    v = htobe32(v);
    memcpy(o, &v, 4);
    return o + 4;
}

int pg__array_param_encode(const corio_pg_param *p, unsigned char *out) {
    uint32_t elem = pg__array_elem(p->oid);
    int n = p->len, nulls = 0;
    for (int i = 0; i < n && !nulls; i++) nulls = param_elem_null(p, i);
    unsigned char *o = out;
    o = put32(o, n ? 1 : 0);
    o = put32(o, (uint32_t)nulls);
    o = put32(o, elem);
    if (n) {
        o = put32(o, (uint32_t)n);
        o = put32(o, 1); /* lower bound: PostgreSQL's default */
    }
    for (int i = 0; i < n; i++) {
        if (param_elem_null(p, i)) {
            o = put32(o, UINT32_MAX); /* -1 */
            continue;
        }
        switch (elem) {
        case CORIO_PG_BOOL: o = put32(o, 1); *o++ = ((const bool *)p->ptr)[i]; break;
        case CORIO_PG_INT2: {
            uint16_t v = htobe16((uint16_t)((const int16_t *)p->ptr)[i]);
            o = put32(o, 2);
            memcpy(o, &v, 2);
            o += 2;
            break;
        }
        case CORIO_PG_INT4: o = put32(o, 4); o = put32(o, (uint32_t)((const int32_t *)p->ptr)[i]); break;
        case CORIO_PG_INT8:
        case CORIO_PG_FLOAT8: {
            uint64_t v;
            if (elem == CORIO_PG_INT8) v = (uint64_t)((const int64_t *)p->ptr)[i];
            else memcpy(&v, &((const double *)p->ptr)[i], 8);
            v = htobe64(v);
            o = put32(o, 8);
            memcpy(o, &v, 8);
            o += 8;
            break;
        }
        default: { /* text */
            const char *s = ((const char *const *)p->ptr)[i];
            size_t len = strlen(s);
            o = put32(o, (uint32_t)len);
            memcpy(o, s, len);
            o += len;
            break;
        }
        }
    }
    return (int)(o - out);
}

/* ---- results ------------------------------------------------------------------ */

void corio_pg_result_free(corio_pg_result *r) {
    if (!r) return;
    PQclear(r->res);
    if (r->home) {
        pg__rows_release(r->home, r->rows);
        pg__home_unref(r->home);
    }
    free(r);
}

int corio_pg_nrows(const corio_pg_result *r) { return r ? r->nrows : -EINVAL; }
int corio_pg_ncols(const corio_pg_result *r) { return r ? r->ncols : -EINVAL; }

const char *corio_pg_colname(const corio_pg_result *r, int col) {
    if (!r || col < 0 || col >= PQnfields(r->res)) return "";
    return PQfname(r->res, col);
}

uint32_t corio_pg_coltype(const corio_pg_result *r, int col) {
    if (!r || col < 0 || col >= r->ncols) return 0;
    return r->types[col];
}

int corio_pg_col(const corio_pg_result *r, const char *name) {
    if (!r || !name) return -EINVAL;
    /* Exact match: PQfnumber would fold case and parse quotes, which is
     * surprising for a name taken from the query's own text. */
    int n = PQnfields(r->res);
    for (int i = 0; i < n; i++)
        if (strcmp(PQfname(r->res, i), name) == 0) return i;
    return -ENOENT;
}

int corio_pg_is_null(const corio_pg_result *r, int row, int col) {
    if (!r || row < 0 || col < 0 || row >= r->nrows || col >= r->ncols) return -EINVAL;
    return pg__isnull(r, row, col);
}

const char *corio_pg_result_error(const corio_pg_result *r) { return r ? r->err : ""; }

static int rerr(corio_pg_result *r, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return code;
}

static int type_err(const corio_pg_result *cr, int col, uint32_t t, const char *want) {
    corio_pg_result *r = (corio_pg_result *)cr;
    const char *tn = pg__type_name(t);
    char tbuf[24];
    if (!tn) {
        snprintf(tbuf, sizeof tbuf, "type oid %u", t);
        tn = tbuf;
    }
    return rerr(r, CORIO_PG_ETYPE, "column %d (\"%s\") is %s, not %s", col, PQfname(r->res, col), tn, want);
}

/* Check row/col, NULL-ness and the type; on success *v and *len are the raw binary value. */
static inline int cell(const corio_pg_result *cr, int row, int col, const uint32_t *ok, int nok, const char *want,
                const char **v, int *len, uint32_t *oid) {
    corio_pg_result *r = (corio_pg_result *)cr; /* the error text is scratch space */
    /* set on every path: an optimising compiler cannot see that callers
     * read them only after a 0 (-Wmaybe-uninitialized in Release builds) */
    *v = NULL;
    *len = 0;
    *oid = 0;
    if (!r) return -EINVAL;
    if (row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
        return rerr(r, -EINVAL, "no cell at row %d, column %d (the result has %d rows and %d columns)", row, col,
                    r->nrows, r->ncols);
    uint32_t t = r->types[col];
    int i = 0;
    while (i < nok && ok[i] != t) i++;
    if (nok && i == nok) return type_err(r, col, t, want);
    const char *p = pg__cell(r, row, col, len);
    if (!p) {
        *len = 0;
        return rerr(r, CORIO_PG_ENULL, "column %d (\"%s\") is NULL at row %d", col, PQfname(r->res, col), row);
    }
    *v = p;
    *oid = t;
    r->err[0] = 0;
    return 0;
}

static int badlen(const corio_pg_result *r, int col, int len) {
    return rerr((corio_pg_result *)r, -EPROTO, "column %d: a value of %d bytes is malformed for its type", col, len);
}

static uint16_t be16(const char *p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
static uint32_t be32(const char *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
static uint64_t be64(const char *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }

int corio_pg_get_bool(const corio_pg_result *r, int row, int col, bool *out) {
    static const uint32_t ok[] = {CORIO_PG_BOOL};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 1, "boolean", &v, &len, &t);
    if (rc < 0) return rc;
    if (len != 1) return badlen(r, col, len);
    if (out) *out = v[0] != 0;
    return 0;
}

static int get_int(const corio_pg_result *r, int row, int col, int wide, int64_t *out) {
    static const uint32_t ok[] = {CORIO_PG_INT2, CORIO_PG_INT4, CORIO_PG_INT8, CORIO_PG_OID};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, wide ? 4 : 2, wide ? "an integer (smallint, integer, bigint, oid)" : "smallint or integer",
                  &v, &len, &t);
    if (rc < 0) return rc;
    switch (t) {
    case CORIO_PG_INT2: if (len != 2) return badlen(r, col, len); *out = (int16_t)be16(v); break;
    case CORIO_PG_INT4: if (len != 4) return badlen(r, col, len); *out = (int32_t)be32(v); break;
    case CORIO_PG_OID: if (len != 4) return badlen(r, col, len); *out = be32(v); break;
    default: if (len != 8) return badlen(r, col, len); *out = (int64_t)be64(v); break;
    }
    return 0;
}

int corio_pg_get_int32(const corio_pg_result *r, int row, int col, int32_t *out) {
    int64_t v = 0;
    int rc = get_int(r, row, col, 0, &v);
    if (rc == 0 && out) *out = (int32_t)v;
    return rc;
}

int corio_pg_get_int64(const corio_pg_result *r, int row, int col, int64_t *out) {
    int64_t v = 0;
    int rc = get_int(r, row, col, 1, &v);
    if (rc == 0 && out) *out = v;
    return rc;
}

int corio_pg_get_double(const corio_pg_result *r, int row, int col, double *out) {
    static const uint32_t ok[] = {CORIO_PG_FLOAT4, CORIO_PG_FLOAT8, CORIO_PG_NUMERIC};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 3, "real, double precision or numeric", &v, &len, &t);
    if (rc < 0) return rc;
    double d;
    if (t == CORIO_PG_FLOAT4) {
        if (len != 4) return badlen(r, col, len);
        uint32_t u = be32(v);
        float f;
        memcpy(&f, &u, 4);
        d = f;
    } else if (t == CORIO_PG_FLOAT8) {
        if (len != 8) return badlen(r, col, len);
        uint64_t u = be64(v);
        memcpy(&d, &u, 8);
    } else {
        /* numeric: through its text, the nearest double (strtod rounds correctly) */
        char buf[512];
        int n = corio_pg_get_str(r, row, col, buf, sizeof buf);
        if (n < 0) return n;
        if ((size_t)n >= sizeof buf) return rerr((corio_pg_result *)r, -ERANGE, "column %d: numeric too long for a double", col);
        d = strtod(buf, NULL);
    }
    if (out) *out = d;
    return 0;
}

int corio_pg_get_text(const corio_pg_result *r, int row, int col, const char **out, size_t *outlen) {
    static const uint32_t ok[] = {CORIO_PG_TEXT, CORIO_PG_VARCHAR, CORIO_PG_BPCHAR, CORIO_PG_NAME,
                                  CORIO_PG_JSON, CORIO_PG_JSONB, CORIO_PG_UNKNOWN, CORIO_PG_CHAR};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 8, "text (text, varchar, char, name, json, jsonb)", &v, &len, &t);
    if (rc < 0) return rc;
    if (t == CORIO_PG_JSONB) {
        /* jsonb's binary form is a version byte (1) and the text */
        if (len < 1 || v[0] != 1) return badlen(r, col, len);
        v++, len--;
    }
    /* libpq ends every value with a NUL, so the text is a C string too */
    if (out) *out = v;
    if (outlen) *outlen = (size_t)len;
    return 0;
}

int corio_pg_get_bytea(const corio_pg_result *r, int row, int col, const void **out, size_t *outlen) {
    static const uint32_t ok[] = {CORIO_PG_BYTEA};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 1, "bytea", &v, &len, &t);
    if (rc < 0) return rc;
    if (out) *out = v;
    if (outlen) *outlen = (size_t)len;
    return 0;
}

static void date_from_pg(int32_t days, corio_pg_date *d) {
    if (days == INT32_MAX || days == INT32_MIN) {
        d->year = days;
        d->month = d->day = 0;
        return;
    }
    civil_from_days((int64_t)days + PG_EPOCH_DAYS, &d->year, &d->month, &d->day);
}

int corio_pg_get_date(const corio_pg_result *r, int row, int col, corio_pg_date *out) {
    static const uint32_t ok[] = {CORIO_PG_DATE};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 1, "date", &v, &len, &t);
    if (rc < 0) return rc;
    if (len != 4) return badlen(r, col, len);
    corio_pg_date d;
    date_from_pg((int32_t)be32(v), &d);
    if (out) *out = d;
    return 0;
}

int corio_pg_get_time_us(const corio_pg_result *r, int row, int col, int64_t *out) {
    static const uint32_t ok[] = {CORIO_PG_TIME};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 1, "time", &v, &len, &t);
    if (rc < 0) return rc;
    if (len != 8) return badlen(r, col, len);
    if (out) *out = (int64_t)be64(v);
    return 0;
}

int corio_pg_get_timestamp_us(const corio_pg_result *r, int row, int col, int64_t *out) {
    static const uint32_t ok[] = {CORIO_PG_TIMESTAMP, CORIO_PG_TIMESTAMPTZ};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 2, "timestamp or timestamptz", &v, &len, &t);
    if (rc < 0) return rc;
    if (len != 8) return badlen(r, col, len);
    int64_t us = (int64_t)be64(v);
    /* PostgreSQL keeps timestamps within 294276 AD, so this never overflows */
    if (us != INT64_MAX && us != INT64_MIN) us += PG_EPOCH_US;
    if (out) *out = us;
    return 0;
}

int corio_pg_get_uuid(const corio_pg_result *r, int row, int col, unsigned char out[16]) {
    static const uint32_t ok[] = {CORIO_PG_UUID};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 1, "uuid", &v, &len, &t);
    if (rc < 0) return rc;
    if (len != 16) return badlen(r, col, len);
    if (out) memcpy(out, v, 16);
    return 0;
}

static corio_pg_interval interval_from(const char *v) {
    corio_pg_interval iv;
    iv.us = (int64_t)be64(v);
    iv.days = (int32_t)be32(v + 8);
    iv.months = (int32_t)be32(v + 12);
    return iv;
}

int corio_pg_get_interval(const corio_pg_result *r, int row, int col, corio_pg_interval *out) {
    static const uint32_t ok[] = {CORIO_PG_INTERVAL};
    const char *v; int len; uint32_t t;
    int rc = cell(r, row, col, ok, 1, "interval", &v, &len, &t);
    if (rc < 0) return rc;
    if (len != 16) return badlen(r, col, len);
    if (out) *out = interval_from(v);
    return 0;
}

/* ---- arrays in results ------------------------------------------------------------- */

int pg__array_open(uint32_t t, const char *v, int len, corio_pg_array *a, int *lbound, const char **why) {
    uint32_t elem = pg__array_elem(t);
    memset(a, 0, sizeof *a);
    a->index = -1;
    a->curlen_ = -1;
    *lbound = 1;
    if (!elem) {
        *why = "not an array type";
        return CORIO_PG_ETYPE;
    }
    if (len < 12) {
        *why = "array header cut short";
        return -EPROTO;
    }
    int32_t ndim = (int32_t)be32(v);
    uint32_t flags = be32(v + 4), et = be32(v + 8);
    if (ndim < 0 || ndim > PG_MAXDIM || flags > 1) {
        *why = "bad array header";
        return -EPROTO;
    }
    if (et != elem) {
        *why = "the array's element type is not the column's";
        return -EPROTO;
    }
    if (ndim > 1) {
        *why = "array of more than one dimension (read it with unnest(), or select it ::text)";
        return -EDOM;
    }
    const char *p = v + 12, *end = v + len;
    int n = 0;
    if (ndim == 1) {
        if (end - p < 8) {
            *why = "array header cut short";
            return -EPROTO;
        }
        int32_t dim = (int32_t)be32(p);
        *lbound = (int32_t)be32(p + 4);
        p += 8;
        /* every element takes at least its 4-byte length */
        if (dim < 0 || dim > (end - p) / 4) {
            *why = "array longer than its value";
            return -EPROTO;
        }
        n = dim;
    }
    /* Walk it once, so that next() can trust every length: each one within
     * the value, and nothing left after the last element. */
    const char *q = p;
    for (int i = 0; i < n; i++) {
        if (end - q < 4) {
            *why = "array element cut short";
            return -EPROTO;
        }
        int32_t el = (int32_t)be32(q);
        q += 4;
        if (el < -1 || el > end - q) {
            *why = "array element longer than the value";
            return -EPROTO;
        }
        if (el > 0) q += el;
    }
    if (q != end) {
        *why = "bytes after the array's last element";
        return -EPROTO;
    }
    a->elem_type = elem;
    a->n = n;
    a->next_ = p;
    a->end_ = end;
    return 0;
}

int corio_pg_get_array(const corio_pg_result *r, int row, int col, corio_pg_array *out) {
    const char *v; int len; uint32_t t;
    if (!out) return -EINVAL;
    memset(out, 0, sizeof *out);
    out->index = -1;
    if (r && row >= 0 && row < r->nrows && col >= 0 && col < r->ncols && !pg__array_elem(r->types[col]))
        return type_err(r, col, r->types[col], "an array");
    int rc = cell(r, row, col, NULL, 0, "", &v, &len, &t);
    if (rc < 0) return rc;
    const char *why = "";
    int lb;
    rc = pg__array_open(t, v, len, out, &lb, &why);
    if (rc < 0) return rerr((corio_pg_result *)r, rc, "column %d (\"%s\"): %s", col, PQfname(r->res, col), why);
    out->r_ = r;
    out->col_ = col;
    return 0;
}

int corio_pg_array_next(corio_pg_array *a) {
    if (!a) return -EINVAL;
    if (a->index >= a->n - 1) {
        /* past the end, and it stays there */
        a->index = a->n;
        a->cur_ = NULL;
        a->curlen_ = -1;
        return 0;
    }
    /* pg__array_open checked every length */
    int32_t el = (int32_t)be32(a->next_);
    a->cur_ = a->next_ + 4;
    a->curlen_ = el;
    a->next_ = a->cur_ + (el > 0 ? el : 0);
    a->index++;
    return 1;
}

static int aerr(const corio_pg_array *a, int code, const char *fmt, ...) {
    corio_pg_result *r = (corio_pg_result *)a->r_;
    if (!r) return code; /* an array opened by pg__array_open alone (the fuzz target) */
    char m[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return rerr(r, code, "column %d (\"%s\"), array element %d: %s", a->col_, PQfname(r->res, a->col_), a->index, m);
}

int corio_pg_array_is_null(const corio_pg_array *a) {
    if (!a || a->index < 0 || a->index >= a->n) return -EINVAL;
    return a->curlen_ < 0;
}

/* The current element when its type is one of ok[]; as cell() for a value. */
static int elem(const corio_pg_array *a, const uint32_t *ok, int nok, const char *want, const char **v, int *len) {
    *v = NULL;
    *len = 0;
    if (!a) return -EINVAL;
    if (a->index < 0 || a->index >= a->n) return aerr(a, -EINVAL, "no current element (call corio_pg_array_next)");
    int i = 0;
    while (i < nok && ok[i] != a->elem_type) i++;
    if (nok && i == nok) {
        const char *tn = pg__type_name(a->elem_type);
        return aerr(a, CORIO_PG_ETYPE, "%s, not %s", tn ? tn : "another type", want);
    }
    if (a->curlen_ < 0) return aerr(a, CORIO_PG_ENULL, "NULL");
    *v = a->cur_;
    *len = a->curlen_;
    if (a->r_) ((corio_pg_result *)a->r_)->err[0] = 0;
    return 0;
}

static int elem_badlen(const corio_pg_array *a, int len) {
    return aerr(a, -EPROTO, "a value of %d bytes is malformed for its type", len);
}

int corio_pg_array_bool(const corio_pg_array *a, bool *out) {
    static const uint32_t ok[] = {CORIO_PG_BOOL};
    const char *v; int len;
    int rc = elem(a, ok, 1, "boolean", &v, &len);
    if (rc < 0) return rc;
    if (len != 1) return elem_badlen(a, len);
    if (out) *out = v[0] != 0;
    return 0;
}

static int array_int(const corio_pg_array *a, int wide, int64_t *out) {
    static const uint32_t ok[] = {CORIO_PG_INT2, CORIO_PG_INT4, CORIO_PG_INT8, CORIO_PG_OID};
    const char *v; int len;
    int rc = elem(a, ok, wide ? 4 : 2, wide ? "an integer (smallint, integer, bigint, oid)" : "smallint or integer", &v, &len);
    if (rc < 0) return rc;
    int want = a->elem_type == CORIO_PG_INT2 ? 2 : a->elem_type == CORIO_PG_INT8 ? 8 : 4;
    if (len != want) return elem_badlen(a, len);
    switch (a->elem_type) {
    case CORIO_PG_INT2: *out = (int16_t)be16(v); break;
    case CORIO_PG_INT4: *out = (int32_t)be32(v); break;
    case CORIO_PG_OID: *out = be32(v); break;
    default: *out = (int64_t)be64(v); break;
    }
    return 0;
}

int corio_pg_array_int32(const corio_pg_array *a, int32_t *out) {
    int64_t v = 0;
    int rc = array_int(a, 0, &v);
    if (rc == 0 && out) *out = (int32_t)v;
    return rc;
}

int corio_pg_array_int64(const corio_pg_array *a, int64_t *out) {
    int64_t v = 0;
    int rc = array_int(a, 1, &v);
    if (rc == 0 && out) *out = v;
    return rc;
}

int corio_pg_array_double(const corio_pg_array *a, double *out) {
    static const uint32_t ok[] = {CORIO_PG_FLOAT4, CORIO_PG_FLOAT8, CORIO_PG_NUMERIC};
    const char *v; int len;
    int rc = elem(a, ok, 3, "real, double precision or numeric", &v, &len);
    if (rc < 0) return rc;
    double d;
    if (a->elem_type == CORIO_PG_FLOAT4) {
        if (len != 4) return elem_badlen(a, len);
        uint32_t u = be32(v);
        float f;
        memcpy(&f, &u, 4);
        d = f;
    } else if (a->elem_type == CORIO_PG_FLOAT8) {
        if (len != 8) return elem_badlen(a, len);
        uint64_t u = be64(v);
        memcpy(&d, &u, 8);
    } else {
        /* numeric: through its text, as corio_pg_get_double */
        char buf[512];
        int n = pg__format_value(CORIO_PG_NUMERIC, v, len, buf, sizeof buf);
        if (n < 0) return elem_badlen(a, len);
        if ((size_t)n >= sizeof buf) return aerr(a, -ERANGE, "numeric too long for a double");
        d = strtod(buf, NULL);
    }
    if (out) *out = d;
    return 0;
}

int corio_pg_array_text(const corio_pg_array *a, const char **out, size_t *outlen) {
    static const uint32_t ok[] = {CORIO_PG_TEXT, CORIO_PG_VARCHAR, CORIO_PG_BPCHAR, CORIO_PG_NAME,
                                  CORIO_PG_JSON, CORIO_PG_JSONB, CORIO_PG_CHAR};
    const char *v; int len;
    int rc = elem(a, ok, 7, "text (text, varchar, char, name, json, jsonb)", &v, &len);
    if (rc < 0) return rc;
    if (a->elem_type == CORIO_PG_JSONB) {
        if (len < 1 || v[0] != 1) return elem_badlen(a, len);
        v++, len--;
    }
    if (out) *out = v;
    if (outlen) *outlen = (size_t)len;
    return 0;
}

int corio_pg_array_interval(const corio_pg_array *a, corio_pg_interval *out) {
    static const uint32_t ok[] = {CORIO_PG_INTERVAL};
    const char *v; int len;
    int rc = elem(a, ok, 1, "interval", &v, &len);
    if (rc < 0) return rc;
    if (len != 16) return elem_badlen(a, len);
    if (out) *out = interval_from(v);
    return 0;
}

int corio_pg_array_str(const corio_pg_array *a, char *buf, size_t cap) {
    const char *v; int len;
    if (!buf && cap) return -EINVAL;
    int rc = elem(a, NULL, 0, "", &v, &len);
    if (rc < 0) return rc;
    rc = pg__format_value(a->elem_type, v, len, buf, cap);
    if (rc == -EPROTO) return elem_badlen(a, len);
    return rc;
}

/* ---- text forms ------------------------------------------------------------------ */

/* A bounded appender: counts everything, writes what fits. */
typedef struct sbuf {
    char *p;
    size_t cap, n;
} sbuf;

static void sb_putc(sbuf *b, char c) {
    if (b->n + 1 < b->cap) b->p[b->n] = c;
    b->n++;
}

static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    for (int i = 0; i < n && i < (int)sizeof tmp - 1; i++) sb_putc(b, tmp[i]);
}

/* A float as PostgreSQL 15 prints it (float4out / float8out with the
 * default extra_float_digits = 1): the fewest significant digits that
 * read back as the same value, laid out as %g would with a precision of 6
 * (float4) or 15 (float8) - exponent form below 1e-4 or from 1e6 / 1e15 -
 * and no trailing zeros: 0.1, 1e+15, 123456789012345.6, 1.2345679e+07.
 * (%.17g printed 0.10000000000000001.)  d is finite. */
static void sb_float(sbuf *b, double d, bool f4) {
    char m[40];
    int p = 1, maxp = f4 ? 9 : 17;
    for (; p < maxp; p++) {
        snprintf(m, sizeof m, "%.*e", p - 1, d);
        double back = strtod(m, NULL);
        if (f4 ? (float)back == (float)d : back == d) break;
    }
    snprintf(m, sizeof m, "%.*e", p - 1, d);
    char *e = strchr(m, 'e');
    int exp = atoi(e + 1);
    char digits[24];
    int nd = 0;
    for (const char *q = m; q < e; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (m[0] == '-') sb_putc(b, '-');
    if (exp < -4 || exp >= (f4 ? 6 : 15)) {
        sb_putc(b, digits[0]);
        if (nd > 1) sb_putc(b, '.');
        for (int i = 1; i < nd; i++) sb_putc(b, digits[i]);
        sb_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        sb_putc(b, '0');
        sb_putc(b, '.');
        for (int i = 0; i < -exp - 1; i++) sb_putc(b, '0');
        for (int i = 0; i < nd; i++) sb_putc(b, digits[i]);
    } else {
        for (int i = 0; i <= exp; i++) sb_putc(b, i < nd ? digits[i] : '0');
        if (nd > exp + 1) sb_putc(b, '.');
        for (int i = exp + 1; i < nd; i++) sb_putc(b, digits[i]);
    }
}

static void sb_date(sbuf *b, int32_t days) {
    if (days == INT32_MAX) { sb_printf(b, "infinity"); return; }
    if (days == INT32_MIN) { sb_printf(b, "-infinity"); return; }
    corio_pg_date d;
    date_from_pg(days, &d);
    int bc = d.year <= 0;
    sb_printf(b, "%04d-%02d-%02d%s", bc ? 1 - d.year : d.year, d.month, d.day, bc ? " BC" : "");
}

static void sb_time(sbuf *b, int64_t us) {
    int64_t s = us / 1000000, frac = us % 1000000;
    sb_printf(b, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%06d", (int)frac);
        for (int i = 5; i > 0 && f[i] == '0'; i--) f[i] = 0; /* as PostgreSQL: no trailing zeros */
        sb_printf(b, ".%s", f);
    }
}

/* us: since 2000-01-01 */
static void sb_timestamp(sbuf *b, int64_t us, int tz) {
    if (us == INT64_MAX) { sb_printf(b, "infinity"); return; }
    if (us == INT64_MIN) { sb_printf(b, "-infinity"); return; }
    int64_t day = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) rem += 86400000000LL, day--;
    corio_pg_date d;
    date_from_pg((int32_t)day, &d);
    int bc = d.year <= 0;
    sb_printf(b, "%04d-%02d-%02d ", bc ? 1 - d.year : d.year, d.month, d.day);
    sb_time(b, rem);
    if (tz) sb_printf(b, "+00");
    if (bc) sb_printf(b, " BC");
}

/* numeric's binary form: ndigits, weight, sign, dscale (int16 each), then
 * ndigits base-10000 digits; the value is sum(digit[i] * 10000^(weight-i)). */
static int sb_numeric(sbuf *b, const char *v, int len) {
    if (len < 8) return -EPROTO;
    int ndigits = (int16_t)be16(v), weight = (int16_t)be16(v + 2), dscale = (int16_t)be16(v + 6);
    unsigned sign = be16(v + 4);
    if (ndigits < 0 || dscale < 0 || len != 8 + 2 * ndigits) return -EPROTO;
    if (sign == 0xC000) { sb_printf(b, "NaN"); return 0; }
    if (sign == 0xD000) { sb_printf(b, "Infinity"); return 0; }
    if (sign == 0xF000) { sb_printf(b, "-Infinity"); return 0; }
    if (sign != 0 && sign != 0x4000) return -EPROTO;
    const char *dg = v + 8;
    for (int i = 0; i < ndigits; i++)
        if (be16(dg + 2 * i) > 9999) return -EPROTO;
    if (sign == 0x4000) sb_putc(b, '-');
    /* integer part: digit groups 0..weight */
    if (weight < 0) {
        sb_putc(b, '0');
    } else {
        for (int i = 0; i <= weight; i++) {
            int d = i < ndigits ? be16(dg + 2 * i) : 0;
            if (i == 0) sb_printf(b, "%d", d);
            else sb_printf(b, "%04d", d);
        }
    }
    if (dscale > 0) {
        sb_putc(b, '.');
        int written = 0;
        for (int i = weight + 1; written < dscale; i++) {
            int d = (i >= 0 && i < ndigits) ? be16(dg + 2 * i) : 0;
            char g[8];
            snprintf(g, sizeof g, "%04d", d & 0xffff);
            for (int k = 0; k < 4 && written < dscale; k++, written++) sb_putc(b, g[k]);
        }
    }
    return 0;
}

/* PostgreSQL's interval_out in its default style (IntervalStyle 'postgres'):
 * "1 year 2 mons -3 days +04:05:06.5".  Each part carries its own sign; a
 * positive part after a negative one gets a '+' (EncodeInterval). */
static void sb_interval_part(sbuf *b, int32_t value, const char *unit, bool *is_zero, bool *is_before) {
    if (value == 0) return;
    sb_printf(b, "%s%s%d %s%s", *is_zero ? "" : " ", *is_before && value > 0 ? "+" : "", value, unit,
              value != 1 ? "s" : "");
    *is_before = value < 0;
    *is_zero = false;
}

static void sb_interval(sbuf *b, int32_t months, int32_t days, int64_t us) {
    /* C's truncating division, as interval2itm: every part has the sign of its field */
    int64_t hour = us / INT64_C(3600000000), t = us - hour * INT64_C(3600000000);
    int min = (int)(t / 60000000), sec, fsec;
    t -= (int64_t)min * 60000000;
    sec = (int)(t / 1000000);
    fsec = (int)(t - (int64_t)sec * 1000000);
    bool is_zero = true, is_before = false;
    sb_interval_part(b, months / 12, "year", &is_zero, &is_before);
    sb_interval_part(b, months % 12, "mon", &is_zero, &is_before);
    sb_interval_part(b, days, "day", &is_zero, &is_before);
    if (is_zero || hour || min || sec || fsec) {
        bool minus = hour < 0 || min < 0 || sec < 0 || fsec < 0;
        sb_printf(b, "%s%s%02" PRIu64 ":%02d:%02d", is_zero ? "" : " ", minus ? "-" : is_before ? "+" : "",
                  hour < 0 ? (uint64_t)0 - (uint64_t)hour : (uint64_t)hour, abs(min), abs(sec));
        if (fsec) {
            char f[12];
            snprintf(f, sizeof f, "%06d", abs(fsec));
            for (int i = 5; i > 0 && f[i] == '0'; i--) f[i] = 0; /* no trailing zeros */
            sb_printf(b, ".%s", f);
        }
    }
}

static int fmt_value(sbuf *b, uint32_t t, const char *v, int len);

/* An array element's text as array_out writes it: in double quotes, with
 * '"' and '\' escaped, when it is empty, reads NULL, or holds a brace, a
 * comma, a quote, a backslash or white space. */
static void sb_array_item(sbuf *b, const char *s, size_t n) {
    bool quote = n == 0 || (n == 4 && strncasecmp(s, "NULL", 4) == 0);
    for (size_t i = 0; i < n && !quote; i++) {
        char c = s[i];
        quote = c == '"' || c == '\\' || c == '{' || c == '}' || c == ',' || c == ' ' || c == '\t' || c == '\n' ||
                c == '\r' || c == '\v' || c == '\f';
    }
    if (!quote) {
        for (size_t i = 0; i < n; i++) sb_putc(b, s[i]);
        return;
    }
    sb_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') sb_putc(b, '\\');
        sb_putc(b, s[i]);
    }
    sb_putc(b, '"');
}

static int sb_array(sbuf *b, uint32_t t, const char *v, int len) {
    corio_pg_array a;
    const char *why;
    int lb, rc = pg__array_open(t, v, len, &a, &lb, &why);
    if (rc < 0) return rc;
    if (a.n && lb != 1) sb_printf(b, "[%d:%" PRId64 "]=", lb, (int64_t)lb + a.n - 1);
    sb_putc(b, '{');
    while (corio_pg_array_next(&a) == 1) {
        if (a.index) sb_putc(b, ',');
        const char *e = a.cur_;
        int n = a.curlen_;
        if (n < 0) {
            sb_printf(b, "NULL");
            continue;
        }
        switch (a.elem_type) {
        case CORIO_PG_TEXT: case CORIO_PG_VARCHAR: case CORIO_PG_BPCHAR: case CORIO_PG_NAME:
        case CORIO_PG_JSON: case CORIO_PG_CHAR: case CORIO_PG_JSONB:
            if (a.elem_type == CORIO_PG_JSONB) {
                if (n < 1 || e[0] != 1) return -EPROTO;
                e++, n--;
            }
            sb_array_item(b, e, (size_t)n);
            break;
        case CORIO_PG_DATE: case CORIO_PG_TIME: case CORIO_PG_TIMESTAMP: case CORIO_PG_TIMESTAMPTZ:
        case CORIO_PG_INTERVAL: case CORIO_PG_BYTEA: {
            /* forms with spaces or a backslash: quoted.  All but bytea are
             * short (under 80 bytes); a long bytea goes through as hex. */
            if (a.elem_type == CORIO_PG_BYTEA) {
                sb_printf(b, "\"\\\\x");
                for (int i = 0; i < n; i++) sb_printf(b, "%02x", (unsigned char)e[i]);
                sb_putc(b, '"');
                break;
            }
            char tmp[128];
            sbuf tb = {tmp, sizeof tmp, 0};
            if ((rc = fmt_value(&tb, a.elem_type, e, n)) < 0) return rc;
            if (tb.n >= sizeof tmp) return -EPROTO; /* cannot happen for a well-formed value */
            sb_array_item(b, tmp, tb.n);
            break;
        }
        default:
            /* numbers, booleans, uuids: never quoted */
            if ((rc = fmt_value(b, a.elem_type, e, n)) < 0) return rc;
            break;
        }
    }
    sb_putc(b, '}');
    return 0;
}

int pg__format_value(uint32_t t, const char *v, int len, char *buf, size_t cap) {
    sbuf b = {buf, cap, 0};
    int rc = fmt_value(&b, t, v, len);
    if (rc < 0) return rc;
    if (cap) buf[b.n < cap ? b.n : cap - 1] = 0;
    return b.n > INT32_MAX ? -EOVERFLOW : (int)b.n;
}

/* The text form of one value, appended to b: 0, -EPROTO, -EDOM, CORIO_PG_ETYPE. */
static int fmt_value(sbuf *bp, uint32_t t, const char *v, int len) {
    sbuf b = *bp;
    int rc = 0;
    switch (t) {
    case CORIO_PG_BOOL: if (len != 1) return -EPROTO; sb_putc(&b, v[0] ? 't' : 'f'); break;
    case CORIO_PG_INT2: if (len != 2) return -EPROTO; sb_printf(&b, "%d", (int16_t)be16(v)); break;
    case CORIO_PG_INT4: if (len != 4) return -EPROTO; sb_printf(&b, "%" PRId32, (int32_t)be32(v)); break;
    case CORIO_PG_OID: if (len != 4) return -EPROTO; sb_printf(&b, "%" PRIu32, be32(v)); break;
    case CORIO_PG_INT8: if (len != 8) return -EPROTO; sb_printf(&b, "%" PRId64, (int64_t)be64(v)); break;
    case CORIO_PG_FLOAT4:
    case CORIO_PG_FLOAT8: {
        double d;
        if (t == CORIO_PG_FLOAT4) {
            if (len != 4) return -EPROTO;
            uint32_t u = be32(v);
            float f;
            memcpy(&f, &u, 4);
            d = f;
        } else {
            if (len != 8) return -EPROTO;
            uint64_t u = be64(v);
            memcpy(&d, &u, 8);
        }
        if (isnan(d)) sb_printf(&b, "NaN");
        else if (isinf(d)) sb_printf(&b, d > 0 ? "Infinity" : "-Infinity");
        else sb_float(&b, d, t == CORIO_PG_FLOAT4);
        break;
    }
    case CORIO_PG_NUMERIC: if (sb_numeric(&b, v, len) < 0) return -EPROTO; break;
    case CORIO_PG_TEXT: case CORIO_PG_VARCHAR: case CORIO_PG_BPCHAR: case CORIO_PG_NAME:
    case CORIO_PG_JSON: case CORIO_PG_UNKNOWN: case CORIO_PG_CHAR:
        for (int i = 0; i < len; i++) sb_putc(&b, v[i]);
        break;
    case CORIO_PG_JSONB:
        if (len < 1 || v[0] != 1) return -EPROTO;
        for (int i = 1; i < len; i++) sb_putc(&b, v[i]);
        break;
    case CORIO_PG_BYTEA:
        sb_printf(&b, "\\x");
        for (int i = 0; i < len; i++) sb_printf(&b, "%02x", (unsigned char)v[i]);
        break;
    case CORIO_PG_DATE: if (len != 4) return -EPROTO; sb_date(&b, (int32_t)be32(v)); break;
    case CORIO_PG_TIME: {
        if (len != 8) return -EPROTO;
        int64_t us = (int64_t)be64(v);
        if (us < 0 || us > 86400000000LL) return -EPROTO;
        sb_time(&b, us);
        break;
    }
    case CORIO_PG_TIMESTAMP:
    case CORIO_PG_TIMESTAMPTZ: {
        if (len != 8) return -EPROTO;
        /* microseconds since 2000-01-01, PostgreSQL's epoch, as sb_timestamp takes them */
        sb_timestamp(&b, (int64_t)be64(v), t == CORIO_PG_TIMESTAMPTZ);
        break;
    }
    case CORIO_PG_UUID:
        if (len != 16) return -EPROTO;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) sb_putc(&b, '-');
            sb_printf(&b, "%02x", (unsigned char)v[i]);
        }
        break;
    case CORIO_PG_INTERVAL: {
        if (len != 16) return -EPROTO;
        corio_pg_interval iv = interval_from(v);
        sb_interval(&b, iv.months, iv.days, iv.us);
        break;
    }
    default:
        if (!pg__array_elem(t)) return CORIO_PG_ETYPE;
        rc = sb_array(&b, t, v, len);
        break;
    }
    *bp = b;
    return rc;
}

int corio_pg_get_str(const corio_pg_result *r, int row, int col, char *buf, size_t cap) {
    const char *v; int len; uint32_t t;
    if (!buf && cap) return -EINVAL;
    int rc = cell(r, row, col, NULL, 0, "", &v, &len, &t);
    if (rc < 0) return rc;
    rc = pg__format_value(t, v, len, buf, cap);
    if (rc == CORIO_PG_ETYPE)
        return rerr((corio_pg_result *)r, rc, "column %d (\"%s\"): type oid %u has no text form here (select it ::text)",
                    col, PQfname(r->res, col), t);
    if (rc == -EPROTO) return badlen(r, col, len);
    if (rc == -EDOM)
        return rerr((corio_pg_result *)r, rc, "column %d (\"%s\"): an array of more than one dimension (select it ::text)",
                    col, PQfname(r->res, col));
    return rc;
}

/* ---- big results' buffers (pg_rows): freed with their result, kept by their home ------- */

void pg__rows_free(pg_rows *w) {
    if (!w) return;
    free(w->cells);
    free(w->data);
    free(w);
}

void pg__rows_release(pg_home *h, pg_rows *w) {
    if (!w) return;
    if (w->cellcap * sizeof(pg_cell) + w->cap > PG_SPARE_MAX) {
        pg__rows_free(w);
        return;
    }
    /* keep the newest: the next big result is most likely its like */
    pg__rows_free(atomic_exchange(&h->spare, w));
}

void pg__home_unref(pg_home *h) {
    if (h && atomic_fetch_sub(&h->refs, 1) == 1) {
        pg__rows_free(atomic_exchange(&h->spare, NULL));
        free(h);
    }
}
