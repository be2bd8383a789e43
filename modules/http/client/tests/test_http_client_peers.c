/*
 * test_http_client_peers - corio-http's client against servers it did not
 * write: nginx (keep-alive, gzip on, so chunked compressed bodies; a big
 * static file; HTTPS with a test CA), Python's http.server (HTTP/1.0
 * style, close-delimited), Node's http (chunked by default, keep-alive)
 * and aiohttp.web.  Each peer is started by the test on a free port of
 * 127.0.0.1 and skipped with a message when it cannot start.  Both
 * backends; every case ends with a clean loop close.
 *
 * CORIO_TEST_BULK_MIB (default 1024) sizes the big download (hashed as it
 * arrives, never held in memory); the valgrind run sets it lower.
 */
#define _GNU_SOURCE 1
#include "test.h"
#include "net_util.h"
#include "client_test_util.h"

#include <corio/http_client.h>

#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmpdir[] = "/tmp/corio_hc_peers_XXXXXX";
static int ngx_port, ngx_tls_port, py_port, node_port, aio_port;
static pid_t kids[8];
static int nkids;
static size_t bulk_bytes;

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static pid_t spawn_kid(char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int dn = open("/dev/null", O_RDWR);
        dup2(dn, 0);
        dup2(dn, 1);
        dup2(dn, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0) kids[nkids++] = pid;
    return pid;
}

/* Poll until something listens on port (or the child died): up to secs. */
static int wait_listening(int port, pid_t pid, double secs) {
    for (int i = 0; i < secs * 20; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int rc = connect(s, (struct sockaddr *)&a, sizeof a);
        close(s);
        if (rc == 0) return port;
        if (waitpid(pid, NULL, WNOHANG) == pid) return 0;
        usleep(50000);
    }
    return 0;
}

static int start_nginx(void) {
    if (access("/usr/sbin/nginx", X_OK) != 0) return 0;
    int port = free_port(), tport = free_port();
    char conf[PATH_MAX], global[PATH_MAX + 64], tls[1024] = "";
    snprintf(conf, sizeof conf, "%s/nginx.conf", tmpdir);
    char ca[PATH_MAX];
    snprintf(ca, sizeof ca, "%s/certs/server.pem", tmpdir);
    if (access(ca, R_OK) == 0) {
        snprintf(tls, sizeof tls,
                 "    server { listen 127.0.0.1:%d ssl; root %s/www; ssl_certificate %s/certs/server.pem;\n"
                 "             ssl_certificate_key %s/certs/server.key; gzip on; gzip_types text/plain; }\n",
                 tport, tmpdir, tmpdir, tmpdir);
    }
    FILE *f = fopen(conf, "w");
    if (!f) return 0;
    fprintf(f,
            "error_log %s/nginx-error.log;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    access_log off;\n"
            "    client_body_temp_path %s/body; proxy_temp_path %s/proxy; fastcgi_temp_path %s/fastcgi;\n"
            "    uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
            "    keepalive_requests 100000;\n"
            "    types { text/plain txt; application/octet-stream bin; }\n"
            "    server { listen 127.0.0.1:%d; root %s/www;\n"
            "             gzip on; gzip_min_length 1; gzip_types text/plain;\n"
            "             location = /redirect { return 301 /hello.txt; }\n"
            "             location = /see-other { return 303 /hello.txt; } }\n"
            "%s"
            "}\n",
            tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, tmpdir, port, tmpdir, tls);
    fclose(f);
    snprintf(global, sizeof global, "daemon off; master_process off; pid %s/nginx.pid;", tmpdir);
    char *argv[] = {"/usr/sbin/nginx", "-p", tmpdir, "-c", conf, "-e", "/dev/null", "-g", global, NULL};
    pid_t pid = spawn_kid(argv);
    ngx_port = wait_listening(port, pid, 20);
    if (ngx_port && tls[0]) ngx_tls_port = tport;
    return ngx_port;
}

static void start_python(void) {
    int port = free_port();
    char p[16], dir[PATH_MAX];
    snprintf(p, sizeof p, "%d", port);
    snprintf(dir, sizeof dir, "%s/www", tmpdir);
    char *argv[] = {"python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, p, NULL};
    py_port = wait_listening(port, spawn_kid(argv), 20);
}

static void start_node(void) {
    int port = free_port();
    char js[1024];
    snprintf(js, sizeof js,
             "require('http').createServer((q, s) => {"
             " if (q.url === '/chunked') { s.write('a'.repeat(1000)); setTimeout(() => { s.write('b'.repeat(1000)); s.end('end'); }, 5); }"
             " else { let b = ''; q.on('data', d => b += d); q.on('end', () => s.end(q.method + ' ' + b)); }"
             "}).listen(%d, '127.0.0.1');",
             port);
    char *argv[] = {"node", "-e", js, NULL};
    node_port = wait_listening(port, spawn_kid(argv), 20);
}

static void start_aiohttp(void) {
    int port = free_port();
    char py[1024];
    snprintf(py, sizeof py,
             "from aiohttp import web\n"
             "async def h(r):\n"
             "    body = await r.read()\n"
             "    return web.Response(text=r.method + ' ' + body.decode())\n"
             "async def stream(r):\n"
             "    s = web.StreamResponse(); s.enable_compression(); await s.prepare(r)\n"
             "    for i in range(100): await s.write(b'line %%d\\n' %% i)\n"
             "    await s.write_eof(); return s\n"
             "app = web.Application(); app.router.add_route('*', '/echo', h); app.router.add_get('/stream', stream)\n"
             "web.run_app(app, host='127.0.0.1', port=%d, print=None)\n",
             port);
    /* Debian's python3 has python3-aiohttp; another python3 first in PATH may not. */
    const char *bin = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    char *argv[] = {(char *)bin, "-c", py, NULL};
    aio_port = wait_listening(port, spawn_kid(argv), 30);
}

static const char *U(int tls, int port, const char *path) {
    static char bufs[8][256];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 256, "%s://%s:%d%s", tls ? "https" : "http", tls ? "localhost" : "127.0.0.1", port, path);
    return b;
}

static char hello[20000];

CASE(t_nginx) {
    (void)arg;
    if (!ngx_port) {
        printf("SKIP t_nginx: nginx did not start\n");
        return 0;
    }
    corio_http_session *s = corio_http_session_new(NULL);
    char *b;
    size_t n;
    for (int i = 0; i < 5; i++) {
        corio_http_resp *r;
        CHECK_EQ(corio_http_session_request(s, "GET", U(0, ngx_port, "/hello.txt"), NULL, &r), 0);
        size_t el;
        const char *e = corio_http_resp_header(r, "content-encoding", &el);
#ifdef HAVE_ZLIB
        CHECK(e && el == 4 && !memcmp(e, "gzip", 4)); /* gzip on: compressed, chunked */
#else
        (void)e;
#endif
        CHECK_EQ(corio_http_resp_read_all(r, 1 << 20, &b, &n), 0);
        CHECK(n == sizeof hello && !memcmp(b, hello, n));
        free(b);
        corio_http_resp_free(r);
    }
    CHECK_EQ(corio_http_session_opened(s), 1); /* keep-alive */
    CHECK_EQ(fetch(s, "GET", U(0, ngx_port, "/redirect"), NULL, &b, &n), 200);
    CHECK(n == sizeof hello);
    free(b);
    CHECK_EQ(fetch(s, "HEAD", U(0, ngx_port, "/hello.txt"), NULL, NULL, NULL), 200);
    CHECK_EQ(fetch(s, "GET", U(0, ngx_port, "/missing"), NULL, NULL, NULL), 404);
    corio_http_request_opts raw = {.raw = 1};
    CHECK_EQ(fetch(s, "GET", U(0, ngx_port, "/hello.txt"), &raw, &b, &n), 200);
    CHECK(n == sizeof hello);
    free(b);
    CHECK_EQ(corio_http_session_opened(s), 1);
    corio_http_session_close(s);
    return 0;
}

/* A big file, hashed as it arrives: memory stays one buffer. */
CASE(t_nginx_bulk) {
    (void)arg;
    if (!ngx_port) {
        printf("SKIP t_nginx_bulk: nginx did not start\n");
        return 0;
    }
    corio_http_session *s = corio_http_session_new(NULL);
    corio_http_resp *r;
    corio_http_request_opts o = {.timeout.total = 600};
    CHECK_EQ(corio_http_session_request(s, "GET", U(0, ngx_port, "/big.bin"), &o, &r), 0);
    CHECK_EQ(corio_http_resp_content_length(r), (int64_t)bulk_bytes);
    static char buf[256 * 1024];
    uint64_t h = FNV_INIT, want = FNV_INIT;
    size_t got = 0;
    for (;;) {
        ssize_t k = corio_http_resp_read(r, buf, sizeof buf);
        if (k <= 0) {
            CHECK_EQ(k, 0);
            break;
        }
        h = fnv1a(h, buf, (size_t)k);
        got += (size_t)k;
    }
    corio_http_resp_free(r);
    CHECK_EQ(got, bulk_bytes);
    for (size_t i = 0; i < bulk_bytes; i += PAT_LEN) {
        size_t piece = bulk_bytes - i < PAT_LEN ? bulk_bytes - i : PAT_LEN;
        want = fnv1a(want, pat, piece);
    }
    CHECK(h == want);
    corio_http_session_close(s);
    return 0;
}

#ifdef HAVE_TLS
CASE(t_nginx_https) {
    (void)arg;
    if (!ngx_tls_port) {
        printf("SKIP t_nginx_https: no TLS nginx\n");
        return 0;
    }
    char ca[PATH_MAX];
    snprintf(ca, sizeof ca, "%s/certs/ca.pem", tmpdir);
    corio_http_session_opts so = {.cafile = ca};
    corio_http_session *s = corio_http_session_new(&so);
    char *b;
    size_t n;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(fetch(s, "GET", U(1, ngx_tls_port, "/hello.txt"), NULL, &b, &n), 200);
        CHECK(n == sizeof hello && !memcmp(b, hello, n));
        free(b);
    }
    CHECK_EQ(corio_http_session_opened(s), 1);
    corio_http_session_close(s);
    s = corio_http_session_new(NULL);
    CHECK_EQ(fetch(s, "GET", U(1, ngx_tls_port, "/hello.txt"), NULL, NULL, NULL), CORIO_HTTP_ETLS_VERIFY);
    corio_http_session_close(s);
    return 0;
}
#endif

CASE(t_python_http_server) {
    (void)arg;
    if (!py_port) {
        printf("SKIP t_python_http_server: python3 -m http.server did not start\n");
        return 0;
    }
    corio_http_session *s = corio_http_session_new(NULL);
    char *b;
    size_t n;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(fetch(s, "GET", U(0, py_port, "/hello.txt"), NULL, &b, &n), 200);
        CHECK(n == sizeof hello && !memcmp(b, hello, n));
        free(b);
    }
    CHECK_EQ(fetch(s, "GET", U(0, py_port, "/nope"), NULL, NULL, NULL), 404);
    CHECK_EQ(corio_http_session_opened(s), 4); /* HTTP/1.0: a connection each */
    CHECK_EQ(corio_http_session_connections(s), 0);
    corio_http_session_close(s);
    return 0;
}

CASE(t_node) {
    (void)arg;
    if (!node_port) {
        printf("SKIP t_node: node did not start\n");
        return 0;
    }
    corio_http_session *s = corio_http_session_new(NULL);
    char *b;
    size_t n;
    CHECK_EQ(fetch(s, "GET", U(0, node_port, "/chunked"), NULL, &b, &n), 200);
    CHECK(n == 2003 && b[0] == 'a' && b[1000] == 'b' && !memcmp(b + 2000, "end", 3));
    free(b);
    corio_http_request_opts o = {.body = "payload", .body_len = 7};
    CHECK_EQ(fetch(s, "POST", U(0, node_port, "/"), &o, &b, &n), 200);
    CHECK(n == 12 && !memcmp(b, "POST payload", 12));
    free(b);
    CHECK_EQ(fetch(s, "DELETE", U(0, node_port, "/"), NULL, &b, &n), 200);
    CHECK(n == 7 && !memcmp(b, "DELETE ", 7));
    free(b);
    CHECK_EQ(corio_http_session_opened(s), 1);
    corio_http_session_close(s);
    return 0;
}

CASE(t_aiohttp) {
    (void)arg;
    if (!aio_port) {
        printf("SKIP t_aiohttp: aiohttp.web did not start (python3-aiohttp missing?)\n");
        return 0;
    }
    corio_http_session *s = corio_http_session_new(NULL);
    char *b;
    size_t n;
    corio_http_request_opts o = {.body = "x=1", .body_len = 3};
    CHECK_EQ(fetch(s, "PATCH", U(0, aio_port, "/echo"), &o, &b, &n), 200);
    CHECK(n == 9 && !memcmp(b, "PATCH x=1", 9));
    free(b);
    CHECK_EQ(fetch(s, "GET", U(0, aio_port, "/stream"), NULL, &b, &n), 200);
    CHECK(n > 100 && b && !strncmp(b, "line 0\nline 1\n", 14) && strstr(b, "line 99\n"));
    free(b);
    CHECK_EQ(corio_http_session_opened(s), 1);
    corio_http_session_close(s);
    return 0;
}

static void run_all(void) {
    RUN_NET_TEST(t_nginx);
    RUN_NET_TEST(t_nginx_bulk);
#ifdef HAVE_TLS
    RUN_NET_TEST(t_nginx_https);
#endif
    RUN_NET_TEST(t_python_http_server);
    RUN_NET_TEST(t_node);
    RUN_NET_TEST(t_aiohttp);
}

static int write_file(const char *path, const void *p, size_t n, size_t total) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    for (size_t done = 0; done < total; done += n) {
        size_t piece = total - done < n ? total - done : n;
        if (fwrite(p, 1, piece, f) != piece) {
            fclose(f);
            return -1;
        }
    }
    return fclose(f);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    pat_init();
    const char *e = getenv("CORIO_TEST_BULK_MIB");
    bulk_bytes = (size_t)(e && *e ? strtoul(e, NULL, 10) : 1024) << 20;
    if (!mkdtemp(tmpdir)) return 77;
    char path[PATH_MAX + 32], cmd[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/www", tmpdir);
    mkdir(path, 0755);
    for (size_t i = 0; i < sizeof hello; i++) hello[i] = (char)('a' + i % 23 + (i % 100 == 99 ? -50 : 0));
    snprintf(path, sizeof path, "%s/www/hello.txt", tmpdir);
    int ok = write_file(path, hello, sizeof hello, sizeof hello) == 0;
    snprintf(path, sizeof path, "%s/www/big.bin", tmpdir);
    ok = ok && write_file(path, pat, PAT_LEN, bulk_bytes) == 0;
    if (!ok) {
        printf("SKIP: cannot write the served files in %s\n", tmpdir);
        return 77;
    }
#ifdef HAVE_TLS
    snprintf(cmd, sizeof cmd, "sh %s/scripts/make-test-certs.sh %s/certs >/dev/null 2>&1", SOURCE_DIR, tmpdir);
    if (system(cmd) != 0) printf("no test certificates: HTTPS skipped\n");
#endif
    if (!start_nginx()) printf("nginx did not start: its cases are skipped\n");
    start_python();
    start_node();
    start_aiohttp();
    printf("peers: nginx %d (tls %d), http.server %d, node %d, aiohttp %d\n", ngx_port, ngx_tls_port, py_port,
           node_port, aio_port);
    net_warm_up();
    run_on_each_backend(run_all);
    for (int i = 0; i < nkids; i++) {
        kill(kids[i], SIGTERM);
        waitpid(kids[i], NULL, 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    TEST_MAIN_END();
}
