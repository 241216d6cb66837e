/*
 * The engine against the reference evaluator (ref.c) and against itself:
 *   - generated queries over the bundled sample articles and, when
 *     ../shared/corpora/bbc exists, over the BBC corpus: the same total,
 *     the same top hits in the same order, the same scores;
 *   - thousands of random queries over a synthetic Zipf corpus spread over
 *     several segments with deletions: the pruned top 10 equals the top 10
 *     of an exhaustive run (k = every document), and a sample of them
 *     equals the reference too.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/indexer.h"
#include "query/searcher.h"
#include "ref.h"
#include "storage/status.h"
#include "tq.h"

#ifndef QUARRY_SOURCE_ROOT
#define QUARRY_SOURCE_ROOT "."
#endif

/* ---- a deterministic generator ------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t pick(size_t n)
{
    return (size_t)(rnd() % n);
}

/* ---- query material: surface words and phrases of the documents ---------------------------- */

struct material {
    char **words; /* surface words, with repeats (frequent words drawn more often) */
    size_t nwords, capwords;
    char **phrases; /* runs of 2 or 3 adjacent surface words */
    size_t nphrases, capphrases;
};

static void add_str(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *v = realloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = strndup(s, len);
}

static int word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '\'' || c == '-' || c >= 0x80;
}

/* Collects the surface words of text (at most every `stride`-th one, to bound memory). */
static void learn(struct material *m, const char *text, size_t len, size_t stride)
{
    size_t i = 0, k = 0;
    const char *prev[3] = {0};
    size_t prevlen[3] = {0};
    while (i < len) {
        while (i < len && !word_byte((unsigned char)text[i]))
            i++;
        size_t s = i;
        while (i < len && word_byte((unsigned char)text[i]))
            i++;
        if (i == s)
            break;
        /* trim hyphens and apostrophes at the ends */
        size_t a = s, b = i;
        while (a < b && (text[a] == '-' || text[a] == '\''))
            a++;
        while (b > a && (text[b - 1] == '-' || text[b - 1] == '\''))
            b--;
        if (b == a)
            continue;
        if (k++ % stride == 0)
            add_str(&m->words, &m->nwords, &m->capwords, text + a, b - a);
        prev[0] = prev[1];
        prevlen[0] = prevlen[1];
        prev[1] = prev[2];
        prevlen[1] = prevlen[2];
        prev[2] = text + a;
        prevlen[2] = b - a;
        if (prev[1] && k % (stride * 3) == 1) {
            /* only when separated by one space: a real phrase */
            if (prev[1] + prevlen[1] + 1 == prev[2]) {
                int three = prev[0] && prev[0] + prevlen[0] + 1 == prev[1] && (rnd() & 1);
                const char *p = three ? prev[0] : prev[1];
                add_str(&m->phrases, &m->nphrases, &m->capphrases, p,
                        (size_t)(prev[2] + prevlen[2] - p));
            }
        }
    }
}

static void material_free(struct material *m)
{
    for (size_t i = 0; i < m->nwords; i++)
        free(m->words[i]);
    for (size_t i = 0; i < m->nphrases; i++)
        free(m->phrases[i]);
    free(m->words);
    free(m->phrases);
}

static void put(char *q, size_t cap, size_t *at, const char *s)
{
    size_t n = strlen(s);
    if (*at + n + 1 < cap) {
        memcpy(q + *at, s, n);
        *at += n;
        q[*at] = 0;
    }
}

static void gen_leaf(const struct material *m, char *q, size_t cap, size_t *at)
{
    unsigned r = (unsigned)pick(100);
    const char *w = m->words[pick(m->nwords)];
    if (r < 12 && m->nphrases) {
        put(q, cap, at, "\"");
        put(q, cap, at, m->phrases[pick(m->nphrases)]);
        put(q, cap, at, "\"");
    } else if (r < 22) {
        char buf[8];
        size_t n = 2 + pick(3);
        size_t len = strlen(w);
        snprintf(buf, sizeof buf, "%.*s*", (int)(n < len ? n : len), w);
        put(q, cap, at, buf);
    } else {
        put(q, cap, at, w);
    }
}

/* A NEAR operand: mostly a leaf, sometimes a group, a field or another NEAR. */
static void gen_near_side(const struct material *m, char *q, size_t cap, size_t *at)
{
    unsigned r = (unsigned)pick(100);
    if (r < 75) {
        gen_leaf(m, q, cap, at);
    } else if (r < 85) {
        put(q, cap, at, "(");
        gen_leaf(m, q, cap, at);
        put(q, cap, at, pick(2) ? " OR " : " ");
        gen_leaf(m, q, cap, at);
        put(q, cap, at, ")");
    } else if (r < 92) {
        put(q, cap, at, pick(2) ? "title:" : "body:");
        gen_leaf(m, q, cap, at);
    } else {
        char buf[16];
        put(q, cap, at, "(");
        gen_leaf(m, q, cap, at);
        snprintf(buf, sizeof buf, " NEAR/%u ", (unsigned)pick(8));
        put(q, cap, at, buf);
        gen_leaf(m, q, cap, at);
        put(q, cap, at, ")");
    }
}

static void gen(const struct material *m, char *q, size_t cap, size_t *at, int depth)
{
    unsigned r = (unsigned)pick(100);
    if (depth <= 0 || r < 45) {
        gen_leaf(m, q, cap, at);
        return;
    }
    if (r < 53) {
        put(q, cap, at, pick(2) ? "title:" : "body:");
        gen_leaf(m, q, cap, at);
    } else if (r < 63) {
        put(q, cap, at, pick(2) ? "-" : "NOT ");
        gen(m, q, cap, at, depth - 1);
    } else if (r < 75) {
        put(q, cap, at, "(");
        gen(m, q, cap, at, depth - 1);
        put(q, cap, at, " OR ");
        gen(m, q, cap, at, depth - 1);
        put(q, cap, at, ")");
    } else if (r < 87) {
        put(q, cap, at, "(");
        gen(m, q, cap, at, depth - 1);
        put(q, cap, at, pick(2) ? " " : " AND ");
        gen(m, q, cap, at, depth - 1);
        put(q, cap, at, ")");
    } else {
        char buf[16];
        gen_near_side(m, q, cap, at);
        snprintf(buf, sizeof buf, pick(3) ? " NEAR/%u " : " NEAR ", (unsigned)pick(12));
        put(q, cap, at, buf);
        gen_near_side(m, q, cap, at);
    }
}

/* A random query of 1 to 3 clauses. */
static void gen_query(const struct material *m, char *q, size_t cap)
{
    size_t at = 0;
    q[0] = 0;
    int n = 1 + (int)pick(3);
    for (int i = 0; i < n; i++) {
        if (i)
            put(q, cap, &at, pick(3) ? " " : " OR ");
        gen(m, q, cap, &at, 2);
    }
}

/* ---- comparisons ------------------------------------------------------------------------ */

/* The pruned top k against an exhaustive run (every hit kept, nothing pruned). */
static void check_pruning(qr_searcher *s, const char *q, unsigned flags, size_t k)
{
    struct tq_res top = tq_search(s, q, flags, k, 0);
    if (top.rc == QR_ESYNTAX) {
        tq_res_free(&top);
        return;
    }
    cr_assert_eq(top.rc, 0);
    struct tq_res all = tq_search(s, q, flags, SIZE_MAX, 0);
    cr_assert_eq(all.rc, 0);
    cr_assert_eq(top.total, all.total, "%s", q);
    cr_assert_eq(all.n, all.total, "%s", q);
    cr_assert_eq(top.n, all.n < k ? all.n : k, "%s", q);
    for (size_t i = 0; i < top.n; i++) {
        cr_assert_str_eq(top.paths[i], all.paths[i], "%s: hit %zu", q, i + 1);
        cr_assert_eq(top.scores[i], all.scores[i], "%s: hit %zu", q, i + 1);
    }
    /* and counting alone agrees */
    cr_assert_eq(tq_count(s, q, flags), all.total, "%s", q);
    tq_res_free(&top);
    tq_res_free(&all);
}

/* ---- corpora ----------------------------------------------------------------------------- */

/* Indexes directory path into a memory directory with the real indexer. */
static qr_dir *index_tree(const char *path, unsigned threads)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_index_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = threads;
    qr_indexer *ix;
    char err[256] = "";
    cr_assert_eq(qr_indexer_open(&ix, dir, &opt, err, sizeof err), 0, "%s", err);
    qr_index_result res;
    const char *dirs[] = {path};
    int rc = qr_indexer_run(ix, dirs, 1, &res);
    cr_assert_eq(rc, 0, "index %s: %s", path, qr_indexer_error(ix));
    qr_index_result_free(&res);
    qr_indexer_close(ix);
    return dir;
}

/* Learns query material from every stored document of the index. */
static void learn_index(struct material *m, qr_searcher *s, size_t stride)
{
    struct tq_res all = tq_search(s, "NOT qqqqzzzz", 0, SIZE_MAX, 0);
    qr_query q;
    cr_assert_eq(qr_query_parse(&q, NULL, qr_searcher_analyzer(s), "NOT qqqqzzzz", 12, 0), 0);
    qr_results res;
    cr_assert_eq(qr_searcher_run(s, &q, SIZE_MAX, 0, false, &res), 0);
    for (size_t i = 0; i < res.n; i++) {
        qr_slice t, b;
        cr_assert_eq(qr_searcher_fetch(s, &res.hits[i], &t, &b), 0);
        learn(m, (const char *)t.p, t.n, stride);
        learn(m, (const char *)b.p, b.n, stride);
    }
    qr_results_free(&res);
    qr_query_free(&q);
    tq_res_free(&all);
}

static void run_generated(qr_searcher *s, ref_index *r, const struct material *m, int nqueries,
                          const char *corpus)
{
    char q[512];
    int with_hits = 0;
    for (int i = 0; i < nqueries; i++) {
        gen_query(m, q, sizeof q);
        unsigned flags = pick(5) ? 0 : QR_PARSE_ANY;
        if (tq_check_ref(s, r, q, flags, 1 + pick(12)) > 0)
            with_hits++;
    }
    /* the generator must produce queries that match something */
    cr_assert_gt(with_hits, nqueries / 4, "%s: only %d of %d queries had hits", corpus, with_hits,
                 nqueries);
}

Test(reference, sample_articles)
{
    qr_dir *dir = index_tree(QUARRY_SOURCE_ROOT "/samples/articles", 2);
    qr_searcher *s = tq_open(dir);
    ref_index *r;
    cr_assert_eq(ref_load(&r, dir), 0);
    cr_assert_eq(ref_docs(r), qr_searcher_docs(s));
    /* The README's demo searches: each finds something, and agrees with the reference. */
    static const char *const demo[] = {"\"cease-fire\" AND crimea", "ceasefire", "ukrain* -russia",
                                       "title:talks", "putin NEAR/5 zelensky"};
    for (size_t i = 0; i < sizeof demo / sizeof demo[0]; i++)
        cr_assert_gt(tq_check_ref(s, r, demo[i], 0, 10), 0, "%s", demo[i]);
    /* NEAR over groups, phrases, prefixes, fields and other NEARs */
    static const char *const nears[] = {"(ceasefire OR truce) NEAR/8 talks",
                                        "(putin NEAR/5 zelensky) NEAR/20 talks",
                                        "\"peace talks\" NEAR crimea",
                                        "ukrain* NEAR/3 grain",
                                        "title:talks NEAR body:crimea",
                                        "(grain exports) NEAR/2 black",
                                        "talks NEAR/0 talks",
                                        "(cease-fire) NEAR/4 (putin NEAR kremlin)",
                                        "-ceasefire NEAR/2 grain",
                                        "crimea NEAR/1000000000 NOT"};
    for (size_t i = 0; i < sizeof nears / sizeof nears[0]; i++)
        tq_check_ref(s, r, nears[i], 0, 10);
    struct material m = {0};
    learn_index(&m, s, 1);
    rng_state = 0x9e3779b97f4a7c15ull;
    run_generated(s, r, &m, 1500, "samples");
    material_free(&m);
    ref_free(r);
    qr_searcher_close(s);
    qr_dir_close(dir);
}

Test(reference, bbc_corpus, .timeout = 600)
{
    const char *tarball = QUARRY_SOURCE_ROOT "/../shared/corpora/bbc/bbc.tar.zst";
    if (access(tarball, R_OK) != 0)
        cr_skip_test("no %s", tarball);
    char tmp[] = "/tmp/quarry-test-bbc-XXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "tar --zstd -xf '%s' -C '%s' bbc/docs", tarball, tmp);
    if (system(cmd) != 0)
        cr_skip_test("cannot unpack %s (tar with zstd needed)", tarball);
    char docs[256];
    snprintf(docs, sizeof docs, "%s/bbc/docs", tmp);
    qr_dir *dir = index_tree(docs, 2);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
    qr_searcher *s = tq_open(dir);
    ref_index *r;
    cr_assert_eq(ref_load(&r, dir), 0);
    cr_assert_eq(qr_searcher_docs(s), 2225);
    struct material m = {0};
    learn_index(&m, s, 7);
    rng_state = 0x243f6a8885a308d3ull;
    run_generated(s, r, &m, 400, "bbc");
    for (int i = 0; i < 300; i++) {
        char q[512];
        gen_query(&m, q, sizeof q);
        check_pruning(s, q, pick(3) ? 0 : QR_PARSE_ANY, 10);
    }
    material_free(&m);
    ref_free(r);
    qr_searcher_close(s);
    qr_dir_close(dir);
}

/* ---- a synthetic corpus big enough for many postings blocks ----------------------------- */

static char *synth_word(size_t rank)
{
    static const char *const syl[] = {"ka",  "lo",  "mi",  "ne", "ru", "sa", "ti", "vo",
                                      "zel", "bar", "dun", "fi", "go", "hu", "jy", "pe"};
    char buf[32];
    size_t at = 0, x = rank + 17;
    do {
        const char *s = syl[x % 16];
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%s", s);
        x /= 16;
    } while (x && at < 20);
    return strdup(buf);
}

/* A Zipf-ish rank: small ranks much more often. */
static size_t zipf(size_t n)
{
    double u = (double)(rnd() % 1000000 + 1) / 1000001.0;
    size_t r = (size_t)(pow((double)n, u)) - 1;
    return r < n ? r : n - 1;
}

static char *synth_doc(char **vocab, size_t nvocab)
{
    size_t cap = 4096, at = 0;
    char *t = malloc(cap);
    size_t nt = 2 + pick(6), nb = 10 + pick(190);
    for (size_t i = 0; i < nt + nb + 1; i++) {
        const char *w = i == nt ? "\n" : vocab[zipf(nvocab)];
        size_t n = strlen(w);
        if (at + n + 4 >= cap) {
            cap *= 2;
            t = realloc(t, cap);
        }
        if (i && i != nt + 1 && i != nt)
            t[at++] = pick(12) ? ' ' : (pick(2) ? '-' : ',');
        memcpy(t + at, w, n);
        at += n;
    }
    t[at] = 0;
    return t;
}

Test(pruning, synthetic_corpus_pruned_equals_exhaustive, .timeout = 600)
{
    rng_state = 0x853c49e6748fea9bull;
    size_t nvocab = 3000, ndocs = 4000;
    char **vocab = calloc(nvocab, sizeof *vocab);
    for (size_t i = 0; i < nvocab; i++)
        vocab[i] = synth_word(i);
    struct tdoc *docs = calloc(ndocs, sizeof *docs);
    char **texts = calloc(ndocs, sizeof *texts);
    char **paths = calloc(ndocs, sizeof *paths);
    for (size_t i = 0; i < ndocs; i++) {
        char p[32];
        snprintf(p, sizeof p, "s/%05zu", (i * 7919) % ndocs); /* paths out of id order */
        paths[i] = strdup(p);
        texts[i] = synth_doc(vocab, nvocab);
        docs[i].path = paths[i];
        docs[i].text = texts[i];
    }
    /* four segments, then 300 replacements (deletions in the old segments) and 200 new docs */
    qr_dir *dir = tq_index("english", docs, ndocs - 200, (ndocs - 200) / 4);
    struct tdoc *more = calloc(500, sizeof *more);
    char **moretexts = calloc(500, sizeof *moretexts);
    for (size_t i = 0; i < 500; i++) {
        size_t j = i < 300 ? pick(ndocs - 200) : ndocs - 200 + (i - 300);
        moretexts[i] = synth_doc(vocab, nvocab);
        more[i].path = docs[j].path;
        more[i].text = moretexts[i];
        for (size_t x = 0; x < i; x++)
            if (!strcmp(more[x].path, more[i].path))
                more[i].path = docs[ndocs - 200 + (i % 200)].path; /* keep paths distinct */
    }
    /* de-duplicate paths (replacements may collide with the new ones) */
    size_t nmore = 0;
    for (size_t i = 0; i < 500; i++) {
        bool dup = false;
        for (size_t x = 0; x < nmore && !dup; x++)
            dup = !strcmp(more[x].path, more[i].path);
        if (!dup)
            more[nmore++] = more[i];
    }
    tq_add(dir, more, nmore);
    qr_searcher *s = tq_open(dir);
    struct material m = {0};
    for (size_t i = 0; i < nvocab; i += 1 + i / 50)
        add_str(&m.words, &m.nwords, &m.capwords, vocab[i], strlen(vocab[i]));
    for (size_t i = 0; i < 200; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s %s", vocab[zipf(200)], vocab[zipf(200)]);
        add_str(&m.phrases, &m.nphrases, &m.capphrases, p, strlen(p));
    }
    /* Natural-language style OR queries (--any) of frequent words: where pruning works. */
    for (int i = 0; i < 1500; i++) {
        char q[512];
        size_t at = 0;
        q[0] = 0;
        int n = 1 + (int)pick(5);
        for (int j = 0; j < n; j++) {
            put(q, sizeof q, &at, j ? " " : "");
            put(q, sizeof q, &at, vocab[zipf(400)]);
        }
        check_pruning(s, q, QR_PARSE_ANY, 1 + pick(20));
    }
    for (int i = 0; i < 1000; i++) {
        char q[512];
        gen_query(&m, q, sizeof q);
        check_pruning(s, q, pick(2) ? 0 : QR_PARSE_ANY, 10);
    }
    ref_index *r;
    cr_assert_eq(ref_load(&r, dir), 0);
    cr_assert_eq(ref_docs(r), qr_searcher_docs(s));
    run_generated(s, r, &m, 150, "synthetic");
    /* Small windows: the window passes cross many window boundaries. */
    qr_searcher_set_windows(s, 64, 128);
    run_generated(s, r, &m, 150, "synthetic, small windows");
    for (int i = 0; i < 200; i++) {
        char q[512];
        gen_query(&m, q, sizeof q);
        check_pruning(s, q, pick(2) ? 0 : QR_PARSE_ANY, 10);
    }
    ref_free(r);
    material_free(&m);
    qr_searcher_close(s);
    qr_dir_close(dir);
    for (size_t i = 0; i < ndocs; i++) {
        free(texts[i]);
        free(paths[i]);
    }
    for (size_t i = 0; i < 500; i++)
        free(moretexts[i]);
    for (size_t i = 0; i < nvocab; i++)
        free(vocab[i]);
    free(more);
    free(moretexts);
    free(texts);
    free(paths);
    free(docs);
    free(vocab);
}

/* ---- phrases of 3 to 5 terms over a small vocabulary ------------------------------------- */

/*
 * A corpus of few words (so phrases of 3 to 5 terms, repeats included,
 * match often and their terms are about as common as each other, where
 * windows apply): the commonest term of a phrase is deferred, and rejoins
 * the conjunction where the others leave too many candidates. Some
 * documents are long (more than 128 positions of a term), titles are
 * short (phrases across title and body), four segments with deletions,
 * one word only in the first.
 * Each query against the reference and the pruned top against an
 * exhaustive run.
 */
#define PV 14

static bool phr_rare; /* whether vocab[PV] may be drawn (only the first segment holds it) */

static size_t phr_word(void)
{
    if (phr_rare && !pick(12))
        return PV;
    return pick(4) ? zipf(PV) : pick(PV); /* mostly skewed: some terms 8 times commoner */
}

static char *phr_doc(char **vocab, size_t **toks, size_t *ntoks)
{
    size_t nt = 1 + pick(5), nb = pick(20) ? 5 + pick(120) : 300 + pick(700);
    size_t n = nt + nb, cap = 16 * n + 16, at = 0;
    size_t *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)pick(100);
        if (i >= 2 && r < 8) /* "a b a", "a a a" and the like */
            w[i] = w[i - 2];
        else if (i >= 1 && r < 14)
            w[i] = w[i - 1];
        else
            w[i] = phr_word();
    }
    char *t = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        if (i)
            t[at++] = i == nt ? '\n' : ' ';
        size_t l = strlen(vocab[w[i]]);
        memcpy(t + at, vocab[w[i]], l);
        at += l;
    }
    t[at] = 0;
    *toks = w;
    *ntoks = n;
    return t;
}

/* A phrase of 3 to 5 terms: a run of some document (it matches) or drawn (repeats included). */
static void phr_phrase(char *q, size_t cap, size_t *at, char **vocab, size_t **toks,
                       const size_t *ntoks, size_t ndocs)
{
    size_t len = 3 + pick(3), w[5];
    size_t d = pick(ndocs);
    if (pick(3) && ntoks[d] > len) {
        size_t s = pick(ntoks[d] - len);
        for (size_t i = 0; i < len; i++)
            w[i] = toks[d][s + i];
    } else {
        for (size_t i = 0; i < len; i++)
            w[i] = i && !pick(4) ? w[pick(i)] : phr_word();
    }
    put(q, cap, at, "\"");
    for (size_t i = 0; i < len; i++) {
        put(q, cap, at, i ? " " : "");
        put(q, cap, at, vocab[w[i]]);
    }
    put(q, cap, at, "\"");
}

static void phr_query(char *q, size_t cap, char **vocab, size_t **toks, const size_t *ntoks,
                      size_t ndocs)
{
    size_t at = 0;
    q[0] = 0;
    unsigned r = (unsigned)pick(100);
    char buf[24];
    if (r < 12 || (r >= 40 && r < 48))
        put(q, cap, &at, r < 6 || r >= 44 ? "title:" : "body:");
    else if (r < 20)
        put(q, cap, &at, "-");
    else if (r < 26)
        put(q, cap, &at, "(");
    phr_phrase(q, cap, &at, vocab, toks, ntoks, ndocs);
    if (r < 20) {
        if (r >= 12) { /* a NOT phrase needs a positive part */
            put(q, cap, &at, " ");
            put(q, cap, &at, vocab[phr_word()]);
        }
    } else if (r < 26) {
        put(q, cap, &at, " OR ");
        phr_phrase(q, cap, &at, vocab, toks, ntoks, ndocs);
        put(q, cap, &at, ")");
    } else if (r < 40) {
        snprintf(buf, sizeof buf, " NEAR/%u ", (unsigned)pick(6));
        put(q, cap, &at, buf);
        if (pick(2))
            phr_phrase(q, cap, &at, vocab, toks, ntoks, ndocs);
        else
            put(q, cap, &at, vocab[phr_word()]);
    } else if (r < 60) {
        put(q, cap, &at, " -");
        if (pick(2))
            phr_phrase(q, cap, &at, vocab, toks, ntoks, ndocs);
        else
            put(q, cap, &at, vocab[phr_word()]);
    }
}

Test(reference, long_phrases_multi_segment, .timeout = 600)
{
    rng_state = 0x2545f4914f6cdd1dull;
    size_t ndocs = 2400;
    char *vocab[PV + 1];
    for (size_t i = 0; i <= PV; i++)
        vocab[i] = synth_word(i * 37 + 5);
    struct tdoc *docs = calloc(ndocs + 300, sizeof *docs);
    char **texts = calloc(ndocs + 300, sizeof *texts), **paths = calloc(ndocs, sizeof *paths);
    size_t **toks = calloc(ndocs + 300, sizeof *toks), *ntoks = calloc(ndocs + 300, sizeof *ntoks);
    for (size_t i = 0; i < ndocs; i++) {
        char p[32];
        snprintf(p, sizeof p, "p/%05zu", (i * 7919) % ndocs);
        paths[i] = strdup(p);
        phr_rare = i < ndocs / 3;
        texts[i] = phr_doc(vocab, &toks[i], &ntoks[i]);
        docs[i].path = paths[i];
        docs[i].text = texts[i];
    }
    /* three segments, then a fourth replacing 300 distinct docs of them (deletions) */
    qr_dir *dir = tq_index("english", docs, ndocs, ndocs / 3);
    struct tdoc *more = docs + ndocs;
    phr_rare = false;
    for (size_t i = 0; i < 300; i++) {
        texts[ndocs + i] = phr_doc(vocab, &toks[ndocs + i], &ntoks[ndocs + i]);
        more[i].path = paths[i * 7 + 3]; /* distinct */
        more[i].text = texts[ndocs + i];
    }
    tq_add(dir, more, 300);
    phr_rare = true; /* queries: phrases with a term some segments lack */
    qr_searcher *s = tq_open(dir);
    ref_index *r;
    cr_assert_eq(ref_load(&r, dir), 0);
    cr_assert_eq(ref_docs(r), qr_searcher_docs(s));
    static const size_t ks[] = {0, 1, 10, 10, 10, 100, 5000};
    int with_hits = 0, nq = 500;
    for (int i = 0; i < nq; i++) {
        char q[512];
        phr_query(q, sizeof q, vocab, toks, ntoks, ndocs + 300);
        size_t k = ks[pick(sizeof ks / sizeof ks[0])];
        uint64_t total = tq_check_ref(s, r, q, 0, k);
        cr_assert_eq(tq_count(s, q, 0), total, "--count of %s", q);
        with_hits += total > 0;
        if (i % 4 == 0)
            check_pruning(s, q, 0, 10);
    }
    cr_assert_gt(with_hits, nq / 3, "only %d of %d phrase queries had hits", with_hits, nq);
    /* Prefixes between phrases (their tables cold or warm), k = 0 included. */
    for (int i = 0; i < 80; i++) {
        char q[512];
        size_t at = 0;
        const char *w = vocab[pick(PV)];
        snprintf(q, sizeof q, "%.*s* ", (int)(2 + pick(3)), w); /* one letter: a too-short prefix */
        at = strlen(q);
        if (pick(2))
            phr_phrase(q, sizeof q, &at, vocab, toks, ntoks, ndocs + 300);
        size_t k = ks[pick(sizeof ks / sizeof ks[0])];
        unsigned flags = pick(2) ? 0 : QR_PARSE_ANY;
        uint64_t total = tq_check_ref(s, r, q, flags, k);
        cr_assert_eq(tq_count(s, q, flags), total, "--count of %s", q);
    }
    /* Small windows: the deferred term rejoins across many window boundaries. */
    qr_searcher_set_windows(s, 64, 128);
    for (int i = 0; i < 150; i++) {
        char q[512];
        phr_query(q, sizeof q, vocab, toks, ntoks, ndocs + 300);
        tq_check_ref(s, r, q, 0, 10);
    }
    ref_free(r);
    qr_searcher_close(s);
    qr_dir_close(dir);
    for (size_t i = 0; i < ndocs + 300; i++) {
        free(texts[i]);
        free(toks[i]);
    }
    for (size_t i = 0; i < ndocs; i++)
        free(paths[i]);
    for (size_t i = 0; i <= PV; i++)
        free(vocab[i]);
    free(docs);
    free(texts);
    free(paths);
    free(toks);
    free(ntoks);
}
