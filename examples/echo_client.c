/*
 * echo_client [--tls] [--cafile FILE] [--insecure] HOST PORT - send each
 * line of stdin to an echo server and print each line that comes back.
 *
 * Empty lines are sent too; a last line without a newline is sent with
 * one.  Each line is sent once the previous echo is printed, so the output
 * is the input, line by line.  At end of input the client shuts down its
 * writing side, waits for the server to close, and exits 0.  A connection
 * that fails or ends early is reported on stderr, exit status 1.
 *
 * --tls speaks TLS (when built with the corio-tls module), verifying the
 * server's certificate against the system's CAs and its name against
 * HOST; --cafile FILE trusts the CAs in FILE instead; --insecure verifies
 * nothing (and says so on stderr).  A failed handshake prints its reason
 * ("certificate verify failed: self-signed certificate") and exits 1.
 *
 *     reader, writer = await asyncio.open_connection(host, port)
 *     for line in sys.stdin:
 *         writer.write(line.encode())
 *         print((await reader.readline()).decode(), end='')
 *     writer.write_eof()
 *     await reader.read()
 *     writer.close()
 *     await writer.wait_closed()
 */
#include <corio.h>
#ifdef CORIO_HAVE_TLS
#include <corio/tls.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_LIMIT ((size_t)1 << 30) /* 1 GiB */

typedef struct args {
    const char *host;
    int port;
    int tls;            /* --tls, --cafile or --insecure given */
    const char *cafile; /* --cafile */
    int insecure;       /* --insecure */
} args;

#ifdef CORIO_HAVE_TLS
static int open_tls(const args *a, corio_reader **r, corio_writer **w) {
    corio_tls_ctx *ctx = corio_tls_ctx_new_client();
    if (!ctx) return -errno;
    int rc = 0;
    if (a->insecure) {
        fprintf(stderr, "echo_client: --insecure: the server's certificate is not verified\n");
        rc = corio_tls_ctx_disable_verification(ctx);
    } else if (a->cafile) {
        rc = corio_tls_ctx_load_verify_locations(ctx, a->cafile, NULL);
    }
    if (rc == 0) rc = corio_open_tls_connection(a->host, a->port, ctx, NULL, r, w);
    if (rc < 0)
        fprintf(stderr, "echo_client: TLS to %s:%d failed: %s\n", a->host, a->port, corio_tls_last_error(NULL));
    corio_tls_ctx_free(ctx); /* the connection keeps its own reference */
    return rc;
}
#endif

static int amain(void *arg) {
    const args *a = arg;
    corio_reader *r, *in;
    corio_writer *w, *in_w;
    int rc;
#ifdef CORIO_HAVE_TLS
    if (a->tls) {
        if ((rc = open_tls(a, &r, &w)) < 0) return rc;
    } else
#endif
    if ((rc = corio_open_connection(a->host, a->port, &r, &w)) < 0) {
        fprintf(stderr, "echo_client: cannot connect to %s:%d: %s\n", a->host, a->port, corio_strerror(rc));
        return rc;
    }
    /* stdin as a stream too (a duplicate, so that fd 0 itself stays open). */
    int fd = dup(0);
    if (fd < 0 || (rc = corio_stream_open(fd, NULL, &in, &in_w)) < 0) {
        rc = fd < 0 ? -errno : rc;
        fprintf(stderr, "echo_client: stdin: %s\n", corio_strerror(rc));
        if (fd >= 0) close(fd);
        corio_stream_close(r, w);
        return rc;
    }
    /* Lines of any length a file may hold (Python's `for line in
     * sys.stdin` has no limit), and their echoes: not the streams' 64 KiB. */
    corio_reader_set_limit(in, LINE_LIMIT);
    corio_reader_set_limit(r, LINE_LIMIT);
    for (;;) {
        const char *line, *echo;
        size_t len, elen;
        if ((rc = corio_reader_readline(in, &line, &len)) < 0) {
            fprintf(stderr, "echo_client: stdin: %s\n", corio_strerror(rc));
            break;
        }
        if (len == 0) break; /* end of input */
        if ((rc = corio_writer_write(w, line, len)) < 0 ||
            (line[len - 1] != '\n' && (rc = corio_writer_write(w, "\n", 1)) < 0) ||
            (rc = corio_writer_drain(w)) < 0) {
            fprintf(stderr, "echo_client: send: %s\n", corio_strerror(rc));
            break;
        }
        rc = corio_reader_readline(r, &echo, &elen);
        if (rc == 0 && (elen == 0 || echo[elen - 1] != '\n')) rc = CORIO_EINCOMPLETE;
        if (rc < 0) {
            fprintf(stderr, "echo_client: the server %s\n",
                    rc == CORIO_EINCOMPLETE ? "closed the connection before echoing" : corio_strerror(rc));
            break;
        }
        fwrite(echo, 1, elen, stdout);
    }
    if (rc == 0 && (rc = corio_writer_write_eof(w)) == 0) {
        char rest[256];
        ssize_t n = corio_reader_read(r, rest, sizeof rest); /* the server's close */
        if (n != 0) rc = n < 0 ? (int)n : -EPROTO;
        if (rc < 0) fprintf(stderr, "echo_client: after end of input: %s\n", corio_strerror(rc));
    }
    corio_stream_close(in, in_w);
    int crc = corio_stream_close(r, w);
    return rc < 0 ? rc : crc;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    args a = {0};
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--tls") == 0) {
            a.tls = 1;
        } else if (strcmp(argv[i], "--insecure") == 0) {
            a.tls = a.insecure = 1;
        } else if (strcmp(argv[i], "--cafile") == 0 && i + 1 < argc) {
            a.tls = 1;
            a.cafile = argv[++i];
        } else {
            argc = 0; /* unknown option: usage */
            break;
        }
    }
    char *end = NULL;
    long port = argc - i == 2 ? strtol(argv[i + 1], &end, 10) : -1;
    if (argc - i != 2 || !*argv[i + 1] || *end || port < 1 || port > 65535) {
        fprintf(stderr, "usage: echo_client [--tls] [--cafile FILE] [--insecure] HOST PORT   (PORT 1..65535)\n");
        return 2;
    }
#ifndef CORIO_HAVE_TLS
    if (a.tls) {
        fprintf(stderr, "echo_client: built without TLS (the corio-tls module)\n");
        return 2;
    }
#endif
    int flags = fcntl(0, F_GETFL); /* the loop makes stdin non-blocking: restore it for the shell */
    a.host = argv[i];
    a.port = (int)port;
    int rc = corio_run(amain, &a);
    if (flags >= 0) fcntl(0, F_SETFL, flags);
    return rc < 0 ? 1 : 0;
}
