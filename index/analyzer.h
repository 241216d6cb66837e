/*
 * Text analysis: the one place where terms are made, at index time and at
 * query time (SPEC §2 and §6).
 *
 * Text is decoded as UTF-8 (an invalid sequence separates words) and cut into
 * words: maximal runs of Unicode letters, marks and digits, with an apostrophe
 * (U+0027, U+2019) kept inside a word when letters stand right beside it on
 * both sides. Each word is normalised with utf8proc (CASEFOLD | COMPAT |
 * STRIPMARK | COMPOSE, then U+2019 -> U+0027) and stemmed with the analyzer's
 * Snowball stemmer. Consecutive words take consecutive positions. Words joined
 * by single hyphens (U+002D, U+2010, U+2011) are a compound: each part takes
 * its own position and the concatenation of the parts' normalised forms,
 * stemmed, is an extra token at the first part's position. A normalised word
 * longer than QR_MAX_TERM_BYTES is not emitted but keeps its position; so
 * does a word whose normalisation is empty.
 *
 * Tokens stream through a callback; the analyzer reuses its own buffers, so
 * no heap allocation is made per token. Each analyzer owns its stemmer and a
 * cache from surface form to stemmed term: it is not thread-safe, so give
 * each thread its own.
 */
#ifndef QR_INDEX_ANALYZER_H
#define QR_INDEX_ANALYZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest indexed term, in bytes of the normalised, unstemmed word. */
#define QR_MAX_TERM_BYTES 64

typedef struct qr_analyzer qr_analyzer;

/* One token handed to the callback; every pointer is valid only during the call. */
typedef struct qr_token {
    const char *term; /* the term (stemmed unless QR_ANALYZE_NOSTEM), not NUL-terminated */
    size_t len;       /* bytes in term, >= 1 */
    uint32_t pos;     /* position: first_pos + index of the word */
    uint32_t start;   /* byte offset in the text of the first byte of the word (or compound) */
    uint32_t end;     /* byte offset one past its last byte */
    bool concat;      /* true for a compound's concatenation (an extra term, not a position) */
    bool compound;    /* true for a part of a hyphenated compound (and for its concatenation) */
} qr_token;

/* Called once per token in position order; a compound's concatenation comes right after its
 * first part, at the same position (SPEC §2 table: 1:ceas 1:ceasefir 2:fire).
 * Returning non-zero stops the analysis, and qr_analyze returns that value. */
typedef int (*qr_token_fn)(void *ctx, const qr_token *tok);

/* Flags for qr_analyze. */
enum {
    QR_ANALYZE_NOSTEM = 1 << 0, /* emit normalised, unstemmed forms (prefix queries) */
};

/*
 * Opens an analyzer for `language`: any name libstemmer knows ("english",
 * "french", ... as listed by qr_analyzer_languages), or "none" for no
 * stemming; NULL means "english". Returns 0, QR_EINVAL for an unknown
 * language, or QR_ENOMEM. The caller owns *out and frees it with
 * qr_analyzer_close().
 */
int qr_analyzer_open(qr_analyzer **out, const char *language);
/* Frees an analyzer; accepts NULL. */
void qr_analyzer_close(qr_analyzer *a);
/* The language the analyzer was opened with ("english", "none", ...); valid until close. */
const char *qr_analyzer_language(const qr_analyzer *a);
/* NULL-terminated list of the accepted language names, "none" included; static. */
const char **qr_analyzer_languages(void);

/*
 * Analyses text[0..len) as one field whose first word takes position
 * first_pos. Calls fn for each token. On return *out_positions (if not NULL)
 * holds the number of positions the field used (every word, indexed or not,
 * counts; concatenations do not). Returns 0, the callback's non-zero value,
 * or QR_ENOMEM.
 */
int qr_analyze(qr_analyzer *a, const char *text, size_t len, uint32_t first_pos, unsigned flags,
               qr_token_fn fn, void *ctx, uint32_t *out_positions);

#endif
