/*
 * Document iterators: the matching machinery of one segment.
 *
 * A query is first compiled into a plan (qr_pnode, built by searcher.c with
 * the index-wide statistics: each term's idf, each prefix's expansion), and
 * the plan is turned, segment by segment, into a tree of iterators. Every
 * iterator walks candidate doc ids in increasing order with next() and
 * seek(); an iterator that is not `exact` yields candidates that a second,
 * costlier match() must confirm (two-phase: a phrase is first a conjunction
 * of its terms, then a check of positions). After a confirmed match, score()
 * gives the clause's BM25 contribution (SPEC §4) and spans() its occurrences
 * (for NEAR); bound() gives a cheap upper bound of score() from the
 * per-block impact maxima of the postings (block-max), which the top-k
 * collector in rank.c compares with its threshold before scoring.
 *
 * Kinds: term (postings of one term, optionally restricted to a field),
 * AND (leapfrog from the rarest clause, seeking the others; NOT children
 * subtract), OR (a heap-ordered union), NOT (the complement, against all
 * documents), ALL, and, in phrase.c, phrase and NEAR.
 */
#ifndef QR_QUERY_ITER_H
#define QR_QUERY_ITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query/parser.h"
#include "storage/manifest.h"
#include "storage/postings.h"
#include "storage/segment.h"

/* BM25 parameters (SPEC §4). */
#define QR_K1 1.2
#define QR_B  0.75

/* ---- the plan: a query with its index-wide statistics ---------------------- */

typedef enum qr_pkind {
    QR_P_NONE,   /* matches nothing */
    QR_P_ALL,    /* matches every document, scores nothing */
    QR_P_TERM,   /* terms[0] */
    QR_P_PHRASE, /* terms at their offsets */
    QR_P_PREFIX, /* any of terms[] (the expansion, in bytewise order) */
    QR_P_AND,
    QR_P_OR,
    QR_P_NOT, /* the complement of kids[0] */
    QR_P_NEAR,
} qr_pkind;

/* A term of the plan, with its statistics and its place in each segment. */
typedef struct qr_pterm {
    const char *text;          /* the term, NUL-terminated */
    uint32_t len;              /* bytes */
    uint32_t off;              /* offset inside a phrase */
    uint64_t df;               /* documents containing it, over every segment */
    double idf;                /* ln(1 + (N - df + 0.5) / (df + 0.5)) */
    const qr_term_meta *metas; /* one per segment of the searcher; df == 0 where absent */
} qr_pterm;

typedef struct qr_pnode qr_pnode;
struct qr_pnode {
    qr_pkind kind;
    qr_field field;  /* leaves */
    bool scores;     /* false under a NOT: the clause never contributes to a score */
    uint32_t near_k; /* NEAR */
    double idf;      /* PHRASE and NEAR: the sum of their terms' idf */
    uint32_t nterms; /* TERM, PHRASE, PREFIX */
    qr_pterm *terms;
    uint32_t nkids; /* AND, OR, NOT, NEAR */
    qr_pnode **kids;
};

/* ---- per-segment evaluation context ---------------------------------------- */

/* Lengths below this have their normalisation cached in the searcher's table. */
#define QR_NORM_TABLE 65536

typedef struct qr_rank_scratch qr_rank_scratch; /* rank.c's reusable memory */

typedef struct qr_evalctx {
    const qr_segment *seg;     /* the segment being searched */
    uint32_t segi;             /* its index in the plan's metas */
    const qr_doctable *dt;     /* its document table */
    const qr_deletes *del;     /* its deletions, NULL when none */
    uint32_t ndocs;            /* documents in the segment, deleted ones included */
    double avgdl;              /* index-wide average document length */
    double *norm_tab;          /* QR_NORM_TABLE normalisations by length, 0 = not computed yet */
    double *doc_norm;          /* ndocs normalisations by doc, 0 = not computed yet; or NULL */
    qr_rank_scratch **scratch; /* the searcher's scratch for rank.c (allocated on first use) */
    uint32_t flat_w;           /* documents per window of rank.c's pass over live iterators */
    uint32_t wide_w;           /* ... over terms opened one at a time (both multiples of 64) */
} qr_evalctx;

/*
 * Sets up a context for segment seg (index segi), deletions del (or NULL);
 * norm_tab (QR_NORM_TABLE zeroed doubles, shared by every query of one
 * index: avgdl is index-wide) caches length normalisations, and doc_norm
 * (NULL, or qr_segment_docs(seg) zeroed doubles kept with the segment)
 * normalisations by doc; *scratch is memory rank.c keeps from one query to
 * the next.
 */
void qr_evalctx_init(qr_evalctx *c, const qr_segment *seg, uint32_t segi, const qr_deletes *del,
                     double avgdl, double *norm_tab, double *doc_norm, qr_rank_scratch **scratch);

/* k1 * (1 - b + b * dl / avgdl): the length normalisation of SPEC §4, as written there. */
static inline double qr_norm_of(double dl, double avgdl)
{
    return QR_K1 * (1 - QR_B + QR_B * dl / avgdl);
}

/* The length normalisation of doc, from its length (cached by length). */
static inline double qr_evalctx_norm_by_length(qr_evalctx *c, uint32_t doc)
{
    uint32_t dl = qr_doctable_positions(c->dt, doc);
    if (dl < QR_NORM_TABLE) {
        double v = c->norm_tab[dl];
        if (v == 0)
            v = c->norm_tab[dl] = qr_norm_of(dl, c->avgdl);
        return v;
    }
    return qr_norm_of(dl, c->avgdl);
}

/*
 * The length normalisation of doc (< ndocs), cached by doc when the context
 * has doc_norm (one load where docs come in order, instead of the length's
 * and then the table's), else by length; bit-identical to computing it.
 */
static inline double qr_evalctx_norm(qr_evalctx *c, uint32_t doc)
{
    if (!c->doc_norm)
        return qr_evalctx_norm_by_length(c, doc);
    double v = c->doc_norm[doc];
    if (v == 0)
        v = c->doc_norm[doc] = qr_evalctx_norm_by_length(c, doc);
    return v;
}

/*
 * BM25 of one clause, SPEC §4, exactly as written there:
 * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)).
 */
static inline double qr_bm25(double idf, double tf, double dl, double avgdl)
{
    return idf * tf * (QR_K1 + 1) / (tf + qr_norm_of(dl, avgdl));
}

/* The same with the normalisation already computed (bit-identical). */
static inline double qr_bm25_norm(double idf, double tf, double norm)
{
    return idf * tf * (QR_K1 + 1) / (tf + norm);
}

/* An upper bound of qr_bm25 for tf <= max_tf and dl >= min_dl; 0 when idf <= 0. */
double qr_bm25_bound(double idf, double max_tf, double min_dl, double avgdl);

/* ---- spans -------------------------------------------------------------------- */

/* An occurrence: positions start..end inclusive (a term: start == end). */
typedef struct qr_span {
    uint32_t start, end;
} qr_span;

/* A growable list of spans. Zero-initialise to start empty. */
typedef struct qr_spans {
    qr_span *v;
    size_t n, cap;
} qr_spans;

int qr_spans_push(qr_spans *s, uint32_t start, uint32_t end);
void qr_spans_free(qr_spans *s);

/* ---- iterators ---------------------------------------------------------------- */

typedef struct qr_it qr_it;

typedef struct qr_it_ops {
    /* Moves to the next candidate (QR_DOC_END after the last). 0 or an error. */
    int (*next)(qr_it *it);
    /* Moves to the first candidate >= target, never backwards. 0 or an error. */
    int (*seek)(qr_it *it, uint32_t target);
    /* Confirms the current candidate (NULL for exact iterators). 0 or an error. */
    int (*match)(qr_it *it, bool *out);
    /* The clause's score at the current doc, after a confirmed match. */
    double (*score)(qr_it *it);
    /* An upper bound of score() at the current candidate (block-max). */
    double (*bound)(qr_it *it);
    /* Appends the occurrences at the current doc, after a confirmed match. */
    int (*spans)(qr_it *it, qr_spans *out);
    void (*free)(qr_it *it);
} qr_it_ops;

struct qr_it {
    const qr_it_ops *ops;
    uint32_t doc;     /* current candidate, QR_DOC_END when exhausted */
    bool exact;       /* every candidate matches: match() need not be called */
    bool scores;      /* contributes to scores (false under NOT) */
    uint64_t cost;    /* at most this many candidates: conjunctions lead with the cheapest */
    double max_score; /* an upper bound of score() over every document */
};

static inline int qr_it_next(qr_it *it)
{
    return it->ops->next(it);
}

static inline int qr_it_seek(qr_it *it, uint32_t target)
{
    return it->doc >= target ? 0 : it->ops->seek(it, target);
}

/* Confirms the current doc; exact iterators match without asking. */
static inline int qr_it_match(qr_it *it, bool *out)
{
    if (it->exact) {
        *out = true;
        return 0;
    }
    return it->ops->match(it, out);
}

static inline double qr_it_score(qr_it *it)
{
    return it->ops->score(it);
}

static inline double qr_it_bound(qr_it *it)
{
    return it->ops->bound(it);
}

static inline int qr_it_spans(qr_it *it, qr_spans *out)
{
    return it->ops->spans(it, out);
}

/* Frees an iterator tree; accepts NULL. */
void qr_it_free(qr_it *it);

/*
 * Builds the iterator tree of plan p for the segment of ctx (which must
 * outlive the tree), positioned on its first candidate. Returns 0,
 * QR_ENOMEM or QR_ECORRUPT.
 */
int qr_it_build(qr_it **out, const qr_pnode *p, qr_evalctx *ctx);

/* ---- pieces shared with phrase.c ---------------------------------------------- */

/* A term's postings as an exact iterator of field ANY (for phrases); NULL if absent here. */
int qr_term_it_open(qr_it **out, const qr_pterm *t, qr_evalctx *ctx, qr_field field, bool scores);
/*
 * When it is a term iterator: true, and its positions at the current doc
 * inside its field (borrowed until it moves), or *rc set on corrupt data.
 * False for any other iterator.
 */
bool qr_term_it_view(qr_it *it, const uint32_t **out, uint32_t *out_n, int *rc);
/* The positions of a term iterator at its current doc (valid until it moves). */
int qr_term_it_positions(qr_it *it, const uint32_t **out, uint32_t *out_n);
/*
 * The impact bound of the postings block holding the current doc, and that
 * block's last doc: false when no block is left.
 */
bool qr_term_it_block(qr_it *it, uint32_t *out_last, uint32_t *out_max_tf, uint32_t *out_min_dl);
/* True for a scoring term iterator over every field (exact: its documents are its matches). */
bool qr_it_is_plain_term(const qr_it *it);
/* A boolean query over terms only, as rank.c evaluates it window by window. */
typedef struct qr_it_flat_view {
    bool is_or;        /* any of pos (else all of pos) */
    qr_it *const *pos; /* scoring terms over every field, query order */
    size_t npos;
    qr_it *const *neg; /* terms (every field) none of which may occur */
    size_t nneg;
} qr_it_flat_view;

/*
 * True when it is an OR of scoring terms, or an AND of scoring terms minus
 * terms (all over every field); *out then lends its clauses (the iterators
 * stay owned by it).
 */
bool qr_it_flat(qr_it *it, qr_it_flat_view *out);
/* A term iterator's postings cursor (rank.c walks a lone term block by block). */
qr_postings_iter *qr_term_it_postings(qr_it *it);
/* A term iterator's cursor, idf, tf bound table (QR_TF_BOUNDS + 1 entries, 0 = to compute)
 * and shortest document, for rank.c's window pass. */
void qr_term_it_src(qr_it *it, qr_postings_iter **p, double *idf, double **tfb, uint32_t *min_dl);
/* A term iterator's idf. */
double qr_term_it_idf(const qr_it *it);
/* Term frequencies up to this many have their bounds cached per term iterator. */
#define QR_TF_BOUNDS 64
/* An upper bound of the term's score in any document where it occurs tf times. */
double qr_term_it_tf_bound(qr_it *it, uint32_t tf);
/* The impact bound over the whole term. */
void qr_term_it_term_max(qr_it *it, uint32_t *out_max_tf, uint32_t *out_min_dl);

/*
 * Moves lead[0..n) (sorted by cost, cheapest first) forward until all stand
 * on one doc >= lead[0]->doc, or lead[0] is exhausted. Returns 0 or an error.
 */
int qr_conj_align(qr_it **lead, size_t n);
/* Sorts its[0..n) by increasing cost (stable; if memory runs out, maybe not at all). */
void qr_sort_by_cost(qr_it **its, size_t n);

/*
 * A conjunction stepped window by window (for the candidates of phrases and
 * NEAR): when every clause is a term iterator, the docs of their current
 * postings blocks, up to the first block end among them, are intersected
 * at once by a merge and the common docs then visited by moving each
 * cursor inside its block, instead of a seek of every clause at every
 * lead doc (a binary search over a block, mostly to move one or two docs
 * when the terms are common). When the others' docs in the window far
 * outnumber the lead's (a rare term with common ones), the window is
 * stepped the usual way, lead doc by lead doc with seeks. Visits exactly
 * the docs qr_conj_align's stepping would.
 */
typedef struct qr_conj_win {
    qr_it **lead;        /* the clauses, cheapest first (borrowed) */
    size_t n;            /* how many */
    bool terms;          /* every clause is a term iterator: windows apply */
    bool open;           /* a window is built: its common docs are being visited */
    uint32_t hi;         /* the window's last doc (while open, or while stepped by seeks) */
    bool seeks;          /* docs up to hi are stepped with seeks (a lopsided window) */
    uint32_t nc, at;     /* common docs in the window, the next to visit */
    uint32_t *doc;       /* QR_BLOCK: the window's common docs */
    uint8_t *idx;        /* n * QR_BLOCK: clause t's index of each, from where the window began */
    uint8_t *cur;        /* n: each clause's index from where the window began */
    const uint32_t **dv; /* n: scratch, each clause's block docs (and the arrays' allocation) */
    uint32_t *dn;        /* n: and how many */
    uint8_t *map; /* QR_WIN_MAP: by doc - the window's first doc, a clause's index + 1 (kept 0) */
} qr_conj_win;

/* Docs a window's map spans (windows of common terms span fewer: no merge then). */
#define QR_WIN_MAP 1024u

/* Number of v[0..n) (increasing) that are <= x: for windows and position lists. */
static inline size_t qr_count_le(const uint32_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether windows apply to lead[0..n) (sorted by cost): terms, none too common against lead[0]. */
bool qr_conj_win_applies(qr_it *const *lead, size_t n);
/* Sets w up over lead[0..n) (sorted by cost). Returns 0 or QR_ENOMEM. */
int qr_conj_win_init(qr_conj_win *w, qr_it **lead, size_t n);
void qr_conj_win_free(qr_conj_win *w);
/* Forgets the window (after the clauses were moved by hand, e.g. a seek). */
void qr_conj_win_reset(qr_conj_win *w);
/*
 * From a doc where all clauses stand, moves them all to the next doc they
 * share (lead[0]->doc; QR_DOC_END when none). Returns 0 or an error.
 */
int qr_conj_win_next(qr_conj_win *w);
/*
 * Builds the window from the doc where all clauses stand, unless one is
 * open, without moving them: true when a window is open, whose common docs
 * w->doc[w->at .. w->nc) qr_conj_win_next visits in turn (a caller may
 * pass over some of them by raising w->at; clause t's index of common doc
 * c in its block is qr_conj_win_index). False when the next doc is found
 * without a window (the clauses are not all terms, the window would be
 * lopsided, or they are exhausted).
 */
bool qr_conj_win_build(qr_conj_win *w);

/*
 * Clause t's index in its current postings block of the window's common
 * doc c, given its current doc's index in_block (w open, c >= w->at).
 */
static inline uint32_t qr_conj_win_index(const qr_conj_win *w, size_t t, uint32_t c,
                                         uint32_t in_block)
{
    return in_block - w->cur[t] + w->idx[t * QR_BLOCK + c];
}

/* Constructors in phrase.c. */
int qr_phrase_open(qr_it **out, const qr_pnode *p, qr_evalctx *ctx);
int qr_near_open(qr_it **out, const qr_pnode *p, qr_it *left, qr_it *right, qr_evalctx *ctx);

#endif
