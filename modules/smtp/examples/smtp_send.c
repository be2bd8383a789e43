/*
 * smtp_send.c - send one message read from standard input (smtplib's
 * sendmail as a command).
 *
 *     smtp_send [-u USER -p PASSWORD] HOST PORT FROM TO...
 *
 * Prints each recipient's reply, exits 0 when the message was accepted
 * for every recipient, 1 otherwise (with the server's code and text).
 */
#include <corio.h>
#include <corio/smtp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct job {
    const char *host, *user, *password, *from;
    int port;
    const char *const *rcpts;
    size_t n;
    char *msg;
    size_t len;
} job;

static int amain(void *arg) {
    job *j = arg;
    corio_smtp_client *c = NULL;
    int rc = corio_smtp_client_connect(j->host, j->port, NULL, &c);
    if (rc == 0 && j->user) rc = corio_smtp_client_auth(c, j->user, j->password ? j->password : "");
    corio_smtp_rcpt_result *res = calloc(j->n, sizeof *res);
    if (rc == 0 && !res) rc = -ENOMEM;
    if (rc == 0) rc = corio_smtp_client_send(c, j->from, j->rcpts, j->n, j->msg, j->len, res);
    for (size_t i = 0; res && i < j->n && rc != CORIO_SMTP_EREPLY; i++)
        if (res[i].code) printf("%s: %d %s\n", j->rcpts[i], res[i].code, res[i].text);
    int all = rc == 0;
    for (size_t i = 0; all && i < j->n; i++) all = res[i].code == 250 || res[i].code == 251;
    if (rc < 0 && c && corio_smtp_client_code(c))
        fprintf(stderr, "smtp_send: %s: %d %s\n", corio_strerror(rc), corio_smtp_client_code(c),
                corio_smtp_client_text(c));
    else if (rc < 0)
        fprintf(stderr, "smtp_send: %s\n", corio_strerror(rc));
    if (c && rc != -ETIMEDOUT && rc != -ECONNRESET) corio_smtp_client_quit(c);
    corio_smtp_client_free(c);
    free(res);
    return rc < 0 ? rc : all ? 0 : 1;
}

int main(int argc, char **argv) {
    job j = {0};
    int opt;
    while ((opt = getopt(argc, argv, "u:p:")) != -1) {
        if (opt == 'u') j.user = optarg;
        else if (opt == 'p') j.password = optarg;
        else return 2;
    }
    if (argc - optind < 4) {
        fprintf(stderr, "usage: smtp_send [-u USER -p PASSWORD] HOST PORT FROM TO...\n");
        return 2;
    }
    j.host = argv[optind];
    j.port = atoi(argv[optind + 1]);
    j.from = argv[optind + 2];
    j.rcpts = (const char *const *)&argv[optind + 3];
    j.n = (size_t)(argc - optind - 3);
    size_t cap = 1 << 16;
    j.msg = malloc(cap);
    size_t r;
    while (j.msg && (r = fread(j.msg + j.len, 1, cap - j.len, stdin)) > 0) {
        j.len += r;
        if (j.len == cap) j.msg = realloc(j.msg, cap *= 2);
    }
    if (!j.msg) return 1;
    int rc = corio_run(amain, &j);
    free(j.msg);
    return rc == 0 ? 0 : 1;
}
