/*
 * tls_internal.h - what the module's files share (not installed).
 */
#ifndef CORIO_TLS_INTERNAL_H
#define CORIO_TLS_INTERNAL_H

#include <corio.h>
#include <corio/tls.h>
#include <corio/transport.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define CORIO__TLS_ERRLEN CORIO_TLS_ERRLEN
#define corio__tls_likely(x) __builtin_expect(!!(x), 1)
#define corio__tls_unlikely(x) __builtin_expect(!!(x), 0)
#define CORIO__TLS_SESSIONS 32 /* servers a client context remembers a session for */

typedef struct sni_entry {
    char *name;   /* as given to corio_tls_ctx_add_sni_cert */
    SSL_CTX *ssl; /* holds that name's certificate and key */
} sni_entry;

typedef struct sess_entry {
    char key[128];     /* server name '|' address */
    SSL_SESSION *s;    /* one reference held; NULL: empty slot */
    uint64_t stamp;    /* when stored: the oldest goes first */
} sess_entry;

struct corio_tls_ctx {
    SSL_CTX *ssl;              /* OpenSSL's context (certificates, verification, versions) */
    atomic_int refs;           /* the owner's reference plus one per connection */
    pthread_mutex_t lock;      /* guards the session table and the lazy CA load */
    int server;                /* 1: server context */
    int verify;                /* client: verify the certificate and host name */
    int ca_loaded;             /* a CA source was loaded (client: the system store is not added) */
    int defaults_loaded;       /* the system store is loaded */
    int ragged_eof_ok;         /* EOF without close_notify reads as end of stream */
    int session_cache;         /* resumption on */
    double handshake_timeout;  /* seconds */
    double shutdown_timeout;   /* seconds */
    unsigned char *alpn;       /* protocols, ALPN wire format (server: in preference order) */
    size_t alpn_len;
    sni_entry *sni;            /* per-name certificates (server) */
    size_t nsni;
    corio_tls_sni_fn sni_fn;   /* the user's SNI choice (server) */
    void *sni_arg;
    sess_entry sess[CORIO__TLS_SESSIONS]; /* client session cache */
    uint64_t sess_clock;
};

#define CORIO__TLS_MAGIC 0x636f72696f544c53ull /* "corioTLS": tells our transport from another's */

struct corio_tls_conn {
    uint64_t magic;          /* CORIO__TLS_MAGIC while alive */
    corio_tls_ctx *ctx;      /* one reference */
    SSL *ssl;                /* its BIO is ours (tls_conn.c): reads from `in`, writes to pw */
    BIO *bio;                /* that BIO (the SSL holds it) */
    unsigned char *in;       /* ciphertext read from the plain reader, not yet taken by OpenSSL (the handshake's; freed after it) */
    size_t in_start, in_end; /* what `in` holds: [in_start, in_end) */
    int wr_err;              /* the plain writer's first failure, seen by our BIO */
    int reading;             /* in tls_read's SSL_read: our BIO may read from pr (and suspend) */
    int below_ended;         /* ... and a read from pr returned below_rc <= 0 there */
    ssize_t below_rc;
    corio_reader *pr;        /* the plain stream below (ours: released with us, unless borrowed) */
    corio_writer *pw;
    int borrow;              /* pr/pw are not ours to free (corio_start_tls's older form) */
    int err;                 /* first fatal error (sticky), 0 while healthy */
    int handshaken;          /* the handshake completed */
    int shut_sent;           /* close_notify sent */
    int shut_received;       /* the peer's close_notify arrived */
    char *sess_key;          /* client: the session cache key */
    char *server_name;       /* client: the SNI name sent */
    char *alpn;              /* the negotiated protocol, NUL-terminated, or NULL */
    unsigned char *scratch;  /* gathers small writelines pieces into one record */
    char errtext[CORIO__TLS_ERRLEN]; /* why err */
};

extern _Thread_local char corio__tls_last[CORIO__TLS_ERRLEN];
void corio__tls_set_last(const char *fmt, const char *detail);

void corio__tls_ctx_ref(corio_tls_ctx *ctx);
int corio__tls_ctx_prepare(corio_tls_ctx *ctx);
void corio__tls_ctx_store_session(corio_tls_ctx *ctx, const char *key, SSL_SESSION *sess);
SSL_SESSION *corio__tls_ctx_find_session(corio_tls_ctx *ctx, const char *key);

#endif
