/*
 * The top-k collector and the ranking loop (see rank.h).
 */
#include "query/rank.h"

#include <math.h>
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
    if (t->cap == 0)
        return;
    if (t->n < t->cap) {
        t->heap[t->n++] = h;
        sift_up(t, t->n - 1);
        if (t->n == t->cap)
            set_threshold(t);
        return;
    }
    if (!qr_hit_before(t, &h, &t->heap[0]))
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

/* A lone term over every field: total from df, whole blocks skipped on their bound. */
static int rank_term(qr_topk *top, uint64_t *total, qr_it *it, qr_evalctx *ctx, bool count_only)
{
    int rc = 0;
    *total += it->cost; /* df of the segment: every posting is a match, no deletions here */
    if (count_only || top->cap == 0)
        return 0;
    while (it->doc != QR_DOC_END) {
        if (top->n == top->cap) {
            uint32_t last, mt, md;
            if (!qr_term_it_block(it, &last, &mt, &md))
                break;
            if (qr_it_bound(it) < top->threshold) {
                if (last >= QR_DOC_END - 1)
                    break;
                if ((rc = qr_it_seek(it, last + 1)))
                    return rc;
                continue;
            }
        }
        qr_topk_offer(top, qr_it_score(it), ctx->segi, it->doc);
        if ((rc = qr_it_next(it)))
            return rc;
    }
    return 0;
}

int qr_rank_segment(qr_topk *top, uint64_t *total, qr_it *root, qr_evalctx *ctx, bool count_only)
{
    int rc = 0;
    if (!root)
        return 0;
    if (!ctx->del && qr_it_is_plain_term(root))
        return rank_term(top, total, root, ctx, count_only);
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
