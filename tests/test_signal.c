/*
 * test_signal.c - signals as loop callbacks: the handler runs on the loop
 * thread, storms coalesce, removal restores the previous disposition,
 * several loops in several threads each get only their own signals (libuv
 * test-signal-multiple-loops.c), bad input, no fd left behind.
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* Wait in a task until *flag reaches `want`, at most about 5 s. */
static int wait_for_count(atomic_int *flag, int want) {
    for (int i = 0; i < 5000 && atomic_load(flag) < want; i++)
        if (corio_sleep(0.001) < 0) return -ECANCELED;
    return atomic_load(flag) >= want ? 0 : -ETIMEDOUT;
}

static int wait_for_nothing(void *arg) {
    (void)arg;
    return 0;
}

/* ---- the handler is a loop callback on the loop's thread ------------------------------ */

static atomic_int hits;
static pthread_t main_thread;
static int wrong_context;

static void on_usr1(int signum, void *arg) {
    if (signum != SIGUSR1 || arg != &hits) wrong_context++;
    if (!pthread_equal(pthread_self(), main_thread)) wrong_context++;
    if (!corio_loop_current() || corio_current_task()) wrong_context++; /* a plain loop callback */
    atomic_fetch_add(&hits, 1);
}

static int callback_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_add_signal_handler(SIGUSR1, on_usr1, &hits), 0);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(wait_for_count(&hits, 1), 0);
    /* The handler keeps errno as it was. */
    errno = EDOM;
    raise(SIGUSR1);
    CHECK_EQ(errno, EDOM);
    CHECK_EQ(wait_for_count(&hits, 2), 0);
    CHECK_EQ(corio_remove_signal_handler(SIGUSR1), 1);
    CHECK_EQ(corio_remove_signal_handler(SIGUSR1), 0);
    return 0;
}

static void test_handler_is_loop_callback(void) {
    main_thread = pthread_self();
    atomic_store(&hits, 0);
    test_run(wait_for_nothing, NULL, 0); /* the first loop opens what the library keeps for good */
    int fds = count_fds();
    CHECK_EQ(test_run(callback_main, NULL, 0), 0);
    CHECK_EQ(wrong_context, 0);
    CHECK_EQ(count_fds(), fds);
}

/* ---- storms -------------------------------------------------------------------------- */

static atomic_int storm_hits;
static void on_storm(int signum, void *arg) {
    (void)signum, (void)arg;
    atomic_fetch_add(&storm_hits, 1);
}

static void *storm_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 5000; i++) kill(getpid(), SIGUSR2);
    return NULL;
}

static int storm_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_add_signal_handler(SIGUSR2, on_storm, NULL), 0);
    /* 1,000 in a burst from the loop's own thread, without letting it run. */
    for (int i = 0; i < 1000; i++) kill(getpid(), SIGUSR2);
    CHECK_EQ(wait_for_count(&storm_hits, 1), 0);
    int after_burst = atomic_load(&storm_hits);
    CHECK(after_burst >= 1 && after_burst <= 1000);
    /* 5,000 more from another thread while the loop runs. */
    pthread_t th;
    pthread_create(&th, NULL, storm_thread, NULL);
    while (atomic_load(&storm_hits) == after_burst) corio_sleep(0.001);
    pthread_join(th, NULL);
    corio_sleep(0.01);
    /* And the loop still hears a single one afterwards. */
    int before = atomic_load(&storm_hits);
    kill(getpid(), SIGUSR2);
    CHECK_EQ(wait_for_count(&storm_hits, before + 1), 0);
    CHECK(atomic_load(&storm_hits) <= 6001);
    return 0;
}

static void test_storm(void) { CHECK_EQ(test_run(storm_main, NULL, 0), 0); }

/* ---- the previous disposition comes back -------------------------------------------------- */

static volatile sig_atomic_t prev_hits;
static void prev_handler(int signum) {
    (void)signum;
    prev_hits++;
}

static void (*current_handler(int signum))(int) {
    struct sigaction sa;
    sigaction(signum, NULL, &sa);
    return sa.sa_handler;
}

static atomic_int self_remove_hits;
static void on_self_remove(int signum, void *arg) {
    (void)arg;
    atomic_fetch_add(&self_remove_hits, 1);
    corio_remove_signal_handler(signum); /* from inside its own callback */
}

static int restore_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_add_signal_handler(SIGUSR1, on_usr1, &hits), 0);
    CHECK(current_handler(SIGUSR1) != prev_handler);
    CHECK_EQ(corio_add_signal_handler(SIGHUP, on_storm, NULL), 0);
    CHECK(current_handler(SIGHUP) != SIG_IGN);
    CHECK_EQ(corio_remove_signal_handler(SIGUSR1), 1);
    CHECK(current_handler(SIGUSR1) == prev_handler);
    CHECK_EQ(corio_remove_signal_handler(SIGHUP), 1);
    CHECK(current_handler(SIGHUP) == SIG_IGN);

    /* A handler that removes itself: the next signal goes to the old handler. */
    CHECK_EQ(corio_add_signal_handler(SIGUSR1, on_self_remove, NULL), 0);
    kill(getpid(), SIGUSR1);
    CHECK_EQ(wait_for_count(&self_remove_hits, 1), 0);
    CHECK(current_handler(SIGUSR1) == prev_handler);
    kill(getpid(), SIGUSR1);
    CHECK_EQ(prev_hits, 1);
    CHECK_EQ(atomic_load(&self_remove_hits), 1);

    /* Left registered: closing the loop removes it. */
    CHECK_EQ(corio_add_signal_handler(SIGUSR2, on_storm, NULL), 0);
    return 0;
}

static void test_remove_restores(void) {
    struct sigaction sa = {0}, old_usr1, old_hup, old_usr2;
    sa.sa_handler = prev_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old_usr1);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &sa, &old_hup);
    sigaction(SIGUSR2, NULL, &old_usr2);
    int fds = count_fds();
    CHECK_EQ(test_run(restore_main, NULL, 0), 0);
    CHECK(current_handler(SIGUSR2) == old_usr2.sa_handler);
    CHECK_EQ(count_fds(), fds);
    sigaction(SIGUSR1, &old_usr1, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    sigaction(SIGUSR2, &old_usr2, NULL);
}

/* ---- bad input ------------------------------------------------------------------------------ */

static int bad_main(void *arg) {
    (void)arg;
    CHECK_EQ(corio_add_signal_handler(SIGKILL, on_storm, NULL), -EINVAL);
    CHECK_EQ(corio_add_signal_handler(SIGSTOP, on_storm, NULL), -EINVAL);
    CHECK_EQ(corio_add_signal_handler(SIGSEGV, on_storm, NULL), -EINVAL);
    CHECK_EQ(corio_add_signal_handler(0, on_storm, NULL), -EINVAL);
    CHECK_EQ(corio_add_signal_handler(-1, on_storm, NULL), -EINVAL);
    CHECK_EQ(corio_add_signal_handler(NSIG, on_storm, NULL), -EINVAL);
    CHECK_EQ(corio_add_signal_handler(1000, on_storm, NULL), -EINVAL);
    CHECK_EQ(corio_add_signal_handler(SIGUSR1, NULL, NULL), -EINVAL);
    CHECK_EQ(corio_remove_signal_handler(0), -EINVAL);
    CHECK_EQ(corio_remove_signal_handler(SIGKILL), 0);
    CHECK_EQ(corio_remove_signal_handler(SIGTERM), 0);
    return 0;
}

static void test_bad_input(void) {
    CHECK_EQ(corio_add_signal_handler(SIGUSR1, on_storm, NULL), -EPERM);
    CHECK_EQ(corio_remove_signal_handler(SIGUSR1), -EPERM);
    CHECK_EQ(test_run(bad_main, NULL, 0), 0);
}

/* ---- two loops in two threads, each with its own signals ------------------------------------- */

typedef struct looper {
    int mysig;              /* the signal this loop registers */
    pthread_t th;
    atomic_int ready;       /* handlers registered */
    atomic_int got_mine;    /* its own signal */
    atomic_int got_hup;     /* the signal both registered */
    atomic_int got_wrong;   /* anything else, or on the wrong thread */
    atomic_int stop;
    int close_rc;
} looper;

static void looper_cb(int signum, void *arg) {
    looper *l = arg;
    if (!pthread_equal(pthread_self(), l->th))
        atomic_fetch_add(&l->got_wrong, 1);
    else if (signum == l->mysig)
        atomic_fetch_add(&l->got_mine, 1);
    else if (signum == SIGHUP)
        atomic_fetch_add(&l->got_hup, 1);
    else
        atomic_fetch_add(&l->got_wrong, 1);
}

static int looper_main(void *arg) {
    looper *l = arg;
    if (corio_add_signal_handler(l->mysig, looper_cb, l) < 0) return -EIO;
    if (corio_add_signal_handler(SIGHUP, looper_cb, l) < 0) return -EIO;
    atomic_store(&l->ready, 1);
    while (!atomic_load(&l->stop)) corio_sleep(0.001);
    return 0;
}

static void *looper_thread(void *arg) {
    looper *l = arg;
    sigset_t set; /* inherited blocked from the main thread */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    corio_loop *loop = corio_loop_new();
    corio_task *t = corio_loop_spawn(loop, looper_main, l, NULL);
    corio_loop_run_until_complete(loop, corio_task_future(t));
    corio_task_detach(t);
    l->close_rc = corio_loop_close(loop);
    return NULL;
}

static int wait_atomic(atomic_int *a, int want) {
    for (int i = 0; i < 5000 && atomic_load(a) < want; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return atomic_load(a);
}

static void test_two_loops_two_threads(void) {
    static looper a, b;
    a.mysig = SIGUSR1;
    b.mysig = SIGUSR2;
    /* Ignored before and after: once a loop closes and gives its signal
     * back, a late one of the storm must not kill the test. */
    struct sigaction ign = {0}, old_hup, old_usr1, old_usr2;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &ign, &old_hup);
    sigaction(SIGUSR1, &ign, &old_usr1);
    sigaction(SIGUSR2, &ign, &old_usr2);
    /* The main thread takes no signal: delivery goes to one of the loops'
     * threads, whichever the kernel picks - or to the other one on purpose. */
    sigset_t set, oldset;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &oldset);
    pthread_create(&a.th, NULL, looper_thread, &a);
    pthread_create(&b.th, NULL, looper_thread, &b);
    wait_atomic(&a.ready, 1);
    wait_atomic(&b.ready, 1);
    for (int round = 1; round <= 5; round++) {
        kill(getpid(), SIGUSR1);
        CHECK(wait_atomic(&a.got_mine, round) >= round);
        pthread_kill(a.th, SIGUSR2); /* delivered in A's thread, meant for B */
        CHECK(wait_atomic(&b.got_mine, round) >= round);
        kill(getpid(), SIGHUP); /* both asked for it */
        CHECK(wait_atomic(&a.got_hup, round) >= round);
        CHECK(wait_atomic(&b.got_hup, round) >= round);
    }
    /* A storm of each at once. */
    for (int i = 0; i < 500; i++) {
        pthread_kill(b.th, SIGUSR1);
        pthread_kill(a.th, SIGUSR2);
    }
    CHECK(wait_atomic(&a.got_mine, 6) >= 6);
    CHECK(wait_atomic(&b.got_mine, 6) >= 6);
    atomic_store(&a.stop, 1);
    atomic_store(&b.stop, 1);
    pthread_join(a.th, NULL);
    pthread_join(b.th, NULL);
    CHECK_EQ(atomic_load(&a.got_wrong), 0);
    CHECK_EQ(atomic_load(&b.got_wrong), 0);
    CHECK_EQ(a.close_rc, 0);
    CHECK_EQ(b.close_rc, 0);
    CHECK(current_handler(SIGHUP) == SIG_IGN);
    pthread_sigmask(SIG_SETMASK, &oldset, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    sigaction(SIGUSR2, &old_usr2, NULL);
}

/* ---- the graceful-shutdown example, driven by a signal ------------------------------------------ */

/* examples/graceful_shutdown next to this test's build directory
 * (build/tests/test_signal -> build/examples/graceful_shutdown), or
 * $CORIO_EXAMPLES_DIR. */
static int example_path(char *out, size_t cap) {
    const char *dir = getenv("CORIO_EXAMPLES_DIR");
    if (dir) return snprintf(out, cap, "%s/graceful_shutdown", dir) < (int)cap ? 0 : -1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    return snprintf(out, cap, "%s/../examples/graceful_shutdown", self) < (int)cap ? 0 : -1;
}

/* Run the example, send `sig` once it says it is ready; returns its log. */
static int run_service(const char *path, int sig, char *log, size_t cap, int *status) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(p[1], 1);
        execl(path, path, (char *)NULL);
        /* e.g. an AArch64 test under qemu-user cannot exec another AArch64 binary */
        dprintf(1, "exec failed\n");
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    int sent = 0;
    for (;;) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        int r = poll(&pfd, 1, 10000);
        if (r <= 0) break; /* 10 s without a line: give up (the wait below reaps it) */
        ssize_t k = read(p[0], log + len, cap - 1 - len);
        if (k <= 0) break;
        len += (size_t)k;
        log[len] = 0;
        if (!sent && strstr(log, "waiting for SIGINT or SIGTERM\n")) {
            kill(pid, sig);
            sent = 1;
        }
        if (len == cap - 1) break;
    }
    log[len] = 0;
    close(p[0]);
    if (!sent) kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return sent ? 0 : -1;
}

static void test_graceful_shutdown_example(void) {
    char path[PATH_MAX + 64];
    if (example_path(path, sizeof path) < 0 || access(path, X_OK) != 0) {
        printf("skip test_graceful_shutdown_example: %s not built\n", path);
        return;
    }
    int sigs[] = {SIGTERM, SIGINT};
    for (int i = 0; i < 2; i++) {
        char log[4096];
        int status = -1;
        int rs = run_service(path, sigs[i], log, sizeof log, &status);
        if (rs < 0 && strstr(log, "exec failed")) {
            printf("skip test_graceful_shutdown_example: cannot exec %s here\n", path);
            return;
        }
        CHECK_EQ(rs, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        const char *want[] = {
            "service: started, waiting for SIGINT or SIGTERM\n",
            i == 0 ? "service: got SIGTERM, shutting down\n" : "service: got SIGINT, shutting down\n",
            "worker-1: cancelled after ",
            "worker-2: cancelled after ",
            "service: flushing state\n",
            "service: shutdown complete\n",
            "service: exited cleanly\n",
        };
        const char *at = log;
        for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
            const char *hit = strstr(at, want[k]);
            if (!hit) fprintf(stderr, "graceful_shutdown: missing (in order) \"%s\" in:\n%s", want[k], log);
            CHECK(hit != NULL);
            if (hit) at = hit + strlen(want[k]);
        }
    }
}

int main(void) {
    RUN_TEST(test_graceful_shutdown_example);
    RUN_TEST(test_handler_is_loop_callback);
    RUN_TEST(test_storm);
    RUN_TEST(test_remove_restores);
    RUN_TEST(test_bad_input);
    RUN_TEST(test_two_loops_two_threads);
    TEST_MAIN_END();
}
