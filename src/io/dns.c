/*
 * dns.c - name resolution that never blocks the loop (corio_resolve).
 *
 * Three paths, cheapest first:
 *  1. Numeric hosts ("127.0.0.1", "::1", "[::1]", "fe80::1%lo") go through
 *     getaddrinfo(AI_NUMERICHOST), which parses and never does I/O.
 *  2. RFC 6761 special names: "localhost" and "*.localhost" are the
 *     loopback addresses, "*.invalid" fails at once.  Neither reaches DNS
 *     (resolvers are told to do exactly this, and it keeps tests offline).
 *  3. Everything else is looked up by c-ares, driven by the loop: each
 *     lookup gets its own channel, whose sockets are watched with
 *     corio_add_reader / corio_add_writer and whose retransmission timer
 *     is a corio_call_later handle; the calling task awaits a future the
 *     c-ares callback completes.  A channel per lookup costs a read of
 *     /etc/resolv.conf and /etc/hosts, trivial next to a DNS round trip,
 *     and makes cancellation exact: cancelling the task destroys the
 *     channel, which ends the query and closes its sockets.
 *
 * Builds without c-ares (CORIO_WITH_CARES=OFF: cross builds, where no
 * c-ares for the target is at hand) run glibc's getaddrinfo on a thread
 * per lookup instead: the loop still never blocks and a cancelled lookup
 * is abandoned, but the thread runs to its end.
 *
 * The environment variable CORIO_DNS_SERVERS ("127.0.0.1:5353,[::1]:53")
 * replaces the name servers of /etc/resolv.conf: for tests, and for
 * programs that must use a given resolver.
 *
 * c-ares closes its own sockets; we give it socket functions whose close
 * tells the loop first (corio_close), so a descriptor number reused later
 * never inherits a stale registration.
 */
#include "io.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>
#if CORIO_HAVE_CARES
#include <ares.h>
#endif


static int map_gai(int e) {
    switch (e) {
    case EAI_NONAME: return CORIO_EAI_NONAME;
#ifdef EAI_NODATA
    case EAI_NODATA: return CORIO_EAI_NODATA;
#endif
    case EAI_AGAIN: return CORIO_EAI_AGAIN;
    case EAI_FAMILY: return CORIO_EAI_FAMILY;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_SYSTEM: return errno ? -errno : CORIO_EAI_FAIL;
    default: return CORIO_EAI_FAIL;
    }
}

#if CORIO_HAVE_CARES
static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status;

static void ares_global_init(void) { ares_init_status = ares_library_init(ARES_LIB_INIT_ALL); }

static int map_ares(int st) {
    switch (st) {
    case ARES_ENOTFOUND:
    case ARES_EBADNAME:
    case ARES_ENONAME: return CORIO_EAI_NONAME;
    case ARES_ENODATA: return CORIO_EAI_NODATA;
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_ESERVFAIL:
    case ARES_EREFUSED: return CORIO_EAI_AGAIN;
    case ARES_EBADFAMILY: return CORIO_EAI_FAMILY;
    case ARES_ENOMEM: return -ENOMEM;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED: return -ECANCELED;
    default: return CORIO_EAI_FAIL;
    }
}
#endif /* CORIO_HAVE_CARES */

static void set_port(corio_sockaddr *a, int port) {
    if (a->u.sa.sa_family == AF_INET) a->u.in.sin_port = htons((uint16_t)port);
    else if (a->u.sa.sa_family == AF_INET6) a->u.in6.sin6_port = htons((uint16_t)port);
}

static void put_v4(corio_sockaddr *a, uint32_t host_order_addr, int port) {
    memset(a, 0, sizeof *a);
    a->u.in.sin_family = AF_INET;
    a->u.in.sin_addr.s_addr = htonl(host_order_addr);
    a->u.in.sin_port = htons((uint16_t)port);
    a->len = sizeof a->u.in;
}

static void put_v6(corio_sockaddr *a, const struct in6_addr *addr, int port) {
    memset(a, 0, sizeof *a);
    a->u.in6.sin6_family = AF_INET6;
    a->u.in6.sin6_addr = *addr;
    a->u.in6.sin6_port = htons((uint16_t)port);
    a->len = sizeof a->u.in6;
}

/* The wildcard or loopback pair, in IPv4-then-IPv6 order, filtered by family. */
static int fixed_pair(int family, bool any, int port, corio_sockaddr *out, size_t cap) {
    size_t n = 0;
    if (family != AF_INET6 && n < cap) put_v4(&out[n++], any ? INADDR_ANY : INADDR_LOOPBACK, port);
    if (family != AF_INET && n < cap) put_v6(&out[n++], any ? &in6addr_any : &in6addr_loopback, port);
    return (int)n;
}

/* "name" ends with the label `label` (".invalid", ".localhost"), or is it. */
static bool name_is_under(const char *name, const char *label) {
    size_t n = strlen(name), l = strlen(label);
    if (n && name[n - 1] == '.') n--; /* a fully qualified "localhost." */
    if (n == l && strncasecmp(name, label, l) == 0) return true;
    return n > l && name[n - l - 1] == '.' && strncasecmp(name + n - l, label, l) == 0;
}

/* Path 1: numeric.  Returns the count, 0 when host is not numeric, or an error. */
static int numeric(const char *host, int port, int family, corio_sockaddr *out, size_t cap) {
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
    size_t n = strlen(host);
    if (host[0] == '[') { /* "[::1]" as in URLs */
        if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof buf) return CORIO_EAI_NONAME;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = 0;
        host = buf;
    }
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int e = getaddrinfo(host, NULL, &hints, &res);
    if (e == EAI_NONAME) return host == buf ? CORIO_EAI_NONAME : 0;
    if (e) return map_gai(e);
    size_t k = 0;
    for (struct addrinfo *ai = res; ai && k < cap; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out[k].u) continue;
        memset(&out[k], 0, sizeof out[k]);
        memcpy(&out[k].u, ai->ai_addr, ai->ai_addrlen);
        out[k].len = ai->ai_addrlen;
        set_port(&out[k], port);
        k++;
    }
    freeaddrinfo(res);
    return k ? (int)k : CORIO_EAI_NODATA;
}

#if CORIO_HAVE_CARES
/* ---- path 3: c-ares driven by the loop -------------------------------------- */

typedef struct lookup {
    ares_channel ch;
    corio_future done;      /* completed by on_result */
    bool finished;          /* on_result ran */
    int status;             /* 0 or a negative code */
    int port;
    corio_sockaddr *out;
    size_t cap, n;
    corio_handle timer;     /* c-ares's next timeout */
    bool in_process;        /* inside ares_process_fd: do not re-arm from sock_state */
} lookup;

static void arm_timer(lookup *lk);

static void on_timer(void *arg) {
    lookup *lk = arg;
    lk->in_process = true;
    ares_process_fd(lk->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    lk->in_process = false;
    arm_timer(lk);
}

static void arm_timer(lookup *lk) {
    corio_handle_cancel(&lk->timer);
    if (lk->finished) return;
    struct timeval tv, *tvp = ares_timeout(lk->ch, NULL, &tv);
    if (!tvp) return;
    double d = (double)tvp->tv_sec + (double)tvp->tv_usec / 1e6;
    corio_call_later(&lk->timer, d, on_timer, lk);
}

/* A (fd, lookup) pair for the callbacks: c-ares tells us the fd in
 * sock_state, and the reader callback needs both. */
typedef struct watch {
    lookup *lk;
    int fd;
    struct watch *next;
} watch;

typedef struct lookup_ext {
    lookup lk;
    watch *watches;
} lookup_ext;

static watch *watch_for(lookup_ext *x, int fd, bool create) {
    for (watch *w = x->watches; w; w = w->next)
        if (w->fd == fd) return w;
    if (!create) return NULL;
    watch *w = corio__calloc(1, sizeof *w);
    if (!w) return NULL;
    w->lk = &x->lk;
    w->fd = fd;
    w->next = x->watches;
    x->watches = w;
    return w;
}

static void on_readable(void *arg) {
    watch *w = arg;
    lookup *lk = w->lk;
    lk->in_process = true;
    ares_process_fd(lk->ch, w->fd, ARES_SOCKET_BAD); /* may free w through sock_state(0,0) */
    lk->in_process = false;
    arm_timer(lk);
}

static void on_writable(void *arg) {
    watch *w = arg;
    lookup *lk = w->lk;
    lk->in_process = true;
    ares_process_fd(lk->ch, ARES_SOCKET_BAD, w->fd);
    lk->in_process = false;
    arm_timer(lk);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable) {
    lookup_ext *x = data;
    watch *w = watch_for(x, fd, readable || writable);
    if (!w) return; /* out of memory: the query will time out through the timer */
    if (readable) corio_add_reader(fd, on_readable, w);
    else corio_remove_reader(fd);
    if (writable) corio_add_writer(fd, on_writable, w);
    else corio_remove_writer(fd);
    if (!readable && !writable) {
        for (watch **p = &x->watches; *p; p = &(*p)->next) {
            if (*p == w) {
                *p = w->next;
                break;
            }
        }
        /* A callback already queued for this fd was cancelled by remove_*. */
        corio__free(w);
    }
}

static void on_result(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
    (void)timeouts;
    lookup *lk = arg;
    lk->finished = true;
    if (status != ARES_SUCCESS) {
        lk->status = map_ares(status);
    } else {
        for (struct ares_addrinfo_node *nd = res ? res->nodes : NULL; nd && lk->n < lk->cap; nd = nd->ai_next) {
            if ((nd->ai_family != AF_INET && nd->ai_family != AF_INET6) ||
                (size_t)nd->ai_addrlen > sizeof lk->out[0].u)
                continue;
            corio_sockaddr *a = &lk->out[lk->n++];
            memset(a, 0, sizeof *a);
            memcpy(&a->u, nd->ai_addr, nd->ai_addrlen);
            a->len = (socklen_t)nd->ai_addrlen;
            set_port(a, lk->port);
        }
        lk->status = lk->n ? 0 : CORIO_EAI_NODATA;
    }
    if (res) ares_freeaddrinfo(res);
    if (!corio_future_done(&lk->done)) corio_future_set_result(&lk->done, 0);
}

/* Socket functions: c-ares's own, except that close tells the loop first. */
static ares_socket_t s_socket(int d, int t, int p, void *u) {
    (void)u;
    return socket(d, t | SOCK_CLOEXEC, p);
}
static int s_close(ares_socket_t fd, void *u) {
    (void)u;
    return corio_close(fd) == 0 ? 0 : -1;
}
static int s_connect(ares_socket_t fd, const struct sockaddr *a, ares_socklen_t l, void *u) {
    (void)u;
    return connect(fd, a, l);
}
static ares_ssize_t s_recvfrom(ares_socket_t fd, void *b, size_t n, int f, struct sockaddr *a, ares_socklen_t *l,
                               void *u) {
    (void)u;
    return recvfrom(fd, b, n, f, a, l);
}
static ares_ssize_t s_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *u) {
    (void)u;
    return writev(fd, iov, n);
}
static const struct ares_socket_functions sock_funcs = {s_socket, s_close, s_connect, s_recvfrom, s_sendv};

static int lookup_dns(const char *host, int port, int family, corio_sockaddr *out, size_t cap) {
    if (!corio__current()) return corio__bad(-EPERM, "corio_resolve: a DNS lookup of \"%s\" needs a task", host);
    pthread_once(&ares_once, ares_global_init);
    if (ares_init_status != ARES_SUCCESS) return map_ares(ares_init_status);
    lookup_ext *x = corio__calloc(1, sizeof *x);
    if (!x) return -ENOMEM;
    lookup *lk = &x->lk;
    lk->port = port;
    lk->out = out;
    lk->cap = cap;
    struct ares_options o = {.sock_state_cb = sock_state, .sock_state_cb_data = x};
    int st = ares_init_options(&lk->ch, &o, ARES_OPT_SOCK_STATE_CB);
    if (st != ARES_SUCCESS) {
        corio__free(x);
        return map_ares(st);
    }
    ares_set_socket_functions(lk->ch, &sock_funcs, NULL);
    const char *servers = getenv("CORIO_DNS_SERVERS");
    if (servers && *servers && (st = ares_set_servers_ports_csv(lk->ch, servers)) != ARES_SUCCESS) {
        corio__log(CORIO_LOG_WARNING, "CORIO_DNS_SERVERS=\"%s\": %s", servers, ares_strerror(st));
        ares_destroy(lk->ch);
        corio__free(x);
        return CORIO_EAI_FAIL;
    }
    corio__future_init(&lk->done, corio__cur_loop); /* the library's own: keeps no cancel message */
    struct ares_addrinfo_hints hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
    ares_getaddrinfo(lk->ch, host, NULL, &hints, on_result, lk); /* may call on_result at once */
    int rc = 0;
    if (!lk->finished) {
        arm_timer(lk);
        /* The name server answers in real time: a virtual clock must not
         * jump to c-ares's retry timer, or past a timeout around the
         * lookup, meanwhile (as for the thread resolver, below). */
        corio_loop *loop = corio__current()->loop;
        loop->clock_holds++;
        rc = corio_await(&lk->done, NULL);
        loop->clock_holds--;
    }
    corio_handle_cancel(&lk->timer);
    /* Cancelled (or finished): destroying the channel ends any query still
     * running (on_result with ARES_EDESTRUCTION) and closes its sockets. */
    ares_destroy(lk->ch);
    while (x->watches) { /* c-ares reported every close, but be sure */
        watch *w = x->watches;
        x->watches = w->next;
        corio__free(w);
    }
    corio_future_destroy(&lk->done);
    if (rc == 0) rc = lk->status == 0 ? (int)lk->n : lk->status;
    corio__free(x);
    return rc;
}

#endif /* CORIO_HAVE_CARES */

/* ---- without c-ares: getaddrinfo on a thread of its own ------------------------- */

/*
 * One detached thread per lookup, which reports through an eventfd the
 * task waits on.  The job has two references, the thread's and the
 * task's; whichever side lets go last frees the job (and closes the
 * eventfd, unless the task did when it read the answer).  So a cancelled task simply lets go, and a thread still blocked in
 * getaddrinfo after its task, or its loop, has gone touches nothing of
 * theirs.
 */
typedef struct gai_job {
    _Atomic int refs; /* 2: the thread and the waiting task */
    int efd;
    int family, status;
    char *host;
    struct addrinfo *res;
} gai_job;

static void gai_job_put(gai_job *j) {
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    if (j->res) freeaddrinfo(j->res);
    if (j->efd >= 0) close(j->efd);
    free(j->host);
    free(j);
}

static void *gai_thread(void *arg) {
    gai_job *j = arg;
    struct addrinfo hints = {.ai_family = j->family, .ai_socktype = SOCK_STREAM};
    int e = getaddrinfo(j->host, NULL, &hints, &j->res);
    j->status = e ? map_gai(e) : 0;
    uint64_t one = 1;
    ssize_t w = write(j->efd, &one, sizeof one); /* publishes res and status */
    (void)w; /* an eventfd write of 1 cannot fail here */
    gai_job_put(j);
    return NULL;
}

static int lookup_thread(const char *host, int port, int family, corio_sockaddr *out, size_t cap) {
    if (!corio__current()) return corio__bad(-EPERM, "corio_resolve: a DNS lookup of \"%s\" needs a task", host);
    gai_job *j = calloc(1, sizeof *j); /* plain malloc: the thread may free it after the loop is gone */
    if (!j) return -ENOMEM;
    atomic_init(&j->refs, 2);
    j->family = family;
    j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    j->host = strdup(host);
    if (j->efd < 0 || !j->host) {
        int rc = j->efd < 0 ? -errno : -ENOMEM;
        if (j->efd >= 0) close(j->efd);
        free(j->host);
        free(j);
        return rc;
    }
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&th, &attr, gai_thread, j);
    pthread_attr_destroy(&attr);
    if (e) {
        close(j->efd);
        free(j->host);
        free(j);
        return -e;
    }
    int rc;
    /* The thread's answer takes real time: a virtual clock must not jump
     * past a timeout around the lookup meanwhile (corio_loop_hold_clock). */
    corio_loop *loop = corio__current()->loop;
    loop->clock_holds++;
    for (;;) {
        /* Reading the eventfd (not only seeing it readable) is what orders
         * the thread's results before our use of them, also for TSan. */
        uint64_t v;
        if (read(j->efd, &v, sizeof v) == (ssize_t)sizeof v) break;
        if ((rc = corio_wait_readable(j->efd)) < 0) {
            loop->clock_holds--;
            corio_forget_fd(j->efd);
            gai_job_put(j); /* abandoned: the thread frees it when it is done */
            return rc;
        }
    }
    loop->clock_holds--;
    /* The thread has written its one count and will not touch the eventfd
     * again: close it now rather than whenever the thread lets go, so that
     * the descriptor is gone when the lookup returns. */
    corio_forget_fd(j->efd);
    close(j->efd);
    j->efd = -1;
    rc = j->status;
    size_t k = 0;
    for (struct addrinfo *ai = rc == 0 ? j->res : NULL; ai && k < cap; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof out[k].u) continue;
        memset(&out[k], 0, sizeof out[k]);
        memcpy(&out[k].u, ai->ai_addr, ai->ai_addrlen);
        out[k].len = ai->ai_addrlen;
        set_port(&out[k], port);
        k++;
    }
    gai_job_put(j);
    if (rc == 0 && k == 0) rc = CORIO_EAI_NODATA;
    return rc < 0 ? rc : (int)k;
}

/* CORIO_RESOLVER=getaddrinfo forces the thread resolver (to test it where c-ares is built in). */
static bool use_cares(void) {
#if CORIO_HAVE_CARES
    const char *e = getenv("CORIO_RESOLVER");
    return !(e && strcmp(e, "getaddrinfo") == 0);
#else
    return false;
#endif
}

const char *corio_resolver_name(void) { return use_cares() ? "c-ares" : "getaddrinfo"; }

int corio_resolve(const char *host, int port, int family, int passive, corio_sockaddr *out, size_t cap) {
    if (!out || cap == 0) return corio__bad(-EINVAL, "corio_resolve: NULL out or cap 0");
    if (port < 0 || port > 65535) return corio__bad(-EINVAL, "corio_resolve: port %d out of range", port);
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return CORIO_EAI_FAMILY;
    if (!host || !*host) return fixed_pair(family, passive != 0, port, out, cap);
    int n = numeric(host, port, family, out, cap);
    if (n != 0) return n;
    if (name_is_under(host, "localhost")) return fixed_pair(family, false, port, out, cap);
    if (name_is_under(host, "invalid")) return CORIO_EAI_NONAME;
#if CORIO_HAVE_CARES
    if (use_cares()) return lookup_dns(host, port, family, out, cap);
#endif
    return lookup_thread(host, port, family, out, cap);
}
