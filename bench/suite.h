/*
 * The benchmark suite behind `quarry bench`: each entry point runs one
 * whole benchmark and writes its report, a table for people on `out` (or
 * the JSON document there with json), and optionally the JSON document and
 * an SVG picture to files, all from the same run.
 *
 *   qr_suite_index    build an index of DIR... in a scratch place (R times):
 *                     docs/s, MB/s, peak RSS, bytes per file kind, bits per
 *                     doc id / frequency / position
 *   qr_suite_queries  time a query set (a file, or generated from the index)
 *                     on an index: per class count, median, p90, p99, max
 *                     latency, QPS, mean hits, and the whole run
 *   qr_suite_gen      print generated queries (class<TAB>query), e.g. for
 *                     ../shared/peers
 *   qr_suite_compare  quarry and SQLite FTS5 side by side on DIR...: both
 *                     builds, the same queries, per class both latencies,
 *                     their ratio and the hit-count agreement
 *   qr_suite_scale    synthetic corpora of growing sizes: indexing time,
 *                     index size, peak RSS and per-class latency per size
 *
 * Every function returns 0 or a QR_E* code with a one-line message in err.
 */
#ifndef QR_BENCH_SUITE_H
#define QR_BENCH_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/ixbench.h"
#include "bench/querygen.h"
#include "bench/synth.h"
#include "bench/timing.h"

typedef struct qr_suite_options {
    /* queries */
    const char *index;        /* qr_suite_queries / qr_suite_gen: the index directory */
    const char *query_file;   /* the queries ("-": standard input); NULL: generated */
    qr_qgen_options gen;      /* generation: classes, per class, seed, bands */
    size_t k;                 /* hits collected per query; 0: 10 */
    qr_timing_options timing; /* repetitions, warm-up, time budget */
    /* indexing */
    qr_ixbench_options ix;
    unsigned ix_repeat; /* builds in qr_suite_index (the median is reported); 0: 1 */
    const char *tmp;    /* parent of the scratch directories; NULL: $TMPDIR or /tmp */
    const char *keep;   /* keep what is built in this directory instead of a scratch one */
    /* outputs */
    bool json;                /* the JSON document on out instead of the table */
    const char *json_path;    /* also write the JSON document here */
    const char *svg_path;     /* write the picture here */
    const char *save_queries; /* write the queries used here */
    /* scale */
    const uint64_t *sizes; /* corpus sizes in documents, increasing */
    size_t nsizes;
    qr_synth_options synth;
    bool fts5; /* qr_suite_scale: FTS5 at every size too */
} qr_suite_options;

int qr_suite_index(const qr_suite_options *o, const char *const *dirs, size_t ndirs, FILE *out,
                   char *err, size_t errlen);
int qr_suite_queries(const qr_suite_options *o, FILE *out, char *err, size_t errlen);
int qr_suite_gen(const qr_suite_options *o, FILE *out, char *err, size_t errlen);
int qr_suite_compare(const qr_suite_options *o, const char *const *dirs, size_t ndirs, FILE *out,
                     char *err, size_t errlen);
int qr_suite_scale(const qr_suite_options *o, FILE *out, char *err, size_t errlen);

#endif
