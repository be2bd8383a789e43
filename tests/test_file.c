/*
 * test_file.c - files from tasks (file.h): data written with pwrite /
 * write comes back with pread / read, stat and fstat sizes, fsync, the
 * errors of the system calls, bad input, cancellation of an operation that
 * waits (a read of an empty FIFO, an open of a FIFO nobody writes to) and
 * of one still queued, a loop that keeps running while file work is under
 * way, no descriptor left open.
 *
 * ctest runs the program twice: CORIO_BACKEND=epoll (the executor path)
 * and CORIO_BACKEND=io_uring (the ring path; exit 77 when the loop cannot
 * get io_uring here).
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static char dir[256];     /* a private directory for the files of this run */
static bool on_ring;      /* the loops of this run use io_uring */

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static int count_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static unsigned char pattern(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

static int backend_is_ring(void) {
    const char *b = corio_loop_backend(corio_loop_current());
    return b && strcmp(b, "io_uring") == 0;
}

/* ---- bad input ----------------------------------------------------------------------- */

static int badinput_main(void *arg) {
    (void)arg;
    CHECK_EQ(backend_is_ring(), on_ring);
    char buf[8];
    struct stat st;
    CHECK_EQ(corio_file_open(NULL, O_RDONLY, 0), -EINVAL);
    CHECK_EQ(corio_file_read(-1, buf, sizeof buf), -EBADF);
    CHECK_EQ(corio_file_write(-1, buf, sizeof buf), -EBADF);
    CHECK_EQ(corio_file_pread(-1, buf, sizeof buf, 0), -EBADF);
    CHECK_EQ(corio_file_pwrite(-1, buf, sizeof buf, 0), -EBADF);
    CHECK_EQ(corio_file_fsync(-1, 0), -EBADF);
    CHECK_EQ(corio_file_close(-1), -EBADF);
    CHECK_EQ(corio_file_fstat(-1, &st), -EBADF);
    CHECK_EQ(corio_file_stat(NULL, &st), -EINVAL);
    CHECK_EQ(corio_file_stat("/", NULL), -EINVAL);
    CHECK_EQ(corio_file_read_all(NULL, NULL, NULL), -EINVAL);

    char p[300];
    path_of(p, sizeof p, "bad");
    int fd = corio_file_open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(corio_file_read(fd, NULL, 0), 0); /* len 0: nothing to do, even with no buffer */
    CHECK_EQ(corio_file_pwrite(fd, buf, 0, 0), 0);
    CHECK_EQ(corio_file_read(fd, NULL, 4), -EINVAL);
    CHECK_EQ(corio_file_write(fd, NULL, 4), -EINVAL);
    CHECK_EQ(corio_file_pread(fd, buf, sizeof buf, -1), -EINVAL);
    CHECK_EQ(corio_file_pwrite(fd, buf, sizeof buf, -5), -EINVAL);
    CHECK_EQ(corio_file_fsync(fd, 2), -EINVAL);
    CHECK_EQ(corio_file_fstat(fd, NULL), -EINVAL);
    CHECK_EQ(corio_file_close(fd), 0);
    /* The number is free again: the kernel's answer for a closed descriptor. */
    CHECK_EQ(corio_file_pread(fd, buf, sizeof buf, 0), -EBADF);
    CHECK_EQ(corio_file_fstat(fd, &st), -EBADF);
    CHECK_EQ(corio_file_close(fd), -EBADF);
    unlink(p);
    return 0;
}

static void test_bad_input(void) {
    char buf[8];
    struct stat st;
    char *out;
    size_t len;
    /* No task: every call refuses. */
    CHECK_EQ(corio_file_open("/", O_RDONLY, 0), -EPERM);
    CHECK_EQ(corio_file_read(0, buf, sizeof buf), -EPERM);
    CHECK_EQ(corio_file_write(1, buf, sizeof buf), -EPERM);
    CHECK_EQ(corio_file_pread(0, buf, sizeof buf, 0), -EPERM);
    CHECK_EQ(corio_file_pwrite(1, buf, sizeof buf, 0), -EPERM);
    CHECK_EQ(corio_file_fsync(1, 0), -EPERM);
    CHECK_EQ(corio_file_close(1), -EPERM);
    CHECK_EQ(corio_file_stat("/", &st), -EPERM);
    CHECK_EQ(corio_file_fstat(0, &st), -EPERM);
    CHECK_EQ(corio_file_read_all("/", &out, &len), -EPERM);
    CHECK_EQ(test_run(badinput_main, NULL, 0), 0);
}

/* ---- 1 MiB by pwrite / pread, from 16 tasks at once ----------------------------------- */

#define NPARTS 16

typedef struct part {
    int fd;
    unsigned char *buf; /* the whole file's image */
    size_t off, len;
    bool write;
} part;

static int part_task(void *arg) {
    part *p = arg;
    size_t done = 0;
    while (done < p->len) {
        ssize_t n = p->write ? corio_file_pwrite(p->fd, p->buf + p->off + done, p->len - done, (off_t)(p->off + done))
                             : corio_file_pread(p->fd, p->buf + p->off + done, p->len - done, (off_t)(p->off + done));
        if (n <= 0) return n < 0 ? (int)n : -EIO;
        done += (size_t)n;
    }
    return 0;
}

static int run_parts(int fd, unsigned char *buf, bool write) {
    part ps[NPARTS];
    corio_task *ts[NPARTS];
    size_t each = MIB / NPARTS;
    for (int i = 0; i < NPARTS; i++) {
        ps[i] = (part){.fd = fd, .buf = buf, .off = (size_t)i * each, .len = each, .write = write};
        ts[i] = corio_spawn(part_task, &ps[i]);
        if (!ts[i]) return -ENOMEM;
    }
    int rc = 0;
    for (int i = 0; i < NPARTS; i++) {
        int r = corio_join(ts[i]);
        if (r < 0 && rc == 0) rc = r;
    }
    return rc;
}

static int positioned_main(void *arg) {
    (void)arg;
    char p[300];
    path_of(p, sizeof p, "positioned");
    unsigned char *out = malloc(MIB), *in = malloc(MIB);
    CHECK(out && in);
    for (size_t i = 0; i < MIB; i++) out[i] = pattern(i);
    memset(in, 0, MIB);

    int fd = corio_file_open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(run_parts(fd, out, true), 0);
    CHECK_EQ(corio_file_fsync(fd, 0), 0);
    CHECK_EQ(corio_file_fsync(fd, CORIO_FILE_DATASYNC), 0);
    struct stat st;
    CHECK_EQ(corio_file_fstat(fd, &st), 0);
    CHECK_EQ(st.st_size, MIB);
    CHECK(S_ISREG(st.st_mode));
    CHECK_EQ(run_parts(fd, in, false), 0);
    CHECK(memcmp(in, out, MIB) == 0);
    /* Past the end: 0; across it: the part that exists. */
    CHECK_EQ(corio_file_pread(fd, in, 100, MIB), 0);
    CHECK_EQ(corio_file_pread(fd, in, 100, MIB - 10), 10);
    CHECK(memcmp(in, out + MIB - 10, 10) == 0);
    CHECK_EQ(corio_file_close(fd), 0);

    /* stat by path agrees with fstat, and with stat(2). */
    struct stat st2, ref;
    CHECK_EQ(corio_file_stat(p, &st2), 0);
    CHECK_EQ(stat(p, &ref), 0);
    CHECK_EQ(st2.st_size, MIB);
    CHECK_EQ(st2.st_ino, ref.st_ino);
    CHECK_EQ(st2.st_dev, ref.st_dev);
    CHECK_EQ(st2.st_mode, ref.st_mode);
    CHECK_EQ(st2.st_nlink, ref.st_nlink);
    CHECK_EQ(st2.st_uid, ref.st_uid);
    CHECK_EQ(st2.st_blocks, ref.st_blocks);
    CHECK_EQ(st2.st_mtim.tv_sec, ref.st_mtim.tv_sec);
    CHECK_EQ(st2.st_mtim.tv_nsec, ref.st_mtim.tv_nsec);
    CHECK_EQ(st.st_ino, ref.st_ino);

    /* The whole file in one call. */
    char *all = NULL;
    size_t len = 0;
    CHECK_EQ(corio_file_read_all(p, &all, &len), 0);
    CHECK_EQ(len, MIB);
    CHECK(all && memcmp(all, out, MIB) == 0 && all[MIB] == 0);
    free(all);
    unlink(p);
    free(out);
    free(in);
    return 0;
}

static void test_pwrite_pread_1mib(void) { CHECK_EQ(test_run(positioned_main, NULL, 0), 0); }

/* ---- 1 MiB by write / read at the file position -------------------------------------------- */

static int sequential_main(void *arg) {
    (void)arg;
    char p[300];
    path_of(p, sizeof p, "sequential");
    unsigned char *out = malloc(MIB), *in = malloc(MIB + 1);
    CHECK(out && in);
    for (size_t i = 0; i < MIB; i++) out[i] = pattern(i * 7);

    int fd = corio_file_open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    /* Odd-sized pieces, so that the position is carried between calls. */
    size_t done = 0;
    while (done < MIB) {
        size_t want = MIB - done < 100000 ? MIB - done : 100000;
        ssize_t n = corio_file_write(fd, out + done, want);
        CHECK(n > 0);
        if (n <= 0) break;
        done += (size_t)n;
    }
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), MIB);
    CHECK_EQ(corio_file_fsync(fd, CORIO_FILE_DATASYNC), 0);
    CHECK_EQ(corio_file_close(fd), 0);

    fd = corio_file_open(p, O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    done = 0;
    for (;;) {
        ssize_t n = corio_file_read(fd, in + done, MIB + 1 - done < 65537 ? MIB + 1 - done : 65537);
        CHECK(n >= 0);
        if (n <= 0) break;
        done += (size_t)n;
    }
    CHECK_EQ(done, MIB);
    CHECK(memcmp(in, out, MIB) == 0);
    CHECK_EQ(corio_file_read(fd, in, 10), 0); /* at the end */
    CHECK_EQ(corio_file_close(fd), 0);

    struct stat st;
    CHECK_EQ(corio_file_stat(p, &st), 0);
    CHECK_EQ(st.st_size, MIB);

    /* Append mode writes at the end whatever the position. */
    fd = corio_file_open(p, O_WRONLY | O_APPEND, 0);
    CHECK(fd >= 0);
    CHECK_EQ(corio_file_write(fd, "tail", 4), 4);
    CHECK_EQ(corio_file_close(fd), 0);
    CHECK_EQ(corio_file_stat(p, &st), 0);
    CHECK_EQ(st.st_size, MIB + 4);
    unlink(p);
    free(out);
    free(in);
    return 0;
}

static void test_write_read_1mib(void) { CHECK_EQ(test_run(sequential_main, NULL, 0), 0); }

/* ---- the system calls' errors ----------------------------------------------------------------- */

static int errors_main(void *arg) {
    (void)arg;
    char p[300], missing[300];
    path_of(p, sizeof p, "exists");
    path_of(missing, sizeof missing, "no/such/file");
    char buf[16];
    struct stat st;
    CHECK_EQ(corio_file_open(missing, O_RDONLY, 0), -ENOENT);
    CHECK_EQ(corio_file_stat(missing, &st), -ENOENT);
    char *all = (char *)buf;
    size_t len = 12345;
    CHECK_EQ(corio_file_read_all(missing, &all, &len), -ENOENT);
    CHECK(all == (char *)buf && len == 12345); /* untouched */

    int fd = corio_file_open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(corio_file_open(p, O_RDWR | O_CREAT | O_EXCL, 0600), -EEXIST);
    CHECK_EQ(corio_file_close(fd), 0);
    char sub[300];
    path_of(sub, sizeof sub, "exists/below");
    CHECK_EQ(corio_file_open(sub, O_RDONLY, 0), -ENOTDIR);

    /* Directories: cannot be opened for writing, read(2) refuses them, a
     * read-only descriptor refuses writes. */
    CHECK_EQ(corio_file_open(dir, O_WRONLY, 0), -EISDIR);
    int dfd = corio_file_open(dir, O_RDONLY | O_DIRECTORY, 0);
    CHECK(dfd >= 0);
    CHECK_EQ(corio_file_read(dfd, buf, sizeof buf), -EISDIR);
    CHECK_EQ(corio_file_pread(dfd, buf, sizeof buf, 0), -EISDIR);
    CHECK_EQ(corio_file_write(dfd, "x", 1), -EBADF);
    CHECK_EQ(corio_file_fstat(dfd, &st), 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_EQ(corio_file_close(dfd), 0);

    /* A read-only file refuses writes, a write-only one reads. */
    fd = corio_file_open(p, O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK_EQ(corio_file_pwrite(fd, "x", 1, 0), -EBADF);
    CHECK_EQ(corio_file_close(fd), 0);
    fd = corio_file_open(p, O_WRONLY, 0);
    CHECK(fd >= 0);
    CHECK_EQ(corio_file_read(fd, buf, sizeof buf), -EBADF);
    CHECK_EQ(corio_file_close(fd), 0);

    /* Positioned I/O on a pipe: -ESPIPE from pread(2); the ring's read
     * ignores the offset of a stream instead (see file.h). */
    int pp[2];
    CHECK_EQ(pipe(pp), 0);
    if (!on_ring) {
        CHECK_EQ(corio_file_pread(pp[0], buf, sizeof buf, 0), -ESPIPE);
        CHECK_EQ(corio_file_pwrite(pp[1], "x", 1, 0), -ESPIPE);
    } else {
        CHECK_EQ(corio_file_pwrite(pp[1], "x", 1, 1000), 1);
        CHECK_EQ(corio_file_pread(pp[0], buf, sizeof buf, 1000), 1);
    }
    /* ... while plain read/write work on it. */
    CHECK_EQ(corio_file_write(pp[1], "hey", 3), 3);
    CHECK_EQ(corio_file_read(pp[0], buf, sizeof buf), 3);
    CHECK_EQ(corio_file_close(pp[0]), 0);
    CHECK_EQ(corio_file_close(pp[1]), 0);

    /* An empty file and a /proc file (stat says 0 bytes) read whole. */
    CHECK_EQ(corio_file_read_all(p, &all, &len), 0);
    CHECK_EQ(len, 0);
    CHECK(all && all[0] == 0);
    free(all);
    CHECK_EQ(corio_file_read_all("/proc/self/status", &all, &len), 0);
    CHECK(len > 100 && strncmp(all, "Name:", 5) == 0 && strlen(all) == len);
    free(all);
    CHECK_EQ(corio_file_read_all(dir, &all, &len), -EISDIR);
    unlink(p);
    return 0;
}

static void test_errors(void) { CHECK_EQ(test_run(errors_main, NULL, 0), 0); }

/* ---- cancellation ------------------------------------------------------------------------------ */

static atomic_int ticks;
static int64_t tick_gap_max_ns;
static atomic_int big_reads_in_flight; /* big preads started and not yet returned */
static atomic_int ticks_in_flight;     /* ticks that came while one of them was */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Ticks every millisecond until cancelled; records the longest gap. */
static int ticker(void *arg) {
    (void)arg;
    int64_t last = now_ns();
    for (;;) {
        int rc = corio_sleep(0.001);
        if (rc < 0) return 0;
        int64_t t = now_ns();
        if (t - last > tick_gap_max_ns) tick_gap_max_ns = t - last;
        last = t;
        atomic_fetch_add(&ticks, 1);
        if (atomic_load(&big_reads_in_flight) > 0) atomic_fetch_add(&ticks_in_flight, 1);
    }
}

/*
 * Is a thread of this process blocked in system call `nr` (with first
 * argument `arg1`; LONG_MIN: any)?  1 or 0; -1 when /proc does not say
 * (/proc/self/task/<tid>/syscall).  On the executor a file operation is
 * in flight only once a worker took its job: the cases that need it in
 * flight wait for this, not for a while (a busy machine may start the
 * worker late, and the job is then cancelled while still queued).
 */
static int thread_in_syscall(long nr, long arg1) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int seen = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(line, sizeof line, f)) {
            long n;
            unsigned long a;
            if (seen < 0) seen = 0;
            if (sscanf(line, "%ld 0x%lx", &n, &a) == 2 && n == nr && (arg1 == LONG_MIN || (long)a == arg1)) seen = 1;
        }
        fclose(f);
    }
    closedir(d);
    return seen;
}

typedef struct reader {
    int fd;
    char buf[64];
    ssize_t got;     /* the read's result */
    int after;       /* the next suspension point's result */
    bool returned;
} reader;

static int fifo_reader(void *arg) {
    reader *r = arg;
    r->got = corio_file_read(r->fd, r->buf, sizeof r->buf);
    r->returned = true;
    r->after = corio_sleep(0);
    return 0;
}

/*
 * A read of an empty FIFO waits for a writer.  Meanwhile the loop runs (a
 * ticker ticks).  Cancelled: on the ring the kernel drops the read
 * (-ECANCELED); on the executor the worker cannot be interrupted, so the
 * task waits for the read - it must not return while the worker may still
 * write into its buffer - and once data comes, gets it with the
 * cancellation re-armed.
 */
static int fifo_cancel_main(void *arg) {
    (void)arg;
    char p[300];
    path_of(p, sizeof p, "fifo");
    CHECK_EQ(mkfifo(p, 0600), 0);
    /* O_RDWR: the open does not wait for the other end (Linux). */
    int fd = corio_file_open(p, O_RDWR, 0);
    CHECK(fd >= 0);
    reader r = {.fd = fd, .got = 12345};
    atomic_store(&ticks, 0);
    tick_gap_max_ns = 0;
    corio_task *tick = corio_spawn(ticker, NULL);
    corio_task *rt = corio_spawn(fifo_reader, &r);
    /* The read cannot complete (nobody writes): while it waits, the ticker
     * advances - the loop was not stalled by the read.  The deadline only
     * catches a stalled loop; no rate is asserted. */
    WAIT_UNTIL(atomic_load(&ticks) >= 10, 10);
    CHECK(atomic_load(&ticks) >= 10);
    CHECK(!r.returned);
    if (!on_ring) { /* the worker blocks in read(2) (or, when /proc cannot tell, 50 ms went by) */
        WAIT_UNTIL(thread_in_syscall(SYS_read, fd) > 0, 3);
        /* /proc cannot tell (none, or qemu-user, whose threads show the
         * host's system calls): 50 ms then.  Only a synchronisation: the
         * checks below are the behaviour. */
        if (thread_in_syscall(SYS_read, fd) <= 0) corio_sleep(0.05);
    }
    CHECK_EQ(corio_cancel(rt), 1);
    CHECK_EQ(corio_sleep(0.03), 0);
    if (on_ring) {
        WAIT_UNTIL(r.returned, 10); /* the kernel's cancellation completes the read */
        CHECK(r.returned);
        CHECK_EQ(r.got, -ECANCELED);
        CHECK_EQ(corio_join(rt), 0);
        /* Nothing was consumed: what is written now stays in the FIFO. */
        CHECK_EQ(write(fd, "hello", 5), 5);
        char b[8];
        CHECK_EQ(corio_file_read(fd, b, sizeof b), 5);
    } else {
        CHECK(!r.returned); /* still waiting for its worker */
        CHECK_EQ(write(fd, "hello", 5), 5);
        CHECK_EQ(corio_join(rt), 0);
        CHECK_EQ(r.got, 5);
        CHECK(memcmp(r.buf, "hello", 5) == 0);
        CHECK_EQ(r.after, -ECANCELED); /* the cancellation came at the next suspension */
    }
    CHECK_EQ(corio_file_close(fd), 0);
    corio_cancel(tick);
    corio_join(tick);
    unlink(p);
    return 0;
}

static void test_cancel_fifo_read(void) { CHECK_EQ(test_run(fifo_cancel_main, NULL, 0), 0); }

typedef struct opener {
    const char *path;
    int rc;
    bool returned;
} opener;

static int fifo_opener(void *arg) {
    opener *o = arg;
    o->rc = corio_file_open(o->path, O_RDONLY, 0);
    o->returned = true;
    return 0;
}

static int creat_opener(void *arg) {
    opener *o = arg;
    o->rc = corio_file_open(o->path, O_RDWR | O_CREAT, 0600);
    o->returned = true;
    return 0;
}

static void *open_writer_thread(void *arg) {
    /* Opens the writing end once the reader's open is there (ENXIO until
     * then; 10 s at most), which lets that open go. */
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 10000; i++) {
        int fd = open((const char *)arg, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            break;
        }
        nanosleep(&ms, NULL);
    }
    return NULL;
}

/*
 * A cancelled open returns -ECANCELED and leaves no descriptor open,
 * whether the open was dropped or completed: cancelled right after it was
 * submitted (the ring then gets the open and its cancel in one batch), and
 * on the executor while it waits in open(2) for a FIFO's writer.
 */
static int open_cancel_main(void *arg) {
    (void)arg;
    char p[300];
    int fds_before = count_dir("/proc/self/fd");
    path_of(p, sizeof p, "opened");
    for (int i = 0; i < 50; i++) {
        opener o = {.path = p, .rc = 12345};
        corio_task *ot = corio_spawn(i % 2 ? fifo_opener : creat_opener, &o);
        CHECK_EQ(corio_yield(), 0); /* it submits its open and waits */
        CHECK(!o.returned);
        CHECK_EQ(corio_cancel(ot), 1);
        CHECK_EQ(corio_join(ot), 0);
        CHECK_EQ(o.rc, -ECANCELED);
        CHECK_EQ(count_dir("/proc/self/fd"), fds_before);
    }
    unlink(p);

    path_of(p, sizeof p, "fifo_open");
    CHECK_EQ(mkfifo(p, 0600), 0);
    opener o = {.path = p, .rc = 12345};
    corio_task *ot = corio_spawn(fifo_opener, &o);
    CHECK_EQ(corio_sleep(0.03), 0);
    if (on_ring) {
        /* The ring opens without waiting for a writer (it tries O_NONBLOCK
         * first, which a FIFO accepts, then clears the flag): it returns,
         * though nobody ever opens the other end. */
        WAIT_UNTIL(o.returned, 10);
        CHECK(o.returned);
        CHECK(o.rc >= 0);
        CHECK_EQ(corio_join(ot), 0);
        if (o.rc >= 0) {
            CHECK_EQ(fcntl(o.rc, F_GETFL) & O_NONBLOCK, 0);
            CHECK_EQ(corio_file_close(o.rc), 0);
        }
        CHECK_EQ(count_dir("/proc/self/fd"), fds_before);
        unlink(p);
        return 0;
    }
    CHECK(!o.returned);
    /* The worker blocks in open(2) (or, when /proc cannot tell, 50 ms went by). */
    WAIT_UNTIL(thread_in_syscall(SYS_openat, LONG_MIN) > 0, 3);
    if (thread_in_syscall(SYS_openat, LONG_MIN) <= 0) corio_sleep(0.05); /* /proc cannot tell: as above */
    CHECK_EQ(corio_cancel(ot), 1);
    CHECK_EQ(corio_sleep(0.02), 0);
    /* On the executor the open still waits; a writer completes it. */
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, open_writer_thread, p), 0);
    CHECK_EQ(corio_join(ot), 0);
    pthread_join(th, NULL);
    CHECK(o.returned);
    CHECK_EQ(o.rc, -ECANCELED);
    CHECK_EQ(count_dir("/proc/self/fd"), fds_before);
    unlink(p);
    return 0;
}

static void test_cancel_open(void) { CHECK_EQ(test_run(open_cancel_main, NULL, 0), 0); }

typedef struct preader {
    int fd;
    unsigned char *buf;
    size_t len;
    off_t off;
    ssize_t got;
    int after;
} preader;

static int preader_task(void *arg) {
    preader *r = arg;
    r->got = corio_file_pread(r->fd, r->buf, r->len, r->off);
    r->after = corio_sleep(0);
    return 0;
}

/*
 * A pread cancelled right after it was issued: -ECANCELED with the buffer
 * untouched (a job still queued behind a blocked one on a one-thread
 * executor), or - when it already ran - all its bytes with the
 * cancellation re-armed.  Never a buffer written after the task went on.
 */
static int queued_cancel_main(void *arg) {
    (void)arg;
    char p[300], f[300];
    path_of(p, sizeof p, "queued");
    path_of(f, sizeof f, "fifo_block");
    if (!on_ring) CHECK_EQ(corio_set_default_executor(corio_executor_new(1)), 0);
    int fd = corio_file_open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    static unsigned char data[4096];
    for (size_t i = 0; i < sizeof data; i++) data[i] = pattern(i);
    CHECK_EQ(corio_file_pwrite(fd, data, sizeof data, 0), (ssize_t)sizeof data);

    /* Occupy the one worker with a read that waits. */
    CHECK_EQ(mkfifo(f, 0600), 0);
    int ff = corio_file_open(f, O_RDWR, 0);
    CHECK(ff >= 0);
    reader blocker = {.fd = ff};
    corio_task *bt = corio_spawn(fifo_reader, &blocker);
    CHECK_EQ(corio_sleep(0.02), 0);

    unsigned char *buf = calloc(1, sizeof data);
    preader r = {.fd = fd, .buf = buf, .len = sizeof data, .got = 12345};
    corio_task *rt = corio_spawn(preader_task, &r);
    CHECK_EQ(corio_sleep(0.01), 0);
    int cancelled = corio_cancel(rt); /* 0 on the ring: the read was done already */
    CHECK(cancelled == 1 || on_ring);
    CHECK_EQ(corio_join(rt), 0);
    if (!cancelled) {
        CHECK_EQ(r.got, (ssize_t)sizeof data);
        CHECK(memcmp(buf, data, sizeof data) == 0);
        CHECK_EQ(r.after, 0);
    } else if (!on_ring) {
        CHECK_EQ(r.got, -ECANCELED); /* it was queued: removed, never run */
        for (size_t i = 0; i < sizeof data; i++)
            if (buf[i] != 0) {
                CHECK(!"buffer written by a cancelled read");
                break;
            }
    } else if (r.got == -ECANCELED) {
        CHECK_EQ(r.after, 0);
    } else {
        CHECK_EQ(r.got, (ssize_t)sizeof data);
        CHECK(memcmp(buf, data, sizeof data) == 0);
        CHECK_EQ(r.after, -ECANCELED);
    }
    /* Let the blocker go. */
    CHECK_EQ(write(ff, "x", 1), 1);
    CHECK_EQ(corio_join(bt), 0);
    CHECK_EQ(blocker.got, 1);

    /* A task cancelled before it calls never starts the operation. */
    memset(buf, 0, sizeof data);
    corio_cancel(corio_current_task());
    CHECK_EQ(corio_file_pread(fd, buf, sizeof data, 0), -ECANCELED);
    CHECK_EQ(buf[1], 0);
    /* ... except close, which closes and leaves the cancellation pending. */
    corio_cancel(corio_current_task());
    CHECK_EQ(corio_file_close(ff), 0);
    CHECK_EQ(fcntl(ff, F_GETFD), -1);
    CHECK_EQ(corio_sleep(0), -ECANCELED);
    CHECK_EQ(corio_file_close(fd), 0);
    free(buf);
    unlink(p);
    unlink(f);
    return 0;
}

static void test_cancel_queued(void) { CHECK_EQ(test_run(queued_cancel_main, NULL, 0), 0); }

/* ---- the loop runs while big reads are under way ---------------------------------------------- */

#define BIG (64 * MIB)
#define BIG_TASKS 8

/* preader_task, counted in big_reads_in_flight while it reads. */
static int counted_preader(void *arg) {
    atomic_fetch_add(&big_reads_in_flight, 1);
    int rc = preader_task(arg);
    atomic_fetch_sub(&big_reads_in_flight, 1);
    return rc;
}

/*
 * While file reads are outstanding the loop keeps running: behaviour, not
 * a rate.  A read of an empty FIFO is outstanding for the whole case (it
 * cannot complete until we write, at the end); meanwhile the ticker
 * advances, and passes of 8 tasks x one 8 MiB pread each complete with
 * the right bytes.  The passes go on until the ticker has also ticked
 * while big preads were in flight (counted_preader's count; each pass
 * takes milliseconds) - a loop that did the reads on its own thread
 * could never see that.  Deadlines are only there to end a hang.
 */
static int big_main(void *arg) {
    (void)arg;
    char p[300], f[300];
    path_of(p, sizeof p, "big");
    path_of(f, sizeof f, "big_fifo");
    int fd = corio_file_open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    unsigned char *img = malloc(BIG), *in = malloc(BIG);
    CHECK(img && in);
    for (size_t i = 0; i < BIG; i += 4096) memset(img + i, pattern(i / 4096), 4096);
    /* One 64 MiB write, one call. */
    CHECK_EQ(corio_file_pwrite(fd, img, BIG, 0), BIG);

    /* The read that stays outstanding. */
    CHECK_EQ(mkfifo(f, 0600), 0);
    int ff = corio_file_open(f, O_RDWR, 0); /* O_RDWR: the open does not wait for a writer (Linux) */
    CHECK(ff >= 0);
    reader pending = {.fd = ff, .got = 12345};
    corio_task *pt = corio_spawn(fifo_reader, &pending);

    memset(in, 0, BIG); /* its pages are faulted in here, before the ticker starts */
    atomic_store(&ticks, 0);
    atomic_store(&ticks_in_flight, 0);
    atomic_store(&big_reads_in_flight, 0);
    tick_gap_max_ns = 0;
    corio_task *tick = corio_spawn(ticker, NULL);
    int64_t t0 = now_ns();
    int rounds = 0;
    do {
        preader rs[BIG_TASKS];
        corio_task *ts[BIG_TASKS];
        size_t each = BIG / BIG_TASKS;
        for (int i = 0; i < BIG_TASKS; i++) {
            rs[i] = (preader){.fd = fd, .buf = in + (size_t)i * each, .len = each, .off = (off_t)((size_t)i * each)};
            ts[i] = corio_spawn(counted_preader, &rs[i]);
        }
        for (int i = 0; i < BIG_TASKS; i++) {
            CHECK_EQ(corio_join(ts[i]), 0);
            CHECK_EQ(rs[i].got, (ssize_t)each);
        }
        rounds++;
    } while ((rounds < 2 || atomic_load(&ticks_in_flight) < 3) && now_ns() - t0 < 20 * 1000000000LL);
    int64_t elapsed = now_ns() - t0;
    /* The FIFO read was outstanding all along; the ticker advanced meanwhile. */
    WAIT_UNTIL(atomic_load(&ticks) >= 10, 10);
    CHECK(atomic_load(&ticks) >= 10);
    CHECK(!pending.returned);
    corio_cancel(tick);
    corio_join(tick);
    CHECK(memcmp(in, img, BIG) == 0); /* (after the ticker: 64 MiB compared on the loop's thread) */
    /* The ticker ran while big preads were in flight. */
    CHECK(atomic_load(&ticks_in_flight) >= 3);
    /* No stall anywhere near a hang (a generous bound: this is no rate). */
    if (tick_gap_max_ns > 2000 * 1000000LL)
        fprintf(stderr, "ticker gap %.1f ms during the reads\n", (double)tick_gap_max_ns / 1e6);
    CHECK(tick_gap_max_ns < 2000 * 1000000LL);
    printf("  %d rounds of %d x %d MiB preads in %.0f ms, %d ticks (%d during preads), longest gap %.1f ms\n", rounds,
           BIG_TASKS, BIG / BIG_TASKS / MIB, (double)elapsed / 1e6, atomic_load(&ticks), atomic_load(&ticks_in_flight),
           (double)tick_gap_max_ns / 1e6);
    /* Now the FIFO read completes. */
    CHECK_EQ(write(ff, "z", 1), 1);
    CHECK_EQ(corio_join(pt), 0);
    CHECK_EQ(pending.got, 1);
    CHECK_EQ(pending.buf[0], 'z');
    CHECK_EQ(corio_file_close(ff), 0);
    CHECK_EQ(corio_file_close(fd), 0);
    unlink(p);
    unlink(f);
    free(img);
    free(in);
    return 0;
}

static void test_loop_runs_during_big_reads(void) { CHECK_EQ(test_run(big_main, NULL, 0), 0); }

/* ---- a loop closed while a read is in flight ------------------------------------------------ */

static preader close_r;

static int close_reader(void *arg) {
    preader *r = arg;
    r->got = corio_file_pread(r->fd, r->buf, r->len, 0);
    return 0;
}

/* Starts the reader, lets it submit, and returns with it still reading. */
static int close_starter(void *arg) {
    (void)arg;
    corio_task *t = corio_spawn(close_reader, &close_r);
    corio_task_detach(t);
    corio_yield();
    return 0;
}

/* The close cancels the task; its read is waited for (executor) or
 * cancelled (ring) before the task's stack goes. */
static void test_loop_close_during_read(void) {
    char p[300];
    path_of(p, sizeof p, "closing");
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(ftruncate(fd, 64 * MIB), 0);
    unsigned char *buf = malloc(64 * MIB);
    close_r = (preader){.fd = fd, .buf = buf, .len = 64 * MIB, .got = 12345};
    corio_loop *loop = corio_loop_new();
    CHECK(loop != NULL);
    corio_task *t = corio_loop_spawn(loop, close_starter, NULL, NULL);
    corio_loop_run_until_complete(loop, corio_task_future(t));
    corio_task_detach(t);
    corio_loop_close(loop); /* may report the pending reader: not checked */
    CHECK(close_r.got == 64 * MIB || close_r.got == -ECANCELED);
    close(fd);
    unlink(p);
    free(buf);
}

static int nothing(void *arg) {
    (void)arg;
    return 0;
}

static void quiet_log(int level, const char *msg, void *arg) { (void)level, (void)msg, (void)arg; }

int main(void) {
    const char *want = getenv("CORIO_BACKEND");
    snprintf(dir, sizeof dir, "%s/corio_test_file.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    corio_loop *probe = corio_loop_new();
    if (!probe) return 1;
    on_ring = strcmp(corio_loop_backend(probe), "io_uring") == 0;
    printf("backend: %s%s%s\n", corio_loop_backend(probe), corio_loop_backend_reason(probe) ? " - " : "",
           corio_loop_backend_reason(probe) ? corio_loop_backend_reason(probe) : "");
    corio_loop_close(probe);
    if (want && strcmp(want, "io_uring") == 0 && !on_ring) {
        printf("io_uring is not usable here: skipped\n");
        rmdir(dir);
        return 77;
    }
    test_run(nothing, NULL, 0); /* the first loop opens what the library keeps for good */
    int fds_at_start = count_dir("/proc/self/fd");

    RUN_TEST(test_bad_input);
    RUN_TEST(test_pwrite_pread_1mib);
    RUN_TEST(test_write_read_1mib);
    RUN_TEST(test_errors);
    RUN_TEST(test_cancel_fifo_read);
    RUN_TEST(test_cancel_open);
    RUN_TEST(test_cancel_queued);
    RUN_TEST(test_loop_runs_during_big_reads);
    corio_log_set_handler(quiet_log, NULL);
    RUN_TEST(test_loop_close_during_read);
    corio_log_set_handler(NULL, NULL);

    CHECK_EQ(count_dir("/proc/self/fd"), fds_at_start);
    rmdir(dir);
    TEST_MAIN_END();
}
