/*
 * Segments: writing the five files of one immutable segment, and opening
 * them again for queries.
 *
 * The writer is what index/ drives: documents go to a streaming docstore
 * writer (and their lengths into an array, which postings need for their
 * block impact bounds), each term's postings to a postings writer, and each
 * finished term with its qr_term_meta to a term dictionary writer. The
 * .doc, .pos and .sto files are streamed: each is created on its first
 * write-out with its checksum.h header, gets the bytes collected in its
 * buffer once they reach a threshold (QR_SEG_FLUSH_BYTES; postings only
 * between terms: the postings writer assembles a term in its own buffers
 * and appends it whole, and nothing appended is patched later; stored text
 * a compressed block at a time), and keeps a running XXH3 state for the
 * footer. The postings writer's offsets are into the buffers, so the term
 * metadata gets the body bytes already written out added. So the writer
 * holds about 3 x QR_SEG_FLUSH_BYTES, the current term, and the per-term
 * (.tdi) and per-document (.dmt) metadata, whatever the segment's size.
 * finish() writes the streams' last bytes and footers, then .tdi and .dmt
 * whole, starting each file's write-out (qr_file_sync_start) as it is
 * complete, and only then fsyncs and closes them one by one: the device
 * writes the five files together, and a sync mostly finds its file written
 * already. A streamed file also has its write-out started after each
 * write-out of QR_SEG_FLUSH_BYTES or more, so a large segment's final
 * syncs wait for its last part only. On failure, or abort, every file the
 * writer created is removed. The files
 * are the same bytes whatever the threshold.
 *
 * The reader maps the five files, checks their frames (and checksums when
 * asked), opens the term dictionary, document table and store over the
 * mapped images, and keeps the mappings until close. A merge opens its
 * sources with qr_segment_open_once, which checks each checksum a few MiB
 * at a time, and gives the pages it read back (qr_segment_release:
 * madvise MADV_PAGEOUT) as it goes, as the merge does while it reads.
 *
 * Byte grammar: .tdi is termdict.c's, .sto and .dmt are docstore.c's. The
 * .doc and .pos files frame postings.c's two streams unchanged:
 *
 *   .doc := checksum.h frame, magic QR_SEG_DOC_MAGIC, version 2, body = doc stream
 *   .pos := checksum.h frame, magic QR_SEG_POS_MAGIC, version 2, body = position stream
 *
 * so qr_term_meta's offsets are offsets into those bodies.
 */
#include "storage/segment.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "storage/alloc.h"
#include "storage/checksum.h"
#include "storage/status.h"

#define VERSION    QR_POSTINGS_VERSION /* of .doc and .pos: postings.c's format */
#define ZSTD_LEVEL 1 /* the document store's compression level (3: 4 % smaller, 1.3x slower) */

static const char *const exts[QR_SEG_FILE_COUNT] = {"tdi", "doc", "pos", "sto", "dmt"};

const char *qr_seg_file_ext(qr_seg_file kind)
{
    return (unsigned)kind < QR_SEG_FILE_COUNT ? exts[kind] : "";
}

void qr_seg_file_name(char *out, uint64_t id, qr_seg_file kind)
{
    snprintf(out, 32, "seg-%016" PRIx64 ".%s", id, qr_seg_file_ext(kind));
}

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* ---- writer ---- */

/*
 * A file written as a stream: created on its first write-out, which starts
 * with the checksum.h header; the body is appended as it grows; finish adds
 * the footer from the running checksum.
 */
typedef struct stream {
    uint32_t magic, version; /* of the frame */
    qr_file *f;              /* NULL until the first write-out */
    qr_buf buf;              /* body bytes not written out yet */
    uint64_t body;           /* body bytes written out */
    uint64_t size;           /* bytes written to f (header, body, footer) */
    qr_checksum_state sum;   /* of the bytes written to f */
} stream;

/* The streamed files: .doc, .pos, .sto. */
enum { S_DOC, S_POS, S_STO, S_COUNT };
static const qr_seg_file stream_kind[S_COUNT] = {QR_SEG_DOC, QR_SEG_POS, QR_SEG_STO};

struct qr_segment_writer {
    qr_dir *dir;               /* where the files go (not owned) */
    uint64_t id;               /* segment id */
    qr_docstore_writer *store; /* documents: frames into streams[S_STO], and .dmt */
    qr_termdict_writer *terms; /* terms: .tdi */
    qr_postings_writer *post;  /* postings into streams[S_DOC] and [S_POS] */
    stream streams[S_COUNT];   /* .doc, .pos, .sto */
    qr_file *whole[2];         /* .tdi and .dmt between their write and their sync, in finish */
    size_t flush_at;           /* a stream's pending bytes written out at this size */
    uint32_t *dl;              /* per doc: length in positions */
    uint32_t ndocs, dl_cap;    /* docs added, dl's capacity */
    uint64_t total_positions;  /* sum of dl */
    uint64_t postings;         /* sum of df over ended terms */
    uint64_t positions;        /* sum of ttf over ended terms */
    uint8_t term[255];         /* the current (or last ended) term */
    size_t term_len;           /* its length; 0 before the first term */
    bool in_term;              /* between begin_term and end_term */
    uint32_t term_docs;        /* postings added to the current term */
    uint32_t last_doc;         /* the current term's last doc */
    int err;                   /* sticky: a failure left the writer half-updated */
};

int qr_segment_writer_open(qr_segment_writer **out, qr_dir *dir, uint64_t id)
{
    *out = NULL;
    qr_segment_writer *w = qr_calloc(1, sizeof *w);
    if (!w)
        return QR_ENOMEM;
    w->dir = dir;
    w->id = id;
    w->flush_at = QR_SEG_FLUSH_BYTES;
    w->streams[S_DOC].magic = QR_SEG_DOC_MAGIC;
    w->streams[S_POS].magic = QR_SEG_POS_MAGIC;
    w->streams[S_STO].magic = QR_DOCSTORE_MAGIC;
    w->streams[S_DOC].version = w->streams[S_POS].version = VERSION;
    w->streams[S_STO].version = QR_DOCSTORE_VERSION;
    /*
     * Each stream buffer takes its working size at once (a write-out at
     * QR_SEG_FLUSH_BYTES, plus a term or a block past it): grown by
     * doubling, it would copy itself a dozen times and fault its pages in
     * twice. Untouched pages cost nothing.
     */
    int rc = 0;
    for (int k = 0; !rc && k < S_COUNT; k++)
        rc = qr_buf_reserve(&w->streams[k].buf, QR_SEG_FLUSH_BYTES + QR_SEG_FLUSH_BYTES / 4);
    if (!rc)
        rc = qr_docstore_writer_open_stream(&w->store, ZSTD_LEVEL, &w->streams[S_STO].buf);
    if (!rc)
        rc = qr_termdict_writer_open(&w->terms);
    if (!rc)
        rc = qr_postings_writer_open(&w->post, &w->streams[S_DOC].buf, &w->streams[S_POS].buf);
    if (rc) {
        qr_segment_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

void qr_segment_writer_set_flush_bytes(qr_segment_writer *w, size_t bytes)
{
    w->flush_at = bytes;
}

void qr_segment_writer_abort(qr_segment_writer *w)
{
    if (!w)
        return;
    qr_postings_writer_close(w->post);
    qr_termdict_writer_close(w->terms);
    qr_docstore_writer_close(w->store);
    for (int k = 0; k < S_COUNT; k++) {
        qr_file_abort(w->streams[k].f); /* removes what was written */
        qr_buf_free(&w->streams[k].buf);
    }
    qr_file_abort(w->whole[0]);
    qr_file_abort(w->whole[1]);
    qr_free(w->dl);
    qr_free(w);
}

/* Makes a failure sticky, but for a refused argument (which changed nothing). */
static int fail(qr_segment_writer *w, int rc)
{
    if (rc != QR_EINVAL && rc != QR_ETOOBIG)
        w->err = rc;
    return rc;
}

/* Appends n bytes to stream k's file (created with its header first), checksummed. */
static int stream_write(qr_segment_writer *w, int k, const void *p, size_t n)
{
    stream *s = &w->streams[k];
    int rc;
    if (!s->f) {
        char name[32];
        qr_seg_file_name(name, w->id, stream_kind[k]);
        if ((rc = qr_dir_create(w->dir, name, &s->f)))
            return rc;
        uint8_t head[QR_FILE_HEADER_SIZE];
        qr_store_u32(head, s->magic);
        qr_store_u32(head + 4, s->version);
        qr_checksum_reset(&s->sum);
        if ((rc = qr_file_write(s->f, head, sizeof head)))
            return rc;
        qr_checksum_update(&s->sum, head, sizeof head);
        s->size = sizeof head;
    }
    if (n && (rc = qr_file_write(s->f, p, n)))
        return rc;
    qr_checksum_update(&s->sum, p, n);
    s->size += n;
    return 0;
}

/* Writes stream k's pending body bytes out and empties its buffer. */
static int stream_drain(qr_segment_writer *w, int k)
{
    stream *s = &w->streams[k];
    if (s->buf.err)
        return QR_ENOMEM;
    int rc = stream_write(w, k, s->buf.p, s->buf.n);
    /* the device writes this part while the segment grows: finish's fsync waits for less */
    if (!rc && s->buf.n && s->buf.n >= w->flush_at)
        rc = qr_file_sync_start(s->f);
    if (rc)
        return rc;
    s->body += s->buf.n;
    /* a huge term's (or document's) buffer is not kept */
    if (s->buf.cap > 4 * QR_SEG_FLUSH_BYTES)
        qr_buf_free(&s->buf);
    else
        qr_buf_reset(&s->buf);
    return 0;
}

/* Drains stream k once its pending bytes reach the threshold. */
static int stream_maybe_drain(qr_segment_writer *w, int k)
{
    return w->streams[k].buf.n >= w->flush_at ? stream_drain(w, k) : 0;
}

/* Writes stream k's rest and footer and starts the file's write-out (finish syncs it). */
static int stream_end(qr_segment_writer *w, int k)
{
    stream *s = &w->streams[k];
    int rc = stream_drain(w, k);
    uint8_t foot[QR_FILE_FOOTER_SIZE];
    qr_store_u32(foot, ~s->magic);
    if (!rc)
        rc = stream_write(w, k, foot, 4);
    if (rc)
        return rc;
    qr_store_u64(foot + 4, qr_checksum_digest(&s->sum));
    if ((rc = qr_file_write(s->f, foot + 4, 8)) || (rc = qr_file_sync_start(s->f)))
        return rc;
    s->size += 8;
    return 0;
}

/* Creates a file written whole (.tdi, .dmt), writes it and starts its write-out. */
static int whole_write(qr_segment_writer *w, int i, qr_seg_file kind, const qr_buf *b)
{
    char name[32];
    qr_seg_file_name(name, w->id, kind);
    int rc = qr_dir_create(w->dir, name, &w->whole[i]);
    if (rc) {
        w->whole[i] = NULL;
        return rc;
    }
    if ((rc = qr_file_write(w->whole[i], b->p, b->n)))
        return rc;
    return qr_file_sync_start(w->whole[i]);
}

/* Syncs and closes *f (one of the finished files); a file whose close failed is removed. */
static int sync_close(qr_segment_writer *w, qr_file **f, qr_seg_file kind)
{
    int rc = qr_file_sync(*f);
    if (rc)
        return rc; /* still open: abort removes it */
    rc = qr_file_close(*f);
    *f = NULL;
    if (rc) {
        char name[32];
        qr_seg_file_name(name, w->id, kind);
        (void)qr_dir_remove(w->dir, name);
    }
    return rc;
}

int qr_segment_writer_add_doc(qr_segment_writer *w, const qr_doc_in *doc)
{
    if (w->err)
        return w->err;
    if (w->in_term)
        return QR_EINVAL; /* postings of a term may only name documents added before it */
    if (w->ndocs == w->dl_cap) {
        uint32_t cap = w->dl_cap ? w->dl_cap * 2 : 256;
        if (cap < w->dl_cap)
            return QR_ETOOBIG;
        uint32_t *dl = qr_reallocarray(w->dl, cap, sizeof *dl);
        if (!dl)
            return fail(w, QR_ENOMEM);
        w->dl = dl;
        w->dl_cap = cap;
    }
    int rc = qr_docstore_add(w->store, doc);
    if (rc)
        return fail(w, rc);
    w->dl[w->ndocs++] = doc->positions;
    w->total_positions += doc->positions;
    if ((rc = stream_maybe_drain(w, S_STO)))
        return fail(w, rc);
    return 0;
}

int qr_segment_writer_begin_term(qr_segment_writer *w, const char *term, size_t len)
{
    if (w->err)
        return w->err;
    if (w->in_term || len == 0 || len > sizeof w->term)
        return QR_EINVAL;
    if (w->term_len && cmp_bytes(w->term, w->term_len, (const uint8_t *)term, len) >= 0)
        return QR_EINVAL; /* terms strictly increasing */
    qr_postings_begin(w->post);
    memcpy(w->term, term, len);
    w->term_len = len;
    w->in_term = true;
    w->term_docs = 0;
    return 0;
}

int qr_segment_writer_add_posting(qr_segment_writer *w, uint32_t doc, uint32_t tf,
                                  const uint32_t *positions)
{
    if (w->err)
        return w->err;
    if (!w->in_term || doc >= w->ndocs || tf == 0 || (w->term_docs && doc <= w->last_doc))
        return QR_EINVAL;
    uint32_t dl = w->dl[doc];
    for (uint32_t i = 0; i < tf; i++)
        if (positions[i] >= dl || (i && positions[i] < positions[i - 1]))
            return QR_EINVAL; /* positions non-decreasing, inside the document */
    int rc = qr_postings_add(w->post, doc, tf, dl, positions);
    if (rc)
        return fail(w, rc);
    w->last_doc = doc;
    w->term_docs++;
    return 0;
}

int qr_segment_writer_end_term(qr_segment_writer *w)
{
    if (w->err)
        return w->err;
    if (!w->in_term || w->term_docs == 0)
        return QR_EINVAL;
    qr_term_meta meta;
    int rc = qr_postings_end(w->post, &meta);
    if (!rc) {
        /* the postings writer's offsets are into the buffers: add what was written out */
        meta.doc_off += w->streams[S_DOC].body;
        meta.pos_off += w->streams[S_POS].body;
        rc = qr_termdict_add(w->terms, (const char *)w->term, w->term_len, &meta);
    }
    /* between terms, nothing in the buffers is patched again: they may go out */
    if (!rc)
        rc = stream_maybe_drain(w, S_DOC);
    if (!rc)
        rc = stream_maybe_drain(w, S_POS);
    if (rc) {
        /* the postings are in the streams but the term is not: nothing sound is left */
        w->err = rc;
        return rc;
    }
    w->in_term = false;
    w->postings += meta.df;
    w->positions += meta.ttf;
    return 0;
}

int qr_segment_writer_finish(qr_segment_writer *w, qr_segment_info *out)
{
    qr_buf tdi = {0}, dmt = {0};
    char name[32];
    bool written[QR_SEG_FILE_COUNT] = {false};
    int rc = w->err;
    if (!rc && w->in_term)
        rc = QR_EINVAL;
    if (!rc)
        rc = qr_termdict_finish(w->terms, &tdi);
    if (!rc)
        rc = qr_docstore_finish_stream(w->store, &dmt);
    /*
     * Every file is written and its write-out started before the first is
     * synced: the device writes them together and the syncs mostly wait,
     * rather than each paying a full round of its own. Each file is still
     * synced before it is closed, and before finish returns.
     */
    for (int k = 0; !rc && k < S_COUNT; k++)
        rc = stream_end(w, k);
    if (!rc)
        rc = whole_write(w, 0, QR_SEG_TDI, &tdi);
    if (!rc)
        rc = whole_write(w, 1, QR_SEG_DMT, &dmt);
    for (int k = 0; !rc && k < S_COUNT; k++)
        if (!(rc = sync_close(w, &w->streams[k].f, stream_kind[k])))
            written[stream_kind[k]] = true;
    if (!rc && !(rc = sync_close(w, &w->whole[0], QR_SEG_TDI)))
        written[QR_SEG_TDI] = true;
    if (!rc)
        rc = sync_close(w, &w->whole[1], QR_SEG_DMT);
    if (rc) {
        /* the files still open are removed by abort; the files closed, here */
        for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
            if (written[k]) {
                qr_seg_file_name(name, w->id, (qr_seg_file)k);
                (void)qr_dir_remove(w->dir, name);
            }
    }
    if (!rc && out) {
        memset(out, 0, sizeof *out);
        out->id = w->id;
        out->docs = w->ndocs;
        out->total_positions = w->total_positions;
        out->terms = qr_termdict_writer_count(w->terms);
        out->postings = w->postings;
        out->positions = w->positions;
        for (int k = 0; k < S_COUNT; k++)
            out->bytes[stream_kind[k]] = w->streams[k].size;
        out->bytes[QR_SEG_TDI] = tdi.n;
        out->bytes[QR_SEG_DMT] = dmt.n;
    }
    qr_buf_free(&tdi);
    qr_buf_free(&dmt);
    qr_segment_writer_abort(w);
    return rc;
}

/* ---- reader ---- */

struct qr_segment {
    uint64_t id;                         /* segment id */
    qr_mapping *maps[QR_SEG_FILE_COUNT]; /* the mapped files (owned) */
    qr_slice files[QR_SEG_FILE_COUNT];   /* their images */
    qr_slice doc_body, pos_body;         /* the postings streams, inside the images */
    qr_termdict *terms;                  /* over files[QR_SEG_TDI] */
    qr_doctable *table;                  /* over files[QR_SEG_DMT] */
    qr_docstore *store;                  /* over files[QR_SEG_STO] */
    qr_segment_info info;                /* counts and sizes, computed at open */
};

void qr_segment_release(const qr_segment *s, unsigned mask)
{
#ifdef MADV_PAGEOUT
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096;
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        if (!(mask & QR_SEG_BIT(k)) || !s->files[k].n)
            continue;
        /* Whole pages inside the image only: a memory directory's neighbours are not ours. */
        uintptr_t a = ((uintptr_t)s->files[k].p + page - 1) & ~(page - 1);
        uintptr_t e = ((uintptr_t)s->files[k].p + s->files[k].n) & ~(page - 1);
        if (e > a)
            (void)madvise((void *)a, e - a, MADV_PAGEOUT); /* a hint: failure is fine */
    }
#else
    (void)s;
    (void)mask;
#endif
}

/*
 * Checks file k's checksum (checksum.h: XXH3 of all but the last 8 bytes,
 * which hold it) QR_SEG_RELEASE_BYTES at a time, releasing the pages read.
 * A file too short to hold a footer is left to the open's own checks.
 */
static int verify_released(const qr_segment *s, int k)
{
    qr_slice f = s->files[k];
    if (f.n < QR_FILE_HEADER_SIZE + QR_FILE_FOOTER_SIZE)
        return QR_OK;
    qr_checksum_state st;
    qr_checksum_reset(&st);
    for (size_t at = 0, end = f.n - 8; at < end;) {
        size_t n = end - at < QR_SEG_RELEASE_BYTES ? end - at : QR_SEG_RELEASE_BYTES;
        qr_checksum_update(&st, f.p + at, n);
        at += n;
        qr_segment_release(s, QR_SEG_BIT(k));
    }
    qr_cursor c = qr_cursor_make(f.p + f.n - 8, 8);
    uint64_t want = qr_get_u64(&c);
    return !c.err && qr_checksum_digest(&st) == want ? QR_OK : QR_ECORRUPT;
}

/*
 * Opens the segment; with verify, checks each file's checksum first: at
 * once (qr_file_open_body), or, with release, piecewise (verify_released).
 */
static int open_segment(qr_segment **out, qr_dir *dir, uint64_t id, bool verify, bool release);

int qr_segment_open(qr_segment **out, qr_dir *dir, uint64_t id, bool verify)
{
    return open_segment(out, dir, id, verify, false);
}

int qr_segment_open_once(qr_segment **out, qr_dir *dir, uint64_t id)
{
    return open_segment(out, dir, id, true, true);
}

static int open_segment(qr_segment **out, qr_dir *dir, uint64_t id, bool verify, bool release)
{
    *out = NULL;
    qr_segment *s = qr_calloc(1, sizeof *s);
    if (!s)
        return QR_ENOMEM;
    s->id = id;
    char name[32];
    int rc = 0;
    for (int k = 0; !rc && k < QR_SEG_FILE_COUNT; k++) {
        qr_seg_file_name(name, id, (qr_seg_file)k);
        rc = qr_dir_map(dir, name, &s->maps[k], &s->files[k]);
    }
    /*
     * With release, each file's checksum is checked piecewise just before
     * the open that would check it at once (the same order, so the same
     * first error: a checksum mismatch is QR_ECORRUPT either way, and a
     * file that passes opens alike with or without verify).
     */
    bool at_once = verify && !release;
    if (!rc && release)
        rc = verify_released(s, QR_SEG_DOC);
    if (!rc)
        rc = qr_file_open_body(&s->doc_body, NULL, s->files[QR_SEG_DOC], QR_SEG_DOC_MAGIC, VERSION,
                               VERSION, at_once);
    if (!rc && release)
        rc = verify_released(s, QR_SEG_POS);
    if (!rc)
        rc = qr_file_open_body(&s->pos_body, NULL, s->files[QR_SEG_POS], QR_SEG_POS_MAGIC, VERSION,
                               VERSION, at_once);
    if (!rc && release)
        rc = verify_released(s, QR_SEG_TDI);
    if (!rc)
        rc = qr_termdict_open(&s->terms, s->files[QR_SEG_TDI], at_once);
    if (!rc && release)
        rc = verify_released(s, QR_SEG_DMT);
    if (!rc)
        rc = qr_doctable_open(&s->table, s->files[QR_SEG_DMT], at_once);
    if (!rc && release)
        rc = verify_released(s, QR_SEG_STO);
    if (!rc)
        rc = qr_docstore_open(&s->store, s->files[QR_SEG_STO], at_once);
    if (!rc && qr_doctable_count(s->table) != qr_docstore_count(s->store))
        rc = QR_ECORRUPT;
    /* every term has df >= 1 */
    if (!rc && qr_termdict_count(s->terms) > qr_termdict_sum_df(s->terms))
        rc = QR_ECORRUPT;
    if (!rc && qr_termdict_count(s->terms) > 0 && qr_doctable_count(s->table) == 0)
        rc = QR_ECORRUPT;
    if (rc) {
        qr_segment_close(s);
        return rc;
    }
    qr_segment_info *i = &s->info;
    i->id = id;
    i->docs = qr_doctable_count(s->table);
    i->total_positions = qr_doctable_total_positions(s->table);
    i->terms = qr_termdict_count(s->terms);
    i->postings = qr_termdict_sum_df(s->terms);
    i->positions = qr_termdict_sum_ttf(s->terms);
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
        i->bytes[k] = s->files[k].n;
    *out = s;
    return 0;
}

void qr_segment_close(qr_segment *s)
{
    if (!s)
        return;
    qr_docstore_close(s->store);
    qr_doctable_close(s->table);
    qr_termdict_close(s->terms);
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
        qr_mapping_close(s->maps[k]);
    qr_free(s);
}

uint64_t qr_segment_id(const qr_segment *s)
{
    return s->id;
}

uint32_t qr_segment_docs(const qr_segment *s)
{
    return s->info.docs;
}

void qr_segment_get_info(const qr_segment *s, qr_segment_info *out)
{
    *out = s->info;
}

int qr_segment_term(const qr_segment *s, const char *term, size_t len, qr_term_meta *out)
{
    return qr_termdict_get(s->terms, term, len, out);
}

int qr_segment_postings(const qr_segment *s, const qr_term_meta *meta, qr_postings_iter *it)
{
    if (meta->df == 0 || meta->df > s->info.docs) {
        /* leave the iterator exhausted and safe to free */
        memset(it, 0, sizeof *it);
        it->doc = QR_DOC_END;
        it->err = QR_ECORRUPT;
        return QR_ECORRUPT;
    }
    return qr_postings_iter_init(it, s->doc_body, s->pos_body, meta);
}

int qr_segment_prefix(const qr_segment *s, const char *prefix, size_t len, qr_termdict_iter *it)
{
    return qr_termdict_iter_init(it, s->terms, prefix, len);
}

const qr_doctable *qr_segment_doctable(const qr_segment *s)
{
    return s->table;
}

qr_docstore *qr_segment_docstore(const qr_segment *s)
{
    return s->store;
}

const qr_termdict *qr_segment_termdict(const qr_segment *s)
{
    return s->terms;
}

qr_slice qr_segment_doc_stream(const qr_segment *s)
{
    return s->doc_body;
}

qr_slice qr_segment_pos_stream(const qr_segment *s)
{
    return s->pos_body;
}
