/*
 * Segment merging (see merger.h): three k-way merges over binary heaps of
 * source indices, one for document paths, one for terms, and, within each
 * term, one for postings by new doc id.
 *
 * Document ids are remapped through one array per source (old id -> new id,
 * or NONE for a deleted doc). Since each source's docs are in path order and
 * the merged docs are too, every map is increasing, so each source's
 * postings stay in new-id order and the postings merge needs no sorting.
 * Stored text is copied through the sources' docstores (decompressed and
 * recompressed by the new segment's writer). The new segment's big files
 * stream out as they are written. The sources are read once and in order
 * (documents: .dmt and .sto; then terms: .tdi, .doc and .pos), so the
 * pages read are given back as the merge goes (qr_segment_release, about
 * every QR_SEG_RELEASE_BYTES read): they would otherwise stay resident
 * until the sources close, as much memory as the sources' size.
 */
#include "index/merger.h"

#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

#define NONE UINT32_MAX

/* ---- a binary min-heap of source indices ---- */

typedef bool (*less_fn)(const void *ctx, size_t a, size_t b);

struct heap {
    size_t *v;
    size_t n;
    less_fn less;
    const void *ctx;
};

static void sift_down(struct heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->less(h->ctx, h->v[l], h->v[m]))
            m = l;
        if (r < h->n && h->less(h->ctx, h->v[r], h->v[m]))
            m = r;
        if (m == i)
            return;
        size_t t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

static void heap_push(struct heap *h, size_t x)
{
    size_t i = h->n++;
    h->v[i] = x;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!h->less(h->ctx, h->v[i], h->v[p]))
            break;
        size_t t = h->v[i];
        h->v[i] = h->v[p];
        h->v[p] = t;
        i = p;
    }
}

static void heap_pop(struct heap *h)
{
    h->v[0] = h->v[--h->n];
    sift_down(h, 0);
}

static int cmp_slices(qr_slice a, qr_slice b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    return c ? c : (a.n > b.n) - (a.n < b.n);
}

/* ---- the policy ---- */

uint64_t qr_merge_cost(const uint64_t bytes[QR_SEG_FILE_COUNT])
{
    return 2 * (bytes[QR_SEG_TDI] + bytes[QR_SEG_DMT]);
}

static unsigned tier_of(uint64_t cost, unsigned factor)
{
    unsigned t = 0;
    for (uint64_t x = cost / QR_MERGE_FLOOR; x >= factor; x /= factor)
        t++;
    return t;
}

size_t qr_merge_pick(size_t *out, const qr_merge_cand *c, size_t n, unsigned factor,
                     uint64_t max_cost)
{
    if (factor < 2)
        factor = QR_MERGE_FACTOR;
    if (!max_cost)
        max_cost = UINT64_MAX;
    /* A mostly deleted segment is rewritten on its own. */
    for (size_t i = 0; i < n; i++) {
        uint32_t live = c[i].docs - c[i].deleted;
        if (live && c[i].deleted > live && c[i].cost <= max_cost) {
            out[0] = i;
            return 1;
        }
    }
    /* The lowest tier with `factor` segments or more: its cheapest that fit together. */
    for (unsigned t = 0; t < 65; t++) {
        size_t k = 0, stored = 0;
        for (size_t i = 0; i < n; i++)
            if (c[i].docs > c[i].deleted && tier_of(c[i].cost, factor) == t) {
                if (stored < QR_MERGE_MAX_GROUP)
                    out[stored++] = i;
                k++;
            }
        if (k < factor)
            continue;
        k = stored;
        /* Sort the members by cost (insertion sort: at most QR_MERGE_MAX_GROUP). */
        for (size_t i = 1; i < k; i++) {
            size_t x = out[i], j = i;
            while (j > 0 && c[out[j - 1]].cost > c[x].cost) {
                out[j] = out[j - 1];
                j--;
            }
            out[j] = x;
        }
        size_t m = 0;
        uint64_t sum = 0;
        while (m < k && c[out[m]].cost <= max_cost - sum)
            sum += c[out[m++]].cost;
        if (m < 2)
            continue;
        /* Back to index order. */
        for (size_t i = 1; i < m; i++) {
            size_t x = out[i], j = i;
            while (j > 0 && out[j - 1] > x) {
                out[j] = out[j - 1];
                j--;
            }
            out[j] = x;
        }
        return m;
    }
    return 0;
}

/* ---- documents ---- */

struct docsrc {
    const qr_doctable *t;
    const qr_deletes *del;
    uint32_t next;  /* next doc to visit */
    uint32_t count; /* docs in the source */
};

static bool doc_less(const void *ctx, size_t a, size_t b)
{
    const struct docsrc *d = ctx;
    int c = cmp_slices(qr_doctable_path(d[a].t, d[a].next), qr_doctable_path(d[b].t, d[b].next));
    return c ? c < 0 : a < b;
}

/* Releases the pages read of the files in mask of every source. */
static void release_all(const qr_merge_src *src, size_t n, unsigned mask)
{
    for (size_t i = 0; i < n; i++)
        qr_segment_release(src[i].seg, mask);
}

/* Adds every live doc in path order to w and fills the id maps; *out_docs = docs added. */
static int merge_docs(qr_segment_writer *w, const qr_merge_src *src, size_t n, uint32_t **map,
                      size_t *heapv, uint32_t *out_docs)
{
    struct docsrc *ds = qr_calloc(n, sizeof *ds);
    if (!ds)
        return QR_ENOMEM;
    struct heap h = {heapv, 0, doc_less, ds};
    for (size_t i = 0; i < n; i++) {
        ds[i].t = qr_segment_doctable(src[i].seg);
        ds[i].del = src[i].del;
        ds[i].count = qr_doctable_count(ds[i].t);
        if (ds[i].count)
            heap_push(&h, i);
    }
    int rc = QR_OK;
    uint32_t next_id = 0;
    qr_slice last = {NULL, 0};
    size_t read = 0; /* bytes of text and paths since the last release (.sto is smaller) */
    while (h.n) {
        size_t s = h.v[0];
        uint32_t doc = ds[s].next;
        if (ds[s].del && qr_deletes_has(ds[s].del, doc)) {
            map[s][doc] = NONE;
        } else {
            qr_slice path = qr_doctable_path(ds[s].t, doc);
            if (next_id && !cmp_slices(path, last)) {
                rc = QR_EINVAL; /* one path live in two sources */
                break;
            }
            qr_doc_meta meta;
            qr_doctable_meta(ds[s].t, doc, &meta);
            qr_slice title, body;
            if ((rc = qr_docstore_get(qr_segment_docstore(src[s].seg), doc, &title, &body)))
                break;
            qr_doc_in in = {
                .path = (const char *)path.p,
                .path_len = path.n,
                .title = (const char *)title.p,
                .title_len = title.n,
                .body = (const char *)body.p,
                .body_len = body.n,
                .positions = meta.positions,
                .title_positions = meta.title_positions,
                .size = meta.size,
                .mtime_ns = meta.mtime_ns,
                .hash = meta.hash,
            };
            if ((rc = qr_segment_writer_add_doc(w, &in)))
                break;
            map[s][doc] = next_id++;
            last = path;
            read += path.n + title.n + body.n;
            if (read >= QR_SEG_RELEASE_BYTES) {
                release_all(src, n, QR_SEG_BIT(QR_SEG_STO) | QR_SEG_BIT(QR_SEG_DMT));
                read = 0;
            }
        }
        if (++ds[s].next < ds[s].count)
            sift_down(&h, 0);
        else
            heap_pop(&h);
    }
    qr_free(ds);
    *out_docs = next_id;
    return rc;
}

/* ---- terms ---- */

struct termsrc {
    qr_termdict_iter it;
    qr_slice term;     /* current term (valid until the iterator moves) */
    qr_term_meta meta; /* its meta */
};

static bool term_less(const void *ctx, size_t a, size_t b)
{
    const struct termsrc *t = ctx;
    int c = cmp_slices(t[a].term, t[b].term);
    return c ? c < 0 : a < b;
}

/* Moves source i to its next term and pushes it back if there is one. */
static int term_advance(struct heap *h, struct termsrc *ts, size_t i)
{
    int r = qr_termdict_next(&ts[i].it, &ts[i].term, &ts[i].meta);
    if (r < 0)
        return r;
    if (r == 1)
        heap_push(h, i);
    return QR_OK;
}

/* Opens a term iterator over every source; pushes those that have a term. */
static int terms_start(struct heap *h, struct termsrc *ts, const qr_segment *const *segs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = qr_segment_prefix(segs[i], "", 0, &ts[i].it);
        if (rc)
            return rc;
        if ((rc = term_advance(h, ts, i)))
            return rc;
    }
    return QR_OK;
}

struct postsrc {
    qr_postings_iter it;
    const uint32_t *map; /* old id -> new id of the source */
    uint32_t count;      /* docs in the source: a larger id is corrupt */
};

static bool post_less(const void *ctx, size_t a, size_t b)
{
    const struct postsrc *p = ctx;
    return p[a].map[p[a].it.doc] < p[b].map[p[b].it.doc];
}

/* Moves a postings iterator to its first live doc from the current one (or QR_DOC_END). */
static int skip_deleted(struct postsrc *p)
{
    for (;;) {
        if (p->it.err)
            return p->it.err;
        if (p->it.doc == QR_DOC_END)
            return QR_OK;
        if (p->it.doc >= p->count)
            return QR_ECORRUPT;
        if (p->map[p->it.doc] != NONE)
            return QR_OK;
        int rc = qr_postings_next(&p->it);
        if (rc)
            return rc;
    }
}

/* Writes one term: the postings of the group's sources, merged by new doc id. */
static int merge_term(qr_segment_writer *w, const qr_merge_src *src, uint32_t *const *map,
                      const struct termsrc *ts, const size_t *group, size_t ng, struct postsrc *ps,
                      size_t *heapv, const char *term, size_t len)
{
    int rc = QR_OK;
    size_t inited = 0;
    struct heap h = {heapv, 0, post_less, ps};
    for (size_t g = 0; g < ng; g++) {
        size_t s = group[g];
        ps[s].map = map[s];
        ps[s].count = qr_segment_docs(src[s].seg);
        memset(&ps[s].it, 0, sizeof ps[s].it);
        inited = g + 1;
        if ((rc = qr_segment_postings(src[s].seg, &ts[s].meta, &ps[s].it)))
            goto out;
        if ((rc = skip_deleted(&ps[s])))
            goto out;
        if (ps[s].it.doc != QR_DOC_END)
            heap_push(&h, s);
    }
    bool began = false;
    while (h.n) {
        size_t s = h.v[0];
        struct postsrc *p = &ps[s];
        const uint32_t *pos;
        uint32_t npos;
        if ((rc = qr_postings_positions(&p->it, &pos, &npos)))
            goto out;
        if (!began) {
            if ((rc = qr_segment_writer_begin_term(w, term, len)))
                goto out;
            began = true;
        }
        if ((rc = qr_segment_writer_add_posting(w, p->map[p->it.doc], npos, pos)))
            goto out;
        if ((rc = qr_postings_next(&p->it)) || (rc = skip_deleted(p)))
            goto out;
        if (p->it.doc == QR_DOC_END)
            heap_pop(&h);
        else
            sift_down(&h, 0);
    }
    if (began)
        rc = qr_segment_writer_end_term(w);
out:
    for (size_t g = 0; g < inited; g++)
        qr_postings_iter_free(&ps[group[g]].it);
    return rc;
}

int qr_merge_segments(qr_segment_info *out, qr_dir *dir, uint64_t id, const qr_merge_src *src,
                      size_t n)
{
    memset(out, 0, sizeof *out);
    int rc = QR_OK;
    qr_segment_writer *w = NULL;
    uint32_t **map = qr_calloc(n ? n : 1, sizeof *map);
    size_t *heapv = qr_calloc(n ? n : 1, sizeof *heapv);
    size_t *heapv2 = qr_calloc(n ? n : 1, sizeof *heapv2);
    size_t *group = qr_calloc(n ? n : 1, sizeof *group);
    const qr_segment **segs = qr_calloc(n ? n : 1, sizeof *segs);
    struct termsrc *ts = qr_calloc(n ? n : 1, sizeof *ts);
    struct postsrc *ps = qr_calloc(n ? n : 1, sizeof *ps);
    if (!map || !heapv || !heapv2 || !group || !segs || !ts || !ps) {
        rc = QR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t docs = qr_segment_docs(src[i].seg);
        segs[i] = src[i].seg;
        if (!(map[i] = qr_reallocarray(NULL, docs ? docs : 1, sizeof **map))) {
            rc = QR_ENOMEM;
            goto out;
        }
    }
    if ((rc = qr_segment_writer_open(&w, dir, id)))
        goto out;
    release_all(src, n, QR_SEG_ALL_FILES); /* what opening them read */
    uint32_t docs;
    if ((rc = merge_docs(w, src, n, map, heapv, &docs)))
        goto out;
    /* The terms need neither the stored text nor the document tables again. */
    release_all(src, n, QR_SEG_BIT(QR_SEG_STO) | QR_SEG_BIT(QR_SEG_DMT));
    if (!docs)
        goto out; /* nothing live: no segment */

    struct heap h = {heapv, 0, term_less, ts};
    if ((rc = terms_start(&h, ts, segs, n)))
        goto out;
    char term[256];
    uint64_t read = 0; /* postings and positions since the last release: a byte or two each */
    while (h.n) {
        size_t ng = 0;
        size_t len = ts[h.v[0]].term.n;
        if (len >= sizeof term) {
            rc = QR_ECORRUPT;
            goto out;
        }
        memcpy(term, ts[h.v[0]].term.p, len);
        qr_slice cur = {(const uint8_t *)term, len};
        while (h.n && !cmp_slices(ts[h.v[0]].term, cur)) {
            group[ng++] = h.v[0];
            read += len + ts[h.v[0]].meta.df + ts[h.v[0]].meta.ttf;
            heap_pop(&h);
        }
        if ((rc = merge_term(w, src, map, ts, group, ng, ps, heapv2, term, len)))
            goto out;
        if (read >= QR_SEG_RELEASE_BYTES) {
            release_all(src, n,
                        QR_SEG_BIT(QR_SEG_TDI) | QR_SEG_BIT(QR_SEG_DOC) | QR_SEG_BIT(QR_SEG_POS));
            read = 0;
        }
        for (size_t g = 0; g < ng; g++)
            if ((rc = term_advance(&h, ts, group[g])))
                goto out;
    }
    rc = qr_segment_writer_finish(w, out);
    w = NULL;
out:
    if (w)
        qr_segment_writer_abort(w);
    if (map)
        for (size_t i = 0; i < n; i++)
            qr_free(map[i]);
    qr_free(map);
    qr_free(heapv);
    qr_free(heapv2);
    qr_free(group);
    qr_free(segs);
    qr_free(ts);
    qr_free(ps);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

int qr_merge_count_terms(uint64_t *out, const qr_segment *const *segs, size_t n)
{
    *out = 0;
    int rc = QR_OK;
    size_t *heapv = qr_calloc(n ? n : 1, sizeof *heapv);
    struct termsrc *ts = qr_calloc(n ? n : 1, sizeof *ts);
    if (!heapv || !ts) {
        rc = QR_ENOMEM;
        goto out;
    }
    struct heap h = {heapv, 0, term_less, ts};
    if ((rc = terms_start(&h, ts, segs, n)))
        goto out;
    char term[256];
    uint64_t count = 0;
    while (h.n) {
        size_t len = ts[h.v[0]].term.n;
        if (len >= sizeof term) {
            rc = QR_ECORRUPT;
            goto out;
        }
        memcpy(term, ts[h.v[0]].term.p, len);
        qr_slice cur = {(const uint8_t *)term, len};
        count++;
        while (h.n && !cmp_slices(ts[h.v[0]].term, cur)) {
            size_t s = h.v[0];
            heap_pop(&h);
            if ((rc = term_advance(&h, ts, s)))
                goto out;
        }
    }
    *out = count;
out:
    qr_free(heapv);
    qr_free(ts);
    return rc;
}
