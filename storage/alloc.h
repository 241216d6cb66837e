/*
 * Allocation with overflow checks and fault injection.
 *
 * Every heap allocation in quarry goes through these wrappers so that
 * (1) a size computed as count * size can never silently wrap, and
 * (2) tests can make the Nth allocation fail and check that each caller
 *     returns QR_ENOMEM cleanly (SQLite's malloc fault injection).
 * The fault counter is process-wide and atomic; it is test machinery, off
 * unless a test arms it with qr_alloc_fail_after().
 */
#ifndef QR_STORAGE_ALLOC_H
#define QR_STORAGE_ALLOC_H

#include <stddef.h>

/* malloc(n); NULL on failure or injected fault. */
void *qr_malloc(size_t n);
/* calloc(count, size) with overflow check; memory is zeroed. */
void *qr_calloc(size_t count, size_t size);
/* realloc(p, count * size) with overflow check; on failure p is untouched. */
void *qr_reallocarray(void *p, size_t count, size_t size);
/* free(p); accepts NULL. */
void qr_free(void *p);
/* strdup through qr_malloc. */
char *qr_strdup(const char *s);
/* A copy of s[0..n) with a terminating NUL. */
char *qr_strndup(const char *s, size_t n);

/*
 * A zeroed table of bytes (a hash table probed at random) for the indexer's
 * hot tables: aligned to a cache line, or, from QR_HUGE_PAGE bytes up, to a
 * huge page (inside an allocation a huge page longer, whose slack is never
 * touched) with huge pages asked for, and its pages mapped writable at once.
 * Returns the table; *mem receives the allocation to qr_free. NULL on
 * failure or injected fault.
 */
#define QR_HUGE_PAGE (2u << 20)
void *qr_calloc_table(size_t bytes, void **mem);

/*
 * Fault injection: after `n` more successful allocations, every allocation
 * fails (n = 0: the very next one). A negative n disarms it.
 */
void qr_alloc_fail_after(long n);
/* How many allocations were made to fail since the last arming. */
long qr_alloc_failures(void);

#endif
