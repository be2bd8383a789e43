/*
 * test_exception_handler.c - the loop's exception handler
 * (asyncio loop.set_exception_handler / get_exception_handler /
 * default_exception_handler / call_exception_handler), after CPython's
 * test_base_events (test_set_exc_handler_custom, test_default_exc_handler_*,
 * test_call_exception_handler) and test_events' stream and protocol cases.
 *
 * The sequence case follows this Python program, run with 3.13.0
 * (PYENV_VERSION=3.13.0 python3):
 *
 *     events = []
 *     def handler(loop, ctx):
 *         exc = ctx.get('exception')
 *         keys = sorted(k for k in ctx if k != 'message')
 *         print('handler:', ctx['message'][:60], '|', type(exc).__name__ if exc else None, '|', keys)
 *     async def failing(): raise OSError(5, 'Input/output error')
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         print('default handler is', loop.get_exception_handler())
 *         loop.set_exception_handler(handler)
 *         t = asyncio.ensure_future(failing()); await asyncio.sleep(0)
 *         del t; gc.collect()                                  # 1 never retrieved
 *         loop.call_exception_handler({'message': 'custom report'})      # 2
 *         async def cb(r, w): raise OSError(5, 'Input/output error')
 *         srv = await asyncio.start_server(cb, '127.0.0.1', 0)            # 3
 *         ... connect, read to EOF, close ...
 *         class P(asyncio.Protocol):
 *             def data_received(self, data): raise ValueError('bad data')
 *             def connection_lost(self, exc): lost.set_result(...)
 *         psrv = await loop.create_server(P, '127.0.0.1', 0)              # 4
 *         ... connect, write b'hi', read to EOF ...
 *         async def parent():                                             # 5
 *             tg = asyncio.TaskGroup(); await tg.__aenter__()
 *             async def child(): await asyncio.sleep(0); await asyncio.sleep(0); raise OSError(5, ...)
 *             tg.create_task(child(), name='child')
 *             return 'parent returns without leaving the group'
 *         await asyncio.create_task(parent(), name='parent'); ... a few sleep(0) ...
 *         loop.set_exception_handler(None)                                # 6
 *         print('restored:', loop.get_exception_handler())
 *
 * Its output:
 *
 *     default handler is None
 *     installed: True
 *     handler: Task exception was never retrieved | OSError | ['exception', 'future']
 *     handler: custom report | None | []
 *     handler: Unhandled exception in client_connected_cb | OSError | ['exception', 'transport']
 *     client read: b''
 *     handler: Fatal error: protocol.data_received() call failed. | ValueError | ['exception', 'protocol', 'transport']
 *     client read: b''
 *     connection_lost got ValueError
 *     handler: Task <Task finished name='child' ...> has errored out but its parent task <Task finished name='parent' ...> is already completed | OSError | ['exception', 'task']
 *     restored: None
 *
 * In C a protocol callback returns nothing, so it cannot fail the way
 * data_received raises; the C form is the callback reporting its failure
 * itself with corio_loop_call_exception_handler and aborting its
 * transport (connection_lost then gets 0, not the error).  The C contexts
 * carry the error code for 'exception', the task (and the task's future,
 * as asyncio's 'future') where asyncio gives a task, and a `source`.
 */
#include "test.h"

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* ---- what the handler saw ------------------------------------------------------ */

#define MAX_SEEN 16
typedef struct seen {
    char message[160];
    char detail[160];
    char source[32];
    char task_name[64];
    int error;
    int has_task, future_is_task, has_transport;
    corio_loop *loop;
} seen;

static seen got[MAX_SEEN];
static int ngot;
static int handler_arg_ok;

static void record(corio_loop *loop, const corio_exception_context *ctx, void *arg) {
    if (arg == &handler_arg_ok) handler_arg_ok++;
    if (ngot >= MAX_SEEN) return;
    seen *s = &got[ngot++];
    memset(s, 0, sizeof *s);
    snprintf(s->message, sizeof s->message, "%s", ctx->message ? ctx->message : "");
    snprintf(s->detail, sizeof s->detail, "%s", ctx->detail ? ctx->detail : "");
    snprintf(s->source, sizeof s->source, "%s", ctx->source ? ctx->source : "");
    s->error = ctx->error;
    s->has_task = ctx->task != NULL;
    if (ctx->task) snprintf(s->task_name, sizeof s->task_name, "%s", corio_task_name(ctx->task));
    s->future_is_task = ctx->task && ctx->future == corio_task_future(ctx->task);
    s->has_transport = ctx->transport != NULL;
    s->loop = loop;
}

/* ---- what the logger got ------------------------------------------------------- */

static char last_log[512];
static int nlogs, last_level;

static void capture_log(int level, const char *msg, void *arg) {
    (void)arg;
    nlogs++;
    last_level = level;
    snprintf(last_log, sizeof last_log, "%s", msg);
}

static void reset(void) {
    ngot = 0;
    nlogs = 0;
    handler_arg_ok = 0;
    last_log[0] = 0;
}

/* ---- get / set / NULL restores the default ---------------------------------------- */

static void test_get_set(void) {
    corio_loop *loop = corio_loop_new();
    void *arg = &arg;
    CHECK(corio_loop_get_exception_handler(loop, &arg) == NULL); /* asyncio: None */
    CHECK(arg == NULL);
    CHECK_EQ(corio_loop_set_exception_handler(loop, record, &handler_arg_ok), 0);
    CHECK(corio_loop_get_exception_handler(loop, &arg) == record);
    CHECK(arg == &handler_arg_ok);
    CHECK(corio_loop_get_exception_handler(loop, NULL) == record);
    CHECK_EQ(corio_loop_set_exception_handler(loop, NULL, &handler_arg_ok), 0);
    CHECK(corio_loop_get_exception_handler(loop, &arg) == NULL);
    CHECK(arg == NULL);
    CHECK_EQ(corio_loop_set_exception_handler(NULL, record, NULL), -EINVAL);
    CHECK(corio_loop_get_exception_handler(NULL, &arg) == NULL);
    CHECK_EQ(corio_loop_close(loop), 0);
}

/* ---- call_exception_handler: a custom report, the handler and the default ------------ */

static int custom_main(void *arg) {
    (void)arg;
    corio_loop *loop = corio_loop_current();
    corio_exception_context ctx = {.message = "custom report"};
    /* No handler: the default logs the message at ERROR. */
    corio_loop_call_exception_handler(loop, &ctx);
    CHECK_EQ(nlogs, 1);
    CHECK_EQ(last_level, CORIO_LOG_ERROR);
    CHECK(strcmp(last_log, "custom report") == 0);
    /* The handler gets it, with its argument and the loop; nothing is logged. */
    CHECK_EQ(corio_loop_set_exception_handler(loop, record, &handler_arg_ok), 0);
    corio_loop_call_exception_handler(loop, &ctx);
    CHECK_EQ(ngot, 1);
    CHECK_EQ(handler_arg_ok, 1);
    CHECK(strcmp(got[0].message, "custom report") == 0);
    CHECK(got[0].loop == loop);
    CHECK_EQ(nlogs, 1);
    /* Restored: the default again. */
    CHECK_EQ(corio_loop_set_exception_handler(loop, NULL, NULL), 0);
    corio_exception_context full = {.message = "to the default", .error = -EIO, .task = corio_current_task()};
    corio_loop_call_exception_handler(loop, &full);
    CHECK_EQ(ngot, 1);
    CHECK_EQ(nlogs, 2);
    char want[256];
    snprintf(want, sizeof want, "to the default (task '%s'): -5 (%s)", corio_task_name(corio_current_task()),
             corio_strerror(-EIO));
    CHECK(strcmp(last_log, want) == 0);
    /* No message: asyncio's 'Unhandled exception in event loop'. */
    corio_exception_context empty = {.error = -EPIPE};
    corio_loop_default_exception_handler(loop, &empty);
    snprintf(want, sizeof want, "Unhandled exception in event loop: -32 (%s)", corio_strerror(-EPIPE));
    CHECK(strcmp(last_log, want) == 0);
    /* A detail is appended as the library's reports have it. */
    corio_exception_context det = {.message = "m", .detail = "the particulars", .error = -EIO};
    corio_loop_default_exception_handler(loop, &det);
    CHECK(strcmp(last_log, "m: the particulars") == 0);
    /* No loop known: the default log. */
    corio_loop_call_exception_handler(NULL, &ctx);
    CHECK(strcmp(last_log, "custom report") == 0);
    CHECK_EQ(nlogs, 5);
    return 0;
}

static void test_call_custom(void) {
    reset();
    corio_log_set_handler(capture_log, NULL);
    CHECK_EQ(test_run(custom_main, NULL, 0), 0);
    corio_log_set_handler(NULL, NULL);
}

/* ---- a task's error nobody retrieved ----------------------------------------------- */

static int fail_eio(void *arg) {
    (void)arg;
    return -EIO;
}

/* A handler that defers to the default, as asyncio's test_default_exc_handler_*
 * cases do: the log line is the one corio has always written. */
static void defer_to_default(corio_loop *loop, const corio_exception_context *ctx, void *arg) {
    record(loop, ctx, arg);
    corio_loop_default_exception_handler(loop, ctx);
}

static int never_retrieved_main(void *arg) {
    (void)arg;
    corio_loop *loop = corio_loop_current();
    CHECK_EQ(corio_loop_set_exception_handler(loop, defer_to_default, NULL), 0);
    corio_task_opts o = {.name = "lost"};
    corio_task *t = corio_spawn_opts(fail_eio, NULL, &o);
    CHECK_EQ(corio_task_detach(t), 0); /* its record goes when it finishes */
    CHECK_EQ(corio_yield(), 0);
    CHECK_EQ(ngot, 1);
    CHECK(strcmp(got[0].message, "Task exception was never retrieved") == 0);
    CHECK(strcmp(got[0].source, "task") == 0);
    CHECK(strcmp(got[0].task_name, "lost") == 0);
    CHECK_EQ(got[0].error, -EIO);
    CHECK(got[0].future_is_task);
    char want[256];
    snprintf(want, sizeof want, "Task exception was never retrieved: task 'lost' failed with -5 (%s)",
             corio_strerror(-EIO));
    CHECK_EQ(nlogs, 1);
    CHECK_EQ(last_level, CORIO_LOG_ERROR);
    CHECK(strcmp(last_log, want) == 0);
    /* A failure that was read is no report. */
    corio_task *u = corio_spawn(fail_eio, NULL);
    CHECK_EQ(corio_join(u), -EIO);
    CHECK_EQ(ngot, 1);
    return 0;
}

static void test_never_retrieved(void) {
    reset();
    corio_log_set_handler(capture_log, NULL);
    CHECK_EQ(test_run(never_retrieved_main, NULL, 0), 0);
    corio_log_set_handler(NULL, NULL);
}

/* A record freed by the loop's close: the handler still hears of it. */
static int spawn_and_leave(void *arg) {
    corio_task_opts o = {.name = "at-close"};
    corio_task *t = corio_spawn_opts(fail_eio, NULL, &o);
    *(corio_task **)arg = t; /* the caller's reference, never joined */
    return 0;
}

static void test_never_retrieved_at_close(void) {
    reset();
    corio_loop *loop = corio_loop_new();
    CHECK_EQ(corio_loop_set_exception_handler(loop, record, NULL), 0);
    corio_task *child = NULL;
    corio_task *m = corio_loop_spawn(loop, spawn_and_leave, &child, NULL);
    CHECK_EQ(corio_loop_run_until_complete(loop, corio_task_future(m)), 0);
    CHECK_EQ(corio_task_detach(m), 0);
    /* One more turn so the child has run (and failed). */
    while (!corio_task_done(child)) {
        corio_loop_stop(loop);
        corio_loop_run_forever(loop);
    }
    CHECK_EQ(ngot, 0);
    CHECK_EQ(corio_loop_close(loop), 0);
    CHECK_EQ(ngot, 1);
    CHECK(strcmp(got[0].message, "Task exception was never retrieved") == 0);
    CHECK(strcmp(got[0].task_name, "at-close") == 0);
    CHECK(got[0].loop == loop);
}

/* A task still pending when the loop closes: asyncio's "Task was destroyed
 * but it is pending!" (Task.__del__ -> call_exception_handler with the
 * task), once per task; the default handler logs it with close's text. */
static int sleep_long(void *arg) {
    (void)arg;
    return corio_sleep(100);
}
static int stubborn(void *arg) {
    (void)arg;
    /* Refuses to finish: every cancellation is absorbed (a real sleep
     * each time would be timed; a yield keeps the drain busy). */
    for (;;) corio_yield();
    return 0;
}
static void test_destroyed_pending(void) {
    reset();
    corio_loop *loop = corio_loop_new();
    CHECK_EQ(corio_loop_set_exception_handler(loop, record, NULL), 0);
    corio_task_opts o = {.name = "sleepy"};
    corio_task *t = corio_loop_spawn(loop, sleep_long, NULL, &o);
    CHECK_EQ(corio_task_detach(t), 0);
    corio_loop_stop(loop);
    corio_loop_run_forever(loop); /* one iteration: the task sleeps */
    CHECK_EQ(ngot, 0);
    CHECK_EQ(corio_loop_close(loop), -ENOTEMPTY);
    CHECK_EQ(ngot, 1);
    CHECK(strcmp(got[0].message, "Task was destroyed but it is pending!") == 0);
    CHECK(strcmp(got[0].detail, "loop closed with task 'sleepy' still pending: cancelling it") == 0);
    CHECK(strcmp(got[0].source, "task") == 0);
    CHECK(strcmp(got[0].task_name, "sleepy") == 0);
    CHECK(got[0].has_task && got[0].future_is_task);
    CHECK(got[0].loop == loop);

    /* The default handler: the line close always logged, now at ERROR as
     * asyncio's default handler logs; a task that refuses to finish is
     * reported once, then its abandonment logged. */
    reset();
    corio_log_set_handler(capture_log, NULL);
    loop = corio_loop_new();
    o.name = "stubborn";
    t = corio_loop_spawn(loop, stubborn, NULL, &o);
    CHECK_EQ(corio_task_detach(t), 0);
    corio_loop_stop(loop);
    corio_loop_run_forever(loop);
    CHECK_EQ(corio_loop_close(loop), -ENOTEMPTY);
    CHECK_EQ(nlogs, 2);
    CHECK_EQ(last_level, CORIO_LOG_WARNING);
    CHECK(strstr(last_log, "'stubborn' did not finish when cancelled") != NULL);
    corio_log_set_handler(NULL, NULL);

    reset();
    corio_log_set_handler(capture_log, NULL);
    loop = corio_loop_new();
    o.name = "sleepy";
    t = corio_loop_spawn(loop, sleep_long, NULL, &o);
    CHECK_EQ(corio_task_detach(t), 0);
    corio_loop_stop(loop);
    corio_loop_run_forever(loop);
    CHECK_EQ(corio_loop_close(loop), -ENOTEMPTY);
    CHECK_EQ(nlogs, 1);
    CHECK_EQ(last_level, CORIO_LOG_ERROR);
    CHECK(strcmp(last_log, "Task was destroyed but it is pending!: loop closed with task 'sleepy' still pending: "
                           "cancelling it") == 0);
    corio_log_set_handler(NULL, NULL);
}

/* ---- a stream handler that fails ------------------------------------------------------- */

static int failing_stream_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)r, (void)w, (void)arg;
    return -EIO;
}

static int stream_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_loop_set_exception_handler(corio_loop_current(), record, NULL), 0);
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, failing_stream_handler, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    char buf[8];
    ssize_t n = corio_reader_read(r, buf, sizeof buf); /* the handler's end closes the connection */
    CHECK(n == 0 || n == -ECONNRESET);
    corio_stream_close(r, w);
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    CHECK_EQ(ngot, 1);
    CHECK(strcmp(got[0].message, "Unhandled exception in client_connected_cb") == 0);
    CHECK(strcmp(got[0].source, "stream handler") == 0);
    CHECK_EQ(got[0].error, -EIO);
    CHECK(got[0].has_task);
    char want[128];
    snprintf(want, sizeof want, "the stream handler returned -5 (%s)", corio_strerror(-EIO));
    CHECK(strcmp(got[0].detail, want) == 0);
    return 0;
}

static void test_stream_handler(void) {
    reset();
    corio_log_set_handler(capture_log, NULL);
    CHECK_EQ(test_run(stream_main, NULL, 0), 0);
    CHECK_EQ(nlogs, 0); /* the handler took it: nothing logged */
    corio_log_set_handler(NULL, NULL);
}

/* ---- a protocol callback that fails ------------------------------------------------------- */

static int lost_calls, lost_err = 1;

static void bad_data(corio_transport *t, const void *data, size_t len, void *arg) {
    (void)data, (void)len, (void)arg;
    /* The C form of data_received raising: report, then give up the connection. */
    corio_exception_context ctx = {.message = "Fatal error: protocol.data_received() call failed.",
                                   .error = -EINVAL, .source = "protocol", .transport = t};
    corio_loop_call_exception_handler(corio_loop_current(), &ctx);
    corio_transport_abort(t);
}

static void note_lost(corio_transport *t, int err, void *arg) {
    (void)t, (void)arg;
    lost_calls++;
    lost_err = err;
}

static const corio_protocol bad_proto = {.data_received = bad_data, .connection_lost = note_lost};

static int protocol_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_loop_set_exception_handler(corio_loop_current(), record, NULL), 0);
    corio_proto_server *srv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &bad_proto, NULL, NULL, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_proto_server_port(srv), &r, &w), 0);
    CHECK_EQ(corio_writer_write(w, "hi", 2), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    char buf[8];
    ssize_t n = corio_reader_read(r, buf, sizeof buf);
    CHECK(n == 0 || n == -ECONNRESET);
    corio_stream_close(r, w);
    WAIT_UNTIL(lost_calls == 1, 10.0);
    CHECK_EQ(lost_calls, 1);
    CHECK_EQ(lost_err, 0);
    corio_proto_server_close(srv, 1);
    CHECK_EQ(ngot, 1);
    CHECK(strcmp(got[0].message, "Fatal error: protocol.data_received() call failed.") == 0);
    CHECK(strcmp(got[0].source, "protocol") == 0);
    CHECK(got[0].has_transport);
    CHECK_EQ(got[0].error, -EINVAL);
    return 0;
}

static void test_protocol_callback(void) {
    reset();
    CHECK_EQ(test_run(protocol_main, NULL, 0), 0);
}

/* ---- a task group's child that fails after its parent is done ----------------------------- */

static corio_taskgroup orphan_group; /* outlives the parent, which never leaves it */

static int late_child(void *arg) {
    (void)arg;
    corio_yield();
    corio_yield();
    return -EIO;
}

static int leaving_parent(void *arg) {
    (void)arg;
    CHECK_EQ(corio_taskgroup_enter(&orphan_group), 0);
    corio_task_opts o = {.name = "child"};
    CHECK(corio_taskgroup_spawn(&orphan_group, late_child, NULL, &o) != NULL);
    return 0; /* without corio_taskgroup_exit */
}

static int group_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_loop_set_exception_handler(corio_loop_current(), record, NULL), 0);
    corio_task_opts o = {.name = "parent"};
    corio_task *p = corio_spawn_opts(leaving_parent, NULL, &o);
    CHECK_EQ(corio_join(p), 0);
    yield_n(5);
    CHECK_EQ(ngot, 1);
    CHECK(strcmp(got[0].source, "taskgroup") == 0);
    CHECK(strcmp(got[0].task_name, "child") == 0);
    CHECK_EQ(got[0].error, -EIO);
    char want[160];
    snprintf(want, sizeof want, "task 'child' failed (%s) but its group's parent task 'parent' is already done",
             corio_strerror(-EIO));
    CHECK(strcmp(got[0].message, want) == 0);
    if (strcmp(got[0].message, want)) fprintf(stderr, "got [%s]\n", got[0].message);
    return 0;
}

static void test_taskgroup_parent_done(void) {
    reset();
    CHECK_EQ(test_run(group_main, NULL, 0), 0);
    CHECK_EQ(ngot, 1); /* the child's error counts as the group's: no "never retrieved" at close */
}

/* ---- the Python program above, in order ------------------------------------------------------ */

static int sequence_main(void *arg) {
    (void)arg;
    corio_loop *loop = corio_loop_current();
    CHECK(corio_loop_get_exception_handler(loop, NULL) == NULL);
    CHECK_EQ(corio_loop_set_exception_handler(loop, record, NULL), 0);
    /* 1 */
    corio_task *t = corio_spawn(fail_eio, NULL);
    corio_task_detach(t);
    CHECK_EQ(corio_yield(), 0);
    /* 2 */
    corio_exception_context ctx = {.message = "custom report"};
    corio_loop_call_exception_handler(loop, &ctx);
    /* 3 */
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, failing_stream_handler, NULL, &srv), 0);
    corio_reader *r;
    corio_writer *w;
    char buf[8];
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_server_port(srv), &r, &w), 0);
    ssize_t n = corio_reader_read(r, buf, sizeof buf);
    CHECK(n == 0 || n == -ECONNRESET);
    corio_stream_close(r, w);
    CHECK_EQ(corio_server_shutdown(srv, 0), 0);
    /* 4 */
    lost_calls = 0;
    corio_proto_server *psrv;
    CHECK_EQ(corio_create_server("127.0.0.1", 0, &bad_proto, NULL, NULL, NULL, &psrv), 0);
    CHECK_EQ(corio_open_connection("127.0.0.1", corio_proto_server_port(psrv), &r, &w), 0);
    CHECK_EQ(corio_writer_write(w, "hi", 2), 0);
    n = corio_reader_read(r, buf, sizeof buf);
    CHECK(n == 0 || n == -ECONNRESET);
    corio_stream_close(r, w);
    WAIT_UNTIL(lost_calls == 1, 10.0);
    corio_proto_server_close(psrv, 1);
    /* 5 */
    corio_task_opts o = {.name = "parent"};
    corio_task *p = corio_spawn_opts(leaving_parent, NULL, &o);
    CHECK_EQ(corio_join(p), 0);
    yield_n(5);
    /* 6 */
    CHECK_EQ(corio_loop_set_exception_handler(loop, NULL, NULL), 0);
    CHECK(corio_loop_get_exception_handler(loop, NULL) == NULL);
    static const char *const want[] = {
        "Task exception was never retrieved", "custom report", "Unhandled exception in client_connected_cb",
        "Fatal error: protocol.data_received() call failed.", "task 'child' failed",
    };
    CHECK_EQ(ngot, 5);
    for (int i = 0; i < ngot && i < 5; i++) CHECK(strncmp(got[i].message, want[i], strlen(want[i])) == 0);
    return 0;
}

static void test_sequence(void) {
    reset();
    memset(&orphan_group, 0, sizeof orphan_group);
    CHECK_EQ(test_run(sequence_main, NULL, 0), 0);
}

/* ---- accept out of descriptors --------------------------------------------------------------- */

static int echo_once(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    char buf[8];
    ssize_t n = corio_reader_read(r, buf, sizeof buf);
    if (n > 0) corio_writer_write(w, buf, (size_t)n);
    return corio_writer_drain(w);
}

/* valgrind emulates RLIMIT_NOFILE after the fact (test_stream's note). */
static bool under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

static int emfile_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_loop_set_exception_handler(corio_loop_current(), record, NULL), 0);
    corio_server *srv;
    CHECK_EQ(corio_start_server("127.0.0.1", 0, echo_once, NULL, &srv), 0);
    corio_yield(); /* the acceptor waits */
    corio_sockaddr addr;
    CHECK_EQ(corio_resolve("127.0.0.1", corio_server_port(srv), AF_INET, 0, &addr, 1), 1);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    int lowest = dup(0);
    close(lowest);
    low = old;
    low.rlim_cur = (rlim_t)lowest;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    CHECK_EQ(corio_connect(c, &addr.u.sa, addr.len), 0);
    WAIT_UNTIL(ngot > 0, 10.0);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_EQ(ngot, 1);
    CHECK(strcmp(got[0].message, "server: accept failed") == 0);
    CHECK(strcmp(got[0].source, "server") == 0);
    CHECK_EQ(got[0].error, -EMFILE);
    /* Descriptors again: the client is served. */
    CHECK_EQ(corio_write_all(c, "ping", 4), 4);
    char buf[8];
    CHECK_EQ(corio_read(c, buf, sizeof buf), 4);
    corio_close(c);
    corio_server_close(srv, 0);
    CHECK_EQ(corio_server_wait_closed(srv), 0);
    CHECK_EQ(corio_server_free(srv), 0);
    return 0;
}

static void test_accept_emfile(void) {
    if (under_valgrind()) {
        printf("skip EMFILE under valgrind\n");
        return;
    }
    reset();
    CHECK_EQ(test_run(emfile_main, NULL, 0), 0);
}

int main(void) {
    RUN_TEST(test_get_set);
    RUN_TEST(test_call_custom);
    RUN_TEST(test_never_retrieved);
    RUN_TEST(test_never_retrieved_at_close);
    RUN_TEST(test_destroyed_pending);
    RUN_TEST(test_stream_handler);
    RUN_TEST(test_protocol_callback);
    RUN_TEST(test_taskgroup_parent_done);
    RUN_TEST(test_sequence);
    RUN_TEST(test_accept_emfile);
    TEST_MAIN_END();
}
