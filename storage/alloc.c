/*
 * Allocation wrappers: overflow-checked sizes and an atomic countdown that
 * makes allocations fail on demand for fault-injection tests.
 */
#include "storage/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
