/*
 * Index verification: what `quarry check` runs (SPEC §5: "verifies every
 * byte; exit 0 only when sound").
 *
 * qr_check opens the newest manifest of a directory and verifies every file
 * it names: frame and checksum first (so a damaged file is named, with the
 * offset of what failed), then each codec's structure, then what one file
 * can say about another:
 *   - the manifest: it loads, its language is one the analyzer knows, and
 *     every file it names exists;
 *   - per segment: the document table, the document store and the manifest
 *     agree on the number of documents; the deletion bitmap on the number
 *     deleted; the manifest's live length is the sum of the lengths of the
 *     documents not deleted;
 *   - every term of the dictionary, in order: its postings decode to the
 *     end, list df documents, each below the segment's document count, with
 *     tfs summing to ttf and positions non-decreasing and below the
 *     document's length; its positions fill exactly its share of the
 *     position stream (the next term's starts where its own end); the
 *     dictionary's totals (terms, sum of df, sum of ttf) match the walk;
 *   - every stored document fetches and decompresses;
 *   - no path is a live document in two segments.
 * Files that the manifest does not name (but for LOCK and *.tmp) are
 * reported as warnings: the next writer removes them, and they do not make
 * the index unsound. Only the newest generation is checked.
 *
 * Check reads while a writer may be committing: files the writer's garbage
 * collection removes while they are checked would look missing. Problems
 * are therefore held until the check ends and passed on only when no newer
 * manifest has appeared meanwhile; otherwise the newest generation is
 * checked again (at most QR_CHECK_RETRIES times). A running writer's new,
 * not yet committed files show as orphan warnings.
 */
#ifndef QR_INDEX_CHECK_H
#define QR_INDEX_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/dir.h"

/* One problem found; every pointer is valid only during the callback. */
typedef struct qr_check_problem {
    const char *file;    /* the file's name in the index directory ("MANIFEST-..." or "seg-...") */
    int64_t offset;      /* byte offset in the file where the problem shows, -1 when unknown */
    const char *message; /* what is wrong, one line, no trailing newline */
    bool warning;        /* true for a warning (an orphan file): the index is still sound */
} qr_check_problem;

/* Called once per problem, in the order found. */
typedef void (*qr_check_fn)(void *ctx, const qr_check_problem *p);

/* What a check looked at. */
typedef struct qr_check_stats {
    uint64_t generation; /* the manifest checked (0 when none loaded) */
    uint64_t segments;   /* segments the manifest names */
    uint64_t docs;       /* their documents, deleted ones included */
    uint64_t live_docs;  /* documents not deleted (N) */
    uint64_t terms;      /* terms walked */
    uint64_t postings;   /* postings walked */
    uint64_t positions;  /* positions read */
    uint64_t files;      /* files whose checksum was verified */
    uint64_t bytes;      /* their bytes */
    uint64_t problems;   /* problems found (also those past the per-file display cap) */
    uint64_t warnings;   /* warnings reported */
} qr_check_stats;

/* At most this many problems are reported per file; the rest are counted in one last line. */
#define QR_CHECK_MAX_PER_FILE 20
/* Checks again when a writer committed meanwhile, at most this many times. */
#define QR_CHECK_RETRIES 8

/*
 * Checks the index in dir, calling fn (which may be NULL) for each problem
 * and warning, and fills *out (if not NULL) as far as the check got.
 * Returns 0 when the index is sound (warnings allowed), QR_ECORRUPT when
 * any problem was found, QR_ENOTFOUND when dir holds no index (no manifest
 * and no segment file), or another code (QR_EIO, QR_ENOMEM) when the check
 * could not run to the end.
 */
int qr_check(qr_dir *dir, qr_check_fn fn, void *ctx, qr_check_stats *out);

#endif
