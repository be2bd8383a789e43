/*
 * survey [-c CONCURRENCY] [-t TIMEOUT_SECONDS] HOSTFILE - which web
 * servers do these hosts run?
 *
 * HOSTFILE has one `host` or `host:port` per line (port 80 by default;
 * `[v6addr]:port` for IPv6; blank lines and lines starting with `#` are
 * skipped).  For each host: connect, send
 *
 *     OPTIONS / HTTP/1.1\r\nHost: <host>\r\nConnection: close\r\n\r\n
 *
 * read the response head and take the product from its Server header: the
 * value up to the first '/' (the seed's `Server: (.+?)[/\r\n]`), or
 * "(none)" when there is none.  Any HTTP response counts, whatever its
 * status (many servers answer OPTIONS with 405 or 501).  At most
 * CONCURRENCY hosts (default 10) are surveyed at once, through a
 * semaphore, and each under its own timeout (default 5 s) covering the
 * lookup, the connect and the response.
 *
 * stdout gets only the result: one line per product, "COUNT PRODUCT",
 * most frequent first and ties by name (byte order), then "errors N"
 * (refused, reset, timed out, unresolvable, not HTTP), then
 * "elapsed S.SS s".  Each error is explained on stderr as it happens.
 * Exit 0 when finished, whatever the errors; 2 for bad usage, 1 when
 * HOSTFILE cannot be read (missing, a directory, no permission, an I/O
 * error: then nothing is surveyed, and stderr says why).
 *
 *     async def survey(host, port):
 *         async with sem, asyncio.timeout(t):
 *             reader, writer = await asyncio.open_connection(host, port)
 *             writer.write(f'OPTIONS / HTTP/1.1\r\nHost: {host}\r\n'
 *                          'Connection: close\r\n\r\n'.encode())
 *             head = await reader.readuntil(b'\r\n\r\n')
 *             m = re.search(rb'Server: (.+?)[/\r\n]', head)
 *             return m[1].decode() if m else '(none)'
 */
#include <corio.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest product name kept; longer ones are cut (a header is not a name). */
#define PRODUCT_MAX 128

/* One line of HOSTFILE and what became of it. */
typedef struct host {
    char *name;                  /* host name or address, without brackets */
    int port;                    /* 1..65535 */
    int err;                     /* 0, or why it failed (negative errno / CORIO_EAI_*) */
    char product[PRODUCT_MAX];   /* the Server product, or "(none)" */
} host;

static corio_semaphore sem;  /* at most CONCURRENCY surveys at once */
static double timeout_s = 5; /* per host */

/* The Server header's product in head (NUL-terminated), as the seed's regex
 * `Server: (.+?)[/\r\n]` finds it: the value up to '/', '\r' or '\n'. */
static void find_product(const char *head, char *out, size_t cap) {
    const char *p = strstr(head, "Server: ");
    size_t n = 0;
    if (p) {
        p += strlen("Server: ");
        n = strcspn(p, "/\r\n");
    }
    if (n == 0) { /* the regex needs at least one character */
        snprintf(out, cap, "(none)");
        return;
    }
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

/* Ask one host; 0 with h->product set, or a negative code. */
static int ask(host *h) {
    corio_reader *r;
    corio_writer *w;
    int rc = corio_open_connection(h->name, h->port, &r, &w);
    if (rc < 0) return rc;
    char req[512];
    const char *v6 = strchr(h->name, ':') ? "[" : ""; /* an IPv6 address goes in brackets */
    int n = snprintf(req, sizeof req, "OPTIONS / HTTP/1.1\r\nHost: %s%s%s\r\nConnection: close\r\n\r\n", v6,
                     h->name, *v6 ? "]" : "");
    if (n < 0 || (size_t)n >= sizeof req) rc = -ENAMETOOLONG;
    if (rc == 0) rc = corio_writer_write(w, req, (size_t)n);
    const char *head = NULL;
    size_t len = 0;
    if (rc == 0) rc = corio_reader_readuntil(r, "\r\n\r\n", 4, &head, &len);
    /* A server that closes right after its head without the blank line
     * still gave an HTTP answer. */
    if (rc == CORIO_EINCOMPLETE && len > 0) rc = 0;
    if (rc == 0 && (len < 5 || memcmp(head, "HTTP/", 5) != 0)) rc = -EPROTO;
    if (rc == 0) {
        char *copy = malloc(len + 1); /* the view ends at len: NUL-terminate a copy */
        if (!copy) {
            rc = -ENOMEM;
        } else {
            memcpy(copy, head, len);
            copy[len] = 0;
            find_product(copy, h->product, sizeof h->product);
            free(copy);
        }
    } else if (rc == CORIO_EINCOMPLETE) {
        rc = -ECONNRESET; /* closed without a word */
    }
    int crc = corio_stream_close(r, w);
    if (rc == 0 && crc == -ECANCELED) rc = crc; /* the answer is in: only a cancel matters now */
    return rc;
}

static int survey_one(void *arg) {
    host *h = arg;
    int rc = corio_semaphore_acquire(&sem);
    if (rc < 0) return h->err = rc;
    corio_timeout to;
    corio_timeout_enter(&to, timeout_s);
    rc = ask(h);
    rc = corio_timeout_exit(&to, rc);
    corio_semaphore_release(&sem);
    if (rc < 0) {
        h->err = rc;
        const char *v6 = strchr(h->name, ':') ? "[" : "";
        fprintf(stderr, "survey: %s%s%s:%d: %s\n", v6, h->name, *v6 ? "]" : "", h->port, corio_strerror(rc));
    }
    return rc;
}

typedef struct survey_args {
    host *hosts;
    size_t n;
    long concurrency;
} survey_args;

static int amain(void *arg) {
    survey_args *a = arg;
    corio_semaphore_init(&sem, a->concurrency);
    corio_task **tasks = calloc(a->n ? a->n : 1, sizeof *tasks);
    if (!tasks) return -ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        tasks[i] = corio_spawn(survey_one, &a->hosts[i]);
        if (!tasks[i]) {
            a->hosts[i].err = -ENOMEM;
            fprintf(stderr, "survey: %s:%d: %s\n", a->hosts[i].name, a->hosts[i].port, corio_strerror(-ENOMEM));
        }
    }
    for (size_t i = 0; i < a->n; i++)
        if (tasks[i]) corio_join(tasks[i]);
    free(tasks);
    corio_semaphore_destroy(&sem);
    return 0;
}

/* Parse one HOSTFILE entry (trimmed, not empty) into h.  0 or -EINVAL. */
static int parse_entry(char *s, host *h) {
    char *name = s, *port = NULL;
    if (*s == '[') { /* [v6addr] or [v6addr]:port */
        char *close = strchr(s, ']');
        if (!close || (close[1] && close[1] != ':')) return -EINVAL;
        *close = 0;
        name = s + 1;
        if (close[1] == ':') port = close + 2;
    } else {
        char *colon = strchr(s, ':');
        if (colon && !strchr(colon + 1, ':')) { /* exactly one ':': host:port (else a bare IPv6 address) */
            *colon = 0;
            port = colon + 1;
        }
    }
    if (!*name) return -EINVAL;
    long p = 80;
    if (port) {
        char *end;
        errno = 0;
        p = strtol(port, &end, 10);
        if (!*port || *end || errno || p < 1 || p > 65535) return -EINVAL;
    }
    h->name = strdup(name);
    h->port = (int)p;
    h->err = 0;
    h->product[0] = 0;
    return h->name ? 0 : -ENOMEM;
}

typedef struct tally {
    const char *product;
    size_t count;
} tally;

static int by_count_then_name(const void *x, const void *y) {
    const tally *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return strcmp(a->product, b->product);
}

static void usage(void) {
    fprintf(stderr, "usage: survey [-c CONCURRENCY] [-t TIMEOUT_SECONDS] HOSTFILE\n"
                    "  HOSTFILE: one host or host:port a line (port 80 by default), # comments\n"
                    "  -c  hosts surveyed at once (default 10)   -t  seconds per host (default 5)\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    setvbuf(stderr, NULL, _IOLBF, 0);
    long concurrency = 10;
    int opt;
    while ((opt = getopt(argc, argv, "c:t:")) != -1) {
        char *end;
        switch (opt) {
        case 'c':
            errno = 0;
            concurrency = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || concurrency < 1 || concurrency > 1000000) {
                fprintf(stderr, "survey: -c wants a number of hosts, 1 or more\n");
                return 2;
            }
            break;
        case 't':
            timeout_s = strtod(optarg, &end);
            if (!*optarg || *end || !isfinite(timeout_s) || timeout_s <= 0) {
                fprintf(stderr, "survey: -t wants a number of seconds above 0\n");
                return 2;
            }
            break;
        default:
            usage();
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage();
        return 2;
    }
    const char *path = argv[optind];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "survey: %s: cannot read: %s\n", path, strerror(errno));
        return 1;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    host *hosts = NULL;
    size_t n = 0, cap = 0, errors = 0;
    char *line = NULL;
    size_t linecap = 0;
    size_t lineno = 0;
    /* errno cleared first: getline's -1 is both end of file and failure. */
    while ((errno = 0, getline(&line, &linecap, f)) != -1) {
        lineno++;
        char *s = line, *e = line + strlen(line);
        while (*s && isspace((unsigned char)*s)) s++;
        while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
        if (!*s || *s == '#') continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            host *nh = realloc(hosts, ncap * sizeof *nh);
            if (!nh) {
                fprintf(stderr, "survey: out of memory\n");
                return 1;
            }
            hosts = nh;
            cap = ncap;
        }
        if (parse_entry(s, &hosts[n]) < 0) {
            fprintf(stderr, "survey: %s:%zu: not host or host:port: %s\n", path, lineno, s);
            errors++;
            continue;
        }
        n++;
    }
    /* A directory opens for reading and fails at the first read (EISDIR);
     * so does a file on a failing disk (EIO).  Half a host list is no
     * survey: stop here. */
    int read_err = errno;
    if (ferror(f) || read_err) {
        fprintf(stderr, "survey: %s: cannot read: %s\n", path, strerror(read_err ? read_err : EIO));
        for (size_t i = 0; i < n; i++) free(hosts[i].name);
        free(hosts);
        free(line);
        fclose(f);
        return 1;
    }
    free(line);
    fclose(f);

    survey_args a = {hosts, n, concurrency};
    int rc = corio_run(amain, &a);
    if (rc < 0) {
        fprintf(stderr, "survey: %s\n", corio_strerror(rc));
        return 1;
    }

    /* Tally the products (a linear search: a survey finds few of them). */
    tally *t = calloc(n ? n : 1, sizeof *t);
    if (!t) {
        fprintf(stderr, "survey: out of memory\n");
        return 1;
    }
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        if (hosts[i].err) {
            errors++;
            continue;
        }
        size_t j = 0;
        while (j < nt && strcmp(t[j].product, hosts[i].product) != 0) j++;
        if (j == nt) t[nt++] = (tally){hosts[i].product, 0};
        t[j].count++;
    }
    qsort(t, nt, sizeof *t, by_count_then_name);
    for (size_t j = 0; j < nt; j++) printf("%zu %s\n", t[j].count, t[j].product);
    printf("errors %zu\n", errors);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("elapsed %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(t);
    for (size_t i = 0; i < n; i++) free(hosts[i].name);
    free(hosts);
    return 0;
}
