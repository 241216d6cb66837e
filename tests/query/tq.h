/*
 * Helpers shared by the query tests: build an index in memory from
 * documents (through the indexer), open a searcher, run a query and keep
 * its hits as plain strings and numbers.
 */
#ifndef QR_TESTS_TQ_H
#define QR_TESTS_TQ_H

#include <stddef.h>
#include <stdint.h>

#include "query/searcher.h"
#include "ref.h"
#include "storage/dir.h"

/* A document of a test corpus. */
struct tdoc {
    const char *path;
    const char *text; /* title line, then body */
};

/*
 * A new in-memory index of language lang holding docs, committed in
 * batches of `batch` documents (0: one batch), each batch its own segment
 * (merging is turned off). Asserts on failure.
 */
qr_dir *tq_index(const char *lang, const struct tdoc *docs, size_t n, size_t batch);
/* Adds (or replaces) docs in one more commit, without merging. */
void tq_add(qr_dir *dir, const struct tdoc *docs, size_t n);
/* Merges the whole index into one segment. */
void tq_merge_all(qr_dir *dir);
/* A searcher over dir; asserts on failure. */
qr_searcher *tq_open(qr_dir *dir);

/* The outcome of one query. */
struct tq_res {
    int rc;          /* qr_query_parse / qr_searcher_run status */
    uint32_t column; /* syntax error column */
    uint64_t total;
    size_t n;
    char **paths; /* n paths, best first */
    double *scores;
};

/* Parses and runs q (flags: QR_PARSE_ANY); k hits after offset. */
struct tq_res tq_search(qr_searcher *s, const char *q, unsigned flags, size_t k, size_t offset);
/* The same, counting only. */
uint64_t tq_count(qr_searcher *s, const char *q, unsigned flags);
void tq_res_free(struct tq_res *r);
/* "path path path" of the hits, for compact assertions (static buffer). */
const char *tq_paths(const struct tq_res *r);

/*
 * The engine's top k for q against the reference evaluator's: the same total,
 * the same paths in order, the same scores (to 1e-12 relative). Returns the
 * total; a query with a syntax error is skipped (returns 0).
 */
uint64_t tq_check_ref(qr_searcher *s, ref_index *r, const char *q, unsigned flags, size_t k);

/* Every file of src copied into a new memory directory, byte `at` of `victim` XORed with x. */
qr_dir *tq_copy_patched(qr_dir *src, const char *victim, size_t at, uint8_t x);

/* Where the bytes of slice `part` (a view into file name of dir) start in that file. */
size_t tq_file_offset(qr_dir *dir, const char *name, qr_slice part);

/*
 * Puts the name of dir's only file ending in suffix in out (len bytes); returns
 * the segment id of a seg-<hex> name, else 0.
 */
uint64_t tq_only_file(qr_dir *dir, const char *suffix, char *out, size_t len);

#endif
