/*
 * subprocess.c - run commands and collect their output and return codes
 * (after the asyncio docs' create_subprocess_shell example).
 *
 *     async def run(cmd):
 *         proc = await asyncio.create_subprocess_shell(
 *             cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
 *         stdout, stderr = await proc.communicate()
 *         print(f'[{cmd!r} exited with {proc.returncode}]')
 *         if stdout: print(f'[stdout]\n{stdout.decode()}')
 *         if stderr: print(f'[stderr]\n{stderr.decode()}')
 *
 *     async def main():
 *         await run('echo hello')
 *         await run('echo oops >&2; exit 3')
 *         await run('kill -TERM $$')
 *         proc = await asyncio.create_subprocess_exec(
 *             'cat', stdin=PIPE, stdout=PIPE)
 *         out, _ = await proc.communicate(b'round trip through cat\n')
 *         print(f'cat returned {proc.returncode}: {out.decode()}', end='')
 */
#include <corio.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int run(const char *cmd) {
    corio_process_opts o = {.stdout_mode = CORIO_STDIO_PIPE, .stderr_mode = CORIO_STDIO_PIPE};
    corio_process *p;
    int rc = corio_process_shell(cmd, &o, &p);
    if (rc < 0) return rc;
    char *out, *err;
    size_t out_len, err_len;
    rc = corio_process_communicate(p, NULL, 0, &out, &out_len, &err, &err_len);
    if (rc == 0) {
        int code;
        corio_process_poll(p, &code);
        printf("['%s' exited with %d]\n", cmd, code);
        if (out_len) printf("[stdout]\n%s\n", out);
        if (err_len) printf("[stderr]\n%s\n", err);
        free(out);
        free(err);
    }
    corio_process_free(p);
    return rc;
}

static int amain(void *arg) {
    (void)arg;
    int rc;
    if ((rc = run("echo hello")) < 0) return rc;
    if ((rc = run("echo oops >&2; exit 3")) < 0) return rc;
    if ((rc = run("kill -TERM $$")) < 0) return rc;

    corio_process_opts o = {.stdin_mode = CORIO_STDIO_PIPE, .stdout_mode = CORIO_STDIO_PIPE};
    char *const argv[] = {"cat", NULL};
    corio_process *p;
    if ((rc = corio_process_exec("cat", argv, &o, &p)) < 0) return rc;
    static const char msg[] = "round trip through cat\n";
    char *out;
    rc = corio_process_communicate(p, msg, sizeof msg - 1, &out, NULL, NULL, NULL);
    if (rc == 0) {
        int code;
        corio_process_poll(p, &code);
        printf("cat returned %d: %s", code, out);
        free(out);
    }
    corio_process_free(p);
    if (rc < 0) return rc;

    /* A command that does not exist is an error of the spawn call itself
     * (asyncio's FileNotFoundError), and leaves no process behind. */
    char *const nope[] = {"no-such-command", NULL};
    rc = corio_process_exec("no-such-command", nope, NULL, &p);
    if (rc == 0) {
        corio_process_free(p);
        return -EIO;
    }
    printf("no-such-command: %s\n", corio_strerror(rc));
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "subprocess: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
