/*
 * Tests for storage/docstore.c: store and table round trips (0, 1, many docs
 * over many blocks, a 10 MB body, empty fields), fetches in random order,
 * lookup by path, writer misuse, every byte flip and truncation of small
 * files, structural damage behind a valid checksum, and allocation failure
 * at each allocation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/docstore.h"
#include "storage/status.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

/* A reference document with owned text. */
typedef struct rdoc {
    char path[64];
    char *title, *body;
    size_t title_len, body_len;
    qr_doc_in in;
} rdoc;

/* Text made of words, so it compresses like prose does. */
static char *words(size_t len)
{
    static const char *w[] = {"ukraine ",    "talks ", "the ",     "cease-fire ", "market ",
                              "shares ",     "rose ",  "in ",      "london ",     "and ",
                              "Zelensky’s ", "a ",     "24-hour ", "truce ",      "\n"};
    char *s = malloc(len + 1);
    cr_assert(s);
    size_t n = 0;
    while (n < len) {
        const char *x = w[rnd() % (sizeof w / sizeof *w)];
        size_t k = strlen(x);
        if (k > len - n)
            k = len - n;
        memcpy(s + n, x, k);
        n += k;
    }
    s[len] = '\0';
    return s;
}

static rdoc *make_docs(uint32_t n, size_t max_body, uint64_t seed)
{
    rng_state = seed;
    rdoc *d = calloc(n ? n : 1, sizeof *d);
    cr_assert(d);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(d[i].path, sizeof d[i].path, "corpus/%08u.txt", i);
        d[i].title_len = rnd() % 4 == 0 ? 0 : rnd() % 80;
        d[i].body_len = rnd() % 5 == 0 ? 0 : rnd() % (max_body + 1);
        d[i].title = words(d[i].title_len);
        d[i].body = words(d[i].body_len);
        uint32_t pos = (uint32_t)(rnd() % 5000);
        d[i].in =
            (qr_doc_in){d[i].path, strlen(d[i].path), d[i].title, d[i].title_len,
                        d[i].body, d[i].body_len,     pos,        pos ? (uint32_t)(rnd() % pos) : 0,
                        rnd(),     (int64_t)rnd(),    rnd()};
    }
    return d;
}

static void free_docs(rdoc *d, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(d[i].title);
        free(d[i].body);
    }
    free(d);
}

static void build(const rdoc *d, uint32_t n, qr_buf *sto, qr_buf *dmt)
{
    qr_docstore_writer *w;
    cr_assert_eq(qr_docstore_writer_open(&w), 0);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(qr_docstore_add(w, &d[i].in), 0, "doc %u", i);
    cr_assert_eq(qr_docstore_writer_count(w), n);
    cr_assert_eq(qr_docstore_finish(w, 3, sto, dmt), 0);
    qr_docstore_writer_close(w);
}

static void check_doc(qr_docstore *s, const qr_doctable *t, const rdoc *d, uint32_t i)
{
    qr_slice ti, bo;
    cr_assert_eq(qr_docstore_get(s, i, &ti, &bo), 0, "doc %u", i);
    cr_assert_eq(ti.n, d[i].title_len, "title length of doc %u", i);
    cr_assert_eq(bo.n, d[i].body_len, "body length of doc %u", i);
    cr_assert(ti.n == 0 || memcmp(ti.p, d[i].title, ti.n) == 0);
    cr_assert(bo.n == 0 || memcmp(bo.p, d[i].body, bo.n) == 0);
    qr_doc_meta m;
    qr_doctable_meta(t, i, &m);
    cr_assert_eq(m.positions, d[i].in.positions);
    cr_assert_eq(m.title_positions, d[i].in.title_positions);
    cr_assert_eq(m.size, d[i].in.size);
    cr_assert_eq(m.mtime_ns, d[i].in.mtime_ns);
    cr_assert_eq(m.hash, d[i].in.hash);
    cr_assert_eq(qr_doctable_positions(t, i), d[i].in.positions);
    cr_assert_eq(qr_doctable_title_positions(t, i), d[i].in.title_positions);
    qr_slice p = qr_doctable_path(t, i);
    cr_assert_eq(p.n, strlen(d[i].path));
    cr_assert_eq(memcmp(p.p, d[i].path, p.n), 0);
    uint32_t found = UINT32_MAX;
    cr_assert_eq(qr_doctable_find(t, d[i].path, strlen(d[i].path), &found), 0);
    cr_assert_eq(found, i);
}

static void roundtrip(uint32_t n, size_t max_body, uint64_t seed, uint32_t min_blocks)
{
    rdoc *d = make_docs(n, max_body, seed);
    qr_buf sto = {0}, dmt = {0};
    build(d, n, &sto, &dmt);
    qr_docstore *s;
    qr_doctable *t;
    cr_assert_eq(qr_docstore_open(&s, (qr_slice){sto.p, sto.n}, true), 0);
    cr_assert_eq(qr_doctable_open(&t, (qr_slice){dmt.p, dmt.n}, true), 0);
    cr_assert_eq(qr_docstore_count(s), n);
    cr_assert_eq(qr_doctable_count(t), n);
    /* the number of blocks is in the trailer, just before the footer */
    uint32_t nblocks = qr_load_u32(sto.p + sto.n - QR_FILE_FOOTER_SIZE - 12);
    cr_assert_geq(nblocks, min_blocks);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        check_doc(s, t, d, i);
        total += d[i].in.positions;
    }
    cr_assert_eq(qr_doctable_total_positions(t), total);
    /* random access order */
    for (uint32_t k = 0; k < n * 2; k++)
        check_doc(s, t, d, (uint32_t)(rnd() % n));
    /* absent paths */
    uint32_t doc;
    cr_assert_eq(qr_doctable_find(t, "", 0, &doc), n > 0 && d[0].path[0] == 0 ? 0 : QR_ENOTFOUND);
    cr_assert_eq(qr_doctable_find(t, "corpus/", 7, &doc), QR_ENOTFOUND);
    cr_assert_eq(qr_doctable_find(t, "corpus/00000000.txu", 19, &doc), QR_ENOTFOUND);
    cr_assert_eq(qr_doctable_find(t, "zzz", 3, &doc), QR_ENOTFOUND);
    qr_slice ti, bo;
    cr_assert_eq(qr_docstore_get(s, n, &ti, &bo), QR_EINVAL, "doc out of range");
    qr_docstore_close(s);
    qr_doctable_close(t);
    qr_buf_free(&sto);
    qr_buf_free(&dmt);
    free_docs(d, n);
}

Test(docstore, roundtrip_0)
{
    roundtrip(0, 100, 1, 0);
}

Test(docstore, roundtrip_1)
{
    roundtrip(1, 100, 2, 1);
}

Test(docstore, roundtrip_many_blocks)
{
    /* ~1,000 docs of up to 3 KB: about 45 blocks of 32 KiB */
    roundtrip(1000, 3000, 3, 20);
}

Test(docstore, roundtrip_block_boundaries)
{
    roundtrip(127, 600, 4, 1);
    roundtrip(128, 600, 5, 1);
    roundtrip(129, 600, 6, 1);
}

Test(docstore, empty_title_and_body_and_path)
{
    qr_doc_in in[3] = {
        {"", 0, "", 0, "", 0, 0, 0, 0, 0, 0},
        {"a", 1, "", 0, "body only", 9, 2, 0, 9, -5, 7},
        {"b", 1, "title only", 10, "", 0, 2, 2, 10, 1, 8},
    };
    qr_docstore_writer *w;
    cr_assert_eq(qr_docstore_writer_open(&w), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(qr_docstore_add(w, &in[i]), 0);
    qr_buf sto = {0}, dmt = {0};
    cr_assert_eq(qr_docstore_finish(w, 3, &sto, &dmt), 0);
    qr_docstore_writer_close(w);
    qr_docstore *s;
    qr_doctable *t;
    cr_assert_eq(qr_docstore_open(&s, (qr_slice){sto.p, sto.n}, true), 0);
    cr_assert_eq(qr_doctable_open(&t, (qr_slice){dmt.p, dmt.n}, true), 0);
    qr_slice ti, bo;
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert_eq(qr_docstore_get(s, i, &ti, &bo), 0);
        cr_assert_eq(ti.n, in[i].title_len);
        cr_assert_eq(bo.n, in[i].body_len);
        cr_assert(ti.n == 0 || memcmp(ti.p, in[i].title, ti.n) == 0);
        cr_assert(bo.n == 0 || memcmp(bo.p, in[i].body, bo.n) == 0);
        uint32_t doc;
        cr_assert_eq(qr_doctable_find(t, in[i].path, in[i].path_len, &doc), 0);
        cr_assert_eq(doc, i);
    }
    qr_doc_meta m;
    qr_doctable_meta(t, 1, &m);
    cr_assert_eq(m.mtime_ns, -5, "negative mtimes survive");
    cr_assert_eq(qr_doctable_total_positions(t), 4);
    qr_docstore_close(s);
    qr_doctable_close(t);
    qr_buf_free(&sto);
    qr_buf_free(&dmt);
}

Test(docstore, ten_megabyte_body, .timeout = 300)
{
    rng_state = 99;
    size_t big = 10u << 20;
    char *body = words(big);
    char *small = words(1000);
    qr_doc_in in[3] = {
        {"a", 1, "before", 6, small, 1000, 1, 1, 0, 0, 0},
        {"b", 1, "big", 3, body, big, 1, 1, 0, 0, 0},
        {"c", 1, "after", 5, small, 500, 1, 1, 0, 0, 0},
    };
    qr_docstore_writer *w;
    cr_assert_eq(qr_docstore_writer_open(&w), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(qr_docstore_add(w, &in[i]), 0);
    qr_buf sto = {0}, dmt = {0};
    cr_assert_eq(qr_docstore_finish(w, 1, &sto, &dmt), 0);
    qr_docstore_writer_close(w);
    cr_assert_lt(sto.n, big / 2, "prose compresses");
    qr_docstore *s;
    cr_assert_eq(qr_docstore_open(&s, (qr_slice){sto.p, sto.n}, true), 0);
    qr_slice ti, bo;
    for (uint32_t k = 0; k < 6; k++) {
        uint32_t i = (k * 2) % 3;
        cr_assert_eq(qr_docstore_get(s, i, &ti, &bo), 0);
        cr_assert_eq(bo.n, in[i].body_len);
        cr_assert_eq(memcmp(bo.p, in[i].body, bo.n), 0);
        cr_assert_eq(ti.n, in[i].title_len);
    }
    qr_docstore_close(s);
    qr_buf_free(&sto);
    qr_buf_free(&dmt);
    free(body);
    free(small);
}

Test(docstore, writer_misuse)
{
    qr_docstore_writer *w;
    cr_assert_eq(qr_docstore_writer_open(&w), 0);
    qr_doc_in a = {"m", 1, "", 0, "", 0, 3, 1, 0, 0, 0};
    cr_assert_eq(qr_docstore_add(w, &a), 0);
    qr_doc_in same = a;
    cr_assert_eq(qr_docstore_add(w, &same), QR_EINVAL, "duplicate path");
    qr_doc_in before = {"l", 1, "", 0, "", 0, 3, 1, 0, 0, 0};
    cr_assert_eq(qr_docstore_add(w, &before), QR_EINVAL, "path going back");
    qr_doc_in prefix = {"", 0, "", 0, "", 0, 3, 1, 0, 0, 0};
    cr_assert_eq(qr_docstore_add(w, &prefix), QR_EINVAL, "shorter path sorts first");
    qr_doc_in title = {"n", 1, "", 0, "", 0, 3, 4, 0, 0, 0};
    cr_assert_eq(qr_docstore_add(w, &title), QR_EINVAL, "title longer than document");
    qr_doc_in huge = {"n", 1, "", 0, "", (size_t)QR_STORE_MAX_RAW, 3, 1, 0, 0, 0};
    cr_assert_eq(qr_docstore_add(w, &huge), QR_ETOOBIG, "body beyond the block limit");
    qr_doc_in ok = {"ma", 2, "", 0, "", 0, 3, 3, 0, 0, 0};
    cr_assert_eq(qr_docstore_add(w, &ok), 0, "a longer path with the same prefix follows");
    cr_assert_eq(qr_docstore_writer_count(w), 2);
    qr_docstore_writer_close(w);
    qr_docstore_writer_close(NULL);
    qr_docstore_close(NULL);
    qr_doctable_close(NULL);
}

/* Reads everything a damaged store/table offers; must never crash. */
static void read_everything(qr_docstore *s, qr_doctable *t)
{
    if (s) {
        qr_slice ti, bo;
        uint32_t n = qr_docstore_count(s);
        for (uint32_t i = 0; i < n; i++) {
            if (qr_docstore_get(s, i, &ti, &bo) == 0) {
                volatile uint8_t sum = 0;
                for (size_t k = 0; k < ti.n; k++)
                    sum += ti.p[k];
                for (size_t k = 0; k < bo.n; k++)
                    sum += bo.p[k];
            }
        }
        for (uint32_t i = n; i-- > 0;)
            (void)qr_docstore_get(s, i, &ti, &bo);
    }
    if (t) {
        uint32_t n = qr_doctable_count(t);
        for (uint32_t i = 0; i < n; i++) {
            qr_doc_meta m;
            qr_doctable_meta(t, i, &m);
            qr_slice p = qr_doctable_path(t, i);
            uint32_t doc;
            cr_assert_eq(qr_doctable_find(t, (const char *)p.p, p.n, &doc), 0);
            cr_assert_eq(doc, i);
        }
    }
}

/* A small store of two blocks: 12 docs, ~40 KiB raw that compresses well, so few bytes to flip. */
static rdoc *small_docs(uint32_t *n)
{
    *n = 12;
    rdoc *d = make_docs(*n, 10, 21);
    for (uint32_t i = 0; i < *n; i++) {
        free(d[i].body);
        size_t len = 3500;
        d[i].body = malloc(len + 1);
        for (size_t k = 0; k < len; k++)
            d[i].body[k] = "line of text in document "[k % 25] + (k % 25 == 24 ? (char)i : 0);
        d[i].body[len] = '\0';
        d[i].body_len = len;
        d[i].in.body = d[i].body;
        d[i].in.body_len = len;
    }
    return d;
}

static void flip_and_truncate(qr_buf *img, bool store)
{
    /* an exact-size copy, so ASan sees any read past the image */
    uint8_t *c = malloc(img->n);
    memcpy(c, img->p, img->n);
    size_t opened = 0;
    for (size_t i = 0; i < img->n; i++) {
        c[i] ^= 0x01;
        qr_docstore *s = NULL;
        qr_doctable *t = NULL;
        qr_slice f = {c, img->n};
        int rc = store ? qr_docstore_open(&s, f, true) : qr_doctable_open(&t, f, true);
        cr_assert_eq(rc, QR_ECORRUPT, "flip at %zu: %d", i, rc);
        rc = store ? qr_docstore_open(&s, f, false) : qr_doctable_open(&t, f, false);
        if (i >= 4 && i < 8)
            cr_assert_eq(rc, QR_EVERSION);
        if (rc == 0) {
            opened++;
            read_everything(s, t);
        } else {
            cr_assert(rc == QR_ECORRUPT || rc == QR_EVERSION);
        }
        qr_docstore_close(s);
        qr_doctable_close(t);
        c[i] ^= 0x01;
    }
    free(c);
    cr_assert(opened > 0, "unverified damage is read, not all refused at open");
    for (size_t len = 0; len < img->n; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, img->p, len);
        qr_docstore *s = NULL;
        qr_doctable *t = NULL;
        qr_slice f = {cut, len};
        int rc = store ? qr_docstore_open(&s, f, true) : qr_doctable_open(&t, f, true);
        cr_assert_eq(rc, QR_ECORRUPT, "truncated to %zu", len);
        rc = store ? qr_docstore_open(&s, f, false) : qr_doctable_open(&t, f, false);
        if (rc == 0)
            read_everything(s, t);
        qr_docstore_close(s);
        qr_doctable_close(t);
        free(cut);
    }
}

Test(docstore, every_flip_and_truncation_detected, .timeout = 300)
{
    uint32_t n;
    rdoc *d = small_docs(&n);
    qr_buf sto = {0}, dmt = {0};
    build(d, n, &sto, &dmt);
    cr_assert_eq(qr_load_u32(sto.p + sto.n - QR_FILE_FOOTER_SIZE - 12), 2, "two blocks");
    flip_and_truncate(&sto, true);
    flip_and_truncate(&dmt, false);
    qr_buf_free(&sto);
    qr_buf_free(&dmt);
    free_docs(d, n);
}

static void refooter(qr_buf *img)
{
    qr_store_u64(img->p + img->n - 8, qr_checksum(img->p, img->n - 8));
}

/* Patches a u32/u64 at `at` of a copy, fixes the checksum, and returns the open status. */
static int patched(const qr_buf *img, bool store, size_t at, uint64_t v, int width, bool fetch_all)
{
    qr_buf c = {0};
    qr_buf_put(&c, img->p, img->n);
    if (width == 8)
        qr_store_u64(c.p + at, v);
    else
        qr_store_u32(c.p + at, (uint32_t)v);
    refooter(&c);
    qr_docstore *s = NULL;
    qr_doctable *t = NULL;
    qr_slice f = {c.p, c.n};
    int rc = store ? qr_docstore_open(&s, f, true) : qr_doctable_open(&t, f, true);
    if (rc == 0 && fetch_all) {
        qr_slice ti, bo;
        for (uint32_t i = 0; i < qr_docstore_count(s) && rc == 0; i++)
            rc = qr_docstore_get(s, i, &ti, &bo);
    }
    qr_docstore_close(s);
    qr_doctable_close(t);
    qr_buf_free(&c);
    return rc;
}

Test(docstore, structural_damage_behind_a_valid_checksum)
{
    uint32_t n;
    rdoc *d = small_docs(&n);
    qr_buf sto = {0}, dmt = {0};
    build(d, n, &sto, &dmt);
    size_t tr = sto.n - QR_FILE_FOOTER_SIZE - 16; /* docs u32, nblocks u32, frames_len u64 */
    uint64_t frames_len = qr_load_u64(sto.p + tr + 8);
    size_t blocks = 8 + (size_t)frames_len; /* block entries: first_doc u32, comp u64, raw u32 */
    size_t offs = blocks + 2 * 16;
    cr_assert_eq(patched(&sto, true, tr, n + 1, 4, false), QR_ECORRUPT, "docs");
    cr_assert_eq(patched(&sto, true, tr + 4, 3, 4, false), QR_ECORRUPT, "nblocks");
    cr_assert_eq(patched(&sto, true, tr + 8, frames_len - 1, 8, false), QR_ECORRUPT, "frames");
    cr_assert_eq(patched(&sto, true, blocks, 1, 4, false), QR_ECORRUPT, "first doc not 0");
    cr_assert_eq(patched(&sto, true, blocks + 4, 1, 8, false), QR_ECORRUPT, "first frame");
    cr_assert_eq(patched(&sto, true, blocks + 16, 0, 4, false), QR_ECORRUPT, "first docs order");
    cr_assert_eq(patched(&sto, true, blocks + 16, n, 4, false), QR_ECORRUPT, "first doc >= docs");
    cr_assert_eq(patched(&sto, true, blocks + 20, frames_len, 8, false), QR_ECORRUPT,
                 "frame past the end");
    cr_assert_eq(patched(&sto, true, blocks + 12, 0, 4, false), QR_ECORRUPT, "raw_len 0");
    cr_assert_eq(patched(&sto, true, blocks + 12, QR_STORE_MAX_RAW + 1ull, 4, false), QR_ECORRUPT,
                 "raw_len insane");
    /* found only at fetch time */
    cr_assert_eq(patched(&sto, true, blocks + 12, qr_load_u32(sto.p + blocks + 12) + 1, 4, true),
                 QR_ECORRUPT, "raw_len disagrees with the frame");
    cr_assert_eq(patched(&sto, true, blocks + 20, qr_load_u64(sto.p + blocks + 20) - 1, 8, true),
                 QR_ECORRUPT, "frame boundary moved");
    cr_assert_eq(patched(&sto, true, offs + 4, 1u << 20, 4, true), QR_ECORRUPT,
                 "record past its block");
    cr_assert_eq(patched(&sto, true, offs + 4, 1, 4, true), QR_ECORRUPT, "record cut");

    /* table: docs u32 then columns */
    size_t body = 8;
    cr_assert_eq(patched(&dmt, false, body, n + 1, 4, false), QR_ECORRUPT, "docs");
    cr_assert_eq(patched(&dmt, false, body, 1u << 30, 4, false), QR_ECORRUPT, "docs huge");
    size_t tpos = body + 4 + (size_t)n * 4;
    cr_assert_eq(patched(&dmt, false, tpos, d[0].in.positions + 1ull, 4, false), QR_ECORRUPT,
                 "title longer than doc");
    size_t poff = body + 4 + (size_t)n * 32;
    cr_assert_eq(patched(&dmt, false, poff, 1, 4, false), QR_ECORRUPT, "first path offset");
    cr_assert_eq(patched(&dmt, false, poff + 4 * (size_t)n, 1000000, 4, false), QR_ECORRUPT,
                 "last path offset");
    cr_assert_eq(patched(&dmt, false, poff + 4, qr_load_u32(dmt.p + poff + 8) + 1ull, 4, false),
                 QR_ECORRUPT, "offsets not monotonic");
    /* paths out of order: swap the last byte of paths 0 and 1 (same length) */
    qr_buf c = {0};
    qr_buf_put(&c, dmt.p, dmt.n);
    size_t paths = poff + 4 * ((size_t)n + 1);
    uint32_t e0 = qr_load_u32(dmt.p + poff + 4), e1 = qr_load_u32(dmt.p + poff + 8);
    uint8_t x = c.p[paths + e0 - 5];
    c.p[paths + e0 - 5] = c.p[paths + e1 - 5];
    c.p[paths + e1 - 5] = x;
    refooter(&c);
    qr_doctable *t;
    cr_assert_eq(qr_doctable_open(&t, (qr_slice){c.p, c.n}, true), QR_ECORRUPT, "paths order");
    qr_buf_free(&c);
    qr_buf_free(&sto);
    qr_buf_free(&dmt);
    free_docs(d, n);
}

Test(docstore, allocation_failures_are_enomem)
{
    uint32_t n;
    rdoc *d = make_docs(300, 800, 31);
    n = 300;
    bool done = false;
    int recovered = 0, sticky = 0;
    for (long k = 0; !done; k++) {
        qr_buf sto = {0}, dmt = {0};
        qr_docstore_writer *w = NULL;
        qr_docstore *s = NULL;
        qr_doctable *t = NULL;
        qr_alloc_fail_after(k);
        int rc = qr_docstore_writer_open(&w);
        uint32_t added = 0;
        while (rc == 0 && added < n) {
            rc = qr_docstore_add(w, &d[added].in);
            added += rc == 0;
        }
        bool add_failed = rc != 0 && w;
        if (rc == 0)
            rc = qr_docstore_finish(w, 3, &sto, &dmt);
        if (rc == 0)
            rc = qr_docstore_open(&s, (qr_slice){sto.p, sto.n}, true);
        if (rc == 0)
            rc = qr_doctable_open(&t, (qr_slice){dmt.p, dmt.n}, true);
        qr_slice ti, bo;
        for (uint32_t i = 0; rc == 0 && i < n; i += 37)
            rc = qr_docstore_get(s, i, &ti, &bo);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failures == 0) {
            cr_assert_eq(rc, 0);
            done = true;
        } else {
            cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %d", k, rc);
        }
        if (add_failed) {
            /* either the failure was sticky, or the writer carries on as if it never happened */
            int again = qr_docstore_add(w, &d[added].in);
            if (again == 0) {
                while (again == 0 && ++added < n)
                    again = qr_docstore_add(w, &d[added].in);
                cr_assert_eq(again, 0);
                qr_buf_reset(&sto);
                qr_buf_reset(&dmt);
                cr_assert_eq(qr_docstore_finish(w, 3, &sto, &dmt), 0);
                cr_assert_eq(qr_docstore_open(&s, (qr_slice){sto.p, sto.n}, true), 0);
                cr_assert_eq(qr_doctable_open(&t, (qr_slice){dmt.p, dmt.n}, true), 0);
                for (uint32_t i = 0; i < n; i++)
                    check_doc(s, t, d, i);
                recovered++;
            } else {
                cr_assert_eq(again, QR_ENOMEM);
                cr_assert_eq(qr_docstore_finish(w, 3, &sto, &dmt), QR_ENOMEM);
                sticky++;
            }
        }
        qr_docstore_close(s);
        qr_doctable_close(t);
        qr_docstore_writer_close(w);
        qr_buf_free(&sto);
        qr_buf_free(&dmt);
        cr_assert(k < 10000);
    }
    cr_assert_gt(recovered, 0, "array growth failures leave the writer usable");
    cr_assert_gt(sticky, 0, "text buffer failures are sticky");
    free_docs(d, n);
}

Test(docstore, zstd_errors_are_reported)
{
    /* A frame whose header claims the right size but whose content is garbage. */
    qr_doc_in in = {"p", 1, "t", 1, "some body text some body text", 29, 1, 1, 0, 0, 0};
    qr_docstore_writer *w;
    cr_assert_eq(qr_docstore_writer_open(&w), 0);
    cr_assert_eq(qr_docstore_add(w, &in), 0);
    qr_buf sto = {0}, dmt = {0};
    cr_assert_eq(qr_docstore_finish(w, 19, &sto, &dmt), 0);
    qr_docstore_writer_close(w);
    uint64_t frames_len = qr_load_u64(sto.p + sto.n - QR_FILE_FOOTER_SIZE - 8);
    cr_assert_gt(frames_len, 6);
    /* frame header size, from the zstd format (RFC 8878 §3.1.1.1) */
    const uint8_t *f = sto.p + 8;
    cr_assert_eq(qr_load_u32(f), 0xFD2FB528u);
    uint8_t fhd = f[4];
    bool single = (fhd >> 5) & 1;
    static const size_t did_size[] = {0, 1, 2, 4}, fcs_size[] = {0, 2, 4, 8};
    size_t fcs = (fhd >> 6) == 0 ? (single ? 1 : 0) : fcs_size[fhd >> 6];
    size_t hdr = 5 + (single ? 0 : 1) + did_size[fhd & 3] + fcs;
    /* damage the first block header byte after the frame header: a reserved block type */
    sto.p[8 + hdr] |= 0x06;
    refooter(&sto);
    qr_docstore *s;
    cr_assert_eq(qr_docstore_open(&s, (qr_slice){sto.p, sto.n}, true), 0);
    qr_slice ti, bo;
    cr_assert_eq(qr_docstore_get(s, 0, &ti, &bo), QR_ECORRUPT);
    qr_docstore_close(s);
    qr_buf_free(&sto);
    qr_buf_free(&dmt);
}

/* The exact bytes of a two-document table, derived by hand from the grammar in docstore.c. */
Test(docstore, golden_table_bytes)
{
    qr_doc_in in[2] = {
        {"a/1", 3, "T", 1, "b", 1, 4, 2, 24, 1000, 0xabcdef},
        {"a/2", 3, "", 0, "", 0, 3, 0, 19, -1, 7},
    };
    qr_docstore_writer *w;
    cr_assert_eq(qr_docstore_writer_open(&w), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(qr_docstore_add(w, &in[i]), 0);
    qr_buf sto = {0}, dmt = {0};
    cr_assert_eq(qr_docstore_finish(w, 3, &sto, &dmt), 0);
    qr_docstore_writer_close(w);
    static const uint8_t want[] = {
        0x51, 0x52, 0x44, 0x54, 1,    0,    0,    0, /* "QRDT", version 1 */
        2,    0,    0,    0,                         /* docs */
        4,    0,    0,    0,    3,    0,    0,    0, /* positions */
        2,    0,    0,    0,    0,    0,    0,    0, /* title positions */
        24,   0,    0,    0,    0,    0,    0,    0,    19, 0, 0, 0, 0, 0, 0, 0, /* sizes */
        0xe8, 0x03, 0,    0,    0,    0,    0,    0,                             /* mtime 1000 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,                          /* mtime -1 */
        0xef, 0xcd, 0xab, 0,    0,    0,    0,    0,    7,  0, 0, 0, 0, 0, 0, 0, /* hashes */
        0,    0,    0,    0,    3,    0,    0,    0,    6,  0, 0, 0,             /* path offsets */
        'a',  '/',  '1',  'a',  '/',  '2',                                       /* paths */
        0xae, 0xad, 0xbb, 0xab,                                                  /* ~magic */
    };
    cr_assert_eq(dmt.n, sizeof want + 8);
    cr_assert_eq(memcmp(dmt.p, want, sizeof want), 0);
    cr_assert_eq(qr_load_u64(dmt.p + sizeof want), qr_checksum(dmt.p, sizeof want));
    /* the store around its frame: block entry, record offsets, trailer */
    static const uint8_t raw[] = {1, 'T', 1, 'b', 0, 0};
    size_t tail = 16 + 8 + 16 + QR_FILE_FOOTER_SIZE;
    size_t frames = sto.n - 8 - tail;
    uint8_t out[sizeof raw];
    cr_assert_eq(ZSTD_decompress(out, sizeof out, sto.p + 8, frames), sizeof raw);
    cr_assert_eq(memcmp(out, raw, sizeof raw), 0);
    uint8_t t[40];
    qr_store_u32(t, 0);
    qr_store_u64(t + 4, 0);
    qr_store_u32(t + 12, sizeof raw);
    qr_store_u32(t + 16, 0);
    qr_store_u32(t + 20, 4);
    qr_store_u32(t + 24, 2);
    qr_store_u32(t + 28, 1);
    qr_store_u64(t + 32, frames);
    cr_assert_eq(memcmp(sto.p + 8 + frames, t, sizeof t), 0);
    cr_assert_eq(memcmp(sto.p, "QRST\x01\x00\x00\x00", 8), 0);
    qr_buf_free(&sto);
    qr_buf_free(&dmt);
}

/* ---- the streaming writer ---- */

/*
 * Builds the store with the streaming writer, taking its frames out after
 * every document (as the segment writer does) into a framed image; returns
 * the first error instead of asserting.
 */
static int build_stream(const rdoc *d, uint32_t n, int level, qr_buf *sto, qr_buf *dmt)
{
    qr_buf frames = {0};
    qr_docstore_writer *w;
    int rc = qr_docstore_writer_open_stream(&w, level, &frames);
    if (rc)
        return rc;
    qr_file_begin(sto, QR_DOCSTORE_MAGIC, QR_DOCSTORE_VERSION);
    for (uint32_t i = 0; !rc && i < n; i++) {
        rc = qr_docstore_add(w, &d[i].in);
        qr_buf_put(sto, frames.p, frames.n);
        qr_buf_reset(&frames);
    }
    if (!rc)
        rc = qr_docstore_finish_stream(w, dmt);
    qr_buf_put(sto, frames.p, frames.n);
    qr_file_end(sto, QR_DOCSTORE_MAGIC);
    if (!rc && sto->err)
        rc = sto->err;
    qr_docstore_writer_close(w);
    qr_buf_free(&frames);
    return rc;
}

Test(docstore, streaming_writer_writes_the_same_bytes)
{
    static const struct {
        uint32_t n;
        size_t max_body;
    } sets[] = {{0, 0}, {1, 100}, {300, 2000}, {40, 200000}};
    for (size_t k = 0; k < sizeof sets / sizeof *sets; k++) {
        rdoc *d = make_docs(sets[k].n, sets[k].max_body, 7 + k);
        qr_buf sto = {0}, dmt = {0}, ssto = {0}, sdmt = {0};
        qr_docstore_writer *w;
        cr_assert_eq(qr_docstore_writer_open(&w), 0);
        for (uint32_t i = 0; i < sets[k].n; i++)
            cr_assert_eq(qr_docstore_add(w, &d[i].in), 0);
        cr_assert_eq(qr_docstore_finish(w, 1, &sto, &dmt), 0);
        qr_docstore_writer_close(w);
        cr_assert_eq(build_stream(d, sets[k].n, 1, &ssto, &sdmt), 0);
        cr_assert_eq(ssto.n, sto.n, "set %zu: .sto size", k);
        cr_assert(memcmp(ssto.p, sto.p, sto.n) == 0, "set %zu: .sto bytes", k);
        cr_assert_eq(sdmt.n, dmt.n, "set %zu: .dmt size", k);
        cr_assert(memcmp(sdmt.p, dmt.p, dmt.n) == 0, "set %zu: .dmt bytes", k);
        qr_docstore *s;
        qr_doctable *t;
        cr_assert_eq(qr_docstore_open(&s, (qr_slice){ssto.p, ssto.n}, true), 0);
        cr_assert_eq(qr_doctable_open(&t, (qr_slice){sdmt.p, sdmt.n}, true), 0);
        for (uint32_t i = 0; i < sets[k].n; i++)
            check_doc(s, t, d, i);
        qr_docstore_close(s);
        qr_doctable_close(t);
        qr_buf_free(&sto);
        qr_buf_free(&dmt);
        qr_buf_free(&ssto);
        qr_buf_free(&sdmt);
        free_docs(d, sets[k].n);
    }
}

Test(docstore, streaming_writer_misuse)
{
    qr_buf frames = {0}, sto = {0}, dmt = {0};
    qr_docstore_writer *w;
    cr_assert_eq(qr_docstore_writer_open_stream(&w, 1, NULL), QR_EINVAL);
    cr_assert_null(w);
    cr_assert_eq(qr_docstore_writer_open_stream(&w, ZSTD_maxCLevel() + 1, &frames), QR_EINVAL);
    cr_assert_eq(qr_docstore_writer_open_stream(&w, ZSTD_minCLevel() - 1, &frames), QR_EINVAL);
    cr_assert_eq(qr_docstore_writer_open_stream(&w, 1, &frames), 0);
    cr_assert_eq(qr_docstore_finish(w, 1, &sto, &dmt), QR_EINVAL, "a streaming writer");
    qr_docstore_writer_close(w);
    cr_assert_eq(qr_docstore_writer_open(&w), 0);
    cr_assert_eq(qr_docstore_finish_stream(w, &dmt), QR_EINVAL, "a writer that does not stream");
    qr_docstore_writer_close(w);
    cr_assert_eq(sto.n + dmt.n + frames.n, 0);
}

Test(docstore, streaming_allocation_failures_are_enomem)
{
    rdoc *d = make_docs(300, 800, 31);
    bool done = false;
    long failed = 0;
    for (long k = 0; !done; k++) {
        qr_buf sto = {0}, dmt = {0};
        qr_alloc_fail_after(k);
        int rc = build_stream(d, 300, 1, &sto, &dmt);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failures == 0) {
            cr_assert_eq(rc, 0);
            qr_docstore *s;
            cr_assert_eq(qr_docstore_open(&s, (qr_slice){sto.p, sto.n}, true), 0);
            qr_docstore_close(s);
            done = true;
        } else {
            cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %d", k, rc);
            failed++;
        }
        qr_buf_free(&sto);
        qr_buf_free(&dmt);
        cr_assert(k < 10000);
    }
    cr_assert_gt(failed, 0);
    free_docs(d, 300);
}
