/*
 * The document store and the document table of a segment.
 *
 * Two files per segment:
 *   - the store (.sto): each document's title and body text, packed in
 *     zstd-compressed blocks of about QR_STORE_BLOCK bytes of raw text, with an
 *     offset index so that fetching one document decompresses exactly one
 *     block; never on the posting path (snippets only).
 *   - the table (.dmt): fixed-width, uncompressed records per doc id that
 *     the query path reads on every hit: document length in positions (for
 *     BM25), title length in positions (the field boundary: positions below
 *     it are the title), file metadata for incremental indexing (size, mtime,
 *     xxh3 of the content), and the document's path (an offset table into a
 *     block of path bytes), paths in increasing bytewise order by doc id.
 * The byte grammar of both is at the top of docstore.c.
 */
#ifndef QR_STORAGE_DOCSTORE_H
#define QR_STORAGE_DOCSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/buf.h"

#define QR_STORE_BLOCK      (32u << 10) /* target raw bytes per compressed block */
#define QR_STORE_MAX_RAW    (1u << 30)  /* largest decompressed block, so largest title + body */
#define QR_DOCSTORE_MAGIC   0x54535251u /* "QRST" */
#define QR_DOCSTORE_VERSION 1u          /* of both files' frames */
#define QR_DOCTABLE_MAGIC   0x54445251u /* "QRDT" */

/* Everything stored about one document. Pointers are borrowed. */
typedef struct qr_doc_in {
    const char *path; /* identity, e.g. "articles/business/001.txt" */
    size_t path_len;
    const char *title; /* first non-blank line, trimmed */
    size_t title_len;
    const char *body; /* everything after the title line */
    size_t body_len;
    uint32_t positions;       /* document length: positions in title and body */
    uint32_t title_positions; /* positions in the title */
    uint64_t size;            /* file size in bytes */
    int64_t mtime_ns;         /* modification time, ns since the epoch */
    uint64_t hash;            /* xxh3-64 of the file content */
} qr_doc_in;

typedef struct qr_docstore_writer qr_docstore_writer;

int qr_docstore_writer_open(qr_docstore_writer **out);
void qr_docstore_writer_close(qr_docstore_writer *w);
/*
 * Adds the next document (doc ids are 0, 1, 2, ... in call order). Returns 0,
 * QR_EINVAL (path not after the previous one, title_positions > positions),
 * QR_ETOOBIG (title + body near QR_STORE_MAX_RAW, 4 GiB of paths, 2^32 docs)
 * or QR_ENOMEM. The writer copies what it keeps.
 */
int qr_docstore_add(qr_docstore_writer *w, const qr_doc_in *doc);
uint32_t qr_docstore_writer_count(const qr_docstore_writer *w);
/*
 * A streaming writer: each block is compressed at zstd_level as soon as it
 * closes (when a document starts the next one) and its frame appended to
 * *frames (not owned; it must outlive the writer), which the caller may
 * empty (write out, then qr_buf_reset) between calls: the writer counts the
 * bytes it appended itself, so the caller may also have put the file's
 * header there first. The writer keeps only the open block's raw records,
 * the block table and the document table. QR_EINVAL for a level outside
 * zstd's range. A failed compression is sticky (every later call returns it).
 */
int qr_docstore_writer_open_stream(qr_docstore_writer **out, int zstd_level, qr_buf *frames);
/*
 * Ends a streaming writer: appends the last block's frame and the rest of
 * the .sto body (block table, record offsets, trailer) to frames, and the
 * complete .dmt image to table. The caller frames the .sto body (checksum.h
 * header before the first frame, footer after the trailer). QR_EINVAL for
 * a writer that does not stream.
 */
int qr_docstore_finish_stream(qr_docstore_writer *w, qr_buf *table);
/*
 * Appends the two complete file images (a writer opened with
 * qr_docstore_writer_open, which keeps every raw record until here; QR_EINVAL
 * for a streaming one). zstd level: segments use 1 (3 is 4 % smaller, 1.3x slower).
 * Returns 0, QR_ENOMEM, or QR_EINVAL for a level zstd refuses.
 */
int qr_docstore_finish(qr_docstore_writer *w, int zstd_level, qr_buf *store, qr_buf *table);

/* The fixed-width per-document record, as the table reader returns it. */
typedef struct qr_doc_meta {
    uint32_t positions;
    uint32_t title_positions;
    uint64_t size;
    int64_t mtime_ns;
    uint64_t hash;
} qr_doc_meta;

typedef struct qr_doctable qr_doctable;

/* Opens a table over a file image (borrowed). Returns 0, QR_ECORRUPT, QR_EVERSION, QR_ENOMEM. */
int qr_doctable_open(qr_doctable **out, qr_slice file, bool verify);
void qr_doctable_close(qr_doctable *t);
uint32_t qr_doctable_count(const qr_doctable *t);
/* Sum of positions over all documents. */
uint64_t qr_doctable_total_positions(const qr_doctable *t);
/* Hot-path accessors; doc < count (checked by assert: a caller bug otherwise). */
uint32_t qr_doctable_positions(const qr_doctable *t, uint32_t doc);
uint32_t qr_doctable_title_positions(const qr_doctable *t, uint32_t doc);
void qr_doctable_meta(const qr_doctable *t, uint32_t doc, qr_doc_meta *out);
/* The path, borrowed from the image. */
qr_slice qr_doctable_path(const qr_doctable *t, uint32_t doc);
/* The doc whose path equals path: 0 and *out_doc, or QR_ENOTFOUND (binary search: paths are
 * sorted). */
int qr_doctable_find(const qr_doctable *t, const char *path, size_t len, uint32_t *out_doc);

typedef struct qr_docstore qr_docstore;

/* Opens a store over a file image (borrowed). */
int qr_docstore_open(qr_docstore **out, qr_slice file, bool verify);
void qr_docstore_close(qr_docstore *s);
uint32_t qr_docstore_count(const qr_docstore *s);
/*
 * Fetches a document's title and body; the slices stay valid until the next
 * fetch on the same store (one decompressed block is cached). Not thread-safe.
 * Returns 0, QR_ECORRUPT, QR_ENOMEM, or QR_EINVAL for doc >= count.
 */
int qr_docstore_get(qr_docstore *s, uint32_t doc, qr_slice *out_title, qr_slice *out_body);

#endif
