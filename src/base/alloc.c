/*
 * alloc.c - every allocation of the library goes through here, so that a
 * test can make the N-th allocation fail (CORIO_FAIL_ALLOC_AFTER) and check
 * that each out-of-memory path returns -ENOMEM and leaks nothing.
 */
#include "base.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/* -1: never fail.  Otherwise the number of allocations still allowed. */
static long fail_after = -2;

static int should_fail(void) {
    if (corio__likely(fail_after == -1)) return 0;
    if (fail_after == -2) {
        const char *e = getenv("CORIO_FAIL_ALLOC_AFTER");
        fail_after = e ? atol(e) : -1;
        if (fail_after < 0) fail_after = -1;
        if (fail_after == -1) return 0;
    }
    if (fail_after == 0) return 1;
    fail_after--;
    return 0;
}

/* For tests (linked with the static library; not exported from the shared
 * one): allow n more allocations, then fail (-1: never fail). */
void corio__test_fail_alloc_after(long n);
void corio__test_fail_alloc_after(long n) { fail_after = n < 0 ? -1 : n; }

void *corio__malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
void *corio__calloc(size_t n, size_t size) { return should_fail() ? NULL : calloc(n, size); }
void *corio__realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }
void corio__free(void *p) { free(p); }

static size_t huge_round(size_t n) { return (n + CORIO__HUGE_PAGE - 1) & ~(CORIO__HUGE_PAGE - 1); }

void *corio__huge_alloc(size_t n) {
    if (should_fail()) return NULL;
    n = huge_round(n);
    /* Map one huge page more than needed and cut both ends off at the
     * boundaries: mmap only promises page alignment. */
    size_t len = n + CORIO__HUGE_PAGE;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)m + CORIO__HUGE_PAGE - 1) & ~(uintptr_t)(CORIO__HUGE_PAGE - 1));
    if (p > m) munmap(m, (size_t)(p - m));
    if (m + len > p + n) munmap(p + n, (size_t)(m + len - (p + n)));
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);
#endif
    return p;
}

void corio__huge_free(void *p, size_t n) {
    if (p) munmap(p, huge_round(n));
}

void corio__block_free(void *p, size_t huge_len) {
    if (huge_len)
        corio__huge_free(p, huge_len);
    else
        corio__free(p);
}
