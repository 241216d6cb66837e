/*
 * Phrase and NEAR: two-phase iterators over positions (see phrase.h).
 *
 * A phrase drives from the term with the fewest positions in the candidate
 * document and checks the others with cursors that only move forward, so a
 * document costs O(sum of its terms' positions). NEAR splits both sides'
 * spans by field and counts, for each span of the left side, the right
 * spans with start <= e_a + k minus those with end < s_a - k (every span
 * ending before s_a - k also starts before e_a + k), by binary search over
 * sorted starts and ends.
 */
#include "query/phrase.h"

#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

/* ---- phrase ------------------------------------------------------------------------ */

struct phrase_it {
    qr_it base;
    qr_evalctx *ctx;
    qr_field field;
    double idf;           /* sum of the terms' idf */
    size_t n;             /* terms */
    qr_it **terms;        /* term iterators in phrase order */
    qr_it **lead;         /* the same, cheapest first */
    uint32_t *offs;       /* each term's offset */
    uint32_t last;        /* the last term's offset: a match spans start..start+last */
    const uint32_t **pos; /* scratch: positions of each term at the doc */
    uint32_t *npos;
    uint32_t *cur;
    uint32_t tf_doc; /* the doc whose matches are counted in tf */
    uint32_t tf;
};

static int phrase_next(qr_it *it)
{
    struct phrase_it *p = (struct phrase_it *)it;
    int rc = qr_it_next(p->lead[0]);
    if (!rc)
        rc = qr_conj_align(p->lead, p->n);
    it->doc = rc ? QR_DOC_END : p->lead[0]->doc;
    return rc;
}

static int phrase_seek(qr_it *it, uint32_t target)
{
    struct phrase_it *p = (struct phrase_it *)it;
    int rc = qr_it_seek(p->lead[0], target);
    if (!rc)
        rc = qr_conj_align(p->lead, p->n);
    it->doc = rc ? QR_DOC_END : p->lead[0]->doc;
    return rc;
}

/* Does a match starting at s lie inside the clause's field (and inside one field)? */
static bool in_field(qr_field f, uint64_t s, uint64_t e, uint32_t tp)
{
    switch (f) {
    case QR_FIELD_TITLE:
        return e < tp;
    case QR_FIELD_BODY:
        return s >= tp;
    default:
        return e < tp || s >= tp;
    }
}

/*
 * Walks the matches at the current doc; with out != NULL appends their
 * spans, else counts them into p->tf.
 */
static int phrase_walk(struct phrase_it *p, qr_spans *out)
{
    int rc;
    size_t drv = 0;
    for (size_t i = 0; i < p->n; i++) {
        if ((rc = qr_term_it_positions(p->terms[i], &p->pos[i], &p->npos[i])))
            return rc;
        p->cur[i] = 0;
        if (p->npos[i] < p->npos[drv])
            drv = i;
    }
    uint32_t tp = qr_doctable_title_positions(p->ctx->dt, p->base.doc);
    uint32_t tf = 0;
    for (uint32_t j = 0; j < p->npos[drv]; j++) {
        uint32_t at = p->pos[drv][j];
        if (at < p->offs[drv])
            continue;
        uint64_t s = (uint64_t)at - p->offs[drv];
        bool ok = true;
        for (size_t i = 0; ok && i < p->n; i++) {
            if (i == drv)
                continue;
            uint64_t want = s + p->offs[i];
            const uint32_t *v = p->pos[i];
            uint32_t c = p->cur[i];
            while (c < p->npos[i] && v[c] < want)
                c++;
            p->cur[i] = c;
            ok = c < p->npos[i] && v[c] == want;
        }
        if (!ok || !in_field(p->field, s, s + p->last, tp))
            continue;
        if (out) {
            if ((rc = qr_spans_push(out, (uint32_t)s, (uint32_t)(s + p->last))))
                return rc;
        } else {
            tf++;
        }
    }
    if (!out) {
        p->tf = tf;
        p->tf_doc = p->base.doc;
    }
    return 0;
}

static int phrase_match(qr_it *it, bool *out)
{
    struct phrase_it *p = (struct phrase_it *)it;
    int rc = 0;
    if (p->tf_doc != it->doc)
        rc = phrase_walk(p, NULL);
    *out = !rc && p->tf > 0;
    return rc;
}

static double phrase_score(qr_it *it)
{
    struct phrase_it *p = (struct phrase_it *)it;
    if (!it->scores)
        return 0;
    return qr_bm25_norm(p->idf, p->tf, qr_evalctx_norm(p->ctx, it->doc));
}

static double phrase_bound(qr_it *it)
{
    struct phrase_it *p = (struct phrase_it *)it;
    if (!it->scores)
        return 0;
    uint32_t max_tf = UINT32_MAX, min_dl = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t last, mt, md;
        if (!qr_term_it_block(p->terms[i], &last, &mt, &md))
            return 0;
        if (mt < max_tf)
            max_tf = mt;
        if (md > min_dl)
            min_dl = md;
    }
    return qr_bm25_bound(p->idf, max_tf, min_dl, p->ctx->avgdl);
}

static int phrase_spans(qr_it *it, qr_spans *out)
{
    return phrase_walk((struct phrase_it *)it, out);
}

static void phrase_free(qr_it *it)
{
    struct phrase_it *p = (struct phrase_it *)it;
    for (size_t i = 0; i < p->n; i++)
        qr_it_free(p->terms[i]);
    qr_free(p->terms);
    qr_free(p->lead);
    qr_free(p->offs);
    qr_free(p->pos);
    qr_free(p->npos);
    qr_free(p->cur);
    qr_free(p);
}

static const qr_it_ops phrase_ops = {phrase_next,  phrase_seek,  phrase_match, phrase_score,
                                     phrase_bound, phrase_spans, phrase_free};

int qr_phrase_open(qr_it **out, const qr_pnode *pn, qr_evalctx *ctx)
{
    *out = NULL;
    for (uint32_t i = 0; i < pn->nterms; i++)
        if (pn->terms[i].metas[ctx->segi].df == 0)
            return 0; /* a term absent from the segment: no match here */
    struct phrase_it *p = qr_calloc(1, sizeof *p);
    if (!p)
        return QR_ENOMEM;
    size_t n = pn->nterms;
    p->base.ops = &phrase_ops;
    p->base.scores = pn->scores;
    p->ctx = ctx;
    p->field = pn->field;
    p->idf = pn->idf;
    p->n = n;
    p->tf_doc = QR_DOC_END;
    p->terms = qr_calloc(n, sizeof *p->terms);
    p->lead = qr_calloc(n, sizeof *p->lead);
    p->offs = qr_calloc(n, sizeof *p->offs);
    p->pos = qr_calloc(n, sizeof *p->pos);
    p->npos = qr_calloc(n, sizeof *p->npos);
    p->cur = qr_calloc(n, sizeof *p->cur);
    int rc = QR_ENOMEM;
    if (!p->terms || !p->lead || !p->offs || !p->pos || !p->npos || !p->cur)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if ((rc = qr_term_it_open(&p->terms[i], &pn->terms[i], ctx, QR_FIELD_ANY, false)))
            goto fail;
        p->offs[i] = pn->terms[i].off;
        p->lead[i] = p->terms[i];
    }
    p->last = p->offs[n - 1];
    qr_sort_by_cost(p->lead, n);
    p->base.cost = p->lead[0]->cost;
    if (pn->scores) {
        uint32_t max_tf = UINT32_MAX, min_dl = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t mt, md;
            qr_term_it_term_max(p->terms[i], &mt, &md);
            max_tf = mt < max_tf ? mt : max_tf;
            min_dl = md > min_dl ? md : min_dl;
        }
        p->base.max_score = qr_bm25_bound(p->idf, max_tf, min_dl, ctx->avgdl);
    }
    if ((rc = qr_conj_align(p->lead, n)))
        goto fail;
    p->base.doc = p->lead[0]->doc;
    *out = &p->base;
    return 0;
fail:
    phrase_free(&p->base);
    return rc;
}

/* ---- NEAR -------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Number of v[0..n) (sorted) that are <= x. */
static size_t count_le(const uint32_t *v, size_t n, uint64_t x)
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

/* Number of v[0..n) (sorted) that are < x (x may be negative). */
static size_t count_lt(const uint32_t *v, size_t n, int64_t x)
{
    if (x <= 0)
        return 0;
    return count_le(v, n, (uint64_t)x - 1);
}

uint64_t qr_near_count(const qr_span *a, size_t na, uint32_t *starts, uint32_t *ends, size_t nb,
                       uint32_t k)
{
    if (na == 0 || nb == 0)
        return 0;
    qsort(starts, nb, sizeof *starts, cmp_u32);
    qsort(ends, nb, sizeof *ends, cmp_u32);
    uint64_t pairs = 0;
    for (size_t i = 0; i < na; i++) {
        uint64_t x = (uint64_t)a[i].end + k;
        int64_t y = (int64_t)a[i].start - (int64_t)k;
        pairs += count_le(starts, nb, x) - count_lt(ends, nb, y);
    }
    return pairs;
}

struct near_it {
    qr_it base;
    qr_evalctx *ctx;
    qr_it *kid[2];  /* left, right */
    qr_it *lead[2]; /* cheapest first */
    uint32_t k;
    double idf;
    uint32_t tf_doc; /* the doc whose pairs are counted in tf */
    double tf;
    qr_spans sp[2]; /* scratch: each side's spans */
    uint32_t *starts, *ends;
    size_t cap;
};

static int near_next(qr_it *it)
{
    struct near_it *n = (struct near_it *)it;
    int rc = qr_it_next(n->lead[0]);
    if (!rc)
        rc = qr_conj_align(n->lead, 2);
    it->doc = rc ? QR_DOC_END : n->lead[0]->doc;
    return rc;
}

static int near_seek(qr_it *it, uint32_t target)
{
    struct near_it *n = (struct near_it *)it;
    int rc = qr_it_seek(n->lead[0], target);
    if (!rc)
        rc = qr_conj_align(n->lead, 2);
    it->doc = rc ? QR_DOC_END : n->lead[0]->doc;
    return rc;
}

static int span_cmp(const void *a, const void *b)
{
    const qr_span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Both sides' spans at the current doc, each sorted; false when a side does not match. */
static int near_load(struct near_it *n, bool *out)
{
    int rc;
    *out = false;
    for (int s = 0; s < 2; s++) {
        bool m;
        if ((rc = qr_it_match(n->kid[s], &m)))
            return rc;
        if (!m)
            return 0;
    }
    for (int s = 0; s < 2; s++) {
        n->sp[s].n = 0;
        if ((rc = qr_it_spans(n->kid[s], &n->sp[s])))
            return rc;
        qsort(n->sp[s].v, n->sp[s].n, sizeof *n->sp[s].v, span_cmp);
    }
    *out = true;
    return 0;
}

/* The spans of side s split at the title boundary: [0, *split) are title spans. */
static size_t split_at(const qr_spans *sp, uint32_t tp)
{
    size_t i = 0;
    while (i < sp->n && sp->v[i].start < tp)
        i++;
    return i;
}

static int near_count(struct near_it *n)
{
    bool ok;
    int rc = near_load(n, &ok);
    n->tf = 0;
    n->tf_doc = n->base.doc;
    if (rc || !ok)
        return rc;
    size_t nb = n->sp[1].n;
    if (nb > n->cap) {
        uint32_t *s = qr_reallocarray(n->starts, nb, sizeof *s);
        if (s)
            n->starts = s;
        uint32_t *e = qr_reallocarray(n->ends, nb, sizeof *e);
        if (e)
            n->ends = e;
        if (!s || !e)
            return QR_ENOMEM;
        n->cap = nb;
    }
    uint32_t tp = qr_doctable_title_positions(n->ctx->dt, n->base.doc);
    size_t sa = split_at(&n->sp[0], tp), sb = split_at(&n->sp[1], tp);
    const qr_span *a = n->sp[0].v, *b = n->sp[1].v;
    uint64_t pairs = 0;
    /* title with title, then body with body */
    for (int f = 0; f < 2; f++) {
        size_t a0 = f ? sa : 0, a1 = f ? n->sp[0].n : sa;
        size_t b0 = f ? sb : 0, b1 = f ? nb : sb;
        for (size_t i = b0; i < b1; i++) {
            n->starts[i - b0] = b[i].start;
            n->ends[i - b0] = b[i].end;
        }
        pairs += qr_near_count(a + a0, a1 - a0, n->starts, n->ends, b1 - b0, n->k);
    }
    n->tf = (double)pairs;
    return 0;
}

static int near_match(qr_it *it, bool *out)
{
    struct near_it *n = (struct near_it *)it;
    int rc = 0;
    if (n->tf_doc != it->doc)
        rc = near_count(n);
    *out = !rc && n->tf > 0;
    return rc;
}

static double near_score(qr_it *it)
{
    struct near_it *n = (struct near_it *)it;
    if (!it->scores)
        return 0;
    return qr_bm25_norm(n->idf, n->tf, qr_evalctx_norm(n->ctx, it->doc));
}

static double near_bound(qr_it *it)
{
    return it->max_score;
}

/* The occurrences of a NEAR: every matching pair, spanning both of its spans. */
static int near_spans(qr_it *it, qr_spans *out)
{
    struct near_it *n = (struct near_it *)it;
    bool ok;
    int rc = near_load(n, &ok);
    if (rc || !ok)
        return rc;
    uint32_t tp = qr_doctable_title_positions(n->ctx->dt, it->doc);
    const qr_spans *A = &n->sp[0], *B = &n->sp[1];
    for (size_t i = 0; i < A->n; i++) {
        qr_span a = A->v[i];
        bool a_title = a.start < tp;
        for (size_t j = 0; j < B->n; j++) {
            qr_span b = B->v[j];
            if ((uint64_t)b.start > (uint64_t)a.end + n->k)
                break; /* sorted by start: no later b is close enough */
            if ((b.start < tp) != a_title)
                continue;
            if ((int64_t)b.end < (int64_t)a.start - (int64_t)n->k)
                continue;
            uint32_t s = a.start < b.start ? a.start : b.start;
            uint32_t e = a.end > b.end ? a.end : b.end;
            if ((rc = qr_spans_push(out, s, e)))
                return rc;
        }
    }
    return 0;
}

static void near_free(qr_it *it)
{
    struct near_it *n = (struct near_it *)it;
    qr_it_free(n->kid[0]);
    qr_it_free(n->kid[1]);
    qr_spans_free(&n->sp[0]);
    qr_spans_free(&n->sp[1]);
    qr_free(n->starts);
    qr_free(n->ends);
    qr_free(n);
}

static const qr_it_ops near_ops = {near_next,  near_seek,  near_match, near_score,
                                   near_bound, near_spans, near_free};

int qr_near_open(qr_it **out, const qr_pnode *pn, qr_it *left, qr_it *right, qr_evalctx *ctx)
{
    *out = NULL;
    struct near_it *n = qr_calloc(1, sizeof *n);
    if (!n) {
        qr_it_free(left);
        qr_it_free(right);
        return QR_ENOMEM;
    }
    n->base.ops = &near_ops;
    n->base.scores = pn->scores;
    n->ctx = ctx;
    n->kid[0] = n->lead[0] = left;
    n->kid[1] = n->lead[1] = right;
    n->k = pn->near_k;
    n->idf = pn->idf;
    n->tf_doc = QR_DOC_END;
    qr_sort_by_cost(n->lead, 2);
    n->base.cost = n->lead[0]->cost;
    /* tf (k1 + 1) / (tf + norm) < k1 + 1 for every tf: the bound of any NEAR. */
    n->base.max_score = pn->scores && n->idf > 0 ? n->idf * (QR_K1 + 1) : 0;
    int rc = qr_conj_align(n->lead, 2);
    if (rc) {
        near_free(&n->base);
        return rc;
    }
    n->base.doc = n->lead[0]->doc;
    *out = &n->base;
    return 0;
}
