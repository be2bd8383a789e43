/*
 * bench_client - requests per second of corio-http's client: N small GETs
 * with C in flight over one session (C tasks, each sending its next
 * request when the previous response is read).
 *
 *     bench_client URL N C
 *
 * Prints "corio c=C n=N: T s, R req/s".  Run by bench/run.sh beside the
 * other clients, against one nginx.
 */
#include <corio.h>
#include <corio/http_client.h>

#include <stdio.h>
#include <stdlib.h>

struct bench {
    corio_http_session *s;
    const char *url;
    long left;
    long errors;
};

static int worker(void *arg) {
    struct bench *b = arg;
    char buf[4096];
    while (b->left > 0) {
        b->left--;
        corio_http_resp *r;
        int rc = corio_http_session_request(b->s, "GET", b->url, NULL, &r);
        if (rc < 0) {
            b->errors++;
            continue;
        }
        ssize_t k;
        while ((k = corio_http_resp_read(r, buf, sizeof buf)) > 0) {
        }
        if (k < 0 || corio_http_resp_status(r) != 200) b->errors++;
        corio_http_resp_free(r);
    }
    return 0;
}

struct args {
    const char *url;
    long n, c;
};

static int amain(void *arg) {
    struct args *a = arg;
    corio_http_session_opts so = {.limit = (size_t)(a->c > 100 ? a->c : 100)};
    struct bench b = {.s = corio_http_session_new(&so), .url = a->url, .left = a->n};
    corio_task **t = calloc((size_t)a->c, sizeof *t);
    double t0 = corio_time();
    for (long i = 0; i < a->c; i++) t[i] = corio_spawn(worker, &b);
    for (long i = 0; i < a->c; i++) corio_join(t[i]);
    double dt = corio_time() - t0;
    printf("corio c=%ld n=%ld: %.3f s, %.0f req/s, %ld errors, %lu connections\n", a->c, a->n, dt, a->n / dt,
           b.errors, corio_http_session_opened(b.s));
    free(t);
    corio_http_session_close(b.s);
    return b.errors ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench_client URL N C\n");
        return 2;
    }
    struct args a = {argv[1], atol(argv[2]), atol(argv[3])};
    if (a.n < 1 || a.c < 1) return 2;
    return corio_run(amain, &a) ? 1 : 0;
}
