/*
 * The window passes of rank.c for flat queries (an OR of terms; an AND of
 * terms minus terms) against the reference evaluator: ANDs of up to
 * DENSE_K terms take the clause-mask path, longer ones the clause-count
 * path, ORs the cleared-bound path, and prefixes the accumulator. Each
 * query is checked for its exact total and its top hits (paths and
 * scores) and for counting alone, with the default windows and with
 * windows small enough that every pass crosses many window boundaries, on
 * an index of several segments with deletions. The words are drawn from
 * the most frequent of a Zipf vocabulary so that clauses overlap densely
 * (the case the mask and cleared-bound paths are for) as well as sparsely.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/searcher.h"
#include "ref.h"
#include "storage/status.h"
#include "tq.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t pick(uint64_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % n;
}

/* Rank r (0-based) with probability about 1/(r+1). */
static size_t zipf(size_t n)
{
    double u = (double)(pick(1u << 30) + 1) / (double)(1u << 30);
    size_t r = (size_t)(pow((double)n + 1, u)) - 1;
    return r < n ? r : n - 1;
}

/* A made-up word per rank: letters only, so it stays one token and unstemmed. */
static void word(size_t i, char *out)
{
    static const char cons[] = "bdfgklmnprstvz", vow[] = "aeiou";
    size_t n = 0;
    out[n++] = 'q';
    do {
        out[n++] = cons[i % 14];
        i /= 14;
        out[n++] = vow[i % 5];
        i /= 5;
    } while (i);
    out[n++] = 'x';
    out[n] = 0;
}

static char *doc_text(size_t nvocab)
{
    size_t n = 20 + pick(120), at = 0;
    char *t = malloc(n * 24 + 4);
    for (size_t i = 0; i < n; i++) {
        char w[24];
        word(zipf(nvocab), w);
        at += (size_t)sprintf(t + at, i == 0 ? "%s\n" : "%s ", w);
    }
    t[at] = 0;
    return t;
}

/* The reference's total and top hits, then counting alone. */
static void check(qr_searcher *s, ref_index *r, const char *q, unsigned flags, size_t k)
{
    uint64_t total = tq_check_ref(s, r, q, flags, k);
    cr_assert_eq(tq_count(s, q, flags), total, "count of %s", q);
}

/* n words from the top `band` ranks, distinct; negated ones (NOT) appended after. */
static void flat_query(char *q, size_t cap, bool is_or, size_t n, size_t nneg, size_t band)
{
    size_t at = 0, used[24];
    q[0] = 0;
    for (size_t i = 0; i < n + nneg; i++) {
        size_t w;
        bool dup;
        do {
            w = zipf(band);
            dup = false;
            for (size_t j = 0; j < i; j++)
                dup = dup || used[j] == w;
        } while (dup);
        used[i] = w;
        char buf[24];
        word(w, buf);
        const char *sep = i == 0 ? "" : i >= n ? " -" : is_or ? " OR " : " ";
        at += (size_t)snprintf(q + at, cap - at, "%s%s", sep, buf);
    }
}

Test(flat, window_passes_agree_with_the_reference, .timeout = 600)
{
    size_t nvocab = 400, ndocs = 1500;
    struct tdoc *docs = calloc(ndocs, sizeof *docs);
    char **texts = calloc(ndocs + 200, sizeof *texts);
    char(*paths)[16] = calloc(ndocs, sizeof *paths);
    for (size_t i = 0; i < ndocs; i++) {
        snprintf(paths[i], sizeof paths[i], "f/%04zu", (i * 613) % ndocs);
        texts[i] = doc_text(nvocab);
        docs[i].path = paths[i];
        docs[i].text = texts[i];
    }
    /* three segments, then 200 of the documents replaced: deletions in the old ones */
    qr_dir *dir = tq_index("none", docs, ndocs, ndocs / 3);
    struct tdoc more[200];
    for (size_t i = 0; i < 200; i++) {
        texts[ndocs + i] = doc_text(nvocab);
        more[i].path = paths[i * 7];
        more[i].text = texts[ndocs + i];
    }
    tq_add(dir, more, 200);
    qr_searcher *s = tq_open(dir);
    ref_index *r;
    cr_assert_eq(ref_load(&r, dir), 0);
    cr_assert_eq(ref_docs(r), ndocs);
    char q[1024];
    for (int pass = 0; pass < 2; pass++) {
        if (pass)
            qr_searcher_set_windows(s, 64, 128);
        for (size_t n = 1; n <= 12; n++) {
            for (int t = 0; t < 6; t++) {
                size_t band = t < 3 ? 12 + n : nvocab; /* dense overlaps, then sparse */
                size_t nneg = n > 1 ? (size_t)t % 3 : 0;
                flat_query(q, sizeof q, false, n, nneg, band);
                check(s, r, q, 0, 1 + pick(15));
                flat_query(q, sizeof q, true, n, 0, band);
                check(s, r, q, 0, 1 + pick(15));
            }
        }
        /* prefixes: the accumulator, alone and under AND */
        static const char *const prefixes[] = {"qb*", "qba*", "qk* qb*", "qz* OR qd*", "qb* -qba*"};
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
            check(s, r, prefixes[i], 0, 10);
    }
    ref_free(r);
    qr_searcher_close(s);
    qr_dir_close(dir);
    for (size_t i = 0; i < ndocs + 200; i++)
        free(texts[i]);
    free(texts);
    free(paths);
    free(docs);
}
