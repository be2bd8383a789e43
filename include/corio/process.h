/*
 * corio/process.h - child processes (asyncio.create_subprocess_exec /
 * create_subprocess_shell and asyncio.subprocess.Process).
 *
 *     corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE};
 *     char *const argv[] = {"echo", "hello", NULL};
 *     corio_process *p;
 *     int rc = corio_process_exec("echo", argv, &o, &p);  // -ENOENT: no such command
 *     char *out; size_t len; int code;
 *     rc = corio_process_communicate(p, NULL, 0, &out, &len, NULL, NULL); // SUSPENDS
 *     corio_process_poll(p, &code);                        // 0: the exit status
 *     free(out);
 *     corio_process_free(p);
 *
 * or, line by line (asyncio's proc.stdout.readline()):
 *
 *     corio_reader *r = corio_process_stdout(p);           // owned by p
 *     const char *line; size_t n;
 *     while (corio_reader_readline(r, &line, &n) == 0 && n > 0) ...  // SUSPENDS
 *     corio_process_wait(p, &code);                        // SUSPENDS
 *
 * Spawning uses vfork and exec with an error pipe: a command that cannot
 * be executed is reported by the spawn call itself (-ENOENT, -EACCES,
 * -ENOEXEC, ...) and leaves no zombie and no descriptor, under valgrind
 * and qemu-user too.  The child starts with an empty signal mask, every
 * signal we catch at its default action, and SIGPIPE and SIGXFSZ at
 * their default actions even if we ignore them (Python's
 * restore_signals); other ignored signals stay ignored.  It inherits no
 * descriptor of ours except its three standard ones: corio opens every
 * descriptor close-on-exec.
 *
 * Exit.  Each process is watched by the loop from the moment it is
 * spawned: with a pidfd (Linux 5.3+) the loop watches it for readability;
 * where pidfd_open is missing, corio handles SIGCHLD on the loop
 * (corio_add_signal_handler: that loop's SIGCHLD handler then belongs to
 * corio) and polls its children with waitpid(WNOHANG) on each signal.
 * The child is reaped by the loop as soon as it exits, whether or not
 * anyone waits, so no zombie stays around.
 *
 * Return codes are asyncio's: the exit status (0..255) for a normal exit,
 * -N when signal N killed the child.  They are never mixed with errors:
 * corio_process_wait returns 0 or a negative errno and stores the return
 * code through an out-parameter.
 *
 * Pipes.  A stream set to CORIO_STDIO_PIPE gives the parent the end of a
 * pipe, in one of two forms:
 *   - a stream (corio_process_stdin / stdout / stderr: asyncio's
 *     proc.stdin, proc.stdout, proc.stderr), made on first use;
 *   - the raw, non-blocking, close-on-exec descriptor
 *     (corio_process_stdin_fd, ...), for corio_read / corio_write /
 *     corio_wait_readable.
 * The process object owns both and closes them when freed.  Once a
 * stream was made, it owns the descriptor: the _fd accessor still names
 * it (stdin: until the writer closes it), but reading or writing it
 * directly bypasses the stream's buffer, and it must not be closed.
 * Before that, the raw descriptor is all there is: what was read from it
 * directly is not seen by a stream made later.
 *
 * A stdin writer's write to a child that closed its stdin may raise
 * SIGPIPE (see corio_stream_open), which kills the process unless SIGPIPE
 * is ignored or blocked (Python ignores it at startup); the writer then
 * fails with -EPIPE.  corio_process_communicate's own writes hold SIGPIPE
 * back (not those it leaves to a stdin writer that still has data queued).
 *
 * Release.  corio_process_free() on a child still running kills it with
 * SIGKILL and reaps it (asyncio's transport close() kills a running child
 * too); the reap blocks the thread for the moment a SIGKILLed process
 * takes to die.  A process must be freed before its loop is closed, on
 * the loop's thread, and not while a task is inside a call on one of its
 * streams.
 */
#ifndef CORIO_PROCESS_H
#define CORIO_PROCESS_H

#include "types.h"
#include "stream.h"

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct corio_process corio_process; /* opaque */

/* What one of the child's standard streams is connected to. */
enum {
    CORIO_STDIO_INHERIT = 0, /* the parent's descriptor (the default) */
    CORIO_STDIO_PIPE = 1,    /* a pipe to the parent (asyncio.subprocess.PIPE) */
    CORIO_STDIO_DEVNULL = 2, /* /dev/null (asyncio.subprocess.DEVNULL) */
    CORIO_STDIO_STDOUT = 3   /* stderr only: wherever stdout goes (asyncio.subprocess.STDOUT) */
};

/* Spawn settings; zero-initialise, zero means default.  NULL opts: all defaults. */
typedef struct corio_process_opts {
    int stdin_mode;    /* CORIO_STDIO_*; default inherit */
    int stdout_mode;   /* CORIO_STDIO_*; default inherit */
    int stderr_mode;   /* CORIO_STDIO_*; default inherit */
    const char *cwd;   /* the child's working directory; NULL: ours */
    char *const *env;  /* the child's environment ("K=V", NULL-terminated); NULL: ours */
} corio_process_opts;

/*
 * asyncio.create_subprocess_exec: run `file` with arguments argv (argv[0]
 * is the program's name for itself; NULL-terminated).  A file without a
 * '/' is searched in our PATH.  Stores the process in *out and returns 0,
 * or a negative errno with nothing left behind: -ENOENT (no such
 * command), -EACCES, -ENOEXEC, ... from the exec; -ENOENT for a cwd that
 * does not exist; -EINVAL for NULL file/argv/out, an empty file or a bad
 * stdio mode (CORIO_STDIO_STDOUT is for stderr only); -EPERM when no loop
 * runs on this thread; -EMFILE, -ENOMEM, -EAGAIN (vfork).  Does not
 * suspend; the thread waits until the child has exec'd (or failed to).
 */
CORIO_API int corio_process_exec(const char *file, char *const argv[], const corio_process_opts *opts,
                                 corio_process **out);

/* asyncio.create_subprocess_shell: /bin/sh -c cmd.  As corio_process_exec
 * (a command the shell cannot find is the shell's exit status 127;
 * -EINVAL for a NULL cmd). */
CORIO_API int corio_process_shell(const char *cmd, const corio_process_opts *opts, corio_process **out);

/* The child's process id; -1 for NULL. */
CORIO_API pid_t corio_process_pid(const corio_process *p);

/*
 * The parent's end of a pipe (borrowed; owned by p, or by the stream made
 * over it: see Pipes), or -1 when that stream is not a pipe, was closed
 * (corio_process_close_stdin, the stdin writer's close or failure,
 * communicate; a reader's pipe stays open with the reader until p is
 * freed), or p is NULL.  Does not suspend.
 */
CORIO_API int corio_process_stdin_fd(const corio_process *p);
CORIO_API int corio_process_stdout_fd(const corio_process *p);
CORIO_API int corio_process_stderr_fd(const corio_process *p);

/*
 * The child's stdin as a stream writer (asyncio proc.stdin): write, then
 * drain; corio_writer_close (or corio_process_close_stdin) sends end of
 * file once the queued data is written.  The child's stdout / stderr as
 * stream readers (asyncio proc.stdout / proc.stderr): readline, read,
 * read_all, ... until end of file.
 *
 * Made on the first call, with the default corio_stream_opts; later calls
 * return the same handle.  The handle belongs to p: do not free or
 * release it (corio_writer_close is fine), it is released by
 * corio_process_free, which drops what the stdin writer still has queued
 * (close it and corio_writer_wait_closed first to deliver that).  NULL
 * when that stream is not a pipe, when its pipe was already closed (before
 * a stream was made: by corio_process_close_stdin, or read to the end by
 * communicate), while corio_process_communicate runs, for NULL p, or when
 * out of memory.  Does not suspend.
 */
CORIO_API corio_writer *corio_process_stdin(corio_process *p);
CORIO_API corio_reader *corio_process_stdout(corio_process *p);
CORIO_API corio_reader *corio_process_stderr(corio_process *p);

/*
 * Close our end of the stdin pipe, so the child reads end of file (with a
 * stdin writer: corio_writer_close, which writes what is queued first).
 * 0 (also when already closed or not a pipe), -EINVAL for NULL, -EBUSY
 * while corio_process_communicate runs.  Does not suspend.
 */
CORIO_API int corio_process_close_stdin(corio_process *p);

/*
 * asyncio Process.returncode without waiting: 1 and the return code in
 * *returncode (may be NULL) once the child has exited and been reaped, 0
 * while it runs, -EINVAL for NULL.  Does not suspend.
 */
CORIO_API int corio_process_poll(const corio_process *p, int *returncode);

/*
 * asyncio Process.wait: wait for the child to exit.  Returns 0 and stores
 * its return code in *returncode (may be NULL): the exit status, or -N if
 * signal N killed it.  Errors: -ECANCELED (the child keeps running),
 * -EPERM outside a task or on another loop's thread, -EINVAL for NULL.
 * Any number of tasks may wait at once.  Does not close the pipes: a
 * child that fills a pipe nobody reads never exits (use communicate).
 * SUSPENDS unless the child has exited.
 */
CORIO_API int corio_process_wait(corio_process *p, int *returncode);

/*
 * Send signal `sig` (asyncio send_signal; 0 only checks).  0; -ESRCH once
 * the child has exited and been reaped (asyncio's ProcessLookupError);
 * -EINVAL for NULL or a signal number out of range; kill(2)'s error.
 * Does not suspend.
 */
CORIO_API int corio_process_send_signal(corio_process *p, int sig);
CORIO_API int corio_process_terminate(corio_process *p); /* SIGTERM */
CORIO_API int corio_process_kill(corio_process *p);      /* SIGKILL */

/*
 * asyncio Process.communicate: write `input` (input_len bytes; NULL/0 for
 * none) to stdin and close it, read stdout and stderr to end of file at
 * the same time, then wait for the child to exit.  *out / *err receive
 * malloc'd buffers the caller frees (NUL-terminated for convenience, the
 * NUL not counted in the length), NULL when that stream is not a pipe;
 * pass NULL pointers to discard a stream's data (it is still drained).
 * The return code is then available from corio_process_poll.
 *
 * As in asyncio, the child's closing of stdin early (EPIPE) is not an
 * error: the rest of the input is dropped.  Returns 0; -EINVAL for NULL p,
 * for NULL input with input_len > 0, or input given while stdin is not a
 * pipe or was closed; -EBUSY when another communicate runs on p; -EPERM
 * outside a task of p's loop; -ENOMEM; a read or write error; -ECANCELED
 * (inside an expired corio_timeout scope that becomes -ETIMEDOUT).
 *
 * With streams (corio_process_stdin / stdout / stderr), as asyncio's
 * communicate, which reads and writes through proc.stdout & co: output a
 * reader had already buffered comes first in *out / *err, and input is
 * written after whatever the stdin writer still has queued.  Communicate
 * then closes the writer; the readers are left at end of file.  Do not
 * call the streams while it runs: it counts as a call on each reader
 * (a view from an earlier readline is no longer valid).
 *
 * Cancel-safety: when cancelled, nothing is lost and nothing leaks: the
 * output read so far stays with p and is returned by the next
 * communicate call, and the input bytes already written are remembered,
 * so a retry with the same input goes on where the first left off (as
 * Python's Popen.communicate after a timeout).  To give up instead, kill
 * and wait (or free).  SUSPENDS.
 */
CORIO_API int corio_process_communicate(corio_process *p, const void *input, size_t input_len, char **out,
                                        size_t *out_len, char **err, size_t *err_len);

/*
 * Release p: a child still running is killed (SIGKILL) and reaped, the
 * pipes are closed and their streams released (data still queued in the
 * stdin writer is dropped).  0; -EBUSY (nothing done) while a task waits
 * on p or communicates with it.  NULL: 0.  Does not suspend.
 */
CORIO_API int corio_process_free(corio_process *p);

#ifdef __cplusplus
}
#endif
#endif
