/*
 * fetch_ab - the seed's A/B test: N requests one after another, then the
 * same N all at once (gather over one session).
 *
 *     fetch_ab [-n N] URL
 *
 * Against a 1-second endpoint (examples/httpbin's /delay/1) the first half
 * takes about N seconds, the second about one:
 *
 *     Sync requests
 *     [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
 *     execution time: 10.03s
 *     Asyncio requests
 *     [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
 *     execution time: 1.01s
 *
 * The Python it mirrors (aiohttp):
 *
 *     async def fetch(session, i):
 *         async with session.get(URL) as resp:
 *             await resp.read()
 *             return i
 *     async with aiohttp.ClientSession() as session:
 *         results = await asyncio.gather(*(fetch(session, i) for i in range(N)))
 *
 * Exit status 0, or 1 when a request failed (the error on stderr).
 */
#include <corio.h>
#include <corio/http_client.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
    corio_http_session *s;
    const char *url;
    int i;
};

/* One GET, body read and dropped: returns its index, or an error. */
static int fetch(void *arg) {
    struct job *j = arg;
    corio_http_resp *r;
    int rc = corio_http_session_request(j->s, "GET", j->url, NULL, &r);
    if (rc < 0) {
        fprintf(stderr, "fetch_ab: request %d: %s\n", j->i, corio_http_client_errmsg());
        return rc;
    }
    char *body;
    size_t len;
    rc = corio_http_resp_read_all(r, 64u << 20, &body, &len);
    if (rc == 0) free(body);
    else fprintf(stderr, "fetch_ab: request %d: %s\n", j->i, corio_http_client_errmsg());
    corio_http_resp_free(r);
    return rc < 0 ? rc : j->i;
}

static void print_list(const int *v, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", v[i]);
    puts("]");
}

struct app {
    const char *url;
    int n;
};

static int amain(void *arg) {
    struct app *a = arg;
    int *res = calloc((size_t)a->n, sizeof *res);
    struct job *jobs = calloc((size_t)a->n, sizeof *jobs);
    corio_task **tasks = calloc((size_t)a->n, sizeof *tasks);
    corio_http_session *s = corio_http_session_new(NULL);
    int rc = 0;
    if (!res || !jobs || !tasks || !s) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < a->n; i++) jobs[i] = (struct job){s, a->url, i};

    puts("Sync requests");
    fflush(stdout);
    double t0 = corio_time();
    for (int i = 0; i < a->n && rc >= 0; i++) {
        rc = fetch(&jobs[i]);
        res[i] = rc;
    }
    if (rc < 0) goto out;
    print_list(res, a->n);
    printf("execution time: %.2fs\n", corio_time() - t0);

    puts("Asyncio requests");
    fflush(stdout);
    t0 = corio_time();
    int spawned = 0;
    for (int i = 0; i < a->n; i++) {
        tasks[i] = corio_spawn(fetch, &jobs[i]);
        if (!tasks[i]) {
            rc = -errno;
            break;
        }
        spawned++;
    }
    if (rc == 0) rc = corio_gather_tasks(tasks, (size_t)spawned, 0);
    for (int i = 0; i < spawned; i++) {
        if (rc < 0) corio_cancel(tasks[i]);
        int r = corio_join(tasks[i]);
        res[i] = r;
    }
    if (rc < 0) goto out;
    print_list(res, a->n);
    printf("execution time: %.2fs\n", corio_time() - t0);
out:
    corio_http_session_close(s);
    free(res);
    free(jobs);
    free(tasks);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
    struct app a = {.n = 10};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 100000) {
                fprintf(stderr, "fetch_ab: -n takes 1..100000\n");
                return 2;
            }
            a.n = (int)n;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "usage: fetch_ab [-n N] URL\n");
            return 2;
        } else if (!a.url) {
            a.url = argv[i];
        } else {
            fprintf(stderr, "usage: fetch_ab [-n N] URL\n");
            return 2;
        }
    }
    if (!a.url) {
        fprintf(stderr, "usage: fetch_ab [-n N] URL\n");
        return 2;
    }
    int rc = corio_run(amain, &a);
    return rc == 0 ? 0 : 1;
}
