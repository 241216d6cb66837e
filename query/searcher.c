/*
 * The searcher (see searcher.h): opening an index at one generation, and
 * compiling and running queries over its segments.
 *
 * Compiling a query into a plan resolves every term once per segment (its
 * qr_term_meta there, df = 0 where absent) and sums the document
 * frequencies into the index-wide df and idf; a prefix walks every
 * segment's term dictionary range and merges the segments' sorted
 * expansions into one list of distinct terms. A query that is one prefix
 * over every field skips the plan: each segment's range, collected at once,
 * goes to qr_rank_prefix as it is, with each term's idf from its df summed
 * over the segments (two: their runs merged; more: in a hash table of the
 * distinct terms; measured, enwiki
 * "sha*", cachegrind instructions a query: 8 segments 2.85M -> 1.97M, one
 * segment 1.51M -> 1.25M, the plan's rows of metas, nsegs per distinct
 * term, zeroed, no longer made). NOT NOT x becomes x marked
 * as non-scoring (nothing under a NOT scores). Phrase and NEAR idfs are
 * summed left to right over their terms in query order. Running keeps,
 * per segment, each document's length normalisation once computed (8
 * bytes a document, allocated by the first query that reaches the
 * segment).
 *
 * When a segment does not open, the searcher finds out which of its files
 * is to blame (missing, bad frame or checksum, bad structure) so that the
 * message names it. A file that is missing because a writer committed a
 * newer generation and collected this one's files meanwhile is not damage:
 * opening starts again from the newest manifest.
 */
#include "query/searcher.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "query/iter.h"
#include "storage/alloc.h"
#include "storage/checksum.h"
#include "storage/docstore.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"
#include "storage/termdict.h"

/* Opening again after a writer collected the generation being opened: at most this often. */
#define OPEN_ATTEMPTS 16
/* Document frequencies below this have their idf cached (most terms of a prefix's expansion). */
#define IDF_TAB 1024

struct qr_searcher {
    qr_dir *dir;     /* the index directory */
    bool own_dir;    /* opened by us */
    qr_manifest man; /* the pinned generation */
    qr_analyzer *an; /* the index's analyzer */
    uint32_t nsegs;
    qr_segment **segs;        /* open segments, manifest order */
    qr_deletes *dels;         /* their deletions (empty sets when none) */
    const qr_doctable **dts;  /* their document tables */
    uint64_t N;               /* live documents */
    double avgdl;             /* live positions / N */
    double *norm_tab;         /* length normalisations by length (qr_evalctx), filled lazily */
    double **doc_norms;       /* per segment: normalisations by doc (qr_evalctx), filled lazily */
    qr_rank_scratch *scratch; /* rank.c's memory, kept between queries */
    uint32_t flat_w, wide_w;  /* rank.c's window sizes (0: its defaults) */
    double idf_tab[IDF_TAB];  /* idf by df (below IDF_TAB), 0 = not computed yet (see idf_of) */
    qr_termdict_ent *pfx;     /* expand_prefix's terms found, kept between queries */
    size_t pfx_cap;           /* entries pfx has room for */
    qr_buf pfx_bytes;         /* their bytes, kept between queries */
    char errmsg[512];         /* context of the last search error */
};

static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Names segment g's file of kind k and the error rc in s->errmsg ("DIR/seg-....tdi: corrupt"). */
static void say_seg(qr_searcher *s, uint32_t g, qr_seg_file k, int rc)
{
    char name[32];
    qr_seg_file_name(name, qr_segment_id(s->segs[g]), k);
    say(s->errmsg, sizeof s->errmsg, "%s/%s: %s", qr_dir_path(s->dir), name, qr_strerror(rc));
}

/* ---- opening ----------------------------------------------------------------------- */

/* The newest MANIFEST-* file name in dir (for messages), or "MANIFEST". */
static void newest_manifest(qr_dir *dir, char *out, size_t len)
{
    char **names;
    size_t n;
    snprintf(out, len, "MANIFEST");
    if (qr_dir_list(dir, &names, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if (!strncmp(names[i], "MANIFEST-", 9) && (l < 4 || strcmp(names[i] + l - 4, ".tmp")))
            snprintf(out, len, "%s", names[i]); /* sorted: the last one wins */
    }
    qr_dir_list_free(names, n);
}

/*
 * Which file of segment id is at fault for rc: names it into out (>= 32
 * bytes). Each file in turn: missing, a bad frame or checksum (checked
 * against the magic its own header claims: the footer must agree), or a
 * structure its reader refuses.
 */
static void blame_segment(qr_dir *dir, uint64_t id, int rc, char *out)
{
    int culprit = -1;
    for (int k = 0; k < QR_SEG_FILE_COUNT && culprit < 0; k++) {
        qr_seg_file_name(out, id, (qr_seg_file)k);
        qr_mapping *m;
        qr_slice data, body;
        int r = qr_dir_map(dir, out, &m, &data);
        if (r) {
            if (r == rc)
                culprit = k;
            continue;
        }
        uint32_t magic = data.n >= 4 ? qr_load_u32(data.p) : 0;
        r = qr_file_open_body(&body, NULL, data, magic, 0, UINT32_MAX, true);
        if (!r && k == QR_SEG_TDI) {
            qr_termdict *t;
            if (!(r = qr_termdict_open(&t, data, true)))
                qr_termdict_close(t);
        } else if (!r && k == QR_SEG_DMT) {
            qr_doctable *t;
            if (!(r = qr_doctable_open(&t, data, true)))
                qr_doctable_close(t);
        } else if (!r && k == QR_SEG_STO) {
            qr_docstore *t;
            if (!(r = qr_docstore_open(&t, data, true)))
                qr_docstore_close(t);
        }
        qr_mapping_close(m);
        if (r)
            culprit = k;
    }
    if (culprit < 0)
        culprit = QR_SEG_DMT; /* the files disagree with each other: the table is the hub */
    qr_seg_file_name(out, id, (qr_seg_file)culprit);
}

/* True when dir's newest manifest is newer than generation gen. */
static bool superseded(qr_dir *dir, uint64_t gen)
{
    qr_manifest m;
    if (qr_manifest_load(&m, dir))
        return false;
    bool newer = m.generation > gen;
    qr_manifest_free(&m);
    return newer;
}

/*
 * Opens the newest generation. A file it names that is missing while a
 * newer generation exists was collected by a writer that committed
 * meanwhile: *out_retry is then set (and the error is not damage).
 */
static int open_newest(qr_searcher **out, qr_dir *dir, unsigned flags, char *errbuf, size_t errlen,
                       bool *out_retry)
{
    *out = NULL;
    const char *path = qr_dir_path(dir);
    char name[64];
    qr_searcher *s = qr_calloc(1, sizeof *s);
    if (!s)
        return QR_ENOMEM;
    s->dir = dir;
    int rc = qr_manifest_load(&s->man, dir);
    if (rc) {
        if (rc == QR_ENOTFOUND) {
            say(errbuf, errlen, "no index at %s", path);
        } else {
            newest_manifest(dir, name, sizeof name);
            say(errbuf, errlen, "%s/%s: %s", path, name, qr_strerror(rc));
        }
        goto fail;
    }
    s->man.language[sizeof s->man.language - 1] = 0;
    rc = qr_analyzer_open(&s->an, s->man.language);
    if (rc) {
        if (rc == QR_EINVAL)
            rc = QR_ECORRUPT;
        qr_manifest_file_name(name, s->man.generation);
        say(errbuf, errlen, "%s/%s: unknown language '%s'", path, name, s->man.language);
        goto fail;
    }
    s->nsegs = s->man.nsegs;
    s->segs = qr_calloc(s->nsegs ? s->nsegs : 1, sizeof *s->segs);
    s->dels = qr_calloc(s->nsegs ? s->nsegs : 1, sizeof *s->dels);
    s->dts = qr_calloc(s->nsegs ? s->nsegs : 1, sizeof *s->dts);
    s->doc_norms = qr_calloc(s->nsegs ? s->nsegs : 1, sizeof *s->doc_norms);
    if (!s->segs || !s->dels || !s->dts || !s->doc_norms) {
        rc = QR_ENOMEM;
        say(errbuf, errlen, "%s", qr_strerror(rc));
        goto fail;
    }
    for (uint32_t i = 0; i < s->nsegs; i++) {
        const qr_manifest_seg *ms = &s->man.segs[i];
        rc = qr_segment_open(&s->segs[i], dir, ms->id, !(flags & QR_SEARCHER_NO_VERIFY));
        if (!rc && qr_segment_docs(s->segs[i]) != ms->docs)
            rc = QR_ECORRUPT;
        if (rc == QR_ENOTFOUND && superseded(dir, s->man.generation)) {
            *out_retry = true;
            goto fail;
        }
        if (rc) {
            blame_segment(dir, ms->id, rc, name);
            say(errbuf, errlen, "%s/%s: %s", path, name,
                rc == QR_ENOTFOUND ? "missing" : qr_strerror(rc));
            if (rc == QR_ENOTFOUND)
                rc = QR_ECORRUPT; /* a manifest naming a missing file: a broken index */
            goto fail;
        }
        s->dts[i] = qr_segment_doctable(s->segs[i]);
        if (ms->del_gen) {
            rc = qr_deletes_read(&s->dels[i], dir, ms->id, ms->del_gen, ms->docs);
            if (rc == QR_ENOTFOUND && superseded(dir, s->man.generation)) {
                *out_retry = true;
                goto fail;
            }
            if (rc) {
                qr_deletes_file_name(name, ms->id, ms->del_gen);
                say(errbuf, errlen, "%s/%s: %s", path, name,
                    rc == QR_ENOTFOUND ? "missing" : qr_strerror(rc));
                if (rc == QR_ENOTFOUND)
                    rc = QR_ECORRUPT;
                goto fail;
            }
        } else {
            qr_deletes_init(&s->dels[i], ms->docs);
        }
    }
    s->N = qr_manifest_live_docs(&s->man);
    s->avgdl = s->N ? (double)qr_manifest_live_positions(&s->man) / (double)s->N : 0;
    s->norm_tab = qr_calloc(QR_NORM_TABLE, sizeof *s->norm_tab);
    if (!s->norm_tab) {
        rc = QR_ENOMEM;
        say(errbuf, errlen, "%s", qr_strerror(rc));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    qr_searcher_close(s);
    return rc;
}

int qr_searcher_open_dir(qr_searcher **out, qr_dir *dir, unsigned flags, char *errbuf,
                         size_t errlen)
{
    int rc;
    for (int attempt = 0;; attempt++) {
        bool retry = false;
        rc = open_newest(out, dir, flags, errbuf, errlen, &retry);
        if (!retry)
            return rc;
        if (attempt == OPEN_ATTEMPTS) {
            say(errbuf, errlen, "%s: the index changed %d times while it was opened",
                qr_dir_path(dir), OPEN_ATTEMPTS);
            return QR_EIO;
        }
    }
}

int qr_searcher_open(qr_searcher **out, const char *path, char *errbuf, size_t errlen)
{
    qr_dir *dir;
    *out = NULL;
    int rc = qr_dir_open_posix(&dir, path, false);
    if (rc) {
        if (rc == QR_ENOTFOUND)
            say(errbuf, errlen, "no index at %s", path);
        else
            say(errbuf, errlen, "%s: %s", path, qr_strerror(rc));
        return rc;
    }
    rc = qr_searcher_open_dir(out, dir, 0, errbuf, errlen);
    if (rc) {
        qr_dir_close(dir);
        return rc;
    }
    (*out)->own_dir = true;
    return 0;
}

void qr_searcher_close(qr_searcher *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nsegs; i++) {
        if (s->segs)
            qr_segment_close(s->segs[i]);
        if (s->dels)
            qr_deletes_free(&s->dels[i]);
        if (s->doc_norms)
            qr_free(s->doc_norms[i]);
    }
    qr_free(s->segs);
    qr_free(s->dels);
    qr_free(s->dts);
    qr_free(s->doc_norms);
    qr_free(s->norm_tab);
    qr_rank_scratch_free(s->scratch);
    qr_free(s->pfx);
    qr_buf_free(&s->pfx_bytes);
    qr_analyzer_close(s->an);
    qr_manifest_free(&s->man);
    if (s->own_dir)
        qr_dir_close(s->dir);
    qr_free(s);
}

qr_analyzer *qr_searcher_analyzer(qr_searcher *s)
{
    return s->an;
}

void qr_searcher_set_windows(qr_searcher *s, uint32_t flat_w, uint32_t wide_w)
{
    s->flat_w = flat_w / 64 * 64;
    s->wide_w = wide_w / 64 * 64;
}

uint64_t qr_searcher_docs(const qr_searcher *s)
{
    return s->N;
}

uint64_t qr_searcher_generation(const qr_searcher *s)
{
    return s->man.generation;
}

const char *qr_searcher_errmsg(const qr_searcher *s)
{
    return s->errmsg;
}

/* ---- the plan ------------------------------------------------------------------------ */

struct block {
    struct block *next;
    size_t used, cap;
    max_align_t data[];
};

/* Term statistics already resolved, by term (open addressing). */
struct tstat {
    uint64_t hash; /* 0: empty slot */
    const char *text;
    uint32_t len;
    uint64_t df;
    qr_term_meta *metas;
};

struct planner {
    qr_searcher *s;
    struct block *mem; /* every allocation of the plan */
    struct tstat *tab; /* resolved terms */
    size_t cap, used;
};

static void *palloc(struct planner *pl, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct block *b = pl->mem;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = qr_malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = pl->mem;
        b->used = 0;
        b->cap = cap;
        pl->mem = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static void planner_free(struct planner *pl)
{
    for (struct block *b = pl->mem, *next; b; b = next) {
        next = b->next;
        qr_free(b);
    }
    qr_free(pl->tab);
}

/*
 * ln(1 + (N - df + 0.5) / (df + 0.5)), cached by df for small ones (N is
 * fixed for the searcher's generation): a prefix's expansion holds hundreds
 * of terms, most with the same few small dfs. An idf that happened to be 0
 * would only be computed again (it cannot be for df < IDF_TAB: the fraction
 * is at least 0.5 / IDF_TAB away from 0).
 */
static double idf_of(qr_searcher *s, uint64_t df)
{
    if (df < IDF_TAB && s->idf_tab[df] != 0)
        return s->idf_tab[df];
    double N = (double)s->N, d = (double)df;
    double v = log(1 + (N - d + 0.5) / (d + 0.5));
    if (df < IDF_TAB)
        s->idf_tab[df] = v;
    return v;
}

static int tab_grow(struct planner *pl)
{
    size_t cap = pl->cap ? pl->cap * 2 : 64;
    struct tstat *t = qr_calloc(cap, sizeof *t);
    if (!t)
        return QR_ENOMEM;
    for (size_t i = 0; i < pl->cap; i++) {
        if (!pl->tab[i].hash)
            continue;
        size_t j = pl->tab[i].hash & (cap - 1);
        while (t[j].hash)
            j = (j + 1) & (cap - 1);
        t[j] = pl->tab[i];
    }
    qr_free(pl->tab);
    pl->tab = t;
    pl->cap = cap;
    return 0;
}

/* Resolves a term in every segment (once per query): fills *out with text, df, idf, metas. */
static int resolve(struct planner *pl, const char *text, uint32_t len, qr_pterm *out)
{
    int rc;
    if ((pl->used + 1) * 2 > pl->cap && (rc = tab_grow(pl)))
        return rc;
    uint64_t h = XXH3_64bits(text, len) | 1;
    size_t i = h & (pl->cap - 1);
    for (; pl->tab[i].hash; i = (i + 1) & (pl->cap - 1)) {
        struct tstat *t = &pl->tab[i];
        if (t->hash == h && t->len == len && !memcmp(t->text, text, len))
            break;
    }
    struct tstat *t = &pl->tab[i];
    if (!t->hash) {
        qr_searcher *s = pl->s;
        t->metas = palloc(pl, (s->nsegs ? s->nsegs : 1) * sizeof *t->metas);
        if (!t->metas)
            return QR_ENOMEM;
        for (uint32_t g = 0; g < s->nsegs; g++) {
            rc = len <= 255 ? qr_segment_term(s->segs[g], text, len, &t->metas[g]) : QR_ENOTFOUND;
            if (rc == QR_ENOTFOUND) {
                memset(&t->metas[g], 0, sizeof t->metas[g]);
                continue;
            }
            if (rc) {
                say_seg(s, g, QR_SEG_TDI, rc);
                return rc;
            }
            t->df += t->metas[g].df;
        }
        t->hash = h;
        t->text = text;
        t->len = len;
        pl->used++;
    }
    out->text = t->text;
    out->len = t->len;
    out->df = t->df;
    out->idf = idf_of(pl->s, t->df);
    out->metas = t->metas;
    return 0;
}

static uint64_t key8(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (i < n ? p[i] : 0);
    return v;
}

/*
 * Bytewise order of two found terms (memcmp order, shorter first on a
 * common prefix): by their keys (key8: they order as the padded first 8
 * bytes do) when those differ, else byte by byte.
 */
static int found_cmp(const uint8_t *bytes, const qr_termdict_ent *x, uint64_t xk,
                     const qr_termdict_ent *y, uint64_t yk)
{
    if (xk != yk)
        return xk < yk ? -1 : 1;
    const uint8_t *a = bytes + x->off, *b = bytes + y->off;
    uint32_t n = x->len < y->len ? x->len : y->len;
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return x->len < y->len ? -1 : x->len > y->len;
}

/*
 * The expansion of a prefix, found: every segment's range collected at once
 * (qr_termdict_collect) into the searcher's reused arrays, segment g's
 * terms at s->pfx[head[2g] .. head[2g + 1]) in bytewise order; *out_n
 * entries in all. Returns 0, QR_ENOMEM, or QR_ECORRUPT with the segment's
 * dictionary named in s->errmsg. head has room for 2 nsegs entries.
 */
static int collect_prefix(qr_searcher *s, const qr_qterm *prefix, size_t *head, size_t *out_n)
{
    size_t n = 0;
    int rc = 0;
    s->pfx_bytes.n = 0;
    s->pfx_bytes.err = 0;
    *out_n = 0;
    for (uint32_t g = 0; g < s->nsegs; g++) {
        head[2 * g] = head[2 * g + 1] = n;
        if (prefix->len > 255)
            continue; /* no term is that long */
        qr_termdict_iter it;
        if (!(rc = qr_segment_prefix(s->segs[g], prefix->text, prefix->len, &it)))
            rc = qr_termdict_collect(&it, &s->pfx_bytes, &s->pfx, &n, &s->pfx_cap);
        if (rc == QR_ENOMEM)
            return rc;
        if (rc) {
            say_seg(s, g, QR_SEG_TDI, rc);
            return rc;
        }
        head[2 * g + 1] = n;
    }
    *out_n = n;
    return 0;
}

/*
 * The distinct terms of the n entries collect_prefix found: out_tid[i] is
 * entry i's place among them in bytewise order, *out_nd their number. One
 * segment's run is that order already; several are merged (head, consumed).
 */
static int distinct_terms(qr_searcher *s, size_t n, size_t *head, uint32_t *out_tid, size_t *out_nd)
{
    const qr_termdict_ent *v = s->pfx;
    const uint8_t *bytes = s->pfx_bytes.p;
    if (s->nsegs <= 1) {
        for (size_t i = 0; i < n; i++)
            out_tid[i] = (uint32_t)i;
        *out_nd = n;
        return 0;
    }
    uint64_t *keys = qr_malloc((n ? n : 1) * sizeof *keys);
    if (!keys)
        return QR_ENOMEM;
    for (size_t i = 0; i < n; i++)
        keys[i] = key8(bytes + v[i].off, v[i].len);
    uint32_t nd = 0;
    for (;; nd++) {
        size_t min = SIZE_MAX;
        for (uint32_t h = 0; h < s->nsegs; h++) {
            size_t i = head[2 * h];
            if (i < head[2 * h + 1] &&
                (min == SIZE_MAX || found_cmp(bytes, &v[i], keys[i], &v[min], keys[min]) < 0))
                min = i;
        }
        if (min == SIZE_MAX)
            break;
        for (uint32_t h = 0; h < s->nsegs; h++) {
            size_t i = head[2 * h];
            if (i == head[2 * h + 1] ||
                (i != min && found_cmp(bytes, &v[i], keys[i], &v[min], keys[min]) != 0))
                continue;
            out_tid[i] = nd;
            head[2 * h]++;
        }
    }
    qr_free(keys);
    *out_nd = nd;
    return 0;
}

/*
 * The expansion of a prefix as plan terms: the distinct terms in bytewise
 * order, each with its metas per segment (df = 0 where absent).
 */
static int expand_prefix(struct planner *pl, const qr_qterm *prefix, qr_pnode *p)
{
    qr_searcher *s = pl->s;
    uint32_t nm = s->nsegs ? s->nsegs : 1;
    size_t n = 0, nd = 0;
    uint32_t *tid = NULL;
    size_t *head = qr_calloc(2 * (size_t)nm, sizeof *head);
    int rc = head ? collect_prefix(s, prefix, head, &n) : QR_ENOMEM;
    if (rc)
        goto done;
    tid = qr_malloc((n ? n : 1) * sizeof *tid);
    size_t *h2 = qr_malloc(2 * (size_t)nm * sizeof *h2);
    if (tid && h2) {
        memcpy(h2, head, 2 * (size_t)nm * sizeof *h2);
        rc = distinct_terms(s, n, h2, tid, &nd);
    } else {
        rc = QR_ENOMEM;
    }
    qr_free(h2);
    if (rc)
        goto done;
    p->terms = palloc(pl, (nd ? nd : 1) * sizeof *p->terms);
    char *texts = palloc(pl, s->pfx_bytes.n ? s->pfx_bytes.n : 1);      /* every term's text */
    qr_term_meta *rows = palloc(pl, (nd ? nd : 1) * nm * sizeof *rows); /* zeroed: df = 0 */
    if (!p->terms || !texts || !rows) {
        rc = QR_ENOMEM;
        goto done;
    }
    if (s->pfx_bytes.n)
        memcpy(texts, s->pfx_bytes.p, s->pfx_bytes.n);
    const qr_termdict_ent *v = s->pfx;
    for (uint32_t g = 0; g < s->nsegs; g++)
        for (size_t i = head[2 * g]; i < head[2 * g + 1]; i++) {
            qr_pterm *t = &p->terms[tid[i]];
            t->text = texts + v[i].off;
            t->len = v[i].len;
            t->metas = rows + (size_t)tid[i] * nm;
            rows[(size_t)tid[i] * nm + g] = v[i].meta;
            t->df += v[i].meta.df;
        }
    for (size_t i = 0; i < nd; i++)
        p->terms[i].idf = idf_of(s, p->terms[i].df);
    p->nterms = (uint32_t)nd;
done:
    qr_free(head);
    qr_free(tid);
    return rc;
}

/*
 * key8 of entry e's bytes from byte `from` on, with one unaligned load
 * when 8 bytes from there lie within the n bytes collected (the bytes past
 * the term, the next ones', masked off).
 */
static inline uint64_t key8_from(const uint8_t *bytes, size_t n, const qr_termdict_ent *e,
                                 uint32_t from)
{
    const uint8_t *p = bytes + e->off + from;
    uint32_t left = e->len - from;
    if ((size_t)e->off + from + 8 > n)
        return key8(p, left);
    uint64_t v = __builtin_bswap64(qr_load_u64(p));
    return left >= 8 ? v : v & ~(UINT64_MAX >> (8 * left));
}

/*
 * Two segments' runs (head as collect_prefix's; every term starting with
 * the prefix's plen bytes) merged in one pass: each entry's idf from its
 * df plus, when the other run holds the term, the df there: no table to
 * allocate and clear, no hash, a comparison from the first byte after the
 * prefix (measured, enwiki Prefix3 alone round-robin, two segments,
 * interleaved, 7 rounds: median 60.4 -> 56.3 us, p99 209 -> 203, against
 * the hash table of the distinct terms kept for more segments).
 *
 * Without a branch on the comparison's outcome (which the expansion's
 * interleaving makes a coin toss: about one mispredicted branch per
 * entry): both heads compared by the 8 bytes after the prefix
 * (key8_from), a byte loop only when those tie on longer terms; the df
 * summed over the heads the comparison takes, and its idf written to both
 * heads: a head not taken is written again when it is taken (or by the
 * loops after), so each entry ends with its own term's idf, the same
 * idf_of of the same df as before.
 */
static void pair_idf(qr_searcher *s, const size_t *head, size_t plen, double *idf)
{
    const qr_termdict_ent *v = s->pfx;
    const uint8_t *bytes = s->pfx_bytes.p;
    size_t nbytes = s->pfx_bytes.n;
    size_t i = head[0], ie = head[1], j = head[2], je = head[3];
    while (i < ie && j < je) {
        uint32_t la = v[i].len, lb = v[j].len, k = (uint32_t)plen + 8;
        uint64_t ka = key8_from(bytes, nbytes, &v[i], (uint32_t)plen);
        uint64_t kb = key8_from(bytes, nbytes, &v[j], (uint32_t)plen);
        int c = ka != kb ? (ka > kb) - (ka < kb) : (la > lb) - (la < lb);
        if (ka == kb && (la > k || lb > k)) { /* tied on 8 bytes, and one is longer */
            const uint8_t *a = bytes + v[i].off, *b = bytes + v[j].off;
            uint32_t l = la < lb ? la : lb;
            while (k < l && a[k] == b[k])
                k++;
            c = k < l ? (a[k] < b[k] ? -1 : 1) : (la > lb) - (la < lb);
        }
        uint64_t df = (c <= 0 ? v[i].meta.df : 0) + (c >= 0 ? v[j].meta.df : 0);
        double x = idf_of(s, df);
        idf[i] = x;
        idf[j] = x;
        i += c <= 0;
        j += c >= 0;
    }
    for (; i < ie; i++)
        idf[i] = idf_of(s, v[i].meta.df);
    for (; j < je; j++)
        idf[j] = idf_of(s, v[j].meta.df);
}

/*
 * A query that is one prefix over every field, without a plan: its
 * expansion found (collect_prefix, *head as there) and each entry's idf,
 * its term's df summed over every segment, in *out_idf (n entries).
 */
static int expand_prefix_runs(qr_searcher *s, const qr_qterm *prefix, size_t *head,
                              double **out_idf)
{
    size_t n = 0;
    uint32_t *tid = NULL;
    uint64_t *df = NULL;
    size_t *h2 = NULL;
    double *idf = NULL;
    int rc = collect_prefix(s, prefix, head, &n);
    if (rc)
        goto done;
    idf = qr_malloc((n ? n : 1) * sizeof *idf);
    if (!idf) {
        rc = QR_ENOMEM;
        goto done;
    }
    const qr_termdict_ent *v = s->pfx;
    if (s->nsegs <= 1) {
        for (size_t i = 0; i < n; i++)
            idf[i] = idf_of(s, v[i].meta.df);
        goto done;
    }
    if (s->nsegs == 2) {
        pair_idf(s, head, prefix->len, idf);
        goto done;
    }
    /*
     * Several segments: each entry's term's df over all of them, summed in
     * a hash table of the distinct terms (order does not matter for a sum;
     * cheaper than merging the sorted runs, which compares every head per
     * term).
     */
    size_t tcap = 64;
    while (tcap < 2 * n)
        tcap *= 2;
    tid = qr_malloc((n ? n : 1) * sizeof *tid);
    h2 = qr_calloc(tcap, sizeof *h2); /* slot: 1 + its first entry, 0 = empty */
    df = qr_malloc(tcap * sizeof *df);
    if (!tid || !h2 || !df) {
        rc = QR_ENOMEM;
        goto done;
    }
    const uint8_t *bytes = s->pfx_bytes.p;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *t = bytes + v[i].off;
        size_t j = XXH3_64bits(t, v[i].len) & (tcap - 1);
        for (; h2[j]; j = (j + 1) & (tcap - 1)) {
            const qr_termdict_ent *e = &v[h2[j] - 1];
            if (e->len == v[i].len && !memcmp(bytes + e->off, t, e->len))
                break;
        }
        if (!h2[j]) {
            h2[j] = i + 1;
            df[j] = 0;
        }
        df[j] += v[i].meta.df;
        tid[i] = (uint32_t)j;
    }
    for (size_t i = 0; i < n; i++)
        idf[i] = idf_of(s, df[tid[i]]);
done:
    qr_free(tid);
    qr_free(df);
    qr_free(h2);
    if (rc) {
        qr_free(idf);
        idf = NULL;
    }
    *out_idf = idf;
    return rc;
}

/* The sum, left to right, of the idf of every scoring term under p (for NEAR). */
static void sum_idf(const qr_pnode *p, double *sum)
{
    if (!p->scores)
        return;
    switch (p->kind) {
    case QR_P_TERM:
    case QR_P_PHRASE:
    case QR_P_PREFIX:
        for (uint32_t i = 0; i < p->nterms; i++)
            *sum += p->terms[i].idf;
        break;
    case QR_P_AND:
    case QR_P_OR:
    case QR_P_NEAR:
        for (uint32_t i = 0; i < p->nkids; i++)
            sum_idf(p->kids[i], sum);
        break;
    default:
        break;
    }
}

static int plan_node(struct planner *pl, const qr_qnode *q, bool scores, qr_pnode **out)
{
    int rc;
    /* NOT NOT x: x, scoring nothing. */
    if (q->kind == QR_QNOT && q->kids[0]->kind == QR_QNOT)
        return plan_node(pl, q->kids[0]->kids[0], false, out);
    qr_pnode *p = palloc(pl, sizeof *p);
    if (!p)
        return QR_ENOMEM;
    p->scores = scores;
    p->field = q->field;
    switch (q->kind) {
    case QR_QTERM:
    case QR_QPHRASE:
        p->kind = q->kind == QR_QTERM ? QR_P_TERM : QR_P_PHRASE;
        p->terms = palloc(pl, q->n * sizeof *p->terms);
        if (!p->terms)
            return QR_ENOMEM;
        p->nterms = q->n;
        for (uint32_t i = 0; i < q->n; i++) {
            if ((rc = resolve(pl, q->terms[i].text, q->terms[i].len, &p->terms[i])))
                return rc;
            p->terms[i].off = q->terms[i].off;
            p->idf += p->terms[i].idf;
        }
        break;
    case QR_QPREFIX:
        p->kind = QR_P_PREFIX;
        if ((rc = expand_prefix(pl, &q->terms[0], p)))
            return rc;
        break;
    case QR_QAND:
    case QR_QOR:
    case QR_QNEAR:
    case QR_QNOT:
        p->kind = q->kind == QR_QAND   ? QR_P_AND
                  : q->kind == QR_QOR  ? QR_P_OR
                  : q->kind == QR_QNOT ? QR_P_NOT
                                       : QR_P_NEAR;
        p->near_k = q->near_k;
        p->kids = palloc(pl, q->n * sizeof *p->kids);
        if (!p->kids)
            return QR_ENOMEM;
        p->nkids = q->n;
        for (uint32_t i = 0; i < q->n; i++)
            if ((rc = plan_node(pl, q->kids[i], scores && q->kind != QR_QNOT, &p->kids[i])))
                return rc;
        if (p->kind == QR_P_NEAR) {
            double sum = 0;
            sum_idf(p->kids[0], &sum);
            sum_idf(p->kids[1], &sum);
            p->idf = sum;
        }
        break;
    }
    *out = p;
    return 0;
}

/* ---- running --------------------------------------------------------------------------- */

void qr_results_free(qr_results *r)
{
    if (!r)
        return;
    qr_free(r->hits);
    memset(r, 0, sizeof *r);
}

int qr_searcher_run(qr_searcher *s, const qr_query *q, size_t k, size_t offset, bool count_only,
                    qr_results *out)
{
    memset(out, 0, sizeof *out);
    s->errmsg[0] = 0;
    if (!q->root || s->N == 0)
        return 0;
    struct planner pl;
    memset(&pl, 0, sizeof pl);
    pl.s = s;
    qr_pnode *root = NULL;
    qr_topk top;
    /* one prefix over every field: its expansion's runs for qr_rank_prefix, no plan */
    bool pfx = q->root->kind == QR_QPREFIX && q->root->field == QR_FIELD_ANY;
    size_t *head = NULL; /* pfx: segment i's terms at s->pfx[head[2i] .. head[2i + 1]) */
    double *pidf = NULL; /* pfx: their idf */
    int rc;
    if (pfx) {
        head = qr_calloc(2 * (size_t)(s->nsegs ? s->nsegs : 1), sizeof *head);
        rc = head ? expand_prefix_runs(s, &q->root->terms[0], head, &pidf) : QR_ENOMEM;
    } else {
        rc = plan_node(&pl, q->root, true, &root);
    }
    if (rc) {
        qr_free(head);
        planner_free(&pl);
        return rc;
    }
    size_t cap = 0;
    if (!count_only) {
        cap = k > SIZE_MAX - offset ? SIZE_MAX : k + offset;
        if (cap > s->N)
            cap = (size_t)s->N;
    }
    if ((rc = qr_topk_init(&top, cap, s->dts))) {
        qr_free(head);
        qr_free(pidf);
        planner_free(&pl);
        return rc;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < s->nsegs && !rc; i++) {
        uint32_t nd = qr_segment_docs(s->segs[i]);
        if (!s->doc_norms[i] && nd > 0) {
            s->doc_norms[i] = qr_calloc(nd, sizeof *s->doc_norms[i]);
            if (!s->doc_norms[i]) {
                rc = QR_ENOMEM;
                say(s->errmsg, sizeof s->errmsg, "%s", qr_strerror(rc));
                break;
            }
        }
        qr_evalctx ctx;
        qr_evalctx_init(&ctx, s->segs[i], i, &s->dels[i], s->avgdl, s->norm_tab, s->doc_norms[i],
                        &s->scratch);
        if (s->flat_w)
            ctx.flat_w = s->flat_w;
        if (s->wide_w)
            ctx.wide_w = s->wide_w;
        if (pfx) {
            rc = qr_rank_prefix(&top, &total, s->pfx + head[2 * i], pidf + head[2 * i],
                                head[2 * i + 1] - head[2 * i], &ctx, count_only);
        } else {
            qr_it *it;
            rc = qr_it_build(&it, root, &ctx);
            if (!rc)
                rc = qr_rank_segment(&top, &total, it, &ctx, count_only);
            qr_it_free(it);
        }
        if (rc && !s->errmsg[0]) {
            say_seg(s, i, QR_SEG_DOC, rc);
        }
    }
    qr_free(head);
    qr_free(pidf);
    planner_free(&pl);
    if (rc) {
        qr_topk_free(&top);
        return rc;
    }
    qr_topk_sort(&top);
    out->total = total;
    if (top.n > offset) {
        out->n = top.n - offset;
        out->hits = qr_calloc(out->n, sizeof *out->hits);
        if (!out->hits) {
            qr_topk_free(&top);
            memset(out, 0, sizeof *out);
            return QR_ENOMEM;
        }
        memcpy(out->hits, top.heap + offset, out->n * sizeof *out->hits);
    }
    qr_topk_free(&top);
    return 0;
}

qr_slice qr_searcher_path(const qr_searcher *s, const qr_hit *h)
{
    return qr_doctable_path(s->dts[h->seg], h->doc);
}

int qr_searcher_fetch(qr_searcher *s, const qr_hit *h, qr_slice *out_title, qr_slice *out_body)
{
    int rc = qr_docstore_get(qr_segment_docstore(s->segs[h->seg]), h->doc, out_title, out_body);
    if (rc) {
        say_seg(s, h->seg, QR_SEG_STO, rc);
    }
    return rc;
}
