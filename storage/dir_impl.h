/*
 * The directory layer's internal vtables, shared by dir.c (the public
 * entry points, name checks and qr_dir_write_file) and the three
 * implementations: dir_posix.c, dir_memory.c and dir_faulty.c. Nothing
 * outside storage/dir*.c (and the directory tests) includes this header.
 *
 * Every handle starts with a pointer to its operations table; an
 * implementation embeds the base struct as its first member and casts back.
 * dir.c validates names before calling an implementation, so an
 * implementation may assume each name is a plain, non-empty file name.
 */
#ifndef QR_STORAGE_DIR_IMPL_H
#define QR_STORAGE_DIR_IMPL_H

#include "storage/dir.h"

/* Longest file name the directory layer accepts (POSIX NAME_MAX on Linux). */
#define QR_DIR_NAME_MAX 255

struct qr_dir_ops {
    void (*close)(qr_dir *d);
    const char *(*path)(const qr_dir *d);
    int (*create)(qr_dir *d, const char *name, qr_file **out);
    int (*map)(qr_dir *d, const char *name, qr_mapping **out, qr_slice *out_data);
    int (*rename)(qr_dir *d, const char *from, const char *to);
    int (*remove)(qr_dir *d, const char *name);
    int (*sync)(qr_dir *d);
    bool (*exists)(qr_dir *d, const char *name);
    int (*size)(qr_dir *d, const char *name, uint64_t *out);
    /* Unsorted names; dir.c sorts them. *out_names is NULL when n == 0. */
    int (*list)(qr_dir *d, char ***out_names, size_t *out_n);
    int (*lock)(qr_dir *d, const char *name, qr_lock **out, long *out_holder_pid);
};

struct qr_dir {
    const struct qr_dir_ops *ops; /* the implementation */
};

struct qr_file_ops {
    int (*write)(qr_file *f, const void *p, size_t n);
    int (*sync)(qr_file *f);
    int (*sync_start)(qr_file *f);
    int (*close)(qr_file *f);  /* closes and frees */
    void (*abort)(qr_file *f); /* closes, removes the file, frees */
};

struct qr_file {
    const struct qr_file_ops *ops;
};

struct qr_mapping {
    void (*close)(qr_mapping *m); /* releases and frees */
};

struct qr_lock {
    void (*unlock)(qr_lock *l); /* releases and frees */
};

/*
 * The status for a failed system call's errno: ENOSPC and EDQUOT are
 * QR_ENOSPC, ENOENT is QR_ENOTFOUND when enoent_notfound, ENOMEM is
 * QR_ENOMEM, anything else QR_EIO.
 */
int qr_dir_errno_status(int err, bool enoent_notfound);

/*
 * Appends a copy of name to a growing array of names (*names, *n, *cap);
 * QR_ENOMEM when out of memory. Free the array with qr_dir_list_free.
 */
int qr_dir_names_add(char ***names, size_t *n, size_t *cap, const char *name);

/* A valid file name: 1..QR_DIR_NAME_MAX bytes, no '/', not "." or "..". */
bool qr_dir_name_ok(const char *name);

#endif
