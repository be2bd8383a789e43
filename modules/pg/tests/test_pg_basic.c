/*
 * test_pg_basic.c - corio-pg against a real PostgreSQL 15: connecting,
 * queries, every parameter type round-tripped (NULL and extremes), typed
 * getters and their refusals, errors, transactions, prepared statements
 * and the statement cache.  Runs on each backend.
 */
#include "pg_test.h"

#include <math.h>

/* ---- connecting ------------------------------------------------------------------- */

static int connect_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    CHECK(corio_pg_is_ok(c));
    CHECK(corio_pg_backend_pid(c) > 0);
    int64_t v = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT pg_backend_pid()", NULL, 0, &v), 0);
    CHECK_EQ(v, corio_pg_backend_pid(c));
    corio_pg_close(c);

    /* Unix socket, key=value form */
    CHECK_EQ(corio_pg_connect(pg_dsn_unix, &c), 0);
    if (c) {
        CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 41 + 1", NULL, 0, &v), 0);
        CHECK_EQ(v, 42);
        corio_pg_close(c);
    }
    /* a name resolved by corio ("localhost" never touches DNS) */
    char dsn[256], why[256];
    snprintf(dsn, sizeof dsn, "host=localhost port=%d user=postgres dbname=postgres", pg_port);
    CHECK_EQ(corio_pg_connect(dsn, &c), 0);
    corio_pg_close(c);

    /* refused: a port nobody listens on */
    int lfd = corio_tcp_listen("127.0.0.1", 0, 1);
    int dead_port = corio_local_port(lfd);
    corio_close(lfd);
    snprintf(dsn, sizeof dsn, "postgresql://postgres@127.0.0.1:%d/postgres", dead_port);
    corio_pg_connect_opts o = {.errbuf = why, .errcap = sizeof why};
    CHECK_EQ(corio_pg_connect_ex(dsn, &o, &c), CORIO_PG_ECONNECT);
    CHECK(c == NULL);
    CHECK(strstr(why, "refused") != NULL);
    CHECK(strchr(why, '\n') == NULL);

    /* a server that accepts and never speaks: the timeout */
    lfd = corio_tcp_listen("127.0.0.1", 0, 8);
    snprintf(dsn, sizeof dsn, "postgresql://postgres@127.0.0.1:%d/postgres", corio_local_port(lfd));
    o.timeout = 0.3;
    double t0 = corio_time();
    CHECK_EQ(corio_pg_connect_ex(dsn, &o, &c), -ETIMEDOUT);
    CHECK(corio_time() - t0 < 5);
    CHECK(strstr(why, "timed out") != NULL);
    corio_close(lfd);
    o.timeout = 0;

    /* malformed, unknown host, unknown database */
    CHECK_EQ(corio_pg_connect_ex("not a dsn", &o, &c), -EINVAL);
    CHECK(strstr(why, "bad connection string") != NULL);
    CHECK_EQ(corio_pg_connect_ex("postgresql://postgres@no-such-host.invalid/postgres", &o, &c), CORIO_EAI_NONAME);
    CHECK(strstr(why, "no-such-host.invalid") != NULL);
    snprintf(dsn, sizeof dsn, "postgresql://postgres@127.0.0.1:%d/no_such_db", pg_port);
    CHECK_EQ(corio_pg_connect_ex(dsn, &o, &c), CORIO_PG_ECONNECT);
    CHECK(strstr(why, "does not exist") != NULL);
    CHECK_EQ(corio_pg_connect(NULL, &c), -EINVAL);
    CHECK_EQ(corio_pg_connect(pg_dsn, NULL), -EINVAL);
    corio_pg_close(NULL);
    return 0;
}

static void test_connect(void) { test_run(connect_main, NULL, 0); }

/* ---- queries -------------------------------------------------------------------------- */

static int query_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    CHECK_EQ(corio_pg_execute(c, "CREATE TEMP TABLE t(id int PRIMARY KEY, name text, score float8)", NULL, 0), 0);
    CHECK(strcmp(corio_pg_command_status(c), "CREATE TABLE") == 0);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO t VALUES ($1, $2, $3)",
                              CORIO_PG_ARGS(corio_pg_int4(1), corio_pg_text("one"), corio_pg_float8(1.5))), 1);
    CHECK(strcmp(corio_pg_command_status(c), "INSERT 0 1") == 0);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO t VALUES (2, 'two', 2.5), (3, 'three', NULL)", NULL, 0), 2);
    /* several statements at once through the simple protocol */
    CHECK_EQ(corio_pg_execute(c, "UPDATE t SET score = score * 2 WHERE id = 1; UPDATE t SET score = 0 WHERE id > 1", NULL, 0), 2);

    corio_pg_result *r = NULL;
    CHECK_EQ(corio_pg_fetch(c, "SELECT id, name, score FROM t ORDER BY id", NULL, 0, &r), 3);
    CHECK_EQ(corio_pg_ncols(r), 3);
    CHECK(strcmp(corio_pg_colname(r, 1), "name") == 0);
    CHECK_EQ(corio_pg_coltype(r, 0), CORIO_PG_INT4);
    CHECK_EQ(corio_pg_col(r, "score"), 2);
    CHECK_EQ(corio_pg_col(r, "nope"), -ENOENT);
    int32_t id = 0;
    const char *name = NULL;
    double score = 0;
    CHECK_EQ(corio_pg_get_int32(r, 2, 0, &id), 0);
    CHECK_EQ(id, 3);
    CHECK_EQ(corio_pg_get_text(r, 2, corio_pg_col(r, "name"), &name, NULL), 0);
    CHECK(name && strcmp(name, "three") == 0);
    CHECK_EQ(corio_pg_get_double(r, 0, 2, &score), 0);
    CHECK(score == 3.0);
    corio_pg_result_free(r);

    CHECK_EQ(corio_pg_fetchrow(c, "SELECT * FROM t WHERE id = $1", CORIO_PG_ARGS(corio_pg_int4(99)), &r), 0);
    CHECK(r == NULL);
    CHECK_EQ(corio_pg_fetchrow(c, "SELECT * FROM t WHERE id = $1", CORIO_PG_ARGS(corio_pg_int8(2)), &r), 1);
    CHECK_EQ(corio_pg_nrows(r), 1);
    corio_pg_result_free(r);
    CHECK_EQ(corio_pg_fetch(c, "SELECT * FROM t WHERE false", NULL, 0, &r), 0);
    CHECK_EQ(corio_pg_ncols(r), 3);
    corio_pg_result_free(r);

    int64_t n = 0;
    double d = 0;
    char *s = NULL;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM t", NULL, 0, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(corio_pg_fetchval_double(c, "SELECT sum(score) FROM t", NULL, 0, &d), 0);
    CHECK(d == 3.0);
    CHECK_EQ(corio_pg_fetchval_text(c, "SELECT name FROM t WHERE id = $1", CORIO_PG_ARGS(corio_pg_int2(1)), &s), 0);
    CHECK(s && strcmp(s, "one") == 0);
    free(s);
    CHECK_EQ(corio_pg_fetchval_text(c, "SELECT 12.50::numeric", NULL, 0, &s), 0);
    CHECK(s && strcmp(s, "12.50") == 0);
    free(s);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT NULL::int", NULL, 0, &n), CORIO_PG_ENULL);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 1 WHERE false", NULL, 0, &n), CORIO_PG_ENULL);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 'x'::text", NULL, 0, &n), CORIO_PG_ETYPE);
    CHECK(strstr(corio_pg_last_error(c)->message, "text") != NULL);

    /* SQL injection through parameters is impossible: the value is data */
    const char *evil = "x'); DROP TABLE t; --";
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO t VALUES ($1, $2)", CORIO_PG_ARGS(corio_pg_int4(4), corio_pg_text(evil))), 1);
    CHECK_EQ(corio_pg_fetchval_text(c, "SELECT name FROM t WHERE id = 4", NULL, 0, &s), 0);
    CHECK(s && strcmp(s, evil) == 0);
    free(s);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM t", NULL, 0, &n), 0);
    CHECK_EQ(n, 4);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM t WHERE name = $1", CORIO_PG_ARGS(corio_pg_text("' OR '1'='1")), &n), 0);
    CHECK_EQ(n, 0);

    /* bad input is refused with a clear error, never a crash */
    CHECK_EQ(corio_pg_execute(c, NULL, NULL, 0), -EINVAL);
    CHECK_EQ(corio_pg_execute(c, "SELECT $1", NULL, 1), -EINVAL);
    CHECK_EQ(corio_pg_execute(NULL, "SELECT 1", NULL, 0), -EINVAL);
    CHECK_EQ(corio_pg_execute(c, "SELECT $1::date", CORIO_PG_ARGS(corio_pg_date_ymd(2023, 2, 29))), -EINVAL);
    CHECK(strstr(corio_pg_last_error(c)->message, "$1") != NULL);
    CHECK_EQ(corio_pg_fetch(c, "SELECT 1", NULL, 0, NULL), 1);
    corio_pg_close(c);
    return 0;
}

static void test_query(void) { test_run(query_main, NULL, 0); }

/* ---- every type, round-tripped ---------------------------------------------------------- */

/* SELECT $1::type; the value comes back through the getter and as the
 * server's own text (compared with corio_pg_get_str). */
static void roundtrip_text(corio_pg_conn *c, corio_pg_param p, const char *cast) {
    char sql[128], mine[512] = "";
    snprintf(sql, sizeof sql, "SELECT $1::%s, ($1::%s)::text", cast, cast);
    corio_pg_result *r = NULL;
    int rc = corio_pg_fetch(c, sql, &p, 1, &r);
    CHECK_EQ(rc, 1);
    if (rc != 1) {
        fprintf(stderr, "  %s: %s\n", cast, corio_pg_last_error(c)->message);
        corio_pg_result_free(r);
        return;
    }
    if (p.is_null) {
        CHECK_EQ(corio_pg_is_null(r, 0, 0), 1);
        CHECK_EQ(corio_pg_get_str(r, 0, 0, mine, sizeof mine), CORIO_PG_ENULL);
    } else {
        const char *theirs = NULL;
        CHECK_EQ(corio_pg_get_text(r, 0, 1, &theirs, NULL), 0);
        CHECK(corio_pg_get_str(r, 0, 0, mine, sizeof mine) >= 0);
        if (!theirs || strcmp(mine, theirs) != 0) {
            fprintf(stderr, "  %s: ours '%s', the server's '%s'\n", cast, mine, theirs ? theirs : "?");
            CHECK(0);
        }
    }
    corio_pg_result_free(r);
}

static corio_pg_result *one(corio_pg_conn *c, corio_pg_param p, const char *cast) {
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT $1::%s", cast);
    corio_pg_result *r = NULL;
    CHECK_EQ(corio_pg_fetch(c, sql, &p, 1, &r), 1);
    return r;
}

static int types_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    CHECK_EQ(corio_pg_execute(c, "SET TimeZone = 'UTC'", NULL, 0), 0);
    corio_pg_result *r;
    bool b;
    int32_t i32;
    int64_t i64;
    double d;

    /* integers and their extremes */
    int16_t i16s[] = {0, -1, INT16_MIN, INT16_MAX};
    for (int i = 0; i < 4; i++) {
        r = one(c, corio_pg_int2(i16s[i]), "int2");
        CHECK_EQ(corio_pg_get_int32(r, 0, 0, &i32), 0);
        CHECK_EQ(i32, i16s[i]);
        corio_pg_result_free(r);
        roundtrip_text(c, corio_pg_int2(i16s[i]), "int2");
    }
    int32_t i32s[] = {0, 7, INT32_MIN, INT32_MAX};
    for (int i = 0; i < 4; i++) {
        r = one(c, corio_pg_int4(i32s[i]), "int4");
        CHECK_EQ(corio_pg_get_int32(r, 0, 0, &i32), 0);
        CHECK_EQ(i32, i32s[i]);
        corio_pg_result_free(r);
        roundtrip_text(c, corio_pg_int4(i32s[i]), "int4");
    }
    int64_t i64s[] = {0, -5, INT64_MIN, INT64_MAX};
    for (int i = 0; i < 4; i++) {
        r = one(c, corio_pg_int8(i64s[i]), "int8");
        CHECK_EQ(corio_pg_get_int64(r, 0, 0, &i64), 0);
        CHECK(i64 == i64s[i]);
        CHECK_EQ(corio_pg_get_int32(r, 0, 0, &i32), CORIO_PG_ETYPE); /* never narrowed */
        corio_pg_result_free(r);
        roundtrip_text(c, corio_pg_int8(i64s[i]), "int8");
    }
    /* floats, with NaN, infinities and -0 */
    double f8s[] = {0.0, -0.0, 1.5, -1e308, 5e-324, INFINITY, -INFINITY, NAN, 0.1};
    for (int i = 0; i < 9; i++) {
        r = one(c, corio_pg_float8(f8s[i]), "float8");
        CHECK_EQ(corio_pg_get_double(r, 0, 0, &d), 0);
        CHECK(isnan(f8s[i]) ? isnan(d) : (d == f8s[i] && signbit(d) == signbit(f8s[i])));
        corio_pg_result_free(r);
        r = one(c, corio_pg_float4((float)f8s[i]), "float4");
        CHECK_EQ(corio_pg_get_double(r, 0, 0, &d), 0);
        CHECK(isnan(f8s[i]) ? isnan(d) : d == (double)(float)f8s[i]);
        corio_pg_result_free(r);
    }
    roundtrip_text(c, corio_pg_float8(NAN), "float8");
    roundtrip_text(c, corio_pg_float8(-INFINITY), "float8");
    /* Their text as the server prints it: the shortest digits that read
     * back the same, in exponent form below 1e-4 and from 1e15 (float8)
     * or 1e6 (float4). */
    double ftexts[] = {0.0, -0.0, 0.1, 0.3, 0.1 + 0.2, 1.5, 100, 1e6, 1234567, 12345678.9, 123456.7, 1e14, 1e15,
                      123456789012345.6, 1e16, 1e20, 0.0001, 0.00001, 1e-20, 5e-324, -1e308, 1.5e300, 2.5,
                      16777217, 3.4e38, 1e-45, 1.0 / 3, -2.0 / 3, 6.02214076e23, 299792458};
    for (size_t i = 0; i < sizeof ftexts / sizeof ftexts[0]; i++) {
        roundtrip_text(c, corio_pg_float8(ftexts[i]), "float8");
        if (fabs(ftexts[i]) <= 3.4e38) roundtrip_text(c, corio_pg_float4((float)ftexts[i]), "float4");
    }
    /* and random bit patterns */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 300; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double dv;
        float fv;
        uint32_t x32 = (uint32_t)(x >> 32);
        memcpy(&dv, &x, sizeof dv);
        memcpy(&fv, &x32, sizeof fv);
        if (isfinite(dv)) roundtrip_text(c, corio_pg_float8(dv), "float8");
        if (isfinite(fv)) roundtrip_text(c, corio_pg_float4(fv), "float4");
    }
    /* bool */
    for (int i = 0; i < 2; i++) {
        r = one(c, corio_pg_bool(i), "bool");
        CHECK_EQ(corio_pg_get_bool(r, 0, 0, &b), 0);
        CHECK_EQ(b, i);
        CHECK_EQ(corio_pg_get_str(r, 0, 0, NULL, 0), 1); /* 't' or 'f', the text format's form */
        corio_pg_result_free(r);
    }
    /* numeric as text, exactly */
    const char *nums[] = {"0", "12.50", "-0.000001", "123456789012345678901234567890.123456789", "NaN",
                          "1e-30", "10000", "-9999.9999", "Infinity"};
    for (int i = 0; i < 9; i++) roundtrip_text(c, corio_pg_numeric(nums[i]), "numeric");
    r = one(c, corio_pg_numeric("2.25"), "numeric");
    CHECK_EQ(corio_pg_get_double(r, 0, 0, &d), 0);
    CHECK(d == 2.25);
    corio_pg_result_free(r);
    /* text: empty, UTF-8, quotes and backslashes, long */
    static char longtext[100001];
    memset(longtext, 'x', sizeof longtext - 1);
    const char *texts[] = {"", "héllo wörld ✓", "it's \"quoted\" \\ back", longtext};
    for (int i = 0; i < 4; i++) {
        r = one(c, corio_pg_text(texts[i]), "text");
        const char *s = NULL;
        size_t len = 0;
        CHECK_EQ(corio_pg_get_text(r, 0, 0, &s, &len), 0);
        CHECK(s && len == strlen(texts[i]) && strcmp(s, texts[i]) == 0);
        corio_pg_result_free(r);
    }
    roundtrip_text(c, corio_pg_text("abc"), "varchar");
    /* bytea: all 256 byte values, NUL included */
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++) bytes[i] = (unsigned char)i;
    r = one(c, corio_pg_bytea(bytes, sizeof bytes), "bytea");
    const void *bp = NULL;
    size_t blen = 0;
    CHECK_EQ(corio_pg_get_bytea(r, 0, 0, &bp, &blen), 0);
    CHECK(blen == 256 && memcmp(bp, bytes, 256) == 0);
    corio_pg_result_free(r);
    roundtrip_text(c, corio_pg_bytea(bytes, 16), "bytea");
    roundtrip_text(c, corio_pg_bytea("", 0), "bytea");
    /* dates: ordinary, leap day, BC, the limits, infinity */
    corio_pg_date dates[] = {{1984, 3, 1}, {2000, 2, 29}, {1970, 1, 1}, {1, 1, 1}, {0, 12, 31},
                             {-4712, 1, 1}, {5874897, 12, 31}, {INT32_MAX, 0, 0}, {INT32_MIN, 0, 0}};
    for (int i = 0; i < 9; i++) {
        r = one(c, corio_pg_date_ymd(dates[i].year, dates[i].month, dates[i].day), "date");
        corio_pg_date got = {0, 0, 0};
        CHECK_EQ(corio_pg_get_date(r, 0, 0, &got), 0);
        CHECK(got.year == dates[i].year && got.month == dates[i].month && got.day == dates[i].day);
        corio_pg_result_free(r);
        roundtrip_text(c, corio_pg_date_ymd(dates[i].year, dates[i].month, dates[i].day), "date");
    }
    /* time of day */
    int64_t times[] = {0, 1, 86399999999LL, 45296789000LL};
    for (int i = 0; i < 4; i++) {
        r = one(c, corio_pg_time_us(times[i]), "time");
        CHECK_EQ(corio_pg_get_time_us(r, 0, 0, &i64), 0);
        CHECK(i64 == times[i]);
        corio_pg_result_free(r);
        roundtrip_text(c, corio_pg_time_us(times[i]), "time");
    }
    /* timestamps: the Unix epoch, before it, fractions, infinity */
    int64_t stamps[] = {0, -1, 446947200000000LL, 1700000000123456LL, -62135596800000000LL, INT64_MAX, INT64_MIN};
    for (int i = 0; i < 7; i++) {
        r = one(c, corio_pg_timestamp_us(stamps[i]), "timestamp");
        CHECK_EQ(corio_pg_get_timestamp_us(r, 0, 0, &i64), 0);
        CHECK(i64 == stamps[i]);
        corio_pg_result_free(r);
        r = one(c, corio_pg_timestamptz_us(stamps[i]), "timestamptz");
        CHECK_EQ(corio_pg_get_timestamp_us(r, 0, 0, &i64), 0);
        CHECK(i64 == stamps[i]);
        corio_pg_result_free(r);
        roundtrip_text(c, corio_pg_timestamp_us(stamps[i]), "timestamp");
        roundtrip_text(c, corio_pg_timestamptz_us(stamps[i]), "timestamptz");
    }
    /* uuid */
    unsigned char u[16], got[16];
    for (int i = 0; i < 16; i++) u[i] = (unsigned char)(i * 17 + 3);
    r = one(c, corio_pg_uuid(u), "uuid");
    CHECK_EQ(corio_pg_get_uuid(r, 0, 0, got), 0);
    CHECK(memcmp(u, got, 16) == 0);
    corio_pg_result_free(r);
    roundtrip_text(c, corio_pg_uuid(u), "uuid");
    /* json and jsonb as text */
    r = one(c, corio_pg_json("{\"a\": [1, 2]}"), "json");
    const char *js = NULL;
    CHECK_EQ(corio_pg_get_text(r, 0, 0, &js, NULL), 0);
    CHECK(js && strcmp(js, "{\"a\": [1, 2]}") == 0);
    corio_pg_result_free(r);
    r = one(c, corio_pg_jsonb("{\"b\":1,  \"a\": \"x\"}"), "jsonb");
    CHECK_EQ(corio_pg_get_text(r, 0, 0, &js, NULL), 0);
    CHECK(js && strcmp(js, "{\"a\": \"x\", \"b\": 1}") == 0);
    corio_pg_result_free(r);
    roundtrip_text(c, corio_pg_jsonb("[1, {\"k\": null}]"), "jsonb");

    /* NULL of every type */
    const char *casts[] = {"int2", "int4", "int8", "float4", "float8", "numeric", "text", "bytea", "bool",
                           "date", "time", "timestamp", "timestamptz", "uuid", "json", "jsonb"};
    for (int i = 0; i < 16; i++) {
        roundtrip_text(c, corio_pg_null(), casts[i]);
        r = one(c, corio_pg_null(), casts[i]);
        CHECK_EQ(corio_pg_is_null(r, 0, 0), 1);
        corio_pg_result_free(r);
    }
    roundtrip_text(c, corio_pg_text(NULL), "text");
    roundtrip_text(c, corio_pg_bytea(NULL, 3), "bytea");
    corio_pg_close(c);
    return 0;
}

static void test_types(void) { test_run(types_main, NULL, 0); }

static int getters_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    corio_pg_result *r = NULL;
    CHECK_EQ(corio_pg_fetch(c, "SELECT 'abc'::text AS name, NULL::int AS n, 5::int8 AS big, '{1,2}'::int[] AS arr, '[1,3)'::int4range AS rng", NULL, 0, &r), 1);
    int32_t i;
    CHECK_EQ(corio_pg_get_int32(r, 0, 0, &i), CORIO_PG_ETYPE);
    CHECK(strstr(corio_pg_result_error(r), "\"name\"") && strstr(corio_pg_result_error(r), "text"));
    CHECK_EQ(corio_pg_get_int32(r, 0, 1, &i), CORIO_PG_ENULL);
    CHECK(strstr(corio_pg_result_error(r), "NULL") != NULL);
    CHECK_EQ(corio_pg_get_int32(r, 0, 2, &i), CORIO_PG_ETYPE);
    CHECK_EQ(corio_pg_get_int32(r, 1, 0, &i), -EINVAL);
    CHECK_EQ(corio_pg_get_int32(r, 0, 9, &i), -EINVAL);
    CHECK_EQ(corio_pg_get_int32(r, -1, 0, &i), -EINVAL);
    CHECK_EQ(corio_pg_get_int32(NULL, 0, 0, &i), -EINVAL);
    char buf[8];
    CHECK_EQ(corio_pg_get_str(r, 0, 3, buf, sizeof buf), 5); /* arrays have their text form */
    CHECK(strcmp(buf, "{1,2}") == 0);
    CHECK_EQ(corio_pg_get_str(r, 0, 4, buf, sizeof buf), CORIO_PG_ETYPE); /* ranges do not */
    CHECK_EQ(corio_pg_get_str(r, 0, 0, buf, 2), 3); /* snprintf's contract */
    CHECK(strcmp(buf, "a") == 0);
    CHECK_EQ(corio_pg_is_null(r, 0, 1), 1);
    CHECK_EQ(corio_pg_is_null(r, 0, 0), 0);
    CHECK_EQ(corio_pg_is_null(r, 5, 0), -EINVAL);
    CHECK(strcmp(corio_pg_colname(r, 7), "") == 0);
    CHECK_EQ(corio_pg_nrows(NULL), -EINVAL);
    corio_pg_result_free(r);
    corio_pg_result_free(NULL);
    corio_pg_close(c);
    return 0;
}

static void test_getters(void) { test_run(getters_main, NULL, 0); }

/* ---- big results: fetched row by row into the connection's own buffers ---------------- */

/* Check a result of big_sql: row i has i, NULL on odd i, and 'x' * (i % 300). */
static int check_big(corio_pg_result *r, int n) {
    CHECK_EQ(corio_pg_nrows(r), n);
    CHECK_EQ(corio_pg_ncols(r), 3);
    CHECK(strcmp(corio_pg_colname(r, 2), "s") == 0);
    for (int i = 0; i < n; i += 97) {
        int32_t v = -1;
        CHECK_EQ(corio_pg_get_int32(r, i, 0, &v), 0);
        CHECK_EQ(v, i);
        CHECK_EQ(corio_pg_is_null(r, i, 1), i % 2);
        if (i % 2) CHECK_EQ(corio_pg_get_int32(r, i, 1, &v), CORIO_PG_ENULL);
        const char *s = NULL;
        size_t len = 0;
        CHECK_EQ(corio_pg_get_text(r, i, 2, &s, &len), 0);
        CHECK_EQ(len, (size_t)(i % 300));
        CHECK_EQ(strlen(s), len); /* text still reads as a C string */
    }
    CHECK_EQ(corio_pg_get_int32(r, n, 0, &(int32_t){0}), -EINVAL);
    return 0;
}

static int big_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    const char *sql = "SELECT i, CASE WHEN i % 2 = 1 THEN NULL ELSE i END AS n, repeat('x', i % 300) AS s "
                      "FROM generate_series(0, $1 - 1) AS i";
    corio_pg_result *r[4] = {0};
    /* the first is a PGresult over the threshold, which marks the statement:
     * the next ones come row by row, and keep coming right */
    for (int k = 0; k < 4; k++) {
        CHECK_EQ(corio_pg_fetch(c, sql, CORIO_PG_ARGS(corio_pg_int4(5000)), &r[k]), 5000);
        CHECK_EQ(check_big(r[k], 5000), 0);
    }
    corio_pg_result_free(r[1]);
    corio_pg_result_free(r[2]);
    /* small again: back to a PGresult; zero rows too */
    CHECK_EQ(corio_pg_fetch(c, sql, CORIO_PG_ARGS(corio_pg_int4(3)), &r[1]), 3);
    CHECK_EQ(check_big(r[1], 3), 0);
    corio_pg_result_free(r[1]);
    CHECK_EQ(corio_pg_fetch(c, sql, CORIO_PG_ARGS(corio_pg_int4(5000)), NULL), 5000);
    CHECK_EQ(corio_pg_fetch(c, sql, CORIO_PG_ARGS(corio_pg_int4(0)), &r[1]), 0);
    corio_pg_result_free(r[1]);
    /* an error in the middle of the rows: the rows are dropped, the
     * connection goes on */
    for (int k = 0; k < 2; k++) {
        corio_pg_result *e = NULL;
        int rc = corio_pg_fetch(c, "SELECT i, repeat('y', 100) AS s, 1 / (4000 - i) AS d FROM generate_series(0, $1) AS i",
                                CORIO_PG_ARGS(corio_pg_int4(k ? 5000 : 3000)), &e);
        if (k == 0) {
            CHECK_EQ(rc, 3001);
            corio_pg_result_free(e);
        } else {
            CHECK(rc < 0);
            CHECK(e == NULL);
            CHECK(strcmp(corio_pg_last_error(c)->sqlstate, "22012") == 0);
        }
    }
    int64_t v = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 7::int8", NULL, 0, &v), 0);
    CHECK_EQ(v, 7);
    /* results outlive their connection */
    corio_pg_close(c);
    CHECK_EQ(check_big(r[0], 5000), 0);
    CHECK_EQ(check_big(r[3], 5000), 0);
    corio_pg_result_free(r[0]);
    corio_pg_result_free(r[3]);
    return 0;
}

static void test_big(void) { test_run(big_main, NULL, 0); }

/* ---- errors ------------------------------------------------------------------------------- */

static int errors_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    const corio_pg_error *e = corio_pg_last_error(c);
    CHECK_EQ(corio_pg_execute(c, "SELEC 1", NULL, 0), CORIO_PG_ESYNTAX);
    CHECK(strcmp(e->sqlstate, "42601") == 0);
    CHECK(strstr(e->message, "syntax error") != NULL);
    CHECK_EQ(corio_pg_execute(c, "SELECT * FROM no_such_table", NULL, 0), CORIO_PG_ESYNTAX);
    CHECK(strcmp(e->sqlstate, "42P01") == 0);
    CHECK_EQ(corio_pg_execute(c, "CREATE TEMP TABLE u(k int PRIMARY KEY)", NULL, 0), 0);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO u VALUES ($1)", CORIO_PG_ARGS(corio_pg_int4(1))), 1);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO u VALUES ($1)", CORIO_PG_ARGS(corio_pg_int4(1))), CORIO_PG_EUNIQUE);
    CHECK(strcmp(e->sqlstate, "23505") == 0);
    CHECK(strstr(e->detail, "(k)=(1)") != NULL);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO u VALUES (NULL)", NULL, 0), CORIO_PG_EINTEGRITY);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1/0", NULL, 0), CORIO_PG_EDATA);
    CHECK(strcmp(e->sqlstate, "22012") == 0);
    CHECK_EQ(corio_pg_execute(c, "SELECT 'x'::int", NULL, 0), CORIO_PG_EDATA);
    CHECK_EQ(corio_pg_execute(c, "DO $$ BEGIN RAISE EXCEPTION 'boom' USING HINT = 'try again'; END $$", NULL, 0),
             CORIO_PG_ESERVER);
    CHECK(strcmp(e->message, "boom") == 0 && strcmp(e->hint, "try again") == 0);
    CHECK_EQ(corio_pg_execute(c, "SET statement_timeout = 50", NULL, 0), 0);
    CHECK_EQ(corio_pg_execute(c, "SELECT pg_sleep(5)", NULL, 0), CORIO_PG_EQUERYCANCELED);
    CHECK_EQ(corio_pg_execute(c, "RESET statement_timeout", NULL, 0), 0);
    /* the connection is fine after every error, and the error is cleared */
    int64_t v;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 1", NULL, 0, &v), 0);
    CHECK(e->sqlstate[0] == 0 && e->message[0] == 0);
    CHECK(strstr(corio_pg_strerror(CORIO_PG_EUNIQUE), "unique") != NULL);
    CHECK(strcmp(corio_pg_strerror(-ETIMEDOUT), corio_strerror(-ETIMEDOUT)) == 0);
    corio_pg_close(c);
    return 0;
}

static void test_errors(void) { test_run(errors_main, NULL, 0); }

/* ---- transactions ---------------------------------------------------------------------------- */

static int64_t count_t(corio_pg_conn *c) {
    int64_t n = -1;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM tx", NULL, 0, &n), 0);
    return n;
}

static int body_fails(corio_pg_conn *c, void *arg) {
    (void)arg;
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO tx VALUES (100)", NULL, 0), 1);
    return corio_pg_execute(c, "INSERT INTO tx VALUES (100)", NULL, 0); /* unique violation */
}

static int body_ok(corio_pg_conn *c, void *arg) {
    (void)arg;
    return corio_pg_execute(c, "INSERT INTO tx VALUES (200)", NULL, 0);
}

static int body_sleeps(corio_pg_conn *c, void *arg) {
    (void)arg;
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO tx VALUES (300)", NULL, 0), 1);
    return corio_pg_execute(c, "SELECT pg_sleep(10)", NULL, 0);
}

static int tx_task(void *arg) { return corio_pg_transaction(arg, CORIO_PG_DEFAULT, body_sleeps, NULL); }

static int tx_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    CHECK_EQ(corio_pg_execute(c, "CREATE TEMP TABLE tx(k int PRIMARY KEY)", NULL, 0), 0);
    CHECK_EQ(corio_pg_begin(c, CORIO_PG_DEFAULT), 0);
    CHECK(corio_pg_in_transaction(c));
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO tx VALUES (1)", NULL, 0), 1);
    CHECK_EQ(corio_pg_rollback(c), 0);
    CHECK(!corio_pg_in_transaction(c));
    CHECK_EQ(count_t(c), 0);
    CHECK_EQ(corio_pg_begin(c, CORIO_PG_SERIALIZABLE), 0);
    char *iso = NULL;
    CHECK_EQ(corio_pg_fetchval_text(c, "SHOW transaction_isolation", NULL, 0, &iso), 0);
    CHECK(iso && strcmp(iso, "serializable") == 0);
    free(iso);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO tx VALUES (1)", NULL, 0), 1);
    /* nested: a savepoint rolled back keeps the outer work */
    CHECK_EQ(corio_pg_begin(c, CORIO_PG_DEFAULT), 0);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO tx VALUES (2)", NULL, 0), 1);
    CHECK_EQ(corio_pg_rollback(c), 0);
    CHECK_EQ(corio_pg_begin(c, CORIO_PG_DEFAULT), 0);
    CHECK_EQ(corio_pg_execute(c, "INSERT INTO tx VALUES (3)", NULL, 0), 1);
    CHECK_EQ(corio_pg_commit(c), 0);
    CHECK_EQ(corio_pg_commit(c), 0);
    CHECK_EQ(count_t(c), 2);
    /* the helper: rolls back on failure, commits on success */
    CHECK_EQ(corio_pg_transaction(c, CORIO_PG_DEFAULT, body_fails, NULL), CORIO_PG_EUNIQUE);
    CHECK(strcmp(corio_pg_last_error(c)->sqlstate, "23505") == 0);
    CHECK(!corio_pg_in_transaction(c));
    CHECK_EQ(count_t(c), 2);
    CHECK_EQ(corio_pg_transaction(c, CORIO_PG_REPEATABLE_READ, body_ok, NULL), 1);
    CHECK_EQ(count_t(c), 3);
    /* ... and when the body is cancelled */
    corio_task *t = corio_spawn(tx_task, c);
    CHECK_EQ(corio_sleep(0.2), 0);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(corio_pg_is_ok(c));
    CHECK(!corio_pg_in_transaction(c));
    CHECK_EQ(count_t(c), 3);
    /* COMMIT of a failed transaction is a rollback, and says so */
    CHECK_EQ(corio_pg_begin(c, CORIO_PG_DEFAULT), 0);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1/0", NULL, 0), CORIO_PG_EDATA);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1", NULL, 0), CORIO_PG_ETXSTATE);
    CHECK_EQ(corio_pg_commit(c), CORIO_PG_ETXSTATE);
    CHECK(!corio_pg_in_transaction(c));
    CHECK_EQ(corio_pg_begin(c, (enum corio_pg_isolation)9), -EINVAL);
    corio_pg_close(c);
    return 0;
}

static void test_transactions(void) { test_run(tx_main, NULL, 0); }

/* ---- prepared statements and the cache -------------------------------------------------------- */

static int prepared_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    CHECK_EQ(corio_pg_execute(c, "CREATE TEMP TABLE p(id int, v text)", NULL, 0), 0);
    corio_pg_stmt *s = NULL;
    uint32_t types[] = {CORIO_PG_INT4, CORIO_PG_TEXT};
    CHECK_EQ(corio_pg_prepare(c, "INSERT INTO p VALUES ($1, $2)", types, 2, &s), 0);
    CHECK_EQ(corio_pg_stmt_nparams(s), 2);
    CHECK_EQ(corio_pg_stmt_param_type(s, 1), CORIO_PG_TEXT);
    for (int i = 0; i < 10; i++) CHECK_EQ(corio_pg_stmt_execute(s, CORIO_PG_ARGS(corio_pg_int4(i), corio_pg_text("v"))), 1);
    CHECK_EQ(corio_pg_stmt_execute(s, CORIO_PG_ARGS(corio_pg_int4(1))), -EINVAL);
    corio_pg_stmt *q = NULL;
    CHECK_EQ(corio_pg_prepare(c, "SELECT id FROM p WHERE id < $1 ORDER BY id", NULL, 0, &q), 0);
    CHECK_EQ(corio_pg_stmt_param_type(q, 0), CORIO_PG_INT4); /* inferred by the server */
    corio_pg_result *r = NULL;
    CHECK_EQ(corio_pg_stmt_fetch(q, CORIO_PG_ARGS(corio_pg_int4(5)), &r), 5);
    corio_pg_result_free(r);
    CHECK_EQ(corio_pg_stmt_close(s), 0);
    CHECK_EQ(corio_pg_prepare(c, "SELEC", NULL, 0, &s), CORIO_PG_ESYNTAX);
    CHECK(s == NULL);

    /* the cache: a table changed under a cached plan is re-prepared */
    CHECK_EQ(corio_pg_fetch(c, "SELECT * FROM p WHERE id = $1", CORIO_PG_ARGS(corio_pg_int4(3)), &r), 1);
    CHECK_EQ(corio_pg_ncols(r), 2);
    corio_pg_result_free(r);
    CHECK_EQ(corio_pg_execute(c, "ALTER TABLE p ADD COLUMN w int DEFAULT 7", NULL, 0), 0);
    CHECK_EQ(corio_pg_fetch(c, "SELECT * FROM p WHERE id = $1", CORIO_PG_ARGS(corio_pg_int4(3)), &r), 1);
    CHECK_EQ(corio_pg_ncols(r), 3);
    corio_pg_result_free(r);
    /* ... and after DISCARD ALL dropped every statement */
    CHECK_EQ(corio_pg_execute(c, "DISCARD PLANS; DEALLOCATE ALL", NULL, 0), 0);
    CHECK_EQ(corio_pg_fetch(c, "SELECT * FROM p WHERE id = $1", CORIO_PG_ARGS(corio_pg_int4(3)), &r), 1);
    corio_pg_result_free(r);
    /* more distinct statements than the cache holds */
    for (int i = 0; i < 130; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT $1::int + %d", i);
        int64_t v = 0;
        CHECK_EQ(corio_pg_fetchval_int64(c, sql, CORIO_PG_ARGS(corio_pg_int4(1)), &v), 0);
        CHECK_EQ(v, i + 1);
    }
    int64_t n = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM pg_prepared_statements", NULL, 0, &n), 0);
    CHECK(n <= 102);
    corio_pg_close(c); /* q is still open: the connection lets go of it */
    CHECK_EQ(corio_pg_stmt_execute(q, NULL, 0), -ECONNRESET);
    CHECK_EQ(corio_pg_stmt_close(q), 0);
    return 0;
}

static void test_prepared(void) { test_run(prepared_main, NULL, 0); }

/* ---- TLS: libpq's own sslmode over the loop's readiness ---------------------------------------- */

static int tls_main(void *arg) {
    (void)arg;
    char dsn[320];
    snprintf(dsn, sizeof dsn, "postgresql://postgres@localhost:%d/postgres?sslmode=require", pg_port);
    corio_pg_conn *c = NULL;
    char why[256] = "";
    int rc = corio_pg_connect_ex(dsn, &(corio_pg_connect_opts){.errbuf = why, .errcap = sizeof why}, &c);
    if (rc < 0 && strstr(why, "SSL")) {
        printf("  SKIP: the test server has no TLS (%s)\n", why);
        return 0;
    }
    CHECK_EQ(rc, 0);
    if (!c) return -1;
    char *v = NULL;
    CHECK_EQ(corio_pg_fetchval_text(c, "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl", NULL, 0, &v), 0);
    printf("  sslmode=require: %s\n", v ? v : "?");
    CHECK(v && strncmp(v, "TLS", 3) == 0);
    free(v);
    /* a query big enough to take several TLS records, and a cancel */
    corio_pg_result *r = NULL;
    CHECK_EQ(corio_pg_fetch(c, "SELECT repeat('x', 100000) FROM generate_series(1, 20)", NULL, 0, &r), 20);
    corio_pg_result_free(r);
    corio_timeout to;
    corio_timeout_enter(&to, 0.1);
    rc = corio_pg_execute(c, "SELECT pg_sleep(10)", NULL, 0);
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    int64_t n = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 2", NULL, 0, &n), 0);
    CHECK_EQ(n, 2);
    /* OpenSSL reads ahead (several records per recv): a record it holds
     * must be read without waiting for the socket, which has nothing more.
     * Many small rows in many records, twice (the second row by row), and
     * notifications sent back to back by another connection, in two
     * records that arrive together: the second must not wait for the
     * timeout. */
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(corio_pg_fetch(c, "SELECT i, repeat('y', i % 50) AS s FROM generate_series(1, $1) AS i",
                                CORIO_PG_ARGS(corio_pg_int4(20000)), &r), 20000);
        int64_t last = 0;
        CHECK_EQ(corio_pg_get_int64(r, 19999, 0, &last), 0);
        CHECK_EQ(last, 20000);
        corio_pg_result_free(r);
    }
    corio_pg_conn *c2 = NULL;
    CHECK_EQ(corio_pg_connect(dsn, &c2), 0);
    CHECK_EQ(corio_pg_execute(c, "LISTEN corio_tls", NULL, 0), 0);
    for (int round = 0; round < 3 && c2; round++) {
        CHECK_EQ(corio_pg_execute(c2, "NOTIFY corio_tls, 'a'", NULL, 0), 0);
        CHECK_EQ(corio_pg_execute(c2, "NOTIFY corio_tls, 'b'", NULL, 0), 0);
        corio_sleep(0.05); /* both records on the socket before the first wait */
        for (int k = 0; k < 2; k++) {
            corio_pg_notify *m = NULL;
            CHECK_EQ(corio_pg_wait_notify(c, 5.0, &m), 0);
            CHECK(m && strcmp(m->payload, k ? "b" : "a") == 0);
            corio_pg_notify_free(m);
        }
    }
    corio_pg_close(c2);
    corio_pg_close(c);
    return 0;
}

static void test_tls(void) { test_run(tls_main, NULL, 0); }

static void run_all(void) {
    RUN_NET_TEST(test_connect);
    RUN_NET_TEST(test_query);
    RUN_NET_TEST(test_types);
    RUN_NET_TEST(test_getters);
    RUN_NET_TEST(test_big);
    RUN_NET_TEST(test_errors);
    RUN_NET_TEST(test_transactions);
    RUN_NET_TEST(test_prepared);
    RUN_NET_TEST(test_tls);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pg_server_start();
    net_warm_up();
    run_on_each_backend(run_all);
    TEST_MAIN_END();
}
