/*
 * The indexer: makes an index mirror directories of articles (SPEC §1, §5).
 *
 * A run walks the directories (walk.h), compares every file with the
 * document of the same path in the index (same size and mtime: unchanged
 * without opening it; else read, and the same xxh3 content hash: unchanged
 * too), then reads and analyses the new and changed files on N threads,
 * each with its own analyzer and postings builder. A thread takes
 * contiguous batches of the path-sorted work list in increasing order, so
 * its documents stay in path order, and flushes its builder to a new
 * segment when its share of the RAM budget is used. Merges keep the number
 * of segments logarithmic (merger.h): among the run's new segments as they
 * are flushed, and over the whole index at the end. Replaced and removed
 * documents are marked in their segments' deletion files, and everything
 * becomes visible in one atomic manifest commit; a failed run leaves the
 * index at its previous commit. The writer lock (LOCK) is held from open
 * to close; readers never lock and keep seeing the last commit.
 *
 * Mirror semantics are per directory: documents whose path starts with the
 * directory's base name and '/' but that are no longer found below it are
 * removed; documents of other base names are kept. Skipped files are
 * counted by reason and named. A document that was indexed and is now
 * binary, too large or gone is removed; one that is now unreadable or that
 * changed while it was read keeps its indexed version.
 *
 * Title and body (SPEC §1, qr_split_title): the title is the first line
 * that is not blank (only ASCII white space), trimmed of ASCII white space;
 * the body is everything after that line's '\n'. The title is analysed
 * from position 0 and the body from the title's position count; the
 * document length is their sum.
 */
#ifndef QR_INDEX_INDEXER_H
#define QR_INDEX_INDEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index/walk.h"
#include "storage/buf.h"
#include "storage/dir.h"
#include "storage/segment.h"

#define QR_DEFAULT_RAM      (256ull << 20) /* RAM budget of a run */
#define QR_DEFAULT_MAX_FILE (64ull << 20)  /* largest file indexed */
#define QR_DEFAULT_LANGUAGE "english"

/* What a progress callback is told, from the thread that called run. */
typedef struct qr_index_progress {
    uint64_t files_done;  /* files read (or skipped while reading) so far */
    uint64_t files_total; /* files this run has to read */
    uint64_t bytes_done;  /* their bytes */
    uint64_t bytes_total;
    double seconds; /* since the run started */
} qr_index_progress;

typedef void (*qr_index_progress_fn)(void *ctx, const qr_index_progress *p);

/* Options; zero-initialise for the defaults. */
typedef struct qr_index_options {
    const char *language;   /* NULL: the index's own, or QR_DEFAULT_LANGUAGE for a new index */
    unsigned threads;       /* 0: the number of online processors */
    uint64_t ram_bytes;     /* 0: QR_DEFAULT_RAM */
    uint64_t max_file_size; /* 0: QR_DEFAULT_MAX_FILE; at most QR_STORE_MAX_RAW - 64 */
    unsigned merge_factor;  /* 0: QR_MERGE_FACTOR (merger.h) */
    /*
     * 0: a worker flushes only when its share of the budget is used; N: also
     * after every N documents it indexed. For tests, whose few small
     * documents never fill a budget: their flushes and merges then do not
     * depend on the budget's arithmetic (the estimate's factors, the
     * builder's allocation sizes).
     */
    unsigned flush_docs;
    qr_index_progress_fn progress; /* NULL: none */
    void *progress_ctx;
    unsigned progress_ms; /* 0: 200 ms between progress calls */
} qr_index_options;

/* A skipped path and why (see qr_skip_reason in walk.h). */
typedef struct qr_index_skip {
    char *path; /* document path (owned) */
    qr_skip_reason reason;
} qr_index_skip;

/* What a run did. Free with qr_index_result_free. */
typedef struct qr_index_result {
    uint64_t added;     /* new documents */
    uint64_t replaced;  /* documents whose content changed */
    uint64_t removed;   /* documents no longer found (or now skipped as binary/too large) */
    uint64_t unchanged; /* documents already indexed as they are */
    uint64_t skipped[QR_SKIP_REASON_COUNT]; /* skipped paths by reason */
    qr_index_skip *skips;                   /* every skipped path, sorted (owned) */
    size_t nskips;
    uint64_t docs;        /* live documents in the index after the run */
    uint64_t raw_bytes;   /* bytes read and analysed by the run */
    uint64_t index_bytes; /* bytes of the index's files after the run */
    uint64_t segments;    /* segments in the index after the run */
    uint64_t flushes;     /* segments written from builders */
    uint64_t merges;      /* merges made */
    bool committed;       /* false when nothing changed (no new generation) */
    uint64_t generation;  /* the index's generation after the run */
    double seconds;       /* wall time of the run */
} qr_index_result;

void qr_index_result_free(qr_index_result *r);

/* A document held in memory, for qr_indexer_add_docs. */
typedef struct qr_mem_doc {
    const char *path; /* its identity, e.g. "news/2024/001.txt" (NUL-terminated) */
    const char *text; /* the whole content: title line, body */
    size_t len;       /* bytes of text */
} qr_mem_doc;

typedef struct qr_indexer qr_indexer;

/*
 * Opens dir for writing: takes the writer lock, loads the last commit (if
 * any), checks the language. dir is not owned and must outlive the indexer.
 * On failure *out is NULL and, if err is not NULL, err (errlen bytes)
 * receives one line saying why: "index is being written by pid N"
 * (QR_ELOCKED), a language mismatch or unknown language (QR_EINVAL), a
 * directory without a manifest that holds files quarry did not write
 * (QR_ECORRUPT: it is not an index, and garbage collection would delete
 * them), or a file that cannot be read (QR_ECORRUPT, QR_EVERSION, QR_EIO...).
 */
int qr_indexer_open(qr_indexer **out, qr_dir *dir, const qr_index_options *opt, char *err,
                    size_t errlen);
/* Releases the lock and frees; accepts NULL. */
void qr_indexer_close(qr_indexer *ix);

/*
 * Makes the index mirror the directories dirs[0..ndirs) (see above) and
 * commits. *out is filled (also on error, as far as the run got). Returns
 * 0 or an error; qr_indexer_error() then says what failed, with the path.
 * QR_ENOTFOUND / QR_EINVAL: a directory is missing / not a directory / two
 * share a base name.
 */
int qr_indexer_run(qr_indexer *ix, const char *const *dirs, size_t ndirs, qr_index_result *out);

/*
 * Adds or replaces the given in-memory documents (paths distinct) and
 * commits; other documents are kept. size is the text's length, mtime 0.
 * A document whose content hash equals the indexed one is unchanged.
 */
int qr_indexer_add_docs(qr_indexer *ix, const qr_mem_doc *docs, size_t n, qr_index_result *out);

/*
 * Merges every segment into one (dropping deleted documents) and commits;
 * does nothing when the index is already one segment without deletions.
 */
int qr_indexer_merge_all(qr_indexer *ix, qr_index_result *out);

/* The message of the last failure ("" if none); valid until the next call or close. */
const char *qr_indexer_error(const qr_indexer *ix);
/* The index's analysis language; valid until close. */
const char *qr_indexer_language(const qr_indexer *ix);

/*
 * Builds (or updates) the index in dir from in-memory documents in one
 * call: open, add_docs, close. opt may be NULL (defaults). For tests and
 * embedders that do not want files: e.g. a qr_dir_open_memory() directory.
 */
int qr_index_build_docs(qr_dir *dir, const qr_index_options *opt, const qr_mem_doc *docs, size_t n);

/*
 * Splits a document into title and body (borrowed from text; see above).
 * An empty or blank document has an empty title and body.
 */
void qr_split_title(qr_slice *out_title, qr_slice *out_body, const char *text, size_t len);

#endif
