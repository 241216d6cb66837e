/*
 * The top-k collector and the ranking loop (see rank.h).
 */
#include "query/rank.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

/* Relative slack of the pruning threshold: far above rounding, far below real differences. */
#define PRUNE_EPS 1e-9

int qr_topk_init(qr_topk *t, size_t cap, const qr_doctable *const *dts)
{
    memset(t, 0, sizeof *t);
    t->dts = dts;
    t->cap = cap;
    t->threshold = -INFINITY;
    if (cap) {
        t->heap = qr_calloc(cap, sizeof *t->heap);
        if (!t->heap)
            return QR_ENOMEM;
    }
    return 0;
}

void qr_topk_free(qr_topk *t)
{
    if (!t)
        return;
    qr_free(t->heap);
    t->heap = NULL;
    t->n = t->cap = 0;
}

static int path_cmp(const qr_topk *t, const qr_hit *a, const qr_hit *b)
{
    if (a->seg == b->seg)
        return a->doc < b->doc ? -1 : a->doc > b->doc;
    qr_slice pa = qr_doctable_path(t->dts[a->seg], a->doc);
    qr_slice pb = qr_doctable_path(t->dts[b->seg], b->doc);
    size_t n = pa.n < pb.n ? pa.n : pb.n;
    int c = n ? memcmp(pa.p, pb.p, n) : 0;
    if (c)
        return c;
    return pa.n < pb.n ? -1 : pa.n > pb.n;
}

bool qr_hit_before(const qr_topk *t, const qr_hit *a, const qr_hit *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    return path_cmp(t, a, b) < 0;
}

/* Heap order: the worst hit on top. */
static void sift_down(qr_topk *t, size_t i, size_t n)
{
    qr_hit x = t->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && qr_hit_before(t, &t->heap[c], &t->heap[c + 1]))
            c++;
        if (!qr_hit_before(t, &x, &t->heap[c]))
            break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    t->heap[i] = x;
}

static void sift_up(qr_topk *t, size_t i)
{
    qr_hit x = t->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!qr_hit_before(t, &t->heap[p], &x))
            break;
        t->heap[i] = t->heap[p];
        i = p;
    }
    t->heap[i] = x;
}

static void set_threshold(qr_topk *t)
{
    double w = t->heap[0].score;
    t->threshold = w - PRUNE_EPS * fabs(w);
}

void qr_topk_offer(qr_topk *t, double score, uint32_t seg, uint32_t doc)
{
    qr_hit h = {score, seg, doc};
    if (t->n < t->cap) {
        t->heap[t->n++] = h;
        sift_up(t, t->n - 1);
        if (t->n == t->cap)
            set_threshold(t);
        return;
    }
    if (t->cap == 0 || score < t->heap[0].score || !qr_hit_before(t, &h, &t->heap[0]))
        return;
    t->heap[0] = h;
    sift_down(t, 0, t->n);
    set_threshold(t);
}

void qr_topk_sort(qr_topk *t)
{
    /* Heap sort: repeatedly move the worst hit to the end. */
    for (size_t n = t->n; n > 1; n--) {
        qr_hit w = t->heap[0];
        t->heap[0] = t->heap[n - 1];
        t->heap[n - 1] = w;
        sift_down(t, 0, n - 1);
    }
}

/*
 * The smallest tf whose bound (at the block's shortest length) reaches the
 * threshold, searched in 1..max_tf (max_tf + 1 when none does).
 */
static uint32_t tf_cutoff(double idf, uint32_t max_tf, uint32_t min_dl, double avgdl,
                          double threshold)
{
    /*
     * idf * (k1 + 1) * t / (t + norm) >= thr  <=>  t >= thr * norm / (idf * (k1 + 1) - thr):
     * a first guess from the algebra, then a step or two on the bound itself, so that the
     * answer is the bound's own (as a binary search over it would give) at a call or two.
     */
    double top = idf * (QR_K1 + 1) - threshold, guess = 1;
    if (top > 0)
        guess = ceil(threshold * qr_norm_of(min_dl, avgdl) / top);
    uint32_t t = !(top > 0) || !(guess <= max_tf) ? max_tf + 1 : guess < 1 ? 1 : (uint32_t)guess;
    while (t > 1 && qr_bm25_bound(idf, t - 1, min_dl, avgdl) >= threshold)
        t--;
    while (t <= max_tf && qr_bm25_bound(idf, t, min_dl, avgdl) < threshold)
        t++;
    return t;
}

/*
 * A lone term over every field, without deletions: the total is df, and the
 * postings are walked block by block. Once the heap is full, a block whose
 * impact bound is below the threshold is skipped without decoding its docs,
 * and inside a block a doc is scored only when its tf reaches the smallest
 * tf that could make the threshold at the block's shortest length.
 */
static int rank_term(qr_topk *top, uint64_t *total, qr_it *it, qr_evalctx *ctx, bool count_only)
{
    qr_postings_iter *p = qr_term_it_postings(it);
    double idf = qr_term_it_idf(it);
    *total += it->cost; /* df of the segment: every posting is a live match */
    if (count_only || top->cap == 0)
        return 0;
    while (p->doc != QR_DOC_END) {
        qr_block_max bm;
        if (!qr_postings_block_for(p, p->doc, &bm))
            break;
        uint32_t cutoff = 1;
        double thr = top->threshold;
        if (top->n == top->cap) {
            if (qr_bm25_bound(idf, bm.max_tf, bm.min_dl, ctx->avgdl) < thr) {
                if (qr_postings_next_block(p))
                    return p->err;
                continue;
            }
            cutoff = tf_cutoff(idf, bm.max_tf, bm.min_dl, ctx->avgdl, thr);
        }
        const uint32_t *docs, *tfs;
        uint32_t n = qr_postings_block_docs(p, &docs);
        if (n == 0)
            break;
        if (qr_postings_block_freqs(p, &tfs))
            return p->err;
        for (uint32_t i = 0; i < n; i++) {
            if (tfs[i] < cutoff)
                continue;
            if (docs[i] >= ctx->ndocs)
                return QR_ECORRUPT;
            double s = qr_bm25_norm(idf, tfs[i], qr_evalctx_norm(ctx, docs[i]));
            qr_topk_offer(top, s, ctx->segi, docs[i]);
            if (top->n == top->cap && top->threshold != thr) {
                thr = top->threshold;
                cutoff = tf_cutoff(idf, bm.max_tf, bm.min_dl, ctx->avgdl, thr);
            }
        }
        if (qr_postings_next_block(p))
            return p->err;
    }
    return p->err;
}

/* ---- flat boolean queries, a window of documents at a time ------------------------ */

#define DENSE_K 8 /* up to this many positive clauses keep their tfs per doc (dense mode) */

/* One posting of a positive clause inside the window. */
struct entry {
    uint32_t off; /* doc - window base */
    uint32_t tf;
};

/*
 * A doc of a segment as qr_rank_prefix keeps it: its length normalisation
 * (qr_evalctx_norm's, bit for bit) beside its sum so far, so that a
 * posting's two accesses are one cache line and need no "computed yet" test.
 */
struct nacc {
    double nrm;
    double acc;
};

/* A segment's table for qr_rank_prefix (nacc_get), and when a prefix last used it. */
struct ptab {
    struct nacc *na; /* by doc (NULL: not made yet) */
    uint64_t ranked; /* the scratch's `ranked` at that use */
};

/* Scratch memory of the window pass, kept by the searcher from one query to the next. */
struct qr_rank_scratch {
    uint64_t *seen;  /* docs holding some positive clause (for an AND: every one fed so far) */
    uint64_t *excl;  /* docs holding an excluded term */
    uint64_t *cand;  /* matching docs, then the ones worth scoring */
    uint32_t *cnt;   /* an AND's positive clauses fed so far that hold the doc */
    double *ub;      /* score bound per doc */
    double *acc;     /* exact score per doc, summed in query order */
    double *nrm;     /* length normalisation per doc being scored */
    double *tmp;     /* bounds of the docs to score, for picking the highest */
    uint8_t *kmask;  /* dense mode: which clauses hold the doc (bit k: clause k) */
    uint32_t *tfk;   /* dense mode: clause k's tf of doc off at tfk[k * wcap + off] */
    uint32_t wcap;   /* documents the ten arrays above have room for (tfk: DENSE_K times) */
    struct entry *e; /* the window's postings, clause after clause */
    size_t ne, cap;
    size_t *seg;      /* clause k's postings: e[seg[2k] .. seg[2k + 1]) */
    uint32_t *order;  /* the order clauses are fed in */
    double *idf;      /* each clause's idf */
    size_t nk;        /* clauses the three arrays above have room for */
    struct ptab *pd;  /* qr_rank_prefix: per segment, its docs' normalisations and sums */
    uint64_t ranked;  /* qr_rank_segment's runs (any other query's segments) so far */
    uint32_t npd;     /* segments pd has room for */
    uint32_t *bdoc;   /* qr_rank_prefix: small terms' postings batched (BATCH) ... */
    uint32_t *btf;    /* ... their tfs ... */
    double *bidf;     /* ... and their terms' idf */
};

void qr_rank_scratch_free(qr_rank_scratch *s)
{
    if (!s)
        return;
    qr_free(s->seen);
    qr_free(s->excl);
    qr_free(s->cand);
    qr_free(s->cnt);
    qr_free(s->ub);
    qr_free(s->acc);
    qr_free(s->nrm);
    qr_free(s->tmp);
    qr_free(s->kmask);
    qr_free(s->tfk);
    qr_free(s->e);
    qr_free(s->seg);
    qr_free(s->order);
    qr_free(s->idf);
    for (uint32_t i = 0; i < s->npd; i++)
        qr_free(s->pd[i].na);
    qr_free(s->pd);
    qr_free(s->bdoc);
    qr_free(s->btf);
    qr_free(s->bidf);
    qr_free(s);
}

/* The searcher's scratch with room for a window of w docs and nk clauses. */
static int scratch_get(qr_rank_scratch **slot, uint32_t w, size_t nk, qr_rank_scratch **out)
{
    qr_rank_scratch *s = *slot;
    if (!s) {
        s = qr_calloc(1, sizeof *s);
        if (!s)
            return QR_ENOMEM;
        *slot = s;
    }
    if (w > s->wcap) {
        size_t words = w / 64;
        qr_free(s->seen);
        qr_free(s->excl);
        qr_free(s->cand);
        qr_free(s->cnt);
        qr_free(s->ub);
        qr_free(s->acc);
        qr_free(s->nrm);
        qr_free(s->tmp);
        qr_free(s->kmask);
        qr_free(s->tfk);
        s->seen = qr_calloc(words, 8);
        s->excl = qr_calloc(words, 8);
        s->cand = qr_calloc(words, 8);
        s->cnt = qr_calloc(w, sizeof *s->cnt);
        s->ub = qr_calloc(w, sizeof *s->ub);
        s->acc = qr_calloc(w, sizeof *s->acc);
        s->nrm = qr_calloc(w, sizeof *s->nrm);
        s->tmp = qr_calloc(w, sizeof *s->tmp);
        s->kmask = qr_calloc(w, sizeof *s->kmask);
        s->tfk = qr_calloc((size_t)w * DENSE_K, sizeof *s->tfk);
        s->wcap = 0;
        if (!s->seen || !s->excl || !s->cand || !s->cnt || !s->ub || !s->acc || !s->nrm ||
            !s->tmp || !s->kmask || !s->tfk)
            return QR_ENOMEM;
        s->wcap = w;
    }
    if (nk > s->nk) {
        size_t *seg = qr_reallocarray(s->seg, 2 * nk, sizeof *seg);
        if (seg)
            s->seg = seg;
        uint32_t *order = qr_reallocarray(s->order, nk, sizeof *order);
        if (order)
            s->order = order;
        double *idf = qr_reallocarray(s->idf, nk, sizeof *idf);
        if (idf)
            s->idf = idf;
        if (!seg || !order || !idf)
            return QR_ENOMEM;
        s->nk = nk;
    }
    *out = s;
    return 0;
}

/* A term as the window pass reads it. */
struct src {
    qr_postings_iter *p; /* its cursor */
    double idf;
    double *tfb;     /* BM25 bound by tf (tf <= QR_TF_BOUNDS), 0 = not computed yet */
    uint32_t min_dl; /* its shortest document */
};

static inline double src_tf_bound(struct src *s, uint32_t tf, double avgdl)
{
    double v = s->tfb[tf];
    if (v == 0)
        v = s->tfb[tf] = qr_bm25_bound(s->idf, tf, s->min_dl, avgdl);
    return v;
}

/* How a clause is poured into the window. */
enum feed_mode {
    FEED_ANY,      /* OR: every posting counts */
    FEED_FIRST,    /* AND, first clause fed: marks the docs */
    FEED_NEXT,     /* AND, later clause: only docs every earlier clause holds */
    FEED_EXCLUDED, /* NOT: marks excluded docs */
};

/* Makes room for n more entries. */
static int reserve_entries(qr_rank_scratch *f, size_t n)
{
    if (f->cap - f->ne >= n)
        return 0;
    size_t cap = f->cap ? f->cap : 16384;
    while (cap - f->ne < n)
        cap *= 2;
    struct entry *e = qr_reallocarray(f->e, cap, sizeof *e);
    if (!e)
        return QR_ENOMEM;
    f->e = e;
    f->cap = cap;
    return 0;
}

/*
 * The walk every window feeder shares: win_block lends the cursor's block
 * from its current doc on (n docs, the first m of them below end; m = 0
 * when the cursor has none left below end), after seeking a cursor left
 * behind by windows skipped as empty; win_next moves past those m. Docs at
 * or beyond end (so beyond the segment's, end <= ndocs) are never lent.
 */
static int win_block(qr_postings_iter *p, uint32_t base, uint32_t end, const uint32_t **docs,
                     uint32_t *m, uint32_t *n)
{
    *m = *n = 0;
    if (p->doc < base && qr_postings_seek(p, base))
        return p->err;
    if (p->doc >= end)
        return p->err;
    uint32_t k = qr_postings_block_docs(p, docs), j = k;
    if ((*docs)[k - 1] >= end) /* doc ids increase; docs[0] = p->doc < end */
        for (j = 1; j < k && (*docs)[j] < end; j++)
            ;
    *m = j;
    *n = k;
    return 0;
}

static int win_next(qr_postings_iter *p, uint32_t m, uint32_t n, uint32_t end)
{
    if (m == n ? qr_postings_next_block(p) : qr_postings_seek(p, end))
        return p->err;
    return 0;
}

/*
 * Feeds the postings of a clause with doc < end into the window starting at
 * base, leaving its cursor on its first doc >= end. `rank` is how many
 * clauses of an AND were fed before this one. Positive clauses mark (and,
 * in an AND, count) the doc, add their bound (BM25 at the posting's tf,
 * capped by its block's impact bound) and, when scoring, record the
 * posting.
 */
static int feed(qr_rank_scratch *f, struct src *src, enum feed_mode mode, uint32_t rank,
                bool scoring, int dense, uint32_t base, uint32_t end, qr_evalctx *ctx)
{
    qr_postings_iter *p = src->p;
    int rc;
    for (;;) {
        const uint32_t *docs, *tfs = NULL;
        uint32_t m, n;
        if ((rc = win_block(p, base, end, &docs, &m, &n)) || !m)
            return rc;
        if (mode == FEED_EXCLUDED) {
            for (uint32_t i = 0; i < m; i++) {
                uint32_t off = docs[i] - base;
                f->excl[off >> 6] |= 1ull << (off & 63);
            }
        } else if (!scoring) {
            for (uint32_t i = 0; i < m; i++) {
                uint32_t off = docs[i] - base;
                uint64_t bit = 1ull << (off & 63);
                if (mode == FEED_ANY) {
                    f->seen[off >> 6] |= bit;
                } else if (mode == FEED_FIRST) {
                    f->seen[off >> 6] |= bit;
                    f->cnt[off] = 1;
                } else if ((f->seen[off >> 6] & bit) && f->cnt[off] == rank) {
                    f->cnt[off]++;
                }
            }
        } else {
            qr_block_max bm;
            double bb = 0;
            if (qr_postings_block_freqs(p, &tfs))
                return p->err;
            if (qr_postings_block_for(p, p->doc, &bm))
                bb = qr_bm25_bound(src->idf, bm.max_tf, bm.min_dl, ctx->avgdl);
            if (dense < 0 && (rc = reserve_entries(f, m)))
                return rc;
            struct entry *e = f->e ? f->e + f->ne : NULL; /* no entries on the dense path */
            uint32_t *tfk = dense >= 0 ? f->tfk + (size_t)dense * f->wcap : NULL;
            uint8_t kbit = dense >= 0 ? (uint8_t)(1u << dense) : 0;
            /*
             * FEED_ANY finds cnt, ub and kmask cleared over the window (rank_flat):
             * a first-seen test would be a branch mispredicted about every other
             * posting of an OR, dearer than the posting.
             */
            for (uint32_t i = 0; i < m; i++) {
                uint32_t off = docs[i] - base;
                uint64_t bit = 1ull << (off & 63);
                if (mode == FEED_NEXT) {
                    if (!(f->seen[off >> 6] & bit) || f->cnt[off] != rank)
                        continue;
                    f->cnt[off]++;
                } else if (mode == FEED_ANY) { /* an OR's matches are read off seen, not cnt */
                    f->seen[off >> 6] |= bit;
                } else { /* FEED_FIRST: every doc is new */
                    f->seen[off >> 6] |= bit;
                    f->cnt[off] = 1;
                    f->ub[off] = 0;
                    f->kmask[off] = 0;
                }
                double b = bb;
                if (tfs[i] <= QR_TF_BOUNDS) {
                    double t = src_tf_bound(src, tfs[i], ctx->avgdl);
                    b = t < bb ? t : bb;
                }
                f->ub[off] += b;
                if (tfk) {
                    f->kmask[off] |= kbit;
                    tfk[off] = tfs[i];
                } else {
                    e->off = off;
                    e->tf = tfs[i];
                    e++;
                }
            }
            if (!tfk)
                f->ne = (size_t)(e - f->e);
        }
        if ((rc = win_next(p, m, n, end)))
            return rc;
    }
}

/*
 * An AND's positive clause k in dense mode: marks bit k of each doc's kmask
 * (cleared over the window by rank_flat) and, when scoring, keeps its tf.
 * No test per posting: which docs hold every clause is read off kmask
 * afterwards (and_matches), and bounds are taken only for those.
 */
static int feed_mask(qr_rank_scratch *f, qr_postings_iter *p, uint32_t k, bool scoring,
                     uint32_t base, uint32_t end)
{
    uint8_t kbit = (uint8_t)(1u << k);
    uint32_t *tfk = f->tfk + (size_t)k * f->wcap;
    for (;;) {
        const uint32_t *docs, *tfs;
        uint32_t m, n;
        int rc = win_block(p, base, end, &docs, &m, &n);
        if (rc || !m)
            return rc;
        if (scoring) {
            if (qr_postings_block_freqs(p, &tfs))
                return p->err;
            for (uint32_t i = 0; i < m; i++) {
                uint32_t off = docs[i] - base;
                f->kmask[off] |= kbit;
                tfk[off] = tfs[i];
            }
        } else {
            for (uint32_t i = 0; i < m; i++)
                f->kmask[docs[i] - base] |= kbit;
        }
        if ((rc = win_next(p, m, n, end)))
            return rc;
    }
}

/* A portable population count (no -mpopcnt needed). */
static inline unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/*
 * The window's matches (any clause for an OR, all npos for an AND; none
 * excluded or deleted) into f->cand; returns how many.
 */
static uint64_t window_matches(qr_rank_scratch *f, uint32_t words, uint32_t base, bool is_or,
                               size_t npos, const qr_evalctx *ctx)
{
    uint64_t n = 0;
    for (uint32_t w = 0; w < words; w++) {
        uint64_t m = f->seen[w] & ~f->excl[w];
        if (ctx->del)
            m &= ~ctx->del->bits[(base >> 6) + w];
        if (!is_or) {
            for (uint64_t x = m; x; x &= x - 1) {
                uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
                if (f->cnt[off] != npos)
                    m &= ~(1ull << (off & 63));
            }
        }
        f->cand[w] = m;
        n += popcount64(m);
    }
    return n;
}

/*
 * A dense AND's matches (kmask holding every clause; none excluded or
 * deleted) into f->cand; returns how many. When scoring, each match's
 * bound (the sum of its clauses' bounds at their tfs) goes to f->ub.
 */
static uint64_t and_matches(qr_rank_scratch *f, uint32_t words, uint32_t base, uint32_t end,
                            struct src *srcs, size_t npos, bool scoring, const qr_evalctx *ctx)
{
    uint8_t full = (uint8_t)((1u << npos) - 1);
    uint64_t n = 0;
    for (uint32_t w = 0; w < words; w++) {
        uint32_t lo = w * 64, hi = end - base - lo < 64 ? end - base - lo : 64;
        uint64_t m = 0;
        for (uint32_t i = 0; i < hi; i++)
            m |= (uint64_t)(f->kmask[lo + i] == full) << i;
        m &= ~f->excl[w];
        if (ctx->del)
            m &= ~ctx->del->bits[(base >> 6) + w];
        f->cand[w] = m;
        n += popcount64(m);
        if (!scoring)
            continue;
        for (uint64_t x = m; x; x &= x - 1) {
            uint32_t off = lo + (uint32_t)__builtin_ctzll(x);
            double ub = 0;
            for (size_t k = 0; k < npos; k++) {
                uint32_t tf = f->tfk[k * f->wcap + off];
                ub += tf <= QR_TF_BOUNDS
                          ? src_tf_bound(&srcs[k], tf, ctx->avgdl)
                          : qr_bm25_bound(srcs[k].idf, tf, srcs[k].min_dl, ctx->avgdl);
            }
            f->ub[off] = ub;
        }
    }
    return n;
}

/* Exact scores of the docs of mask, summed clause by clause in query order; offered to top. */
static void score_mask(qr_rank_scratch *f, const uint64_t *mask, uint32_t words, uint32_t base,
                       size_t nk, qr_topk *top, qr_evalctx *ctx)
{
    bool any = false;
    for (uint32_t w = 0; w < words; w++) {
        for (uint64_t x = mask[w]; x; x &= x - 1) {
            uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
            f->acc[off] = 0;
            f->nrm[off] = qr_evalctx_norm(ctx, base + off);
            any = true;
        }
    }
    if (!any)
        return;
    for (size_t k = 0; k < nk; k++) {
        double idf = f->idf[k];
        for (size_t i = f->seg[2 * k]; i < f->seg[2 * k + 1]; i++) {
            const struct entry *e = &f->e[i];
            if (mask[e->off >> 6] >> (e->off & 63) & 1)
                f->acc[e->off] += qr_bm25_norm(idf, e->tf, f->nrm[e->off]);
        }
    }
    for (uint32_t w = 0; w < words; w++) {
        for (uint64_t x = mask[w]; x; x &= x - 1) {
            uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
            qr_topk_offer(top, f->acc[off], ctx->segi, base + off);
        }
    }
}

/* The k-th largest of v[0..n) (1 <= k <= n); reorders v. */
static double kth_largest(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot)
                i++;
            while (v[j] < pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    return v[want];
}

/*
 * Scores the matches whose bound reaches the threshold. In dense mode in one
 * pass; from recorded postings (each pass reads them all) when the heap is
 * not full yet and many docs qualify, the ones with the highest bounds are
 * scored first: the threshold they set usually spares the rest.
 */
static void window_score(qr_rank_scratch *f, uint32_t words, uint32_t base, size_t nk, bool dense,
                         qr_topk *top, qr_evalctx *ctx)
{
    if (dense) {
        /* Scoring a doc is cheap here: one pass, the threshold rising as hits come in. */
        for (uint32_t w = 0; w < words; w++) {
            for (uint64_t x = f->cand[w]; x; x &= x - 1) {
                uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
                if (top->n == top->cap && f->ub[off] < top->threshold)
                    continue;
                double norm = qr_evalctx_norm(ctx, base + off), sc = 0;
                uint8_t km = f->kmask[off];
                for (size_t k = 0; k < nk; k++)
                    if (km >> k & 1)
                        sc += qr_bm25_norm(f->idf[k], f->tfk[k * f->wcap + off], norm);
                qr_topk_offer(top, sc, ctx->segi, base + off);
            }
        }
        return;
    }
    double thr = top->n == top->cap ? top->threshold : -INFINITY;
    size_t nc = 0;
    for (uint32_t w = 0; w < words; w++) {
        for (uint64_t x = f->cand[w]; x; x &= x - 1) {
            uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
            if (f->ub[off] < thr)
                f->cand[w] &= ~(1ull << (off & 63));
            else
                f->tmp[nc++] = f->ub[off];
        }
    }
    size_t first = 2 * top->cap + 32;
    if (top->n == top->cap || nc <= 2 * first) {
        score_mask(f, f->cand, words, base, nk, top, ctx);
        return;
    }
    double u = kth_largest(f->tmp, nc, first);
    uint64_t *round = f->excl; /* free once the matches are known */
    for (uint32_t w = 0; w < words; w++) {
        round[w] = 0;
        for (uint64_t x = f->cand[w]; x; x &= x - 1) {
            uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
            if (f->ub[off] >= u)
                round[w] |= 1ull << (off & 63);
        }
        f->cand[w] &= ~round[w];
    }
    score_mask(f, round, words, base, nk, top, ctx);
    thr = top->n == top->cap ? top->threshold : -INFINITY;
    for (uint32_t w = 0; w < words; w++) {
        for (uint64_t x = f->cand[w]; x; x &= x - 1) {
            uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
            if (f->ub[off] < thr)
                f->cand[w] &= ~(1ull << (off & 63));
        }
    }
    score_mask(f, f->cand, words, base, nk, top, ctx);
}

/* A clause's cost and place, to feed an AND's clauses rarest first. */
struct by_cost {
    uint64_t cost;
    uint32_t k;
};

static int by_cost_cmp(const void *a, const void *b)
{
    const struct by_cost *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/*
 * An OR of terms, or an AND of terms minus terms, a window of ctx->flat_w docs
 * at a time: each clause's postings are poured into the window (an AND's
 * from the rarest on, each keeping only the docs all earlier ones hold):
 * bitmaps, per-doc clause counts and per-doc score bounds. The matches are
 * counted off the bitmaps; only those whose bound reaches the threshold get
 * their exact score, summed clause by clause in query order from the
 * recorded postings, exactly as the iterators would sum it.
 */
static int rank_flat(qr_topk *top, uint64_t *total, const qr_it_flat_view *v, qr_evalctx *ctx,
                     bool count_only)
{
    bool scoring = !count_only && top->cap > 0;
    bool dense = v->npos <= DENSE_K;
    bool mask_and = dense && !v->is_or; /* see feed_mask */
    struct src srcs[DENSE_K];
    qr_rank_scratch *f;
    uint32_t W = ctx->flat_w;
    int rc = scratch_get(ctx->scratch, W, v->npos, &f);
    if (rc)
        return rc;
    for (size_t k = 0; k < v->npos; k++) {
        f->idf[k] = qr_term_it_idf(v->pos[k]);
        f->order[k] = (uint32_t)k;
    }
    if (!v->is_or) {
        /* rarest first, stable */
        struct by_cost *by = qr_calloc(v->npos, sizeof *by);
        if (!by)
            return QR_ENOMEM;
        for (size_t k = 0; k < v->npos; k++) {
            by[k].cost = v->pos[k]->cost;
            by[k].k = (uint32_t)k;
        }
        qsort(by, v->npos, sizeof *by, by_cost_cmp);
        for (size_t r = 0; r < v->npos; r++)
            f->order[r] = by[r].k;
        qr_free(by);
    }
    uint64_t n = 0;
    for (uint32_t base = 0; base < ctx->ndocs && !rc; base += W) {
        uint32_t end = ctx->ndocs - base < W ? ctx->ndocs : base + W;
        uint32_t words = (end - base + 63) / 64;
        /* Done when no clause has a doc left (OR), or one has none (AND). */
        uint32_t next = QR_DOC_END, last = 0;
        for (size_t k = 0; k < v->npos; k++) {
            uint32_t d = qr_term_it_postings(v->pos[k])->doc;
            next = d < next ? d : next;
            last = d > last ? d : last;
        }
        uint32_t first = v->is_or ? next : last;
        if (first == QR_DOC_END)
            break;
        if (first >= end)
            continue; /* nothing can match in this window */
        memset(f->seen, 0, words * 8);
        memset(f->excl, 0, words * 8);
        if (mask_and) {
            memset(f->kmask, 0, (size_t)(end - base) * sizeof *f->kmask);
            for (size_t r = 0; r < v->npos && !rc; r++) {
                uint32_t k = f->order[r];
                qr_term_it_src(v->pos[k], &srcs[k].p, &srcs[k].idf, &srcs[k].tfb, &srcs[k].min_dl);
                rc = feed_mask(f, srcs[k].p, k, scoring, base, end);
            }
        } else {
            if (scoring && v->is_or) { /* feed()'s FEED_ANY adds to these, no first-seen test */
                memset(f->ub, 0, (size_t)(end - base) * sizeof *f->ub);
                if (dense)
                    memset(f->kmask, 0, (size_t)(end - base) * sizeof *f->kmask);
            }
            f->ne = 0;
            for (size_t r = 0; r < v->npos && !rc; r++) {
                uint32_t k = f->order[r];
                enum feed_mode mode = v->is_or ? FEED_ANY : r == 0 ? FEED_FIRST : FEED_NEXT;
                struct src s;
                qr_term_it_src(v->pos[k], &s.p, &s.idf, &s.tfb, &s.min_dl);
                f->seg[2 * k] = f->ne;
                rc = feed(f, &s, mode, (uint32_t)r, scoring, dense ? (int)k : -1, base, end, ctx);
                f->seg[2 * k + 1] = f->ne;
            }
        }
        for (size_t k = 0; k < v->nneg && !rc; k++) {
            struct src s;
            qr_term_it_src(v->neg[k], &s.p, &s.idf, &s.tfb, &s.min_dl);
            rc = feed(f, &s, FEED_EXCLUDED, 0, false, -1, base, end, ctx);
        }
        if (rc)
            break;
        n += mask_and ? and_matches(f, words, base, end, srcs, v->npos, scoring, ctx)
                      : window_matches(f, words, base, v->is_or, v->npos, ctx);
        if (scoring)
            window_score(f, words, base, v->npos, dense, top, ctx);
    }
    *total += n;
    return rc;
}

/* Is a window pass cheaper than leapfrogging from the rarest clause? */
static bool flat_pays(const qr_it_flat_view *v)
{
    if (v->is_or)
        return true;
    uint64_t min = UINT64_MAX, sum = 0;
    for (size_t k = 0; k < v->npos; k++) {
        uint64_t c = v->pos[k]->cost;
        min = c < min ? c : min;
        sum += c;
    }
    for (size_t k = 0; k < v->nneg; k++)
        sum += v->neg[k]->cost / 4; /* excluded postings only set bits */
    return sum < 10 * min * v->npos;
}

/*
 * The table of ctx's segment in f (its segment index names the same segment
 * for the scratch's life: the searcher's), made and filled with every doc's
 * normalisation on the segment's first scored prefix (measured:
 * enwiki Prefix3 one segment, the slowest query 213 -> 198-205 us, the class
 * median 57.0 -> 55.2 us, against the lazily filled doc_norm beside a
 * separate sum array); the normalisations stay valid for the searcher's life
 * (avgdl is fixed). Every sum is +0.0 between queries (calloc's, and
 * qr_rank_prefix puts back +0.0 wherever it added, the hits of each window,
 * as it reads them or when it fails), so that a doc's first term adds to
 * +0.0 (0 + s is s, the same double) without testing whether the doc was hit
 * before. *cold: the table was made before, and some other query's segment
 * was ranked since its last use (see SWEEP_POSTINGS).
 */
static int nacc_get(qr_rank_scratch *f, qr_evalctx *ctx, struct nacc **out, bool *cold)
{
    uint32_t segi = ctx->segi;
    if (segi >= f->npd) {
        uint32_t n = segi + 1;
        struct ptab *pd = qr_reallocarray(f->pd, n, sizeof *pd);
        if (!pd)
            return QR_ENOMEM;
        memset(pd + f->npd, 0, (n - f->npd) * sizeof *pd);
        f->pd = pd;
        f->npd = n;
    }
    struct ptab *pt = &f->pd[segi];
    *cold = pt->na && pt->ranked != f->ranked;
    if (!pt->na) {
        struct nacc *t = qr_calloc(ctx->ndocs ? ctx->ndocs : 1, sizeof *t);
        if (!t)
            return QR_ENOMEM;
        for (uint32_t d = 0; d < ctx->ndocs; d++)
            t[d].nrm = qr_evalctx_norm(ctx, d);
        pt->na = t;
    }
    pt->ranked = f->ranked;
    *out = pt->na;
    return 0;
}

/*
 * How many postings ahead add_batch asks for a doc's sum and normalisation
 * (a prefetch): small terms' docs are scattered over the segment's table,
 * which the queries between two prefixes push out of the caches (measured,
 * enwiki 260 queries, one segment, 5 interleaved rounds: sha*, the first
 * large prefix after the other classes, 150.7 -> 141.9 us, the rest within
 * 1%; 16 ahead: 145.8). Not in add_postings: a big term's docs ascend, and
 * the same prefetch there took warm queries 5-7% longer (res* 140 -> 147-149
 * us) for a cold sha* of 133-140.
 */
#define PREFETCH_AHEAD 32

/*
 * A prefix whose segment table was last used before some other query ran
 * (a qr_rank_segment since: the table is likely out of the caches) and
 * whose expansion holds at least one posting per SWEEP_POSTINGS docs of the
 * segment (most of the table's lines will be read) asks for the window's
 * whole table first, line after line: a sweep the memory streams, instead
 * of misses one posting at a time (measured, enwiki 260 queries, 5
 * interleaved rounds: sha*, the first large prefix after the other classes,
 * one segment 136.8 -> 113.9 us, two 168.9 -> 144.8; the other prefixes,
 * which find the table warm and do not sweep, within 1-2%; a sweep of every
 * prefix cost the warm ones 2-3%, one per 4 or 2 docs: sha* 120.5, 127.2).
 */
#define SWEEP_POSTINGS 8
/* Windows of at most this many docs are swept (half a MiB of table; larger ones unmeasured). */
#define SWEEP_MAX_DOCS 32768

/* Two doubles, for two postings' divisions in one (GCC/clang vector extension). */
typedef double v2d __attribute__((vector_size(16)));
typedef int32_t v2i __attribute__((vector_size(8)));

/*
 * t[0] and t[1] as doubles, exactly as (double)t[i]: one packed conversion
 * of signed ints (each tf - 2^31, exact) and one addition of 2^31 (exact:
 * integers below 2^53), fewer instructions than two scalar conversions of
 * zero-extended ints (with the local worst of window_hits, measured: enwiki
 * Prefix3 alone, 5 interleaved rounds, each query 2-4% faster, res* 136.4
 * -> 132.4 us).
 */
static inline v2d tf_pair(const uint32_t *t)
{
    v2i u;
    memcpy(&u, t, sizeof u);
    u ^= (v2i){INT32_MIN, INT32_MIN};
    return __builtin_convertvector(u, v2d) + (v2d){2147483648.0, 2147483648.0};
}

/*
 * Marks docs[0..m) (all in the window at base) in hit and, when scoring,
 * adds each one's BM25 at its tf (tfs aligned) to its sum: the term's exact
 * contribution, so each sum is built in the order terms are fed. A byte per
 * doc rather than a bit: setting a bit is a load, an or and a store that the
 * next posting, in the same word, must wait for; a byte is a store. A doc's
 * first term adds to the +0.0 left in its sum (see nacc_get), so a
 * posting reads no hit byte. hit is the scratch's kmask
 * (rank_flat clears it for its own use), its bytes 0 or 1; na is the
 * segment's table, by doc. Postings go two at a time, their two scores
 * computed in one vector (one division instruction for two: the division
 * is most of a posting's cost); IEEE rounds each lane exactly as the scalar
 * qr_bm25_norm's operations, in the same order, so every score is the same
 * double (measured: enwiki Prefix3 one segment, CPU time of 200 repeats,
 * median of six interleaved runs 463 -> 435 ms).
 */
static inline void add_postings(uint8_t *restrict hit, struct nacc *restrict na,
                                const uint32_t *docs, const uint32_t *tfs, uint32_t m, double idf,
                                bool scoring, uint32_t base)
{
    if (!scoring) {
        for (uint32_t i = 0; i < m; i++)
            hit[docs[i] - base] = 1;
        return;
    }
    uint32_t i = 0;
    for (; i + 2 <= m; i += 2) {
        /* two postings' scores at once: each lane rounds as qr_bm25_norm's scalar ops */
        uint32_t d0 = docs[i], d1 = docs[i + 1];
        struct nacc *x0 = &na[d0], *x1 = &na[d1]; /* distinct: a term's docs increase */
        v2d tf = tf_pair(tfs + i);
        v2d nr = {x0->nrm, x1->nrm};
        v2d vi = {idf, idf}, k = {QR_K1 + 1, QR_K1 + 1};
        v2d s = vi * tf * k / (tf + nr);
        x0->acc += s[0];
        x1->acc += s[1];
        hit[d0 - base] = 1;
        hit[d1 - base] = 1;
    }
    for (; i < m; i++) {
        uint32_t doc = docs[i], off = doc - base;
        struct nacc *x = &na[doc];
        double s = qr_bm25_norm(idf, tfs[i], x->nrm);
        x->acc += s;
        hit[off] = 1;
    }
}

/* The docs of 64 hit bytes (each 0 or 1) as the bits of a word, doc i at bit i. */
static inline uint64_t hit_word(const uint8_t *hit)
{
    uint64_t w = 0;
    for (unsigned j = 0; j < 8; j++) {
        uint64_t v = qr_load_u64(hit + 8 * j);
        if (v) /* byte i to bit 56 + i, then down to bit 8j + i */
            w |= (v * 0x0102040810204080ull) >> 56 << (8 * j);
    }
    return w;
}

/* Pours one term's postings with doc < end into the window at base (add_postings). */
static int accumulate(qr_rank_scratch *f, struct nacc *na, qr_postings_iter *p, double idf,
                      bool scoring, uint32_t base, uint32_t end)
{
    for (;;) {
        const uint32_t *docs, *tfs = NULL;
        uint32_t m, n;
        int rc = win_block(p, base, end, &docs, &m, &n);
        if (rc || !m)
            return rc;
        if (scoring && qr_postings_block_freqs(p, &tfs))
            return p->err;
        add_postings(f->kmask, na, docs, tfs, m, idf, scoring, base);
        if ((rc = win_next(p, m, n, end)))
            return rc;
    }
}

/* Postings of small terms gathered before they are poured (a multiple of QR_BLOCK). */
#define BATCH (16 * QR_BLOCK)

/*
 * add_postings for a batch of postings of successive terms, each posting
 * with its own term's idf (idfs aligned). Two postings' scores still go in
 * one vector, each lane rounding as qr_bm25_norm, but the two may be one
 * doc (two terms): the first is added, and its hit byte set, before the
 * second is read, so each sum is built in the terms' order as before.
 */
static inline void add_batch(uint8_t *restrict hit, struct nacc *restrict na, const uint32_t *docs,
                             const uint32_t *tfs, const double *idfs, uint32_t m, bool scoring,
                             uint32_t base)
{
    if (!scoring) {
        for (uint32_t i = 0; i < m; i++)
            hit[docs[i] - base] = 1;
        return;
    }
    uint32_t i = 0;
    for (; i + 2 <= m; i += 2) {
        uint32_t d0 = docs[i], d1 = docs[i + 1];
        if (i + PREFETCH_AHEAD + 2 <= m) {
            __builtin_prefetch(&na[docs[i + PREFETCH_AHEAD]], 1);
            __builtin_prefetch(&na[docs[i + PREFETCH_AHEAD + 1]], 1);
        }
        v2d tf = tf_pair(tfs + i);
        v2d nr = {na[d0].nrm, na[d1].nrm};
        v2d vi = {idfs[i], idfs[i + 1]}, k = {QR_K1 + 1, QR_K1 + 1};
        v2d s = vi * tf * k / (tf + nr);
        na[d0].acc += s[0];
        hit[d0 - base] = 1;
        na[d1].acc += s[1];
        hit[d1 - base] = 1;
    }
    for (; i < m; i++) {
        uint32_t doc = docs[i], off = doc - base;
        struct nacc *x = &na[doc];
        double s = qr_bm25_norm(idfs[i], tfs[i], x->nrm);
        x->acc += s;
        hit[off] = 1;
    }
}

/*
 * Terms of at most QR_BLOCK docs (most of an expansion): each one's doc
 * stream decoded at once without an iterator (qr_postings_decode_small:
 * the iterator's docs, tfs and checks) onto the end of the batch (*nb
 * postings so far, room for QR_BLOCK more), with docs before base or at or
 * beyond end (the window; the segment's end) left out, as win_block leaves
 * them.
 */
static int batch_small(qr_rank_scratch *f, uint32_t *nb, const qr_term_meta *meta, double idf,
                       uint32_t base, uint32_t end, qr_slice ds, qr_slice ps, uint32_t ndocs)
{
    if (meta->df > ndocs) /* as qr_segment_postings refuses it */
        return QR_ECORRUPT;
    uint32_t *docs = f->bdoc + *nb, *tfs = f->btf + *nb;
    int rc = qr_postings_decode_small(docs, tfs, ds, ps, meta);
    if (rc)
        return rc;
    uint32_t lo = 0, hi = meta->df;
    if (base > 0)
        while (lo < hi && docs[lo] < base)
            lo++;
    while (hi > lo && docs[hi - 1] >= end)
        hi--;
    if (lo > 0) {
        memmove(docs, docs + lo, (hi - lo) * sizeof *docs);
        memmove(tfs, tfs + lo, (hi - lo) * sizeof *tfs);
    }
    double *idfs = f->bidf + *nb;
    for (uint32_t i = 0; i < hi - lo; i += 4) { /* four at a time: the batch has room for 128 */
        idfs[i] = idfs[i + 1] = idf;
        idfs[i + 2] = idfs[i + 3] = idf;
    }
    *nb += hi - lo;
    return 0;
}

/*
 * The end of a prefix's window at base (words hit words of 64 docs): when
 * offering, its live hits counted and offered (their sums read), and the
 * count returned; when scoring (na), every hit's sum, deleted ones' too, put
 * back to +0.0 (nacc_get), also after a failure (offering false: then the
 * sums are only cleared).
 */
static uint64_t window_hits(qr_topk *top, const uint8_t *hit, struct nacc *na, qr_evalctx *ctx,
                            uint32_t base, uint32_t words, bool offering)
{
    uint64_t n = 0;
    /* the heap's own quick reject, without the call: below its worst once full */
    double worst = top->cap && top->n == top->cap ? top->heap[0].score : -INFINITY;
    for (uint32_t wd = 0; wd < words; wd++) {
        uint64_t all = hit_word(hit + (size_t)wd * 64), m = all;
        if (ctx->del)
            m &= ~ctx->del->bits[(base >> 6) + wd];
        if (!offering)
            m = 0;
        n += popcount64(m);
        if (!na)
            continue;
        struct nacc *x = na + base + (size_t)wd * 64;
        for (uint64_t z = all & ~m; z; z &= z - 1) /* deleted, or not offered */
            x[__builtin_ctzll(z)].acc = 0;
        for (; m; m &= m - 1) {
            unsigned b = (unsigned)__builtin_ctzll(m);
            double sc = x[b].acc;
            x[b].acc = 0;
            if (sc < worst)
                continue;
            qr_topk_offer(top, sc, ctx->segi, base + wd * 64 + b);
            if (top->n == top->cap)
                worst = top->heap[0].score;
        }
    }
    return n;
}

/*
 * A prefix over every field: an OR of its expansion, which may hold
 * thousands of terms, most of them rare. No iterator per term: the terms
 * are opened one after the other on one reused cursor (or, for terms of at
 * most QR_BLOCK docs, decoded at once onto a batch of up to BATCH postings,
 * poured before the next big term's and at the end: no call per small term
 * to pour it, and a single-doc term's score shares a vector division with
 * the next posting's; enwiki sha*, instructions a query 1.18M -> 1.15M,
 * 8 segments 1.85M -> 1.78M) and accumulated term at a time into
 * windows of up to ctx->wide_w docs, each doc's score summed in the
 * expansion's order exactly as the OR of the terms sums it. Every match is
 * scored (pruning could not skip the postings the exact total needs
 * anyway); the heap's quick reject keeps offering cheap.
 *
 * Bound-based pruning was tried and measured slower (enwiki Prefix3, 8
 * segments, per-query median): the expansions hold ~10k postings a query,
 * scored here at ~5 ns each, and any pruned form must first keep each
 * doc's bound over all its terms (a second array written per posting, or
 * the postings gathered and grouped by doc), which costs as much per
 * posting as the score it saves even when only ~5% of the docs are then
 * scored: 150 us exhaustive, 181-214 us pruned, 98 us counting alone (the
 * floor: opening each term's postings and the expansion itself). That floor
 * was mostly per term: decoding tail-only terms at once instead of opening
 * an iterator, hit bytes instead of bits, and a cheaper expansion took the
 * same measure to 116-119 us (one segment: 72 -> 57 us).
 *
 * The sums are kept at +0.0 between windows (nacc_get): a posting adds to
 * its doc's sum without reading its hit byte, and window_hits puts +0.0
 * back as it reads each hit (measured, enwiki Prefix3 alone round-robin,
 * interleaved, 7 rounds: one segment median 47.8 -> 45.9 us, p99 188 ->
 * 175; two segments 60.3 -> 59.4, p99 218 -> 208).
 */
int qr_rank_prefix(qr_topk *top, uint64_t *total, const qr_termdict_ent *terms, const double *idf,
                   size_t nterms, qr_evalctx *ctx, bool count_only)
{
    bool scoring = !count_only && top->cap > 0;
    uint32_t w = ctx->ndocs < ctx->wide_w ? (ctx->ndocs + 63) / 64 * 64 : ctx->wide_w;
    qr_rank_scratch *f;
    struct nacc *na = NULL;
    bool cold = false;
    int rc = scratch_get(ctx->scratch, w ? w : 64, 1, &f);
    if (!rc && scoring)
        rc = nacc_get(f, ctx, &na, &cold);
    if (rc)
        return rc;
    if (!f->bdoc) {
        f->bdoc = qr_malloc(BATCH * sizeof *f->bdoc);
        f->btf = qr_malloc(BATCH * sizeof *f->btf);
        f->bidf = qr_malloc(BATCH * sizeof *f->bidf);
        if (!f->bdoc || !f->btf || !f->bidf) {
            qr_free(f->bdoc);
            qr_free(f->btf);
            qr_free(f->bidf);
            f->bdoc = f->btf = NULL;
            f->bidf = NULL;
            return QR_ENOMEM;
        }
    }
    qr_slice ds = qr_segment_doc_stream(ctx->seg), ps = qr_segment_pos_stream(ctx->seg);
    qr_postings_iter *cur = NULL;
    uint64_t n = 0;
    uint64_t posts = 0; /* the expansion's postings here, when the table is likely cold */
    for (size_t k = 0; cold && k < nterms; k++)
        posts += terms[k].meta.df;
    for (uint32_t base = 0; base < ctx->ndocs && !rc; base += w) {
        uint32_t end = ctx->ndocs - base < w ? ctx->ndocs : base + w;
        uint32_t words = (end - base + 63) / 64;
        if (cold && posts * SWEEP_POSTINGS >= ctx->ndocs && end - base <= SWEEP_MAX_DOCS)
            for (uint32_t d = base; d < end; d += 64 / sizeof *na) /* line after line */
                __builtin_prefetch(&na[d], 0, 3);
        memset(f->kmask, 0, (size_t)words * 64); /* w, a multiple of 64, <= wcap */
        uint32_t nb = 0; /* postings batched: poured before a big term's and at the end */
        for (size_t k = 0; k < nterms && !rc; k++) {
            const qr_term_meta *meta = &terms[k].meta;
            if (meta->df == 0)
                continue; /* no postings here: absent, as a term query takes it */
            if (meta->df <= QR_BLOCK) {
                if (nb > BATCH - QR_BLOCK) {
                    add_batch(f->kmask, na, f->bdoc, f->btf, f->bidf, nb, scoring, base);
                    nb = 0;
                }
                rc = batch_small(f, &nb, meta, idf[k], base, end, ds, ps, ctx->ndocs);
                continue;
            }
            add_batch(f->kmask, na, f->bdoc, f->btf, f->bidf, nb, scoring, base);
            nb = 0;
            if (!cur && !(cur = qr_malloc(sizeof *cur))) {
                rc = QR_ENOMEM;
                break;
            }
            if (!(rc = qr_segment_postings(ctx->seg, meta, cur)))
                rc = accumulate(f, na, cur, idf[k], scoring, base, end);
            qr_postings_iter_free(cur);
        }
        if (!rc)
            add_batch(f->kmask, na, f->bdoc, f->btf, f->bidf, nb, scoring, base);
        n += window_hits(top, f->kmask, na, ctx, base, words, !rc);
    }
    qr_free(cur);
    *total += n;
    return rc;
}

int qr_rank_segment(qr_topk *top, uint64_t *total, qr_it *root, qr_evalctx *ctx, bool count_only)
{
    int rc = 0;
    if (ctx->scratch && *ctx->scratch)
        (*ctx->scratch)->ranked++;
    if (!root)
        return 0;
    if (!ctx->del && qr_it_is_plain_term(root))
        return rank_term(top, total, root, ctx, count_only);
    qr_it_flat_view flat;
    if (qr_it_flat(root, &flat) && flat_pays(&flat))
        return rank_flat(top, total, &flat, ctx, count_only);
    bool scoring = !count_only && top->cap > 0;
    uint64_t n = 0;
    while (root->doc != QR_DOC_END) {
        uint32_t d = root->doc;
        if (ctx->del && qr_deletes_has(ctx->del, d))
            goto next;
        if (!root->exact) {
            bool m;
            if ((rc = qr_it_match(root, &m)))
                return rc;
            if (!m)
                goto next;
        }
        n++;
        if (scoring) {
            if (top->n == top->cap &&
                (root->max_score < top->threshold || qr_it_bound(root) < top->threshold))
                goto next;
            qr_topk_offer(top, qr_it_score(root), ctx->segi, d);
        }
    next:
        if ((rc = qr_it_next(root)))
            return rc;
    }
    *total += n;
    return 0;
}
