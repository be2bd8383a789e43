/*
 * The process pool (corio/procpool.h): map in input order, a crashing
 * worker fails only its own item and is replaced, large results, cancelling
 * a map that runs, shutdown without zombies or leaked descriptors, bad
 * input, and the procpool_squares example (real processes, real sleeps).
 *
 * Each case creates its pool before its loop (as the header advises) and
 * frees it from the loop's main task or after the loop closed.
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double real_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* No child of ours is left, not even a zombie. */
static int no_children(void) {
    errno = 0;
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* ---- jobs (run in the workers) ---------------------------------------- */

static int put_long(long v, void **out, size_t *out_len) {
    long *r = malloc(sizeof *r);
    if (!r) return -ENOMEM;
    *r = v;
    *out = r;
    *out_len = sizeof *r;
    return 0;
}

static int square(const void *in, size_t in_len, void **out, size_t *out_len) {
    long n;
    if (in_len != sizeof n) return -EINVAL;
    memcpy(&n, in, sizeof n);
    return put_long(n * n, out, out_len);
}

/* 13 is killed by SIGKILL, 42 aborts, 7 fails with -ENOENT. */
static int square_or_crash(const void *in, size_t in_len, void **out, size_t *out_len) {
    long n;
    if (in_len != sizeof n) return -EINVAL;
    memcpy(&n, in, sizeof n);
    if (n == 13) raise(SIGKILL);
    if (n == 42) abort();
    if (n == 7) return -ENOENT;
    return put_long(n * n, out, out_len);
}

#define BIG ((size_t)10 << 20)

/* A 10 MiB result of the input's first byte counting up. */
static int big_result(const void *in, size_t in_len, void **out, size_t *out_len) {
    if (in_len != 1) return -EINVAL;
    unsigned char *r = malloc(BIG), seed = *(const unsigned char *)in;
    if (!r) return -ENOMEM;
    for (size_t i = 0; i < BIG; i++) r[i] = (unsigned char)(seed + i * 7);
    *out = r;
    *out_len = BIG;
    return 0;
}

/* The input with every byte complemented. */
static int complement(const void *in, size_t in_len, void **out, size_t *out_len) {
    unsigned char *r = malloc(in_len ? in_len : 1);
    if (!r) return -ENOMEM;
    for (size_t i = 0; i < in_len; i++) r[i] = (unsigned char)~((const unsigned char *)in)[i];
    *out = r;
    *out_len = in_len;
    return 0;
}

static int sleepy(const void *in, size_t in_len, void **out, size_t *out_len) {
    (void)in;
    (void)in_len;
    sleep(30); /* killed long before */
    return put_long(0, out, out_len);
}

static int empty_result(const void *in, size_t in_len, void **out, size_t *out_len) {
    (void)in;
    (void)in_len;
    (void)out;
    (void)out_len;
    return 3;
}

/* A directory of files through which the test and the workers talk:
 * "started-N" (made by the job of input N) and "go" (made by the test). */
static char gate_dir[64];

static bool gate_file_exists(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", gate_dir, name);
    return access(path, F_OK) == 0;
}

static void gate_file_make(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", gate_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
}

/* Says it started, waits for "go" (30 s at most), then the square. */
static int gated_square(const void *in, size_t in_len, void **out, size_t *out_len) {
    long n;
    if (in_len != sizeof n) return -EINVAL;
    memcpy(&n, in, sizeof n);
    char name[32];
    snprintf(name, sizeof name, "started-%ld", n);
    gate_file_make(name);
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 30000 && !gate_file_exists("go"); i++) nanosleep(&ms, NULL);
    return square(in, in_len, out, out_len);
}

/* White-box: the worker's channel is descriptor 3 (procpool.c WORKER_FD).
 * These jobs write a bad reply on it themselves, as a buggy or hostile
 * worker could. */
struct fake_reply {
    uint32_t magic;
    int32_t status;
    uint64_t len;
};

static int garbage_reply(const void *in, size_t in_len, void **out, size_t *out_len) {
    (void)out;
    (void)out_len;
    long n;
    if (in_len != sizeof n) return -EINVAL;
    memcpy(&n, in, sizeof n);
    struct fake_reply r = {0x636f7272U, 0, 0};
    if (n == 0) r.magic = 0xdeadbeefU;              /* not a reply at all */
    if (n == 1) r.len = (uint64_t)1 << 40;          /* a length past the limit */
    if (n == 2) r.status = -5, r.len = 10;          /* an error with bytes */
    if (n == 3) r.len = 100;                        /* a short reply, then gone */
    if (write(3, &r, sizeof r) != (ssize_t)sizeof r) _exit(1);
    if (n == 3) {
        if (write(3, "abc", 3) != 3) _exit(1);
        _exit(0);
    }
    pause(); /* the parent kills us */
    return 0;
}

/* ---- log capture -------------------------------------------------------- */

static char logbuf[4096];

static void capture_log(int level, const char *msg, void *arg) {
    (void)level;
    (void)arg;
    size_t len = strlen(logbuf);
    snprintf(logbuf + len, sizeof logbuf - len, "%s\n", msg);
}

/* ---- cases ---------------------------------------------------------------- */

static corio_procpool *pool;

static int map_longs(corio_proc_fn fn, const long *nums, size_t n, long *res, int *errs) {
    const void **in = malloc(n * sizeof *in);
    size_t *lens = malloc(n * sizeof *lens), *olens = malloc(n * sizeof *olens);
    void **outs = calloc(n, sizeof *outs);
    for (size_t i = 0; i < n; i++) {
        in[i] = &nums[i];
        lens[i] = sizeof nums[i];
    }
    int rc = corio_procpool_map(pool, fn, in, lens, n, outs, olens, errs);
    for (size_t i = 0; i < n; i++) {
        res[i] = -1;
        if (rc >= 0 && errs[i] == 0 && olens[i] == sizeof(long)) memcpy(&res[i], outs[i], sizeof(long));
        free(outs[i]);
    }
    free(in);
    free(lens);
    free(olens);
    free(outs);
    return rc;
}

static int run_square(long n, long *res) {
    void *out = NULL;
    size_t len = 0;
    int rc = corio_procpool_run(pool, square, &n, sizeof n, &out, &len);
    *res = -1;
    if (rc == 0 && len == sizeof *res) memcpy(res, out, sizeof *res);
    free(out);
    return rc;
}

static int map_squares_main(void *arg) {
    (void)arg;
    long nums[100], res[100];
    int errs[100];
    for (int i = 0; i < 100; i++) nums[i] = i - 20;
    CHECK_EQ(map_longs(square, nums, 100, res, errs), 0);
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(errs[i], 0);
        CHECK_EQ(res[i], nums[i] * nums[i]);
    }
    return 0;
}

static void test_map_squares(void) {
    pool = corio_procpool_new(4);
    CHECK(pool != NULL);
    CHECK_EQ(corio_procpool_size(pool), 4);
    test_run(map_squares_main, NULL, 0);
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
}

/* Several tasks share the pool at once: more jobs than workers. */
static int one_run(void *arg) {
    long n = (long)(intptr_t)arg, r;
    int rc = run_square(n, &r);
    return rc == 0 && r == n * n ? 0 : -EIO;
}

static int concurrent_main(void *arg) {
    (void)arg;
    corio_task *t[12];
    for (int i = 0; i < 12; i++) t[i] = corio_spawn(one_run, (void *)(intptr_t)(i + 1));
    for (int i = 0; i < 12; i++) CHECK_EQ(corio_join(t[i]), 0);
    return 0;
}

static void test_concurrent_runs(void) {
    pool = corio_procpool_new(3);
    CHECK(pool != NULL);
    test_run(concurrent_main, NULL, 0);
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
}

static int crash_main(void *arg) {
    (void)arg;
    long nums[60], res[60];
    int errs[60];
    for (int i = 0; i < 60; i++) nums[i] = i;
    CHECK_EQ(map_longs(square_or_crash, nums, 60, res, errs), 3);
    for (int i = 0; i < 60; i++) {
        if (i == 13 || i == 42) {
            CHECK_EQ(errs[i], -ECHILD);
        } else if (i == 7) {
            CHECK_EQ(errs[i], -ENOENT);
        } else {
            CHECK_EQ(errs[i], 0);
            CHECK_EQ(res[i], (long)i * i);
        }
    }
    /* The pool replaced the workers and still works, at full width. */
    CHECK_EQ(map_longs(square, nums, 60, res, errs), 0);
    for (int i = 0; i < 60; i++) CHECK_EQ(res[i], (long)i * i);
    long r;
    CHECK_EQ(run_square(12, &r), 0);
    CHECK_EQ(r, 144);
    long thirteen = 13;
    void *out = (void *)1;
    size_t len = 1;
    CHECK_EQ(corio_procpool_run(pool, square_or_crash, &thirteen, sizeof thirteen, &out, &len), -ECHILD);
    CHECK(out == NULL && len == 0);
    CHECK_EQ(run_square(11, &r), 0);
    CHECK_EQ(r, 121);
    /* A job that returns a positive status and no bytes. */
    CHECK_EQ(corio_procpool_run(pool, empty_result, NULL, 0, &out, &len), 3);
    CHECK(out == NULL && len == 0);
    return 0;
}

static void test_crash_fails_one_item(void) {
    pool = corio_procpool_new(4);
    CHECK(pool != NULL);
    logbuf[0] = 0;
    corio_log_set_handler(capture_log, NULL);
    test_run(crash_main, NULL, 0);
    corio_log_set_handler(NULL, NULL);
    CHECK(strstr(logbuf, "killed by signal 9") != NULL);
    CHECK(strstr(logbuf, "killed by signal 6") != NULL);
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
}

static int big_main(void *arg) {
    (void)arg;
    unsigned char seed = 5;
    void *out = NULL;
    size_t len = 0;
    CHECK_EQ(corio_procpool_run(pool, big_result, &seed, 1, &out, &len), 0);
    CHECK_EQ(len, BIG);
    if (out && len == BIG) {
        const unsigned char *p = out;
        size_t bad = 0;
        for (size_t i = 0; i < BIG; i++) bad += p[i] != (unsigned char)(5 + i * 7);
        CHECK_EQ(bad, 0);
    }
    free(out);
    /* 10 MiB both ways, two at once. */
    unsigned char *in = malloc(BIG);
    for (size_t i = 0; i < BIG; i++) in[i] = (unsigned char)(i * 13 + 1);
    const void *ins[2] = {in, in};
    size_t lens[2] = {BIG, BIG / 2}, olens[2];
    void *outs[2];
    int errs[2];
    CHECK_EQ(corio_procpool_map(pool, complement, ins, lens, 2, outs, olens, errs), 0);
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(olens[k], lens[k]);
        size_t bad = 0;
        const unsigned char *p = outs[k];
        for (size_t i = 0; p && i < olens[k]; i++) bad += p[i] != (unsigned char)~in[i];
        CHECK_EQ(bad, 0);
        free(outs[k]);
    }
    free(in);
    return 0;
}

static void test_big_result(void) {
    pool = corio_procpool_new(2);
    CHECK(pool != NULL);
    test_run(big_main, NULL, 0);
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
}

struct cancel_ctx {
    long nums[8], res[8];
    int errs[8];
};

static int map_sleepy(void *arg) {
    struct cancel_ctx *c = arg;
    return map_longs(sleepy, c->nums, 8, c->res, c->errs);
}

static int cancel_main(void *arg) {
    (void)arg;
    struct cancel_ctx c;
    memset(&c, 0, sizeof c);
    double t0 = real_now();
    corio_task *t = corio_spawn(map_sleepy, &c);
    CHECK_EQ(corio_sleep(0.3), 0);
    CHECK_EQ(corio_cancel(t), 1);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK(real_now() - t0 < 20.0); /* the workers were killed: nobody waited for their 30 s (only a hang is caught) */
    for (int i = 0; i < 8; i++) CHECK_EQ(c.errs[i], -ECANCELED);
    /* The killed workers were replaced: the pool goes on. */
    long nums[6] = {1, 2, 3, 4, 5, 6}, res[6];
    int errs[6];
    CHECK_EQ(map_longs(square, nums, 6, res, errs), 0);
    for (int i = 0; i < 6; i++) CHECK_EQ(res[i], nums[i] * nums[i]);
    /* Cancelling a single run, then shutting down from the task. */
    t = corio_spawn(map_sleepy, &c);
    CHECK_EQ(corio_sleep(0.1), 0);
    corio_cancel(t);
    CHECK_EQ(corio_join(t), -ECANCELED);
    CHECK_EQ(corio_procpool_free(pool), 0);
    pool = NULL;
    return 0;
}

static void test_cancel_map(void) {
    pool = corio_procpool_new(2);
    CHECK(pool != NULL);
    test_run(cancel_main, NULL, 0);
    CHECK(pool == NULL);
    CHECK(no_children());
}

static int shutdown_main(void *arg) {
    (void)arg;
    long r;
    CHECK_EQ(run_square(9, &r), 0);
    CHECK_EQ(corio_procpool_shutdown(pool), 0);
    CHECK_EQ(corio_procpool_shutdown(pool), 0);
    CHECK_EQ(run_square(9, &r), -ESHUTDOWN);
    long nums[3] = {1, 2, 3}, res[3];
    int errs[3];
    CHECK_EQ(map_longs(square, nums, 3, res, errs), -ESHUTDOWN);
    return 0;
}

static void test_shutdown_no_leaks(void) {
    int fds = count_fds();
    pool = corio_procpool_new(3);
    CHECK(pool != NULL);
    CHECK(count_fds() == fds + 3);
    test_run(shutdown_main, NULL, 0);
    CHECK(no_children()); /* shutdown reaped the idle workers */
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
    CHECK_EQ(count_fds(), fds);

    /* Default size, freed without ever being used. */
    pool = corio_procpool_new(0);
    CHECK(pool != NULL);
    CHECK_EQ(corio_procpool_size(pool), corio_procpool_default_size());
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
    CHECK_EQ(count_fds(), fds);
}

static int bad_input_main(void *arg) {
    (void)arg;
    long n = 3, r;
    void *out = NULL;
    size_t len = 0;
    const void *ins[1] = {&n};
    size_t lens[1] = {sizeof n}, olens[1];
    void *outs[1];
    int errs[1];
    CHECK_EQ(corio_procpool_run(NULL, square, &n, sizeof n, &out, &len), -EINVAL);
    CHECK_EQ(corio_procpool_run(pool, NULL, &n, sizeof n, &out, &len), -EINVAL);
    CHECK_EQ(corio_procpool_run(pool, square, NULL, 8, &out, &len), -EINVAL);
    CHECK_EQ(corio_procpool_run(pool, square, &n, sizeof n, NULL, &len), -EINVAL);
    CHECK_EQ(corio_procpool_map(NULL, square, ins, lens, 1, outs, olens, errs), -EINVAL);
    CHECK_EQ(corio_procpool_map(pool, square, NULL, lens, 1, outs, olens, errs), -EINVAL);
    CHECK_EQ(corio_procpool_map(pool, square, ins, lens, 1, NULL, olens, errs), -EINVAL);
    const void *null_in[1] = {NULL};
    CHECK_EQ(corio_procpool_map(pool, square, null_in, lens, 1, outs, olens, errs), -EINVAL);
    CHECK_EQ(corio_procpool_map(pool, square, NULL, NULL, 0, NULL, NULL, NULL), 0); /* map over nothing */
    /* The job's own error, and a wrong-sized input it rejects. */
    CHECK_EQ(corio_procpool_run(pool, square, "x", 1, &out, &len), -EINVAL);
    CHECK(out == NULL);
    /* errors may be NULL: the count is returned. */
    CHECK_EQ(corio_procpool_map(pool, square, ins, lens, 1, outs, olens, NULL), 0);
    free(outs[0]);
    CHECK_EQ(run_square(4, &r), 0);
    CHECK_EQ(r, 16);
    return 0;
}

static void test_bad_input(void) {
    errno = 0;
    CHECK(corio_procpool_new(-1) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(corio_procpool_new(5000) == NULL && errno == EINVAL);
    CHECK_EQ(corio_procpool_free(NULL), -EINVAL);
    CHECK_EQ(corio_procpool_shutdown(NULL), -EINVAL);
    CHECK_EQ(corio_procpool_size(NULL), -EINVAL);
    pool = corio_procpool_new(1);
    CHECK(pool != NULL);
    long n = 2;
    void *out = NULL;
    size_t len = 0;
    CHECK_EQ(corio_procpool_run(pool, square, &n, sizeof n, &out, &len), -EPERM); /* not in a task */
    test_run(bad_input_main, NULL, 0);
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
}

static int garbage_main(void *arg) {
    (void)arg;
    long nums[6] = {0, 1, 2, 3, 4, 5}, res[6];
    int errs[6];
    CHECK_EQ(map_longs(garbage_reply, nums, 4, res, errs), 4);
    CHECK_EQ(errs[0], -EPROTO);
    CHECK_EQ(errs[1], -EPROTO);
    CHECK_EQ(errs[2], -EPROTO);
    CHECK_EQ(errs[3], -ECHILD);
    CHECK_EQ(map_longs(square, nums, 6, res, errs), 0);
    for (int i = 0; i < 6; i++) CHECK_EQ(res[i], nums[i] * nums[i]);
    return 0;
}

static void test_garbage_reply(void) {
    pool = corio_procpool_new(2);
    CHECK(pool != NULL);
    corio_log_set_handler(capture_log, NULL); /* the pool reports the malformed replies */
    test_run(garbage_main, NULL, 0);
    corio_log_set_handler(NULL, NULL);
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
}

/* Shutting down while a map runs: the running items finish, the others
 * fail with -ESHUTDOWN, and every worker is reaped once it is done.  The
 * shutdown comes while the first two items certainly run and the other
 * four certainly wait: the jobs say when they started and wait for "go",
 * which comes after the shutdown (not a sleep of 0.1 s against jobs of
 * 0.2 s, which a busy machine could turn either way). */
static int shut_later(void *arg) {
    (void)arg;
    WAIT_UNTIL(gate_file_exists("started-1") && gate_file_exists("started-2"), 20);
    CHECK(gate_file_exists("started-1") && gate_file_exists("started-2"));
    CHECK_EQ(corio_procpool_free(pool), -EBUSY); /* the map still runs */
    int rc = corio_procpool_shutdown(pool);
    gate_file_make("go");
    return rc;
}

static int shutdown_midway_main(void *arg) {
    (void)arg;
    long nums[6] = {1, 2, 3, 4, 5, 6}, res[6];
    int errs[6];
    corio_task *t = corio_spawn(shut_later, NULL);
    CHECK_EQ(map_longs(gated_square, nums, 6, res, errs), 4);
    CHECK_EQ(corio_join(t), 0);
    for (int i = 0; i < 6; i++) {
        if (i < 2) {
            CHECK_EQ(errs[i], 0);
            CHECK_EQ(res[i], nums[i] * nums[i]);
        } else {
            CHECK_EQ(errs[i], -ESHUTDOWN);
        }
    }
    CHECK(no_children());
    for (int i = 3; i <= 6; i++) { /* never started */
        char name[32];
        snprintf(name, sizeof name, "started-%d", i);
        CHECK(!gate_file_exists(name));
    }
    return 0;
}

static void test_shutdown_during_map(void) {
    snprintf(gate_dir, sizeof gate_dir, "/tmp/corio-procpool-XXXXXX");
    CHECK(mkdtemp(gate_dir) != NULL); /* before the pool: the workers inherit the name */
    pool = corio_procpool_new(2);
    CHECK(pool != NULL);
    test_run(shutdown_midway_main, NULL, 0);
    CHECK_EQ(corio_procpool_free(pool), 0);
    CHECK(no_children());
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", gate_dir);
    CHECK_EQ(system(cmd), 0);
}

/* ---- the example ----------------------------------------------------------- */

static int example_path(char *out, size_t cap) {
    const char *dir = getenv("CORIO_EXAMPLES_DIR");
    if (dir) return snprintf(out, cap, "%s/procpool_squares", dir) < (int)cap ? 0 : -1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    return snprintf(out, cap, "%s/../examples/procpool_squares", self) < (int)cap ? 0 : -1;
}

static void test_example(void) {
    char path[PATH_MAX + 64];
    if (example_path(path, sizeof path) < 0 || access(path, X_OK) != 0) {
        printf("skip test_example: %s not built\n", path);
        return;
    }
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    double t0 = real_now();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execl(path, path, (char *)NULL);
        dprintf(1, "exec failed\n");
        _exit(127);
    }
    close(p[1]);
    char buf[512];
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        if (poll(&pfd, 1, 20000) <= 0) break;
        ssize_t k = read(p[0], buf + len, sizeof buf - 1 - len);
        if (k <= 0) break;
        len += (size_t)k;
        if (len == sizeof buf - 1) break;
    }
    buf[len] = 0;
    close(p[0]);
    int status = -1;
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    double elapsed = real_now() - t0;
    if (strstr(buf, "exec failed")) {
        printf("skip test_example: cannot exec %s here\n", path);
        return;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(strcmp(buf, "[1, 4, 9, 16, 25]\ntook 1 s\n") == 0 || strcmp(buf, "[1, 4, 9, 16, 25]\ntook 2 s\n") == 0);
    if (strncmp(buf, "[1, 4, 9, 16, 25]\ntook ", 23) != 0) fprintf(stderr, "example printed:\n%s", buf);
    CHECK(elapsed < 3.0);
    CHECK(no_children());
}

int main(void) {
    RUN_TEST(test_map_squares);
    RUN_TEST(test_concurrent_runs);
    RUN_TEST(test_crash_fails_one_item);
    RUN_TEST(test_big_result);
    RUN_TEST(test_cancel_map);
    RUN_TEST(test_shutdown_no_leaks);
    RUN_TEST(test_bad_input);
    RUN_TEST(test_garbage_reply);
    RUN_TEST(test_shutdown_during_map);
    RUN_TEST(test_example);
    TEST_MAIN_END();
}
