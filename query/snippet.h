/*
 * Snippets: for a hit, the best window of about QR_SNIPPET_WORDS words of
 * its stored text, with the words that matched the query marked.
 *
 * The stored body (or the title, when the body has no word) is analysed
 * again with the index's analyzer, which gives each word's position and
 * byte range. A word is marked when its term is one of the query's positive
 * terms (terms and phrase terms not under a NOT, whose field allows the text
 * snippeted) or starts with one of its positive prefixes; a hyphenated
 * compound matched through its concatenation is marked whole. The window is
 * the one with the most distinct query terms, then the most marked words,
 * then the earliest. It is rendered from the original text: the words and
 * what stands between them, white-space runs (and control characters)
 * collapsed to one space, bytes that are not UTF-8 replaced by U+FFFD, and
 * "…" where the window cuts text off.
 */
#ifndef QR_QUERY_SNIPPET_H
#define QR_QUERY_SNIPPET_H

#include <stdbool.h>
#include <stddef.h>

#include "index/analyzer.h"
#include "query/parser.h"
#include "storage/buf.h"

/* Words in a snippet window. */
#define QR_SNIPPET_WORDS 30
/* Most bytes of text a snippet shows (a window of giant words is cut). */
#define QR_SNIPPET_MAX_BYTES 1000

/* The positive terms and prefixes of a query, as a snippet looks for them. */
typedef struct qr_snip_terms qr_snip_terms;

/* Collects them from a parsed query (NULL root: none). 0 or QR_ENOMEM. */
int qr_snip_terms_make(qr_snip_terms **out, const qr_query *q);
void qr_snip_terms_free(qr_snip_terms *t);

/*
 * Appends the snippet of a document (title and body as stored) to out,
 * each marked word between mark_open and mark_close ("[" and "]", or
 * terminal colours). Returns 0 or QR_ENOMEM.
 */
int qr_snippet(qr_buf *out, qr_analyzer *a, const qr_snip_terms *t, const char *title,
               size_t title_len, const char *body, size_t body_len, const char *mark_open,
               const char *mark_close);

/*
 * Appends s[0..n) made safe to print and valid UTF-8: invalid bytes become
 * U+FFFD; with collapse, runs of white space and control characters become
 * one space (none at either end), else each control character becomes '?'.
 * Returns 0 or QR_ENOMEM.
 */
int qr_text_clean(qr_buf *out, const char *s, size_t n, bool collapse);

#endif
