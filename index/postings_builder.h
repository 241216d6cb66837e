/*
 * The postings builder: in-memory inversion of one thread's documents.
 *
 * An indexing thread feeds its builder document after document (local doc
 * ids 0, 1, 2, ... in call order) and, within each document, the analyzer's
 * tokens in position order. The builder keeps, per distinct term, one growing
 * byte stream of varint-coded postings in a chunked arena (slices that double
 * in size, linked by forward pointers, as Lucene's ByteBlockPool does), found
 * through an open-addressing hash table keyed by xxh3 of the term. It tracks
 * every byte it holds, so that the indexer can flush it to a segment when the
 * RAM budget is reached.
 *
 * Emitting walks the terms in bytewise order and hands each term's postings
 * (doc, tf, positions) to a sink: the segment writer in production, anything
 * in tests. A token repeated at the same position of the same document (a
 * hyphenated compound whose concatenation stems to its first part) counts
 * once. A builder is not thread-safe: give each thread its own.
 */
#ifndef QR_INDEX_POSTINGS_BUILDER_H
#define QR_INDEX_POSTINGS_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "storage/segment.h"

typedef struct qr_postings_builder qr_postings_builder;

/* Receives a builder's postings, term by term in increasing bytewise order. */
typedef struct qr_pb_sink {
    /* A new term (bytes valid during the call). */
    int (*begin_term)(void *ctx, const char *term, size_t len);
    /* One document of the current term: docs increasing, tf >= 1, tf increasing positions. */
    int (*add_posting)(void *ctx, uint32_t doc, uint32_t tf, const uint32_t *positions);
    /* The current term is complete. */
    int (*end_term)(void *ctx);
    void *ctx; /* handed to every callback */
} qr_pb_sink;

/* A new, empty builder; the caller owns *out. Returns 0 or QR_ENOMEM. */
int qr_pbuilder_open(qr_postings_builder **out);
/* Frees a builder; accepts NULL. */
void qr_pbuilder_close(qr_postings_builder *b);

/*
 * Starts the next document; *out_doc (if not NULL) receives its local id.
 * Returns 0 or QR_ETOOBIG past UINT32_MAX - 1 documents.
 */
int qr_pbuilder_begin_doc(qr_postings_builder *b, uint32_t *out_doc);
/*
 * Adds one occurrence of term (1..255 bytes, copied) at pos to the current
 * document; positions within a document must not decrease (the analyzer's
 * order). Returns 0, QR_EINVAL (no document begun, bad length, decreasing
 * position: nothing added) or QR_ENOMEM / QR_ETOOBIG. The work is pipelined
 * over a few tokens, so an allocation failure may surface at a later add,
 * at end_doc, begin_doc or emit; after such an error every call returns it
 * until qr_pbuilder_reset().
 */
int qr_pbuilder_add(qr_postings_builder *b, const char *term, size_t len, uint32_t pos);
/* Completes the current document's pending tokens; 0 or the builder's error. */
int qr_pbuilder_end_doc(qr_postings_builder *b);

/* Documents begun since the last reset. */
uint32_t qr_pbuilder_docs(const qr_postings_builder *b);
/* Distinct terms held (complete after end_doc). */
uint64_t qr_pbuilder_terms(const qr_postings_builder *b);
/* Bytes of heap the builder holds (arena, tables, term text). */
size_t qr_pbuilder_bytes(const qr_postings_builder *b);

/*
 * Hands every term's postings to sink in increasing bytewise term order.
 * The builder is unchanged (emit may run again). Returns 0, QR_ENOMEM or the
 * first non-zero value a callback returned.
 */
int qr_pbuilder_emit(qr_postings_builder *b, const qr_pb_sink *sink);
/* emit into a segment writer whose documents 0..docs-1 have been added. */
int qr_pbuilder_write_segment(qr_postings_builder *b, qr_segment_writer *w);

/* Forgets every document and term; keeps some memory for reuse. */
void qr_pbuilder_reset(qr_postings_builder *b);

#endif
