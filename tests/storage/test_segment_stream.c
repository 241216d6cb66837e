/*
 * Tests for the streaming of storage/segment.c's writer: a segment of many
 * documents, stored-text blocks and terms (some with skip tables) is the
 * same bytes whatever the write-out threshold (every term and document, a
 * few bytes, a few KiB, never until finish), reads back, and a failed
 * create, write (mid-stream: while documents and terms are still being
 * added) or sync at each call leaves no file behind.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/checksum.h"
#include "storage/dir.h"
#include "storage/segment.h"
#include "storage/status.h"

#define NDOCS  600
#define NTERMS 40
#define DL     24 /* positions per document */

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static char bodies[NDOCS][420];
static char paths[NDOCS][32];

/* Documents of words, ~400 bytes each: about eight stored-text blocks. */
static void make_docs(void)
{
    static const char *w[] = {"talks ", "the ", "cease-fire ", "market ", "shares ",
                              "rose ",  "in ",  "geneva ",     "and ",    "truce "};
    rng = 0x9e3779b97f4a7c15ull;
    for (int d = 0; d < NDOCS; d++) {
        size_t n = 0, len = 200 + rnd() % 200;
        while (n < len) {
            const char *x = w[rnd() % (sizeof w / sizeof *w)];
            memcpy(bodies[d] + n, x, strlen(x));
            n += strlen(x);
        }
        bodies[d][n] = '\0';
        snprintf(paths[d], sizeof paths[d], "docs/%05d.txt", d);
    }
}

/*
 * Writes the segment with the given threshold; returns the first error (and
 * in *early whether it came before finish) instead of asserting.
 */
static int try_write(qr_dir *dir, uint64_t id, size_t flush, bool *early)
{
    *early = false;
    qr_segment_writer *w;
    int rc = qr_segment_writer_open(&w, dir, id);
    if (rc)
        return rc;
    qr_segment_writer_set_flush_bytes(w, flush);
    for (int d = 0; !rc && d < NDOCS; d++) {
        qr_doc_in in = {paths[d],
                        strlen(paths[d]),
                        "title",
                        5,
                        bodies[d],
                        strlen(bodies[d]),
                        DL,
                        1,
                        (uint64_t)d,
                        d,
                        (uint64_t)d * 31};
        rc = qr_segment_writer_add_doc(w, &in);
    }
    /* term k: every (k+1)-th doc, so df from NDOCS (skip tables) down to 15 */
    for (int k = 0; !rc && k < NTERMS; k++) {
        char term[8];
        snprintf(term, sizeof term, "t%03d", k);
        rc = qr_segment_writer_begin_term(w, term, strlen(term));
        for (int d = 0; !rc && d < NDOCS; d += k + 1) {
            uint32_t tf = 1 + (uint32_t)(d + k) % 5, pos[5];
            for (uint32_t i = 0; i < tf; i++)
                pos[i] = (uint32_t)(k + 3 * i) % DL;
            for (uint32_t i = 1; i < tf; i++) /* non-decreasing */
                if (pos[i] < pos[i - 1])
                    pos[i] = pos[i - 1];
            rc = qr_segment_writer_add_posting(w, (uint32_t)d, tf, pos);
        }
        if (!rc)
            rc = qr_segment_writer_end_term(w);
    }
    if (rc) {
        *early = true;
        cr_assert_eq(qr_segment_writer_finish(w, NULL), rc, "the error is sticky");
        return rc;
    }
    return qr_segment_writer_finish(w, NULL);
}

static qr_slice map_file(qr_dir *dir, uint64_t id, int k, qr_mapping **m)
{
    char name[32];
    qr_seg_file_name(name, id, (qr_seg_file)k);
    qr_slice s;
    cr_assert_eq(qr_dir_map(dir, name, m, &s), 0, "map %s", name);
    return s;
}

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

Test(segment_stream, same_bytes_whatever_the_threshold)
{
    make_docs();
    qr_dir *ref;
    bool early;
    cr_assert_eq(qr_dir_open_memory(&ref), 0);
    cr_assert_eq(try_write(ref, 1, SIZE_MAX, &early), 0, "everything at finish");
    static const size_t flush[] = {0, 1, 100, 4096, QR_SEG_FLUSH_BYTES};
    for (size_t f = 0; f < sizeof flush / sizeof *flush; f++) {
        qr_dir *dir;
        cr_assert_eq(qr_dir_open_memory(&dir), 0);
        cr_assert_eq(try_write(dir, 1, flush[f], &early), 0, "threshold %zu", flush[f]);
        for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
            qr_mapping *ma, *mb;
            qr_slice a = map_file(ref, 1, k, &ma), b = map_file(dir, 1, k, &mb);
            cr_assert_eq(a.n, b.n, "threshold %zu, %s: size", flush[f], qr_seg_file_ext(k));
            cr_assert(memcmp(a.p, b.p, a.n) == 0, "threshold %zu, %s: bytes", flush[f],
                      qr_seg_file_ext(k));
            qr_mapping_close(ma);
            qr_mapping_close(mb);
        }
        qr_dir_close(dir);
    }
    /* and it reads back: every term's postings and a document from each block */
    qr_segment *s;
    cr_assert_eq(qr_segment_open(&s, ref, 1, true), 0);
    qr_segment_info info;
    qr_segment_get_info(s, &info);
    cr_assert_eq(info.docs, NDOCS);
    cr_assert_eq(info.terms, NTERMS);
    for (int k = 0; k < NTERMS; k++) {
        char term[8];
        snprintf(term, sizeof term, "t%03d", k);
        qr_term_meta m;
        cr_assert_eq(qr_segment_term(s, term, strlen(term), &m), 0);
        qr_postings_iter it;
        cr_assert_eq(qr_segment_postings(s, &m, &it), 0);
        uint32_t want = 0;
        for (; it.doc != QR_DOC_END; want += (uint32_t)k + 1) {
            cr_assert_eq(it.doc, want, "term %s", term);
            cr_assert_eq(qr_postings_freq(&it), 1 + (want + (uint32_t)k) % 5);
            cr_assert_eq(qr_postings_next(&it), 0);
        }
        cr_assert_geq(want, NDOCS, "term %s: every posting", term);
        qr_postings_iter_free(&it);
    }
    for (uint32_t d = 0; d < NDOCS; d += 37) {
        qr_slice title, body;
        cr_assert_eq(qr_docstore_get(qr_segment_docstore(s), d, &title, &body), 0);
        cr_assert_eq(body.n, strlen(bodies[d]));
        cr_assert(memcmp(body.p, bodies[d], body.n) == 0);
    }
    qr_segment_close(s);
    qr_dir_close(ref);
}

Test(segment_stream, io_failures_mid_stream_remove_every_file)
{
    make_docs();
    static const qr_fault_op ops[] = {QR_FAULT_CREATE, QR_FAULT_WRITE, QR_FAULT_SYNC,
                                      QR_FAULT_SYNC_START};
    static const int codes[] = {QR_EIO, QR_ENOSPC};
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
        long early_failures = 0;
        for (long nth = 0;; nth++) {
            qr_dir *mem, *faulty;
            cr_assert_eq(qr_dir_open_memory(&mem), 0);
            cr_assert_eq(qr_dir_open_faulty(&faulty, mem), 0);
            int code = codes[nth % 2];
            qr_dir_fault_arm(faulty, ops[o], nth, code);
            bool early;
            int rc = try_write(faulty, 4, 1, &early);
            long calls = qr_dir_fault_calls(faulty, ops[o]);
            qr_dir_close(faulty);
            if (calls <= nth) {
                cr_assert_eq(rc, 0, "op %zu: no fault, no error", o);
                cr_assert_eq(seg_files(mem), QR_SEG_FILE_COUNT);
                qr_dir_close(mem);
                break;
            }
            cr_assert_eq(rc, code, "op %zu call %ld: %d", o, nth, rc);
            cr_assert_eq(seg_files(mem), 0, "op %zu call %ld: files left behind", o, nth);
            early_failures += early;
            qr_dir_close(mem);
        }
        /* creates and writes happen while terms and documents are added; syncs only at finish */
        if (ops[o] != QR_FAULT_SYNC)
            cr_assert_gt(early_failures, 2, "op %zu: failures mid-stream", o);
    }
}

Test(segment_stream, abort_removes_the_streamed_files)
{
    make_docs();
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_segment_writer *w;
    cr_assert_eq(qr_segment_writer_open(&w, dir, 7), 0);
    qr_segment_writer_set_flush_bytes(w, 1);
    for (int d = 0; d < NDOCS; d++) {
        qr_doc_in in = {
            paths[d], strlen(paths[d]), "", 0, bodies[d], strlen(bodies[d]), DL, 0, 0, 0, 0};
        cr_assert_eq(qr_segment_writer_add_doc(w, &in), 0);
    }
    cr_assert_eq(seg_files(dir), 1, "the .sto is being written");
    qr_segment_writer_abort(w);
    cr_assert_eq(seg_files(dir), 0);
    qr_dir_close(dir);
}

Test(segment_stream, allocation_failures_are_enomem)
{
    make_docs();
    bool done = false;
    long failed = 0;
    for (long k = 0; !done; k += 1 + k / 16) {
        qr_dir *dir;
        cr_assert_eq(qr_dir_open_memory(&dir), 0);
        qr_alloc_fail_after(k);
        bool early;
        int rc = try_write(dir, 5, 1, &early);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failures == 0) {
            cr_assert_eq(rc, 0);
            cr_assert_eq(seg_files(dir), QR_SEG_FILE_COUNT);
            done = true;
        } else {
            cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %d", k, rc);
            cr_assert_eq(seg_files(dir), 0, "allocation %ld: files left behind", k);
            failed++;
        }
        qr_dir_close(dir);
        cr_assert(k < 1000000);
    }
    cr_assert_gt(failed, 0);
}

Test(segment_stream, running_checksum_equals_the_whole)
{
    make_docs();
    const uint8_t *p = (const uint8_t *)bodies;
    size_t n = sizeof bodies;
    for (size_t piece = 1; piece < 5000; piece = piece * 3 + 1) {
        qr_checksum_state st;
        qr_checksum_reset(&st);
        for (size_t at = 0; at < n; at += piece)
            qr_checksum_update(&st, p + at, at + piece < n ? piece : n - at);
        qr_checksum_update(&st, NULL, 0);
        cr_assert_eq(qr_checksum_digest(&st), qr_checksum(p, n), "pieces of %zu", piece);
    }
}
