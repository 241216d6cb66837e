/*
 * The searcher: one open index, pinned at one generation, and the queries
 * run against it.
 *
 * Opening loads the newest manifest, opens every segment it names (their
 * mappings stay valid even if a writer removes the files meanwhile, so the
 * generation is pinned for the searcher's life), reads their deletion
 * bitmaps and computes the index-wide statistics of SPEC §4: N = live
 * documents, avgdl = live positions / N; df is the sum of the segments'
 * document frequencies. The analyzer is opened with the index's recorded
 * language, so queries are analysed as the documents were.
 *
 * A search compiles the query into a plan (each term's df and idf, each
 * prefix's expansion over every segment's term dictionary), runs it
 * segment by segment into one top-k collector, and returns the exact total
 * and the ranked hits. A searcher is not thread-safe (its analyzer and doc
 * stores are not); open one per thread.
 */
#ifndef QR_QUERY_SEARCHER_H
#define QR_QUERY_SEARCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index/analyzer.h"
#include "query/parser.h"
#include "query/rank.h"
#include "storage/buf.h"
#include "storage/dir.h"

typedef struct qr_searcher qr_searcher;

/*
 * Opens the index in directory path, verifying every segment file's
 * checksum (damage anywhere is found at once). Returns 0, QR_ENOTFOUND (no directory
 * or no manifest in it), QR_ECORRUPT / QR_EVERSION (a file that does not
 * parse: errbuf names it), QR_ENOMEM or QR_EIO. errbuf (errlen bytes, may
 * be NULL) receives one line of context on failure. The caller owns *out.
 */
int qr_searcher_open(qr_searcher **out, const char *path, char *errbuf, size_t errlen);
/* Flags of qr_searcher_open_dir. */
enum {
    /*
     * Check segment files' frames but not their checksums: opening is then
     * independent of the index's size, and damage inside a file surfaces
     * (as QR_ECORRUPT, never as a crash) only where a query reads it.
     */
    QR_SEARCHER_NO_VERIFY = 1 << 0,
};

/* The same over an open directory (borrowed: it must outlive the searcher). */
int qr_searcher_open_dir(qr_searcher **out, qr_dir *dir, unsigned flags, char *errbuf,
                         size_t errlen);
/* Closes a searcher; accepts NULL. */
void qr_searcher_close(qr_searcher *s);

/* The analyzer of the index's language, lent until close (for qr_query_parse). */
qr_analyzer *qr_searcher_analyzer(qr_searcher *s);
/* Live documents (N). */
uint64_t qr_searcher_docs(const qr_searcher *s);
/* The pinned manifest generation. */
uint64_t qr_searcher_generation(const qr_searcher *s);
/* A line of context about the last error of a search (e.g. the segment that was corrupt). */
const char *qr_searcher_errmsg(const qr_searcher *s);

/*
 * Sets the window sizes (documents, multiples of 64) of rank.c's window
 * passes; for tests, where small windows reach the window boundaries. The
 * defaults are 4096 and 65536.
 */
void qr_searcher_set_windows(qr_searcher *s, uint32_t flat_w, uint32_t wide_w);

/* What a search returns. */
typedef struct qr_results {
    uint64_t total; /* every live matching document, exactly */
    size_t n;       /* hits returned */
    qr_hit *hits;   /* best first, ranks offset+1 .. offset+n; owned */
} qr_results;

/*
 * Runs a parsed query: hits ranked offset+1 .. offset+k (fewer at the end),
 * and the exact total. With count_only no document is scored and no hit
 * returned. Returns 0, QR_ENOMEM, or QR_ECORRUPT (qr_searcher_errmsg names
 * the segment). Free *out with qr_results_free.
 */
int qr_searcher_run(qr_searcher *s, const qr_query *q, size_t k, size_t offset, bool count_only,
                    qr_results *out);
void qr_results_free(qr_results *r);

/* The path of a hit, lent until close. */
qr_slice qr_searcher_path(const qr_searcher *s, const qr_hit *h);
/*
 * Fetches a hit's stored title and body; the slices stay valid until the
 * next fetch from the same searcher. Returns 0, QR_ECORRUPT or QR_ENOMEM.
 */
int qr_searcher_fetch(qr_searcher *s, const qr_hit *h, qr_slice *out_title, qr_slice *out_body);

#endif
