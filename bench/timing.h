/*
 * The query timing driver, the same for every engine: an engine is a
 * function that runs query i once (parse, execute, collect the top k with
 * the exact total) and says how many documents matched. The driver first
 * makes warm-up passes over the whole list (untimed; the first one also
 * records each query's total and error), then timed passes round-robin over
 * the list, each execution timed alone with clock_gettime(CLOCK_MONOTONIC),
 * until `repeat` passes are done or, with a time budget, until the budget is
 * spent. Percentiles are nearest-rank over the sorted samples.
 */
#ifndef QR_BENCH_TIMING_H
#define QR_BENCH_TIMING_H

#include <stddef.h>
#include <stdint.h>

#include "bench/queries.h"

/*
 * Runs query i once. Returns 0 with *out_total the exact number of matching
 * documents, or a negative code with a message in err (errlen bytes): the
 * query is then left out of the timed passes.
 */
typedef int (*qr_exec_fn)(void *ctx, size_t i, uint64_t *out_total, char *err, size_t errlen);

typedef struct qr_timing_options {
    unsigned repeat;       /* timed passes; with seconds > 0, the most (0: no limit but 10000) */
    unsigned warmup;       /* untimed passes first (at least 1 is always made) */
    double warmup_seconds; /* ... and more until this long has been spent warming up */
    double seconds;        /* > 0: timed passes until this long is spent (at least one) */
} qr_timing_options;

/* Timed passes are capped at this many. */
#define QR_TIMING_MAX_PASSES 10000u

typedef struct qr_timing {
    size_t n;               /* queries */
    size_t passes;          /* timed passes made */
    double *ns;             /* ns[p * n + i]: query i in pass p (NaN for a query in error) */
    int64_t *total;         /* per query: total hits, -1 for a query in error */
    char **error;           /* per query: error message (owned) or NULL */
    unsigned warmup_passes; /* warm-up passes made */
    double seconds;         /* wall time of the timed passes */
    size_t mismatches;      /* executions whose total differed from the first one's */
} qr_timing;

/* Times n queries. 0 or QR_ENOMEM (*out is then empty). Free with qr_timing_free. */
int qr_timing_run(qr_timing *out, const qr_timing_options *opt, size_t n, qr_exec_fn fn, void *ctx);
void qr_timing_free(qr_timing *t);

/* Latency of a group of queries (a class, or the whole run). */
typedef struct qr_latency {
    size_t queries;   /* queries that ran */
    size_t errors;    /* queries in error (not timed) */
    size_t runs;      /* timed executions */
    double median_us; /* over every timed execution of the group */
    double p90_us;
    double p99_us;
    double max_us;
    double mean_us;
    double qps;       /* executions per second of their summed time (one thread) */
    double mean_hits; /* mean total over the group's queries */
    uint64_t hits;    /* sum of the totals */
} qr_latency;

/*
 * Summarises the queries of l whose class is cls (every query when cls is
 * NULL). l must be the list that t timed. 0 or QR_ENOMEM.
 */
int qr_latency_of(qr_latency *out, const qr_timing *t, const qr_bq_list *l, const char *cls);

/* Nearest-rank percentile p (0 < p <= 100) of sorted[0..n); NaN when n == 0. */
double qr_percentile(const double *sorted, size_t n, double p);

/* Seconds on the monotonic clock. */
double qr_now(void);

#endif
