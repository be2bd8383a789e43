/*
 * procpool.c - a pool of worker processes (corio/procpool.h).
 *
 * Parent side: each worker is a slot holding its pid and the parent's end
 * of a Unix stream socket pair.  A semaphore with one unit per slot bounds
 * the jobs in flight; a task holding a unit is guaranteed a slot that is
 * not busy (idle, or dead and to be forked again).  A job is one request
 * frame and one reply frame on the socket, both driven by corio_send /
 * corio_recv, so the loop never blocks on a worker.
 *
 * Worker side: a forked copy of the program that runs worker_loop(): plain
 * blocking reads and writes on its end of the socket, never the loop.
 */
#include "os.h"
#include "corio/procpool.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 1024
#define JOB_MAGIC 0x636f726aU   /* "corj" */
#define REPLY_MAGIC 0x636f7272U /* "corr" */
#define WORKER_FD 3             /* where the worker keeps its end of the socket */
#define WORKER_STACK ((size_t)8 << 20)

/* ThreadSanitizer kills a forked child of a threaded program that starts a
 * thread, so under it a worker forked from a task runs jobs on that task's
 * stack (the tests' jobs need little). */
#if defined(__SANITIZE_THREAD__)
#define CORIO__PP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORIO__PP_TSAN 1
#endif
#endif
#ifndef CORIO__PP_TSAN
#define CORIO__PP_TSAN 0
#endif

/* The frame headers.  Both ends are the same program, so the layout is the
 * same on both sides; the magic numbers catch a stream out of step. */
struct job_hdr {
    uint32_t magic;   /* JOB_MAGIC */
    uint32_t fnsize;  /* sizeof(corio_proc_fn), checked by the worker */
    uint64_t fn;      /* the function pointer's bytes */
    uint64_t len;     /* input bytes that follow */
};

struct reply_hdr {
    uint32_t magic;   /* REPLY_MAGIC */
    int32_t status;   /* >= 0 success (fn's return value), < 0 the item's error */
    uint64_t len;     /* output bytes that follow (0 when status < 0) */
};

enum { W_DEAD = 0, W_IDLE, W_BUSY };

struct worker {
    pid_t pid;  /* the worker process, or 0 when there is none */
    int fd;     /* the parent's end of the socket pair, or -1 */
    int state;  /* W_DEAD (no process), W_IDLE, W_BUSY (a task owns it) */
};

struct corio_procpool {
    struct worker *w;     /* nworkers slots */
    int nworkers;         /* slots; fixed at creation */
    int shut;             /* corio_procpool_shutdown was called */
    int users;            /* run / map calls in progress (free refuses while > 0) */
    corio_semaphore sem;  /* one unit per slot not busy */
};

/* How an exchange with a worker ended, which decides what becomes of it. */
enum { KEEP = 0, DIED, KILL };

/* ---- the worker process --------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len) {
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r > 0) got += (size_t)r;
        else if (r == 0) return got == 0 ? 0 : -EPIPE; /* 0: clean end between frames */
        else if (errno != EINTR) return -errno;
    }
    return 1;
}

static int write_full(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t r = send(fd, p, len, MSG_NOSIGNAL);
        if (r > 0) {
            p += r;
            len -= (size_t)r;
        } else if (r < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/* Read and discard len bytes (an input the worker had no memory for). */
static int drain(int fd, uint64_t len) {
    char buf[4096];
    while (len > 0) {
        size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
        if (read_full(fd, buf, n) != 1) return -EPIPE;
        len -= n;
    }
    return 0;
}

static void *worker_loop(void *unused) {
    (void)unused;
    for (;;) {
        struct job_hdr h;
        int r = read_full(WORKER_FD, &h, sizeof h);
        if (r == 0) _exit(0); /* the parent closed the channel: shutdown */
        if (r < 0) _exit(3);
        if (h.magic != JOB_MAGIC || h.fnsize != sizeof(corio_proc_fn) || h.len > CORIO_PROCPOOL_MAX_FRAME)
            _exit(4); /* cannot happen unless memory was corrupted: stop */
        corio_proc_fn fn;
        memcpy(&fn, &h.fn, sizeof fn);
        void *in = h.len ? malloc((size_t)h.len) : NULL;
        int status = 0;
        void *out = NULL;
        size_t out_len = 0;
        if (h.len && !in) {
            if (drain(WORKER_FD, h.len) < 0) _exit(3);
            status = -ENOMEM;
        } else {
            if (h.len && read_full(WORKER_FD, in, (size_t)h.len) != 1) _exit(3);
            status = fn(in, (size_t)h.len, &out, &out_len);
            free(in);
            if (status >= 0 && out_len > CORIO_PROCPOOL_MAX_FRAME) status = -EMSGSIZE;
            if (status >= 0 && out_len > 0 && !out) status = -EINVAL;
            if (status < 0) {
                free(out);
                out = NULL;
                out_len = 0;
            }
        }
        fflush(stdout);
        fflush(stderr);
        struct reply_hdr rh = {REPLY_MAGIC, status, out_len};
        if (write_full(WORKER_FD, &rh, sizeof rh) < 0 || (out_len && write_full(WORKER_FD, out, out_len) < 0))
            _exit(3);
        free(out);
    }
    return NULL;
}

/* Close every descriptor from `from` up. */
static void close_from(int from) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0) return;
#endif
    struct rlimit rl;
    long max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
        max = (long)rl.rlim_cur;
    for (long fd = from; fd < max; fd++) close((int)fd);
}

/* The child's side of the fork.  Runs on the stack of whoever forked: a
 * task's stack (256 KiB by default) when the pool was created or a worker
 * replaced from a task, so the jobs then run on a thread of their own with
 * a stack as large as a main thread's. */
static _Noreturn void worker_main(int fd, int on_task_stack) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL); /* the library's overflow handler is gone */

    if (fd != WORKER_FD) {
        if (dup2(fd, WORKER_FD) < 0) _exit(2);
    } else {
        fcntl(WORKER_FD, F_SETFD, 0);
    }
    close_from(WORKER_FD + 1); /* the loop's epoll and eventfds, other workers' sockets, ... */
    int fl = fcntl(WORKER_FD, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(WORKER_FD, F_SETFL, fl & ~O_NONBLOCK);

    if (on_task_stack && !CORIO__PP_TSAN) {
        pthread_attr_t attr;
        pthread_t th;
        if (pthread_attr_init(&attr) == 0 && pthread_attr_setstacksize(&attr, WORKER_STACK) == 0 &&
            pthread_create(&th, &attr, worker_loop, NULL) == 0) {
            pthread_join(th, NULL);
            _exit(0);
        }
    }
    worker_loop(NULL);
    _exit(0);
}

/* ---- the parent: worker slots ------------------------------------------- */

/* Fork a worker into slot w.  0 or a negative errno (the slot stays dead). */
static int spawn_worker(struct worker *w) {
    assert(w->state == W_DEAD && w->pid == 0 && w->fd < 0);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
    /* What the parent buffered would otherwise be printed by both. */
    fflush(stdout);
    fflush(stderr);
    int in_task = corio_current_task() != NULL;
    pid_t pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(sv[0]);
        close(sv[1]);
        return err;
    }
    if (pid == 0) {
        close(sv[0]);
        worker_main(sv[1], in_task);
    }
    close(sv[1]);
    int fl = fcntl(sv[0], F_GETFL);
    if (fl >= 0) fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
    w->pid = pid;
    w->fd = sv[0];
    w->state = W_IDLE;
    return 0;
}

/* Close the parent's end, through the loop when one runs here (it may have
 * registered the descriptor). */
static void close_channel(struct worker *w) {
    if (w->fd < 0) return;
    if (corio_loop_current()) corio_close(w->fd);
    else close(w->fd);
    w->fd = -1;
}

/* Wait for pid; after a grace period of about 2 s, kill it.  Returns the
 * wait status, or -1 when someone else reaped it. */
static int reap(pid_t pid, int grace) {
    int status = 0;
    if (grace) {
        struct timespec nap = {0, 20000}; /* 20 us, doubling to 10 ms */
        for (long waited = 0; waited < 2000000000L; waited += nap.tv_nsec) {
            pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid) return status;
            if (r < 0 && errno != EINTR) return -1;
            nanosleep(&nap, NULL);
            if (nap.tv_nsec < 10000000) nap.tv_nsec *= 2;
        }
        kill(pid, SIGKILL);
    }
    for (;;) {
        pid_t r = waitpid(pid, &status, 0);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
    }
}

/* Take a worker out of service: close its channel, kill it when asked,
 * reap it.  Returns the wait status (or -1). */
static int retire(struct worker *w, int how) {
    int status = -1;
    close_channel(w);
    if (w->pid > 0) {
        /* A worker whose channel broke (DIED) is normally exiting already:
         * SIGKILL does not change the status of a process past that point,
         * and it stops one that merely closed its end and kept running. */
        if (how != KEEP) kill(w->pid, SIGKILL);
        status = reap(w->pid, how == KEEP);
    }
    w->pid = 0;
    w->state = W_DEAD;
    return status;
}

static void report_death(pid_t pid, int status) {
    if (status == -1)
        corio__log(CORIO_LOG_WARNING, "process pool: worker %d died during a job (reaped elsewhere); replacing it",
                   (int)pid);
    else if (WIFSIGNALED(status))
        corio__log(CORIO_LOG_WARNING, "process pool: worker %d was killed by signal %d (%s) during a job; replacing it",
                   (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        corio__log(CORIO_LOG_WARNING, "process pool: worker %d exited with status %d during a job; replacing it",
                   (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* A task gives back the worker it used; `how` says how the job ended. */
static void release_worker(corio_procpool *pool, struct worker *w, int how) {
    assert(w->state == W_BUSY);
    if (how == KEEP && !pool->shut) {
        w->state = W_IDLE;
    } else {
        pid_t pid = w->pid;
        int status = retire(w, how);
        if (how == DIED) report_death(pid, status);
        /* A replacement now; if the fork fails, the next job retries. */
        if (how != KEEP && !pool->shut) spawn_worker(w);
    }
    corio_semaphore_release(&pool->sem);
}

/* ---- the parent: one job -------------------------------------------------- */

static int send_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t r = corio_send(fd, p, len, MSG_NOSIGNAL);
        if (r < 0) return (int)r;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* 0, -EPIPE at end of stream (the worker is gone), or corio_recv's error. */
static int recv_all(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t r = corio_recv(fd, p, len, 0);
        if (r == 0) return -EPIPE;
        if (r < 0) return (int)r;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* What an error of the channel says about the worker. */
static int channel_error(int err, int *how) {
    if (err == -EPIPE || err == -ECONNRESET) {
        *how = DIED;
        return -ECHILD;
    }
    *how = KILL; /* cancelled, or a local failure halfway through a frame */
    return err;
}

/* Send one job to w and take its reply.  Returns the item's outcome and
 * sets *how. */
static int exchange(struct worker *w, corio_proc_fn fn, const void *in, size_t in_len, void **out,
                    size_t *out_len, int *how) {
    struct job_hdr h = {JOB_MAGIC, (uint32_t)sizeof fn, 0, in_len};
    memcpy(&h.fn, &fn, sizeof fn);
    int rc = send_all(w->fd, &h, sizeof h);
    if (rc == 0 && in_len) rc = send_all(w->fd, in, in_len);
    if (rc < 0) return channel_error(rc, how);

    struct reply_hdr rh;
    rc = recv_all(w->fd, &rh, sizeof rh);
    if (rc < 0) return channel_error(rc, how);
    if (rh.magic != REPLY_MAGIC || rh.len > CORIO_PROCPOOL_MAX_FRAME || (rh.status < 0 && rh.len != 0)) {
        corio__log(CORIO_LOG_WARNING, "process pool: malformed reply from worker %d; replacing it", (int)w->pid);
        *how = KILL;
        return -EPROTO;
    }
    void *buf = NULL;
    if (rh.len) {
        if (!(buf = corio__malloc((size_t)rh.len))) {
            *how = KILL; /* the rest of the frame is still in the socket */
            return -ENOMEM;
        }
        rc = recv_all(w->fd, buf, (size_t)rh.len);
        if (rc < 0) {
            corio__free(buf);
            return channel_error(rc, how);
        }
    }
    *how = KEEP;
    if (rh.status < 0) return rh.status;
    *out = buf;
    *out_len = (size_t)rh.len;
    return rh.status;
}

/* Run one item: wait for a worker, run the job, give the worker back. */
static int run_one(corio_procpool *pool, corio_proc_fn fn, const void *in, size_t in_len, void **out,
                   size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (pool->shut) return -ESHUTDOWN;
    if (in_len > CORIO_PROCPOOL_MAX_FRAME) return -EMSGSIZE;
    int rc = corio_semaphore_acquire(&pool->sem);
    if (rc < 0) return rc;
    if (pool->shut) {
        corio_semaphore_release(&pool->sem);
        return -ESHUTDOWN;
    }
    struct worker *w = NULL;
    for (int i = 0; i < pool->nworkers && !w; i++)
        if (pool->w[i].state == W_IDLE) w = &pool->w[i];
    for (int i = 0; i < pool->nworkers && !w; i++)
        if (pool->w[i].state == W_DEAD) w = &pool->w[i];
    assert(w); /* a unit of the semaphore stands for a slot not busy */
    if (w->state == W_DEAD && (rc = spawn_worker(w)) < 0) {
        corio_semaphore_release(&pool->sem);
        return rc;
    }
    w->state = W_BUSY;
    int how = KEEP;
    /* A virtual clock does not jump while the worker computes: its time
     * is real, as an executor job's (corio_loop_use_virtual_clock). */
    corio_loop *loop = corio__cur_loop;
    loop->clock_holds++;
    rc = exchange(w, fn, in, in_len, out, out_len, &how);
    loop->clock_holds--;
    release_worker(pool, w, how);
    return rc;
}

/* ---- the public functions ------------------------------------------------- */

int corio_procpool_default_size(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (n > MAX_WORKERS ? MAX_WORKERS : (int)n) : 1;
}

corio_procpool *corio_procpool_new(int nworkers) {
    if (nworkers < 0 || nworkers > MAX_WORKERS) {
        errno = corio__bad(EINVAL, "corio_procpool_new: %d workers (0 to %d)", nworkers, MAX_WORKERS);
        return NULL;
    }
    if (nworkers == 0) nworkers = corio_procpool_default_size();
    if (nworkers > MAX_WORKERS) nworkers = MAX_WORKERS;
    corio_procpool *pool = corio__calloc(1, sizeof *pool);
    struct worker *w = corio__calloc((size_t)nworkers, sizeof *w);
    if (!pool || !w) {
        corio__free(pool);
        corio__free(w);
        errno = ENOMEM;
        return NULL;
    }
    pool->w = w;
    pool->nworkers = nworkers;
    corio_semaphore_init(&pool->sem, nworkers);
    for (int i = 0; i < nworkers; i++) w[i].fd = -1;
    for (int i = 0; i < nworkers; i++) {
        int rc = spawn_worker(&w[i]);
        if (rc < 0) {
            for (int j = 0; j < i; j++) close_channel(&w[j]);
            for (int j = 0; j < i; j++) retire(&w[j], KEEP);
            corio_semaphore_destroy(&pool->sem);
            corio__free(w);
            corio__free(pool);
            errno = -rc;
            return NULL;
        }
    }
    return pool;
}

int corio_procpool_size(const corio_procpool *pool) { return pool ? pool->nworkers : -EINVAL; }

int corio_procpool_run(corio_procpool *pool, corio_proc_fn fn, const void *in, size_t in_len, void **out,
                       size_t *out_len) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!pool || !fn || !out || !out_len || (!in && in_len))
        return corio__bad(-EINVAL, "corio_procpool_run: NULL argument");
    if (!corio_current_task()) return corio__bad(-EPERM, "corio_procpool_run: not called from a task");
    if (pool->shut) return corio__bad(-ESHUTDOWN, "corio_procpool_run: the pool was shut down");
    pool->users++;
    int rc = run_one(pool, fn, in, in_len, out, out_len);
    pool->users--;
    return rc;
}

/* What the tasks of one map share; lives on the caller's stack, which
 * outlives them (the caller joins them all before returning). */
struct map_state {
    corio_procpool *pool;
    corio_proc_fn fn;
    const void *const *inputs;
    const size_t *input_lens;
    size_t n;
    void **outputs;
    size_t *output_lens;
    int *errors;   /* n entries: the caller's, or scratch */
    size_t next;   /* the next item to start */
};

/* One of up to `nworkers` tasks of a map: takes items in order until none
 * is left.  Items are taken before waiting for a worker, so they start in
 * input order. */
static int map_runner(void *arg) {
    struct map_state *st = arg;
    while (st->next < st->n) {
        size_t i = st->next++;
        int rc = run_one(st->pool, st->fn, st->inputs[i], st->input_lens[i], &st->outputs[i],
                         &st->output_lens[i]);
        st->errors[i] = rc < 0 ? rc : 0;
        if (rc == -ECANCELED) return rc;
    }
    return 0;
}

int corio_procpool_map(corio_procpool *pool, corio_proc_fn fn, const void *const *inputs,
                       const size_t *input_lens, size_t n, void **outputs, size_t *output_lens, int *errors) {
    if (!pool || !fn || (n && (!inputs || !input_lens || !outputs || !output_lens)))
        return corio__bad(-EINVAL, "corio_procpool_map: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!inputs[i] && input_lens[i]) return corio__bad(-EINVAL, "corio_procpool_map: input %zu is NULL", i);
    if (!corio_current_task()) return corio__bad(-EPERM, "corio_procpool_map: not called from a task");
    if (pool->shut) return corio__bad(-ESHUTDOWN, "corio_procpool_map: the pool was shut down");
    if (n == 0) return 0;

    int *errs = errors;
    if (!errs && !(errs = corio__malloc(n * sizeof *errs))) return -ENOMEM;
    size_t ntasks = n < (size_t)pool->nworkers ? n : (size_t)pool->nworkers;
    corio_task **tasks = corio__malloc(ntasks * sizeof *tasks);
    corio_future **futs = corio__malloc(ntasks * sizeof *futs);
    if (!tasks || !futs) {
        corio__free(tasks);
        corio__free(futs);
        if (errs != errors) corio__free(errs);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        outputs[i] = NULL;
        output_lens[i] = 0;
        errs[i] = -ECANCELED; /* until the item has run */
    }
    struct map_state st = {pool, fn, inputs, input_lens, n, outputs, output_lens, errs, 0};
    corio_task_opts opts = {.name = "procpool-map", .stack_size = 0, .eager = -1}; /* internal: never eager */
    size_t started = 0;
    for (; started < ntasks; started++) {
        if (!(tasks[started] = corio_spawn_opts(map_runner, &st, &opts))) break;
        futs[started] = corio_task_future(tasks[started]);
    }
    int rc = 0;
    if (started == 0) {
        rc = -ENOMEM;
    } else {
        pool->users++;
        /* Cancelling us cancels every runner; each then kills the worker
         * it was using, and the joins below wait for that. */
        rc = corio_gather(futs, started, CORIO_GATHER_COLLECT);
        for (size_t i = 0; i < started; i++) corio_join(tasks[i]);
        pool->users--;
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            if (errs[i] < 0) rc++;
    }
    corio__free(tasks);
    corio__free(futs);
    if (errs != errors) corio__free(errs);
    return rc;
}

int corio_procpool_shutdown(corio_procpool *pool) {
    if (!pool) return corio__bad(-EINVAL, "corio_procpool_shutdown: NULL pool");
    if (pool->shut) return 0;
    pool->shut = 1;
    /* Close every idle channel first so that the workers exit together. */
    for (int i = 0; i < pool->nworkers; i++)
        if (pool->w[i].state == W_IDLE) close_channel(&pool->w[i]);
    for (int i = 0; i < pool->nworkers; i++)
        if (pool->w[i].state == W_IDLE) retire(&pool->w[i], KEEP);
    return 0;
}

int corio_procpool_free(corio_procpool *pool) {
    if (!pool) return corio__bad(-EINVAL, "corio_procpool_free: NULL pool");
    if (pool->users > 0) return corio__bad(-EBUSY, "corio_procpool_free: the pool is in use");
    corio_procpool_shutdown(pool);
    for (int i = 0; i < pool->nworkers; i++)
        if (pool->w[i].state != W_DEAD) retire(&pool->w[i], KEEP);
    corio_semaphore_destroy(&pool->sem);
    corio__free(pool->w);
    corio__free(pool);
    return 0;
}
