/*
 * Tests for index/check.c: sound indexes (in memory and on disk) pass with
 * the expected counts; every byte flip and a sample of truncations of every
 * file of a small on-disk index are reported against that file; missing
 * files, orphans (a warning only) and a missing deletion file; then damage
 * that checksums cannot see, made by hand with the storage writers or by
 * patching a field and recomputing the frame's checksum: df, ttf and
 * positions that disagree with the postings, document counts, deletions and
 * live lengths that disagree with the manifest, an unknown language, a path
 * live in two segments, broken manifests, bitmaps, stores and dictionaries;
 * the per-file display cap; allocation failures and I/O errors.
 *
 * Indexes are built from short texts through the analyzer and the segment
 * writer (what the indexer does), so terms, positions and lengths are real.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/analyzer.h"
#include "index/check.h"
#include "index/indexer.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/dir.h"
#include "storage/dir_impl.h"
#include "storage/docstore.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"
#include "storage/termdict.h"

/* ---- building indexes ---- */

typedef struct tdoc {
    const char *path;
    const char *title;
    const char *body;
} tdoc;

/* One token of a segment being built. */
typedef struct tok {
    char term[QR_MAX_TERM_BYTES * 4 + 1];
    size_t len;
    uint32_t doc, pos;
} tok;

typedef struct toks {
    tok *v;
    size_t n, cap;
    uint32_t doc;
} toks;

static int collect(void *ctx, const qr_token *t)
{
    toks *k = ctx;
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 256;
        k->v = realloc(k->v, k->cap * sizeof *k->v);
        cr_assert_not_null(k->v);
    }
    tok *o = &k->v[k->n++];
    cr_assert_lt(t->len, sizeof o->term);
    memcpy(o->term, t->term, t->len);
    o->len = t->len;
    o->doc = k->doc;
    o->pos = t->pos;
    return 0;
}

static int cmp_tok(const void *a, const void *b)
{
    const tok *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->term, y->term, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Writes segment id of docs (paths increasing) into d, analysed as the indexer does. */
static qr_manifest_seg write_seg(qr_dir *d, uint64_t id, const tdoc *docs, size_t n)
{
    qr_analyzer *a;
    cr_assert_eq(qr_analyzer_open(&a, "english"), 0);
    qr_segment_writer *w;
    cr_assert_eq(qr_segment_writer_open(&w, d, id), 0);
    toks k = {0};
    qr_manifest_seg ms = {id, (uint32_t)n, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        uint32_t tp = 0, bp = 0;
        k.doc = (uint32_t)i;
        cr_assert_eq(qr_analyze(a, docs[i].title, strlen(docs[i].title), 0, 0, collect, &k, &tp),
                     0);
        cr_assert_eq(qr_analyze(a, docs[i].body, strlen(docs[i].body), tp, 0, collect, &k, &bp), 0);
        qr_doc_in in = {docs[i].path,
                        strlen(docs[i].path),
                        docs[i].title,
                        strlen(docs[i].title),
                        docs[i].body,
                        strlen(docs[i].body),
                        tp + bp,
                        tp,
                        strlen(docs[i].title) + strlen(docs[i].body) + 1,
                        1700000000000000000ll + (int64_t)i,
                        0x1000 + i};
        cr_assert_eq(qr_segment_writer_add_doc(w, &in), 0, "doc %s", docs[i].path);
        ms.live_positions += tp + bp;
    }
    if (k.n)
        qsort(k.v, k.n, sizeof *k.v, cmp_tok);
    uint32_t pos[4096];
    for (size_t i = 0; i < k.n;) {
        size_t j = i;
        while (j < k.n && k.v[j].len == k.v[i].len && !memcmp(k.v[j].term, k.v[i].term, k.v[i].len))
            j++;
        cr_assert_eq(qr_segment_writer_begin_term(w, k.v[i].term, k.v[i].len), 0);
        for (size_t p = i; p < j;) {
            uint32_t tf = 0;
            size_t q = p;
            while (q < j && k.v[q].doc == k.v[p].doc && tf < 4096)
                pos[tf++] = k.v[q++].pos;
            cr_assert_eq(qr_segment_writer_add_posting(w, k.v[p].doc, tf, pos), 0);
            p = q;
        }
        cr_assert_eq(qr_segment_writer_end_term(w), 0);
        i = j;
    }
    cr_assert_eq(qr_segment_writer_finish(w, NULL), 0);
    free(k.v);
    qr_analyzer_close(a);
    return ms;
}

/* Commits a manifest of the given segments. */
static void commit(qr_dir *d, uint64_t gen, const char *lang, qr_manifest_seg *segs, uint32_t n)
{
    qr_manifest m = {gen, 0, "", n, segs};
    snprintf(m.language, sizeof m.language, "%s", lang);
    for (uint32_t i = 0; i < n; i++)
        if (segs[i].id >= m.next_id)
            m.next_id = segs[i].id + 1;
    cr_assert_eq(qr_manifest_commit(d, &m), 0);
}

static const tdoc docs_a[] = {
    {"news/001.txt", "Cease-fire talks resume in Geneva",
     "The cease-fire talks resumed on Monday. Envoys from both sides met in Geneva."},
    {"news/002.txt", "Grain corridor reopens", "Ships left Odesa with grain; the corridor held."},
    {"news/003.txt", "", ""},
    {"news/004.txt", "Talks, talks, talks", "Zelensky’s envoy said the talks would go on."},
    {"news/005.txt", "Gdańsk meeting", "Mayors met in Gdańsk and Kraków for 24-hour talks."},
};

static const tdoc docs_b[] = {
    {"news/002.txt", "Grain corridor closes", "The corridor closed again after shelling."},
    {"news/006.txt", "NATO summit", "Allies met in Vilnius; NATO leaders agreed on spending."},
    {"sport/001.txt", "Geneva open", "Tennis in Geneva: the open began."},
};

/* The length in positions of document doc of segment id. */
static uint32_t doc_len(qr_dir *d, uint64_t id, uint32_t doc)
{
    qr_segment *sg;
    cr_assert_eq(qr_segment_open(&sg, d, id, true), 0);
    uint32_t n = qr_doctable_positions(qr_segment_doctable(sg), doc);
    qr_segment_close(sg);
    return n;
}

/*
 * The standard small index: segment 1 (docs_a) whose news/002.txt is
 * deleted (deletion file generation 1), segment 2 (docs_b) with the new
 * news/002.txt; generation 1.
 */
static void build_small(qr_dir *d, qr_manifest_seg segs[2])
{
    segs[0] = write_seg(d, 1, docs_a, 5);
    segs[1] = write_seg(d, 2, docs_b, 3);
    qr_deletes del;
    cr_assert_eq(qr_deletes_init(&del, 5), 0);
    cr_assert_eq(qr_deletes_add(&del, 1), 0);
    cr_assert_eq(qr_deletes_write(d, 1, 1, &del), 0);
    qr_deletes_free(&del);
    segs[0].deleted = 1;
    segs[0].del_gen = 1;
    segs[0].live_positions -= doc_len(d, 1, 1);
    commit(d, 1, "english", segs, 2);
}

/* A 200-doc segment (id 3): "common" in every document, so one full postings block. */
static qr_manifest_seg write_big(qr_dir *d, uint64_t id)
{
    static char paths[200][32], bodies[200][96];
    tdoc docs[200];
    for (int i = 0; i < 200; i++) {
        snprintf(paths[i], sizeof paths[i], "big/%03d.txt", i);
        snprintf(bodies[i], sizeof bodies[i], "a common body, number %d%s", i,
                 i % 3 ? " with a rarer word" : "");
        docs[i] = (tdoc){paths[i], "Common title", bodies[i]};
    }
    return write_seg(d, id, docs, 200);
}

/* ---- running a check ---- */

typedef struct seen {
    char lines[512][768]; /* "FILE@OFF: message" or "FILE: warning: message" */
    int n;
    int problems, warnings;
} seen;

static void record(void *ctx, const qr_check_problem *p)
{
    seen *s = ctx;
    if (p->warning)
        s->warnings++;
    else
        s->problems++;
    if (s->n < 512) {
        if (p->warning)
            snprintf(s->lines[s->n], sizeof s->lines[0], "%s: warning: %s", p->file, p->message);
        else if (p->offset >= 0)
            snprintf(s->lines[s->n], sizeof s->lines[0], "%s@%lld: %s", p->file,
                     (long long)p->offset, p->message);
        else
            snprintf(s->lines[s->n], sizeof s->lines[0], "%s: %s", p->file, p->message);
        s->n++;
    }
}

static seen *run_check(qr_dir *d, int want_rc, qr_check_stats *st)
{
    seen *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    qr_check_stats local;
    int rc = qr_check(d, record, s, st ? st : &local);
    if (rc != want_rc)
        for (int i = 0; i < s->n; i++)
            fprintf(stderr, "  %s\n", s->lines[i]);
    cr_assert_eq(rc, want_rc, "qr_check returned %d (%s), expected %d", rc, qr_strerror(rc),
                 want_rc);
    return s;
}

/* True when some line starts with file (and "@" or ":") and holds every fragment given. */
static bool has(const seen *s, const char *file, const char *frag1, const char *frag2)
{
    size_t fl = strlen(file);
    for (int i = 0; i < s->n; i++) {
        const char *l = s->lines[i];
        if (strncmp(l, file, fl) || (l[fl] != '@' && l[fl] != ':'))
            continue;
        if ((!frag1 || strstr(l, frag1)) && (!frag2 || strstr(l, frag2)))
            return true;
    }
    return false;
}

static void expect(const seen *s, const char *file, const char *frag1, const char *frag2)
{
    if (has(s, file, frag1, frag2))
        return;
    for (int i = 0; i < s->n; i++)
        fprintf(stderr, "  %s\n", s->lines[i]);
    cr_assert_fail("no problem on %s with '%s' and '%s'", file, frag1 ? frag1 : "",
                   frag2 ? frag2 : "");
}

/* ---- editing files (memory or POSIX directory alike) ---- */

static void get_file(qr_dir *d, const char *name, qr_buf *out)
{
    qr_mapping *m;
    qr_slice s;
    cr_assert_eq(qr_dir_map(d, name, &m, &s), 0, "map %s", name);
    qr_buf_reset(out);
    qr_buf_put(out, s.p, s.n);
    cr_assert_eq(out->err, 0);
    qr_mapping_close(m);
}

static void put_file(qr_dir *d, const char *name, const qr_buf *b)
{
    if (qr_dir_exists(d, name))
        cr_assert_eq(qr_dir_remove(d, name), 0);
    cr_assert_eq(qr_dir_write_file(d, name, b->p, b->n), 0, "write %s", name);
}

/* Recomputes a whole image's checksum after an edit. */
static void refooter(qr_buf *b)
{
    qr_store_u64(b->p + b->n - 8, qr_checksum(b->p, b->n - 8));
}

/* Patches a little-endian u32 / u64 at a file offset, keeping the checksum sound. */
static void patch32(qr_dir *d, const char *name, size_t off, uint32_t v)
{
    qr_buf b = {0};
    get_file(d, name, &b);
    qr_store_u32(b.p + off, v);
    refooter(&b);
    put_file(d, name, &b);
    qr_buf_free(&b);
}

static void patch64(qr_dir *d, const char *name, size_t off, uint64_t v)
{
    qr_buf b = {0};
    get_file(d, name, &b);
    qr_store_u64(b.p + off, v);
    refooter(&b);
    put_file(d, name, &b);
    qr_buf_free(&b);
}

static const char *seg_name(uint64_t id, qr_seg_file k)
{
    static char names[8][32];
    static int next;
    char *n = names[next++ % 8];
    qr_seg_file_name(n, id, k);
    return n;
}

/* Rewrites a segment's .tdi, letting fix change each term's metadata (index i). */
typedef void (*meta_fix)(size_t i, qr_slice term, qr_term_meta *m, void *ctx);

static void rewrite_termdict(qr_dir *d, uint64_t id, meta_fix fix, void *ctx)
{
    const char *name = seg_name(id, QR_SEG_TDI);
    qr_buf img = {0}, out = {0};
    get_file(d, name, &img);
    qr_termdict *td;
    cr_assert_eq(qr_termdict_open(&td, (qr_slice){img.p, img.n}, true), 0);
    qr_termdict_writer *w;
    cr_assert_eq(qr_termdict_writer_open(&w), 0);
    qr_termdict_iter it;
    qr_slice term;
    qr_term_meta m;
    cr_assert_eq(qr_termdict_iter_init(&it, td, "", 0), 0);
    for (size_t i = 0; qr_termdict_next(&it, &term, &m) == 1; i++) {
        fix(i, term, &m, ctx);
        cr_assert_eq(qr_termdict_add(w, (const char *)term.p, term.n, &m), 0);
    }
    cr_assert_eq(qr_termdict_finish(w, &out), 0);
    put_file(d, name, &out);
    qr_termdict_writer_close(w);
    qr_termdict_close(td);
    qr_buf_free(&img);
    qr_buf_free(&out);
}

/* Rewrites a segment's .sto and .dmt from its documents, letting fix change each (or drop it). */
typedef bool (*doc_fix)(uint32_t i, qr_doc_in *doc, void *ctx);

static void rewrite_docs(qr_dir *d, uint64_t id, doc_fix fix, void *ctx)
{
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, d, id, true), 0);
    const qr_doctable *t = qr_segment_doctable(s);
    qr_docstore *st = qr_segment_docstore(s);
    qr_docstore_writer *w;
    cr_assert_eq(qr_docstore_writer_open(&w), 0);
    for (uint32_t i = 0; i < qr_doctable_count(t); i++) {
        qr_doc_meta m;
        qr_doctable_meta(t, i, &m);
        qr_slice path = qr_doctable_path(t, i), title, body;
        cr_assert_eq(qr_docstore_get(st, i, &title, &body), 0);
        /* the store's slices live until the next fetch: copy them */
        char *tc = qr_strndup((const char *)title.p, title.n);
        char *bc = qr_strndup((const char *)body.p, body.n);
        qr_doc_in in = {(const char *)path.p, path.n, tc,         title.n, bc, body.n, m.positions,
                        m.title_positions,    m.size, m.mtime_ns, m.hash};
        if (fix(i, &in, ctx))
            cr_assert_eq(qr_docstore_add(w, &in), 0);
        qr_free(tc);
        qr_free(bc);
    }
    qr_buf sto = {0}, dmt = {0};
    cr_assert_eq(qr_docstore_finish(w, 3, &sto, &dmt), 0);
    qr_segment_close(s);
    put_file(d, seg_name(id, QR_SEG_STO), &sto);
    put_file(d, seg_name(id, QR_SEG_DMT), &dmt);
    qr_docstore_writer_close(w);
    qr_buf_free(&sto);
    qr_buf_free(&dmt);
}

/* Replaces a framed file's body (any magic) with body, framed again with `version`. */
static void reframe(qr_dir *d, const char *name, uint32_t version, const uint8_t *body, size_t n)
{
    qr_buf old = {0}, b = {0};
    get_file(d, name, &old);
    uint32_t magic = qr_load_u32(old.p);
    qr_file_begin(&b, magic, version);
    qr_buf_put(&b, body, n);
    qr_file_end(&b, magic);
    put_file(d, name, &b);
    qr_buf_free(&old);
    qr_buf_free(&b);
}

static qr_dir *memdir(void)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_memory(&d), 0);
    return d;
}

/* ---- POSIX fixture ---- */

static char tmp_path[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static qr_dir *tmpdir(void)
{
    strcpy(tmp_path, "/tmp/quarry-check-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_path));
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, tmp_path, false), 0);
    return d;
}

static void tmpdir_remove(qr_dir *d)
{
    qr_dir_close(d);
    nftw(tmp_path, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- sound indexes ---- */

Test(check, sound_small_index_in_memory)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    qr_check_stats st;
    seen *s = run_check(d, 0, &st);
    cr_assert_eq(s->n, 0, "no problem, no warning");
    cr_assert_eq(st.generation, 1);
    cr_assert_eq(st.segments, 2);
    cr_assert_eq(st.docs, 8);
    cr_assert_eq(st.live_docs, 7);
    cr_assert_eq(st.files, 5 + 5 + 1 + 1, "two segments, the manifest and the bitmap");
    cr_assert_eq(st.problems, 0);
    /* the walk's totals are the dictionaries' */
    uint64_t terms = 0, postings = 0, positions = 0;
    for (uint64_t id = 1; id <= 2; id++) {
        qr_segment *sg;
        cr_assert_eq(qr_segment_open(&sg, d, id, true), 0);
        qr_segment_info i;
        qr_segment_get_info(sg, &i);
        terms += i.terms;
        postings += i.postings;
        positions += i.positions;
        qr_segment_close(sg);
    }
    cr_assert_eq(st.terms, terms);
    cr_assert_eq(st.postings, postings);
    cr_assert_eq(st.positions, positions);
    cr_assert_gt(st.terms, 30);
    free(s);
    qr_dir_close(d);
}

Test(check, sound_index_on_disk_with_a_big_segment_and_an_empty_one)
{
    qr_dir *d = tmpdir();
    qr_manifest_seg segs[5];
    segs[0] = write_seg(d, 1, docs_a, 5);
    segs[1] = write_big(d, 3);
    segs[2] = write_seg(d, 4, NULL, 0); /* an empty segment is sound */
    segs[3] = write_seg(d, 9, docs_b + 1, 2);
    /* a path that is a prefix of another segment's: distinct documents */
    static const tdoc prefix[] = {{"news/00", "Short path", "A path that prefixes others."}};
    segs[4] = write_seg(d, 10, prefix, 1);
    commit(d, 7, "english", segs, 5);
    cr_assert_eq(qr_dir_write_file(d, "MANIFEST-0000000000000008.tmp", "x", 1), 0);
    qr_lock *lock;
    cr_assert_eq(qr_dir_lock(d, QR_LOCK_FILE, &lock, NULL), 0);
    qr_check_stats st;
    seen *s = run_check(d, 0, &st);
    cr_assert_eq(s->n, 0, "LOCK and *.tmp are not orphans");
    cr_assert_eq(st.live_docs, 208);
    cr_assert_eq(st.segments, 5);
    cr_assert_geq(st.postings, 200);
    qr_dir_unlock(lock);
    free(s);
    tmpdir_remove(d);
}

/* Adds docs (title line, blank line, body) through the indexer and commits. */
static void index_docs(qr_indexer *ix, const tdoc *docs, size_t n)
{
    qr_mem_doc md[8];
    char text[8][256];
    cr_assert_leq(n, 8);
    for (size_t i = 0; i < n; i++) {
        snprintf(text[i], sizeof text[i], "%s\n\n%s\n", docs[i].title, docs[i].body);
        md[i] = (qr_mem_doc){docs[i].path, text[i], strlen(text[i])};
    }
    qr_index_result r;
    cr_assert_eq(qr_indexer_add_docs(ix, md, n, &r), 0, "%s", qr_indexer_error(ix));
    qr_index_result_free(&r);
}

Test(check, indexes_made_by_the_indexer_are_sound)
{
    qr_dir *d = memdir();
    qr_indexer *ix;
    qr_index_options opt = {.threads = 1};
    char err[256];
    cr_assert_eq(qr_indexer_open(&ix, d, &opt, err, sizeof err), 0, "%s", err);
    index_docs(ix, docs_a, 5);
    index_docs(ix, docs_b, 3); /* news/002.txt replaced: a deletion in the first segment */
    qr_check_stats st;
    seen *s = run_check(d, 0, &st);
    cr_assert_eq(s->n, 0);
    cr_assert_eq(st.live_docs, 7);
    cr_assert_eq(st.docs, 8);
    cr_assert_eq(st.segments, 2);
    free(s);
    qr_index_result r;
    cr_assert_eq(qr_indexer_merge_all(ix, &r), 0);
    qr_index_result_free(&r);
    s = run_check(d, 0, &st);
    cr_assert_eq(s->n, 0);
    cr_assert_eq(st.segments, 1);
    cr_assert_eq(st.docs, 7, "the merge dropped the deleted document");
    free(s);
    qr_indexer_close(ix);
    qr_dir_close(d);
}

Test(check, empty_index_and_no_index)
{
    qr_dir *d = memdir();
    qr_check_stats st;
    cr_assert_eq(qr_check(d, NULL, NULL, &st), QR_ENOTFOUND, "an empty directory");
    cr_assert_eq(qr_check(d, NULL, NULL, NULL), QR_ENOTFOUND, "stats are optional");
    commit(d, 1, "none", NULL, 0);
    seen *s = run_check(d, 0, &st);
    cr_assert_eq(st.segments, 0);
    cr_assert_eq(st.files, 1);
    free(s);
    qr_dir_close(d);
}

/* ---- damage every byte of every file ---- */

/* Offsets to flip in a file of n bytes: all when small, else a deterministic sample. */
static size_t flip_offsets(size_t n, size_t *out, size_t cap)
{
    if (n < 4096) {
        for (size_t i = 0; i < n; i++)
            out[i] = i;
        return n;
    }
    size_t k = 0;
    uint64_t x = n * 2654435761u + 1;
    for (size_t i = 0; i < 20; i++) /* both ends, where headers, trailers and footers are */
        out[k++] = i, out[k++] = n - 1 - i;
    while (k < cap) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        out[k++] = (size_t)(x % n);
    }
    return k;
}

static void write_at(const char *path, size_t off, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
    close(fd);
}

Test(check, every_byte_flip_and_truncation_is_reported_against_its_file, .timeout = 600)
{
    qr_dir *d = tmpdir();
    qr_manifest_seg segs[3];
    segs[0] = write_seg(d, 1, docs_a, 5);
    segs[1] = write_big(d, 3);
    qr_deletes del;
    cr_assert_eq(qr_deletes_init(&del, 200), 0);
    cr_assert_eq(qr_deletes_add(&del, 17), 0);
    cr_assert_eq(qr_deletes_write(d, 3, 2, &del), 0);
    qr_deletes_free(&del);
    segs[1].deleted = 1;
    segs[1].del_gen = 2;
    segs[1].live_positions -= doc_len(d, 3, 17);
    commit(d, 1, "english", segs, 2);
    seen *s = run_check(d, 0, NULL);
    free(s);

    char **names;
    size_t nnames;
    cr_assert_eq(qr_dir_list(d, &names, &nnames), 0);
    cr_assert_eq(nnames, 12, "two segments, a bitmap, the manifest");
    static size_t offs[4096];
    size_t big_files = 0, flips = 0;
    for (size_t f = 0; f < nnames; f++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", tmp_path, names[f]);
        qr_buf orig = {0};
        get_file(d, names[f], &orig);
        size_t n = orig.n, k = flip_offsets(n, offs, 300);
        big_files += n >= 4096;
        for (size_t i = 0; i < k; i++) {
            uint8_t b = orig.p[offs[i]] ^ (uint8_t)(1u << (i % 8));
            write_at(path, offs[i], &b, 1);
            s = run_check(d, QR_ECORRUPT, NULL);
            cr_assert(has(s, names[f], NULL, NULL), "flip of %s@%zu not reported against it",
                      names[f], offs[i]);
            free(s);
            write_at(path, offs[i], orig.p + offs[i], 1);
            flips++;
        }
        static const size_t cuts[] = {0, 1, 8, 19, 20, 21};
        size_t tails[] = {n / 2, n - 13, n - 12, n - 9, n - 8, n - 1};
        for (size_t i = 0; i < 12; i++) {
            size_t len = i < 6 ? cuts[i] : tails[i - 6];
            if (len >= n)
                continue;
            cr_assert_eq(truncate(path, (off_t)len), 0);
            s = run_check(d, QR_ECORRUPT, NULL);
            cr_assert(has(s, names[f], NULL, NULL), "%s cut to %zu bytes not reported", names[f],
                      len);
            free(s);
            write_at(path, 0, orig.p, n);
        }
        qr_buf_free(&orig);
    }
    cr_assert_geq(big_files, 1, "a file past 4 KiB is sampled");
    cr_assert_gt(flips, 2000);
    qr_dir_list_free(names, nnames);
    s = run_check(d, 0, NULL);
    free(s);
    tmpdir_remove(d);
}

Test(check, frame_problems_name_the_failing_field)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    qr_buf b = {0};
    const char *tdi = seg_name(1, QR_SEG_TDI), *sto = seg_name(2, QR_SEG_STO);
    const char *doc = seg_name(1, QR_SEG_DOC), *pos = seg_name(2, QR_SEG_POS);
    get_file(d, tdi, &b);
    size_t n = b.n;
    b.p[n - 1] ^= 0x40;
    put_file(d, tdi, &b);
    get_file(d, sto, &b);
    b.p[0] ^= 1;
    put_file(d, sto, &b);
    get_file(d, doc, &b);
    b.n -= 3;
    put_file(d, doc, &b);
    get_file(d, pos, &b);
    b.n = 10;
    put_file(d, pos, &b);
    qr_check_stats st;
    seen *s = run_check(d, QR_ECORRUPT, &st);
    char at[64];
    snprintf(at, sizeof at, "%s@%zu", tdi, n - 8);
    expect(s, at, "checksum mismatch", "term dictionary");
    expect(s, sto, "@0: bad magic", "document store");
    expect(s, doc, "bad footer magic", "truncated");
    expect(s, pos, "@10: truncated: 10 bytes", NULL);
    cr_assert_eq(st.problems, 4, "the other files hold, and nothing is checked against these");
    qr_buf_free(&b);
    free(s);
    qr_dir_close(d);
}

/* ---- files missing or extra ---- */

Test(check, missing_segment_file_and_orphans)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    qr_buf b = {0};
    qr_buf_put(&b, "x", 1);
    put_file(d, "notes.txt", &b);
    put_file(d, "seg-00000000000000aa.tdi", &b);                  /* a segment no manifest names */
    put_file(d, "seg-0000000000000001-0000000000000007.del", &b); /* an old bitmap */
    put_file(d, "seg-0000000000000002-0000000000000001.del", &b); /* seg 2 has no deletions */
    put_file(d, "seg-0000000000000001.xyz", &b);
    put_file(d, "seg-0000000000000001", &b);
    put_file(d, "MANIFEST-0000000000000000", &b); /* an older manifest */
    put_file(d, "MANIFEST-00000000000000FF", &b); /* not a manifest name: upper case */
    put_file(d, "seg-000000000000000g.tdi", &b);
    qr_check_stats st;
    seen *s = run_check(d, 0, &st);
    cr_assert_eq(st.warnings, 9);
    cr_assert_eq(st.problems, 0);
    expect(s, "notes.txt", "warning: orphan file, removed by the next `quarry index`", NULL);
    expect(s, "MANIFEST-0000000000000000", "warning: orphan", NULL);
    expect(s, "seg-0000000000000002-0000000000000001.del", "warning", NULL);
    free(s);

    cr_assert_eq(qr_dir_remove(d, seg_name(2, QR_SEG_POS)), 0);
    s = run_check(d, QR_ECORRUPT, &st);
    expect(s, seg_name(2, QR_SEG_POS), "missing (MANIFEST-0000000000000001 names it)", NULL);
    cr_assert_eq(st.problems, 1);
    free(s);

    cr_assert_eq(qr_dir_remove(d, "seg-0000000000000001-0000000000000001.del"), 0);
    s = run_check(d, QR_ECORRUPT, &st);
    expect(s, "seg-0000000000000001-0000000000000001.del", "missing", NULL);
    free(s);
    qr_buf_free(&b);
    qr_dir_close(d);
}

Test(check, lost_manifest)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    cr_assert_eq(qr_dir_remove(d, "MANIFEST-0000000000000001"), 0);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, "MANIFEST-*", "no manifest, but 11 segment files", NULL);
    free(s);
    qr_dir_close(d);
}

/* ---- what checksums cannot see ---- */

typedef struct fix_one {
    const char *term; /* the term to change */
    int ddf;          /* added to df */
    int dttf;         /* added to ttf */
    int64_t doc_off;  /* >= 0: new doc offset */
    bool copy_prev;   /* take the previous term's offsets */
    bool hit;
} fix_one;

static void fix_term(size_t i, qr_slice term, qr_term_meta *m, void *ctx)
{
    (void)i;
    static qr_term_meta prev;
    fix_one *f = ctx;
    qr_term_meta orig = *m;
    if (term.n == strlen(f->term) && !memcmp(term.p, f->term, term.n)) {
        m->df = (uint32_t)((int64_t)m->df + f->ddf);
        m->ttf = (uint64_t)((int64_t)m->ttf + f->dttf);
        if (f->doc_off >= 0)
            m->doc_off = (uint64_t)f->doc_off;
        if (f->copy_prev) {
            m->doc_off = prev.doc_off;
            m->pos_off = prev.pos_off;
        }
        f->hit = true;
    }
    prev = orig;
}

static void patch_term(qr_dir *d, uint64_t id, fix_one f)
{
    rewrite_termdict(d, id, fix_term, &f);
    cr_assert(f.hit, "term %s found", f.term);
}

Test(check, df_that_disagrees_with_the_postings)
{
    /* "in": documents 1 and 2 of segment 2; its dictionary entry says 3 */
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    patch_term(d, 2, (fix_one){"in", 1, 1, -1, false, false});
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(2, QR_SEG_DOC), "term 'in'", "but the segment has 3");
    free(s);
    qr_dir_close(d);

    /* "talk": documents 0, 3 and 4 of segment 1, tf 2, 4 and 1; its entry says 2 documents:
     * those decode, but their frequencies miss the third's and their positions end early */
    d = memdir();
    build_small(d, segs);
    patch_term(d, 1, (fix_one){"talk", -1, 0, -1, false, false});
    s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(1, QR_SEG_TDI), "term 'talk': ttf 7", "frequencies sum to 6");
    expect(s, seg_name(1, QR_SEG_POS), "term 'talk'", "but the next term's start at");
    free(s);
    qr_dir_close(d);
}

Test(check, ttf_that_disagrees_with_the_frequencies)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    patch_term(d, 1, (fix_one){"talk", 0, 2, -1, false, false});
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(1, QR_SEG_TDI), "term 'talk': ttf", "frequencies sum to");
    free(s);
    qr_dir_close(d);
}

Test(check, df_above_the_segments_documents)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    patch_term(d, 2, (fix_one){"open", 10, 10, -1, false, false});
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(2, QR_SEG_TDI), "term 'open': df 11", "the segment has 3 documents");
    free(s);
    qr_dir_close(d);
}

Test(check, postings_out_of_place)
{
    /* the first term not at offset 0 */
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    patch_term(d, 2, (fix_one){"after", 0, 0, 1, false, false});
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(2, QR_SEG_TDI), "first term 'after'", "not at the start of the streams");
    free(s);
    qr_dir_close(d);

    /* a term sharing the previous one's postings */
    d = memdir();
    build_small(d, segs);
    patch_term(d, 2, (fix_one){"alli", 0, 0, -1, true, false});
    s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(2, QR_SEG_TDI), "term 'alli': its postings", "do not follow those of");
    free(s);
    qr_dir_close(d);

    /* the last term's postings past the end of the doc stream */
    d = memdir();
    build_small(d, segs);
    patch_term(d, 2, (fix_one){"vilnius", 0, 0, 1000000, false, false});
    s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(2, QR_SEG_DOC), "term 'vilnius': its postings do not decode", NULL);
    free(s);
    qr_dir_close(d);
}

Test(check, position_stream_longer_or_shorter_than_its_terms)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    const char *pos = seg_name(2, QR_SEG_POS);
    qr_buf b = {0};
    get_file(d, pos, &b);
    size_t body = b.n - QR_FILE_HEADER_SIZE - QR_FILE_FOOTER_SIZE;
    uint8_t *longer = calloc(body + 1, 1);
    memcpy(longer, b.p + QR_FILE_HEADER_SIZE, body);
    reframe(d, pos, 1, longer, body + 1);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, pos, "last term 'vilnius'", "the stream goes on to");
    free(s);
    reframe(d, pos, 1, longer, body - 1);
    s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, pos, "term 'vilnius': the positions of document", "do not decode");
    free(s);
    free(longer);
    qr_buf_free(&b);
    qr_dir_close(d);
}

static bool shorten_docs(uint32_t i, qr_doc_in *doc, void *ctx)
{
    (void)i;
    (void)ctx;
    doc->positions = doc->positions > 1 ? 1 : doc->positions;
    doc->title_positions = doc->title_positions > 1 ? 1 : doc->title_positions;
    return true;
}

static bool drop_last(uint32_t i, qr_doc_in *doc, void *ctx)
{
    (void)doc;
    return i + 1 < *(uint32_t *)ctx;
}

Test(check, positions_past_a_documents_length_and_the_display_cap)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    rewrite_docs(d, 1, shorten_docs, NULL);
    qr_check_stats st;
    seen *s = run_check(d, QR_ECORRUPT, &st);
    const char *pos = seg_name(1, QR_SEG_POS);
    expect(s, pos, "in document 0 ('news/001.txt'), whose length is 1", NULL);
    expect(s, "MANIFEST-0000000000000001", "live length", "lengths sum to 3");
    /* far more than the cap against .pos: 20 shown, then one line for the rest */
    int shown = 0;
    for (int i = 0; i < s->n; i++)
        shown += !strncmp(s->lines[i], pos, strlen(pos));
    cr_assert_eq(shown, QR_CHECK_MAX_PER_FILE + 1);
    expect(s, pos, "more problems in this file not shown", NULL);
    cr_assert_gt(st.problems, QR_CHECK_MAX_PER_FILE + 1);
    free(s);
    qr_dir_close(d);
}

Test(check, document_counts_that_disagree)
{
    /* the store and table lose their last document; the manifest still says 3 */
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    uint32_t three = 3;
    rewrite_docs(d, 2, drop_last, &three);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(2, QR_SEG_DMT), "@8: holds 2 documents, but MANIFEST-0000000000000001",
           "says 3");
    expect(s, seg_name(2, QR_SEG_STO), "holds 2 documents", NULL);
    expect(s, seg_name(2, QR_SEG_DOC), "names document 2, but the segment has 2", NULL);
    free(s);
    qr_dir_close(d);
}

/* Byte offset of field f of segment record i in a manifest whose language is `lang`. */
static size_t mf_field(const char *lang, uint32_t i, size_t f)
{
    return QR_FILE_HEADER_SIZE + 8 + 8 + 1 + strlen(lang) + 4 + (size_t)i * 32 + f;
}

Test(check, manifest_counts_that_disagree)
{
    static const char *mf = "MANIFEST-0000000000000001";
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    /* segment 1 has 5 documents and one deletion: say 6 documents, 2 deleted, a wrong length */
    patch32(d, mf, mf_field("english", 0, 8), 6);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(1, QR_SEG_DMT), "holds 5 documents", "says 6");
    expect(s, "seg-0000000000000001-0000000000000001.del", "@8: covers 5 documents", "has 6");
    free(s);
    patch32(d, mf, mf_field("english", 0, 8), 5);
    patch32(d, mf, mf_field("english", 0, 12), 2);
    s = run_check(d, QR_ECORRUPT, NULL);
    char at[64];
    snprintf(at, sizeof at, "%s@%zu", mf, mf_field("english", 0, 12));
    expect(s, at, "2 deleted documents", "marks 1");
    free(s);
    patch32(d, mf, mf_field("english", 0, 12), 1);
    patch64(d, mf, mf_field("english", 1, 24), segs[1].live_positions + 1);
    s = run_check(d, QR_ECORRUPT, NULL);
    snprintf(at, sizeof at, "%s@%zu", mf, mf_field("english", 1, 24));
    expect(s, at, "segment 0000000000000002: live length", NULL);
    free(s);
    qr_dir_close(d);
}

Test(check, unknown_language)
{
    qr_dir *d = memdir();
    qr_manifest_seg seg = write_seg(d, 1, docs_b, 3);
    commit(d, 1, "klingon", &seg, 1);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, "MANIFEST-0000000000000001@25", "language 'klingon'", NULL);
    free(s);
    qr_dir_close(d);
}

Test(check, path_live_in_two_segments)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    segs[0] = write_seg(d, 1, docs_a, 5);
    segs[1] = write_seg(d, 2, docs_b, 3);
    commit(d, 1, "english", segs, 2); /* news/002.txt not deleted from segment 1 */
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(2, QR_SEG_DMT), "document 'news/002.txt' is live here (document 0)",
           "seg-0000000000000001.dmt (document 1): indexed twice");
    free(s);
    qr_dir_close(d);
}

Test(check, manifests_that_do_not_load)
{
    static const char *mf = "MANIFEST-0000000000000001";
    const char *lang = "english";
    struct {
        size_t off;
        int width; /* 4 or 8 */
        uint64_t v;
        const char *want;
    } cases[] = {
        {QR_FILE_HEADER_SIZE, 8, 5, "@8: holds generation 5, but its name says 1"},
        {QR_FILE_HEADER_SIZE, 8, 0, "@8: holds generation 0, but its name says 1"},
        {QR_FILE_HEADER_SIZE + 16, 4, 0, "@24: the language is not"},          /* length 0 */
        {QR_FILE_HEADER_SIZE + 17, 4, 0x6c676e01, "@24: the language is not"}, /* "\1ngl" */
        {mf_field(lang, 0, 0) - 4, 4, 3, "lists 3 segments, but holds 64 bytes"},
        {QR_FILE_HEADER_SIZE + 8, 8, 2, "segment 0000000000000002 is not below the next"},
        {mf_field(lang, 0, 12), 4, 9, "segment 0000000000000001: 9 deleted of 5 documents"},
        {mf_field(lang, 0, 16), 8, 0, "1 deleted documents but no deletion file"},
        {mf_field(lang, 1, 0), 8, 1, "segment 0000000000000001 is listed twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qr_dir *d = memdir();
        qr_manifest_seg segs[2];
        build_small(d, segs);
        if (cases[i].width == 4)
            patch32(d, mf, cases[i].off, (uint32_t)cases[i].v);
        else
            patch64(d, mf, cases[i].off, cases[i].v);
        seen *s = run_check(d, QR_ECORRUPT, NULL);
        expect(s, mf, cases[i].want, NULL);
        cr_assert_eq(s->problems, 1, "case %zu: the check stops at the manifest", i);
        free(s);
        qr_dir_close(d);
    }

    /* a manifest too short for its fixed fields, and one of a future version */
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    static const uint8_t tiny[20] = {1};
    reframe(d, mf, 1, tiny, sizeof tiny);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, mf, "@28: ends inside its fixed fields", NULL);
    free(s);
    qr_dir_close(d);
    d = memdir();
    build_small(d, segs);
    patch32(d, mf, 4, 2);
    s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, mf, "@4: manifest of format version 2", NULL);
    free(s);
    qr_dir_close(d);
}

Test(check, deletion_bitmaps_that_do_not_hold)
{
    static const char *del = "seg-0000000000000001-0000000000000001.del";
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    patch32(d, del, 12, 3); /* count 3, one bit set */
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, del, "@12: its count disagrees with its bits", NULL);
    free(s);
    patch32(d, del, 12, 1);
    patch32(d, del, 4, 9);
    s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, del, "@4: deletion bitmap of format version 9", NULL);
    free(s);
    qr_dir_close(d);
}

Test(check, codecs_that_refuse_a_file_whose_checksum_holds)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    /* a term dictionary of a future version; a table whose title is longer than its document */
    patch32(d, seg_name(1, QR_SEG_TDI), 4, 2);
    patch32(d, seg_name(2, QR_SEG_DMT), QR_FILE_HEADER_SIZE + 4 + 3 * 4, 1000);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(1, QR_SEG_TDI), "@4: term dictionary of format version 2", NULL);
    expect(s, seg_name(2, QR_SEG_DMT), "document table does not follow its format",
           "faulty writer");
    free(s);
    qr_dir_close(d);

    /* a .doc of a future version: only the segment's own open can tell */
    d = memdir();
    build_small(d, segs);
    patch32(d, seg_name(2, QR_SEG_DOC), 4, 2);
    s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(2, QR_SEG_TDI), "segment 0000000000000002 does not open",
           "unsupported format version");
    free(s);
    qr_dir_close(d);
}

Test(check, dictionary_entry_that_does_not_decode_and_wrong_totals)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    const char *tdi = seg_name(2, QR_SEG_TDI);
    qr_buf b = {0};
    get_file(d, tdi, &b);
    /* trailer: terms, sum_df, sum_ttf, index_off, nblocks, block_terms before the footer */
    size_t trailer = b.n - QR_FILE_FOOTER_SIZE - 40;
    uint64_t sum_df = qr_load_u64(b.p + trailer + 8);
    patch64(d, tdi, trailer + 8, sum_df + 1);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    char want[96];
    snprintf(want, sizeof want, "df summing to %llu", (unsigned long long)sum_df + 1);
    expect(s, tdi, "its trailer counts", want);
    free(s);
    patch64(d, tdi, trailer + 8, sum_df);

    /* the second term, "again" (shared 1, suffix "gain"), made to sort before "after" */
    get_file(d, tdi, &b);
    uint8_t *f = memmem(b.p, b.n, "gain", 4);
    cr_assert_not_null(f);
    f[0] = 0x01;
    refooter(&b);
    put_file(d, tdi, &b);
    s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, tdi, "the entry after 'after' does not decode", NULL);
    free(s);
    qr_buf_free(&b);
    qr_dir_close(d);
}

Test(check, stored_document_that_does_not_decompress)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    const char *sto = seg_name(2, QR_SEG_STO);
    qr_buf b = {0};
    get_file(d, sto, &b);
    b.p[QR_FILE_HEADER_SIZE] ^= 0xff; /* the zstd frame's magic number */
    refooter(&b);
    put_file(d, sto, &b);
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    char at[64];
    snprintf(at, sizeof at, "%s@8", sto);
    expect(s, at, "document 0 'news/002.txt' does not decompress", NULL);
    expect(s, at, "document 2 'sport/001.txt'", NULL);
    free(s);
    qr_buf_free(&b);
    qr_dir_close(d);
}

Test(check, postings_that_break_off_in_a_later_block)
{
    /* "rarer" is in 133 of the 200 documents: a full block, then a tail of 5; say 180 */
    qr_dir *d = memdir();
    qr_manifest_seg seg = write_big(d, 3);
    commit(d, 1, "english", &seg, 1);
    patch_term(d, 3, (fix_one){"rarer", 47, 47, -1, false, false});
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, seg_name(3, QR_SEG_DOC), "term 'rarer': its postings break off after document",
           "(128 of 180 read)");
    free(s);
    qr_dir_close(d);
}

/* ---- errors that stop the check ---- */

Test(check, allocation_failures)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    qr_buf b = {0};
    qr_buf_put(&b, "x", 1);
    put_file(d, "orphan", &b);
    patch_term(d, 1, (fix_one){"talk", 0, 1, -1, false, false}); /* a problem to report too */
    qr_buf_free(&b);
    int ok = 0;
    for (long n = 0; n < 100000; n++) {
        qr_alloc_fail_after(n);
        qr_check_stats st;
        int rc = qr_check(d, NULL, NULL, &st);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        cr_assert(rc == QR_ENOMEM || rc == QR_ECORRUPT, "allocation %ld: %s", n, qr_strerror(rc));
        if (failures == 0) {
            cr_assert_eq(rc, QR_ECORRUPT);
            ok = 1;
            break;
        }
    }
    cr_assert(ok, "the check ran to the end once allocations stopped failing");
    qr_dir_close(d);
}

Test(check, quoting_in_messages)
{
    /* a long term of two-byte letters, cut on a letter; a path with a quote and a tab */
    char word[80] = "a", title[100];
    for (int i = 0; i < 31; i++)
        strcat(word, "\xd0\xb6"); /* zhe */
    snprintf(title, sizeof title, "%s title", word);
    const tdoc docs[] = {{"news/it's\there.txt", title, "body"}};
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    segs[0] = write_seg(d, 1, docs, 1);
    segs[1] = write_seg(d, 2, docs, 1);
    commit(d, 1, "english", segs, 2);
    patch_term(d, 1, (fix_one){word, 0, 1, -1, false, false});
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    char want[128] = "term 'a";
    for (int i = 0; i < 23; i++)
        strcat(want, "\xd0\xb6");
    strcat(want, "'...: its postings hold positions up to 2"); /* df 1: its tf is its ttf */
    expect(s, seg_name(1, QR_SEG_POS), want, NULL);
    expect(s, seg_name(2, QR_SEG_DMT), "document 'news/it\\x27s\\x09here.txt' is live here", NULL);
    free(s);
    qr_dir_close(d);
}

Test(check, manifest_that_vanishes_while_checked)
{
    qr_dir *inner = memdir(), *d;
    qr_manifest_seg segs[2];
    build_small(inner, segs);
    cr_assert_eq(qr_dir_open_faulty(&d, inner), 0);
    qr_dir_fault_arm(d, QR_FAULT_MAP, 1, QR_ENOTFOUND); /* the load after check's own map */
    seen *s = run_check(d, QR_ECORRUPT, NULL);
    expect(s, "MANIFEST-0000000000000001", "vanished while being checked", NULL);
    free(s);
    qr_dir_close(d);
    qr_dir_close(inner);
}

Test(check, io_errors_stop_the_check)
{
    qr_dir *inner = memdir(), *d;
    qr_manifest_seg segs[2];
    build_small(inner, segs);
    cr_assert_eq(qr_dir_open_faulty(&d, inner), 0);
    qr_check_stats st;
    seen *s = run_check(d, 0, &st);
    free(s);
    long maps = qr_dir_fault_calls(d, QR_FAULT_MAP);
    cr_assert_gt(maps, 12);
    for (long i = 0; i < maps; i++) {
        qr_dir_fault_arm(d, QR_FAULT_MAP, i, QR_EIO); /* the i-th map from now fails */
        int rc = qr_check(d, NULL, NULL, &st);
        qr_dir_fault_arm(d, QR_FAULT_MAP, -1, 0);
        cr_assert_eq(rc, QR_EIO, "map %ld failing", i);
    }
    qr_dir_close(d);
    qr_dir_close(inner);
}

/* ---- a writer committing while the check runs ---- */

/*
 * A directory that plays a concurrent writer: the first `left` times the
 * check maps the first segment file it maps, a new generation naming the
 * same segments is committed first and the map fails as if the file had
 * just been collected (once per check: each check maps each file once).
 */
typedef struct racing_dir {
    qr_dir base;
    qr_dir *inner;
    qr_manifest_seg *segs;
    uint64_t gen; /* the newest committed */
    int left;     /* races still to play (-1: every time) */
    int played;
    char first[64]; /* the segment file of the first race: later ones map it too */
} racing_dir;

static racing_dir *racing(qr_dir *d)
{
    return (racing_dir *)d;
}
static void rd_close(qr_dir *d)
{
    free(d);
}
static const char *rd_path(const qr_dir *d)
{
    return qr_dir_path(((const racing_dir *)d)->inner);
}
static int rd_create(qr_dir *d, const char *name, qr_file **out)
{
    return qr_dir_create(racing(d)->inner, name, out);
}
static int rd_map(qr_dir *d, const char *name, qr_mapping **out, qr_slice *data)
{
    racing_dir *r = racing(d);
    if (!r->first[0] && !strncmp(name, "seg-", 4))
        snprintf(r->first, sizeof r->first, "%s", name);
    if (!strcmp(name, r->first) && r->left != 0) {
        if (r->left > 0)
            r->left--;
        r->played++;
        commit(r->inner, ++r->gen, "english", r->segs, 2);
        return QR_ENOTFOUND;
    }
    return qr_dir_map(r->inner, name, out, data);
}
static int rd_rename(qr_dir *d, const char *from, const char *to)
{
    return qr_dir_rename(racing(d)->inner, from, to);
}
static int rd_remove(qr_dir *d, const char *name)
{
    return qr_dir_remove(racing(d)->inner, name);
}
static int rd_sync(qr_dir *d)
{
    return qr_dir_sync(racing(d)->inner);
}
static bool rd_exists(qr_dir *d, const char *name)
{
    return qr_dir_exists(racing(d)->inner, name);
}
static int rd_size(qr_dir *d, const char *name, uint64_t *out)
{
    return qr_dir_size(racing(d)->inner, name, out);
}
static int rd_list(qr_dir *d, char ***names, size_t *n)
{
    return qr_dir_list(racing(d)->inner, names, n);
}
static int rd_lock(qr_dir *d, const char *name, qr_lock **out, long *pid)
{
    return qr_dir_lock(racing(d)->inner, name, out, pid);
}
static const struct qr_dir_ops racing_ops = {rd_close,  rd_path,   rd_create, rd_map,
                                             rd_rename, rd_remove, rd_sync,   rd_exists,
                                             rd_size,   rd_list,   rd_lock};

static racing_dir *racing_open(qr_dir *inner, qr_manifest_seg *segs, int races)
{
    racing_dir *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    *r = (racing_dir){.base = {&racing_ops}, .inner = inner, .segs = segs, .gen = 1, .left = races};
    return r;
}

Test(check, a_commit_during_the_check_is_not_damage)
{
    qr_dir *inner = memdir();
    qr_manifest_seg segs[2];
    build_small(inner, segs);
    racing_dir *r = racing_open(inner, segs, 1);
    qr_check_stats st;
    seen *s = run_check(&r->base, 0, &st);
    cr_assert_eq(r->played, 1);
    cr_assert_eq(s->problems, 0, "a collected file was reported: %s", s->n ? s->lines[0] : "");
    cr_assert_eq(st.generation, 2, "the newest generation is the one checked");
    cr_assert_eq(st.problems, 0);
    free(s);
    qr_dir_close(&r->base);
    qr_dir_close(inner);
}

Test(check, a_writer_that_never_pauses_gets_the_last_checks_problems)
{
    qr_dir *inner = memdir();
    qr_manifest_seg segs[2];
    build_small(inner, segs);
    racing_dir *r = racing_open(inner, segs, -1);
    qr_check_stats st;
    seen *s = run_check(&r->base, QR_ECORRUPT, &st);
    /* one race per check (the first segment file), the first check and its retries */
    cr_assert_eq(r->played, QR_CHECK_RETRIES + 1, "%d races", r->played);
    cr_assert_eq(st.generation, QR_CHECK_RETRIES + 1);
    /* only the last check's problems are passed on, once */
    cr_assert_eq((uint64_t)s->problems, st.problems);
    cr_assert(st.problems >= 1);
    free(s);
    qr_dir_close(&r->base);
    qr_dir_close(inner);
}

Test(check, allocation_failures_while_problems_are_held)
{
    qr_dir *d = memdir();
    qr_manifest_seg segs[2];
    build_small(d, segs);
    patch_term(d, 1, (fix_one){"talk", 0, 1, -1, false, false});
    seen *want = run_check(d, QR_ECORRUPT, NULL);
    int ok = 0;
    for (long n = 0; n < 100000; n++) {
        seen *s = calloc(1, sizeof *s);
        cr_assert_not_null(s);
        qr_alloc_fail_after(n);
        qr_check_stats st;
        int rc = qr_check(d, record, s, &st);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        cr_assert(rc == QR_ENOMEM || rc == QR_ECORRUPT, "allocation %ld: %s", n, qr_strerror(rc));
        /* a problem that could not be held is passed on at once, never twice or lost */
        cr_assert_eq((uint64_t)s->problems, st.problems, "allocation %ld", n);
        if (rc == QR_ECORRUPT) {
            cr_assert_eq(s->problems, want->problems, "allocation %ld", n);
            for (int i = 0; i < want->n; i++)
                cr_assert_str_eq(s->lines[i], want->lines[i], "allocation %ld", n);
        }
        free(s);
        if (failures == 0) {
            ok = 1;
            break;
        }
    }
    cr_assert(ok);
    free(want);
    qr_dir_close(d);
}
