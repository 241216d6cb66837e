/*
 * Allocation wrappers: overflow-checked sizes and an atomic countdown that
 * makes allocations fail on demand for fault-injection tests; and the
 * indexer's hash tables, placed and mapped for random probing.
 */
#include "storage/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static atomic_long fail_countdown = -1; /* < 0: disarmed; 0: fail; > 0: allow that many */
static atomic_long fail_count;          /* allocations failed since arming */

void qr_alloc_fail_after(long n)
{
    atomic_store(&fail_count, 0);
    atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

long qr_alloc_failures(void)
{
    return atomic_load(&fail_count);
}

static int injected(void)
{
    long c = atomic_load(&fail_countdown);
    while (c >= 0) {
        if (c == 0) {
            atomic_fetch_add(&fail_count, 1);
            return 1;
        }
        if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1))
            return 0;
    }
    return 0;
}

void *qr_malloc(size_t n)
{
    if (injected())
        return NULL;
    return malloc(n ? n : 1);
}

void *qr_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (injected())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *qr_reallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (injected())
        return NULL;
    size_t n = count * size;
    return realloc(p, n ? n : 1);
}

void qr_free(void *p)
{
    free(p);
}

char *qr_strndup(const char *s, size_t n)
{
    char *d = qr_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *qr_strdup(const char *s)
{
    return qr_strndup(s, strlen(s));
}

void *qr_calloc_table(size_t bytes, void **mem)
{
    /*
     * Lookups land on random lines: with 4 KiB pages nearly each one also
     * misses the TLB (and under a hypervisor a TLB miss walks two page
     * tables). A table of a huge page or more starts on a huge page
     * boundary and asks for huge pages.
     */
    size_t align = bytes >= QR_HUGE_PAGE ? QR_HUGE_PAGE : 64;
    if (bytes > SIZE_MAX - align)
        return NULL;
    uint8_t *m = qr_calloc(1, bytes + align);
    if (!m)
        return NULL;
    *mem = m;
    uint8_t *t = (uint8_t *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
#ifdef MADV_HUGEPAGE
    if (align == QR_HUGE_PAGE)
        (void)madvise(t, bytes, MADV_HUGEPAGE); /* a hint: failure is fine */
#endif
#ifdef MADV_POPULATE_WRITE
    /*
     * Map the table's pages writable now, in one call. Otherwise the first
     * probe of a fresh page maps the shared zero page and the insert that
     * follows takes a second fault to copy it, whose TLB flush interrupts
     * every other core running this process (with two workers, those
     * interrupts cost more CPU than the faults themselves). A hint too:
     * the pages are zero either way.
     */
    uintptr_t plo = ((uintptr_t)t + 4095) & ~(uintptr_t)4095;
    uintptr_t phi = ((uintptr_t)t + bytes) & ~(uintptr_t)4095;
    if (phi > plo)
        (void)madvise((void *)plo, phi - plo, MADV_POPULATE_WRITE);
#endif
    return t;
}
