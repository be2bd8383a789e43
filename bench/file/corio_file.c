/*
 * corio_file.c - reading a big file from tasks (issue 9, file.h): the
 * whole file by pread in blocks of B bytes, T tasks at once, each reading
 * its own contiguous range (size / T) from start to end.  Three ways:
 *
 *  - uring: corio_file_pread on a loop forced to io_uring;
 *  - pool:  corio_file_pread on a loop forced to epoll, that is, on the
 *           loop's default executor (min(32, cores + 4) threads);
 *  - plain: pread(2) in a loop on the main thread, no corio (T = 1 only),
 *           the floor.
 *
 * With `cold`, the file's pages are dropped from the page cache first
 * (posix_fadvise DONTNEED: clean pages of one file, no privileges needed),
 * so the reads go to the block device; else they come from the page cache
 * (a first untimed pass brings the file in).  Either way the line says
 * which fraction of the file was cached when the clock started (mincore).
 *
 * Prints one line (bench.h's format): wall time, MB/s (10^6 bytes per
 * second), CPU time (getrusage RUSAGE_SELF: user + system of every thread
 * of the process, the executor's workers and io_uring's kernel workers
 * included) and CPU ns per block.
 *
 * usage: corio_file PATH uring|pool|plain BLOCK TASKS warm|cold
 */
#include "bench.h"

#include <corio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct cfg {
    const char *path;
    const char *impl;
    size_t block;
    int ntasks;
    bool cold;
    int fd;
    off_t size;
    long ops;       /* blocks read by the tasks */
} cfg;

typedef struct range {
    int fd;
    off_t from, to; /* [from, to) */
    size_t block;
    unsigned char *buf;
    uint64_t sum;   /* one byte per block, so the data is looked at */
    long ops;
} range;

static int reader(void *arg) {
    range *r = arg;
    for (off_t off = r->from; off < r->to;) {
        size_t want = (size_t)(r->to - off) < r->block ? (size_t)(r->to - off) : r->block;
        ssize_t n = corio_file_pread(r->fd, r->buf, want, off);
        if (n <= 0) return n < 0 ? (int)n : -EIO;
        r->sum += r->buf[0];
        r->ops++;
        off += n;
    }
    return 0;
}

static range *make_ranges(cfg *c) {
    range *rs = calloc((size_t)c->ntasks, sizeof *rs);
    BENCH_CHECK(rs);
    off_t each = c->size / c->ntasks;
    each -= each % (off_t)c->block;
    for (int i = 0; i < c->ntasks; i++) {
        rs[i].fd = c->fd;
        rs[i].from = (off_t)i * each;
        rs[i].to = i == c->ntasks - 1 ? c->size : (off_t)(i + 1) * each;
        rs[i].block = c->block;
        BENCH_CHECK(posix_memalign((void **)&rs[i].buf, 4096, c->block) == 0);
        memset(rs[i].buf, 0, c->block);
    }
    return rs;
}

static int run_tasks(void *arg) {
    cfg *c = arg;
    range *rs = make_ranges(c);
    corio_task **ts = calloc((size_t)c->ntasks, sizeof *ts);
    BENCH_CHECK(ts);
    for (int i = 0; i < c->ntasks; i++) BENCH_CHECK((ts[i] = corio_spawn(reader, &rs[i])) != NULL);
    long ops = 0;
    for (int i = 0; i < c->ntasks; i++) {
        BENCH_CHECK(corio_join(ts[i]) == 0);
        ops += rs[i].ops;
        free(rs[i].buf);
    }
    free(ts);
    free(rs);
    c->ops = ops;
    return 0;
}

static long run_plain(cfg *c) {
    unsigned char *buf;
    BENCH_CHECK(posix_memalign((void **)&buf, 4096, c->block) == 0);
    long ops = 0;
    for (off_t off = 0; off < c->size;) {
        ssize_t n = pread(c->fd, buf, c->block, off);
        BENCH_CHECK(n > 0);
        off += n;
        ops++;
    }
    free(buf);
    return ops;
}

/* The fraction of the file's pages in the page cache (mincore). */
static double resident(cfg *c) {
    void *m = mmap(NULL, (size_t)c->size, PROT_READ, MAP_SHARED, c->fd, 0);
    BENCH_CHECK(m != MAP_FAILED);
    size_t pages = ((size_t)c->size + 4095) / 4096, in = 0;
    unsigned char *vec = malloc(pages);
    BENCH_CHECK(vec && mincore(m, (size_t)c->size, vec) == 0);
    for (size_t i = 0; i < pages; i++) in += vec[i] & 1;
    free(vec);
    munmap(m, (size_t)c->size);
    return (double)in / (double)pages;
}

/* A pass with no clock, so that a warm run finds every page cached. */
static void warm_up(cfg *c) {
    size_t b = 1 << 20;
    unsigned char *buf = malloc(b);
    BENCH_CHECK(buf);
    for (off_t off = 0; off < c->size;) {
        ssize_t n = pread(c->fd, buf, b, off);
        BENCH_CHECK(n > 0);
        off += n;
    }
    free(buf);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s PATH uring|pool|plain BLOCK TASKS warm|cold\n", argv[0]);
        return 2;
    }
    cfg c = {.path = argv[1], .impl = argv[2], .block = (size_t)strtoul(argv[3], NULL, 0), .ntasks = atoi(argv[4]),
             .cold = strcmp(argv[5], "cold") == 0};
    bool plain = strcmp(c.impl, "plain") == 0, uring = strcmp(c.impl, "uring") == 0;
    BENCH_CHECK(plain || uring || strcmp(c.impl, "pool") == 0);
    BENCH_CHECK(c.block >= 512 && c.ntasks >= 1 && (!plain || c.ntasks == 1));
    c.fd = open(c.path, O_RDONLY | O_CLOEXEC);
    BENCH_CHECK(c.fd >= 0);
    struct stat st;
    BENCH_CHECK(fstat(c.fd, &st) == 0 && st.st_size > 0);
    c.size = st.st_size;

    corio_loop *loop = NULL;
    if (!plain) {
        /* The backend is chosen when the loop is made. */
        setenv("CORIO_BACKEND", uring ? "io_uring" : "epoll", 1);
        loop = corio_loop_new();
        BENCH_CHECK(loop);
        BENCH_CHECK(strcmp(corio_loop_backend(loop), uring ? "io_uring" : "epoll") == 0);
    }
    if (c.cold)
        BENCH_CHECK(posix_fadvise(c.fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
    else
        warm_up(&c);
    double cached = resident(&c);

    int64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
    long ops;
    if (plain) {
        ops = run_plain(&c);
    } else {
        corio_task *t = corio_loop_spawn(loop, run_tasks, &c, NULL);
        BENCH_CHECK(t);
        corio_loop_run_until_complete(loop, corio_task_future(t));
        BENCH_CHECK(corio_task_result(t) == 0);
        corio_task_detach(t);
        ops = c.ops;
    }
    int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
    if (loop) BENCH_CHECK(corio_loop_close(loop) == 0);
    close(c.fd);

    double wall = (double)(t1 - t0) / 1e9, cpu = (double)(c1 - c0) / 1e9;
    bench_usage u = bench_usage_now();
    printf("name=file_read_%s_%zu_%d impl=%s n=%ld ns_per_op=%.2f wall_s=%.4f maxrss_kb=%ld minflt=%ld "
           "cache=%s cached_at_start=%.3f block=%zu tasks=%d bytes=%lld mb_s=%.1f cpu_s=%.4f cpu_ns_per_op=%.1f\n",
           c.cold ? "cold" : "warm", c.block, c.ntasks, c.impl, ops, (double)(t1 - t0) / (double)ops, wall,
           u.maxrss_kb, u.minflt, c.cold ? "cold" : "warm", cached, c.block, c.ntasks, (long long)c.size,
           (double)c.size / wall / 1e6, cpu, (double)(c1 - c0) / (double)ops);
    return 0;
}
