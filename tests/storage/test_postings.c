/*
 * Tests for storage/postings.c: round trips against a plain-array reference
 * at the block boundaries and at large sizes, a random next / seek /
 * positions / block_for walk compared step by step with the reference,
 * block maxima, several terms in one pair of streams, golden bytes, writer
 * argument errors, allocation failures, and corrupt input (every byte
 * flipped, every truncation) read from exact-size copies so that ASan sees
 * any out-of-bounds read.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/bitpack.h"
#include "storage/buf.h"
#include "storage/postings.h"
#include "storage/status.h"

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* A term's postings as plain arrays: the reference the codec is compared with. */
typedef struct ref {
    uint32_t n;    /* df */
    uint32_t *doc; /* doc ids, increasing */
    uint32_t *tf;  /* tfs */
    uint32_t *dl;  /* doc lengths */
    size_t *poff;  /* positions of doc i: pos[poff[i] .. poff[i+1]) */
    uint32_t *pos; /* all positions */
    uint64_t ttf;  /* sum of tfs */
} ref;

enum gap_mode {
    GAPS_MIXED, /* runs of dense docs and gaps of every width up to 2^12 */
    GAPS_DENSE, /* every doc */
    GAPS_WIDE,  /* a few docs spread over the whole 32-bit id space */
};

static uint32_t gen_gap(enum gap_mode mode)
{
    switch (mode) {
    case GAPS_DENSE:
        return 0;
    case GAPS_WIDE:
        return rnd() % 2 ? rnd() >> (rnd() % 8) : rnd() % 4;
    case GAPS_MIXED:
    default:
        return rnd() % 3 == 0 ? 0 : rnd() % (1u << (rnd() % 13));
    }
}

static uint32_t gen_tf(void)
{
    uint32_t r = rnd() % 100;
    if (r < 60)
        return 1;
    if (r < 90)
        return 2 + rnd() % 4;
    if (r < 99)
        return 6 + rnd() % 40;
    return 50 + rnd() % 400;
}

/* Generates n postings (first doc `first`); wide gaps are clamped to stay below QR_DOC_END. */
static void ref_gen(ref *r, uint32_t n, uint64_t seed, enum gap_mode mode, uint32_t first)
{
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    r->n = n;
    r->doc = malloc(sizeof(uint32_t) * (n ? n : 1));
    r->tf = malloc(sizeof(uint32_t) * (n ? n : 1));
    r->dl = malloc(sizeof(uint32_t) * (n ? n : 1));
    r->poff = malloc(sizeof(size_t) * (n + 1));
    cr_assert(r->doc && r->tf && r->dl && r->poff);
    size_t cap = 1024, np = 0;
    r->pos = malloc(sizeof(uint32_t) * cap);
    cr_assert_not_null(r->pos);
    r->ttf = 0;
    if (n > 0 && first > QR_DOC_END - n)
        first = QR_DOC_END - n;
    uint64_t doc = first;
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0) {
            /* leave room for the docs still to come, below QR_DOC_END */
            uint64_t room = (uint64_t)QR_DOC_END - 2 - doc - (n - 1 - i);
            uint64_t gap = gen_gap(mode);
            doc += 1 + (gap < room ? gap : room);
        }
        r->doc[i] = (uint32_t)doc;
        uint32_t tf = gen_tf();
        r->tf[i] = tf;
        r->ttf += tf;
        r->poff[i] = np;
        while (np + tf > cap) {
            cap *= 2;
            r->pos = realloc(r->pos, sizeof(uint32_t) * cap);
            cr_assert_not_null(r->pos);
        }
        uint32_t p = rnd() % 8;
        for (uint32_t k = 0; k < tf; k++) {
            r->pos[np++] = p;
            /* mostly increasing, sometimes repeated, sometimes far apart */
            uint32_t step = rnd() % 16;
            p += step == 0 ? 0 : step < 14 ? step : 1000 + rnd() % 100000;
        }
        r->dl[i] = p + 1 + rnd() % 64;
    }
    r->poff[n] = np;
}

static void ref_free(ref *r)
{
    free(r->doc);
    free(r->tf);
    free(r->dl);
    free(r->poff);
    free(r->pos);
}

static qr_term_meta ref_write(qr_postings_writer *w, const ref *r)
{
    qr_term_meta m;
    qr_postings_begin(w);
    for (uint32_t i = 0; i < r->n; i++)
        cr_assert_eq(qr_postings_add(w, r->doc[i], r->tf[i], r->dl[i], r->pos + r->poff[i]), 0,
                     "add %u", i);
    cr_assert_eq(qr_postings_end(w, &m), 0);
    cr_assert_eq(m.df, r->n);
    cr_assert_eq(m.ttf, r->ttf);
    return m;
}

/* Generates a reference term (ref_gen's arguments) and writes it to doc and pos. */
static qr_term_meta write_term(qr_buf *doc, qr_buf *pos, ref *r, uint32_t n, uint64_t seed,
                               enum gap_mode mode, uint32_t first)
{
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, doc, pos), 0);
    ref_gen(r, n, seed, mode, first);
    qr_term_meta m = ref_write(w, r);
    qr_postings_writer_close(w);
    return m;
}

/* The reference bound of block b (chunks of QR_BLOCK postings). */
static qr_block_max ref_block(const ref *r, uint32_t b)
{
    qr_block_max m = {0, 0, UINT32_MAX};
    uint32_t end = (b + 1) * QR_BLOCK < r->n ? (b + 1) * QR_BLOCK : r->n;
    for (uint32_t i = b * QR_BLOCK; i < end; i++) {
        m.max_tf = r->tf[i] > m.max_tf ? r->tf[i] : m.max_tf;
        m.min_dl = r->dl[i] < m.min_dl ? r->dl[i] : m.min_dl;
    }
    m.last_doc = r->doc[end - 1];
    return m;
}

static void assert_max_eq(qr_block_max got, qr_block_max want, const char *what)
{
    cr_assert_eq(got.last_doc, want.last_doc, "%s: last_doc %u != %u", what, got.last_doc,
                 want.last_doc);
    cr_assert_eq(got.max_tf, want.max_tf, "%s: max_tf %u != %u", what, got.max_tf, want.max_tf);
    cr_assert_eq(got.min_dl, want.min_dl, "%s: min_dl %u != %u", what, got.min_dl, want.min_dl);
}

static void check_positions(qr_postings_iter *it, const ref *r, uint32_t i)
{
    const uint32_t *p;
    uint32_t n;
    cr_assert_eq(qr_postings_positions(it, &p, &n), 0, "positions of posting %u", i);
    cr_assert_eq(n, r->tf[i]);
    cr_assert_arr_eq(p, r->pos + r->poff[i], sizeof(uint32_t) * n, "positions of posting %u", i);
}

/*
 * After an ask at posting i: the deltas qr_postings_block_deltas lends for
 * the current doc and each later one of its block sum to their positions;
 * doc by doc none are lent, a block at a time always.
 */
static void check_block_deltas(qr_postings_iter *it, const ref *r, uint32_t i, qr_pos_mode mode)
{
    const uint32_t *bd;
    uint32_t at = qr_postings_in_block(it), bn = qr_postings_block_docs(it, &bd);
    for (uint32_t k = at; k < at + bn; k++) {
        const uint32_t *d = NULL;
        uint32_t n = 0, ix = i + (k - at);
        bool lent = qr_postings_block_deltas(it, k, &d, &n);
        cr_assert(mode != QR_POS_DOC || !lent, "posting %u: doc by doc, no block", ix);
        cr_assert(mode != QR_POS_BLOCK || lent, "posting %u: the block is decoded", ix);
        if (!lent)
            continue;
        cr_assert_eq(bd[k - at], r->doc[ix]);
        cr_assert_eq(n, r->tf[ix], "posting %u: tf", ix);
        uint64_t sum = 0;
        for (uint32_t j = 0; j < n; j++) {
            sum += d[j];
            cr_assert_eq(sum, r->pos[r->poff[ix] + j], "posting %u: position %u", ix, j);
        }
    }
}

static const qr_pos_mode all_modes[] = {QR_POS_AUTO, QR_POS_DOC, QR_POS_BLOCK};
#define NMODES (sizeof all_modes / sizeof all_modes[0])

/*
 * Walks the whole term with next, checking docs, tfs, positions (every
 * `pstride`-th doc), with positions decoded in the given mode.
 */
static void check_all_mode(const ref *r, qr_slice docs, qr_slice pos, const qr_term_meta *m,
                           uint32_t pstride, qr_pos_mode mode)
{
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, docs, pos, m), 0);
    qr_postings_set_pos_mode(&it, mode);
    qr_block_max tm = qr_postings_term_max(&it);
    qr_block_max want = {r->doc[r->n - 1], 0, UINT32_MAX};
    for (uint32_t i = 0; i < r->n; i++) {
        want.max_tf = r->tf[i] > want.max_tf ? r->tf[i] : want.max_tf;
        want.min_dl = r->dl[i] < want.min_dl ? r->dl[i] : want.min_dl;
    }
    assert_max_eq(tm, want, "term max");
    for (uint32_t i = 0; i < r->n; i++) {
        cr_assert_eq(it.doc, r->doc[i], "posting %u: doc %u != %u", i, it.doc, r->doc[i]);
        if (i % QR_BLOCK == 0) {
            qr_block_max bm;
            cr_assert(qr_postings_block_for(&it, it.doc, &bm));
            assert_max_eq(bm, ref_block(r, i / QR_BLOCK), "block");
        }
        cr_assert_eq(qr_postings_freq(&it), r->tf[i], "tf of posting %u", i);
        if (i % pstride == 0) {
            check_positions(&it, r, i);
            if (i % (7 * pstride) == 0)
                check_block_deltas(&it, r, i, mode);
        }
        cr_assert_eq(qr_postings_next(&it), 0);
    }
    cr_assert_eq(it.doc, QR_DOC_END);
    cr_assert_eq(it.err, 0);
    cr_assert_eq(qr_postings_next(&it), 0, "next at the end stays there");
    cr_assert_eq(it.doc, QR_DOC_END);
    cr_assert_eq(qr_postings_freq(&it), 0);
    qr_postings_iter_free(&it);
}

/* check_all_mode in every mode: doc by doc, the rest of each block at once, and the choice. */
static void check_all(const ref *r, qr_slice docs, qr_slice pos, const qr_term_meta *m,
                      uint32_t pstride)
{
    for (size_t k = 0; k < NMODES; k++)
        check_all_mode(r, docs, pos, m, pstride, all_modes[k]);
}

static qr_slice slice_of(const qr_buf *b)
{
    return (qr_slice){b->p, b->n};
}

/* Writes one generated term into fresh streams and checks it whole. */
static void roundtrip(uint32_t n, uint64_t seed, enum gap_mode mode, uint32_t first,
                      uint32_t pstride)
{
    qr_buf doc = {0}, pos = {0};
    ref r;
    qr_term_meta m = write_term(&doc, &pos, &r, n, seed, mode, first);
    cr_assert_eq(m.doc_off, 0);
    cr_assert_eq(m.pos_off, 0);
    check_all(&r, slice_of(&doc), slice_of(&pos), &m, pstride);
    ref_free(&r);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/* ---- round trips ---------------------------------------------------------- */

Test(postings, writer_rejects_empty_term)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    qr_term_meta m;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    cr_assert_eq(qr_postings_end(w, &m), QR_EINVAL, "end without begin");
    uint32_t p = 0;
    cr_assert_eq(qr_postings_add(w, 1, 1, 1, &p), QR_EINVAL, "add without begin");
    qr_postings_begin(w);
    cr_assert_eq(qr_postings_end(w, &m), QR_EINVAL, "a term with no document");
    cr_assert_eq(doc.n, 0);
    cr_assert_eq(pos.n, 0);
    qr_postings_writer_close(w);
    qr_postings_writer_close(NULL);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
    cr_assert_eq(qr_postings_writer_open(&w, NULL, &pos), QR_EINVAL);
    cr_assert_null(w);
}

Test(postings, roundtrip_block_boundaries)
{
    static const uint32_t sizes[] = {1, 2, 3, 127, 128, 129, 255, 256, 257, 383, 384, 385};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        roundtrip(sizes[s], 100 + s, GAPS_MIXED, 0, 1);
        roundtrip(sizes[s], 200 + s, GAPS_DENSE, 0, 1);
        roundtrip(sizes[s], 300 + s, GAPS_WIDE, rnd(), 1);
    }
}

/*
 * Regression (found by the clang UBSan fuzz build, tests/fuzz): a fresh
 * writer whose first term opens with full blocks that pack at width 0 (dense
 * docs, every tf 1) computed NULL + 0 for the empty block buffer, undefined
 * behaviour that clang's -fsanitize=undefined reports (gcc's does not look).
 */
Test(postings, first_term_width_zero_blocks)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    qr_term_meta m;
    static const uint32_t p0[] = {0};
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    qr_postings_begin(w);
    for (uint32_t d = 0; d < 2 * QR_BLOCK + 1; d++)
        cr_assert_eq(qr_postings_add(w, d, 1, 5, p0), 0);
    cr_assert_eq(qr_postings_end(w, &m), 0);
    qr_postings_stats st;
    qr_postings_writer_stats(w, &st);
    cr_assert_eq(st.postings, 2 * QR_BLOCK + 1);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, (qr_slice){doc.p, doc.n}, (qr_slice){pos.p, pos.n}, &m),
                 0);
    for (uint32_t d = 0; d < 2 * QR_BLOCK + 1; d++) {
        cr_assert_eq(it.doc, d);
        cr_assert_eq(qr_postings_freq(&it), 1);
        const uint32_t *p;
        uint32_t n;
        cr_assert_eq(qr_postings_positions(&it, &p, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(p[0], 0);
        cr_assert_eq(qr_postings_next(&it), 0);
    }
    cr_assert_eq(it.doc, QR_DOC_END);
    qr_postings_iter_free(&it);
    qr_postings_writer_close(w);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

Test(postings, roundtrip_10000)
{
    roundtrip(10000, 1, GAPS_MIXED, 3, 1);
    roundtrip(10000, 2, GAPS_DENSE, 0, 1);
    roundtrip(10000, 3, GAPS_WIDE, 0, 1);
}

Test(postings, roundtrip_1000000)
{
    roundtrip(1000000, 4, GAPS_MIXED, 0, 1);
}

Test(postings, extreme_doc_ids)
{
    /* the largest ids and gaps: 32-bit packed widths, ids up to QR_DOC_END - 1 */
    uint32_t first[] = {0, UINT32_MAX - 1000, 4000000000u};
    for (size_t f = 0; f < 3; f++) {
        qr_buf doc = {0}, pos = {0};
        qr_postings_writer *w;
        cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
        ref r;
        ref_gen(&r, 300, 9 + f, GAPS_WIDE, first[f]);
        if (f == 0) { /* a first gap of 2^31 and a last doc of QR_DOC_END - 1 */
            r.doc[1] = 1u << 31;
            for (uint32_t i = 2; i < r.n; i++)
                r.doc[i] = r.doc[1] + i;
            r.doc[r.n - 1] = QR_DOC_END - 1;
        }
        qr_term_meta m = ref_write(w, &r);
        check_all(&r, slice_of(&doc), slice_of(&pos), &m, 1);
        ref_free(&r);
        qr_postings_writer_close(w);
        qr_buf_free(&doc);
        qr_buf_free(&pos);
    }
    /* one doc: the largest id, a large tf */
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    static uint32_t ps[5000];
    for (uint32_t i = 0; i < 5000; i++)
        ps[i] = i * 3;
    qr_postings_begin(w);
    cr_assert_eq(qr_postings_add(w, QR_DOC_END - 1, 5000, 15000, ps), 0);
    qr_term_meta m;
    cr_assert_eq(qr_postings_end(w, &m), 0);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    cr_assert_eq(it.doc, QR_DOC_END - 1);
    cr_assert_eq(qr_postings_freq(&it), 5000);
    const uint32_t *p;
    uint32_t n;
    cr_assert_eq(qr_postings_positions(&it, &p, &n), 0);
    cr_assert_eq(n, 5000);
    cr_assert_arr_eq(p, ps, sizeof ps);
    qr_block_max tm = qr_postings_term_max(&it);
    cr_assert_eq(tm.last_doc, QR_DOC_END - 1);
    cr_assert_eq(tm.max_tf, 5000);
    cr_assert_eq(tm.min_dl, 15000);
    qr_postings_iter_free(&it);
    qr_postings_writer_close(w);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

Test(postings, golden_bytes)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    qr_term_meta m;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);

    /* df = 1: doc, dl; tf is meta.ttf */
    static const uint32_t p1[] = {3, 7};
    qr_postings_begin(w);
    cr_assert_eq(qr_postings_add(w, 5, 2, 9, p1), 0);
    cr_assert_eq(qr_postings_end(w, &m), 0);
    cr_assert_eq(m.df, 1);
    cr_assert_eq(m.ttf, 2);
    static const uint8_t d1[] = {0x05, 0x09}, q1[] = {0x03, 0x04};
    cr_assert_eq(doc.n, sizeof d1);
    cr_assert_arr_eq(doc.p, d1, sizeof d1);
    cr_assert_arr_eq(pos.p, q1, sizeof q1);

    /* df = 3: min_dl 4, then per doc gap << 1 | (tf == 1) [tf - 2] */
    static const uint32_t p2[] = {0, 1};
    qr_postings_begin(w);
    cr_assert_eq(qr_postings_add(w, 2, 1, 10, p2), 0);
    cr_assert_eq(qr_postings_add(w, 3, 2, 4, p2), 0);
    cr_assert_eq(qr_postings_add(w, 200, 1, 300, p2), 0);
    cr_assert_eq(qr_postings_end(w, &m), 0);
    cr_assert_eq(m.doc_off, 2);
    cr_assert_eq(m.pos_off, 2);
    static const uint8_t d2[] = {0x04, 0x05, 0x00, 0x00, 0x89, 0x03};
    cr_assert_eq(doc.n, 2 + sizeof d2);
    cr_assert_arr_eq(doc.p + 2, d2, sizeof d2);
    static const uint8_t q2[] = {0x00, 0x00, 0x01, 0x00};
    cr_assert_eq(pos.n, 2 + sizeof q2);
    cr_assert_arr_eq(pos.p + 2, q2, sizeof q2);

    /* df = 129, docs 0..128, tf 1, dl 10: one full block of width 0 and a one-doc tail */
    size_t at = doc.n;
    qr_postings_begin(w);
    for (uint32_t d = 0; d <= 128; d++)
        cr_assert_eq(qr_postings_add(w, d, 1, 10, p2), 0);
    cr_assert_eq(qr_postings_end(w, &m), 0);
    static const uint8_t d3[] = {
        0x80, 0x01, 0x00, 0x0a,       /* head: last 128, max_tf 1, min_dl 10 */
        0x07,                         /* skiplen */
        0x00, 0x00, 0x00, 0x0a, 0x00, /* full: gapsum, width, tf, dl, tf width and exceptions */
        0x00, 0x0a,                   /* tail entry */
        0x01,                         /* tail: doc 128 (gap 0), tf 1 */
    };
    cr_assert_eq(doc.n - at, sizeof d3);
    cr_assert_arr_eq(doc.p + at, d3, sizeof d3);
    /*
     * positions: the landing table (3 bytes: block 0 has 128 positions, block 1's
     * first is in the position block 2 bytes on), 128 deltas 0 as a PFOR block
     * of width 0 with no exception, then the 129th as a varint
     */
    static const uint8_t q3[] = {0x03, 0x80, 0x01, 0x02, 0x00, 0x00, 0x00};
    cr_assert_eq(pos.n - m.pos_off, sizeof q3);
    cr_assert_arr_eq(pos.p + m.pos_off, q3, sizeof q3);

    qr_postings_writer_close(w);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/* ---- random walks --------------------------------------------------------- */

static uint32_t lower_bound(const ref *r, uint32_t target)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->doc[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A target near posting i: a doc id, a gap between two, or past the end. */
static uint32_t pick_target(const ref *r, uint32_t i)
{
    uint32_t j = i + (rnd() % 4 == 0 ? rnd() % r->n : rnd() % 300);
    if (j >= r->n)
        return rnd() % 8 == 0 ? QR_DOC_END - 1 : r->doc[r->n - 1] + rnd() % 3;
    uint32_t t = r->doc[j];
    switch (rnd() % 3) {
    case 0:
        return t;
    case 1:
        return t + 1 < QR_DOC_END ? t + 1 : t;
    default:
        return t > 0 ? t - 1 : t;
    }
}

static void random_walk(uint32_t n, uint64_t seed, enum gap_mode mode, int ops)
{
    qr_buf doc = {0}, pos = {0};
    ref r;
    qr_term_meta m = write_term(&doc, &pos, &r, n, seed, mode, rnd() % 50);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    qr_postings_set_pos_mode(&it, all_modes[rnd() % NMODES]);
    uint32_t i = 0; /* reference index of the current posting (n at the end) */
    for (int op = 0; op < ops; op++) {
        uint32_t t;
        switch (rnd() % 8) {
        case 0:
        case 1:
            cr_assert_eq(qr_postings_next(&it), 0);
            i += i < n;
            break;
        case 2:
        case 3:
            t = pick_target(&r, i);
            cr_assert_eq(qr_postings_seek(&it, t), 0);
            if (i < n && t > r.doc[i])
                i = lower_bound(&r, t);
            break;
        case 4:
            if (i < n)
                cr_assert_eq(qr_postings_freq(&it), r.tf[i]);
            break;
        case 5:
            if (i < n)
                check_positions(&it, &r, i);
            break;
        case 6: {
            qr_block_max bm;
            t = pick_target(&r, i);
            bool got = qr_postings_block_for(&it, t, &bm);
            if (i == n) {
                cr_assert_not(got);
                break;
            }
            uint32_t b = i / QR_BLOCK, nb = (n - 1) / QR_BLOCK + 1;
            while (b < nb && ref_block(&r, b).last_doc < t)
                b++;
            cr_assert_eq(got, b < nb, "block_for(%u)", t);
            if (got)
                assert_max_eq(bm, ref_block(&r, b), "block_for");
            break;
        }
        default: {
            const uint32_t *d, *f;
            uint32_t k = qr_postings_block_docs(&it, &d);
            if (i == n) {
                cr_assert_eq(k, 0);
                break;
            }
            cr_assert_eq(k, (i / QR_BLOCK + 1) * QR_BLOCK < n ? QR_BLOCK - i % QR_BLOCK : n - i);
            cr_assert_arr_eq(d, r.doc + i, sizeof(uint32_t) * k);
            cr_assert_eq(qr_postings_block_freqs(&it, &f), 0);
            cr_assert_arr_eq(f, r.tf + i, sizeof(uint32_t) * k);
            if (rnd() % 2) {
                cr_assert_eq(qr_postings_next_block(&it), 0);
                i += k;
            }
            break;
        }
        }
        cr_assert_eq(it.doc, i < n ? r.doc[i] : QR_DOC_END, "op %d: doc %u, want posting %u", op,
                     it.doc, i);
        if (i == n && rnd() % 4 == 0) { /* start over to keep walking */
            qr_postings_iter_free(&it);
            cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
            qr_postings_set_pos_mode(&it, all_modes[rnd() % NMODES]);
            i = 0;
        }
    }
    cr_assert_eq(it.err, 0);
    qr_postings_iter_free(&it);
    ref_free(&r);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

Test(postings, random_walks_against_reference)
{
    static const uint32_t sizes[] = {1, 2, 127, 128, 129, 1000, 5000, 40000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        random_walk(sizes[s], 11 + s, GAPS_MIXED, 6000);
        random_walk(sizes[s], 23 + s, GAPS_DENSE, 3000);
        random_walk(sizes[s], 37 + s, GAPS_WIDE, 3000);
    }
}

Test(postings, seek_edges)
{
    qr_buf doc = {0}, pos = {0};
    ref r;
    qr_term_meta m = write_term(&doc, &pos, &r, 700, 5, GAPS_MIXED, 10);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    cr_assert_eq(it.doc, 10);
    cr_assert_eq(qr_postings_seek(&it, 0), 0, "backwards: no-op");
    cr_assert_eq(it.doc, 10);
    cr_assert_eq(qr_postings_seek(&it, r.doc[300]), 0);
    cr_assert_eq(it.doc, r.doc[300]);
    check_positions(&it, &r, 300);
    cr_assert_eq(qr_postings_seek(&it, r.doc[200]), 0, "backwards: no-op");
    cr_assert_eq(it.doc, r.doc[300]);
    cr_assert_eq(qr_postings_seek(&it, r.doc[300]), 0, "to the current doc: no-op");
    cr_assert_eq(it.doc, r.doc[300]);
    check_positions(&it, &r, 300);
    qr_block_max bm;
    cr_assert(qr_postings_block_for(&it, 0, &bm), "a target behind gives the current block");
    assert_max_eq(bm, ref_block(&r, 300 / QR_BLOCK), "current block");
    cr_assert(qr_postings_block_for(&it, r.doc[699], &bm));
    assert_max_eq(bm, ref_block(&r, 699 / QR_BLOCK), "last block");
    cr_assert_eq(it.doc, r.doc[300], "block_for does not move the iterator");
    cr_assert_not(qr_postings_block_for(&it, r.doc[699] + 1, &bm), "no block past the end");
    cr_assert_eq(qr_postings_seek(&it, r.doc[699] + 1), 0, "beyond the end");
    cr_assert_eq(it.doc, QR_DOC_END);
    cr_assert_eq(it.err, 0);
    cr_assert_eq(qr_postings_seek(&it, 5), 0);
    cr_assert_eq(it.doc, QR_DOC_END, "the end is final");
    cr_assert_eq(qr_postings_next_block(&it), 0);
    cr_assert_eq(it.doc, QR_DOC_END);
    const uint32_t *d;
    cr_assert_eq(qr_postings_block_docs(&it, &d), 0);
    cr_assert_null(d);
    const uint32_t *p;
    uint32_t n = 99;
    cr_assert_eq(qr_postings_positions(&it, &p, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_not(qr_postings_block_for(&it, 0, &bm));
    cr_assert_eq(qr_postings_block_freqs(&it, &p), 0);
    cr_assert_null(p);
    qr_postings_iter_free(&it);
    qr_postings_iter_free(NULL);

    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    cr_assert_eq(qr_postings_seek(&it, QR_DOC_END - 1), 0, "straight past the end");
    cr_assert_eq(it.doc, QR_DOC_END);
    qr_postings_iter_free(&it);

    /* block_for's look-ahead, then a seek that reuses it, then block_for behind it */
    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    cr_assert(qr_postings_block_for(&it, r.doc[600], &bm));
    assert_max_eq(bm, ref_block(&r, 600 / QR_BLOCK), "look-ahead");
    cr_assert(qr_postings_block_for(&it, r.doc[300], &bm));
    assert_max_eq(bm, ref_block(&r, 300 / QR_BLOCK), "look-back restarts from the current block");
    cr_assert(qr_postings_block_for(&it, r.doc[500], &bm));
    cr_assert_eq(qr_postings_seek(&it, r.doc[550]), 0);
    cr_assert_eq(it.doc, r.doc[550]);
    check_positions(&it, &r, 550);
    cr_assert_eq(qr_postings_freq(&it), r.tf[550]);
    qr_postings_iter_free(&it);

    ref_free(&r);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

Test(postings, several_terms_share_streams)
{
    enum { T = 12 };
    static const uint32_t sizes[T] = {1, 5, 128, 129, 1, 3000, 257, 2, 1, 700, 128, 50};
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    ref r[T];
    qr_term_meta m[T];
    for (int t = 0; t < T; t++) {
        ref_gen(&r[t], sizes[t], 1000 + (uint64_t)t, t % 3 ? GAPS_MIXED : GAPS_WIDE,
                (uint32_t)t * 7);
        m[t] = ref_write(w, &r[t]);
        if (t == 3) { /* an abandoned term leaves nothing behind */
            size_t dn = doc.n, pn = pos.n;
            uint32_t p0 = 0;
            qr_postings_begin(w);
            cr_assert_eq(qr_postings_add(w, 1, 1, 1, &p0), 0);
            qr_postings_begin(w);
            cr_assert_eq(doc.n, dn);
            cr_assert_eq(pos.n, pn);
        }
    }
    qr_postings_stats st;
    qr_postings_writer_stats(w, &st);
    uint64_t df = 0, ttf = 0;
    for (int t = 0; t < T; t++) {
        df += r[t].n;
        ttf += r[t].ttf;
    }
    cr_assert_eq(st.terms, T);
    cr_assert_eq(st.postings, df);
    cr_assert_eq(st.positions, ttf);
    cr_assert_eq(st.head_bytes + st.skip_bytes + st.doc_bytes + st.freq_bytes, doc.n,
                 "the parts add up to the doc stream");
    cr_assert_eq(st.pos_bytes, pos.n);
    cr_assert_gt(st.skip_bytes, 0);
    cr_assert_gt(st.doc_bytes, 0);
    cr_assert_gt(st.freq_bytes, 0);
    /* read back in reverse order, and all at once, interleaved */
    for (int t = T - 1; t >= 0; t--)
        check_all(&r[t], slice_of(&doc), slice_of(&pos), &m[t], 1);
    qr_postings_iter its[T];
    uint32_t idx[T] = {0};
    for (int t = 0; t < T; t++)
        cr_assert_eq(qr_postings_iter_init(&its[t], slice_of(&doc), slice_of(&pos), &m[t]), 0);
    for (int round = 0; round < 3000; round++) {
        for (int t = 0; t < T; t++) {
            if (idx[t] == r[t].n)
                continue;
            cr_assert_eq(its[t].doc, r[t].doc[idx[t]]);
            check_positions(&its[t], &r[t], idx[t]);
            qr_postings_next(&its[t]);
            idx[t]++;
        }
    }
    for (int t = 0; t < T; t++) {
        cr_assert_eq(its[t].doc, QR_DOC_END);
        qr_postings_iter_free(&its[t]);
        ref_free(&r[t]);
    }
    qr_postings_writer_close(w);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/* ---- writer errors ---------------------------------------------------------- */

Test(postings, writer_argument_errors)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    static const uint32_t ok[] = {1, 4, 4, 9}, bad[] = {1, 4, 3};
    qr_postings_begin(w);
    cr_assert_eq(qr_postings_add(w, 10, 4, 20, ok), 0, "repeated positions are allowed");
    size_t pn = pos.n;
    cr_assert_eq(qr_postings_add(w, 9, 1, 20, ok), QR_EINVAL, "decreasing doc id");
    cr_assert_eq(qr_postings_add(w, 10, 1, 20, ok), QR_EINVAL, "repeated doc id");
    cr_assert_eq(qr_postings_add(w, 11, 0, 20, ok), QR_EINVAL, "tf = 0");
    cr_assert_eq(qr_postings_add(w, 11, 3, 20, bad), QR_EINVAL, "decreasing positions");
    cr_assert_eq(qr_postings_add(w, 11, 1, 20, NULL), QR_EINVAL, "no positions");
    cr_assert_eq(qr_postings_add(w, QR_DOC_END, 1, 20, ok), QR_EINVAL, "the end marker");
    cr_assert_eq(pos.n, pn, "a rejected posting writes nothing");
    cr_assert_eq(qr_postings_add(w, 11, 2, 7, ok), 0, "the writer goes on after EINVAL");
    qr_term_meta m;
    cr_assert_eq(qr_postings_end(w, &m), 0);
    cr_assert_eq(m.df, 2);
    cr_assert_eq(m.ttf, 6);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    cr_assert_eq(it.doc, 10);
    cr_assert_eq(qr_postings_freq(&it), 4);
    const uint32_t *p;
    uint32_t n;
    cr_assert_eq(qr_postings_positions(&it, &p, &n), 0);
    cr_assert_arr_eq(p, ok, sizeof ok);
    cr_assert_eq(qr_postings_next(&it), 0);
    cr_assert_eq(it.doc, 11);
    cr_assert_eq(qr_postings_freq(&it), 2);
    qr_postings_iter_free(&it);
    qr_postings_writer_close(w);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/* Writes a generated term with allocations failing after `k`; returns the first error. */
static int write_with_failures(long k, const ref *r, qr_buf *doc, qr_buf *pos, qr_term_meta *m)
{
    qr_postings_writer *w = NULL;
    qr_alloc_fail_after(k);
    int rc = qr_postings_writer_open(&w, doc, pos);
    if (rc == 0) {
        qr_postings_begin(w);
        for (uint32_t i = 0; i < r->n && rc == 0; i++)
            rc = qr_postings_add(w, r->doc[i], r->tf[i], r->dl[i], r->pos + r->poff[i]);
        if (rc == 0)
            rc = qr_postings_end(w, m);
        if (rc) { /* the error is sticky */
            uint32_t p = 0;
            cr_assert_eq(qr_postings_add(w, QR_DOC_END - 1, 1, 1, &p), rc);
            cr_assert_eq(qr_postings_end(w, m), rc);
        }
    }
    qr_alloc_fail_after(-1);
    qr_postings_writer_close(w);
    return rc;
}

Test(postings, writer_allocation_failures)
{
    ref r;
    ref_gen(&r, 1000, 77, GAPS_MIXED, 0);
    long k;
    for (k = 0;; k++) {
        qr_buf doc = {0}, pos = {0};
        qr_term_meta m;
        int rc = write_with_failures(k, &r, &doc, &pos, &m);
        if (rc == 0) {
            check_all(&r, slice_of(&doc), slice_of(&pos), &m, 1);
            qr_buf_free(&doc);
            qr_buf_free(&pos);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM, "failing allocation %ld gives %d", k, rc);
        qr_buf_free(&doc);
        qr_buf_free(&pos);
    }
    cr_assert_gt(k, 3, "the writer allocates (writer, skip, blocks, streams)");
    ref_free(&r);
}

Test(postings, positions_allocation_failure)
{
    qr_buf doc = {0}, pos = {0};
    ref r;
    qr_term_meta m = write_term(&doc, &pos, &r, 300, 8, GAPS_MIXED, 0);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    qr_postings_set_pos_mode(&it, QR_POS_DOC); /* the block path falls back: its own test */
    const uint32_t *p;
    uint32_t n;
    qr_alloc_fail_after(0);
    int rc = qr_postings_positions(&it, &p, &n);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ENOMEM);
    cr_assert_eq(n, 0);
    cr_assert_eq(it.err, 0, "running out of memory is not corruption");
    cr_assert_eq(it.doc, r.doc[0]);
    check_positions(&it, &r, 0);
    /* later, a larger doc must grow the buffer: fail that */
    uint32_t big = 1;
    while (big < r.n && r.tf[big] <= 16)
        big++;
    cr_assert_lt(big, r.n);
    cr_assert_eq(qr_postings_seek(&it, r.doc[big]), 0);
    qr_alloc_fail_after(0);
    rc = qr_postings_positions(&it, &p, &n);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ENOMEM);
    check_positions(&it, &r, big);
    qr_postings_iter_free(&it);
    ref_free(&r);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/*
 * Decoding the rest of a block needs its own buffer: when it cannot grow,
 * the doc's positions come doc by doc (into the doc buffer, which may
 * itself fail), and a later ask decodes the block once memory is back.
 */
Test(postings, block_positions_allocation_failure)
{
    qr_buf doc = {0}, pos = {0};
    ref r;
    qr_term_meta m = write_term(&doc, &pos, &r, 300, 9, GAPS_MIXED, 0);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    qr_postings_set_pos_mode(&it, QR_POS_BLOCK);
    const uint32_t *p;
    uint32_t n;
    /* neither buffer can grow: out of memory, not corruption */
    qr_alloc_fail_after(0);
    int rc = qr_postings_positions(&it, &p, &n);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ENOMEM);
    cr_assert_eq(it.err, 0);
    /* the doc buffer grows (doc by doc), then the block buffer is refused: doc by doc */
    qr_postings_set_pos_mode(&it, QR_POS_DOC);
    check_positions(&it, &r, 0);
    qr_postings_set_pos_mode(&it, QR_POS_BLOCK);
    uint32_t i = 1;
    while (r.tf[i] > it.posbuf_cap)
        i++;
    cr_assert_lt(i, QR_BLOCK, "a doc the doc buffer holds");
    cr_assert_eq(qr_postings_seek(&it, r.doc[i]), 0);
    qr_alloc_fail_after(0);
    check_positions(&it, &r, i);
    cr_assert_eq(qr_alloc_failures(), 1, "only the block buffer was refused");
    qr_alloc_fail_after(-1);
    /* memory is back: the next ask decodes the rest of the block */
    cr_assert_eq(qr_postings_next(&it), 0);
    check_positions(&it, &r, i + 1);
    cr_assert(it.blk_pos);
    for (uint32_t j = i + 2; j < QR_BLOCK; j++) {
        cr_assert_eq(qr_postings_next(&it), 0);
        check_positions(&it, &r, j);
    }
    qr_postings_iter_free(&it);
    ref_free(&r);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/*
 * The automatic choice: positions asked at every doc of a block are
 * decoded with the rest of the block from the second ask on; asked at
 * every 40th doc of a block whose docs hold many positions, doc by doc.
 * Both give the reference's positions.
 */
Test(postings, auto_mode_follows_the_density_of_asks)
{
    qr_buf doc = {0}, pos = {0};
    ref r;
    qr_term_meta m = write_term(&doc, &pos, &r, 3 * QR_BLOCK, 17, GAPS_MIXED, 0);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, slice_of(&doc), slice_of(&pos), &m), 0);
    check_positions(&it, &r, 0);
    cr_assert_not(it.blk_pos, "one ask: doc by doc");
    cr_assert_eq(qr_postings_next(&it), 0);
    check_positions(&it, &r, 1);
    cr_assert(it.blk_pos, "two asks in a row: the rest of the block");
    for (uint32_t i = 2; i < QR_BLOCK; i++) {
        cr_assert_eq(qr_postings_next(&it), 0);
        check_positions(&it, &r, i);
    }
    cr_assert_eq(qr_postings_next(&it), 0);
    cr_assert_not(it.blk_pos, "a new block starts doc by doc");
    for (uint32_t i = QR_BLOCK; i < 2 * QR_BLOCK; i += 40) {
        cr_assert_eq(qr_postings_seek(&it, r.doc[i]), 0);
        check_positions(&it, &r, i);
        uint64_t left = 0;
        for (uint32_t j = i; j < 2 * QR_BLOCK; j++)
            left += r.tf[j];
        /* sparse asks over docs of many positions: no block decode */
        if (left > 40 * 11)
            cr_assert_not(it.blk_pos, "ask at %u", i);
    }
    qr_postings_iter_free(&it);
    ref_free(&r);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/* ---- corrupt input --------------------------------------------------------- */

/* The mode read_everything decodes positions in. */
static qr_pos_mode read_mode = QR_POS_AUTO;

/* Reads a term in every way; returns its error (0 when it read cleanly). Never trusts values. */
static int read_everything(qr_slice docs, qr_slice pos, const qr_term_meta *m, int how)
{
    qr_postings_iter it;
    int rc = qr_postings_iter_init(&it, docs, pos, m);
    qr_postings_set_pos_mode(&it, read_mode);
    uint32_t seen = 0, prev = 0;
    qr_block_max bm;
    while (rc == 0 && it.doc != QR_DOC_END) {
        cr_assert(seen == 0 || it.doc > prev, "doc ids strictly increase");
        cr_assert_lt(seen, m->df, "no more docs than df");
        prev = it.doc;
        seen++;
        uint32_t tf = qr_postings_freq(&it);
        if (it.err)
            break;
        cr_assert_geq(tf, 1);
        const uint32_t *p;
        uint32_t n;
        rc = qr_postings_positions(&it, &p, &n);
        if (rc)
            break;
        cr_assert_eq(n, tf);
        for (uint32_t k = 1; k < n; k++)
            cr_assert_geq(p[k], p[k - 1]);
        switch (how) {
        case 0:
            rc = qr_postings_next(&it);
            break;
        case 1:
            if (it.doc < QR_DOC_END - 400) {
                qr_postings_block_for(&it, it.doc + 300, &bm);
                rc = qr_postings_seek(&it, it.doc + 37);
            } else {
                rc = qr_postings_next(&it);
            }
            break;
        default:
            rc = qr_postings_next_block(&it);
            break;
        }
    }
    cr_assert(it.err == 0 || it.doc == QR_DOC_END, "an error ends the iteration");
    cr_assert(rc == 0 || rc == it.err, "calls return the sticky error");
    qr_postings_iter_free(&it);
    return it.err;
}

/* Two terms: 300 postings (two full blocks and a tail) and 5. */
static void two_terms(qr_buf *doc, qr_buf *pos, qr_term_meta m[2])
{
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, doc, pos), 0);
    ref r;
    ref_gen(&r, 300, 55, GAPS_MIXED, 4);
    for (uint32_t i = 0; i < r.n; i++) /* keep the position stream small */
        r.tf[i] = r.tf[i] > 3 ? 3 : r.tf[i];
    r.ttf = 0;
    for (uint32_t i = 0; i < r.n; i++)
        r.ttf += r.tf[i];
    m[0] = ref_write(w, &r);
    ref_free(&r);
    ref_gen(&r, 5, 56, GAPS_MIXED, 100);
    m[1] = ref_write(w, &r);
    ref_free(&r);
    qr_postings_writer_close(w);
}

/* Reads both terms from exact-size copies of the streams; returns how many failed. */
static int read_copies(const uint8_t *d, size_t dn, const uint8_t *p, size_t pn,
                       const qr_term_meta m[2], int how)
{
    uint8_t *dc = malloc(dn ? dn : 1), *pc = malloc(pn ? pn : 1);
    cr_assert(dc && pc);
    memcpy(dc, d, dn);
    memcpy(pc, p, pn);
    int failed = 0;
    for (int t = 0; t < 2; t++) {
        int rc = read_everything((qr_slice){dn ? dc : NULL, dn}, (qr_slice){pn ? pc : NULL, pn},
                                 &m[t], how);
        cr_assert(rc == 0 || rc == QR_ECORRUPT, "error %d", rc);
        failed += rc != 0;
    }
    free(dc);
    free(pc);
    return failed;
}

static void every_byte_flipped(qr_pos_mode mode)
{
    read_mode = mode;
    qr_buf doc = {0}, pos = {0};
    qr_term_meta m[2];
    two_terms(&doc, &pos, m);
    for (int how = 0; how < 3; how++)
        cr_assert_eq(read_copies(doc.p, doc.n, pos.p, pos.n, m, how), 0, "intact streams read");
    static const uint8_t flips[] = {0xff, 0x01, 0x80, 0x10};
    int failures = 0;
    for (int which = 0; which < 2; which++) {
        qr_buf *b = which ? &pos : &doc;
        for (size_t i = 0; i < b->n; i++) {
            for (size_t f = 0; f < sizeof flips; f++) {
                b->p[i] ^= flips[f];
                for (int how = 0; how < 3; how++)
                    failures += read_copies(doc.p, doc.n, pos.p, pos.n, m, how) > 0;
                b->p[i] ^= flips[f];
            }
        }
    }
    cr_assert_gt(failures, 0, "some flips are detected");
    qr_buf_free(&doc);
    qr_buf_free(&pos);
    read_mode = QR_POS_AUTO;
}

Test(postings, corrupt_every_byte_flipped)
{
    for (size_t k = 0; k < NMODES; k++)
        every_byte_flipped(all_modes[k]);
}

static void every_truncation(qr_pos_mode mode)
{
    read_mode = mode;
    qr_buf doc = {0}, pos = {0};
    qr_term_meta m[2];
    two_terms(&doc, &pos, m);
    for (size_t len = 0; len < doc.n; len++)
        for (int how = 0; how < 3; how++)
            cr_assert_gt(read_copies(doc.p, len, pos.p, pos.n, m, how), 0,
                         "doc stream cut at %zu of %zu", len, doc.n);
    for (size_t len = 0; len < pos.n; len++) {
        /* a walk that reads every doc's positions must notice; the others skip some */
        cr_assert_gt(read_copies(doc.p, doc.n, pos.p, len, m, 0), 0,
                     "position stream cut at %zu of %zu", len, pos.n);
        read_copies(doc.p, doc.n, pos.p, len, m, 1);
        read_copies(doc.p, doc.n, pos.p, len, m, 2);
    }
    qr_buf_free(&doc);
    qr_buf_free(&pos);
    read_mode = QR_POS_AUTO;
}

Test(postings, corrupt_every_truncation)
{
    for (size_t k = 0; k < NMODES; k++)
        every_truncation(all_modes[k]);
}

Test(postings, corrupt_meta)
{
    qr_buf doc = {0}, pos = {0};
    qr_term_meta m[2];
    two_terms(&doc, &pos, m);
    qr_slice d = slice_of(&doc), p = slice_of(&pos);
    qr_postings_iter it;
    qr_term_meta bad = m[0];
    bad.df = 0;
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &bad), QR_ECORRUPT, "df = 0");
    cr_assert_eq(it.doc, QR_DOC_END);
    cr_assert_eq(it.err, QR_ECORRUPT);
    cr_assert_eq(qr_postings_next(&it), QR_ECORRUPT, "the error is sticky");
    cr_assert_eq(qr_postings_seek(&it, 5), QR_ECORRUPT);
    qr_postings_iter_free(&it);
    bad = m[0];
    bad.ttf = bad.df - 1;
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &bad), QR_ECORRUPT, "ttf < df");
    qr_postings_iter_free(&it);
    bad = m[1];
    bad.doc_off = doc.n + 1;
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &bad), QR_ECORRUPT, "doc offset past the end");
    qr_postings_iter_free(&it);
    bad = m[1];
    bad.pos_off = pos.n + 1;
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &bad), QR_ECORRUPT, "pos offset past the end");
    qr_postings_iter_free(&it);
    bad = m[0];
    bad.df = UINT32_MAX;
    bad.ttf = UINT64_MAX;
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &bad), QR_ECORRUPT, "df far too large");
    qr_postings_iter_free(&it);
    bad = m[0];
    bad.df = 299;
    cr_assert_eq(read_everything(d, p, &bad, 0), QR_ECORRUPT, "df one short");
    bad.df = 301;
    cr_assert_eq(read_everything(d, p, &bad, 0), QR_ECORRUPT, "df one too many");
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/*
 * Builds a doc stream by hand and reads it: for the checks flips rarely reach.
 * Its positions are all 0: a landing table whose full blocks hold 128
 * positions each, then zero bytes (PFOR blocks of width 0, varints 0).
 */
static int read_crafted(const uint8_t *bytes, size_t n, uint32_t df, uint64_t ttf)
{
    uint8_t pos[4096] = {0};
    uint32_t full = (df - 1) / QR_BLOCK;
    if (full > 0) {
        cr_assert_lt(full, 100);
        pos[0] = (uint8_t)(3 * full);
        for (uint32_t j = 0; j < full; j++)
            memcpy(pos + 1 + 3 * j, "\x80\x01\x02", 3);
    }
    qr_term_meta m = {df, ttf, 0, 0};
    return read_everything((qr_slice){bytes, n}, (qr_slice){pos, sizeof pos}, &m, 0);
}

/* The fields of a crafted 129-doc term: docs 0..128, one position each. */
typedef struct craft {
    uint64_t gapsum;    /* full block entry */
    unsigned dw;        /* its doc code: exceptions << 6 | width */
    uint32_t mt, mdl;   /* its max_tf - 1 and min_dl */
    uint32_t fcode;     /* its tf PFOR header: exceptions << 6 | width */
    int skiplen_adjust; /* added to the true skip table length */
    bool tail_entry;    /* write the tail's skip entry */
    size_t packed;      /* zero bytes of packed data */
    bool extra_tail;    /* a tail of two docs (df 130) under the same head */
    uint32_t last;      /* the head's last doc */
    uint64_t tail[2];   /* the tail's codes (a second one only with extra_tail) */
} craft;

static craft craft_default(void)
{
    return (craft){0, 0, 0, 10, 0, 0, true, 0, false, 128, {1, 1}};
}

static size_t build_craft(uint8_t *out, const craft *c)
{
    qr_buf b = {0}, s = {0};
    qr_buf_put_varint(&b, c->last); /* head: last doc, max_tf 1, min_dl 10 */
    qr_buf_put_varint(&b, 0);
    qr_buf_put_varint(&b, 10);
    qr_buf_put_varint(&s, c->gapsum);
    qr_buf_put_varint(&s, c->dw);
    qr_buf_put_varint(&s, c->mt);
    qr_buf_put_varint(&s, c->mdl);
    qr_buf_put_varint(&s, c->fcode);
    if (c->tail_entry) {
        qr_buf_put_varint(&s, 0);
        qr_buf_put_varint(&s, 10);
    }
    qr_buf_put_varint(&b, (uint64_t)((int64_t)s.n + c->skiplen_adjust));
    qr_buf_put(&b, s.p, s.n);
    for (size_t i = 0; i < c->packed; i++)
        qr_buf_put_u8(&b, 0);
    qr_buf_put_varint(&b, c->tail[0]); /* tail: doc 128 */
    if (c->extra_tail)
        qr_buf_put_varint(&b, c->tail[1]);
    cr_assert_leq(b.n, 1024);
    memcpy(out, b.p, b.n);
    size_t n = b.n;
    qr_buf_free(&b);
    qr_buf_free(&s);
    return n;
}

Test(postings, corrupt_crafted)
{
    /* single doc: QR_DOC_END as the doc, a tf beyond 32 bits */
    static const uint8_t end_doc[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    cr_assert_eq(read_crafted(end_doc, sizeof end_doc, 1, 1), QR_ECORRUPT);
    static const uint8_t one[] = {0x05, 0x01};
    cr_assert_eq(read_crafted(one, sizeof one, 1, 1), 0);
    cr_assert_eq(read_crafted(one, sizeof one, 1, 1ull << 32), QR_ECORRUPT);

    /* a term of 2..128 docs: min_dl, then the tail */
    static const uint8_t good[] = {0x01, 0x01, 0x07}; /* docs 0 and 4, tf 1 */
    cr_assert_eq(read_crafted(good, sizeof good, 2, 2), 0);
    qr_postings_iter it;
    static const uint8_t zeros[8];
    qr_term_meta gm = {2, 2, 0, 0};
    cr_assert_eq(qr_postings_iter_init(&it, (qr_slice){good, sizeof good},
                                       (qr_slice){zeros, sizeof zeros}, &gm),
                 0);
    qr_block_max tm = qr_postings_term_max(&it);
    cr_assert_eq(tm.last_doc, 4, "the bound comes from the decoded tail");
    cr_assert_eq(tm.max_tf, 1);
    cr_assert_eq(tm.min_dl, 1);
    qr_postings_iter_free(&it);
    static const uint8_t past_end[] = {0x01, 0x01, 0xfd, 0xff, 0xff, 0xff, 0x1f}; /* doc 2^32 */
    cr_assert_eq(read_crafted(past_end, sizeof past_end, 2, 2), QR_ECORRUPT);
    static const uint8_t tf_wraps[] = {0x01, 0x01, 0x06, 0xfe, 0xff, 0xff, 0xff, 0x0f};
    cr_assert_eq(read_crafted(tf_wraps, sizeof tf_wraps, 2, 3), QR_ECORRUPT, "tf = 2^32");
    static const uint8_t no_dl[] = {0x80};
    cr_assert_eq(read_crafted(no_dl, sizeof no_dl, 2, 2), QR_ECORRUPT);

    /* a two-block stream built field by field; each case makes one field wrong */
    uint8_t buf[1024];
    size_t n;
    craft c = craft_default();
    n = build_craft(buf, &c);
    cr_assert_eq(n, 13);
    cr_assert_eq(read_crafted(buf, n, 129, 129), 0, "the well-formed stream");
    c.dw = 33;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "width 33");
    c.dw = 1; /* a width-1 block needs 16 packed bytes that are not there */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "block past end");
    c.packed = 16; /* with them (all gaps 0, a non-minimal width) it reads */
    n = build_craft(buf, &c);
    cr_assert_eq(read_crafted(buf, n, 129, 129), 0, "width 1, zero gaps");
    buf[n - 17] = 0x01; /* the first gap 1: the block's last doc disagrees with its entry */
    cr_assert_eq(read_crafted(buf, n, 129, 129), QR_ECORRUPT, "last doc mismatch");
    c = craft_default();
    c.gapsum = 1; /* the block's last doc would be the term's */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "gapsum");
    /* the gaps' PFOR header: exceptions, valid or not */
    c = craft_default();
    c.dw = 1 << 6;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "no gap exc");
    c.dw = 129 << 6;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "129 gap exc");
    c.dw = 1 << 6;
    c.packed = 2; /* index 0, high bits 0: gap 0 */
    n = build_craft(buf, &c);
    cr_assert_eq(read_crafted(buf, n, 129, 129), 0, "a gap exception that changes nothing");
    buf[n - 2] = 1; /* gap 1: the block's last doc disagrees with its entry */
    cr_assert_eq(read_crafted(buf, n, 129, 129), QR_ECORRUPT, "gap exception moves last doc");
    buf[n - 2] = 0;
    buf[n - 3] = 128;
    cr_assert_eq(read_crafted(buf, n, 129, 129), QR_ECORRUPT, "gap exception index");
    c.dw = 1 << 6 | 32;
    c.packed = 16 * 32 + 2;
    n = build_craft(buf, &c);
    buf[n - 2] = 1; /* 1 << 32 */
    cr_assert_eq(read_crafted(buf, n, 129, 129), QR_ECORRUPT, "gap exception past 32 bits");
    /* the tfs' PFOR header: width 33; an exception whose bytes are missing */
    c = craft_default();
    c.fcode = 33;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "tf width");
    c.fcode = 1 << 6;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "no exception");
    c.fcode = 129 << 6;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "129 exceptions");
    c.fcode = 1 << 6;
    c.packed = 2; /* one exception: index 0, high bits 0 (tf 1) */
    n = build_craft(buf, &c);
    cr_assert_eq(read_crafted(buf, n, 129, 129), 0, "an exception that changes nothing");
    buf[n - 2] = 1; /* tf 2 > the block's max 1 */
    cr_assert_eq(read_crafted(buf, n, 129, 129), QR_ECORRUPT, "exception above max_tf");
    buf[n - 2] = 0;
    buf[n - 3] = 128; /* index past the block */
    cr_assert_eq(read_crafted(buf, n, 129, 129), QR_ECORRUPT, "exception index");
    c = craft_default();
    c.mt = 1; /* block max_tf 2 > the term's 1 */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "max_tf");
    c = craft_default();
    c.mdl = 9; /* block min_dl 9 < the term's 10 */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "min_dl");
    c = craft_default();
    c.skiplen_adjust = -5; /* too small for two entries */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "skiplen");
    c.skiplen_adjust = -1; /* the tail entry runs past the table */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "skiplen - 1");
    c.skiplen_adjust = 1; /* the table does not end with the tail entry */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "skiplen + 1");
    c.skiplen_adjust = 100; /* past the stream */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "skiplen big");
    c = craft_default();
    c.skiplen_adjust = -1;
    c.tail_entry = false; /* no tail entry */
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "no tail entry");
    /* the table ends inside the first entry (a padded 7-byte gapsum fills it) */
    static const uint8_t padded[] = {0x80, 0x01, 0x00, 0x0a, 0x07, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x00, 0x00};
    cr_assert_eq(read_crafted(padded, sizeof padded, 129, 129), QR_ECORRUPT, "entry cut");
    /* the first entry's max_tf is a varint too long for 32 bits */
    static const uint8_t long_tf[] = {0x80, 0x01, 0x00, 0x0a, 0x07, 0x00, 0x00,
                                      0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    cr_assert_eq(read_crafted(long_tf, sizeof long_tf, 129, 129), QR_ECORRUPT, "long max_tf");
    /* the tail: past the last doc, a tf above the max, short of the last doc */
    c = craft_default();
    c.tail[0] = 3;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "tail past last");
    c.tail[0] = 0; /* tf 2 follows */
    c.extra_tail = true;
    c.tail[1] = 0;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 130), QR_ECORRUPT, "tail tf > max");
    c = craft_default();
    c.last = 200;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "tail short");
    c.last = 127;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "head last");
    c.last = 100;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 129, 129), QR_ECORRUPT, "head < df - 1");
    /* 130 docs whose tail of 2 cannot fit between the block's last doc (127) and 128 */
    c = craft_default();
    c.extra_tail = true;
    cr_assert_eq(read_crafted(buf, build_craft(buf, &c), 130, 130), QR_ECORRUPT, "tail room");
}

Test(postings, corrupt_full_block_contents)
{
    /* a real 300-doc term; then its first packed block edited */
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    ref r;
    ref_gen(&r, 300, 91, GAPS_MIXED, 0);
    /* block 0's max tf exactly 40: 6 bits, so all-ones fields (63) exceed it */
    for (uint32_t i = 0; i < QR_BLOCK; i++)
        r.tf[i] = r.tf[i] > 40 ? 40 : r.tf[i];
    r.tf[5] = 40;
    uint32_t p40[40];
    for (int i = 0; i < 40; i++)
        p40[i] = (uint32_t)i;
    qr_postings_begin(w);
    for (uint32_t i = 0; i < r.n; i++)
        cr_assert_eq(
            qr_postings_add(w, r.doc[i], r.tf[i], r.dl[i], i == 5 ? p40 : r.pos + r.poff[i]), 0);
    qr_term_meta m;
    cr_assert_eq(qr_postings_end(w, &m), 0);
    qr_slice d = slice_of(&doc), p = slice_of(&pos);
    cr_assert_eq(read_everything(d, p, &m, 0), 0);
    /* find block 0: head (3 varints), skiplen, skip table; then packed gaps and tfs */
    qr_cursor c = qr_cursor_make(doc.p, doc.n);
    qr_get_varint32(&c);
    qr_get_varint32(&c);
    qr_get_varint32(&c);
    uint64_t skiplen = qr_get_varint64(&c);
    const uint8_t *skip = c.p;
    qr_get_varint64(&c);
    uint32_t dcode = qr_get_varint32(&c);
    unsigned dw = dcode & 63, dexc = dcode >> 6;
    uint32_t mt = qr_get_varint32(&c);
    cr_assert_eq(c.err, 0);
    cr_assert_eq(mt, 39);
    uint8_t *block = (uint8_t *)skip + skiplen;
    qr_get_varint32(&c); /* min_dl */
    uint32_t fcode = qr_get_varint32(&c);
    unsigned fw = fcode & 63, nexc = fcode >> 6;
    cr_assert_leq(fw, 6);
    /*
     * every tf - 1 set to all ones (when they are 6 bits wide), or an
     * exception's high bits: above the block's max
     */
    uint8_t *tfs0 = block + 16 * dw + 2 * dexc;
    uint8_t *tfs = nexc ? tfs0 + 16 * fw + 1 : tfs0;
    size_t badn = nexc ? 1 : 16 * fw;
    uint8_t save[16 * 32];
    memcpy(save, tfs, badn);
    memset(tfs, 0xff, badn);
    qr_postings_iter it;
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &m), 0, "docs still decode");
    cr_assert_eq(qr_postings_freq(&it), 0, "tf above the block's max");
    cr_assert_eq(it.err, QR_ECORRUPT);
    cr_assert_eq(it.doc, QR_DOC_END);
    qr_postings_iter_free(&it);
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &m), 0);
    const uint32_t *f;
    cr_assert_eq(qr_postings_block_freqs(&it, &f), QR_ECORRUPT);
    qr_postings_iter_free(&it);
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &m), 0);
    const uint32_t *pp;
    uint32_t pn;
    cr_assert_eq(qr_postings_positions(&it, &pp, &pn), QR_ECORRUPT);
    qr_postings_iter_free(&it);
    memcpy(tfs, save, badn);
    /* block 1 made 32 bits wide: its bytes and the tail's start lie past the stream */
    qr_get_varint64(&c); /* entry 1: gapsum, then its width */
    uint8_t *dw1 = (uint8_t *)c.p;
    cr_assert_eq(c.err, 0);
    uint8_t save_dw = *dw1;
    *dw1 = 32;
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &m), 0, "block 0 is intact");
    cr_assert_eq(qr_postings_seek(&it, r.doc[299]), QR_ECORRUPT, "the tail is past the end");
    cr_assert_eq(it.doc, QR_DOC_END);
    qr_postings_iter_free(&it);
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &m), 0);
    cr_assert_eq(qr_postings_seek(&it, r.doc[200]), QR_ECORRUPT, "block 1 is past the end");
    qr_postings_iter_free(&it);
    *dw1 = save_dw;
    /* a doc gap changed: the block's last doc no longer matches its skip entry */
    if (dw > 0) {
        block[0] ^= 1;
        cr_assert_eq(qr_postings_iter_init(&it, d, p, &m), QR_ECORRUPT);
        qr_postings_iter_free(&it);
        block[0] ^= 1;
    }
    cr_assert_eq(read_everything(d, p, &m, 0), 0);
    ref_free(&r);
    qr_postings_writer_close(w);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

Test(postings, corrupt_block_starts_below_its_lo)
{
    /*
     * Three blocks: docs 0..127 (width 0); then a 32-bit block whose first
     * gap wraps to doc 127, below its lo of 128, and whose later gaps still
     * land on the right last doc (256); a one-doc tail (300).
     */
    uint32_t gaps[QR_BLOCK] = {0};
    gaps[0] = UINT32_MAX;
    gaps[1] = 2;
    uint8_t bytes[16 * 32];
    qr_bitpack128(bytes, gaps, 32);
    qr_buf b = {0}, sk = {0};
    qr_buf_put_varint(&b, 300); /* head: last 300, max_tf 1, min_dl 1 */
    qr_buf_put_varint(&b, 0);
    qr_buf_put_varint(&b, 1);
    for (int blk = 0; blk < 2; blk++) {
        qr_buf_put_varint(&sk, (uint64_t)blk); /* gapsum 0, then 1 */
        qr_buf_put_u8(&sk, blk ? 32 : 0);
        qr_buf_put_varint(&sk, 0);
        qr_buf_put_varint(&sk, 1);
        qr_buf_put_varint(&sk, 0); /* tfs at width 0 */
    }
    qr_buf_put_varint(&sk, 0);
    qr_buf_put_varint(&sk, 1);
    qr_buf_put_varint(&b, sk.n);
    qr_buf_put(&b, sk.p, sk.n);
    qr_buf_put(&b, bytes, sizeof bytes);
    qr_buf_put_varint(&b, (300 - 257) << 1 | 1);
    cr_assert_eq(read_crafted(b.p, b.n, 257, 257), QR_ECORRUPT);
    gaps[0] = 0; /* the same block without the wrap reads */
    gaps[1] = 1;
    qr_bitpack128(b.p + b.n - 1 - sizeof bytes, gaps, 32);
    cr_assert_eq(read_crafted(b.p, b.n, 257, 257), 0);
    qr_buf_free(&b);
    qr_buf_free(&sk);
}

Test(postings, corrupt_wide_block_wraps)
{
    /*
     * A full block at width 32 whose gaps wrap the 32-bit sum around to the
     * right last doc: only the no-wrap check can see it.
     */
    uint32_t gaps[QR_BLOCK];
    for (int i = 0; i < QR_BLOCK; i++)
        gaps[i] = 0;
    gaps[0] = 0x80000000u;
    gaps[1] = 0x80000000u; /* 0x80000000 + 1 + 0x80000000 wraps to 1 */
    uint8_t bytes[16 * 32];
    qr_bitpack128(bytes, gaps, 32);
    /* ids: 0x80000000, then 1, 2, ... : last = 0x80000000 + 1 + 0x80000000 + 126 - 2^32 = 127 */
    qr_buf b = {0};
    qr_buf_put_varint(&b, 1000); /* head: last 1000, max_tf 1, min_dl 1 */
    qr_buf_put_varint(&b, 0);
    qr_buf_put_varint(&b, 1);
    qr_buf put = {0};
    qr_buf_put_varint(&put, 0); /* gapsum 0: last doc 127 */
    qr_buf_put_u8(&put, 32);
    qr_buf_put_varint(&put, 0);
    qr_buf_put_varint(&put, 1);
    qr_buf_put_varint(&put, 0);
    qr_buf_put_varint(&put, 0); /* tail entry */
    qr_buf_put_varint(&put, 1);
    qr_buf_put_varint(&b, put.n);
    qr_buf_put(&b, put.p, put.n);
    qr_buf_put(&b, bytes, sizeof bytes);
    qr_buf_put_varint(&b, (1000 - 128) << 1 | 1); /* tail: doc 1000 */
    cr_assert_eq(read_crafted(b.p, b.n, 129, 129), QR_ECORRUPT);
    qr_buf_free(&b);
    qr_buf_free(&put);
}

/* ---- the position stream --------------------------------------------------- */

/* Reads the default crafted 129-doc term (tf 1 each) over the given position stream. */
static int read_with_positions(const uint8_t *pos, size_t pn, uint64_t ttf)
{
    uint8_t doc[1024];
    craft c = craft_default();
    size_t n = build_craft(doc, &c);
    uint8_t *pc = malloc(pn);
    cr_assert_not_null(pc);
    memcpy(pc, pos, pn);
    qr_term_meta m = {129, ttf, 0, 0};
    int rc = read_everything((qr_slice){doc, n}, (qr_slice){pc, pn}, &m, 0);
    for (int how = 1; how < 3; how++) /* seeks and block skips must not crash either */
        read_everything((qr_slice){doc, n}, (qr_slice){pc, pn}, &m, how);
    free(pc);
    return rc;
}

Test(postings, corrupt_landing_table)
{
    /* landing table (block 0: 128 positions, block 1's are 2 bytes on), PFOR block, varint */
    static const uint8_t good[] = {3, 0x80, 0x01, 0x02, 0x00, 0x00, 0x00};
    cr_assert_eq(read_with_positions(good, sizeof good, 129), 0);
    cr_assert_eq(qr_postings_pos_end((qr_slice){good, sizeof good}, 0, 129, 129), sizeof good);
    static const uint8_t long_table[] = {0x7f, 0x80, 0x01, 0x02, 0x00, 0x00, 0x00};
    cr_assert_eq(read_with_positions(long_table, sizeof long_table, 129), QR_ECORRUPT);
    static const uint8_t few[] = {2, 0x7f, 0x02, 0x00, 0x00, 0x00}; /* 127 < one per doc */
    cr_assert_eq(read_with_positions(few, sizeof few, 129), QR_ECORRUPT);
    static const uint8_t many[] = {3, 0x82, 0x01, 0x02, 0x00, 0x00, 0x00}; /* 130 > ttf */
    cr_assert_eq(read_with_positions(many, sizeof many, 129), QR_ECORRUPT);
    static const uint8_t none_left[] = {3, 0x81, 0x01, 0x02, 0x00, 0x00, 0x00}; /* 129 */
    cr_assert_eq(read_with_positions(none_left, sizeof none_left, 129), QR_ECORRUPT,
                 "no position left for the tail's doc");
    static const uint8_t far[] = {3, 0x80, 0x01, 0x7f, 0x00, 0x00, 0x00}; /* lands past the end */
    cr_assert_eq(read_with_positions(far, sizeof far, 129), QR_ECORRUPT);
    static const uint8_t extra[] = {4, 0x80, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00};
    cr_assert_eq(read_with_positions(extra, sizeof extra, 129), QR_ECORRUPT, "table too long");
    static const uint8_t cut[] = {2, 0x80, 0x01, 0x02, 0x00, 0x00, 0x00};
    cr_assert_eq(read_with_positions(cut, sizeof cut, 129), QR_ECORRUPT, "entry cut");
    static const uint8_t w33[] = {3, 0x80, 0x01, 0x02, 33, 0x00, 0x00};
    cr_assert_eq(read_with_positions(w33, sizeof w33, 129), QR_ECORRUPT, "PFOR width 33");
    static const uint8_t no_tail[] = {3, 0x80, 0x01, 0x02, 0x00, 0x00};
    cr_assert_eq(read_with_positions(no_tail, sizeof no_tail, 129), QR_ECORRUPT, "tail cut");
    /* the layout check of index/check.c */
    cr_assert_eq(qr_postings_pos_end((qr_slice){long_table, sizeof long_table}, 0, 129, 129),
                 sizeof long_table + 1);
    cr_assert_eq(qr_postings_pos_end((qr_slice){w33, sizeof w33}, 0, 129, 129), sizeof w33 + 1);
    cr_assert_eq(qr_postings_pos_end((qr_slice){no_tail, sizeof no_tail}, 0, 129, 129),
                 sizeof no_tail + 1);
    cr_assert_eq(qr_postings_pos_end((qr_slice){good, sizeof good}, 8, 129, 129), sizeof good + 1);
    cr_assert_eq(qr_postings_pos_end((qr_slice){NULL, 0}, 0, 1, 1), 1);
    cr_assert_eq(qr_postings_pos_end((qr_slice){good, sizeof good}, 0, 129, 128), 6,
                 "one fewer: the tail is empty");
}

Test(postings, pos_end_follows_every_term)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    static const uint32_t sizes[] = {1, 5, 127, 128, 129, 300, 1000};
    qr_term_meta m[7];
    for (int t = 0; t < 7; t++) {
        ref r;
        ref_gen(&r, sizes[t], 200 + (uint64_t)t, GAPS_MIXED, 0);
        m[t] = ref_write(w, &r);
        check_all(&r, slice_of(&doc), slice_of(&pos), &m[t], 1);
        ref_free(&r);
    }
    for (int t = 0; t < 7; t++)
        cr_assert_eq(qr_postings_pos_end(slice_of(&pos), m[t].pos_off, m[t].df, m[t].ttf),
                     t < 6 ? m[t + 1].pos_off : pos.n, "term %d", t);
    qr_postings_writer_close(w);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

Test(postings, roundtrip_with_pfor_exceptions)
{
    /* dense runs with one long gap and one large tf per block: both go to PFOR exceptions */
    ref r;
    ref_gen(&r, 1000, 31, GAPS_DENSE, 0);
    uint32_t doc = 0;
    for (uint32_t i = 0; i < r.n; i++) {
        doc += i % 50 == 7 ? 100000 : 1;
        r.doc[i] = doc;
    }
    for (uint32_t i = 0; i < r.n; i++)
        r.tf[i] = i % 64 == 3 ? 1 + r.tf[i] * 50 : 1 + r.tf[i] % 2;
    r.ttf = 0;
    size_t np = 0;
    for (uint32_t i = 0; i < r.n; i++) {
        r.poff[i] = np;
        np += r.tf[i];
        r.ttf += r.tf[i];
    }
    r.poff[r.n] = np;
    r.pos = realloc(r.pos, sizeof *r.pos * np);
    cr_assert_not_null(r.pos);
    for (size_t k = 0; k < np; k++)
        r.pos[k] = (uint32_t)k * 3;
    qr_buf d = {0}, p = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &d, &p), 0);
    qr_term_meta m = ref_write(w, &r);
    /* block 0's skip entry: gapsum, doc code, max tf - 1, min dl, freq code */
    qr_cursor c = qr_cursor_make(d.p, d.n);
    for (int i = 0; i < 4; i++)
        qr_get_varint64(&c);
    qr_get_varint64(&c);
    uint32_t dcode = qr_get_varint32(&c);
    qr_get_varint32(&c);
    qr_get_varint32(&c);
    uint32_t fcode = qr_get_varint32(&c);
    cr_assert_eq(c.err, 0);
    cr_assert_gt(dcode >> 6, 0, "gap exceptions used");
    cr_assert_gt(fcode >> 6, 0, "tf exceptions used");
    check_all(&r, slice_of(&d), slice_of(&p), &m, 1);
    qr_postings_writer_close(w);
    qr_buf_free(&d);
    qr_buf_free(&p);
    ref_free(&r);
}

Test(postings, corrupt_position_sum_past_32_bits)
{
    static const uint8_t doc[] = {0x05, 0x01};                         /* df 1: doc 5, dl 1 */
    static const uint8_t pos[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01}; /* 2^32 - 1, then + 1 */
    qr_term_meta m = {1, 2, 0, 0};
    static const uint8_t ok[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}; /* 2^32 - 1 twice */
    for (size_t k = 0; k < NMODES; k++) {
        read_mode = all_modes[k];
        cr_assert_eq(
            read_everything((qr_slice){doc, sizeof doc}, (qr_slice){pos, sizeof pos}, &m, 0),
            QR_ECORRUPT);
        cr_assert_eq(read_everything((qr_slice){doc, sizeof doc}, (qr_slice){ok, sizeof ok}, &m, 0),
                     0);
    }
    read_mode = QR_POS_AUTO;
}

/* The same in a block of several docs decoded at once: the sum restarts at each doc. */
Test(postings, corrupt_position_sum_past_32_bits_in_a_block)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    uint32_t big[2] = {UINT32_MAX - 1, UINT32_MAX}, small[2] = {3, 4};
    qr_postings_begin(w);
    for (uint32_t d = 0; d < 6; d++)
        cr_assert_eq(qr_postings_add(w, d, 2, 10, d % 2 ? big : small), 0);
    qr_term_meta m;
    cr_assert_eq(qr_postings_end(w, &m), 0);
    qr_postings_writer_close(w);
    for (size_t k = 0; k < NMODES; k++) {
        read_mode = all_modes[k];
        cr_assert_eq(read_everything(slice_of(&doc), slice_of(&pos), &m, 0), 0,
                     "sums near 2^32 in every other doc");
    }
    /* doc 3's second delta (the 8th varint: 3, 1, big, 1, 3, 1, big, 1) becomes 2: past 2^32 */
    const uint8_t *p = pos.p, *end = pos.p + pos.n;
    for (int k = 0; k < 7; k++) {
        uint64_t v;
        cr_assert(qr_varint_get64(&p, end, &v));
    }
    cr_assert_eq(*p, 1);
    pos.p[p - pos.p] = 2;
    for (size_t k = 0; k < NMODES; k++) {
        read_mode = all_modes[k];
        cr_assert_eq(read_everything(slice_of(&doc), slice_of(&pos), &m, 0), QR_ECORRUPT);
    }
    read_mode = QR_POS_AUTO;
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/*
 * A one-document term takes its tf from the dictionary's ttf: a damaged ttf
 * far beyond what the position stream's bytes can hold is reported before
 * the position buffer grows to it (the segment fuzzer once asked for 2 GiB).
 */
Test(postings, tf_beyond_the_position_bytes)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    uint32_t ps[3] = {1, 5, 9};
    qr_postings_begin(w);
    cr_assert_eq(qr_postings_add(w, 7, 3, 12, ps), 0);
    qr_term_meta m;
    cr_assert_eq(qr_postings_end(w, &m), 0);
    qr_postings_writer_close(w);
    cr_assert_eq(m.df, 1);
    qr_slice d = slice_of(&doc), p = slice_of(&pos);
    const uint32_t *got;
    uint32_t n;
    qr_postings_iter it;
    /* one more than the bytes could hold */
    uint64_t room = ((uint64_t)(p.n - m.pos_off) + 1) * QR_BLOCK;
    qr_term_meta bad = m;
    bad.ttf = room + 1;
    for (size_t k = 0; k < NMODES; k++) {
        cr_assert_eq(qr_postings_iter_init(&it, d, p, &bad), 0);
        qr_postings_set_pos_mode(&it, all_modes[k]);
        qr_alloc_fail_after(0); /* refused before any allocation: not QR_ENOMEM */
        int rc = qr_postings_positions(&it, &got, &n);
        qr_alloc_fail_after(-1);
        cr_assert_eq(rc, QR_ECORRUPT, "rc %d", rc);
        cr_assert_eq(it.err, QR_ECORRUPT);
        qr_postings_iter_free(&it);
    }
    int rc;
    bad.ttf = (uint64_t)1 << 30;
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &bad), 0);
    qr_alloc_fail_after(0);
    rc = qr_postings_positions(&it, &got, &n);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ECORRUPT, "rc %d", rc);
    qr_postings_iter_free(&it);
    /* the true meta still reads */
    cr_assert_eq(qr_postings_iter_init(&it, d, p, &m), 0);
    cr_assert_eq(qr_postings_positions(&it, &got, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(got[2], 9);
    qr_postings_iter_free(&it);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/* ---- qr_postings_decode_small (terms of at most QR_BLOCK docs at once) ---------------- */

/*
 * decode_small against the iterator on the same bytes: the same status and,
 * when both read the term, the same docs and tfs. Returns the status.
 */
static int small_vs_iter(qr_slice docs, qr_slice pos, const qr_term_meta *m)
{
    uint32_t d[QR_BLOCK], t[QR_BLOCK];
    int rc = qr_postings_decode_small(d, t, docs, pos, m);
    qr_postings_iter it;
    int irc = qr_postings_iter_init(&it, docs, pos, m);
    cr_assert_eq(rc, irc, "decode_small %d, iterator %d (df %u)", rc, irc, m->df);
    for (uint32_t i = 0; rc == 0 && i < m->df; i++) {
        cr_assert_eq(it.doc, d[i], "doc %u", i);
        cr_assert_eq(qr_postings_freq(&it), t[i], "tf %u", i);
        cr_assert_eq(qr_postings_next(&it), 0);
    }
    if (rc == 0)
        cr_assert_eq(it.doc, QR_DOC_END, "the iterator has no more docs than df");
    qr_postings_iter_free(&it);
    return rc;
}

Test(postings, decode_small_matches_the_reference)
{
    static const enum gap_mode modes[] = {GAPS_MIXED, GAPS_DENSE, GAPS_WIDE};
    for (size_t mi = 0; mi < 3; mi++) {
        /* every size 1..QR_BLOCK, several terms sharing the streams (offsets > 0) */
        qr_buf doc = {0}, pos = {0};
        qr_postings_writer *w;
        cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
        ref r[QR_BLOCK + 1];
        qr_term_meta m[QR_BLOCK + 1];
        for (uint32_t n = 1; n <= QR_BLOCK; n++) {
            ref_gen(&r[n], n, 7000 + n + 1000 * mi, modes[mi], n % 3 ? n * 11 : 0);
            m[n] = ref_write(w, &r[n]);
        }
        for (uint32_t n = 1; n <= QR_BLOCK; n++) {
            uint32_t d[QR_BLOCK], t[QR_BLOCK];
            cr_assert_eq(qr_postings_decode_small(d, t, slice_of(&doc), slice_of(&pos), &m[n]), 0,
                         "df %u", n);
            for (uint32_t i = 0; i < n; i++) {
                cr_assert_eq(d[i], r[n].doc[i], "df %u doc %u", n, i);
                cr_assert_eq(t[i], r[n].tf[i], "df %u tf %u", n, i);
            }
            cr_assert_eq(small_vs_iter(slice_of(&doc), slice_of(&pos), &m[n]), 0);
            ref_free(&r[n]);
        }
        qr_postings_writer_close(w);
        qr_buf_free(&doc);
        qr_buf_free(&pos);
    }
}

Test(postings, decode_small_refuses_larger_terms)
{
    qr_buf doc = {0}, pos = {0};
    ref r;
    qr_term_meta m = write_term(&doc, &pos, &r, QR_BLOCK + 1, 91, GAPS_MIXED, 0);
    uint32_t d[QR_BLOCK], t[QR_BLOCK];
    cr_assert_eq(qr_postings_decode_small(d, t, slice_of(&doc), slice_of(&pos), &m), QR_EINVAL);
    ref_free(&r);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/* Every byte of three small terms' doc stream flipped, and every truncation, in exact-size copies.
 */
Test(postings, decode_small_agrees_with_the_iterator_on_damage)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    cr_assert_eq(qr_postings_writer_open(&w, &doc, &pos), 0);
    static const uint32_t sizes[] = {1, 2, 9, QR_BLOCK};
    qr_term_meta m[4];
    for (size_t k = 0; k < 4; k++) {
        ref r;
        ref_gen(&r, sizes[k], 300 + k, k == 2 ? GAPS_WIDE : GAPS_MIXED, 3);
        m[k] = ref_write(w, &r);
        ref_free(&r);
    }
    qr_postings_writer_close(w);
    static const uint8_t flips[] = {0xff, 0x01, 0x80, 0x7f, 0x40};
    int failures = 0;
    for (size_t i = 0; i < doc.n; i++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            uint8_t *copy = malloc(doc.n);
            cr_assert_not_null(copy);
            memcpy(copy, doc.p, doc.n);
            copy[i] ^= flips[f];
            for (size_t k = 0; k < 4; k++)
                failures += small_vs_iter((qr_slice){copy, doc.n}, slice_of(&pos), &m[k]) != 0;
            free(copy);
        }
    }
    cr_assert_gt(failures, 0, "some flips are detected");
    for (size_t n = 0; n < doc.n; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        cr_assert_not_null(copy);
        memcpy(copy, doc.p, n);
        for (size_t k = 0; k < 4; k++) {
            int rc = small_vs_iter((qr_slice){n ? copy : NULL, n}, slice_of(&pos), &m[k]);
            if (m[k].doc_off >= n) /* nothing of the term is left */
                cr_assert_eq(rc, QR_ECORRUPT, "term %zu cut at %zu", k, n);
        }
        free(copy);
    }
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

/* decode_small of one term of df docs and ttf over the varints in v (n of them). */
static int small_crafted(const uint64_t *v, size_t n, uint32_t df, uint64_t ttf)
{
    qr_buf b = {0};
    for (size_t i = 0; i < n; i++)
        qr_buf_put_varint(&b, v[i]);
    uint8_t *copy = malloc(b.n ? b.n : 1); /* exact size, for ASan */
    cr_assert_not_null(copy);
    if (b.n)
        memcpy(copy, b.p, b.n);
    qr_term_meta m = {df, ttf, 0, 0};
    uint8_t pos[1] = {0};
    int rc = small_vs_iter((qr_slice){copy, b.n}, (qr_slice){pos, 1}, &m);
    free(copy);
    qr_buf_free(&b);
    return rc;
}

Test(postings, decode_small_crafted)
{
    /* sound: one doc (doc, dl), and two docs (min_dl, code, code tf_m2) */
    cr_assert_eq(small_crafted((const uint64_t[]){5, 9}, 2, 1, 3), 0);
    cr_assert_eq(small_crafted((const uint64_t[]){4, 2 << 1 | 1, 0 << 1, 7}, 4, 2, 10), 0);
    /* one doc: cut, the doc id QR_DOC_END, a tf past 32 bits, dl cut */
    cr_assert_eq(small_crafted(NULL, 0, 1, 1), QR_ECORRUPT);
    cr_assert_eq(small_crafted((const uint64_t[]){UINT32_MAX, 1}, 2, 1, 1), QR_ECORRUPT);
    cr_assert_eq(small_crafted((const uint64_t[]){7, 1}, 2, 1, (uint64_t)UINT32_MAX + 1),
                 QR_ECORRUPT);
    cr_assert_eq(small_crafted((const uint64_t[]){7}, 1, 1, 1), QR_ECORRUPT);
    cr_assert_eq(small_crafted((const uint64_t[]){(uint64_t)UINT32_MAX + 1, 1}, 2, 1, 1),
                 QR_ECORRUPT); /* a doc id past 32 bits */
    /* two docs: min_dl cut, a code cut, a doc past QR_DOC_END - 1, a tf_m2 cut or past 32 bits */
    cr_assert_eq(small_crafted(NULL, 0, 2, 2), QR_ECORRUPT);
    cr_assert_eq(small_crafted((const uint64_t[]){4, 1}, 2, 2, 2), QR_ECORRUPT);
    cr_assert_eq(
        small_crafted((const uint64_t[]){4, 1, (uint64_t)(QR_DOC_END - 1) << 1 | 1}, 3, 2, 2),
        QR_ECORRUPT);
    cr_assert_eq(
        small_crafted((const uint64_t[]){4, (uint64_t)(QR_DOC_END - 2) << 1 | 1, 1}, 3, 2, 2),
        0); /* the last doc id there is */
    cr_assert_eq(small_crafted((const uint64_t[]){4, 1, 0}, 3, 2, 3), QR_ECORRUPT);
    cr_assert_eq(small_crafted((const uint64_t[]){4, 1, 0, UINT32_MAX - 1}, 4, 2, 3), QR_ECORRUPT);
    cr_assert_eq(small_crafted((const uint64_t[]){4, 1, 0, UINT32_MAX - 2}, 4, 2, 3), 0);
    /* metas: df 0, ttf below df, offsets past the streams; an empty stream given as NULL */
    uint8_t one[2] = {3, 1}, pos[1] = {0};
    uint32_t d[QR_BLOCK], t[QR_BLOCK];
    qr_slice ds = {one, 2}, ps = {pos, 1};
    cr_assert_eq(qr_postings_decode_small(d, t, ds, ps, &(qr_term_meta){1, 1, 0, 0}), 0);
    cr_assert_eq(d[0], 3);
    cr_assert_eq(t[0], 1);
    cr_assert_eq(qr_postings_decode_small(d, t, ds, ps, &(qr_term_meta){0, 1, 0, 0}), QR_ECORRUPT);
    cr_assert_eq(qr_postings_decode_small(d, t, ds, ps, &(qr_term_meta){2, 1, 0, 0}), QR_ECORRUPT);
    cr_assert_eq(qr_postings_decode_small(d, t, ds, ps, &(qr_term_meta){1, 1, 3, 0}), QR_ECORRUPT);
    cr_assert_eq(qr_postings_decode_small(d, t, ds, ps, &(qr_term_meta){1, 1, 0, 2}), QR_ECORRUPT);
    cr_assert_eq(
        qr_postings_decode_small(d, t, (qr_slice){NULL, 0}, ps, &(qr_term_meta){1, 1, 0, 0}),
        QR_ECORRUPT);
}

/*
 * Varints of every length from one to five bytes, each length followed by
 * each (a code with tf 1 or with its tf_m2, the tf_m2 of each length), read
 * with 8 bytes to spare after the term (small_varint's inline path for up
 * to three bytes) and in an exact-size copy (the bytes near the end taken
 * one at a time): the docs and tfs the grammar says, as the iterator reads.
 */
Test(postings, decode_small_reads_varints_of_every_length)
{
    static const uint64_t lens[] = {5, 100, 300, 20000, 3000000, 300000000};
    qr_buf b = {0};
    qr_buf_put_varint(&b, 17); /* min_dl */
    uint32_t want_d[QR_BLOCK], want_t[QR_BLOCK], df = 0;
    uint64_t next = 0, ttf = 0;
    for (size_t i = 0; i < 6; i++) {
        for (size_t j = 0; j < 7; j++) { /* j == 6: tf 1, the next code follows */
            uint64_t code = (lens[i] & ~(uint64_t)1) | (j == 6), gap = code >> 1;
            qr_buf_put_varint(&b, code);
            uint32_t tf = 1;
            if (j < 6) {
                qr_buf_put_varint(&b, lens[j]);
                tf = (uint32_t)lens[j] + 2;
            }
            want_d[df] = (uint32_t)(next + gap);
            want_t[df++] = tf;
            next += gap + 1;
            ttf += tf;
        }
    }
    cr_assert_leq(df, QR_BLOCK);
    cr_assert_lt(next, QR_DOC_END);
    qr_term_meta m = {df, ttf, 0, 0};
    uint8_t pos[1] = {0};
    for (int exact = 0; exact < 2; exact++) {
        size_t n = b.n + (exact ? 0 : 8);
        uint8_t *copy = calloc(n, 1); /* exact size, for ASan */
        cr_assert_not_null(copy);
        memcpy(copy, b.p, b.n);
        uint32_t d[QR_BLOCK], t[QR_BLOCK];
        cr_assert_eq(qr_postings_decode_small(d, t, (qr_slice){copy, n}, (qr_slice){pos, 1}, &m), 0);
        for (uint32_t i = 0; i < df; i++) {
            cr_assert_eq(d[i], want_d[i], "doc %u (exact %d)", i, exact);
            cr_assert_eq(t[i], want_t[i], "tf %u (exact %d)", i, exact);
        }
        cr_assert_eq(small_vs_iter((qr_slice){copy, n}, (qr_slice){pos, 1}, &m), 0);
        free(copy);
    }
    qr_buf_free(&b);
}
