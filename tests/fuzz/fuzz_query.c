/*
 * libFuzzer target for the query parser (query/parser.c) and, behind it,
 * the search engine that runs what it parses.
 *
 * Input: mode:u8 query. mode & 1 parses with QR_PARSE_ANY (juxtaposition is
 * OR). The harness aborts (a finding) when:
 *   - the parser answers anything but success or QR_ESYNTAX, or an error
 *     whose column lies outside the query (1 .. code points + 1) or whose
 *     message is empty; or when QR_PARSE_ANY changes whether, where or why
 *     a query is wrong (it changes only what juxtaposition means);
 *   - a tree breaks parser.h: a kind with the wrong number of children or
 *     terms, a wrong height, nesting past QR_QUERY_MAX_DEPTH, a column
 *     outside the query, an empty term, a phrase whose offsets do not start
 *     at 0 or go backwards; or the same text parses to a different tree;
 *   - running the query on a small index (300 generated documents in two
 *     segments, one with deletions, built once with the indexer in a memory
 *     directory) fails, or its answers disagree: the count-only total and
 *     the ranked total, the hits of a page and the same ranks of a longer
 *     list, the default window sizes and small ones (window boundaries),
 *     scores that rise down the list, more hits than asked or than the total.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "fuzz_common.h"
#include "index/analyzer.h"
#include "index/indexer.h"
#include "query/parser.h"
#include "query/searcher.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/dir.h"
#include "storage/status.h"

#define NDOCS 300

static qr_dir *index_dir;
static qr_searcher *plain, *windowed; /* default windows; 64/128-document windows */

/* ---- the index, built once ---- */

static const char *const vocab[] = {
    "cease-fire", "ceasefire", "cease",     "fire",       "talks",    "talk",     "Crimea",
    "crimea",     "Ukraine",   "Ukrainian", "Zelensky’s", "envoy",    "envoys",   "NATO",
    "summit",     "Gdańsk",    "Kraków",    "grain",      "corridor", "Odesa",    "U.S.",
    "24-hour",    "truce",     "sanctions", "oil",        "price",    "cap",      "banks",
    "the",        "a",         "of",        "in",         "and",      "or",       "not",
    "near",       "AND",       "Black",     "Sea",        "prisoner", "exchange", "Red",
    "Cross",      "don't",     "e-mail",    "Moldova",    "election", "Vilnius",  "2%",
    "spending",   "Sweden",    "border",    "refugees",   "bridge",   "Kerch",    "water",
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* One document: a title line of 2..6 words, a blank line, a body of 0..80 words. */
static void make_doc(qr_buf *b, uint32_t i)
{
    size_t nv = sizeof vocab / sizeof vocab[0];
    uint32_t tw = 2 + rnd(5), bw = rnd(81);
    for (uint32_t w = 0; w < tw; w++) {
        const char *v = vocab[(i + rnd((uint32_t)nv)) % nv];
        qr_buf_put(b, v, strlen(v));
        qr_buf_put_u8(b, w + 1 < tw ? ' ' : '\n');
    }
    qr_buf_put_u8(b, '\n');
    for (uint32_t w = 0; w < bw; w++) {
        /* a skewed choice, so that some terms fill whole postings blocks */
        uint32_t r = rnd((uint32_t)nv);
        const char *v = vocab[rnd(3) ? r % 12 : r];
        qr_buf_put(b, v, strlen(v));
        qr_buf_put_u8(b, w % 11 == 10 ? '\n' : ' ');
    }
}

static void add_docs(qr_indexer *ix, uint32_t from, uint32_t to, uint32_t salt)
{
    static char paths[NDOCS][32];
    qr_mem_doc docs[NDOCS];
    qr_buf text[NDOCS];
    uint32_t n = 0;
    for (uint32_t i = from; i < to; i++, n++) {
        snprintf(paths[i], sizeof paths[i], "docs/%04u.txt", i);
        text[n] = (qr_buf){0};
        make_doc(&text[n], i + salt);
        FUZZ_ASSERT(text[n].err == 0);
        docs[n] = (qr_mem_doc){paths[i], (const char *)text[n].p, text[n].n};
    }
    qr_index_result r;
    FUZZ_ASSERT(qr_indexer_add_docs(ix, docs, n, &r) == 0);
    qr_index_result_free(&r);
    for (uint32_t i = 0; i < n; i++)
        qr_buf_free(&text[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_ASSERT(qr_dir_open_memory(&index_dir) == 0);
    qr_index_options opt = {.threads = 1};
    qr_indexer *ix;
    char err[256];
    FUZZ_ASSERT(qr_indexer_open(&ix, index_dir, &opt, err, sizeof err) == 0);
    add_docs(ix, 0, 250, 0);
    add_docs(ix, 200, NDOCS, 7); /* a second segment; docs 200..249 replaced: deletions */
    qr_indexer_close(ix);
    FUZZ_ASSERT(qr_searcher_open_dir(&plain, index_dir, 0, err, sizeof err) == 0);
    FUZZ_ASSERT(qr_searcher_open_dir(&windowed, index_dir, 0, err, sizeof err) == 0);
    qr_searcher_set_windows(windowed, 64, 128);
    FUZZ_ASSERT(qr_searcher_docs(plain) == NDOCS);
    return 0;
}

/* ---- the tree ---- */

static uint32_t check_node(const qr_qnode *n, uint32_t columns, uint32_t depth)
{
    FUZZ_ASSERT(n && depth <= QR_QUERY_MAX_DEPTH);
    FUZZ_ASSERT(n->column >= 1 && n->column <= columns + 1);
    switch (n->kind) {
    case QR_QTERM:
    case QR_QPREFIX:
    case QR_QPHRASE:
        FUZZ_ASSERT(n->kind == QR_QPHRASE ? n->n >= 2 : n->n == 1);
        FUZZ_ASSERT(n->terms && n->terms[0].off == 0);
        for (uint32_t i = 0; i < n->n; i++) {
            const qr_qterm *t = &n->terms[i];
            FUZZ_ASSERT(t->text && t->len >= 1 && t->text[t->len] == '\0');
            FUZZ_ASSERT(i == 0 || t->off >= n->terms[i - 1].off);
        }
        FUZZ_ASSERT(n->height == 1);
        return 1;
    case QR_QAND:
    case QR_QOR:
    case QR_QNOT:
    case QR_QNEAR: {
        uint32_t want = n->kind == QR_QNOT ? 1 : 2;
        FUZZ_ASSERT(n->kind == QR_QAND || n->kind == QR_QOR ? n->n >= want : n->n == want);
        FUZZ_ASSERT(n->field == QR_FIELD_ANY && n->kids);
        uint32_t h = 0;
        for (uint32_t i = 0; i < n->n; i++) {
            uint32_t k = check_node(n->kids[i], columns, depth + 1);
            h = k > h ? k : h;
        }
        FUZZ_ASSERT(n->height == h + 1);
        return h + 1;
    }
    }
    FUZZ_ASSERT(!"a node of no known kind");
    return 0;
}

/* Code points in text, an invalid byte counting as one (as the parser's columns do). */
static uint32_t code_points(const uint8_t *p, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; c++) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        i += r > 0 ? (size_t)r : 1;
    }
    return c;
}

/* ---- running it ---- */

static bool close_enough(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (fabs(a) > fabs(b) ? fabs(a) : fabs(b)) + 1e-12;
}

static void run(qr_searcher *s, const qr_query *q, size_t k, size_t offset, bool count_only,
                qr_results *out)
{
    FUZZ_ASSERT(qr_searcher_run(s, q, k, offset, count_only, out) == 0);
    FUZZ_ASSERT(out->n <= k && out->total <= NDOCS);
    FUZZ_ASSERT(count_only ? out->n == 0
                           : out->n == (out->total > offset
                                            ? (out->total - offset < k ? out->total - offset : k)
                                            : 0));
    for (size_t i = 0; i < out->n; i++) {
        FUZZ_ASSERT(isfinite(out->hits[i].score));
        FUZZ_ASSERT(i == 0 || out->hits[i].score <= out->hits[i - 1].score * (1 + 1e-12) + 1e-12);
    }
}

static void search(const qr_query *q)
{
    qr_results all, page, count, small;
    run(plain, q, 8, 0, false, &all);
    run(plain, q, 5, 3, false, &page);
    run(plain, q, 0, 0, true, &count);
    run(windowed, q, 8, 0, false, &small);
    FUZZ_ASSERT(count.total == all.total && page.total == all.total && small.total == all.total);
    for (size_t i = 0; i < page.n; i++)
        FUZZ_ASSERT(close_enough(page.hits[i].score, all.hits[i + 3].score));
    FUZZ_ASSERT(small.n == all.n);
    for (size_t i = 0; i < all.n; i++)
        FUZZ_ASSERT(close_enough(small.hits[i].score, all.hits[i].score));
    if (all.n) {
        qr_slice title, body;
        FUZZ_ASSERT(qr_searcher_fetch(plain, &all.hits[0], &title, &body) == 0);
        FUZZ_ASSERT(qr_searcher_path(plain, &all.hits[0]).n > 0);
    }
    qr_results_free(&all);
    qr_results_free(&page);
    qr_results_free(&count);
    qr_results_free(&small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned flags = fuzz_u8(&in) & 1 ? QR_PARSE_ANY : 0;
    qr_slice text = fuzz_rest(&in);
    /* an exact-size copy: ASan then sees a read one past the query */
    char *copy = qr_malloc(text.n ? text.n : 1);
    FUZZ_ASSERT(copy);
    if (text.n)
        memcpy(copy, text.p, text.n);
    uint32_t columns = code_points(text.p, text.n);

    qr_analyzer *a = qr_searcher_analyzer(plain);
    qr_query q, again;
    qr_query_error err, err_other;
    memset(&err, 0, sizeof err);
    memset(&err_other, 0, sizeof err_other);
    int rc = qr_query_parse(&q, &err, a, copy, text.n, flags);
    FUZZ_ASSERT(rc == 0 || rc == QR_ESYNTAX);
    /* the other reading of juxtaposition: the same verdict, column and reason */
    int rc_other = qr_query_parse(&again, &err_other, a, copy, text.n, flags ^ QR_PARSE_ANY);
    FUZZ_ASSERT(rc_other == rc);
    if (rc == QR_ESYNTAX) {
        FUZZ_ASSERT(err.column >= 1 && err.column <= columns + 1);
        FUZZ_ASSERT(err.message[0] && memchr(err.message, '\0', sizeof err.message));
        FUZZ_ASSERT(err.column == err_other.column && !strcmp(err.message, err_other.message));
        qr_free(copy);
        return 0;
    }
    qr_query_free(&again);
    if (q.root)
        check_node(q.root, columns, 1);

    /* the same text, the same tree */
    qr_buf f1 = {0}, f2 = {0};
    FUZZ_ASSERT(qr_query_parse(&again, NULL, a, copy, text.n, flags) == 0);
    FUZZ_ASSERT(qr_query_format(&q, &f1) == 0 && qr_query_format(&again, &f2) == 0);
    FUZZ_ASSERT(f1.n == f2.n && !memcmp(f1.p, f2.p, f1.n));
    qr_buf_free(&f1);
    qr_buf_free(&f2);
    qr_query_free(&again);

    search(&q);
    qr_query_free(&q);
    qr_free(copy);
    return 0;
}
