/*
 * Fault injection over whole indexing runs: the library side of the
 * promise in README "Reliability" that a failed run leaves the last commit.
 *
 * The index lives in a memory directory wrapped by the fault-injecting one
 * (storage/dir.h). Each run under test is repeated with the nth call of one
 * operation kind failing (create, write, sync, rename, remove, map), for
 * n = 0, 1, 2, ... until a run gets through without the fault firing, and
 * then with the nth allocation failing (qr_alloc_fail_after), likewise.
 * Every failure must be clean:
 *   - the run returns the injected code and a one-line message;
 *   - the index still opens at its last commit, with the same search
 *     results for a set of queries (through query/searcher.h);
 *   - no file of the failed run is left behind (once the next writer has
 *     opened, for the faults that hit the clean-up itself);
 *   - the same indexer, and then a new one, finishes the run afterwards
 *     with exactly the results of a run without faults;
 *   - nothing leaks (run under ASan: ./dev.sh sanitize).
 * A fault that hits only the clean-up after a durable commit (a removal, a
 * directory sync of garbage collection) may be tolerated: the run then
 * succeeds with the full results.
 *
 * The runs: in-memory documents (adds and replacements, flushes and merges
 * under a small RAM budget), a directory run (adds, replacements,
 * removals, a binary file), and merge_all over segments with deletions.
 * The sweep of writes also checks that ENOSPC struck both in the middle of
 * a segment file and in the middle of the manifest.
 *
 * Last, the file system changing under a run: files replaced by a FIFO or
 * a symlink, deleted, truncated or grown between the walk and the read.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/indexer.h"
#include "index/walk.h"
#include "query/parser.h"
#include "query/searcher.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"

/* ---- a small deterministic corpus, in two versions ---- */

#define NDOCS 48

static char paths[NDOCS][32];
static char texts[2][NDOCS][640]; /* version 0, and version 1 (a replacement) */

static const char *const vocab[] = {"grain",    "talks", "envoy", "cease-fire", "Kyiv",   "Crimea",
                                    "vote",     "poll",  "war",   "peace",      "truce",  "24-hour",
                                    "sanction", "NATO",  "ships", "Odesa",      "report", "market"};

static void make_corpus(void)
{
    unsigned seed = 12345;
    for (size_t i = 0; i < NDOCS; i++) {
        snprintf(paths[i], sizeof paths[i], "news/f%zu/%03zu.txt", i % 4, i);
        for (int v = 0; v < 2; v++) {
            char *t = texts[v][i];
            size_t cap = sizeof texts[v][i], at = 0;
            at += (size_t)snprintf(t + at, cap - at, "%s report %zu%s\n", vocab[i % 18], i,
                                   v ? " revised" : "");
            unsigned words = 30 + i % 40;
            for (unsigned w = 0; w < words && at + 16 < cap; w++) {
                seed = seed * 1103515245u + 12345u;
                at += (size_t)snprintf(t + at, cap - at, "%s%s", vocab[(seed >> 16) % 18],
                                       (seed >> 8) % 9 ? " " : "\n");
            }
        }
    }
}

static qr_mem_doc doc(size_t i, int version)
{
    qr_mem_doc d = {paths[i], texts[version][i], strlen(texts[version][i])};
    return d;
}

/* ---- what the index answers ---- */

static const char *const queries[] = {
    "grain",
    "talks OR envoy",
    "\"cease fire\"",
    "ceasefire",
    "kyi*",
    "vote NEAR/3 poll",
    "title:report",
    "-grain",
    "revised",
    "truce -war",
    "(ships OR odesa) market",
};

/*
 * The generation, the document count and, for each query, the total and
 * the ten best hits (path and score) of the last commit of d; asserts
 * that it opens. Caller frees.
 */
static char *results(qr_dir *d)
{
    qr_searcher *s;
    char err[256] = "";
    int rc = qr_searcher_open_dir(&s, d, 0, err, sizeof err);
    cr_assert_eq(rc, 0, "the index opens: %s", err);
    qr_buf b = {0};
    char line[512];
    snprintf(line, sizeof line, "generation %llu, %llu docs\n",
             (unsigned long long)qr_searcher_generation(s),
             (unsigned long long)qr_searcher_docs(s));
    qr_buf_put(&b, line, strlen(line));
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        qr_query q;
        cr_assert_eq(
            qr_query_parse(&q, NULL, qr_searcher_analyzer(s), queries[i], strlen(queries[i]), 0),
            0);
        qr_results r;
        cr_assert_eq(qr_searcher_run(s, &q, 10, 0, false, &r), 0, "%s", queries[i]);
        snprintf(line, sizeof line, "%s: %llu\n", queries[i], (unsigned long long)r.total);
        qr_buf_put(&b, line, strlen(line));
        for (size_t k = 0; k < r.n; k++) {
            qr_slice p = qr_searcher_path(s, &r.hits[k]);
            snprintf(line, sizeof line, "  %.*s %.6f\n", (int)p.n, (const char *)p.p,
                     r.hits[k].score);
            qr_buf_put(&b, line, strlen(line));
        }
        qr_results_free(&r);
        qr_query_free(&q);
    }
    qr_buf_put_u8(&b, 0);
    cr_assert_eq(b.err, 0);
    qr_searcher_close(s);
    return (char *)b.p;
}

/* Every file of d is the lock or named by the last manifest. */
static void assert_no_garbage(qr_dir *d, const char *ctx)
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
        cr_assert(ok, "%s: stray file %s", ctx, names[i]);
    }
    qr_dir_list_free(names, n);
    qr_manifest_free(&m);
}

/* ---- the runs under test ---- */

/*
 * The directory run's two states of a folder `news/` on disk: a/news, the
 * committed one, and b/news, the one the run mirrors (files 0..6 gone,
 * 6..12 the same files (hard links), 12..24 rewritten, 24..48 and a binary
 * file new).
 */
static char tree_root[64];
static char tree_a[96];
static char tree_b[96];

static void put_file(const char *root, size_t i, int version)
{
    char path[256];
    snprintf(path, sizeof path, "%s/f%zu", root, i % 4);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/f%zu/%03zu.txt", root, i % 4, i);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(texts[version][i], f);
    cr_assert_eq(fclose(f), 0);
}

static void trees_make(void)
{
    char path[256], from[256];
    strcpy(tree_root, "/tmp/quarry-faults-XXXXXX");
    cr_assert_not_null(mkdtemp(tree_root));
    snprintf(path, sizeof path, "%s/a", tree_root);
    cr_assert_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/b", tree_root);
    cr_assert_eq(mkdir(path, 0777), 0);
    snprintf(tree_a, sizeof tree_a, "%s/a/news", tree_root);
    snprintf(tree_b, sizeof tree_b, "%s/b/news", tree_root);
    cr_assert_eq(mkdir(tree_a, 0777), 0);
    cr_assert_eq(mkdir(tree_b, 0777), 0);
    for (size_t i = 0; i < 24; i++)
        put_file(tree_a, i, 0);
    for (size_t i = 6; i < NDOCS; i++) {
        if (i >= 12) {
            put_file(tree_b, i, i < 24 ? 1 : 0);
            continue;
        }
        snprintf(path, sizeof path, "%s/f%zu", tree_b, i % 4);
        mkdir(path, 0777);
        snprintf(path, sizeof path, "%s/f%zu/%03zu.txt", tree_b, i % 4, i);
        snprintf(from, sizeof from, "%s/f%zu/%03zu.txt", tree_a, i % 4, i);
        cr_assert_eq(link(from, path), 0, "%s", path);
    }
    snprintf(path, sizeof path, "%s/blob.bin", tree_b);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite("\x7f"
           "ELF\0\0\1",
           1, 7, f);
    cr_assert_eq(fclose(f), 0);
}

static void trees_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tree_root);
    cr_assert_eq(system(cmd), 0);
}

/*
 * A flush every 12 documents and a small factor: flushes and merges within
 * and at the end of a run (3 flushes and a merge in each run), whatever the
 * budget's arithmetic: with a tiny --ram instead, a change of the estimate's
 * factors changed the flush count several times over, and the length of
 * every sweep with it (each has a point per call, each point a whole run).
 */
static const qr_index_options opts = {.threads = 1, .flush_docs = 12, .merge_factor = 3};
/* No merges, for the merge_all scenario's several segments. */
static const qr_index_options no_merge = {.threads = 1, .merge_factor = 1000};

struct scenario {
    const char *name;
    const qr_index_options *opt;
    void (*setup)(qr_dir *d); /* the commits to fall back to */
    int (*run)(qr_indexer *ix, qr_index_result *r);
};

static void commit_docs(qr_dir *d, const qr_index_options *o, size_t lo, size_t hi, int version)
{
    qr_mem_doc docs[NDOCS];
    for (size_t i = lo; i < hi; i++)
        docs[i - lo] = doc(i, version);
    cr_assert_eq(qr_index_build_docs(d, o, docs, hi - lo), 0);
}

/* docs: 0..24 committed; the run replaces 12..24 and adds 24..48. */
static void docs_setup(qr_dir *d)
{
    commit_docs(d, &opts, 0, 24, 0);
}

static int docs_run(qr_indexer *ix, qr_index_result *r)
{
    qr_mem_doc docs[NDOCS];
    size_t n = 0;
    for (size_t i = 12; i < NDOCS; i++)
        docs[n++] = doc(i, i < 24 ? 1 : 0);
    return qr_indexer_add_docs(ix, docs, n, r);
}

/* dir: a/news committed; the run mirrors b/news. */
static void dir_setup(qr_dir *d)
{
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, &opts, NULL, 0), 0);
    qr_index_result r;
    const char *roots[] = {tree_a};
    cr_assert_eq(qr_indexer_run(ix, roots, 1, &r), 0, "%s", qr_indexer_error(ix));
    cr_assert_eq(r.added, 24);
    qr_index_result_free(&r);
    qr_indexer_close(ix);
}

static int dir_run(qr_indexer *ix, qr_index_result *r)
{
    const char *roots[] = {tree_b};
    int rc = qr_indexer_run(ix, roots, 1, r);
    if (!rc && r->committed) {
        cr_assert_eq(r->removed, 6);
        cr_assert_eq(r->replaced, 12);
        cr_assert_eq(r->added, 24);
        cr_assert_eq(r->skipped[QR_SKIP_BINARY], 1);
    }
    return rc;
}

/* merge_all: three segments, two of them with deletions. */
static void merge_setup(qr_dir *d)
{
    commit_docs(d, &no_merge, 0, 16, 0);
    commit_docs(d, &no_merge, 16, 32, 0);
    commit_docs(d, &no_merge, 8, 24, 1);
}

static int merge_run(qr_indexer *ix, qr_index_result *r)
{
    int rc = qr_indexer_merge_all(ix, r);
    if (!rc)
        cr_assert_eq(r->segments, 1);
    return rc;
}

static const struct scenario scenarios[] = {
    {"add_docs", &opts, docs_setup, docs_run},
    {"directory run", &opts, dir_setup, dir_run},
    {"merge_all", &no_merge, merge_setup, merge_run},
};

/* What a sweep saw, for the assertions that it reached what it aims at. */
struct tally {
    long failures;       /* runs that failed cleanly */
    long tolerated;      /* faults that fired after a durable commit */
    long enospc_segment; /* ENOSPC while writing a segment file */
    long enospc_manifest;
};

/* A memory directory holding a copy of every file of src but the lock. */
static qr_dir *copy_of(qr_dir *src)
{
    qr_dir *dst;
    cr_assert_eq(qr_dir_open_memory(&dst), 0);
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_list(src, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(names[i], QR_LOCK_FILE))
            continue;
        qr_mapping *m;
        qr_slice data;
        cr_assert_eq(qr_dir_map(src, names[i], &m, &data), 0);
        cr_assert_eq(qr_dir_write_file(dst, names[i], data.p, data.n), 0);
        qr_mapping_close(m);
    }
    qr_dir_list_free(names, n);
    return dst;
}

/* The starting point of a scenario's runs. */
static qr_dir *snapshot(const struct scenario *sc)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_memory(&d), 0);
    sc->setup(d);
    return d;
}

/* The results a run without faults gives, from the same starting point. */
static void reference(const struct scenario *sc, qr_dir *base, char **out_before, char **out_after)
{
    qr_dir *d = copy_of(base);
    *out_before = results(d);
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, sc->opt, NULL, 0), 0);
    qr_index_result r;
    cr_assert_eq(sc->run(ix, &r), 0, "%s: %s", sc->name, qr_indexer_error(ix));
    cr_assert(r.committed);
    if (sc->run != merge_run)
        cr_assert(r.flushes > 1 && r.merges > 0, "%s: several flushes and a merge", sc->name);
    qr_index_result_free(&r);
    qr_indexer_close(ix);
    *out_after = results(d);
    cr_assert(strcmp(*out_before, *out_after), "%s changes the index", sc->name);
    assert_no_garbage(d, sc->name);
    qr_dir_close(d);
}

static void check_results(qr_dir *d, const char *want, const char *what, const char *sc, long nth)
{
    char *got = results(d);
    cr_assert(!strcmp(got, want), "%s, %s, n=%ld:\n%s\nwanted\n%s", sc, what, nth, got, want);
    free(got);
}

/* After a failure: a retry on the same indexer, then on a new one, ends where a clean run does. */
static void retry(const struct scenario *sc, qr_dir *d, qr_indexer *ix, const char *after, long nth)
{
    qr_index_result r;
    int rc = sc->run(ix, &r);
    cr_assert_eq(rc, 0, "%s, n=%ld: the retry on the same indexer: %s", sc->name, nth,
                 qr_indexer_error(ix));
    cr_assert(r.committed);
    qr_index_result_free(&r);
    check_results(d, after, "after the retry", sc->name, nth);
    qr_indexer_close(ix);
    /* Nothing left to do for a new writer; it collects what the failure left. */
    cr_assert_eq(qr_indexer_open(&ix, d, sc->opt, NULL, 0), 0);
    rc = sc->run(ix, &r);
    cr_assert_eq(rc, 0, "%s", qr_indexer_error(ix));
    qr_index_result_free(&r);
    qr_indexer_close(ix);
    check_results(d, after, "after a second writer", sc->name, nth);
    assert_no_garbage(d, sc->name);
}

/* The failed run's error: its code, one line of context. */
static void check_error(qr_indexer *ix, int rc, int want, const char *sc, long nth)
{
    const char *msg = qr_indexer_error(ix);
    cr_assert_eq(rc, want, "%s, n=%ld: %s (%s)", sc, nth, qr_strerror(rc), msg);
    cr_assert(msg[0], "%s, n=%ld: a failure says what failed", sc, nth);
    cr_assert(!strchr(msg, '\n'), "%s: one line: %s", sc, msg);
    cr_assert(strstr(msg, qr_strerror(want)), "%s: the message names the cause: %s", sc, msg);
}

static void sweep_op(const struct scenario *sc, qr_fault_op op, int code, struct tally *t)
{
    char *before, *after;
    qr_dir *base = snapshot(sc);
    reference(sc, base, &before, &after);
    for (long nth = 0;; nth++) {
        qr_dir *mem = copy_of(base), *d;
        cr_assert_eq(qr_dir_open_faulty(&d, mem), 0);
        qr_indexer *ix;
        cr_assert_eq(qr_indexer_open(&ix, d, sc->opt, NULL, 0), 0);
        long calls = qr_dir_fault_calls(d, op);
        qr_dir_fault_arm(d, op, nth, code);
        qr_index_result r;
        int rc = sc->run(ix, &r);
        qr_dir_fault_arm(d, op, -1, 0);
        bool fired = qr_dir_fault_calls(d, op) - calls > nth;
        bool committed = r.committed;
        qr_index_result_free(&r);
        if (rc == 0) {
            cr_assert(committed, "%s", sc->name);
            qr_indexer_close(ix);
            check_results(d, after, "a run that got through", sc->name, nth);
            cr_assert_eq(qr_indexer_open(&ix, d, sc->opt, NULL, 0), 0);
            qr_indexer_close(ix);
            assert_no_garbage(d, sc->name);
            qr_dir_close(d);
            qr_dir_close(mem);
            if (!fired)
                break; /* n is past the run's last call of op */
            t->tolerated++;
            continue;
        }
        t->failures++;
        cr_assert(fired, "%s, op %d, n=%ld: a failure without a fault: %s", sc->name, (int)op, nth,
                  qr_indexer_error(ix));
        check_error(ix, rc, code, sc->name, nth);
        const char *msg = qr_indexer_error(ix);
        if (op == QR_FAULT_WRITE &&
            (strstr(msg, "cannot write segment") || strstr(msg, "cannot merge")))
            t->enospc_segment++;
        if (op == QR_FAULT_WRITE && strstr(msg, "cannot commit"))
            t->enospc_manifest++;
        check_results(d, before, "after a failed run", sc->name, nth);
        if (op != QR_FAULT_REMOVE)
            assert_no_garbage(d, sc->name); /* the run removed what it wrote */
        retry(sc, d, ix, after, nth);
        qr_dir_close(d);
        qr_dir_close(mem);
    }
    qr_dir_close(base);
    free(before);
    free(after);
}

static void sweep_alloc(const struct scenario *sc, struct tally *t)
{
    char *before, *after;
    qr_dir *base = snapshot(sc);
    reference(sc, base, &before, &after);
    for (long k = 0;; k++) {
        qr_dir *d = copy_of(base);
        qr_indexer *ix;
        cr_assert_eq(qr_indexer_open(&ix, d, sc->opt, NULL, 0), 0);
        qr_index_result r;
        qr_alloc_fail_after(k);
        int rc = sc->run(ix, &r);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        bool committed = r.committed;
        qr_index_result_free(&r);
        if (rc == 0) {
            /* No failure, or one in the clean-up after the commit. */
            cr_assert(committed);
            qr_indexer_close(ix);
            check_results(d, after, "a run that got through", sc->name, k);
            cr_assert_eq(qr_indexer_open(&ix, d, sc->opt, NULL, 0), 0);
            qr_indexer_close(ix);
            assert_no_garbage(d, sc->name);
            qr_dir_close(d);
            if (!failed)
                break;
            t->tolerated++;
            continue;
        }
        t->failures++;
        cr_assert_gt(failed, 0, "%s, k=%ld: a failure without a fault", sc->name, k);
        check_error(ix, rc, QR_ENOMEM, sc->name, k);
        check_results(d, before, "after a failed run", sc->name, k);
        assert_no_garbage(d, sc->name);
        retry(sc, d, ix, after, k);
        qr_dir_close(d);
    }
    qr_dir_close(base);
    free(before);
    free(after);
}

static void init(void)
{
    make_corpus();
    trees_make();
}

static void fini(void)
{
    trees_remove();
}

TestSuite(faults, .init = init, .fini = fini, .timeout = 600);

static void sweep_all_ops(const struct scenario *sc)
{
    static const struct {
        qr_fault_op op;
        int code;
    } kinds[] = {
        {QR_FAULT_CREATE, QR_EIO},     {QR_FAULT_WRITE, QR_ENOSPC}, {QR_FAULT_SYNC, QR_EIO},
        {QR_FAULT_RENAME, QR_EIO},     {QR_FAULT_REMOVE, QR_EIO},   {QR_FAULT_MAP, QR_EIO},
        {QR_FAULT_SYNC_START, QR_EIO},
    };
    struct tally all = {0};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        struct tally t = {0};
        sweep_op(sc, kinds[i].op, kinds[i].code, &t);
        all.failures += t.failures;
        all.tolerated += t.tolerated;
        all.enospc_segment += t.enospc_segment;
        all.enospc_manifest += t.enospc_manifest;
        /* Removals only clean up; every other kind can fail a run. */
        if (kinds[i].op != QR_FAULT_REMOVE)
            cr_assert_gt(t.failures, 0, "%s: op %d never failed the run", sc->name,
                         (int)kinds[i].op);
    }
    cr_assert_gt(all.enospc_manifest, 0, "%s: ENOSPC struck in the manifest", sc->name);
    cr_assert_gt(all.enospc_segment, 0, "%s: ENOSPC struck in a segment", sc->name);
}

Test(faults, every_io_call_of_an_add_docs_run)
{
    sweep_all_ops(&scenarios[0]);
}

Test(faults, every_io_call_of_a_directory_run)
{
    sweep_all_ops(&scenarios[1]);
}

Test(faults, every_io_call_of_merge_all)
{
    sweep_all_ops(&scenarios[2]);
}

Test(faults, every_allocation_of_an_add_docs_run)
{
    struct tally t = {0};
    sweep_alloc(&scenarios[0], &t);
    cr_assert_gt(t.failures, 50);
}

Test(faults, every_allocation_of_a_directory_run)
{
    struct tally t = {0};
    sweep_alloc(&scenarios[1], &t);
    cr_assert_gt(t.failures, 50);
}

Test(faults, every_allocation_of_merge_all)
{
    struct tally t = {0};
    sweep_alloc(&scenarios[2], &t);
    cr_assert_gt(t.failures, 20);
}

/* ---- files that change between the walk and the read ---- */

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/*
 * The walk only stats; a worker opens the file later. Whatever happened in
 * between, the read returns at once with the file's content or a reason to
 * skip it. (Regression test: a file replaced by a FIFO blocked the run in
 * open() for ever.)
 */
Test(faults, files_changed_between_the_walk_and_the_read, .timeout = 120)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/race", tree_root);
    cr_assert_eq(mkdir(dir, 0777), 0);
    const char *names[] = {"fifo.txt", "gone.txt", "link.txt", "longer.txt", "shorter.txt"};
    for (size_t i = 0; i < 5; i++)
        write_text(dir, names[i], "A title\nsome words in the body\n");
    qr_walk w;
    const char *roots[] = {dir};
    cr_assert_eq(qr_walk_run(&w, roots, 1, 1 << 20, 0, 0, NULL), 0);
    cr_assert_eq(w.nfiles, 5);

    char path[256];
    snprintf(path, sizeof path, "%s/fifo.txt", dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkfifo(path, 0644), 0);
    snprintf(path, sizeof path, "%s/gone.txt", dir);
    cr_assert_eq(unlink(path), 0);
    snprintf(path, sizeof path, "%s/link.txt", dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(symlink("longer.txt", path), 0);
    write_text(dir, "longer.txt", "A title\nsome words in the body, and more words\n");
    write_text(dir, "shorter.txt", "Short\n");

    const int want[] = {QR_SKIP_CHANGED, QR_SKIP_VANISHED, QR_SKIP_CHANGED, -1, -1};
    const char *text[] = {NULL, NULL, NULL, "A title\nsome words in the body, and more words\n",
                          "Short\n"};
    qr_buf fs = {0}, content = {0};
    for (size_t i = 0; i < w.nfiles; i++) {
        cr_assert_eq(qr_walk_fs_path(&fs, &w, &w.files[i]), 0);
        uint64_t size = 0;
        int64_t mtime = 0;
        int skip;
        cr_assert_eq(qr_walk_read_file(&content, &size, &mtime, &skip, (const char *)fs.p, 1 << 20),
                     0);
        cr_assert_eq(skip, want[i], "%s: skip %d, want %d", w.files[i].path, skip, want[i]);
        if (skip < 0) {
            cr_assert_eq(size, strlen(text[i]));
            cr_assert(content.n == size && !memcmp(content.p, text[i], size), "%s",
                      w.files[i].path);
        }
    }
    qr_buf_free(&fs);
    qr_buf_free(&content);
    qr_walk_free(&w);

    /* A whole run over the directory as it is now: the FIFO and the symlink are named. */
    qr_dir *d;
    cr_assert_eq(qr_dir_open_memory(&d), 0);
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, NULL, 0), 0);
    qr_index_result r;
    cr_assert_eq(qr_indexer_run(ix, roots, 1, &r), 0, "%s", qr_indexer_error(ix));
    cr_assert_eq(r.added, 2);
    cr_assert_eq(r.skipped[QR_SKIP_NOT_REGULAR], 2);
    qr_index_result_free(&r);
    qr_indexer_close(ix);
    qr_dir_close(d);
}

/*
 * A first run killed before its commit leaves segment files and maybe a
 * temporary manifest, and no manifest. The next writer removes them and
 * indexes. (Regression test: it failed to create its segment 1, which
 * existed, with an I/O error, for ever.)
 */
Test(faults, leftovers_of_a_first_run_that_never_committed)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_memory(&d), 0);
    cr_assert_eq(qr_dir_write_file(d, "seg-0000000000000001.doc", "half", 4), 0);
    cr_assert_eq(qr_dir_write_file(d, "seg-0000000000000001.tdi", "", 0), 0);
    cr_assert_eq(qr_dir_write_file(d, "seg-0000000000000002.pos", "x", 1), 0);
    cr_assert_eq(qr_dir_write_file(d, "MANIFEST-0000000000000001.tmp", "torn", 4), 0);
    commit_docs(d, &opts, 0, 10, 0);
    assert_no_garbage(d, "first run");
    char *got = results(d);
    cr_assert(strstr(got, "generation 1, 10 docs"), "%s", got);
    free(got);
    /* Files quarry does not make still keep a directory from being taken for an index. */
    qr_dir *e;
    cr_assert_eq(qr_dir_open_memory(&e), 0);
    cr_assert_eq(qr_dir_write_file(e, "seg-0000000000000001.doc", "half", 4), 0);
    cr_assert_eq(qr_dir_write_file(e, "notes.txt", "mine", 4), 0);
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, e, NULL, NULL, 0), QR_ECORRUPT);
    cr_assert(qr_dir_exists(e, "seg-0000000000000001.doc"), "nothing removed from a non-index");
    qr_dir_close(e);
    qr_dir_close(d);
}

/*
 * Documents whose stored text is more than QR_SEG_FLUSH_BYTES compressed:
 * the .sto goes out while documents are still being added (before any
 * flush, under the default budget). A create, write or sync failing at
 * each call of such a run, the mid-stream ones included, leaves the last
 * commit and no file behind; the first create and write are the .sto's,
 * while the documents are added.
 */
Test(faults, a_failed_write_while_stored_text_streams_out, .timeout = 120)
{
    enum { N = 48, LEN = 64 << 10 };
    static char names[N][32];
    char *texts[N];
    qr_mem_doc docs[N];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(LEN);
        cr_assert_not_null(texts[i]);
        /* random punctuation (zstd leaves 60 % of it, the analyzer skips it fast), a word
         * now and then */
        static const char punct[] = "!#$%&()*+,-./:;<=>?@[]^_{|}~ ";
        for (int k = 0; k < LEN; k++) {
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            uint64_t r = x * 0x2545F4914F6CDD1Dull;
            texts[i][k] = r % 97 == 0 ? 'w' : punct[(r >> 8) % (sizeof punct - 1)];
        }
        texts[i][0] = 'T';
        texts[i][40] = '\n';
        snprintf(names[i], sizeof names[i], "big/%03d.txt", i);
        docs[i] = (qr_mem_doc){names[i], texts[i], LEN};
    }
    const qr_index_options o = {.threads = 1};
    static const qr_fault_op ops[] = {QR_FAULT_CREATE, QR_FAULT_WRITE, QR_FAULT_SYNC};
    for (size_t f = 0; f < sizeof ops / sizeof *ops; f++) {
        for (long nth = 0;; nth++) {
            qr_dir *mem, *faulty;
            cr_assert_eq(qr_dir_open_memory(&mem), 0);
            commit_docs(mem, &o, 0, 6, 0);
            char *before = results(mem);
            cr_assert_eq(qr_dir_open_faulty(&faulty, mem), 0);
            qr_indexer *ix;
            cr_assert_eq(qr_indexer_open(&ix, faulty, &o, NULL, 0), 0);
            qr_dir_fault_arm(faulty, ops[f], nth, nth % 2 ? QR_EIO : QR_ENOSPC);
            qr_index_result r;
            int rc = qr_indexer_add_docs(ix, docs, N, &r);
            bool fired = qr_dir_fault_calls(faulty, ops[f]) > nth;
            if (fired && nth == 0 && ops[f] != QR_FAULT_SYNC)
                cr_assert(strstr(qr_indexer_error(ix), "cannot index"),
                          "op %zu: the .sto failed while documents were added: %s", f,
                          qr_indexer_error(ix));
            qr_index_result_free(&r);
            qr_indexer_close(ix);
            qr_dir_close(faulty);
            if (!fired) {
                cr_assert_eq(rc, 0, "op %zu: no fault, no error", f);
                qr_dir_close(mem);
                free(before);
                cr_assert_gt(nth, 2, "op %zu: several calls", f);
                break;
            }
            if (rc == 0) {
                /* only the clean-up after the commit failed */
                qr_dir_close(mem);
                free(before);
                continue;
            }
            cr_assert(rc == QR_EIO || rc == QR_ENOSPC, "op %zu call %ld: %d", f, nth, rc);
            /* the next writer collects what the failed run left; the commit answers as before */
            qr_indexer *again;
            cr_assert_eq(qr_indexer_open(&again, mem, &o, NULL, 0), 0);
            qr_indexer_close(again);
            assert_no_garbage(mem, "after a failed streaming run");
            char *after = results(mem);
            cr_assert_str_eq(after, before, "op %zu call %ld", f, nth);
            free(after);
            free(before);
            qr_dir_close(mem);
        }
    }
    for (int i = 0; i < N; i++)
        free(texts[i]);
}
