/*
 * Document iterators over one segment: term, AND, OR, NOT and ALL, and the
 * builder that turns a plan into a tree of them (see iter.h).
 *
 * Term: a postings cursor; restricted to a field it becomes two-phase (the
 * candidate is a document containing the term, the match needs a position
 * on the right side of the document's title boundary, and tf counts those).
 * Its bound is BM25 at the (max tf, min length) impact of the current
 * postings block, cached per block.
 *
 * AND: leapfrog over the positive clauses, led by the cheapest (rarest);
 * the others are seeked. NOT clauses inside an AND are exclusions: a
 * candidate is dropped when the excluded clause matches it. Scores sum the
 * positive clauses in query order.
 *
 * OR: the union of its clauses through a binary heap on their current doc;
 * the clauses standing on a doc are gathered once per doc and kept in query
 * order, so that scores are summed in query order (SPEC §4: the clauses
 * that match, and only when the OR matches).
 *
 * NOT: every document of the segment but those its clause matches; when
 * the clause is exact the complement is exact too (it skips the clause's
 * documents), otherwise each candidate asks the clause.
 */
#include "query/iter.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

void qr_evalctx_init(qr_evalctx *c, const qr_segment *seg, uint32_t segi, const qr_deletes *del,
                     double avgdl, double *norm_tab, double *doc_norm, qr_rank_scratch **scratch)
{
    memset(c, 0, sizeof *c);
    c->seg = seg;
    c->segi = segi;
    c->dt = qr_segment_doctable(seg);
    c->del = del && del->count ? del : NULL;
    c->ndocs = qr_segment_docs(seg);
    c->avgdl = avgdl > 0 ? avgdl : 1;
    c->norm_tab = norm_tab;
    c->doc_norm = doc_norm;
    c->scratch = scratch;
    c->flat_w = 4096;
    c->wide_w = 65536;
}

double qr_bm25_bound(double idf, double max_tf, double min_dl, double avgdl)
{
    if (!(idf > 0) || max_tf <= 0)
        return 0;
    return qr_bm25(idf, max_tf, min_dl, avgdl);
}

int qr_spans_push(qr_spans *s, uint32_t start, uint32_t end)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        qr_span *v = qr_reallocarray(s->v, cap, sizeof *v);
        if (!v)
            return QR_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].start = start;
    s->v[s->n].end = end;
    s->n++;
    return 0;
}

void qr_spans_free(qr_spans *s)
{
    if (!s)
        return;
    qr_free(s->v);
    memset(s, 0, sizeof *s);
}

void qr_it_free(qr_it *it)
{
    if (it)
        it->ops->free(it);
}

/* Cost order, ties in the original order (the address of the slot before sorting). */
struct by_cost {
    qr_it *it;
    size_t i;
};

static int by_cost_cmp(const void *a, const void *b)
{
    const struct by_cost *x = a, *y = b;
    if (x->it->cost != y->it->cost)
        return x->it->cost < y->it->cost ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void qr_sort_by_cost(qr_it **its, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            qr_it *x = its[i];
            size_t j = i;
            for (; j > 0 && its[j - 1]->cost > x->cost; j--)
                its[j] = its[j - 1];
            its[j] = x;
        }
        return;
    }
    /* many clauses (a query of thousands of words): O(n log n), stable */
    struct by_cost *v = qr_calloc(n, sizeof *v);
    if (!v)
        return; /* the order only affects speed */
    for (size_t i = 0; i < n; i++) {
        v[i].it = its[i];
        v[i].i = i;
    }
    qsort(v, n, sizeof *v, by_cost_cmp);
    for (size_t i = 0; i < n; i++)
        its[i] = v[i].it;
    qr_free(v);
}

int qr_conj_align(qr_it **lead, size_t n)
{
    int rc;
    uint32_t target = lead[0]->doc;
    while (target != QR_DOC_END) {
        size_t i = 1;
        for (; i < n; i++) {
            if ((rc = qr_it_seek(lead[i], target)))
                return rc;
            if (lead[i]->doc != target)
                break;
        }
        if (i == n)
            return 0;
        if ((rc = qr_it_seek(lead[0], lead[i]->doc)))
            return rc;
        target = lead[0]->doc;
    }
    return 0;
}

/* ---- term ------------------------------------------------------------------------ */

struct term_it {
    qr_it base;
    qr_evalctx *ctx;
    qr_postings_iter p;
    qr_field field;
    double idf;
    uint32_t tf_doc;              /* the doc whose field tf is in tf (QR_DOC_END: none) */
    uint32_t tf;                  /* occurrences inside the field at tf_doc */
    uint32_t min_dl;              /* the shortest document of the term (its impact bound) */
    double tfb[QR_TF_BOUNDS + 1]; /* BM25 at (tf, min_dl) for small tf; 0 = not computed yet */
    bool blk_valid;               /* blk_* describe the block holding blk_last's predecessors */
    bool blk_none;                /* no block is left */
    uint32_t blk_last;            /* last doc of the cached block */
    uint32_t blk_max_tf, blk_min_dl;
    double blk_bound; /* BM25 at the block's impact */
};

/* Takes the cursor's doc; a doc id beyond the segment is corrupt data. */
static int term_settle(struct term_it *t, int rc)
{
    if (!rc && t->p.doc != QR_DOC_END && t->p.doc >= t->ctx->ndocs)
        rc = QR_ECORRUPT;
    t->base.doc = rc ? QR_DOC_END : t->p.doc;
    return rc;
}

static int term_next(qr_it *it)
{
    struct term_it *t = (struct term_it *)it;
    return term_settle(t, qr_postings_next(&t->p));
}

static int term_seek(qr_it *it, uint32_t target)
{
    struct term_it *t = (struct term_it *)it;
    return term_settle(t, qr_postings_seek(&t->p, target));
}

/* Counts the current doc's positions inside the iterator's field. */
static int term_field_tf(struct term_it *t, uint32_t *out)
{
    if (t->tf_doc != t->base.doc) {
        const uint32_t *pos;
        uint32_t n;
        int rc = qr_postings_positions(&t->p, &pos, &n);
        if (rc)
            return rc;
        uint32_t tp = qr_doctable_title_positions(t->ctx->dt, t->base.doc);
        /* positions are increasing: the title ones come first */
        uint32_t lo = 0, hi = n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (pos[mid] < tp)
                lo = mid + 1;
            else
                hi = mid;
        }
        t->tf = t->field == QR_FIELD_TITLE ? lo : n - lo;
        t->tf_doc = t->base.doc;
    }
    *out = t->tf;
    return 0;
}

static int term_match(qr_it *it, bool *out)
{
    uint32_t tf;
    int rc = term_field_tf((struct term_it *)it, &tf);
    *out = !rc && tf > 0;
    return rc;
}

static double term_score(qr_it *it)
{
    struct term_it *t = (struct term_it *)it;
    if (!it->scores)
        return 0;
    uint32_t tf = t->field == QR_FIELD_ANY ? qr_postings_freq(&t->p) : t->tf;
    return qr_bm25_norm(t->idf, tf, qr_evalctx_norm(t->ctx, it->doc));
}

bool qr_term_it_block(qr_it *it, uint32_t *out_last, uint32_t *out_max_tf, uint32_t *out_min_dl)
{
    struct term_it *t = (struct term_it *)it;
    if (!t->blk_valid || it->doc > t->blk_last) {
        qr_block_max bm;
        t->blk_valid = true;
        t->blk_none = !qr_postings_block_for(&t->p, it->doc, &bm);
        if (t->blk_none) {
            t->blk_last = QR_DOC_END;
            t->blk_max_tf = 0;
            t->blk_min_dl = 0;
            t->blk_bound = 0;
        } else {
            t->blk_last = bm.last_doc;
            t->blk_max_tf = bm.max_tf;
            t->blk_min_dl = bm.min_dl;
            t->blk_bound =
                it->scores ? qr_bm25_bound(t->idf, bm.max_tf, bm.min_dl, t->ctx->avgdl) : 0;
        }
    }
    *out_last = t->blk_last;
    *out_max_tf = t->blk_max_tf;
    *out_min_dl = t->blk_min_dl;
    return !t->blk_none;
}

double qr_term_it_tf_bound(qr_it *it, uint32_t tf)
{
    struct term_it *t = (struct term_it *)it;
    if (tf > QR_TF_BOUNDS)
        return qr_bm25_bound(t->idf, tf, t->min_dl, t->ctx->avgdl);
    double v = t->tfb[tf];
    if (v == 0)
        v = t->tfb[tf] = qr_bm25_bound(t->idf, tf, t->min_dl, t->ctx->avgdl);
    return v;
}

/*
 * The block's impact bound, tightened by the doc's own tf (its length is
 * only known to be >= the term's shortest): both bound the score.
 */
static double term_bound(qr_it *it)
{
    struct term_it *t = (struct term_it *)it;
    uint32_t last, mt, md;
    if (!it->scores)
        return 0;
    qr_term_it_block(it, &last, &mt, &md);
    uint32_t tf = qr_postings_freq(&t->p);
    if (tf <= QR_TF_BOUNDS) {
        double b = qr_term_it_tf_bound(it, tf);
        if (b < t->blk_bound)
            return b;
    }
    return t->blk_bound;
}

static int term_spans(qr_it *it, qr_spans *out)
{
    struct term_it *t = (struct term_it *)it;
    const uint32_t *pos;
    uint32_t n;
    int rc = qr_postings_positions(&t->p, &pos, &n);
    if (rc)
        return rc;
    uint32_t tp = t->field == QR_FIELD_ANY ? 0 : qr_doctable_title_positions(t->ctx->dt, it->doc);
    for (uint32_t i = 0; i < n; i++) {
        if (t->field == QR_FIELD_TITLE && pos[i] >= tp)
            break;
        if (t->field == QR_FIELD_BODY && pos[i] < tp)
            continue;
        if ((rc = qr_spans_push(out, pos[i], pos[i])))
            return rc;
    }
    return 0;
}

static void term_free(qr_it *it)
{
    struct term_it *t = (struct term_it *)it;
    qr_postings_iter_free(&t->p);
    qr_free(t);
}

static const qr_it_ops term_ops = {term_next,  term_seek,  term_match, term_score,
                                   term_bound, term_spans, term_free};

bool qr_it_is_plain_term(const qr_it *it)
{
    return it->ops == &term_ops && it->exact && it->scores;
}

static bool is_exact_term(const qr_it *it)
{
    return it->ops == &term_ops && it->exact;
}

bool qr_term_it_view(qr_it *it, const uint32_t **out, uint32_t *out_n, int *rc)
{
    if (it->ops != &term_ops)
        return false;
    struct term_it *t = (struct term_it *)it;
    const uint32_t *pos;
    uint32_t n;
    *out = NULL;
    *out_n = 0;
    if ((*rc = qr_postings_positions(&t->p, &pos, &n)))
        return true;
    if (t->field != QR_FIELD_ANY) {
        uint32_t tp = qr_doctable_title_positions(t->ctx->dt, it->doc), lo = 0, hi = n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (pos[mid] < tp)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (t->field == QR_FIELD_TITLE) {
            n = lo;
        } else {
            pos += lo;
            n -= lo;
        }
    }
    *out = pos;
    *out_n = n;
    return true;
}

qr_postings_iter *qr_term_it_postings(qr_it *it)
{
    return &((struct term_it *)it)->p;
}

void qr_term_it_src(qr_it *it, qr_postings_iter **p, double *idf, double **tfb, uint32_t *min_dl)
{
    struct term_it *t = (struct term_it *)it;
    *p = &t->p;
    *idf = t->idf;
    *tfb = t->tfb;
    *min_dl = t->min_dl;
}

double qr_term_it_idf(const qr_it *it)
{
    return ((const struct term_it *)it)->idf;
}

int qr_term_it_positions(qr_it *it, const uint32_t **out, uint32_t *out_n)
{
    return qr_postings_positions(&((struct term_it *)it)->p, out, out_n);
}

void qr_term_it_term_max(qr_it *it, uint32_t *out_max_tf, uint32_t *out_min_dl)
{
    qr_block_max m = qr_postings_term_max(&((struct term_it *)it)->p);
    *out_max_tf = m.max_tf;
    *out_min_dl = m.min_dl;
}

int qr_term_it_open(qr_it **out, const qr_pterm *pt, qr_evalctx *ctx, qr_field field, bool scores)
{
    *out = NULL;
    const qr_term_meta *meta = &pt->metas[ctx->segi];
    if (meta->df == 0)
        return 0;
    /*
     * Zeroed except the cursor, which qr_postings_iter_init sets up itself
     * (its block buffers, most of the struct, need no zeroing: the
     * iterator is opened per term and segment).
     */
    struct term_it *t = qr_malloc(sizeof *t);
    if (!t)
        return QR_ENOMEM;
    memset(t, 0, offsetof(struct term_it, p));
    memset((char *)t + offsetof(struct term_it, p) + sizeof t->p, 0,
           sizeof *t - offsetof(struct term_it, p) - sizeof t->p);
    int rc = qr_segment_postings(ctx->seg, meta, &t->p);
    if (rc) {
        qr_postings_iter_free(&t->p);
        qr_free(t);
        return rc;
    }
    t->base.ops = &term_ops;
    t->ctx = ctx;
    if ((rc = term_settle(t, 0))) {
        term_free(&t->base);
        return rc;
    }
    t->base.exact = field == QR_FIELD_ANY;
    t->base.scores = scores;
    t->base.cost = meta->df;
    t->field = field;
    t->idf = pt->idf;
    t->tf_doc = QR_DOC_END;
    qr_block_max m = qr_postings_term_max(&t->p);
    t->min_dl = m.min_dl;
    if (scores)
        t->base.max_score = qr_bm25_bound(pt->idf, m.max_tf, m.min_dl, ctx->avgdl);
    *out = &t->base;
    return 0;
}

/* ---- ALL ------------------------------------------------------------------------- */

struct all_it {
    qr_it base;
    uint32_t ndocs;
};

static int all_next(qr_it *it)
{
    struct all_it *a = (struct all_it *)it;
    it->doc = it->doc + 1 < a->ndocs ? it->doc + 1 : QR_DOC_END;
    return 0;
}

static int all_seek(qr_it *it, uint32_t target)
{
    struct all_it *a = (struct all_it *)it;
    it->doc = target < a->ndocs ? target : QR_DOC_END;
    return 0;
}

static double zero_score(qr_it *it)
{
    (void)it;
    return 0;
}

static int no_spans(qr_it *it, qr_spans *out)
{
    (void)it;
    (void)out;
    return 0;
}

static void plain_free(qr_it *it)
{
    qr_free(it);
}

static const qr_it_ops all_ops = {all_next,   all_seek, NULL,      zero_score,
                                  zero_score, no_spans, plain_free};

static int all_open(qr_it **out, qr_evalctx *ctx)
{
    struct all_it *a = qr_calloc(1, sizeof *a);
    if (!a)
        return QR_ENOMEM;
    a->base.ops = &all_ops;
    a->base.exact = true;
    a->base.cost = ctx->ndocs;
    a->base.doc = ctx->ndocs ? 0 : QR_DOC_END;
    a->ndocs = ctx->ndocs;
    *out = &a->base;
    return 0;
}

/* ---- NOT ------------------------------------------------------------------------- */

struct not_it {
    qr_it base;
    qr_it *kid;
    uint32_t ndocs;
};

/* From candidate d on, skips the docs the (exact) clause holds. */
static int not_settle(struct not_it *n, uint32_t d)
{
    int rc;
    for (; d < n->ndocs; d++) {
        if ((rc = qr_it_seek(n->kid, d)))
            return rc;
        if (n->kid->doc != d)
            break;
    }
    n->base.doc = d < n->ndocs ? d : QR_DOC_END;
    return 0;
}

static int not_next(qr_it *it)
{
    struct not_it *n = (struct not_it *)it;
    if (!it->exact) {
        it->doc = it->doc + 1 < n->ndocs ? it->doc + 1 : QR_DOC_END;
        return 0;
    }
    return not_settle(n, it->doc + 1);
}

static int not_seek(qr_it *it, uint32_t target)
{
    struct not_it *n = (struct not_it *)it;
    if (!n->base.exact) {
        it->doc = target < n->ndocs ? target : QR_DOC_END;
        return 0;
    }
    return not_settle(n, target);
}

static int not_match(qr_it *it, bool *out)
{
    struct not_it *n = (struct not_it *)it;
    int rc;
    bool m = false;
    if ((rc = qr_it_seek(n->kid, it->doc)))
        return rc;
    if (n->kid->doc == it->doc && (rc = qr_it_match(n->kid, &m)))
        return rc;
    *out = !m;
    return 0;
}

static void not_free(qr_it *it)
{
    struct not_it *n = (struct not_it *)it;
    qr_it_free(n->kid);
    qr_free(n);
}

static const qr_it_ops not_ops = {not_next,   not_seek, not_match, zero_score,
                                  zero_score, no_spans, not_free};

static int not_open(qr_it **out, qr_it *kid, qr_evalctx *ctx)
{
    struct not_it *n = qr_calloc(1, sizeof *n);
    if (!n) {
        qr_it_free(kid);
        return QR_ENOMEM;
    }
    n->base.ops = &not_ops;
    n->base.exact = kid->exact;
    n->base.cost = ctx->ndocs;
    n->kid = kid;
    n->ndocs = ctx->ndocs;
    n->base.doc = ctx->ndocs ? 0 : QR_DOC_END;
    int rc = n->base.exact ? not_settle(n, 0) : 0;
    if (rc) {
        not_free(&n->base);
        return rc;
    }
    *out = &n->base;
    return 0;
}

/* ---- AND ------------------------------------------------------------------------- */

struct and_it {
    qr_it base;
    qr_it **pos; /* positive clauses, query order (the order of the score sum) */
    size_t npos;
    qr_it **lead; /* the same, cheapest first */
    qr_it **neg;  /* excluded clauses */
    size_t nneg;
    uint32_t match_doc; /* the doc whose match is cached */
    bool match_res;
};

static int and_next(qr_it *it)
{
    struct and_it *a = (struct and_it *)it;
    int rc = qr_it_next(a->lead[0]);
    if (!rc)
        rc = qr_conj_align(a->lead, a->npos);
    it->doc = rc ? QR_DOC_END : a->lead[0]->doc;
    return rc;
}

static int and_seek(qr_it *it, uint32_t target)
{
    struct and_it *a = (struct and_it *)it;
    int rc = qr_it_seek(a->lead[0], target);
    if (!rc)
        rc = qr_conj_align(a->lead, a->npos);
    it->doc = rc ? QR_DOC_END : a->lead[0]->doc;
    return rc;
}

static int and_match(qr_it *it, bool *out)
{
    struct and_it *a = (struct and_it *)it;
    int rc;
    if (a->match_doc == it->doc) {
        *out = a->match_res;
        return 0;
    }
    bool m = true;
    /* Two-phase clauses, cheapest first. */
    for (size_t i = 0; m && i < a->npos; i++)
        if (!a->lead[i]->exact && (rc = qr_it_match(a->lead[i], &m)))
            return rc;
    for (size_t i = 0; m && i < a->nneg; i++) {
        qr_it *n = a->neg[i];
        if ((rc = qr_it_seek(n, it->doc)))
            return rc;
        if (n->doc == it->doc) {
            bool hit;
            if ((rc = qr_it_match(n, &hit)))
                return rc;
            m = !hit;
        }
    }
    a->match_doc = it->doc;
    a->match_res = m;
    *out = m;
    return 0;
}

static double and_score(qr_it *it)
{
    struct and_it *a = (struct and_it *)it;
    double s = 0;
    for (size_t i = 0; i < a->npos; i++)
        if (a->pos[i]->scores)
            s += qr_it_score(a->pos[i]);
    return s;
}

static double and_bound(qr_it *it)
{
    struct and_it *a = (struct and_it *)it;
    double s = 0;
    for (size_t i = 0; i < a->npos; i++)
        if (a->pos[i]->scores)
            s += qr_it_bound(a->pos[i]);
    return s;
}

static int and_spans(qr_it *it, qr_spans *out)
{
    struct and_it *a = (struct and_it *)it;
    int rc;
    for (size_t i = 0; i < a->npos; i++)
        if ((rc = qr_it_spans(a->pos[i], out)))
            return rc;
    return 0;
}

static void and_free(qr_it *it)
{
    struct and_it *a = (struct and_it *)it;
    for (size_t i = 0; i < a->npos; i++)
        qr_it_free(a->pos[i]);
    for (size_t i = 0; i < a->nneg; i++)
        qr_it_free(a->neg[i]);
    qr_free(a->pos);
    qr_free(a->lead);
    qr_free(a->neg);
    qr_free(a);
}

static const qr_it_ops and_ops = {and_next,  and_seek,  and_match, and_score,
                                  and_bound, and_spans, and_free};

/* Takes ownership of pos[0..npos) and neg[0..nneg) (arrays and iterators), even on failure. */
static int and_open(qr_it **out, qr_it **pos, size_t npos, qr_it **neg, size_t nneg, bool scores)
{
    struct and_it *a = qr_calloc(1, sizeof *a);
    qr_it **lead = qr_calloc(npos, sizeof *lead);
    int rc = 0;
    if (!a || !lead) {
        for (size_t i = 0; i < npos; i++)
            qr_it_free(pos[i]);
        for (size_t i = 0; i < nneg; i++)
            qr_it_free(neg[i]);
        qr_free(pos);
        qr_free(neg);
        qr_free(lead);
        qr_free(a);
        return QR_ENOMEM;
    }
    a->base.ops = &and_ops;
    a->base.scores = scores;
    a->pos = pos;
    a->npos = npos;
    a->neg = neg;
    a->nneg = nneg;
    a->lead = lead;
    a->match_doc = QR_DOC_END;
    memcpy(lead, pos, npos * sizeof *lead);
    qr_sort_by_cost(lead, npos);
    a->base.exact = nneg == 0;
    a->base.cost = lead[0]->cost;
    for (size_t i = 0; i < npos; i++) {
        a->base.exact = a->base.exact && pos[i]->exact;
        if (pos[i]->scores)
            a->base.max_score += pos[i]->max_score;
    }
    rc = qr_conj_align(lead, npos);
    a->base.doc = rc ? QR_DOC_END : lead[0]->doc;
    if (rc) {
        and_free(&a->base);
        return rc;
    }
    *out = &a->base;
    return 0;
}

/* ---- OR -------------------------------------------------------------------------- */

struct or_it {
    qr_it base;
    qr_it **kids; /* query order */
    size_t n;
    uint32_t *heap; /* indices of live kids, a min-heap on their doc */
    size_t nheap;
    uint32_t *at; /* kids standing on at_doc, in query order */
    size_t nat;
    uint32_t at_doc;
    uint32_t *hit; /* kids matching match_doc, in query order */
    size_t nhit;
    uint32_t match_doc;
    bool match_res;
    uint32_t *stack; /* scratch for gathering */
};

static void or_sift_down(struct or_it *o, size_t i)
{
    uint32_t x = o->heap[i];
    uint32_t d = o->kids[x]->doc;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= o->nheap)
            break;
        if (c + 1 < o->nheap && o->kids[o->heap[c + 1]]->doc < o->kids[o->heap[c]]->doc)
            c++;
        if (o->kids[o->heap[c]]->doc >= d)
            break;
        o->heap[i] = o->heap[c];
        i = c;
    }
    o->heap[i] = x;
}

/* After the top kid moved: drop it if exhausted, else restore the heap. */
static void or_fix_top(struct or_it *o)
{
    if (o->kids[o->heap[0]]->doc == QR_DOC_END) {
        o->heap[0] = o->heap[--o->nheap];
        if (o->nheap == 0)
            return;
    }
    or_sift_down(o, 0);
}

static void or_set_doc(struct or_it *o)
{
    o->base.doc = o->nheap ? o->kids[o->heap[0]]->doc : QR_DOC_END;
}

/* Few clauses: no heap, a scan (clauses on the doc come out in query order by themselves). */
#define OR_SMALL 8

static void or_small_min(struct or_it *o)
{
    uint32_t d = QR_DOC_END;
    for (size_t i = 0; i < o->n; i++)
        if (o->kids[i]->doc < d)
            d = o->kids[i]->doc;
    o->base.doc = d;
}

static int or_next(qr_it *it)
{
    struct or_it *o = (struct or_it *)it;
    uint32_t cur = it->doc;
    int rc;
    if (o->n <= OR_SMALL) {
        for (size_t i = 0; i < o->n; i++)
            if (o->kids[i]->doc == cur && (rc = qr_it_next(o->kids[i])))
                return rc;
        or_small_min(o);
        return 0;
    }
    while (o->nheap && o->kids[o->heap[0]]->doc == cur) {
        if ((rc = qr_it_next(o->kids[o->heap[0]])))
            return rc;
        or_fix_top(o);
    }
    or_set_doc(o);
    return 0;
}

static int or_seek(qr_it *it, uint32_t target)
{
    struct or_it *o = (struct or_it *)it;
    int rc;
    if (o->n <= OR_SMALL) {
        for (size_t i = 0; i < o->n; i++)
            if ((rc = qr_it_seek(o->kids[i], target)))
                return rc;
        or_small_min(o);
        return 0;
    }
    while (o->nheap && o->kids[o->heap[0]]->doc < target) {
        if ((rc = qr_it_seek(o->kids[o->heap[0]], target)))
            return rc;
        or_fix_top(o);
    }
    or_set_doc(o);
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Gathers the kids standing on the current doc into o->at, in query order. */
static void or_gather(struct or_it *o)
{
    uint32_t cur = o->base.doc;
    if (o->at_doc == cur)
        return;
    o->nat = 0;
    if (o->n <= OR_SMALL) {
        for (size_t i = 0; i < o->n; i++)
            if (o->kids[i]->doc == cur)
                o->at[o->nat++] = (uint32_t)i;
        o->at_doc = cur;
        return;
    }
    if (o->nheap) {
        size_t top = 0;
        o->stack[top++] = 0;
        while (top) {
            uint32_t i = o->stack[--top];
            if (o->kids[o->heap[i]]->doc != cur)
                continue;
            o->at[o->nat++] = o->heap[i];
            if (2 * i + 1 < o->nheap)
                o->stack[top++] = 2 * i + 1;
            if (2 * i + 2 < o->nheap)
                o->stack[top++] = 2 * i + 2;
        }
    }
    if (o->nat > 1) {
        if (o->nat < 16) {
            for (size_t i = 1; i < o->nat; i++) {
                uint32_t x = o->at[i];
                size_t j = i;
                for (; j > 0 && o->at[j - 1] > x; j--)
                    o->at[j] = o->at[j - 1];
                o->at[j] = x;
            }
        } else {
            qsort(o->at, o->nat, sizeof *o->at, cmp_u32);
        }
    }
    o->at_doc = cur;
}

static int or_match(qr_it *it, bool *out)
{
    struct or_it *o = (struct or_it *)it;
    int rc;
    if (o->match_doc != it->doc) {
        or_gather(o);
        o->nhit = 0;
        for (size_t i = 0; i < o->nat; i++) {
            bool m;
            if ((rc = qr_it_match(o->kids[o->at[i]], &m)))
                return rc;
            if (m)
                o->hit[o->nhit++] = o->at[i];
        }
        o->match_doc = it->doc;
        o->match_res = o->nhit > 0;
    }
    *out = o->match_res;
    return 0;
}

/* The kids that match the current doc (after a confirmed match). */
static const uint32_t *or_hits(struct or_it *o, size_t *n)
{
    if (o->base.exact) {
        or_gather(o);
        *n = o->nat;
        return o->at;
    }
    *n = o->nhit;
    return o->hit;
}

static double or_score(qr_it *it)
{
    struct or_it *o = (struct or_it *)it;
    size_t n;
    const uint32_t *h = or_hits(o, &n);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (o->kids[h[i]]->scores)
            s += qr_it_score(o->kids[h[i]]);
    return s;
}

static double or_bound(qr_it *it)
{
    struct or_it *o = (struct or_it *)it;
    or_gather(o);
    double s = 0;
    for (size_t i = 0; i < o->nat; i++)
        if (o->kids[o->at[i]]->scores)
            s += qr_it_bound(o->kids[o->at[i]]);
    return s;
}

static int or_spans(qr_it *it, qr_spans *out)
{
    struct or_it *o = (struct or_it *)it;
    size_t n;
    const uint32_t *h = or_hits(o, &n);
    int rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = qr_it_spans(o->kids[h[i]], out)))
            return rc;
    return 0;
}

static void or_free(qr_it *it)
{
    struct or_it *o = (struct or_it *)it;
    for (size_t i = 0; i < o->n; i++)
        qr_it_free(o->kids[i]);
    qr_free(o->kids);
    qr_free(o->heap);
    qr_free(o->at);
    qr_free(o->hit);
    qr_free(o->stack);
    qr_free(o);
}

static const qr_it_ops or_ops = {or_next, or_seek, or_match, or_score, or_bound, or_spans, or_free};

/* Takes ownership of kids[0..n) (array and iterators), even on failure; n >= 2. */
static int or_open(qr_it **out, qr_it **kids, size_t n, bool scores)
{
    struct or_it *o = qr_calloc(1, sizeof *o);
    if (!o) {
        for (size_t i = 0; i < n; i++)
            qr_it_free(kids[i]);
        qr_free(kids);
        return QR_ENOMEM;
    }
    o->base.ops = &or_ops;
    o->base.scores = scores;
    o->kids = kids;
    o->n = n;
    o->heap = qr_calloc(n, sizeof *o->heap);
    o->at = qr_calloc(n, sizeof *o->at);
    o->hit = qr_calloc(n, sizeof *o->hit);
    o->stack = qr_calloc(n, sizeof *o->stack);
    if (!o->heap || !o->at || !o->hit || !o->stack) {
        or_free(&o->base);
        return QR_ENOMEM;
    }
    o->at_doc = QR_DOC_END;
    o->match_doc = QR_DOC_END;
    o->base.exact = true;
    for (size_t i = 0; i < n; i++) {
        o->base.exact = o->base.exact && kids[i]->exact;
        o->base.cost += kids[i]->cost;
        if (kids[i]->scores)
            o->base.max_score += kids[i]->max_score;
        if (kids[i]->doc != QR_DOC_END)
            o->heap[o->nheap++] = (uint32_t)i;
    }
    for (size_t i = o->nheap / 2; i-- > 0;)
        or_sift_down(o, i);
    if (n <= OR_SMALL)
        or_small_min(o);
    else
        or_set_doc(o);
    *out = &o->base;
    return 0;
}

/* ---- building ---------------------------------------------------------------------- */

/* Builds the kids of p into a fresh array; NULL kids (nothing here) are kept as NULL. */
static int build_kids(qr_it ***out, const qr_pnode *p, qr_evalctx *ctx)
{
    qr_it **kids = qr_calloc(p->nkids ? p->nkids : 1, sizeof *kids);
    int rc = 0;
    if (!kids)
        return QR_ENOMEM;
    for (uint32_t i = 0; i < p->nkids && !rc; i++) {
        const qr_pnode *k = p->kids[i];
        /* An AND subtracts its NOT clauses: build what they negate. */
        if (p->kind == QR_P_AND && k->kind == QR_P_NOT)
            k = k->kids[0];
        rc = qr_it_build(&kids[i], k, ctx);
    }
    if (rc) {
        for (uint32_t i = 0; i < p->nkids; i++)
            qr_it_free(kids[i]);
        qr_free(kids);
        return rc;
    }
    *out = kids;
    return 0;
}

static void free_all(qr_it **its, size_t n)
{
    for (size_t i = 0; i < n; i++)
        qr_it_free(its[i]);
    qr_free(its);
}

static int build_and(qr_it **out, const qr_pnode *p, qr_evalctx *ctx)
{
    qr_it **kids;
    int rc = build_kids(&kids, p, ctx);
    if (rc)
        return rc;
    size_t npos = 0, nneg = 0;
    for (uint32_t i = 0; i < p->nkids; i++) {
        if (p->kids[i]->kind == QR_P_NOT) {
            if (kids[i])
                nneg++;
        } else if (!kids[i]) {
            free_all(kids, p->nkids); /* a required clause absent here: nothing matches */
            return 0;
        } else {
            npos++;
        }
    }
    qr_it **pos = qr_calloc(npos ? npos : 1, sizeof *pos);
    qr_it **neg = qr_calloc(nneg ? nneg : 1, sizeof *neg);
    if (!pos || !neg) {
        qr_free(pos);
        qr_free(neg);
        free_all(kids, p->nkids);
        return QR_ENOMEM;
    }
    npos = nneg = 0;
    for (uint32_t i = 0; i < p->nkids; i++) {
        if (!kids[i])
            continue;
        if (p->kids[i]->kind == QR_P_NOT)
            neg[nneg++] = kids[i];
        else
            pos[npos++] = kids[i];
    }
    qr_free(kids);
    if (npos == 0 && (rc = all_open(&pos[npos++], ctx))) {
        free_all(pos, 0);
        free_all(neg, nneg);
        return rc;
    }
    if (npos == 1 && nneg == 0) {
        *out = pos[0];
        qr_free(pos);
        qr_free(neg);
        return 0;
    }
    return and_open(out, pos, npos, neg, nneg, p->scores);
}

static int build_or(qr_it **out, qr_it **kids, size_t n, bool scores)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (kids[i])
            kids[m++] = kids[i];
    if (m == 0) {
        qr_free(kids);
        return 0;
    }
    if (m == 1) {
        *out = kids[0];
        qr_free(kids);
        return 0;
    }
    return or_open(out, kids, m, scores);
}

int qr_it_build(qr_it **out, const qr_pnode *p, qr_evalctx *ctx)
{
    int rc;
    *out = NULL;
    switch (p->kind) {
    case QR_P_NONE:
        return 0;
    case QR_P_ALL:
        return all_open(out, ctx);
    case QR_P_TERM:
        return qr_term_it_open(out, &p->terms[0], ctx, p->field, p->scores);
    case QR_P_PHRASE:
        return qr_phrase_open(out, p, ctx);
    case QR_P_PREFIX: {
        qr_it **kids = qr_calloc(p->nterms ? p->nterms : 1, sizeof *kids);
        if (!kids)
            return QR_ENOMEM;
        for (uint32_t i = 0; i < p->nterms; i++) {
            if ((rc = qr_term_it_open(&kids[i], &p->terms[i], ctx, p->field, p->scores))) {
                free_all(kids, p->nterms);
                return rc;
            }
        }
        return build_or(out, kids, p->nterms, p->scores);
    }
    case QR_P_AND:
        return build_and(out, p, ctx);
    case QR_P_OR: {
        qr_it **kids;
        if ((rc = build_kids(&kids, p, ctx)))
            return rc;
        return build_or(out, kids, p->nkids, p->scores);
    }
    case QR_P_NOT: {
        qr_it *kid;
        if ((rc = qr_it_build(&kid, p->kids[0], ctx)))
            return rc;
        if (!kid)
            return all_open(out, ctx);
        return not_open(out, kid, ctx);
    }
    case QR_P_NEAR: {
        qr_it **kids;
        if ((rc = build_kids(&kids, p, ctx)))
            return rc;
        if (!kids[0] || !kids[1]) {
            free_all(kids, 2);
            return 0;
        }
        rc = qr_near_open(out, p, kids[0], kids[1], ctx);
        qr_free(kids);
        return rc;
    }
    }
    return QR_EINVAL;
}

/* ---- flat queries ------------------------------------------------------------------ */

bool qr_it_flat(qr_it *it, qr_it_flat_view *out)
{
    memset(out, 0, sizeof *out);
    if (!it->scores)
        return false;
    if (it->ops == &or_ops) {
        struct or_it *o = (struct or_it *)it;
        for (size_t i = 0; i < o->n; i++)
            if (!qr_it_is_plain_term(o->kids[i]))
                return false;
        out->is_or = true;
        out->pos = o->kids;
        out->npos = o->n;
        return true;
    }
    if (it->ops == &and_ops) {
        struct and_it *a = (struct and_it *)it;
        for (size_t i = 0; i < a->npos; i++)
            if (!qr_it_is_plain_term(a->pos[i]))
                return false;
        for (size_t i = 0; i < a->nneg; i++)
            if (!is_exact_term(a->neg[i]))
                return false;
        out->pos = a->pos;
        out->npos = a->npos;
        out->neg = a->neg;
        out->nneg = a->nneg;
        return true;
    }
    return false;
}

/* ---- conjunction window by window --------------------------------------------------- */

/*
 * A window is lopsided (stepped with seeks) when a clause has more than
 * WIN_SKEW docs in it per doc of the lead's, plus WIN_SLACK: a merge step
 * costs a few cycles, a seek (a binary search over a block, and the calls)
 * some dozens.
 */
#define WIN_SKEW  8u
#define WIN_SLACK 16u

/*
 * Windows are used only when no clause has more than WIN_RATIO times the
 * lead's docs: with a rarer lead most windows would be lopsided, and
 * building one to find that out costs more than the seeks (measured on
 * the enwiki phrases with merged windows: dfs within 2x of each other
 * gain 10-18%, 6x and beyond lost 10-20%, so the ratio was 4; with the
 * map's intersection, 8 against 4: "long walk" (4.7x) and "control
 * software" (4.5x) -40%, "direct calculation shows" -20%, the peers'
 * Phrase2 median -19%, nothing slower beyond the noise; 16 lost some of
 * that again, "virginia state" (15x) gaining 5%).
 */
#define WIN_RATIO 8u

bool qr_conj_win_applies(qr_it *const *lead, size_t n)
{
    bool ok = n >= 2;
    for (size_t i = 0; i < n && ok; i++)
        ok = lead[i]->ops == &term_ops && lead[i]->cost / WIN_RATIO <= lead[0]->cost;
    return ok;
}

int qr_conj_win_init(qr_conj_win *w, qr_it **lead, size_t n)
{
    memset(w, 0, sizeof *w);
    w->lead = lead;
    w->n = n;
    w->terms = qr_conj_win_applies(lead, n);
    if (!w->terms)
        return 0;
    /* one allocation (paid per segment): dv, doc, dn, then the bytes cur, idx and map */
    size_t per = sizeof *w->dv + sizeof *w->dn + sizeof *w->cur + QR_BLOCK * sizeof *w->idx;
    if (n > (SIZE_MAX - QR_BLOCK * sizeof *w->doc - QR_WIN_MAP) / per) {
        w->terms = false;
        return QR_ENOMEM;
    }
    w->dv = qr_calloc(1, QR_BLOCK * sizeof *w->doc + n * per + QR_WIN_MAP);
    if (!w->dv) {
        w->terms = false;
        return QR_ENOMEM;
    }
    w->doc = (uint32_t *)(w->dv + n);
    w->dn = w->doc + QR_BLOCK;
    w->cur = (uint8_t *)(w->dn + n);
    w->idx = w->cur + n;
    w->map = w->idx + n * QR_BLOCK;
    return 0;
}

void qr_conj_win_free(qr_conj_win *w)
{
    if (!w)
        return;
    qr_free(w->dv); /* the arrays' one allocation */
    w->doc = NULL;
    w->idx = w->cur = NULL;
    w->dv = NULL;
    w->dn = NULL;
    w->terms = false;
}

void qr_conj_win_reset(qr_conj_win *w)
{
    w->open = w->seeks = false;
    w->nc = w->at = 0;
}

/*
 * The intersection of win_build, for a window spanning fewer than
 * QR_WIN_MAP docs after base: each clause's docs are entered in w->map
 * (doc - base -> index + 1) and the common docs so far looked up there, so
 * the steps do not wait on each other (a merge's next load waits on its
 * last comparison); the map is cleared after each clause.
 */
static bool win_build_map(qr_conj_win *w, uint32_t base)
{
    uint8_t *m = w->map;
    const uint32_t *a = w->dv[0] + 1, *b = w->dv[1] + 1;
    uint32_t na = w->dn[0], nb = w->dn[1], k = 0;
    uint8_t *i0 = w->idx, *i1 = w->idx + QR_BLOCK;
    for (uint32_t j = 0; j < nb; j++)
        m[b[j] - base] = (uint8_t)(j + 1);
    for (uint32_t i = 0; i < na; i++) {
        uint32_t x = a[i];
        uint8_t y = m[x - base];
        w->doc[k] = x;
        i0[k] = (uint8_t)(i + 1);
        i1[k] = y;
        k += y != 0;
    }
    for (uint32_t j = 0; j < nb; j++)
        m[b[j] - base] = 0;
    for (size_t t = 2; t < w->n && k; t++) {
        const uint32_t *c = w->dv[t] + 1;
        uint32_t nt = w->dn[t], kk = 0;
        uint8_t *it = w->idx + t * QR_BLOCK;
        for (uint32_t j = 0; j < nt; j++)
            m[c[j] - base] = (uint8_t)(j + 1);
        for (uint32_t i = 0; i < k; i++) {
            uint32_t x = w->doc[i];
            uint8_t y = m[x - base];
            w->doc[kk] = x;
            for (size_t s = 0; s < t; s++)
                w->idx[s * QR_BLOCK + kk] = w->idx[s * QR_BLOCK + i];
            it[kk] = y;
            kk += y != 0;
        }
        for (uint32_t j = 0; j < nt; j++)
            m[c[j] - base] = 0;
        k = kk;
    }
    w->nc = k;
    w->at = 0;
    memset(w->cur, 0, w->n);
    return true;
}

/*
 * Builds the window from the doc where all clauses stand: the common docs
 * after it up to the first block end among the clauses (w->hi), with each
 * clause's index of them. Returns false when the window is lopsided.
 */
static bool win_build(qr_conj_win *w)
{
    size_t n = w->n;
    uint32_t hi = QR_DOC_END;
    for (size_t t = 0; t < n; t++) {
        qr_postings_iter *p = &((struct term_it *)w->lead[t])->p;
        /* the docs from the current one (index 0, the common doc) on */
        uint32_t m = qr_postings_block_docs(p, &w->dv[t]);
        w->dn[t] = m;
        hi = w->dv[t][m - 1] < hi ? w->dv[t][m - 1] : hi;
    }
    w->hi = hi;
    for (size_t t = 0; t < n; t++) /* the docs after the common one, up to hi */
        w->dn[t] = (uint32_t)qr_count_le(w->dv[t] + 1, w->dn[t] - 1, hi);
    for (size_t t = 1; t < n; t++)
        if (w->dn[t] > WIN_SKEW * w->dn[0] + WIN_SLACK)
            return false;
    /* the lead's docs against the second clause's, then each further one's */
    const uint32_t *a = w->dv[0] + 1, *b = w->dv[1] + 1;
    uint32_t na = w->dn[0], nb = w->dn[1], i = 0, j = 0, k = 0;
    uint8_t *i0 = w->idx, *i1 = w->idx + QR_BLOCK;
    uint32_t base = w->dv[0][0]; /* the common doc: every doc of the window is after it */
    if (hi - base < QR_WIN_MAP)
        return win_build_map(w, base);
    while (i < na && j < nb) {
        uint32_t x = a[i], y = b[j];
        w->doc[k] = x;
        i0[k] = (uint8_t)(i + 1);
        i1[k] = (uint8_t)(j + 1);
        k += x == y;
        i += x <= y;
        j += y <= x;
    }
    for (size_t t = 2; t < n && k; t++) {
        const uint32_t *c = w->dv[t] + 1;
        uint32_t nt = w->dn[t], m = 0;
        uint8_t *it = w->idx + t * QR_BLOCK;
        i = j = 0;
        while (i < k && j < nt) {
            uint32_t x = w->doc[i], y = c[j];
            w->doc[m] = x;
            for (size_t s = 0; s < t; s++)
                w->idx[s * QR_BLOCK + m] = w->idx[s * QR_BLOCK + i];
            it[m] = (uint8_t)(j + 1);
            m += x == y;
            i += x <= y;
            j += y <= x;
        }
        k = m;
    }
    w->nc = k;
    w->at = 0;
    memset(w->cur, 0, n);
    return true;
}

/* Moves every clause to the window's next common doc. */
static int win_move(qr_conj_win *w)
{
    uint32_t c = w->at++;
    int rc = 0;
    for (size_t t = 0; t < w->n && !rc; t++) {
        struct term_it *ti = (struct term_it *)w->lead[t];
        uint8_t to = w->idx[t * QR_BLOCK + c];
        qr_postings_advance_in_block(&ti->p, (uint32_t)(to - w->cur[t]));
        w->cur[t] = to;
        rc = term_settle(ti, 0);
    }
    return rc;
}

bool qr_conj_win_build(qr_conj_win *w)
{
    if (!w->terms || w->open)
        return w->open;
    uint32_t d = w->lead[0]->doc;
    if (w->seeks && d >= w->hi)
        w->seeks = false;
    if (!w->seeks && d != QR_DOC_END) {
        if (win_build(w))
            return w->open = true;
        w->seeks = true;
    }
    return false;
}

int qr_conj_win_next(qr_conj_win *w)
{
    qr_it **lead = w->lead;
    int rc;
    if (w->terms) {
        if (w->open) {
            if (w->at < w->nc)
                return win_move(w);
            /* no common doc is left in the window: on past its end */
            w->open = false;
            if ((rc = qr_it_seek(lead[0], w->hi + 1)))
                return rc;
            return qr_conj_align(lead, w->n);
        }
        if (qr_conj_win_build(w))
            return qr_conj_win_next(w);
    }
    if ((rc = qr_it_next(lead[0])))
        return rc;
    return qr_conj_align(lead, w->n);
}
