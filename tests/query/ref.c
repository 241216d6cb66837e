/*
 * The reference evaluator (see ref.h): SPEC applied literally, document by
 * document, with no index structure but sorted token lists.
 */
#include "ref.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"
#include "storage/docstore.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"

struct rtok {
    char *term;
    uint32_t len;
    uint32_t pos;
};

struct rdoc {
    char *path;
    int deleted;
    uint32_t tp, dl;   /* title positions, document length */
    struct rtok *toks; /* sorted by term, then position */
    size_t n;
};

struct vterm {
    const char *term;
    uint32_t len;
    uint64_t df;
};

struct ref_index {
    struct rdoc *docs;
    size_t n;
    uint64_t N;
    double avgdl;
    struct vterm *vocab; /* every term of every physical document, sorted */
    size_t nvocab;
};

static int bcmp_term(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = memcmp(a, b, n);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int tok_cmp(const void *x, const void *y)
{
    const struct rtok *a = x, *b = y;
    int c = bcmp_term(a->term, a->len, b->term, b->len);
    if (c)
        return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

struct collect {
    struct rdoc *d;
    size_t cap;
};

static int collect_tok(void *ctx, const qr_token *t)
{
    struct collect *c = ctx;
    if (c->d->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->d->toks = realloc(c->d->toks, c->cap * sizeof *c->d->toks);
    }
    struct rtok *r = &c->d->toks[c->d->n++];
    r->term = strndup(t->term, t->len);
    r->len = (uint32_t)t->len;
    r->pos = t->pos;
    return 0;
}

/* Sort helper for the vocabulary build. */
static int vt_cmp(const void *x, const void *y)
{
    const struct vterm *a = x, *b = y;
    return bcmp_term(a->term, a->len, b->term, b->len);
}

int ref_load(ref_index **out, qr_dir *dir)
{
    qr_manifest m;
    int rc = qr_manifest_load(&m, dir);
    if (rc)
        return rc;
    qr_analyzer *an;
    cr_assert_eq(qr_analyzer_open(&an, m.language), 0);
    ref_index *r = calloc(1, sizeof *r);
    size_t cap = 0;
    uint64_t live_positions = 0;
    for (uint32_t s = 0; s < m.nsegs; s++) {
        qr_segment *seg;
        cr_assert_eq(qr_segment_open(&seg, dir, m.segs[s].id, true), 0);
        qr_deletes del;
        if (m.segs[s].del_gen)
            cr_assert_eq(
                qr_deletes_read(&del, dir, m.segs[s].id, m.segs[s].del_gen, m.segs[s].docs), 0);
        else
            qr_deletes_init(&del, m.segs[s].docs);
        const qr_doctable *dt = qr_segment_doctable(seg);
        for (uint32_t d = 0; d < qr_segment_docs(seg); d++) {
            if (r->n == cap) {
                cap = cap ? cap * 2 : 64;
                r->docs = realloc(r->docs, cap * sizeof *r->docs);
            }
            struct rdoc *doc = &r->docs[r->n++];
            memset(doc, 0, sizeof *doc);
            qr_slice p = qr_doctable_path(dt, d);
            doc->path = strndup((const char *)p.p, p.n);
            doc->deleted = qr_deletes_has(&del, d);
            qr_slice title, body;
            cr_assert_eq(qr_docstore_get(qr_segment_docstore(seg), d, &title, &body), 0);
            struct collect c = {doc, 0};
            uint32_t tp = 0, bp = 0;
            cr_assert_eq(qr_analyze(an, (const char *)title.p, title.n, 0, 0, collect_tok, &c, &tp),
                         0);
            cr_assert_eq(qr_analyze(an, (const char *)body.p, body.n, tp, 0, collect_tok, &c, &bp),
                         0);
            doc->tp = tp;
            doc->dl = tp + bp;
            if (doc->n)
                qsort(doc->toks, doc->n, sizeof *doc->toks, tok_cmp);
            if (!doc->deleted) {
                r->N++;
                live_positions += doc->dl;
            }
        }
        qr_deletes_free(&del);
        qr_segment_close(seg);
    }
    r->avgdl = r->N ? (double)live_positions / (double)r->N : 0;
    /* Vocabulary: each term once per physical document, then counted. */
    size_t nv = 0, vcap = 0;
    struct vterm *v = NULL;
    for (size_t i = 0; i < r->n; i++) {
        struct rdoc *d = &r->docs[i];
        for (size_t j = 0; j < d->n; j++) {
            if (j > 0 && !bcmp_term(d->toks[j].term, d->toks[j].len, d->toks[j - 1].term,
                                    d->toks[j - 1].len))
                continue;
            if (nv == vcap) {
                vcap = vcap ? vcap * 2 : 1024;
                v = realloc(v, vcap * sizeof *v);
            }
            v[nv].term = d->toks[j].term;
            v[nv].len = d->toks[j].len;
            v[nv].df = 1;
            nv++;
        }
    }
    if (nv)
        qsort(v, nv, sizeof *v, vt_cmp);
    size_t u = 0;
    for (size_t i = 0; i < nv; i++) {
        if (u && !vt_cmp(&v[u - 1], &v[i]))
            v[u - 1].df++;
        else
            v[u++] = v[i];
    }
    r->vocab = v;
    r->nvocab = u;
    qr_analyzer_close(an);
    qr_manifest_free(&m);
    *out = r;
    return 0;
}

void ref_free(ref_index *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->docs[i].n; j++)
            free(r->docs[i].toks[j].term);
        free(r->docs[i].toks);
        free(r->docs[i].path);
    }
    free(r->docs);
    free(r->vocab);
    free(r);
}

uint64_t ref_docs(const ref_index *r)
{
    return r->N;
}

/* ---- statistics ----------------------------------------------------------------- */

static uint64_t df_of(const ref_index *r, const char *t, size_t len)
{
    struct vterm key = {t, (uint32_t)len, 0};
    struct vterm *f = bsearch(&key, r->vocab, r->nvocab, sizeof key, vt_cmp);
    return f ? f->df : 0;
}

static double idf_of(const ref_index *r, const char *t, size_t len)
{
    double N = (double)r->N, df = (double)df_of(r, t, len);
    return log(1 + (N - df + 0.5) / (df + 0.5));
}

static double bm25(const ref_index *r, double idf, double tf, double dl)
{
    double k1 = 1.2, b = 0.75;
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / r->avgdl));
}

/* The vocabulary range of terms starting with p. */
static void prefix_range(const ref_index *r, const char *p, size_t len, size_t *lo, size_t *hi)
{
    size_t a = 0, b = r->nvocab;
    while (a < b) {
        size_t mid = (a + b) / 2;
        if (bcmp_term(r->vocab[mid].term, r->vocab[mid].len, p, len) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    while (a < r->nvocab && r->vocab[a].len >= len && !memcmp(r->vocab[a].term, p, len))
        a++;
    *hi = a;
}

/* ---- evaluation ------------------------------------------------------------------ */

struct span {
    int64_t s, e;
};

struct res {
    int m;
    double score;
    struct span *sp;
    size_t nsp, capsp;
};

static void add_span(struct res *x, int64_t s, int64_t e)
{
    if (x->nsp == x->capsp) {
        x->capsp = x->capsp ? x->capsp * 2 : 8;
        x->sp = realloc(x->sp, x->capsp * sizeof *x->sp);
    }
    x->sp[x->nsp].s = s;
    x->sp[x->nsp].e = e;
    x->nsp++;
}

/* Positions of term t in doc d (all fields), sorted. */
static const struct rtok *positions(const struct rdoc *d, const char *t, size_t len, size_t *n)
{
    size_t a = 0, b = d->n;
    while (a < b) {
        size_t mid = (a + b) / 2;
        if (bcmp_term(d->toks[mid].term, d->toks[mid].len, t, len) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    size_t e = a;
    while (e < d->n && !bcmp_term(d->toks[e].term, d->toks[e].len, t, len))
        e++;
    *n = e - a;
    return d->toks + a;
}

/* Is the span s..e inside one field, and inside field f? */
static int field_ok(const struct rdoc *d, qr_field f, int64_t s, int64_t e)
{
    int title = e < d->tp, body = s >= d->tp;
    if (f == QR_FIELD_TITLE)
        return title;
    if (f == QR_FIELD_BODY)
        return body;
    return title || body;
}

/* The idf sum over every term of a NEAR side, left to right, NOT subtrees excluded. */
static void near_idf(const ref_index *r, const qr_qnode *q, double *sum)
{
    switch (q->kind) {
    case QR_QTERM:
    case QR_QPHRASE:
        for (uint32_t i = 0; i < q->n; i++)
            *sum += idf_of(r, q->terms[i].text, q->terms[i].len);
        break;
    case QR_QPREFIX: {
        size_t lo, hi;
        prefix_range(r, q->terms[0].text, q->terms[0].len, &lo, &hi);
        for (size_t i = lo; i < hi; i++)
            *sum += idf_of(r, r->vocab[i].term, r->vocab[i].len);
        break;
    }
    case QR_QNOT:
        break;
    default:
        for (uint32_t i = 0; i < q->n; i++)
            near_idf(r, q->kids[i], sum);
    }
}

static void eval(const ref_index *r, const struct rdoc *d, const qr_qnode *q, struct res *out)
{
    memset(out, 0, sizeof *out);
    switch (q->kind) {
    case QR_QTERM: {
        size_t n;
        const struct rtok *p = positions(d, q->terms[0].text, q->terms[0].len, &n);
        uint32_t tf = 0;
        for (size_t i = 0; i < n; i++) {
            if (field_ok(d, q->field, p[i].pos, p[i].pos)) {
                tf++;
                add_span(out, p[i].pos, p[i].pos);
            }
        }
        out->m = tf > 0;
        if (tf)
            out->score = bm25(r, idf_of(r, q->terms[0].text, q->terms[0].len), tf, d->dl);
        break;
    }
    case QR_QPHRASE: {
        size_t n0;
        const struct rtok *p0 = positions(d, q->terms[0].text, q->terms[0].len, &n0);
        uint32_t last = q->terms[q->n - 1].off, tf = 0;
        for (size_t i = 0; i < n0; i++) {
            int64_t s = p0[i].pos;
            int ok = 1;
            for (uint32_t j = 1; ok && j < q->n; j++) {
                size_t nj;
                const struct rtok *pj = positions(d, q->terms[j].text, q->terms[j].len, &nj);
                ok = 0;
                for (size_t x = 0; x < nj; x++)
                    if (pj[x].pos == s + q->terms[j].off)
                        ok = 1;
            }
            if (ok && field_ok(d, q->field, s, s + last)) {
                tf++;
                add_span(out, s, s + last);
            }
        }
        out->m = tf > 0;
        if (tf) {
            double idf = 0;
            for (uint32_t j = 0; j < q->n; j++)
                idf += idf_of(r, q->terms[j].text, q->terms[j].len);
            out->score = bm25(r, idf, tf, d->dl);
        }
        break;
    }
    case QR_QPREFIX: {
        /* the document's own terms with the prefix, in bytewise order */
        const char *p = q->terms[0].text;
        size_t plen = q->terms[0].len, a = 0, b = d->n;
        while (a < b) {
            size_t mid = (a + b) / 2;
            if (bcmp_term(d->toks[mid].term, d->toks[mid].len, p, plen) < 0)
                a = mid + 1;
            else
                b = mid;
        }
        while (a < d->n && d->toks[a].len >= plen && !memcmp(d->toks[a].term, p, plen)) {
            const struct rtok *t = &d->toks[a];
            uint32_t tf = 0;
            for (; a < d->n && !bcmp_term(d->toks[a].term, d->toks[a].len, t->term, t->len); a++) {
                if (field_ok(d, q->field, d->toks[a].pos, d->toks[a].pos)) {
                    tf++;
                    add_span(out, d->toks[a].pos, d->toks[a].pos);
                }
            }
            if (tf) {
                out->m = 1;
                out->score += bm25(r, idf_of(r, t->term, t->len), tf, d->dl);
            }
        }
        break;
    }
    case QR_QNOT: {
        struct res k;
        eval(r, d, q->kids[0], &k);
        out->m = !k.m;
        free(k.sp);
        break;
    }
    case QR_QAND:
    case QR_QOR: {
        int all = 1, any = 0;
        for (uint32_t i = 0; i < q->n; i++) {
            struct res k;
            eval(r, d, q->kids[i], &k);
            if (k.m) {
                any = 1;
                out->score += k.score;
                for (size_t j = 0; j < k.nsp; j++)
                    add_span(out, k.sp[j].s, k.sp[j].e);
            } else {
                all = 0;
            }
            free(k.sp);
        }
        out->m = q->kind == QR_QAND ? all : any;
        if (!out->m) {
            out->score = 0;
            out->nsp = 0;
        }
        break;
    }
    case QR_QNEAR: {
        struct res a, b;
        eval(r, d, q->kids[0], &a);
        eval(r, d, q->kids[1], &b);
        uint64_t pairs = 0;
        if (a.m && b.m) {
            for (size_t i = 0; i < a.nsp; i++) {
                for (size_t j = 0; j < b.nsp; j++) {
                    struct span x = a.sp[i], y = b.sp[j];
                    int same = (x.s < d->tp) == (y.s < d->tp);
                    int64_t gap = 0;
                    if (y.s - x.e > gap)
                        gap = y.s - x.e;
                    if (x.s - y.e > gap)
                        gap = x.s - y.e;
                    if (same && gap <= (int64_t)q->near_k) {
                        pairs++;
                        add_span(out, x.s < y.s ? x.s : y.s, x.e > y.e ? x.e : y.e);
                    }
                }
            }
        }
        out->m = pairs > 0;
        if (pairs) {
            double idf = 0;
            near_idf(r, q->kids[0], &idf);
            near_idf(r, q->kids[1], &idf);
            out->score = bm25(r, idf, (double)pairs, d->dl);
        }
        free(a.sp);
        free(b.sp);
        break;
    }
    }
}

/* A NOT scores nothing under it: drop the score of a negated subtree. */
static double root_score(const qr_qnode *q, double s)
{
    return q->kind == QR_QNOT ? 0 : s;
}

static int hit_cmp(const void *x, const void *y)
{
    const ref_hit *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return strcmp(a->path, b->path);
}

void ref_search(ref_index *r, const qr_query *q, uint64_t *total, ref_hit **hits, size_t *nhits)
{
    *total = 0;
    *hits = calloc(r->n ? r->n : 1, sizeof **hits);
    *nhits = 0;
    if (!q->root || r->N == 0)
        return;
    for (size_t i = 0; i < r->n; i++) {
        const struct rdoc *d = &r->docs[i];
        if (d->deleted)
            continue;
        struct res x;
        eval(r, d, q->root, &x);
        if (x.m) {
            (*hits)[*nhits].path = d->path;
            (*hits)[*nhits].score = root_score(q->root, x.score);
            (*nhits)++;
        }
        free(x.sp);
    }
    *total = *nhits;
    qsort(*hits, *nhits, sizeof **hits, hit_cmp);
}
