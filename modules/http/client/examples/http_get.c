/*
 * http_get - a small curl on corio-http's client.
 *
 *     http_get [-X METHOD] [-d DATA] [-H 'Name: value']... [-i] [-o FILE]
 *              [-t SECONDS] [--cafile FILE] [--insecure] [--max-redirects N] URL
 *
 * The final response's body goes to stdout (or FILE) as it arrives; with
 * -i the status line and header fields first.  -d sends DATA as the body
 * (POST unless -X says otherwise, Content-Type
 * application/x-www-form-urlencoded unless -H gives one, as curl does).
 * -t bounds the whole request.  Redirects are followed (up to 10, or N).
 * Exit status: 0 when the final status is below 400; 1 when it is 400 or
 * above (the status line also goes to stderr); 2 when no response could
 * be had (one line on stderr names the error: DNS, refused, timeout, TLS
 * verification, malformed response, too many redirects, ...).
 */
#include <corio.h>
#include <corio/http_client.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_HEADERS 64

struct args {
    const char *method, *data, *out, *cafile, *url;
    corio_http_field hdr[MAX_HEADERS];
    char *hdr_mem[MAX_HEADERS];
    size_t nhdr;
    int include, insecure, max_redirects;
    double timeout;
    int status; /* the final status, or -1 */
};

static void usage(void) {
    fprintf(stderr, "usage: http_get [-X METHOD] [-d DATA] [-H 'Name: value']... [-i] [-o FILE] [-t SECONDS]\n"
                    "                [--cafile FILE] [--insecure] [--max-redirects N] URL\n");
    exit(2);
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int amain(void *arg) {
    struct args *a = arg;
    corio_http_session_opts so = {.cafile = a->cafile, .insecure = a->insecure, .max_redirects = a->max_redirects};
    corio_http_session *s = corio_http_session_new(&so);
    if (!s) {
        fprintf(stderr, "http_get: %s\n", strerror(errno));
        return 2;
    }
    corio_http_request_opts ro = {.headers = a->hdr, .num_headers = a->nhdr};
    if (a->timeout > 0) ro.timeout.total = a->timeout;
    if (a->data) {
        ro.body = a->data;
        ro.body_len = strlen(a->data);
    }
    const char *method = a->method ? a->method : a->data ? "POST" : "GET";
    corio_http_resp *r = NULL;
    int rc = corio_http_session_request(s, method, a->url, &ro, &r);
    int exit_code = 2;
    int fd = -1;
    if (rc < 0) {
        fprintf(stderr, "http_get: %s\n", corio_http_client_errmsg());
        goto done;
    }
    fd = a->out ? open(a->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 1;
    if (fd < 0) {
        fprintf(stderr, "http_get: %s: %s\n", a->out, strerror(errno));
        goto done;
    }
    int st = corio_http_resp_status(r);
    if (a->include) {
        size_t hl;
        const char *h = corio_http_resp_head(r, &hl);
        rc = write_all(fd, h, hl);
    }
    static char buf[65536];
    for (;;) {
        ssize_t k = corio_http_resp_read(r, buf, sizeof buf);
        if (k < 0) {
            fprintf(stderr, "http_get: %s\n", corio_http_client_errmsg());
            goto done;
        }
        if (k == 0) break;
        if (write_all(fd, buf, (size_t)k) < 0) {
            fprintf(stderr, "http_get: writing the body: %s\n", strerror(errno));
            goto done;
        }
    }
    if (st >= 400) {
        fprintf(stderr, "HTTP/1.%d %d %s\n", corio_http_resp_version(r), st, corio_http_resp_reason(r));
        exit_code = 1;
    } else {
        exit_code = 0;
    }
done:
    if (fd > 1) close(fd);
    corio_http_resp_free(r);
    corio_http_session_close(s);
    return exit_code;
}

int main(int argc, char **argv) {
    struct args a = {.status = -1};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(o, "-X") && more) a.method = argv[++i];
        else if (!strcmp(o, "-d") && more) a.data = argv[++i];
        else if (!strcmp(o, "-H") && more) {
            const char *h = argv[++i];
            const char *colon = strchr(h, ':');
            if (!colon || colon == h || a.nhdr == MAX_HEADERS) usage();
            char *name = strndup(h, (size_t)(colon - h));
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            a.hdr_mem[a.nhdr] = name;
            a.hdr[a.nhdr].name = name;
            a.hdr[a.nhdr].value = v;
            a.nhdr++;
        } else if (!strcmp(o, "-i")) a.include = 1;
        else if (!strcmp(o, "-o") && more) a.out = argv[++i];
        else if (!strcmp(o, "-t") && more) {
            char *end;
            a.timeout = strtod(argv[++i], &end);
            if (*end || !(a.timeout > 0)) usage();
        } else if (!strcmp(o, "--cafile") && more) a.cafile = argv[++i];
        else if (!strcmp(o, "--insecure") || !strcmp(o, "-k")) a.insecure = 1;
        else if (!strcmp(o, "--max-redirects") && more) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 0 || n > 1000) usage();
            a.max_redirects = n ? (int)n : -1; /* 0: follow none */
        } else if (o[0] == '-' && o[1]) usage();
        else if (!a.url) a.url = o;
        else usage();
    }
    if (!a.url) usage();
    if (a.data) {
        int has_ct = 0;
        for (size_t i = 0; i < a.nhdr; i++)
            if (!strcasecmp(a.hdr[i].name, "content-type")) has_ct = 1;
        if (!has_ct && a.nhdr < MAX_HEADERS) {
            a.hdr[a.nhdr].name = "Content-Type";
            a.hdr[a.nhdr].value = "application/x-www-form-urlencoded";
            a.nhdr++;
        }
    }
    int rc = corio_run(amain, &a);
    for (size_t i = 0; i < a.nhdr; i++) free(a.hdr_mem[i]);
    return rc < 0 ? 2 : rc;
}
