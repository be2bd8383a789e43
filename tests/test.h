/*
 * test.h - the tiny harness every test program uses.
 *
 * Each test file is one program that ctest runs in its own process with a
 * time limit.  CHECK records a failure and goes on; the program's exit
 * status says whether everything held.  RUN_TEST runs one case and prints
 * its name.  Every case runs its own loop and ends by closing it: a close
 * that finds something left over fails the case.
 */
#ifndef CORIO_TEST_H
#define CORIO_TEST_H

#include <corio.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

static int test_failures;
static int test_cases;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                          \
        }                                                                             \
    } while (0)

#define CHECK_EQ(a, b)                                                                        \
    do {                                                                                      \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                 \
        if (va_ != vb_) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__, \
                    __LINE__, #a, #b, va_, vb_);                                              \
            test_failures++;                                                                  \
        }                                                                                     \
    } while (0)

/* Open descriptors of this process (the directory's own is counted every time). */
static inline int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* In a task: yield n times, each must succeed. */
static inline void yield_n(int n) {
    while (n-- > 0) CHECK_EQ(corio_yield(), 0);
}

/* A case that hangs is named before ctest's limit (60 s for the whole
 * program) kills the program anonymously: each case has its own alarm,
 * CORIO_TEST_CASE_SECONDS (default 55; valgrind's runs give more). */
static const char *test_case_name;
static void test_case_timeout(int sig) {
    (void)sig;
    static const char msg[] = "TIMEOUT: the case did not finish in time: ";
    ssize_t r = write(2, msg, sizeof msg - 1);
    if (test_case_name) r = write(2, test_case_name, strlen(test_case_name));
    r = write(2, "\n", 1);
    (void)r;
    _exit(124);
}
static inline void test_case_arm(const char *name) {
    const char *e = getenv("CORIO_TEST_CASE_SECONDS");
    unsigned secs = e && *e ? (unsigned)strtoul(e, NULL, 10) : 55;
    test_case_name = name;
    signal(SIGALRM, test_case_timeout);
    alarm(secs);
}

#define RUN_TEST(fn)                                            \
    do {                                                        \
        int before_ = test_failures;                            \
        test_cases++;                                           \
        test_case_arm(#fn);                                     \
        fn();                                                   \
        alarm(0);                                               \
        printf("%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn); \
        fflush(stdout);                                         \
    } while (0)

#define TEST_MAIN_END()                                                     \
    do {                                                                    \
        printf("%d cases, %d failed checks\n", test_cases, test_failures); \
        return test_failures ? 1 : 0;                                       \
    } while (0)

/*
 * In a task: sleep 1 ms at a time until `cond` holds or `secs` seconds of
 * the loop's clock have passed (or the task is cancelled); the caller then
 * CHECKs the condition itself.  For something another task, thread or
 * process makes true: the deadline is there to catch a hang, not to
 * measure, so make it generous (a loaded machine may take seconds).
 */
#define WAIT_UNTIL(cond, secs)                                              \
    do {                                                                    \
        double wait_end_ = corio_time() + (secs);                           \
        while (!(cond) && corio_time() < wait_end_)                         \
            if (corio_sleep(0.001) < 0) break;                              \
    } while (0)

/* Run fn(arg) as the main task of a fresh loop (virtual clock if asked) and
 * close the loop, checking it closes clean.  Returns fn's result. */
static inline int test_run(int (*fn)(void *), void *arg, int virtual_clock) {
    corio_loop *loop = corio_loop_new();
    if (!loop) {
        fprintf(stderr, "corio_loop_new failed\n");
        exit(1);
    }
    if (virtual_clock) corio_loop_use_virtual_clock(loop);
    corio_task *t = corio_loop_spawn(loop, fn, arg, NULL);
    corio_loop_run_until_complete(loop, corio_task_future(t));
    int rc = corio_task_result(t);
    corio_task_detach(t);
    int crc = corio_loop_close(loop);
    if (crc != 0) {
        fprintf(stderr, "corio_loop_close returned %d (%s)\n", crc, corio_strerror(crc));
        test_failures++;
    }
    return rc;
}

#endif
