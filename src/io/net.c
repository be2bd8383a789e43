/*
 * net.c - sockets: TCP connect/listen, Unix, UDP, socketpair, options and
 * address formatting.  Resolution is dns.c's corio_resolve.
 *
 * Every socket is made SOCK_NONBLOCK | SOCK_CLOEXEC from the start, and
 * every failure path closes what it opened, so an error never leaks a
 * descriptor.  Sockets that may already be known to the loop are closed
 * with corio_close.
 */
#include "io.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ADDRS 16 /* addresses tried per connect; more is never useful */

static int new_socket(int family, int type) {
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int corio_setsockopt_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : -errno;
}
int corio_set_nodelay(int fd, int on) { return corio_setsockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, on != 0); }
int corio_set_keepalive(int fd, int on) { return corio_setsockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, on != 0); }
int corio_set_reuseaddr(int fd, int on) { return corio_setsockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, on != 0); }
int corio_set_reuseport(int fd, int on) { return corio_setsockopt_int(fd, SOL_SOCKET, SO_REUSEPORT, on != 0); }

/* ---- TCP --------------------------------------------------------------------- */

/* Connect one address; returns the fd or -errno (the socket is closed then). */
static int connect_one(const corio_sockaddr *a, const corio_connect_opts *o, const corio_sockaddr *local) {
    int fd = new_socket(a->u.sa.sa_family, SOCK_STREAM);
    if (fd < 0) return fd;
    int rc = 0;
    if (local && (rc = bind(fd, &local->u.sa, local->len) < 0 ? -errno : 0) < 0) goto fail;
    if (!o->no_nodelay) corio_set_nodelay(fd, 1);
    if (o->keepalive) corio_set_keepalive(fd, 1);
    if ((rc = corio_connect(fd, &a->u.sa, a->len)) < 0) goto fail;
    return fd;
fail:
    corio_close(fd);
    return rc;
}

static bool is_local_error(int e) {
    return e == -EADDRNOTAVAIL || e == -EAFNOSUPPORT || e == -ENETUNREACH || e == -EPROTONOSUPPORT ||
           e == -EINVAL || e <= CORIO_EAI_NONAME;
}

/* ---- happy eyeballs (RFC 8305) --------------------------------------------------- */

typedef struct he_state {
    const corio_sockaddr *addrs;
    const corio_connect_opts *o;
    int winner;       /* the connected fd, or -1 */
    int err;          /* the error to report if none connects */
    int running;      /* attempts not finished */
    corio_event ev;   /* set whenever an attempt finishes */
} he_state;

typedef struct he_attempt {
    he_state *st;
    int i;
} he_attempt;

static int he_run(void *arg) {
    he_attempt *a = arg;
    he_state *st = a->st;
    int rc = connect_one(&st->addrs[a->i], st->o, NULL);
    if (rc >= 0) {
        if (st->winner < 0) st->winner = rc;
        else corio_close(rc); /* a later success than the winner */
    } else if (rc != -ECANCELED && (!st->err || (is_local_error(st->err) && !is_local_error(rc)))) {
        st->err = rc;
    }
    st->running--;
    corio_event_set(&st->ev);
    return 0;
}

/* Interleave families: the first address's family, then the other, in turn (asyncio interleave=1). */
static int interleave(corio_sockaddr *addrs, int n) {
    corio_sockaddr tmp[MAX_ADDRS];
    int first = addrs[0].u.sa.sa_family, k = 0;
    bool used[MAX_ADDRS] = {false};
    while (k < n) {
        for (int pass = 0; pass < 2 && k < n; pass++) {
            for (int i = 0; i < n; i++) {
                bool same = addrs[i].u.sa.sa_family == first;
                if (!used[i] && same == (pass == 0)) {
                    tmp[k++] = addrs[i];
                    used[i] = true;
                    break;
                }
            }
        }
    }
    memcpy(addrs, tmp, (size_t)n * sizeof *addrs);
    return n;
}

static int happy_eyeballs(corio_sockaddr *addrs, int n, const corio_connect_opts *o) {
    interleave(addrs, n);
    he_state st = {.addrs = addrs, .o = o, .winner = -1};
    he_attempt at[MAX_ADDRS];
    corio_task *t[MAX_ADDRS] = {NULL};
    corio_event_init(&st.ev);
    int rc = 0, started = 0;
    while (st.winner < 0 && rc == 0 && (started < n || st.running > 0)) {
        if (started < n) {
            at[started] = (he_attempt){&st, started};
            static const corio_task_opts lazy = {.eager = -1}; /* internal attempts: never eager */
            if (!(t[started] = corio_spawn_opts(he_run, &at[started], &lazy))) {
                rc = -ENOMEM;
                break;
            }
            started++;
            st.running++;
        }
        /* Wait for an attempt to finish, or the delay to start the next. */
        corio_event_clear(&st.ev);
        corio_timeout to;
        bool more = started < n;
        corio_timeout_enter(&to, more ? o->happy_eyeballs_delay : INFINITY);
        int w = corio_event_wait(&st.ev);
        w = corio_timeout_exit(&to, w);
        if (w == -ETIMEDOUT) continue;
        if (w < 0) rc = w; /* our caller was cancelled */
    }
    for (int i = 0; i < started; i++) corio_cancel(t[i]);
    for (int i = 0; i < started; i++) corio_join(t[i]);
    corio_event_destroy(&st.ev);
    if (rc < 0) {
        if (st.winner >= 0) corio_close(st.winner);
        return rc;
    }
    return st.winner >= 0 ? st.winner : (st.err ? st.err : -ECONNREFUSED);
}

int corio_tcp_connect_opts(const char *host, int port, const corio_connect_opts *opts) {
    static const corio_connect_opts defaults = {0};
    const corio_connect_opts *o = opts ? opts : &defaults;
    if (!host || !*host) return corio__bad(-EINVAL, "corio_tcp_connect: no host");
    if (!corio__current()) return corio__bad(-EPERM, "corio_tcp_connect: called outside a task");
    if (port <= 0 || port > 65535) return corio__bad(-EINVAL, "corio_tcp_connect: port %d out of range", port);
    corio_sockaddr addrs[MAX_ADDRS];
    int n = corio_resolve(host, port, o->family, 0, addrs, MAX_ADDRS);
    if (n < 0) return n;
    if (o->happy_eyeballs_delay > 0 && n > 1 && !o->local_host && !o->local_port) return happy_eyeballs(addrs, n, o);
    int err = 0;
    for (int i = 0; i < n; i++) {
        corio_sockaddr local, *lp = NULL;
        int rc;
        if (o->local_host || o->local_port) {
            rc = corio_resolve(o->local_host, o->local_port, addrs[i].u.sa.sa_family, 1, &local, 1);
            if (rc < 0) goto next;
            lp = &local;
        }
        rc = connect_one(&addrs[i], o, lp);
        if (rc >= 0 || rc == -ECANCELED) return rc;
    next:
        /* Try the next address, as asyncio does.  Report the first error
         * that came from reaching out (refused, timed out, reset) rather
         * than a local one (no IPv6 on this host: EADDRNOTAVAIL, ...), which
         * would only confuse: "localhost" refused on 127.0.0.1 is what
         * matters, not that ::1 is missing. */
        if (!err || (is_local_error(err) && !is_local_error(rc))) err = rc;
    }
    return err;
}

int corio_tcp_connect(const char *host, int port) { return corio_tcp_connect_opts(host, port, NULL); }

static int listen_one(const corio_sockaddr *a, int type, const corio_listen_opts *o) {
    int fd = new_socket(a->u.sa.sa_family, type);
    if (fd < 0) return fd;
    int rc = 0;
    if (!o->no_reuseaddr) corio_set_reuseaddr(fd, 1);
    if (o->reuseport && (rc = corio_set_reuseport(fd, 1)) < 0) goto fail;
    if (a->u.sa.sa_family == AF_INET6 && o->v6only) corio_setsockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    if (bind(fd, &a->u.sa, a->len) < 0) {
        rc = -errno;
        goto fail;
    }
    if (type == SOCK_STREAM && listen(fd, o->backlog > 0 ? o->backlog : 128) < 0) {
        rc = -errno;
        goto fail;
    }
    return fd;
fail:
    close(fd); /* never seen by the loop */
    return rc;
}

static int bind_any(const char *host, int port, int type, const corio_listen_opts *o) {
    corio_sockaddr addrs[MAX_ADDRS];
    int n = corio_resolve(host, port, o->family, 1, addrs, MAX_ADDRS);
    if (n < 0) return n;
    int rc = -EADDRNOTAVAIL;
    for (int i = 0; i < n; i++) {
        rc = listen_one(&addrs[i], type, o);
        if (rc >= 0) return rc;
    }
    return rc;
}

int corio_tcp_listen_opts(const char *host, int port, const corio_listen_opts *opts) {
    static const corio_listen_opts defaults = {0};
    return bind_any(host, port, SOCK_STREAM, opts ? opts : &defaults);
}

int corio_tcp_listen(const char *host, int port, int backlog) {
    corio_listen_opts o = {.backlog = backlog};
    return corio_tcp_listen_opts(host, port, &o);
}

/* ---- Unix -------------------------------------------------------------------- */

static int unix_addr(const char *path, corio_sockaddr *a) {
    if (!path || !*path) return -EINVAL;
    size_t n = strlen(path);
    if (n >= sizeof a->u.un.sun_path) return -ENAMETOOLONG;
    memset(a, 0, sizeof *a);
    a->u.un.sun_family = AF_UNIX;
    memcpy(a->u.un.sun_path, path, n);
    if (path[0] == '@') {
        a->u.un.sun_path[0] = 0; /* the abstract namespace: no NUL at the end */
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int corio_unix_connect(const char *path) {
    corio_sockaddr a;
    int rc = unix_addr(path, &a);
    if (rc < 0) return corio__bad(rc, "corio_unix_connect: bad path");
    int fd = new_socket(AF_UNIX, SOCK_STREAM);
    if (fd < 0) return fd;
    if ((rc = corio_connect(fd, &a.u.sa, a.len)) < 0) {
        corio_close(fd);
        return rc;
    }
    return fd;
}

int corio_unix_listen(const char *path, int backlog) {
    corio_sockaddr a;
    int rc = unix_addr(path, &a);
    if (rc < 0) return corio__bad(rc, "corio_unix_listen: bad path");
    /* asyncio's create_unix_server: a socket file left at the path (by a
     * server that did not remove it) is replaced; anything else there
     * stays an error at bind (-EADDRINUSE).  The abstract namespace has
     * no file. */
    struct stat sb;
    if (path[0] != '@') {
        if (stat(path, &sb) == 0) {
            if (S_ISSOCK(sb.st_mode) && unlink(path) < 0 && errno != ENOENT)
                corio__log(CORIO_LOG_ERROR, "corio_unix_listen: cannot remove the stale socket %s: %s", path,
                           strerror(errno));
        } else if (errno != ENOENT) {
            corio__log(CORIO_LOG_ERROR, "corio_unix_listen: cannot check for a stale socket at %s: %s", path,
                       strerror(errno));
        }
    }
    corio_listen_opts o = {.backlog = backlog, .no_reuseaddr = 1};
    return listen_one(&a, SOCK_STREAM, &o);
}

/* ---- UDP --------------------------------------------------------------------- */

int corio_udp_bind(const char *host, int port) {
    corio_listen_opts o = {.no_reuseaddr = 1};
    return bind_any(host, port, SOCK_DGRAM, &o);
}

int corio_udp_connect(const char *host, int port) {
    if (!host || !*host) return corio__bad(-EINVAL, "corio_udp_connect: no host");
    if (port <= 0 || port > 65535) return corio__bad(-EINVAL, "corio_udp_connect: port %d out of range", port);
    corio_sockaddr addrs[MAX_ADDRS];
    int n = corio_resolve(host, port, AF_UNSPEC, 0, addrs, MAX_ADDRS);
    if (n < 0) return n;
    int rc = -EADDRNOTAVAIL;
    for (int i = 0; i < n; i++) {
        int fd = new_socket(addrs[i].u.sa.sa_family, SOCK_DGRAM);
        if (fd < 0) return fd;
        /* A UDP connect only sets the default peer: it never blocks. */
        if (connect(fd, &addrs[i].u.sa, addrs[i].len) == 0) return fd;
        rc = -errno;
        close(fd);
    }
    return rc;
}

int corio_socketpair(int type, int fds[2]) {
    if (!fds) return -EINVAL;
    return socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : -errno;
}

/* ---- addresses --------------------------------------------------------------- */

int corio_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap) {
    if (!sa || !buf || cap == 0) return -EINVAL;
    char host[INET6_ADDRSTRLEN + 1];
    int n;
    switch (sa->sa_family) {
    case AF_INET: {
        if (len < sizeof(struct sockaddr_in)) return -EINVAL;
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        n = snprintf(buf, cap, "%s:%u", host, ntohs(in->sin_port));
        break;
    }
    case AF_INET6: {
        if (len < sizeof(struct sockaddr_in6)) return -EINVAL;
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        n = snprintf(buf, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t plen = len > off ? len - off : 0;
        if (plen > sizeof un->sun_path) plen = sizeof un->sun_path;
        if (plen && un->sun_path[0] == 0) { /* abstract: "@name" */
            n = snprintf(buf, cap, "@%.*s", (int)(plen - 1), un->sun_path + 1);
        } else {
            n = snprintf(buf, cap, "%.*s", (int)strnlen(un->sun_path, plen), un->sun_path);
        }
        break;
    }
    default: return -EAFNOSUPPORT;
    }
    if (n < 0) return -EINVAL;
    return (size_t)n >= cap ? -ENOSPC : n;
}

static int name_of(int fd, char *buf, size_t cap, bool peer) {
    if (!buf) return -EINVAL;
    corio_sockaddr a;
    a.len = sizeof a.u;
    int rc = peer ? getpeername(fd, &a.u.sa, &a.len) : getsockname(fd, &a.u.sa, &a.len);
    if (rc < 0) return -errno;
    return corio_sockaddr_format(&a.u.sa, a.len, buf, cap);
}

int corio_sockname(int fd, char *buf, size_t cap) { return name_of(fd, buf, cap, false); }
int corio_peername(int fd, char *buf, size_t cap) { return name_of(fd, buf, cap, true); }

int corio_local_port(int fd) {
    corio_sockaddr a;
    a.len = sizeof a.u;
    if (getsockname(fd, &a.u.sa, &a.len) < 0) return -errno;
    if (a.u.sa.sa_family == AF_INET) return ntohs(a.u.in.sin_port);
    if (a.u.sa.sa_family == AF_INET6) return ntohs(a.u.in6.sin6_port);
    return -EAFNOSUPPORT;
}
