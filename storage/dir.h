/*
 * The directory layer: the only code in quarry that touches files.
 *
 * An index is a directory of write-once files. Codecs never open files: they
 * serialise into a qr_buf and hand it to qr_dir_write_file() (or the segment
 * writer appends a codec's buffer to a qr_file as it grows, for the big
 * files of a segment), or read an immutable image lent by qr_dir_map(). Three implementations share
 * this interface:
 *   - POSIX: files under a path; mmap for reading; O_EXCL creation; fsync of
 *     files and of the directory; rename() for atomic replacement; an
 *     fcntl/flock lock file for the single writer.
 *   - memory: everything in RAM, for tests; files are immutable once closed
 *     and stay readable through existing mappings after removal.
 *   - faulty: wraps another qr_dir and makes the Nth operation of a kind fail
 *     (write, sync, sync start, rename, create, remove, map) with a chosen code, e.g. a
 *     short write then QR_ENOSPC, for fault-injection tests.
 * File names are plain names (no '/'), never reused by quarry.
 */
#ifndef QR_STORAGE_DIR_H
#define QR_STORAGE_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/buf.h"

typedef struct qr_dir qr_dir;
typedef struct qr_file qr_file;       /* a file being written, sequentially, once */
typedef struct qr_mapping qr_mapping; /* a read-only image of a closed file */
typedef struct qr_lock qr_lock;       /* a held writer lock */

/*
 * Opens the directory at path (POSIX). With create, makes it (one level,
 * mode 0777 & ~umask) when missing. QR_ENOTFOUND when missing and !create,
 * QR_EIO otherwise. The caller owns *out.
 */
int qr_dir_open_posix(qr_dir **out, const char *path, bool create);
/* A new, empty in-memory directory. */
int qr_dir_open_memory(qr_dir **out);
/* Closes a directory; accepts NULL. Mappings made from it stay valid until closed. */
void qr_dir_close(qr_dir *d);
/* The path given to qr_dir_open_posix, or "(memory)"; valid until close. */
const char *qr_dir_path(const qr_dir *d);

/* Creates name for writing; QR_EIO (or QR_EINVAL for a bad name) if it exists. Caller owns *out. */
int qr_dir_create(qr_dir *d, const char *name, qr_file **out);
/* Appends bytes. A short write is an error: QR_ENOSPC when the device is full, else QR_EIO. */
int qr_file_write(qr_file *f, const void *p, size_t n);
/* Flushes the file's data to stable storage (fsync). */
int qr_file_sync(qr_file *f);
/*
 * Starts writing the bytes written so far out to the device without waiting
 * for them (POSIX: sync_file_range(SYNC_FILE_RANGE_WRITE)), so that the
 * writes of several files (or of a file while it grows) overlap with other
 * work and the qr_file_sync calls that follow only wait. It makes nothing
 * durable: qr_file_sync is still needed. Where the system cannot do it, it
 * does nothing and returns 0; otherwise errors as qr_file_write.
 */
int qr_file_sync_start(qr_file *f);
/* Closes the file (it becomes immutable) and frees f; returns the close status. */
int qr_file_close(qr_file *f);
/* Closes and removes a file whose writing failed; accepts NULL; never fails. */
void qr_file_abort(qr_file *f);

/* create + write + sync + close in one call; on failure nothing named `name` remains. */
int qr_dir_write_file(qr_dir *d, const char *name, const void *p, size_t n);

/*
 * Maps a closed file read-only. *out_data is valid until qr_mapping_close(),
 * even if the file is removed meanwhile. An empty file maps to {NULL, 0}.
 * QR_ENOTFOUND when there is no such file.
 */
int qr_dir_map(qr_dir *d, const char *name, qr_mapping **out, qr_slice *out_data);
/* Releases a mapping; accepts NULL. */
void qr_mapping_close(qr_mapping *m);

/* Atomically renames from -> to, replacing `to`. */
int qr_dir_rename(qr_dir *d, const char *from, const char *to);
/* Removes a file; QR_ENOTFOUND if absent. */
int qr_dir_remove(qr_dir *d, const char *name);
/* Makes renames, creations and removals durable (fsync of the directory). */
int qr_dir_sync(qr_dir *d);
/* True when name exists. */
bool qr_dir_exists(qr_dir *d, const char *name);
/* Size of a file in bytes; QR_ENOTFOUND if absent. */
int qr_dir_size(qr_dir *d, const char *name, uint64_t *out);

/* The names in the directory, sorted bytewise; free with qr_dir_list_free. */
int qr_dir_list(qr_dir *d, char ***out_names, size_t *out_n);
void qr_dir_list_free(char **names, size_t n);

/*
 * Takes the writer lock `name` without waiting. QR_ELOCKED if another process
 * (or another qr_lock in this process) holds it; *out_holder_pid then names
 * the holder when known (else 0). The lock is released by qr_dir_unlock or
 * when the process dies (POSIX: fcntl lock on the file, which records the pid).
 */
int qr_dir_lock(qr_dir *d, const char *name, qr_lock **out, long *out_holder_pid);
/* Releases a lock; accepts NULL. */
void qr_dir_unlock(qr_lock *l);

/* ---- fault injection (tests) ---- */

/* Operation kinds that a faulty directory can make fail. */
typedef enum qr_fault_op {
    QR_FAULT_CREATE,
    QR_FAULT_WRITE,
    QR_FAULT_SYNC, /* file sync and directory sync */
    QR_FAULT_RENAME,
    QR_FAULT_REMOVE,
    QR_FAULT_MAP,
    QR_FAULT_SYNC_START, /* qr_file_sync_start */
    QR_FAULT_OP_COUNT
} qr_fault_op;

/* Wraps inner (not owned: close inner after the wrapper). All operations pass through. */
int qr_dir_open_faulty(qr_dir **out, qr_dir *inner);
/*
 * Arms a fault: the op's nth call from now (0 = the next) fails with `code`
 * (QR_EIO, QR_ENOSPC, ...); a failed write first writes half of its bytes, as
 * a full disk does. Calls after the failing one succeed again. nth < 0 disarms.
 */
void qr_dir_fault_arm(qr_dir *faulty, qr_fault_op op, long nth, int code);
/* How many calls of op the faulty directory has seen since it was opened. */
long qr_dir_fault_calls(const qr_dir *faulty, qr_fault_op op);

#endif
