/*
 * Tests for index/indexer.c, index/merger.c and index/walk.c: title and
 * body, the in-memory document API, mirror semantics over real directories
 * (add, touch, edit, delete, skips by reason), the RAM budget forcing many
 * flushes and merges with results identical to a single-segment build, the
 * merge policy, the writer lock, the language check, statistics, and
 * failures (I/O faults at every write, sync and rename, allocation
 * failures, a corrupt index) leaving the index at its last commit.
 *
 * Index contents are compared through dump(): every live document and
 * every live posting, keyed by path, sorted, so that two indexes with the
 * same content and different segment layouts dump the same text.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "index/indexer.h"
#include "index/stats.h"
#include "index/merger.h"
#include "index/walk.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"

/* ---- helpers ---- */

static void put_str(qr_buf *b, const char *s)
{
    qr_buf_put(b, s, strlen(s));
}

static void putf(qr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(qr_buf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    qr_buf_put(b, tmp, (size_t)n);
}

/* Lines of a buffer, sorted and joined. */
static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted_lines(qr_buf *b)
{
    qr_buf_put_u8(b, 0);
    size_t n = 0;
    for (size_t i = 0; i + 1 < b->n; i++)
        if (b->p[i] == '\n')
            n++;
    char **lines = calloc(n + 1, sizeof *lines);
    size_t k = 0;
    char *s = (char *)b->p;
    for (char *nl; (nl = strchr(s, '\n')); s = nl + 1) {
        *nl = 0;
        lines[k++] = s;
    }
    qsort(lines, k, sizeof *lines, cmp_lines);
    qr_buf out = {0};
    for (size_t i = 0; i < k; i++) {
        put_str(&out, lines[i]);
        qr_buf_put_u8(&out, '\n');
    }
    qr_buf_put_u8(&out, 0);
    free(lines);
    qr_buf_free(b);
    return (char *)out.p;
}

/*
 * The live content of the last commit as sorted lines:
 *   D <path> <positions> <title_positions> <size> <hash> |<title>|<body>|
 *   P <term> <path> <pos,pos,...>
 * and checks the invariants: paths strictly increase within a segment, a
 * path is live in one segment only, the manifest's counts agree.
 */
static char *dump(qr_dir *dir)
{
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, dir), 0);
    qr_buf b = {0};
    uint64_t live_docs = 0;
    for (uint32_t i = 0; i < m.nsegs; i++) {
        qr_segment *s;
        cr_assert_eq(qr_segment_open(&s, dir, m.segs[i].id, true), 0);
        qr_deletes del;
        if (m.segs[i].del_gen)
            cr_assert_eq(
                qr_deletes_read(&del, dir, m.segs[i].id, m.segs[i].del_gen, m.segs[i].docs), 0);
        else
            cr_assert_eq(qr_deletes_init(&del, m.segs[i].docs), 0);
        cr_assert_eq(del.count, m.segs[i].deleted);
        const qr_doctable *t = qr_segment_doctable(s);
        uint32_t n = qr_doctable_count(t);
        cr_assert_eq(n, m.segs[i].docs);
        uint64_t live_pos = 0;
        for (uint32_t d = 0; d < n; d++) {
            qr_slice p = qr_doctable_path(t, d);
            if (d) {
                qr_slice q = qr_doctable_path(t, d - 1);
                size_t k = p.n < q.n ? p.n : q.n;
                int c = memcmp(q.p, p.p, k);
                cr_assert(c < 0 || (c == 0 && q.n < p.n), "paths increase within a segment");
            }
            if (qr_deletes_has(&del, d))
                continue;
            live_docs++;
            qr_doc_meta meta;
            qr_doctable_meta(t, d, &meta);
            live_pos += meta.positions;
            qr_slice title, body;
            cr_assert_eq(qr_docstore_get(qr_segment_docstore(s), d, &title, &body), 0);
            putf(&b, "D %.*s %u %u %llu %016llx |%.*s|", (int)p.n, p.p, meta.positions,
                 meta.title_positions, (unsigned long long)meta.size, (unsigned long long)meta.hash,
                 (int)title.n, title.p);
            for (size_t k = 0; k < body.n; k++)
                qr_buf_put_u8(&b, body.p[k] == '\n' ? '~' : body.p[k] ? body.p[k] : '@');
            put_str(&b, "|\n");
        }
        cr_assert_eq(live_pos, m.segs[i].live_positions, "live positions of segment %u", i);
        qr_termdict_iter it;
        cr_assert_eq(qr_segment_prefix(s, "", 0, &it), 0);
        qr_slice term;
        qr_term_meta tm;
        while (qr_termdict_next(&it, &term, &tm) == 1) {
            qr_postings_iter pi;
            cr_assert_eq(qr_segment_postings(s, &tm, &pi), 0);
            while (pi.doc != QR_DOC_END) {
                if (!qr_deletes_has(&del, pi.doc)) {
                    qr_slice p = qr_doctable_path(t, pi.doc);
                    putf(&b, "P %.*s %.*s ", (int)term.n, term.p, (int)p.n, p.p);
                    const uint32_t *pos;
                    uint32_t np;
                    cr_assert_eq(qr_postings_positions(&pi, &pos, &np), 0);
                    cr_assert_eq(np, qr_postings_freq(&pi));
                    for (uint32_t k = 0; k < np; k++)
                        putf(&b, k ? ",%u" : "%u", pos[k]);
                    put_str(&b, "\n");
                }
                cr_assert_eq(qr_postings_next(&pi), 0);
            }
            qr_postings_iter_free(&pi);
        }
        cr_assert_eq(it.err, 0);
        qr_deletes_free(&del);
        qr_segment_close(s);
    }
    cr_assert_eq(live_docs, qr_manifest_live_docs(&m));
    qr_manifest_free(&m);
    char *out = sorted_lines(&b);
    /* A path is live once: D lines are unique by path. */
    for (char *l = out; (l = strstr(l, "D ")); l++) {
        if (l != out && l[-1] != '\n')
            continue;
        char path[512];
        sscanf(l + 2, "%511s", path);
        char *next = strchr(l, '\n');
        if (next && !strncmp(next + 1, "D ", 2)) {
            char p2[512];
            sscanf(next + 3, "%511s", p2);
            cr_assert(strcmp(path, p2), "path %s live twice", path);
        }
    }
    return out;
}

static uint64_t generation(qr_dir *dir)
{
    qr_manifest m;
    if (qr_manifest_load(&m, dir))
        return 0;
    uint64_t g = m.generation;
    qr_manifest_free(&m);
    return g;
}

static uint32_t nsegs(qr_dir *dir)
{
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, dir), 0);
    uint32_t n = m.nsegs;
    qr_manifest_free(&m);
    return n;
}

/* Every file of dir is the lock or named by the last manifest. */
static void assert_no_garbage(qr_dir *dir)
{
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, dir), 0);
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_list(dir, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        bool ok = !strcmp(names[i], QR_LOCK_FILE);
        char want[64];
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

static qr_dir *memdir(void)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_memory(&d), 0);
    return d;
}

/* ---- title and body ---- */

static void split(const char *text, const char *title, const char *body)
{
    qr_slice t, b;
    qr_split_title(&t, &b, text, strlen(text));
    cr_assert(t.n == strlen(title) && !memcmp(t.p, title, t.n), "title of [%s]: [%.*s]", text,
              (int)t.n, t.p);
    cr_assert(b.n == strlen(body) && !memcmp(b.p, body, b.n), "body of [%s]: [%.*s]", text,
              (int)b.n, b.p);
}

Test(indexer, title_is_first_non_blank_line_trimmed)
{
    split("", "", "");
    split("\n \t\r\n  \n", "", "");
    split("Title", "Title", "");
    split("Title\n", "Title", "");
    split("  Title here \r\nBody line\nmore\n", "Title here", "Body line\nmore\n");
    split("\n\n\t Second line title\t\n\nbody", "Second line title", "\nbody");
    split("...\nbody", "...", "body");
    split("\xc2\xa0 nbsp stays\nx", "\xc2\xa0 nbsp stays", "x");
}

/* ---- in-memory documents ---- */

#define MEM_DOC(path, text)                                                                        \
    {                                                                                              \
        path, text, sizeof text - 1                                                                \
    }

static const qr_mem_doc three[] = {
    MEM_DOC("news/b.txt", "Cease-fire talks\nThe talks went on.\n"),
    MEM_DOC("news/a.txt", "\n  Zelensky\xe2\x80\x99s rebuff  \nCrimea, Crimea"),
    MEM_DOC("news/empty.txt", ""),
};

Test(indexer, build_docs_positions_titles_and_order)
{
    qr_dir *d = memdir();
    cr_assert_eq(qr_index_build_docs(d, NULL, three, 3), 0);
    char *got = dump(d);
    const char *want =
        "D news/a.txt 4 2 39 %016llx |Zelensky\xe2\x80\x99s rebuff|Crimea, Crimea|\n";
    char line[256];
    snprintf(line, sizeof line, want, (unsigned long long)qr_checksum(three[1].text, 39));
    cr_assert(strstr(got, line), "%s\nwant %s", got, line);
    cr_assert(strstr(got, "D news/empty.txt 0 0 0 "), "%s", got);
    cr_assert(strstr(got, "P crimea news/a.txt 2,3\n"), "%s", got);
    cr_assert(strstr(got, "P zelenski news/a.txt 0\n"), "%s", got);
    cr_assert(strstr(got, "P ceasefir news/b.txt 0\n"), "%s", got);
    cr_assert(strstr(got, "P talk news/b.txt 2,4\n"), "title 0..2, body from 3: %s", got);
    cr_assert(strstr(got, "P the news/b.txt 3\n"), "%s", got);
    free(got);
    /* One segment, docs in path order: a, b, empty. */
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    cr_assert_eq(m.nsegs, 1);
    cr_assert_str_eq(m.language, "english");
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, d, m.segs[0].id, true), 0);
    qr_slice p = qr_doctable_path(qr_segment_doctable(s), 0);
    cr_assert(p.n == 10 && !memcmp(p.p, "news/a.txt", 10));
    qr_segment_close(s);
    qr_manifest_free(&m);
    qr_dir_close(d);
}

Test(indexer, add_docs_replaces_by_content_and_keeps_others)
{
    qr_dir *d = memdir();
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, NULL, 0), 0);
    qr_index_result r;
    cr_assert_eq(qr_indexer_add_docs(ix, three, 3, &r), 0);
    cr_assert_eq(r.added, 3);
    cr_assert(r.committed);
    cr_assert_eq(r.docs, 3);
    qr_index_result_free(&r);
    uint64_t g = generation(d);

    /* The same content: unchanged, no commit. */
    cr_assert_eq(qr_indexer_add_docs(ix, three, 2, &r), 0);
    cr_assert_eq(r.unchanged, 2);
    cr_assert_eq(r.added + r.replaced + r.removed, 0);
    cr_assert(!r.committed);
    cr_assert_eq(generation(d), g);
    qr_index_result_free(&r);

    /* New content for one path, one new path. */
    qr_mem_doc upd[] = {MEM_DOC("news/a.txt", "New title\nnew body"), MEM_DOC("other/x.txt", "X")};
    cr_assert_eq(qr_indexer_add_docs(ix, upd, 2, &r), 0);
    cr_assert_eq(r.replaced, 1);
    cr_assert_eq(r.added, 1);
    cr_assert_eq(r.docs, 4);
    qr_index_result_free(&r);
    char *got = dump(d);
    cr_assert(strstr(got, "|New title|new body|"), "%s", got);
    cr_assert(!strstr(got, "crimea"), "the old version is gone: %s", got);
    cr_assert(strstr(got, "D news/b.txt"), "%s", got);
    free(got);
    assert_no_garbage(d);

    /* Bad input. */
    qr_mem_doc dup[] = {MEM_DOC("a", "x"), MEM_DOC("a", "y")};
    cr_assert_eq(qr_indexer_add_docs(ix, dup, 2, &r), QR_EINVAL);
    cr_assert(strstr(qr_indexer_error(ix), "two documents have the path a"));
    qr_index_result_free(&r);
    qr_mem_doc nopath[] = {MEM_DOC("", "x")};
    cr_assert_eq(qr_indexer_add_docs(ix, nopath, 1, &r), QR_EINVAL);
    qr_index_result_free(&r);
    qr_indexer_close(ix);
    qr_dir_close(d);
}

/* ---- synthetic corpora ---- */

static uint64_t rng;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static const char *words[] = {"alpha", "beta",   "gamma", "delta",    "cease-fire", "talks",
                              "Kyiv",  "Crimea", "grain", "sanction", "envoy",      "NATO",
                              "vote",  "poll",   "war",   "peace",    "24-hour",    "truce"};

/* n documents with random words (some rare ones), paths in several folders. */
static qr_mem_doc *synth(size_t n, uint64_t seed, char ***keep)
{
    rng = seed;
    qr_mem_doc *docs = calloc(n, sizeof *docs);
    *keep = calloc(2 * n, sizeof **keep);
    for (size_t i = 0; i < n; i++) {
        qr_buf b = {0};
        size_t len = rnd() % 120;
        putf(&b, "Title %zu %s\n", i, words[rnd() % 18]);
        for (size_t k = 0; k < len; k++) {
            if (rnd() % 10 == 0)
                putf(&b, "rare%u ", rnd() % 5000);
            else
                putf(&b, "%s%s", words[rnd() % 18], rnd() % 8 ? " " : "\n");
        }
        char *path = malloc(64);
        snprintf(path, 64, "corpus/f%u/%05zu.txt", (unsigned)(i % 7), i);
        (*keep)[2 * i] = path;
        (*keep)[2 * i + 1] = (char *)b.p;
        docs[i].path = path;
        docs[i].text = (char *)b.p;
        docs[i].len = b.n;
    }
    return docs;
}

static void synth_free(qr_mem_doc *docs, char **keep, size_t n)
{
    for (size_t i = 0; i < 2 * n; i++)
        free(keep[i]);
    free(keep);
    free(docs);
}

Test(indexer, ram_budget_forces_flushes_and_merges_with_identical_results)
{
    size_t n = 1500;
    char **keep;
    qr_mem_doc *docs = synth(n, 42, &keep);

    /* Reference: one thread, a large budget: one segment. */
    qr_dir *ref = memdir();
    qr_index_options big = {.threads = 1};
    cr_assert_eq(qr_index_build_docs(ref, &big, docs, n), 0);
    cr_assert_eq(nsegs(ref), 1);
    char *want = dump(ref);

    /* Two threads, a tiny budget and merge factor 3: many flushes and merges. */
    qr_dir *d = memdir();
    qr_index_options tiny = {.threads = 2, .ram_bytes = 300 << 10, .merge_factor = 3};
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, &tiny, NULL, 0), 0);
    qr_index_result r;
    cr_assert_eq(qr_indexer_add_docs(ix, docs, n, &r), 0);
    cr_assert_geq(r.flushes, 10, "flushes: %llu", (unsigned long long)r.flushes);
    cr_assert_geq(r.merges, 3, "merges: %llu", (unsigned long long)r.merges);
    /* At most factor - 1 segments per tier, and tiers are log_3(n). */
    cr_assert_leq(r.segments, 2 * 7, "segments: %llu", (unsigned long long)r.segments);
    cr_assert_eq(r.docs, n);
    qr_index_result_free(&r);
    char *got = dump(d);
    cr_assert(!strcmp(got, want), "a many-segment build differs from a single-segment one");
    free(got);
    assert_no_garbage(d);

    /* Forced merge to one segment: still identical. */
    cr_assert_eq(qr_indexer_merge_all(ix, &r), 0);
    cr_assert(r.committed);
    cr_assert_eq(r.segments, 1);
    qr_index_result_free(&r);
    cr_assert_eq(nsegs(d), 1);
    got = dump(d);
    cr_assert(!strcmp(got, want), "the merged index differs");
    free(got);
    assert_no_garbage(d);
    /* Nothing left to merge. */
    cr_assert_eq(qr_indexer_merge_all(ix, &r), 0);
    cr_assert(!r.committed);
    qr_index_result_free(&r);
    qr_indexer_close(ix);
    free(want);
    qr_dir_close(d);
    qr_dir_close(ref);
    synth_free(docs, keep, n);
}

/*
 * The end of the work list is shared out so that the workers finish
 * together (indexer.c, claim): batches shrink there, and a worker whose
 * builder holds much more text than another's leaves it the last items.
 * Big documents among the last items of the path-sorted list make that
 * likely; whatever the threads decide, every document is indexed once and
 * the index holds what a single thread's does, also with flushes (and
 * merges) while the others still take items.
 */
Test(indexer, workers_share_the_end_of_the_list)
{
    size_t n = 700;
    char **keep;
    qr_mem_doc *docs = synth(n, 11, &keep);
    qr_buf big = {0};
    put_str(&big, "A big one\n");
    for (size_t k = 0; k < 12000; k++)
        putf(&big, "%s %u%s", words[k % 18], (unsigned)(k % 977), k % 10 == 9 ? "\n" : " ");
    cr_assert_eq(big.err, 0);
    /* Folder f6 sorts last: every third of its documents past the middle is big. */
    for (size_t i = n / 2, j = 0; i < n; i++)
        if (i % 7 == 6 && j++ % 3 == 0) {
            docs[i].text = (const char *)big.p;
            docs[i].len = big.n;
        }
    qr_dir *ref = memdir();
    qr_index_options one = {.threads = 1};
    cr_assert_eq(qr_index_build_docs(ref, &one, docs, n), 0);
    char *want = dump(ref);
    for (unsigned threads = 2; threads <= 4; threads++)
        for (unsigned round = 0; round < 3; round++) {
            qr_dir *d = memdir();
            qr_index_options o = {.threads = threads, .merge_factor = 3,
                                  .flush_docs = round % 2 ? 60 : 0};
            qr_indexer *ix;
            cr_assert_eq(qr_indexer_open(&ix, d, &o, NULL, 0), 0);
            qr_index_result r;
            cr_assert_eq(qr_indexer_add_docs(ix, docs, n, &r), 0, "%s", qr_indexer_error(ix));
            cr_assert_eq(r.added, n, "threads %u: %llu added", threads,
                         (unsigned long long)r.added);
            cr_assert_eq(r.docs, n);
            qr_index_result_free(&r);
            qr_indexer_close(ix);
            char *got = dump(d);
            cr_assert(!strcmp(got, want), "threads %u, round %u: the index differs", threads,
                      round);
            free(got);
            assert_no_garbage(d);
            qr_dir_close(d);
        }
    free(want);
    qr_dir_close(ref);
    qr_buf_free(&big);
    synth_free(docs, keep, n);
}

Test(indexer, deletions_are_merged_away)
{
    size_t n = 400;
    char **keep;
    qr_mem_doc *docs = synth(n, 7, &keep);
    qr_dir *d = memdir();
    qr_index_options o = {.threads = 1, .ram_bytes = 200 << 10, .merge_factor = 50};
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, &o, NULL, 0), 0);
    qr_index_result r;
    cr_assert_eq(qr_indexer_add_docs(ix, docs, n, &r), 0);
    qr_index_result_free(&r);
    cr_assert_gt(nsegs(d), 1);
    /* Replace every other document: old versions deleted in place. */
    for (size_t i = 0; i < n; i += 2)
        docs[i].len /= 2;
    cr_assert_eq(qr_indexer_add_docs(ix, docs, n, &r), 0);
    cr_assert_eq(r.replaced + r.unchanged, n);
    cr_assert_gt(r.replaced, n / 3);
    qr_index_result_free(&r);
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    uint32_t deleted = 0;
    for (uint32_t i = 0; i < m.nsegs; i++)
        deleted += m.segs[i].deleted;
    qr_manifest_free(&m);
    cr_assert_gt(deleted, 0);
    char *before = dump(d);
    cr_assert_eq(qr_indexer_merge_all(ix, &r), 0);
    qr_index_result_free(&r);
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    cr_assert_eq(m.nsegs, 1);
    cr_assert_eq(m.segs[0].deleted, 0);
    cr_assert_eq(m.segs[0].docs, n);
    qr_manifest_free(&m);
    char *after = dump(d);
    cr_assert(!strcmp(before, after));
    free(before);
    free(after);
    assert_no_garbage(d);

    /* Statistics agree with the dump. */
    qr_index_stats st;
    cr_assert_eq(qr_index_stats_read(&st, d), 0);
    cr_assert_eq(st.docs, n);
    cr_assert_eq(st.deleted, 0);
    cr_assert_eq(st.segments, 1);
    cr_assert_str_eq(st.language, "english");
    cr_assert_gt(st.terms, 1000);
    cr_assert_gt(st.postings, st.terms);
    cr_assert_gt(st.positions, st.postings);
    cr_assert_gt(st.avg_doc_len, 10);
    cr_assert_gt(st.bits_per_doc, 0);
    cr_assert_gt(st.bits_per_freq, 0);
    cr_assert_gt(st.bits_per_pos, 0);
    /* Doc ids and frequencies account for every byte of the doc streams' bodies. */
    double split = (st.bits_per_doc + st.bits_per_freq) * (double)st.postings / 8;
    double body =
        (double)(st.bytes[QR_SEG_DOC] - st.segments * (QR_FILE_HEADER_SIZE + QR_FILE_FOOTER_SIZE));
    cr_assert(split > body - 0.5 && split < body + 0.5, "%f vs %f", split, body);
    uint64_t sum = st.del_bytes + st.manifest_bytes;
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        cr_assert_gt(st.bytes[k], 0);
        sum += st.bytes[k];
    }
    cr_assert_eq(sum, st.total_bytes);
    qr_indexer_close(ix);
    qr_dir_close(d);
    synth_free(docs, keep, n);
}

Test(indexer, stats_count_distinct_terms_over_segments)
{
    qr_dir *d = memdir();
    qr_mem_doc a[] = {MEM_DOC("x/1", "apple banana")};
    qr_mem_doc b[] = {MEM_DOC("x/2", "banana cherry")};
    cr_assert_eq(qr_index_build_docs(d, NULL, a, 1), 0);
    cr_assert_eq(qr_index_build_docs(d, NULL, b, 1), 0);
    qr_index_stats st;
    cr_assert_eq(qr_index_stats_read(&st, d), 0);
    cr_assert_eq(st.segments, 2);
    cr_assert_eq(st.terms, 3, "apple, banana, cherri");
    cr_assert_eq(st.postings, 4);
    cr_assert_eq(st.docs, 2);
    cr_assert_eq(st.generation, 2);
    qr_dir_close(d);
    qr_dir *e = memdir();
    cr_assert_eq(qr_index_stats_read(&st, e), QR_ENOTFOUND);
    qr_dir_close(e);
}

/* ---- the merge policy ---- */

Test(merger, policy_is_tiered_by_cost_and_bounded_by_memory)
{
    size_t out[QR_MERGE_MAX_GROUP];
    qr_merge_cand c[10] = {{0}};
    /* Seven small segments at factor 8: content. */
    for (int i = 0; i < 7; i++)
        c[i] = (qr_merge_cand){10, 0, 100 << 10};
    cr_assert_eq(qr_merge_pick(out, c, 7, 8, 0), 0);
    /* Eight: merge them all. */
    c[7] = (qr_merge_cand){10, 0, 50 << 10};
    cr_assert_eq(qr_merge_pick(out, c, 8, 8, 0), 8);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(out[i], i, "indices come in increasing order");
    /* A large one (tier 2) stays out of the small tier's merge. */
    c[8] = (qr_merge_cand){1000, 0, 500ull << 20};
    size_t k = qr_merge_pick(out, c, 9, 8, 0);
    cr_assert_eq(k, 8);
    for (size_t i = 0; i < k; i++)
        cr_assert_neq(out[i], 8);
    /* A memory bound merges the cheapest that fit: 50 + 100 + 100 KiB. */
    k = qr_merge_pick(out, c, 9, 8, 300 << 10);
    cr_assert_eq(k, 3);
    cr_assert_eq(out[2], 7);
    /* ... and nothing when fewer than two fit. */
    cr_assert_eq(qr_merge_pick(out, c, 9, 8, 120 << 10), 0);
    /* Mostly deleted: rewritten alone, if it fits. */
    qr_merge_cand d[2] = {{100, 60, 1 << 20}, {100, 0, 1 << 20}};
    cr_assert_eq(qr_merge_pick(out, d, 2, 8, 0), 1);
    cr_assert_eq(out[0], 0);
    cr_assert_eq(qr_merge_pick(out, d, 2, 8, 1 << 19), 0);
    /* Fully deleted ones are never picked (the caller drops them). */
    qr_merge_cand e[3] = {{10, 10, 1}, {10, 10, 1}, {10, 10, 1}};
    cr_assert_eq(qr_merge_pick(out, e, 3, 2, 0), 0);
    /* factor < 2 means the default. */
    cr_assert_eq(qr_merge_pick(out, c, 7, 0, 0), 0);
    cr_assert_eq(qr_merge_pick(out, c, 8, 1, 0), 8);
    /* At most QR_MERGE_MAX_GROUP at once. */
    qr_merge_cand *many = calloc(100, sizeof *many);
    for (int i = 0; i < 100; i++)
        many[i] = (qr_merge_cand){1, 0, 1000 + (uint64_t)i};
    cr_assert_eq(qr_merge_pick(out, many, 100, 8, 0), QR_MERGE_MAX_GROUP);
    free(many);
    /* The cost: the term dictionary and the document table twice (built in memory by the
     * writer, copied as they grow); the mapped files not at all (released as read). */
    uint64_t bytes[QR_SEG_FILE_COUNT] = {0};
    bytes[QR_SEG_TDI] = 1;
    bytes[QR_SEG_DOC] = 2;
    bytes[QR_SEG_POS] = 3;
    bytes[QR_SEG_STO] = 10;
    bytes[QR_SEG_DMT] = 4;
    cr_assert_eq(qr_merge_cost(bytes), 2 * (1 + 4));
}

/* ---- lock, language, not an index ---- */

Test(indexer, second_writer_is_refused)
{
    qr_dir *d = memdir();
    qr_indexer *a, *b = (qr_indexer *)1;
    cr_assert_eq(qr_indexer_open(&a, d, NULL, NULL, 0), 0);
    char err[256];
    cr_assert_eq(qr_indexer_open(&b, d, NULL, err, sizeof err), QR_ELOCKED);
    cr_assert_null(b);
    cr_assert(strstr(err, "index is being written by"), "%s", err);
    qr_indexer_close(a);
    cr_assert_eq(qr_indexer_open(&b, d, NULL, err, sizeof err), 0, "free again after close");
    qr_indexer_close(b);
    qr_dir_close(d);
}

Test(indexer, language_is_recorded_and_checked)
{
    qr_dir *d = memdir();
    qr_index_options fr = {.language = "french"};
    qr_mem_doc doc[] = {MEM_DOC("a/1", "les chanteuses")};
    cr_assert_eq(qr_index_build_docs(d, &fr, doc, 1), 0);
    char *got = dump(d);
    cr_assert(strstr(got, "P chanteux a/1 1\n") || strstr(got, "P chanteus a/1 1\n"), "%s", got);
    free(got);
    qr_indexer *ix;
    char err[256];
    qr_index_options en = {.language = "english"};
    cr_assert_eq(qr_indexer_open(&ix, d, &en, err, sizeof err), QR_EINVAL);
    cr_assert(strstr(err, "language 'french'"), "%s", err);
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, err, sizeof err), 0);
    cr_assert_str_eq(qr_indexer_language(ix), "french");
    qr_indexer_close(ix);
    cr_assert_eq(qr_indexer_open(&ix, d, &fr, err, sizeof err), 0, "the same language is fine");
    qr_indexer_close(ix);
    qr_dir *e = memdir();
    qr_index_options kl = {.language = "klingon"};
    cr_assert_eq(qr_indexer_open(&ix, e, &kl, err, sizeof err), QR_EINVAL);
    cr_assert(strstr(err, "unknown language 'klingon'"), "%s", err);
    /* An empty first run still records the language. */
    qr_index_options none = {.language = "none"};
    cr_assert_eq(qr_index_build_docs(e, &none, NULL, 0), 0);
    qr_index_stats st;
    cr_assert_eq(qr_index_stats_read(&st, e), 0);
    cr_assert_str_eq(st.language, "none");
    cr_assert_eq(st.docs, 0);
    qr_dir_close(e);
    qr_dir_close(d);
}

Test(indexer, a_directory_with_other_files_is_not_an_index)
{
    qr_dir *d = memdir();
    cr_assert_eq(qr_dir_write_file(d, "holiday.jpg", "x", 1), 0);
    qr_indexer *ix;
    char err[256];
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, err, sizeof err), QR_ECORRUPT);
    cr_assert(strstr(err, "is not a quarry index"), "%s", err);
    qr_dir_close(d);
}

Test(indexer, a_manifest_naming_a_missing_segment_is_corrupt)
{
    qr_dir *d = memdir();
    cr_assert_eq(qr_index_build_docs(d, NULL, three, 3), 0);
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    char name[64];
    qr_seg_file_name(name, m.segs[0].id, QR_SEG_POS);
    cr_assert_eq(qr_dir_remove(d, name), 0);
    qr_manifest_free(&m);
    qr_indexer *ix;
    char err[256];
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, err, sizeof err), QR_ECORRUPT);
    cr_assert(strstr(err, "segment"), "%s", err);
    qr_index_stats st;
    cr_assert_eq(qr_index_stats_read(&st, d), QR_ECORRUPT);
    qr_dir_close(d);
}

/* ---- failures leave the last commit ---- */

static void fault_at_every_call(qr_fault_op op, int code)
{
    size_t n = 300;
    char **keep;
    qr_mem_doc *docs = synth(n, 99, &keep);
    long failures = 0;
    long calls_before = 0;
    /* nth = 0, 1, 2, 3, 4, 6, 9, 13, ...: every early call, a sample of the later ones. */
    for (long nth = 0;; nth = nth < 4 ? nth + 1 : nth + nth / 2) {
        qr_dir *mem = memdir(), *d;
        cr_assert_eq(qr_dir_open_faulty(&d, mem), 0);
        qr_index_options o = {.threads = 2, .ram_bytes = 200 << 10, .merge_factor = 3};
        /* A first commit to fall back to. */
        cr_assert_eq(qr_index_build_docs(d, &o, docs, n / 2), 0);
        char *before = dump(d);
        uint64_t g = generation(d);
        qr_indexer *ix;
        cr_assert_eq(qr_indexer_open(&ix, d, &o, NULL, 0), 0);
        for (size_t i = 0; i < n / 2; i += 3)
            docs[i].len--; /* some replacements too */
        calls_before = qr_dir_fault_calls(d, op);
        qr_dir_fault_arm(d, op, nth, code);
        qr_index_result r;
        int rc = qr_indexer_add_docs(ix, docs, n, &r);
        qr_dir_fault_arm(d, op, -1, 0);
        for (size_t i = 0; i < n / 2; i += 3)
            docs[i].len++;
        bool committed = r.committed;
        qr_index_result_free(&r);
        if (rc == 0) {
            /* nth is past the run's last call of op: it went through. */
            cr_assert(committed);
            cr_assert_leq(qr_dir_fault_calls(d, op) - calls_before, nth);
            qr_indexer_close(ix);
            qr_dir_close(d);
            qr_dir_close(mem);
            free(before);
            break;
        }
        failures++;
        cr_assert_neq(rc, 0, "nth=%ld", nth);
        cr_assert(qr_indexer_error(ix)[0], "an error says what failed");
        qr_indexer_close(ix);
        /* The index opens at the last commit with the same content, and nothing stray. */
        cr_assert_eq(generation(d), g, "nth=%ld", nth);
        char *after = dump(d);
        cr_assert(!strcmp(before, after), "nth=%ld: content changed", nth);
        free(after);
        free(before);
        assert_no_garbage(d);
        qr_dir_close(d);
        qr_dir_close(mem);
    }
    cr_assert_gt(failures, 0);
    synth_free(docs, keep, n);
}

Test(indexer, write_failures_leave_the_last_commit)
{
    fault_at_every_call(QR_FAULT_WRITE, QR_ENOSPC);
}

Test(indexer, create_sync_and_rename_failures_leave_the_last_commit)
{
    fault_at_every_call(QR_FAULT_CREATE, QR_EIO);
    fault_at_every_call(QR_FAULT_SYNC, QR_EIO);
    fault_at_every_call(QR_FAULT_SYNC_START, QR_EIO);
    fault_at_every_call(QR_FAULT_RENAME, QR_EIO);
}

Test(indexer, map_failures_during_merges_leave_the_last_commit)
{
    fault_at_every_call(QR_FAULT_MAP, QR_EIO);
}

Test(indexer, allocation_failures_leave_the_last_commit)
{
    size_t n = 120;
    char **keep;
    qr_mem_doc *docs = synth(n, 5, &keep);
    long failures = 0;
    for (long k = 0;; k++) {
        qr_dir *d = memdir();
        qr_index_options o = {.threads = 2, .ram_bytes = 100 << 10, .merge_factor = 2};
        cr_assert_eq(qr_index_build_docs(d, &o, docs, n / 2), 0);
        char *before = dump(d);
        qr_indexer *ix;
        cr_assert_eq(qr_indexer_open(&ix, d, &o, NULL, 0), 0);
        qr_index_result r;
        qr_alloc_fail_after(k);
        int rc = qr_indexer_add_docs(ix, docs, n, &r);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        qr_index_result_free(&r);
        qr_indexer_close(ix);
        char *after = dump(d);
        if (!failed) {
            cr_assert_eq(rc, 0);
            cr_assert(strcmp(before, after), "the run committed");
            free(before);
            free(after);
            qr_dir_close(d);
            break;
        }
        failures++;
        if (rc == 0) {
            /* A failure after the commit (reloading) is not an error of the run. */
            free(before);
            free(after);
            qr_dir_close(d);
            continue;
        }
        cr_assert(!strcmp(before, after), "k=%ld rc=%d: content changed", k, rc);
        assert_no_garbage(d);
        free(before);
        free(after);
        qr_dir_close(d);
        if (k > 50)
            k += k / 3; /* sample the later allocations */
    }
    cr_assert_gt(failures, 10);
    synth_free(docs, keep, n);
}

/* ---- real directories ---- */

struct tree {
    char root[256];  /* mkdtemp dir */
    char data[300];  /* root/articles: the DIR */
    char index[300]; /* root/idx */
};

static void write_file(const char *dir, const char *rel, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *s = path + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(path, 0777);
        *s = '/';
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void write_str(const char *dir, const char *rel, const char *s)
{
    write_file(dir, rel, s, strlen(s));
}

static void set_mtime(const char *dir, const char *rel, time_t t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct timeval tv[2] = {{t, 0}, {t, 0}};
    cr_assert_eq(utimes(path, tv), 0);
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    cr_assert_eq(system(cmd), 0);
}

static void tree_init(struct tree *t)
{
    strcpy(t->root, "/tmp/quarry-test-XXXXXX");
    cr_assert_not_null(mkdtemp(t->root));
    snprintf(t->data, sizeof t->data, "%s/articles", t->root);
    snprintf(t->index, sizeof t->index, "%s/idx", t->root);
    mkdir(t->data, 0777);
}

static int run_dirs(const char *index, const char *const *dirs, size_t n, const qr_index_options *o,
                    qr_index_result *r)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, index, true), 0);
    qr_indexer *ix;
    char err[256];
    int rc = qr_indexer_open(&ix, d, o, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    rc = qr_indexer_run(ix, dirs, n, r);
    qr_indexer_close(ix);
    qr_dir_close(d);
    return rc;
}

static int run1(struct tree *t, const qr_index_options *o, qr_index_result *r)
{
    const char *dirs[] = {t->data};
    return run_dirs(t->index, dirs, 1, o, r);
}

static char *dump_path(const char *index)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, index, false), 0);
    char *s = dump(d);
    assert_no_garbage(d);
    qr_dir_close(d);
    return s;
}

static bool has_skip(const qr_index_result *r, const char *path, qr_skip_reason why)
{
    for (size_t i = 0; i < r->nskips; i++)
        if (!strcmp(r->skips[i].path, path) && r->skips[i].reason == why)
            return true;
    return false;
}

Test(indexer, mirror_semantics_on_a_directory)
{
    struct tree t;
    tree_init(&t);
    write_str(t.data, "world/001.txt", "Grain deal\nShips leave Odesa.\n");
    write_str(t.data, "world/002.txt", "Envoys meet\nTalks in Geneva.\n");
    write_str(t.data, "a-b.txt", "Hyphen file\nsorts before a/ by bytes\n");
    write_str(t.data, "a/x.txt", "Inside a\n");
    write_str(t.data, "empty.txt", "");
    write_file(t.data, "photo.bin", "GIF89a\0\0\x01", 9);
    char big[3 << 20];
    memset(big, 'w', sizeof big);
    big[sizeof big - 1] = '\n';
    write_file(t.data, "big.txt", big, sizeof big);
    char lnk[512];
    snprintf(lnk, sizeof lnk, "%s/link.txt", t.data);
    cr_assert_eq(symlink("world/001.txt", lnk), 0);
    snprintf(lnk, sizeof lnk, "%s/loop", t.data);
    cr_assert_eq(symlink(".", lnk), 0);

    qr_index_options o = {.threads = 2, .max_file_size = 2 << 20};
    qr_index_result r;
    cr_assert_eq(run1(&t, &o, &r), 0);
    cr_assert_eq(r.added, 5);
    cr_assert_eq(r.docs, 5);
    cr_assert_eq(r.skipped[QR_SKIP_BINARY], 1);
    cr_assert_eq(r.skipped[QR_SKIP_TOO_BIG], 1);
    cr_assert_eq(r.skipped[QR_SKIP_NOT_REGULAR], 2);
    cr_assert(has_skip(&r, "articles/photo.bin", QR_SKIP_BINARY));
    cr_assert(has_skip(&r, "articles/big.txt", QR_SKIP_TOO_BIG));
    cr_assert(has_skip(&r, "articles/link.txt", QR_SKIP_NOT_REGULAR));
    cr_assert(has_skip(&r, "articles/loop", QR_SKIP_NOT_REGULAR));
    cr_assert(r.committed);
    cr_assert_gt(r.raw_bytes, 50);
    cr_assert_gt(r.index_bytes, 0);
    qr_index_result_free(&r);
    char *s = dump_path(t.index);
    cr_assert(strstr(s, "D articles/a-b.txt "), "%s", s);
    cr_assert(strstr(s, "D articles/empty.txt 0 0 0 "), "%s", s);
    cr_assert(strstr(s, "|Grain deal|Ships leave Odesa.~|"), "%s", s);
    free(s);

    /* Nothing changed: no commit, nothing read. */
    cr_assert_eq(run1(&t, &o, &r), 0);
    cr_assert(!r.committed);
    cr_assert_eq(r.unchanged, 5);
    cr_assert_eq(r.raw_bytes, 0, "unchanged files are not read");
    qr_index_result_free(&r);

    /* Touch (same content, new mtime): read, found unchanged by hash. */
    set_mtime(t.data, "world/001.txt", 1000000000);
    cr_assert_eq(run1(&t, &o, &r), 0);
    cr_assert_eq(r.unchanged, 5);
    cr_assert_eq(r.added + r.replaced + r.removed, 0);
    cr_assert_gt(r.raw_bytes, 0);
    cr_assert(!r.committed);
    qr_index_result_free(&r);

    /* Edit, add, delete; the binary file becomes text. */
    write_str(t.data, "world/002.txt", "Envoys part\nNo deal in Geneva.\n");
    write_str(t.data, "world/003.txt", "New article\nbody\n");
    char path[512];
    snprintf(path, sizeof path, "%s/a/x.txt", t.data);
    cr_assert_eq(unlink(path), 0);
    write_str(t.data, "photo.bin", "Now text\n");
    cr_assert_eq(run1(&t, &o, &r), 0);
    cr_assert_eq(r.replaced, 1);
    cr_assert_eq(r.added, 2);
    cr_assert_eq(r.removed, 1);
    cr_assert_eq(r.unchanged, 3);
    cr_assert_eq(r.docs, 6);
    cr_assert(r.committed);
    qr_index_result_free(&r);
    s = dump_path(t.index);
    cr_assert(strstr(s, "|Envoys part|"), "%s", s);
    cr_assert(!strstr(s, "Envoys meet"), "%s", s);
    cr_assert(!strstr(s, "articles/a/x.txt"), "%s", s);
    cr_assert(strstr(s, "D articles/photo.bin"), "%s", s);
    free(s);

    /* A text file becoming binary, or too large, leaves the index. */
    write_file(t.data, "world/003.txt", "bin\0ary", 7);
    write_file(t.data, "empty.txt", big, sizeof big);
    cr_assert_eq(run1(&t, &o, &r), 0);
    cr_assert_eq(r.removed, 2);
    cr_assert_eq(r.docs, 4);
    qr_index_result_free(&r);

    /* Another directory with another base name: both kept. */
    char other[300];
    snprintf(other, sizeof other, "%s/notes", t.root);
    write_str(other, "n1.txt", "Note one\n");
    const char *both[] = {other};
    cr_assert_eq(run_dirs(t.index, both, 1, &o, &r), 0);
    cr_assert_eq(r.added, 1);
    cr_assert_eq(r.docs, 5);
    qr_index_result_free(&r);
    cr_assert_eq(run1(&t, &o, &r), 0);
    cr_assert(!r.committed, "mirroring articles/ leaves notes/ alone");
    cr_assert_eq(r.docs, 5);
    qr_index_result_free(&r);

    /* Deleting everything under a DIR empties its share of the index. */
    rm_rf(t.data);
    mkdir(t.data, 0777);
    cr_assert_eq(run1(&t, &o, &r), 0);
    cr_assert_eq(r.removed, 4);
    cr_assert_eq(r.docs, 1);
    qr_index_result_free(&r);
    rm_rf(t.root);
}

Test(indexer, the_index_inside_its_dir_is_not_walked_and_dot_has_a_name)
{
    struct tree t;
    tree_init(&t);
    write_str(t.data, "one.txt", "One\n");
    char index[400];
    snprintf(index, sizeof index, "%s/quarry.idx", t.data);
    char cwd[1024];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(t.data), 0);
    const char *dot[] = {"."};
    qr_index_result r;
    cr_assert_eq(run_dirs(index, dot, 1, NULL, &r), 0);
    cr_assert_eq(r.added, 1);
    cr_assert_eq(r.nskips, 0);
    qr_index_result_free(&r);
    /* Again: the index's own files (now present) are still not documents. */
    cr_assert_eq(run_dirs(index, dot, 1, NULL, &r), 0);
    cr_assert(!r.committed);
    cr_assert_eq(r.unchanged, 1);
    qr_index_result_free(&r);
    cr_assert_eq(chdir(cwd), 0);
    char *s = dump_path(index);
    cr_assert(strstr(s, "D articles/one.txt "), "'.' takes the real directory's name: %s", s);
    free(s);
    rm_rf(t.root);
}

Test(indexer, run_argument_errors)
{
    struct tree t;
    tree_init(&t);
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, t.index, true), 0);
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, NULL, 0), 0);
    qr_index_result r;
    const char *missing[] = {"/nonexistent/quarry/dir"};
    cr_assert_eq(qr_indexer_run(ix, missing, 1, &r), QR_ENOTFOUND);
    cr_assert(strstr(qr_indexer_error(ix), "/nonexistent/quarry/dir"));
    char file[400];
    snprintf(file, sizeof file, "%s/f.txt", t.root);
    write_str(t.root, "f.txt", "x");
    const char *notdir[] = {file};
    cr_assert_eq(qr_indexer_run(ix, notdir, 1, &r), QR_EINVAL);
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/x/same", t.root);
    snprintf(b, sizeof b, "%s/y/same/", t.root);
    write_str(a, "1.txt", "1");
    write_str(b, "2.txt", "2");
    const char *same[] = {a, b};
    cr_assert_eq(qr_indexer_run(ix, same, 2, &r), QR_EINVAL);
    cr_assert(strstr(qr_indexer_error(ix), "base name"), "%s", qr_indexer_error(ix));
    qr_indexer_close(ix);
    qr_dir_close(d);
    rm_rf(t.root);
}

static int progress_calls;
static qr_index_progress last_progress;
static void on_progress(void *ctx, const qr_index_progress *p)
{
    (void)ctx;
    progress_calls++;
    last_progress = *p;
}

Test(indexer, progress_reports_reach_the_total)
{
    struct tree t;
    tree_init(&t);
    char name[64];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "d%d/%03d.txt", i % 4, i);
        write_str(t.data, name, "Some title\nand a body of words\n");
    }
    qr_index_options o = {.progress = on_progress, .progress_ms = 1};
    qr_index_result r;
    cr_assert_eq(run1(&t, &o, &r), 0);
    qr_index_result_free(&r);
    cr_assert_gt(progress_calls, 0);
    cr_assert_eq(last_progress.files_total, 100);
    cr_assert_eq(last_progress.files_done, 100);
    cr_assert_eq(last_progress.bytes_done, last_progress.bytes_total);
    cr_assert_eq(last_progress.bytes_total, 100 * 31, "a first run's walk does not stat the files");
    /* A second run (sizes from the walk's stat) after the files changed. */
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "d%d/%03d.txt", i % 4, i);
        write_str(t.data, name, "Some title\nand a body of other words\n");
    }
    cr_assert_eq(run1(&t, &o, &r), 0);
    cr_assert_eq(r.replaced, 100);
    qr_index_result_free(&r);
    cr_assert_eq(last_progress.files_done, 100);
    cr_assert_eq(last_progress.bytes_total, 100 * 37);
    cr_assert_eq(last_progress.bytes_done, last_progress.bytes_total);
    rm_rf(t.root);
}

/* ---- the walk ---- */

Test(walk, base_names)
{
    char out[256];
    cr_assert_eq(qr_walk_base_name(out, sizeof out, "a/b/articles"), 0);
    cr_assert_str_eq(out, "articles");
    cr_assert_eq(qr_walk_base_name(out, sizeof out, "articles///"), 0);
    cr_assert_str_eq(out, "articles");
    cr_assert_eq(qr_walk_base_name(out, sizeof out, "/"), 0);
    cr_assert_str_eq(out, "root");
    cr_assert_eq(qr_walk_base_name(out, sizeof out, "/tmp/.."), 0);
    cr_assert_str_eq(out, "root");
    cr_assert_eq(qr_walk_base_name(out, sizeof out, "/tmp/."), 0);
    cr_assert_str_eq(out, "tmp");
    cr_assert_eq(qr_walk_base_name(out, sizeof out, "/nonexistent/.."), QR_ENOTFOUND);
    cr_assert_eq(qr_walk_base_name(out, 4, "abcdef"), QR_ETOOBIG);
}

Test(walk, order_is_bytewise_over_whole_paths)
{
    struct tree t;
    tree_init(&t);
    write_str(t.data, "a/x", "1");
    write_str(t.data, "a-b", "2");
    write_str(t.data, "a.c", "3");
    write_str(t.data, "B", "4");
    write_str(t.data, "\xc3\xa9", "5");
    qr_walk w;
    const char *roots[] = {t.data};
    cr_assert_eq(qr_walk_run(&w, roots, 1, 100, 0, 0, NULL), 0);
    cr_assert_eq(w.nfiles, 5);
    const char *want[] = {"articles/B", "articles/a-b", "articles/a.c", "articles/a/x",
                          "articles/\xc3\xa9"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(w.files[i].path, want[i]);
    cr_assert_eq(w.bytes, 5);
    cr_assert_not_null(qr_walk_find(&w, "articles/a.c", 12));
    cr_assert_null(qr_walk_find(&w, "articles/a", 10));
    qr_buf p = {0};
    cr_assert_eq(qr_walk_fs_path(&p, &w, &w.files[3]), 0);
    char want_fs[400];
    snprintf(want_fs, sizeof want_fs, "%s/a/x", t.data);
    cr_assert_str_eq((char *)p.p, want_fs);
    qr_buf_free(&p);
    qr_walk_free(&w);
    qr_walk_free(NULL);
    rm_rf(t.root);
}

Test(walk, read_file_reports_skips)
{
    struct tree t;
    tree_init(&t);
    write_str(t.data, "ok.txt", "hello");
    write_file(t.data, "bin", "x\0y", 3);
    char path[512];
    qr_buf b = {0};
    uint64_t size;
    int64_t mtime;
    int skip;
    snprintf(path, sizeof path, "%s/ok.txt", t.data);
    cr_assert_eq(qr_walk_read_file(&b, &size, &mtime, &skip, path, 100), 0);
    cr_assert_eq(skip, -1);
    cr_assert_eq(size, 5);
    cr_assert(b.n == 5 && !memcmp(b.p, "hello", 5));
    cr_assert_eq(qr_walk_read_file(&b, &size, &mtime, &skip, path, 4), 0);
    cr_assert_eq(skip, QR_SKIP_TOO_BIG);
    snprintf(path, sizeof path, "%s/bin", t.data);
    cr_assert_eq(qr_walk_read_file(&b, &size, &mtime, &skip, path, 100), 0);
    cr_assert_eq(skip, QR_SKIP_BINARY);
    snprintf(path, sizeof path, "%s/gone", t.data);
    cr_assert_eq(qr_walk_read_file(&b, &size, &mtime, &skip, path, 100), 0);
    cr_assert_eq(skip, QR_SKIP_VANISHED);
    snprintf(path, sizeof path, "%s/lnk", t.data);
    cr_assert_eq(symlink("ok.txt", path), 0);
    cr_assert_eq(qr_walk_read_file(&b, &size, &mtime, &skip, path, 100), 0);
    cr_assert_eq(skip, QR_SKIP_CHANGED, "a file replaced by a symlink is not followed");
    snprintf(path, sizeof path, "%s", t.data);
    cr_assert_eq(qr_walk_read_file(&b, &size, &mtime, &skip, path, 100), 0);
    cr_assert_eq(skip, QR_SKIP_CHANGED, "a file replaced by a directory");
    cr_assert(qr_is_binary("a\0", 2));
    char probe[QR_BINARY_PROBE + 2];
    memset(probe, 'a', sizeof probe);
    probe[QR_BINARY_PROBE] = 0;
    cr_assert(!qr_is_binary(probe, sizeof probe), "only the first 8 KiB are probed");
    cr_assert_str_eq(qr_skip_reason_name(QR_SKIP_TOO_BIG), "too large");
    cr_assert_str_eq(qr_skip_reason_name((qr_skip_reason)99), "unknown");
    qr_buf_free(&b);
    rm_rf(t.root);
}

static void read_walked(const qr_walk *w, const char *name, uint64_t max, qr_buf *b, int *skip,
                        uint64_t *size, int64_t *mtime);

/*
 * QR_WALK_NO_STAT lists the regular files unsized (the directory listing's
 * d_type says what they are) but still stats everything else: the same
 * files in the same order as a full walk, symlinks and FIFOs still skipped,
 * and a too-large file left to the read.
 */
Test(walk, no_stat_walk_lists_the_same_files_unsized)
{
    struct tree t;
    tree_init(&t);
    write_str(t.data, "a/x.txt", "A title\nsome words\n");
    write_str(t.data, "a-b.txt", "Short\n");
    write_str(t.data, "big.txt", "A title\nand far too many words for the limit\n");
    char path[512];
    snprintf(path, sizeof path, "%s/link", t.data);
    cr_assert_eq(symlink("a-b.txt", path), 0);
    snprintf(path, sizeof path, "%s/fifo", t.data);
    cr_assert_eq(mkfifo(path, 0644), 0);
    const char *roots[] = {t.data};
    qr_walk full, ns;
    cr_assert_eq(qr_walk_run(&full, roots, 1, 30, 0, 0, NULL), 0);
    cr_assert_eq(qr_walk_run_flags(&ns, roots, 1, 30, 0, 0, QR_WALK_NO_STAT, NULL), 0);
    cr_assert_eq(full.nfiles, 2);
    cr_assert_eq(full.nskips, 3, "link, fifo, big");
    cr_assert_eq(ns.nfiles, 3, "big.txt is listed: only the read finds it too large");
    cr_assert_eq(ns.nskips, 2);
    for (size_t i = 0; i < ns.nskips; i++)
        cr_assert_eq(ns.skips[i].reason, QR_SKIP_NOT_REGULAR);
    cr_assert_eq(ns.bytes, 0);
    const char *want[] = {"articles/a-b.txt", "articles/a/x.txt", "articles/big.txt"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(ns.files[i].path, want[i]);
        cr_assert_eq(ns.files[i].size, QR_WALK_SIZE_UNKNOWN);
        cr_assert_eq(ns.files[i].mtime_ns, 0);
    }
    /* Read: the size and mtime the full walk saw, or the too-large skip. */
    qr_buf b = {0};
    int skip;
    uint64_t size;
    int64_t mtime;
    for (size_t i = 0; i < full.nfiles; i++) {
        const char *name = full.files[i].path + full.files[i].rel;
        read_walked(&ns, name, 30, &b, &skip, &size, &mtime);
        cr_assert_eq(skip, -1, "%s", name);
        cr_assert_eq(size, full.files[i].size, "%s", name);
        cr_assert_eq(mtime, full.files[i].mtime_ns, "%s", name);
        cr_assert_eq(b.n, size);
    }
    read_walked(&ns, "big.txt", 30, &b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_TOO_BIG);
    qr_buf_free(&b);
    qr_walk_free(&full);
    qr_walk_free(&ns);
    rm_rf(t.root);
}

/*
 * What a walk listed changes under it: fifo.txt becomes a FIFO, dir.txt a
 * directory, link.txt a symlink to link_to, and gone.txt goes.
 */
static void replace_after_walk(const char *data, const char *link_to)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fifo.txt", data);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkfifo(path, 0644), 0);
    snprintf(path, sizeof path, "%s/dir.txt", data);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/link.txt", data);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(symlink(link_to, path), 0);
    snprintf(path, sizeof path, "%s/gone.txt", data);
    cr_assert_eq(unlink(path), 0);
}

/* The files replace_after_walk changed, read as the walk listed them: each skipped, with its
 * reason. */
static void expect_replaced_skipped(const qr_walk *w, qr_buf *b)
{
    int skip;
    uint64_t size;
    int64_t mtime;
    read_walked(w, "fifo.txt", 100, b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_CHANGED, "a file replaced by a FIFO");
    read_walked(w, "dir.txt", 100, b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_CHANGED, "a file replaced by a directory");
    read_walked(w, "link.txt", 100, b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_CHANGED, "a file replaced by a symlink is not followed");
    read_walked(w, "gone.txt", 100, b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_VANISHED);
}

/* An unsized file that changed kind or vanished after the walk: the full check's reason. */
Test(walk, read_walked_of_an_unsized_file_that_changed)
{
    struct tree t;
    tree_init(&t);
    const char *names[] = {"fifo.txt", "dir.txt", "link.txt", "gone.txt", "ok.txt", "bin"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        write_str(t.data, names[i], "A title\nsome words\n");
    write_file(t.data, "bin", "x\0y", 3);
    qr_walk w;
    const char *roots[] = {t.data};
    cr_assert_eq(qr_walk_run_flags(&w, roots, 1, 100, 0, 0, QR_WALK_NO_STAT, NULL), 0);
    cr_assert_eq(w.nfiles, sizeof names / sizeof *names);
    replace_after_walk(t.data, "ok.txt");
    qr_buf b = {0};
    int skip;
    uint64_t size;
    int64_t mtime;
    expect_replaced_skipped(&w, &b);
    read_walked(&w, "bin", 100, &b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_BINARY);
    read_walked(&w, "ok.txt", 100, &b, &skip, &size, &mtime);
    cr_assert(skip == -1 && size == 19 && b.n == 19 && mtime != 0);
    qr_buf_free(&b);
    const qr_walk_file *f = qr_walk_find(&w, "articles/ok.txt", 15);
    qr_buf fs = {0};
    cr_assert_eq(qr_walk_fs_path(&fs, &w, f), 0);
    qr_alloc_fail_after(0);
    int rc = qr_walk_read_walked(&b, &size, &mtime, &skip, (const char *)fs.p, f, 100);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ENOMEM);
    qr_buf_free(&fs);
    qr_buf_free(&b);
    qr_walk_free(&w);
    rm_rf(t.root);
}

/* Reads document `name` of walk w with qr_walk_read_walked; *skip receives the outcome. */
static void read_walked(const qr_walk *w, const char *name, uint64_t max, qr_buf *b, int *skip,
                        uint64_t *size, int64_t *mtime)
{
    char doc[256];
    snprintf(doc, sizeof doc, "articles/%s", name);
    const qr_walk_file *f = qr_walk_find(w, doc, strlen(doc));
    cr_assert_not_null(f, "%s", doc);
    qr_buf fs = {0};
    cr_assert_eq(qr_walk_fs_path(&fs, w, f), 0);
    *size = 0;
    *mtime = 0;
    cr_assert_eq(qr_walk_read_walked(b, size, mtime, skip, (const char *)fs.p, f, max), 0);
    qr_buf_free(&fs);
}

/*
 * The walk's stat stands for the one before the read: an unchanged file is
 * read in one go with the walk's size and mtime; one that changed since the
 * walk takes the full check and comes out as qr_walk_read_file says: its
 * current content, or the reason to skip it.
 */
Test(walk, read_walked_trusts_the_walk_only_for_unchanged_files)
{
    struct tree t;
    tree_init(&t);
    const char *names[] = {"same.txt",   "empty.txt",   "bin",      "touched.txt",
                           "longer.txt", "shorter.txt", "fifo.txt", "dir.txt",
                           "link.txt",   "gone.txt",    "grown.txt"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        write_str(t.data, names[i], "A title\nsome words\n");
    write_str(t.data, "empty.txt", "");
    write_file(t.data, "bin", "x\0y", 3);
    qr_walk w;
    const char *roots[] = {t.data};
    cr_assert_eq(qr_walk_run(&w, roots, 1, 100, 0, 0, NULL), 0);
    cr_assert_eq(w.nfiles, sizeof names / sizeof *names);

    char path[512];
    set_mtime(t.data, "touched.txt", 1000000000);
    write_str(t.data, "longer.txt", "A title\nsome words, and more\n");
    write_str(t.data, "shorter.txt", "Short\n");
    replace_after_walk(t.data, "same.txt");
    char big[200];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    write_str(t.data, "grown.txt", big);

    qr_buf b = {0};
    int skip;
    uint64_t size;
    int64_t mtime;
    read_walked(&w, "same.txt", 100, &b, &skip, &size, &mtime);
    const qr_walk_file *f = qr_walk_find(&w, "articles/same.txt", 17);
    cr_assert_eq(skip, -1);
    cr_assert(b.n == 19 && !memcmp(b.p, "A title\nsome words\n", 19));
    cr_assert(size == f->size && mtime == f->mtime_ns);
    read_walked(&w, "empty.txt", 100, &b, &skip, &size, &mtime);
    cr_assert(skip == -1 && b.n == 0 && size == 0);
    read_walked(&w, "bin", 100, &b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_BINARY);
    /* Changed since the walk: indexed as they are now. */
    read_walked(&w, "touched.txt", 100, &b, &skip, &size, &mtime);
    cr_assert(skip == -1 && b.n == 19 && size == 19);
    cr_assert_eq(mtime, (int64_t)1000000000 * 1000000000, "the new mtime, not the walk's");
    read_walked(&w, "longer.txt", 100, &b, &skip, &size, &mtime);
    cr_assert(skip == -1 && size == 29 && b.n == 29 &&
              !memcmp(b.p, "A title\nsome words, and", 23));
    read_walked(&w, "shorter.txt", 100, &b, &skip, &size, &mtime);
    cr_assert(skip == -1 && size == 6 && b.n == 6 && !memcmp(b.p, "Short\n", 6));
    /* Or skipped, with the reason the full check gives. */
    expect_replaced_skipped(&w, &b);
    read_walked(&w, "grown.txt", 100, &b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_TOO_BIG, "grew past the limit since the walk");
    read_walked(&w, "same.txt", 10, &b, &skip, &size, &mtime);
    cr_assert_eq(skip, QR_SKIP_TOO_BIG, "a smaller limit than the walk's");
    qr_buf_free(&b);
    f = qr_walk_find(&w, "articles/same.txt", 17);
    qr_buf fs = {0};
    cr_assert_eq(qr_walk_fs_path(&fs, &w, f), 0);
    qr_alloc_fail_after(0);
    int rc = qr_walk_read_walked(&b, &size, &mtime, &skip, (const char *)fs.p, f, 100);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ENOMEM);
    qr_buf_free(&fs);
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/same.txt", t.data);
        cr_assert_eq(chmod(path, 0), 0);
        read_walked(&w, "same.txt", 100, &b, &skip, &size, &mtime);
        cr_assert_eq(skip, QR_SKIP_UNREADABLE);
    }
    qr_buf_free(&b);
    qr_walk_free(&w);
    rm_rf(t.root);
}

Test(walk, unreadable_files_and_directories)
{
    if (geteuid() == 0)
        cr_skip_test("running as root: permissions cannot make a file unreadable");
    struct tree t;
    tree_init(&t);
    write_str(t.data, "secret/a.txt", "a");
    write_str(t.data, "locked.txt", "b");
    write_str(t.data, "fine.txt", "c");
    char path[512];
    snprintf(path, sizeof path, "%s/secret", t.data);
    cr_assert_eq(chmod(path, 0), 0);
    snprintf(path, sizeof path, "%s/locked.txt", t.data);
    cr_assert_eq(chmod(path, 0), 0);
    qr_index_result r;
    cr_assert_eq(run1(&t, NULL, &r), 0);
    cr_assert_eq(r.added, 1);
    cr_assert(has_skip(&r, "articles/secret/", QR_SKIP_UNREADABLE));
    cr_assert(has_skip(&r, "articles/locked.txt", QR_SKIP_UNREADABLE));
    qr_index_result_free(&r);
    snprintf(path, sizeof path, "%s/secret", t.data);
    chmod(path, 0755);
    rm_rf(t.root);
}

/* ---- corrupt sources, load errors, merge_all failures ---- */

/* Replaces file `name` of dir by its image with byte `at` flipped; refooter: fix the checksum. */
static void damage(qr_dir *d, const char *name, size_t at, bool refooter)
{
    qr_mapping *m;
    qr_slice img;
    cr_assert_eq(qr_dir_map(d, name, &m, &img), 0);
    uint8_t *copy = malloc(img.n);
    memcpy(copy, img.p, img.n);
    qr_mapping_close(m);
    copy[at % img.n] ^= 0x5a;
    if (refooter && img.n >= QR_FILE_HEADER_SIZE + QR_FILE_FOOTER_SIZE)
        qr_store_u64(copy + img.n - 8, qr_checksum(copy, img.n - 8));
    cr_assert_eq(qr_dir_remove(d, name), 0);
    cr_assert_eq(qr_dir_write_file(d, name, copy, img.n), 0);
    free(copy);
}

static uint64_t file_size(qr_dir *d, const char *name)
{
    uint64_t n;
    cr_assert_eq(qr_dir_size(d, name, &n), 0);
    return n;
}

/* Two segments, the first with deletions. */
static qr_dir *two_segments(qr_mem_doc *docs, size_t n)
{
    qr_dir *d = memdir();
    qr_index_options o = {.threads = 1};
    cr_assert_eq(qr_index_build_docs(d, &o, docs, n / 2), 0);
    cr_assert_eq(qr_index_build_docs(d, &o, docs + n / 2, n - n / 2), 0);
    docs[0].len /= 2; /* replaced: deleted in the first segment */
    cr_assert_eq(qr_index_build_docs(d, &o, docs, 1), 0);
    docs[0].len *= 2;
    return d;
}

Test(indexer, corrupt_segments_are_never_merged_nor_crash)
{
    size_t n = 40;
    char **keep;
    qr_mem_doc *docs = synth(n, 11, &keep);
    long errors = 0, fine = 0;
    for (int refooter = 0; refooter < 2; refooter++) {
        for (int kind = 0; kind < QR_SEG_FILE_COUNT; kind++) {
            qr_dir *probe = two_segments(docs, n);
            qr_manifest m;
            cr_assert_eq(qr_manifest_load(&m, probe), 0);
            char name[64];
            qr_seg_file_name(name, m.segs[0].id, (qr_seg_file)kind);
            uint64_t size = file_size(probe, name);
            qr_manifest_free(&m);
            qr_dir_close(probe);
            uint64_t step = size / 23 + 1;
            for (uint64_t at = 0; at < size; at += step) {
                qr_dir *d = two_segments(docs, n);
                uint64_t g = generation(d);
                damage(d, name, (size_t)at, refooter);
                /* Statistics read every term's postings: an error, never a crash. */
                qr_index_stats st;
                int src = qr_index_stats_read(&st, d);
                cr_assert(src == 0 || src == QR_ECORRUPT || src == QR_EVERSION, "stats rc %d", src);
                qr_indexer *ix;
                int rc = qr_indexer_open(&ix, d, NULL, NULL, 0);
                if (rc == 0) {
                    qr_index_result r;
                    rc = qr_indexer_merge_all(ix, &r);
                    qr_index_result_free(&r);
                    if (rc) {
                        cr_assert(qr_indexer_error(ix)[0]);
                        cr_assert_eq(generation(d), g, "a failed merge commits nothing");
                        assert_no_garbage(d);
                    }
                    qr_indexer_close(ix);
                }
                if (!refooter)
                    cr_assert_neq(rc, 0, "%s byte %llu: a bad checksum is caught", name,
                                  (unsigned long long)at);
                if (rc) {
                    cr_assert(rc == QR_ECORRUPT || rc == QR_EVERSION || rc == QR_EINVAL,
                              "%s byte %llu: rc %d", name, (unsigned long long)at, rc);
                    errors++;
                } else {
                    fine++;
                }
                qr_dir_close(d);
            }
        }
    }
    cr_assert_gt(errors, 100);
    synth_free(docs, keep, n);
}

Test(indexer, load_errors_name_the_file)
{
    size_t n = 40;
    char **keep;
    qr_mem_doc *docs = synth(n, 12, &keep);
    qr_dir *d = two_segments(docs, n);
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    cr_assert_gt(m.segs[0].del_gen, 0);
    char name[64];
    qr_deletes_file_name(name, m.segs[0].id, m.segs[0].del_gen);
    cr_assert_eq(qr_dir_remove(d, name), 0);
    qr_indexer *ix;
    char err[256];
    cr_assert_neq(qr_indexer_open(&ix, d, NULL, err, sizeof err), 0);
    cr_assert(strstr(err, name), "%s", err);
    qr_dir_close(d);

    /* A manifest whose document count disagrees with the segment. */
    d = two_segments(docs, n);
    qr_manifest_free(&m);
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    m.generation++;
    m.segs[1].docs++;
    cr_assert_eq(qr_manifest_commit(d, &m), 0);
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, err, sizeof err), QR_ECORRUPT);
    cr_assert(strstr(err, "the manifest says"), "%s", err);
    qr_manifest_free(&m);
    qr_dir_close(d);
    synth_free(docs, keep, n);
}

Test(indexer, merge_all_failures_leave_the_last_commit)
{
    size_t n = 40;
    char **keep;
    qr_mem_doc *docs = synth(n, 13, &keep);
    qr_fault_op ops[] = {QR_FAULT_MAP, QR_FAULT_WRITE, QR_FAULT_RENAME};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        long failures = 0;
        for (long nth = 0;; nth++) {
            qr_dir *mem = two_segments(docs, n), *d;
            cr_assert_eq(qr_dir_open_faulty(&d, mem), 0);
            char *before = dump(d);
            uint64_t g = generation(d);
            qr_indexer *ix;
            cr_assert_eq(qr_indexer_open(&ix, d, NULL, NULL, 0), 0);
            qr_dir_fault_arm(d, ops[k], nth, QR_EIO);
            qr_index_result r;
            int rc = qr_indexer_merge_all(ix, &r);
            qr_dir_fault_arm(d, ops[k], -1, 0);
            qr_index_result_free(&r);
            qr_indexer_close(ix);
            char *after = dump(d);
            cr_assert(!strcmp(before, after), "merging never changes the content");
            free(before);
            free(after);
            bool done = rc == 0;
            if (rc) {
                failures++;
                cr_assert_eq(generation(d), g);
                assert_no_garbage(d);
            }
            qr_dir_close(d);
            qr_dir_close(mem);
            if (done)
                break;
        }
        cr_assert_gt(failures, 0, "op %d", (int)ops[k]);
    }
    synth_free(docs, keep, n);
}

Test(walk, deep_trees_and_long_names)
{
    struct tree t;
    tree_init(&t);
    /* 300 nested directories: the walk stops descending at 256 and says so. */
    char rel[1024] = "";
    for (int i = 0; i < 300; i++)
        strcat(rel, "d/");
    strcat(rel, "deep.txt");
    write_str(t.data, rel, "Deep\n");
    write_str(t.data, "top.txt", "Top\n");
    qr_walk w;
    const char *roots[] = {t.data};
    cr_assert_eq(qr_walk_run(&w, roots, 1, 100, 0, 0, NULL), 0);
    cr_assert_eq(w.nfiles, 1);
    cr_assert_eq(w.nskips, 1);
    cr_assert_eq(w.skips[0].reason, QR_SKIP_NOT_REGULAR);
    size_t depth = 0;
    for (const char *c = w.skips[0].path; *c; c++)
        depth += *c == '/';
    cr_assert_eq(depth, 257, "the root and 255 directories entered, the next one refused");
    cr_assert_eq(w.skips[0].path[strlen(w.skips[0].path) - 1], '/');
    qr_walk_free(&w);
    /* A root the system cannot open (a name longer than NAME_MAX). */
    char longname[600];
    snprintf(longname, sizeof longname, "%s/", t.root);
    for (int i = 0; i < 300; i++)
        strcat(longname, "x");
    const char *bad[] = {longname};
    size_t which = 99;
    cr_assert_eq(qr_walk_run(&w, bad, 1, 100, 0, 0, &which), QR_ETOOBIG, "no such base name");
    cr_assert_eq(which, 0);
    /* A root that cannot be opened: a symlink loop (ELOOP). */
    char loop[400];
    snprintf(loop, sizeof loop, "%s/loop", t.root);
    cr_assert_eq(symlink("loop", loop), 0);
    const char *looping[] = {t.data, loop};
    cr_assert_eq(qr_walk_run(&w, looping, 2, 100, 0, 0, &which), QR_EIO);
    cr_assert_eq(which, 1);
    qr_dir *d = memdir();
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, NULL, 0), 0);
    qr_index_result r;
    cr_assert_neq(qr_indexer_run(ix, bad, 1, &r), 0);
    cr_assert(strstr(qr_indexer_error(ix), "xxxx"), "%s", qr_indexer_error(ix));
    qr_indexer_close(ix);
    qr_dir_close(d);
    rm_rf(t.root);
}

Test(indexer, allocation_failures_in_a_directory_run)
{
    struct tree t;
    tree_init(&t);
    char name[64];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "s%d/%02d.txt", i % 3, i);
        write_str(t.data, name, "A title\nwords words antidisestablishmentarianism-ish more\n");
    }
    write_file(t.data, "bin.dat", "\0\1", 2);
    char lnk[512];
    snprintf(lnk, sizeof lnk, "%s/lnk", t.data);
    cr_assert_eq(symlink("s0", lnk), 0);
    const char *roots[] = {t.data};
    long failures = 0;
    for (long k = 0;; k++) {
        qr_dir *d = memdir();
        qr_index_options o = {.threads = 2, .ram_bytes = 64 << 10, .merge_factor = 2};
        /* A first commit to fall back to, with one file that will be removed. */
        qr_mem_doc old[] = {MEM_DOC("articles/gone.txt", "Gone\n")};
        cr_assert_eq(qr_index_build_docs(d, &o, old, 1), 0);
        char *before = dump(d);
        qr_alloc_fail_after(k);
        qr_indexer *ix;
        int rc = qr_indexer_open(&ix, d, &o, NULL, 0);
        qr_index_result r = {0};
        if (!rc) {
            rc = qr_indexer_run(ix, roots, 1, &r);
            qr_index_result_free(&r);
        }
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        qr_indexer_close(ix);
        char *after = dump(d);
        if (!failed) {
            cr_assert_eq(rc, 0);
            cr_assert(strstr(after, "D articles/s2/11.txt"));
            cr_assert(!strstr(after, "gone.txt"));
            free(before);
            free(after);
            qr_dir_close(d);
            break;
        }
        failures++;
        if (rc)
            cr_assert(!strcmp(before, after), "k=%ld rc=%d: content changed", k, rc);
        /* The next writer collects what a failed run or clean-up left behind. */
        cr_assert_eq(qr_indexer_open(&ix, d, &o, NULL, 0), 0);
        qr_indexer_close(ix);
        assert_no_garbage(d);
        free(before);
        free(after);
        qr_dir_close(d);
    }
    cr_assert_gt(failures, 100);
    rm_rf(t.root);
}

Test(indexer, the_next_writer_collects_what_a_crashed_one_left)
{
    qr_dir *d = memdir();
    cr_assert_eq(qr_index_build_docs(d, NULL, three, 3), 0);
    cr_assert_eq(qr_dir_write_file(d, "seg-00000000000000ff.pos", "x", 1), 0);
    cr_assert_eq(qr_dir_write_file(d, "MANIFEST-0000000000000009.tmp", "x", 1), 0);
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, NULL, NULL, 0), 0);
    qr_indexer_close(ix);
    assert_no_garbage(d);
    qr_dir_close(d);
}

Test(indexer, deletion_file_failures_leave_the_last_commit)
{
    size_t n = 30;
    char **keep;
    qr_mem_doc *docs = synth(n, 14, &keep);
    qr_fault_op ops[] = {QR_FAULT_CREATE, QR_FAULT_WRITE, QR_FAULT_SYNC};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        qr_dir *mem = memdir(), *d;
        cr_assert_eq(qr_dir_open_faulty(&d, mem), 0);
        qr_index_options o = {.threads = 1, .merge_factor = 100};
        cr_assert_eq(qr_index_build_docs(d, &o, docs, n), 0);
        char *before = dump(d);
        uint64_t g = generation(d);
        qr_indexer *ix;
        cr_assert_eq(qr_indexer_open(&ix, d, &o, NULL, 0), 0);
        /* One replacement: a new segment and the old one's deletion file; fail each call. */
        docs[3].len--;
        long calls = qr_dir_fault_calls(d, ops[k]);
        qr_index_result r;
        int rc = 0;
        long nth;
        for (nth = 0; nth < 64; nth++) {
            qr_dir_fault_arm(d, ops[k], nth, QR_ENOSPC);
            rc = qr_indexer_add_docs(ix, docs + 3, 1, &r);
            qr_dir_fault_arm(d, ops[k], -1, 0);
            bool committed = r.committed;
            qr_index_result_free(&r);
            if (!rc) {
                cr_assert(committed);
                break;
            }
            if (strstr(qr_indexer_error(ix), ".del"))
                calls = -1; /* the deletion file's own failure was reached */
            cr_assert_eq(generation(d), g);
            char *after = dump(d);
            cr_assert(!strcmp(before, after));
            free(after);
            assert_no_garbage(d);
        }
        cr_assert_eq(calls, -1, "op %d: a deletion file failed at least once", (int)ops[k]);
        docs[3].len++;
        free(before);
        qr_indexer_close(ix);
        qr_dir_close(d);
        qr_dir_close(mem);
    }
    synth_free(docs, keep, n);
}

Test(merger, direct_merges_of_segments)
{
    qr_dir *d = memdir();
    cr_assert_eq(qr_index_build_docs(d, NULL, three, 3), 0);
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, d, m.segs[0].id, true), 0);
    /* Every document deleted: nothing is written. */
    qr_deletes all;
    cr_assert_eq(qr_deletes_init(&all, 3), 0);
    for (uint32_t i = 0; i < 3; i++)
        cr_assert_eq(qr_deletes_add(&all, i), 0);
    qr_merge_src src[2] = {{s, &all}, {s, NULL}};
    qr_segment_info info;
    cr_assert_eq(qr_merge_segments(&info, d, 100, src, 1), 0);
    cr_assert_eq(info.docs, 0);
    char name[64];
    qr_seg_file_name(name, 100, QR_SEG_DOC);
    cr_assert(!qr_dir_exists(d, name));
    /* The same path live in two sources is refused, and leaves nothing behind. */
    src[0].del = NULL;
    cr_assert_eq(qr_merge_segments(&info, d, 101, src, 2), QR_EINVAL);
    qr_seg_file_name(name, 101, QR_SEG_DOC);
    cr_assert(!qr_dir_exists(d, name));
    /* One document deleted: the others keep their content. */
    qr_deletes one;
    cr_assert_eq(qr_deletes_init(&one, 3), 0);
    cr_assert_eq(qr_deletes_add(&one, 1), 0);
    src[0].del = &one;
    cr_assert_eq(qr_merge_segments(&info, d, 102, src, 1), 0);
    cr_assert_eq(info.docs, 2);
    qr_segment *merged;
    cr_assert_eq(qr_segment_open(&merged, d, 102, true), 0);
    qr_slice p = qr_doctable_path(qr_segment_doctable(merged), 1);
    cr_assert(p.n == 14 && !memcmp(p.p, "news/empty.txt", 14));
    qr_term_meta tm;
    cr_assert_eq(qr_segment_term(merged, "crimea", 6, &tm), 0);
    cr_assert_eq(qr_segment_term(merged, "talk", 4, &tm), QR_ENOTFOUND, "only in the deleted doc");
    uint64_t terms;
    const qr_segment *both[2] = {s, merged};
    cr_assert_eq(qr_merge_count_terms(&terms, both, 2), 0);
    qr_segment_info si;
    qr_segment_get_info(s, &si);
    cr_assert_eq(terms, si.terms, "the merged segment's terms are a subset");
    qr_segment_close(merged);
    qr_deletes_free(&one);
    qr_deletes_free(&all);
    qr_segment_close(s);
    qr_manifest_free(&m);
    qr_dir_close(d);
}

/* ---- merge sources: opened once, released as read ---- */

/* Opens segment id of d both ways; both must return want. */
static void open_both(qr_dir *d, uint64_t id, int want, const char *what)
{
    qr_segment *a = NULL, *b = NULL;
    cr_assert_eq(qr_segment_open(&a, d, id, true), want, "%s: verified at once", what);
    cr_assert_eq(qr_segment_open_once(&b, d, id), want, "%s: piecewise", what);
    cr_assert_eq(a == NULL, want != 0);
    cr_assert_eq(b == NULL, want != 0);
    qr_segment_close(a);
    qr_segment_close(b);
}

/* Replaces file kind k of segment id by bytes p[0..n). */
static void replace_file(qr_dir *d, uint64_t id, qr_seg_file k, const uint8_t *p, size_t n)
{
    char name[64];
    qr_seg_file_name(name, id, k);
    cr_assert_eq(qr_dir_remove(d, name), 0);
    cr_assert_eq(qr_dir_write_file(d, name, p, n), 0);
}

Test(merger, sources_opened_once_check_alike_and_read_alike_after_release)
{
    /* Twelve 1 MiB documents of random printable words: a .sto of several release steps. */
    enum { NBIG = 12, BIG = 1 << 20 };
    char *texts = malloc((size_t)NBIG * BIG);
    char paths[NBIG][32];
    qr_mem_doc docs[NBIG];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < (size_t)NBIG * BIG; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        texts[i] = x % 7 == 0 ? ' ' : (char)(0x21 + (x >> 8) % 94);
    }
    for (int i = 0; i < NBIG; i++) {
        snprintf(paths[i], sizeof paths[i], "big/%02d.txt", i);
        docs[i] = (qr_mem_doc){paths[i], texts + (size_t)i * BIG, BIG};
    }
    struct tree t;
    tree_init(&t);
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, t.index, true), 0);
    qr_index_options o = {.threads = 1};
    cr_assert_eq(qr_index_build_docs(d, &o, docs, NBIG), 0);
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    cr_assert_eq(m.nsegs, 1);
    uint64_t id = m.segs[0].id;
    qr_manifest_free(&m);

    qr_segment *a, *b;
    cr_assert_eq(qr_segment_open(&a, d, id, true), 0);
    cr_assert_eq(qr_segment_open_once(&b, d, id), 0);
    qr_segment_info ia, ib;
    qr_segment_get_info(a, &ia);
    qr_segment_get_info(b, &ib);
    cr_assert_eq(memcmp(&ia, &ib, sizeof ia), 0);
    cr_assert_gt(ia.bytes[QR_SEG_STO], QR_SEG_RELEASE_BYTES, "several steps");
    /* Released pages read again read the same bytes. */
    qr_segment_release(b, QR_SEG_ALL_FILES);
    qr_segment_release(a, QR_SEG_BIT(QR_SEG_STO));
    for (uint32_t doc = 0; doc < ia.docs; doc++) {
        qr_slice ta, ba, tb, bb;
        cr_assert_eq(qr_docstore_get(qr_segment_docstore(a), doc, &ta, &ba), 0);
        cr_assert_eq(qr_docstore_get(qr_segment_docstore(b), doc, &tb, &bb), 0);
        cr_assert(ta.n == tb.n && !memcmp(ta.p, tb.p, ta.n));
        cr_assert(ba.n == bb.n && !memcmp(ba.p, bb.p, ba.n));
        cr_assert(ba.n + ta.n + 1 >= BIG - 64, "the whole text is stored");
    }
    qr_slice sa = qr_segment_pos_stream(a), sb = qr_segment_pos_stream(b);
    cr_assert(sa.n == sb.n && !memcmp(sa.p, sb.p, sa.n));
    sa = qr_segment_doc_stream(a), sb = qr_segment_doc_stream(b);
    cr_assert(sa.n == sb.n && !memcmp(sa.p, sb.p, sa.n));
    qr_segment_close(a);
    qr_segment_close(b);

    /* Damage: each file with a flipped byte, then cut short; .doc with a new version under a
     * valid checksum. Both ways give the same error, from the same file. */
    char name[64];
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        qr_seg_file_name(name, id, (qr_seg_file)k);
        qr_mapping *map;
        qr_slice f;
        cr_assert_eq(qr_dir_map(d, name, &map, &f), 0);
        uint8_t *copy = malloc(f.n);
        memcpy(copy, f.p, f.n);
        copy[f.n / 2] ^= 0x40;
        replace_file(d, id, (qr_seg_file)k, copy, f.n);
        open_both(d, id, QR_ECORRUPT, qr_seg_file_ext((qr_seg_file)k));
        copy[f.n / 2] ^= 0x40;
        replace_file(d, id, (qr_seg_file)k, copy, 10);
        open_both(d, id, QR_ECORRUPT, "cut short");
        if (k == QR_SEG_DOC) {
            copy[4] = 99; /* the version */
            uint64_t sum = qr_checksum(copy, f.n - 8);
            qr_store_u64(copy + f.n - 8, sum);
            replace_file(d, id, (qr_seg_file)k, copy, f.n);
            open_both(d, id, QR_EVERSION, "newer version");
        }
        replace_file(d, id, (qr_seg_file)k, f.p, f.n);
        open_both(d, id, 0, "restored");
        qr_mapping_close(map);
        free(copy);
    }
    qr_dir_close(d);
    rm_rf(t.root);
    free(texts);
}

Test(indexer, lists_larger_than_the_budget_leave_the_workers_a_quarter)
{
    /* 300 items of 56 bytes outgrow three quarters of a 16 KiB budget: the workers still get
     * a quarter of it (an empty builder is larger: a flush after every document), where
     * budget - lists would wrap around and never flush. */
    size_t n = 300;
    char **keep;
    qr_mem_doc *docs = synth(n, 11, &keep);
    qr_dir *ref = memdir();
    cr_assert_eq(qr_index_build_docs(ref, NULL, docs, n), 0);
    char *want = dump(ref);
    qr_dir *d = memdir();
    qr_index_options o = {.threads = 1, .ram_bytes = 16 << 10};
    qr_indexer *ix;
    cr_assert_eq(qr_indexer_open(&ix, d, &o, NULL, 0), 0);
    qr_index_result r;
    cr_assert_eq(qr_indexer_add_docs(ix, docs, n, &r), 0);
    cr_assert_eq(r.flushes, n);
    qr_index_result_free(&r);
    qr_indexer_close(ix);
    char *got = dump(d);
    cr_assert(!strcmp(got, want));
    free(got);
    free(want);
    qr_dir_close(d);
    qr_dir_close(ref);
    synth_free(docs, keep, n);
}
