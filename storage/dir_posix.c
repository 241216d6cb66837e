/*
 * The POSIX directory: an index directory on a real file system.
 *
 * Every operation is relative to one open directory descriptor (openat,
 * renameat, unlinkat, fstatat), so renaming or replacing the path under a
 * running process cannot redirect it. Files are created with O_EXCL (write
 * once, never overwrite), written in a loop that survives EINTR and short
 * writes, fsynced (sync_file_range starts the write-out of a file early
 * when asked, without waiting for it), and read back through a private read-only mmap, which
 * stays valid after the file is removed (the kernel keeps the inode until
 * the last mapping goes). A directory fsync makes creations, renames and
 * removals durable.
 *
 * The writer lock is an open-file-description lock (F_OFD_SETLK) on a lock
 * file: unlike classic fcntl locks it conflicts between two descriptors of
 * the same process too, and it is released when the process dies. OFD locks
 * do not report the holder's pid (F_OFD_GETLK gives -1), so the holder writes
 * its pid into the lock file after locking and a refused writer reads it.
 * Systems without OFD locks fall back to classic F_SETLK, which reports the
 * pid but does not see a second lock taken in the same process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <dirent.h>

#include "storage/alloc.h"
#include "storage/dir.h"
#include "storage/dir_impl.h"
#include "storage/status.h"

#ifdef F_OFD_SETLK
#define LOCK_SET F_OFD_SETLK
#define LOCK_GET F_OFD_GETLK
#else
#define LOCK_SET F_SETLK
#define LOCK_GET F_GETLK
#endif

typedef struct posix_dir {
    qr_dir base;
    int fd;           /* the directory, O_RDONLY|O_DIRECTORY */
    char *path;       /* as given to qr_dir_open_posix */
    atomic_long refs; /* the handle itself plus each open file */
} posix_dir;

typedef struct posix_file {
    qr_file base;
    posix_dir *dir; /* holds a reference, for abort's unlinkat */
    int fd;         /* open for writing */
    char *name;     /* the name it was created under */
} posix_file;

typedef struct posix_mapping {
    qr_mapping base;
    void *addr; /* NULL for an empty file */
    size_t len;
} posix_mapping;

typedef struct posix_lock {
    qr_lock base;
    int fd; /* the lock file; closing it releases the lock */
} posix_lock;

static void dir_unref(posix_dir *d)
{
    if (atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    close(d->fd);
    qr_free(d->path);
    qr_free(d);
}

static void pdir_close(qr_dir *base)
{
    dir_unref((posix_dir *)base);
}

static const char *pdir_path(const qr_dir *base)
{
    return ((const posix_dir *)base)->path;
}

/* ---- files being written ---- */

static int pfile_write(qr_file *base, const void *p, size_t n)
{
    posix_file *f = (posix_file *)base;
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(f->fd, b, n > SSIZE_MAX ? SSIZE_MAX : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return qr_dir_errno_status(errno, false);
        }
        if (w == 0)
            return QR_EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int pfile_sync(qr_file *base)
{
    posix_file *f = (posix_file *)base;
    while (fsync(f->fd) != 0) {
        if (errno != EINTR)
            return qr_dir_errno_status(errno, false);
    }
    return 0;
}

static int pfile_sync_start(qr_file *base)
{
    posix_file *f = (posix_file *)base;
    while (sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0) {
        if (errno == EINTR)
            continue;
        /* Not supported here (another system, a file system without it): only a hint. */
        if (errno == ENOSYS || errno == EINVAL || errno == ESPIPE || errno == EOPNOTSUPP)
            return 0;
        return qr_dir_errno_status(errno, false);
    }
    return 0;
}

static void pfile_free(posix_file *f)
{
    dir_unref(f->dir);
    qr_free(f->name);
    qr_free(f);
}

static int pfile_close(qr_file *base)
{
    posix_file *f = (posix_file *)base;
    /* On Linux the descriptor is gone even when close reports EINTR. */
    int rc = close(f->fd) != 0 && errno != EINTR ? qr_dir_errno_status(errno, false) : 0;
    pfile_free(f);
    return rc;
}

static void pfile_abort(qr_file *base)
{
    posix_file *f = (posix_file *)base;
    close(f->fd);
    unlinkat(f->dir->fd, f->name, 0);
    pfile_free(f);
}

static const struct qr_file_ops pfile_ops = {
    .write = pfile_write,
    .sync = pfile_sync,
    .sync_start = pfile_sync_start,
    .close = pfile_close,
    .abort = pfile_abort,
};

static int pdir_create(qr_dir *base, const char *name, qr_file **out)
{
    posix_dir *d = (posix_dir *)base;
    posix_file *f = qr_calloc(1, sizeof *f);
    char *copy = qr_strdup(name);
    if (!f || !copy) {
        qr_free(f);
        qr_free(copy);
        return QR_ENOMEM;
    }
    int fd = openat(d->fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int rc = qr_dir_errno_status(errno, false);
        qr_free(f);
        qr_free(copy);
        return rc;
    }
    f->base.ops = &pfile_ops;
    f->dir = d;
    atomic_fetch_add(&d->refs, 1);
    f->fd = fd;
    f->name = copy;
    *out = &f->base;
    return 0;
}

/* ---- read-only mappings ---- */

static void pmap_close(qr_mapping *base)
{
    posix_mapping *m = (posix_mapping *)base;
    if (m->addr)
        munmap(m->addr, m->len);
    qr_free(m);
}

static int pdir_map(qr_dir *base, const char *name, qr_mapping **out, qr_slice *out_data)
{
    posix_dir *d = (posix_dir *)base;
    int rc = 0;
    posix_mapping *m = qr_calloc(1, sizeof *m);
    if (!m)
        return QR_ENOMEM;
    m->base.close = pmap_close;
    int fd = openat(d->fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = qr_dir_errno_status(errno, true);
        goto out_free;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = qr_dir_errno_status(errno, false);
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = QR_EIO;
        goto out_close;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        rc = QR_ETOOBIG;
        goto out_close;
    }
    if (st.st_size > 0) {
        void *addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr == MAP_FAILED) {
            rc = qr_dir_errno_status(errno, false);
            goto out_close;
        }
        m->addr = addr;
        m->len = (size_t)st.st_size;
    }
    close(fd); /* the mapping keeps the file alive */
    out_data->p = m->addr;
    out_data->n = m->len;
    *out = &m->base;
    return 0;

out_close:
    close(fd);
out_free:
    qr_free(m);
    return rc;
}

/* ---- names ---- */

static int pdir_rename(qr_dir *base, const char *from, const char *to)
{
    posix_dir *d = (posix_dir *)base;
    if (renameat(d->fd, from, d->fd, to) != 0)
        return qr_dir_errno_status(errno, true);
    return 0;
}

static int pdir_remove(qr_dir *base, const char *name)
{
    posix_dir *d = (posix_dir *)base;
    if (unlinkat(d->fd, name, 0) != 0)
        return qr_dir_errno_status(errno, true);
    return 0;
}

static int pdir_sync(qr_dir *base)
{
    posix_dir *d = (posix_dir *)base;
    while (fsync(d->fd) != 0) {
        if (errno == EINTR)
            continue;
        /* Some file systems cannot fsync a directory; they have nothing to flush. */
        if (errno == EINVAL)
            return 0;
        return qr_dir_errno_status(errno, false);
    }
    return 0;
}

static bool pdir_exists(qr_dir *base, const char *name)
{
    posix_dir *d = (posix_dir *)base;
    struct stat st;
    return fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int pdir_size(qr_dir *base, const char *name, uint64_t *out)
{
    posix_dir *d = (posix_dir *)base;
    struct stat st;
    if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return qr_dir_errno_status(errno, true);
    *out = (uint64_t)st.st_size;
    return 0;
}

static int pdir_list(qr_dir *base, char ***out_names, size_t *out_n)
{
    posix_dir *d = (posix_dir *)base;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    /* A fresh descriptor: readdir's position must not be shared between callers. */
    int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return qr_dir_errno_status(errno, false);
    DIR *dp = fdopendir(fd);
    if (!dp) {
        rc = qr_dir_errno_status(errno, false);
        close(fd);
        return rc;
    }
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dp);
        if (!e) {
            if (errno)
                rc = qr_dir_errno_status(errno, false);
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = qr_dir_names_add(&names, &n, &cap, e->d_name);
        if (rc)
            break;
    }
    closedir(dp);
    if (rc) {
        qr_dir_list_free(names, n);
        return rc;
    }
    *out_names = names;
    *out_n = n;
    return 0;
}

/* ---- the writer lock ---- */

static void plock_unlock(qr_lock *base)
{
    posix_lock *l = (posix_lock *)base;
    /* Still locked here: forget our pid so no one reads a stale one. */
    if (ftruncate(l->fd, 0) != 0) {
        /* The pid is advisory; the lock goes with the descriptor regardless. */
    }
    close(l->fd);
    qr_free(l);
}

/* The holder of the lock on fd: from the lock query when it says, else the pid in the file. */
static long lock_holder(int fd)
{
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, LOCK_GET, &q) == 0 && q.l_type != F_UNLCK && q.l_pid > 0)
        return (long)q.l_pid;
    char buf[32];
    ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
    if (r <= 0)
        return 0;
    long pid = 0;
    for (ssize_t i = 0; i < r && buf[i] >= '0' && buf[i] <= '9'; i++) {
        if (pid > (LONG_MAX - 9) / 10)
            return 0;
        pid = pid * 10 + (buf[i] - '0');
    }
    return pid;
}

static int pdir_lock(qr_dir *base, const char *name, qr_lock **out, long *out_holder_pid)
{
    posix_dir *d = (posix_dir *)base;
    int rc = 0;
    posix_lock *l = qr_calloc(1, sizeof *l);
    if (!l)
        return QR_ENOMEM;
    l->base.unlock = plock_unlock;
    l->fd = openat(d->fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (l->fd < 0) {
        rc = qr_dir_errno_status(errno, false);
        goto out_free;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(l->fd, LOCK_SET, &fl) != 0) {
        if (errno == EAGAIN || errno == EACCES) {
            rc = QR_ELOCKED;
            if (out_holder_pid)
                *out_holder_pid = lock_holder(l->fd);
        } else {
            rc = qr_dir_errno_status(errno, false);
        }
        goto out_close;
    }
    /* Tell the next would-be writer who holds the lock (best effort: the lock stands anyway). */
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, pid, (size_t)len, 0) != len) {
        /* A full disk: the holder's pid stays unknown (0) to others. */
    }
    *out = &l->base;
    return 0;

out_close:
    close(l->fd);
out_free:
    qr_free(l);
    return rc;
}

static const struct qr_dir_ops pdir_ops = {
    .close = pdir_close,
    .path = pdir_path,
    .create = pdir_create,
    .map = pdir_map,
    .rename = pdir_rename,
    .remove = pdir_remove,
    .sync = pdir_sync,
    .exists = pdir_exists,
    .size = pdir_size,
    .list = pdir_list,
    .lock = pdir_lock,
};

int qr_dir_open_posix(qr_dir **out, const char *path, bool create)
{
    *out = NULL;
    if (!path || !path[0])
        return QR_EINVAL;
    posix_dir *d = qr_calloc(1, sizeof *d);
    char *copy = qr_strdup(path);
    if (!d || !copy) {
        qr_free(d);
        qr_free(copy);
        return QR_ENOMEM;
    }
    int rc = 0;
    if (create && mkdir(path, 0777) != 0 && errno != EEXIST) {
        rc = qr_dir_errno_status(errno, false);
        goto out_free;
    }
    d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd < 0) {
        rc = qr_dir_errno_status(errno, !create);
        goto out_free;
    }
    d->base.ops = &pdir_ops;
    d->path = copy;
    atomic_init(&d->refs, 1);
    *out = &d->base;
    return 0;

out_free:
    qr_free(d);
    qr_free(copy);
    return rc;
}
