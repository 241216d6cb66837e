/*
 * The term dictionary: every term of a segment, sorted bytewise, with its
 * qr_term_meta (document frequency, total frequency, postings offsets).
 *
 * Terms are stored in front-coded blocks (each term as: bytes shared with
 * the previous term, the new suffix, its meta); the first term of each block
 * is stored whole and listed in a small block index, which the reader binary
 * searches. An exact lookup costs one binary search plus one block decode;
 * a prefix range is walked in order (for `word*` queries). The byte grammar
 * is at the top of termdict.c.
 */
#ifndef QR_STORAGE_TERMDICT_H
#define QR_STORAGE_TERMDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/buf.h"
#include "storage/postings.h"

#define QR_TERMDICT_MAGIC 0x44545251u /* "QRTD" */

typedef struct qr_termdict_writer qr_termdict_writer;

int qr_termdict_writer_open(qr_termdict_writer **out);
void qr_termdict_writer_close(qr_termdict_writer *w);
/*
 * Adds a term (copied); terms must come in strictly increasing bytewise order,
 * 1 <= len <= 255, ttf >= df, and doc_off / pos_off never below the previous
 * term's (postings are appended term after term); else QR_EINVAL, and nothing
 * changed. QR_ENOMEM is sticky: later adds and finish return it.
 */
int qr_termdict_add(qr_termdict_writer *w, const char *term, size_t len, const qr_term_meta *meta);
/* Number of terms added. */
uint64_t qr_termdict_writer_count(const qr_termdict_writer *w);
/* Appends the complete file image (header, body, footer) to out. */
int qr_termdict_finish(qr_termdict_writer *w, qr_buf *out);

typedef struct qr_termdict qr_termdict;

/*
 * Opens a dictionary over a file image (borrowed: it must outlive the reader).
 * verify: compute the checksum. Returns 0, QR_ECORRUPT, QR_EVERSION, QR_ENOMEM.
 */
int qr_termdict_open(qr_termdict **out, qr_slice file, bool verify);
void qr_termdict_close(qr_termdict *d);
uint64_t qr_termdict_count(const qr_termdict *d);
/* Sum of df and of ttf over every term (the segment's postings and positions), from the trailer. */
uint64_t qr_termdict_sum_df(const qr_termdict *d);
uint64_t qr_termdict_sum_ttf(const qr_termdict *d);
/* Exact lookup: 0 and *out filled, QR_ENOTFOUND, or QR_ECORRUPT. */
int qr_termdict_get(const qr_termdict *d, const char *term, size_t len, qr_term_meta *out);

/* Ordered iteration over the terms starting with a prefix (an empty prefix: all terms). */
typedef struct qr_termdict_iter {
    const qr_termdict *d;
    char prefix[256]; /* the prefix, copied */
    size_t prefix_len;
    uint64_t block; /* current block */
    qr_cursor cur;  /* position inside the block */
    uint32_t left;  /* terms left in the block */
    bool first;     /* the next entry is the block's first (its term is in the index) */
    char term[256]; /* current term (terms are at most 255 bytes) */
    size_t term_len;
    qr_term_meta meta; /* current term's metadata (the base of the next entry's deltas) */
    bool in_range;     /* a term >= the prefix was met: later ones, greater, are too */
    bool done;
    int err; /* QR_ECORRUPT once corrupt bytes were met */
} qr_termdict_iter;

/*
 * Positions it before the first term >= prefix. Returns 0, or QR_EINVAL when
 * prefix_len > 255 (the iterator is then done). No allocation: nothing to free.
 */
int qr_termdict_iter_init(qr_termdict_iter *it, const qr_termdict *d, const char *prefix,
                          size_t prefix_len);
/*
 * Next term with the prefix: returns 1 and fills *term (valid until the next
 * call) and *meta, 0 when the range is done, or QR_ECORRUPT.
 */
int qr_termdict_next(qr_termdict_iter *it, qr_slice *term, qr_term_meta *meta);

/* A term of a range as qr_termdict_collect gives it. */
typedef struct qr_termdict_ent {
    qr_term_meta meta;
    uint32_t off; /* its bytes in the caller's buffer, followed by a NUL */
    uint32_t len; /* 1..255 */
} qr_termdict_ent;

/*
 * The rest of the range at once: appends each remaining term with the
 * prefix to *v (*n used of *cap entries, grown with qr_reallocarray) and
 * its bytes plus a NUL to *bytes. The same terms, metas and checks as
 * calling qr_termdict_next until it returns 0, without a call and a copy
 * of the iterator's state per term (prefix expansions walk hundreds).
 * Returns 0 (the range done), QR_ECORRUPT (the terms before the corrupt
 * entry appended; the iterator then fails as qr_termdict_next does) or
 * QR_ENOMEM (also when *bytes would pass 4 GiB).
 */
int qr_termdict_collect(qr_termdict_iter *it, qr_buf *bytes, qr_termdict_ent **v, size_t *n,
                        size_t *cap);

#endif
