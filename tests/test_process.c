/*
 * test_process.c - subprocesses: spawn, pipes, communicate, wait, signals,
 * timeouts, bad input, the pipes as streams; and after every case no zombie (waitpid(-1) says
 * ECHILD) and no descriptor more than before.  The cases run twice: with
 * pidfd (when the kernel has it) and in SIGCHLD mode.
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void corio__test_process_force_sigchld(int on);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check_no_zombie(void) {
    errno = 0;
    CHECK_EQ(waitpid(-1, NULL, WNOHANG), -1);
    CHECK_EQ(errno, ECHILD);
}

/* Run fn in a fresh loop, then check that nothing was left behind. */
static void run_clean(int (*fn)(void *)) {
    int before = count_fds();
    int rc = test_run(fn, NULL, 0);
    if (rc != 0) fprintf(stderr, "  case returned %d (%s)\n", rc, corio_strerror(rc));
    CHECK_EQ(rc, 0);
    CHECK_EQ(count_fds(), before);
    check_no_zombie();
}

/* ---- cases ----------------------------------------------------------------- */

static int echo_main(void *arg) {
    (void)arg;
    corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE};
    char *const argv[] = {"echo", "hello", "world", NULL};
    corio_process *p;
    int rc = corio_process_exec("/bin/echo", argv, &o, &p);
    CHECK_EQ(rc, 0);
    if (rc < 0) return rc;
    CHECK(corio_process_pid(p) > 0);
    CHECK(corio_process_stdout_fd(p) >= 0);
    CHECK_EQ(corio_process_stdin_fd(p), -1);
    char *out = NULL, *err = (char *)1;
    size_t len = 0;
    rc = corio_process_communicate(p, NULL, 0, &out, &len, &err, NULL);
    CHECK_EQ(rc, 0);
    CHECK(out && len == 12 && memcmp(out, "hello world\n", 12) == 0);
    CHECK(err == NULL); /* stderr was not a pipe */
    int code = -100;
    CHECK_EQ(corio_process_poll(p, &code), 1);
    CHECK_EQ(code, 0);
    free(out);
    /* PATH search and a wait from the raw descriptor. */
    corio_process *q;
    char *const argv2[] = {"echo", "via", "path", NULL};
    CHECK_EQ(corio_process_exec("echo", argv2, &o, &q), 0);
    char buf[64];
    size_t got = 0;
    for (;;) {
        ssize_t n = corio_read(corio_process_stdout_fd(q), buf + got, sizeof buf - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    CHECK(got == 9 && memcmp(buf, "via path\n", 9) == 0);
    CHECK_EQ(corio_process_wait(q, &code), 0);
    CHECK_EQ(code, 0);
    CHECK_EQ(corio_process_free(q), 0);
    return corio_process_free(p);
}

static int cat_main(void *arg) {
    (void)arg;
    corio_process_opts o = {.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE};
    char *const argv[] = {"cat", NULL};
    corio_process *p;
    int rc = corio_process_exec("cat", argv, &o, &p);
    if (rc < 0) return rc;
    size_t n = 3 * 1024 * 1024 + 17; /* several pipe buffers: both directions must go at once */
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++) in[i] = (char)(i * 131 + (i >> 11));
    char *out = NULL;
    size_t len = 0;
    rc = corio_process_communicate(p, in, n, &out, &len, NULL, NULL);
    CHECK_EQ(rc, 0);
    CHECK_EQ(len, n);
    CHECK(out && memcmp(out, in, n) == 0);
    int code = -1;
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    CHECK_EQ(corio_process_communicate(p, NULL, 0, NULL, NULL, NULL, NULL), 0); /* again: nothing left */
    free(in);
    free(out);
    corio_process_free(p);

    /* stdin from /dev/null: cat reads nothing. */
    o.stdin_mode = CORIO_STDIO_DEVNULL;
    CHECK_EQ(corio_process_exec("cat", argv, &o, &p), 0);
    CHECK_EQ(corio_process_communicate(p, "x", 1, &out, &len, NULL, NULL), -EINVAL); /* stdin not a pipe */
    CHECK_EQ(corio_process_communicate(p, NULL, 0, &out, &len, NULL, NULL), 0);
    CHECK(out && len == 0);
    free(out);
    corio_process_free(p);

    /* A child that does not read its input: EPIPE is not an error. */
    o.stdin_mode = CORIO_STDIO_PIPE;
    CHECK_EQ(corio_process_shell("exec 0<&-; echo done", &o, &p), 0);
    char *big = calloc(1, 1 << 20);
    CHECK_EQ(corio_process_communicate(p, big, 1 << 20, &out, &len, NULL, NULL), 0);
    CHECK(out && len == 5 && memcmp(out, "done\n", 5) == 0);
    free(big);
    free(out);
    return corio_process_free(p);
}

#define BIG (100u * 1024 * 1024)

static int big_main(void *arg) {
    (void)arg;
    corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE, .stderr_mode = CORIO_STDIO_PIPE};
    corio_process *p;
    int rc = corio_process_shell("head -c 104857600 /dev/zero; head -c 104857600 /dev/zero >&2", &o, &p);
    if (rc < 0) return rc;
    char *out = NULL, *err = NULL;
    size_t olen = 0, elen = 0;
    double t0 = now();
    rc = corio_process_communicate(p, NULL, 0, &out, &olen, &err, &elen);
    CHECK_EQ(rc, 0);
    CHECK_EQ(olen, BIG);
    CHECK_EQ(elen, BIG);
    size_t nonzero = 0;
    for (size_t i = 0; out && i < olen; i += 4096) nonzero += out[i] != 0;
    for (size_t i = 0; err && i < elen; i += 4096) nonzero += err[i] != 0;
    CHECK_EQ(nonzero, 0);
    int code = -1;
    CHECK_EQ(corio_process_poll(p, &code), 1);
    CHECK_EQ(code, 0);
    printf("  200 MiB through stdout+stderr in %.2f s\n", now() - t0);
    free(out);
    free(err);
    return corio_process_free(p);
}

static int exit_codes_main(void *arg) {
    (void)arg;
    static const struct {
        const char *cmd;
        int code;
    } cases[] = {
        {"exit 0", 0},   {"exit 3", 3},   {"exit 255", 255}, {"kill -9 $$", -SIGKILL},
        {"kill -TERM $$", -SIGTERM}, {"no-such-command-corio 2>/dev/null", 127},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        corio_process *p;
        int rc = corio_process_shell(cases[i].cmd, NULL, &p);
        CHECK_EQ(rc, 0);
        if (rc < 0) return rc;
        int code = -1000;
        CHECK_EQ(corio_process_poll(p, NULL) >= 0, 1);
        CHECK_EQ(corio_process_wait(p, &code), 0);
        if (code != cases[i].code) fprintf(stderr, "  %s\n", cases[i].cmd);
        CHECK_EQ(code, cases[i].code);
        CHECK_EQ(corio_process_send_signal(p, SIGTERM), -ESRCH); /* exited: asyncio's ProcessLookupError */
        corio_process_free(p);
    }
    return 0;
}

static int signals_main(void *arg) {
    (void)arg;
    corio_process *p;
    char *const argv[] = {"sleep", "10", NULL};
    CHECK_EQ(corio_process_exec("sleep", argv, NULL, &p), 0);
    CHECK_EQ(corio_process_send_signal(p, 0), 0);
    CHECK_EQ(corio_process_send_signal(p, -1), -EINVAL);
    CHECK_EQ(corio_process_send_signal(p, 1000), -EINVAL);
    CHECK_EQ(corio_process_poll(p, NULL), 0);
    CHECK_EQ(corio_process_terminate(p), 0);
    int code = 0;
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, -SIGTERM);
    corio_process_free(p);

    CHECK_EQ(corio_process_exec("sleep", argv, NULL, &p), 0);
    CHECK_EQ(corio_process_kill(p), 0);
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, -SIGKILL);
    corio_process_free(p);

    /* SIGPIPE ignored here must not be ignored in the child. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    CHECK_EQ(corio_process_shell("kill -PIPE $$; exit 0", NULL, &p), 0);
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, -SIGPIPE);
    corio_process_free(p);
    sigaction(SIGPIPE, &old, NULL);
    return 0;
}

/* A file in dir with these contents and mode. */
static void make_file(const char *dir, const char *name, const char *text, mode_t mode) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    chmod(path, mode);
}

static void remove_file(const char *dir, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static int bad_input_main(void *arg) {
    (void)arg;
    int fds = count_fds();
    corio_process *p = (corio_process *)1;
    char *const argv[] = {"no-such-command-corio", NULL};
    /* Reported by the spawn call itself, also under valgrind and qemu-user
     * (where a posix_spawn would say exit status 127). */
    CHECK_EQ(corio_process_exec("no-such-command-corio", argv, NULL, &p), -ENOENT);
    CHECK(p == NULL);
    CHECK_EQ(corio_process_exec("/nonexistent/dir/cmd", argv, NULL, &p), -ENOENT);
    CHECK_EQ(corio_process_exec("/etc/passwd", argv, NULL, &p), -EACCES);
    corio_process_opts o = {.cwd = "/nonexistent/dir"};
    char *const tr[] = {"true", NULL};
    CHECK_EQ(corio_process_exec("true", tr, &o, &p), -ENOENT);
    /* Pipes set up for a child that fails are all closed again. */
    o = (corio_process_opts){.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE,
                             .stderr_mode = CORIO_STDIO_DEVNULL};
    CHECK_EQ(corio_process_exec("no-such-command-corio", argv, &o, &p), -ENOENT);

    /* A PATH search: a file that is there but not executable is -EACCES
     * (as execvp: EACCES wins over the ENOENT of the other entries), one
     * that is executable but no program -ENOEXEC. */
    char dir[] = "/tmp/corio-process-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    make_file(dir, "corio-noexec", "#!/bin/sh\necho no\n", 0644);
    make_file(dir, "corio-garbage", "\001\002\003 not a program\n", 0755);
    char *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    char path[512];
    snprintf(path, sizeof path, "/nonexistent:%s:%s", dir, old_path ? old_path : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    char *const ne[] = {"corio-noexec", NULL};
    CHECK_EQ(corio_process_exec("corio-noexec", ne, NULL, &p), -EACCES);
    char *const ga[] = {"corio-garbage", NULL};
    CHECK_EQ(corio_process_exec("corio-garbage", ga, NULL, &p), -ENOEXEC);
    CHECK_EQ(corio_process_exec("no-such-command-corio", argv, NULL, &p), -ENOENT);
    if (old_path) setenv("PATH", old_path, 1);
    else unsetenv("PATH");
    free(old_path);
    snprintf(path, sizeof path, "%s/corio-noexec", dir);
    CHECK_EQ(corio_process_exec(path, ne, NULL, &p), -EACCES);
    remove_file(dir, "corio-noexec");
    remove_file(dir, "corio-garbage");
    rmdir(dir);

    o = (corio_process_opts){.stdout_mode = CORIO_STDIO_STDOUT};
    CHECK_EQ(corio_process_exec("true", tr, &o, &p), -EINVAL);
    o = (corio_process_opts){.stderr_mode = 9};
    CHECK_EQ(corio_process_exec("true", tr, &o, &p), -EINVAL);
    CHECK_EQ(corio_process_exec(NULL, tr, NULL, &p), -EINVAL);
    CHECK_EQ(corio_process_exec("", tr, NULL, &p), -EINVAL);
    CHECK_EQ(corio_process_exec("true", NULL, NULL, &p), -EINVAL);
    CHECK_EQ(corio_process_exec("true", tr, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_process_shell(NULL, NULL, &p), -EINVAL);
    CHECK_EQ(corio_process_wait(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_process_communicate(NULL, NULL, 0, NULL, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_process_send_signal(NULL, 0), -EINVAL);
    CHECK_EQ(corio_process_poll(NULL, NULL), -EINVAL);
    CHECK_EQ(corio_process_close_stdin(NULL), -EINVAL);
    CHECK_EQ(corio_process_pid(NULL), -1);
    CHECK_EQ(corio_process_stdin_fd(NULL), -1);
    CHECK_EQ(corio_process_stdout_fd(NULL), -1);
    CHECK_EQ(corio_process_stderr_fd(NULL), -1);
    CHECK(corio_process_stdin(NULL) == NULL);
    CHECK(corio_process_stdout(NULL) == NULL);
    CHECK(corio_process_stderr(NULL) == NULL);
    CHECK_EQ(corio_process_free(NULL), 0);
    check_no_zombie(); /* the failed execs left none */
    CHECK_EQ(count_fds(), fds);

    /* Streams over pipes that are not there. */
    CHECK_EQ(corio_process_exec("true", tr, NULL, &p), 0);
    CHECK(corio_process_stdin(p) == NULL);
    CHECK(corio_process_stdout(p) == NULL);
    CHECK(corio_process_stderr(p) == NULL);
    CHECK_EQ(corio_process_communicate(p, "x", 1, NULL, NULL, NULL, NULL), -EINVAL); /* stdin not a pipe */
    CHECK_EQ(corio_process_free(p), 0);
    return 0;
}

/* The child starts with an empty signal mask, whatever ours is. */
static int sigmask_main(void *arg) {
    (void)arg;
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);
    corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE};
    char *const argv[] = {"grep", "^SigBlk", "/proc/self/status", NULL};
    corio_process *p;
    int rc = corio_process_exec("grep", argv, &o, &p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    CHECK_EQ(rc, 0);
    if (rc < 0) return rc;
    char *out = NULL;
    CHECK_EQ(corio_process_communicate(p, NULL, 0, &out, NULL, NULL, NULL), 0);
    CHECK(out && strcmp(out, "SigBlk:\t0000000000000000\n") == 0);
    if (out && strcmp(out, "SigBlk:\t0000000000000000\n") != 0) fprintf(stderr, "  child's %s", out);
    free(out);
    return corio_process_free(p);
}

static int env_cwd_main(void *arg) {
    (void)arg;
    char *const env[] = {"CORIO_TEST_VAR=forty-two", "PATH=/usr/bin:/bin", NULL};
    corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE, .stderr_mode = CORIO_STDIO_STDOUT, .cwd = "/", .env = env};
    corio_process *p;
    CHECK_EQ(corio_process_shell("echo $CORIO_TEST_VAR; pwd; echo to-stderr >&2", &o, &p), 0);
    char *out = NULL, *err = (char *)1;
    size_t len = 0;
    CHECK_EQ(corio_process_communicate(p, NULL, 0, &out, &len, &err, NULL), 0);
    const char *want = "forty-two\n/\nto-stderr\n";
    CHECK(out && len == strlen(want) && memcmp(out, want, len) == 0);
    CHECK(err == NULL);
    free(out);
    corio_process_free(p);

    /* stdout to /dev/null, stderr piped. */
    o = (corio_process_opts){.stdout_mode = CORIO_STDIO_DEVNULL, .stderr_mode = CORIO_STDIO_PIPE};
    CHECK_EQ(corio_process_shell("echo lost; echo kept >&2", &o, &p), 0);
    CHECK_EQ(corio_process_communicate(p, NULL, 0, &out, &len, &err, NULL), 0);
    CHECK(out == NULL);
    CHECK(err && strcmp(err, "kept\n") == 0);
    free(err);
    return corio_process_free(p);
}

/* Something to read on fd (without reading it). */
static bool fd_readable(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

static int timeout_main(void *arg) {
    (void)arg;
    corio_process_opts o = {.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE};
    corio_process *p;
    /* Prints, then sleeps: the output read before the timeout is kept.
     * "early" is in the pipe before communicate starts (waited for, not
     * assumed to come within the 0.3 s: a busy machine may start the
     * shell later than that). */
    CHECK_EQ(corio_process_shell("echo early; exec sleep 30", &o, &p), 0);
    WAIT_UNTIL(fd_readable(corio_process_stdout_fd(p)), 10);
    CHECK(fd_readable(corio_process_stdout_fd(p)));
    double t0 = now();
    corio_timeout to;
    corio_timeout_enter(&to, 0.3);
    char *out = NULL;
    size_t len = 0;
    int rc = corio_process_communicate(p, "in", 2, &out, &len, NULL, NULL);
    rc = corio_timeout_exit(&to, rc);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(out == NULL);
    CHECK_EQ(corio_process_kill(p), 0);
    int code = 0;
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, -SIGKILL);
    /* The retry returns what the first call had read. */
    CHECK_EQ(corio_process_communicate(p, "in", 2, &out, &len, NULL, NULL), 0);
    CHECK(out && len == 6 && memcmp(out, "early\n", 6) == 0);
    free(out);
    double dt = now() - t0;
    CHECK(dt < 10); /* nothing waited for the child's own end (30 s); only a hang is caught */
    corio_process_free(p);

    /* Cancelling a wait leaves the child running; freeing kills and reaps it. */
    char *const argv[] = {"sleep", "30", NULL};
    t0 = now();
    CHECK_EQ(corio_process_exec("sleep", argv, NULL, &p), 0);
    corio_timeout_enter(&to, 0.05);
    rc = corio_timeout_exit(&to, corio_process_wait(p, &code));
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(corio_process_poll(p, NULL), 0);
    CHECK_EQ(corio_process_free(p), 0);
    CHECK(now() - t0 < 10); /* the free killed it: no 30 s wait */
    return 0;
}

/* ---- streams ------------------------------------------------------------------ */

/* A cat round trip through the stdin writer and the stdout reader. */
static int stream_cat_main(void *arg) {
    (void)arg;
    corio_process_opts o = {.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE};
    char *const argv[] = {"cat", NULL};
    corio_process *p;
    int rc = corio_process_exec("cat", argv, &o, &p);
    CHECK_EQ(rc, 0);
    if (rc < 0) return rc;
    int in_fd = corio_process_stdin_fd(p), out_fd = corio_process_stdout_fd(p);
    corio_writer *w = corio_process_stdin(p);
    corio_reader *r = corio_process_stdout(p);
    CHECK(w && r);
    if (!w || !r) return corio_process_free(p);
    CHECK(corio_process_stdin(p) == w); /* made once */
    CHECK(corio_process_stdout(p) == r);
    CHECK(corio_process_stderr(p) == NULL); /* not a pipe */
    /* The raw accessors name the same descriptors, the streams' now. */
    CHECK_EQ(corio_process_stdin_fd(p), in_fd);
    CHECK_EQ(corio_writer_fd(w), in_fd);
    CHECK_EQ(corio_process_stdout_fd(p), out_fd);

    const char *line = NULL;
    size_t len = 0;
    CHECK_EQ(corio_writer_write(w, "one\n", 4), 0);
    CHECK_EQ(corio_writer_drain(w), 0);
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 4 && memcmp(line, "one\n", 4) == 0);
    CHECK_EQ(corio_writer_write(w, "two\nthree", 9), 0);
    CHECK_EQ(corio_process_close_stdin(p), 0); /* end of file once "two\nthree" is written */
    CHECK(corio_writer_is_closing(w));
    CHECK_EQ(corio_writer_wait_closed(w), 0);
    CHECK_EQ(corio_process_stdin_fd(p), -1);
    CHECK(corio_process_stdin(p) == w); /* still p's, closed */
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 4 && memcmp(line, "two\n", 4) == 0);
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 5 && memcmp(line, "three", 5) == 0); /* the last piece, unterminated */
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK_EQ(len, 0); /* end of file */
    CHECK_EQ(corio_reader_at_eof(r), 1);
    int code = -1;
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    return corio_process_free(p);
}

/* Reading the other output in a second task, so that neither pipe fills. */
static int read_all_task(void *arg) {
    corio_reader *r = arg;
    char *all = NULL;
    size_t n = 0;
    int rc = corio_reader_read_all(r, &all, &n);
    if (rc == 0 && !(n == 10 && memcmp(all, "err1\nerr2\n", 10) == 0)) rc = -EIO;
    free(all);
    return rc;
}

/* stderr as a reader, both outputs read to end of file. */
static int stream_stderr_main(void *arg) {
    (void)arg;
    corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE, .stderr_mode = CORIO_STDIO_PIPE};
    corio_process *p;
    int rc = corio_process_shell("echo err1 >&2; echo out; head -c 300000 /dev/zero; echo err2 >&2; exit 3", &o, &p);
    CHECK_EQ(rc, 0);
    if (rc < 0) return rc;
    corio_reader *e = corio_process_stderr(p), *r = corio_process_stdout(p);
    CHECK(e && r && e != r);
    if (!e || !r) return corio_process_free(p);
    corio_task *t = corio_spawn(read_all_task, e);
    size_t cap = 400000;
    char *buf = malloc(cap);
    ssize_t n = corio_reader_read_to_eof(r, buf, cap);
    CHECK_EQ(n, 4 + 300000);
    CHECK(n >= 4 && memcmp(buf, "out\n", 4) == 0);
    size_t nonzero = 0;
    for (ssize_t i = 4; i < n; i++) nonzero += buf[i] != 0;
    CHECK_EQ(nonzero, 0);
    CHECK_EQ(corio_join(t), 0);
    CHECK_EQ(corio_reader_read_to_eof(r, buf, cap), 0); /* nothing more */
    CHECK_EQ(corio_reader_read(e, buf, cap), 0);
    CHECK_EQ(corio_reader_at_eof(r), 1);
    free(buf);
    int code = -1;
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, 3);
    return corio_process_free(p);
}

#define STREAM_BIG (8u * 1024 * 1024)

static char pattern(size_t i) { return (char)(i * 131 + (i >> 13)); }

/* Half the data in 192 KiB pieces with a drain after each, the other half
 * in one write and one drain: each drain waits for the reader to make room. */
static int big_writer(void *arg) {
    corio_writer *w = arg;
    char *data = malloc(STREAM_BIG);
    for (size_t i = 0; i < STREAM_BIG; i++) data[i] = pattern(i);
    size_t half = STREAM_BIG / 2, piece = 192 * 1024, done = 0;
    int rc = 0;
    while (rc == 0 && done < half) {
        size_t k = half - done < piece ? half - done : piece;
        rc = corio_writer_write(w, data + done, k);
        if (rc == 0) rc = corio_writer_drain(w);
        done += k;
    }
    if (rc == 0) rc = corio_writer_write(w, data + half, STREAM_BIG - half); /* copied: never waits */
    free(data);
    if (rc == 0 && corio_writer_buffered(w) <= CORIO_STREAM_HIGH_WATER) rc = -EIO; /* drain must have work */
    if (rc == 0) rc = corio_writer_drain(w);
    if (rc == 0 && corio_writer_buffered(w) > CORIO_STREAM_LOW_WATER) rc = -EIO;
    if (rc == 0) rc = corio_writer_close(w);
    if (rc == 0) rc = corio_writer_wait_closed(w);
    return rc;
}

/* 8 MiB through cat: one task writes and drains, this one reads. */
static int stream_big_main(void *arg) {
    (void)arg;
    corio_process_opts o = {.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE};
    char *const argv[] = {"cat", NULL};
    corio_process *p;
    int rc = corio_process_exec("cat", argv, &o, &p);
    CHECK_EQ(rc, 0);
    if (rc < 0) return rc;
    corio_writer *w = corio_process_stdin(p);
    corio_reader *r = corio_process_stdout(p);
    CHECK(w && r);
    if (!w || !r) return corio_process_free(p);
    double t0 = now();
    corio_task *t = corio_spawn(big_writer, w);
    char *all = NULL;
    size_t n = 0;
    CHECK_EQ(corio_reader_read_all(r, &all, &n), 0);
    CHECK_EQ(n, STREAM_BIG);
    size_t bad = 0;
    for (size_t i = 0; all && i < n; i++) bad += all[i] != pattern(i);
    CHECK_EQ(bad, 0);
    free(all);
    CHECK_EQ(corio_join(t), 0);
    int code = -1;
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    printf("  8 MiB through cat's stdin/stdout streams in %.2f s\n", now() - t0);
    return corio_process_free(p);
}

/* A file whose creation lets a child go on (stream_communicate_main). */
static char gate_path[64];

/* Checks made while main communicates; then it lets the child finish. */
static int peek_task(void *arg) {
    corio_process *p = arg;
    corio_sleep(0.02);
    int rc = 0;
    if (corio_process_stdout(p) != NULL) rc = -EIO;    /* not while communicate runs */
    if (corio_process_close_stdin(p) != -EBUSY) rc = -EIO;
    int fd = open(gate_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    close(fd);
    return rc;
}

/* communicate takes the streams over: nothing buffered is lost. */
static int stream_communicate_main(void *arg) {
    (void)arg;
    /* Output the readers buffered already comes first. */
    corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE, .stderr_mode = CORIO_STDIO_PIPE};
    corio_process *p;
    CHECK_EQ(corio_process_shell("printf 'a\\nb\\nc\\n'; printf 'x\\ny\\n' >&2; sleep 0.05; echo d", &o, &p), 0);
    corio_reader *r = corio_process_stdout(p), *e = corio_process_stderr(p);
    CHECK(r && e);
    const char *line = NULL;
    size_t len = 0;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 2 && memcmp(line, "a\n", 2) == 0);
    CHECK_EQ(corio_reader_readline(e, &line, &len), 0);
    CHECK(len == 2 && memcmp(line, "x\n", 2) == 0);
    CHECK(corio_reader_buffered(r) > 0); /* "b\nc\n" came in the same read */
    char *out = NULL, *err = NULL;
    size_t olen = 0, elen = 0;
    CHECK_EQ(corio_process_communicate(p, NULL, 0, &out, &olen, &err, &elen), 0);
    CHECK(out && strcmp(out, "b\nc\nd\n") == 0);
    CHECK(err && strcmp(err, "y\n") == 0);
    free(out);
    free(err);
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK_EQ(len, 0); /* left at end of file */
    CHECK(corio_process_stdout(p) == r);
    CHECK(corio_process_stdout_fd(p) >= 0); /* the reader's, until p is freed */
    CHECK_EQ(corio_process_free(p), 0);

    /* Input goes after what the stdin writer still has queued (cat reads
     * only after a while, so most of 1 MiB stays queued). */
    o = (corio_process_opts){.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE};
    CHECK_EQ(corio_process_shell("sleep 0.1; exec cat", &o, &p), 0);
    corio_writer *w = corio_process_stdin(p);
    CHECK(w != NULL);
    size_t n = 1024 * 1024;
    char *data = malloc(n + 4);
    for (size_t i = 0; i < n; i++) data[i] = pattern(i);
    memcpy(data + n, "tail", 4);
    CHECK_EQ(corio_writer_write(w, data, n), 0);
    CHECK(corio_writer_buffered(w) > 0);
    CHECK_EQ(corio_process_communicate(p, "tail", 4, &out, &olen, NULL, NULL), 0);
    CHECK_EQ(olen, n + 4);
    CHECK(out && memcmp(out, data, n + 4) == 0);
    CHECK_EQ(corio_process_stdin_fd(p), -1); /* communicate closed the writer */
    CHECK_EQ(corio_writer_buffered(w), 0);
    free(out);
    free(data);
    CHECK_EQ(corio_process_free(p), 0);

    /* A writer with little or nothing queued (epoll: "x" went out at once;
     * io_uring: it waits for the loop's next submit). */
    char *const cat[] = {"cat", NULL};
    CHECK_EQ(corio_process_exec("cat", cat, &o, &p), 0);
    w = corio_process_stdin(p);
    CHECK(w != NULL);
    CHECK_EQ(corio_writer_write(w, "x", 1), 0);
    CHECK_EQ(corio_process_communicate(p, "yz", 2, &out, &olen, NULL, NULL), 0);
    CHECK(out && olen == 3 && memcmp(out, "xyz", 3) == 0);
    CHECK_EQ(corio_process_stdin_fd(p), -1);
    CHECK(corio_writer_is_closing(w));
    free(out);
    /* communicate read the raw stdout pipe to the end and closed it: no stream now. */
    CHECK(corio_process_stdout(p) == NULL);
    CHECK_EQ(corio_process_stdout_fd(p), -1);
    CHECK_EQ(corio_process_free(p), 0);

    /* No stream is made while communicate runs.  The child prints only once
     * peek_task has made its checks and then created the gate file, so
     * communicate certainly still runs during them (with "sleep 0.1" in the
     * child, a busy machine could end it first). */
    snprintf(gate_path, sizeof gate_path, "/tmp/corio-test-process-%d.gate", (int)getpid());
    unlink(gate_path);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "i=0; while [ ! -e %s ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; echo late",
             gate_path);
    CHECK_EQ(corio_process_shell(cmd, &o, &p), 0);
    corio_task *t = corio_spawn(peek_task, p);
    CHECK_EQ(corio_process_communicate(p, NULL, 0, &out, &olen, NULL, NULL), 0);
    CHECK(out && strcmp(out, "late\n") == 0);
    CHECK_EQ(corio_join(t), 0);
    unlink(gate_path);
    free(out);
    return corio_process_free(p);
}

/* A child that closed its stdin: the writer fails with -EPIPE (with
 * SIGPIPE ignored, as Python does), and communicate drops its input. */
static int stream_epipe_main(void *arg) {
    (void)arg;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    corio_process_opts o = {.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE};
    corio_process *p;
    CHECK_EQ(corio_process_shell("exec 0<&-; echo closed; sleep 0.05", &o, &p), 0);
    corio_reader *r = corio_process_stdout(p);
    corio_writer *w = corio_process_stdin(p);
    const char *line = NULL;
    size_t len = 0;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0); /* its stdin is closed by now */
    CHECK(len == 7 && memcmp(line, "closed\n", 7) == 0);
    char *big = calloc(1, 1 << 20);
    int rc = corio_writer_write(w, big, 1 << 20);
    if (rc == 0) rc = corio_writer_drain(w);
    CHECK_EQ(rc, -EPIPE);
    free(big);
    char *out = NULL;
    CHECK_EQ(corio_process_communicate(p, "more", 4, &out, &len, NULL, NULL), 0);
    CHECK(out && len == 0);
    free(out);
    sigaction(SIGPIPE, &old, NULL);
    return corio_process_free(p);
}

/* Freeing p releases the streams, a child still running, and data still
 * queued: no descriptor is left. */
static int stream_release_main(void *arg) {
    (void)arg;
    int fds = count_fds();
    corio_process_opts o = {.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE,
                            .stderr_mode = CORIO_STDIO_PIPE};
    corio_process *p;
    CHECK_EQ(corio_process_shell("echo started; exec sleep 10", &o, &p), 0);
    corio_writer *w = corio_process_stdin(p);
    corio_reader *r = corio_process_stdout(p), *e = corio_process_stderr(p);
    CHECK(w && r && e);
    const char *line = NULL;
    size_t len = 0;
    CHECK_EQ(corio_reader_readline(r, &line, &len), 0);
    CHECK(len == 8 && memcmp(line, "started\n", 8) == 0);
    char *big = calloc(1, 1 << 20);
    CHECK_EQ(corio_writer_write(w, big, 1 << 20), 0); /* nobody reads it: stays queued */
    free(big);
    CHECK(corio_writer_buffered(w) > 0);
    CHECK_EQ(corio_process_free(p), 0);
    CHECK_EQ(count_fds(), fds);
    check_no_zombie();

    /* The same after a normal exit, streams made but never read. */
    CHECK_EQ(corio_process_shell("echo out; echo err >&2", &o, &p), 0);
    CHECK(corio_process_stdin(p) && corio_process_stdout(p) && corio_process_stderr(p));
    CHECK_EQ(corio_process_wait(p, NULL), 0);
    CHECK_EQ(corio_process_free(p), 0);
    CHECK_EQ(count_fds(), fds);
    check_no_zombie();

    /* One-way streams over a plain pipe: each half closes its own end. */
    int pp[2];
    CHECK_EQ(pipe2(pp, O_CLOEXEC | O_NONBLOCK), 0);
    corio_reader *pr = NULL;
    corio_writer *pw = NULL;
    CHECK_EQ(corio_stream_open(pp[0], NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_stream_open(pp[0], NULL, &pr, NULL), 0);
    CHECK_EQ(corio_stream_open(pp[1], NULL, NULL, &pw), 0);
    CHECK_EQ(corio_writer_write(pw, "ping\n", 5), 0);
    CHECK_EQ(corio_reader_readline(pr, &line, &len), 0);
    CHECK(len == 5 && memcmp(line, "ping\n", 5) == 0);
    corio_writer_free(pw); /* closes the write end: the reader sees end of file */
    CHECK_EQ(corio_reader_readline(pr, &line, &len), 0);
    CHECK_EQ(len, 0);
    CHECK_EQ(fcntl(pp[1], F_GETFD), -1);
    CHECK(fcntl(pp[0], F_GETFD) >= 0);
    corio_reader_free(pr); /* closes the read end */
    CHECK_EQ(fcntl(pp[0], F_GETFD), -1);
    CHECK_EQ(count_fds(), fds);
    /* corio_stream_close on a reader only. */
    CHECK_EQ(pipe2(pp, O_CLOEXEC | O_NONBLOCK), 0);
    CHECK_EQ(corio_stream_open(pp[0], NULL, &pr, NULL), 0);
    close(pp[1]);
    CHECK_EQ(corio_stream_close(pr, NULL), 0);
    CHECK_EQ(count_fds(), fds);
    return 0;
}

/* Tokio process_issue_42: 10 tasks each waiting for 10 children that exit at once. */
static int many_task(void *arg) {
    (void)arg;
    corio_process *ps[10];
    char *const argv[] = {"true", NULL};
    int n = 0;
    for (; n < 10; n++)
        if (corio_process_exec("/bin/true", argv, NULL, &ps[n]) < 0) break;
    CHECK_EQ(n, 10);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int code = -1;
        if (corio_process_wait(ps[i], &code) < 0 || code != 0) bad++;
        corio_process_free(ps[i]);
    }
    return bad ? -EIO : 0;
}

static int many_main(void *arg) {
    (void)arg;
    corio_task *t[10];
    for (int i = 0; i < 10; i++) t[i] = corio_spawn(many_task, NULL);
    int bad = 0;
    for (int i = 0; i < 10; i++) bad += corio_join(t[i]) != 0;
    CHECK_EQ(bad, 0);

    /* Freeing a child still running kills and reaps it. */
    corio_process *p;
    CHECK_EQ(corio_process_shell("sleep 0.05; exit 7", NULL, &p), 0);
    return corio_process_free(p); /* (running: killed) */
}

/* A SIGCHLD that never reaches the handler (here: blocked in the loop's
 * thread while the child exits) costs a delay, not a hang: in SIGCHLD mode
 * the children are also polled every 0.1 s. */
static int lost_sigchld_main(void *arg) {
    (void)arg;
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, &old);
    char *const argv[] = {"true", NULL};
    corio_process *p;
    CHECK_EQ(corio_process_exec("/bin/true", argv, NULL, &p), 0);
    int code = -1;
    double t0 = corio_loop_time(NULL);
    CHECK_EQ(corio_process_wait(p, &code), 0);
    CHECK_EQ(code, 0);
    CHECK(corio_loop_time(NULL) - t0 < 10.0); /* a delay (0.1 s polls), not a hang */
    CHECK_EQ(corio_process_free(p), 0);
    /* Take the blocked signal before the mask comes back: no handler runs late. */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&chld, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

static corio_process *shared_p;
static int shared_waiter(void *arg) {
    (void)arg;
    int code = -1;
    int rc = corio_process_wait(shared_p, &code);
    return rc < 0 ? rc : code;
}

static int shared_main(void *arg) {
    (void)arg;
    /* The child exits only when we close its stdin: the waiters are
     * certainly still waiting at the free (a "sleep 0.05" was not, when the
     * machine was busy enough). */
    corio_process_opts o = {.stdin_mode = CORIO_STDIO_PIPE};
    CHECK_EQ(corio_process_shell("read x; exit 7", &o, &shared_p), 0);
    corio_task *t[5];
    for (int i = 0; i < 5; i++) t[i] = corio_spawn(shared_waiter, NULL);
    corio_sleep(0.01);
    CHECK_EQ(corio_process_free(shared_p), -EBUSY); /* tasks wait on it */
    CHECK_EQ(corio_process_close_stdin(shared_p), 0);
    for (int i = 0; i < 5; i++) CHECK_EQ(corio_join(t[i]), 7);
    return corio_process_free(shared_p);
}

#define CASES(X) X(echo_main) X(cat_main) X(big_main) X(exit_codes_main) X(signals_main) \
    X(bad_input_main) X(sigmask_main) X(env_cwd_main) X(timeout_main) X(many_main) X(shared_main) X(lost_sigchld_main) \
    X(stream_cat_main) X(stream_stderr_main) X(stream_big_main) X(stream_communicate_main) \
    X(stream_epipe_main) X(stream_release_main)

#define RUN_CLEAN(fn) do { \
        int before_ = test_failures; test_cases++; run_clean(fn); \
        printf("%s %s%s\n", test_failures == before_ ? "ok  " : "FAIL", #fn, sigchld_mode ? " (SIGCHLD mode)" : ""); \
        fflush(stdout); } while (0);

static int warm_up(void *arg) {
    (void)arg;
    return 0;
}

int main(void) {
    /* The first loop opens process-wide descriptors it keeps (stack.c's
     * pidfd of ourselves): let that happen before counting. */
    test_run(warm_up, NULL, 0);
    for (int sigchld_mode = 0; sigchld_mode < 2; sigchld_mode++) {
        corio__test_process_force_sigchld(sigchld_mode);
        CASES(RUN_CLEAN)
    }
    TEST_MAIN_END();
}
