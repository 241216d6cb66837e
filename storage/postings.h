/*
 * Postings: for each term, the documents that contain it, how often, and at
 * which positions.
 *
 * A segment has two postings streams: the doc stream (doc-id deltas and term
 * frequencies in blocks of QR_BLOCK docs, bit-packed with a frame of
 * reference; the last partial block as varints; one skip entry per block with
 * the block's last doc id and its impact bound) and the position stream
 * (position deltas, 128 at a time in PFOR blocks, with a landing table per
 * term that finds a doc block's first position). The exact byte grammar is
 * at the top of postings.c.
 *
 * The writer appends one term at a time to two qr_bufs and returns where the
 * term's data starts (qr_term_meta), which the term dictionary stores. The
 * iterator decodes straight from the mapped streams; it is a plain struct
 * the caller embeds (no allocation), with next / seek and lazy access to
 * frequencies, positions and per-block maxima for block-max pruning.
 * Corrupt bytes make an iterator stop with it->err = QR_ECORRUPT, never read
 * out of bounds.
 */
#ifndef QR_STORAGE_POSTINGS_H
#define QR_STORAGE_POSTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/buf.h"

/*
 * Version of the doc and position stream formats, which storage/segment.c
 * writes in the .doc and .pos frames and requires on opening. 1: positions
 * as varints per doc; 2: positions in PFOR blocks of 128, with the skip
 * entries' landing data.
 */
#define QR_POSTINGS_VERSION 3u

#define QR_BLOCK   128        /* documents per bit-packed block */
#define QR_DOC_END UINT32_MAX /* iterator's doc after the last posting */

/* Where a term's postings live and how big they are; stored in the term dictionary. */
typedef struct qr_term_meta {
    uint32_t df;      /* documents containing the term (deleted ones included) */
    uint64_t ttf;     /* total occurrences over all documents */
    uint64_t doc_off; /* byte offset of the term's data in the doc stream */
    uint64_t pos_off; /* byte offset of the term's data in the position stream */
} qr_term_meta;

typedef struct qr_postings_writer qr_postings_writer;

/* A writer appending to doc and pos (not owned; they must outlive the writer). */
int qr_postings_writer_open(qr_postings_writer **out, qr_buf *doc, qr_buf *pos);
void qr_postings_writer_close(qr_postings_writer *w);
/* Starts a term (discarding an unfinished one). */
void qr_postings_begin(qr_postings_writer *w);
/*
 * Adds one document to the current term: doc ids strictly increasing (and
 * below QR_DOC_END), tf >= 1, `positions` holding tf positions in increasing
 * (non-decreasing) order; dl is the document's length (for the block impact
 * bound). Returns 0, QR_EINVAL (nothing is added) or QR_ENOMEM (the writer
 * then fails every later call).
 */
int qr_postings_add(qr_postings_writer *w, uint32_t doc, uint32_t tf, uint32_t dl,
                    const uint32_t *positions);
/* Ends the term and fills *out. Returns 0, QR_EINVAL (no term or no document) or QR_ENOMEM. */
int qr_postings_end(qr_postings_writer *w, qr_term_meta *out);

/* What a writer's finished terms take, by part of the format (bytes; see postings.c). */
typedef struct qr_postings_stats {
    uint64_t terms;      /* terms ended */
    uint64_t postings;   /* sum of df */
    uint64_t positions;  /* sum of ttf */
    uint64_t head_bytes; /* per-term heads, skip-table lengths and single-doc terms */
    uint64_t skip_bytes; /* skip entries */
    uint64_t doc_bytes;  /* packed doc gaps plus the tail's gap codes */
    uint64_t freq_bytes; /* packed tfs plus the tail's tf varints */
    uint64_t pos_bytes;  /* the position stream */
} qr_postings_stats;

void qr_postings_writer_stats(const qr_postings_writer *w, qr_postings_stats *out);

/*
 * Where the positions of a term of df documents and ttf positions starting
 * at pos_off end in the position stream pos: one past their last byte, or
 * pos.n + 1 when they are malformed or run past its end. Reads only the
 * blocks' headers (for a check of the stream's layout: terms' positions
 * follow each other without gaps).
 */
uint64_t qr_postings_pos_end(qr_slice pos, uint64_t pos_off, uint32_t df, uint64_t ttf);

/*
 * Block-max support. The impact bound of a block is (max_tf, min_dl): no doc
 * in the block has a larger tf or a shorter length, so
 * bm25(max_tf, min_dl) bounds every score in it.
 */
typedef struct qr_block_max {
    uint32_t last_doc; /* last doc id of the block */
    uint32_t max_tf;
    uint32_t min_dl;
} qr_block_max;

/* Private: where one skip entry put a block (postings.c). */
typedef struct qr_postings_skip {
    const uint8_t *next; /* the following skip entry */
    uint32_t block;      /* index of the block described */
    uint32_t lo;         /* smallest doc id the block may hold: previous block's last + 1 */
    qr_block_max max;    /* the block's last doc and impact bound */
    uint8_t doc_width;   /* bits per packed doc gap (full blocks) */
    uint8_t doc_exc;     /* PFOR exceptions after the packed gaps (full blocks) */
    uint8_t freq_width;  /* bits per packed tf - 1 (full blocks) */
    uint8_t freq_exc;    /* PFOR exceptions after the packed tfs (full blocks) */
    uint64_t doc_off;    /* offset of the block's bytes in the doc stream */
} qr_postings_skip;

/* A cursor over one term's postings. Fields marked (public) may be read directly. */
typedef struct qr_postings_iter {
    uint32_t doc; /* (public) current doc id, QR_DOC_END when exhausted */
    int err;      /* (public) 0, or QR_ECORRUPT once corrupt bytes were met */
    /* private decoding state: postings.c may reshape it freely */
    qr_slice docs, pos;          /* the whole streams */
    qr_term_meta meta;           /* the term's entry from the dictionary */
    uint32_t nblocks;            /* full blocks plus the varint tail block */
    uint32_t tail_n;             /* docs in the tail block (1..QR_BLOCK) */
    const uint8_t *skip_end;     /* one past the skip table (NULL when there is none) */
    qr_block_max term_max;       /* the bound over the whole term */
    qr_postings_skip cur;        /* the current block */
    qr_postings_skip peek;       /* how far qr_postings_block_for has looked ahead */
    uint32_t in_block;           /* index of doc within the current block */
    uint32_t block_n;            /* docs in the current block (0 at QR_DOC_END) */
    bool freqs_decoded;          /* freqbuf holds the current block's tfs (false at the end) */
    bool pos_valid;              /* posbuf holds the positions of doc pos_doc - 1 */
    bool pos_landed;             /* pos_at, pk, pk_p are set for the current block */
    uint32_t land_block;         /* block the landing cursor is at (UINT32_MAX: not read yet) */
    const uint8_t *land_p;       /* its entry in the landing table */
    const uint8_t *land_end;     /* one past the landing table */
    uint64_t land_first;         /* the term's positions before block land_block */
    uint64_t land_off;           /* offset of the position block holding its first */
    uint32_t pos_doc;            /* index in the block of the doc pos_at starts */
    uint32_t pos_n;              /* positions in posbuf */
    uint64_t pos_at;             /* index in the term's positions of doc pos_doc's first */
    uint64_t pos_full;           /* packed position blocks of the term (ttf / QR_BLOCK) */
    uint64_t pk;                 /* index of the position block at pk_p */
    const uint8_t *pk_p;         /* position-stream cursor at block pk */
    uint64_t pdec;               /* index of the position block in pdelta (UINT64_MAX: none) */
    uint8_t pos_mode;            /* qr_pos_mode (QR_POS_AUTO after init) */
    bool blk_pos;                /* bpos holds the block's positions from doc blk_doc on */
    uint32_t blk_doc;            /* the first doc of the block they are decoded for */
    uint32_t ask_n;              /* docs of the current block whose positions were asked */
    uint32_t ask_first;          /* index in the block of the first of them */
    uint32_t docbuf[QR_BLOCK];   /* the current block's doc ids */
    uint32_t freqbuf[QR_BLOCK];  /* its term frequencies (once freqs_decoded) */
    uint32_t pdelta[QR_BLOCK];   /* the position deltas of block pdec */
    uint32_t *posbuf;            /* positions of a doc (grown with qr_reallocarray, kept) */
    uint32_t posbuf_cap;         /* capacity of posbuf */
    uint32_t boff[QR_BLOCK + 1]; /* where each doc's positions start in bpos (from blk_doc on) */
    uint32_t *bpos;              /* position deltas of the block's docs (grown, kept) */
    uint32_t bpos_cap;           /* capacity of bpos */
} qr_postings_iter;

/*
 * Positions the iterator before the first posting of the term described by
 * meta, then advances to it (it->doc is the first doc). Returns 0 or
 * QR_ECORRUPT. The streams are borrowed and must outlive the iterator.
 * `it` may be uninitialised memory (an iterator already used must be freed
 * first). Release with qr_postings_iter_free.
 */
int qr_postings_iter_init(qr_postings_iter *it, qr_slice docs, qr_slice pos,
                          const qr_term_meta *meta);
void qr_postings_iter_free(qr_postings_iter *it);
/* Moves to the first doc of the next block (QR_DOC_END after the last). Returns 0 or it->err. */
int qr_postings_next_block(qr_postings_iter *it);
/* Moves to the first doc >= target (never backwards). Returns 0 or it->err. */
int qr_postings_seek(qr_postings_iter *it, uint32_t target);
/* qr_postings_freq when the block's tfs are not decoded yet (lazily, on first use). */
uint32_t qr_postings_freq_slow(qr_postings_iter *it);

/*
 * Moves to the next doc (QR_DOC_END after the last). Returns 0 or it->err.
 * Inline: within a decoded block, a step is a load.
 */
static inline int qr_postings_next(qr_postings_iter *it)
{
    if (it->in_block + 1 < it->block_n) {
        it->doc = it->docbuf[++it->in_block];
        return 0;
    }
    return qr_postings_next_block(it);
}

/*
 * Moves k docs forward inside the current block (k < the number
 * qr_postings_block_docs gives): for loops that intersect whole blocks and
 * then visit the common docs.
 */
static inline void qr_postings_advance_in_block(qr_postings_iter *it, uint32_t k)
{
    it->in_block += k;
    it->doc = it->docbuf[it->in_block];
}

/* Term frequency in the current doc (0 at QR_DOC_END or on corrupt bytes). */
static inline uint32_t qr_postings_freq(qr_postings_iter *it)
{
    if (it->freqs_decoded)
        return it->freqbuf[it->in_block];
    return qr_postings_freq_slow(it);
}
/*
 * Positions of the current doc, increasing; *out valid until the iterator
 * moves. Returns 0, QR_ECORRUPT, or QR_ENOMEM when the position buffer could
 * not grow (the iterator itself stays usable). At QR_DOC_END: no positions.
 */
int qr_postings_positions(qr_postings_iter *it, const uint32_t **out, uint32_t *out_n);

/*
 * How qr_postings_positions decodes. QR_POS_DOC: the asked doc's positions
 * only. QR_POS_BLOCK: on the first doc asked in a block, every position
 * from that doc to the block's end, each later doc of the block then a
 * sum of its own deltas. QR_POS_AUTO (the default): per doc, until the docs asked so far in
 * the block are dense enough that decoding the rest of the block costs less
 * than the asks it is expected to save (a cost per ask of about ten
 * positions). The positions returned are the same in every mode.
 */
typedef enum qr_pos_mode { QR_POS_AUTO, QR_POS_DOC, QR_POS_BLOCK } qr_pos_mode;

/* Sets the iterator's mode (kept until the next qr_postings_iter_init). */
void qr_postings_set_pos_mode(qr_postings_iter *it, qr_pos_mode mode);

/*
 * The position deltas of the doc at index k of the current block (k >=
 * the current doc's index, < the block's docs), when the block's rest is
 * decoded already (see qr_pos_mode): true, with *out its tf deltas (the
 * first is its first position, each other the difference to the one
 * before; unchecked: their sums may pass 32 bits on damaged data) valid
 * until the iterator moves to another block, and *out_n its tf. False
 * otherwise: then qr_postings_positions, which also decides when a block
 * is decoded. Inline, and without moving the iterator: a phrase over
 * common terms checks most of its candidates, which have a few positions
 * each, from the decoded blocks (the call and the checks of
 * qr_postings_positions cost more than the sums).
 */
static inline bool qr_postings_block_deltas(const qr_postings_iter *it, uint32_t k,
                                            const uint32_t **out, uint32_t *out_n)
{
    if (!it->blk_pos)
        return false;
    *out = it->bpos + it->boff[k];
    *out_n = it->freqbuf[k];
    return true;
}

/* Index of the current doc in its block (for qr_postings_block_deltas). */
static inline uint32_t qr_postings_in_block(const qr_postings_iter *it)
{
    return it->in_block;
}

/*
 * Block-at-a-time access, for loops that count or score whole blocks: the
 * docs of the current block from the current doc on (*out valid until the
 * iterator moves to another block). Returns their number, 0 at the end.
 */
uint32_t qr_postings_block_docs(qr_postings_iter *it, const uint32_t **out);
/* Their term frequencies, aligned with qr_postings_block_docs. Returns 0 or it->err. */
int qr_postings_block_freqs(qr_postings_iter *it, const uint32_t **out);

/*
 * Describes the block that contains (or would contain) target, without
 * decoding it and without moving the iterator's current doc: the first block
 * whose last_doc >= target at or after the current block. Returns false when
 * no block is left.
 */
bool qr_postings_block_for(qr_postings_iter *it, uint32_t target, qr_block_max *out);
/* The bound over the whole term (max over its blocks). */
qr_block_max qr_postings_term_max(const qr_postings_iter *it);

/*
 * The whole doc stream of a term of at most QR_BLOCK documents (meta->df
 * 1..QR_BLOCK: one doc, or min_dl and the varint tail) decoded at once into
 * out_docs and out_tfs (meta->df entries each, room for QR_BLOCK), without
 * an iterator: for loops that open many rare terms one after the other
 * (prefix expansions). The docs and tfs are those an iterator yields, with
 * the same checks: the offsets inside the streams, ttf >= df, every varint
 * inside the doc stream, doc ids strictly increasing and below QR_DOC_END,
 * tfs >= 1 and within 32 bits (a single doc's tf is meta->ttf). Returns 0,
 * QR_ECORRUPT (corrupt bytes or meta) or QR_EINVAL (meta->df > QR_BLOCK).
 */
int qr_postings_decode_small(uint32_t *out_docs, uint32_t *out_tfs, qr_slice docs, qr_slice pos,
                             const qr_term_meta *meta);

#endif
