/*
 * Query generation from an index (see querygen.h).
 *
 * 1. Open the newest commit: the manifest, every segment and its deletions.
 * 2. Sample documents and read their stored title and body; analyse each
 *    field twice (unstemmed, stemmed: the two token streams line up one to
 *    one) and keep, per word occurrence, the word's id, position, field and
 *    whether only spaces separate it from the previous word. Words are
 *    interned in a hash table; each word knows its term.
 * 3. Look every seen term up in every segment's term dictionary: df. Each
 *    term's representative word is its most frequent valid word; the bands
 *    are sorted lists of representative words.
 * 4. Draw each class with its own random stream (seeded by the seed and the
 *    class), so a class's queries do not depend on which other classes are
 *    asked for. Phrase and Near candidates are verified on the postings.
 */
#include "bench/querygen.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bench/rng.h"
#include "index/analyzer.h"
#include "storage/alloc.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"

#define NONE UINT32_MAX

/* ---- an interning string table -------------------------------------------- */

typedef struct strtab {
    qr_buf bytes;    /* every string, back to back */
    uint32_t *off;   /* per id: offset in bytes */
    uint32_t *len;   /* per id: length */
    uint32_t n;      /* ids in use */
    uint32_t cap;    /* ids allocated */
    uint32_t *slots; /* open addressing: id + 1, 0 = empty */
    uint32_t mask;   /* slots - 1 (a power of two minus one) */
} strtab;

static const char *st_str(const strtab *t, uint32_t id)
{
    return (const char *)t->bytes.p + t->off[id];
}

static int st_grow_slots(strtab *t)
{
    uint32_t nslots = t->slots ? (t->mask + 1) * 2 : 1024;
    uint32_t *s = qr_calloc(nslots, sizeof *s);
    if (!s)
        return QR_ENOMEM;
    for (uint32_t id = 0; id < t->n; id++) {
        uint64_t h = XXH3_64bits(st_str(t, id), t->len[id]);
        uint32_t i = (uint32_t)h & (nslots - 1);
        while (s[i])
            i = (i + 1) & (nslots - 1);
        s[i] = id + 1;
    }
    qr_free(t->slots);
    t->slots = s;
    t->mask = nslots - 1;
    return 0;
}

/* Finds or adds s; *out_id and *out_new. 0 or QR_ENOMEM. */
static int st_intern(strtab *t, const char *s, size_t len, uint32_t *out_id, bool *out_new)
{
    if (!t->slots || (uint64_t)t->n * 2 >= (uint64_t)t->mask + 1) {
        int rc = st_grow_slots(t);
        if (rc)
            return rc;
    }
    uint64_t h = XXH3_64bits(s, len);
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slots[i]) {
        uint32_t id = t->slots[i] - 1;
        if (t->len[id] == len && !memcmp(st_str(t, id), s, len)) {
            *out_id = id;
            *out_new = false;
            return 0;
        }
        i = (i + 1) & t->mask;
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 1024;
        uint32_t *o = qr_reallocarray(t->off, cap, sizeof *o);
        if (!o)
            return QR_ENOMEM;
        t->off = o;
        uint32_t *l = qr_reallocarray(t->len, cap, sizeof *l);
        if (!l)
            return QR_ENOMEM;
        t->len = l;
        t->cap = cap;
    }
    if (t->bytes.n + len + 1 > UINT32_MAX)
        return QR_ETOOBIG;
    t->off[t->n] = (uint32_t)t->bytes.n;
    t->len[t->n] = (uint32_t)len;
    qr_buf_put(&t->bytes, s, len);
    qr_buf_put_u8(&t->bytes, 0);
    if (t->bytes.err)
        return t->bytes.err;
    t->slots[i] = t->n + 1;
    *out_id = t->n++;
    *out_new = true;
    return 0;
}

static void st_free(strtab *t)
{
    qr_buf_free(&t->bytes);
    qr_free(t->off);
    qr_free(t->len);
    qr_free(t->slots);
}

/* ---- state ------------------------------------------------------------------ */

/* A token as the analyzer gave it (its text in the collector's scratch buffer). */
typedef struct rawtok {
    uint32_t off, len; /* text in the collector's buffer */
    uint32_t pos, start, end;
    bool concat, compound;
} rawtok;

typedef struct collector {
    rawtok *t;
    size_t n, cap;
    qr_buf text;
    int err;
} collector;

/* A sampled word occurrence. */
typedef struct stok {
    uint32_t word;  /* word id, NONE for a word that is not valid for a query */
    uint32_t pos;   /* position in the document */
    uint32_t doc;   /* index of the sampled document */
    uint8_t field;  /* 0 title, 1 body */
    uint8_t spaced; /* only spaces or tabs since the previous word of the field */
} stok;

/* A sampled document: its tokens are toks[first, end); the title's are the first `title`. */
typedef struct sdoc {
    size_t first, end;
    uint32_t title;
} sdoc;

struct gen {
    const qr_qgen_options *o;
    qr_manifest m;
    bool have_m;
    qr_segment **segs;
    qr_deletes *dels;
    uint32_t nsegs;
    qr_analyzer *an;
    uint64_t live; /* N */

    strtab words, terms;
    uint32_t *word_term;  /* per word: its term id */
    uint32_t *word_count; /* per word: occurrences in the sample */
    size_t words_cap;
    uint8_t *term_stop; /* per term: some stop word stems to it (it is never sampled) */
    size_t term_stop_cap;
    uint64_t *term_df;   /* per term */
    uint32_t *term_word; /* per term: the representative word, NONE if no valid word */

    stok *toks;
    size_t ntoks, toks_cap;
    sdoc *docs;
    size_t ndocs, docs_cap;
    collector a, b; /* unstemmed and stemmed token streams of one field */

    uint32_t *pool[3]; /* High, Med, Low: word ids sorted by spelling */
    size_t npool[3];

    qr_bq_list *out;
    qr_qgen_stats *stats;
    char *err;
    size_t errlen;
};

static void set_err(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct gen *g, const char *fmt, ...)
{
    if (!g->err || !g->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, g->errlen, fmt, ap);
    va_end(ap);
}

/* ---- valid words ------------------------------------------------------------ */

/* English stop words (and a few very common auxiliaries), sorted for bsearch. */
static const char *const stopwords[] = {
    "about",    "above",      "after",   "again",   "against", "ain",       "all",     "also",
    "and",      "any",        "are",     "aren",    "because", "been",      "before",  "being",
    "below",    "between",    "both",    "but",     "can",     "could",     "couldn",  "did",
    "didn",     "does",       "doesn",   "doing",   "don",     "down",      "during",  "each",
    "few",      "for",        "from",    "further", "get",     "got",       "had",     "hadn",
    "has",      "hasn",       "have",    "haven",   "having",  "her",       "here",    "hers",
    "herself",  "him",        "himself", "his",     "how",     "into",      "isn",     "its",
    "itself",   "just",       "may",     "might",   "mightn",  "more",      "most",    "must",
    "mustn",    "myself",     "needn",   "nor",     "not",     "now",       "off",     "once",
    "one",      "only",       "other",   "our",     "ours",    "ourselves", "out",     "over",
    "own",      "same",       "shall",   "shan",    "she",     "should",    "shouldn", "some",
    "such",     "than",       "that",    "the",     "their",   "theirs",    "them",    "themselves",
    "then",     "there",      "these",   "they",    "this",    "those",     "through", "too",
    "two",      "under",      "until",   "very",    "was",     "wasn",      "were",    "weren",
    "what",     "when",       "where",   "which",   "while",   "who",       "whom",    "why",
    "will",     "with",       "won",     "would",   "wouldn",  "you",       "your",    "yours",
    "yourself", "yourselves",
};

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Plain lower-case ASCII of 3 to 40 letters. */
static bool plain_word(const char *s, size_t n)
{
    if (n < 3 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return false;
    return true;
}

/* A plain word in the stop list. */
static bool stop_word(const char *s, size_t n)
{
    char w[48];
    memcpy(w, s, n);
    w[n] = '\0';
    const char *key = w;
    return bsearch(&key, stopwords, sizeof stopwords / sizeof stopwords[0], sizeof stopwords[0],
                   cmp_cstr) != NULL;
}

/* ---- sampling ----------------------------------------------------------------- */

static int collect(void *ctx, const qr_token *tok)
{
    collector *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        rawtok *t = qr_reallocarray(c->t, cap, sizeof *t);
        if (!t)
            return c->err = QR_ENOMEM;
        c->t = t;
        c->cap = cap;
    }
    c->t[c->n++] = (rawtok){(uint32_t)c->text.n, (uint32_t)tok->len, tok->pos, tok->start, tok->end,
                            tok->concat,         tok->compound};
    qr_buf_put(&c->text, tok->term, tok->len);
    return c->text.err ? (c->err = c->text.err) : 0;
}

static int analyse(struct gen *g, collector *c, qr_slice text, uint32_t first, unsigned flags,
                   uint32_t *out_positions)
{
    c->n = 0;
    qr_buf_reset(&c->text);
    c->err = 0;
    int rc =
        qr_analyze(g->an, (const char *)text.p, text.n, first, flags, collect, c, out_positions);
    return c->err ? c->err : rc;
}

static int add_tok(struct gen *g, stok t)
{
    if (g->ntoks == g->toks_cap) {
        size_t cap = g->toks_cap ? g->toks_cap * 2 : 4096;
        stok *p = qr_reallocarray(g->toks, cap, sizeof *p);
        if (!p)
            return QR_ENOMEM;
        g->toks = p;
        g->toks_cap = cap;
    }
    g->toks[g->ntoks++] = t;
    return 0;
}

/* Records that a stop word stems to term. */
static int mark_stop(struct gen *g, const char *term, size_t len)
{
    uint32_t id;
    bool fresh;
    int rc = st_intern(&g->terms, term, len, &id, &fresh);
    if (rc)
        return rc;
    if (id >= g->term_stop_cap) {
        size_t cap = g->term_stop_cap ? g->term_stop_cap * 2 : 4096;
        while (cap <= id)
            cap *= 2;
        uint8_t *p = qr_reallocarray(g->term_stop, cap, 1);
        if (!p)
            return QR_ENOMEM;
        memset(p + g->term_stop_cap, 0, cap - g->term_stop_cap);
        g->term_stop = p;
        g->term_stop_cap = cap;
    }
    g->term_stop[id] = 1;
    return 0;
}

/* Zips the unstemmed (g->a) and stemmed (g->b) streams of one field into sampled tokens. */
static int zip_field(struct gen *g, qr_slice text, uint8_t field, uint32_t doc)
{
    if (g->a.n != g->b.n)
        return 0; /* cannot happen with one analyzer; skip the field rather than guess */
    bool have_prev = false;
    uint32_t prev_end = 0;
    for (size_t i = 0; i < g->a.n; i++) {
        const rawtok *a = &g->a.t[i], *b = &g->b.t[i];
        if (a->concat)
            continue; /* an extra term at its first part's position */
        const char *surf = (const char *)g->a.text.p + a->off;
        uint32_t word = NONE;
        bool plain = !a->compound && plain_word(surf, a->len);
        if (plain && stop_word(surf, a->len)) {
            /* its term stands for a stop word too ("over" and "overly" stem alike): never drawn */
            int rc = mark_stop(g, (const char *)g->b.text.p + b->off, b->len);
            if (rc)
                return rc;
        } else if (plain) {
            bool fresh;
            int rc = st_intern(&g->words, surf, a->len, &word, &fresh);
            if (rc)
                return rc;
            if (fresh) {
                if (word >= g->words_cap) {
                    size_t cap = g->words_cap ? g->words_cap * 2 : 4096;
                    uint32_t *wt = qr_reallocarray(g->word_term, cap, sizeof *wt);
                    if (!wt)
                        return QR_ENOMEM;
                    g->word_term = wt;
                    uint32_t *wc = qr_reallocarray(g->word_count, cap, sizeof *wc);
                    if (!wc)
                        return QR_ENOMEM;
                    g->word_count = wc;
                    g->words_cap = cap;
                }
                uint32_t term;
                bool tfresh;
                rc = st_intern(&g->terms, (const char *)g->b.text.p + b->off, b->len, &term,
                               &tfresh);
                if (rc)
                    return rc;
                g->word_term[word] = term;
                g->word_count[word] = 0;
            }
            g->word_count[word]++;
        }
        bool spaced = false;
        if (have_prev && a->start > prev_end && a->start <= text.n) {
            spaced = true;
            for (uint32_t k = prev_end; k < a->start; k++)
                if (text.p[k] != ' ' && text.p[k] != '\t')
                    spaced = false;
        }
        int rc = add_tok(g, (stok){word, a->pos, doc, field, spaced});
        if (rc)
            return rc;
        have_prev = true;
        prev_end = a->end;
    }
    return 0;
}

static int sample_doc(struct gen *g, uint32_t seg, uint32_t doc)
{
    qr_slice title, body;
    int rc = qr_docstore_get(qr_segment_docstore(g->segs[seg]), doc, &title, &body);
    if (rc) {
        set_err(g, "segment %016llx, document %u: %s",
                (unsigned long long)qr_segment_id(g->segs[seg]), doc, qr_strerror(rc));
        return rc;
    }
    /* The slices are valid until the next fetch: everything is analysed now. */
    if (g->ndocs == g->docs_cap) {
        size_t cap = g->docs_cap ? g->docs_cap * 2 : 1024;
        sdoc *d = qr_reallocarray(g->docs, cap, sizeof *d);
        if (!d)
            return QR_ENOMEM;
        g->docs = d;
        g->docs_cap = cap;
    }
    uint32_t di = (uint32_t)g->ndocs;
    sdoc *d = &g->docs[g->ndocs++];
    d->first = g->ntoks;
    uint32_t tpos = 0;
    if ((rc = analyse(g, &g->a, title, 0, QR_ANALYZE_NOSTEM, &tpos)) ||
        (rc = analyse(g, &g->b, title, 0, 0, NULL)) || (rc = zip_field(g, title, 0, di)))
        return rc;
    g->docs[di].title = (uint32_t)(g->ntoks - g->docs[di].first);
    if ((rc = analyse(g, &g->a, body, tpos, QR_ANALYZE_NOSTEM, NULL)) ||
        (rc = analyse(g, &g->b, body, tpos, 0, NULL)) || (rc = zip_field(g, body, 1, di)))
        return rc;
    g->docs[di].end = g->ntoks;
    return 0;
}

/* a's path sorts before b's (bytewise, then shorter first). */
static bool path_before(qr_slice a, qr_slice b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    return c < 0 || (c == 0 && a.n < b.n);
}

/*
 * Samples documents in quarry's document order (by path, across segments),
 * so that the queries depend on the index's documents and not on how they
 * were split into segments: every live document up to sample_docs, else
 * sample_docs of them evenly spaced from a random start.
 */
static int sample(struct gen *g, qr_rng *rng)
{
    uint32_t want = g->o->sample_docs ? g->o->sample_docs : 20000;
    uint64_t live = 0;
    for (uint32_t s = 0; s < g->nsegs; s++)
        live += qr_segment_docs(g->segs[s]) - g->dels[s].count;
    uint32_t *next = qr_calloc(g->nsegs ? g->nsegs : 1, sizeof *next);
    if (!next)
        return QR_ENOMEM;
    double step = live > want ? (double)live / want : 1.0;
    double at = step > 1.0 ? qr_rng_unif(rng) * step : 0.0;
    int rc = 0;
    /* merge the segments' path-sorted documents, taking the k-th live one when k reaches at */
    for (uint64_t k = 0; k < live && !rc; k++) {
        uint32_t best = UINT32_MAX;
        qr_slice bp = {0};
        for (uint32_t s = 0; s < g->nsegs; s++) {
            while (next[s] < qr_segment_docs(g->segs[s]) && qr_deletes_has(&g->dels[s], next[s]))
                next[s]++;
            if (next[s] >= qr_segment_docs(g->segs[s]))
                continue;
            qr_slice p = qr_doctable_path(qr_segment_doctable(g->segs[s]), next[s]);
            if (best == UINT32_MAX || path_before(p, bp)) {
                best = s;
                bp = p;
            }
        }
        if (best == UINT32_MAX)
            break;
        uint32_t doc = next[best]++;
        if ((double)k >= at) {
            at += step;
            rc = sample_doc(g, best, doc);
        }
    }
    qr_free(next);
    return rc;
}

/* ---- term statistics and bands ------------------------------------------------ */

static int cmp_word_ids(const void *a, const void *b, void *ctx)
{
    const strtab *t = ctx;
    return strcmp(st_str(t, *(const uint32_t *)a), st_str(t, *(const uint32_t *)b));
}

static int term_stats(struct gen *g)
{
    uint32_t nt = g->terms.n;
    g->term_df = qr_calloc(nt ? nt : 1, sizeof *g->term_df);
    g->term_word = qr_calloc(nt ? nt : 1, sizeof *g->term_word);
    if (!g->term_df || !g->term_word)
        return QR_ENOMEM;
    for (uint32_t t = 0; t < nt; t++) {
        g->term_word[t] = NONE;
        for (uint32_t s = 0; s < g->nsegs; s++) {
            qr_term_meta meta;
            int rc = qr_segment_term(g->segs[s], st_str(&g->terms, t), g->terms.len[t], &meta);
            if (rc == 0)
                g->term_df[t] += meta.df;
            else if (rc != QR_ENOTFOUND) {
                set_err(g, "segment %016llx: term dictionary: %s",
                        (unsigned long long)qr_segment_id(g->segs[s]), qr_strerror(rc));
                return rc;
            }
        }
    }
    for (uint32_t w = 0; w < g->words.n; w++) {
        uint32_t t = g->word_term[w], best = g->term_word[t];
        if (t < g->term_stop_cap && g->term_stop[t])
            continue;
        if (best == NONE || g->word_count[w] > g->word_count[best] ||
            (g->word_count[w] == g->word_count[best] &&
             strcmp(st_str(&g->words, w), st_str(&g->words, best)) < 0))
            g->term_word[t] = w;
    }
    const qr_qgen_options *o = g->o;
    double hi = o->high ? o->high : 0.10;
    double mlo = o->med_lo || o->med_hi ? o->med_lo : 0.02,
           mhi = o->med_lo || o->med_hi ? o->med_hi : 0.10;
    double llo = o->low_lo || o->low_hi ? o->low_lo : 0.002,
           lhi = o->low_lo || o->low_hi ? o->low_hi : 0.01;
    unsigned lmin = o->low_min_df ? o->low_min_df : 3;
    for (int b = 0; b < 3; b++) {
        g->pool[b] = qr_calloc(nt ? nt : 1, sizeof *g->pool[b]);
        if (!g->pool[b])
            return QR_ENOMEM;
    }
    double n = g->live ? (double)g->live : 1.0;
    for (uint32_t t = 0; t < nt; t++) {
        if (g->term_word[t] == NONE || !g->term_df[t])
            continue;
        double f = (double)g->term_df[t] / n;
        int b = f >= hi                                        ? 0
                : f >= mlo && f < mhi                          ? 1
                : f >= llo && f < lhi && g->term_df[t] >= lmin ? 2
                                                               : -1;
        if (b >= 0)
            g->pool[b][g->npool[b]++] = g->term_word[t];
    }
    for (int b = 0; b < 3; b++)
        qsort_r(g->pool[b], g->npool[b], sizeof *g->pool[b], cmp_word_ids, &g->words);
    return 0;
}

/* ---- verification on the postings ---------------------------------------------- */

static bool has_pos(const uint32_t *p, uint32_t n, uint32_t v)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && p[lo] == v;
}

/* Does the document hold the terms as a phrase (window 0) or within window of each other? */
static bool positions_match(const uint32_t *const *pos, const uint32_t *npos, unsigned nt,
                            unsigned window, uint32_t tp)
{
    if (!window) {
        for (uint32_t i = 0; i < npos[0]; i++) {
            uint32_t p = pos[0][i];
            if ((p < tp) != (p + nt - 1 < tp))
                continue;
            unsigned j = 1;
            while (j < nt && has_pos(pos[j], npos[j], p + j))
                j++;
            if (j == nt)
                return true;
        }
        return false;
    }
    for (uint32_t i = 0; i < npos[0]; i++) {
        uint32_t a = pos[0][i];
        for (uint32_t k = 0; k < npos[1]; k++) {
            uint32_t b = pos[1][k];
            uint32_t gap = a > b ? a - b : b - a;
            if (gap <= window && (a < tp) == (b < tp))
                return true;
        }
    }
    return false;
}

/*
 * Counts live documents (stopping at need) holding terms[0..nt) as a phrase
 * (window 0) or, for nt == 2, within window positions of each other.
 */
static int count_cooc(struct gen *g, const uint32_t *terms, unsigned nt, unsigned window,
                      unsigned need, unsigned *out)
{
    unsigned found = 0;
    for (uint32_t s = 0; s < g->nsegs && found < need; s++) {
        qr_postings_iter it[3];
        qr_term_meta meta[3];
        unsigned open = 0;
        int rc = 0;
        for (unsigned j = 0; j < nt; j++) {
            rc = qr_segment_term(g->segs[s], st_str(&g->terms, terms[j]), g->terms.len[terms[j]],
                                 &meta[j]);
            if (rc)
                break;
        }
        if (rc == QR_ENOTFOUND)
            continue;
        const qr_doctable *dt = qr_segment_doctable(g->segs[s]);
        uint32_t docs = qr_segment_docs(g->segs[s]);
        for (; !rc && open < nt; open++)
            rc = qr_segment_postings(g->segs[s], &meta[open], &it[open]);
        uint32_t target = 0;
        while (!rc && found < need) {
            bool all = true;
            for (unsigned j = 0; j < nt && !rc && target != QR_DOC_END; j++) {
                if (it[j].doc < target && (rc = qr_postings_seek(&it[j], target)))
                    break;
                if (it[j].doc > target) {
                    target = it[j].doc;
                    all = false;
                }
            }
            if (rc || target == QR_DOC_END)
                break;
            if (!all)
                continue;
            if (target >= docs) {
                rc = QR_ECORRUPT;
                break;
            }
            if (!qr_deletes_has(&g->dels[s], target)) {
                const uint32_t *pos[3];
                uint32_t npos[3];
                for (unsigned j = 0; j < nt && !rc; j++)
                    rc = qr_postings_positions(&it[j], &pos[j], &npos[j]);
                if (!rc &&
                    positions_match(pos, npos, nt, window, qr_doctable_title_positions(dt, target)))
                    found++;
            }
            target++;
        }
        for (unsigned j = 0; j < open; j++)
            qr_postings_iter_free(&it[j]);
        if (rc) {
            set_err(g, "segment %016llx: postings: %s",
                    (unsigned long long)qr_segment_id(g->segs[s]), qr_strerror(rc));
            return rc;
        }
    }
    *out = found;
    return 0;
}

/* ---- the classes --------------------------------------------------------------- */

static const char *wstr(const struct gen *g, uint32_t w)
{
    return st_str(&g->words, w);
}

static int emit(struct gen *g, qr_qclass c, const char *text)
{
    int rc = qr_bq_add(g->out, qr_qclass_name(c), text, strlen(text));
    if (!rc)
        g->stats->made[c]++;
    return rc;
}

static int gen_terms(struct gen *g, qr_qclass c, int band, unsigned n, qr_rng *r)
{
    size_t np = g->npool[band];
    uint32_t *idx = qr_calloc(np ? np : 1, sizeof *idx);
    if (!idx)
        return QR_ENOMEM;
    memcpy(idx, g->pool[band], np * sizeof *idx);
    int rc = 0;
    for (size_t i = 0; i < n && i < np && !rc; i++) {
        size_t j = i + qr_rng_below(r, np - i);
        uint32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        rc = emit(g, c, wstr(g, idx[i]));
    }
    qr_free(idx);
    return rc;
}

static int gen_pairs(struct gen *g, qr_qclass c, int ba, int bb, const char *op, unsigned n,
                     qr_rng *r)
{
    size_t na = g->npool[ba], nb = g->npool[bb];
    uint32_t(*seen)[2] = qr_calloc(n ? n : 1, sizeof *seen);
    if (!seen)
        return QR_ENOMEM;
    unsigned made = 0;
    int rc = 0;
    for (unsigned tries = 0; made < n && tries < 100 * n && na && nb && !rc; tries++) {
        uint32_t a = g->pool[ba][qr_rng_below(r, na)], b = g->pool[bb][qr_rng_below(r, nb)];
        if (a == b)
            continue;
        bool dup = false;
        for (unsigned k = 0; k < made && !dup; k++)
            dup = (seen[k][0] == a && seen[k][1] == b) || (seen[k][0] == b && seen[k][1] == a);
        if (dup)
            continue;
        seen[made][0] = a;
        seen[made][1] = b;
        made++;
        char q[256];
        snprintf(q, sizeof q, "%s%s%s", wstr(g, a), op, wstr(g, b));
        rc = emit(g, c, q);
    }
    qr_free(seen);
    return rc;
}

/* A run of L sampled words starting at token i: same field, consecutive positions, valid. */
static bool phrase_at(const struct gen *g, size_t i, unsigned L, uint32_t *words)
{
    if (i + L > g->ntoks)
        return false;
    const stok *t = &g->toks[i];
    for (unsigned j = 0; j < L; j++) {
        const stok *u = &t[j];
        if (u->word == NONE || u->doc != t->doc || u->field != t->field || u->pos != t->pos + j ||
            (j && !u->spaced))
            return false;
        for (unsigned k = 0; k < j; k++)
            if (g->word_term[words[k]] == g->word_term[u->word])
                return false;
        words[j] = u->word;
    }
    return true;
}

static int gen_phrases(struct gen *g, qr_qclass c, unsigned L, unsigned n, qr_rng *r)
{
    uint32_t(*seen)[3] = qr_calloc((size_t)n * 50 + 1, sizeof *seen);
    if (!seen)
        return QR_ENOMEM;
    unsigned made = 0, checked = 0;
    int rc = 0;
    for (unsigned tries = 0; made < n && tries < 2000 * n && checked < 50 * n && g->ntoks && !rc;
         tries++) {
        uint32_t w[3] = {NONE, NONE, NONE};
        if (!phrase_at(g, qr_rng_below(r, g->ntoks), L, w))
            continue;
        bool dup = false;
        for (unsigned k = 0; k < checked && !dup; k++)
            dup = !memcmp(seen[k], w, sizeof w);
        if (dup)
            continue;
        memcpy(seen[checked++], w, sizeof w);
        uint32_t terms[3];
        for (unsigned j = 0; j < L; j++)
            terms[j] = g->word_term[w[j]];
        unsigned docs;
        if ((rc = count_cooc(g, terms, L, 0, 2, &docs)))
            break;
        if (docs < 2)
            continue;
        char q[256];
        if (L == 2)
            snprintf(q, sizeof q, "\"%s %s\"", wstr(g, w[0]), wstr(g, w[1]));
        else
            snprintf(q, sizeof q, "\"%s %s %s\"", wstr(g, w[0]), wstr(g, w[1]), wstr(g, w[2]));
        rc = emit(g, c, q);
        made++;
    }
    qr_free(seen);
    return rc;
}

static int gen_near(struct gen *g, unsigned n, qr_rng *r)
{
    unsigned k = g->o->near_k ? g->o->near_k : 5;
    uint32_t(*seen)[2] = qr_calloc((size_t)n * 50 + 1, sizeof *seen);
    if (!seen)
        return QR_ENOMEM;
    unsigned made = 0, checked = 0;
    int rc = 0;
    for (unsigned tries = 0; made < n && tries < 2000 * n && checked < 50 * n && g->ntoks && !rc;
         tries++) {
        size_t i = qr_rng_below(r, g->ntoks);
        const stok *a = &g->toks[i];
        uint32_t d = k >= 2 ? 2 + (uint32_t)qr_rng_below(r, k - 1) : k;
        if (a->word == NONE)
            continue;
        size_t j = i + 1;
        while (j < g->ntoks && g->toks[j].doc == a->doc && g->toks[j].field == a->field &&
               g->toks[j].pos < a->pos + d)
            j++;
        if (j >= g->ntoks || g->toks[j].doc != a->doc || g->toks[j].field != a->field ||
            g->toks[j].pos != a->pos + d || g->toks[j].word == NONE)
            continue;
        uint32_t w[2] = {a->word, g->toks[j].word};
        if (g->word_term[w[0]] == g->word_term[w[1]])
            continue;
        bool dup = false;
        for (unsigned q = 0; q < checked && !dup; q++)
            dup = !memcmp(seen[q], w, sizeof w);
        if (dup)
            continue;
        memcpy(seen[checked++], w, sizeof w);
        uint32_t terms[2] = {g->word_term[w[0]], g->word_term[w[1]]};
        unsigned docs;
        if ((rc = count_cooc(g, terms, 2, k, 2, &docs)))
            break;
        if (docs < 2)
            continue;
        char q[256];
        snprintf(q, sizeof q, "%s NEAR/%u %s", wstr(g, w[0]), k, wstr(g, w[1]));
        rc = emit(g, QR_QC_NEAR, q);
        made++;
    }
    qr_free(seen);
    return rc;
}

static int gen_titles(struct gen *g, unsigned n, qr_rng *r)
{
    uint32_t *seen = qr_calloc(n ? n : 1, sizeof *seen);
    if (!seen)
        return QR_ENOMEM;
    unsigned made = 0;
    int rc = 0;
    for (unsigned tries = 0; made < n && tries < 200 * n && g->ndocs && !rc; tries++) {
        const sdoc *d = &g->docs[qr_rng_below(r, g->ndocs)];
        if (!d->title)
            continue;
        uint32_t w = g->toks[d->first + qr_rng_below(r, d->title)].word;
        if (w == NONE)
            continue;
        bool dup = false;
        for (unsigned k = 0; k < made && !dup; k++)
            dup = g->word_term[seen[k]] == g->word_term[w];
        if (dup)
            continue;
        seen[made++] = w;
        char q[128];
        snprintf(q, sizeof q, "title:%s", wstr(g, w));
        rc = emit(g, QR_QC_TITLE, q);
    }
    qr_free(seen);
    return rc;
}

static int gen_prefixes(struct gen *g, unsigned n, qr_rng *r)
{
    size_t np = g->npool[1], k = 0;
    char(*pre)[4] = qr_calloc(np ? np : 1, sizeof *pre);
    if (!pre)
        return QR_ENOMEM;
    for (size_t i = 0; i < np; i++) { /* the pool is sorted: equal prefixes are adjacent */
        const char *w = wstr(g, g->pool[1][i]);
        if (k && !memcmp(pre[k - 1], w, 3))
            continue;
        memcpy(pre[k], w, 3);
        pre[k++][3] = '\0';
    }
    int rc = 0;
    for (size_t i = 0; i < n && i < k && !rc; i++) {
        size_t j = i + qr_rng_below(r, k - i);
        char t[4];
        memcpy(t, pre[i], 4);
        memcpy(pre[i], pre[j], 4);
        memcpy(pre[j], t, 4);
        char q[8];
        snprintf(q, sizeof q, "%s*", pre[i]);
        rc = emit(g, QR_QC_PREFIX3, q);
    }
    qr_free(pre);
    return rc;
}

static int gen_class(struct gen *g, qr_qclass c, unsigned n)
{
    qr_rng r;
    qr_rng_seed(&r, g->o->seed ^ ((uint64_t)c + 1) * 0x9e3779b97f4a7c15ull);
    switch (c) {
    case QR_QC_HIGH_TERM:
        return gen_terms(g, c, 0, n, &r);
    case QR_QC_MED_TERM:
        return gen_terms(g, c, 1, n, &r);
    case QR_QC_LOW_TERM:
        return gen_terms(g, c, 2, n, &r);
    case QR_QC_AND_HIGH_HIGH:
        return gen_pairs(g, c, 0, 0, " ", n, &r);
    case QR_QC_AND_HIGH_MED:
        return gen_pairs(g, c, 0, 1, " ", n, &r);
    case QR_QC_AND_HIGH_LOW:
        return gen_pairs(g, c, 0, 2, " ", n, &r);
    case QR_QC_OR_HIGH_HIGH:
        return gen_pairs(g, c, 0, 0, " OR ", n, &r);
    case QR_QC_OR_HIGH_MED:
        return gen_pairs(g, c, 0, 1, " OR ", n, &r);
    case QR_QC_OR_HIGH_LOW:
        return gen_pairs(g, c, 0, 2, " OR ", n, &r);
    case QR_QC_AND_NOT:
        return gen_pairs(g, c, 0, 0, " NOT ", n, &r);
    case QR_QC_PHRASE2:
        return gen_phrases(g, c, 2, n, &r);
    case QR_QC_PHRASE3:
        return gen_phrases(g, c, 3, n, &r);
    case QR_QC_PREFIX3:
        return gen_prefixes(g, n, &r);
    case QR_QC_NEAR:
        return gen_near(g, n, &r);
    case QR_QC_TITLE:
        return gen_titles(g, n, &r);
    case QR_QC_COUNT:
        break;
    }
    return QR_EINVAL;
}

/* ---- open and close -------------------------------------------------------------- */

static int open_index(struct gen *g, qr_dir *dir)
{
    int rc = qr_manifest_load(&g->m, dir);
    if (rc) {
        set_err(g, "%s: %s", qr_dir_path(dir),
                rc == QR_ENOTFOUND ? "no index (no manifest)" : qr_strerror(rc));
        return rc;
    }
    g->have_m = true;
    g->live = qr_manifest_live_docs(&g->m);
    g->segs = qr_calloc(g->m.nsegs ? g->m.nsegs : 1, sizeof *g->segs);
    g->dels = qr_calloc(g->m.nsegs ? g->m.nsegs : 1, sizeof *g->dels);
    if (!g->segs || !g->dels)
        return QR_ENOMEM;
    for (uint32_t i = 0; i < g->m.nsegs; i++) {
        const qr_manifest_seg *ms = &g->m.segs[i];
        if ((rc = qr_segment_open(&g->segs[i], dir, ms->id, false))) {
            set_err(g, "%s: segment %016llx: %s", qr_dir_path(dir), (unsigned long long)ms->id,
                    qr_strerror(rc));
            return rc == QR_ENOTFOUND ? QR_ECORRUPT : rc;
        }
        g->nsegs = i + 1;
        rc = ms->del_gen ? qr_deletes_read(&g->dels[i], dir, ms->id, ms->del_gen,
                                           qr_segment_docs(g->segs[i]))
                         : qr_deletes_init(&g->dels[i], qr_segment_docs(g->segs[i]));
        if (rc) {
            set_err(g, "%s: deletions of segment %016llx: %s", qr_dir_path(dir),
                    (unsigned long long)ms->id, qr_strerror(rc));
            return rc == QR_ENOTFOUND ? QR_ECORRUPT : rc;
        }
    }
    if ((rc = qr_analyzer_open(&g->an, g->m.language))) {
        set_err(g, "%s: analyzer for language '%s': %s", qr_dir_path(dir), g->m.language,
                qr_strerror(rc));
        return rc == QR_EINVAL ? QR_ECORRUPT : rc;
    }
    return 0;
}

static void close_gen(struct gen *g)
{
    for (uint32_t i = 0; i < g->nsegs; i++) {
        qr_segment_close(g->segs[i]);
        qr_deletes_free(&g->dels[i]);
    }
    qr_free(g->segs);
    qr_free(g->dels);
    if (g->have_m)
        qr_manifest_free(&g->m);
    qr_analyzer_close(g->an);
    st_free(&g->words);
    st_free(&g->terms);
    qr_free(g->word_term);
    qr_free(g->word_count);
    qr_free(g->term_df);
    qr_free(g->term_word);
    qr_free(g->term_stop);
    qr_free(g->toks);
    qr_free(g->docs);
    qr_free(g->a.t);
    qr_free(g->b.t);
    qr_buf_free(&g->a.text);
    qr_buf_free(&g->b.text);
    for (int b = 0; b < 3; b++)
        qr_free(g->pool[b]);
}

int qr_qgen_run(qr_bq_list *out, qr_qgen_stats *stats, qr_dir *dir, const qr_qgen_options *opt,
                char *err, size_t errlen)
{
    qr_qgen_options o = opt ? *opt : (qr_qgen_options){0};
    qr_qgen_stats st = {0};
    struct gen g = {.o = &o, .out = out, .stats = &st, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    unsigned classes = o.classes ? o.classes : QR_QC_ALL;
    unsigned n = o.per_class ? o.per_class : 20;
    double hi = o.high ? o.high : 0.10;
    bool med = o.med_lo || o.med_hi, low = o.low_lo || o.low_hi;
    if (hi <= 0 || hi > 1 || (med && !(o.med_lo >= 0 && o.med_lo < o.med_hi)) ||
        (low && !(o.low_lo >= 0 && o.low_lo < o.low_hi)) || n > 100000) {
        set_err(&g, "bands must satisfy 0 <= lo < hi and 0 < high <= 1; at most 100000 a class");
        return QR_EINVAL;
    }
    qr_rng rng;
    qr_rng_seed(&rng, o.seed);
    int rc;
    if ((rc = open_index(&g, dir)) || (rc = sample(&g, &rng)) || (rc = term_stats(&g)))
        goto out;
    for (unsigned c = 0; c < QR_QC_COUNT && !rc; c++)
        if (classes & (1u << c)) {
            st.wanted[c] = n;
            rc = gen_class(&g, (qr_qclass)c, n);
        }
    if (rc && err && !err[0])
        set_err(&g, "generating queries: %s", qr_strerror(rc));
out:
    st.docs = g.live;
    st.sampled_docs = g.ndocs;
    st.sampled_words = g.ntoks;
    st.words = g.words.n;
    st.high = g.npool[0];
    st.med = g.npool[1];
    st.low = g.npool[2];
    if (stats)
        *stats = st;
    close_gen(&g);
    return rc;
}
