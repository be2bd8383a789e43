/*
 * fuzz_tls - arbitrary bytes as the peer's side of a TLS connection.
 *
 * The first byte picks the part: 0 - we are a server and the input is
 * the client's handshake; 1 - we are a client (verification off) and it
 * is the server's; 2 - a real handshake between two corio endpoints over
 * a socketpair, then the input arrives as the server's records (the
 * session: record layer, alerts, close_notify, truncation).  Each input
 * must end in a clean error or end of stream: no crash, no leak, no
 * hang, and the loop must close clean.
 */
#include <corio.h>
#include <corio/tls.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static corio_tls_ctx *server_ctx, *client_ctx;

/* A self-signed certificate for the server, made once. */
static void make_cert(const char *crt, const char *key) {
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, pk, EVP_sha256());
    FILE *f = fopen(crt, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key, "w");
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    /* One loop per input: on epoll that is one descriptor, on io_uring a
     * ring set up and torn down each time, for bytes that are the same on
     * both (test_tls runs both backends).  CORIO_BACKEND set by the caller
     * wins. */
    setenv("CORIO_BACKEND", "epoll", 0);
    char dir[] = "/tmp/fuzz-tls-XXXXXX", crt[64], key[64];
    if (!mkdtemp(dir)) abort();
    snprintf(crt, sizeof crt, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    make_cert(crt, key);
    server_ctx = corio_tls_ctx_new_server();
    if (corio_tls_ctx_load_cert_chain(server_ctx, crt, key) < 0) abort();
    client_ctx = corio_tls_ctx_new_client();
    corio_tls_ctx_disable_verification(client_ctx);
    corio_tls_ctx_set_session_cache(client_ctx, 0);
    corio_tls_ctx_set_timeouts(server_ctx, 2, 1);
    corio_tls_ctx_set_timeouts(client_ctx, 2, 1);
    unlink(crt);
    unlink(key);
    rmdir(dir);
    return 0;
}

typedef struct input {
    const uint8_t *data;
    size_t len;
} input;

static void drain_reader(corio_reader *r) {
    char buf[4096];
    while (corio_reader_read(r, buf, sizeof buf) > 0) {
    }
}

/* Parts 0 and 1: the input is all the peer ever sends. */
static int handshake_part(void *arg) {
    const input *in = arg;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
    if (in->len > 1 && write(sv[1], in->data + 1, in->len - 1) < 0) abort();
    shutdown(sv[1], SHUT_WR);
    corio_reader *r, *tr;
    corio_writer *w, *tw;
    if (corio_stream_open(sv[0], NULL, &r, &w) < 0) abort();
    int rc = corio_start_tls(r, w, in->data[0] % 3 == 0 ? server_ctx : client_ctx, "fuzz", NULL, &tr, &tw);
    if (rc == 0) {
        drain_reader(tr);
        corio_stream_close(tr, tw);
    } else {
        corio_stream_close(r, w);
    }
    close(sv[1]);
    return 0;
}

typedef struct server_part {
    const input *in;
    corio_reader *r;
    corio_writer *w;
} server_part;

/* The server: a real handshake, then the input instead of its records
 * (written on the plain stream under its TLS one). */
static int server_side(void *arg) {
    server_part *s = arg;
    if (corio_start_tls(s->r, s->w, server_ctx, NULL, NULL, NULL, NULL) < 0) return -1;
    /* s->r / s->w speak TLS now: the input goes straight to the socket
     * under them, after the server's last flight has left. */
    int fd = corio_writer_fd(s->w);
    corio_sleep(0);
    corio_sleep(0);
    if (fd >= 0 && s->in->len > 1 && write(fd, s->in->data + 1, s->in->len - 1) < 0) return 0;
    if (fd >= 0) shutdown(fd, SHUT_WR);
    return 0;
}

/* Part 2: a session between two corio endpoints, the server's side fuzzed. */
static int session_part(void *arg) {
    const input *in = arg;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
    corio_reader *cr, *tr;
    corio_writer *cw, *tw;
    server_part s = {in, NULL, NULL};
    if (corio_stream_open(sv[0], NULL, &s.r, &s.w) < 0 || corio_stream_open(sv[1], NULL, &cr, &cw) < 0) abort();
    corio_task *t = corio_spawn(server_side, &s);
    int rc = corio_start_tls(cr, cw, client_ctx, "fuzz", NULL, &tr, &tw);
    if (rc == 0) {
        drain_reader(tr);
        corio_stream_close(tr, tw);
    } else {
        corio_stream_close(cr, cw);
    }
    corio_await(corio_task_future(t), NULL);
    corio_task_detach(t);
    corio_stream_close(s.r, s.w);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    input in = {data, size};
    corio_loop *loop = corio_loop_new();
    corio_task *t = corio_loop_spawn(loop, data[0] % 3 == 2 ? session_part : handshake_part, &in, NULL);
    corio_loop_run_until_complete(loop, corio_task_future(t));
    corio_task_detach(t);
    if (corio_loop_close(loop) != 0) abort();
    return 0;
}
