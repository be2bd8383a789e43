/*
 * echo_server_proto PORT - the echo server with a protocol: callbacks, no
 * task per connection (asyncio's Protocol version of echo_server).
 *
 * Listens on 127.0.0.1:PORT (0: any free port; the log line says which)
 * and echoes every byte back.  When a client half-closes, what it sent has
 * been echoed already (each piece is written back as it arrives), so the
 * server closes once the queue is written.  Stays in the foreground;
 * SIGINT or SIGTERM closes the listener and the open connections and
 * exits 0.  Logs one line per event on stdout, line-buffered.
 *
 *     class Echo(asyncio.Protocol):
 *         def connection_made(self, transport): self.transport = transport
 *         def data_received(self, data): self.transport.write(data)
 *
 *     server = await loop.create_server(Echo, '127.0.0.1', port)
 */
#include <corio.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct conn {
    char peer[CORIO_ADDRSTRLEN];
    size_t bytes;
} conn;

static void *new_conn(void *arg) {
    (void)arg;
    return calloc(1, sizeof(conn)); /* NULL when out of memory: then logged as "?" */
}

static void made(corio_transport *t, void *arg) {
    conn *c = arg;
    if (!c) {
        corio_transport_abort(t);
        return;
    }
    corio_transport_peername(t, c->peer, sizeof c->peer);
    printf("%s connected\n", c->peer);
}

static void data(corio_transport *t, const void *d, size_t n, void *arg) {
    conn *c = arg;
    c->bytes += n;
    corio_transport_write(t, d, n);
}

static void lost(corio_transport *t, int err, void *arg) {
    (void)t;
    conn *c = arg;
    if (!c) return;
    if (err)
        printf("%s: %s after %zu bytes\n", c->peer, corio_strerror(err), c->bytes);
    else
        printf("%s done: %zu bytes echoed\n", c->peer, c->bytes);
    free(c);
}

static const corio_protocol echo = {.connection_made = made, .data_received = data, .connection_lost = lost};

static corio_proto_server *server;
static corio_event stop;

static void on_signal(int signum, void *arg) {
    (void)arg;
    printf("%s: closing\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    corio_event_set(&stop);
}

static int amain(void *arg) {
    int port = *(int *)arg;
    int rc = corio_create_server("127.0.0.1", port, &echo, new_conn, NULL, NULL, &server);
    if (rc < 0) {
        fprintf(stderr, "echo_server_proto: cannot listen on 127.0.0.1:%d: %s\n", port, corio_strerror(rc));
        return rc;
    }
    corio_event_init(&stop);
    corio_add_signal_handler(SIGINT, on_signal, NULL);
    corio_add_signal_handler(SIGTERM, on_signal, NULL);
    printf("listening on 127.0.0.1:%d\n", corio_proto_server_port(server));
    rc = corio_event_wait(&stop);
    corio_proto_server_close(server, 1); /* abort the open connections: their connection_lost follows */
    corio_yield();
    corio_remove_signal_handler(SIGINT);
    corio_remove_signal_handler(SIGTERM);
    corio_event_destroy(&stop);
    printf("closed\n");
    return rc;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *end = NULL;
    long port = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || !*argv[1] || *end || port < 0 || port > 65535) {
        fprintf(stderr, "usage: echo_server_proto PORT   (0..65535; 0 picks a free port)\n");
        return 2;
    }
    int p = (int)port;
    return corio_run(amain, &p) < 0 ? 1 : 0;
}
