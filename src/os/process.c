/*
 * process.c - child processes (asyncio's subprocess module).
 *
 * Spawning.  vfork, then exec in the child, with a close-on-exec error
 * pipe: a child whose exec (or dup2, chdir) fails writes errno to it and
 * exits 127; the parent reads the pipe, where end of file means the exec
 * succeeded, reaps a failed child and returns -errno.  That gives "a
 * command that does not exist is -ENOENT, no zombie" everywhere, also
 * where vfork becomes a plain fork (valgrind, qemu-user, TSan), which
 * glibc's posix_spawn cannot report (it then says exit status 127).
 * The child's ends of the pipes are moved to descriptors >= 3 first: a
 * parent that closed its own stdio could otherwise get a pipe end at 0..2,
 * and the dup2 onto one standard descriptor would clobber another's source.
 *
 * vfork is safe here because the child (child_exec) only reads memory the
 * parent prepared, runs in a function of its own that never returns, calls
 * only async-signal-safe functions, and cannot run a handler of ours: every
 * signal is blocked across the vfork, and the child resets caught signals
 * to their default action (its handler table is its own copy: no
 * CLONE_SIGHAND) before it unblocks them.  A PATH search would need
 * getenv and an allocation, so the parent builds the list of candidates.
 *
 * Exit.  Preferably a pidfd, watched with corio_add_reader: it becomes
 * readable when the child exits, the callback reaps with waitid(WNOHANG).
 * The pid cannot be reused before we reap it, so waitid/kill on the pid
 * are safe until then.  Without pidfd_open (kernels before 5.3, some
 * sandboxes, valgrind), the loop handles SIGCHLD and polls this thread's
 * children with waitid(WNOHANG) each time; the poll right after
 * registering catches a child that exited before the handler was there.
 *
 * Streams.  corio_process_stdin/stdout/stderr wrap a pipe end in a one-way
 * stream on first use; the stream then owns the descriptor and p owns the
 * stream.  A reader-only stream closes its descriptor only when released,
 * so fd[1] / fd[2] stay valid names for it; the stdin writer may close its
 * own at any time (close, a write error), so fd[0] is given up to it.
 * The stdin writer is a stream writer, so its queue, water marks and
 * flush are the io layer's write engine (io/wq.c), as for sockets.
 *
 * communicate.  One task, three level-triggered add_reader/add_writer
 * callbacks (stdin, stdout, stderr) that do the non-blocking system calls
 * themselves and complete a future on the task's stack when all three
 * streams are finished.  Everything that must survive a cancellation (the
 * output so far, how much input was written) lives in the process object.
 * Streams made over the pipes are taken over, not bypassed: what a reader
 * buffered comes first, and input goes through the stdin writer while it
 * still has data queued (otherwise straight to its descriptor, with
 * SIGPIPE held back as for a raw pipe).  That direct write needs no queue:
 * the input stays in the caller's buffer, and how much of it was written
 * (p->in_done) is what survives a cancellation.
 */
#include "os.h"

#include "corio/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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
    int fd[3];           /* our ends of the stdin/stdout/stderr pipes, -1 if none or closed; [1], [2]
                            owned by rd[] once made; [0] is -1 once `in` took it */
    bool piped[3];       /* that stream was spawned as a pipe */
    bool drained[3];     /* [1], [2]: communicate read that reader's pipe to end of file */
    corio_writer *in;    /* stdin as a stream (corio_process_stdin), NULL until asked for */
    corio_reader *rd[3]; /* [1], [2]: stdout / stderr as streams, NULL until asked for */
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

/* 0: pidfd if the kernel has it; 1: SIGCHLD mode always (tests, linked
 * with the static library; not exported from the shared one). */
static atomic_int force_sigchld;
void corio__test_process_force_sigchld(int on);
void corio__test_process_force_sigchld(int on) { atomic_store(&force_sigchld, on); }

/* SIGCHLD mode: the children of this thread's loop and the loop whose
 * SIGCHLD handler is ours (NULL: none registered). */
static _Thread_local corio_process *sigchld_list;
static _Thread_local corio_loop *sigchld_loop;
/* SIGCHLD mode's safety net: while children are on the list, they are also
 * polled every SIGCHLD_POLL_S, so that a SIGCHLD that never reaches the
 * handler (coalesced away, held back by a tool - under TSan one was lost
 * about once in 20 loaded runs of test_process - or a handler another
 * library installed over ours) costs a delay, not a hang. */
#define SIGCHLD_POLL_S 0.1
static _Thread_local corio_handle sigchld_poll;
static _Thread_local bool sigchld_poll_armed;

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
        if (sigchld_poll_armed) corio_handle_cancel(&sigchld_poll);
        sigchld_poll_armed = false;
    }
}

static void stop_watching(corio_process *p) {
    if (p->pidfd >= 0) {
        corio__remove_reader(p->pidfd);
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

static void sigchld_poll_arm(void);

static void on_sigchld_poll(void *arg) {
    (void)arg;
    sigchld_poll_armed = false;
    on_sigchld(SIGCHLD, NULL);
    sigchld_poll_arm();
}

/* Arm the poll if children are listed and it is not armed (not with a
 * virtual clock: it would jump time forward while a real child runs). */
static void sigchld_poll_arm(void) {
    corio_loop *loop = corio__cur_loop;
    if (sigchld_poll_armed || !sigchld_list || !loop || loop != sigchld_loop || loop->virtual_clock) return;
    if (corio_call_later(&sigchld_poll, SIGCHLD_POLL_S, on_sigchld_poll, NULL) == 0) sigchld_poll_armed = true;
}

/* Begin watching a freshly spawned child.  0 or a negative errno (then the
 * caller kills and reaps it). */
static int watch(corio_process *p) {
    if (!atomic_load(&force_sigchld)) {
        int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
        if (fd >= 0) {
            int rc = corio__add_reader(fd, on_pidfd, p);
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
    sigchld_poll_arm();
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

/* What the child needs between vfork and exec, all prepared by the parent:
 * under vfork the child shares our memory, so it only reads this. */
typedef struct child_args {
    int src[3];            /* the descriptor to dup2 onto 0, 1, 2; -1: keep ours (inherit) */
    const char *cwd;       /* chdir there first; NULL: stay */
    char *const *argv;
    char *const *envp;
    char **paths;          /* execve candidates in order, NULL-terminated (exec_paths) */
    int errfd;             /* the error pipe's write end (close-on-exec: exec closes it) */
    sigset_t none;         /* the child's signal mask: empty */
    struct sigaction dfl;  /* SIG_DFL, for resetting handlers */
} child_args;

/* Errors after which execvp goes on to the next PATH entry (glibc's list). */
static bool try_next_path(int e) {
    return e == EACCES || e == ENOENT || e == ENOTDIR || e == ESTALE || e == ENODEV || e == ETIMEDOUT;
}

/*
 * The child, from vfork to exec.  Only async-signal-safe calls, no
 * allocation, no write to the parent's live memory (the child's frames lie
 * below the parent's stack pointer; errno is written, which under vfork is
 * the parent thread's own, but the parent does not read it across the
 * vfork).  Never returns: returning from the frame vfork was called in
 * would wreck the parent's stack.
 */
__attribute__((noinline)) static _Noreturn void child_exec(const child_args *a) {
    /* Handlers of ours must not run here, and the child should start with
     * default actions: caught signals go back to SIG_DFL (exec does that
     * too, but only at exec), and so do SIGPIPE and SIGXFSZ in case we
     * ignore them (Python's restore_signals).  Other ignored signals stay
     * ignored, as exec and posix_spawn leave them. */
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction old;
        if (sigaction(sig, NULL, &old) < 0) continue; /* glibc's internal signals */
        if (sig != SIGPIPE && sig != SIGXFSZ && (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) continue;
        sigaction(sig, &a->dfl, NULL);
    }
    int err = 0;
    for (int i = 0; i < 3 && !err; i++)
        if (a->src[i] >= 0 && dup2(a->src[i], i) < 0) err = errno; /* dup2 clears close-on-exec */
    if (!err && a->cwd && chdir(a->cwd) < 0) err = errno;
    if (!err) {
        sigprocmask(SIG_SETMASK, &a->none, NULL);
        /* As execvp: EACCES from any entry wins over ENOENT from the rest;
         * an error that is not about this entry stops the search. */
        bool eacces = false;
        for (char **path = a->paths; *path; path++) {
            execve(*path, a->argv, a->envp);
            err = errno;
            if (err == EACCES) eacces = true;
            if (!try_next_path(err)) break;
        }
        if (eacces && try_next_path(err)) err = EACCES;
    }
    if (err <= 0) err = EIO;
    ssize_t n = write(a->errfd, &err, sizeof err);
    (void)n; /* nothing to do about it: the parent then sees an exec that worked, and exit status 127 */
    _exit(127);
}

/* vfork in a frame of its own, which the child leaves only by exec or _exit. */
__attribute__((noinline)) static pid_t vfork_exec(const child_args *a) {
    pid_t pid = vfork();
    if (pid == 0) child_exec(a);
    return pid;
}

/*
 * The execve candidates for `file`: itself when it has a '/'; otherwise
 * each entry of our PATH (as posix_spawnp; "/bin:/usr/bin" without one)
 * joined with it, an empty entry meaning the current directory.  One
 * allocation, pointers first, the strings after them; NULL: no memory.
 */
static char **exec_paths(const char *file) {
    const char *path = strchr(file, '/') ? "" : getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    size_t n = 1, flen = strlen(file), plen = strlen(path);
    for (const char *s = path; *s; s++) n += *s == ':';
    char **v = corio__malloc((n + 1) * sizeof *v + plen + n * (flen + 2));
    if (!v) return NULL;
    char *dst = (char *)(v + n + 1);
    const char *s = path;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(s, ':');
        if (!end) end = s + strlen(s);
        v[i] = dst;
        memcpy(dst, s, (size_t)(end - s));
        dst += end - s;
        if (end > s) *dst++ = '/';
        memcpy(dst, file, flen + 1);
        dst += flen + 1;
        s = *end ? end + 1 : end;
    }
    v[n] = NULL;
    return v;
}

/* Start the child described by a (a->errfd is filled in here).  0 and its
 * pid in *pid, or -errno with no child left: the exec's error reported
 * through the pipe, or vfork's or pipe2's. */
static int start_child(child_args *a, pid_t *pid) {
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0) return -errno;
    /* Above 0..2, or a dup2 in the child could replace the write end. */
    ep[0] = above_stdio(ep[0]);
    ep[1] = above_stdio(ep[1]);
    if (ep[0] < 0 || ep[1] < 0) {
        int rc = ep[0] < 0 ? ep[0] : ep[1];
        close_if(&ep[0]);
        close_if(&ep[1]);
        return rc;
    }
    a->errfd = ep[1];

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t child = vfork_exec(a);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(ep[1]);
    if (child < 0) {
        close(ep[0]);
        return -e;
    }

    /* End of file: the exec closed the write end.  Under vfork the child
     * has already exec'd or exited by now; under a plain fork this waits
     * for it to get that far. */
    int child_err = 0;
    ssize_t n;
    do {
        n = read(ep[0], &child_err, sizeof child_err);
    } while (n < 0 && errno == EINTR);
    e = errno;
    close(ep[0]);
    if (n == 0) {
        *pid = child;
        return 0;
    }
    int rc;
    if (n < 0) { /* cannot tell whether it exec'd: make sure it is gone */
        kill(child, SIGKILL);
        rc = -e;
    } else {
        rc = n == (ssize_t)sizeof child_err && child_err > 0 ? -child_err : -EIO;
    }
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    return rc;
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

    child_args a = {.cwd = o.cwd, .argv = argv, .envp = o.env ? o.env : environ, .errfd = -1};
    for (int i = 0; i < 3; i++)
        a.src[i] = mode[i] == CORIO_STDIO_PIPE      ? child[i]
                   : mode[i] == CORIO_STDIO_DEVNULL ? devnull
                   : mode[i] == CORIO_STDIO_STDOUT  ? 1 /* after stdout's own dup2: wherever it goes */
                                                    : -1;
    sigemptyset(&a.none);
    memset(&a.dfl, 0, sizeof a.dfl);
    a.dfl.sa_handler = SIG_DFL;
    sigemptyset(&a.dfl.sa_mask);
    if (rc == 0 && !(a.paths = exec_paths(file))) rc = -ENOMEM;
    if (rc == 0) rc = start_child(&a, &p->pid);
    corio__free(a.paths);
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

/* ---- pipes and streams ------------------------------------------------------------ */

pid_t corio_process_pid(const corio_process *p) { return p ? p->pid : -1; }

/* Our end of the stdin pipe while it is open: the writer's once it has one. */
static int stdin_fd(const corio_process *p) { return p->in ? corio_writer_fd(p->in) : p->fd[0]; }

/* Pipe i (1, 2) still has output for communicate to read. */
static bool out_open(const corio_process *p, int i) { return p->fd[i] >= 0 && !p->drained[i]; }

int corio_process_stdin_fd(const corio_process *p) { return p ? stdin_fd(p) : -1; }
int corio_process_stdout_fd(const corio_process *p) { return p ? p->fd[1] : -1; }
int corio_process_stderr_fd(const corio_process *p) { return p ? p->fd[2] : -1; }

/* We are done with pipe i.  A raw descriptor is closed at once.  One that
 * a stream owns stays with it until p is freed: the stdin writer is closed
 * (after what it has queued, as asyncio's stdin.close()), a reader's pipe
 * is only marked as read to the end. */
static void close_pipe(corio_process *p, int i) {
    if (i == 0 && p->in) {
        corio_writer_close(p->in);
        return;
    }
    if (i > 0 && p->rd[i]) {
        p->drained[i] = true;
        return;
    }
    if (p->fd[i] < 0) return;
    corio_close(p->fd[i]);
    p->fd[i] = -1;
}

corio_writer *corio_process_stdin(corio_process *p) {
    if (!p) return NULL;
    if (p->in) return p->in;
    if (p->fd[0] < 0 || p->communicating) return NULL;
    if (corio_stream_open(p->fd[0], NULL, NULL, &p->in) < 0) return NULL;
    p->fd[0] = -1; /* the writer's now: it may close it on its own */
    return p->in;
}

static corio_reader *output_stream(corio_process *p, int i) {
    if (!p) return NULL;
    if (p->rd[i]) return p->rd[i];
    if (p->fd[i] < 0 || p->communicating) return NULL;
    if (corio_stream_open(p->fd[i], NULL, &p->rd[i], NULL) < 0) return NULL;
    return p->rd[i];
}

corio_reader *corio_process_stdout(corio_process *p) { return output_stream(p, 1); }
corio_reader *corio_process_stderr(corio_process *p) { return output_stream(p, 2); }

int corio_process_close_stdin(corio_process *p) {
    if (!p) return corio__bad(-EINVAL, "corio_process_close_stdin: NULL process");
    if (p->communicating) return -EBUSY;
    close_pipe(p, 0);
    return 0;
}

int corio_process_poll(const corio_process *p, int *returncode) {
    if (!p) return corio__bad(-EINVAL, "corio_process_poll: NULL process");
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
        corio__future_init(&w.f, p->loop); /* the library's own: keeps no cancel message */
        p->nwaiting++;
        w.prev = NULL;
        w.next = p->waiters;
        if (p->waiters) p->waiters->prev = &w;
        p->waiters = &w;
        w.linked = true;
        int rc = corio_await(&w.f, NULL);
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
    int fd[3];          /* the descriptor each callback serves, -1 when it has none (any more) */
    int open;           /* streams still being served */
    comm_stream s[3];
};

/* Room for `want` more bytes in b.  0 or -ENOMEM. */
static int pbuf_reserve(pbuf *b, size_t want) {
    if (b->cap - b->len >= want) return 0;
    size_t ncap = b->cap ? b->cap : READ_CHUNK;
    while (ncap - b->len < want) ncap *= 2;
    char *np = corio__realloc(b->p, ncap);
    if (!np) return -ENOMEM;
    b->p = np;
    b->cap = ncap;
    return 0;
}

static void stream_finished(comm *c, int i, int err) {
    corio_process *p = c->p;
    if (i == 0) corio__remove_writer(c->fd[0]);
    else corio__remove_reader(c->fd[i]);
    c->fd[i] = -1;
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
        ssize_t r = corio__write_nosigpipe(c->fd[0], c->in + p->in_done, n);
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
        if (pbuf_reserve(b, READ_CHUNK) < 0) {
            stream_finished(c, s->i, -ENOMEM);
            return;
        }
        ssize_t r = read(c->fd[s->i], b->p + b->len, READ_CHUNK);
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

/* Move what the stream reader of pipe i has buffered to the output: it
 * came first.  The read copies from the buffer and never waits.  0 or -ENOMEM. */
static int take_buffered(corio_process *p, int i, bool keep) {
    size_t n = corio_reader_buffered(p->rd[i]);
    if (!n) return 0;
    pbuf *b = &p->out[i - 1];
    if (pbuf_reserve(b, n) < 0) return -ENOMEM;
    ssize_t r = corio_reader_read(p->rd[i], b->p + b->len, n);
    if (r > 0 && keep) b->len += (size_t)r;
    return r < 0 ? (int)r : 0;
}

/* The stdin writer failed because the child closed its end (asyncio's
 * communicate ignores BrokenPipeError and ConnectionResetError). */
static bool stdin_broken(corio_process *p) {
    if (!p->in || corio_writer_fd(p->in) >= 0) return false;
    int e = corio_writer_drain(p->in); /* closed: returns its error without waiting */
    return e == -EPIPE || e == -ECONNRESET;
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
    if (p->communicating) return -EBUSY;
    if (!corio_current_task() || corio__cur_loop != p->loop)
        return corio__bad(-EPERM, "corio_process_communicate: not in a task of the process's loop");
    bool stdin_open = p->in ? !corio_writer_is_closing(p->in) : p->fd[0] >= 0;
    if (input_len && p->in_done < input_len && !stdin_open) {
        if (!stdin_broken(p))
            return corio__bad(-EINVAL, "corio_process_communicate: input given but stdin is not an open pipe");
        p->in_done = input_len; /* dropped, as when the child closes its stdin while we write */
    }

    comm c = {.p = p, .in = input, .in_len = input_len, .fd = {-1, -1, -1}};
    c.keep[1] = out != NULL;
    c.keep[2] = err != NULL;
    corio__future_init(&c.done, p->loop); /* the library's own: keeps no cancel message */
    int rc = 0;
    p->communicating = true;
    for (int i = 0; i < 3; i++) c.s[i] = (comm_stream){&c, i};

    /* What the stream readers have buffered already comes first. */
    for (int i = 1; i < 3 && rc == 0; i++)
        if (p->rd[i] && out_open(p, i)) rc = take_buffered(p, i, c.keep[i]);

    /* stdin: straight to the descriptor, unless the writer still has data
     * queued, which must go first: then the input is queued after it and
     * the writer closed (what asyncio's communicate always does). */
    bool via_writer = false;
    if (rc == 0 && stdin_fd(p) >= 0) {
        if (p->in && corio_writer_buffered(p->in) > 0) {
            via_writer = true;
            if (p->in_done < input_len) {
                rc = corio_writer_write(p->in, c.in + p->in_done, input_len - p->in_done);
                if (rc == -EPIPE || rc == -ECONNRESET) rc = 0;
                if (rc == 0) p->in_done = input_len;
            }
            if (rc == 0) corio_writer_close(p->in);
        } else if (p->in_done >= input_len) {
            close_pipe(p, 0); /* nothing (more) to write */
        } else {
            c.fd[0] = stdin_fd(p);
        }
    }
    for (int i = 0; i < 3 && rc == 0; i++) {
        int fd = i == 0 ? c.fd[0] : out_open(p, i) ? p->fd[i] : -1;
        c.fd[i] = -1;
        if (fd < 0) continue;
        rc = i == 0 ? corio__add_writer(fd, on_stdin, &c.s[0]) : corio__add_reader(fd, on_output, &c.s[i]);
        if (rc < 0) break;
        c.fd[i] = fd;
        c.open++;
    }
    /* The outputs are read by their callbacks meanwhile: no deadlock on a
     * child that writes much before it reads all its input. */
    if (rc == 0 && via_writer) {
        rc = corio_writer_wait_closed(p->in);
        if (rc == -EPIPE || rc == -ECONNRESET) rc = 0;
    }
    if (rc == 0 && c.open > 0) rc = corio_await(&c.done, NULL);
    /* Finished, failed or cancelled: no callback may outlive this frame. */
    for (int i = 0; i < 3; i++) {
        if (c.fd[i] < 0) continue;
        if (i == 0) corio__remove_writer(c.fd[0]);
        else corio__remove_reader(c.fd[i]);
    }
    if (!corio_future_done(&c.done)) corio_future_cancel(&c.done);
    corio_future_destroy(&c.done);
    p->communicating = false;
    if (rc < 0) return rc;

    rc = corio_process_wait(p, NULL);
    if (rc < 0) return rc;
    if (out_open(p, 1) || out_open(p, 2)) return -EIO; /* not reached: both were read to EOF */
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
    if (p->in) {
        /* Whatever is still queued is dropped: the child is gone, or (if it
         * exited on its own) no longer reading; flushing it would outlive p. */
        corio_writer_abort(p->in);
        corio_writer_free(p->in);
        p->in = NULL;
    }
    for (int i = 1; i < 3; i++) {
        if (!p->rd[i]) continue;
        corio_reader_free(p->rd[i]); /* closes fd[i]: a reader-only stream's release does */
        p->rd[i] = NULL;
        p->fd[i] = -1;
    }
    for (int i = 0; i < 3; i++) close_pipe(p, i);
    corio__free(p->out[0].p);
    corio__free(p->out[1].p);
    corio__free(p);
    return 0;
}
