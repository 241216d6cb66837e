/*
 * The directory layer's public entry points (storage/dir.h): each checks its
 * arguments (file names must be plain names) and dispatches through the
 * handle's operations table to the POSIX, memory or faulty implementation
 * (dir_posix.c, dir_memory.c, dir_faulty.c). What every implementation
 * shares lives here too: sorting of listings, qr_dir_write_file (create,
 * write, fsync, close, and removal of the half-written file on failure) and
 * the errno-to-status mapping.
 */
#include "storage/dir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/dir_impl.h"
#include "storage/status.h"

int qr_dir_errno_status(int err, bool enoent_notfound)
{
    switch (err) {
    case ENOSPC:
    case EDQUOT:
        return QR_ENOSPC;
    case ENOENT:
        return enoent_notfound ? QR_ENOTFOUND : QR_EIO;
    case ENOMEM:
        return QR_ENOMEM;
    default:
        return QR_EIO;
    }
}

bool qr_dir_name_ok(const char *name)
{
    if (!name || !name[0])
        return false;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    size_t n = strnlen(name, QR_DIR_NAME_MAX + 1);
    return n <= QR_DIR_NAME_MAX && !memchr(name, '/', n);
}

int qr_dir_names_add(char ***names, size_t *n, size_t *cap, const char *name)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **p = qr_reallocarray(*names, ncap, sizeof *p);
        if (!p)
            return QR_ENOMEM;
        *names = p;
        *cap = ncap;
    }
    char *copy = qr_strdup(name);
    if (!copy)
        return QR_ENOMEM;
    (*names)[(*n)++] = copy;
    return 0;
}

void qr_dir_close(qr_dir *d)
{
    if (d)
        d->ops->close(d);
}

const char *qr_dir_path(const qr_dir *d)
{
    return d->ops->path(d);
}

int qr_dir_create(qr_dir *d, const char *name, qr_file **out)
{
    *out = NULL;
    if (!qr_dir_name_ok(name))
        return QR_EINVAL;
    return d->ops->create(d, name, out);
}

int qr_file_write(qr_file *f, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    return f->ops->write(f, p, n);
}

int qr_file_sync(qr_file *f)
{
    return f->ops->sync(f);
}

int qr_file_sync_start(qr_file *f)
{
    return f->ops->sync_start(f);
}

int qr_file_close(qr_file *f)
{
    return f->ops->close(f);
}

void qr_file_abort(qr_file *f)
{
    if (f)
        f->ops->abort(f);
}

int qr_dir_write_file(qr_dir *d, const char *name, const void *p, size_t n)
{
    qr_file *f;
    int rc = qr_dir_create(d, name, &f);
    if (rc)
        return rc;
    rc = qr_file_write(f, p, n);
    if (rc == 0)
        rc = qr_file_sync(f);
    if (rc) {
        qr_file_abort(f);
        return rc;
    }
    rc = qr_file_close(f);
    if (rc)
        (void)qr_dir_remove(d, name);
    return rc;
}

int qr_dir_map(qr_dir *d, const char *name, qr_mapping **out, qr_slice *out_data)
{
    *out = NULL;
    out_data->p = NULL;
    out_data->n = 0;
    if (!qr_dir_name_ok(name))
        return QR_EINVAL;
    return d->ops->map(d, name, out, out_data);
}

void qr_mapping_close(qr_mapping *m)
{
    if (m)
        m->close(m);
}

int qr_dir_rename(qr_dir *d, const char *from, const char *to)
{
    if (!qr_dir_name_ok(from) || !qr_dir_name_ok(to))
        return QR_EINVAL;
    return d->ops->rename(d, from, to);
}

int qr_dir_remove(qr_dir *d, const char *name)
{
    if (!qr_dir_name_ok(name))
        return QR_EINVAL;
    return d->ops->remove(d, name);
}

int qr_dir_sync(qr_dir *d)
{
    return d->ops->sync(d);
}

bool qr_dir_exists(qr_dir *d, const char *name)
{
    return qr_dir_name_ok(name) && d->ops->exists(d, name);
}

int qr_dir_size(qr_dir *d, const char *name, uint64_t *out)
{
    *out = 0;
    if (!qr_dir_name_ok(name))
        return QR_EINVAL;
    return d->ops->size(d, name, out);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int qr_dir_list(qr_dir *d, char ***out_names, size_t *out_n)
{
    *out_names = NULL;
    *out_n = 0;
    char **names = NULL;
    size_t n = 0;
    int rc = d->ops->list(d, &names, &n);
    if (rc)
        return rc;
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_names);
    *out_names = names;
    *out_n = n;
    return 0;
}

void qr_dir_list_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        qr_free(names[i]);
    qr_free(names);
}

int qr_dir_lock(qr_dir *d, const char *name, qr_lock **out, long *out_holder_pid)
{
    *out = NULL;
    if (out_holder_pid)
        *out_holder_pid = 0;
    if (!qr_dir_name_ok(name))
        return QR_EINVAL;
    return d->ops->lock(d, name, out, out_holder_pid);
}

void qr_dir_unlock(qr_lock *l)
{
    if (l)
        l->unlock(l);
}
