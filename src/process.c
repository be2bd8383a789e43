/*
 * process.c - child processes (asyncio's subprocess module).
 *
 * Spawning.  posix_spawn: glibc runs the child on a vfork-style clone and
 * reports a failed exec as the call's own error after reaping the child,
 * which gives us "a command that does not exist is -ENOENT, no zombie"
 * without a hand-made CLOEXEC error pipe.  The child's ends of the pipes
 * are moved to descriptors >= 3 first: a parent that closed its own stdio
 * could otherwise get a pipe end at 0..2, and the dup2 onto one standard
 * descriptor would clobber another's source.
 *
 * Exit.  Preferably a pidfd, watched with corio_add_reader: it becomes
 * readable when the child exits, the callback reaps with waitid(WNOHANG).
 * The pid cannot be reused before we reap it, so waitid/kill on the pid
 * are safe until then.  Without pidfd_open (kernels before 5.3, some
 * sandboxes, valgrind), the loop handles SIGCHLD and polls this thread's
 * children with waitid(WNOHANG) each time; the poll right after
 * registering catches a child that exited before the handler was there.
 *
 * communicate.  One task, three level-triggered add_reader/add_writer
 * callbacks (stdin, stdout, stderr) that do the non-blocking system calls
 * themselves and complete a future on the task's stack when all three
 * streams are finished.  Everything that must survive a cancellation (the
 * output so far, how much input was written) lives in the process object.
 */
#include "internal.h"

#include "corio/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define READ_CHUNK (64 * 1024) /* a pipe's default capacity: one read empties it */
#define READS_PER_CALLBACK 16  /* read until EAGAIN, but let the other streams in now and then */

/* A task in corio_process_wait; lives on that task's stack. */
typedef struct pwaiter {
    corio_future f;             /* completed with 0 when the child is reaped */
    struct pwaiter *next, *prev;
    bool linked;                /* still on the process's list */
} pwaiter;

/* Output collected from one pipe. */
typedef struct pbuf {
    char *p;    /* corio__realloc'd (free()-compatible: it is handed to the caller) */
    size_t len; /* bytes kept */
    size_t cap; /* bytes allocated */
} pbuf;

struct corio_process {
    corio_loop *loop;    /* the loop that watches the child */
    pid_t pid;           /* the child; not reused until `exited` */
    int pidfd;           /* watched for the exit; -1 once reaped or in SIGCHLD mode */
    int fd[3];           /* our ends of the stdin/stdout/stderr pipes, -1 if none or closed */
    bool piped[3];       /* that stream was spawned as a pipe */
    bool exited;         /* reaped: returncode is valid, pid is no longer ours */
    bool on_list;        /* SIGCHLD mode: on this thread's list of children */
    bool communicating;  /* a corio_process_communicate is running */
    int returncode;      /* exit status, or -signal */
    pwaiter *waiters;    /* tasks in corio_process_wait, not yet woken */
    int nwaiting;        /* tasks inside corio_process_wait (woken ones still read p) */
    size_t in_done;      /* input bytes written by communicate so far (kept across cancellation) */
    pbuf out[2];         /* stdout and stderr collected by communicate (kept across cancellation) */
    struct corio_process *next, *prev; /* SIGCHLD mode: this thread's children */
};

/* 0: pidfd if the kernel has it; 1: SIGCHLD mode always (tests). */
static atomic_int force_sigchld;
CORIO_API void corio__test_process_force_sigchld(int on);
void corio__test_process_force_sigchld(int on) { atomic_store(&force_sigchld, on); }

/* SIGCHLD mode: the children of this thread's loop and the loop whose
 * SIGCHLD handler is ours (NULL: none registered). */
static _Thread_local corio_process *sigchld_list;
static _Thread_local corio_loop *sigchld_loop;

/* ---- exit ---------------------------------------------------------------- */

/* Record the exit and wake every waiter. */
static void set_exited(corio_process *p, int returncode) {
    p->exited = true;
    p->returncode = returncode;
    for (pwaiter *w = p->waiters; w; w = w->next) {
        w->linked = false;
        corio_future_set_result(&w->f, 0);
    }
    p->waiters = NULL;
}

static int returncode_of(const siginfo_t *si) {
    if (si->si_code == CLD_EXITED) return si->si_status;
    return -si->si_status; /* CLD_KILLED, CLD_DUMPED */
}

static void sigchld_unlist(corio_process *p) {
    if (!p->on_list) return;
    if (p->prev) p->prev->next = p->next;
    else sigchld_list = p->next;
    if (p->next) p->next->prev = p->prev;
    p->on_list = false;
    if (!sigchld_list && sigchld_loop) {
        if (sigchld_loop == corio__cur_loop) corio_remove_signal_handler(SIGCHLD);
        sigchld_loop = NULL;
    }
}

static void stop_watching(corio_process *p) {
    if (p->pidfd >= 0) {
        corio_remove_reader(p->pidfd);
        corio_close(p->pidfd);
        p->pidfd = -1;
    }
    sigchld_unlist(p);
}

/* Reap the child if it has exited; `block` waits for it.  1 when reaped. */
static int try_reap(corio_process *p, bool block) {
    if (p->exited) return 1;
    siginfo_t si;
    int rc;
    do {
        memset(&si, 0, sizeof si);
        rc = waitid(P_PID, (id_t)p->pid, &si, WEXITED | (block ? 0 : WNOHANG));
    } while (rc < 0 && errno == EINTR);
    int code;
    if (rc < 0) {
        /* Someone else reaped it (waitpid(-1) elsewhere): asyncio reports 255. */
        corio__log(CORIO_LOG_WARNING, "unknown child process pid %d, will report returncode 255", (int)p->pid);
        code = 255;
    } else if (si.si_pid == 0) {
        return 0; /* still running */
    } else {
        code = returncode_of(&si);
    }
    stop_watching(p);
    set_exited(p, code);
    return 1;
}

static void on_pidfd(void *arg) { try_reap(arg, false); }

static void on_sigchld(int signum, void *arg) {
    (void)signum;
    (void)arg;
    corio_process *next;
    for (corio_process *p = sigchld_list; p; p = next) {
        next = p->next; /* try_reap may unlist p */
        try_reap(p, false);
    }
}

/* Begin watching a freshly spawned child.  0 or a negative errno (then the
 * caller kills and reaps it). */
static int watch(corio_process *p) {
    if (!atomic_load(&force_sigchld)) {
        int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
        if (fd >= 0) {
            int rc = corio_add_reader(fd, on_pidfd, p);
            if (rc < 0) {
                close(fd);
                return rc;
            }
            p->pidfd = fd;
            return 0;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) return -errno;
        /* ENOSYS (old kernel, valgrind) or EPERM (seccomp): SIGCHLD mode. */
    }
    if (sigchld_loop != p->loop) {
        if (sigchld_loop && sigchld_list) return -EBUSY; /* children of another loop on this thread */
        int rc = corio_add_signal_handler(SIGCHLD, on_sigchld, NULL);
        if (rc < 0) return rc;
        sigchld_loop = p->loop;
    }
    p->prev = NULL;
    p->next = sigchld_list;
    if (sigchld_list) sigchld_list->prev = p;
    sigchld_list = p;
    p->on_list = true;
    /* The child may have exited before the handler was in place. */
    try_reap(p, false);
    return 0;
}

/* ---- spawn ------------------------------------------------------------------ */

/* fd moved (close-on-exec) to a number >= 3; closes the original.  -errno on failure. */
static int above_stdio(int fd) {
    if (fd >= 3) return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    return nfd >= 0 ? nfd : -e;
}

static void close_if(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static int spawn(const char *file, char *const argv[], const corio_process_opts *opts, corio_process **out) {
    if (!out) return corio__bad(-EINVAL, "corio_process_exec: NULL out");
    *out = NULL;
    if (!file || !*file || !argv) return corio__bad(-EINVAL, "corio_process_exec: NULL or empty file, or NULL argv");
    corio_process_opts o = {0};
    if (opts) o = *opts;
    int mode[3] = {o.stdin_mode, o.stdout_mode, o.stderr_mode};
    for (int i = 0; i < 3; i++)
        if (mode[i] < CORIO_STDIO_INHERIT || mode[i] > CORIO_STDIO_STDOUT || (mode[i] == CORIO_STDIO_STDOUT && i != 2))
            return corio__bad(-EINVAL, "corio_process_exec: bad stdio mode %d for fd %d", mode[i], i);
    corio_loop *loop = corio__cur_loop;
    if (!loop) return corio__bad(-EPERM, "corio_process_exec: no loop runs on this thread");

    corio_process *p = corio__calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->loop = loop;
    p->pidfd = -1;
    int child[3] = {-1, -1, -1}, devnull = -1, rc = 0;
    for (int i = 0; i < 3; i++) p->fd[i] = -1;

    for (int i = 0; i < 3 && rc == 0; i++) {
        if (mode[i] == CORIO_STDIO_PIPE) {
            int pp[2];
            if (pipe2(pp, O_CLOEXEC) < 0) {
                rc = -errno;
                break;
            }
            int mine = i == 0 ? pp[1] : pp[0], theirs = i == 0 ? pp[0] : pp[1];
            mine = above_stdio(mine);
            theirs = above_stdio(theirs);
            if (mine < 0 || theirs < 0) {
                rc = mine < 0 ? mine : theirs;
                if (mine >= 0) close(mine);
                if (theirs >= 0) close(theirs);
                break;
            }
            p->fd[i] = mine;
            p->piped[i] = true;
            child[i] = theirs;
            int fl = fcntl(mine, F_GETFL);
            if (fl < 0 || fcntl(mine, F_SETFL, fl | O_NONBLOCK) < 0) rc = -errno;
        } else if (mode[i] == CORIO_STDIO_DEVNULL) {
            if (devnull < 0) {
                devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (devnull < 0) {
                    rc = -errno;
                    break;
                }
                devnull = above_stdio(devnull);
                if (devnull < 0) {
                    rc = devnull;
                    break;
                }
            }
        }
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool have_fa = false, have_attr = false;
    if (rc == 0) {
        rc = -posix_spawn_file_actions_init(&fa);
        have_fa = rc == 0;
    }
    if (rc == 0) {
        rc = -posix_spawnattr_init(&attr);
        have_attr = rc == 0;
    }
    for (int i = 0; i < 3 && rc == 0; i++) {
        int src = mode[i] == CORIO_STDIO_PIPE      ? child[i]
                  : mode[i] == CORIO_STDIO_DEVNULL ? devnull
                  : mode[i] == CORIO_STDIO_STDOUT  ? 1
                                                   : -1;
        if (src >= 0) rc = -posix_spawn_file_actions_adddup2(&fa, src, i);
    }
    if (rc == 0 && o.cwd) rc = -posix_spawn_file_actions_addchdir_np(&fa, o.cwd);
    if (rc == 0) {
        /* An empty signal mask, and SIGPIPE / SIGXFSZ back at their default
         * actions in case we ignore them (Python's restore_signals). */
        sigset_t none, def;
        sigemptyset(&none);
        sigemptyset(&def);
        sigaddset(&def, SIGPIPE);
        sigaddset(&def, SIGXFSZ);
        rc = -posix_spawnattr_setsigmask(&attr, &none);
        if (rc == 0) rc = -posix_spawnattr_setsigdefault(&attr, &def);
        if (rc == 0) rc = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    }
    if (rc == 0) {
        char *const *envp = o.env ? o.env : environ;
        if (strchr(file, '/')) rc = -posix_spawn(&p->pid, file, &fa, &attr, argv, envp);
        else rc = -posix_spawnp(&p->pid, file, &fa, &attr, argv, envp);
    }
    if (have_fa) posix_spawn_file_actions_destroy(&fa);
    if (have_attr) posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 3; i++) close_if(&child[i]);
    close_if(&devnull);

    if (rc == 0) {
        rc = watch(p);
        if (rc < 0) {
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
            }
        }
    }
    if (rc < 0) {
        for (int i = 0; i < 3; i++) close_if(&p->fd[i]);
        corio__free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int corio_process_exec(const char *file, char *const argv[], const corio_process_opts *opts, corio_process **out) {
    return spawn(file, argv, opts, out);
}

int corio_process_shell(const char *cmd, const corio_process_opts *opts, corio_process **out) {
    if (!cmd) {
        if (out) *out = NULL;
        return corio__bad(-EINVAL, "corio_process_shell: NULL command");
    }
    char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
    return spawn("/bin/sh", argv, opts, out);
}

/* ---- accessors ------------------------------------------------------------------ */

pid_t corio_process_pid(const corio_process *p) { return p ? p->pid : -1; }
int corio_process_stdin_fd(const corio_process *p) { return p ? p->fd[0] : -1; }
int corio_process_stdout_fd(const corio_process *p) { return p ? p->fd[1] : -1; }
int corio_process_stderr_fd(const corio_process *p) { return p ? p->fd[2] : -1; }

static void close_pipe(corio_process *p, int i) {
    if (p->fd[i] < 0) return;
    corio_close(p->fd[i]);
    p->fd[i] = -1;
}

int corio_process_close_stdin(corio_process *p) {
    if (!p) return -EINVAL;
    if (p->communicating) return -EBUSY;
    close_pipe(p, 0);
    return 0;
}

int corio_process_poll(const corio_process *p, int *returncode) {
    if (!p) return -EINVAL;
    if (!p->exited) return 0;
    if (returncode) *returncode = p->returncode;
    return 1;
}

/* ---- wait and signals --------------------------------------------------------------- */

int corio_process_wait(corio_process *p, int *returncode) {
    if (!p) return corio__bad(-EINVAL, "corio_process_wait: NULL process");
    if (!p->exited) {
        if (!corio_current_task() || corio__cur_loop != p->loop)
            return corio__bad(-EPERM, "corio_process_wait: not in a task of the process's loop");
        pwaiter w;
        int rc = corio_future_init(&w.f, p->loop);
        if (rc < 0) return rc;
        p->nwaiting++;
        w.prev = NULL;
        w.next = p->waiters;
        if (p->waiters) p->waiters->prev = &w;
        p->waiters = &w;
        w.linked = true;
        rc = corio_await(&w.f, NULL);
        if (w.linked) {
            if (w.prev) w.prev->next = w.next;
            else p->waiters = w.next;
            if (w.next) w.next->prev = w.prev;
        }
        corio_future_destroy(&w.f);
        p->nwaiting--;
        if (rc < 0) return rc;
    }
    if (returncode) *returncode = p->returncode;
    return 0;
}

int corio_process_send_signal(corio_process *p, int sig) {
    if (!p) return -EINVAL;
    if (sig < 0 || sig >= NSIG) return corio__bad(-EINVAL, "corio_process_send_signal: signal %d out of range", sig);
    if (p->exited) return -ESRCH;
    int rc;
    if (p->pidfd >= 0) rc = (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
    else rc = kill(p->pid, sig);
    return rc < 0 ? -errno : 0;
}

int corio_process_terminate(corio_process *p) { return corio_process_send_signal(p, SIGTERM); }
int corio_process_kill(corio_process *p) { return corio_process_send_signal(p, SIGKILL); }

/* ---- communicate ------------------------------------------------------------------ */

typedef struct comm comm;

/* One stream's callback argument. */
typedef struct comm_stream {
    comm *c;
    int i; /* 0 stdin, 1 stdout, 2 stderr */
} comm_stream;

struct comm {
    corio_process *p;
    corio_future done;  /* completed when every stream is finished, or on the first error */
    const char *in;     /* the input */
    size_t in_len;
    bool keep[3];       /* [1], [2]: the caller wants that stream's data */
    int open;           /* streams still being served */
    comm_stream s[3];
};

/* write(2) with SIGPIPE held back: a child that closed its stdin must give
 * us EPIPE, not kill us.  A SIGPIPE our write raised is consumed before the
 * mask is restored (unless one was already pending from elsewhere). */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n) {
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    ssize_t r = write(fd, buf, n);
    int e = errno;
    if (r < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
}

static void stream_finished(comm *c, int i, int err) {
    corio_process *p = c->p;
    if (i == 0) corio_remove_writer(p->fd[0]);
    else corio_remove_reader(p->fd[i]);
    close_pipe(p, i);
    c->open--;
    if (err < 0 && !corio_future_done(&c->done)) corio_future_set_error(&c->done, err);
    else if (c->open == 0 && !corio_future_done(&c->done)) corio_future_set_result(&c->done, 0);
}

static void on_stdin(void *arg) {
    comm *c = ((comm_stream *)arg)->c;
    corio_process *p = c->p;
    while (p->in_done < c->in_len) {
        size_t n = c->in_len - p->in_done;
        if (n > READ_CHUNK) n = READ_CHUNK;
        ssize_t r = write_nosigpipe(p->fd[0], c->in + p->in_done, n);
        if (r > 0) {
            p->in_done += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        /* The child closed its stdin early: asyncio ignores that (EPIPE, ECONNRESET). */
        if (r < 0 && errno != EPIPE && errno != ECONNRESET) {
            stream_finished(c, 0, -errno);
            return;
        }
        break;
    }
    stream_finished(c, 0, 0);
}

static void on_output(void *arg) {
    comm_stream *s = arg;
    comm *c = s->c;
    corio_process *p = c->p;
    pbuf *b = &p->out[s->i - 1];
    for (int k = 0; k < READS_PER_CALLBACK; k++) {
        if (!c->keep[s->i]) b->len = 0; /* discard: reuse the same space */
        if (b->cap - b->len < READ_CHUNK) {
            size_t ncap = b->cap ? b->cap : READ_CHUNK;
            while (ncap - b->len < READ_CHUNK) ncap *= 2;
            char *np = corio__realloc(b->p, ncap);
            if (!np) {
                stream_finished(c, s->i, -ENOMEM);
                return;
            }
            b->p = np;
            b->cap = ncap;
        }
        ssize_t r = read(p->fd[s->i], b->p + b->len, READ_CHUNK);
        if (r > 0) {
            b->len += (size_t)r;
            if (r < READ_CHUNK) return; /* the pipe is empty: wait for the next readiness */
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        stream_finished(c, s->i, r < 0 ? -errno : 0);
        return;
    }
}

/* Hand a collected buffer to the caller (NUL-terminated) and forget it. */
static int take(pbuf *b, bool piped, char **out, size_t *out_len) {
    if (!out || !piped) {
        corio__free(b->p);
        *b = (pbuf){0};
        return 0;
    }
    if (b->cap < b->len + 1) {
        char *np = corio__realloc(b->p, b->len + 1);
        if (!np) return -ENOMEM;
        b->p = np;
        b->cap = b->len + 1;
    }
    b->p[b->len] = '\0';
    *out = b->p;
    if (out_len) *out_len = b->len;
    *b = (pbuf){0};
    return 0;
}

int corio_process_communicate(corio_process *p, const void *input, size_t input_len, char **out,
                              size_t *out_len, char **err, size_t *err_len) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (err) *err = NULL;
    if (err_len) *err_len = 0;
    if (!p) return corio__bad(-EINVAL, "corio_process_communicate: NULL process");
    if (input_len && !input) return corio__bad(-EINVAL, "corio_process_communicate: NULL input");
    if (input_len && p->fd[0] < 0 && p->in_done < input_len)
        return corio__bad(-EINVAL, "corio_process_communicate: input given but stdin is not an open pipe");
    if (p->communicating) return -EBUSY;
    if (!corio_current_task() || corio__cur_loop != p->loop)
        return corio__bad(-EPERM, "corio_process_communicate: not in a task of the process's loop");

    comm c = {.p = p, .in = input, .in_len = input_len};
    c.keep[1] = out != NULL;
    c.keep[2] = err != NULL;
    int rc = corio_future_init(&c.done, p->loop);
    if (rc < 0) return rc;
    p->communicating = true;
    for (int i = 0; i < 3; i++) c.s[i] = (comm_stream){&c, i};
    if (p->fd[0] >= 0 && p->in_done >= input_len) close_pipe(p, 0); /* nothing (more) to write */
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (p->fd[i] < 0) continue;
        rc = i == 0 ? corio_add_writer(p->fd[0], on_stdin, &c.s[0]) : corio_add_reader(p->fd[i], on_output, &c.s[i]);
        if (rc == 0) c.open++;
    }
    if (rc == 0 && c.open > 0) rc = corio_await(&c.done, NULL);
    /* Finished, failed or cancelled: no callback may outlive this frame. */
    for (int i = 0; i < 3; i++) {
        if (p->fd[i] < 0) continue;
        if (i == 0) corio_remove_writer(p->fd[0]);
        else corio_remove_reader(p->fd[i]);
    }
    if (!corio_future_done(&c.done)) corio_future_cancel(&c.done);
    corio_future_destroy(&c.done);
    p->communicating = false;
    if (rc < 0) return rc;

    rc = corio_process_wait(p, NULL);
    if (rc < 0) return rc;
    if (p->fd[1] >= 0 || p->fd[2] >= 0) return -EIO; /* not reached: both were read to EOF */
    /* Streams that are not pipes give NULL, as asyncio gives None. */
    if ((rc = take(&p->out[0], p->piped[1], out, out_len)) < 0) return rc;
    if ((rc = take(&p->out[1], p->piped[2], err, err_len)) < 0) {
        if (out) {
            free(*out);
            *out = NULL;
        }
        return rc;
    }
    return 0;
}

/* ---- release ------------------------------------------------------------------------ */

int corio_process_free(corio_process *p) {
    if (!p) return 0;
    if (p->nwaiting || p->communicating) return corio__bad(-EBUSY, "corio_process_free: the process is in use");
    if (!p->exited) {
        /* asyncio's transport close(): a child still running is killed. */
        corio_process_kill(p);
        try_reap(p, true);
    }
    stop_watching(p);
    for (int i = 0; i < 3; i++) close_pipe(p, i);
    corio__free(p->out[0].p);
    corio__free(p->out[1].p);
    corio__free(p);
    return 0;
}
