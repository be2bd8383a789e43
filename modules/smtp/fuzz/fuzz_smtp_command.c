/*
 * fuzz_smtp_command.c - libFuzzer target: an SMTP session fed arbitrary
 * bytes.  The input is what a client sends (commands, DATA, AUTH
 * responses, pipelined or not) followed by end of stream; the server
 * must answer without crashing, leaking or hanging, and its session must
 * end.  Small limits (a 64-byte command, a 128-byte line, 512 bytes of
 * data) make the over-limit paths reachable within the fuzzer's input
 * size.  Half the inputs run with AUTH allowed in the clear and required,
 * so the AUTH and 530 paths are reached too, and half with CHUNKING
 * offered, so that BDAT's chunks are read (both chosen by the first byte).
 */
#include <corio.h>
#include <corio/smtp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct run {
    const uint8_t *data;
    size_t size;
} run;

static int auth(corio_smtp_session *s, const char *mech, const char *login, size_t ll, const char *pw, size_t pl,
                corio_smtp_reply *reply) {
    (void)s;
    (void)mech;
    (void)reply;
    return ll == 1 && pl == 1 && login[0] == 'u' && pw[0] == 'p';
}

static int data(corio_smtp_session *s, corio_smtp_envelope *env, corio_smtp_reply *reply) {
    (void)s;
    /* Touch every byte the envelope claims to have. */
    unsigned sum = 0;
    for (size_t i = 0; i < env->content_len; i++) sum += env->content[i];
    for (size_t i = 0; i < env->rcpt_count; i++) sum += (unsigned)strlen(env->rcpt_tos[i]);
    if (sum == 0xdeadbeef) corio_smtp_reply_set(reply, "250 lucky");
    return 0;
}

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
    corio_task *t = corio_spawn(drain, cr);
    corio_writer_write(cw, in->data + 1, in->size - 1);
    corio_writer_write_eof(cw);
    static const corio_smtp_handler h = {.data = data, .auth = auth};
    corio_smtp_server_opts o = {.hostname = "fuzz", .command_size_limit = 64, .line_length_limit = 128,
                                .data_size_limit = 512, .timeout = 5};
    if (in->data[0] & 1) {
        o.auth_allow_plaintext = 1;
        o.auth_required = 1;
    }
    o.chunking = (in->data[0] & 2) != 0; /* BDAT: its own reading of the input */
    corio_smtp_serve_stream(sr, sw, "fuzz:1", &h, NULL, &o);
    corio_stream_close(sr, sw);
    corio_join(t);
    corio_stream_close(cr, cw);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    run in = {data, size};
    if (corio_run(amain, &in) < 0) abort();
    return 0;
}
