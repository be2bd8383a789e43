/*
 * Sockets and name resolution (net.h) on real descriptors: TCP over
 * 127.0.0.1 and ::1, Unix sockets, UDP, socketpair, addresses; name
 * resolution of numeric hosts, RFC 6761 names, and names looked up by
 * c-ares from a tiny DNS server this test runs on 127.0.0.1.  Every case
 * checks that it leaves no descriptor open.
 */
#include "test.h"
#include "net_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- resolution without DNS ------------------------------------------------- */

static int resolve_main(void *arg) {
    (void)arg;
    corio_sockaddr a[8];
    char s[CORIO_ADDRSTRLEN];

    CHECK_EQ(corio_resolve("127.0.0.1", 5000, AF_UNSPEC, 0, a, 8), 1);
    CHECK(corio_sockaddr_format(&a[0].u.sa, a[0].len, s, sizeof s) > 0 && strcmp(s, "127.0.0.1:5000") == 0);
    CHECK_EQ(corio_resolve("::1", 5000, AF_UNSPEC, 0, a, 8), 1);
    CHECK(corio_sockaddr_format(&a[0].u.sa, a[0].len, s, sizeof s) > 0 && strcmp(s, "[::1]:5000") == 0);
    CHECK_EQ(corio_resolve("[::1]", 80, AF_INET6, 0, a, 8), 1);
    CHECK_EQ(a[0].u.sa.sa_family, AF_INET6);
    /* A numeric address of the other family than asked: no data. */
    CHECK(corio_resolve("127.0.0.1", 80, AF_INET6, 0, a, 8) < 0);

    /* Up to the wildcards nothing may reach DNS: the server c-ares is given
     * (when c-ares resolves) is a socket of ours that never answers, and it
     * must receive nothing - not a duration, which a busy machine stretches. */
    int hole = corio_udp_bind("127.0.0.1", 0);
    CHECK(hole >= 0);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", corio_local_port(hole));
    setenv("CORIO_DNS_SERVERS", servers, 1);

    /* localhost never reaches DNS: loopback, IPv4 first. */
    int n = corio_resolve("localhost", 80, AF_UNSPEC, 0, a, 8);
    CHECK_EQ(n, 2);
    CHECK(corio_sockaddr_format(&a[0].u.sa, a[0].len, s, sizeof s) > 0 && strcmp(s, "127.0.0.1:80") == 0);
    CHECK(corio_sockaddr_format(&a[1].u.sa, a[1].len, s, sizeof s) > 0 && strcmp(s, "[::1]:80") == 0);
    CHECK_EQ(corio_resolve("LocalHost.", 80, AF_INET6, 0, a, 8), 1);
    CHECK_EQ(corio_resolve("db.localhost", 80, AF_INET, 0, a, 1), 1);

    /* .invalid fails at once, with a clear code and message. */
    double t0 = corio_time();
    CHECK_EQ(corio_resolve("nonexistent.invalid", 80, AF_UNSPEC, 0, a, 8), CORIO_EAI_NONAME);
    CHECK(corio_time() - t0 < 5); /* (only a hang: that no query went out is checked below) */
    CHECK(strcmp(corio_strerror(CORIO_EAI_NONAME), "Name or service not known") == 0);
    CHECK(strstr(corio_strerror(CORIO_EAI_AGAIN), "Temporary") != NULL);
    CHECK_EQ(corio_tcp_connect("nonexistent.invalid", 80), CORIO_EAI_NONAME);
    char query[512];
    errno = 0;
    CHECK(recv(hole, query, sizeof query, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    unsetenv("CORIO_DNS_SERVERS");
    corio_close(hole);

    /* Wildcards. */
    CHECK_EQ(corio_resolve(NULL, 0, AF_UNSPEC, 1, a, 8), 2);
    CHECK(corio_sockaddr_format(&a[0].u.sa, a[0].len, s, sizeof s) > 0 && strcmp(s, "0.0.0.0:0") == 0);

    /* Bad input. */
    CHECK_EQ(corio_resolve("127.0.0.1", -1, AF_UNSPEC, 0, a, 8), -EINVAL);
    CHECK_EQ(corio_resolve("127.0.0.1", 65536, AF_UNSPEC, 0, a, 8), -EINVAL);
    CHECK_EQ(corio_resolve("127.0.0.1", 1, AF_UNIX, 0, a, 8), CORIO_EAI_FAMILY);
    CHECK_EQ(corio_resolve("127.0.0.1", 1, AF_UNSPEC, 0, NULL, 8), -EINVAL);
    CHECK_EQ(corio_resolve("127.0.0.1", 1, AF_UNSPEC, 0, a, 0), -EINVAL);
    CHECK_EQ(corio_resolve("[::1", 1, AF_UNSPEC, 0, a, 8), CORIO_EAI_NONAME);
    CHECK_EQ(corio_tcp_connect(NULL, 80), -EINVAL);
    CHECK_EQ(corio_tcp_connect("127.0.0.1", 0), -EINVAL);
    CHECK_EQ(corio_tcp_connect("127.0.0.1", 70000), -EINVAL);
    return 0;
}

static void test_resolve(void) {
    CHECK_EQ(test_run(resolve_main, NULL, 0), 0);
    /* Numeric hosts resolve outside a task too; a DNS lookup needs one. */
    corio_sockaddr a[2];
    CHECK_EQ(corio_resolve("10.1.2.3", 7, AF_INET, 0, a, 2), 1);
}

/* ---- resolution through c-ares, against a DNS server of our own --------------- */

static int dns_fd;
static int dns_queries;

/* The answer to the query q (n bytes) in out: A queries for "host.test"
 * get 127.0.0.42; names ending in "missing.test" NXDOMAIN; the rest an
 * empty answer.  Its length, or 0 for a query to ignore. */
static size_t dns_answer(const unsigned char *q, size_t n, unsigned char *out) {
    if (n < 17) return 0;
    size_t i = 12;
    char name[256] = "";
    size_t nl = 0;
    while (i < n && q[i]) {
        size_t l = q[i];
        if (i + 1 + l > n || nl + l + 2 > sizeof name) break;
        if (nl) name[nl++] = '.';
        memcpy(name + nl, q + i + 1, l);
        nl += l;
        name[nl] = 0;
        i += 1 + l;
    }
    i++; /* the root label */
    if (i + 4 > n) return 0;
    unsigned qtype = (unsigned)q[i] << 8 | q[i + 1];
    size_t qend = i + 4;
    memcpy(out, q, qend);
    bool missing = strlen(name) >= 12 && strcmp(name + strlen(name) - 12, "missing.test") == 0;
    bool answer = !missing && qtype == 1 && strcmp(name, "host.test") == 0;
    out[2] = 0x81;
    out[3] = missing ? 0x83 : 0x80; /* QR RD RA, rcode 3 (NXDOMAIN) or 0 */
    out[4] = 0, out[5] = 1;         /* one question */
    out[6] = 0, out[7] = answer;    /* answers */
    memset(out + 8, 0, 4);          /* no authority, no additional */
    size_t o = qend;
    if (answer) {
        static const unsigned char rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 42};
        memcpy(out + o, rr, sizeof rr);
        o += sizeof rr;
    }
    return o;
}

/* The DNS server as a task of the test's loop. */
static int dns_server(void *arg) {
    (void)arg;
    unsigned char q[512], out[600];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = corio_recvfrom(dns_fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) return n == -ECANCELED ? 0 : (int)n;
        size_t o = dns_answer(q, (size_t)n, out);
        if (!o) continue;
        dns_queries++;
        corio_sendto(dns_fd, out, o, 0, (struct sockaddr *)&from, fl);
    }
}

static int dns_main(void *arg) {
    (void)arg;
    dns_fd = corio_udp_bind("127.0.0.1", 0);
    CHECK(dns_fd >= 0);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", corio_local_port(dns_fd));
    setenv("CORIO_DNS_SERVERS", servers, 1);
    corio_task *srv = corio_spawn(dns_server, NULL);

    corio_sockaddr a[4];
    char s[CORIO_ADDRSTRLEN];
    int n = corio_resolve("host.test", 8080, AF_INET, 0, a, 4);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK(corio_sockaddr_format(&a[0].u.sa, a[0].len, s, sizeof s) > 0);
        CHECK(strcmp(s, "127.0.0.42:8080") == 0);
    }
    /* Both families asked: the A answer alone is enough. */
    CHECK_EQ(corio_resolve("host.test", 1, AF_UNSPEC, 0, a, 4), 1);
    CHECK_EQ(corio_resolve("nothing.missing.test", 1, AF_INET, 0, a, 4), CORIO_EAI_NONAME);
    CHECK(dns_queries >= 3);

    /* A server that never answers: the lookup is cancelled by a timeout
     * scope, and its sockets are closed. */
    corio_cancel(srv);
    CHECK_EQ(corio_join(srv), 0);
    corio_timeout to;
    corio_timeout_enter(&to, 0.2);
    double t0 = corio_time();
    int rc = corio_resolve("host.test", 1, AF_INET, 0, a, 4);
    rc = corio_timeout_exit(&to, rc);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(corio_time() - t0 < 5.0); /* (only a hang: the rc says the scope ended it) */

    unsetenv("CORIO_DNS_SERVERS");
    CHECK_EQ(corio_close(dns_fd), 0);
    return 0;
}

/* The c-ares cases need c-ares (cross builds go without). */
static bool have_cares(void) {
    if (strcmp(corio_resolver_name(), "c-ares") == 0) return true;
    printf("skip: built without c-ares\n");
    return false;
}

static void test_resolve_dns(void) {
    if (have_cares()) CHECK_EQ(test_run(dns_main, NULL, 0), 0);
}

/* A virtual clock and a name server that answers in real time (a thread,
 * 20 ms late): the clock does not jump to c-ares's retry timer or to a
 * timeout around the lookup meanwhile, as for the thread resolver. */
static int slow_dns_fd;
static void *slow_dns_server(void *arg) {
    (void)arg;
    unsigned char q[512], out[600];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(slow_dns_fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
    size_t o = n > 0 ? dns_answer(q, (size_t)n, out) : 0;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    if (o) sendto(slow_dns_fd, out, o, 0, (struct sockaddr *)&from, fl);
    return NULL;
}
static int resolve_task(void *arg) {
    corio_sockaddr *a = arg;
    return corio_resolve("host.test", 80, AF_INET, 0, a, 1);
}
static int dns_vclock_main(void *arg) {
    (void)arg;
    slow_dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* blocking: the thread's */
    CHECK(slow_dns_fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(slow_dns_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", corio_local_port(slow_dns_fd));
    setenv("CORIO_DNS_SERVERS", servers, 1);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, slow_dns_server, NULL), 0);
    corio_sockaddr a[1];
    corio_task *t = corio_spawn(resolve_task, a);
    intptr_t v = 0;
    CHECK_EQ(corio_wait_for(corio_task_future(t), 1000.0, &v), 0);
    CHECK_EQ(v, 1);
    CHECK(corio_time() < 1000.0);
    corio_task_detach(t);
    pthread_join(th, NULL);
    unsetenv("CORIO_DNS_SERVERS");
    close(slow_dns_fd);
    CHECK_EQ(corio_sleep(3600), 0); /* and jumps again after */
    CHECK(corio_time() >= 3600.0);
    return 0;
}

static void test_resolve_dns_virtual_clock(void) {
    if (have_cares()) CHECK_EQ(test_run(dns_vclock_main, NULL, 1), 0);
}

/* ---- the getaddrinfo resolver (builds without c-ares) ------------------------------ */

/* A name /etc/hosts maps to 127.x.y.z, other than localhost (the
 * thread resolver then answers without any DNS). */
static int hosts_name(char *name, size_t cap, char *addr, size_t acap) {
    FILE *f = fopen("/etc/hosts", "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char a[64], n[256];
        if (sscanf(line, " %63s %255s", a, n) == 2 && strncmp(a, "127.", 4) == 0 && strncmp(n, "localhost", 9) != 0 &&
            strchr(n, '.') == NULL && strlen(n) < cap && strlen(a) < acap) {
            strcpy(name, n);
            strcpy(addr, a);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

static char gai_name[256], gai_addr[64];

static int gai_lookup(void *arg) {
    (void)arg;
    corio_sockaddr a[4];
    return corio_resolve(gai_name, 1, AF_INET, 0, a, 4);
}

static int gai_main(void *arg) {
    (void)arg;
    int fds = count_fds(); /* before any lookup: each thread may close its eventfd after we returned */
    corio_sockaddr a[4];
    char s[CORIO_ADDRSTRLEN], want[CORIO_ADDRSTRLEN];
    int n = corio_resolve(gai_name, 99, AF_INET, 0, a, 4);
    CHECK(n >= 1);
    snprintf(want, sizeof want, "%s:99", gai_addr);
    CHECK(n >= 1 && corio_sockaddr_format(&a[0].u.sa, a[0].len, s, sizeof s) > 0 && strcmp(s, want) == 0);
    /* A cancelled lookup is abandoned; its thread cleans up after itself. */
    corio_task *t = corio_spawn(gai_lookup, NULL);
    corio_yield(); /* it starts and waits for its thread */
    corio_cancel(t);
    int rc = corio_join(t);
    CHECK(rc == -ECANCELED || rc >= 1);
    /* The threads finish and close what they still held (the case checks
     * that no descriptor is left): wait for that rather than for a while. */
    WAIT_UNTIL(count_fds() == fds, 10);
    CHECK_EQ(count_fds(), fds);
    return 0;
}

static void test_resolve_getaddrinfo(void) {
    if (!hosts_name(gai_name, sizeof gai_name, gai_addr, sizeof gai_addr)) {
        printf("skip: no plain 127.x name in /etc/hosts\n");
        return;
    }
    setenv("CORIO_RESOLVER", "getaddrinfo", 1);
    CHECK(strcmp(corio_resolver_name(), "getaddrinfo") == 0);
    CHECK_EQ(test_run(gai_main, NULL, 0), 0);
    unsetenv("CORIO_RESOLVER");
}

/* ---- TCP ----------------------------------------------------------------------- */

static int lfd;

static int echo_once(void *arg) {
    (void)arg;
    int fd = corio_accept(lfd, NULL, NULL);
    if (fd < 0) return fd;
    char buf[256];
    ssize_t n;
    while ((n = corio_read(fd, buf, sizeof buf)) > 0)
        if (corio_write_all(fd, buf, (size_t)n) != n) break;
    corio_close(fd);
    return n < 0 ? (int)n : 0;
}

/* Connect to host, send, get the echo, check both addresses. */
static int tcp_roundtrip(const char *listen_host, const char *connect_host, const char *expect_prefix) {
    lfd = corio_tcp_listen(listen_host, 0, 16);
    if (lfd < 0) return lfd;
    int port = corio_local_port(lfd);
    CHECK(port > 0);
    corio_task *srv = corio_spawn(echo_once, NULL);
    int fd = corio_tcp_connect(connect_host, port);
    CHECK(fd >= 0);
    if (fd >= 0) {
        int on = 0;
        socklen_t sl = sizeof on;
        CHECK_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &sl), 0);
        CHECK(on != 0); /* asyncio's default */
        CHECK_EQ(corio_write_all(fd, "ping", 4), 4);
        char buf[8];
        CHECK_EQ(corio_read(fd, buf, sizeof buf), 4);
        CHECK(memcmp(buf, "ping", 4) == 0);
        char peer[CORIO_ADDRSTRLEN], expect[CORIO_ADDRSTRLEN];
        snprintf(expect, sizeof expect, "%s:%d", expect_prefix, port);
        CHECK(corio_peername(fd, peer, sizeof peer) > 0);
        CHECK(strcmp(peer, expect) == 0);
        CHECK(corio_sockname(fd, peer, sizeof peer) > 0);
        CHECK(strncmp(peer, expect_prefix, strlen(expect_prefix)) == 0);
        shutdown(fd, SHUT_WR);
        CHECK_EQ(corio_read(fd, buf, sizeof buf), 0);
        corio_close(fd);
    }
    CHECK_EQ(corio_join(srv), 0);
    corio_close(lfd);
    return 0;
}

static int tcp4_main(void *arg) {
    (void)arg;
    CHECK_EQ(tcp_roundtrip("127.0.0.1", "127.0.0.1", "127.0.0.1"), 0);
    CHECK_EQ(tcp_roundtrip("127.0.0.1", "localhost", "127.0.0.1"), 0);
    return 0;
}

static void test_tcp_ipv4(void) { CHECK_EQ(test_run(tcp4_main, NULL, 0), 0); }

static int tcp6_main(void *arg) {
    (void)arg;
    int rc = tcp_roundtrip("::1", "::1", "[::1]");
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
        printf("skip IPv6: %s\n", corio_strerror(rc));
        return 0;
    }
    CHECK_EQ(rc, 0);
    return 0;
}

static void test_tcp_ipv6(void) { CHECK_EQ(test_run(tcp6_main, NULL, 0), 0); }

static int refused_main(void *arg) {
    (void)arg;
    int l = corio_tcp_listen("127.0.0.1", 0, 1);
    int port = corio_local_port(l);
    corio_close(l);
    CHECK_EQ(corio_tcp_connect("127.0.0.1", port), -ECONNREFUSED);
    /* localhost tries 127.0.0.1, then ::1: the last error is reported. */
    CHECK_EQ(corio_tcp_connect("localhost", port), -ECONNREFUSED);
    /* Listening twice on one port without reuseport. */
    l = corio_tcp_listen("127.0.0.1", 0, 1);
    corio_listen_opts o = {.no_reuseaddr = 0};
    CHECK_EQ(corio_tcp_listen_opts("127.0.0.1", corio_local_port(l), &o), -EADDRINUSE);
    /* ... and with it, on both sockets, it works. */
    corio_close(l);
    o.reuseport = 1;
    l = corio_tcp_listen_opts("127.0.0.1", 0, &o);
    int l2 = corio_tcp_listen_opts("127.0.0.1", corio_local_port(l), &o);
    CHECK(l >= 0 && l2 >= 0);
    corio_close(l);
    if (l2 >= 0) corio_close(l2);
    return 0;
}

static void test_refused(void) { CHECK_EQ(test_run(refused_main, NULL, 0), 0); }

/* Is the accept queue of listener l full, so that a new SYN is dropped?
 * For a listener Linux reports its queue's length and limit in
 * tcpi_unacked / tcpi_sacked (full: length > limit).  Unknown: true. */
static bool accept_queue_full(int l) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return true;
    return ti.tcpi_unacked > ti.tcpi_sacked;
}

/* A listener whose backlog is full drops further SYNs: connect hangs, and a
 * timeout scope ends it.  (A connect that timed out while the queue still
 * had room was only slow - a busy machine - and does not count: try again.) */
static int connect_timeout_main(void *arg) {
    (void)arg;
    int l = corio_tcp_listen("127.0.0.1", 0, 1);
    int port = corio_local_port(l);
    int filler[8];
    int nf = 0;
    int rc = 0;
    double t0 = 0;
    for (int tries = 0; nf < 8 && tries < 50; tries++) {
        corio_timeout to;
        corio_timeout_enter(&to, 0.3);
        t0 = corio_time();
        filler[nf] = corio_tcp_connect("127.0.0.1", port);
        rc = corio_timeout_exit(&to, filler[nf]);
        if (rc < 0 && accept_queue_full(l)) break;
        if (rc >= 0) nf++;
    }
    if (nf == 8) {
        printf("skip connect timeout: the kernel accepted every connection\n");
    } else {
        CHECK_EQ(rc, -ETIMEDOUT);
        double el = corio_time() - t0;
        CHECK(el >= 0.25 && el < 10.0); /* the timeout, not before (above: only a hang) */
    }
    for (int i = 0; i < nf; i++) corio_close(filler[i]);
    corio_close(l);
    return 0;
}

static void test_connect_timeout(void) { CHECK_EQ(test_run(connect_timeout_main, NULL, 0), 0); }

/* Happy eyeballs: "localhost" is 127.0.0.1 then ::1.  The IPv4 listener's
 * backlog is full, so an attempt there hangs; the IPv6 one on the same
 * port answers.  One at a time, the connect would wait for the first
 * attempt; with a delay of 0.1 s the second starts then, and wins. */
static int eyeballs_main(void *arg) {
    (void)arg;
    int l4 = corio_tcp_listen("127.0.0.1", 0, 1);
    int port = corio_local_port(l4);
    corio_listen_opts o6 = {.v6only = 1, .backlog = 8};
    int l6 = corio_tcp_listen_opts("::1", port, &o6);
    if (l6 < 0) {
        printf("skip happy eyeballs: no [::1]:%d (%s)\n", port, corio_strerror(l6));
        corio_close(l4);
        return 0;
    }
    int filler[8], nf = 0;
    for (int tries = 0; nf < 8 && tries < 50; tries++) { /* fill the IPv4 backlog until a connect hangs */
        corio_timeout to;
        corio_timeout_enter(&to, 0.2);
        filler[nf] = corio_tcp_connect("127.0.0.1", port);
        int rc = corio_timeout_exit(&to, filler[nf]);
        if (rc < 0 && accept_queue_full(l4)) break;
        if (rc >= 0) nf++;
    }
    if (nf == 8) {
        printf("skip happy eyeballs: the kernel accepted every connection\n");
    } else {
        corio_connect_opts co = {.happy_eyeballs_delay = 0.1};
        double t0 = corio_time();
        corio_timeout to;
        corio_timeout_enter(&to, 3.0);
        int fd = corio_tcp_connect_opts("localhost", port, &co);
        fd = corio_timeout_exit(&to, fd);
        double el = corio_time() - t0;
        CHECK(fd >= 0);
        CHECK(el >= 0.09 && el < 3.0); /* after the delay, not before; above: within the scope (a hang) */
        char peer[CORIO_ADDRSTRLEN], want[CORIO_ADDRSTRLEN];
        snprintf(want, sizeof want, "[::1]:%d", port);
        CHECK(fd >= 0 && corio_peername(fd, peer, sizeof peer) > 0 && strcmp(peer, want) == 0);
        if (fd >= 0) corio_close(fd);
        /* Cancelled while both attempts run: nothing is left open. */
        corio_timeout_enter(&to, 0.05);
        co.happy_eyeballs_delay = 0.01;
        int l6b = l6;
        corio_close(l6b); /* now both hang or fail */
        l6 = -1;
        fd = corio_tcp_connect_opts("localhost", port, &co);
        fd = corio_timeout_exit(&to, fd);
        CHECK(fd == -ETIMEDOUT || fd == -ECONNREFUSED);
    }
    for (int i = 0; i < nf; i++) corio_close(filler[i]);
    if (l6 >= 0) corio_close(l6);
    corio_close(l4);
    return 0;
}

static void test_happy_eyeballs(void) { CHECK_EQ(test_run(eyeballs_main, NULL, 0), 0); }

/* ---- Unix sockets ------------------------------------------------------------- */

static int unix_main(void *arg) {
    const char *path = arg;
    lfd = corio_unix_listen(path, 8);
    CHECK(lfd >= 0);
    if (path[0] == '@') CHECK_EQ(corio_unix_listen(path, 8), -EADDRINUSE); /* a file would be replaced: test_unix_stale */
    corio_task *srv = corio_spawn(echo_once, NULL);
    int fd = corio_unix_connect(path);
    CHECK(fd >= 0);
    char name[CORIO_ADDRSTRLEN];
    CHECK(corio_peername(fd, name, sizeof name) > 0);
    CHECK(strcmp(name, path) == 0);
    CHECK_EQ(corio_sockname(fd, name, sizeof name), 0); /* unnamed */
    CHECK_EQ(corio_write_all(fd, "unix", 4), 4);
    char buf[8];
    CHECK_EQ(corio_read(fd, buf, sizeof buf), 4);
    shutdown(fd, SHUT_WR);
    CHECK_EQ(corio_read(fd, buf, sizeof buf), 0);
    corio_close(fd);
    CHECK_EQ(corio_join(srv), 0);
    corio_close(lfd);
    unlink(path[0] == '@' ? "/nonexistent" : path);
    /* Nobody listens any more. */
    CHECK(corio_unix_connect(path) == -ENOENT || corio_unix_connect(path) == -ECONNREFUSED);
    return 0;
}

/* asyncio's create_unix_server: a socket file left at the path is replaced;
 * any other file there is EADDRINUSE, and stays. */
static int unix_stale_main(void *arg) {
    const char *path = arg;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(s >= 0);
    CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s); /* the file stays: a stale socket */
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode));
    int l = corio_unix_listen(path, 8);
    CHECK(l >= 0);
    int fd = corio_unix_connect(path);
    CHECK(fd >= 0);
    int c = corio_accept(l, NULL, NULL);
    CHECK(c >= 0);
    corio_close(c);
    corio_close(fd);
    corio_close(l);
    unlink(path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK_EQ(corio_unix_listen(path, 8), -EADDRINUSE);
    CHECK(stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
    unlink(path);
    return 0;
}


static void test_unix(void) {
    char dir[] = "/tmp/corio-net-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/sock", dir);
    CHECK_EQ(test_run(unix_main, path, 0), 0);
    CHECK_EQ(test_run(unix_stale_main, path, 0), 0);
    snprintf(path, sizeof path, "@corio-test-%d", (int)getpid());
    CHECK_EQ(test_run(unix_main, path, 0), 0);
    rmdir(dir);
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    CHECK_EQ(corio_unix_listen(longpath, 1), -ENAMETOOLONG);
    CHECK_EQ(corio_unix_listen(NULL, 1), -EINVAL);
}

/* ---- UDP and socketpair ----------------------------------------------------- */

static int udp_main(void *arg) {
    (void)arg;
    int s = corio_udp_bind("127.0.0.1", 0);
    CHECK(s >= 0);
    int c = corio_udp_connect("127.0.0.1", corio_local_port(s));
    CHECK(c >= 0);
    CHECK_EQ(corio_send(c, "datagram", 8, 0), 8);
    char buf[64];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    CHECK_EQ(corio_recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 8);
    CHECK(memcmp(buf, "datagram", 8) == 0);
    char who[CORIO_ADDRSTRLEN], mine[CORIO_ADDRSTRLEN];
    CHECK(corio_sockaddr_format((struct sockaddr *)&from, fl, who, sizeof who) > 0);
    CHECK(corio_sockname(c, mine, sizeof mine) > 0);
    CHECK(strcmp(who, mine) == 0);
    CHECK_EQ(corio_sendto(s, "reply", 5, 0, (struct sockaddr *)&from, fl), 5);
    CHECK_EQ(corio_recv(c, buf, sizeof buf, 0), 5);
    CHECK(memcmp(buf, "reply", 5) == 0);
    /* A datagram to a port nobody listens on: the connected socket hears ECONNREFUSED. */
    int dead = corio_udp_bind("127.0.0.1", 0);
    int dport = corio_local_port(dead);
    corio_close(dead);
    int c2 = corio_udp_connect("127.0.0.1", dport);
    CHECK_EQ(corio_send(c2, "x", 1, 0), 1);
    corio_timeout to;
    corio_timeout_enter(&to, 1.0);
    int rc = (int)corio_recv(c2, buf, sizeof buf, 0);
    rc = corio_timeout_exit(&to, rc);
    CHECK(rc == -ECONNREFUSED || rc == -ETIMEDOUT);
    corio_close(c2);
    corio_close(c);
    corio_close(s);
    CHECK_EQ(corio_udp_connect("127.0.0.1", 0), -EINVAL);
    CHECK_EQ(corio_udp_connect(NULL, 1), -EINVAL);
    return 0;
}

static void test_udp(void) { CHECK_EQ(test_run(udp_main, NULL, 0), 0); }

static int pair_main(void *arg) {
    (void)arg;
    int sv[2];
    CHECK_EQ(corio_socketpair(SOCK_STREAM, sv), 0);
    CHECK_EQ(corio_write(sv[0], "ab", 2), 2);
    char b[4];
    CHECK_EQ(corio_read(sv[1], b, sizeof b), 2);
    corio_close(sv[0]);
    corio_close(sv[1]);
    CHECK_EQ(corio_socketpair(SOCK_DGRAM, sv), 0);
    CHECK_EQ(corio_send(sv[0], "d", 1, 0), 1);
    CHECK_EQ(corio_recv(sv[1], b, sizeof b, 0), 1);
    corio_close(sv[0]);
    corio_close(sv[1]);
    CHECK_EQ(corio_socketpair(SOCK_STREAM, NULL), -EINVAL);
    return 0;
}

static void test_socketpair(void) { CHECK_EQ(test_run(pair_main, NULL, 0), 0); }

/* ---- options and formatting ------------------------------------------------------ */

static void test_options_and_format(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(corio_set_nodelay(fd, 1), 0);
    CHECK_EQ(corio_set_keepalive(fd, 1), 0);
    CHECK_EQ(corio_set_reuseaddr(fd, 1), 0);
    CHECK_EQ(corio_set_reuseport(fd, 1), 0);
    int v = 0;
    socklen_t l = sizeof v;
    getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &l);
    CHECK(v != 0);
    close(fd);
    CHECK_EQ(corio_set_nodelay(-1, 1), -EBADF);
    CHECK_EQ(corio_sockname(-1, (char[8]){0}, 8), -EBADF);

    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(5000)};
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char buf[CORIO_ADDRSTRLEN];
    CHECK_EQ(corio_sockaddr_format((struct sockaddr *)&in, sizeof in, buf, sizeof buf), 14);
    CHECK(strcmp(buf, "127.0.0.1:5000") == 0);
    CHECK_EQ(corio_sockaddr_format((struct sockaddr *)&in, sizeof in, buf, 5), -ENOSPC);
    CHECK_EQ(corio_sockaddr_format(NULL, 0, buf, sizeof buf), -EINVAL);
    CHECK_EQ(corio_sockaddr_format((struct sockaddr *)&in, 2, buf, sizeof buf), -EINVAL);
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    CHECK(corio_sockaddr_format((struct sockaddr *)&in6, sizeof in6, buf, sizeof buf) > 0);
    CHECK(strcmp(buf, "[2001:db8::1]:443") == 0);
    struct sockaddr sa = {.sa_family = AF_APPLETALK};
    CHECK_EQ(corio_sockaddr_format(&sa, sizeof sa, buf, sizeof buf), -EAFNOSUPPORT);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    net_warm_up();
    RUN_NET_TEST(test_resolve);
    RUN_NET_TEST(test_resolve_dns);
    RUN_NET_TEST(test_resolve_dns_virtual_clock);
    RUN_NET_TEST(test_resolve_getaddrinfo);
    RUN_NET_TEST(test_tcp_ipv4);
    RUN_NET_TEST(test_tcp_ipv6);
    RUN_NET_TEST(test_refused);
    RUN_NET_TEST(test_connect_timeout);
    RUN_NET_TEST(test_happy_eyeballs);
    RUN_NET_TEST(test_unix);
    RUN_NET_TEST(test_udp);
    RUN_NET_TEST(test_socketpair);
    RUN_NET_TEST(test_options_and_format);
    TEST_MAIN_END();
}
