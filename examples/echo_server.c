/*
 * echo_server PORT - the asyncio streams echo server, one task per client.
 *
 * Listens on 127.0.0.1:PORT (0: any free port; the log line says which)
 * and echoes every byte back.  When a client half-closes (shuts down its
 * writing side) the server finishes echoing what it sent, then closes.
 * Stays in the foreground; SIGINT or SIGTERM closes the listener, cancels
 * the connections still open, and exits 0.  Logs one line per event on
 * stdout, line-buffered so that a pipe sees them as they happen.
 *
 *     async def handle(reader, writer):
 *         while data := await reader.read(16384):
 *             writer.write(data)
 *             await writer.drain()
 *         writer.close()
 *         await writer.wait_closed()
 *
 *     server = await asyncio.start_server(handle, '127.0.0.1', port)
 *     async with server:
 *         await server.serve_forever()
 */
#include <corio.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static corio_server *server;

static int handle(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    char peer[CORIO_ADDRSTRLEN] = "?";
    corio_writer_peername(w, peer, sizeof peer);
    printf("%s connected\n", peer);
    char buf[16384]; /* on the task's own stack */
    size_t total = 0;
    ssize_t n;
    int rc = 0;
    while ((n = corio_reader_read(r, buf, sizeof buf)) > 0) {
        total += (size_t)n;
        if ((rc = corio_writer_write(w, buf, (size_t)n)) < 0 || (rc = corio_writer_drain(w)) < 0) break;
    }
    if (n < 0) rc = (int)n;
    if (rc < 0)
        printf("%s: %s after %zu bytes\n", peer, corio_strerror(rc), total);
    else
        printf("%s done: %zu bytes echoed\n", peer, total);
    return rc; /* the server then closes the connection, flushing what is queued */
}

static void on_signal(int signum, void *arg) {
    (void)arg;
    printf("%s: closing\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    corio_server_close(server, 1);
}

static int amain(void *arg) {
    int port = *(int *)arg;
    int rc = corio_start_server("127.0.0.1", port, handle, NULL, &server);
    if (rc < 0) {
        fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:%d: %s\n", port, corio_strerror(rc));
        return rc;
    }
    corio_add_signal_handler(SIGINT, on_signal, NULL);
    corio_add_signal_handler(SIGTERM, on_signal, NULL);
    printf("listening on 127.0.0.1:%d\n", corio_server_port(server));
    rc = corio_server_serve_forever(server);
    corio_server_wait_closed(server);
    corio_server_free(server);
    corio_remove_signal_handler(SIGINT);
    corio_remove_signal_handler(SIGTERM);
    printf("closed\n");
    return rc;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *end = NULL;
    long port = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || !*argv[1] || *end || port < 0 || port > 65535) {
        fprintf(stderr, "usage: echo_server PORT   (0..65535; 0 picks a free port)\n");
        return 2;
    }
    int p = (int)port;
    return corio_run(amain, &p) < 0 ? 1 : 0;
}
