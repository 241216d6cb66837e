/*
 * Indexing benchmarks: quarry's indexer and FTS5's build, each run in a
 * forked child (proc.h) so that its peak RSS and CPU time are its own, into
 * a fresh directory, followed by the index's statistics (bytes per file
 * kind, bits per doc id, frequency and position).
 */
#ifndef QR_BENCH_IXBENCH_H
#define QR_BENCH_IXBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/fts5.h"
#include "bench/proc.h"
#include "index/indexer.h"
#include "index/stats.h"

typedef struct qr_ixbench_options {
    unsigned threads;     /* 0: the indexer's default (online processors) */
    uint64_t ram_bytes;   /* 0: the indexer's default */
    const char *language; /* NULL: english */
    bool optimize;        /* end with qr_indexer_merge_all, as `quarry index --optimize` */
} qr_ixbench_options;

/* One quarry build. */
typedef struct qr_ixbench {
    uint64_t docs;      /* documents added */
    uint64_t skipped;   /* files skipped, every reason */
    uint64_t raw_bytes; /* bytes read and analysed */
    uint64_t segments;  /* after the run */
    uint64_t flushes;
    uint64_t merges;
    double seconds;          /* the run inside the child: open, walk, read, index, merge, commit */
    double optimize_seconds; /* of which the final merge into one segment (--optimize) */
    qr_child_usage usage;    /* the child: wall time (fork to exit), CPU, peak RSS */
    qr_index_stats stats;    /* of the built index */
    char error[256];         /* why it failed, "" on success */
} qr_ixbench;

/*
 * Indexes dirs[0..ndirs) into index_path (a new or empty directory, created
 * if missing). Returns 0 or an error code with out->error set.
 */
int qr_ixbench_run(qr_ixbench *out, const char *index_path, const char *const *dirs, size_t ndirs,
                   const qr_ixbench_options *opt);

/* One FTS5 build (qr_fts5_build in a child). */
typedef struct qr_fts5bench {
    qr_fts5_build_result build;
    qr_child_usage usage;
    char error[256];
} qr_fts5bench;

/* Builds the FTS5 database db_path (must not exist) from dirs in a child. 0 or a code. */
int qr_fts5bench_run(qr_fts5bench *out, const char *db_path, const char *const *dirs, size_t ndirs);

#endif
