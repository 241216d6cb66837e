/*
 * The query timing driver and latency summaries (see timing.h).
 */
#include "bench/timing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/alloc.h"
#include "storage/status.h"

double qr_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void qr_timing_free(qr_timing *t)
{
    if (!t)
        return;
    if (t->error)
        for (size_t i = 0; i < t->n; i++)
            qr_free(t->error[i]);
    qr_free(t->error);
    qr_free(t->ns);
    qr_free(t->total);
    *t = (qr_timing){0};
}

/* Grows the sample array to hold `passes` passes. */
static int reserve_passes(qr_timing *t, size_t *cap, size_t passes)
{
    if (passes <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    if (c < passes)
        c = passes;
    if (c > QR_TIMING_MAX_PASSES)
        c = QR_TIMING_MAX_PASSES;
    size_t cells;
    if (__builtin_mul_overflow(c, t->n ? t->n : 1, &cells))
        return QR_ENOMEM;
    double *ns = qr_reallocarray(t->ns, cells, sizeof *ns);
    if (!ns)
        return QR_ENOMEM;
    t->ns = ns;
    *cap = c;
    return 0;
}

int qr_timing_run(qr_timing *out, const qr_timing_options *opt, size_t n, qr_exec_fn fn, void *ctx)
{
    qr_timing_options o = opt ? *opt : (qr_timing_options){0};
    qr_timing t = {.n = n};
    size_t cap = 0;
    char err[512];
    int rc = QR_ENOMEM;
    t.total = qr_calloc(n ? n : 1, sizeof *t.total);
    t.error = qr_calloc(n ? n : 1, sizeof *t.error);
    if (!t.total || !t.error)
        goto fail;

    /* Warm-up: the first pass also records totals and errors. */
    double w0 = qr_now();
    do {
        for (size_t i = 0; i < n; i++) {
            if (t.warmup_passes > 0 && t.total[i] < 0)
                continue;
            uint64_t total = 0;
            err[0] = '\0';
            int r = fn(ctx, i, &total, err, sizeof err);
            if (t.warmup_passes > 0)
                continue;
            if (r) {
                t.total[i] = -1;
                t.error[i] = qr_strdup(err[0] ? err : qr_strerror(r));
                if (!t.error[i])
                    goto fail;
            } else {
                t.total[i] = (int64_t)total;
            }
        }
        t.warmup_passes++;
    } while (t.warmup_passes < o.warmup || qr_now() - w0 < o.warmup_seconds);

    size_t want = o.repeat ? o.repeat : (o.seconds > 0 ? QR_TIMING_MAX_PASSES : 1);
    if (want > QR_TIMING_MAX_PASSES)
        want = QR_TIMING_MAX_PASSES;
    double t0 = qr_now();
    while (t.passes < want && (t.passes == 0 || o.seconds <= 0 || qr_now() - t0 < o.seconds)) {
        if (reserve_passes(&t, &cap, t.passes + 1))
            goto fail;
        double *row = t.ns + t.passes * n;
        for (size_t i = 0; i < n; i++) {
            if (t.total[i] < 0) {
                row[i] = NAN;
                continue;
            }
            uint64_t total = 0;
            int64_t a = now_ns();
            int r = fn(ctx, i, &total, err, sizeof err);
            int64_t b = now_ns();
            row[i] = (double)(b - a);
            if (r || (int64_t)total != t.total[i])
                t.mismatches++;
        }
        t.passes++;
    }
    t.seconds = qr_now() - t0;
    *out = t;
    return 0;
fail:
    qr_timing_free(&t);
    *out = (qr_timing){0};
    return rc;
}

double qr_percentile(const double *sorted, size_t n, double p)
{
    if (!n)
        return NAN;
    double r = ceil(p / 100.0 * (double)n);
    size_t k = r < 1 ? 0 : (size_t)r - 1;
    return sorted[k < n ? k : n - 1];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int qr_latency_of(qr_latency *out, const qr_timing *t, const qr_bq_list *l, const char *cls)
{
    qr_latency s = {0};
    size_t cells = t->passes * t->n;
    double *v = qr_calloc(cells ? cells : 1, sizeof *v);
    if (!v)
        return QR_ENOMEM;
    size_t k = 0;
    double sum = 0;
    for (size_t i = 0; i < t->n && i < l->n; i++) {
        if (cls && strcmp(l->q[i].cls, cls))
            continue;
        if (t->total[i] < 0) {
            s.errors++;
            continue;
        }
        s.queries++;
        s.hits += (uint64_t)t->total[i];
        for (size_t p = 0; p < t->passes; p++) {
            double x = t->ns[p * t->n + i];
            v[k++] = x;
            sum += x;
        }
    }
    qsort(v, k, sizeof *v, cmp_double);
    s.runs = k;
    s.median_us = qr_percentile(v, k, 50) / 1e3;
    s.p90_us = qr_percentile(v, k, 90) / 1e3;
    s.p99_us = qr_percentile(v, k, 99) / 1e3;
    s.max_us = k ? v[k - 1] / 1e3 : NAN;
    s.mean_us = k ? sum / (double)k / 1e3 : NAN;
    s.qps = sum > 0 ? (double)k / (sum * 1e-9) : NAN;
    s.mean_hits = s.queries ? (double)s.hits / (double)s.queries : NAN;
    qr_free(v);
    *out = s;
    return 0;
}
