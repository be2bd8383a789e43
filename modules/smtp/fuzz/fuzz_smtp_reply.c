/*
 * fuzz_smtp_reply.c - libFuzzer target: the client against a server that
 * says arbitrary bytes.  The input is everything the "server" sends
 * (greeting, EHLO keywords, replies, possibly multi-line, cut anywhere),
 * then end of stream; the client connects, authenticates, sends a message
 * to two recipients and quits, and must end each call with a result -
 * never crash, leak or hang.
 */
#include <corio.h>
#include <corio/smtp.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef struct run {
    const uint8_t *data;
    size_t size;
} run;

static int drain(void *arg) {
    corio_reader *r = arg;
    char buf[4096];
    while (corio_reader_read(r, buf, sizeof buf) > 0) {
    }
    return 0;
}

static int amain(void *arg) {
    run *in = arg;
    int fds[2];
    if (corio_socketpair(SOCK_STREAM, fds) < 0) abort();
    corio_reader *sr, *cr;
    corio_writer *sw, *cw;
    if (corio_stream_open(fds[0], NULL, &sr, &sw) < 0 || corio_stream_open(fds[1], NULL, &cr, &cw) < 0) abort();
    corio_task *t = corio_spawn(drain, sr); /* what the client says is read and dropped */
    corio_writer_write(sw, in->data, in->size);
    corio_writer_write_eof(sw);
    corio_smtp_client_opts o = {.timeout = 5, .local_hostname = "fuzz"};
    corio_smtp_client *c = NULL;
    int rc = corio_smtp_client_open(cr, cw, &o, &c);
    if (rc == 0) {
        corio_smtp_client_auth(c, "u", "p");
        const char *to[] = {"x@y", "z@y"};
        corio_smtp_rcpt_result res[2];
        corio_smtp_client_send(c, "a@b", to, 2, ".hi\r\n", 5, res);
        corio_smtp_client_command(c, "NOOP");
        (void)corio_smtp_client_ext(c, "SIZE");
        corio_smtp_client_quit(c);
    }
    (void)corio_smtp_client_code(c);
    (void)corio_smtp_client_text(c);
    corio_smtp_client_free(c);
    corio_join(t);
    corio_stream_close(sr, sw);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run in = {data, size};
    if (corio_run(amain, &in) < 0) abort();
    return 0;
}
