/*
 * libFuzzer target for the segment readers: the input is taken as one of
 * the file kinds of an index (term dictionary, document table, document
 * store, a postings stream with a few term metas, a whole segment, a
 * manifest, a deletion bitmap; the layout is in fuzz_common.h), opened with
 * verify = false where there is a choice so that the fuzzer reaches the
 * decoders behind the checksum, and then exercised the way queries and
 * `quarry check` use it: lookups, ordered iteration, postings with next,
 * seek, block maxima and positions, document fetches.
 *
 * The same files also go through qr_check (index/check.h) as a whole index.
 *
 * Besides crashes, leaks and undefined behaviour, the target aborts when a
 * reader that reports success breaks its own promises: a term found by
 * iteration that lookup does not find, postings out of order, a seek that
 * lands elsewhere than a plain walk says, a path the table cannot find, a
 * manifest or bitmap that does not survive a write and read back, or an
 * index that qr_check calls sound but where a reader meets damage.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "index/check.h"
#include "storage/alloc.h"
#include "storage/docstore.h"
#include "storage/dir.h"
#include "storage/manifest.h"
#include "storage/postings.h"
#include "storage/segment.h"
#include "storage/status.h"
#include "storage/termdict.h"

#define MAX_TERMS    4096      /* terms walked per dictionary */
#define MAX_POSTINGS (1 << 16) /* postings walked per term */
#define MAX_FETCHES  1024      /* documents fetched per store */

/* ---- term dictionary ---- */

static void exercise_termdict(const qr_termdict *d, qr_slice probe)
{
    qr_termdict_iter it;
    qr_slice term;
    qr_term_meta meta, got;
    FUZZ_ASSERT(qr_termdict_iter_init(&it, d, "", 0) == 0);
    int rc, n = 0;
    while (n < MAX_TERMS && (rc = qr_termdict_next(&it, &term, &meta)) == 1) {
        FUZZ_ASSERT(term.n >= 1 && term.n <= 255);
        (void)qr_termdict_get(d, (const char *)term.p, term.n, &got);
        n++;
    }
    if (n < MAX_TERMS && rc == 0) {
        /* a clean walk saw every term, and lookup finds each with the same metadata (a walk
         * that meets damage may yield terms before it notices, so only a clean one counts) */
        FUZZ_ASSERT((uint64_t)n == qr_termdict_count(d));
        FUZZ_ASSERT(qr_termdict_iter_init(&it, d, "", 0) == 0);
        while (qr_termdict_next(&it, &term, &meta) == 1) {
            FUZZ_ASSERT(qr_termdict_get(d, (const char *)term.p, term.n, &got) == 0);
            /* field by field: the struct's padding holds whatever each side left there */
            FUZZ_ASSERT(got.df == meta.df && got.ttf == meta.ttf && got.doc_off == meta.doc_off &&
                        got.pos_off == meta.pos_off);
        }
        FUZZ_ASSERT(it.err == 0);
    }
    /* a prefix walk and a lookup of a term the input makes up */
    size_t plen = probe.n > 255 ? 255 : probe.n;
    if (qr_termdict_iter_init(&it, d, (const char *)probe.p, plen) == 0)
        for (n = 0; n < MAX_TERMS && qr_termdict_next(&it, &term, &meta) == 1; n++)
            FUZZ_ASSERT(term.n >= plen && memcmp(term.p, probe.p, plen) == 0);
    (void)qr_termdict_get(d, (const char *)probe.p, probe.n, &got);
}

/* ---- postings ---- */

/* The first index in docs[0..n) whose doc is >= target (n when none). */
static uint32_t lower_bound(const uint32_t *docs, uint32_t n, uint32_t target)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (docs[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Walks a term's postings with next (positions on every other doc), then,
 * when the walk was clean, checks seek, block_for and the block accessors
 * against it.
 */
static void exercise_postings(qr_slice docs, qr_slice pos, const qr_term_meta *meta,
                              uint32_t stride)
{
    static uint32_t seen[MAX_POSTINGS], freqs[MAX_POSTINGS];
    qr_postings_iter it;
    uint32_t n = 0;
    bool complete = false;
    if (qr_postings_iter_init(&it, docs, pos, meta) == 0) {
        while (it.doc != QR_DOC_END && n < MAX_POSTINGS) {
            FUZZ_ASSERT(n == 0 || it.doc > seen[n - 1]);
            uint32_t tf = qr_postings_freq(&it);
            if (it.err)
                break;
            FUZZ_ASSERT(tf >= 1);
            if (n % 2 == 0) {
                const uint32_t *p;
                uint32_t np;
                int rc = qr_postings_positions(&it, &p, &np);
                FUZZ_ASSERT(rc == 0 || rc == QR_ECORRUPT);
                if (rc)
                    break;
                FUZZ_ASSERT(np == tf);
                for (uint32_t i = 1; i < np; i++)
                    FUZZ_ASSERT(p[i] >= p[i - 1]);
            }
            seen[n] = it.doc;
            freqs[n++] = tf;
            if (qr_postings_next(&it))
                break;
        }
        complete = it.doc == QR_DOC_END && it.err == 0;
        if (complete) {
            /* a clean walk yields df docs, within the term's bound */
            FUZZ_ASSERT(n == meta->df);
            qr_block_max tm = qr_postings_term_max(&it);
            for (uint32_t i = 0; i < n; i++)
                FUZZ_ASSERT(freqs[i] <= tm.max_tf);
            FUZZ_ASSERT(seen[n - 1] == tm.last_doc);
        }
    }
    qr_postings_iter_free(&it);
    if (!complete)
        return;

    /* seek must land where the walk says; block_for must describe that doc's block */
    FUZZ_ASSERT(qr_postings_iter_init(&it, docs, pos, meta) == 0);
    uint32_t step = stride % 7 + 1;
    for (uint32_t k = 0; k < n && it.doc != QR_DOC_END; k += step) {
        uint32_t target = seen[k] + (stride & 1);
        if (target <= it.doc)
            continue;
        uint32_t at = lower_bound(seen, n, target);
        qr_block_max bm;
        bool has_block = qr_postings_block_for(&it, target, &bm);
        FUZZ_ASSERT(has_block == (at < n));
        if (has_block)
            FUZZ_ASSERT(seen[at] <= bm.last_doc && freqs[at] <= bm.max_tf);
        FUZZ_ASSERT(qr_postings_seek(&it, target) == 0);
        if (at == n) {
            FUZZ_ASSERT(it.doc == QR_DOC_END);
            break;
        }
        FUZZ_ASSERT(it.doc == seen[at]);
        FUZZ_ASSERT(qr_postings_freq(&it) == freqs[at]);
        const uint32_t *bd, *bf;
        uint32_t nb = qr_postings_block_docs(&it, &bd);
        FUZZ_ASSERT(nb >= 1 && at + nb <= n);
        FUZZ_ASSERT(qr_postings_block_freqs(&it, &bf) == 0);
        for (uint32_t i = 0; i < nb; i++)
            FUZZ_ASSERT(bd[i] == seen[at + i] && bf[i] == freqs[at + i]);
    }
    qr_postings_iter_free(&it);
}

static void fuzz_postings(fuzz_in *in)
{
    qr_term_meta metas[4];
    unsigned nmeta = fuzz_u8(in) % 5;
    for (unsigned i = 0; i < nmeta; i++) {
        metas[i].df = (uint32_t)fuzz_varint(in);
        metas[i].ttf = fuzz_varint(in);
        metas[i].doc_off = fuzz_varint(in);
        metas[i].pos_off = fuzz_varint(in);
    }
    uint64_t doc_len = fuzz_varint(in);
    qr_slice doc = fuzz_bytes(in, doc_len);
    qr_slice pos = fuzz_rest(in);
    /* exact-size copies, so that ASan sees a read one past either stream */
    uint8_t *dcopy = qr_malloc(doc.n ? doc.n : 1), *pcopy = qr_malloc(pos.n ? pos.n : 1);
    FUZZ_ASSERT(dcopy && pcopy);
    if (doc.n)
        memcpy(dcopy, doc.p, doc.n);
    if (pos.n)
        memcpy(pcopy, pos.p, pos.n);
    qr_slice d = {doc.n ? dcopy : NULL, doc.n}, p = {pos.n ? pcopy : NULL, pos.n};
    for (unsigned i = 0; i < nmeta; i++)
        exercise_postings(d, p, &metas[i], (uint32_t)(doc.n + i));
    qr_free(dcopy);
    qr_free(pcopy);
}

/* ---- document table and store ---- */

static void exercise_doctable(const qr_doctable *t)
{
    uint32_t n = qr_doctable_count(t);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        qr_doc_meta m;
        qr_doctable_meta(t, i, &m);
        FUZZ_ASSERT(m.positions == qr_doctable_positions(t, i));
        FUZZ_ASSERT(m.title_positions == qr_doctable_title_positions(t, i));
        FUZZ_ASSERT(m.title_positions <= m.positions);
        total += m.positions;
        qr_slice path = qr_doctable_path(t, i);
        uint32_t found;
        FUZZ_ASSERT(qr_doctable_find(t, (const char *)path.p, path.n, &found) == 0);
        FUZZ_ASSERT(found == i);
    }
    FUZZ_ASSERT(total == qr_doctable_total_positions(t));
}

static void exercise_docstore(qr_docstore *s, uint32_t stride)
{
    uint32_t n = qr_docstore_count(s);
    qr_slice title, body;
    uint32_t step = stride % 5 + 1;
    int fetched = 0;
    /* forwards, then backwards (a different path through the block cache) */
    for (uint32_t i = 0; i < n && fetched < MAX_FETCHES; i += step, fetched++) {
        int rc = qr_docstore_get(s, i, &title, &body);
        FUZZ_ASSERT(rc == 0 || rc == QR_ECORRUPT);
    }
    for (uint32_t i = n; i-- > 0 && fetched < 2 * MAX_FETCHES; fetched++)
        (void)qr_docstore_get(s, i, &title, &body);
    FUZZ_ASSERT(qr_docstore_get(s, n, &title, &body) == QR_EINVAL);
}

/* ---- files of a segment in a memory directory ---- */

static const uint32_t seg_magic[QR_SEG_FILE_COUNT] = {
    QR_TERMDICT_MAGIC, QR_SEG_DOC_MAGIC, QR_SEG_POS_MAGIC, QR_DOCSTORE_MAGIC, QR_DOCTABLE_MAGIC,
};

/* Writes one file into dir: the slice as is, or framed. */
static void put_file(qr_dir *dir, const char *name, qr_slice s, bool framed, uint32_t magic)
{
    qr_buf b = {0};
    if (framed)
        fuzz_frame(&b, magic, s);
    else
        qr_buf_put(&b, s.p, s.n);
    FUZZ_ASSERT(b.err == 0);
    FUZZ_ASSERT(qr_dir_write_file(dir, name, b.p, b.n) == 0);
    qr_buf_free(&b);
}

/* Reads the five segment files off the input into dir. */
static void put_segment(qr_dir *dir, fuzz_in *in, bool framed)
{
    uint64_t len[QR_SEG_FILE_COUNT - 1];
    for (int k = 0; k < QR_SEG_FILE_COUNT - 1; k++)
        len[k] = fuzz_varint(in);
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        char name[32];
        qr_seg_file_name(name, FUZZ_SEG_ID, (qr_seg_file)k);
        qr_slice s = k < QR_SEG_FILE_COUNT - 1 ? fuzz_bytes(in, len[k]) : fuzz_rest(in);
        put_file(dir, name, s, framed, seg_magic[k]);
    }
}

static void exercise_segment(qr_segment *s, uint32_t stride)
{
    uint32_t docs = qr_segment_docs(s);
    const qr_doctable *t = qr_segment_doctable(s);
    exercise_doctable(t);
    exercise_docstore(qr_segment_docstore(s), stride);
    qr_termdict_iter it;
    qr_slice term;
    qr_term_meta meta;
    FUZZ_ASSERT(qr_segment_prefix(s, "", 0, &it) == 0);
    for (int n = 0; n < MAX_TERMS && qr_termdict_next(&it, &term, &meta) == 1; n++) {
        qr_postings_iter pi;
        if (qr_segment_postings(s, &meta, &pi) == 0) {
            /* as a query does: doc ids checked before they index the table */
            for (int k = 0; k < MAX_POSTINGS && pi.doc != QR_DOC_END; k++) {
                if (pi.doc < docs) {
                    (void)qr_doctable_positions(t, pi.doc);
                    const uint32_t *p;
                    uint32_t np;
                    (void)qr_postings_positions(&pi, &p, &np);
                }
                if (qr_postings_next(&pi))
                    break;
            }
        }
        qr_postings_iter_free(&pi);
        if (n < 8)
            exercise_postings(qr_segment_doc_stream(s), qr_segment_pos_stream(s), &meta,
                              stride + (uint32_t)n);
    }
}

/* ---- manifest and deletions ---- */

static void exercise_manifest(qr_dir *dir)
{
    qr_manifest m, back;
    if (qr_manifest_load(&m, dir) != 0)
        return;
    FUZZ_ASSERT(m.generation == FUZZ_GEN);
    (void)qr_manifest_live_docs(&m);
    (void)qr_manifest_live_positions(&m);
    /* what loads, commits as the next generation and reads back the same */
    m.generation++;
    FUZZ_ASSERT(qr_manifest_commit(dir, &m) == 0);
    FUZZ_ASSERT(qr_manifest_load(&back, dir) == 0);
    FUZZ_ASSERT(back.generation == m.generation && back.next_id == m.next_id &&
                back.nsegs == m.nsegs && strcmp(back.language, m.language) == 0);
    FUZZ_ASSERT(m.nsegs == 0 || memcmp(back.segs, m.segs, m.nsegs * sizeof *m.segs) == 0);
    FUZZ_ASSERT(qr_manifest_gc(dir, &back) == 0);
    qr_manifest_free(&back);
    qr_manifest_free(&m);
}

static void exercise_deletes(qr_dir *dir, uint32_t docs)
{
    qr_deletes d, back;
    if (qr_deletes_read(&d, dir, FUZZ_SEG_ID, FUZZ_DEL_GEN, docs) != 0) {
        qr_deletes_free(&d);
        return;
    }
    uint32_t count = 0;
    for (uint32_t i = 0; i < docs; i++)
        count += qr_deletes_has(&d, i);
    FUZZ_ASSERT(count == d.count);
    FUZZ_ASSERT(qr_deletes_write(dir, FUZZ_SEG_ID, FUZZ_DEL_GEN + 1, &d) == 0);
    FUZZ_ASSERT(qr_deletes_read(&back, dir, FUZZ_SEG_ID, FUZZ_DEL_GEN + 1, docs) == 0);
    FUZZ_ASSERT(back.count == d.count);
    for (uint32_t i = 0; i < docs; i++)
        FUZZ_ASSERT(qr_deletes_has(&back, i) == qr_deletes_has(&d, i));
    qr_deletes_free(&back);
    qr_deletes_free(&d);
}

/* ---- the whole index through qr_check ---- */

static void on_problem(void *ctx, const qr_check_problem *p)
{
    (void)ctx;
    FUZZ_ASSERT(p->file && p->file[0] && p->message && p->message[0] && p->offset >= -1);
}

/* Everything a search reads of an index that check found sound, read with no error. */
static void read_all(qr_dir *dir)
{
    qr_manifest m;
    FUZZ_ASSERT(qr_manifest_load(&m, dir) == 0);
    for (uint32_t i = 0; i < m.nsegs; i++) {
        qr_segment *s;
        FUZZ_ASSERT(qr_segment_open(&s, dir, m.segs[i].id, true) == 0);
        uint32_t docs = qr_segment_docs(s);
        FUZZ_ASSERT(docs == m.segs[i].docs);
        if (m.segs[i].del_gen) {
            qr_deletes d;
            FUZZ_ASSERT(qr_deletes_read(&d, dir, m.segs[i].id, m.segs[i].del_gen, docs) == 0);
            FUZZ_ASSERT(d.count == m.segs[i].deleted);
            qr_deletes_free(&d);
        }
        const qr_doctable *t = qr_segment_doctable(s);
        qr_termdict_iter it;
        qr_slice term;
        qr_term_meta meta;
        FUZZ_ASSERT(qr_segment_prefix(s, "", 0, &it) == 0);
        int rc;
        while ((rc = qr_termdict_next(&it, &term, &meta)) == 1) {
            qr_postings_iter pi;
            FUZZ_ASSERT(qr_segment_postings(s, &meta, &pi) == 0);
            while (pi.doc != QR_DOC_END) {
                FUZZ_ASSERT(pi.doc < docs);
                const uint32_t *p;
                uint32_t np;
                FUZZ_ASSERT(qr_postings_positions(&pi, &p, &np) == 0 && np >= 1);
                FUZZ_ASSERT(p[np - 1] < qr_doctable_positions(t, pi.doc));
                FUZZ_ASSERT(qr_postings_next(&pi) == 0);
            }
            FUZZ_ASSERT(pi.err == 0);
            qr_postings_iter_free(&pi);
        }
        FUZZ_ASSERT(rc == 0);
        qr_slice title, body;
        for (uint32_t d = 0; d < docs; d++)
            FUZZ_ASSERT(qr_docstore_get(qr_segment_docstore(s), d, &title, &body) == 0);
        qr_segment_close(s);
    }
    qr_manifest_free(&m);
}

static void fuzz_check(qr_dir *dir, fuzz_in *in, bool framed)
{
    static const char *const extra[2] = {"MANIFEST-0000000000000001",
                                         "seg-0000000000000001-0000000000000001.del"};
    static const uint32_t extra_magic[2] = {QR_MANIFEST_MAGIC, QR_DELETES_MAGIC};
    uint64_t len[QR_SEG_FILE_COUNT + 1];
    for (int k = 0; k < QR_SEG_FILE_COUNT + 1; k++)
        len[k] = fuzz_varint(in);
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        char name[32];
        qr_seg_file_name(name, FUZZ_SEG_ID, (qr_seg_file)k);
        put_file(dir, name, fuzz_bytes(in, len[k]), framed, seg_magic[k]);
    }
    put_file(dir, extra[0], fuzz_bytes(in, len[QR_SEG_FILE_COUNT]), framed, extra_magic[0]);
    put_file(dir, extra[1], fuzz_rest(in), framed, extra_magic[1]);
    qr_check_stats st;
    int rc = qr_check(dir, on_problem, NULL, &st);
    FUZZ_ASSERT(rc == 0 || rc == QR_ECORRUPT);
    FUZZ_ASSERT((rc == 0) == (st.problems == 0));
    if (rc == 0)
        read_all(dir);
}

/* ---- entry point ---- */

/* An exact-size heap copy of a framed or raw image (ASan then sees over-reads). */
static qr_slice image(qr_buf *b, qr_slice s, bool framed, uint32_t magic)
{
    if (framed)
        fuzz_frame(b, magic, s);
    else
        qr_buf_put(b, s.p, s.n);
    FUZZ_ASSERT(b->err == 0);
    uint8_t *p = qr_malloc(b->n ? b->n : 1);
    FUZZ_ASSERT(p);
    if (b->n)
        memcpy(p, b->p, b->n);
    return (qr_slice){p, b->n};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t mode = fuzz_u8(&in);
    bool framed = mode & MODE_FRAMED;
    uint32_t stride = (uint32_t)size;
    qr_buf b = {0};
    qr_dir *dir = NULL;
    switch (mode % MODE_COUNT) {
    case MODE_TERMDICT: {
        qr_slice probe = fuzz_bytes(&in, fuzz_u8(&in));
        qr_slice img = image(&b, fuzz_rest(&in), framed, QR_TERMDICT_MAGIC);
        qr_termdict *d;
        if (qr_termdict_open(&d, img, false) == 0) {
            exercise_termdict(d, probe);
            qr_termdict_close(d);
        }
        qr_free((void *)img.p);
        break;
    }
    case MODE_DOCTABLE: {
        qr_slice img = image(&b, fuzz_rest(&in), framed, QR_DOCTABLE_MAGIC);
        qr_doctable *t;
        if (qr_doctable_open(&t, img, false) == 0) {
            exercise_doctable(t);
            qr_doctable_close(t);
        }
        qr_free((void *)img.p);
        break;
    }
    case MODE_DOCSTORE: {
        qr_slice img = image(&b, fuzz_rest(&in), framed, QR_DOCSTORE_MAGIC);
        qr_docstore *s;
        if (qr_docstore_open(&s, img, false) == 0) {
            exercise_docstore(s, stride);
            qr_docstore_close(s);
        }
        qr_free((void *)img.p);
        break;
    }
    case MODE_POSTINGS:
        fuzz_postings(&in);
        break;
    case MODE_SEGMENT: {
        FUZZ_ASSERT(qr_dir_open_memory(&dir) == 0);
        put_segment(dir, &in, framed);
        qr_segment *s;
        if (qr_segment_open(&s, dir, FUZZ_SEG_ID, false) == 0) {
            exercise_segment(s, stride);
            qr_segment_close(s);
        }
        break;
    }
    case MODE_MANIFEST: {
        FUZZ_ASSERT(qr_dir_open_memory(&dir) == 0);
        char name[48];
        qr_manifest_file_name(name, FUZZ_GEN);
        put_file(dir, name, fuzz_rest(&in), framed, QR_MANIFEST_MAGIC);
        exercise_manifest(dir);
        break;
    }
    case MODE_DELETES: {
        FUZZ_ASSERT(qr_dir_open_memory(&dir) == 0);
        uint32_t docs = fuzz_u32(&in);
        char name[48];
        qr_deletes_file_name(name, FUZZ_SEG_ID, FUZZ_DEL_GEN);
        put_file(dir, name, fuzz_rest(&in), framed, QR_DELETES_MAGIC);
        exercise_deletes(dir, docs);
        break;
    }
    case MODE_CHECK:
        FUZZ_ASSERT(qr_dir_open_memory(&dir) == 0);
        fuzz_check(dir, &in, framed);
        break;
    default:
        break;
    }
    qr_dir_close(dir);
    qr_buf_free(&b);
    return 0;
}
