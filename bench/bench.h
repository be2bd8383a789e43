/*
 * bench.h - what every corio benchmark program shares: the clock, the
 * resource counters and the one machine-readable output line.
 *
 * Each program prints exactly one line per measurement:
 *   name=<workload> impl=corio n=<N> ns_per_op=<x> wall_s=<x> maxrss_kb=<x> minflt=<x> [key=value...]
 * bench/run.sh and bench/report.py parse those lines; the peers (Go,
 * Python, Boost) print the same format, so all results share one parser.
 */
#ifndef CORIO_BENCH_H
#define CORIO_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline int64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU time (user + system) of the whole process, in ns. */
static inline int64_t bench_cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

typedef struct bench_usage {
    long maxrss_kb; /* peak resident set, KiB (ru_maxrss) */
    long minflt;    /* minor page faults so far */
    long majflt;
} bench_usage;

static inline bench_usage bench_usage_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    bench_usage u = {ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt};
    return u;
}

/* A field of /proc/self/status in KiB ("VmPTE", "VmRSS"), or -1. */
static inline long bench_status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* N from argv[1] (accepts 1e6 and 1000000), else the default. */
static inline long bench_arg_n(int argc, char **argv, long def) {
    if (argc < 2) return def;
    double d = strtod(argv[1], NULL);
    return d >= 1 ? (long)d : def;
}

/* The common part of the output line; the caller appends extra fields and "\n". */
static inline void bench_print_head(const char *name, long n, double ns_per_op, double wall_s) {
    bench_usage u = bench_usage_now();
    printf("name=%s impl=corio n=%ld ns_per_op=%.2f wall_s=%.4f maxrss_kb=%ld minflt=%ld", name, n, ns_per_op,
           wall_s, u.maxrss_kb, u.minflt);
}

#define BENCH_CHECK(cond)                                                                 \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

#endif
