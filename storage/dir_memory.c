/*
 * The in-memory directory, for tests: the same semantics as the POSIX one
 * without touching a disk.
 *
 * A directory is a list of (name, blob) entries behind a mutex. A blob is a
 * reference-counted byte array: the entry holds one reference, a file being
 * written one, and each mapping one, so a mapping outlives the removal or
 * replacement of its file exactly as an mmap outlives unlink(). Blobs are
 * immutable once their file is closed; a file still being written cannot be
 * mapped (QR_EINVAL: the interface maps closed files only). Creation fails on
 * an existing name, rename replaces its target, sync (and sync start) is a
 * no-op.
 *
 * The writer lock is a list of held lock names per directory; taking a lock
 * also writes the lock file with our pid, as the POSIX directory does, so
 * listings look the same. The directory state is itself reference-counted
 * (handle, open files, held locks) so those may be closed in any order.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/alloc.h"
#include "storage/dir.h"
#include "storage/dir_impl.h"
#include "storage/status.h"

typedef struct blob {
    atomic_long refs; /* entry + writing file + mappings */
    uint8_t *p;       /* bytes; NULL while empty */
    size_t n;         /* bytes in use */
    size_t cap;       /* bytes allocated */
} blob;

typedef struct entry {
    char *name;
    blob *b;      /* one reference */
    bool writing; /* a qr_file still writes it */
} entry;

typedef struct mem_dir {
    qr_dir base;
    atomic_long refs;   /* handle + open files + held locks */
    pthread_mutex_t mu; /* guards everything below */
    entry *ents;        /* unordered; qr_dir_list sorts */
    size_t n, cap;
    char **locks; /* names of the locks held */
    size_t nlocks, caplocks;
} mem_dir;

typedef struct mem_file {
    qr_file base;
    mem_dir *dir; /* one reference */
    blob *b;      /* one reference */
} mem_file;

typedef struct mem_mapping {
    qr_mapping base;
    blob *b; /* one reference */
} mem_mapping;

typedef struct mem_lock {
    qr_lock base;
    mem_dir *dir; /* one reference */
    char *name;
} mem_lock;

static void blob_unref(blob *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    qr_free(b->p);
    qr_free(b);
}

static blob *blob_new(void)
{
    blob *b = qr_calloc(1, sizeof *b);
    if (b)
        atomic_init(&b->refs, 1);
    return b;
}

static void mdir_unref(mem_dir *d)
{
    if (atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    for (size_t i = 0; i < d->n; i++) {
        qr_free(d->ents[i].name);
        blob_unref(d->ents[i].b);
    }
    qr_free(d->ents);
    qr_dir_list_free(d->locks, d->nlocks);
    pthread_mutex_destroy(&d->mu);
    qr_free(d);
}

static void mdir_close(qr_dir *base)
{
    mdir_unref((mem_dir *)base);
}

static const char *mdir_path(const qr_dir *base)
{
    (void)base;
    return "(memory)";
}

static entry *find(mem_dir *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->ents[i].name, name) == 0)
            return &d->ents[i];
    return NULL;
}

static entry *find_blob(mem_dir *d, const blob *b)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->ents[i].b == b)
            return &d->ents[i];
    return NULL;
}

/* Drops entry e (its name and its blob reference); the order of entries changes. */
static void drop(mem_dir *d, entry *e)
{
    qr_free(e->name);
    blob_unref(e->b);
    *e = d->ents[--d->n];
}

/* Adds an entry that takes over name and a reference to b; caller holds mu. */
static int add(mem_dir *d, char *name, blob *b, bool writing)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        entry *p = qr_reallocarray(d->ents, ncap, sizeof *p);
        if (!p)
            return QR_ENOMEM;
        d->ents = p;
        d->cap = ncap;
    }
    d->ents[d->n++] = (entry){name, b, writing};
    return 0;
}

/* ---- files being written ---- */

static int mfile_write(qr_file *base, const void *p, size_t n)
{
    mem_file *f = (mem_file *)base;
    blob *b = f->b;
    int rc = 0;
    pthread_mutex_lock(&f->dir->mu);
    if (n > SIZE_MAX - b->n) {
        rc = QR_ETOOBIG;
        goto out;
    }
    if (b->n + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + n)
            ncap = ncap > SIZE_MAX / 2 ? b->n + n : ncap * 2;
        uint8_t *np = qr_reallocarray(b->p, ncap, 1);
        if (!np) {
            rc = QR_ENOMEM;
            goto out;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
out:
    pthread_mutex_unlock(&f->dir->mu);
    return rc;
}

static int mfile_sync(qr_file *base)
{
    (void)base;
    return 0;
}

/* Nothing to write out: the bytes are where they will stay. */
static int mfile_sync_start(qr_file *base)
{
    (void)base;
    return 0;
}

static void mfile_finish(mem_file *f, bool remove)
{
    mem_dir *d = f->dir;
    pthread_mutex_lock(&d->mu);
    entry *e = find_blob(d, f->b);
    if (e) {
        if (remove) {
            drop(d, e);
        } else {
            e->writing = false;
            /* Trim to the exact size so that ASan sees a read one past the end. */
            blob *b = f->b;
            if (b->n && b->n < b->cap) {
                uint8_t *p = realloc(b->p, b->n);
                if (p) {
                    b->p = p;
                    b->cap = b->n;
                }
            }
        }
    }
    pthread_mutex_unlock(&d->mu);
    blob_unref(f->b);
    mdir_unref(d);
    qr_free(f);
}

static int mfile_close(qr_file *base)
{
    mfile_finish((mem_file *)base, false);
    return 0;
}

static void mfile_abort(qr_file *base)
{
    mfile_finish((mem_file *)base, true);
}

static const struct qr_file_ops mfile_ops = {
    .write = mfile_write,
    .sync = mfile_sync,
    .sync_start = mfile_sync_start,
    .close = mfile_close,
    .abort = mfile_abort,
};

static int mdir_create(qr_dir *base, const char *name, qr_file **out)
{
    mem_dir *d = (mem_dir *)base;
    int rc = QR_ENOMEM;
    mem_file *f = qr_calloc(1, sizeof *f);
    char *copy = qr_strdup(name);
    blob *b = blob_new();
    if (!f || !copy || !b)
        goto out_free;
    pthread_mutex_lock(&d->mu);
    if (find(d, name))
        rc = QR_EIO; /* as O_EXCL: files are written once */
    else
        rc = add(d, copy, b, true);
    pthread_mutex_unlock(&d->mu);
    if (rc)
        goto out_free;
    atomic_fetch_add(&b->refs, 1); /* the file's own reference */
    atomic_fetch_add(&d->refs, 1);
    f->base.ops = &mfile_ops;
    f->dir = d;
    f->b = b;
    *out = &f->base;
    return 0;

out_free:
    qr_free(f);
    qr_free(copy);
    blob_unref(b);
    return rc;
}

/* ---- mappings ---- */

static void mmap_close(qr_mapping *base)
{
    mem_mapping *m = (mem_mapping *)base;
    blob_unref(m->b);
    qr_free(m);
}

static int mdir_map(qr_dir *base, const char *name, qr_mapping **out, qr_slice *out_data)
{
    mem_dir *d = (mem_dir *)base;
    int rc = 0;
    mem_mapping *m = qr_calloc(1, sizeof *m);
    if (!m)
        return QR_ENOMEM;
    m->base.close = mmap_close;
    pthread_mutex_lock(&d->mu);
    entry *e = find(d, name);
    if (!e) {
        rc = QR_ENOTFOUND;
    } else if (e->writing) {
        rc = QR_EINVAL;
    } else {
        m->b = e->b;
        atomic_fetch_add(&m->b->refs, 1);
    }
    pthread_mutex_unlock(&d->mu);
    if (rc) {
        qr_free(m);
        return rc;
    }
    out_data->p = m->b->n ? m->b->p : NULL;
    out_data->n = m->b->n;
    *out = &m->base;
    return 0;
}

/* ---- names ---- */

static int mdir_rename(qr_dir *base, const char *from, const char *to)
{
    mem_dir *d = (mem_dir *)base;
    char *copy = qr_strdup(to);
    if (!copy)
        return QR_ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&d->mu);
    entry *e = find(d, from);
    if (!e) {
        rc = QR_ENOTFOUND;
    } else if (strcmp(from, to) != 0) {
        blob *b = e->b;
        entry *old = find(d, to);
        if (old)
            drop(d, old); /* may move entries: look `from` up again */
        e = find_blob(d, b);
        qr_free(e->name);
        e->name = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&d->mu);
    qr_free(copy);
    return rc;
}

static int mdir_remove(qr_dir *base, const char *name)
{
    mem_dir *d = (mem_dir *)base;
    int rc = 0;
    pthread_mutex_lock(&d->mu);
    entry *e = find(d, name);
    if (e)
        drop(d, e);
    else
        rc = QR_ENOTFOUND;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static int mdir_sync(qr_dir *base)
{
    (void)base;
    return 0;
}

static bool mdir_exists(qr_dir *base, const char *name)
{
    mem_dir *d = (mem_dir *)base;
    pthread_mutex_lock(&d->mu);
    bool found = find(d, name) != NULL;
    pthread_mutex_unlock(&d->mu);
    return found;
}

static int mdir_size(qr_dir *base, const char *name, uint64_t *out)
{
    mem_dir *d = (mem_dir *)base;
    int rc = 0;
    pthread_mutex_lock(&d->mu);
    entry *e = find(d, name);
    if (e)
        *out = e->b->n;
    else
        rc = QR_ENOTFOUND;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static int mdir_list(qr_dir *base, char ***out_names, size_t *out_n)
{
    mem_dir *d = (mem_dir *)base;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n && rc == 0; i++)
        rc = qr_dir_names_add(&names, &n, &cap, d->ents[i].name);
    pthread_mutex_unlock(&d->mu);
    if (rc) {
        qr_dir_list_free(names, n);
        return rc;
    }
    *out_names = names;
    *out_n = n;
    return 0;
}

/* ---- the writer lock ---- */

/* Makes the lock file `name` hold text (a new blob: mappings of the old one stay intact). */
static int put_lock_file(mem_dir *d, const char *name, const char *text)
{
    size_t len = strlen(text);
    blob *b = blob_new();
    uint8_t *p = len ? qr_malloc(len) : NULL;
    char *copy = qr_strdup(name);
    int rc = QR_ENOMEM;
    if (!b || (len && !p) || !copy)
        goto out_free;
    if (len)
        memcpy(p, text, len);
    b->p = p;
    b->n = b->cap = len;
    p = NULL;
    entry *e = find(d, name);
    if (e) {
        blob_unref(e->b);
        e->b = b;
        e->writing = false;
        qr_free(copy);
        return 0;
    }
    rc = add(d, copy, b, false);
    if (rc == 0)
        return 0;
out_free:
    blob_unref(b);
    qr_free(p);
    qr_free(copy);
    return rc;
}

static size_t find_lock(const mem_dir *d, const char *name)
{
    for (size_t i = 0; i < d->nlocks; i++)
        if (strcmp(d->locks[i], name) == 0)
            return i;
    return d->nlocks;
}

static void mlock_unlock(qr_lock *base)
{
    mem_lock *l = (mem_lock *)base;
    mem_dir *d = l->dir;
    pthread_mutex_lock(&d->mu);
    size_t i = find_lock(d, l->name);
    if (i < d->nlocks) {
        qr_free(d->locks[i]);
        d->locks[i] = d->locks[--d->nlocks];
    }
    (void)put_lock_file(d, l->name, ""); /* as POSIX: forget the pid; best effort */
    pthread_mutex_unlock(&d->mu);
    mdir_unref(d);
    qr_free(l->name);
    qr_free(l);
}

static int mdir_lock(qr_dir *base, const char *name, qr_lock **out, long *out_holder_pid)
{
    mem_dir *d = (mem_dir *)base;
    int rc = QR_ENOMEM;
    mem_lock *l = qr_calloc(1, sizeof *l);
    char *copy = qr_strdup(name);
    if (!l || !copy)
        goto out_free;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    pthread_mutex_lock(&d->mu);
    if (find_lock(d, name) < d->nlocks) {
        rc = QR_ELOCKED;
        if (out_holder_pid)
            *out_holder_pid = (long)getpid();
    } else {
        rc = qr_dir_names_add(&d->locks, &d->nlocks, &d->caplocks, name);
        if (rc == 0) {
            rc = put_lock_file(d, name, pid);
            if (rc)
                qr_free(d->locks[--d->nlocks]);
        }
    }
    pthread_mutex_unlock(&d->mu);
    if (rc)
        goto out_free;
    atomic_fetch_add(&d->refs, 1);
    l->base.unlock = mlock_unlock;
    l->dir = d;
    l->name = copy;
    *out = &l->base;
    return 0;

out_free:
    qr_free(l);
    qr_free(copy);
    return rc;
}

static const struct qr_dir_ops mdir_ops = {
    .close = mdir_close,
    .path = mdir_path,
    .create = mdir_create,
    .map = mdir_map,
    .rename = mdir_rename,
    .remove = mdir_remove,
    .sync = mdir_sync,
    .exists = mdir_exists,
    .size = mdir_size,
    .list = mdir_list,
    .lock = mdir_lock,
};

int qr_dir_open_memory(qr_dir **out)
{
    *out = NULL;
    mem_dir *d = qr_calloc(1, sizeof *d);
    if (!d)
        return QR_ENOMEM;
    if (pthread_mutex_init(&d->mu, NULL) != 0) {
        qr_free(d);
        return QR_ENOMEM;
    }
    d->base.ops = &mdir_ops;
    atomic_init(&d->refs, 1);
    *out = &d->base;
    return 0;
}
