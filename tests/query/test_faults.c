/*
 * Failure paths of search: every allocation of opening an index, parsing,
 * running every kind of query and making snippets is made to fail in turn
 * (the answer is then QR_ENOMEM, cleanly, or the right result); and segments
 * with damaged bytes, opened without checksum verification, only ever give
 * results or QR_ECORRUPT (never a crash, never a read out of bounds: run it
 * under ASan).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/searcher.h"
#include "query/snippet.h"
#include "storage/alloc.h"
#include "storage/status.h"
#include "tq.h"

/* Queries reaching every iterator kind and rank.c path. */
static const char *const queries[] = {
    "alpha",
    "alpha beta",
    "alpha OR gamma",
    "alpha -beta",
    "\"alpha beta\"",
    "alpha NEAR/3 gamma",
    "(alpha OR beta) NEAR/5 \"gamma delta\"",
    "al*",
    "title:alpha",
    "title:al* OR body:gam*",
    "-alpha",
    "NOT NOT beta",
    "(alpha beta) OR (gamma -delta)",
    "cease-fire",
};

/* A corpus with several full postings blocks per frequent term. */
static qr_dir *corpus(size_t ndocs, size_t batch)
{
    static const char *const words[] = {"alpha", "beta", "gamma", "delta",      "epsilon",
                                        "zeta",  "eta",  "theta", "cease-fire", "iota"};
    struct tdoc *docs = calloc(ndocs, sizeof *docs);
    char **texts = calloc(ndocs, sizeof *texts), **paths = calloc(ndocs, sizeof *paths);
    unsigned seed = 7;
    for (size_t i = 0; i < ndocs; i++) {
        char buf[2048];
        size_t at = 0;
        for (int w = 0; w < 40; w++) {
            seed = seed * 1103515245 + 12345;
            const char *x = words[(seed >> 16) % (w < 4 ? 4 : 10)];
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", x, w == 3 ? "\n" : " ");
        }
        char p[32];
        snprintf(p, sizeof p, "f/%04zu", i);
        paths[i] = strdup(p);
        texts[i] = strdup(buf);
        docs[i].path = paths[i];
        docs[i].text = texts[i];
    }
    qr_dir *dir = tq_index("english", docs, ndocs, batch);
    for (size_t i = 0; i < ndocs; i++) {
        free(paths[i]);
        free(texts[i]);
    }
    free(paths);
    free(texts);
    free(docs);
    return dir;
}

/* Parses, runs and snippets q; returns the first failure (or 0). */
static int full_search(qr_searcher *s, const char *q, uint64_t *total)
{
    qr_query query;
    int rc = qr_query_parse(&query, NULL, qr_searcher_analyzer(s), q, strlen(q), 0);
    if (rc)
        return rc;
    qr_results r;
    rc = qr_searcher_run(s, &query, 5, 0, false, &r);
    if (!rc) {
        *total = r.total;
        qr_snip_terms *t = NULL;
        rc = qr_snip_terms_make(&t, &query);
        for (size_t i = 0; !rc && i < r.n; i++) {
            qr_slice title, body;
            qr_buf b = {0};
            rc = qr_searcher_fetch(s, &r.hits[i], &title, &body);
            if (!rc)
                rc = qr_snippet(&b, qr_searcher_analyzer(s), t, (const char *)title.p, title.n,
                                (const char *)body.p, body.n, "[", "]");
            qr_buf_free(&b);
        }
        qr_snip_terms_free(t);
        qr_results_free(&r);
    }
    qr_query_free(&query);
    return rc;
}

Test(faults, every_allocation_of_a_search_may_fail)
{
    qr_dir *dir = corpus(300, 150);
    /* opening */
    int failures = 0;
    for (long n = 0;; n++) {
        qr_searcher *s;
        qr_alloc_fail_after(n);
        int rc = qr_searcher_open_dir(&s, dir, 0, NULL, 0);
        qr_alloc_fail_after(-1);
        if (rc == 0) {
            qr_searcher_close(s);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM, "open, allocation %ld: %s", n, qr_strerror(rc));
        failures++;
    }
    cr_assert_gt(failures, 3);
    /* each query: the same answer once memory suffices, QR_ENOMEM before */
    qr_searcher *s = tq_open(dir);
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        uint64_t want = 0, got = 0;
        cr_assert_eq(full_search(s, queries[i], &want), 0, "%s", queries[i]);
        for (long n = 0;; n++) {
            qr_alloc_fail_after(n);
            int rc = full_search(s, queries[i], &got);
            long failed = qr_alloc_failures();
            qr_alloc_fail_after(-1);
            if (rc == 0 && failed == 0) {
                cr_assert_eq(got, want, "%s", queries[i]);
                break;
            }
            cr_assert(rc == QR_ENOMEM || (rc == 0 && got == want), "%s, allocation %ld: %s",
                      queries[i], n, qr_strerror(rc));
        }
    }
    qr_searcher_close(s);
    qr_dir_close(dir);
}

/*
 * A searcher's first query also allocates what it keeps for later ones (the
 * per-segment normalisations by doc): a failure there is QR_ENOMEM, and the
 * searcher still answers right afterwards.
 */
Test(faults, first_search_of_a_searcher_may_fail)
{
    qr_dir *dir = corpus(300, 150);
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        qr_searcher *s = tq_open(dir);
        uint64_t want = 0, got = 0;
        cr_assert_eq(full_search(s, queries[i], &want), 0, "%s", queries[i]);
        qr_searcher_close(s);
        int failures = 0;
        for (long n = 0;; n++) {
            s = tq_open(dir);
            qr_alloc_fail_after(n);
            int rc = full_search(s, queries[i], &got);
            long failed = qr_alloc_failures();
            qr_alloc_fail_after(-1);
            if (rc == 0 && failed == 0) {
                cr_assert_eq(got, want, "%s", queries[i]);
                qr_searcher_close(s);
                break;
            }
            cr_assert(rc == QR_ENOMEM || (rc == 0 && got == want), "%s, allocation %ld: %s",
                      queries[i], n, qr_strerror(rc));
            failures += rc == QR_ENOMEM;
            got = 0;
            cr_assert_eq(full_search(s, queries[i], &got), 0, "%s after a failure", queries[i]);
            cr_assert_eq(got, want, "%s after a failure", queries[i]);
            qr_searcher_close(s);
        }
        cr_assert_gt(failures, 0, "%s", queries[i]);
    }
    qr_dir_close(dir);
}

Test(faults, damaged_segments_give_results_or_corrupt, .timeout = 300)
{
    qr_dir *dir = corpus(400, 0);
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_list(dir, &names, &n), 0);
    unsigned seed = 99;
    int opened = 0, corrupt = 0;
    for (size_t f = 0; f < n; f++) {
        if (strncmp(names[f], "seg-", 4) || strstr(names[f], ".del"))
            continue;
        qr_mapping *m;
        qr_slice data;
        cr_assert_eq(qr_dir_map(dir, names[f], &m, &data), 0);
        size_t size = data.n;
        qr_mapping_close(m);
        for (int trial = 0; trial < 60; trial++) {
            seed = seed * 1103515245 + 12345;
            size_t at = 8 + (seed >> 8) % (size > 28 ? size - 28 : 1); /* inside the body */
            qr_dir *bad = tq_copy_patched(dir, names[f], at, (uint8_t)(1u << (seed % 8)));
            qr_searcher *s;
            int rc = qr_searcher_open_dir(&s, bad, QR_SEARCHER_NO_VERIFY, NULL, 0);
            if (rc) {
                cr_assert(rc == QR_ECORRUPT || rc == QR_EVERSION, "%s@%zu: %s", names[f], at,
                          qr_strerror(rc));
                corrupt++;
            } else {
                opened++;
                for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
                    uint64_t total;
                    rc = full_search(s, queries[i], &total);
                    cr_assert(rc == 0 || rc == QR_ECORRUPT, "%s@%zu, %s: %s", names[f], at,
                              queries[i], qr_strerror(rc));
                    corrupt += rc == QR_ECORRUPT;
                }
                qr_searcher_close(s);
            }
            qr_dir_close(bad);
        }
        /* and with verification, damage is found at once */
        qr_dir *bad = tq_copy_patched(dir, names[f], size / 2, 0x40);
        qr_searcher *s;
        char err[256] = "";
        cr_assert_eq(qr_searcher_open_dir(&s, bad, 0, err, sizeof err), QR_ECORRUPT, "%s",
                     names[f]);
        cr_assert(strstr(err, names[f]), "%s: %s", names[f], err);
        qr_dir_close(bad);
    }
    cr_assert_gt(opened, 0);
    cr_assert_gt(corrupt, 0);
    qr_dir_list_free(names, n);
    qr_dir_close(dir);
}
