/*
 * The SQLite FTS5 side of the benchmark: the embedded full-text engine a C
 * user would otherwise pick, run on the same documents and the same queries
 * as quarry.
 *
 * Translation (fts5q.c, always built): quarry's query language (SPEC §3)
 * into an FTS5 MATCH expression over the columns title and body, fully
 * parenthesised so that no precedence rule of FTS5 changes the meaning:
 *
 *   quarry                      FTS5
 *   know nine                   ("know" AND "nine")
 *   a OR b                      ("a" OR "b")
 *   a b NOT c / a -c            (("a" AND "b") NOT "c")
 *   "wales captain"             "wales captain"
 *   ukr*                        "ukr"*
 *   cease-fire                  ("cease-fire" OR "ceasefire")   (as quarry: parts or joined)
 *   a NEAR/5 b                  NEAR("a" "b", 4)    (quarry counts the gap between positions,
 *                                                    FTS5 the tokens in between)
 *   title:w                     title : "w"         (the innermost field wins, as in quarry)
 *
 * A word without a letter or digit is dropped, as quarry drops it; a query
 * reduced to nothing translates to "" (it matches nothing). FTS5 cannot
 * express a purely negative (sub)query, a NOT under OR, nor a NEAR whose
 * operand is not a phrase, word or prefix: those are QR_EINVAL.
 *
 * The engine (fts5.c, built when the `fts5` meson feature finds sqlite3):
 * a contentless FTS5 table `fts(title, body)` with tokenize = 'porter
 * unicode61 remove_diacritics 2', and a table `docs(path, title)`; rowids
 * follow the byte order of paths, as quarry's doc ids do. Building walks
 * the directories with quarry's own walk (index/walk.h: same files, same
 * skips, same paths) and splits title and body with qr_split_title, in one
 * transaction (journal_mode=OFF, synchronous=OFF), then runs FTS5's
 * 'optimize'. A query is one pass over `SELECT rowid, bm25(fts) ... MATCH ?`
 * counting every row (the exact total) and keeping the k best in a heap
 * (ties to the lower rowid), then fetching the k paths: the same work as
 * quarry's parse + execute + top-k.
 */
#ifndef QR_BENCH_FTS5_H
#define QR_BENCH_FTS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/buf.h"

/*
 * Translates q[0..len) into FTS5 syntax, appended to out. Returns 0,
 * QR_ESYNTAX (not a valid quarry query) or QR_EINVAL (valid, but FTS5
 * cannot say it), with a message in err (errlen bytes), or QR_ENOMEM.
 */
int qr_fts5_translate(qr_buf *out, const char *q, size_t len, char *err, size_t errlen);

/* True when this build has the SQLite side (the `fts5` meson feature). */
bool qr_fts5_available(void);

/* What a build did. */
typedef struct qr_fts5_build_result {
    uint64_t docs;      /* documents inserted */
    uint64_t skipped;   /* files skipped (binary, too large, unreadable, ...) */
    uint64_t raw_bytes; /* bytes of the documents read */
    double seconds;     /* wall time: walk, read, insert, commit, optimize */
    double optimize_seconds;
    uint64_t db_bytes; /* size of the database file */
} qr_fts5_build_result;

/*
 * Builds a new FTS5 database at db_path (which must not exist) from the
 * documents under dirs[0..ndirs), exactly the documents `quarry index` would
 * take (files up to max_file_size bytes, 0: 64 MiB). Returns 0, QR_EINVAL
 * (db_path exists, a directory is missing), QR_EIO, QR_ENOMEM, or
 * QR_ENOTFOUND when built without SQLite; err says what failed.
 */
int qr_fts5_build(qr_fts5_build_result *out, const char *db_path, const char *const *dirs,
                  size_t ndirs, uint64_t max_file_size, char *err, size_t errlen);

typedef struct qr_fts5 qr_fts5;

/* Opens a database that qr_fts5_build made (read-only). 0, QR_ENOTFOUND or QR_EIO; err says why. */
int qr_fts5_open(qr_fts5 **out, const char *db_path, char *err, size_t errlen);
void qr_fts5_close(qr_fts5 *f);
/* Documents in the database. */
uint64_t qr_fts5_docs(const qr_fts5 *f);

/*
 * Runs an FTS5 MATCH expression (as qr_fts5_translate makes it; "" matches
 * nothing): the exact total in *out_total, the k best by bm25 kept and their
 * paths fetched (readable with qr_fts5_hit_path until the next query).
 * Returns 0, or QR_EINVAL with FTS5's message in err.
 */
int qr_fts5_query(qr_fts5 *f, const char *match, size_t k, uint64_t *out_total, char *err,
                  size_t errlen);
/* Number of hits the last query kept (<= k) and the path of hit i (best first). */
size_t qr_fts5_hits(const qr_fts5 *f);
const char *qr_fts5_hit_path(const qr_fts5 *f, size_t i);

#endif
