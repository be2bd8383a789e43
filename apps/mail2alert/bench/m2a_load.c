/*
 * m2a_load.c - mail2alert's load generator: SESSIONS connections send
 * MESSAGES GoCD alerts between them, one after another per connection.
 *
 *     m2a_load HOST PORT SESSIONS MESSAGES [pass]
 *
 * Each message is the original's catch_big mail ("Stage [...] is
 * broken" to mail2alert@example.com, 1.1 KiB), which the test
 * configuration rewrites to cat@example.com; with "pass" it goes to
 * b@example.com instead and passes through unchanged.  Prints the wall
 * time and messages per second; exit 1 if any message was refused.
 */
#include <corio.h>
#include <corio/smtp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char mail[] =
    "Date: Wed, 19 Apr 2017 10:42:11 +0200\r\n"
    "From: <go@pagero.com>\r\n"
    "Sender: <go@pagero.com>\r\n"
    "Reply-To: <go@pagero.com>\r\n"
    "To: <mail2alert@example.com>\r\n"
    "Subject: Stage [my-pipeline/6/my-stage/1] is broken\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "Return-Path: go@pagero.com\r\n"
    "\r\n"
    "See details: http://go.pagero.local/go/pipelines/create-pagero-online-relea=\r\n"
    "se/6/SetupGoCDReleaseGroup/1\r\n"
    "\r\n"
    "-- CHECK-INS --\r\n"
    "\r\n"
    "Dependency: deploy-to-test/readyToTest\r\n"
    "revision: deploy-to-test/881/readyToTest/1, completed on 2017-04-19 08:41:5=\r\n"
    "5.272\r\n"
    "\r\n"
    "Git: ssh://git@git/config/gocd-create-group-of-pipelines\r\n"
    "revision: 1f5557f803c998b7ae010dba9ff7fbdf71cab346, modified by Magnus Lyck=\r\n"
    "=C3=A5 <magnusl@pagero.com> on 2017-03-15 16:31:40.0\r\n"
    "remove temporary pipeline/repo-url fixes from create_group_of_pipelines.py\r\n"
    "modified create_group_of_pipelines.py\r\n"
    "\r\n"
    "Sent by Go on behalf of ex0247\r\n";

typedef struct load {
    const char *host;
    int port;
    int sessions;
    long left, sent, failed;
    const char *to;
} load;

static int session(void *arg) {
    load *l = arg;
    corio_smtp_client *c;
    /* DATA always, as a build server's mailer sends: the sender's side
     * stays the same for mail2alert and the original (neither offers
     * CHUNKING; this says so should that change). */
    corio_smtp_client_opts o = {.timeout = 120, .no_chunking = 1};
    int rc = corio_smtp_client_connect(l->host, l->port, &o, &c);
    if (rc < 0) {
        fprintf(stderr, "m2a_load: connect: %s\n", corio_strerror(rc));
        l->failed++;
        return 0;
    }
    while (l->left > 0) {
        l->left--;
        rc = corio_smtp_client_send(c, "go@pagero.com", &l->to, 1, mail, sizeof mail - 1, NULL);
        if (rc < 0) {
            fprintf(stderr, "m2a_load: %s (%d %s)\n", corio_strerror(rc), corio_smtp_client_code(c),
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
    corio_task **t = calloc((size_t)l->sessions, sizeof *t);
    if (!t) return -1;
    double t0 = corio_time();
    for (int i = 0; i < l->sessions; i++) t[i] = corio_spawn(session, l);
    for (int i = 0; i < l->sessions; i++)
        if (t[i]) corio_join(t[i]);
    double dt = corio_time() - t0;
    printf("%ld messages in %.3f s: %.0f msg/s\n", l->sent, dt, l->sent / dt);
    free(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: m2a_load HOST PORT SESSIONS MESSAGES [pass]\n");
        return 2;
    }
    load l = {.host = argv[1], .port = atoi(argv[2]), .sessions = atoi(argv[3]), .left = atol(argv[4]),
              .to = argc > 5 && !strcmp(argv[5], "pass") ? "b@example.com" : "mail2alert@example.com"};
    if (l.sessions < 1 || l.left < 1) return 2;
    corio_run(amain, &l);
    return l.failed ? 1 : 0;
}
