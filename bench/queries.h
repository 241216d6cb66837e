/*
 * Benchmark query lists: the query classes (in the style of Lucene's nightly
 * benchmarks, see querygen.h), a list of (class, query) pairs, and query
 * files: one query a line, optionally prefixed by CLASS and a TAB; blank
 * lines and lines starting with '#' are skipped (the format of
 * ../shared/peers/gen_queries.py, so the peers harnesses read our files and
 * we read theirs).
 */
#ifndef QR_BENCH_QUERIES_H
#define QR_BENCH_QUERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The generated classes, in report order. */
typedef enum qr_qclass {
    QR_QC_HIGH_TERM,
    QR_QC_MED_TERM,
    QR_QC_LOW_TERM,
    QR_QC_AND_HIGH_HIGH,
    QR_QC_AND_HIGH_MED,
    QR_QC_AND_HIGH_LOW,
    QR_QC_OR_HIGH_HIGH,
    QR_QC_OR_HIGH_MED,
    QR_QC_OR_HIGH_LOW,
    QR_QC_AND_NOT,
    QR_QC_PHRASE2,
    QR_QC_PHRASE3,
    QR_QC_PREFIX3,
    QR_QC_NEAR,
    QR_QC_TITLE,
    QR_QC_COUNT
} qr_qclass;

/* "HighTerm", ... */
const char *qr_qclass_name(qr_qclass c);
/* The class named name (case-insensitive): 0 and *out, or QR_ENOTFOUND. */
int qr_qclass_find(const char *name, qr_qclass *out);
/*
 * Parses a comma-separated list of class names, or "all", into a bit set
 * (bit c for class c). "peers" means the 13 classes that the peers harnesses
 * (../shared/peers) can run: all but Near and Title. Returns 0, or
 * QR_EINVAL with the unknown name copied into bad (badlen bytes).
 */
int qr_qclass_parse(unsigned *out, const char *list, char *bad, size_t badlen);
#define QR_QC_ALL   ((1u << QR_QC_COUNT) - 1)
#define QR_QC_PEERS (QR_QC_ALL & ~(1u << QR_QC_NEAR) & ~(1u << QR_QC_TITLE))

/* One benchmark query. */
typedef struct qr_bq {
    char *cls;  /* class name; "-" when the line had none (owned) */
    char *text; /* the query in quarry's syntax (owned) */
} qr_bq;

typedef struct qr_bq_list {
    qr_bq *q;
    size_t n;
    size_t cap;
} qr_bq_list;

/* Appends a copy of (cls, text); cls NULL means "-"; a known class name is stored in its
 * canonical spelling ("highterm" -> "HighTerm"). 0 or QR_ENOMEM. */
int qr_bq_add(qr_bq_list *l, const char *cls, const char *text, size_t len);
void qr_bq_list_free(qr_bq_list *l);

/*
 * Reads a query file (see above) and appends its queries. A line's CLASS is
 * what stands before its first TAB (a line without a TAB has class "-");
 * '\r' before '\n' is dropped. Returns 0, QR_EIO or QR_ENOMEM.
 */
int qr_bq_read(qr_bq_list *l, FILE *f);
/* Writes the list as a query file (a comment line first when comment is not NULL). 0 or QR_EIO. */
int qr_bq_write(const qr_bq_list *l, FILE *f, const char *comment);

/*
 * The distinct classes of a list in report order: known classes first, in
 * qr_qclass order, then other names in order of first appearance. *out is
 * an array of borrowed names (free it with qr_free). 0 or QR_ENOMEM.
 */
int qr_bq_classes(const qr_bq_list *l, const char ***out, size_t *out_n);

#endif
