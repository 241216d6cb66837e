/*
 * Query generation from an index, in the style of Lucene's nightly
 * benchmark task classes (luceneutil wikimedium tasks) and of
 * ../shared/peers/gen_queries.py, but driven by the index's own term
 * statistics so that it works on any quarry index, deterministically for a
 * seed:
 *
 *   HighTerm, MedTerm, LowTerm     one word whose term is in the High / Med / Low
 *                                  document-frequency band
 *   AndHighHigh, AndHighMed, AndHighLow   `a b`
 *   OrHighHigh, OrHighMed, OrHighLow      `a OR b`
 *   AndNot                         `high1 NOT high2`
 *   Phrase2, Phrase3               "w1 w2" / "w1 w2 w3": real adjacent words (token
 *                                  positions drawn uniformly, so frequent phrases come
 *                                  more often), separated only by spaces in the text,
 *                                  in at least 2 documents of the index
 *   Prefix3                        first 3 letters of a Med-band word, then `*`
 *   Near                           `a NEAR/k b`: words k' <= k positions apart (2 <= k')
 *                                  in a real document, co-occurring so in >= 2 documents
 *   Title                          `title:w`, w a word of a real title
 *
 * Bands are on df / N, df being the index's document frequency of the
 * word's (stemmed) term: High >= 10 %, Med 2-10 %, Low 0.2-1 % and df >= 3
 * (peers' bands; luceneutil's on 10 M Wikipedia documents are narrower).
 *
 * Queries are written in words, not terms: the words come from the stored
 * text of a sample of documents (all of them up to sample_docs, else an
 * evenly spaced sample in path order, so that how the documents were split
 * into segments does not matter), analysed twice (unstemmed and stemmed) so that each
 * term gets the surface word that most often produced it. A sampled word is
 * plain lower-case ASCII of 3 or more letters after normalisation and not an
 * English stop word; a term that a stop word also stems to (Snowball stems
 * "overly" to "over") is never drawn as a term, since its df is the stop
 * word's. Phrase and Near candidates are checked against the
 * postings and positions of every segment (live documents only, within one
 * field).
 */
#ifndef QR_BENCH_QUERYGEN_H
#define QR_BENCH_QUERYGEN_H

#include <stddef.h>
#include <stdint.h>

#include "bench/queries.h"
#include "storage/dir.h"

typedef struct qr_qgen_options {
    uint64_t seed;         /* any value; the same seed and index give the same queries */
    unsigned per_class;    /* queries per class; 0: 20 */
    unsigned classes;      /* bit set of qr_qclass; 0: all */
    double high;           /* High band: df/N >= high; 0: 0.10 */
    double med_lo, med_hi; /* Med band; 0, 0: 0.02, 0.10 */
    double low_lo, low_hi; /* Low band; 0, 0: 0.002, 0.01 */
    unsigned low_min_df;   /* and df >= this; 0: 3 */
    unsigned near_k;       /* NEAR distance; 0: 5 */
    uint32_t sample_docs;  /* documents read for words and phrases; 0: 20000 */
} qr_qgen_options;

/* What the generator saw. */
typedef struct qr_qgen_stats {
    uint64_t docs;                /* live documents (N) */
    uint64_t sampled_docs;        /* documents read */
    uint64_t sampled_words;       /* word occurrences read */
    uint64_t words;               /* distinct valid words seen */
    uint64_t high, med, low;      /* words in each band (one per term) */
    unsigned made[QR_QC_COUNT];   /* queries made per class */
    unsigned wanted[QR_QC_COUNT]; /* queries asked for per class */
} qr_qgen_stats;

/*
 * Generates queries from the index in dir (its newest commit) and appends
 * them to out, class by class in qr_qclass order. A class may get fewer
 * queries than asked (a small index has few phrases in 2 documents): *stats
 * says how many each got. Returns 0, QR_ENOTFOUND (no index), QR_ECORRUPT,
 * QR_EVERSION, QR_EIO, QR_ENOMEM, or QR_EINVAL for inconsistent bands;
 * err (errlen bytes, may be NULL) then says what failed.
 */
int qr_qgen_run(qr_bq_list *out, qr_qgen_stats *stats, qr_dir *dir, const qr_qgen_options *opt,
                char *err, size_t errlen);

#endif
