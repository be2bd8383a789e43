/*
 * corio/net.h - sockets: name resolution, TCP, UDP, Unix, socket options
 * and addresses.
 *
 * Every function here returns a plain file descriptor (non-blocking,
 * close-on-exec) that the caller owns: do I/O on it with corio/io.h (or
 * wrap it in a stream, corio/stream.h) and release it with corio_close().
 * Errors are negative errno values; name resolution adds the CORIO_EAI_*
 * codes below, which corio_strerror() names.
 *
 * Hosts are names ("localhost", "example.org") or numeric addresses
 * ("127.0.0.1", "::1", "[::1]", "fe80::1%eth0").  Numeric addresses, and
 * "localhost" (RFC 6761: always the loopback addresses), never touch DNS;
 * names under ".invalid" fail at once (RFC 6761 again).  Other names are
 * resolved by c-ares driven from the loop (src/dns.c): a lookup suspends
 * only the calling task, never the loop, and cancelling the task cancels
 * the lookup (builds without c-ares fall back to getaddrinfo on a thread
 * per lookup; see corio_resolver_name).  The environment variable CORIO_DNS_SERVERS (comma-separated
 * "host:port" entries) replaces the name servers of /etc/resolv.conf.
 * Ports are 0..65535 (0: any free port when listening).
 */
#ifndef CORIO_NET_H
#define CORIO_NET_H

#include "types.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Name resolution failures (getaddrinfo's EAI_* as negative codes that
 * cannot collide with an errno).  corio_strerror() gives their messages.
 */
enum {
    CORIO_EAI_NONAME = -11001,  /* the name does not exist ("Name or service not known") */
    CORIO_EAI_AGAIN = -11002,   /* temporary failure: no DNS server answered, or it failed */
    CORIO_EAI_FAIL = -11003,    /* non-recoverable failure (a bad answer, ...) */
    CORIO_EAI_NODATA = -11004,  /* the name exists but has no address of the family asked */
    CORIO_EAI_FAMILY = -11005,  /* address family not supported */
};

/* A socket address of any family we handle, with its length. */
typedef struct corio_sockaddr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage ss;
    } u;
    socklen_t len;  /* bytes of u in use */
} corio_sockaddr;

/*
 * Resolve host and port into at most `cap` addresses stored in out[], in
 * the order to try them.  family: AF_UNSPEC, AF_INET or AF_INET6.  host
 * NULL or "" means the wildcard address when `passive` is set (listening:
 * "0.0.0.0" and "::") and the loopback otherwise.  Returns the number of
 * addresses stored (>= 1) or a negative code: CORIO_EAI_*, -EINVAL (bad
 * port, family, NULL out, cap 0), -ECANCELED, -ENOMEM, -EPERM when a DNS
 * lookup is needed outside a task.  SUSPENDS while c-ares asks DNS
 * (numeric hosts and "localhost" return at once, also outside a task).
 */
CORIO_API int corio_resolve(const char *host, int port, int family, int passive, corio_sockaddr *out,
                            size_t cap);

/*
 * Which resolver corio_resolve uses for names that need DNS: "c-ares"
 * (driven by the loop), or "getaddrinfo" (a thread per lookup: builds
 * without c-ares, or CORIO_RESOLVER=getaddrinfo in the environment).
 */
CORIO_API const char *corio_resolver_name(void);

/* Options of corio_tcp_connect_opts (zero-initialise; zero = default). */
typedef struct corio_connect_opts {
    int family;          /* AF_UNSPEC (default), AF_INET or AF_INET6 */
    int no_nodelay;      /* nonzero: leave Nagle's algorithm on (default: TCP_NODELAY set, as asyncio) */
    int keepalive;       /* nonzero: SO_KEEPALIVE */
    const char *local_host; /* bind to this local address first (NULL: any) */
    int local_port;      /* and port (0: any) */
    double happy_eyeballs_delay; /* > 0: RFC 8305 (asyncio's happy_eyeballs_delay): the
                                    addresses are interleaved by family and each next attempt
                                    starts after this many seconds, or as soon as the previous
                                    one failed, while earlier ones go on; the first to connect
                                    wins and the others are cancelled.  0: one at a time.
                                    Not used with local_host / local_port */
} corio_connect_opts;

/*
 * Open a TCP connection (asyncio create_connection / open_connection's
 * socket part): resolve host, try each address in turn until one
 * connects, set TCP_NODELAY.  Returns the connected fd or the error of the
 * last address tried (-ECONNREFUSED, -ENETUNREACH, -ETIMEDOUT, ...), a
 * CORIO_EAI_* code, -EINVAL (NULL host, bad port), -ECANCELED.  Put it
 * inside a corio_timeout scope for a connect timeout.  SUSPENDS.
 */
CORIO_API int corio_tcp_connect(const char *host, int port);
CORIO_API int corio_tcp_connect_opts(const char *host, int port, const corio_connect_opts *opts);

/* Options of corio_tcp_listen_opts and corio_start_server (zero = default). */
typedef struct corio_listen_opts {
    int family;     /* AF_UNSPEC (default: the first address the host resolves to), AF_INET, AF_INET6 */
    int backlog;    /* listen(2) backlog; 0: 128 */
    int reuseport;  /* nonzero: SO_REUSEPORT (N loops sharing one port) */
    int no_reuseaddr; /* nonzero: do not set SO_REUSEADDR (on by default, as asyncio) */
    int v6only;     /* nonzero: IPV6_V6ONLY on an IPv6 socket */
} corio_listen_opts;

/*
 * A listening TCP socket on host:port (host NULL or "": all interfaces,
 * IPv4 "0.0.0.0" unless family is AF_INET6).  Binds the first resolved
 * address that works.  Returns the fd, or -EADDRINUSE, -EACCES, -EINVAL,
 * a CORIO_EAI_* code, ...  SUSPENDS only while a name is looked up.
 * corio_local_port() tells which port port 0 got.
 */
CORIO_API int corio_tcp_listen(const char *host, int port, int backlog);
CORIO_API int corio_tcp_listen_opts(const char *host, int port, const corio_listen_opts *opts);

/*
 * Unix stream sockets by path.  Paths longer than sun_path are -ENAMETOOLONG;
 * a path starting with '@' names the abstract namespace.  listen first
 * removes a socket file found at the path (as asyncio's create_unix_server
 * does: one left by a server that is gone - or, as there, one a server
 * still listens on, which then loses its name); any other file there is
 * -EADDRINUSE.  A server (corio_start_unix_server, corio_server_open)
 * removes its socket file when it closes.
 * connect SUSPENDS (rarely: a full backlog).  Return the fd or -errno.
 */
CORIO_API int corio_unix_connect(const char *path);
CORIO_API int corio_unix_listen(const char *path, int backlog);

/*
 * UDP.  corio_udp_bind: a socket bound to host:port (port 0: any) to use
 * with corio_recvfrom / corio_sendto.  corio_udp_connect: a socket
 * connected to host:port (corio_send / corio_recv; the kernel then filters
 * other senders).  Return the fd or a negative code.  SUSPEND only while
 * a name is looked up.
 */
CORIO_API int corio_udp_bind(const char *host, int port);
CORIO_API int corio_udp_connect(const char *host, int port);

/*
 * socketpair(2), non-blocking and close-on-exec.  type: SOCK_STREAM or
 * SOCK_DGRAM (AF_UNIX).  0 or -errno (-EINVAL for NULL fds).
 */
CORIO_API int corio_socketpair(int type, int fds[2]);

/* Socket options.  0 or -errno. */
CORIO_API int corio_set_nodelay(int fd, int on);    /* TCP_NODELAY */
CORIO_API int corio_set_keepalive(int fd, int on);  /* SO_KEEPALIVE */
CORIO_API int corio_set_reuseaddr(int fd, int on);  /* SO_REUSEADDR */
CORIO_API int corio_set_reuseport(int fd, int on);  /* SO_REUSEPORT */
/* setsockopt(2) with an int value, for the rest. */
CORIO_API int corio_setsockopt_int(int fd, int level, int name, int value);

/*
 * Format an address: "127.0.0.1:5000", "[::1]:5000", a Unix path
 * ("@name" for the abstract namespace, "" for an unnamed socket).  Writes
 * at most `cap` bytes including the NUL (CORIO_ADDRSTRLEN is always
 * enough) and returns the length of the full string, or -EINVAL
 * (NULL arguments), -EAFNOSUPPORT.  If it does not fit, -ENOSPC.
 */
#define CORIO_ADDRSTRLEN 120
CORIO_API int corio_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap);

/* The local (peer) address of a socket, formatted as above.  Length or -errno. */
CORIO_API int corio_sockname(int fd, char *buf, size_t cap);
CORIO_API int corio_peername(int fd, char *buf, size_t cap);

/* The local port a socket is bound to (after binding port 0), or -errno. */
CORIO_API int corio_local_port(int fd);

#ifdef __cplusplus
}
#endif
#endif
