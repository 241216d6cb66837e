/*
 * quarry.h: the embedding API of quarry, a full-text search engine.
 *
 * A C program can analyse text exactly as quarry does, open an index that
 * `quarry index` built, run queries in quarry's query language and iterate
 * the ranked hits (path, score, title, snippet). Every handle is opaque;
 * every function that can fail returns 0 (QUARRY_OK) or a negative
 * QUARRY_E* code, which quarry_strerror() names. Every _close/_free
 * function accepts NULL. Handles are not thread-safe: use one per thread
 * (several quarry_index handles may be open on the same index at once).
 *
 *     quarry_index *ix;
 *     quarry_error err;
 *     if (quarry_index_open(&ix, "quarry.idx", &err))
 *         fprintf(stderr, "%s\n", err.message);
 *     quarry_hits *hits;
 *     if (quarry_search(&hits, ix, "cease-fire crimea", NULL, &err) == 0) {
 *         quarry_hit h;
 *         printf("%llu hits\n", (unsigned long long)quarry_hits_total(hits));
 *         while (quarry_hits_next(hits, &h) > 0)
 *             printf("%llu. %s %.4f %s\n", (unsigned long long)h.rank, h.path, h.score,
 *                    h.title);
 *         quarry_hits_free(hits);
 *     }
 *     quarry_index_close(ix);
 */
#ifndef QUARRY_H
#define QUARRY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes (the same values as quarry's internal ones). */
enum {
    QUARRY_OK = 0,
    QUARRY_ENOMEM = -1,    /* out of memory */
    QUARRY_EIO = -2,       /* the operating system refused a read */
    QUARRY_ECORRUPT = -3,  /* an index file does not follow its format */
    QUARRY_EVERSION = -4,  /* an index file of a format version this library cannot read */
    QUARRY_ENOTFOUND = -5, /* no index at the path */
    QUARRY_EINVAL = -6,    /* an argument that makes no sense (an unknown language, ...) */
    QUARRY_ESYNTAX = -7,   /* a query that does not follow the query language */
};

/* A static, never-NULL English phrase for a status code ("corrupt data"). */
const char *quarry_strerror(int code);

/* What went wrong, with context; filled by the functions that take one (may be NULL). */
typedef struct quarry_error {
    int code;          /* the status returned */
    unsigned column;   /* QUARRY_ESYNTAX: the 1-based column (in code points) of the error */
    char message[512]; /* one line: the file or the query column and what is wrong */
} quarry_error;

/* ---- analysis ------------------------------------------------------------------ */

typedef struct quarry_analyzer quarry_analyzer;

/*
 * Opens an analyzer for a language: any libstemmer language ("english",
 * "french", ...), "none" for no stemming, or NULL for "english". Returns
 * QUARRY_OK, QUARRY_EINVAL (unknown language) or QUARRY_ENOMEM. The caller
 * owns *out and frees it with quarry_analyzer_close().
 */
int quarry_analyzer_open(quarry_analyzer **out, const char *language);
/* Frees an analyzer; accepts NULL. */
void quarry_analyzer_close(quarry_analyzer *a);

/*
 * Called once per token, in position order: term[0..len) (not
 * NUL-terminated, valid only during the call) at position pos. Returning
 * non-zero stops the analysis.
 */
typedef int (*quarry_token_fn)(void *ctx, const char *term, size_t len, uint32_t pos);

/*
 * Analyses text[0..len) as one field, exactly as quarry does at index and
 * query time (README: "How text is analysed"). Returns QUARRY_OK, the
 * callback's non-zero value, or QUARRY_ENOMEM.
 */
int quarry_analyze(quarry_analyzer *a, const char *text, size_t len, quarry_token_fn fn, void *ctx);

/* ---- searching ----------------------------------------------------------------- */

typedef struct quarry_index quarry_index;

/*
 * Opens the index in directory path, pinned at its newest commit: later
 * commits by `quarry index` are not seen until it is opened again. Every
 * file's checksum is verified, so damage is reported here. Returns
 * QUARRY_OK, QUARRY_ENOTFOUND (no index there), QUARRY_ECORRUPT or
 * QUARRY_EVERSION (err->message names the file), QUARRY_EIO or
 * QUARRY_ENOMEM. The caller owns *out and closes it with
 * quarry_index_close() after freeing every quarry_hits made from it.
 */
int quarry_index_open(quarry_index **out, const char *path, quarry_error *err);
/* Closes an index; accepts NULL. */
void quarry_index_close(quarry_index *ix);
/* Live documents in the index. */
uint64_t quarry_index_docs(const quarry_index *ix);

/* Flags of quarry_search_options. */
enum {
    QUARRY_SEARCH_ANY = 1 << 0,         /* juxtaposed words mean OR (AND still means AND) */
    QUARRY_SEARCH_COUNT_ONLY = 1 << 1,  /* only the total: no hit is scored or returned */
    QUARRY_SEARCH_NO_SNIPPETS = 1 << 2, /* hits carry no snippet (and no title): faster */
};

/* Search options; NULL means the defaults {10, 0, 0, NULL, NULL}. */
typedef struct quarry_search_options {
    size_t k;               /* how many hits to return */
    size_t offset;          /* skip this many best hits first (ranks continue from offset + 1) */
    unsigned flags;         /* QUARRY_SEARCH_* */
    const char *mark_open;  /* put before each matched word in snippets; NULL: "[" */
    const char *mark_close; /* ... and after; NULL: "]" */
} quarry_search_options;

typedef struct quarry_hits quarry_hits;

/*
 * Runs query (NUL-terminated, quarry's query language) on ix. On success
 * returns QUARRY_OK and *out holds the exact total and the hits; the caller
 * frees it with quarry_hits_free() (before closing ix). On a syntax error
 * returns QUARRY_ESYNTAX with err->column and err->message; otherwise
 * QUARRY_ECORRUPT, QUARRY_EIO or QUARRY_ENOMEM.
 */
int quarry_search(quarry_hits **out, quarry_index *ix, const char *query,
                  const quarry_search_options *opts, quarry_error *err);

/* Every matching document, counted exactly. */
uint64_t quarry_hits_total(const quarry_hits *h);
/* How many hits the iteration yields (at most k). */
size_t quarry_hits_count(const quarry_hits *h);

/*
 * One ranked hit. The strings are NUL-terminated and valid until the next
 * quarry_hits_next() or quarry_hits_free(); title and snippet are UTF-8
 * (invalid bytes replaced, white space collapsed).
 */
typedef struct quarry_hit {
    uint64_t rank;       /* 1-based, offset included */
    const char *path;    /* the document's path as indexed, e.g. "articles/ceasefire/001.txt" */
    double score;        /* BM25 */
    const char *title;   /* the document's title ("" with QUARRY_SEARCH_NO_SNIPPETS) */
    const char *snippet; /* about 30 words with matches marked ("" with NO_SNIPPETS) */
} quarry_hit;

/*
 * Moves to the next hit, best first: returns 1 and fills *out, 0 after the
 * last hit, or a negative code (QUARRY_ECORRUPT, QUARRY_ENOMEM) when the
 * stored text of the hit cannot be read.
 */
int quarry_hits_next(quarry_hits *h, quarry_hit *out);
/* Frees the hits; accepts NULL. */
void quarry_hits_free(quarry_hits *h);

#ifdef __cplusplus
}
#endif

#endif
