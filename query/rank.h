/*
 * Ranking: the top-k collector and the loop that feeds it (SPEC §4).
 *
 * The collector keeps the k best hits in a min-heap ordered by score and,
 * on equal scores, by path (quarry's internal document order; within a
 * segment paths increase with doc ids, across segments their bytes are
 * compared). Ties therefore resolve exactly as a full sort would.
 *
 * Pruning never changes the answer. Every match is counted (the total is
 * exact), but once the heap is full a candidate is scored only when an
 * upper bound of its score reaches the current k-th score minus a relative
 * 1e-9 that absorbs rounding. The bounds come from the postings' per-block
 * impact maxima (block-max: BM25 at the block's largest tf and shortest
 * document), tightened by the document's own tf (BM25 at that tf and the
 * term's shortest document), summed over the clauses present.
 *
 * Four ways to run a segment, the first that applies:
 *   - a lone term (no deletions): the total is its df; whole blocks whose
 *     bound is below the threshold are skipped undecoded, and in the others
 *     a doc is scored only when its tf reaches the block's cutoff tf;
 *   - an OR of terms, or an AND of terms minus terms (when the clauses'
 *     sizes make it cheaper than leapfrogging): windows of documents, each
 *     clause's postings poured in (bitmaps, per-doc counts and bounds,
 *     tfs), matches counted off the bitmaps, and only docs whose bound
 *     reaches the threshold scored, their sums taken clause by clause in
 *     query order;
 *   - a prefix (qr_rank_prefix): its expansion accumulated term after term
 *     on one reused cursor, every match scored (no iterator per term);
 *   - anything else: the iterator tree, one candidate at a time (next, and
 *     match for two-phase clauses), bound, then score.
 * Counting alone (--count) never scores.
 */
#ifndef QR_QUERY_RANK_H
#define QR_QUERY_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query/iter.h"
#include "storage/termdict.h"

/* A ranked document. */
typedef struct qr_hit {
    double score;
    uint32_t seg; /* index of its segment in the searcher */
    uint32_t doc; /* doc id inside that segment */
} qr_hit;

/* The k best hits seen so far. */
typedef struct qr_topk {
    qr_hit *heap;                  /* min-heap: heap[0] is the worst hit kept */
    size_t n;                      /* hits kept */
    size_t cap;                    /* k: hits wanted (0: count only) */
    double threshold;              /* once full: candidates bounded below it cannot enter */
    const qr_doctable *const *dts; /* each segment's table, for tie-breaks by path */
} qr_topk;

/* A collector for cap hits; dts[seg] resolves paths (borrowed). 0 or QR_ENOMEM. */
int qr_topk_init(qr_topk *t, size_t cap, const qr_doctable *const *dts);
void qr_topk_free(qr_topk *t);
/* True when hit a ranks before hit b (higher score, or equal score and smaller path). */
bool qr_hit_before(const qr_topk *t, const qr_hit *a, const qr_hit *b);
/* Offers a scored hit; it is kept when it ranks among the best cap. */
void qr_topk_offer(qr_topk *t, double score, uint32_t seg, uint32_t doc);
/* Frees the scratch memory that qr_rank_segment keeps in *ctx->scratch; accepts NULL. */
void qr_rank_scratch_free(qr_rank_scratch *s);
/* Sorts the kept hits best first (the heap is consumed: call once, at the end). */
void qr_topk_sort(qr_topk *t);

/*
 * Runs root (NULL: nothing) over the segment of ctx: adds the number of
 * live matching documents to *total and, unless count_only, offers the
 * competitive ones to top (segment index ctx->segi). Returns 0 or the first
 * error an iterator met (QR_ECORRUPT, QR_ENOMEM).
 */
int qr_rank_segment(qr_topk *top, uint64_t *total, qr_it *root, qr_evalctx *ctx, bool count_only);

/*
 * A query that is one prefix over every field (the searcher's fast path,
 * without a plan): its expansion's terms found in the segment of ctx,
 * terms[0..n) in bytewise order with idf[i] the idf of terms[i] (its df over
 * every segment), accumulated term after term without building an
 * iterator per term, each doc's score summed in that order exactly as the
 * OR of the terms sums it; every match is counted into *total and, unless
 * count_only, offered to top. Returns 0, QR_ECORRUPT or QR_ENOMEM.
 */
int qr_rank_prefix(qr_topk *top, uint64_t *total, const qr_termdict_ent *terms, const double *idf,
                   size_t n, qr_evalctx *ctx, bool count_only);

#endif
