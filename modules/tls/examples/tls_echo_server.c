/*
 * tls_echo_server PORT CERT KEY - echo_server over TLS: one task per
 * client, every byte echoed back.
 *
 * Listens on 127.0.0.1:PORT (0: any free port; the log line says which)
 * with the certificate chain CERT and private key KEY (PEM).  When a
 * client half-closes (close_notify, then shuts down its writing side) the
 * server finishes echoing what it sent, then closes (close_notify).  A
 * client whose handshake fails is logged with the reason and closed; the
 * others go on.  SIGINT or SIGTERM closes the listener, cancels the
 * connections still open, and exits 0.  One line per event on stdout.
 *
 *     ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
 *     ctx.load_cert_chain(cert, key)
 *     server = await asyncio.start_server(handle, '127.0.0.1', port, ssl=ctx)
 */
#include <corio.h>
#include <corio/tls.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static corio_server *server;

static int handle(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    char peer[CORIO_ADDRSTRLEN] = "?";
    corio_writer_peername(w, peer, sizeof peer);
    corio_tls_conn *c = corio_tls_writer_conn(w);
    printf("%s connected (%s, %s)\n", peer, corio_tls_version(c), corio_tls_cipher(c));
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
        printf("%s: %s (%s) after %zu bytes\n", peer, corio_tls_strerror(rc), corio_tls_last_error(w), total);
    else
        printf("%s done: %zu bytes echoed\n", peer, total);
    return rc; /* then close_notify and close, after what is queued */
}

static void on_signal(int signum, void *arg) {
    (void)arg;
    printf("%s: closing\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    corio_server_close(server, 1);
}

typedef struct args {
    int port;
    const char *cert, *key;
} args;

/* Every handshake that fails is logged, one line each. */
static corio_tls_server tls;
static void on_handshake_failed(corio_writer *w, const char *reason, void *arg) {
    (void)w;
    (void)arg;
    printf("handshake failed: %s\n", reason);
}

static int amain(void *arg) {
    const args *a = arg;
    corio_tls_ctx *ctx = corio_tls_ctx_new_server();
    if (!ctx) {
        fprintf(stderr, "tls_echo_server: cannot create a TLS context\n");
        return -ENOMEM;
    }
    int rc = corio_tls_ctx_load_cert_chain(ctx, a->cert, a->key);
    if (rc < 0) {
        fprintf(stderr, "tls_echo_server: %s\n", corio_tls_last_error(NULL));
        corio_tls_ctx_free(ctx);
        return rc;
    }
    tls.ctx = ctx;
    tls.handler = handle;
    tls.on_handshake_failed = on_handshake_failed;
    rc = corio_start_tls_server("127.0.0.1", a->port, &tls, NULL, &server);
    if (rc < 0) {
        fprintf(stderr, "tls_echo_server: cannot listen on 127.0.0.1:%d: %s\n", a->port, corio_strerror(rc));
        corio_tls_ctx_free(ctx);
        return rc;
    }
    corio_add_signal_handler(SIGINT, on_signal, NULL);
    corio_add_signal_handler(SIGTERM, on_signal, NULL);
    printf("listening on 127.0.0.1:%d (TLS)\n", corio_server_port(server));
    rc = corio_server_serve_forever(server);
    corio_server_wait_closed(server);
    corio_server_free(server);
    corio_remove_signal_handler(SIGINT);
    corio_remove_signal_handler(SIGTERM);
    corio_tls_ctx_free(ctx);
    printf("closed\n");
    return rc;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *end = NULL;
    long port = argc == 4 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 4 || !*argv[1] || *end || port < 0 || port > 65535) {
        fprintf(stderr, "usage: tls_echo_server PORT CERT KEY   (PORT 0..65535; 0 picks a free port)\n");
        return 2;
    }
    args a = {(int)port, argv[2], argv[3]};
    return corio_run(amain, &a) < 0 ? 1 : 0;
}
