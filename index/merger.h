/*
 * Segment merging and the merge policy.
 *
 * A merge reads several segments (each with the set of its deleted
 * documents) and writes one new segment holding their live documents: the
 * document tables are merged by path (a k-way merge: quarry's document
 * order is bytewise path order, SPEC §1), which gives every source doc its
 * new id or drops it; then the term dictionaries are merged term by term and
 * each term's postings are merged by new doc id, positions copied. Deleted
 * documents disappear, and so do terms found only in them.
 *
 * The policy is tiered by size: a segment's tier is floor(log_F(cost /
 * QR_MERGE_FLOOR)) (its cost, below, grows with its size), and whenever a tier holds F segments
 * they are merged into one (of a higher tier), so an index of B bytes has at most (F - 1) segments
 * per tier, O(F log_F B) in all. A segment of which more than half is deleted is rewritten on its
 * own, and one with no live document is simply dropped (by the caller). A merge needs memory: the
 * segment writer streams the big files but builds the new term dictionary and document table in
 * memory; the sources are mapped, but the merge gives their pages back as it reads them
 * (qr_segment_release), so they do not stay resident. The policy never picks a group whose
 * estimated cost exceeds the memory it is given, so beyond segments whose dictionary and table are
 * about half the RAM budget the count grows linearly with the index (as Lucene's with its maximum
 * segment size).
 */
#ifndef QR_INDEX_MERGER_H
#define QR_INDEX_MERGER_H

#include <stddef.h>
#include <stdint.h>

#include "storage/manifest.h"
#include "storage/segment.h"

#define QR_MERGE_FACTOR    8          /* default F */
#define QR_MERGE_MAX_GROUP 64         /* most segments merged at once */
#define QR_MERGE_FLOOR     (1u << 20) /* segments below this size share tier 0 */

/* What the policy knows of a segment. */
typedef struct qr_merge_cand {
    uint32_t docs;    /* documents, deleted included */
    uint32_t deleted; /* deleted documents */
    uint64_t cost;    /* memory a merge including it needs (qr_merge_cost) */
} qr_merge_cand;

/*
 * The memory merging a segment costs, from its file sizes: its share of
 * what the new segment's writer holds until finish, the term dictionary and
 * the document table (the postings and the stored text stream out), twice:
 * their buffers grow by copying, and the merge's per-document maps (8 bytes
 * a document: old id -> new id, the writer's lengths, against the table's
 * 40 or more) fit in the same margin. The source's mapped files are not
 * counted: the merge releases their pages as it reads (what it holds
 * between two releases, a few QR_SEG_RELEASE_BYTES, does not grow with the
 * sources). Neither does the rest (the writer's stream buffers, about 4
 * MiB, and per source a decompression context and block, ~150 KiB): that
 * is fixed overhead.
 */
uint64_t qr_merge_cost(const uint64_t bytes[QR_SEG_FILE_COUNT]);

/*
 * Picks one group of segments to merge: writes their indices (into c, in
 * increasing order) to out (room for QR_MERGE_MAX_GROUP) and returns how
 * many, or 0 when the policy is content. factor < 2 means
 * QR_MERGE_FACTOR; the group's total cost stays within max_cost (0: no
 * limit). Segments with no live document are never picked (the caller
 * drops them).
 */
size_t qr_merge_pick(size_t *out, const qr_merge_cand *c, size_t n, unsigned factor,
                     uint64_t max_cost);

/* A merge source: an open segment and its deletions (NULL: none). */
typedef struct qr_merge_src {
    const qr_segment *seg;
    const qr_deletes *del;
} qr_merge_src;

/*
 * Merges the sources into a new segment `id` of dir and fills *out. The
 * sources' docstores are read (not thread-safe: no other thread may use
 * these segment handles meanwhile). When no source has a live document,
 * nothing is written and out->docs is 0. On error nothing named seg-<id>.*
 * remains. Returns 0, QR_EINVAL (the same path live in two sources),
 * QR_ECORRUPT, QR_ENOMEM, or an I/O error of dir.
 */
int qr_merge_segments(qr_segment_info *out, qr_dir *dir, uint64_t id, const qr_merge_src *src,
                      size_t n);

/*
 * Counts the distinct terms over several segments (a k-way merge of their
 * dictionaries). Returns 0, QR_ECORRUPT or QR_ENOMEM.
 */
int qr_merge_count_terms(uint64_t *out, const qr_segment *const *segs, size_t n);

#endif
