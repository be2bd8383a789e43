/*
 * test_pg_io.c - corio-pg's I/O paths against a real PostgreSQL 15:
 * cancellation and timeouts mid-query (the connection stays usable), a
 * backend killed mid-query, COPY both ways (100,000 rows), 1,000,000 rows
 * streamed in flat memory, pipelines and executemany, LISTEN/NOTIFY, the
 * pool (limits, timeouts, reset on release, dead connections replaced,
 * close waiting for borrowers), one connection refused to two tasks, a
 * network cut (a proxy that goes silent) under a query's timeout.
 * Runs on each backend.
 */
#include "pg_test.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PG_TEST_ASAN 1
#endif
#endif


/* ---- cancellation ------------------------------------------------------------------------ */

typedef struct sleeper {
    corio_pg_conn *c;
    double returned_at;
} sleeper;

static int sleep_task(void *arg) {
    sleeper *s = arg;
    int rc = corio_pg_execute(s->c, "SELECT pg_sleep(10)", NULL, 0);
    s->returned_at = corio_time();
    return rc;
}

static int cancel_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    /* cancel a pg_sleep(10): the call returns once the server aborted it */
    sleeper s = {c, 0};
    corio_task *t = corio_spawn(sleep_task, &s);
    CHECK_EQ(corio_sleep(0.2), 0);
    double t0 = corio_time();
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    double took = s.returned_at - t0;
    printf("  cancel to return: %.1f ms\n", took * 1000);
    CHECK(took < 5.0); /* behaviour, not timing: far below the 10 s of the query */
    CHECK(corio_pg_is_ok(c));
    int64_t v = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 7", NULL, 0, &v), 0);
    CHECK_EQ(v, 7);
    /* the server is not running anything for us any more */
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'", NULL, 0, &v), 0);
    CHECK_EQ(v, 0);

    /* a timeout scope does the same and says -ETIMEDOUT */
    corio_timeout to;
    corio_timeout_enter(&to, 0.1);
    int rc = corio_pg_execute(c, "SELECT pg_sleep(10)", NULL, 0);
    rc = corio_timeout_exit(&to, rc);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT $1::int8", CORIO_PG_ARGS(corio_pg_int8(8)), &v), 0);
    CHECK_EQ(v, 8);
    /* with parameters, in a fetch */
    corio_timeout_enter(&to, 0.1);
    corio_pg_result *r = NULL;
    rc = corio_pg_fetch(c, "SELECT pg_sleep($1)", CORIO_PG_ARGS(corio_pg_float8(10)), &r);
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    CHECK(r == NULL);
    /* cancelled inside a transaction: the transaction is failed, not gone */
    CHECK_EQ(corio_pg_begin(c, CORIO_PG_DEFAULT), 0);
    corio_timeout_enter(&to, 0.1);
    rc = corio_pg_execute(c, "SELECT pg_sleep(10)", NULL, 0);
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    CHECK(corio_pg_in_transaction(c));
    CHECK_EQ(corio_pg_rollback(c), 0);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 9", NULL, 0, &v), 0);
    CHECK_EQ(v, 9);

    /* two tasks on one connection: the second is refused, not interleaved */
    s.returned_at = 0;
    t = corio_spawn(sleep_task, &s);
    CHECK_EQ(corio_sleep(0.05), 0);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1", NULL, 0), -EBUSY);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1", NULL, 0), 1);
    corio_pg_close(c);
    return 0;
}

static void test_cancel(void) { test_run(cancel_main, NULL, 0); }

/* ---- the server goes away ------------------------------------------------------------------ */

static int terminate_main(void *arg) {
    (void)arg;
    corio_pg_conn *a = pg_conn(), *b = pg_conn();
    if (!a || !b) return -1;
    sleeper s = {a, 0};
    corio_task *t = corio_spawn(sleep_task, &s);
    CHECK_EQ(corio_sleep(0.2), 0);
    bool killed = false;
    corio_pg_result *r = NULL;
    CHECK_EQ(corio_pg_fetchrow(b, "SELECT pg_terminate_backend($1)", CORIO_PG_ARGS(corio_pg_int4(corio_pg_backend_pid(a))), &r), 1);
    CHECK_EQ(corio_pg_get_bool(r, 0, 0, &killed), 0);
    CHECK(killed);
    corio_pg_result_free(r);
    CHECK_EQ(corio_join(t), -ECONNRESET);
    CHECK(!corio_pg_is_ok(a));
    printf("  killed backend: %s [%s]\n", corio_pg_last_error(a)->message, corio_pg_last_error(a)->sqlstate);
    CHECK(strstr(corio_pg_last_error(a)->message, "terminat") != NULL);
    CHECK_EQ(corio_pg_execute(a, "SELECT 1", NULL, 0), -ECONNRESET);
    corio_pg_close(a);

    /* killed while idle: the next query finds out */
    a = pg_conn();
    CHECK_EQ(corio_pg_execute(b, "SELECT pg_terminate_backend($1)", CORIO_PG_ARGS(corio_pg_int4(corio_pg_backend_pid(a)))), 1);
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK_EQ(corio_pg_execute(a, "SELECT 1", NULL, 0), -ECONNRESET);
    CHECK(!corio_pg_is_ok(a));
    corio_pg_close(a);
    corio_pg_close(b);
    return 0;
}

static void test_terminate(void) { test_run(terminate_main, NULL, 0); }

/* ---- a network cut -------------------------------------------------------------------------- */

/* A TCP proxy in front of the server that can stop forwarding without
 * closing anything: what a pulled cable or a dropped route looks like to
 * both ends (no FIN, no RST, no error: just silence). */
#define CUT_FDS 8
typedef struct cut_proxy {
    int lfd, port;
    bool cut;
    int fds[CUT_FDS];
    int nfds;
    corio_task *pipes[CUT_FDS];
    int npipes;
} cut_proxy;

typedef struct cut_pipe {
    cut_proxy *p;
    int from, to;
} cut_pipe;

static int cut_pipe_main(void *arg) {
    cut_pipe *a = arg;
    char buf[16384];
    for (;;) {
        ssize_t n = corio_read(a->from, buf, sizeof buf);
        if (n <= 0) break;
        if (a->p->cut) continue; /* dropped on the way */
        if (corio_write_all(a->to, buf, (size_t)n) != n) break;
    }
    free(a);
    return 0;
}

static void cut_pipe_start(cut_proxy *p, int from, int to) {
    cut_pipe *a = malloc(sizeof *a);
    *a = (cut_pipe){p, from, to};
    p->pipes[p->npipes++] = corio_spawn(cut_pipe_main, a);
}

static int cut_proxy_main(void *arg) {
    cut_proxy *p = arg;
    while (p->nfds + 2 <= CUT_FDS) {
        int c = corio_accept(p->lfd, NULL, NULL);
        if (c < 0) break;
        int s = corio_tcp_connect("127.0.0.1", pg_port);
        if (s < 0) {
            corio_close(c);
            continue;
        }
        p->fds[p->nfds++] = c;
        p->fds[p->nfds++] = s;
        cut_pipe_start(p, c, s);
        cut_pipe_start(p, s, c);
    }
    return 0;
}

static int cut_main(void *arg) {
    (void)arg;
    cut_proxy p = {.lfd = corio_tcp_listen("127.0.0.1", 0, 16)};
    CHECK(p.lfd >= 0);
    p.port = corio_local_port(p.lfd);
    corio_task *acceptor = corio_spawn(cut_proxy_main, &p);
    char dsn[256];
    snprintf(dsn, sizeof dsn, "postgresql://postgres@127.0.0.1:%d/postgres", p.port);
    corio_pg_conn *c = NULL;
    CHECK_EQ(corio_pg_connect(dsn, &c), 0);
    int64_t v = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 5", NULL, 0, &v), 0);
    CHECK_EQ(v, 5);

    /* The network goes silent: the query's timeout still ends the call,
     * after the cancel's grace, and the connection is closed with a reason
     * instead of waiting for ever for an answer that cannot come. */
    p.cut = true;
    double t0 = corio_time();
    corio_timeout to;
    corio_timeout_enter(&to, 0.2);
    int rc = corio_pg_execute(c, "SELECT 1", NULL, 0);
    rc = corio_timeout_exit(&to, rc);
    double took = corio_time() - t0;
    printf("  network cut: %s after %.2f s: %s\n", corio_strerror(rc), took, corio_pg_last_error(c)->message);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(took < 10.0);
    CHECK(!corio_pg_is_ok(c));
    CHECK(strstr(corio_pg_last_error(c)->message, "closed") != NULL);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1", NULL, 0), -ECONNRESET);
    corio_pg_close(c);

    /* Take the proxy down (still dropping everything: nothing is written to
     * a socket being shut down), then a new, direct connection works. */
    corio_cancel(acceptor);
    corio_join(acceptor);
    for (int i = 0; i < p.nfds; i++) shutdown(p.fds[i], SHUT_RDWR);
    for (int i = 0; i < p.npipes; i++) corio_join(p.pipes[i]);
    for (int i = 0; i < p.nfds; i++) corio_close(p.fds[i]);
    corio_close(p.lfd);
    c = pg_conn();
    CHECK(c != NULL);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 6", NULL, 0, &v), 0);
    CHECK_EQ(v, 6);
    corio_pg_close(c);
    return 0;
}

static void test_network_cut(void) { test_run(cut_main, NULL, 0); }

/* ---- COPY --------------------------------------------------------------------------------- */

typedef struct copy_sink {
    long rows;
    uint64_t bytes;
    uint64_t hash;
} copy_sink;

static int sink_write(void *arg, const char *data, size_t len) {
    copy_sink *s = arg;
    s->rows++;
    s->bytes += len;
    s->hash = fnv1a(s->hash, data, len);
    return 0;
}

typedef struct copy_source {
    long next, end;
} copy_source;

static long source_read(void *arg, char *buf, size_t cap) {
    copy_source *s = arg;
    size_t n = 0;
    while (s->next < s->end && cap - n > 64) {
        n += (size_t)snprintf(buf + n, cap - n, "%ld\trow %ld\n", s->next, s->next);
        s->next++;
    }
    return (long)n;
}

static long source_fails(void *arg, char *buf, size_t cap) {
    copy_source *s = arg;
    if (s->next >= 1000) return -EIO;
    return source_read(arg, buf, cap < 4096 ? cap : 4096);
}

static int stop_after_10(void *arg, const char *data, size_t len) {
    copy_sink *s = arg;
    sink_write(arg, data, len);
    return s->rows >= 10 ? -EPIPE : 0;
}

static int copy_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    long n = pg_scale(100000, 5000);
    CHECK_EQ(corio_pg_execute(c, "CREATE TEMP TABLE cp(id int, v text)", NULL, 0), 0);
    /* from memory */
    size_t cap = (size_t)n * 32, len = 0;
    char *data = malloc(cap);
    uint64_t hash = FNV_INIT;
    for (long i = 0; i < n; i++) {
        int w = snprintf(data + len, cap - len, "%ld\tvalue %ld\n", i, i * 7);
        hash = fnv1a(hash, data + len, (size_t)w);
        len += (size_t)w;
    }
    CHECK_EQ(corio_pg_copy_from(c, "COPY cp FROM STDIN", data, len), n);
    int64_t v = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM cp", NULL, 0, &v), 0);
    CHECK_EQ(v, n);
    /* back out, byte for byte */
    copy_sink sink = {0, 0, FNV_INIT};
    CHECK_EQ(corio_pg_copy_to(c, "COPY (SELECT * FROM cp ORDER BY id) TO STDOUT", sink_write, &sink), n);
    CHECK_EQ(sink.rows, n);
    CHECK_EQ(sink.bytes, len);
    CHECK(sink.hash == hash);
    free(data);
    /* from a callback */
    copy_source src = {0, n};
    CHECK_EQ(corio_pg_copy_from_cb(c, "COPY cp FROM STDIN", source_read, &src), n);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM cp", NULL, 0, &v), 0);
    CHECK_EQ(v, 2 * n);
    /* a failing source aborts the COPY: nothing is added */
    copy_source bad = {0, n};
    CHECK_EQ(corio_pg_copy_from_cb(c, "COPY cp FROM STDIN", source_fails, &bad), -EIO);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM cp", NULL, 0, &v), 0);
    CHECK_EQ(v, 2 * n);
    /* bad data: the server's error, and the connection goes on */
    CHECK_EQ(corio_pg_copy_from(c, "COPY cp FROM STDIN", "x\ty\n", 4), CORIO_PG_EDATA);
    /* a sink that stops early */
    copy_sink early = {0, 0, FNV_INIT};
    CHECK_EQ(corio_pg_copy_to(c, "COPY cp TO STDOUT", stop_after_10, &early), -EPIPE);
    CHECK_EQ(early.rows, 10);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 1", NULL, 0, &v), 0);
    /* the wrong statement for the call */
    CHECK_EQ(corio_pg_copy_from(c, "SELECT 1", "", 0), -EINVAL);
    CHECK_EQ(corio_pg_copy_to(c, "COPY cp FROM STDIN", sink_write, &sink), -EINVAL);
    CHECK_EQ(corio_pg_execute(c, "COPY cp TO STDOUT", NULL, 0), -EINVAL);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM cp", NULL, 0, &v), 0);
    CHECK_EQ(v, 2 * n);
    corio_pg_close(c);
    return 0;
}

static void test_copy(void) { test_run(copy_main, NULL, 0); }

/* ---- streaming ------------------------------------------------------------------------------- */

/* Resident memory now (not the high-water mark, which earlier cases raised). */
static long rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int stream_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    long n = pg_scale(1000000, 20000);
    /* warm up the allocator's arenas first so the high-water mark is ours */
    CHECK_EQ(corio_pg_stream(c, "SELECT i, repeat('x', 100) FROM generate_series(1, $1) i", CORIO_PG_ARGS(corio_pg_int4(1000))), 0);
    corio_pg_result *row;
    int rc;
    while ((rc = corio_pg_stream_next(c, &row)) == 1) corio_pg_result_free(row);
    long rss0 = rss_kib(), peak = rss0;
    CHECK_EQ(corio_pg_stream(c, "SELECT i, repeat('x', 100) FROM generate_series(1, $1) i", CORIO_PG_ARGS(corio_pg_int4((int32_t)n))), 0);
    long rows = 0;
    int64_t sum = 0;
    while ((rc = corio_pg_stream_next(c, &row)) == 1) {
        int32_t i = 0;
        CHECK_EQ(corio_pg_get_int32(row, 0, 0, &i), 0);
        sum += i;
        if (++rows % 50000 == 0 && rss_kib() > peak) peak = rss_kib();
        corio_pg_result_free(row);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(rows, n);
    CHECK(sum == (int64_t)n * (n + 1) / 2);
    long grew = peak - rss0;
    printf("  %ld rows of ~110 bytes streamed; peak RSS grew by %ld KiB\n", rows, grew);
#if defined(__SANITIZE_ADDRESS__) || defined(PG_TEST_ASAN)
    /* ASan keeps freed memory in quarantine (256 MiB): RSS says nothing here */
    printf("  (memory not checked under AddressSanitizer)\n");
#else
    CHECK(grew < 16 * 1024); /* the whole result would be > 100 MiB */
#endif
    CHECK(strcmp(corio_pg_command_status(c), "SELECT 0") == 0 || strncmp(corio_pg_command_status(c), "SELECT", 6) == 0);
    /* the connection is busy while a stream is open, free after */
    CHECK_EQ(corio_pg_stream(c, "SELECT generate_series(1, 100000)", NULL, 0), 0);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1", NULL, 0), -EBUSY);
    CHECK_EQ(corio_pg_stream_next(c, &row), 1);
    corio_pg_result_free(row);
    CHECK_EQ(corio_pg_stream_close(c), 0); /* early: the rest is cancelled */
    int64_t v = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 5", NULL, 0, &v), 0);
    CHECK_EQ(v, 5);
    /* an error in the middle of a stream */
    CHECK_EQ(corio_pg_stream(c, "SELECT 10 / (5 - i) FROM generate_series(1, 10) i", NULL, 0), 0);
    rows = 0;
    while ((rc = corio_pg_stream_next(c, &row)) == 1) rows++, corio_pg_result_free(row);
    CHECK_EQ(rc, CORIO_PG_EDATA);
    CHECK_EQ(rows, 4);
    CHECK_EQ(corio_pg_stream_next(c, &row), -EINVAL); /* over */
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 6", NULL, 0, &v), 0);
    /* a server-side cursor works through execute/fetch */
    CHECK_EQ(corio_pg_begin(c, CORIO_PG_DEFAULT), 0);
    CHECK_EQ(corio_pg_execute(c, "DECLARE cur CURSOR FOR SELECT generate_series(1, 1000)", NULL, 0), 0);
    long got = 0;
    corio_pg_result *r;
    while ((rc = corio_pg_fetch(c, "FETCH 300 FROM cur", NULL, 0, &r)) > 0) {
        got += rc;
        corio_pg_result_free(r);
    }
    corio_pg_result_free(r);
    CHECK_EQ(got, 1000);
    CHECK_EQ(corio_pg_commit(c), 0);
    corio_pg_close(c);
    return 0;
}

static void test_stream(void) { test_run(stream_main, NULL, 0); }

/* ---- pipelines ---------------------------------------------------------------------------------- */

static int pipeline_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    int n = (int)pg_scale(20000, 500);
    CHECK_EQ(corio_pg_pipeline_begin(c), 0);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1", NULL, 0), -EBUSY);
    for (int i = 0; i < n; i++) CHECK_EQ(corio_pg_pipeline_send(c, "SELECT $1::int4 * 2", CORIO_PG_ARGS(corio_pg_int4(i))), 0);
    CHECK_EQ(corio_pg_pipeline_sync(c), 0);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        corio_pg_result *r = NULL;
        int32_t v = -1;
        if (corio_pg_pipeline_next(c, &r) != 1 || corio_pg_get_int32(r, 0, 0, &v) != 0 || v != 2 * i) bad++;
        corio_pg_result_free(r);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(corio_pg_pipeline_next(c, NULL), -ENOMSG);
    /* both directions full at once: 100 KB echoed per query, nothing read
     * until the sync; the server stops reading while its answers wait, so
     * our sends must keep reading answers to get anywhere */
    int big = (int)pg_scale(300, 30);
    char *payload = malloc(100001);
    memset(payload, 'p', 100000);
    payload[100000] = 0;
    for (int i = 0; i < big; i++) CHECK_EQ(corio_pg_pipeline_send(c, "SELECT $1::text", CORIO_PG_ARGS(corio_pg_text(payload))), 0);
    CHECK_EQ(corio_pg_pipeline_sync(c), 0);
    bad = 0;
    for (int i = 0; i < big; i++) {
        corio_pg_result *r = NULL;
        size_t len = 0;
        const char *t = NULL;
        if (corio_pg_pipeline_next(c, &r) != 1 || corio_pg_get_text(r, 0, 0, &t, &len) != 0 || len != 100000) bad++;
        corio_pg_result_free(r);
    }
    CHECK_EQ(bad, 0);
    free(payload);
    /* an error aborts the rest of its batch, and only that */
    CHECK_EQ(corio_pg_pipeline_send(c, "SELECT 1", NULL, 0), 0);
    CHECK_EQ(corio_pg_pipeline_send(c, "SELECT 1/0", NULL, 0), 0);
    CHECK_EQ(corio_pg_pipeline_send(c, "SELECT 3", NULL, 0), 0);
    CHECK_EQ(corio_pg_pipeline_sync(c), 0);
    CHECK_EQ(corio_pg_pipeline_send(c, "SELECT 4", NULL, 0), 0);
    CHECK_EQ(corio_pg_pipeline_sync(c), 0);
    CHECK_EQ(corio_pg_pipeline_next(c, NULL), 1);
    CHECK_EQ(corio_pg_pipeline_next(c, NULL), CORIO_PG_EDATA);
    CHECK_EQ(corio_pg_pipeline_next(c, NULL), CORIO_PG_EABORTED);
    CHECK_EQ(corio_pg_pipeline_next(c, NULL), 1);
    /* next without a sync sends one rather than waiting forever */
    CHECK_EQ(corio_pg_pipeline_send(c, "SELECT 5", NULL, 0), 0);
    CHECK_EQ(corio_pg_pipeline_next(c, NULL), 1);
    CHECK_EQ(corio_pg_pipeline_end(c), 0);
    int64_t v = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 11", NULL, 0, &v), 0);
    CHECK_EQ(v, 11);
    /* a pipeline cancelled mid-way: the connection comes back */
    CHECK_EQ(corio_pg_pipeline_begin(c), 0);
    CHECK_EQ(corio_pg_pipeline_send(c, "SELECT pg_sleep(10)", NULL, 0), 0);
    CHECK_EQ(corio_pg_pipeline_send(c, "SELECT 2", NULL, 0), 0);
    CHECK_EQ(corio_pg_pipeline_sync(c), 0);
    corio_timeout to;
    corio_timeout_enter(&to, 0.1);
    int rc = corio_pg_pipeline_next(c, NULL);
    CHECK_EQ(corio_timeout_exit(&to, rc), -ETIMEDOUT);
    CHECK_EQ(corio_pg_pipeline_next(c, NULL), -ENOMSG);
    CHECK_EQ(corio_pg_pipeline_end(c), 0);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 12", NULL, 0, &v), 0);
    CHECK_EQ(v, 12);
    CHECK_EQ(corio_pg_pipeline_end(c), -EINVAL); /* not in a pipeline */

    /* executemany: all rows or none */
    CHECK_EQ(corio_pg_execute(c, "CREATE TEMP TABLE em(k int PRIMARY KEY, v text)", NULL, 0), 0);
    int rows = (int)pg_scale(10000, 300);
    corio_pg_param *ps = malloc(sizeof *ps * 2 * (size_t)rows);
    for (int i = 0; i < rows; i++) {
        ps[2 * i] = corio_pg_int4(i);
        ps[2 * i + 1] = corio_pg_text(i % 2 ? "odd" : "even");
    }
    CHECK_EQ(corio_pg_executemany(c, "INSERT INTO em VALUES ($1, $2)", ps, 2, rows), rows);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM em", NULL, 0, &v), 0);
    CHECK_EQ(v, rows);
    CHECK_EQ(corio_pg_execute(c, "DELETE FROM em WHERE k = 5", NULL, 0), 1);
    CHECK_EQ(corio_pg_executemany(c, "INSERT INTO em VALUES ($1, $2)", ps, 2, 10), CORIO_PG_EUNIQUE);
    CHECK(strcmp(corio_pg_last_error(c)->sqlstate, "23505") == 0);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM em", NULL, 0, &v), 0);
    CHECK_EQ(v, rows - 1); /* row 5 of the batch was not kept either */
    ps[7] = corio_pg_date_ymd(2020, 13, 1); /* a bad row: nothing is sent */
    CHECK_EQ(corio_pg_executemany(c, "INSERT INTO em VALUES ($1, $2)", ps, 2, 10), -EINVAL);
    free(ps);
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT count(*) FROM em", NULL, 0, &v), 0);
    CHECK_EQ(v, rows - 1);
    corio_pg_close(c);
    return 0;
}

static void test_pipeline(void) { test_run(pipeline_main, NULL, 0); }

/* ---- LISTEN / NOTIFY -------------------------------------------------------------------------- */

static int notifier(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    corio_sleep(0.05);
    int rc = corio_pg_execute(c, "SELECT pg_notify('chan', $1)", CORIO_PG_ARGS(corio_pg_text("hello")));
    corio_pg_close(c);
    return rc;
}

static int notify_main(void *arg) {
    (void)arg;
    corio_pg_conn *c = pg_conn();
    if (!c) return -1;
    CHECK_EQ(corio_pg_execute(c, "LISTEN chan", NULL, 0), 0);
    corio_task *t = corio_spawn(notifier, NULL);
    corio_pg_notify *n = NULL;
    CHECK_EQ(corio_pg_wait_notify(c, 5, &n), 0);
    CHECK(n && strcmp(n->channel, "chan") == 0 && strcmp(n->payload, "hello") == 0 && n->pid > 0);
    corio_pg_notify_free(n);
    CHECK_EQ(corio_join(t), 1);
    CHECK_EQ(corio_pg_wait_notify(c, 0.1, &n), -ETIMEDOUT);
    CHECK(n == NULL);
    /* one that arrived during a query is kept for the next wait */
    CHECK_EQ(corio_pg_execute(c, "NOTIFY chan, 'self'", NULL, 0), 0);
    CHECK_EQ(corio_pg_wait_notify(c, 0, &n), 0);
    CHECK(n && strcmp(n->payload, "self") == 0);
    corio_pg_notify_free(n);
    corio_pg_close(c);
    return 0;
}

static void test_notify(void) { test_run(notify_main, NULL, 0); }

/* ---- the pool ------------------------------------------------------------------------------------- */

typedef struct pool_user {
    corio_pg_pool *p;
    int queries;
    int ok;
} pool_user;

static int pool_worker(void *arg) {
    pool_user *u = arg;
    for (int i = 0; i < u->queries; i++) {
        corio_pg_conn *c;
        if (corio_pg_pool_acquire(u->p, 10, &c) < 0) return -1;
        int64_t v = 0;
        if (corio_pg_fetchval_int64(c, "SELECT $1::int8 + 1", CORIO_PG_ARGS(corio_pg_int8(i)), &v) == 0 && v == i + 1) u->ok++;
        corio_pg_pool_release(u->p, c);
    }
    return 0;
}

static int releaser(void *arg) {
    void **a = arg;
    corio_sleep(0.1);
    return corio_pg_pool_release(a[0], a[1]);
}

static int acquirer(void *arg) {
    corio_pg_conn *c = NULL;
    int rc = corio_pg_pool_acquire(arg, INFINITY, &c);
    if (rc == 0) corio_pg_pool_release(arg, c);
    return rc;
}

static int pool_main(void *arg) {
    (void)arg;
    corio_pg_pool *p = NULL;
    CHECK_EQ(corio_pg_pool_new(pg_dsn, &(corio_pg_pool_opts){.min_size = 2, .max_size = 3}, &p), 0);
    if (!p) return -1;
    CHECK_EQ(corio_pg_pool_size(p), 2);
    CHECK_EQ(corio_pg_pool_idle(p), 2);
    corio_pg_conn *a, *b, *c, *d = NULL;
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &a), 0);
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &b), 0);
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &c), 0);
    CHECK_EQ(corio_pg_pool_size(p), 3);
    CHECK_EQ(corio_pg_pool_acquire(p, 0.1, &d), -ETIMEDOUT);
    CHECK(d == NULL);
    /* a waiting acquire cancelled takes nothing with it */
    corio_task *w = corio_spawn(acquirer, p);
    CHECK_EQ(corio_sleep(0.05), 0);
    corio_cancel(w);
    CHECK_EQ(corio_join(w), -ECANCELED);
    CHECK_EQ(corio_pg_pool_size(p), 3);
    /* released in a transaction with session state: reset for the next */
    CHECK_EQ(corio_pg_execute(c, "SET application_name = 'dirty'", NULL, 0), 0);
    CHECK_EQ(corio_pg_begin(c, CORIO_PG_DEFAULT), 0);
    int pid_c = corio_pg_backend_pid(c);
    CHECK_EQ(corio_pg_pool_release(p, c), 0);
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &c), 0);
    CHECK_EQ(corio_pg_backend_pid(c), pid_c); /* the same one, LIFO */
    CHECK(!corio_pg_in_transaction(c));
    char *name = NULL;
    CHECK_EQ(corio_pg_fetchval_text(c, "SHOW application_name", NULL, 0, &name), 0);
    CHECK(name && strcmp(name, "dirty") != 0);
    free(name);
    /* a connection killed while idle in the pool is replaced */
    CHECK_EQ(corio_pg_execute(a, "SELECT pg_terminate_backend($1)", CORIO_PG_ARGS(corio_pg_int4(pid_c))), 1);
    CHECK_EQ(corio_pg_pool_release(p, c), 0);
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &c), 0);
    CHECK(corio_pg_backend_pid(c) != pid_c);
    int64_t v = 0;
    CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 3", NULL, 0, &v), 0);
    /* a broken borrowed one is dropped on release */
    CHECK_EQ(corio_pg_execute(a, "SELECT pg_terminate_backend($1)", CORIO_PG_ARGS(corio_pg_int4(corio_pg_backend_pid(c)))), 1);
    CHECK_EQ(corio_sleep(0.1), 0);
    CHECK_EQ(corio_pg_execute(c, "SELECT 1", NULL, 0), -ECONNRESET);
    CHECK_EQ(corio_pg_pool_release(p, c), 0);
    CHECK_EQ(corio_pg_pool_size(p), 2);
    CHECK_EQ(corio_pg_pool_release(p, b), 0);
    /* acquire waiting for a release */
    void *args[2] = {p, a};
    corio_task *t = corio_spawn(releaser, args);
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &c), 0);
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &d), 0);
    corio_pg_conn *e = NULL;
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &e), 0); /* a's, after the releaser */
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_pg_pool_release(p, c), 0);
    CHECK_EQ(corio_pg_pool_release(p, d), 0);
    CHECK_EQ(corio_pg_pool_release(p, NULL), -EINVAL);
    /* 10 tasks share 3 connections */
    pool_user users[10];
    corio_task *ts[10];
    for (int i = 0; i < 10; i++) {
        users[i] = (pool_user){p, (int)pg_scale(50, 5), 0};
        ts[i] = corio_spawn(pool_worker, &users[i]);
    }
    CHECK_EQ(corio_pg_pool_release(p, e), 0);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(corio_join(ts[i]), 0);
        CHECK_EQ(users[i].ok, users[i].queries);
    }
    CHECK(corio_pg_pool_size(p) <= 3);
    /* close waits for a borrowed connection */
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &a), 0);
    args[1] = a;
    t = corio_spawn(releaser, args);
    double t0 = corio_time();
    CHECK_EQ(corio_pg_pool_close(p), 0);
    CHECK(corio_time() - t0 >= 0.05);
    CHECK_EQ(corio_join(t), 0);
    /* a pool that cannot connect fails at once with the reason */
    CHECK_EQ(corio_pg_pool_new("postgresql://postgres@127.0.0.1:1/postgres", NULL, &p), CORIO_PG_ECONNECT);
    CHECK_EQ(corio_pg_pool_new(pg_dsn, &(corio_pg_pool_opts){.min_size = 5, .max_size = 2}, &p), -EINVAL);
    return 0;
}

static void test_pool(void) { test_run(pool_main, NULL, 0); }

/* ---- the server restarts ------------------------------------------------------------------------ */

static int restart_main(void *arg) {
    (void)arg;
    corio_pg_pool *p = NULL;
    CHECK_EQ(corio_pg_pool_new(pg_dsn, &(corio_pg_pool_opts){.min_size = 2, .max_size = 2}, &p), 0);
    if (!p) return -1;
    corio_pg_conn *held = NULL;
    CHECK_EQ(corio_pg_pool_acquire(p, 5, &held), 0);
    /* blocks the loop for the restart's second or two: fine in a test */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s restart %s", PG_SERVER_SH, pg_dir);
    CHECK_EQ(system(cmd), 0);
    /* the borrowed connection says clearly that its server went away */
    CHECK_EQ(corio_pg_execute(held, "SELECT 1", NULL, 0), -ECONNRESET);
    printf("  after a restart: %s\n", corio_pg_last_error(held)->message);
    CHECK(corio_pg_last_error(held)->message[0] != 0);
    CHECK_EQ(corio_pg_pool_release(p, held), 0);
    /* and the pool recovers: the dead idle one is replaced on acquire */
    for (int i = 0; i < 4; i++) {
        corio_pg_conn *c = NULL;
        int64_t v = 0;
        CHECK_EQ(corio_pg_pool_acquire(p, 10, &c), 0);
        if (c) {
            CHECK_EQ(corio_pg_fetchval_int64(c, "SELECT 1", NULL, 0, &v), 0);
            CHECK_EQ(corio_pg_pool_release(p, c), 0);
        }
    }
    CHECK_EQ(corio_pg_pool_close(p), 0);
    return 0;
}

static void test_restart(void) { test_run(restart_main, NULL, 0); }

static void run_all(void) {
    RUN_NET_TEST(test_cancel);
    RUN_NET_TEST(test_terminate);
    RUN_NET_TEST(test_copy);
    RUN_NET_TEST(test_stream);
    RUN_NET_TEST(test_pipeline);
    RUN_NET_TEST(test_notify);
    RUN_NET_TEST(test_pool);
    RUN_NET_TEST(test_restart);
    RUN_NET_TEST(test_network_cut);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pg_server_start();
    net_warm_up();
    run_on_each_backend(run_all);
    TEST_MAIN_END();
}
