/*
 * echo_server_proto PORT - the echo server with a protocol: callbacks, no
 * task per connection (asyncio's Protocol version of echo_server).
 *
 * Listens on 127.0.0.1:PORT (0: any free port; the log line says which)
 * and echoes every byte back.  When a client half-closes, what it sent has
 * been echoed already (each piece is written back as it arrives), so the
 * server closes once the queue is written.
 *
 * Flow control: a client that sends and never reads must not make the
 * server queue everything it sends.  When a connection's queue passes the
 * transport's high water mark (64 KiB) the transport calls pause_writing,
 * and the server stops reading from that client; resume_writing (the queue
 * is down to 16 KiB) reads again.  The client then waits on its own full
 * socket, and the server holds at most the high water mark plus one read
 * per connection (under io_uring, also what the kernel had read ahead when
 * reading paused).  The library leaves this to the protocol, as asyncio
 * does: only the protocol knows that its peer reads as it writes (see
 * corio/protocol.h, "Flow control").
 *
 * Stays in the foreground; SIGINT or SIGTERM closes the listener and the
 * open connections and exits 0.  Logs one line per event on stdout,
 * line-buffered; a connection's last line says how often reading paused.
 *
 *     class Echo(asyncio.Protocol):
 *         def connection_made(self, transport): self.transport = transport
 *         def data_received(self, data): self.transport.write(data)
 *         def pause_writing(self): self.transport.pause_reading()
 *         def resume_writing(self): self.transport.resume_reading()
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
    size_t pauses; /* times reading was paused because the client did not read */
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

/* The queue is above high water: read no more from this client until it
 * has read what we owe it.  (With NULL here the queue would grow by all
 * the client sends.) */
static void pause_writing(corio_transport *t, void *arg) {
    conn *c = arg;
    c->pauses++;
    corio_transport_pause_reading(t);
}

/* The queue is down to low water: read again. */
static void resume_writing(corio_transport *t, void *arg) {
    (void)arg;
    corio_transport_resume_reading(t);
}

static void lost(corio_transport *t, int err, void *arg) {
    (void)t;
    conn *c = arg;
    if (!c) return;
    if (err)
        printf("%s: %s after %zu bytes (reading paused %zu times)\n", c->peer, corio_strerror(err), c->bytes,
               c->pauses);
    else
        printf("%s done: %zu bytes echoed (reading paused %zu times)\n", c->peer, c->bytes, c->pauses);
    free(c);
}

static const corio_protocol echo = {
    .connection_made = made,
    .data_received = data,
    .connection_lost = lost,
    .pause_writing = pause_writing,
    .resume_writing = resume_writing,
};

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
