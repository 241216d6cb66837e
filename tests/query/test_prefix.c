/*
 * Prefix queries through rank.c's accumulator (qr_rank_prefix): terms of
 * more than QR_BLOCK docs through a postings iterator, terms of 2..QR_BLOCK
 * docs and single-doc terms decoded at once (qr_postings_decode_small). Each
 * prefix is checked against the reference evaluator (total, paths, scores
 * to 1e-12), counted alone, and against the OR of its expansion written out
 * in dictionary order, which must give the same hits with bit-identical
 * scores (the accumulator sums a doc's terms in the expansion's order, as
 * the OR does); on one segment, several segments, with deletions, with
 * windows small enough that terms cross many of them, and merged, and
 * inside a larger query (the planned expansion) against the reference; and a
 * searcher reused across prefixes and other queries as fresh ones (a
 * prefix after another query sweeps its table first); small
 * terms poured in pairs that hold one doc twice; large and varied tfs
 * (converted two at a time) against the OR bit for bit, the heap full from
 * the first docs on. Damaged
 * doc streams of a tail-only and a single-doc term, and a dictionary entry
 * claiming more docs than its segment holds, and a damaged dictionary range
 * (one segment or one of several) are QR_ECORRUPT naming the file; a
 * prefix failing there after summing some docs leaves the searcher giving
 * a later prefix what a fresh one gives.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/searcher.h"
#include "ref.h"
#include "storage/dir.h"
#include "storage/segment.h"
#include "storage/status.h"
#include "tq.h"

#define NDOCS 700

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t pick(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* A letters-only suffix for i (so the word stays one token). */
static void letters(uint32_t i, char *out)
{
    size_t n = 0;
    do {
        out[n++] = (char)('a' + i % 26);
        i /= 26;
    } while (i);
    out[n] = 0;
}

/* The corpus' vocabulary of words starting with "pa", for writing expansions out. */
static char *vocab[2 * NDOCS];
static size_t nvocab;

static void vocab_add(const char *w)
{
    for (size_t i = 0; i < nvocab; i++)
        if (!strcmp(vocab[i], w))
            return;
    cr_assert_lt(nvocab, sizeof vocab / sizeof vocab[0]);
    vocab[nvocab++] = strdup(w);
}

/* Appends w (1..3 times: tfs vary) to t. */
static void put(char *t, size_t *at, const char *w)
{
    uint32_t n = 1 + (pick(4) == 0) + (pick(8) == 0);
    for (uint32_t k = 0; k < n; k++)
        *at += (size_t)sprintf(t + *at, "%s ", w);
}

/*
 * Doc i (variant v: replacements differ): padense in every other doc and
 * paheavy in every third (several blocks), pamid* in about a tenth each
 * (tail-only), patiny* in a few, palongsuffix* in a seventh, palongsuff in an
 * eleventh of the first half, pasolo<i> in this doc alone, fillers.
 */
static char *doc_text(uint32_t i, uint32_t v)
{
    char *t = malloc(4096);
    size_t at = (size_t)sprintf(t, "title %u\n", i);
    char w[32], s[16];
    uint32_t nfill = 3 + pick(40);
    for (uint32_t k = 0; k < nfill; k++) {
        letters(pick(30), s);
        snprintf(w, sizeof w, "zfill%s", s);
        put(t, &at, w);
    }
    vocab_add("padense");
    vocab_add("paheavy");
    if ((i + v) % 2 == 0)
        put(t, &at, "padense");
    if ((i + v) % 3 == 0)
        put(t, &at, "paheavy");
    for (uint32_t j = 0; j < 12; j++) {
        if (pick(10) == 0) {
            letters(j, s);
            snprintf(w, sizeof w, "pamid%s", s);
            put(t, &at, w);
            vocab_add(w);
        }
    }
    if (pick(30) == 0) {
        letters(pick(6), s);
        snprintf(w, sizeof w, "patiny%s", s);
        put(t, &at, w);
        vocab_add(w);
    }
    if ((i + v) % 7 == 0) { /* long: tied on the 8 bytes after "pa", "palong" (pair_idf) */
        letters((i + v) / 7 % 4, s);
        snprintf(w, sizeof w, "%s%s", i == 21 ? "palongsuffixz" : "palongsuffix", s);
        put(t, &at, w);
        vocab_add(w);
    }
    if ((i + v) % 11 == 0 && i < NDOCS / 2) { /* the first segment alone */
        put(t, &at, "palongsuff");
        vocab_add("palongsuff");
    }
    letters(i * 3 + v, s);
    snprintf(w, sizeof w, "pasolo%s", s);
    put(t, &at, w);
    vocab_add(w);
    t[at] = 0;
    return t;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "w1 OR w2 ..." over the vocabulary words starting with prefix, in bytewise order. */
static char *expansion_or(const char *prefix)
{
    qsort(vocab, nvocab, sizeof *vocab, cmp_str);
    size_t cap = 64, at = 0, pl = strlen(prefix);
    for (size_t i = 0; i < nvocab; i++)
        cap += strlen(vocab[i]) + 4;
    char *q = malloc(cap);
    q[0] = 0;
    for (size_t i = 0; i < nvocab; i++)
        if (!strncmp(vocab[i], prefix, pl))
            at += (size_t)sprintf(q + at, "%s%s", at ? " OR " : "", vocab[i]);
    return q;
}

/* The prefix (ending in '*') against the reference, counting, and its expansion written out. */
static void check_prefix(qr_searcher *s, ref_index *r, const char *q)
{
    uint64_t total = tq_check_ref(s, r, q, 0, 10);
    cr_assert_gt(total, 0, "%s matches", q);
    cr_assert_eq(tq_count(s, q, 0), total, "count of %s", q);
    struct tq_res k0 = tq_search(s, q, 0, 0, 0); /* no hits asked: the total alone */
    cr_assert_eq(k0.rc, 0);
    cr_assert_eq(k0.total, total);
    tq_res_free(&k0);
    char pre[32];
    snprintf(pre, sizeof pre, "%.*s", (int)(strlen(q) - 1), q);
    char * or = expansion_or(pre);
    struct tq_res a = tq_search(s, q, 0, NDOCS, 0), b = tq_search(s, or, 0, NDOCS, 0);
    cr_assert_eq(a.rc, 0, "%s: %s", q, qr_strerror(a.rc));
    cr_assert_eq(b.rc, 0, "OR of %s: %s", q, qr_strerror(b.rc));
    cr_assert_eq(a.total, b.total, "%s: total %llu, its OR %llu", q, (unsigned long long)a.total,
                 (unsigned long long)b.total);
    cr_assert_eq(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        cr_assert(a.scores[i] == b.scores[i], "%s: hit %zu score %.17g, its OR %.17g", q, i + 1,
                  a.scores[i], b.scores[i]);
        cr_assert_str_eq(a.paths[i], b.paths[i], "%s: hit %zu", q, i + 1);
    }
    tq_res_free(&a);
    tq_res_free(&b);
    free(or);
    /* inside a larger query: the planned expansion (merged across segments), not the fast path */
    char and[64];
    snprintf(and, sizeof and, "%s zfilla", q);
    tq_check_ref(s, r, and, 0, 10);
}

static const char *const queries[] = {"pa*",      "pam*",   "pas*",    "pat*",   "pad*",
                                      "pamidb*",  "pasoloa*", "pahea*", "pasolo*", "palong*"};

static void check_all(qr_dir *dir)
{
    ref_index *r;
    cr_assert_eq(ref_load(&r, dir), 0);
    for (int pass = 0; pass < 2; pass++) {
        qr_searcher *s = tq_open(dir);
        /*
         * windows of 128 docs: terms of every size cross several; set before
         * the first query, so that the window memory is that small (ASan
         * sees a posting poured beyond its window)
         */
        if (pass)
            qr_searcher_set_windows(s, 64, 128);
        for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
            check_prefix(s, r, queries[i]);
        qr_searcher_close(s);
    }
    ref_free(r);
}

struct corpus {
    struct tdoc docs[NDOCS];
    char *texts[NDOCS];
    char paths[NDOCS][16];
};

static struct corpus *corpus_make(void)
{
    struct corpus *c = calloc(1, sizeof *c);
    for (uint32_t i = 0; i < NDOCS; i++) {
        snprintf(c->paths[i], sizeof c->paths[i], "d/%04u", (i * 389) % NDOCS);
        c->texts[i] = doc_text(i, 0);
        c->docs[i].path = c->paths[i];
        c->docs[i].text = c->texts[i];
    }
    return c;
}

static void corpus_free(struct corpus *c)
{
    for (uint32_t i = 0; i < NDOCS; i++)
        free(c->texts[i]);
    free(c);
    for (size_t i = 0; i < nvocab; i++)
        free(vocab[i]);
    nvocab = 0;
}

Test(prefix, one_segment_agrees, .timeout = 300)
{
    struct corpus *c = corpus_make();
    qr_dir *dir = tq_index("none", c->docs, NDOCS, 0);
    check_all(dir);
    qr_dir_close(dir);
    corpus_free(c);
}

/*
 * Two segments (their runs merged in one pass for the idfs, searcher.c's
 * pair_idf): terms in both, in one of them alone (pasolo*, palongsuffixz*),
 * before and after the other run's end, and terms tied on their first 8
 * bytes after the prefix (palongsuff, palongsuffix*: the byte loop after
 * the keys).
 */
Test(prefix, two_segments_agree, .timeout = 300)
{
    struct corpus *c = corpus_make();
    qr_dir *dir = tq_index("none", c->docs, NDOCS, NDOCS / 2);
    check_all(dir);
    qr_dir_close(dir);
    corpus_free(c);
}

/* Replaces docs 0, stride, 2 stride, ... (n of them) with new texts (doc_text's second variant). */
static void replace_docs(qr_dir *dir, const struct corpus *c, uint32_t n, uint32_t stride)
{
    struct tdoc *more = calloc(n, sizeof *more);
    char **texts = calloc(n, sizeof *texts);
    cr_assert(more && texts);
    for (uint32_t i = 0; i < n; i++) {
        texts[i] = doc_text(i * stride, 1);
        more[i].path = c->paths[i * stride];
        more[i].text = texts[i];
    }
    tq_add(dir, more, n);
    for (uint32_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(more);
}

Test(prefix, segments_deletions_and_merge_agree, .timeout = 300)
{
    struct corpus *c = corpus_make();
    qr_dir *dir = tq_index("none", c->docs, NDOCS, NDOCS / 4);
    check_all(dir); /* four segments */
    /* 90 docs replaced: deletions in the old segments, new texts in a fifth */
    replace_docs(dir, c, 90, 7);
    check_all(dir);
    tq_merge_all(dir);
    check_all(dir);
    qr_dir_close(dir);
    corpus_free(c);
}

/*
 * A searcher keeps, per segment, every doc's normalisation beside its sum
 * (made on the segment's first prefix, reused by later ones, sums left over
 * from earlier queries): prefixes run in another order on one searcher,
 * twice each and between other queries, must give what a fresh searcher
 * gives each of them, bit for bit.
 */
static void check_reuse(qr_dir *dir)
{
    enum { NQ = sizeof queries / sizeof queries[0] };
    struct tq_res fresh[NQ];
    for (size_t i = 0; i < NQ; i++) {
        qr_searcher *s = tq_open(dir);
        fresh[i] = tq_search(s, queries[i], 0, 50, 0);
        cr_assert_eq(fresh[i].rc, 0, "%s", queries[i]);
        cr_assert_gt(fresh[i].n, 0, "%s", queries[i]);
        qr_searcher_close(s);
    }
    qr_searcher *s = tq_open(dir);
    for (size_t j = 0; j < 2 * NQ; j++) {
        size_t i = NQ - 1 - j % NQ;
        struct tq_res o = tq_search(s, "padense OR paheavy", 0, 10, 0);
        cr_assert_eq(o.rc, 0);
        tq_res_free(&o);
        struct tq_res a = tq_search(s, queries[i], 0, 50, 0);
        cr_assert_eq(a.rc, 0, "%s", queries[i]);
        cr_assert_eq(a.total, fresh[i].total, "%s", queries[i]);
        cr_assert_eq(a.n, fresh[i].n, "%s", queries[i]);
        for (size_t h = 0; h < a.n; h++) {
            cr_assert(a.scores[h] == fresh[i].scores[h], "%s: hit %zu score %.17g, fresh %.17g",
                      queries[i], h + 1, a.scores[h], fresh[i].scores[h]);
            cr_assert_str_eq(a.paths[h], fresh[i].paths[h], "%s: hit %zu", queries[i], h + 1);
        }
        tq_res_free(&a);
    }
    qr_searcher_close(s);
    for (size_t i = 0; i < NQ; i++)
        tq_res_free(&fresh[i]);
}

Test(prefix, a_searcher_reused_agrees_with_fresh_ones, .timeout = 300)
{
    struct corpus *c = corpus_make();
    qr_dir *dir = tq_index("none", c->docs, NDOCS, NDOCS / 3);
    check_reuse(dir);             /* three segments */
    replace_docs(dir, c, 40, 11); /* deletions */
    check_reuse(dir);
    qr_dir_close(dir);
    corpus_free(c);
}

/* ---- damage -------------------------------------------------------------------------- */

/* A copy of dir whose file name has bytes at .. at + n - 1 set to 0xff. */
static qr_dir *copy_with_ff(qr_dir *dir, const char *name, size_t at, size_t n)
{
    qr_mapping *m;
    qr_slice file;
    cr_assert_eq(qr_dir_map(dir, name, &m, &file), 0);
    cr_assert_leq(at + n, file.n);
    qr_dir *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        qr_dir *next = tq_copy_patched(cur ? cur : dir, name, at + i, file.p[at + i] ^ 0xff);
        qr_dir_close(cur);
        cur = next;
    }
    qr_mapping_close(m);
    return cur;
}

/* a and b give the same total and hits, scores bit for bit. */
static void same_results(const struct tq_res *a, const struct tq_res *b, const char *q)
{
    cr_assert_eq(a->rc, 0, "%s: %s", q, qr_strerror(a->rc));
    cr_assert_eq(b->rc, 0, "%s: %s", q, qr_strerror(b->rc));
    cr_assert_eq(a->total, b->total, "%s", q);
    cr_assert_eq(a->n, b->n, "%s", q);
    for (size_t h = 0; h < a->n; h++) {
        cr_assert(a->scores[h] == b->scores[h], "%s: hit %zu score %.17g, fresh %.17g", q, h + 1,
                  a->scores[h], b->scores[h]);
        cr_assert_str_eq(a->paths[h], b->paths[h], "%s: hit %zu", q, h + 1);
    }
}

/*
 * q over bad (opened without checksums) is QR_ECORRUPT naming a file ending
 * in `file`; then, unless NULL, the prefix `after` on that searcher (whose
 * failed prefix had summed some docs before the damage) gives what a fresh
 * searcher gives, bit for bit.
 */
static void expect_corrupt_then(qr_dir *bad, const char *q, const char *file, const char *after)
{
    qr_searcher *s;
    char err[256] = "";
    cr_assert_eq(qr_searcher_open_dir(&s, bad, QR_SEARCHER_NO_VERIFY, err, sizeof err), 0, "%s",
                 err);
    for (size_t k = 0; k <= 10; k += 10) { /* counting alone, and the top 10 */
        struct tq_res r = tq_search(s, q, 0, k, 0);
        cr_assert_eq(r.rc, QR_ECORRUPT, "%s, k %zu: %s", q, k, qr_strerror(r.rc));
        cr_assert(strstr(qr_searcher_errmsg(s), file), "%s: %s", q, qr_searcher_errmsg(s));
        tq_res_free(&r);
    }
    struct tq_res r = tq_search(s, "zfilla", 0, 10, 0); /* the rest still reads */
    cr_assert_eq(r.rc, 0);
    tq_res_free(&r);
    if (after) {
        qr_searcher *fresh;
        cr_assert_eq(qr_searcher_open_dir(&fresh, bad, QR_SEARCHER_NO_VERIFY, err, sizeof err), 0,
                     "%s", err);
        struct tq_res a = tq_search(s, after, 0, NDOCS, 0),
                      b = tq_search(fresh, after, 0, NDOCS, 0);
        cr_assert_gt(b.n, 0, "%s matches", after);
        same_results(&a, &b, after);
        tq_res_free(&a);
        tq_res_free(&b);
        qr_searcher_close(fresh);
    }
    qr_searcher_close(s);
}

static void expect_corrupt(qr_dir *bad, const char *q, const char *file)
{
    expect_corrupt_then(bad, q, file, NULL);
}

Test(prefix, damaged_small_terms_are_corrupt)
{
    struct corpus *c = corpus_make();
    qr_dir *dir = tq_index("none", c->docs, NDOCS, 0);
    char docfile[64], segname[64];
    tq_only_file(dir, ".doc", docfile, sizeof docfile);
    tq_only_file(dir, ".tdi", segname, sizeof segname);
    qr_segment *seg;
    cr_assert_eq(qr_segment_open(&seg, dir, strtoull(docfile + 4, NULL, 16), false), 0);
    qr_slice stream = qr_segment_doc_stream(seg);
    size_t body = tq_file_offset(dir, docfile, stream);
    /* pamidb: a tail-only term; pasoloa (doc 0's): one doc */
    static const char *const victims[] = {"pamidb", "pasoloa"};
    for (int v = 0; v < 2; v++) {
        qr_term_meta meta;
        cr_assert_eq(qr_segment_term(seg, victims[v], strlen(victims[v]), &meta), 0);
        cr_assert(v == 0 ? meta.df > 1 && meta.df <= 128 : meta.df == 1, "df %u", meta.df);
        /* six continuation bytes: its first varint (min_dl, or the doc id) runs past 32 bits */
        qr_dir *bad = copy_with_ff(dir, docfile, body + meta.doc_off, 6);
        char q[32];
        snprintf(q, sizeof q, "%s*", victims[v]);
        expect_corrupt(bad, q, ".doc");
        /* padense's and paheavy's docs summed before the damage: pah* must not see them */
        expect_corrupt_then(bad, "pa*", ".doc", "pah*");
        qr_dir_close(bad);
    }
    qr_segment_close(seg);
    qr_dir_close(dir);
    corpus_free(c);
}

/*
 * A dictionary entry giving a tail-only term more docs (<= QR_BLOCK) than
 * its segment holds: its doc stream would decode, reading on into the next
 * terms' bytes (docs past the segment's end are dropped), so only the check
 * of df against the segment's docs finds it.
 */
Test(prefix, a_small_term_claiming_more_docs_than_its_segment_is_corrupt)
{
    enum { N = 100 };
    struct tdoc docs[N];
    char paths[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "%03d", i);
        docs[i].path = paths[i];
        /* "pqxyz" in three docs, then two terms in every doc (long streams after its own) */
        docs[i].text = i < 3 ? "alpha\nbravo pqxyz zeta zulu" : "alpha\nbravo zeta zulu";
    }
    qr_dir *dir = tq_index("none", docs, N, 0);
    qr_searcher *s = tq_open(dir);
    cr_assert_eq(tq_count(s, "pq*", 0), 3);
    qr_searcher_close(s);
    char tdi[64];
    tq_only_file(dir, ".tdi", tdi, sizeof tdi);
    /* the entry after "bravo": shared 0, suffix length 5, the suffix, then df (3) */
    static const uint8_t entry[] = {0, 5, 'p', 'q', 'x', 'y', 'z', 3};
    size_t at = tq_file_offset(dir, tdi, (qr_slice){entry, sizeof entry}) + sizeof entry - 1;
    qr_dir *bad = tq_copy_patched(dir, tdi, at, 3 ^ 120); /* df 120: at most QR_BLOCK, above N */
    qr_segment *seg;
    cr_assert_eq(qr_segment_open(&seg, bad, strtoull(tdi + 4, NULL, 16), false), 0);
    qr_term_meta meta;
    cr_assert_eq(qr_segment_term(seg, "pqxyz", 5, &meta), 0);
    cr_assert_eq(meta.df, 120, "the patch hit pqxyz's df");
    uint32_t d[QR_BLOCK], t[QR_BLOCK]; /* its stream decodes, into docs past the segment's */
    cr_assert_eq(qr_postings_decode_small(d, t, qr_segment_doc_stream(seg),
                                          qr_segment_pos_stream(seg), &meta),
                 0);
    cr_assert_geq(d[119], N);
    qr_segment_close(seg);
    expect_corrupt(bad, "pq*", ".doc");
    qr_dir_close(bad);
    qr_dir_close(dir);
}

/*
 * A damaged dictionary entry inside a prefix's range (a term no longer
 * after the one before it) is QR_ECORRUPT naming the .tdi, for the prefix
 * alone (each segment's range collected at once) and inside a larger query
 * (the planned expansion), counted and ranked, on one segment and on the
 * second of four.
 */
Test(prefix, a_damaged_dictionary_range_is_corrupt)
{
    enum { N = 100 };
    struct tdoc docs[N];
    char paths[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "%03d", i);
        docs[i].path = paths[i];
        docs[i].text = "alpha\nbravo pqxyaaa pqxybbb zeta";
    }
    for (int segs = 1; segs <= 4; segs += 3) {
        qr_dir *dir = tq_index("none", docs, N, segs == 1 ? 0 : N / 4);
        qr_searcher *s = tq_open(dir);
        cr_assert_eq(tq_count(s, "pq*", 0), N);
        qr_searcher_close(s);
        char tdi[32];
        qr_seg_file_name(tdi, segs == 1 ? 1 : 2, QR_SEG_TDI);
        /* pqxybbb's entry: shared 4, suffix length 3, "bbb"; its first 'b' made an 'a' */
        static const uint8_t entry[] = {4, 3, 'b', 'b', 'b'};
        size_t at = tq_file_offset(dir, tdi, (qr_slice){entry, sizeof entry}) + 2;
        qr_dir *bad = tq_copy_patched(dir, tdi, at, 'b' ^ 'a');
        char err[256] = "";
        cr_assert_eq(qr_searcher_open_dir(&s, bad, QR_SEARCHER_NO_VERIFY, err, sizeof err), 0, "%s",
                     err);
        static const char *const qs[] = {"pq*", "pqxy*", "pq* zeta", "zeta OR pqx*"};
        for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
            for (size_t k = 0; k <= 10; k += 10) {
                struct tq_res r = tq_search(s, qs[i], 0, k, 0);
                cr_assert_eq(r.rc, QR_ECORRUPT, "%s, %d segments: %s", qs[i], segs,
                             qr_strerror(r.rc));
                cr_assert(strstr(qr_searcher_errmsg(s), tdi), "%s: %s", qs[i],
                          qr_searcher_errmsg(s));
                tq_res_free(&r);
            }
        struct tq_res r = tq_search(s, "alp*", 0, 10, 0); /* a range before the damage */
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.total, N);
        tq_res_free(&r);
        qr_searcher_close(s);
        qr_dir_close(bad);
        qr_dir_close(dir);
    }
}

/*
 * Small terms are poured two postings at a time across terms: here the
 * pairs hold one doc twice (qqb and qqc, both only in doc 0), so the first
 * must be summed before the second reads the doc's sum. The prefix against
 * its OR written out (bit-identical) and the reference, with one window and
 * with several.
 */
Test(prefix, a_pair_of_postings_of_one_doc_sums_in_order)
{
    enum { N = 70 };
    struct tdoc docs[N];
    char paths[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "%03d", i);
        docs[i].path = paths[i];
        docs[i].text = i == 0    ? "t\nqqa qqb qqb qqc qqd zz"
                       : i == 1  ? "t\nqqa qqe zz zz"
                       : i == 66 ? "t\nqqf qqg zz"
                                 : "t\nzz";
    }
    qr_dir *dir = tq_index("none", docs, N, 0);
    ref_index *r;
    cr_assert_eq(ref_load(&r, dir), 0);
    for (int pass = 0; pass < 2; pass++) {
        qr_searcher *s = tq_open(dir);
        if (pass)
            qr_searcher_set_windows(s, 64, 64); /* doc 66 in the second window */
        cr_assert_eq(tq_check_ref(s, r, "qq*", 0, 10), 3);
        struct tq_res a = tq_search(s, "qq*", 0, 10, 0);
        struct tq_res b = tq_search(s, "qqa OR qqb OR qqc OR qqd OR qqe OR qqf OR qqg", 0, 10, 0);
        cr_assert_eq(a.rc, 0);
        cr_assert_eq(b.rc, 0);
        cr_assert_eq(a.n, 3);
        cr_assert_eq(b.n, a.n);
        for (size_t i = 0; i < a.n; i++) {
            cr_assert(a.scores[i] == b.scores[i], "hit %zu: %.17g, its OR %.17g", i + 1,
                      a.scores[i], b.scores[i]);
            cr_assert_str_eq(a.paths[i], b.paths[i]);
        }
        tq_res_free(&a);
        tq_res_free(&b);
        qr_searcher_close(s);
    }
    ref_free(r);
    qr_dir_close(dir);
}

/*
 * Terms with large and varied tfs (the accumulator converts two tfs to
 * doubles at once): a term in every doc (postings in full blocks) with tfs
 * 1..97 and terms of a few docs each (decoded at once, poured in pairs of
 * two terms' postings) with tfs up to 60, on one segment and on three. The
 * prefix against the reference and against its OR written out, bit for
 * bit, with every hit asked and with one or three (the heap full from the
 * first docs on: most sums rejected against its worst), and counted.
 */
Test(prefix, large_tfs_sum_as_their_or)
{
    enum { N = 300 };
    static struct tdoc docs[N];
    static char paths[N][8], texts[N][4096];
    char or[512] = "";
    for (int j = 0; j < 8; j++) /* the expansion in bytewise order: qtbig, then qtr<a..h> */
        snprintf(or + strlen(or), sizeof or - strlen(or), "%sqtr%c", j ? " OR " : "qtbig OR ",
                 'a' + j);
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "%03d", i);
        docs[i].path = paths[i];
        size_t at = (size_t)sprintf(texts[i], "t\n");
        for (int k = 0; k < 1 + (i * 37) % 97; k++)
            at += (size_t)sprintf(texts[i] + at, "qtbig ");
        for (int j = 0; j < 8; j++)
            if ((i + j) % 29 == 0)
                for (int k = 0; k < 1 + (i * 7 + j * 13) % 60; k++)
                    at += (size_t)sprintf(texts[i] + at, "qtr%c ", 'a' + j);
        for (int k = 0; k < i % 50; k++)
            at += (size_t)sprintf(texts[i] + at, "zz ");
        docs[i].text = texts[i];
    }
    for (int segs = 1; segs <= 3; segs += 2) {
        qr_dir *dir = tq_index("none", docs, N, segs == 1 ? 0 : N / 3);
        ref_index *r;
        cr_assert_eq(ref_load(&r, dir), 0);
        qr_searcher *s = tq_open(dir);
        cr_assert_eq(tq_check_ref(s, r, "qt*", 0, 10), N);
        cr_assert_eq(tq_count(s, "qt*", 0), N);
        static const size_t ks[] = {N, 1, 3};
        for (size_t x = 0; x < sizeof ks / sizeof *ks; x++) {
            struct tq_res a = tq_search(s, "qt*", 0, ks[x], 0), b = tq_search(s, or, 0, ks[x], 0);
            cr_assert_eq(a.rc, 0);
            cr_assert_eq(b.rc, 0);
            cr_assert_eq(a.total, N);
            cr_assert_eq(b.total, N);
            cr_assert_eq(a.n, ks[x]);
            cr_assert_eq(b.n, a.n);
            for (size_t i = 0; i < a.n; i++) {
                cr_assert(a.scores[i] == b.scores[i], "k %zu, hit %zu: %.17g, its OR %.17g",
                          ks[x], i + 1, a.scores[i], b.scores[i]);
                cr_assert_str_eq(a.paths[i], b.paths[i], "k %zu, hit %zu", ks[x], i + 1);
            }
            tq_res_free(&a);
            tq_res_free(&b);
        }
        qr_searcher_close(s);
        ref_free(r);
        qr_dir_close(dir);
    }
}
