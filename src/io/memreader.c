/*
 * memreader.c - a stream reader that the program feeds itself (asyncio's
 * bare StreamReader() driven with feed_data, feed_eof and set_exception).
 *
 * Built as a module would be, on the public transport seam only
 * (corio/transport.h): the reader is an ordinary corio_reader opened over a
 * read-only transport whose `read` copies from a byte buffer that
 * corio_reader_feed() appends to.  So readline, readuntil, readexactly,
 * limits, views, at_eof and cancel-safety are stream.c's, unchanged; this
 * file only supplies bytes, the end and an error.
 *
 * Waiting: a read that finds the buffer empty (and neither the end nor an
 * error) waits on an Event (corio/sync.h), which feed, feed_eof and
 * set_error set.  A cancelled wait returns -ECANCELED having taken nothing,
 * which is what the reader's cancel-safety asks of a transport.
 *
 * Telling our readers from others: corio_reader_transport() gives the
 * context of any transport stream, and a context that is not ours may be
 * anything (its owner's struct, or not a pointer at all), so it must not
 * be read to find out.  Every live context is kept in a small hash set of
 * pointers instead, compared and never dereferenced until found.
 */
#include <corio.h>
#include <corio/transport.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct memsrc {
    struct memsrc *next; /* the registry's chain of this bucket */
    char *p;             /* fed bytes not yet handed to the reader are p[start..end) */
    size_t start, end, cap;
    int eof;             /* feed_eof was called */
    int err;             /* set_error's code, 0 if none */
    int waiting;         /* a task waits in mem_read */
    size_t dropped;      /* bytes the reader had pulled that set_error threw away: still counted */
    corio_event ready;   /* set by feed, feed_eof and set_error; a waiting read clears it */
} memsrc;

/* ---- the registry of live contexts ------------------------------------------------ */

/* Readers live on the loop's thread, but two loops on two threads may make
 * and free them at once, hence the lock (uncontended: a few tens of ns a
 * call).  The table doubles when there are two readers a bucket, so that a
 * server with a memory reader per connection keeps short chains, and is
 * freed with the last reader. */
static memsrc **reg;      /* 1 << reg_bits buckets, NULL while there is no reader */
static unsigned reg_bits;
static size_t reg_count;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

/* Fibonacci hashing: the top bits of the product mix every bit of the
 * address (malloc blocks share their low bits). */
static size_t reg_hash(const void *p, unsigned bits) {
    uint64_t x = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> (64 - bits));
}

/* Under the lock.  A failed doubling keeps the old table: longer chains,
 * still right. */
static int reg_grow(void) {
    unsigned bits = reg ? reg_bits + 1 : 6;
    memsrc **t = calloc((size_t)1 << bits, sizeof *t);
    if (!t) return reg ? 0 : -ENOMEM;
    for (size_t i = 0; reg && i < (size_t)1 << reg_bits; i++) {
        for (memsrc *m = reg[i], *next; m; m = next) {
            next = m->next;
            size_t h = reg_hash(m, bits);
            m->next = t[h];
            t[h] = m;
        }
    }
    free(reg);
    reg = t;
    reg_bits = bits;
    return 0;
}

static int reg_add(memsrc *m) {
    int rc = 0;
    pthread_mutex_lock(&reg_lock);
    if (!reg || reg_count >= (size_t)2 << reg_bits) rc = reg_grow();
    if (rc == 0) {
        size_t h = reg_hash(m, reg_bits);
        m->next = reg[h];
        reg[h] = m;
        reg_count++;
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

static void reg_remove(memsrc *m) {
    pthread_mutex_lock(&reg_lock);
    for (memsrc **pp = &reg[reg_hash(m, reg_bits)]; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            if (--reg_count == 0) {
                free(reg);
                reg = NULL;
            }
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
}

/* The memory source under r, or NULL when r is NULL or not a memory reader. */
static memsrc *src_of(const corio_reader *r) {
    void *ctx = r ? corio_reader_transport(r) : NULL;
    if (!ctx) return NULL;
    memsrc *found = NULL;
    pthread_mutex_lock(&reg_lock);
    for (memsrc *m = reg ? reg[reg_hash(ctx, reg_bits)] : NULL; m; m = m->next) {
        if ((void *)m == ctx) {
            found = m;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return found;
}

/* ---- the transport --------------------------------------------------------------- */

static size_t src_len(const memsrc *m) { return m->end - m->start; }

/* asyncio's read order: an exception set wins over bytes still fed (it is
 * raised before the buffer is looked at), then bytes, then the end. */
static ssize_t mem_read(void *ctx, void *buf, size_t n) {
    memsrc *m = ctx;
    for (;;) {
        if (m->err) return m->err;
        size_t have = src_len(m);
        if (have) {
            size_t k = have < n ? have : n;
            memcpy(buf, m->p + m->start, k);
            m->start += k;
            if (m->start == m->end) {
                m->start = m->end = 0;
                /* A bulk feed grew the buffer: once it is read, give the
                 * memory back rather than keep it for an idle reader (the
                 * reader's own buffer does the same above 256 KiB). */
                if (m->cap > 256 * 1024) {
                    free(m->p);
                    m->p = NULL;
                    m->cap = 0;
                }
            }
            return (ssize_t)k;
        }
        if (m->eof) return 0;
        /* Two tasks waiting for the same bytes could not both have them
         * (asyncio: RuntimeError "called while another coroutine is
         * already waiting"); -EBUSY does not stick to the reader. */
        if (m->waiting) return -EBUSY;
        corio_event_clear(&m->ready);
        m->waiting = 1;
        int rc = corio_event_wait(&m->ready);
        m->waiting = 0;
        if (rc < 0) return rc; /* -ECANCELED: nothing taken; -EPERM outside a task */
    }
}

/* Read-only: the stream is opened without a writer, so these are never
 * reached, but the seam requires them. */
static int mem_write(void *ctx, const struct iovec *iov, int iovcnt) {
    (void)ctx, (void)iov, (void)iovcnt;
    return -EOPNOTSUPP;
}
static size_t mem_buffered(void *ctx) {
    (void)ctx;
    return 0;
}
static int mem_close(void *ctx) {
    (void)ctx;
    return 0;
}

static int mem_at_eof(void *ctx) {
    const memsrc *m = ctx;
    return m->eof && !src_len(m);
}

/* asyncio's len(reader._buffer) is every byte fed and not consumed: with
 * an exception set, those too that no read will return. */
static size_t mem_read_buffered(void *ctx) {
    const memsrc *m = ctx;
    return src_len(m) + m->dropped;
}

static void mem_release(void *ctx) {
    memsrc *m = ctx;
    reg_remove(m);
    corio_event_destroy(&m->ready);
    free(m->p);
    free(m);
}

static const corio_transport_ops mem_ops = {
    .read = mem_read,
    .write = mem_write,
    .buffered = mem_buffered,
    .close = mem_close,
    .release = mem_release,
    .at_eof = mem_at_eof,
    .read_buffered = mem_read_buffered,
};

/* ---- the API --------------------------------------------------------------------- */

int corio_reader_new_memory(const corio_stream_opts *opts, corio_reader **r) {
    if (!r) return -EINVAL;
    *r = NULL;
    memsrc *m = calloc(1, sizeof *m);
    if (!m) return -ENOMEM;
    corio_event_init(&m->ready);
    /* Only the limit means anything to a reader alone; the water marks
     * are the writer's. */
    corio_stream_opts o = {.limit = opts ? opts->limit : 0};
    int rc = reg_add(m);
    if (rc == 0) {
        rc = corio_stream_open_transport(&mem_ops, m, &o, r, NULL);
        if (rc < 0) reg_remove(m);
    }
    if (rc < 0) {
        corio_event_destroy(&m->ready);
        free(m);
    }
    return rc;
}

int corio_reader_feed(corio_reader *r, const void *data, size_t n) {
    memsrc *m = src_of(r);
    if (!m || (!data && n)) return -EINVAL;
    if (m->eof) return -EPIPE;
    if (n == 0) return 0;
    if (m->cap - m->end < n) {
        size_t have = src_len(m);
        if (m->start) { /* slide what is left down before growing */
            memmove(m->p, m->p + m->start, have);
            m->start = 0;
            m->end = have;
        }
        if (m->cap - have < n) {
            if (n > SIZE_MAX / 2 - have) return -ENOMEM;
            size_t cap = m->cap ? m->cap : 256;
            while (cap - have < n) cap *= 2;
            char *p = realloc(m->p, cap);
            if (!p) return -ENOMEM;
            m->p = p;
            m->cap = cap;
        }
    }
    memcpy(m->p + m->end, data, n);
    m->end += n;
    if (m->waiting) corio_event_set(&m->ready);
    return 0;
}

int corio_reader_feed_eof(corio_reader *r) {
    memsrc *m = src_of(r);
    if (!m) return -EINVAL;
    m->eof = 1;
    if (m->waiting) corio_event_set(&m->ready);
    return 0;
}

/*
 * asyncio raises a set exception before it looks at its buffer, but the
 * reader serves what it has pulled into its own buffer without asking the
 * transport.  So set_error takes those bytes out of the reader (they could
 * never be read in asyncio either), and the next call asks mem_read, which
 * returns the error.  A reader call charges the task's turn and may yield
 * when the turn is spent; a cancellation delivered there was meant for
 * the caller's next suspension, so it is requested again (cancel, then
 * uncancel to keep the count) and the drop retried once, which no longer
 * yields: the turn is fresh.
 */
static void drop_pulled(corio_reader *r, memsrc *m) {
    char tmp[2048];
    int retried = 0;
    size_t left;
    /* corio_reader_buffered counts ours too (mem_read_buffered): take
     * them away to leave the reader's own. */
    while ((left = corio_reader_buffered(r) - mem_read_buffered(m)) > 0) {
        ssize_t k = corio_reader_read(r, tmp, left < sizeof tmp ? left : sizeof tmp);
        if (k > 0) {
            m->dropped += (size_t)k;
            continue;
        }
        corio_task *self = corio_current_task();
        if (k == -ECANCELED && self) {
            corio_cancel(self);
            corio_task_uncancel(self);
        }
        if (k != -ECANCELED || retried++) break; /* left buffered: served before the error */
    }
}

int corio_reader_set_error(corio_reader *r, int err) {
    memsrc *m = src_of(r);
    /* -EBADF is the reader's own sign of a closed descriptor, which it
     * reads as end of stream: it could not come back as the error. */
    if (!m || err >= 0 || err == -EBADF) return -EINVAL;
    m->err = err;
    drop_pulled(r, m);
    if (m->waiting) corio_event_set(&m->ready);
    return 0;
}

int corio_reader_error(const corio_reader *r) {
    const memsrc *m = src_of(r);
    return m ? m->err : 0;
}
