/*
 * The top-k collector and the ranking loop (see rank.h).
 */
#include "query/rank.h"

#include <math.h>
#include <stdint.h>
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
    uint32_t lo = 1, hi = max_tf + 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (qr_bm25_bound(idf, mid, min_dl, avgdl) >= threshold)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
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

#define FLAT_W     4096u /* documents per window (a multiple of 64) */
#define FLAT_WORDS (FLAT_W / 64)

/* One posting of a positive clause inside the window. */
struct entry {
    uint32_t off; /* doc - window base */
    uint32_t tf;
};

/* Scratch memory of the window pass, kept by the searcher from one query to the next. */
struct qr_rank_scratch {
    uint64_t seen[FLAT_WORDS]; /* docs holding some positive clause (for an AND: all so far) */
    uint64_t excl[FLAT_WORDS]; /* docs holding an excluded term */
    uint64_t cand[FLAT_WORDS]; /* matching docs, then the ones worth scoring */
    uint32_t cnt[FLAT_W];      /* positive clauses fed so far that hold the doc */
    double ub[FLAT_W];         /* score bound per doc, then its length normalisation */
    double acc[FLAT_W];        /* exact score per doc, summed in query order */
    struct entry *e;           /* the window's postings, clause after clause */
    size_t ne, cap;
    size_t *seg;     /* clause k's postings: e[seg[2k] .. seg[2k + 1]) */
    uint32_t *order; /* the order clauses are fed in */
    double *idf;     /* each clause's idf */
    size_t nk;       /* clauses the three arrays above have room for */
};

void qr_rank_scratch_free(qr_rank_scratch *s)
{
    if (!s)
        return;
    qr_free(s->e);
    qr_free(s->seg);
    qr_free(s->order);
    qr_free(s->idf);
    qr_free(s);
}

static int scratch_get(qr_rank_scratch **slot, size_t nk, qr_rank_scratch **out)
{
    qr_rank_scratch *s = *slot;
    if (!s) {
        s = qr_calloc(1, sizeof *s);
        if (!s)
            return QR_ENOMEM;
        *slot = s;
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

static int push_entry(qr_rank_scratch *f, uint32_t off, uint32_t tf)
{
    if (f->ne == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16384;
        struct entry *e = qr_reallocarray(f->e, cap, sizeof *e);
        if (!e)
            return QR_ENOMEM;
        f->e = e;
        f->cap = cap;
    }
    f->e[f->ne].off = off;
    f->e[f->ne].tf = tf;
    f->ne++;
    return 0;
}

/* How a clause is poured into the window. */
enum feed_mode {
    FEED_ANY,      /* OR: every posting counts */
    FEED_FIRST,    /* AND, first clause fed: marks the docs */
    FEED_NEXT,     /* AND, later clause: only docs every earlier clause holds */
    FEED_EXCLUDED, /* NOT: marks excluded docs */
};

/*
 * Feeds the postings of clause kid with doc < end into the window starting
 * at base, leaving its cursor on its first doc >= end. `rank` is how many
 * clauses of an AND were fed before this one. Positive clauses count the
 * doc, add their bound (BM25 at the posting's tf, capped by its block's
 * impact bound) and, when scoring, record the posting.
 */
static int feed(qr_rank_scratch *f, qr_it *kid, enum feed_mode mode, uint32_t rank, bool scoring,
                uint32_t base, uint32_t end, qr_evalctx *ctx)
{
    qr_postings_iter *p = qr_term_it_postings(kid);
    double idf = mode == FEED_EXCLUDED ? 0 : qr_term_it_idf(kid);
    int rc;
    if (p->doc < base && qr_postings_seek(p, base))
        return p->err; /* a clause left behind by windows skipped as empty */
    while (p->doc < end) {
        const uint32_t *docs, *tfs = NULL;
        uint32_t n = qr_postings_block_docs(p, &docs);
        if (n == 0)
            break;
        double bb = 0;
        if (scoring && mode != FEED_EXCLUDED) {
            qr_block_max bm;
            if (qr_postings_block_freqs(p, &tfs))
                return p->err;
            if (qr_postings_block_for(p, p->doc, &bm))
                bb = qr_bm25_bound(idf, bm.max_tf, bm.min_dl, ctx->avgdl);
        }
        uint32_t i = 0;
        for (; i < n && docs[i] < end; i++) {
            if (docs[i] >= ctx->ndocs)
                return QR_ECORRUPT;
            uint32_t off = docs[i] - base;
            uint64_t bit = 1ull << (off & 63);
            switch (mode) {
            case FEED_EXCLUDED:
                f->excl[off >> 6] |= bit;
                continue;
            case FEED_NEXT:
                if (!(f->seen[off >> 6] & bit) || f->cnt[off] != rank)
                    continue;
                break;
            default:
                if (!(f->seen[off >> 6] & bit)) {
                    f->seen[off >> 6] |= bit;
                    f->cnt[off] = 0;
                    f->ub[off] = 0;
                }
            }
            f->cnt[off]++;
            if (scoring) {
                double b = bb;
                if (tfs[i] <= QR_TF_BOUNDS) {
                    double t = qr_term_it_tf_bound(kid, tfs[i]);
                    b = t < bb ? t : bb;
                }
                f->ub[off] += b;
                if ((rc = push_entry(f, off, tfs[i])))
                    return rc;
            }
        }
        if (i == n) {
            if (qr_postings_next_block(p))
                return p->err;
        } else {
            if (qr_postings_seek(p, end))
                return p->err;
            break;
        }
    }
    return p->err;
}

/*
 * An OR of terms, or an AND of terms minus terms, a window of FLAT_W docs
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
    qr_rank_scratch *f;
    int rc = scratch_get(ctx->scratch, v->npos, &f);
    if (rc)
        return rc;
    for (size_t k = 0; k < v->npos; k++) {
        f->idf[k] = qr_term_it_idf(v->pos[k]);
        f->order[k] = (uint32_t)k;
    }
    if (!v->is_or) {
        /* rarest first, stable */
        for (size_t i = 1; i < v->npos; i++) {
            uint32_t x = f->order[i];
            size_t j = i;
            for (; j > 0 && v->pos[f->order[j - 1]]->cost > v->pos[x]->cost; j--)
                f->order[j] = f->order[j - 1];
            f->order[j] = x;
        }
    }
    uint64_t n = 0;
    for (uint32_t base = 0; base < ctx->ndocs && !rc; base += FLAT_W) {
        uint32_t end = ctx->ndocs - base < FLAT_W ? ctx->ndocs : base + FLAT_W;
        uint32_t words = (end - base + 63) / 64;
        /* Done when no clause has a doc left (OR), or one has none (AND). */
        uint32_t next = QR_DOC_END, last = 0;
        for (size_t k = 0; k < v->npos; k++) {
            uint32_t d = qr_term_it_postings(v->pos[k])->doc;
            next = d < next ? d : next;
            last = d > last ? d : last;
        }
        if ((v->is_or ? next : last) == QR_DOC_END)
            break;
        if ((v->is_or ? next : last) >= end)
            continue; /* nothing can match in this window */
        memset(f->seen, 0, words * 8);
        memset(f->excl, 0, words * 8);
        f->ne = 0;
        for (size_t r = 0; r < v->npos && !rc; r++) {
            uint32_t k = f->order[r];
            enum feed_mode mode = v->is_or ? FEED_ANY : r == 0 ? FEED_FIRST : FEED_NEXT;
            f->seg[2 * k] = f->ne;
            rc = feed(f, v->pos[k], mode, (uint32_t)r, scoring, base, end, ctx);
            f->seg[2 * k + 1] = f->ne;
        }
        for (size_t k = 0; k < v->nneg && !rc; k++)
            rc = feed(f, v->neg[k], FEED_EXCLUDED, 0, false, base, end, ctx);
        if (rc)
            break;
        /* The matches: every clause (AND) or any, none excluded, none deleted. */
        for (uint32_t w = 0; w < words; w++) {
            uint64_t m = f->seen[w] & ~f->excl[w];
            if (ctx->del)
                m &= ~ctx->del->bits[(base >> 6) + w];
            if (!v->is_or) {
                for (uint64_t x = m; x; x &= x - 1) {
                    uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
                    if (f->cnt[off] != v->npos)
                        m &= ~(1ull << (off & 63));
                }
            }
            f->cand[w] = m;
            n += (uint64_t)__builtin_popcountll(m);
        }
        if (!scoring)
            continue;
        /* Those whose bound reaches the threshold: exact scores. */
        double thr = top->n == top->cap ? top->threshold : -INFINITY;
        bool any = false;
        for (uint32_t w = 0; w < words; w++) {
            for (uint64_t x = f->cand[w]; x; x &= x - 1) {
                uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
                if (f->ub[off] < thr) {
                    f->cand[w] &= ~(1ull << (off & 63));
                    continue;
                }
                any = true;
                f->acc[off] = 0;
                f->ub[off] = qr_evalctx_norm(ctx, base + off);
            }
        }
        if (!any)
            continue;
        for (size_t k = 0; k < v->npos; k++) {
            double idf = f->idf[k];
            for (size_t i = f->seg[2 * k]; i < f->seg[2 * k + 1]; i++) {
                const struct entry *e = &f->e[i];
                if (f->cand[e->off >> 6] >> (e->off & 63) & 1)
                    f->acc[e->off] += qr_bm25_norm(idf, e->tf, f->ub[e->off]);
            }
        }
        for (uint32_t w = 0; w < words; w++) {
            for (uint64_t x = f->cand[w]; x; x &= x - 1) {
                uint32_t off = w * 64 + (uint32_t)__builtin_ctzll(x);
                qr_topk_offer(top, f->acc[off], ctx->segi, base + off);
            }
        }
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

int qr_rank_segment(qr_topk *top, uint64_t *total, qr_it *root, qr_evalctx *ctx, bool count_only)
{
    int rc = 0;
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
