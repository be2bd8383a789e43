/*
 * net_util.h - helpers shared by the network tests: counting open
 * descriptors, and a hash to check bulk transfers.
 */
#ifndef CORIO_NET_UTIL_H
#define CORIO_NET_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>

/* The library keeps a few process-wide descriptors once a loop has run
 * (the self pidfd used to install guard pages): run one empty loop before
 * counting, so that the first case's count starts from them. */
static int warm_up_main_(void *arg) {
    (void)arg;
    return 0;
}
static inline void net_warm_up(void) { test_run(warm_up_main_, NULL, 0); }

/* Run a case and check that it leaves no descriptor open. */
#define RUN_NET_TEST(fn)                                                              \
    do {                                                                              \
        int fds_before_ = count_fds();                                                \
        RUN_TEST(fn);                                                                 \
        int fds_after_ = count_fds();                                                 \
        if (fds_after_ != fds_before_) {                                              \
            fprintf(stderr, "%s: %d descriptors open before, %d after\n", #fn,        \
                    fds_before_, fds_after_);                                         \
            test_failures++;                                                          \
        }                                                                             \
    } while (0)

static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}
#define FNV_INIT 1469598103934665603ULL

/* The path of example program `name`, built beside the tests
 * (<build>/examples/<name>), into buf. */
static inline void example_path_of(char *buf, size_t cap, const char *argv0, const char *name) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    snprintf(buf, cap, "%s/../examples/%s", dirname(n > 0 ? self : (char *)argv0), name);
}

/* Can this process run the example at path?  (A cross build's tests run
 * under qemu-user, whose exec of another target binary may fail.)  Run
 * without arguments, every example prints its usage and exits 2. */
static inline bool example_can_run(const char *path) {
    if (access(path, X_OK) != 0) return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 2;
}

static int net_nothing_main_(void *arg) {
    (void)arg;
    return 0;
}

/* Run run_all() on each backend in turn: once on the one CORIO_BACKEND
 * names if it is set, else on epoll and then on io_uring where the kernel
 * has it (the environment variable is how a loop, and a child program,
 * learns which to use). */
static inline void run_on_each_backend(void (*run_all)(void)) {
    const char *forced = getenv("CORIO_BACKEND");
    if (forced && *forced) {
        printf("backend: %s (CORIO_BACKEND)\n", forced);
        run_all();
        return;
    }
    corio_loop *probe = corio_loop_new();
    bool uring = probe && strcmp(corio_loop_backend(probe), "io_uring") == 0;
    if (probe) corio_loop_close(probe);
    setenv("CORIO_BACKEND", "epoll", 1);
    printf("backend: epoll\n");
    run_all();
    if (uring) {
        setenv("CORIO_BACKEND", "io_uring", 1);
        printf("backend: io_uring\n");
        test_run(net_nothing_main_, NULL, 0); /* a warm-up of its own: descriptors the first io_uring loop keeps */
        run_all();
    } else {
        printf("backend: io_uring is not available here; ran epoll only\n");
    }
    unsetenv("CORIO_BACKEND");
}

/* A pseudo-random pattern of prime length, so that pieces never line up
 * with it: pat_init() fills pat[] once per program. */
#define PAT_LEN 65521
static unsigned char pat[PAT_LEN];
static inline void pat_init(void) {
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < PAT_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pat[i] = (unsigned char)(x >> 7);
    }
}

#endif
