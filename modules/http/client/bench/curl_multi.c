/*
 * curl_multi URL N C - N GETs with C in flight through libcurl's multi
 * interface (one multi handle, C easy handles re-added as each finishes,
 * connections kept alive): the C baseline bench_client is measured
 * against.  Built by run.sh when libcurl's headers are installed.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static size_t sink(char *p, size_t s, size_t n, void *u) {
    (void)p;
    (void)u;
    return s * n;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    const char *url = argv[1];
    long n = atol(argv[2]), c = atol(argv[3]), started = 0, done = 0, errors = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, c);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < c && started < n; i++, started++) {
        CURL *e = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
        curl_multi_add_handle(m, e);
    }
    int running = 1;
    while (done < n) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL *e = msg->easy_handle;
            if (msg->data.result != CURLE_OK) errors++;
            done++;
            curl_multi_remove_handle(m, e);
            if (started < n) {
                started++;
                curl_multi_add_handle(m, e); /* same handle: its connection is reused */
            } else {
                curl_easy_cleanup(e);
            }
        }
        if (done < n) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("libcurl-multi c=%ld n=%ld: %.3f s, %.0f req/s, %ld errors\n", c, n, dt, (double)n / dt, errors);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
