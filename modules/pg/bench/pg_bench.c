/*
 * pg_bench - corio-pg on MagicStack's pgbench workloads (the benchmark
 * asyncpg publishes), and pipelining over one connection.
 *
 *   pg_bench DSN WORKLOAD [--duration S] [--concurrency N] [--queries N]
 *
 * WORKLOAD: pg_type, generate_series, large_object, batch, oneplusone
 * (queries/1,2,3,6,7 of MagicStack/pgbench: the same SQL and arguments),
 * or pipeline / nopipeline (SELECT 1+1 over ONE connection, in batches of
 * 100 pipelined queries or one round trip each).  N tasks, each with its
 * own connection, run the query in a loop for S seconds (or N queries in
 * all with --queries, for instruction counts); every value of every row is
 * read with its typed getter, as the Python drivers turn each into an
 * object.  Prints one JSON line: queries, rows, seconds, queries/s, rows/s,
 * mean and p99 latency.
 */
#include <corio.h>
#include <corio/pg.h>

#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench {
    const char *dsn, *workload;
    double duration;
    int concurrency;
    long queries;      /* > 0: stop after this many in all */
    long done, rows;   /* counted by all tasks */
    double end;        /* loop time to stop at */
    double *lat;       /* latencies (seconds), up to nlat */
    long nlat, caplat;
    int failed;
} bench;

/* Read every cell with the getter its type calls for. */
static long touch(const corio_pg_result *r) {
    int rows = corio_pg_nrows(r), cols = corio_pg_ncols(r);
    long sink = 0;
    for (int j = 0; j < cols; j++) {
        uint32_t t = corio_pg_coltype(r, j);
        for (int i = 0; i < rows; i++) {
            int64_t v;
            double d;
            bool b;
            const char *s;
            const void *p;
            size_t len;
            switch (t) {
            case CORIO_PG_INT2: case CORIO_PG_INT4: case CORIO_PG_INT8: case CORIO_PG_OID:
                if (corio_pg_get_int64(r, i, j, &v) == 0) sink += v;
                break;
            case CORIO_PG_FLOAT4: case CORIO_PG_FLOAT8:
                if (corio_pg_get_double(r, i, j, &d) == 0) sink += (long)d;
                break;
            case CORIO_PG_BOOL:
                if (corio_pg_get_bool(r, i, j, &b) == 0) sink += b;
                break;
            case CORIO_PG_BYTEA:
                if (corio_pg_get_bytea(r, i, j, &p, &len) == 0) sink += (long)len;
                break;
            default:
                if (corio_pg_get_text(r, i, j, &s, &len) == 0) sink += (long)len;
                break;
            }
        }
    }
    return sink;
}

/* where touch()'s sums go, so that the compiler keeps the reads */
static volatile long bench_sink;

static void record(bench *b, double t0, long rows) {
    double dt = corio_time() - t0;
    b->done++;
    b->rows += rows;
    if (b->nlat < b->caplat) b->lat[b->nlat++] = dt;
}

static int more(bench *b) {
    if (b->failed) return 0;
    if (b->queries > 0) return b->done < b->queries;
    return corio_time() < b->end;
}

static int setup(corio_pg_conn *c, const char *w) {
    int rc = 0;
    if (!strcmp(w, "large_object"))
        rc = corio_pg_execute(c, "DROP TABLE IF EXISTS _bytes; CREATE TABLE _bytes(b bytea); "
                                 "INSERT INTO _bytes(b) (SELECT repeat('a', 1000)::bytea FROM generate_series(1, 100))",
                              NULL, 0);
    else if (!strcmp(w, "batch"))
        rc = corio_pg_execute(c, "DROP TABLE IF EXISTS _test; CREATE TABLE _test(a int, b int, c int, d text, e float, f int, g text)",
                              NULL, 0);
    return rc < 0 ? rc : 0;
}

static void teardown(corio_pg_conn *c, const char *w) {
    if (!strcmp(w, "large_object")) corio_pg_execute(c, "DROP TABLE _bytes", NULL, 0);
    else if (!strcmp(w, "batch")) corio_pg_execute(c, "DROP TABLE _test", NULL, 0);
}

static int worker(void *arg) {
    bench *b = arg;
    corio_pg_conn *c;
    int rc = corio_pg_connect(b->dsn, &c);
    if (rc < 0) {
        fprintf(stderr, "pg_bench: connect: %s\n", corio_pg_strerror(rc));
        b->failed = 1;
        return rc;
    }
    const char *w = b->workload;
    corio_pg_param *batch = NULL;
    if (!strcmp(w, "batch")) {
        batch = malloc(sizeof *batch * 7 * 1000);
        for (int i = 0; i < 1000; i++) {
            corio_pg_param *row = batch + 7 * i;
            row[0] = corio_pg_int4(10), row[1] = corio_pg_int4(11), row[2] = corio_pg_int4(10);
            row[3] = corio_pg_text("TESTTESTTEST"), row[4] = corio_pg_float8(10.333);
            row[5] = corio_pg_int4(12341234), row[6] = corio_pg_text("123412341234");
        }
    }
    long sink = 0;
    while (more(b)) {
        double t0 = corio_time();
        corio_pg_result *r = NULL;
        long rows = 0;
        if (!strcmp(w, "pg_type")) {
            rc = corio_pg_fetch(c, "select typname, typnamespace, typowner, typlen, typbyval, typcategory, typispreferred, "
                                   "typisdefined, typdelim, typrelid, typelem, typarray from pg_type where typtypmod = $1 "
                                   "and typisdefined = $2",
                                CORIO_PG_ARGS(corio_pg_int4(-1), corio_pg_bool(true)), &r);
        } else if (!strcmp(w, "generate_series")) {
            rc = corio_pg_fetch(c, "SELECT i FROM generate_series(1, $1) AS i", CORIO_PG_ARGS(corio_pg_int4(1000)), &r);
        } else if (!strcmp(w, "large_object")) {
            rc = corio_pg_fetch(c, "SELECT * FROM _bytes", NULL, 0, &r);
        } else if (!strcmp(w, "oneplusone") || !strcmp(w, "nopipeline")) {
            rc = corio_pg_fetch(c, "SELECT 1+1", NULL, 0, &r);
        } else if (!strcmp(w, "batch")) {
            rc = corio_pg_executemany(c, "INSERT INTO _test (a, b, c, d, e, f, g) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                      batch, 7, 1000);
            rows = 1000;
        } else if (!strcmp(w, "pipeline")) {
            /* 100 queries per round trip; each counts as a query */
            rc = corio_pg_pipeline_begin(c);
            for (int i = 0; i < 100 && rc == 0; i++) rc = corio_pg_pipeline_send(c, "SELECT 1+1", NULL, 0);
            if (rc == 0) rc = corio_pg_pipeline_sync(c);
            for (int i = 0; i < 100 && rc >= 0; i++) {
                corio_pg_result *pr = NULL;
                rc = corio_pg_pipeline_next(c, &pr);
                if (rc >= 0) sink += touch(pr), rows++;
                corio_pg_result_free(pr);
                if (i < 99 && rc >= 0) record(b, t0, 0), b->rows++;
            }
            if (rc >= 0) rc = corio_pg_pipeline_end(c);
            rows = 1;
        } else {
            fprintf(stderr, "pg_bench: unknown workload %s\n", w);
            b->failed = 1;
            break;
        }
        if (rc < 0) {
            fprintf(stderr, "pg_bench: %s: %s (%s)\n", w, corio_pg_strerror(rc), corio_pg_last_error(c)->message);
            b->failed = 1;
            break;
        }
        if (r) {
            sink += touch(r);
            rows = corio_pg_nrows(r);
            corio_pg_result_free(r);
        }
        record(b, t0, rows);
    }
    bench_sink += sink;
    free(batch);
    corio_pg_close(c);
    return 0;
}

/* CPU seconds (user + system) this process used so far: the client's cost,
 * which the machine's load disturbs much less than the wall clock. */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Minor page faults so far: pages the heap gave back and took again. */
static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int amain(void *arg) {
    bench *b = arg;
    corio_pg_conn *c;
    int rc = corio_pg_connect(b->dsn, &c);
    if (rc < 0 || (rc = setup(c, b->workload)) < 0) {
        fprintf(stderr, "pg_bench: setup: %s\n", corio_pg_strerror(rc));
        if (c) corio_pg_close(c);
        return rc;
    }
    corio_task **ts = calloc((size_t)b->concurrency, sizeof *ts);
    double t0 = corio_time(), cpu0 = cpu_seconds();
    long flt0 = minor_faults();
    b->end = t0 + b->duration;
    for (int i = 0; i < b->concurrency; i++) ts[i] = corio_spawn(worker, b);
    for (int i = 0; i < b->concurrency; i++) corio_join(ts[i]);
    double secs = corio_time() - t0, cpu = cpu_seconds() - cpu0;
    long flt = minor_faults() - flt0;
    free(ts);
    teardown(c, b->workload);
    corio_pg_close(c);
    if (b->failed) return -1;
    qsort(b->lat, (size_t)b->nlat, sizeof *b->lat, cmp_double);
    double mean = 0;
    for (long i = 0; i < b->nlat; i++) mean += b->lat[i];
    mean = b->nlat ? mean / b->nlat : 0;
    double p99 = b->nlat ? b->lat[(long)((b->nlat - 1) * 0.99)] : 0;
    printf("{\"driver\": \"corio-pg\", \"workload\": \"%s\", \"concurrency\": %d, \"queries\": %ld, \"rows\": %ld, "
           "\"seconds\": %.3f, \"qps\": %.1f, \"rows_per_s\": %.1f, \"mean_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"cpu_us_per_query\": %.2f, \"minflt_per_query\": %.3f}\n",
           b->workload, b->concurrency, b->done, b->rows, secs, b->done / secs, b->rows / secs, mean * 1e3, p99 * 1e3,
           b->done ? cpu * 1e6 / b->done : 0, b->done ? (double)flt / b->done : 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: pg_bench DSN WORKLOAD [--duration S] [--concurrency N] [--queries N]\n");
        return 2;
    }
    bench b = {.dsn = argv[1], .workload = argv[2], .duration = 5, .concurrency = 10};
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--duration")) b.duration = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--concurrency")) b.concurrency = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--queries")) b.queries = atol(argv[i + 1]);
    }
    if (!strcmp(b.workload, "pipeline") || !strcmp(b.workload, "nopipeline")) b.concurrency = 1;
    if (b.concurrency < 1) b.concurrency = 1;
    if (b.queries > 0) b.duration = INFINITY;
    b.caplat = 4000000;
    b.lat = malloc(sizeof *b.lat * (size_t)b.caplat);
    int rc = corio_run(amain, &b);
    free(b.lat);
    return rc < 0 ? 1 : 0;
}
