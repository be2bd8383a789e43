/*
 * smtp_load.c - an SMTP load generator on corio-smtp's client.
 *
 *     smtp_load HOST PORT SESSIONS MESSAGES [SIZE]
 *
 * SESSIONS connections send MESSAGES messages of SIZE bytes (default
 * 1024) between them, each session sending one after another over its
 * connection (MAIL, RCPT, DATA pipelined when the server offers
 * PIPELINING, one command at a time otherwise).  DATA even where the
 * server offers CHUNKING, so that every server is driven with the same
 * commands; SMTP_LOAD_BDAT=1 in the environment lets the client use BDAT.
 * Prints the wall time and messages per second; exit 1 if any message was
 * refused.
 */
#include <corio.h>
#include <corio/smtp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct load {
    const char *host;
    int port;
    long left;      /* messages not yet started */
    long sent;      /* messages accepted */
    long failed;
    char *msg;
    size_t size;
} load;

static int session(void *arg) {
    load *l = arg;
    corio_smtp_client *c;
    const char *bdat = getenv("SMTP_LOAD_BDAT");
    corio_smtp_client_opts o = {.no_chunking = !(bdat && strcmp(bdat, "1") == 0)};
    int rc = corio_smtp_client_connect(l->host, l->port, &o, &c);
    if (rc < 0) {
        fprintf(stderr, "smtp_load: connect: %s\n", corio_strerror(rc));
        l->failed++;
        return rc;
    }
    const char *to[] = {"b@example.com"};
    while (l->left > 0) {
        l->left--;
        rc = corio_smtp_client_send(c, "a@example.com", to, 1, l->msg, l->size, NULL);
        if (rc < 0) {
            fprintf(stderr, "smtp_load: %s (%d %s)\n", corio_strerror(rc), corio_smtp_client_code(c),
                    corio_smtp_client_text(c));
            l->failed++;
            break;
        }
        l->sent++;
    }
    corio_smtp_client_quit(c);
    corio_smtp_client_free(c);
    return 0;
}

static int amain(void *arg) {
    load *l = arg;
    long n = l->left;
    int sessions = (int)l->sent; /* passed in through sent, reset below */
    l->sent = 0;
    corio_task **t = calloc((size_t)sessions, sizeof *t);
    if (!t) return -ENOMEM;
    double t0 = corio_time();
    for (int i = 0; i < sessions; i++) t[i] = corio_spawn(session, l);
    for (int i = 0; i < sessions; i++) corio_join(t[i]);
    double dt = corio_time() - t0;
    printf("%ld messages of %zu bytes over %d sessions in %.3f s: %.0f msg/s\n", l->sent, l->size, sessions, dt,
           l->sent / dt);
    free(t);
    return l->sent == n && !l->failed ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: smtp_load HOST PORT SESSIONS MESSAGES [SIZE]\n");
        return 2;
    }
    load l = {.host = argv[1], .port = atoi(argv[2]), .left = atol(argv[4])};
    l.sent = atoi(argv[3]);
    l.size = argc > 5 ? (size_t)atol(argv[5]) : 1024;
    if (l.sent <= 0 || l.left <= 0 || l.size < 2) return 2;
    l.msg = malloc(l.size);
    if (!l.msg) return 1;
    /* Header, blank line, then 72-column lines of text, CRLF-ended. */
    size_t i = (size_t)snprintf(l.msg, l.size, "Subject: load\r\n\r\n");
    if (i > l.size) i = 0;
    while (i < l.size) {
        l.msg[i] = (i + 2) % 74 == 0 ? '\r' : (i + 1) % 74 == 0 ? '\n' : (char)('a' + i % 26);
        i++;
    }
    memcpy(l.msg + l.size - 2, "\r\n", 2);
    int rc = corio_run(amain, &l);
    free(l.msg);
    return rc < 0 ? 1 : rc;
}
