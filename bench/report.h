/*
 * Shared pieces of the benchmark suite (suite.c, scale.c): JSON values of
 * results (jansson; NaN becomes null), table formatting, query loading,
 * and timing quarry and FTS5 on a query list.
 */
#ifndef QR_BENCH_REPORT_H
#define QR_BENCH_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/suite.h"

/* Writes a one-line message into err (errlen bytes; err may be NULL). */
void qr_bench_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- JSON values (new references) ---- */
json_t *qr_jnum(double v); /* a real, or null for NaN and infinities */
json_t *qr_jint(uint64_t v);
json_t *qr_jlatency(const qr_latency *l);
json_t *qr_jmachine(void); /* CPU, cores, memory, kernel, compiler, quarry version */
json_t *qr_jix(const qr_ixbench *r);
json_t *qr_jfts(const qr_fts5bench *r);
json_t *qr_jtiming(const qr_suite_options *o, const qr_timing *t);
json_t *qr_jgen(const qr_suite_options *o, const qr_qgen_stats *gs);
/* Writes doc (indented) to the file path, or to f when path is NULL. 0, QR_EIO or QR_ENOMEM. */
int qr_write_json(json_t *doc, const char *path, FILE *f, char *err, size_t errlen);
/* Writes b to the file path. 0 or QR_EIO. */
int qr_write_file(const char *path, const qr_buf *b, char *err, size_t errlen);

/* ---- tables ---- */
/* v with three significant digits ("-" for NaN) into buf; returns buf. */
const char *qr_fmt3(char *buf, size_t cap, double v);
double qr_mb(uint64_t bytes); /* bytes / 10^6 */
void qr_print_ix_line(FILE *out, const char *label, const qr_ixbench *r);
void qr_print_ix_sizes(FILE *out, const qr_ixbench *r);

/* ---- queries ---- */
/*
 * The queries of a run: o->query_file, else generated from the index at
 * path index with o->gen; also written to o->save_queries. *gs says what
 * generation did (zero for a file). 0 or a code with err set.
 */
int qr_load_queries(const qr_suite_options *o, const char *index, qr_bq_list *l, qr_qgen_stats *gs,
                    char *err, size_t errlen);
/* Warns on stderr about generated classes that got fewer queries than asked. */
void qr_warn_short(const qr_suite_options *o, const qr_qgen_stats *gs);

/* ---- engines ---- */
/* Times l on the quarry index at path index; *out_docs = its live documents. */
int qr_time_quarry(qr_timing *t, const qr_suite_options *o, const char *index, const qr_bq_list *l,
                   uint64_t *out_docs, char *err, size_t errlen);
/* Translates every query to FTS5: (*out_match)[i] or, when FTS5 cannot say it, (*out_why)[i]. */
int qr_translate_all(const qr_bq_list *l, char ***out_match, char ***out_why);
void qr_free_strings(char **v, size_t n);
/* Times l on the FTS5 database db with the translations; *out_docs = its documents. */
int qr_time_fts5(qr_timing *t, const qr_suite_options *o, const char *db, const qr_bq_list *l,
                 char **match, char **why, uint64_t *out_docs, char *err, size_t errlen);
/* Per-class latency: (*out)[c] for classes[c], then the whole run at [ncls]. Free with qr_free. */
int qr_summarise(qr_latency **out, const qr_timing *t, const qr_bq_list *l,
                 const char *const *classes, size_t ncls);
/* Median latency (µs) of query i over the timed passes; NaN for a query in error. */
double qr_query_median(const qr_timing *t, size_t i);

/*
 * The statistic of ../shared/peers: each query's median over the passes,
 * then the median, p95 and p99 of those per-query medians (of class cls, or
 * all queries when NULL) into out[0..3) in µs (NaN when none). 0 or QR_ENOMEM.
 */
int qr_query_medians(double out[3], const qr_timing *t, const qr_bq_list *l, const char *cls);
json_t *qr_jquery_medians(const qr_timing *t, const qr_bq_list *l, const char *cls);

/* True when path does not exist or is an empty directory. */
bool qr_new_or_empty(const char *path);

#endif
