/*
 * test_server.c - corio_server as asyncio 3.13's Server: the Unix socket
 * file removed at close (test_unix_server_addr_cleanup, _sock_cleanup,
 * _cleanup_replaced) and a stale one replaced at start
 * (test_create_unix_server_existing_path_sock); a failing handler logged
 * at ERROR and a cancelled one not at all (test_streams
 * test_unhandled_exception / test_unhandled_cancel); a handler that hands
 * its streams to another task and returns (test_start_server with
 * handle_client_callback: corio_server_detach).
 */
#include "test.h"

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static char dir[] = "/tmp/corio-server-XXXXXX";
static char path[96];

static bool exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static int quiet_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r, (void)w, (void)arg;
    return 0;
}

/* ---- the Unix socket file ------------------------------------------------------ */

static int unix_cleanup_main(void *arg) {
    (void)arg;
    corio_server *srv = NULL; /* NULL after a failed start: shutdown ignores it */
    /* Removed when the server closes. */
    srv = NULL;
    CHECK_EQ(corio_start_unix_server(path, quiet_handler, NULL, NULL, &srv), 0);
    CHECK(exists(path));
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    CHECK(!exists(path));

    /* A stale socket file at the path is replaced, and removed at close. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);
    CHECK(exists(path));
    srv = NULL;
    CHECK_EQ(corio_start_unix_server(path, quiet_handler, NULL, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_unix_connection(path, &r, &w), 0);
    corio_stream_close(r, w);
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    CHECK(!exists(path));

    /* Anything else at the path stays, and the start fails. */
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    srv = NULL;
    CHECK_EQ(corio_start_unix_server(path, quiet_handler, NULL, NULL, &srv), -EADDRINUSE);
    CHECK(exists(path));
    unlink(path);

    /* Replaced under the server (here by a regular file): the new file
     * stays when the server closes. */
    srv = NULL;
    CHECK_EQ(corio_start_unix_server(path, quiet_handler, NULL, NULL, &srv), 0);
    unlink(path);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    CHECK(exists(path));
    unlink(path);

    /* A server on a socket the caller bound (asyncio's sock=): removed too. */
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_EQ(listen(s, 8), 0);
    srv = NULL;
    CHECK_EQ(corio_server_open(s, quiet_handler, NULL, NULL, &srv), 0);
    CHECK(exists(path));
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    CHECK(!exists(path));

    /* The abstract namespace has no file: nothing to remove, nothing fails. */
    char name[64];
    snprintf(name, sizeof name, "@corio-server-%d", (int)getpid());
    srv = NULL;
    CHECK_EQ(corio_start_unix_server(name, quiet_handler, NULL, NULL, &srv), 0);
    CHECK_EQ(corio_open_unix_connection(name, &r, &w), 0);
    corio_stream_close(r, w);
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    return 0;
}

static void test_unix_cleanup(void) { CHECK_EQ(test_run(unix_cleanup_main, NULL, 0), 0); }

/* ---- how a handler's failure is logged ---------------------------------------- */

static int log_errors, log_mentions;

static void count_log(int level, const char *msg, void *arg) {
    (void)arg;
    if (strstr(msg, "client_connected_cb") || strstr(msg, "handler")) {
        log_mentions++;
        if (level == CORIO_LOG_ERROR && strstr(msg, "Unhandled exception in client_connected_cb") &&
            strstr(msg, corio_strerror(-EIO)))
            log_errors++;
    }
}

static int failing_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r, (void)w;
    if (*(int *)arg == 0) return -EIO;
    corio_cancel(corio_current_task());
    return corio_yield();
}

static int handler_log_main(void *arg) {
    (void)arg;
    for (int mode = 0; mode < 2; mode++) {
        log_errors = log_mentions = 0;
        corio_server *srv;
        CHECK_EQ(corio_start_server("127.0.0.1", 0, failing_handler, &mode, &srv), 0);
        corio_reader *r;
        corio_writer *w;
        CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
        char buf[8];
        ssize_t n = corio_reader_read(r, buf, sizeof buf); /* the handler's end closes the connection */
        CHECK(n == 0 || n == -ECONNRESET);
        corio_stream_close(r, w);
        CHECK_EQ(corio_server_shutdown(srv, 0), 0);
        if (mode == 0) {
            CHECK_EQ(log_errors, 1); /* the failure, at ERROR, naming the error */
            CHECK_EQ(log_mentions, 1);
        } else {
            CHECK_EQ(log_mentions, 0); /* a cancellation: nothing */
        }
    }
    return 0;
}

static void test_handler_log(void) {
    corio_log_set_handler(count_log, NULL);
    CHECK_EQ(test_run(handler_log_main, NULL, 0), 0);
    corio_log_set_handler(NULL, NULL);
}

/* ---- corio_server_detach: a handler that hands its streams over ---------------- */

typedef struct handoff {
    corio_reader *r;
    corio_writer *w;
    corio_task *task;
    int detach_rc, again_rc, other_rc;
    int echoed;
} handoff;

static handoff ho;

/* The task the streams were handed to: echo one line, then close. */
static int echo_later(void *arg) {
    handoff *h = arg;
    corio_sleep(0.02); /* well after the handler returned */
    const char *line;
    size_t n;
    int rc = corio_reader_readline(h->r, &line, &n);
    if (rc == 0) rc = corio_writer_write(h->w, line, n);
    if (rc == 0) rc = corio_writer_drain(h->w);
    if (rc == 0) h->echoed = 1;
    int crc = corio_stream_close(h->r, h->w);
    return rc < 0 ? rc : crc;
}

static int handoff_handler(corio_reader *r, corio_writer *w, void *arg) {
    handoff *h = arg;
    h->r = r;
    h->w = w;
    h->detach_rc = corio_server_detach(r, w);
    h->again_rc = corio_server_detach(r, w);
    h->task = corio_spawn(echo_later, h);
    return 0; /* at once: the connection stays open */
}

/* A handler that waits until another task detaches its streams. */
static corio_reader *late_r;
static corio_writer *late_w;
static int late_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    late_r = r;
    late_w = w;
    return corio_sleep(INFINITY);
}

static int handoff_main(void *arg) {
    (void)arg;
    corio_server *srv;
    memset(&ho, 0, sizeof ho);
    CHECK_EQ(corio_start_server("127.0.0.1", 0, handoff_handler, &ho, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    CHECK_EQ(corio_writer_write(w, "hello world!\n", 13), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    const char *line;
    size_t n;
    corio_timeout to;
    corio_timeout_enter(&to, 10);
    int rc = corio_reader_readline(r, &line, &n);
    CHECK_EQ(corio_timeout_exit(&to, rc), 0);
    CHECK(n == 13 && memcmp(line, "hello world!\n", 13) == 0);
    CHECK_EQ(corio_reader_readline(r, &line, &n), 0); /* then the other task closed it */
    CHECK_EQ(n, 0);
    corio_stream_close(r, w);
    CHECK_EQ(ho.detach_rc, 0);
    CHECK_EQ(ho.again_rc, -EALREADY);
    CHECK_EQ(corio_join(ho.task), 0);
    CHECK_EQ(ho.echoed, 1);
    CHECK_EQ(corio_server_connections(srv), 0);
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);

    /* Detached from another task while the handler runs; the server stops
     * counting it, and closing it with its handlers cancelled leaves the
     * connection to its new owner. */
    CHECK_EQ(corio_start_server("127.0.0.1", 0, late_handler, NULL, &srv), 0);
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    WAIT_UNTIL(late_w != NULL, 10);
    CHECK(late_w != NULL);
    CHECK_EQ(corio_server_connections(srv), 1);
    CHECK_EQ(corio_server_detach(late_r, NULL), -EINVAL);
    CHECK_EQ(corio_server_detach(r, w), -EINVAL); /* the client's own ends: not a handler's */
    CHECK_EQ(corio_server_detach(late_r, late_w), 0);
    CHECK_EQ(corio_server_detach(late_r, late_w), -EALREADY);
    CHECK_EQ(corio_server_connections(srv), 0);
    CHECK_EQ(corio_server_shutdown(srv, 1), 0); /* cancels the handler, waits for it */
    CHECK_EQ(corio_writer_write(late_w, "still\n", 6), 0);
    CHECK_EQ(corio_reader_readline(r, &line, &n), 0);
    CHECK(n == 6 && memcmp(line, "still\n", 6) == 0);
    /* The handler has returned: its handles are no longer the server's to give. */
    CHECK_EQ(corio_server_detach(late_r, late_w), -EINVAL);
    CHECK_EQ(corio_stream_close(late_r, late_w), 0);
    CHECK_EQ(corio_reader_readline(r, &line, &n), 0);
    CHECK_EQ(n, 0);
    corio_stream_close(r, w);
    return 0;
}

static void test_detach(void) { CHECK_EQ(test_run(handoff_main, NULL, 0), 0); }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/s", dir);
    RUN_TEST(test_unix_cleanup);
    RUN_TEST(test_handler_log);
    RUN_TEST(test_detach);
    unlink(path);
    rmdir(dir);
    TEST_MAIN_END();
}
