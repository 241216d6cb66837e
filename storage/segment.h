/*
 * Segments: the immutable unit of an index.
 *
 * A segment is a set of files that share one never-reused id (16 hex
 * digits in the name):
 *   seg-<id>.tdi   term dictionary (termdict.c)
 *   seg-<id>.doc   doc-id/frequency postings stream (postings.c)
 *   seg-<id>.pos   position stream (postings.c)
 *   seg-<id>.sto   stored title and body text (docstore.c)
 *   seg-<id>.dmt   document table: lengths, field boundary, file metadata, paths (docstore.c)
 * The .doc and .pos streams are framed like every file (checksum.h): the
 * offsets in qr_term_meta are relative to the body. Deletions live outside
 * the segment, in the manifest's deletion files (manifest.h), so segments
 * never change once written.
 *
 * Within a segment, doc ids 0..docs-1 are in increasing bytewise order of
 * path, which is quarry's internal document order (SPEC §1).
 */
#ifndef QR_STORAGE_SEGMENT_H
#define QR_STORAGE_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/buf.h"
#include "storage/dir.h"
#include "storage/docstore.h"
#include "storage/postings.h"
#include "storage/termdict.h"

#define QR_SEG_DOC_MAGIC 0x43445251u /* "QRDC": the .doc file (postings doc stream) */
#define QR_SEG_POS_MAGIC 0x53505251u /* "QRPS": the .pos file (position stream) */

/* The file kinds of a segment, in the order of qr_segment_info.bytes. */
typedef enum qr_seg_file {
    QR_SEG_TDI,
    QR_SEG_DOC,
    QR_SEG_POS,
    QR_SEG_STO,
    QR_SEG_DMT,
    QR_SEG_FILE_COUNT
} qr_seg_file;

/* File name extension of each kind ("tdi", ...). */
const char *qr_seg_file_ext(qr_seg_file kind);
/* Writes "seg-<16 hex digits>.<ext>" into out (>= 32 bytes). */
void qr_seg_file_name(char *out, uint64_t id, qr_seg_file kind);

/* Sizes and counts of a written segment. */
typedef struct qr_segment_info {
    uint64_t id;
    uint32_t docs;
    uint64_t total_positions; /* sum of document lengths */
    uint64_t terms;
    uint64_t postings;                 /* sum of df */
    uint64_t positions;                /* sum of ttf */
    uint64_t bytes[QR_SEG_FILE_COUNT]; /* file sizes */
} qr_segment_info;

typedef struct qr_segment_writer qr_segment_writer;

/* Bytes of a streamed file (.doc, .pos, .sto) the writer collects before writing them out. */
#define QR_SEG_FLUSH_BYTES (1u << 20)

/*
 * Starts a segment with the given id in dir (not owned: it must outlive the
 * writer). The writer copies everything it is given. It streams the .doc,
 * .pos and .sto files: each is created on its first write-out and gets its
 * bytes once QR_SEG_FLUSH_BYTES of them are pending (postings between terms,
 * stored text a compressed block at a time); it keeps in memory only the
 * pending bytes, the current term, and the per-term and per-document
 * metadata that .tdi and .dmt are made of (written whole at finish). Every
 * call below returns 0, QR_EINVAL (or
 * QR_ETOOBIG) for an argument refused before anything changed (the writer
 * stays usable), or another code (QR_ENOMEM, ...) that is sticky: every later
 * call, finish included, returns it.
 */
int qr_segment_writer_open(qr_segment_writer **out, qr_dir *dir, uint64_t id);
/*
 * Sets the threshold of pending bytes at which a stream is written out
 * (default QR_SEG_FLUSH_BYTES; 0 or 1: after every term and document). The
 * files are the same bytes whatever it is; tests use it to reach every
 * write-out path.
 */
void qr_segment_writer_set_flush_bytes(qr_segment_writer *w, size_t bytes);
/*
 * Adds the next document (ids 0, 1, ... in call order; paths strictly
 * increasing); not inside a term. See qr_docstore_add for its other checks.
 */
int qr_segment_writer_add_doc(qr_segment_writer *w, const qr_doc_in *doc);
/* Terms in strictly increasing bytewise order; each: begin, add postings (doc order), end. */
int qr_segment_writer_begin_term(qr_segment_writer *w, const char *term, size_t len);
/*
 * positions: tf >= 1 of them, non-decreasing (as qr_postings_add takes them:
 * a compound's concatenation may stem to the same term as its first part, at
 * the same position), each < the doc's `positions` (its length); doc must be
 * a doc already added, and greater than the term's previous doc. Otherwise
 * QR_EINVAL.
 */
int qr_segment_writer_add_posting(qr_segment_writer *w, uint32_t doc, uint32_t tf,
                                  const uint32_t *positions);
/* Ends the term; QR_EINVAL when it has no posting. */
int qr_segment_writer_end_term(qr_segment_writer *w);
/*
 * Writes the rest of every file (the streams' last bytes and footers, then
 * .tdi and .dmt whole; each file fsynced, then closed) and frees the
 * writer. On error (here or in an earlier call) every file created is
 * removed, also by abort. The caller still
 * has to name the segment in a manifest for it to exist. out may be NULL.
 * QR_EINVAL when a term is still open.
 */
int qr_segment_writer_finish(qr_segment_writer *w, qr_segment_info *out);
/* Frees a writer, removing the files it created; accepts NULL. */
void qr_segment_writer_abort(qr_segment_writer *w);

typedef struct qr_segment qr_segment;

/*
 * Opens segment `id` of dir: maps its files and checks their framing (and
 * checksums when verify). Returns 0, QR_ENOTFOUND (a file missing),
 * QR_ECORRUPT, QR_EVERSION, QR_ENOMEM or QR_EIO. The segment keeps its
 * mappings: it stays readable after its files are removed.
 */
int qr_segment_open(qr_segment **out, qr_dir *dir, uint64_t id, bool verify);
/*
 * qr_segment_open with verify, for a reader that then reads the files once,
 * in order (a merge): each checksum is computed QR_SEG_RELEASE_BYTES at a
 * time and the pages read are released as it goes (qr_segment_release), so
 * opening does not leave the whole segment resident. The same checks and
 * results as qr_segment_open(..., true).
 */
int qr_segment_open_once(qr_segment **out, qr_dir *dir, uint64_t id);
void qr_segment_close(qr_segment *s);

/* Bytes of a mapped file qr_segment_open_once reads between two releases of its pages. */
#define QR_SEG_RELEASE_BYTES (8u << 20)

/* The bit of each file kind in qr_segment_release's mask. */
#define QR_SEG_BIT(kind) (1u << (kind))
#define QR_SEG_ALL_FILES ((1u << QR_SEG_FILE_COUNT) - 1)

/*
 * Gives the pages of the mapped files in mask back to the system
 * (madvise MADV_PAGEOUT): pages of a file mapping that were read count in
 * the process's resident set until it unmaps them, so a merge, which reads
 * its sources once and in order, calls this as it goes, and its resident
 * share of them stays a few MiB whatever their size. Nothing changes for
 * the reader: a page read again is mapped again, from the page cache or
 * the disk (clean pages used by this process alone may be evicted; pages
 * another process maps are left). Memory that is not a file mapping (the
 * memory directory's) keeps its content (without swap, nothing happens).
 * A hint: where the system cannot, nothing is done.
 */
void qr_segment_release(const qr_segment *s, unsigned mask);
uint64_t qr_segment_id(const qr_segment *s);
uint32_t qr_segment_docs(const qr_segment *s);
/* Sizes and counts, as at writing (bytes from the files' sizes). */
void qr_segment_get_info(const qr_segment *s, qr_segment_info *out);

/* Exact term lookup: 0, QR_ENOTFOUND or QR_ECORRUPT. */
int qr_segment_term(const qr_segment *s, const char *term, size_t len, qr_term_meta *out);
/*
 * Iterator over a term's postings (see postings.h); release with
 * qr_postings_iter_free (also after an error). QR_ECORRUPT for a meta whose
 * df is 0 or above the segment's docs. The doc ids come from the stream:
 * check doc < qr_segment_docs() before indexing the document table with them.
 */
int qr_segment_postings(const qr_segment *s, const qr_term_meta *meta, qr_postings_iter *it);
/* Ordered iteration over the terms with a prefix (see termdict.h). */
int qr_segment_prefix(const qr_segment *s, const char *prefix, size_t len, qr_termdict_iter *it);

/* The document table and store, lent until qr_segment_close. */
const qr_doctable *qr_segment_doctable(const qr_segment *s);
qr_docstore *qr_segment_docstore(const qr_segment *s);
const qr_termdict *qr_segment_termdict(const qr_segment *s);
/* The raw postings streams (bodies), for `quarry check` and merging. */
qr_slice qr_segment_doc_stream(const qr_segment *s);
qr_slice qr_segment_pos_stream(const qr_segment *s);

#endif
