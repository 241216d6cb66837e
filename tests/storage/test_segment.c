/*
 * Tests for storage/segment.c: file names, a round trip through the
 * in-memory directory (terms, postings with positions, prefix ranges,
 * document table and store read back), golden checksums of a tiny segment,
 * every byte flip and truncation of every file, allocation and I/O failures
 * while writing and opening, and writer misuse.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/dir.h"
#include "storage/segment.h"
#include "storage/status.h"

/* ---- a small reference segment ---- */

typedef struct rpost {
    uint32_t doc;
    uint32_t tf;
    uint32_t pos[8];
} rpost;

typedef struct rterm {
    const char *term;
    uint32_t n;
    rpost p[6];
} rterm;

static const qr_doc_in docs5[] = {
    {"news/a.txt", 10, "Ceasefire talks", 15, "The cease-fire talks resumed in Geneva.", 39, 7, 2,
     57, 1700000000000000001ll, 0x1111},
    {"news/b.txt", 10, "Markets", 7, "Shares rose; markets rallied.", 29, 5, 1, 38, -1, 0x2222},
    {"news/c.txt", 10, "", 0, "", 0, 0, 0, 0, 0, 0x3333},
    {"news/d.txt", 10, "Talks", 5, "talks talks talks", 17, 4, 1, 23, 42, 0x4444},
    {"sport/e.txt", 11, "Geneva open", 11, "Tennis in Geneva", 16, 5, 2, 28, 7, 0x5555},
};

static const rterm terms5[] = {
    {"ceas", 1, {{0, 2, {0, 2}}}},   {"ceasefir", 1, {{0, 2, {0, 2}}}},
    {"fire", 1, {{0, 1, {3}}}},      {"geneva", 2, {{0, 1, {6}}, {4, 2, {0, 4}}}},
    {"market", 1, {{1, 2, {0, 3}}}}, {"talk", 2, {{0, 2, {1, 4}}, {3, 4, {0, 1, 2, 3}}}},
    {"tenni", 1, {{4, 1, {2}}}},     {"the", 1, {{0, 1, {2}}}},
    {"walk", 1, {{3, 2, {1, 1}}}}, /* a compound's concatenation at its first part's position */
};

static void write_segment(qr_dir *dir, uint64_t id, const qr_doc_in *docs, size_t ndocs,
                          const rterm *terms, size_t nterms, qr_segment_info *info)
{
    qr_segment_writer *w;
    cr_assert_eq(qr_segment_writer_open(&w, dir, id), 0);
    for (size_t i = 0; i < ndocs; i++)
        cr_assert_eq(qr_segment_writer_add_doc(w, &docs[i]), 0, "doc %zu", i);
    for (size_t t = 0; t < nterms; t++) {
        cr_assert_eq(qr_segment_writer_begin_term(w, terms[t].term, strlen(terms[t].term)), 0);
        for (uint32_t k = 0; k < terms[t].n; k++)
            cr_assert_eq(qr_segment_writer_add_posting(w, terms[t].p[k].doc, terms[t].p[k].tf,
                                                       terms[t].p[k].pos),
                         0, "term %s posting %u", terms[t].term, k);
        cr_assert_eq(qr_segment_writer_end_term(w), 0);
    }
    cr_assert_eq(qr_segment_writer_finish(w, info), 0);
}

static void check_postings(const qr_segment *s, const rterm *t)
{
    qr_term_meta m;
    cr_assert_eq(qr_segment_term(s, t->term, strlen(t->term), &m), 0, "term %s", t->term);
    cr_assert_eq(m.df, t->n);
    uint64_t ttf = 0;
    for (uint32_t k = 0; k < t->n; k++)
        ttf += t->p[k].tf;
    cr_assert_eq(m.ttf, ttf);
    qr_postings_iter it;
    cr_assert_eq(qr_segment_postings(s, &m, &it), 0);
    for (uint32_t k = 0; k < t->n; k++) {
        cr_assert_eq(it.doc, t->p[k].doc, "term %s posting %u", t->term, k);
        cr_assert_eq(qr_postings_freq(&it), t->p[k].tf);
        const uint32_t *pos;
        uint32_t npos;
        cr_assert_eq(qr_postings_positions(&it, &pos, &npos), 0);
        cr_assert_eq(npos, t->p[k].tf);
        for (uint32_t j = 0; j < npos; j++)
            cr_assert_eq(pos[j], t->p[k].pos[j]);
        cr_assert_eq(qr_postings_next(&it), 0);
    }
    cr_assert_eq(it.doc, QR_DOC_END);
    qr_postings_iter_free(&it);
}

static void check_docs(const qr_segment *s, const qr_doc_in *docs, size_t ndocs)
{
    const qr_doctable *t = qr_segment_doctable(s);
    qr_docstore *st = qr_segment_docstore(s);
    cr_assert_eq(qr_doctable_count(t), ndocs);
    for (uint32_t i = ndocs; i-- > 0;) { /* backwards: the store's cache is not sequential-only */
        const qr_doc_in *d = &docs[i];
        qr_doc_meta m;
        qr_doctable_meta(t, i, &m);
        cr_assert_eq(m.positions, d->positions);
        cr_assert_eq(m.title_positions, d->title_positions);
        cr_assert_eq(m.size, d->size);
        cr_assert_eq(m.mtime_ns, d->mtime_ns);
        cr_assert_eq(m.hash, d->hash);
        qr_slice p = qr_doctable_path(t, i);
        cr_assert_eq(p.n, d->path_len);
        cr_assert_eq(memcmp(p.p, d->path, p.n), 0);
        uint32_t found;
        cr_assert_eq(qr_doctable_find(t, d->path, d->path_len, &found), 0);
        cr_assert_eq(found, i);
        qr_slice ti, bo;
        cr_assert_eq(qr_docstore_get(st, i, &ti, &bo), 0);
        cr_assert_eq(ti.n, d->title_len);
        cr_assert_eq(bo.n, d->body_len);
        cr_assert(ti.n == 0 || memcmp(ti.p, d->title, ti.n) == 0);
        cr_assert(bo.n == 0 || memcmp(bo.p, d->body, bo.n) == 0);
    }
}

Test(segment, file_names)
{
    char name[32];
    qr_seg_file_name(name, 0x1234abcdull, QR_SEG_TDI);
    cr_assert_str_eq(name, "seg-000000001234abcd.tdi");
    qr_seg_file_name(name, UINT64_MAX, QR_SEG_DMT);
    cr_assert_str_eq(name, "seg-ffffffffffffffff.dmt");
    static const char *want[] = {"tdi", "doc", "pos", "sto", "dmt"};
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
        cr_assert_str_eq(qr_seg_file_ext((qr_seg_file)k), want[k]);
}

Test(segment, roundtrip_through_memory_dir)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_segment_info wi;
    write_segment(dir, 7, docs5, 5, terms5, 9, &wi);
    cr_assert_eq(wi.id, 7);
    cr_assert_eq(wi.docs, 5);
    cr_assert_eq(wi.total_positions, 7 + 5 + 0 + 4 + 5);
    cr_assert_eq(wi.terms, 9);
    cr_assert_eq(wi.postings, 11);
    cr_assert_eq(wi.positions, 2 + 2 + 1 + 3 + 2 + 6 + 1 + 1 + 2);
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        char name[32];
        qr_seg_file_name(name, 7, (qr_seg_file)k);
        uint64_t size;
        cr_assert_eq(qr_dir_size(dir, name, &size), 0, "%s written", name);
        cr_assert_eq(size, wi.bytes[k]);
    }

    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, dir, 7, true), 0);
    cr_assert_eq(qr_segment_id(s), 7);
    cr_assert_eq(qr_segment_docs(s), 5);
    qr_segment_info ri;
    qr_segment_get_info(s, &ri);
    cr_assert_eq(memcmp(&ri, &wi, sizeof ri), 0, "info as at writing");
    for (size_t t = 0; t < 9; t++)
        check_postings(s, &terms5[t]);
    qr_term_meta m;
    cr_assert_eq(qr_segment_term(s, "talks", 5, &m), QR_ENOTFOUND);
    cr_assert_eq(qr_segment_term(s, "a", 1, &m), QR_ENOTFOUND);
    cr_assert_eq(qr_segment_term(s, "zebra", 5, &m), QR_ENOTFOUND);
    check_docs(s, docs5, 5);
    uint32_t doc;
    cr_assert_eq(qr_doctable_find(qr_segment_doctable(s), "news/e.txt", 10, &doc), QR_ENOTFOUND);

    /* prefix ranges */
    qr_termdict_iter it;
    qr_slice term;
    cr_assert_eq(qr_segment_prefix(s, "ceas", 4, &it), 0);
    cr_assert_eq(qr_termdict_next(&it, &term, &m), 1);
    cr_assert(term.n == 4 && memcmp(term.p, "ceas", 4) == 0);
    cr_assert_eq(qr_termdict_next(&it, &term, &m), 1);
    cr_assert(term.n == 8 && memcmp(term.p, "ceasefir", 8) == 0);
    cr_assert_eq(m.df, 1);
    cr_assert_eq(qr_termdict_next(&it, &term, &m), 0);
    cr_assert_eq(qr_segment_prefix(s, "t", 1, &it), 0);
    int n = 0;
    while (qr_termdict_next(&it, &term, &m) == 1)
        n++;
    cr_assert_eq(n, 3, "talk, tenni, the");
    cr_assert_eq(qr_termdict_count(qr_segment_termdict(s)), 9);

    /* the streams are the file bodies */
    cr_assert_eq(qr_segment_doc_stream(s).n, wi.bytes[QR_SEG_DOC] - 20);
    cr_assert_eq(qr_segment_pos_stream(s).n, wi.bytes[QR_SEG_POS] - 20);

    /* still readable once its files are gone */
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        char name[32];
        qr_seg_file_name(name, 7, (qr_seg_file)k);
        cr_assert_eq(qr_dir_remove(dir, name), 0);
    }
    check_postings(s, &terms5[5]);
    check_docs(s, docs5, 5);
    qr_segment_close(s);
    qr_segment_close(NULL);
    cr_assert_eq(qr_segment_open(&s, dir, 7, true), QR_ENOTFOUND);
    qr_dir_close(dir);
}

Test(segment, empty_segment)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_segment_info wi;
    write_segment(dir, 1, NULL, 0, NULL, 0, &wi);
    cr_assert_eq(wi.docs, 0);
    cr_assert_eq(wi.terms, 0);
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, dir, 1, true), 0);
    cr_assert_eq(qr_segment_docs(s), 0);
    qr_term_meta m;
    cr_assert_eq(qr_segment_term(s, "a", 1, &m), QR_ENOTFOUND);
    qr_segment_close(s);
    qr_dir_close(dir);
}

Test(segment, many_docs_and_terms)
{
    /* enough for several postings blocks, termdict blocks and store blocks */
    enum { NDOCS = 700, NTERMS = 300 };
    static char paths[NDOCS][16];
    static char bodies[NDOCS][120];
    static qr_doc_in docs[NDOCS];
    for (uint32_t i = 0; i < NDOCS; i++) {
        snprintf(paths[i], sizeof paths[i], "d/%06u", i);
        int bl = snprintf(bodies[i], sizeof bodies[i], "document %u has a body of some words %u", i,
                          i * 7919u);
        docs[i] =
            (qr_doc_in){paths[i], strlen(paths[i]), "t", 1,      bodies[i], (size_t)bl, 50 + i % 50,
                        1,        (uint64_t)bl,     i,   i * 31u};
    }
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_segment_writer *w;
    cr_assert_eq(qr_segment_writer_open(&w, dir, 99), 0);
    for (uint32_t i = 0; i < NDOCS; i++)
        cr_assert_eq(qr_segment_writer_add_doc(w, &docs[i]), 0);
    char term[16];
    uint32_t pos[3];
    for (uint32_t t = 0; t < NTERMS; t++) {
        snprintf(term, sizeof term, "t%05u", t);
        cr_assert_eq(qr_segment_writer_begin_term(w, term, strlen(term)), 0);
        for (uint32_t d = t % 3; d < NDOCS; d += 1 + t % 5) {
            uint32_t tf = 1 + (d + t) % 3;
            for (uint32_t j = 0; j < tf; j++)
                pos[j] = (d + t + j * 7) % 16 + j * 16;
            cr_assert_eq(qr_segment_writer_add_posting(w, d, tf, pos), 0);
        }
        cr_assert_eq(qr_segment_writer_end_term(w), 0);
    }
    qr_segment_info wi;
    cr_assert_eq(qr_segment_writer_finish(w, &wi), 0);
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, dir, 99, true), 0);
    for (uint32_t t = 0; t < NTERMS; t++) {
        snprintf(term, sizeof term, "t%05u", t);
        qr_term_meta m;
        cr_assert_eq(qr_segment_term(s, term, strlen(term), &m), 0);
        qr_postings_iter it;
        cr_assert_eq(qr_segment_postings(s, &m, &it), 0);
        uint32_t count = 0;
        for (uint32_t d = t % 3; d < NDOCS; d += 1 + t % 5) {
            cr_assert_eq(it.doc, d);
            uint32_t tf = 1 + (d + t) % 3;
            cr_assert_eq(qr_postings_freq(&it), tf);
            const uint32_t *p;
            uint32_t np;
            cr_assert_eq(qr_postings_positions(&it, &p, &np), 0);
            cr_assert_eq(np, tf);
            for (uint32_t j = 0; j < tf; j++)
                cr_assert_eq(p[j], (d + t + j * 7) % 16 + j * 16);
            cr_assert_eq(qr_postings_next(&it), 0);
            count++;
        }
        cr_assert_eq(it.doc, QR_DOC_END);
        cr_assert_eq(m.df, count);
        qr_postings_iter_free(&it);
    }
    check_docs(s, docs, NDOCS);
    qr_segment_close(s);
    qr_dir_close(dir);
}

/* ---- golden bytes ---- */

static const qr_doc_in docs2[] = {
    {"a/1.txt", 7, "Hello world", 11, "hello again", 11, 4, 2, 24, 1000, 0xabcdef},
    {"a/2.txt", 7, "Second", 6, "world peace", 11, 3, 1, 19, 2000, 0x123456},
};

static const rterm terms2[] = {
    {"again", 1, {{0, 1, {3}}}},
    {"hello", 1, {{0, 2, {0, 2}}}},
    {"peac", 1, {{1, 1, {2}}}},
    {"second", 1, {{1, 1, {0}}}},
    {"world", 2, {{0, 1, {1}}, {1, 1, {1}}}},
};

/*
 * The golden xxh3 of each file of the tiny segment, but the store: its zstd
 * frames depend on the zstd version, so for .sto the test pins every byte
 * around the frames and the frames' decompressed content instead.
 */
static const uint64_t golden_xxh3[QR_SEG_FILE_COUNT] = {
    [QR_SEG_TDI] = 0x9de06ae57b58d88aull,
    [QR_SEG_DOC] = 0x2ea348941f75b80bull,
    [QR_SEG_POS] = 0xa6cda63fe3a2b252ull,
    [QR_SEG_DMT] = 0x995b42a21b5b5510ull,
};

static qr_slice map_file(qr_dir *dir, uint64_t id, qr_seg_file k, qr_mapping **m)
{
    char name[32];
    qr_slice data;
    qr_seg_file_name(name, id, k);
    cr_assert_eq(qr_dir_map(dir, name, m, &data), 0);
    return data;
}

Test(segment, golden_tiny_segment)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    write_segment(dir, 2, docs2, 2, terms2, 5, NULL);
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        if (k == QR_SEG_STO)
            continue;
        qr_mapping *m;
        qr_slice f = map_file(dir, 2, (qr_seg_file)k, &m);
        uint64_t h = qr_checksum(f.p, f.n);
        cr_expect_eq(h, golden_xxh3[k],
                     "%s changed (xxh3 now 0x%016llx): a format change must be deliberate",
                     qr_seg_file_ext((qr_seg_file)k), (unsigned long long)h);
        qr_mapping_close(m);
    }
    /* .sto: header, one frame, block entry, record offsets, trailer, footer */
    qr_mapping *m;
    qr_slice f = map_file(dir, 2, QR_SEG_STO, &m);
    static const uint8_t head[] = {0x51, 0x52, 0x53, 0x54, 1, 0, 0, 0};
    cr_assert_eq(memcmp(f.p, head, 8), 0);
    static const uint8_t raw[] = {11,  'H', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l',
                                  'd', 11,  'h', 'e', 'l', 'l', 'o', ' ', 'a', 'g', 'a',
                                  'i', 'n', 6,   'S', 'e', 'c', 'o', 'n', 'd', 11,  'w',
                                  'o', 'r', 'l', 'd', ' ', 'p', 'e', 'a', 'c', 'e'};
    size_t tail = 16 + 8 + 16 + QR_FILE_FOOTER_SIZE; /* block entry, 2 offsets, trailer, footer */
    cr_assert_gt(f.n, 8 + tail);
    size_t frames = f.n - 8 - tail;
    uint8_t out[sizeof raw + 1];
    size_t got = ZSTD_decompress(out, sizeof out, f.p + 8, frames);
    cr_assert_eq(got, sizeof raw);
    cr_assert_eq(memcmp(out, raw, sizeof raw), 0);
    const uint8_t *t = f.p + 8 + frames;
    uint8_t want[16 + 8 + 16];
    qr_store_u32(want, 0);               /* first doc */
    qr_store_u64(want + 4, 0);           /* frame offset */
    qr_store_u32(want + 12, sizeof raw); /* raw length */
    qr_store_u32(want + 16, 0);          /* doc 0's record */
    qr_store_u32(want + 20, 24);         /* doc 1's record */
    qr_store_u32(want + 24, 2);          /* docs */
    qr_store_u32(want + 28, 1);          /* blocks */
    qr_store_u64(want + 32, frames);     /* frames length */
    cr_assert_eq(memcmp(t, want, sizeof want), 0);
    cr_assert_eq(qr_load_u32(f.p + f.n - 12), ~0x54535251u);
    qr_mapping_close(m);
    qr_dir_close(dir);
}

/* ---- damage ---- */

/* Reads everything a damaged segment offers; any result but a crash is fine. */
static void read_everything(qr_segment *s)
{
    uint32_t ndocs = qr_segment_docs(s);
    qr_termdict_iter it;
    qr_slice term;
    qr_term_meta m;
    if (qr_segment_prefix(s, "", 0, &it) == 0) {
        while (qr_termdict_next(&it, &term, &m) == 1) {
            qr_term_meta m2;
            (void)qr_segment_term(s, (const char *)term.p, term.n, &m2);
            qr_postings_iter pi;
            if (qr_segment_postings(s, &m, &pi) == 0) {
                for (int guard = 0; pi.doc != QR_DOC_END && !pi.err && guard < 10000; guard++) {
                    if (pi.doc < ndocs) {
                        (void)qr_doctable_positions(qr_segment_doctable(s), pi.doc);
                        (void)qr_postings_freq(&pi);
                        const uint32_t *p;
                        uint32_t np;
                        (void)qr_postings_positions(&pi, &p, &np);
                    }
                    if (qr_postings_next(&pi))
                        break;
                }
            }
            qr_postings_iter_free(&pi);
        }
    }
    for (size_t t = 0; t < 5; t++)
        (void)qr_segment_term(s, terms2[t].term, strlen(terms2[t].term), &m);
    qr_docstore *st = qr_segment_docstore(s);
    const qr_doctable *dt = qr_segment_doctable(s);
    for (uint32_t i = 0; i < ndocs; i++) {
        qr_slice ti, bo;
        (void)qr_docstore_get(st, i, &ti, &bo);
        qr_doc_meta dm;
        qr_doctable_meta(dt, i, &dm);
        qr_slice p = qr_doctable_path(dt, i);
        uint32_t d;
        (void)qr_doctable_find(dt, (const char *)p.p, p.n, &d);
    }
}

/* Writes the five files of `src` (segment id) into a fresh memory dir, file k replaced. */
static qr_dir *copy_with(qr_dir *src, uint64_t id, int k, const uint8_t *p, size_t n)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_memory(&d), 0);
    for (int j = 0; j < QR_SEG_FILE_COUNT; j++) {
        char name[32];
        qr_seg_file_name(name, id, (qr_seg_file)j);
        if (j == k) {
            cr_assert_eq(qr_dir_write_file(d, name, p, n), 0);
        } else {
            qr_mapping *m;
            qr_slice f;
            cr_assert_eq(qr_dir_map(src, name, &m, &f), 0);
            cr_assert_eq(qr_dir_write_file(d, name, f.p, f.n), 0);
            qr_mapping_close(m);
        }
    }
    return d;
}

/* Opens a damaged copy both ways; returns whether the unverified open succeeded. */
static bool open_damaged(qr_dir *d, uint64_t id, bool version_field, const char *what, size_t at)
{
    qr_segment *s = NULL;
    int rc = qr_segment_open(&s, d, id, true);
    cr_assert_eq(rc, QR_ECORRUPT, "%s at %zu: verify=true gave %d", what, at, rc);
    cr_assert_null(s);
    rc = qr_segment_open(&s, d, id, false);
    if (version_field)
        cr_assert_eq(rc, QR_EVERSION, "%s at %zu", what, at);
    if (rc == 0) {
        read_everything(s);
        qr_segment_close(s);
        return true;
    }
    cr_assert(rc == QR_ECORRUPT || rc == QR_EVERSION, "%s at %zu: %d", what, at, rc);
    return false;
}

/*
 * Flips bits (every bit_step-th) of every byte of every file of segment id,
 * and truncates every file to every shorter length.
 */
static void damage_every_file(qr_dir *dir, uint64_t id, int bit_step)
{
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        const char *ext = qr_seg_file_ext((qr_seg_file)k);
        qr_mapping *m;
        qr_slice f = map_file(dir, id, (qr_seg_file)k, &m);
        uint8_t *c = malloc(f.n);
        memcpy(c, f.p, f.n);
        size_t opened = 0;
        for (size_t i = 0; i < f.n; i++) {
            for (int bit = 0; bit < 8; bit += bit_step) {
                c[i] ^= (uint8_t)(1u << bit);
                qr_dir *d = copy_with(dir, id, k, c, f.n);
                opened += open_damaged(d, id, i >= 4 && i < 8, ext, i);
                qr_dir_close(d);
                c[i] ^= (uint8_t)(1u << bit);
            }
        }
        /* without the checksum, damage inside a body is met while reading, not at open */
        cr_assert_gt(opened, 0, "%s: no damaged copy opened unverified", ext);
        for (size_t len = 0; len < f.n; len++) {
            qr_dir *d = copy_with(dir, id, k, c, len);
            open_damaged(d, id, false, "truncation", len);
            qr_dir_close(d);
        }
        free(c);
        qr_mapping_close(m);
    }
}

Test(segment, every_flip_and_truncation_of_every_file, .timeout = 300)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    write_segment(dir, 2, docs2, 2, terms2, 5, NULL);
    damage_every_file(dir, 2, 3);
    qr_dir_close(dir);
}

Test(segment, every_flip_of_a_segment_with_full_blocks, .timeout = 300)
{
    /* 200 docs: a term in every doc has a bit-packed postings block and a tail */
    enum { NDOCS = 200 };
    static char paths[NDOCS][12];
    static qr_doc_in docs[NDOCS];
    for (uint32_t i = 0; i < NDOCS; i++) {
        snprintf(paths[i], sizeof paths[i], "p%04u", i);
        docs[i] = (qr_doc_in){paths[i], 5, "title", 5, "a body", 6, 3 + i % 4, 1, 11, i, i};
    }
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_segment_writer *w;
    cr_assert_eq(qr_segment_writer_open(&w, dir, 2), 0);
    for (uint32_t i = 0; i < NDOCS; i++)
        cr_assert_eq(qr_segment_writer_add_doc(w, &docs[i]), 0);
    static const char *names[] = {"again", "hello", "peac", "second", "world"};
    for (uint32_t t = 0; t < 5; t++) {
        cr_assert_eq(qr_segment_writer_begin_term(w, names[t], strlen(names[t])), 0);
        for (uint32_t d = 0; d < NDOCS; d += 1 + t * t) {
            uint32_t pos[3] = {0, 1, 2};
            cr_assert_eq(qr_segment_writer_add_posting(w, d, 1 + (d + t) % 3, pos), 0);
        }
        cr_assert_eq(qr_segment_writer_end_term(w), 0);
    }
    cr_assert_eq(qr_segment_writer_finish(w, NULL), 0);
    damage_every_file(dir, 2, 8);
    qr_dir_close(dir);
}

Test(segment, doc_counts_must_agree)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    write_segment(dir, 2, docs2, 2, terms2, 5, NULL);
    write_segment(dir, 3, docs5, 5, terms5, 9, NULL);
    qr_mapping *m;
    qr_slice sto5 = map_file(dir, 3, QR_SEG_STO, &m);
    qr_dir *d = copy_with(dir, 2, QR_SEG_STO, sto5.p, sto5.n);
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, d, 2, true), QR_ECORRUPT);
    qr_mapping_close(m);
    qr_dir_close(d);
    qr_dir_close(dir);
}

/* ---- failures while writing and opening ---- */

static size_t seg_files(qr_dir *dir)
{
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_list(dir, &names, &n), 0);
    size_t segs = 0;
    for (size_t i = 0; i < n; i++)
        segs += strncmp(names[i], "seg-", 4) == 0;
    qr_dir_list_free(names, n);
    return segs;
}

/* Writes the 5-doc segment; returns the first error instead of asserting. */
static int try_write(qr_dir *dir, uint64_t id)
{
    qr_segment_writer *w;
    int rc = qr_segment_writer_open(&w, dir, id);
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < 5; i++)
        rc = qr_segment_writer_add_doc(w, &docs5[i]);
    for (size_t t = 0; !rc && t < 9; t++) {
        rc = qr_segment_writer_begin_term(w, terms5[t].term, strlen(terms5[t].term));
        for (uint32_t k = 0; !rc && k < terms5[t].n; k++)
            rc = qr_segment_writer_add_posting(w, terms5[t].p[k].doc, terms5[t].p[k].tf,
                                               terms5[t].p[k].pos);
        if (!rc)
            rc = qr_segment_writer_end_term(w);
    }
    if (rc) {
        /* a sticky error: finish reports it too, and frees */
        cr_assert_eq(qr_segment_writer_finish(w, NULL), rc);
        return rc;
    }
    return qr_segment_writer_finish(w, NULL);
}

Test(segment, allocation_failures_are_enomem)
{
    bool done = false;
    for (long k = 0; !done; k++) {
        qr_dir *dir;
        cr_assert_eq(qr_dir_open_memory(&dir), 0);
        qr_segment *s = NULL;
        qr_alloc_fail_after(k);
        int rc = try_write(dir, 5);
        bool written = rc == 0;
        if (!rc)
            rc = qr_segment_open(&s, dir, 5, true);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failures == 0) {
            cr_assert_eq(rc, 0);
            read_everything(s);
            done = true;
        } else {
            cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %d", k, rc);
            if (!written)
                cr_assert_eq(seg_files(dir), 0, "allocation %ld: files left behind", k);
        }
        qr_segment_close(s);
        qr_dir_close(dir);
        cr_assert(k < 100000);
    }
}

Test(segment, io_failures_remove_written_files)
{
    static const qr_fault_op ops[] = {QR_FAULT_CREATE, QR_FAULT_WRITE, QR_FAULT_SYNC,
                                      QR_FAULT_SYNC_START};
    static const int codes[] = {QR_EIO, QR_ENOSPC};
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
        for (long nth = 0;; nth++) {
            qr_dir *mem, *faulty;
            cr_assert_eq(qr_dir_open_memory(&mem), 0);
            cr_assert_eq(qr_dir_open_faulty(&faulty, mem), 0);
            int code = codes[nth % 2];
            qr_dir_fault_arm(faulty, ops[o], nth, code);
            int rc = try_write(faulty, 4);
            long calls = qr_dir_fault_calls(faulty, ops[o]);
            qr_dir_close(faulty);
            if (calls <= nth) {
                cr_assert_eq(rc, 0, "op %zu: no fault, no error", o);
                cr_assert_eq(seg_files(mem), QR_SEG_FILE_COUNT);
                qr_dir_close(mem);
                cr_assert_geq(nth, QR_SEG_FILE_COUNT, "every file was written once");
                break;
            }
            cr_assert_eq(rc, code, "op %zu call %ld: %d", o, nth, rc);
            cr_assert_eq(seg_files(mem), 0, "op %zu call %ld: files left behind", o, nth);
            qr_dir_close(mem);
        }
    }
    /* a failed map at open */
    qr_dir *mem, *faulty;
    cr_assert_eq(qr_dir_open_memory(&mem), 0);
    cr_assert_eq(try_write(mem, 4), 0);
    cr_assert_eq(qr_dir_open_faulty(&faulty, mem), 0);
    for (long nth = 0; nth < QR_SEG_FILE_COUNT; nth++) {
        qr_dir_fault_arm(faulty, QR_FAULT_MAP, nth, QR_EIO);
        qr_segment *s = NULL;
        cr_assert_eq(qr_segment_open(&s, faulty, 4, true), QR_EIO);
        cr_assert_null(s);
    }
    qr_dir_close(faulty);
    qr_dir_close(mem);
}

Test(segment, existing_files_are_not_overwritten)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    write_segment(dir, 2, docs2, 2, terms2, 5, NULL);
    qr_mapping *m;
    qr_slice before = map_file(dir, 2, QR_SEG_TDI, &m);
    uint64_t h = qr_checksum(before.p, before.n);
    qr_mapping_close(m);
    cr_assert_neq(try_write(dir, 2), 0, "a segment id is never reused");
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, dir, 2, true), 0, "the first segment is intact");
    qr_segment_close(s);
    qr_slice after = map_file(dir, 2, QR_SEG_TDI, &m);
    cr_assert_eq(qr_checksum(after.p, after.n), h);
    qr_mapping_close(m);
    qr_dir_close(dir);
}

Test(segment, writer_misuse_is_einval)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_segment_writer *w;
    cr_assert_eq(qr_segment_writer_open(&w, dir, 9), 0);
    cr_assert_eq(qr_segment_writer_add_doc(w, &docs5[1]), 0);
    cr_assert_eq(qr_segment_writer_add_doc(w, &docs5[0]), QR_EINVAL, "unsorted paths");
    cr_assert_eq(qr_segment_writer_add_doc(w, &docs5[1]), QR_EINVAL, "duplicate path");
    cr_assert_eq(qr_segment_writer_add_doc(w, &docs5[3]), 0);
    uint32_t p[3] = {0, 1, 2};
    cr_assert_eq(qr_segment_writer_add_posting(w, 0, 1, p), QR_EINVAL, "posting outside a term");
    cr_assert_eq(qr_segment_writer_end_term(w), QR_EINVAL, "end without begin");
    cr_assert_eq(qr_segment_writer_begin_term(w, "", 0), QR_EINVAL, "empty term");
    cr_assert_eq(qr_segment_writer_begin_term(w, "m", 1), 0);
    cr_assert_eq(qr_segment_writer_begin_term(w, "n", 1), QR_EINVAL, "begin inside a term");
    cr_assert_eq(qr_segment_writer_add_doc(w, &docs5[4]), QR_EINVAL, "doc inside a term");
    cr_assert_eq(qr_segment_writer_end_term(w), QR_EINVAL, "term without postings");
    cr_assert_eq(qr_segment_writer_add_posting(w, 2, 1, p), QR_EINVAL, "unknown doc");
    cr_assert_eq(qr_segment_writer_add_posting(w, 0, 0, p), QR_EINVAL, "tf 0");
    uint32_t far[1] = {5};
    cr_assert_eq(qr_segment_writer_add_posting(w, 0, 1, far), QR_EINVAL,
                 "position past the doc's length (5)");
    uint32_t back[2] = {2, 1};
    cr_assert_eq(qr_segment_writer_add_posting(w, 0, 2, back), QR_EINVAL, "positions going back");
    uint32_t dup[2] = {1, 1}; /* "walk-s": walk at 1, and walks -> walk at 1 */
    cr_assert_eq(qr_segment_writer_add_posting(w, 0, 2, dup), 0, "a repeated position is fine");
    cr_assert_eq(qr_segment_writer_add_posting(w, 1, 2, p), 0);
    cr_assert_eq(qr_segment_writer_add_posting(w, 1, 1, p), QR_EINVAL, "same doc twice");
    cr_assert_eq(qr_segment_writer_add_posting(w, 0, 1, p), QR_EINVAL, "docs going back");
    cr_assert_eq(qr_segment_writer_end_term(w), 0);
    cr_assert_eq(qr_segment_writer_begin_term(w, "m", 1), QR_EINVAL, "duplicate term");
    cr_assert_eq(qr_segment_writer_begin_term(w, "a", 1), QR_EINVAL, "unsorted terms");
    char big[256];
    memset(big, 'z', sizeof big);
    cr_assert_eq(qr_segment_writer_begin_term(w, big, 256), QR_EINVAL, "term too long");
    cr_assert_eq(qr_segment_writer_begin_term(w, "z", 1), 0);
    cr_assert_eq(qr_segment_writer_finish(w, NULL), QR_EINVAL, "finish inside a term");
    cr_assert_eq(seg_files(dir), 0);
    qr_segment_writer_abort(NULL);
    /* the writer stays usable after refused arguments */
    cr_assert_eq(qr_segment_writer_open(&w, dir, 9), 0);
    cr_assert_eq(qr_segment_writer_add_doc(w, &docs5[0]), 0);
    cr_assert_eq(qr_segment_writer_add_doc(w, &docs5[0]), QR_EINVAL);
    cr_assert_eq(qr_segment_writer_begin_term(w, "x", 1), 0);
    cr_assert_eq(qr_segment_writer_add_posting(w, 3, 1, p), QR_EINVAL);
    cr_assert_eq(qr_segment_writer_add_posting(w, 0, 1, p), 0);
    cr_assert_eq(qr_segment_writer_end_term(w), 0);
    qr_segment_info info;
    cr_assert_eq(qr_segment_writer_finish(w, &info), 0);
    cr_assert_eq(info.docs, 1);
    cr_assert_eq(info.terms, 1);
    qr_segment_writer *a;
    cr_assert_eq(qr_segment_writer_open(&a, dir, 10), 0);
    cr_assert_eq(qr_segment_writer_add_doc(a, &docs5[0]), 0);
    qr_segment_writer_abort(a);
    cr_assert_eq(seg_files(dir), QR_SEG_FILE_COUNT, "abort writes nothing");
    qr_dir_close(dir);
}

Test(segment, bad_meta_for_postings)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    write_segment(dir, 2, docs2, 2, terms2, 5, NULL);
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, dir, 2, true), 0);
    qr_term_meta m = {3, 3, 0, 0}; /* df above the segment's 2 docs */
    qr_postings_iter it;
    cr_assert_eq(qr_segment_postings(s, &m, &it), QR_ECORRUPT);
    cr_assert_eq(it.doc, QR_DOC_END);
    qr_postings_iter_free(&it);
    qr_segment_close(s);
    qr_dir_close(dir);
}
