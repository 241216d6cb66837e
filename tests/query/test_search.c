/*
 * End-to-end tests of search on hand-made documents: each operator, field
 * restriction, phrases that must not span title and body, NEAR pair
 * counts, prefixes, the hyphen and apostrophe cases, deletions and several
 * segments, and BM25 scores against values computed by hand from SPEC §4.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/searcher.h"
#include "storage/status.h"
#include "tq.h"

/*
 * The small corpus, language none (no stemming), positions by hand:
 *   d/1: title alpha(0) beta(1)  | body gamma(2) alpha(3) delta(4)   dl 5, title 2
 *   d/2: title beta(0)           | body beta(1) beta(2) gamma(3)      dl 4, title 1
 *   d/3: title gamma(0)          | body delta(1) epsilon(2)           dl 3, title 1
 * N = 3, avgdl = 12 / 3 = 4.
 */
static const struct tdoc small[] = {
    {"d/1", "Alpha beta\ngamma alpha delta"},
    {"d/2", "Beta\nbeta beta gamma"},
    {"d/3", "Gamma\ndelta epsilon"},
};

static qr_dir *dir;
static qr_searcher *srch;

static void open_small(void)
{
    dir = tq_index("none", small, 3, 0);
    srch = tq_open(dir);
}

static void close_all(void)
{
    qr_searcher_close(srch);
    qr_dir_close(dir);
}

/* BM25 by hand: SPEC §4 with k1 = 1.2, b = 0.75, avgdl as given. */
static double idf(double N, double df)
{
    return log(1 + (N - df + 0.5) / (df + 0.5));
}

static double bm25(double idfv, double tf, double dl, double avgdl)
{
    return idfv * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl));
}

#define CLOSE(a, b) cr_assert(fabs((a) - (b)) <= 1e-12 * fabs(b), "%.17g != %.17g", a, b)

static struct tq_res q(const char *text)
{
    struct tq_res r = tq_search(srch, text, 0, 10, 0);
    cr_assert_eq(r.rc, 0, "%s: rc %d", text, r.rc);
    return r;
}

#define EXPECT_PATHS(text, want)                                                                   \
    do {                                                                                           \
        struct tq_res r_ = q(text);                                                                \
        cr_assert_str_eq(tq_paths(&r_), want, "query %s", text);                                   \
        cr_assert_eq(r_.total, r_.n, "query %s", text);                                            \
        tq_res_free(&r_);                                                                          \
    } while (0)

TestSuite(search, .init = open_small, .fini = close_all);

Test(search, term_scores_by_hand)
{
    struct tq_res r = q("alpha");
    cr_assert_eq(r.total, 1);
    cr_assert_str_eq(r.paths[0], "d/1");
    CLOSE(r.scores[0], bm25(idf(3, 1), 2, 5, 4));
    tq_res_free(&r);
    r = q("beta");
    cr_assert_str_eq(tq_paths(&r), "d/2 d/1");
    CLOSE(r.scores[0], bm25(idf(3, 2), 3, 4, 4));
    CLOSE(r.scores[1], bm25(idf(3, 2), 1, 5, 4));
    tq_res_free(&r);
    /* gamma is in every document: a small positive idf, ranked by tf and length */
    r = q("gamma");
    cr_assert_str_eq(tq_paths(&r), "d/3 d/2 d/1");
    CLOSE(r.scores[0], bm25(idf(3, 3), 1, 3, 4));
    tq_res_free(&r);
}

Test(search, and_or_not)
{
    EXPECT_PATHS("alpha delta", "d/1");
    EXPECT_PATHS("alpha AND epsilon", "");
    EXPECT_PATHS("beta -alpha", "d/2");
    EXPECT_PATHS("beta NOT alpha", "d/2");
    EXPECT_PATHS("alpha OR epsilon", "d/1 d/3");
    EXPECT_PATHS("-beta", "d/3");
    EXPECT_PATHS("-beta -epsilon", "");
    EXPECT_PATHS("NOT zeta", "d/1 d/2 d/3"); /* ties break by path */
    EXPECT_PATHS("zeta", "");
    EXPECT_PATHS("zeta OR alpha", "d/1");
    EXPECT_PATHS(",", "");
    struct tq_res r = q("(alpha gamma) OR delta");
    cr_assert_str_eq(tq_paths(&r), "d/1 d/3");
    /* d/1: (alpha + gamma) + delta; d/3 has gamma and delta but no alpha: delta only */
    double a = bm25(idf(3, 1), 2, 5, 4), g = bm25(idf(3, 3), 1, 5, 4),
           d1 = bm25(idf(3, 2), 1, 5, 4);
    CLOSE(r.scores[0], (a + g) + d1);
    CLOSE(r.scores[1], bm25(idf(3, 2), 1, 3, 4));
    tq_res_free(&r);
    /* Nothing under a NOT scores. */
    r = q("NOT NOT alpha");
    cr_assert_str_eq(tq_paths(&r), "d/1");
    cr_assert_eq(r.scores[0], 0);
    tq_res_free(&r);
    r = q("-beta");
    cr_assert_eq(r.scores[0], 0);
    tq_res_free(&r);
}

Test(search, fields)
{
    EXPECT_PATHS("title:beta", "d/2 d/1");
    EXPECT_PATHS("body:beta", "d/2");
    EXPECT_PATHS("title:alpha", "d/1");
    EXPECT_PATHS("body:epsilon", "d/3");
    EXPECT_PATHS("title:epsilon", "");
    EXPECT_PATHS("title:(gamma OR alpha)", "d/1 d/3");
    EXPECT_PATHS("-title:beta", "d/3");
    struct tq_res r = q("body:beta");
    CLOSE(r.scores[0], bm25(idf(3, 2), 2, 4, 4)); /* tf counts the body only */
    tq_res_free(&r);
    r = q("title:beta");
    CLOSE(r.scores[0], bm25(idf(3, 2), 1, 4, 4));
    CLOSE(r.scores[1], bm25(idf(3, 2), 1, 5, 4));
    tq_res_free(&r);
}

Test(search, phrases_never_span_title_and_body)
{
    /* d/1: beta(1, title) gamma(2, body) is not a phrase; d/2 beta(2) gamma(3) is */
    struct tq_res r = q("\"beta gamma\"");
    cr_assert_str_eq(tq_paths(&r), "d/2");
    CLOSE(r.scores[0], bm25(idf(3, 2) + idf(3, 3), 1, 4, 4));
    tq_res_free(&r);
    EXPECT_PATHS("\"beta beta\"", "d/2"); /* title beta(0) + body beta(1): no */
    EXPECT_PATHS("title:\"alpha beta\"", "d/1");
    EXPECT_PATHS("body:\"alpha beta\"", "");
    EXPECT_PATHS("\"gamma alpha delta\"", "d/1");
    EXPECT_PATHS("\"alpha gamma\"", "");
}

Test(search, near)
{
    /* d/1: gamma(2) alpha(0 title, 3 body): one pair in the body */
    struct tq_res r = q("gamma NEAR/1 alpha");
    cr_assert_str_eq(tq_paths(&r), "d/1");
    CLOSE(r.scores[0], bm25(idf(3, 3) + idf(3, 1), 1, 5, 4));
    tq_res_free(&r);
    EXPECT_PATHS("gamma NEAR/0 alpha", "");
    EXPECT_PATHS("alpha NEAR/0 alpha", "d/1"); /* an occurrence is at gap 0 of itself */
    /* beta NEAR/1 beta in d/2: body pairs (1,1) (1,2) (2,1) (2,2): tf 4; title (0,0): tf 1 */
    r = q("beta NEAR/1 beta");
    cr_assert_str_eq(tq_paths(&r), "d/2 d/1");
    CLOSE(r.scores[0], bm25(idf(3, 2) + idf(3, 2), 5, 4, 4));
    tq_res_free(&r);
    EXPECT_PATHS("title:alpha NEAR/5 delta", ""); /* different fields */
    EXPECT_PATHS("alpha NEAR/1 delta", "d/1");
    EXPECT_PATHS("delta NEAR/1 alpha", "d/1");
    EXPECT_PATHS("\"gamma alpha\" NEAR/1 delta", "d/1");
    EXPECT_PATHS("\"gamma alpha\" NEAR/0 delta", ""); /* the phrase spans 2..3 */
    EXPECT_PATHS("-gamma NEAR beta", "d/1 d/3");      /* d/1: beta only in the title */
}

Test(search, prefixes)
{
    EXPECT_PATHS("del*", "d/3 d/1");
    EXPECT_PATHS("title:gam*", "d/3");
    EXPECT_PATHS("zz*", "");
    /* A prefix sums each expanded term it contains, each with its own idf. */
    struct tq_res r = tq_search(srch, "e*", 0, 10, 0);
    cr_assert_eq(r.rc, QR_ESYNTAX);
    cr_assert_eq(r.column, 1);
    tq_res_free(&r);
    r = q("ep* OR al*");
    cr_assert_str_eq(tq_paths(&r), "d/1 d/3");
    tq_res_free(&r);
}

Test(search, offsets_counts_and_k)
{
    struct tq_res r = tq_search(srch, "gamma", 0, 1, 1);
    cr_assert_eq(r.total, 3);
    cr_assert_str_eq(tq_paths(&r), "d/2");
    tq_res_free(&r);
    r = tq_search(srch, "gamma", 0, 10, 5);
    cr_assert_eq(r.total, 3);
    cr_assert_eq(r.n, 0);
    tq_res_free(&r);
    r = tq_search(srch, "gamma", 0, 0, 0);
    cr_assert_eq(r.total, 3);
    cr_assert_eq(r.n, 0);
    tq_res_free(&r);
    r = tq_search(srch, "gamma", 0, SIZE_MAX, SIZE_MAX);
    cr_assert_eq(r.total, 3);
    tq_res_free(&r);
    cr_assert_eq(tq_count(srch, "gamma", 0), 3);
    cr_assert_eq(tq_count(srch, "-beta", 0), 1);
    cr_assert_eq(tq_count(srch, "title:beta", 0), 2);
    cr_assert_eq(tq_count(srch, "beta gamma", QR_PARSE_ANY), 3);
}

/* ---- hyphens and apostrophes, English ------------------------------------------------------ */

static const struct tdoc news[] = {
    {"n/1", "Truce\nThe cease-fire in Crimea held overnight."},
    {"n/2", "Talks\nA ceasefire was agreed; cease fire now."},
    {"n/3", "Envoy\nZelensky’s envoy met Putin's aide in Kyiv."},
    {"n/4", "Grain\nUkraine's grain exports rose; Ukrainians welcomed the 24-hour truce."},
    {"n/5", "U.S. aid\nThe U.S. pledged aid. Russia objected."},
};

Test(search_en, hyphens_and_apostrophes_end_to_end)
{
    qr_dir *d = tq_index("english", news, 5, 0);
    qr_searcher *s = tq_open(d);
    struct tq_res r;
#define EXPECT_EN(text, want)                                                                      \
    r = tq_search(s, text, 0, 10, 0);                                                              \
    cr_assert_eq(r.rc, 0, "%s", text);                                                             \
    cr_assert_str_eq(tq_paths(&r), want, "query %s", text);                                        \
    tq_res_free(&r)
    /* cease-fire, cease fire and ceasefire all find each other */
    EXPECT_EN("cease-fire", "n/1 n/2");
    EXPECT_EN("ceasefire", "n/1 n/2");
    EXPECT_EN("\"cease fire\"", "n/1 n/2");
    EXPECT_EN("\"cease-fire\"", "n/1 n/2");
    EXPECT_EN("cease-fire crimea", "n/1");
    EXPECT_EN("24-hour", "n/4");
    EXPECT_EN("24hour", "n/4");
    EXPECT_EN("\"24 hour truce\"", "n/4");
    /* apostrophes inside words */
    EXPECT_EN("Zelensky's", "n/3");
    EXPECT_EN("zelensky", "n/3");
    EXPECT_EN("Zelensky’s NEAR/1 envoy", "n/3");
    EXPECT_EN("putin", "n/3");
    EXPECT_EN("ukrain*", "n/4");
    EXPECT_EN("ukrain* -russia", "n/4");
    EXPECT_EN("title:truce", "n/1");
    EXPECT_EN("U.S.", "n/5");
    EXPECT_EN("\"u s pledged\"", "n/5");
#undef EXPECT_EN
    qr_searcher_close(s);
    qr_dir_close(d);
}

/* ---- deletions and segments ---------------------------------------------------------------- */

Test(search_segments, deleted_documents_never_appear)
{
    /* one segment; then d/2 is replaced: its old version is deleted in segment 1 (a third of
     * it, so the merge policy leaves it), the new one is in segment 2 */
    qr_dir *d = tq_index("none", small, 3, 0);
    struct tdoc repl = {"d/2", "Zeta\nzeta eta"};
    tq_add(d, &repl, 1);
    qr_searcher *s = tq_open(d);
    cr_assert_eq(qr_searcher_docs(s), 3);
    struct tq_res r = tq_search(s, "beta", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "d/1");
    /* df may count the deleted version (SPEC §4): beta is in d/1 and the old d/2; avgdl is
     * over live documents: (5 + 3 + 3) / 3 */
    CLOSE(r.scores[0], bm25(idf(3, 2), 1, 5, 11.0 / 3));
    tq_res_free(&r);
    r = tq_search(s, "zeta", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "d/2");
    tq_res_free(&r);
    r = tq_search(s, "NOT alpha", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "d/2 d/3");
    tq_res_free(&r);
    cr_assert_eq(tq_count(s, "gamma", 0), 2);
    cr_assert_eq(tq_count(s, "beta OR zeta", 0), 2);
    qr_searcher_close(s);
    /* once merged, the deleted version is gone from df too */
    tq_merge_all(d);
    s = tq_open(d);
    r = tq_search(s, "beta", 0, 10, 0);
    CLOSE(r.scores[0], bm25(idf(3, 1), 1, 5, 11.0 / 3));
    tq_res_free(&r);
    qr_searcher_close(s);
    qr_dir_close(d);
}

Test(search_segments, ties_across_segments_break_by_path)
{
    /* identical documents in reverse path order over three segments */
    static const struct tdoc docs[] = {
        {"c", "x\nsame words here"}, {"b", "x\nsame words here"}, {"a", "x\nsame words here"}};
    qr_dir *d = tq_index("none", docs, 3, 1);
    qr_searcher *s = tq_open(d);
    struct tq_res r = tq_search(s, "same", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "a b c");
    cr_assert_eq(r.scores[0], r.scores[2]);
    tq_res_free(&r);
    r = tq_search(s, "same", 0, 2, 0);
    cr_assert_str_eq(tq_paths(&r), "a b");
    tq_res_free(&r);
    r = tq_search(s, "same", 0, 1, 1);
    cr_assert_str_eq(tq_paths(&r), "b");
    tq_res_free(&r);
    qr_searcher_close(s);
    qr_dir_close(d);
}

Test(search_segments, empty_index_and_empty_documents)
{
    static const struct tdoc docs[] = {{"e/1", ""}, {"e/2", "\n\n"}, {"e/3", "..."}};
    qr_dir *d = tq_index("english", docs, 3, 0);
    qr_searcher *s = tq_open(d);
    cr_assert_eq(qr_searcher_docs(s), 3);
    struct tq_res r = tq_search(s, "-anything", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "e/1 e/2 e/3");
    tq_res_free(&r);
    cr_assert_eq(tq_count(s, "word", 0), 0);
    qr_searcher_close(s);
    qr_dir_close(d);
}

Test(search_segments, over_long_words_keep_their_position)
{
    char longw[80], text[256], q[256];
    memset(longw, 'x', 70);
    longw[70] = 0;
    snprintf(text, sizeof text, "Title\nalpha %s beta", longw);
    struct tdoc docs[] = {{"g/1", text}, {"g/2", "Title\nalpha gamma beta"}, {"g/3", "alpha beta"}};
    qr_dir *d = tq_index("none", docs, 3, 0);
    qr_searcher *s = tq_open(d);
    /* the query's over-long word is a one-word gap: any word fills it */
    snprintf(q, sizeof q, "\"alpha %s beta\"", longw);
    struct tq_res r = tq_search(s, q, 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "g/1 g/2");
    tq_res_free(&r);
    /* and a document's over-long word keeps alpha and beta apart */
    r = tq_search(s, "\"alpha beta\"", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "g/3");
    tq_res_free(&r);
    /* NEAR's gap is the distance between positions: 2 across the gap, 1 when adjacent */
    r = tq_search(s, "alpha NEAR/2 beta", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "g/3 g/1 g/2");
    tq_res_free(&r);
    r = tq_search(s, "alpha NEAR/1 beta", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "g/3");
    tq_res_free(&r);
    r = tq_search(s, "alpha NEAR/0 beta", 0, 10, 0);
    cr_assert_str_eq(tq_paths(&r), "");
    tq_res_free(&r);
    qr_searcher_close(s);
    qr_dir_close(d);
}

Test(search_segments, missing_index)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_memory(&d), 0);
    qr_searcher *s;
    char err[256];
    cr_assert_eq(qr_searcher_open_dir(&s, d, 0, err, sizeof err), QR_ENOTFOUND);
    cr_assert(strstr(err, "no index"), "%s", err);
    cr_assert_eq(qr_searcher_open(&s, "/nonexistent/quarry.idx", err, sizeof err), QR_ENOTFOUND);
    cr_assert(strstr(err, "/nonexistent/quarry.idx"), "%s", err);
    qr_dir_close(d);
}

/*
 * A word repeated inside a phrase is read once: each copy must still sit at
 * its own offset, the document needs as many occurrences as the phrase has
 * copies, and overlapping matches all count (tf).
 */
Test(search_segments, phrases_with_repeated_words)
{
    static const struct tdoc docs[] = {
        {"r/1", "T\nxa xa xa yb"}, {"r/2", "T\nxa yb xa xa"}, {"r/3", "T\nyb xa"}};
    qr_dir *d = tq_index("none", docs, 3, 0);
    qr_searcher *s = tq_open(d);
    struct {
        const char *q, *want;
    } cases[] = {
        {"\"xa xa\"", "r/1 r/2"},   {"\"xa xa xa\"", "r/1"}, {"\"xa xa xa xa\"", ""},
        {"\"xa yb xa\"", "r/2"},    {"\"xa xa yb\"", "r/1"}, {"\"yb xa xa\"", "r/2"},
        {"\"xa yb xa xa\"", "r/2"}, {"\"yb yb\"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct tq_res r = tq_search(s, cases[i].q, 0, 10, 0);
        cr_assert_eq(r.rc, 0, "%s", cases[i].q);
        cr_assert_str_eq(tq_paths(&r), cases[i].want, "%s", cases[i].q);
        tq_res_free(&r);
    }
    /* tf counts overlapping matches: "xa xa" occurs twice in r/1, once in r/2 */
    struct tq_res r = tq_search(s, "\"xa xa\"", 0, 10, 0);
    double N = 3, avgdl = 13.0 / 3, idf2 = 2 * idf(N, 3);
    CLOSE(r.scores[0], bm25(idf2, 2, 5, avgdl));
    CLOSE(r.scores[1], bm25(idf2, 1, 5, avgdl));
    tq_res_free(&r);
    /* ten thousand copies: no document has them, and one list is read */
    size_t n = 10000;
    char *big = malloc(3 * n + 3);
    cr_assert(big);
    char *w = big;
    *w++ = '"';
    for (size_t i = 0; i < n; i++)
        w += sprintf(w, i ? " xa" : "xa");
    *w++ = '"';
    *w = 0;
    cr_assert_eq(tq_count(s, big, 0), 0);
    free(big);
    qr_searcher_close(s);
    qr_dir_close(d);
}
