/*
 * smtp_sink.c - an SMTP server that accepts every message (aiosmtpd's
 * Sink handler), optionally keeping each one on disk.
 *
 *     smtp_sink [-d DIR] PORT
 *
 * Listens on 127.0.0.1:PORT (0: any free port) and prints
 * "listening on 127.0.0.1:PORT" once it accepts connections.  With -d,
 * message number N (from 000001, in the order their DATA ends) is written
 * to DIR/NNNNNN.eml - its content byte for byte as received, after
 * dot-unstuffing - and its envelope to DIR/NNNNNN.env: a line
 * "MAIL FROM:<sender>" then one line "RCPT TO:<recipient>" per recipient,
 * each ended by LF.  Both files are complete before the client gets its
 * 250, so a client that saw 250 finds them.  A file that cannot be
 * written is answered 451 (the client keeps the mail and retries).
 *
 * SIGINT or SIGTERM: stop accepting, let the connections in progress end,
 * exit 0.  A second signal does not wait: the sessions still open are
 * closed (their unfinished messages dropped, never half-written) and the
 * program exits 0.
 */
#include <corio.h>
#include <corio/smtp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sink {
    const char *dir;      /* NULL: keep nothing */
    unsigned long count;  /* messages received */
    int port;
    corio_event stop;     /* set by SIGINT / SIGTERM */
    int signals;          /* received so far */
    corio_smtp_server *srv;
} sink;

static int write_file(const char *path, const void *p, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = -errno;
            close(fd);
            return e;
        }
        b += w;
        n -= (size_t)w;
    }
    return close(fd) < 0 ? -errno : 0;
}

static int on_data(corio_smtp_session *s, corio_smtp_envelope *env, corio_smtp_reply *reply) {
    sink *k = s->arg;
    unsigned long n = ++k->count;
    (void)reply;
    if (!k->dir) return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%06lu.eml", k->dir, n);
    int rc = write_file(path, env->content, env->content_len);
    if (rc < 0) return rc;
    size_t cap = strlen(env->mail_from) + 16;
    for (size_t i = 0; i < env->rcpt_count; i++) cap += strlen(env->rcpt_tos[i]) + 16;
    char *text = malloc(cap);
    if (!text) return -ENOMEM;
    size_t len = (size_t)snprintf(text, cap, "MAIL FROM:<%s>\n", env->mail_from);
    for (size_t i = 0; i < env->rcpt_count; i++)
        len += (size_t)snprintf(text + len, cap - len, "RCPT TO:<%s>\n", env->rcpt_tos[i]);
    snprintf(path, sizeof path, "%s/%06lu.env", k->dir, n);
    rc = write_file(path, text, len);
    free(text);
    return rc;
}

static void on_signal(int signum, void *arg) {
    sink *k = arg;
    (void)signum;
    if (++k->signals > 1 && k->srv) corio_smtp_server_close(k->srv, 1);
    corio_event_set(&k->stop);
}

static int amain(void *arg) {
    sink *k = arg;
    static const corio_smtp_handler handler = {.data = on_data};
    corio_smtp_server *srv;
    corio_event_init(&k->stop);
    int rc = corio_add_signal_handler(SIGINT, on_signal, k);
    if (rc == 0) rc = corio_add_signal_handler(SIGTERM, on_signal, k);
    /* CHUNKING as Postfix offers it: a pipelining client's message is then
     * one round trip (see corio_smtp_server_opts.chunking). */
    static const corio_smtp_server_opts opts = {.chunking = 1};
    if (rc == 0) rc = corio_smtp_server_start("127.0.0.1", k->port, &handler, k, &opts, &srv);
    if (rc < 0) {
        corio_event_destroy(&k->stop);
        return rc;
    }
    k->srv = srv;
    printf("listening on 127.0.0.1:%d\n", corio_smtp_server_port(srv));
    corio_event_wait(&k->stop);
    corio_smtp_server_close(srv, 0);
    corio_smtp_server_wait_closed(srv);
    k->srv = NULL;
    corio_smtp_server_free(srv);
    corio_remove_signal_handler(SIGINT);
    corio_remove_signal_handler(SIGTERM);
    corio_event_destroy(&k->stop);
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: smtp_sink [-d DIR] PORT\n");
    return 2;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    sink k = {0};
    int opt;
    while ((opt = getopt(argc, argv, "d:")) != -1) {
        if (opt == 'd') k.dir = optarg;
        else return usage();
    }
    if (optind != argc - 1) return usage();
    char *end;
    long port = strtol(argv[optind], &end, 10);
    if (*argv[optind] == 0 || *end || port < 0 || port > 65535) return usage();
    k.port = (int)port;
    if (k.dir && access(k.dir, W_OK) != 0) {
        fprintf(stderr, "smtp_sink: %s: %s\n", k.dir, strerror(errno));
        return 1;
    }
    int rc = corio_run(amain, &k);
    if (rc < 0) {
        fprintf(stderr, "smtp_sink: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
