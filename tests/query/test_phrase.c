/*
 * Phrase evaluation paths that the reference comparisons of test_ref.c do
 * not aim at: a candidate whose term frequencies are damaged (the phrase
 * reads tfs before any position, so the damage must still come back as
 * QR_ECORRUPT), and phrases whose rarer terms rule a candidate out before
 * the commoner ones are decoded, counted against a count by hand; then
 * block-at-a-time positions, windows and a deferred commonest term
 * against the reference evaluator, with their damage and allocation
 * failures.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/iter.h"
#include "query/searcher.h"
#include "storage/alloc.h"
#include "storage/bitpack.h"
#include "storage/buf.h"
#include "storage/dir.h"
#include "storage/segment.h"
#include "storage/status.h"
#include "tq.h"

#define NDOCS 300

/*
 * NDOCS documents (language none): doc i has "alpha" 1 + i % 3 times, then
 * "beta", "gamma"; every fifth has "alpha beta" once more, every seventh
 * "beta gamma alpha", doc 130 "omega alpha". "alpha" fills two full doc
 * blocks with packed tfs.
 */
static struct tdoc *make_docs(char ***texts)
{
    struct tdoc *docs = calloc(NDOCS, sizeof *docs);
    *texts = calloc(NDOCS, sizeof **texts);
    cr_assert(docs && *texts);
    for (int i = 0; i < NDOCS; i++) {
        char *t = malloc(256), *path = malloc(32);
        cr_assert(t && path);
        snprintf(path, 32, "d/%d", i);
        int n = snprintf(t, 256, "title\n");
        for (int k = 0; k < 1 + i % 3; k++)
            n += snprintf(t + n, 256 - (size_t)n, "alpha filler ");
        n += snprintf(t + n, 256 - (size_t)n, "beta filler gamma filler");
        if (i % 5 == 0)
            n += snprintf(t + n, 256 - (size_t)n, " alpha beta");
        if (i % 7 == 0)
            n += snprintf(t + n, 256 - (size_t)n, " beta gamma alpha");
        if (i == 130)
            snprintf(t + n, 256 - (size_t)n, " omega alpha");
        docs[i] = (struct tdoc){path, t};
        (*texts)[i] = t;
    }
    return docs;
}

static void free_docs(struct tdoc *docs, char **texts)
{
    for (int i = 0; i < NDOCS; i++) {
        free((char *)docs[i].path);
        free(texts[i]);
    }
    free(docs);
    free(texts);
}

Test(phrase, rarer_terms_rule_out_candidates_first)
{
    char **texts;
    struct tdoc *docs = make_docs(&texts);
    qr_dir *dir = tq_index("none", docs, NDOCS, 0);
    qr_searcher *s = tq_open(dir);
    uint64_t ab = 0, bga = 0;
    for (int i = 0; i < NDOCS; i++) {
        ab += i % 5 == 0;
        bga += i % 7 == 0;
    }
    /* "alpha beta": only the appended pairs (the leading alphas are followed by filler) */
    cr_assert_eq(tq_count(s, "\"alpha beta\"", 0), ab);
    /* beta (one or two a doc) rules out every doc without the appended triple before alpha is read
     */
    cr_assert_eq(tq_count(s, "\"beta gamma alpha\"", 0), bga);
    cr_assert_eq(tq_count(s, "\"gamma alpha beta\"", 0), 0);
    /* a repeated term needs as many positions as it has copies */
    cr_assert_eq(tq_count(s, "\"alpha filler alpha filler alpha\"", 0), NDOCS / 3);
    cr_assert_eq(tq_count(s, "\"filler filler\"", 0), 0);
    qr_searcher_close(s);
    qr_dir_close(dir);
    free_docs(docs, texts);
}

Test(phrase, damaged_tfs_of_a_candidate_are_corrupt)
{
    char **texts;
    struct tdoc *docs = make_docs(&texts);
    qr_dir *dir = tq_index("none", docs, NDOCS, 0);
    char docfile[64];
    uint64_t id = tq_only_file(dir, ".doc", docfile, sizeof docfile);

    /*
     * where alpha's skip entry for the full block holding omega's doc keeps
     * the block's max tf in the .doc file (alpha is in every doc: block b
     * holds docs 128 b .. 128 b + 127)
     */
    qr_segment *seg;
    cr_assert_eq(qr_segment_open(&seg, dir, id, false), 0);
    qr_term_meta meta;
    qr_postings_iter it;
    cr_assert_eq(qr_segment_term(seg, "omega", 5, &meta), 0);
    cr_assert_eq(qr_segment_postings(seg, &meta, &it), 0);
    uint32_t blk = it.doc / 128;
    qr_postings_iter_free(&it);
    cr_assert_lt(blk, 2);
    cr_assert_eq(qr_segment_term(seg, "alpha", 5, &meta), 0);
    cr_assert_gt(meta.df, 2 * 128);
    qr_slice stream = qr_segment_doc_stream(seg);
    const uint8_t *p = stream.p + meta.doc_off, *end = stream.p + stream.n;
    uint64_t v;
    for (int k = 0; k < 4; k++) /* head: last_doc max_tf_m1 min_dl, then skiplen */
        cr_assert(qr_varint_get64(&p, end, &v));
    for (uint32_t k = 0; k < 5 * blk + 2; k++) /* the entries before, then gapsum doc_code */
        cr_assert(qr_varint_get64(&p, end, &v));
    size_t in_stream = (size_t)(p - stream.p);
    uint8_t orig = *p;
    cr_assert(*p >= 2 && *p < 0x80, "the block's max tf - 1: %u", *p); /* tfs 1..5 */
    size_t at = tq_file_offset(dir, docfile, stream) + in_stream;
    qr_segment_close(seg);

    /* max tf 1: the block's packed tfs over 1 are then out of bounds */
    qr_dir *bad = tq_copy_patched(dir, docfile, at, orig); /* the byte becomes 0 */
    qr_searcher *s;
    cr_assert_eq(qr_searcher_open_dir(&s, bad, QR_SEARCHER_NO_VERIFY, NULL, 0), 0);
    struct tq_res r = tq_search(s, "\"alpha beta\"", 0, NDOCS, 0);
    cr_assert_eq(r.rc, QR_ECORRUPT, "%s", qr_strerror(r.rc));
    tq_res_free(&r);
    r = tq_search(s, "\"beta gamma alpha\"", 0, NDOCS, 0);
    cr_assert_eq(r.rc, QR_ECORRUPT, "%s", qr_strerror(r.rc));
    tq_res_free(&r);
    /* led by omega, the damaged block's only candidate is the last: no later move finds it */
    r = tq_search(s, "\"omega alpha\"", 0, NDOCS, 0);
    cr_assert_eq(r.rc, QR_ECORRUPT, "%s", qr_strerror(r.rc));
    tq_res_free(&r);
    qr_searcher_close(s);
    qr_dir_close(bad);
    qr_dir_close(dir);
    free_docs(docs, texts);
}

/* ---- block-at-a-time positions against the reference evaluator -------------------- */

#define NMIX 700

static uint64_t mix_state;

static uint32_t mix_rnd(void)
{
    mix_state = mix_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(mix_state >> 33);
}

/*
 * NMIX documents (six full doc blocks of the common words) over a small
 * vocabulary: a title of a few words, a body of 10..40 words (every 50th of
 * 400, many positions a doc), "a" and "b" in most docs (dense phrase
 * candidates: blocks decoded at once), "r" in every 37th (a rare term that
 * makes an AND seek far: candidates doc by doc), repeated words common.
 */
static struct tdoc *make_mix(uint64_t seed, size_t n, const char *prefix)
{
    static const char *const words[] = {"a", "b", "a", "c", "b", "d", "a", "e"};
    struct tdoc *docs = calloc(n, sizeof *docs);
    cr_assert(docs);
    mix_state = seed;
    for (size_t i = 0; i < n; i++) {
        size_t cap = 8 * 420;
        char *t = malloc(cap), *path = malloc(32);
        cr_assert(t && path);
        snprintf(path, 32, "%s/%zu", prefix, i);
        size_t at = 0;
        uint32_t nt = 1 + mix_rnd() % 4, nb = i % 50 == 0 ? 400 : 10 + mix_rnd() % 31;
        for (uint32_t k = 0; k < nt; k++)
            at += (size_t)snprintf(t + at, cap - at, "%s ", words[mix_rnd() % 8]);
        t[at - 1] = '\n';
        for (uint32_t k = 0; k < nb; k++)
            at += (size_t)snprintf(t + at, cap - at, "%s ", words[mix_rnd() % 8]);
        if (i % 37 == 0)
            at += (size_t)snprintf(t + at, cap - at, "r a b");
        docs[i] = (struct tdoc){path, t};
    }
    return docs;
}

static void free_mix(struct tdoc *docs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)docs[i].path);
        free((char *)docs[i].text);
    }
    free(docs);
}

static const char *const mix_queries[] = {
    "\"a b\"",
    "\"b a\"",
    "\"a b a\"",
    "\"a a\"",
    "\"a a a\"",
    "\"b a b a\"",
    "\"c d e\"",
    "title:\"a b\"",
    "body:\"a b\"",
    "title:\"a a\"",
    "r \"a b\"",
    "r \"b a b\"",
    "\"a b\" -c",
    "\"a b\" OR \"d e\"",
    "a NEAR/2 b",
    "\"a b\" NEAR/3 c",
    "r NEAR/1 a",
    "title:a NEAR/1 b",
    "\"a b\" \"b a\"",
    "\"e a\" r",
    /* candidates judged from decoded blocks: two terms, more, repeats, fields, spans */
    "\"a c\"",
    "\"c a b\"",
    "body:\"b a\"",
    "title:\"a b a\"",
    "\"a b\" NEAR/2 \"b a\"",
    "\"r a b\"",
    "\"a a b\" -r",
    "\"b b\" OR \"a e\"",
    /* a rare driver of a few starts against a common term's many positions (scanned) */
    "\"a r\"",
    "\"a a r\"",
    "\"r a\"",
    "\"b r a b\"",
};

/*
 * Every query of qs[0..n): the engine's top 20 and total against the
 * reference; all but may_miss of them find something.
 */
static void check_queries(qr_dir *dir, const char *const *qs, size_t n, size_t may_miss)
{
    qr_searcher *s = tq_open(dir);
    ref_index *r;
    cr_assert_eq(ref_load(&r, dir), 0);
    uint64_t matched = 0;
    for (size_t i = 0; i < n; i++)
        matched += tq_check_ref(s, r, qs[i], 0, 20) > 0;
    cr_assert_geq(matched, n - may_miss, "the queries find something");
    ref_free(r);
    qr_searcher_close(s);
}

static void check_mix(qr_dir *dir)
{
    check_queries(dir, mix_queries, sizeof mix_queries / sizeof mix_queries[0], 1);
}

Test(phrase, blocks_of_many_docs_match_the_reference)
{
    struct tdoc *docs = make_mix(7, NMIX, "m");
    qr_dir *dir = tq_index("none", docs, NMIX, 0); /* one segment */
    check_mix(dir);
    qr_dir_close(dir);
    dir = tq_index("none", docs, NMIX, 250); /* three segments */
    check_mix(dir);
    /* replace every third doc of the first 300: deletions inside dense blocks */
    struct tdoc *more = make_mix(8, 300, "m");
    struct tdoc *repl = calloc(100, sizeof *repl);
    cr_assert(repl);
    for (size_t i = 0; i < 100; i++)
        repl[i] = more[3 * i];
    tq_add(dir, repl, 100);
    check_mix(dir);
    tq_merge_all(dir);
    check_mix(dir);
    free(repl);
    free_mix(more, 300);
    qr_dir_close(dir);
    free_mix(docs, NMIX);
}

/* n docs of the same text, paths "p/<i>" with i zero-padded to digits (0: not padded). */
static void same_docs(struct tdoc *docs, int n, int digits, const char *text)
{
    for (int i = 0; i < n; i++) {
        char *path = malloc(16);
        cr_assert(path);
        snprintf(path, 16, "p/%0*d", digits, i);
        docs[i] = (struct tdoc){path, text};
    }
}

static void free_paths(struct tdoc *docs, int n)
{
    for (int i = 0; i < n; i++)
        free((char *)docs[i].path);
}

/* Each of the n queries qs fails with QR_ECORRUPT on the damaged dir bad (k hits asked). */
static void all_corrupt(qr_dir *bad, const char *const *qs, size_t n, size_t k)
{
    qr_searcher *s;
    cr_assert_eq(qr_searcher_open_dir(&s, bad, QR_SEARCHER_NO_VERIFY, NULL, 0), 0);
    for (size_t i = 0; i < n; i++) {
        struct tq_res r = tq_search(s, qs[i], 0, k, 0);
        cr_assert_eq(r.rc, QR_ECORRUPT, "%s: %s", qs[i], qr_strerror(r.rc));
        tq_res_free(&r);
    }
    qr_searcher_close(s);
}

/* The intact dir answers each of the n queries qs with its count in want. */
static void intact_counts(qr_dir *dir, const char *const *qs, const uint64_t *want, size_t n)
{
    qr_searcher *good = tq_open(dir);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(tq_count(good, qs[i], 0), want[i], "%s", qs[i]);
    qr_searcher_close(good);
}

/*
 * A copy of the one-segment dir whose term "a", in each of its n docs 4
 * times (n > 128: a landing table), has its second position block's width
 * made 63 (over 32: damage).
 */
static qr_dir *a_second_position_block_damaged(qr_dir *dir, uint32_t n)
{
    char posfile[64];
    uint64_t id = tq_only_file(dir, ".pos", posfile, sizeof posfile);
    qr_segment *seg;
    cr_assert_eq(qr_segment_open(&seg, dir, id, false), 0);
    qr_term_meta meta;
    cr_assert_eq(qr_segment_term(seg, "a", 1, &meta), 0);
    cr_assert_eq(meta.df, n);
    cr_assert_eq(meta.ttf, 4 * (uint64_t)n);
    qr_slice stream = qr_segment_pos_stream(seg);
    const uint8_t *p = stream.p + meta.pos_off, *end = stream.p + stream.n;
    uint64_t tlen;
    cr_assert(qr_varint_get64(&p, end, &tlen)); /* a landing table */
    p += tlen;
    cr_assert(qr_xpfor128_skip(&p, end)); /* position block 0 */
    size_t at = tq_file_offset(dir, posfile, stream) + (size_t)(p - stream.p);
    uint8_t width = *p;
    qr_segment_close(seg);
    cr_assert_leq(width, 32);
    return tq_copy_patched(dir, posfile, at, (uint8_t)(width ^ 63));
}

/*
 * Damage in a position block that only the block-at-a-time decoding reads
 * straight into its buffer: "a" (in every doc, 4 times) has its first doc
 * block's positions asked at every candidate, so from the second candidate
 * on the rest of the block is decoded at once, and the second position
 * block, whose width is made over 32, is decoded there.
 */
Test(phrase, damaged_position_block_read_with_its_doc_block_is_corrupt)
{
    enum { N = 200 };
    struct tdoc docs[N];
    same_docs(docs, N, 0, "t\na b a x a b a y");
    qr_dir *dir = tq_index("none", docs, N, 0);
    qr_dir *bad = a_second_position_block_damaged(dir, N);
    static const char *const qs[] = {"\"a b\"", "\"b a\"", "a NEAR/1 b", "\"x a b\""};
    all_corrupt(bad, qs, sizeof qs / sizeof qs[0], N);
    /* the intact index answers them */
    static const char *const ok[] = {"\"a b\"", "\"x a b\""};
    intact_counts(dir, ok, (const uint64_t[]){N, N}, 2);
    qr_dir_close(bad);
    qr_dir_close(dir);
    free_paths(docs, N);
}

/* ---- the conjunction window by window (qr_conj_win) ------------------------------- */

#define NWIN 900

/*
 * NWIN documents whose terms make every kind of window: "a" .. "d" in
 * almost every doc (windows of dense common docs, phrases of up to four
 * distinct terms whose merges chain), "q" in every doc of the first 400 and
 * then in every 45th (windows first even, then lopsided: a rare lead with
 * common others, stepped by seeks, and back), "z" only near the end (too
 * rare against the common words for windows at all), and
 * "r" in every 61st (an AND that seeks the phrase, resetting its window).
 * Paths are numbered with leading zeros: doc ids follow i.
 */
static struct tdoc *make_win(uint64_t seed, size_t n, const char *prefix)
{
    static const char *const words[] = {"a", "b", "c", "d", "a", "b", "e"};
    struct tdoc *docs = calloc(n, sizeof *docs);
    cr_assert(docs);
    mix_state = seed;
    for (size_t i = 0; i < n; i++) {
        size_t cap = 8 * 64;
        char *t = malloc(cap), *path = malloc(32);
        cr_assert(t && path);
        snprintf(path, 32, "%s/%04zu", prefix, i);
        size_t at = (size_t)snprintf(t, cap, "%s\n", words[mix_rnd() % 7]);
        uint32_t nb = 6 + mix_rnd() % 30;
        for (uint32_t k = 0; k < nb; k++) {
            uint32_t x = mix_rnd() % 40;
            const char *w = x == 0 && (i < 400 || i % 45 == 0) ? "q"
                            : x == 1 && i > n - 60             ? "z"
                                                               : words[x % 7];
            at += (size_t)snprintf(t + at, cap - at, "%s ", w);
        }
        if (i < 400 || i % 45 == 0)
            at += (size_t)snprintf(t + at, cap - at, "q a b ");
        if (i % 61 == 0)
            snprintf(t + at, cap - at, "r a b c d");
        docs[i] = (struct tdoc){path, t};
    }
    return docs;
}

static const char *const win_queries[] = {
    "\"a b\"",
    "\"b a c\"",
    "\"a b c d\"",
    "\"d c b a\"",
    "\"a b a b\"",
    "\"q a\"",
    "\"a q b\"",
    "\"q a b\"",
    "\"z a\"",
    "\"a z\"",
    "r \"a b\"",
    "r \"a b c d\"",
    "\"c d\" -r",
    "q NEAR/2 a",
    "a NEAR/1 b",
    "z NEAR/3 c",
    "title:a NEAR/2 b",
    "\"a b\" NEAR/2 q",
    "\"q a\" OR \"z b\"",
    "title:\"a b\"",
    "z NEAR/40 e",
    "e NEAR/0 e",
    "body:q NEAR/1 title:a",
    "r NEAR/3 d",
};

static void check_win(qr_dir *dir)
{
    check_queries(dir, win_queries, sizeof win_queries / sizeof win_queries[0], 3);
}

/*
 * Runs check over the n docs of make(seed, n, prefix) in one segment, in
 * segments of batch docs, and then with every stride-th of make(seed + 1,
 * nrepl * stride) replacing its doc (deletions inside the windows).
 */
static void check_layouts(struct tdoc *(*make)(uint64_t, size_t, const char *), uint64_t seed,
                          size_t n, const char *prefix, size_t batch, size_t nrepl, size_t stride,
                          void (*check)(qr_dir *))
{
    struct tdoc *docs = make(seed, n, prefix);
    qr_dir *dir = tq_index("none", docs, n, 0); /* one segment */
    check(dir);
    qr_dir_close(dir);
    dir = tq_index("none", docs, n, batch); /* several segments */
    check(dir);
    struct tdoc *more = make(seed + 1, nrepl * stride, prefix);
    struct tdoc *repl = calloc(nrepl, sizeof *repl);
    cr_assert(repl);
    for (size_t i = 0; i < nrepl; i++)
        repl[i] = more[stride * i];
    tq_add(dir, repl, nrepl);
    check(dir);
    free(repl);
    free_mix(more, nrepl * stride);
    qr_dir_close(dir);
    free_mix(docs, n);
}

Test(phrase, windows_of_common_and_rare_terms_match_the_reference)
{
    check_layouts(make_win, 11, NWIN, "w", 350, 100, 4, check_win);
}

/*
 * Windows of terms too sparse for the map of a window (QR_WIN_MAP docs
 * after its first common doc; iter.c), whose common docs are then merged,
 * next to dense ones looked up in the map: "s" in every 16th of NSPARSE
 * docs and "t" in every 12th (their first blocks span more than
 * QR_WIN_MAP docs, later windows less), "u" and "v" in every other, "s t"
 * and "t s u" where both meet, deletions and three segments.
 */
#define NSPARSE 3000

static struct tdoc *make_sparse(uint64_t seed, size_t n, const char *prefix)
{
    (void)seed; /* no randomness: check_layouts' maker */
    struct tdoc *docs = calloc(n, sizeof *docs);
    cr_assert(docs);
    for (size_t i = 0; i < n; i++) {
        size_t cap = 64;
        char *t = malloc(cap), *path = malloc(32);
        cr_assert(t && path);
        snprintf(path, 32, "%s/%04zu", prefix, i);
        bool s = i % 16 == 0, tt = i % 12 == 0, uv = i % 2 == 0;
        snprintf(t, cap, "x\n%s %s %s %s",
                 s && tt ? "s t"
                 : s     ? "s x"
                         : "x x",
                 tt && i % 96 == 0 ? "t s u"
                 : tt              ? "y t"
                                   : "y y",
                 uv ? "u v" : "w w", i % 5 == 0 ? "v u" : "x");
        docs[i] = (struct tdoc){path, t};
    }
    return docs;
}

static const char *const sparse_queries[] = {
    "\"s t\"",    "\"t s\"", "\"t s u\"",  "\"s t\" OR \"t s\"",
    "s NEAR/2 t", "\"u v\"", "\"v u\"",    "u NEAR/1 v",
    "\"s x\"",    "\"y t\"", "t NEAR/3 u", "\"s t\" -\"v u\"",
};

static void check_sparse(qr_dir *dir)
{
    check_queries(dir, sparse_queries, sizeof sparse_queries / sizeof sparse_queries[0], 0);
}

Test(phrase, windows_too_sparse_for_the_map_match_the_reference)
{
    cr_assert_gt(NSPARSE / 16, 128, "s fills a block");
    cr_assert_gt(128 * 12, QR_WIN_MAP, "the first blocks of s and t span more than the map");
    check_layouts(make_sparse, 0, NSPARSE, "s", 1100, 200, 3, check_sparse);
}

/*
 * A doc id past the segment's documents that every term of a phrase shares
 * is a common doc of a window: moving there is corrupt data. "a" and "b"
 * are in each of N docs once (a tail block of one-byte codes, gap 0 and tf
 * 1), and both have their last code's gap made 32.
 */
Test(phrase, a_window_doc_past_the_segment_is_corrupt)
{
    enum { N = 100 };
    struct tdoc docs[N];
    same_docs(docs, N, 2, "t\na b");
    qr_dir *dir = tq_index("none", docs, N, 0);
    char docfile[64];
    uint64_t id = tq_only_file(dir, ".doc", docfile, sizeof docfile);
    qr_segment *seg;
    cr_assert_eq(qr_segment_open(&seg, dir, id, false), 0);
    qr_slice stream = qr_segment_doc_stream(seg);
    size_t base = tq_file_offset(dir, docfile, stream), at[2];
    for (int t = 0; t < 2; t++) {
        qr_term_meta meta;
        cr_assert_eq(qr_segment_term(seg, t ? "b" : "a", 1, &meta), 0);
        cr_assert_eq(meta.df, N);
        const uint8_t *p = stream.p + meta.doc_off, *end = stream.p + stream.n;
        uint64_t v;
        cr_assert(qr_varint_get64(&p, end, &v)); /* min_dl */
        p += N - 1;                              /* the codes before the last */
        cr_assert_eq(*p, 0x01, "gap 0, tf 1");
        at[t] = base + (size_t)(p - stream.p);
    }
    qr_segment_close(seg);
    qr_dir *half = tq_copy_patched(dir, docfile, at[0], 0x40); /* code 0x41: gap 32 */
    qr_dir *bad = tq_copy_patched(half, docfile, at[1], 0x40);
    static const char *const qs[] = {"\"a b\"", "a NEAR/1 b"};
    all_corrupt(bad, qs, sizeof qs / sizeof qs[0], N);
    intact_counts(dir, qs, (const uint64_t[]){N, N}, 2);
    qr_dir_close(bad);
    qr_dir_close(half);
    qr_dir_close(dir);
    free_paths(docs, N);
}

/*
 * Position deltas whose sums pass 32 bits in a block decoded at once: the
 * candidates judged from the decoded deltas alone (two terms, and more)
 * must leave such a doc to the walk, which reports the damage. Every doc
 * is "a b c d a b c d": "c" has 2 N positions, the last 2 N mod 128 of them
 * varints, the very last (the last doc's second, delta 4) one byte; it is
 * made the five-byte varint of 2^32 - 1 (over the first bytes of "d",
 * which no query reads).
 */
Test(phrase, position_sums_past_32_bits_in_a_decoded_block_are_corrupt)
{
    enum { N = 300 };
    struct tdoc docs[N];
    same_docs(docs, N, 3, "t\na b c d a b c d");
    qr_dir *dir = tq_index("none", docs, N, 0);
    char posfile[64];
    uint64_t id = tq_only_file(dir, ".pos", posfile, sizeof posfile);
    qr_segment *seg;
    cr_assert_eq(qr_segment_open(&seg, dir, id, false), 0);
    qr_term_meta c, d;
    cr_assert_eq(qr_segment_term(seg, "c", 1, &c), 0);
    cr_assert_eq(qr_segment_term(seg, "d", 1, &d), 0);
    cr_assert_eq(c.ttf, 2 * N);
    cr_assert_neq(c.ttf % QR_BLOCK, 0, "a varint tail");
    qr_slice stream = qr_segment_pos_stream(seg);
    cr_assert_gt(d.pos_off, c.pos_off, "d's positions follow c's");
    cr_assert_leq(d.pos_off + 4, stream.n);
    const uint8_t *last = stream.p + d.pos_off - 1;
    cr_assert_eq(*last, 4, "the last doc's second position of c: 7 - 3");
    size_t at = tq_file_offset(dir, posfile, stream) + (size_t)(last - stream.p);
    static const uint8_t want[5] = {0xff, 0xff, 0xff, 0xff, 0x0f}; /* 2^32 - 1 */
    uint8_t x[5];
    for (int k = 0; k < 5; k++)
        x[k] = last[k] ^ want[k];
    qr_segment_close(seg);
    qr_dir *step[6] = {dir};
    for (int k = 0; k < 5; k++)
        step[k + 1] = tq_copy_patched(step[k], posfile, at + (size_t)k, x[k]);
    static const char *const qs[] = {"\"b c\"", "\"t c\"", "\"a b c\"", "\"c a\"", "\"b c b\""};
    all_corrupt(step[5], qs, sizeof qs / sizeof qs[0], N);
    /* the intact index answers them */
    static const char *const ok[] = {"\"b c\"", "\"a b c\"", "\"c a\"", "\"t c\""};
    intact_counts(dir, ok, (const uint64_t[]){N, N, 0, 0}, 4);
    for (int k = 5; k >= 0; k--)
        qr_dir_close(step[k]);
    free_paths(docs, N);
}

/* ---- a commonest term decoded only when the others leave starts ------------------- */

#define NDEFER 1000

/*
 * NDEFER documents where "p" is in almost every doc, several times, and "m"
 * and "n" in about a third each (within the windows' ratio of p): "m p n"
 * is appended to every other doc of the first 300 (p's blocks asked at many
 * docs: decoded at once), to every 40th of the next 300 (asked at a doc or
 * two: read doc by doc) and to none after; "m x n" to every fifth doc (m
 * and n agree, p does not); the title is "m p" in every ninth. Paths are
 * numbered with leading zeros: doc ids follow i.
 */
static struct tdoc *make_defer(uint64_t seed, size_t n, const char *prefix)
{
    static const char *const other[] = {"x", "y", "z", "x"};
    struct tdoc *docs = calloc(n, sizeof *docs);
    cr_assert(docs);
    mix_state = seed;
    for (size_t i = 0; i < n; i++) {
        size_t cap = 8 * 64;
        char *t = malloc(cap), *path = malloc(32);
        cr_assert(t && path);
        snprintf(path, 32, "%s/%04zu", prefix, i);
        size_t at = (size_t)snprintf(t, cap, "%s\n", i % 9 == 0 ? "m p" : "y");
        bool has_m = mix_rnd() % 3 == 0, has_n = mix_rnd() % 3 == 0;
        uint32_t nb = 8 + mix_rnd() % 20;
        for (uint32_t k = 0; k < nb; k++) {
            uint32_t x = mix_rnd() % 10;
            const char *w = x < 4             ? "p"
                            : x == 4 && has_m ? "m"
                            : x == 5 && has_n ? "n"
                                              : other[x % 4];
            at += (size_t)snprintf(t + at, cap - at, "%s ", w);
        }
        if ((i < 300 && i % 2 == 0) || (i >= 300 && i < 600 && i % 40 == 0))
            at += (size_t)snprintf(t + at, cap - at, "m p n ");
        if (i % 5 == 0)
            snprintf(t + at, cap - at, "m x n");
        docs[i] = (struct tdoc){path, t};
    }
    return docs;
}

static const char *const defer_queries[] = {
    "\"m p n\"",
    "\"n p m\"",
    "\"m x n\"",
    "\"p m p n\"",
    "\"m p n p\"",
    "\"m p n x\"",
    "title:\"m p n\"",
    "body:\"m p n\"",
    "title:\"y m p\"",
    "\"m p n\" -z",
    "\"m p n\" x",
    "\"m p n\" OR \"n p m\"",
    "\"m p n\" NEAR/3 x",
    "\"p p m\"",
    "\"m p p n\"",
    /* the deferred term first, last */
    "\"p m n\"",
    "\"p x m\"",
    "\"n x p\"",
    "\"m n p\"",
};

static void check_defer(qr_dir *dir)
{
    check_queries(dir, defer_queries, sizeof defer_queries / sizeof defer_queries[0], 4);
}

Test(phrase, a_deferred_commonest_term_matches_the_reference)
{
    check_layouts(make_defer, 21, NDEFER, "d", 400, 150, 4, check_defer);
}

/*
 * Damage in the positions of a phrase's deferred term (its last distinct
 * term in phrase order when the terms are equally common) that only the
 * judging of a window's candidates reads: every doc is "b c a x a y a z a",
 * "a" has 4 positions a doc, and its second position block (docs 32..63)
 * has its width made over 32. The walk of doc 0 reads a's positions of
 * doc 0 alone; then the window's candidates need a (b and c agree), doc 1
 * by doc and doc 2 on with the rest of the block, the damaged block among
 * them: the search must fail with the damage, not pass over it.
 */
Test(phrase, damaged_positions_of_a_deferred_term_are_corrupt)
{
    enum { N = 200 };
    struct tdoc docs[N];
    same_docs(docs, N, 3, "t\nb c a x a y a z a");
    qr_dir *dir = tq_index("none", docs, N, 0);
    qr_dir *bad = a_second_position_block_damaged(dir, N);
    static const char *const qs[] = {"\"b c a\"", "\"c a x a\"", "\"b c a\" z"};
    all_corrupt(bad, qs, sizeof qs / sizeof qs[0], N);
    intact_counts(dir, qs, (const uint64_t[]){N, N}, 2);
    qr_dir_close(bad);
    qr_dir_close(dir);
    free_paths(docs, N);
}

/*
 * A deferred term rejoining the conjunction allocates its window then:
 * every allocation of a search whose phrase rejoins ("m p n" over the
 * docs of make_defer, the rarer two leaving starts at most docs of the
 * first 300) may fail, and the answer is then QR_ENOMEM or the right one.
 */
Test(phrase, allocations_of_a_rejoining_phrase_may_fail)
{
    struct tdoc *docs = make_defer(21, NDEFER, "d");
    qr_dir *dir = tq_index("none", docs, NDEFER, 0);
    qr_searcher *s = tq_open(dir);
    static const char *const qs[] = {"\"m p n\"", "\"m p n\" x"};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        uint64_t want = tq_count(s, qs[i], 0);
        cr_assert_gt(want, 0, "%s", qs[i]);
        int failures = 0;
        for (long n = 0;; n++) {
            qr_alloc_fail_after(n);
            struct tq_res r = tq_search(s, qs[i], 0, 20, 0);
            long failed = qr_alloc_failures();
            qr_alloc_fail_after(-1);
            bool done = r.rc == 0 && failed == 0;
            cr_assert(r.rc == QR_ENOMEM || (r.rc == 0 && r.total == want), "%s, allocation %ld: %s",
                      qs[i], n, qr_strerror(r.rc));
            failures += r.rc == QR_ENOMEM;
            tq_res_free(&r);
            if (done)
                break;
        }
        cr_assert_gt(failures, 2, "%s", qs[i]);
    }
    qr_searcher_close(s);
    qr_dir_close(dir);
    free_mix(docs, NDEFER);
}
