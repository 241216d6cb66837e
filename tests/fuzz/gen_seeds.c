/*
 * Seed generator for fuzz_segment: writes small, valid inputs in the layout
 * fuzz_common.h describes into a directory, one file per (file kind, size,
 * raw or framed), so that the fuzzer starts from inputs that get past every
 * magic number and length check and mutates real structures.
 *
 * Two segments are made with the storage writers: a tiny one (5 documents,
 * a handful of terms) and a larger one (200 documents: a term with a full
 * bit-packed block and a skip table, terms of 2..128 and of one document,
 * and enough terms for two dictionary blocks), plus a manifest naming the
 * segment and a deletion bitmap: each file alone, and the whole index as
 * `quarry check` sees it (sound: the fuzzer starts from an index it passes). The output is
 * deterministic: run.sh regenerates it next to the committed copies in tests/fuzz/corpus/segment.
 *
 *   gen_seeds OUTDIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/dir.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"

static const char *outdir;

static void die(const char *what, int rc)
{
    fprintf(stderr, "gen_seeds: %s: %s\n", what, qr_strerror(rc));
    exit(1);
}

static void check(int rc, const char *what)
{
    if (rc)
        die(what, rc);
}

/* Writes one seed: mode byte then the bytes of b. */
static void emit(const char *name, uint8_t mode, const qr_buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputc(mode, f) == EOF || (b->n && fwrite(b->p, 1, b->n, f) != b->n) || fclose(f)) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        exit(1);
    }
}

/* The whole image of a file of dir, appended to out. */
static qr_slice file_image(qr_dir *dir, const char *name, qr_mapping **m)
{
    qr_slice s;
    check(qr_dir_map(dir, name, m, &s), name);
    return s;
}

/* The body of an image (what the harness frames again in framed mode). */
static qr_slice body_of(qr_slice img)
{
    return (qr_slice){img.p + QR_FILE_HEADER_SIZE,
                      img.n - QR_FILE_HEADER_SIZE - QR_FILE_FOOTER_SIZE};
}

/* Emits the raw and framed seeds of one lone file. */
static void emit_file(const char *label, const char *size, uint8_t mode, qr_slice img,
                      const uint8_t *prefix, size_t prefix_n)
{
    char name[128];
    qr_buf b = {0};
    qr_buf_put(&b, prefix, prefix_n);
    qr_buf_put(&b, img.p, img.n);
    snprintf(name, sizeof name, "%s-%s", label, size);
    emit(name, mode, &b);
    qr_buf_reset(&b);
    qr_buf_put(&b, prefix, prefix_n);
    qr_slice body = body_of(img);
    qr_buf_put(&b, body.p, body.n);
    snprintf(name, sizeof name, "%s-%s-framed", label, size);
    emit(name, mode | MODE_FRAMED, &b);
    qr_buf_free(&b);
}

/* ---- the segments ---- */

/* Writes segment FUZZ_SEG_ID of ndocs documents into dir. */
static void make_segment(qr_dir *dir, uint32_t ndocs)
{
    qr_segment_writer *w;
    check(qr_segment_writer_open(&w, dir, FUZZ_SEG_ID), "segment writer");
    for (uint32_t i = 0; i < ndocs; i++) {
        char path[32], title[32], body[64];
        snprintf(path, sizeof path, "news/%04u.txt", i);
        snprintf(title, sizeof title, "Report %u", i);
        snprintf(body, sizeof body, "The cease-fire talks went on, day %u.", i);
        qr_doc_in d = {path,    strlen(path),      title,          strlen(title),
                       body,    strlen(body),      10 + i % 7,     2,
                       100 + i, (int64_t)i * 1000, i * 2654435761u};
        check(qr_segment_writer_add_doc(w, &d), "add doc");
    }
    uint32_t pos[4] = {0, 1, 1, 5};
    char term[16];
    /* "aa": every doc (a full block and a tail past 128 docs), tf 1..4 */
    check(qr_segment_writer_begin_term(w, "aa", 2), "term");
    for (uint32_t i = 0; i < ndocs; i++)
        check(qr_segment_writer_add_posting(w, i, 1 + i % 4, pos), "posting");
    check(qr_segment_writer_end_term(w), "end term");
    /* "bb": every third doc */
    check(qr_segment_writer_begin_term(w, "bb", 2), "term");
    for (uint32_t i = 0; i < ndocs; i += 3)
        check(qr_segment_writer_add_posting(w, i, 2, pos + 1), "posting");
    check(qr_segment_writer_end_term(w), "end term");
    /* "cc": one doc */
    check(qr_segment_writer_begin_term(w, "cc", 2), "term");
    check(qr_segment_writer_add_posting(w, ndocs - 1, 3, pos), "posting");
    check(qr_segment_writer_end_term(w), "end term");
    /* fillers: enough for a second dictionary block in the larger segment */
    uint32_t fillers = ndocs > 64 ? 70 : 3;
    for (uint32_t t = 0; t < fillers; t++) {
        snprintf(term, sizeof term, "t%03u", t);
        check(qr_segment_writer_begin_term(w, term, strlen(term)), "term");
        check(qr_segment_writer_add_posting(w, t % ndocs, 1, pos + 3), "posting");
        check(qr_segment_writer_end_term(w), "end term");
    }
    check(qr_segment_writer_finish(w, NULL), "finish");
}

static void emit_segment(const char *size, uint32_t ndocs)
{
    static const char *const kinds[QR_SEG_FILE_COUNT] = {"termdict", "postings-doc", "postings-pos",
                                                         "docstore", "doctable"};
    static const uint8_t modes[QR_SEG_FILE_COUNT] = {MODE_TERMDICT, 0, 0, MODE_DOCSTORE,
                                                     MODE_DOCTABLE};
    qr_dir *dir;
    check(qr_dir_open_memory(&dir), "memory dir");
    make_segment(dir, ndocs);
    qr_mapping *maps[QR_SEG_FILE_COUNT];
    qr_slice img[QR_SEG_FILE_COUNT];
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        char name[32];
        qr_seg_file_name(name, FUZZ_SEG_ID, (qr_seg_file)k);
        img[k] = file_image(dir, name, &maps[k]);
    }

    /* lone files (the dictionary with an empty probe, then with probe "t0") */
    static const uint8_t no_probe[1] = {0}, probe_t0[3] = {2, 't', '0'};
    emit_file(kinds[QR_SEG_TDI], size, modes[QR_SEG_TDI], img[QR_SEG_TDI], no_probe, 1);
    char label[64];
    snprintf(label, sizeof label, "%s-probe", kinds[QR_SEG_TDI]);
    emit_file(label, size, modes[QR_SEG_TDI], img[QR_SEG_TDI], probe_t0, 3);
    emit_file(kinds[QR_SEG_STO], size, modes[QR_SEG_STO], img[QR_SEG_STO], NULL, 0);
    emit_file(kinds[QR_SEG_DMT], size, modes[QR_SEG_DMT], img[QR_SEG_DMT], NULL, 0);

    /* postings: the metas of aa, bb, cc and the last term, then the two streams */
    qr_segment *s;
    check(qr_segment_open(&s, dir, FUZZ_SEG_ID, true), "open segment");
    qr_buf b = {0};
    qr_buf_put_u8(&b, 4);
    const char *names[4] = {"aa", "bb", "cc", ndocs > 64 ? "t069" : "t002"};
    for (int i = 0; i < 4; i++) {
        qr_term_meta m;
        check(qr_segment_term(s, names[i], strlen(names[i]), &m), names[i]);
        qr_buf_put_varint(&b, m.df);
        qr_buf_put_varint(&b, m.ttf);
        qr_buf_put_varint(&b, m.doc_off);
        qr_buf_put_varint(&b, m.pos_off);
    }
    qr_slice ds = qr_segment_doc_stream(s), ps = qr_segment_pos_stream(s);
    qr_buf_put_varint(&b, ds.n);
    qr_buf_put(&b, ds.p, ds.n);
    qr_buf_put(&b, ps.p, ps.n);
    snprintf(label, sizeof label, "postings-%s", size);
    emit(label, MODE_POSTINGS, &b);
    qr_segment_close(s);

    /* the whole segment, raw and framed */
    for (int framed = 0; framed < 2; framed++) {
        qr_buf_reset(&b);
        for (int k = 0; k < QR_SEG_FILE_COUNT - 1; k++)
            qr_buf_put_varint(&b, framed ? body_of(img[k]).n : img[k].n);
        for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
            qr_slice f = framed ? body_of(img[k]) : img[k];
            qr_buf_put(&b, f.p, f.n);
        }
        snprintf(label, sizeof label, "segment-%s%s", size, framed ? "-framed" : "");
        emit(label, MODE_SEGMENT | (framed ? MODE_FRAMED : 0), &b);
    }

    /* a manifest naming the segment with two deletions, and their bitmap */
    qr_deletes del;
    qr_deletes_init(&del, ndocs);
    check(qr_deletes_add(&del, 0), "delete");
    check(qr_deletes_add(&del, ndocs - 1), "delete");
    check(qr_deletes_write(dir, FUZZ_SEG_ID, FUZZ_DEL_GEN, &del), "write deletes");
    qr_deletes_free(&del);
    uint64_t live = 0;
    for (uint32_t i = 1; i + 1 < ndocs; i++)
        live += 10 + i % 7; /* make_segment's lengths, docs 0 and ndocs - 1 deleted */
    qr_manifest_seg seg = {FUZZ_SEG_ID, ndocs, 2, FUZZ_DEL_GEN, live};
    qr_manifest m = {FUZZ_GEN, FUZZ_SEG_ID + 1, "english", 1, &seg};
    check(qr_manifest_commit(dir, &m), "commit");
    char name[48];
    qr_mapping *mm;
    qr_manifest_file_name(name, FUZZ_GEN);
    emit_file("manifest", size, MODE_MANIFEST, file_image(dir, name, &mm), NULL, 0);
    qr_mapping_close(mm);
    qr_deletes_file_name(name, FUZZ_SEG_ID, FUZZ_DEL_GEN);
    uint8_t docs_le[4];
    qr_store_u32(docs_le, ndocs);
    emit_file("deletes", size, MODE_DELETES, file_image(dir, name, &mm), docs_le, 4);
    qr_mapping_close(mm);

    /* the whole index, raw and framed */
    qr_mapping *im[2];
    qr_slice extra[2];
    qr_manifest_file_name(name, FUZZ_GEN);
    extra[0] = file_image(dir, name, &im[0]);
    qr_deletes_file_name(name, FUZZ_SEG_ID, FUZZ_DEL_GEN);
    extra[1] = file_image(dir, name, &im[1]);
    for (int framed = 0; framed < 2; framed++) {
        qr_buf_reset(&b);
        for (int k = 0; k < QR_SEG_FILE_COUNT + 1; k++) {
            qr_slice f = k < QR_SEG_FILE_COUNT ? img[k] : extra[0];
            qr_buf_put_varint(&b, framed ? body_of(f).n : f.n);
        }
        for (int k = 0; k < QR_SEG_FILE_COUNT + 2; k++) {
            qr_slice f = k < QR_SEG_FILE_COUNT ? img[k] : extra[k - QR_SEG_FILE_COUNT];
            f = framed ? body_of(f) : f;
            qr_buf_put(&b, f.p, f.n);
        }
        snprintf(label, sizeof label, "check-%s%s", size, framed ? "-framed" : "");
        emit(label, MODE_CHECK | (framed ? MODE_FRAMED : 0), &b);
    }
    qr_mapping_close(im[0]);
    qr_mapping_close(im[1]);

    qr_buf_free(&b);
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
        qr_mapping_close(maps[k]);
    qr_dir_close(dir);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: gen_seeds OUTDIR\n", stderr);
        return 2;
    }
    outdir = argv[1];
    emit_segment("tiny", 5);
    emit_segment("large", 200);
    return 0;
}
