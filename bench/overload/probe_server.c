/*
 * probe_server.c - an example-like corio server that measures its own loop
 * while bench/overload/flood.c saturates it (bench/overload/run.sh).
 *
 *   probe_server [-m streams|proto|chat] [-n CONNS] PORT
 *
 *   -m streams: echo, one task per connection (as examples/echo_server.c)
 *   -m proto:   echo with protocol callbacks (as examples/echo_server_proto.c)
 *   -m chat:    line chat, every line to every other client, a receiver more
 *               than 1 MiB behind is disconnected (as examples/chat_server.c)
 *
 * Listens on 127.0.0.1:PORT (0: a free port) and prints "listening on
 * 127.0.0.1:PORT".  Beside the server a task sleeps 10 ms in a loop and
 * records how late each wake-up is (CLOCK_MONOTONIC at wake-up minus the
 * deadline it asked for).  The measured window opens when CONNS (default
 * 200) connections are first open at once (the load client connects all
 * of them before it starts writing) and closes when fewer are open again
 * (the load client is done; chat clients disconnected for falling behind
 * do not count, the load client replaces them) or at SIGTERM.  A wake-up counts when its
 * sleep overlapped the window; a sleep still not over at SIGTERM counts
 * with its lateness so far.  Over the window it reports timer lateness
 * (p50/p99/max) and
 * loop iterations per second: corio has no counter of iterations in its
 * API except the header line of the task dump (corio/debug.h:
 * "corio task dump: ... iteration N"), which is the loop's own count, so
 * the dump is taken once when the window opens and once when it closes
 * (no work is added to the iterations themselves).
 *
 * At SIGTERM it prints one line, then closes everything and exits 0:
 *   name=probe mode=... backend=... window_s=... ticks=... timer_late_p50_ms=...
 *   timer_late_p99_ms=... timer_late_max_ms=... iterations=... iter_per_s=...
 *   bytes_in=... conns_max=...
 * (window_s=0 and no figures when the window never opened.)
 */
#include <corio.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000
#define CHAT_MAX_BEHIND (1024 * 1024)

enum { M_STREAMS, M_PROTO, M_CHAT };
static int mode = M_STREAMS;
static size_t want_conns = 200;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the window and its figures --------------------------------------------------- */

static size_t nconn, conns_max;
static int win_state;                    /* 0 not open, 1 open, 2 closed */
static double win_t0, win_t1;
static unsigned long long iter0, iter1;
static uint64_t bytes_in;                /* received by the server inside the window */
static double *late;                     /* lateness of each wake-up in the window, seconds */
static size_t nlate;

static void take_iteration(const char *line, void *arg) {
    unsigned long long *out = arg;
    if (*out != ~0ull) return; /* the header only */
    const char *p = strstr(line, "iteration ");
    *out = p ? strtoull(p + 10, NULL, 10) : 0;
}

static unsigned long long iterations(void) {
    unsigned long long v = ~0ull;
    corio_loop_dump_tasks_fn(corio_loop_current(), take_iteration, &v);
    return v == ~0ull ? 0 : v;
}

static void window_open(void) {
    win_state = 1;
    win_t0 = mono();
    iter0 = iterations();
}

static void window_close(void) {
    if (win_state != 1) return;
    win_state = 2;
    win_t1 = mono();
    iter1 = iterations();
}

static void conn_up(void) {
    if (++nconn > conns_max) conns_max = nconn;
    if (nconn >= want_conns && win_state == 0) window_open();
}

/* A departure closes the window when fewer than CONNS are left, unless it
 * was a chat kick: kicked clients are replaced by the load client (-R),
 * and the window is for the load, not for the room's policy. */
static void conn_down(bool kicked) {
    nconn--;
    if (!kicked && nconn < want_conns) window_close();
}

static void count_in(size_t n) {
    if (win_state == 1) bytes_in += n;
}

/* The 10 ms sleeper.  A wake-up counts when its wait overlapped the
 * window (woke after it opened, was due before it closed), so the long
 * wait that spans a starved stretch is not lost. */
static double pending_due; /* deadline of the sleep in progress, 0: none */

static void record_late(double due, double t) {
    if (win_state >= 1 && t >= win_t0 && (win_state == 1 || due <= win_t1) && nlate < MAX_SAMPLES)
        late[nlate++] = t - due;
}

static int ticker(void *arg) {
    (void)arg;
    for (;;) {
        double due = mono() + 0.010;
        pending_due = due;
        int rc = corio_sleep(0.010);
        pending_due = 0;
        if (rc < 0) return 0;
        record_late(due, mono());
    }
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(void) {
    static const char *names[] = {"streams", "proto", "chat"};
    double t = mono();
    window_close();
    if (pending_due != 0) record_late(pending_due, t); /* still waiting: late by at least this */
    pending_due = 0;
    printf("name=probe mode=%s backend=%s", names[mode], corio_loop_backend(corio_loop_current()));
    if (win_state != 2 || win_t1 <= win_t0) {
        printf(" window_s=0 conns_max=%zu\n", conns_max);
        return;
    }
    double w = win_t1 - win_t0;
    qsort(late, nlate, sizeof *late, cmp_d);
    double p50 = nlate ? late[nlate / 2] : 0, p99 = nlate ? late[(size_t)(0.99 * (double)nlate)] : 0;
    double mx = nlate ? late[nlate - 1] : 0;
    printf(" window_s=%.3f ticks=%zu timer_late_p50_ms=%.3f timer_late_p99_ms=%.3f timer_late_max_ms=%.3f"
           " iterations=%llu iter_per_s=%.1f bytes_in=%llu in_MBps=%.2f conns_max=%zu\n",
           w, nlate, p50 * 1e3, p99 * 1e3, mx * 1e3, iter1 - iter0, (double)(iter1 - iter0) / w,
           (unsigned long long)bytes_in, (double)bytes_in / w / 1e6, conns_max);
}

/* ---- streams echo ------------------------------------------------------------------ */

static corio_server *server;

static int echo_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    char buf[16384];
    ssize_t n;
    conn_up();
    while ((n = corio_reader_read(r, buf, sizeof buf)) > 0) {
        count_in((size_t)n);
        if (corio_writer_write(w, buf, (size_t)n) < 0 || corio_writer_drain(w) < 0) break;
    }
    conn_down(false);
    return n < 0 ? (int)n : 0;
}

/* ---- protocol echo ----------------------------------------------------------------- */

static corio_proto_server *pserver;

static void *p_new(void *arg) {
    (void)arg;
    return (void *)1;
}
static void p_made(corio_transport *t, void *arg) {
    (void)t;
    (void)arg;
    conn_up();
}
static void p_data(corio_transport *t, const void *d, size_t n, void *arg) {
    (void)arg;
    count_in(n);
    corio_transport_write(t, d, n);
}
static void p_lost(corio_transport *t, int err, void *arg) {
    (void)t;
    (void)err;
    (void)arg;
    conn_down(false);
}
static const corio_protocol echo_proto = {.connection_made = p_made, .data_received = p_data, .connection_lost = p_lost};

/* ---- chat (the logic of examples/chat_server.c, without its log lines) --------------- */

typedef struct client {
    corio_list link;
    corio_writer *w;
    bool kicked;
    char prefix[CORIO_ADDRSTRLEN + 2];
    size_t prefix_len;
} client;

static corio_list room = {&room, &room};
static uint64_t kicks;

static void leave(client *c) {
    if (c->link.next == &c->link) return;
    c->link.prev->next = c->link.next;
    c->link.next->prev = c->link.prev;
    c->link.next = c->link.prev = &c->link;
}

static void kick(client *c) {
    kicks++;
    c->kicked = true;
    leave(c);
    corio_writer_abort(c->w);
}

static void broadcast(client *from, const char *line, size_t len) {
    size_t need = from->prefix_len + len;
    corio_list *next;
    for (corio_list *l = room.next; l != &room; l = next) {
        next = l->next;
        client *c = (client *)l;
        if (c == from) continue;
        if (corio_writer_buffered(c->w) + need > CHAT_MAX_BEHIND) {
            kick(c);
            continue;
        }
        struct iovec iov[2] = {{from->prefix, from->prefix_len}, {(void *)line, len}};
        if (corio_writer_writelines(c->w, iov, 2) < 0) kick(c);
    }
}

static int chat_handler(corio_reader *r, corio_writer *w, void *arg) {
    (void)arg;
    client c = {.w = w};
    char peer[CORIO_ADDRSTRLEN] = "?";
    corio_writer_peername(w, peer, sizeof peer);
    c.prefix_len = (size_t)snprintf(c.prefix, sizeof c.prefix, "%s: ", peer);
    c.link.prev = room.prev;
    c.link.next = &room;
    room.prev->next = &c.link;
    room.prev = &c.link;
    conn_up();
    int rc;
    for (;;) {
        const char *line;
        size_t len;
        rc = corio_reader_readline(r, &line, &len);
        if (rc == -ENOBUFS) {
            c.kicked = true;
            corio_writer_abort(w);
            break;
        }
        if (rc < 0 || len == 0 || c.kicked || line[len - 1] != '\n') break;
        count_in(len);
        broadcast(&c, line, len);
    }
    leave(&c);
    conn_down(c.kicked);
    return rc < 0 ? rc : 0;
}

/* ---- main ---------------------------------------------------------------------------- */

static corio_event stop;

static void on_signal(int signum, void *arg) {
    (void)signum;
    (void)arg;
    report();
    if (mode == M_CHAT) printf("kicks=%llu\n", (unsigned long long)kicks);
    corio_event_set(&stop);
}

static int amain(void *arg) {
    int port = *(int *)arg, rc;
    if (mode == M_PROTO)
        rc = corio_create_server("127.0.0.1", port, &echo_proto, p_new, NULL, NULL, &pserver);
    else
        rc = corio_start_server("127.0.0.1", port, mode == M_CHAT ? chat_handler : echo_handler, NULL, &server);
    if (rc < 0) {
        fprintf(stderr, "probe_server: cannot listen on 127.0.0.1:%d: %s\n", port, corio_strerror(rc));
        return rc;
    }
    corio_event_init(&stop);
    corio_add_signal_handler(SIGTERM, on_signal, NULL);
    corio_add_signal_handler(SIGINT, on_signal, NULL);
    corio_task *tick = corio_spawn(ticker, NULL);
    printf("listening on 127.0.0.1:%d\n", mode == M_PROTO ? corio_proto_server_port(pserver) : corio_server_port(server));
    rc = corio_event_wait(&stop);
    if (tick) {
        corio_cancel(tick);
        corio_join(tick);
    }
    if (mode == M_PROTO) {
        corio_proto_server_close(pserver, 1);
        corio_yield();
    } else {
        corio_server_close(server, 1);
        corio_server_wait_closed(server);
        corio_server_free(server);
    }
    corio_remove_signal_handler(SIGTERM);
    corio_remove_signal_handler(SIGINT);
    corio_event_destroy(&stop);
    return rc < 0 ? rc : 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int opt;
    while ((opt = getopt(argc, argv, "m:n:")) != -1) {
        switch (opt) {
        case 'm':
            if (!strcmp(optarg, "streams"))
                mode = M_STREAMS;
            else if (!strcmp(optarg, "proto"))
                mode = M_PROTO;
            else if (!strcmp(optarg, "chat"))
                mode = M_CHAT;
            else
                goto usage;
            break;
        case 'n': want_conns = (size_t)atol(optarg); break;
        default: goto usage;
        }
    }
    if (optind != argc - 1) goto usage;
    char *end = NULL;
    long port = strtol(argv[optind], &end, 10);
    if (!*argv[optind] || *end || port < 0 || port > 65535 || want_conns == 0) goto usage;
    late = malloc(MAX_SAMPLES * sizeof *late);
    if (!late) return 1;
    int p = (int)port;
    return corio_run(amain, &p) < 0 ? 1 : 0;
usage:
    fprintf(stderr, "usage: probe_server [-m streams|proto|chat] [-n CONNS] PORT\n");
    return 2;
}
