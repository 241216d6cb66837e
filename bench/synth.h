/*
 * A deterministic synthetic corpus of news-like articles, for the scale
 * curve (`quarry bench scale`) and the micro-benchmarks.
 *
 * Words are drawn from a two-regime Zipf law over a vocabulary of made-up,
 * pronounceable words: frequency ~ 1/r up to rank `head` and ~ head/r^2
 * beyond (the shape measured on large English corpora, Ferrer i Cancho and
 * Solé 2001), so the number of distinct words keeps growing with the corpus
 * roughly as Heaps' law says instead of saturating. A word's spelling is a
 * bijection of its rank onto syllables, so frequent words are short (1
 * syllable, 2-5 letters) and rare ones long. With probability `colloc` a
 * word is followed by its fixed collocate (a Zipf draw seeded by the word),
 * which gives the text recurring two- and three-word phrases. Documents
 * have a title line of 4-12 words, then paragraphs of sentences of 5-30
 * words (capitalised, commas, full stops, a few numbers and hyphenated
 * compounds); body lengths are log-normal (median `median_words`).
 *
 * Document i depends only on (seed, i): the corpus of N documents is the
 * first N documents of every larger corpus with the same seed.
 */
#ifndef QR_BENCH_SYNTH_H
#define QR_BENCH_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "storage/buf.h"

typedef struct qr_synth_options {
    uint64_t seed;       /* 0 is a seed like any other */
    uint32_t vocab;      /* vocabulary size; 0: 2,000,000 */
    uint32_t head;       /* last rank of the 1/r regime; 0: 10,000 (clamped to vocab) */
    double median_words; /* median body length in words; 0: 250 */
    double sigma;        /* log-normal shape of body lengths; 0: 0.8 */
    double colloc;       /* probability that a word is followed by its collocate; < 0: 0, 0: 0.25 */
} qr_synth_options;

typedef struct qr_synth qr_synth;

/* Builds the sampling tables (about 12 bytes per vocabulary word). 0, QR_EINVAL or QR_ENOMEM. */
int qr_synth_open(qr_synth **out, const qr_synth_options *opt);
void qr_synth_close(qr_synth *s);

/* Appends the text of document i (title line, blank line, body) to out; 0 or out->err. */
int qr_synth_doc(const qr_synth *s, uint64_t i, qr_buf *out);

/* The spelling of the word of rank r (0 = most frequent), lower case, into out (>= 32 bytes);
 * returns its length. Distinct ranks give distinct words. */
size_t qr_synth_word(uint32_t r, char *out);

/* The relative path of document i: "dddd/iiiiiii.txt" (1000 files a directory, sorted by i). */
void qr_synth_path(uint64_t i, char *out, size_t cap);

/*
 * Writes documents [0, n) as files under dir (created, with its
 * subdirectories, if missing). *out_bytes (may be NULL) receives the bytes
 * written. Returns 0, QR_EIO (errno says why) or QR_ENOMEM.
 */
int qr_synth_write(const qr_synth *s, const char *dir, uint64_t n, uint64_t *out_bytes);

#endif
