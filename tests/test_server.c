/*
 * test_server.c - corio_server as asyncio 3.13's Server: the Unix socket
 * file removed at close (test_unix_server_addr_cleanup, _sock_cleanup,
 * _cleanup_replaced) and a stale one replaced at start
 * (test_create_unix_server_existing_path_sock); a failing handler logged
 * at ERROR and a cancelled one not at all (test_streams
 * test_unhandled_exception / test_unhandled_cancel); a handler that hands
 * its streams to another task and returns (test_start_server with
 * handle_client_callback: corio_server_detach); close_clients and
 * abort_clients (test_server.py's test_close_clients, test_abort_clients,
 * and what the handler and the client see, from Python 3.13: the handler's
 * read gives b'' either way, the client reads what was flushed, then b'').
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

/* ---- close_clients / abort_clients (asyncio 3.13) ----------------------------------- */

/* What a handler saw; the handlers below record it here. */
typedef struct clients {
    corio_event started;        /* set once the handler has its streams */
    corio_reader *r;
    corio_writer *w;
    ssize_t read_rc;            /* its read after the close: 0, the end */
    int at_eof, write_rc, wait_rc;
    int returned;
} clients;

static clients cl;

/* test_close_clients's serve: read until the end, then close. */
static int read_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    cl.r = r;
    cl.w = w;
    CHECK_EQ(corio_writer_write(w, "bye\n", 4), 0); /* queued or sent: either way flushed by the close */
    corio_event_set(&cl.started);
    char buf[64];
    cl.read_rc = corio_reader_read(r, buf, sizeof buf);
    cl.at_eof = corio_reader_at_eof(r);
    cl.write_rc = corio_writer_write(w, "late", 4);
    cl.wait_rc = corio_writer_wait_closed(w);
    cl.returned = 1;
    return 0;
}

static int wait_closed_task(void *arg) { return corio_server_wait_closed(arg); }

static int close_clients_main(void *arg) {
    (void)arg;
    memset(&cl, 0, sizeof cl);
    corio_event_init(&cl.started);
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, read_handler, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    CHECK_EQ(corio_event_wait(&cl.started), 0);

    corio_task *t = corio_spawn(wait_closed_task, srv);
    CHECK(t != NULL);
    yield_n(2);
    CHECK(!corio_task_done(t));

    CHECK_EQ(corio_server_close(srv, 0), 0);
    CHECK_EQ(corio_server_close_clients(srv), 0);
    CHECK_EQ(corio_join(t), 0); /* the handler saw the end and returned */
    CHECK_EQ(cl.returned, 1);
    CHECK_EQ(cl.read_rc, 0);     /* asyncio: rd.read() gives b'' */
    CHECK_EQ(cl.at_eof, 1);
    CHECK_EQ(cl.write_rc, -ESHUTDOWN);
    CHECK_EQ(cl.wait_rc, 0);
    CHECK_EQ(corio_server_connections(srv), 0);
    /* The client: what the handler wrote, then the end. */
    const char *line;
    size_t n;
    CHECK_EQ(corio_reader_readline(r, &line, &n), 0);
    CHECK(n == 4 && memcmp(line, "bye\n", 4) == 0);
    CHECK_EQ(corio_reader_readline(r, &line, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(corio_server_close_clients(srv), 0); /* again, with none left: harmless */
    CHECK_EQ(corio_server_abort_clients(srv), 0);
    CHECK_EQ(corio_server_free(srv), 0);
    corio_stream_close(r, w);
    CHECK_EQ(corio_server_close_clients(NULL), -EINVAL);
    CHECK_EQ(corio_server_abort_clients(NULL), -EINVAL);
    corio_event_destroy(&cl.started);
    return 0;
}

static void test_close_clients(void) { CHECK_EQ(test_run(close_clients_main, NULL, 0), 0); }

/* A handler that does not read until told to. */
static corio_event go;
static int late_reader_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)w, (void)arg;
    corio_event_set(&cl.started);
    CHECK_EQ(corio_event_wait(&go), 0);
    char buf[64];
    cl.read_rc = corio_reader_read(r, buf, sizeof buf);
    cl.returned = 1;
    return 0;
}

static int close_clients_unread_main(void *arg) {
    (void)arg;
    /* A difference: bytes the client sent that the handler had not read
     * yet are still the kernel's (the reader pulls only when asked), so
     * closing the connection drops them, and the kernel may reset the
     * client's end for them.  asyncio's transport has read them already:
     * its handler reads b'hello\n', then b'', and the client sees b''.  And
     * corio_server_wait_closed returns once the handler has returned,
     * where asyncio's wait_closed returns before that handler reads. */
    memset(&cl, 0, sizeof cl);
    corio_event_init(&cl.started);
    corio_event_init(&go);
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, late_reader_handler, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    CHECK_EQ(corio_event_wait(&cl.started), 0);
    CHECK_EQ(corio_writer_write(w, "hello\n", 6), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    CHECK_EQ(corio_server_close(srv, 0), 0);
    CHECK_EQ(corio_server_close_clients(srv), 0);
    char buf[64];
    ssize_t k = corio_reader_read(r, buf, sizeof buf);
    CHECK(k == 0 || k == -ECONNRESET);
    corio_task *t = corio_spawn(wait_closed_task, srv);
    CHECK(t != NULL);
    yield_n(2);
    CHECK(!corio_task_done(t)); /* the handler has not returned */
    corio_event_set(&go);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(cl.returned, 1);
    CHECK_EQ(cl.read_rc, 0);
    CHECK_EQ(corio_server_free(srv), 0);
    corio_stream_close(r, w);
    corio_event_destroy(&go);
    corio_event_destroy(&cl.started);
    return 0;
}

static void test_close_clients_unread(void) { CHECK_EQ(test_run(close_clients_unread_main, NULL, 0), 0); }

/* test_abort_clients's serve: hand the streams out, wait until closed. */
static int wait_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    cl.r = r;
    cl.w = w;
    corio_event_set(&cl.started);
    cl.wait_rc = corio_writer_wait_closed(w);
    char buf[16];
    cl.read_rc = corio_reader_read(r, buf, sizeof buf);
    cl.returned = 1;
    return 0;
}

/* Write to w until its own buffer holds something: the client does not
 * read, so the kernel's buffers are full (as test_abort_clients does). */
static void fill_up(corio_writer *w) {
    int fd = corio_writer_fd(w);
    int sz = 65536;
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
    static char big[256 * 1024];
    memset(big, 'a', sizeof big);
    for (int i = 0; i < 40 && corio_writer_buffered(w) == 0; i++) {
        CHECK_EQ(corio_writer_write(w, big, sizeof big), 0);
        CHECK_EQ(corio_writer_flush(w), 0);
    }
    CHECK(corio_writer_buffered(w) > 0);
}

/* The client's end once the server aborted: what arrived, then the end
 * (or a reset); never all that was written. */
static void read_to_end(corio_reader *r) {
    char buf[65536];
    ssize_t k;
    while ((k = corio_reader_read(r, buf, sizeof buf)) > 0) {}
    CHECK(k == 0 || k == -ECONNRESET);
}

static int abort_clients_main(void *arg) {
    (void)arg;
    memset(&cl, 0, sizeof cl);
    corio_event_init(&cl.started);
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, wait_handler, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    int sz = 65536;
    CHECK_EQ(setsockopt(corio_writer_fd(w), SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz), 0);
    CHECK_EQ(corio_event_wait(&cl.started), 0);
    fill_up(cl.w);

    corio_task *t = corio_spawn(wait_closed_task, srv);
    CHECK(t != NULL);
    yield_n(2);
    CHECK(!corio_task_done(t));

    CHECK_EQ(corio_server_close(srv, 0), 0);
    CHECK_EQ(corio_server_abort_clients(srv), 0);
    CHECK_EQ(corio_join(t), 0); /* not waiting for the client to read */
    CHECK_EQ(cl.returned, 1);
    CHECK_EQ(cl.wait_rc, 0);
    CHECK_EQ(cl.read_rc, 0);
    CHECK_EQ(corio_server_free(srv), 0);
    read_to_end(r);
    corio_stream_close(r, w);
    corio_event_destroy(&cl.started);
    return 0;
}

static void test_abort_clients(void) { CHECK_EQ(test_run(abort_clients_main, NULL, 0), 0); }

/* A handler that writes more than the client takes and returns: the
 * server's close then flushes for as long as the client does not read. */
static int write_and_return_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    cl.r = r;
    cl.w = w;
    fill_up(w);
    corio_event_set(&cl.started);
    cl.returned = 1;
    return 0;
}

static int abort_flushing_main(void *arg) {
    (void)arg;
    /* The handler has returned and the server is flushing its connection
     * to a client that does not read: close_clients has nothing more to
     * do (it is closing already), abort_clients ends it. */
    memset(&cl, 0, sizeof cl);
    corio_event_init(&cl.started);
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, write_and_return_handler, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    int sz = 65536;
    CHECK_EQ(setsockopt(corio_writer_fd(w), SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz), 0);
    CHECK_EQ(corio_event_wait(&cl.started), 0);
    CHECK_EQ(corio_server_close(srv, 0), 0);
    corio_task *t = corio_spawn(wait_closed_task, srv);
    CHECK(t != NULL);
    yield_n(3);
    CHECK(!corio_task_done(t));
    CHECK_EQ(corio_server_close_clients(srv), 0);
    yield_n(3);
    CHECK(!corio_task_done(t)); /* still flushing */
    CHECK_EQ(corio_server_abort_clients(srv), 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_server_free(srv), 0);
    read_to_end(r);
    corio_stream_close(r, w);
    corio_event_destroy(&cl.started);
    return 0;
}

static void test_abort_flushing(void) { CHECK_EQ(test_run(abort_flushing_main, NULL, 0), 0); }

/* A handler that detaches its streams and hands them to the main task. */
static int detach_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    CHECK_EQ(corio_server_detach(r, w), 0);
    cl.r = r;
    cl.w = w;
    corio_event_set(&cl.started);
    return 0;
}

static int clients_skip_detached_main(void *arg) {
    (void)arg;
    /* A detached connection is not the server's: close_clients and
     * abort_clients leave it to its owner. */
    memset(&cl, 0, sizeof cl);
    corio_event_init(&cl.started);
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, detach_handler, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    CHECK_EQ(corio_event_wait(&cl.started), 0);
    CHECK_EQ(corio_server_close_clients(srv), 0);
    CHECK_EQ(corio_server_abort_clients(srv), 0);
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    CHECK(!corio_writer_is_closing(cl.w));
    CHECK_EQ(corio_writer_write(cl.w, "mine\n", 5), 0);
    const char *line;
    size_t n;
    CHECK_EQ(corio_reader_readline(r, &line, &n), 0);
    CHECK(n == 5 && memcmp(line, "mine\n", 5) == 0);
    CHECK_EQ(corio_stream_close(cl.r, cl.w), 0);
    CHECK_EQ(corio_reader_readline(r, &line, &n), 0);
    CHECK_EQ(n, 0);
    corio_stream_close(r, w);
    corio_event_destroy(&cl.started);
    return 0;
}

static void test_clients_skip_detached(void) { CHECK_EQ(test_run(clients_skip_detached_main, NULL, 0), 0); }

/* ---- the back pointer: a detached connection freed before its handler returns -------- */

static int close_it(void *arg) {
    clients *c = arg;
    return corio_stream_close(c->r, c->w);
}

static int detach_free_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    CHECK_EQ(corio_server_detach(r, w), 0);
    cl.r = r;
    cl.w = w;
    /* The new owner closes and frees the connection while this handler
     * still runs; the handler then returns, and the server must not
     * reach the freed connection (ASan would say so). */
    corio_task *t = corio_spawn(close_it, &cl);
    CHECK(t != NULL);
    CHECK_EQ(corio_join(t), 0);
    cl.returned = 1;
    return 0;
}

static int detach_freed_main(void *arg) {
    (void)arg;
    memset(&cl, 0, sizeof cl);
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, detach_free_handler, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    const char *line;
    size_t n;
    CHECK_EQ(corio_reader_readline(r, &line, &n), 0); /* closed by the new owner */
    CHECK_EQ(n, 0);
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    CHECK_EQ(cl.returned, 1);
    corio_stream_close(r, w);
    return 0;
}

static void test_detach_freed_before_return(void) { CHECK_EQ(test_run(detach_freed_main, NULL, 0), 0); }

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
    RUN_TEST(test_detach_freed_before_return);
    RUN_TEST(test_close_clients);
    RUN_TEST(test_close_clients_unread);
    RUN_TEST(test_abort_clients);
    RUN_TEST(test_abort_flushing);
    RUN_TEST(test_clients_skip_detached);
    unlink(path);
    rmdir(dir);
    TEST_MAIN_END();
}
