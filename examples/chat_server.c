/*
 * chat_server PORT - a line-based chat room, one task per client.
 *
 * Listens on 127.0.0.1:PORT (0: any free port; the log line says which).
 * Every complete line a client sends goes to every other connected client,
 * exactly once and in order, prefixed with the sender's "address:port: ".
 * Clients receive nothing else: joins, leaves and kicks are logged on
 * stdout (line-buffered, so a pipe sees them as they happen), errors on
 * stderr.  A last line left without its newline by a client that
 * disconnects is not forwarded.
 *
 * A client that stops reading must not stall the others, so forwarding
 * never waits: each line is queued on every receiver's stream writer (a
 * write never suspends), and a receiver whose queue would grow past
 * CHAT_MAX_BEHIND (1 MiB) is disconnected, with a log line, instead of
 * being waited for.  A client sending a line longer than the stream's line
 * limit (64 KiB) is disconnected too.  SIGINT or SIGTERM closes the listener and every
 * connection, and exits 0.
 *
 *     clients = set()
 *     async def handle(reader, writer):
 *         peer = '%s:%d' % writer.get_extra_info('peername')
 *         clients.add(writer)
 *         while (line := await reader.readline()).endswith(b'\n'):
 *             for other in clients - {writer}:
 *                 if other.transport.get_write_buffer_size() > MAX_BEHIND:
 *                     other.transport.abort(); clients.discard(other)
 *                 else:
 *                     other.write(peer.encode() + b': ' + line)
 *         clients.discard(writer)
 */
#include <corio.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* How far (in bytes queued and not yet sent) a receiver may fall behind
 * before it is disconnected.  The kernel's socket buffers hold several
 * more megabytes on top of it; past both, the client is not reading. */
#define CHAT_MAX_BEHIND (1024 * 1024)

/* One connected client; lives on its handler task's stack. */
typedef struct client {
    corio_list link;                /* in the room, while connected */
    corio_writer *w;                /* its connection (owned by the server) */
    bool kicked;                    /* disconnected for falling behind, or its writer failed */
    char peer[CORIO_ADDRSTRLEN];    /* "address:port" */
    char prefix[CORIO_ADDRSTRLEN + 2]; /* "address:port: " */
    size_t prefix_len;
} client;

static corio_list room = {&room, &room}; /* every connected client, in order of arrival */
static size_t room_size;
static corio_server *server;

static void leave(client *c) {
    if (c->link.next == &c->link) return; /* already out */
    c->link.prev->next = c->link.next;
    c->link.next->prev = c->link.prev;
    c->link.next = c->link.prev = &c->link;
    room_size--;
}

/* Disconnect a receiver at once, dropping what is queued for it.  Its
 * handler's readline then sees end of stream and the handler returns. */
static void kick(client *c, const char *why) {
    printf("%s disconnected: %s\n", c->peer, why);
    c->kicked = true;
    leave(c);
    corio_writer_abort(c->w);
}

/* Queue line on every other client's writer.  Never suspends, so the
 * order in which lines are read is the order every receiver gets them. */
static void broadcast(client *from, const char *line, size_t len) {
    size_t need = from->prefix_len + len;
    corio_list *next;
    for (corio_list *l = room.next; l != &room; l = next) {
        next = l->next; /* kick() unlinks l */
        client *c = (client *)l;
        if (c == from) continue;
        if (corio_writer_buffered(c->w) + need > CHAT_MAX_BEHIND) {
            kick(c, "too far behind (not reading)");
            continue;
        }
        struct iovec iov[2] = {{from->prefix, from->prefix_len}, {(void *)line, len}};
        int rc = corio_writer_writelines(c->w, iov, 2);
        if (rc < 0) kick(c, corio_strerror(rc));
    }
}

static int handle(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    client c = {.w = w};
    if (corio_writer_peername(w, c.peer, sizeof c.peer) < 0) strcpy(c.peer, "?");
    c.prefix_len = (size_t)snprintf(c.prefix, sizeof c.prefix, "%s: ", c.peer);
    c.link.prev = room.prev; /* join at the tail */
    c.link.next = &room;
    room.prev->next = &c.link;
    room.prev = &c.link;
    room_size++;
    printf("%s joined (%zu connected)\n", c.peer, room_size);

    size_t lines = 0;
    int rc;
    for (;;) {
        const char *line;
        size_t len;
        rc = corio_reader_readline(r, &line, &len);
        if (rc == -ENOBUFS) { /* its tail would look like a line of its own: give up on this client */
            printf("%s disconnected: a line over %zu bytes\n", c.peer, corio_reader_limit(r));
            c.kicked = true;
            corio_writer_abort(w);
            break;
        }
        if (rc < 0 || len == 0 || c.kicked) break;
        if (line[len - 1] != '\n') { /* end of stream inside a line */
            printf("%s: an unterminated last line (%zu bytes) not forwarded\n", c.peer, len);
            break;
        }
        broadcast(&c, line, len);
        lines++;
    }
    leave(&c);
    if (rc < 0 && !c.kicked)
        printf("%s left: %s (%zu lines sent, %zu connected)\n", c.peer, corio_strerror(rc), lines, room_size);
    else if (!c.kicked)
        printf("%s left (%zu lines sent, %zu connected)\n", c.peer, lines, room_size);
    return rc; /* the server closes the connection */
}

static void on_signal(int signum, void *arg) {
    (void)arg;
    printf("%s: closing\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    corio_server_close(server, 1); /* cancels every handler */
}

static int amain(void *arg) {
    int port = *(int *)arg;
    int rc = corio_start_server("127.0.0.1", port, handle, NULL, &server);
    if (rc < 0) {
        fprintf(stderr, "chat_server: cannot listen on 127.0.0.1:%d: %s\n", port, corio_strerror(rc));
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
        fprintf(stderr, "usage: chat_server PORT   (0..65535; 0 picks a free port)\n");
        return 2;
    }
    int p = (int)port;
    return corio_run(amain, &p) < 0 ? 1 : 0;
}
