/*
 * Readers and one writer at the same time, on a real directory (the POSIX
 * directory layer, mmap and unlink): the library side of README
 * "Reliability", promise 4.
 *
 *   - Readers that open the index over and over while a writer commits
 *     generation after generation (adds, replacements, merges, garbage
 *     collection) always open a complete commit: the document count and
 *     every query's total are those of the generation they report, never
 *     an error. The same for the statistics (quarry stats). (Regression
 *     test: both used to report a segment file that the writer had just
 *     collected as "missing", i.e. a corrupt index.)
 *   - A searcher that pinned an old generation keeps answering exactly as
 *     before while the writer merges everything and collects the old
 *     segment files (they are unlinked; its mappings stay valid).
 *   - A second writer is refused while the first holds the lock, and
 *     garbage collection removes only files no manifest names.
 *
 * tests/reliability/concurrency_test.sh checks the same through the
 * `quarry` binary.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/check.h"
#include "index/indexer.h"
#include "index/stats.h"
#include "query/parser.h"
#include "query/searcher.h"
#include "storage/dir.h"
#include "storage/manifest.h"
#include "storage/status.h"

#define BATCH   40 /* documents a commit adds */
#define COMMITS 24 /* commits the writer makes */

static char root[64];
static char idx[96];

static void setup(void)
{
    strcpy(root, "/tmp/quarry-conc-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(idx, sizeof idx, "%s/idx", root);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(concurrency, .init = setup, .fini = teardown, .timeout = 300);

/*
 * Commit g (1-based) adds documents g/000 .. g/039, each holding "common"
 * and "batch<g>", and replaces the first document of commit g - 1 with
 * one holding "common" and "replaced". After commit g: 40 g documents,
 * "common" in all of them, "replaced" in g - 1 of them, "batch1" in 40
 * (39 after commit 2 replaced one).
 */
static void make_batch(uint64_t g, qr_mem_doc *docs, char (*paths)[32], char (*texts)[128],
                       size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < BATCH; i++) {
        snprintf(paths[*n], 32, "c/%03llu/%03zu", (unsigned long long)g, i);
        snprintf(texts[*n], 128, "Title %zu\ncommon batch%llu words %zu\n", i,
                 (unsigned long long)g, i);
        (*n)++;
    }
    if (g > 1) {
        snprintf(paths[*n], 32, "c/%03llu/000", (unsigned long long)(g - 1));
        snprintf(texts[*n], 128, "Replaced\ncommon replaced\n");
        (*n)++;
    }
    for (size_t i = 0; i < *n; i++) {
        docs[i].path = paths[i];
        docs[i].text = texts[i];
        docs[i].len = strlen(texts[i]);
    }
}

static uint64_t count(qr_searcher *s, const char *q)
{
    qr_query query;
    cr_assert_eq(qr_query_parse(&query, NULL, qr_searcher_analyzer(s), q, strlen(q), 0), 0);
    qr_results r;
    int rc = qr_searcher_run(s, &query, 3, 0, false, &r);
    cr_assert_eq(rc, 0, "%s: %s", q, qr_searcher_errmsg(s));
    uint64_t total = r.total;
    qr_results_free(&r);
    qr_query_free(&query);
    return total;
}

struct shared {
    atomic_int done;     /* the writer finished */
    atomic_long opens;   /* searchers opened by the readers */
    atomic_long max_gen; /* newest generation a reader saw */
    char failure[512];   /* the first failure a reader met ("" if none) */
    pthread_mutex_t mu;
};

static void fail(struct shared *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct shared *sh, const char *fmt, ...)
{
    pthread_mutex_lock(&sh->mu);
    if (!sh->failure[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->failure, sizeof sh->failure, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&sh->mu);
}

/* The first error-level problem a concurrent check reports (warnings are expected). */
static void on_problem(void *ctx, const qr_check_problem *p)
{
    struct shared *sh = ctx;
    if (!p->warning)
        fail(sh, "check: %s at %lld: %s", p->file, (long long)p->offset, p->message);
}

/* Criterion's assertions are not for other threads: a reader records its first failure. */
static void *reader(void *arg)
{
    struct shared *sh = arg;
    while (!atomic_load(&sh->done) && !sh->failure[0]) {
        qr_searcher *s;
        char err[512] = "";
        int rc = qr_searcher_open(&s, idx, err, sizeof err);
        if (rc == QR_ENOTFOUND && strstr(err, "no index"))
            continue; /* before the first commit */
        if (rc) {
            fail(sh, "open: %s: %s", qr_strerror(rc), err);
            break;
        }
        atomic_fetch_add(&sh->opens, 1);
        uint64_t g = qr_searcher_generation(s);
        if ((long)g > atomic_load(&sh->max_gen))
            atomic_store(&sh->max_gen, (long)g);
        const char *qs[] = {"common", "replaced", "batch1"};
        uint64_t want[] = {BATCH * g, g - 1, g >= 2 ? BATCH - 1 : BATCH};
        if (qr_searcher_docs(s) != BATCH * g)
            fail(sh, "generation %llu: %llu docs", (unsigned long long)g,
                 (unsigned long long)qr_searcher_docs(s));
        for (int k = 0; k < 3; k++) {
            qr_query q;
            qr_results r;
            if (qr_query_parse(&q, NULL, qr_searcher_analyzer(s), qs[k], strlen(qs[k]), 0)) {
                fail(sh, "parse %s", qs[k]);
                continue;
            }
            rc = qr_searcher_run(s, &q, 5, 0, false, &r);
            if (rc)
                fail(sh, "generation %llu, %s: %s", (unsigned long long)g, qs[k],
                     qr_searcher_errmsg(s));
            else if (r.total != want[k])
                fail(sh, "generation %llu, %s: %llu hits, want %llu", (unsigned long long)g, qs[k],
                     (unsigned long long)r.total, (unsigned long long)want[k]);
            if (!rc)
                qr_results_free(&r);
            qr_query_free(&q);
        }
        qr_searcher_close(s);
        /* quarry stats reads a generation whole too. */
        qr_dir *d;
        qr_index_stats st;
        if ((rc = qr_dir_open_posix(&d, idx, false))) {
            fail(sh, "open the directory: %s", qr_strerror(rc));
            break;
        }
        rc = qr_index_stats_read(&st, d);
        if (rc)
            fail(sh, "stats: %s", qr_strerror(rc));
        else if (st.docs != BATCH * st.generation)
            fail(sh, "stats of generation %llu: %llu docs", (unsigned long long)st.generation,
                 (unsigned long long)st.docs);
        /* and so does quarry check, which must not call collected files damage */
        qr_check_stats cs;
        rc = qr_check(d, on_problem, sh, &cs);
        if (rc && rc != QR_ENOTFOUND)
            fail(sh, "check of generation %llu: %s", (unsigned long long)cs.generation,
                 qr_strerror(rc));
        qr_dir_close(d);
    }
    return NULL;
}

/* Every file of the index directory is the lock or named by the newest manifest. */
static void assert_only_live_files(qr_dir *d)
{
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_list(d, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        bool ok = !strcmp(names[i], QR_LOCK_FILE);
        qr_manifest_file_name(want, m.generation);
        ok = ok || !strcmp(names[i], want);
        for (uint32_t s = 0; s < m.nsegs && !ok; s++) {
            for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
                qr_seg_file_name(want, m.segs[s].id, (qr_seg_file)k);
                ok = ok || !strcmp(names[i], want);
            }
            if (m.segs[s].del_gen) {
                qr_deletes_file_name(want, m.segs[s].id, m.segs[s].del_gen);
                ok = ok || !strcmp(names[i], want);
            }
        }
        cr_assert(ok, "stray file %s", names[i]);
    }
    qr_dir_list_free(names, n);
    qr_manifest_free(&m);
}

Test(concurrency, readers_always_open_a_complete_commit)
{
    struct shared sh = {0};
    pthread_mutex_init(&sh.mu, NULL);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, reader, &sh), 0);
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, idx, true), 0);
    /* A small merge factor: most commits merge, and collect the merged segments. */
    qr_index_options o = {.threads = 1, .merge_factor = 2};
    static qr_mem_doc docs[BATCH + 1];
    static char paths[BATCH + 1][32], texts[BATCH + 1][128];
    for (uint64_t g = 1; g <= COMMITS && !sh.failure[0]; g++) {
        qr_indexer *ix;
        char err[256];
        cr_assert_eq(qr_indexer_open(&ix, d, &o, err, sizeof err), 0, "%s", err);
        size_t n;
        make_batch(g, docs, paths, texts, &n);
        qr_index_result r;
        cr_assert_eq(qr_indexer_add_docs(ix, docs, n, &r), 0, "%s", qr_indexer_error(ix));
        cr_assert_eq(r.generation, g);
        qr_index_result_free(&r);
        qr_indexer_close(ix);
        assert_only_live_files(d);
        /* Let the readers open this generation at least once now and then. */
        while (g % 4 == 0 && atomic_load(&sh.max_gen) < (long)g && !sh.failure[0])
            usleep(1000);
    }
    atomic_store(&sh.done, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert(!sh.failure[0], "a reader: %s", sh.failure);
    cr_assert_gt(atomic_load(&sh.opens), 0);
    qr_dir_close(d);
    pthread_mutex_destroy(&sh.mu);
}

Test(concurrency, a_pinned_reader_survives_merges_and_collection)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, idx, true), 0);
    qr_index_options o = {.threads = 1, .merge_factor = 1000}; /* no merges until asked */
    static qr_mem_doc docs[BATCH + 1];
    static char paths[BATCH + 1][32], texts[BATCH + 1][128];
    for (uint64_t g = 1; g <= 3; g++) {
        size_t n;
        make_batch(g, docs, paths, texts, &n);
        cr_assert_eq(qr_index_build_docs(d, &o, docs, n), 0);
    }
    char **old_names;
    size_t nold;
    cr_assert_eq(qr_dir_list(d, &old_names, &nold), 0);

    qr_searcher *s;
    char err[256];
    cr_assert_eq(qr_searcher_open(&s, idx, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qr_searcher_generation(s), 3);
    uint64_t common = count(s, "common"), replaced = count(s, "replaced");
    cr_assert_eq(common, 3 * BATCH);
    cr_assert_eq(replaced, 2);

    /* The writer replaces documents, merges everything into one segment and collects. */
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, &o, err, sizeof err), 0, "%s", err);
    size_t n;
    make_batch(4, docs, paths, texts, &n);
    qr_index_result r;
    cr_assert_eq(qr_indexer_add_docs(ix, docs, n, &r), 0);
    qr_index_result_free(&r);
    cr_assert_eq(qr_indexer_merge_all(ix, &r), 0, "%s", qr_indexer_error(ix));
    cr_assert_eq(r.segments, 1);
    qr_index_result_free(&r);

    /* A second writer is refused meanwhile, naming this process. */
    qr_dir *d2;
    cr_assert_eq(qr_dir_open_posix(&d2, idx, false), 0);
    qr_indexer *ix2 = NULL;
    cr_assert_eq(qr_indexer_open(&ix2, d2, NULL, err, sizeof err), QR_ELOCKED);
    cr_assert_null(ix2);
    char want[64];
    snprintf(want, sizeof want, "pid %ld", (long)getpid());
    cr_assert(strstr(err, want), "%s", err);
    qr_dir_close(d2);
    qr_indexer_close(ix);

    /* Every file the pinned reader uses is gone from the directory... */
    assert_only_live_files(d);
    size_t gone = 0;
    for (size_t i = 0; i < nold; i++)
        gone += strcmp(old_names[i], QR_LOCK_FILE) && !qr_dir_exists(d, old_names[i]);
    cr_assert_eq(gone, nold - 1, "every old file was collected");
    qr_dir_list_free(old_names, nold);

    /* ...and it still answers from generation 3, documents and all. */
    cr_assert_eq(qr_searcher_generation(s), 3);
    cr_assert_eq(count(s, "common"), common);
    cr_assert_eq(count(s, "replaced"), replaced);
    cr_assert_eq(count(s, "batch4"), 0);
    qr_query q;
    cr_assert_eq(qr_query_parse(&q, NULL, qr_searcher_analyzer(s), "batch3", 6, 0), 0);
    qr_results res;
    cr_assert_eq(qr_searcher_run(s, &q, 100, 0, false, &res), 0);
    cr_assert_eq(res.n, BATCH);
    for (size_t i = 0; i < res.n; i++) {
        qr_slice title, body;
        cr_assert_eq(qr_searcher_fetch(s, &res.hits[i], &title, &body), 0);
        cr_assert(body.n > 0 && memmem(body.p, body.n, "batch3", 6), "stored text readable");
    }
    qr_results_free(&res);
    qr_query_free(&q);
    qr_searcher_close(s);

    /* A new reader sees generation 5. */
    cr_assert_eq(qr_searcher_open(&s, idx, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qr_searcher_generation(s), 5);
    cr_assert_eq(count(s, "common"), 4 * BATCH);
    cr_assert_eq(count(s, "replaced"), 3);
    qr_searcher_close(s);
    qr_dir_close(d);
}
