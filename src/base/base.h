/*
 * base.h - the bottom layer, shared by every file of the library: lists,
 * logging, allocation and the clock.
 * Nothing here knows the loop.  Layers and the rule for what may call
 * what: docs/design.md, "Layers".
 * Names: corio_ public, corio__ shared between files, static otherwise.
 */
#ifndef CORIO_SRC_BASE_H
#define CORIO_SRC_BASE_H
#include "corio.h"

#include <assert.h>
#include <pthread.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define corio__container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define corio__likely(x) __builtin_expect(!!(x), 1)
#define corio__unlikely(x) __builtin_expect(!!(x), 0)
#define CORIO__TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- intrusive lists (circular, with a head node) -------------------------- */

static inline void corio__list_init(corio_list *h) { h->next = h->prev = h; }
static inline bool corio__list_empty(const corio_list *h) { return h->next == h; }
static inline void corio__list_push_back(corio_list *h, corio_list *n) {
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void corio__list_push_front(corio_list *h, corio_list *n) {
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
}
/* Unlink n and leave it pointing at itself, so a second remove is harmless. */
static inline void corio__list_remove(corio_list *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}
/* Put every node of `from` before the first of `to`, in order; `from` ends empty. */
static inline void corio__list_splice_front(corio_list *to, corio_list *from) {
    if (corio__list_empty(from)) return;
    corio_list *first = from->next, *last = from->prev;
    last->next = to->next;
    to->next->prev = last;
    first->prev = to;
    to->next = first;
    corio__list_init(from);
}
/* Append every node of `from` to the end of `to`, in order; `from` ends empty. */
static inline void corio__list_splice_back(corio_list *to, corio_list *from) {
    if (corio__list_empty(from)) return;
    corio_list *first = from->next, *last = from->prev;
    first->prev = to->prev;
    to->prev->next = first;
    last->next = to;
    to->prev = last;
    corio__list_init(from);
}
#define corio__list_foreach(it, head) for (corio_list *it = (head)->next; it != (head); it = it->next)

/* ---- logging ---------------------------------------------------------------- */

extern int corio__debug_on;
void corio__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report bad input in debug mode and return err, for `return corio__bad(-EINVAL, "...")`. */
#define corio__bad(err, ...) (corio__unlikely(corio__debug_on) ? (corio__log(CORIO_LOG_WARNING, __VA_ARGS__), (err)) : (err))
void corio__debug_init(void);

/* ---- allocation (one place, so tests can inject failures) ------------------- */

void *corio__malloc(size_t n);
void *corio__calloc(size_t n, size_t size);
void *corio__realloc(void *p, size_t n);
void corio__free(void *p);
/*
 * Big arrays that live as long as their loop (timer handles): a mapping of
 * whole 2 MiB huge pages, aligned, with MADV_HUGEPAGE, so that where the
 * kernel allows transparent huge pages on request (Debian's default,
 * "madvise") a million timers' handles fault in about 50 huge pages instead
 * of 26,000 small ones, each fault 10-50 us on a VM.  n is rounded up to a
 * multiple of CORIO__HUGE_PAGE; NULL when no memory.  Free with
 * corio__huge_free(p, n) and the same n.
 */
#define CORIO__HUGE_PAGE ((size_t)2 << 20)
void *corio__huge_alloc(size_t n);
void corio__huge_free(void *p, size_t n);
/* Free a block that is either corio__huge_alloc's (huge_len, its length)
 * or corio__malloc's (huge_len 0): the loop's handle slabs, timer heap and
 * timer-wheel arrays are one or the other depending on their size. */
void corio__block_free(void *p, size_t huge_len);

/* ---- time ------------------------------------------------------------------- */

#define CORIO__NS_PER_S 1000000000LL
int64_t corio__mono_ns(void);
/* Seconds as a double to a nanosecond delta, clamped to +-2^62 ns; caller rejects NaN. */
int64_t corio__sec_to_ns(double s);

#endif
