/*
 * Test helpers for the query tests (see tq.h).
 */
#include "tq.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/indexer.h"
#include "query/parser.h"
#include "storage/status.h"

static void commit_docs(qr_dir *dir, const char *lang, const struct tdoc *docs, size_t n)
{
    qr_index_options opt;
    memset(&opt, 0, sizeof opt);
    opt.language = lang;
    opt.threads = 1;
    opt.merge_factor = 1000000; /* keep every commit its own segment */
    qr_indexer *ix;
    char err[256] = "";
    int rc = qr_indexer_open(&ix, dir, &opt, err, sizeof err);
    cr_assert_eq(rc, 0, "indexer open: %s (%s)", qr_strerror(rc), err);
    qr_mem_doc *md = calloc(n ? n : 1, sizeof *md);
    for (size_t i = 0; i < n; i++) {
        md[i].path = docs[i].path;
        md[i].text = docs[i].text;
        md[i].len = strlen(docs[i].text);
    }
    qr_index_result res;
    rc = qr_indexer_add_docs(ix, md, n, &res);
    cr_assert_eq(rc, 0, "add_docs: %s (%s)", qr_strerror(rc), qr_indexer_error(ix));
    qr_index_result_free(&res);
    qr_indexer_close(ix);
    free(md);
}

qr_dir *tq_index(const char *lang, const struct tdoc *docs, size_t n, size_t batch)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    if (batch == 0)
        batch = n ? n : 1;
    for (size_t i = 0; i < n; i += batch)
        commit_docs(dir, lang, docs + i, n - i < batch ? n - i : batch);
    return dir;
}

void tq_add(qr_dir *dir, const struct tdoc *docs, size_t n)
{
    commit_docs(dir, NULL, docs, n);
}

void tq_merge_all(qr_dir *dir)
{
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, dir, NULL, NULL, 0), 0);
    qr_index_result res;
    cr_assert_eq(qr_indexer_merge_all(ix, &res), 0);
    qr_index_result_free(&res);
    qr_indexer_close(ix);
}

qr_searcher *tq_open(qr_dir *dir)
{
    qr_searcher *s;
    char err[256] = "";
    int rc = qr_searcher_open_dir(&s, dir, 0, err, sizeof err);
    cr_assert_eq(rc, 0, "searcher open: %s (%s)", qr_strerror(rc), err);
    return s;
}

static struct tq_res run(qr_searcher *s, const char *q, unsigned flags, size_t k, size_t offset,
                         bool count_only)
{
    struct tq_res r;
    memset(&r, 0, sizeof r);
    qr_query query;
    qr_query_error err;
    r.rc = qr_query_parse(&query, &err, qr_searcher_analyzer(s), q, strlen(q), flags);
    if (r.rc) {
        if (r.rc == QR_ESYNTAX)
            r.column = err.column;
        return r;
    }
    qr_results res;
    r.rc = qr_searcher_run(s, &query, k, offset, count_only, &res);
    qr_query_free(&query);
    if (r.rc)
        return r;
    r.total = res.total;
    r.n = res.n;
    r.paths = calloc(res.n ? res.n : 1, sizeof *r.paths);
    r.scores = calloc(res.n ? res.n : 1, sizeof *r.scores);
    for (size_t i = 0; i < res.n; i++) {
        qr_slice p = qr_searcher_path(s, &res.hits[i]);
        r.paths[i] = strndup((const char *)p.p, p.n);
        r.scores[i] = res.hits[i].score;
    }
    qr_results_free(&res);
    return r;
}

struct tq_res tq_search(qr_searcher *s, const char *q, unsigned flags, size_t k, size_t offset)
{
    return run(s, q, flags, k, offset, false);
}

uint64_t tq_count(qr_searcher *s, const char *q, unsigned flags)
{
    struct tq_res r = run(s, q, flags, 0, 0, true);
    cr_assert_eq(r.rc, 0, "count %s: %d", q, r.rc);
    cr_assert_eq(r.n, 0);
    tq_res_free(&r);
    return r.total;
}

void tq_res_free(struct tq_res *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->paths[i]);
    free(r->paths);
    free(r->scores);
    r->paths = NULL;
    r->scores = NULL;
}

const char *tq_paths(const struct tq_res *r)
{
    static char buf[8192];
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < r->n && at < sizeof buf - 1; i++)
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", i ? " " : "", r->paths[i]);
    return buf;
}

static bool same_score(double a, double b)
{
    return a == b || fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

uint64_t tq_check_ref(qr_searcher *s, ref_index *r, const char *q, unsigned flags, size_t k)
{
    struct tq_res e = tq_search(s, q, flags, k, 0);
    if (e.rc == QR_ESYNTAX) {
        tq_res_free(&e);
        return 0;
    }
    cr_assert_eq(e.rc, 0, "%s: %s", q, qr_strerror(e.rc));
    qr_query query;
    cr_assert_eq(qr_query_parse(&query, NULL, qr_searcher_analyzer(s), q, strlen(q), flags), 0);
    uint64_t total;
    ref_hit *hits;
    size_t nhits;
    ref_search(r, &query, &total, &hits, &nhits);
    cr_assert_eq(e.total, total, "total of %s: engine %llu, reference %llu", q,
                 (unsigned long long)e.total, (unsigned long long)total);
    size_t want = nhits < k ? nhits : k;
    cr_assert_eq(e.n, want, "%s: %zu hits, want %zu", q, e.n, want);
    for (size_t i = 0; i < e.n; i++) {
        cr_assert(same_score(e.scores[i], hits[i].score), "%s: hit %zu score %.17g, ref %.17g", q,
                  i + 1, e.scores[i], hits[i].score);
        cr_assert_str_eq(e.paths[i], hits[i].path, "%s: hit %zu (score %.17g)", q, i + 1,
                         e.scores[i]);
    }
    free(hits);
    qr_query_free(&query);
    uint64_t t = e.total;
    tq_res_free(&e);
    return t;
}

qr_dir *tq_copy_patched(qr_dir *src, const char *victim, size_t at, uint8_t x)
{
    qr_dir *dst;
    cr_assert_eq(qr_dir_open_memory(&dst), 0);
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_list(src, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        qr_mapping *m;
        qr_slice data;
        cr_assert_eq(qr_dir_map(src, names[i], &m, &data), 0);
        uint8_t *copy = malloc(data.n ? data.n : 1);
        cr_assert(copy);
        if (data.n)
            memcpy(copy, data.p, data.n);
        if (!strcmp(names[i], victim) && at < data.n)
            copy[at] ^= x;
        cr_assert_eq(qr_dir_write_file(dst, names[i], copy, data.n), 0);
        free(copy);
        qr_mapping_close(m);
    }
    qr_dir_list_free(names, n);
    return dst;
}

/* Where the bytes of slice `part` (a view into file name's mapping) start in the file. */
size_t tq_file_offset(qr_dir *dir, const char *name, qr_slice part)
{
    qr_mapping *m;
    qr_slice file;
    cr_assert_eq(qr_dir_map(dir, name, &m, &file), 0);
    size_t at = SIZE_MAX;
    for (size_t o = 0; o + part.n <= file.n && at == SIZE_MAX; o++)
        if (!memcmp(file.p + o, part.p, part.n))
            at = o;
    qr_mapping_close(m);
    cr_assert_neq(at, SIZE_MAX);
    return at;
}

uint64_t tq_only_file(qr_dir *dir, const char *suffix, char *out, size_t len)
{
    char **names;
    size_t n;
    out[0] = 0;
    cr_assert_eq(qr_dir_list(dir, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]), sl = strlen(suffix);
        if (l > sl && !strcmp(names[i] + l - sl, suffix)) {
            cr_assert_eq(out[0], 0, "one %s file", suffix);
            snprintf(out, len, "%s", names[i]);
        }
    }
    qr_dir_list_free(names, n);
    cr_assert(out[0], "no %s file", suffix);
    return strncmp(out, "seg-", 4) ? 0 : strtoull(out + 4, NULL, 16);
}
