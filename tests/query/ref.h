/*
 * A brute-force reference evaluator of SPEC §3-§4 for the tests: it reads
 * every document an index physically holds (deleted ones too, for df),
 * analyses stored title and body again with the shared analyzer, and
 * evaluates a parsed query on each live document from scratch: positions,
 * fields, phrases, NEAR pairs, prefixes over its own vocabulary, BM25 with
 * its own N, avgdl and df. It shares nothing with query/ but the parser's
 * tree (tested on its own) and index/analyzer.
 */
#ifndef QR_TESTS_REF_H
#define QR_TESTS_REF_H

#include <stddef.h>
#include <stdint.h>

#include "query/parser.h"
#include "storage/dir.h"

typedef struct ref_index ref_index;

typedef struct ref_hit {
    const char *path; /* borrowed from the reference index */
    double score;
} ref_hit;

/* Loads every document of the index in dir (its newest manifest). Returns 0 or an error. */
int ref_load(ref_index **out, qr_dir *dir);
void ref_free(ref_index *r);
/* Live documents (N) and their average length. */
uint64_t ref_docs(const ref_index *r);

/*
 * Evaluates q over every live document: *total matches, and (*hits, *nhits)
 * all of them ranked by score, then path (caller frees *hits).
 */
void ref_search(ref_index *r, const qr_query *q, uint64_t *total, ref_hit **hits, size_t *nhits);

#endif
