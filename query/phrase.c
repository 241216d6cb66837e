/*
 * Phrase and NEAR: two-phase iterators over positions (see phrase.h).
 *
 * A phrase drives from the term with the fewest positions in the candidate
 * document (known from the tfs, before any position is decoded) and checks
 * the others, fewest positions first, with cursors that only move forward,
 * so a document costs at most O(sum of its terms' positions), and a term is
 * not decoded once the rarer ones have ruled every start out. The
 * candidates (the conjunction of the terms) are found window by window
 * (qr_conj_win, iter.h): most of them fail the positions, and a seek per
 * lead doc cost more than the merge of the terms' blocks. Where windows
 * apply (terms about as common as each other) the terms' positions are
 * decoded a block at a time, and the window's candidates are judged from
 * those decoded deltas alone (may_match: inline sums of a few positions, a
 * 64-bit mask of one term's starts against the other's) without moving a
 * cursor to them; only the docs not ruled out are visited and walked (the
 * starts found are kept for the walk). Measured on enwiki (one segment,
 * the peers' Phrase2/Phrase3 queries; a shared, loaded 2-core machine):
 * 21% fewer instructions (cachegrind), and against the build before,
 * interleaved, per-query minima of the medians: "well established" 466 ->
 * 266 us, "total number" 402 -> 240, "united states carry" 466 -> 370.
 * A phrase of three distinct terms or more defers its commonest term: the
 * conjunction is the others', and the deferred term is moved to a
 * candidate and its positions read only where the others leave a start
 * (it rejoins the conjunction where they leave too many). Phrase3 on
 * enwiki, one segment, interleaved, per-query minima of the medians:
 * class median 68 -> 48 us, "united states carry" 296 -> 179, "first gene
 * therapy" 50 -> 30, "studio album entitled" 37.7 -> 39.7.
 * NEAR splits both sides' spans by field and counts, for each span of the
 * left side, the right spans with start <= e_a + k minus those with end <
 * s_a - k (every span ending before s_a - k also starts before e_a + k),
 * by binary search over sorted starts and ends; whether a NEAR of two
 * terms matches at all (most candidates do not) is one merge of their
 * positions.
 */
#include "query/phrase.h"

#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

/* ---- phrase ------------------------------------------------------------------------ */

/* Positions a term may have at a doc for phrase_walk to sum them itself. */
#define PBUF 128

struct phrase_it {
    qr_it base;
    qr_evalctx *ctx;
    qr_field field;
    double idf;             /* sum of the terms' idf */
    size_t n;               /* terms */
    size_t nd;              /* distinct terms */
    qr_it **terms;          /* term iterators in phrase order (a repeated term shares one) */
    qr_postings_iter **pi;  /* their postings */
    uint32_t *rep;          /* rep[i]: the first term equal to term i (rep[i] <= i) */
    uint32_t *mult;         /* at a first occurrence: how often the term occurs in the phrase */
    qr_it **lead;           /* the nd distinct iterators, cheapest first */
    uint32_t *offs;         /* each term's offset */
    uint32_t last;          /* the last term's offset: a match spans start..start+last */
    uint32_t *npos;         /* scratch: each term's tf at the doc */
    uint32_t *order;        /* scratch: the terms other than the driver, by tf */
    uint32_t *starts;       /* scratch: the match starts still possible */
    uint32_t (*pbuf)[PBUF]; /* scratch: each term's positions, when summed here */
    const uint32_t **raw;   /* scratch: each term's position deltas at a window doc */
    uint32_t *lix;          /* at a first occurrence: the term's index in lead */
    size_t defer;           /* the deferred term (see may_match), n when none */
    size_t nc;              /* the conjunction's terms: lead[0..nc), the deferred one not */
    uint32_t needs;         /* candidates judged whose starts needed the deferred term */
    bool may_rejoin;        /* windows would apply with the deferred term in the conjunction */
    uint32_t defer_last;    /* the last doc of the deferred term's block whose asks are counted */
    uint32_t defer_asks;    /* how many of that block's docs may_match asked its positions of */
    int err;                /* an error may_match met, for phrase_next to return */
    uint32_t ready_doc;     /* the doc whose match starts are starts[0..ready_ns) */
    uint32_t ready_ns;
    uint32_t scap;   /* capacity of starts */
    uint32_t tf_doc; /* the doc whose matches are counted in tf */
    uint32_t tf;
    qr_conj_win win; /* steps the conjunction of lead */
};

static int phrase_seek(qr_it *it, uint32_t target)
{
    struct phrase_it *p = (struct phrase_it *)it;
    qr_conj_win_reset(&p->win);
    int rc = qr_it_seek(p->lead[0], target);
    if (!rc)
        rc = qr_conj_align(p->lead, p->nc);
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
 * Keeps the starts s (non-decreasing) with s + off among v (non-decreasing):
 * a merge whose steps are data, not branches (which start meets which
 * position is as good as random, and a mispredicted branch per position
 * cost more than the rest of the walk). A start is kept, in place, when it
 * meets an equal position; the cursor into v moves only past smaller ones,
 * so equal starts all meet it. Returns how many are kept.
 */
static uint32_t keep_starts(uint32_t *starts, uint32_t ns, const uint32_t *v, uint32_t nv,
                            uint32_t off)
{
    uint32_t j = 0, c = 0, kept = 0;
    while (j < ns && c < nv) {
        uint64_t want = (uint64_t)starts[j] + off;
        uint32_t s = starts[j], x = v[c];
        starts[kept] = s;
        kept += x == want;
        j += x >= want;
        c += x < want;
    }
    return kept;
}

/* Whether x is among v[0..n) (32-bit comparisons, which vectorise). */
static inline bool any_eq(const uint32_t *v, uint32_t n, uint32_t x)
{
    uint32_t hit = 0;
    for (uint32_t c = 0; c < n; c++)
        hit |= v[c] == x;
    return hit;
}

/*
 * keep_starts for a candidate's few positions: each start against every
 * position, comparisons without a chain of loads between them (the merge
 * waits on each step's load to choose the next), when at most FEW_PAIRS
 * pairs or at most FEW_STARTS starts (a rare term against a common one:
 * the merge steps through the common term's positions one load at a
 * time, the scans compare four at once); else keep_starts.
 */
#define FEW_PAIRS  64
#define FEW_STARTS 4
static uint32_t keep_few(uint32_t *starts, uint32_t ns, const uint32_t *v, uint32_t nv,
                         uint32_t off)
{
    if ((uint64_t)ns * nv > FEW_PAIRS && ns > FEW_STARTS)
        return keep_starts(starts, ns, v, nv, off);
    uint32_t kept = 0;
    for (uint32_t j = 0; j < ns; j++) {
        uint64_t want = (uint64_t)starts[j] + off;
        starts[kept] = starts[j];
        kept += want <= UINT32_MAX && any_eq(v, nv, (uint32_t)want);
    }
    return kept;
}

/*
 * keep_starts over the starts the driver's positions dv propose (each
 * position x >= od proposes x - od), without building them first: the
 * merge reads dv directly and writes the starts that meet a position of v
 * at offset off. Returns how many.
 */
static uint32_t first_starts(uint32_t *starts, const uint32_t *dv, uint32_t dn, uint32_t od,
                             const uint32_t *v, uint32_t nv, uint32_t off)
{
    uint32_t j = 0, c = 0, kept = 0;
    while (j < dn && c < nv) {
        uint32_t x = dv[j];
        int64_t want = (int64_t)x - od + off, y = v[c];
        starts[kept] = x - od;
        kept += (y == want) & (x >= od);
        j += y >= want;
        c += y < want;
    }
    return kept;
}

/* The starts the driver's positions dv[0..dn) propose (each x >= od: x - od) into starts. */
static inline uint32_t propose_starts(uint32_t *starts, const uint32_t *dv, uint32_t dn,
                                      uint32_t od)
{
    uint32_t ns = 0;
    for (uint32_t j = 0; j < dn; j++) {
        starts[ns] = dv[j] - od;
        ns += dv[j] >= od;
    }
    return ns;
}

/* Sums n deltas into positions (buf); false when a sum passes 32 bits. */
static inline bool sum_deltas(uint32_t *buf, const uint32_t *raw, uint32_t n)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < n; i++) {
        s += raw[i];
        buf[i] = (uint32_t)s;
    }
    return s <= UINT32_MAX;
}

/*
 * The positions of term cursor pi at its doc: summed here into buf (PBUF
 * entries) from the deltas of its decoded block when there are and they
 * are few, else through qr_postings_positions (which also reports sums
 * past 32 bits as damage).
 */
static inline int doc_positions(qr_postings_iter *pi, uint32_t *buf, const uint32_t **out,
                                uint32_t *out_n)
{
    const uint32_t *raw;
    uint32_t n;
    if (qr_postings_block_deltas(pi, qr_postings_in_block(pi), &raw, &n) && n <= PBUF &&
        sum_deltas(buf, raw, n)) {
        *out = buf;
        *out_n = n;
        return 0;
    }
    return qr_postings_positions(pi, out, out_n);
}

/* Puts the terms other than the driver drv in p->order by tf, fewest first; returns how many. */
static size_t order_others(struct phrase_it *p, size_t drv)
{
    size_t no = 0;
    if (p->n == 2) {
        p->order[no++] = (uint32_t)(1 - drv);
        return no;
    }
    /* insertion sort: phrases are short */
    for (size_t i = 0; i < p->n; i++) {
        if (i == drv)
            continue;
        size_t j = no++;
        for (; j > 0 && p->npos[p->order[j - 1]] > p->npos[i]; j--)
            p->order[j] = p->order[j - 1];
        p->order[j] = (uint32_t)i;
    }
    return no;
}

/*
 * Walks the matches at the current doc; with out != NULL appends their
 * spans, else counts them into p->tf.
 *
 * The driver is the term with the fewest positions (the first such in
 * phrase order): each of its positions proposes a start. The other terms
 * are decoded in order of their tf (read from the doc block, no positions
 * decoded) and each keeps only the starts it has a position for, so a
 * candidate whose rarer terms already rule every start out never decodes
 * the commoner ones. Counting starts per driver position keeps the result
 * exactly that of checking every term at every driver position.
 */
static int phrase_walk(struct phrase_it *p, qr_spans *out)
{
    int rc;
    size_t drv = 0;
    uint32_t tf = 0, ns = 0;
    if (p->ready_doc == p->base.doc) { /* may_match or an earlier walk found the starts */
        ns = p->ready_ns;
        goto count;
    }
    if (p->defer < p->n) { /* the deferred term, outside the conjunction, may lag or miss it */
        if ((rc = qr_it_seek(p->terms[p->defer], p->base.doc)))
            return rc;
        if (p->terms[p->defer]->doc != p->base.doc)
            goto count;
    }
    for (size_t i = 0; i < p->n; i++) {
        uint32_t r = p->rep[i];
        if (r == i) {
            /* a tf of 0 at a doc is damage the freq decoder met (it->err is set) */
            if ((p->npos[i] = qr_postings_freq(p->pi[i])) == 0)
                return QR_ECORRUPT;
        } else {
            p->npos[i] = p->npos[r];
        }
        /* a term occurring m times in the phrase needs m positions */
        if (r == i && p->npos[i] < p->mult[i])
            goto count;
        if (p->npos[i] < p->npos[drv])
            drv = i;
    }
    size_t no = order_others(p, drv); /* the others by tf, fewest first */
    const uint32_t *dv;
    uint32_t dn;
    if ((rc = doc_positions(p->pi[drv], p->pbuf[drv], &dv, &dn)))
        return rc;
    if (dn > p->scap) {
        uint32_t *nb = qr_reallocarray(p->starts, dn, sizeof *nb);
        if (!nb)
            return QR_ENOMEM;
        p->starts = nb;
        p->scap = dn;
    }
    for (size_t k = 0; k < no; k++) {
        size_t i = p->order[k];
        const uint32_t *v;
        uint32_t nv;
        if ((rc = doc_positions(p->pi[i], p->pbuf[i], &v, &nv)))
            return rc;
        if (k == 0 && dn > FEW_STARTS) {
            ns = first_starts(p->starts, dv, dn, p->offs[drv], v, nv, p->offs[i]);
        } else {
            if (k == 0) /* the few starts the driver proposes, for keep_few */
                ns = propose_starts(p->starts, dv, dn, p->offs[drv]);
            ns = keep_few(p->starts, ns, v, nv, p->offs[i]);
        }
        if (!ns)
            break;
    }
    if (no == 0) /* a one-term phrase: every position starts a match */
        ns = first_starts(p->starts, dv, dn, p->offs[drv], dv, dn, p->offs[drv]);
count:
    p->ready_doc = p->base.doc;
    p->ready_ns = ns;
    uint32_t tp = ns ? qr_doctable_title_positions(p->ctx->dt, p->base.doc) : 0;
    for (uint32_t j = 0; j < ns; j++) {
        uint64_t s = p->starts[j];
        if (!in_field(p->field, s, s + p->last, tp))
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

/*
 * The match starts of two distinct terms at a doc (the phrase's two, or a
 * longer phrase's two other than its deferred one) from their position
 * deltas r[i] (np[i] of them, 1..PBUF) at offsets off[i]: their number in
 * *out_ns, the starts in p->starts. False when a sum passes 32 bits
 * (damage: left to phrase_walk to report).
 */
static inline bool two_starts(struct phrase_it *p, const uint32_t *const r[2], const uint32_t np[2],
                              const uint32_t off[2], uint32_t *out_ns)
{
    size_t drv = np[1] < np[0], o = 1 - drv; /* phrase_walk's driver: the first rarest */
    uint32_t *v = p->pbuf[o], od = off[drv], oo = off[o], ns = 0;
    /*
     * The other's positions, and the starts they propose modulo 64 as a
     * mask: a driver start whose bit is clear meets none of them (the
     * comparisons only for the few whose bit is set).
     */
    uint64_t y = 0, mask = 0, x = 0;
    for (uint32_t j = 0; j < np[o]; j++) {
        y += r[o][j];
        v[j] = (uint32_t)y;
        mask |= 1ull << ((y - oo) & 63);
    }
    for (uint32_t j = 0; j < np[drv]; j++) { /* each driver position proposes a start */
        x += r[drv][j];
        uint64_t st = x - od;
        p->starts[ns] = (uint32_t)st;
        if (mask >> (st & 63) & 1)
            ns += x >= od && st + oo <= UINT32_MAX && any_eq(v, np[o], (uint32_t)(st + oo));
    }
    *out_ns = ns;
    return x <= UINT32_MAX && y <= UINT32_MAX;
}

/*
 * may_match for a phrase of two distinct terms over the window's
 * candidates from w->at on: raises w->at past those their positions rule
 * out, up to the first that may match (its starts kept for the walk) or
 * whose positions are not at hand, or past the segment. The same
 * judgement as may_match's, with what does not change inside a window
 * (the terms, their index bases in the window) read once.
 */
static void skip_two(struct phrase_it *p)
{
    qr_conj_win *w = &p->win;
    qr_postings_iter *pi[2] = {p->pi[0], p->pi[1]};
    const uint8_t *ix[2];
    uint32_t base[2], ndocs = p->ctx->ndocs;
    for (size_t i = 0; i < 2; i++) { /* qr_conj_win_index, its invariant part */
        uint32_t t = p->lix[i];
        ix[i] = w->idx + t * QR_BLOCK;
        base[i] = qr_postings_in_block(pi[i]) - w->cur[t];
    }
    p->ready_doc = QR_DOC_END; /* starts is overwritten */
    for (; w->at < w->nc; w->at++) {
        uint32_t c = w->at, doc = w->doc[c], ns;
        const uint32_t *r[2];
        uint32_t np[2];
        if (doc >= ndocs || !qr_postings_block_deltas(pi[0], base[0] + ix[0][c], &r[0], &np[0]) ||
            np[0] - 1 >= PBUF ||
            !qr_postings_block_deltas(pi[1], base[1] + ix[1][c], &r[1], &np[1]) ||
            np[1] - 1 >= PBUF || !two_starts(p, r, np, p->offs, &ns))
            return;
        if (ns) {
            p->ready_doc = doc;
            p->ready_ns = ns;
            return;
        }
    }
}

/*
 * The deferred term's positions at doc (none when it is not there), its
 * cursor moved there: true with them in *v, *nv (valid until the cursor
 * moves); false on an error, kept in p->err for phrase_next to return.
 * The first DEFER_DOCS asks in a block read that doc's positions alone; a
 * further ask decodes the block's rest at once.
 */
#define DEFER_DOCS 1
static bool defer_positions(struct phrase_it *p, uint32_t doc, const uint32_t **v, uint32_t *nv)
{
    qr_it *t = p->terms[p->defer];
    int rc = qr_it_seek(t, doc);
    *nv = 0;
    if (!rc && t->doc == doc) {
        qr_postings_iter *pi = p->pi[p->defer];
        const uint32_t *bd;
        uint32_t left = qr_postings_block_docs(pi, &bd);
        if (left && bd[left - 1] != p->defer_last) { /* a new block: its asks counted anew */
            p->defer_last = bd[left - 1];
            p->defer_asks = 0;
        }
        if (!qr_postings_block_deltas(pi, qr_postings_in_block(pi), v, nv))
            qr_postings_set_pos_mode(pi, ++p->defer_asks > DEFER_DOCS ? QR_POS_BLOCK : QR_POS_DOC);
        rc = qr_postings_positions(pi, v, nv);
    }
    p->err = rc;
    return !rc;
}

/*
 * Whether the phrase may match at a doc where every term's position deltas
 * are decoded with its block, judged from them alone: the window's common
 * doc c (c < p->win.nc), or with c == UINT32_MAX the current doc. False
 * only when the positions rule every start out (or a term occurs fewer
 * times than the phrase repeats it), as phrase_walk would find; true when
 * they do not, or when some term's positions are not at hand that way (its
 * block not decoded at once, more than PBUF of them, sums past 32 bits) or
 * the doc is past the segment: phrase_walk, or the move there, then
 * decides and reports damage. No field: only a doc that matches somewhere
 * is walked.
 *
 * A phrase of three distinct terms or more defers its commonest one (the
 * last of lead): it is left out of the conjunction (its docs are not
 * merged into the windows, its blocks not decoded with theirs), the
 * candidates are judged from the others, and only where they leave a
 * start is its cursor moved there and its positions read
 * (defer_positions). On enwiki the rarer two rule out most candidates of
 * "nuclear power station" or "united states carry", whose commonest
 * term's blocks were decoded for nothing.
 */
static bool may_match(struct phrase_it *p, uint32_t c)
{
    const qr_conj_win *w = &p->win;
    uint32_t doc = c == UINT32_MAX ? p->lead[0]->doc : w->doc[c];
    p->ready_doc = QR_DOC_END; /* starts is overwritten */
    if (doc >= p->ctx->ndocs)
        return true;
    /*
     * Two distinct terms, or three with the commonest deferred: the pair
     * without the loops below (two_starts), then the deferred one.
     */
    bool pair = p->nd == 2 && p->n == 2;
    if (pair || (p->n == 3 && p->nd == 3 && p->defer < 3)) {
        size_t ix[2] = {0, 1};
        if (!pair) {
            ix[0] = p->defer == 0;
            ix[1] = p->defer == 2 ? 1 : 2;
        }
        const uint32_t *r[2];
        uint32_t np[2], off[2] = {p->offs[ix[0]], p->offs[ix[1]]}, ns;
        for (size_t t = 0; t < 2; t++) {
            qr_postings_iter *pi = p->pi[ix[t]];
            uint32_t k = qr_postings_in_block(pi);
            if (c != UINT32_MAX)
                k = qr_conj_win_index(w, p->lix[ix[t]], c, k);
            if (!qr_postings_block_deltas(pi, k, &r[t], &np[t]) || np[t] - 1 >= PBUF)
                return true; /* not decoded, none (damage) or too many */
        }
        if (!two_starts(p, r, np, off, &ns))
            return true;
        if (ns && !pair) {
            const uint32_t *v;
            uint32_t nv;
            p->needs++;
            if (!defer_positions(p, doc, &v, &nv))
                return true;
            ns = keep_few(p->starts, ns, v, nv, p->offs[p->defer]);
        }
        p->ready_doc = doc;
        p->ready_ns = ns;
        return ns > 0;
    }
    size_t drv = p->defer == 0; /* never the deferred term (nor its copies, below) */
    for (size_t i = 0; i < p->n; i++) {
        uint32_t r = p->rep[i];
        if (r == p->defer) { /* judged last */
            p->npos[i] = UINT32_MAX;
            continue;
        }
        if (r == i) {
            qr_postings_iter *pi = p->pi[i];
            uint32_t k = qr_postings_in_block(pi);
            if (c != UINT32_MAX)
                k = qr_conj_win_index(w, p->lix[i], c, k);
            if (!qr_postings_block_deltas(pi, k, &p->raw[i], &p->npos[i]) || p->npos[i] > PBUF ||
                p->npos[i] == 0)
                return true;
            if (p->npos[i] < p->mult[i])
                return false;
        } else {
            p->npos[i] = p->npos[r];
            p->raw[i] = p->raw[r];
        }
        if (p->npos[i] < p->npos[drv])
            drv = i;
    }
    size_t no = order_others(p, drv); /* the deferred term's copies last (UINT32_MAX) */
    uint32_t *dv = p->pbuf[drv], dn = p->npos[drv];
    if (!sum_deltas(dv, p->raw[drv], dn))
        return true;
    uint32_t ns = propose_starts(p->starts, dv, dn, p->offs[drv]);
    for (size_t k = 0; k < no && ns; k++) {
        size_t i = p->order[k];
        const uint32_t *v = p->pbuf[i];
        uint32_t nv = p->npos[i];
        if (nv == UINT32_MAX) { /* the starts left need the deferred term */
            p->needs += k == 0 || p->npos[p->order[k - 1]] != UINT32_MAX; /* once a doc */
            if (!defer_positions(p, doc, &v, &nv))
                return true;
        } else if (!sum_deltas(p->pbuf[i], p->raw[i], nv)) {
            return true;
        }
        ns = keep_few(p->starts, ns, v, nv, p->offs[i]);
    }
    p->ready_doc = doc;
    p->ready_ns = ns;
    return ns > 0;
}

/*
 * Deferring pays where the others rule most candidates out. Where they
 * leave starts at more docs than REJOIN_PER_BLOCK a block of the deferred
 * term (so far: its docs before the current one, assumed spread evenly;
 * after REJOIN_MIN such docs), its moves and asks cost more than its docs
 * in the windows did, and it rejoins the conjunction (when windows apply
 * to all the terms: else, without deferring, there would be none). On
 * enwiki "studio album entitled" leaves some 10 a block, "international
 * airport became" 8 and "programming language created" 6, against at most
 * 1.6 for the phrases that gain ("internet user base").
 */
#define REJOIN_MIN       8
#define REJOIN_PER_BLOCK 3

/* The deferred term back in the conjunction, at its first doc after the current one. */
static int rejoin(struct phrase_it *p)
{
    size_t d = p->defer;
    uint32_t doc = p->base.doc;
    qr_conj_win_free(&p->win);
    p->nc = p->nd;
    p->defer = p->n;
    p->may_rejoin = false;
    qr_postings_set_pos_mode(p->pi[d], QR_POS_BLOCK);
    int rc = qr_conj_win_init(&p->win, p->lead, p->nc);
    if (!rc)
        rc = doc == QR_DOC_END ? 0 : phrase_seek(&p->base, doc + 1);
    if (rc)
        p->base.doc = QR_DOC_END;
    return rc;
}

/*
 * The next candidate: the conjunction's next doc, passing over those whose
 * decoded position deltas rule the phrase out (most candidates of common
 * terms), without moving the terms' cursors to each or walking them.
 */
static int phrase_next(qr_it *it)
{
    struct phrase_it *p = (struct phrase_it *)it;
    qr_conj_win *w = &p->win;
    int rc;
    if (p->may_rejoin && p->needs >= REJOIN_MIN && /* in doubles: no product wraps */
        (double)p->needs * QR_BLOCK * p->ctx->ndocs >
            REJOIN_PER_BLOCK * (double)p->lead[p->nd - 1]->cost * ((double)it->doc + 1))
        return rejoin(p);
    for (;;) {
        if (qr_conj_win_build(w)) {
            if (p->nd == 2 && p->n == 2)
                skip_two(p);
            else
                while (w->at < w->nc && !may_match(p, w->at))
                    w->at++;
        }
        bool from_win = w->open && w->at < w->nc; /* the doc comes from the window */
        /* without windows the terms' positions are mostly decoded doc by doc: no judging */
        if ((rc = p->err) || (rc = qr_conj_win_next(w)) || p->lead[0]->doc == QR_DOC_END ||
            from_win || !w->terms || may_match(p, UINT32_MAX) || (rc = p->err))
            break;
    }
    it->doc = rc ? QR_DOC_END : p->lead[0]->doc;
    return rc;
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
    for (size_t t = 0; t <= p->nc; t++) { /* each distinct term once (copies share a block) */
        uint32_t last, mt, md;
        if (t == p->nc) {
            if (p->defer == p->n)
                break;
            qr_block_max b; /* the deferred cursor may lag: the block that would hold the doc */
            if (!qr_postings_block_for(p->pi[p->defer], it->doc, &b))
                return 0;
            mt = b.max_tf;
            md = b.min_dl;
        } else if (!qr_term_it_block(p->lead[t], &last, &mt, &md)) {
            return 0;
        }
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
    for (size_t i = 0; i < p->n; i++) /* the arrays live in p's own allocation */
        if (p->rep[i] == i)
            qr_it_free(p->terms[i]);
    qr_free(p->starts);
    qr_free(p->pbuf);
    qr_conj_win_free(&p->win);
    qr_free(p);
}

static const qr_it_ops phrase_ops = {phrase_next,  phrase_seek,  phrase_match, phrase_score,
                                     phrase_bound, phrase_spans, phrase_free};

struct term_ix {
    const qr_pterm *t;
    uint32_t i;
};

/* Orders terms by their bytes, then by their index in the phrase. */
static int cmp_term(const void *a, const void *b)
{
    const struct term_ix *x = a, *y = b;
    if (x->t->len != y->t->len)
        return x->t->len < y->t->len ? -1 : 1;
    int c = memcmp(x->t->text, y->t->text, x->t->len);
    if (c)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Finds each term's first occurrence in the phrase, so that a repeated term
 * is read once and a phrase of n copies of a word costs O(n log n) to open
 * and O(n) per candidate document, not n position lists.
 */
static int find_repeats(struct phrase_it *p, const qr_pnode *pn)
{
    struct term_ix *ix = qr_calloc(p->n, sizeof *ix);
    if (!ix)
        return QR_ENOMEM;
    for (uint32_t i = 0; i < p->n; i++)
        ix[i] = (struct term_ix){&pn->terms[i], i};
    qsort(ix, p->n, sizeof *ix, cmp_term);
    for (size_t k = 0; k < p->n; k++) {
        uint32_t i = ix[k].i;
        if (k && cmp_term(&(struct term_ix){ix[k - 1].t, 0}, &(struct term_ix){ix[k].t, 0}) == 0) {
            p->rep[i] = p->rep[ix[k - 1].i];
            p->mult[p->rep[i]]++;
        } else {
            p->rep[i] = i;
            p->mult[i] = 1;
        }
    }
    qr_free(ix);
    return 0;
}

int qr_phrase_open(qr_it **out, const qr_pnode *pn, qr_evalctx *ctx)
{
    *out = NULL;
    for (uint32_t i = 0; i < pn->nterms; i++)
        if (pn->terms[i].metas[ctx->segi].df == 0)
            return 0; /* a term absent from the segment: no match here */
    /*
     * One allocation for the iterator and its per-term arrays, one for the
     * position scratch (not zeroed) and one for the starts (grown): the
     * allocations are paid per segment, and a small phrase costs little
     * more than its opening.
     */
    size_t n = pn->nterms;
    const size_t per_term = 4 * sizeof(void *) + 6 * sizeof(uint32_t);
    if (n > (SIZE_MAX - sizeof(struct phrase_it)) / per_term)
        return QR_ENOMEM;
    struct phrase_it *p = qr_calloc(1, sizeof *p + n * per_term);
    if (!p)
        return QR_ENOMEM;
    /* after the struct (whose size is a multiple of its pointers' alignment): pointers, then u32s
     */
    void **ptrs = (void **)(p + 1);
    p->terms = (qr_it **)ptrs;
    p->pi = (qr_postings_iter **)(ptrs + n);
    p->lead = (qr_it **)(ptrs + 2 * n);
    p->raw = (const uint32_t **)(ptrs + 3 * n);
    uint32_t *u = (uint32_t *)(ptrs + 4 * n);
    p->offs = u;
    p->npos = u + n;
    p->order = u + 2 * n;
    p->rep = u + 3 * n;
    p->mult = u + 4 * n;
    p->lix = u + 5 * n;
    p->base.ops = &phrase_ops;
    p->base.scores = pn->scores;
    p->ctx = ctx;
    p->field = pn->field;
    p->idf = pn->idf;
    p->n = n;
    p->tf_doc = p->ready_doc = QR_DOC_END;
    p->pbuf = qr_reallocarray(NULL, n, sizeof *p->pbuf);        /* scratch: not zeroed */
    p->starts = qr_reallocarray(NULL, PBUF, sizeof *p->starts); /* may_match's, at most PBUF */
    p->scap = PBUF;
    int rc = QR_ENOMEM;
    if (!p->pbuf || !p->starts)
        goto fail;
    if ((rc = find_repeats(p, pn)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        p->offs[i] = pn->terms[i].off;
        if (p->rep[i] != i) {
            p->terms[i] = p->terms[p->rep[i]];
            p->pi[i] = p->pi[p->rep[i]];
            continue;
        }
        if ((rc = qr_term_it_open(&p->terms[i], &pn->terms[i], ctx, QR_FIELD_ANY, false))) {
            p->n = i; /* free only those opened */
            goto fail;
        }
        p->pi[i] = qr_term_it_postings(p->terms[i]);
        p->lead[p->nd++] = p->terms[i];
    }
    p->last = p->offs[n - 1];
    qr_sort_by_cost(p->lead, p->nd);
    for (size_t i = 0; i < n; i++)
        for (uint32_t t = 0; t < p->nd && p->rep[i] == i; t++)
            if (p->lead[t] == p->terms[i])
                p->lix[i] = t;
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
    /* three distinct terms or more: the commonest is deferred (may_match) */
    p->nc = p->nd >= 3 ? p->nd - 1 : p->nd;
    p->defer = n;
    for (size_t i = 0; i < n && p->nc < p->nd; i++)
        if (p->rep[i] == i && p->lix[i] == p->nd - 1)
            p->defer = i;
    if ((rc = qr_conj_align(p->lead, p->nc)) || (rc = qr_conj_win_init(&p->win, p->lead, p->nc)))
        goto fail;
    p->may_rejoin = p->nc < p->nd && p->win.terms && qr_conj_win_applies(p->lead, p->nd);
    /*
     * Windows apply when the terms are about as common as each other: the
     * candidates then fill the terms' blocks, whose positions are decoded
     * at once for may_match to pass over the candidates by.
     */
    for (size_t i = 0; i < n && p->win.terms; i++)
        if (p->rep[i] == i && i != p->defer) /* the deferred term's is set per ask */
            qr_postings_set_pos_mode(p->pi[i], QR_POS_BLOCK);
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

/* Number of v[0..n) (sorted) that are < x (x may be negative). */
static size_t count_lt(const uint32_t *v, size_t n, int64_t x)
{
    if (x <= 0)
        return 0;
    return qr_count_le(v, n, (uint64_t)x - 1);
}

/*
 * The pairs of one field: a's spans (starts as, ends ae, in start order)
 * against b's (bs and be each sorted). With a's ends in order too (spans of
 * one length: terms, phrases) both thresholds only grow, and two cursors
 * replace the binary searches. With `any`, stops at the first pair.
 */
static uint64_t pairs(const uint32_t *as, const uint32_t *ae, size_t na, bool a_ends_sorted,
                      const uint32_t *bs, const uint32_t *be, size_t nb, uint32_t k, bool any)
{
    uint64_t total = 0;
    size_t le = 0, lt = 0;
    for (size_t i = 0; i < na; i++) {
        uint64_t x = (uint64_t)ae[i] + k;
        int64_t y = (int64_t)as[i] - (int64_t)k;
        size_t c_le, c_lt;
        if (a_ends_sorted) {
            while (le < nb && bs[le] <= x)
                le++;
            while (lt < nb && (int64_t)be[lt] < y)
                lt++;
            c_le = le;
            c_lt = lt;
        } else {
            c_le = qr_count_le(bs, nb, x);
            c_lt = count_lt(be, nb, y);
        }
        total += c_le - c_lt;
        if (any && total)
            return total;
    }
    return total;
}

uint64_t qr_near_count(const qr_span *a, size_t na, uint32_t *starts, uint32_t *ends, size_t nb,
                       uint32_t k)
{
    if (na == 0 || nb == 0)
        return 0;
    qsort(starts, nb, sizeof *starts, cmp_u32);
    qsort(ends, nb, sizeof *ends, cmp_u32);
    uint64_t total = 0;
    for (size_t i = 0; i < na; i++) {
        uint32_t s = a[i].start, e = a[i].end;
        total += pairs(&s, &e, 1, true, starts, ends, nb, k, false);
    }
    return total;
}

/*
 * One side's occurrences at the current doc: their starts and, in the same
 * order, their ends; and the ends sorted on their own. A term's are its
 * positions, borrowed; other clauses' are copied out of their spans.
 */
struct side {
    const uint32_t *s;  /* starts, increasing */
    const uint32_t *pe; /* the end of each span of s */
    const uint32_t *e;  /* the ends, increasing (pe itself when it already is) */
    uint32_t n;
    bool same_order; /* pe is increasing (spans of one length): e == pe */
    qr_spans sp;     /* scratch for clauses that are not terms */
    uint32_t *sbuf, *pebuf, *ebuf;
    size_t cap;
};

static int span_cmp(const void *a, const void *b)
{
    const qr_span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int side_load(struct side *d, qr_it *kid)
{
    const uint32_t *pos;
    uint32_t n;
    int rc;
    if (qr_term_it_view(kid, &pos, &n, &rc)) {
        d->s = d->pe = d->e = pos;
        d->n = n;
        d->same_order = true;
        return rc;
    }
    d->sp.n = 0;
    if ((rc = qr_it_spans(kid, &d->sp)))
        return rc;
    size_t m = d->sp.n;
    if (m > d->cap) {
        uint32_t *sb = qr_reallocarray(d->sbuf, m, sizeof *sb);
        if (sb)
            d->sbuf = sb;
        uint32_t *pb = qr_reallocarray(d->pebuf, m, sizeof *pb);
        if (pb)
            d->pebuf = pb;
        uint32_t *eb = qr_reallocarray(d->ebuf, m, sizeof *eb);
        if (eb)
            d->ebuf = eb;
        if (!sb || !pb || !eb)
            return QR_ENOMEM;
        d->cap = m;
    }
    bool sorted = true;
    for (size_t i = 1; i < m && sorted; i++)
        sorted = span_cmp(&d->sp.v[i - 1], &d->sp.v[i]) <= 0;
    if (!sorted)
        qsort(d->sp.v, m, sizeof *d->sp.v, span_cmp);
    bool same = true;
    for (size_t i = 0; i < m; i++) {
        d->sbuf[i] = d->sp.v[i].start;
        d->pebuf[i] = d->sp.v[i].end;
        same = same && (i == 0 || d->pebuf[i - 1] <= d->pebuf[i]);
    }
    d->s = d->sbuf;
    d->pe = d->pebuf;
    d->e = d->pebuf;
    if (!same) {
        memcpy(d->ebuf, d->pebuf, m * sizeof *d->ebuf);
        qsort(d->ebuf, m, sizeof *d->ebuf, cmp_u32);
        d->e = d->ebuf;
    }
    d->n = (uint32_t)m;
    d->same_order = same;
    return 0;
}

static void side_free(struct side *d)
{
    qr_spans_free(&d->sp);
    qr_free(d->sbuf);
    qr_free(d->pebuf);
    qr_free(d->ebuf);
}

struct near_it {
    qr_it base;
    qr_evalctx *ctx;
    qr_it *kid[2];  /* left, right */
    qr_it *lead[2]; /* cheapest first */
    uint32_t k;
    double idf;
    uint32_t load_doc;  /* the doc whose occurrences are in side[] (QR_DOC_END: none) */
    bool loaded;        /* both sides matched there */
    uint32_t match_doc; /* the doc whose match is known */
    bool matched;
    uint32_t tf_doc; /* the doc whose pairs are counted in tf */
    double tf;
    struct side side[2];
    qr_conj_win win; /* steps the conjunction of lead */
};

static int near_next(qr_it *it)
{
    struct near_it *n = (struct near_it *)it;
    int rc = qr_conj_win_next(&n->win);
    it->doc = rc ? QR_DOC_END : n->lead[0]->doc;
    return rc;
}

static int near_seek(qr_it *it, uint32_t target)
{
    struct near_it *n = (struct near_it *)it;
    qr_conj_win_reset(&n->win);
    int rc = qr_it_seek(n->lead[0], target);
    if (!rc)
        rc = qr_conj_align(n->lead, 2);
    it->doc = rc ? QR_DOC_END : n->lead[0]->doc;
    return rc;
}

/* Both sides' occurrences at the current doc; n->loaded false when a side does not match. */
static int near_load(struct near_it *n)
{
    int rc;
    if (n->load_doc == n->base.doc)
        return 0;
    n->load_doc = n->base.doc;
    n->loaded = false;
    for (int s = 0; s < 2; s++) {
        bool m;
        if ((rc = qr_it_match(n->kid[s], &m)))
            return rc;
        if (!m)
            return 0;
    }
    for (int s = 0; s < 2; s++)
        if ((rc = side_load(&n->side[s], n->kid[s])))
            return rc;
    n->loaded = true;
    return 0;
}

/*
 * Pairs at the current doc, title with title and body with body (no span
 * crosses the boundary: the first sa starts and the first sa ends of a side
 * are its title's); with any, only whether there is one.
 */
static uint64_t near_pairs(struct near_it *n, bool any)
{
    uint32_t tp = qr_doctable_title_positions(n->ctx->dt, n->base.doc);
    const struct side *a = &n->side[0], *b = &n->side[1];
    size_t sa = count_lt(a->s, a->n, tp), sb = count_lt(b->s, b->n, tp);
    uint64_t t = pairs(a->s, a->pe, sa, a->same_order, b->s, b->e, sb, n->k, any);
    if (any && t)
        return t;
    return t + pairs(a->s + sa, a->pe + sa, a->n - sa, a->same_order, b->s + sb, b->e + sb,
                     b->n - sb, n->k, any);
}

/*
 * Whether two terms' positions a and b (increasing) have a pair at most k
 * apart in one field (title: below tp): one merge whose steps are data.
 * Each position is compared with the other side's first one not below it
 * (ties: a's first), and a pair in one field always has such a neighbour
 * pair between them, in that field and no farther apart.
 */
static bool near_any_points(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb,
                            uint32_t k, uint32_t tp)
{
    uint32_t i = 0, j = 0;
    bool found = false;
    while (i < na && j < nb && !found) {
        uint32_t x = a[i], y = b[j], d = x > y ? x - y : y - x;
        found = (d <= k) & ((x < tp) == (y < tp));
        i += x <= y;
        j += y < x;
    }
    return found;
}

static int near_match(qr_it *it, bool *out)
{
    struct near_it *n = (struct near_it *)it;
    if (n->match_doc != it->doc) {
        int rc = near_load(n);
        if (rc)
            return rc;
        const struct side *a = &n->side[0], *b = &n->side[1];
        if (!n->loaded)
            n->matched = false;
        else if (a->s == a->pe && b->s == b->pe) /* two terms: their positions */
            n->matched = near_any_points(a->s, a->n, b->s, b->n, n->k,
                                         qr_doctable_title_positions(n->ctx->dt, it->doc));
        else
            n->matched = near_pairs(n, true) > 0;
        n->match_doc = it->doc;
    }
    *out = n->matched;
    return 0;
}

static double near_score(qr_it *it)
{
    struct near_it *n = (struct near_it *)it;
    if (!it->scores)
        return 0;
    if (n->tf_doc != it->doc) {
        n->tf = n->loaded && n->load_doc == it->doc ? (double)near_pairs(n, false) : 0;
        n->tf_doc = it->doc;
    }
    return qr_bm25_norm(n->idf, n->tf, qr_evalctx_norm(n->ctx, it->doc));
}

/*
 * Two terms: no more pairs than tf_a * tf_b, no shorter document than
 * either block's shortest. Otherwise the bound of any NEAR.
 */
static double near_bound(qr_it *it)
{
    struct near_it *n = (struct near_it *)it;
    if (!it->scores)
        return 0;
    if (qr_it_is_plain_term(n->kid[0]) && qr_it_is_plain_term(n->kid[1])) {
        uint32_t last, mt[2], md[2];
        if (!qr_term_it_block(n->kid[0], &last, &mt[0], &md[0]) ||
            !qr_term_it_block(n->kid[1], &last, &mt[1], &md[1]))
            return it->max_score;
        double tf = (double)qr_postings_freq(qr_term_it_postings(n->kid[0])) *
                    (double)qr_postings_freq(qr_term_it_postings(n->kid[1]));
        double b = qr_bm25_bound(n->idf, tf, md[0] > md[1] ? md[0] : md[1], n->ctx->avgdl);
        return b < it->max_score ? b : it->max_score;
    }
    return it->max_score;
}

/* The occurrences of a NEAR: every matching pair, spanning both of its spans. */
static int near_spans(qr_it *it, qr_spans *out)
{
    struct near_it *n = (struct near_it *)it;
    int rc = near_load(n);
    if (rc || !n->loaded)
        return rc;
    uint32_t tp = qr_doctable_title_positions(n->ctx->dt, it->doc);
    const struct side *A = &n->side[0], *B = &n->side[1];
    for (uint32_t i = 0; i < A->n; i++) {
        uint32_t as = A->s[i], ae = A->pe[i];
        bool a_title = as < tp;
        for (uint32_t j = 0; j < B->n; j++) {
            uint32_t bs = B->s[j], be = B->pe[j];
            if ((uint64_t)bs > (uint64_t)ae + n->k)
                break; /* in start order: no later b is close enough */
            if ((bs < tp) != a_title || (int64_t)be < (int64_t)as - (int64_t)n->k)
                continue;
            if ((rc = qr_spans_push(out, as < bs ? as : bs, ae > be ? ae : be)))
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
    side_free(&n->side[0]);
    side_free(&n->side[1]);
    qr_conj_win_free(&n->win);
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
    n->load_doc = n->match_doc = n->tf_doc = QR_DOC_END;
    qr_sort_by_cost(n->lead, 2);
    n->base.cost = n->lead[0]->cost;
    /* tf (k1 + 1) / (tf + norm) < k1 + 1 for every tf: the bound of any NEAR. */
    n->base.max_score = pn->scores && n->idf > 0 ? n->idf * (QR_K1 + 1) : 0;
    int rc = qr_conj_align(n->lead, 2);
    if (!rc)
        rc = qr_conj_win_init(&n->win, n->lead, 2);
    if (rc) {
        near_free(&n->base);
        return rc;
    }
    n->base.doc = n->lead[0]->doc;
    *out = &n->base;
    return 0;
}
