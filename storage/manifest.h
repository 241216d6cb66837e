/*
 * The manifest: which segments make up the index at one generation, and the
 * index-wide facts every reader needs.
 *
 * MANIFEST-<generation> (generation as 16 hex digits) lists the live
 * segments, each with its doc count, its deleted-doc count, the name of its
 * deletion file (if any) and the sum of live document lengths; plus the
 * analysis language, the next unused segment id and the generation itself.
 * Deletions of a segment are a bitmap file `seg-<id>-<delgen>.del` (its own
 * generation, so the segment stays immutable); a new deletion file is
 * written, never an old one changed.
 *
 * Commit: the caller has written and fsynced the segment and deletion files;
 * qr_manifest_commit writes MANIFEST-<gen>.tmp, fsyncs it, renames it to
 * MANIFEST-<gen>, and fsyncs the directory. Opening takes the newest
 * MANIFEST-<16 hex>, which must parse and verify: thanks to tmp + rename a
 * torn manifest cannot exist, so a bad newest one is damage, reported as
 * QR_ECORRUPT, never skipped for an older one; *.tmp files are ignored. Garbage
 * collection (by the next writer, under the lock) removes every file that
 * the newest manifest does not name, older manifests included, but for the
 * lock file. The byte grammar is at the top of manifest.c.
 */
#ifndef QR_STORAGE_MANIFEST_H
#define QR_STORAGE_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/dir.h"

#define QR_MANIFEST_MAGIC 0x464d5251u /* "QRMF" */
#define QR_DELETES_MAGIC  0x4c445251u /* "QRDL" */
#define QR_LOCK_FILE      "LOCK"

/* One live segment as the manifest names it. */
typedef struct qr_manifest_seg {
    uint64_t id;              /* segment id (file names seg-<id>.*) */
    uint32_t docs;            /* documents in the segment, deleted ones included */
    uint32_t deleted;         /* of which deleted */
    uint64_t del_gen;         /* deletion file generation; 0 = no deletions */
    uint64_t live_positions;  /* sum of the lengths of its live documents */
} qr_manifest_seg;

typedef struct qr_manifest {
    uint64_t generation;     /* this manifest's generation (1 for the first commit) */
    uint64_t next_id;        /* the next unused segment id */
    char language[32];       /* analysis language, NUL-terminated */
    uint32_t nsegs;
    qr_manifest_seg *segs;   /* owned; in the order segments were created */
} qr_manifest;

/* Live documents (N) and their total length over every segment. */
uint64_t qr_manifest_live_docs(const qr_manifest *m);
uint64_t qr_manifest_live_positions(const qr_manifest *m);

/*
 * Loads the newest manifest of dir into *out (caller frees with
 * qr_manifest_free). QR_ENOTFOUND when there is none; QR_ECORRUPT when the
 * newest is not sound (older ones are not tried: see manifest.c).
 */
int qr_manifest_load(qr_manifest *out, qr_dir *dir);
/* Loads a manifest of a given generation. */
int qr_manifest_load_gen(qr_manifest *out, qr_dir *dir, uint64_t generation);
void qr_manifest_free(qr_manifest *m);
/* Deep copy. */
int qr_manifest_copy(qr_manifest *out, const qr_manifest *m);

/*
 * Commits m as generation m->generation (which must be newer than every
 * manifest in dir): write tmp, fsync, rename, fsync dir. On any error the
 * directory still opens at the previous generation.
 */
int qr_manifest_commit(qr_dir *dir, const qr_manifest *m);

/* Removes files that m does not name (and stray *.tmp), except the lock file. */
int qr_manifest_gc(qr_dir *dir, const qr_manifest *m);
/* Writes into out (>= 48 bytes) "MANIFEST-<16 hex>". */
void qr_manifest_file_name(char *out, uint64_t generation);
/* Writes into out (>= 48 bytes) "seg-<16 hex>-<16 hex>.del". */
void qr_deletes_file_name(char *out, uint64_t seg_id, uint64_t del_gen);

/* ---- deletion bitmaps ---- */

/* A set of deleted doc ids of one segment. */
typedef struct qr_deletes {
    uint32_t docs;   /* size of the segment */
    uint64_t *bits;  /* owned; bit d set = doc d deleted; NULL when none */
    uint32_t count;  /* bits set */
} qr_deletes;

/* Empty set for a segment of `docs` documents. */
int qr_deletes_init(qr_deletes *d, uint32_t docs);
void qr_deletes_free(qr_deletes *d);
static inline bool qr_deletes_has(const qr_deletes *d, uint32_t doc)
{
    return d->bits && (d->bits[doc >> 6] >> (doc & 63)) & 1;
}
/* Marks doc deleted (idempotent). */
int qr_deletes_add(qr_deletes *d, uint32_t doc);
/* Writes the deletion file seg-<seg_id>-<del_gen>.del (fsynced). */
int qr_deletes_write(qr_dir *dir, uint64_t seg_id, uint64_t del_gen, const qr_deletes *d);
/* Reads a deletion file; checks it has `docs` bits. */
int qr_deletes_read(qr_deletes *out, qr_dir *dir, uint64_t seg_id, uint64_t del_gen,
                    uint32_t docs);

#endif
