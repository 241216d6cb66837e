/*
 * The directory walk: every regular file below the directories given on the
 * command line, as documents (SPEC §1).
 *
 * Each root directory contributes the files below it, recursively, without
 * following symbolic links (a symlink, fifo, socket or device is named as
 * skipped, never followed) and without entering a directory twice (a bind
 * mount loop) or entering the index directory itself. A file's document path
 * is the root's base name, '/', and the path relative to the root. Files
 * larger than the size limit are skipped without being opened (unless the
 * walk is told not to stat regular files: QR_WALK_NO_STAT); so are the
 * files and directories that cannot be read and the entries that vanish
 * between readdir and stat. Every skip is recorded with its reason. The
 * files come out sorted bytewise by document path (quarry's internal
 * document order).
 *
 * The walk only stats: reading, the binary check and the change check are
 * the indexer's (qr_walk_read_file() helps it).
 */
#ifndef QR_INDEX_WALK_H
#define QR_INDEX_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "storage/buf.h"

/* Why a file is not indexed. */
typedef enum qr_skip_reason {
    QR_SKIP_BINARY,      /* a NUL byte in its first 8 KiB */
    QR_SKIP_TOO_BIG,     /* larger than the size limit */
    QR_SKIP_UNREADABLE,  /* open, read or opendir failed (permissions, I/O) */
    QR_SKIP_VANISHED,    /* gone between the directory listing and the read */
    QR_SKIP_CHANGED,     /* modified while it was being read */
    QR_SKIP_NOT_REGULAR, /* a symlink, fifo, socket or device: never followed */
    QR_SKIP_REASON_COUNT
} qr_skip_reason;

/* A short English phrase for a reason ("binary", "too large", ...); static. */
const char *qr_skip_reason_name(qr_skip_reason r);

/* Bytes examined for the binary check. */
#define QR_BINARY_PROBE 8192

/* The size of a file the walk did not stat (QR_WALK_NO_STAT). */
#define QR_WALK_SIZE_UNKNOWN UINT64_MAX

/* One regular file found by the walk. */
typedef struct qr_walk_file {
    const char *path; /* document path "<base>/<relative path>", in the walk's arena */
    uint32_t root;    /* index of its root in qr_walk.roots */
    uint32_t rel;     /* offset in path of the part relative to the root */
    uint64_t size;    /* st_size at the walk, or QR_WALK_SIZE_UNKNOWN (QR_WALK_NO_STAT) */
    int64_t mtime_ns; /* st_mtim at the walk, ns since the epoch (0 when the size is unknown) */
} qr_walk_file;

/* A path that is not indexed, and why. */
typedef struct qr_walk_skip {
    char *path; /* document path (owned) */
    qr_skip_reason reason;
} qr_walk_skip;

/* The result of a walk; free with qr_walk_free. */
typedef struct qr_walk {
    char **roots; /* the root directories as given, trailing slashes removed (owned) */
    char **bases; /* their base names (owned) */
    size_t nroots;
    qr_walk_file *files; /* sorted by path */
    size_t nfiles;
    qr_walk_skip *skips; /* in walk order */
    size_t nskips;
    size_t skips_cap;
    size_t files_cap;
    uint64_t bytes; /* sum of the files' sizes */
    char **chunks;  /* arena blocks holding the paths (paths never move) */
    size_t nchunks;
    size_t chunks_cap;
    size_t chunk_used; /* bytes used in the last block */
    size_t chunk_size; /* size of the last block */
} qr_walk;

/*
 * The base name used in document paths for a root argument: the last
 * component with trailing slashes removed; for ".", ".." and names ending
 * in them, the base name of the real path; for "/" (whose real path has no
 * base name), "root". Writes a NUL-terminated name into out (cap bytes).
 * Returns 0, QR_ENOTFOUND (realpath failed) or QR_ETOOBIG.
 */
int qr_walk_base_name(char *out, size_t cap, const char *root);

/*
 * Walks the roots. max_size: larger files are skipped. exclude_dev and
 * exclude_ino name a directory never entered (the index); pass 0, 0 for
 * none. A root that is missing or not a directory fails the walk with
 * QR_ENOTFOUND or QR_EINVAL, two roots with the same base name with
 * QR_EINVAL; *err_root (if not NULL) then names the offending root's index.
 * Returns 0, those, or QR_ENOMEM.
 */
int qr_walk_run(qr_walk *out, const char *const *roots, size_t nroots, uint64_t max_size,
                dev_t exclude_dev, ino_t exclude_ino, size_t *err_root);

/* Flags for qr_walk_run_flags. */
enum {
    /*
     * Do not stat the entries that the directory listing types as regular
     * files (d_type DT_REG): they are listed with size QR_WALK_SIZE_UNKNOWN
     * and mtime 0, and qr_walk_read_walked's fstat of the open file finds
     * their size, mtime and a too-large file. For a first run, which has no
     * indexed version to compare with: the stats then run on the indexing
     * threads instead of before them. Other entries (directories, symlinks,
     * DT_UNKNOWN) are stat'ed as usual. Not for the mirror's unchanged check,
     * which needs the walk's size and mtime. A file that is too large and
     * also cannot be opened is then skipped as unreadable, not as too large.
     */
    QR_WALK_NO_STAT = 1 << 0,
};

/* qr_walk_run with flags (QR_WALK_*); qr_walk_run passes 0. */
int qr_walk_run_flags(qr_walk *out, const char *const *roots, size_t nroots, uint64_t max_size,
                      dev_t exclude_dev, ino_t exclude_ino, unsigned flags, size_t *err_root);
/* Appends a skip (path copied); 0 or QR_ENOMEM. */
int qr_walk_add_skip(qr_walk *w, const char *path, qr_skip_reason reason);
/* Frees everything; accepts NULL and a zeroed walk. */
void qr_walk_free(qr_walk *w);
/* Binary-search a document path; the file or NULL. */
const qr_walk_file *qr_walk_find(const qr_walk *w, const char *path, size_t len);

/* Writes the file system path of f ("<root>/<relative>") into out; 0 or QR_ENOMEM. */
int qr_walk_fs_path(qr_buf *out, const qr_walk *w, const qr_walk_file *f);

/* True when bytes[0..min(n, QR_BINARY_PROBE)) holds a NUL. */
bool qr_is_binary(const void *bytes, size_t n);

/*
 * Reads a regular file whole into out (replacing its contents), without
 * following a symlink, and checks that it did not change while it was read
 * (size and mtime before and after, and the byte count). *out_size and
 * *out_mtime_ns receive what fstat said, which may differ from the walk's if
 * the file changed in between: the read is still consistent. Returns 0 and
 * *out_skip = -1 when read; 0 and *out_skip = a qr_skip_reason when it must
 * be skipped (vanished, unreadable, changed, too big, or binary); or
 * QR_ENOMEM.
 */
int qr_walk_read_file(qr_buf *out, uint64_t *out_size, int64_t *out_mtime_ns, int *out_skip,
                      const char *fs_path, uint64_t max_size);

/*
 * qr_walk_read_file for a file the walk found, in fewer system calls: when
 * the file still has the size and mtime the walk saw, one open, one read,
 * one fstat (after the read) and a close. A file the walk did not stat
 * (QR_WALK_SIZE_UNKNOWN) takes one fstat more, after the open, in place of
 * the walk's. A file that differs from the walk
 * (or that the read cannot take as it is) goes through qr_walk_read_file,
 * so the outcome is the same: its current content when it stays still
 * while read, else a reason to skip it. Same returns as qr_walk_read_file.
 */
int qr_walk_read_walked(qr_buf *out, uint64_t *out_size, int64_t *out_mtime_ns, int *out_skip,
                        const char *fs_path, const qr_walk_file *f, uint64_t max_size);

#endif
