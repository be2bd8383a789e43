/*
 * tls_ctx.c - corio_tls_ctx: an OpenSSL SSL_CTX plus what the module adds
 * around it (ALPN list, SNI certificates, the client's session cache,
 * timeouts, the ragged-EOF policy), shared by reference between the
 * contexts' owner and the connections opened with it.
 */
#include "tls_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

_Thread_local char corio__tls_last[CORIO__TLS_ERRLEN];

void corio__tls_set_last(const char *fmt, const char *detail) {
    snprintf(corio__tls_last, sizeof corio__tls_last, fmt, detail ? detail : "");
}

/* Record `what` (and the file it is about, when there is one) with
 * OpenSSL's reason for its latest error as this thread's last error;
 * CORIO_ETLS.  A file OpenSSL could not open is reported by the system's
 * reason ("No such file or directory"), which OpenSSL itself calls only
 * "system lib". */
static int ssl_fail_file(const char *what, const char *file) {
    unsigned long e = ERR_peek_last_error(), x;
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    /* The system's error sits earlier in the queue (fopen's errno, then
     * the library's "system lib" on top of it). */
    while ((x = ERR_get_error()))
        if (ERR_GET_LIB(x) == ERR_LIB_SYS && ERR_GET_REASON(x) > 0) why = strerror(ERR_GET_REASON(x));
    char buf[CORIO__TLS_ERRLEN];
    snprintf(buf, sizeof buf, "%s%s%s: %s", what, file ? " " : "", file ? file : "", why ? why : "unknown OpenSSL error");
    corio__tls_set_last("%s", buf);
    ERR_clear_error();
    return CORIO_ETLS;
}
static int ssl_fail(const char *what) { return ssl_fail_file(what, NULL); }

const char *corio_tls_strerror(int err) {
    switch (err) {
    case CORIO_ETLS: return "TLS protocol error";
    case CORIO_ETLS_VERIFY: return "TLS certificate verification failed";
    case CORIO_ETLS_EOF: return "TLS connection closed without close_notify";
    default: return corio_strerror(err);
    }
}

/* Settings every context of ours gets, client or server, including the
 * per-name server contexts of corio_tls_ctx_add_sni_cert. */
static SSL_CTX *new_ssl_ctx(int server) {
    SSL_CTX *s = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!s) return NULL;
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    /* Renegotiation would let a record read require a write and vice versa
     * in the middle of application data; TLS 1.3 has none, and asyncio's
     * users never needed it. */
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* No partial writes: our BIO takes every record, so one SSL_write
     * encrypts the whole piece (a record at a time) and returns. */
    if (server) SSL_CTX_set_session_id_context(s, (const unsigned char *)"corio", 5);
    return s;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
    (void)ssl;
    corio_tls_ctx *ctx = arg;
    if (!ctx->alpn_len) return SSL_TLSEXT_ERR_NOACK;
    unsigned char *o = NULL;
    if (SSL_select_next_proto(&o, outlen, ctx->alpn, (unsigned)ctx->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* nothing in common: go on without ALPN, as Python's ssl */
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

/* "*.example.org" matches one label: "a.example.org", not "example.org" nor "a.b.example.org". */
static int name_matches(const char *pattern, const char *name) {
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        return dot && dot != name && strcasecmp(dot, pattern + 1) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

static int servername_cb(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    corio_tls_ctx *ctx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (ctx->sni_fn) {
        corio_tls_ctx *other = ctx->sni_fn(name, ctx->sni_arg);
        if (other && other->server) {
            SSL_set_SSL_CTX(ssl, other->ssl);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    if (name)
        for (size_t i = 0; i < ctx->nsni; i++)
            if (name_matches(ctx->sni[i].name, name)) {
                SSL_set_SSL_CTX(ssl, ctx->sni[i].ssl);
                break;
            }
    return SSL_TLSEXT_ERR_OK;
}

/* A client received a session (with TLS 1.3, after the handshake, in a
 * NewSessionTicket): keep the latest per server.  Returning 1 keeps
 * OpenSSL's reference. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
    corio_tls_conn *c = SSL_get_app_data(ssl);
    if (!c || !c->sess_key || !c->ctx->session_cache || !SSL_SESSION_is_resumable(sess)) return 0;
    corio__tls_ctx_store_session(c->ctx, c->sess_key, sess);
    return 1;
}

static corio_tls_ctx *ctx_new(int server) {
    corio_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        errno = ENOMEM;
        return NULL;
    }
    ctx->ssl = new_ssl_ctx(server);
    if (!ctx->ssl) {
        ssl_fail("cannot create an SSL_CTX");
        free(ctx);
        errno = EPROTO;
        return NULL;
    }
    atomic_init(&ctx->refs, 1);
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->server = server;
    ctx->verify = !server;
    ctx->session_cache = 1;
    ctx->handshake_timeout = CORIO_TLS_HANDSHAKE_TIMEOUT;
    ctx->shutdown_timeout = CORIO_TLS_SHUTDOWN_TIMEOUT;
    if (server) {
        SSL_CTX_set_alpn_select_cb(ctx->ssl, alpn_select, ctx);
        SSL_CTX_set_tlsext_servername_callback(ctx->ssl, servername_cb);
        SSL_CTX_set_tlsext_servername_arg(ctx->ssl, ctx);
    } else {
        SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER, NULL);
        /* Our own cache, keyed by server name and address (OpenSSL's
         * internal store is for servers). */
        SSL_CTX_set_session_cache_mode(ctx->ssl, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx->ssl, new_session_cb);
    }
    return ctx;
}

corio_tls_ctx *corio_tls_ctx_new_client(void) { return ctx_new(0); }
corio_tls_ctx *corio_tls_ctx_new_server(void) { return ctx_new(1); }

void corio__tls_ctx_ref(corio_tls_ctx *ctx) { atomic_fetch_add(&ctx->refs, 1); }

void corio_tls_ctx_free(corio_tls_ctx *ctx) {
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1) return;
    for (size_t i = 0; i < ctx->nsni; i++) {
        free(ctx->sni[i].name);
        SSL_CTX_free(ctx->sni[i].ssl);
    }
    free(ctx->sni);
    for (size_t i = 0; i < CORIO__TLS_SESSIONS; i++)
        if (ctx->sess[i].s) SSL_SESSION_free(ctx->sess[i].s);
    free(ctx->alpn);
    pthread_mutex_destroy(&ctx->lock);
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

int corio_tls_ctx_is_server(const corio_tls_ctx *ctx) { return ctx && ctx->server; }

int corio_tls_ctx_load_verify_locations(corio_tls_ctx *ctx, const char *cafile, const char *capath) {
    if (!ctx || (!cafile && !capath)) return -EINVAL;
    if (SSL_CTX_load_verify_locations(ctx->ssl, cafile, capath) != 1)
        return ssl_fail_file(cafile ? "cannot load the CA file" : "cannot load the CA directory", cafile ? cafile : capath);
    pthread_mutex_lock(&ctx->lock);
    ctx->ca_loaded = 1;
    pthread_mutex_unlock(&ctx->lock);
    if (ctx->server && cafile) /* the names of the CAs we accept, sent with the certificate request */
        SSL_CTX_set_client_CA_list(ctx->ssl, SSL_load_client_CA_file(cafile));
    ERR_clear_error();
    return 0;
}

int corio_tls_ctx_load_default_verify(corio_tls_ctx *ctx) {
    if (!ctx) return -EINVAL;
    pthread_mutex_lock(&ctx->lock);
    int ok = ctx->defaults_loaded || SSL_CTX_set_default_verify_paths(ctx->ssl) == 1;
    if (ok) ctx->defaults_loaded = ctx->ca_loaded = 1;
    pthread_mutex_unlock(&ctx->lock);
    return ok ? 0 : ssl_fail("cannot load the system CA store");
}

int corio__tls_ctx_prepare(corio_tls_ctx *ctx) {
    /* A client that was given no CA trusts the system store: loaded at the
     * first connection, so that a later load_verify_locations replaces it. */
    if (ctx->server || !ctx->verify) return 0;
    pthread_mutex_lock(&ctx->lock);
    int need = !ctx->ca_loaded;
    pthread_mutex_unlock(&ctx->lock);
    return need ? corio_tls_ctx_load_default_verify(ctx) : 0;
}

static int load_pair(SSL_CTX *s, const char *certfile, const char *keyfile) {
    if (SSL_CTX_use_certificate_chain_file(s, certfile) != 1)
        return ssl_fail_file("cannot load the certificate chain", certfile);
    if (SSL_CTX_use_PrivateKey_file(s, keyfile ? keyfile : certfile, SSL_FILETYPE_PEM) != 1)
        return ssl_fail_file("cannot load the private key", keyfile ? keyfile : certfile);
    if (SSL_CTX_check_private_key(s) != 1) return ssl_fail("the private key does not match the certificate");
    return 0;
}

int corio_tls_ctx_load_cert_chain(corio_tls_ctx *ctx, const char *certfile, const char *keyfile) {
    if (!ctx || !certfile) return -EINVAL;
    return load_pair(ctx->ssl, certfile, keyfile);
}

int corio_tls_ctx_disable_verification(corio_tls_ctx *ctx) {
    if (!ctx) return -EINVAL;
    ctx->verify = 0;
    SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_NONE, NULL);
    return 0;
}

int corio_tls_ctx_request_client_cert(corio_tls_ctx *ctx, int required) {
    if (!ctx || !ctx->server) return -EINVAL;
    SSL_CTX_set_verify(ctx->ssl, SSL_VERIFY_PEER | (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    return 0;
}

static int version_ok(int v) { return v == 0 || v == CORIO_TLS_V1_2 || v == CORIO_TLS_V1_3; }

int corio_tls_ctx_set_versions(corio_tls_ctx *ctx, int min_version, int max_version) {
    if (!ctx || !version_ok(min_version) || !version_ok(max_version) ||
        (min_version && max_version && min_version > max_version))
        return -EINVAL;
    SSL_CTX_set_min_proto_version(ctx->ssl, min_version ? min_version : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx->ssl, max_version);
    return 0;
}

int corio_tls_ctx_set_ciphers(corio_tls_ctx *ctx, const char *tls12, const char *tls13) {
    if (!ctx) return -EINVAL;
    if (tls12 && SSL_CTX_set_cipher_list(ctx->ssl, tls12) != 1) return ssl_fail("no usable TLS 1.2 cipher");
    if (tls13 && SSL_CTX_set_ciphersuites(ctx->ssl, tls13) != 1) return ssl_fail("no usable TLS 1.3 suite");
    return 0;
}

int corio_tls_ctx_set_alpn(corio_tls_ctx *ctx, const char *const *protos, size_t n) {
    if (!ctx || (n && !protos)) return -EINVAL;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = protos[i] ? strlen(protos[i]) : 0;
        if (l == 0 || l > 255) return -EINVAL;
        len += 1 + l;
    }
    unsigned char *wire = NULL;
    if (n) {
        if (!(wire = malloc(len))) return -ENOMEM;
        unsigned char *p = wire;
        for (size_t i = 0; i < n; i++) { /* the wire format: a length byte before each name */
            size_t l = strlen(protos[i]);
            *p++ = (unsigned char)l;
            memcpy(p, protos[i], l);
            p += l;
        }
    }
    if (!ctx->server && SSL_CTX_set_alpn_protos(ctx->ssl, wire, (unsigned)len) != 0) {
        free(wire);
        return -ENOMEM;
    }
    free(ctx->alpn);
    ctx->alpn = wire;
    ctx->alpn_len = len;
    return 0;
}

int corio_tls_ctx_add_sni_cert(corio_tls_ctx *ctx, const char *name, const char *certfile, const char *keyfile) {
    if (!ctx || !ctx->server || !name || !*name || !certfile) return -EINVAL;
    SSL_CTX *s = new_ssl_ctx(1);
    if (!s) return ssl_fail("cannot create an SSL_CTX");
    int rc = load_pair(s, certfile, keyfile);
    /* After the switch OpenSSL takes the ALPN choice from this context. */
    SSL_CTX_set_alpn_select_cb(s, alpn_select, ctx);
    sni_entry *grown = rc == 0 ? realloc(ctx->sni, (ctx->nsni + 1) * sizeof *grown) : NULL;
    char *copy = grown ? strdup(name) : NULL;
    if (!copy) {
        if (grown) ctx->sni = grown;
        SSL_CTX_free(s);
        return rc < 0 ? rc : -ENOMEM;
    }
    ctx->sni = grown;
    ctx->sni[ctx->nsni].name = copy;
    ctx->sni[ctx->nsni].ssl = s;
    ctx->nsni++;
    return 0;
}

int corio_tls_ctx_set_sni_callback(corio_tls_ctx *ctx, corio_tls_sni_fn fn, void *arg) {
    if (!ctx || !ctx->server) return -EINVAL;
    ctx->sni_fn = fn;
    ctx->sni_arg = arg;
    return 0;
}

int corio_tls_ctx_set_session_cache(corio_tls_ctx *ctx, int on) {
    if (!ctx) return -EINVAL;
    ctx->session_cache = !!on;
    if (ctx->server) {
        SSL_CTX_set_session_cache_mode(ctx->ssl, on ? SSL_SESS_CACHE_SERVER : SSL_SESS_CACHE_OFF);
        if (on) {
            SSL_CTX_clear_options(ctx->ssl, SSL_OP_NO_TICKET);
            SSL_CTX_set_num_tickets(ctx->ssl, 2);
        } else {
            SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_TICKET);
            SSL_CTX_set_num_tickets(ctx->ssl, 0);
        }
    } else if (!on) {
        pthread_mutex_lock(&ctx->lock);
        for (size_t i = 0; i < CORIO__TLS_SESSIONS; i++)
            if (ctx->sess[i].s) {
                SSL_SESSION_free(ctx->sess[i].s);
                ctx->sess[i].s = NULL;
            }
        pthread_mutex_unlock(&ctx->lock);
    }
    return 0;
}

int corio_tls_ctx_set_ragged_eof_ok(corio_tls_ctx *ctx, int ok) {
    if (!ctx) return -EINVAL;
    ctx->ragged_eof_ok = !!ok;
    return 0;
}

int corio_tls_ctx_set_timeouts(corio_tls_ctx *ctx, double handshake, double shutdown) {
    if (!ctx || isnan(handshake) || isnan(shutdown) || handshake < 0 || shutdown < 0) return -EINVAL;
    ctx->handshake_timeout = handshake;
    ctx->shutdown_timeout = shutdown;
    return 0;
}

/* ---- the client's session cache --------------------------------------------- */

/* A small table with least-recently-stored replacement: a client talks to
 * few servers, and a miss costs only a full handshake. */
void corio__tls_ctx_store_session(corio_tls_ctx *ctx, const char *key, SSL_SESSION *sess) {
    pthread_mutex_lock(&ctx->lock);
    /* The same server's entry, else an empty one, else the oldest. */
    size_t slot = CORIO__TLS_SESSIONS, empty = CORIO__TLS_SESSIONS, oldest = 0;
    for (size_t i = 0; i < CORIO__TLS_SESSIONS && slot == CORIO__TLS_SESSIONS; i++) {
        if (!ctx->sess[i].s) {
            if (empty == CORIO__TLS_SESSIONS) empty = i;
        } else if (strcmp(ctx->sess[i].key, key) == 0) {
            slot = i;
        } else if (ctx->sess[i].stamp < ctx->sess[oldest].stamp || !ctx->sess[oldest].s) {
            oldest = i;
        }
    }
    if (slot == CORIO__TLS_SESSIONS) slot = empty != CORIO__TLS_SESSIONS ? empty : oldest;
    if (ctx->sess[slot].s) SSL_SESSION_free(ctx->sess[slot].s);
    ctx->sess[slot].s = sess;
    snprintf(ctx->sess[slot].key, sizeof ctx->sess[slot].key, "%s", key);
    ctx->sess[slot].stamp = ++ctx->sess_clock;
    pthread_mutex_unlock(&ctx->lock);
}

SSL_SESSION *corio__tls_ctx_find_session(corio_tls_ctx *ctx, const char *key) {
    SSL_SESSION *s = NULL;
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < CORIO__TLS_SESSIONS; i++)
        if (ctx->sess[i].s && strcmp(ctx->sess[i].key, key) == 0) {
            s = ctx->sess[i].s;
            SSL_SESSION_up_ref(s);
            break;
        }
    pthread_mutex_unlock(&ctx->lock);
    return s;
}
