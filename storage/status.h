/*
 * Status codes shared by every layer of quarry.
 *
 * A function that can fail returns an int: 0 (QR_OK) on success or one of the
 * negative QR_E* codes below. Callers propagate a callee's code unchanged and
 * add context (file name, column, segment) once, at the boundary where a
 * person will read it. qr_strerror() turns a code into a short English phrase.
 */
#ifndef QR_STORAGE_STATUS_H
#define QR_STORAGE_STATUS_H

enum {
    QR_OK = 0,
    QR_ENOMEM = -1,    /* an allocation failed (or was made to fail) */
    QR_EIO = -2,       /* the operating system refused a read, write, fsync or rename */
    QR_ECORRUPT = -3,  /* bytes on disk do not follow their format: bad magic, length, checksum */
    QR_EVERSION = -4,  /* a file of a format version this build cannot read */
    QR_ENOTFOUND = -5, /* no such file, index, term or document */
    QR_EINVAL = -6,    /* the caller passed an argument that makes no sense */
    QR_ESYNTAX = -7,   /* a query that does not follow the query language */
    QR_ELOCKED = -8,   /* another process holds the index's writer lock */
    QR_ENOSPC = -9,    /* the device is full */
    QR_ETOOBIG = -10,  /* a value exceeds a format limit (file size, term length, doc count) */
};

/* A static, never-NULL English phrase for a status code ("corrupt data"). */
const char *qr_strerror(int code);

#endif
