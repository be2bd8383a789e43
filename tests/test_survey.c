/*
 * The survey example against real servers the test starts on 127.0.0.1:
 * Python's http.server (answers OPTIONS with 501, "Server: SimpleHTTP/0.6
 * Python/..."), nginx from Debian's package when installed (405,
 * "Server: nginx/1.22.1"; skipped with a message otherwise), two of our
 * own in a forked child running a corio stream server (one with
 * "Server: corio-test/1.0", one without a Server header), plus a port
 * with no listener (refused), a listener that never accepts nor answers
 * (timed out, with -t 1), and a name that cannot resolve.  Checks the
 * exact stdout lines, the exit status, that the semaphore bounds the
 * concurrency, and bad usage.  Every child process is killed and reaped
 * whatever the checks say (and dies with the test if the test is killed).
 */
#include "test.h"
#include "net_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char survey_path[PATH_MAX + 32];
static char tmpdir[] = "/tmp/corio-survey-XXXXXX";

/* ---- child processes ---------------------------------------------------------------- */

static pid_t kids[8];
static int nkids;

static void kill_kids(void) {
    for (int i = 0; i < nkids; i++) {
        if (kids[i] <= 0) continue;
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
        kids[i] = 0;
    }
    nkids = 0;
}

/* fork; the child dies with the test (PR_SET_PDEATHSIG) and gets /dev/null
 * for stdin, stdout and stderr.  Returns 0 in the child. */
static pid_t fork_kid(void) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2) close(null);
        return 0;
    }
    if (pid > 0 && nkids < (int)(sizeof kids / sizeof kids[0])) kids[nkids++] = pid;
    return pid;
}

/* ---- sockets ---------------------------------------------------------------------------- */

/* A TCP socket bound to a free 127.0.0.1 port, listening if backlog > 0. */
static int bound_socket(int backlog, int *port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) abort();
    if (backlog > 0 && listen(s, backlog) < 0) abort();
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return s;
}

static int free_port(void) {
    int port;
    close(bound_socket(0, &port));
    return port;
}

/* Wait until something accepts connections on 127.0.0.1:port, or `pid` exits. */
static bool wait_listening(int port, pid_t pid, double seconds) {
    for (int i = 0; i < seconds * 20; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int rc = connect(s, (struct sockaddr *)&a, sizeof a);
        close(s);
        if (rc == 0) return true;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            for (int k = 0; k < nkids; k++)
                if (kids[k] == pid) kids[k] = 0;
            return false;
        }
        usleep(50000);
    }
    return false;
}

/* ---- the servers ---------------------------------------------------------------------- */

static int python_server(void) {
    int port = free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    pid_t pid = fork_kid();
    if (pid == 0) {
        if (chdir(tmpdir) != 0) _exit(127);
        execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1", p, (char *)NULL);
        _exit(127);
    }
    return wait_listening(port, pid, 20) ? port : -1;
}

/* nginx in the foreground, one process, everything under tmpdir.  0: not installed. */
static int nginx_server(void) {
    const char *bin = access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : NULL;
    if (!bin) return 0;
    int port = free_port();
    char conf[PATH_MAX], errlog[PATH_MAX], global[PATH_MAX + 64];
    snprintf(conf, sizeof conf, "%s/nginx.conf", tmpdir);
    snprintf(errlog, sizeof errlog, "%s/nginx-error.log", tmpdir);
    FILE *f = fopen(conf, "w");
    if (!f) return -1;
    fprintf(f,
            "error_log %s/nginx-error.log;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            "    access_log off;\n"
            "    client_body_temp_path %s/body;\n"
            "    proxy_temp_path %s/proxy;\n"
            "    fastcgi_temp_path %s/fastcgi;\n"
            "    uwsgi_temp_path %s/uwsgi;\n"
            "    scgi_temp_path %s/scgi;\n"
            "    server { listen 127.0.0.1:%d; root %s; }\n"
            "}\n",
            tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, port, tmpdir);
    fclose(f);
    snprintf(global, sizeof global, "daemon off; master_process off; pid %s/nginx.pid;", tmpdir);
    pid_t pid = fork_kid();
    if (pid == 0) {
        execl(bin, "nginx", "-p", tmpdir, "-c", conf, "-e", errlog, "-g", global, (char *)NULL);
        _exit(127);
    }
    return wait_listening(port, pid, 20) ? port : -1;
}

/* Our own servers: a corio stream server per listening socket, in a child. */
static int own_handler(corio_reader *r, corio_writer *w, void *arg) {
    const char *answer = arg;
    const char *head;
    size_t len;
    if (corio_reader_readuntil(r, "\r\n\r\n", 4, &head, &len) == 0) corio_writer_write(w, answer, strlen(answer));
    return 0; /* the server closes the connection after the answer */
}

typedef struct own_args {
    int fd_product, fd_none;
} own_args;

static int own_main(void *arg) {
    own_args *a = arg;
    corio_server *s1, *s2;
    if (corio_server_open(a->fd_product, own_handler,
                          "HTTP/1.1 200 OK\r\nServer: corio-test/1.0\r\nContent-Length: 0\r\n\r\n", NULL, &s1) < 0 ||
        corio_server_open(a->fd_none, own_handler,
                          "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\n\r\n", NULL, &s2) < 0)
        return -1;
    return corio_server_serve_forever(s1); /* until the test kills the process */
}

static bool own_servers(int *port_product, int *port_none) {
    own_args a = {bound_socket(64, port_product), bound_socket(64, port_none)};
    pid_t pid = fork_kid();
    if (pid == 0) _exit(corio_run(own_main, &a) < 0 ? 1 : 0);
    close(a.fd_product);
    close(a.fd_none);
    return wait_listening(*port_product, pid, 10) && wait_listening(*port_none, pid, 10);
}

/* ---- a gate: our own listener, in a thread, that accepts and never answers ---------- */

/*
 * It holds the connections it accepts and counts how many are open at
 * once (a connection the survey closed reads as end of file).  As soon as
 * `want` are open together - or after `deadline` seconds, to end a case
 * that would otherwise wait for the survey's timeout - it closes them all
 * (the survey hears a reset: an error) and closes any later one at once.
 * It returns once it has accepted `want` and holds none, or after
 * deadline + 10 s.
 */
typedef struct gate {
    int fd;          /* listening */
    int want;
    double deadline; /* seconds */
    int max_open;    /* the most connections open at the same time */
    int accepted;
} gate;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The peer has not closed its side (what it sent is read and dropped). */
static bool peer_open(int c) {
    char b[512];
    ssize_t n;
    while ((n = recv(c, b, sizeof b, MSG_DONTWAIT)) > 0) {
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void *gate_thread(void *arg) {
    gate *g = arg;
    int held[16], nheld = 0;
    bool released = false;
    double t0 = now_s();
    while (!(g->accepted >= g->want && nheld == 0) && now_s() - t0 < g->deadline + 10) {
        struct pollfd p = {g->fd, POLLIN, 0};
        poll(&p, 1, 10);
        int c;
        while ((c = accept4(g->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
            g->accepted++;
            if (released || nheld == (int)(sizeof held / sizeof *held))
                close(c);
            else
                held[nheld++] = c;
        }
        for (int i = 0; i < nheld;)
            if (peer_open(held[i])) {
                i++;
            } else {
                close(held[i]);
                held[i] = held[--nheld];
            }
        if (nheld > g->max_open) g->max_open = nheld;
        if (!released && (nheld >= g->want || now_s() - t0 > g->deadline)) {
            released = true;
            while (nheld > 0) close(held[--nheld]);
        }
    }
    while (nheld > 0) close(held[--nheld]);
    return NULL;
}

/* ---- running survey ------------------------------------------------------------------- */

typedef struct result {
    int status;      /* exit status; -1: killed after the deadline */
    char out[4096];  /* stdout */
    char err[4096];  /* stderr */
} result;

static void slurp(const char *path, char *buf, size_t cap) {
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Run survey with argv (NULL-terminated, without the program) and hosts as HOSTFILE. */
static void run_survey(const char *hosts, char *const args[], result *res) {
    char hostfile[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX];
    snprintf(hostfile, sizeof hostfile, "%s/hosts", tmpdir);
    snprintf(outp, sizeof outp, "%s/out", tmpdir);
    snprintf(errp, sizeof errp, "%s/err", tmpdir);
    FILE *f = fopen(hostfile, "w");
    if (f) {
        fputs(hosts, f);
        fclose(f);
    }
    char *argv[16] = {survey_path};
    int n = 1;
    while (args[n - 1] && n < 14) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = hostfile;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(e, 2);
        execv(survey_path, argv);
        _exit(127);
    }
    res->status = -1;
    for (int i = 0; i < 3000; i++) { /* 30 s: never a hang */
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        usleep(10000);
    }
    if (res->status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    slurp(outp, res->out, sizeof res->out);
    slurp(errp, res->err, sizeof res->err);
}

/* Split off the last line "elapsed S s" of out and return S (-1 if malformed). */
static double take_elapsed(char *out) {
    size_t len = strlen(out);
    if (len == 0 || out[len - 1] != '\n') return -1;
    out[len - 1] = 0;
    char *last = strrchr(out, '\n');
    last = last ? last + 1 : out;
    double s = -1;
    char unit[8] = "", extra;
    if (sscanf(last, "elapsed %lf %7s%c", &s, unit, &extra) != 2 || strcmp(unit, "s") != 0) s = -1;
    *last = 0;
    return s;
}

static void check_output(const result *r, const char *want_out, double min_s, double max_s) {
    char out[sizeof r->out];
    memcpy(out, r->out, sizeof out);
    double s = take_elapsed(out);
    if (r->status != 0 || strcmp(out, want_out) != 0 || s < min_s || s > max_s) {
        fprintf(stderr, "survey: status %d, elapsed %.2f (want %.1f..%.1f)\nstdout:\n%s\nwanted:\n%s\nstderr:\n%s\n",
                r->status, s, min_s, max_s, r->out, want_out, r->err);
        test_failures++;
    }
}

/* ---- cases ---------------------------------------------------------------------------- */

static void test_survey_servers(void) {
    int py = python_server();
    CHECK(py > 0);
    int ngx = nginx_server();
    if (ngx == 0) printf("  skip nginx: /usr/sbin/nginx not installed (scripts/deps.sh installs nginx-light)\n");
    CHECK(ngx >= 0);
    int own = -1, none = -1;
    CHECK(own_servers(&own, &none));
    int silent_port, refused_port;
    int silent = bound_socket(16, &silent_port); /* listens, never accepts: the handshake completes, no answer */
    int refused = bound_socket(0, &refused_port); /* bound, not listening: the port stays ours, and refuses */

    char hosts[1024];
    int n = snprintf(hosts, sizeof hosts,
                     "# servers started by test_survey\n"
                     "\n"
                     "127.0.0.1:%d\n"
                     "  127.0.0.1:%d  \n"
                     "localhost:%d\n"
                     "127.0.0.1:%d\n"
                     "   # refused, timed out, unresolvable\n"
                     "127.0.0.1:%d\n"
                     "127.0.0.1:%d\n"
                     "nonexistent.invalid\n",
                     py, own, own, none, refused_port, silent_port);
    if (ngx > 0) snprintf(hosts + n, sizeof hosts - (size_t)n, "localhost:%d\n", ngx);
    result r;
    run_survey(hosts, (char *[]){"-t", "1", NULL}, &r);
    /* Ties by name in byte order: '(' < 'S' < 'n'. */
    check_output(&r,
                 ngx > 0 ? "2 corio-test\n1 (none)\n1 SimpleHTTP\n1 nginx\nerrors 3\n"
                         : "2 corio-test\n1 (none)\n1 SimpleHTTP\nerrors 3\n",
                 0.9, 25); /* at least the silent host's -t 1; the upper bound only catches a hang */
    /* Each error explained on stderr. */
    CHECK(strstr(r.err, "refused") != NULL);
    CHECK(strstr(r.err, "nonexistent.invalid") != NULL);
    char silent_line[64];
    snprintf(silent_line, sizeof silent_line, "127.0.0.1:%d: ", silent_port);
    CHECK(strstr(r.err, silent_line) != NULL);

    /* The semaphore: two silent hosts under -t 1 take 2 s one at a time
     * (timeouts never fire early: a lower bound is deterministic). */
    snprintf(hosts, sizeof hosts, "127.0.0.1:%d\nlocalhost:%d\n", silent_port, silent_port);
    run_survey(hosts, (char *[]){"-c", "1", "-t", "1", NULL}, &r);
    check_output(&r, "errors 2\n", 1.95, 25);
    /* ... and with -c 2 both are surveyed at once: the gate sees two
     * connections open together, then closes them (two errors, at once -
     * long before the 30 s timeout).  Not a duration: an elapsed time under
     * 2 s said the same, but also failed whenever the machine was busy. */
    int gate_port;
    gate g = {.fd = bound_socket(16, &gate_port), .want = 2, .deadline = 10};
    fcntl(g.fd, F_SETFL, O_NONBLOCK);
    pthread_t gt;
    CHECK_EQ(pthread_create(&gt, NULL, gate_thread, &g), 0);
    snprintf(hosts, sizeof hosts, "127.0.0.1:%d\nlocalhost:%d\n", gate_port, gate_port);
    run_survey(hosts, (char *[]){"-c", "2", "-t", "30", NULL}, &r);
    pthread_join(gt, NULL);
    check_output(&r, "errors 2\n", 0, 25);
    CHECK_EQ(g.accepted, 2);
    CHECK_EQ(g.max_open, 2);
    close(g.fd);

    close(silent);
    close(refused);
    kill_kids();
}

static void test_survey_usage(void) {
    result r;
    run_survey("", (char *[]){"-c", "0", NULL}, &r);
    CHECK_EQ(r.status, 2);
    CHECK_EQ(r.out[0], 0);
    run_survey("", (char *[]){"-x", NULL}, &r);
    CHECK_EQ(r.status, 2);
    /* An empty host list: nothing to count, still a report. */
    run_survey("# nothing\n\n", (char *[]){NULL}, &r);
    check_output(&r, "errors 0\n", 0, 25);
    /* A malformed entry is an error, the rest goes on. */
    run_survey("127.0.0.1:99999\nnonexistent.invalid:80\n", (char *[]){NULL}, &r);
    check_output(&r, "errors 2\n", 0, 25);
    /* HOSTFILE that does not exist: exit 1. */
    char *argv[] = {survey_path, "/nonexistent/hosts", NULL};
    pid_t pid = fork_kid();
    if (pid == 0) {
        execv(survey_path, argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    nkids = 0;
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

/* HOSTFILE that opens but cannot be read - a directory (EISDIR), a read
 * that fails (EIO from /proc/self/mem), no permission (unless root, who
 * may read anything) - exit 1, say why on stderr, survey nothing. */
static void test_survey_unreadable(void) {
    char noperm[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX];
    snprintf(noperm, sizeof noperm, "%s/noperm", tmpdir);
    snprintf(outp, sizeof outp, "%s/out", tmpdir);
    snprintf(errp, sizeof errp, "%s/err", tmpdir);
    int fd = open(noperm, O_WRONLY | O_CREAT | O_TRUNC, 0);
    CHECK(fd >= 0 && write(fd, "127.0.0.1:1\n", 12) == 12);
    if (fd >= 0) close(fd);
    const char *paths[] = {tmpdir, "/proc/self/mem", geteuid() != 0 ? noperm : NULL};
    const int why[] = {EISDIR, EIO, EACCES};
    for (int i = 0; i < 3; i++) {
        if (!paths[i]) continue;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(o, 1);
            dup2(e, 2);
            execl(survey_path, survey_path, paths[i], (char *)NULL);
            _exit(127);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        result r;
        slurp(outp, r.out, sizeof r.out);
        slurp(errp, r.err, sizeof r.err);
        char want[PATH_MAX + 64];
        snprintf(want, sizeof want, "survey: %s: cannot read: %s\n", paths[i], strerror(why[i]));
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || strcmp(r.err, want) != 0 || r.out[0]) {
            fprintf(stderr, "survey %s: status %d\nstdout:\n%s\nstderr:\n%s\nwanted stderr:\n%s", paths[i], st, r.out,
                    r.err, want);
            test_failures++;
        }
    }
}

static void remove_tmpdir(void) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(int argc, char **argv) {
    (void)argc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    /* The examples are built beside the tests: <build>/examples. */
    example_path_of(survey_path, sizeof survey_path, argv[0], "survey");
    if (!example_can_run(survey_path)) {
        printf("skip: cannot run %s\n", survey_path);
        return 77;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(remove_tmpdir);
    atexit(kill_kids);
    RUN_NET_TEST(test_survey_servers);
    RUN_NET_TEST(test_survey_usage);
    RUN_NET_TEST(test_survey_unreadable);
    TEST_MAIN_END();
}
