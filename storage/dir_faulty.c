/*
 * The fault-injecting directory, for tests: a wrapper around another qr_dir
 * that passes every operation through but counts the calls of each kind
 * (create, write, sync, sync start, rename, remove, map) and, when armed, makes the nth
 * call of a kind fail with a chosen status, as SQLite's test VFS does.
 *
 * A failing write first writes half of its bytes, as a full disk does, so a
 * caller's cleanup of half-written files is tested too. A failing create,
 * rename, remove, map, sync or sync start does nothing before it fails. qr_file_abort,
 * qr_file_close and the lock pass through uncounted: they cannot fail, or
 * their failure is not what these tests aim at. Allocation faults are
 * storage/alloc.h's business (qr_alloc_fail_after).
 *
 * Files created through the wrapper refer to it: close them before it.
 */
#include <assert.h>
#include <stdatomic.h>

#include "storage/alloc.h"
#include "storage/dir.h"
#include "storage/dir_impl.h"
#include "storage/status.h"

typedef struct faulty_dir {
    qr_dir base;
    qr_dir *inner;                          /* not owned */
    atomic_long calls[QR_FAULT_OP_COUNT];   /* calls seen per kind */
    atomic_long fail_at[QR_FAULT_OP_COUNT]; /* call number that fails; -1 when disarmed */
    int code[QR_FAULT_OP_COUNT];            /* the status it fails with */
} faulty_dir;

typedef struct faulty_file {
    qr_file base;
    faulty_dir *dir; /* for the counters */
    qr_file *inner;  /* owned */
} faulty_file;

/* Counts a call of op; returns the armed status when this call is the one to fail, else 0. */
static int tick(faulty_dir *d, qr_fault_op op)
{
    long call = atomic_fetch_add(&d->calls[op], 1);
    long at = atomic_load(&d->fail_at[op]);
    if (at >= 0 && call == at && atomic_compare_exchange_strong(&d->fail_at[op], &at, -1))
        return d->code[op];
    return 0;
}

static int ffile_write(qr_file *base, const void *p, size_t n)
{
    faulty_file *f = (faulty_file *)base;
    int rc = tick(f->dir, QR_FAULT_WRITE);
    if (rc) {
        if (n / 2)
            (void)qr_file_write(f->inner, p, n / 2);
        return rc;
    }
    return qr_file_write(f->inner, p, n);
}

static int ffile_sync(qr_file *base)
{
    faulty_file *f = (faulty_file *)base;
    int rc = tick(f->dir, QR_FAULT_SYNC);
    return rc ? rc : qr_file_sync(f->inner);
}

static int ffile_sync_start(qr_file *base)
{
    faulty_file *f = (faulty_file *)base;
    int rc = tick(f->dir, QR_FAULT_SYNC_START);
    return rc ? rc : qr_file_sync_start(f->inner);
}

static int ffile_close(qr_file *base)
{
    faulty_file *f = (faulty_file *)base;
    int rc = qr_file_close(f->inner);
    qr_free(f);
    return rc;
}

static void ffile_abort(qr_file *base)
{
    faulty_file *f = (faulty_file *)base;
    qr_file_abort(f->inner);
    qr_free(f);
}

static const struct qr_file_ops ffile_ops = {
    .write = ffile_write,
    .sync = ffile_sync,
    .sync_start = ffile_sync_start,
    .close = ffile_close,
    .abort = ffile_abort,
};

static void fdir_close(qr_dir *base)
{
    qr_free(base);
}

static const char *fdir_path(const qr_dir *base)
{
    return qr_dir_path(((const faulty_dir *)base)->inner);
}

static int fdir_create(qr_dir *base, const char *name, qr_file **out)
{
    faulty_dir *d = (faulty_dir *)base;
    int rc = tick(d, QR_FAULT_CREATE);
    if (rc)
        return rc;
    faulty_file *f = qr_calloc(1, sizeof *f);
    if (!f)
        return QR_ENOMEM;
    rc = qr_dir_create(d->inner, name, &f->inner);
    if (rc) {
        qr_free(f);
        return rc;
    }
    f->base.ops = &ffile_ops;
    f->dir = d;
    *out = &f->base;
    return 0;
}

static int fdir_map(qr_dir *base, const char *name, qr_mapping **out, qr_slice *out_data)
{
    faulty_dir *d = (faulty_dir *)base;
    int rc = tick(d, QR_FAULT_MAP);
    return rc ? rc : qr_dir_map(d->inner, name, out, out_data);
}

static int fdir_rename(qr_dir *base, const char *from, const char *to)
{
    faulty_dir *d = (faulty_dir *)base;
    int rc = tick(d, QR_FAULT_RENAME);
    return rc ? rc : qr_dir_rename(d->inner, from, to);
}

static int fdir_remove(qr_dir *base, const char *name)
{
    faulty_dir *d = (faulty_dir *)base;
    int rc = tick(d, QR_FAULT_REMOVE);
    return rc ? rc : qr_dir_remove(d->inner, name);
}

static int fdir_sync(qr_dir *base)
{
    faulty_dir *d = (faulty_dir *)base;
    int rc = tick(d, QR_FAULT_SYNC);
    return rc ? rc : qr_dir_sync(d->inner);
}

static bool fdir_exists(qr_dir *base, const char *name)
{
    return qr_dir_exists(((faulty_dir *)base)->inner, name);
}

static int fdir_size(qr_dir *base, const char *name, uint64_t *out)
{
    return qr_dir_size(((faulty_dir *)base)->inner, name, out);
}

static int fdir_list(qr_dir *base, char ***out_names, size_t *out_n)
{
    return qr_dir_list(((faulty_dir *)base)->inner, out_names, out_n);
}

static int fdir_lock(qr_dir *base, const char *name, qr_lock **out, long *out_holder_pid)
{
    return qr_dir_lock(((faulty_dir *)base)->inner, name, out, out_holder_pid);
}

static const struct qr_dir_ops fdir_ops = {
    .close = fdir_close,
    .path = fdir_path,
    .create = fdir_create,
    .map = fdir_map,
    .rename = fdir_rename,
    .remove = fdir_remove,
    .sync = fdir_sync,
    .exists = fdir_exists,
    .size = fdir_size,
    .list = fdir_list,
    .lock = fdir_lock,
};

int qr_dir_open_faulty(qr_dir **out, qr_dir *inner)
{
    *out = NULL;
    faulty_dir *d = qr_calloc(1, sizeof *d);
    if (!d)
        return QR_ENOMEM;
    d->base.ops = &fdir_ops;
    d->inner = inner;
    for (int op = 0; op < QR_FAULT_OP_COUNT; op++) {
        atomic_init(&d->calls[op], 0);
        atomic_init(&d->fail_at[op], -1);
    }
    *out = &d->base;
    return 0;
}

void qr_dir_fault_arm(qr_dir *faulty, qr_fault_op op, long nth, int code)
{
    assert(faulty->ops == &fdir_ops && "qr_dir_fault_arm needs a faulty directory");
    assert(op >= 0 && op < QR_FAULT_OP_COUNT);
    faulty_dir *d = (faulty_dir *)faulty;
    d->code[op] = code;
    atomic_store(&d->fail_at[op], nth < 0 ? -1 : atomic_load(&d->calls[op]) + nth);
}

long qr_dir_fault_calls(const qr_dir *faulty, qr_fault_op op)
{
    assert(faulty->ops == &fdir_ops && "qr_dir_fault_calls needs a faulty directory");
    assert(op >= 0 && op < QR_FAULT_OP_COUNT);
    return atomic_load(&((const faulty_dir *)faulty)->calls[op]);
}
