/*
 * test_backend.c - the choice of backend (issue 9) and what must not
 * differ between epoll and io_uring:
 *   - CORIO_BACKEND forces one; corio_loop_backend / _reason tell which;
 *   - io_uring refused by a seccomp filter (ENOSYS, EPERM - as a sandbox or
 *     kernel.io_uring_disabled does it) falls back to epoll, silently
 *     unless forced, and the loop works;
 *   - more operations in one loop turn than the submission queue holds,
 *     and more completions at once than the completion queue holds: none
 *     is lost;
 *   - bad input gets the same error from both backends.
 * The io_uring cases skip (print "skip") where the kernel refuses io_uring.
 */
#include "test.h"
#include "net_util.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

static int have_uring;   /* io_uring works when asked for */
static int default_uring; /* ... and is the default (not under valgrind or TSan) */

static corio_loop *loop_with(const char *backend) {
    if (backend)
        setenv("CORIO_BACKEND", backend, 1);
    else
        unsetenv("CORIO_BACKEND");
    corio_loop *l = corio_loop_new();
    unsetenv("CORIO_BACKEND");
    return l;
}

static int run_on(const char *backend, int (*fn)(void *), void *arg) {
    setenv("CORIO_BACKEND", backend, 1);
    int rc = test_run(fn, arg, 0);
    unsetenv("CORIO_BACKEND");
    return rc;
}

/* ---- choosing ------------------------------------------------------------------------- */

static void test_choice(void) {
    corio_loop *l = loop_with("epoll");
    CHECK(strcmp(corio_loop_backend(l), "epoll") == 0);
    CHECK(corio_loop_backend_reason(l) != NULL && strstr(corio_loop_backend_reason(l), "CORIO_BACKEND=epoll"));
    CHECK_EQ(corio_loop_close(l), 0);

    l = loop_with("io_uring"); /* forced: the ring whenever it can be had */
    have_uring = strcmp(corio_loop_backend(l), "io_uring") == 0;
    CHECK(have_uring ? corio_loop_backend_reason(l) == NULL : corio_loop_backend_reason(l) != NULL);
    if (!have_uring) printf("  io_uring not usable here (%s): its cases skip\n", corio_loop_backend_reason(l));
    CHECK_EQ(corio_loop_close(l), 0);

    /* The default: io_uring when it works (epoll under valgrind and TSan, which say why). */
    l = loop_with(NULL);
    int def_uring = default_uring = strcmp(corio_loop_backend(l), "io_uring") == 0;
    CHECK(def_uring ? have_uring && corio_loop_backend_reason(l) == NULL : corio_loop_backend_reason(l) != NULL);
    CHECK_EQ(corio_loop_close(l), 0);

    CHECK(corio_loop_backend(NULL) == NULL);
    CHECK(corio_loop_backend_reason(NULL) == NULL);
}

/* ---- io_uring refused: a seccomp filter in a child process -------------------------------- */

static int echo_once_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_EQ(corio_send(sv[0], "ping", 4, 0), 4);
    char buf[8];
    CHECK_EQ(corio_recv(sv[1], buf, sizeof buf, 0), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    corio_close(sv[0]);
    corio_close(sv[1]);
    return 0;
}

static void log_count(int level, const char *msg, void *arg) {
    (void)msg;
    if (level >= CORIO_LOG_WARNING) ++*(int *)arg;
}

/* In a child: refuse io_uring_setup with err, then make a loop (forced or
 * not) and check it runs epoll, says why, and works.  Exit status 0 = ok. */
static int refused_child(int err, int forced) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    test_failures = 0; /* the parent's count came with the fork */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return 10;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) return 11;
    int warnings = 0;
    corio_log_set_handler(log_count, &warnings);
    corio_loop *l = loop_with(forced ? "io_uring" : NULL);
    if (!l) return 12;
    if (strcmp(corio_loop_backend(l), "epoll") != 0) return 13;
    const char *why = corio_loop_backend_reason(l);
    /* Where epoll is the default anyway (TSan), the reason is that one. */
    if (!why || ((forced || default_uring) && !strstr(why, err == ENOSYS ? "ENOSYS" : "EPERM"))) return 14;
    if (warnings != (forced ? 1 : 0)) return 15; /* silent unless io_uring was asked for */
    corio_task *t = corio_loop_spawn(l, echo_once_main, NULL, NULL);
    corio_loop_run_until_complete(l, corio_task_future(t));
    int rc = corio_task_result(t);
    corio_task_detach(t);
    if (rc != 0) return 16;
    if (corio_loop_close(l) != 0) return 17;
    return test_failures ? 18 : 0;
}

static void test_refused(void) {
    if (!have_uring) return; /* nothing to refuse: the build or the kernel has no io_uring */
    int errs[] = {ENOSYS, EPERM};
    for (int i = 0; i < 2; i++) {
        for (int forced = 0; forced < 2; forced++) {
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) _exit(refused_child(errs[i], forced));
            int st = 0;
            CHECK_EQ(waitpid(pid, &st, 0), pid);
            CHECK(WIFEXITED(st));
            if (WEXITSTATUS(st)) fprintf(stderr, "  refused_child(%d, %d) exited %d\n", errs[i], forced, WEXITSTATUS(st));
            CHECK_EQ(WEXITSTATUS(st), 0);
        }
    }
}

/* ---- a kernel without an operation we need: epoll, and the reason says so ---------------- */

extern int corio__uring_test_hide_op; /* backend_uring.c's test hook */

static void quiet(int level, const char *msg, void *arg) { (void)level, (void)msg, (void)arg; }

static void test_missing_op(void) {
    if (!have_uring) return;
    corio__uring_test_hide_op = 27; /* IORING_OP_RECV (5.6) */
    corio_log_set_handler(quiet, NULL); /* forced, so it warns */
    corio_loop *l = loop_with("io_uring");
    corio_log_set_handler(NULL, NULL);
    corio__uring_test_hide_op = -1;
    CHECK(strcmp(corio_loop_backend(l), "epoll") == 0);
    CHECK(corio_loop_backend_reason(l) && strstr(corio_loop_backend_reason(l), "lacks an operation"));
    CHECK_EQ(corio_loop_close(l), 0);
    CHECK_EQ(run_on("epoll", echo_once_main, NULL), 0);
}

/* ---- queue overflows: 5,000 reads in one turn, all completing at once ---------------------- */

#define NPIPES 5000

static int pipes[NPIPES][2];
static int got[NPIPES];

static int one_reader(void *arg) {
    int i = (int)(intptr_t)arg;
    char c = 0;
    ssize_t r = corio_read(pipes[i][0], &c, 1);
    if (r == 1 && c == (char)('a' + i % 26)) got[i] = 1;
    return r == 1 ? 0 : (int)r;
}

static int overflow_main(void *arg) {
    (void)arg;
    corio_task **ts = malloc(NPIPES * sizeof *ts);
    for (int i = 0; i < NPIPES; i++) ts[i] = corio_spawn(one_reader, (void *)(intptr_t)i);
    CHECK_EQ(corio_sleep(0.05), 0); /* every read is now waiting (in the ring: > SQ entries in one turn) */
    for (int i = 0; i < NPIPES; i++) {
        char c = (char)('a' + i % 26);
        CHECK_EQ(write(pipes[i][1], &c, 1), 1); /* > CQ entries complete together */
    }
    int ok = 0;
    for (int i = 0; i < NPIPES; i++) {
        CHECK_EQ(corio_join(ts[i]), 0);
        ok += got[i];
    }
    CHECK_EQ(ok, NPIPES);
    free(ts);
    return 0;
}

static void test_overflow(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit want = rl;
    if (want.rlim_cur < 2 * NPIPES + 100) want.rlim_cur = 2 * NPIPES + 100;
    if (want.rlim_cur > want.rlim_max || setrlimit(RLIMIT_NOFILE, &want) < 0) {
        printf("  skip: cannot raise RLIMIT_NOFILE to %d\n", 2 * NPIPES + 100);
        return;
    }
    const char *backends[] = {"epoll", "io_uring"};
    for (int b = 0; b < 2; b++) {
        if (b == 1 && !have_uring) continue;
        for (int i = 0; i < NPIPES; i++) {
            CHECK_EQ(pipe2(pipes[i], O_NONBLOCK | O_CLOEXEC), 0);
            got[i] = 0;
        }
        CHECK_EQ(run_on(backends[b], overflow_main, NULL), 0);
        for (int i = 0; i < NPIPES; i++) {
            close(pipes[i][0]);
            close(pipes[i][1]);
        }
    }
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* ---- many level-triggered readers at once (add_reader on 600 sockets) ------------------------ */

#define NREADERS 600
static int rd_pairs[NREADERS][2];
static int rd_hits, rd_reads;

static void on_rd(void *arg) {
    int i = (int)(intptr_t)arg;
    char c;
    rd_hits++;
    /* Read only every other call: level-triggered means the callback comes
     * back while data remains, and the loop must still move on meanwhile. */
    if (rd_hits % 2 == 0 && read(rd_pairs[i][0], &c, 1) == 1) {
        rd_reads++;
        corio_remove_reader(rd_pairs[i][0]);
    }
}

static int readers_main(void *arg) {
    (void)arg;
    rd_hits = rd_reads = 0;
    for (int i = 0; i < NREADERS; i++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, rd_pairs[i]), 0);
        CHECK_EQ(write(rd_pairs[i][1], "x", 1), 1);
        CHECK_EQ(corio_add_reader(rd_pairs[i][0], on_rd, (void *)(intptr_t)i), 0);
    }
    for (int k = 0; k < 200 && rd_reads < NREADERS; k++) CHECK_EQ(corio_sleep(0.005), 0); /* timers keep firing */
    CHECK_EQ(rd_reads, NREADERS);
    for (int i = 0; i < NREADERS; i++) {
        corio_close(rd_pairs[i][0]);
        close(rd_pairs[i][1]);
    }
    return 0;
}

static void test_many_readers(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit want = rl;
    if (want.rlim_cur < 2 * NREADERS + 100) want.rlim_cur = 2 * NREADERS + 100;
    if (want.rlim_cur > want.rlim_max || setrlimit(RLIMIT_NOFILE, &want) < 0) return;
    CHECK_EQ(run_on("epoll", readers_main, NULL), 0);
    if (have_uring) CHECK_EQ(run_on("io_uring", readers_main, NULL), 0);
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* ---- bad input: the same answer from both backends ------------------------------------------ */

#define NBAD 12
static long bad[2][NBAD];

static int bad_main(void *arg) {
    long *out = arg;
    char buf[16];
    int k = 0;
    out[k++] = corio_read(-1, buf, sizeof buf);
    out[k++] = corio_read(987, buf, sizeof buf); /* not open */
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    out[k++] = corio_recv(p[0], buf, sizeof buf, 0); /* not a socket */
    out[k++] = corio_send(p[1], "x", 1, 0);
    out[k++] = corio_write(p[0], "x", 1); /* the read end */
    corio_close(p[0]);
    out[k++] = corio_write(p[1], "x", 1); /* no reader left: EPIPE */
    corio_close(p[1]);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    out[k++] = corio_accept(s, NULL, NULL); /* not listening */
    out[k++] = corio_send(s, "x", 1, 0);     /* not connected */
    out[k++] = corio_recv(s, buf, sizeof buf, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    out[k++] = corio_connect(s, (struct sockaddr *)&a, sizeof a); /* nobody listens on port 1 */
    corio_close(s);
    int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
    out[k++] = corio_accept(f, NULL, NULL); /* not a socket */
    corio_close(f);
    out[k++] = corio_wait_readable(-5);
    CHECK_EQ(k, NBAD);
    return 0;
}

static void test_bad_input_same(void) {
    signal(SIGPIPE, SIG_IGN);
    CHECK_EQ(run_on("epoll", bad_main, bad[0]), 0);
    if (!have_uring) return;
    CHECK_EQ(run_on("io_uring", bad_main, bad[1]), 0);
    for (int i = 0; i < NBAD; i++) {
        if (bad[0][i] != bad[1][i])
            fprintf(stderr, "  bad input case %d: epoll %ld, io_uring %ld\n", i, bad[0][i], bad[1][i]);
        CHECK_EQ(bad[0][i], bad[1][i]);
        CHECK(bad[0][i] < 0);
    }
}

int main(void) {
    net_warm_up();
    RUN_TEST(test_choice);
    RUN_NET_TEST(test_refused);
    RUN_NET_TEST(test_missing_op);
    RUN_NET_TEST(test_overflow);
    RUN_NET_TEST(test_many_readers);
    RUN_NET_TEST(test_bad_input_same);
    TEST_MAIN_END();
}
