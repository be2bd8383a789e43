/*
 * test_pg_arrays.c - corio-pg's arrays, intervals and numerics against a
 * real PostgreSQL 15: one-dimensional arrays as parameters and through
 * corio_pg_get_array (empty, NULL elements, extremes, text that needs
 * quoting), `= ANY($1)`, the refusals (multi-dimensional, wrong element
 * type, narrowing), intervals' three parts, and the text forms checked
 * against the server's own ::text.  What asyncpg gives for the same
 * queries is noted beside the cases (asyncpg 0.27 on this machine).
 * Runs on each backend.
 */
#include "pg_test.h"

#include <math.h>

/* The value's text as corio_pg_get_str gives it equals the server's own
 * ::text of the same expression (column 1 of r). */
static void same_text(corio_pg_result *r, int col_value, int col_text) {
    char mine[2048] = "";
    const char *theirs = NULL;
    CHECK_EQ(corio_pg_get_text(r, 0, col_text, &theirs, NULL), 0);
    int n = corio_pg_get_str(r, 0, col_value, mine, sizeof mine);
    CHECK(n >= 0 && (size_t)n < sizeof mine);
    if (!theirs || strcmp(mine, theirs) != 0) {
        fprintf(stderr, "  ours '%s' (%s), the server's '%s'\n", mine, corio_pg_result_error(r), theirs ? theirs : "?");
        CHECK(0);
    }
}

/* SELECT $1, $1::text with one parameter: 1 row, or NULL (and a failed check). */
static corio_pg_result *echo(corio_pg_conn *c, corio_pg_param p) {
    corio_pg_result *r = NULL;
    int rc = corio_pg_fetch(c, "SELECT $1, $1::text", &p, 1, &r);
    CHECK_EQ(rc, 1);
    if (rc != 1) {
        fprintf(stderr, "  %s\n", corio_pg_last_error(c)->message);
        corio_pg_result_free(r);
        return NULL;
    }
    return r;
}

/* A query of one row whose column 0 is the value and column 1 its ::text. */
static corio_pg_result *query(corio_pg_conn *c, const char *sql) {
    corio_pg_result *r = NULL;
    int rc = corio_pg_fetch(c, sql, NULL, 0, &r);
    CHECK_EQ(rc, 1);
    if (rc != 1) {
        fprintf(stderr, "  %s: %s\n", sql, corio_pg_last_error(c)->message);
        corio_pg_result_free(r);
        return NULL;
    }
    return r;
}

/* ---- arrays of each parameter type, round-tripped ------------------------------------ */

static int params_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    corio_pg_result *r;
    corio_pg_array a;

    /* int4: extremes and a NULL element.  asyncpg: [-2147483648, None, 0, 2147483647] */
    int32_t i4[] = {INT32_MIN, 0, 0, INT32_MAX};
    bool i4null[] = {false, true, false, false};
    if ((r = echo(c, corio_pg_int4_array(i4, 4, i4null)))) {
        CHECK_EQ(corio_pg_coltype(r, 0), CORIO_PG_INT4_ARRAY);
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(a.elem_type, CORIO_PG_INT4);
        CHECK_EQ(a.n, 4);
        CHECK_EQ(a.index, -1);
        CHECK_EQ(corio_pg_array_is_null(&a), -EINVAL); /* before the first next() */
        int k = 0;
        while (corio_pg_array_next(&a) == 1) {
            CHECK_EQ(a.index, k);
            int32_t v = 1;
            int64_t w = 1;
            if (i4null[k]) {
                CHECK_EQ(corio_pg_array_is_null(&a), 1);
                CHECK_EQ(corio_pg_array_int32(&a, &v), CORIO_PG_ENULL);
                CHECK(strstr(corio_pg_result_error(r), "element 1") != NULL);
            } else {
                CHECK_EQ(corio_pg_array_is_null(&a), 0);
                CHECK_EQ(corio_pg_array_int32(&a, &v), 0);
                CHECK_EQ(v, i4[k]);
                CHECK_EQ(corio_pg_array_int64(&a, &w), 0); /* widening */
                CHECK_EQ(w, i4[k]);
            }
            k++;
        }
        CHECK_EQ(k, 4);
        CHECK_EQ(corio_pg_array_next(&a), 0); /* stays at the end */
        CHECK_EQ(corio_pg_array_is_null(&a), -EINVAL);
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    /* empty: asyncpg [] */
    if ((r = echo(c, corio_pg_int4_array(i4, 0, NULL)))) {
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(a.n, 0);
        CHECK_EQ(a.elem_type, CORIO_PG_INT4);
        CHECK_EQ(corio_pg_array_next(&a), 0);
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    /* a NULL pointer is an SQL NULL array */
    if ((r = echo(c, corio_pg_int4_array(NULL, 0, NULL)))) {
        CHECK_EQ(corio_pg_is_null(r, 0, 0), 1);
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), CORIO_PG_ENULL);
        corio_pg_result_free(r);
    }
    /* int2 */
    int16_t i2[] = {INT16_MIN, -1, INT16_MAX};
    if ((r = echo(c, corio_pg_int2_array(i2, 3, NULL)))) {
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(a.n, 3);
        for (int k = 0; corio_pg_array_next(&a) == 1; k++) {
            int32_t v = 0;
            CHECK_EQ(corio_pg_array_int32(&a, &v), 0);
            CHECK_EQ(v, i2[k]);
        }
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    /* int8: never narrowed.  asyncpg: [-9223372036854775808, None, 9223372036854775807] */
    int64_t i8[] = {INT64_MIN, 0, INT64_MAX, -5};
    bool i8null[] = {false, true, false, false};
    if ((r = echo(c, corio_pg_int8_array(i8, 4, i8null)))) {
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(a.n, 4);
        for (int k = 0; corio_pg_array_next(&a) == 1; k++) {
            int64_t v = 0;
            int32_t nv = 0;
            if (i8null[k]) {
                CHECK_EQ(corio_pg_array_int64(&a, &v), CORIO_PG_ENULL);
                continue;
            }
            CHECK_EQ(corio_pg_array_int64(&a, &v), 0);
            CHECK(v == i8[k]);
            CHECK_EQ(corio_pg_array_int32(&a, &nv), CORIO_PG_ETYPE);
            CHECK(strstr(corio_pg_result_error(r), "bigint") != NULL);
        }
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    /* float8: NaN, the infinities, -0, the smallest subnormal */
    double f8[] = {1.5, NAN, INFINITY, -INFINITY, -0.0, 5e-324, 0.25};
    bool f8null[] = {false, false, false, false, false, false, true};
    if ((r = echo(c, corio_pg_float8_array(f8, 7, f8null)))) {
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(a.n, 7);
        for (int k = 0; corio_pg_array_next(&a) == 1; k++) {
            double d = 0;
            if (f8null[k]) {
                CHECK_EQ(corio_pg_array_double(&a, &d), CORIO_PG_ENULL);
                continue;
            }
            CHECK_EQ(corio_pg_array_double(&a, &d), 0);
            CHECK(isnan(f8[k]) ? isnan(d) : (d == f8[k] && signbit(d) == signbit(f8[k])));
            int64_t i = 0;
            CHECK_EQ(corio_pg_array_int64(&a, &i), CORIO_PG_ETYPE);
        }
        corio_pg_result_free(r);
    }
    /* text comparison only with floats whose shortest form %.17g also gives */
    double f8t[] = {1.5, NAN, INFINITY, -INFINITY, 0.25};
    if ((r = echo(c, corio_pg_float8_array(f8t, 5, NULL)))) {
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    /* bool */
    bool bs[] = {true, false, true};
    bool bnull[] = {false, false, true};
    if ((r = echo(c, corio_pg_bool_array(bs, 3, bnull)))) {
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(a.n, 3);
        for (int k = 0; corio_pg_array_next(&a) == 1; k++) {
            bool b = false;
            CHECK_EQ(corio_pg_array_bool(&a, &b), bnull[k] ? CORIO_PG_ENULL : 0);
            if (!bnull[k]) CHECK_EQ(b, bs[k]);
        }
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    /* text: everything array_out must quote or escape, UTF-8, NULL.
     * asyncpg: ['a,b', '"q"', '{x}', 'back\\slash', 'é✓', '', None, 'NULL', ' sp '] */
    const char *ts[] = {"a,b", "\"q\"", "{x}", "back\\slash", "h\xc3\xa9llo \xe2\x9c\x93", "", NULL, "NULL", "null",
                        " sp ", "tab\there", "new\nline", "plain", "\xc3\xa9\xe2\x9c\x93"};
    int nts = (int)(sizeof ts / sizeof ts[0]);
    if ((r = echo(c, corio_pg_text_array(ts, (size_t)nts)))) {
        CHECK_EQ(corio_pg_coltype(r, 0), CORIO_PG_TEXT_ARRAY);
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(a.n, nts);
        for (int k = 0; corio_pg_array_next(&a) == 1; k++) {
            const char *s = NULL;
            size_t len = 99;
            if (!ts[k]) {
                CHECK_EQ(corio_pg_array_is_null(&a), 1);
                CHECK_EQ(corio_pg_array_text(&a, &s, &len), CORIO_PG_ENULL);
                continue;
            }
            CHECK_EQ(corio_pg_array_text(&a, &s, &len), 0);
            CHECK(s && len == strlen(ts[k]) && memcmp(s, ts[k], len) == 0);
            int32_t v;
            CHECK_EQ(corio_pg_array_int32(&a, &v), CORIO_PG_ETYPE);
            char buf[64];
            CHECK_EQ(corio_pg_array_str(&a, buf, sizeof buf), (int)strlen(ts[k]));
            CHECK(strcmp(buf, ts[k]) == 0);
        }
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    const char *empty_text[] = {""};
    if ((r = echo(c, corio_pg_text_array(empty_text, 1)))) {
        same_text(r, 0, 1); /* {""} */
        corio_pg_result_free(r);
    }

    /* = ANY($1) with an int array, and the empty array matching nothing */
    CHECK_EQ(corio_pg_execute(c, "CREATE TEMP TABLE t_any(id int4 PRIMARY KEY, name text)", NULL, 0), 0);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO t_any SELECT g, 'n' || g FROM generate_series(1, 10) g", NULL, 0), 10);
    int32_t want[] = {2, 5, 7, 42};
    bool want_null[] = {false, false, false, true};
    if (corio_pg_fetch(c, "SELECT id, name FROM t_any WHERE id = ANY($1) ORDER BY id",
                       CORIO_PG_ARGS(corio_pg_int4_array(want, 4, want_null)), &r) == 3) {
        int32_t id = 0;
        CHECK_EQ(corio_pg_get_int32(r, 2, 0, &id), 0);
        CHECK_EQ(id, 7);
        corio_pg_result_free(r);
    } else {
        CHECK(0);
    }
    int64_t n = -1;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM t_any WHERE id = ANY($1)",
                                     CORIO_PG_ARGS(corio_pg_int4_array(want, 0, NULL)), &n), 0);
    CHECK_EQ(n, 0);
    /* text against a text column, and an int8 array against int4 (the server casts) */
    const char *names[] = {"n3", "n4", "zz"};
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM t_any WHERE name = ANY($1)",
                                     CORIO_PG_ARGS(corio_pg_text_array(names, 3)), &n), 0);
    CHECK_EQ(n, 2);
    int64_t wide[] = {1, 10, INT64_MAX};
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM t_any WHERE id = ANY($1)",
                                     CORIO_PG_ARGS(corio_pg_int8_array(wide, 3, NULL)), &n), 0);
    CHECK_EQ(n, 2);
    /* into an int4[] column and back, with unnest */
    CHECK_EQ(corio_pg_execute(c, "CREATE TEMP TABLE t_arr(v int4[], s text[])", NULL, 0), 0);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO t_arr VALUES ($1, $2)",
                              CORIO_PG_ARGS(corio_pg_int4_array(i4, 4, i4null), corio_pg_text_array(ts, (size_t)nts))),
             1);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT sum(x) FROM t_arr, unnest(v) x", NULL, 0, &n), 0);
    CHECK_EQ(n, (int64_t)INT32_MIN + INT32_MAX);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT cardinality(s) FROM t_arr", NULL, 0, &n), 0);
    CHECK_EQ(n, nts);

    /* More than 16 parameters (libpq's arrays on the heap) with arrays among them:
     * the arrays' bytes follow those arrays in the same block. */
    corio_pg_param many[20];
    for (int i = 0; i < 20; i++) many[i] = i % 5 == 0 ? corio_pg_int8_array(i8, 4, i8null) : corio_pg_int4(i);
    many[19] = corio_pg_text_array(ts, (size_t)nts);
    char sql[512];
    int off = snprintf(sql, sizeof sql, "SELECT cardinality($1::int8[]) + cardinality($16::int8[])");
    for (int i = 2; i <= 19; i++)
        if ((i - 1) % 5) off += snprintf(sql + off, sizeof sql - (size_t)off, " + $%d::int4", i);
    off += snprintf(sql + off, sizeof sql - (size_t)off, " + cardinality($20::text[]) + cardinality($6::int8[]) + cardinality($11::int8[])");
    n = -1;
    CHECK_EQ(corio_pg_fetchval_int64(c, sql, many, 20, &n), 0);
    CHECK_EQ(n, 4 * 4 + (1 + 2 + 3 + 4 + 6 + 7 + 8 + 9 + 11 + 12 + 13 + 14 + 16 + 17 + 18) + nts);

    /* executemany and a prepared statement take arrays too */
    corio_pg_param rows[3][2];
    for (int i = 0; i < 3; i++) {
        rows[i][0] = corio_pg_int4_array(i4 + i, 1, NULL);
        rows[i][1] = corio_pg_text_array(ts + i, 2);
    }
    CHECK_EQ(corio_pg_executemany(c, "INSERT INTO t_arr VALUES ($1, $2)", &rows[0][0], 2, 3), 3);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM t_arr", NULL, 0, &n), 0);
    CHECK_EQ(n, 4);
    corio_pg_stmt *st = NULL;
    uint32_t types[] = {CORIO_PG_INT4_ARRAY};
    CHECK_EQ(corio_pg_prepare(c, "SELECT array_length($1, 1)", types, 1, &st), 0);
    if (st) {
        CHECK_EQ(corio_pg_stmt_param_type(st, 0), CORIO_PG_INT4_ARRAY);
        CHECK_EQ(corio_pg_stmt_fetch(st, CORIO_PG_ARGS(corio_pg_int4_array(i4, 3, NULL)), &r), 1);
        int32_t len = 0;
        CHECK_EQ(corio_pg_get_int32(r, 0, 0, &len), 0);
        CHECK_EQ(len, 3);
        corio_pg_result_free(r);
        CHECK_EQ(corio_pg_stmt_close(st), 0);
    }
    /* a count that does not fit libpq's int length is refused before sending */
    corio_pg_param huge = corio_pg_int4_array(i4, (size_t)1 << 40, NULL);
    CHECK_EQ(corio_pg_execute(c, "SELECT $1", &huge, 1), -EINVAL);
    CHECK(strstr(corio_pg_last_error(c)->message, "$1") != NULL);
    CHECK(corio_pg_is_ok(c));
    corio_pg_close(c);
    return 0;
}

static void test_array_params(void) { test_run(params_main, NULL, 0); }

/* ---- arrays the server makes: other element types, bounds, dimensions, refusals -------- */

static int results_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    CHECK_EQ(corio_pg_execute(c, "SET TimeZone = 'UTC'", NULL, 0), 0);
    corio_pg_result *r;
    corio_pg_array a;
    /* each one's text equals the server's */
    const char *exprs[] = {
        "ARRAY[1.5::numeric, NULL, 'NaN', '-0.000001', '123456789012345678901234567890.5']",
        "ARRAY['2000-01-01'::date, '0044-03-15 BC', 'infinity']",
        "ARRAY['2000-01-01 00:00'::timestamp, '1984-03-01 12:34:56.789']",
        "ARRAY['2000-01-01 00:00+00'::timestamptz]",
        "ARRAY['04:05:06.5'::time]",
        "ARRAY['1 day'::interval, '1 mon', '00:00:01', '-1 year -2 mons +3 days -04:05:06.5']",
        "ARRAY['\\x01ff'::bytea, '\\x']",
        "ARRAY['{\"a\": 1}'::jsonb, '\"x, y\"']",
        "ARRAY['a b'::varchar, 'c']",
        "ARRAY['x'::char(3)]",
        "ARRAY[1.5::float4, 'NaN']",
        "ARRAY['00112233-4455-6677-8899-aabbccddeeff'::uuid]",
        "ARRAY[1::oid, 4294967295]",
        "ARRAY['pg_class'::name]",
        "'[0:2]={1,2,3}'::int4[]",
        "'[-5:-5]={\"x\"}'::text[]",
        "'{}'::text[]",
        "ARRAY[NULL::int4, NULL]",
    };
    int nexprs = (int)(sizeof exprs / sizeof exprs[0]);
    for (int i = 0; i < nexprs; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT %s, (%s)::text", exprs[i], exprs[i]);
        if (!(r = query(c, sql))) continue;
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        int k = 0;
        while (corio_pg_array_next(&a) == 1) {
            char buf[128];
            int rc = corio_pg_array_str(&a, buf, sizeof buf);
            CHECK(rc >= 0 || (rc == CORIO_PG_ENULL && corio_pg_array_is_null(&a) == 1));
            k++;
        }
        CHECK_EQ(k, a.n);
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    /* a lower bound other than 1 is not kept: asyncpg [1, 2, 3] */
    if ((r = query(c, "SELECT '[0:2]={1,2,3}'::int4[], 0"))) {
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(a.n, 3);
        int32_t v = 0;
        CHECK_EQ(corio_pg_array_next(&a), 1);
        CHECK_EQ(corio_pg_array_int32(&a, &v), 0);
        CHECK_EQ(v, 1);
        corio_pg_result_free(r);
    }
    /* numeric and float4 elements read as double; interval elements */
    if ((r = query(c, "SELECT ARRAY[2.25::numeric, '-1e-3'], ARRAY[0.5::float4], ARRAY['1 mon 2 days 00:00:03'::interval]"))) {
        double d = 0;
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(corio_pg_array_next(&a), 1);
        CHECK_EQ(corio_pg_array_double(&a, &d), 0);
        CHECK(d == 2.25);
        CHECK_EQ(corio_pg_array_next(&a), 1);
        CHECK_EQ(corio_pg_array_double(&a, &d), 0);
        CHECK(d == -1e-3);
        CHECK_EQ(corio_pg_get_array(r, 0, 1, &a), 0);
        CHECK_EQ(corio_pg_array_next(&a), 1);
        CHECK_EQ(corio_pg_array_double(&a, &d), 0);
        CHECK(d == 0.5);
        CHECK_EQ(corio_pg_get_array(r, 0, 2, &a), 0);
        CHECK_EQ(corio_pg_array_next(&a), 1);
        corio_pg_interval iv = {0, 0, 0};
        CHECK_EQ(corio_pg_array_interval(&a, &iv), 0);
        CHECK(iv.months == 1 && iv.days == 2 && iv.us == 3000000);
        CHECK_EQ(corio_pg_array_text(&a, NULL, NULL), CORIO_PG_ETYPE);
        corio_pg_result_free(r);
    }
    /* jsonb and varchar elements read as text (jsonb without its version byte) */
    if ((r = query(c, "SELECT ARRAY['{\"a\":1}'::jsonb], ARRAY['v'::varchar]"))) {
        const char *s = NULL;
        size_t len = 0;
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), 0);
        CHECK_EQ(corio_pg_array_next(&a), 1);
        CHECK_EQ(corio_pg_array_text(&a, &s, &len), 0);
        CHECK(len == 8 && memcmp(s, "{\"a\": 1}", 8) == 0);
        CHECK_EQ(corio_pg_get_array(r, 0, 1, &a), 0);
        CHECK_EQ(corio_pg_array_next(&a), 1);
        CHECK_EQ(corio_pg_array_text(&a, &s, &len), 0);
        CHECK(len == 1 && s[0] == 'v');
        corio_pg_result_free(r);
    }
    /* Multi-dimensional arrays: -EDOM, not a flattened guess (asyncpg gives
     * nested lists).  Their ::text works, and unnest() flattens them. */
    if ((r = query(c, "SELECT '{{1,2},{3,4}}'::int4[], 1, NULL::int4[], ARRAY[1]"))) {
        CHECK_EQ(corio_pg_get_array(r, 0, 0, &a), -EDOM);
        CHECK(strstr(corio_pg_result_error(r), "dimension") != NULL);
        CHECK_EQ(a.n, 0);
        CHECK_EQ(corio_pg_array_next(&a), 0); /* a refused view is empty, never garbage */
        char buf[64];
        CHECK_EQ(corio_pg_get_str(r, 0, 0, buf, sizeof buf), -EDOM);
        /* not an array column; a NULL array */
        CHECK_EQ(corio_pg_get_array(r, 0, 1, &a), CORIO_PG_ETYPE);
        CHECK(strstr(corio_pg_result_error(r), "not an array") != NULL);
        CHECK_EQ(corio_pg_get_array(r, 0, 2, &a), CORIO_PG_ENULL);
        /* an array column through a scalar getter */
        int32_t v;
        CHECK_EQ(corio_pg_get_int32(r, 0, 3, &v), CORIO_PG_ETYPE);
        CHECK(strstr(corio_pg_result_error(r), "integer[]") != NULL);
        CHECK_EQ(corio_pg_get_array(r, 5, 0, &a), -EINVAL);
        CHECK_EQ(corio_pg_get_array(r, 0, 0, NULL), -EINVAL);
        corio_pg_result_free(r);
    }
    CHECK_EQ(corio_pg_array_next(NULL), -EINVAL);
    corio_pg_close(c);
    return 0;
}

static void test_array_results(void) { test_run(results_main, NULL, 0); }

/* ---- intervals --------------------------------------------------------------------------- */

static int interval_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    CHECK_EQ(corio_pg_execute(c, "SET IntervalStyle = 'postgres'", NULL, 0), 0);
    corio_pg_result *r;
    /* Round trips: each part on its own, mixed signs, the extremes of each
     * field.  PostgreSQL 15 keeps what it is given (no normalisation). */
    corio_pg_interval ivs[] = {
        {0, 0, 0},
        {14, 3, INT64_C(14706500000)},       /* 1 year 2 mons 3 days 04:05:06.5 */
        {-14, 3, -INT64_C(14706500000)},     /* -1 years -2 mons +3 days -04:05:06.5 */
        {1, 0, 0},
        {0, -1, 5},
        {0, 0, -1},
        {12, 0, 0},
        {0, 0, INT64_C(86400000000) * 40},   /* 960:00:00, not 40 days */
        {INT32_MAX, INT32_MAX, INT64_MAX},
        {INT32_MIN, INT32_MIN, INT64_MIN},
        {-1, 1, 1},
        {0, 1, -1},
    };
    int niv = (int)(sizeof ivs / sizeof ivs[0]);
    for (int i = 0; i < niv; i++) {
        if (!(r = echo(c, corio_pg_interval_of(ivs[i].months, ivs[i].days, ivs[i].us)))) continue;
        CHECK_EQ(corio_pg_coltype(r, 0), CORIO_PG_INTERVAL);
        corio_pg_interval got = {1, 1, 1};
        CHECK_EQ(corio_pg_get_interval(r, 0, 0, &got), 0);
        CHECK(got.months == ivs[i].months && got.days == ivs[i].days && got.us == ivs[i].us);
        same_text(r, 0, 1);
        corio_pg_result_free(r);
    }
    /* What the server parses.  asyncpg gives timedelta(days=33) for
     * '1 mon 3 days' (a month as 30 days, a year as 365): corio keeps the parts. */
    if ((r = query(c, "SELECT '1 mon 3 days'::interval, '1 year 2 mons 3 days 04:05:06.5'::interval, "
                      "'-1 year -2 mons +3 days -04:05:06.5'::interval, NULL::interval, 1"))) {
        corio_pg_interval iv;
        CHECK_EQ(corio_pg_get_interval(r, 0, 0, &iv), 0);
        CHECK(iv.months == 1 && iv.days == 3 && iv.us == 0);
        CHECK_EQ(corio_pg_get_interval(r, 0, 1, &iv), 0);
        CHECK(iv.months == 14 && iv.days == 3 && iv.us == INT64_C(14706500000));
        CHECK_EQ(corio_pg_get_interval(r, 0, 2, &iv), 0);
        CHECK(iv.months == -14 && iv.days == 3 && iv.us == -INT64_C(14706500000));
        CHECK_EQ(corio_pg_get_interval(r, 0, 3, &iv), CORIO_PG_ENULL);
        CHECK_EQ(corio_pg_get_interval(r, 0, 4, &iv), CORIO_PG_ETYPE);
        int64_t us;
        CHECK_EQ(corio_pg_get_timestamp_us(r, 0, 0, &us), CORIO_PG_ETYPE);
        corio_pg_result_free(r);
    }
    /* arithmetic on the server with an interval parameter */
    int64_t us = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT extract(epoch FROM $1::interval)::int8",
                                     CORIO_PG_ARGS(corio_pg_interval_of(0, 1, 1000000)), &us), 0);
    CHECK_EQ(us, 86401);
    char *s = NULL;
    CHECK_EQ(corio_pg_fetchval_text(c, "SELECT $1 + $2",
                                    CORIO_PG_ARGS(corio_pg_date_ymd(2024, 1, 31), corio_pg_interval_of(1, 0, 0)), &s), 0);
    CHECK(s && strcmp(s, "2024-02-29 00:00:00") == 0); /* a month is not 30 days */
    free(s);
    corio_pg_close(c);
    return 0;
}

static void test_interval(void) { test_run(interval_main, NULL, 0); }

/* ---- numeric as text, exactly -------------------------------------------------------------- */

static int numeric_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    /* Long values no double holds: asyncpg's Decimal keeps them, so does the text. */
    static char big[1200];
    int off = snprintf(big, sizeof big, "-");
    for (int i = 0; i < 600; i++) big[off++] = (char)('1' + i % 9);
    big[off++] = '.';
    for (int i = 0; i < 500; i++) big[off++] = (char)('0' + i % 10);
    big[off] = 0;
    const char *nums[] = {big, "0.000000000000000000000000000001", "-1e-30", "1E+20", "Infinity", "-Infinity", "NaN", "0.10"};
    const char *want[] = {big, "0.000000000000000000000000000001", "-0.000000000000000000000000000001",
                          "100000000000000000000", "Infinity", "-Infinity", "NaN", "0.10"};
    for (int i = 0; i < 8; i++) {
        corio_pg_result *r = echo(c, corio_pg_numeric(nums[i]));
        if (!r) continue;
        static char mine[1300];
        CHECK_EQ(corio_pg_get_str(r, 0, 0, mine, sizeof mine), (int)strlen(want[i]));
        CHECK(strcmp(mine, want[i]) == 0);
        const char *theirs = NULL;
        CHECK_EQ(corio_pg_get_text(r, 0, 1, &theirs, NULL), 0);
        CHECK(theirs && strcmp(theirs, want[i]) == 0);
        corio_pg_result_free(r);
    }
    /* a numeric that is not one: the server's error, the connection fine */
    corio_pg_result *r = NULL;
    CHECK_EQ(corio_pg_fetch(c, "SELECT $1", CORIO_PG_ARGS(corio_pg_numeric("1,5")), &r), CORIO_PG_EDATA);
    CHECK(corio_pg_is_ok(c));
    corio_pg_close(c);
    return 0;
}

static void test_numeric(void) { test_run(numeric_main, NULL, 0); }

static void run_all(void) {
    RUN_NET_TEST(test_array_params);
    RUN_NET_TEST(test_array_results);
    RUN_NET_TEST(test_interval);
    RUN_NET_TEST(test_numeric);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pg_server_start();
    net_warm_up();
    run_on_each_backend(run_all);
    TEST_MAIN_END();
}
