/*
 * protocol.c - transports and protocols (asyncio's callback API): stream
 * transports over TCP/Unix sockets, a server that accepts from a loop
 * callback, and datagram transports.  No task is involved anywhere.
 *
 * Reading: an add_reader callback reads once per readiness report into a
 * per-thread 64 KiB buffer and hands it to data_received, so an idle
 * connection holds no read buffer at all.  Writing: as the stream writer
 * (stream.c): straight to the kernel when nothing is queued, the rest
 * queued and flushed by an add_writer callback, with water marks.
 *
 * connection_lost is always scheduled with call_soon, never called from
 * inside the function that closed the transport, so a protocol may close
 * its own transport from any callback; and it always comes after
 * connection_made, both being queued in order.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF (64 * 1024)
#define ACCEPT_BATCH 64       /* accepts per readiness report: bounded work per loop turn */
#define ACCEPT_BACKOFF 0.1    /* seconds to stop accepting after EMFILE & co */
#define DGRAM_BATCH 16        /* datagrams per readiness report */

static CORIO__TLS char read_buf[READ_BUF]; /* data_received's data lives here during the call */

struct corio_transport {
    int fd;                    /* -1 once closed */
    bool is_sock;
    bool made;                 /* connection_made has run */
    bool reading;              /* the reader callback is installed */
    bool read_paused;          /* pause_reading */
    bool eof;                  /* EOF seen: no more reading */
    bool closing;              /* close/abort/failure began */
    bool eof_pending, eof_sent;/* write_eof */
    bool watching;             /* the writer callback is installed */
    bool paused_w;             /* pause_writing was called, resume_writing not yet */
    bool lost_scheduled;
    bool leak;                 /* connection_lost runs from lost_h: the record cannot be freed */
    int err;                   /* what connection_lost will report */
    const corio_protocol *p;
    void *arg;
    char *wbuf;                /* write queue: wbuf[wstart..wend) */
    size_t wstart, wend, wcap;
    size_t high, low;
    corio_handle made_h;       /* connection_made */
    corio_handle lost_h;       /* connection_lost, only when no library handle could be had */
    struct corio_proto_server *srv; /* NULL when not accepted by a server (or it closed) */
    corio_list link;           /* in srv->conns */
};

struct corio_proto_server {
    int lfd;
    const corio_protocol *p;
    corio_protocol_factory factory;
    void *factory_arg;
    size_t max_conns, nconns;
    corio_list conns;
    corio_handle resume_h;     /* re-enables accepting after a back-off */
    bool warned;               /* EMFILE logged once per episode */
};

static size_t wlen(const corio_transport *t) { return t->wend - t->wstart; }

/*
 * Schedule the callback that frees the record.  It must not run from a
 * handle inside the record (the loop reads a handle after its callback
 * returns), so it gets a library-owned one; only if that cannot be
 * allocated does it use the embedded one, and the record is then leaked
 * rather than freed under the loop's feet.
 */
static void schedule_lost(corio_handle *embedded, bool *leak, corio_callback cb, void *arg) {
    if (corio_call_soon(NULL, cb, arg) == 0) return;
    *leak = true;
    corio_call_soon(embedded, cb, arg);
}

static void on_lost(void *arg) {
    corio_transport *t = arg;
    if (t->srv) {
        corio__list_remove(&t->link);
        t->srv->nconns--;
    }
    if (t->p->connection_lost) t->p->connection_lost(t, t->err, t->arg);
    corio__free(t->wbuf);
    t->wbuf = NULL;
    if (!t->leak) corio__free(t);
}

/* Close the descriptor and schedule connection_lost (once). */
static void finish(corio_transport *t) {
    t->closing = true;
    if (t->fd >= 0) {
        corio_close(t->fd); /* removes both callbacks */
        t->fd = -1;
        t->reading = t->watching = false;
    }
    corio__free(t->wbuf);
    t->wbuf = NULL;
    t->wstart = t->wend = t->wcap = 0;
    if (!t->lost_scheduled) {
        t->lost_scheduled = true;
        schedule_lost(&t->lost_h, &t->leak, on_lost, t);
    }
}

static void fail(corio_transport *t, int err) {
    if (!t->err) t->err = err;
    finish(t);
}

static int send_some(corio_transport *t, const void *p, size_t n) {
    ssize_t r = t->is_sock ? send(t->fd, p, n, MSG_NOSIGNAL) : write(t->fd, p, n);
    if (r >= 0) return (int)(r > INT32_MAX ? INT32_MAX : r);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    return -errno;
}

static void on_writable(void *arg) {
    corio_transport *t = arg;
    while (wlen(t)) {
        int n = send_some(t, t->wbuf + t->wstart, wlen(t));
        if (n < 0) {
            fail(t, n);
            return;
        }
        if (n == 0) break;
        t->wstart += (size_t)n;
    }
    if (wlen(t)) return;
    t->wstart = t->wend = 0;
    if (t->watching) {
        corio_remove_writer(t->fd);
        t->watching = false;
    }
    if (t->paused_w) {
        t->paused_w = false;
        if (t->p->resume_writing) t->p->resume_writing(t, t->arg);
        if (t->fd < 0) return; /* closed by the callback */
    }
    if (t->eof_pending && !t->eof_sent) {
        t->eof_sent = true;
        shutdown(t->fd, SHUT_WR);
    }
    if (t->closing) finish(t);
}

static void check_low(corio_transport *t) {
    if (t->paused_w && wlen(t) <= t->low) {
        t->paused_w = false;
        if (t->p->resume_writing) t->p->resume_writing(t, t->arg);
    }
}

static void on_readable(void *arg) {
    corio_transport *t = arg;
    ssize_t n = t->is_sock ? recv(t->fd, read_buf, sizeof read_buf, 0) : read(t->fd, read_buf, sizeof read_buf);
    if (n > 0) {
        t->p->data_received(t, read_buf, (size_t)n, t->arg);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        fail(t, -errno);
        return;
    }
    /* End of stream. */
    t->eof = true;
    corio_remove_reader(t->fd);
    t->reading = false;
    int keep = t->p->eof_received ? t->p->eof_received(t, t->arg) : 0;
    if (!keep && t->fd >= 0) corio_transport_close(t);
}

static void start_reading(corio_transport *t) {
    if (t->fd < 0 || t->reading || t->read_paused || t->eof || t->closing) return;
    if (corio_add_reader(t->fd, on_readable, t) == 0) t->reading = true;
    else fail(t, -ENOMEM);
}

static void on_made(void *arg) {
    corio_transport *t = arg;
    t->made = true;
    if (t->p->connection_made) t->p->connection_made(t, t->arg);
    start_reading(t);
}

int corio_transport_open(int fd, const corio_protocol *proto, void *arg, corio_transport **out) {
    if (fd < 0) return corio__bad(-EBADF, "corio_transport_open: negative fd");
    if (!proto || !proto->data_received) return corio__bad(-EINVAL, "corio_transport_open: no data_received");
    if (!corio__cur_loop) return corio__bad(-EPERM, "corio_transport_open: no loop runs on this thread");
    corio_transport *t = corio__calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    int type = 0;
    socklen_t tl = sizeof type;
    t->fd = fd;
    t->is_sock = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
    t->p = proto;
    t->arg = arg;
    t->high = CORIO_STREAM_HIGH_WATER;
    t->low = CORIO_STREAM_LOW_WATER;
    corio__list_init(&t->link);
    if (corio_call_soon(&t->made_h, on_made, t) < 0) {
        corio__free(t);
        return -ENOMEM;
    }
    if (out) *out = t;
    return 0;
}

int corio_create_connection(const char *host, int port, const corio_protocol *proto, void *arg,
                            corio_transport **out) {
    if (!proto || !proto->data_received) return corio__bad(-EINVAL, "corio_create_connection: no data_received");
    int fd = corio_tcp_connect(host, port);
    if (fd < 0) return fd;
    int rc = corio_transport_open(fd, proto, arg, out);
    if (rc < 0) corio_close(fd);
    return rc;
}

int corio_transport_write(corio_transport *t, const void *data, size_t len) {
    if (!t || (!data && len)) return corio__bad(-EINVAL, "corio_transport_write: NULL");
    if (t->err) return t->err;
    if (t->closing || t->eof_pending) return corio__bad(-ESHUTDOWN, "corio_transport_write: the transport is closed");
    size_t done = 0;
    if (!wlen(t)) {
        while (done < len) {
            int n = send_some(t, (const char *)data + done, len - done);
            if (n < 0) {
                fail(t, n);
                return n;
            }
            if (n == 0) break;
            done += (size_t)n;
        }
        if (done == len) return 0;
    }
    size_t need = len - done;
    if (t->wcap - t->wend < need) {
        if (t->wstart) {
            memmove(t->wbuf, t->wbuf + t->wstart, wlen(t));
            t->wend -= t->wstart;
            t->wstart = 0;
        }
        if (t->wcap - t->wend < need) {
            size_t cap = t->wcap ? t->wcap : 4096;
            while (cap - t->wend < need) cap *= 2;
            char *p = corio__realloc(t->wbuf, cap);
            if (!p) return -ENOMEM;
            t->wbuf = p;
            t->wcap = cap;
        }
    }
    memcpy(t->wbuf + t->wend, (const char *)data + done, need);
    t->wend += need;
    if (!t->watching) {
        int rc = corio_add_writer(t->fd, on_writable, t);
        if (rc < 0) return rc;
        t->watching = true;
    }
    if (!t->paused_w && wlen(t) > t->high) {
        t->paused_w = true;
        if (t->p->pause_writing) t->p->pause_writing(t, t->arg);
    }
    return 0;
}

int corio_transport_write_eof(corio_transport *t) {
    if (!t) return -EINVAL;
    if (t->err) return t->err;
    if (t->closing) return -ESHUTDOWN;
    if (!t->is_sock) return -EOPNOTSUPP;
    if (t->eof_pending) return 0;
    t->eof_pending = true;
    if (!wlen(t)) {
        t->eof_sent = true;
        if (shutdown(t->fd, SHUT_WR) < 0) return -errno;
    }
    return 0;
}

void corio_transport_close(corio_transport *t) {
    if (!t || t->closing) return;
    t->closing = true;
    if (t->reading) {
        corio_remove_reader(t->fd);
        t->reading = false;
    }
    if (!wlen(t) || !t->watching) finish(t);
}

void corio_transport_abort(corio_transport *t) {
    if (t && t->fd >= 0) finish(t);
}

int corio_transport_is_closing(const corio_transport *t) { return t && t->closing; }

void corio_transport_pause_reading(corio_transport *t) {
    if (!t || t->read_paused) return;
    t->read_paused = true;
    if (t->reading) {
        corio_remove_reader(t->fd);
        t->reading = false;
    }
}

void corio_transport_resume_reading(corio_transport *t) {
    if (!t || !t->read_paused) return;
    t->read_paused = false;
    if (t->made) start_reading(t);
}

size_t corio_transport_get_write_buffer_size(const corio_transport *t) { return t ? wlen(t) : 0; }

int corio_transport_set_write_buffer_limits(corio_transport *t, size_t high, size_t low) {
    if (!t) return -EINVAL;
    if (!high) high = CORIO_STREAM_HIGH_WATER;
    if (!low) low = high / 4;
    if (low > high) return -EINVAL;
    t->high = high;
    t->low = low;
    if (!t->paused_w && wlen(t) > t->high) {
        t->paused_w = true;
        if (t->p->pause_writing) t->p->pause_writing(t, t->arg);
    } else {
        check_low(t);
    }
    return 0;
}

int corio_transport_peername(const corio_transport *t, char *buf, size_t cap) {
    if (!t) return -EINVAL;
    return t->fd < 0 ? -EBADF : corio_peername(t->fd, buf, cap);
}

int corio_transport_sockname(const corio_transport *t, char *buf, size_t cap) {
    if (!t) return -EINVAL;
    return t->fd < 0 ? -EBADF : corio_sockname(t->fd, buf, cap);
}

int corio_transport_fd(const corio_transport *t) { return t ? t->fd : -1; }

/* ---- server ---------------------------------------------------------------------- */

static void on_accept(void *arg);

static void resume_accept(void *arg) {
    corio_proto_server *s = arg;
    if (s->lfd >= 0) corio_add_reader(s->lfd, on_accept, s);
}

static void on_accept(void *arg) {
    corio_proto_server *s = arg;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) return;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                /* Out of descriptors: the client waits in the backlog.  Stop
                 * listening for a while rather than spin on a listener that
                 * stays readable. */
                if (!s->warned) {
                    s->warned = true;
                    corio__log(CORIO_LOG_WARNING, "server: accept failed: %s; retrying every %.0f ms",
                               strerror(e), ACCEPT_BACKOFF * 1000);
                }
                corio_remove_reader(s->lfd);
                corio_call_later(&s->resume_h, ACCEPT_BACKOFF, resume_accept, s);
                return;
            }
            continue; /* ECONNABORTED, EPROTO, EPERM: that client only */
        }
        s->warned = false;
        if (s->max_conns && s->nconns >= s->max_conns) {
            close(fd); /* a clear refusal; the others go on */
            continue;
        }
        corio_set_nodelay(fd, 1);
        void *carg = s->factory ? s->factory(s->factory_arg) : s->factory_arg;
        corio_transport *t;
        if (corio_transport_open(fd, s->p, carg, &t) < 0) {
            corio__log(CORIO_LOG_WARNING, "server: out of memory for a new connection; closed it");
            close(fd);
            continue;
        }
        t->srv = s;
        corio__list_push_back(&s->conns, &t->link);
        s->nconns++;
        if (s->lfd < 0) return; /* closed from a callback? (none runs here, but be safe) */
    }
}

int corio_create_server(const char *host, int port, const corio_protocol *proto, corio_protocol_factory factory,
                        void *factory_arg, const corio_proto_server_opts *opts, corio_proto_server **out) {
    if (!proto || !proto->data_received || !out) return corio__bad(-EINVAL, "corio_create_server: bad arguments");
    if (!corio__cur_loop) return corio__bad(-EPERM, "corio_create_server: no loop runs on this thread");
    corio_proto_server *s = corio__calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    int fd = corio_tcp_listen_opts(host, port, opts ? &opts->listen : NULL);
    if (fd < 0) {
        corio__free(s);
        return fd;
    }
    s->lfd = fd;
    s->p = proto;
    s->factory = factory;
    s->factory_arg = factory_arg;
    s->max_conns = opts ? opts->max_connections : 0;
    corio__list_init(&s->conns);
    int rc = corio_add_reader(fd, on_accept, s);
    if (rc < 0) {
        corio_close(fd);
        corio__free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int corio_proto_server_port(const corio_proto_server *s) {
    if (!s) return -EINVAL;
    return s->lfd < 0 ? -EBADF : corio_local_port(s->lfd);
}

size_t corio_proto_server_connections(const corio_proto_server *s) { return s ? s->nconns : 0; }

void corio_proto_server_close(corio_proto_server *s, int abort_connections) {
    if (!s) return;
    corio_handle_cancel(&s->resume_h);
    if (s->lfd >= 0) corio_close(s->lfd);
    s->lfd = -1;
    /* The transports outlive the server: unlink them. */
    while (!corio__list_empty(&s->conns)) {
        corio_transport *t = corio__container_of(s->conns.next, corio_transport, link);
        corio__list_remove(&t->link);
        t->srv = NULL;
        if (abort_connections) corio_transport_abort(t);
    }
    corio__free(s);
}

/* ---- datagrams ------------------------------------------------------------------------ */

struct corio_dgram_transport {
    int fd;
    bool closing, made;
    bool leak; /* as corio_transport.leak */
    const corio_dgram_protocol *p;
    void *arg;
    corio_handle made_h, lost_h;
};

static void dg_readable(void *arg) {
    corio_dgram_transport *t = arg;
    for (int i = 0; i < DGRAM_BATCH && t->fd >= 0; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(t->fd, read_buf, sizeof read_buf, 0, (struct sockaddr *)&from, &fl);
        if (n >= 0) {
            t->p->datagram_received(t, read_buf, (size_t)n, (struct sockaddr *)&from, fl, t->arg);
            continue;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (e != EINTR && t->p->error_received) t->p->error_received(t, -e, t->arg);
        return;
    }
}

static void dg_made(void *arg) {
    corio_dgram_transport *t = arg;
    t->made = true;
    if (t->p->connection_made) t->p->connection_made(t, t->arg);
    if (t->fd >= 0 && !t->closing && corio_add_reader(t->fd, dg_readable, t) < 0 && t->p->error_received)
        t->p->error_received(t, -ENOMEM, t->arg);
}

static void dg_lost(void *arg) {
    corio_dgram_transport *t = arg;
    if (t->p->connection_lost) t->p->connection_lost(t, 0, t->arg);
    if (!t->leak) corio__free(t);
}

int corio_dgram_open(int fd, const corio_dgram_protocol *proto, void *arg, corio_dgram_transport **out) {
    if (fd < 0) return corio__bad(-EBADF, "corio_dgram_open: negative fd");
    if (!proto || !proto->datagram_received) return corio__bad(-EINVAL, "corio_dgram_open: no datagram_received");
    if (!corio__cur_loop) return corio__bad(-EPERM, "corio_dgram_open: no loop runs on this thread");
    corio_dgram_transport *t = corio__calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    t->fd = fd;
    t->p = proto;
    t->arg = arg;
    if (corio_call_soon(&t->made_h, dg_made, t) < 0) {
        corio__free(t);
        return -ENOMEM;
    }
    if (out) *out = t;
    return 0;
}

int corio_dgram_sendto(corio_dgram_transport *t, const void *data, size_t len, const struct sockaddr *addr,
                       socklen_t addrlen) {
    if (!t || (!data && len)) return -EINVAL;
    if (t->closing) return -ESHUTDOWN;
    ssize_t n = sendto(t->fd, data, len, MSG_NOSIGNAL, addr, addr ? addrlen : 0);
    return n < 0 ? -errno : 0;
}

void corio_dgram_close(corio_dgram_transport *t) {
    if (!t || t->closing) return;
    t->closing = true;
    corio_close(t->fd);
    t->fd = -1;
    schedule_lost(&t->lost_h, &t->leak, dg_lost, t); /* after made: both are queued in order */
}

int corio_dgram_fd(const corio_dgram_transport *t) { return t ? t->fd : -1; }

void corio__proto_ring_free(corio_loop *loop) { loop->ring_bufs = NULL; }
